"""More of PyTorch's losses, composed from existing differentiable ops: ranking and
embedding losses (margin ranking, triplet, cosine embedding, hinge embedding), margin
classification losses (soft margin, multi-label soft margin, multi margin) and the
Gaussian and Poisson negative log-likelihoods. Exported through
:mod:`zeroin.nn.functional`; shapes are checked, never broadcast by mistake.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..errors import DtypeError
from ..function import ShapeError
from ._composed import _reduce
from ._more import pairwise_distance

__all__ = ["margin_ranking_loss", "triplet_margin_loss", "cosine_embedding_loss",
           "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "multi_margin_loss", "multilabel_margin_loss", "gaussian_nll_loss",
           "triplet_margin_with_distance_loss",
           "poisson_nll_loss"]


def _start(op, input, target, size_average, reduce, reduction):  # noqa: A002
    """(input, target) of one shape and the reduction, checked as the other losses."""
    from .functional import _legacy_reduction, _prepare
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, t = _prepare(op, input, target, reduction)
    return x, t, reduction


def _same(op, names, *xs):
    shapes = [tuple(x.shape) for x in xs]
    if len(set(shapes)) > 1:
        got = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ShapeError(f"{op}: {', '.join(names)} must have the same shape, got {got}; "
                         f"one value per element, reshape them to match (they are not "
                         f"broadcast)")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,  # noqa: E501
                        reduction="mean"):
    """max(0, -target (input1 - input2) + margin): target 1 says input1 should rank
    higher, -1 lower."""
    from .functional import _tensor_arg
    op = "margin_ranking_loss"
    x2 = _tensor_arg(input2, op, "input2")
    _same(op, ("input1", "input2", "target"), _tensor_arg(input1, op, "input1"), x2,
          _tensor_arg(target, op, "target"))
    x1, t, reduction = _start(op, input1, target, size_average, reduce, reduction)
    return _reduce(ops.clip(-(t * (x1 - x2)) + margin, min=0), reduction, target=t)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """x where target is 1, max(0, margin - x) where target is -1 (PyTorch's formula)."""
    x, t, reduction = _start("hinge_embedding_loss", input, target, size_average, reduce,
                             reduction)
    td = t.data
    el = ops.where(td != 1, ops.clip(margin - x, min=0), 0.0) + ops.where(td != -1, x, 0.0)
    return _reduce(el, reduction, target=t)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):  # noqa: A002
    """log(1 + exp(-target x)), targets 1 or -1."""
    x, t, reduction = _start("soft_margin_loss", input, target, size_average, reduce,
                             reduction)
    return _reduce(ops.softplus(-(t * x)), reduction, target=t)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                                reduction="mean"):
    """Per sample, the mean over classes of -(t log sigmoid(x) + (1 - t) log sigmoid(-x))
    (``weight`` per class); input and target (N, C)."""
    op = "multilabel_soft_margin_loss"
    x, t, reduction = _start(op, input, target, size_average, reduce, reduction)
    if not x.ndim:
        raise ShapeError(f"{op}: input must be (N, C) or (C,), got a 0-d tensor")
    ls = _prim().logsigmoid
    el = -(t * ls(x) + (1 - t) * ls(-x))
    roles = dict(target=t)
    if weight is not None:
        from .functional import _tensor_arg
        roles.update(weight=_tensor_arg(weight, op, "weight"))
        el = el * roles["weight"]
    return _reduce(el.sum(axis=-1) * (1.0 / x.shape[-1]), reduction, **roles)


def _prim():
    from .. import _torch_ops
    return _torch_ops


def _class_target(op, x, target):
    """Integer labels (N,) for input (N, C) (or one label, 0-d, for input (C,))."""
    from .functional import _labels
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if x.ndim == 1:
        if y.shape not in ((), (1,)):
            raise ShapeError(f"{op}: an input of shape {x.shape} (one sample) needs one "
                             f"label (a 0-d target), got shape {y.shape}")
        return x.reshape(1, -1), _labels(op, y.reshape(1), 1, x.shape[0]), ()
    if x.ndim != 2:
        raise ShapeError(f"{op}: input must be (N, C) or (C,), got shape {x.shape}")
    return x, _labels(op, y, x.shape[0], x.shape[1]), (x.shape[0],)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,  # noqa: A002
                      reduce=None, reduction="mean"):
    """Per sample, sum over classes i != y of max(0, margin - x[y] + x[i])**p / C (times
    ``weight[y]``); input (N, C), integer labels (N,); p is 1 or 2. The / C is PyTorch's:
    CS231n's ``svm_loss`` (and its gradient) is C times the mean."""
    from .functional import _legacy_reduction, _check_reduction, _tensor_arg
    from ._classes import _class_weight
    op = "multi_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if p not in (1, 2):
        raise ValueError(f"{op}: p must be 1 or 2, got {p!r}")
    x = _tensor_arg(input, op)
    rows, y, out_shape = _class_target(op, x, target)
    n, c = rows.shape
    xy = rows[np.arange(n), y].reshape(n, 1)
    h = ops.relu(rows - xy + margin)     # gradient 0 where the margin is exactly met (PyTorch)
    h = h * h if p == 2 else h
    other = np.arange(c)[None, :] != y[:, None]
    el = ops.where(other, h, 0.0).sum(axis=1) * (1.0 / c)
    roles = {}
    if weight is not None:
        w = _class_weight(op, weight, c, rows.dtype, strict=True)   # its dtype, as PyTorch
        roles.update(label_weight=_leaf(w[y]))
        el = el * roles["label_weight"]
    return _reduce(el.reshape(out_shape), reduction, **roles)


