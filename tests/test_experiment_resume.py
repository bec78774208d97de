"""`deepnet reproduce` stopped part-way and run again takes the experiment up where it stopped.

Each case runs an experiment's smoke profile three times: straight through; stopped by a Ctrl-C
that lands at a checkpoint half-way through its training (KeyboardInterrupt raised by the Run's
checkpoint writer); and again with the same command. The third run must continue every training
run from its folder (core/run.py's continue_runs) and end with the straight run's metrics, bar
the timings. One case per kind of training loop an experiment drives.
"""

import json

import pytest

from deepnet.cli import EXPERIMENTS, main
from deepnet.core import run as run_module
from deepnet.errors import DeepnetError
from deepnet.experiments import load, missing_data

from conftest import shared_data_dir

CASES = {
    "sgd_digits": [],  # the engine (core/train.py), several models
    "ntm_priority_sort": ["--lrs", "1e-3", "3e-3", "--pilot-steps", "3", "--steps", "8"],  # NTM loop, piloted grid
    "relu_vs_tanh": [],  # a rate race advancing one epoch at a time
    "babi_hops": [],  # bAbI's unit cache (its units train in folders of their own, a stopped one afresh)
    "autoencoder_mnist": [],  # pre-training phases, then fine-tuning
    "rbm_loglik": [],  # the greedy RBM loop
    "char_lm_shakespeare": [],  # truncated BPTT
    "dqn_atari": [],  # DQN with its replay memory
    "speech_dnn_vs_gmm": [],  # a kept model copied out before more training
}

# timings, and the count of units a cache gave back (bookkeeping: a take-up reuses the units done before the stop)
TIMING = ("second", "per_s", "rtf", "hours", "minutes", "from_cache")


def untimed(metrics):
    return {k: v for k, v in metrics.items() if not any(t in k for t in TIMING)}


def count_checkpoints(monkeypatch):
    calls = {"n": 0, "stop_at": None}
    real = run_module.Run.checkpoint

    def counted(self, **kw):
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            raise KeyboardInterrupt
        return real(self, **kw)

    monkeypatch.setattr(run_module.Run, "checkpoint", counted)
    return calls


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stopped_experiment_is_taken_up_and_ends_as_a_straight_run(name, tmp_path, monkeypatch, capsys):
    shared = shared_data_dir()
    if shared is not None:
        monkeypatch.setenv("DEEPNET_DATA", str(shared))
    if missing_data(load(EXPERIMENTS[name])):
        pytest.skip("data absent")
    args = ["--threads", "1", "reproduce", name, "--smoke", *CASES[name]]
    calls = count_checkpoints(monkeypatch)
    assert main([*args, "--out", str(tmp_path / "straight")]) == 0
    straight = json.loads((tmp_path / "straight" / name / "result.json").read_text())
    straight_checkpoints = calls["n"]
    assert straight_checkpoints >= 2, "the smoke profile writes too few checkpoints to be stopped part-way"

    calls.update(n=0, stop_at=straight_checkpoints // 2 + 1)
    out = tmp_path / "stopped"
    assert main([*args, "--out", str(out)]) != 0  # the Ctrl-C: a non-zero exit
    assert not (out / name).exists() and (out / f".{name}.partial" / "experiment.json").exists()
    capsys.readouterr()

    calls.update(n=0, stop_at=None)
    assert main([*args, "--out", str(out)]) == 0
    assert "taking up the run stopped" in capsys.readouterr().out
    again = json.loads((out / name / "result.json").read_text())
    assert again["attempts"] == 2 and not (out / f".{name}.partial").exists()
    assert untimed(again["metrics"]) == untimed(straight["metrics"])
    # continued, not trained again from the start: the take-up writes fewer checkpoints than the straight run
    assert calls["n"] < straight_checkpoints


def test_other_settings_are_refused_while_a_stopped_run_waits_and_fresh_discards_it(tmp_path, monkeypatch, capsys):
    calls = count_checkpoints(monkeypatch)
    calls["stop_at"] = 2
    out = tmp_path / "runs"
    base = ["--threads", "1", "reproduce", "ntm_copy", "--smoke", "--out", str(out)]
    assert main(base) == 130  # Ctrl-C
    assert "the same command takes it up" in capsys.readouterr().err
    calls.update(n=0, stop_at=None)
    assert main([*base, "--seed", "5"]) != 0  # other settings: refused, the stopped run kept
    err = capsys.readouterr().err
    assert "other settings (seed)" in err and "--fresh" in err and len(err.strip().splitlines()) == 1
    assert (out / ".ntm_copy.partial" / "experiment.json").exists()
    assert main([*base, "--seed", "5", "--fresh"]) == 0
    assert "taking up" not in capsys.readouterr().out
    assert "attempts" not in json.loads((out / "ntm_copy" / "result.json").read_text())


def test_the_commit_recorded_is_the_one_each_attempt_started_on(tmp_path, monkeypatch, capsys):
    import deepnet.experiments as experiments
    from deepnet.core import runtime

    commits = iter(["aaa111", "bbb222", "ccc333", "ddd444"])
    monkeypatch.setattr(experiments, "git_commit", lambda: next(commits))
    monkeypatch.setattr(runtime, "git_commit", lambda: "commit-at-the-end")  # what environment() would read
    out = tmp_path / "runs"
    base = ["--threads", "1", "reproduce", "ntm_copy", "--smoke", "--out", str(out)]
    assert main(base) == 0  # a straight run: the commit it started on, not the one present when it ended
    env = json.loads((out / "ntm_copy" / "result.json").read_text())["env"]
    assert env["git_commit"] == "aaa111" and "git_commits_of_attempts" not in env

    calls = count_checkpoints(monkeypatch)
    calls["stop_at"] = 2
    assert main([*base, "--fresh"]) == 130  # started on bbb222, stopped
    calls.update(n=0, stop_at=None)
    assert main(base) == 0  # taken up on ccc333
    env = json.loads((out / "ntm_copy" / "result.json").read_text())["env"]
    assert env["git_commit"] == "ccc333" and env["git_commits_of_attempts"] == ["bbb222", "ccc333"]
    capsys.readouterr()


def test_a_resumed_run_forgets_what_it_logged_after_its_checkpoint(tmp_path):
    with run_module.Run(tmp_path, {"system": "x"}) as r:
        r.log({"event": "train", "step": 1})
        r.checkpoint(model=torch_linear(), step=1, epoch=0)
        r.log({"event": "train", "step": 2})  # lost with the stop: logged again after the resume
    r = run_module.Run(tmp_path, {"system": "x"}, resume=True)
    assert [m["step"] for m in run_module.read_metrics(tmp_path)] == [1]


def test_a_run_outside_an_experiment_still_refuses_a_used_folder(tmp_path):
    run_dir = tmp_path / "r"
    settings = {"system": "x", "train": {"lr": 0.1}}
    with run_module.Run(run_dir, settings) as r:
        r.checkpoint(model=torch_linear(), step=1, epoch=0, finished="budget")
    with pytest.raises(DeepnetError, match="already holds a run"):
        run_module.Run(run_dir, settings)
    with run_module.continue_runs():  # inside an experiment: continued (here finished: done)
        r = run_module.Run(run_dir, settings)
        assert r.done and r.state["step"] == 1
        with pytest.raises(DeepnetError, match=r"other settings \(train.lr\)"):
            run_module.Run(run_dir, {"system": "x", "train": {"lr": 0.2}})
    assert not run_module.Run(tmp_path / "new", settings).done


def torch_linear():
    import torch

    return torch.nn.Linear(2, 1)
