"""``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``: the law
of sums of ``df`` outer products of Gaussian vectors (a prior over covariance matrices)."""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import Tensor, arange, diag_embed, digamma, linalg, mvlgamma, randn, tensor, where
from .._creation import _DistributionError
from . import constraints
from .chi2 import Chi2
from .distribution import Distribution, _Check
from .exp_family import ExponentialFamily
from .multivariate_normal import _LOWER_CHOLESKY, _PD, _ScaleTrilMatrices, _given_matrix

__all__ = ["Wishart"]

_LOG_2 = math.log(2)
_DF = _Check(lambda d: f"GreaterThan(lower_bound={d._event_shape[-1] - 1})",
             lambda a, d: a > d._event_shape[-1] - 1, "give df > dim - 1")


def _mvdigamma(x, p):
    """sum_j digamma(x - j / 2), j = 0 .. p - 1 (the derivative of mvlgamma)."""
    if not (x.data > (p - 1) / 2).all():
        raise ValueError("Wishart: wrong domain for the multivariate digamma function "
                         "(needs df > dim - 1)")
    return digamma(x.unsqueeze(-1) - arange(p, dtype=x.dtype) / 2).sum(-1)


class Wishart(_ScaleTrilMatrices, ExponentialFamily):
    """Positive definite p x p matrices X = L Z Z^T L^T (Bartlett's decomposition), with
    ``df`` > p - 1 degrees of freedom and scale given by one of ``covariance_matrix``,
    ``precision_matrix`` (its inverse) or ``scale_tril`` (its Cholesky factor L); mean
    df L L^T. ``rsample`` is differentiable (chi-square diagonal by implicit
    reparameterisation); a draw that came out singular (possible for df < p) is redrawn up
    to ``max_try_correction`` times, with PyTorch's warning."""

    has_rsample = True
    _mean_carrier_measure = 0
    _checks = {"covariance_matrix": _PD, "precision_matrix": _PD,
               "scale_tril": _LOWER_CHOLESKY, "df": _DF}
    _support = _PD
    support = constraints.positive_definite

    @property
    def arg_constraints(self):
        """The matrices' constraints, and df > dim - 1."""
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(self._event_shape[-1] - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        name, m = _given_matrix("Wishart", covariance_matrix, precision_matrix, scale_tril)
        if not isinstance(m, Tensor) or m.dim() < 2 or m.shape[-1] != m.shape[-2]:
            raise _DistributionError(f"Wishart: {name} must be a tensor of square matrices "
                                     f"(..., p, p), with optional leading batch dimensions")
        p = m.shape[-1]
        if isinstance(df, numbers.Number):
            batch, self.df = tuple(m.shape[:-2]), tensor(float(df), dtype=m.dtype)
        else:
            batch = tuple(np.broadcast_shapes(m.shape[:-2], df.shape))
            self.df = df.expand(batch)
        if (self.df.data <= p - 1).any():
            raise _DistributionError(f"Wishart: value of df={df} expected to be greater than "
                                     f"ndim - 1 = {p - 1}")
        self.__dict__[name] = m.expand(batch + (p, p))
        if (self.df.data < p).any():
            warnings.warn("Low df values detected. Singular samples are highly likely to "
                          "occur for ndim - 1 < df < ndim.", UserWarning, stacklevel=2)
        Distribution.__init__(self, batch, (p, p), validate_args)
        self._set_scale_tril(name, m)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)     # df and the matrix given
        new._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril.expand(
            tuple(batch_shape) + tuple(self._event_shape))
        return new

    def _full(self, m):
        return m.expand(tuple(self._batch_shape + self._event_shape))

    def _df(self):
        return self.df.reshape(tuple(self._batch_shape) + (1, 1))

    @property
    def mean(self):
        return self._df() * self.covariance_matrix

    @property
    def mode(self):
        """(df - p - 1) times the covariance; NaN where df <= p + 1."""
        factor = self.df - self._event_shape[-1] - 1
        factor = where(factor <= 0, np.nan, factor)
        return factor.reshape(tuple(self._batch_shape) + (1, 1)) * self.covariance_matrix

    @property
    def variance(self):
        """df (V_ij² + V_ii V_jj), V the covariance."""
        V = self.covariance_matrix
        d = V.diagonal(dim1=-2, dim2=-1)
        return self._df() * (V ** 2 + d.unsqueeze(-1) * d.unsqueeze(-2))

    def _bartlett_sampling(self, sample_shape):
        p = self._event_shape[-1]
        chi2 = Chi2(self.df.unsqueeze(-1) - arange(p, dtype=self.df.dtype),
                    validate_args=False)
        eps = float(np.finfo(self.df.dtype).eps)
        diag = chi2.rsample(sample_shape).sqrt().clamp(min=eps)
        z = randn(tuple(sample_shape) + tuple(self._batch_shape) + (p, p),
                  dtype=self.df.dtype).tril(-1)
        chol = self._unbroadcasted_scale_tril @ (diag_embed(diag) + z)
        return chol @ chol.mT

    def rsample(self, sample_shape=(), max_try_correction=None):
        max_try_correction = 10 if max_try_correction is None else max_try_correction
        sample = self._bartlett_sampling(sample_shape)
        singular = ~np.asarray(constraints.positive_definite._ok(sample.data))
        if singular.any():
            warnings.warn("Singular sample detected.", UserWarning, stacklevel=2)
            for _ in range(max_try_correction):
                mask = tensor(singular[..., None, None])
                sample = where(mask, self._bartlett_sampling(sample_shape), sample)
                singular = ~np.asarray(constraints.positive_definite._ok(sample.data))
                if not singular.any():
                    break
        return sample

    def log_prob(self, value):
        """-df (p log 2 / 2 + log|L|) - mvlgamma(df / 2, p) + (df - p - 1) / 2 log|X|
        - tr(Sigma^-1 X) / 2."""
        if self._validate_args:
            self._validate_sample(value)
        nu, p, L = self.df, self._event_shape[-1], self._unbroadcasted_scale_tril
        cov = L @ L.mT
        shape = tuple(np.broadcast_shapes(cov.shape, value.shape))
        trace = linalg.solve(cov.expand(shape), value.expand(shape)).diagonal(
            dim1=-2, dim2=-1).sum(-1)
        return -nu * (p * _LOG_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1)) \
            - mvlgamma(nu / 2, p) + (nu - p - 1) / 2 * linalg.slogdet(value)[1] - trace / 2

    def entropy(self):
        nu, p, L = self.df, self._event_shape[-1], self._unbroadcasted_scale_tril
        return (p + 1) * (p * _LOG_2 / 2 + L.diagonal(dim1=-2, dim2=-1).log().sum(-1)) \
            + mvlgamma(nu / 2, p) - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2

    @property
    def _natural_params(self):
        p = self._event_shape[-1]
        return -self.precision_matrix / 2, (self.df - p - 1) / 2

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        return (y + (p + 1) / 2) * (-linalg.slogdet(-2 * x)[1] + _LOG_2 * p) \
            + mvlgamma(y + (p + 1) / 2, p)

    def __repr__(self):
        given = next(n for n in ("covariance_matrix", "precision_matrix", "scale_tril")
                     if n in self.__dict__)
        return f"Wishart(df: {self.df.size()}, {given}: {self.__dict__[given].size()})"
