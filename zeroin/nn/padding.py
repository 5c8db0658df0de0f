"""Padding layers (on ``F.pad``) and PixelShuffle / PixelUnshuffle, as PyTorch's."""
from __future__ import annotations

import numbers

from . import _more as M
from ..errors import ShapeError
from .module import Module

__all__ = ["ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "PixelShuffle",
           "PixelUnshuffle", "ZeroPad1d", "CircularPad1d", "CircularPad2d", "ChannelShuffle",
           "ZeroPad3d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d",
           "CircularPad3d"]


def _widths(layer, padding, n):
    """``padding`` as PyTorch stores it: an int repeated ``2 n`` times, or 2 n ints."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * (2 * n)
    p = tuple(padding) if isinstance(padding, (tuple, list)) else None
    if p is None or len(p) != 2 * n or not all(isinstance(v, numbers.Integral) for v in p):
        want = {1: "(left, right)", 2: "(left, right, top, bottom)",
                3: "(left, right, top, bottom, front, back)"}[n]
        raise ValueError(f"{layer}: padding must be an int or {2 * n} ints {want}, got "
                         f"{padding!r}")
    return tuple(int(v) for v in p)


class _Pad(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _widths(type(self).__name__, padding, self._n)

    def _check(self, x):
        name, n = type(self).__name__, self._n
        if x.ndim not in (n + 1, n + 2):
            shapes = {1: "(C, W) or (N, C, W)", 2: "(C, H, W) or (N, C, H, W)",
                      3: "(C, D, H, W) or (N, C, D, H, W)"}[n]
            raise ValueError(f"{name}: expected a {n + 1}-D or {n + 2}-D input {shapes}, got "
                             f"shape {x.shape}")
        if self._mode == "circular":
            for i in range(n):
                size, lo, hi = x.shape[-1 - i], *self.padding[2 * i:2 * i + 2]
                if max(lo, hi) > size:
                    raise ShapeError(f"{name}: padding {self.padding} wraps around more "
                                     f"than once: at most the size {size} of the padded "
                                     f"dimension of input of shape {x.shape}")
        if self._mode == "reflect":
            for i in range(n):
                size, lo, hi = x.shape[-1 - i], *self.padding[2 * i:2 * i + 2]
                if max(lo, hi) >= size:
                    raise ValueError(f"{name}: padding {self.padding} must be smaller than "
                                     f"the dimension it reflects, got size {size} in input "
                                     f"of shape {x.shape}; use ReplicationPad or less "
                                     f"padding")

    def forward(self, x):
        from .functional import pad
        self._check(x)
        if self._mode == "constant":
            return pad(x, self.padding, value=self.value)
        return pad(x, self.padding, mode=self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_Pad):
    """The constant pads (1d, 2d, 3d are siblings, as in PyTorch)."""

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dimension with ``value``: ``padding`` an int or (left, right)."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dimensions with ``value``: (left, right, top, bottom)."""
    _n = 2


class ZeroPad2d(ConstantPad2d):
    """Pad the last two dimensions with zeros: an int or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dimensions with ``value``: (left, right, top, bottom, front,
    back)."""
    _n = 3


class ZeroPad3d(ConstantPad3d):
    """Pad the last three dimensions with zeros: an int or 6 ints."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(ConstantPad1d):
    """Pad the last dimension with zeros: an int or (left, right)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _CircularPadNd(_Pad):
    _mode = "circular"


class CircularPad1d(_CircularPadNd):
    """Pad the last dimension with values from its other end (periodic)."""


class CircularPad2d(_CircularPadNd):
    """Pad the last two dimensions periodically: (left, right, top, bottom)."""
    _n = 2


class CircularPad3d(_CircularPadNd):
    """Pad the last three dimensions periodically: 6 ints, last dimension first."""
    _n = 3


class _ReflectionPadNd(_Pad):
    _mode = "reflect"


class ReflectionPad1d(_ReflectionPadNd):
    """Pad the last dimension with its reflection (the edge not repeated)."""


class ReflectionPad2d(_ReflectionPadNd):
    """Pad the last two dimensions with their reflection."""
    _n = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Pad the last three dimensions with their reflection."""
    _n = 3


class _ReplicationPadNd(_Pad):
    _mode = "replicate"


class ReplicationPad1d(_ReplicationPadNd):
    """Pad the last dimension by repeating its edge value."""


class ReplicationPad2d(_ReplicationPadNd):
    """Pad the last two dimensions by repeating their edge values."""
    _n = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Pad the last three dimensions by repeating their edge values."""
    _n = 3


class PixelShuffle(Module):
    """(*, C r**2, H, W) -> (*, C, H r, W r), r = ``upscale_factor``."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = M._factor("PixelShuffle", "upscale_factor", upscale_factor)

    def forward(self, x):
        return M.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r**2, H, W), r = ``downscale_factor``."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = M._factor("PixelUnshuffle", "downscale_factor",
                                          downscale_factor)

    def forward(self, x):
        return M.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """Shuffle the channels of (N, C, *) in ``groups`` groups (ShuffleNet)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = M._factor("ChannelShuffle", "groups", groups)

    def forward(self, x):
        return M.channel_shuffle(x, self.groups)

    def extra_repr(self):
        return f"groups={self.groups}"
