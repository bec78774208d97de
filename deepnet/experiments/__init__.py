"""Experiments: one module per figure or claim of the review.

An experiment module defines
    NAME, CLAIM, SECTION          what is tested and where the review says it
    HEADLINE                      (the claim in a few words, the metric that shows it): its README row
    DATA                          datasets it needs (names of deepnet.data.DATASETS)
    PAPER                         {name: {"value", "source"}}: the published numbers it is compared with
    Config, PROFILES              a commented dataclass and its smoke/quick/full (and full-cpu) instances
    targets(profile, cfg)         {metric: {"op", "value" | "metric"}}: what counts as reproducing the claim
    run(cfg, out_dir, profile)    trains/measures, writes figures into out_dir, returns
                                  {"metrics", "series", "seeds", "artifacts"}
This module runs one: it checks the data, times it, adds the environment, decides `met`,
and writes out_dir/result.json as DESIGN's contract says. Nothing here knows a metric's value.
"""

import dataclasses
import importlib
import json
import shutil
import time
from pathlib import Path

from deepnet import data as datasets
from deepnet.data import store
from deepnet.core.checkpoint import atomic_write
from deepnet.core.run import Interrupted, continue_runs
from deepnet.core.runtime import environment, git_commit, make_folder
from deepnet.errors import CheckpointError, ConfigError
from deepnet.core.results import check_targets, validate_result

PROFILES = ("smoke", "quick", "full-cpu", "full")  # full-cpu: only where the paper's scale needs a GPU


class Skipped(Exception):
    """The experiment cannot run here (its data is absent); the message says what to fetch."""


def load(module_path):
    return importlib.import_module(module_path)


def missing_data(exp):
    """Names of the datasets `exp` needs that are not on this machine."""
    return [name for name in exp.DATA if not datasets.available(name)]


def to_fetch(exp):
    """What `deepnet data fetch` needs for `exp` here: the fetch names of its absent datasets, once each."""
    return list(dict.fromkeys(datasets.fetch_name(n) for n in missing_data(exp)))


