"""Classification losses with PyTorch's options (class weights, ignore_index, label
smoothing, K-dimensional inputs, probability targets), composed from differentiable ops.

The plain cases (logits (N, C), integer labels, no options) stay the fused
``cross_entropy`` op in :mod:`zeroin.nn.functional`; these run for everything else.
"""
from __future__ import annotations

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..function import ShapeError, mark_roles


def _class_weight(op, weight, c, dtype, strict=False):
    """One weight per class as an array of ``dtype``; ``strict`` refuses a tensor of another
    dtype, as PyTorch's class-label losses do (probability targets promote instead)."""
    if weight is None:
        return np.ones(c, dtype=dtype)
    if strict and isinstance(weight, Tensor) and weight.dtype != dtype:
        from ..errors import DtypeError
        raise DtypeError(f"{op}: weight (dtype {weight.dtype}) must have the input's dtype "
                         f"{dtype}, as PyTorch requires; convert it: weight.to(input.dtype)")
    w = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if w.shape != (c,) or w.dtype.kind not in "iuf":
        raise ShapeError(f"{op}: weight must hold one number per class, shape ({c},), got "
                         f"shape {w.shape} dtype {w.dtype}")
    return w.astype(dtype)


def _to_rows(op, x, y):
    """(logits as (M, C), labels as (M,), shape of the 'none' result)."""
    if x.ndim == 1:
        if y.shape not in ((), (1,)):
            raise ShapeError(f"{op}: an input of shape {x.shape} (one sample) needs one "
                             f"label (a 0-d target), got shape {y.shape}")
        return x.reshape(1, -1), y.reshape(1), ()
    if x.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dimension, (N, C), got a 0-d tensor")
    want = (x.shape[0],) + tuple(x.shape[2:])
    if y.shape != want:
        if x.ndim == 2:
            from .functional import _labels
            _labels(op, y, x.shape[0], x.shape[1])  # its messages for (N, 1), one-hot...
        hint = ""
        if x.ndim == 3 and y.shape == x.shape[:2]:      # a sequence model's (B, T, vocab)
            hint = (f"; the classes are dimension 1 (N, C, ...): for logits with the classes "
                    f"last, (batch, tokens, classes), flatten both, {op}(logits.flatten(0, 1), "
                    f"target.flatten()), or pass logits.transpose(1, 2)")
        raise ShapeError(f"{op}: input of shape {x.shape} needs a target of shape {want} "
                         f"(one class index per position), got {y.shape}{hint}")
    if x.ndim > 2:
        x = ops.permute(x, 0, *range(2, x.ndim), 1).reshape(-1, x.shape[1])
    return x, y.reshape(-1), want


def class_loss(op, x, y, weight, ignore_index, reduction, label_smoothing,
               log_softmax_first):
    """Weighted negative log-likelihood of labels ``y``, PyTorch's formulas:
    l_i = w[y_i] (-logp[i, y_i]) (0 where y_i == ignore_index); with smoothing e,
    l_i = (1 - e) l_i + e / C sum_c w[c] (-logp[i, c]); 'mean' divides by sum_i w[y_i]."""
    from .functional import _labels
    # (N, C, d1, ...): log_softmax over C before making rows, where NumPy reduces across
    # whole planes (~2x faster for the step than over the short rows of (N d1 ..., C))
    spatial = log_softmax_first and x.ndim > 2
    rows, labels, out_shape = _to_rows(op, ops.log_softmax(x, 1) if spatial else x, y)
    m, c = rows.shape
    keep = labels != ignore_index
    labels = np.where(keep, labels, 0) if labels.dtype.kind in "iu" else labels
    labels = _labels(op, labels, m, c)
    logp = ops.log_softmax(rows, 1) if log_softmax_first and not spatial else rows
    w = _class_weight(op, weight, c, rows.dtype, strict=True)
    wy = w[labels] * keep
    roles = dict(label_weight=_leaf(wy))        # for drawings: the weight of each label
    loss = -logp[np.arange(m), labels] * roles["label_weight"]
    if label_smoothing:
        roles.update(weight=_leaf(w), kept=_leaf(keep.astype(rows.dtype)))
        smooth = -(logp * roles["weight"]).sum(axis=1) * roles["kept"]
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / c)
    if reduction == "none":
        return mark_roles(loss.reshape(out_shape), **roles)
    total = loss.sum()
    if reduction == "sum":
        return mark_roles(total, **roles)
    if not keep.any():
        # every label ignored: PyTorch's nan, with zero gradients (every term was multiplied
        # by 0) and without 0/0's warnings
        return mark_roles(total + float("nan"), **roles)
    return mark_roles(total / float(wy.sum()), **roles)


def soft_cross_entropy(op, x, target, weight, reduction, label_smoothing):
    """Cross entropy against class probabilities of the input's shape:
    l = -sum_c w[c] t[c] logp[c] (t mixed with 1/C by label smoothing); 'mean' over
    samples."""
    d = 1 if x.ndim >= 2 else 0
    c = x.shape[d]
    if c == 1:
        raise ShapeError(f"{op}: the input has shape {x.shape}, one class: the loss is always "
                         f"0 and nothing learns; give the model one output per class, or for "
                         f"0/1 targets use binary_cross_entropy_with_logits "
                         f"(nn.BCEWithLogitsLoss) with one output, or mse_loss for regression")
    t = target if isinstance(target, Tensor) else _leaf(np.asarray(target))
    td = t.numpy()
    if td.size and not (td.min() >= 0 and td.max() <= 1):
        raise ValueError(f"{op}: a floating-point target of the input's shape holds class "
                         f"probabilities, which must be in [0, 1]; got values from "
                         f"{td.min():g} to {td.max():g}; for class indices pass integer labels")
    if isinstance(target, Tensor) and td.dtype.kind == "f":  # PyTorch's promotion
        dt = np.promote_types(x.dtype, td.dtype)
        if isinstance(weight, Tensor) and weight.dtype.kind == "f":
            dt = np.promote_types(dt, weight.dtype)
        x = ops._cast(x, dt)
    if td.dtype != x.dtype:
        t = ops._cast(t, x.dtype)
    if label_smoothing:
        t = t * (1 - label_smoothing) + label_smoothing / c
    wshape = [1] * x.ndim
    wshape[d] = c
    w = _class_weight(op, weight, c, x.dtype).reshape(wshape)
    roles = dict(target=t, weight=_leaf(w))
    el = -(ops.log_softmax(x, d) * t * roles["weight"]).sum(axis=d)
    if reduction == "mean":
        return mark_roles(el.mean(), **roles)
    return mark_roles(el.sum() if reduction == "sum" else el, **roles)
