"""``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)``:
the Gaussian over vectors, with correlations."""
from __future__ import annotations

import math

import numpy as np

from .. import Tensor, linalg, randn
from .._creation import _DistributionError
from . import constraints
from .distribution import REAL, Distribution, _Check
from .utils import lazy_property

__all__ = ["MultivariateNormal"]


def _symmetric_pd(a, d):
    """Per matrix: symmetric and positive definite (all eigenvalues > 0)."""
    sym = np.abs(a - np.swapaxes(a, -1, -2)).max((-2, -1), initial=0) <= 1e-6 * (
        1 + np.abs(a).max((-2, -1), initial=0))
    with np.errstate(invalid="ignore"):
        pd = np.all(np.linalg.eigvalsh(np.where(np.isfinite(a), a, 0)) > 0, -1) \
            & np.isfinite(a).all((-2, -1))
    return (sym & pd)[..., None, None]


def _lower_cholesky(a, d):
    """Per matrix: lower triangular with a positive diagonal."""
    upper = np.triu(a, 1)
    ok = (upper == 0).all((-2, -1)) & (np.diagonal(a, 0, -2, -1) > 0).all(-1)
    return ok[..., None, None]


_PD = _Check("PositiveDefinite() (symmetric, all eigenvalues > 0)", _symmetric_pd,
             "e.g. A @ A.mT + 1e-3 * eye(k), or give scale_tril")
_LOWER_CHOLESKY = _Check("LowerCholesky() (lower triangular, diagonal > 0)", _lower_cholesky,
                         "e.g. tril(A, -1) + diag_embed(softplus(d))")
_VECTOR = _Check("IndependentConstraint(Real(), 1) (not NaN)", REAL.ok)


def _batch_mahalanobis(L, x):
    """x^T (L L^T)^-1 x over the last dim, L lower triangular broadcast against x (only
    its lower triangle is read, as a triangular solve does)."""
    shape = tuple(np.broadcast_shapes(L.shape[:-2], x.shape[:-1]))
    k = x.shape[-1]
    y = linalg.solve(L.tril().expand(shape + (k, k)), x.expand(shape + (k,)).unsqueeze(-1))
    return (y.squeeze(-1) ** 2).sum(-1)


def _given_matrix(family, covariance_matrix, precision_matrix, scale_tril):
    """``(name, matrix)`` of the one of the three a family was given (PyTorch's error else)."""
    given = {n: m for n, m in (("covariance_matrix", covariance_matrix),
                               ("precision_matrix", precision_matrix),
                               ("scale_tril", scale_tril)) if m is not None}
    if len(given) != 1:
        raise _DistributionError(
            f"{family}: exactly one of covariance_matrix or precision_matrix or scale_tril "
            f"may be specified, got {sorted(given) or 'none'}")
    return next(iter(given.items()))


class _ScaleTrilMatrices:
    """The three views of a scale matrix from its lower Cholesky factor L (kept
    unbroadcast as ``_unbroadcasted_scale_tril``), each expanded by the family's ``_full``:
    ``scale_tril`` L, ``covariance_matrix`` L L^T, ``precision_matrix`` (L L^T)^-1."""

    def _set_scale_tril(self, name, m):
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = m
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = linalg.cholesky(m)
        else:
            self._unbroadcasted_scale_tril = linalg.cholesky(linalg.inv(m))

    @lazy_property
    def scale_tril(self):
        """The lower Cholesky factor L of the covariance."""
        return self._full(self._unbroadcasted_scale_tril)

    @lazy_property
    def covariance_matrix(self):
        """L L^T."""
        L = self._unbroadcasted_scale_tril
        return self._full(L @ L.mT)

    @lazy_property
    def precision_matrix(self):
        """(L L^T)^-1."""
        L = self._unbroadcasted_scale_tril
        return self._full(linalg.inv(L @ L.mT))


class MultivariateNormal(_ScaleTrilMatrices, Distribution):
    """The Gaussian over vectors of length k with mean ``loc`` (..., k) and one of
    ``covariance_matrix``, ``precision_matrix`` (its inverse) or ``scale_tril`` (its lower
    Cholesky factor L, covariance L L^T), each (..., k, k); batch dims broadcast.
    ``rsample`` is ``loc + L @ eps``, differentiable; log_prob solves with L."""

    has_rsample = True
    _checks = {"loc": _VECTOR, "covariance_matrix": _PD, "precision_matrix": _PD,
               "scale_tril": _LOWER_CHOLESKY}
    _support = _VECTOR
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        name, m = _given_matrix("MultivariateNormal", covariance_matrix, precision_matrix,
                                scale_tril)
        for what, t in (("loc", loc), (name, m)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultivariateNormal: `{what}` must be a tensor, got "
                                f"{type(t).__name__}; wrap it, e.g. zeroin.tensor({t!r})")
        if loc.dim() < 1 or m.dim() < 2 or m.shape[-1] != m.shape[-2] or \
                m.shape[-1] != loc.shape[-1]:
            raise _DistributionError(
                f"MultivariateNormal: loc must be at least one-dimensional (..., k) and "
                f"{name} at least two-dimensional (..., k, k) with the same k, got shapes "
                f"{tuple(loc.shape)} and {tuple(m.shape)}")
        try:
            batch = tuple(np.broadcast_shapes(m.shape[:-2], loc.shape[:-1]))
        except ValueError:
            raise _DistributionError(
                f"MultivariateNormal: the batch shapes of loc {tuple(loc.shape[:-1])} and "
                f"{name} {tuple(m.shape[:-2])} cannot be broadcast together") from None
        k = loc.shape[-1]
        self.loc = loc.expand(batch + (k,))
        self.__dict__[name] = m.expand(batch + (k, k))
        self._given = name
        super().__init__(batch, (k,), validate_args)
        self._set_scale_tril(name, m)

    def _full(self, m):
        return m.expand(tuple(self._batch_shape + self._event_shape + self._event_shape))

    mean = mode = property(lambda self: self.loc, doc="``loc``.")

    @property
    def variance(self):
        """The diagonal of the covariance."""
        v = (self._unbroadcasted_scale_tril ** 2).sum(-1)
        return v.expand(tuple(self._batch_shape + self._event_shape))

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def rsample(self, sample_shape=()):
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def log_prob(self, value):
        """-(k log 2pi + (x - loc)^T Sigma^-1 (x - loc)) / 2 - log|L|."""
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (k * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self):
        """k (1 + log 2pi) / 2 + log|L|."""
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(tuple(self._batch_shape))

    def __repr__(self):
        return f"MultivariateNormal(loc: {self.loc.size()}, {self._given}: " \
               f"{self.__dict__[self._given].size()})"
