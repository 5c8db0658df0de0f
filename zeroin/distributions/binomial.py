"""``Binomial(total_count=1, probs=None, logits=None)``: successes in ``total_count`` trials."""
from __future__ import annotations

import numpy as np

from .. import arange, lgamma
from . import constraints
from .categorical import _one_param
from .distribution import NONNEGATIVE_INTEGER, REAL, UNIT_INTERVAL, Distribution, _Check
from .utils import _BinaryParams, _draw

__all__ = ["Binomial"]

_COUNTS = _Check(lambda d: "IntegerInterval(lower_bound=0, upper_bound=total_count)",
                 lambda a, d: (a % 1 == 0) & (a >= 0) & (a <= d.total_count.data),
                 "give whole numbers of successes from 0 to total_count")


def _clamp_by_zero(x):
    """max(x, 0) whose derivative at 0 is ½ (PyTorch's helper)."""
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


class Binomial(_BinaryParams, Distribution):
    """The number of successes in ``total_count`` independent trials (a whole number >= 0,
    broadcast with the parameter), each succeeding with ``probs`` or ``sigmoid(logits)``.
    Samples are whole numbers in the parameter's float dtype, as in PyTorch."""

    has_enumerate_support = True
    _checks = {"total_count": NONNEGATIVE_INTEGER, "probs": UNIT_INTERVAL, "logits": REAL}
    _support = _COUNTS
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    support = property(lambda self: constraints.integer_interval(0, self.total_count),
                       doc="``integer_interval(0, total_count)``.")

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        which, p = _one_param("Binomial", probs, logits, numbers_ok=True)
        self._given = which
        self._set_params(validate_args, total_count=total_count, **{which: p})

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        n = self.total_count.detach().expand(shape).data.astype(np.int64)
        p = self.probs.detach().expand(shape)
        return _draw(lambda r, s: r.binomial(n, p.data, s), shape, p)

    def log_prob(self, value):
        """log C(n, k) + k logits - n log(1 + e^logits), written to stay finite for
        large |logits|."""
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        normalize = n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p() \
            - lgamma(n + 1)
        return value * logits - lgamma(value + 1) - lgamma(n - value + 1) - normalize

    def entropy(self):
        """-sum p(k) log p(k) over k = 0 .. total_count (one total_count for the batch)."""
        values = self.enumerate_support(expand=False)
        lp = self.log_prob(values)
        return -(lp.exp() * lp).sum(0)

    def enumerate_support(self, expand=True):
        """0 .. total_count as a (total_count + 1, 1, ..., 1) tensor; needs one
        total_count for the whole batch, as PyTorch."""
        counts = np.unique(self.total_count.data)
        if counts.size != 1:
            raise NotImplementedError(f"Binomial.enumerate_support (and entropy) need the "
                                      f"same total_count for the whole batch, got "
                                      f"{counts}; split the batch by total_count")
        dtype = self.__dict__[self._given].dtype
        values = arange(int(counts[0]) + 1, dtype=dtype).reshape(
            (-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values
