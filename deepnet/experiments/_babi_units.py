"""bAbI training units, shared by babi_memn2n and babi_hops: one task set, one data size, one seed, trained then
tested once; cached under a folder keyed by all their settings, so equal units are trained once."""

import dataclasses
import hashlib
import json
import shutil
import time
from pathlib import Path

import torch

from deepnet.core.checkpoint import atomic_write
from deepnet.core.train import evaluate
from deepnet.data import babi
from deepnet.systems import memory_network as mn

# Bump when what `train_unit` does changes (bAbI parsing has its own babi.FORMAT): cached units
# of another version are then trained again. Units cached before versions were recorded are
# version 1 of both. 2: PE by the released code's formula, RN as gaps in time, LS a fixed 20 epochs
# whose last weights are kept (version 1: the printed PE formula, empty slots, LS stopped on validation).
UNIT_FORMAT = 2


def unit_spec(size, tasks, seed, *, d, hops, noise, linear_start, epochs, anneal, lr, batch_size, memory_size,
              device="cpu", empty_slots="masked", **model):
    """Everything that decides a unit's outcome, as a plain dict (also its cache key).

    model: other memory_network.Config settings (e.g. temporal_encoding=False); their defaults leave the key
    as it was.
    lr: the paper's rate for the batch-summed cost; the engine averages over the batch, so it
    trains with lr × batch_size and clips at 40 / batch_size (see memory_network.paper_train_config).
    """
    return {
        "size": size, "tasks": list(tasks), "seed": seed, "data_seed": 0, "memory_size": memory_size,
        "model": {**dataclasses.asdict(mn.Config()), "d": d, "hops": hops, "noise": noise,
                  "linear_start": linear_start, "empty_slots": empty_slots, **model},
        "train": {"epochs": epochs, "step_epochs": anneal, "lr": lr * batch_size, "batch_size": batch_size,
                  "clip_grad": 40 / batch_size, "seed": seed, "device": device},
    }


def train_unit(spec, run_dir):
    """Train one unit (validation picks the checkpoint), then read its test set once.

    Returns errors (fractions): val_error, val_loss, train_error (the kept weights in eval mode, so
    without RN's random gaps, on the training part: the questions trained on, validation excluded;
    one pass after training), test_error and test_error_by_task, plus epochs run and seconds.
    """
    t0 = time.perf_counter()
    data = babi.load(seed=spec["data_seed"], tasks=tuple(spec["tasks"]), size=spec["size"],
                     memory_size=spec["memory_size"])
    run_config = {"system": "memory_network", "model": spec["model"],
                  "data": {**data.info(), "seed": spec["data_seed"], "size": spec["size"]}}
    torch.manual_seed(spec["seed"])
    model = mn.build(run_config)
    tcfg = mn.paper_train_config(**spec["train"])
    run_dir = Path(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)  # an interrupted unit starts again
    # the engine's end-of-run "test" is pointed at the validation part: the test set is read below, once
    result = mn.fit(model, dataclasses.replace(data, test=data.val), tcfg, run_dir, run_config)
    model = mn.build(run_config)
    state = torch.load(run_dir / "best.pt", weights_only=True)
    model.load_state_dict(state["model"])
    model.eval()
    train_eval = evaluate(model, data.train, torch.device("cpu"), 1024)
    wrong = test_wrong(model, data)  # the test set, once, for this final model
    by_task = {int(t): float(wrong[data.tasks["test"] == t].mean()) for t in spec["tasks"]}
    return {"val_error": 1 - result["best"]["val_accuracy"], "val_loss": result["best"]["val_loss"],
            "train_error": 1 - train_eval["accuracy"], "test_error": float(wrong.mean()),
            "test_error_by_task": by_task, "best_epoch": result["best"]["epoch"],
            "linear_start_epochs": len(result.get("linear_start", {}).get("history", [])),
            "seconds": time.perf_counter() - t0, "run_dir": str(run_dir)}


@torch.no_grad()
def test_wrong(model, data):
    """(N,) float: 1 where the model's answer to a test question is wrong."""
    pred = torch.cat([model(data.test.x[i:i + 1024])[0].argmax(1) for i in range(0, len(data.test), 1024)])
    return (pred != data.test.y).float()


def _unit_versions():
    return {"babi": babi.FORMAT, "unit": UNIT_FORMAT}


# What `pick` reads from every unit. train_unit has recorded all three since its first version, so
# no UNIT_FORMAT bump was needed when selection by training error came in; a cached unit that lacks
# one of them all the same (written by other code) is trained again rather than picked on a guess.
NEEDED = ("train_error", "val_error", "val_loss")


def _run_cached(args):
    """One unit through the cache: <cache>/<hash of the spec>/unit.json, reused when its code versions match.

    The versions are checked, not hashed into the folder name, so that units cached before they
    were recorded (version 1) stay found; a unit of another version, or one whose result lacks a
    key that `pick` needs (NEEDED), is trained again in its place.
    """
    spec, cache = args
    folder = Path(cache) / hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    done = folder / "unit.json"
    if done.exists():
        record = json.loads(done.read_text())
        if (record.get("versions", {"babi": 1, "unit": 1}) == _unit_versions()
                and all(k in record["result"] for k in NEEDED)):
            return {**record["result"], "reused": True}
    out = train_unit(spec, folder / "run")
    record = {"spec": spec, "versions": _unit_versions(), "result": out}
    atomic_write(done, lambda f: f.write(json.dumps(record, indent=1).encode()))  # a kill never leaves half of it
    return out


def _worker_start():
    torch.set_num_threads(1)  # a worker process's entry: tiny models, one thread each, several units side by side


def train_units(specs, cache, workers=1):
    """Results of every spec, in order: those in the `cache` folder reused, the others trained (in `workers` processes)."""
    jobs = [(s, str(cache)) for s in specs]
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_start) as pool:
            return [_said(i, len(jobs), s, r) for i, (s, r) in enumerate(zip(specs, pool.map(_run_cached, jobs)), 1)]
    return [_said(i, len(jobs), s, _run_cached(j)) for i, (s, j) in enumerate(zip(specs, jobs), 1)]


def _said(i, n, spec, result):
    """Print one line per unit done (so that a logged run can be followed); return the result."""
    tasks = "all tasks" if len(spec["tasks"]) > 1 else f"task {spec['tasks'][0]}"
    error = f": validation error {result['val_error']:.3f}" if "val_error" in result else " done"
    if "train_error" in result:
        error += f", training error {result['train_error']:.3f}"
    print(f"   unit {i}/{n}: {spec['size']}, {tasks}, seed {spec['seed']}{error}"
          f"{' (cached)' if result.get('reused') else ''}", flush=True)
    return result


def pick(results, by):
    """The run kept among restarts of one unit (same task set and settings, other seeds).

    by "train": lowest training error (the paper's protocol: the authors' MemN2N-babi-matlab README
    keeps, of 10 runs, the one with the lowest training error), ties (common: many runs fit their
    training questions perfectly) broken by validation error, then validation loss.
    by "val": lowest validation error, then validation loss (no scored data decides the pick).
    Errors are compared rounded to 1e-6, so float noise in equal counts is a tie.
    """
    if by == "train":
        return min(results, key=lambda r: (round(r["train_error"], 6), round(r["val_error"], 6), r["val_loss"]))
    if by == "val":
        return min(results, key=lambda r: (round(r["val_error"], 6), r["val_loss"]))
    raise ValueError(f"pick by 'train' or 'val', not {by!r}")
