"""scenes: captioned canvases of real CIFAR-10 photos, and the Karpathy-split caption JSON.

No real image-caption set is available on these machines, so `scenes` builds one from real
photos: a 64x64 canvas cut into a 2x2 or 3x3 grid, a few cells holding a CIFAR-10 photo (the
same class may appear twice), the others black. Its captions come from a small grammar over the
objects' classes, counts and positions, several phrasings per scene, every one of them true of
the scene; they are the references BLEU scores against.

The grammar (every phrasing that applies to a scene is one reference):

    scene    -> absolute | anchored | relation | counted
    absolute -> obj PLACE ("and" obj PLACE)*                    every object in reading order
    anchored -> obj PLACE ("and" obj REL "it")*                 the others placed against the first
    relation -> obj REL obj                                      exactly two objects
    counted  -> COUNT NOUN-s "," "one" REL obj                   a class twice, plus one other object
    obj      -> "a" NOUN                                         NOUN: one of CIFAR-10's ten classes
    PLACE    -> "in the top left corner" | "at the top" | "on the left" | "in the centre" | ...  the cell in its grid
    REL      -> "above" | "below" | "left of" | "right of" | "above and left of" | ...   from the rows and
                columns of the two cells (rows first)

e.g. "a cat in the top left corner and a truck in the bottom right corner", "a cat above and left of
a truck", "two ships , one left of a dog". Class names are written as words (automobile -> car,
airplane -> plane). Every word that names an object is grounded: `grounding[k][t]` lists the cells
(row-major index in the scene's grid) of the object(s) word t of reference k names ([] for other
words), the ground truth that attention is checked against.

Parts: training scenes are made of CIFAR-10 training photos only (the 45,000 left after carving
the validation photos), validation scenes of the 5,000 held-out training photos, test scenes of the
10,000 CIFAR-10 test photos. The generator is seeded (`seed`); the same seed gives the same scenes.
Cells are 32x32 (2x2 grid, the photos as they are) or 21-22 px (3x3 grid: boundaries at 0, 21, 43,
64; photos resized with antialiasing).

The Karpathy-split JSON (`read_karpathy`): the `dataset_{flickr8k,flickr30k,coco}.json` files of
Karpathy & Fei-Fei 2015, {"images": [{"filename", "filepath"?, "split": train|restval|val|test,
"sentences": [{"raw", "tokens"}]}]}, with an image folder; restval joins train.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from deepnet.data import cifar10
from deepnet.errors import DataError

NAME = "scenes"
DESCRIPTION = "captioned 2x2 / 3x3 canvases of CIFAR-10 photos, captions from a documented grammar (generated)"
LICENCE = cifar10.LICENCE
SOURCE = "generated from CIFAR-10 (" + cifar10.SOURCE + ")"
FILES = cifar10.FILES
LAYOUTS = cifar10.LAYOUTS
fetch_name = "cifar10"  # `deepnet data fetch` fetches the photos it is made of

SIZE = 64  # canvas side in pixels
NOUNS = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]  # CIFAR-10 order
PLURALS = {n: n + "s" for n in NOUNS}
COUNTS = {2: "two", 3: "three"}
PLACES = {
    2: ["in the top left corner", "in the top right corner", "in the bottom left corner", "in the bottom right corner"],
    3: ["in the top left corner", "at the top", "in the top right corner", "on the left", "in the centre",
        "on the right", "in the bottom left corner", "at the bottom", "in the bottom right corner"],
}


def find_root():
    return cifar10.find_root()


def verify(root=None):
    return cifar10.verify(root)


# ---------------------------------------------------------------------------------------------
# The grammar


def relation(a, b, grid):
    """The words placing cell a against cell b (row-major indices): 'above', 'left of', 'below and right of'."""
    ra, ca = divmod(a, grid)
    rb, cb = divmod(b, grid)
    vert = "above" if ra < rb else "below" if ra > rb else ""
    horiz = "left of" if ca < cb else "right of" if ca > cb else ""
    if vert and horiz:
        return f"{vert} and {horiz}"
    return vert or horiz


def _obj(cls, cell):
    return [("a", []), (NOUNS[cls], [cell])]


def _rel(a, b, grid):
    return [(w, []) for w in relation(a, b, grid).split()]


def _place(cell, grid):
    return [(w, []) for w in PLACES[grid][cell].split()]


def captions(objects, grid):
    """Every phrasing of a scene: [[(word, cells), ...], ...]; objects: [(cell, class)] in reading order."""
    out = []
    # absolute: each object with its place
    words = []
    for i, (cell, cls) in enumerate(objects):
        words += ([("and", [])] if i else []) + _obj(cls, cell) + _place(cell, grid)
    out.append(words)
    if len(objects) >= 2:  # anchored: the first placed, the others against it
        c0, k0 = objects[0]
        words = _obj(k0, c0) + _place(c0, grid)
        for cell, cls in objects[1:]:
            words += [("and", [])] + _obj(cls, cell) + _rel(cell, c0, grid) + [("it", [c0])]
        out.append(words)
    if len(objects) == 2:  # relation: one against the other
        (c0, k0), (c1, k1) = objects
        out.append(_obj(k0, c0) + _rel(c0, c1, grid) + _obj(k1, c1))
    classes = [k for _, k in objects]
    for k in sorted(set(classes)):  # counted: a class seen twice (or three times) and one other object
        same = [c for c, kk in objects if kk == k]
        others = [(c, kk) for c, kk in objects if kk != k]
        if len(same) >= 2 and len(others) == 1:
            (co, ko), = others
            near = min(same, key=lambda c: (abs(c // grid - co // grid) + abs(c % grid - co % grid), c))
            out.append([(COUNTS[len(same)], []), (PLURALS[NOUNS[k]], same), (",", []), ("one", [near])]
                       + _rel(near, co, grid) + _obj(ko, co))
    return out


def caption_text(words):
    return " ".join(w for w, _ in words)


def _layout(rng, grid, max_objects):
    """[(cell, class)] in reading order: 1..max_objects distinct cells, classes drawn with repeats."""
    n = int(rng.integers(1, min(max_objects, grid * grid) + 1))
    cells = sorted(rng.choice(grid * grid, size=n, replace=False).tolist())
    classes = rng.integers(0, 10, size=n)
    if n >= 2 and rng.random() < 0.25:  # a repeated class, so that counted phrasings occur
        classes[1] = classes[0]
    return [(c, int(k)) for c, k in zip(cells, classes)]


def cell_box(cell, grid, size=SIZE):
    """(top, left, bottom, right) pixels of a cell."""
    r, c = divmod(cell, grid)
    edges = [round(size * i / grid) for i in range(grid + 1)]
    return edges[r], edges[c], edges[r + 1], edges[c + 1]


def region_cells(grid, regions, size=SIZE):
    """(regions * regions,) int64: the scene cell holding the centre of each region of a regions x regions
    feature grid over the canvas (row-major), for measuring where attention looks."""
    centres = (np.arange(regions) + 0.5) * size / regions
    edges = np.array([round(size * i / grid) for i in range(grid + 1)])
    idx = np.searchsorted(edges, centres, side="right") - 1  # (regions,)
    return torch.from_numpy((idx[:, None] * grid + idx[None, :]).reshape(-1).astype(np.int64))


def _paste(canvas, photo, box):
    from PIL import Image

    top, left, bottom, right = box
    h, w = bottom - top, right - left
    if (h, w) != photo.shape[1:]:
        photo = np.asarray(Image.fromarray(photo.transpose(1, 2, 0)).resize((w, h), Image.LANCZOS)).transpose(2, 0, 1)
    canvas[:, top:bottom, left:right] = photo


# ---------------------------------------------------------------------------------------------
# Parts and loading


@dataclass
class ScenePart:
    """One part: canvases, their grids and objects, and the reference captions with their grounding."""

    images: torch.Tensor  # (N, 3, 64, 64) uint8
    grids: torch.Tensor  # (N,) int64: 2 or 3 (0: unknown, images from a caption JSON)
    cells: torch.Tensor  # (N, 9) int64: class id of each cell (row-major), -1 empty or unknown
    refs: list = field(default_factory=list)  # N lists of reference captions (str)
    grounding: list = field(default_factory=list)  # N lists (one per reference) of per-word cell lists

    def __len__(self):
        return len(self.images)


@dataclass
class Scenes:
    name: str
    train: ScenePart
    val: ScenePart
    test: ScenePart
    licence: str = LICENCE
    notes: str = ""
    path: str = ""  # the user's caption JSON (read_karpathy), recorded so that `deepnet eval` reads it again

    def info(self):
        return {"name": self.name, "sizes": {p: len(getattr(self, p)) for p in ("train", "val", "test")},
                "notes": self.notes, **({"path": self.path} if self.path else {})}


def make_part(photos, labels, n, seed, grids=(2, 3), max_objects=3):
    """n scenes from the photos (N, 3, 32, 32) uint8 and labels (N,) of one CIFAR-10 part, seeded."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    by_class = [np.flatnonzero(labels == k) for k in range(10)]
    images = np.zeros((n, 3, SIZE, SIZE), np.uint8)
    grid_ids, cells, refs, grounding = np.zeros(n, np.int64), np.full((n, 9), -1, np.int64), [], []
    photos = np.asarray(photos)
    for i in range(n):
        grid = int(grids[int(rng.integers(len(grids)))])
        objects = _layout(rng, grid, max_objects)
        for cell, cls in objects:
            pick = by_class[cls][int(rng.integers(len(by_class[cls])))]
            _paste(images[i], photos[pick], cell_box(cell, grid))
            cells[i, cell] = cls
        grid_ids[i] = grid
        caps = captions(objects, grid)
        refs.append([caption_text(c) for c in caps])
        grounding.append([[cs for _, cs in c] for c in caps])
    return ScenePart(torch.from_numpy(images), torch.from_numpy(grid_ids), torch.from_numpy(cells), refs, grounding)


