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


def test_deep_mlps_of_relu_vs_tanh_use_the_stated_inits():
    assert relu_vs_tanh.INIT == {"relu": "he", "tanh": "glorot", "logistic": "glorot"}
    cfg = relu_vs_tanh.PROFILES["quick"]
    assert 6 <= cfg.layers <= 10 and cfg.seeds >= 3
