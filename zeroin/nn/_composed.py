"""Layer and loss functions composed from existing differentiable ops (no new op class),
so their gradients (first and second order) come from the ops' rules.

Exported through :mod:`zeroin.nn.functional` under PyTorch's names. ``erf`` is the one
elementwise rule added here (exact GELU needs it); the engine may replace it and ``gelu``
by primitive ops later.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf, _user_stacklevel
from ..errors import ArgumentError, DtypeError
from ..function import Function, ShapeError, mark_roles

__all__ = ["erf", "gelu", "silu", "elu", "celu", "selu", "mish", "relu6", "hardtanh",
           "logsigmoid", "softsign", "embedding", "huber_loss",
           "smooth_l1_loss", "kl_div"]


def _t(x, op):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple, float, int, np.generic)):
        return Tensor(np.asarray(x))      # a number is a 0-d tensor, not Tensor(3)'s size
    raise TypeError(f"{op}: input must be a Tensor or array, got {type(x).__name__}")


# --- elementwise: the primitives (one op each, with their own rules) ---------------------

from .._torch_ops import (celu, elu, erf, gelu, hardtanh, logsigmoid,  # noqa: E402,F401
                          relu6, selu)
from .. import _torch_ops as _prim  # noqa: E402


def silu(input, inplace=False):  # noqa: A002
    """x * sigmoid(x); ``inplace`` is accepted and ignored (a new tensor)."""
    return _prim.silu(input)


def mish(input, inplace=False):  # noqa: A002
    """x * tanh(softplus(x))."""
    return _prim.mish(input)


def softsign(input):  # noqa: A002
    """x / (1 + |x|)."""
    return _prim.softsign(input)


# --- normalisation and embedding --------------------------------------------------------

def _normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return xc / ops.sqrt(var + eps)


def _normalized_shape(op, normalized_shape):
    """``normalized_shape`` as a tuple of ints: a sequence of whole numbers (tuple, list,
    Size, 1-D array), or one whole number (Python's or NumPy's, as PyTorch's modules take)."""
    def whole(d):
        return not isinstance(d, (bool, np.bool_)) and hasattr(d, "__index__") and \
            np.ndim(d) == 0 and not isinstance(d, float)

    ns = normalized_shape
    if whole(ns) and not isinstance(ns, (Tensor, np.ndarray)):
        return (operator.index(ns),)
    dims = tuple(ns) if np.ndim(ns) == 1 or isinstance(ns, (tuple, list)) else None
    if dims is None or not all(whole(d) for d in dims):
        raise TypeError(f"{op}: normalized_shape must be a whole number or a tuple of whole "
                        f"numbers (the sizes of the input's last dimensions), got "
                        f"{normalized_shape!r}")
    if not dims:
        raise ShapeError(f"{op}: normalized_shape must name at least one dimension, got ()")
    return tuple(operator.index(d) for d in dims)


def _check_affine(op, weight, bias, want, of):
    """``weight`` and ``bias`` of exactly shape ``want`` (PyTorch refuses others): CS231n's
    gamma of shape (1, C, 1, 1) or (1, D) would otherwise broadcast, or reshape, silently."""
    for name, t in (("weight", weight), ("bias", bias)):
        got = tuple(getattr(t, "shape", ()))
        if t is not None and got != want:
            fix = (f"; pass {name}.reshape({', '.join(map(str, want))})"
                   if math.prod(got) == math.prod(want) else "")
            raise ShapeError(f"{op}: {name} must have shape {want} ({of}), got {got}{fix}")


def _renorm_rows(weight, idx, max_norm, norm_type):
    """PyTorch's embedding_renorm_: the rows at ``idx`` whose ``norm_type``-norm exceeds
    ``max_norm`` are scaled in place (no gradient) to norm ``max_norm``."""
    w = weight.numpy()
    rows = np.unique(idx)
    norms = np.linalg.norm(w[rows], ord=float(norm_type), axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer indices ``input``.

    As in PyTorch: the row at ``padding_idx`` gets no gradient; ``max_norm`` first
    rescales, in place, the looked-up rows whose ``norm_type``-norm exceeds it;
    ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``."""
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype != np.int64 and idx.dtype != np.int32:     # PyTorch's Long or Int only
        kind = "int64 or int32" if idx.dtype.kind in "iu" else "integers"
        raise DtypeError(f"embedding: indices must be {kind} (PyTorch's Long or Int), got "
                         f"dtype {idx.dtype}; convert with .long() / .astype('int64')")
    if sparse:
        raise NotImplementedError("embedding: sparse=True (a sparse gradient) is not "
                                  "supported; use sparse=False: the gradient is a dense array")
    n = weight.shape[0]
    if padding_idx is not None and not -n <= padding_idx < n:   # 5 % 3 wrapped to row 2
        raise ArgumentError(f"embedding: padding_idx must be within num_embeddings ({n}): "
                            f"-{n}..{n - 1}, got {padding_idx}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {bad} is out of range: indices from {idx.min()} "
                         f"to {idx.max()} for {n} embeddings; valid indices are 0..{n - 1}"
                         + ("; negative indices do not count from the end here (as in "
                            "PyTorch)" if bad < 0 else
                            f"; index {bad} needs num_embeddings >= {bad + 1} (the "
                            f"vocabulary size, special tokens included): nn.Embedding("
                            f"{bad + 1}, {weight.shape[-1]})"))
    if max_norm is not None and idx.size:
        _renorm_rows(weight, idx, max_norm, norm_type)
    out = weight[idx]
    if scale_grad_by_freq and idx.size:
        uniq, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
        scale = (1.0 / counts)[inverse.reshape(idx.shape)][..., None].astype(out.dtype)
        fixed = out.detach()
        out = fixed + (out - fixed) * scale     # the same values; gradient times 1 / count
    if padding_idx is not None:
        keep = (idx != padding_idx % n)[..., None]
        out = ops.where(keep, out, weight.detach()[idx])
    return out


# --- losses -----------------------------------------------------------------------------

def _reduce(el, reduction, **roles):
    """The loss ``el`` reduced; ``roles`` name its data tensors (``target=t``) for drawings
    and explanations (:func:`zeroin.function.mark_roles`)."""
    if reduction == "mean":
        out = el.mean()
    elif reduction == "sum":
        out = el.sum()
    else:
        out = el
    return mark_roles(out, **roles) if roles else out


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):  # noqa: A002
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target.
    ``weight`` (input's shape) multiplies each element's loss; the mean stays over the
    count of elements (PyTorch's, unlike mse_loss's division by sum(weight))."""
    from .functional import _prepare, _check_reduction, _elementwise_weight
    if weight is not None:
        _check_reduction("huber_loss", reduction)
        el = huber_loss(input, target, "none", delta)
        return _elementwise_weight("huber_loss", el, input, weight, reduction, False)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}")
    x, t = _prepare("huber_loss", input, target, reduction)
    d = x - t
    a = ops.abs(d)
    el = ops.where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _reduce(el, reduction, target=t)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
                   beta=1.0):
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta (L1 for beta = 0). PyTorch's
    order of arguments, the deprecated size_average and reduce included."""
    from .functional import _legacy_reduction, _prepare
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}")
    x, t = _prepare("smooth_l1_loss", input, target, reduction)
    d = x - t
    a = ops.abs(d)
    if beta == 0:
        return _reduce(a, reduction, target=t)
    el = ops.where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta)
    return _reduce(el, reduction, target=t)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """KL(target || p) summed elementwise, with ``input`` = log p (log-probabilities):
    target * (log target - input) (0 where target is 0). ``reduction='batchmean'`` divides
    the sum by the batch size (the true KL divergence per sample); 'mean' divides by the
    number of elements, as PyTorch (whose argument order this is, size_average and reduce
    included). 'mean' warns, as PyTorch's: it is not the KL divergence."""
    from .functional import _legacy_reduction
    legacy = size_average is not None or reduce is not None
    reduction = _legacy_reduction(size_average, reduce, reduction)
    out = _kl_div(input, target, reduction, log_target)
    if reduction == "mean" and not legacy:
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning,
                      stacklevel=_user_stacklevel())
    return out


def _kl_div(input, target, reduction, log_target):  # noqa: A002
    """:func:`kl_div` without the warning: ``torch.kl_div`` (ATen's) gives none."""
    from .functional import _prepare
    x, t = _prepare("kl_div", input, target, reduction, ("mean", "sum", "none", "batchmean"))
    roles = dict(target=t)
    if log_target:
        el = ops.exp(t) * (t - x)
    else:
        td = t.data
        if td.size and td.min() < 0:
            raise ValueError(f"kl_div: target must hold probabilities (>= 0), got a minimum "
                             f"of {td.min():g}; for log-probabilities pass log_target=True")
        pos = td > 0
        logt = _leaf(np.log(np.where(pos, td, 1.0)))
        roles.update(log_target=logt)
        el = ops.where(pos, t * (logt - x), x * 0.0)
        if t.requires_grad:
            el = ops.where(pos, t * (ops.log(ops.where(pos, t, 1.0)) - x), x * 0.0)
    if reduction == "batchmean":
        return mark_roles(el.sum() * (1.0 / x.shape[0]) if x.ndim else el.sum(), **roles)
    return _reduce(el, reduction, **roles)
