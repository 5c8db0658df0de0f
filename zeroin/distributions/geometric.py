"""``Geometric(probs=None, logits=None)``: the number of failures before the first success."""
from __future__ import annotations

from .. import where, zeros_like
from .._creation import _DistributionError
from . import constraints
from .bernoulli import _bce_with_logits
from .categorical import _one_param
from .distribution import NONNEGATIVE_INTEGER, REAL, UNIT_INTERVAL, Distribution
from .utils import _BinaryParams, _draw

__all__ = ["Geometric"]


class Geometric(_BinaryParams, Distribution):
    """The number of failed Bernoulli(``probs``) trials before the first success (support
    0, 1, 2, ..., as PyTorch: not the count of trials). ``probs`` in (0, 1] or
    ``logits``; samples are whole numbers in the parameter's float dtype."""

    _checks = {"probs": UNIT_INTERVAL, "logits": REAL}
    _support = NONNEGATIVE_INTEGER
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        which, p = _one_param("Geometric", probs, logits, numbers_ok=True)
        self._given = which
        self._set_params(validate_args, **{which: p})
        if which == "probs" and self._validate_args and not (self.probs.data > 0).all():
            raise _DistributionError(
                f"Geometric: expected parameter probs (tensor of shape "
                f"{tuple(self.probs.shape)}) of {self!r} to be in (0, 1], but found "
                f"{self.probs.data[~(self.probs.data > 0)]}; with probs 0 success never "
                f"comes (or pass validate_args=False to skip the check)")

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().expand(tuple(shape))
        return _draw(lambda r, s: r.geometric(p.data, s) - 1, shape, p)

    def log_prob(self, value):
        """value log(1 - p) + log p (0 at value 0 when p is 1)."""
        if self._validate_args:
            self._validate_sample(value)
        p = self.probs
        q = where((p == 1) & (value == 0), 0.0, p)     # 0 * log(0) is 0 here
        return value * (-q).log1p() + p.log()

    def entropy(self):
        """BCE(logits, p) / p: the Bernoulli entropy per trial over the success rate."""
        return _bce_with_logits(self.logits, self.probs) / self.probs
