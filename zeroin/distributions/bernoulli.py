"""``Bernoulli(probs=None, logits=None)``: 1 with probability ``probs``, else 0."""
from __future__ import annotations

import numpy as np

from .. import Tensor, arange, bernoulli, logit, no_grad, softplus, where
from . import constraints
from .categorical import _one_param
from .distribution import BOOLEAN, REAL, UNIT_INTERVAL
from .exp_family import ExponentialFamily
from .utils import _BinaryParams, broadcast_all

__all__ = ["Bernoulli"]


def _bce_with_logits(logits, target):
    """Binary cross-entropy of ``target`` given ``logits``, per element, in the stable form
    softplus(logits) - logits * target (= max(x, 0) - x t + log(1 + e**-|x|))."""
    return softplus(logits) - logits * target


class Bernoulli(_BinaryParams, ExponentialFamily):
    """A coin: 1 with probability ``probs`` (in [0, 1]) or ``sigmoid(logits)``, else 0.
    Samples have the parameter's float dtype, as in PyTorch."""

    has_enumerate_support = True
    _mean_carrier_measure = 0
    _checks = {"probs": UNIT_INTERVAL, "logits": REAL}
    _support = BOOLEAN
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean

    def __init__(self, probs=None, logits=None, validate_args=None):
        which, p = _one_param("Bernoulli", probs, logits, numbers_ok=True)
        self._given = which
        self._set_params(validate_args, **{which: p})

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where probs > 1/2, 0 where below, NaN at exactly 1/2."""
        p = self.probs
        return where(p == 0.5, np.nan, (p > 0.5).to(p.dtype)).detach()

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        """0 / 1 draws in the parameter's dtype, of shape ``sample_shape + batch_shape``."""
        with no_grad():
            return bernoulli(self.probs.detach().expand(tuple(self._extended_shape(sample_shape))))

    def log_prob(self, value):
        """value log p + (1 - value) log(1 - p), computed from the logits (stable)."""
        if self._validate_args:
            self._validate_sample(value)
        logits = self.logits
        if isinstance(value, Tensor):       # 0/1 as ints or bools too (PyTorch refuses)
            value = value.to(logits.dtype)
        logits, value = broadcast_all(logits, value)
        return -_bce_with_logits(logits, value)

    def entropy(self):
        """-(p log p + (1 - p) log(1 - p))."""
        return _bce_with_logits(self.logits, self.probs)

    @property
    def _natural_params(self):
        return (logit(self.probs),)

    def _log_normalizer(self, x):
        return x.exp().log1p()

    def enumerate_support(self, expand=True):
        """0 and 1 as a (2, 1, ..., 1) tensor (expanded to ``(2,) + batch_shape``)."""
        dtype = self.__dict__[self._given].dtype
        values = arange(2, dtype=dtype).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values
