"""The rest of ``torch.special``: ``entr``, the Bessel and Airy family, Hurwitz's ``zeta`` and
the classical orthogonal polynomials, with PyTorch's values at the edges (0, negative
arguments, infinities, n < 0).

NumPy only (zeroin must not need SciPy), whole-array: the Bessel functions J, Y of order
0 and 1 from their integral representations on a fixed quadrature (the trapezoidal rule
on a periodic integrand, Gauss-Legendre, and a double-exponential rule on [0, inf), each
converging exponentially) up to |x| = 25 and Hankel's asymptotic series beyond; K_nu from
the trapezoidal rule on int_0^inf exp(-x cosh t) cosh(nu t) dt, Airy's Ai from K_1/3 for
x >= 0 (its series and asymptotic series for x < 0); zeta by Euler-Maclaurin; the
polynomials by their three-term recurrences, as PyTorch. About 1e-14 relative in float64.

As in PyTorch, only ``entr`` has a gradient: the others give results that do not require
grad, except ``zeta``, whose backward raises PyTorch's "not implemented".
"""
from __future__ import annotations

import functools
import math

import numpy as np

from . import _special_math as _sm
from . import ops as _ops
from ._tensor import _leaf
from ._torch_ops import _float1
from .function import Function, OpName, no_derivative
from .ops import op

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
           "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "entr", "hermite_polynomial_h", "hermite_polynomial_he",
           "laguerre_polynomial_l", "legendre_polynomial_p", "modified_bessel_i0",
           "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
           "spherical_bessel_j0", "zeta"]

# --- entr ----------------------------------------------------------------------------------

class EntrOp(Function):
    """-x log x (0 at 0, -inf for x < 0). Gradient -(1 + log x): +inf at 0, NaN for x < 0,
    as PyTorch's."""
    __slots__ = ()
    name = OpName("entr", "SpecialEntrBackward0")

    def forward(self, x):
        with np.errstate(all="ignore"):
            out = np.where(x > 0, -x * np.log(np.where(x > 0, x, 1)), 0).astype(x.dtype)
        out[x < 0] = -np.inf
        out[np.isnan(x)] = np.nan
        return out

    def backward(self, xp, g, out, x):
        with np.errstate(all="ignore"):
            return g * -(1 + xp.log(x))


@op(EntrOp, export=False)
def entr(input):  # noqa: A002
    """Elementwise entropy term -x log x: 0 at x = 0, -inf for x < 0 (PyTorch's values)."""
    return _ops._call1(EntrOp(), _float1(input, "special.entr"))


# --- helpers: one-input functions without a gradient ---------------------------------------

def _no_grad1(name, compute):
    """The public ``special.<name>``: compute on float64, PyTorch's dtype, no gradient (the
    result does not require grad, as PyTorch's)."""
    def f(input):  # noqa: A002
        x = _float1(input, f"special.{name}")
        a = np.asarray(x.data, np.float64)
        with np.errstate(all="ignore"):
            out = compute(a)
        return _leaf(np.asarray(out).reshape(a.shape).astype(x.dtype))
    f.__name__ = f.__qualname__ = name
    return f


def _asym(nu, n=24):
    """a_k(nu) of Hankel's expansions: prod_{j<=k} (4 nu^2 - (2j - 1)^2) / (k! 8^k)."""
    out, a = [1.0], 1.0
    for k in range(1, n):
        a *= (4 * nu * nu - (2 * k - 1) ** 2) / (k * 8)
        out.append(a)
    return out


