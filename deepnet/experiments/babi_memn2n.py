"""babi_memn2n: an end-to-end memory network answers questions about stories (bAbI tasks 1-20).

Review, "Recurrent neural networks": RNNs augmented with an explicit memory; memory networks
remember a story and later answer questions about it, and do well on question-answering
benchmarks, including questions that need reasoning over several facts.

Model: MemN2N (Sukhbaatar et al. 2015) with 3 hops, adjacent weight tying, position encoding
(PE), temporal encoding, linear start (LS) and random empty memories (RN): the paper's "PE LS RN"
column, with PE, LS and RN done as the authors' released code does them (see systems/memory_network.py).
Data: bAbI v1.2, 1k and 10k training questions per task; 10% of each task's training
stories held out for validation (as the paper does).

Protocol, the paper's: each single-task 1k model and the 1k joint model is trained 10 times from
random initialisations (seeds 0-9), and the run with the lowest *training* error is kept (the
authors' facebookarchive/MemNN MemN2N-babi-matlab/README.md: "In the paper, we repeat training 10
times and picked the one with lowest training error"); its test error is the task's number. On
10k, 3 restarts per model (single task and joint), not 10: ten would take about 6-8 hours of CPU
here (the joint 10k model alone ~25 min a restart). Within each run the checkpoint kept is the
epoch best on validation (best.pt); its training error is measured once after training, in eval
mode (no RN gaps), on the training questions (the validation part excluded). The released code's
"train error" is instead the running error of the last epoch while its weights still move, and it
keeps the last weights. Ties in training error (many runs fit their training questions perfectly)
go to the lower validation error.

Both selections are reported. `mean_error_1k`, `error_1k_task{t}`, `failed_tasks_1k` (likewise
`_1k_joint`, `_10k`, `_10k_joint`) keep the lowest training error: the paper's protocol, so the
like-with-like number beside its Table 1 (the README row shows it). The `_by_val` metrics keep the
lowest validation error: held-out questions, so nothing that is scored, and nothing fitted, decides
the pick, as this project's rules ask of every choice. Neither pick reads the test set. The test
error of every seed is also reported (`_seed_mean`: the mean over seeds).
A joint model (all tasks, d = 50, the paper's joint schedule) is trained when the profile asks.

The 10k copy here lacks task 3's training file: the 10k means are over the 19 tasks present, named
so in the metrics (tasks_absent_10k), and the 10k target is the paper's mean over the same tasks.

Training units (one task or the joint set, one seed) are cached under `cache` keyed by all their
settings, so an interrupted full run continues where it stopped, and a profile run again reuses
finished units.
"""

import json
import shutil
import statistics
from dataclasses import dataclass
from typing import Literal
from pathlib import Path

from deepnet.core.runtime import copy_folder
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
_RMN = "ml-lab/rmn README.md (its 'MemN2N' column: 20 per-task values averaging 6.61, 4 over 5%)"
# Mean test error (fraction) of the paper's MemN2N columns we compare with, like with like:
# "PE LS RN" (one model per task, 3 hops, linear attention output) and "PE LS RN joint" (one model
# for all tasks), each the best of 10 runs by training error. The paper's own table could not be
# opened here; what was checked is said per entry: 13.9 and 6.6 appear in AI-metrics/AI-metrics
# data/language.py (MemN2N-PE+LS+RN accuracy 86.1% on 1k, 93.4% on 10k); 12.4 and its 11 failed
# tasks, with every per-task value of the joint column, in lucaslingle/memn2n README.md ("Paper
# result" column); the 10k PE LS RN per-task column in ml-lab/rmn README.md (named "MemN2N" there, the
# variant unnamed: its mean, 6.61, is what ties it to the 6.6 above). The 1k single-task per-task
# column below (which sums to 13.9 and gives 11 tasks over 5%) and the 10k joint mean are not confirmed.
# Table 1, 1k, PE LS RN, per task (percent), for the report's side-by-side table: as recalled, not
# confirmed (no transcription of this column was found; it is consistent with the 13.9 mean).
PAPER_1K_PE_LS_RN = [0.0, 8.3, 40.3, 2.8, 13.1, 7.6, 17.3, 10.0, 13.2, 15.1,
                     0.9, 0.2, 0.4, 1.7, 0.0, 1.3, 51.0, 11.1, 82.8, 0.0]
