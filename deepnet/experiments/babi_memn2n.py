"""babi_memn2n: an end-to-end memory network answers questions about stories (bAbI tasks 1-20).

Review, "Recurrent neural networks": RNNs augmented with an explicit memory; memory networks
remember a story and later answer questions about it, and do well on question-answering
benchmarks, including questions that need reasoning over several facts.

Model: MemN2N (Sukhbaatar et al. 2015) with 3 hops, adjacent weight tying, position encoding
(PE), temporal encoding, linear start (LS) and random empty memories (RN): the paper's "PE LS RN"
column, with PE, LS and RN done as the authors' released code does them (see systems/memory_network.py).
Data: bAbI v1.2, 1k and 10k training questions per task; 10% of each task's training
stories held out for validation (as the paper does). For each task several seeds are trained;
the one with the lowest validation error is kept (the paper kept the lowest *training* error of
10 runs: we use validation, so our pick is not tuned on data it is scored on), and its test error
is the task's number. The test error of every seed is also reported (mean over seeds).
A joint model (all tasks, d = 50, the paper's joint schedule) is trained when the profile asks.

The 10k copy here lacks task 3's training file: the 10k mean is over the 19 tasks present,
and named so in the metrics (tasks_10k lists them).

Training units (one task or the joint set, one seed) are cached under `cache` keyed by all their
settings, so an interrupted full run continues where it stopped, and a profile run again reuses
finished units.
"""

import json
import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path

from deepnet.errors import ConfigError
from deepnet.experiments import _babi_units as units
from deepnet.systems import memory_network as mn

NAME = "babi_memn2n"
CLAIM = ("Memory networks remember a story and later answer questions about it, including questions "
         "that need reasoning over several facts, performing well on question-answering benchmarks.")
SECTION = "Recurrent neural networks (memory networks: RNNs augmented with an explicit memory; bAbI QA)"
HEADLINE = ("A memory network answers questions about stories", "mean_error_1k")
DATA = ["babi"]

_T1 = "Sukhbaatar et al. 2015, End-To-End Memory Networks, Table 1"
# Mean test error (fraction) over the 20 tasks of the paper's MemN2N columns we compare with, like
# with like: "PE LS RN" (one model per task, 3 hops, linear attention output) and "PE LS RN joint"
# (one model for all tasks). The paper's own table could not be opened here; what was checked is
# said per entry: 13.9 and 6.6 appear in AI-metrics/AI-metrics data/language.py (MemN2N-PE+LS+RN
# accuracy 86.1% on 1k, 93.4% on 10k); 12.4 and its 11 failed tasks, with every per-task value of the
# joint column, in lucaslingle/memn2n README.md ("Paper result" column). The single-task per-task
# column below (which sums to 13.9 and gives 11 tasks over 5%) and the 10k joint mean are not confirmed.
PAPER = {
    "mean_error_1k": {"value": 0.139, "source": f"{_T1}, 1k training, column PE LS RN (mean of 20 tasks); "
                                                "seen as 86.1% accuracy in AI-metrics/AI-metrics data/language.py"},
    "failed_tasks_1k": {"value": 11, "source": f"{_T1}, 1k training, column PE LS RN (tasks with error > 5%): "
                                               "not confirmed (count of the unconfirmed per-task column below)"},
    "mean_error_1k_joint": {"value": 0.124, "source": f"{_T1}, 1k training, column PE LS RN joint (11 failed); "
                                                      "seen in lucaslingle/memn2n README.md, 'Paper result' column"},
    "mean_error_10k": {"value": 0.066, "source": f"{_T1}, 10k training, column PE LS RN (mean of 20 tasks; ours is "
                                                 "over the 19 tasks present here); seen as 93.4% accuracy in "
                                                 "AI-metrics/AI-metrics data/language.py and in ml-lab/rmn README.md"},
    "mean_error_10k_joint": {"value": 0.075, "source": f"{_T1}, 10k training, column PE LS RN joint: not confirmed "
                                                      "(value as recalled; no copy of it was found)"},
}
# Table 1, 1k, PE LS RN, per task (percent), for the report's side-by-side table: as recalled, not
# confirmed (no transcription of this column was found; it is consistent with the 13.9 mean).
PAPER_1K_PE_LS_RN = [0.0, 8.3, 40.3, 2.8, 13.1, 7.6, 17.3, 10.0, 13.2, 15.1,
                     0.9, 0.2, 0.4, 1.7, 0.0, 1.3, 51.0, 11.1, 82.8, 0.0]
