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
import operator

import numpy as np

from ._tensor import Tensor, _leaf
from .errors import DtypeError, ShapeError, ZeroinError
from .function import Function, NoDerivativeOp, OpName, float_of, no_derivative
from .ops import (NP, TZ, GetItemOp, MaxOp, MeanOp, MulOp, ReshapeOp, SubOp, SumOp,
                  WhereOp, _DimError, _check_axis, _check_dim, _dim_names, _raw, _t, _unary,
                  getitem, op, values_indices)
from . import ops as _ops
from . import _special_math as _sm

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _erf_np(x):
    """erf in x's float dtype (an integer or bool x: NumPy's float dtype for it, float_of;
    the result was cast back to the integers, 0 for erf(1))."""
    x = float_of(x)
    if type(x) is np.ndarray and x.ndim and x.dtype in _sm.CEPHES_DTYPES:
        return _sm.erf_cephes(x)                        # scipy's values, faster
    try:
        from scipy.special import erf
    except ImportError:                                 # NumPy has no erf
        erf = _sm.erf
    r = erf(x)
    return r.astype(x.dtype, copy=False) if isinstance(x, np.ndarray) else r


# --- elementwise: rounding (zero gradient, as in PyTorch) --------------------------------

class _StepOp(Function):
    """Piecewise-constant functions: the gradient is zero almost everywhere."""
    __slots__ = ()
    def backward(self, xp, g, out, x): return _ops._untracked_zeros(g)     # PyTorch's zeros


class CeilOp(_StepOp):
    __slots__ = ()
    no_bool = True
    name = "ceil"
    def forward(self, x): return np.ceil(x)


ceil = _unary(CeilOp, "Elementwise ceiling (gradient 0).")


class FloorOp(_StepOp):
    __slots__ = ()
    no_bool = True
    name = "floor"
    def forward(self, x): return np.floor(x)


floor = _unary(FloorOp, "Elementwise floor (gradient 0).")


class TruncOp(_StepOp):
    __slots__ = ()
    no_bool = True
    name = "trunc"
    def forward(self, x): return np.trunc(x)


trunc = _unary(TruncOp, "Elementwise rounding toward zero (gradient 0).")


class SignOp(_StepOp):
    __slots__ = ()
    name = "sign"
    def forward(self, x): return x.copy() if x.dtype == bool else np.sign(x)   # as PyTorch


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
    x = _t(x)
    _ops.no_bool("round", x)
    if decimals and x.dtype.kind in "iu":
        raise DtypeError(f"round: decimals={decimals!r} is not implemented for integer "
                              f"tensors (dtype {x.dtype}), as in PyTorch; round(x) without "
                              f"decimals, or x.float().round(decimals={decimals!r})")
    return RoundOp(int(decimals))(x)


class FracOp(Function):
    __slots__ = ()
    no_bool = True
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
    # sqrt(x - 1) * sqrt(x + 1), not sqrt(x * x - 1): the same for real x, and PyTorch's
    # branch for complex x
    def backward(self, xp, g, out, x): return g / (xp.sqrt(x - 1) * xp.sqrt(x + 1))


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
    def forward(self, x): return x * x if x.dtype != bool else x.astype(np.int64)  # PyTorch
    # recorded (create_graph): PyTorch's square is pow(x, 2), whose rule is 2 * x ** 1
    def backward(self, xp, g, out, x): return g * 2 * (x if xp is NP else x ** 1)


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
    def forward(self, x): return _sm.erfc(x)            # not 1 - erf: the tail
    def backward(self, xp, g, out, x): return g * (-2 / math.sqrt(math.pi)) * xp.exp(-x * x)


erfc = _unary(ErfcOp, "Elementwise 1 - erf(x).")


# --- the gamma family (numerics in _special_math: NumPy has none and SciPy is optional) ----

def _float1(x, name):
    """``x`` as a tensor, integer and bool tensors (and numbers) in the default float dtype,
    as PyTorch promotes them for these functions."""
    x = _t(x)
    if x.dtype.kind in "iub":
        from ._tensor import get_default_dtype
        x = x.to(get_default_dtype())
    elif x.dtype.kind != "f":
        raise NotImplementedError(f"{name}: not implemented for {x.dtype} (as in PyTorch)")
    return x


class LgammaOp(Function):
    __slots__ = ()
    name = "lgamma"
    def forward(self, x): return _sm.lgamma(x)
    def backward(self, xp, g, out, x): return g * xp.digamma(x)


@op(LgammaOp, methods=("lgamma",))
def lgamma(input):  # noqa: A002
    """Elementwise log|Gamma(x)| (+inf at 0 and the negative integers); its gradient is
    digamma."""
    return _ops._call1(LgammaOp(), _float1(input, "lgamma"))


class DigammaOp(Function):
    __slots__ = ()
    name = "digamma"
    def forward(self, x): return _sm.digamma(x)
    def backward(self, xp, g, out, x): return g * xp.polygamma(1, x)


@op(DigammaOp, methods=("digamma",))
def digamma(input):  # noqa: A002
    """Elementwise psi(x) = d/dx lgamma(x): -inf at +0, +inf at -0, NaN at the negative
    integers (PyTorch's values); its gradient is polygamma(1, x)."""
    return _ops._call1(DigammaOp(), _float1(input, "digamma"))


class PolygammaOp(Function):
    __slots__ = ("n",)
    name = "polygamma"
    def __init__(self, n): self.n = n
    def forward(self, x): return _sm.polygamma(self.n, x)
    def backward(self, xp, g, out, x): return g * xp.polygamma(self.n + 1, x)


