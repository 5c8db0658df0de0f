"""Complex tensors, as PyTorch's: the parts (real, imag, conj, complex, polar, angle, sgn,
view_as_real/complex), the conjugate transpose (.H, .mH, adjoint, vdot), and the one guard
that refuses complex inputs where PyTorch does (:data:`REFUSED`).

Gradients follow PyTorch's convention ("Autograd for Complex Numbers"): for a real loss L
of a complex z, ``z.grad = dL/dRe(z) + i dL/dIm(z)``. Holomorphic ops get it from their
real rules in the engine (``Function.holomorphic``); the ops here are not holomorphic (or
have a real output) and write that gradient themselves.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import ops as _ops
from ._tensor import Tensor, _array_of, _leaf
from ._tensor_api import _export, _method
from .function import Function, apply

__all__ = ["conj", "complex", "polar", "angle", "sgn", "view_as_real",
           "view_as_complex", "adjoint", "vdot", "REFUSED"]


def _complex_of(dtype):
    """The complex dtype of a float dtype's width (float32 -> complex64)."""
    return np.result_type(dtype, np.complex64)


def _to_complex(g, dtype):
    """The real gradient ``g`` as the complex ``dtype`` (an array, or a recorded cast)."""
    return g.astype(dtype) if isinstance(g, np.ndarray) or np.isscalar(g) else g.to(dtype)


class RealOp(Function):
    """The real part of a complex tensor: its gradient is ``g + 0i``."""
    __slots__ = ()
    name = "real"
    def forward(self, x): return x.real.copy()
    def backward(self, xp, g, out, x): return _to_complex(g, x.dtype)


class ImagOp(Function):
    """The imaginary part of a complex tensor: its gradient is ``i g``."""
    __slots__ = ()
    name = "imag"
    def forward(self, x): return x.imag.copy()
    def backward(self, xp, g, out, x): return _to_complex(g, x.dtype) * 1j


class ConjOp(Function):
    """The complex conjugate (not holomorphic): the gradient is ``conj(g)``."""
    __slots__ = ()
    name = "conj"
    holomorphic = False
    def forward(self, x): return np.conj(x)
    def backward(self, xp, g, out, x): return g.conj()


class ComplexOp(Function):
    """``real + i imag`` from two real tensors: the gradients are ``Re g`` and ``Im g``."""
    __slots__ = ()
    name = "complex"
    holomorphic = False

    def forward(self, re, im):
        out = np.empty(np.broadcast_shapes(re.shape, im.shape), _complex_of(re.dtype))
        out.real, out.imag = re, im
        return out

    def backward(self, xp, g, out, re, im):
        return g.real, g.imag


def _real_part(input):  # noqa: A002
    """The real part (differentiable); the tensor itself for a real dtype, as PyTorch."""
    x = _ops._t(input)
    return apply(RealOp(), (x,)) if x.dtype.kind == "c" else x


def _imag_part(input):  # noqa: A002
    """The imaginary part (differentiable); real tensors have none: PyTorch's error."""
    x = _ops._t(input)
    if x.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return apply(ImagOp(), (x,))


def _set_part(which):
    def setter(self, value):
        """``z.real = v`` writes into ``z`` in place, as PyTorch's view does."""
        if self.dtype.kind != "c":
            if which == "imag":
                raise RuntimeError("imag is not implemented for tensors with non-complex "
                                   "dtypes.")
            self.copy_(value)
            return
        v = _array_of(value) if isinstance(value, Tensor) else np.asarray(value)
        new = np.array(_array_of(self))
        setattr(new, which, v)
        self.copy_(_leaf(new))
    return setter


Tensor.real = property(_real_part, _set_part("real"), doc=_real_part.__doc__)
Tensor.imag = property(_imag_part, _set_part("imag"), doc=_imag_part.__doc__)
_export(_real_part, "real")
_export(_imag_part, "imag")


@_method("conj", "conj_physical")
def conj(input):  # noqa: A002
    """The complex conjugate (differentiable); a real tensor itself, as PyTorch. zeroin
    has no lazy conjugate bit, so conj_physical is the same."""
    x = _ops._t(input)
    return apply(ConjOp(), (x,)) if x.dtype.kind == "c" else x


@_method()
def resolve_conj(input):  # noqa: A002
    """The tensor itself: zeroin's conj is never lazy, so there is no bit to resolve."""
    return input


_export(conj)
_export(conj, "conj_physical")
_export(resolve_conj)


@_export
@_method()
def is_conj(input):  # noqa: A002
    """Always False: zeroin's conj makes a new tensor (no lazy conjugate bit)."""
    return False


