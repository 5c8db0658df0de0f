"""``Gumbel(loc, scale)``: the law of the maximum of many draws (extreme values)."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import full_like, ones_like
from . import constraints
from .distribution import POSITIVE, REAL
from .transformed_distribution import _TransformedFamily
from .transforms import AffineTransform, ExpTransform
from .uniform import Uniform
from .utils import broadcast_all

__all__ = ["Gumbel"]

_EULER = 0.57721566490153286060


class Gumbel(_TransformedFamily):
    """The Gumbel distribution with location ``loc`` and ``scale`` > 0: ``loc - scale *
    log(-log u)`` for u uniform, written as PyTorch's TransformedDistribution (a Uniform on
    [tiny, 1 - eps] through -log, -log and ``loc - scale * x``), so ``rsample``, ``cdf``
    and ``icdf`` come from the transforms."""

    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = REAL
    _expand = ("loc", "scale")
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        f = np.finfo(self.loc.dtype)
        if isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number):
            base = Uniform(float(f.tiny), 1 - float(f.eps), validate_args=validate_args)
        else:
            base = Uniform(full_like(self.loc, float(f.tiny)),
                           full_like(self.loc, 1 - float(f.eps)), validate_args=validate_args)
        transforms = [ExpTransform().inv, AffineTransform(0, -ones_like(self.scale)),
                      ExpTransform().inv, AffineTransform(loc, -self.scale)]
        super().__init__(base, transforms, validate_args)

    def log_prob(self, value):
        """y - e^y - log scale, y = (loc - value) / scale."""
        if self._validate_args:
            self._validate_sample(value)
        y = (self.loc - value) / self.scale
        return (y - y.exp()) - self.scale.log()

    @property
    def mean(self):
        return self.loc + self.scale * _EULER

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return (math.pi / math.sqrt(6)) * self.scale

    @property
    def variance(self):
        return self.stddev.pow(2)

    def entropy(self):
        """log scale + 1 + Euler's constant."""
        return self.scale.log() + (1 + _EULER)
