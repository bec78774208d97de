"""Fetching datasets (deepnet/data/fetching.py, by name through download.py) against a local HTTP
server on 127.0.0.1 that each test starts itself: full download, resume with Range, checksum
mismatch, server gone, mirrors (http, folder, file://), archives and trees, automatic fetching on
first use, the CLI, and every dataset module's DOWNLOAD spec itself."""

import gzip
import hashlib
import io
import os
import tarfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from deepnet.cli import main
from deepnet.data import cifar10, download, fetching, mnist
from deepnet.errors import ConfigError, DataError

SHARED_README_DATASETS = ["mnist", "cifar10", "tinyshakespeare", "nltk_data", "ptb", "babi", "multi30k",
                          "fsdd", "an4", "photos"]


# ----------------------------------------------------------------------------- the server


class Server:
    """Serves `files` (url path -> bytes) with Range support; records every request.

    Bounded: a daemon thread, 5 s socket timeouts, shut down by the fixture (or close()).
    """

    def __init__(self, files=None):
        self.files = dict(files or {})
        self.requests = []  # dicts: path, range, status, sent
        self.ignore_range = False
        self.cut_after = {}  # path -> bytes sent before the connection drops (once)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def do_GET(self):
                owner._serve(self)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def _serve(self, h):
        path = urllib.parse.unquote(h.path.lstrip("/"))
        data = self.files.get(path)
        rng = h.headers.get("Range")
        record = {"path": path, "range": rng, "status": 404, "sent": 0}
        self.requests.append(record)
        if data is None:
            h.send_error(404)
            return
        start = 0
        if rng and not self.ignore_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                record["status"] = 416
                h.send_response(416)
                h.send_header("Content-Range", f"bytes */{len(data)}")
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
        body = data[start:]
        record["status"] = 206 if start else 200
        h.send_response(record["status"])
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        # "sent" is recorded before writing: the client may finish reading and the test may look
        # before this server thread runs again
        cut = self.cut_after.pop(path, None)
        if cut is not None:
            record["sent"] = cut
            h.wfile.write(body[:cut])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(2)  # drop the connection mid-transfer
            return
        record["sent"] = len(body)
        h.wfile.write(body)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.delenv("DEEPNET_MIRROR", raising=False)
    monkeypatch.delenv("DEEPNET_DATA", raising=False)
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))


def md5(b):
    return hashlib.md5(b).hexdigest()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def toy_entry(items, options=None):
    return {"description": "toy data", "licence": "test", "homepage": "http://127.0.0.1/", "checksums": "test",
            "options": options or [{"label": "toy files", "items": items}]}


def use_toy(monkeypatch, items=None, options=None, name="toy"):
    """Make `name` fetchable by name, as if a dataset module with this DOWNLOAD were in download.SOURCES."""
    monkeypatch.setitem(download.SOURCES, name, SimpleNamespace(DOWNLOAD=toy_entry(items, options)))
    return name


def table():
    """The real specs by name, as `deepnet data fetch NAME` finds them."""
    return {name: download.entry(name) for name in download.SOURCES}


def dead_url():
    """A URL on 127.0.0.1 where nothing listens any more."""
    s = Server()
    url = s.url
    s.close()
    return url


BLOB = os.urandom(300_000)


# ------------------------------------------------------------------------- transfers


def test_full_download(server, monkeypatch, tmp_path, capsys):
    server.files["f/data.bin"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "size": len(BLOB),
                           "md5": md5(BLOB)}])
    root = download.fetch("toy", root=tmp_path / "root", progress=False)
    assert (root / "toy" / "data.bin").read_bytes() == BLOB
    assert not (root / "toy" / "data.bin.part").exists()
    assert [(r["range"], r["status"], r["sent"]) for r in server.requests] == [(None, 200, len(BLOB))]
    err = capsys.readouterr().err
    assert "toy/data.bin (293.0 KiB)" in err and "licence: test" in err
    # a second fetch finds it in place and verified: no request
    download.fetch("toy", root=tmp_path / "root", progress=False)
    assert len(server.requests) == 1
    assert "already under" in capsys.readouterr().err


