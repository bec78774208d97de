"""Checkpoints: plain dicts of tensors and Python values, written atomically, loaded safely.

Format (DESIGN "Run folder"): {model, optimizer, scheduler, step, epoch, sampler_state,
rng: {torch, cuda, numpy, python}, config, metrics}. Loading uses `weights_only=True`, so a
checkpoint can hold no code: a file from an untrusted source cannot run anything on load.
"""

import os
import random
import zipfile
from pathlib import Path

import numpy as np
import torch

from deepnet.errors import CheckpointError

REQUIRED_KEYS = ("model", "step", "epoch", "config")


def atomic_write(path, write):
    """Write a file so that a crash at any moment leaves either the old or the new file.

    `write(f)` fills the open binary file f. The bytes go to a temporary file in the same
    folder, are flushed to disk (fsync), then renamed over `path` (atomic on POSIX).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
    return path


def save_checkpoint(state, path):
    """Atomically save a checkpoint dict with torch.save."""
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise ValueError(f"checkpoint state lacks {missing}")
    return atomic_write(path, lambda f: torch.save(state, f))


def load_checkpoint(path, system=None):
    """Load a checkpoint with weights_only=True; one-line CheckpointError for anything unusable.

    If `system` is given, the checkpoint's config must name that system.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train first (deepnet train ...) or give the right run folder")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, Exception) as e:  # noqa: B014
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path} is not a readable deepnet checkpoint ({first[:160]}); it may be truncated, "
            "from another program, or contain code: re-train or use another file"
        ) from e
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED_KEYS):
        raise CheckpointError(f"{path} is not a deepnet checkpoint (expected a dict with keys {', '.join(REQUIRED_KEYS)})")
    if system is not None:
        found = (state.get("config") or {}).get("system")
        if found != system:
            raise CheckpointError(f"{path} holds a '{found}' model, not '{system}': use a run folder of a {system} model")
    return state


def load_model_state(model, state_dict, source="checkpoint"):
    """model.load_state_dict with a one-line error when the shapes or names do not fit."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        detail = "; ".join(lines[1:3]) if len(lines) > 1 else lines[0]
        raise CheckpointError(f"{source} does not fit this model ({detail[:200]}); was it written with another config?") from e


def rng_state():
    """All random number generator states, as tensors and plain Python values (weights_only-safe)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": [py[0], list(py[1]), py[2]],
    }


def set_rng_state(state):
    """Restore what rng_state() saved."""
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
