"""Every differentiable op: forward on NumPy arrays and its backward rule, side by side.

Read top to bottom like a table of derivatives. In each ``backward(xp, g, out, *inputs)``
``g`` is the gradient flowing in from the output, ``out`` the op's output and ``xp`` the
namespace (:data:`NP` for arrays, :data:`TZ` for tensors under ``create_graph``). Rules that
need a mask compute it from raw data with :func:`_raw`; masks are constants.
"""
from __future__ import annotations

import builtins
import numbers
import operator

import numpy as np

from .function import _F64_CONSTANTS, Function, ShapeError, _call1, _call2, constant
from ._tensor import Tensor, _leaf

_raw = lambda x: x.data if type(x) is Tensor else x  # noqa: E731


def _t(x):
    return x if type(x) is Tensor else constant(x)


_F64 = np.dtype(np.float64)
_new = object.__new__


def _pair(a, b):
    tb = type(b)
    if (tb is float or tb is int) and type(a) is Tensor:
        if a._v is not None and (tb is float or -_EXACT <= b <= _EXACT):
            # a Python-float scalar times a number (2 * w, b + 1): the constant is one too,
            # one shared leaf per value (a fresh one per use cost W2 a tracked object an op)
            c = _LANE_CONSTANTS.get(b)
            if c is not None and c._v is not None:     # None: someone took its .data
                return a, c
            c = _new(Tensor)                # _scalar(float(b)), inlined
            c._d = None
            c._v = b if tb is float else float(b)
            c.grad = None
            c.requires_grad = False
            c.grad_fn = None
            c.name = None
            c._hooks = None
            c._retain = False
            if b and b == b:        # not 0 (0.0 == -0.0 would share) and not NaN
                if len(_LANE_CONSTANTS) >= 4096:
                    _LANE_CONSTANTS.clear()
                _LANE_CONSTANTS[b] = c
            return a, c
        # x * 0.5, the hot case for arrays: see constant(). An equal but distinct float64
        # dtype object (rare) takes the general path below, which gives the same result.
        if a._d is not None and a._d.dtype is _F64:
            arr = _F64_CONSTANTS.get(b)
            if arr is not None:
                return a, _leaf(arr)
    if type(a) is not Tensor:
        a = constant(a, b)
    if tb is not Tensor:
        b = constant(b, a)
    return a, b


_EXACT = 2 ** 53        # integers up to this convert to float64 exactly
_LANE_CONSTANTS = {}    # number -> its constant leaf on the Python-float lane (see _pair)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral):
        axis = (int(axis),)
    return tuple(a % ndim if ndim else a for a in axis)


