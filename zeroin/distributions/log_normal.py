"""``LogNormal(loc, scale)``: exp of a Normal(loc, scale) variable."""
from __future__ import annotations

from . import constraints
from .distribution import POSITIVE, REAL, Distribution, _Check
from .normal import Normal

__all__ = ["LogNormal"]

_POSITIVE_VALUES = _Check("GreaterThan(lower_bound=0.0)", lambda a, d: a > 0,
                          "a log-normal variable is > 0")


class LogNormal(Distribution):
    """X = exp(Y) with Y ~ Normal(``loc``, ``scale``): ``loc`` and ``scale`` are the mean
    and standard deviation of log X, not of X (as in PyTorch). ``rsample`` is
    ``exp(base_dist.rsample())``."""

    has_rsample = True
    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = _POSITIVE_VALUES
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive

    def __init__(self, loc, scale, validate_args=None):
        self._set_params(validate_args, loc=loc, scale=scale)

    @property
    def base_dist(self):
        """The Normal(loc, scale) of log X."""
        return Normal(self.loc, self.scale, validate_args=False)

    @property
    def mean(self):
        return (self.loc + self.scale ** 2 / 2).exp()

    @property
    def mode(self):
        return (self.loc - self.scale ** 2).exp()

    @property
    def variance(self):
        s2 = self.scale ** 2
        return s2.expm1() * (2 * self.loc + s2).exp()

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape).exp()

    def log_prob(self, value):
        """Normal's log density of log(value), minus log(value) (the Jacobian)."""
        if self._validate_args:
            self._validate_sample(value)
        y = value.log()
        return self.base_dist.log_prob(y) - y

    def cdf(self, value):
        """Normal's cdf at log(value)."""
        if self._validate_args:
            self._validate_sample(value)
        return self.base_dist.cdf(value.log())

    def icdf(self, value):
        """exp of Normal's quantile."""
        return self.base_dist.icdf(value).exp()

    def entropy(self):
        """Normal's entropy + loc."""
        return self.base_dist.entropy() + self.loc
