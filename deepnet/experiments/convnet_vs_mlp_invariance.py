"""convnet_vs_mlp_invariance: shared weights and pooling buy tolerance to where a digit is drawn.

Review, "Supervised learning" (the selectivity-invariance dilemma): a good recogniser must be
sensitive to the details that matter (a Samoyed vs a white wolf) and insensitive to those
that do not (position, pose, lighting); a linear classifier on raw pixels cannot do both.
"Convolutional neural networks": shared weights detect a motif wherever it appears, and
pooling makes the representation invariant to small shifts and distortions.

Protocol: a ConvNet (stages of conv -> ReLU -> max-pool), an MLP (fully connected ReLU layers)
and a linear classifier (softmax regression) are trained on the same MNIST training images,
without any augmentation, for the same number of epochs with the same optimiser; each
one's learning rate is picked from the same grid on the (unshifted) validation set. They
are then tested on the 10,000 test digits shifted by d = 0..6 pixels, right, left, down
and up (zeros come in), accuracy averaged over the 4 directions, mean over the seeds.
"""

import shutil
import statistics
from dataclasses import asdict, dataclass

import torch

from deepnet.core.runtime import pick_device, seed_everything
from deepnet.core.sweep import rate_then_seeds
from deepnet.core.train import TrainConfig, fit
from deepnet.data import augment, mnist
from deepnet.systems import convnet, mlp

NAME = "convnet_vs_mlp_invariance"
CLAIM = ("Local connections with shared weights and pooling make a ConvNet's recognition of a digit tolerant to "
         "shifts of the input, where a fully connected net and a linear classifier on pixels are not.")
SECTION = "Supervised learning (selectivity-invariance dilemma); Convolutional neural networks"
HEADLINE = ("Shared weights and pooling give invariance to shifts", "convnet_accuracy_shift_3")
DATA = ["mnist"]
PAPER = {}  # the review states the argument without a number

MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
MODELS = ("convnet", "mlp", "linear")


@dataclass
class Config:
    """convnet_vs_mlp_invariance: ConvNet vs MLP vs linear classifier on shifted MNIST test digits."""

    channels: tuple[int, ...] = (32, 64)  # ConvNet feature maps per stage; range [1, 1024], 1 to 4 values
    conv_fc: tuple[int, ...] = (128,)  # ConvNet fully connected hidden layers; range [1, 8192], 0 to 8 values
    hidden: tuple[int, ...] = (512, 512)  # MLP hidden layers; range [1, 8192], 1 to 8 values
    epochs: int = 3  # passes over the training images, the same for all three; range [1, 10000]
    batch_size: int = 128  # minibatch size, the same for all three; range [1, 65536]
    # peak learning rates tried for each model (picked on validation); range (0, 100], 1 to 32 values
    lrs: tuple[float, ...] = (0.03, 0.1)
    max_shift: int = 6  # largest test shift (pixels; the targets compare at 3); range [3, 28]
    n_train: int = 0  # use only the first n training images (0: all 55,000); range [0, 55000]
    # test on only the first n test images (and as many validation images; 0: all 10,000); range [0, 10000]
    n_test: int = 0
    seeds: int = 2  # seeds per model; range [1, 100]
    seed: int = 0  # first seed; range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(channels=(8, 16), conv_fc=(32,), hidden=(64,), epochs=1, n_train=1000, n_test=1000,
                    lrs=(0.05,), max_shift=3, seeds=1),
    "quick": Config(n_train=20000),
    "full": Config(epochs=15, lrs=(0.01, 0.03, 0.1), seeds=3),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    return {
        # the ConvNet keeps more of its accuracy under shifts than the MLP and the linear classifier
        "convnet_accuracy_shift_3": {"op": ">", "metric": "mlp_accuracy_shift_3"},
        "mlp_accuracy_shift_3": {"op": ">", "metric": "linear_accuracy_shift_3"},
        "convnet_accuracy_shift_0": {"op": ">=", "value": 0.98},
    }


def _model(kind, cfg, data):
    if kind == "convnet":
        mcfg = convnet.Config(channels=cfg.channels, fc=cfg.conv_fc, batchnorm=True, mean=MNIST_MEAN, std=MNIST_STD)
        return convnet.make(mcfg, data.input_shape, 10).to(memory_format=torch.channels_last), \
            {"system": "convnet", "model": asdict(mcfg)}
    hidden = cfg.hidden if kind == "mlp" else ()  # no hidden layer: softmax regression, a linear classifier
    mcfg = mlp.Config(hidden=hidden, activation="relu")
    return mlp.MLP(784, 10, hidden, "relu"), {"system": "mlp", "model": asdict(mcfg)}


