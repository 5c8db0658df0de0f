"""``HalfNormal(scale)`` and ``HalfCauchy(scale)``: |X| for a centred Normal or Cauchy X."""
from __future__ import annotations

import math

from .. import Tensor, full, where, zeros_like
from . import constraints
from .cauchy import Cauchy
from .distribution import NONNEGATIVE, POSITIVE
from .normal import Normal
from .transformed_distribution import _TransformedFamily
from .transforms import AbsTransform

__all__ = ["HalfCauchy", "HalfNormal"]


class _Half(_TransformedFamily):
    """|X| for X from ``base(0, scale)``: density twice the base's on x >= 0."""

    has_rsample = True
    _checks = {"scale": POSITIVE}
    _support = NONNEGATIVE
    arg_constraints = {"scale": constraints.positive}
    support = constraints.nonnegative

    def __init__(self, base, scale, validate_args=None):
        super().__init__(base(0, scale, validate_args=False), AbsTransform(), validate_args)

    scale = property(lambda self: self.base_dist.scale, doc="The base's scale.")

    @property
    def mode(self):
        return zeros_like(self.scale)

    def log_prob(self, value):
        """The base's log density + log 2 on value >= 0, -inf below."""
        if self._validate_args:
            self._validate_sample(value)
        if not isinstance(value, Tensor):
            value = self.scale.new_tensor(value)
        return where(value >= 0, self.base_dist.log_prob(value) + math.log(2), -math.inf)

    def cdf(self, value):
        """2 F(value) - 1, F the base's cdf."""
        if self._validate_args:
            self._validate_sample(value)
        return 2 * self.base_dist.cdf(value) - 1

    def icdf(self, prob):
        """The base's quantile at (prob + 1) / 2."""
        return self.base_dist.icdf((prob + 1) / 2)

    def entropy(self):
        """The base's entropy - log 2."""
        return self.base_dist.entropy() - math.log(2)


class HalfNormal(_Half):
    """|X| for X ~ Normal(0, ``scale``), ``scale`` > 0 (mean scale sqrt(2 / pi))."""

    def __init__(self, scale, validate_args=None):
        super().__init__(Normal, scale, validate_args)

    @property
    def mean(self):
        return self.scale * math.sqrt(2 / math.pi)

    @property
    def variance(self):
        return self.scale.pow(2) * (1 - 2 / math.pi)


class HalfCauchy(_Half):
    """|X| for X ~ Cauchy(0, ``scale``), ``scale`` > 0: its mean is inf and its variance
    Cauchy's (inf), as in PyTorch."""

    def __init__(self, scale, validate_args=None):
        super().__init__(Cauchy, scale, validate_args)

    @property
    def mean(self):
        return full(tuple(self._extended_shape()), math.inf, dtype=self.scale.dtype)

    @property
    def variance(self):
        return self.base_dist.variance
