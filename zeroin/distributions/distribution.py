"""``Distribution``: the base class, with PyTorch's shapes, sampling and argument checks.

Shapes follow PyTorch: a sample has shape ``sample_shape + batch_shape + event_shape``;
``batch_shape`` is the broadcast shape of the parameters (independent distributions side
by side) and ``event_shape`` the shape of one draw (``()`` for scalar families, ``(k,)``
for vector ones such as MultivariateNormal, Dirichlet and OneHotCategorical).

Validation is on by default, as in PyTorch (``__debug__``): invalid parameters raise
ValueError at construction and ``log_prob`` of a value outside the support raises
ValueError. ``validate_args=False`` (or ``Distribution.set_default_validate_args(False)``)
skips the checks, e.g. in a hot loop whose inputs are known to be valid.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import Tensor, no_grad
from .._creation import _DistributionError
from .._tensor_api import Size
from .utils import broadcast_all

__all__ = ["Distribution"]


class _Check:
    """One argument check: ``ok(array, dist)`` is a bool array; ``rule`` (a string, or a
    function of the distribution) names it as PyTorch's constraint would, and ``fix`` says
    what to pass instead."""

    def __init__(self, rule, ok, fix=""):
        self.rule, self.ok, self.fix = rule, ok, fix


REAL = _Check("Real() (not NaN)", lambda a, d: ~np.isnan(a))
POSITIVE = _Check("GreaterThan(lower_bound=0.0)", lambda a, d: a > 0,
                  "make it positive, e.g. softplus(x) + 1e-5 or x.exp()")
UNIT_INTERVAL = _Check("Interval(lower_bound=0.0, upper_bound=1.0)",
                       lambda a, d: (a >= 0) & (a <= 1), "apply sigmoid to scores first, or "
                       "pass them as logits=")
NONNEGATIVE = _Check("GreaterThanEq(lower_bound=0.0)", lambda a, d: a >= 0,
                     "give values >= 0")
NONNEGATIVE_INTEGER = _Check("IntegerGreaterThan(lower_bound=0)",
                             lambda a, d: (a >= 0) & (a % 1 == 0), "give whole numbers >= 0")
BOOLEAN = _Check("Boolean() (0 or 1)", lambda a, d: (a == 0) | (a == 1))


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _sample_shape(op, sample_shape):
    if isinstance(sample_shape, numbers.Integral) or not hasattr(sample_shape, "__iter__"):
        raise TypeError(f"{op}: sample_shape must be a tuple of sizes, as in PyTorch, got "
                        f"{sample_shape!r}; write {op}(({sample_shape!r},))")
    return Size(sample_shape)


def _missing(name, doc):
    """A method a subclass defines; here it raises NotImplementedError naming the class."""
    def method(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.{name} is not implemented")
    method.__name__, method.__doc__ = name, doc
    return method


class Distribution:
    """Base class: subclasses set the parameters, then call ``__init__(batch_shape, ...)``
    and define ``rsample`` or ``sample``, ``log_prob``, ``entropy`` and friends.

    ``_checks`` maps each parameter name to its :class:`_Check` (applied to the ones the
    instance holds); ``_support`` checks values passed to ``log_prob``.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__
    _checks = {}
    _support = REAL
    arg_constraints = {}   # name -> constraints object, as PyTorch (validation uses _checks)

    @property
    def support(self):
        """The constraint (a ``constraints`` object) that the values satisfy."""
        raise NotImplementedError(f"{type(self).__name__} has no support")

    @staticmethod
    def set_default_validate_args(value):
        """Turn validation on (``True``, the default) or off for every distribution made
        afterwards without ``validate_args=``."""
        if value not in (True, False):
            raise ValueError(f"Distribution.set_default_validate_args: expected True or "
                             f"False, got {value!r}")
        Distribution._validate_args = bool(value)

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for name, check in self._checks.items():
                if name in self.__dict__:      # Categorical holds probs or logits
                    self._refuse(f"parameter {name}", self.__dict__[name], check)

    def _set_params(self, validate_args, **params):
        """Broadcast the parameters (tensors or numbers) together, keep them as attributes,
        and initialise with their shape as batch_shape (``()`` when all are numbers)."""
        values = broadcast_all(*params.values())
        self.__dict__.update(zip(params, values))
        scalar = all(isinstance(v, numbers.Number) for v in params.values())
        Distribution.__init__(self, () if scalar else values[0].shape,
                              validate_args=validate_args)

    def _refuse(self, what, value, check):
        """Raise ValueError naming ``what`` and its invalid values, unless all pass."""
        a = _array(value)
        ok = np.asarray(check.ok(a, self))
        if ok.all():
            return
        shape = tuple(a.shape)
        a = np.broadcast_to(a, np.broadcast_shapes(a.shape, ok.shape))
        bad = a[~np.broadcast_to(ok, a.shape)] if a.shape else a
        fix = f"; {check.fix}" if check.fix else ""
        rule = check.rule(self) if callable(check.rule) else check.rule
        raise _DistributionError(
            f"{type(self).__name__}: expected {what} (tensor of shape {shape}) of "
            f"{self!r} to satisfy {rule}, but found invalid values {bad}{fix} (or "
            f"pass validate_args=False to skip the check)")

    # --- shapes --------------------------------------------------------------------------

    @property
    def batch_shape(self):
        """The shape over which the parameters are batched (independent distributions)."""
        return self._batch_shape

    @property
    def event_shape(self):
        """The shape of one draw: ``()`` for scalar families, ``(k,)`` for vectors."""
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return Size(tuple(_sample_shape("sample", sample_shape)) + self._batch_shape
                    + self._event_shape)

    def expand(self, batch_shape, _instance=None):
        """A view of this distribution with a larger ``batch_shape`` (parameters expanded,
        not copied; gradients still reach them)."""
        batch_shape = Size(batch_shape)
        new = _instance if _instance is not None else type(self).__new__(type(self))
        new.__dict__.update(self.__dict__)
        for name in self._checks:
            if name in self.__dict__:
                p = self.__dict__[name]
                trailing = tuple(p.shape[len(self._batch_shape):])
                new.__dict__[name] = p.expand(tuple(batch_shape) + trailing)
        new._batch_shape = batch_shape
        return new

    # --- sampling ------------------------------------------------------------------------

    def sample(self, sample_shape=()):
        """Draws of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=()):
        """Reparameterised draws, differentiable wrt the parameters."""
        raise NotImplementedError(f"{type(self).__name__} has no rsample (has_rsample is "
                                  f"False): use sample() with the score-function "
                                  f"(REINFORCE) estimator, log_prob(sample) * reward")

    def sample_n(self, n):
        """``sample((n,))`` (PyTorch's deprecated spelling)."""
        return self.sample((n,))

    # --- what subclasses define ----------------------------------------------------------

    log_prob = _missing("log_prob", "The log of the density (or mass) at ``value``.")
    cdf = _missing("cdf", "P(X <= value).")
    icdf = _missing("icdf", "The inverse of cdf: the quantile at probability ``value``.")
    entropy = _missing("entropy", "The entropy, per batch element.")
    enumerate_support = _missing("enumerate_support", "The values a discrete distribution "
                                 "takes.")
    mean = property(_missing("mean", "The mean."))
    mode = property(_missing("mode", "The most likely value."))
    variance = property(_missing("variance", "The variance."))

    @property
    def stddev(self):
        """The standard deviation, ``variance.sqrt()``."""
        return self.variance.sqrt()

    def perplexity(self):
        """``exp(entropy())``."""
        return self.entropy().exp()

    # --- value checks --------------------------------------------------------------------

    def _validate_sample(self, value):
        """Refuse a value that is not a tensor, does not broadcast with ``batch_shape +
        event_shape``, or lies outside the support."""
        if not isinstance(value, Tensor):
            raise _DistributionError(f"{type(self).__name__}: the value argument to log_prob "
                                     f"must be a tensor, got {type(value).__name__}; wrap "
                                     f"it, e.g. zeroin.tensor({value!r})")
        expected = tuple(self._batch_shape + self._event_shape)
        for i, j in zip(reversed(value.shape), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise _DistributionError(
                    f"{type(self).__name__}: value is not broadcastable with batch_shape+"
                    f"event_shape: {tuple(value.shape)} vs {expected}; give values of shape "
                    f"sample_shape + {expected}")
        self._refuse("value argument", value, self._support)

    def __repr__(self):
        held = [(n, self.__dict__[n]) for n in self._checks if n in self.__dict__]
        args = ", ".join(f"{n}: {p.item() if p.numel() == 1 else p.size()}" for n, p in held)
        return f"{type(self).__name__}({args})"
