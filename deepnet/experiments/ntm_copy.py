"""ntm_copy: a Neural Turing Machine learns to copy and generalises to sequences far longer than it was trained on.

Review, "Recurrent neural networks": RNNs augmented with a tape-like memory that they can read
from and write to learn simple algorithms. Graves, Wayne & Danihelka 2014 (section 4.1, Figures
3-6): trained to copy sequences of 1-20 random 8-bit vectors, the NTM copies sequences of length
30, 50 and 120 with few errors, while an LSTM trained the same way fails beyond length 20; the
NTM's write and read weightings (their Figure 6) move one location per step: a learned loop.

Both models train on the same generated batches for the same number of steps, with the same
grid of learning rates chosen on a validation set at training lengths, and are then tested once
on fixed sets of each test length. Metric: mean bits wrong per sequence (outputs thresholded
at 1/2), and the cost per sequence in bits.

The quick recipe (lengths 1-20, 1000 updates of 16 sequences, Adam, 2 seeds) was chosen in tuning
runs on validation only (64 generated sequences at lengths 10 and 20, their own seed; never the
test sets), each model given one run per setting at 1000 updates, seed 0 unless said:
  * NTM, Adam 3e-3, global-norm clip 50: seeds 0 and 2 reached 0.00 validation bits wrong by
    updates 500 and 600; seed 1 only at update 1000 (0.06), after a collapse from 18.5 to 58.8
    bits wrong at update 500. Clipping the global norm at 10 instead: seed 1 at 0.00 by update
    700 (validation cost 0.18 bits). Batch 32 learned no sooner (seed 1: 0.01 at 500, collapsed,
    0.00 again at 900); a length curriculum (longest length 2 -> 20 over 800 updates) was slower
    (43 and 48 bits wrong at update 700-800, batch 16 and 32). The 2000-update recipe on lengths
    1-10 at 1e-3 (the previous quick profile) left seed 1 at 23.4 bits wrong.
  * LSTM 3x256: Adam 1e-3 reached validation cost 113.0 bits (48.6 bits wrong), 3e-3 120.0 bits
    (60.0 wrong), both with global-norm clip 50: 1e-3 is kept. Two rates tried, as for the NTM's
    rate. The quick profile clips both models at 10 (same loop, same batches).
"""

import shutil
from dataclasses import dataclass
from typing import Literal

from deepnet.core.results import mean_std
from deepnet.data import algorithmic
from deepnet.errors import ConfigError
from deepnet.experiments._ntm_common import plot_weightings, train_models, training_summary
from deepnet.systems import ntm

NAME = "ntm_copy"
CLAIM = ("A recurrent network with a tape-like memory it can read from and write to learns a simple "
         "algorithm (copying) and applies it to sequences longer than any it was trained on, where a "
         "plain LSTM fails.")
SECTION = "Recurrent neural networks (memory-augmented networks: Neural Turing Machines)"
HEADLINE = ("A Neural Turing Machine learns to copy, and generalises to longer sequences", "ntm_bits_wrong_len_50")
DATA = []  # synthetic: generated with fixed seeds (deepnet.data.algorithmic)
# The paper gives its copy results as figures (learning curves, Figure 3; outputs at lengths 10-120,
# Figures 4-5) and no table of errors, so no number is quoted as a published value here.
PAPER = {}


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/ntm_copy.md)
MISSES = """\
The full-cpu run (seed 0; 6,000 updates on lengths 1-20) copies lengths 10 and 20 without error and length 30
with 1.2 bits wrong, but gets 68.7 bits wrong at length 50 (target: at most 1). The LSTM gets 149 wrong there.

Two more seeds, trained alike outside the experiment (the NTM alone), copied lengths 50 and 80 with 0 to 0.4
bits wrong. So whether the copy generalises past the training lengths depends on the seed, and validation
(lengths 10 and 20) cannot tell the seeds apart.

Believed missing: more seeds reported by their median, or validation at longer lengths to choose among them.
"""