@op(PolygammaOp)
def polygamma(n, input):  # noqa: A002
    """Elementwise n-th derivative of digamma (n >= 0; n = 1 is trigamma). PyTorch's
    order of arguments: ``polygamma(n, x)``, but the method is ``x.polygamma(n)``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise _ops._ValueError(f"polygamma: n must be >= 0, got {n}")
    x = _float1(input, "polygamma")
    return digamma(x) if n == 0 else _ops._call1(PolygammaOp(int(n)), x)


class ErfinvOp(Function):
    __slots__ = ()
    name = "erfinv"
    def forward(self, x): return _sm.erfinv(x)
    def backward(self, xp, g, out, x): return g * (math.sqrt(math.pi) / 2) * xp.exp(out * out)


@op(ErfinvOp, methods=("erfinv",))
def erfinv(input):  # noqa: A002
    """Elementwise inverse of erf: +-inf at +-1, NaN outside [-1, 1] (PyTorch's values);
    its gradient is sqrt(pi) / 2 * exp(erfinv(x)**2)."""
    return _ops._call1(ErfinvOp(), _float1(input, "erfinv"))


# --- more of torch.special: the normal distribution's functions, Bessel I0 / I1, the ------
# --- incomplete gamma functions (numerics in _special_math) --------------------------------

def _special1(cls, name, doc, *, top=False, method=False):
    """Register the one-input float op ``cls`` as ``name`` (``zeroin.special.<name>``;
    also ``zeroin.<name>`` when ``top``, ``Tensor.<name>`` when ``method``)."""
    def f(input):  # noqa: A002
        return _ops._call1(cls(), _float1(input, name))
    f.__name__, f.__qualname__, f.__doc__ = name, name, doc
    return op(cls, methods=(name,) if method else (), export=top)(f)


class ErfcxOp(Function):
    __slots__ = ()
    name = OpName("erfcx", "SpecialErfcxBackward0")
    def forward(self, x): return _sm.erfcx(x)
    def backward(self, xp, g, out, x): return g * (2 * x * out - 2 / math.sqrt(math.pi))


erfcx = _special1(ErfcxOp, "erfcx", """Elementwise exp(x**2) * erfc(x), finite where erfc
    underflows (~1 / (sqrt(pi) x) for large x); gradient 2 x erfcx(x) - 2 / sqrt(pi).""")


class NdtrOp(Function):
    __slots__ = ()
    name = "ndtr"
    def forward(self, x): return _sm.ndtr(x)
    def backward(self, xp, g, out, x): return g * xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


ndtr = _special1(NdtrOp, "ndtr", """Elementwise standard normal CDF (erfc(-x / sqrt 2) / 2,
    relatively accurate in the left tail, where PyTorch's 1 + erf rounds to 0).""")


class LogNdtrOp(Function):
    __slots__ = ()
    name = OpName("log_ndtr", "SpecialLogNdtrBackward0")
    def forward(self, x): return _sm.log_ndtr(x)
    def backward(self, xp, g, out, x):           # pdf / cdf, written so it stays finite
        return g * math.sqrt(2 / math.pi) / xp.erfcx(x * -math.sqrt(0.5))


log_ndtr = _special1(LogNdtrOp, "log_ndtr", """Elementwise log of the standard normal CDF,
    finite far into the left tail (~ -x**2 / 2); gradient pdf(x) / ndtr(x).""")


class NdtriOp(Function):
    __slots__ = ()
    name = OpName("ndtri", "SpecialNdtriBackward0")
    def forward(self, x): return _sm.ndtri(x)
    def backward(self, xp, g, out, x): return g * math.sqrt(2 * math.pi) * xp.exp(0.5 * out * out)


ndtri = _special1(NdtriOp, "ndtri", """Elementwise inverse of the standard normal CDF: -inf at
    0, inf at 1, NaN outside [0, 1] (PyTorch's values); gradient sqrt(2 pi) exp(y**2 / 2).""")


class I0Op(Function):
    __slots__ = ()
    name = "i0"
    def forward(self, x): return _sm.i0(x)
    def backward(self, xp, g, out, x): return g * xp.i1(x)


i0 = _special1(I0Op, "i0", """Elementwise modified Bessel function of the first kind, order 0
    (+inf past |x| ~ 709.8, as PyTorch); gradient i1(x).""", top=True, method=True)


class I0eOp(Function):
    __slots__ = ()
    name = OpName("i0e", "SpecialI0EBackward0")
    def forward(self, x): return _sm.i0e(x)
    def backward(self, xp, g, out, x): return g * (xp.i1e(x) - np.sign(_raw(x)) * out)


i0e = _special1(I0eOp, "i0e", """Elementwise exp(-|x|) * i0(x), finite for every x;
    gradient i1e(x) - sign(x) i0e(x).""")


def _over_x(xp, x, v, at0):
    """v / x, with ``at0`` where x is 0 (the limit of the Bessel ratios there)."""
    zero = _raw(x) == 0
    return xp.where(zero, at0, v / xp.where(zero, 1.0, x))


class I1Op(Function):
    __slots__ = ()
    name = OpName("i1", "SpecialI1Backward0")
    def forward(self, x): return _sm.i1(x)
    def backward(self, xp, g, out, x):           # i1' = i0 - i1 / x, 1/2 at 0
        return g * (xp.i0(x) - _over_x(xp, x, out, 0.5))


i1 = _special1(I1Op, "i1", """Elementwise modified Bessel function of the first kind, order 1
    (odd; +-inf past |x| ~ 709.8); gradient i0(x) - i1(x) / x (1/2 at 0).""")


class I1eOp(Function):
    __slots__ = ()
    name = OpName("i1e", "SpecialI1EBackward0")
    def forward(self, x): return _sm.i1e(x)
    def backward(self, xp, g, out, x):
        return g * (xp.i0e(x) - np.sign(_raw(x)) * out - _over_x(xp, x, out, 0.5))


i1e = _special1(I1eOp, "i1e", """Elementwise exp(-|x|) * i1(x), finite for every x;
    gradient i0e(x) - (sign(x) + 1 / x) i1e(x) (1/2 at 0).""")


class IgammaOp(Function):
    """P(a, x) (Q(a, x) when ``upper``). Only x has a gradient, dP/dx = x^(a-1) e^-x /
    Gamma(a); asking for a's raises when backward reaches it, as in PyTorch."""
    __slots__ = ()
    promotes = True
    name, upper = "igamma", False
    def forward(self, a, x):
        return (_sm.gammaincc if self.upper else _sm.gammainc)(a, x).astype(a.dtype)
    def backward(self, xp, g, out, a, x):
        na, nx = self.needs_input_grad
        if na:
            raise NotImplementedError(
                f"the derivative for '{self.name}: input' is not implemented (as in PyTorch): "
                f"only x, the second argument, gets a gradient; detach a")
        with np.errstate(all="ignore"):
            d = g * xp.exp((a - 1) * xp.log(x) - x - xp.lgamma(a))
        return None, (-d if self.upper else d)


class IgammacOp(IgammaOp):
    __slots__ = ()
    name, upper = "igammac", True


def _igamma_args(name, a, x):
    if not (isinstance(a, Tensor) and isinstance(x, Tensor)):
        bad = "input" if not isinstance(a, Tensor) else "other"
        raise TypeError(f"{name}: {bad} must be a Tensor, not a number (as in PyTorch); "
                        f"wrap it: zeroin.tensor(...)")
    if a.dtype.kind not in "f" and x.dtype.kind not in "f":
        raise NotImplementedError(f"{name}: not implemented for {a.dtype} and {x.dtype} "
                                  f"(as in PyTorch); cast first, e.g. {name}(a.double(), x.double())")
    return a, x


@op(IgammaOp, methods=("igamma",))
def igamma(input, other):  # noqa: A002
    """The regularised lower incomplete gamma function P(a, x) (``special.gammainc``);
    the gradient is only x's (PyTorch's rule), NaN for a < 0 or x < 0."""
    return _ops._call2(IgammaOp(), *_igamma_args("igamma", input, other))


@op(IgammacOp, methods=("igammac",))
def igammac(input, other):  # noqa: A002
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x)
    (``special.gammaincc``); the gradient is only x's, as for :func:`igamma`."""
    return _ops._call2(IgammacOp(), *_igamma_args("igammac", input, other))


@op((LgammaOp, _ops.AddOp, SubOp), methods=("mvlgamma",))
def mvlgamma(input, p):  # noqa: A002
    """The multivariate log-gamma function of dimension p (``special.multigammaln``):
    p (p - 1) / 4 log(pi) + sum_i lgamma(x - i / 2), i < p. Its domain is x > (p-1)/2;
    as PyTorch 2.13, values outside are not refused (log|Gamma| terms, +inf at poles)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Integral):
        raise TypeError(f"mvlgamma: p must be an int, got {type(p).__name__}")
    if p < 1:
        raise _ops._ValueError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = _float1(input, "mvlgamma")
    terms = [lgamma(x - i / 2) for i in range(int(p))]
    out = terms[0]
    for t_ in terms[1:]:
        out = out + t_
    return out + p * (p - 1) / 4 * math.log(math.pi)


def _polygamma_method(self, n):
    """``x.polygamma(n)``: :func:`polygamma` ``(n, x)``."""
    return polygamma(n, self)


_polygamma_method.__name__ = "polygamma"
Tensor.polygamma = _polygamma_method


class LogitOp(Function):
    """log(x / (1 - x)) of x clamped to [eps, 1 - eps] (PyTorch's rule: the gradient is 0
    outside that range; without eps, NaN outside [0, 1])."""
    __slots__ = ("eps",)
    name = "logit"
    def __init__(self, eps=None): self.eps = eps

    def forward(self, x):
        x = float_of(x)                     # 1 - x of an unsigned integer wraps around
        if self.eps is not None:            # PyTorch's order: below eps wins (eps > 0.5)
            lo, hi = self.eps, 1 - self.eps
            x = np.where(x < lo, lo, np.where(x > hi, hi, x)).astype(x.dtype, copy=False)
        return np.log(x / (1 - x))

    def backward(self, xp, g, out, x):
        r, e = _raw(x), self.eps
        outside = (r < 0) | (r > 1) if e is None else (r < e) | (r > 1 - e)
        if not outside.any():
            return g / (x * (1 - x))
        inside = xp.where(outside, 0.5, x)          # no 1 / 0 where the rule gives 0 or NaN
        return xp.where(outside, np.nan if e is None else 0.0, g / (inside * (1 - inside)))


@op(LogitOp, methods=("logit",))
def logit(input, eps=None):  # noqa: A002
    """Elementwise log(x / (1 - x)), the inverse of sigmoid; with ``eps``, of x clamped to
    [eps, 1 - eps] (so 0 and 1 give finite values)."""
    if eps is not None and not isinstance(eps, numbers.Real):
        raise TypeError(f"logit: eps must be a number or None, got {eps!r}")
    eps = None if eps is None or eps < 0 else float(eps)    # PyTorch: eps < 0 is no eps
    x = _t(input)
    if _ops._integral(x):           # the default dtype, as PyTorch's (NumPy's is float64)
        x = _ops._default_float(x)
    return _ops._call1(LogitOp(eps), x)


class Deg2RadOp(Function):
    __slots__ = ()
    name = "deg2rad"
    def forward(self, x): return x * (math.pi / 180)
    def backward(self, xp, g, out, x): return g * (math.pi / 180)


deg2rad = _unary(Deg2RadOp, "Degrees to radians.")


class Rad2DegOp(Function):
    __slots__ = ()
    name = "rad2deg"
    def forward(self, x): return x * (180 / math.pi)
    def backward(self, xp, g, out, x): return g * (180 / math.pi)


rad2deg = _unary(Rad2DegOp, "Radians to degrees.")


class SincOp(Function):
    """sin(pi x) / (pi x), 1 at x = 0; the gradient (cos(pi x) - sinc(x)) / x is 0 there
    (PyTorch's rule)."""
    __slots__ = ()
    name = "sinc"
    def forward(self, x): return np.sinc(x)
    def backward(self, xp, g, out, x):
        zero = _raw(x) == 0
        xs = xp.where(zero, 1.0, x) if zero.any() else x       # no 0 / 0 at the origin
        d = (xp.cos(math.pi * xs) - out) / xs
        return g * (xp.where(zero, 0.0, d) if zero.any() else d)


sinc = _unary(SincOp, "Elementwise normalized sinc, sin(pi x) / (pi x) (1 at 0).")


class Atan2Op(Function):
    __slots__ = ()
    promotes = True
    name = "atan2"
    def forward(self, y, x): return np.arctan2(y, x)
    def backward(self, xp, g, out, y, x):
        ny, nx = self.needs_input_grad
        r = x * x + y * y
        with np.errstate(divide="ignore"):
            inf = np.isinf(1 / _raw(r))
        if inf.any():               # at the origin: 0, as PyTorch (1 / r would be inf)
            r = 1 / xp.where(inf, np.inf, r)
            return (g * x * r if ny else None), (-g * y * r if nx else None)
        return (g * x / r if ny else None), (-g * y / r if nx else None)


@op(Atan2Op, methods=("atan2", "arctan2"))
def atan2(input, other):  # noqa: A002
    """Elementwise angle of the point (other, input), in (-pi, pi]."""
    if _ops._integral(input) and _ops._integral(other):     # the default dtype, as PyTorch's
        input, other = _ops._default_float(input), _ops._default_float(other)
    return _ops._call2(Atan2Op(), input, other)


class LogAddExpOp(Function):
    """log(e**a + e**b) without overflow. The gradient is a's weight in the sum,
    sigmoid(a - b) (NaN where a = b = +-inf, as in PyTorch)."""
    __slots__ = ()
    promotes = True
    name = "logaddexp"
    scale = 1.0
    def forward(self, a, b): return np.logaddexp(a, b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        d = (a - b) * self.scale if self.scale != 1.0 else a - b
        return (g * xp.sigmoid(d) if na else None), (g * xp.sigmoid(-d) if nb else None)


class LogAddExp2Op(LogAddExpOp):
    """log2(2**a + 2**b): the same weights with the difference in base 2."""
    __slots__ = ()
    name = "logaddexp2"
    scale = _LN2
    def forward(self, a, b): return np.logaddexp2(a, b)


def _floats(a, b, refuse=None):
    """The operands, made floats (in the default dtype) when neither is: integer tensors
    and numbers give float results (PyTorch's xlogy); ``refuse`` names an op that PyTorch
    does not implement for integers, which raises instead."""
    kinds = {v.dtype.kind if isinstance(v, Tensor) else
             "f" if isinstance(v, (float, np.floating)) else "i" for v in (a, b)}
    if not kinds & {"f", "c"}:
        if refuse:
            raise NotImplementedError(
                f"{refuse}: not implemented for integer tensors (as in PyTorch); cast "
                f"first, e.g. {refuse}(x.double(), y.double())")
        from ._tensor import get_default_dtype
        a, b = _t(a).to(get_default_dtype()), _t(b).to(get_default_dtype())
    return a, b


@op(LogAddExpOp, methods=("logaddexp",))
def logaddexp(input, other):  # noqa: A002
    """Elementwise log(exp(input) + exp(other)), without overflow."""
    return _ops._call2(LogAddExpOp(), *_floats(input, other, "logaddexp"))


@op(LogAddExp2Op, methods=("logaddexp2",))
def logaddexp2(input, other):  # noqa: A002
    """Elementwise log2(2**input + 2**other), without overflow."""
    return _ops._call2(LogAddExp2Op(), *_floats(input, other, "logaddexp2"))


class LerpOp(Function):
    """start + w (end - start) as PyTorch's CPU kernel computes it: one fused multiply-add
    from the nearer end, fma(w, end - start, start) for |w| < 1/2, else fma(w - 1,
    end - start, end), w in the input's precision (so lerp(a, b, 1) is b exactly; the
    naive formula was an ulp off PyTorch's in a third of the elements). Fused in float32
    and float16, unfused in float64 (``_lerp_array``). ``w`` is the number weight, or None
    with the weight as a third input. Gradients 1 - w, w and end - start, as PyTorch's."""
    __slots__ = ("w",)
    name = "lerp"
    def __init__(self, w=None): self.w = w
    def forward(self, start, end, weight=None):
        return _lerp_array(start, end, self.w if weight is None else weight)

    def backward(self, xp, g, out, start, end, weight=None):
        ns, ne, *nw = self.needs_input_grad
        w = self.w if weight is None else weight
        gs, ge = (g * (1 - w) if ns else None), (g * w if ne else None)
        if weight is None:
            return gs, ge
        return gs, ge, (g * (end - start) if nw[0] else None)


def _lerp_array(a, b, w):
    """PyTorch's lerp of arrays (``LerpOp``): float32 fused in float64 (the product is
    exact there; a double rounding is possible about once in 2**29), float16 as float32
    (PyTorch's opmath); float64 and complex from the nearer end but unfused (an emulated
    float64 fma costs 15-35x: an ulp off PyTorch's at times, lerp(a, b, 1) still b)."""
    dt = a.dtype
    if dt == np.float16:
        return _lerp_array(a.astype(np.float32), b.astype(np.float32),
                           np.asarray(w).astype(np.float32) if np.ndim(w) else w).astype(dt)
    if np.ndim(w):
        w = np.asarray(w).astype(dt)
        small = np.abs(w) < 0.5
        coeff, base = np.where(small, w, w - dt.type(1)), np.where(small, a, b)
    else:
        w = dt.type(w)
        small = abs(w) < 0.5
        coeff, base = (w, a) if small else (w - dt.type(1), b)
    d = b - a
    if dt != np.float32:
        return base + coeff * d
    out = d.astype(np.float64)
    out *= coeff
    out += base
    return out.astype(dt)


@op(LerpOp, methods=("lerp",))
def lerp(input, end, weight):  # noqa: A002
    """Linear interpolation ``input + weight * (end - input)``, fused and from the nearer
    end as PyTorch's CPU kernel (``LerpOp``); ``end`` (and a tensor ``weight`` with
    dimensions) must have input's dtype, as in PyTorch."""
    x = _t(input)
    if x.dtype.kind in "biu":
        raise NotImplementedError(f"lerp: not implemented for an input of dtype {x.dtype}, "
                                  f"as in PyTorch; it needs floating point: lerp(x.float(), ...)")
    e = end if isinstance(end, Tensor) else _t(np.asarray(end, dtype=x.dtype))
    for what, v in (("end", e), ("weight", weight)):
        if isinstance(v, Tensor) and v.dtype != x.dtype and (what == "end" or v.ndim):
            raise DtypeError(f"lerp: {what} has dtype {v.dtype} but input has {x.dtype}; "
                             f"PyTorch requires the same dtype: convert with "
                             f"{what}.to(input.dtype)")
    if isinstance(weight, Tensor):
        return _ops.apply(LerpOp(), (x, e, weight.to(x.dtype)))
    if not isinstance(weight, numbers.Number):
        raise TypeError(f"lerp: weight must be a number or a tensor, got "
                        f"{type(weight).__name__}")
    return _ops.apply(LerpOp(weight), (x, e))


class HypotOp(Function):
    """sqrt(a**2 + b**2) without overflow; the gradient is (a, b) / out (PyTorch's rule,
    NaN at the origin)."""
    __slots__ = ()
    promotes = True
    name = "hypot"
    def forward(self, a, b): return np.hypot(a, b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        w = g / out
        return (w * a if na else None), (w * b if nb else None)


@op(HypotOp, methods=("hypot",))
def hypot(input, other):  # noqa: A002
    """Elementwise length of the hypotenuse, sqrt(input**2 + other**2)."""
    return _ops._call2(HypotOp(), *_floats(input, other, "hypot"))


class CopySignOp(Function):
    """|a| with the sign of b (-0.0 counts as negative). PyTorch's gradient: out / a with
    respect to a (0 where a = 0), none with respect to b (a step function of it)."""
    __slots__ = ()
    promotes = True
    name = "copysign"
    def forward(self, a, b): return np.copysign(a, b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        gb = _ops._untracked_zeros(g) if nb else None
        if na and xp is not NP:     # recorded: PyTorch's out / a, which depends on a
            return g * xp.where(a == 0, 0, out / xp.where(a == 0, 1, a)), gb
        flip = np.where(_raw(a) == 0, 0, np.sign(_raw(a)) * np.copysign(1, _raw(out)))
        return (g * flip.astype(_raw(out).dtype, copy=False) if na else None), gb


@op(CopySignOp, methods=("copysign",))
def copysign(input, other):  # noqa: A002
    """Elementwise magnitude of ``input`` with the sign of ``other``."""
    return _ops._call2(CopySignOp(), *_floats(input, other))


class NextAfterOp(Function):
    """The next float after a in the direction of b (b where a == b). PyTorch's gradient:
    g with respect to a (the step is a unit in the last place), 0 where a == b (the result
    is b there), zeros for b."""
    __slots__ = ()
    promotes = True
    name = "nextafter"
    def forward(self, a, b): return np.nextafter(a, b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        return (xp.where(a == b, 0, g) if na else None), \
            (_ops._untracked_zeros(g) if nb else None)


@op(NextAfterOp, methods=("nextafter",))
def nextafter(input, other):  # noqa: A002
    """The next representable float after ``input`` towards ``other``, elementwise
    (torchdiffeq's solvers step just past a grid point with it)."""
    if not isinstance(other, Tensor):
        raise TypeError(f"nextafter: other must be a tensor (as in PyTorch), got "
                        f"{type(other).__name__}; write zeroin.tensor({other!r})")
    x = _t(input)
    if x.dtype.kind != "f" or other.dtype.kind != "f":
        raise NotImplementedError(
            f"nextafter: not implemented for {x.dtype} and {other.dtype} (PyTorch's takes "
            f"real floating-point tensors only); cast first, e.g. x.double()")
    return _ops._call2(NextAfterOp(), x, other)


class XLogYOp(Function):
    """x * log(y), 0 where x = 0 (unless y is NaN). PyTorch's gradients: log(y) with
    respect to x (0 where x = 0 and y <= 0), x / y with respect to y."""
    __slots__ = ()
    promotes = True
    name = "xlogy"
    log1p = False

    def forward(self, x, y):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = x * (np.log1p(y) if self.log1p else np.log(y))
        return np.where((x == 0) & ~np.isnan(y), 0, r).astype(r.dtype, copy=False)

    def backward(self, xp, g, out, x, y):
        nx, ny = self.needs_input_grad
        gx = gy = None
        if nx:          # PyTorch's xlogy(g, y), 0 where x = 0 and y <= 0 (-1 for log1p)
            ry, safe = _raw(y), 0.0 if self.log1p else 1.0
            used = ~(((_raw(x) == 0) & (ry <= safe - 1)) | ((_raw(g) == 0) & ~np.isnan(ry)))
            ys = xp.where(used, y, safe)                    # log only where it is used
            gx = xp.where(used, g * (xp.log1p(ys) if self.log1p else xp.log(ys)), 0.0)
        if ny:
            gy = g * x / (1 + y) if self.log1p else g * x / y
        return gx, gy


class XLog1pYOp(XLogYOp):
    __slots__ = ()
    name = OpName("xlog1py", "SpecialXlog1PyBackward0")
    log1p = True


@op(XLogYOp, methods=("xlogy",))
def xlogy(input, other):  # noqa: A002
    """Elementwise input * log(other), 0 where input is 0 (the entropy and KL term)."""
    return _ops._call2(XLogYOp(), *_floats(input, other))


@op(XLog1pYOp, export=False)
def xlog1py(input, other):  # noqa: A002
    """Elementwise input * log1p(other), 0 where input is 0 (``zeroin.special.xlog1py``)."""
    return _ops._call2(XLog1pYOp(), *_floats(input, other))


class RemainderOp(Function):
    """``input % other`` with the sign of ``other`` (Python's rule, ``torch.remainder``);
    :class:`FmodOp` has the sign of ``input`` (C's). Both are ``input - q * other`` for a
    step function q (floor or trunc of the quotient): the gradients are g and -q g."""
    __slots__ = ()
    promotes = True
    name, symbol = "remainder", "%"
    def forward(self, a, b): return np.mod(a, b)
    def quotient(self, a, b): return np.floor(a / b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        if not nb:
            return g, None
        with np.errstate(all="ignore"):
            q = self.quotient(_raw(a), _raw(b))
        if xp is not NP:    # recorded: q is a step function of a and b (gradient 0), as
            q = _leaf(q) + _ops.zero_of(a) + _ops.zero_of(b)    # PyTorch's div(a, b, floor)
        return (g if na else None), g * -q


class FmodOp(RemainderOp):
    __slots__ = ()
    name, symbol = "fmod", "fmod"
    def forward(self, a, b): return np.fmod(a, b)
    def quotient(self, a, b): return np.trunc(a / b)


@op(RemainderOp, methods=("remainder", "__mod__"))
def remainder(input, other):  # noqa: A002
    """``input % other`` with the sign of ``other`` (Python's rule); either may be a
    number or a tensor (broadcast). Integer division by 0 raises, as in PyTorch."""
    _ops._check_int_divisor("remainder", input, other)
    return _ops._call2(RemainderOp(), input, other)


Tensor.__rmod__ = lambda self, other: remainder(other, self)


@op(FmodOp, methods=("fmod",))
def fmod(input, other):  # noqa: A002
    """C's remainder (the sign of ``input``); either may be a number or a tensor."""
    _ops._check_int_divisor("fmod", input, other)
    return _ops._call2(FmodOp(), input, other)


# --- activations ---------------------------------------------------------------------------

class HardtanhOp(Function):
    __slots__ = ("lo", "hi")
    piecewise_linear = True
    name = "hardtanh"
    def __init__(self, lo, hi): self.lo, self.hi = lo, hi

    def forward(self, x):
        if x.dtype.kind in "iu":        # PyTorch: the bounds cast to x's dtype, x's dtype out
            lo, hi = (np.array(int(v)).astype(x.dtype) for v in (self.lo, self.hi))
            return np.minimum(np.maximum(x, lo), hi)
        return np.clip(x, self.lo, self.hi)

    def backward(self, xp, g, out, x):
        r = _raw(x)
        return _ops._select(xp, g, (r > self.lo) & (r < self.hi))


@op(HardtanhOp, methods=())
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """Clamp to [min_val, max_val]; gradient 1 strictly inside, 0 outside."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) is greater than max_val ({max_val}); "
                         f"the order is hardtanh(x, min_val, max_val)")
    x = _t(input)
    _ops.no_bool("hardtanh", x, fix="x.float()")
    if x.dtype.kind == "u" and min_val < 0:
        raise DtypeError(f"hardtanh: cannot clamp an unsigned tensor ({x.dtype}) to "
                         f"[{min_val}, {max_val}]: a negative limit, as PyTorch "
                         f"refuses; use min_val >= 0 or convert first: x.int()")
    return HardtanhOp(min_val, max_val)(x)


@op(HardtanhOp, methods=())
def relu6(input, inplace=False):  # noqa: A002
    """min(max(x, 0), 6)."""
    _ops.no_bool("relu6", _t(input), fix="x.float()")
    return HardtanhOp(0.0, 6.0)(_t(input))


class ELUOp(Function):
    """x for x > 0, else alpha * (exp(x / beta) - 1) scaled: elu, celu and selu."""
    __slots__ = ("alpha", "scale", "beta")
    name = "elu"
    def __init__(self, alpha, scale=1.0, beta=1.0):
        self.alpha, self.scale, self.beta = alpha, scale, beta
    def forward(self, x):
        # min(0, x) keeps -0.0 (zero_first), so elu(-0.0) is -0.0, as in PyTorch
        neg = self.alpha * np.expm1(_ops.zero_first(np.minimum, x) / self.beta)
        return self.scale * _ops._where_bits(x > 0, x, neg)
    def backward(self, xp, g, out, x):
        pos = _raw(x) > 0
        # below 0: d/dx scale * alpha * (e^(x/beta) - 1) = (out + scale * alpha) / beta
        neg = (out + self.scale * self.alpha) / self.beta
        if xp is _ops.NP:   # g * where(pos, scale, neg), each side multiplied first
            return _ops._where_bits(pos, g * self.scale, g * neg)
        return g * xp.where(pos, self.scale, neg)


def _float_t(op, x):
    """``x`` as a tensor, refused unless floating point, as PyTorch's kernels are."""
    x = _t(x)
    _ops.float_input(op, x)
    return x


@op(ELUOp)
def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, else alpha * (e**x - 1)."""
    return ELUOp(float(alpha))(_float_t("elu", input))


@op(ELUOp)
def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """x for x > 0, else alpha * (e**(x / alpha) - 1)."""
    if alpha == 0:
        raise ZeroinError("celu: alpha cannot be 0 (it divides x); give a non-zero alpha")
    return ELUOp(float(alpha), 1.0, float(alpha))(_float_t("celu", input))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


@op(ELUOp)
def selu(input, inplace=False):  # noqa: A002
    """scale * elu(x, alpha) with the self-normalising constants."""
    return ELUOp(_SELU_ALPHA, _SELU_SCALE)(_float_t("selu", input))


class GELUOp(Function):
    """x * Phi(x), exactly (with erf) or with PyTorch's tanh approximation."""
    __slots__ = ("tanh", "cdf")
    name = "gelu"
    _K = math.sqrt(2 / math.pi)
    def __init__(self, tanh): self.tanh, self.cdf = tanh, None
    def label(self): return "gelu[tanh]" if self.tanh else "gelu"
    def forward(self, x):
        if self.tanh:
            # x * x * x as PyTorch's kernel: NumPy's x ** 3 is ~20x slower on negative x
            return 0.5 * x * (1 + np.tanh(self._K * (x + 0.044715 * (x * x * x))))
        # (x, Phi(x)) kept for backward: erf (Cephes' float64 formulas, for scipy's values)
        # is most of the cost; 0.5 * (1 + erf) in place, the same bits
        cdf = _erf_np(x / math.sqrt(2))
        cdf += 1
        cdf *= 0.5
        self.cdf = (x, cdf)
        return x * cdf
    def backward(self, xp, g, out, x):
        if self.tanh:
            t = xp.tanh(self._K * (x + 0.044715 * x * x * x))
            dt = (1 - t * t) * self._K * (1 + 3 * 0.044715 * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * dt)
        if self.cdf is not None and self.cdf[0] is x:      # the forward's own input
            cdf = self.cdf[1]
        else:
            cdf = 0.5 * (1 + xp.erf(x * (1 / math.sqrt(2))))
        if xp is _ops.NP and x.ndim and x.dtype in _sm.CEPHES_DTYPES and g.dtype == x.dtype:
            return _gelu_grad(g, x, cdf)
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return g * (cdf + x * pdf)


def _gelu_grad(g, x, cdf):
    """g * (cdf + x * pdf(x)), pdf(x) = exp(-0.5 * x * x) / sqrt(2 pi), in one new array: each
    product and sum of the formula in place (the same bits; (1024, 512) float32 ~0.8 of
    the time)."""
    t = x * -0.5
    t *= x
    np.exp(t, out=t)
    t *= 1 / math.sqrt(2 * math.pi)
    t *= x
    t += cdf
    t *= g
    return t


@op(GELUOp)
def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit; ``approximate="tanh"`` for the tanh formula."""
    if approximate not in ("none", "tanh"):
        raise _ArgumentError(f"gelu: approximate must be 'none' or 'tanh', got "
                             f"{approximate!r}")
    return GELUOp(approximate == "tanh")(_float_t("gelu", input))


class SiLUOp(Function):
    __slots__ = ("sig",)
    float_only = True
    name = "silu"
    def forward(self, x):
        # (x, sigmoid(x)) kept for backward: the two exps are most of the cost
        self.sig = (x, _ops.sigmoid_array(x))
        return x * self.sig[1]
    def backward(self, xp, g, out, x):
        sig = getattr(self, "sig", None)       # set by forward (made as SiLUOp(): _unary)
        if sig is not None and sig[0] is x:     # the forward's own input
            s = sig[1]
        else:
            s = xp.sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


silu = _unary(SiLUOp, "x * sigmoid(x) (also called swish).", ())


class MishOp(Function):
    __slots__ = ()
    float_only = True
    name = "mish"
    def forward(self, x): return x * np.tanh(_ops.softplus_array(x))
    def backward(self, xp, g, out, x):
        t = xp.tanh(xp.softplus(x))
        return g * (t + x * (1 - t * t) * xp.sigmoid(x))


mish = _unary(MishOp, "x * tanh(softplus(x)).", ())


class SoftsignOp(Function):
    __slots__ = ()
    name = "softsign"
    no_bool = True          # |x| of a bool: PyTorch has no kernel
    holomorphic = False     # |x|: a complex x's gradient is written out below
    def forward(self, x): return x / (1 + np.abs(x))
    def backward(self, xp, g, out, x):
        d = 1 + xp.abs(x)
        if _raw(x).dtype.kind == "c":
            # PyTorch's convention for f = z h(|z|), h = 1 / (1 + |z|): conj(g) df/dconj(z)
            # + g conj(df/dz), df/dz = h - h^2 |z| / 2, df/dconj(z) = -h^2 z^2 / (2 |z|)
            h, r = 1 / d, xp.abs(x)
            safe = xp.where(_raw(r) == 0, 1, r)
            return g.conj() * (-(h * h) * x * x / (2 * safe)) + g * (h - h * h * r / 2)
        return g / (d * d)


softsign = _unary(SoftsignOp, "x / (1 + |x|).", ())


class HardswishOp(Function):
    __slots__ = ()
    float_only = True
    name = "hardswish"
    def forward(self, x): return x * np.clip(x + 3, 0, 6) / 6
    def backward(self, xp, g, out, x):
        r = _raw(x)
        mid = (r > -3) & (r < 3)        # 0 below -3 whatever g is there, as PyTorch
        return _ops._select(xp, g * xp.where(mid, x * (1 / 3) + 0.5, 1), mid | (r >= 3))


hardswish = _unary(HardswishOp, "x * relu6(x + 3) / 6.", ())


class HardsigmoidOp(Function):
    __slots__ = ()
    float_only = True
    name = "hardsigmoid"
    piecewise_linear = True     # recorded: tied to x, its second derivative is zeros
    def forward(self, x): return np.clip(x / 6 + 0.5, 0, 1)
    def backward(self, xp, g, out, x):
        r = _raw(x)
        # 1/6 rounded to float32 first, as PyTorch's kernel (1.0f / 6.0f) for every dtype
        return _ops._select(xp, g * r.dtype.type(np.float32(1 / 6)), (r > -3) & (r < 3))


hardsigmoid = _unary(HardsigmoidOp, "relu6(x + 3) / 6.", ())


class LogSigmoidOp(Function):
    __slots__ = ()
    float_only = True
    name = "logsigmoid"
    def forward(self, x): return -_ops.softplus_array(-x)
    def backward(self, xp, g, out, x): return g * xp.sigmoid(-x)


logsigmoid = _unary(LogSigmoidOp, "log(sigmoid(x)), computed stably.", ())


# --- reductions ------------------------------------------------------------------------------

class StdOp(Function):
    """The square root of a variance, with PyTorch's rule where the std is 0 (a constant
    input): gradient 0, where sqrt's rule would give 0 * inf = NaN."""
    __slots__ = ()
    name = "std"
    def forward(self, v): return np.sqrt(v)
    def backward(self, xp, g, out, v):
        zero = _raw(out) == 0
        return xp.where(zero, 0, g * 0.5 / xp.where(zero, 1, out))


def _var_parts(name, x, dim, unbiased, keepdim, correction):
    x = _t(x)
    if x.dtype.kind not in "fc":     # (else the mean inside refuses it, named "mean")
        fix = f"x.float().{name}()" if name in ("std", "var") else f"{name}(x.float())"
        raise DtypeError(f"{name}: the input has dtype {x.dtype}; std and var need a "
                         f"floating dtype, as in PyTorch: convert first, e.g. {fix}")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    d = _ops._reduce_dims(name, x, dim)
    axes = _ops._axes(d, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
    if n - correction <= 0:     # the result is inf or NaN; PyTorch says why
        import warnings
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      f"less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    dev = x - x.mean(axis=d, keepdims=True)
    # |dev|**2: a complex input's variance is real, as PyTorch's
    sq = dev * dev if dev.dtype.kind != "c" else dev.real * dev.real + dev.imag * dev.imag
    if n - correction > 0:
        return sq.sum(axis=d, keepdims=keepdim) / (n - correction)
    with np.errstate(divide="ignore", invalid="ignore"):    # warned above, once
        return sq.sum(axis=d, keepdims=keepdim) / 0


@op((SubOp, MulOp, SumOp, MeanOp), methods=("var",))
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        axis=None, keepdims=None):
    """Variance over ``dim`` (all by default), with Bessel's correction unless
    ``unbiased=False`` or ``correction=0``, as in PyTorch."""
    if isinstance(dim, bool):                   # var(x, False): the old (unbiased) form
        dim, unbiased = None, dim
    dim, keepdim = _dim_names("var", dim, keepdim, axis, keepdims)
    return _var_parts("var", input, dim, unbiased, keepdim, correction)


@op((SubOp, MulOp, SumOp, MeanOp, StdOp), methods=("std",))
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None,  # noqa: A002
        axis=None, keepdims=None):
    """Standard deviation: the square root of :func:`var` (same arguments)."""
    if isinstance(dim, bool):                   # var(x, False): the old (unbiased) form
        dim, unbiased = None, dim
    dim, keepdim = _dim_names("std", dim, keepdim, axis, keepdims)
    return StdOp()(_var_parts("std", input, dim, unbiased, keepdim, correction))


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
        if xp is not NP:    # recorded: its own derivatives are not zero where x has zeros
            return ge * _prod_others_recorded(x, self.axis)
        return ge * _prod_others(r, self.axis)      # zeros: the product of the others


def _prod_others_recorded(x, axis):
    """:func:`_prod_others` of a tensor, recorded (create_graph): exclusive prefix and
    suffix products by cumprod, as PyTorch's prod_safe_zeros_backward, so the Hessian of
    a product with a zero factor is the product of the other factors, not missing."""
    if axis is None:
        return _prod_others_recorded(x.reshape(-1), 0).reshape(x.shape)
    if not isinstance(axis, numbers.Integral):
        if len(axis) > 1:
            k = len(axis)
            last = tuple(range(-k, 0))
            moved = x.movedim(tuple(axis), last)
            res = _prod_others_recorded(moved.reshape(moved.shape[:-k] + (-1,)), -1)
            return res.reshape(moved.shape).movedim(last, tuple(axis))
        axis = axis[0]
    n, shape = x.shape[axis], list(x.shape)
    shape[axis] = 1
    ones = _leaf(np.ones(shape, _raw(x).dtype))
    left = _ops.concatenate([ones, x.narrow(axis, 0, n - 1)], axis).cumprod(axis)
    right = _ops.concatenate([ones, x.flip(axis).narrow(axis, 0, n - 1)], axis)
    return left * right.cumprod(axis).flip(axis)


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
    x = _ops._unsigned_to_int64(x)
    if isinstance(dim, (tuple, list)) and not len(dim):
        raise TypeError(f"prod: dim={dim!r}: PyTorch's prod takes one int dim; leave dim "
                        f"out for the product of all elements")
    return ProdOp(_check_axis("prod", x, dim), keepdim)(x)


class CumsumOp(Function):
    __slots__ = ("axis",)
    name = "cumsum"
    def __init__(self, axis): self.axis = axis
    def forward(self, x): return _cumsum_array(x, self.axis)
    def backward(self, xp, g, out, x):
        a = self.axis
        if xp is NP:
            return np.flip(_cumsum_array(np.flip(g, a), a), a)
        return xp.flip(xp.cumsum(xp.flip(g, a), a), a)


# PyTorch's CPU cumsum / cumprod accumulate float16 in float32 and float32 / complex64 in
# double, rounding each running value once: so does zeroin (float32 alphas_cumprod over 1000
# diffusion steps drifted 10 ulps from PyTorch's, which is within 1 ulp of the exact product)
_CUM_ACC = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float64,
            np.dtype(np.complex64): np.complex128}


def _cumsum_array(x, axis):
    """``np.cumsum(x, axis)`` accumulated as PyTorch's CPU kernel (``_CUM_ACC``), the same
    additions in the same order. Along an axis with 128+ contiguous elements behind it,
    one vectorised add a step (out[i] = out[i-1] + x[i]): NumPy's accumulate walks such an
    axis element by element, column after column (float32 (256, 1024) along dim 0: 13.6 ms
    against 0.15 ms; (32, 64, 128) along dim 1: 4.4 against 0.16 ms)."""
    a = axis % x.ndim if x.ndim else 0
    acc = _CUM_ACC.get(x.dtype)
    if x.ndim < 2 or x.dtype.kind not in "fc" or x.shape[a] < 2 or \
            math.prod(x.shape[a + 1:]) < 128:
        return np.cumsum(x, axis=axis) if acc is None else \
            np.cumsum(x, axis=axis, dtype=acc).astype(x.dtype)
    out = np.empty(x.shape, acc or x.dtype)
    xs, os = np.moveaxis(x, a, 0), np.moveaxis(out, a, 0)
    os[0] = xs[0]
    for i in range(1, xs.shape[0]):
        np.add(os[i - 1], xs[i], out=os[i])
    return out if acc is None else out.astype(x.dtype)


def _cumprod_array(x, axis):
    """``np.cumprod(x, axis)`` accumulated as PyTorch's CPU kernel (``_CUM_ACC``)."""
    acc = _CUM_ACC.get(x.dtype)
    return np.cumprod(x, axis=axis) if acc is None else \
        np.cumprod(x, axis=axis, dtype=acc).astype(x.dtype)


@op(CumsumOp, methods=("cumsum",))
def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Running sum along ``dim``."""
    x = _t(input) if dtype is None else _t(input).to(dtype)
    x = _ops._unsigned_to_int64(x)
    d = _check_axis("cumsum", x, dim)
    if d is None:
        return x * 1
    return CumsumOp(d % x.ndim)(x)


class CumprodOp(Function):
    """Running product. The gradient at k is the sum over j >= k of g_j * out_j / x_k; with
    zeros (PyTorch's exact rule, no division by 0): before a slice's first zero the same sum
    (later outputs are 0), at the first zero the sum with that zero read as 1, after it 0."""
    __slots__ = ("axis",)
    name = "cumprod"
    def __init__(self, axis): self.axis = axis
    def forward(self, x): return _cumprod_array(x, self.axis)

    def backward(self, xp, g, out, x):
        a = self.axis
        def rsum(v): return xp.flip(xp.cumsum(xp.flip(v, a), a), a)    # sum over j >= k
        r = _raw(x)
        zeros = r == 0
        if not zeros.any():
            return rsum(g * out) / x
        if xp is not NP:        # create_graph: 0 after a zero still depends on that zero
            return _cumprod_grad_graph(g, x, a)
        seen = np.cumsum(zeros, axis=a)
        before, first = seen == 0, zeros & (seen == 1)
        at_first = rsum(g * _cumprod_array(np.where(first, 1, r), a))
        return np.where(before, rsum(g * out) / np.where(before, r, 1),
                        np.where(first, at_first, 0))


def _cumprod_grad_graph(g, x, a):
    """cumprod's gradient at inputs with zeros as ops that can be differentiated again: for
    each k, the sum over j >= k of g_j times the product of x_i for i <= j, i != k (a
    cumprod of n copies of x, copy k with x_k read as 1: O(n^2) along ``a``)."""
    xs, gs = x.swapaxes(a, -1), _t(g).swapaxes(a, -1)
    n = xs.shape[-1]
    others = _ops.where(np.eye(n, dtype=bool), 1, xs[..., None, :]).cumprod(-1)   # [k, j]
    later = np.triu(np.ones((n, n), dtype=bool))                                   # j >= k
    return _ops.where(later, gs[..., None, :] * others, 0).sum(-1).swapaxes(a, -1)


@op(CumprodOp, methods=("cumprod",))
def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Running product along ``dim``."""
    x = _t(input) if dtype is None else _t(input).to(dtype)
    x = _ops._unsigned_to_int64(x)
    d = _check_axis("cumprod", x, dim)
    if d is None:
        return x * 1
    return CumprodOp(d % x.ndim)(x)


class NormOp(Function):
    """The p-norm over ``axis``, with PyTorch's rule where it has no derivative: 0 where the
    norm is 0 (``sqrt(sum(x * x))`` would give 0 * inf = NaN), 0 at x = 0 for p < 1, and
    no gradient for p = 0 (the count of non-zeros)."""
    __slots__ = ("p", "axis", "keepdims")
    name = "norm"
    def __init__(self, p, axis, keepdims): self.p, self.axis, self.keepdims = p, axis, keepdims
    def label(self): return f"norm[p={_ops._fmt(self.p)}]"

    def forward(self, x):
        p, a, k = self.p, self.axis, self.keepdims
        if p == 2:
            return np.sqrt(np.add.reduce(x * x, axis=a, keepdims=k))
        if p == 0:
            return np.add.reduce(x != 0, axis=a, keepdims=k).astype(x.dtype)
        ax = np.abs(x)
        if p == math.inf:
            return ax.max(axis=a, keepdims=k)
        if p == -math.inf:
            return ax.min(axis=a, keepdims=k)
        if p == 1:
            return np.add.reduce(ax, axis=a, keepdims=k)
        with np.errstate(divide="ignore"):  # p < 0 at a zero: 0 ** p = inf, the norm 0
            return np.add.reduce(ax ** p, axis=a, keepdims=k) ** (1.0 / p)

    def backward(self, xp, g, out, x):
        p = self.p
        if p == 0:
            return None
        axes = _ops._axes(self.axis, x.ndim)
        ge = _ops._expand(g, x.shape, axes, self.keepdims)
        ne = _ops._expand(out, x.shape, axes, self.keepdims)
        r, n = _raw(x), _raw(ne)
        sign = np.sign(r)
        if p == 1:      # recorded: sgn(x) tied to x with gradient 0, as PyTorch's
            return ge * sign if xp is NP else ge * sign + _ops.zero_of(x)
        if math.isinf(p):           # to the largest (smallest) |x|; ties share
            m = np.abs(r) == n
            s = (sign * m / m.sum(axis=axes, keepdims=True)).astype(r.dtype)
            return ge * s if xp is NP else ge * s + _ops.zero_of(x)     # tied, as p = 1
        zero = n == 0
        scale = xp.where(zero, 0, ge / xp.where(zero, 1, ne) ** (p - 1))
        if p == 2:
            return x * scale
        if p < 1:                   # |x| ** (p - 1) is infinite at x = 0: 0 there
            xz = r == 0
            return xp.where(xz, 0, sign * xp.abs(xp.where(xz, 1, x)) ** (p - 1)) * scale
        return sign * xp.abs(x) ** (p - 1) * scale



@op(NormOp, methods=("norm",))
def norm(input, p="fro", dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The p-norm over ``dim`` (all by default): 2 ("fro"), 1, inf, -inf, 0 (the number of
    non-zeros) or any p; the gradient follows PyTorch where the norm has no derivative."""
    x = _t(input)
    if p in ("fro", None):
        p = 2
    if p == "nuc":          # PyTorch: linalg.matrix_norm over dim (all dims by default)
        from .linalg import matrix_norm
        dims = tuple(range(x.ndim)) if dim is None else \
            (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        return matrix_norm(x, "nuc", dim=dims, keepdim=keepdim)
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise ValueError(f"norm: unsupported p={p!r}; use 'fro', 'nuc', a number, inf or "
                         f"-inf")
    if x.dtype.kind == "c":         # the norm of the moduli (real), as PyTorch's
        x = x.abs()
    elif x.dtype.kind in "biu":
        raise _ops._DtypeError(f"norm: expected a floating point or complex tensor, got dtype "
                               f"{x.dtype} (shape {tuple(x.shape)}), as PyTorch refuses; "
                               f"convert first: x.float().norm()")
    return NormOp(float(p), _ops._reduce_dims("norm", x, dim), keepdim)(x)


class PdistOp(Function):
    """The p-norm distance between each pair of rows i < j of an (N, M) input, in the order
    of ``triu_indices(N, 1)``. PyTorch's rule: a pair at distance 0 passes no gradient, and
    neither does a coordinate with difference 0 when p < 1 (p = inf: every maximal one)."""
    __slots__ = ("p", "rows")
    name = "pdist"
    def __init__(self, p, n): self.p, self.rows = p, np.triu_indices(n, 1)

    def forward(self, x):
        i, j = self.rows
        a = np.abs(x[i] - x[j])
        if self.p == 0:
            return (a != 0).sum(axis=1).astype(x.dtype)
        if self.p == np.inf:
            return a.max(axis=1, initial=0.0).astype(x.dtype, copy=False)
        if self.p == 1:
            return a.sum(axis=1)
        return (a ** self.p).sum(axis=1) ** (1 / self.p)

    def backward(self, xp, g, out, x):
        (i, j), p = self.rows, self.p
        d = x[i] - x[j]
        rd, ro = _raw(d), _raw(out)[:, None]
        sgn = np.sign(rd)
        g = g.reshape(-1, 1) if isinstance(g, Tensor) else g[:, None]
        if p == 0:                              # a count of nonzeros: gradient 0
            each = g * np.zeros_like(rd)
        elif p == 1:
            each = g * sgn
        elif p == np.inf:
            each = g * (sgn * (np.abs(rd) == ro))
        else:
            far = ro != 0
            skip = ~far | ((rd == 0) & (p < 1))
            base = xp.where(skip, 1.0, xp.abs(d)) if p != 2 else d
            scale = g / xp.where(far, out.reshape(-1, 1) if isinstance(out, Tensor)
                                 else ro, 1.0) ** (p - 1)
            each = xp.where(skip, 0.0, scale * (base if p == 2 else sgn * base ** (p - 1)))
        shape = tuple(x.shape)
        return xp.scatter(each, i, shape) - xp.scatter(each, j, shape)


class _ArgumentError(ZeroinError, ValueError):
    """A bad argument value that PyTorch refuses with a RuntimeError (pdist's p < 0)."""


@op(PdistOp)
def pdist(input, p=2):  # noqa: A002
    """The ``p``-norm distances between the rows of an (N, M) input, one per pair i < j
    (N * (N - 1) / 2 of them, the condensed distance matrix)."""
    x = _t(input)
    if x.ndim != 2:
        raise ShapeError(f"pdist: input must be 2-D (N rows of M features), got shape "
                         f"{tuple(x.shape)}; for a batch use cdist, or reshape to (N, M)")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p >= 0:
        raise _ArgumentError(f"pdist: p must be a non-negative number (inf included), got "
                             f"{p!r}")
    if x.dtype.kind != "f":
        raise DtypeError(f"pdist: input must be a float tensor, got {x.dtype}; cast it "
                         f"first, e.g. x.double()")
    return _ops._call1(PdistOp(float(p), x.shape[0]), x)


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
    def backward(self, xp, g, out, x):     # a copy, as the forward (contiguous, PyTorch's)
        return np.flip(g, self.dims).copy() if xp is NP else xp.flip(g, self.dims)


@op(FlipOp, methods=("flip",))
def flip(input, *dims_, dims=None):  # noqa: A002
    """Reverse the order of elements along ``dims`` (an int or a tuple; the method also
    takes them one by one, ``x.flip(0, 1)``, as PyTorch's)."""
    x = _t(input)
    if dims is None:
        dims = dims_[0] if len(dims_) == 1 else dims_
    d = _check_axis("flip", x, dims)
    if d is None:
        return x * 1
    return FlipOp(tuple(a % x.ndim for a in _ops._axes(d, x.ndim)))(x)


@op(FlipOp, methods=("fliplr",))
def fliplr(input):  # noqa: A002
    """Reverse the columns (dim 1)."""
    x = _t(input)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: expects a tensor with at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}; use flip(x, dims) for others")
    return flip(x, 1)


@op(FlipOp, methods=("flipud",))
def flipud(input):  # noqa: A002
    """Reverse the rows (dim 0)."""
    x = _t(input)
    if x.ndim < 1:
        raise ShapeError(f"flipud: expects a tensor with at least 1 dimension, got shape "
                         f"{tuple(x.shape)}; use flip(x, dims) for others")
    return flip(x, 0)


@op((FlipOp, _ops.TransposeOp), methods=("rot90",))
def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    """Rotate by 90 degrees ``k`` times in the plane of ``dims``, from the first dim towards
    the second (PyTorch's direction): a flip and a transpose, so gradients flow."""
    x = _t(input)
    dims = tuple(dims)
    if len(dims) != 2:          # RuntimeErrors, as PyTorch's
        raise RuntimeError(f"rot90: dims must name 2 dimensions, got dims={dims!r}")
    if x.ndim < 2:
        raise RuntimeError(f"rot90: the input needs at least 2 dimensions, got shape "
                           f"{tuple(x.shape)}")
    d0, d1 = (_check_axis("rot90", x, d) % x.ndim for d in dims)
    if d0 == d1:
        raise RuntimeError(f"rot90: the two dims must differ, got dims={dims!r}")
    k %= 4
    if k == 1:
        return flip(x, d1).transpose(d0, d1)
    if k == 2:
        return flip(x, (d0, d1))
    if k == 3:
        return flip(x, d0).transpose(d0, d1)
    return x * 1


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


def _int_tuple(op, what, v):
    """``v`` (an int or a sequence of ints) as a tuple of ints; a float is PyTorch's
    TypeError (NumPy would truncate it)."""
    seq = (v,) if not isinstance(v, (tuple, list)) else v
    try:
        return tuple(operator.index(s) for s in seq)
    except TypeError:
        raise TypeError(f"{op}: {what} must be an int or a tuple of ints, got {v!r}") from None


@op(RollOp, methods=("roll",))
def roll(input, shifts, dims=None):  # noqa: A002
    """Shift elements along ``dims`` cyclically (the flattened tensor if ``dims`` is None);
    one shift per dim, as PyTorch checks (NumPy would broadcast them)."""
    x = _t(input)
    sh = _int_tuple("roll", "shifts", shifts)
    dm = () if dims is None else _int_tuple("roll", "dims", dims)
    if not sh:
        raise _ArgumentError("roll: `shifts` required: give one shift per dim, e.g. "
                             "roll(x, shifts=1, dims=0)")
    if len(sh) != len(dm) and not (dims is None and len(sh) == 1):
        raise _ArgumentError(f"roll: shifts and dimensions must align: {len(sh)} shifts "
                             f"{sh} for {len(dm)} dims {dm}; give one shift per dim (or "
                             f"one shift and no dims to roll the flattened tensor)")
    if dims is None:
        return RollOp(sh[0], None)(x)
    _check_axis("roll", x, dm)
    return RollOp(sh, dm)(x)


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
        return _ops._select(xp, g, mask)


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


class DiagonalOp(Function):
    """The diagonal ``offset`` of the plane (dim1, dim2), as PyTorch's ``diagonal``: a view
    (writes through it reach the input) with the other dimensions first and the diagonal
    last; the gradient is ``g`` placed on that diagonal of zeros (:class:`DiagScatterOp`)."""
    __slots__ = ("offset", "d1", "d2")
    name = "diagonal"
    def __init__(self, offset, d1, d2): self.offset, self.d1, self.d2 = offset, d1, d2
    def label(self): return f"diagonal[{self.offset}]" if self.offset else "diagonal"
    def forward(self, x): return _diag_view(x, self.offset, self.d1, self.d2)
    def backward(self, xp, g, out, x):
        back = DiagScatterOp(self.offset, self.d1, self.d2, x.shape)
        return back(g) if isinstance(g, Tensor) else back.forward(g)


class DiagScatterOp(Function):
    """zeros(shape) with the input on the diagonal ``offset`` of the plane (dim1, dim2):
    the adjoint of :class:`DiagonalOp`, and ``diag_embed``."""
    __slots__ = ("offset", "d1", "d2", "shape")
    name = "diag_embed"
    def __init__(self, offset, d1, d2, shape):
        self.offset, self.d1, self.d2, self.shape = offset, d1, d2, tuple(shape)
    def forward(self, g):
        z = np.zeros(self.shape, dtype=g.dtype)
        _diag_view(z, self.offset, self.d1, self.d2)[...] = g
        return z
    def backward(self, xp, g, out, x):
        back = DiagonalOp(self.offset, self.d1, self.d2)
        return back(g) if isinstance(g, Tensor) else back.forward(g).copy()


def _diag_view(a, offset, d1, d2):
    """The diagonal of the array ``a`` as a view (writable if ``a`` is), by strides."""
    r0, c0 = builtins.max(-offset, 0), builtins.max(offset, 0)
    n = builtins.max(builtins.min(a.shape[d1] - r0, a.shape[d2] - c0), 0)
    start = [slice(None)] * a.ndim
    start[d1], start[d2] = slice(builtins.min(r0, a.shape[d1]), None), \
        slice(builtins.min(c0, a.shape[d2]), None)
    b = a[tuple(start)]
    keep = [i for i in range(a.ndim) if i not in (d1, d2)]
    return np.lib.stride_tricks.as_strided(
        b, tuple(a.shape[i] for i in keep) + (n,),
        tuple(a.strides[i] for i in keep) + (a.strides[d1] + a.strides[d2],))


def _diag_dims(name, nd, dim1, dim2):
    """``dim1`` and ``dim2`` checked against ``nd`` dimensions (>= 2), made non-negative."""
    if nd < 2:
        raise _DimError(f"{name}: needs at least 2 dimensions, got {nd} (a diagonal lies in "
                        f"the plane of two dimensions); for a 1-D tensor use diag or diag_embed")
    for d in (dim1, dim2):
        if not -nd <= d < nd:
            raise _DimError(f"{name}: dimension {d} is out of range for {nd} dimensions "
                            f"(expected a dim in [{-nd}, {nd - 1}])")
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise RuntimeError(f"{name}: dim1 and dim2 name the same dimension ({dim1}, {dim2}); "
                           f"give two different dimensions")
    return d1, d2


@op(DiagonalOp, methods=("diagonal",))
def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The ``offset``-th diagonal in the plane of ``dim1`` and ``dim2`` (the other
    dimensions first, the diagonal last): a view, as in PyTorch, so that
    ``x.diagonal().fill_(0)`` under no_grad changes ``x``."""
    x = _t(input)
    d1, d2 = _diag_dims("diagonal", x.ndim, dim1, dim2)
    return _ops._view(DiagonalOp(int(offset), d1, d2)(x), x)


@op(DiagScatterOp, methods=("diag_embed",))
def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """A tensor whose diagonals (``offset``, in the plane of ``dim1`` and ``dim2`` of the
    result) hold the last dimension of ``input``; zeros elsewhere."""
    x = _t(input)
    nd = x.ndim + 1
    d1, d2 = _diag_dims("diag_embed", nd, dim1, dim2)
    n = x.shape[-1] + builtins.abs(int(offset))
    rest = iter(x.shape[:-1])
    shape = tuple(n if i in (d1, d2) else next(rest) for i in range(nd))
    return DiagScatterOp(int(offset), d1, d2, shape)(x)


class _IntoOp(Function):
    """``input`` with ``src`` written into one region of a copy of it (select_scatter,
    slice_scatter, diagonal_scatter: the out-of-place writes ``x[i] = src`` compile to).
    ``src`` is cast to input's dtype. Gradients: g with the region zeroed for input, g's
    region for src."""
    __slots__ = ("key",)
    def __init__(self, key): self.key = key
    def region(self, a): return a[self.key]             # a view (array) or getitem (tensor)
    def forward(self, x, src):
        out = x.copy()
        self.region(out)[...] = src
        return out
    def backward(self, xp, g, out, x, src):
        nx, ns = self.needs_input_grad
        s = _raw(src)
        if isinstance(g, Tensor):
            gx = type(self)(self.key)(g, _leaf(np.zeros(s.shape, g.dtype))) if nx else None
            gs = self.region(g).to(s.dtype) if ns else None
            return gx, gs
        gx = gs = None
        if nx:
            gx = g.copy()
            self.region(gx)[...] = 0
        if ns:
            gs = np.array(self.region(g), dtype=s.dtype)
        return gx, gs


class SelectScatterOp(_IntoOp):
    __slots__ = ()
    name = "select_scatter"


class SliceScatterOp(_IntoOp):
    __slots__ = ()
    name = "slice_scatter"


class DiagonalScatterOp(_IntoOp):
    __slots__ = ()
    name = "diagonal_scatter"
    def region(self, a):                                # key: (offset, dim1, dim2)
        return DiagonalOp(*self.key)(a) if isinstance(a, Tensor) else _diag_view(a, *self.key)


def _into(cls, name, x, src, key, where):
    """Check that ``src`` has the region's shape, then record ``cls``."""
    src = _t(src)
    want = (DiagonalOp(*key).forward if cls is DiagonalScatterOp else
            (lambda a: a[key]))(np.empty(x.shape, np.bool_)).shape
    if src.shape != want:
        raise ShapeError(f"{name}: src has shape {src.shape} but the part of input it replaces "
                         f"({where} of input of shape {x.shape}) has shape {want}; give src "
                         f"that shape")
    return cls(key)(x, src)


@op(SelectScatterOp, methods=("select_scatter",))
def select_scatter(input, src, dim, index):  # noqa: A002
    """A copy of input with ``src`` at ``index`` along ``dim`` (``x.select(dim, index)``'s
    place; src has input's shape without ``dim``)."""
    x = _t(input)
    if x.ndim == 0:
        raise _DimError("select_scatter: input is 0-d; select needs a dimension to pick from")
    d = _check_axis("select_scatter", x, dim) % x.ndim
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select_scatter: index {index} is out of range for dimension {d} of "
                         f"size {n} (input shape {x.shape}); give -{n} <= index < {n}")
    return _into(SelectScatterOp, "select_scatter", x, src,
                 (slice(None),) * d + (int(index) % n, Ellipsis), f"index {index} of dim {d}")


@op(SliceScatterOp, methods=("slice_scatter",))
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):  # noqa: A002
    """A copy of input with ``src`` in ``x[..., start:end:step, ...]`` along ``dim``
    (start and end clamped as Python's slices; step must be positive)."""
    x = _t(input)
    if x.ndim == 0:
        raise _DimError("slice_scatter: input is 0-d; slicing needs a dimension")
    d = _check_axis("slice_scatter", x, dim) % x.ndim
    if step is None or step <= 0:
        raise _ops._ValueError(f"slice_scatter: slice step must be positive, got {step}")
    key = (slice(None),) * d + (slice(start, end, int(step)),)
    return _into(SliceScatterOp, "slice_scatter", x, src, key,
                 f"{start}:{end}:{step} of dim {d}")


@op(DiagonalScatterOp, methods=("diagonal_scatter",))
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):  # noqa: A002
    """A copy of input with ``src`` on its diagonal ``offset`` in the plane (dim1, dim2);
    src has ``x.diagonal(offset, dim1, dim2)``'s shape (other dims first, diagonal last)."""
    x = _t(input)
    d1, d2 = _diag_dims("diagonal_scatter", x.ndim, dim1, dim2)
    return _into(DiagonalScatterOp, "diagonal_scatter", x, src, (int(offset), d1, d2),
                 f"diagonal {offset} of dims ({d1}, {d2})")


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
def tile(input, *dims_, dims=None):  # noqa: A002
    """Like :func:`repeat`, with fewer ``dims`` than dimensions padded with 1s in front
    (a tuple, or one by one as in ``x.tile(2, 2)``)."""
    x = _t(input)
    if dims is None:
        dims = dims_[0] if len(dims_) == 1 else dims_
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
    if any(s == -1 for s in sizes[:lead]):
        fix = ", ".join(["2"] * lead + ["-1"] * x.ndim)
        raise ShapeError(f"expand: -1 (keep the size) cannot be used for the new leading "
                         f"dimension(s) of sizes {tuple(sizes)} on a tensor of shape {x.shape}; "
                         f"give their sizes, e.g. x.expand({fix})")
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
    d = _check_dim("unflatten", x, dim)
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
    if idx.dtype.kind not in "iu":      # PyTorch's RuntimeError; a TypeError too
        raise DtypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}; "
                         f"convert it with index.long()")
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
    d = _check_dim("gather", x, dim)
    idx = _index_array("gather", index)
    if x.ndim <= 1 and idx.ndim <= 1 and 0 in (x.ndim, idx.ndim):    # 0-d: 1-D in PyTorch
        return _ops.reshape(gather(_one(x), 0, idx.reshape(-1)), idx.shape)
    if idx.ndim != x.ndim:
        raise ShapeError(f"gather: index has {idx.ndim} dimensions, input {x.ndim}; they "
                         f"must have the same number")
    idx = _check_range("gather", idx, x, d)
    return getitem(x.reshape(-1), _flat_along(x.shape, idx, d))   # 1-D: 4x faster


def _one(v):
    """A 0-d tensor or array as a 1-D one of one element (others as they are): PyTorch's
    ops along a dim (gather, scatter, index_select...) take 0-d tensors as 1-D."""
    if isinstance(v, Tensor) and v.ndim == 0:
        return _ops.reshape(v, (1,))
    return v.reshape(1) if isinstance(v, np.ndarray) and v.ndim == 0 else v


def _flat_along(shape, idx, d):
    """The flat positions (in a C-ordered array of ``shape``) that ``_along(idx, d)``
    picks: NumPy indexes and adds at one flat integer array 4-5x faster than at a tuple."""
    ii = _along(idx, d)
    step = np.cumprod((1,) + tuple(shape[:0:-1]))[::-1]      # elements per step of each dim
    flat = np.zeros(idx.shape, np.int64)
    for i, n in zip(ii, step):
        flat += i * n if n != 1 else i
    return flat


@op(GetItemOp, methods=("take_along_dim",))
def take_along_dim(input, indices, dim=None):  # noqa: A002
    """Pick ``indices`` along ``dim`` (NumPy's take_along_axis); flattened if dim is None."""
    x = _t(input)
    if dim is None:
        return getitem(x.reshape(-1), _index_array("take_along_dim", indices).reshape(-1))
    idx = _index_array("take_along_dim", indices)
    if x.ndim == 0:
        raise _DimError(f"take_along_dim: dim {dim} of a 0-d tensor (PyTorch's IndexError); "
                        f"give dim=None to pick from all its elements")
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_dim: input (shape {tuple(x.shape)}) and indices (shape "
                         f"{idx.shape}) must have the same number of dimensions, as in "
                         f"PyTorch; unsqueeze the indices, or use dim=None")
    d = _check_dim("take_along_dim", x, dim)
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
    d = _check_dim("index_select", x, dim)
    idx = _index_array("index_select", index)
    if x.ndim == 0 and idx.size != 1:
        raise ShapeError(f"index_select: a 0-d input takes one index (0), got shape "
                         f"{idx.shape}; as in PyTorch")
    if x.ndim == 0:
        return _ops.reshape(index_select(_one(x), 0, idx.reshape(-1)), ())
    if idx.ndim > 1:
        raise _DimError(f"index_select: index must be a 1-D (or 0-d) tensor, got shape "
                         f"{idx.shape}; flatten it and reshape the result, or use gather")
    idx = _check_range("index_select", idx.reshape(-1), x, d)
    return getitem(x, (slice(None),) * d + (idx,))


@op(GetItemOp, methods=("narrow",))
def narrow(input, dim, start, length):  # noqa: A002
    """``length`` entries from ``start`` along ``dim``."""
    x = _t(input)
    d = _check_dim("narrow", x, dim)
    n = x.shape[d] if x.ndim else 1
    start, length = (v.item() if isinstance(v, Tensor) else v for v in (start, length))
    if not -n <= start <= n:
        raise IndexError(f"narrow: start {start} is out of range for dimension {d} of size "
                         f"{n} (input shape {x.shape}); give -{n} <= start <= {n}")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise _ops._DimError(f"narrow: start {start} + length {length} exceeds dimension {d} "
                             f"of size {n} (input shape {x.shape}); give 0 <= length <= "
                             f"{n - start}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


@op((GetItemOp, _ops.TransposeOp), methods=("unfold",), export=False)
def tensor_unfold(input, dimension, size, step):  # noqa: A002
    """``Tensor.unfold``: the windows of ``size`` entries along ``dimension``, ``step``
    apart, as a new last dimension (dimension becomes the window count). A copy, where
    PyTorch's is a view; ``F.unfold`` is the other unfold, im2col."""
    x = _t(input)
    d = _check_axis("unfold", x, dimension)
    n = x.shape[d] if x.ndim else 1
    if size < 0 or size > n:
        raise ShapeError(f"unfold: maximum size for dimension {dimension} of shape "
                         f"{tuple(x.shape)} is {n} but size is {size}; give 0 <= size <= {n}")
    if step <= 0:
        raise _ArgumentError(f"unfold: step is {step} but must be > 0 (the distance between "
                             f"the starts of two windows)")
    if not x.ndim:
        return x.reshape(1)
    d %= x.ndim
    starts = np.arange(0, n - size + 1, step)
    windows = getitem(x, (slice(None),) * d + (starts[:, None] + np.arange(size),))
    return movedim(windows, d + 1, -1)


@op(GetItemOp, methods=("select",))
def select(input, dim, index):  # noqa: A002
    """The slice at ``index`` along ``dim`` (that dimension removed)."""
    x = _t(input)
    d = _check_dim("select", x, dim)
    return getitem(x, (slice(None),) * d + (index,))


def _scatter_parts(name, x, dim, index, src):
    d = _check_dim(name, x, dim)
    idx = _index_array(name, index)
    if x.ndim == 0 or (x.ndim == 1 and idx.ndim == 0):     # 0-d: 1-D, as in PyTorch
        mask, placed = _scatter_parts(name, _one(x), 0, idx.reshape(-1), _one(src))
        if x.ndim == 0 and isinstance(placed, Tensor):
            placed = _ops.reshape(placed, ())
        return mask.reshape(x.shape), placed
    if x.ndim and idx.ndim != x.ndim:       # PyTorch's RuntimeError (a ShapeError is one)
        raise ShapeError(f"{name}: index of shape {idx.shape} has {idx.ndim} dimension(s), "
                         f"input of shape {x.shape} {x.ndim}; they must have the same number "
                         f"(one-hot rows from labels of shape (N,): index.unsqueeze(1))")
    idx = _check_range(name, idx, x, d)
    ix = _flat_along(x.shape, idx, d)       # flat positions: the 1-D fast paths
    mask = np.zeros(x.shape, bool)
    mask.reshape(-1)[ix] = True
    if isinstance(src, Tensor) and src.ndim:
        src = getitem(src, tuple(slice(0, n) for n in idx.shape))

        def place(v):
            return _ops.reshape(_ops.index_add(v, ix, (mask.size,)), x.shape)
        if name == "scatter":       # a position written twice keeps the last write
            flat = ix.reshape(-1)
            order = np.arange(flat.size)      # each position's last writer: a 1-D
            winner = np.full(mask.size, -1)     # maximum.at (fast; np.unique sorts)
            np.maximum.at(winner, flat, order)
            last = winner[flat] == order
            if not last.all():
                # values: the last write only; gradients: every source element gets the
                # output's gradient at its index, as in PyTorch (the second term adds 0)
                keep, drop = last.reshape(idx.shape), ~last.reshape(idx.shape)
                return mask, (place(src * keep) +
                              (place(src * drop) - place(src.detach() * drop)))
        placed = place(src)
    else:
        placed = src
    return mask, placed


@op((WhereOp, _ops.IndexAddOp), methods=("scatter",))
def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """A copy of ``input`` with ``src`` (a tensor or a number) written at ``index``
    along ``dim``: ``out[i][index[i][j]] = src[i][j]`` for dim=1."""
    if reduce is not None:
        raise NotImplementedError(
            f"scatter: reduce={reduce!r} is not supported (PyTorch deprecates it and gives it "
            f"no gradient); use scatter_add(dim, index, src) for 'add' or "
            f"scatter_reduce(dim, index, src, 'prod') for 'multiply' (a number: "
            f"src=torch.full(index.shape, value))")
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
        raise DtypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}; "
                         f"compare to make one (mask == 0, mask > 0) or call mask.bool()")
    if isinstance(value, Tensor) and value.ndim:    # PyTorch's rule: one value, not a tensor
        raise ShapeError(f"masked_fill: the value must be a number or a 0-d tensor, as in "
                         f"PyTorch, got a tensor of shape {value.shape}; to take the values "
                         f"from a tensor use zeroin.where(mask, values, input)")
    if not isinstance(value, Tensor):     # -9e15 into float16, 300 into int8: PyTorch's error
        value = _ops._fill_scalar("masked_fill", value, x.dtype)
    if x.dtype.kind in "biu":       # the result keeps input's dtype: 9.5 fills an int64 with 9
        if isinstance(value, Tensor):
            value = value.to(x.dtype) if value.dtype != x.dtype else value
        else:
            value = np.asarray(value).astype(x.dtype).item()
    try:
        shape = np.broadcast_shapes(m.shape, x.shape)
    except ValueError:      # CS231n's attention: a (T, T) mask for scores (N, H, S, T)
        from .function import broadcast_message
        raise ShapeError(broadcast_message("masked_fill", (m.shape, x.shape)).replace(
            "shapes", "the mask and the input of shapes", 1)) from None
    if not x.is_contiguous():       # PyTorch's result is a contiguous clone, filled
        x = x.contiguous()
    return _ops.where(np.broadcast_to(m, shape), value, x)