def _sum_to_np(g, shape):
    """Sum ``g`` down to ``shape`` (the reverse of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    r = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        r = r.reshape(shape)
    return r


def _scatter_np(g, index, shape):
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        z[index] = g
    else:
        np.add.at(z, index, g)
    return z


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (numbers.Integral, slice)) or i is None or i is Ellipsis
               for i in items)


class NP:
    """Backward namespace for NumPy arrays."""
    exp, log, sqrt, sin, cos, tanh = np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh
    broadcast_to, where = staticmethod(np.broadcast_to), staticmethod(np.where)
    sum_to = staticmethod(_sum_to_np)
    scatter = staticmethod(_scatter_np)

    @staticmethod
    def swap(x):
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def sigmoid(x):
        return _sigmoid_np(x)


class TZ:
    """Backward namespace for tensors (``create_graph=True``); filled in below."""


# --- arithmetic --------------------------------------------------------------------------

class Add(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "add", "+"
    forward = staticmethod(operator.add)      # a + b, without a Python frame
    def backward(self, xp, g, out, a, b): return g, g


class Sub(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "sub", "-"
    forward = staticmethod(operator.sub)      # a - b, without a Python frame
    def backward(self, xp, g, out, a, b): return g, -g


class Mul(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "mul", "*"
    forward = staticmethod(operator.mul)      # a * b, without a Python frame
    def backward(self, xp, g, out, a, b): return g * b, g * a


class Div(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "div", "/"
    forward = staticmethod(operator.truediv)      # a / b, without a Python frame
    def backward(self, xp, g, out, a, b): return g / b, -g * out / b


class Neg(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "neg", "-"
    def forward(self, x): return -x
    def backward(self, xp, g, out, x): return -g


class Pow(Function):
    """x ** p with a tensor exponent (gradients for both)."""
    __slots__ = ()
    scalar_rules = True
    name, symbol = "pow", "**"
    def forward(self, x, p): return x ** p
    def backward(self, xp, g, out, x, p):
        gp = g * out * xp.log(xp.where(_raw(x) > 0, x, 1)) if _needs(self, 1) else None
        return g * p * x ** (p - 1), gp


class PowConst(Function):
    """x ** c for a constant number c."""
    __slots__ = ("c",)
    scalar_rules = True
    name = "pow"
    def __init__(self, c): self.c = c
    def label(self): return f"**{_fmt(self.c)}"
    def forward(self, x): return x ** self.c
    def backward(self, xp, g, out, x):
        c = self.c
        if c == 2:
            return g * 2 * x
        if c == 0:      # x**0 is constant 1; avoid 0 * x**-1 = NaN at x = 0
            return g * 0
        return g * c * x ** (c - 1)


class MatMul(Function):
    __slots__ = ()
    name, symbol = "matmul", "@"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: both operands need "
                             f"at least 1 dimension; use * for scalars")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: inner dimensions "
                             f"{ka} and {kb} differ")
        return a @ b

    def backward(self, xp, g, out, a, b):
        if a.ndim == 2 and b.ndim == 2:
            return g @ b.T, a.T @ g
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else \
                g2.reshape(g2.shape + (1,))
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = xp.sum_to(g2 @ xp.swap(b2), a2.shape)
        gb = xp.sum_to(xp.swap(a2) @ g2, b2.shape)
        return ga.reshape(a.shape), gb.reshape(b.shape)


# --- elementwise functions --------------------------------------------------------------

class Exp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "exp"
    def forward(self, x): return np.exp(x)
    def backward(self, xp, g, out, x): return g * out


class Log(Function):
    __slots__ = ()
    scalar_rules = True
    name = "log"
    def forward(self, x): return np.log(x)
    def backward(self, xp, g, out, x): return g / x


class Sqrt(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sqrt"
    def forward(self, x): return np.sqrt(x)
    def backward(self, xp, g, out, x): return g * 0.5 / out


class Abs(Function):
    __slots__ = ()
    scalar_rules = True
    name = "abs"
    def forward(self, x): return np.abs(x)
    def backward(self, xp, g, out, x): return g * np.sign(_raw(x))


class Sin(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sin"
    def forward(self, x): return np.sin(x)
    def backward(self, xp, g, out, x): return g * xp.cos(x)


class Cos(Function):
    __slots__ = ()
    scalar_rules = True
    name = "cos"
    def forward(self, x): return np.cos(x)
    def backward(self, xp, g, out, x): return -g * xp.sin(x)


class Tanh(Function):
    __slots__ = ()
    scalar_rules = True
    name = "tanh"
    def forward(self, x): return np.tanh(x)
    def backward(self, xp, g, out, x): return g * (1 - out * out)


def _sigmoid_np(x):
    # exp(-|x|) never overflows; pick the form that is stable on each side.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sigmoid"
    def forward(self, x): return _sigmoid_np(x)
    def backward(self, xp, g, out, x): return g * out * (1 - out)


class ReLU(Function):
    __slots__ = ()
    scalar_rules = True
    name = "relu"
    _zero_rows = {}     # (dtype, n) -> read-only zeros of shape (n,)

    def forward(self, x):
        if type(x) is np.ndarray and x.size >= 1024 and x.shape[-1] >= 32 and \
                x.dtype.kind == "f" and x.flags.c_contiguous:
            # np.maximum against a zero row runs NumPy's SIMD loop; against the scalar 0
            # it runs a generic one about 2x slower. Smaller arrays or rows lose more to
            # the broadcast than they gain. Same values (NaN stays NaN).
            key = (x.dtype, x.shape[-1])
            z = ReLU._zero_rows.get(key)
            if z is None:
                if len(ReLU._zero_rows) > 64:
                    ReLU._zero_rows.clear()
                z = ReLU._zero_rows[key] = np.zeros(key[1], dtype=key[0])
                z.flags.writeable = False
            return np.maximum(x, z)
        return np.maximum(x, 0)

    # relu(x) > 0 exactly where x > 0 (NaN: neither); the output is the array the next
    # layer's backward has just read, so its mask is the cheaper one to make
    def backward(self, xp, g, out, x): return g * (_raw(out) > 0)


class LeakyReLU(Function):
    __slots__ = ("slope",)
    name = "leaky_relu"
    def __init__(self, slope): self.slope = slope
    def forward(self, x): return np.where(x > 0, x, x * self.slope)
    def backward(self, xp, g, out, x):
        return g * np.where(_raw(x) > 0, 1, self.slope).astype(_raw(x).dtype)


class Softplus(Function):
    __slots__ = ()
    name = "softplus"
    def forward(self, x): return np.logaddexp(0, x)
    def backward(self, xp, g, out, x): return g * xp.sigmoid(x)


class Maximum(Function):
    __slots__ = ()
    name = "maximum"
    def forward(self, a, b): return np.maximum(a, b)
    def backward(self, xp, g, out, a, b):
        # ties share the gradient equally
        ra, rb = _raw(a), _raw(b)
        wa = (ra > rb) + 0.5 * (ra == rb)
        return g * wa.astype(_raw(g).dtype), g * (1 - wa).astype(_raw(g).dtype)


class Minimum(Function):
    __slots__ = ()
    name = "minimum"
    def forward(self, a, b): return np.minimum(a, b)
    def backward(self, xp, g, out, a, b):
        ra, rb = _raw(a), _raw(b)
        wa = (ra < rb) + 0.5 * (ra == rb)
        return g * wa.astype(_raw(g).dtype), g * (1 - wa).astype(_raw(g).dtype)


class Where(Function):
    """where(cond, a, b); ``cond`` is a constant boolean array."""
    __slots__ = ("cond",)
    name = "where"
    def __init__(self, cond): self.cond = cond
    def forward(self, a, b): return np.where(self.cond, a, b)
    def backward(self, xp, g, out, a, b):
        return g * self.cond, g * ~np.asarray(self.cond)


class Clip(Function):
    __slots__ = ("lo", "hi")
    name = "clip"
    def __init__(self, lo, hi): self.lo, self.hi = lo, hi
    def label(self): return f"clip[{_fmt(self.lo)}, {_fmt(self.hi)}]"
    def forward(self, x): return np.clip(x, self.lo, self.hi)
    def backward(self, xp, g, out, x):
        r = _raw(x)
        m = np.ones(r.shape, dtype=bool)
        if self.lo is not None:
            m &= r >= self.lo
        if self.hi is not None:
            m &= r <= self.hi
        return g * m


class AsType(Function):
    __slots__ = ("dtype",)
    name = "astype"
    def __init__(self, dtype): self.dtype = np.dtype(dtype)
    def forward(self, x): return x.astype(self.dtype)
    def backward(self, xp, g, out, x): return g.astype(_raw(x).dtype)


# --- reductions -------------------------------------------------------------------------

def _expand(g, in_shape, axes, keepdims):
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if keepdims or not in_shape:
        return g
    shape = list(in_shape)
    for a in axes:
        shape[a] = 1
    return g.reshape(tuple(shape))


class Sum(Function):
    __slots__ = ("axis", "keepdims")
    name = "sum"
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return x.sum(axis=self.axis, keepdims=self.keepdims)
    def backward(self, xp, g, out, x):
        axes = _axes(self.axis, x.ndim)
        return xp.broadcast_to(_expand(g, x.shape, axes, self.keepdims), x.shape)


class Mean(Function):
    __slots__ = ("axis", "keepdims")
    name = "mean"
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return x.mean(axis=self.axis, keepdims=self.keepdims)
    def backward(self, xp, g, out, x):
        axes = _axes(self.axis, x.ndim)
        n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        return xp.broadcast_to(_expand(g, x.shape, axes, self.keepdims) / n, x.shape)


class _Extreme(Function):
    __slots__ = ("axis", "keepdims")
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def backward(self, xp, g, out, x):
        axes = _axes(self.axis, x.ndim)
        o = _expand(_raw(out), x.shape, axes, self.keepdims)
        mask = _raw(x) == o
        weight = (mask / mask.sum(axis=axes, keepdims=True)).astype(_raw(x).dtype)
        return _expand(g, x.shape, axes, self.keepdims) * weight


class Max(_Extreme):
    __slots__ = ()
    name = "max"
    def forward(self, x): return x.max(axis=self.axis, keepdims=self.keepdims)


class Min(_Extreme):
    __slots__ = ()
    name = "min"
    def forward(self, x): return x.min(axis=self.axis, keepdims=self.keepdims)


class LogSumExp(Function):
    __slots__ = ("axis", "keepdims")
    name = "logsumexp"
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def forward(self, x):
        m = x.max(axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        r = np.log(np.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        return r if self.keepdims else r.squeeze(axis=self.axis) if self.axis is not None \
            else r.reshape(())
    def backward(self, xp, g, out, x):
        axes = _axes(self.axis, x.ndim)
        o = _expand(out, x.shape, axes, self.keepdims)
        return _expand(g, x.shape, axes, self.keepdims) * xp.exp(x - o)


class Softmax(Function):
    __slots__ = ("axis",)
    name = "softmax"
    def __init__(self, axis): self.axis = axis
    def forward(self, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)
    def backward(self, xp, g, out, x):
        gy = g * out
        return gy - out * gy.sum(axis=self.axis, keepdims=True)


class LogSoftmax(Function):
    __slots__ = ("axis",)
    name = "log_softmax"
    def __init__(self, axis): self.axis = axis
    def forward(self, x):
        s = x - x.max(axis=self.axis, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=self.axis, keepdims=True))
    def backward(self, xp, g, out, x):
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)


# --- shapes -----------------------------------------------------------------------------

class Reshape(Function):
    __slots__ = ("shape",)
    name = "reshape"
    def __init__(self, shape): self.shape = shape
    def label(self): return f"reshape{self.shape}"
    def forward(self, x): return x.reshape(self.shape)
    def backward(self, xp, g, out, x): return g.reshape(x.shape)


class Transpose(Function):
    __slots__ = ("axes",)
    name = "transpose"
    def __init__(self, axes): self.axes = axes
    def forward(self, x): return x.transpose(self.axes)
    def backward(self, xp, g, out, x):
        if self.axes is None:
            return g.transpose()
        return g.transpose(tuple(np.argsort(self.axes)))


class BroadcastTo(Function):
    __slots__ = ("shape",)
    name = "broadcast_to"
    def __init__(self, shape): self.shape = shape
    def forward(self, x): return np.broadcast_to(x, self.shape)
    def backward(self, xp, g, out, x): return xp.sum_to(g, x.shape)


class SumTo(Function):
    __slots__ = ("shape",)
    name = "sum_to"
    def __init__(self, shape): self.shape = shape
    def forward(self, x): return _sum_to_np(x, self.shape)
    def backward(self, xp, g, out, x): return xp.broadcast_to(g, x.shape)


class Concatenate(Function):
    __slots__ = ("axis",)
    name = "concatenate"
    def __init__(self, axis): self.axis = axis
    def forward(self, *xs): return np.concatenate(xs, axis=self.axis)
    def backward(self, xp, g, out, *xs):
        ax = self.axis % out.ndim
        grads, start = [], 0
        for x in xs:
            n = x.shape[ax]
            grads.append(g[(slice(None),) * ax + (slice(start, start + n),)])
            start += n
        return tuple(grads) if len(grads) > 1 else grads[0]   # one input: one value


class Stack(Function):
    __slots__ = ("axis",)
    name = "stack"
    def __init__(self, axis): self.axis = axis
    def forward(self, *xs): return np.stack(xs, axis=self.axis)
    def backward(self, xp, g, out, *xs):
        ax = self.axis % out.ndim
        grads = tuple(g[(slice(None),) * ax + (i,)] for i in range(len(xs)))
        return grads if len(grads) > 1 else grads[0]   # one input: one value


class GetItem(Function):
    __slots__ = ("index",)
    name = "getitem"
    def __init__(self, index): self.index = index
    def label(self): return "[" + _index_str(self.index) + "]"
    def forward(self, x):
        r = x[self.index]
        return r.copy() if isinstance(r, np.ndarray) and r.base is not None else r
    def backward(self, xp, g, out, x): return xp.scatter(g, self.index, x.shape)


class IndexAdd(Function):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate)."""
    __slots__ = ("index", "shape")
    name = "index_add"
    def __init__(self, index, shape): self.index, self.shape = index, shape
    def forward(self, g): return _scatter_np(g, self.index, self.shape)
    def backward(self, xp, g, out, x): return g[self.index]


