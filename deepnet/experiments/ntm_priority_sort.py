"""ntm_priority_sort: a Neural Turing Machine learns to output a sequence sorted by the priorities given with it.

The review's own example ("Recurrent neural networks"): a memory-augmented RNN learns to output a
sorted list of symbols when the input is an unsorted sequence with a priority for each. Graves,
Wayne & Danihelka 2014, section 4.5: 20 random 8-bit vectors, each with a priority drawn
uniformly from [-1, 1]; the target is the 16 vectors of highest priority, highest first. The
paper's NTM (feed-forward controller, 8 heads) reaches a lower cost per sequence than the LSTM
(their Figure 18), and its write weightings follow the priorities: each vector is written to a
location that is a linear function of its priority (Figure 17), and read back in order.

Both models train on the same generated batches for the same number of steps with the same
learning-rate grid (chosen on validation), and are tested once on a fixed set.
"""

import shutil
from dataclasses import dataclass
from typing import Literal

import torch

from deepnet.core.results import mean_std
from deepnet.data import algorithmic
from deepnet.errors import ConfigError
from deepnet.experiments._ntm_common import plot_weightings, train_models, training_summary
from deepnet.systems import ntm

NAME = "ntm_priority_sort"
CLAIM = ("An RNN augmented with a memory it can read from and write to learns to output a sorted list of "
         "vectors when the input is an unsorted sequence with a priority for each.")
SECTION = "Recurrent neural networks (memory-augmented networks: Neural Turing Machines)"
HEADLINE = ("A Neural Turing Machine learns to sort (its cost over an LSTM's)", "ntm_over_lstm_cost")
DATA = []  # synthetic: generated with fixed seeds (deepnet.data.algorithmic)
# Graves, Wayne & Danihelka 2014 (arXiv:1410.5401), checked against a full-text transcription: the
# learning curves are Figure 18 (Figure 16 is an example input/target, Figure 17 the write locations),
# with no table of costs. Table 1 (p. 22, NTM with feed-forward controller) gives priority sort
# "#Heads 8", controller 512, memory 128 x 20, rate 3e-5, 508,305 parameters (copy: #Heads 1), and
# section 4.5 says eight parallel read and write heads were needed: 8 read + 8 write heads, not 8 in all.
PAPER = {}

# settings added after some results were recorded, with the value those runs behaved as (the report reads a
# setting absent from a recorded config as this value)
ADDED_SETTINGS = {"pilot_steps": 0}


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/ntm_priority_sort.md)
MISSES = """\
The full-cpu run (2026-12-06) has the paper's controller (512 units), 8 read and 8 write heads, and a 128 x 20
memory. It gave 8,000 Adam updates of 16 sequences to each net, the rate chosen on validation.
- The NTM's test cost is 93.9 bits per sequence; the LSTM's is 122.6 (chance 128). The ratio is 0.77 against
  the target 0.5.
- The NTM's validation cost fell from 122 to 92 by 96,000 sequences, then stayed flat.
- Its write locations rise with priority, roughly linearly but noisily (the paper's Figure 17, not yet clean).

Believed missing: updates and a decaying rate. The paper trains at 3e-5 (RMSProp) for about a million
sequences; this run saw 128,000 at 3e-4. An update takes 0.2 s here, so a sitting could hold about three
times as many.
"""


