"""``RelaxedOneHotCategorical(temperature, probs=None, logits=None)``: the Concrete
(Gumbel-softmax) distribution, a differentiable stand-in for a one-hot choice."""
from __future__ import annotations

import math

from . import constraints
from .categorical import Categorical, _one_param
from .dirichlet import _SIMPLEX_VALUES
from .distribution import Distribution, _Check
from .relaxed_bernoulli import _temperature
from .utils import _uniform, clamp_probs

__all__ = ["RelaxedOneHotCategorical"]

_RELAXED_SIMPLEX = _Check(_SIMPLEX_VALUES.rule, _SIMPLEX_VALUES.ok,
                          "give points of the simplex (probability vectors on the last dim)")


class RelaxedOneHotCategorical(Distribution):
    """Points of the simplex that approach one-hot vectors of a Categorical(``probs`` or
    ``logits``) as ``temperature`` goes to 0. ``rsample`` is the Gumbel-softmax
    ``softmax((logits + g) / temperature)`` with g standard Gumbel noise, differentiable
    wrt the logits and temperature. event_shape is (K,); no mean, variance or entropy, as
    in PyTorch."""

    has_rsample = True
    _checks = Categorical._checks
    _support = _RELAXED_SIMPLEX
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        which, p = _one_param("RelaxedOneHotCategorical", probs, logits, categories=True)
        self._categorical = Categorical(**{which: p}, validate_args=False)
        self.temperature = _temperature(temperature, p)
        Distribution.__init__(self, p.shape[:-1], p.shape[-1:], validate_args)
        if self._validate_args:
            self._refuse(f"parameter {which}", self._categorical.__dict__[which],
                         self._checks[which])

    probs = property(lambda self: self._categorical.probs, doc="Categorical's probs.")
    logits = property(lambda self: self._categorical.logits, doc="Categorical's logits.")

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        new._categorical = self._categorical.expand(batch_shape)
        return new

    def _log_rsample(self, sample_shape):
        """log of a draw: PyTorch's ExpRelaxedCategorical."""
        u = clamp_probs(_uniform(self._extended_shape(sample_shape), self.logits))
        scores = (self.logits - (-u.log()).log()) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def rsample(self, sample_shape=()):
        return self._log_rsample(sample_shape).exp()

    def log_prob(self, value):
        """The Concrete density (Maddison et al. 2017, eq. 6) of log(value), with the log
        Jacobian of the log."""
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        x = value.log()
        t = self.temperature
        log_scale = math.lgamma(k) + (k - 1) * t.log()
        score = self.logits - x * t
        score = (score - score.logsumexp(-1, keepdim=True)).sum(-1)
        return score + log_scale - x.sum(-1)

    def __repr__(self):
        return f"RelaxedOneHotCategorical({self._categorical._given}: " \
               f"{self._categorical.param_shape})"
