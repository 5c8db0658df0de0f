"""Check analytic gradients against central finite differences."""
from __future__ import annotations

import numpy as np

from .autograd import grad
from .function import ZeroinError
from ._tensor import Tensor, _leaf

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(ZeroinError, AssertionError):
    """An analytic gradient disagrees with the finite-difference estimate."""


def _as_inputs(inputs):
    if isinstance(inputs, Tensor):
        return (inputs,), True
    return tuple(inputs), False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare the gradient of ``fn`` with central differences, in float64.

    ``fn(*inputs)`` must return a tensor; for non-scalar outputs a fixed random projection
    ``sum(out * r)`` is checked (that covers every output element's gradient). Inputs are
    promoted to float64 copies so that the differences are accurate.

    Returns True, or raises :class:`GradcheckError` naming the input, the element index and
    both values.
    """
    inputs, _ = _as_inputs(inputs)
    xs = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            xs.append(Tensor(t.data.astype(np.float64), requires_grad=True, name=t.name))
        else:
            xs.append(t)
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    rng = np.random.default_rng(0)
    proj = rng.standard_normal(out.shape) if out.data.size > 1 else np.ones(out.shape)

    def scalar(*args):
        # Grad mode stays on: fn may itself call zeroin.grad (checking a second derivative).
        return float((fn(*args).data.astype(np.float64) * proj).sum())

    wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    if out.requires_grad:
        analytic = grad((out * _leaf(proj)).sum(), wrt, allow_unused=True)
    else:   # a constant output (e.g. the gradient of a linear function): derivative 0
        analytic = [None] * len(wrt)
    for n, (x, a) in enumerate(zip(wrt, analytic)):
        a = np.zeros_like(x.data) if a is None else a.data
        flat = x.data.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = scalar(*xs)
            flat[j] = old - eps
            fm = scalar(*xs)
            flat[j] = old
            num = (fp - fm) / (2 * eps)
            an = float(a.reshape(-1)[j])
            if not abs(an - num) <= atol + rtol * abs(num):
                idx = tuple(int(i) for i in np.unravel_index(j, x.shape)) if x.ndim else ()
                label = f" ({x.name})" if x.name else ""
                raise GradcheckError(
                    f"gradcheck: input {n}{label} of shape {x.shape}, element {tuple(idx)}: "
                    f"analytic gradient {an!r} but finite difference {num!r} "
                    f"(difference {abs(an - num):.3g} > atol {atol} + rtol {rtol} * |numeric|)")
    return True
