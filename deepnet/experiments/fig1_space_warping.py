"""fig1_space_warping: a hidden layer distorts the input space until the classes become linearly separable.

Review, Figure 1a: "A multi-layer neural network can distort the input space to make the
classes of data (examples of which are on the red and blue lines) linearly separable. Note
how a regular grid in input space is also transformed by hidden units. This is an
illustrative example with only two input units, two hidden units and one output unit."

Data: points on two interleaved sine curves, y = a sin(pi x) +- gap for x uniform in [-1, 1]
(red: +gap, blue: -gap), drawn by a fixed generator; train, validation and held-out test
points are independent draws. No line separates them. A 2-2-2 net (two tanh hidden units,
a linear output layer with softmax: two output units, equivalent to the figure's one
logistic unit) is trained by minibatch SGD with the hand-written backpropagation of
deepnet.core.backprop; the restart with the best validation score is kept.

"Best linear classifier" is measured literally: the line with the fewest errors on the
training points (every direction on a fine grid of angles, every threshold between sorted
projections), applied once to the held-out points; the same search is run on the raw
inputs and on the hidden layer's outputs.
"""

import math
from dataclasses import dataclass

import numpy as np

from deepnet.core import backprop as bp
from deepnet.core.config import check_fields
from deepnet.errors import ConfigError

NAME = "fig1_space_warping"
CLAIM = ("A multilayer network can distort the input space to make the classes of data linearly "
         "separable: after the hidden layer, a line separates what no line separated in the input.")
SECTION = "Figure 1a (Backpropagation to train multilayer architectures)"
HEADLINE = ("A hidden layer makes the classes linearly separable (Fig. 1a)", "hidden_linear_accuracy")
DATA = []  # generated here
# Figure 1a is an illustration (after C. Olah): the review gives no number for it.
PAPER = {}
MAX_LINE_SEARCH = 20_000_000  # n_train x angles: best_line holds about ten (n_train, angles) arrays of float64


@dataclass
class Config:
    """fig1_space_warping: two interleaved curves, a 2-2-2 tanh net, lines before and after the hidden layer."""

    n_train: int = 1000  # training points (half per curve on average); range [1, 100000]
    n_val: int = 500  # validation points: choose among restarts; range [1, 1000000]
    n_test: int = 1000  # held-out points: measure both linear accuracies once; range [1, 1000000]
    amplitude: float = 0.5  # a in y = a sin(pi x) +- gap; range [0, 10]
    gap: float = 0.15  # vertical distance of each curve from the middle line; range (0, 10]
    epochs: int = 300  # passes over the training points; range [1, 10000]
    batch_size: int = 50  # minibatch size; range [1, 100000]
    lr: float = 0.1  # peak SGD learning rate, decayed to 0 along a cosine; range (0, 100]
    momentum: float = 0.9  # SGD momentum; range [0, 1)
    restarts: int = 8  # random initialisations tried; the best on validation is kept; range [1, 1000]
    # directions tried by the best-line search (a 0.05 degree grid); at most 2e7 / --n-train; range [1, 36000]
    angles: int = 3600
    # seeds the initialisations (restart r uses seed + r) and the minibatch order; range [0, 2147483647]
    seed: int = 0

    def check(self):
        check_fields(self)
        if self.n_train * self.angles > MAX_LINE_SEARCH:
            raise ConfigError(f"--n-train {self.n_train} x --angles {self.angles} is over {MAX_LINE_SEARCH:,}: "
                              "the best-line search holds arrays of that many numbers; lower one of them")


PROFILES = {
    "smoke": Config(n_train=300, n_val=100, n_test=300, epochs=60, restarts=2, angles=720),
    "quick": Config(),
    "full": Config(n_train=4000, n_val=2000, n_test=10000, epochs=400, restarts=20),
}

DATA_SEEDS = {"train": 101, "val": 202, "test": 303}  # the generator is fixed: same points every run


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"hidden_linear_accuracy": {"op": ">=", "value": 0.999},
            "input_linear_accuracy": {"op": "<=", "value": 0.90}}


