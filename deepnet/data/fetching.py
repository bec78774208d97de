"""Fetching a dataset from the sources its module names: mirror or canonical URLs, checksums,
resume, atomic placement. This module knows no dataset.

`fetch(name, spec)` puts a dataset under a data root (`$DEEPNET_DATA` when set and writable,
else the user cache `$DEEPNET_CACHE` / `~/.cache/deepnet`) in the layout DESIGN.md names, so
the loaders find it with no further setting. The loaders call `locate` / `locate_any` instead
of store's: when nothing is found they fetch the dataset first (`DEEPNET_NO_DOWNLOAD=1` turns
that off). `deepnet data fetch NAME` goes through download.py, which finds the spec by name.

Where the bytes come from: with `DEEPNET_MIRROR` set (an http(s) URL, a file:// URL or a
folder holding the data-folder layout, e.g. `$DEEPNET_MIRROR/tinyshakespeare/input.txt`)
the mirror is tried first for every alternative, then the canonical URLs. Each file is
written to `<file>.part` beside its place (an interrupted download resumes from there with an
HTTP Range request), checked against the checksum its publisher gives (MD5 where that is all
there is) or a SHA-256 we computed over a copy and cite, and only then renamed into place: a
mismatch deletes the download and leaves nothing in place. Archives are unpacked with the
safe extractor of archive.py, checked, then renamed into place as a whole folder.

A spec is the constant DOWNLOAD of the dataset's own module (mnist.DOWNLOAD, text.ptb.DOWNLOAD,
...), beside its parser; it is plain data:

    "description", "licence" (as stated at source), "homepage",
    "checksums": where the checksums of the entry come from,
    "options": alternatives, the first one that can be had wins, each
        {"label": ..., "items": [item, ...]} where an item is
        a file:  {"path": under the data root (and the mirror), "urls": canonical URLs, tried in order,
                  "size": bytes or None, "md5" / "sha256": hex (one match is enough),
                  "structure": "text" | "gzip" | "zip" | "tar" | "image" | "npy" (checked as well;
                  the only check where no checksum is known), "optional": True (skipped with a
                  warning when it cannot be had), "extract": {"to": folder, "root": folder
                  inside the archive or None, "checks": [check, ...]} for an archive}
        a tree:  {"tree": folder, "checks": [check, ...]}, copied from a mirror only (an http
                  mirror lists its files in MANIFEST.sha256 at its root, in sha256sum format)
    a check: {"file": path, "md5" / "sha256": hex}, or {"dir": folder ("." for all), "match":
             glob of file names or None, "exclude": [names], "files": count, "sha256": tree_sha256}

Checksum sources are named in the comments beside each spec: "computed by us" = SHA-256 over
the copy in ../shared/data (its MANIFEST.sha256), whose origin is named; a tree_sha256 is the
SHA-256 of that copy's sorted sha256sum lines.
"""

import contextlib
import fnmatch
import gzip
import hashlib
import http.client
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from deepnet.data import archive, store
from deepnet.errors import DataError

USER_AGENT = "deepnet-data-fetch/0.1 (+https://github.com; python urllib)"
TIMEOUT = 30  # seconds without a byte before a connection is given up
ATTEMPTS = 3  # a transfer cut off mid-way is resumed this many times before giving up


def locate(dataset, relpaths, spec):
    """store.locate, but a dataset that is not found is fetched from `spec` first (see locate_any)."""
    return locate_any(dataset, [relpaths], spec)[0]


def locate_any(dataset, layouts, spec):
    """store.locate_any, but when no layout is found the dataset is fetched from `spec` (its
    module's DOWNLOAD) and looked for again, unless DEEPNET_NO_DOWNLOAD is set.

    The decision lives here, with the loaders that call it, so that store.py needs no fetching.
    """
    found = store.search(layouts)
    if found is None:
        if not auto_enabled():
            raise DataError(store.missing(dataset, layouts, note=" and automatic download is off "
                                                                   "(DEEPNET_NO_DOWNLOAD is set)"))
        try:
            fetch(dataset, spec)
        except DataError as e:  # offline, or no source has it: the same advice as for absent data
            raise DataError(f"{e}; the automatic download failed; {store.fetch_advice(dataset)}") from None
        found = store.search(layouts)
    if found is None:
        raise DataError(store.missing(dataset, layouts))
    return found


