"""``Independent(base_distribution, reinterpreted_batch_ndims)``: batch dims read as event dims."""
from __future__ import annotations

from .._creation import _DistributionError
from .distribution import Distribution
from .utils import _sum_rightmost

__all__ = ["Independent"]


class Independent(Distribution):
    """``base_distribution`` with its rightmost ``reinterpreted_batch_ndims`` batch dims
    made part of the event: log_prob and entropy sum over them. A diagonal Gaussian over
    vectors of length 3 is ``Independent(Normal(mu, sigma), 1)`` with mu of shape (..., 3):
    its log_prob has the shape of one batch of vectors, not of their entries."""

    def __init__(self, base_distribution, reinterpreted_batch_ndims, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"Independent: base_distribution must be a distribution, got "
                            f"{type(base_distribution).__name__}")
        n, shape = reinterpreted_batch_ndims, base_distribution.batch_shape
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= len(shape):
            raise _DistributionError(
                f"Independent: expected 0 <= reinterpreted_batch_ndims <= len(base_"
                f"distribution.batch_shape), actual {n!r} vs {len(shape)} (batch_shape "
                f"{tuple(shape)}); reinterpret at most the batch dims there are")
        self.base_dist = base_distribution
        self.reinterpreted_batch_ndims = n
        cut = len(shape) - n
        super().__init__(shape[:cut], shape[cut:] + base_distribution.event_shape,
                         validate_args)

    arg_constraints = {}

    @property
    def support(self):
        """The base's support with the reinterpreted dims as part of the event."""
        from . import constraints
        support = self.base_dist.support
        n = self.reinterpreted_batch_ndims
        return constraints.independent(support, n) if n else support

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def has_enumerate_support(self):
        return self.reinterpreted_batch_ndims == 0 and self.base_dist.has_enumerate_support

    mean = property(lambda self: self.base_dist.mean)
    mode = property(lambda self: self.base_dist.mode)
    variance = property(lambda self: self.base_dist.variance)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        reinterpreted = self._event_shape[:self.reinterpreted_batch_ndims]
        new.base_dist = self.base_dist.expand(tuple(batch_shape) + tuple(reinterpreted))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        return self.base_dist.sample(sample_shape)

    def rsample(self, sample_shape=()):
        return self.base_dist.rsample(sample_shape)

    def log_prob(self, value):
        """The base's log_prob summed over the reinterpreted dims."""
        return _sum_rightmost(self.base_dist.log_prob(value), self.reinterpreted_batch_ndims)

    def entropy(self):
        """The base's entropy summed over the reinterpreted dims."""
        return _sum_rightmost(self.base_dist.entropy(), self.reinterpreted_batch_ndims)

    def enumerate_support(self, expand=True):
        if self.reinterpreted_batch_ndims > 0:
            raise NotImplementedError("Independent: enumeration over cartesian product is "
                                      "not implemented (as in PyTorch)")
        return self.base_dist.enumerate_support(expand=expand)

    def __repr__(self):
        return f"Independent({self.base_dist!r}, {self.reinterpreted_batch_ndims})"
