"""``OneHotCategorical(probs=None, logits=None)``: Categorical with one-hot vectors as values."""
from __future__ import annotations

from .. import eye
from ..nn.functional import one_hot
from . import constraints
from .categorical import Categorical, _one_param
from .distribution import Distribution, _Check

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]

_ONE_HOT = _Check("OneHot() (0s and a single 1 on the last dim)",
                  lambda a, d: ((a == 0) | (a == 1)).all(-1, keepdims=True)
                  & (a.sum(-1, keepdims=True) == 1), "give one-hot vectors, e.g. "
                  "zeroin.nn.functional.one_hot(index, K).double()")


class OneHotCategorical(Distribution):
    """A categorical choice among K (the last dim of ``probs`` or ``logits``) written as
    a one-hot vector of length K: event_shape is (K,), samples have the parameter's float
    dtype. The parameters and their checks are Categorical's."""

    has_enumerate_support = True
    _checks = Categorical._checks
    _support = _ONE_HOT
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot

    def __init__(self, probs=None, logits=None, validate_args=None):
        which, p = _one_param("OneHotCategorical", probs, logits, categories=True)
        self._categorical = Categorical(**{which: p}, validate_args=False)
        Distribution.__init__(self, p.shape[:-1], p.shape[-1:], validate_args)
        if self._validate_args:
            self._refuse(f"parameter {which}", self._categorical.__dict__[which],
                         self._checks[which])           # after normalising, as Categorical

    probs = property(lambda self: self._categorical.probs, doc="Categorical's probs.")
    logits = property(lambda self: self._categorical.logits, doc="Categorical's logits.")
    param_shape = property(lambda self: self._categorical.param_shape)
    mean = property(lambda self: self.probs, doc="``probs``.")

    @property
    def mode(self):
        return one_hot(self.probs.argmax(-1), self._event_shape[0]).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        return new

    def sample(self, sample_shape=()):
        """One-hot vectors of shape ``sample_shape + batch_shape + (K,)``."""
        index = self._categorical.sample(sample_shape)
        return one_hot(index, self._event_shape[0]).to(self.probs.dtype)

    def log_prob(self, value):
        """Categorical's log_prob of the index of the 1."""
        if self._validate_args:
            self._validate_sample(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        """The K one-hot vectors as a (K, 1, ..., 1, K) tensor (expanded to
        ``(K,) + batch_shape + (K,)``)."""
        k = self._event_shape[0]
        values = eye(k, dtype=self.probs.dtype).reshape((k,) + (1,) * len(self._batch_shape)
                                                       + (k,))
        return values.expand((k,) + tuple(self._batch_shape) + (k,)) if expand else values

    def __repr__(self):
        return f"{type(self).__name__}({self._categorical._given}: {self.param_shape})"


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """OneHotCategorical with a straight-through ``rsample`` (Bengio et al. 2013): the
    one-hot draw on the forward pass, the gradient of ``probs`` on the backward pass
    (``sample + probs - probs.detach()``)."""

    has_rsample = True

    def rsample(self, sample_shape=()):
        samples = self.sample(sample_shape)
        probs = self._categorical.probs
        return samples + (probs - probs.detach())
