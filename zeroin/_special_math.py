"""NumPy numerics of the gamma family (lgamma, digamma, polygamma) and erfinv.

NumPy has none of them and zeroin must not need SciPy, so they are computed here on float64
arrays: series about 2 (lgamma) and about digamma's positive root, recurrences to reach
the asymptotic (Stirling) series, and the reflection formula for negative arguments. About
1e-15 relative in float64 on the positive axis; near the negative roots of lgamma and
digamma the error is absolute (~1e-15), as in most libraries. Values at the poles, 0 and
infinities follow PyTorch. Each function returns the dtype it is given.
"""
from __future__ import annotations

import math

import numpy as np

# lgamma(2 + t) = sum_k _LG2[k-1] t**k: (1 - euler), then (-1)**k (zeta(k) - 1) / k
_LG2 = (0.42278433509846714, 0.32246703342411322, -0.067352301053198095,
        0.020580808427784548, -0.0073855510286739853, 0.0028905103307415233,
        -0.001192753911703261, 0.00050966952474304242, -0.00022315475845357938,
        9.9457512781808534e-5, -4.4926236738133142e-5, 2.0507212775670692e-5,
        -9.4394882752683959e-6, 4.3748667899074878e-6, -2.0392157538013662e-6,
        9.5514121304074198e-7, -4.492469198764566e-7, 2.1207184805554666e-7,
        -1.00432248239681e-7, 4.7698101693639806e-8, -2.2711094608943165e-8,
        1.0838659214896954e-8, -5.1834750419700467e-9, 2.4836745438024783e-9,
        -1.1921401405860912e-9, 5.731367241678862e-10, -2.7595228851242331e-10,
        1.3304764374244489e-10, -6.4229645638381e-11, 3.1044247747322273e-11)
# digamma(x0 + t) = sum_k _PSI0[k-1] t**k, x0 = 1.46163... its positive root (hi + lo)
_X0_HI, _X0_LO = 1.4616321449683622, 9.549995429965697e-17
_PSI0 = (0.96767224544762117, -0.44276316898359211, 0.25849976095565101,
         -0.16394270544240653, 0.10782405069126237, -0.072199561256454711,
         0.048804288164143107, -0.033161126474847359, 0.022597648232218105,
         -0.015424765904948959, 0.010538791616612175, -0.0072045343863568682,
         0.0049267813957298534, -0.0033698016554393281, 0.0023051263267349278,
         -0.0015769367714301973, 0.0010788252019162966, -0.00073807093899600513,
         0.00050495326583460204, -0.0003454680251063077, 0.00023635601564027053,
         -0.00016170622091974803)
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)  # B_2k
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _poly(coefs, t):
    """sum_k coefs[k-1] * t**k (Horner)."""
    r = np.zeros_like(t)
    for c in reversed(coefs):
        r = (r + c) * t
    return r


def _as64(x):
    x = np.asarray(x)
    return x, np.array(x, dtype=np.float64, ndmin=1)


def _back(x, r):
    return r.reshape(x.shape).astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)


def _abs_sinpi(x):
    """|sin(pi x)| with x reduced first (exact), so that it is 0 at the integers."""
    return np.abs(np.sin(np.pi * (x - np.round(x))))


def _lgamma_pos(x):
    """lgamma of finite x > 0 (float64 array)."""
    out = np.empty_like(x)
    big = x >= 10
    z = x[big]
    iz = 1 / (z * z)
    tail = sum(b / (2 * k * (2 * k - 1)) * iz ** (k - 1) for k, b in enumerate(_B2K, 1)) / z
    out[big] = z * (np.log(z) - 1) - 0.5 * np.log(z) + _HALF_LOG_2PI + tail
    s = x[~big]
    n = np.clip(np.floor(s - 1.5), -2, 8)               # shift s to 2 + t, |t| <= 0.5
    t = s - (n + 2)                                     # exact (Sterbenz)
    prod = np.where(n == -2, s * (s + 1), np.where(n == -1, s, 1.0))
    for k in range(1, 9):                               # lgamma(s) = lgamma(s-n) + log(...)
        prod = np.where(n >= k, prod * (s - k), prod)
    logp = np.log(prod)
    out[~big] = _poly(_LG2, t) + np.where(n < 0, -logp, logp)
    return out


def lgamma(x):
    """log|Gamma(x)| elementwise; +inf at the poles (0, negative integers) and at +-inf."""
    x, a = _as64(x)
    out = np.full_like(a, np.inf)
    with np.errstate(all="ignore"):
        pos = (a > 0) & np.isfinite(a)
        out[pos] = _lgamma_pos(a[pos])
        neg = (a <= 0) & (a != np.floor(a))             # reflection; poles stay +inf
        z = a[neg]
        out[neg] = np.log(np.pi / _abs_sinpi(z)) - _lgamma_pos(1 - z)
    out[np.isnan(a)] = np.nan
    return _back(x, out)


def _digamma_pos(x):
    """digamma of x > 0 (float64 array, +inf allowed)."""
    out = np.zeros_like(x)
    s = x.copy()
    for _ in range(10):                                 # digamma(s) = digamma(s+1) - 1/s
        small = s < 10
        out = np.where(small, out - 1 / np.where(small, s, 1.0), out)
        s = np.where(small, s + 1, s)
    iz = 1 / (s * s)
    tail = sum(b / (2 * k) * iz ** k for k, b in enumerate(_B2K, 1))
    out = out + np.log(s) - 0.5 / s - tail
    t = (x - _X0_HI) - _X0_LO                           # near the root: relative accuracy
    near = np.abs(t) < 0.25
    return np.where(near, _poly(_PSI0, np.where(near, t, 0.0)), out)


