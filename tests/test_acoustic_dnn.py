"""The frame DNN acoustic model (systems/acoustic_dnn.py) and the speech experiment's ConvNet."""

import dataclasses
import json

import pytest
import torch

from deepnet.core.train import TrainConfig, evaluate, fit
from deepnet.data import audio
from deepnet.data.common import ArrayDataset
from deepnet.systems import acoustic_dnn

from conftest import shared_data_dir


def _batch():
    g = torch.Generator().manual_seed(0)
    feats = [torch.randn(n, 6, generator=g) for n in (7, 3, 11)]
    return feats, audio.pad_utterances(feats), torch.tensor([2, 0, 9])


def test_stack_frames_clamps_to_each_utterance():
    feats = torch.arange(1.0, 6.0)[None, :, None].repeat(2, 1, 1)  # (2, 5, 1): frames 1..5
    lengths = torch.tensor([5, 3])
    s = acoustic_dnn.stack_frames(feats, lengths, 1)  # (2, 5, 3)
    assert s[0].tolist() == [[1, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 5]]
    assert s[1, :3].tolist() == [[1, 1, 2], [1, 2, 3], [2, 3, 3]]  # never reaches the padding frames 4, 5


@pytest.mark.parametrize("context", [0, 2])
def test_padding_frames_change_nothing(context):
    model = acoustic_dnn.AcousticDNN(6, 10, context=context, hidden=(16, 16), dropout=0.3).eval()
    feats, x, y = _batch()
    scores, loss = model(x, y)
    assert scores.shape == (3, 10)
    # junk in the padding, and more of it: the same scores and loss
    junk = x.clone()
    junk[..., 1:][junk[..., 0] == 0] = 1e3
    longer = torch.cat([junk, torch.full((3, 9, 7), -50.0).index_fill_(2, torch.tensor([0]), 0.0)], 1)
    for other in (junk, longer):
        s2, l2 = model(other, y)
        torch.testing.assert_close(s2, scores)
        torch.testing.assert_close(l2, loss)
    # each utterance alone gives its own row: scores do not depend on the batch
    for i, f in enumerate(feats):
        alone, _ = model(audio.pad_utterances([f]))
        torch.testing.assert_close(alone[0], scores[i])
    # the score is the frames' summed log posteriors, the loss their mean cross-entropy
    logp, owner, _ = model.frame_log_posteriors(x)
    assert len(logp) == 7 + 3 + 11
    torch.testing.assert_close(scores[2], logp[owner == 2].sum(0))
    torch.testing.assert_close(loss, -logp[torch.arange(len(logp)), y[owner]].mean())


def test_gradients_reach_every_weight():
    model = acoustic_dnn.AcousticDNN(6, 10, context=1, hidden=(8,), dropout=0.0)
    _, x, y = _batch()
    _, loss = model(x, y)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_experiment_convnet_ignores_padding():
    from deepnet.experiments.speech_dnn_vs_gmm import SpectrogramConvNet, fixed_length

    feats, x, y = _batch()
    model = SpectrogramConvNet(n_mels=6, channels=(4,), frames=8, dropout=0.0).eval()
    z, _ = model(x, y)
    longer = torch.cat([x, torch.zeros(3, 5, 7)], 1)
    longer[:, -5:, 1:] = 7.0  # junk features on padding frames
    torch.testing.assert_close(model(longer, y)[0], z)
    r = fixed_length(audio.pad_utterances([torch.arange(4.0)[:, None]]), 8)  # 4 frames -> 8
    torch.testing.assert_close(r[0, :, 0], torch.tensor([0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3.0]))


@pytest.fixture(scope="module")
def fsdd_official():
    root = shared_data_dir()
    if root is None or not (root / "fsdd/recordings").is_dir():
        pytest.skip("data absent: fsdd")
    mp = pytest.MonkeyPatch()
    mp.setenv("DEEPNET_DATA", str(root))
    from deepnet.data import fsdd

    yield fsdd.load()
    mp.undo()


def test_learns_on_a_small_real_sample(fsdd_official, tmp_path):
    """600 training recordings, 8 epochs at rate 3e-3: utterance accuracy on 300 validation recordings >= 0.85 (chance 0.1;
    measured 0.95)."""
    d = fsdd_official
    small = dataclasses.replace(d, train=ArrayDataset(d.train.x[:600], d.train.y[:600]))
    torch.manual_seed(0)
    model = acoustic_dnn.AcousticDNN(39, 10, context=5, hidden=(128, 128), dropout=0.2)
    cfg = dataclasses.replace(acoustic_dnn.TRAIN_CONFIG, epochs=8, lr=3e-3, device="cpu", progress=False)
    run_config = {"system": "acoustic_dnn", "model": {"context": 5, "hidden": [128, 128], "dropout": 0.2},
                  "data": small.info()}
    result = fit(model, small, cfg, tmp_path / "run", run_config, test=False)
    assert result["best"]["val_accuracy"] >= 0.85
    assert evaluate(model, small.val, "cpu")["loss"] < result["history"][0]["train_loss"]


def test_train_eval_and_transcribe_through_the_cli(fsdd_official, tmp_path, capsys):
    from deepnet import load_run
    from deepnet.cli import main
    from deepnet.data import fsdd

    run = tmp_path / "run"
    code = main(["--threads", "1", "train", "acoustic_dnn", "--data", "fsdd", "--subset", "400", "--epochs", "2",
                 "--hidden", "64", "--no-progress", "--out", str(run)])
    assert code == 0
    assert "acoustic_dnn on fsdd" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["system"] == "acoustic_dnn" and config["data"]["features"]["name"] == "mfcc"
    assert main(["--threads", "1", "eval", "--run", str(run), "--split", "val"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["split"] == "val" and 0.0 <= out["accuracy"] <= 1.0

    model = load_run(run)
    samples, rate = audio.read_wav(shared_data_dir() / "fsdd/recordings/7_theo_3.wav")
    ranked = acoustic_dnn.transcribe(model, samples, rate)
    assert [d for d, _ in ranked] != [] and sorted(d for d, _ in ranked) == fsdd.CLASSES
    probs = [p for _, p in ranked]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5
    # the same recording at 16 kHz is resampled to the 8 kHz the run trained on: the same ranking's top
    assert acoustic_dnn.transcribe(model, audio.resample(samples, rate, 16000), 16000)[0][0] == ranked[0][0]


def test_transcribe_computes_the_features_the_data_hold(fsdd_official):
    """transcribe's features for a test recording are that recording's row of the data; its top digit is the
    model's prediction on that row."""
    from deepnet.data import fsdd

    d = fsdd_official
    samples, rate = audio.read_wav(shared_data_dir() / "fsdd/recordings/0_george_0.wav")  # in the official test set
    f = fsdd.features_of(samples, rate, d.info()["features"])  # (T, 39)
    x = d.test.x
    rows = [i for i in range(len(x)) if int(x[i, :, 0].sum()) == len(f) and torch.allclose(x[i, :len(f), 1:], f)]
    assert len(rows) == 1
    torch.manual_seed(0)
    model = acoustic_dnn.AcousticDNN(39, 10, context=2, hidden=(16,), dropout=0.0).eval()
    model.run_config = {"data": d.info()}
    ranked = acoustic_dnn.transcribe(model, samples, rate)
    scores, _ = model(x[rows])
    assert ranked[0][0] == str(int(scores.argmax()))


def test_train_config_is_the_engines():
    assert isinstance(acoustic_dnn.TRAIN_CONFIG, TrainConfig) and acoustic_dnn.TRAINS_ON == ("fsdd",)