def test_resume_requests_only_the_rest(server, monkeypatch, tmp_path):
    server.files["f/data.bin"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "sha256": sha256(BLOB)}])
    dest = tmp_path / "toy" / "data.bin"
    dest.parent.mkdir(parents=True)
    have = 123_457
    (tmp_path / "toy" / "data.bin.part").write_bytes(BLOB[:have])
    download.fetch("toy", root=tmp_path, progress=False)
    assert dest.read_bytes() == BLOB
    (req,) = server.requests
    assert req["range"] == f"bytes={have}-" and req["status"] == 206 and req["sent"] == len(BLOB) - have


def test_resume_when_server_ignores_range(server, monkeypatch, tmp_path):
    server.files["f/data.bin"] = BLOB
    server.ignore_range = True
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "md5": md5(BLOB)}])
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "data.bin.part").write_bytes(b"stale bytes of another file")
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB  # started over, not appended


def test_cut_transfer_resumes_by_itself(server, monkeypatch, tmp_path):
    server.files["f/data.bin"] = BLOB
    server.cut_after["f/data.bin"] = 100_000
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "md5": md5(BLOB)}])
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB
    first, second = server.requests
    assert first["sent"] == 100_000 and second["range"] == "bytes=100000-"
    assert second["sent"] == len(BLOB) - 100_000


def test_complete_part_file_is_used(server, monkeypatch, tmp_path):
    """A .part that already holds everything (server answers 416) is checked and placed."""
    server.files["f/data.bin"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "md5": md5(BLOB)}])
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "data.bin.part").write_bytes(BLOB)
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB
    assert [r["status"] for r in server.requests] == [416]


def test_checksum_mismatch_leaves_nothing(server, monkeypatch, tmp_path):
    server.files["f/data.bin"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "md5": md5(b"other")}])
    with pytest.raises(DataError) as e:
        download.fetch("toy", root=tmp_path, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "checksum mismatch" in msg and md5(BLOB) in msg and "nothing was put in place" in msg
    assert not (tmp_path / "toy" / "data.bin").exists() and not (tmp_path / "toy" / "data.bin.part").exists()


def test_existing_bad_file_is_replaced(server, monkeypatch, tmp_path):
    server.files["f/data.bin"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f/data.bin"], "md5": md5(BLOB)}])
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "data.bin").write_bytes(b"corrupted copy")
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB


def test_server_gone_is_one_clear_line(monkeypatch, tmp_path):
    url = dead_url()
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [url + "f/data.bin"], "md5": md5(BLOB)}])
    with pytest.raises(DataError) as e:
        download.fetch("toy", root=tmp_path, progress=False, timeout=5)
    msg = str(e.value)
    host = urllib.parse.urlparse(url).netloc
    assert "\n" not in msg and msg.startswith(f"toy: could not reach {host}: ")
    assert "set DEEPNET_MIRROR or copy the files to " + str(tmp_path / "toy") in msg
    assert not (tmp_path / "toy").exists()


def test_404_everywhere(server, monkeypatch, tmp_path):
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "a", server.url + "b"], "md5": md5(BLOB)}])
    with pytest.raises(DataError, match="HTTP 404"):
        download.fetch("toy", root=tmp_path, progress=False)
    assert [r["path"] for r in server.requests] == ["a", "b"]  # every canonical URL tried in order


def test_second_url_used_when_first_fails(server, monkeypatch, tmp_path):
    server.files["b"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [dead_url() + "a", server.url + "b"], "md5": md5(BLOB)}])
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB


