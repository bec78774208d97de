"""A newcomer's first hour: the help says what to type, absent data says how to get it, the demo
shows every family of data that needs no download."""

import dataclasses
import re
import shutil

import pytest

from deepnet import data as datasets
from deepnet import systems
from deepnet.cli import DEMO, EXPERIMENTS, _command, _what_next, main
from deepnet.core.config import ArgumentParser, add_config_args, config_from_args
from deepnet.data import digits, fetching, mnist, store, text
from deepnet.errors import DataError
from deepnet.experiments import Skipped, load, run_experiment


@pytest.fixture
def no_data(monkeypatch, tmp_path):
    """An empty data folder and an empty cache: a fresh machine."""
    (tmp_path / "data").mkdir()
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))
    return tmp_path / "data"


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("deepnet: error:"), err
    return err[0]


# ------------------------------------------------------------------------------------- help


def test_global_help_lists_the_demo_from_its_list(capsys):
    assert main(["--help"]) == 0
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("The demo")) + 1
    assert lines[start:start + len(DEMO)] == [_command(name, *run) for name, run in DEMO.items()]


def test_train_help_gives_the_usage_and_every_trainable_system(capsys):
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: deepnet train SYSTEM --data NAME" in out and "--resume DIR" in out
    assert "Every command takes" not in out  # not the global help
    for name in systems.trainable():
        module = systems.get(name)
        row = next(line for line in out.splitlines() if line.split()[:1] == [name])
        assert all(d in row for d in module.TRAINS_ON), row
        assert module.__doc__.strip().split("\n")[0] in out


def test_a_systems_help_keeps_its_docstrings_lines_and_wraps_the_flags(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["train", "convnet", "--help"]) == 0
    out = capsys.readouterr().out.splitlines()
    doc = systems.get("convnet").__doc__.strip().splitlines()
    assert "    y_j = f( b_j + sum_i k_ij * x_i )        x_i: input maps, k_ij: filters, *: 2-D convolution" in doc
    start = out.index(doc[0])
    assert out[start:start + len(doc)] == doc  # every line, the equation and the list included, as written
    flags = out[start + len(doc):]
    augment = next(i for i, line in enumerate(flags) if line.strip().startswith("--augment "))
    options = [line for line in flags if line.startswith(("  -", " " * 10))]  # the flags and their help
    assert all(len(line) <= 80 for line in options)  # a flag's long help is wrapped, not one long line
    assert flags[augment + 2].startswith(" " * 20) and "elastic" in " ".join(flags[augment:augment + 8])