for _t, _e in enumerate(PAPER_1K_PE_LS_RN, 1):
    PAPER[f"error_1k_task{_t}"] = {"value": _e / 100, "source": f"{_T1}, 1k training, column PE LS RN, task {_t}: "
                                                               "not confirmed (as recalled)"}

ALL_TASKS = tuple(range(1, 21))


@dataclass
class Config:
    """babi_memn2n: MemN2N (PE LS RN, 3 hops) per bAbI task, 1k and 10k, plus joint models."""

    tasks_1k: tuple[int, ...] = ALL_TASKS  # tasks on 1k questions, one model each; range [1, 20], 0 to 20 values
    tasks_10k: tuple[int, ...] = ALL_TASKS  # tasks on 10k (absent ones skipped, named); range [1, 20], 0 to 20 values
    joint_1k: bool = True  # also one model for all 20 tasks on 1k
    joint_10k: bool = True  # also one model for the 10k tasks present
    # seeds per single-task model; the best on validation is kept (the paper: 10, best training error); range [1, 100]
    seeds: int = 3
    seeds_10k: int = 2  # seeds per single-task model on 10k; range [1, 100]
    seeds_joint: int = 1  # seeds per joint model; range [1, 100]
    hops: int = 3  # K; range [1, 32]
    d: int = 20  # embedding size of single-task models (the paper's); range [1, 1024]
    d_joint: int = 50  # embedding size of joint models (the paper's); range [1, 1024]
    epochs: int = 100  # single task, 1k: epochs (the paper: 100); range [1, 1000]
    anneal: int = 25  # single task, 1k: halve the rate every this many epochs (the paper: 25); range [1, 1000]
    epochs_10k: int = 20  # single task, 10k: epochs (ten times more data per epoch); range [1, 1000]
    anneal_10k: int = 5  # single task, 10k: halving period; range [1, 1000]
    epochs_joint_1k: int = 60  # joint 1k epochs (the paper: 60); range [1, 1000]
    anneal_joint_1k: int = 15  # joint 1k halving period (the paper: 15); range [1, 1000]
    epochs_joint_10k: int = 20  # joint 10k epochs (the paper: 20); range [1, 1000]
    anneal_joint_10k: int = 5  # joint 10k halving period (the paper: 5); range [1, 1000]
    linear_start: int = 20  # LS: epochs without the attention softmax (0: off; the released code: 20); range [0, 1000]
    linear_start_10k: int = 5  # LS cap on 10k data (an epoch there is ten 1k epochs of steps); range [0, 1000]
    linear_start_joint: int = 20  # LS cap, joint models on 1k (an epoch is 20 single-task epochs); range [0, 1000]
    noise: float = 0.1  # RN: fraction of empty memories added to training stories; range [0, 1]
    memory_size: int = 50  # sentences kept (the most recent), the paper's 50; range [1, 1000]
    lr: float = 0.01  # the paper's rate for the summed cost (the engine's mean loss gets lr x batch); range (0, 1]
    batch_size: int = 32  # minibatch (the paper's); range [1, 4096]
    workers: int = 1  # training processes in parallel (each uses one thread); range [1, 64]
    cache: str = "runs/cache/babi_memn2n"  # finished training units are kept here and reused
    seed: int = 0  # first seed (seeds are seed, seed+1, ...); range [0, 1e9]
    device: str = "cpu"  # these models are small: the CPU is fine

    def check(self):
        if not (self.tasks_1k or self.tasks_10k or self.joint_1k or self.joint_10k):
            raise ConfigError("nothing to train: give --tasks-1k or --tasks-10k, or turn on --joint-1k or --joint-10k")
        if self.lr * self.batch_size > 100:  # the engine averages over the batch: it trains with lr x batch
            raise ConfigError(f"--lr x --batch-size must be at most 100 (the engine's rate), "
                              f"got {self.lr:g} x {self.batch_size}")


