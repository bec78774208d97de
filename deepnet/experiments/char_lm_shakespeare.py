"""char_lm_shakespeare: an LSTM trained to predict the next character of Shakespeare.

Review, "Recurrent neural networks": RNNs, once trained, are very good at predicting the next
character in the text or the next word in a sequence; LSTM networks' memory cells let them
hold information for long. We train a character-level LSTM language model on Tiny
Shakespeare with nanoGPT's shakespeare_char split (first 90% train, last 10% validation) and
report the validation cross-entropy in nats per character (and bits), the number nanoGPT
reports for its 6-layer transformer on the same split. As nanoGPT does, the checkpoint kept is
the one with the lowest validation loss. The split has no test part, and the quick recipe
(dropout, rate, width, steps) was picked by this same validation loss in tuning runs, so the
number is a tuned-on-validation one, as nanoGPT's is; there is no held-out number here.
Samples from the trained model are written to samples.txt and drawn in the figure.
"""

import math
from dataclasses import asdict, dataclass

from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig
from deepnet.data import text
from deepnet.errors import ConfigError
from deepnet.systems import load_run, rnn_lm

NAME = "char_lm_shakespeare"
CLAIM = ("A recurrent network with LSTM units, trained by backpropagation through time, is very good at "
         "predicting the next character of a text.")
SECTION = "Recurrent neural networks (Figure 5; LSTM)"
HEADLINE = ("An LSTM language model writes Shakespeare", "val_loss")
DATA = ["tinyshakespeare"]
PAPER = {
    # nanoGPT README, "quick start": train_shakespeare_char (6 layers, 6 heads, 384 wide, 256 context),
    # "about 3 minutes on one A100 GPU, the best validation loss is 1.4697".
    "val_loss_nanogpt_transformer": {"value": 1.4697, "source": "Karpathy, karpathy/nanoGPT README.md, section "
                                                                "'quick start' (config/train_shakespeare_char.py: "
                                                                "6-layer transformer, ~3 min on an A100)"},
}
MAX_STEPS = 200_000  # the most training steps a run takes (--max-steps's upper end, and the epochs' when it is 0)


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/char_lm_shakespeare.md)
MISSES = """\
The full-cpu run (2026-12-07; a 2x512 LSTM, dropout 0.3, 20 epochs, 56 minutes on one core) ends at 1.417
nats per character on validation. That is below nanoGPT's transformer (1.470) but misses the target 1.40 by
0.017.

The validation curve has flattened: about 0.001 an epoch over the last five epochs (1.422 after 15), nothing
in the last. The training loss (1.23, with dropout on) is far below it, so more steps alone will not close
the gap.

The recipe was carried over from the quick profile's tuning, not tuned at this size.

Tried since: dropout 0.4, the rest unchanged (`--full-cpu --dropout 0.4`, 2026-12-07). It was behind at every
evaluation, 1.500 against 1.478 after 7 epochs and 1.457 against 1.438 after 11, and was stopped there (its
core went to the bAbI runs). The gap between training and validation loss was smaller (0.12 against
0.16 after 11 epochs), but not by enough to catch up in the epochs left.

Believed missing: more capacity with the regularisation that lets it pay, for example the 3x1024 `full`
profile (sized for a GPU), or a rate tuned at this size.
"""

@dataclass
class Config:
    """char_lm_shakespeare: one LSTM LM, trained once, validated on the last 10%."""

    cell: str = "lstm"  # recurrent unit (lstm, gru, rnn)
    embed: int = 64  # character embedding size; range [1, 4096]
    hidden: int = 512  # LSTM state size; range [1, 4096]
    layers: int = 1  # stacked layers; range [1, 8]
    dropout: float = 0.2  # dropout (embeddings, between layers, before the softmax); range [0, 1)
    bptt: int = 64  # truncated BPTT window; range [1, 4096]
    batch_size: int = 64  # parallel streams; range [1, 4096]
    lr: float = 4e-3  # AdamW peak rate (cosine decay after a short warm-up); range (0, 10]
    weight_decay: float = 0.0  # AdamW decoupled decay; range [0, 10]
    clip_grad: float = 1.0  # global gradient-norm clip (0: none); range [0, inf)
    epochs: int = 50  # passes over the training text (max_steps usually stops first); range [1, 10000]
    # training steps (0: the epochs decide; about 4.5 minutes with bf16 on 2 idle cores: 148 ms a step);
    # range [0, 200000]
    max_steps: int = 1600
    # validation on eval_tokens every N steps as well as at epoch ends (0: epoch ends only); range [0, 200000]
    eval_every: int = 400
    # mid-training checks on this many validation characters (0: all; partial checks never choose the
    # checkpoint); range [0, 1e9]
    eval_tokens: int = 0
    # chance per stream and window of a zero state, so sampling from scratch works; range [0, 1]
    reset_prob: float = 0.02
    cpu_bf16: bool = True  # bf16 autocast on a CPU (2.3x faster here; the loss is computed in fp32)
    sample_chars: int = 600  # characters sampled for the report; range [0, 100000]
    temperature: float = 0.8  # sampling temperature; range (0, 100]
    seed: int = 0  # initialisation and sampling seed; range [0, 4294967295]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(embed=16, hidden=32, bptt=16, batch_size=8, max_steps=20, eval_every=10, eval_tokens=2000,
                    sample_chars=40),
    # quick: picked on validation loss in one-thread tuning runs of 1600 steps: no dropout and lr 3e-3 had
    # reached 1.511 after 1400 steps (overfitting: train 1.30); dropout 0.1 gave 1.494, dropout 0.2 with lr 4e-3
    # 1.485 (already at step 1476); 384 units (1.37x more steps per second) were behind at equal time
    # (1.544 after 1230 of 2000 steps against 1.516 after 984 of 1600). The same recipe cut to 1500 steps
    # (validated at epoch ends only) gave 1.516, so the quick profile keeps the 1600 steps it was tuned with
    "quick": Config(),
    # the CPU-sized long run: 2x512 LSTM, dropout 0.3, windows of 128, 20 epochs (2,460 steps of 8,192
    # characters), bf16 autocast. Not tuned on validation (no CPU to spare for a grid): the quick tuning's
    # direction (more dropout helped; one 512 layer overfitted by 1,400 steps) carried to a deeper net and a
    # longer run, and its validation curve shows where it stops. 30 timed steps (`--full-cpu --max-steps 30`)
    # ran at 2,430 characters/s (1 thread, load 3), so about 2.3 hours at that load, less on a quiet core. Its run
    # (1 thread pinned, CI's tests on the other core for part of it): 3,360 s at 6,010 characters/s;
    # validation 1.417 nats per character at the end (nanoGPT's transformer 1.470; the target 1.40 missed), still
    # falling by about 0.001 an epoch over the last five (1.422 after 15), flat in the last; training loss 1.23
    "full-cpu": Config(embed=128, hidden=512, layers=2, dropout=0.3, bptt=128, batch_size=64, lr=2e-3,
                       weight_decay=0.1, epochs=20, max_steps=0, eval_every=500, eval_tokens=0),
    # GPU: 3x1024 LSTM with dropout, about 15 epochs; not run by us yet (no GPU lent to this task)
    "full": Config(embed=256, hidden=1024, layers=3, dropout=0.25, bptt=256, batch_size=64, lr=2e-3,
                   weight_decay=0.1, epochs=15, max_steps=0, eval_every=500, eval_tokens=0, cpu_bf16=False),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    # quick: a 1x512 LSTM measured 1.50 in 5 CPU minutes here; full-cpu and full: 1.40, below nanoGPT's
    # transformer (1.47), the target for the long CPU run too
    return {"val_loss": {"op": "<=", "value": 1.50 if profile == "quick" else 1.40}}


