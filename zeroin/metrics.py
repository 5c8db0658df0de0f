"""Metrics: how good a model is, in numbers people read (accuracy, MSE, MAE, R^2).

Each takes predictions and targets as tensors or arrays and returns a Python float.
"""
from __future__ import annotations

import numpy as np

from ._tensor import Tensor

__all__ = ["accuracy", "mse", "mae", "r2", "get_metric", "METRICS"]


def _np(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _same_shape(name, pred, target):
    if pred.shape != target.shape:
        raise ValueError(f"{name}: predictions have shape {pred.shape} but targets have shape "
                         f"{target.shape}; reshape one of them (e.g. y.reshape(-1, 1)) so they "
                         f"match, rather than letting them broadcast")


def predicted_labels(output, logits=True, threshold=None):
    """Class labels from a model's output.

    ``(n, k)`` with ``k > 1``: the arg-max (logits and probabilities alike). One column
    ``(n, 1)`` or a float vector ``(n,)``: binary, 1 where the value exceeds ``threshold``
    (default 0 for logits, 0.5 for probabilities). Integer arrays are labels already.
    """
    out = _np(output)
    if out.dtype.kind in "iub":
        return out.astype(np.int64)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    if threshold is None:
        threshold = 0.0 if logits else 0.5
    return (out > threshold).astype(np.int64)


def accuracy(output, target, logits=True, threshold=None):
    """Fraction of samples whose predicted class equals the target class.

    Parameters
    ----------
    output : tensor or array
        Logits or probabilities ``(n, k)`` (arg-max), one column ``(n, 1)`` of logits or
        probabilities (threshold), or integer labels.
    target : tensor or array
        Integer labels ``(n,)``, or 0/1 labels shaped like a one-column output.
    logits : bool
        One-column outputs are logits (threshold 0) rather than probabilities (0.5).
    """
    pred = predicted_labels(output, logits, threshold)
    tgt = _np(target)
    if tgt.ndim == 2 and tgt.shape[1] > 1:          # one-hot targets
        tgt = tgt.argmax(axis=1)
    if tgt.dtype.kind == "f":
        if not np.all(tgt == np.round(tgt)):
            bad = tgt[tgt != np.round(tgt)].flat[0]
            raise ValueError(f"accuracy: the targets are not class labels (e.g. {bad:.4g}); "
                             f"accuracy is for classification, and rounding these would "
                             f"give a meaningless number; for regression use 'mse', 'mae' "
                             f"or 'r2'")
        tgt = tgt.astype(np.int64)
    if pred.ndim == 2 and pred.shape[1] == 1 and tgt.ndim == 1:
        pred = pred[:, 0]
    if pred.shape != tgt.shape:
        raise ValueError(f"accuracy: {pred.shape[0] if pred.ndim else 1} predictions of shape "
                         f"{_np(output).shape} do not match targets of shape {tgt.shape}; "
                         f"give integer labels (n,) for (n, k) outputs and labels (n, 1) for "
                         f"one-column outputs")
    if tgt.size == 0:
        raise ValueError("accuracy: no samples")
    return float(np.mean(pred == tgt))


def mse(pred, target):
    """Mean squared error: mean of (pred - target)^2."""
    p, t = _np(pred), _np(target)
    _same_shape("mse", p, t)
    return float(np.mean((p - t) ** 2))


def mae(pred, target):
    """Mean absolute error: mean of |pred - target| (the chapter's |a - y|)."""
    p, t = _np(pred), _np(target)
    _same_shape("mae", p, t)
    return float(np.mean(np.abs(p - t)))


def r2(pred, target):
    """Coefficient of determination: 1 - SS_res / SS_tot (1 is perfect, 0 is predicting the mean).

    With several target columns, the mean of the per-column scores.
    """
    p, t = _np(pred).astype(float), _np(target).astype(float)
    _same_shape("r2", p, t)
    ss_res = ((t - p) ** 2).sum(axis=0)
    ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(ss_tot > 0, 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, 1.0),
                         np.where(ss_res == 0, 1.0, 0.0))
    return float(np.mean(score))


METRICS = {"accuracy": accuracy, "acc": accuracy, "mse": mse, "mae": mae, "r2": r2}


def get_metric(metric, op=None):
    """``(name, function)`` for a metric name or a callable ``f(output, target) -> float``;
    ``op`` (``"fit"``) names the call whose ``metrics=`` an unknown name came through."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    try:
        fn = METRICS[str(metric).lower()]
    except KeyError:
        where = f"{op}: " if op else ""
        raise ValueError(f"{where}unknown metric {metric!r}{' in metrics=' if op else ''}; "
                         f"choose one of {', '.join(sorted(METRICS))} or pass a function"
                         ) from None
    return fn.__name__, fn
