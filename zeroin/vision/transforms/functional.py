"""torchvision's ``transforms.functional``: the pixel work behind the transforms, for a PIL
image, a tensor ``(..., C, H, W)`` or a NumPy image ``(H, W)`` / ``(H, W, C)``.

>>> import numpy as np, zeroin
>>> from zeroin.vision.transforms import functional as F
>>> F.resize(zeroin.tensor([[[0.0, 10.0, 20.0, 30.0]]]), (1, 2), antialias=False).tolist()
[[[5.0, 25.0]]]
>>> F.adjust_brightness(zeroin.tensor([[[0.25, 0.75]]]), 2.0).tolist()
[[[0.5, 1.0]]]
"""
from __future__ import annotations

import enum
import math
import numbers
import sys

import numpy as np

from ..._tensor import Tensor

__all__ = ["InterpolationMode", "resize", "crop", "resized_crop", "adjust_brightness",
           "adjust_contrast", "adjust_saturation", "adjust_hue", "to_pil_image", "pad",
           "rotate", "erase", "gaussian_blur", "affine", "adjust_sharpness", "posterize",
           "solarize", "autocontrast", "equalize", "hflip", "vflip", "center_crop", "invert",
           "five_crop", "ten_crop", "pil_to_tensor", "perspective", "elastic_transform"]


class InterpolationMode(enum.Enum):
    """How resizing and rotating compute new pixels (torchvision's names and values). BOX,
    HAMMING and LANCZOS are Pillow's filters: for resizing PIL images only, as torchvision;
    tensors rotate with NEAREST or BILINEAR only, as torchvision's."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"                 # for PIL compatibility, as torchvision
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_ONLY = (InterpolationMode.BOX, InterpolationMode.HAMMING, InterpolationMode.LANCZOS)

# torchvision's ``_interpolation_modes_from_int``: Pillow's integer codes
_FROM_PIL_CODE = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
                  3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
                  5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}


_TO_PIL_CODE = {**{v: k for k, v in _FROM_PIL_CODE.items()}, InterpolationMode.NEAREST_EXACT: 0}


def _pil_filter(mode, op=None):
    """Pillow's resampling filter for ``mode`` (torchvision's ``pil_modes_mapping``:
    nearest-exact is Pillow's NEAREST); ``op`` (rotate, affine) takes no PIL-only filter."""
    from PIL import Image
    if op is not None and mode in _PIL_ONLY:
        raise ValueError(f"{op}: InterpolationMode.{mode.name} cannot be used here: Pillow's "
                         f"rotate / transform (which torchvision calls for a PIL image) take "
                         f"NEAREST, BILINEAR or BICUBIC; {mode.name} is for resizing")
    return Image.Resampling(_TO_PIL_CODE[mode])


def _grid_mode(mode, op):
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"{op}: a tensor or NumPy image is rotated with "
                         f"InterpolationMode.NEAREST or BILINEAR (as torchvision's tensor "
                         f"{op}), got {mode}; use a PIL image for {mode.name}")
    return mode


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


def hflip(img):
    """Flip ``img`` left to right (the last axis of a tensor ``(..., H, W)``), as torchvision."""
    return _flip(img, -1)


def vflip(img):
    """Flip ``img`` top to bottom (axis -2 of a tensor ``(..., H, W)``), as torchvision."""
    return _flip(img, -2)


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
        from ...nn._conv import _nearest_index
        i0 = _nearest_index(n_in, n_out, n_in / n_out, False, True)
        return i0, i0, np.zeros(n_out)
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(src.astype(int), n_in - 1)
    return i0, np.minimum(i0 + 1, n_in - 1), src - i0


def _resize_array(arr, out_hw, mode, antialias=False):
    """Resize the last two axes of ``arr`` to ``out_hw``."""
    if mode in (InterpolationMode.BICUBIC, InterpolationMode.NEAREST_EXACT):
        return _interpolate_array(arr, out_hw, mode, antialias)
    x = arr.astype(np.float64) if arr.dtype.kind != "f" else arr
    for axis, n_out in ((-2, out_hw[0]), (-1, out_hw[1])):
        if antialias and mode is InterpolationMode.BILINEAR:     # interpolate's weights
            from ...nn._conv import _aa_matrix
            n_in = x.shape[axis]
            M = _aa_matrix(n_in, n_out, n_in / n_out, False).astype(x.dtype)
            x = np.matmul(M, x) if axis == -2 else np.matmul(x, M.T)
            continue
        i0, i1, lam = _axis_weights(x.shape[axis], n_out, mode)
        lam = lam.astype(x.dtype).reshape((-1, 1) if axis == -2 else (-1,))
        a, b = np.take(x, i0, axis=axis), np.take(x, i1, axis=axis)
        x = a + lam * (b - a) if mode is InterpolationMode.BILINEAR else a
    if arr.dtype.kind in "iub":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else None
        x = np.round(x) if info is None else np.clip(np.round(x), info.min, info.max)
    return x.astype(arr.dtype, copy=False)


