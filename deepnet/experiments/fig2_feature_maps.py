"""fig2_feature_maps: the review's Figure 2, the insides of a ConvNet looking at a real photograph.

Review, Figure 2: "The outputs (not the filters) of each layer (horizontally) of a typical
convolutional network architecture applied to the image of a Samoyed dog (bottom left; and
RGB inputs, bottom right). Each rectangular image is a feature map corresponding to the
output for one of the learned features, detected at each of the image positions.
Information flows bottom up, with lower-level features acting as oriented edge detectors,
and a score is computed for each image class in output."

Here: a stage-based ConvNet is trained on CIFAR-10 (the JPEG copy; weights chosen on
validation, test accuracy read once), a real photograph (a cat, `photo`) is centre-cropped
and resized to 32x32, and the outputs of every layer are drawn bottom to top: the RGB
input, each stage's ReLU and max-pooling maps, the fully connected layer, and the class
scores. A second figure shows the first layer's filters (oriented edges and colour blobs
once trained). The numbers kept: test accuracy of the net, and the photo's top classes.
"""

import shutil
from dataclasses import asdict, dataclass

import numpy as np
import torch

from deepnet.core.config import check_fields
from deepnet.core.runtime import seed_everything
from deepnet.core.run import read_metrics
from deepnet.core.train import TrainConfig, fit
from deepnet.data import augment, cifar10, photos
from deepnet.errors import ConfigError
from deepnet.systems import convnet, load_run

NAME = "fig2_feature_maps"
CLAIM = ("Each layer of a ConvNet is a set of feature maps, each the output of one learned feature detected at "
         "every image position; lower layers act as oriented edge detectors and the top computes a score per class.")
SECTION = "Figure 2; Convolutional neural networks"
HEADLINE = ("A ConvNet's layers are feature maps (Fig. 2)", "test_accuracy")
DATA = ["cifar10", "photos"]
PAPER = {}  # a figure: the review gives no number for it

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # of the canonical CIFAR-10 training pixels in [0, 1]
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass
class Config:
    """fig2_feature_maps: train a CIFAR-10 ConvNet (or reuse one), draw a photo's feature maps layer by layer."""

    photo: str = "chelsea"  # which photo (astronaut, camera, chelsea, coffee, rocket, ..., or a file path)
    run: str = ""  # reuse a trained CIFAR-10 ConvNet run folder instead of training one
    channels: tuple[int, ...] = (24, 48, 96)  # feature maps per stage; range [1, 1024], 1 to 5 values
    fc: tuple[int, ...] = (128,)  # fully connected hidden layers; range [1, 8192], 0 to 8 values
    # first-layer kernel size, odd (5x5 filters are easier to look at than 3x3); range [1, 31]
    first_kernel: int = 5
    epochs: int = 2  # passes over the 45,000 training images; range [1, 10000]
    n_train: int = 0  # use only the first n training images (0: all); range [0, 45000]
    batch_size: int = 128  # minibatch size; range [1, 65536]
    lr: float = 0.05  # peak learning rate (one cycle, Nesterov momentum); range (0, 100]
    maps_per_layer: int = 8  # feature maps drawn per layer; range [1, 64]
    seed: int = 0  # seed of the net's training; range [0, 2147483647]

    def check(self):
        check_fields(self)
        if self.first_kernel % 2 == 0:
            raise ConfigError(f"--first-kernel takes an odd size (padding k // 2 keeps the map size), got "
                              f"{self.first_kernel}")
    device: str = "auto"  # auto, cpu, cuda


PROFILES = {
    "smoke": Config(channels=(8, 16), fc=(16,), epochs=1, n_train=1500, batch_size=64),
    "quick": Config(),
    "full": Config(channels=(64, 128, 256), fc=(256,), epochs=30, lr=0.1, first_kernel=7),
}


def targets(profile, cfg):
    if profile == "smoke":
        return {}
    # the figure is judged by eye; the net it shows must at least have learned the task well above chance (0.1)
    return {"test_accuracy": {"op": ">=", "value": 0.6}}