def auto_enabled():
    """Whether loaders may fetch a missing dataset by themselves (off with DEEPNET_NO_DOWNLOAD=1)."""
    return os.environ.get("DEEPNET_NO_DOWNLOAD", "").strip().lower() in ("", "0", "false", "no")


def target_root():
    """Where `fetch` writes: $DEEPNET_DATA when set and writable, else the user cache."""
    roots = store.data_roots()  # checks that a set DEEPNET_DATA is a folder
    if os.environ.get("DEEPNET_DATA"):
        if os.access(roots[0], os.W_OK):
            return roots[0]
        _say(f"DEEPNET_DATA={roots[0]} is not writable; fetching into the user cache {store.cache_root()}")
    return store.cache_root()


# ------------------------------------------------------------------------------------ fetch


class _Unavailable(Exception):
    """This source does not have the file (404, absent from a mirror, no URL, host unreachable)."""

    def __init__(self, reason, unreachable=False):
        super().__init__(reason)
        self.unreachable = unreachable
        self.on_mirror = False  # set by fetch for misses in the mirror pass


def fetch(name, spec, root=None, mirror=None, progress=True, timeout=TIMEOUT):
    """Put dataset `name`, as its DOWNLOAD `spec` describes it, under `root` (default
    target_root()) and return root.

    mirror: overrides $DEEPNET_MIRROR ("" for none). Files already in place that pass their
    checks are kept. Raises DataError (one line) when no source has the data or a check fails.
    """
    if root is None:
        for found in store.data_roots():  # already in a data root (maybe a read-only one): done
            label = _complete_option(spec, found) if found.is_dir() else None
            if label:
                _say(f"{name}: already under {found} ({label}), checks pass")
                return found
        root = target_root()
    root = Path(root).expanduser()
    mirror = os.environ.get("DEEPNET_MIRROR", "") if mirror is None else mirror
    mirror = _Mirror(mirror) if mirror else None
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"{name}: cannot create {root} ({e.strerror or e}); set DEEPNET_DATA or DEEPNET_CACHE "
                        "to a writable folder") from None
    with _lock(root / ".deepnet-fetch.lock"):
        label = _complete_option(spec, root)
        if label:
            _say(f"{name}: already under {root} ({label}), checks pass")
            return root
        failures = []
        passes = ([mirror] if mirror else []) + [None]  # the mirror first, for every alternative
        for source in passes:
            for option in spec["options"]:
                try:
                    _fetch_option(name, spec, option, root, source, progress, timeout)
                    return root
                except _Unavailable as e:
                    e.on_mirror = source is not None
                    failures.append(e)
        raise DataError(_nothing_found(name, spec, root, mirror, failures))


def _complete_option(spec, root):
    """The label of the first alternative fully in place under root (checks passing), or None."""
    for option in spec["options"]:
        if all(_present(root, item, quiet=True) for item in option["items"] if not item.get("optional")):
            return option["label"]
    return None


def _nothing_found(name, spec, root, mirror, failures):
    """One line: the first miss on the mirror, then why the canonical sources failed."""
    on_mirror = [str(f) for f in failures if f.on_mirror][:1]
    canonical = [f for f in failures if not f.on_mirror]
    unreachable = [str(f) for f in canonical if f.unreachable]
    reasons = on_mirror + (unreachable[:1] or list(dict.fromkeys(str(f) for f in canonical))[:2])
    folder = _first_folder(spec)
    hint = "set DEEPNET_MIRROR" if mirror is None else f"check DEEPNET_MIRROR={mirror}"
    return f"{name}: {'; '.join(reasons)}; {hint} or copy the files to {root / folder}"


def _first_folder(spec):
    item = spec["options"][0]["items"][0]
    return (item.get("path") or item.get("tree")).split("/")[0]