def _interpolate_array(arr, out_hw, mode, antialias):
    """torchvision's tensor resize for bicubic / nearest-exact: ``interpolate`` in float32
    (integer images) or the image's float dtype, then integers rounded and clamped."""
    from ...nn._conv import interpolate
    x = arr.astype(np.float32) if arr.dtype.kind != "f" else arr
    lead = x.shape[:-2]
    x4 = x.reshape((-1, 1) + x.shape[-2:])
    bicubic = mode is InterpolationMode.BICUBIC
    out = interpolate(Tensor(x4), size=out_hw, mode=mode.value,
                      align_corners=False if bicubic else None,
                      antialias=bool(antialias) and bicubic).data
    out = np.asarray(out).reshape(lead + tuple(out_hw))
    if arr.dtype.kind in "iub":
        info = np.iinfo(arr.dtype) if arr.dtype.kind != "b" else None
        out = np.round(out) if info is None else np.clip(np.round(out), info.min, info.max)
    return out.astype(arr.dtype, copy=False)


class _InterpolationError(TypeError, ValueError):
    """An ``interpolation`` that is not a mode: torchvision's v1 functions raise TypeError,
    v2's ValueError; this is both."""


def _mode(interpolation, op="Resize"):
    """``interpolation`` as an InterpolationMode: a mode or Pillow's integer code
    (``Image.Resampling.LANCZOS``, 1), as torchvision's ``_interpolation_modes_from_int``;
    a string ('bilinear') is refused, as torchvision refuses it."""
    if isinstance(interpolation, InterpolationMode):
        return interpolation
    if isinstance(interpolation, numbers.Integral) and not isinstance(interpolation, bool):
        if int(interpolation) in _FROM_PIL_CODE:
            return _FROM_PIL_CODE[int(interpolation)]
        raise ValueError(f"{op}: interpolation {interpolation!r} is not one of Pillow's "
                         f"filter codes 0 (NEAREST), 1 (LANCZOS), 2 (BILINEAR), 3 (BICUBIC), "
                         f"4 (BOX) or 5 (HAMMING); give an InterpolationMode")
    fix = ""
    if isinstance(interpolation, str):
        known = {m.value: m.name for m in InterpolationMode}
        name = known.get(interpolation.lower())
        fix = (f"; write InterpolationMode.{name}" if name else
               f"; the modes are InterpolationMode.{', .'.join(known.values())}")
    raise _InterpolationError(
        f"{op}: interpolation must be an InterpolationMode or Pillow's integer code, as "
        f"torchvision's (which refuses a string too), got {interpolation!r}{fix}")


def _refuse_pil_only(mode, kind, op):
    """torchvision's tensor resize hands BOX / HAMMING / LANCZOS to ``interpolate``, which
    refuses them: the same refusal, with what to do instead."""
    if mode in _PIL_ONLY and kind != "pil":
        what = "tensor" if kind == "tensor" else "NumPy image"
        raise NotImplementedError(
            f"{op}: InterpolationMode.{mode.name} is for PIL images only (torchvision hands "
            f"it to Pillow's resize); a {what} is resized by interpolate, which supports "
            f"the modes nearest | nearest-exact | bilinear | bicubic (got {mode.value}). "
            f"Convert it with to_pil_image(...) first, or use BILINEAR / BICUBIC "
            f"(antialias=True)")


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
    kind, mode = _kind(img, "resize"), _mode(interpolation, "resize")
    _refuse_pil_only(mode, kind, "resize")
    h, w = _size(img, kind)
    out = _resized_size(h, w, size, max_size)
    if out == (h, w):
        return img
    if kind == "pil":
        return img.resize((out[1], out[0]), _pil_filter(mode))
    return _back(_resize_array(_chw(img, kind), out, mode, bool(antialias)), kind)


def crop(img, top, left, height, width):
    """The ``height`` x ``width`` part whose top-left corner is (``top``, ``left``)."""
    kind = _kind(img, "crop")
    return _crop(img, kind, int(top), int(left), int(height), int(width))


