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

__all__ = ["InterpolationMode", "resize", "crop", "resized_crop", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue"]


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


def crop(img, top, left, height, width):
    """The ``height`` x ``width`` part whose top-left corner is (``top``, ``left``)."""
    kind = _kind(img, "crop")
    return _crop(img, kind, int(top), int(left), int(height), int(width))


def resized_crop(img, top, left, height, width, size,
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
    """``crop`` then ``resize`` to ``size``, as ``RandomResizedCrop`` does."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


# ---- colour: torchvision's tensor formulas (PIL images go through Pillow, as there) ------

def _color_op(img, op, fn):
    """Apply ``fn`` to the pixels of a tensor or NumPy image as a (..., C, H, W) array of
    1 or 3 channels (an (H, W) image is one channel); the result is of the same kind."""
    kind = _kind(img, op)
    arr = _chw(img, kind)
    flat = arr.ndim == 2
    arr = arr[None] if flat else arr
    if arr.shape[-3] not in (1, 3):
        raise ValueError(f"{op}: expected an image of 1 or 3 channels (dim -3 of a tensor, "
                         f"the last axis of a NumPy image), got shape {tuple(img.shape)}")
    out = fn(arr)
    return _back(out[0] if flat else out, kind)


def _blend(img1, img2, ratio):
    bound = _max_value(img1.dtype)
    out = ratio * img1 + (1.0 - ratio) * img2
    return np.clip(out, 0, bound).astype(img1.dtype)


def _gray(arr):
    """torchvision's luma, in the image's dtype (integers truncated), keeping dim -3."""
    if arr.shape[-3] == 1:
        return arr
    r, g, b = arr[..., 0, :, :], arr[..., 1, :, :], arr[..., 2, :, :]
    return (0.2989 * r + 0.587 * g + 0.114 * b).astype(arr.dtype)[..., None, :, :]


def _factor(value, op, name):
    if not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{op}: {name} ({value!r}) must be a non-negative number")
    return float(value)


def adjust_brightness(img, brightness_factor):
    """Pixels times ``brightness_factor`` (0: black, 1: the image), clamped to the dtype's
    range (floats: [0, 1])."""
    f = _factor(brightness_factor, "adjust_brightness", "brightness_factor")
    if _is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Brightness(img).enhance(f)
    return _color_op(img, "adjust_brightness", lambda a: _blend(a, np.zeros_like(a), f))


def adjust_contrast(img, contrast_factor):
    """Blend with the mean of the grayscale image (0: flat gray, 1: the image)."""
    f = _factor(contrast_factor, "adjust_contrast", "contrast_factor")
    if _is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Contrast(img).enhance(f)

    def fn(a):
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        mean = _gray(a).astype(dtype).mean(axis=(-3, -2, -1), keepdims=True, dtype=dtype)
        return _blend(a, mean, f)
    return _color_op(img, "adjust_contrast", fn)


def adjust_saturation(img, saturation_factor):
    """Blend with the grayscale image (0: gray, 1: the image); 1 channel is left as it is."""
    f = _factor(saturation_factor, "adjust_saturation", "saturation_factor")
    if _is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Color(img).enhance(f)
    return _color_op(img, "adjust_saturation",
                     lambda a: a if a.shape[-3] == 1 else _blend(a, _gray(a), f))


def _rgb2hsv(img):
    r, g, b = img[..., 0, :, :], img[..., 1, :, :], img[..., 2, :, :]
    maxc, minc = img.max(axis=-3), img.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    s = cr / np.where(eqc, 1, maxc)
    crd = np.where(eqc, 1, cr)
    rc, gc, bc = (maxc - r) / crd, (maxc - g) / crd, (maxc - b) / crd
    h = ((maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
         + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc))
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return h.astype(img.dtype), s, maxc


def _hsv2rgb(h, s, v):
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    chans = [np.choose(i, [row[c] for row in table]) for c in range(3)]
    return np.stack(chans, axis=-3)


def adjust_hue(img, hue_factor):
    """Shift the hue (in HSV, as a fraction of the circle) by ``hue_factor`` in
    [-0.5, 0.5]; 1 channel is left as it is."""
    if not isinstance(hue_factor, numbers.Real) or not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor!r}) must be in [-0.5, 0.5]")
    if _is_pil(img):
        return _pil_hue(img, float(hue_factor))

    def fn(a):
        if a.shape[-3] == 1:
            return a
        x = a if a.dtype.kind == "f" else a.astype(np.float32) / np.float32(_max_value(a.dtype))
        h, s, v = _rgb2hsv(x)
        out = _hsv2rgb(np.mod(h + hue_factor, 1.0).astype(x.dtype), s, v).astype(x.dtype)
        if a.dtype.kind == "f":
            return out
        return (out * (_max_value(a.dtype) + 1.0 - 1e-3)).astype(a.dtype)
    return _color_op(img, "adjust_hue", fn)


def _pil_hue(img, hue_factor):
    """torchvision's PIL path: shift Pillow's 8-bit hue channel, wrapping around."""
    from PIL import Image
    if img.mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    np_h = np.array(h, dtype=np.uint8)
    np_h += np.uint8(int(hue_factor * 255) % 256)
    return Image.merge("HSV", (Image.fromarray(np_h), s, v)).convert(img.mode)
