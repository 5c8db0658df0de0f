"""Gradient utilities: clipping by norm or value."""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor, _leaf

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _params(parameters, op):
    if isinstance(parameters, Tensor):
        return [parameters]
    try:
        return list(parameters)
    except TypeError:
        raise TypeError(f"{op}: expected a tensor or an iterable of tensors (e.g. "
                        f"model.parameters()), got {type(parameters).__name__}") from None


def _zero_grad(parameters, set_to_none):
    # Module.zero_grad and Optimizer.zero_grad. A gradient that is part of a graph
    # (create_graph) or read-only cannot be zeroed in place, so it is dropped.
    for p in parameters:
        if p.grad is None:
            continue
        if set_to_none or p.grad.requires_grad or not p.grad.data.flags.writeable:
            p.grad = None
        else:
            p.grad.data.fill(0)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together, in place, so that their joint norm is at most
    ``max_norm``; returns the norm before clipping (a 0-d tensor).

    The direction of the step is unchanged, only its length is limited: a guard against
    the occasional huge gradient that would throw the weights far away.
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    grads = [p.grad.data for p in _params(parameters, "clip_grad_norm_")
             if p.grad is not None]
    if not grads:
        return _leaf(np.zeros(()))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float(np.vdot(g.ravel(), g.ravel()).real) for g in grads))
    else:
        total = sum(float((np.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(f"clip_grad_norm_: the total gradient norm is {total}; "
                                 f"the loss has probably diverged (try a smaller learning "
                                 f"rate)")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in _params(parameters, "clip_grad_norm_"):
            if p.grad is None:
                continue
            g = p.grad.data
            if g.flags.writeable and not p.grad.requires_grad:
                np.multiply(g, coef, out=g, casting="unsafe")
            else:
                p.grad = _leaf(g * coef)
    return _leaf(np.asarray(total, dtype=grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for p in _params(parameters, "clip_grad_value_"):
        if p.grad is not None:
            g = p.grad.data
            if g.flags.writeable:
                np.clip(g, -clip_value, clip_value, out=g)
            else:
                p.grad = _leaf(np.clip(g, -clip_value, clip_value))
