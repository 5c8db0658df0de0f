"""torchvision's ``transforms.v2.functional``: v1's functional ops, v2's names for the
flips, ``center_crop``, ``normalize`` and ``rgb_to_grayscale``, and ``to_image`` /
``to_dtype``. Each takes one image (PIL, tensor (..., C, H, W) or NumPy (H, W[, C]))."""
from __future__ import annotations

import numpy as np

from ... import transforms as _v1
from ...._tensor import Tensor
from ..functional import *  # noqa: F401,F403  (v1's ops, unchanged)
from ..functional import __all__ as _v1_all
from ..functional import _flip

__all__ = list(_v1_all) + ["horizontal_flip", "vertical_flip", "center_crop", "normalize",
                           "rgb_to_grayscale", "to_image", "to_dtype"]


def horizontal_flip(inpt):
    """Mirror left-right."""
    return _flip(inpt, -1)


def vertical_flip(inpt):
    """Mirror top-bottom."""
    return _flip(inpt, -2)


def center_crop(inpt, output_size):
    """The central ``output_size`` part (zero-padded if the image is smaller)."""
    return _v1.CenterCrop(output_size)(inpt)


def normalize(inpt, mean, std, inplace=False):
    """``(x - mean[c]) / std[c]`` per channel of a float tensor image."""
    return _v1.Normalize(mean, std, inplace)(inpt)


def rgb_to_grayscale(inpt, num_output_channels=1):
    """Luma in 1 or 3 channels, as ``Grayscale``."""
    return _v1.Grayscale(num_output_channels)(inpt)


def to_image(inpt):
    """A PIL or NumPy image (H, W[, C]) as a tensor (C, H, W) of the same dtype; a tensor
    (H, W) becomes (1, H, W), others pass as they are."""
    if isinstance(inpt, Tensor):                # (H, W) gains its channel, as tv Image
        return inpt.unsqueeze(0) if inpt.ndim == 2 else inpt
    arr = _v1._image_chw(inpt, "to_image", "expected a PIL image, a NumPy image or a tensor")
    return Tensor(np.ascontiguousarray(arr))


def to_dtype(inpt, dtype, scale=False):
    """The tensor in ``dtype``: values rescaled when ``scale`` (uint8 0..255 <-> float
    0..1), else cast. Integers become floats as torchvision v2's, x * (1 / max) (v1's
    ``ConvertImageDtype`` divides: the last bit may differ); the rest as
    ``ConvertImageDtype``."""
    if not isinstance(inpt, Tensor):
        raise TypeError(f"to_dtype: expected a tensor, got {type(inpt).__name__}; apply "
                        f"ToImage() first (v2.Compose([v2.ToImage(), v2.ToDtype(...)]))")
    src, dst = inpt.dtype, np.dtype(dtype)
    if scale and src.kind in "iu" and dst.kind == "f":
        arr = np.asarray(inpt.data)
        return Tensor(arr.astype(dst) * dst.type(1.0 / np.iinfo(src).max))
    if scale:
        return _v1.ConvertImageDtype(dtype)(inpt)
    return Tensor(np.asarray(inpt.data).astype(np.dtype(dtype)))
