"""``Gamma(concentration, rate)``, and the differentiable standard gamma draw that Beta,
Dirichlet and StudentT sample through."""
from __future__ import annotations

import numpy as np

from .. import Tensor, digamma, igamma, lgamma, tensor, xlogy
from .._special_math import digamma as _digamma_np
from .._special_math import lgamma as _lgamma_np
from ..function import Function
from .distribution import NONNEGATIVE, POSITIVE, Distribution
from .utils import _draw

__all__ = ["Gamma"]


def _standard_gamma_grad(a, x):
    """dx/da of a Gamma(a, 1) draw x at fixed quantile u = P(a, x) (implicit
    reparameterisation): -(dP/da)(a, x) / p(x; a), with dP/da from the series
    P(a, x) = sum_n t_n, t_n = x^(a+n) e^-x / Gamma(a+n+1), each t_n differentiated in a:
    dt_n/da = t_n (log x - digamma(a+n+1)). Terms are summed until they stop mattering
    (n past x - a and below 1e-17 of the sum); float64 throughout."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    shape = a.shape
    a, x = a.ravel(), np.maximum(x.ravel(), np.finfo(np.float64).tiny)
    logx = np.log(x)
    total = np.zeros_like(a)
    psi = _digamma_np(a + 1)
    live = np.flatnonzero(np.isfinite(a) & np.isfinite(x))
    n = 0
    while live.size and n < 10 ** 6:
        al, xl = a[live] + n, x[live]
        t = np.exp(al * logx[live] - xl - _lgamma_np(al + 1))
        term = t * (logx[live] - psi[live])
        total[live] += term
        psi[live] += 1 / (al + 1)
        n += 1
        done = (n > xl - a[live]) & (np.abs(term) <= 1e-17 * np.abs(total[live])) & (t < 1e-17)
        live = live[~done]
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        density = np.exp((a - 1) * logx - x - _lgamma_np(a))
        out = -total / density                  # 0 where x underflowed to tiny (density inf)
    return np.where(np.isfinite(a) & np.isfinite(x), out, np.nan).reshape(shape)


class _StandardGammaOp(Function):
    """A Gamma(concentration, 1) draw ``x`` (drawn before, kept here) as a function of the
    concentration, so that gradients flow: backward is ``g * dx/da`` from
    :func:`_standard_gamma_grad`. Under ``create_graph`` dx/da is a constant (its own
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


class Gamma(Distribution):
    """The gamma distribution with shape ``concentration`` > 0 and ``rate`` > 0 (mean
    concentration / rate), on x >= 0. ``rsample`` uses implicit reparameterisation (the
    gradient of a draw wrt concentration at its fixed quantile), as PyTorch."""

    has_rsample = True
    _checks = {"concentration": POSITIVE, "rate": POSITIVE}
    _support = NONNEGATIVE

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
