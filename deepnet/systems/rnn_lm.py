"""Recurrent language model: predict the next character or word from all those before it.

The review ("Recurrent neural networks", Figure 5): an RNN reads a sequence one element at a
time, keeping in its hidden units a state vector that holds the history; trained to predict
the next character or word, it is "very good" at it, and LSTM memory cells let it remember
for long. The model here:

    e_t = E[w_t]                                   embedding of token w_t           (B, T, E)
    h_t = LSTM(e_t, h_{t-1})  (or GRU, tanh RNN)   L stacked layers, dropout between (B, T, H)
    P(w_{t+1} | w_1..w_t) = softmax(W h_t + b)     W may be tied to E (Press & Wolf 2017)

For large word vocabularies the softmax can be the adaptive softmax of Grave et al. 2017
(`--softmax adaptive`, torch's AdaptiveLogSoftmaxWithLoss): the most frequent words and one
entry per rarer cluster are scored against h_t; a word in cluster c gets
P(c | h) P(w | c, h), the second factor from a smaller projection of h. It is an exact,
normalised distribution (perplexities stay comparable) that costs a fraction of the full
softmax when, as in our vocabularies, ids are sorted most frequent first.

Training is truncated backpropagation through time (Williams & Peng 1990): the text is cut
into B parallel streams, read in windows of `bptt` steps; the state at the end of one window
starts the next (its values carried over, its graph cut), so the model sees context longer
than a window while gradients flow back at most `bptt` steps. The global gradient norm is
clipped (Pascanu et al. 2013) against the exploding gradients of the unfolded net.

This system keeps its own training loop (`fit`, same signature and run folder as core.train.fit,
kept by the shared lifecycle of core/run.py), because the engine's minibatches are independent
examples and here the state runs from one batch to the next (it is saved with each checkpoint).
"""

import math
import time
from dataclasses import asdict, dataclass
from types import SimpleNamespace
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from deepnet.core.checkpoint import load_checkpoint, load_model_state
from deepnet.core.config import config_from_dict
from deepnet.core.progress import Progress
from deepnet.core.recurrent import Recurrent, detach_state
from deepnet.core.run import Run
from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.train import TrainConfig, lr_factor, make_optimizer
from deepnet.errors import ConfigError, TrainingDiverged

TRAINS_ON = ("tinyshakespeare", "brown", "ptb")  # datasets `deepnet train rnn_lm` takes
_LEVEL = {"tinyshakespeare": "char", "brown": "word", "ptb": "word"}  # how each corpus is tokenised
# `deepnet train rnn_lm`'s recipe: char_lm_shakespeare's (AdamW, cosine decay after 2% warm-up, clipping at 1),
# whose rate 4e-3 was chosen on Tiny Shakespeare validation loss
TRAIN_CONFIG = TrainConfig(epochs=50, batch_size=64, optimizer="adamw", lr=4e-3, schedule="cosine", warmup=0.02,
                           clip_grad=1.0, log_every=10)
load_data = None  # the corpus as loaded (interface: systems/__init__.py)


@dataclass
class Config:
    """rnn_lm: embedding -> stacked recurrent layers -> softmax over the vocabulary."""

    level: Literal["char", "word"] = "char"  # how text is split into tokens (joined back without/with spaces)
    cell: Literal["lstm", "gru", "rnn"] = "lstm"  # recurrent unit
    embed: int = 128  # embedding size (must equal --hidden when --tie); range [1, 65536]
    hidden: int = 512  # state size of each layer; range [1, 65536]
    layers: int = 1  # stacked recurrent layers; range [1, 32]
    dropout: float = 0.0  # dropout on embeddings, between layers and before the softmax; range [0, 1)
    tie: bool = False  # share the embedding matrix with the output layer (full softmax only)
    softmax: Literal["full", "adaptive"] = "full"  # output layer: full softmax, or adaptive (Grave et al. 2017)
    # adaptive: ids below 2000 in the head, then clusters [2000, 6000), ...; range [1, 1e7], 1 to 16 values
    cutoffs: tuple[int, ...] = (2000, 6000)
    # adaptive: each further cluster projects h to hidden / div_value^c dimensions; range [1, 1000]
    div_value: float = 4.0
    fused: bool = True  # torch's fused recurrent kernel (False: the written-out cells, slower)
    bptt: int = 128  # truncated BPTT window (time steps per training batch); range [1, 65536]
    max_steps: int = 0  # stop training after this many steps (0: the epochs decide); range [0, 1e9]
    eval_every: int = 0  # validate every N steps as well as at epoch ends (0: epoch ends only); range [0, 1e9]
    eval_tokens: int = 0  # mid-training checks on the first N validation tokens only (0: all); range [0, 1e12]
    #                       (such partial checks are logged as val_loss_partial and never choose best.pt)
    reset_prob: float = 0.0  # chance per stream and window of starting from a zero state; range [0, 1]
    #                          (so that a model trained on carried states also handles a fresh start, as in sampling)
    cpu_bf16: bool = False  # bf16 autocast on a CPU too, as the engine's --cpu-amp (on CUDA, TrainConfig.amp decides)


