"""torchvision's image transforms: ``Compose``, ``ToTensor``, ``ToPILImage``, ``Normalize``,
flips, crops (``RandomResizedCrop`` too), ``Resize``, ``Pad``, ``RandomRotation``,
``ColorJitter``, ``GaussianBlur``, ``RandomErasing``, ``Grayscale``, ``ConvertImageDtype``,
``Lambda``, ``RandomApply`` / ``RandomChoice`` / ``RandomOrder``, ``TrivialAugmentWide``,
``RandomAffine``, ``RandomPerspective``, ``RandomInvert``, ``RandomPosterize``,
``RandomAdjustSharpness``, ``RandomAutocontrast``, ``RandomEqualize``, ``FiveCrop`` /
``TenCrop``, ``PILToTensor``, ``LinearTransformation``, ``AutoAugment`` (with
``AutoAugmentPolicy``), ``RandAugment``, ``AugMix`` and ``ElasticTransform``; their pixel
work is in ``transforms.functional`` (``F.adjust_hue``, ``F.rotate``, ``F.affine``,
``F.perspective``, ``F.invert``, ``F.equalize``, ``F.five_crop``, ...).

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

import math
import numbers
import warnings

import numpy as np

from ..._creation import linspace_array
from ..._tensor import Tensor, get_default_dtype
from ...random import get_rng, torch_stream
from . import functional
from .functional import (_PAD_MODES, InterpolationMode, _back, _chw, _crop, _flip, _is_pil,
                         _kind, _ltrb, _max_value, _mode, _pad, _pair, _size)

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomCrop", "CenterCrop", "Resize", "Grayscale",
           "ConvertImageDtype", "InterpolationMode", "functional", "RandomResizedCrop",
           "ColorJitter", "ToPILImage", "Pad", "RandomApply", "RandomChoice", "RandomOrder",
           "RandomRotation", "RandomErasing", "GaussianBlur", "TrivialAugmentWide",
           "RandomGrayscale", "RandomSolarize"]


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


def _image_chw(pic, op, accepted):
    """A PIL image or a NumPy image (H, W) / (H, W, C) as a NumPy array (C, H, W) of its own
    dtype (PIL's mode '1' as 0/255): ToTensor's and v2's to_image's first step."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"{op}: pic should be 2 or 3 dimensional (H, W) or (H, W, C), "
                             f"got shape {pic.shape}")
        arr = pic
    elif _is_pil(pic):
        arr = np.array(pic, _PIL_DTYPES.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = 255 * arr
    else:
        raise TypeError(f"{op}: {accepted}, got {type(pic).__name__}")
    return np.moveaxis(arr.reshape(arr.shape[:2] + (-1,)), -1, 0)


class ToTensor:
    """A PIL image or a NumPy image (H, W) / (H, W, C) as a tensor (C, H, W).

    uint8 pixels are scaled to [0, 1] in the default dtype (zeroin's: float64, torchvision's
    float32: ``zeroin.set_default_dtype(zeroin.float32)`` for float32); other dtypes
    (a float array, PIL's 'I' or 'F' images) keep their values and dtype, as torchvision.
    """

    def __call__(self, pic):
        arr = _image_chw(pic, "ToTensor", "pic should be a PIL image or a NumPy array")
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


class _TorchDraws:
    """A random transform's draws on the torch stream, made as torchvision makes them, under
    the NumPy Generator's method names: ``torch.rand(1)`` (a float32, so that ``< p``
    compares in float32 as torch's tensor does), ``torch.empty(1).uniform_(a, b)``,
    ``torch.randint(low, high, (1,))``, ``torch.randperm(n)`` and a float32 ``normal_``."""

    def __init__(self, stream):
        self.stream = stream

    def random(self, size=None):
        if size is not None:                # torch.rand((size,))
            return self.stream.uniform(size, np.float32)
        return self.stream.uniform(1, np.float32)[0]

    def uniform(self, low, high):
        return float(self.stream.uniform(1, np.float32, low, high)[0])

    def integers(self, low, high=None, size=None):
        low, high = (0, low) if high is None else (low, high)
        if size is not None:                # torch.randint(low, high, (size,))
            return self.stream.randint(size, low, high)
        return int(self.stream.randint(1, low, high)[0])

    def permutation(self, n):
        return self.stream.randperm(n)

    def standard_normal(self, shape):
        return self.stream.normal(math.prod(shape), np.float32).reshape(shape)


def _draws():
    """Where a random transform draws: :class:`_TorchDraws` on the torch stream (PyTorch's
    numbers, in torchvision's calls), else zeroin's NumPy generator."""
    stream = torch_stream()
    return get_rng() if stream is None else _TorchDraws(stream)


def _uniform():
    """One uniform draw in [0, 1): torchvision's ``torch.rand(1)`` on the torch stream."""
    return _draws().random()


def _below(n):
    """An int in [0, n): torchvision's ``torch.randint(0, n, (1,))`` on the torch stream
    (RandomCrop's corner)."""
    return int(_draws().integers(0, n))


def _log_uniform_exp(rng, log_lo, log_hi):
    """``exp`` of a uniform draw between two logs; on the torch stream torchvision's
    float32 ``torch.exp(torch.empty(1).uniform_(lo, hi))`` (PyTorch's float32 exp is
    MKL's or SLEEF's, within an ulp of the float64 one rounded here)."""
    if isinstance(rng, _TorchDraws):
        return float(np.float32(math.exp(rng.uniform(log_lo, log_hi))))
    return math.exp(float(rng.uniform(log_lo, log_hi)))


def _log_ratio(rng, ratio):
    """``log`` of the ratio bounds: torchvision's ``torch.log(torch.tensor(ratio))``, in
    float32, on the torch stream."""
    if isinstance(rng, _TorchDraws):
        return tuple(float(np.float32(math.log(float(np.float32(r))))) for r in ratio)
    return math.log(ratio[0]), math.log(ratio[1])


class RandomHorizontalFlip:
    """Mirror the image left-right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        return _flip(img, -1) if _uniform() < self.p else img

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror the image top-bottom with probability ``p``."""

    def __call__(self, img):
        return _flip(img, -2) if _uniform() < self.p else img

    def __repr__(self):
        return f"RandomVerticalFlip(p={self.p})"


class CenterCrop:
    """The central ``size`` (int: square, or (h, w)) part; zero-padded if the image is
    smaller, as torchvision (``functional.center_crop``)."""

    def __init__(self, size):
        self.size = functional._center_size(size, "CenterCrop")

    def __call__(self, img):
        return functional.center_crop(img, self.size)

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
        if _size(img, kind) == (th, tw):
            return img
        return _crop(img, kind, *self.get_params(img, (th, tw)))

    @staticmethod
    def get_params(img, output_size):
        """(top, left, height, width) of a random crop of ``output_size`` (h, w), as
        torchvision draws it (d2l's ``voc_rand_crop`` calls it to crop an image and its
        label alike)."""
        (h, w), (th, tw) = _size(img, _kind(img, "RandomCrop")), tuple(output_size)
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the "
                             f"(padded) image size {(h, w)}; pass padding= or "
                             f"pad_if_needed=True, or crop smaller")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        return _below(h - th + 1), _below(w - tw + 1), th, tw

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class Resize:
    """Resize to ``size``: (h, w), or an int for the shorter side (the longer one keeps
    the aspect ratio, at most ``max_size``), as torchvision.

    PIL images go through Pillow's resize (what torchvision does); tensors and NumPy images
    are interpolated as PyTorch's ``interpolate``, bilinear with ``antialias`` (default True:
    a triangle filter as wide as the shrinking factor, as torchvision and Pillow).
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
        return functional.resize(img, self.size, self.interpolation, self.max_size,
                                 self.antialias)

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


class RandomGrayscale:
    """:class:`Grayscale` with probability ``p``, in as many channels as the image has
    (torchvision's: an RGB image stays RGB), else the image unchanged: CS231n's SimCLR
    augmentation ``RandomGrayscale(p=0.2)``."""

    def __init__(self, p=0.1):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomGrayscale: p should be a probability in [0, 1], got {p!r}")
        self.p = p

    def __call__(self, img):
        kind = _kind(img, "RandomGrayscale")
        channels = len(img.getbands()) if kind == "pil" else _chw(img, kind).shape[-3]
        if _uniform() < self.p:             # torchvision's torch.rand(1) < p
            return Grayscale(channels)(img)
        return img

    def __repr__(self):
        return f"RandomGrayscale(p={self.p})"


class RandomSolarize:
    """:func:`functional.solarize` (pixels at or above ``threshold`` inverted) with
    probability ``p``, else the image unchanged: torchvision's, in BYOL's and DINO's second
    view (``RandomSolarize(threshold=0.5, p=0.2)`` on a float image; 0-255 on uint8)."""

    def __init__(self, threshold, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomSolarize: p should be a probability in [0, 1], got {p!r}")
        self.threshold, self.p = threshold, p

    def __call__(self, img):
        _kind(img, "RandomSolarize")
        if _uniform() < self.p:             # torchvision's torch.rand(1).item() < p
            return functional.solarize(img, self.threshold)
        return img

    def __repr__(self):
        return f"RandomSolarize(threshold={self.threshold},p={self.p})"


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


def _p_arg(p, op):
    """A probability ``p`` in [0, 1]."""
    if not (isinstance(p, numbers.Real) and 0 <= p <= 1):
        raise ValueError(f"{op}: p should be a probability in [0, 1], got {p!r}")
    return p


def _fill_arg(fill, op):
    """torchvision's ``fill``: a number or a sequence (one per channel)."""
    if not isinstance(fill, (numbers.Real, tuple, list)) or isinstance(fill, bool):
        raise TypeError(f"{op}: fill should be either a sequence or a number, got {fill!r}")
    return fill


def _min_max(value, op, name):
    """A (min, max) pair of numbers, as torchvision's scale and ratio."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, numbers.Real) for v in value)):
        raise TypeError(f"{op}: {name} should be a sequence (min, max) of two numbers, got "
                        f"{value!r}")
    if value[0] > value[1]:
        warnings.warn(f"{op}: {name} {value!r} should be of kind (min, max)", stacklevel=3)
    return float(value[0]), float(value[1])


class RandomResizedCrop:
    """A random part of the image, of ``scale`` times its area and aspect ratio (w / h) in
    ``ratio``, resized to ``size``: torchvision's sampling (10 tries, then the central crop
    that keeps the ratio in range)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = _pair(size, "RandomResizedCrop")
        self.scale = _min_max(scale, "RandomResizedCrop", "scale")
        self.ratio = _min_max(ratio, "RandomResizedCrop", "ratio")
        if self.scale[0] < 0 or min(self.ratio) <= 0:
            raise ValueError(f"RandomResizedCrop: scale must be >= 0 and ratio > 0, got "
                             f"scale={scale!r}, ratio={ratio!r}")
        self.interpolation = _mode(interpolation, "RandomResizedCrop")
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, height, width) of a random crop, as torchvision draws it."""
        height, width = _size(img, _kind(img, "RandomResizedCrop"))
        area, rng = height * width, _draws()
        log_ratio = _log_ratio(rng, ratio)
        for _ in range(10):
            target_area = area * float(rng.uniform(scale[0], scale[1]))
            aspect_ratio = _log_uniform_exp(rng, log_ratio[0], log_ratio[1])
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                i = int(rng.integers(0, height - h + 1))
                j = int(rng.integers(0, width - w + 1))
                return i, j, h, w
        in_ratio = float(width) / float(height)        # the central crop
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return functional.resized_crop(img, i, j, h, w, self.size, self.interpolation,
                                       antialias=self.antialias)

    def __repr__(self):
        return (f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio}, "
                f"interpolation={self.interpolation.value}, antialias={self.antialias})")


def _jitter(value, name, center=1.0, bound=(0.0, math.inf), clip_first_on_zero=True):
    """torchvision's ColorJitter argument: v -> (center - v, center + v), or (min, max);
    None when it changes nothing."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"ColorJitter: if {name} is a single number, it must be "
                             f"non-negative, got {value!r}")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"ColorJitter: {name} should be a single number or a sequence "
                        f"(min, max), got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound} and of the "
                         f"form (min, max), got {value}")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter:
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Each argument is a number v (factor drawn from [max(0, 1 - v), 1 + v]; hue: [-v, v],
    v <= 0.5) or a range (min, max). As torchvision's tensor formulas (``functional``'s
    ``adjust_*``); PIL images go through Pillow's ImageEnhance, as torchvision.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _jitter(brightness, "brightness")
        self.contrast = _jitter(contrast, "contrast")
        self.saturation = _jitter(saturation, "saturation")
        self.hue = _jitter(hue, "hue", center=0.0, bound=(-0.5, 0.5),
                           clip_first_on_zero=False)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order of the four adjustments as a tensor, then each factor or None)."""
        rng = _draws()
        fn_idx = Tensor(rng.permutation(4))
        b, c, s, h = (None if r is None else float(rng.uniform(r[0], r[1]))
                      for r in (brightness, contrast, saturation, hue))
        return fn_idx, b, c, s, h

    def __call__(self, img):
        fn_idx, *factors = self.get_params(self.brightness, self.contrast, self.saturation,
                                           self.hue)
        fns = (functional.adjust_brightness, functional.adjust_contrast,
               functional.adjust_saturation, functional.adjust_hue)
        for k in np.asarray(fn_idx.data).tolist():
            if factors[k] is not None:
                img = fns[k](img, factors[k])
        return img

    def __repr__(self):
        return (f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, hue={self.hue})")


class ToPILImage:
    """A tensor (C, H, W) or NumPy image (H, W, C) as a PIL image (``functional.
    to_pil_image``): floats in [0, 1] times 255, truncated to uint8; 1 channel 'L',
    3 'RGB', 4 'RGBA', or ``mode``."""

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return functional.to_pil_image(pic, self.mode)

    def __repr__(self):
        return "ToPILImage()" if self.mode is None else f"ToPILImage(mode={self.mode})"


class Pad:
    """Pad the borders by ``padding`` (int, (left/right, top/bottom) or (left, top, right,
    bottom); a negative amount crops) with ``fill`` (constant) or as ``padding_mode`` (edge,
    reflect, symmetric)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        _ltrb(padding, "Pad")
        if not isinstance(fill, (numbers.Real, tuple, list)):
            raise TypeError(f"Pad: fill must be a number or a tuple, got {fill!r}")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {_PAD_MODES}, got "
                             f"{padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img):
        return functional.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self):
        return (f"Pad(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


def _transform_list(transforms, op):
    if not isinstance(transforms, (list, tuple)) or not all(callable(t) for t in transforms):
        raise TypeError(f"{op}: transforms should be a list or tuple of transforms "
                        f"(callables), got {transforms!r}")
    return list(transforms)


class RandomApply(Compose):
    """Apply the ``transforms`` (in order) with probability ``p``, or none of them."""

    def __init__(self, transforms, p=0.5):
        super().__init__(_transform_list(transforms, "RandomApply"))
        if not 0 <= p <= 1:
            raise ValueError(f"RandomApply: p should be a probability in [0, 1], got {p!r}")
        self.p = p

    def __call__(self, img):
        if self.p < _uniform():            # torchvision's: p < torch.rand(1)
            return img
        return super().__call__(img)

    def __repr__(self):
        return "\n".join([f"RandomApply(p={self.p}"] +
                         [f"    {t}" for t in self.transforms] + [")"])


_PYTHON_RANDOM = "{} (torchvision draws it with Python's random module, not torch's generator)"


class RandomChoice:
    """Apply one of the ``transforms``, picked at random (with weights ``p``)."""

    def __init__(self, transforms, p=None):
        self.transforms = _transform_list(transforms, "RandomChoice")
        if p is not None:
            if not isinstance(p, (list, tuple)) or len(p) != len(self.transforms):
                raise ValueError(f"RandomChoice: p should be a sequence of one weight per "
                                 f"transform ({len(self.transforms)}), got {p!r}")
            if min(p) < 0 or sum(p) <= 0:
                raise ValueError(f"RandomChoice: the weights p should be non-negative with "
                                 f"a positive sum, got {p!r}")
        self.p = p

    def __call__(self, img):
        w = None if self.p is None else np.asarray(self.p, float) / sum(self.p)
        rng = get_rng(op=_PYTHON_RANDOM.format("RandomChoice"))
        return self.transforms[int(rng.choice(len(self.transforms), p=w))](img)

    def __repr__(self):
        return f"RandomChoice(transforms={self.transforms}, p={self.p})"


class RandomOrder:
    """Apply all the ``transforms`` in a random order."""

    def __init__(self, transforms):
        self.transforms = _transform_list(transforms, "RandomOrder")

    def __call__(self, img):
        for k in get_rng(op=_PYTHON_RANDOM.format("RandomOrder")).permutation(
                len(self.transforms)):
            img = self.transforms[k](img)
        return img

    def __repr__(self):
        return f"RandomOrder(transforms={self.transforms})"


def _degrees(degrees, op):
    if isinstance(degrees, numbers.Real) and not isinstance(degrees, bool):
        if degrees < 0:
            raise ValueError(f"{op}: if degrees is a single number, it must be non-negative, "
                             f"got {degrees!r}")
        return -float(degrees), float(degrees)
    if isinstance(degrees, (tuple, list)) and len(degrees) == 2:
        return float(degrees[0]), float(degrees[1])
    raise TypeError(f"{op}: degrees should be a number or a sequence (min, max), got "
                    f"{degrees!r}")


class RandomRotation:
    """Rotate by an angle drawn from ``degrees`` (d: [-d, d], or (min, max)),
    counter-clockwise, about the centre (or ``center``), nearest pixel by default; the
    corners from outside are ``fill``; ``expand=True`` makes the output hold it all."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        self.degrees = _degrees(degrees, "RandomRotation")
        if center is not None and not (isinstance(center, (tuple, list)) and len(center) == 2):
            raise ValueError(f"RandomRotation: center should be a sequence (x, y), got "
                             f"{center!r}")
        if not isinstance(fill, (numbers.Real, tuple, list)):
            raise TypeError(f"RandomRotation: fill should be a number or a sequence, got "
                            f"{fill!r}")
        self.interpolation = _mode(interpolation, "RandomRotation")
        self.expand = expand
        self.center, self.fill = center, fill

    @staticmethod
    def get_params(degrees):
        """An angle drawn uniformly from ``degrees`` (min, max)."""
        return float(_draws().uniform(float(degrees[0]), float(degrees[1])))

    def __call__(self, img):
        angle = self.get_params(self.degrees)
        return functional.rotate(img, angle, self.interpolation, self.expand, self.center,
                                 self.fill)

    def __repr__(self):
        return (f"RandomRotation(degrees={self.degrees}, interpolation="
                f"{self.interpolation.value}, expand={self.expand}, fill={self.fill})")


class RandomErasing:
    """With probability ``p``, set a random rectangle of a tensor image (``scale`` of its
    area, aspect ratio h / w in ``ratio``) to ``value``: a number, one per channel, or
    'random' (standard normal pixels). torchvision's sampling: 10 tries, else unchanged."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not isinstance(value, (numbers.Real, str, tuple, list)):
            raise TypeError(f"RandomErasing: value should be a number, 'random' or a "
                            f"sequence, got {value!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: a str value should be 'random', got {value!r}")
        self.scale = _min_max(scale, "RandomErasing", "scale")
        self.ratio = _min_max(ratio, "RandomErasing", "ratio")
        if self.scale[0] < 0 or self.scale[1] > 1:
            raise ValueError(f"RandomErasing: scale should be between 0 and 1, got {scale!r}")
        if min(self.ratio) <= 0:
            raise ValueError(f"RandomErasing: ratio should be positive, got {ratio!r}")
        if not 0 <= p <= 1:
            raise ValueError(f"RandomErasing: p should be a probability in [0, 1], got {p!r}")
        self.p, self.value, self.inplace = p, value, inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """(top, left, height, width, the values to write): torchvision's draws; value None
        draws standard normal values."""
        c, img_h, img_w = img.shape[-3], img.shape[-2], img.shape[-1]
        area, rng = img_h * img_w, _draws()
        log_ratio = _log_ratio(rng, ratio)
        for _ in range(10):
            erase_area = area * float(rng.uniform(scale[0], scale[1]))
            aspect_ratio = _log_uniform_exp(rng, log_ratio[0], log_ratio[1])
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            if value is None:
                v = Tensor(rng.standard_normal((c, h, w)).astype(img.dtype))
            else:
                v = Tensor(np.asarray(value, img.dtype)[:, None, None])
            i = int(rng.integers(0, img_h - h + 1))
            j = int(rng.integers(0, img_w - w + 1))
            return i, j, h, w, v
        return 0, 0, img_h, img_w, img

    def __call__(self, img):
        if not isinstance(img, Tensor) or img.ndim < 3:
            raise TypeError(f"RandomErasing: expected a tensor image (..., C, H, W), got "
                            f"{type(img).__name__}{_shape_of(img)}; apply ToTensor() first")
        if _uniform() >= self.p:           # torchvision's: torch.rand(1) < p erases
            return img
        value = self.value
        if isinstance(value, numbers.Real):
            value = [float(value)]
        elif isinstance(value, str):
            value = None
        else:
            value = [float(v) for v in value]
        if value is not None and len(value) not in (1, img.shape[-3]):
            raise ValueError(f"RandomErasing: value has {len(value)} numbers but the image "
                             f"of shape {tuple(img.shape)} has {img.shape[-3]} channels; "
                             f"give one per channel or one for all")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        return functional.erase(img, i, j, h, w, v, self.inplace)

    def __repr__(self):
        return (f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")


def _shape_of(img):
    return f" of shape {tuple(img.shape)}" if hasattr(img, "shape") else ""


class GaussianBlur:
    """Blur with a Gaussian kernel of ``kernel_size`` (odd; int or (kx, ky)) and a sigma
    drawn from ``sigma`` (a number, or (min, max)), reflecting at the borders."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        self.kernel_size = _pair(kernel_size, "GaussianBlur", "kernel_size")
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"GaussianBlur: kernel_size values should be odd and positive, "
                             f"got {kernel_size!r}")
        if isinstance(sigma, numbers.Real) and not isinstance(sigma, bool):
            if sigma <= 0:
                raise ValueError(f"GaussianBlur: if sigma is a single number, it must be "
                                 f"positive, got {sigma!r}")
            sigma = (float(sigma), float(sigma))
        elif isinstance(sigma, (tuple, list)) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError(f"GaussianBlur: sigma values should be positive and of the "
                                 f"form (min, max), got {sigma!r}")
        else:
            raise ValueError(f"GaussianBlur: sigma should be a single number or a sequence "
                             f"(min, max), got {sigma!r}")
        self.sigma = (float(sigma[0]), float(sigma[1]))

    @staticmethod
    def get_params(sigma_min, sigma_max):
        """A sigma drawn uniformly from [sigma_min, sigma_max]."""
        return float(_draws().uniform(sigma_min, sigma_max))

    def __call__(self, img):
        sigma = self.get_params(self.sigma[0], self.sigma[1])
        return functional.gaussian_blur(img, self.kernel_size, [sigma, sigma])

    def __repr__(self):
        return f"GaussianBlur(kernel_size={self.kernel_size}, sigma={self.sigma})"


def _linspace32(start, end, steps):
    """PyTorch's float32 linspace, bit for bit (zeroin.linspace's own)."""
    return linspace_array(start, end, steps, np.float32)


class TrivialAugmentWide:
    """TrivialAugment (Müller and Hutter, 2021): one op drawn uniformly from torchvision's
    14 (Identity, ShearX/Y, TranslateX/Y, Rotate, Brightness, Color, Contrast, Sharpness,
    Posterize, Solarize, AutoContrast, Equalize) at a magnitude drawn from
    ``num_magnitude_bins`` bins, its sign drawn for the signed ops. Posterize and Equalize
    need a PIL or uint8 image, as in torchvision; Solarize's threshold (0-255) is divided
    by 255 for a float image (torchvision 0.15's passed it as is, an error there)."""

    def __init__(self, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST,
                 fill=None):
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError(f"TrivialAugmentWide: num_magnitude_bins ({num_magnitude_bins!r})"
                             f" must be an integer >= 2")
        self.num_magnitude_bins = num_magnitude_bins
        self.interpolation = _mode(interpolation, "TrivialAugmentWide")
        self.fill = fill

    _v2_draws = False       # v2's: a sign drawn by torch.rand(()) <= 0.5, Solarize 1 -> 0

    @staticmethod
    def _augmentation_space(num_bins, v2=False):
        """op name: (magnitudes, signed), torchvision's table (v2's with ``v2``)."""
        return _aug_space(num_bins, 0.99, (32.0, 32.0), 135.0, 0.99, (8, 6),
                          head=("Identity",), v2=v2)

    def get_params(self):
        """(op name, magnitude) drawn as torchvision draws them."""
        space = self._augmentation_space(self.num_magnitude_bins, self._v2_draws)
        rng = _draws()
        name = list(space)[int(rng.integers(len(space)))]
        mags, signed = space[name]
        mag = 0.0 if mags is None else float(mags[int(rng.integers(len(mags)))])
        if signed and _negate(rng, self._v2_draws):
            mag = -mag
        return name, mag

    def __call__(self, img):
        name, mag = self.get_params()
        return _apply_op(img, name, mag, self.interpolation, self.fill, self._v2_draws)

    def __repr__(self):
        return (f"TrivialAugmentWide(num_magnitude_bins={self.num_magnitude_bins}, "
                f"interpolation={self.interpolation}, fill={self.fill})")


def _negate(rng, v2):
    """Whether a signed op's magnitude flips: torchvision v1's ``torch.randint(2, (1,))``
    (1 flips), v2's ``torch.rand(()) <= 0.5``."""
    return bool(rng.random() <= 0.5) if v2 else bool(int(rng.integers(2)))


def _aug_space(num_bins, shear, translate, rotate, enhance, posterize, head=(), tail=(),
               enhance_last=False, v2=False):
    """The op table of torchvision's autoaugment.py (op name: (magnitudes or None, signed)),
    in its order, which the drawn op index follows: ``head`` ops, shears, translations
    (``translate``: the x and y ends), rotation, the four enhancements (after posterize...
    for AugMix, left out when ``enhance`` is None), posterize (``top - round(i / ((bins - 1)
    / steps))`` in float32), solarize (thresholds 255 -> 0; v2's: 1 -> 0, times the bound),
    autocontrast, equalize, then ``tail`` ops."""
    lin = lambda hi: _linspace32(0.0, hi, num_bins)  # noqa: E731
    top, steps = posterize
    post = top - np.round(np.arange(num_bins, dtype=np.float32)
                          / np.float32((num_bins - 1) / steps)).astype(np.int64)
    space = {n: (None, False) for n in head}
    space.update({"ShearX": (lin(shear), True), "ShearY": (lin(shear), True),
                  "TranslateX": (lin(translate[0]), True),
                  "TranslateY": (lin(translate[1]), True), "Rotate": (lin(rotate), True)})
    color = {} if enhance is None else {n: (lin(enhance), True) for n in
                                        ("Brightness", "Color", "Contrast", "Sharpness")}
    solar = _linspace32(1.0 if v2 else 255.0, 0.0, num_bins)
    rest = {"Posterize": (post, False), "Solarize": (solar, False),
            "AutoContrast": (None, False), "Equalize": (None, False)}
    for part in ((rest, color) if enhance_last else (color, rest)):
        space.update(part)
    space.update({n: (None, False) for n in tail})
    return space


def _apply_op(img, name, mag, interpolation, fill, v2=False):
    """torchvision's ``_apply_op`` of autoaugment.py (``v2``: v2's, whose Solarize
    magnitude is a fraction of the dtype's bound)."""
    F = functional
    if name in ("ShearX", "ShearY"):
        s = math.degrees(math.atan(mag))
        shear = [s, 0.0] if name == "ShearX" else [0.0, s]
        return F.affine(img, 0.0, [0, 0], 1.0, shear, interpolation, fill, center=[0, 0])
    if name in ("TranslateX", "TranslateY"):
        t = [int(mag), 0] if name == "TranslateX" else [0, int(mag)]
        return F.affine(img, 0.0, t, 1.0, [0.0, 0.0], interpolation, fill)
    if name == "Rotate":
        return F.rotate(img, mag, interpolation, fill=fill)
    enhance = {"Brightness": F.adjust_brightness, "Color": F.adjust_saturation,
               "Contrast": F.adjust_contrast, "Sharpness": F.adjust_sharpness}
    if name in enhance:
        return enhance[name](img, 1.0 + mag)
    if name == "Posterize":
        return F.posterize(img, int(mag))
    if name == "Solarize" and v2:
        return _solarize_v2(img, mag)
    if name == "Solarize":
        float_img = not _is_pil(img) and _chw(img, _kind(img, "Solarize")).dtype.kind == "f"
        return F.solarize(img, mag / 255.0 if float_img else mag)
    if name == "AutoContrast":
        return F.autocontrast(img)
    if name == "Equalize":
        return F.equalize(img)
    if name == "Invert":
        return F.invert(img)
    return img


def _solarize_v2(img, mag):
    """torchvision v2's Solarize: threshold ``bound * mag`` (255 for PIL images), compared
    as torch compares it: in float32 unless the image is float64."""
    if _is_pil(img):
        return functional.solarize(img, 255.0 * mag)
    dtype = _chw(img, _kind(img, "Solarize")).dtype
    thr = _max_value(dtype) * mag
    return functional.solarize(img, thr if dtype == np.float64 else float(np.float32(thr)))


# the extra transforms import this module's helpers, so they come last
from ._extra import (  # noqa: E402
    AugMix,
    AutoAugment,
    AutoAugmentPolicy,
    ElasticTransform,
    FiveCrop,
    LinearTransformation,
    PILToTensor,
    RandAugment,
    RandomAdjustSharpness,
    RandomAffine,
    RandomAutocontrast,
    RandomEqualize,
    RandomInvert,
    RandomPerspective,
    RandomPosterize,
    TenCrop,
)

__all__ += ["AugMix", "AutoAugment", "AutoAugmentPolicy", "ElasticTransform", "FiveCrop",
            "LinearTransformation",
            "PILToTensor", "RandAugment", "RandomAdjustSharpness", "RandomAffine",
            "RandomAutocontrast", "RandomEqualize", "RandomInvert", "RandomPerspective",
            "RandomPosterize", "TenCrop"]