@dataclass
class Config:
    """ntm_priority_sort: NTM vs LSTM, 20 prioritised vectors in, the 16 highest sorted out."""

    n_in: int = 20  # input vectors (the paper: 20); range [1, 1000]
    n_out: int = 16  # vectors to output, highest priority first (the paper: 16); range [1, 1000]
    bits: int = 8  # bits per vector (the paper: 8); range [1, 256]
    steps: int = 20000  # parameter updates per model and rate; range [1, 10000000]
    batch_size: int = 16  # sequences per update; range [1, 4096]
    optimizer: Literal["rmsprop", "adam"] = "adam"  # the paper: RMSProp, momentum 0.9
    lrs: tuple[float, ...] = (3e-4, 1e-3)  # rates tried for both models; range (0, 1], 1 to 16 values
    # with several rates: each first trains pilot_steps updates, and only the run of the rate with the lowest
    # validation cost goes on to `steps` (0: every rate trains all steps); range [0, 10000000]
    pilot_steps: int = 0
    controller: Literal["lstm", "feedforward"] = "feedforward"  # the paper: feed-forward
    controller_size: int = 512  # the paper: 512; range [1, 4096]
    read_heads: int = 8  # the paper: 8 read and 8 write heads (Table 1, section 4.5); range [1, 64]
    write_heads: int = 8  # range [1, 64]
    memory_n: int = 128  # the paper: 128; range [1, 16384]
    memory_m: int = 20  # the paper: 20; range [1, 1024]
    lstm_size: int = 256  # baseline LSTM units per layer; range [1, 4096]
    lstm_layers: int = 3  # baseline LSTM layers; range [1, 8]
    test_size: int = 200  # test sequences; range [1, 100000]
    val_size: int = 128  # validation sequences; range [1, 100000]
    val_every: int = 250  # steps between validations; range [1, 10000000]
    seeds: int = 1  # seeds trained with the chosen rates; range [1, 100]
    seed: int = 0  # first seed; range [0, 1e9]

    def check(self):
        if self.n_out > self.n_in:
            raise ConfigError(f"--n-out {self.n_out} exceeds --n-in {self.n_in}: only the inputs can be output")


