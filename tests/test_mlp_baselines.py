"""The MLP's options and the shallow baselines: linear classifier and Gaussian-kernel SVM."""

import json

import numpy as np
import pytest
import torch

from deepnet.cli import main
from deepnet.core.train import TrainConfig, fit
from deepnet.data import digits
from deepnet.errors import CheckpointError
from deepnet.systems import kernel_svm, linear, load_run, mlp


@pytest.fixture(scope="module")
def data():
    return digits.load(seed=0)


def test_mlp_inits_and_hidden_outputs():
    torch.manual_seed(0)
    he = mlp.MLP(500, 10, (400, 400), "relu", init="he")
    glorot = mlp.MLP(500, 10, (400, 400), "tanh", init="glorot")
    w = he.net[0].weight
    assert w.std().item() == pytest.approx((2 / 500) ** 0.5, rel=0.03) and he.net[0].bias.abs().max() == 0
    g = glorot.net[2].weight
    assert g.abs().max().item() <= (6 / 800) ** 0.5 and g.std().item() == pytest.approx((2 / 800) ** 0.5, rel=0.03)
    outs = glorot.hidden_outputs(torch.zeros(3, 1, 20, 25, dtype=torch.uint8))
    assert [tuple(o.shape) for o in outs] == [(3, 400), (3, 400)]
    assert all(o.abs().max() <= 1 for o in outs)  # after tanh


def test_mlp_config_without_init_still_builds():
    # run folders written before the `init` option existed must still load
    cfg = {"model": {"hidden": [8], "activation": "relu", "dropout": 0.0},
           "data": {"input_shape": [1, 8, 8], "num_classes": 10}}
    assert isinstance(mlp.build(cfg), mlp.MLP)


def test_perceptron_loss_is_rosenblatts_rule():
    model = linear.Linear(3, 2, loss="perceptron")
    x, y = torch.tensor([[1.0, 2.0, 3.0]]), torch.tensor([1])
    with torch.no_grad():
        model.W.bias[:] = torch.tensor([1.0, 0.0])  # class 0 wins: a mistake
    _, loss = model(x, y)
    loss.backward()
    # the gradient step adds x to the target's weights and subtracts it from the winner's
    assert torch.equal(model.W.weight.grad, torch.stack([x[0], -x[0]]))
    with torch.no_grad():
        model.W.bias[:] = torch.tensor([0.0, 10.0])
    assert model(x, y)[1].item() == 0.0  # correct: no loss, no update


@pytest.mark.parametrize("loss", ["softmax", "perceptron"])
def test_linear_classifier_learns_digits(data, tmp_path, loss):
    model = linear.Linear(64, 10, loss)
    cfg = TrainConfig(epochs=10, batch_size=32, lr=0.1, monitor="accuracy", progress=False, device="cpu")
    run_config = {"system": "linear", "model": {"loss": loss}, "data": {**data.info(), "seed": 0}}
    r = fit(model, data, cfg, tmp_path / "run", run_config)
    assert r["test"]["accuracy"] > 0.9  # a linear classifier on 8x8 digits: about 0.95
    back = load_run(tmp_path / "run")
    assert isinstance(back, linear.Linear) and back.loss_name == loss


def _sklearn_predictions(data, idx, **svc_args):
    from sklearn.svm import SVC

    X = data.train.x[idx].flatten(1).double().numpy() / 255
    svc = SVC(**svc_args).fit(X, data.train.y[idx].numpy())
    return svc, svc.predict(data.test.x.flatten(1).double().numpy() / 255)


