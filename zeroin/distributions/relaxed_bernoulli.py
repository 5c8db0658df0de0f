"""``RelaxedBernoulli(temperature, probs=None, logits=None)``: the binary Concrete
(Gumbel-sigmoid) distribution, a differentiable stand-in for a coin flip."""
from __future__ import annotations

import numpy as np

from .. import Tensor, softplus, tensor
from . import constraints
from .categorical import _one_param
from .distribution import REAL, UNIT_INTERVAL, Distribution, _Check
from .utils import _BinaryParams, _uniform, clamp_probs

__all__ = ["RelaxedBernoulli"]

_OPEN_UNIT = _Check(UNIT_INTERVAL.rule, UNIT_INTERVAL.ok, "a relaxed coin lies in [0, 1]")


def _temperature(t, like):
    """The temperature as a tensor (a Python number takes the parameter's dtype)."""
    return t if isinstance(t, Tensor) else tensor(float(t), dtype=like.dtype)


class RelaxedBernoulli(_BinaryParams, Distribution):
    """Values in (0, 1) that approach 0/1 coin flips with P(1) = ``probs`` (or
    ``sigmoid(logits)``) as ``temperature`` goes to 0 (Maddison et al. 2017; Jang et al.
    2017). ``rsample`` is ``sigmoid((logits + log u - log(1 - u)) / temperature)``,
    differentiable wrt logits/probs and temperature. No mean, variance or entropy, as in
    PyTorch. The sigmoid is clamped to [tiny, 1 - eps] as PyTorch's SigmoidTransform."""

    has_rsample = True
    _checks = {"probs": UNIT_INTERVAL, "logits": REAL}
    _support = _OPEN_UNIT
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        which, p = _one_param("RelaxedBernoulli", probs, logits, numbers_ok=True)
        self._given = which
        self._set_params(validate_args, **{which: p})
        self.temperature = _temperature(temperature, self.__dict__[which])

    def _logit_rsample(self, sample_shape):
        """The draw before the sigmoid: PyTorch's LogitRelaxedBernoulli."""
        u = _uniform(self._extended_shape(sample_shape), self.logits)
        u = clamp_probs(u)
        return (u.log() - (-u).log1p() + self.logits) / self.temperature

    def rsample(self, sample_shape=()):
        y = self._logit_rsample(sample_shape).sigmoid()
        f = np.finfo(y.dtype)
        return y.clamp(min=float(f.tiny), max=1.0 - float(f.eps))

    def log_prob(self, value):
        """The logistic density of logit(value) at this temperature, plus the log
        Jacobian of the logit."""
        if self._validate_args:
            self._validate_sample(value)
        f = np.finfo(value.dtype if value.dtype.kind == "f" else self.logits.dtype)
        y = value.clamp(min=float(f.tiny), max=1.0 - float(f.eps))
        x = y.log() - (-y).log1p()
        diff = self.logits - x * self.temperature
        base = self.temperature.log() + diff - 2 * diff.exp().log1p()
        return base + softplus(-x) + softplus(x)
