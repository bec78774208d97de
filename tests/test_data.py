"""Behaviour of the dataset layer: file parsing, corruption handling, splits, cache, locating.

Tests that need the real data resolve it as $DEEPNET_DATA, else <repo>/../shared/data, and
are skipped when neither exists. Every test runs with its own empty cache folder.
"""

import gzip
import io
import os
import pickle
import shutil
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deepnet.data as data
from deepnet.data import cifar10, digits, mnist, photos, store
from deepnet.data.common import carve_validation
from deepnet.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
FIXTURE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No data folder and an empty cache, unless a test asks for the shared data."""
    monkeypatch.delenv("DEEPNET_DATA", raising=False)
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------------------- idx files

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    """An idx file's bytes, written independently of the reader under test."""
    code = IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int8, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((5, 4, 3)) * 100).astype(dtype)
    if dtype == np.int32:
        a = rng.integers(-(2**31), 2**31 - 1, size=(7, 2), dtype=np.int32)
    raw = idx_bytes(a)
    path = tmp_path / ("a.idx.gz" if gz else "a.idx")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    b = mnist.read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.dtype.isnative
    assert b.shape == a.shape
    np.testing.assert_array_equal(a, b)
    b[0] = 0  # writable, not a view of a read-only buffer


def expect_data_error(path, fragment=None):
    with pytest.raises(DataError) as e:
        mnist.read_idx(path)
    assert path.name in str(e.value)
    if fragment:
        assert fragment in str(e.value)
    return str(e.value)


VALID = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))


@FIXTURE_SETTINGS
@given(cut=st.integers(min_value=0, max_value=len(VALID) - 1), gz=st.booleans())
def test_idx_truncated(tmp_path, cut, gz):
    path = tmp_path / ("t.gz" if gz else "t.idx")
    blob = gzip.compress(VALID) if gz else VALID
    path.write_bytes(blob[: cut * len(blob) // len(VALID)])
    expect_data_error(path)


@FIXTURE_SETTINGS
@given(extra=st.binary(min_size=1, max_size=50))
def test_idx_trailing_bytes(tmp_path, extra):
    path = tmp_path / "trail.idx"
    path.write_bytes(VALID + extra)
    expect_data_error(path, "trailing")


@pytest.mark.parametrize("magic", [b"\x01\x00\x08\x03", b"\x00\x01\x08\x03", b"\x00\x00\x07\x03",
                                   b"\x00\x00\x0a\x03", b"\x00\x00\x08\x00"])
def test_idx_wrong_magic(tmp_path, magic):
    path = tmp_path / "magic.idx"
    path.write_bytes(magic + VALID[4:])
    expect_data_error(path, "magic")


def test_idx_header_larger_than_file(tmp_path):
    path = tmp_path / "short.idx"
    path.write_bytes(b"\x00\x00\x08\x04" + b"\x00\x00\x00\x02")  # 4 dims declared, 1 present
    expect_data_error(path, "dimensions")


def test_idx_not_gzip_despite_name(tmp_path):
    path = tmp_path / "x-ubyte.gz"
    path.write_bytes(VALID)
    expect_data_error(path, "gzip")


@FIXTURE_SETTINGS
@given(blob=st.binary(max_size=200), gz=st.booleans())
def test_idx_random_bytes(tmp_path, blob, gz):
    """Arbitrary bytes either parse to an array matching the file size or give a DataError."""
    path = tmp_path / ("r.gz" if gz else "r.idx")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    try:
        a = mnist.read_idx(path)
    except DataError as e:
        assert path.name in str(e)
    else:
        assert len(blob) == 4 + 4 * a.ndim + a.nbytes


def test_read_idx_missing_file(tmp_path):
    expect_data_error(tmp_path / "nope.idx", "not found")


# ------------------------------------------------------------------------------- splits


def test_carve_validation_disjoint_and_stratified():
    y = torch.tensor([0] * 500 + [1] * 300 + [2] * 200)
    train, val = carve_validation(len(y), 100, seed=3, labels=y)
    assert len(train) + len(val) == len(y)
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(len(y)))
    assert torch.bincount(y[val]).tolist() == [50, 30, 20]  # exactly the class shares
    again, _ = carve_validation(len(y), 100, seed=3, labels=y)
    other, _ = carve_validation(len(y), 100, seed=4, labels=y)
    assert torch.equal(train, again) and not torch.equal(train, other)


def test_digits_splits():
    x, y = digits.arrays()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.uint8 and x.max() == 255 and x.min() == 0
    train, val, test = digits.split_indices(torch.from_numpy(y), seed=0)
    parts = [set(i.tolist()) for i in (train, val, test)]
    assert sum(map(len, parts)) == 1797 and set.union(*parts) == set(range(1797))
    assert parts[0].isdisjoint(parts[1]) and parts[0].isdisjoint(parts[2]) and parts[1].isdisjoint(parts[2])
    for idx in (val, test):  # each class keeps its 20% share, to within one image
        share = np.bincount(y[idx.numpy()], minlength=10) / np.bincount(y, minlength=10)
        assert np.all(np.abs(share - 0.2) < 0.02)
    # the test part is fixed whatever the seed
    assert torch.equal(digits.split_indices(torch.from_numpy(y), seed=5)[2], test)

    s = digits.load(seed=1)
    assert (len(s.train), len(s.val), len(s.test)) == (1079, 359, 359)
    assert s.train.x.dtype == torch.uint8 and s.train.y.dtype == torch.int64
    assert s.train.x.shape[1:] == (1, 8, 8) and s.input_shape == (1, 8, 8)
    assert s.classes == [str(d) for d in range(10)]
    assert digits.verify()


# ------------------------------------------------------------------------ locating, cache


def test_deepnet_data_missing_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path / "absent"))
    with pytest.raises(DataError, match="DEEPNET_DATA=.*absent is not a folder"):
        store.data_roots()
    with pytest.raises(DataError):
        mnist.load()