def _center_size(size, op):
    """``size`` as (h, w): an int gives a square, as does a 1-sequence; the values are kept
    (torchvision keeps a float size, which a PIL image crops to)."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool):
        hw = (int(size),) * 2
    elif isinstance(size, (tuple, list)) and len(size) in (1, 2):
        hw = tuple(size) * (3 - len(size))
    else:
        raise ValueError(f"{op}: size must be an int or a sequence (h, w), got {size!r}")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and v > 0 for v in hw):
        raise ValueError(f"{op}: size must be positive numbers, got {size!r}")
    return tuple(int(v) if float(v).is_integer() else v for v in hw)


def center_crop(img, output_size):
    """The central ``output_size`` (int: square, or (h, w)) part, zero-padded where the
    image is smaller, as torchvision's. A PIL image also takes fractional sizes as
    torchvision's: the corner offset is rounded, then Pillow rounds the box's far corner
    (``[0.7 * 218, 0.7 * 178]`` of a 218 x 178 image: 153 x 125 pixels)."""
    kind = _kind(img, "center_crop")
    ch, cw = _center_size(output_size, "center_crop")
    (ih, iw), whole = _size(img, kind), isinstance(ch, int) and isinstance(cw, int)
    if not whole and kind != "pil":
        what = "a tensor" if kind == "tensor" else "a NumPy"
        raise TypeError(f"center_crop: {what} image is cropped by whole pixels, got "
                        f"output_size {output_size!r}; give ints, e.g. [{round(ch)}, "
                        f"{round(cw)}] (a PIL image takes fractional sizes, as torchvision's)")
    if not whole and (ch > ih or cw > iw):
        raise TypeError(f"center_crop: a crop larger than the image ({ih} x {iw}) is padded "
                        f"by whole pixels, got output_size {output_size!r}; give ints")
    if ch > ih or cw > iw:
        dw, dh = max(cw - iw, 0), max(ch - ih, 0)
        img = _pad(img, kind, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), 0, "constant")
        ih, iw = _size(img, kind)
    top, left = int(round((ih - ch) / 2.0)), int(round((iw - cw) / 2.0))
    return _crop(img, kind, top, left, ch, cw)


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


# ---- conversion, padding, rotation, erasing, blur ------------------------------------------

_MODES = {1: {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16", np.dtype(np.int32): "I",
              np.dtype(np.float32): "F"}, 2: "LA", 3: "RGB", 4: "RGBA"}
_OTHER_MODES = {3: ("RGB", "YCbCr", "HSV"), 4: ("RGBA", "CMYK", "RGBX")}


def to_pil_image(pic, mode=None):
    """A tensor (C, H, W) or NumPy image (H, W, C) as a PIL image, as torchvision: floats
    are multiplied by 255 and truncated to uint8 (unless ``mode='F'``); the mode follows the
    channels: 1 'L', 3 'RGB', 4 'RGBA' (or ``mode``)."""
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2 or 3 dimensional (C, H, W), got "
                             f"shape {tuple(pic.shape)}")
        arr = np.asarray(pic.data)
        arr = np.moveaxis(arr[None] if arr.ndim == 2 else arr, 0, -1)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2 or 3 dimensional (H, W, C), got "
                             f"shape {pic.shape}")
        arr = pic[..., None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"to_pil_image: pic should be a tensor or a NumPy array, got "
                        f"{type(pic).__name__}")
    if arr.shape[-1] > 4:
        raise ValueError(f"to_pil_image: pic should not have more than 4 channels, got "
                         f"{arr.shape[-1]} (shape {arr.shape} as (H, W, C))")
    if arr.dtype.kind == "f" and mode != "F":
        scaled = arr * 255
        if scaled.size and not (scaled.min() > -1 and scaled.max() < 256):
            raise ValueError(f"to_pil_image: a float image must hold values in [0, 1] (it is "
                             f"multiplied by 255 and stored as uint8), got values in "
                             f"[{arr.min():.4g}, {arr.max():.4g}]; clamp(0, 1) first or "
                             f"undo Normalize")
        arr = scaled.astype(np.uint8)
    return _pil_from(arr, mode)


def _pil_from(arr, mode):
    from PIL import Image
    c = arr.shape[-1]
    expected = _MODES[c] if c > 1 else _MODES[1].get(arr.dtype)
    if c == 1 and mode == "F":
        arr, expected = arr.astype(np.float32), "F"
    if expected is None:
        raise TypeError(f"to_pil_image: input type {arr.dtype} is not supported for one "
                        f"channel (uint8, int16, int32 or float32 are)")
    if mode is not None and mode != expected and mode not in _OTHER_MODES.get(c, ()):
        raise ValueError(f"to_pil_image: incorrect mode {mode!r} for an image of {c} "
                         f"channel(s) of {arr.dtype}; it should be {expected!r}")
    if c > 1 and arr.dtype != np.uint8:
        raise TypeError(f"to_pil_image: {c} channels must be uint8 (or float), got "
                        f"{arr.dtype}")
    arr = np.ascontiguousarray(arr[..., 0] if c == 1 else arr)
    size = (arr.shape[1], arr.shape[0])
    if expected == "I;16":                      # torchvision: the int16 bits, as I;16
        return Image.frombytes("I;16", size, arr.astype("<i2").tobytes())
    if mode is None or mode == expected:
        return Image.fromarray(arr)
    return Image.frombytes(mode, size, arr.tobytes())


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: ``padding`` an int, (left/right, top/bottom) or (left, top, right,
    bottom), a negative amount cropping that side; ``padding_mode`` constant (with
    ``fill``), edge, reflect or symmetric."""
    kind, ltrb = _kind(img, "pad"), _ltrb(padding, "pad")
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"pad: padding_mode must be one of {_PAD_MODES}, got "
                         f"{padding_mode!r}")
    if min(ltrb) < 0:                   # torchvision: a negative side crops that side
        h, w = _size(img, kind)
        cl, ct, cr, cb = (max(-p, 0) for p in ltrb)
        if cl + cr >= w or ct + cb >= h:
            raise ValueError(f"pad: padding {padding!r} crops the whole {h}x{w} image away")
        img = _crop(img, kind, ct, cl, h - ct - cb, w - cl - cr)
        ltrb = tuple(max(p, 0) for p in ltrb)
        if not any(ltrb):
            return img
    if kind == "pil" and padding_mode == "constant":
        from PIL import ImageOps
        return ImageOps.expand(img, border=ltrb, fill=_pil_fill(fill, img))
    if not isinstance(fill, numbers.Real):
        raise TypeError(f"pad: fill must be a number for a tensor or NumPy image, got "
                        f"{fill!r} (a tuple per channel is for PIL images)")
    return _pad(img, kind, ltrb, fill, padding_mode)