def _real_floats(op, a, b):
    """PyTorch's check of complex/polar: two tensors of one float dtype."""
    a, b = _ops._t(a), _ops._t(b)
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected both inputs to be Half, Float or Double tensors "
                           f"but got {a.dtype} and {b.dtype}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: Expected object of scalar type {a.dtype} but got scalar "
                           f"type {b.dtype} for second argument; cast one with .to()")
    return a, b


@_export
def complex(real, imag):  # noqa: A001
    """The complex tensor ``real + i imag`` from two real tensors of one float dtype
    (complex64 from float32), differentiable in both."""
    return apply(ComplexOp(), _real_floats("complex", real, imag))


@_export
def polar(abs, angle):  # noqa: A002
    """The complex tensor ``abs * (cos(angle) + i sin(angle))``, differentiable."""
    r, t = _real_floats("polar", abs, angle)
    return complex(r * t.cos(), r * t.sin())


@_export
@_method()
def angle(input):  # noqa: A002
    """The argument (phase) of each element, in (-pi, pi]: a real tensor. For a real
    input, pi where it is negative, else 0 (NaN stays NaN), with gradient 0 as PyTorch's."""
    x = _ops._t(input)
    if x.dtype.kind == "c":
        return _ops.OPS["atan2"].fn(_imag_part(x), _real_part(x))
    if x.dtype.kind != "f":
        x = x.to(_ops._tensor.get_default_dtype())
    a = _array_of(x)
    v = np.where(np.isnan(a), a, np.where(a < 0, math.pi, 0)).astype(a.dtype)
    return _ops.where(_leaf(np.zeros(a.shape, bool)), x, _leaf(v))     # gradient 0


@_export
@_method()
def sgn(input):  # noqa: A002
    """``z / |z|`` (0 at 0) for a complex tensor, differentiable; sign for a real one."""
    x = _ops._t(input)
    if x.dtype.kind != "c":
        return _ops.OPS["sign"].fn(x)
    r = _array_of(x)
    nonzero = _leaf(np.abs(r) != 0)
    safe = _ops.where(nonzero, x.abs(), _leaf(np.ones((), np.abs(r).dtype)))
    return _ops.where(nonzero, x / safe, _leaf(np.zeros((), r.dtype)))


@_export
def view_as_real(input):  # noqa: A002
    """A complex tensor as a real one with a last dimension of 2 (real, imag), as
    PyTorch's (a copy in zeroin, not a view), differentiable."""
    x = _ops._t(input)
    if x.dtype.kind != "c":
        raise RuntimeError(f"view_as_real is only supported for complex tensors; got "
                           f"{x.dtype}")
    return _ops.stack([_real_part(x), _imag_part(x)], -1)


@_export
def view_as_complex(input):  # noqa: A002
    """A real tensor with a last dimension of 2 (real, imag) as a complex one (a copy in
    zeroin, not a view), differentiable."""
    x = _ops._t(input)
    if x.dtype.kind != "f":
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {x.dtype}")
    if not x.ndim or x.shape[-1] != 2:
        raise RuntimeError(f"view_as_complex: Tensor must have a last dimension of size 2, "
                           f"got shape {tuple(x.shape)}")
    return complex(x[..., 0], x[..., 1])


@_export
@_method()
def adjoint(input):  # noqa: A002
    """The conjugate transpose of the last two dimensions (real: ``.mT``)."""
    x = _ops._t(input)
    if not x.ndim:
        return _scalar_conj(x, "adjoint()")
    if x.ndim < 2:
        raise RuntimeError(f"adjoint: tensor.adjoint() is only supported on matrices or "
                           f"batches of matrices. Got {x.ndim}-D tensor.")
    return conj(x.transpose(-2, -1))


def _scalar_conj(x, what):
    """PyTorch's conjugate transposes of a 0-D tensor: its conjugate, with a UserWarning
    (once, as PyTorch's TORCH_WARN_ONCE)."""
    from .amp import _warn_once
    _warn_once(what, f"{what} is deprecated on 0-D tensors. Consider using x.conj().",
               stacklevel=4)
    return conj(x)


def _h(self):
    if not self.ndim:
        return _scalar_conj(self, "Tensor.H")
    if self.ndim != 2:
        raise RuntimeError(f"H: only for matrices (2-D tensors), got a {self.ndim}-D tensor; "
                           f"for batches of matrices use .mH")
    return conj(self.transpose(0, 1))


def _mh(self):
    if not self.ndim:
        return _scalar_conj(self, "Tensor.mH")
    if self.ndim < 2:
        raise RuntimeError(f"mH: tensor.mH is only supported on matrices or batches of "
                           f"matrices. Got {self.ndim}-D tensor.")
    return conj(self.transpose(-2, -1))


Tensor.H = property(_h, doc="The conjugate transpose of a matrix (real: .T).")
Tensor.mH = property(_mh, doc="The conjugate transpose of the last two dims (real: .mT).")


