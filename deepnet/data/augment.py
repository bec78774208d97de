"""Deformations of training examples, on whole minibatches of tensors, on the training device.

The review counts "techniques to generate more training examples by deforming the existing
ones" among what made the 2012 ConvNets work (with GPUs, ReLUs and dropout). Each function
here takes a batch of images x (B, C, H, W), uint8 pixels or floats, and returns a batch of
the same shape, dtype and device, each image deformed with its own random draw. Nothing
loops over examples in Python, so the work stays on the GPU when the batch is there and
no host synchronisation is needed.

- `translate`:  shifts by whole pixels, up to `max_shift` each way, the uncovered border zero
  (digits on a black background).
- `random_crop`: pad by `padding` (reflected or zero) and cut a random H x W window: the
  same family of shifts, the CIFAR-10 recipe (Krizhevsky et al. 2012 cropped 224 of 256).
- `hflip`:      mirror left-right with probability 1/2 (natural images, not digits).
- `cutout`:     zero a random square per image (DeVries & Taylor 2017).
- `elastic`:    Simard, Steinkraus & Platt 2003 ("Best practices for convolutional neural
  networks applied to visual document analysis", Section 2): random displacement fields
  dx, dy ~ U(-1, 1) per pixel, convolved with a Gaussian of standard deviation sigma (pixels),
  scaled by alpha, then bilinear interpolation. Their MNIST values: sigma = 4, alpha = 34.
- `affine`:     a random rotation and scaling about the image centre per image, bilinear (Simard
  et al. 2003 also trained on affine distortions: 0.6% MNIST test error against 0.4% elastic).

`Augment([(fn, kwargs), ...])` chains these functions into the `augment(x, y) -> (x, y)`
callable the engine applies to each training minibatch. Randomness comes from torch's generator
on the batch's device (seeded by the engine), or from `generator` when one is given.

This module knows no model.
"""

import math

import torch
from torch.nn import functional as F


def _rand(shape, x, generator=None):
    return torch.rand(shape, device=x.device, generator=generator)


def _randint(high, shape, x, generator=None):
    """Integers uniform in [0, high) of `shape` on x's device."""
    return torch.randint(0, high, shape, device=x.device, generator=generator)


def _window(padded, dy, dx, h, w):
    """Per-example windows: out[b] = padded[b, :, dy[b]:dy[b]+h, dx[b]:dx[b]+w] by one gather, no loop.

    padded (B, C, H', W'), dy/dx (B,) int64 -> (B, C, h, w).
    """
    b, c = padded.shape[:2]
    rows = dy[:, None] + torch.arange(h, device=padded.device)  # (B, h)
    cols = dx[:, None] + torch.arange(w, device=padded.device)  # (B, w)
    bi = torch.arange(b, device=padded.device)[:, None, None, None]  # (B, 1, 1, 1)
    ci = torch.arange(c, device=padded.device)[None, :, None, None]  # (1, C, 1, 1)
    return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]  # (B, C, h, w)


def random_crop(x, padding, mode="reflect", generator=None):
    """Pad each side by `padding` pixels (reflect or zero) and cut a random H x W window per image."""
    if padding <= 0:
        return x
    b, _, h, w = x.shape
    if mode == "zero":
        padded = F.pad(x, (padding,) * 4)
    else:
        # reflection padding is not implemented for integer tensors: pad floats, then go back
        padded = F.pad(x.float(), (padding,) * 4, mode="reflect").to(x.dtype)
    dy = _randint(2 * padding + 1, (b,), x, generator)
    dx = _randint(2 * padding + 1, (b,), x, generator)
    return _window(padded, dy, dx, h, w)


def translate(x, max_shift, generator=None):
    """Shift each image by a random whole number of pixels in [-max_shift, max_shift] on each axis; zeros come in."""
    return random_crop(x, max_shift, mode="zero", generator=generator)


def shift(x, dy, dx):
    """Shift every image by the same (dy, dx) pixels (down, right); zeros come in. For tests of invariance."""
    b, _, h, w = x.shape
    p = max(abs(dy), abs(dx))
    if p == 0:
        return x.clone()
    padded = F.pad(x, (p,) * 4)
    oy = torch.full((b,), p - dy, dtype=torch.long, device=x.device)
    ox = torch.full((b,), p - dx, dtype=torch.long, device=x.device)
    return _window(padded, oy, ox, h, w)


def hflip(x, p=0.5, generator=None):
    """Mirror each image left-right with probability p."""
    flip = _rand((x.shape[0], 1, 1, 1), x, generator) < p  # (B, 1, 1, 1)
    return torch.where(flip, x.flip(3), x)


def cutout(x, size, generator=None):
    """Zero one random size x size square per image (centre uniform over the image; it may hang over the edge)."""
    if size <= 0:
        return x
    b, _, h, w = x.shape
    cy = _randint(h, (b, 1, 1), x, generator)
    cx = _randint(w, (b, 1, 1), x, generator)
    ys = torch.arange(h, device=x.device)[None, :, None]  # (1, H, 1)
    xs = torch.arange(w, device=x.device)[None, None, :]  # (1, 1, W)
    half = size // 2
    inside = ((ys - cy + half) >= 0) & ((ys - cy + half) < size) & ((xs - cx + half) >= 0) & ((xs - cx + half) < size)
    return x * (~inside)[:, None].to(x.dtype)  # (B, 1, H, W) mask broadcast over channels


