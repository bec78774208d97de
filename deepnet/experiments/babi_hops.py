"""babi_hops: more memory hops answer questions that need several facts (bAbI tasks 2 and 3).

Review, "Recurrent neural networks": memory networks answer questions that require reasoning over
several facts of a story. In MemN2N (Sukhbaatar et al. 2015) each hop reads the memory once and
adds what it read to the question's state, u^{k+1} = u^k + o^k, so a question like "Where is the
football?" (task 2: who carried it, then where that person went) needs at least two reads.

Here: MemN2N (PE LS RN) with K = 1, 2, 3 hops on the two- and three-supporting-fact tasks (1k
training questions), several seeds each, the seed with the lowest validation error kept; the
metric is its test error, averaged over the tasks. Training units share babi_memn2n's cache, so
the 3-hop units of a babi_memn2n run with the same settings are reused.
"""

import statistics
from dataclasses import dataclass
from typing import Literal

from deepnet.errors import ConfigError
from deepnet.experiments import _babi_units as units

NAME = "babi_hops"
CLAIM = ("Memory networks answer questions that need reasoning over several facts of a story; "
         "several reads of the memory (hops) are what makes this possible.")
SECTION = "Recurrent neural networks (memory networks; multi-step reasoning on bAbI)"
HEADLINE = ("More memory hops, better multi-fact reasoning", "error_hops3")
DATA = ["babi"]
_T1 = "Sukhbaatar et al. 2015, End-To-End Memory Networks, Table 1"
# Only means over all 20 tasks of the joint PE LS models are printed per hop count: context for the
# trend, not a like-with-like number for tasks 2 and 3. The paper's table could not be opened here;
# ssamot/distnet persistance.py transcribes the 1-hop and 2-hop joint columns per task (as accuracies),
# whose means are 25.8 and 15.6. The 3-hop mean and the single-task column are not confirmed.
PAPER = {
    "paper_mean_error_20tasks_hops1": {"value": 0.258, "source": f"{_T1}, 1k, column 1 hop PE LS joint (20 tasks); "
                                                                 "mean of the column in ssamot/distnet persistance.py"},
    "paper_mean_error_20tasks_hops2": {"value": 0.156, "source": f"{_T1}, 1k, column 2 hops PE LS joint (20 tasks); "
                                                                 "mean of the column in ssamot/distnet persistance.py"},
    "paper_mean_error_20tasks_hops3": {"value": 0.133, "source": f"{_T1}, 1k, column 3 hops PE LS joint (20 tasks): "
                                                                 "not confirmed (only quoted as 13.3 by a secondary "
                                                                 "summary of the paper)"},
    "error_hops3_task2": {"value": 0.083, "source": f"{_T1}, 1k, column PE LS RN (3 hops), task 2: not confirmed "
                                                    "(as recalled; see babi_memn2n)"},
    "error_hops3_task3": {"value": 0.403, "source": f"{_T1}, 1k, column PE LS RN (3 hops), task 3: not confirmed "
                                                    "(as recalled; see babi_memn2n)"},
}

# settings added after some results were recorded, with the value those runs behaved as (the report reads a
# setting absent from a recorded config as this value)
ADDED_SETTINGS = {"empty_slots": "masked"}