def test_reproduce_help_shows_how_to_run_it_and_the_settings(capsys):
    assert main(["reproduce", "sgd_digits", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--smoke", "--quick", "--full", "--out", "--seed", "--device", "--keep", "--lrs", "--epochs"):
        assert re.search(rf"^\s+{flag}\b", out, re.M), flag
    assert "default: 30" in out  # the quick profile's epochs
    assert main(["reproduce", "sgd_digits", "--smoke", "--help"]) == 0
    assert "default: 2)" in capsys.readouterr().out  # the smoke profile's epochs
    assert main(["reproduce", "fig5_gradient_flow", "--help"]) == 0  # no device setting of its own
    out = capsys.readouterr().out
    assert re.search(r"^\s+--device D\b", out, re.M) and re.search(r"^\s+--seed\b", out, re.M)


def test_sgd_digits_help_states_the_training_set_the_run_uses(capsys):
    assert main(["reproduce", "sgd_digits", "--help"]) == 0
    said = re.search(r"passes over the ([\d,]+) training images", capsys.readouterr().out)
    assert int(said.group(1).replace(",", "")) == len(digits.load(seed=0).train) == 1079


# --------------------------------------------------------------------------- absent data


def test_an_experiment_without_its_data_names_the_fetch_command(no_data):
    with pytest.raises(Skipped) as e:
        run_experiment(load(EXPERIMENTS["convnet_mnist"]), "smoke", no_data.parent / "out")
    assert "deepnet data fetch mnist" in str(e.value) and "DEEPNET_DATA" in str(e.value)
    with pytest.raises(Skipped) as e:  # Brown is fetched within NLTK's bundle
        run_experiment(load(EXPERIMENTS["nplm_brown"]), "smoke", no_data.parent / "out")
    assert "deepnet data fetch nltk_data" in str(e.value)


def test_the_demos_skip_line_names_the_fetch_command(no_data, capsys):
    from deepnet import cli

    assert cli._run_one(load(EXPERIMENTS["fig2_feature_maps"]), "quick", no_data.parent / "out", None, {}, "",
                        None, None, skip_ok=True) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "deepnet data fetch cifar10" in out


def test_loaders_without_data_name_the_fetch_command(no_data, monkeypatch):
    # the suite sets DEEPNET_NO_DOWNLOAD: a loader that finds nothing says what to run
    for load_it, name in ((mnist.load, "mnist"), (text.ptb.load, "ptb"), (text.brown.load, "nltk_data")):
        with pytest.raises(DataError) as e:
            load_it()
        assert f"deepnet data fetch {name}" in str(e.value) and "DEEPNET_NO_DOWNLOAD" in str(e.value)
    # a download that fails (offline) says the same
    monkeypatch.delenv("DEEPNET_NO_DOWNLOAD")

    def offline(name, spec, **kw):
        raise DataError(f"{name}: could not reach example.org: Name or service not known")

    monkeypatch.setattr(fetching, "fetch", offline)
    with pytest.raises(DataError) as e:
        mnist.load()
    assert "could not reach" in str(e.value) and "deepnet data fetch mnist" in str(e.value)


def test_train_without_its_data_is_one_line_naming_the_fetch_command(no_data, capsys):
    assert main(["train", "mlp", "--data", "mnist"]) != 0
    assert "deepnet data fetch mnist" in one_error_line(capsys)


def test_every_not_found_message_of_the_data_modules_names_the_fetch_command(no_data):
    with pytest.raises(DataError, match="nope.idx: file not found; fetch it with 'deepnet data fetch mnist'"):
        mnist.read_idx(no_data / "nope.idx")
    with pytest.raises(DataError, match="nope.txt: file not found; fetch it with 'deepnet data fetch ptb'"):
        text.read_ptb(no_data / "nope.txt", "ptb")
    assert "deepnet data fetch brown" not in store.missing("nltk_data", [["nltk_data/corpora/brown.zip"]])


# verify: every file the loader needs, or one line naming the first missing and the fetch command
FETCHED = [n for n in datasets.DATASETS if n not in datasets.EMBEDDED]


@pytest.mark.parametrize("name", FETCHED)
def test_verify_fails_when_a_file_the_loader_needs_is_missing(name, no_data, capsys):
    files = datasets.get(name).FILES
    for rel in files[:-1]:  # all but one, as a copy that lost a file
        (no_data / rel).parent.mkdir(parents=True, exist_ok=True)
        (no_data / rel).write_text("x")
    assert main(["data", "verify", name]) != 0
    line = one_error_line(capsys)
    assert files[-1] in line and f"deepnet data fetch {datasets.fetch_name(name)}" in line
    if len(files) > 1:
        assert f"{no_data.resolve()} lacks {files[-1]}" in line


def test_ptb_verify_needs_its_training_file(data_dir, tmp_path, monkeypatch, capsys):
    root = tmp_path / "data"
    (root / "ptb").mkdir(parents=True)
    for part in ("valid", "test"):
        shutil.copyfile(data_dir / f"ptb/ptb.{part}.txt", root / f"ptb/ptb.{part}.txt")
    monkeypatch.setenv("DEEPNET_DATA", str(root))
    assert main(["data", "verify", "ptb"]) != 0
    assert "lacks ptb/ptb.train.txt" in one_error_line(capsys)
    assert not datasets.available("ptb")
    (root / "ptb/ptb.train.txt").write_text("a b <unk>\nc\n")
    assert main(["data", "verify", "ptb"]) == 0
    assert "ptb/ptb.train.txt: 6 tokens" in capsys.readouterr().out


@pytest.mark.parametrize("args, hint", [
    (["train", "mlp", "--data", "mnsit"], "did you mean mnist?"),
    (["data", "verify", "mnsit"], "did you mean mnist?"),
    (["data", "fetch", "cifar"], "did you mean cifar10?"),
])
def test_a_mistyped_dataset_gets_a_suggestion(args, hint, capsys):
    assert main(args) == 2
    assert hint in one_error_line(capsys)


# ------------------------------------------------------------------------------------- demo


def test_the_demo_covers_each_family_of_data_that_needs_no_download():
    from deepnet.systems import ntm

    exps = {name: load(EXPERIMENTS[name]) for name in DEMO}
    needed = {d for exp in exps.values() for d in exp.DATA}
    assert {"digits", "photos"} <= needed  # scikit-learn's digits; the sample photos (Figure 2)
    assert any(getattr(exp, "ntm", None) is ntm and exp.DATA == [] for exp in exps.values())  # an NTM copying
    for name, (profile, overrides) in DEMO.items():
        exp = exps[name]
        base = exp.PROFILES[profile]  # an existing profile, its settings cut by real fields
        cfg = dataclasses.replace(base, **overrides)
        if hasattr(cfg, "check"):
            cfg.check()
        # the command the demo prints runs exactly these settings
        words = _command(name, profile, overrides).split()
        assert words[:4] == ["deepnet", "reproduce", name, f"--{profile}"]
        ep = ArgumentParser(prog="t")
        add_config_args(ep, exp.Config, base)
        assert config_from_args(exp.Config, ep.parse_args(words[4:])) == cfg


def test_the_demo_ends_with_the_fetch_command_for_the_rest(no_data):
    said = _what_next()
    fetch = next(line for line in said.splitlines() if "deepnet data fetch" in line).split()[3:]
    assert {"mnist", "cifar10", "babi", "nltk_data", "multi30k", "tinyshakespeare"} <= set(fetch)
    assert "digits" not in fetch and "deepnet reproduce" in said