def _pil_fill(fill, img):
    fill = 0 if fill is None else fill
    bands = len(img.getbands())
    if isinstance(fill, numbers.Real) and bands > 1:
        return tuple([int(fill) if img.mode != "F" else fill] * bands)
    return tuple(fill) if isinstance(fill, (tuple, list)) else fill


def _inverse_affine(center, angle, translate, scale, shear):
    """torchvision's ``_get_inverse_affine_matrix``: output pixel -> input pixel."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [x / scale for x in (d, -b, 0.0, -c, a, 0.0)]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _rotation_matrix(angle, center):
    """torchvision's inverse affine matrix of a rotation by ``angle`` degrees (counter-
    clockwise) about ``center`` (pixel offsets from the image centre)."""
    rot = math.radians(-angle)
    cx, cy = center
    m = [math.cos(rot), math.sin(rot), 0.0, -math.sin(rot), math.cos(rot), 0.0]
    m[2] += m[0] * -cx + m[1] * -cy + cx
    m[5] += m[3] * -cx + m[4] * -cy + cy
    return m


def _grid_sample(x, gx, gy, mode):
    """PyTorch's grid_sample of (..., C, H, W) at normalised points (gx, gy) of shape
    (oh, ow) (align_corners=False, zero padding), and the in-image weight (the mask)."""
    h, w = x.shape[-2:]
    ix, iy = ((gx + 1) * w - 1) / 2, ((gy + 1) * h - 1) / 2
    if mode is InterpolationMode.NEAREST:
        ix, iy = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = x[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)] * inside
        return out, inside.astype(x.dtype)
    x0, y0 = np.floor(ix).astype(np.int64), np.floor(iy).astype(np.int64)
    out, mask = 0, 0
    for dy in (0, 1):
        for dx in (0, 1):
            xs, ys = x0 + dx, y0 + dy
            wgt = (1 - np.abs(ix - xs)) * (1 - np.abs(iy - ys))
            wgt = wgt * ((xs >= 0) & (xs < w) & (ys >= 0) & (ys < h))
            out = out + x[..., np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)] * wgt
            mask = mask + wgt
    return out, mask


def _expanded_size(matrix, w, h):
    """torchvision's (width, height) that holds the whole rotated image (in float32, the
    corners' extent truncated to 1e-4 before ceil / floor, as Pillow)."""
    f32 = np.float32
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], f32)
    new = pts @ np.array(matrix, f32).reshape(2, 3).T
    halfs = np.array([0.5 * w, 0.5 * h], f32)
    lo, hi = new.min(axis=0) + halfs, new.max(axis=0) + halfs
    tol, inv = f32(1e-4), f32(1.0 / 1e-4)
    size = np.ceil(np.trunc(hi * inv) * tol) - np.floor(np.trunc(lo * inv) * tol)
    return int(size[0]), int(size[1])