class PadOp(Function):
    __slots__ = ("widths", "value")
    name = "pad"
    def __init__(self, widths, value): self.widths, self.value = widths, value
    def forward(self, x): return np.pad(x, self.widths, constant_values=self.value)
    def backward(self, xp, g, out, x):
        # contiguous, as PyTorch's: WGAN-GP's gradients.view(n, -1) through a padded input
        gx = g[tuple(slice(a, a + n) for (a, _), n in zip(self.widths, x.shape))]
        return np.ascontiguousarray(gx) if xp is NP else gx.contiguous()


def _check_pad_size(mode, w, d, shape, when=""):
    """PyTorch's limits: reflect pads less than the size, circular at most the size (of
    the cropped tensor, which it wraps), and replicate needs a value to repeat."""
    n = shape[d]
    if mode == "reflect" and builtins.max(w) >= n:
        why, fix = f"must be less than the size {n} of that dimension", "mode='replicate'"
    elif mode == "circular" and builtins.max(w) > n:
        why, fix = f"wraps around at most once: at most the size {n}{when}", "a smaller pad"
    elif mode == "replicate" and n == 0:
        why, fix = "needs a value to repeat, but the dimension is empty", "mode='constant'"
    else:
        return
    raise ShapeError(f"pad: {mode} padding {w} of dimension {d} {why} (input shape {shape}); "
                     f"use {fix}")


