"""Neural Turing Machine (Graves, Wayne & Danihelka 2014, "Neural Turing Machines", arXiv:1410.5401).

The review ("Recurrent neural networks"): an RNN augmented with a tape-like memory that it can
choose to read from or write to learns simple algorithms, e.g. to output a sorted list of
symbols when the input is an unsorted sequence with a priority for each.

A controller (an LSTM or a feed-forward layer) sees the input x_t and the previous read vectors
r_{t-1}; from its state h_t it emits, for every head, the parameters of a weighting w_t over
the N locations of a memory M_t (N × M). Addressing (section 3.3 of the paper):

    w^c_t(i) = exp(β_t K[k_t, M_t(i)]) / Σ_j exp(β_t K[k_t, M_t(j)])   content, K = cosine similarity
    w^g_t    = g_t w^c_t + (1 − g_t) w_{t−1}                             interpolation with the last weighting
    w̃_t(i)  = Σ_j w^g_t(j) s_t(i − j)                                   circular convolution shift
    w_t(i)   = w̃_t(i)^γ_t / Σ_j w̃_t(j)^γ_t                              sharpening

Reading and writing (sections 3.1, 3.2):

    r_t     = Σ_i w_t(i) M_t(i)                   read
    M̃_t(i) = M_{t−1}(i) [1 − w_t(i) e_t]          erase (several write heads: the factors multiply)
    M_t(i)  = M̃_t(i) + w_t(i) a_t                 add   (several write heads: the adds sum)

The output y_t = σ(W [h_t; r_t]) predicts the target bits. Everything is batched: all heads are
addressed in the same tensor operations, (B, heads, N), so one time step costs a fixed handful
of kernels whatever the number of heads.

Numerical stability (no NaN over long training), the tricks used:
  * cosine similarity divides by max(‖u‖, 1e-8) (F.normalize), never by a zero norm;
  * the memory starts at a small constant (1e-6), not zero and not random: Collier & Beel 2018
    ("Implementing Neural Turing Machines") found constant initialisation converges fastest;
  * the initial weighting of every head is one-hot on location 0 (a uniform one could never
    become focused: with constant memory content addressing and shifts keep it uniform);
  * sharpening is computed as softmax(γ log(w̃ + 1e-12)): the power of a zero weight has a
    NaN gradient in γ (0^γ log 0), and w̃^γ can underflow to all zeros for large γ;
  * β = softplus(·) ≥ 0, γ = 1 + softplus(·) ≥ 1, g = σ(·), s = softmax(·), e = σ(·): every
    parameter stays in its range whatever the controller outputs;
  * gradients are clipped element-wise to [−10, 10], as in the paper (section 4), and optionally
    by global norm.

The LSTM baseline of the paper (3 layers of 256 units for copy) lives here too, with the same
forward(x, y, mask) interface, so that both models train in the same loop on the same batches.
Training does not fit the supervised engine (sequences are generated, not read from a dataset;
outputs are scored on masked steps only), so `train` below is this system's own loop, on the
shared run lifecycle (core/run.py): a run folder (config.json, checkpoint.pt, best.pt,
metrics.jsonl) that a killed run resumes from exactly.
"""

import dataclasses
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.checkpoint import load_checkpoint
from deepnet.core.config import check_fields, config_from_dict
from deepnet.core.progress import Progress
from deepnet.core.run import Run
from deepnet.core.runtime import seed_everything
from deepnet.data import algorithmic
from deepnet.errors import ConfigError, TrainingDiverged

# `deepnet train ntm --data copy` (or another task): its own TrainConfig and loop, on generated sequences
# (load_data, fit below; the interface: systems/__init__.py)
TRAINS_ON = ("copy", "repeat_copy", "associative_recall", "priority_sort")
prepare_data = evaluate_part = None

LN2 = math.log(2)