def _rotate_array(arr, angle, mode, center, fill, expand, matrix=None):
    """torchvision's tensor rotate (or affine, given its inverse ``matrix``): an affine
    grid, then grid_sample."""
    h, w = arr.shape[-2:]
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    matrix = _rotation_matrix(angle, center) if matrix is None else matrix
    ow, oh = _expanded_size(matrix, w, h) if expand else (w, h)
    theta = np.array(matrix, dtype).reshape(2, 3)
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow).astype(dtype)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh).astype(dtype)
    r = theta.T / np.array([0.5 * w, 0.5 * h], dtype)
    # the grid's (x, y, 1) rows times r, summed in order as PyTorch's bmm (no fused
    # multiply-add: at 90 degrees nearest pixels sit on ties that one rounding moves)
    gx = xs[None, :] * r[0, 0] + ys[:, None] * r[1, 0] + r[2, 0]
    gy = xs[None, :] * r[0, 1] + ys[:, None] * r[1, 1] + r[2, 1]
    return _sample_filled(arr, dtype, gx, gy, mode, fill)


def _sample_filled(arr, dtype, gx, gy, mode, fill):
    """torchvision's ``_apply_grid_transform``: grid_sample, the outside set to ``fill``
    (through the sampled in-image mask), integer images rounded back."""
    out, mask = _grid_sample(arr.astype(dtype, copy=False), gx, gy, mode)
    if fill is not None:
        fv = np.asarray(fill, dtype).reshape(-1, 1, 1)
        if mode is InterpolationMode.NEAREST:
            out = np.where(mask < 0.5, fv, out)
        else:
            out = out * mask + (1.0 - mask) * fv
    if arr.dtype.kind != "f":
        out = np.round(out)
    return out.astype(arr.dtype)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about the centre (or ``center``, (x, y)
    in pixels); pixels from outside the image are ``fill`` (per channel, or one number);
    ``expand=True`` enlarges the output to hold the whole rotated image."""
    kind, mode = _kind(img, "rotate"), _mode(interpolation, "rotate")
    if kind == "pil":
        return img.rotate(angle, _pil_filter(mode, "rotate"), expand, center,
                          fillcolor=_pil_fill(fill, img))
    arr, flat, c, fill = _grid_input(img, kind, mode, center, fill, "rotate")
    out = _rotate_array(arr, float(angle), mode, c, fill, bool(expand))
    return _back(out[0] if flat else out, kind)


def erase(img, i, j, h, w, v, inplace=False):
    """The tensor with its part ``[..., i:i + h, j:j + w]`` set to ``v`` (broadcast)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"erase: img should be a tensor (..., C, H, W), got "
                        f"{type(img).__name__}; apply ToTensor() first")
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    arr = np.asarray(img.data) if inplace else np.array(img.data)
    arr[..., i:i + h, j:j + w] = v
    return img if inplace else Tensor(arr)


