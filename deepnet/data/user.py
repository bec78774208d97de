"""The user's own data: `--data PATH` wherever `--data NAME` is accepted.

A value of --data is a path when it contains a "/" or names an existing file or folder;
otherwise it is one of the built-in dataset names. What the path holds is recognised from
what is there; what is recognised (the format, the split, the size and channels images were
converted to, the class names, the vocabulary) goes into the run's config.json, so `deepnet
eval` rebuilds the same parts and `classify` / `sample` print the user's own names.

Images (systems that classify or model pictures: mlp, linear, kernel_svm, convnet, rbm, autoencoder):
- a folder with one subfolder per class (PNG, JPEG, BMP, GIF; any size and mode), optionally
  already split into train/, val/ and test/ subfolders that each hold the same class folders;
  otherwise split 80/10/10 per class with a fixed seed (--data-seed). Every picture is converted
  to one channel count (1 when every picture is greyscale, else 3) and one size (the most common
  size among the pictures; the others resized, anti-aliased): both are printed and recorded.
  A file that cannot be decoded is skipped with a warning naming it; an empty class folder, or
  a class with fewer pictures than the parts it must be split into, is refused in one line.
- a folder of idx files in MNIST's layout (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
  t10k-* or test-*): any dataset published that way; validation carved from train (10%).
- a .npz file with arrays x (N, H, W), (N, H, W, C) or (N, C, H, W), uint8 or floats in [0, 1],
  and y (N,) integer labels (optionally `classes`, their names); split 80/10/10, fixed seed.
Text (language models: rnn_lm, nplm): a UTF-8 text file, or a folder of .txt files read in name
order, split into train / validation / test by contiguous blocks (90 / 5 / 5 %); tokens are
characters or whitespace-separated words (the model's --level); the vocabulary comes from the
training block (words seen there; <unk> for the rest; characters: every character of the text).

Translation pairs (seq2seq): a folder laid out as OpenNMT and JoeyNMT lay it out, train.SRC and
train.TGT (SRC, TGT: the two languages' suffixes, e.g. en and de), valid.* (or val.*, dev.*) and
test.*, one sentence per line, line i of one file translating line i of the other; or a .tsv
file of `source<TAB>target` lines, split 90/5/5 at random with a fixed seed. Files of different
lengths, an empty line or a line without its tab are refused, named.

Sounds (acoustic_dnn): a folder with one subfolder of .wav recordings per class (any rate, mono
or the first channel), optionally inside train/ val/ test/, else split 80/10/10 per class; each
recording gets FSDD's features (resampled to 8 kHz, MFCC + deltas, CMVN: data/fsdd.py), recorded
in config.json so that `deepnet transcribe` computes the same.

Stories and questions (memory_network): files in bAbI's format (numbered story lines, question
lines `question<TAB>answer<TAB>supporting line ids`): a folder of *train*.txt and *test*.txt files
(read together as one joint set; validation: whole training stories holding 10% of the
questions), or one .txt file (whole stories split 80/10/10 at random, fixed seed). The vocabulary
comes from the training and validation stories.

Pictures are decoded into memory when they take at most 2 GB decoded (C x H x W bytes each: about
700,000 32x32 colour pictures; $DEEPNET_LAZY_BYTES changes the bound); a larger folder is read
lazily, each batch decoded when it is asked for (LazyPictures), so a folder of a million pictures
trains in the memory of one batch, at the cost of decoding every picture every epoch. Text,
idx files and .npz arrays are read into memory (a token costs 8 bytes).
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from deepnet.data.common import ArrayDataset, Splits, carve_validation
from deepnet.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
SPLIT_NAMES = ("train", "val", "test")
FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test shares when the user's data is not split already
TEXT_FRACTIONS = (0.9, 0.05, 0.05)


def is_path(value):
    """Whether a --data value names a path (contains '/' or exists) rather than a built-in dataset."""
    return "/" in str(value) or Path(value).exists()


def describe(kind):
    return {"images": "a folder of class subfolders of pictures (optionally inside train/ val/ test/), a folder of "
                      "MNIST-style idx files, or a .npz with x and y arrays",
            "text": "a UTF-8 text file or a folder of .txt files",
            "parallel": "a folder with train.SRC/train.TGT, valid.* (or val.*, dev.*) and test.* files, or a "
                        ".tsv file of source<TAB>target lines",
            "stories": "bAbI-format story files: a folder of *train*.txt and *test*.txt files, or one .txt file",
            "sounds": "a folder with one subfolder of .wav recordings per class (optionally inside train/ val/ test/)"}[kind]


def load(path, kind, seed=0, level="char", like=None):
    """Splits of the user's data at `path` for a system that reads `kind` ("images" or "text").

    like: a run's recorded data info, to rebuild the same parts (same size, channels, vocabulary).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (expected {describe(kind)})")
    if kind == "images":
        data = _load_images(path, seed, like)
    elif kind == "text":
        data = _load_text(path, level, like)
    elif kind == "parallel":
        data = _load_parallel(path, seed)
    elif kind == "stories":
        data = _load_stories(path, seed, like)
    elif kind == "sounds":
        data = _load_sounds(path, seed, like)
    else:
        raise DataError(f"{path}: this system does not read the user's own data yet")
    data.extra = {**data.extra, "path": str(path.resolve()), "kind": kind}
    return data


