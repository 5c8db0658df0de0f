"""``Beta(concentration1, concentration0)``: a random probability."""
from __future__ import annotations

from .. import digamma, lgamma, stack, xlogy
from . import constraints
from .distribution import POSITIVE, UNIT_INTERVAL, _Check
from .exp_family import ExponentialFamily
from .gamma import _standard_gamma

__all__ = ["Beta"]

_UNIT_VALUES = _Check(UNIT_INTERVAL.rule, UNIT_INTERVAL.ok, "a Beta variable lies in [0, 1]")


class Beta(ExponentialFamily):
    """The beta distribution on [0, 1], density ∝ x^(c1 - 1) (1 - x)^(c0 - 1) with
    ``concentration1`` (c1, the weight of 1) and ``concentration0`` (c0) both > 0.
    ``rsample`` is g1 / (g1 + g0) for gamma draws g1, g0, differentiable through them."""

    has_rsample = True
    _checks = {"concentration1": POSITIVE, "concentration0": POSITIVE}
    _support = _UNIT_VALUES
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval

    def __init__(self, concentration1, concentration0, validate_args=None):
        self._set_params(validate_args, concentration1=concentration1,
                         concentration0=concentration0)

    @property
    def mean(self):
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self):
        """Dirichlet's mode of (c1, c0), first entry: (c1 - 1) / (c1 + c0 - 2) for c1,
        c0 >= 1, else 0 or 1 (as PyTorch)."""
        from .dirichlet import Dirichlet
        both = stack([self.concentration1, self.concentration0], -1)
        return Dirichlet(both, validate_args=False).mode[..., 0]

    @property
    def variance(self):
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total ** 2 * (total + 1))

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        g1 = _standard_gamma(self.concentration1, shape)
        g0 = _standard_gamma(self.concentration0, shape)
        return g1 / (g1 + g0)

    def log_prob(self, value):
        """(c1 - 1) log x + (c0 - 1) log(1 - x) - log B(c1, c0)."""
        if self._validate_args:
            self._validate_sample(value)
        c1, c0 = self.concentration1, self.concentration0
        return xlogy(c1 - 1.0, value) + xlogy(c0 - 1.0, 1 - value) + lgamma(c1 + c0) \
            - lgamma(c1) - lgamma(c0)

    def entropy(self):
        """log B(c1, c0) - (c1 - 1) digamma(c1) - (c0 - 1) digamma(c0)
        + (c1 + c0 - 2) digamma(c1 + c0)."""
        c1, c0 = self.concentration1, self.concentration0
        t = c1 + c0
        return lgamma(c1) + lgamma(c0) - lgamma(t) - (c1 - 1) * digamma(c1) \
            - (c0 - 1) * digamma(c0) + (t - 2) * digamma(t)

    @property
    def _natural_params(self):
        return (self.concentration1, self.concentration0)

    def _log_normalizer(self, x, y):
        return lgamma(x) + lgamma(y) - lgamma(x + y)
