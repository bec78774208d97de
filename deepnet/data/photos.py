"""Real photographs for visualising what a trained network sees (not a train/test dataset).

Under a data root: `photos/` holds the images shipped inside the scikit-image and
scikit-learn wheels (astronaut, camera, chelsea the cat, coffee, rocket, hubble_deep_field,
china, flower). Without a data folder, scikit-learn's own two sample images (china,
flower) are used, so the visualisations still run on a fresh machine.
"""

from pathlib import Path

import numpy as np

from deepnet.data import store
from deepnet.errors import DataError

NAME = "photos"
DESCRIPTION = "real photographs (astronaut, cat, coffee, rocket, Hubble deep field, ...) for visualisations"
LICENCE = ("scikit-image photos: CC0 / public domain / NASA; scikit-learn's china.jpg and flower.jpg: "
           "CC BY 2.0 (Flickr users danielbuechele and vultilion)")
SOURCE = "images shipped inside the scikit-image (0.26) and scikit-learn wheels"
PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png",
          "rocket.jpg", "hubble_deep_field.jpg", "china.jpg", "flower.jpg")
FILES = tuple(f"photos/{p}" for p in PHOTOS)


def load_image(path):
    """(H, W, 3) uint8 RGB pixels of any image file PIL can read; DataError naming it otherwise.

    Greyscale, palette, alpha and 16-bit images are converted to 8-bit RGB (alpha dropped),
    and the EXIF orientation of camera photos is applied.
    """
    from PIL import Image, ImageOps

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I;16"):
                # 16-bit grey: keep the high byte (PIL's RGB conversion would clip instead)
                grey = (np.asarray(im, dtype=np.uint16) >> 8).astype(np.uint8)  # (H, W)
                return np.repeat(grey[:, :, None], 3, axis=2)  # (H, W, 3)
            if im.mode in ("I", "F"):
                # 32-bit int/float grey: stretch its own range to 0..255
                v = np.asarray(im, dtype=np.float64)
                lo, hi = float(v.min()), float(v.max())
                grey = np.rint((v - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(v)).astype(np.uint8)
                return np.repeat(grey[:, :, None], 3, axis=2)
            return np.array(im.convert("RGB"))  # (H, W, 3) uint8
    except Exception as e:  # whatever PIL raises on bytes it cannot decode
        raise DataError(f"{path}: not a readable image ({type(e).__name__}: {store.one_line(e)}); "
                        "replace the file") from None


def find_root():
    """The data root holding every photo, or None."""
    return store.find(FILES)


def fetch(root=None, **kwargs):
    """Download the photos (see download.py); returns the data root. Never automatic: without
    them list_photos() falls back to scikit-learn's two embedded samples."""
    from deepnet.data import download

    return download.fetch(NAME, root=root, **kwargs)


def list_photos():
    """name -> path of each photo: the data folder's when present, else scikit-learn's samples."""
    root = find_root()
    if root is not None:
        return {Path(p).stem: root / "photos" / p for p in PHOTOS}
    from sklearn.datasets import load_sample_images

    # the Bunch's `filenames` are the jpgs inside the installed scikit-learn package
    return {Path(f).stem: Path(f) for f in load_sample_images().filenames}


def verify(root=None):
    """Check that each photo decodes to (H, W, 3) uint8; returns the checks passed."""
    if root is None:
        photos = list_photos()
    else:
        photos = {Path(p).stem: Path(root) / "photos" / p for p in PHOTOS}
    passed = []
    for name, path in photos.items():
        x = load_image(path)
        if x.ndim != 3 or x.shape[2] != 3 or min(x.shape[:2]) < 64:
            raise DataError(f"{path}: decoded to {x.shape}, expected a photo of at least 64x64 RGB; replace the file")
        passed.append(f"photo: {name} {x.shape[1]}x{x.shape[0]} RGB from {path}")
    return passed
