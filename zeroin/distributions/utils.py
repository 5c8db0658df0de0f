"""Helpers shared by the distributions, under PyTorch's names (``torch.distributions.utils``)."""
from __future__ import annotations

import numbers
import sys

import numpy as np

from .. import Tensor, clamp, enable_grad, get_default_dtype, log, log1p, sigmoid, softmax, tensor
from ..errors import ShapeError
from ..random import get_rng, torch_stream_enabled

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs", "probs_to_logits"]


def broadcast_all(*values):
    """The tensors and Python numbers ``values`` as tensors of one broadcast shape.

    Numbers take the float dtype of the first float tensor among ``values`` (the default
    dtype when there is none), as in PyTorch; tensors keep their dtype. The expansion is
    recorded, so gradients reach the original tensors.
    """
    for v in values:
        if not isinstance(v, (Tensor, numbers.Number)):
            raise ValueError(f"broadcast_all: input arguments must all be Python numbers or "
                             f"tensors, got {type(v).__name__}; wrap it first, e.g. "
                             f"zeroin.tensor({v!r})")
    floats = [v.dtype for v in values if isinstance(v, Tensor) and v.dtype.kind == "f"]
    dtype = floats[0] if floats else get_default_dtype()
    ts = [v if isinstance(v, Tensor) else tensor(v, dtype=dtype) for v in values]
    try:
        shape = np.broadcast_shapes(*(t.shape for t in ts))
    except ValueError:
        raise ShapeError(f"broadcast_all: shapes {' and '.join(str(t.shape) for t in ts)} "
                         f"cannot be broadcast together (aligned from the right, each size "
                         f"must be equal or 1)") from None
    return tuple(t if t.shape == shape else t.expand(shape) for t in ts)


def _draw(how, shape, like):
    """``how(rng, shape)`` drawn from zeroin's generator (so ``zeroin.manual_seed`` repeats
    it), as a tensor without gradient in ``like``'s dtype. On the torch stream it is
    refused, naming the caller (``Gamma.rsample``), not this helper."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_name.startswith("_"):
        frame = frame.f_back                # past private helpers (_standard_gamma)
    owner = frame.f_locals.get("self")      # Chi2's rsample is Gamma's: say Chi2
    name = frame.f_code.co_name
    rng = get_rng(op=f"{type(owner).__name__}.{name}" if owner is not None else name)
    return tensor(np.asarray(how(rng, tuple(shape))).astype(like.dtype, copy=False))


def _uniform(shape, like, low=0.0, high=1.0):
    """Uniform [low, high) draws of ``shape`` in ``like``'s dtype: on the torch stream
    PyTorch's numbers, as its distributions draw them (``torch.rand(shape)``,
    ``new(shape).uniform_(low, high)``); else NumPy's, as :func:`_draw` draws."""
    if torch_stream_enabled():
        from .. import empty
        return empty(tuple(shape), dtype=like.dtype).uniform_(low, high)
    if (low, high) == (0.0, 1.0):
        return _draw(lambda r, s: r.random(s), shape, like)
    return _draw(lambda r, s: r.uniform(low, high, s), shape, like)


def _exponential(shape, like):
    """Standard exponential draws of ``shape`` in ``like``'s dtype: on the torch stream
    PyTorch's (``new(shape).exponential_()``); else NumPy's, as :func:`_draw` draws."""
    if torch_stream_enabled():
        from .. import empty
        return empty(tuple(shape), dtype=like.dtype).exponential_()
    return _draw(lambda r, s: r.standard_exponential(s), shape, like)


def _sum_rightmost(value, dim):
    """``value`` summed over its rightmost ``dim`` dims (PyTorch's helper of that name)."""
    return value.sum(tuple(range(-dim, 0))) if dim > 0 else value


def clamp_probs(probs):
    """``probs`` clamped to [eps, 1 - eps] (eps of its dtype), so that logs stay finite."""
    eps = float(np.finfo(probs.dtype).eps)
    return clamp(probs, min=eps, max=1 - eps)


def logits_to_probs(logits, is_binary=False):
    """Probabilities from logits: sigmoid for a binary variable, else softmax over the last
    dim."""
    return sigmoid(logits) if is_binary else softmax(logits, -1)


def probs_to_logits(probs, is_binary=False):
    """Logits from probabilities (clamped first, so 0 and 1 give large finite logits)."""
    ps = clamp_probs(probs)
    return log(ps) - log1p(-ps) if is_binary else log(ps)


class lazy_property:  # PyTorch's name
    """A property computed on first access (with grad enabled) and then kept on the
    instance: Categorical's ``probs`` when it was given ``logits``, and the reverse."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__
        self.name = fn.__name__

    def __get__(self, obj, cls=None):
        if obj is None:
            return self
        with enable_grad():
            value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


class _BinaryParams:
    """``probs`` and ``logits`` of one success probability (Bernoulli, Binomial, Geometric,
    RelaxedBernoulli): the one given is set on the instance, the other computed from it on
    first use."""

    @lazy_property
    def probs(self):
        """The probability of success (of 1)."""
        return logits_to_probs(self.logits, is_binary=True)

    @lazy_property
    def logits(self):
        """log(p / (1 - p)) (p clamped to [eps, 1 - eps])."""
        return probs_to_logits(self.probs, is_binary=True)

    @property
    def param_shape(self):
        return self.__dict__[self._given].size()
