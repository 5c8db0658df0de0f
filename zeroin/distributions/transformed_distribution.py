"""``TransformedDistribution(base_distribution, transforms)``: the law of ``t(x)``."""
from __future__ import annotations

import numpy as np

from .. import no_grad
from .distribution import Distribution, _Check
from .independent import Independent
from .transforms import ComposeTransform, Transform
from .utils import _sum_rightmost

__all__ = ["TransformedDistribution"]


def _constraint_check(c):
    """A constraint as the validation machinery's :class:`_Check` (its per-event verdict
    spread back over the event dims, so the invalid events' entries are named)."""
    def ok(a, d):
        return np.asarray(c._ok(a))[(...,) + (None,) * c.event_dim]
    return _Check(repr(c), ok, "give values inside the support of the last transform")


class TransformedDistribution(Distribution):
    """Draws ``x`` from ``base_distribution`` and applies ``transforms`` in order (a
    Transform or a list of them). ``log_prob(y)`` is the base density at the inverted
    value minus the log-Jacobians (change of variables); ``cdf``/``icdf`` work when every
    transform is monotone.

    The SAC policy: the cache hands ``log_prob`` the pre-tanh draw, so it stays finite
    even where the action rounded to exactly 1:

    >>> import zeroin
    >>> from zeroin.distributions import Normal, TanhTransform, TransformedDistribution
    >>> mu = zeroin.tensor([0.0, 30.0], requires_grad=True)
    >>> pi = TransformedDistribution(Normal(mu, 1.0), [TanhTransform(cache_size=1)])
    >>> a = pi.rsample()
    >>> a[1].item()
    1.0
    >>> bool(pi.log_prob(a).isfinite().all())
    True
    >>> pi.log_prob(a).sum().backward()          # gradients reach mu
    >>> mu.grad.shape
    zeroin.Size([2])
    """

    def __init__(self, base_distribution, transforms, validate_args=None):
        if isinstance(transforms, Transform):
            transforms = [transforms]
        if not isinstance(transforms, (list, tuple)) or not all(
                isinstance(t, Transform) for t in transforms):
            raise ValueError(f"TransformedDistribution: transforms must be a Transform or a "
                             f"list of Transforms, got {transforms!r}")
        if not isinstance(base_distribution, Distribution):
            raise TypeError(f"TransformedDistribution: base_distribution must be a "
                            f"distribution, got {type(base_distribution).__name__}")
        self.transforms = list(transforms)
        base_shape = base_distribution.batch_shape + base_distribution.event_shape
        base_event_dim = len(base_distribution.event_shape)
        transform = ComposeTransform(self.transforms)
        if len(base_shape) < transform.domain.event_dim:
            raise ValueError(f"TransformedDistribution: base_distribution needs at least "
                             f"{transform.domain.event_dim} dims (the transforms' event dims)"
                             f" but has shape {tuple(base_shape)}")
        forward_shape = transform.forward_shape(base_shape)
        expanded = transform.inverse_shape(forward_shape)
        if tuple(base_shape) != tuple(expanded):
            base_distribution = base_distribution.expand(
                tuple(expanded)[:len(expanded) - base_event_dim])
        reinterpreted = transform.domain.event_dim - base_event_dim
        if reinterpreted > 0:
            base_distribution = Independent(base_distribution, reinterpreted)
        self.base_dist = base_distribution
        change = transform.codomain.event_dim - transform.domain.event_dim
        event_dim = max(transform.codomain.event_dim, base_event_dim + change)
        cut = len(forward_shape) - event_dim
        super().__init__(tuple(forward_shape)[:cut], tuple(forward_shape)[cut:], validate_args)

    arg_constraints = {}
    has_rsample = property(lambda self: self.base_dist.has_rsample)

    @property
    def support(self):
        """The last transform's codomain (the base's support when there is none)."""
        from . import constraints
        if not self.transforms:
            return self.base_dist.support
        support = self.transforms[-1].codomain
        if len(self.event_shape) > support.event_dim:
            support = constraints.independent(support, len(self.event_shape)
                                              - support.event_dim)
        return support

    @property
    def _support(self):
        if not self.transforms:
            return self.base_dist._support
        return _constraint_check(self.support)

    def expand(self, batch_shape, _instance=None):
        new = type(self).__new__(type(self)) if _instance is None else _instance
        new.__dict__.update(self.__dict__)
        shape = tuple(batch_shape) + tuple(self.event_shape)
        for t in reversed(self.transforms):
            shape = t.inverse_shape(shape)
        new.base_dist = self.base_dist.expand(shape[:len(shape)
                                                    - len(self.base_dist.event_shape)])
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with no_grad():
            return self._apply(self.base_dist.sample(sample_shape))

    def rsample(self, sample_shape=()):
        """The transforms applied to ``base_dist.rsample``: gradients reach the base's
        parameters and the transforms' tensor parameters."""
        return self._apply(self.base_dist.rsample(sample_shape))

    def _apply(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def log_prob(self, value):
        """Base log density of the inverted value minus each transform's log-Jacobian."""
        if self._validate_args:
            self._validate_sample(value)
        event_dim, log_prob, y = len(self.event_shape), 0.0, value
        for t in reversed(self.transforms):
            x = t.inv(y)
            event_dim += t.domain.event_dim - t.codomain.event_dim
            log_prob = log_prob - _sum_rightmost(t.log_abs_det_jacobian(x, y),
                                                 event_dim - t.domain.event_dim)
            y = x
        return log_prob + _sum_rightmost(self.base_dist.log_prob(y),
                                         event_dim - len(self.base_dist.event_shape))

    def _monotonize_cdf(self, value):
        """cdf values flipped (1 - p) when the composition is decreasing."""
        sign = 1
        for t in self.transforms:
            sign = sign * t.sign
        if isinstance(sign, int) and sign == 1:
            return value
        return sign * (value - 0.5) + 0.5

    def cdf(self, value):
        """The base cdf at the inverted value (needs monotone transforms)."""
        for t in reversed(self.transforms):
            value = t.inv(value)
        if self._validate_args:
            self.base_dist._validate_sample(value)
        return self._monotonize_cdf(self.base_dist.cdf(value))

    def icdf(self, value):
        """The transforms applied to the base quantile (needs monotone transforms)."""
        return self._apply(self.base_dist.icdf(self._monotonize_cdf(value)))

    def __repr__(self):
        return f"TransformedDistribution({self.base_dist!r}, {self.transforms!r})"


class _TransformedFamily(TransformedDistribution):
    """A named family that PyTorch writes as a TransformedDistribution (Gumbel, Pareto,
    Weibull, ...): its parameters (``_checks``, attributes or properties) are validated
    here with its own name, ``expand`` expands the ones held as attributes (``_expand``)
    and the repr names them, as PyTorch's."""

    _expand = ()

    def __init__(self, base_distribution, transforms, validate_args=None):
        super().__init__(base_distribution, transforms, validate_args)
        if self._validate_args:
            for name, check in self._checks.items():
                if name not in self.__dict__:       # properties: Distribution skips them
                    self._refuse(f"parameter {name}", getattr(self, name), check)

    def expand(self, batch_shape, _instance=None):
        new = super().expand(batch_shape, _instance)
        for name in self._expand:
            new.__dict__[name] = self.__dict__[name].expand(tuple(batch_shape))
        return new

    def __repr__(self):
        held = [(n, getattr(self, n)) for n in self._checks]
        args = ", ".join(f"{n}: {p.item() if p.numel() == 1 else p.size()}" for n, p in held)
        return f"{type(self).__name__}({args})"
