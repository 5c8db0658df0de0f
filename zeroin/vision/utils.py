"""torchvision's ``utils``: ``make_grid`` (a batch of images tiled into one image) and
``save_image`` (that grid written as a PNG / JPEG ... file with Pillow, atomically).

>>> import zeroin
>>> from zeroin.vision.utils import make_grid
>>> make_grid(zeroin.ones(5, 3, 4, 4), nrow=4, padding=1).shape   # 4 columns, 2 rows
zeroin.Size([3, 11, 21])
"""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

from .._tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _batch(tensor):
    """(N, C, H, W) as a NumPy array, torchvision's shapes: a list is stacked, (H, W) and
    (C, H, W) are one image, one channel is repeated to three."""
    if isinstance(tensor, (list, tuple)):
        if not tensor or not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError("make_grid: a list should hold tensors (C, H, W) of one shape")
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) > 1:
            raise ValueError(f"make_grid: the images' shapes differ: {sorted(shapes)}; resize "
                             f"or crop them to one shape first")
        arr = np.stack([np.asarray(t.data) for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = np.asarray(tensor.data)
    else:
        raise TypeError(f"make_grid: tensor should be a tensor or a list of tensors, got "
                        f"{type(tensor).__name__}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = np.concatenate([arr] * 3) if arr.shape[0] == 1 else arr
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected (N, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{arr.shape}")
    return np.concatenate([arr] * 3, axis=1) if arr.shape[1] == 1 else arr


def _normalized(arr, value_range, scale_each):
    if value_range is not None and not (isinstance(value_range, tuple) and
                                        len(value_range) == 2):
        raise TypeError(f"make_grid: value_range has to be a tuple (min, max), got "
                        f"{value_range!r}")
    arr = arr.astype(np.result_type(arr.dtype, np.float32), copy=True)

    def norm(a):
        lo, hi = value_range if value_range is not None else (float(a.min()), float(a.max()))
        np.clip(a, lo, hi, out=a)
        a -= lo
        a /= max(hi - lo, 1e-5)

    for part in (arr if scale_each else [arr]):
        norm(part)
    return arr


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """The images of ``tensor`` ((N, C, H, W) or a list of (C, H, W)) tiled ``nrow`` to a
    row with ``padding`` pixels of ``pad_value`` between them, as a tensor (C, H', W').
    ``normalize=True`` maps ``value_range`` (default: the min and max, per image with
    ``scale_each``) to [0, 1]. One channel is repeated to three, as torchvision. Not
    recorded (no gradient)."""
    for name, v in (("nrow", nrow), ("padding", padding)):
        if not isinstance(v, numbers.Integral) or v < (1 if name == "nrow" else 0):
            raise ValueError(f"make_grid: {name} must be an int >= "
                             f"{1 if name == 'nrow' else 0}, got {v!r}")
    arr = _batch(tensor)
    if normalize:
        arr = _normalized(arr, value_range, scale_each)
    if arr.shape[0] == 1:
        return Tensor(np.ascontiguousarray(arr[0]))
    n, c, h, w = arr.shape
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    hp, wp = h + padding, w + padding
    grid = np.full((c, hp * ymaps + padding, wp * xmaps + padding), pad_value, arr.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * hp + padding:(y + 1) * hp, x * wp + padding:(x + 1) * wp] = arr[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):  # noqa: A002 (torchvision's name)
    """``make_grid(tensor, **kwargs)`` saved as an image file: values in [0, 1] scaled to
    uint8 (x * 255 + 0.5, clamped), written with Pillow. A path is written atomically and
    its format read from its extension; a file object needs ``format``."""
    from PIL import Image
    grid = np.asarray(make_grid(tensor, **kwargs).data)
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)    # torchvision's rounding
    img = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)))
    if not isinstance(fp, (str, os.PathLike)):
        if format is None:
            raise ValueError("save_image: give format= (e.g. 'PNG') when fp is a file object")
        img.save(fp, format=format)
        return
    if format is None:
        ext = os.path.splitext(os.fspath(fp))[1].lower()
        format = Image.registered_extensions().get(ext)
        if format is None:
            raise ValueError(f"save_image: cannot tell the image format from {fp!r}'s "
                             f"extension {ext!r}; use .png / .jpg ..., or give format=")
    from .._io import atomic_open
    with atomic_open(fp, "wb", op="save_image") as f:
        img.save(f, format=format)
