import dataclasses
import json
import math
import os

import pytest
import torch
from torch import nn

from deepnet.core import checkpoint as ck
from deepnet.core.runtime import seed_everything
from deepnet.core.run import Interrupted, RunFinished, read_metrics
from deepnet.core.train import TrainConfig, batches, fit, lr_factor
from deepnet.data import digits
from deepnet.errors import CheckpointError, TrainingDiverged
from deepnet.systems import load_run, mlp


@pytest.fixture(scope="module")
def data():
    return digits.load(seed=0)


def run_config(data, hidden=(32,)):
    return {"system": "mlp", "model": {"hidden": list(hidden), "activation": "relu", "dropout": 0.0},
            "data": {**data.info(), "seed": 0}}


def new_model(data, seed=0, hidden=(32,), dropout=0.0):
    seed_everything(seed)
    return mlp.MLP(64, 10, hidden, "relu", dropout)


def test_small_mlp_learns_digits(data, tmp_path):
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.1, schedule="cosine", monitor="accuracy", progress=False)
    r = fit(new_model(data), data, cfg, tmp_path / "run", run_config(data))
    # a linear classifier reaches about 0.95 on this split; a hidden layer trained by SGD does better
    assert r["test"]["accuracy"] >= 0.96
    assert r["history"][-1]["train_loss"] < r["history"][0]["train_loss"] / 5
    for name in ("config.json", "checkpoint.pt", "best.pt", "metrics.jsonl"):
        assert (tmp_path / "run" / name).exists()
    events = [rec["event"] for rec in read_metrics(tmp_path / "run")]
    assert events.count("epoch") == 10 and events[-1] == "test"
    # the run folder rebuilds the model with its best weights
    model = load_run(tmp_path / "run")
    x, y = data.test.x, data.test.y
    acc = (model(x)[0].argmax(1) == y).float().mean().item()
    assert acc == pytest.approx(r["test"]["accuracy"], abs=1e-6)


def test_cpu_amp_trains_in_bf16_and_learns(data, tmp_path):
    model = new_model(data)
    seen = set()
    model.net[0].register_forward_hook(lambda m, i, o: seen.add(o.dtype))  # the first Linear layer
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.1, schedule="cosine", monitor="accuracy", progress=False,
                      device="cpu", cpu_amp=True)
    r = fit(model, data, cfg, tmp_path / "run", run_config(data))
    assert seen == {torch.bfloat16}  # training, validation and test ran under bf16 autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the weights stay fp32
    assert r["test"]["accuracy"] >= 0.95  # as good as the fp32 run, within bf16's rounding


def test_batches_cover_each_example_once_and_resume_mid_epoch():
    x = torch.arange(10).float().unsqueeze(1)
    ds = type("D", (), {"x": x, "y": torch.arange(10), "__len__": lambda self: 10})()
    full = [b[1] for b in batches(ds, 3, shuffle=True, seed=1, epoch=2)]
    assert sorted(torch.cat(full).tolist()) == list(range(10))
    assert [len(b) for b in full] == [3, 3, 3, 1]
    rest = [b[1] for b in batches(ds, 3, shuffle=True, seed=1, epoch=2, start=2)]
    assert all(torch.equal(a, b) for a, b in zip(full[2:], rest))
    other = torch.cat([b[1] for b in batches(ds, 3, shuffle=True, seed=1, epoch=3)])
    assert not torch.equal(torch.cat(full), other)