def _gaussian_kernel1d(kernel_size, sigma, dtype):
    half = (kernel_size - 1) * 0.5
    x = np.linspace(-half, half, kernel_size).astype(dtype)
    pdf = np.exp(-0.5 * (x / dtype.type(sigma)) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian of ``kernel_size`` (kx, ky: odd, positive) and ``sigma``
    (sx, sy; default ``0.15 k + 0.35``), reflecting at the borders."""
    ks = _pair(kernel_size, "gaussian_blur", "kernel_size")
    if any(k % 2 == 0 for k in ks):
        raise ValueError(f"gaussian_blur: kernel_size should hold odd and positive numbers, "
                         f"got {kernel_size!r}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in ks]
    sig = (float(sigma),) * 2 if isinstance(sigma, numbers.Real) else tuple(
        float(s) for s in sigma) * (2 if len(sigma) == 1 else 1)
    if len(sig) != 2 or min(sig) <= 0:
        raise ValueError(f"gaussian_blur: sigma should be positive: a number or (sx, sy), "
                         f"got {sigma!r}")
    kind = _kind(img, "gaussian_blur")
    arr = _chw(img, kind)
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    x = arr.astype(dtype, copy=False)
    (kx, ky), (wx, wy) = ks, (ks[0] // 2, ks[1] // 2)
    width = [(0, 0)] * (x.ndim - 2) + [(wy, wy), (wx, wx)]
    x = np.pad(x, width, mode="reflect")
    h, w = arr.shape[-2:]
    kern_x, kern_y = _gaussian_kernel1d(kx, sig[0], dtype), _gaussian_kernel1d(ky, sig[1], dtype)
    x = sum(kern_x[k] * x[..., :, k:k + w] for k in range(kx))
    x = sum(kern_y[k] * x[..., k:k + h, :] for k in range(ky))
    if arr.dtype.kind != "f":
        x = np.round(x)
    return _back(x.astype(arr.dtype), kind)


def _grid_input(img, kind, mode, center, fill, op):
    """rotate's and affine's tensor / NumPy start: the image as (C, H, W) (``flat``: it was
    (H, W)), the centre as an offset from the middle, ``fill`` as a list per channel."""
    _grid_mode(mode, op)
    arr = _chw(img, kind)
    flat = arr.ndim == 2
    arr = arr[None] if flat else arr
    h, w = arr.shape[-2:]
    c = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    return arr, flat, c, _fill_list(fill, arr.shape[-3], op)


def _fill_list(fill, channels, op):
    if fill is None:
        return None
    fill = [float(fill)] if isinstance(fill, numbers.Real) else [float(v) for v in fill]
    if len(fill) not in (1, channels):
        raise ValueError(f"{op}: fill has {len(fill)} values but the image has {channels} "
                         f"channels; give one per channel or one for all")
    return fill


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    """Rotate by ``angle`` degrees, move by ``translate`` (dx, dy) pixels, scale, and shear
    by ``shear`` degrees (a number: x only, or (x, y)), about the centre (or ``center``,
    (x, y) in pixels); torchvision's inverse matrix, pixels from outside are ``fill``."""
    kind, mode = _kind(img, "affine"), _mode(interpolation, "affine")
    if not (isinstance(translate, (tuple, list)) and len(translate) == 2):
        raise TypeError(f"affine: translate should be a sequence (dx, dy), got {translate!r}")
    if not isinstance(scale, numbers.Real) or scale <= 0:
        raise ValueError(f"affine: scale ({scale!r}) must be a positive number")
    shear = [float(shear), 0.0] if isinstance(shear, numbers.Real) else list(shear)
    shear = shear * 2 if len(shear) == 1 else shear
    if kind == "pil":
        from PIL import Image
        w, h = img.size
        c = [w * 0.5, h * 0.5] if center is None else center
        m = _inverse_affine(c, angle, translate, scale, shear)
        return img.transform(img.size, Image.Transform.AFFINE, m, _pil_filter(mode, "affine"),
                             fillcolor=_pil_fill(fill, img))
    arr, flat, c, fill = _grid_input(img, kind, mode, center, fill, "affine")
    m = _inverse_affine(c, angle, [float(t) for t in translate], scale, shear)
    out = _rotate_array(arr, 0.0, mode, c, fill, False, m)
    return _back(out[0] if flat else out, kind)


def _uint8_only(img, op):
    kind = _kind(img, op)
    if kind != "pil" and _chw(img, kind).dtype != np.uint8:
        raise TypeError(f"{op}: a tensor or NumPy image must be uint8 (as in torchvision), "
                        f"got {_chw(img, kind).dtype}; apply it to the PIL image before "
                        f"ToTensor(), or to (x * 255).to(zeroin.uint8)")
    return kind


def adjust_sharpness(img, sharpness_factor):
    """Blend with the image smoothed by [[1, 1, 1], [1, 5, 1], [1, 1, 1]] / 13 (0: smooth,
    1: the image, 2: sharper); the border pixels stay."""
    f = _factor(sharpness_factor, "adjust_sharpness", "sharpness_factor")
    if _is_pil(img):
        from PIL import ImageEnhance
        return ImageEnhance.Sharpness(img).enhance(f)

    def fn(a):
        if a.shape[-1] <= 2 or a.shape[-2] <= 2:
            return a
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        x, k = a.astype(dtype), np.ones((3, 3), dtype)
        k[1, 1] = 5.0
        k /= k.sum()
        h, w = a.shape[-2:]
        s = sum(x[..., i:h - 2 + i, j:w - 2 + j] * k[i, j] for i in range(3) for j in range(3))
        deg = a.copy()
        deg[..., 1:-1, 1:-1] = s if a.dtype.kind == "f" else np.round(s)
        return _blend(a, deg, f)
    return _color_op(img, "adjust_sharpness", fn)


def posterize(img, bits):
    """Keep the ``bits`` high bits of each uint8 pixel (0-8)."""
    if not isinstance(bits, numbers.Integral) or not 0 <= bits <= 8:
        raise ValueError(f"posterize: bits ({bits!r}) must be an integer in 0..8")
    if _uint8_only(img, "posterize") == "pil":
        from PIL import ImageOps
        return ImageOps.posterize(img, int(bits))
    return _color_op(img, "posterize", lambda a: a & np.uint8((-(2 ** (8 - bits))) & 255))


def solarize(img, threshold):
    """Invert the pixels at or above ``threshold`` (bound - x; bound 1 for floats, 255 for
    uint8)."""
    if _is_pil(img):
        from PIL import ImageOps
        return ImageOps.solarize(img, threshold)

    def fn(a):
        bound = _max_value(a.dtype)
        if threshold > bound:
            raise TypeError(f"solarize: threshold ({threshold}) should be at most {bound}, "
                            f"the largest value of {a.dtype}")
        return np.where(a >= threshold, (bound - a).astype(a.dtype), a)
    return _color_op(img, "solarize", fn)


def autocontrast(img):
    """Stretch each channel so its darkest pixel is 0 and its brightest the dtype's bound
    (a flat channel is left)."""
    if _is_pil(img):
        from PIL import ImageOps
        return ImageOps.autocontrast(img)

    def fn(a):
        bound = _max_value(a.dtype)
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        lo = a.min(axis=(-2, -1), keepdims=True).astype(dtype)
        hi = a.max(axis=(-2, -1), keepdims=True).astype(dtype)
        with np.errstate(divide="ignore"):
            scale = dtype.type(bound) / (hi - lo)
        flat = ~np.isfinite(scale)
        lo, scale = np.where(flat, 0, lo).astype(dtype), np.where(flat, 1, scale).astype(dtype)
        return np.clip((a - lo) * scale, 0, bound).astype(a.dtype)
    return _color_op(img, "autocontrast", fn)


def _equalize_channel(ch):
    hist = np.bincount(ch.reshape(-1), minlength=256)
    nonzero = hist[hist != 0]
    step = int(nonzero[:-1].sum()) // 255
    if step == 0:
        return ch
    lut = (np.cumsum(hist) + step // 2) // step
    lut = np.clip(np.concatenate([[0], lut[:-1]]), 0, 255)
    return lut[ch].astype(np.uint8)


def equalize(img):
    """Equalize each uint8 channel's histogram (torchvision's lookup table, as Pillow's)."""
    if _uint8_only(img, "equalize") == "pil":
        from PIL import ImageOps
        return ImageOps.equalize(img)

    def fn(a):
        flat = a.reshape(-1, *a.shape[-2:])
        return np.stack([_equalize_channel(c) for c in flat]).reshape(a.shape)
    return _color_op(img, "equalize", fn)


def invert(img):
    """Each pixel as its dtype's bound minus it (255 - x for uint8, 1 - x for floats), as
    torchvision; PIL images through ``ImageOps.invert``."""
    if _is_pil(img):
        from PIL import ImageOps
        return ImageOps.invert(img)
    return _color_op(img, "invert", lambda a: ~a if a.dtype.kind == "b" else
                     (a.dtype.type(_max_value(a.dtype)) - a).astype(a.dtype))


def five_crop(img, size):
    """The four corner crops and the central crop of ``size`` (int: square, or (h, w)):
    (top-left, top-right, bottom-left, bottom-right, centre), as torchvision."""
    if isinstance(size, numbers.Number) and not isinstance(size, bool):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"five_crop: please provide only two dimensions (h, w) for size, got "
                         f"{size!r}")
    kind = _kind(img, "five_crop")
    (ih, iw), (ch, cw) = _size(img, kind), (int(size[0]), int(size[1]))
    if cw > iw or ch > ih:
        raise ValueError(f"five_crop: requested crop size {(ch, cw)} is bigger than input "
                         f"size {(ih, iw)}; crop smaller or Resize first")
    return (_crop(img, kind, 0, 0, ch, cw), _crop(img, kind, 0, iw - cw, ch, cw),
            _crop(img, kind, ih - ch, 0, ch, cw), _crop(img, kind, ih - ch, iw - cw, ch, cw),
            center_crop(img, [ch, cw]))


def ten_crop(img, size, vertical_flip=False):
    """:func:`five_crop` of the image, then of its mirror (left-right, or top-bottom with
    ``vertical_flip``): ten crops, as torchvision."""
    first = five_crop(img, size)
    return first + five_crop(_flip(img, -2 if vertical_flip else -1), size)


def pil_to_tensor(pic):
    """A PIL image as a tensor (C, H, W) of its own dtype, unscaled (uint8 stays 0..255;
    mode '1' gives bool), as torchvision's."""
    if not _is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL image, got "
                        f"{type(pic).__name__}; use ToTensor() or to_image() for NumPy "
                        f"arrays")
    arr = np.array(pic, copy=True)
    arr = arr.reshape(pic.size[1], pic.size[0], -1)
    return Tensor(np.ascontiguousarray(np.moveaxis(arr, -1, 0)))


