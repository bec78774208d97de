"""Every experiment runs at its smoke profile and writes a result.json that follows the contract."""

import json

import pytest

from deepnet import data as datasets
from deepnet.cli import DEMO, EXPERIMENTS, main
from deepnet.experiments import load, missing_data
from deepnet.report import validate_result

from conftest import shared_data_dir


# metrics an experiment's smoke result must hold (names fixed in an issue)
SMOKE_METRICS = {
    # the paper's selection of restarts (lowest training error) and validation's, each with its failed tasks
    "babi_memn2n": {"mean_error_1k", "mean_error_1k_by_val", "failed_tasks_1k", "failed_tasks_1k_by_val",
                    "error_1k_task1", "error_1k_task1_by_val"},
}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_smoke_profile_writes_a_valid_result(name, tmp_path, monkeypatch):
    shared = shared_data_dir()
    if shared is not None:
        monkeypatch.setenv("DEEPNET_DATA", str(shared))
    absent = missing_data(load(EXPERIMENTS[name]))
    if absent:
        pytest.skip(f"data absent: {absent}")
    assert main(["reproduce", name, "--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / name / "result.json").read_text())
    validate_result(result)  # required keys, finite metrics, met consistent with targets
    assert result["experiment"] == name and result["profile"] == "smoke"
    assert SMOKE_METRICS.get(name, set()) <= set(result["metrics"]), SMOKE_METRICS[name] - set(result["metrics"])
    for artifact in result["artifacts"]:
        assert (tmp_path / name / artifact).exists(), artifact


def test_demo_list_names_known_experiments():
    assert DEMO and all(name in EXPERIMENTS for name in DEMO)


def test_an_experiment_whose_data_is_absent_is_skipped_in_the_demo_and_an_error_alone(tmp_path, monkeypatch, capsys):
    from deepnet import cli

    fake = type("Exp", (), {"NAME": "needs_mnist", "DATA": ["mnist"]})
    monkeypatch.setenv("DEEPNET_DATA", str(tmp_path))  # an empty data folder
    monkeypatch.setenv("DEEPNET_CACHE", str(tmp_path / "cache"))
    assert not datasets.available("mnist")
    assert cli._run_one(fake, "quick", tmp_path / "out", None, {}, "", None, None, skip_ok=True) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "mnist" in out and "DEEPNET_DATA" in out
    with pytest.raises(Exception, match="needs data not found"):
        cli._run_one(fake, "quick", tmp_path / "out", None, {}, "", None, None, skip_ok=False)
