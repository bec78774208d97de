"""Multilayer networks trained by backpropagation (the review's Figure 1).

A feed-forward net computes, layer after layer, a weighted sum of the previous layer's
outputs followed by a non-linearity (Figure 1c):

    z_l = W_l y_{l-1} + b_l        y_l = f(z_l),   f in {ReLU, tanh, logistic}

and the last layer's outputs are class scores. With no hidden layer it is the linear
classifier (softmax regression) that the review contrasts deep nets with. Trained with
the cross-entropy loss -log softmax(z_L)[target] by the engine's minibatch SGD.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "logistic": nn.Sigmoid}


@dataclass
class Config:
    """A fully connected net: input -> hidden layers -> class scores."""

    hidden: tuple[int, ...] = (128,)  # units of each hidden layer (none: a linear classifier)
    activation: Literal["relu", "tanh", "logistic"] = "relu"  # the non-linearity f
    dropout: float = 0.0  # dropout probability after each hidden layer


class MLP(nn.Module):
    """Input (B, ...) pixels or features -> (B, num_classes) class scores."""

    def __init__(self, in_features, num_classes, hidden=(128,), activation="relu", dropout=0.0):
        super().__init__()
        layers, width = [], in_features
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x, y=None):
        if x.dtype == torch.uint8:  # pixels 0..255 -> [0, 1]
            x = x.float() / 255
        x = x.flatten(1)  # (B, C, H, W) -> (B, C*H*W)
        z = self.net(x)  # (B, num_classes)
        loss = F.cross_entropy(z, y) if y is not None else None
        return z, loss


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return MLP(math.prod(data["input_shape"]), data["num_classes"], cfg.hidden, cfg.activation, cfg.dropout)
