"""Convolutional networks: stages of convolution, non-linearity and pooling, then a classifier.

Review, "Convolutional neural networks": four ideas exploit the properties of natural
signals: local connections, shared weights, pooling and many layers. A convolutional
layer's units are organised in feature maps; each unit is connected to a local patch of the
previous layer's maps through a set of weights called a filter bank, and all units of one
map share that filter bank (so a motif is detected wherever it appears):

    y_j = f( b_j + sum_i k_ij * x_i )        x_i: input maps, k_ij: filters, *: 2-D convolution

A pooling layer merges semantically similar features: a unit computes the maximum of a local
patch of units in one map, which makes the representation invariant to small shifts and
distortions. Two or three stages of convolution, non-linearity and pooling are stacked,
followed by more convolutional and fully connected layers; the whole is trained end to end
by backpropagation. The review also names what made 2012 work: GPUs, ReLUs, dropout and
deformations of the training examples (Krizhevsky et al. 2012).

Two nets live here:
- `LeNet5`: LeCun et al. 1998 ("Gradient-based learning applied to document recognition",
  Section II.B, Fig. 2): C1 6@28x28, S2 subsampling, C3 16@10x10 with the sparse connection
  table of Table I, S4, C5 120, F6 84, output. Kept: the layer sizes, the C3 table, trainable
  subsampling (2x2 sum times a coefficient plus a bias) and the scaled tanh 1.7159 tanh(2x/3).
  Changed: the output layer is a linear layer trained with cross-entropy instead of
  Euclidean RBF units with the MAP criterion (the same role, a simpler loss).
- `ConvNet`: the modern stage-based net: each stage is `convs_per_stage` x (3x3 conv ->
  [batch norm] -> ReLU) then 2x2 max-pooling; then fully connected layers with dropout.

Both take uint8 pixels (B, C, H, W) (or floats already in [0, 1]), normalise them per channel,
and return (class scores (B, K), cross-entropy loss) when given targets.

This file also holds the conversion of a user's picture into the input a net expects
(`prepare_image`: MNIST-style for digit nets), used by `deepnet classify`.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict
from deepnet.core.convnet import Normalise, conv_stages
from deepnet.errors import ConfigError
from deepnet.core.train import TrainConfig


# Datasets `deepnet train convnet` accepts (image classification sets with train/validation/test parts).
TRAINS_ON = ("mnist", "cifar10")
# trained by the engine on the data as loaded (the interface: deepnet/systems/__init__.py)
# `deepnet train convnet`'s recipe: convnet_mnist's (Nesterov SGD, one-cycle rate with 15% warm-up, weight
# decay 5e-4), whose peak rate 0.1 was chosen on MNIST validation; without the warm-up a constant 0.1
# with momentum 0.9 kills the net in its first steps (chance accuracy)
TRAIN_CONFIG = TrainConfig(epochs=10, batch_size=128, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4,
                           schedule="onecycle", warmup=0.15, monitor="accuracy", eval_batch_size=1000)
fit = load_data = prepare_data = evaluate_part = None

@dataclass
class Config:
    """A ConvNet: LeNet-5 or stages of (conv -> ReLU) x n -> max-pool, then fully connected layers."""

    arch: Literal["stages", "lenet5"] = "stages"  # the modern stage-based net, or LeCun et al. 1998's LeNet-5
    channels: tuple[int, ...] = (32, 64)  # feature maps of each stage (stages only); range [1, 4096], 1 to 8 values
    convs_per_stage: int = 1  # convolutions before each pooling (stages only); range [1, 32]
    # size k of the first layer's k x k kernels, odd (the others are 3x3; stages only); range [1, 31]
    first_kernel: int = 3
    # units of the fully connected hidden layers (none: scores straight from the maps; stages only);
    # range [1, 65536], 0 to 8 values
    fc: tuple[int, ...] = (128,)
    dropout: float = 0.0  # dropout probability before each fully connected layer (stages only); range [0, 1)
    # batch normalisation after each convolution (stages only); without it, plain SGD at the engine's default
    # rate of 0.1 can kill the ReLUs of this He-initialised net in its first steps
    batchnorm: bool = True
    # per-channel mean of the [0, 1] pixels, subtracted first (one value: every channel); range [0, 1], 1 to 3 values
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.25,)  # per-channel std of the [0, 1] pixels, divided by; range (0, 1], 1 to 3 values
    # target mass spread over all classes in the loss (Szegedy et al. 2016); range [0, 1)
    label_smoothing: float = 0.0
    # max-pool straight after each stage's last convolution, before its batch norm and ReLU (stages only; as
    # airbench does): max-pooling commutes with ReLU, so only batch norm sees other statistics, and the
    # elementwise layers after it work on a quarter of the pixels
    pool_early: bool = False


_Normalise = Normalise  # lives in core/convnet.py, shared with the caption encoder


class _Classifier(nn.Module):
    """Shared tail: normalise input, run `self.layers`, return (scores, loss)."""

    label_smoothing = 0.0

    def _first_weight(self):
        return next(p for p in self.parameters() if p.ndim == 4)

    def forward(self, x, y=None):
        x = self.norm(x)
        w = self._first_weight()
        if w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous():
            # the model was put in channels_last (fast convolutions on GPUs): follow it
            x = x.contiguous(memory_format=torch.channels_last)
        z = self.layers(x)  # (B, num_classes)
        # E = -sum_k q_k log softmax(z)_k, q = (1 - eps) onehot(y) + eps / K; eps = 0: -log softmax(z)[y]
        loss = F.cross_entropy(z, y, label_smoothing=self.label_smoothing) if y is not None else None
        return z, loss

    @torch.no_grad()
    def feature_maps(self, x):
        """[(name, tensor)] of every layer's output, bottom to top, for one batch (review Fig. 2).

        Convolution, non-linearity and pooling outputs are (B, maps, H, W); the fully connected
        layers give (B, units); the last entry holds the class scores (B, K).
        """
        h, out = self.norm(x), []
        for name, m in self.layers.named_children():
            h = m(h)
            if not isinstance(m, (nn.Dropout, nn.Flatten, nn.BatchNorm2d)):
                out.append((name, h.clone()))  # a copy: the in-place ReLU that follows would overwrite it
        return out


# ---------------------------------------------------------------------------------------------
# The modern stage-based ConvNet


class ConvNet(_Classifier):
    """Stages of conv -> ReLU -> max-pool, then fully connected layers.

    Shapes, for input (B, C, H, W) and stages c_1..c_S: each stage keeps H x W through its k x k
    convolutions (padding k // 2; k = 3 except, optionally, in the first layer) and halves it by
    2x2 max-pooling, so the last maps are (B, c_S, H / 2^S, W / 2^S), flattened to
    (B, c_S * H * W / 4^S) for the fully connected layers. With pool_early, each stage pools right after
    its last convolution (conv -> pool -> BN -> ReLU): max(ReLU(z)) = ReLU(max(z)), so without batch norm
    it is the same function, computed on a quarter of the pixels after the pooling.
    """

    def __init__(self, cfg, in_shape, num_classes):
        super().__init__()
        first_kernel, batchnorm, pool_early = cfg.first_kernel, cfg.batchnorm, cfg.pool_early
        if first_kernel % 2 == 0:  # its range is declared in Config
            raise ValueError(f"--first-kernel must be odd (padding k // 2 keeps the map size), got {first_kernel}")
        self.label_smoothing = cfg.label_smoothing
        c, h, w = in_shape
        self.norm = _Normalise(cfg.mean, cfg.std, c)
        layers = conv_stages(c, cfg.channels, cfg.convs_per_stage, first_kernel, batchnorm, pool_early)
        c = cfg.channels[-1]
        h, w = h >> len(cfg.channels), w >> len(cfg.channels)  # each stage halves H x W
        if h < 1 or w < 1:
            raise ValueError(f"--channels: {len(cfg.channels)} poolings leave no pixels of a {in_shape[1]}x{in_shape[2]} "
                             "input; give fewer stages")
        layers["flatten"] = nn.Flatten()  # (B, c, h, w) -> (B, c*h*w)
        width = c * h * w
        for i, units in enumerate(cfg.fc, 1):
            if cfg.dropout > 0:
                layers[f"drop{i}"] = nn.Dropout(cfg.dropout)
            layers[f"fc{i}"] = nn.Linear(width, units)
            layers[f"relu_fc{i}"] = nn.ReLU(inplace=True)
            width = units
        if cfg.dropout > 0:
            layers["drop_out"] = nn.Dropout(cfg.dropout)
        layers["scores"] = nn.Linear(width, num_classes)  # z = W y + b: one score per class
        self.layers = nn.Sequential(_ordered(layers))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # He et al. 2015: var 2 / fan_in
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


def _ordered(d):
    from collections import OrderedDict

    return OrderedDict(d)


# ---------------------------------------------------------------------------------------------
# LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998)

# Table I of LeCun et al. 1998: which of the 6 S2 maps (rows) feed each of the 16 C3 maps (columns).
# Breaking the symmetry this way forces the C3 maps to extract different features.
C3_TABLE = [
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
]


class ScaledTanh(nn.Module):
    """f(a) = A tanh(S a) with A = 1.7159, S = 2/3 (LeCun et al. 1998, Appendix A): f(1) = 1, f(-1) = -1."""

    def forward(self, a):
        return 1.7159 * torch.tanh(a * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2/S4: each unit sums a 2x2 patch of one map, times a trainable coefficient, plus a trainable bias.

    (LeCun et al. 1998, Section II.B; the sigmoid follows as a separate layer.)
    (B, C, H, W) -> (B, C, H/2, W/2).
    """

    def __init__(self, channels):
        super().__init__()
        self.coef = nn.Parameter(torch.full((1, channels, 1, 1), 0.25))  # starts as an average
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x):
        return F.avg_pool2d(x, 2) * 4 * self.coef + self.bias  # 4 * mean = sum of the 2x2 patch