class RNNLM(nn.Module):
    """Token ids (B, T) -> next-token logits (B, T, V); the state runs across calls through `step`."""

    def __init__(self, vocab_size, cfg):
        super().__init__()
        if cfg.tie and cfg.embed != cfg.hidden:
            raise ConfigError(f"--tie needs --embed equal to --hidden (got {cfg.embed} and {cfg.hidden})")
        if cfg.softmax not in ("full", "adaptive"):
            raise ConfigError(f"--softmax must be full or adaptive, got {cfg.softmax!r}")
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab_size, cfg.embed)
        self.rnn = Recurrent(cfg.cell, cfg.embed, cfg.hidden, cfg.layers, cfg.dropout, fused=cfg.fused)
        self.drop = nn.Dropout(cfg.dropout)
        if cfg.softmax == "adaptive":
            if cfg.tie:
                raise ConfigError("--tie shares the embedding with a full softmax: use --softmax full or --no-tie")
            cut = list(cfg.cutoffs)
            if not cut or cut != sorted(set(cut)) or cut[0] <= 0 or cut[-1] >= vocab_size - 1:
                raise ConfigError(f"--cutoffs must increase within 1..{vocab_size - 2} for this vocabulary of "
                                  f"{vocab_size:,} tokens (got {cut}); the adaptive softmax is for large vocabularies")
            self.head = nn.AdaptiveLogSoftmaxWithLoss(cfg.hidden, vocab_size, cut, div_value=cfg.div_value)
        else:
            self.head = nn.Linear(cfg.hidden, vocab_size)
            if cfg.tie:
                self.head.weight = self.embedding.weight  # one (V, H) matrix reads and writes tokens

    def step(self, x, y=None, state=None, logits=True):
        """x (B, T) ids, y (B, T) targets or None, state from the previous window -> (logits, loss, state).

        logits (B, T, V) are scores whose softmax is P(w_{t+1} | ...) (log-probabilities for the
        adaptive softmax); logits=False skips them where only the loss is wanted (training,
        evaluation), which saves the adaptive softmax its (B, T, V) output.
        """
        e = self.drop(self.embedding(x))  # (B, T, E)
        h, state = self.rnn(e, state)  # (B, T, H)
        h = self.drop(h)
        if self.cfg.softmax == "adaptive":
            z, loss = None, None
            with torch.autocast(device_type=h.device.type, enabled=False):  # its index_copy wants one dtype
                flat = h.flatten(0, 1).float()  # (B*T, H)
                if y is not None:  # E = -(1/BT) Σ log P(y_t | x_≤t), nats per token
                    loss = self.head(flat, y.flatten()).loss
                if logits or y is None:
                    z = self.head.log_prob(flat).view(*x.shape, -1)  # (B, T, V)
            return z, loss, state
        z = self.head(h)  # (B, T, V)
        loss = None
        if y is not None:  # E = -(1/BT) Σ log P(y_t | x_≤t), nats per token
            loss = F.cross_entropy(z.flatten(0, 1).float(), y.flatten())  # (B*T, V) vs (B*T,)
        return z, loss, state

    def forward(self, x, y=None):
        """x (B, T) ids; a 1-D slice of a stream (as the engine's evaluate gives) is read as one sequence."""
        if x.ndim == 1:
            x, y = x[None], (y[None] if y is not None else None)  # (T,) -> (1, T)
        logits, loss, _ = self.step(x, y)
        return logits, loss

    @torch.no_grad()
    def generate(self, prime, n, temperature=1.0, top_k=0, generator=None):
        """Continue the ids `prime` (list, at least one) by n sampled ids.

        Each next id is drawn from softmax(logits / temperature), restricted to the top_k most
        likely ids when top_k > 0; temperature < 1 sharpens the distribution.
        """
        if not prime:
            raise ValueError("the prime must hold at least one token")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        was = self.training
        self.eval()
        device = self.embedding.weight.device
        x = torch.tensor([prime], device=device)  # (1, P)
        logits, _, state = self.step(x)
        out = []
        for _ in range(n):
            z = logits[0, -1].float() / temperature  # (V,)
            if top_k > 0:
                kth = torch.topk(z, min(top_k, z.numel())).values[-1]
                z = z.masked_fill(z < kth, float("-inf"))
            nxt = int(torch.multinomial(torch.softmax(z, 0), 1, generator=generator))
            out.append(nxt)
            logits, _, state = self.step(torch.tensor([[nxt]], device=device), state=state)
        self.train(was)
        return out