# ---------------------------------------------------------------------------------------------
# Images


def _load_images(path, seed, like):
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise DataError(f"{path}: a file given as image data must be a .npz with x and y arrays "
                            f"(or give {describe('images')})")
        return _load_npz(path, seed)
    idx = _idx_files(path)
    if idx:
        return _load_idx(path, idx, seed)
    return _load_folder(path, seed, like)


def _idx_files(path):
    """{train_x, train_y, test_x, test_y} idx file paths of an MNIST-layout folder, or None."""
    found = {}
    for f in path.iterdir():
        name = f.name.lower()
        part = "train" if name.startswith("train") else "test" if name.startswith(("t10k", "test")) else None
        what = "x" if "images-idx" in name else "y" if "labels-idx" in name else None
        if part and what:
            found[f"{part}_{what}"] = f
    return found if len(found) == 4 else None


def _load_idx(path, files, seed):
    from deepnet.data.mnist import read_idx

    arrays = {k: read_idx(f) for k, f in files.items()}
    for part in ("train", "test"):
        x, y = arrays[f"{part}_x"], arrays[f"{part}_y"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{files[part + '_x']}: expected (N, H, W) images and (N,) labels in the idx pair, "
                            f"found {x.shape} and {y.shape}")
    x_train = torch.from_numpy(arrays["train_x"].astype(np.uint8))[:, None]  # (N, H, W) -> (N, 1, H, W)
    y_train = torch.from_numpy(arrays["train_y"].astype(np.int64))
    x_test = torch.from_numpy(arrays["test_x"].astype(np.uint8))[:, None]
    y_test = torch.from_numpy(arrays["test_y"].astype(np.int64))
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    train_idx, val_idx = carve_validation(len(y_train), max(1, len(y_train) // 10), seed, labels=y_train)
    return Splits(name=path.name, train=ArrayDataset(x_train[train_idx], y_train[train_idx]),
                  val=ArrayDataset(x_train[val_idx], y_train[val_idx]), test=ArrayDataset(x_test, y_test),
                  classes=[str(c) for c in range(n_classes)], input_shape=tuple(x_train.shape[1:]),
                  notes=f"idx files in {path}; validation: 10% of train (seed {seed})",
                  extra={"format": "idx"})


def _load_npz(path, seed):
    try:
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z or "y" not in z:
                raise DataError(f"{path}: a .npz of images needs arrays named x and y (it has {', '.join(z.files)})")
            x, y = z["x"], z["y"]
            classes = [str(c) for c in z["classes"]] if "classes" in z else None
    except DataError:
        raise
    except Exception as e:  # a damaged archive, pickled objects: whatever numpy raises
        raise DataError(f"{path}: not a readable .npz ({type(e).__name__}: {e})") from e
    if len(x) != len(y) or y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: y must be (N,) integer labels for the N images of x; found x {x.shape}, y {y.shape} {y.dtype}")
    if x.ndim == 3:
        x = x[:, None]  # (N, H, W) -> (N, 1, H, W)
    elif x.ndim == 4 and x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    elif x.ndim != 4:
        raise DataError(f"{path}: x must be (N, H, W), (N, H, W, C) or (N, C, H, W) images; found {x.shape}")
    if x.dtype != np.uint8:
        if not np.issubdtype(x.dtype, np.floating) or x.min() < 0 or x.max() > 1:
            raise DataError(f"{path}: x must be uint8 pixels or floats in [0, 1]; found {x.dtype} in "
                            f"[{x.min()}, {x.max()}]")
        x = np.rint(x * 255).astype(np.uint8)
    n_classes = int(y.max()) + 1 if len(y) else 0
    classes = classes or [str(c) for c in range(n_classes)]
    if y.min() < 0 or n_classes > len(classes):
        raise DataError(f"{path}: labels must be 0 .. {len(classes) - 1} (one per name in classes)")
    xs, ys = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64))
    parts = _split_indices(ys, seed, str(path))
    return Splits(name=path.stem, **{p: ArrayDataset(xs[i], ys[i]) for p, i in zip(SPLIT_NAMES, parts)},
                  classes=classes, input_shape=tuple(xs.shape[1:]),
                  notes=f"{path}: split 80/10/10 per class (seed {seed})", extra={"format": "npz"})