def two_curves(n, amplitude, gap, seed):
    """n points (n, 2) on y = a sin(pi x) + gap (class 1, red) or - gap (class 0, blue), x ~ U[-1, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, n)
    label = rng.integers(0, 2, n)
    y = amplitude * np.sin(np.pi * x) + np.where(label == 1, gap, -gap)
    return np.stack([x, y], axis=1), label


def best_line(points, labels, angles):
    """The line u . p = c with the fewest errors on (points, labels): (u (2,), c, sign, accuracy).

    For each direction u on a grid of angles in [0, pi), every threshold between consecutive
    sorted projections is scored at once with cumulative counts; among the lines with the
    fewest errors the one with the widest empty band around it is kept (the most room on
    both sides, as a maximum-margin classifier would choose). `sign` says which side is class 1.
    """
    n = len(labels)
    theta = np.linspace(0.0, np.pi, angles, endpoint=False)
    U = np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (A, 2)
    proj = points @ U.T  # (N, A)
    order = np.argsort(proj, axis=0)
    sorted_proj = np.take_along_axis(proj, order, axis=0)  # (N, A)
    ones_below = np.vstack([np.zeros((1, angles)), np.cumsum(labels[order], axis=0)])  # (N+1, A): class-1 points below threshold k
    k = np.arange(n + 1)[:, None]
    correct_if_above = (k - ones_below) + (labels.sum() - ones_below)  # class 0 below the threshold, class 1 above
    correct = np.maximum(correct_if_above, n - correct_if_above)  # (N+1, A)
    band = np.zeros((n + 1, angles))
    band[1:-1] = np.diff(sorted_proj, axis=0)  # width of the empty band at threshold k (u is a unit vector)
    top = correct == correct.max()
    ki, ai = np.unravel_index(np.argmax(np.where(top, band, -1.0)), band.shape)
    lo = sorted_proj[ki - 1, ai] if ki > 0 else sorted_proj[0, ai] - 1.0
    hi = sorted_proj[ki, ai] if ki < n else sorted_proj[-1, ai] + 1.0
    sign = 1 if correct_if_above[ki, ai] >= n - correct_if_above[ki, ai] else -1
    return U[ai], 0.5 * (lo + hi), sign, float(correct[ki, ai] / n)


def line_accuracy(line, points, labels):
    u, c, sign, _ = line
    pred = ((points @ u - c) * sign > 0).astype(int)
    return float((pred == labels).mean())


def hidden_map(params, points, activation="tanh"):
    """The hidden layer's outputs y_1 = f(W_1 x + b_1) for points (N, 2) -> (N, hidden)."""
    ys, _ = bp.forward(params, points, activation, "cross_entropy")
    return ys[1]


def run(cfg, out_dir, profile):
    train = two_curves(cfg.n_train, cfg.amplitude, cfg.gap, DATA_SEEDS["train"])
    val = two_curves(cfg.n_val, cfg.amplitude, cfg.gap, DATA_SEEDS["val"])
    test = two_curves(cfg.n_test, cfg.amplitude, cfg.gap, DATA_SEEDS["test"])
    t_train = bp.one_hot(train[1], 2)

    # 1. train restarts with the hand-written backprop; keep the best on validation
    restarts = []
    steps_per_epoch = math.ceil(cfg.n_train / cfg.batch_size)
    for r in range(cfg.restarts):
        seed = cfg.seed + r
        params = bp.init_params([2, 2, 2], "tanh", rng=seed)
        rng = np.random.default_rng(seed + 10_000)
        order = (idx for _ in range(cfg.epochs) for idx in np.array_split(rng.permutation(cfg.n_train), steps_per_epoch))
        total = cfg.epochs * steps_per_epoch
        lr = lambda step: cfg.lr * 0.5 * (1 + math.cos(math.pi * step / total))  # cosine decay: settle at the end
        losses = bp.sgd(params, train[0], t_train, order, lr, "tanh", "cross_entropy", cfg.momentum)
        val_acc = float((bp.predict(params, val[0], "tanh") == val[1]).mean())
        val_loss = bp.loss(params, val[0], bp.one_hot(val[1], 2), "tanh")
        restarts.append({"seed": seed, "params": params, "val_accuracy": val_acc, "val_loss": val_loss,
                         "loss_per_epoch": [float(np.mean(losses[e * steps_per_epoch:(e + 1) * steps_per_epoch]))
                                            for e in range(cfg.epochs)]})
    best = max(restarts, key=lambda r: (r["val_accuracy"], -r["val_loss"]))
    params = best["params"]

    # 2. the best line on raw inputs and on hidden outputs, fitted on training points, tested once
    input_line = best_line(train[0], train[1], cfg.angles)
    h_train, h_test = hidden_map(params, train[0]), hidden_map(params, test[0])
    hidden_line = best_line(h_train, train[1], cfg.angles)
    metrics = {
        "input_linear_accuracy": line_accuracy(input_line, test[0], test[1]),
        "hidden_linear_accuracy": line_accuracy(hidden_line, h_test, test[1]),
        "input_linear_train_accuracy": input_line[3],
        "hidden_linear_train_accuracy": hidden_line[3],
        "net_test_accuracy": float((bp.predict(params, test[0], "tanh") == test[1]).mean()),
        "best_val_accuracy": best["val_accuracy"],
        "restarts_perfect_on_val": float(np.mean([r["val_accuracy"] == 1.0 for r in restarts])),
        "n_train": cfg.n_train, "n_test": cfg.n_test,
    }
    series = {
        "train_loss_vs_epoch": [[e + 1, v] for e, v in enumerate(best["loss_per_epoch"])],
        "val_accuracy_by_restart": [[r["seed"], r["val_accuracy"]] for r in restarts],
    }
    _plot(cfg, params, train, input_line, hidden_line, metrics, out_dir / "space_warping.png")
    return {"metrics": metrics, "series": series, "seeds": [r["seed"] for r in restarts],
            "artifacts": ["space_warping.png"], "device": "cpu"}


