"""The pieces behind the supervised-learning experiments (issue 4): lines, curves, Hessians, searches."""

import math

import numpy as np
import pytest
import torch
from torch.func import grad, jacrev

from deepnet.experiments import fig1_space_warping as fig1
from deepnet.experiments import relu_vs_tanh, saddle_points, supervised_sgd


def test_best_line_is_exact_on_separable_points_and_keeps_the_widest_band():
    rng = np.random.default_rng(0)
    pts = rng.uniform(-1, 1, size=(400, 2))
    labels = (pts[:, 0] + 0.5 * pts[:, 1] > 0.1).astype(int)
    keep = np.abs(pts[:, 0] + 0.5 * pts[:, 1] - 0.1) > 0.05  # a margin around the true line
    pts, labels = pts[keep], labels[keep]
    line = fig1.best_line(pts, labels, 3600)
    assert line[3] == 1.0 and fig1.line_accuracy(line, pts, labels) == 1.0
    u = line[0]
    assert abs(abs(u @ np.array([1, 0.5]) / np.linalg.norm([1, 0.5])) - 1) < 1e-3  # the normal of the true line
    flipped = fig1.best_line(pts, 1 - labels, 3600)  # the other side can be class 1
    assert fig1.line_accuracy(flipped, pts, 1 - labels) == 1.0


def test_the_two_curves_defeat_every_line():
    pts, labels = fig1.two_curves(2000, 0.5, 0.15, seed=1)
    assert set(np.unique(labels)) == {0, 1}
    assert fig1.best_line(pts, labels, 720)[3] < 0.9
    # the curves never touch: class 1 is exactly 2 * gap above class 0 at the same x
    up = pts[labels == 1]
    assert np.allclose(up[:, 1] - 0.5 * np.sin(np.pi * up[:, 0]), 0.15)


def test_saddle_net_gradient_and_closed_form_hessian_equal_autograd():
    X, Y = saddle_points.load_inputs(2)
    net = saddle_points.SmallNet(X[:150], Y[:150], 5, 10, 1e-3)
    w = net.init(torch.Generator().manual_seed(0)) + 0.3 * torch.randn(net.P, dtype=torch.float64,
                                                                        generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(net.grad(w), grad(net.cost)(w), rtol=0, atol=1e-14)
    H = net.hessian(w)
    torch.testing.assert_close(H, jacrev(jacrev(net.cost))(w), rtol=0, atol=1e-13)
    assert torch.equal(H, H.T) or (H - H.T).abs().max() < 1e-15


def test_newton_search_finds_a_saddle_and_saddle_free_newton_a_minimum():
    X, Y = saddle_points.load_inputs(2)
    net = saddle_points.SmallNet(X[:300], Y[:300], 4, 10, 3e-3)
    w0 = net.init(torch.Generator().manual_seed(0)) * 0.1  # near the saddle at small weights
    w, rel, _, ok = saddle_points.find_critical_point(net, w0, 100, 1e-6)
    assert ok and rel <= 1e-6
    eig = torch.linalg.eigvalsh(net.hessian(w))
    assert (eig < 0).sum() > 0  # a saddle: some directions curve down
    w, rel, _, ok = saddle_points.descend_to_minimum(net, w0, 200, 1e-6)
    assert ok and (torch.linalg.eigvalsh(net.hessian(w)) > 0).all()
    assert net.error(w) < 0.5


def test_examples_to_reach_interpolates_in_log_examples():
    curve = [[0, 0.9], [100, 0.5], [1000, 0.1]]
    assert supervised_sgd._examples_to_reach(curve, 0.5) == 100.0
    assert supervised_sgd._examples_to_reach(curve, 0.3) == pytest.approx(math.sqrt(100 * 1000))
    assert math.isnan(supervised_sgd._examples_to_reach(curve, 0.05))


def test_relu_vs_tanh_times_the_first_epoch_at_the_target():
    errors = [0.9, 0.5, 0.26, 0.25, 0.1]  # end-of-epoch training errors of a made-up run
    assert relu_vs_tanh.epochs_to(errors, 0.25) == 4  # reaching exactly the target counts
    assert relu_vs_tanh.epochs_to(errors, 0.5) == 2
    assert relu_vs_tanh.epochs_to(errors, 0.05) == math.inf
    assert relu_vs_tanh.epochs_to([], 0.25) == math.inf


@pytest.mark.parametrize("init", ["cuda-convnet", "standard", "he", "glorot", "normal"])
def test_relu_vs_tanh_convnet_has_four_weight_layers_and_differs_only_in_its_units(init):
    torch.manual_seed(0)
    x, y = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8), torch.randint(0, 10, (5,))
    units = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid}
    shapes = None
    for act, unit in units.items():
        net = relu_vs_tanh.ConvNet4(act, (8, 8, 16), init)
        z, loss = net(x, y)
        assert z.shape == (5, 10) and torch.isfinite(loss)
        weighted = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
        assert len(weighted) == 4 and weighted[-1].in_features == 16 * 4 * 4  # (B, 16, 4, 4) flattened
        assert sum(isinstance(m, unit) for m in net.modules()) == 3
        assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.BatchNorm2d)) for m in net.modules())
        now = [tuple(p.shape) for p in net.parameters()]
        assert shapes is None or now == shapes  # the same net for every non-linearity
        shapes = now
        conv1 = weighted[0].weight
        if init == "cuda-convnet":  # cuda-convnet's Gaussian stds, whatever the unit
            assert abs(conv1.std().item() - 1e-4) < 2e-5 and abs(weighted[1].weight.std().item() - 1e-2) < 1e-3
        elif init == "normal":  # N(0, 0.01^2) whatever the unit
            assert abs(conv1.std().item() - 0.01) < 0.002
        elif init == "he" or (init == "standard" and act == "relu"):  # He: var 2 / fan_in, fan_in = 3 * 5 * 5
            assert abs(conv1.std().item() - math.sqrt(2 / 75)) < 0.03
        else:  # Glorot: var 2 / (fan_in + fan_out) = 2 / (75 + 8 * 25)
            assert abs(conv1.std().item() - math.sqrt(2 / 275)) < 0.02