def _fetch_option(name, spec, option, root, mirror, progress, timeout):
    items = option["items"]
    known = [i.get("size") for i in items if "path" in i]
    total = sum(s for s in known if s)
    size = f"{_human(total)}{' and more' if None in known else ''}" if total else "size unknown"
    announced = []

    def announce():  # once, when the first transfer of this alternative starts
        if not announced:
            announced.append(True)
            where = f"mirror {mirror}" if mirror else "the canonical URLs"
            _say(f"{name}: fetching {option['label']} ({len(items)} item{'s' * (len(items) > 1)}, {size}) into "
                 f"{root} from {where}; licence: {spec['licence']}")

    for item in items:
        try:
            if "tree" in item:
                if not _present(root, item):
                    _fetch_tree(item, root, mirror, progress, timeout, announce)
            elif not _present(root, item):
                _fetch_file(item, root, mirror, progress, timeout, announce)
        except (_Unavailable, DataError) as e:
            if not item.get("optional"):
                raise
            _say(f"warning: skipped optional {item['path']}: {e}")


def _present(root, item, quiet=False):
    """Whether the item is already in place and passes its checks (a failing copy is refetched)."""
    if "tree" in item:
        folder = root / item["tree"]
        return folder.is_dir() and _checks_pass(folder, item["checks"])
    if "extract" in item:
        folder = root / item["extract"]["to"]
        checks = item["extract"].get("checks")
        return folder.is_dir() and (_checks_pass(folder, checks) if checks else any(folder.iterdir()))
    path = root / item["path"]
    if not path.is_file():
        return False
    problem = _verify(path, item)
    if problem and not quiet:
        _say(f"{path} is there but {problem}; fetching it again")
    return problem is None


def _checks_pass(folder, checks):
    try:
        run_checks(folder, checks, str(folder))
        return True
    except DataError:
        return False


# -------------------------------------------------------------------------------- sources


class _Mirror:
    """DEEPNET_MIRROR: an http(s) base URL, a file:// URL or a folder, holding the data layout."""

    def __init__(self, spec):
        self.spec = spec
        if spec.startswith(("http://", "https://")):
            self.url, self.folder = spec.rstrip("/") + "/", None
        else:
            path = spec
            if spec.startswith("file:"):
                path = urllib.request.url2pathname(urllib.parse.urlparse(spec).path)
            self.url, self.folder = None, Path(path).expanduser()
            if not self.folder.is_dir():
                raise DataError(f"DEEPNET_MIRROR={spec} is neither an http(s) URL nor an existing folder")
        self._manifest = None

    def __str__(self):
        return self.spec

    def locate(self, relpath):
        """The source of one file on the mirror: a URL or a local path."""
        if self.url:
            return self.url + urllib.parse.quote(relpath)
        path = self.folder / relpath
        if not path.is_file():
            raise _Unavailable(f"mirror {self.spec} has no {relpath}")
        return path

    def listing(self, tree, timeout):
        """{relative path: sha256 or None} of every file under `tree` on the mirror."""
        if self.folder is not None:
            base = self.folder / tree
            if not base.is_dir():
                raise _Unavailable(f"mirror {self.spec} has no {tree}/")
            return {p.relative_to(base).as_posix(): None for p in sorted(base.rglob("*")) if p.is_file()}
        if self._manifest is None:
            self._manifest = self._read_manifest(timeout)
        prefix = tree.rstrip("/") + "/"
        found = {p[len(prefix):]: h for p, h in self._manifest.items() if p.startswith(prefix)}
        if not found:
            raise _Unavailable(f"mirror {self.spec} lists no {tree}/ in its MANIFEST.sha256")
        return found

    def _read_manifest(self, timeout):
        url = self.url + "MANIFEST.sha256"
        try:
            with _urlopen(url, 0, timeout) as resp:
                text = resp.read(64 * 2**20).decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            raise _Unavailable(f"{url}: HTTP {e.code} {e.reason} (an http mirror lists its trees there)") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
            raise _unreachable(url, e) from None
        manifest = {}
        for line in text.splitlines():
            digest, _, path = line.partition("  ")
            if len(digest) == 64 and path:
                manifest[path[2:] if path.startswith("./") else path] = digest.lower()
        return manifest