#: PyTorch's non-constant padding: the number of pad values -> the input's ndims it takes
#: (unbatched or batched): the last 1, 2 or 3 dimensions of (C, *) or (N, C, *)
_MODE_PAD_NDIMS = {2: (2, 3), 4: (3, 4), 6: (4, 5)}


def _check_mode_pad(mode, pad, shape):
    """PyTorch's rule of "reflect", "replicate" and "circular": 2, 4 or 6 pad values for
    an input (C, *) or (N, C, *) of 1, 2 or 3 padded dimensions."""
    n, nd = len(pad), len(shape)
    if nd not in _MODE_PAD_NDIMS.get(n, ()):
        fits = [f"{k}" for k, nds in _MODE_PAD_NDIMS.items() if nd in nds]
        fix = (f"give {' or '.join(fits)} pad values" if fits else
               "add a channel dimension first: pad(x.unsqueeze(0), ...).squeeze(0)"
               if nd < 2 else "reshape it to at most 5-D (merge leading dimensions) first")
        raise NotImplementedError(
            f"pad: {n} pad values with mode={mode!r} are not supported for a {nd}-D input "
            f"(shape {tuple(shape)}), as in PyTorch: the modes other than 'constant' take 2, "
            f"4 or 6 values for an input (C, *) or (N, C, *) of 1, 2 or 3 padded dimensions "
            f"(2 for 2-D or 3-D input, 4 for 3-D or 4-D, 6 for 4-D or 5-D); {fix}")


