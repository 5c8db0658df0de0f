"""More ops under PyTorch's names: elementwise math, activations, reductions, movement.

Same layout as :mod:`zeroin.ops` (one block per op: the ``...Op`` class, then its public
function registered with :func:`~zeroin.ops.op`). Rules are written with ``xp`` and tensor
arithmetic, so that they can be differentiated again under ``create_graph=True``. Ops built
from other ops (``std``, ``norm``, ``gather``...) have no rule of their own; they are
registered with the classes they record.
"""
from __future__ import annotations

import builtins
import math
import numbers

import numpy as np

from ._tensor import Tensor, _leaf
from .errors import ShapeError
from .function import Function
from .ops import (NP, TZ, GetItemOp, MaxOp, MeanOp, MulOp, ReshapeOp, SubOp, SumOp,
                  ValuesIndices, WhereOp, _DimError, _check_axis, _dim_names, _raw, _t,
                  _unary, getitem, op)
from . import ops as _ops

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _erf_np(x):
    try:
        from scipy.special import erf
    except ImportError:                                 # NumPy has no erf
        erf = np.vectorize(math.erf, otypes=[np.float64])
    r = erf(x)
    return r.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else r


# --- elementwise: rounding (zero gradient, as in PyTorch) --------------------------------

class _StepOp(Function):
    """Piecewise-constant functions: the gradient is zero almost everywhere."""
    __slots__ = ()
    def backward(self, xp, g, out, x): return g * 0


class CeilOp(_StepOp):
    __slots__ = ()
    name = "ceil"
    def forward(self, x): return np.ceil(x)


ceil = _unary(CeilOp, "Elementwise ceiling (gradient 0).")


class FloorOp(_StepOp):
    __slots__ = ()
    name = "floor"
    def forward(self, x): return np.floor(x)


floor = _unary(FloorOp, "Elementwise floor (gradient 0).")


class TruncOp(_StepOp):
    __slots__ = ()
    name = "trunc"
    def forward(self, x): return np.trunc(x)


trunc = _unary(TruncOp, "Elementwise rounding toward zero (gradient 0).")


class SignOp(_StepOp):
    __slots__ = ()
    name = "sign"
    def forward(self, x): return np.sign(x)


sign = _unary(SignOp, "Elementwise sign: -1, 0 or 1 (gradient 0).", ("sign", "sgn"))
sgn = sign


class RoundOp(_StepOp):
    __slots__ = ("decimals",)
    name = "round"
    def __init__(self, decimals): self.decimals = decimals
    def forward(self, x): return np.round(x, self.decimals)


@op(RoundOp, methods=("round",))
def round(x, decimals=0):  # noqa: A001
    """Round to ``decimals`` places, halves to even (as PyTorch and NumPy); gradient 0."""
    return RoundOp(int(decimals))(_t(x))


class FracOp(Function):
    __slots__ = ()
    name = "frac"
    def forward(self, x): return x - np.trunc(x)
    def backward(self, xp, g, out, x): return g


frac = _unary(FracOp, "Elementwise fractional part x - trunc(x).")


# --- elementwise: smooth functions -------------------------------------------------------

class TanOp(Function):
    __slots__ = ()
    name = "tan"
    def forward(self, x): return np.tan(x)
    def backward(self, xp, g, out, x): return g * (1 + out * out)


tan = _unary(TanOp, "Elementwise tangent.")


class AsinOp(Function):
    __slots__ = ()
    name = "asin"
    def forward(self, x): return np.arcsin(x)
    def backward(self, xp, g, out, x): return g / xp.sqrt(1 - x * x)


asin = _unary(AsinOp, "Elementwise arcsine.", ("asin", "arcsin"))


class AcosOp(Function):
    __slots__ = ()
    name = "acos"
    def forward(self, x): return np.arccos(x)
    def backward(self, xp, g, out, x): return -g / xp.sqrt(1 - x * x)


acos = _unary(AcosOp, "Elementwise arccosine.", ("acos", "arccos"))


class AtanOp(Function):
    __slots__ = ()
    name = "atan"
    def forward(self, x): return np.arctan(x)
    def backward(self, xp, g, out, x): return g / (1 + x * x)


atan = _unary(AtanOp, "Elementwise arctangent.", ("atan", "arctan"))


class SinhOp(Function):
    __slots__ = ()
    name = "sinh"
    def forward(self, x): return np.sinh(x)
    def backward(self, xp, g, out, x): return g * xp.cosh(x)


sinh = _unary(SinhOp, "Elementwise hyperbolic sine.")


class CoshOp(Function):
    __slots__ = ()
    name = "cosh"
    def forward(self, x): return np.cosh(x)
    def backward(self, xp, g, out, x): return g * xp.sinh(x)


cosh = _unary(CoshOp, "Elementwise hyperbolic cosine.")


class AsinhOp(Function):
    __slots__ = ()
    name = "asinh"
    def forward(self, x): return np.arcsinh(x)
    def backward(self, xp, g, out, x): return g / xp.sqrt(x * x + 1)


asinh = _unary(AsinhOp, "Elementwise inverse hyperbolic sine.")


class AcoshOp(Function):
    __slots__ = ()
    name = "acosh"
    def forward(self, x): return np.arccosh(x)
    def backward(self, xp, g, out, x): return g / xp.sqrt(x * x - 1)


acosh = _unary(AcoshOp, "Elementwise inverse hyperbolic cosine.")


class AtanhOp(Function):
    __slots__ = ()
    name = "atanh"
    def forward(self, x): return np.arctanh(x)
    def backward(self, xp, g, out, x): return g / (1 - x * x)