@dataclass
class Config:
    """ntm_copy: NTM vs LSTM on the copy task, same batches, steps and learning-rate grid."""

    train_min_len: int = 1  # training lengths drawn in [min, max] (the paper: 1-20); range [1, 1000]
    train_max_len: int = 20  # longest training length; range [1, 1000]
    bits: int = 8  # bits per vector (the paper: 8); range [1, 256]
    steps: int = 20000  # parameter updates per model and learning rate; range [1, 10000000]
    batch_size: int = 16  # sequences per update (the paper: 1); range [1, 4096]
    optimizer: Literal["rmsprop", "adam"] = "adam"  # the paper: RMSProp, momentum 0.9
    # rates tried for both models; the best on validation is kept; range (0, 1], 1 to 16 values
    lrs: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
    lstm_lrs: tuple[float, ...] = ()  # the LSTM's own grid, when tuned apart (empty: lrs); range (0, 1], 0 to 16 values
    controller: Literal["lstm", "feedforward"] = "lstm"  # NTM controller
    controller_size: int = 100  # the paper: 100; range [1, 4096]
    memory_n: int = 128  # N locations (the paper: 128); should exceed the longest test length; range [1, 16384]
    memory_m: int = 20  # M width (the paper: 20); range [1, 1024]
    lstm_size: int = 256  # baseline LSTM units per layer (the paper: 256); range [1, 4096]
    lstm_layers: int = 3  # baseline LSTM layers (the paper: 3); range [1, 8]
    test_lengths: tuple[int, ...] = (10, 20, 30, 50, 80, 100, 120)  # lengths tested; range [1, 1000], 1 to 32 values
    test_size: int = 100  # test sequences per length; range [1, 100000]
    val_size: int = 64  # validation sequences per validation length; range [1, 100000]
    val_every: int = 250  # steps between validations; range [1, 10000000]
    seeds: int = 1  # seeds trained with the chosen rates; range [1, 100]
    seed: int = 0  # first seed; range [0, 1e9]
    # global gradient-norm clip after the element-wise clip to [-10, 10] (0: off); range [0, inf)
    clip_norm: float = 50.0
    # steps over which the longest training length grows from 2 to train_max_len (0: off); range [0, 10000000]
    curriculum: int = 0

    def check(self):
        if self.train_min_len > self.train_max_len:
            raise ConfigError(f"--train-min-len {self.train_min_len} exceeds --train-max-len {self.train_max_len}")


