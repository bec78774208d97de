"""What a run shows while it runs, when its output is not a terminal (a pipe, a log file)."""

import re

from deepnet.cli import main
from deepnet.core.progress import Progress


def test_without_a_terminal_progress_prints_plain_lines_with_the_numbers(capsys):
    bar = Progress(10, 0, "epoch 1/3", "batch", every=0.0)  # pytest's captured stderr is not a terminal
    for _ in range(3):
        bar.update(1, loss=0.5, examples_per_s=1000.0)
    bar.write("epoch 1/3  val_loss 0.4")
    bar.close()
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [f"epoch 1/3: batch {i}/10  loss 0.5  examples_per_s 1000" for i in (1, 2, 3)]
    assert out[3] == "epoch 1/3  val_loss 0.4"


def test_disabled_progress_prints_nothing(capsys):
    bar = Progress(10, enabled=False, every=0.0)
    bar.update(1, loss=1.0)
    bar.write("x")
    assert capsys.readouterr().out == ""


def test_train_prints_a_line_per_epoch_with_loss_and_speed(tmp_path, capsys):
    assert main(["--threads", "1", "train", "mlp", "--data", "digits", "--epochs", "2", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch ")]
    assert len(lines) == 2
    assert re.match(r"epoch 2/2  train_loss \d\.\d{4}  val_loss \d\.\d{4}  val_accuracy \d\.\d{4}  \d+ examples/s", lines[1])


def test_reproduce_names_each_phase(tmp_path, capsys):
    assert main(["--threads", "1", "reproduce", "sgd_digits", "--smoke", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"mlp: lr [\d.]+, seed 0 \(.*\) \.\.\.", out)  # entering a run
    assert re.search(r"mlp: lr [\d.]+, seed 0: validation [\d.]+ \([\d.]+ s\)", out)  # and its outcome
