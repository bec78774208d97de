"""pretraining_few_labels and pretraining_transfer: their smoke profiles through the CLI, on real MNIST."""

import json

import pytest

from deepnet.cli import main
from deepnet.core.results import validate_result


def _reproduce(name, tmp_path):
    assert main(["reproduce", name, "--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / name / "result.json").read_text())
    validate_result(result)
    assert result["experiment"] == name and result["profile"] == "smoke"
    for artifact in result["artifacts"]:
        assert (tmp_path / name / artifact).exists(), artifact
    return result


def test_few_labels_smoke_reports_every_init_at_every_label_count(data_dir, tmp_path):
    from deepnet.experiments import pretraining_few_labels as exp

    result = _reproduce("pretraining_few_labels", tmp_path)
    metrics = result["metrics"]
    counts = exp.PROFILES["smoke"].label_counts
    for n in counts:
        for init in ("random", "rbm", "dae"):
            assert 0 <= metrics[f"test_error_{init}_{n}"] <= 1
            assert metrics[f"test_error_{init}_{n}_std"] >= 0
        best = min(metrics[f"test_error_rbm_{n}"], metrics[f"test_error_dae_{n}"])
        assert metrics[f"pretraining_gain_{n}"] == pytest.approx(metrics[f"test_error_random_{n}"] - best)
        assert metrics[f"n_val_{n}"] == min(n, exp.PROFILES["smoke"].max_val)
    # the same number of steps whatever N
    assert len({metrics[f"finetune_steps_{n}"] for n in counts}) == 1
    assert metrics["pretrain_rbm_seconds"] > 0 and metrics["pretrain_dae_seconds"] > 0
    assert exp.HEADLINE[1] in metrics
    for png in ("error_vs_labels.png", "filters.png"):
        assert (tmp_path / "pretraining_few_labels" / png).stat().st_size > 1000


def test_few_labels_targets_compare_the_fewest_labels_with_the_most():
    from deepnet.experiments import pretraining_few_labels as exp

    t = exp.targets("quick", exp.PROFILES["quick"])
    assert t == {"pretraining_gain_100": {"op": ">", "metric": "pretraining_gain_3000"}}
    assert exp.targets("smoke", exp.PROFILES["smoke"]) == {}


def test_equal_budget_tiles_few_labels_into_passes_of_whole_copies():
    from deepnet.experiments import pretraining_few_labels as exp

    cfg = exp.PROFILES["quick"]  # 400 steps, checks every 50 batches of 100
    assert exp.budget(100, cfg) == (50, 8)  # 50 copies = 5,000 digits = 50 steps a pass, 8 passes
    assert exp.budget(3000, cfg) == (2, 7)  # 6,000 digits = 60 steps a pass, 7 passes = 420 steps
    assert exp.budget(55000, cfg) == (1, 1)


def test_transfer_smoke_restricts_the_target_task_to_the_digits_5_to_9(data_dir, tmp_path):
    from deepnet.experiments import pretraining_transfer as exp

    result = _reproduce("pretraining_transfer", tmp_path)
    metrics = result["metrics"]
    for n in exp.PROFILES["smoke"].label_counts:
        for init in ("pretrained", "random"):
            assert 0 <= metrics[f"transfer_error_{init}_{n}"] <= 1
            assert metrics[f"transfer_error_{init}_{n}_std"] >= 0
    assert 4000 < metrics["n_target_test"] < 6000  # the test digits 5-9 only (4,861)
    assert metrics["n_source_images"] == exp.PROFILES["smoke"].pretrain_images
    assert exp.HEADLINE[1] in metrics
    for png in ("transfer.png", "filters.png"):
        assert (tmp_path / "pretraining_transfer" / png).stat().st_size > 1000


def test_transfer_digits_keeps_and_remaps_labels():
    import torch

    from deepnet.data.common import ArrayDataset
    from deepnet.experiments import pretraining_transfer as exp

    part = ArrayDataset(torch.arange(10).reshape(10, 1), torch.tensor([0, 5, 9, 4, 7, 1, 6, 8, 2, 3]))
    target = exp.digits(part, exp.TARGET, 5)
    assert target.y.tolist() == [0, 4, 2, 1, 3] and target.x.flatten().tolist() == [1, 2, 4, 6, 7]
    assert exp.digits(part, exp.SOURCE).y.tolist() == [0, 4, 1, 2, 3]
