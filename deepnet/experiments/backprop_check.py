"""backprop_check: the chain rule of Figure 1c/1d, written out by hand, gives the true gradient.

Review, "Backpropagation to train multilayer architectures": the derivative of the objective
with respect to the input of a module is computed by working backwards from its output,
applying the chain rule; once the derivatives with respect to each module's input are
known, the gradient with respect to the weights of each module follows.

1. Gradients. For every non-linearity (ReLU, tanh, logistic), cost (squared error, softmax
   cross-entropy) and depth (1 to 4 hidden layers), the hand-written backward pass of
   deepnet.core.backprop is compared, in float64, with five-point central finite differences
   and with torch.autograd. Error per parameter tensor: ||g_hand - g_ref|| / max(||g_hand||,
   ||g_ref||, 1e-12); the metric is the largest over all tensors and cases. For ReLU the
   minibatch keeps only inputs whose pre-activations are all at least `kink_margin` from 0,
   and the finite differences refuse to run if any perturbation moves a unit across z = 0.
2. Training. A NumPy net (hand-written backprop, NumPy SGD) and the same net in torch
   (systems.mlp, trained by the engine's core.train.fit), in float64 from the same initial
   weights and on the same minibatch order, record their minibatch losses step by step;
   the metric is the largest absolute difference between the two curves.
"""

import shutil
from dataclasses import dataclass

import numpy as np
import torch

from deepnet.core import backprop as bp
from deepnet.core.config import check_fields
from deepnet.core.run import read_metrics
from deepnet.core.train import TrainConfig, batches, fit
from deepnet.data import digits
from deepnet.data.common import ArrayDataset, Splits
from deepnet.errors import ConfigError
from deepnet.systems import mlp

NAME = "backprop_check"
CLAIM = ("Backpropagation is the chain rule: the hand-written backward pass of Figure 1d equals "
         "the gradient of the cost (finite differences, autograd), and SGD with it trains a net "
         "exactly as an autograd framework does.")
SECTION = "Figure 1c/1d (Backpropagation to train multilayer architectures)"
HEADLINE = ("Backpropagation written out equals autograd (Fig. 1c-d)", "max_rel_error")
DATA = ["digits"]
# The review states the equations, not a number: the claim is checked by the targets alone.
PAPER = {}


@dataclass
class Config:
    """backprop_check: hand gradients vs finite differences and autograd; NumPy vs torch training."""

    depths: tuple[int, ...] = (1, 2, 3, 4)  # numbers of hidden layers checked; range [1, 8], 1 to 8 values
    width: int = 6  # units per hidden layer of the checked nets; range [1, 32]
    inputs: int = 5  # input units of the checked nets; range [1, 32]
    outputs: int = 3  # output units (classes) of the checked nets; range [2, 32]
    batch: int = 8  # examples in the checked minibatch; range [1, 256]
    h: float = 1e-3  # finite-difference step (five-point stencil, error O(h^4)); range (0, 1]
    kink_margin: float = 0.02  # ReLU: keep only inputs whose |z| >= this for every unit; range (0, 1]
    # nets trained twice (NumPy, torch): relu, tanh or logistic; 1 to 3 values
    curve_activations: tuple[str, ...] = ("relu", "tanh", "logistic")
    # hidden layers of the trained nets (on 8x8 digits); range [1, 1024], 1 to 8 values
    curve_hidden: tuple[int, ...] = (32, 32)
    curve_epochs: int = 3  # epochs of the two training runs; range [1, 1000]
    curve_batch_size: int = 32  # their minibatch size; range [1, 65536]
    curve_lr: float = 0.05  # their learning rate; range (0, 100]
    curve_momentum: float = 0.9  # their momentum (torch.optim.SGD's rule, in both); range [0, 1)
    seed: int = 0  # seeds the checked nets, the minibatches, and the trained nets; range [0, 2147483647]

    def check(self):
        check_fields(self)
        unknown = [a for a in self.curve_activations if a not in bp.ACTIVATIONS]
        if unknown or len(set(self.curve_activations)) < len(self.curve_activations):
            raise ConfigError(f"--curve-activations takes distinct values among {', '.join(bp.ACTIVATIONS)}, "
                              f"got {' '.join(self.curve_activations)}")


PROFILES = {
    "smoke": Config(depths=(1, 2), curve_activations=("tanh",), curve_epochs=1),
    "quick": Config(),
    "full": Config(depths=(1, 2, 3, 4, 5, 6), width=10, batch=16, curve_hidden=(64, 64, 64), curve_epochs=10),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"max_rel_error": {"op": "<=", "value": 1e-7},
            # float64 round-off only: two implementations of the same arithmetic, summed in other orders
            "curve_max_abs_diff": {"op": "<=", "value": 1e-8}}


