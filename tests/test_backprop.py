"""The hand-written backpropagation of Figure 1 against torch.autograd and finite differences."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepnet.core import backprop as bp

ACTS = list(bp.ACTIVATIONS)


def case(activation, cost, sizes, seed=0, n=7):
    rng = np.random.default_rng(seed)
    params = bp.init_params(sizes, activation, rng=rng)
    params = [(W, rng.normal(0, 0.1, size=b.shape)) for W, b in params]
    x = rng.normal(size=(n, sizes[0]))
    if cost == "cross_entropy":
        t = bp.one_hot(rng.integers(0, sizes[-1], n), sizes[-1])
    else:
        t = rng.uniform(0.1, 0.9, size=(n, sizes[-1]))
    return params, x, t


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("cost", bp.COSTS)
@pytest.mark.parametrize("activation", ACTS)
def test_hand_gradients_equal_autograd(activation, cost, depth):
    params, x, t = case(activation, cost, [5] + [6] * depth + [3], seed=depth)
    E, g = bp.loss_and_grads(params, x, t, activation, cost)
    E_ref, g_ref = bp.autograd_gradients(params, x, t, activation, cost)
    assert E == pytest.approx(E_ref, rel=1e-13)
    assert [gw.shape for gw, _ in g] == [W.shape for W, _ in params]
    assert max(bp.relative_errors(g, g_ref)) < 1e-12


@pytest.mark.parametrize("cost", bp.COSTS)
@pytest.mark.parametrize("activation", ACTS)
def test_hand_gradients_equal_finite_differences(activation, cost):
    params, x, t = case(activation, cost, [4, 5, 5, 3], seed=1)
    if activation == "relu":  # keep the examples away from the kink
        x = x[bp.kink_margin(params, x, activation, cost) > 0.02]
        t = t[:len(x)]
        assert len(x) >= 2
    _, g = bp.loss_and_grads(params, x, t, activation, cost)
    g_fd = bp.numerical_gradients(params, x, t, activation, cost)
    assert max(bp.relative_errors(g, g_fd)) < 1e-7


def test_finite_differences_refuse_to_cross_a_relu_kink():
    W1, b1 = np.array([[1.0, 0.0], [0.0, 1.0]]), np.zeros(2)
    W2, b2 = np.eye(2), np.zeros(2)
    x = np.array([[1e-4, 1.0]])  # unit 1 sits 1e-4 from its kink; a step of 1e-3 on its bias crosses it
    with pytest.raises(ValueError, match="crossed z = 0"):
        bp.numerical_gradients([(W1, b1), (W2, b2)], x, bp.one_hot([0], 2), "relu", "cross_entropy", h=1e-3)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 7), min_size=2, max_size=6), n=st.integers(1, 9),
       activation=st.sampled_from(ACTS), cost=st.sampled_from(bp.COSTS), seed=st.integers(0, 10_000))
def test_any_shape_matches_autograd(sizes, n, activation, cost, seed):
    params, x, t = case(activation, cost, sizes, seed=seed, n=n)
    _, g = bp.loss_and_grads(params, x, t, activation, cost)
    _, g_ref = bp.autograd_gradients(params, x, t, activation, cost)
    for (gw, gb), (rw, rb) in zip(g, g_ref):
        np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-14)


def test_gradient_is_the_figure_1d_outer_product():
    """dE/dw_jk = y_j dE/dz_k: for one example, the weight gradient is an outer product."""
    params, x, t = case("tanh", "squared", [3, 4, 2], n=1)
    ys, zs = bp.forward(params, x, "tanh", "squared")
    g = bp.backward(params, ys, zs, t, "tanh", "squared")
    dE_dz2 = (ys[2] - t) * (1 - ys[2] ** 2)  # output layer: (y_l - t_l) f'(z_l)
    np.testing.assert_allclose(g[1][0], np.outer(dE_dz2, ys[1]), rtol=1e-14)
    dE_dz1 = (dE_dz2 @ params[1][0]) * (1 - ys[1] ** 2)  # dE/dz_j = f'(z_j) sum_k w_jk dE/dz_k
    np.testing.assert_allclose(g[0][0], np.outer(dE_dz1, x), rtol=1e-14)


def test_numpy_sgd_follows_torch_sgd_step_for_step():
    params, x, t = case("relu", "cross_entropy", [6, 8, 8, 4], n=40)
    order = [np.arange(i, i + 10) for i in range(0, 40, 10)] * 3
    ref = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    opt = torch.optim.SGD([p for pair in ref for p in pair], lr=0.1, momentum=0.9)
    torch_losses = []
    xt, yt = torch.tensor(x), torch.tensor(t.argmax(1))
    for idx in order:
        h = xt[idx]
        for i, (W, b) in enumerate(ref):
            h = torch.nn.functional.linear(h, W, b)
            h = torch.relu(h) if i < len(ref) - 1 else h
        loss = torch.nn.functional.cross_entropy(h, yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        torch_losses.append(loss.item())
    numpy_losses = bp.sgd(params, x, t, order, 0.1, "relu", "cross_entropy", momentum=0.9)
    np.testing.assert_allclose(numpy_losses, torch_losses, rtol=0, atol=1e-12)
    for (W, b), (rW, rb) in zip(params, ref):
        np.testing.assert_allclose(W, rW.detach().numpy(), atol=1e-12)


def test_numpy_sgd_learns_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    perm = np.random.default_rng(0).permutation(len(d.target))  # sklearn's order groups writers
    x, y = d.data[perm] / 16.0, d.target[perm]
    train, test = slice(0, 1200), slice(1200, None)
    params = bp.init_params([64, 32, 10], "relu", rng=0)
    rng = np.random.default_rng(0)
    order = (idx for _ in range(10) for idx in np.array_split(rng.permutation(1200), 40))
    losses = bp.sgd(params, x[train], bp.one_hot(y[train], 10), order, 0.1, "relu", momentum=0.9)
    assert np.mean(losses[-40:]) < np.mean(losses[:10]) / 5
    assert (bp.predict(params, x[test]) == y[test]).mean() > 0.93


def test_init_schemes_have_the_stated_scale():
    he = bp.init_params([400, 300], "relu", rng=0)[0][0]
    glorot = bp.init_params([400, 300], "tanh", rng=0)[0][0]
    assert he.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert np.abs(glorot).max() <= np.sqrt(6 / 700) and glorot.std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    with pytest.raises(ValueError, match="unknown activation"):
        bp.forward(bp.init_params([2, 2], "tanh"), np.zeros((1, 2)), "softplus")
