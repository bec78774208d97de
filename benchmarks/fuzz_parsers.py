"""Coverage-guided fuzzing (atheris / libFuzzer) of the parsers of downloaded bytes.

Not part of `make test` (tests/test_fuzz_parsers.py is the bounded property-based version).

    .venv/bin/pip install atheris
    .venv/bin/python benchmarks/fuzz_parsers.py                 # each target for 60 s
    .venv/bin/python benchmarks/fuzz_parsers.py idx -max_total_time=300 -rss_limit_mb=1024

Targets: idx (mnist.read_idx, raw and gzipped), cifar (cifar10.read_batch, the restricted
unpickler). The inputs are written to a file and read through the real entry points. A finding is
any exception other than DataError, a DataError whose message spans several lines, a memory blow-up
(libFuzzer's -rss_limit_mb) or a hang (-timeout): libFuzzer stops and writes crash-*/oom-*/timeout-*
with the input in the current folder.
"""

import gzip
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import atheris
import numpy as np

with atheris.instrument_imports(include=["deepnet"]):  # not torch: a slow start for nothing
    from deepnet.data import cifar10, mnist
    from deepnet.errors import DataError


def _instrument_unpickler():
    """Coverage feedback inside the pure-Python unpickler that cifar10 uses (stdlib code is not
    instrumented by instrument_imports): its methods and its opcode dispatch table."""
    done = {}
    for name, fn in list(vars(pickle._Unpickler).items()):
        if callable(fn) and hasattr(fn, "__code__"):
            done[fn] = atheris.instrument_func(fn)
            setattr(pickle._Unpickler, name, done[fn])
    pickle._Unpickler.dispatch = {k: done.get(f, f) for k, f in pickle._Unpickler.dispatch.items()}


_instrument_unpickler()

WORK = Path(tempfile.mkdtemp(prefix="deepnet-fuzz-"))


def _run(fn, path):
    try:
        fn(path)
    except DataError as e:
        if "\n" in str(e) or "\r" in str(e):
            raise AssertionError(f"DataError spans several lines: {str(e)!r}") from None


def fuzz_idx(data):
    # first byte chooses raw or gzipped, so the fuzzer reaches both the gzip and the idx logic
    if not data:
        return
    gz, body = data[0] & 1, data[1:]
    path = WORK / ("input.gz" if gz else "input.idx")
    path.write_bytes(gzip.compress(body, mtime=0) if gz and data[0] & 2 else body)
    _run(mnist.read_idx, path)


def fuzz_cifar(data):
    path = WORK / "data_batch_1"
    path.write_bytes(data)
    _run(cifar10.read_batch, path)


TARGETS = {"idx": fuzz_idx, "cifar": fuzz_cifar}


def seeds(target, folder):
    """A few valid inputs to start from."""
    folder.mkdir(parents=True, exist_ok=True)
    if target == "idx":
        a = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
        raw = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in a.shape) + a.tobytes()
        (folder / "raw").write_bytes(b"\x00" + raw)
        (folder / "gz-inner").write_bytes(b"\x03" + raw)  # compressed by the harness
        (folder / "gz-stream").write_bytes(b"\x01" + gzip.compress(raw, mtime=0))
        labels = bytes([0, 0, 8, 1, 0, 0, 0, 5]) + bytes(range(5))
        (folder / "labels").write_bytes(b"\x00" + labels)
    else:
        rng = np.random.default_rng(0)
        for protocol in (2, 4):
            blob = pickle.dumps({"batch_label": "seed", "data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                                 "labels": [3, 7], "filenames": ["a.png", "b.png"]}, protocol=protocol)
            (folder / f"batch-p{protocol}").write_bytes(blob)


def main():
    args = sys.argv[1:]
    names = [a for a in args if a in TARGETS]
    flags = [a for a in args if a not in TARGETS]
    if len(names) != 1:
        # one process per target: libFuzzer exits the process when its time is up
        status = 0
        for name in names or list(TARGETS):
            extra = flags or ["-max_total_time=60"]
            print(f"== fuzzing {name} ({' '.join(extra)})", flush=True)
            status |= subprocess.call([sys.executable, __file__, name, *extra])
        sys.exit(status)
    name = names[0]
    corpus = WORK / f"corpus-{name}"
    seeds(name, corpus)
    if not any(f.startswith("-max_total_time") or f.startswith("-runs") for f in flags):
        flags.append("-max_total_time=60")
    atheris.Setup([sys.argv[0], *flags, str(corpus)], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    os.environ.setdefault("DEEPNET_NO_DOWNLOAD", "1")
    main()