def load(seed=0, n_train=20000, n_val=1000, n_test=1000, grids=(2, 3), max_objects=3):
    """Scenes from CIFAR-10: train from its training photos, val from the 5,000 held out of them (carved by
    cifar10.load with `seed`), test from its test photos. The layouts are drawn with seeds 3 seed, 3 seed + 1,
    3 seed + 2. The canvases, grids and cells are kept in the decoded-data cache (store.cached, one file per
    setting); the captions are made again from the cells, which fix them."""
    from deepnet.data import store

    root = cifar10.find_root()
    if root is None:
        cifar10.load(seed=seed)  # the loader's own message (or download) when the photos are absent
        root = cifar10.find_root()
    sources = [root / f for layout in LAYOUTS for f in layout if (root / f).exists()]
    sizes = (n_train, n_val, n_test)
    key = hashlib.sha256(json.dumps([seed, sizes, list(grids), max_objects]).encode()).hexdigest()[:12]

    def build():
        photos = cifar10.load(seed=seed)
        arrays = {}
        for j, (name, p) in enumerate((("train", photos.train), ("val", photos.val), ("test", photos.test))):
            part = make_part(p.x.numpy(), p.y.numpy(), sizes[j], seed * 3 + j, grids, max_objects)
            arrays.update({f"{name}_images": part.images.numpy(), f"{name}_grids": part.grids.numpy(),
                           f"{name}_cells": part.cells.numpy()})
        return arrays

    arrays = store.cached(f"scenes-{key}", sources, build)
    parts = [_part_from_cells(*(torch.from_numpy(np.array(arrays[f"{name}_{k}"]))
                                for k in ("images", "grids", "cells"))) for name in ("train", "val", "test")]
    return Scenes(NAME, *parts, notes=f"{n_train}/{n_val}/{n_test} scenes, grids {list(grids)}, "
                                      f"1 to {max_objects} objects, seed {seed}")


