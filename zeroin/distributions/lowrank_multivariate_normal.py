"""``LowRankMultivariateNormal(loc, cov_factor, cov_diag)``: a Gaussian whose covariance is
W W^T + diag(D), with W of a small rank m (factor analysis, low-rank posteriors)."""
from __future__ import annotations

import math

import numpy as np

from .. import Tensor, diag_embed, eye, linalg, randn
from .._creation import _DistributionError
from . import constraints
from .distribution import POSITIVE, REAL, Distribution, _Check
from .multivariate_normal import _batch_mahalanobis
from .utils import lazy_property

__all__ = ["LowRankMultivariateNormal"]

_VECTOR = _Check("IndependentConstraint(Real(), 1) (not NaN)", REAL.ok)
_MATRIX = _Check("IndependentConstraint(Real(), 2) (not NaN)", REAL.ok)
_POSITIVE_VECTOR = _Check("IndependentConstraint(GreaterThan(lower_bound=0.0), 1)",
                          POSITIVE.ok, POSITIVE.fix)


def _capacitance_tril(W, D):
    """Cholesky factor of the capacitance I + W^T D^-1 W (m x m)."""
    m = W.shape[-1]
    return linalg.cholesky((W.mT / D.unsqueeze(-2)) @ W + eye(m, dtype=W.dtype))


def _lowrank_logdet(D, capacitance_tril):
    """log |W W^T + D| = log |C| + log |D| (the matrix determinant lemma)."""
    return 2 * capacitance_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) + D.log().sum(-1)


def _lowrank_mahalanobis(W, D, x, capacitance_tril):
    """x^T (W W^T + D)^-1 x by the Woodbury identity (solves only with C)."""
    wt_dinv_x = ((W.mT / D.unsqueeze(-2)) @ x.unsqueeze(-1)).squeeze(-1)
    return (x ** 2 / D).sum(-1) - _batch_mahalanobis(capacitance_tril, wt_dinv_x)