# Table 1, 10k, PE LS RN, per task (percent), as transcribed in ml-lab/rmn README.md (see _RMN)
PAPER_10K_PE_LS_RN = [0.0, 0.3, 9.3, 0.0, 0.6, 0.0, 3.7, 0.8, 0.8, 2.4,
                      0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 40.7, 6.7, 66.5, 0.0]
TASKS_10K_HERE = tuple(t for t in range(1, 21) if t != 3)  # our 10k copy lacks task 3's training file


def paper_mean_error_10k(tasks):
    """The paper's 10k PE LS RN mean test error (fraction) over `tasks`, from its per-task column."""
    return statistics.mean(PAPER_10K_PE_LS_RN[t - 1] for t in tasks) / 100


PAPER = {
    "mean_error_1k": {"value": 0.139, "source": f"{_T1}, 1k training, column PE LS RN (mean of 20 tasks); "
                                                "seen as 86.1% accuracy in AI-metrics/AI-metrics data/language.py"},
    "failed_tasks_1k": {"value": 11, "source": f"{_T1}, 1k training, column PE LS RN (tasks with error > 5%): "
                                               "not confirmed (count of the unconfirmed per-task column below)"},
    "mean_error_1k_joint": {"value": 0.124, "source": f"{_T1}, 1k training, column PE LS RN joint (11 failed); "
                                                      "seen in lucaslingle/memn2n README.md, 'Paper result' column"},
    # the 10k target: the paper's mean over the 19 tasks our 10k copy has (task 3, 9.3% in the paper, left out)
    "mean_error_10k": {"value": paper_mean_error_10k(TASKS_10K_HERE),
                       "source": f"{_T1}, 10k training, column PE LS RN: mean over the 19 tasks other than task 3 "
                                 f"(absent from our 10k copy) of the per-task values in {_RMN}"},
    "mean_error_10k_20tasks": {"value": 0.066, "source": f"{_T1}, 10k training, column PE LS RN (mean of 20 tasks); "
                                                         "seen as 93.4% accuracy in AI-metrics/AI-metrics "
                                                         "data/language.py and as 6.6 in ml-lab/rmn README.md"},
    "failed_tasks_10k": {"value": sum(PAPER_10K_PE_LS_RN[t - 1] > 5 for t in TASKS_10K_HERE),
                         "source": f"{_T1}, 10k training, column PE LS RN: tasks over 5% among the 19 other than "
                                   f"task 3, from the per-task values in {_RMN}"},
    "mean_error_10k_joint": {"value": 0.075, "source": f"{_T1}, 10k training, column PE LS RN joint, mean of 20 tasks: "
                                                      "not confirmed (value as recalled; no copy of it, and no "
                                                      "per-task column, was found, so its 19-task mean without "
                                                      "task 3 is not confirmed either: the 20-task mean is used)"},
}
for _t, _e in enumerate(PAPER_1K_PE_LS_RN, 1):
    PAPER[f"error_1k_task{_t}"] = {"value": _e / 100, "source": f"{_T1}, 1k training, column PE LS RN, task {_t}: "
                                                               "not confirmed (as recalled)"}
for _t in TASKS_10K_HERE:
    PAPER[f"error_10k_task{_t}"] = {"value": PAPER_10K_PE_LS_RN[_t - 1] / 100,
                                    "source": f"{_T1}, 10k training, column PE LS RN, task {_t}: as transcribed in "
                                              "ml-lab/rmn README.md"}

ALL_TASKS = tuple(range(1, 21))
# (pick, metric suffix): the paper's selection by training error names the headline metrics; validation's
# carries "_by_val"
SELECTIONS = (("train", ""), ("val", "_by_val"))