def _part_from_cells(images, grids, cells):
    refs, grounding = [], []
    for g, row in zip(grids.tolist(), cells.tolist()):
        caps = captions([(c, k) for c, k in enumerate(row) if k >= 0], g)
        refs.append([caption_text(c) for c in caps])
        grounding.append([[cs for _, cs in c] for c in caps])
    return ScenePart(images, grids, cells, refs, grounding)


# ---------------------------------------------------------------------------------------------
# Karpathy-split caption JSON (Flickr8k, Flickr30k, COCO)


def read_karpathy(json_path, image_dir, size=SIZE, limit=0):
    """Scenes-like parts from a Karpathy-split `dataset_*.json` and its image folder (images resized to size x size;
    `limit` > 0: the first `limit` images of each part). Captions: each sentence's tokens joined by spaces (its raw
    text when it has no tokens), lowercased."""
    from PIL import Image, UnidentifiedImageError

    json_path, image_dir = Path(json_path), Path(image_dir)
    try:
        doc = json.loads(json_path.read_text())
    except FileNotFoundError:
        raise DataError(f"{json_path}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{json_path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DataError(f"{json_path}: no 'images' list; expected a Karpathy-split dataset_*.json")
    parts = {"train": [], "val": [], "test": []}
    for k, entry in enumerate(doc["images"]):
        if not isinstance(entry, dict) or "filename" not in entry or "sentences" not in entry:
            raise DataError(f"{json_path}: image {k} lacks 'filename' or 'sentences'")
        split = {"restval": "train"}.get(entry.get("split", "train"), entry.get("split", "train"))
        if split not in parts:
            raise DataError(f"{json_path}: image {k} has split {entry.get('split')!r} (train, restval, val, test)")
        if limit and len(parts[split]) >= limit:
            continue
        caps = []
        for s in entry["sentences"]:
            toks = s.get("tokens") if isinstance(s, dict) else None
            text = " ".join(toks) if toks else (s.get("raw", "") if isinstance(s, dict) else "")
            if text.strip():
                caps.append(text.strip().lower())
        if not caps:
            raise DataError(f"{json_path}: image {k} ({entry['filename']}) has no caption")
        path = image_dir / entry.get("filepath", "") / entry["filename"]
        try:
            with Image.open(path) as im:
                a = np.asarray(im.convert("RGB").resize((size, size), Image.LANCZOS))
        except FileNotFoundError:
            raise DataError(f"{path}: image named by {json_path.name} not found") from None
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(f"{path}: not a readable image ({e})") from None
        parts[split].append((a.transpose(2, 0, 1), caps))

    def part(items):
        n = len(items)
        images = (torch.from_numpy(np.stack([a for a, _ in items])) if n
                  else torch.zeros((0, 3, size, size), dtype=torch.uint8))
        refs = [c for _, c in items]
        return ScenePart(images, torch.zeros(n, dtype=torch.long), torch.full((n, 9), -1, dtype=torch.long),
                         refs, [[[] for _ in r] for r in refs])

    return Scenes(json_path.stem, part(parts["train"]), part(parts["val"]), part(parts["test"]),
                  licence="as stated by the caption set's publisher", notes=f"Karpathy split {json_path.name}",
                  path=str(json_path.resolve()))