class LowRankMultivariateNormal(Distribution):
    """The Gaussian over vectors of length k with mean ``loc`` (..., k) and covariance
    ``cov_factor @ cov_factor.mT + diag(cov_diag)``, ``cov_factor`` (..., k, m) and
    ``cov_diag`` (..., k) > 0. log_prob and entropy cost O(k m²) (Woodbury and the
    determinant lemma, with the m x m capacitance matrix); ``rsample`` is ``loc + W
    eps_m + sqrt(D) eps_k``."""

    has_rsample = True
    _checks = {"loc": _VECTOR, "cov_factor": _MATRIX, "cov_diag": _POSITIVE_VECTOR}
    _support = _VECTOR
    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        for what, t in (("loc", loc), ("cov_factor", cov_factor), ("cov_diag", cov_diag)):
            if not isinstance(t, Tensor):
                raise TypeError(f"LowRankMultivariateNormal: `{what}` must be a tensor, got "
                                f"{type(t).__name__}; wrap it, e.g. zeroin.tensor({t!r})")
        if loc.dim() < 1:
            raise _DistributionError("LowRankMultivariateNormal: loc must be at least "
                                     "one-dimensional (..., k)")
        k = loc.shape[-1]
        if cov_factor.dim() < 2:
            raise _DistributionError("LowRankMultivariateNormal: cov_factor must be at least "
                                     "two-dimensional, with optional leading batch dimensions")
        if cov_factor.shape[-2] != k:
            raise _DistributionError(f"LowRankMultivariateNormal: cov_factor must be a batch "
                                     f"of matrices with shape {k} x m (k from loc), got "
                                     f"{tuple(cov_factor.shape)}")
        if cov_diag.dim() < 1 or cov_diag.shape[-1] != k:
            raise _DistributionError(f"LowRankMultivariateNormal: cov_diag must be a batch "
                                     f"of vectors with shape ({k},), got "
                                     f"{tuple(cov_diag.shape)}")
        try:
            shape = np.broadcast_shapes(loc.shape + (1,), cov_factor.shape,
                                        cov_diag.shape + (1,))
        except ValueError:
            raise _DistributionError(
                f"LowRankMultivariateNormal: incompatible batch shapes: loc "
                f"{tuple(loc.shape)}, cov_factor {tuple(cov_factor.shape)}, cov_diag "
                f"{tuple(cov_diag.shape)}") from None
        self.loc, self.cov_diag = loc.expand(shape[:-1]), cov_diag.expand(shape[:-1])
        self.cov_factor = cov_factor.expand(shape)
        self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag = cov_factor, cov_diag
        super().__init__(shape[:-2], (k,), validate_args)   # checks before the Cholesky
        self._capacitance_tril = _capacitance_tril(cov_factor, cov_diag)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)     # loc, cov_factor, cov_diag
        new.__dict__.pop("variance", None)
        for name in ("scale_tril", "covariance_matrix", "precision_matrix"):
            new.__dict__.pop(name, None)
        return new

    mean = mode = property(lambda self: self.loc, doc="``loc``.")

    def _full(self, m):
        return m.expand(tuple(self._batch_shape + self._event_shape + self._event_shape))

    @lazy_property
    def variance(self):
        """The diagonal of the covariance: sum_j W_ij² + D_i."""
        return ((self._unbroadcasted_cov_factor ** 2).sum(-1)
                + self._unbroadcasted_cov_diag).expand(tuple(self._batch_shape
                                                             + self._event_shape))

    @lazy_property
    def scale_tril(self):
        """sqrt(D) chol(I + D^-1/2 W W^T D^-1/2): the Cholesky factor of the covariance."""
        k = self._event_shape[0]
        d_sqrt = self._unbroadcasted_cov_diag.sqrt().unsqueeze(-1)
        a = self._unbroadcasted_cov_factor / d_sqrt
        return self._full(d_sqrt * linalg.cholesky(a @ a.mT + eye(k, dtype=a.dtype)))

    @lazy_property
    def covariance_matrix(self):
        """W W^T + diag(D)."""
        W = self._unbroadcasted_cov_factor
        return self._full(W @ W.mT + diag_embed(self._unbroadcasted_cov_diag))

    @lazy_property
    def precision_matrix(self):
        """D^-1 - D^-1 W C^-1 W^T D^-1 (Woodbury)."""
        wt_dinv = self._unbroadcasted_cov_factor.mT / self._unbroadcasted_cov_diag.unsqueeze(-2)
        L = self._capacitance_tril
        a = linalg.solve(L.tril().expand(tuple(np.broadcast_shapes(
            L.shape[:-2], wt_dinv.shape[:-2])) + tuple(L.shape[-2:])), wt_dinv)
        return self._full(diag_embed(self._unbroadcasted_cov_diag.reciprocal()) - a.mT @ a)

    def rsample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        eps_w = randn(shape[:-1] + tuple(self.cov_factor.shape[-1:]), dtype=self.loc.dtype)
        eps_d = randn(shape, dtype=self.loc.dtype)
        return self.loc + (self._unbroadcasted_cov_factor @ eps_w.unsqueeze(-1)).squeeze(-1) \
            + self._unbroadcasted_cov_diag.sqrt() * eps_d

    def log_prob(self, value):
        """-(k log 2pi + log|Sigma| + (x - loc)^T Sigma^-1 (x - loc)) / 2."""
        if self._validate_args:
            self._validate_sample(value)
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        m = _lowrank_mahalanobis(W, D, value - self.loc, self._capacitance_tril)
        log_det = _lowrank_logdet(D, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * math.log(2 * math.pi) + log_det + m)

    def entropy(self):
        """(k (1 + log 2pi) + log|Sigma|) / 2."""
        log_det = _lowrank_logdet(self._unbroadcasted_cov_diag, self._capacitance_tril)
        h = 0.5 * (self._event_shape[0] * (1.0 + math.log(2 * math.pi)) + log_det)
        return h.expand(tuple(self._batch_shape))

    def __repr__(self):
        return (f"LowRankMultivariateNormal(loc: {self.loc.size()}, cov_factor: "
                f"{self.cov_factor.size()}, cov_diag: {self.cov_diag.size()})")