def _perspective_coeffs(startpoints, endpoints):
    """torchvision's ``_get_perspective_coeffs``: the 8 coefficients mapping an output pixel
    (an end point) to its input pixel (the start point), solved in float64, kept in
    float32."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"perspective: please provide exactly four corners, got "
                         f"{len(startpoints)} startpoints and {len(endpoints)} endpoints")
    a = np.zeros((8, 8))
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i] = [p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]]
        a[2 * i + 1] = [0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]]
    b = np.asarray(startpoints, np.float64).reshape(8)
    return np.linalg.solve(a, b).astype(np.float32).tolist()


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR,
                fill=None):
    """Warp so that the four ``startpoints`` corners ([x, y]: top-left, top-right,
    bottom-right, bottom-left) land on ``endpoints``; pixels from outside are ``fill``.
    PIL images through Pillow's PERSPECTIVE transform, others as torchvision's grid."""
    kind, mode = _kind(img, "perspective"), _mode(interpolation, "perspective")
    co = _perspective_coeffs(startpoints, endpoints)
    if kind == "pil":
        from PIL import Image
        return img.transform(img.size, Image.Transform.PERSPECTIVE, co,
                             _pil_filter(mode, "perspective"), fillcolor=_pil_fill(fill, img))
    arr, flat, _, fill = _grid_input(img, kind, mode, None, fill, "perspective")
    h, w = arr.shape[-2:]
    dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
    c = np.array(co, dtype)
    hw, hh = dtype.type(0.5 * w), dtype.type(0.5 * h)
    xs = np.linspace(0.5, w - 0.5, w).astype(dtype)[None, :]
    ys = np.linspace(0.5, h - 0.5, h).astype(dtype)[:, None]
    den = xs * c[6] + ys * c[7] + dtype.type(1.0)
    gx = (xs * (c[0] / hw) + ys * (c[1] / hw) + c[2] / hw) / den - dtype.type(1.0)
    gy = (xs * (c[3] / hh) + ys * (c[4] / hh) + c[5] / hh) / den - dtype.type(1.0)
    out = _sample_filled(arr, dtype, gx, gy, mode, fill)
    return _back(out[0] if flat else out, kind)


def elastic_transform(img, displacement, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Move each pixel by ``displacement`` (a tensor (1, H, W, 2) of (dx, dy) in grid_sample's
    [-1, 1] units) from the identity grid, as torchvision: sampled in float32 (its grid's
    dtype); a PIL image goes through its tensor and back."""
    kind, mode = _kind(img, "elastic_transform"), _mode(interpolation, "elastic_transform")
    if not isinstance(displacement, Tensor):
        raise TypeError(f"elastic_transform: displacement should be a tensor (1, H, W, 2), got "
                        f"{type(displacement).__name__}")
    h, w = _size(img, kind)
    if tuple(displacement.shape) != (1, h, w, 2):
        raise ValueError(f"elastic_transform: displacement shape should be {(1, h, w, 2)} for "
                         f"an image of {h} x {w}, got {tuple(displacement.shape)}")
    if kind == "pil":
        out = elastic_transform(pil_to_tensor(img), displacement, mode, fill)
        return to_pil_image(out, mode=img.mode)
    arr, flat, _, fill = _grid_input(img, kind, mode, None, fill, "elastic_transform")
    f32 = np.float32
    xs, ys = (np.linspace((-n + 1) / n, (n - 1) / n, n).astype(f32) for n in (w, h))
    d = np.asarray(displacement.data, f32)[0]
    gx, gy = xs[None, :] + d[..., 0], ys[:, None] + d[..., 1]
    src = arr.dtype                     # a float64 image is sampled in float32, cast back
    out = _sample_filled(arr.astype(f32) if src.kind == "f" else arr, np.dtype(f32), gx, gy,
                         mode, fill).astype(src)
    return _back(out[0] if flat else out, kind)
