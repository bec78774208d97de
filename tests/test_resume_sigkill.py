"""Every training loop `deepnet train` runs, killed with SIGKILL in the middle of training, resumes
with `deepnet train --resume` and ends exactly where an uninterrupted run ends (CPU, same seed,
one thread): final weights torch.equal, same step count, same best validation record.

One case per system (two for the memory network: killed during linear start, and after it).
Each case is sized to take well under 30 s here: long enough that the kill lands mid-run, with
dropout or other random draws wherever the system has them, so that the RNG states matter.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from deepnet.core.checkpoint import load_checkpoint
from deepnet.core.run import read_metrics

from conftest import REPO, shared_data_dir

COMMON = ["--no-progress", "--device", "cpu", "--threads", "1"]

# the paper's rate for a summed cost (0.01) on the engine's batch mean, clipped at 40 / 32 (memory_network.paper_train_config)
MEMN2N = ["--lr", "0.32", "--momentum", "0", "--clip-grad", "1.25", "--batch-size", "32"]

# name: (deepnet train arguments, the checkpoint to watch, the least step at which to kill, data it needs)
CASES = {
    "mlp": (["mlp", "--data", "digits", "--hidden", "256", "256", "--dropout", "0.2", "--epochs", "30",
             "--batch-size", "16", "--lr", "0.05", "--checkpoint-every", "25", "--seed", "3"],
            "checkpoint.pt", 200, None),
    "linear": (["linear", "--data", "digits", "--epochs", "60", "--batch-size", "8", "--lr", "0.01",
                "--checkpoint-every", "25", "--seed", "1"], "checkpoint.pt", 300, None),
    "convnet": (["convnet", "--data", "mnist", "--channels", "4", "8", "--fc", "16", "--dropout", "0.2",
                 "--epochs", "2", "--batch-size", "128", "--lr", "0.02", "--checkpoint-every", "20"],
                "checkpoint.pt", 100, "mnist"),
    "memory_network_in_linear_start": (
        ["memory_network", "--data", "babi", "--linear-start", "6", "--epochs", "4", *MEMN2N, "--checkpoint-every", "5"],
        "linear_start/checkpoint.pt", 40, "babi"),
    "memory_network_after_linear_start": (
        ["memory_network", "--data", "babi", "--linear-start", "2", "--epochs", "8", *MEMN2N, "--checkpoint-every", "5"],
        "checkpoint.pt", 40, "babi"),
    "rnn_lm": (["rnn_lm", "--data", "tinyshakespeare", "--embed", "16", "--hidden", "64", "--bptt", "32",
                "--dropout", "0.1", "--reset-prob", "0.2", "--batch-size", "16", "--max-steps", "400",
                "--eval-every", "100", "--eval-tokens", "2000", "--optimizer", "adamw", "--lr", "3e-3",
                "--checkpoint-every", "20"], "checkpoint.pt", 120, "tinyshakespeare"),
    "nplm": (["nplm", "--data", "brown", "--subset", "20000", "--context", "2", "--embed", "8", "--hidden", "16",
              "--dropout", "0.1", "--epochs", "3", "--batch-size", "128", "--lr", "0.05", "--checkpoint-every", "20"],
             "checkpoint.pt", 200, "brown"),
    "ntm": (["ntm", "--data", "copy", "--controller-size", "32", "--memory-n", "32", "--batch-size", "8",
             "--max-len", "10", "--val-lengths", "5", "10", "--steps", "400", "--val-every", "100",
             "--checkpoint-every", "20"], "checkpoint.pt", 120, None),
    # a deep belief net by PCD-3 (the fantasy chains and momentum buffers are carried), killed in its second layer
    "rbm": (["rbm", "--data", "digits", "--layers", "256", "128", "--persistent", "--cd-steps", "3", "--epochs", "30",
             "--batch-size", "16", "--checkpoint-every", "25", "--seed", "3"], "checkpoint.pt", 2300, None),
    # a deep autoencoder killed while its RBM stack pre-trains (second layer), while its second denoising layer
    # trains, and while it is fine-tuned
    "autoencoder_in_rbm_pretraining": (
        ["autoencoder", "--data", "digits", "--layers", "256", "128", "--pretrain", "rbm", "--pretrain-epochs", "30",
         "--pretrain-batch-size", "16", "--epochs", "2", "--checkpoint-every", "25", "--seed", "3"],
        "pretrain/checkpoint.pt", 2300, None),
    "autoencoder_in_dae_pretraining": (
        ["autoencoder", "--data", "digits", "--layers", "256", "128", "--pretrain", "dae", "--pretrain-epochs", "12",
         "--pretrain-batch-size", "16", "--epochs", "2", "--checkpoint-every", "25", "--seed", "3"],
        "pretrain/layer2/checkpoint.pt", 200, None),
    "autoencoder_fine_tuning": (
        ["autoencoder", "--data", "digits", "--layers", "256", "128", "--pretrain", "dae", "--pretrain-epochs", "2",
         "--epochs", "40", "--batch-size", "16", "--checkpoint-every", "25", "--seed", "3"],
        "checkpoint.pt", 600, None),
    "seq2seq": (["seq2seq", "--data", "multi30k", "--subset", "800", "--src-vocab", "200", "--tgt-vocab", "200",
                 "--embed", "16", "--hidden", "32", "--attn-size", "16", "--layers", "1", "--epochs", "2",
                 "--batch-size", "32", "--optimizer", "adamw", "--lr", "3e-3", "--checkpoint-every", "5"],
                "checkpoint.pt", 20, "multi30k"),
    # DQN on CartPole: a 300-transition replay memory that wraps around (memory-mapped in the run folder,
    # restored from its pointers), epsilon-greedy draws, checkpoints at game ends
    "dqn": (["dqn", "--env", "CartPole-v1", "--hidden", "32", "--steps", "3000", "--buffer-size", "300",
             "--learning-starts", "200", "--train-every", "2", "--target-every", "50", "--batch-size", "32",
             "--eval-every", "1000", "--eval-episodes", "2", "--checkpoint-every", "100"], "checkpoint.pt", 800, None),
    # a soft-attention captioner on frozen features of 400 CIFAR-10 scenes (the scenes and the encoder are cached)
    "captioning": (["captioning", "--data", "scenes", "--train-scenes", "400", "--val-scenes", "40", "--test-scenes",
                    "40", "--pretrain-images", "500", "--pretrain-epochs", "1", "--channels", "4", "8", "8",
                    "--embed", "8", "--hidden", "16", "--attn-size", "8", "--dropout", "0.2", "--epochs", "3",
                    "--batch-size", "16", "--checkpoint-every", "5"], "checkpoint.pt", 20, "cifar10"),
    # BLSTM-CTC on 32 AN4 utterances, with dropout between its two layers
    "ctc": (["ctc", "--data", "an4", "--subset", "32", "--layers", "2", "--hidden", "16", "--dropout", "0.2",
             "--epochs", "2", "--batch-size", "4", "--checkpoint-every", "2"], "checkpoint.pt", 6, "an4"),
    # frames of 600 FSDD recordings, dropout 0.2 (the default): killed in its third epoch of six
    "acoustic_dnn": (["acoustic_dnn", "--data", "fsdd", "--subset", "600", "--hidden", "64", "64", "--epochs", "6",
                      "--checkpoint-every", "5"], "checkpoint.pt", 45, "fsdd"),
    # the Recurrent Attention Model on 3,000 MNIST digits: its glimpse locations are drawn from torch's generator
    # at every step (the REINFORCE actions), killed in its second epoch of four
    "glimpse": (["glimpse", "--data", "mnist", "--subset", "3000", "--glimpses", "4", "--scales", "2", "--epochs", "4",
                 "--batch-size", "32", "--checkpoint-every", "20"], "checkpoint.pt", 100, "mnist"),
}


def start(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "deepnet.cli", "train", *args, *COMMON], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(proc, path, least_step, timeout=120):
    """The state of `path` once it holds an unfinished run at least `least_step` steps in."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.exists():
            try:
                state = load_checkpoint(path)
            except Exception:  # noqa: BLE001 - replaced between exists() and open(): look again
                continue
            if state["step"] >= least_step and not state.get("finished"):
                return state
        time.sleep(0.01)
    return None