def _index_str(index):
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, slice):
            out.append(":" if i == slice(None) else
                       f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
                       + ("" if i.step is None else f":{i.step}"))
        elif i is Ellipsis:
            out.append("...")
        elif i is None:
            out.append("None")
        elif isinstance(i, np.ndarray):
            out.append(f"<{i.dtype} array {i.shape}>")
        else:
            out.append(str(i))
    return ", ".join(out)


def _fmt(v):
    return "None" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _needs(fn, i):
    inputs = getattr(fn, "inputs", None)
    return inputs is None or inputs[i].requires_grad


# --- public functions -------------------------------------------------------------------

def add(a, b):
    """Elementwise a + b with broadcasting."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _pair(a, b)
    return _call2(_new(Add), a, b)


def sub(a, b):
    """Elementwise a - b with broadcasting."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _pair(a, b)
    return _call2(_new(Sub), a, b)


def mul(a, b):
    """Elementwise a * b with broadcasting."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _pair(a, b)
    return _call2(_new(Mul), a, b)


def div(a, b):
    """Elementwise a / b with broadcasting."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = _pair(a, b)
    return _call2(_new(Div), a, b)


def neg(x):
    return Neg()(_t(x))


def pow(x, p):  # noqa: A001
    """x ** p; ``p`` a number (fast path) or a tensor."""
    if isinstance(p, numbers.Real) and not isinstance(p, bool) and type(x) is Tensor:
        return PowConst(p)(x)
    x, p = _pair(x, p)
    return Pow()(x, p)


