"""``Weibull(scale, concentration)``: lifetimes whose hazard grows (or falls) as a power."""
from __future__ import annotations

import numpy as np

from .. import lgamma, ones_like, where
from . import constraints
from .distribution import POSITIVE, _Check
from .exponential import Exponential
from .transformed_distribution import _TransformedFamily
from .transforms import AffineTransform, PowerTransform
from .utils import broadcast_all

__all__ = ["Weibull"]

_EULER = 0.57721566490153286060
_POSITIVE_VALUES = _Check("GreaterThan(lower_bound=0.0)", lambda a, d: a > 0,
                          "a Weibull variable is > 0")


class Weibull(_TransformedFamily):
    """The Weibull distribution with ``scale`` (lambda) and ``concentration`` (k), both
    > 0: ``scale * E^(1/k)`` for E ~ Exponential(1), as PyTorch writes it."""

    _checks = {"scale": POSITIVE, "concentration": POSITIVE}
    _support = _POSITIVE_VALUES
    _expand = ("scale", "concentration", "concentration_reciprocal")
    arg_constraints = {"scale": constraints.positive, "concentration": constraints.positive}
    support = constraints.positive

    def __init__(self, scale, concentration, validate_args=None):
        self.scale, self.concentration = broadcast_all(scale, concentration)
        self.concentration_reciprocal = self.concentration.reciprocal()
        base = Exponential(ones_like(self.scale), validate_args=False)
        transforms = [PowerTransform(self.concentration_reciprocal),
                      AffineTransform(0, self.scale)]
        super().__init__(base, transforms, validate_args)

    @property
    def mean(self):
        return self.scale * lgamma(1 + self.concentration_reciprocal).exp()

    @property
    def mode(self):
        """scale ((k - 1) / k)^(1/k) (NaN for k < 1, as PyTorch)."""
        k = self.concentration
        ratio = (k - 1) / k
        ok = ratio >= 0
        return where(ok, self.scale * where(ok, ratio, 1.0) ** k.reciprocal(), np.nan)

    @property
    def variance(self):
        r = self.concentration_reciprocal
        return self.scale.pow(2) * (lgamma(1 + 2 * r).exp() - (2 * lgamma(1 + r)).exp())

    def entropy(self):
        """Euler's constant (1 - 1/k) + log(scale / k) + 1."""
        r = self.concentration_reciprocal
        return _EULER * (1 - r) + (self.scale * r).log() + 1
