"""Translated and cluttered MNIST (Mnih, Heess, Graves & Kavukcuoglu 2014, Section 4.1), generated from MNIST.

    mnist_translated60   each 28x28 digit pasted at a uniformly random position of a blank 60x60 canvas
    mnist_cluttered60    the same, plus 4 pieces of clutter: random 8x8 crops of other digits, each at a
                         random position of the canvas (the digit is pasted last: where its pixels are
                         not 0 they are its own, so the clutter never hides it)

Nothing is stored on disk: the canvases are made from the MNIST idx files. The training canvases are
generated on the fly: the training part holds MNIST's 55,000 training digits (28x28) and `data.augment`
(a `Canvases`, the engine's augment hook) places each minibatch on new canvases, with clutter from
training digits, so that every epoch sees new canvases (the digits stay the same). Validation canvases
come from MNIST's validation digits (split as `mnist.load` splits them, seed `seed`) with clutter from training digits, the same ones every time; the
test canvases come from MNIST's 10,000 test images with clutter from test images, drawn with a fixed
generator (TEST_SEED) whatever `seed` is, so every run is tested on the same set. Canvases: x uint8
(N, 1, size, size); y int64 (N,). `offsets` (where each digit's top-left corner went, (row, col)) is
kept beside the validation and test parts, for plots and tests.
These are not entries of deepnet.data.DATASETS (there is nothing to fetch but MNIST): `deepnet train glimpse
--data mnist_translated60|mnist_cluttered60` reaches them through systems/glimpse.py's `load_data`.
"""

import numpy as np
import torch

from deepnet.data import mnist
from deepnet.data.common import ArrayDataset, Splits

TEST_SEED = 20140624  # fixed: the test canvases do not depend on the run's seed (the paper's arXiv date)
PIECE = 8  # side of a clutter piece (Mnih et al. 2014: 8x8 sub-patches of other digits)

# name -> (canvas side, clutter pieces)
VARIANTS = {"mnist_translated60": (60, 0), "mnist_cluttered60": (60, 4)}


def paste(canvases, patches, offsets, over=True):
    """Write patches (N, h, w) into canvases (N, S, S) at offsets (N, 2), all at once (no loop over images).

    over=True: the patch replaces the canvas where the patch is not 0 (a digit over clutter);
    over=False: the patch is combined by maximum (clutter over clutter).
    """
    n, h, w = patches.shape
    dev = canvases.device
    rows = offsets[:, 0, None, None] + torch.arange(h, device=dev)[None, :, None]  # (N, h, 1)
    cols = offsets[:, 1, None, None] + torch.arange(w, device=dev)[None, None, :]  # (N, 1, w)
    idx = torch.arange(n, device=dev)[:, None, None]  # (N, 1, 1)
    under = canvases[idx, rows, cols]  # (N, h, w): what the patch lands on
    canvases[idx, rows, cols] = torch.where(patches > 0, patches, under) if over else torch.maximum(patches, under)


def place(digits, size, pieces, sources, generator=None):
    """New canvases for digits uint8 (N, 28, 28): (canvases uint8 (N, size, size), offsets int64 (N, 2)).

    First `pieces` pieces of clutter, each a random PIECE x PIECE crop of a random digit of `sources`
    (M, 28, 28) at a uniformly random place; then the digit, its top-left corner (row, col) uniform in
    [0, size - 28]^2. Draws come from `generator` (torch's default one when None: what a training run's
    checkpoint saves, so a resumed run makes the same canvases).
    """
    n, h, w = digits.shape
    dev = digits.device

    def draw(high, shape=(n,)):  # uniform integers in [0, high)
        return torch.randint(0, high, shape, generator=generator, device=dev)

    canvases = torch.zeros(n, size, size, dtype=torch.uint8, device=dev)
    at = torch.arange(PIECE, device=dev)
    for _ in range(pieces):  # a loop over the 4 pieces, not over images
        src = sources[draw(len(sources))]  # (N, 28, 28): a random other digit for each canvas
        top, left = draw(h - PIECE + 1), draw(w - PIECE + 1)
        crops = src[torch.arange(n, device=dev)[:, None, None], top[:, None, None] + at[None, :, None],
                    left[:, None, None] + at[None, None, :]]  # (N, PIECE, PIECE)
        paste(canvases, crops, draw(size - PIECE + 1, (n, 2)), over=False)
    offsets = draw(size - h + 1, (n, 2))
    paste(canvases, digits, offsets)
    return canvases, offsets


