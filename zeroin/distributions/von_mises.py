"""``VonMises(loc, concentration)``: the circular normal distribution of an angle."""
from __future__ import annotations

import math

import numpy as np

from .. import cos, tensor, where
from ..random import get_rng
from . import constraints
from .distribution import POSITIVE, REAL, Distribution
from .utils import broadcast_all

__all__ = ["VonMises"]

# PyTorch's polynomial approximations of I0 and I1 (Abramowitz and Stegun 9.8.1-9.8.4), so
# that log_prob and variance give PyTorch's values.
_COEF_SMALL = ([1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2],
               [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2,
                0.32411e-3])
_COEF_LARGE = ([0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2,
                -0.2057706e-1, 0.2635537e-1, -0.1647633e-1, 0.392377e-2],
               [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1,
                0.2282967e-1, -0.2895312e-1, 0.1787654e-1, -0.420059e-2])


def _eval_poly(y, coef):
    result = coef[-1]
    for c in reversed(coef[:-1]):
        result = c + y * result
    return result


def _log_modified_bessel_fn(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1 (differentiable, as PyTorch's)."""
    below = x < 3.75
    xs, xl = where(below, x, 1.0), where(below, 3.75, x)    # each branch on its own range
    small = _eval_poly((xs / 3.75) ** 2, _COEF_SMALL[order])
    if order == 1:
        small = xs.abs() * small
    large = xl - 0.5 * xl.log() + _eval_poly(3.75 / xl, _COEF_LARGE[order]).log()
    return where(below, small.log(), large)


def _rejection_sample(loc, kappa, shape, rng):
    """Best and Fisher (1979)'s sampler in float64 arrays, wrapped into [-pi, pi)."""
    loc, kappa = np.broadcast_to(loc, shape), np.broadcast_to(kappa, shape)
    tau = 1 + np.sqrt(1 + 4 * kappa ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (tau - np.sqrt(2 * tau)) / (2 * kappa)
        r = np.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho ** 2) / (2 * rho))
    x, done = np.zeros(shape), np.zeros(shape, dtype=bool)
    while not done.all():
        u1, u2, u3 = rng.random((3,) + tuple(shape))
        z = np.cos(math.pi * u1)
        f = (1 + r * z) / (r + z)
        c = kappa * (r - f)
        with np.errstate(divide="ignore", invalid="ignore"):
            accept = ((c * (2 - c) - u2) > 0) | (np.log(c / u2) + 1 - c >= 0)
        new = accept & ~done
        x = np.where(new, np.sign(u3 - 0.5) * np.arccos(np.clip(f, -1, 1)), x)
        done |= accept
    return (x + math.pi + loc) % (2 * math.pi) - math.pi


class VonMises(Distribution):
    """Density exp(``concentration`` cos(x - ``loc``)) / (2 pi I0(concentration)) of an
    angle x (any real, read modulo 2 pi; samples lie in [-pi, pi)). ``mean`` and
    ``variance`` are the circular ones. No rsample, as in PyTorch; ``sample`` is Best and
    Fisher's rejection sampler, in float64."""

    _checks = {"loc": REAL, "concentration": POSITIVE}
    _support = REAL
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_all(loc, concentration)
        Distribution.__init__(self, self.loc.shape, validate_args=validate_args)

    def log_prob(self, value):
        """concentration cos(value - loc) - log(2 pi) - log I0(concentration)."""
        if self._validate_args:
            self._validate_sample(value)
        return self.concentration * cos(value - self.loc) - math.log(2 * math.pi) \
            - _log_modified_bessel_fn(self.concentration, order=0)

    def sample(self, sample_shape=()):
        shape = tuple(self._extended_shape(sample_shape))
        x = _rejection_sample(self.loc.data.astype(np.float64),
                              self.concentration.data.astype(np.float64), shape, get_rng())
        return tensor(x.astype(self.loc.dtype, copy=False))

    mean = mode = property(lambda self: self.loc, doc="``loc`` (the circular mean).")

    @property
    def variance(self):
        """The circular variance 1 - I1(concentration) / I0(concentration)."""
        k = self.concentration
        return 1 - (_log_modified_bessel_fn(k, 1) - _log_modified_bessel_fn(k, 0)).exp()
