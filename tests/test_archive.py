"""Safe extraction (deepnet/data/archive.py): crafted hostile archives are refused whole, with a
one-line DataError naming the archive and the member, and nothing is written; good ones land
atomically in place."""

import io
import os
import stat
import tarfile
import zipfile

import pytest

from deepnet.data import archive
from deepnet.errors import DataError


def add(tar, name, blob=b"", **kw):
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    for k, v in kw.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(blob) if blob else None)


def make_tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for name, blob, kw in members:
            add(tar, name, blob, **kw)
    return path


GOOD = [
    ("pkg/", b"", {"type": tarfile.DIRTYPE}),
    ("pkg/README", b"hello\n", {}),
    ("pkg/data/a.txt", b"a" * 100, {}),
    ("pkg/data/b.txt", b"b" * 10, {}),
]


def leftovers(folder):
    """Temporary folders the extractor may have left beside the target."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def refused(path, target, fragment, **kw):
    with pytest.raises(DataError) as e:
        archive.extract(path, target, **kw)
    msg = str(e.value)
    assert "\n" not in msg and path.name in msg and fragment in msg, msg
    assert not target.exists()
    assert leftovers(target.parent) == []
    return msg


def test_good_tar_extracts_with_member_root(tmp_path):
    path = make_tar(tmp_path / "good.tar.gz", GOOD + [("other/skipped.txt", b"x", {})])
    target = tmp_path / "out" / "pkg"
    assert archive.extract(path, target, member_root="pkg") == target
    assert (target / "README").read_bytes() == b"hello\n"
    assert (target / "data" / "a.txt").read_bytes() == b"a" * 100
    assert not (target / "other").exists() and not (target / "pkg").exists()
    assert leftovers(target.parent) == []
    assert stat.S_IMODE((target / "README").stat().st_mode) == 0o644


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_good_tar_every_compression(tmp_path, mode):
    path = make_tar(tmp_path / "good.tar", GOOD, mode=mode)
    archive.extract(path, tmp_path / "t")
    assert (tmp_path / "t" / "pkg" / "data" / "b.txt").read_bytes() == b"b" * 10


def test_good_zip_extracts(tmp_path):
    path = tmp_path / "good.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("corpus/", b"")
        z.writestr("corpus/one.txt", b"1\n" * 50)
        z.writestr("corpus/sub/two.txt", b"2\n")
    archive.extract(path, tmp_path / "c", member_root="corpus")
    assert (tmp_path / "c" / "one.txt").read_bytes() == b"1\n" * 50
    assert (tmp_path / "c" / "sub" / "two.txt").read_bytes() == b"2\n"


def test_symlink_inside_is_kept(tmp_path):
    path = make_tar(tmp_path / "links.tar", GOOD + [
        ("pkg/latest", b"", {"type": tarfile.SYMTYPE, "linkname": "data/a.txt"}),
        ("pkg/copy.txt", b"", {"type": tarfile.LNKTYPE, "linkname": "pkg/data/b.txt"}),
    ], mode="w")
    target = tmp_path / "t"
    archive.extract(path, target, member_root="pkg")
    assert (target / "latest").is_symlink() and (target / "latest").read_bytes() == b"a" * 100
    assert (target / "copy.txt").read_bytes() == b"b" * 10 and not (target / "copy.txt").is_symlink()


@pytest.mark.parametrize("name, kw, fragment", [
    ("../evil.txt", {}, "escapes"),
    ("pkg/../../evil.txt", {}, "escapes"),
    ("/tmp/deepnet-evil.txt", {}, "escapes"),
    ("C:\\evil.txt", {}, "escapes"),
    ("..\\evil.txt", {}, "escapes"),
    ("pkg/link", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"}, "symlink pointing outside"),
    ("pkg/link", {"type": tarfile.SYMTYPE, "linkname": "../../outside"}, "symlink pointing outside"),
    ("pkg/hard", {"type": tarfile.LNKTYPE, "linkname": "../../etc/passwd"}, "hard link pointing outside"),
    ("pkg/hard", {"type": tarfile.LNKTYPE, "linkname": "/etc/passwd"}, "hard link pointing outside"),
    ("pkg/tty", {"type": tarfile.CHRTYPE, "devmajor": 5, "devminor": 0}, "device files"),
    ("pkg/disk", {"type": tarfile.BLKTYPE, "devmajor": 8, "devminor": 0}, "device files"),
    ("pkg/pipe", {"type": tarfile.FIFOTYPE}, "fifos"),
])
def test_hostile_tar_members_refused(tmp_path, name, kw, fragment):
    path = make_tar(tmp_path / "bad.tar.gz", GOOD + [(name, b"x" if not kw else b"", kw)])
    msg = refused(path, tmp_path / "out" / "t", fragment)
    assert repr(name) in msg
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()
    assert not os.path.exists("/tmp/deepnet-evil.txt")


def test_member_written_through_an_earlier_symlink_refused(tmp_path):
    """A link to a folder inside, then a member under it: written after links, so it cannot escape."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = make_tar(tmp_path / "bad.tar", [
        ("pkg/", b"", {"type": tarfile.DIRTYPE}),
        ("pkg/sub", b"", {"type": tarfile.SYMTYPE, "linkname": "../../outside"}),
    ], mode="w")
    refused(path, tmp_path / "out" / "t", "symlink pointing outside")
    assert list(outside.iterdir()) == []


