from dataclasses import dataclass
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
    with pytest.raises(ConfigError, match="--lr must be positive"):
        config_from_args(TrainConfig, p.parse_args(["--lr", "-1"]))
    with pytest.raises(ConfigError, match="nesterov"):
        config_from_args(TrainConfig, p.parse_args(["--nesterov", "--optimizer", "adamw"]))
