"""``MixtureSameFamily(mixture_distribution, component_distribution)``: a weighted mixture
of k components of one family (a Gaussian mixture model, for instance)."""
from __future__ import annotations

import numpy as np

from .. import log_softmax, logsumexp, no_grad
from .._creation import _DistributionError
from . import constraints
from .categorical import Categorical
from .distribution import Distribution, _Check

__all__ = ["MixtureSameFamily"]


def _component_support(a, d):
    """The components' support, checked on the value with the component dim put back."""
    c = d.support
    return np.asarray(c._ok(a))[(...,) + (None,) * c.event_dim]


class MixtureSameFamily(Distribution):
    """``mixture_distribution`` (a Categorical over k) picks one of k components; the
    rightmost batch dim of ``component_distribution`` (size k) indexes them. log_prob is
    the logsumexp over the components (gradients reach the weights and the components);
    ``mean``/``variance`` by the laws of total expectation and variance. No rsample (a
    discrete choice), as in PyTorch.

    A 1-D Gaussian mixture of 3: ``MixtureSameFamily(Categorical(logits=w),
    Normal(mu, sigma))`` with w, mu, sigma of shape (3,)."""

    arg_constraints = {}
    has_rsample = False
    _support = _Check(lambda d: repr(d.support), _component_support,
                      "give values in the components' support")

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        if not isinstance(mixture_distribution, Categorical):
            raise _DistributionError(f"MixtureSameFamily: the mixture distribution needs to "
                                     f"be a Categorical, got "
                                     f"{type(mixture_distribution).__name__}")
        if not isinstance(component_distribution, Distribution):
            raise _DistributionError(f"MixtureSameFamily: the component distribution needs "
                                     f"to be a Distribution, got "
                                     f"{type(component_distribution).__name__}")
        mdbs, cbs = mixture_distribution.batch_shape, component_distribution.batch_shape
        if not cbs:
            raise _DistributionError("MixtureSameFamily: component_distribution needs a "
                                     "batch dim (its rightmost) indexing the components")
        cdbs = cbs[:-1]
        for s1, s2 in zip(reversed(mdbs), reversed(cdbs)):
            if s1 != 1 and s2 != 1 and s1 != s2:
                raise _DistributionError(
                    f"MixtureSameFamily: `mixture_distribution.batch_shape` ({tuple(mdbs)}) "
                    f"is not compatible with `component_distribution.batch_shape` "
                    f"({tuple(cdbs)}) (without its last dim, the components)")
        km, kc = mixture_distribution.logits.shape[-1], cbs[-1]
        if km != kc:
            raise _DistributionError(f"MixtureSameFamily: `mixture_distribution` has {km} "
                                     f"components but `component_distribution.batch_shape"
                                     f"[-1]` is {kc}")
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(cdbs, component_distribution.event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        batch_shape = tuple(batch_shape)
        new._component_distribution = self._component_distribution.expand(
            batch_shape + (self._num_component,))
        new._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self):
        """``MixtureSameFamilyConstraint`` of the components' support."""
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    mixture_distribution = property(lambda self: self._mixture_distribution)
    component_distribution = property(lambda self: self._component_distribution)

    def _pad(self, x):
        return x.unsqueeze(-1 - self._event_ndims)

    def _pad_mixture_dimensions(self, x):
        dist_batch_ndims = len(self._batch_shape)
        cat_batch_ndims = len(self._mixture_distribution.batch_shape)
        pad_ndims = 0 if cat_batch_ndims == 1 else dist_batch_ndims - cat_batch_ndims
        xs = tuple(x.shape)
        return x.reshape(xs[:-1] + (1,) * pad_ndims + xs[-1:] + (1,) * self._event_ndims)

    @property
    def mean(self):
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        return (probs * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        """E[Var(X | component)] + Var(E[X | component])."""
        probs = self._pad_mixture_dimensions(self._mixture_distribution.probs)
        comp = self._component_distribution
        mean_cond_var = (probs * comp.variance).sum(-1 - self._event_ndims)
        var_cond_mean = (probs * (comp.mean - self._pad(self.mean)).pow(2.0)).sum(
            -1 - self._event_ndims)
        return mean_cond_var + var_cond_mean

    def cdf(self, x):
        """sum_k w_k F_k(x)."""
        cdf_x = self._component_distribution.cdf(self._pad(x))
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        """logsumexp_k (log w_k + log p_k(x))."""
        if self._validate_args:
            self._validate_sample(x)
        log_prob_x = self._component_distribution.log_prob(self._pad(x))   # [S, B, k]
        log_mix_prob = log_softmax(self._mixture_distribution.logits, -1)  # [B, k]
        return logsumexp(log_prob_x + log_mix_prob, -1)

    def sample(self, sample_shape=()):
        """A component index per draw, then that component's draw."""
        with no_grad():
            gather_dim = len(tuple(sample_shape)) + len(self._batch_shape)
            es = tuple(self._event_shape)
            mix = self._mixture_distribution.sample(sample_shape)
            comp = self._component_distribution.sample(sample_shape)
            index = mix.reshape(tuple(mix.shape) + (1,) * (len(es) + 1))
            index = index.expand(tuple(mix.shape) + (1,) + es)
            return comp.gather(gather_dim, index).squeeze(gather_dim)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution!r},\n  "
                f"{self._component_distribution!r})")