def matmul(a, b):
    """Matrix product of 1-D, 2-D or batched operands (NumPy's ``@`` rules)."""
    a, b = _pair(a, b)
    return MatMul()(a, b)


def _unary(cls, doc):
    assert cls.__init__ is object.__init__      # made with _new, as + - * / are

    def f(x):
        return _call1(_new(cls), x if type(x) is Tensor else constant(x))
    f.__name__ = cls.name
    f.__doc__ = doc
    return f


exp = _unary(Exp, "Elementwise e**x.")
log = _unary(Log, "Elementwise natural logarithm.")
sqrt = _unary(Sqrt, "Elementwise square root.")
abs = _unary(Abs, "Elementwise |x| (gradient sign(x), 0 at 0).")  # noqa: A001
sin = _unary(Sin, "Elementwise sine.")
cos = _unary(Cos, "Elementwise cosine.")
tanh = _unary(Tanh, "Elementwise hyperbolic tangent.")
sigmoid = _unary(Sigmoid, "Elementwise logistic function 1 / (1 + e**-x), computed stably.")
relu = _unary(ReLU, "Elementwise max(x, 0) (gradient 0 at 0).")
softplus = _unary(Softplus, "Elementwise log(1 + e**x), computed stably.")


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    return LeakyReLU(negative_slope)(_t(x))


