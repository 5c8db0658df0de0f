"""``Gamma(concentration, rate)``, and the differentiable standard gamma draw that Beta,
Dirichlet and StudentT sample through."""
from __future__ import annotations

import numpy as np

from .. import Tensor, digamma, igamma, lgamma, tensor, xlogy
from .._special_math import digamma as _digamma_np
from .._special_math import lgamma as _lgamma_np
from ..function import Function
from . import constraints
from .distribution import NONNEGATIVE, POSITIVE
from .exp_family import ExponentialFamily
from .utils import _draw

__all__ = ["Gamma"]


def _standard_gamma_grad(a, x):
    """dx/da of a Gamma(a, 1) draw x at fixed quantile u = P(a, x) (implicit
    reparameterisation): -(dP/da)(a, x) / p(x; a), with dP/da from the series
    P(a, x) = sum_n t_n, t_n = x^(a+n) e^-x / Gamma(a+n+1), each term differentiated in a:
    dt_n/da = t_n (log x - digamma(a+n+1)). float64 throughout; NaN where a or x is not
    finite."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    shape, a, x = a.shape, a.ravel(), np.maximum(x.ravel(), np.finfo(np.float64).tiny)
    out = np.full(a.shape, np.nan)
    ok = np.isfinite(a) & np.isfinite(x) & (a > 0)
    a, x = a[ok], x[ok]
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        density = np.exp((a - 1) * np.log(x) - x - _lgamma_np(a))
        out[ok] = -_dP_da(a, x) / density       # 0 where x underflowed (density inf)
    return out.reshape(shape)


def _dP_da(a, x):
    """sum_n t_n (log x - digamma(a+n+1)) for 1-d arrays a, x. The terms peak near
    a + n = x with width sqrt(x): the sum starts 12 widths below the peak (the terms
    before are below e^-72 of it) and runs, each term from the last (t_(n+1) =
    t_n x / (a+n+1)), until past the peak the terms fall below 1e-17 of the sum."""
    n0 = np.maximum(np.floor(x - a - 12 * np.sqrt(x)), 0)
    b = a + n0                                  # a + n for each element's current term
    logx = np.log(x)
    t = np.exp(b * logx - x - _lgamma_np(b + 1))
    psi = _digamma_np(b + 1)
    total = np.zeros_like(a)
    live = np.arange(a.size)                    # positions still summing, and their state
    for _ in range(10 ** 7):
        if not live.size:
            break
        term = t * (logx[live] - psi)
        total[live] += term
        b = b + 1
        psi = psi + 1 / b
        t = t * x[live] / b
        keep = (b <= x[live] + 1) | (np.abs(term) > 1e-17 * np.abs(total[live]))
        live, b, psi, t = live[keep], b[keep], psi[keep], t[keep]
    return total


class _StandardGammaOp(Function):
    """A Gamma(concentration, 1) draw ``x`` (drawn before, kept here) as a function of the
    concentration, so that gradients flow: backward is ``g * dx/da`` from
    :func:`_standard_gamma_grad` (exact to float64, at a cost that grows as sqrt(a): about
    0.4 s per 100k draws at a = 100, 3 s at a = 10^4). Under ``create_graph`` dx/da is a constant (its own
    derivative is not recorded, as PyTorch's _standard_gamma_grad has none)."""
    __slots__ = ("x",)
    name = "_standard_gamma"

    def __init__(self, x):
        self.x = x

    def forward(self, a):
        return self.x

    def backward(self, xp, g, out, a):
        if isinstance(a, Tensor):               # create_graph: dx/da enters as a constant
            d = _standard_gamma_grad(a.data, out.data)
            return g * tensor(d.astype(out.dtype, copy=False))
        return g * _standard_gamma_grad(a, out).astype(out.dtype, copy=False)


def _standard_gamma(concentration, shape):
    """Gamma(concentration, 1) draws of ``shape`` (concentration broadcast to it) from
    zeroin's generator; differentiable wrt concentration (clamped at the dtype's tiny, as
    PyTorch, so that logs of a draw stay finite)."""
    conc = concentration.expand(tuple(shape))
    tiny = np.finfo(conc.dtype).tiny
    x = _draw(lambda r, s: r.standard_gamma(conc.data, s), shape, conc).data
    return _StandardGammaOp(np.maximum(x, tiny))(conc)


class Gamma(ExponentialFamily):
    """The gamma distribution with shape ``concentration`` > 0 and ``rate`` > 0 (mean
    concentration / rate), on x >= 0. ``rsample`` uses implicit reparameterisation (the
    gradient of a draw wrt concentration at its fixed quantile), as PyTorch."""

    has_rsample = True
    _mean_carrier_measure = 0
    _checks = {"concentration": POSITIVE, "rate": POSITIVE}
    _support = NONNEGATIVE
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, concentration, rate, validate_args=None):
        self._set_params(validate_args, concentration=concentration, rate=rate)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate ** 2

    def rsample(self, sample_shape=()):
        return _standard_gamma(self.concentration, self._extended_shape(sample_shape)) \
            / self.rate

    def log_prob(self, value):
        """c log rate + (c - 1) log value - rate value - lgamma(c), c the concentration."""
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return xlogy(c, self.rate) + xlogy(c - 1, value) - self.rate * value - lgamma(c)

    def cdf(self, value):
        """P(concentration, rate * value), the regularised lower incomplete gamma function
        (differentiable wrt rate and value, not concentration: as PyTorch)."""
        if self._validate_args:
            self._validate_sample(value)
        return igamma(self.concentration, self.rate * value)

    def entropy(self):
        """c - log rate + lgamma(c) + (1 - c) digamma(c)."""
        c = self.concentration
        return c - self.rate.log() + lgamma(c) + (1.0 - c) * digamma(c)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()