def _sources(item, mirror):
    """Where one file can come from in this pass: the mirror's copy, or the canonical URLs."""
    if mirror is not None:
        return [mirror.locate(item["path"])]
    urls = item.get("urls") or []
    if not urls:
        raise _Unavailable(f"{item['path']} has no public download (mirror only)")
    return list(urls)


def _fetch_file(item, root, mirror, progress, timeout, announce=None):
    dest = root / item["path"]
    if "extract" in item and dest.is_file() and _verify(dest, item) is None:
        _unpack(item, root, dest)  # downloaded before, unpacking was interrupted
        return
    errors = []
    for src in _sources(item, mirror):
        try:
            download(src, dest, item, progress=progress, timeout=timeout, on_start=announce)
            break
        except _Unavailable as e:
            errors.append(e)
    else:
        raise errors[0] if len(errors) == 1 else _Unavailable(
            "; ".join(dict.fromkeys(str(e) for e in errors)), unreachable=all(e.unreachable for e in errors))
    if "extract" in item:
        _unpack(item, root, dest)


def _unpack(item, root, dest):
    """Unpack a verified archive into place, then delete it (also when it is refused)."""
    spec = item["extract"]
    target = root / spec["to"]
    _say(f"unpacking {dest.name} into {target}")
    try:
        archive.extract(dest, target, member_root=spec.get("root"),
                        check=lambda folder: run_checks(folder, spec.get("checks") or [], dest.name))
    except DataError:
        dest.unlink(missing_ok=True)
        raise
    dest.unlink(missing_ok=True)  # an interrupted unpacking keeps it, to be unpacked next time