def build(run_config):
    cfg = config_from_dict(Config, run_config["model"], "model config")
    return RNNLM(run_config["data"]["num_classes"], cfg)


def prepare_data(data, cfg):
    """The CLI's data hook: the corpus streams as they are, once --level matches the corpus's tokens."""
    level = _LEVEL.get(data.name)
    if level and cfg.level != level:
        raise ConfigError(f"{data.name} is a {level}-level corpus: add --level {level}")
    return data


def evaluate_part(model, data, device):
    """`deepnet eval`: loss (nats per token), bits per token and perplexity exp(loss) over a part,
    the state carried through the text as in training (with the run's bf16 setting)."""
    train = getattr(model, "run_config", {}).get("train", {})
    tcfg = SimpleNamespace(amp=train.get("amp", True), cpu_amp=train.get("cpu_amp", False))
    autocast = _autocast_for(torch.device(device), tcfg, model.cfg)
    loss = evaluate_stream(model, data, torch.device(device), autocast=autocast)
    return {"loss": loss, "bits_per_token": loss / math.log(2), "perplexity": math.exp(loss),
            "tokens": len(data)}


# ---------------------------------------------------------------------------------------------
# Text <-> ids


def tokenize(text, level):
    return list(text) if level == "char" else text.split()


def detokenize(tokens, level):
    return "".join(tokens) if level == "char" else " ".join(tokens)


def sample(model, prime, n=500, temperature=0.8, top_k=0, seed=0, unknown="error"):
    """Text continuing `prime`, from a model with a run_config (a loaded run).

    A prime token the model never saw raises ValueError naming it (unknown="error"), or is
    replaced by the <unk> token when the vocabulary has one (unknown="unk"; said in the notes).
    Returns (text, notes).
    """
    cfg = model.cfg
    vocab = model.run_config["data"]["classes"]
    index = {t: i for i, t in enumerate(vocab)}
    tokens = tokenize(prime, cfg.level)
    if not tokens:
        raise ValueError("--prime is empty: give at least one " + ("character" if cfg.level == "char" else "word"))
    unseen = sorted({t for t in tokens if t not in index})
    notes = []
    if unseen:
        shown = ", ".join(repr(t) for t in unseen[:10])
        if unknown == "unk" and "<unk>" in index:
            notes.append(f"{len(unseen)} prime token(s) unseen in training replaced by <unk>: {shown}")
        else:
            known = "".join(vocab) if cfg.level == "char" else f"{len(vocab):,} words"
            raise ValueError(f"the prime holds {len(unseen)} token(s) this model never saw: {shown}; "
                             f"it knows: {known!r}" if cfg.level == "char" else
                             f"the prime holds {len(unseen)} word(s) this model never saw: {shown} "
                             f"(vocabulary: {known}{'; --unknown unk maps them to <unk>' if '<unk>' in index else ''})")
    ids = [index.get(t, index.get("<unk>")) for t in tokens]
    g = torch.Generator(device=model.embedding.weight.device).manual_seed(seed)
    out = model.generate(ids, n, temperature, top_k, generator=g)
    return detokenize(tokens + [vocab[i] for i in out], cfg.level), notes


# ---------------------------------------------------------------------------------------------
# Training: truncated BPTT over parallel streams


def batchify(stream, batch):
    """A (N,) id stream -> (batch, N // batch): row b is the b-th contiguous slice of the text."""
    n = len(stream) // batch
    return stream[:n * batch].view(batch, n)  # (B, n); the last N mod B tokens are dropped


