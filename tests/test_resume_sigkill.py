"""A training process killed with SIGKILL resumes from its last checkpoint and ends exactly
where an uninterrupted run ends (CPU, same seed, one thread)."""

import os
import signal
import subprocess
import sys
import time

import torch

from deepnet.core.checkpoint import load_checkpoint
from deepnet.core.train import read_metrics

from conftest import REPO

# long enough (about 2,000 steps) that the kill lands mid-run; dropout makes the RNG state matter
ARGS = ["train", "mlp", "--data", "digits", "--hidden", "256", "256", "--dropout", "0.2", "--epochs", "30",
        "--batch-size", "16", "--lr", "0.05", "--checkpoint-every", "25", "--threads", "1", "--no-progress",
        "--device", "cpu", "--seed", "3"]


def start(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "deepnet.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    killed = tmp_path / "killed"
    p = start(*ARGS, "--out", str(killed))
    # wait for a mid-epoch checkpoint (sampler position > 0), then kill without warning
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        ck = killed / "checkpoint.pt"
        if ck.exists():
            try:
                state = load_checkpoint(ck)
            except Exception:  # noqa: BLE001 - replaced between exists() and open(): look again
                continue
            if state["sampler_state"]["batch"] > 0 and state["step"] >= 200:
                break
        time.sleep(0.02)
    assert p.poll() is None, "training finished before it could be killed: make it longer"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    assert p.returncode == -signal.SIGKILL
    saved = load_checkpoint(killed / "checkpoint.pt")
    total = 30 * 68  # 1,079 digits in batches of 16
    assert 0 < saved["step"] < total

    resumed = start(*ARGS, "--out", str(killed), "--resume", str(killed))
    reference = start(*ARGS, "--out", str(tmp_path / "reference"))
    for proc in (resumed, reference):
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err

    events = read_metrics(killed)
    assert {"event": "resume", "step": saved["step"], "epoch": saved["epoch"]} in events
    a = load_checkpoint(killed / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "reference" / "checkpoint.pt")
    assert a["step"] == b["step"] == total
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["metrics"]["best"]["val_loss"] == b["metrics"]["best"]["val_loss"]
