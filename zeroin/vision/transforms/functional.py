"""torchvision's ``transforms.functional``: the pixel work behind the transforms, for a PIL
image, a tensor ``(..., C, H, W)`` or a NumPy image ``(H, W)`` / ``(H, W, C)``.

>>> import numpy as np, zeroin
>>> from zeroin.vision.transforms import functional as F
>>> F.resize(zeroin.tensor([[[0.0, 10.0, 20.0, 30.0]]]), (1, 2), antialias=False).tolist()
[[[5.0, 25.0]]]
"""
from __future__ import annotations

import enum
import numbers
import sys

import numpy as np

from ..._tensor import Tensor

__all__ = ["InterpolationMode", "resize"]


class InterpolationMode(enum.Enum):
    """How ``Resize`` computes new pixels (torchvision's names; zeroin has these two)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _is_pil(img):
    mod = sys.modules.get("PIL.Image")      # a PIL image means PIL is already imported
    return mod is not None and isinstance(img, mod.Image)


def _kind(img, op):
    if isinstance(img, Tensor):
        return "tensor"
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise ValueError(f"{op}: a NumPy image must be (H, W) or (H, W, C), got shape "
                             f"{img.shape}; for (C, H, W) make it a tensor first")
        return "array"
    if _is_pil(img):
        return "pil"
    raise TypeError(f"{op}: expected a PIL image, a tensor (..., C, H, W) or a NumPy image "
                    f"(H, W) / (H, W, C), got {type(img).__name__}")


def _chw(img, kind):
    """The pixels as an array whose last two axes are height and width."""
    if kind == "tensor":
        return np.asarray(img.data)
    arr = np.asarray(img)
    return np.moveaxis(arr, -1, 0) if arr.ndim == 3 else arr


def _back(arr, kind):
    if kind == "tensor":
        return Tensor(np.ascontiguousarray(arr))
    arr = np.ascontiguousarray(np.moveaxis(arr, 0, -1) if arr.ndim == 3 else arr)
    if kind == "array":
        return arr
    from PIL import Image
    return Image.fromarray(arr)


def _size(img, kind):
    """(height, width) of an image of any kind."""
    if kind == "pil":
        return img.size[1], img.size[0]
    shape = tuple(img.shape)
    if kind == "tensor" and len(shape) < 2:
        raise ValueError(f"an image tensor needs at least 2 dimensions (..., H, W), got shape "
                         f"{shape}")
    return shape[-2:] if kind == "tensor" else shape[:2]


def _pair(size, op, name="size"):
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (int(size[0]), int(size[0]))
    elif not (isinstance(size, (tuple, list)) and len(size) == 2):
        raise ValueError(f"{op}: {name} must be an int or a sequence (h, w), got {size!r}")
    if min(size) <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {size!r}")
    return int(size[0]), int(size[1])


def _flip(img, axis):
    """Flip along height (axis -2) or width (axis -1)."""
    kind = _kind(img, "flip")
    if kind == "pil":
        from PIL import Image
        t = Image.Transpose
        return img.transpose(t.FLIP_LEFT_RIGHT if axis == -1 else t.FLIP_TOP_BOTTOM)
    if kind == "tensor":
        from ..._torch_ops import flip
        return flip(img, (axis,))                           # recorded
    return np.ascontiguousarray(np.flip(img, axis + 2))     # (H, W, ...): 0 or 1


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def _pad(img, kind, ltrb, fill, mode):
    arr = _chw(img, kind)
    width = [(0, 0)] * (arr.ndim - 2) + [(ltrb[1], ltrb[3]), (ltrb[0], ltrb[2])]
    kw = {"constant_values": fill} if mode == "constant" else {}
    return _back(np.pad(arr, width, mode=mode, **kw), kind)


def _crop(img, kind, top, left, h, w):
    if kind == "pil":
        return img.crop((left, top, left + w, top + h))
    if kind == "tensor":
        return img[..., top:top + h, left:left + w]             # recorded
    return np.ascontiguousarray(img[top:top + h, left:left + w])


def _ltrb(padding, op):
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * 4
    if isinstance(padding, (tuple, list)) and len(padding) in (1, 2, 4):
        p = [int(v) for v in padding]
        return tuple(p * 4 if len(p) == 1 else p * 2 if len(p) == 2 else p)
    raise ValueError(f"{op}: padding must be an int or a sequence of 1, 2 (left/right, "
                     f"top/bottom) or 4 (left, top, right, bottom) ints, got {padding!r}")


def _axis_weights(n_in, n_out, mode):
    """Source indices (i0, i1) and weights of i1 along one axis (PyTorch's interpolate,
    align_corners=False, no antialiasing)."""
    if mode is InterpolationMode.NEAREST:
        scale = np.float32(n_in / n_out)
        i0 = np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * scale).astype(int),
                        n_in - 1)
        return i0, i0, np.zeros(n_out)
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(src.astype(int), n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), src - i0


def _resize_array(arr, out_hw, mode):
    """Resize the last two axes of ``arr`` to ``out_hw``."""
    x = arr.astype(np.float64) if arr.dtype.kind != "f" else arr
    for axis, n_out in ((-2, out_hw[0]), (-1, out_hw[1])):
        i0, i1, lam = _axis_weights(x.shape[axis], n_out, mode)
        lam = lam.astype(x.dtype).reshape((-1, 1) if axis == -2 else (-1,))
        a, b = np.take(x, i0, axis=axis), np.take(x, i1, axis=axis)
        x = a + lam * (b - a) if mode is InterpolationMode.BILINEAR else a
    if arr.dtype.kind in "iub":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else None
        x = np.round(x) if info is None else np.clip(np.round(x), info.min, info.max)
    return x.astype(arr.dtype, copy=False)


def _mode(interpolation):
    try:
        return InterpolationMode(getattr(interpolation, "value", interpolation))
    except ValueError:
        raise ValueError(f"Resize: interpolation must be InterpolationMode.NEAREST or "
                         f"BILINEAR ('nearest' / 'bilinear'), got {interpolation!r}") from None


def _max_value(dtype):
    return 1.0 if dtype.kind == "f" else (1 if dtype.kind == "b" else np.iinfo(dtype).max)


def _resized_size(h, w, size, max_size):
    """torchvision's output (height, width): an int (or [int]) is the shorter side."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        if max_size is not None:
            raise ValueError(f"Resize: max_size is only for an int size, got size={size!r}")
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    new_short = int(size if isinstance(size, numbers.Integral) else size[0])
    new_long = int(new_short * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"Resize: max_size = {max_size} must be strictly greater than "
                             f"the requested size for the smaller edge, {new_short}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """``img`` resized to ``size`` ((h, w), or an int for the shorter side), as
    ``transforms.Resize``."""
    kind, mode = _kind(img, "resize"), _mode(interpolation)
    h, w = _size(img, kind)
    out = _resized_size(h, w, size, max_size)
    if out == (h, w):
        return img
    if kind == "pil":
        from PIL import Image
        pil = {InterpolationMode.NEAREST: Image.Resampling.NEAREST,
               InterpolationMode.BILINEAR: Image.Resampling.BILINEAR}
        return img.resize((out[1], out[0]), pil[mode])
    return _back(_resize_array(_chw(img, kind), out, mode), kind)