@dataclass
class Config:
    """A Neural Turing Machine (or the paper's LSTM baseline) for binary sequence tasks."""

    kind: Literal["ntm", "lstm"] = "ntm"  # the NTM, or the plain LSTM baseline
    controller: Literal["lstm", "feedforward"] = "lstm"  # NTM controller network
    controller_size: int = 100  # units of the controller (the paper: 100 for copy); range [1, 8192]
    memory_n: int = 128  # N, memory locations (the paper: 128); range [1, 65536]
    memory_m: int = 20  # M, width of a location (the paper: 20); range [1, 4096]
    read_heads: int = 1  # read heads; range [1, 64]
    write_heads: int = 1  # write heads; range [1, 64]
    shift_range: int = 1  # shifts allowed: -R..R (the paper: -1, 0, 1; 0: none), R at most N; range [0, 64]
    lstm_size: int = 256  # baseline: units per LSTM layer (the paper: 256); range [1, 8192]
    lstm_layers: int = 3  # baseline: LSTM layers (the paper: 3); range [1, 16]

    def check(self):
        check_fields(self)  # each field's own range, declared beside it (NTM() checks a Config it is given)
        if self.kind == "ntm" and self.shift_range > self.memory_n:
            raise ConfigError(f"--shift-range ({self.shift_range}) must not exceed --memory-n ({self.memory_n}): "
                              "the shifts are circular over the N locations")


# ---------------------------------------------------------------------------------------------
# Addressing, reading and writing: functions of tensors, tested on their own


def content_weighting(k, beta, memory):
    """w^c(i) = exp(β K[k, M(i)]) / Σ_j exp(β K[k, M(j)]), K the cosine similarity.

    k (B, H, M), beta (B, H), memory (B, N, M) -> (B, H, N).
    """
    K = F.normalize(k, dim=-1, eps=1e-8) @ F.normalize(memory, dim=-1, eps=1e-8).transpose(1, 2)  # (B, H, N)
    return torch.softmax(beta[..., None] * K, dim=-1)  # softmax subtracts the max: no overflow for large β


def interpolate(w_c, w_prev, g):
    """w^g = g w^c + (1 − g) w_{t−1}.  w_c, w_prev (B, H, N), g (B, H)."""
    g = g[..., None]
    return g * w_c + (1 - g) * w_prev


def shift(w_g, s):
    """w̃(i) = Σ_j w^g(j) s(i − j), indices modulo N (a circular convolution).

    w_g (B, H, N); s (B, H, 2R+1), s[..., R + o] the weight of a shift by o in -R..R.
    Pad w^g circularly by R on each side; the window of 2R+1 padded entries starting at i holds
    w^g(i − R) .. w^g(i + R), i.e. w^g(i − o) for o = R .. −R: the window times s reversed is w̃(i).
    One cat, one unfold (a view) and one matmul: no loop over N or over the shifts.
    """
    R = (s.shape[-1] - 1) // 2
    if R == 0:
        return w_g * s
    padded = torch.cat([w_g[..., -R:], w_g, w_g[..., :R]], dim=-1)  # (B, H, N + 2R)
    windows = padded.unfold(-1, 2 * R + 1, 1)  # (B, H, N, 2R+1), windows[..., i, k] = w^g(i − R + k)
    return (windows @ s.flip(-1)[..., None]).squeeze(-1)  # (B, H, N)


def sharpen(w_s, gamma):
    """w(i) = w̃(i)^γ / Σ_j w̃(j)^γ, computed as softmax(γ log(w̃ + 1e-12)) (no 0^γ, no underflow).

    w_s (B, H, N), gamma (B, H) -> (B, H, N).
    """
    return torch.softmax(gamma[..., None] * torch.log(w_s + 1e-12), dim=-1)


def read(w, memory):
    """r = Σ_i w(i) M(i).  w (B, R, N), memory (B, N, M) -> (B, R, M)."""
    return w @ memory


