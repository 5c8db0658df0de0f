"""More of PyTorch's layer functions, composed from existing differentiable ops where they
can be (PReLU, RReLU and the shrink functions have an op each, as PyTorch's kernels):
distances, shrink/threshold activations, PReLU, instance and RMS norm, pixel shuffling and
the bilinear form. Exported through :mod:`zeroin.nn.functional`.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _torch_ops as _prim, ops
from .._tensor import Tensor, _leaf
from ..anomaly import not_replayable
from ..errors import ArgumentError, DtypeError, InvalidValueError
from ..function import Function, OpName, ShapeError
from ..ops import op
from .._torch_rng import refuse
from ..random import get_rng, torch_stream
from ._composed import _check_affine, _normalize, _normalized_shape, _t
from ._composed import embedding as ops_embedding

__all__ = ["cosine_similarity", "pairwise_distance", "prelu", "softshrink", "hardshrink",
           "threshold", "instance_norm", "rms_norm", "pixel_shuffle", "pixel_unshuffle",
           "bilinear", "channel_shuffle", "dropout1d", "adaptive_max_pool1d", "rrelu",
           "gumbel_softmax", "embedding_bag", "local_response_norm", "max_unpool1d",
           "max_unpool2d", "alpha_dropout", "feature_alpha_dropout", "max_unpool3d",
           "dropout3d"]


def _valued_as(x, value):
    """``x``'s gradient with ``value``'s values (PyTorch's in-place clamp under no_grad)."""
    return x + _leaf(np.asarray(value - x.data, dtype=x.dtype))


def _broadcast(op, a, b):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{op}: x1 of shape {a.shape} and x2 of shape {b.shape} do not "
                         f"broadcast; give them the same shape (or sizes of 1 where one "
                         f"is repeated)") from None


# --- distances ----------------------------------------------------------------------------

