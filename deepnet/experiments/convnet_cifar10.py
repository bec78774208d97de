"""convnet_cifar10: a ConvNet trained end to end recognises objects in natural images.

Review, "Image understanding with deep convolutional networks": ConvNets' success on
ImageNet (Krizhevsky et al. 2012) came from the efficient use of GPUs, ReLUs, a new
regularisation technique called dropout, and techniques to generate more training examples
by deforming the existing ones. Here the same ingredients on CIFAR-10 (Krizhevsky 2009):
stages of 3x3 conv -> batch norm -> ReLU -> max-pool, dropout, random crops and mirror flips.

Data: the shared copy of CIFAR-10 is a JPEG re-encoding (quality about 75, colour
subsampled), not the canonical pixels. The artefacts cost accuracy: airbench's recipe that
reaches 94.0% on canonical CIFAR-10 reaches 90.7% on this copy (mean of 5 runs, test-time
augmentation, H100, as measured for this project). Splits: 45,000 train / 5,000 validation
(carved from the training set) / 10,000 test; the checkpoint is the epoch with the best
validation accuracy; the test set is read once per seed.
"""

import shutil
import statistics
from dataclasses import asdict, dataclass

import torch

from deepnet.core.runtime import seed_everything
from deepnet.core.train import TrainConfig, fit
from deepnet.data import augment, cifar10
from deepnet.systems import convnet

NAME = "convnet_cifar10"
CLAIM = ("A ConvNet trained end to end with ReLUs, dropout and deformed (cropped, mirrored) training examples "
         "recognises objects in natural images (CIFAR-10).")
SECTION = "Image understanding with deep convolutional networks"
HEADLINE = ("A ConvNet recognises natural images", "test_accuracy")
DATA = ["cifar10"]
# 0.9401: KellerJordan/cifar10-airbench README.md, first table (airbench94_muon.py, mean accuracy 94.01%,
# A100; airbench94.py listed 94.01% in the 2024 versions). 0.907 is not a published number: a run of
# airbench94 on this project's JPEG copy, of which no record (log or result file) is in the repository.
PAPER = {
    "airbench94_on_this_jpeg_copy": {"value": 0.907, "source": "airbench94 (Jordan 2024) on the shared JPEG copy, "
                                     "mean of 5 runs with test-time augmentation, H100, measured for this project: "
                                     "not confirmed (no record of the run in the repository)"},
    "airbench94_canonical": {"value": 0.9401, "source": "KellerJordan/cifar10-airbench README.md, first table: "
                                                        "airbench94_muon.py, mean accuracy 94.01%, canonical CIFAR-10"},
}

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # of the canonical training pixels in [0, 1]
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class Config:
    """convnet_cifar10: stage-based ConvNet on the CIFAR-10 JPEG copy with crops, flips and dropout."""

    channels: tuple[int, ...] = (32, 64, 128)  # feature maps per stage; range [1, 1024], 1 to 5 values
    convs_per_stage: int = 1  # 3x3 convolutions per stage; range [1, 8]
    fc: tuple[int, ...] = (256,)  # fully connected hidden layers; range [1, 8192], 0 to 8 values
    dropout: float = 0.25  # dropout before the fully connected layers; range [0, 1)
    label_smoothing: float = 0.0  # label smoothing of the loss; range [0, 1)
    epochs: int = 4  # passes over the 45,000 training images; range [1, 10000]
    batch_size: int = 128  # minibatch size; range [1, 65536]
    lr: float = 0.05  # peak learning rate (one cycle, Nesterov momentum 0.9); range (0, 100]
    weight_decay: float = 5e-4  # L2 penalty; range [0, 10]
    padding: int = 4  # random crops of the image padded by this many pixels (reflected); range [0, 31]
    flip: bool = True  # random mirror flips
    cutout: int = 0  # side of a random square zeroed per image (0: none); range [0, 32]
    n_train: int = 0  # use only the first n training images (0: all 45,000); range [0, 45000]
    seeds: int = 1  # seeds; range [1, 100]
    seed: int = 0  # first seed; range [0, 2147483647]
    device: str = "auto"  # auto, cpu, cuda
    compile: bool = False  # torch.compile the model (GPU)