def digamma(x):
    """d/dx lgamma(x) elementwise: -inf at +0, +inf at -0, NaN at the negative integers
    and -inf (PyTorch's values)."""
    x, a = _as64(x)
    out = np.full_like(a, np.nan)
    with np.errstate(all="ignore"):
        pos = a > 0
        out[pos] = _digamma_pos(a[pos])
        neg = (a < 0) & (a != np.floor(a))              # psi(1 - x) - pi / tan(pi x)
        z = a[neg]
        out[neg] = _digamma_pos(1 - z) - np.pi / np.tan(np.pi * (z - np.round(z)))
    zero = a == 0
    out[zero] = np.copysign(np.inf, -a[zero])
    return _back(x, out)


def _trigamma(a):
    """polygamma(1, x) with PyTorch's reflection: pi^2 / sin(pi x)^2 (so inf at 0, and
    large finite values at the negative integers, as PyTorch gives)."""
    refl = a < 0.5
    with np.errstate(all="ignore"):
        whole = a == np.round(a)                        # PyTorch's unreduced sin there
        sin = np.sin(np.pi * np.where(whole, a, a - np.round(a)))
        out = np.where(refl, -(np.pi ** 2) / sin ** 2, 0.0)
        s = np.where(refl, 1 - a, a)
        for _ in range(10):
            small = s < 10
            out = np.where(small, out + 1 / np.where(small, s * s, 1.0), out)
            s = np.where(small, s + 1, s)
        iz = 1 / (s * s)
        tail = sum(b * iz ** k for k, b in enumerate(_B2K, 1)) / s
        out = out + 1 / s + 0.5 * iz + tail
        return np.where(refl, -out, out)


def _hurwitz_polygamma(n, a):
    """polygamma(n, x) for n >= 2: (-1)^(n+1) n! sum_k (x + k)^-(n+1), the sum shifted up
    to x >= 10 term by term, then Euler-Maclaurin; poles give (-1)^(n+1) inf."""
    s = n + 1
    out = np.zeros_like(a)
    pole = (a <= 0) & (a == np.floor(a))
    z = np.where(pole | ~np.isfinite(a), 10.0, a)
    with np.errstate(all="ignore"):
        while np.any(z < 10):
            small = z < 10
            out = np.where(small, out + np.where(small, z, 1.0) ** -s, out)
            z = np.where(small, z + 1, z)
        tail = z ** (1 - s) / (s - 1) + 0.5 * z ** -s
        rising = float(s)                               # s (s+1) ... (s+2k-2)
        for k, b in enumerate(_B2K, 1):
            tail = tail + b / math.factorial(2 * k) * rising * z ** (-s - 2 * k + 1)
            rising *= (s + 2 * k - 1) * (s + 2 * k)
        out = (-1) ** (n + 1) * math.factorial(n) * (out + tail)
    inf = (-1) ** (n + 1) * np.inf
    out = np.where(pole | (a == -np.inf), inf, out)      # PyTorch: NaN at +inf
    return np.where(np.isnan(a) | (a == np.inf), np.nan, out)


def polygamma(n, x):
    """The n-th derivative of digamma, elementwise (n >= 0)."""
    if n == 0:
        return digamma(x)
    x, a = _as64(x)
    out = _trigamma(a) if n == 1 else _hurwitz_polygamma(n, a)
    return _back(x, out)


_GILES_C = (1.50140941, 0.246640727, -0.00417768164, -0.00125372503, 0.00021858087,
            -4.39150654e-06, -3.5233877e-06, 3.43273939e-07, 2.81022636e-08)
_GILES_T = (2.83297682, 1.00167406, 0.00943887047, -0.0076224613, 0.00573950773,
            -0.00367342844, 0.00134934322, 0.000100950558, -0.000200214257)
_erf = np.vectorize(math.erf, otypes=[np.float64])
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def erfinv(x):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside): Giles' single-precision
    approximation, then Newton steps on erf (|x| <= 0.5) or on log(erfc) (the tails, where
    1 - |x| is exact and erf itself cannot resolve the answer)."""
    x, a = _as64(x)
    ax = np.abs(a)
    inside = ax < 1
    with np.errstate(all="ignore"):
        c = np.where(inside, 1 - ax, 0.5)                   # exact for |x| >= 0.5
        w = -np.log(c * (1 + np.where(inside, ax, 0.5)))
        lo, hi = w - 2.5, np.sqrt(w) - 3
        p = np.where(w < 5, sum(k * lo ** i for i, k in enumerate(_GILES_C)),
                     sum(k * hi ** i for i, k in enumerate(_GILES_T)))
        y = p * np.where(inside, ax, 0.5)
        tail = ax > 0.5
        for _ in range(4):                                  # the far tail needs 4
            slope = 2 / math.sqrt(math.pi) * np.exp(-y * y)
            e = _erfc(y)
            step = np.where(tail, (np.log(e) - np.log(c)) * e, _erf(y) - ax) / slope
            y = np.where(tail, y + step, y - step)
    y = np.where(inside, np.copysign(y, a), np.where(ax == 1, np.copysign(np.inf, a), np.nan))
    return _back(x, y)
