"""torchvision's image transforms: ``Compose``, ``ToTensor``, ``Normalize``, flips, crops,
``Resize``, ``Grayscale``, ``ConvertImageDtype``, ``Lambda``.

Each takes what torchvision's takes: a PIL image, or a tensor laid out ``(..., C, H, W)``;
zeroin also takes a NumPy image ``(H, W)`` or ``(H, W, C)`` (the layout ``ToTensor``
reads) and gives back the same kind. Random transforms draw from zeroin's generator, so
``zeroin.manual_seed`` repeats them.

>>> import numpy as np, zeroin
>>> from zeroin.vision import transforms as T
>>> t = T.ToTensor()(np.array([[[0, 255]]], dtype=np.uint8))    # H=1, W=1, C=2
>>> t.shape, t.tolist()
(zeroin.Size([2, 1, 1]), [[[0.0]], [[1.0]]])
"""
from __future__ import annotations

import enum
import numbers
import sys

import numpy as np

from .._tensor import Tensor, get_default_dtype
from ..random import get_rng

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomCrop", "CenterCrop", "Resize", "Grayscale",
           "ConvertImageDtype", "InterpolationMode"]


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


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        return "\n".join(["Compose("] + [f"    {t}" for t in self.transforms] + [")"])


class Lambda:
    """A function used as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got "
                            f"{type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return "Lambda()"


_PIL_DTYPES = {"I": np.int32, "I;16": np.int16, "F": np.float32}


class ToTensor:
    """A PIL image or a NumPy image (H, W) / (H, W, C) as a tensor (C, H, W).

    uint8 pixels are scaled to [0, 1] in the default dtype (zeroin's: float64, torchvision's
    float32: ``zeroin.set_default_dtype(zeroin.float32)`` for float32); other dtypes
    (a float array, PIL's 'I' or 'F' images) keep their values and dtype, as torchvision.
    """

    def __call__(self, pic):
        if isinstance(pic, np.ndarray):
            if pic.ndim not in (2, 3):
                raise ValueError(f"ToTensor: pic should be 2 or 3 dimensional (H, W) or "
                                 f"(H, W, C), got shape {pic.shape}")
            arr = pic
        elif _is_pil(pic):
            arr = np.array(pic, _PIL_DTYPES.get(pic.mode, np.uint8), copy=True)
            if pic.mode == "1":
                arr = 255 * arr
        else:
            raise TypeError(f"ToTensor: pic should be a PIL image or a NumPy array, got "
                            f"{type(pic).__name__}")
        arr = np.moveaxis(arr.reshape(arr.shape[:2] + (-1,)), -1, 0)
        if arr.dtype == np.uint8:
            arr = arr.astype(get_default_dtype()) / 255
        return Tensor(np.ascontiguousarray(arr))

    def __repr__(self):
        return "ToTensor()"


def _float_check(tensor, op):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a tensor (..., C, H, W), got "
                        f"{type(tensor).__name__}; apply ToTensor() first")
    if tensor.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float tensor, got {tensor.dtype}; apply "
                        f"ToTensor() or ConvertImageDtype(zeroin.float32) first")


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel c of a (C, H, W) or (N, C, H, W) tensor.

    ``mean`` and ``std`` hold one value per channel (or one for all). Recorded, so gradients
    flow through it (``inplace=True`` writes into the tensor instead).
    """

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        _float_check(tensor, "Normalize")
        if tensor.ndim < 3:
            raise ValueError(f"Normalize: expected a tensor image (..., C, H, W), got shape "
                             f"{tuple(tensor.shape)}")
        mean = np.asarray(self.mean, dtype=tensor.dtype).reshape(-1)
        std = np.asarray(self.std, dtype=tensor.dtype).reshape(-1)
        c = tensor.shape[-3]
        for name, v in (("mean", mean), ("std", std)):
            if len(v) not in (1, c):
                raise ValueError(f"Normalize: {name} has {len(v)} values but the tensor of "
                                 f"shape {tuple(tensor.shape)} has {c} channels (dim -3); "
                                 f"give one {name} per channel, or one for all")
        if (std == 0).any():
            raise ValueError(f"Normalize: std {self.std!r} has a zero (in {tensor.dtype}), "
                             f"which would divide by zero")
        mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
        if self.inplace:
            return tensor.sub_(Tensor(mean)).div_(Tensor(std))
        return (tensor - Tensor(mean)) / Tensor(std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


def _flip(img, axis):
    """Flip along height (axis -2) or width (axis -1)."""
    kind = _kind(img, "flip")
    if kind == "pil":
        from PIL import Image
        t = Image.Transpose
        return img.transpose(t.FLIP_LEFT_RIGHT if axis == -1 else t.FLIP_TOP_BOTTOM)
    if kind == "tensor":
        from .._torch_ops import flip
        return flip(img, (axis,))                           # recorded
    return np.ascontiguousarray(np.flip(img, axis + 2))     # (H, W, ...): 0 or 1


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return _flip(img, -1) if get_rng().random() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image top-bottom with probability ``p``."""

    def __call__(self, img):
        return _flip(img, -2) if get_rng().random() < self.p else img

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


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


class CenterCrop:
    """The central ``size`` (int: square, or (h, w)) part; zero-padded if the image is
    smaller, as torchvision."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop")

    def __call__(self, img):
        kind = _kind(img, "CenterCrop")
        (ih, iw), (ch, cw) = _size(img, kind), self.size
        if ch > ih or cw > iw:
            dw, dh = max(cw - iw, 0), max(ch - ih, 0)
            img = _pad(img, kind, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2), 0,
                       "constant")
            ih, iw = _size(img, kind)
        top, left = int(round((ih - ch) / 2.0)), int(round((iw - cw) / 2.0))
        return _crop(img, kind, top, left, ch, cw)

    def __repr__(self):
        return f"CenterCrop(size={self.size})"