def test_not_found_message_says_where(tmp_path):
    with pytest.raises(DataError) as e:
        mnist.load()
    msg = str(e.value)
    assert "mnist" in msg and "DEEPNET_DATA" in msg and str(tmp_path / "cache") in msg
    assert "mnist/train-images-idx3-ubyte.gz" in msg
    assert data.where("mnist") == "not found" and not data.available("mnist")


def test_locate_prefers_deepnet_data_then_cache(monkeypatch, tmp_path):
    (tmp_path / "cache" / "ds").mkdir(parents=True)
    (tmp_path / "cache" / "ds" / "f").write_text("c")
    assert store.locate("ds", ["ds/f"]) == tmp_path / "cache"
    (tmp_path / "mine" / "ds").mkdir(parents=True)
    (tmp_path / "mine" / "ds" / "f").write_text("m")
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path / "mine"))
    assert store.locate("ds", ["ds/f"]) == (tmp_path / "mine").resolve()


def test_cache_reuses_and_rebuilds(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc")
    calls = []

    def build():
        calls.append(1)
        return {"x": np.arange(12, dtype=np.uint8).reshape(3, 4), "y": np.array([1, 2, 3])}

    first = store.cached("thing", [src], build)
    second = store.cached("thing", [src], build)
    assert len(calls) == 1
    for k in first:
        np.testing.assert_array_equal(first[k], second[k])
        assert first[k].dtype == second[k].dtype

    (cache_file,) = (tmp_path / "cache" / "decoded").glob("thing-*.npz")
    cache_file.write_bytes(cache_file.read_bytes()[:50])  # truncate: a corrupt cache file
    third = store.cached("thing", [src], build)
    assert len(calls) == 2
    np.testing.assert_array_equal(third["x"], first["x"])
    store.cached("thing", [src], build)
    assert len(calls) == 2  # the rebuilt file is good again

    os.utime(src, ns=(1, 1))  # the same bytes copied afresh (a new modification time): still cached
    store.cached("thing", [src], build)
    assert len(calls) == 2
    src.write_bytes(src.read_bytes()[::-1])  # a replaced source file: decode again, drop the stale entry
    store.cached("thing", [src], build)
    assert len(calls) == 3
    assert len(list((tmp_path / "cache" / "decoded").glob("thing-*.npz"))) == 1
    assert not list((tmp_path / "cache" / "decoded").glob(".*tmp"))  # no temp files left


def test_cache_unwritable_still_loads(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("DEEPNET_CACHE", str(blocker))  # a file where the cache folder should be
    with pytest.warns(UserWarning, match="could not write"):
        arrays = store.cached("thing", [blocker], lambda: {"x": np.ones(3)})
    assert arrays["x"].sum() == 3


# -------------------------------------------------------------------------------- mnist


def test_mnist_load_and_verify(data_dir, tmp_path):
    s = mnist.load(seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (55000, 5000, 10000)
    assert s.train.x.shape == (55000, 1, 28, 28) and s.train.x.dtype == torch.uint8
    assert s.test.x.shape == (10000, 1, 28, 28) and s.test.y.dtype == torch.int64
    for part in (s.train, s.val, s.test):
        assert part.y.min() == 0 and part.y.max() == 9
    assert s.classes == [str(d) for d in range(10)]
    # stratified: each digit's share of val within 0.5 points of its share of train
    share = lambda y: torch.bincount(y, minlength=10).double() / len(y)  # noqa: E731
    assert (share(s.val.y) - share(s.train.y)).abs().max() < 0.005

    again = mnist.load(seed=0)  # from the decoded-array cache
    assert torch.equal(again.train.x, s.train.x) and torch.equal(again.val.y, s.val.y)
    assert list((tmp_path / "cache" / "decoded").glob("mnist-*.npz"))
    assert not torch.equal(mnist.load(seed=1).val.y, s.val.y)

    lines = mnist.verify()
    assert any("sha256" in line for line in lines) and any("60000" in line for line in lines)
    assert data.where("mnist") == str(data_dir) and data.available("mnist")


def copy_mnist(shared, root):
    """A writable copy of the mnist folder (the shared one is read-only)."""
    (root / "mnist").mkdir(parents=True)
    for rel in mnist.FILES:
        shutil.copyfile(shared / rel, root / rel)


def test_mnist_verify_truncated_copy(data_dir, tmp_path):
    root = tmp_path / "copy"
    copy_mnist(data_dir, root)
    bad = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    blob = bad.read_bytes()
    bad.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz"):
        mnist.verify(root)


def test_mnist_verify_detects_other_data(data_dir, tmp_path):
    """A well-formed file with different contents passes parsing but not the checksum."""
    root = tmp_path / "copy"
    copy_mnist(data_dir, root)
    path = root / "mnist" / "t10k-labels-idx1-ubyte.gz"
    labels = mnist.read_idx(path)
    path.write_bytes(gzip.compress(idx_bytes(labels[::-1].copy())))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz.*SHA-256"):
        mnist.verify(root)


# ------------------------------------------------------------------------------ cifar10


def jpeg_bytes(pixels):
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(pixels).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def add_member(tar, name, blob=b"", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    for k, v in kw.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(blob) if blob else None)


def smooth_image(seed):
    """A 32x32 RGB image smooth enough that JPEG keeps it within a few levels."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    ramp = np.linspace(0, 40, 32)
    img = base[None, None, :] + ramp[:, None, None] + ramp[None, :, None] * 0.5
    return img.astype(np.uint8)  # (32, 32, 3)


def make_jpeg_archive(path, classes=("cat", "airplane"), n_train=3, n_test=2, extra=()):
    """A small archive in the layout of cifar10_jpg.tar.gz; returns {(split, class, i): pixels}."""
    truth = {}
    with tarfile.open(path, "w:gz") as tar:
        for split, n in (("train", n_train), ("test", n_test)):
            add_member(tar, f"{split}/", type=tarfile.DIRTYPE)
            for c in classes:
                add_member(tar, f"{split}/{c}/", type=tarfile.DIRTYPE)
                for i in reversed(range(n)):  # archive order must not matter
                    pixels = smooth_image(len(truth))
                    truth[split, c, i] = pixels
                    add_member(tar, f"{split}/{c}/{i:04d}.jpg", jpeg_bytes(pixels))
        for name, blob, kw in extra:
            add_member(tar, name, blob, **kw)
    return truth


def test_jpeg_archive_reader(tmp_path):
    path = tmp_path / "small.tar.gz"
    truth = make_jpeg_archive(path)
    a = cifar10.read_jpeg_archive(path)
    assert a["train_x"].shape == (6, 3, 32, 32) and a["train_x"].dtype == np.uint8
    assert a["test_x"].shape == (4, 3, 32, 32)
    # canonical label order: airplane (0) before cat (3); within a class by file number
    assert a["train_y"].tolist() == [0, 0, 0, 3, 3, 3] and a["train_y"].dtype == np.int64
    expected = np.stack([truth["train", c, i] for c in ("airplane", "cat") for i in range(3)])
    got = a["train_x"].transpose(0, 2, 3, 1).astype(int)  # back to (N, 32, 32, 3)
    assert np.abs(got - expected).mean() < 3  # JPEG is lossy, but only slightly here


@pytest.mark.parametrize(
    "name, blob, kw, fragment",
    [
        ("../evil.jpg", b"x", {}, "escapes"),
        ("/abs/evil.jpg", b"x", {}, "escapes"),
        ("train/cat/../../../evil.jpg", b"x", {}, "escapes"),
        ("train/cat/link.jpg", b"", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "links"),
        ("train/cat/hard.jpg", b"", {"type": tarfile.LNKTYPE, "linkname": "train/cat/0000.jpg"}, "links"),
        ("train/cat/fifo.jpg", b"", {"type": tarfile.FIFOTYPE}, "links"),
        ("train/cat/9999.jpg", b"not a jpeg at all", {}, "train/cat/9999.jpg"),
        ("train/unicorn/0000.jpg", b"x", {}, "unexpected"),
    ],
)
def test_jpeg_archive_refuses_bad_members(tmp_path, name, blob, kw, fragment):
    path = tmp_path / "bad.tar.gz"
    make_jpeg_archive(path, extra=[(name, blob, kw)])
    with pytest.raises(DataError) as e:
        cifar10.read_jpeg_archive(path)
    assert "bad.tar.gz" in str(e.value) and fragment in str(e.value)
    assert not (tmp_path / "evil.jpg").exists()


def test_jpeg_archive_truncated_or_not_gzip(tmp_path):
    path = tmp_path / "small.tar.gz"
    make_jpeg_archive(path)
    blob = path.read_bytes()
    for cut in (len(blob) // 2, 10):
        path.write_bytes(blob[:cut])
        with pytest.raises(DataError, match="small.tar.gz"):
            cifar10.read_jpeg_archive(path)
    path.write_bytes(b"hello" * 100)
    with pytest.raises(DataError, match="small.tar.gz"):
        cifar10.read_jpeg_archive(path)


def write_batch(path, x, y, protocol=2, old_numpy_names=False):
    """A batch file like the canonical ones (which Python 2 numpy wrote as numpy.core...)."""
    blob = pickle.dumps({"batch_label": "fake", "data": x.reshape(len(x), -1), "labels": list(map(int, y)),
                         "filenames": [f"{i}.png" for i in range(len(y))]}, protocol=protocol)
    if old_numpy_names:
        blob = blob.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(blob)


def make_canonical(root, n=20, seed=0):
    folder = root / cifar10.CANONICAL_DIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    truth = {}
    for i, name in enumerate(cifar10.TRAIN_BATCHES + ["test_batch"]):
        x = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        y = np.arange(n) % 10
        # protocol 2 as the canonical files, some with Python 2 era numpy names; 3 and 4 as re-saves
        protocol = (2, 2, 3, 4, 2, 2)[i]
        write_batch(folder / name, x, y, protocol=protocol, old_numpy_names=(protocol == 2 and i % 2 == 0))
        truth[name] = (x, y)
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": cifar10.CLASSES, "num_vis": 3072}, protocol=2))
    return truth


def test_canonical_reader(tmp_path):
    truth = make_canonical(tmp_path)
    a = cifar10.read_canonical(tmp_path / cifar10.CANONICAL_DIR)
    assert a["train_x"].shape == (100, 3, 32, 32) and a["train_x"].dtype == np.uint8
    np.testing.assert_array_equal(a["train_x"][:20], truth["data_batch_1"][0])
    np.testing.assert_array_equal(a["test_x"], truth["test_batch"][0])
    assert a["train_y"].dtype == np.int64 and a["train_y"][:10].tolist() == list(range(10))


def py2_batch(raw, n, labels):
    """Pickle bytes as Python 2's cPickle wrote the canonical batches (protocol 2, py2 str as
    BINSTRING, numpy.core names), written opcode by opcode since Python 3 cannot produce them."""

    def string(b):  # SHORT_BINSTRING or BINSTRING
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + len(b).to_bytes(4, "little") + b

    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + string(b"b") + b"\x87R"
        + b"(K\x01K" + bytes([n]) + b"M\x00\x0c\x86"  # state: version 1, shape (n, 3072)
        + b"cnumpy\ndtype\n" + string(b"u1") + b"K\x00K\x01\x87R"
        + b"(K\x03" + string(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"  # dtype state
        + b"\x89" + string(raw) + b"tb"  # not Fortran order, raw pixels
    )
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + string(b"data") + array + string(b"labels") + label_list + b"u."


def test_canonical_reader_python2_pickle(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, size=(2, 3, 32, 32), dtype=np.uint8)
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_batch(pixels.tobytes(), 2, [3, 7]))
    x, y = cifar10.read_batch(path)
    np.testing.assert_array_equal(x, pixels)
    assert y.tolist() == [3, 7] and y.dtype == np.int64


def test_canonical_reader_refuses_code_in_pickles(tmp_path):
    make_canonical(tmp_path)
    target = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {target}",))

    bad = tmp_path / cifar10.CANONICAL_DIR / "data_batch_3"
    bad.write_bytes(pickle.dumps({"data": Evil(), "labels": []}, protocol=2))
    with pytest.raises(DataError, match="data_batch_3.*refusing"):
        cifar10.read_canonical(tmp_path / cifar10.CANONICAL_DIR)
    assert not target.exists()
    bad.write_bytes(b"\x80\x02}q\x00")  # a pickle cut short
    with pytest.raises(DataError, match="data_batch_3"):
        cifar10.read_canonical(tmp_path / cifar10.CANONICAL_DIR)


def test_cifar10_prefers_canonical_layout(monkeypatch, tmp_path):
    root = tmp_path / "data"
    make_canonical(root)
    make_jpeg_archive(root / cifar10.JPEG_ARCHIVE)
    monkeypatch.setenv("DEEPNET_DATA", str(root))
    s = cifar10.load(n_val=10)
    assert "canonical" in s.notes
    assert (len(s.train), len(s.val), len(s.test)) == (90, 10, 20)
    assert s.train.x.shape[1:] == (3, 32, 32) and s.classes == cifar10.CLASSES
    (root / cifar10.CANONICAL_DIR / "test_batch").unlink()
    assert "JPEG" in cifar10.load(n_val=2).notes


def test_cifar10_shared_copy(data_dir):
    """The full shared copy: decode all 60,000 JPEGs once (about 10 s on 2 cores), then verify."""
    s = cifar10.load(seed=0)
    assert (len(s.train), len(s.val), len(s.test)) == (45000, 5000, 10000)
    assert s.train.x.shape == (45000, 3, 32, 32) and s.train.x.dtype == torch.uint8
    assert s.test.y.dtype == torch.int64 and torch.bincount(s.test.y).tolist() == [1000] * 10
    assert torch.bincount(s.val.y).tolist() == [500] * 10
    assert s.classes[0] == "airplane" and s.classes[9] == "truck"
    lines = cifar10.verify()  # from the cache decoded above, plus the archive's SHA-256
    assert any("sha256" in line for line in lines)
    assert any("10 classes x 5000" in line for line in lines)


# ------------------------------------------------------------------------------- photos


def test_load_image_real_photo(data_dir):
    x = photos.load_image(data_dir / "photos" / "chelsea.png")
    assert x.dtype == np.uint8 and x.ndim == 3 and x.shape[2] == 3 and x.shape[:2] == (300, 451)
    grey = photos.load_image(data_dir / "photos" / "camera.png")  # an 'L' mode PNG
    assert grey.shape == (512, 512, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    assert set(photos.list_photos()) >= {"astronaut", "chelsea", "hubble_deep_field", "china"}
    assert len(photos.verify()) == 8


def test_load_image_errors_and_modes(tmp_path):
    from PIL import Image

    text = tmp_path / "notes.txt"
    text.write_text("not an image\n")
    with pytest.raises(DataError, match="notes.txt"):
        photos.load_image(text)
    with pytest.raises(DataError, match="missing.png"):
        photos.load_image(tmp_path / "missing.png")
    deep = tmp_path / "deep.png"
    Image.fromarray(np.full((4, 5), 65535, dtype=np.uint16)).save(deep)  # 16-bit grey
    x = photos.load_image(deep)
    assert x.shape == (4, 5, 3) and x.dtype == np.uint8 and x.max() == 255
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.zeros((6, 7, 4), dtype=np.uint8)).save(rgba)
    assert photos.load_image(rgba).shape == (6, 7, 3)


def test_photos_without_data_folder():
    found = photos.list_photos()  # scikit-learn's embedded samples
    assert set(found) == {"china", "flower"}
    assert photos.load_image(found["china"]).shape == (427, 640, 3)
    assert data.where("photos") == "embedded" and data.available("photos")


# ------------------------------------------------------------------------- the registry


def test_dataset_table():
    assert {"digits", "mnist", "cifar10", "photos"} <= set(data.DATASETS)
    for name, mod in data.DATASETS.items():
        assert mod.NAME == name and data.get(name) is mod
        assert mod.DESCRIPTION and mod.LICENCE and mod.SOURCE and "\n" not in mod.DESCRIPTION
        assert isinstance(mod.FILES, tuple)
    assert digits.FILES == () and data.where("digits") == "embedded"
    with pytest.raises(ConfigError, match="unknown dataset 'imagenet'; known: digits, mnist, cifar10, photos"):
        data.get("imagenet")


def data_imports():
    """deepnet.data module -> the deepnet.data modules it imports, at the top or inside functions."""
    import ast

    folder = REPO / "deepnet" / "data"
    names = {p.stem for p in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "deepnet.data":
                edges |= {a.name for a in node.names if a.name in names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("deepnet.data."):
                edges.add(node.module.split(".")[2])
            elif isinstance(node, ast.Import):
                edges |= {a.name.split(".")[2] for a in node.names if a.name.startswith("deepnet.data.")}
        graph[path.stem] = edges - {path.stem}
    return graph


def test_every_fetchable_module_has_its_download_and_store_knows_no_fetching():
    """Imports only go downward (test_layers finds cycles): store knows no fetching, no dataset imports download.py."""
    from deepnet.data import download

    graph = data_imports()
    assert "fetching" not in graph["store"] and "download" not in graph["store"]
    assert not [m for m, edges in graph.items() if "download" in edges]
    for name, source in download.SOURCES.items():
        assert source.DOWNLOAD["options"], name  # sources and checksums live in the dataset's own module
