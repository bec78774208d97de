"""scikit-learn's 8x8 handwritten digits (UCI Optical Recognition of Handwritten Digits).

Embedded in the scikit-learn wheel, so it needs no data folder: the default for a first run
on a fresh machine. 1,797 images (the UCI test part), pixel values 0..16 (counts of "on"
pixels in 4x4 blocks of a 32x32 bitmap), rescaled here to 0..255 like every other image set.
"""

import numpy as np
import torch

from deepnet.data.common import ArrayDataset, Splits, carve_validation
from deepnet.errors import DataError

NAME = "digits"
DESCRIPTION = "scikit-learn digits: 1,797 8x8 grey handwritten digits, 10 classes (embedded, no download)"
LICENCE = "CC BY 4.0 (UCI Machine Learning Repository, E. Alpaydin and C. Kaynak, 1998)"
SOURCE = ("scikit-learn's sklearn.datasets.load_digits "
          "(a copy of the test part of UCI's Optical Recognition of Handwritten Digits)")
FILES = ()  # embedded: nothing to find on disk
CLASSES = [str(d) for d in range(10)]

TEST_FRACTION = 0.2
VAL_FRACTION = 0.2
TEST_SEED = 0  # the test part never moves with the seed, so runs with different seeds share it


def arrays():
    """(x (1797, 1, 8, 8) uint8 in 0..255, y (1797,) int64) in scikit-learn's order."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)  # 0..16 -> 0..255
    return x[:, None], d.target.astype(np.int64)  # (N, 8, 8) -> (N, 1, 8, 8)


def split_indices(y, seed=0):
    """(train_idx, val_idx, test_idx) of about 60/20/20, each stratified by class.

    The test part is fixed (seed TEST_SEED); `seed` only changes which of the rest are val.
    """
    y = torch.as_tensor(y)
    n = len(y)
    n_test, n_val = round(TEST_FRACTION * n), round(VAL_FRACTION * n)
    rest_idx, test_idx = carve_validation(n, n_test, TEST_SEED, labels=y)
    train_pos, val_pos = carve_validation(len(rest_idx), n_val, seed, labels=y[rest_idx])
    return rest_idx[train_pos], rest_idx[val_pos], test_idx


def load(seed=0):
    """Digits as Splits: about 60/20/20 train/val/test (1079/359/359), stratified by class.

    x: uint8 (N, 1, 8, 8) in 0..255, y: int64 (N,). The test part does not move with `seed`.
    """
    x, y = arrays()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    train_idx, val_idx, test_idx = split_indices(y, seed)
    return Splits(
        name=NAME,
        train=ArrayDataset(x[train_idx], y[train_idx]),
        val=ArrayDataset(x[val_idx], y[val_idx]),
        test=ArrayDataset(x[test_idx], y[test_idx]),
        classes=list(CLASSES),
        input_shape=(1, 8, 8),
        licence=LICENCE,
        notes=f"stratified 60/20/20: test fixed (seed {TEST_SEED}), val by seed {seed}",
    )


def find_root():
    """Digits live inside scikit-learn, never under a data root."""
    return None


def fetch(root=None, **kwargs):
    """Nothing to download: the digits ship inside the scikit-learn wheel. Returns None."""
    return None


def verify(root=None):
    """Check the embedded data; returns the checks passed, raises DataError at the first failure."""
    x, y = arrays()
    passed = []
    if x.shape != (1797, 1, 8, 8) or x.dtype != np.uint8:
        raise DataError(f"digits: images are {x.dtype} {x.shape}, expected uint8 1797 x 1 x 8 x 8 "
                        "(reinstall scikit-learn)")
    passed.append("counts: 1797 images of 1x8x8 uint8")
    counts = np.bincount(y, minlength=10)
    if len(counts) != 10 or counts.min() < 150:
        raise DataError(f"digits: class counts {counts.tolist()} are not 10 balanced classes (reinstall scikit-learn)")
    passed.append(f"classes: 10 classes, {counts.min()}..{counts.max()} images each")
    splits = load()
    sizes = (len(splits.train), len(splits.val), len(splits.test))
    if sum(sizes) != len(y):
        raise DataError(f"digits: split sizes {sizes} do not add up to {len(y)}")
    passed.append(f"splits: train/val/test {sizes[0]}/{sizes[1]}/{sizes[2]}")
    return passed
