"""``Laplace(loc, scale)``: the double exponential, density e^(-|x - loc| / scale) / (2 scale)."""
from __future__ import annotations

import math

import numpy as np

from . import constraints
from .distribution import POSITIVE, REAL, Distribution
from .utils import _uniform

__all__ = ["Laplace"]


class Laplace(Distribution):
    """The Laplace distribution with median ``loc`` and scale ``scale`` > 0 (the noise model
    behind an L1 loss). ``rsample`` is ``loc - scale * sign(u) * log(1 - |u|)`` with
    ``u ~ Uniform(-1, 1)``, differentiable wrt both parameters."""

    has_rsample = True
    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = REAL
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        self._set_params(validate_args, loc=loc, scale=scale)

    mean = mode = property(lambda self: self.loc, doc="``loc``.")

    @property
    def stddev(self):
        return math.sqrt(2) * self.scale

    @property
    def variance(self):
        return 2 * self.scale ** 2

    def rsample(self, sample_shape=()):
        eps = np.finfo(self.loc.dtype).eps          # u in (-1, 1): log1p(-|u|) stays finite
        u = _uniform(self._extended_shape(sample_shape), self.loc, float(eps - 1), 1.0)
        return self.loc - self.scale * u.sign() * (-u.abs()).log1p()

    def log_prob(self, value):
        """-log(2 scale) - |value - loc| / scale."""
        if self._validate_args:
            self._validate_sample(value)
        return -(2 * self.scale).log() - (value - self.loc).abs() / self.scale

    def cdf(self, value):
        """½ - ½ sign(value - loc) (e^(-|value - loc| / scale) - 1)."""
        if self._validate_args:
            self._validate_sample(value)
        d = value - self.loc
        return 0.5 - 0.5 * d.sign() * (-d.abs() / self.scale).expm1()

    def icdf(self, value):
        """loc - scale sign(value - ½) log(1 - 2 |value - ½|)."""
        t = value - 0.5
        return self.loc - self.scale * t.sign() * (-2 * t.abs()).log1p()

    def entropy(self):
        """1 + log(2 scale)."""
        return 1 + (2 * self.scale).log()