def _train(cfg, out_dir):
    data = cifar10.load(seed=0)
    if cfg.n_train:
        data.train = type(data.train)(data.train.x[:cfg.n_train], data.train.y[:cfg.n_train])
    seed_everything(cfg.seed)
    mcfg = convnet.Config(channels=cfg.channels, fc=cfg.fc, first_kernel=cfg.first_kernel, batchnorm=True,
                          mean=CIFAR_MEAN, std=CIFAR_STD)
    model = convnet.make(mcfg, data.input_shape, len(data.classes)).to(memory_format=torch.channels_last)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, nesterov=True, weight_decay=5e-4,
                       schedule="onecycle", warmup=0.15, monitor="accuracy", device=cfg.device, seed=cfg.seed,
                       eval_batch_size=1000)
    run_config = {"system": "convnet", "model": asdict(mcfg), "data": {**data.info(), "seed": 0}}
    print(f"   training the convnet whose maps are shown: {cfg.epochs} epochs ...", flush=True)
    r = fit(model, data, tcfg, out_dir / "model", run_config, augment=augment.natural_augment(4, True))
    return r["test"]["accuracy"], r["device"]


def centre_square(rgb, size):
    """Centre-crop a (H, W, 3) picture to a square and resize it to size x size -> (3, size, size) uint8."""
    h, w = rgb.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = np.ascontiguousarray(rgb[top:top + s, left:left + s])  # (s, s, 3)
    return convnet.prepare_image(square, (3, size, size))


def run(cfg, out_dir, profile):
    metrics = {}
    if cfg.run:
        model = load_run(cfg.run)
        if model.run_config["data"]["name"] != "cifar10":
            raise ConfigError(f"--run {cfg.run}: a CIFAR-10 ConvNet is needed, this run is on "
                              f"{model.run_config['data']['name']}")
        # the net's test accuracy is the one its own training measured, once (metrics.jsonl)
        tested = [r for r in read_metrics(cfg.run) if r.get("event") == "test" and "test_accuracy" in r]
        if not tested:
            raise ConfigError(f"--run {cfg.run}: no test accuracy in its metrics.jsonl; give a finished run")
        metrics["test_accuracy"] = tested[-1]["test_accuracy"]
        device = "cpu"
        artifacts = []
    else:
        acc, device = _train(cfg, out_dir)
        metrics["test_accuracy"] = acc
        model = load_run(out_dir / "model")
        artifacts = ["model/"]
    classes = model.run_config["data"]["classes"]
    size = model.run_config["data"]["input_shape"][1]

    found = photos.list_photos()
    path = found.get(cfg.photo) or cfg.photo
    rgb = photos.load_image(path)
    x = centre_square(rgb, size)[None]  # (1, 3, 32, 32)
    layers = [(n, t[0]) for n, t in model.feature_maps(x)
              if n.startswith(("relu", "pool", "scores"))]
    scores = layers[-1][1]  # (K,)
    probs = torch.softmax(scores, 0)
    top = probs.argsort(descending=True)[:5].tolist()
    metrics.update({"photo_top1_class": top[0], "photo_top1_probability": float(probs[top[0]]),
                    "n_layers_shown": len(layers) - 1})

    _plot_maps(rgb, x[0], layers, scores, classes, cfg, out_dir / "fig2_feature_maps.png", path)
    _plot_filters(model, out_dir / "first_layer_filters.png")
    # numbers only in series: class ids (names in the figure and in config.json's classes) and sizes
    series = {"photo_top5_class_probability": [[i, float(probs[i])] for i in top],
              "layer_units": [[i, t.numel()] for i, (_, t) in enumerate(layers)]}
    shutil.rmtree(out_dir / "model" / "tensorboard", ignore_errors=True)
    return {"metrics": metrics, "series": series, "seeds": [cfg.seed],
            "artifacts": ["fig2_feature_maps.png", "first_layer_filters.png"] + artifacts, "device": device}