@dataclass
class Config:
    """babi_hops: MemN2N with 1..K hops on the multi-fact bAbI tasks (1k)."""

    tasks: tuple[int, ...] = (2, 3)  # the multi-fact tasks; range [1, 20], 1 to 20 values
    hops: tuple[int, ...] = (1, 2, 3)  # hop counts compared; range [1, 32], 1 to 16 values
    seeds: int = 3  # seeds per (task, hops); the best on validation is kept; range [1, 100]
    epochs: int = 100  # epochs (the paper: 100); range [1, 1000]
    anneal: int = 25  # halve the learning rate every this many epochs; range [1, 1000]
    linear_start: int = 20  # LS: most epochs without the attention softmax (0: off); range [0, 1000]
    noise: float = 0.1  # RN: fraction of empty memories added to training stories; range [0, 1]
    # empty memory slots: left out of the attention softmax ("masked"), or, as the authors' released code has
    # them, zero rows that take their share of it ("sink"; systems/memory_network.py)
    empty_slots: Literal["masked", "sink"] = "masked"
    memory_size: int = 50  # sentences kept; range [1, 1000]
    d: int = 20  # embedding size (the paper's for single tasks); range [1, 1024]
    lr: float = 0.01  # the paper's rate for the summed cost (the engine's mean loss gets lr x batch); range (0, 1]
    batch_size: int = 32  # minibatch (the paper's); range [1, 4096]
    workers: int = 1  # training processes in parallel; range [1, 64]
    cache: str = "runs/cache/babi_memn2n"  # shared with babi_memn2n: equal units are trained once
    seed: int = 0  # first seed; range [0, 1e9]
    device: str = "cpu"

    def check(self):
        if self.lr * self.batch_size > 100:  # the engine averages over the batch: it trains with lr x batch
            raise ConfigError(f"--lr x --batch-size must be at most 100 (the engine's rate), "
                              f"got {self.lr:g} x {self.batch_size}")


PROFILES = {
    "smoke": Config(tasks=(2,), hops=(1, 2), seeds=1, epochs=1, linear_start=1, cache=""),
    "quick": Config(seeds=2, epochs=40, anneal=10, linear_start=10, cache=""),
    "full": Config(workers=2),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"error_hops3": {"op": "<", "metric": "error_hops1"}}


def run(cfg, out_dir, profile):
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    # the same settings as babi_memn2n's single-task 1k units, so that equal units share the cache
    plan = [(k, t, units.unit_spec("1k", (t,), s, d=cfg.d, hops=k, noise=cfg.noise, linear_start=cfg.linear_start,
                                epochs=cfg.epochs, anneal=cfg.anneal, lr=cfg.lr, batch_size=cfg.batch_size,
                                memory_size=cfg.memory_size, device=cfg.device, empty_slots=cfg.empty_slots))
            for k in cfg.hops for t in cfg.tasks for s in seeds]
    results = units.train_units([p[2] for p in plan], cfg.cache or out_dir / "scratch" / "units", cfg.workers)
    metrics, series = {}, {}
    for k in cfg.hops:
        errs = []
        for t in cfg.tasks:
            runs = [r for (kk, tt, _), r in zip(plan, results) if kk == k and tt == t]
            best = units.pick(runs, by="val")  # the seed with the lowest validation error
            metrics[f"error_hops{k}_task{t}"] = best["test_error"]
            metrics[f"error_hops{k}_task{t}_seed_mean"] = statistics.mean(r["test_error"] for r in runs)
            errs.append(best["test_error"])
        metrics[f"error_hops{k}"] = statistics.mean(errs)
    for t in cfg.tasks:
        series[f"error_vs_hops_task{t}"] = [[k, metrics[f"error_hops{k}_task{t}"]] for k in cfg.hops]
    series["mean_error_vs_hops"] = [[k, metrics[f"error_hops{k}"]] for k in cfg.hops]
    metrics["unit_seconds_sum"] = sum(r["seconds"] for r in results)  # includes units reused from the cache
    metrics["units_reused_from_cache"] = sum(bool(r.get("reused")) for r in results)
    _plot(cfg, metrics, out_dir / "error_vs_hops.png")
    import shutil

    shutil.rmtree(out_dir / "scratch", ignore_errors=True)
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": ["error_vs_hops.png"],
            "device": cfg.device}


def _plot(cfg, metrics, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    for t in cfg.tasks:
        ax.plot(cfg.hops, [metrics[f"error_hops{k}_task{t}"] for k in cfg.hops], "o-", label=f"task {t}")
    ax.plot(cfg.hops, [metrics[f"error_hops{k}"] for k in cfg.hops], "k--", label="mean")
    ax.set(xlabel="hops K", ylabel="test error (best seed on validation)", xticks=list(cfg.hops), ylim=(0, 1))
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