def _plot(cfg, params, data, input_line, hidden_line, metrics, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, labels = data
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.6))
    # a regular grid over the input plane: lines of constant x and of constant y, finely sampled
    xs = np.linspace(-1.2, 1.2, 25)
    ys = np.linspace(-1.0, 1.0, 21)
    fine_x, fine_y = np.linspace(-1.2, 1.2, 400), np.linspace(-1.0, 1.0, 400)
    grid = [np.stack([np.full_like(fine_y, v), fine_y], 1) for v in xs]
    grid += [np.stack([fine_x, np.full_like(fine_x, v)], 1) for v in ys]
    # the two curves, drawn densely, in the figure's colours
    cx = np.linspace(-1, 1, 600)
    curves = {1: np.stack([cx, cfg.amplitude * np.sin(np.pi * cx) + cfg.gap], 1),
              0: np.stack([cx, cfg.amplitude * np.sin(np.pi * cx) - cfg.gap], 1)}
    colour = {1: "tab:red", 0: "tab:blue"}

    for ax, warp, line, title in (
        (a, lambda p: p, input_line, f"(a) input space: best line, held-out accuracy "
                                     f"{metrics['input_linear_accuracy']:.3f}"),
        (b, lambda p: hidden_map(params, p), hidden_line, f"(b) hidden-unit space: best line, held-out "
                                                           f"accuracy {metrics['hidden_linear_accuracy']:.3f}"),
    ):
        for g in grid:
            w = warp(g)
            ax.plot(w[:, 0], w[:, 1], color="0.75", lw=0.6, zorder=1)
        for c in (1, 0):
            w = warp(curves[c])
            ax.plot(w[:, 0], w[:, 1], color=colour[c], lw=2.2, zorder=3)
            pts = warp(points[labels == c][:80])
            ax.scatter(pts[:, 0], pts[:, 1], s=6, color=colour[c], zorder=4)
        # the separating line u . p = c, clipped to the panel
        u, c0, _, _ = line
        lim_x, lim_y = ax.get_xlim(), ax.get_ylim()
        if abs(u[1]) > 1e-9:
            lx = np.linspace(*lim_x, 2)
            ax.plot(lx, (c0 - u[0] * lx) / u[1], "k--", lw=1.2, zorder=5)
        else:
            ax.axvline(c0 / u[0], color="k", ls="--", lw=1.2, zorder=5)
        ax.set(xlim=lim_x, ylim=lim_y, title=title, aspect="equal" if ax is a else "auto")
        ax.title.set_fontsize(9)
    a.set(xlabel="input x1", ylabel="input x2")
    b.set(xlabel="hidden unit 1: tanh(w1 . x + b1)", ylabel="hidden unit 2: tanh(w2 . x + b2)")
    fig.suptitle("A 2-2-2 tanh net trained by backpropagation warps the plane so a line separates the curves",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
