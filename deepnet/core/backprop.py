"""Backpropagation written out by hand in NumPy (float64): the equations of the review's Figure 1.

A fully connected net of any depth. Layer l takes the outputs y_{l-1} of the layer below
(y_0 = x, the input) and computes (Figure 1c)

    z_l = W_l y_{l-1} + b_l        total input of each unit: z_j = sum_i w_ij x_i (+ bias)
    y_l = f(z_l)                   output of each unit, f in {ReLU, tanh, logistic}

Weights are stored as W_l of shape (n_out, n_in): W_l[k, j] is the figure's w_jk, the weight
from unit j of the layer below to unit k. Examples are rows: a minibatch x is (N, n_in).

Costs (the minibatch cost E is the mean of the per-example costs E_n):
    "squared":       E_n = 0.5 * sum_l (y_l - t_l)^2, every layer (the output too) applying f,
                     as in Figure 1c/1d;
    "cross_entropy": E_n = -sum_l t_l log p_l, p = softmax(z_L), the output layer linear.

Backward pass (Figure 1d), from the top:
    dE/dy_l = y_l - t_l                                 (squared cost, output layer)
    dE/dz_l = dE/dy_l * f'(z_l)                          (squared cost, output layer)
    dE/dz_L = p - t                                     (softmax cross-entropy, output layer)
    dE/dy_j = sum_k w_jk dE/dz_k                        (hidden layer j below layer k)
    dE/dz_j = dE/dy_j * f'(z_j)
    dE/dw_jk = y_j dE/dz_k,   dE/db_k = dE/dz_k         (summed over the examples of the batch)

Nothing here uses autograd; `autograd_gradients` is the torch reference the tests and the
backprop_check experiment compare against, and `numerical_gradients` the finite differences.
"""

import numpy as np

# ---------------------------------------------------------------------------------------------
# Non-linearities and their derivatives. f' is computed from z (and y = f(z), to reuse it).


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z, y):
    return (z > 0).astype(z.dtype)  # f'(z) = 1 if z > 0 else 0 (the kink at 0 is given slope 0)


def _tanh_prime(z, y):
    return 1.0 - y * y  # d tanh(z)/dz = 1 - tanh(z)^2


def _logistic(z):
    # 1 / (1 + e^-z), written so that neither branch overflows
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _logistic_prime(z, y):
    return y * (1.0 - y)  # d sigma(z)/dz = sigma(z) (1 - sigma(z))


ACTIVATIONS = {
    "relu": (_relu, _relu_prime),  # f(z) = max(z, 0)
    "tanh": (np.tanh, _tanh_prime),  # f(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))
    "logistic": (_logistic, _logistic_prime),  # f(z) = 1 / (1 + exp(-z))
}
COSTS = ("squared", "cross_entropy")


def _check(activation, cost):
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; use one of {', '.join(ACTIVATIONS)}")
    if cost not in COSTS:
        raise ValueError(f"unknown cost {cost!r}; use one of {', '.join(COSTS)}")


# ---------------------------------------------------------------------------------------------
# Parameters


def init_params(sizes, activation="relu", rng=None, scheme="auto"):
    """Weights [(W_1, b_1), ..., (W_L, b_L)] for layer sizes [n_0, n_1, ..., n_L], float64.

    scheme "he": W ~ N(0, 2 / n_in) (He et al. 2015, for ReLU); "glorot": W ~ U(-a, a) with
    a = sqrt(6 / (n_in + n_out)) (Glorot & Bengio 2010); "auto" picks He for ReLU, Glorot
    otherwise. Biases start at 0.
    """
    rng = np.random.default_rng(rng)
    if scheme == "auto":
        scheme = "he" if activation == "relu" else "glorot"
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        if scheme == "he":
            W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
        elif scheme == "glorot":
            a = np.sqrt(6.0 / (n_in + n_out))
            W = rng.uniform(-a, a, size=(n_out, n_in))
        else:
            raise ValueError(f"unknown init scheme {scheme!r}; use auto, he or glorot")
        params.append((W, np.zeros(n_out)))
    return params


def copy_params(params):
    return [(W.copy(), b.copy()) for W, b in params]


def one_hot(labels, num_classes):
    """Class ids (N,) -> targets t (N, num_classes) with t[n, labels[n]] = 1."""
    labels = np.asarray(labels)
    t = np.zeros((len(labels), num_classes))
    t[np.arange(len(labels)), labels] = 1.0
    return t