def write(memory, w, e, a):
    """Erase then add, for W write heads at once.

    M̃(i) = M(i) Π_h [1 − w_h(i) e_h]   (the erase factors of several heads multiply; order does not matter)
    M'(i) = M̃(i) + Σ_h w_h(i) a_h
    memory (B, N, M), w (B, W, N), e and a (B, W, M) -> (B, N, M).
    """
    if w.shape[1] == 1:  # one write head (the paper's copy): both outer products in one matmul
        we, wa = (w.transpose(1, 2) @ torch.cat([e, a], dim=-1)).chunk(2, dim=-1)  # (B, N, 1) @ (B, 1, 2M)
        return memory * (1 - we) + wa  # (B, N, M)
    keep = (1 - w[..., None] * e[:, :, None, :]).prod(dim=1)  # (B, W, N, M) -> (B, N, M)
    return memory * keep + w.transpose(1, 2) @ a  # (B, N, W) @ (B, W, M) -> (B, N, M)


# ---------------------------------------------------------------------------------------------
# The models


class NTM(nn.Module):
    """x (B, T, in_size) -> (B, T, out_size) logits of the target bits; loss on the masked steps."""

    def __init__(self, cfg, in_size, out_size):
        super().__init__()
        cfg.check()
        self.N, self.M, self.R, self.W, self.S = cfg.memory_n, cfg.memory_m, cfg.read_heads, cfg.write_heads, \
            cfg.shift_range
        self.H = self.R + self.W  # heads 0..R-1 read, R..R+W-1 write
        self.kind = cfg.controller
        ctrl_in = in_size + self.R * self.M  # the controller sees x_t and r_{t-1}
        if cfg.controller == "lstm":
            self.cell = nn.LSTMCell(ctrl_in, cfg.controller_size)
        else:
            self.cell = nn.Linear(ctrl_in, cfg.controller_size)
        self.P = self.M + 3 + (2 * self.S + 1)  # per head: k (M), β, g, γ, s (2R+1)
        # one projection for every head's parameters, and the write heads' erase and add vectors
        self.heads = nn.Linear(cfg.controller_size, self.H * self.P + self.W * 2 * self.M)
        self.out = nn.Linear(cfg.controller_size + self.R * self.M, out_size)
        self.r0 = nn.Parameter(torch.randn(self.R, self.M) * 0.01)  # learned first read vectors
        w0 = torch.zeros(self.H, self.N)
        w0[:, 0] = 1.0  # every head starts on location 0 (see the module docstring)
        self.register_buffer("w0", w0, persistent=False)

    def initial_state(self, B, device):
        ctrl = None
        if self.kind == "lstm":
            z = torch.zeros(B, self.cell.hidden_size, device=device)
            ctrl = (z, z)
        memory = torch.full((B, self.N, self.M), 1e-6, device=device)  # constant init (Collier & Beel 2018)
        return ctrl, self.r0.expand(B, -1, -1), self.w0.expand(B, -1, -1), memory

    def step(self, x_t, state):
        """One time step. x_t (B, in_size); state (ctrl, r (B, R, M), w (B, H, N), memory (B, N, M)).

        Returns logits (B, out_size), the new state, and the weightings w_t (B, H, N).
        """
        ctrl, r, w_prev, memory = state
        B = x_t.shape[0]
        inp = torch.cat([x_t, r.flatten(1)], dim=1)  # (B, in + R*M)
        if self.kind == "lstm":
            ctrl = self.cell(inp, ctrl)
            h = ctrl[0]
        else:
            h = torch.tanh(self.cell(inp))  # (B, controller_size)

        p = self.heads(h)
        M, P, S2 = self.M, self.P, 2 * self.S + 1
        # one split per step (not one slice per parameter: each slice costs a full-size zero tensor in backward)
        p_heads, p_ea = p.split([self.H * P, self.W * 2 * M], dim=1)
        k, beta_, g_, gamma_, s_ = p_heads.view(B, self.H, P).split([M, 1, 1, 1, S2], dim=-1)  # (B, heads, ·)
        beta = F.softplus(beta_.squeeze(-1))  # key strength β ≥ 0, (B, H)
        g = torch.sigmoid(g_.squeeze(-1))  # interpolation gate g in (0, 1)
        gamma = 1 + F.softplus(gamma_.squeeze(-1))  # sharpening γ ≥ 1
        s = torch.softmax(s_, dim=-1)  # shift weighting over -R..R (B, H, 2R+1)
        e_, a = p_ea.view(B, self.W, 2 * M).split([M, M], dim=-1)  # (B, W, M) each
        e = torch.sigmoid(e_)  # erase vector e_t in (0, 1)^M; a = a_t, the add vector

        # all heads address the memory as it was before this step's write (one batched computation)
        w_c = content_weighting(k, beta, memory)
        w_g = interpolate(w_c, w_prev, g)
        w = sharpen(shift(w_g, s), gamma)  # (B, H, N)

        memory = write(memory, w[:, self.R:], e, a)  # the write heads
        r = read(w[:, :self.R], memory)  # the read heads see this step's write; (B, R, M)
        logits = self.out(torch.cat([h, r.flatten(1)], dim=1))
        return logits, (ctrl, r, w, memory), w

    def forward(self, x, y=None, mask=None, record=False):
        """x (B, T, in) -> logits (B, T, out); loss = cost per sequence (nats, mean over the batch).

        With record=True, also returns the weightings (B, T, heads, N) for plotting.
        """
        B, T, _ = x.shape
        state = self.initial_state(B, x.device)
        outs, ws = [], []
        for t in range(T):  # a recurrent net: one step at a time
            logits, state, w = self.step(x[:, t], state)
            outs.append(logits)
            if record:
                ws.append(w)
        z = torch.stack(outs, dim=1)  # (B, T, out)
        loss = sequence_cost(z, y, mask) if y is not None else None
        if record:
            return z, loss, torch.stack(ws, dim=1)  # (B, T, H, N)
        return z, loss