class RandomCrop:
    """A ``size`` part at a random place, after optional ``padding`` (int, (left/right,
    top/bottom) or (left, top, right, bottom)) filled as ``padding_mode`` says."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0,
                 padding_mode="constant"):
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else _ltrb(padding, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {_PAD_MODES}, got "
                             f"{padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, img):
        kind = _kind(img, "RandomCrop")
        pad = lambda im, ltrb: _pad(im, kind, ltrb, self.fill, self.padding_mode)  # noqa: E731
        if self.padding is not None:
            img = pad(img, self.padding)
        (h, w), (th, tw) = _size(img, kind), self.size
        if self.pad_if_needed and w < tw:
            img = pad(img, (tw - w, 0, tw - w, 0))
        if self.pad_if_needed and h < th:
            img = pad(img, (0, th - h, 0, th - h))
        h, w = _size(img, kind)
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                             f"(padded) image size {(h, w)}; pass padding= or "
                             f"pad_if_needed=True, or crop smaller")
        if (h, w) == (th, tw):
            return img
        rng = get_rng()
        top, left = int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1))
        return _crop(img, kind, top, left, th, tw)

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


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


class Resize:
    """Resize to ``size``: (h, w), or an int for the shorter side (the longer one keeps
    the aspect ratio, at most ``max_size``), as torchvision.

    PIL images go through Pillow's resize (what torchvision does); tensors and NumPy images
    are interpolated as PyTorch's ``interpolate`` without antialiasing (README: differences).
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        if isinstance(size, (tuple, list)) and len(size) not in (1, 2) or \
                not isinstance(size, (numbers.Integral, tuple, list)):
            raise ValueError(f"Resize: size must be an int or a sequence (h, w), got "
                             f"{size!r}")
        if min(np.atleast_1d(size)) <= 0:
            raise ValueError(f"Resize: size must be positive, got {size!r}")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = _mode(interpolation)

    def __call__(self, img):
        kind = _kind(img, "Resize")
        h, w = _size(img, kind)
        out = _resized_size(h, w, self.size, self.max_size)
        if out == (h, w):
            return img
        if kind == "pil":
            from PIL import Image
            pil = {InterpolationMode.NEAREST: Image.Resampling.NEAREST,
                   InterpolationMode.BILINEAR: Image.Resampling.BILINEAR}
            return img.resize((out[1], out[0]), pil[self.interpolation])
        return _back(_resize_array(_chw(img, kind), out, self.interpolation), kind)

    def __repr__(self):
        return (f"Resize(size={self.size}, interpolation={self.interpolation.value}, "
                f"max_size={self.max_size})")


class Grayscale:
    """Luma ``0.2989 R + 0.587 G + 0.114 B`` in 1 or 3 (equal) channels; integer images
    are truncated to their dtype, as torchvision; PIL images use Pillow's ``convert('L')``."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels should be 1 or 3, got "
                             f"{num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        kind = _kind(img, "Grayscale")
        if kind == "pil":
            gray = img.convert("L")
            return gray if self.num_output_channels == 1 else gray.convert("RGB")
        arr = _chw(img, kind)
        if arr.ndim < 3 or arr.shape[-3] not in (1, 3):
            raise ValueError(f"Grayscale: expected 1 or 3 channels, got an image of shape "
                             f"{tuple(img.shape)}")
        lum = arr[..., :1, :, :]
        if arr.shape[-3] == 3:
            lum = (0.2989 * arr[..., 0, :, :] + 0.587 * arr[..., 1, :, :]
                   + 0.114 * arr[..., 2, :, :])[..., None, :, :].astype(arr.dtype)
        reps = (1,) * (arr.ndim - 3) + (self.num_output_channels, 1, 1)
        return _back(np.tile(lum, reps), kind)

    def __repr__(self):
        return f"Grayscale(num_output_channels={self.num_output_channels})"


def _max_value(dtype):
    return 1.0 if dtype.kind == "f" else (1 if dtype.kind == "b" else np.iinfo(dtype).max)


class ConvertImageDtype:
    """A tensor image in another dtype, rescaled as torchvision: integers run 0..max of
    their dtype, floats 0..1 (uint8 255 -> 1.0; float 1.0 -> uint8 255)."""

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)

    def __call__(self, image):
        if not isinstance(image, Tensor):
            raise TypeError(f"ConvertImageDtype: expected a tensor, got "
                            f"{type(image).__name__}")
        src, dst, arr = image.dtype, self.dtype, np.asarray(image.data)
        if src == dst:
            return image
        if src.kind == "f":
            if dst.kind == "f":
                return Tensor(arr.astype(dst))
            if (src.itemsize, dst.itemsize) in ((4, 4), (4, 8), (8, 8)) and dst.kind == "i":
                raise RuntimeError(f"ConvertImageDtype: the cast from {src} to {dst} cannot "
                                   f"be performed safely")
            return Tensor((arr * (_max_value(dst) + 1.0 - 1e-3)).astype(dst))
        in_max = _max_value(src)
        if dst.kind == "f":
            return Tensor(arr.astype(dst) / dst.type(in_max))
        out_max = _max_value(dst)
        if in_max > out_max:
            return Tensor((arr // ((in_max + 1) // (out_max + 1))).astype(dst))
        return Tensor(arr.astype(dst) * dst.type((out_max + 1) // (in_max + 1)))

    def __repr__(self):
        return f"ConvertImageDtype({self.dtype})"