atanh = _unary(AtanhOp, "Elementwise inverse hyperbolic tangent.")


class Log2Op(Function):
    __slots__ = ()
    name = "log2"
    def forward(self, x): return np.log2(x)
    def backward(self, xp, g, out, x): return g / (x * _LN2)


log2 = _unary(Log2Op, "Elementwise base-2 logarithm.")


class Log10Op(Function):
    __slots__ = ()
    name = "log10"
    def forward(self, x): return np.log10(x)
    def backward(self, xp, g, out, x): return g / (x * _LN10)


log10 = _unary(Log10Op, "Elementwise base-10 logarithm.")


class Log1pOp(Function):
    __slots__ = ()
    name = "log1p"
    def forward(self, x): return np.log1p(x)
    def backward(self, xp, g, out, x): return g / (1 + x)


log1p = _unary(Log1pOp, "Elementwise log(1 + x), accurate for small x.")


class Exp2Op(Function):
    __slots__ = ()
    name = "exp2"
    def forward(self, x): return np.exp2(x)
    def backward(self, xp, g, out, x): return g * out * _LN2


exp2 = _unary(Exp2Op, "Elementwise 2**x.")


class Expm1Op(Function):
    __slots__ = ()
    name = "expm1"
    def forward(self, x): return np.expm1(x)
    def backward(self, xp, g, out, x): return g * (out + 1)


expm1 = _unary(Expm1Op, "Elementwise e**x - 1, accurate for small x.")


class RsqrtOp(Function):
    __slots__ = ()
    name = "rsqrt"
    def forward(self, x): return 1 / np.sqrt(x)
    def backward(self, xp, g, out, x): return g * -0.5 * out / x


rsqrt = _unary(RsqrtOp, "Elementwise 1 / sqrt(x).")


class SquareOp(Function):
    __slots__ = ()
    name = "square"
    def forward(self, x): return x * x
    def backward(self, xp, g, out, x): return g * 2 * x


square = _unary(SquareOp, "Elementwise x * x.")


class ReciprocalOp(Function):
    __slots__ = ()
    name = "reciprocal"
    def forward(self, x): return 1 / x
    def backward(self, xp, g, out, x): return -g * out * out


reciprocal = _unary(ReciprocalOp, "Elementwise 1 / x.")


class ErfOp(Function):
    __slots__ = ()
    name = "erf"
    def forward(self, x): return _erf_np(x)
    def backward(self, xp, g, out, x): return g * (2 / math.sqrt(math.pi)) * xp.exp(-x * x)


erf = _unary(ErfOp, "Elementwise error function.")


class ErfcOp(Function):
    __slots__ = ()
    name = "erfc"
    def forward(self, x): return 1 - _erf_np(x)
    def backward(self, xp, g, out, x): return g * (-2 / math.sqrt(math.pi)) * xp.exp(-x * x)


erfc = _unary(ErfcOp, "Elementwise 1 - erf(x).")


class LogitOp(Function):
    __slots__ = ()
    name = "logit"
    def forward(self, x): return np.log(x / (1 - x))
    def backward(self, xp, g, out, x): return g / (x * (1 - x))


logit = _unary(LogitOp, "Elementwise log(x / (1 - x)), the inverse of sigmoid.")


class Deg2RadOp(Function):
    __slots__ = ()
    name = "deg2rad"
    def forward(self, x): return x * (math.pi / 180)
    def backward(self, xp, g, out, x): return g * (math.pi / 180)


deg2rad = _unary(Deg2RadOp, "Degrees to radians.")


class Atan2Op(Function):
    __slots__ = ()
    name = "atan2"
    def forward(self, y, x): return np.arctan2(y, x)
    def backward(self, xp, g, out, y, x):
        ny, nx = self.needs_input_grad
        r = x * x + y * y
        return (g * x / r if ny else None), (-g * y / r if nx else None)


@op(Atan2Op, methods=("atan2", "arctan2"))
def atan2(input, other):  # noqa: A002
    """Elementwise angle of the point (other, input), in (-pi, pi]."""
    a, b = _ops._pair(input, other)
    return Atan2Op()(a, b)


class RemainderOp(Function):
    """x mod c for a constant c: fmod (sign of x) or remainder (sign of c)."""
    __slots__ = ("c", "python")
    name = "remainder"
    def __init__(self, c, python): self.c, self.python = c, python
    def forward(self, x): return np.mod(x, self.c) if self.python else np.fmod(x, self.c)
    def backward(self, xp, g, out, x): return g


@op(RemainderOp, methods=("remainder", "__mod__"))
def remainder(input, other):  # noqa: A002
    """``input % other`` with the sign of ``other`` (Python's rule); ``other`` a number."""
    return RemainderOp(_number("remainder", other), True)(_t(input))


@op(RemainderOp, methods=("fmod",))
def fmod(input, other):  # noqa: A002
    """C's remainder (the sign of ``input``); ``other`` a number."""
    return RemainderOp(_number("fmod", other), False)(_t(input))


def _number(name, v):
    if isinstance(v, Tensor):
        if v.data.size != 1:
            raise TypeError(f"{name}: the divisor must be a number or a one-element tensor, "
                            f"got shape {v.shape}")
        v = v.item()
    return v


# --- activations ---------------------------------------------------------------------------

