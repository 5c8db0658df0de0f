"""Check analytic gradients against central finite differences."""
from __future__ import annotations

import numpy as np

from .autograd import grad
from .function import ZeroinError
from ._tensor import Tensor, _leaf

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(ZeroinError, AssertionError):
    """An analytic gradient disagrees with the finite-difference estimate."""


def _as_inputs(inputs):
    if isinstance(inputs, Tensor):
        return (inputs,), True
    return tuple(inputs), False


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, *, raise_exception=True,
              nondet_tol=0.0, fast_mode=False):
    """Compare the gradient of ``fn`` with central differences, in float64 (PyTorch's
    ``torch.autograd.gradcheck``; also ``zeroin.autograd.gradcheck``).

    ``fn(*inputs)`` returns a tensor or a tuple of tensors; each output is checked through a
    fixed random projection ``sum(out * r)``, as PyTorch's ``fast_mode`` does (every output
    element's gradient takes part). Inputs that require grad are checked as float64
    (complex128) copies, float32 and float16 ones too, silently: differences in float32
    cannot resolve ``eps`` (PyTorch warns "Input #0 requires gradient and is not a double
    precision floating point" and checks in the input's precision, which usually fails).
    So the float64 computation is checked, not float32-only code. Complex inputs and
    outputs follow PyTorch's convention: a complex output is projected as
    ``sum(Re(out * conj(r)))``, and a complex input's gradient ``dL/dRe + i dL/dIm`` is
    checked against differences in its real and imaginary parts. ``nondet_tol`` and
    ``fast_mode`` are accepted for PyTorch's calls; zeroin's backward is deterministic and
    always projects.

    Returns True, or raises :class:`GradcheckError` naming the input, the element index and
    both values (with ``raise_exception=False``: returns False instead).
    """
    try:
        return _check(fn, inputs, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _outputs(fn, args):
    out = fn(*args)
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(o).__name__} (or "
                            f"a tuple of tensors, checked output by output)")
    return outs


def _check(fn, inputs, eps, atol, rtol):
    inputs, _ = _as_inputs(inputs)
    xs = []
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad:
            wide = np.complex128 if t.dtype.kind == "c" else np.float64
            # C order: _compare nudges the elements through a flat view (a transposed
            # input's astype would keep its strides, and reshape(-1) would copy)
            xs.append(Tensor(np.array(t.data, dtype=wide, order="C"), requires_grad=True,
                             name=t.name))
        else:
            xs.append(t)
    outs = _outputs(fn, xs)
    rng = np.random.default_rng(0)
    projs = [_direction(rng, o) if o.data.size > 1 else np.ones(o.shape) for o in outs]

    def scalar(*args):
        # Grad mode stays on: fn may itself call zeroin.grad (checking a second derivative).
        return sum(float((o.data * np.conj(r)).real.sum())
                   for o, r in zip(_outputs(fn, args), projs))

    wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    terms = [_project(o, r) for o, r in zip(outs, projs) if o.requires_grad]
    if terms:
        analytic = grad(sum(terms[1:], terms[0]), wrt, allow_unused=True)
    else:   # constant outputs (e.g. the gradient of a linear function): derivative 0
        analytic = [None] * len(wrt)
    for n, (x, a) in enumerate(zip(wrt, analytic)):
        _compare(n, x, np.zeros_like(x.data) if a is None else a.data, scalar, xs, eps,
                 atol, rtol)
    return True


def _direction(rng, o):
    """A fixed random projection for the output ``o`` (complex for a complex output)."""
    r = rng.standard_normal(o.shape)
    return r + 1j * rng.standard_normal(o.shape) if o.dtype.kind == "c" else r


def _project(o, r):
    """The real scalar ``sum(Re(o * conj(r)))`` of the output ``o``, recorded."""
    if o.dtype.kind == "c":
        return (o * _leaf(np.conj(r))).real.sum()
    return (o * _leaf(r)).sum()


def _compare(n, x, a, scalar, xs, eps, atol, rtol):
    """Central differences of ``scalar`` in every element of input ``x`` against ``a``
    (a complex ``x``: in its real and imaginary parts, ``dL/dRe + i dL/dIm``)."""
    flat = x.data.reshape(-1)
    steps = (eps, 1j * eps) if x.dtype.kind == "c" else (eps,)
    for j in range(flat.size):
        old = flat[j]
        num = 0
        for step, unit in zip(steps, (1, 1j)):
            flat[j] = old + step
            fp = scalar(*xs)
            flat[j] = old - step
            fm = scalar(*xs)
            flat[j] = old
            num = num + unit * (fp - fm) / (2 * eps)
        an = a.reshape(-1)[j]
        an = complex(an) if x.dtype.kind == "c" else float(an)
        if not abs(an - num) <= atol + rtol * abs(num):
            idx = tuple(int(i) for i in np.unravel_index(j, x.shape)) if x.ndim else ()
            label = f" ({x.name})" if x.name else ""
            raise GradcheckError(
                f"gradcheck: input {n}{label} of shape {x.shape}, element {tuple(idx)}: "
                f"analytic gradient {an!r} but finite difference {num!r} "
                f"(difference {abs(an - num):.3g} > atol {atol} + rtol {rtol} * |numeric|)")


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, *,
                  raise_exception=True, nondet_tol=0.0, fast_mode=False):
    """Check second derivatives (PyTorch's ``torch.autograd.gradgradcheck``): the gradient
    of ``sum(fn(*inputs) * v)`` with respect to the inputs, made with ``create_graph=True``,
    is itself checked by :func:`gradcheck`. ``v`` is ``grad_outputs`` (a tensor or one per
    output) or fixed random values."""
    vs = {}

    def first(*xs):
        outs = _outputs(fn, xs)
        given = grad_outputs
        if given is not None and not isinstance(given, (tuple, list)):
            given = (given,)
        terms = []
        for i, o in enumerate(outs):
            if not o.requires_grad:
                continue
            if given is not None:
                v = np.asarray(given[i].data if isinstance(given[i], Tensor) else given[i])
                v = v.astype(np.complex128 if v.dtype.kind == "c" else np.float64)
            else:
                v = vs.setdefault(i, _direction(np.random.default_rng(1 + i), o))
            terms.append(_project(o, v))
        wrt = [x for x in xs if isinstance(x, Tensor) and x.requires_grad]
        if not terms:
            return tuple(_leaf(np.zeros_like(x.data)) for x in wrt)
        gs = grad(sum(terms[1:], terms[0]), wrt, create_graph=True, allow_unused=True)
        return tuple(_leaf(np.zeros_like(x.data)) if g is None else g
                     for x, g in zip(wrt, gs))
    return gradcheck(first, inputs, eps, atol, rtol, raise_exception=raise_exception)