# ---------------------------------------------------------------------------------------------
# Forward, cost, backward


def forward(params, x, activation="relu", cost="cross_entropy"):
    """The forward pass of Figure 1c: lists ys = [y_0 = x, y_1, ..., y_L] and zs = [z_1, ..., z_L].

    x: (N, n_0). With the cross-entropy cost the last layer stays linear (y_L = z_L, the class
    scores fed to the softmax); with the squared cost every layer applies f.
    """
    _check(activation, cost)
    f, _ = ACTIVATIONS[activation]
    ys, zs = [np.asarray(x, dtype=np.float64)], []
    for l, (W, b) in enumerate(params):
        z = ys[-1] @ W.T + b  # z_l = W_l y_{l-1} + b_l   (N, n_in) @ (n_in, n_out) -> (N, n_out)
        last = l == len(params) - 1
        y = z if (last and cost == "cross_entropy") else f(z)  # y_l = f(z_l)
        zs.append(z)
        ys.append(y)
    return ys, zs


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)  # subtracting the max changes nothing but avoids overflow
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def cost_value(y_out, t, cost="cross_entropy"):
    """Mean over the N examples of E_n (see the module docstring). y_out, t: (N, K)."""
    if cost == "squared":
        return float(0.5 * ((y_out - t) ** 2).sum() / len(t))  # E = 0.5 sum_l (y_l - t_l)^2
    return float(-(t * _log_softmax(y_out)).sum() / len(t))  # E = -sum_l t_l log softmax(z)_l


def loss(params, x, t, activation="relu", cost="cross_entropy"):
    ys, _ = forward(params, x, activation, cost)
    return cost_value(ys[-1], t, cost)


def backward(params, ys, zs, t, activation="relu", cost="cross_entropy"):
    """The backward pass of Figure 1d: [(dE/dW_1, dE/db_1), ..., (dE/dW_L, dE/db_L)].

    ys, zs: from `forward`; t: (N, K) targets. E is the minibatch mean, hence the 1/N.
    """
    _check(activation, cost)
    _, f_prime = ACTIVATIONS[activation]
    N = len(t)
    if cost == "squared":
        dE_dy = (ys[-1] - t) / N  # dE/dy_l = y_l - t_l
        dE_dz = dE_dy * f_prime(zs[-1], ys[-1])  # dE/dz_l = dE/dy_l * dy_l/dz_l
    else:
        p = np.exp(_log_softmax(ys[-1]))
        dE_dz = (p - t) / N  # dE/dz_L = softmax(z_L) - t
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        W, _ = params[l]
        y_below = ys[l]  # y_{l-1} in the module's numbering: ys[0] is the input
        dE_dW = dE_dz.T @ y_below  # dE/dw_jk = y_j dE/dz_k, summed over examples: (n_out, N) @ (N, n_in)
        dE_db = dE_dz.sum(axis=0)  # dE/db_k = dE/dz_k
        grads[l] = (dE_dW, dE_db)
        if l > 0:
            dE_dy = dE_dz @ W  # dE/dy_j = sum_k w_jk dE/dz_k   (N, n_out) @ (n_out, n_in)
            dE_dz = dE_dy * f_prime(zs[l - 1], ys[l])  # dE/dz_j = dE/dy_j * f'(z_j)
    return grads


def loss_and_grads(params, x, t, activation="relu", cost="cross_entropy"):
    """(E, gradients) of the minibatch (x, t): one forward and one backward pass."""
    ys, zs = forward(params, x, activation, cost)
    return cost_value(ys[-1], t, cost), backward(params, ys, zs, t, activation, cost)


# ---------------------------------------------------------------------------------------------
# References: central finite differences and torch autograd


