"""Multilayer networks trained by backpropagation (the review's Figure 1).

A feed-forward net computes, layer after layer, a weighted sum of the previous layer's
outputs followed by a non-linearity (Figure 1c):

    z_l = W_l y_{l-1} + b_l        y_l = f(z_l),   f in {ReLU, tanh, logistic}

and the last layer's outputs are class scores. With no hidden layer it is the linear
classifier (softmax regression) that the review contrasts deep nets with. Trained with
the cross-entropy loss -log softmax(z_L)[target] by the engine's minibatch SGD.

Initialisation matters for deep nets (review, "Backpropagation to train multilayer
architectures": ReLU nets train without unsupervised pre-training). `init` picks He et al.
2015 (W ~ N(0, 2/fan_in), for ReLU), Glorot & Bengio 2010 (W ~ U(-a, a), a = sqrt(6/(fan_in +
fan_out)), for tanh and logistic), or torch's default (U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
The backpropagation of this net, written out by hand, is deepnet.core.backprop.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict
from deepnet.core.train import TrainConfig

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}


# Datasets `deepnet train mlp` accepts (image classification sets with train/validation/test parts).
TRAINS_ON = ("digits", "mnist", "cifar10")
# trained by the engine on the data as loaded (the interface: deepnet/systems/__init__.py)
# `deepnet train mlp`'s recipe: sgd_digits' (SGD, momentum 0.9, cosine decay), whose rate 0.1 won its
# validation grid (0.01, 0.03, 0.1, 0.3) on digits; the accuracy on validation chooses best.pt
TRAIN_CONFIG = TrainConfig(epochs=20, lr=0.1, momentum=0.9, schedule="cosine", monitor="accuracy")
fit = load_data = prepare_data = evaluate_part = None

@dataclass
class Config:
    """A fully connected net: input -> hidden layers -> class scores."""

    hidden: tuple[int, ...] = (128,)  # units of each hidden layer (none: a linear classifier); range [1, 65536], 0 to 16 values
    activation: Literal["relu", "tanh", "logistic"] = "relu"  # the non-linearity f
    dropout: float = 0.0  # dropout probability after each hidden layer; range [0, 1)
    init: Literal["default", "he", "glorot"] = "default"  # weight initialisation (biases start at 0 unless default)


class MLP(nn.Module):
    """Input (B, ...) pixels or features -> (B, num_classes) class scores."""

    def __init__(self, in_features, num_classes, hidden=(128,), activation="relu", dropout=0.0, init="default"):
        super().__init__()
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]  # y_l = f(W_l y_{l-1} + b_l)
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))  # z_L = W_L y_{L-1} + b_L: class scores
        self.net = nn.Sequential(*layers)
        if init != "default":
            for m in self.net:
                if isinstance(m, nn.Linear):
                    if init == "he":
                        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")  # N(0, 2 / fan_in)
                    else:
                        nn.init.xavier_uniform_(m.weight)  # U(-a, a), a = sqrt(6 / (fan_in + fan_out))
                    nn.init.zeros_(m.bias)

    @staticmethod
    def _inputs(x):
        if x.dtype == torch.uint8:  # pixels 0..255 -> [0, 1]
            x = x.float() / 255
        return x.flatten(1)  # (B, C, H, W) -> (B, C*H*W); float64 inputs stay float64

    def forward(self, x, y=None):
        z = self.net(self._inputs(x))  # (B, num_classes)
        loss = F.cross_entropy(z, y) if y is not None else None  # E = -log softmax(z)[y], batch mean
        return z, loss

    @torch.no_grad()
    def hidden_outputs(self, x):
        """[y_1, ..., y_{L-1}]: each hidden layer's outputs (B, width), after its non-linearity."""
        y, outs = self._inputs(x), []
        for m in self.net:
            y = m(y)
            if isinstance(m, tuple(ACTIVATIONS.values())):
                outs.append(y)
        return outs


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return MLP(math.prod(data["input_shape"]), data["num_classes"], cfg.hidden, cfg.activation, cfg.dropout, cfg.init)
