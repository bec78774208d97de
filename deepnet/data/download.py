"""The datasets `deepnet data fetch NAME` knows, by name.

Each dataset's sources and checksums are the constant DOWNLOAD of its own module, beside its
parser (mnist.DOWNLOAD, text.ptb.DOWNLOAD, ...); fetching.py is the machinery that fetches
one (mirror, checksums, resume, atomic placement). Loaders fetch through fetching.py directly,
so no dataset module imports this one.
"""

from deepnet.data import an4, babi, cifar10, fetching, fsdd, mnist, multi30k, photos, text
from deepnet.errors import ConfigError

# name -> the module (or text corpus) whose DOWNLOAD describes it, in the order names() lists
# them. A literal dict, not a registry (DESIGN.md convention 11). "nltk_data" is NLTK's bundle
# of corpora, of which the Brown corpus is the one read.
SOURCES = {"mnist": mnist, "cifar10": cifar10, "tinyshakespeare": text.tinyshakespeare, "nltk_data": text.brown,
           "ptb": text.ptb, "babi": babi, "multi30k": multi30k, "fsdd": fsdd, "an4": an4, "photos": photos}

# Datasets that live inside an installed package and are never fetched.
EMBEDDED = {"digits": "scikit-learn's load_digits() ships inside the scikit-learn wheel"}


def names():
    """Every name `fetch` accepts, in table order."""
    return list(SOURCES) + [n for n in EMBEDDED if n not in SOURCES]


def entry(name):
    """The DOWNLOAD spec of `name`; ConfigError listing the known names otherwise."""
    if name not in SOURCES:
        if name in EMBEDDED:
            raise ConfigError(f"{name}: nothing to fetch, {EMBEDDED[name]}")
        import difflib

        close = difflib.get_close_matches(name, names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ConfigError(f"unknown dataset {name!r} for fetch{hint}; known: {', '.join(names())}")
    return SOURCES[name].DOWNLOAD


def fetch(name, root=None, mirror=None, progress=True, timeout=fetching.TIMEOUT):
    """Put dataset `name` under `root` (default: fetching.target_root()) and return root; see fetching.fetch."""
    return fetching.fetch(name, entry(name), root=root, mirror=mirror, progress=progress, timeout=timeout)
