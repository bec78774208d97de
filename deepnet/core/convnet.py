"""The convolutional feature extractor: stages of (k x k conv -> [batch norm] -> ReLU) x n -> 2x2 max-pool.

Each unit of a map is connected to a local patch of the maps below through a filter bank that all
units of the map share, y_j = f(b_j + Σ_i k_ij * x_i); pooling takes the maximum of 2x2 patches
(the review, "Convolutional neural networks"). Shapes: (B, C, H, W) -> (B, c_S, H / 2^S, W / 2^S).

Shared by systems/convnet.py (which adds its fully connected classifier on top) and
systems/captioning.py (which reads the last maps as a grid of image regions). The layer names
(`conv{s}_{k}`, `bn{s}_{k}`, `relu{s}_{k}`, `pool{s}`) are those of a convnet run's state dict, so
a ConvNet trained by `deepnet train convnet` gives its stages to a caption model as they are.
"""

from collections import OrderedDict

import torch
from torch import nn


class Normalise(nn.Module):
    """uint8 pixels 0..255 (or floats in [0, 1]) -> (x/255 - mean) / std per channel."""

    def __init__(self, mean, std, channels):
        super().__init__()
        mean = list(mean) * channels if len(mean) == 1 else list(mean)
        std = list(std) * channels if len(std) == 1 else list(std)
        if len(mean) != channels or len(std) != channels:
            raise ValueError(f"--mean/--std give {len(mean)}/{len(std)} values for {channels} input channel(s): "
                             f"give {'one' if channels == 1 else f'one or {channels}'} each")
        self.register_buffer("mean", torch.tensor(mean).view(1, channels, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, channels, 1, 1), persistent=False)

    def forward(self, x):
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        return (x - self.mean) / self.std


def conv_stages(in_channels, channels, convs_per_stage=1, first_kernel=3, batchnorm=True, pool_early=False):
    """OrderedDict name -> layer of the stages (the caller wraps it in nn.Sequential, maybe with more layers).

    With pool_early each stage pools right after its last convolution (conv -> pool -> BN -> ReLU):
    max(ReLU(z)) = ReLU(max(z)), so without batch norm it is the same function on a quarter of the pixels.
    """
    if first_kernel % 2 == 0:
        raise ValueError(f"--first-kernel must be odd (padding k // 2 keeps the map size), got {first_kernel}")
    layers, c = OrderedDict(), in_channels
    for s, width in enumerate(channels, 1):
        for k in range(1, convs_per_stage + 1):
            # local connections + shared weights: y_j = sum_i k_ij * x_i + b_j (no bias before BN)
            ks = first_kernel if (s, k) == (1, 1) else 3  # larger first-layer filters are easier to look at
            layers[f"conv{s}_{k}"] = nn.Conv2d(c, width, ks, padding=ks // 2, bias=not batchnorm)
            if pool_early and k == convs_per_stage:
                layers[f"pool{s}"] = nn.MaxPool2d(2)  # (B, c, H, W) -> (B, c, H/2, W/2)
            if batchnorm:
                layers[f"bn{s}_{k}"] = nn.BatchNorm2d(width)
            layers[f"relu{s}_{k}"] = nn.ReLU(inplace=True)  # f(z) = max(z, 0)
            c = width
        if not pool_early:
            layers[f"pool{s}"] = nn.MaxPool2d(2)  # max over 2x2 patches: small-shift invariance
    return layers


def he_init(module):
    """He et al. 2015 (var 2 / fan_in) for every conv and linear layer of `module`, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