@pytest.fixture(autouse=True)
def _data(monkeypatch):
    shared = shared_data_dir()
    if shared is not None:
        monkeypatch.setenv("DEEPNET_DATA", str(shared))


@pytest.mark.parametrize("case", sorted(CASES))
def test_sigkill_mid_run_then_resume_equals_an_uninterrupted_run(case, tmp_path):
    from deepnet import data as datasets

    args, watched, least_step, needs = CASES[case]
    if needs and not datasets.available(needs):
        pytest.skip(f"data absent: {needs}")
    killed, reference = tmp_path / "killed", tmp_path / "reference"
    ref = start([*args, "--out", str(reference)])  # beside the run to be killed: the two share the 2 cores
    p = start([*args, "--out", str(killed)])
    saved = wait_for_checkpoint(p, killed / watched, least_step)
    assert p.poll() is None, f"training ended before it could be killed: make it longer\n{p.stderr.read()}"
    os.kill(p.pid, signal.SIGKILL)  # no warning, no clean-up: as a power cut or the OOM killer would
    p.wait()
    assert p.returncode == -signal.SIGKILL and saved is not None
    # the run may have written a later checkpoint between our look and the kill: what is on disk now is what resumes
    saved = load_checkpoint(killed / watched)
    assert not saved.get("finished"), "the run finished before it could be killed: make it longer"

    resumed = subprocess.run([sys.executable, "-m", "deepnet.cli", "train", "--resume", str(killed), *COMMON],
                             cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    out, err = ref.communicate(timeout=300)
    assert ref.returncode == 0, err

    watched_dir = (killed / watched).parent
    assert any(r.get("event") == "resume" and r["step"] == saved["step"] for r in read_metrics(watched_dir))
    a, b = load_checkpoint(killed / "checkpoint.pt"), load_checkpoint(reference / "checkpoint.pt")
    assert a["step"] == b["step"] and a["finished"] == b["finished"] == "budget"
    assert a["model"].keys() == b["model"].keys()
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    best_a, best_b = load_checkpoint(killed / "best.pt")["metrics"], load_checkpoint(reference / "best.pt")["metrics"]
    assert _no_times(best_a) == _no_times(best_b)


def _no_times(record):
    """A metrics record without its wall times (which no two runs share)."""
    if isinstance(record, dict):
        return {k: _no_times(v) for k, v in record.items() if k != "seconds"}
    return record


def test_kernel_svm_killed_during_its_solve_leaves_nothing_to_resume_and_starts_again(tmp_path):
    """libsvm's solve is one call with no state to save part-way (exact resume cannot exist): a run
    killed during it holds no checkpoint; --resume says there is nothing to resume; started again
    in the same folder, it ends equal to an uninterrupted run."""
    args = ["kernel_svm", "--data", "digits", "--max-train", "0", "--seed", "2"]
    run = tmp_path / "run"
    p = start([*args, "--out", str(run)])
    deadline = time.time() + 60
    while time.time() < deadline and p.poll() is None and not (run / "config.json").exists():
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    if not (run / "checkpoint.pt").exists():  # killed before the solve ended: as expected on 2 cores
        r = subprocess.run([sys.executable, "-m", "deepnet.cli", "train", "--resume", str(run), *COMMON], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode != 0 and "nothing to resume" in r.stderr and len(r.stderr.strip().splitlines()) == 1
        again = start([*args, "--out", str(run)])
        assert again.wait(timeout=120) == 0, again.stderr.read()
    reference = start([*args, "--out", str(tmp_path / "reference")])
    assert reference.wait(timeout=120) == 0, reference.stderr.read()
    a, b = load_checkpoint(run / "checkpoint.pt"), load_checkpoint(tmp_path / "reference" / "checkpoint.pt")
    for k in b["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    done = subprocess.run([sys.executable, "-m", "deepnet.cli", "train", "--resume", str(run), *COMMON], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "finished" in done.stdout