# settings added after some results were recorded, with the value those runs behaved as (the report reads a
# setting absent from a recorded config as this value)
ADDED_SETTINGS = {"empty_slots": "masked", "sink_slots": 0}


# Where the runs fall short of the paper or a target: what was tried, what is believed missing (shown on
# results/babi_memn2n.md)
MISSES = """\
The kept full run (2026-12-07, sinks up to 50 slots) meets three of its four targets by the paper's selection
(the lowest training error of the restarts): 1k 13.2% with 11 tasks failed (paper 13.9%, 11), joint 1k 12.0%
with 9 failed (paper 12.4%, 11), 10k over the 19 tasks present 5.9% with 4 failed (the paper's same 19 tasks:
6.5%). It misses the fourth: the joint 10k model, 7.9% over the 19 tasks with 4 failed, against the paper's
7.5% over all 20 (that value not confirmed; its 19-task mean could not be computed, no per-task column being
found).

The joint 10k model loses most on task 19 (path finding): 89.7%, where the single-task 10k model gets 56.0%.
Elsewhere it is within a few points of the single-task models (task 7 9.0% against 6.3%, 8 2.9% against 1.7%).
Believed missing: restarts. It had 3 (25-38 minutes each on a core, 171,000 training questions a run)
where the paper had 10, and the 3 differ little in training error (7.6-8.2%), so none stood out.

Still above the paper's column, task by task:
- 1k (the paper's column as recalled, not confirmed): tasks 3 (43.2% against 40.3), 7 (19.0 against 17.3), 10
  (17.9 against 15.1) and 13 (2.1 against 0.4).
- 10k: tasks 7 (6.3 against 3.7), 8 (1.7 against 0.8) and 18 (8.3 against 6.7). Our 10k copy lacks task 3.
Believed missing: selection noise. Restarts of one task differ by up to 56 points (tasks 15 and 16, where a
restart can fail outright), and the training error, near zero for most of them, barely tells them apart: on
1k task 10 the pick by validation keeps a 12.4% restart.

How the 1k gap closed (babi_ablation, then a check on validation; both 2026-12-07):
- Task 4 did better without temporal encoding (3.2% against 11.4%). Its stories are two sentences, so the
  memory, cut to the longest story, had no empty slot and no sink. The released code's memory keeps 50 slots
  however short the stories, so a two-sentence story meets 48 sinks.
- Sinks up to 50 slots, chosen on validation (4 seeds: task 4 0.072 -> 0.015, 9 0.115 -> 0.043, 10 0.173 ->
  0.047, 6 0.027 -> 0.022), took task 4's test error from 13.0% to 0.4% and task 9's from 13.5% to 5.8%; on
  10k, task 17 from 50.3% to 38.1% and task 10 from 2.8% to 0.1%.

What babi_ablation found on the hard tasks (re-run with the sinks; 4 seeds, seed means, validation questions):
- Tasks 6, 9 and 10 (yes/no and "maybe"; one supporting sentence): some hop's most attended sentence is the
  supporting one in 78-91% of the questions. In the few wrong answers (9, 17 and 19 of each task's 400, over
  the 4 seeds) it was so in 50%, 42% and 71%: on tasks 6 and 9 the errors left are as much in the reading as
  in the answer (with the old sinks: 62-72%).
- Task 2: the error grows with the story's length (10% up to 10 sentences, 18% at 21-30, 67% at 31-40). Wrong
  answers found both facts 8% of the time, right ones 84%. Without temporal encoding 50%; with one hop 65%.
- Task 3: 52-76% in every variant. All three facts are among the hops' most attended sentences in 2% of the
  questions, so the hops do not chain them.
- The last weights (what the released code keeps) tested 16.3% over the six tasks, against 17.0% for the
  epoch best on validation (100 questions a task). Not adopted: that comparison read the test set.
"""