PROFILES = {
    "smoke": Config(n_in=5, n_out=4, steps=6, batch_size=4, lrs=(1e-3,), controller_size=16, read_heads=1,
                    write_heads=1, memory_n=16, memory_m=6, lstm_size=16, lstm_layers=1, test_size=4,
                    val_size=4, val_every=3),
    "quick": Config(steps=700, lrs=(1e-3,), controller_size=128, read_heads=4, write_heads=4, val_every=175),
    # the paper's controller (512 units) and heads (8 read, 8 write) with Adam instead of its RMSProp at 3e-5,
    # whose rate needs far more updates than a CPU gives: 8,000 updates of 16 sequences, the rates 1e-4 and 3e-4
    # piloted for 1,000 updates each on validation cost, the better one's run going on (12,000 updates, estimated
    # at 3 hours or more, never finished in one sitting). Run (1 thread, pinned, a 1-thread job on the other core,
    # 2,557 s; repeated with the ratio metric in 2,351 s, the same costs): 0.2 s per NTM update, 0.06 s per LSTM
    # update; 3e-4 chosen for the NTM (validation 122.2 against 123.4 after the pilots), 1e-4 for the LSTM; test
    # cost 93.9 bits against the LSTM's 122.6 (chance 128), a ratio of 0.77 (target 0.5 missed). The NTM's
    # validation cost fell from 122 to 92 by 96,000 sequences and then stayed there (94.2 at 128,000); the LSTM's
    # stayed at 123. Its write locations already rise with the priority (write_location_vs_priority.png),
    # noisily: the start of the paper's mechanism. A sitting would hold about three times these updates
    "full-cpu": Config(steps=8000, lrs=(1e-4, 3e-4), pilot_steps=1000, val_every=500),
    "full": Config(),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    t = {"lstm_cost_bits": {"op": ">", "metric": "ntm_cost_bits"}}
    if profile in ("full-cpu", "full"):  # learned, not merely better: at most half the LSTM's cost, equal updates
        t["ntm_over_lstm_cost"] = {"op": "<=", "value": 0.5}
    return t


def run(cfg, out_dir, profile):
    opts = {"n_out": cfg.n_out}
    common = dict(controller=cfg.controller, controller_size=cfg.controller_size, memory_n=cfg.memory_n,
                  memory_m=cfg.memory_m, lstm_size=cfg.lstm_size, lstm_layers=cfg.lstm_layers)
    heads = dict(read_heads=cfg.read_heads, write_heads=cfg.write_heads)
    models = {"ntm": (ntm.Config(kind="ntm", **heads, **common), cfg.lrs),
              "lstm": (ntm.Config(kind="lstm", **common), cfg.lrs)}  # the same grid for both
    tc = ntm.TrainConfig(task="priority_sort", bits=cfg.bits, n_out=cfg.n_out, min_len=cfg.n_in, max_len=cfg.n_in,
                         steps=cfg.steps, batch_size=cfg.batch_size, optimizer=cfg.optimizer, val_every=cfg.val_every,
                         val_size=cfg.val_size, val_lengths=(cfg.n_in,), checkpoint_every=cfg.val_every)
    runs, grids = train_models(models, tc, [cfg.seed + i for i in range(cfg.seeds)], out_dir,
                               pilot_steps=cfg.pilot_steps)
    test = algorithmic.fixed_set("priority_sort", (cfg.n_in,), cfg.test_size, seed=2_000, bits=cfg.bits, **opts)[cfg.n_in]
    metrics, series = {}, {}
    for kind, rs in runs.items():
        scores = [ntm.score(m, test) for m, _ in rs]
        for key in ("cost_bits", "bits_wrong"):
            metrics[f"{kind}_{key}"], std = mean_std([s[key] for s in scores])
            if cfg.seeds > 1:
                metrics[f"{kind}_{key}_std"] = std
        m, sr = training_summary(kind, rs, grids[kind])
        metrics.update(m)
        series.update(sr)
    metrics["chance_cost_bits"] = float(cfg.n_out * cfg.bits)  # outputs of 1/2: one bit per target bit
    metrics["ntm_over_lstm_cost"] = metrics["ntm_cost_bits"] / metrics["lstm_cost_bits"]
    _plot_curves(series, metrics, out_dir / "cost_curves.png")
    b = algorithmic.fixed_set("priority_sort", (cfg.n_in,), 1, seed=3_000, bits=cfg.bits, **opts)[cfg.n_in]
    plot_weightings(runs["ntm"][0][0], b, f"NTM priority sort ({cfg.n_in} in, {cfg.n_out} out)",
                        out_dir / "weightings.png")
    _plot_priority_vs_location(runs["ntm"][0][0], b, cfg, out_dir / "write_location_vs_priority.png")
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)  # the runs train_models kept for a take-up
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed + i for i in range(cfg.seeds)],
            "artifacts": ["cost_curves.png", "weightings.png", "write_location_vs_priority.png", "model/"],
            "device": "cpu"}


def _plot_curves(series, metrics, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for kind, label in (("ntm", "NTM"), ("lstm", "LSTM")):
        pts = series[f"{kind}_val_cost_vs_sequences"]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, label=f"{label} (test {metrics[f'{kind}_cost_bits']:.1f})")
    ax.axhline(metrics["chance_cost_bits"], color="k", ls=":", lw=1, label="chance")
    ax.set(xlabel="training sequences", ylabel="validation cost per sequence (bits)", title="priority sort")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_priority_vs_location(model, batch, cfg, path):
    """The paper's Figure 17: where each input vector is written (mean location of the write weighting) vs its priority."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        _, _, ws = model(batch.x[:1], batch.y[:1], batch.mask[:1], record=True)  # (1, T, H, N)
    w = ws[0, :cfg.n_in, model.R]  # first write head while the inputs arrive, (n_in, N)
    loc = (w * torch.arange(model.N)).sum(-1)  # expected location
    prio = batch.x[0, :cfg.n_in, cfg.bits]
    fig, ax = plt.subplots(figsize=(4.5, 3.4))
    ax.scatter(prio.numpy(), loc.numpy())
    ax.set(xlabel="priority", ylabel="mean write location", title="where each input is written")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