def _fetch_tree(item, root, mirror, progress, timeout, announce=None):
    tree = item["tree"]
    if mirror is None:
        raise _Unavailable(f"{tree}/ has no public download (mirror only)")
    files = mirror.listing(tree, timeout)
    if announce:
        announce()
    target = root / tree
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.fetch-"))
    try:
        _say(f"copying {len(files)} files of {tree}/ from mirror {mirror}")
        with _bar(len(files), tree, progress, unit="file") as bar:
            for rel, digest in files.items():
                parts = archive._parts(rel)
                if not parts:
                    raise DataError(f"mirror {mirror}: refusing {tree}/{rel!r}: its path escapes {tree}/")
                dest = tmp.joinpath(*parts)
                src = mirror.folder / tree / rel if mirror.folder is not None else mirror.locate(f"{tree}/{rel}")
                download(src, dest, {"path": f"{tree}/{rel}", "sha256": digest}, progress=False, timeout=timeout,
                         quiet=True)
                bar.update(1)
        run_checks(tmp, item["checks"], f"{tree}/ from mirror {mirror}")
        archive.place_dir(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------ transfer


def download(src, dest, item, progress=True, timeout=TIMEOUT, quiet=False, on_start=None):
    """Copy one file from a URL or local path to `dest`: resumable, verified, atomic.

    The bytes go to `dest.part` (resumed from its length with an HTTP Range request when it
    exists) and are renamed to `dest` only after `item`'s checksum (or structure) passes.
    Raises _Unavailable when the source does not have it, DataError when what came is wrong.
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    label = item.get("path", dest.name)
    for attempt in range(1, ATTEMPTS + 1):
        offset = part.stat().st_size if part.exists() else 0
        try:
            opened = _open(src, offset, timeout)
        except _RangeNotSatisfiable:
            # the .part already holds the whole file (or more): judge it as it is
            if _verify(part, item) is None:
                break
            part.unlink()
            continue
        stream, total, resumed = opened
        dest.parent.mkdir(parents=True, exist_ok=True)  # only once there is something to write
        if on_start is not None:
            on_start()
        if not quiet:
            how = f", resuming at {_human(offset)}" if resumed else ""
            _say(f"fetching {label} ({_human(total or item.get('size'))}{how}) from {src}")
        try:
            with stream, open(part, "ab" if resumed else "wb") as out, \
                    _bar(total or item.get("size"), label, progress, initial=offset if resumed else 0) as bar:
                while True:
                    block = stream.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    bar.update(len(block))
            if total is not None and part.stat().st_size < total:
                raise _Cut(f"the transfer ended at {part.stat().st_size} of {total} bytes")
            break
        except (_Cut, OSError, http.client.HTTPException) as e:
            if attempt == ATTEMPTS:
                raise DataError(f"{label}: transfer from {src} failed ({store.one_line(e)}); the partial "
                                f"download is kept at {part}; run the command again to resume") from None
            _say(f"{label}: transfer interrupted ({store.one_line(e)}); resuming")
    problem = _verify(part, item)
    if problem:
        part.unlink(missing_ok=True)
        raise DataError(f"{dest}: {problem}; the download from {src} was deleted and nothing was put in "
                        "place (try again; if it persists the source is damaged or has changed)")
    os.replace(part, dest)
    return dest


class _Cut(Exception):
    pass


class _RangeNotSatisfiable(Exception):
    pass


def _open(src, offset, timeout):
    """(readable stream, total size or None, whether it starts at `offset`) for a URL or a path."""
    if isinstance(src, str) and src.startswith("file:"):
        src = Path(urllib.request.url2pathname(urllib.parse.urlparse(src).path))
    if isinstance(src, Path):
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            raise _Unavailable(f"{src} does not exist") from None
        except OSError as e:
            raise _Unavailable(f"{src}: cannot read ({e.strerror or e})") from None
        size = os.fstat(f.fileno()).st_size
        if offset > size:
            f.close()
            raise _RangeNotSatisfiable()
        f.seek(offset)
        return f, size, offset > 0
    try:
        resp = _urlopen(src, offset, timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:
            raise _RangeNotSatisfiable() from None
        raise _Unavailable(f"{src}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _unreachable(src, e) from None
    length = resp.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    if resp.status == 206:
        start, total = _content_range(resp.headers.get("Content-Range", ""))
        if start != offset:  # a server that answers another range than asked: start over
            resp.close()
            return _open_from_start(src, timeout)
        return resp, total if total is not None else (offset + length if length is not None else None), True
    return resp, length, False


def _open_from_start(src, timeout):
    try:
        resp = _urlopen(src, 0, timeout)
    except urllib.error.HTTPError as e:
        raise _Unavailable(f"{src}: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _unreachable(src, e) from None
    length = resp.headers.get("Content-Length")
    return resp, int(length) if length and length.isdigit() else None, False


def _urlopen(url, offset, timeout):
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _content_range(value):
    """(first byte, total or None) of a Content-Range header `bytes a-b/total`."""
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-")[0])
        return start, (int(total) if total.isdigit() else None)
    except ValueError:
        return -1, None


def _unreachable(url, e):
    host = urllib.parse.urlparse(url).netloc or url
    reason = getattr(e, "reason", None) or e
    if isinstance(reason, socket.timeout) or isinstance(e, socket.timeout):
        reason = f"no answer within the timeout ({store.one_line(reason)})"
    return _Unavailable(f"could not reach {host}: {store.one_line(reason)}", unreachable=True)


@contextlib.contextmanager
def _lock(path):
    """An exclusive lock on `path`, so that two processes (e.g. DDP ranks) do not fetch at once."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    try:
        f = open(path, "a")
    except OSError as e:
        raise DataError(f"cannot write to {path.parent} ({e.strerror or e}); fetch into a writable folder "
                        "(--to DIR, or set DEEPNET_DATA / DEEPNET_CACHE)") from None
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------------------ checking


def file_digest(path, algorithm):
    """Hex digest of a file's bytes (md5 or sha256), read in blocks."""
    h = hashlib.new(algorithm, usedforsecurity=False) if algorithm == "md5" else hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_sha256(folder, match=None, exclude=()):
    """SHA-256 of a folder's content: of the lines `<sha256 of file>  <relative path>` (the format
    sha256sum writes), one per regular file below `folder`, sorted by path. `match` is a glob on
    file names, `exclude` a list of names left out. Returns (number of files, hex digest)."""
    folder = Path(folder)
    lines = []
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        if (match and not fnmatch.fnmatch(path.name, match)) or path.name in exclude:
            continue
        lines.append((path.relative_to(folder).as_posix(), file_digest(path, "sha256")))
    lines.sort()
    blob = "".join(f"{digest}  {rel}\n" for rel, digest in lines)
    return len(lines), hashlib.sha256(blob.encode()).hexdigest()


def run_checks(folder, checks, label):
    """Apply the checks of an unpacked archive or copied tree; DataError at the first failure."""
    folder = Path(folder)
    for check in checks:
        if "file" in check:
            path = folder / check["file"]
            if not path.is_file():
                raise DataError(f"{label}: {check['file']} is missing")
            for algorithm in ("sha256", "md5"):
                if check.get(algorithm):
                    got = file_digest(path, algorithm)
                    if got != check[algorithm]:
                        raise DataError(f"{label}: {check['file']} has {algorithm.upper()} {got}, expected "
                                        f"{check[algorithm]}")
        else:
            where = folder / check["dir"]
            count, digest = tree_sha256(where, check.get("match"), check.get("exclude", ()))
            what = f"{check['dir']}/" + (check.get("match") or "")
            if count != check["files"]:
                raise DataError(f"{label}: {what} holds {count} files, expected {check['files']}")
            if digest != check["sha256"]:
                raise DataError(f"{label}: the files of {what} differ from the copy we checked (tree SHA-256 "
                                f"{digest}, expected {check['sha256']})")


def _verify(path, item):
    """None when the file passes the item's checksum and structure check, else what is wrong."""
    wanted = [(a, item[a]) for a in ("sha256", "md5") if item.get(a)]
    if wanted:
        got = {a: file_digest(path, a) for a, _ in wanted}
        if not any(got[a] == want for a, want in wanted):
            detail = ", ".join(f"{a.upper()} {got[a]} where {want} was expected" for a, want in wanted)
            return f"checksum mismatch ({detail})"
    if item.get("structure"):
        problem = check_structure(path, item["structure"])
        if problem:
            return problem
    elif not wanted and item.get("size") is not None and path.stat().st_size != item["size"]:
        return f"{path.stat().st_size} bytes where {item['size']} were expected"
    return None


def check_structure(path, kind):
    """None when the file reads as `kind` all the way through, else a short reason."""
    if kind not in STRUCTURES:
        raise ValueError(f"unknown structure kind {kind!r}; known: {', '.join(STRUCTURES)}")
    try:
        STRUCTURES[kind](Path(path))
    except _Bad as e:
        return str(e)
    except Exception as e:  # untrusted bytes: zlib, tarfile, zipfile, PIL and numpy raise many kinds
        return f"not a readable {kind} file ({type(e).__name__}: {store.one_line(e)})"
    return None


class _Bad(Exception):
    pass


def _read_text(path):
    data = path.read_bytes()
    if not data.strip():
        raise _Bad("an empty file, not text")
    data.decode("utf-8")


def _read_gzip(path):
    with gzip.open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def _read_zip(path):
    with zipfile.ZipFile(path) as z:
        bad = z.testzip()
    if bad is not None:
        raise _Bad(f"zip member {bad!r} fails its CRC")


def _read_tar(path):
    with tarfile.open(path, "r:*") as t:
        if not t.getmembers():
            raise _Bad("an empty tar archive")


def _read_image(path):
    from PIL import Image

    with Image.open(path) as im:
        im.verify()


def _read_npy(path):
    import numpy as np

    np.load(path, allow_pickle=False, mmap_mode="r")


STRUCTURES = {"text": _read_text, "gzip": _read_gzip, "zip": _read_zip, "tar": _read_tar,
              "image": _read_image, "npy": _read_npy}


# --------------------------------------------------------------------------------- output


def _say(message):
    print(f"deepnet: {message}", file=sys.stderr, flush=True)


def _bar(total, label, progress, initial=0, unit="B"):
    from tqdm import tqdm

    if unit == "B":
        return tqdm(total=total, initial=initial, desc=label, unit="B", unit_scale=True, unit_divisor=1024,
                    disable=not progress, leave=False, file=sys.stderr)
    return tqdm(total=total, desc=label, unit=unit, disable=not progress, leave=False, file=sys.stderr)


def _human(n):
    if n is None:
        return "size unknown"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