def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` (x1 and x2
    broadcast); each vector is divided by its norm first, as PyTorch does."""
    a, b = _t(x1, "cosine_similarity"), _t(x2, "cosine_similarity")
    dt = ops.result_type(a, b)      # PyTorch's common dtype, which must be floating point
    if dt.kind not in "fc":
        raise DtypeError(f"cosine_similarity: the inputs' common dtype must be floating "
                         f"point, got {a.dtype} and {b.dtype} (common {dt}), as PyTorch "
                         f"refuses; convert first: cosine_similarity(x1.float(), x2.float())")
    a, b = ops._cast(a, dt), ops._cast(b, dt)
    shape = _broadcast("cosine_similarity", a, b)
    if not -max(len(shape), 1) <= dim < max(len(shape), 1):     # 0-d: dim 0 or -1
        raise ShapeError(f"cosine_similarity: dim {dim} is out of range for inputs of "
                         f"shape {shape}")
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)   # then the norms
    out = None
    for v in (a, b):
        n = _prim.norm(v, 2, dim=dim, keepdim=True)     # gradient 0 where n is 0
        u = v / _valued_as(n, np.maximum(n.data, eps))
        out = u if out is None else out * u
    return out.sum(axis=dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of ``x1 - x2 + eps`` over the last dimension (PyTorch's formula)."""
    from .._torch_ops import norm
    a, b = _t(x1, "pairwise_distance"), _t(x2, "pairwise_distance")
    shape = _broadcast("pairwise_distance", a, b)
    if not shape:
        raise ShapeError("pairwise_distance: inputs must have at least one dimension, got "
                         "two 0-d tensors")
    return norm(a - b + eps, p, len(shape) - 1, keepdim)


# --- activations ----------------------------------------------------------------------------

def prelu(input, weight):  # noqa: A002
    """x where x > 0, else ``weight * x``; ``weight`` holds 1 value or one per channel
    (dimension 1; an input of fewer dimensions has 1 channel, as in PyTorch)."""
    x, w = _t(input, "prelu"), _t(weight, "prelu")
    ops.float_input("prelu", x)
    ops.same_dtypes("prelu", x, w)        # torch: "Type promoting not supported"
    if w.ndim > 1:
        raise ShapeError(f"prelu: weight must be 1-D (1 or num_channels values), got shape "
                         f"{w.shape}")
    c = w.shape[0] if w.ndim else 1
    if c != 1:
        if x.ndim < 2 or x.shape[1] != c:
            have = f"{x.shape[1]} channels" if x.ndim >= 2 else "no channel dimension (1 " \
                "channel)"
            raise ShapeError(f"prelu: weight has {c} values (one per channel, dimension 1), "
                             f"but the input of shape {x.shape} has {have}; build "
                             f"PReLU(num_parameters={x.shape[1] if x.ndim >= 2 else 1}) or "
                             f"PReLU() for one shared value")
        w = w.reshape((1, c) + (1,) * (x.ndim - 2))
    elif w.ndim:
        w = w.reshape(())
    return PReLUOp()(x, w)


class PReLUOp(Function):
    """x where x > 0, else w * x (w broadcast over x), PyTorch's ``_prelu_kernel``: its
    rule reads x through the mask (piecewise_linear), so u_xx of a PReLU network is 0."""
    __slots__ = ()
    piecewise_linear = True
    name = OpName("prelu", "PreluKernelBackward0")
    def forward(self, x, w): return np.where(x > 0, x, w * x)
    def backward(self, xp, g, out, x, w):
        pos = ops._raw(x) > 0
        neg = ~pos                  # x <= 0 or NaN: the slope's side, as in PyTorch
        return (ops._select(xp, g, pos) + ops._select(xp, g * w, neg),
                ops._select(xp, g * x, neg))


class RReLUOp(Function):
    """x * noise with a constant noise: 1 where x > 0, else the slope (PyTorch's
    ``rrelu_with_noise``; the gradient at x = 0 is the slope, as there)."""
    __slots__ = ("noise",)
    piecewise_linear = True
    name = OpName("rrelu", "RreluWithNoiseBackward0")
    def __init__(self, noise): self.noise = noise
    def forward(self, x): return x * self.noise
    def backward(self, xp, g, out, x): return g * self.noise


@op(RReLUOp, export=False)
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):  # noqa: A002
    """Randomized leaky ReLU: x where x > 0, else a * x, with a slope ``a`` drawn uniformly
    from [lower, upper] for each element in training (zeroin's generator) and the fixed
    (lower + upper) / 2 in evaluation."""
    return _rrelu(input, lower, upper, training)


def _rrelu(input, lower, upper, training, generator=None):  # noqa: A002
    """:func:`rrelu` with the slopes drawn from ``generator`` (``torch.rrelu``'s)."""
    x = _t(input, "rrelu")
    ops.float_input("rrelu", x)
    if not lower <= upper:
        raise _prim._ArgumentError(f"rrelu: lower ({lower}) must be at most upper ({upper}); "
                                   f"the slope is drawn from [lower, upper]")
    if training:
        rng = get_rng(generator, "rrelu")
        slope = rng.uniform(lower, upper, x.shape).astype(x.dtype, copy=False)
    else:
        slope = np.asarray((lower + upper) / 2, dtype=x.dtype)
    noise = np.where(x.data > 0, np.ones((), x.dtype), slope)
    return ops._call1(RReLUOp(noise), x)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A sample from the Gumbel-softmax distribution: softmax((logits + g) / tau) along
    ``dim`` with Gumbel(0, 1) noise g (zeroin's generator). With ``hard`` the result is
    one-hot at the largest entry, and its gradient is the soft sample's (straight-through).
    On the torch stream g is PyTorch's ``-empty_like(logits).exponential_().log()``."""
    x = _t(logits, "gumbel_softmax")
    if not tau > 0:
        raise ValueError(f"gumbel_softmax: tau must be > 0, got {tau!r}")
    d = ops._check_axis("gumbel_softmax", x, dim)
    stream = torch_stream()
    if stream is not None:
        if x.dtype not in (np.float32, np.float64):
            raise refuse(f"gumbel_softmax of a {x.dtype} tensor")
        noise = -np.log(stream.exponential(x.data.size, x.dtype).reshape(x.shape))
    else:
        noise = -np.log(get_rng().standard_exponential(x.shape))  # Gumbel(0, 1)
    y = ops.softmax((x + _leaf(noise.astype(x.dtype))) * (1.0 / tau), dim=d)
    if not hard:
        return y
    soft = y.data.copy()
    one = np.zeros_like(soft) if d is not None else np.ones_like(soft)
    if d is not None:
        np.put_along_axis(one, np.expand_dims(soft.argmax(axis=d), d), 1, axis=d)
    return y - _leaf(soft) + _leaf(one)


def _bags(op, idx, offsets, include_last_offset):
    """(flat indices, bag of each index, number of bags) of embedding_bag's input: rows of
    a 2-D input, or a 1-D input cut at ``offsets`` (each bag's first position)."""
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: a 2-D input is a batch of equal-length bags (one per "
                             f"row), so offsets must be None")
        return idx.reshape(-1), np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.shape[0]
    if idx.ndim != 1 or offsets is None:
        raise ValueError(f"{op}: input must be 2-D (bags of equal length), or 1-D with "
                         f"offsets (where each bag starts), got shape {idx.shape} and "
                         f"offsets {'None' if offsets is None else 'given'}")
    off = np.asarray(offsets.data if isinstance(offsets, Tensor) else offsets).reshape(-1)
    if off.dtype.kind not in "iu" or not off.size or off[0] != 0 or np.any(np.diff(off) < 0) \
            or off[-1] > idx.size:
        raise _prim._ArgumentError(
            f"{op}: offsets must be integers, start at 0 and not decrease up to the input "
            f"length {idx.size}, got {off.tolist()}")
    n = off.size - 1 if include_last_offset else off.size
    bag = np.searchsorted(off[:n], np.arange(idx.size), side="right") - 1
    return idx, bag, n


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,  # noqa: A002
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """The sum, mean or max of the embedding rows of each bag of indices, without the
    (bags, length, dim) array in between; entries equal to ``padding_idx`` are left out,
    an empty bag gives zeros. ``per_sample_weights`` scales each row (mode "sum" only)."""
    op = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{op}: per_sample_weights is only supported for "
                                  f"mode='sum' (got mode={mode!r}), as in PyTorch")
    m = weight.shape[0]
    if padding_idx is not None and not -m <= padding_idx < m:   # PyTorch's RuntimeError
        raise ArgumentError(f"{op}: padding_idx must be within num_embeddings ({m}): "
                            f"-{m}..{m - 1}, got {padding_idx}")
    idx = np.asarray(input.data if isinstance(input, Tensor) else input)
    flat, bag, n = _bags(op, idx, offsets, include_last_offset)
    rows = ops_embedding(flat, weight, max_norm=max_norm, norm_type=norm_type,
                         scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
    keep = np.ones(flat.shape, bool) if padding_idx is None else \
        flat != padding_idx % weight.shape[0]
    rows, bag = rows[np.nonzero(keep)[0]], bag[keep]
    dim = weight.shape[1]
    if mode == "max":
        pick = np.full((n, dim), -1)
        vals = rows.data
        for b in np.unique(bag):
            where = np.nonzero(bag == b)[0]
            pick[b] = where[vals[where].argmax(axis=0)]
        empty = pick[:, 0] < 0
        out = rows[np.where(empty[:, None], 0, pick), np.arange(dim)]
        return ops.where(empty[:, None], 0.0, out) if empty.any() else out
    if per_sample_weights is not None:
        w = _t(per_sample_weights, op)
        if tuple(w.shape) != idx.shape:
            raise ShapeError(f"{op}: per_sample_weights must have the input's shape "
                             f"{idx.shape}, got {tuple(w.shape)}")
        rows = rows * w.reshape(-1)[np.nonzero(keep)[0]].reshape(-1, 1)
    total = ops.index_add(rows, bag, (n, dim))
    if mode == "sum":
        return total
    count = np.bincount(bag, minlength=n).astype(rows.dtype)
    return total * _leaf((1.0 / np.maximum(count, 1)).reshape(-1, 1))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):  # noqa: A002
    """x / (k + alpha * mean of x**2 over ``size`` neighbouring channels) ** beta, on
    (N, C, *) input (AlexNet's normalisation; channels beyond the edges count as 0)."""
    x = _t(input, "local_response_norm")
    if x.ndim < 3:
        raise ShapeError(f"local_response_norm: expected an (N, C, *) input of 3 or more "
                         f"dimensions, got shape {tuple(x.shape)}")
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"local_response_norm: size must be a whole number >= 1, got {size!r}")
    c = x.shape[1]
    sq = (x * x).movedim(1, -1)                          # channels last, for pad
    padded = _prim.pad(sq, (size // 2, (size - 1) // 2)).movedim(-1, 1)
    total = padded[:, 0:c]
    for i in range(1, size):
        total = total + padded[:, i:i + c]
    return x / (total * (alpha / size) + k) ** beta


def _unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):  # noqa: A002
    """max_unpool1d/2d: the values of ``input`` placed at the flat ``indices`` (of each
    (N, C) plane) that max_pool returned, zeros elsewhere."""
    x = _t(input, op)
    idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
    def tup(v):
        return tuple(int(a) for a in v) if isinstance(v, (tuple, list)) else (int(v),) * nd
    ks, pd = tup(kernel_size), tup(padding)
    st = tup(stride if stride is not None else kernel_size)
    if x.ndim not in (nd + 1, nd + 2) or idx.shape != tuple(x.shape):
        dims = {1: "L", 2: "H, W", 3: "D, H, W"}[nd]
        raise ShapeError(f"{op}: input must be (N, C, {dims}) or "
                         f"unbatched, with indices of the same shape, got input "
                         f"{tuple(x.shape)} and indices {idx.shape}")
    if idx.dtype.kind not in "iu":
        raise DtypeError(f"{op}: indices must be integers (max_pool's return_indices), got "
                         f"{idx.dtype}")
    batched = x.ndim == nd + 2
    xb, ib = (x, idx) if batched else (x.unsqueeze(0), idx[None])
    size = tuple((xb.shape[2 + i] - 1) * st[i] - 2 * pd[i] + ks[i] for i in range(nd))
    if output_size is not None:
        size = tuple(int(v) for v in tuple(output_size)[-nd:])
    plane = int(np.prod(size))
    if ib.size and (ib.min() < 0 or ib.max() >= plane):
        raise ShapeError(f"{op}: index {ib.max() if ib.max() >= plane else ib.min()} is out "
                         f"of range for an output of size {size} ({plane} positions); give "
                         f"max_pool's own indices, or output_size")
    n, ch = xb.shape[:2]
    where = (np.arange(n).reshape(n, 1, 1), np.arange(ch).reshape(1, ch, 1),
             ib.reshape(n, ch, -1))
    zeros = _leaf(np.zeros((n, ch, plane), dtype=x.dtype))     # written, not added: a
    out = ops.index_put(zeros, where, xb.reshape(n, ch, -1))   # max two windows share
    out = out.reshape((n, ch) + size)
    return out if batched else out.squeeze(0)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The inverse of max_pool1d: values back at the positions of their maxima."""
    return _unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                   output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The inverse of max_pool2d: values back at the positions of their maxima."""
    return _unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                   output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The inverse of max_pool3d: values back at the positions of their maxima."""
    return _unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding,
                   output_size)


def _outside(d, lambd):
    """Where the shrink functions pass x: not in [-lambd, lambd] (NaN too, as PyTorch)."""
    return ~((d >= -lambd) & (d <= lambd))


def _float_shrink(input, op):  # noqa: A002
    x = _t(input, op)
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for dtype {x.dtype}, as in PyTorch; "
                                  f"the input must be floating point: {op}(x.float(), ...)")
    return x


class _ShrinkOp(Function):
    """softshrink, hardshrink, threshold: PyTorch's kernels, whose rules pass g where x
    passes and read x only through that mask (piecewise_linear: a further derivative is
    zeros tied to x, as PyTorch's, not "does not require grad")."""
    __slots__ = ("lambd", "value")
    piecewise_linear = True
    def __init__(self, lambd, value=0.0): self.lambd, self.value = lambd, value
    def keep(self, x): return _outside(x, self.lambd)
    def backward(self, xp, g, out, x): return ops._select(xp, g, self.keep(ops._raw(x)))


class SoftshrinkOp(_ShrinkOp):
    __slots__ = ()
    name = OpName("softshrink", "SoftshrinkBackward0")
    def forward(self, x):   # 0 inside [-lambd, lambd]; NaN passes, as in PyTorch
        lam = self.lambd
        return np.where(_outside(x, lam), np.where(x > lam, x - lam, x + lam), 0.0)


class HardshrinkOp(_ShrinkOp):
    __slots__ = ()
    name = OpName("hardshrink", "HardshrinkBackward0")
    def forward(self, x): return np.where(_outside(x, self.lambd), x, 0.0)


class ThresholdOp(_ShrinkOp):
    __slots__ = ()
    name = OpName("threshold", "ThresholdBackward0")
    def keep(self, x): return ~(x <= self.lambd)    # NaN passes (value only where x <= t)
    def forward(self, x): return np.where(self.keep(x), x, self.value)


def softshrink(input, lambd=0.5):  # noqa: A002
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    x = _float_shrink(input, "softshrink")
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd!r}")
    return SoftshrinkOp(lambd)(x)


def hardshrink(input, lambd=0.5):  # noqa: A002
    """x where |x| > lambd, else 0."""
    return HardshrinkOp(lambd)(_float_shrink(input, "hardshrink"))


def threshold(input, threshold, value, inplace=False):  # noqa: A002
    """x where x > threshold, else ``value`` (a new tensor even with ``inplace``); NaN
    passes, as in PyTorch (``value`` only where x <= threshold)."""
    x = _t(input, "threshold")
    ops.no_bool("threshold", x)
    if x.dtype.kind in "iu":        # both cast to x's dtype (toward 0), as PyTorch's kernel
        info = np.iinfo(x.dtype)
        for name, v in (("threshold", threshold), ("value", value)):
            if not info.min <= v <= info.max:
                raise InvalidValueError(f"threshold: {name} {v} cannot be converted to "
                                        f"{x.dtype} without overflow, as in PyTorch; use "
                                        f"x.long() or a {name} in [{info.min}, {info.max}]")
        threshold, value = int(threshold), int(value)
        return ops.where(~(x.data <= threshold), x, np.array(value, x.dtype))
    return ThresholdOp(threshold, float(value))(x)


# --- normalisation ----------------------------------------------------------------------------

def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample over its spatial dimensions (input (N, C, *));
    ``running_mean``/``running_var`` (C,) are updated in place with the batch's average of
    the instances' statistics, or used instead of them when ``use_input_stats`` is False."""
    x = _t(input, "instance_norm")
    if x.ndim < 3:
        raise ShapeError(f"instance_norm: expected input (N, C, *) with at least one spatial "
                         f"dimension, such as (N, C, L), got shape {x.shape}")
    n, c = x.shape[:2]
    cshape = (1, c) + (1,) * (x.ndim - 2)
    axes = tuple(range(2, x.ndim))
    if use_input_stats:
        m = int(np.prod(x.shape[2:]))
        if m < 2:           # PyTorch refuses it too: the output would be the bias alone
            raise ValueError(f"instance_norm: expected more than 1 spatial element when "
                             f"training, got input of shape {x.shape}; each (sample, "
                             f"channel) would be normalised to 0. Drop the norm at this "
                             f"layer (pix2pix's innermost U-Net block has none), downsample "
                             f"less, or use eval() with track_running_stats=True")
        y = _normalize(x, axes, eps)
        if running_mean is not None:
            not_replayable("instance_norm updates its running statistics in place")
            d = x.data
            mean = d.mean(axis=axes)
            var = d.var(axis=axes, ddof=0) * (m / (m - 1))
            for buf, batch in ((running_mean, mean), (running_var, var)):
                arr = buf.numpy() if isinstance(buf, Tensor) else buf
                arr *= 1 - momentum
                arr += (momentum * batch.mean(axis=0)).astype(arr.dtype)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and "
                             "running_var")
        rm, rv = (np.asarray(getattr(r, "data", r)).reshape(cshape).astype(x.dtype)
                  for r in (running_mean, running_var))
        y = (x - _leaf(rm)) * _leaf(1.0 / np.sqrt(rv + eps))
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y


def rms_norm(input, normalized_shape, weight=None, eps=None):  # noqa: A002
    """x / sqrt(mean(x**2) + eps) over the last ``len(normalized_shape)`` dimensions, times
    ``weight``; ``eps`` None is the dtype's machine epsilon (PyTorch's default)."""
    x = _t(input, "rms_norm")
    shape = _normalized_shape("rms_norm", normalized_shape)
    k = len(shape)
    if x.ndim < k or tuple(x.shape[x.ndim - k:]) != shape:
        raise ShapeError(f"rms_norm: normalized_shape {shape} must equal the last "
                         f"dimensions of the input, got input of shape {x.shape}")
    _check_affine("rms_norm", weight, None, shape, "normalized_shape")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    ms = (x * x).mean(axis=tuple(range(x.ndim - k, x.ndim)), keepdims=True)
    y = x * _prim.rsqrt(ms + eps)
    return y * weight if weight is not None else y


# --- pixel shuffling ----------------------------------------------------------------------------

def _factor(op, what, r):
    if isinstance(r, bool) or not isinstance(r, numbers.Integral) or r < 1:
        raise ValueError(f"{op}: {what} must be a positive integer, got {r!r}")
    return int(r)


def pixel_shuffle(input, upscale_factor):  # noqa: A002
    """(*, C r**2, H, W) -> (*, C, H r, W r): channels become r x r blocks of pixels."""
    x, r = _t(input, "pixel_shuffle"), _factor("pixel_shuffle", "upscale_factor",
                                                upscale_factor)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expected input (*, C * {r}**2, H, W), channels "
                         f"divisible by {r * r}, got shape {x.shape}")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):  # noqa: A002
    """(*, C, H r, W r) -> (*, C r**2, H, W), the inverse of :func:`pixel_shuffle`."""
    x, r = _t(input, "pixel_unshuffle"), _factor("pixel_unshuffle", "downscale_factor",
                                                  downscale_factor)
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: expected input (*, C, H, W) with H and W "
                         f"divisible by {r}, got shape {x.shape}")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


# --- bilinear -------------------------------------------------------------------------------------

def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = sum_ij x1[..., i] weight[o, i, j] x2[..., j] + bias[o]."""
    from .._torch_ops import einsum
    a, b, w = (_t(v, "bilinear") for v in (input1, input2, weight))
    if w.ndim != 3 or not a.ndim or a.shape[:-1] != b.shape[:-1] or \
            a.shape[-1] != w.shape[1] or b.shape[-1] != w.shape[2]:
        raise ShapeError(f"bilinear: expected input1 (*, {w.shape[1] if w.ndim == 3 else 'in1'})"
                         f" and input2 (*, {w.shape[2] if w.ndim == 3 else 'in2'}) with the same"
                         f" leading dimensions and weight (out, in1, in2); got {a.shape}, "
                         f"{b.shape} and {w.shape}")
    lead = a.shape[:-1]
    y = einsum("bi,oij,bj->bo", a.reshape(-1, a.shape[-1]), w, b.reshape(-1, b.shape[-1]))
    if bias is not None:
        y = y + bias
    return y.reshape(*lead, w.shape[0])



def channel_shuffle(input, groups):  # noqa: A002
    """(N, C, *) with C = g k: channel i g' + j goes to j k + i (ShuffleNet's shuffle)."""
    x = _t(input, "channel_shuffle")
    g = _factor("channel_shuffle", "groups", groups)
    if x.ndim < 3 or x.shape[1] % g:
        raise ShapeError(f"channel_shuffle: expected input (N, C, *) with C divisible by "
                         f"groups={g}, got shape {x.shape}")
    n, c, *rest = x.shape
    return x.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, L) or (C, L) with probability ``p`` in training (the
    rest scaled by 1/(1-p)); ``inplace`` is accepted and ignored (a new tensor)."""
    from ._conv import dropout2d
    x = _t(input, "dropout1d")
    if x.ndim not in (2, 3):
        raise ShapeError(f"dropout1d: expected a 2-D (C, L) or 3-D (N, C, L) input, got "
                         f"shape {x.shape}")
    if x.ndim == 2:     # as 4-D (N, C, L, 1): dropout2d's 3-D input warns, as PyTorch's
        return dropout2d(x.unsqueeze(0).unsqueeze(-1), p, training)[0, ..., 0]
    return dropout2d(x.unsqueeze(-1), p, training)[..., 0]


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p`` in
    training (the rest scaled by 1/(1-p)); ``inplace`` is accepted and ignored."""
    from ._conv import Dropout2dOp
    x = _t(input, "dropout3d")
    if x.ndim not in (4, 5):
        raise ShapeError(f"dropout3d: expected a 4-D (C, D, H, W) or 5-D (N, C, D, H, W) "
                         f"input, got shape {x.shape}")
    if not 0 <= p <= 1:
        raise ValueError(f"dropout3d: probability p must be between 0 and 1, got {p}")
    if not training or p == 0:
        return x
    from .functional import feature_dropout_mask
    shape = x.shape[:-3] + (1, 1, 1)        # PyTorch's noise (1, C, 1, 1, 1) for 4-D
    return Dropout2dOp(feature_dropout_mask(x.data, shape, p, "dropout3d"))(x)


_SELU_SAT = -1.0507009873554805 * 1.6732632423543772     # SELU's limit at -inf: -lambda alpha


class AlphaDropoutOp(Function):
    """x * scale + shift with constant arrays (alpha dropout's affine map of the kept and
    the dropped elements); the gradient is g * scale."""
    __slots__ = ("scale", "shift")
    name = OpName("alpha_dropout", "AddBackward0")
    def __init__(self, scale, shift): self.scale, self.shift = scale, shift
    def forward(self, x): return x * self.scale + self.shift
    def backward(self, xp, g, out, x): return g * self.scale


def _alpha_dropout(name, input, p, training, feature):  # noqa: A002
    if not 0 <= p <= 1:
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    x = _t(input, name)
    if feature and x.ndim < 2:
        raise RuntimeError(f"{name}: feature dropout requires at least 2 dimensions in the "
                           f"input (N, C, *), got shape {x.shape}; for a vector use alpha_dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
    stream = torch_stream()
    if stream is not None:
        return AlphaDropoutOp(*_torch_alpha_noise(stream, x.data, shape, p, name))(x)
    keep = (get_rng().random(shape) >= p).astype(x.dtype)
    q = 1.0 - p
    a = (q + _SELU_SAT ** 2 * q * p) ** -0.5         # keeps mean 0 and variance 1
    b = -a * p * _SELU_SAT
    return AlphaDropoutOp(a * keep, (a * _SELU_SAT * (1 - keep) + b).astype(x.dtype))(x)


def _torch_alpha_noise(stream, x, shape, p, name):
    """PyTorch's CPU alpha dropout (Dropout.cpp): noise = bernoulli_(1 - p) (a fresh
    tensor of ``shape`` for the feature form, else like x), b = (noise - 1) * (alpha a)
    + alpha a p and noise * a, each step rounded in x's dtype; the result is x * noise + b."""
    from .functional import _torch_noise
    alpha = 1.7580993408473766
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    noise = _torch_noise(stream, x if shape == x.shape else np.empty(shape, x.dtype), p, name)
    t = x.dtype.type
    return noise * t(a), (noise - t(1)) * t(alpha * a) + t(alpha * a * p)


@op(AlphaDropoutOp, export=False)
def alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """Dropout for SELU networks: in training each element is set to SELU's saturation
    value -lambda*alpha with probability ``p``, then all are mapped by a*y + b, chosen so
    that inputs of mean 0 and variance 1 keep them. Identity when not training (PyTorch's
    default here is training=False); ``inplace`` is accepted and ignored."""
    return _alpha_dropout("alpha_dropout", input, p, training, False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """:func:`alpha_dropout` of whole channels: one draw per (sample, channel) of
    (N, C, *), shared over the other dimensions."""
    return _alpha_dropout("feature_alpha_dropout", input, p, training, True)


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling of (N, C, L) (or (C, L)) to length ``output_size``, PyTorch's windows;
    ``return_indices`` also gives the position in L of each maximum."""
    from ._conv import adaptive_max_pool2d
    x = _t(input, "adaptive_max_pool1d")
    if x.ndim not in (2, 3):
        raise ShapeError(f"adaptive_max_pool1d: expected a 2-D (C, L) or 3-D (N, C, L) "
                         f"input, got shape {x.shape}")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise ValueError(f"adaptive_max_pool1d: output_size must be an int or 1 int, "
                             f"got {output_size!r}")
        output_size = output_size[0]
    x4 = x.unsqueeze(-2) if x.ndim == 3 else x.unsqueeze(0).unsqueeze(-2)
    out = adaptive_max_pool2d(x4, (1, output_size), return_indices)
    y, idx = out if return_indices else (out, None)
    squeeze = (lambda t: t.squeeze(-2)) if x.ndim == 3 else (lambda t: t.squeeze(-2)[0])
    return (squeeze(y), squeeze(idx)) if return_indices else squeeze(y)
