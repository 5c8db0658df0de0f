"""``LKJCholesky(dim, concentration=1.0)``: the LKJ prior over correlation matrices, on
their lower Cholesky factors (Lewandowski, Kurowicka and Joe 2009)."""
from __future__ import annotations

import math

import numpy as np

from .. import arange, cat, diag_embed, mvlgamma, no_grad, randn, where
from .._creation import _DistributionError
from . import constraints
from .beta import Beta
from .distribution import POSITIVE, Distribution
from .transformed_distribution import _constraint_check
from .utils import broadcast_all

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """Lower Cholesky factors L of ``dim`` x ``dim`` correlation matrices L L^T with
    density proportional to det(L L^T)^(``concentration`` - 1) (> 0; 1 is uniform over
    correlation matrices, larger values favour the identity). ``sample`` is the onion
    method, vectorised as PyTorch's but with Lewandowski et al.'s Beta(k / 2, .) for row k
    (PyTorch 2.13 uses Beta(k / 2 + 1/2, .) from the third row on, which makes those
    correlations too spread out); there is no rsample, as in PyTorch."""

    _checks = {"concentration": POSITIVE}
    _support = _constraint_check(constraints.corr_cholesky)
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise _DistributionError(f"LKJCholesky: expected dim to be an integer greater "
                                     f"than or equal to 2, found dim={dim}")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        Distribution.__init__(self, self.concentration.shape, (dim, dim), validate_args)

    @property
    def _beta(self):
        """The Beta laws of the squared norms of the rows' off-diagonal parts (the onion
        method's y): row k >= 1 has Beta(k / 2, c + (dim - 2) / 2 - (k - 1) / 2), as in
        Lewandowski et al. (row 0, which has none, gets row 1's law and is zeroed)."""
        c = self.concentration
        k = arange(self.dim - 1, dtype=c.dtype)                 # 0 .. dim - 2
        k = cat([k.new_zeros((1,)), k])                          # rows' k - 1, row 0 as 1
        marginal = c + 0.5 * (self.dim - 2)
        return Beta(0.5 * k + 0.5, marginal.unsqueeze(-1) - 0.5 * k, validate_args=False)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)       # expands concentration
        new.dim = self.dim
        return new

    def sample(self, sample_shape=()):
        """Row i: sqrt(y_i) times a uniform direction in its first i entries, and the
        diagonal entry that makes its length 1."""
        with no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u = randn(self._extended_shape(sample_shape), dtype=y.dtype).tril(-1)
            norm = u.norm(dim=-1, keepdim=True)
            u = where(norm > 0, u / where(norm > 0, norm, 1.0), 0.0)     # row 0 is all 0
            w = y.sqrt() * u
            tiny = float(np.finfo(w.dtype).tiny)
            return w + diag_embed((1 - (w ** 2).sum(-1)).clamp(min=tiny).sqrt())

    def log_prob(self, value):
        """sum_i (2 (c - 1) + dim - i) log L_ii (i = 2 .. dim) minus the log normaliser."""
        if self._validate_args:
            self._validate_sample(value)
        diag = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim \
            - arange(2, self.dim + 1, dtype=self.concentration.dtype)
        unnormalized = (order * diag.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalize = 0.5 * dm1 * math.log(math.pi) + mvlgamma(alpha - 0.5, dm1) \
            - alpha.lgamma() * dm1
        return unnormalized - normalize

    def __repr__(self):
        c = self.concentration
        return f"LKJCholesky(concentration: {c.item() if c.numel() == 1 else c.size()})"