def test_structure_only_and_optional_items(server, monkeypatch, tmp_path, capsys):
    server.files["t.txt"] = b"some text\n"
    server.files["bad.txt"] = b"\xff\xfe\x00 not utf-8"
    use_toy(monkeypatch, [
        {"path": "toy/t.txt", "urls": [server.url + "t.txt"], "structure": "text"},
        {"path": "toy/bad.txt", "urls": [server.url + "bad.txt"], "structure": "text", "optional": True},
        {"path": "toy/gone.txt", "urls": [server.url + "gone.txt"], "structure": "text", "optional": True},
    ])
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "t.txt").read_bytes() == b"some text\n"
    assert not (tmp_path / "toy" / "bad.txt").exists() and not (tmp_path / "toy" / "gone.txt").exists()
    err = capsys.readouterr().err
    assert "skipped optional toy/bad.txt" in err and "skipped optional toy/gone.txt" in err


def test_concurrent_fetches_download_once(server, monkeypatch, tmp_path):
    """Two fetches at once (two DDP ranks, say): the lock makes the second find the file in place."""
    server.files["f"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f"], "md5": md5(BLOB)}])
    errors = []

    def run():
        try:
            download.fetch("toy", root=tmp_path, progress=False)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and len(server.requests) == 1
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB


# ---------------------------------------------------------------------------- mirrors


def test_mirror_http_from_env(server, monkeypatch, tmp_path):
    server.files["toy/data.bin"] = BLOB  # same layout as the data folder
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [dead_url() + "canonical"], "md5": md5(BLOB)}])
    monkeypatch.setenv("DEEPNET_MIRROR", server.url.rstrip("/"))
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB
    assert [r["path"] for r in server.requests] == ["toy/data.bin"]


@pytest.mark.parametrize("as_url", [False, True])
def test_mirror_local_folder(monkeypatch, tmp_path, as_url):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "data.bin").write_bytes(BLOB)
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [], "md5": md5(BLOB)}])
    monkeypatch.setenv("DEEPNET_MIRROR", mirror.as_uri() if as_url else str(mirror))
    download.fetch("toy", root=tmp_path / "root", progress=False)
    assert (tmp_path / "root" / "toy" / "data.bin").read_bytes() == BLOB


def test_mirror_without_the_file_falls_back_to_canonical(server, monkeypatch, tmp_path):
    server.files["canonical/data.bin"] = BLOB
    mirror = Server()
    try:
        use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "canonical/data.bin"],
                               "md5": md5(BLOB)}])
        download.fetch("toy", root=tmp_path, mirror=mirror.url, progress=False)
        assert [r["status"] for r in mirror.requests] == [404]
    finally:
        mirror.close()
    assert (tmp_path / "toy" / "data.bin").read_bytes() == BLOB


def test_mirror_with_a_wrong_file_is_an_error(monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    (mirror / "toy" / "data.bin").write_bytes(b"tampered")
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [], "md5": md5(BLOB)}])
    with pytest.raises(DataError, match="checksum mismatch"):
        download.fetch("toy", root=tmp_path / "root", mirror=str(mirror), progress=False)
    assert not (tmp_path / "root" / "toy" / "data.bin").exists()


def test_mirror_must_exist(monkeypatch, tmp_path):
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [], "md5": md5(BLOB)}])
    with pytest.raises(DataError, match="DEEPNET_MIRROR=.*neither"):
        download.fetch("toy", root=tmp_path, mirror=str(tmp_path / "nowhere"), progress=False)


def test_mirror_only_without_mirror(monkeypatch, tmp_path):
    use_toy(monkeypatch, [{"tree": "toy/tree", "checks": []}])
    with pytest.raises(DataError) as e:
        download.fetch("toy", root=tmp_path, progress=False)
    assert "no public download (mirror only)" in str(e.value) and "set DEEPNET_MIRROR" in str(e.value)


# ------------------------------------------------------------------- archives and trees