def _plot_maps(rgb, x, layers, scores, classes, cfg, path, photo_path):
    """Rows bottom to top: RGB input, then each layer's first maps, then the class scores (as in Fig. 2)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = cfg.maps_per_layer
    maps = [(n, t) for n, t in layers if t.ndim == 3]  # (C, H, W) layers
    vecs = [(n, t) for n, t in layers[:-1] if t.ndim == 1]  # fully connected layers (units,)
    rows = 1 + len(maps) + len(vecs) + 1  # input, map layers, fc layers, scores
    cols = max(k + 1, 3)  # picture columns: k maps (and the photo's 3 colour planes), after the label column
    fig = plt.figure(figsize=(1.25 * (cols + 1), 1.15 * rows + 0.6))
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[3] + [1] * cols)

    def row_axes(r):  # row 0 is drawn at the bottom
        return rows - 1 - r

    # bottom row: the photo, then its R, G, B input planes
    ax = fig.add_subplot(grid[row_axes(0), 0])
    ax.imshow(rgb)
    ax.set_axis_off()
    ax.set_title(f"photo ({photo_path.name if hasattr(photo_path, 'name') else photo_path})", fontsize=7)
    for c, (name, cmap) in enumerate((("red", "Reds_r"), ("green", "Greens_r"), ("blue", "Blues_r"))):
        ax = fig.add_subplot(grid[row_axes(0), 1 + c])
        ax.imshow(x[c].numpy(), cmap=cmap, vmin=0, vmax=255)
        ax.set_axis_off()
        ax.set_title(name, fontsize=7)

    for r, (name, t) in enumerate(maps, start=1):
        ax = fig.add_subplot(grid[row_axes(r), 0])
        ax.text(0.95, 0.5, f"{_label(name)}\n{t.shape[0]} maps {t.shape[1]}x{t.shape[2]}", ha="right",
                va="center", fontsize=8)
        ax.set_axis_off()
        # the most active maps of this layer, so the picture shows features the photo triggers
        order = t.flatten(1).mean(1).argsort(descending=True)[:k]
        for j, m in enumerate(order.tolist()):
            ax = fig.add_subplot(grid[row_axes(r), 1 + j])
            ax.imshow(t[m].float().numpy(), cmap="gray")
            ax.set_axis_off()
    r = 1 + len(maps)
    for name, t in vecs:
        ax = fig.add_subplot(grid[row_axes(r), 0])
        ax.text(0.95, 0.5, f"{_label(name)}\n{t.shape[0]} units", ha="right", va="center", fontsize=8)
        ax.set_axis_off()
        ax = fig.add_subplot(grid[row_axes(r), 1:])
        ax.imshow(t.float().numpy()[None], cmap="gray", aspect="auto")
        ax.set_axis_off()
        r += 1

    # top row: the class scores, highest first
    ax = fig.add_subplot(grid[0, 1:])
    order = scores.argsort(descending=True).tolist()
    ax.barh(range(len(order)), [float(scores[i]) for i in order][::-1], color="tab:gray")
    ax.set_yticks(range(len(order)), [classes[i] for i in order][::-1], fontsize=7)
    ax.set_title("class scores (top of the net)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax = fig.add_subplot(grid[0, 0])
    ax.text(0.95, 0.5, "scores", ha="right", va="center", fontsize=8)
    ax.set_axis_off()
    fig.suptitle("Feature maps of a ConvNet trained on CIFAR-10, bottom (input) to top (class scores)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _label(name):
    if name.startswith("relu_fc"):
        return "fully connected + ReLU"
    if name.startswith("relu"):
        return "convolution + ReLU"
    if name.startswith("pool"):
        return "max pooling"
    return name


def _plot_filters(model, path):
    """The first convolution's filters as little RGB pictures (each rescaled to its own range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w = next(p for p in model.parameters() if p.ndim == 4).detach().float().cpu()  # (maps, C, k, k)
    n = w.shape[0]
    cols = min(16, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.6, rows * 0.6 + 0.5))
    for i, ax in enumerate(np.atleast_1d(axes).flat):
        ax.set_axis_off()
        if i < n:
            f = w[i]
            f = (f - f.min()) / (f.max() - f.min() + 1e-8)
            img = f.permute(1, 2, 0).numpy() if f.shape[0] == 3 else f[0].numpy()  # (C, k, k) -> (k, k, C)
            ax.imshow(img, cmap=None if f.shape[0] == 3 else "gray", interpolation="nearest")
    fig.suptitle(f"first-layer filters ({n} of {tuple(w.shape[1:])})", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
