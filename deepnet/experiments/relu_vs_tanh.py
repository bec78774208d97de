"""relu_vs_tanh: deep nets with rectified linear units learn faster than with smooth non-linearities.

Review, "Backpropagation to train multilayer architectures": "At present, the most popular
non-linear function is the rectified linear unit (ReLU), which is simply the half-wave
rectifier f(z) = max(z, 0). In past decades, neural nets used smoother non-linearities,
such as tanh(z) or 1/(1 + exp(-z)), but the ReLU typically learns much faster in networks
with many layers, allowing training of a deep supervised network without unsupervised
pre-training."

Measured: the same deep MLP (several hidden layers of equal width) with ReLU, tanh and the
logistic function, each with its standard initialisation (He for ReLU, Glorot for tanh and
logistic), trained by the engine's minibatch SGD with momentum at a constant rate, on the
same MNIST examples for the same capped number of epochs. Each non-linearity gets its best
learning rate from the same grid, chosen on the validation error of the first seed (whose
run at that rate is kept); further seeds are trained with it. Speed = epochs (and seconds) until the training loss,
the mean minibatch loss over the last epoch's worth of steps (logged by the engine at every
step), first falls below a fixed threshold; a run that never gets there counts as the cap (a lower bound, flagged by the
`*_reached` fractions). The test error of each final model (best validation epoch) is read once.
"""

import dataclasses
import math
import shutil
import statistics
from dataclasses import dataclass
from typing import Literal

import torch

from deepnet import data as datasets
from deepnet.core.runtime import seed_everything
from deepnet.core.run import read_metrics
from deepnet.core.sweep import rate_then_seeds
from deepnet.core.train import TrainConfig, evaluate, fit
from deepnet.data.common import ArrayDataset
from deepnet.systems import load_run, mlp

NAME = "relu_vs_tanh"
CLAIM = ("The rectified linear unit typically learns much faster than tanh or the logistic function "
         "in networks with many layers.")
SECTION = "Backpropagation to train multilayer architectures (ReLU vs smooth non-linearities)"
HEADLINE = ("ReLUs learn faster than tanh", "relu_speedup")
DATA = ["digits"]  # and MNIST when its files are found (the quick and full profiles use it)
# The review gives no number; Krizhevsky et al. 2012 (Fig. 1) report a four-layer ReLU ConvNet
# reaching 25% CIFAR-10 training error six times faster than the same net with tanh.
PAPER = {"relu_speedup": {"value": 6.0, "source": "Krizhevsky, Sutskever & Hinton 2012 (NIPS), Fig. 1 caption, "
                                                  "p. 3: 4-layer ConvNet on CIFAR-10 reaches 25% training error "
                                                  "6x sooner with ReLU than with tanh (epochs, tanh / ReLU)"}}
ACTIVATIONS = ("relu", "tanh", "logistic")
INIT = {"relu": "he", "tanh": "glorot", "logistic": "glorot"}
LEVELS = (1.0, 0.5, 0.2, 0.1, 0.05)  # training-loss levels also timed (the figure's right panel)


@dataclass
class Config:
    """relu_vs_tanh: a deep MLP with ReLU, tanh and logistic units, same data, budget and rate grid."""

    dataset: Literal["auto", "mnist", "digits"] = "auto"  # auto: MNIST when its files are found, else digits
    n_train: int = 5000  # training examples, drawn with seed 0 (0: all); range [0, 60000]
    width: int = 128  # units per hidden layer; range [1, 4096]
    layers: int = 8  # weight layers (hidden layers + the output layer); range [2, 17]
    # the learning-rate grid, the same for every non-linearity; range (0, 100], 1 to 32 values
    lrs: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    epochs: int = 15  # the cap: every run trains this long; range [1, 10000]
    batch_size: int = 64  # minibatch size; range [1, 65536]
    momentum: float = 0.9  # SGD momentum (constant learning rate); range [0, 1)
    threshold: float = 0.1  # training loss (cross-entropy) whose first crossing times the speed; range (0, 100]
    seeds: int = 3  # seeds trained with each non-linearity's chosen rate; range [1, 100]
    seed: int = 0  # first seed (the tuning runs use it); range [0, 2147483647]


