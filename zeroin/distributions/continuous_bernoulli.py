"""``ContinuousBernoulli(probs=None, logits=None)``: the [0, 1]-valued density
proportional to p^x (1 - p)^(1 - x) (Loaiza-Ganem and Cunningham 2019)."""
from __future__ import annotations

import math

from .. import rand, where
from . import constraints
from .bernoulli import _bce_with_logits
from .categorical import _one_param
from .distribution import REAL, UNIT_INTERVAL, _Check
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, lazy_property, logits_to_probs, probs_to_logits

__all__ = ["ContinuousBernoulli"]

_UNIT_VALUES = _Check(UNIT_INTERVAL.rule, UNIT_INTERVAL.ok, "a continuous Bernoulli variable "
                      "lies in [0, 1]")


class ContinuousBernoulli(ExponentialFamily):
    """Density C(p) p^x (1 - p)^(1 - x) on [0, 1], with ``probs`` p in [0, 1] (clamped to
    [eps, 1 - eps]) or ``logits`` (``sigmoid(logits)`` = p); p is not the mean and logits
    are not log-odds of a value, as in PyTorch. Near p = 1/2 (inside ``lims``) the
    normaliser, mean and variance use Taylor expansions, as PyTorch. ``rsample`` is
    ``icdf(u)``, differentiable."""

    has_rsample = True
    _checks = {"probs": UNIT_INTERVAL, "logits": REAL}
    _support = _UNIT_VALUES
    _mean_carrier_measure = 0
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        which, p = _one_param("ContinuousBernoulli", probs, logits, numbers_ok=True)
        (t,) = broadcast_all(p)
        self._given, self._lims = which, lims
        self.__dict__[which] = t
        super().__init__(t.shape, validate_args=validate_args)  # probs checked, then clamped
        if which == "probs":
            self.probs = clamp_probs(t)

    @lazy_property
    def logits(self):
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self):
        return clamp_probs(logits_to_probs(self.logits, is_binary=True))

    @property
    def _param(self):
        return self.__dict__[self._given]

    param_shape = property(lambda self: self._param.size())

    def _outside_unstable_region(self):
        return (self.probs <= self._lims[0]) | (self.probs > self._lims[1])

    def _cut_probs(self):
        return where(self._outside_unstable_region(), self.probs, self._lims[0])

    def _cont_bern_log_norm(self):
        """log C(p): log |log(1 - p) - log p| - log |1 - 2p|, a Taylor series near 1/2."""
        cut = self._cut_probs()
        below = where(cut <= 0.5, cut, 0.0)
        above = where(cut >= 0.5, cut, 1.0)
        log_norm = ((-cut).log1p() - cut.log()).abs().log() - where(
            cut <= 0.5, (-2.0 * below).log1p(), (2.0 * above - 1.0).log())
        x = (self.probs - 0.5) ** 2
        taylor = math.log(2.0) + (4.0 / 3.0 + 104.0 / 45.0 * x) * x
        return where(self._outside_unstable_region(), log_norm, taylor)

    @property
    def mean(self):
        cut = self._cut_probs()
        mus = cut / (2.0 * cut - 1.0) + 1.0 / ((-cut).log1p() - cut.log())
        x = self.probs - 0.5
        taylor = 0.5 + (1.0 / 3.0 + 16.0 / 45.0 * x ** 2) * x
        return where(self._outside_unstable_region(), mus, taylor)

    @property
    def variance(self):
        cut = self._cut_probs()
        var = cut * (cut - 1.0) / (1.0 - 2.0 * cut) ** 2 \
            + 1.0 / ((-cut).log1p() - cut.log()) ** 2
        x = (self.probs - 0.5) ** 2
        taylor = 1.0 / 12.0 - (1.0 / 15.0 - 128.0 / 945.0 * x) * x
        return where(self._outside_unstable_region(), var, taylor)

    def rsample(self, sample_shape=()):
        return self.icdf(rand(self._extended_shape(sample_shape), dtype=self.probs.dtype))

    def log_prob(self, value):
        """-BCE(logits, value) + log C(p)."""
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        return -_bce_with_logits(logits, value) + self._cont_bern_log_norm()

    def cdf(self, value):
        """(p^x (1 - p)^(1 - x) + p - 1) / (2p - 1) (the value itself near p = 1/2); 0
        below 0, 1 above 1."""
        if self._validate_args:
            self._validate_sample(value)
        cut = self._cut_probs()
        cdfs = (cut ** value * (1.0 - cut) ** (1.0 - value) + cut - 1.0) / (2.0 * cut - 1.0)
        unbounded = where(self._outside_unstable_region(), cdfs, value)
        return where(value <= 0.0, 0.0, where(value >= 1.0, 1.0, unbounded))

    def icdf(self, value):
        """log1p(-p + value (2p - 1)) - log1p(-p), over log p - log1p(-p) (value near
        p = 1/2)."""
        cut = self._cut_probs()
        return where(self._outside_unstable_region(),
                     ((-cut + value * (2.0 * cut - 1.0)).log1p() - (-cut).log1p())
                     / (cut.log() - (-cut).log1p()), value)

    def entropy(self):
        log_p0, log_p1 = (-self.probs).log1p(), self.probs.log()
        return self.mean * (log_p0 - log_p1) - self._cont_bern_log_norm() - log_p0

    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        """log((e^x - 1) / x), a Taylor series near x = 0."""
        lo, hi = self._lims[0] - 0.5, self._lims[1] - 0.5
        outside = (x <= lo) | (x > hi)
        cut = where(outside, x, lo)
        log_norm = cut.expm1().abs().log() - cut.abs().log()
        taylor = 0.5 * x + x ** 2 / 24.0 - x ** 4 / 2880.0
        return where(outside, log_norm, taylor)

    def __repr__(self):
        return f"ContinuousBernoulli({self._given}: {self._param.size()})"
