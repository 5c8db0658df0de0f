"""``Normal(loc, scale)``: the Gaussian, with reparameterised sampling."""
from __future__ import annotations

import math

import numpy as np

from .. import Tensor, erf, randn
from ..function import Function
from . import constraints
from .distribution import POSITIVE, REAL
from .exp_family import ExponentialFamily

__all__ = ["Normal"]

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def _ndtri(p):
    """The standard normal quantile of the array ``p`` (-inf at 0, inf at 1, NaN outside)."""
    try:
        from scipy.special import ndtri
    except ImportError:                         # NumPy has none: the standard library's
        from statistics import NormalDist
        inside = (p > 0) & (p < 1)
        q = np.vectorize(NormalDist().inv_cdf, otypes=[np.float64])(np.where(inside, p, 0.5))
        ndtri = None
        r = np.where(inside, q, np.where(p == 0, -np.inf, np.where(p == 1, np.inf, np.nan)))
    if ndtri is not None:
        r = ndtri(p)
    return np.asarray(r).astype(p.dtype, copy=False)


class _NdtriOp(Function):
    """sqrt(2) * erfinv(2p - 1), the standard normal quantile; d/dp = sqrt(2 pi) e**(q²/2)."""
    __slots__ = ()
    name = "ndtri"
    def forward(self, p): return _ndtri(p)
    def backward(self, xp, g, out, p): return g * math.sqrt(2 * math.pi) * xp.exp(out * out / 2)


class Normal(ExponentialFamily):
    """The normal distribution with mean ``loc`` and standard deviation ``scale`` (tensors
    or numbers, broadcast together; ``scale`` > 0).

    ``rsample`` is ``loc + scale * eps`` with ``eps ~ N(0, 1)``, so gradients reach
    ``loc`` and ``scale`` (the VAE's reparameterisation trick); ``sample`` is the same
    without gradient.
    """

    has_rsample = True
    _mean_carrier_measure = 0
    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = REAL
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real

    def __init__(self, loc, scale, validate_args=None):
        self._set_params(validate_args, loc=loc, scale=scale)

    mean = mode = property(lambda self: self.loc, doc="``loc``.")

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=()):
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        """log N(value; loc, scale) = -(value - loc)² / (2 scale²) - log scale - log √(2π)."""
        if self._validate_args:
            self._validate_sample(value)
        return -((value - self.loc) ** 2) / (2 * self.scale ** 2) - self.scale.log() \
            - _LOG_SQRT_2PI

    def cdf(self, value):
        """P(X <= value) = (1 + erf((value - loc) / (scale √2))) / 2."""
        if self._validate_args:
            self._validate_sample(value)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value):
        """The quantile: the x with cdf(x) = value (value in [0, 1]; NaN outside)."""
        p = value if isinstance(value, Tensor) else self.loc.new_tensor(value)
        return self.loc + self.scale * _NdtriOp()(p)

    def entropy(self):
        """½ + ½ log(2π) + log scale."""
        return 0.5 + _LOG_SQRT_2PI + self.scale.log()

    @property
    def _natural_params(self):
        return (self.loc / self.scale.pow(2), -0.5 * self.scale.pow(2).reciprocal())

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * (-math.pi / y).log()