def _check_mode_sizes(mode, pad, shape):
    """Reflect and replicate refuse an empty dimension (a 0 batch aside), as PyTorch's
    kernels. (A crop to size 0 stays allowed: PyTorch refuses it for 2 pad values only.)"""
    batched = len(shape) == len(pad) // 2 + 2
    if 0 in shape[int(batched):]:
        raise ShapeError(f"pad: mode={mode!r} needs non-empty dimensions (a batch of 0 "
                         f"aside), got shape {tuple(shape)}, as in PyTorch; drop the empty "
                         f"input, or use mode='constant' or 'circular'")


def _crop(x, widths, what):
    """``x`` less the negative amounts of ``widths`` (PyTorch's negative padding crops),
    refused where a dimension would get a negative size."""
    for d, (lo, hi) in enumerate(widths):
        if x.shape[d] + builtins.min(lo, 0) + builtins.min(hi, 0) < 0:
            raise ShapeError(f"pad: padding {(lo, hi)} of dimension {d} crops more than "
                             f"{what} {x.shape[d]} (input shape {tuple(x.shape)}), leaving a "
                             f"negative size; crop less")
    if builtins.all(lo >= 0 and hi >= 0 for lo, hi in widths):
        return x
    return getitem(x, tuple(slice(builtins.max(-lo, 0), n - builtins.max(-hi, 0))
                            for (lo, hi), n in zip(widths, x.shape)))


