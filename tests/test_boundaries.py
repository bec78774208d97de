"""One run per Config with every numeric field at the low end of its declared range.

A value the declared range accepts must either run or be refused in one line (exit 2 or 3);
it never ends in a traceback. (The high ends would exhaust memory or time by design: the
walk in test_config.py checks, without running, that values past them are refused.)
"""

import dataclasses
import math
import re
import typing

import pytest

from deepnet import systems
from deepnet.cli import EXPERIMENTS, main
from deepnet.core.config import _unwrap_optional, field_bounds, field_docs
from deepnet.experiments import load, missing_data

from conftest import shared_data_dir

# the data each system's boundary run trains on: small, and on disk (or generated)
SYSTEM_DATA = {"mlp": "digits", "linear": "digits", "kernel_svm": "digits", "convnet": "mnist",
               "memory_network": "babi", "ntm": "copy", "rnn_lm": "tinyshakespeare", "nplm": "brown",
               "seq2seq": "multi30k", "rbm": "mnist", "autoencoder": "mnist", "dqn": "CartPole-v1", "ctc": "an4", "captioning": "scenes",
               "acoustic_dnn": "fsdd", "glimpse": "mnist"}


SENTINEL = re.compile(r"\(0: (all|the whole|every|as many|the epochs decide|no limit|unlimited)")


def low_end_flags(cls, skip=()):
    """--field value... setting each numeric field of `cls` to the low end of its declared range."""
    hints, bounds, docs, argv = typing.get_type_hints(cls), field_bounds(cls), field_docs(cls), []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, _ = _unwrap_optional(hints[f.name])
        b = bounds[f.name]
        items = [a for a in typing.get_args(tp) if a is not Ellipsis]
        kind = items[0] if typing.get_origin(tp) in (tuple, list) and items else tp
        if kind not in (int, float) or not b.declared or math.isinf(b.lo):
            continue
        if b.lo_open and kind is float:  # no smallest value: leave it as the profile has it
            continue
        low = int(b.lo) + (1 if b.lo_open else 0) if kind is int else b.lo
        if low == 0 and kind is int and SENTINEL.search(docs.get(f.name, "")):
            low = 1  # "0: all" (or "0: off") is the field's largest setting, not its smallest: 1 is
        n = 1 if typing.get_origin(tp) not in (tuple, list) else max(b.count[0], 1)
        argv += [f"--{f.name.replace('_', '-')}"] + [str(low)] * n
    return argv


def _run(argv, capsys):
    code = main(argv)  # a traceback here fails the test: that is the point
    err = capsys.readouterr().err.strip()
    assert code in (0, 2, 3), (argv, code, err)
    if code:
        assert len(err.splitlines()) == 1 and err.startswith("deepnet: error:"), err
    return code, err


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_at_the_low_end_of_every_range(name, tmp_path, monkeypatch, capsys):
    exp = load(EXPERIMENTS[name])
    if shared_data_dir() is None or missing_data(exp):
        pytest.skip("data absent")
    monkeypatch.setenv("DEEPNET_DATA", str(shared_data_dir()))
    monkeypatch.chdir(tmp_path)
    _run(["--threads", "1", "reproduce", name, "--smoke", "--out", str(tmp_path / "out")]
         + low_end_flags(exp.Config), capsys)


@pytest.mark.parametrize("name", sorted(SYSTEM_DATA))
def test_system_at_the_low_end_of_every_range(name, tmp_path, monkeypatch, capsys):
    module = systems.get(name)
    if shared_data_dir() is None:
        pytest.skip("data absent")
    monkeypatch.setenv("DEEPNET_DATA", str(shared_data_dir()))
    train_cls, _, _ = systems.training(module)
    argv = (["--threads", "1", "train", name, "--data", SYSTEM_DATA[name], "--out", str(tmp_path / "run"),
             "--subset", "64", "--no-progress"]
            + low_end_flags(module.Config) + low_end_flags(train_cls, skip=("seed",))
            + (["--no-nesterov"] if getattr(module.TRAIN_CONFIG, "nesterov", False) else []))  # momentum 0 below
    _run(argv, capsys)
