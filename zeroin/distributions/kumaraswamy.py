"""``Kumaraswamy(concentration1, concentration0)``: a Beta-like law on [0, 1] with a
closed-form cdf."""
from __future__ import annotations

import numpy as np

from .. import digamma, full_like, lgamma, where
from . import constraints
from .distribution import POSITIVE, UNIT_INTERVAL, _Check
from .transformed_distribution import _TransformedFamily
from .transforms import AffineTransform, PowerTransform
from .uniform import Uniform
from .utils import broadcast_all

__all__ = ["Kumaraswamy"]

_EULER = 0.57721566490153286060
_UNIT_VALUES = _Check(UNIT_INTERVAL.rule, UNIT_INTERVAL.ok, "a Kumaraswamy variable lies in "
                      "[0, 1]")


def _moments(a, b, n):
    """E[X^n] = b B(1 + n / a, b)."""
    arg1 = 1 + n / a
    return b * (lgamma(arg1) + lgamma(b) - lgamma(arg1 + b)).exp()


class Kumaraswamy(_TransformedFamily):
    """Density a b x^(a-1) (1 - x^a)^(b-1) on [0, 1], a = ``concentration1``, b =
    ``concentration0`` (both > 0): ``(1 - u^(1/b))^(1/a)`` for u uniform, as PyTorch
    writes it."""

    has_rsample = True
    _checks = {"concentration1": POSITIVE, "concentration0": POSITIVE}
    _support = _UNIT_VALUES
    _expand = ("concentration1", "concentration0")
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval

    def __init__(self, concentration1, concentration0, validate_args=None):
        self.concentration1, self.concentration0 = broadcast_all(concentration1,
                                                                 concentration0)
        c0 = self.concentration0
        base = Uniform(full_like(c0, 0), full_like(c0, 1), validate_args=validate_args)
        transforms = [PowerTransform(c0.reciprocal()), AffineTransform(1.0, -1.0),
                      PowerTransform(self.concentration1.reciprocal())]
        super().__init__(base, transforms, validate_args)

    @property
    def mean(self):
        return _moments(self.concentration1, self.concentration0, 1)

    @property
    def mode(self):
        """((a - 1) / (a b - 1))^(1/a), the maximum of the density; NaN where a < 1 or
        b < 1 (as PyTorch) and at a = b = 1 (the uniform, every point a mode)."""
        a, b = self.concentration1, self.concentration0
        ok = (a >= 1) & (b >= 1) & ((a > 1) | (b > 1))
        a1, b1 = where(ok, a, 2.0), where(ok, b, 1.0)
        return where(ok, ((a1 - 1) / (a1 * b1 - 1)) ** a1.reciprocal(), np.nan)

    @property
    def variance(self):
        return _moments(self.concentration1, self.concentration0, 2) - self.mean.pow(2)

    def entropy(self):
        """(1 - 1/b) + (1 - 1/a) (digamma(b + 1) + Euler's constant) - log a - log b."""
        a, b = self.concentration1, self.concentration0
        h0 = digamma(b + 1) + _EULER
        return (1 - b.reciprocal()) + (1 - a.reciprocal()) * h0 - a.log() - b.log()