@op((PadOp, GetItemOp))
def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """Pad the last dimensions: ``pad=(left, right, top, bottom, ...)`` as PyTorch's
    ``F.pad``; modes "constant", "reflect", "replicate", "circular". Negative amounts
    crop, as PyTorch's: "constant" and "circular" crop first (circular then wraps the
    cropped tensor), "reflect" and "replicate" pad from the whole tensor, then crop."""
    x = _t(input)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: expected pairs for at most {x.ndim} dimensions, got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    grow = [(builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths]
    if mode == "constant":
        return PadOp(tuple(grow), 0 if value is None else value)(_crop(x, widths, "the size"))
    np_mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}.get(mode)
    if np_mode is None:
        raise ValueError(f"pad: unknown mode {mode!r}")
    _check_mode_pad(mode, pad, x.shape)
    for d, w in enumerate(widths):
        if w != (0, 0):
            _check_pad_size(mode, w, d, x.shape)
    if mode != "circular":
        _check_mode_sizes(mode, pad, x.shape)
    if mode == "circular":
        x = _crop(x, widths, "the size")
        for d, w in enumerate(grow):
            _check_pad_size(mode, w, d, x.shape, " after cropping")
    else:
        widths = [(lo - g, hi - h) for (lo, hi), (g, h) in zip(widths, grow)]
    for d, w in enumerate(grow):
        if w != (0, 0):
            idx = np.pad(np.arange(x.shape[d]), w, mode=np_mode)
            x = getitem(x, (slice(None),) * d + (idx,))
    return x if mode == "circular" else _crop(x, widths, "the padded size")


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or pieces of the
    given sizes; a tuple of tensors."""
    x = _t(tensor)
    d = _check_dim("split", x, dim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        s = int(split_size_or_sections)
        if s < 0 or (s == 0 and n):
            raise ShapeError(f"split: split_size must be >= 1 (0 only for an empty dimension), "
                             f"got {s} for dimension {d} of size {n}; to split into k pieces "
                             f"use chunk(x, k)")
        sizes = [0] if s == 0 else [builtins.min(s, n - i) for i in range(0, n, s)] if n else [0]
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
    d = _check_dim("chunk", x, dim)
    if isinstance(chunks, bool) or not isinstance(chunks, numbers.Integral) or chunks < 1:
        raise ShapeError(f"chunk: chunks must be a whole number >= 1, got {chunks!r} (the "
                         f"number of pieces to cut dimension {d} of shape {x.shape} into)")
    return split(x, builtins.max(-(-x.shape[d] // int(chunks)), 1), d)


def unbind(input, dim=0):  # noqa: A002
    """The slices along ``dim``, as a tuple."""
    x = _t(input)
    d = _check_dim("unbind", x, dim)
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def _einsum_np(spec, *xs):
    """np.einsum, with ``optimize=True`` (BLAS products: 10-15x faster on a batched
    matmul) for two or more operands of some size; its path search (~10 us) would cost
    more than small products take."""
    big = len(xs) > 1 and builtins.max(np.size(x) for x in xs) >= 4096
    return np.einsum(spec, *xs, optimize=big)


class EinsumOp(Function):
    __slots__ = ("spec",)
    name = "einsum"
    def __init__(self, spec): self.spec = spec
    def label(self): return f"einsum[{self.spec}]"
    def forward(self, *xs): return np.asarray(_einsum_np(self.spec, *xs))
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
        raise _ArgumentError(f"einsum: {spec!r} names {len(subs)} operands, got {len(xs)}")
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
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument must be the equation string, e.g. "
                        f"einsum('ij,jk->ik', a, b), got {type(equation).__name__}; the "
                        f"sublist format einsum(a, [0, 1], b, [1, 2]) is not supported")
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
        raise _ArgumentError(f"einsum: {equation!r} names {len(ins)} operands, got "
                             f"{len(xs)}")
    _check_subscripts(equation, ins, xs)
    _ops.same_dtypes("einsum", *xs)
    if xs and xs[0].dtype == np.bool_:
        xs = _bool_operands(equation, spec, ins, xs)
    return EinsumOp(spec)(*xs)


def _bool_operands(equation, spec, ins, xs):
    """Bool operands as PyTorch takes them: a letter summed away within one operand sums
    it first, counting the Trues (int64, and so the result); a letter summed between two
    bool operands goes to ``bmm``, which has no bool kernel: refused."""
    out = spec.split("->")[1]
    summed = {c for sub in ins for c in sub if c not in out}
    shared = sorted(c for c in summed if sum(c in sub for sub in ins) > 1)
    if shared:
        raise NotImplementedError(f"einsum: {equation!r} sums {shared[0]!r} across bool "
                                  f"operands, which PyTorch refuses (bmm has no bool "
                                  f"kernel); convert first: a.int() or a.float()")
    if summed:
        return [x.long() for x in xs]
    return xs


def _check_subscripts(equation, ins, xs):
    """Each operand has one subscript per dimension and each letter one size (or 1, which
    broadcasts), as PyTorch checks; the error names the letter and the operands."""
    seen = {}
    for k, (sub, x) in enumerate(zip(ins, xs)):
        if len(sub) != x.ndim:
            raise ShapeError(f"einsum: {equation!r} gives operand {k} {len(sub)} subscripts "
                             f"({sub!r}) but it has {x.ndim} dimensions (shape {x.shape})")
        for c, n in zip(sub, x.shape):
            if n != 1 and seen.get(c, (1,))[0] not in (1, n):
                m, j = seen[c]
                raise ShapeError(f"einsum: in {equation!r} subscript {c!r} has size {n} in "
                                 f"operand {k} (shape {x.shape}) but {m} in operand {j}; "
                                 f"the dimensions a letter names must have one size (or 1)")
            if n != 1 or c not in seen:
                seen[c] = (n, k)


# --- sorting ------------------------------------------------------------------------------

def _argsort(a, d, descending=False):
    """Stable argsort along ``d`` with PyTorch's NaN rule: NaN sorts as the largest value
    (last ascending, first descending); ties keep their order either way."""
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    rev = np.flip(np.argsort(np.flip(a, d), axis=d, kind="stable"), d)
    return a.shape[d] - 1 - rev


_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _order_keys(a, largest):
    """Unsigned integers that order like ``a`` in PyTorch's sort order (NaN the largest,
    -0.0 equal to 0.0), reversed for ``largest``: the best key is the smallest."""
    if a.dtype.kind == "f":
        a = a + a.dtype.type(0)                 # -0.0 -> 0.0 (and a copy)
        nan = np.isnan(a)
        if nan.any():
            a[nan] = np.nan                     # one NaN, above +inf in bits
        bits = 8 * a.itemsize
        u = a.view(_UINT[a.itemsize])
        # negative: all bits flipped; positive: the sign bit set
        flip = (a.view(u.dtype.str.replace("u", "i")) >> (bits - 1)).view(u.dtype)
        flip |= u.dtype.type(1 << (bits - 1))
        key = np.bitwise_xor(u, flip, out=flip)
    elif a.dtype.kind == "i":
        u = a.view(_UINT[a.itemsize])
        key = u ^ u.dtype.type(1 << (8 * a.itemsize - 1))
    else:                                       # unsigned, bool
        key = a.astype(_UINT[max(a.itemsize, 1)])
    return np.invert(key, out=key) if largest else key


def _lines(a, d):
    """The lines of ``a`` along ``d`` as rows (n_lines, n), or None where :func:`_argsort`
    should do (short lines, other dtypes): a selection then costs more than it saves."""
    n = a.shape[d] if a.ndim else 1
    if n < 64 or a.dtype.kind not in "fiub" or a.dtype.byteorder == ">":
        return None
    return np.moveaxis(a, d, -1).reshape(-1, n)


def _unlines(idx, a, d):
    """Row results (n_lines, m) back to ``a``'s layout, m along ``d``."""
    return np.moveaxis(idx.reshape(np.moveaxis(a, d, -1).shape[:-1] + idx.shape[-1:]), -1, d)


