"""``FisherSnedecor(df1, df2)``: the F distribution, a ratio of two scaled chi-squares."""
from __future__ import annotations

import numpy as np

from .. import where
from . import constraints
from .distribution import POSITIVE, Distribution, _Check
from .gamma import Gamma

__all__ = ["FisherSnedecor"]

_POSITIVE_VALUES = _Check("GreaterThan(lower_bound=0.0)", lambda a, d: a > 0,
                          "an F variable is > 0")


class FisherSnedecor(Distribution):
    """The F distribution with ``df1`` and ``df2`` > 0 degrees of freedom: (X1 / df1) /
    (X2 / df2) for chi-squares X1, X2. ``rsample`` divides two Gamma draws, implicitly
    reparameterised, so gradients reach both df."""

    has_rsample = True
    _checks = {"df1": POSITIVE, "df2": POSITIVE}
    _support = _POSITIVE_VALUES
    arg_constraints = {"df1": constraints.positive, "df2": constraints.positive}
    support = constraints.positive

    def __init__(self, df1, df2, validate_args=None):
        self._set_params(validate_args, df1=df1, df2=df2)

    _gamma1 = property(lambda self: Gamma(self.df1 * 0.5, self.df1, validate_args=False))
    _gamma2 = property(lambda self: Gamma(self.df2 * 0.5, self.df2, validate_args=False))

    @property
    def mean(self):
        """df2 / (df2 - 2), NaN for df2 <= 2."""
        df2 = where(self.df2 > 2, self.df2, np.nan)
        return df2 / (df2 - 2)

    @property
    def mode(self):
        """(df1 - 2) / df1 * df2 / (df2 + 2), NaN for df1 <= 2."""
        mode = (self.df1 - 2) / self.df1 * self.df2 / (self.df2 + 2)
        return where(self.df1 <= 2, np.nan, mode)

    @property
    def variance(self):
        """2 df2² (df1 + df2 - 2) / (df1 (df2 - 2)² (df2 - 4)), NaN for df2 <= 4."""
        df2 = where(self.df2 > 4, self.df2, np.nan)
        return 2 * df2.pow(2) * (self.df1 + df2 - 2) / (self.df1 * (df2 - 2).pow(2)
                                                       * (df2 - 4))

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x1 = self._gamma1.rsample(sample_shape).reshape(shape)
        x2 = self._gamma2.rsample(sample_shape).reshape(shape)
        tiny = float(np.finfo(x2.dtype).tiny)
        return (x1 / x2.clamp(min=tiny)).clamp(min=tiny)

    def log_prob(self, value):
        """lgamma((df1 + df2) / 2) - lgamma(df1 / 2) - lgamma(df2 / 2) + df1 / 2 log(df1 /
        df2) + (df1 / 2 - 1) log value - (df1 + df2) / 2 log(1 + df1 / df2 value)."""
        if self._validate_args:
            self._validate_sample(value)
        ct1, ct2, ct3 = self.df1 * 0.5, self.df2 * 0.5, self.df1 / self.df2
        t1 = (ct1 + ct2).lgamma() - ct1.lgamma() - ct2.lgamma()
        t2 = ct1 * ct3.log() + (ct1 - 1) * value.log()
        return t1 + t2 - (ct1 + ct2) * (ct3 * value).log1p()
