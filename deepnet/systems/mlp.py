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
The backpropagation of this net, written out by hand, is deepnet.core.backprop. The layer
stack itself (class MLP) lives in deepnet/core/feedforward.py, because another system (a deep
belief net, core/boltzmann.py) unrolls into it; `mlp.MLP` is that class.
"""

import math
from dataclasses import dataclass
from typing import Literal

from deepnet.core.config import config_from_dict
from deepnet.core.feedforward import MLP  # noqa: F401 - the layer stack lives in core (shared with the rbm unroll)
from deepnet.core.train import TrainConfig


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
    input_dropout: float = 0.0  # dropout probability of the input pixels; range [0, 1)
    init: Literal["default", "he", "glorot"] = "default"  # weight initialisation (biases start at 0 unless default)


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return MLP(math.prod(data["input_shape"]), data["num_classes"], cfg.hidden, cfg.activation, cfg.dropout, cfg.init,
               cfg.input_dropout)