PROFILES = {
    "smoke": Config(dataset="digits", n_train=0, width=32, layers=6, lrs=(0.03,), epochs=2, seeds=1),
    "quick": Config(),
    "full": Config(n_train=0, width=256, layers=10, lrs=(0.001, 0.003, 0.01, 0.03, 0.1), epochs=30, seeds=5),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {"relu_speedup": {"op": ">", "value": 1.0}}  # ReLU reaches the threshold first


def load_data(cfg):
    name = cfg.dataset
    if name == "auto":
        name = "mnist" if datasets.available("mnist") else "digits"
    data = datasets.get(name).load(seed=0)
    if 0 < cfg.n_train < len(data.train):
        g = torch.Generator().manual_seed(0)
        idx = torch.randperm(len(data.train), generator=g)[:cfg.n_train].sort().values
        data = dataclasses.replace(data, train=ArrayDataset(data.train.x[idx], data.train.y[idx]))
    return data


def train_one(activation, lr, seed, cfg, data, run_dir):
    """One engine run, validation only (no test read); returns the fit result plus the logged training-loss curve.

    A rate too high for this non-linearity raises TrainingDiverged (the rate then loses the sweep).
    """
    seed_everything(seed)
    D, K = math.prod(data.input_shape), len(data.classes)
    hidden = (cfg.width,) * (cfg.layers - 1)
    model = mlp.MLP(D, K, hidden, activation, init=INIT[activation])
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=lr, momentum=cfg.momentum,
                       schedule="constant", monitor="accuracy", device="cpu", amp=False, seed=seed,
                       log_every=1, progress=False)
    run_config = {"system": "mlp", "model": {"hidden": list(hidden), "activation": activation, "dropout": 0.0,
                                             "init": INIT[activation]}, "data": {**data.info(), "seed": 0}}
    r = fit(model, data, tcfg, run_dir, run_config, test=False)
    losses = [rec["loss"] for rec in read_metrics(run_dir) if rec.get("event") == "train"]  # one per step
    # the training loss at step s: the mean minibatch loss over the last epoch's worth of steps
    # (over all steps so far during the first epoch), a smooth curve that lags by half an epoch
    # for every non-linearity alike
    window = torch.tensor(losses, dtype=torch.float64).cumsum(0)
    smooth = [(window[s] - (window[s - steps_per_epoch] if s >= steps_per_epoch else 0.0)).item()
              / min(s + 1, steps_per_epoch) for s in range(len(losses))]
    r["curve"] = [[(s + 1) / steps_per_epoch, smooth[s]] for s in range(0, len(smooth), max(1, steps_per_epoch // 10))]
    r["epochs_to_level"] = {level: next(((s + 1) / steps_per_epoch for s, v in enumerate(smooth) if v <= level),
                                        math.inf) for level in LEVELS}
    crossed = next((s for s, v in enumerate(smooth) if v <= cfg.threshold), None)
    r["epochs_to_threshold"] = (crossed + 1) / steps_per_epoch if crossed is not None else math.inf
    # seconds: epochs to the threshold times this run's mean seconds per epoch (validation included)
    r["seconds_to_threshold"] = r["epochs_to_threshold"] * r["history"][-1]["seconds"] / cfg.epochs
    return r


def run(cfg, out_dir, profile):
    data = load_data(cfg)
    scratch = out_dir / "scratch"
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    per_act = {}
    for act in ACTIVATIONS:
        def train(lr, seed):
            r = train_one(act, lr, seed, cfg, data, scratch / f"{act}_lr{lr}_seed{seed}")
            return 1.0 - r["best"]["val_accuracy"], r

        sweep = rate_then_seeds(train, cfg.lrs, seeds, label=act)  # the same grid and seeds for every non-linearity
        tried = [{"lr": lr, "val_error": 1.0 if r is None else 1.0 - r["best"]["val_accuracy"],
                  "epochs_to_threshold": math.inf if r is None else r["epochs_to_threshold"]}
                 for lr, r in zip(cfg.lrs, sweep.tried)]  # a diverged rate: chance-level error, never there
        for r in sweep.runs:  # the test set, once per final model, with the weights chosen on validation
            r["test"] = evaluate(load_run(r["run_dir"]), data.test, "cpu", amp=False)
        per_act[act] = {"lr": sweep.lr, "tried": tried, "runs": sweep.runs}
    shutil.rmtree(scratch, ignore_errors=True)

    cap = float(cfg.epochs)

    def capped(v):
        return min(v, cap)

    metrics = {}
    for act, d in per_act.items():
        ep = [capped(r["epochs_to_threshold"]) for r in d["runs"]]
        sec = [r["seconds_to_threshold"] if math.isfinite(r["epochs_to_threshold"]) else r["history"][-1]["seconds"]
               for r in d["runs"]]
        test = [1.0 - r["test"]["accuracy"] for r in d["runs"]]
        metrics.update({
            f"{act}_epochs_to_threshold": statistics.mean(ep),
            f"{act}_epochs_to_threshold_std": statistics.stdev(ep) if len(ep) > 1 else 0.0,
            f"{act}_seconds_to_threshold": statistics.mean(sec),
            f"{act}_reached": statistics.mean(math.isfinite(r["epochs_to_threshold"]) for r in d["runs"]),
            f"{act}_test_error": statistics.mean(test),
            f"{act}_test_error_std": statistics.stdev(test) if len(test) > 1 else 0.0,
            f"{act}_final_train_loss": statistics.mean(r["history"][-1]["train_loss"] for r in d["runs"]),
            f"{act}_lr": d["lr"],
        })
        # on the tuning seed, the fastest any rate of the grid got there (speed, whatever the validation says)
        metrics[f"{act}_fastest_epochs_on_grid"] = capped(min(t["epochs_to_threshold"] for t in d["tried"]))
    metrics["relu_speedup"] = metrics["tanh_epochs_to_threshold"] / metrics["relu_epochs_to_threshold"]
    metrics["relu_speedup_vs_logistic"] = metrics["logistic_epochs_to_threshold"] / metrics["relu_epochs_to_threshold"]
    metrics["relu_speedup_fastest_on_grid"] = (metrics["tanh_fastest_epochs_on_grid"]
                                               / metrics["relu_fastest_epochs_on_grid"])
    metrics["relu_speedup_seconds"] = metrics["tanh_seconds_to_threshold"] / metrics["relu_seconds_to_threshold"]
    metrics["n_train"] = len(data.train)

    series = {}
    for act, d in per_act.items():
        n = min(len(r["curve"]) for r in d["runs"])
        series[f"{act}_train_loss_vs_epoch"] = [[d["runs"][0]["curve"][i][0],
                                                 statistics.mean(r["curve"][i][1] for r in d["runs"])] for i in range(n)]
        series[f"{act}_val_error_vs_lr"] = [[t["lr"], t["val_error"]] for t in d["tried"]]
        series[f"{act}_epochs_to_threshold_vs_lr"] = [[t["lr"], capped(t["epochs_to_threshold"])] for t in d["tried"]]
        series[f"{act}_epochs_to_loss_level"] = [[lv, statistics.mean(capped(r["epochs_to_level"][lv]) for r in d["runs"])]
                                                 for lv in LEVELS]
    _plot(per_act, metrics, cfg, data.name, out_dir / "relu_vs_tanh.png")
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": ["relu_vs_tanh.png"], "device": "cpu"}


def _plot(per_act, m, cfg, dataset, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"relu": "tab:blue", "tanh": "tab:orange", "logistic": "tab:green"}
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(15, 4.3))
    for act, d in per_act.items():
        for i, r in enumerate(d["runs"]):
            xs, ys = zip(*r["curve"])
            a.plot(xs, ys, color=colours[act], lw=1, alpha=0.8,
                   label=f"{act} (lr {d['lr']:g}): {m[act + '_epochs_to_threshold']:.1f} epochs, "
                         f"test {m[act + '_test_error'] * 100:.1f}%" if i == 0 else None)
    a.axhline(cfg.threshold, color="k", ls="--", lw=1)
    a.set(yscale="log", xlabel="epoch", ylabel="training cross-entropy (mean over the last epoch)",
          title=f"(a) {cfg.layers}-layer MLP, width {cfg.width}, {dataset} ({m['n_train']:.0f} examples), "
                f"{cfg.seeds} seeds")
    a.legend(fontsize=8)
    for act, d in per_act.items():
        levels = [lv for lv in LEVELS]
        eps = [statistics.mean(min(r["epochs_to_level"][lv], cfg.epochs) for r in d["runs"]) for lv in levels]
        b.plot(levels, eps, marker="o", color=colours[act], label=act)
        lrs = [t["lr"] for t in d["tried"]]
        c.plot(lrs, [min(t["epochs_to_threshold"], cfg.epochs) for t in d["tried"]], marker="o",
               color=colours[act], label=act)
    b.set(xscale="log", xlabel="training-loss level", ylabel="epochs to reach it (mean over seeds)",
          ylim=(0, cfg.epochs * 1.1), title="(b) every level, each at its chosen rate (cap = never)")
    b.invert_xaxis()
    c.set(xscale="log", xlabel="learning rate (first seed)", ylabel=f"epochs to training loss {cfg.threshold}",
          ylim=(0, cfg.epochs * 1.1), title="(c) every rate of the grid (cap = never)")
    for ax in (b, c):
        ax.axhline(cfg.epochs, color="0.5", ls=":", lw=1)
        ax.legend(fontsize=8)
    for ax in (a, b, c):
        ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
