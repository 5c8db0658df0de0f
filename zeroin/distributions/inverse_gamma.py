"""``InverseGamma(concentration, rate)``: 1 / X for X ~ Gamma(concentration, rate)."""
from __future__ import annotations

import math

from .. import digamma, lgamma, where
from . import constraints
from .distribution import POSITIVE, _Check
from .gamma import Gamma
from .transformed_distribution import _TransformedFamily
from .transforms import PowerTransform

__all__ = ["InverseGamma"]

_POSITIVE_VALUES = _Check("GreaterThan(lower_bound=0.0)", lambda a, d: a > 0,
                          "an inverse-gamma variable is > 0")


class InverseGamma(_TransformedFamily):
    """1 / X with X ~ Gamma(``concentration``, ``rate``) (both > 0): a Gamma through
    ``PowerTransform(-1)``, so ``rsample`` is Gamma's (implicitly reparameterised)."""

    has_rsample = True
    _checks = {"concentration": POSITIVE, "rate": POSITIVE}
    _support = _POSITIVE_VALUES
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.positive

    def __init__(self, concentration, rate, validate_args=None):
        base = Gamma(concentration, rate, validate_args=False)
        super().__init__(base, PowerTransform(-base.rate.new_ones(())), validate_args)

    concentration = property(lambda self: self.base_dist.concentration,
                             doc="The base Gamma's concentration.")
    rate = property(lambda self: self.base_dist.rate, doc="The base Gamma's rate.")

    @property
    def mean(self):
        """rate / (concentration - 1), inf for concentration <= 1."""
        return where(self.concentration > 1, self.rate / (self.concentration - 1), math.inf)

    @property
    def mode(self):
        return self.rate / (self.concentration + 1)

    @property
    def variance(self):
        """rate² / ((c - 1)² (c - 2)), inf for c <= 2."""
        c = self.concentration
        return where(c > 2, self.rate.square() / ((c - 1).square() * (c - 2)), math.inf)

    def entropy(self):
        """c + log rate + lgamma(c) - (1 + c) digamma(c), c the concentration."""
        c = self.concentration
        return c + self.rate.log() + lgamma(c) - (1 + c) * digamma(c)
