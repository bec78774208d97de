"""Datasets: one module per family, each with the same small interface.

Every module has the constants NAME, DESCRIPTION, LICENCE (as stated at source), SOURCE and
FILES (paths required under a data root, see store.py), `find_root()` and `verify(root=None)`;
the train/val/test datasets also have `load(seed=0, ...) -> Splits`. A dataset that can be
fetched has DOWNLOAD, its sources and checksums (the format: fetching.py; by name: download.py). PIL and scikit-learn are
imported inside functions, so `import deepnet.data` stays quick.
"""

from deepnet.data import an4, babi, cifar10, digits, mnist, multi30k, photos, text
from deepnet.data import scenes
from deepnet.data import fsdd
from deepnet.errors import ConfigError

# A literal dict, not a registry (DESIGN.md convention 11).
DATASETS = {"digits": digits, "mnist": mnist, "cifar10": cifar10, "photos": photos, "babi": babi,
            "multi30k": multi30k, "an4": an4,
            "fsdd": fsdd,
            "scenes": scenes,
            "tinyshakespeare": text.tinyshakespeare, "brown": text.brown, "ptb": text.ptb}

# Available without any data folder: inside the scikit-learn wheel.
EMBEDDED = {"digits", "photos"}

# Datasets whose parts depend on the run that trained on them (bAbI: its tasks and vocabulary):
# `deepnet eval` rebuilds them with the module's load_like(info) from the run's recorded data info.
RUN_DEPENDENT = {"babi"}


def get(name):
    """The dataset module called `name`; ConfigError listing the known names otherwise."""
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(f"unknown dataset {name!r}{did_you_mean(name, DATASETS)}; known: {', '.join(DATASETS)}") from None


def did_you_mean(name, known):
    """' (did you mean X?)' for the closest of `known` to a mistyped `name`, or ''."""
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def fetch_name(name):
    """The name `deepnet data fetch` knows dataset `name` by (Brown comes in NLTK's bundle, nltk_data)."""
    return getattr(get(name), "fetch_name", name)


def where(name):
    """The data root that `name` is read from, or "embedded", or "not found"."""
    root = get(name).find_root()
    if root is not None:
        return str(root)
    return "embedded" if name in EMBEDDED else "not found"


def available(name):
    """Whether `name` can be loaded now (its files found, or embedded)."""
    return where(name) != "not found"
