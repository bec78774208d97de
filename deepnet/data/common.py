"""What every dataset loader returns, and the helpers they share.

Images are kept as uint8 pixels in (N, C, H, W); models convert them to floats themselves
(so data stays compact in memory and on the device). Labels are int64 class ids.
"""

from dataclasses import dataclass, field

import torch


@dataclass
class ArrayDataset:
    """Tensors with the example index as first dimension; batched by slicing, not per sample."""

    x: torch.Tensor  # (N, ...) e.g. (N, C, H, W) uint8 pixels, or (N, T) int64 token ids
    y: torch.Tensor  # (N,) int64 targets (or (N, ...) for sequence targets)

    def __post_init__(self):
        if len(self.x) != len(self.y):
            raise ValueError(f"x has {len(self.x)} examples but y has {len(self.y)}")

    def __len__(self):
        return len(self.x)

    def __getitem__(self, idx):
        return self.x[idx], self.y[idx]


@dataclass
class Splits:
    """Train / validation / test parts of one dataset, and what a model needs to know about it."""

    name: str
    train: ArrayDataset
    val: ArrayDataset
    test: ArrayDataset
    classes: list = field(default_factory=list)  # class names, index = label id
    input_shape: tuple = ()  # shape of one example, e.g. (1, 28, 28)
    licence: str = ""
    notes: str = ""  # e.g. how the validation part was carved
    extra: dict = field(default_factory=dict)  # more facts for info(), added by a system's view of the data

    def info(self):
        """Plain dict describing the data, stored in a run's config.json to rebuild the model."""
        return {
            "name": self.name,
            "input_shape": list(self.input_shape),
            "num_classes": len(self.classes),
            "classes": list(self.classes),
            "sizes": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
            **self.extra,
        }


def carve_validation(n, n_val, seed, labels=None):
    """Indices (train_idx, val_idx) holding out n_val of n examples, fixed by seed.

    With labels, the split is stratified so every class keeps its share in both parts.
    """
    g = torch.Generator().manual_seed(seed)
    if labels is None:
        perm = torch.randperm(n, generator=g)
        return perm[n_val:].sort().values, perm[:n_val].sort().values
    labels = torch.as_tensor(labels)
    train_idx, val_idx = [], []
    classes = labels.unique()
    # distribute n_val over classes in proportion to their size (largest remainders)
    counts = torch.stack([(labels == c).sum() for c in classes]).double()
    share = counts * n_val / n
    k = share.floor().long()
    rest = n_val - int(k.sum())
    if rest > 0:
        k[(share - share.floor()).argsort(descending=True)[:rest]] += 1
    for c, kc in zip(classes, k.tolist()):
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        val_idx.append(idx[:kc])
        train_idx.append(idx[kc:])
    return torch.cat(train_idx).sort().values, torch.cat(val_idx).sort().values


def splits_with_validation(name, arrays, n_val, seed, classes, input_shape, licence, notes):
    """Splits from decoded {train_x, train_y, test_x, test_y} arrays, validation carved from train.

    The carve is stratified and fixed by `seed`; the official test part stays untouched.
    """
    x, y = torch.from_numpy(arrays["train_x"]), torch.from_numpy(arrays["train_y"])
    train_idx, val_idx = carve_validation(len(y), n_val, seed, labels=y)
    return Splits(
        name=name,
        train=ArrayDataset(x[train_idx], y[train_idx]),
        val=ArrayDataset(x[val_idx], y[val_idx]),
        test=ArrayDataset(torch.from_numpy(arrays["test_x"]), torch.from_numpy(arrays["test_y"])),
        classes=list(classes),
        input_shape=tuple(input_shape),
        licence=licence,
        notes=notes,
    )
