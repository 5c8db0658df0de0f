"""``Pareto(scale, alpha)``: the power law on x >= scale (Pareto type I)."""
from __future__ import annotations

import math

from .. import where
from . import constraints
from .distribution import POSITIVE, _Check
from .exponential import Exponential
from .transformed_distribution import _TransformedFamily
from .transforms import AffineTransform, ExpTransform
from .utils import broadcast_all

__all__ = ["Pareto"]

_ABOVE_SCALE = _Check("GreaterThanEq(lower_bound=scale)", lambda a, d: a >= d.scale.data,
                      "a Pareto variable is >= scale")


class Pareto(_TransformedFamily):
    """Density alpha scale^alpha / x^(alpha + 1) on x >= ``scale`` (> 0), ``alpha`` > 0;
    ``scale * exp(E)`` for E ~ Exponential(alpha), as PyTorch writes it."""

    _checks = {"alpha": POSITIVE, "scale": POSITIVE}
    _support = _ABOVE_SCALE
    _expand = ("scale", "alpha")
    arg_constraints = {"alpha": constraints.positive, "scale": constraints.positive}
    support = property(lambda self: constraints.greater_than_eq(self.scale),
                       doc="``greater_than_eq(scale)``.")

    def __init__(self, scale, alpha, validate_args=None):
        self.scale, self.alpha = broadcast_all(scale, alpha)
        base = Exponential(self.alpha, validate_args=False)
        super().__init__(base, [ExpTransform(), AffineTransform(0, self.scale)], validate_args)

    @property
    def mean(self):
        """alpha scale / (alpha - 1) (inf for alpha <= 1)."""
        a = self.alpha.clamp(min=1)
        safe = where(a > 1, a, 2.0)             # inf at a = 1, without dividing by 0
        return where(a > 1, safe * self.scale / (safe - 1), math.inf)

    @property
    def mode(self):
        return self.scale

    @property
    def variance(self):
        """scale² alpha / ((alpha - 1)² (alpha - 2)) (inf for alpha <= 2)."""
        a = self.alpha.clamp(min=2)
        safe = where(a > 2, a, 3.0)
        return where(a > 2, self.scale.pow(2) * safe / ((safe - 1).pow(2) * (safe - 2)),
                     math.inf)

    def entropy(self):
        """log(scale / alpha) + 1 + 1 / alpha."""
        return (self.scale / self.alpha).log() + (1 + self.alpha.reciprocal())
