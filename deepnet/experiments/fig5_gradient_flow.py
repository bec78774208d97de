"""fig5_gradient_flow: the unfolded recurrent net of Figure 5, made measurable.

Review, "Recurrent neural networks": unfolded in time, an RNN is a very deep feed-forward net
whose layers share weights; backpropagated gradients either grow or shrink at each time step,
so over many steps they typically explode or vanish (Bengio et al. 1994), and RNNs have
trouble storing information for long. LSTM networks, with memory cells whose state is copied
from one step to the next (c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t), fix that.

Two measurements:
1. Gradient flow. For a random input sequence of length T and the error E of a readout of the
   last state s_T, the norm ||∂E/∂s_{T-k}|| against k, for tanh RNNs (torch's default
   initialisation, and recurrent weights scaled to spectral radius 0.9 and 1.5) and an LSTM
   (default initialisation, and forget-gate bias +3 as in the memory task; s is the cell state c, the path the gates
   protect, and h too).
   Cells written out (core.recurrent), so every s_t is a tensor whose gradient we read.
2. Long-range memory. A symbol (one of K) is shown at step 1, then T-1 distractor symbols,
   then a query mark; the net must output the first symbol. A tanh RNN and an LSTM, same
   state size, optimiser, rate and number of steps, are trained for each T on fresh random
   sequences and tested on held-out ones (another seed); the LSTM starts with its forget-gate bias at
   +3 (the usual recipe for long delays, see Config). Metric: the largest T solved with
   test accuracy >= 99% (chance is 1/K).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from deepnet.core.recurrent import CELLS, Recurrent
from deepnet.core.runtime import seed_everything

NAME = "fig5_gradient_flow"
CLAIM = ("Backpropagated gradients of a recurrent net shrink or grow at every time step, so plain RNNs fail "
         "to learn long-term dependencies; LSTM memory cells keep the gradient and remember much longer.")
SECTION = "Recurrent neural networks (Figure 5: an RNN unfolded in time; LSTM)"
HEADLINE = ("Plain RNNs lose long-range gradients; LSTMs keep them (Fig. 5)", "lstm_max_T")
DATA = []
# The review quotes no number here; Hochreiter & Schmidhuber 1997 report LSTM bridging time lags over 1000
# steps on their tasks, where RNNs trained by BPTT fail beyond about 10 (their section 5). Not numbers of our task.
PAPER = {}


@dataclass
class Config:
    """fig5_gradient_flow: gradient norms through time, then a recall-after-T-steps task."""

    grad_T: int = 100  # length of the sequence whose gradients are measured; range [1, 10000]
    grad_hidden: int = 64  # state size for the gradient measurement; range [1, 4096]
    grad_batch: int = 32  # sequences averaged over; range [1, 4096]
    Ts: tuple[int, ...] = (5, 10, 20, 40, 80, 160)  # delays of the memory task; range [1, 10000], 1 to 32 values
    symbols: int = 4  # K: symbols to remember (chance 1/K); range [2, 10000]
    distractors: int = 4  # distinct distractor symbols; range [1, 10000]
    hidden: int = 64  # state size of both nets on the memory task; range [1, 4096]
    steps: int = 1500  # training steps per net and T (fresh sequences each step); range [1, 1000000]
    batch_size: int = 64  # sequences per step; range [1, 65536]
    lr: float = 3e-3  # Adam rate, the same for both nets; range (0, 10]
    clip_grad: float = 1.0  # global gradient-norm clip, the same for both; range (0, inf)
    test_size: int = 2000  # held-out test sequences per T; range [1, 100000]
    solved: float = 0.99  # accuracy counted as solving a delay; range (0, 1]
    # added to the LSTM forget-gate bias at initialisation, so that f_t starts near 0.95 and the cell's gradient
    # survives long delays (Gers et al. 2000 start the bias positive; Tallec & Ollivier 2018's "chrono"
    # initialisation sets it to log of the delays to bridge, log 80 = 4.4). Chosen on fresh generated sequences
    # at 1,500 steps: +1 solved T = 20 but not 40; +3 solved 40 and 80 (not 160); +5 not 160 either. The RNN has
    # no gate; an orthogonal W_hh (spectral radius 1) did not help it (T = 20 and 40 at chance); range [-100, 100]
    forget_bias: float = 3.0
    seed: int = 0  # initialisation and sequences; range [0, 4294967295]


PROFILES = {
    "smoke": Config(grad_T=12, grad_hidden=8, grad_batch=4, Ts=(2, 4), hidden=8, steps=20, batch_size=16,
                    test_size=100),
    "quick": Config(),
    # full: sized for one CPU core (about 40 minutes): delays to 320, 4,000 steps per net and delay
    "full": Config(Ts=(5, 10, 20, 40, 80, 160, 320), steps=4000, test_size=5000),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"lstm_max_T": {"op": ">", "metric": "rnn_max_T"}}


# ---------------------------------------------------------------------------------------------
# 1. gradient norm against the number of steps back


def gradient_norms(mode, T, H, B, radius=None, seed=0, forget_bias=0.0):
    """||∂E/∂s_{T-k}|| for k = 0..T-1, averaged over B random sequences (inputs N(0, 1), D = H)."""
    torch.manual_seed(seed)
    cell = CELLS[mode](H, H).double()
    if forget_bias:
        with torch.no_grad():
            cell.bias_ih[H:2 * H] += forget_bias  # gate order i, f, g, o: f_t starts nearer 1
    if radius is not None:  # rescale W_hh to the given spectral radius
        with torch.no_grad():
            W = cell.weight_hh
            W.mul_(radius / torch.linalg.eigvals(W).abs().max())
    x = torch.randn(T, B, H, dtype=torch.double)
    readout = torch.randn(H, dtype=torch.double) / math.sqrt(H)
    h = torch.zeros(B, H, dtype=torch.double)
    c = torch.zeros_like(h)
    hs, cs = [], []
    for t in range(T):
        if mode == "lstm":
            h, c = cell(x[t], (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = cell(x[t], h)
        h.retain_grad()
        hs.append(h)
    E = (h @ readout).pow(2).sum() / 2  # an error at the last step only
    E.backward()
    norm = lambda s: float(s.grad.norm(dim=1).mean())  # noqa: E731  mean over sequences of ||∂E/∂s||
    out = {"h": [norm(hs[T - 1 - k]) for k in range(T)]}
    if mode == "lstm":
        out["c"] = [norm(cs[T - 1 - k]) for k in range(T)]
    return out


# ---------------------------------------------------------------------------------------------
# 2. recall a symbol seen T steps earlier


def recall_batch(n, T, K, D, generator):
    """(x (n, T+1), y (n,)): symbol y in 0..K-1 first, T-1 distractors (ids K..K+D-1), then the query K+D."""
    y = torch.randint(0, K, (n,), generator=generator)
    noise = torch.randint(K, K + D, (n, T - 1), generator=generator)
    query = torch.full((n, 1), K + D)
    return torch.cat([y[:, None], noise, query], dim=1), y  # (n, T+1)


class Recaller(nn.Module):
    """Embedding -> one recurrent layer (fused kernel) -> class scores from the last state."""

    def __init__(self, mode, vocab, hidden, K, forget_bias=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = Recurrent(mode, hidden, hidden, fused=True)
        self.out = nn.Linear(hidden, K)
        if mode == "lstm" and forget_bias:
            with torch.no_grad():
                self.rnn.net.bias_ih_l0[hidden:2 * hidden] += forget_bias  # f_t near 1 at the start

    def forward(self, x, y=None):
        h, _ = self.rnn(self.embed(x))  # (B, T+1, H)
        z = self.out(h[:, -1])  # (B, K): read at the query step
        return z, (F.cross_entropy(z, y) if y is not None else None)


def train_recall(mode, T, cfg, seed):
    seed_everything(seed)
    K, D = cfg.symbols, cfg.distractors
    model = Recaller(mode, K + D + 1, cfg.hidden, K, cfg.forget_bias)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(cfg.steps):
        x, y = recall_batch(cfg.batch_size, T, K, D, g)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        opt.step()
    gt = torch.Generator().manual_seed(10_000 + seed)  # test sequences: another stream
    x, y = recall_batch(cfg.test_size, T, K, D, gt)
    with torch.no_grad():
        acc = float((model(x)[0].argmax(1) == y).float().mean())
    return acc, float(loss.detach())


def run(cfg, out_dir, profile):
    grads = {
        "rnn_default": gradient_norms("rnn", cfg.grad_T, cfg.grad_hidden, cfg.grad_batch, seed=cfg.seed)["h"],
        "rnn_radius_0.9": gradient_norms("rnn", cfg.grad_T, cfg.grad_hidden, cfg.grad_batch, 0.9, cfg.seed)["h"],
        "rnn_radius_1.5": gradient_norms("rnn", cfg.grad_T, cfg.grad_hidden, cfg.grad_batch, 1.5, cfg.seed)["h"],
    }
    lstm = gradient_norms("lstm", cfg.grad_T, cfg.grad_hidden, cfg.grad_batch, seed=cfg.seed)
    grads["lstm_h"], grads["lstm_c"] = lstm["h"], lstm["c"]
    lstm = gradient_norms("lstm", cfg.grad_T, cfg.grad_hidden, cfg.grad_batch, seed=cfg.seed,
                          forget_bias=cfg.forget_bias)
    grads["lstm_c_forget_bias"] = lstm["c"]

    acc = {"rnn": [], "lstm": []}
    for T in cfg.Ts:
        for mode in acc:
            a, _ = train_recall(mode, T, cfg, cfg.seed)
            acc[mode].append([T, a])

    def max_solved(rows):
        ok = [T for T, a in rows if a >= cfg.solved]
        return max(ok) if ok else 0

    k = min(cfg.grad_T - 1, cfg.grad_T // 2)
    metrics = {"rnn_max_T": max_solved(acc["rnn"]), "lstm_max_T": max_solved(acc["lstm"])}
    for name, g in grads.items():  # how much of the gradient at the last step is left k steps back
        metrics[f"grad_ratio_k{k}_{name.replace('.', '')}"] = g[k] / g[0]
    series = {f"grad_norm_vs_k_{n.replace('.', '')}": [[i, v] for i, v in enumerate(g)] for n, g in grads.items()}
    series.update({f"{m}_test_accuracy_vs_T": rows for m, rows in acc.items()})
    _plot(grads, acc, cfg, out_dir / "gradient_flow.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "artifacts": ["gradient_flow.png"],
            "device": "cpu"}


def _plot(grads, acc, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, g in grads.items():
        a.plot(range(len(g)), [max(v, 1e-300) for v in g], label=name.replace("_", " "))
    a.set(yscale="log", xlabel="k (steps back from the last)", ylabel="mean ||∂E/∂s_{T-k}||",
          title=f"gradient through the unfolded net (T = {cfg.grad_T})")
    a.legend(fontsize=7)
    for mode, rows in acc.items():
        xs, ys = zip(*rows)
        b.plot(xs, ys, marker="o", label=mode.upper())
    b.axhline(cfg.solved, color="k", ls="--", lw=1, label=f"solved ({cfg.solved:.0%})")
    b.axhline(1 / cfg.symbols, color="grey", ls=":", lw=1, label="chance")
    b.set(xscale="log", xlabel="delay T", ylabel="test accuracy",
          title=f"recall a symbol T steps back ({cfg.steps} steps each)")
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
