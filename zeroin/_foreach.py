"""PyTorch's ``torch._foreach_*`` functions, which EMA and optimiser code calls on lists of
parameters (timm's ``ModelEmaV3``: ``torch._foreach_lerp_(ema, params, 1 - decay)``): the
op applied to each tensor of a list, one zeroin call per tensor (PyTorch fuses them into
a few kernels; the values are the same). The out-of-place ones return a tuple of new,
differentiable tensors; the in-place ones (``_`` suffix) change each tensor and return
the list. The second operand is a number or a tensor for every tensor, or a list with one
per tensor, as in PyTorch."""
from __future__ import annotations

import numbers

from ._tensor import Tensor
from ._tensor_api import _export
from .errors import a_type

_UNARY = ("abs acos asin atan ceil cos cosh erf erfc exp expm1 floor frac lgamma log log10 "
          "log1p log2 neg reciprocal round rsqrt sigmoid sign sin sinh sqrt tan tanh "
          "trunc").split()
_BINARY = "add sub mul div pow maximum minimum clamp_min clamp_max".split()


def _list(op, tensors):
    """``tensors`` as a non-empty list of tensors, or PyTorch's RuntimeError."""
    ts = list(tensors) if isinstance(tensors, (list, tuple)) else None
    if ts is None:
        raise TypeError(f"{op}: expected a list of tensors, got {type(tensors).__name__}")
    if not ts:
        raise RuntimeError(f"{op}: Tensor list must have at least one tensor.")
    for i, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: item {i} is {a_type(t)}, not a Tensor")
    return ts


def _each(op, other, n):
    """The operand for each of ``n`` tensors: one list entry each, else ``other`` for all
    (a 1-D tensor of n numbers, PyTorch's "scalars" tensor, gives one number each)."""
    if isinstance(other, (list, tuple)):
        if len(other) != n:
            raise RuntimeError(f"{op}: Tensor lists must have the same number of tensors, "
                               f"got {n} and {len(other)}")
        return list(other)
    return [other] * n


def _z(name):
    """zeroin's top-level function ``name`` (looked up at the call: they are all defined
    by then)."""
    import zeroin
    return getattr(zeroin, name)


def _operand(other, t):
    # maximum / minimum take tensors only: a number becomes one of t's dtype
    return other if isinstance(other, Tensor) else _z("tensor")(other, dtype=t.dtype)


def _make(name):
    op = f"_foreach_{name}"
    needs_tensor = name in ("maximum", "minimum")

    def fn(*args, **kw):
        return _z(name)(*args, **kw)

    def unary(self):
        return tuple(fn(t) for t in _list(op, self))

    def unary_(self):
        for t in _list(op + "_", self):
            getattr(t, name + "_")()
        return self

    def binary(self, other, **kw):
        if name == "pow" and isinstance(self, numbers.Number):     # _foreach_pow(2.0, xs)
            return tuple(fn(self, e) for e in _list(op, other))
        ts = _list(op, self)
        os_ = _each(op, other, len(ts))
        return tuple(fn(t, _operand(o, t) if needs_tensor else o, **kw)
                     for t, o in zip(ts, os_))

    def binary_(self, other, **kw):
        ts = _list(op + "_", self)
        for t, o in zip(ts, _each(op + "_", other, len(ts))):
            if needs_tensor:
                t.copy_(fn(t, _operand(o, t)))
            else:
                getattr(t, name + "_")(o, **kw)
        return self

    out, inplace = (unary, unary_) if name in _UNARY else (binary, binary_)
    for f, n in ((out, op), (inplace, op + "_")):
        f.__name__ = f.__qualname__ = n
        f.__doc__ = f"``{name}`` of each tensor of a list (PyTorch's ``torch.{n}``)."
        _export(f, n)


for _name in _UNARY + _BINARY:
    _make(_name)


def _scalars(op, value, n):
    if isinstance(value, Tensor) and value.ndim == 1:     # PyTorch's "scalars" tensor
        value = value.tolist()
    return _each(op, value, n)


def _ternary(name):
    op = f"_foreach_{name}"

    def out(self, tensor1, tensor2, value=1):
        ts = _list(op, self)
        a, b = (_each(op, _list(op, x), len(ts)) for x in (tensor1, tensor2))
        vs = _scalars(op, value, len(ts))
        return tuple(_z(name)(t, x, y, value=v) for t, x, y, v in zip(ts, a, b, vs))

    def inplace(self, tensor1, tensor2, value=1):
        ts = _list(op + "_", self)
        a, b = (_each(op + "_", _list(op + "_", x), len(ts)) for x in (tensor1, tensor2))
        for t, x, y, v in zip(ts, a, b, _scalars(op + "_", value, len(ts))):
            getattr(t, name + "_")(x, y, value=v)
        return self

    for f, n in ((out, op), (inplace, op + "_")):
        f.__name__ = f.__qualname__ = n
        f.__doc__ = f"``{name}`` of each tensor of a list (PyTorch's ``torch.{n}``)."
        _export(f, n)


_ternary("addcmul")
_ternary("addcdiv")


@_export
def _foreach_lerp(self, tensors1, weight):
    """``lerp(self[i], tensors1[i], weight[i])`` (one weight for all, or one each)."""
    ts = _list("_foreach_lerp", self)
    ends = _each("_foreach_lerp", _list("_foreach_lerp", tensors1), len(ts))
    return tuple(_z("lerp")(t, e, w) for t, e, w in
                 zip(ts, ends, _scalars("_foreach_lerp", weight, len(ts))))


@_export
def _foreach_lerp_(self, tensors1, weight):
    """In place: ``self[i] += weight[i] * (tensors1[i] - self[i])``, the EMA update."""
    ts = _list("_foreach_lerp_", self)
    ends = _each("_foreach_lerp_", _list("_foreach_lerp_", tensors1), len(ts))
    for t, e, w in zip(ts, ends, _scalars("_foreach_lerp_", weight, len(ts))):
        t.lerp_(e, w)
    return self


@_export
def _foreach_copy_(self, src, non_blocking=False):
    """Copy ``src[i]`` into ``self[i]``, in place."""
    ts = _list("_foreach_copy_", self)
    for t, s in zip(ts, _each("_foreach_copy_", _list("_foreach_copy_", src), len(ts))):
        t.copy_(s)
    return self


@_export
def _foreach_zero_(self):
    """Zero each tensor, in place."""
    for t in _list("_foreach_zero_", self):
        t.zero_()
    return self


@_export
def _foreach_clone(self, *, memory_format=None):
    """A copy of each tensor."""
    return tuple(t.clone() for t in _list("_foreach_clone", self))


@_export
def _foreach_norm(self, ord=2, dtype=None):  # noqa: A002
    """The vector norm of each tensor (0-d tensors), as ``clip_grad_norm_`` takes them."""
    from .linalg import vector_norm
    return tuple(vector_norm(t, ord, dtype=dtype) for t in _list("_foreach_norm", self))


@_export
def _foreach_max(self):
    """The largest element of each tensor (0-d tensors)."""
    return tuple(t.max() for t in _list("_foreach_max", self))