def _split_indices(labels, seed, where):
    """(train, val, test) index tensors: 80/10/10 of each class, fixed by seed; refuses classes too small."""
    counts = Counter(labels.tolist())
    small = [c for c, n in counts.items() if n < 3]
    if small:
        raise DataError(f"{where}: class {small[0]} has {counts[small[0]]} example(s); at least 3 are needed "
                        "to split it into train, validation and test (or split it yourself into train/ val/ test/)")
    g = torch.Generator().manual_seed(seed)
    parts = ([], [], [])
    for c in sorted(counts):
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = max(1, round(len(idx) * FRACTIONS[1]))
        n_test = max(1, round(len(idx) * FRACTIONS[2]))
        parts[1].append(idx[:n_val])
        parts[2].append(idx[n_val:n_val + n_test])
        parts[0].append(idx[n_val + n_test:])
    return [torch.cat(p).sort().values for p in parts]


def _class_folders(folder):
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{folder}: no class subfolders (expected {describe('images')})")
    return classes


def _pictures(folder, suffixes=IMAGE_SUFFIXES):
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in suffixes)


def _class_files(path, suffixes, what):
    """(classes, {part: [(file, label)]}, presplit) of a folder of class folders, or of train/ val/ test/ ones."""
    presplit = all((path / p).is_dir() for p in SPLIT_NAMES)
    if presplit:
        classes = _class_folders(path / "train")
        files = {p: [(f, i) for i, c in enumerate(classes) for f in _pictures(path / p / c, suffixes)]
                 for p in SPLIT_NAMES}
        for p in SPLIT_NAMES:
            extra = sorted(set(_class_folders(path / p)) - set(classes))
            if extra:
                raise DataError(f"{path / p}: class folder {extra[0]!r} is not in {path / 'train'}")
    else:
        classes = _class_folders(path)
        files = {"all": [(f, i) for i, c in enumerate(classes) for f in _pictures(path / c, suffixes)]}
    for c in classes:
        where = path / "train" / c if presplit else path / c
        if not _pictures(where, suffixes):
            raise DataError(f"{where}: an empty class folder (no {what})")
    return classes, files, presplit