@torch.no_grad()
def evaluate_stream(model, data, device, batch=16, bptt=256, max_tokens=0, autocast=None):
    """Mean loss (nats per token) over a part (x, y streams), state carried through each row."""
    was = model.training
    model.eval()
    x, y = data.x, data.y
    if max_tokens:
        x, y = x[:max_tokens], y[:max_tokens]
    batch = max(1, min(batch, len(x)))
    X, Y = batchify(x, batch).to(device), batchify(y, batch).to(device)  # (B, n) each
    total, count, state = 0.0, 0, None
    for i in range(0, X.shape[1], bptt):
        xb, yb = X[:, i:i + bptt], Y[:, i:i + bptt]
        with autocast():
            _, loss, state = model.step(xb, yb, state, logits=False)
        total += float(loss) * yb.numel()
        count += yb.numel()
    model.train(was)
    return total / max(count, 1)


def _autocast_for(device, tcfg, mcfg):
    on = (device.type == "cuda" and tcfg.amp) or (device.type == "cpu" and (mcfg.cpu_bf16 or tcfg.cpu_amp))
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=on)


def fit(model, data, cfg, run_dir, run_config, resume=False, augment=None, test=True):
    """Train an RNNLM by truncated BPTT; same run folder (core/run.py) and return value as core.train.fit.

    cfg is a core.train.TrainConfig (epochs, batch_size = parallel streams, lr, optimizer,
    schedule, warmup, clip_grad, patience, checkpoint_every, log_every, device, seed);
    the window length, step budget and validation cadence are the model Config's (bptt,
    max_steps, eval_every). best.pt holds the weights with the lowest validation loss.
    checkpoint.pt carries the streams' hidden state, so a resumed run continues exactly.
    """
    if augment is not None:
        raise ConfigError("rnn_lm reads text: --augment deforms images, drop it")
    if len(data.train) < cfg.batch_size:  # each of the --batch-size streams needs a token at least
        raise ConfigError(f"--batch-size {cfg.batch_size} parallel streams need as many training tokens; "
                          f"the training text has {len(data.train)}: lower --batch-size")
    run_config = {**run_config, "train": asdict(cfg)}
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    run = Run(run_dir, run_config, resume=resume, grows=("train.epochs", "model.max_steps"))
    with run:
        return _bptt_loop(model, data, cfg, run, device, test)


