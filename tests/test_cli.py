"""The command line: one-line errors with non-zero exits, help, and the run-folder contract."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from deepnet.cli import EXPERIMENTS, main
from deepnet.report import validate_result

from conftest import REPO


def deepnet(*args, env=None, cwd=None):
    """Run the real console entry point in a fresh process."""
    e = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "deepnet.cli", *args], capture_output=True, text=True,
                          env=e, cwd=cwd or REPO, timeout=300)


def one_line_error(p):
    lines = p.stderr.strip().splitlines()
    return p.returncode != 0 and len(lines) == 1 and lines[0].startswith("deepnet: error:") and "Traceback" not in p.stderr


def test_help_and_version():
    p = deepnet("--help")
    assert p.returncode == 0 and "deepnet reproduce" in p.stdout
    p = deepnet("train", "mlp", "--help")
    assert p.returncode == 0 and "--hidden" in p.stdout and "--lr" in p.stdout and "peak learning rate" in p.stdout
    p = deepnet("reproduce", "sgd_digits", "--help")
    assert p.returncode == 0 and "--lrs" in p.stdout


@pytest.mark.parametrize("args, words", [
    (["frobnicate"], "unknown command 'frobnicate'"),
    (["reproduce", "no_such_experiment"], "unknown experiment 'no_such_experiment'"),
    (["reproduce", "sgd_digit"], "did you mean sgd_digits"),
    (["train", "perceptronn", "--data", "digits"], "unknown system 'perceptronn'"),
    (["train", "mlp", "--data", "imagenet"], "cannot be trained on 'imagenet'"),
    (["train", "mlp", "--data", "digits", "--lr", "fast"], "invalid float value: 'fast'"),
    (["train", "mlp", "--data", "digits", "--epoch", "3"], "unknown argument"),
    (["train", "mlp"], "--data NAME is required"),
    (["train", "mlp", "--data", "photos"], "cannot be trained on 'photos'"),
    (["train", "memory_network", "--data", "digits"], "cannot be trained on 'digits'"),
    (["train", "ntm", "--data", "digits"], "cannot be trained on 'digits'"),
    (["data", "verify", "nosuchset"], "unknown dataset"),
    (["eval", "--run", "/nonexistent/run"], "is not a folder"),
    (["reproduce", "sgd_digits", "--smoke", "--epochs", "x"], "invalid int value"),
])
def test_bad_input_is_one_line_and_non_zero(args, words, capsys):
    code = main(args)  # in-process: the same entry point as the console script, without a new interpreter
    err = capsys.readouterr().err
    assert one_line_error(subprocess.CompletedProcess(args, code, "", err)), (code, err)
    assert words in err


def test_the_console_script_exits_non_zero_with_one_line():
    p = deepnet("train", "mlp", "--data", "digits", "--lr", "fast")
    assert one_line_error(p) and "invalid float value" in p.stderr


def test_debug_shows_the_traceback():
    p = deepnet("--debug", "reproduce", "no_such_experiment")
    assert p.returncode != 0 and "Traceback" in p.stderr


def test_every_experiment_has_the_contract_attributes():
    from deepnet.experiments import load

    for name, path in EXPERIMENTS.items():
        exp = load(path)
        assert exp.NAME == name
        assert exp.CLAIM and exp.SECTION and isinstance(exp.DATA, list)
        assert {"smoke", "quick", "full"} <= set(exp.PROFILES) <= {"smoke", "quick", "full-cpu", "full"}
        assert all(isinstance(c, exp.Config) for c in exp.PROFILES.values())


def test_sgd_digits_smoke_writes_a_valid_result_and_a_usable_model(tmp_path, capsys):
    assert main(["reproduce", "sgd_digits", "--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "sgd_digits" / "result.json").read_text())
    validate_result(result)  # schema, finite metrics, met consistent with targets
    assert result["profile"] == "smoke" and result["command"].startswith("deepnet reproduce sgd_digits --smoke")
    assert (tmp_path / "sgd_digits" / "curves.png").stat().st_size > 1000
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # scratch folder gone
    # the model folder follows the run-folder contract: eval reads it
    capsys.readouterr()
    assert main(["eval", "--run", str(tmp_path / "sgd_digits" / "model"), "--split", "val"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "val" and 0 <= out["accuracy"] <= 1
    # and the report renders it
    assert main(["report", "--runs", str(tmp_path), "--out", str(tmp_path / "report" / "index.html")]) == 0
    html = (tmp_path / "report" / "index.html").read_text()
    assert "sgd_digits" in html and "data:image/png;base64," in html


def test_train_resume_and_eval_through_the_cli(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "mlp", "--data", "digits", "--hidden", "32", "--epochs", "3", "--lr", "0.1",
            "--no-progress", "--out", str(run)]
    assert main(args) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["system"] == "mlp" and config["model"]["hidden"] == [32]
    assert main(args) == 2  # the folder holds a run: refuse to overwrite it
    assert "--resume" in capsys.readouterr().err
    # a finished run says so; a larger --epochs trains on from where it stopped
    assert main(["train", "--resume", str(run), "--no-progress", "--device", "cpu"]) == 0
    assert "finished at step" in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--epochs", "4", "--no-progress"]) == 0
    assert "test (best weights)" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["train"]["epochs"] == 4
    assert main(["eval", "--run", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] > 0.8


def test_train_deforms_training_images_when_asked(tmp_path, capsys, monkeypatch):
    from deepnet import cli
    from deepnet.core import train as engine

    seen = []
    real_fit = engine.fit

    def spy(model, data, cfg, run_dir, run_config, resume=False, augment=None):
        seen.append(augment)
        return real_fit(model, data, cfg, run_dir, run_config, resume=resume, augment=augment)

    monkeypatch.setattr(engine, "fit", spy)
    run = tmp_path / "run"
    assert main(["train", "mlp", "--data", "digits", "--hidden", "16", "--epochs", "1", "--augment", "shifts",
                 "--no-progress", "--out", str(run)]) == 0
    assert json.loads((run / "config.json").read_text())["augment"] == "shifts"
    assert [s.describe() for s in seen] == [cli._augment("shifts").describe()]
    # resuming keeps the deformation the run was started with
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert seen[-1] is not None and seen[-1].describe() == seen[0].describe()
    capsys.readouterr()
    assert main(["train", "kernel_svm", "--data", "digits", "--augment", "shifts", "--out", str(tmp_path / "k")]) == 2
    assert "drop --augment" in capsys.readouterr().err
    assert main(["train", "mlp", "--data", "digits", "--augment", "wobble"]) == 2
    # every named deformation is a chain of real steps, "none" is no chain
    assert cli._augment("none") is None
    assert all(cli._augment(n).steps for n in cli.AUGMENTS if n != "none")
    assert [s[0] for s in cli._augment("affine").describe()] == ["affine", "translate"]


def test_a_foreign_or_broken_checkpoint_is_a_one_line_error(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "mlp", "--data", "digits", "--hidden", "16", "--epochs", "1", "--no-progress",
                 "--out", str(run)]) == 0
    # a config that does not match the weights (another model's checkpoint)
    cfg = json.loads((run / "config.json").read_text())
    other = tmp_path / "other"
    shutil.copytree(run, other)
    best = other / "best.pt"
    import torch

    state = torch.load(best, weights_only=True)
    state["config"]["model"]["hidden"] = [64]
    torch.save(state, best)
    p = deepnet("eval", "--run", str(other))
    assert one_line_error(p) and "does not fit this model" in p.stderr
    # not a checkpoint at all
    best.write_bytes(b"\x00garbage" * 10)
    p = deepnet("eval", "--run", str(other))
    assert one_line_error(p) and "not a readable deepnet checkpoint" in p.stderr
    # a checkpoint of another system
    state["config"]["system"] = "mlp"
    cfg["system"] = "nosuch"
    (other / "config.json").write_text(json.dumps(cfg))
    p = deepnet("eval", "--run", str(other))
    assert one_line_error(p) and "unknown system 'nosuch'" in p.stderr


def test_data_verify_fails_on_a_truncated_mnist_file(data_dir, tmp_path):
    copy = tmp_path / "data" / "mnist"
    shutil.copytree(data_dir / "mnist", copy)
    f = copy / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(f.read_bytes()[:1000])
    p = deepnet("data", "verify", "mnist", env={"DEEPNET_DATA": str(tmp_path / "data"),
                                              "DEEPNET_CACHE": str(tmp_path / "cache")})
    assert one_line_error(p) and "t10k-labels-idx1-ubyte.gz" in p.stderr
    p = deepnet("data", "verify", "mnist", env={"DEEPNET_DATA": str(tmp_path / "missing")})
    assert one_line_error(p) and "DEEPNET_DATA" in p.stderr


def test_the_systems_list_names_every_system_file():
    from deepnet import systems

    files = sorted(p.stem for p in (REPO / "deepnet" / "systems").glob("*.py") if not p.stem.startswith("_"))
    assert sorted(systems.SYSTEMS) == files
    for name in systems.SYSTEMS:
        module = systems.get(name)
        assert hasattr(module, "Config") and hasattr(module, "build"), name


def test_every_system_defines_the_whole_interface_and_train_lists_the_trainable_ones(capsys):
    from deepnet import systems

    for name in systems.names():
        module = systems.get(name)  # raises when a name of systems.INTERFACE is missing
        assert all(k in vars(module) for k in systems.INTERFACE)
        assert isinstance(module.TRAINS_ON, tuple)
    assert set(systems.trainable()) >= {"mlp", "convnet", "rnn_lm", "nplm", "memory_network", "ntm", "seq2seq"}
    assert main(["train"]) == 2
    assert "ntm" in capsys.readouterr().err
    assert main(["train", "ngram", "--data", "brown"]) == 2
    assert "not trained with 'deepnet train'" in capsys.readouterr().err


def test_threads_is_one_setting_for_the_whole_process(capsys):
    import torch

    assert main(["--threads", "1", "experiments"]) == 0 and torch.get_num_threads() == 1
    assert main(["experiments", "--threads=2"]) == 0 and torch.get_num_threads() == 2
    assert main(["--threads", "zero", "experiments"]) == 2
    assert "--threads" in capsys.readouterr().err


# values a user can type that once ended in a traceback (or were silently accepted): one line, exit 2
TYPED = [
    ["train", "mlp", "--data", "digits", "--hidden", "-5"],
    ["train", "mlp", "--data", "digits", "--hidden", "0"],
    ["train", "mlp", "--data", "digits", "--dropout", "1.5"],
    ["train", "convnet", "--data", "mnist", "--first-kernel", "4"],
    ["train", "convnet", "--data", "mnist", "--mean", "0.5", "0.5", "0.5"],
    ["train", "convnet", "--data", "mnist", "--label-smoothing", "2"],
    ["train", "convnet", "--data", "mnist", "--channels", "0"],
    ["train", "mlp", "--data", "digits", "--epochs", "0"],
    ["train", "mlp", "--data", "digits", "--step-gamma", "-1"],
    ["train", "mlp", "--data", "digits", "--lr", "nan"],
    ["train", "mlp", "--data", "digits", "--out", "/etc/passwd"],
    ["reproduce", "sgd_digits", "--smoke", "--seeds", "0"],
    ["reproduce", "sgd_digits", "--smoke", "--epochs", "0"],
    ["reproduce", "sgd_digits", "--smoke", "--lrs"],
    ["reproduce", "fig1_space_warping", "--smoke", "--restarts", "0"],
    ["reproduce", "sgd_digits", "--smoke", "--out", "/etc/passwd"],
    ["--threads", "-1", "experiments"],
    ["classify", "--run", "nowhere", "--top", "0", "x.png"],
]


@pytest.mark.parametrize("argv", TYPED, ids=[" ".join(a) for a in TYPED])
def test_values_a_user_can_type_get_one_line(argv, tmp_path, monkeypatch, capsys, data_dir):
    monkeypatch.chdir(tmp_path)
    assert main(["--threads", "1", *argv] if argv[0] != "--threads" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("deepnet: error:"), err


def test_reproduce_all_runs_what_has_its_data_and_names_the_fetch_for_the_rest(tmp_path, monkeypatch, capsys):
    from deepnet import cli

    monkeypatch.setattr(cli, "EXPERIMENTS", {n: cli.EXPERIMENTS[n] for n in ("sgd_digits", "convnet_mnist")})
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path / "empty"))  # digits ship with scikit-learn; MNIST is absent
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))
    assert main(["--threads", "1", "reproduce", "--all", "--smoke", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "convnet_mnist: skipped" in out and "deepnet data fetch mnist" in out
    assert (tmp_path / "out" / "sgd_digits" / "result.json").is_file()
    assert not (tmp_path / "out" / "convnet_mnist").exists()
    assert main(["reproduce", "--all", "sgd_digits"]) == 2  # names or --all, not both