def numerical_gradients(params, x, t, activation="relu", cost="cross_entropy", h=1e-3):
    """dE/dw by central differences, one weight or bias at a time, with the five-point stencil

        dE/dw ~ (8 [E(w + h) - E(w - h)] - [E(w + 2h) - E(w - 2h)]) / 12h,

    whose error is O(h^4) where E is smooth: h = 1e-3 keeps both that error (~1e-12) and the
    float64 rounding of E divided by h (~1e-13) far below the gradients, even the small ones of
    deep logistic nets. ReLU is not smooth at z = 0: a perturbation that moves any unit across
    its kink raises ValueError (callers keep pre-activations away from 0, see `kink_margin`).
    """
    params = copy_params(params)
    pattern = _relu_pattern(params, x, activation, cost)
    grads = []
    for W, b in params:
        gs = []
        for arr in (W, b):
            g = np.zeros_like(arr)
            flat, gflat = arr.reshape(-1), g.reshape(-1)  # views: writing flat[i] perturbs the weight
            for i in range(flat.size):
                keep = flat[i]
                E = {}
                for s in (-2, -1, 1, 2):
                    flat[i] = keep + s * h
                    E[s] = loss(params, x, t, activation, cost)
                    if pattern is not None and not np.array_equal(pattern, _relu_pattern(params, x, activation, cost)):
                        flat[i] = keep
                        raise ValueError(f"a ReLU unit crossed z = 0 when a weight moved by {s * h:g}: "
                                         "use inputs farther from the kink or a smaller h")
                flat[i] = keep
                gflat[i] = (8 * (E[1] - E[-1]) - (E[2] - E[-2])) / (12 * h)
            gs.append(g)
        grads.append(tuple(gs))
    return grads


def _relu_pattern(params, x, activation, cost):
    """Which ReLU units are on (z > 0), all layers concatenated; None for smooth f."""
    if activation != "relu":
        return None
    _, zs = forward(params, x, activation, cost)
    applied = zs if cost == "squared" else zs[:-1]
    return np.concatenate([(z > 0).ravel() for z in applied])


def kink_margin(params, x, activation="relu", cost="cross_entropy"):
    """Per example (N,): the smallest |z| over the units that apply f (distance from a ReLU kink)."""
    _, zs = forward(params, x, activation, cost)
    applied = zs if cost == "squared" else zs[:-1]
    return np.min(np.concatenate([np.abs(z) for z in applied], axis=1), axis=1)


def autograd_gradients(params, x, t, activation="relu", cost="cross_entropy"):
    """The same E differentiated by torch.autograd in float64: the trusted reference."""
    import torch
    import torch.nn.functional as F

    _check(activation, cost)
    f = {"relu": torch.relu, "tanh": torch.tanh, "logistic": torch.sigmoid}[activation]
    tensors = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    y = torch.tensor(np.asarray(x, dtype=np.float64))
    for l, (W, b) in enumerate(tensors):
        z = F.linear(y, W, b)
        y = z if (l == len(tensors) - 1 and cost == "cross_entropy") else f(z)
    tt = torch.tensor(np.asarray(t, dtype=np.float64))
    if cost == "squared":
        E = 0.5 * ((y - tt) ** 2).sum() / len(tt)
    else:
        E = -(tt * torch.log_softmax(y, dim=1)).sum() / len(tt)
    E.backward()
    return float(E.detach()), [(W.grad.numpy(), b.grad.numpy()) for W, b in tensors]


def relative_errors(grads, reference):
    """Per parameter tensor: ||g - g_ref|| / max(||g||, ||g_ref||, 1e-12)."""
    errs = []
    for pair, ref_pair in zip(grads, reference):
        for g, r in zip(pair, ref_pair):
            errs.append(float(np.linalg.norm(g - r) / max(np.linalg.norm(g), np.linalg.norm(r), 1e-12)))
    return errs


# ---------------------------------------------------------------------------------------------
# Training: minibatch stochastic gradient descent


def sgd(params, x, t, batches, lr, activation="relu", cost="cross_entropy", momentum=0.0):
    """Minibatch SGD in place on `params`; returns the loss of each minibatch before its step.

    batches: an iterable of index arrays into x and t (one per step; the caller decides the
    order). lr: a number, or a function of the step (0, 1, ...) for a schedule. Update, as
    torch.optim.SGD does it: v <- momentum v + dE/dw; w <- w - lr v (momentum 0 gives the
    review's plain rule w <- w - lr dE/dw).
    """
    velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
    losses = []
    for step, idx in enumerate(batches):
        rate = lr(step) if callable(lr) else lr
        E, grads = loss_and_grads(params, x[idx], t[idx], activation, cost)
        losses.append(E)
        for (W, b), (gW, gb), (vW, vb) in zip(params, grads, velocity):
            vW *= momentum
            vW += gW
            vb *= momentum
            vb += gb
            W -= rate * vW  # w <- w - lr dE/dw   (in place: the caller's arrays are trained)
            b -= rate * vb
    return losses


def predict(params, x, activation="relu", cost="cross_entropy"):
    """Class ids: the output unit with the largest value."""
    ys, _ = forward(params, x, activation, cost)
    return ys[-1].argmax(axis=1)
