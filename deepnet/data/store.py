"""Where dataset files are found, and a cache of their decoded arrays.

Search order (DESIGN.md, "Data"): `$DEEPNET_DATA` when set, then the user cache
(`$DEEPNET_CACHE`, default `~/.cache/deepnet`), both with the same layout
(`mnist/...`, `cifar10/...`). Decoding some formats is slow (60,000 JPEGs), so decoded
arrays are kept as .npz under `<cache>/decoded/`, never next to the data, because the
data folder may be read-only (a shared copy, a mounted volume).
"""

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np

from deepnet.errors import DataError

# Bump when the layout of the cache files changes; old files are then simply ignored.
CACHE_FORMAT = 1


def one_line(e):
    """An exception's text on one line (library messages may span several), for DataError."""
    return " ".join(str(e).split()) or type(e).__name__


def cache_root():
    """The user cache folder: `$DEEPNET_CACHE`, else `~/.cache/deepnet` (it may not exist yet)."""
    env = os.environ.get("DEEPNET_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "deepnet"


def data_roots():
    """Folders searched for dataset files, in order: `$DEEPNET_DATA` (when set), then the user cache."""
    roots = []
    env = os.environ.get("DEEPNET_DATA")
    if env:
        root = Path(env).expanduser()
        # An explicit setting that points nowhere is a mistake worth stopping on,
        # rather than silently falling back to the cache.
        if not root.is_dir():
            raise DataError(
                f"DEEPNET_DATA={env} is not a folder: point it at the folder that holds "
                "mnist/, cifar10/, ... (see README)"
            )
        roots.append(root.resolve())
    roots.append(cache_root())
    return roots


def find(relpaths):
    """The first data root holding every path of `relpaths`, or None."""
    for root in data_roots():
        if all((root / rel).exists() for rel in relpaths):
            return root
    return None


def locate(dataset, relpaths):
    """The first data root holding every path of `relpaths` (relative to the root).

    Raises DataError naming the dataset, the places looked in and where to put the files.
    Loaders that fetch a missing dataset call fetching.locate instead.
    """
    return locate_any(dataset, [relpaths])[0]


def locate_any(dataset, layouts):
    """(root, i) for the first of several alternative layouts found, in order of preference.

    Each layout is a list of relative paths that must all exist. Earlier layouts win over
    later ones whatever root they are in (e.g. canonical CIFAR-10 before a JPEG copy).
    """
    found = search(layouts)
    if found is None:
        raise DataError(missing(dataset, layouts))
    return found


def search(layouts):
    """(root, i) for the first layout found (see locate_any), or None."""
    for i, relpaths in enumerate(layouts):
        root = find(relpaths)
        if root is not None:
            return root, i
    return None


def fetch_advice(*names):
    """The advice every message about absent data ends with: the fetch command, and the alternative.

    names: as `deepnet data fetch` knows them (Brown is fetched within nltk_data).
    """
    return (f"fetch {'it' if len(names) == 1 else 'them'} with 'deepnet data fetch {' '.join(names)}', "
            f"or set DEEPNET_DATA to a folder that holds {'it' if len(names) == 1 else 'them'}")


def missing(dataset, layouts, note=""):
    """The message for a dataset not found: what is missing where, then fetch_advice(dataset).

    dataset: the name `deepnet data fetch` knows it by. A data root that holds part of a layout
    (a copy with one file missing) is named with the files it lacks; otherwise the message
    names every root looked in and the files wanted. note: said before the advice.
    """
    roots = data_roots()
    partial = []  # (how many files absent, root, the absent files) for partly present layouts
    for root in roots:
        for relpaths in layouts:
            absent = [rel for rel in relpaths if not (root / rel).exists()]
            if 0 < len(absent) < len(relpaths):
                partial.append((len(absent), str(root), absent))
    if partial:
        _, root, absent = min(partial)
        what = f"{root} lacks {', '.join(absent)}"
    else:
        looked = ", ".join(str(r) for r in roots)
        wanted = " or ".join(", ".join(rel for rel in relpaths) for relpaths in layouts)
        what = f"files not found (looked in {looked} for {wanted})"
    return f"{dataset}: {what}{note}; {fetch_advice(dataset)}"


def fingerprint(sources):
    """A short hash of the source files' paths, sizes and contents.

    Contents, not modification times: a data folder copied afresh (as a new session's shared folder is)
    keeps its caches, while a replaced or re-downloaded file with other bytes is noticed. The datasets
    here are tens of megabytes, read in well under a second.
    """
    h = hashlib.sha256()
    for src in sources:
        src = Path(src).resolve()
        h.update(json.dumps([str(src), src.stat().st_size]).encode())
        with open(src, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def cached(key, sources, build, version=1):
    """Decoded arrays for `key`, from `<cache>/decoded/` or from `build()` (then stored).

    key: a name such as "mnist"; sources: the files the arrays are decoded from;
    build(): returns a dict name -> numpy array; version: bump when the decoder changes.
    A missing, stale or corrupt cache file is (re)built silently; a cache folder that
    cannot be written only costs the speed-up (a warning, not an error).
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
        raise ValueError(f"cache key {key!r} must be a plain file name")
    tag = hashlib.sha256(f"{CACHE_FORMAT}/{version}/{fingerprint(sources)}".encode()).hexdigest()[:16]
    folder = cache_root() / "decoded"
    path = folder / f"{key}-{tag}.npz"

    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as f:
                # Read every array now: a truncated or damaged zip fails here (CRC check),
                # not later inside training.
                return {name: f[name] for name in f.files}
        except Exception:
            pass  # corrupt or unreadable: rebuild below and overwrite it

    arrays = build()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_npz_atomic(path, arrays)
    except OSError as e:
        warnings.warn(f"could not write the decoded-data cache {path}: {e}", stacklevel=2)
        return arrays
    # Older files of the same key (other source versions) are now dead weight.
    for old in folder.glob(f"{key}-*.npz"):
        if old != path and re.fullmatch(rf"{re.escape(key)}-[0-9a-f]{{16}}\.npz", old.name):
            try:
                old.unlink()
            except OSError:
                pass
    return arrays


def _write_npz_atomic(path, arrays):
    """Write arrays to `path` so that readers see either the old file or the complete new one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # uncompressed: loading is then a plain read
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