def _bptt_loop(model, data, cfg, run, device, test):
    mcfg = model.cfg
    model.to(device)
    autocast = _autocast_for(device, cfg, mcfg)
    X = batchify(data.train.x, cfg.batch_size).to(device)  # (B, n)
    Y = batchify(data.train.y, cfg.batch_size).to(device)
    steps_per_epoch = math.ceil(X.shape[1] / mcfg.bptt)
    total = cfg.epochs * steps_per_epoch
    if mcfg.max_steps:
        total = min(total, mcfg.max_steps)
    optimizer = make_optimizer(model.parameters(), cfg)
    # as in the engine: a run resumed with a larger budget follows the longer run's schedule from here
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, cfg, steps_per_epoch))
    step, history, best, stale, hstate = 0, [], None, 0, None
    if run.state is not None:
        saved = run.state
        load_model_state(model, saved["model"], str(run.ckpt_path))
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        step = saved["step"]
        history = saved["metrics"].get("history", [])
        best = saved["metrics"].get("best")
        stale = saved["metrics"].get("stale_epochs", 0)
        hstate = _to(saved["carry"], device)  # the streams' state at the checkpoint
        if run.grown:
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * lr_factor(step, total, cfg, steps_per_epoch)
        run.restore_rng()
        run.log({"event": "resume", "step": step})

    def save(finished=None):
        run.checkpoint(model=model, optimizer=optimizer, scheduler=scheduler, step=step,
                       epoch=step // steps_per_epoch, sampler_state={"step": step}, carry=hstate,
                       metrics={"history": history, "best": best, "stale_epochs": stale,
                                "seconds": time.perf_counter() - t0}, finished=finished)

    def validate(epoch_end):
        nonlocal best, stale
        partial = 0 if epoch_end or step >= total else mcfg.eval_tokens
        val = evaluate_stream(model, data.val, device, max_tokens=partial, autocast=autocast)
        key = "val_loss_partial" if partial else "val_loss"
        rec = {"event": "val", "step": step, "epoch": step / steps_per_epoch, key: val,
               "val_bits": val / math.log(2), "train_loss": running, "seconds": time.perf_counter() - t0}
        history.append(rec)
        run.log(rec)
        if not partial:  # a subset's loss is not comparable with whole-set losses
            if best is None or val < best["val_loss"]:
                best, stale = rec, 0
                run.save_best(model=model, step=step, epoch=step // steps_per_epoch, metrics={"best": best})
            elif epoch_end:
                stale += 1
        bar.write(f"step {step}/{total}  train_loss {running:.4f}  {key} {val:.4f}  "
                  f"{tokens_seen / max(time.perf_counter() - t_proc, 1e-9):.0f} tokens/s  ({rec['seconds']:.0f} s)")

    t_proc = time.perf_counter()
    t0 = t_proc - (run.state["metrics"].get("seconds", 0.0) if run.state is not None else 0.0)  # before a stop
    model.train()
    running, loss_sum, n_sum = float("nan"), 0.0, 0
    tokens_seen = 0  # since this process started (a resumed run counts afresh)
    bar = Progress(total, step, "rnn_lm", "step", enabled=cfg.progress)
    while step < total and not run.done:
        col = (step % steps_per_epoch) * mcfg.bptt
        if col == 0:
            hstate = None  # a new pass starts every stream afresh
        xb, yb = X[:, col:col + mcfg.bptt], Y[:, col:col + mcfg.bptt]  # (B, bptt)
        with autocast():
            _, loss, hstate = model.step(xb, yb, hstate, logits=False)
        hstate = detach_state(hstate)  # carry the values, cut the graph: truncated BPTT
        if mcfg.reset_prob > 0:
            keep = (torch.rand(1, X.shape[0], 1, device=device) >= mcfg.reset_prob).float()  # (1, B, 1)
            hstate = tuple(s * keep.to(s.dtype) for s in hstate) if isinstance(hstate, tuple) \
                else hstate * keep.to(hstate.dtype)
        if not torch.isfinite(loss):
            bar.close()
            kept = (f"the last good checkpoint is kept at {run.ckpt_path}" if run.ckpt_path.exists()
                    else "no checkpoint was written")
            raise TrainingDiverged(f"loss became {float(loss)} at step {step}; {kept}; lower --lr or clip harder")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip_grad > 0:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)  # g <- g * min(1, c / ||g||)
        optimizer.step()
        scheduler.step()
        step += 1
        tokens_seen += xb.numel()
        bar.update(1)
        loss_sum, n_sum = loss_sum + float(loss.detach()), n_sum + 1
        if step % cfg.log_every == 0:
            running = loss_sum / n_sum
            run.log({"event": "train", "step": step, "train_loss": running, "lr": scheduler.get_last_lr()[0],
                     "seconds": time.perf_counter() - t0})
            bar.update(0, loss=running, tokens_per_s=tokens_seen / max(time.perf_counter() - t_proc, 1e-9))
            loss_sum, n_sum = 0.0, 0
        epoch_end = step % steps_per_epoch == 0
        if epoch_end or step == total or (mcfg.eval_every and step % mcfg.eval_every == 0):
            if n_sum:
                running = loss_sum / n_sum
            validate(epoch_end or step == total)
            stopped = bool(cfg.patience and stale >= cfg.patience)
            save(finished="early_stop" if stopped else "budget" if step >= total else None)
            if stopped:
                break
        elif cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
            save()
    bar.close()
    seconds = time.perf_counter() - t0

    result_test = None if not test else {}  # {}: the data have no test part
    if test and len(data.test) > 0:  # once, with the best weights
        load_model_state(model, load_checkpoint(run.best_path, system="rnn_lm")["model"], str(run.best_path))
        result_test = {"loss": evaluate_stream(model, data.test, device, autocast=autocast)}
        result_test["perplexity"] = math.exp(result_test["loss"])
    tokens = step * X.shape[0] * mcfg.bptt
    return {"history": history, "best": best, "test": result_test, "steps": step, "seconds": seconds,
            "tokens_per_s": tokens / max(seconds, 1e-9), "device": str(device), "run_dir": str(run.dir)}


def _to(state, device):
    """A carried recurrent state (tensor, tuple of tensors, or None) on `device`."""
    if state is None:
        return None
    return tuple(s.to(device) for s in state) if isinstance(state, (tuple, list)) else state.to(device)