def maximum(a, b):
    """Elementwise maximum; at ties the gradient is shared equally."""
    a, b = _pair(a, b)
    return Maximum()(a, b)


def minimum(a, b):
    """Elementwise minimum; at ties the gradient is shared equally."""
    a, b = _pair(a, b)
    return Minimum()(a, b)


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` else ``b``; ``cond`` carries no gradient."""
    c = np.asarray(_raw(cond) if not isinstance(cond, Tensor) else cond.data, dtype=bool)
    a, b = _pair(a, b)
    return Where(c)(a, b)


def clip(x, min=None, max=None):  # noqa: A002
    """Limit values to [min, max]; the gradient is 0 where clipped."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    return Clip(min, max)(_t(x))


def _torch_names(op, axis, keepdims, dim, keepdim, default_axis=None):
    """Accept PyTorch's ``dim``/``keepdim`` for NumPy's ``axis``/``keepdims``."""
    if dim is not None:
        if axis != default_axis and axis != dim:
            raise TypeError(f"{op}: got axis={axis!r} and dim={dim!r}; dim is PyTorch's "
                            f"name for axis, give one of them")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, keepdims


def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest value over ``axis`` (flat index by default); no gradient.

    Returns an int64 tensor that requires no grad, e.g. predicted classes
    ``logits.argmax(axis=1)``.
    """
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("argmax", axis, keepdims, dim, keepdim)
    from ._tensor import _leaf as mk
    x = _t(x)
    return mk(np.argmax(x.data, axis=_check_axis("argmax", x, axis), keepdims=keepdims))


def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest value over ``axis`` (flat index by default); no gradient."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("argmin", axis, keepdims, dim, keepdim)
    from ._tensor import _leaf as mk
    x = _t(x)
    return mk(np.argmin(x.data, axis=_check_axis("argmin", x, axis), keepdims=keepdims))


def astype(x, dtype):
    """Cast to ``dtype``; differentiable between float dtypes."""
    x = _t(x)
    if np.dtype(dtype).kind not in "fc" and x.requires_grad:
        from ._tensor import _leaf as mk
        return mk(x.data.astype(dtype))
    return AsType(dtype)(x)


def _check_axis(op, x, axis):
    if axis is None:
        return None
    nd = x.ndim
    for a in ((axis,) if isinstance(axis, numbers.Integral) else axis):
        if not -nd <= a < builtins.max(nd, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor of shape "
                             f"{x.shape} ({nd} dimensions)")
    return axis if isinstance(axis, numbers.Integral) else tuple(axis)


def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None):  # noqa: A001
    """Sum over ``axis`` (all by default)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("sum", axis, keepdims, dim, keepdim)
    x = _t(x)
    return Sum(_check_axis("sum", x, axis), keepdims)(x)


def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Mean over ``axis`` (all by default)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("mean", axis, keepdims, dim, keepdim)
    x = _t(x)
    return Mean(_check_axis("mean", x, axis), keepdims)(x)


def _torch_max_min(op, kwargs):
    names = ", ".join(f"{k}=" for k in kwargs)
    if set(kwargs) <= {"dim", "keepdim"}:
        raise TypeError(f"{op}: got {names}; PyTorch's {op}(dim=) returns (values, indices), "
                        f"this one returns values only: use x.{op}(axis=...) for the values "
                        f"and x.arg{op}(axis=...) for the indices")
    raise TypeError(f"{op}() got unexpected keyword arguments: {names}")


def max(x, axis=None, keepdims=False, **torch_style):  # noqa: A001
    """Maximum over ``axis``; ties share the gradient."""
    if torch_style:
        _torch_max_min("max", torch_style)
    x = _t(x)
    return Max(_check_axis("max", x, axis), keepdims)(x)


def min(x, axis=None, keepdims=False, **torch_style):  # noqa: A001
    """Minimum over ``axis``; ties share the gradient."""
    if torch_style:
        _torch_max_min("min", torch_style)
    x = _t(x)
    return Min(_check_axis("min", x, axis), keepdims)(x)


def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis``, computed without overflow."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("logsumexp", axis, keepdims, dim, keepdim)
    x = _t(x)
    return LogSumExp(_check_axis("logsumexp", x, axis), keepdims)(x)


def softmax(x, axis=-1, *, dim=None):
    """exp(x) / sum(exp(x)) along ``axis``, computed stably."""
    if dim is not None:
        axis = _torch_names("softmax", axis, None, dim, None, -1)[0]
    x = _t(x)
    return Softmax(_check_axis("softmax", x, axis))(x)


def log_softmax(x, axis=-1, *, dim=None):
    """x - logsumexp(x) along ``axis``."""
    if dim is not None:
        axis = _torch_names("log_softmax", axis, None, dim, None, -1)[0]
    x = _t(x)
    return LogSoftmax(_check_axis("log_softmax", x, axis))(x)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    """Same data, new shape (one dimension may be -1)."""
    x = _t(x)
    shape = _shape_arg(shape)
    try:
        np.empty(x.shape, dtype=bool).reshape(shape)
    except ValueError:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {x.shape} "
                         f"({x.size} elements) into shape {shape}") from None
    return Reshape(shape)(x)


def transpose(x, *axes):
    """Permute the axes (reverse them by default); ``.T`` is the default."""
    x = _t(x)
    axes = _shape_arg(axes) if axes and axes != (None,) else None
    if axes is not None:
        nd = x.ndim
        if not all(-nd <= a < nd for a in axes) or \
                sorted(a % nd for a in axes) != list(range(nd)):
            raise ShapeError(f"transpose: axes {axes} are not a permutation of the "
                             f"{nd} dimensions of shape {x.shape}")
        axes = tuple(a % nd for a in axes)      # backward inverts them with argsort
    return Transpose(axes)(x)


def permute(x, *dims):
    """Reorder the dimensions, e.g. ``x.permute(2, 0, 1)``."""
    return transpose(x, *dims)


def swapaxes(x, a1, a2):
    x = _t(x)
    axes = list(range(x.ndim))
    axes[a1], axes[a2] = axes[a2], axes[a1]
    return Transpose(tuple(axes))(x)


def squeeze(x, axis=None):
    """Remove dimensions of size 1 (all, or the given ones)."""
    x = _t(x)
    if axis is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = _axes(_check_axis("squeeze", x, axis), x.ndim)
        for a in axes:
            if x.shape[a] != 1:
                raise ShapeError(f"squeeze: dimension {a} of shape {x.shape} has size "
                                 f"{x.shape[a]}, not 1")
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return Reshape(shape)(x)


def unsqueeze(x, axis):
    """Insert a dimension of size 1 at ``axis``."""
    x = _t(x)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise ShapeError(f"unsqueeze: axis {axis} is out of range for a result with "
                         f"{nd} dimensions")
    shape = list(x.shape)
    shape.insert(axis % nd, 1)
    return Reshape(tuple(shape))(x)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one (PyTorch's meaning)."""
    x = _t(x)
    if x.ndim == 0:
        return Reshape((1,))(x)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    n = int(np.prod(x.shape[s:e + 1]))
    return Reshape(x.shape[:s] + (n,) + x.shape[e + 1:])(x)


def broadcast_to(x, shape):
    """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules."""
    x = _t(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return BroadcastTo(shape)(x)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape``: the adjoint of :func:`broadcast_to`."""
    x = _t(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo(shape)(x)


def concatenate(tensors, axis=0, *, dim=None):
    """Join tensors along an existing axis."""
    if dim is not None:
        axis = _torch_names("concatenate", axis, None, dim, None, 0)[0]
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    return Concatenate(axis)(*ts)


cat = concatenate


def stack(tensors, axis=0, *, dim=None):
    """Join tensors along a new axis."""
    if dim is not None:
        axis = _torch_names("stack", axis, None, dim, None, 0)[0]
    ts = [_t(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    return Stack(axis)(*ts)


def _clean_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x, index):
    """``x[index]`` with ints, slices, None, Ellipsis, boolean masks and integer arrays."""
    x = _t(x)
    return GetItem(_clean_index(index))(x)


def index_add(g, index, shape):
    """zeros(shape) with ``g`` added at ``index``: the adjoint of indexing."""
    return IndexAdd(index, tuple(shape))(_t(g))


# --- comparisons (no gradient) ----------------------------------------------------------

def _compare(npf):
    def f(a, b):
        return _leaf(npf(_raw(a), _raw(b)))
    return f


# --- Tensor methods and operators -------------------------------------------------------

def _rsub(a, b): return sub(b, a)
def _rdiv(a, b): return div(b, a)
def _rpow(a, b): return pow(b, a)
def _rmatmul(a, b): return matmul(b, a)


def _reshape_method(self, *shape): return reshape(self, *shape)
def _transpose_method(self, *axes): return transpose(self, *axes)


def _setitem(self, index, value):
    from ._tensor import is_grad_enabled
    if self.requires_grad and is_grad_enabled():
        raise RuntimeError("setitem: in-place assignment into a tensor that requires grad "
                           "would corrupt the graph; build a new tensor with zeroin.where or "
                           "wrap the assignment in zeroin.no_grad()")
    self.data[_clean_index(index)] = _raw(value)


def _inplace(npf, symbol):
    """``t op= value`` updates ``t.data`` in place, as PyTorch does under no_grad.

    With grad recording on, a tensor in the graph cannot be changed in place (its old value
    may be needed by backward), so that is refused instead of silently rebinding the name.
    """
    def f(self, value):
        from ._tensor import is_grad_enabled
        if is_grad_enabled() and (self.requires_grad or
                                  (type(value) is Tensor and value.requires_grad)):
            raise RuntimeError(
                f"in-place {symbol}=: this tensor (shape {self.data.shape}) is part of the "
                f"graph; update parameters inside `with zeroin.no_grad():` (e.g. "
                f"`w -= lr * w.grad`), or write `w = w {symbol} value` to build a new tensor")
        v = _raw(value)
        try:
            npf(self.data, v, out=self.data, casting="same_kind")
        except ValueError as e:
            raise ShapeError(f"in-place {symbol}=: shapes {self.data.shape} and "
                             f"{np.shape(v)}: {e}") from None
        except TypeError as e:
            raise TypeError(f"in-place {symbol}=: cannot store the result in a "
                            f"{self.data.dtype} tensor: {e}") from None
        return self
    f.__name__ = f"__i{npf.__name__}__"
    return f


_methods = dict(
    __iadd__=_inplace(np.add, "+"), __isub__=_inplace(np.subtract, "-"),
    __imul__=_inplace(np.multiply, "*"), __itruediv__=_inplace(np.divide, "/"),
    __add__=add, __radd__=add, __sub__=sub, __rsub__=_rsub, __mul__=mul, __rmul__=mul,
    __truediv__=div, __rtruediv__=_rdiv, __pow__=pow, __rpow__=_rpow, __matmul__=matmul,
    __rmatmul__=_rmatmul, __neg__=neg, __pos__=lambda self: self, __abs__=abs,
    __getitem__=getitem, __setitem__=_setitem,
    __lt__=_compare(np.less), __le__=_compare(np.less_equal), __gt__=_compare(np.greater),
    __ge__=_compare(np.greater_equal), __eq__=_compare(np.equal),
    __ne__=_compare(np.not_equal),
    exp=exp, log=log, sqrt=sqrt, abs=abs, sin=sin, cos=cos, tanh=tanh, sigmoid=sigmoid,
    relu=relu, leaky_relu=leaky_relu, softplus=softplus, clip=clip, clamp=clip, sum=sum,
    mean=mean, argmax=argmax, argmin=argmin,
    max=max, min=min, logsumexp=logsumexp, softmax=softmax, log_softmax=log_softmax,
    reshape=_reshape_method, view=_reshape_method, transpose=_transpose_method,
    permute=permute, squeeze=squeeze, unsqueeze=unsqueeze, flatten=flatten,
    broadcast_to=broadcast_to, sum_to=sum_to, pow=pow, matmul=matmul, maximum=maximum,
    minimum=minimum, swapaxes=swapaxes,
)
for _k, _v in _methods.items():
    setattr(Tensor, _k, _v)


# --- the tensor namespace for create_graph backward -------------------------------------

TZ.exp, TZ.log, TZ.sqrt, TZ.sin, TZ.cos, TZ.tanh = (staticmethod(f) for f in
                                                    (exp, log, sqrt, sin, cos, tanh))
TZ.sigmoid = staticmethod(sigmoid)
TZ.broadcast_to = staticmethod(broadcast_to)
TZ.sum_to = staticmethod(sum_to)
TZ.scatter = staticmethod(index_add)
TZ.swap = staticmethod(lambda x: swapaxes(x, -1, -2))
TZ.where = staticmethod(where)