class LSTMBaseline(nn.Module):
    """The paper's baseline: a stack of LSTM layers, x (B, T, in) -> (B, T, out) logits (fused kernel)."""

    def __init__(self, cfg, in_size, out_size):
        super().__init__()
        self.lstm = nn.LSTM(in_size, cfg.lstm_size, cfg.lstm_layers, batch_first=True)
        self.out = nn.Linear(cfg.lstm_size, out_size)

    def forward(self, x, y=None, mask=None):
        h, _ = self.lstm(x)  # (B, T, lstm_size)
        z = self.out(h)
        return z, (sequence_cost(z, y, mask) if y is not None else None)


def sequence_cost(z, y, mask):
    """Σ over scored steps and bits of the binary cross-entropy, mean over sequences (nats).

    Divided by ln 2 it is the paper's "cost per sequence (bits)".
    """
    bce = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(-1)  # (B, T)
    return (bce * mask).sum(1).mean()


@torch.no_grad()
def score(model, batch, chunk=256):
    """{cost_bits, bits_wrong}: per-sequence means of the cost (bits) and of the output bits wrong (threshold 1/2)."""
    was = model.training
    model.eval()
    cost, wrong, n = 0.0, 0.0, 0
    for i in range(0, len(batch.x), chunk):
        x, y, m = batch.x[i:i + chunk], batch.y[i:i + chunk], batch.mask[i:i + chunk]
        z = model(x, y, m)[0]
        bce = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(-1)
        cost += float((bce * m).sum()) / LN2
        wrong += float((((z > 0).float() != y).float().sum(-1) * m).sum())
        n += len(x)
    model.train(was)
    return {"cost_bits": cost / n, "bits_wrong": wrong / n}


