"""``Dirichlet(concentration)``: random probability vectors (points on the simplex)."""
from __future__ import annotations

import numpy as np

from .. import Tensor, arange, digamma, lgamma, where, xlogy
from .._creation import _DistributionError
from . import constraints
from .distribution import _Check
from .exp_family import ExponentialFamily
from .gamma import _standard_gamma

__all__ = ["Dirichlet"]

# PyTorch's constraints: concentration independent(positive, 1); support simplex
_POSITIVE_ROWS = _Check("IndependentConstraint(GreaterThan(lower_bound=0.0), 1)",
                        lambda a, d: a > 0,
                        "make it positive, e.g. softplus(x) + 1e-5 or x.exp()")
_SIMPLEX_VALUES = _Check("Simplex() (each row >= 0, summing to 1)",
                         lambda a, d: (a >= 0).all(-1, keepdims=True)
                         & (np.abs(a.sum(-1, keepdims=True) - 1) < 1e-6),
                         "give probability vectors on the last dim")


class Dirichlet(ExponentialFamily):
    """The Dirichlet distribution over probability vectors of length K, K the last dim of
    ``concentration`` (all > 0); the leading dims are the batch. ``rsample`` normalises
    K gamma draws, differentiable through them (implicit reparameterisation)."""

    has_rsample = True
    _checks = {"concentration": _POSITIVE_ROWS}
    _support = _SIMPLEX_VALUES
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex

    def __init__(self, concentration, validate_args=None):
        if not isinstance(concentration, Tensor):
            raise TypeError(f"Dirichlet: `concentration` must be a tensor, got "
                            f"{type(concentration).__name__}; wrap it, e.g. "
                            f"zeroin.tensor({concentration!r})")
        if concentration.dim() < 1:
            raise _DistributionError(
                f"Dirichlet: `concentration` parameter must be at least one-dimensional (the "
                f"K categories on the last dim), got shape {tuple(concentration.shape)}")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:], validate_args)

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        """(c - 1)⁺ normalised; NaN where every c <= 1 and some c == 1. Where every c < 1
        the density is unbounded at every corner; PyTorch then gives the first corner
        (one-hot of category 0), and so does this."""
        c = self.concentration
        m = (c - 1).clamp(min=0)
        total = m.sum(-1, keepdim=True)
        m = m / where(total > 0, total, np.nan)  # NaN where all c <= 1 (as PyTorch)
        corner = (arange(c.shape[-1]) == 0).to(c.dtype)      # category 0's corner
        return where((c < 1).all(-1, keepdim=True), corner, m)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0 ** 2 * (c0 + 1))

    def rsample(self, sample_shape=()):
        g = _standard_gamma(self.concentration, self._extended_shape(sample_shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value):
        """sum (c - 1) log value + lgamma(sum c) - sum lgamma(c)."""
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return xlogy(c - 1.0, value).sum(-1) + lgamma(c.sum(-1)) - lgamma(c).sum(-1)

    def entropy(self):
        """log B(c) + (c0 - K) digamma(c0) - sum (c - 1) digamma(c), c0 = sum c."""
        c = self.concentration
        k, c0 = c.shape[-1], c.sum(-1)
        return lgamma(c).sum(-1) - lgamma(c0) - (k - c0) * digamma(c0) \
            - ((c - 1.0) * digamma(c)).sum(-1)

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return lgamma(x).sum(-1) - lgamma(x.sum(-1))