def _load_folder(path, seed, like):
    from PIL import Image

    classes, files, presplit = _class_files(path, IMAGE_SUFFIXES, ".png/.jpg/.bmp/.gif pictures")

    # one size and channel count for all: recorded by the run (like), else the pictures' most common
    sizes, grey = Counter(), True
    if like and like.get("input_shape"):
        c, h, w = like["input_shape"]
        size, channels = (w, h), c
    else:
        for group in files.values():
            for f, _ in group:
                try:
                    with Image.open(f) as im:
                        sizes[im.size] += 1
                        grey = grey and im.mode in ("1", "L", "LA", "I;16", "I", "F")
                except Exception:  # noqa: BLE001 - reported below, when it is decoded
                    continue
        if not sizes:
            raise DataError(f"{path}: none of its pictures could be read")
        size, channels = sizes.most_common(1)[0][0], 1 if grey else 3

    def eager(group):
        xs, ys = [], []
        for f, label in group:
            try:
                xs.append(_decode_picture(f, size, channels))
            except DataError as e:  # any file PIL cannot decode is skipped, named
                print(f"deepnet: warning: skipping {f}: {e.args[0].split(': ', 1)[1]}", file=sys.stderr)
                continue
            ys.append(label)
        if not xs:
            return torch.zeros(0, channels, size[1], size[0], dtype=torch.uint8), torch.zeros(0, dtype=torch.long)
        return torch.from_numpy(np.stack(xs)), torch.tensor(ys, dtype=torch.long)

    def by_batch(group):  # too large to hold decoded: keep the file names, decode each batch when it is asked for
        kept = []
        for f, label in group:
            try:
                with Image.open(f) as im:
                    im.verify()  # the header and structure only, not the pixels
                kept.append((f, label))
            except Exception as e:  # noqa: BLE001 - skipped and named, as the eager path does
                print(f"deepnet: warning: skipping {f}: not a readable picture ({type(e).__name__})", file=sys.stderr)
        return (LazyPictures([f for f, _ in kept], channels, size),
                torch.tensor([label for _, label in kept], dtype=torch.long))

    n_files = sum(len(group) for group in files.values())
    lazy = n_files * channels * size[0] * size[1] > lazy_bytes()
    decode = by_batch if lazy else eager
    if presplit:
        parts = {p: ArrayDataset(*decode(files[p])) for p in SPLIT_NAMES}
        notes = f"{path}: its own train/ val/ test/ folders"
    else:
        x, y = decode(files["all"])
        idx = _split_indices(y, seed, str(path))
        parts = {p: ArrayDataset(x[i] if not lazy else x.subset(i), y[i]) for p, i in zip(SPLIT_NAMES, idx)}
        notes = f"{path}: split 80/10/10 per class (seed {seed})"
    if lazy:
        notes += f"; read lazily ({n_files:,} pictures would take more than {lazy_bytes():,} bytes decoded)"
    if len(parts["train"]) == 0:
        raise DataError(f"{path}: no training picture could be read")
    notes += f"; pictures converted to {channels} channel(s) at {size[0]}x{size[1]} (width x height)"
    return Splits(name=path.name, **parts, classes=classes, input_shape=(channels, size[1], size[0]), notes=notes,
                  extra={"format": "folder"})


def lazy_bytes():
    """Decoded size above which a folder of pictures is read per batch: $DEEPNET_LAZY_BYTES, default 2 GB."""
    import os

    return int(os.environ.get("DEEPNET_LAZY_BYTES", 2 * 1024 ** 3))


def _decode_picture(f, size, channels):
    """One picture file -> (C, H, W) uint8 at `size` (width, height); DataError naming it if it cannot be decoded."""
    from PIL import Image

    try:
        with Image.open(f) as im:
            im = im.convert("L" if channels == 1 else "RGB")
            if im.size != size:
                im = im.resize(size, Image.LANCZOS)
            a = np.asarray(im)
    except Exception as e:  # noqa: BLE001 - whatever PIL raises on bytes it cannot decode
        raise DataError(f"{f}: not a readable picture ({type(e).__name__})") from None
    return a[None] if channels == 1 else a.transpose(2, 0, 1)  # (H, W[, C]) -> (C, H, W)


class LazyPictures:
    """Picture files read when a batch asks for them: x[idx] -> (B, C, H, W) uint8, as an eager x would give.

    It is what `ArrayDataset.x` holds for folders too large to decode at once: core.train.batches
    slices x by index tensors (shuffled) or slices (in order), so training, validation and resume
    work unchanged; memory holds one batch. A file that passed the header check but fails to decode
    mid-training stops the run with a DataError naming it (the last checkpoint is kept).
    """

    device = torch.device("cpu")
    dtype = torch.uint8

    def __init__(self, files, channels, size):
        self.files, self.channels, self.size = list(files), channels, size
        self.shape = (len(self.files), channels, size[1], size[0])

    def __len__(self):
        return len(self.files)

    def subset(self, idx):
        return LazyPictures([self.files[i] for i in torch.as_tensor(idx).tolist()], self.channels, self.size)

    def __getitem__(self, idx):
        if isinstance(idx, int):
            return torch.from_numpy(_decode_picture(self.files[idx], self.size, self.channels))
        rows = range(*idx.indices(len(self.files))) if isinstance(idx, slice) else torch.as_tensor(idx).tolist()
        if not len(rows):
            return torch.zeros(0, *self.shape[1:], dtype=torch.uint8)
        return torch.from_numpy(np.stack([_decode_picture(self.files[i], self.size, self.channels) for i in rows]))


# ---------------------------------------------------------------------------------------------
# Sounds


