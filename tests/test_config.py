from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

import pytest

from deepnet.core.config import ArgumentParser, add_config_args, config_from_args, config_from_dict, field_docs
from deepnet.core.train import TrainConfig
from deepnet.errors import ConfigError


@dataclass
class Demo:
    """A config for tests."""

    width: int = 8  # units per layer
    # rate of learning,
    # on two lines
    lr: float = 0.1
    kind: Literal["a", "b"] = "a"  # which kind
    sizes: tuple[int, ...] = (3, 4)  # layer sizes
    flag: bool = False  # switch it on
    limit: Optional[int] = None  # optional cap


def parse(argv):
    p = ArgumentParser(prog="t")
    add_config_args(p, Demo)
    return config_from_args(Demo, p.parse_args(argv))


def test_docs_come_from_comments():
    docs = field_docs(Demo)
    assert docs["width"] == "units per layer"
    assert docs["lr"] == "rate of learning, on two lines"
    assert docs["flag"] == "switch it on"


def test_flags_parse_to_typed_fields():
    cfg = parse(["--width", "16", "--lr", "0.5", "--kind", "b", "--sizes", "7", "8", "9", "--flag", "--limit", "3"])
    assert cfg == Demo(width=16, lr=0.5, kind="b", sizes=(7, 8, 9), flag=True, limit=3)
    assert parse([]) == Demo()
    assert parse(["--sizes"]).sizes == ()
    assert parse(["--limit", "none"]).limit is None


@pytest.mark.parametrize("argv, words", [
    (["--width", "wide"], "invalid int value"),
    (["--kind", "c"], "invalid choice"),
    (["--widht", "3"], "did you mean --width"),
    (["--nonsense"], "unknown argument"),
])
def test_bad_flags_are_one_line_config_errors(argv, words):
    with pytest.raises(ConfigError) as e:
        parse(argv)
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_help_text_lists_docs(capsys):
    p = ArgumentParser(prog="t")
    add_config_args(p, Demo)
    with pytest.raises(SystemExit) as e:
        p.parse_args(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "units per layer" in out and "--no-flag" in out


def test_config_from_dict_refuses_unknown_keys_and_restores_tuples():
    assert config_from_dict(Demo, {"sizes": [1, 2]}).sizes == (1, 2)
    with pytest.raises(ConfigError, match="unknown key"):
        config_from_dict(Demo, {"depth": 3})


def test_train_config_checks_values():
    p = ArgumentParser(prog="t")
    add_config_args(p, TrainConfig)
    with pytest.raises(ConfigError, match=r"--lr takes a number in \(0, 100\], got -1"):
        config_from_args(TrainConfig, p.parse_args(["--lr", "-1"]))
    with pytest.raises(ConfigError, match="--step-gamma"):  # called by the engine, so Python callers are checked too
        TrainConfig(step_gamma=-1).check()
    with pytest.raises(ConfigError, match="nesterov"):
        config_from_args(TrainConfig, p.parse_args(["--nesterov", "--optimizer", "adamw"]))


# ---------------------------------------------------------------------------------------------
# Declared ranges: every Config of every system and experiment, walked without running anything

import dataclasses  # noqa: E402
import math  # noqa: E402
import typing  # noqa: E402

from deepnet.core.config import _unwrap_optional, field_bounds, parse_bounds  # noqa: E402


def all_configs():
    """(label, Config class, defaults instance) of every system, its training and every experiment."""
    from deepnet import cli, systems
    from deepnet.experiments import load

    out = []
    for name in systems.names():
        module = systems.get(name)
        out.append((f"system {name}", module.Config, module.Config()))
        if module.TRAINS_ON:
            train_cls, recipe, _ = systems.training(module)
            out.append((f"system {name} training", train_cls, recipe))
    for name, path in cli.EXPERIMENTS.items():
        exp = load(path)
        out.append((f"experiment {name}", exp.Config, exp.PROFILES["quick"]))
    return out


CONFIGS = all_configs()


def numeric_fields(cls):
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp, optional = _unwrap_optional(hints[f.name])
        origin = typing.get_origin(tp)
        if tp in (int, float) and tp is not bool:
            yield f, tp, False
        elif origin in (tuple, list):
            items = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
            yield f, items[0], True


def test_bounds_syntax():
    b = parse_bounds("units per layer; range [1, 65536], 1 to 8 values")
    assert (b.lo, b.hi, b.lo_open, b.hi_open, b.count) == (1, 65536, False, False, (1, 8))
    b = parse_bounds("a rate; range (0, inf)")
    assert b.holds(1e9) and not b.holds(0) and not b.holds(math.nan) and b.interval() == "(0, inf)"
    assert not parse_bounds("the [0, 1] pixels").declared


@pytest.mark.parametrize("label,cls,defaults", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_every_field_declares_its_range_and_the_cli_enforces_it(label, cls, defaults):
    bounds = field_bounds(cls)
    undeclared = [f.name for f, tp, is_tuple in numeric_fields(cls)
                  if (tp in (int, float) and not bounds[f.name].declared) or (is_tuple and bounds[f.name].count is None)]
    assert not undeclared, f"{label}: fields without a declared range (or tuple length): {undeclared}"
    for f, tp, is_tuple in numeric_fields(cls):
        b = bounds[f.name]
        past = (b.hi * 2 + 1) if math.isfinite(b.hi) else None
        if is_tuple:
            cases = [[]] + ([[v] for v in (0, -1, past, math.nan) if v is not None] if tp in (int, float) else [])
        else:
            cases = [v for v in (0, -1, past, math.nan) if v is not None]
        for v in cases:
            argv = [f"--{f.name.replace('_', '-')}"] + [str(x) for x in (v if is_tuple else [v])]
            if tp is int:
                argv = [a if a.startswith("--") else (a if a == "nan" else str(int(float(a)))) for a in argv]
            p = add_config_args(ArgumentParser(prog="t"), cls, defaults)
            if is_tuple:
                lo, hi = b.count
                ok = lo <= len(v) <= hi and all(b.holds(x) for x in v)
            else:
                ok = b.holds(v) and not (tp is int and isinstance(v, float) and math.isnan(v))
            try:
                config_from_args(cls, p.parse_args(argv))
            except ConfigError as e:
                assert "\n" not in str(e)
                assert not ok or "--" in str(e), f"{label} {argv}: in the declared range yet refused without naming a flag: {e}"
                if not ok:
                    assert f.name.replace("_", "-") in str(e), f"{label} {argv}: refused without naming the flag: {e}"
            else:
                assert ok, f"{label} {argv}: outside the declared range {b.interval()} yet accepted"


@pytest.mark.parametrize("name", sorted(__import__("deepnet.cli", fromlist=["EXPERIMENTS"]).EXPERIMENTS))
def test_every_profile_lies_in_the_declared_ranges(name):
    from deepnet.core.config import check_fields
    from deepnet.experiments import load
    from deepnet.cli import EXPERIMENTS

    exp = load(EXPERIMENTS[name])
    for profile, cfg in exp.PROFILES.items():
        check_fields(cfg, f"{name} {profile}")


def test_the_suite_never_writes_into_the_users_cache():
    from deepnet.data import store

    assert not str(store.cache_root()).startswith(str(Path.home() / ".cache")), store.cache_root()

