"""Real photographs for visualising what a trained network sees (not a train/test dataset).

Under a data root: `photos/` holds the images shipped inside the scikit-image and
scikit-learn wheels (astronaut, camera, chelsea the cat, coffee, rocket, hubble_deep_field,
china, flower). Without a data folder, scikit-learn's own two sample images (china,
flower) are used, so the visualisations still run on a fresh machine.
"""

from pathlib import Path

import numpy as np

from deepnet.data import fetching, store
from deepnet.errors import DataError

NAME = "photos"
DESCRIPTION = "real photographs (astronaut, cat, coffee, rocket, Hubble deep field, ...) for visualisations"
LICENCE = ("scikit-image photos: CC0 / public domain / NASA; scikit-learn's china.jpg and flower.jpg: "
           "CC BY 2.0 (Flickr users danielbuechele and vultilion)")
SOURCE = "images shipped inside the scikit-image (0.26) and scikit-learn wheels"
PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png",
          "rocket.jpg", "hubble_deep_field.jpg", "china.jpg", "flower.jpg")
FILES = tuple(f"photos/{p}" for p in PHOTOS)

# Where the files come from and how a download is checked (the format: fetching.py).
_SKI = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.26.0/src/skimage/data/"
_SKL = "https://raw.githubusercontent.com/scikit-learn/scikit-learn/1.9.1/sklearn/datasets/images/"
DOWNLOAD = {
    "description": "real photographs for visualisations (scikit-image and scikit-learn sample images)",
    "licence": "scikit-image photos: CC0 / public domain / NASA; china.jpg, flower.jpg: CC BY 2.0",
    "homepage": "https://scikit-image.org/docs/stable/api/skimage.data.html",
    # sha256 of the scikit-image files: scikit-image's own registry (src/skimage/data/_registry.py,
    #   read at commit b1be3381369ccde54a31948e2f9062180630597f; our copies from the 0.26.0 wheel match).
    # sha256 of china.jpg and flower.jpg: computed by us over the copies in the scikit-learn 1.9.1 wheel.
    "checksums": "SHA-256 of the scikit-image files from scikit-image's data registry; of the two "
                 "scikit-learn images computed by us over the scikit-learn 1.9.1 wheel",
    "options": [
        {"label": "sample images at the released tags", "items": [
            {"path": "photos/astronaut.png", "size": 791555, "urls": [_SKI + "astronaut.png"],
             "sha256": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"},
            {"path": "photos/camera.png", "size": 139512, "urls": [_SKI + "camera.png"],
             "sha256": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a"},
            {"path": "photos/chelsea.png", "size": 240512, "urls": [_SKI + "chelsea.png"],
             "sha256": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"},
            {"path": "photos/coffee.png", "size": 466706, "urls": [_SKI + "coffee.png"],
             "sha256": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7"},
            {"path": "photos/rocket.jpg", "size": 112525, "urls": [_SKI + "rocket.jpg"],
             "sha256": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c"},
            {"path": "photos/hubble_deep_field.jpg", "size": 527940, "urls": [_SKI + "hubble_deep_field.jpg"],
             "sha256": "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4"},
            {"path": "photos/lfw_subset.npy", "size": 1000080, "urls": [_SKI + "lfw_subset.npy"],
             "sha256": "9560ec2f5edfac01973f63a8a99d00053fecd11e21877e18038fbe500f8e872c"},
            {"path": "photos/china.jpg", "size": 196653, "urls": [_SKL + "china.jpg"],
             "sha256": "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29"},
            {"path": "photos/flower.jpg", "size": 142987, "urls": [_SKL + "flower.jpg"],
             "sha256": "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638"},
        ]},
    ],
}


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
    """Download the photos (see fetching.py); returns the data root. Never automatic: without
    them list_photos() falls back to scikit-learn's two embedded samples."""
    return fetching.fetch(NAME, DOWNLOAD, root=root, **kwargs)


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
