"""The run lifecycle: the bookkeeping every training loop shares, whatever it trains.

A loop (the engine's minibatch SGD, an LM's truncated BPTT, an NTM's generated sequences, a
kernel SVM's one solve) stays written out where it lives; what it does around the training is
here, once:

    run = Run(run_dir, run_config, resume=..., grows=("train.epochs",))
    with run:                                  # a failure before the first checkpoint leaves no folder
        state = run.state                      # the checkpoint resumed from, or None
        if state: model.load_state_dict(state["model"]); ...; run.restore_rng()
        ...
        run.log({"event": "train", "step": step, "loss": ...})          # metrics.jsonl
        run.checkpoint(model=..., optimizer=..., step=..., epoch=..., carry=..., finished=...)
        run.save_best(model=..., step=..., epoch=..., metrics=...)

What it guarantees:
- A new run refuses a folder that holds a checkpoint already; `config.json` is written atomically.
- One resume policy: the saved settings must equal the new ones, except those that do not change
  what is learned (`VOLATILE`) and the budget the loop names in `grows` (epochs, steps), which may
  only grow. Every other difference is refused, naming each field.
- A finished run (its last checkpoint says `finished`) is not resumed: `RunFinished` says so, and
  says that a larger budget continues it.
- Checkpoints are plain dicts, written atomically, with every RNG state (torch, CUDA, NumPy,
  Python) and whatever the loop carries from one step to the next (`carry`: an LM's hidden
  state; a sampler's position goes in `sampler_state`); loaded with `weights_only=True`.
- Only process 0 writes (under torchrun the other processes pass main=False).
- A run stopped (error, Ctrl-C) before its first checkpoint removes the folder it created, so
  nothing half-made is left to resume; Ctrl-C becomes `Interrupted`, saying what was kept.
- Inside `continue_runs()` (`deepnet reproduce` taking up an experiment that was stopped), a Run
  asked to start afresh in a folder holding a checkpoint continues it instead, under the same
  policy, and a finished one is opened as it ended (`run.done`): its loop trains no further step
  and returns what the run holds. An experiment's sub-runs thus resume without it knowing.
"""

import contextlib
import json
import shutil
from pathlib import Path

from deepnet.core.checkpoint import atomic_write, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from deepnet.core.runtime import make_folder
from deepnet.errors import CheckpointError, DeepnetError

# Settings that may differ on resume: they change where and how visibly a run trains, not what it learns.
VOLATILE = ("train.device", "train.progress", "train.compile", "train.log_every", "train.checkpoint_every",
            "train.eval_batch_size")


_continuing = False  # set by continue_runs()


@contextlib.contextmanager
def continue_runs():
    """While active, every Run opened on a folder that holds a checkpoint continues it (see the module docstring)."""
    global _continuing
    before, _continuing = _continuing, True
    try:
        yield
    finally:
        _continuing = before


def continues(run_dir):
    """For a system whose run folder holds phases (its own checks before any Run): True inside
    continue_runs() when run_dir holds a checkpoint of some phase; a folder without one (a start
    killed before its first checkpoint) is removed, so that the run starts afresh there."""
    run_dir = Path(run_dir)
    if not _continuing or not run_dir.exists():
        return False
    if any(run_dir.rglob("checkpoint.pt")):
        return True
    shutil.rmtree(run_dir, ignore_errors=True)
    return False


class RunFinished(DeepnetError):
    """`--resume` of a run whose budget is spent: nothing to do (not a failure)."""

    exit_code = 0


class Interrupted(DeepnetError):
    """Ctrl-C during training: says what was kept and how to continue."""

    exit_code = 130


def flat(d, prefix=""):
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}: settings named as a user would name them."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(saved, now, grows=(), volatile=VOLATILE):
    """(refused, grown): the settings of `now` that differ from `saved`.

    grown maps each key of `grows` that increased to (old, new); a budget that shrank, and any
    other difference outside `volatile`, is refused (a list of names).
    """
    a, b = flat(saved), flat(now)
    refused, grown = [], {}
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key), b.get(key)
        if old == new or key in volatile:
            continue
        if key in grows and isinstance(old, (int, float)) and isinstance(new, (int, float)) and new > old:
            grown[key] = (old, new)
        else:
            refused.append(key)
    return refused, grown