def _stable_kth(a, d, k):
    """The index of the ``k``-th entry (from 1) along ``d`` in :func:`_argsort`'s stable
    ascending order (keeping ``d``, size 1): ``np.take(_argsort(a, d), [k - 1], axis=d)``,
    exactly, in O(n): the k-th key by selection, then the right one of the entries equal
    to it, in index order."""
    rows = _lines(a, d)
    if rows is None:
        return np.take(_argsort(a, d), [k - 1], axis=d)
    key = _order_keys(rows, False)
    part = np.partition(key, k - 1, axis=1)
    kth = part[:, k - 1:k]
    tie = key == kth
    r = k - np.add.reduce(part[:, :k - 1] < kth, axis=1)     # its rank among the ties
    idx = np.argmax(tie, axis=1)
    later = np.flatnonzero(r > 1)
    if later.size:
        idx[later] = np.argmax(np.cumsum(tie[later], axis=1) == r[later, None], axis=1)
    return _unlines(idx[:, None], a, d)


def _stable_first(a, d, k, largest=False):
    """The indices of the first ``k`` entries along ``d`` in the stable order of
    :func:`_argsort` (ties in index order, NaN the largest): ``np.take(_argsort(a, d,
    largest), range(k), axis=d)``, exactly. For long lines and k up to half of them, a
    selection (np.partition) of the k-th key and a sort of the k chosen, O(n + k log k),
    in place of NumPy's stable argsort of every line (no SIMD path, O(n log n))."""
    rows = _lines(a, d)
    if rows is None or not 0 < 2 * k <= rows.shape[1]:
        return np.take(_argsort(a, d, largest), range(k), axis=d)
    key = _order_keys(rows, largest)
    kth = np.partition(key, k - 1, axis=1)[:, k - 1:k]
    take = key <= kth
    # rows with more keys equal to the k-th one than fit: the first ones, in index order
    over = np.flatnonzero(np.add.reduce(take, axis=1) > k)
    if over.size:
        ks, kt = key[over], kth[over]
        tie = ks == kt
        take[over] = (ks < kt) | (tie & (np.cumsum(tie, axis=1) <= k - (ks < kt).sum(
            axis=1, keepdims=True)))
    idx = (np.flatnonzero(take) % take.shape[1]).reshape(-1, k)    # (2-D nonzero: 20x slower)
    idx = np.take_along_axis(idx, np.argsort(np.take_along_axis(key, idx, 1), axis=1,
                                             kind="stable"), 1)
    return _unlines(idx, a, d)


@op(GetItemOp, methods=("sort",))
def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """``(values, indices)`` sorted along ``dim``; the values carry the gradient."""
    x = _t(input)
    if x.ndim == 0:
        return values_indices("sort", x * 1, _leaf(np.zeros((), np.int64)))
    d = _check_axis("sort", x, dim) % x.ndim
    idx = _argsort(x.data, d, descending)
    return values_indices("sort", take_along_dim(x, idx, d), _leaf(idx.astype(np.int64)))


@op(GetItemOp, methods=("topk",))
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (or smallest) entries along ``dim``: ``(values, indices)``; equal
    values come in index order (PyTorch's CPU order among them is its algorithm's)."""
    x = _t(input)
    if x.dtype == np.bool_:
        raise _ops._DtypeError("topk: bool tensors are not supported, as in PyTorch; convert "
                               "first: x.int().topk(k) (or x.nonzero() for where they are True)")
    d = _check_dim("topk", x, dim)
    if x.ndim == 0 and k in (0, 1):     # PyTorch: the value and index 0 even for k=0
        return values_indices("topk", x * 1, _leaf(np.zeros((), np.int64)))
    if not 0 <= k <= x.shape[d]:
        raise _DimError(f"topk: k={k} is out of range for dimension {d} of size {x.shape[d]}")
    idx = _stable_first(x.data, d, k, largest)
    return values_indices("topk", take_along_dim(x, idx, d), _leaf(idx.astype(np.int64)))


class MedianOp(Function):
    """The lower median of all values; its gradient is shared among the elements equal to
    it (the NaNs where it is NaN), as in PyTorch."""
    __slots__ = ()
    name = "median"
    def forward(self, x):
        flat = x.reshape(-1)
        if not flat.size and flat.dtype.kind in "fc":     # PyTorch: NaN (as an empty mean)
            return np.full((), np.nan, flat.dtype)
        return flat[int(_median_index(flat, 0)[0])]
    def backward(self, xp, g, out, x): return _ops.evenly(g, x, out)


@op((MedianOp, GetItemOp), methods=("median",))
def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (PyTorch's): of all values, or ``(values, indices)`` along ``dim``."""
    x = _t(input)
    if x.dtype == np.bool_:
        raise NotImplementedError("median: not implemented for bool tensors, as in PyTorch; "
                                  "convert first: x.int().median(...)")
    if dim is None:
        return MedianOp()(x)
    d = _check_dim("median", x, dim)
    if x.ndim == 0:
        return values_indices("median", x * 1, _leaf(np.zeros((), np.int64)))
    return _picked("median", x, _median_index(x.data, d), d, keepdim)