def build(run_config):
    """The model a run folder describes (config.json: "model" section and the task's "data" sizes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    d = run_config["data"]
    return make_model(cfg, d["in_size"], d["out_size"])


def make_model(cfg, in_size, out_size):
    return (LSTMBaseline if cfg.kind == "lstm" else NTM)(cfg, in_size, out_size)


# ---------------------------------------------------------------------------------------------
# Training: this system's own loop (generated sequences, masked outputs)


@dataclass
class TrainConfig:
    """How to train on an algorithmic task (one freshly generated batch per step)."""

    task: Literal["copy", "repeat_copy", "associative_recall", "priority_sort"] = "copy"  # (deepnet train: --data)
    bits: int = 8  # width of the binary vectors; range [1, 1024]
    n_out: int = 16  # priority sort: vectors to output, at most the lengths (the paper: 16); range [1, 1000]
    # training lengths drawn uniformly in [min_len, max_len] (copy: 1..20 in the paper; associative recall: items,
    # at least 2); range [1, 1000]
    min_len: int = 1
    max_len: int = 20  # longest training length; range [1, 1000]
    steps: int = 1000  # parameter updates; range [1, 1e7]
    batch_size: int = 16  # sequences per update (the paper: 1); range [1, 65536]
    optimizer: Literal["rmsprop", "adam"] = "adam"  # the paper: RMSProp with momentum 0.9
    lr: float = 1e-3  # learning rate; range (0, 10]
    momentum: float = 0.9  # RMSProp momentum; range [0, 1)
    clip_value: float = 10.0  # clip each gradient component to [-v, v] (the paper: 10; 0: off); range [0, inf)
    clip_norm: float = 50.0  # then clip the global gradient norm (0: off); range [0, inf)
    val_every: int = 100  # steps between validations (best.pt chosen on validation cost); range [1, 1e9]
    val_size: int = 64  # validation sequences per length; range [1, 100000]
    # validation lengths (inside the training range); range [1, 1000], 1 to 64 values
    val_lengths: tuple[int, ...] = (5, 10, 15, 20)
    checkpoint_every: int = 100  # steps between writes of checkpoint.pt; range [1, 1e9]
    seed: int = 0  # initialisation and training batches; range [0, 4294967295]
    device: str = "cpu"  # cpu, cuda, cuda:N, mps or auto (deepnet train; train() takes its device as an argument)
    progress: bool = True  # progress bar on a terminal (a line every 30 s otherwise) and a line per validation
    max_seconds: float = 0.0  # stop after this wall time too (0: no limit); range [0, inf)
    # steps over which the longest training length grows from curriculum_start to max_len (0: off); range [0, 1e7]
    curriculum: int = 0
    curriculum_start: int = 2  # longest training length at step 0 when the curriculum is on; range [1, 1000]

    def check(self):
        """Each field's range, then what depends on several fields (and on the task: see load_data)."""
        check_fields(self)
        if self.min_len > self.max_len:
            raise ConfigError(f"--min-len ({self.min_len}) must not exceed --max-len ({self.max_len})")
        shortest = min(self.min_len, *self.val_lengths)
        if self.task == "associative_recall" and shortest < 2:
            raise ConfigError(f"associative recall queries an item that has a successor: --min-len and "
                              f"--val-lengths must be at least 2 items, got {shortest}")
        if self.task == "priority_sort" and self.n_out > shortest:
            raise ConfigError(f"priority sort outputs --n-out ({self.n_out}) of the inputs: --min-len and "
                              f"--val-lengths must be at least {self.n_out}, got {shortest}")