class Run:
    """One run folder: config.json, checkpoint.pt (latest), best.pt (best on validation), metrics.jsonl."""

    def __init__(self, run_dir, run_config, resume=False, grows=(), main=True):
        self.dir = Path(run_dir)
        self.config = run_config
        self.resume, self.grows, self.main = resume, tuple(grows), main
        self.ckpt_path, self.best_path = self.dir / "checkpoint.pt", self.dir / "best.pt"
        self.state, self.grown = None, {}
        self.done = False  # opened on a finished run inside continue_runs(): the loop trains no further step
        if not resume and _continuing and self.ckpt_path.exists():
            self.resume = resume = True
        self._made = None  # the folder this run created (removed if it ends before its first checkpoint)
        self._tb = None
        if resume:
            self._open_resumed()
        elif self.ckpt_path.exists():
            raise CheckpointError(f"{self.dir} already holds a run: resume it with --resume {self.dir} "
                                  "or choose another --out")
        if main:
            self._create()

    # -- opening

    def _open_resumed(self):
        if not self.ckpt_path.exists():
            raise CheckpointError(f"{self.dir} holds no checkpoint: the run stopped before writing its first one, "
                                  "so there is nothing to resume; start it again without --resume")
        self.state = load_checkpoint(self.ckpt_path, system=self.config.get("system"))
        refused, self.grown = config_changes(self.state["config"], self.config, self.grows)
        if refused:
            shown = ", ".join(refused[:6]) + (f" and {len(refused) - 6} more" if len(refused) > 6 else "")
            raise CheckpointError(f"{self.ckpt_path} was written with other settings ({shown}); resume with the "
                                  "same flags or start a new run folder")
        finished = self.state.get("finished")
        if finished and _continuing and not self.grown:  # an experiment taken up again: this part is done
            self.done = True
            return
        if finished and (finished == "early_stop" or not self.grown):
            budget = " or ".join("--" + k.split(".")[-1].replace("_", "-") for k in self.grows)
            how = ("it stopped early (no validation improvement for --patience epochs)" if finished == "early_stop"
                   else f"to train on, resume with a larger {budget}" if budget else "it cannot be trained further")
            raise RunFinished(f"{self.dir} finished at step {self.state['step']}: nothing to resume; {how}")

    def _create(self):
        missing = self.dir
        while not missing.parent.exists() and missing.parent != missing:
            missing = missing.parent
        if not self.dir.exists():
            self._made = missing
        make_folder(self.dir)
        for stale in self.dir.glob(".*.tmp-*"):  # left by a process killed while writing
            stale.unlink(missing_ok=True)
        if not self.resume or self.grown:  # a grown budget is the run's setting from now on
            write_config(self.dir, self.config)
        if not self.resume:
            (self.dir / "metrics.jsonl").unlink(missing_ok=True)  # of an earlier start killed before any checkpoint
        elif (self.dir / "metrics.jsonl").exists():  # what was logged after the checkpoint will be logged again
            kept = [r for r in read_metrics(self.dir) if not r.get("step", 0) > self.state["step"]]
            atomic_write(self.dir / "metrics.jsonl", lambda f: f.write("".join(json.dumps(r) + "\n" for r in kept).encode()))

    # -- during the run

    def restore_rng(self):
        """Put every random generator back where the checkpoint left it (call last, after building things)."""
        set_rng_state(self.state["rng"])

    def log(self, record):
        """Append one JSON record to metrics.jsonl (and to TensorBoard, when it is installed)."""
        if not self.main:
            return
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

                self._tb = SummaryWriter(log_dir=str(self.dir / "tensorboard"))
            except Exception:  # tensorboard absent or broken: metrics.jsonl is the record
                self._tb = False
        if self._tb:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self._tb.add_scalar(f"{record.get('event', 'x')}/{k}", v, record.get("step", 0))

    def checkpoint(self, *, model, step, epoch, optimizer=None, scheduler=None, sampler_state=None, carry=None,
                   metrics=None, finished=None):
        """Write checkpoint.pt atomically: everything needed to continue exactly from here.

        finished: None while training, "budget" when the planned steps are done, "early_stop".
        """
        if not self.main:
            return
        state = {"model": _detached(model.state_dict()), "step": step, "epoch": epoch, "config": self.config,
                 "rng": rng_state(), "metrics": metrics or {}, "sampler_state": sampler_state or {},
                 "carry": _detached(carry) if carry is not None else None, "finished": finished}
        if optimizer is not None:
            state["optimizer"] = optimizer.state_dict()
        if scheduler is not None:
            state["scheduler"] = scheduler.state_dict()
        save_checkpoint(state, self.ckpt_path)
        self._made = None  # from now on the folder holds something to resume

    def save_best(self, *, model, step, epoch, metrics=None):
        """Write best.pt atomically: the weights chosen on validation (what load_run and eval read)."""
        if self.main:
            save_checkpoint({"model": _detached(model.state_dict()), "step": step, "epoch": epoch, "config": self.config,
                             "metrics": metrics or {}}, self.best_path)

    def close(self):
        if self._tb:
            self._tb.close()
            self._tb = None

    # -- ending

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        self.close()
        if kind is None:
            return False
        if self._made is not None and self.main:  # stopped before its first checkpoint: leave nothing behind
            shutil.rmtree(self._made, ignore_errors=True)
        if kind is KeyboardInterrupt:
            if self.ckpt_path.exists():
                raise Interrupted(f"interrupted; the last checkpoint is kept: continue with "
                                  f"deepnet train --resume {self.dir}") from None
            raise Interrupted("interrupted before the first checkpoint: nothing was kept") from None
        return False


def write_config(folder, run_config):
    """folder/config.json, written atomically: what load_run rebuilds the model from."""
    atomic_write(Path(folder) / "config.json", lambda f: f.write(json.dumps(run_config, indent=2).encode()))


def _detached(tree):
    """A state (nested dicts, lists, tuples of tensors) with every tensor detached: no graph is saved."""
    import torch

    if isinstance(tree, torch.Tensor):
        return tree.detach()
    if isinstance(tree, dict):
        return {k: _detached(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_detached(v) for v in tree)
    return tree


def read_metrics(run_dir):
    """The records of a run's metrics.jsonl (a torn last line from a crash is skipped)."""
    path = Path(run_dir) / "metrics.jsonl"
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records