def _train(kind, cfg, data, lr, seed, run_dir):
    seed_everything(seed)
    model, run_config = _model(kind, cfg, data)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=lr, momentum=0.9, nesterov=True,
                       schedule="onecycle", warmup=0.1, monitor="accuracy", device=cfg.device, seed=seed,
                       progress=False, eval_batch_size=1000)
    # no augmentation; test=False: the test digits are read once below, shifted, for the final models only
    r = fit(model, data, tcfg, run_dir, {**run_config, "data": {**data.info(), "seed": 0}}, test=False)
    return model, r


@torch.no_grad()
def shifted_accuracy(model, test, d, device):
    """Accuracy on the test digits shifted by d pixels right, left, down and up (mean of the 4)."""
    model.eval()
    accs = []
    for dy, dx in ((0, d), (0, -d), (d, 0), (-d, 0)):
        correct = 0
        for i in range(0, len(test), 1000):
            x = augment.shift(test.x[i:i + 1000].to(device), dy, dx)
            correct += int((model(x)[0].argmax(1) == test.y[i:i + 1000].to(device)).sum())
        accs.append(correct / len(test))
        if d == 0:
            break
    return statistics.mean(accs)


def run(cfg, out_dir, profile):
    device = pick_device(cfg.device)
    data = mnist.load(seed=0)
    if cfg.n_train:
        data.train = type(data.train)(data.train.x[:cfg.n_train], data.train.y[:cfg.n_train])
    if cfg.n_test:
        data.test = type(data.test)(data.test.x[:cfg.n_test], data.test.y[:cfg.n_test])
        data.val = type(data.val)(data.val.x[:cfg.n_test], data.val.y[:cfg.n_test])
    scratch = out_dir / "scratch"
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    shifts = list(range(cfg.max_shift + 1))
    curves, chosen, metrics, series = {}, {}, {}, {}
    for kind in MODELS:
        # 1. learning rate on validation (first seed), the same grid and seeds for every model
        def train(lr, seed):
            model, r = _train(kind, cfg, data, lr, seed, scratch / f"{kind}_lr{lr}_seed{seed}")
            return r["best"]["val_accuracy"], (model, r)

        sweep = rate_then_seeds(train, cfg.lrs, seeds, maximize=True, label=kind)
        lr, runs = sweep.lr, sweep.runs
        chosen[kind] = lr
        # 2. the weights chosen on validation, tested on shifted copies of the test digits
        per_seed = []
        for model, r in runs:
            state = torch.load(f"{r['run_dir']}/best.pt", weights_only=True)["model"]
            model.load_state_dict(state)
            model.to(device)
            per_seed.append([shifted_accuracy(model, data.test, d, device) for d in shifts])
        curves[kind] = [statistics.mean(col) for col in zip(*per_seed)]
        series[f"{kind}_accuracy_vs_shift"] = [[d, a] for d, a in zip(shifts, curves[kind])]
        for d in shifts:
            vals = [p[d] for p in per_seed]
            metrics[f"{kind}_accuracy_shift_{d}"] = statistics.mean(vals)
            if d in (0, 3):
                metrics[f"{kind}_accuracy_shift_{d}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
        metrics[f"{kind}_chosen_lr"] = lr
    metrics["threads"] = torch.get_num_threads()
    _plot(curves, shifts, chosen, cfg, out_dir / "accuracy_vs_shift.png", data)
    shutil.rmtree(scratch, ignore_errors=True)  # at the end: an experiment taken up after a stop reads its runs back
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": ["accuracy_vs_shift.png"],
            "device": str(device)}


def _plot(curves, shifts, chosen, cfg, path, data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.3, 1]})
    labels = {"convnet": f"ConvNet {list(cfg.channels)} + max-pool", "mlp": f"MLP {list(cfg.hidden)}",
              "linear": "linear classifier"}
    for kind, ys in curves.items():
        a.plot(shifts, ys, marker="o", label=f"{labels[kind]} (lr {chosen[kind]})")
    a.set(xlabel="shift of the test digit (pixels; mean of right, left, down, up)", ylabel="test accuracy",
          title=f"trained without augmentation, {cfg.epochs} epochs each", ylim=(0, 1))
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    x = data.test.x[:1]
    row = torch.cat([augment.shift(x, 0, d)[0, 0] for d in shifts], dim=1)  # (28, 28 * shifts)
    b.imshow(row.numpy(), cmap="gray")
    b.set(title="a test digit shifted right by 0.." + str(shifts[-1]) + " pixels", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
