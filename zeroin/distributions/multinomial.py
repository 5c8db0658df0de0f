"""``Multinomial(total_count, probs=None, logits=None)``: counts of ``total_count`` draws
from K categories."""
from __future__ import annotations

import numbers

import numpy as np

from .. import lgamma, tensor, where
from .._creation import _DistributionError
from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution, _Check
from .utils import _draw, broadcast_all

__all__ = ["Multinomial"]

_COUNT_VECTORS = _Check(lambda d: f"Multinomial(upper_bound={d.total_count}) (counts >= 0 "
                        f"summing to at most total_count)",
                        lambda a, d: ((a >= 0).all(-1, keepdims=True)
                                      & (a.sum(-1, keepdims=True) <= d.total_count)),
                        "give count vectors of nonnegative numbers summing to total_count")


class Multinomial(Distribution):
    """The counts in each of K categories (the last dim of ``probs``, normalised, or of
    ``logits``) after ``total_count`` independent draws: ``event_shape`` is ``(K,)``.
    ``total_count`` is one Python int for the whole batch, as in PyTorch; ``log_prob``
    does not use it, so ``Multinomial(probs=p).log_prob(x)`` scores counts of any total.
    Samples are whole numbers in the parameter's float dtype."""

    arg_constraints = Categorical.arg_constraints
    _checks = {}                              # the Categorical inside checks probs/logits
    _support = _COUNT_VECTORS
    support = property(lambda self: constraints.multinomial(self.total_count),
                       doc="``multinomial(total_count)``.")

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if isinstance(total_count, bool) or not isinstance(total_count, numbers.Integral):
            raise NotImplementedError(
                f"Multinomial: total_count must be one Python int (inhomogeneous total_count "
                f"is not supported, as in PyTorch), got {total_count!r}; for per-element "
                f"counts use one Multinomial per count")
        if total_count < 0:
            raise _DistributionError(f"Multinomial: total_count must be >= 0, got "
                                     f"{total_count}")
        self.total_count = int(total_count)
        self._categorical = Categorical(probs=probs, logits=logits,
                                        validate_args=validate_args)
        super().__init__(self._categorical.batch_shape,
                         self._categorical.param_shape[-1:], validate_args)

    probs = property(lambda self: self._categorical.probs, doc="Normalised probabilities.")
    logits = property(lambda self: self._categorical.logits, doc="Normalised log-probs.")
    param_shape = property(lambda self: self._categorical.param_shape)

    @property
    def _binomial(self):
        return Binomial(self.total_count, probs=self.probs, validate_args=False)

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        new._categorical = self._categorical.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        """Count vectors of shape ``sample_shape + batch_shape + (K,)``, without gradient."""
        shape = self._extended_shape(sample_shape)
        p = self.probs.detach().numpy().astype(np.float64)
        p = np.broadcast_to(p, tuple(shape))
        return _draw(lambda rng, s: rng.multinomial(self.total_count, p, size=s[:-1]), shape,
                     self.probs)

    def log_prob(self, value):
        """log n! - sum log x_i! + sum x_i log p_i, with n the total of ``value``."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        logits = where((value == 0) & (logits == -np.inf), tensor(0.0, dtype=logits.dtype),
                       logits)
        return lgamma(value.sum(-1) + 1) - lgamma(value + 1).sum(-1) + (logits * value).sum(-1)

    def entropy(self):
        """n H(categorical) - log n! + sum_i E[log x_i!] (x_i ~ Binomial(n, p_i))."""
        n = self.total_count
        term1 = n * self._categorical.entropy() - float(lgamma(tensor(n + 1.0)))
        binomial = self._binomial
        support = binomial.enumerate_support(expand=False)[1:]
        weights = lgamma(support + 1)
        return term1 + (binomial.log_prob(support).exp() * weights).sum((0, -1))

    def __repr__(self):
        p = self._categorical._param
        return f"Multinomial(total_count: {self.total_count}, {self._categorical._given}: " \
               f"{p.size()})"