def test_zip_hostile_members_refused(tmp_path):
    for name, fragment in (("../evil.txt", "escapes"), ("/abs/evil.txt", "escapes")):
        path = tmp_path / "bad.zip"
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("ok.txt", b"fine")
            z.writestr(zipfile.ZipInfo(name), b"evil")
        refused(path, tmp_path / "z", fragment)
    link = zipfile.ZipInfo("link")
    link.create_system = 3  # Unix: the mode in external_attr is honoured by unzip
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(link, b"/etc/passwd")
    refused(path, tmp_path / "z", "symlink")


def test_total_size_limit(tmp_path):
    path = make_tar(tmp_path / "big.tar", GOOD + [("pkg/big.bin", b"\0" * 5000, {})], mode="w")
    msg = refused(path, tmp_path / "t", "over the limit of 4000", max_total=4000)
    assert "pkg/big.bin" in msg


def test_zip_bomb_ratio(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "RATIO_FLOOR", 0)  # real floor is 64 MB; keep the test small
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.bin", b"\0" * 2_000_000)  # about 2 kB packed: ratio near 1000
    refused(path, tmp_path / "z", "decompression bomb")
    gz = make_tar(tmp_path / "bomb.tar.gz", [("zeros.bin", b"\0" * 2_000_000, {})])
    refused(gz, tmp_path / "t", "decompression bomb")


def test_member_larger_than_its_header_refused(tmp_path):
    """A zip whose central directory understates a member's size is caught while copying."""
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("f.bin", b"0123456789")
    data = bytearray(path.read_bytes())
    # patch the uncompressed size (10) in the local header and the central directory to 4
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = data.find(sig)
        data[i + off: i + off + 4] = (4).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as e:
        archive.extract(path, tmp_path / "z")
    assert "liar.zip" in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "z").exists()


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_or_garbage_archive(tmp_path, cut):
    path = make_tar(tmp_path / "t.tar.gz", GOOD + [("pkg/r.bin", os.urandom(20000), {})])
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * cut)])
    msg = refused(path, tmp_path / "t", "corrupt or truncated")
    assert "fetch it again" in msg
    path.write_bytes(b"not an archive at all" * 10)
    refused(path, tmp_path / "t", "t.tar.gz")
    zpath = tmp_path / "z.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        z.writestr("a.txt", os.urandom(5000))
    zpath.write_bytes(zpath.read_bytes()[:3000])
    refused(zpath, tmp_path / "z", "z.zip")


def test_check_refuses_and_old_target_survives(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    (target / "old.txt").write_text("previous")
    path = make_tar(tmp_path / "good.tar.gz", GOOD)

    def check(folder):
        assert (folder / "pkg" / "README").is_file()  # sees the unpacked tree before it is placed
        raise DataError("contents differ")

    with pytest.raises(DataError, match="contents differ"):
        archive.extract(path, target, check=check)
    assert (target / "old.txt").read_text() == "previous"  # untouched
    assert leftovers(tmp_path) == []
    archive.extract(path, target)  # a good one replaces the old tree whole
    assert not (target / "old.txt").exists() and (target / "pkg" / "README").is_file()
    assert leftovers(tmp_path) == []


def test_bad_member_root_is_a_programming_error(tmp_path):
    path = make_tar(tmp_path / "good.tar", GOOD, mode="w")
    with pytest.raises(ValueError):
        archive.extract(path, tmp_path / "t", member_root="../x")
