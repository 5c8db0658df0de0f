"""Jacobians, Hessians and vector products built on :func:`zeroin.grad`."""
from __future__ import annotations

import numpy as np

from .autograd import grad
from ._tensor import Tensor, _leaf

__all__ = ["vjp", "jacobian", "hessian", "hvp"]


def _leafify(x):
    x = x if isinstance(x, Tensor) else Tensor(x)
    return Tensor(x.data, requires_grad=True, name=x.name) if not x.requires_grad or \
        not x.is_leaf else x


def vjp(f, x, v=None, create_graph=False):
    """``(f(x), v^T J)``: the vector-Jacobian product at ``x`` (``v`` defaults to ones)."""
    x = _leafify(x)
    y = f(x)
    if v is None:
        v = np.ones_like(y.data)
    (g,) = grad(y, x, grad_outputs=[v], create_graph=create_graph, allow_unused=True)
    if g is None:
        g = _leaf(np.zeros_like(x.data))
    return y, g


def jacobian(f, x, create_graph=False):
    """The Jacobian of ``f`` at ``x``: a tensor of shape ``f(x).shape + x.shape``."""
    x = _leafify(x)
    y = f(x)
    if not y.requires_grad:     # f does not depend on x (or only through constants)
        return Tensor(np.zeros(y.shape + x.shape, dtype=y.data.dtype))
    rows = []
    for i in range(max(y.data.size, 1)):
        e = np.zeros(y.data.size, dtype=y.data.dtype)
        e[i] = 1
        (g,) = grad(y, x, grad_outputs=[e.reshape(y.shape)], retain_graph=True,
                    create_graph=create_graph, allow_unused=True)
        if g is None:
            g = _leaf(np.zeros_like(x.data))
        rows.append(g if create_graph else g.data)
    if create_graph:    # keep the rows in the graph so the Jacobian can be differentiated
        from .ops import stack
        return stack(rows).reshape(y.shape + x.shape)
    return Tensor(np.stack(rows).reshape(y.shape + x.shape))


def hessian(f, x):
    """The Hessian of scalar ``f`` at ``x``: shape ``x.shape + x.shape``."""
    x = _leafify(x)

    def g(z):
        (d,) = grad(f(z), z, create_graph=True)
        return d
    return jacobian(g, x)


def hvp(f, x, v):
    """``(f(x), H v)``: the Hessian-vector product of scalar ``f`` at ``x``."""
    x = _leafify(x)
    y = f(x)
    (d,) = grad(y, x, create_graph=True)
    v = v.data if isinstance(v, Tensor) else np.asarray(v, dtype=x.data.dtype)
    if not d.requires_grad:     # f is linear in x: the Hessian is zero
        return y, _leaf(np.zeros_like(x.data))
    (hv,) = grad((d * _leaf(v)).sum(), x, allow_unused=True)
    return y, hv if hv is not None else _leaf(np.zeros_like(x.data))