def test_svm_module_votes_like_sklearn(data):
    idx = torch.arange(len(data.train))
    svc, expected = _sklearn_predictions(data, idx, C=10.0, gamma="scale")
    model = kernel_svm.KernelSVM(64, 10)
    model.set_from_svc(svc, torch.uint8)
    votes, loss = model(data.test.x, data.test.y)
    assert votes.shape == (len(data.test), 10) and votes.sum(1).eq(45).all()  # one vote per pair
    assert np.array_equal(votes.argmax(1).numpy(), expected)
    assert loss.item() >= 0
    # the pairwise decision values are libsvm's, up to float rounding
    svc.decision_function_shape = "ovo"
    X = data.test.x.flatten(1).double().numpy() / 255
    np.testing.assert_allclose(model.decision(data.test.x).numpy(), svc.decision_function(X), atol=1e-9)


def test_svm_two_classes_with_float_inputs(data):
    # two classes: sklearn flips the signs of its public coefficients; float inputs: no pixel scaling
    keep = data.train.y < 2
    x, y = data.train.x[keep].flatten(1).double() / 255, data.train.y[keep]
    from sklearn.svm import SVC

    svc = SVC(C=1.0, gamma=0.05).fit(x.numpy(), y.numpy())
    model = kernel_svm.KernelSVM(64, 2)
    model.set_from_svc(svc, torch.float64)
    xt = data.test.x[data.test.y < 2].flatten(1).double() / 255
    assert np.array_equal(model(xt)[0].argmax(1).numpy(), svc.predict(xt.numpy()))
    # decision sign: libsvm's f > 0 votes for the first class
    np.testing.assert_allclose(model.decision(xt)[:, 0].numpy(), -svc.decision_function(xt.numpy()), atol=1e-9)


def test_svm_run_folder_through_the_cli(data, tmp_path, capsys):
    run = tmp_path / "svm"
    args = ["train", "kernel_svm", "--data", "digits", "--C", "10", "--max-train", "600", "--seed", "3",
            "--no-progress", "--out", str(run)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "test (best weights)" in out
    for name in ("config.json", "checkpoint.pt", "best.pt", "metrics.jsonl"):
        assert (run / name).exists()
    state = torch.load(run / "best.pt", weights_only=True)  # plain tensors and values only
    assert state["model"]["support_vectors"].dtype == torch.uint8
    config = json.loads((run / "config.json").read_text())
    assert config["system"] == "kernel_svm" and config["model"]["max_train"] == 600
    # the loaded module predicts what sklearn trained on the same 600 examples predicts
    model = load_run(run)
    idx = kernel_svm.training_subset(len(data.train), 600, 3)
    _, expected = _sklearn_predictions(data, idx, C=10.0, gamma="scale")
    assert np.array_equal(model(data.test.x)[0].argmax(1).numpy(), expected)
    assert main(["eval", "--run", str(run)]) == 0
    acc = json.loads(capsys.readouterr().out)["accuracy"]
    assert acc == pytest.approx((expected == data.test.y.numpy()).mean(), abs=1e-6)
    assert main(args) == 2  # refuses to overwrite
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--no-progress"]) == 0  # a solved SVM is finished
    assert "finished" in capsys.readouterr().out


def test_untrained_svm_is_a_clear_error():
    with pytest.raises(CheckpointError, match="no support vectors"):
        kernel_svm.KernelSVM(4, 3)(torch.zeros(2, 4))


def test_input_dropout_drops_pixels_in_training_only_and_keeps_the_state_keys():
    cfg = {"model": {"hidden": [16], "activation": "relu", "dropout": 0.5, "input_dropout": 0.2},
           "data": {"input_shape": [1, 8, 8], "num_classes": 10}}
    model = mlp.build(cfg)
    plain = mlp.MLP(64, 10, (16,), "relu", 0.5)
    assert list(model.state_dict()) == list(plain.state_dict())  # run folders load either way
    x = torch.ones(4000, 64)
    torch.manual_seed(0)
    model.train()
    assert (model.drop_input(x) == 0).float().mean().item() == pytest.approx(0.2, abs=0.01)
    model.eval()
    assert torch.equal(model.drop_input(x), x)
    model.load_state_dict(plain.state_dict())
    assert torch.equal(model(x[:5])[0], plain.eval()(x[:5])[0])  # at evaluation, the same net