class SparseConv(nn.Conv2d):
    """C3: a 5x5 convolution where output map j sees only the input maps of column j of C3_TABLE."""

    def __init__(self, table):
        in_c, out_c = len(table), len(table[0])
        super().__init__(in_c, out_c, 5)
        mask = torch.tensor([[row[j] == "X" for row in table] for j in range(out_c)], dtype=torch.float32)
        self.register_buffer("mask", mask.view(out_c, in_c, 1, 1), persistent=False)  # (out, in, 1, 1)
        # fan-in counts only the connected maps (for the initialisation below)
        self.fan_in = mask.sum(1).view(out_c, 1, 1, 1) * 25

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias)  # k_ij = 0 where map i does not feed map j


class LeNet5(_Classifier):
    """(B, 1, 28, 28) -> pad to 32x32 -> C1 (6@28x28) -> S2 (6@14x14) -> C3 (16@10x10) -> S4 (16@5x5)
    -> C5 (120@1x1) -> F6 (84) -> output (K)."""

    def __init__(self, in_shape, num_classes, mean=(0.5,), std=(0.25,)):
        super().__init__()
        c, h, w = in_shape
        # LeNet-5 reads 32x32 inputs: MNIST's 28x28 digits are centred in a 32x32 field (Section III.A)
        pad = ((32 - h) // 2, (32 - h + 1) // 2) if h < 32 else (0, 0)
        if h + sum(pad) != 32 or w + sum(pad) != 32:
            raise ValueError(f"--arch lenet5 takes inputs of at most 32x32 (square), got {h}x{w}")
        self.norm = _Normalise(mean, std, c)
        table = C3_TABLE if c == 1 else None
        self.layers = nn.Sequential(_ordered({
            "pad": nn.ZeroPad2d((pad[0], pad[1], pad[0], pad[1])),  # (B, c, 28, 28) -> (B, c, 32, 32)
            "C1": nn.Conv2d(c, 6, 5),  # 6 maps of 28x28
            "f1": ScaledTanh(),
            "S2": Subsampling(6),  # 6 maps of 14x14
            "f2": ScaledTanh(),
            "C3": SparseConv(C3_TABLE) if table else nn.Conv2d(6, 16, 5),  # 16 maps of 10x10
            "f3": ScaledTanh(),
            "S4": Subsampling(16),  # 16 maps of 5x5
            "f4": ScaledTanh(),
            "C5": nn.Conv2d(16, 120, 5),  # 120 maps of 1x1: fully connected to S4
            "f5": ScaledTanh(),
            "flatten": nn.Flatten(),  # (B, 120, 1, 1) -> (B, 120)
            "F6": nn.Linear(120, 84),
            "f6": ScaledTanh(),
            "scores": nn.Linear(84, num_classes),
        }))
        # LeCun et al. 1998 (Appendix C) draw weights uniformly in (-2.4/F, 2.4/F), F the fan-in, and train
        # with per-weight step sizes (stochastic diagonal Levenberg-Marquardt). With plain SGD that start
        # is too small to learn quickly, so we use the variance 1/F of LeCun et al.'s "Efficient BackProp"
        # (1998, Section 4.6), which keeps the scaled tanh's inputs near unit variance: U(-sqrt(3/F), sqrt(3/F)).
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = getattr(m, "fan_in", None)
                if fan_in is None:
                    fan_in = torch.tensor(float(m.weight[0].numel()))
                nn.init.uniform_(m.weight, -1, 1)
                with torch.no_grad():
                    m.weight.mul_(torch.sqrt(3.0 / fan_in))
                nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------
# Building from a run folder, and preparing a user's pictures


def make(cfg, in_shape, num_classes):
    """The net a Config describes, for inputs of `in_shape` (C, H, W) and `num_classes` classes.

    A Config that does not fit the data (too many poolings, an even kernel, mean/std for other
    channels) is a ConfigError naming the flag.
    """
    try:
        if cfg.arch == "lenet5":
            net = LeNet5(tuple(in_shape), num_classes, cfg.mean, cfg.std)
            net.label_smoothing = cfg.label_smoothing
            return net
        return ConvNet(cfg, tuple(in_shape), num_classes)
    except ValueError as e:  # the nets' own checks (above), said in flags
        raise ConfigError(str(e)) from None


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return make(cfg, data["input_shape"], data["num_classes"])


def mnist_style(grey):
    """A (H, W) uint8 picture of one digit -> (28, 28) uint8 as MNIST was made (LeCun et al. 1998, III.A).

    Dark ink on light paper is inverted to MNIST's light-on-dark; the digit is cropped to its
    bounding box, scaled (aspect ratio kept, anti-aliased) to fit a 20x20 box, and placed in a
    28x28 field so that its centre of mass is at the centre.
    """
    from PIL import Image

    g = grey.astype(np.float32)
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    if np.median(border) > 127:  # light background: dark-on-light writing
        g = 255 - g
    lo = np.percentile(g, 5)  # the paper's level: remove uneven background, stretch the ink
    g = np.clip(g - lo, 0, None)
    hi = g.max()
    if hi <= 0:
        return np.zeros((28, 28), np.uint8)  # blank picture: nothing to read
    g = g * (255.0 / hi)
    ys, xs = np.nonzero(g > 0.2 * 255)
    crop = g[ys.min():ys.max() + 1, xs.min():xs.max() + 1]  # (h, w): bounding box of the ink
    h, w = crop.shape
    s = 20.0 / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").resize((nw, nh), Image.LANCZOS))
    small = np.clip(small, 0, 255)
    # centre of mass of the 20x20 digit goes to (14, 14)
    total = small.sum()
    cy = (small.sum(1) * np.arange(nh)).sum() / total
    cx = (small.sum(0) * np.arange(nw)).sum() / total
    top = int(np.clip(round(14 - cy), 0, 28 - nh))
    left = int(np.clip(round(14 - cx), 0, 28 - nw))
    out = np.zeros((28, 28), np.float32)
    out[top:top + nh, left:left + nw] = small
    return np.rint(out).astype(np.uint8)


def prepare_image(rgb, input_shape, digits=None):
    """A (H, W, 3) uint8 picture of any size -> (C, H', W') uint8 tensor that a net of `input_shape` reads.

    One channel at 28x28 (a digit net) gets `mnist_style`; other shapes are resized (whole
    picture, anti-aliased) to the net's H' x W', grey or RGB as it needs. `digits` forces
    (True) or skips (False) the MNIST-style preparation.
    """
    from PIL import Image

    c, h, w = input_shape
    if digits is None:
        digits = c == 1 and (h, w) == (28, 28)
    if digits:
        grey = np.asarray(Image.fromarray(rgb).convert("L"))  # (H, W): ITU-R 601 luma
        return torch.from_numpy(mnist_style(grey))[None]  # (1, 28, 28)
    im = Image.fromarray(rgb).convert("L" if c == 1 else "RGB").resize((w, h), Image.LANCZOS)
    a = np.asarray(im)
    if c == 1:
        a = a[:, :, None]  # (h, w) -> (h, w, 1)
    return torch.from_numpy(np.array(a.transpose(2, 0, 1)))  # (H, W, C) -> (C, H, W), a writable copy


def count_parameters(model):
    return sum(p.numel() for p in model.parameters())