class HardtanhOp(Function):
    __slots__ = ("lo", "hi")
    name = "hardtanh"
    def __init__(self, lo, hi): self.lo, self.hi = lo, hi
    def forward(self, x): return np.clip(x, self.lo, self.hi)
    def backward(self, xp, g, out, x):
        r = _raw(x)
        return g * ((r > self.lo) & (r < self.hi))


@op(HardtanhOp, methods=())
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """Clamp to [min_val, max_val]; gradient 1 strictly inside, 0 outside."""
    return HardtanhOp(min_val, max_val)(_t(input))


@op(HardtanhOp, methods=())
def relu6(input, inplace=False):  # noqa: A002
    """min(max(x, 0), 6)."""
    return HardtanhOp(0.0, 6.0)(_t(input))


class ELUOp(Function):
    """x for x > 0, else alpha * (exp(x / beta) - 1) scaled: elu, celu and selu."""
    __slots__ = ("alpha", "scale", "beta")
    name = "elu"
    def __init__(self, alpha, scale=1.0, beta=1.0):
        self.alpha, self.scale, self.beta = alpha, scale, beta
    def forward(self, x):
        neg = self.alpha * np.expm1(np.minimum(x, 0) / self.beta)
        return self.scale * np.where(x > 0, x, neg)
    def backward(self, xp, g, out, x):
        pos = _raw(x) > 0
        # below 0: d/dx scale * alpha * (e^(x/beta) - 1) = (out + scale * alpha) / beta
        neg = (out + self.scale * self.alpha) / self.beta
        return g * xp.where(pos, self.scale, neg)


@op(ELUOp)
def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, else alpha * (e**x - 1)."""
    return ELUOp(float(alpha))(_t(input))


@op(ELUOp)
def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, else alpha * (e**(x / alpha) - 1)."""
    return ELUOp(float(alpha), 1.0, float(alpha))(_t(input))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@op(ELUOp)
def selu(input, inplace=False):  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants."""
    return ELUOp(_SELU_ALPHA, _SELU_SCALE)(_t(input))


class GELUOp(Function):
    """x * Phi(x), exactly (with erf) or with PyTorch's tanh approximation."""
    __slots__ = ("tanh",)
    name = "gelu"
    _K = math.sqrt(2 / math.pi)
    def __init__(self, tanh): self.tanh = tanh
    def label(self): return "gelu[tanh]" if self.tanh else "gelu"
    def forward(self, x):
        if self.tanh:
            return 0.5 * x * (1 + np.tanh(self._K * (x + 0.044715 * x ** 3)))
        return 0.5 * x * (1 + _erf_np(x / math.sqrt(2)))
    def backward(self, xp, g, out, x):
        if self.tanh:
            t = xp.tanh(self._K * (x + 0.044715 * x * x * x))
            dt = (1 - t * t) * self._K * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * dt)
        cdf = 0.5 * (1 + xp.erf(x * (1 / math.sqrt(2))))
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + x * pdf)


@op(GELUOp)
def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit; ``approximate="tanh"`` for the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUOp(approximate == "tanh")(_t(input))


class SiLUOp(Function):
    __slots__ = ()
    name = "silu"
    def forward(self, x): return x * _ops.sigmoid_array(x)
    def backward(self, xp, g, out, x):
        s = xp.sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


silu = _unary(SiLUOp, "x * sigmoid(x) (also called swish).", ())


class MishOp(Function):
    __slots__ = ()
    name = "mish"
    def forward(self, x): return x * np.tanh(np.logaddexp(0, x))
    def backward(self, xp, g, out, x):
        t = xp.tanh(xp.softplus(x))
        return g * (t + x * (1 - t * t) * xp.sigmoid(x))


mish = _unary(MishOp, "x * tanh(softplus(x)).", ())


class SoftsignOp(Function):
    __slots__ = ()
    name = "softsign"
    def forward(self, x): return x / (1 + np.abs(x))
    def backward(self, xp, g, out, x):
        d = 1 + xp.abs(x)
        return g / (d * d)


softsign = _unary(SoftsignOp, "x / (1 + |x|).", ())


class HardswishOp(Function):
    __slots__ = ()
    name = "hardswish"
    def forward(self, x): return x * np.clip(x + 3, 0, 6) / 6
    def backward(self, xp, g, out, x):
        r = _raw(x)
        mid = (r > -3) & (r < 3)
        return g * xp.where(mid, x * (1 / 3) + 0.5, (r >= 3).astype(r.dtype))


hardswish = _unary(HardswishOp, "x * relu6(x + 3) / 6.", ())


class HardsigmoidOp(Function):
    __slots__ = ()
    name = "hardsigmoid"
    def forward(self, x): return np.clip(x / 6 + 0.5, 0, 1)
    def backward(self, xp, g, out, x):
        r = _raw(x)
        return g * (((r > -3) & (r < 3)) / 6).astype(r.dtype)


hardsigmoid = _unary(HardsigmoidOp, "relu6(x + 3) / 6.", ())


class LogSigmoidOp(Function):
    __slots__ = ()
    name = "logsigmoid"
    def forward(self, x): return -np.logaddexp(0, -x)
    def backward(self, xp, g, out, x): return g * xp.sigmoid(-x)


logsigmoid = _unary(LogSigmoidOp, "log(sigmoid(x)), computed stably.", ())


# --- reductions ------------------------------------------------------------------------------

