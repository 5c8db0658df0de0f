"""``Uniform(low, high)``: constant density on [low, high)."""
from __future__ import annotations

import math

import numpy as np

from .. import rand, where
from . import constraints
from .distribution import Distribution, _Check

__all__ = ["Uniform"]

# PyTorch checks low < high (low's constraint); NaN fails too
_LOW_BELOW_HIGH = _Check("LessThan(upper_bound=high)", lambda a, d: a < d.high.data,
                         "give low < high")
_HIGH_ABOVE_LOW = _Check("GreaterThan(lower_bound=low)", lambda a, d: a > d.low.data,
                         "give low < high")
_INTERVAL = _Check("Interval(lower_bound=low, upper_bound=high)",
                   lambda a, d: (d.low.data <= a) & (a <= d.high.data))


class Uniform(Distribution):
    """Uniform on the half-open interval [low, high) (tensors or numbers, broadcast
    together; low < high). ``rsample`` is ``low + u * (high - low)``, differentiable."""

    has_rsample = True
    _checks = {"low": _LOW_BELOW_HIGH, "high": _HIGH_ABOVE_LOW}
    _support = _INTERVAL
    arg_constraints = property(lambda self: {"low": constraints.less_than(self.high),
                                             "high": constraints.greater_than(self.low)},
                               doc="``low < high`` (each bounded by the other).")
    support = property(lambda self: constraints.interval(self.low, self.high),
                       doc="``interval(low, high)``.")

    def __init__(self, low, high, validate_args=None):
        self._set_params(validate_args, low=low, high=high)

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * np.nan

    @property
    def stddev(self):
        return (self.high - self.low) / math.sqrt(12)

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape=()):
        u = rand(self._extended_shape(sample_shape), dtype=self.low.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value):
        """-log(high - low) inside [low, high), -inf outside."""
        if self._validate_args:
            self._validate_sample(value)
        inside = (self.low <= value) & (self.high > value)
        return where(inside, -(self.high - self.low).log(), -math.inf)

    def cdf(self, value):
        """(value - low) / (high - low), clamped to [0, 1]."""
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value):
        """low + value * (high - low)."""
        return value * (self.high - self.low) + self.low

    def entropy(self):
        """log(high - low)."""
        return (self.high - self.low).log()