def tar_gz(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in members:
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


TREE = {"a.txt": b"alpha\n", "sub/b.txt": b"beta\n", "sub/c.wav": b"RIFF...."}


def tree_check(files, match=None):
    folder_digest = hashlib.sha256("".join(
        f"{sha256(files[rel])}  {rel}\n" for rel in sorted(files)
        if match is None or Path(rel).match(match)).encode()).hexdigest()
    count = sum(1 for rel in files if match is None or Path(rel).match(match))
    return {"dir": ".", "match": match, "files": count, "sha256": folder_digest}


def archive_item(url, blob, checks):
    return {"path": "toy/pack.tar.gz", "urls": [url], "size": len(blob), "md5": md5(blob),
            "extract": {"to": "toy/tree", "root": "pack-1.0", "checks": checks}}


def test_archive_is_unpacked_checked_and_removed(server, monkeypatch, tmp_path):
    blob = tar_gz([(f"pack-1.0/{k}", v) for k, v in TREE.items()])
    server.files["pack.tar.gz"] = blob
    use_toy(monkeypatch, [archive_item(server.url + "pack.tar.gz", blob, [tree_check(TREE)])])
    download.fetch("toy", root=tmp_path, progress=False)
    for rel, data in TREE.items():
        assert (tmp_path / "toy" / "tree" / rel).read_bytes() == data
    assert not (tmp_path / "toy" / "pack.tar.gz").exists()
    assert sorted(p.name for p in (tmp_path / "toy").iterdir()) == ["tree"]
    download.fetch("toy", root=tmp_path, progress=False)  # present: checks pass, nothing fetched
    assert len(server.requests) == 1


def test_archive_with_other_contents_is_not_placed(server, monkeypatch, tmp_path):
    other = dict(TREE, **{"a.txt": b"changed\n"})
    blob = tar_gz([(f"pack-1.0/{k}", v) for k, v in other.items()])
    server.files["pack.tar.gz"] = blob
    use_toy(monkeypatch, [archive_item(server.url + "pack.tar.gz", blob, [tree_check(TREE)])])
    with pytest.raises(DataError, match="differ from the copy we checked"):
        download.fetch("toy", root=tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "toy").iterdir() if not p.name.startswith(".")) == []


def test_hostile_archive_from_the_network_is_refused(server, monkeypatch, tmp_path):
    blob = tar_gz([("pack-1.0/a.txt", b"a"), ("../../escaped.txt", b"evil")])
    server.files["pack.tar.gz"] = blob
    use_toy(monkeypatch, [archive_item(server.url + "pack.tar.gz", blob, [])])
    with pytest.raises(DataError, match=r"refusing member '../../escaped.txt'"):
        download.fetch("toy", root=tmp_path, progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert not (tmp_path / "toy" / "tree").exists() and not (tmp_path / "toy" / "pack.tar.gz").exists()


def test_tree_from_http_mirror_via_manifest(server, monkeypatch, tmp_path):
    for rel, data in TREE.items():
        server.files[f"toy/tree/{rel}"] = data
    server.files["MANIFEST.sha256"] = "".join(
        f"{sha256(d)}  ./toy/tree/{r}\n" for r, d in TREE.items()).encode() + b"0" * 64 + b"  ./other/x\n"
    use_toy(monkeypatch, [{"tree": "toy/tree", "checks": [tree_check(TREE, "*.txt")]}])
    download.fetch("toy", root=tmp_path, mirror=server.url, progress=False)
    for rel, data in TREE.items():
        assert (tmp_path / "toy" / "tree" / rel).read_bytes() == data
    # a mirror file that differs from its manifest line is caught per file
    server.files["toy/tree/sub/b.txt"] = b"tampered\n"
    use_toy(monkeypatch, [{"tree": "toy/tree2", "checks": []}])
    server.files["MANIFEST.sha256"] += f"{sha256(b'beta')}  ./toy/tree2/b.txt\n".encode()
    server.files["toy/tree2/b.txt"] = b"tampered"
    with pytest.raises(DataError, match="checksum mismatch"):
        download.fetch("toy", root=tmp_path, mirror=server.url, progress=False)
    assert not (tmp_path / "toy" / "tree2").exists()


def test_tree_manifest_paths_cannot_escape(server, monkeypatch, tmp_path):
    server.files["MANIFEST.sha256"] = f"{sha256(b'x')}  ./toy/tree/../../../evil\n".encode()
    server.files["toy/tree/../../../evil"] = b"x"
    use_toy(monkeypatch, [{"tree": "toy/tree", "checks": []}])
    with pytest.raises(DataError, match="escapes"):
        download.fetch("toy", root=tmp_path, mirror=server.url, progress=False)
    assert not (tmp_path.parent / "evil").exists()


# ------------------------------------------------------- first use, CLI, the real table


def fake_mnist():
    """Four small idx files in the MNIST layout (20 train / 10 test images)."""
    files = {}
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        files[f"mnist/{prefix}-images-idx3-ubyte.gz"] = gzip.compress(
            bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in images.shape) + images.tobytes())
        files[f"mnist/{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(
            bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())
    return files