def _var_parts(name, x, dim, unbiased, keepdim, correction):
    x = _t(x)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    d = _check_axis(name, x, dim)
    axes = _ops._axes(d, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
    dev = x - x.mean(axis=d, keepdims=True)
    return (dev * dev).sum(axis=d, keepdims=keepdim) / builtins.max(n - correction, 0)


@op((SubOp, MulOp, SumOp, MeanOp), methods=("var",))
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        axis=None, keepdims=None):
    """Variance over ``dim`` (all by default), with Bessel's correction unless
    ``unbiased=False`` or ``correction=0``, as in PyTorch."""
    if isinstance(dim, bool):                   # var(x, False): the old (unbiased) form
        dim, unbiased = None, dim
    dim, keepdim = _dim_names("var", dim, keepdim, axis, keepdims)
    return _var_parts("var", input, dim, unbiased, keepdim, correction)


@op((SubOp, MulOp, SumOp, MeanOp), methods=("std",))
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        axis=None, keepdims=None):
    """Standard deviation: the square root of :func:`var` (same arguments)."""
    if isinstance(dim, bool):                   # var(x, False): the old (unbiased) form
        dim, unbiased = None, dim
    dim, keepdim = _dim_names("std", dim, keepdim, axis, keepdims)
    return _ops.sqrt(_var_parts("std", input, dim, unbiased, keepdim, correction))


class ProdOp(Function):
    __slots__ = ("axis", "keepdims")
    name = "prod"
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def forward(self, x): return x.prod(axis=self.axis, keepdims=self.keepdims)
    def backward(self, xp, g, out, x):
        axes = _ops._axes(self.axis, x.ndim)
        ge = _ops._expand(g, x.shape, axes, self.keepdims)
        oe = _ops._expand(out, x.shape, axes, self.keepdims)
        r = _raw(x)
        if np.all(r != 0):
            return ge * oe / x
        return ge * _prod_others(r, self.axis)      # zeros: the product of the others


def _prod_others(r, axis):
    """For each element, the product of the other elements over ``axis`` (NumPy)."""
    if axis is None:
        flat = _prod_others(r.reshape(-1), 0)
        return flat.reshape(r.shape)
    a = axis if isinstance(axis, numbers.Integral) else axis[0]
    if not isinstance(axis, numbers.Integral) and len(axis) > 1:
        moved = np.moveaxis(r, axis, range(-len(axis), 0))
        flat = moved.reshape(moved.shape[:-len(axis)] + (-1,))
        res = _prod_others(flat, -1).reshape(moved.shape)
        return np.moveaxis(res, range(-len(axis), 0), axis)
    ones = np.ones_like(np.take(r, [0], axis=a))
    left = np.cumprod(np.concatenate([ones, r], axis=a), axis=a)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(r, a)], axis=a), axis=a), a)
    n = r.shape[a]
    return np.take(left, range(n), axis=a) * np.take(right, range(1, n + 1), axis=a)


@op(ProdOp, methods=("prod",))
def prod(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):  # noqa: A002
    """Product over ``dim`` (all by default)."""
    dim, keepdim = _dim_names("prod", dim, keepdim, axis, keepdims)
    x = _t(input) if dtype is None else _t(input).to(dtype)
    return ProdOp(_check_axis("prod", x, dim), keepdim)(x)


class CumsumOp(Function):
    __slots__ = ("axis",)
    name = "cumsum"
    def __init__(self, axis): self.axis = axis
    def forward(self, x): return np.cumsum(x, axis=self.axis)
    def backward(self, xp, g, out, x):
        a = self.axis
        return xp.flip(xp.cumsum(xp.flip(g, a), a), a)


@op(CumsumOp, methods=("cumsum",))
def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Running sum along ``dim``."""
    x = _t(input) if dtype is None else _t(input).to(dtype)
    d = _check_axis("cumsum", x, dim)
    if d is None:
        return x * 1
    return CumsumOp(d % x.ndim)(x)


class CumprodOp(Function):
    __slots__ = ("axis",)
    name = "cumprod"
    def __init__(self, axis): self.axis = axis
    def forward(self, x): return np.cumprod(x, axis=self.axis)
    def backward(self, xp, g, out, x):
        a = self.axis
        if not np.all(_raw(x) != 0):
            raise _ops.ZeroinError("cumprod: the gradient at inputs equal to 0 is not "
                                   "implemented")
        return xp.flip(xp.cumsum(xp.flip(g * out, a), a), a) / x


@op(CumprodOp, methods=("cumprod",))
def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Running product along ``dim`` (gradient for inputs without zeros)."""
    x = _t(input) if dtype is None else _t(input).to(dtype)
    d = _check_axis("cumprod", x, dim)
    if d is None:
        return x * 1
    return CumprodOp(d % x.ndim)(x)


