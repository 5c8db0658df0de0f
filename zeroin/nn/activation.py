"""Activation modules: the nonlinearities between layers.

``inplace=True`` is accepted for PyTorch compatibility; the result is always a new
tensor (same values and gradients).
"""
from __future__ import annotations

import numpy as np

from .. import ops
from . import _composed as C
from . import functional as F
from . import _more as M
from .module import Module, _init_args_error

__all__ = ["ReLU", "LeakyReLU", "RReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softmin",
           "Softplus", "GELU", "SiLU", "ELU", "CELU", "SELU", "Mish", "ReLU6", "Hardtanh",
           "LogSigmoid", "Softsign", "PReLU", "Hardswish", "Hardsigmoid", "GLU", "Tanhshrink",
           "Softshrink", "Hardshrink", "Threshold", "Softmax2d"]


def _inplace_str(module):
    return ", inplace=True" if module.inplace else ""


class _Inplace(Module):
    def __init__(self, inplace=False):
        super().__init__()
        if not isinstance(inplace, bool):      # ReLU(x): data given to the constructor
            _init_args_error(self, (inplace,), {})
        self.inplace = inplace

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class ReLU(_Inplace):
    """max(x, 0)."""

    def forward(self, x):
        return ops.relu(x)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + _inplace_str(self)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return ops.tanh(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (PyTorch's)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus: beta must be > 0, got {beta!r}")
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class _Dim(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_Dim):
    """exp(x) / sum(exp(x)) along ``dim`` (dim None: PyTorch's legacy choice, with its
    warning). Do not put it before CrossEntropyLoss, which takes raw scores (logits) and
    applies log-softmax itself."""

    def forward(self, x):
        return F.softmax(x, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Softmax over the channels of (N, C, H, W) or (C, H, W), at every position."""

    def forward(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D (C, H, W) or 4-D (N, C, H, W) "
                             f"input, got shape {tuple(x.shape)}")
        return F.softmax(x, -3)


class LogSoftmax(_Dim):
    """x - logsumexp(x) along ``dim``."""

    def forward(self, x):
        return F.log_softmax(x, self.dim, _stacklevel=5)


class Softmin(_Dim):
    """softmax(-x) along ``dim``."""

    def forward(self, x):
        return F.softmin(x, self.dim, _stacklevel=5)


class GELU(Module):
    """x * Phi(x); ``approximate='tanh'`` for the tanh formula."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ops._ValueError(f"GELU: approximate must be 'none' or 'tanh', got "
                             f"{approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return C.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_Inplace):
    """x * sigmoid(x)."""

    def forward(self, x):
        return C.silu(x)


class Mish(_Inplace):
    """x * tanh(softplus(x))."""

    def forward(self, x):
        return C.mish(x)


class _Alpha(Module):
    """ELU's and CELU's ``alpha`` and ``inplace`` (siblings, as in PyTorch)."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def extra_repr(self):
        return f"alpha={self.alpha}" + _inplace_str(self)


class ELU(_Alpha):
    """x for x > 0, alpha (exp(x) - 1) otherwise."""

    def forward(self, x):
        return C.elu(x, self.alpha)


class CELU(_Alpha):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""

    def forward(self, x):
        return C.celu(x, self.alpha)


class SELU(_Inplace):
    """Scaled ELU with PyTorch's constants."""

    def forward(self, x):
        return C.selu(x)


class Hardtanh(Module):
    """x clipped to [min_val, max_val]."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val ({min_val}) must be <= max_val ({max_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, x):
        return C.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}" + _inplace_str(self)


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LogSigmoid(Module):
    """log(sigmoid(x))."""

    def forward(self, x):
        return C.logsigmoid(x)


class Softsign(Module):
    """x / (1 + |x|)."""

    def forward(self, x):
        return C.softsign(x)


class RReLU(_Inplace):
    """Randomized leaky ReLU: in training each negative element gets a slope drawn from
    [lower, upper]; in evaluation the slope is (lower + upper) / 2."""

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__(inplace)
        self.lower, self.upper = lower, upper

    def forward(self, x):
        return M.rrelu(x, self.lower, self.upper, self.training)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + _inplace_str(self)


class PReLU(Module):
    """x for x > 0, ``weight * x`` otherwise, with a learned slope: one shared
    (``num_parameters=1``) or one per channel (dimension 1), initialised to ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        from .layers import _check_device, _dtype
        from .module import Parameter
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, (int, np.integer)) \
                or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive integer (1, or the "
                             f"number of channels), got {num_parameters!r}")
        _check_device("PReLU", device)
        self.num_parameters, self.init = int(num_parameters), init
        self.weight = Parameter(np.full(self.num_parameters, init, dtype=_dtype(dtype)))

    def reset_parameters(self):
        self.weight.data[...] = self.init

    def forward(self, x):
        from .layers import _check_input_dtype
        return M.prelu(_check_input_dtype(self, x), self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6."""

    def extra_repr(self):           # PyTorch's repr leaves inplace out
        return ""

    def forward(self, x):
        from .functional import hardswish
        return hardswish(x)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6."""

    def extra_repr(self):           # PyTorch's repr leaves inplace out
        return ""

    def forward(self, x):
        from .functional import hardsigmoid
        return hardsigmoid(x)


class GLU(Module):
    """Gated linear unit: first half * sigmoid(second half) along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        from .functional import glu
        if x.shape[self.dim] % 2:
            raise ValueError(f"GLU: dimension {self.dim} of the input (shape {x.shape}) must "
                             f"have an even size, to be halved")
        return glu(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Tanhshrink(Module):
    """x - tanh(x)."""

    def forward(self, x):
        from .functional import tanhshrink
        return tanhshrink(x)


class Softshrink(Module):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be >= 0, got {lambd!r}")
        self.lambd = lambd

    def forward(self, x):
        return M.softshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Hardshrink(Module):
    """x where |x| > lambd, else 0."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return M.hardshrink(x, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Threshold(Module):
    """x where x > ``threshold``, else ``value``."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, x):
        return M.threshold(x, self.threshold, self.value)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + \
            (", inplace=True" if self.inplace else "")