def longest_length(tc, step):
    """The longest sequence length drawn at `step`: a linear length curriculum (short sequences first).

    Graves et al. train on lengths 1-20 from the start. With curriculum > 0 the longest length grows
    from curriculum_start to max_len over the first `curriculum` steps (short sequences first). For
    copy with Adam it did not help in our tuning runs (experiments/ntm_copy.py says by how much), so
    it is off by default.
    """
    if tc.curriculum <= 0 or step >= tc.curriculum:
        return tc.max_len
    return min(tc.max_len, tc.curriculum_start + (tc.max_len - tc.curriculum_start) * step // tc.curriculum)


def _optimizer(model, tc):
    if tc.optimizer == "rmsprop":
        return torch.optim.RMSprop(model.parameters(), lr=tc.lr, momentum=tc.momentum, alpha=0.95, eps=1e-6)
    return torch.optim.Adam(model.parameters(), lr=tc.lr)


def train(model_cfg, tc, run_dir, resume=False, log=None, device="cpu", record=None):
    """Train a fresh model (or resume run_dir/checkpoint.pt) on tc.task; returns (model, summary).

    The batch of step s is fixed by (tc.seed, s), so a resumed run sees the same batches as an
    uninterrupted one; what the loop carries between validations (the running training cost,
    the seconds so far) is checkpointed too. Validation uses a set fixed by another seed;
    best.pt keeps the weights of the lowest validation cost. On resume --steps may grow.
    log: where each validation's line goes (default: printed above the progress bar, when tc.progress).
    """
    seed_everything(tc.seed)
    in_size, out_size = algorithmic.sizes(tc.task, tc.bits)
    record = record or {}  # what else the caller's run folder records (deepnet train: the data name, --augment)
    run_config = {**record, "system": "ntm", "model": asdict(model_cfg),
                  "train": {**asdict(tc), "val_lengths": list(tc.val_lengths)},
                  "data": {**record.get("data", {}), "task": tc.task, "bits": tc.bits, "in_size": in_size,
                           "out_size": out_size}}
    model = make_model(model_cfg, in_size, out_size).to(device)
    opt = _optimizer(model, tc)
    run = Run(run_dir, run_config, resume=resume, grows=("train.steps",))
    with run:
        step, best, history = 0, None, []
        loss_sum, n_sum, elapsed = 0.0, 0, 0.0  # training cost since the last validation; seconds before this start
        if run.state is not None:
            state = run.state
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            step, best, history = state["step"], state["metrics"]["best"], state["metrics"]["history"]
            loss_sum, n_sum, elapsed = (state["carry"][k] for k in ("loss_sum", "n_sum", "seconds"))
            run.restore_rng()
            run.log({"event": "resume", "step": step, **({"steps": tc.steps} if run.grown else {})})
            (log or print)(f"resumed {run.dir} at step {step}")

        draw = algorithmic.sampler(tc.task, tc.seed, tc.batch_size, tc.min_len, tc.max_len, tc.bits, n_out=tc.n_out)
        val = algorithmic.fixed_set(tc.task, tc.val_lengths, tc.val_size, seed=1_000 + tc.seed, bits=tc.bits,
                                    n_out=tc.n_out)

        def validate():
            scores = [score(model, b) for b in val.values()]
            return {k: sum(s[k] for s in scores) / len(scores) for k in scores[0]}

        t0 = time.perf_counter() - elapsed

        def checkpoint(finished=None):
            run.checkpoint(model=model, optimizer=opt, step=step, epoch=0, metrics={"best": best, "history": history},
                           carry={"loss_sum": loss_sum, "n_sum": n_sum, "seconds": time.perf_counter() - t0},
                           finished=finished)

        bar = Progress(tc.steps, step, f"ntm {tc.task}", "step", enabled=tc.progress)
        say = log or bar.write
        t_rate, step_rate = time.perf_counter(), step
        model.train()
        while step < tc.steps and not run.done:
            if tc.max_seconds and time.perf_counter() - t0 > tc.max_seconds:
                say(f"stopped at step {step}: --max-seconds {tc.max_seconds} reached")
                break
            b = draw(step, longest_length(tc, step))
            _, loss = model(b.x.to(device), b.y.to(device), b.mask.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if tc.clip_value > 0:
                nn.utils.clip_grad_value_(model.parameters(), tc.clip_value)
            if tc.clip_norm > 0:
                nn.utils.clip_grad_norm_(model.parameters(), tc.clip_norm)
            opt.step()
            step += 1
            if not math.isfinite(loss.item()):
                run.log({"event": "diverged", "step": step})
                raise TrainingDiverged(f"loss is {loss.item()} at step {step}; lower the learning rate")
            loss_sum += loss.item() / LN2
            n_sum += 1
            bar.update(1)
            if step % 20 == 0:
                bar.update(0, bits_per_seq=loss_sum / n_sum,
                           sequences_per_s=(step - step_rate) * tc.batch_size / max(time.perf_counter() - t_rate, 1e-9))
            if step % tc.val_every == 0 or step == tc.steps:
                v = validate()
                rec = {"event": "val", "step": step, "sequences": step * tc.batch_size,
                       "train_cost_bits": loss_sum / n_sum, **{f"val_{k}": x for k, x in v.items()},
                       "seconds": time.perf_counter() - t0}
                loss_sum, n_sum = 0.0, 0
                history.append(rec)
                run.log(rec)
                if best is None or rec["val_cost_bits"] < best["val_cost_bits"]:
                    best = rec
                    run.save_best(model=model, step=step, epoch=0, metrics={"best": best})
                say(f"step {step}: train {rec['train_cost_bits']:.3f} bits/seq, val {v['cost_bits']:.3f} bits/seq, "
                    f"{v['bits_wrong']:.2f} bits wrong ({rec['seconds']:.0f} s)")
            if (step % tc.checkpoint_every == 0) and step < tc.steps:
                checkpoint()
        bar.close()
        if best is None:  # stopped before the first validation
            v = validate()
            best = {"event": "val", "step": step, **{f"val_{k}": x for k, x in v.items()}}
            history.append(best)
            run.save_best(model=model, step=step, epoch=0, metrics={"best": best})
        if not run.done:  # (a finished run reopened by an experiment taken up again is left as it was)
            checkpoint(finished="budget" if step >= tc.steps else None)
    seconds = time.perf_counter() - t0
    return model, {"best": best, "history": history, "steps": step, "seconds": seconds,
                   "sequences": step * tc.batch_size, "run_dir": str(run.dir)}


# `deepnet train ntm`'s recipe (its own flags, not the engine's): ntm_copy's, whose rate 3e-3 and norm clip 10
# were chosen on validation cost (copy is learnt after about 900 of its 1000 steps)
TRAIN_CONFIG = TrainConfig(lr=3e-3, clip_norm=10.0)


def load_data(name, seed, tc=None):
    """`deepnet train`'s data: nothing to read, the task's sequences are generated at every step."""
    from deepnet.data.common import ArrayDataset, Splits

    if tc is not None:  # deepnet train: the lengths this task (--data) can be drawn at
        dataclasses.replace(tc, task=name).check()
    tc = tc or TrainConfig()
    empty = ArrayDataset(torch.zeros(0), torch.zeros(0))
    in_size, out_size = algorithmic.sizes(name, tc.bits)
    return Splits(name=name, train=empty, val=empty, test=empty, input_shape=(in_size,),
                  extra={"task": name, "bits": tc.bits, "in_size": in_size, "out_size": out_size},
                  notes=f"{name}: {tc.batch_size} sequences generated at every step, lengths {tc.min_len}-{tc.max_len}, "
                        f"validated on lengths {', '.join(map(str, tc.val_lengths))}")


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """`deepnet train ntm`: train() on the task --data names; the result as core.train.fit gives it.

    The model is built again inside train() from the same seed (the one given is only counted).
    There is no test set: the tasks' generalisation tests are the experiments' (longer sequences).
    """
    if augment is not None:
        raise ConfigError("the NTM's tasks are generated bit vectors: drop --augment")
    from deepnet.core.runtime import pick_device

    device = pick_device(cfg.device)
    tc = dataclasses.replace(cfg, task=data.name)
    _, r = train(config_from_dict(Config, run_config["model"]), tc, run_dir, resume=resume, device=device,
                 record=run_config)
    return {**r, "test": None, "device": str(device)}


def load_best(run_dir, device="cpu"):
    """The model of run_dir with its best (validation) weights."""
    state = load_checkpoint(Path(run_dir) / "best.pt", system="ntm")
    model = build(state["config"]).to(device)
    model.load_state_dict(state["model"])
    return model.eval()
