"""`deepnet train SYSTEM --data NAME` with the system's own defaults learns, on a small real sample.

Each case keeps the system's training recipe (TRAIN_CONFIG) as it is and only shrinks the budget
(and, for the slow recurrent models, the model) to fit the test suite; the floor is well above
chance and below what the recipe reached when the case was written (stated beside each).
"""

import math

import pytest

from deepnet.cli import main
from deepnet.core.checkpoint import load_checkpoint

from conftest import shared_data_dir

# system, data, flags that shrink the budget, metric of best.pt, floor, what the run reached (1 thread)
CASES = [
    ("mlp", "digits", ["--epochs", "5"], "val_accuracy", ">", 0.85, "0.936"),
    ("linear", "digits", ["--epochs", "5"], "val_accuracy", ">", 0.85, "0.944"),
    ("kernel_svm", "digits", [], "val_accuracy", ">", 0.95, "0.997"),
    # the engine's generic constant 0.1 ended at chance here (val accuracy 0.10)
    ("convnet", "mnist", ["--subset", "3000", "--epochs", "4", "--arch", "lenet5"], "val_accuracy", ">", 0.85, "0.930"),
    # the engine's generic rate gave a NaN loss by step 15
    ("memory_network", "babi", ["--epochs", "20"], "val_accuracy", ">", 0.9, "1.000"),
    # a smaller model than the default 512 units, for time; a uniform guess over 65 characters is 6.0 bits
    ("rnn_lm", "tinyshakespeare", ["--hidden", "128", "--embed", "64", "--bptt", "64", "--max-steps", "150"],
     "val_bits", "<", 3.6, "3.12"),
    # the most frequent token of these validation words (<unk>) is 8.0% of them
    ("nplm", "brown", ["--subset", "30000"], "val_accuracy", ">", 0.09, "0.116"),
    # smaller subword vocabularies, for time; a unigram model of these target subwords scores 4.73 nats
    ("seq2seq", "multi30k", ["--subset", "1000", "--epochs", "3", "--src-vocab", "300", "--tgt-vocab", "300"],
     "val_loss", "<", 4.5, "3.73 (1500 pairs)"),
    # reconstruction error (squared, summed over 784 pixels): 52.7 for the untrained RBM (its visible biases the
    # data's log-odds); the full recipe (10 epochs on 55,000) reaches 6.0
    ("rbm", "mnist", ["--subset", "3000", "--epochs", "4"], "val_recon", "<", 35.0, "22.6"),
    # mean return of 3 evaluation games at epsilon 0; the untrained agent's 9.3 (6,000 of the recipe's 100,000 steps)
    ("dqn", "CartPole-v1", ["--steps", "6000", "--eval-every", "2000", "--eval-episodes", "3"], "val_score", ">", 60.0,
     "235.3"),
    # chance is one bit per output bit: 32 bits per sequence of lengths 3 and 5
    ("ntm", "copy", ["--steps", "600", "--max-len", "5", "--val-lengths", "3", "5"], "val_cost_bits", "<", 24.0,
     "19.0"),
    # utterance accuracy; chance 0.10 (600 of the 2,400 training recordings, half the recipe's epochs)
    ("acoustic_dnn", "fsdd", ["--subset", "600", "--epochs", "4"], "val_accuracy", ">", 0.85, "0.953"),
    # the recurrent attention model: 6 glimpses of one 8x8 patch on 4,000 digits (378 steps); chance 0.10
    ("glimpse", "mnist", ["--subset", "4000", "--epochs", "6"], "val_accuracy", ">", 0.5, "0.661"),
    # a unigram model of the validation captions' words scores 3.04 nats; fewer scenes, a briefly pre-trained encoder
    ("captioning", "scenes", ["--train-scenes", "1500", "--val-scenes", "200", "--test-scenes", "50", "--epochs", "2",
                              "--pretrain-images", "2000", "--pretrain-epochs", "1"], "val_loss", "<", 1.5, "0.84"),
]


@pytest.mark.parametrize("system,data,flags,metric,op,floor,reached", CASES, ids=[c[0] for c in CASES])
def test_defaults_learn(system, data, flags, metric, op, floor, reached, tmp_path, monkeypatch, capsys):
    if shared_data_dir() is None and data not in ("digits", "copy", "CartPole-v1"):
        pytest.skip("data absent")
    if shared_data_dir() is not None:
        monkeypatch.setenv("DEEPNET_DATA", str(shared_data_dir()))
    run = tmp_path / "run"
    assert main(["--threads", "1", "train", system, "--data", data, "--out", str(run), *flags]) == 0, \
        capsys.readouterr().err
    best = load_checkpoint(run / "best.pt")["metrics"]["best"]
    value = best[metric]
    assert math.isfinite(value)
    assert (value > floor) if op == ">" else (value < floor), f"{system}: {metric} {value} (floor {op} {floor})"
