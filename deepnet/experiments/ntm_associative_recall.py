"""ntm_associative_recall: a Neural Turing Machine learns to look up the item that followed a query item.

Graves, Wayne & Danihelka 2014, section 4.3: a sequence of items, each of 3 random 6-bit
vectors between delimiters, then a query item; the target is the item that came after the query
in the sequence. This needs content addressing (find the query) followed by location addressing
(step to the next item). Trained with 2-6 items, the paper's NTM generalises to longer lists
(up to 12 items and beyond, their Figure 11), where the LSTM's cost rises steeply.

Both models train on the same batches for the same steps and learning-rate grid; tested once
on fixed sets of each number of items. Metric: cost per sequence (bits) and bits wrong.
"""

import shutil
from dataclasses import dataclass
from typing import Literal

from deepnet.core.results import mean_std
from deepnet.data import algorithmic
from deepnet.errors import ConfigError
from deepnet.experiments._ntm_common import train_models, training_summary
from deepnet.systems import ntm

NAME = "ntm_associative_recall"
CLAIM = ("An RNN with an addressable memory learns associative recall (find a query item in a list and "
         "output the item after it) and keeps doing so for lists longer than those it was trained on.")
SECTION = "Recurrent neural networks (memory-augmented networks: Neural Turing Machines)"
HEADLINE = ("A Neural Turing Machine learns associative recall", "ntm_cost_bits_items_12")
DATA = []  # synthetic: generated with fixed seeds (deepnet.data.algorithmic)
# Graves et al. 2014, checked against a full-text transcription: learning curves Figure 10, longer
# lists Figure 11, no table of costs. Table 1 (p. 22) gives the feed-forward NTM for this task
# "#Heads 4", controller 256 (copy: #Heads 1 = one read and one write head): 4 read + 4 write heads.
PAPER = {}


@dataclass
class Config:
    """ntm_associative_recall: NTM vs LSTM, items of 3 six-bit vectors, trained on 2-6 items."""

    bits: int = 6  # bits per vector (the paper: 6); range [1, 256]
    train_min_items: int = 2  # training list sizes (the paper: 2-6); range [2, 200]
    train_max_items: int = 6  # largest training list; range [2, 200]
    steps: int = 20000  # parameter updates per model and rate; range [1, 10000000]
    batch_size: int = 16  # sequences per update; range [1, 4096]
    optimizer: Literal["rmsprop", "adam"] = "adam"  # the paper: RMSProp, momentum 0.9
    lrs: tuple[float, ...] = (3e-4, 1e-3)  # rates tried for both models; range (0, 1], 1 to 16 values
    controller: Literal["lstm", "feedforward"] = "feedforward"  # the paper's best: feed-forward
    controller_size: int = 256  # the paper: 256; range [1, 4096]
    read_heads: int = 2  # the paper: 4 read and 4 write heads (Table 1); range [1, 64]
    write_heads: int = 2  # range [1, 64]
    memory_n: int = 128  # N memory locations; range [1, 16384]
    memory_m: int = 20  # M width of a location; range [1, 1024]
    lstm_size: int = 256  # baseline LSTM units per layer; range [1, 4096]
    lstm_layers: int = 3  # baseline LSTM layers; range [1, 8]
    test_items: tuple[int, ...] = (6, 8, 10, 12)  # list sizes tested; range [2, 200], 1 to 32 values
    test_size: int = 200  # test sequences per list size; range [1, 100000]
    val_size: int = 64  # validation sequences per list size; range [1, 100000]
    val_every: int = 250  # steps between validations; range [1, 10000000]
    seeds: int = 1  # seeds trained with the chosen rate; range [1, 100]
    seed: int = 0  # first seed; range [0, 1e9]

    def check(self):
        if self.train_min_items > self.train_max_items:
            raise ConfigError(f"--train-min-items {self.train_min_items} exceeds --train-max-items "
                              f"{self.train_max_items}")


PROFILES = {
    "smoke": Config(train_max_items=3, steps=6, batch_size=4, lrs=(1e-3,), controller_size=16, read_heads=1,
                    write_heads=1, memory_n=32, memory_m=6, lstm_size=16, lstm_layers=1, test_items=(3, 4),
                    test_size=4, val_size=4, val_every=3),
    "quick": Config(steps=1500, lrs=(1e-3,), controller_size=100, read_heads=1, write_heads=1),
    "full": Config(),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"lstm_cost_bits_items_12": {"op": ">", "metric": "ntm_cost_bits_items_12"}}


def run(cfg, out_dir, profile):
    common = dict(controller=cfg.controller, controller_size=cfg.controller_size, memory_n=cfg.memory_n,
                  memory_m=cfg.memory_m, lstm_size=cfg.lstm_size, lstm_layers=cfg.lstm_layers)
    heads = dict(read_heads=cfg.read_heads, write_heads=cfg.write_heads)
    models = {"ntm": (ntm.Config(kind="ntm", **heads, **common), cfg.lrs),
              "lstm": (ntm.Config(kind="lstm", **common), cfg.lrs)}  # the same grid for both
    val_items = sorted({(cfg.train_min_items + cfg.train_max_items) // 2, cfg.train_max_items})
    tc = ntm.TrainConfig(task="associative_recall", bits=cfg.bits, min_len=cfg.train_min_items,
                         max_len=cfg.train_max_items, steps=cfg.steps, batch_size=cfg.batch_size,
                         optimizer=cfg.optimizer, val_every=cfg.val_every, val_size=cfg.val_size,
                         val_lengths=tuple(val_items), checkpoint_every=cfg.val_every)
    runs, grids = train_models(models, tc, [cfg.seed + i for i in range(cfg.seeds)], out_dir)
    test = algorithmic.fixed_set("associative_recall", cfg.test_items, cfg.test_size, seed=2_000, bits=cfg.bits)
    metrics, series = {}, {}
    for kind, rs in runs.items():
        for n, batch in test.items():
            scores = [ntm.score(m, batch) for m, _ in rs]
            for key in ("cost_bits", "bits_wrong"):
                metrics[f"{kind}_{key}_items_{n}"], std = mean_std([s[key] for s in scores])
                if cfg.seeds > 1:
                    metrics[f"{kind}_{key}_items_{n}_std"] = std
            series.setdefault(f"{kind}_cost_vs_items", []).append([n, metrics[f"{kind}_cost_bits_items_{n}"]])
        m, sr = training_summary(kind, rs, grids[kind])
        metrics.update(m)
        series.update(sr)
    _plot(series, cfg, out_dir / "cost_vs_items.png")
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)  # the runs train_models kept for a take-up
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed + i for i in range(cfg.seeds)],
            "artifacts": ["cost_vs_items.png", "model/"], "device": "cpu"}


def _plot(series, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for kind, label in (("ntm", "NTM"), ("lstm", "LSTM")):
        xs, ys = zip(*series[f"{kind}_cost_vs_items"])
        ax.plot(xs, ys, "o-", label=label)
    ax.axvspan(cfg.train_min_items, cfg.train_max_items, color="0.9", label="training sizes")
    ax.set(xlabel="items in the list", ylabel="cost per sequence (bits)", title="associative recall")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