def run_experiment(exp, profile, out_root, seed=None, overrides=None, command="", keep_dir=None, device=None,
                   fresh=False, log=print):
    """Run experiment module `exp` at `profile`; write <out_root>/<NAME>/result.json; return the result.

    The work happens in a scratch folder, <out_root>/.<NAME>.partial, that replaces <out_root>/<NAME>
    only when the run succeeds, so a failed or interrupted run never leaves a half-written result
    behind. A stopped run's scratch folder is kept: the same command (same experiment, profile and
    settings) takes it up again, every training run in it continuing from its last checkpoint
    (core/run.py's continue_runs) and every finished one read back, so a long profile killed part-way
    loses minutes, not hours. Other settings are refused while it holds a checkpoint; `fresh` discards it. The
    wall time recorded is the sum over the attempts (a killed attempt counted to its last file written).
    The git commit recorded is the checkout's when the (last) attempt started, not when it ended; a run
    taken up under other code also lists each attempt's (env's git_commits_of_attempts).
    `keep_dir` (e.g. results/quick) also receives result.json and the PNG figures: the evidence.
    """
    absent = missing_data(exp)
    if absent:
        hints = "; ".join(f"{n}: {datasets.get(n).DESCRIPTION}" for n in absent)
        raise Skipped(f"{exp.NAME} needs data not found here ({hints}); "
                      f"{store.fetch_advice(*to_fetch(exp))} (see 'deepnet data list')")
    if profile not in exp.PROFILES:
        others = ", ".join(f"--{p}" for p in exp.PROFILES)
        raise ConfigError(f"{exp.NAME} has no {profile} profile (it has {others})")
    cfg = exp.PROFILES[profile]
    changes = dict(overrides or {})
    if seed is not None:
        changes["seed"] = seed
    if device is not None:
        if not any(f.name == "device" for f in dataclasses.fields(cfg)):
            raise ConfigError(f"{exp.NAME} has no device setting (it runs on the CPU); drop --device")
        changes["device"] = device
    cfg = dataclasses.replace(cfg, **changes)
    if hasattr(cfg, "check"):
        cfg.check()

    out_root = Path(out_root)
    final = out_root / exp.NAME
    scratch = out_root / f".{exp.NAME}.partial"
    make_folder(out_root)
    earlier = _taken_up(scratch, exp.NAME, profile, cfg, fresh, log)
    if earlier is None:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        earlier = []
    # the code that runs is the checkout's at the start: a long run may end after later commits
    attempts = [*earlier, {"started": time.time(), "git_commit": git_commit()}]

    def record_attempts():
        atomic_write(scratch / "experiment.json", lambda f: f.write(json.dumps(
            {"experiment": exp.NAME, "profile": profile, "config": dataclasses.asdict(cfg), "attempts": attempts},
            indent=2).encode()))

    record_attempts()
    t0 = time.perf_counter()
    try:
        with continue_runs():
            out = exp.run(cfg, scratch, profile)
    except BaseException as e:  # the scratch folder stays, to be taken up again by the same command
        attempts[-1]["seconds"] = time.perf_counter() - t0
        record_attempts()
        again = f"{scratch} is kept: the same command takes it up, --fresh starts over"
        if isinstance(e, (KeyboardInterrupt, Interrupted)):
            raise Interrupted(f"interrupted; {again}") from None
        if isinstance(e, CheckpointError) and earlier:  # e.g. a run folder of older code with other settings
            raise CheckpointError(f"{e} (in the stopped run taken up from {scratch}: add --fresh to start over)") from None
        raise
    seconds = time.perf_counter() - t0 + sum(a["seconds"] for a in earlier)
    targets = exp.targets(profile, cfg)  # a full run restricted to some settings judges only those
    result = {
        "schema_version": 1,
        "experiment": exp.NAME,
        "claim": exp.CLAIM,
        "section": exp.SECTION,
        "profile": profile,
        "metrics": out["metrics"],
        "series": out.get("series", {}),
        "paper": exp.PAPER,
        "targets": targets,
        "met": check_targets(out["metrics"], targets),
        "seeds": out["seeds"],
        "seconds": round(seconds, 2),
        **({"attempts": len(attempts)} if len(attempts) > 1 else {}),  # taken up after a stop: seconds sums them
        "artifacts": out.get("artifacts", []),
        "config": dataclasses.asdict(cfg),
        "env": {**environment(out.get("device")), "git_commit": attempts[-1]["git_commit"]},
        "command": command,
    }
    commits = list(dict.fromkeys(a.get("git_commit") for a in attempts))
    if len(commits) > 1:  # taken up after a stop under other code: each attempt's, first to last
        result["env"]["git_commits_of_attempts"] = commits
    validate_result(result)
    (scratch / "experiment.json").unlink()
    atomic_write(scratch / "result.json", lambda f: f.write(json.dumps(result, indent=2).encode()))
    if final.exists():
        shutil.rmtree(final)
    scratch.rename(final)
    if keep_dir is not None:
        keep = Path(keep_dir) / exp.NAME
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        shutil.copy2(final / "result.json", keep / "result.json")
        for f in [*final.glob("*.png"), *final.glob("*.txt")]:  # figures, and texts to read (samples, neighbours)
            shutil.copy2(f, keep / f.name)
    return result


def _taken_up(scratch, name, profile, cfg, fresh, log):
    """The earlier attempts ([{"started", "seconds"}]) of a stopped run in `scratch` with these very
    settings, which this one continues; None when there is none to continue (or `fresh`)."""
    try:
        saved = json.loads((scratch / "experiment.json").read_text())
    except (OSError, ValueError):
        return None
    if fresh:
        return None
    now = {"experiment": name, "profile": profile,
           **json.loads(json.dumps(dataclasses.asdict(cfg)))}  # tuples compare as the JSON lists they were
    before = {"experiment": saved.get("experiment"), "profile": saved.get("profile"), **(saved.get("config") or {})}
    differ = sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k))
    if differ and not any(scratch.rglob("*.pt")):  # it stopped before any training run saved anything: nothing to lose
        return None
    if differ:
        raise ConfigError(f"{scratch} holds a stopped run with other settings ({', '.join(differ[:6])}): run its "
                          "command again to take it up, or add --fresh to discard it")
    attempts = saved.get("attempts") or []
    last = max((f.stat().st_mtime for f in scratch.rglob("*") if f.is_file()), default=time.time())
    for a in attempts:  # the stopped attempt ran until its last file written
        a.setdefault("seconds", max(0.0, last - a["started"]))
    log(f"   taking up the run stopped in {scratch} (attempt {len(attempts) + 1}; finished training runs are "
        "read back, the others continue from their last checkpoint; --fresh starts over)")
    return attempts