def checked_case(activation, cost, depth, cfg, rng):
    """(params, x, t) for one case: a freshly initialised net and a minibatch away from ReLU kinks.

    A draw whose gradient has an all-zero tensor (e.g. ReLU output units all off under the
    squared cost) would check nothing: it is drawn again.
    """
    sizes = [cfg.inputs] + [cfg.width] * depth + [cfg.outputs]
    for _ in range(100):
        params = bp.init_params(sizes, activation, rng=rng)
        # small random biases, so that the check does not rely on b = 0
        params = [(W, rng.normal(0, 0.1, size=b.shape)) for W, b in params]
        keep = []
        for _ in range(1000):
            x = rng.normal(size=(64, cfg.inputs))
            if activation == "relu":
                x = x[bp.kink_margin(params, x, activation, cost) >= cfg.kink_margin]
            keep.append(x)
            if sum(len(k) for k in keep) >= cfg.batch:
                break
        x = np.concatenate(keep)[:cfg.batch]
        if len(x) < cfg.batch:
            continue
        if cost == "cross_entropy":
            t = bp.one_hot(rng.integers(0, cfg.outputs, cfg.batch), cfg.outputs)
        else:  # targets inside the range of f, as a regression net would be given
            lo = -0.9 if activation == "tanh" else 0.1
            t = rng.uniform(lo, 0.9, size=(cfg.batch, cfg.outputs))
        _, grads = bp.loss_and_grads(params, x, t, activation, cost)
        if all(np.any(g != 0) for pair in grads for g in pair):
            return params, x, t
    raise ConfigError(f"{activation}/{cost}/depth {depth}: no draw with {cfg.batch} inputs at |z| >= "
                      f"{cfg.kink_margin} and a gradient in every tensor: lower --kink-margin or raise --width")


def check_gradients(cfg):
    """One record per (activation, cost, depth): the largest per-tensor errors against each reference."""
    rng = np.random.default_rng(cfg.seed)
    records = []
    for activation in bp.ACTIVATIONS:
        for cost in bp.COSTS:
            for depth in cfg.depths:
                params, x, t = checked_case(activation, cost, depth, cfg, rng)
                _, g_hand = bp.loss_and_grads(params, x, t, activation, cost)
                _, g_auto = bp.autograd_gradients(params, x, t, activation, cost)
                try:
                    g_fd = bp.numerical_gradients(params, x, t, activation, cost, h=cfg.h)
                except ValueError as e:  # a ReLU unit crossed its kink: the finite differences would be wrong
                    raise ConfigError(f"{activation}/{cost}/depth {depth}: {e} (raise --kink-margin or lower --h)")
                records.append({"activation": activation, "cost": cost, "depth": depth,
                                "fd": max(bp.relative_errors(g_hand, g_fd)),
                                "autograd": max(bp.relative_errors(g_hand, g_auto)),
                                "min_grad_norm": min(float(np.linalg.norm(g)) for pair in g_hand for g in pair)})
    return records


def float64_digits(seed):
    """Digits with pixels already scaled to [0, 1] in float64 (the MLP then leaves them as they are)."""
    d = digits.load(seed=seed)
    as64 = lambda part: ArrayDataset(part.x.double() / 255, part.y)  # noqa: E731
    return Splits(name=d.name, train=as64(d.train), val=as64(d.val), test=as64(d.test), classes=d.classes,
                  input_shape=d.input_shape, licence=d.licence, notes=d.notes + "; float64 in [0, 1]")


def train_twice(activation, cfg, data, run_dir):
    """Minibatch losses of the same net trained by NumPy backprop and by torch (the engine)."""
    torch.manual_seed(cfg.seed)
    model = mlp.MLP(64, 10, cfg.curve_hidden, activation, init="he" if activation == "relu" else "glorot").double()
    start = [(lin.weight.detach().numpy().copy(), lin.bias.detach().numpy().copy())
             for lin in model.net if isinstance(lin, torch.nn.Linear)]

    # torch: the engine, logging the loss of every step (log_every=1); no weight decay, constant rate
    tcfg = TrainConfig(epochs=cfg.curve_epochs, batch_size=cfg.curve_batch_size, lr=cfg.curve_lr,
                       momentum=cfg.curve_momentum, schedule="constant", log_every=1, device="cpu", amp=False,
                       seed=cfg.seed, progress=False)
    run_config = {"system": "mlp", "model": {"hidden": list(cfg.curve_hidden), "activation": activation,
                                             "dropout": 0.0, "init": "he" if activation == "relu" else "glorot"},
                  "data": {**data.info(), "seed": cfg.seed}}
    fit(model, data, tcfg, run_dir, run_config)
    torch_losses = [r["loss"] for r in read_metrics(run_dir) if r.get("event") == "train"]

    # NumPy: the same minibatches, in the order the engine drew them
    n = len(data.train)
    index = ArrayDataset(torch.arange(n), torch.arange(n))
    order = (idx.numpy() for e in range(cfg.curve_epochs)
             for idx, _ in batches(index, cfg.curve_batch_size, shuffle=True, seed=cfg.seed, epoch=e))
    x = data.train.x.flatten(1).numpy()  # (N, 1, 8, 8) -> (N, 64), float64
    t = bp.one_hot(data.train.y.numpy(), 10)
    numpy_losses = bp.sgd(start, x, t, order, cfg.curve_lr, activation, "cross_entropy", cfg.curve_momentum)
    return numpy_losses, torch_losses


