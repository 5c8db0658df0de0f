"""``Exponential(rate)``: waiting times of a memoryless process, density rate e^(-rate x)."""
from __future__ import annotations

from .. import zeros_like
from . import constraints
from .distribution import NONNEGATIVE, POSITIVE
from .exp_family import ExponentialFamily
from .utils import _exponential

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    """The exponential distribution on x >= 0 with ``rate`` > 0 (mean 1 / rate).
    ``rsample`` is ``e / rate`` with ``e ~ Exponential(1)``, differentiable wrt rate."""

    has_rsample = True
    _mean_carrier_measure = 0
    _checks = {"rate": POSITIVE}
    _support = NONNEGATIVE
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, rate, validate_args=None):
        self._set_params(validate_args, rate=rate)

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate ** -2

    def rsample(self, sample_shape=()):
        e = _exponential(self._extended_shape(sample_shape), self.rate)
        return e / self.rate

    def log_prob(self, value):
        """log rate - rate * value."""
        if self._validate_args:
            self._validate_sample(value)
        return self.rate.log() - self.rate * value

    def cdf(self, value):
        """1 - e^(-rate * value)."""
        if self._validate_args:
            self._validate_sample(value)
        return 1 - (-self.rate * value).exp()

    def icdf(self, value):
        """-log(1 - value) / rate."""
        return -(-value).log1p() / self.rate

    def entropy(self):
        """1 - log rate."""
        return 1.0 - self.rate.log()

    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -(-x).log()