def test_loader_fetches_on_first_use(server, monkeypatch, tmp_path):
    files = fake_mnist()
    server.files.update({f"m/{k}": v for k, v in files.items()})
    items = [{"path": k, "urls": [server.url + "m/" + k], "md5": md5(v)} for k, v in files.items()]
    monkeypatch.setattr(mnist, "DOWNLOAD", toy_entry(items))  # the loader fetches from its module's spec
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("DEEPNET_NO_DOWNLOAD", "1")
    with pytest.raises(DataError) as e:
        mnist.load(n_val=2)
    assert "automatic download is off" in str(e.value) and "deepnet data fetch mnist" in str(e.value)
    assert server.requests == []
    monkeypatch.delenv("DEEPNET_NO_DOWNLOAD")
    s = mnist.load(n_val=2)
    assert (len(s.train), len(s.val), len(s.test)) == (18, 2, 10)
    assert (tmp_path / "data" / "mnist" / "t10k-labels-idx1-ubyte.gz").is_file()  # into $DEEPNET_DATA
    assert len(server.requests) == 4


def test_fetch_goes_to_the_cache_without_deepnet_data(server, monkeypatch, tmp_path):
    server.files["f"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f"], "md5": md5(BLOB)}])
    assert download.fetch("toy", progress=False) == tmp_path / "cache"
    assert (tmp_path / "cache" / "toy" / "data.bin").read_bytes() == BLOB


def test_cli_fetch(server, monkeypatch, tmp_path, capsys):
    server.files["f"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f"], "md5": md5(BLOB)}])
    assert main(["data", "fetch", "toy", "digits", "--to", str(tmp_path / "here")]) == 0
    out = capsys.readouterr().out
    assert f"toy: ready under {tmp_path / 'here'}" in out and "digits: nothing to fetch" in out
    assert main(["data", "fetch", "nosuchset"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown dataset 'nosuchset'" in err[0] and "tinyshakespeare" in err[0]
    assert main(["data", "fetch"]) == 2 and "name the dataset" in capsys.readouterr().err
    assert main(["data", "list", "--to", "x"]) == 2 and "only for fetch" in capsys.readouterr().err
    use_toy(monkeypatch, [{"path": "toy/y", "urls": [dead_url()]}])
    assert main(["data", "fetch", "toy", "--to", str(tmp_path / "y")]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith("deepnet: error: toy: could not reach 127.0.0.1")


def test_table_covers_every_dataset_and_every_item_is_checked():
    assert set(SHARED_README_DATASETS) <= set(download.SOURCES)
    for name, spec in table().items():
        assert spec["description"] and spec["licence"] and spec["homepage"] and spec["checksums"], name
        assert spec["options"]
        for option in spec["options"]:
            for item in option["items"]:
                if "tree" in item:
                    assert item["checks"], (name, item)
                    continue
                assert item["path"].split("/")[0] == name or name == "nltk_data", item
                assert ".." not in item["path"].split("/") and not item["path"].startswith("/")
                assert all(u.startswith(("https://", "http://")) for u in item["urls"])
                assert item.get("size") is None or isinstance(item["size"], int)
                checked = item.get("md5") or item.get("sha256") or item.get("extract", {}).get("checks")
                assert checked or item.get("structure"), (name, item["path"])
                if item.get("structure"):
                    assert item["structure"] in fetching.STRUCTURES
    # duplicated literals agree with the loaders' own checks
    (canonical,) = [i for i in download.entry("cifar10")["options"][0]["items"]]
    assert {c["file"]: c["md5"] for c in canonical["extract"]["checks"]} == cifar10.CANONICAL_MD5
    assert [i["path"] for i in download.entry("mnist")["options"][0]["items"]] == list(mnist.FILES)
    assert "digits" in download.names()
    with pytest.raises(ConfigError, match="nothing to fetch"):
        download.entry("digits")


def test_table_checksums_match_the_shared_copies(data_dir):
    """Every SHA-256 we computed and cite holds for the copy it was computed over."""
    checked = 0
    for name, spec in table().items():
        for option in spec["options"]:
            for item in option["items"]:
                if "tree" in item:
                    if (data_dir / item["tree"]).is_dir():
                        fetching.run_checks(data_dir / item["tree"], item["checks"], item["tree"])
                        checked += 1
                elif item.get("sha256") and (data_dir / item["path"]).is_file():
                    assert fetching.file_digest(data_dir / item["path"], "sha256") == item["sha256"], item["path"]
                    checked += 1
    assert checked >= 90


def test_fetch_real_entries_from_the_shared_copy_as_mirror(data_dir, tmp_path):
    """The real table, with the shared data folder as a local mirror: files and a tree."""
    root = tmp_path / "fetched"
    for name in ("tinyshakespeare", "nltk_data", "fsdd"):
        download.fetch(name, root=root, mirror=str(data_dir), progress=False)
    assert (root / "tinyshakespeare" / "input.txt").read_bytes() == (data_dir / "tinyshakespeare/input.txt").read_bytes()
    assert len(list((root / "fsdd" / "recordings").glob("*.wav"))) == 3000


def test_mirror_miss_then_offline_names_both(server, monkeypatch, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [dead_url() + "f"], "md5": md5(BLOB)}])
    with pytest.raises(DataError) as e:
        download.fetch("toy", root=tmp_path / "root", mirror=str(mirror), progress=False)
    msg = str(e.value)
    assert f"mirror {mirror} has no toy/data.bin; could not reach 127.0.0.1" in msg
    assert f"check DEEPNET_MIRROR={mirror}" in msg


def test_present_in_a_read_only_data_folder_is_not_fetched_again(server, monkeypatch, tmp_path):
    server.files["f"] = BLOB
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [server.url + "f"], "md5": md5(BLOB)}])
    shared = tmp_path / "shared"
    (shared / "toy").mkdir(parents=True)
    (shared / "toy" / "data.bin").write_bytes(BLOB)
    monkeypatch.setenv("DEEPNET_DATA", str(shared))
    assert download.fetch("toy", progress=False) == shared.resolve()
    assert server.requests == []


def test_verified_archive_left_by_an_interrupted_unpacking_is_not_downloaded_again(server, monkeypatch, tmp_path):
    blob = tar_gz([(f"pack-1.0/{k}", v) for k, v in TREE.items()])
    server.files["pack.tar.gz"] = blob
    use_toy(monkeypatch, [archive_item(server.url + "pack.tar.gz", blob, [tree_check(TREE)])])
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "pack.tar.gz").write_bytes(blob)
    download.fetch("toy", root=tmp_path, progress=False)
    assert (tmp_path / "toy" / "tree" / "a.txt").read_bytes() == TREE["a.txt"]
    assert server.requests == [] and not (tmp_path / "toy" / "pack.tar.gz").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_target_is_one_line(monkeypatch, tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    use_toy(monkeypatch, [{"path": "toy/data.bin", "urls": [dead_url()], "md5": md5(BLOB)}])
    with pytest.raises(DataError, match="cannot write to"):
        download.fetch("toy", root=locked, progress=False)