@op((MulOp, SumOp, _ops.SqrtOp, _ops.AbsOp, MaxOp, _ops.PowConstOp), methods=("norm",))
def norm(input, p="fro", dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The p-norm over ``dim`` (all by default): 2 ("fro"), 1, inf, -inf or any p."""
    x = _t(input)
    d = _check_axis("norm", x, dim)
    if p in ("fro", 2, 2.0, None):
        return _ops.sqrt((x * x).sum(axis=d, keepdims=keepdim))
    if p == 1:
        return _ops.abs(x).sum(axis=d, keepdims=keepdim)
    if p == math.inf:
        return _ops.amax(_ops.abs(x), d, keepdim)
    if p == -math.inf:
        return _ops.amin(_ops.abs(x), d, keepdim)
    if isinstance(p, numbers.Real):
        return (_ops.abs(x) ** p).sum(axis=d, keepdims=keepdim) ** (1.0 / p)
    raise ValueError(f"norm: unsupported p={p!r}; use 'fro', a number, inf or -inf")


class CloneOp(Function):
    __slots__ = ()
    name = "clone"
    def forward(self, x): return x.copy()
    def backward(self, xp, g, out, x): return g


@op(CloneOp, export=False)
def clone(input, *, memory_format=None):  # noqa: A002
    """A copy of ``input`` that stays in the graph."""
    return CloneOp()(_t(input))


# --- movement and indexing -----------------------------------------------------------------

class FlipOp(Function):
    __slots__ = ("dims",)
    name = "flip"
    def __init__(self, dims): self.dims = dims
    def forward(self, x): return np.flip(x, self.dims).copy()
    def backward(self, xp, g, out, x): return xp.flip(g, self.dims)


@op(FlipOp, methods=("flip",))
def flip(input, dims):  # noqa: A002
    """Reverse the order of elements along ``dims`` (an int or a tuple)."""
    x = _t(input)
    d = _check_axis("flip", x, dims)
    if d is None:
        return x * 1
    return FlipOp(tuple(a % x.ndim for a in _ops._axes(d, x.ndim)))(x)


@op(FlipOp, methods=("fliplr",))
def fliplr(input):  # noqa: A002
    """Reverse the columns (dim 1)."""
    return flip(input, 1)


@op(FlipOp, methods=("flipud",))
def flipud(input):  # noqa: A002
    """Reverse the rows (dim 0)."""
    return flip(input, 0)


class RollOp(Function):
    __slots__ = ("shifts", "dims")
    name = "roll"
    def __init__(self, shifts, dims): self.shifts, self.dims = shifts, dims
    def forward(self, x):
        if self.dims is None:
            return np.roll(x.reshape(-1), self.shifts).reshape(x.shape)
        return np.roll(x, self.shifts, self.dims)
    def backward(self, xp, g, out, x):
        back = tuple(-s for s in self.shifts) if isinstance(self.shifts, tuple) \
            else -self.shifts
        return RollOp(back, self.dims)(g) if isinstance(g, Tensor) else \
            RollOp(back, self.dims).forward(g)


@op(RollOp, methods=("roll",))
def roll(input, shifts, dims=None):  # noqa: A002
    """Shift elements along ``dims`` cyclically (the flattened tensor if ``dims`` is None)."""
    x = _t(input)
    if dims is not None:
        _check_axis("roll", x, dims)
        if not isinstance(dims, numbers.Integral):
            dims, shifts = tuple(dims), tuple(shifts)
    elif not isinstance(shifts, numbers.Integral):
        raise TypeError("roll: several shifts need dims")
    return RollOp(shifts, dims)(x)


class TriOp(Function):
    """The lower (tril) or upper (triu) triangle of the last two dimensions."""
    __slots__ = ("k", "upper")
    name = "tril"
    def __init__(self, k, upper): self.k, self.upper = k, upper
    def label(self): return ("triu" if self.upper else "tril") + (f"[{self.k}]" if self.k else "")
    def forward(self, x): return np.triu(x, self.k) if self.upper else np.tril(x, self.k)
    def backward(self, xp, g, out, x):
        n, m = x.shape[-2:]
        mask = np.triu(np.ones((n, m), bool), self.k) if self.upper else \
            np.tril(np.ones((n, m), bool), self.k)
        return g * mask


def _tri(name, input, diagonal, upper):  # noqa: A002
    x = _t(input)
    if x.ndim < 2:
        raise ShapeError(f"{name}: needs a tensor with at least 2 dimensions, got shape "
                         f"{x.shape}")
    return TriOp(int(diagonal), upper)(x)


@op(TriOp, methods=("tril",))
def tril(input, diagonal=0):  # noqa: A002
    """Zero the elements above the ``diagonal``-th diagonal."""
    return _tri("tril", input, diagonal, False)


@op(TriOp, methods=("triu",))
def triu(input, diagonal=0):  # noqa: A002
    """Zero the elements below the ``diagonal``-th diagonal."""
    return _tri("triu", input, diagonal, True)


class TileOp(Function):
    """np.tile: repeat the whole tensor ``reps`` times along each dimension."""
    __slots__ = ("reps",)
    name = "repeat"
    def __init__(self, reps): self.reps = reps
    def forward(self, x): return np.tile(x, self.reps)
    def backward(self, xp, g, out, x):
        shape = (1,) * (len(self.reps) - x.ndim) + tuple(x.shape)
        split = []
        for r, s in zip(self.reps, shape):
            split += [r, s]
        summed = g.reshape(tuple(split)).sum(axis=tuple(range(0, len(split), 2)))
        return summed.reshape(x.shape)


@op(TileOp, methods=("repeat",))
def repeat(input, *sizes):  # noqa: A002
    """PyTorch's ``x.repeat(2, 3)``: tile the tensor (``sizes`` may add leading dims)."""
    x = _t(input)
    sizes = _ops._shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(f"repeat: got {len(sizes)} repeat counts for a tensor with "
                         f"{x.ndim} dimensions; give at least one per dimension")
    return TileOp(sizes)(x)


@op(TileOp, methods=("tile",))
def tile(input, dims):  # noqa: A002
    """Like :func:`repeat`, with fewer ``dims`` than dimensions padded with 1s in front."""
    x = _t(input)
    dims = _ops._shape_arg((dims,) if isinstance(dims, (tuple, list)) else (dims,))
    return TileOp((1,) * (x.ndim - len(dims)) + dims)(x)


@op(_ops.BroadcastToOp, methods=("expand",))
def expand(input, *sizes):  # noqa: A002
    """Broadcast to ``sizes`` (-1 keeps a dimension); new dimensions go in front."""
    x = _t(input)
    sizes = _ops._shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand: {len(sizes)} sizes for a tensor with {x.ndim} dimensions "
                         f"(shape {x.shape}); give at least one per dimension")
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(sizes))
    for i in range(x.ndim):
        if x.shape[i] != 1 and x.shape[i] != shape[i + lead]:
            raise ShapeError(f"expand: dimension {i} of shape {x.shape} has size "
                             f"{x.shape[i]}, which cannot expand to {shape[i + lead]} (only "
                             f"size-1 dimensions expand)")
    return _ops.broadcast_to(x, shape)


