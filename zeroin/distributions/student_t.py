"""``StudentT(df, loc=0., scale=1.)``: the heavy-tailed t distribution."""
from __future__ import annotations

import math

import numpy as np

from .. import digamma, lgamma, where
from . import constraints
from .distribution import POSITIVE, REAL, Distribution
from .gamma import _standard_gamma
from .utils import _draw

__all__ = ["StudentT"]


class StudentT(Distribution):
    """Student's t with ``df`` > 0 degrees of freedom, shifted by ``loc`` and scaled by
    ``scale`` > 0. ``rsample`` is ``loc + scale * z / sqrt(chi2 / df)`` with z a normal
    draw and chi2 = 2 Gamma(df / 2) drawn differentiably, so gradients reach df too."""

    has_rsample = True
    _checks = {"df": POSITIVE, "loc": REAL, "scale": POSITIVE}
    _support = REAL
    arg_constraints = {"df": constraints.positive, "loc": constraints.real,
                       "scale": constraints.positive}
    support = constraints.real

    def __init__(self, df, loc=0.0, scale=1.0, validate_args=None):
        self._set_params(validate_args, df=df, loc=loc, scale=scale)

    @property
    def mean(self):
        """loc for df > 1, else NaN."""
        return where(self.df > 1, self.loc, np.nan)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """scale² df / (df - 2) for df > 2, inf for 1 < df <= 2, NaN for df <= 1."""
        df = self.df
        v = where(df > 2, self.scale ** 2 * df / where(df > 2, df - 2, 1.0), np.inf)
        return where(df > 1, v, np.nan)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        z = _draw(lambda r, s: r.standard_normal(s), shape, self.loc)
        chi2 = 2 * _standard_gamma(0.5 * self.df, shape)
        return self.loc + self.scale * z * (chi2 / self.df).rsqrt()

    def log_prob(self, value):
        """-(df + 1)/2 log(1 + y²/df) - log(scale sqrt(df pi) B(df/2, 1/2)), y the
        standardised value."""
        if self._validate_args:
            self._validate_sample(value)
        y = (value - self.loc) / self.scale
        z = self.scale.log() + 0.5 * self.df.log() + 0.5 * math.log(math.pi) \
            + lgamma(0.5 * self.df) - lgamma(0.5 * (self.df + 1.0))
        return -0.5 * (self.df + 1.0) * (y ** 2 / self.df).log1p() - z

    def entropy(self):
        """log scale + (df + 1)/2 (digamma((df + 1)/2) - digamma(df/2)) + log(sqrt(df)
        B(df/2, 1/2))."""
        df = self.df
        lbeta = lgamma(0.5 * df) + math.lgamma(0.5) - lgamma(0.5 * (df + 1))
        return self.scale.log() + 0.5 * (df + 1) * (digamma(0.5 * (df + 1))
                                                   - digamma(0.5 * df)) \
            + 0.5 * df.log() + lbeta
