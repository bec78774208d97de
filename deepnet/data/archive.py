"""Safe extraction of downloaded tar and zip archives.

An archive from the network is untrusted input. `extract` first reads every member's header
and refuses the whole archive, before writing anything, when a member would land outside the
target folder (`../`, absolute paths, drive letters), is a link pointing outside, is a device
file or fifo, or when the total size is absurd (over `max_total` bytes, or more than
`max_ratio` times the archive's own size: a decompression bomb). The members are then written
into a temporary folder beside the target, `check` (if given) looks at the result, and only
then is the folder renamed into place, so a reader sees either nothing or the complete tree.

Every refusal is a DataError of one line naming the archive and the member.
"""

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from deepnet.errors import DataError

MAX_TOTAL = 20 * 10**9  # bytes unpacked; the largest archive we fetch (CIFAR-10) holds 185 MB
MAX_RATIO = 200  # unpacked / packed; real data compresses far less (text about 3-10x)
RATIO_FLOOR = 64 * 2**20  # below this many unpacked bytes the ratio is not checked
MAX_MEMBERS = 1_000_000

_CORRUPT = "corrupt or truncated archive"


def extract(archive, target, member_root=None, check=None, max_total=MAX_TOTAL, max_ratio=MAX_RATIO):
    """Unpack `archive` (tar, tar.gz/bz2/xz or zip, recognised by content) into the folder `target`.

    member_root: only members under this folder of the archive are unpacked, with that prefix
    removed (e.g. "cifar-10-batches-py" puts cifar-10-batches-py/data_batch_1 at
    target/data_batch_1). check(folder): called on the unpacked temporary folder before it is
    renamed into place; it raises DataError to refuse the contents. An existing `target` is
    replaced only once the new tree is complete. Returns target.
    """
    archive, target = Path(archive), Path(target)
    root = _clean_root(member_root)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.extract-"))
    try:
        if _is_zip(archive):
            _extract_zip(archive, tmp, root, max_total, max_ratio)
        else:
            _extract_tar(archive, tmp, root, max_total, max_ratio)
        if check is not None:
            check(tmp)
        place_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def place_dir(tmp, target):
    """Rename the complete folder `tmp` to `target`, replacing what was there (old tree removed last)."""
    tmp, target = Path(tmp), Path(target)
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-")) / "tree"
        os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)  # put the previous tree back
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)


# ------------------------------------------------------------------------------ checks


