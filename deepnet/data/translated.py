"""Translated and cluttered MNIST (Mnih, Heess, Graves & Kavukcuoglu 2014, Section 4.1), generated from MNIST.

    mnist_translated60   each 28x28 digit pasted at a uniformly random position of a blank 60x60 canvas
    mnist_cluttered60    the same, plus 4 pieces of clutter: random 8x8 crops of other digits, each at a
                         random position of the canvas (the digit is pasted last: where its pixels are
                         not 0 they are its own, so the clutter never hides it)

Nothing is stored on disk: the canvases are made when loaded, from the MNIST idx files, the same ones
every time. Train and validation canvases come from MNIST's training images (split as `mnist.load`
splits them, seed `seed`) and their clutter from training images too; the test canvases come from
MNIST's 10,000 test images with clutter from test images, drawn with a fixed generator (TEST_SEED)
whatever `seed` is, so every run is tested on the same set. x: uint8 (N, 1, size, size); y: int64 (N,).
`offsets` (where each digit's top-left corner went, (row, col)) is kept beside each part, for plots and tests.
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


def translate(digits, size, rng):
    """Paste each (28, 28) digit at a random place of a blank (size, size) canvas.

    digits: uint8 (N, h, w). Returns (canvases uint8 (N, size, size), offsets int64 (N, 2) = (row, col)
    of each digit's top-left corner, uniform in [0, size - h] x [0, size - w]).
    """
    n, h, w = digits.shape
    offsets = np.stack([rng.integers(0, size - h + 1, n), rng.integers(0, size - w + 1, n)], axis=1)
    canvases = np.zeros((n, size, size), np.uint8)
    paste(canvases, digits, offsets)
    return canvases, offsets


def paste(canvases, patches, offsets, over=True):
    """Write patches (N, h, w) into canvases (N, S, S) at offsets (N, 2), all at once (no loop over images).

    over=True: the patch replaces the canvas where the patch is not 0 (a digit over clutter);
    over=False: the patch is combined by maximum (clutter over clutter).
    """
    n, h, w = patches.shape
    rows = offsets[:, 0, None, None] + np.arange(h)[None, :, None]  # (N, h, 1)
    cols = offsets[:, 1, None, None] + np.arange(w)[None, None, :]  # (N, 1, w)
    idx = np.arange(n)[:, None, None]  # (N, 1, 1)
    under = canvases[idx, rows, cols]  # (N, h, w): what the patch lands on
    canvases[idx, rows, cols] = np.where(patches > 0, patches, under) if over else np.maximum(patches, under)


def clutter(canvases, sources, pieces, rng, piece=PIECE):
    """Add `pieces` random piece x piece crops of random `sources` digits (M, 28, 28) at random places."""
    n, size, _ = canvases.shape
    m, h, w = sources.shape
    for _ in range(pieces):  # a loop over the 4 pieces, not over images
        src = sources[rng.integers(0, m, n)]  # (N, h, w): a random other digit for each canvas
        top, left = rng.integers(0, h - piece + 1, n), rng.integers(0, w - piece + 1, n)
        r = top[:, None, None] + np.arange(piece)[None, :, None]  # (N, piece, 1)
        c = left[:, None, None] + np.arange(piece)[None, None, :]  # (N, 1, piece)
        crops = src[np.arange(n)[:, None, None], r, c]  # (N, piece, piece)
        where = np.stack([rng.integers(0, size - piece + 1, n), rng.integers(0, size - piece + 1, n)], axis=1)
        paste(canvases, crops, where, over=False)
    return canvases


def make(images, labels, size, pieces, seed, sources=None):
    """(ArrayDataset of (N, 1, size, size) canvases, offsets (N, 2)) from MNIST images (N, 1, 28, 28).

    Deterministic in `seed`: the same images and seed give the same canvases. Clutter comes from
    `sources` (default: the images themselves), cropped from digits drawn at random among them.
    """
    rng = np.random.default_rng(seed)
    digits = np.asarray(images)[:, 0]  # (N, 1, 28, 28) -> (N, 28, 28)
    if pieces:  # clutter first, then the digit over it
        canvases = clutter(np.zeros((len(digits), size, size), np.uint8),
                           digits if sources is None else np.asarray(sources)[:, 0], pieces, rng)
        offsets = np.stack([rng.integers(0, size - 28 + 1, len(digits)),
                            rng.integers(0, size - 28 + 1, len(digits))], axis=1)
        paste(canvases, digits, offsets)
    else:
        canvases, offsets = translate(digits, size, rng)
    x = torch.from_numpy(canvases[:, None])  # (N, size, size) -> (N, 1, size, size)
    return ArrayDataset(x, torch.as_tensor(np.asarray(labels), dtype=torch.int64)), torch.from_numpy(offsets)


def load(name, seed=0, n_val=5000):
    """The Splits of `name` (a key of VARIANTS): MNIST's parts, each turned into canvases.

    Train and validation canvases are drawn with seeds derived from `seed`; the test canvases with TEST_SEED.
    """
    size, pieces = VARIANTS[name]
    base = mnist.load(seed=seed, n_val=n_val)
    train, train_offsets = make(base.train.x, base.train.y, size, pieces, seed=[seed, 1])
    val, val_offsets = make(base.val.x, base.val.y, size, pieces, seed=[seed, 2], sources=base.train.x)
    test, test_offsets = make(base.test.x, base.test.y, size, pieces, seed=TEST_SEED)
    what = f"{pieces} pieces of {PIECE}x{PIECE} clutter" if pieces else "no clutter"
    data = Splits(name=name, train=train, val=val, test=test, classes=list(base.classes),
                  input_shape=(1, size, size), licence=base.licence,
                  notes=f"MNIST digits at random places of a {size}x{size} canvas, {what} (Mnih et al. 2014); "
                        f"{base.notes}; test canvases from the MNIST test images, generator seed {TEST_SEED}")
    data.offsets = {"train": train_offsets, "val": val_offsets, "test": test_offsets}  # (N, 2) (row, col) each
    return data
