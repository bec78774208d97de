"""The linear classifier: the shallow baseline the review sets deep nets against.

Review, "Supervised learning": a two-class linear classifier computes a weighted sum of the
feature vector components; above a threshold the input is put in one class. With K classes,
one weighted sum per class and the largest wins:

    z = W x + b          W: (K, D), x: (D,) pixels scaled to [0, 1]       class = argmax_k z_k

Such a classifier can only carve its input space into half-spaces, which is why the review
says shallow classifiers need a good feature extractor. Two losses train it:

    "softmax":    E = -log softmax(z)[y]              softmax (multinomial logistic) regression
    "perceptron": E = max_k z_k - z_y                 the multi-class perceptron criterion: zero
                  when the target class wins; its gradient step adds x to the target's weights
                  and subtracts it from the winner's (Rosenblatt's rule)

LeCun et al. 1998 (Proc. IEEE, Fig. 9) report 12.0% test error on MNIST for a linear
classifier (8.4% on deslanted images).
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from deepnet.core.config import config_from_dict
from deepnet.core.train import TrainConfig


# Datasets `deepnet train linear` accepts (image classification sets with train/validation/test parts).
TRAINS_ON = ("digits", "mnist", "cifar10")
# trained by the engine on the data as loaded (the interface: deepnet/systems/__init__.py)
# `deepnet train linear`'s recipe: supervised_sgd's linear baseline (SGD, momentum 0.9, cosine decay),
# whose rate 0.1 won its validation grid on MNIST
TRAIN_CONFIG = TrainConfig(epochs=20, lr=0.1, momentum=0.9, schedule="cosine", monitor="accuracy")
fit = load_data = prepare_data = evaluate_part = None

@dataclass
class Config:
    """A linear classifier on raw pixels: one weighted sum per class."""

    loss: Literal["softmax", "perceptron"] = "softmax"  # softmax regression or the perceptron criterion


class Linear(nn.Module):
    """Input (B, ...) pixels or features -> (B, num_classes) scores z = W x + b."""

    def __init__(self, in_features, num_classes, loss="softmax"):
        super().__init__()
        self.loss_name = loss
        self.W = nn.Linear(in_features, num_classes)
        nn.init.zeros_(self.W.weight)  # a convex problem: start from zero, as the perceptron does
        nn.init.zeros_(self.W.bias)

    def forward(self, x, y=None):
        if x.dtype == torch.uint8:  # pixels 0..255 -> [0, 1]
            x = x.float() / 255
        z = self.W(x.flatten(1))  # z = W x + b: (B, D) -> (B, K)
        if y is None:
            return z, None
        if self.loss_name == "softmax":
            loss = F.cross_entropy(z, y)  # E = -log softmax(z)[y]
        else:
            loss = (z.max(dim=1).values - z.gather(1, y[:, None]).squeeze(1)).mean()  # E = max_k z_k - z_y
        return z, loss


def build(run_config):
    """The model a run folder describes (config.json: model section + data input_shape/num_classes)."""
    cfg = config_from_dict(Config, run_config["model"], "model config")
    data = run_config["data"]
    return Linear(math.prod(data["input_shape"]), data["num_classes"], cfg.loss)