def _multilabel_targets(op, x, target):
    """The (N, C) label lists of multilabel_margin_loss, checked: integer class indices in
    0..C-1, each row's list ending at its first -1. Returns the rows and labels (N, C), which
    positions are listed (before the first -1) and the output shape."""
    from .functional import LabelError
    y = np.asarray(target.data if isinstance(target, Tensor) else target)
    if y.dtype.kind not in "iu":
        raise DtypeError(f"{op}: target must hold integer class indices (int64), got "
                         f"{y.dtype}; pass y.long(), each sample's classes ended by -1")
    if x.ndim not in (1, 2) or y.shape != tuple(x.shape):
        raise ShapeError(f"{op}: input must be (N, C) or (C,) and target the same shape (the "
                         f"labels of each sample, padded with -1), got input {tuple(x.shape)} "
                         f"and target {y.shape}")
    c = x.shape[-1]
    bad = (y < -1) | (y >= c)
    if bad.any():
        raise LabelError(f"{op}: target holds {y[bad].flat[0]}, outside -1..{c - 1}; labels "
                         f"are class indices below C = {c}, and -1 ends each row's list")
    rows, y = (x.reshape(1, -1), y.reshape(1, -1)) if x.ndim == 1 else (x, y)
    listed = np.cumprod(y != -1, axis=1).astype(bool)
    return rows, np.where(listed, y, 0), listed, tuple(x.shape[:-1])