@op(ReshapeOp, methods=("unflatten",))
def unflatten(input, dim, sizes):  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one may be -1)."""
    x = _t(input)
    d = _check_axis("unflatten", x, dim) % builtins.max(x.ndim, 1)
    sizes = tuple(int(s) for s in sizes)
    if -1 in sizes:
        known = int(np.prod([s for s in sizes if s != -1]))
        sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    if int(np.prod(sizes)) != x.shape[d]:
        raise ShapeError(f"unflatten: sizes {sizes} do not multiply to {x.shape[d]}, the "
                         f"size of dimension {d} of shape {x.shape}")
    return _ops.reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def _along(index, dim):
    """The full advanced index that picks ``index`` along ``dim`` (take_along_axis)."""
    ii = list(np.indices(index.shape, sparse=True))
    ii[dim] = index
    return tuple(ii)


def _index_array(name, index):
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _check_range(name, idx, x, d):
    """Refuse an index outside 0..size-1 along dimension ``d`` (negative ones too, as
    PyTorch does: they do not count from the end here)."""
    n = x.shape[d] if x.ndim else 1
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise _ops._DimError(f"{name}: index {bad} is out of range for dimension {d} of size "
                             f"{n} (input shape {x.shape}); valid indices are 0..{n - 1}"
                             + ("; negative indices do not count from the end here (as in "
                                "PyTorch): add the size first" if bad < 0 else ""))
    return idx


@op(GetItemOp, methods=("gather",))
def gather(input, dim, index):  # noqa: A002
    """``out[i][j] = input[i][index[i][j]]`` for dim=1 (and so on for other dims)."""
    x = _t(input)
    d = _check_axis("gather", x, dim) % builtins.max(x.ndim, 1)
    idx = _index_array("gather", index)
    if idx.ndim != x.ndim:
        raise ShapeError(f"gather: index has {idx.ndim} dimensions, input {x.ndim}; they "
                         f"must have the same number")
    return getitem(x, _along(_check_range("gather", idx, x, d), d))


@op(GetItemOp, methods=("take_along_dim",))
def take_along_dim(input, indices, dim=None):  # noqa: A002
    """Pick ``indices`` along ``dim`` (NumPy's take_along_axis); flattened if dim is None."""
    x = _t(input)
    if dim is None:
        return getitem(x.reshape(-1), _index_array("take_along_dim", indices).reshape(-1))
    d = _check_axis("take_along_dim", x, dim) % builtins.max(x.ndim, 1)
    idx = _index_array("take_along_dim", indices)
    shape = list(np.broadcast_shapes(tuple(s if i != d else 1 for i, s in enumerate(x.shape)),
                                     tuple(s if i != d else 1 for i, s in enumerate(idx.shape))))
    shape[d] = idx.shape[d]
    idx = np.broadcast_to(idx, shape)
    xs = list(shape)
    xs[d] = x.shape[d]
    return getitem(_ops.broadcast_to(x, tuple(xs)), _along(idx, d))


@op(GetItemOp, methods=("index_select",))
def index_select(input, dim, index):  # noqa: A002
    """The entries ``index`` (a 1-D integer tensor) along ``dim``."""
    x = _t(input)
    d = _check_axis("index_select", x, dim) % builtins.max(x.ndim, 1)
    idx = _check_range("index_select", _index_array("index_select", index).reshape(-1), x, d)
    return getitem(x, (slice(None),) * d + (idx,))


@op(GetItemOp, methods=("narrow",))
def narrow(input, dim, start, length):  # noqa: A002
    """``length`` entries from ``start`` along ``dim``."""
    x = _t(input)
    d = _check_axis("narrow", x, dim) % builtins.max(x.ndim, 1)
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


@op(GetItemOp, methods=("select",))
def select(input, dim, index):  # noqa: A002
    """The slice at ``index`` along ``dim`` (that dimension removed)."""
    x = _t(input)
    d = _check_axis("select", x, dim) % builtins.max(x.ndim, 1)
    return getitem(x, (slice(None),) * d + (index,))


def _scatter_parts(name, x, dim, index, src):
    d = _check_axis(name, x, dim) % builtins.max(x.ndim, 1)
    idx = _check_range(name, _index_array(name, index), x, d)
    ix = _along(idx, d)
    mask = np.zeros(x.shape, bool)
    mask[ix] = True
    if isinstance(src, Tensor) and src.ndim:
        src = getitem(src, tuple(slice(0, n) for n in idx.shape))
        if name == "scatter":       # a position written twice keeps the last write
            flat = np.ravel_multi_index(tuple(np.broadcast_to(i, idx.shape) for i in ix),
                                        x.shape).reshape(-1)
            last = np.zeros(flat.shape, bool)
            last[len(flat) - 1 - np.unique(flat[::-1], return_index=True)[1]] = True
            if not last.all():
                # values: the last write only; gradients: every source element gets the
                # output's gradient at its index, as in PyTorch (the second term adds 0)
                keep, drop = last.reshape(idx.shape), ~last.reshape(idx.shape)
                return mask, (_ops.index_add(src * keep, ix, x.shape) +
                              (_ops.index_add(src * drop, ix, x.shape) -
                               _ops.index_add(src.detach() * drop, ix, x.shape)))
        placed = _ops.index_add(src, ix, x.shape)
    else:
        placed = src
    return mask, placed


@op((WhereOp, _ops.IndexAddOp), methods=("scatter",))
def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index``
    along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for dim=1."""
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add")
    x = _t(input)
    src = value if src is None else src
    mask, placed = _scatter_parts("scatter", x, dim, index, src)
    return _ops.where(mask, placed, x)


@op((_ops.AddOp, _ops.IndexAddOp), methods=("scatter_add",))
def scatter_add(input, dim, index, src):  # noqa: A002
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    x = _t(input)
    _, placed = _scatter_parts("scatter_add", x, dim, index, _t(src))
    return x + placed


@op(WhereOp, methods=("masked_fill",))
def masked_fill(input, mask, value):  # noqa: A002
    """``value`` where ``mask`` is True, else ``input``."""
    x = _t(input)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    return _ops.where(np.broadcast_to(m, np.broadcast_shapes(m.shape, x.shape)), value, x)


class PadOp(Function):
    __slots__ = ("widths", "value")
    name = "pad"
    def __init__(self, widths, value): self.widths, self.value = widths, value
    def forward(self, x): return np.pad(x, self.widths, constant_values=self.value)
    def backward(self, xp, g, out, x):
        return g[tuple(slice(a, a + n) for (a, _), n in zip(self.widths, x.shape))]


def _check_pad_size(mode, w, d, shape):
    """PyTorch's limits: reflect pads less than the size, circular at most the size, and
    replicate needs a value to repeat."""
    n = shape[d]
    if mode == "reflect" and builtins.max(w) >= n:
        why, fix = f"must be less than the size {n} of that dimension", "mode='replicate'"
    elif mode == "circular" and builtins.max(w) > n:
        why, fix = f"wraps around at most once: at most the size {n}", "a smaller pad"
    elif mode == "replicate" and n == 0:
        why, fix = "needs a value to repeat, but the dimension is empty", "mode='constant'"
    else:
        return
    raise ShapeError(f"pad: {mode} padding {w} of dimension {d} {why} (input shape {shape}); "
                     f"use {fix}")


@op((PadOp, GetItemOp))
def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """Pad the last dimensions: ``pad=(left, right, top, bottom, ...)`` as PyTorch's
    ``F.pad``; modes "constant", "reflect", "replicate", "circular"."""
    x = _t(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected pairs for at most {x.ndim} dimensions, got {pad}")
    if builtins.any(p < 0 for p in pad):
        raise NotImplementedError("pad: negative padding (cropping) is not supported; "
                                  "slice the tensor instead")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        return PadOp(tuple(widths), 0 if value is None else value)(x)
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if np_mode is None:
        raise ValueError(f"pad: unknown mode {mode!r}")
    for d, w in enumerate(widths):
        if w != (0, 0):
            _check_pad_size(mode, w, d, x.shape)
    for d, w in enumerate(widths):
        if w != (0, 0):
            idx = np.pad(np.arange(x.shape[d]), w, mode=np_mode)
            x = getitem(x, (slice(None),) * d + (idx,))
    return x


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or pieces of the
    given sizes; a tuple of tensors."""
    x = _t(tensor)
    d = _check_axis("split", x, dim) % builtins.max(x.ndim, 1)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        s = int(split_size_or_sections)
        sizes = [builtins.min(s, n - i) for i in range(0, n, s)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ShapeError(f"split: sizes {sizes} sum to {builtins.sum(sizes)}, but "
                             f"dimension {d} has size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, (slice(None),) * d + (slice(start, start + s),)))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):  # noqa: A002
    """At most ``chunks`` pieces along ``dim``, each of size ceil(n / chunks)."""
    x = _t(input)
    d = _check_axis("chunk", x, dim) % builtins.max(x.ndim, 1)
    if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral) or chunks < 1:
        raise ShapeError(f"chunk: chunks must be a whole number >= 1, got {chunks!r} (the "
                         f"number of pieces to cut dimension {d} of shape {x.shape} into)")
    return split(x, builtins.max(-(-x.shape[d] // int(chunks)), 1), d)


def unbind(input, dim=0):  # noqa: A002
    """The slices along ``dim``, as a tuple."""
    x = _t(input)
    d = _check_axis("unbind", x, dim) % builtins.max(x.ndim, 1)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


class EinsumOp(Function):
    __slots__ = ("spec",)
    name = "einsum"
    def __init__(self, spec): self.spec = spec
    def label(self): return f"einsum[{self.spec}]"
    def forward(self, *xs): return np.asarray(np.einsum(self.spec, *xs))
    def backward(self, xp, g, out, *xs):
        ins, res = self.spec.split("->")
        subs = ins.split(",")
        grads = []
        for i, needed in enumerate(self.needs_input_grad):
            others = [s for j, s in enumerate(subs) if j != i]
            grads.append(_einsum_grad(xp, g, res, subs[i], others,
                                      [x for j, x in enumerate(xs) if j != i], xs[i].shape)
                         if needed else None)
        return tuple(grads) if len(grads) > 1 else grads[0]


def _einsum_grad(xp, g, res, sub, others, other_xs, shape):
    """d/d(operand with subscripts ``sub``): the output gradient contracted with the other
    operands, broadcast over indices summed inside this operand alone, and placed on the
    diagonal for a repeated index ("ii")."""
    uniq = "".join(dict.fromkeys(sub))
    size = {c: shape[sub.index(c)] for c in uniq}
    have = set(res + "".join(others))
    kept = "".join(c for c in uniq if c in have)
    gi = xp.einsum(",".join([res] + others) + "->" + kept, g, *other_xs)
    if kept != uniq:
        gi = xp.broadcast_to(gi.reshape(tuple(size[c] if c in kept else 1 for c in uniq)),
                             tuple(size[c] for c in uniq))
    if uniq != sub:
        grid = np.indices(tuple(size[c] for c in uniq), sparse=True)
        gi = xp.scatter(gi, tuple(grid[uniq.index(c)] for c in sub), shape)
    return gi


def _name_ellipsis(spec, xs):
    """``spec`` with each ``...`` replaced by letters for the dimensions it covers (right
    aligned, as NumPy and PyTorch align them); broadcasting inside ``...`` is refused."""
    ins, arrow, out = spec.partition("->")
    subs = ins.split(",")
    if len(subs) != len(xs):
        raise ValueError(f"einsum: {spec!r} names {len(subs)} operands, got {len(xs)}")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in spec]
    counts = [x.ndim - (len(s) - 3) for s, x in zip(subs, xs) if "..." in s]
    n = builtins.max(counts)
    ell = "".join(free[:n])
    named = [s.replace("...", ell[n - (x.ndim - len(s) + 3):]) if "..." in s else s
             for s, x in zip(subs, xs)]
    for c in ell:
        sizes = {x.shape[s.index(c)] for s, x in zip(named, xs) if c in s}
        if len(sizes) > 1:
            raise NotImplementedError(f"einsum: the dimensions under '...' differ in size "
                                      f"({sorted(sizes)}); broadcasting there is not supported")
    if not arrow:
        letters = [c for c in ins if c.isalpha()]
        out = "..." + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ",".join(named) + "->" + out.replace("...", ell)


@op(EinsumOp)
def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum("ij,jk->ik", a, b)`` (operands may be a list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_t(o) for o in operands]
    spec = equation.replace(" ", "")
    if "..." in spec:
        spec = _name_ellipsis(spec, xs)
    if "->" not in spec:
        letters = [c for c in spec if c.isalpha()]
        spec += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = spec.split("->")[0].split(",")
    if len(ins) != len(xs):
        raise ValueError(f"einsum: {equation!r} names {len(ins)} operands, got {len(xs)}")
    return EinsumOp(spec)(*xs)


# --- sorting ------------------------------------------------------------------------------

@op(GetItemOp, methods=("sort",))
def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """``(values, indices)`` sorted along ``dim``; the values carry the gradient."""
    x = _t(input)
    if x.ndim == 0:
        return ValuesIndices(x * 1, _leaf(np.zeros((), np.int64)))
    d = _check_axis("sort", x, dim) % x.ndim
    idx = np.argsort(-x.data if descending else x.data, axis=d, kind="stable")
    return ValuesIndices(take_along_dim(x, idx, d), _leaf(idx.astype(np.int64)))


@op(GetItemOp, methods=("topk",))
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (or smallest) entries along ``dim``: ``(values, indices)``."""
    x = _t(input)
    d = _check_axis("topk", x, dim) % builtins.max(x.ndim, 1)
    if not 0 <= k <= x.shape[d]:
        raise _DimError(f"topk: k={k} is out of range for dimension {d} of size {x.shape[d]}")
    idx = np.argsort(-x.data if largest else x.data, axis=d, kind="stable")
    idx = np.take(idx, range(k), axis=d)
    return ValuesIndices(take_along_dim(x, idx, d), _leaf(idx.astype(np.int64)))


@op(GetItemOp, methods=("median",))
def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (PyTorch's): of all values, or ``(values, indices)`` along ``dim``."""
    x = _t(input)
    if dim is None:
        flat = x.reshape(-1)
        i = np.argsort(flat.data, kind="stable")[(flat.shape[0] - 1) // 2]
        return getitem(flat, int(i))
    d = _check_axis("median", x, dim) % builtins.max(x.ndim, 1)
    order = np.argsort(x.data, axis=d, kind="stable")
    idx = np.take(order, [(x.shape[d] - 1) // 2], axis=d)
    values = take_along_dim(x, idx, d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return ValuesIndices(values, _leaf(idx.astype(np.int64)))


# --- the backward namespaces: the names the rules above use ---------------------------------

NP.cosh, NP.sinh, NP.erf, NP.abs = np.cosh, np.sinh, staticmethod(_erf_np), np.abs
NP.softplus = staticmethod(lambda x: np.logaddexp(0, x))
NP.flip = staticmethod(np.flip)
NP.cumsum = staticmethod(lambda x, a: np.cumsum(x, axis=a))
NP.einsum = staticmethod(lambda spec, *xs: np.einsum(spec, *xs))
TZ.cosh, TZ.sinh, TZ.erf = staticmethod(cosh), staticmethod(sinh), staticmethod(erf)
TZ.abs, TZ.softplus = staticmethod(_ops.abs), staticmethod(_ops.softplus)
TZ.flip, TZ.cumsum = staticmethod(flip), staticmethod(cumsum)
TZ.einsum = staticmethod(einsum)