def _load_sounds(path, seed, like):
    """A folder of class folders of .wav recordings -> padded utterances with FSDD's features (data/fsdd.py)."""
    from deepnet.data import audio, fsdd

    if not path.is_dir():
        raise DataError(f"{path}: expected {describe('sounds')}")
    classes, files, presplit = _class_files(path, {".wav"}, ".wav recordings")
    name = ((like or {}).get("features") or {}).get("name", "mfcc")
    settings = fsdd.FEATURES[name]

    def features(group):
        feats, ys = [], []
        for f, label in group:
            try:
                samples, rate = audio.read_wav(f)
                feats.append(fsdd.features_of(samples, rate, settings))  # (T, F)
            except (DataError, ValueError) as e:
                print(f"deepnet: warning: skipping {f}: {e}", file=sys.stderr)
                continue
            ys.append(label)
        return feats, torch.tensor(ys, dtype=torch.long)

    groups = {p: features(g) for p, g in files.items()}
    every = [f for feats, _ in groups.values() for f in feats]
    if not every:
        raise DataError(f"{path}: none of its recordings could be read")
    T = max(len(f) for f in every)
    if presplit:
        parts = {p: ArrayDataset(audio.pad_utterances(groups[p][0], T), groups[p][1]) for p in SPLIT_NAMES}
        notes = f"{path}: its own train/ val/ test/ folders"
    else:
        x, y = audio.pad_utterances(groups["all"][0], T), groups["all"][1]  # (N, T, 1 + F)
        idx = _split_indices(y, seed, str(path))
        parts = {p: ArrayDataset(x[i], y[i]) for p, i in zip(SPLIT_NAMES, idx)}
        notes = f"{path}: split 80/10/10 per class (seed {seed})"
    F = parts["train"].x.shape[2] - 1
    return Splits(name=path.name, **parts, classes=classes, input_shape=(T, 1 + F),
                  notes=notes + f"; {name} features as FSDD's ({settings['rate']} Hz)",
                  extra={"format": "sounds", "features": {**settings, "name": name, "context": 0, "dim": F,
                                                          "max_frames": T}})


# ---------------------------------------------------------------------------------------------
# Text


def _read_utf8(f):
    raw = f.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{f}: not UTF-8 text (byte {e.start}: {raw[e.start:e.start + 1]!r}); convert it, e.g. "
                        f"iconv -f latin1 -t utf-8 {f.name} > {f.stem}.utf8.txt") from None


def _load_text(path, level, like):
    from deepnet.data.text import UNK, build_vocab, encode

    if path.is_dir():
        files = sorted(f for f in path.iterdir() if f.is_file() and f.suffix.lower() == ".txt")
        if not files:
            raise DataError(f"{path}: a folder of text needs .txt files (expected {describe('text')})")
        text = "\n".join(_read_utf8(f) for f in files)
    else:
        text = _read_utf8(path)
    tokens = list(text) if level == "char" else text.split()
    if len(tokens) < 100:
        raise DataError(f"{path}: {len(tokens)} {'characters' if level == 'char' else 'words'}; a language model "
                        "needs at least 100 to split into train, validation and test")
    n_train = int(len(tokens) * TEXT_FRACTIONS[0])
    n_val = int(len(tokens) * TEXT_FRACTIONS[1])
    if like and like.get("classes"):
        vocab = list(like["classes"])
    elif level == "char":
        vocab = sorted(set(text))
    else:
        vocab = build_vocab(tokens[:n_train], specials=(UNK,))
    try:
        ids = torch.tensor(encode(tokens, vocab), dtype=torch.long)
    except KeyError as e:  # a character the run's vocabulary lacks (character vocabularies have no <unk>)
        raise DataError(f"{path}: holds {e.args[0]!r}, which the model's vocabulary does not") from None
    # contiguous blocks; each part after the first starts one token early, so that its first target has an input
    parts = {"train": ids[:n_train], "val": ids[n_train - 1:n_train + n_val], "test": ids[n_train + n_val - 1:]}
    return Splits(name=path.stem if path.is_file() else path.name,  # inputs t[:-1], next-token targets t[1:]
                  **{p: ArrayDataset(t[:-1], t[1:]) for p, t in parts.items()}, classes=vocab, input_shape=(),
                  notes=f"{path}: {len(tokens):,} {level} tokens, contiguous 90/5/5 % train/validation/test",
                  extra={"format": "text", "level": level})


# ---------------------------------------------------------------------------------------------
# Parallel sentences