def multilabel_margin_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                           reduction="mean"):
    """Per sample, the sum over its labels j and the classes i it lacks of
    max(0, 1 - (x[j] - x[i])), divided by C. ``target`` (N, C) lists each sample's labels,
    ended by -1 (``[3, 0, -1, 1]`` means classes 3 and 0)."""
    from .functional import _check_reduction, _legacy_reduction, _tensor_arg
    op = "multilabel_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    x = _tensor_arg(input, op)
    rows, y, listed, out_shape = _multilabel_targets(op, x, target)
    n, c = rows.shape
    has = np.zeros((n, c), bool)
    has[np.nonzero(listed)[0], y[listed]] = True                  # the labels of each row
    xj = rows[np.arange(n)[:, None], y]                           # (N, C): x at each label
    h = ops.relu(1.0 - xj.reshape(n, c, 1) + rows.reshape(n, 1, c))   # [label j, class i]
    pairs = listed[:, :, None] & ~has[:, None, :]
    el = ops.where(pairs, h, 0.0).sum(axis=(1, 2)) * (1.0 / c)
    return _reduce(el.reshape(out_shape), reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with d the pairwise p-norm distance; ``swap``
    uses min(d(a, n), d(p, n)). Inputs (N, D) or (D,)."""
    from .functional import _legacy_reduction, _check_reduction, _tensor_arg
    op = "triplet_margin_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    a, pos, neg = (_tensor_arg(v, op, w) for v, w in ((anchor, "anchor"),
                                                       (positive, "positive"),
                                                       (negative, "negative")))
    _same(op, ("anchor", "positive", "negative"), a, pos, neg)
    if a.ndim not in (1, 2):
        raise ShapeError(f"{op}: inputs must be (N, D) or (D,), got shape {a.shape}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(ops.clip(d_pos - d_neg + margin, min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """max(0, d(a, p) - d(a, n) + margin) with any distance ``d`` (a function of two
    tensors giving one distance per sample; pairwise_distance by default)."""
    from .functional import _check_reduction, _tensor_arg
    op = "triplet_margin_with_distance_loss"
    _check_reduction(op, reduction)
    if not margin > 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin!r}")
    a, pos, neg = (_tensor_arg(v, op, w) for v, w in ((anchor, "anchor"),
                                                       (positive, "positive"),
                                                       (negative, "negative")))
    if not (a.ndim == pos.ndim == neg.ndim) or a.ndim not in (1, 2):
        raise ShapeError(f"{op}: anchor, positive and negative must all be (N, D) or all "
                         f"(D,), got shapes {tuple(a.shape)}, {tuple(pos.shape)} and "
                         f"{tuple(neg.shape)}")
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = dist(a, pos), dist(a, neg)
    if swap:
        d_neg = ops.minimum(d_neg, dist(pos, neg))
    return _reduce(ops.clip(d_pos - d_neg + margin, min=0), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None,
                          reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1;
    inputs (N, D) with target (N,), or (D,) with a 0-d target."""
    from .functional import _legacy_reduction, _check_reduction, _target, _tensor_arg
    op = "cosine_embedding_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    x1, x2 = _tensor_arg(input1, op, "input1"), _tensor_arg(input2, op, "input2")
    _same(op, ("input1", "input2"), x1, x2)
    t = _target(op, target, x1)
    if x1.ndim not in (1, 2) or t.shape != x1.shape[:-1]:
        raise ShapeError(f"{op}: expected input1 and input2 (N, D) with target (N,), or "
                         f"(D,) with a 0-d target; got inputs {x1.shape} and target "
                         f"{t.shape}")
    d = x1.ndim - 1
    eps = 1e-12                                         # PyTorch's EPSILON
    denom = ops.sqrt(((x1 * x1).sum(axis=d) + eps) * ((x2 * x2).sum(axis=d) + eps))
    cos = (x1 * x2).sum(axis=d) / denom
    td = t.data
    el = ops.where(td == 1, 1 - cos, 0.0) + ops.where(td == -1, ops.clip(cos - margin, min=0),
                                                      0.0)
    return _reduce(el, reduction, target=t)


def _gaussian_var(op, x, var):
    """``var`` fitted to the input's shape by PyTorch's rules."""
    if isinstance(var, (float, int)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError(f"{op}: var must be >= 0, got {var!r}")
        return _leaf(np.full(x.shape, var, dtype=x.dtype))
    from .functional import _target
    v = _target(op, var, x)
    if v.data.size and v.data.min() < 0:
        raise ValueError(f"{op}: var has negative entries (minimum {v.data.min():g}); it "
                         f"is a variance, >= 0 (e.g. softplus of the model's output)")
    if v.shape == x.shape:
        return v
    if v.shape == x.shape[:-1]:
        return v.unsqueeze(-1)                          # one variance per sample
    if v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape) if a != b) == 1:
        return v                                        # a dimension of size 1, shared
    raise ShapeError(f"{op}: var of shape {v.shape} does not fit input of shape {x.shape}; "
                     f"give the input's shape, the input's shape without its last dimension "
                     f"({x.shape[:-1]}), or the input's shape with one dimension of size 1")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):  # noqa: A002
    """0.5 (log(max(var, eps)) + (input - target)**2 / max(var, eps)) (+ 0.5 log(2 pi)
    with ``full``); the clamp passes the gradient through, as PyTorch's."""
    op = "gaussian_nll_loss"
    x, t, reduction = _start(op, input, target, None, None, reduction)
    v = _gaussian_var(op, x, var)
    if v.requires_grad:
        clamp = _leaf(np.maximum(v.data, eps) - v.data)
        roles = dict(target=t, var_clamp=clamp)
        v = v + clamp                                   # clamped value, gradient as is
    else:
        v = _leaf(np.maximum(v.data, eps))              # PyTorch's value: max(var, eps)
        roles = dict(target=t, var=v)
    d = x - t
    roles.update(log_var=ops.log(v))        # named where it is data (var needs no grad)
    el = (roles["log_var"] + d * d / v) * 0.5
    if full:
        el = el + 0.5 * math.log(2 * math.pi)
    return _reduce(el, reduction, **roles)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None,  # noqa: A002
                     eps=1e-8, reduce=None, reduction="mean"):
    """exp(input) - target input (``log_input``), else input - target log(input + eps);
    ``full`` adds Stirling's approximation of log(target!) where target > 1."""
    x, t, reduction = _start("poisson_nll_loss", input, target, size_average, reduce,
                             reduction)
    el = ops.exp(x) - t * x if log_input else x - t * ops.log(x + eps)
    if full:
        td = t.data
        big = td > 1
        safe = ops.where(big, t, 1.0)
        stirling = safe * ops.log(safe) - safe + 0.5 * ops.log(2 * math.pi * safe)
        el = el + ops.where(big, stirling, 0.0)
    return _reduce(el, reduction, target=t)
