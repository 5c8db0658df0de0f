"""``GeneralizedPareto(loc, scale, concentration)``: the law of exceedances over a high
threshold (peaks over threshold)."""
from __future__ import annotations

import numpy as np

from .. import isclose, ones_like, rand, where
from . import constraints
from .distribution import POSITIVE, REAL, Distribution, _Check

__all__ = ["GeneralizedPareto"]


def _upper(d):
    """loc - scale / concentration where concentration < 0, else inf (arrays)."""
    c = d.concentration.data
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c < 0, d.loc.data - d.scale.data / c, np.inf)


_INTERVAL = _Check("Interval(lower_bound=loc, upper_bound=loc - scale / concentration "
                   "where concentration < 0, else inf)",
                   lambda a, d: (a >= d.loc.data) & (a <= _upper(d)),
                   "give values from loc up (below loc - scale / concentration when "
                   "concentration < 0)")


class GeneralizedPareto(Distribution):
    """Survival (1 + c z)^(-1/c), z = (x - ``loc``) / ``scale`` (``scale`` > 0, c =
    ``concentration`` real; c = 0 is the shifted Exponential, c = -1 a Uniform). ``rsample``
    is ``icdf(u)``, differentiable in all three parameters (as PyTorch, after TFP)."""

    has_rsample = True
    _checks = {"loc": REAL, "scale": POSITIVE, "concentration": REAL}
    _support = _INTERVAL
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    support = property(lambda self: constraints.interval(self.loc, self.loc.new_tensor(
        _upper(self))), doc="``interval(loc, upper)``, upper inf unless concentration < 0.")

    def __init__(self, loc, scale, concentration, validate_args=None):
        self._set_params(validate_args, loc=loc, scale=scale, concentration=concentration)

    def _safe(self):
        """(c == 0 (isclose), c with 1 where it is 0)."""
        c = self.concentration
        zero = isclose(c, c.new_tensor(0.0))
        return zero, where(zero, ones_like(c), c)

    def rsample(self, sample_shape=()):
        return self.icdf(rand(self._extended_shape(sample_shape), dtype=self.loc.dtype))

    def log_prob(self, value):
        """-log scale - (1 / c + 1) log(1 + c z) (-log scale - z at c = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, c = self._safe()
        y = 1 / c + ones_like(z)
        nonzero = where(y == 0, y, y * (c * z).log1p())
        return -self.scale.log() - where(zero, z, nonzero)

    def log_survival_function(self, value):
        """log P(X > value) = -log(1 + c z) / c (-z at c = 0)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        zero, c = self._safe()
        return where(zero, -z, -(c * z).log1p() / c)

    def log_cdf(self, value):
        """log(1 - survival)."""
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        """loc + scale / c ((1 - value)^(-c) - 1) (loc - scale log(1 - value) at c = 0)."""
        zero, c = self._safe()
        logu = (-value).log1p()
        return where(zero, self.loc - self.scale * logu,
                     self.loc + self.scale / c * (-c * logu).expm1())

    @property
    def mean(self):
        """loc + scale / (1 - c) for c < 1, else NaN."""
        valid = self.concentration < 1
        c = where(valid, self.concentration, 0.5)
        return where(valid, self.loc + self.scale / (1 - c), np.nan)

    @property
    def variance(self):
        """scale² / ((1 - c)² (1 - 2c)) for c < 1/2, else NaN."""
        valid = self.concentration < 0.5
        c = where(valid, self.concentration, 0.25)
        return where(valid, self.scale ** 2 / ((1 - c) ** 2 * (1 - 2 * c)), np.nan)

    def entropy(self):
        """log scale + c + 1."""
        return (self.scale.log() + self.concentration + 1).expand(tuple(self._batch_shape))

    @property
    def mode(self):
        return self.loc