def _lines(f):
    text = _read_utf8(f)
    lines = text.split("\n")
    if lines and lines[-1] == "":  # the final newline ends the last line; it starts none
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _pairs(src_file, tgt_file):
    from deepnet.data.multi30k import Parallel

    a, b = _lines(src_file), _lines(tgt_file)
    if len(a) != len(b):
        raise DataError(f"{src_file} has {len(a)} lines but {tgt_file} has {len(b)}: parallel files must pair "
                        "line by line")
    for i, (s, t) in enumerate(zip(a, b), 1):
        if not s.strip() or not t.strip():
            raise DataError(f"{src_file if not s.strip() else tgt_file}: line {i} is empty")
    return Parallel(a, b)


def _load_parallel(path, seed):
    from deepnet.data.multi30k import Bitext, Parallel

    if path.is_file():
        if path.suffix.lower() != ".tsv":
            raise DataError(f"{path}: expected {describe('parallel')}")
        pairs = []
        for i, line in enumerate(_lines(path), 1):
            cols = line.split("\t")
            if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
                raise DataError(f"{path}: line {i} is not 'source<TAB>target'")
            pairs.append(cols)
        if len(pairs) < 20:
            raise DataError(f"{path}: {len(pairs)} pairs; at least 20 are needed to split into train, validation "
                            "and test")
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
        n_val = n_test = max(1, round(len(pairs) * TEXT_FRACTIONS[1]))
        parts = [order[n_val + n_test:], order[:n_val], order[n_val:n_val + n_test]]
        train, val, test = (Parallel([pairs[i][0] for i in idx], [pairs[i][1] for i in idx]) for idx in parts)
        src, tgt, notes = "src", "tgt", f"split 90/5/5 at random (seed {seed})"
    else:
        trains = sorted(path.glob("train.*"))
        if len(trains) != 2:
            raise DataError(f"{path}: expected {describe('parallel')} (found {len(trains)} train.* files)")
        # the direction: suffixes src/tgt, or a folder named SRC-TGT (e.g. en-de), else alphabetical (said)
        src, tgt = (f.suffix[1:] for f in trains)
        if {src, tgt} == {"src", "tgt"}:
            src, tgt = "src", "tgt"
        elif path.name == f"{tgt}-{src}":
            src, tgt = tgt, src
        found = {}
        for part, names in (("val", ("valid", "val", "dev")), ("test", ("test",))):
            stem = next((n for n in names if (path / f"{n}.{src}").is_file() and (path / f"{n}.{tgt}").is_file()), None)
            if stem is None:
                raise DataError(f"{path}: no {names[0]}.{src} / {names[0]}.{tgt} pair (expected {describe('parallel')})")
            found[part] = _pairs(path / f"{stem}.{src}", path / f"{stem}.{tgt}")
        train, val, test = _pairs(path / f"train.{src}", path / f"train.{tgt}"), found["val"], found["test"]
        notes = (f"its own train / valid / test files, {src} -> {tgt} (name the folder {tgt}-{src} for the other "
                 "direction)")
    return Bitext(train, val, test, src, tgt, test_name="test", name=path.stem if path.is_file() else path.name,
                  extra={"format": "parallel", "notes": notes})


# ---------------------------------------------------------------------------------------------
# Stories and questions (bAbI's format)


def _load_stories(path, seed, like):
    from deepnet.data import babi

    g = torch.Generator().manual_seed(seed)
    if path.is_file():
        examples = babi.parse(path)
        train, test = babi.hold_out_stories(examples, FRACTIONS[2], g)
        train, val = babi.hold_out_stories(train, FRACTIONS[1] / (1 - FRACTIONS[2]), g)
        notes = f"{path.name}: whole stories split 80/10/10 at random (seed {seed})"
    else:
        files = {p: sorted(f for f in path.glob("*.txt") if p in f.name) for p in ("train", "test")}
        if not files["train"] or not files["test"]:
            raise DataError(f"{path}: expected {describe('stories')}")
        train = [ex for f in files["train"] for ex in babi.parse(f)]
        test = [ex for f in files["test"] for ex in babi.parse(f)]
        train, val = babi.hold_out_stories(train, FRACTIONS[1], g)
        notes = (f"{len(files['train'])} training and {len(files['test'])} test file(s); validation: whole training "
                 f"stories holding ~10% of the questions (seed {seed})")
    if not train or not val or not test:
        raise DataError(f"{path}: too few stories to split into train, validation and test")
    like = like or {}
    data = babi.pack_parts({"train": train, "val": val, "test": test}, path.stem if path.is_file() else path.name,
                           notes, memory_size=like.get("memory_size", 50), vocab=like.get("classes"),
                           sentence_size=like.get("sentence_size"), licence="")
    data.extra = {"format": "babi"}
    return data