def _hankel_pq(nu, x):
    """P and Q of J_nu(x) ~ sqrt(2 / (pi x)) (P cos chi - Q sin chi), x >= 25."""
    a = _asym(nu)
    P = sum((-1) ** k * a[2 * k] / x ** (2 * k) for k in range(len(a) // 2))
    Q = sum((-1) ** k * a[2 * k + 1] / x ** (2 * k + 1) for k in range(len(a) // 2))
    return P, Q


@functools.lru_cache(maxsize=None)
def _legendre(n=96):
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1) * np.pi / 2, w * np.pi / 2         # nodes and weights on [0, pi]


@functools.lru_cache(maxsize=None)
def _exp_sinh(h=1 / 32, lo=-6.0, hi=6.5):
    """Nodes and weights of int_0^inf f(t) dt by t = exp(s - exp(-s)), trapezoidal in s."""
    s = np.arange(lo, hi, h)
    t = np.exp(s - np.exp(-s))
    return t, h * t * (1 + np.exp(-s))


_BIG = 25.0


def _bessel_jy(nu, x, kind):
    """J_nu or Y_nu (nu = 0, 1) of |x| (the sign is applied by the caller); a loop over the
    quadrature nodes, so memory stays that of x."""
    ax = np.abs(x)
    small = ax <= _BIG
    s = np.where(small, ax, 0.0)
    near = np.zeros_like(s)
    if kind == "j":                     # (1 / 2pi) int_0^2pi cos(nu t - x sin t) dt
        for t in np.arange(64) * (2 * np.pi / 64):
            near += np.cos(nu * t - s * np.sin(t))
        near /= 64
    else:                               # (1/pi) int_0^pi sin(x sin t - nu t) dt - (1/pi) *
        for t, w in zip(*_legendre()):  # int_0^inf (e^(nu t) + (-1)^nu e^(-nu t)) e^(-x sinh t)
            near += w * np.sin(s * np.sin(t) - nu * t)
        for u, v in zip(*_exp_sinh()):
            e = math.exp(nu * u) + (-1) ** nu * math.exp(-nu * u) if u < 700 else math.inf
            xs = s * math.sinh(u) if u < 700 else np.where(s > 0, np.inf, 0.0)
            near -= np.where(xs > 745, 0.0, v * e * np.exp(-np.minimum(xs, 745)))
        near /= np.pi
    b = np.where(small, _BIG, ax)
    P, Q = _hankel_pq(nu, b)
    chi = b - (nu / 2 + 0.25) * np.pi
    far = np.sqrt(2 / (np.pi * b)) * ((P * np.cos(chi) - Q * np.sin(chi)) if kind == "j"
                                      else (P * np.sin(chi) + Q * np.cos(chi)))
    return np.where(small, near, far)


def _series(nu, x):
    """J_nu(x) and the series part of Y_nu(x) for |x| < 2, nu = 0, 1 (A&S 9.1.10, 9.1.11):
    Y_nu = (2/pi) log(x/2) J_nu - (x/2)^-nu / pi [nu] - (x/2)^nu / pi
    sum_k (psi(k+1) + psi(nu+k+1)) (-x^2/4)^k / (k! (nu+k)!)."""
    q = -x * x / 4
    term = (x / 2) ** nu / math.factorial(nu)          # (x/2)^nu (-x^2/4)^k / (k! (nu+k)!)
    j, ysum = np.zeros_like(x), np.zeros_like(x)
    for k in range(25):
        psi = (-np.euler_gamma + sum(1 / i for i in range(1, k + 1))
               - np.euler_gamma + sum(1 / i for i in range(1, nu + k + 1)))
        j += term
        ysum += psi * term
        term = term * q / ((k + 1) * (nu + k + 1))
    return j, ysum


def _j(nu, x):
    small = np.abs(x) < 2
    out = np.where(small, _series(nu, np.where(small, x, 0.0))[0], _bessel_jy(nu, x, "j"))
    if nu:
        out = np.where(~small & (x < 0), -out, out)
    return np.where(np.isfinite(x), out, np.nan)


def _y(nu, x):
    small = (x > 0) & (x < 2)
    s = np.where(small, x, 1.0)
    j, ysum = _series(nu, s)
    near = 2 / np.pi * np.log(s / 2) * j - ysum / np.pi
    if nu:
        near = near - 2 / (np.pi * s)
    out = np.where(small, near, _bessel_jy(nu, x, "y"))
    out = np.where(x == 0, -np.inf, out)
    return np.where((x < 0) | ~np.isfinite(x), np.nan, out)


def _k_small(nu, x):
    """K_nu(x), nu = 0, 1, for small x > 0 by its series (A&S 9.6.11, 9.6.13):
    K0 = -(log(x/2) + gamma) I0 + sum_k H_k q^k / k!^2, K1 = 1/x + log(x/2) I1 - S / 2 with
    S = sum_k (psi(k+1) + psi(k+2)) (x/2) q^k / (k! (k+1)!), q = x^2 / 4."""
    q = x * x / 4
    term = x / 2 if nu else np.ones_like(x)
    i, ssum = np.zeros_like(x), np.zeros_like(x)
    for k in range(12):
        harm = sum(1 / j for j in range(1, k + 1))
        c = 2 * harm + 1 / (k + 1) - 2 * np.euler_gamma if nu else harm
        i += term
        ssum += c * term
        term = term * q / ((k + 1) * (k + 1 + nu))
    if nu:
        return 1 / x + np.log(x / 2) * i - ssum / 2
    return -(np.log(x / 2) + np.euler_gamma) * i + ssum


def _k(nu, x, scaled):
    """K_nu(x) (times e^x if ``scaled``): int_0^inf exp(-x cosh t) cosh(nu t) dt by the
    trapezoidal rule (the integrand is even and analytic), its series below x = 1e-3 (nu =
    0, 1), Hankel's series past 25."""
    pos = (x > 0) & np.isfinite(x)
    tiny = pos & (x < 1e-3) & (nu in (0, 1))
    small = pos & (x <= _BIG) & ~tiny
    s = np.where(small, x, 1.0)
    h = 0.05
    top = math.acosh(max(1.0, 800 / float(s.min(initial=1.0)))) + 1
    out = np.zeros_like(s)
    for i, t in enumerate(np.arange(0, top, h)):
        term = np.exp(-s * 2 * np.sinh(t / 2) ** 2) * np.cosh(nu * t)
        out += term * (0.5 if i == 0 else 1.0)
    out *= h
    b = np.where(small | tiny | ~pos, _BIG, x)
    far = np.sqrt(np.pi / (2 * b)) * sum(a / b ** k for k, a in enumerate(_asym(nu)))
    out = np.where(small, out, far)
    if tiny.any():
        xt = np.where(tiny, x, 1e-3)
        out = np.where(tiny, _k_small(nu, xt) * np.exp(xt), out)
    if not scaled:
        out = out * np.exp(-np.where(pos, x, 0))
    out = np.where(x == np.inf, 0.0, out)
    out = np.where(x == 0, np.inf, out)
    return np.where((x < 0) | np.isnan(x), np.nan, out)


bessel_j0 = _no_grad1("bessel_j0", lambda x: _j(0, x))
bessel_j1 = _no_grad1("bessel_j1", lambda x: _j(1, x))
bessel_y0 = _no_grad1("bessel_y0", lambda x: _y(0, x))
bessel_y1 = _no_grad1("bessel_y1", lambda x: _y(1, x))
modified_bessel_i0 = _no_grad1("modified_bessel_i0", _sm.i0)
modified_bessel_i1 = _no_grad1("modified_bessel_i1", _sm.i1)
modified_bessel_k0 = _no_grad1("modified_bessel_k0", lambda x: _k(0, x, False))
modified_bessel_k1 = _no_grad1("modified_bessel_k1", lambda x: _k(1, x, False))
scaled_modified_bessel_k0 = _no_grad1("scaled_modified_bessel_k0", lambda x: _k(0, x, True))
scaled_modified_bessel_k1 = _no_grad1("scaled_modified_bessel_k1", lambda x: _k(1, x, True))


def _sph_j0(x):
    tiny = np.abs(x) < 1e-4
    out = np.where(tiny, 1 - x * x / 6, np.sin(x) / np.where(tiny, 1.0, x))
    return np.where(np.isinf(x), 0.0, out)


spherical_bessel_j0 = _no_grad1("spherical_bessel_j0", _sph_j0)


# --- airy_ai -----------------------------------------------------------------------------

_AI0, _AIP0 = 0.355028053887817239, -0.258819403792806798       # Ai(0), Ai'(0)


def _airy_series(x):
    """Ai(x) = Ai(0) f(x) + Ai'(0) g(x), the Maclaurin series (for |x| <= 2)."""
    c = x ** 3
    f, g = np.ones_like(x), x.copy()
    tf, tg = np.ones_like(x), x.copy()
    for k in range(1, 40):
        tf = tf * c / ((3 * k - 1) * (3 * k))
        tg = tg * c / ((3 * k) * (3 * k + 1))
        f, g = f + tf, g + tg
    return _AI0 * f + _AIP0 * g


def _j_frac(nu, z):
    """J_nu(z) for z > 0 and non-integer nu: (1/pi) int_0^pi cos(nu t - z sin t) dt -
    (sin(nu pi) / pi) int_0^inf exp(-z sinh t - nu t) dt."""
    out = np.zeros_like(z)
    for t, w in zip(*_legendre()):
        out += w * np.cos(nu * t - z * np.sin(t))
    for u, v in zip(*_exp_sinh()):
        if u < 700:
            out -= math.sin(nu * math.pi) * v * np.exp(-z * math.sinh(u) - nu * u)
    return out / np.pi


def _airy(x):
    """Ai(x): the series for |x| <= 2; K_1/3 for x > 2 (Ai = sqrt(x/3) K_1/3(zeta) / pi);
    sqrt(z)/3 (J_1/3 + J_-1/3)(zeta) for -10 < x < -2 (z = -x); the asymptotic series
    beyond; zeta = 2/3 |x|^(3/2)."""
    mid = np.abs(x) <= 2
    out = _airy_series(np.where(mid, x, 0.0))
    right = x > 2
    xr = np.where(right, x, 4.0)
    zr = 2 / 3 * xr ** 1.5
    out = np.where(right, np.sqrt(xr / 3) * _k(1 / 3, zr, False) / np.pi, out)
    left = (x < -2) & (x > -10)
    zl = np.where(left, -x, 4.0)
    zeta = 2 / 3 * zl ** 1.5
    out = np.where(left, np.sqrt(zl) / 3 * (_j_frac(1 / 3, zeta) + _j_frac(-1 / 3, zeta)), out)
    far = x <= -10
    z = np.where(far, -x, 16.0)
    zeta = 2 / 3 * z ** 1.5
    u = [1.0]
    for k in range(1, 16):
        u.append(u[-1] * (6 * k - 5) * (6 * k - 3) * (6 * k - 1) / ((2 * k - 1) * 216 * k))
    P = sum((-1) ** k * u[2 * k] / zeta ** (2 * k) for k in range(8))
    Q = sum((-1) ** k * u[2 * k + 1] / zeta ** (2 * k + 1) for k in range(7))
    ang = zeta + np.pi / 4
    out = np.where(far, (np.sin(ang) * P - np.cos(ang) * Q) / (np.sqrt(np.pi) * z ** 0.25), out)
    return np.where(np.isnan(x) | np.isinf(x), np.nan, out)     # PyTorch: NaN at +-inf


airy_ai = _no_grad1("airy_ai", _airy)


# --- zeta --------------------------------------------------------------------------------

def _zeta_array(s, q):
    """Hurwitz zeta sum_k (q + k)^-s: the first terms summed until q + k >= 10 + s / 2
    (at most 60), then Euler-Maclaurin; PyTorch's (Cephes') values at the edges: inf at
    s = 1 and at the poles q = 0, -1, ...; NaN for s < 1 and for q < 0 with s not an
    integer."""
    s, q = np.broadcast_arrays(np.asarray(s, np.float64), np.asarray(q, np.float64))
    pole = (q <= 0) & (q == np.floor(q))
    bad = (s < 1) | ((q < 0) & (s != np.floor(s))) | np.isnan(s) | np.isnan(q) | \
        (q == np.inf)
    ok = ~(pole | bad | (s == 1))
    ss, z = np.where(ok, s, 2.0), np.where(ok, q, 1.0)
    target = 10 + np.minimum(ss, 100) / 2
    out = np.zeros_like(z)
    for _ in range(60):
        low = z < target
        if not low.any():
            break
        out = out + np.where(low, np.where(low, z, 1.0) ** -ss, 0.0)
        z = np.where(low, z + 1, z)
    tail = z ** (1 - ss) / (ss - 1) + 0.5 * z ** -ss
    rising = ss.copy()                                   # s (s+1) ... (s+2k-2)
    for k, b in enumerate(_sm._B2K, 1):
        tail = tail + b / math.factorial(2 * k) * rising * z ** (-ss - 2 * k + 1)
        rising = rising * (ss + 2 * k - 1) * (ss + 2 * k)
    out = out + tail
    out = np.where((s == 1) | pole, np.inf, out)
    return np.where(bad & ~(s == 1), np.nan, out)


def _pair_dtype(name, a, b):
    """The two operands as float64 arrays and the result dtype, PyTorch's promotion: two
    tensors meet in their common type, a number takes the tensor's; integers give the
    default float dtype."""
    from ._tensor import Tensor, get_default_dtype
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        dtype = np.result_type(a.dtype, b.dtype)
    else:
        t, other = (a, b) if ta else (b, a)
        if not (ta or tb):
            t = _ops._t(a)
        dtype = t.dtype
        if isinstance(other, float) and dtype.kind != "f":
            dtype = np.dtype(get_default_dtype())
    if dtype.kind in "iub":
        dtype = np.dtype(get_default_dtype())
    elif dtype.kind != "f":
        raise NotImplementedError(f"special.{name}: not implemented for {dtype} (as in "
                                  f"PyTorch)")
    arr = [np.asarray(v.data if isinstance(v, Tensor) else v, np.float64) for v in (a, b)]
    return arr[0], arr[1], dtype


def zeta(input, other):  # noqa: A002
    """Hurwitz's zeta function sum_{k >= 0} (other + k)^-input (Riemann's at other = 1);
    PyTorch's values at the edges. Its result requires grad when an input does, but, as in
    PyTorch, has no derivative (backward raises)."""
    s, q, dtype = _pair_dtype("zeta", input, other)
    with np.errstate(all="ignore"):
        values = _zeta_array(s, q).astype(dtype)
    inputs = [_ops._t(v) for v in (input, other) if hasattr(v, "requires_grad")]
    return no_derivative("zeta", lambda *_: values, *inputs)


# --- orthogonal polynomials: PyTorch's recurrences and special cases ------------------------

def _recur(x, n, p0, p1, step):
    """The polynomial of degree n (an int64 array) from p0, p1 and the three-term
    recurrence p_{k+1} = step(k, p_k, p_{k-1}), all degrees at once; 0 for n < 0."""
    out = np.where(n == 0, p0, np.where(n == 1, p1, 0.0))
    p, q = np.broadcast_to(p0, x.shape), np.broadcast_to(p1, x.shape)
    for k in range(1, int(n.max(initial=0))):
        p, q = q, step(k, q, p)
        out = np.where(n == k + 1, q, out)
    return out


def _cheb_t(x, n):
    out = _recur(x, n, 1.0, x, lambda k, q, p: 2 * x * q - p)
    inside = (n > 6) & (np.abs(x) < 1)
    out = np.where(inside, np.cos(n * np.arccos(np.clip(x, -1, 1))), out)
    return np.where(np.abs(x) == 1, np.where((x > 0) | (n % 2 == 0), 1.0, -1.0), out)


def _cheb_u(x, n):
    out = _recur(x, n, 1.0, 2 * x, lambda k, q, p: 2 * x * q - p)
    t = np.arccos(np.clip(x, -1, 1))
    inside = (n > 8) & (np.abs(x) < 1)
    trig = np.where(np.sin(t) != 0, np.sin((n + 1) * t) / np.where(np.sin(t) != 0, np.sin(t), 1),
                    (n + 1) * np.cos((n + 1) * t) / x)
    out = np.where(inside, trig, out)
    return np.where(np.abs(x) == 1, np.where((x > 0) | (n % 2 == 0), n + 1.0, -(n + 1.0)), out)


def _cheb_v(x, n):
    out = _recur(x, n, 1.0, 2 * x - 1, lambda k, q, p: 2 * x * q - p)
    t = np.arccos(np.clip(x, -1, 1))
    odd = np.where(n % 2 == 0, n + n + 1.0, -(n + n + 1.0))
    trig = np.where(np.sin(t / 2) != 1, np.cos((n + 0.5) * t) / np.cos(t / 2), odd)
    out = np.where((n > 8) & (np.abs(x) < 1), trig, out)
    return np.where(np.abs(x) == 1, np.where(x > 0, 1.0, odd), out)


def _cheb_w(x, n):
    out = _recur(x, n, 1.0, 2 * x + 1, lambda k, q, p: 2 * x * q - p)
    t = np.arccos(np.clip(x, -1, 1))
    edge = np.where(x > 0, n + n + 1.0, np.where(n % 2 == 0, 1.0, -1.0))
    trig = np.where(np.cos(t / 2) != 1, np.sin((n + 0.5) * t) / np.sin(t / 2), edge)
    out = np.where((n > 8) & (np.abs(x) < 1), trig, out)
    return np.where(np.abs(x) == 1, edge, out)


def _hermite_h(x, n):
    return _recur(x, n, 1.0, 2 * x, lambda k, q, p: 2 * x * q - 2 * k * p)


def _hermite_he(x, n):
    return _recur(x, n, 1.0, x, lambda k, q, p: x * q - k * p)


def _laguerre(x, n):
    out = _recur(x, n, 1.0, 1 - x, lambda k, q, p: ((2 * k + 1 - x) * q - k * p) / (k + 1))
    return np.where((x == 0) & (n >= 0), 1.0, out)


def _legendre_p(x, n):
    out = _recur(x, n, 1.0, x, lambda k, q, p: ((2 * k + 1) * x * q - k * p) / (k + 1))
    return np.where(np.abs(x) == 1, np.where((x > 0) | (n % 2 == 0), 1.0, -1.0), out)


def _polynomial(name, compute, shifted=False):
    """The public ``special.<name>(input, n)``: n (a number or tensor, broadcast) truncated
    to an integer as PyTorch; 0 for n < 0; no gradient, as PyTorch's."""
    def f(input, n):  # noqa: A002
        x, k, dtype = _pair_dtype(name, input, n)
        x, k = np.broadcast_arrays(x, k)
        k = np.where(np.isfinite(k), np.trunc(np.where(np.isfinite(k), k, -1)), -1)
        k = k.astype(np.int64)
        with np.errstate(all="ignore"):
            out = compute(2 * x - 1 if shifted else x, k)
        out = np.where(k < 0, 0.0, out)
        return _leaf(np.asarray(out, np.float64).astype(dtype))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"PyTorch's ``special.{name}(input, n)``: the polynomial of degree n at input"
                 f"{' (shifted: of 2x - 1)' if shifted else ''}; 0 for n < 0, no gradient.")
    return f


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _cheb_t)
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _cheb_u)
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _cheb_v)
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _cheb_w)
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _cheb_t, True)
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _cheb_u, True)
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _cheb_v, True)
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _cheb_w, True)
hermite_polynomial_h = _polynomial("hermite_polynomial_h", _hermite_h)
hermite_polynomial_he = _polynomial("hermite_polynomial_he", _hermite_he)
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", _laguerre)
legendre_polynomial_p = _polynomial("legendre_polynomial_p", _legendre_p)