def test_schedules():
    cfg = TrainConfig(schedule="cosine", warmup=0.1)
    f = [lr_factor(s, 100, cfg, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)  # linear warm-up over 10 steps
    assert f[10] == pytest.approx(1.0) and f[-1] < 0.01 and all(a >= b for a, b in zip(f[10:], f[11:]))
    one = [lr_factor(s, 100, TrainConfig(schedule="onecycle", warmup=0.2), 10) for s in range(100)]
    assert max(one) == pytest.approx(1.0) and one.index(max(one)) == 19 and one[-1] < 0.02
    step = TrainConfig(schedule="step", step_epochs=2, step_gamma=0.5)
    assert [lr_factor(s, 100, step, 10) for s in (0, 19, 20, 45)] == [1.0, 1.0, 0.5, 0.25]
    assert lr_factor(50, 100, TrainConfig(), 10) == 1.0


class Interrupt(Exception):
    pass


def test_resume_continues_from_saved_step_and_ends_where_an_uninterrupted_run_does(data, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=64, lr=0.05, checkpoint_every=5, log_every=5, progress=False)
    steps_per_epoch = math.ceil(len(data.train) / 64)
    ref = new_model(data, dropout=0.2)
    fit(ref, data, cfg, tmp_path / "ref", run_config(data))

    model = new_model(data, dropout=0.2)
    calls = {"n": 0}
    forward = model.forward

    def crash_at_step_23(x, y=None):
        if model.training:
            calls["n"] += 1
            if calls["n"] == 23:
                raise Interrupt
        return forward(x, y)

    model.forward = crash_at_step_23
    with pytest.raises(Interrupt):
        fit(model, data, cfg, tmp_path / "run", run_config(data))
    saved = ck.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert saved["step"] == 20 and saved["sampler_state"]["batch"] == 20 - steps_per_epoch

    resumed = new_model(data, seed=123, dropout=0.2)  # weights come from the checkpoint, not the seed
    r = fit(resumed, data, cfg, tmp_path / "run", run_config(data), resume=True)
    assert r["steps"] == 3 * steps_per_epoch
    records = read_metrics(tmp_path / "run")
    assert {"event": "resume", "step": 20, "epoch": 1} in records
    for a, b in zip(ref.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


def test_refuses_to_overwrite_a_run_or_resume_with_other_settings(data, tmp_path):
    cfg = TrainConfig(epochs=1, progress=False)
    fit(new_model(data), data, cfg, tmp_path / "run", run_config(data))
    with pytest.raises(CheckpointError, match="already holds a run"):
        fit(new_model(data), data, cfg, tmp_path / "run", run_config(data))
    with pytest.raises(CheckpointError, match="train.lr"):
        fit(new_model(data), data, TrainConfig(epochs=1, lr=0.3, progress=False), tmp_path / "run",
            run_config(data), resume=True)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(new_model(data), data, cfg, tmp_path / "elsewhere", run_config(data), resume=True)


def test_a_finished_run_says_so_and_a_larger_epochs_continues_it_exactly(data, tmp_path):
    """Resuming a finished run is refused with RunFinished; --epochs may grow, and then the run ends
    equal to one planned that long from the start (constant rate); a shrunk budget is refused."""
    cfg2 = TrainConfig(epochs=2, batch_size=64, lr=0.05, progress=False)
    cfg4 = TrainConfig(epochs=4, batch_size=64, lr=0.05, progress=False)
    ref = new_model(data, dropout=0.2)
    fit(ref, data, cfg4, tmp_path / "ref", run_config(data))
    fit(new_model(data, dropout=0.2), data, cfg2, tmp_path / "run", run_config(data))
    with pytest.raises(RunFinished, match="larger --epochs"):
        fit(new_model(data), data, cfg2, tmp_path / "run", run_config(data), resume=True)
    with pytest.raises(CheckpointError, match="train.epochs"):
        fit(new_model(data), data, TrainConfig(epochs=1, batch_size=64, lr=0.05, progress=False), tmp_path / "run",
            run_config(data), resume=True)
    longer = new_model(data, seed=7, dropout=0.2)
    r = fit(longer, data, cfg4, tmp_path / "run", run_config(data), resume=True)
    assert len(r["history"]) == 4
    for a, b in zip(ref.parameters(), longer.parameters()):
        assert torch.equal(a, b)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["epochs"] == 4


def test_an_extended_cosine_schedule_follows_the_longer_plan_from_where_it_stopped(data, tmp_path):
    steps = math.ceil(len(data.train) / 64)
    short = TrainConfig(epochs=2, batch_size=64, lr=0.1, schedule="cosine", progress=False, log_every=1)
    long = dataclasses.replace(short, epochs=5)
    fit(new_model(data), data, short, tmp_path / "run", run_config(data))
    fit(new_model(data), data, long, tmp_path / "run", run_config(data), resume=True)
    lrs = {r["step"]: r["lr"] for r in read_metrics(tmp_path / "run") if r["event"] == "train"}
    # the rate logged after step s is the one for step s (0-based), on the 2-epoch plan, then on the 5-epoch plan
    assert lrs[2 * steps - 1] == pytest.approx(0.1 * lr_factor(2 * steps - 1, 2 * steps, short, steps))
    assert lrs[2 * steps + 1] == pytest.approx(0.1 * lr_factor(2 * steps + 1, 5 * steps, long, steps))
    assert lrs[5 * steps - 1] == pytest.approx(0.1 * lr_factor(5 * steps - 1, 5 * steps, long, steps))


def test_a_run_stopped_before_its_first_checkpoint_leaves_no_folder(data, tmp_path):
    model = new_model(data)
    forward = model.forward

    def interrupted(x, y=None):
        if model.training:
            raise KeyboardInterrupt
        return forward(x, y)

    model.forward = interrupted
    with pytest.raises(Interrupted, match="nothing was kept"):
        fit(model, data, TrainConfig(epochs=1, progress=False), tmp_path / "a" / "run", run_config(data))
    assert not (tmp_path / "a").exists()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        fit(new_model(data), data, TrainConfig(epochs=1, progress=False), tmp_path / "a" / "run", run_config(data),
            resume=True)


class Exploding(nn.Module):
    """Returns a finite loss for `good` training steps, then NaN."""

    def __init__(self, good):
        super().__init__()
        self.lin = nn.Linear(64, 10)
        self.good, self.calls = good, 0

    def forward(self, x, y=None):
        z = self.lin(x.float().flatten(1) / 255)
        loss = nn.functional.cross_entropy(z, y)
        if self.training:
            self.calls += 1
            if self.calls > self.good:
                loss = loss * float("nan")
        return z, loss


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(data, tmp_path):
    cfg = TrainConfig(epochs=5, batch_size=64, checkpoint_every=10, log_every=10, progress=False)
    with pytest.raises(TrainingDiverged) as e:
        fit(Exploding(good=25), data, cfg, tmp_path / "run", {"system": "mlp", "data": data.info()})
    msg = str(e.value)
    assert "nan" in msg and "checkpoint.pt" in msg and "--lr" in msg and "\n" not in msg
    kept = ck.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert kept["step"] == 20
    assert all(torch.isfinite(v).all() for v in kept["model"].values())
    assert read_metrics(tmp_path / "run")[-1]["event"] == "diverged"


def test_interrupted_checkpoint_write_leaves_the_previous_one_loadable(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    state = {"model": {"w": torch.ones(3)}, "step": 1, "epoch": 0, "config": {"system": "mlp"}}
    ck.save_checkpoint(state, path)

    def killed_before_rename(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", killed_before_rename)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint({**state, "step": 2, "model": {"w": torch.zeros(3)}}, path)
    monkeypatch.undo()
    back = ck.load_checkpoint(path)
    assert back["step"] == 1 and torch.equal(back["model"]["w"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


class Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


@pytest.mark.parametrize("kind", ["text", "truncated", "code", "foreign_dict", "other_system"])
def test_unusable_checkpoints_give_one_line_errors(tmp_path, kind):
    path = tmp_path / "x.pt"
    good = {"model": {"w": torch.ones(2)}, "step": 3, "epoch": 1, "config": {"system": "convnet"}}
    if kind == "text":
        path.write_text("hello")
    elif kind == "truncated":
        ck.save_checkpoint(good, path)
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "code":
        torch.save({"model": Payload(), "step": 0, "epoch": 0, "config": {}}, path)
    elif kind == "foreign_dict":
        torch.save({"weights": torch.ones(2)}, path)
    else:
        ck.save_checkpoint(good, path)
    with pytest.raises(CheckpointError) as e:
        ck.load_checkpoint(path, system="mlp")
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_rng_state_round_trip(tmp_path):
    import random

    import numpy as np

    seed_everything(5)
    state = ck.rng_state()
    a = (torch.rand(3), np.random.rand(3), random.random())
    path = ck.save_checkpoint({"model": {}, "step": 0, "epoch": 0, "config": {}, "rng": state}, tmp_path / "rng.pt")
    ck.set_rng_state(ck.load_checkpoint(path)["rng"])
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and (a[1] == b[1]).all() and a[2] == b[2]


def test_config_json_is_plain_and_names_the_system(data, tmp_path):
    fit(new_model(data), data, TrainConfig(epochs=1, progress=False), tmp_path / "r", run_config(data))
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert cfg["system"] == "mlp" and cfg["train"]["epochs"] == 1 and cfg["data"]["num_classes"] == 10
