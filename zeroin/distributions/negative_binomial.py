"""``NegativeBinomial(total_count, probs=None, logits=None)``: successes before
``total_count`` failures (over-dispersed counts)."""
from __future__ import annotations

from .. import lgamma, logsigmoid, no_grad, sigmoid, where
from . import constraints
from .categorical import _one_param
from .distribution import NONNEGATIVE, NONNEGATIVE_INTEGER, REAL, Distribution, _Check
from .gamma import Gamma
from .utils import _BinaryParams, _draw, broadcast_all

__all__ = ["NegativeBinomial"]

_HALF_OPEN = _Check("HalfOpenInterval(lower_bound=0.0, upper_bound=1.0)",
                    lambda a, d: (a >= 0) & (a < 1),
                    "probs is the chance of a success, < 1 (with 1 failures never come)")


class NegativeBinomial(_BinaryParams, Distribution):
    """The number of successes, each with probability ``probs`` (in [0, 1)) or
    ``sigmoid(logits)``, before ``total_count`` (>= 0, need not be whole) failures.
    Samples are whole numbers in the parameter's dtype, drawn as Poisson(Gamma) (the
    gamma-Poisson mixture, as PyTorch); there is no rsample."""

    _checks = {"total_count": NONNEGATIVE, "probs": _HALF_OPEN, "logits": REAL}
    _support = NONNEGATIVE_INTEGER
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        which, p = _one_param("NegativeBinomial", probs, logits, numbers_ok=True)
        self._given = which
        total_count, p = broadcast_all(total_count, p)
        self.__dict__.update(total_count=total_count.to(p.dtype), **{which: p})
        Distribution.__init__(self, p.shape, validate_args=validate_args)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / sigmoid(-self.logits)

    @property
    def _gamma(self):
        return Gamma(self.total_count, (-self.logits).exp(), validate_args=False)

    def sample(self, sample_shape=()):
        with no_grad():
            rate = self._gamma.sample(sample_shape)
            return _draw(lambda r, s: r.poisson(rate.data, s), rate.shape, rate)

    def log_prob(self, value):
        """lgamma(n + k) - lgamma(k + 1) - lgamma(n) + n log(1 - p) + k log p (0 where
        n + k == 0)."""
        if self._validate_args:
            self._validate_sample(value)
        n = self.total_count
        log_unnormalized = n * logsigmoid(-self.logits) + value * logsigmoid(self.logits)
        log_normalization = -lgamma(n + value) + lgamma(1.0 + value) + lgamma(n)
        return log_unnormalized - where(n + value == 0.0, 0.0, log_normalization)
