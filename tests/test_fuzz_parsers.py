"""Hostile and broken input: every parser of downloaded bytes either returns a result or raises
the one-line DataError, whatever the bytes (property-based, bounded example counts).

Covered: idx (mnist.read_idx), CIFAR pickle batches (cifar10.read_batch), the CIFAR JPEG archive
(cifar10.read_jpeg_archive), images (photos.load_image), archives (archive.extract) and the
structural checks of downloads (fetching.check_structure, whose "text" check is the only text
parser in deepnet so far). Inputs: random bytes, and valid files truncated, bit-flipped,
spliced or with oversized headers. A longer coverage-guided run: benchmarks/fuzz_parsers.py.
"""

import gzip
import io
import pickle
import struct
import tarfile
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepnet.data import archive, cifar10, fetching, mnist, photos
from deepnet.errors import DataError

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPNET_DATA", raising=False)
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))


def survives(fn, *args):
    """Run fn; a DataError must be one non-empty line. Returns True when fn returned normally."""
    try:
        fn(*args)
    except DataError as e:
        msg = str(e)
        assert msg and "\n" not in msg and "\r" not in msg, repr(msg)
        return False
    return True


def mutated(seed):
    """Strategy: `seed` with 1-4 edits (overwrite, truncate, insert, delete), or random bytes."""
    edit = st.tuples(st.sampled_from(["overwrite", "truncate", "insert", "delete"]),
                     st.integers(0, max(len(seed) - 1, 0)), st.binary(min_size=1, max_size=8))

    def apply(edits):
        b = bytearray(seed)
        for op, i, blob in edits:
            i = min(i, len(b))
            if op == "overwrite":
                b[i: i + len(blob)] = blob
            elif op == "truncate":
                del b[i:]
            elif op == "insert":
                b[i:i] = blob
            else:
                del b[i: i + len(blob)]
        return bytes(b)

    return st.one_of(st.lists(edit, min_size=1, max_size=4).map(apply), st.binary(max_size=len(seed) + 64))


# ----------------------------------------------------------------------------------- idx


def idx(array):
    codes = {np.uint8: 8, np.int8: 9, np.int16: 11, np.int32: 12, np.float32: 13, np.float64: 14}
    head = bytes([0, 0, codes[array.dtype.type], array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


IDX = idx(np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28))


@FUZZ
@given(blob=mutated(IDX), gz=st.booleans())
def test_idx_mutated(tmp_path, blob, gz):
    path = tmp_path / ("m.gz" if gz else "m.idx")
    path.write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    survives(mnist.read_idx, path)


@FUZZ
@given(blob=mutated(gzip.compress(IDX, mtime=0)))
def test_idx_gzip_stream_mutated(tmp_path, blob):
    path = tmp_path / "m.gz"
    path.write_bytes(blob)
    survives(mnist.read_idx, path)


@FUZZ
@given(code=st.sampled_from([8, 9, 11, 12, 13, 14]), dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6),
       payload=st.binary(max_size=64), gz=st.booleans())
def test_idx_oversized_headers(tmp_path, code, dims, payload, gz):
    """Headers declaring up to 2^192 elements over a few bytes of payload: a DataError, no allocation."""
    blob = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload
    path = tmp_path / ("h.gz" if gz else "h.idx")
    path.write_bytes(gzip.compress(blob, mtime=0) if gz else blob)
    if survives(mnist.read_idx, path):
        assert int(np.prod(dims, dtype=object)) * np.dtype(mnist.IDX_DTYPES[code]).itemsize == len(payload)


def test_idx_gzip_bombs_stop_early(tmp_path):
    """A small header over 50 MB of zeros, and a header claiming more than the .gz can hold:
    both refused after inflating a few kilobytes, not the whole stream."""
    import tracemalloc

    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + bytes(10 + 50_000_000)))
    claim = tmp_path / "claim.gz"  # 10^8 bytes declared, 4*10^7 present: ratio says it must be cut
    claim.write_bytes(gzip.compress(bytes([0, 0, 8, 2]) + struct.pack(">II", 10_000, 10_000) + bytes(40_000_000)))
    for path, fragment in ((bomb, "trailing"), (claim, "truncated")):
        tracemalloc.start()
        with pytest.raises(DataError, match=fragment):
            mnist.read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 2 * path.stat().st_size + 2**20, (path.name, peak)


def test_idx_multi_member_gzip_still_reads(tmp_path):
    path = tmp_path / "two.gz"
    path.write_bytes(gzip.compress(IDX[:100]) + gzip.compress(IDX[100:]))
    np.testing.assert_array_equal(mnist.read_idx(path), np.frombuffer(IDX[16:], np.uint8).reshape(2, 28, 28))


# --------------------------------------------------------------------------- CIFAR batches


