"""Layer and loss functions composed from existing differentiable ops (no new op class),
so their gradients (first and second order) come from the ops' rules.

Exported through :mod:`zeroin.nn.functional` under PyTorch's names. ``erf`` is the one
elementwise rule added here (exact GELU needs it); the engine may replace it and ``gelu``
by primitive ops later.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..function import Function, ShapeError

__all__ = ["erf", "gelu", "silu", "elu", "celu", "selu", "mish", "relu6", "hardtanh",
           "logsigmoid", "softsign", "layer_norm", "group_norm", "embedding", "huber_loss",
           "smooth_l1_loss", "kl_div"]


def _t(x, op):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, float, int, np.generic)):
        return Tensor(x)
    raise TypeError(f"{op}: input must be a Tensor or array, got {type(x).__name__}")


# --- elementwise ------------------------------------------------------------------------

_erf_np = np.frompyfunc(math.erf, 1, 1)


class _Erf(Function):
    """erf(x) = 2/sqrt(pi) * integral_0^x exp(-s**2) ds; d/dx = 2/sqrt(pi) exp(-x**2)."""
    name = "erf"

    def forward(self, x):
        return np.asarray(_erf_np(x), dtype=x.dtype)

    def backward(self, xp, g, out, x):
        return g * (xp.exp(-(x * x)) * (2 / math.sqrt(math.pi)))


def erf(input):  # noqa: A002
    """The error function, elementwise."""
    x = _t(input, "erf")
    if x.dtype.kind != "f":
        x = x.astype(np.float64)
    return _Erf()(x)


def gelu(input, approximate="none"):  # noqa: A002
    """x * Phi(x) (Phi the standard normal CDF); ``approximate='tanh'`` uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), as PyTorch."""
    x = _t(input, "gelu")
    if approximate == "none":
        return x * (erf(x * (1 / math.sqrt(2))) + 1) * 0.5
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * (ops.tanh(inner) + 1) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x) (also called swish)."""
    x = _t(input, "silu")
    return x * ops.sigmoid(x)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, alpha (exp(x) - 1) otherwise."""
    x = _t(input, "elu")
    neg = (ops.exp(ops.minimum(x, 0.0)) - 1) * alpha      # min: no overflow for large x
    return ops.where(x.data > 0, x, neg)


def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    x = _t(input, "celu")
    neg = (ops.exp(ops.minimum(x, 0.0) * (1.0 / alpha)) - 1) * alpha
    return ops.where(x.data > 0, x, neg)


def selu(input, inplace=False):  # noqa: A002
    """scale * elu(x, alpha) with PyTorch's constants."""
    return elu(input, 1.6732632423543772848170429916717) * 1.0507009873554804934193349852946


def mish(input, inplace=False):  # noqa: A002
    """x * tanh(softplus(x))."""
    x = _t(input, "mish")
    return x * ops.tanh(ops.softplus(x))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """x clipped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must be <= max_val ({max_val})")
    return ops.clip(_t(input, "hardtanh"), min_val, max_val)


def relu6(input, inplace=False):  # noqa: A002
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


def logsigmoid(input):  # noqa: A002
    """log(sigmoid(x)) = -softplus(-x), stable."""
    return -ops.softplus(-_t(input, "logsigmoid"))


def softsign(input):  # noqa: A002
    """x / (1 + |x|)."""
    x = _t(input, "softsign")
    return x / (ops.abs(x) + 1)


# --- normalisation and embedding --------------------------------------------------------

def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return xc / ops.sqrt(var + eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the last ``len(normalized_shape)`` dimensions (biased variance),
    then scale by ``weight`` and shift by ``bias`` (both of ``normalized_shape``)."""
    x = _t(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must equal the last "
                         f"dimensions of the input, got input of shape {x.shape}")
    y = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Split the channels (dimension 1) into ``num_groups`` groups and normalise each
    group of each sample; then per-channel ``weight`` and ``bias``."""
    x = _t(input, "group_norm")
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ShapeError(f"group_norm: expected input (N, C, ...) with C divisible by "
                         f"num_groups={num_groups}, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    g = x.reshape(n, num_groups, -1)
    y = _normalize(g, (2,), eps).reshape(x.shape)
    cshape = (1, c) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer indices ``input``.

    The row at ``padding_idx`` gets no gradient, as in PyTorch."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}; "
                        f"convert with .long() / .astype('int64')")
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are "
                                  "not supported")
    n = weight.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"embedding: index out of range: indices from {idx.min()} to "
                         f"{idx.max()} for {n} embeddings (0..{n - 1})")
    out = weight[idx]
    if padding_idx is not None:
        keep = (idx != padding_idx % n)[..., None]
        out = ops.where(keep, out, weight.detach()[idx])
    return out


# --- losses -----------------------------------------------------------------------------

def _reduce(el, reduction):
    if reduction == "mean":
        return el.mean()
    if reduction == "sum":
        return el.sum()
    return el


def huber_loss(input, target, reduction="mean", delta=1.0):  # noqa: A002
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target."""
    from .functional import _prepare
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}")
    x, t = _prepare("huber_loss", input, target, reduction)
    d = x - t
    a = ops.abs(d)
    el = ops.where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(el, reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):  # noqa: A002
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (L1 for beta = 0)."""
    from .functional import _prepare
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}")
    x, t = _prepare("smooth_l1_loss", input, target, reduction)
    d = x - t
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction)
    el = ops.where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(el, reduction)


def kl_div(input, target, reduction="mean", log_target=False):  # noqa: A002
    """KL(target || p) summed elementwise, with ``input`` = log p (log-probabilities):
    target * (log target - input) (0 where target is 0). ``reduction='batchmean'`` divides
    the sum by the batch size (the true KL divergence per sample); 'mean' divides by the
    number of elements, as PyTorch."""
    from .functional import _prepare
    x, t = _prepare("kl_div", input, target, reduction, ("mean", "sum", "none", "batchmean"))
    if log_target:
        el = ops.exp(t) * (t - x)
    else:
        td = t.data
        if td.size and td.min() < 0:
            raise ValueError(f"kl_div: target must hold probabilities (>= 0), got a minimum "
                             f"of {td.min():g}; for log-probabilities pass log_target=True")
        pos = td > 0
        logt = _leaf(np.log(np.where(pos, td, 1.0)))
        el = ops.where(pos, t * (logt - x), x * 0.0)
        if t.requires_grad:
            el = ops.where(pos, t * (ops.log(ops.where(pos, t, 1.0)) - x), x * 0.0)
    if reduction == "batchmean":
        return el.sum() * (1.0 / x.shape[0]) if x.ndim else el.sum()
    return _reduce(el, reduction)