@_export
@_method()
def vdot(input, other):  # noqa: A002
    """The dot product of two 1-D tensors, the first conjugated (real: ``dot``)."""
    from ._tensor_api import EXPORTS
    a, b = _ops._t(input), _ops._t(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"vdot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D "
                           f"tensors")
    return EXPORTS["dot"](conj(a), b)


@_method()
def stft(input, *args, **kwargs):  # noqa: A002
    """:func:`zeroin.stft` (zeroin.fft loads on first use)."""
    from .fft import stft as f
    return f(input, *args, **kwargs)


@_method()
def istft(input, *args, **kwargs):  # noqa: A002
    """:func:`zeroin.istft` (zeroin.fft loads on first use)."""
    from .fft import istft as f
    return f(input, *args, **kwargs)


# --- the guard: ops PyTorch refuses on complex -----------------------------------------------
# name -> (PyTorch's exception type, what PyTorch says). zeroin.<name> and Tensor.<name> are
# wrapped once, here (install), so every op listed refuses a complex tensor with that type.

_NI, _RT = NotImplementedError, RuntimeError
REFUSED = {
    **{n: (_NI, "ordering is not defined for complex numbers") for n in (
        "lt", "le", "gt", "ge", "less", "less_equal", "greater", "greater_equal",
        "__lt__", "__le__", "__gt__", "__ge__", "max", "min", "amax", "amin", "median",
        "nanmedian", "kthvalue", "cummax", "cummin", "msort", "histc", "bucketize")},
    **{n: (_NI, "clamp is not supported for complex types") for n in (
        "relu", "relu_", "clamp", "clip", "clamp_min", "clamp_max", "clamp_", "clip_")},
    **{n: (_RT, "it is not implemented for complex tensors") for n in (
        "maximum", "minimum", "fmax", "fmin", "argmax", "argmin", "sort", "argsort", "topk",
        "heaviside")},
    **{n: (_NI, "it is not supported for complex inputs") for n in (
        "floor", "ceil", "round", "trunc", "fix", "frac", "sign", "signbit", "erf", "erfc",
        "erfinv", "fmod", "remainder", "floor_divide", "atan2", "arctan2", "copysign",
        "logit", "xlogy", "softmax", "log_softmax", "unique")},
    # zeroin.nn.functional's (installed there when it loads)
    **{n: (_NI, "it is not implemented for complex tensors") for n in (
        "relu6", "gelu", "leaky_relu", "hardtanh", "elu", "selu", "celu", "mish", "softplus",
        "hardshrink", "softshrink", "hardsigmoid", "hardswish", "logsigmoid", "softmin", "glu",
        "threshold", "rrelu", "prelu", "mse_loss", "smooth_l1_loss", "huber_loss",
        "binary_cross_entropy", "layer_norm")},
    "kl_div": (_RT, "complex inputs are not supported"),
}
_HINT = {"sign": "; use sgn (z / |z|)", "max": "; compare z.abs()", "min": "; compare z.abs()",
         "sort": "; sort z.abs() or z.real", "argmax": "; use z.abs().argmax()",
         "argmin": "; use z.abs().argmin()"}


def _refuse(name, fn):
    exc, why = REFUSED[name]
    hint = _HINT.get(name, "; use z.abs(), z.real or z.imag (real tensors)")

    # F.softmax's legacy-dim warning points at its caller: one frame more through here
    stacked = "_stacklevel" in getattr(getattr(fn, "__code__", None), "co_varnames", ())

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        for a in args[:2]:
            if isinstance(a, Tensor) and a.dtype.kind == "c":
                raise exc(f"{name.strip('_')}: {why} (got a {a.dtype} tensor, as PyTorch "
                          f"refuses it){hint}")
        if stacked and len(args) < 3:
            kwargs["_stacklevel"] = kwargs.get("_stacklevel", 3) + 1
        return fn(*args, **kwargs)
    guarded._complex_guarded = True
    return guarded


def install(namespace):
    """Wrap each op of :data:`REFUSED` once: in ``namespace`` (zeroin's globals), in the op
    registry (``zeroin.ops.OPS``) and on Tensor, one guarded function per original."""
    made = {}

    def guard(name, fn):
        if not callable(fn) or isinstance(fn, type) or getattr(fn, "_complex_guarded", False):
            return fn
        if id(fn) not in made:
            made[id(fn)] = _refuse(name, fn)
        return made[id(fn)]

    for name in REFUSED:
        if name in namespace:
            namespace[name] = guard(name, namespace[name])
        if name in _ops.OPS:
            _ops.OPS[name] = _ops.OPS[name]._replace(fn=guard(name, _ops.OPS[name].fn))
        if getattr(Tensor, name, None) is not None:
            setattr(Tensor, name, guard(name, getattr(Tensor, name)))
