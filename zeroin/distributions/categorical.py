"""``Categorical(probs=None, logits=None)``: one of K categories per batch element."""
from __future__ import annotations

import numbers

import numpy as np

from .. import Tensor, arange, full, int64, multinomial, no_grad
from .._creation import _DistributionError
from . import constraints
from .distribution import REAL, Distribution, _Check
from .utils import lazy_property, logits_to_probs, probs_to_logits

__all__ = ["Categorical"]

# PyTorch's constraints: probs on the simplex (after normalising), logits not NaN
_SIMPLEX = _Check("Simplex() (each row >= 0, summing to 1)",
                  lambda a, d: ((a >= 0).all(-1, keepdims=True)
                                & (np.abs(a.sum(-1, keepdims=True) - 1) < 1e-6)),
                  "probabilities must be >= 0 with a positive sum (pass scores as logits=)")
_INTEGERS = _Check(lambda d: f"IntegerInterval(lower_bound=0, upper_bound={d._num_events - 1})",
                   lambda a, d: (a % 1 == 0) & (a >= 0) & (a <= d._num_events - 1),
                   "give category indices 0 .. K - 1")


def _one_param(name, probs, logits, numbers_ok=False, categories=False):
    """The one parameter given, probs or logits: ``(name, value)``; a tensor (or, with
    ``numbers_ok``, a Python number); with ``categories``, at least 1-D (the categories on
    the last dim)."""
    if (probs is None) == (logits is None):
        raise _DistributionError(f"{name}: either `probs` or `logits` must be specified, but "
                                 f"not both (got {'both' if probs is not None else 'neither'})")
    which, p = ("probs", probs) if probs is not None else ("logits", logits)
    if not (isinstance(p, Tensor) or numbers_ok and isinstance(p, numbers.Number)):
        raise TypeError(f"{name}: `{which}` must be a tensor, got {type(p).__name__}; wrap "
                        f"it, e.g. zeroin.tensor({p!r})")
    if categories and p.dim() < 1:
        raise _DistributionError(f"{name}: `{which}` parameter must be at least "
                                 f"one-dimensional (the categories on the last dim), got "
                                 f"shape {tuple(p.shape)}")
    return which, p


class Categorical(Distribution):
    """A categorical distribution over ``0 .. K-1``, K the size of the last dim of
    ``probs`` (nonnegative weights, normalised to sum to 1) or ``logits`` (unnormalised
    log-probabilities, normalised to ``logits - logsumexp(logits)``); the leading dims are
    the batch.

    REINFORCE, with a policy that scores 3 actions for each of 5 states:

    >>> import zeroin
    >>> policy, state, reward = zeroin.nn.Linear(4, 3), zeroin.randn(5, 4), zeroin.randn(5)
    >>> d = Categorical(logits=policy(state))
    >>> a = d.sample()                           # int64 indices
    >>> a.shape, a.dtype
    (zeroin.Size([5]), dtype('int64'))
    >>> loss = -(d.log_prob(a) * reward).mean()
    >>> loss.backward()                          # the gradient reaches the policy
    >>> policy.weight.grad.shape
    zeroin.Size([3, 4])
    """

    has_enumerate_support = True
    _checks = {"probs": _SIMPLEX, "logits": REAL}
    _support = _INTEGERS
    arg_constraints = {"probs": constraints.simplex,
                       "logits": constraints.independent(constraints.real, 1)}
    support = property(lambda self: constraints.integer_interval(0, self._num_events - 1),
                       doc="``integer_interval(0, number of categories - 1)``.")

    def __init__(self, probs=None, logits=None, validate_args=None):
        which, p = _one_param("Categorical", probs, logits, categories=True)
        if which == "probs":
            self.probs = p / p.sum(-1, keepdim=True)
        else:
            self.logits = p - p.logsumexp(-1, keepdim=True)
        self._given = which
        self._num_events = p.shape[-1]
        super().__init__(p.shape[:-1], validate_args=validate_args)

    @lazy_property
    def probs(self):
        """The probabilities, summing to 1 over the last dim."""
        return logits_to_probs(self.logits)

    @lazy_property
    def logits(self):
        """The normalised log-probabilities (log of probs clamped to [eps, 1 - eps])."""
        return probs_to_logits(self.probs)

    @property
    def _param(self):
        return self.__dict__[self._given]

    @property
    def param_shape(self):
        """The shape of probs / logits: ``batch_shape + (K,)``."""
        return self._param.size()

    @property
    def mean(self):
        return full(self._extended_shape(), np.nan, dtype=self._param.dtype)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    @property
    def variance(self):
        return full(self._extended_shape(), np.nan, dtype=self._param.dtype)

    def sample(self, sample_shape=()):
        """int64 category indices of shape ``sample_shape + batch_shape``."""
        shape = self._extended_shape(sample_shape)
        n = int(np.prod(shape[:len(shape) - len(self._batch_shape)]))
        with no_grad():
            rows = self.probs.detach().reshape(-1, self._num_events)
            if n == 0 or rows.shape[0] == 0:
                return full(tuple(shape), 0, dtype=int64)
            drawn = multinomial(rows, n, True)              # (rows, n)
        return drawn.t().reshape(tuple(shape))

    def log_prob(self, value):
        """log probs[value] (gathered from the logits, so gradients reach them)."""
        if self._validate_args:
            self._validate_sample(value)
        value = value.long().unsqueeze(-1)
        shape = np.broadcast_shapes(value.shape, self.logits.shape)
        index = value.expand(shape[:-1] + (1,))
        return self.logits.expand(shape).gather(-1, index).squeeze(-1)

    def entropy(self):
        """-sum(probs * logits) over the categories (logits clamped so 0 * -inf is 0)."""
        logits = self.logits.clamp(min=float(np.finfo(self.logits.dtype).min))
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        """The categories ``0 .. K-1`` as a (K, 1, ..., 1) tensor (expanded to
        ``(K,) + batch_shape`` with ``expand``)."""
        values = arange(self._num_events).reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values
