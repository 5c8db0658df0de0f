"""``Poisson(rate)``: counts of events that occur at ``rate`` per interval."""
from __future__ import annotations

from .. import lgamma, xlogy
from . import constraints
from .distribution import NONNEGATIVE, NONNEGATIVE_INTEGER
from .exp_family import ExponentialFamily
from .utils import _draw

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """The Poisson distribution of counts 0, 1, 2, ... with mean ``rate`` >= 0. Samples
    are whole numbers in the rate's float dtype, as in PyTorch; there is no rsample and,
    as in PyTorch, no closed-form entropy."""

    _checks = {"rate": NONNEGATIVE}
    _support = NONNEGATIVE_INTEGER
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        self._set_params(validate_args, rate=rate)

    mean = variance = property(lambda self: self.rate, doc="``rate``.")

    @property
    def mode(self):
        return self.rate.floor()

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        rate = self.rate.detach().expand(tuple(shape))
        return _draw(lambda r, s: r.poisson(rate.data, s), shape, rate)

    def log_prob(self, value):
        """value log rate - rate - lgamma(value + 1)."""
        if self._validate_args:
            self._validate_sample(value)
        return xlogy(value, self.rate) - self.rate - lgamma(value + 1)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()