class _ScriptedTable(relu_vs_tanh.Table):
    """A Table whose runs follow made-up training-error curves, one per rate (None: diverges then)."""

    def __init__(self, curves, cap):
        super().__init__(None, None, None, tuple(curves), cap, 0.25, None, None)
        self.curves = curves

    def start(self, act, lr, seed):
        return {"act": act, "lr": lr, "seed": seed, "errors": [], "seconds": 0.0}

    def advance(self, r):
        err = self.curves[r["lr"]][len(r["errors"])]
        if err is None:
            raise relu_vs_tanh.TrainingDiverged("made up")
        r["errors"].append(err)


def test_relu_vs_tanh_rate_race_picks_the_first_rate_at_the_target():
    curves = {0.01: [0.8, 0.5, 0.3, 0.2], 0.03: [0.7, 0.4, 0.2, 0.1], 0.1: [0.6, None]}
    lr, grid, run = _ScriptedTable(curves, cap=4).race("relu", 0, log=lambda *a: None)
    assert lr == 0.03 and run["errors"] == [0.7, 0.4, 0.2]  # stopped at its epoch 3: the others lose
    assert grid == [[0.01, 3, 0.3, 0.0, 0.0], [0.03, 3, 0.2, 1.0, 0.0], [0.1, 1, 0.6, 0.0, 1.0]]
    # nobody reaches the target by the cap: the lowest training error at the cap wins
    curves = {0.01: [0.8, 0.6], 0.03: [0.7, 0.5], 0.1: [0.9, 0.9]}
    assert _ScriptedTable(curves, cap=2).race("tanh", 0, log=lambda *a: None)[0] == 0.03
    # the same epoch: the lower error wins
    curves = {0.01: [0.5, 0.24], 0.03: [0.4, 0.2]}
    assert _ScriptedTable(curves, cap=5).race("tanh", 0, log=lambda *a: None)[0] == 0.03


def test_relu_vs_tanh_quick_profile_is_the_papers_procedure():
    cfg = relu_vs_tanh.PROFILES["quick"]
    assert cfg.seeds >= 3 and len(cfg.lrs) >= 3 and cfg.momentum == 0.9 and relu_vs_tanh.TARGET == 0.25
    assert relu_vs_tanh.INIT == {"relu": "he", "tanh": "glorot", "logistic": "glorot"}


def test_svm_chooses_C_on_a_subset_then_trains_it_on_every_example(monkeypatch):
    from deepnet.data import get

    data = get("digits").load(seed=0)
    seen = []
    real = supervised_sgd.kernel_svm.train_svc

    def recording(model, x, y, cfg):
        seen.append((cfg.C, len(x)))  # the examples libsvm is given
        return real(model, x, y, cfg)

    monkeypatch.setattr(supervised_sgd.kernel_svm, "train_svc", recording)
    cfg = supervised_sgd.Config(svm_Cs=(0.001, 10.0), svm_tune_n=300)
    out = supervised_sgd.svm(cfg, data)
    # C = 0.001 underfits: the 300-example machines choose 10, which is then trained on all the examples
    n = len(data.train)
    assert seen == [(0.001, 300), (10.0, 300), (10.0, n)] and out["C"] == 10.0 and out["tune_n"] == 300
    assert out["final_seconds"] is not None and out["n_support"] > 300  # the final machine saw more than 300
    assert [C for C, _ in out["val_by_C"]] == [0.001, 10.0] and out["val_by_C"][1][1] < out["val_by_C"][0][1]