def run(cfg, out_dir, profile):
    records = check_gradients(cfg)
    data = float64_digits(cfg.seed)
    curves = {}
    for activation in cfg.curve_activations:
        np_losses, torch_losses = train_twice(activation, cfg, data, out_dir / "scratch" / activation)
        if len(np_losses) != len(torch_losses):
            raise RuntimeError(f"{activation}: {len(np_losses)} NumPy steps but {len(torch_losses)} torch steps")
        curves[activation] = (np_losses, torch_losses)
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)

    diffs = {a: np.abs(np.array(n) - np.array(t)) for a, (n, t) in curves.items()}
    metrics = {
        "max_rel_error": max(max(r["fd"], r["autograd"]) for r in records),
        "max_rel_error_fd": max(r["fd"] for r in records),
        "max_rel_error_autograd": max(r["autograd"] for r in records),
        "cases": len(records),
        "curve_max_abs_diff": max(float(d.max()) for d in diffs.values()),
        "curve_steps": len(next(iter(curves.values()))[0]),
        **{f"curve_loss_drop_{a}": float(n[0] - np.mean(n[-10:])) for a, (n, _) in curves.items()},
    }
    series = {}
    for r in records:
        for ref in ("fd", "autograd"):
            series.setdefault(f"{ref}_rel_error_{r['activation']}_{r['cost']}_vs_depth", []).append([r["depth"], r[ref]])
    for a, (n, t) in curves.items():
        series[f"numpy_loss_{a}"] = [[i + 1, v] for i, v in enumerate(n)]
        series[f"torch_loss_{a}"] = [[i + 1, v] for i, v in enumerate(t)]
    _plot(records, curves, diffs, cfg, out_dir / "backprop_check.png")
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed], "artifacts": ["backprop_check.png"],
            "device": "cpu"}


def _plot(records, curves, diffs, cfg, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b, c) = plt.subplots(1, 3, figsize=(14, 4.2))
    markers = {"relu": "o", "tanh": "s", "logistic": "^"}
    colours = {"squared": "tab:orange", "cross_entropy": "tab:purple"}
    for ref, ls in (("fd", "-"), ("autograd", ":")):
        for act in bp.ACTIVATIONS:
            for cost in bp.COSTS:
                pts = [(r["depth"], r[ref]) for r in records if r["activation"] == act and r["cost"] == cost]
                if pts:
                    xs, ys = zip(*pts)
                    a.plot(xs, np.maximum(ys, 1e-18), ls=ls, marker=markers[act], color=colours[cost], ms=4,
                           label=f"{act}, {cost}" if ref == "fd" else None)
    a.axhline(1e-7, color="k", lw=1, ls="--")
    a.text(min(cfg.depths), 1.6e-7, "target 1e-7", fontsize=8)
    a.set(yscale="log", xlabel="hidden layers", ylabel="max relative error per tensor", ylim=(1e-17, 1e-5),
          title="(a) hand backprop vs finite differences (solid)\nand vs torch.autograd (dotted), float64",
          xticks=list(cfg.depths))
    a.legend(fontsize=7, ncol=2, loc="lower right")
    for act, (n, t) in curves.items():
        line, = b.plot(np.arange(1, len(n) + 1), n, lw=1.0, label=f"{act}: NumPy backprop (line)")
        b.plot(np.arange(1, len(t) + 1), t, ls="none", marker="o", mfc="none", ms=3, mew=0.6,
               color=line.get_color(), label=f"{act}: torch engine (circles)")
        c.plot(np.arange(1, len(n) + 1), np.maximum(diffs[act], 1e-18), lw=1.0, color=line.get_color(), label=act)
    b.set(xlabel="SGD step", ylabel="minibatch cross-entropy", yscale="log",
          title="(b) same initial weights, same minibatches,\nhidden " + "-".join(map(str, cfg.curve_hidden))
          + f", 8x8 digits, lr {cfg.curve_lr}, momentum {cfg.curve_momentum}")
    b.legend(fontsize=7)
    c.axhline(1e-8, color="k", lw=1, ls="--")
    c.set(xlabel="SGD step", ylabel="|loss NumPy - loss torch|", yscale="log", ylim=(1e-18, 1e-6),
          title="(c) gap between the two curves (1e-18: identical)")
    c.legend(fontsize=7)
    for ax in (a, b, c):
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