def gaussian_kernel(sigma, dtype=torch.float32, device=None):
    """1-D Gaussian weights exp(-t^2 / 2 sigma^2), normalised to sum 1, over |t| <= 3 sigma."""
    r = max(1, int(math.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=dtype, device=device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    return k / k.sum()


def elastic(x, alpha=34.0, sigma=4.0, generator=None):
    """Simard et al. 2003 elastic distortion of each image; bilinear, zeros outside.

    dx, dy ~ U(-1, 1) (B, H, W);  dx <- alpha * (G_sigma * dx),  dy <- alpha * (G_sigma * dy);
    out(i, j) = x(i + dy(i, j), j + dx(i, j)) by bilinear interpolation.
    Bilinear weights are convex, so the output stays within the input's range (and within
    [0, 255] for uint8, which is rounded back).
    """
    b, c, h, w = x.shape
    field = _rand((b, 2, h, w), x, generator) * 2 - 1  # (B, 2, H, W): dx, dy in U(-1, 1)
    k = gaussian_kernel(sigma, device=x.device)
    r = (len(k) - 1) // 2
    # separable Gaussian: rows then columns, each a depthwise convolution over the 2 fields
    field = F.conv2d(F.pad(field, (r, r, 0, 0)), k.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)
    field = F.conv2d(F.pad(field, (0, 0, r, r)), k.view(1, 1, -1, 1).expand(2, 1, -1, 1), groups=2)
    field = field * alpha  # displacements in pixels
    # grid_sample wants the sampling positions in [-1, 1] (align_corners=False: pixel centres at (2i+1)/n - 1)
    ys = (torch.arange(h, device=x.device, dtype=torch.float32) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=x.device, dtype=torch.float32) * 2 + 1) / w - 1
    gx = xs[None, None, :] + field[:, 0] * (2.0 / w)  # (B, H, W)
    gy = ys[None, :, None] + field[:, 1] * (2.0 / h)  # (B, H, W)
    grid = torch.stack([gx, gy], dim=-1)  # (B, H, W, 2): (x, y) order as grid_sample reads it
    xf = x.float()
    out = F.grid_sample(xf, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if x.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(x.dtype)


def affine(x, degrees=0.0, scale=0.0, generator=None):
    """Rotate each image by theta ~ U(-degrees, degrees) and scale it by s ~ U(1 - scale, 1 + scale) about its centre.

    Output pixel p (relative to the centre) reads the input at R(-theta) p / s, by bilinear
    interpolation with zeros outside; convex weights keep the input's range (uint8 rounded back).
    """
    if degrees <= 0 and scale <= 0:
        return x
    b, _, h, w = x.shape
    theta = (_rand((b,), x, generator) * 2 - 1) * math.radians(degrees)  # (B,)
    s = 1 + (_rand((b,), x, generator) * 2 - 1) * scale  # (B,)
    cos, sin = torch.cos(theta) / s, torch.sin(theta) / s
    zero = torch.zeros_like(cos)
    # the pixel-space map [[cos, sin], [-sin, cos]] / s in grid_sample's [-1, 1] coordinates:
    # D^-1 A D with D = diag(w/2, h/2), which rescales the off-diagonal terms by h/w and w/h
    mat = torch.stack([torch.stack([cos, sin * (h / w), zero], 1),
                       torch.stack([-sin * (w / h), cos, zero], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(mat, (b, x.shape[1], h, w), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if x.dtype == torch.uint8:
        return out.round_().clamp_(0, 255).to(torch.uint8)
    return out.to(x.dtype)


class Augment:
    """A chain of batch deformations, as the engine's `augment(x, y) -> (x, y)`. Labels pass through.

        Augment([(translate, {"max_shift": 2}), (elastic, {"alpha": 34, "sigma": 4})])

    Steps are (function, keyword arguments) pairs: the functions of this module (or any function
    f(x, generator=..., **kwargs) of the same form), applied in order. `describe()` gives the chain
    as plain data (function names and arguments) for a result's config.
    """

    def __init__(self, steps, generator=None):
        self.steps = []
        for fn, kwargs in steps:
            if not callable(fn):
                raise ValueError(f"augmentation step {fn!r} is not a function: pass one, e.g. augment.translate")
            self.steps.append((fn, dict(kwargs)))
        self.generator = generator

    def __call__(self, x, y):
        for fn, kwargs in self.steps:
            x = fn(x, generator=self.generator, **kwargs)
        return x, y

    def describe(self):
        """Plain list of the steps, [[function name, kwargs], ...], for a result's config."""
        return [[fn.__name__, kwargs] for fn, kwargs in self.steps]

    def __repr__(self):
        return f"Augment({self.describe()})"


def digits_augment(max_shift=2, elastic_alpha=0.0, elastic_sigma=4.0, degrees=0.0, scale=0.0):
    """The deformations used for handwritten digits: small translations, optionally rotation and scaling and
    elastic distortion."""
    steps = []
    if degrees > 0 or scale > 0:
        steps.append((affine, {"degrees": degrees, "scale": scale}))
    if elastic_alpha > 0:
        steps.append((elastic, {"alpha": elastic_alpha, "sigma": elastic_sigma}))
    if max_shift > 0:
        steps.append((translate, {"max_shift": max_shift}))
    return Augment(steps)


def natural_augment(padding=4, flip=True, cutout_size=0):
    """The deformations used for natural images (CIFAR-10): padded random crops, mirror flips, optional cutout."""
    steps = [(random_crop, {"padding": padding, "mode": "reflect"})] if padding > 0 else []
    if flip:
        steps.append((hflip, {}))
    if cutout_size > 0:
        steps.append((cutout, {"size": cutout_size}))
    return Augment(steps)