def _is_zip(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    return head in (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty zip


def _clean_root(member_root):
    if member_root is None:
        return None
    parts = _parts(member_root)
    if parts is None or not parts:
        raise ValueError(f"member_root {member_root!r} must be a relative folder inside the archive")
    return parts


def _parts(name):
    """The path components of a member name, or None when the name could escape the target."""
    if not name or "\x00" in name:
        return None
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):  # /abs, C:\abs, C:rel
        return None
    parts = [p for p in PurePosixPath(unified).parts if p != "."]
    if ".." in parts:
        return None
    return parts


def _refuse(archive, name, why):
    return DataError(f"{archive}: refusing member {name!r}: {why}; the archive was not unpacked")


def _relative(archive, name, root):
    """Path components under `root` for a member, None when outside root; refuses escaping names."""
    parts = _parts(name)
    if parts is None:
        raise _refuse(archive, name, "its path escapes the target folder")
    if root is None:
        return parts
    if parts[: len(root)] != root:
        return None
    return parts[len(root):]


def _link_inside(link_parts, target_name):
    """Whether a symlink at link_parts pointing to target_name stays inside the extraction folder."""
    unified = target_name.replace("\\", "/")
    if not unified or unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        return False
    depth = len(link_parts) - 1  # folders above the link, inside the target
    for p in PurePosixPath(unified).parts:
        if p == "..":
            depth -= 1
            if depth < 0:
                return False
        elif p != ".":
            depth += 1
    return True


def _check_totals(archive, total, packed, max_total, max_ratio, biggest):
    if total > max_total:
        raise _refuse(archive, biggest, f"the members add up to {total} bytes, over the limit of {max_total}")
    if total > RATIO_FLOOR and total > max_ratio * max(packed, 1):
        raise _refuse(archive, biggest, f"{total} bytes unpacked from {packed} is over {max_ratio} times "
                                        "the archive's size (a decompression bomb?)")


# ----------------------------------------------------------------------------------- tar


def _extract_tar(archive, tmp, root, max_total, max_ratio):
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            members = tar.getmembers()  # reads every header (and decompresses) before any write
            plan, links = _plan_tar(archive, members, root, max_total, max_ratio)
            for member, parts in plan:  # files and folders first
                dest = _dest(archive, tmp, member.name, parts)
                if member.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                with open(dest, "wb") as out:
                    _copy(src, out, member.size, archive, member.name)
                os.chmod(dest, 0o644)
            _make_links(archive, tmp, root, links)
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as e:
        # tarfile's errors for a bad header, cut stream or bad compression; OSError for gzip/bz2/lzma
        raise DataError(f"{archive}: {_CORRUPT} ({_one_line(e)}); delete it and fetch it again") from None


def _plan_tar(archive, members, root, max_total, max_ratio):
    if len(members) > MAX_MEMBERS:
        raise _refuse(archive, members[-1].name, f"more than {MAX_MEMBERS} members")
    plan, links, total, biggest, biggest_size = [], [], 0, "", -1
    for m in members:
        parts = _relative(archive, m.name, root)
        if m.ischr() or m.isblk() or m.isfifo() or not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise _refuse(archive, m.name, "device files, fifos and other special files are not allowed")
        if m.issym():
            where = parts or _parts(m.name) or []  # where the link will sit, inside the target
            if not _link_inside(where, m.linkname):
                raise _refuse(archive, m.name, f"a symlink pointing outside the target folder ({m.linkname!r})")
        if m.islnk():
            target = _parts(m.linkname)
            if target is None:
                raise _refuse(archive, m.name, f"a hard link pointing outside the target folder ({m.linkname!r})")
        if m.isfile():
            total += m.size
            if m.size >= biggest_size:
                biggest, biggest_size = m.name, m.size
        if parts is None or not parts:
            continue  # outside member_root (or the root folder itself)
        if m.issym() or m.islnk():
            links.append((m, parts))
        else:
            plan.append((m, parts))
    _check_totals(archive, total, archive.stat().st_size, max_total, max_ratio, biggest or archive.name)
    return plan, links


def _make_links(archive, tmp, root, links):
    """Links last, so that no regular member is ever written through one.

    Hard links become copies of the (already unpacked) file they name; symlinks must stay
    inside, which was checked on their text and is checked again on the resolved path.
    """
    for m, parts in links:
        dest = _dest(archive, tmp, m.name, parts)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if m.islnk():
            target = _relative(archive, m.linkname, root)  # hard link names are archive paths
            src = tmp.joinpath(*target) if target else None
            if src is None or not src.is_file() or src.is_symlink():
                raise _refuse(archive, m.name, f"a hard link to {m.linkname!r}, which is not a file unpacked before it")
            shutil.copyfile(src, dest)
        else:
            os.symlink(m.linkname, dest)
            real = Path(os.path.realpath(dest))
            if not _within(real, tmp):
                dest.unlink()
                raise _refuse(archive, m.name, f"a symlink pointing outside the target folder ({m.linkname!r})")


# ----------------------------------------------------------------------------------- zip


def _extract_zip(archive, tmp, root, max_total, max_ratio):
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise _refuse(archive, infos[-1].filename, f"more than {MAX_MEMBERS} members")
            plan, total, biggest, biggest_size = [], 0, "", -1
            for info in infos:
                parts = _relative(archive, info.filename, root)
                kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0  # 3: Unix
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    what = "a symlink" if kind == stat.S_IFLNK else "a device file, fifo or other special file"
                    raise _refuse(archive, info.filename, f"{what} (links and special files are not allowed in zips)")
                total += info.file_size
                if info.file_size >= biggest_size:
                    biggest, biggest_size = info.filename, info.file_size
                if parts:
                    plan.append((info, parts))
            # the ratio is taken over the file's size: central-directory sizes can lie
            _check_totals(archive, total, archive.stat().st_size, max_total, max_ratio, biggest or archive.name)
            for info, parts in plan:
                dest = _dest(archive, tmp, info.filename, parts)
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    # zipfile stops at the declared size and checks the CRC at the end
                    _copy(src, out, info.file_size, archive, info.filename)
                os.chmod(dest, 0o644)
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, OSError, ValueError,
            NotImplementedError) as e:
        raise DataError(f"{archive}: {_CORRUPT} ({_one_line(e)}); delete it and fetch it again") from None


# -------------------------------------------------------------------------------- shared


def _dest(archive, tmp, name, parts):
    """The path a member is written to, after checking that no folder on the way is a symlink."""
    dest = tmp.joinpath(*parts)
    real_parent = Path(os.path.realpath(dest.parent))
    if not _within(real_parent, tmp):
        raise _refuse(archive, name, "it would be written through a link leading outside the target folder")
    if dest.is_symlink():
        raise _refuse(archive, name, "it would overwrite a link unpacked before it")
    return dest


def _within(path, folder):
    folder = Path(os.path.realpath(folder))
    return path == folder or folder in path.parents


def _copy(src, out, size, archive, name):
    """Copy exactly `size` bytes; a member that yields more than its header declares is refused."""
    left = size
    while True:
        block = src.read(min(1 << 20, left + 1) if left >= 0 else 1 << 20)
        if not block:
            break
        left -= len(block)
        if left < 0:
            raise _refuse(archive, name, f"it unpacks to more than the {size} bytes its header declares")
        out.write(block)
    if left > 0:
        raise DataError(f"{archive}: {_CORRUPT} (member {name!r} ends {left} bytes early); "
                        "delete it and fetch it again")


def _one_line(e):
    return " ".join(str(e).split()) or type(e).__name__
