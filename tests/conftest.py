import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
_DEEPNET_DATA = os.environ.get("DEEPNET_DATA")  # read once: some tests unset it
# The suite never touches the network: loaders that find no data raise instead of fetching
# (subprocesses inherit this). tests/test_download.py fetches from its own 127.0.0.1 server.
os.environ["DEEPNET_NO_DOWNLOAD"] = "1"
# Decoded arrays go to a cache of the session's own, removed at its end: the suite never writes
# into the user's ~/.cache/deepnet (the shared DEEPNET_DATA is only read).
_CACHE = tempfile.mkdtemp(prefix="deepnet-test-cache-")
os.environ["DEEPNET_CACHE"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)


def shared_data_dir():
    """The real data folder: $DEEPNET_DATA, else ../shared/data beside the checkout, else None."""
    env = _DEEPNET_DATA
    if env:
        return Path(env).resolve() if Path(env).is_dir() else None
    guess = REPO.parent / "shared" / "data"
    return guess if guess.is_dir() else None


@pytest.fixture
def data_dir(monkeypatch):
    d = shared_data_dir()
    if d is None or not d.is_dir():
        pytest.skip("no data folder: set DEEPNET_DATA to the shared data folder")
    monkeypatch.setenv("DEEPNET_DATA", str(d))
    return d


@pytest.fixture(autouse=True)
def _few_threads():
    # tests use small models: one thread is fastest for them and robust when the other core is busy
    torch.set_num_threads(1)
    # each test starts from the same global random state, whatever ran before it: a test's
    # outcome must not hang on the order or selection of the tests around it
    torch.manual_seed(0)
