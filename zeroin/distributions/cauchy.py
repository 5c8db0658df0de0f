"""``Cauchy(loc, scale)``: the heavy-tailed ratio of two normals (no mean, no variance)."""
from __future__ import annotations

import math

import numpy as np

from .. import full
from . import constraints
from .distribution import POSITIVE, REAL, Distribution
from .utils import _draw

__all__ = ["Cauchy"]


class Cauchy(Distribution):
    """The Cauchy (Lorentz) distribution with median ``loc`` and half-width ``scale`` > 0.
    Its mean is NaN and its variance inf, as in PyTorch. ``rsample`` is
    ``loc + scale * e`` with ``e`` a standard Cauchy draw."""

    has_rsample = True
    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = REAL
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        self._set_params(validate_args, loc=loc, scale=scale)

    @property
    def mean(self):
        return full(tuple(self._extended_shape()), np.nan, dtype=self.loc.dtype)

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        return full(tuple(self._extended_shape()), np.inf, dtype=self.loc.dtype)

    def rsample(self, sample_shape=()):
        e = _draw(lambda r, s: r.standard_cauchy(s), self._extended_shape(sample_shape),
                  self.loc)
        return self.loc + e * self.scale

    def log_prob(self, value):
        """-log(pi scale) - log(1 + ((value - loc) / scale)²)."""
        if self._validate_args:
            self._validate_sample(value)
        z = (value - self.loc) / self.scale
        return -math.log(math.pi) - self.scale.log() - (z ** 2).log1p()

    def cdf(self, value):
        """atan((value - loc) / scale) / pi + ½."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.loc) / self.scale).atan() / math.pi + 0.5

    def icdf(self, value):
        """loc + scale tan(pi (value - ½))."""
        return (math.pi * (value - 0.5)).tan() * self.scale + self.loc

    def entropy(self):
        """log(4 pi scale)."""
        return math.log(4 * math.pi) + self.scale.log()