def batch(n=3, protocol=2):
    rng = np.random.default_rng(0)
    return pickle.dumps({"batch_label": "fuzz", "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         "labels": [i % 10 for i in range(n)], "filenames": [f"{i}.png" for i in range(n)]},
                        protocol=protocol)


@FUZZ
@given(blob=st.one_of(mutated(batch(2, 2)), mutated(batch(2, 4))))
def test_cifar_batch_mutated(tmp_path, blob):
    path = tmp_path / "data_batch_1"
    path.write_bytes(blob)
    if survives(cifar10.read_batch, path):
        x, y = cifar10.read_batch(path)
        assert x.dtype == np.uint8 and x.shape[1:] == (3, 32, 32) and len(x) == len(y)


plain = st.recursive(st.none() | st.booleans() | st.integers() | st.binary(max_size=20) | st.text(max_size=20),
                     lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
                     max_leaves=20)


@FUZZ
@given(obj=st.dictionaries(st.sampled_from(["data", "labels", "batch_label", b"data", "x"]), plain, max_size=4),
       protocol=st.integers(0, 5))
def test_cifar_batch_wrong_contents(tmp_path, obj, protocol):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    assert not survives(cifar10.read_batch, path)


def test_cifar_pickle_huge_length_fields(tmp_path):
    """Opcodes announcing 2^62-byte strings or lists over a few bytes: DataError, not MemoryError."""
    path = tmp_path / "data_batch_1"
    for blob in (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc",  # BINBYTES8
                 b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc",  # BINUNICODE8
                 b"\x80\x02B" + struct.pack("<I", 2**31 - 1) + b"abc",  # BINBYTES
                 b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"abc"):  # BYTEARRAY8
        path.write_bytes(blob)
        assert not survives(cifar10.read_batch, path)


# --------------------------------------------------------------------- CIFAR JPEG archive


def jpeg(seed):
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def jpeg_archive():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i, name in enumerate(["train/cat/0000.jpg", "test/dog/0000.jpg"]):
            blob = jpeg(i)
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


JPEG_ARCHIVE = jpeg_archive()


@settings(FUZZ, max_examples=80)
@given(blob=mutated(JPEG_ARCHIVE))
def test_cifar_jpeg_archive_mutated(tmp_path, blob):
    path = tmp_path / "cifar10_jpg.tar.gz"
    path.write_bytes(blob)
    survives(cifar10.read_jpeg_archive, path)


@settings(FUZZ, max_examples=60)
@given(blob=mutated(zlib.decompress(JPEG_ARCHIVE, 16 + zlib.MAX_WBITS)))
def test_cifar_jpeg_archive_tar_level_mutations(tmp_path, blob):
    """Edits inside the tar stream (headers, sizes, JPEG bytes), re-compressed so gzip is valid."""
    path = tmp_path / "cifar10_jpg.tar.gz"
    path.write_bytes(gzip.compress(blob, mtime=0))
    survives(cifar10.read_jpeg_archive, path)


# -------------------------------------------------------------------------------- images


def png():
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)).save(buf, "PNG")
    return buf.getvalue()


@settings(FUZZ, max_examples=80)
@given(blob=st.one_of(mutated(png()), mutated(jpeg(3))), suffix=st.sampled_from([".png", ".jpg", ".img"]))
def test_load_image_mutated(tmp_path, blob, suffix):
    path = tmp_path / f"photo{suffix}"
    path.write_bytes(blob)
    try:
        x = photos.load_image(path)
    except DataError as e:
        assert "\n" not in str(e) and path.name in str(e)
    else:
        assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[2] == 3


# ------------------------------------------------------------------ archives and checks


def tar_bytes():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, blob in (("d/a.txt", b"alpha" * 20), ("d/b.txt", b"beta")):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("d/a.txt", b"alpha" * 20)
        z.writestr("d/b.txt", b"beta")
    return buf.getvalue()


@settings(FUZZ, max_examples=150)
@given(blob=st.one_of(mutated(tar_bytes()), mutated(zip_bytes()), mutated(gzip.compress(tar_bytes(), mtime=0))))
def test_archive_extract_mutated(tmp_path, blob):
    src = tmp_path / "in.bin"
    src.write_bytes(blob)
    box = tmp_path / "box"
    box.mkdir(exist_ok=True)
    target = box / "out"
    survives(archive.extract, src, target)
    # whatever happened, nothing appeared outside the box, and no temporary folder was left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box", "in.bin"]
    assert [p.name for p in box.iterdir()] in ([], ["out"])
    if target.exists():
        for p in target.rglob("*"):
            assert target in p.resolve().parents or p.is_symlink()


@FUZZ
@given(blob=st.binary(max_size=300), kind=st.sampled_from(sorted(fetching.STRUCTURES)))
def test_structure_checks_never_raise(tmp_path, blob, kind):
    path = tmp_path / "f"
    path.write_bytes(blob)
    problem = fetching.check_structure(path, kind)
    assert problem is None or (isinstance(problem, str) and "\n" not in problem)


@settings(FUZZ, max_examples=60)
@given(blob=st.one_of(mutated(zip_bytes()), mutated(gzip.compress(b"text\n" * 30, mtime=0)), mutated(png())),
       kind=st.sampled_from(["zip", "gzip", "image", "tar"]))
def test_structure_checks_on_damaged_files(tmp_path, blob, kind):
    path = tmp_path / "f"
    path.write_bytes(blob)
    problem = fetching.check_structure(path, kind)
    assert problem is None or "\n" not in problem