@dataclass
class Config:
    """babi_memn2n: MemN2N (PE LS RN, 3 hops) per bAbI task, 1k and 10k, plus joint models."""

    tasks_1k: tuple[int, ...] = ALL_TASKS  # tasks on 1k questions, one model each; range [1, 20], 0 to 20 values
    tasks_10k: tuple[int, ...] = ALL_TASKS  # tasks on 10k (absent ones skipped, named); range [1, 20], 0 to 20 values
    joint_1k: bool = True  # also one model for all 20 tasks on 1k
    joint_10k: bool = True  # also one model for the 10k tasks present
    # restarts (seeds) per model; the lowest training error is kept (also reported: the lowest validation error)
    seeds: int = 10  # restarts per single-task model on 1k, lowest training error kept (the paper: 10); range [1, 100]
    seeds_10k: int = 3  # restarts per single-task model on 10k (fewer than the paper's 10: CPU time); range [1, 100]
    seeds_joint: int = 10  # restarts of the joint model on 1k (the paper: 10); range [1, 100]
    seeds_joint_10k: int = 3  # restarts of the joint model on 10k (each ~25 min on one core); range [1, 100]
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
    # empty memory slots: left out of the attention softmax ("masked"), or, as the authors' released code has
    # them, zero rows that take their share of it ("sink"; systems/memory_network.py)
    # Chosen on validation with the quick profile (4 seeds of tasks 1, 2, 4, 6; mean validation error per task):
    # task 6 0.125 masked -> 0.025 sink, task 2 0.183 -> 0.205, tasks 1 and 4 unchanged (task 4's stories fill
    # its memory: no empty slot); over the four, 0.109 -> 0.090
    empty_slots: Literal["masked", "sink"] = "sink"
    # the slots that sentences and sinks fill together, as the released code's 50-slot memory has them whatever the
    # stories' length (0: only up to the longest story, which leaves task 4's two-sentence stories no sink).
    # Chosen on validation (4 seeds, mean validation error, 0 -> 50): task 4 0.072 -> 0.015, task 9 0.115 -> 0.043,
    # task 10 0.173 -> 0.047, task 6 0.027 -> 0.022
    sink_slots: int = 50  # range [0, 1000]
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
    # quick: 4 restarts per task, the lowest training error kept (the paper: 10; single runs of tasks 4 and 6
    # range from near 0 to ~20% validation error), LS the released code's 20 epochs, then 60 epochs halving every 15.
    # Its run (1 thread, workers 2, load 5): 177 s; test error by the paper's pick, tasks 1, 2, 4, 6: 0.000, 0.182,
    # 0.123, 0.061 (mean 0.092; with the empty slots masked it was 0.117, task 6 0.184). With sink_slots 50 (1 thread,
    # workers 2, a quiet machine, 2026-12-07): 82 s; 0.000, 0.182, 0.005, 0.066 (mean 0.063)
    "quick": Config(tasks_1k=(1, 2, 4, 6), tasks_10k=(), joint_1k=False, joint_10k=False, seeds=4,
                    epochs=60, anneal=15, linear_start=20, workers=2, cache=""),
    # full: the paper's protocol (see the module docstring); 267 units: 200 single 1k, 10 joint 1k, 57 single 10k.
    # Its first run (2026-12-06; 1 thread, workers 2, sinks only up to the longest story): 11,931 s of unit time;
    # test error by the paper's pick: 1k mean 0.147 (12 failed; paper 0.139), 1k joint 0.120 (9 failed; paper
    # 0.124), 10k mean over the 19 tasks 0.069 (4 failed; the paper's same 19 tasks 0.065). With sink_slots 50, the
    # 1k single-task models only (`--tasks-10k --no-joint-1k`; 1 thread, workers 2, 2026-12-07; 5,178 s of unit
    # time, much of it beside other jobs on the two cores): 1k mean 0.132 (11 failed), the target met. The whole
    # profile but the joint 10k model with sink_slots 50 (1 thread, workers 2, 2026-12-07; 3,887 s, 204 of the 267
    # units from the cache, a 1-thread job beside it; 16,370 s of unit time): 1k 0.132 (11 failed), 1k joint 0.120
    # (9 failed; paper 0.124), 10k over the 19 tasks 0.059 (4 failed; paper 0.065): every target met. The joint 10k
    # model (171k training questions x 20 epochs) then joined the profile; the whole profile (workers 3, 2,287 s,
    # all but the 3 joint 10k units from the cache, each of those ~38 min beside 1-2 other jobs; 23,211 s of unit
    # time): the same numbers, and joint 10k 0.079 (4 failed) against the paper's 0.075, missed (MISSES)
    "full": Config(seeds=10, seeds_joint=10, seeds_10k=3, seeds_joint_10k=3, workers=2),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    if profile == "quick":
        # quick checks the claim on the tasks it trains: one-fact questions answered almost perfectly,
        # and the multi-fact task 2 well above chance (6 places: 83% error by guessing)
        return {"error_1k_task1": {"op": "<=", "value": 0.02}, "error_1k_task2": {"op": "<=", "value": 0.3}}
    # full: the paper's selection (lowest training error) at or below its matching columns, for each setting
    # the run trains (a full run may be restricted to some settings, e.g. --tasks-10k with no task: that
    # setting then has no metric to judge). 10k: the paper's mean over the tasks trained (19 here, not 20).
    from deepnet.data import babi

    present_10k = babi.available_tasks("10k")
    tasks_10k = [t for t in cfg.tasks_10k if t in present_10k]
    paper = {m: PAPER[m]["value"] for m in ("mean_error_1k", "mean_error_1k_joint", "mean_error_10k_joint")}
    if tasks_10k:
        paper["mean_error_10k"] = paper_mean_error_10k(tasks_10k)
    trained = {"mean_error_1k": bool(cfg.tasks_1k), "mean_error_10k": bool(tasks_10k),
               "mean_error_1k_joint": cfg.joint_1k, "mean_error_10k_joint": cfg.joint_10k and bool(present_10k)}
    return {m: {"op": "<=", "value": paper[m]} for m, on in trained.items() if on}


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
                        batch_size=cfg.batch_size, memory_size=cfg.memory_size, device=cfg.device,
                        empty_slots=cfg.empty_slots, sink_slots=cfg.sink_slots)


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
    if cfg.joint_1k:
        plan += [("1k", "joint", unit_spec(cfg, "1k", ALL_TASKS, cfg.seed + i, True)) for i in range(cfg.seeds_joint)]
    for i in range(cfg.seeds_10k):  # every 10k task once before any second seed
        plan += [("10k", t, unit_spec(cfg, "10k", (t,), cfg.seed + i, False)) for t in tasks_10k]
    if cfg.joint_10k and present_10k:
        plan += [("10k", "joint", unit_spec(cfg, "10k", present_10k, cfg.seed + i, True))
                 for i in range(cfg.seeds_joint_10k)]
    if not plan:
        raise ConfigError(f"nothing to train: --tasks-10k {' '.join(map(str, skipped_10k))} absent from the 10k "
                          "copy here, and no --tasks-1k or joint model asked for")
    results = units.train_units([p[2] for p in plan], cfg.cache or out_dir / "scratch" / "units", cfg.workers)

    metrics, series, chosen = {}, {}, {}
    for size in ("1k", "10k"):
        tasks = cfg.tasks_1k if size == "1k" else tasks_10k
        for t in [*tasks, "joint"]:
            runs = [(sp["seed"], r) for (sz, tk, sp), r in zip(plan, results) if sz == size and tk == t]
            if not runs:
                continue
            name = f"{size}_joint" if t == "joint" else f"{size}_task{t}"
            # every restart: [seed, training error, validation error, test error] (the picks' evidence)
            series[f"errors_{name}_by_seed"] = [[s, r["train_error"], r["val_error"], r["test_error"]] for s, r in runs]
            for by, _ in SELECTIONS:
                chosen[(size, t, by)] = units.pick([r for _, r in runs], by)
            if t != "joint":
                series[f"test_error_{name}_by_seed"] = [[s, r["test_error"]] for s, r in runs]
                metrics[f"error_{name}_seed_mean"] = statistics.mean(r["test_error"] for _, r in runs)
        for by, suffix in SELECTIONS:
            if tasks:
                kept = [chosen[(size, t, by)]["test_error"] for t in tasks]
                for t, e in zip(tasks, kept):
                    metrics[f"error_{size}_task{t}{suffix}"] = e
                metrics[f"mean_error_{size}{suffix}"] = statistics.mean(kept)
                metrics[f"failed_tasks_{size}{suffix}"] = sum(e > 0.05 for e in kept)
                series[f"error_{size}_by_task{suffix}"] = [[t, e] for t, e in zip(tasks, kept)]
            if (size, "joint", by) in chosen:
                by_task = chosen[(size, "joint", by)]["test_error_by_task"]  # {task (str in cached units): error}
                metrics[f"mean_error_{size}_joint{suffix}"] = statistics.mean(by_task.values())
                metrics[f"failed_tasks_{size}_joint{suffix}"] = sum(e > 0.05 for e in by_task.values())
                for t, e in by_task.items():
                    metrics[f"error_{size}_joint_task{t}{suffix}"] = e
                series[f"error_{size}_joint_by_task{suffix}"] = [[int(t), e] for t, e in by_task.items()]
        if tasks:
            metrics[f"mean_error_{size}_seed_mean"] = statistics.mean(metrics[f"error_{size}_task{t}_seed_mean"]
                                                                      for t in tasks)
            metrics[f"n_tasks_{size}"] = len(tasks)
        # how often the two selections keep different runs (same model then: the same test error)
        picked = [t for t in [*tasks, "joint"] if (size, t, "train") in chosen]
        if picked:
            metrics[f"picks_differ_{size}"] = sum(chosen[(size, t, "train")] is not chosen[(size, t, "val")]
                                                  for t in picked)
    if skipped_10k:
        metrics["tasks_absent_10k"] = len(skipped_10k)
    # training time of every unit, also of units reused from the cache (this run's `seconds` excludes them)
    metrics["unit_seconds_sum"] = sum(r["seconds"] for r in results)
    metrics["units"] = len(results)  # (task or joint set, seed) models behind these numbers
    metrics["units_reused_from_cache"] = sum(bool(r.get("reused")) for r in results)
    series["paper_error_1k_pe_ls_rn_by_task"] = [[t, PAPER[f"error_1k_task{t}"]["value"]] for t in ALL_TASKS]
    series["paper_error_10k_pe_ls_rn_by_task"] = [[t, e / 100] for t, e in enumerate(PAPER_10K_PE_LS_RN, 1)]

    # the model kept for `deepnet answer` (the paper's pick): the joint 1k model when trained, else task 2's, else
    # the first task's
    kept = {k[:2]: r for k, r in chosen.items() if k[2] == "train"}
    for key in (("1k", "joint"), ("1k", 2), ("10k", "joint"), ("10k", 2), *kept):
        if key in kept:
            src = Path(kept[key]["run_dir"])
            copy_folder(src, out_dir / "model", ignore=shutil.ignore_patterns("linear_start", "tensorboard"))
            model_of = f"{key[0]} {'joint' if key[1] == 'joint' else f'task {key[1]}'}"
            break
    artifacts = ["model/"]
    story = showcase(out_dir / "model", out_dir / "story_attention.png", model_of)
    series["story_attention"] = story["series"]
    artifacts.append("story_attention.png")
    text = story["text"]
    if ("10k", 2) in kept and model_of != "10k task 2":  # also the best-trained model of task 2's questions
        more = showcase(Path(kept[("10k", 2)]["run_dir"]), out_dir / "story_attention_10k_task2.png", "10k task 2")
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
    lines = [f"Model: MemN2N trained on bAbI {model_of} (of its restarts, the one with the lowest training error)",
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
    width = 0.16
    bars = [("paper 1k PE LS RN (not confirmed)", [PAPER[f"error_1k_task{t}"]["value"] for t in tasks], "0.6")]
    if any(f"error_10k_task{t}" in metrics for t in tasks):
        bars.append(("paper 10k PE LS RN", [e / 100 for e in PAPER_10K_PE_LS_RN], "0.85"))
    # ours: the paper's selection (of each model's restarts, the lowest training error)
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