def _picked(op, x, idx, d, keepdim):
    """``(values, indices)`` of ``op`` for ``x`` at ``idx`` (size 1 along ``d``); values
    carry the gradient to the picked elements."""
    values = take_along_dim(x, idx, d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(op, values, _leaf(np.asarray(idx, np.int64)))


@op(GetItemOp, methods=("msort",))
def msort(input):  # noqa: A002
    """The values sorted along dim 0 (``sort(input, 0).values``)."""
    return sort(input, 0).values


@op(GetItemOp, methods=("kthvalue",))
def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """The ``k``-th smallest entry (k counts from 1) along ``dim``: ``(values, indices)``;
    NaN counts as the largest value."""
    x = _t(input)
    d = _check_axis("kthvalue", x, dim)
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise _DimError(f"kthvalue: k={k} is out of range for a dimension of size {n} "
                        f"(k counts from 1, so 1 <= k <= {n})")
    if x.ndim == 0:
        return values_indices("kthvalue", x * 1, _leaf(np.zeros((), np.int64)))
    d %= x.ndim
    return _picked("kthvalue", x, _stable_kth(x.data, d, k), d, keepdim)


@op(GetItemOp, methods=("mode",))
def mode(input, dim=-1, keepdim=False):  # noqa: A002
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and
    the index of its last occurrence: ``(values, indices)``, as PyTorch's."""
    x = _t(input)
    if x.ndim == 0:
        return values_indices("mode", x * 1, _leaf(np.zeros((), np.int64)))
    d = _check_axis("mode", x, dim) % x.ndim
    a = np.moveaxis(x.data, d, -1)
    rows = a.reshape(-1, a.shape[-1])
    best = np.empty(len(rows), np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True, equal_nan=False)
        v = vals[np.argmax(counts)]         # sorted, so the first maximum is the smallest
        best[r] = np.flatnonzero((row == v) | (np.isnan(row) & np.isnan(v))
                                 if row.dtype.kind in "fc" else row == v)[-1]
    idx = np.moveaxis(best.reshape(a.shape[:-1] + (1,)), -1, d)
    return _picked("mode", x, idx, d, keepdim)


def _cumulative_extreme(name, x, dim, better):
    x = _t(x)
    if x.ndim == 0:
        return values_indices(name, x * 1, _leaf(np.zeros((), np.int64)))
    d = _check_axis(name, x, dim) % x.ndim
    a = x.data
    run = better.accumulate(a, axis=d)              # NaN propagates, as in PyTorch
    # the index moves to each element that equals the running extreme (ties: the later
    # one) and to each NaN
    moved = a == run
    if a.dtype.kind in "fc":
        moved |= np.isnan(a)
    shape = [1] * a.ndim
    shape[d] = a.shape[d]
    pos = np.where(moved, np.arange(a.shape[d]).reshape(shape), 0)
    idx = np.maximum.accumulate(pos, axis=d)
    return values_indices(name, take_along_dim(x, idx, d), _leaf(idx.astype(np.int64)))


@op(GetItemOp, methods=("cummax",))
def cummax(input, dim):  # noqa: A002
    """Running maximum along ``dim``: ``(values, indices)``; the gradient goes to the
    element each value came from."""
    return _cumulative_extreme("cummax", input, dim, np.maximum)


@op(GetItemOp, methods=("cummin",))
def cummin(input, dim):  # noqa: A002
    """Running minimum along ``dim``: ``(values, indices)``."""
    return _cumulative_extreme("cummin", input, dim, np.minimum)


class LogCumSumExpOp(Function):
    """Running logsumexp. The gradient at j is the sum over i >= j of g_i exp(x_j - out_i),
    taken in log space (a reverse logcumsumexp of log|g_i| - out_i, positive and negative
    g apart), so nothing overflows. NaN only where a term is 0/0 (x_j = out_i = -inf, or
    +inf, as logsumexp's rule); a zero g_i adds nothing (PyTorch's rule adds NaN there)."""
    __slots__ = ("axis",)
    name = "logcumsumexp"
    def __init__(self, axis): self.axis = axis
    def forward(self, x): return np.logaddexp.accumulate(x, axis=self.axis)

    def backward(self, xp, g, out, x):
        a, r = self.axis, _raw(g)
        total = None
        for sign, used in ((1.0, r > 0), (-1.0, r < 0)):
            if not used.any():
                continue
            lg = xp.where(used, xp.log(xp.where(used, g * sign, 1.0)) - out, -np.inf)
            part = xp.exp(x + xp.flip(xp.logcumsumexp(xp.flip(lg, a), a), a)) * sign
            total = part if total is None else total + part
        return g * 0 if total is None else total


@op(LogCumSumExpOp, methods=("logcumsumexp",))
def logcumsumexp(input, dim):  # noqa: A002
    """log(cumsum(exp(x))) along ``dim``, without overflow."""
    x = _t(input)
    if x.dtype.kind not in "fc":
        raise NotImplementedError(f"logcumsumexp: not implemented for {x.dtype} tensors (as "
                                  f"in PyTorch); cast first, e.g. x.double().logcumsumexp(0)")
    d = _check_axis("logcumsumexp", x, dim)
    if d is None:
        return x * 1
    return _ops._call1(LogCumSumExpOp(d % x.ndim), x)


@op(_ops.TransposeOp, methods=("movedim", "moveaxis"), aliases=("moveaxis",))
def movedim(input, source, destination):  # noqa: A002
    """Move dimension(s) ``source`` to position(s) ``destination`` (the others keep their
    order)."""
    x = _t(input)
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} must "
                         f"name as many dimensions")
    _check_axis("movedim", x, src)
    _check_axis("movedim", x, dst)
    if x.ndim == 0:
        return x
    src, dst = [a % x.ndim for a in src], [a % x.ndim for a in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination "
                         f"{destination}")
    order = [i for i in range(x.ndim) if i not in src]
    for dd, ss in sorted(zip(dst, src)):
        order.insert(dd, ss)
    return _ops.permute(x, order)


@op((WhereOp, SumOp), methods=("nansum",))
def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Sum over ``dim`` treating NaN as 0 (its gradient there is 0)."""
    x = _t(input) if dtype is None else _t(input).to(dtype)
    if x.dtype.kind in "fc":
        x = _ops._call2(_ops.MaskMulOp(~np.isnan(x.data)), *_ops._pair(x, 0))
    return _ops.sum(x, dim=dim, keepdim=keepdim)


@op(NoDerivativeOp, methods=("heaviside",))
def heaviside(input, values):  # noqa: A002
    """The step function: 0 where x < 0, ``values`` (a tensor, broadcast) where x == 0, 1
    where x > 0 (NaN gives 0, as PyTorch). As PyTorch's, it requires grad when an input
    does, and a backward through it raises "not implemented"."""
    x = _t(input)
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside: values must be a tensor (the result where input is 0), "
                        f"got {type(values).__name__}; write zeroin.tensor({values!r})")
    a, v = x.data, values.data
    if a.dtype != v.dtype:
        raise _ops._DtypeError(f"heaviside: input has dtype {a.dtype} and values {v.dtype}; "
                               f"PyTorch refuses different dtypes too: convert one, e.g. "
                               f"values.to(input.dtype)")
    if a.dtype.kind == "c":
        raise _ops._DtypeError("heaviside: complex tensors have no sign to step on")
    return no_derivative("heaviside", _heaviside, x, values)


def _heaviside(a, v):
    return np.where(a == 0, v, (a > 0).astype(a.dtype))


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile_args(name, input, q, dim, interpolation):  # noqa: A002
    """quantile's and nanquantile's checks: (x flattened when dim is None, its dimension,
    q as a float64 array, the input's shape)."""
    x = _t(input)
    if x.dtype.kind != "f":
        raise _ops._DtypeError(f"{name}: the input must be floating point, got {x.dtype}")
    if interpolation not in _QUANTILE_MODES:
        raise ValueError(f"{name}: interpolation must be one of {_QUANTILE_MODES}, got "
                         f"{interpolation!r}")
    qa = np.asarray(_raw(q), dtype=np.float64)
    if qa.ndim > 1 or np.any((qa < 0) | (qa > 1)) or np.any(np.isnan(qa)):
        raise _ops._ValueError(f"{name}: q must be a number or a 1-D tensor of values in "
                               f"[0, 1], got {qa}")
    full_shape = x.shape
    if dim is None or x.ndim == 0:      # a 0-d tensor's dim 0 is all of it, as in PyTorch
        if dim is not None:
            _check_dim(name, x, dim)
        return x.reshape(-1), 0, qa, full_shape
    return x, _check_dim(name, x, dim), qa, full_shape


def _fraction(pos, lo, interpolation):
    """How far between the sorted values at ``lo`` and ``lo + 1`` the quantile lies."""
    return {"linear": pos - lo, "lower": 0 * pos, "higher": (pos > lo) * 1.0,
            "midpoint": (pos > lo) * 0.5, "nearest": np.round(pos) - lo}[interpolation]


def _quantile_out(out, d, qa, dim, keepdim, full_shape):
    """The quantiles' dimension first (dropped for a number ``q``), ``keepdim`` as PyTorch."""
    out = movedim(out, d, 0)                                # (quantiles, the rest)
    if keepdim:
        kept = [1] * len(full_shape) if dim is None else \
            [1 if i == d else s for i, s in enumerate(full_shape)]
        out = out.reshape([out.shape[0]] + kept)
    return out[0] if qa.ndim == 0 else out


@op((GetItemOp, SubOp, MulOp, WhereOp), methods=("quantile",))
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """The ``q``-th quantiles (``q`` a number or a 1-D tensor in [0, 1]) over ``dim`` (all
    values if None), interpolating between the sorted values as PyTorch does; a line
    holding NaN gives NaN. With a 1-D ``q`` the result has a first dimension per quantile."""
    x, d, qa, full_shape = _quantile_args("quantile", input, q, dim, interpolation)
    v = sort(x, d).values                                   # NaN last
    n = x.shape[d]
    pos = np.atleast_1d(qa) * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = _fraction(pos, lo, interpolation)
    shape = [1] * x.ndim
    shape[d] = len(pos)
    vlo, vhi = index_select(v, d, lo), index_select(v, d, hi)
    out = vlo + (vhi - vlo) * frac.reshape(shape).astype(x.dtype)
    nan = np.isnan(x.data).any(axis=d, keepdims=True)
    if nan.any():
        out = _ops.where(np.broadcast_to(nan, out.shape), np.nan, out)
    return _quantile_out(out, d, qa, dim, keepdim, full_shape)


@op((GetItemOp, SubOp, MulOp, WhereOp), methods=("nanquantile",))
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    """:func:`quantile` ignoring NaN, as PyTorch: each line's quantiles over its values that
    are not NaN (a line of NaN only gives NaN)."""
    x, d, qa, full_shape = _quantile_args("nanquantile", input, q, dim, interpolation)
    v = sort(x, d).values                                   # NaN last
    last = np.maximum((~np.isnan(x.data)).sum(axis=d, keepdims=True) - 1, 0)
    shape = [1] * x.ndim
    shape[d] = qa.size
    pos = np.atleast_1d(qa).reshape(shape) * last           # per line: its own count
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, last)
    frac = _fraction(pos, lo, interpolation)
    vlo, vhi = gather(v, d, lo), gather(v, d, hi)
    return _quantile_out(vlo + (vhi - vlo) * frac.astype(x.dtype), d, qa, dim, keepdim,
                         full_shape)


def _median_index(a, d):
    """Where the lower median of ``a`` along ``d`` sits (keeping ``d``, size 1); a line
    holding NaN gives its first NaN, as in PyTorch."""
    n = a.shape[d]
    if _lines(a, d) is not None:
        idx = _stable_kth(a, d, (n - 1) // 2 + 1)
        if a.dtype.kind != "f":
            return idx
        nan = np.isnan(a)
        has = nan.any(axis=d, keepdims=True)
        return np.where(has, np.argmax(nan, axis=d, keepdims=True), idx) if has.any() \
            else idx
    order = np.argsort(a, axis=d, kind="stable")       # NaNs last, in their order
    nans = np.isnan(a).sum(axis=d, keepdims=True) if a.dtype.kind in "fc" else 0
    pos = np.where(nans > 0, n - nans, (n - 1) // 2)
    return np.take_along_axis(order, np.broadcast_to(pos, order.shape[:d] + (1,) +
                                                     order.shape[d + 1:]), axis=d)


# --- the backward namespaces: the names the rules above use ---------------------------------

NP.cosh, NP.sinh, NP.erf, NP.abs = np.cosh, np.sinh, staticmethod(_erf_np), np.abs
NP.softplus = staticmethod(_ops.softplus_array)
NP.flip = staticmethod(np.flip)
NP.cumsum, NP.cumprod = staticmethod(_cumsum_array), staticmethod(_cumprod_array)
NP.einsum = staticmethod(_einsum_np)
NP.log1p = np.log1p
NP.logcumsumexp = staticmethod(lambda x, a: np.logaddexp.accumulate(x, axis=a))
NP.digamma, NP.polygamma = staticmethod(_sm.digamma), staticmethod(_sm.polygamma)
NP.lgamma, NP.erfcx = staticmethod(_sm.lgamma), staticmethod(_sm.erfcx)
NP.i0, NP.i1, NP.i0e, NP.i1e = (staticmethod(_sm.i0), staticmethod(_sm.i1),
                                staticmethod(_sm.i0e), staticmethod(_sm.i1e))
TZ.cosh, TZ.sinh, TZ.erf = staticmethod(cosh), staticmethod(sinh), staticmethod(erf)
TZ.abs, TZ.softplus = staticmethod(_ops.abs), staticmethod(_ops.softplus)
TZ.flip, TZ.cumsum, TZ.cumprod = staticmethod(flip), staticmethod(cumsum), staticmethod(cumprod)
TZ.einsum = staticmethod(einsum)
TZ.log1p, TZ.logcumsumexp = staticmethod(log1p), staticmethod(logcumsumexp)
TZ.digamma, TZ.polygamma = staticmethod(digamma), staticmethod(polygamma)
TZ.lgamma, TZ.erfcx = staticmethod(lgamma), staticmethod(erfcx)
TZ.i0, TZ.i1, TZ.i0e, TZ.i1e = (staticmethod(i0), staticmethod(i1), staticmethod(i0e),
                                staticmethod(i1e))


# --- PyTorch's other names for the ops above ----------------------------------------------

def _alias(name, *names):
    """PyTorch's other names for the op ``name`` (``arccos`` for ``acos``): exported as
    ``zeroin.<alias>`` and bound on Tensor."""
    info = _ops.OPS[name]
    _ops.OPS[name] = info._replace(aliases=info.aliases + names)
    for n in names:
        setattr(Tensor, n, info.fn)


for _name, _other in (("acos", "arccos"), ("asin", "arcsin"), ("atan", "arctan"),
                      ("atan2", "arctan2"), ("acosh", "arccosh"), ("asinh", "arcsinh"),
                      ("atanh", "arctanh"), ("abs", "absolute"), ("neg", "negative"),
                      ("trunc", "fix")):
    _alias(_name, _other)
del _name, _other
