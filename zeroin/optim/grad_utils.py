"""What is done to gradients between backward and the step: zeroing and clipping.

``zeroin.nn.utils`` re-exports the clipping functions under PyTorch's names
(``torch.nn.utils.clip_grad_norm_``). Every function here accepts a tensor, a list or a
*generator* of tensors (``model.parameters()``) and reads it exactly once.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor, _drop_grads, _leaf, get_default_dtype
from ..errors import ZeroinError
from ..errors import a_type

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "params_list"]


class _NonFiniteNormError(ZeroinError, FloatingPointError):
    """A NaN or infinite gradient norm: PyTorch's RuntimeError, and a FloatingPointError."""


def params_list(parameters, op):
    """``parameters`` (a tensor or an iterable of tensors, possibly a one-shot generator)
    as a list, read once, so that a second walk over it sees the same tensors."""
    if isinstance(parameters, Tensor):
        return [parameters]
    if callable(parameters) and getattr(parameters, "__name__", None) == "parameters":
        raise TypeError(f"{op}: got the method model.parameters, not its result; call it: "
                        f"model.parameters()")
    if callable(getattr(parameters, "parameters", None)):
        raise TypeError(f"{op}: got the {type(parameters).__name__} model itself; pass "
                        f"model.parameters()")
    try:
        params = list(parameters)
    except TypeError:
        raise TypeError(f"{op}: expected a tensor or an iterable of tensors (e.g. "
                        f"model.parameters()), got {type(parameters).__name__}") from None
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{op}: item {i} is {a_type(p)}, not a Tensor; pass "
                            f"model.parameters() or a list of tensors")
    return params


def _zero_grad(parameters, set_to_none):
    # Module.zero_grad and Optimizer.zero_grad. A gradient that is part of a graph
    # (create_graph) or read-only cannot be zeroed in place, so it is dropped.
    if set_to_none:         # the default
        _drop_grads(parameters)
        return
    for p in parameters:
        g = p.grad
        if g is None:
            continue
        if g.requires_grad or not g.numpy().flags.writeable:
            p.grad = None
        else:
            g.numpy().fill(0)


def _total_norm(grads, norm_type):
    """The norm of all gradients together, as if concatenated into one vector."""
    if math.isinf(norm_type):
        return max(float(np.abs(g).max()) if g.size else 0.0 for g in grads)
    if norm_type == 2.0:
        return math.sqrt(sum(float(np.vdot(g.ravel(), g.ravel()).real) for g in grads))
    return sum(float((np.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type)


def _scale_grad(p, coef):
    g = p.grad.numpy()
    if g.flags.writeable and not p.grad.requires_grad:
        np.multiply(g, coef, out=g, casting="unsafe")
    else:
        p.grad = _leaf((g * coef).astype(g.dtype, copy=False))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale all gradients together, in place, so that their joint norm is at most
    ``max_norm``; returns the norm before clipping (a 0-d tensor).

    ``g <- g * min(1, max_norm / (total_norm + 1e-6))`` (PyTorch's formula): the
    direction of the step is unchanged, only its length is limited. ``parameters`` may be
    a generator (``model.parameters()``); it is read once. ``foreach`` is accepted for
    PyTorch compatibility and ignored.
    """
    op = "clip_grad_norm_"
    params = params_list(parameters, op)
    max_norm = _max_norm(op, max_norm)
    with_grad = [p for p in params if p.grad is not None]
    total = _norm_of(op, [p.grad.numpy() for p in with_grad], norm_type, error_if_nonfinite)
    _clip(with_grad, max_norm, float(total.item()))
    return total


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of ``tensors`` (gradients, usually) together, as if concatenated into one
    vector: a 0-d tensor, the first half of :func:`clip_grad_norm_`; ``foreach`` is
    accepted and ignored."""
    op = "get_total_norm"
    return _norm_of(op, [t.numpy() for t in params_list(tensors, op)], norm_type,
                    error_if_nonfinite)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients in place by ``min(1, max_norm / (total_norm + 1e-6))``, with
    ``total_norm`` from :func:`get_total_norm`: the second half of :func:`clip_grad_norm_`
    (the norm can be reduced across processes in between). Returns None."""
    op = "clip_grads_with_norm_"
    params = params_list(parameters, op)
    if not isinstance(total_norm, Tensor):
        raise TypeError(f"{op}: total_norm must be a Tensor (what get_total_norm returns), "
                        f"got {type(total_norm).__name__}")
    _clip([p for p in params if p.grad is not None], _max_norm(op, max_norm),
          float(total_norm.item()))


def _max_norm(op, max_norm):
    max_norm = _number(op, "max_norm", max_norm)
    if max_norm < 0:
        raise ValueError(f"{op}: max_norm must be >= 0, got {max_norm}")
    return max_norm


def _norm_of(op, arrays, norm_type, error_if_nonfinite):
    """The joint norm of ``arrays`` as a 0-d tensor of their (real) dtype; 0 in the default
    dtype for none, as PyTorch."""
    norm_type = _number(op, "norm_type", norm_type)
    if not (norm_type > 0 or math.isinf(norm_type)):
        raise ValueError(f"{op}: norm_type must be > 0 (2.0 for the Euclidean "
                         f"norm, float('inf') for the largest element), got {norm_type}")
    if not arrays:
        return _leaf(np.zeros((), dtype=get_default_dtype()))
    total = _total_norm(arrays, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise _NonFiniteNormError(f"{op}: the total gradient norm (order "
                                 f"{norm_type}) is {total}; the loss has probably diverged "
                                 f"(try a smaller learning rate), or pass "
                                 f"error_if_nonfinite=False")
    dtype = np.result_type(*(a.real.dtype for a in arrays))      # real for complex ones
    return _leaf(np.asarray(total, dtype=dtype))


def _clip(with_grad, max_norm, total):
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for p in with_grad:
            _scale_grad(p, coef)


def _number(op, what, v):
    if isinstance(v, Tensor):
        v = v.item()
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {what} must be a number, got {type(v).__name__}") from None
    if math.isnan(v):
        raise ValueError(f"{op}: {what} is nan")
    return v


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient element to [-clip_value, clip_value], in place.

    ``parameters`` may be a generator; ``foreach`` is accepted and ignored."""
    params = params_list(parameters, "clip_grad_value_")
    clip_value = _number("clip_grad_value_", "clip_value", clip_value)
    if clip_value < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}; the "
                         f"gradients are clipped to [-clip_value, clip_value]")
    for p in params:
        if p.grad is not None and p.grad.dtype.kind == "c":
            raise NotImplementedError("clip_grad_value_: clamp is not supported for complex "
                                      "types (as in PyTorch); use clip_grad_norm_, or clip "
                                      "the real and imaginary parts yourself")
    for p in params:
        if p.grad is not None:
            g = p.grad.numpy()
            if g.flags.writeable and not p.grad.requires_grad:
                np.clip(g, -clip_value, clip_value, out=g)
            else:
                p.grad = _leaf(np.clip(g, -clip_value, clip_value))