PROFILES = {
    "smoke": Config(train_max_len=4, steps=10, batch_size=4, lrs=(1e-3,), controller_size=16, memory_n=16,
                    memory_m=6, lstm_size=16, lstm_layers=1, test_lengths=(4, 8), test_size=4, val_size=4,
                    val_every=5),
    # CPU minutes: the paper's lengths 1-20, one rate for both models (chosen in tuning runs on
    # validation, see the module docstring), 2 seeds
    "quick": Config(steps=1000, lrs=(3e-3,), lstm_lrs=(1e-3,), val_every=100,
                    seeds=2, clip_norm=10.0),
    # the largest run that fits the CPU budget (2.5 hours on 2 cores): 6,000 updates at one rate, the
    # quick profile's, on validation; the paper-scale run (full) needs about three times that. Its run (1 thread,
    # load 3, seed 0): 556 s; NTM bits wrong 0 at lengths 10 and 20, 1.2 at 30, 68.7 at 50 (target missed), LSTM
    # 149 at 50. Seeds 1 and 2 trained alike outside the experiment (the NTM alone) copy lengths 50 and 80 with
    # 0 and 0-0.4 bits wrong: whether the copy generalises past the training lengths depends on the seed, and
    # validation (lengths 10 and 20) cannot tell; more seeds with a median, or validation at longer lengths,
    # would show it
    "full-cpu": Config(steps=6000, lrs=(1e-3,), val_every=500),
    "full": Config(),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    if profile == "quick":
        # trained on 1-20 for minutes: the copy is learned at the training lengths (every seed: the
        # metric is the mean over seeds), and the LSTM is worse than the NTM beyond them
        return {"ntm_bits_wrong_len_10": {"op": "<=", "value": 1.0},
                "ntm_bits_wrong_len_20": {"op": "<=", "value": 1.0},
                "lstm_bits_wrong_len_20": {"op": ">", "metric": "ntm_bits_wrong_len_20"},
                "lstm_bits_wrong_len_30": {"op": ">", "metric": "ntm_bits_wrong_len_30"},
                "lstm_bits_wrong_len_50": {"op": ">", "metric": "ntm_bits_wrong_len_50"}}
    return {"ntm_bits_wrong_len_50": {"op": "<=", "value": 1.0},
            "lstm_bits_wrong_len_50": {"op": ">", "metric": "ntm_bits_wrong_len_50"}}


def model_configs(cfg):
    """The NTM and the LSTM baseline compared, from this experiment's sizes."""
    common = dict(controller=cfg.controller, controller_size=cfg.controller_size, memory_n=cfg.memory_n,
                  memory_m=cfg.memory_m, lstm_size=cfg.lstm_size, lstm_layers=cfg.lstm_layers)
    return {"ntm": ntm.Config(kind="ntm", **common), "lstm": ntm.Config(kind="lstm", **common)}


def run(cfg, out_dir, profile):
    val_lengths = sorted({max(cfg.train_min_len, cfg.train_max_len // 2), cfg.train_max_len})
    tc = ntm.TrainConfig(task="copy", bits=cfg.bits, min_len=cfg.train_min_len, max_len=cfg.train_max_len,
                         steps=cfg.steps, batch_size=cfg.batch_size, optimizer=cfg.optimizer, val_every=cfg.val_every,
                         val_size=cfg.val_size, val_lengths=tuple(val_lengths), checkpoint_every=cfg.val_every,
                         clip_norm=cfg.clip_norm, curriculum=cfg.curriculum)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    # same steps, batches and seeds; each model its own rate grid
    models = {name: (mcfg, cfg.lstm_lrs if (name == "lstm" and cfg.lstm_lrs) else cfg.lrs)
              for name, mcfg in model_configs(cfg).items()}
    runs, grids = train_models(models, tc, seeds, out_dir)
    test = algorithmic.fixed_set("copy", cfg.test_lengths, cfg.test_size, seed=2_000, bits=cfg.bits)

    metrics, series = {}, {}
    for kind, rs in runs.items():
        for L, batch in test.items():
            scores = [ntm.score(m, batch) for m, _ in rs]
            for key in ("bits_wrong", "cost_bits"):
                mean, std = mean_std([s[key] for s in scores])
                metrics[f"{kind}_{key}_len_{L}"] = mean
                if cfg.seeds > 1:
                    metrics[f"{kind}_{key}_len_{L}_std"] = std
            series.setdefault(f"{kind}_bits_wrong_vs_length", []).append([L, metrics[f"{kind}_bits_wrong_len_{L}"]])
        m, sr = training_summary(kind, rs, grids[kind])
        metrics.update(m)
        series.update(sr)

    _plot_lengths(series, cfg, out_dir / "error_vs_length.png")
    arts = ["error_vs_length.png", "model/"]
    model = runs["ntm"][0][0]
    # one sequence at the longest training length, and one of length 50 when it is tested and fits the memory
    for L in [cfg.train_max_len] + ([50] if 50 in cfg.test_lengths and 50 < cfg.memory_n else []):
        b = algorithmic.fixed_set("copy", (L,), 1, seed=3_000, bits=cfg.bits)[L]
        name = f"weightings_len_{L}.png"
        plot_weightings(model, b, f"NTM copy, length {L} (trained on {cfg.train_min_len}-{cfg.train_max_len})",
                            out_dir / name)
        arts.append(name)
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)  # the runs train_models kept for a take-up
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": arts, "device": "cpu"}


def _plot_lengths(series, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for kind, label in (("ntm", "NTM"), ("lstm", f"LSTM {cfg.lstm_layers}x{cfg.lstm_size}")):
        xs, ys = zip(*series[f"{kind}_bits_wrong_vs_length"])
        ax.plot(xs, ys, "o-", label=label)
    xs = [L for L, _ in series["ntm_bits_wrong_vs_length"]]
    ax.plot(xs, [cfg.bits * L / 2 for L in xs], "k:", lw=1, label="chance (half the bits)")
    ax.axvspan(cfg.train_min_len, cfg.train_max_len, color="0.9", label="training lengths")
    ax.set(xlabel="sequence length", ylabel="bits wrong per sequence", yscale="symlog",
           title="copy: errors vs test length")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