PROFILES = {
    "smoke": Config(channels=(8, 16), fc=(32,), epochs=1, n_train=2000, batch_size=64),
    "quick": Config(),
    # GPU: a wider, deeper net for longer (VGG-like, 2 convs per stage), label smoothing and cutout
    "full": Config(channels=(128, 256, 512), convs_per_stage=2, fc=(), dropout=0.2, label_smoothing=0.1,
                   epochs=60, batch_size=256, lr=0.1, cutout=8, seeds=3, compile=True),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    if profile == "full":
        return {"test_accuracy": {"op": ">=", "value": 0.93}}
    # quick: what 2 CPU cores reach in about 5 minutes is reported; it must clearly have learned
    return {"test_accuracy": {"op": ">=", "value": 0.65}}


def run(cfg, out_dir, profile):
    data = cifar10.load(seed=0)
    if cfg.n_train:
        data.train = type(data.train)(data.train.x[:cfg.n_train], data.train.y[:cfg.n_train])
    mcfg = convnet.Config(channels=cfg.channels, convs_per_stage=cfg.convs_per_stage, fc=cfg.fc, dropout=cfg.dropout,
                          batchnorm=True, mean=CIFAR_MEAN, std=CIFAR_STD, label_smoothing=cfg.label_smoothing)
    deform = augment.natural_augment(cfg.padding, cfg.flip, cfg.cutout)
    seeds = [cfg.seed + i for i in range(cfg.seeds)]
    runs = []
    for i, seed in enumerate(seeds):
        print(f"   convnet, seed {seed} ({i + 1} of {len(seeds)}): {cfg.epochs} epochs ...", flush=True)
        seed_everything(seed)
        model = convnet.make(mcfg, data.input_shape, len(data.classes)).to(memory_format=torch.channels_last)
        tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, momentum=0.9, nesterov=True,
                           weight_decay=cfg.weight_decay, schedule="onecycle", warmup=0.15, monitor="accuracy",
                           device=cfg.device, seed=seed, compile=cfg.compile,
                           eval_batch_size=1000)
        run_config = {"system": "convnet", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}}
        run_dir = out_dir / "model" if i == 0 else out_dir / "scratch" / f"seed{seed}"
        runs.append(fit(model, data, tcfg, run_dir, run_config, augment=deform if deform.steps else None))
    shutil.rmtree(out_dir / "scratch", ignore_errors=True)
    shutil.rmtree(out_dir / "model" / "tensorboard", ignore_errors=True)

    acc = [r["test"]["accuracy"] for r in runs]
    metrics = {
        "test_accuracy": statistics.mean(acc),
        "test_accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0,
        "val_accuracy": statistics.mean(r["best"]["val_accuracy"] for r in runs),
        "train_seconds_per_seed": statistics.mean(r["seconds"] for r in runs),
        "threads": torch.get_num_threads(),
        "parameters": convnet.count_parameters(convnet.make(mcfg, data.input_shape, 10)),
        "n_train": len(data.train), "n_val": len(data.val), "n_test": len(data.test),
    }
    series = {
        "val_accuracy_vs_epoch": [[h["epoch"], statistics.mean(r["history"][i]["val_accuracy"] for r in runs)]
                                  for i, h in enumerate(runs[0]["history"])],
        "train_loss_vs_epoch": [[h["epoch"], statistics.mean(r["history"][i]["train_loss"] for r in runs)]
                                for i, h in enumerate(runs[0]["history"])],
        "test_accuracy_by_seed": [[s, a] for s, a in zip(seeds, acc)],
    }
    _plot(series, metrics, out_dir / "curves.png")
    return {"metrics": metrics, "series": series, "seeds": seeds, "artifacts": ["curves.png", "model/"],
            "device": runs[0]["device"]}


def _plot(series, metrics, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    xs, ys = zip(*series["train_loss_vs_epoch"])
    a.plot(xs, ys)
    a.set(xlabel="epoch", ylabel="training loss", title="training loss (augmented images)")
    xs, ys = zip(*series["val_accuracy_vs_epoch"])
    b.plot(xs, ys, marker="o", label="validation")
    b.axhline(metrics["test_accuracy"], color="k", ls="--", lw=1, label=f"test {metrics['test_accuracy']:.4f}")
    airbench = PAPER["airbench94_on_this_jpeg_copy"]["value"]
    b.axhline(airbench, color="tab:red", ls=":", lw=1, label=f"airbench94 on this JPEG copy: {airbench:g}")
    b.set(xlabel="epoch", ylabel="accuracy", title="CIFAR-10 (JPEG copy)")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