PROFILES = {
    "smoke": Config(tasks_1k=(1,), tasks_10k=(), joint_1k=False, joint_10k=False, seeds=1, epochs=2,
                    linear_start=1, cache=""),
    # quick: 4 seeds per task (the paper restarts 10 times: single runs of tasks 4 and 6 range from near 0 to
    # ~20% validation error), LS the released code's 20 epochs, then 60 epochs halving every 15
    "quick": Config(tasks_1k=(1, 2, 4, 6), tasks_10k=(), joint_1k=False, joint_10k=False, seeds=4,
                    epochs=60, anneal=15, linear_start=20, workers=2, cache=""),
    # joint 10k (180k training questions x 20 epochs) is opt-in (--joint-10k): too long for a CPU full run
    "full": Config(workers=2, joint_10k=False),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    if profile == "quick":
        # quick checks the claim on the tasks it trains: one-fact questions answered almost perfectly,
        # and the multi-fact task 2 well above chance (6 places: 83% error by guessing)
        return {"error_1k_task1": {"op": "<=", "value": 0.02}, "error_1k_task2": {"op": "<=", "value": 0.3}}
    # full: at or below the paper's matching columns, for each setting the run trains (a full run may be
    # restricted to some settings, e.g. --tasks-10k with no task: that setting then has no metric to judge)
    trained = {"mean_error_1k": bool(cfg.tasks_1k), "mean_error_10k": bool(cfg.tasks_10k),
               "mean_error_1k_joint": cfg.joint_1k, "mean_error_10k_joint": cfg.joint_10k}
    return {m: {"op": "<=", "value": PAPER[m]["value"]} for m, on in trained.items() if on}


# ---------------------------------------------------------------------------------------------
# One training unit: a task set, a data size, a seed (_babi_units.train_units trains and caches them)


def unit_spec(cfg, size, tasks, seed, joint):
    """The unit's settings under this profile: the schedule depends on the data size and on joint training."""
    single10k = size == "10k" and not joint
    epochs = cfg.epochs_joint_1k if joint and size == "1k" else cfg.epochs_joint_10k if joint else \
        cfg.epochs_10k if single10k else cfg.epochs
    anneal = cfg.anneal_joint_1k if joint and size == "1k" else cfg.anneal_joint_10k if joint else \
        cfg.anneal_10k if single10k else cfg.anneal
    linear_start = cfg.linear_start_10k if size == "10k" else cfg.linear_start_joint if joint else cfg.linear_start
    return units.unit_spec(size, tasks, seed, d=cfg.d_joint if joint else cfg.d, hops=cfg.hops, noise=cfg.noise,
                        linear_start=linear_start, epochs=epochs, anneal=anneal, lr=cfg.lr,
                        batch_size=cfg.batch_size, memory_size=cfg.memory_size, device=cfg.device)


# ---------------------------------------------------------------------------------------------


def run(cfg, out_dir, profile):
    from deepnet.data import babi

    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    present_10k = babi.available_tasks("10k")
    tasks_10k = [t for t in cfg.tasks_10k if t in present_10k]
    skipped_10k = [t for t in cfg.tasks_10k if t not in present_10k]

    plan = []  # (setting, task or "joint", spec), in the order they are trained (most wanted first)
    for t in cfg.tasks_1k:
        plan += [("1k", t, unit_spec(cfg, "1k", (t,), s, False)) for s in seeds]
    joint_seeds = [cfg.seed + i for i in range(cfg.seeds_joint)]
    if cfg.joint_1k:
        plan += [("1k", "joint", unit_spec(cfg, "1k", ALL_TASKS, s, True)) for s in joint_seeds]
    seeds_10k = [cfg.seed + i for i in range(cfg.seeds_10k)]
    for s in seeds_10k:  # every 10k task once before any second seed
        plan += [("10k", t, unit_spec(cfg, "10k", (t,), s, False)) for t in tasks_10k]
    if cfg.joint_10k and present_10k:
        plan += [("10k", "joint", unit_spec(cfg, "10k", present_10k, s, True)) for s in joint_seeds]
    if not plan:
        raise ConfigError(f"nothing to train: --tasks-10k {' '.join(map(str, skipped_10k))} absent from the 10k "
                          "copy here, and no --tasks-1k or joint model asked for")
    results = units.train_units([p[2] for p in plan], cfg.cache or out_dir / "scratch" / "units", cfg.workers)

    metrics, series, chosen = {}, {}, {}
    for size in ("1k", "10k"):
        tasks = cfg.tasks_1k if size == "1k" else tasks_10k
        kept, every = [], []
        for t in tasks:
            runs = [r for (sz, tk, _), r in zip(plan, results) if sz == size and tk == t]
            best = units.pick(runs)
            chosen[(size, t)] = best
            err = best["test_error"]
            metrics[f"error_{size}_task{t}"] = err
            metrics[f"error_{size}_task{t}_seed_mean"] = statistics.mean(r["test_error"] for r in runs)
            kept.append(err)
            every.append(statistics.mean(r["test_error"] for r in runs))
            series[f"test_error_{size}_task{t}_by_seed"] = [
                [sp["seed"], r["test_error"]] for (sz, tk, sp), r in zip(plan, results) if sz == size and tk == t]
        if tasks:
            metrics[f"mean_error_{size}"] = statistics.mean(kept)
            metrics[f"failed_tasks_{size}"] = sum(e > 0.05 for e in kept)
            metrics[f"mean_error_{size}_seed_mean"] = statistics.mean(every)
            metrics[f"n_tasks_{size}"] = len(tasks)
            series[f"error_{size}_by_task"] = [[t, metrics[f"error_{size}_task{t}"]] for t in tasks]
        joint = [r for (sz, tk, _), r in zip(plan, results) if sz == size and tk == "joint"]
        if joint:
            best = units.pick(joint)
            chosen[(size, "joint")] = best
            metrics[f"mean_error_{size}_joint"] = statistics.mean(best["test_error_by_task"].values())
            metrics[f"failed_tasks_{size}_joint"] = sum(e > 0.05 for e in best["test_error_by_task"].values())
            for t, e in best["test_error_by_task"].items():
                metrics[f"error_{size}_joint_task{t}"] = e
            series[f"error_{size}_joint_by_task"] = [[int(t), e] for t, e in best["test_error_by_task"].items()]
    if skipped_10k:
        metrics["tasks_absent_10k"] = len(skipped_10k)
    # training time of every unit, also of units reused from the cache (this run's `seconds` excludes them)
    metrics["unit_seconds_sum"] = sum(r["seconds"] for r in results)
    metrics["units"] = len(results)  # (task or joint set, seed) models behind these numbers
    metrics["units_reused_from_cache"] = sum(bool(r.get("reused")) for r in results)
    series["paper_error_1k_pe_ls_rn_by_task"] = [[t, PAPER[f"error_1k_task{t}"]["value"]] for t in ALL_TASKS]

    # the model kept for `deepnet answer`: the joint 1k model when trained, else task 2's, else the first task's
    for key in (("1k", "joint"), ("1k", 2), ("10k", "joint"), ("10k", 2), *chosen):
        if key in chosen:
            src = Path(chosen[key]["run_dir"])
            shutil.copytree(src, out_dir / "model", ignore=shutil.ignore_patterns("linear_start", "tensorboard"))
            model_of = f"{key[0]} {'joint' if key[1] == 'joint' else f'task {key[1]}'}"
            break
    artifacts = ["model/"]
    story = showcase(out_dir / "model", out_dir / "story_attention.png", model_of)
    series["story_attention"] = story["series"]
    artifacts.append("story_attention.png")
    text = story["text"]
    if ("10k", 2) in chosen and model_of != "10k task 2":  # also the best-trained model of task 2's questions
        more = showcase(Path(chosen[("10k", 2)]["run_dir"]), out_dir / "story_attention_10k_task2.png", "10k task 2")
        series["story_attention_10k_task2"] = more["series"]
        artifacts.append("story_attention_10k_task2.png")
        text += "\n" + more["text"]
    (out_dir / "story.txt").write_text(text)
    artifacts.append("story.txt")
    _plot_tasks(metrics, out_dir / "error_by_task.png")
    artifacts.append("error_by_task.png")
    (out_dir / "units.json").write_text(json.dumps(
        [{"setting": sz, "task": tk, "seed": sp["seed"], **{k: v for k, v in r.items() if k != "run_dir"}}
         for (sz, tk, sp), r in zip(plan, results)], indent=1))
    artifacts.append("units.json")
    print(f"   model kept for 'deepnet answer': {model_of} (model/)", flush=True)
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": artifacts, "device": cfg.device}


# ---------------------------------------------------------------------------------------------
# A story written here, answered with attention shown

STORY = [
    "Mary went to the kitchen.",
    "John travelled to the garden.",
    "Mary picked up the milk there.",
    "Daniel moved to the office.",
    "Mary went back to the bedroom.",
    "John grabbed the football there.",
    "Mary journeyed to the hallway.",
    "John went to the bathroom.",
]
QUESTIONS = ["Where is the milk?", "Where is the football?", "Where is Mary?"]


def showcase(run_dir, png, model_of=""):
    """Answer QUESTIONS about STORY with the kept model; a figure of each hop's attention.

    A single-task model has only seen its task's kind of question (task 2: "Where is the <object>?"),
    so its answer to another kind ("Where is Mary?") shows what it does out of its task.
    """
    from deepnet import load_run

    model = load_run(run_dir)
    answers = [mn.answer(model, STORY, q) for q in QUESTIONS]
    lines = [f"Model: MemN2N trained on bAbI {model_of} (the seed kept on validation)",
             "Story (written for this project, in bAbI's world):"] + [f"  {i}. {s}" for i, s in enumerate(STORY, 1)]
    series = []
    for qi, (q, a) in enumerate(zip(QUESTIONS, answers)):
        lines.append(f"Q: {q}  A: {a['answer']} (p = {a['probability']:.2f})")
        for note in a["notes"]:
            lines.append(f"  note: {note}")
        for k, hop in enumerate(a["hops"], 1):
            top = ", ".join(f"{w:.2f} '{s}'" for s, w in hop[:2])
            lines.append(f"  hop {k}: {top}")
            weights = dict(hop)
            series += [[qi, k, i, weights.get(s, 0.0)] for i, s in enumerate(STORY, 1)]
    _plot_story(answers, png)
    return {"text": "\n".join(lines) + "\n", "series": series}


def _plot_story(answers, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, len(answers), figsize=(4.2 * len(answers), 3.8), sharey=True)
    for ax, q, a in zip(np.atleast_1d(axes), QUESTIONS, answers):
        K = len(a["hops"])
        grid = np.zeros((len(STORY), K))
        for k, hop in enumerate(a["hops"]):
            weights = dict(hop)
            for i, s in enumerate(STORY):
                grid[i, k] = weights.get(s, 0.0)
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for i in range(len(STORY)):
            for k in range(K):
                if grid[i, k] >= 0.05:
                    ax.text(k, i, f"{grid[i, k]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if grid[i, k] > 0.5 else "black")
        ax.set_xticks(range(K), [f"hop {k + 1}" for k in range(K)])
        ax.set_title(f"{q}\n→ {a['answer']} (p={a['probability']:.2f})", fontsize=9)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(STORY)), STORY, fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _plot_tasks(metrics, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.4))
    tasks = list(range(1, 21))
    width = 0.2
    bars = [("paper 1k PE LS RN (not confirmed)", [PAPER[f"error_1k_task{t}"]["value"] for t in tasks], "0.6")]
    for label, key in (("ours 1k", "error_1k_task{}"), ("ours 1k joint", "error_1k_joint_task{}"),
                       ("ours 10k", "error_10k_task{}")):
        vals = [metrics.get(key.format(t), float("nan")) for t in tasks]
        if any(v == v for v in vals):
            bars.append((label, vals, None))
    for i, (label, vals, color) in enumerate(bars):
        ax.bar([t + (i - (len(bars) - 1) / 2) * width for t in tasks], vals, width, label=label, color=color)
    ax.axhline(0.05, color="k", lw=0.8, ls="--", label="5% (a task counts as failed above)")
    ax.set(xlabel="bAbI task", ylabel="test error", xticks=tasks, ylim=(0, 1))
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