def make(images, labels, size, pieces, seed, sources=None):
    """(ArrayDataset of (N, 1, size, size) canvases, offsets (N, 2)) from MNIST images (N, 1, 28, 28).

    Deterministic in `seed` (an int): the same images and seed give the same canvases. Clutter comes from
    `sources` (default: the images themselves), cropped from digits drawn at random among them.
    """
    digits = torch.as_tensor(np.asarray(images))[:, 0]  # (N, 1, 28, 28) -> (N, 28, 28)
    sources = digits if sources is None else torch.as_tensor(np.asarray(sources))[:, 0]
    canvases, offsets = place(digits, size, pieces, sources, torch.Generator().manual_seed(seed))
    x = canvases[:, None]  # (N, size, size) -> (N, 1, size, size)
    return ArrayDataset(x, torch.as_tensor(np.asarray(labels), dtype=torch.int64)), offsets


class Canvases:
    """The engine's `augment` for a training part of digits: each minibatch of 28x28 digits (B, 1, 28, 28)
    becomes new canvases (B, 1, size, size), so no canvas is seen twice (the training set is generated on
    the fly: a fixed set of 55,000 cluttered canvases was learnt by heart, training accuracy 0.93 against
    validation 0.64 for the 8-glimpse RAM after 60 epochs)."""

    def __init__(self, size, pieces, sources):
        self.size, self.pieces, self.sources = size, pieces, sources  # sources: uint8 (M, 28, 28)

    def __call__(self, x, y):
        if self.sources.device != x.device:
            self.sources = self.sources.to(x.device)
        canvases, _ = place(x[:, 0], self.size, self.pieces, self.sources)  # (B, 1, 28, 28) -> (B, size, size)
        return canvases[:, None], y  # (B, size, size) -> (B, 1, size, size)


def load(name, seed=0, n_val=5000):
    """The Splits of `name` (a key of VARIANTS): the training part holds MNIST's training digits (N, 1, 28, 28)
    and `data.augment` makes their canvases per minibatch (pass it to the engine's fit); the validation
    canvases are drawn with a seed derived from `seed`, the test canvases with TEST_SEED.
    """
    size, pieces = VARIANTS[name]
    base = mnist.load(seed=seed, n_val=n_val)
    train = ArrayDataset(base.train.x, base.train.y)  # the digits themselves; data.augment makes their canvases
    val, val_offsets = make(base.val.x, base.val.y, size, pieces, seed=3 * seed + 2, sources=base.train.x)
    test, test_offsets = make(base.test.x, base.test.y, size, pieces, seed=TEST_SEED)
    what = f"{pieces} pieces of {PIECE}x{PIECE} clutter" if pieces else "no clutter"
    data = Splits(name=name, train=train, val=val, test=test, classes=list(base.classes),
                  input_shape=(1, size, size), licence=base.licence,
                  notes=f"MNIST digits at random places of a {size}x{size} canvas, {what} (Mnih et al. 2014), "
                        "new training canvases for every minibatch; "
                        f"{base.notes}; test canvases from the MNIST test images, generator seed {TEST_SEED}")
    data.offsets = {"val": val_offsets, "test": test_offsets}  # (N, 2) (row, col) each
    data.augment = Canvases(size, pieces, base.train.x[:, 0])  # (M, 1, 28, 28) -> (M, 28, 28)
    return data