def run(cfg, out_dir, profile):
    seed_everything(cfg.seed)
    data = text.tinyshakespeare.load()
    if not cfg.max_steps:  # the epochs decide: as many steps as --max-steps may ask for, at most
        steps = cfg.epochs * math.ceil(len(data.train.x) // cfg.batch_size / cfg.bptt)
        if steps > MAX_STEPS:
            raise ConfigError(f"--epochs {cfg.epochs} of {cfg.batch_size} streams x {cfg.bptt} characters are "
                              f"{steps:,} steps, more than {MAX_STEPS:,}: set --max-steps, or raise --batch-size "
                              "or --bptt")
    mcfg = rnn_lm.Config(level="char", cell=cfg.cell, embed=cfg.embed, hidden=cfg.hidden, layers=cfg.layers,
                         dropout=cfg.dropout, bptt=cfg.bptt, max_steps=cfg.max_steps, eval_every=cfg.eval_every,
                         eval_tokens=cfg.eval_tokens, cpu_bf16=cfg.cpu_bf16,
                         reset_prob=cfg.reset_prob)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                       weight_decay=cfg.weight_decay, schedule="cosine", warmup=0.02, clip_grad=cfg.clip_grad,
                       device=cfg.device, seed=cfg.seed, log_every=10)
    run_config = {"system": "rnn_lm", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}}
    model = rnn_lm.RNNLM(len(data.classes), mcfg)
    r = rnn_lm.fit(model, data, tcfg, out_dir / "model", run_config, test=False)  # no test part: see above

    best = load_run(out_dir / "model")
    samples = []
    for prime in ("ROMEO:", "JULIET:\nO"):
        s, _ = rnn_lm.sample(best, prime, cfg.sample_chars, cfg.temperature, seed=cfg.seed)
        samples.append(s)
    (out_dir / "samples.txt").write_text("\n\n----\n\n".join(samples) + "\n")

    val = r["best"]["val_loss"]
    metrics = {"val_loss": val, "val_bits_per_char": val / math.log(2), "steps": r["steps"],
               "train_seconds": r["seconds"], "tokens_per_s": r["tokens_per_s"],
               "parameters": sum(p.numel() for p in model.parameters()),
               "train_chars": len(data.train), "val_chars": len(data.val)}
    vals = [h for h in r["history"] if "val_loss" in h]
    series = {"val_loss_vs_step": [[h["step"], h["val_loss"]] for h in vals],
              "train_loss_vs_step": [[h["step"], h["train_loss"]] for h in vals if math.isfinite(h["train_loss"])]}
    _plot(series, samples[0], val, out_dir / "char_lm.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed],
            "artifacts": ["char_lm.png", "samples.txt", "model/"], "device": r["device"]}


def _plot(series, sample, val, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.4]})
    for key, label in (("train_loss_vs_step", "train (running)"), ("val_loss_vs_step", "validation")):
        if series[key]:
            xs, ys = zip(*series[key])
            a.plot(xs, ys, marker="o", ms=3, label=label)
    nanogpt = PAPER["val_loss_nanogpt_transformer"]["value"]
    a.axhline(nanogpt, color="k", ls="--", lw=1, label=f"nanoGPT transformer {nanogpt:.2f}")
    a.set(xlabel="step", ylabel="nats per character", title=f"best validation {val:.3f} nats/char")
    a.legend()
    b.axis("off")
    b.text(0, 1, sample[:500], va="top", ha="left", family="monospace", fontsize=7, wrap=True)
    b.set_title("sample (temperature 0.8)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
