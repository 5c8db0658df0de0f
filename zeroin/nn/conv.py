"""Convolution layers: Conv1d/2d/3d, ConvTranspose1d/2d/3d (PyTorch's
arguments, weight layouts and default initialisation, so a PyTorch CNN runs unchanged)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._tensor import get_default_dtype
from . import _conv as C
from . import functional as F
from . import init
from .layers import _check_device, _dtype
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _volume():
    from . import _volume
    return _volume


def _positive(cls, name, v):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{cls}: {name} must be a positive integer, got {v!r}")
    return int(v)


class _ConvNd(Module):
    """Shared by the convolution layers: parameters, PyTorch's initialisation, repr.
    PyTorch's signature, so a subclass written for ``torch.nn.modules.conv._ConvNd`` runs:
    its dimension count is that of ``kernel_size`` (a tuple) unless the class sets ``_nd``."""
    _nd = None
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device=None,
                 dtype=None, *, rng=None):
        super().__init__()
        cls = type(self).__name__
        _check_device(cls, device)
        if self._nd is None:
            self._nd = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else 2
        nd = self._nd
        self._transposed = self.transposed = bool(transposed)
        in_channels = _positive(cls, "in_channels", in_channels)
        out_channels = _positive(cls, "out_channels", out_channels)
        groups = _positive(cls, "groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{cls}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{cls}: padding_mode must be one of {_PADDING_MODES}, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{cls}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = C._tuple(kernel_size, nd, cls, "kernel_size")
        self.stride = C._tuple(stride, nd, cls, "stride")
        self.dilation = C._tuple(dilation, nd, cls, "dilation")
        self.padding = padding if isinstance(padding, str) else \
            C._tuple(padding, nd, cls, "padding", low=0)
        if padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{cls}: padding='same' is not supported for strided "
                             f"convolutions (stride={self.stride})")
        self.output_padding = C._tuple(output_padding, nd, cls, "output_padding", low=0)
        self.padding_mode = padding_mode
        dt = _dtype(dtype)
        shape = (in_channels, out_channels // groups) if self._transposed else \
            (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(shape + self.kernel_size, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None):
        """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) with fan_in = weight.shape[1] * kernel area; b ~ the same range."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * int(np.prod(self.kernel_size))
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self._show(self.kernel_size)}"
        for name, default in (("stride", None), ("padding", 0), ("dilation", 1),
                              ("output_padding", 0)):       # stride always, as PyTorch
            v = getattr(self, name)
            if isinstance(v, str) or any(a != default for a in v):
                if name != "output_padding" or self._transposed:
                    s += f", {name}={v if isinstance(v, str) else self._show(v)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        if self.weight.dtype != get_default_dtype():
            s += f", dtype={self.weight.dtype}"
        return s

    @staticmethod
    def _show(t):
        return t if len(t) > 1 else f"({t[0]},)"


class _Conv(_ConvNd):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None, rng=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype, rng=rng)

    def _pad_widths(self):
        """PyTorch's pad tuple (last dimension first) for a non-zeros padding_mode."""
        if self.padding == "valid":
            return None
        if self.padding == "same":
            pairs = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                     for k, d in zip(self.kernel_size, self.dilation)]
        else:
            pairs = [(p, p) for p in self.padding]
        if not any(a or b for a, b in pairs):
            return None
        return tuple(v for pair in reversed(pairs) for v in pair)

    def _conv_forward(self, input, weight, bias):  # noqa: A002
        """The convolution with ``weight`` and ``bias`` in place of the layer's own (PyTorch's
        hook for subclasses that transform the weight, e.g. weight standardisation)."""
        conv = C.conv1d if self._nd == 1 else C.conv2d if self._nd == 2 else _volume().conv3d
        if self.padding_mode != "zeros":
            widths = self._pad_widths()
            if widths is not None:
                input = F.pad(input, widths, mode=self.padding_mode)  # noqa: A001
            return conv(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return conv(input, weight, bias, self.stride, self.padding, self.dilation,
                    self.groups)

    def forward(self, x):
        return self._conv_forward(x, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L): weight (C_out, C_in/groups, k), PyTorch's
    arguments and initialisation; ``padding`` an int, 'same' or 'valid';
    ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular'."""
    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W): ``Conv2d(1, 6, 5, padding=2)`` slides 6
    learned 5x5 filters over the image. Weight (C_out, C_in/groups, kH, kW), bias
    (C_out,); PyTorch's arguments (``stride``, ``padding`` int/pair/'same'/'valid',
    ``dilation``, ``groups``, ``bias``, ``padding_mode`` 'zeros'/'reflect'/'replicate'/
    'circular') and default initialisation (kaiming_uniform with a=sqrt(5))."""
    _nd = 2


class Conv3d(_Conv):
    """3-D convolution over volumes or clips (N, C_in, D, H, W) (or unbatched (C_in, D, H,
    W)): weight (C_out, C_in/groups, kD, kH, kW); arguments as :class:`Conv2d`."""
    _nd = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None, rng=None):
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is "
                             f"supported (as in PyTorch)")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be a number or a tuple, "
                             f"got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype,
                         rng=rng)

    def forward(self, x, output_size=None):
        opad = self.output_padding
        if output_size is not None:
            opad = self._output_padding(x, output_size)
        f = C.conv_transpose1d if self._nd == 1 else C.conv_transpose2d if self._nd == 2 \
            else _volume().conv_transpose3d
        return f(x, self.weight, self.bias, self.stride, self.padding, opad, self.groups,
                 self.dilation)

    def _output_padding(self, x, output_size):
        """The output_padding that gives ``output_size`` (PyTorch's forward argument)."""
        want = tuple(output_size)[-self._nd:]
        opad = []
        spatial = tuple(x.shape)[-self._nd:]        # batched (N, C, *) or unbatched (C, *)
        for n, o, s, p, d, k in zip(spatial, want, self.stride, self.padding,
                                    self.dilation, self.kernel_size):
            least = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not least <= o < least + s:
                raise ValueError(f"{type(self).__name__}: output_size {tuple(output_size)} "
                                 f"is not reachable from input {tuple(x.shape)}: each size "
                                 f"must be in [{least}, {least + s - 1}]")
            opad.append(o - least)
        return tuple(opad)


class ConvTranspose1d(_ConvTranspose):
    """Transposed 1-D convolution (the gradient of Conv1d with respect to its input):
    weight (C_in, C_out/groups, k)."""
    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """Transposed 2-D convolution ("up-convolution"): ``ConvTranspose2d(16, 8, 2,
    stride=2)`` doubles height and width. Weight (C_in, C_out/groups, kH, kW)."""
    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    """Transposed 3-D convolution: ``ConvTranspose3d(16, 8, 2, stride=2)`` doubles depth,
    height and width. Weight (C_in, C_out/groups, kD, kH, kW)."""
    _nd = 3
