"""``biject_to`` and ``transform_to``: from the reals onto a constraint, as PyTorch.

``biject_to(c)`` is a bijection onto ``c`` (StickBreakingTransform for the simplex, so
HMC-style code can use its Jacobian); ``transform_to(c)`` need not be one (softmax for the
simplex, easier to optimise). Both give ``exp`` then a shift for the half-lines, sigmoid
then an affine map for intervals, the identity for ``real``; ``transform_to`` maps square
matrices onto ``lower_cholesky`` and ``positive_definite`` ones, both registries map vectors
onto ``corr_cholesky`` factors and piece together ``cat`` and ``stack`` constraints from
their parts' transforms, as PyTorch. E.g. a positive parameter
optimised freely: ``raw = zeroin.zeros(3, requires_grad=True); scale =
transform_to(constraints.positive)(raw)``.
"""
from __future__ import annotations

import numbers

from . import constraints, transforms

__all__ = ["ConstraintRegistry", "biject_to", "transform_to"]


class ConstraintRegistry:
    """Maps a constraint type to a factory ``constraint -> Transform``."""

    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for the type of ``constraint`` (usable as a decorator)."""
        if factory is None:
            return lambda factory: self.register(constraint, factory)
        if isinstance(constraint, constraints.Constraint):
            constraint = type(constraint)
        if not (isinstance(constraint, type) and issubclass(constraint,
                                                            constraints.Constraint)):
            raise TypeError(f"register: expected a constraint or its type, got "
                            f"{constraint!r}")
        self._registry[constraint] = factory
        return factory

    def __call__(self, constraint):
        try:
            factory = self._registry[type(constraint)]
        except KeyError:
            raise NotImplementedError(f"Cannot transform {type(constraint).__name__[1:]} "
                                      f"constraints (no transform registered for "
                                      f"{constraint!r})") from None
        return factory(constraint)


biject_to = ConstraintRegistry()
transform_to = ConstraintRegistry()


def _both(constraint):
    return lambda f: biject_to.register(constraint, transform_to.register(constraint, f))


@_both(constraints.real)
def _to_real(constraint):
    return transforms.identity_transform


def _independent(registry):
    """The base constraint's transform (from the same registry) over the event dims."""
    def factory(constraint):
        return transforms.IndependentTransform(registry(constraint.base_constraint),
                                               constraint.reinterpreted_batch_ndims)
    return factory


biject_to.register(constraints.independent, _independent(biject_to))
transform_to.register(constraints.independent, _independent(transform_to))


@_both(constraints.greater_than)
@_both(constraints.greater_than_eq)
def _to_greater_than(constraint):
    return transforms.ComposeTransform([transforms.ExpTransform(),
                                        transforms.AffineTransform(constraint.lower_bound, 1)])


@_both(constraints.less_than)
def _to_less_than(constraint):
    return transforms.ComposeTransform([transforms.ExpTransform(),
                                        transforms.AffineTransform(constraint.upper_bound, -1)])


@_both(constraints.interval)
@_both(constraints.half_open_interval)
def _to_interval(constraint):
    lb, ub = constraint.lower_bound, constraint.upper_bound
    if isinstance(lb, numbers.Number) and isinstance(ub, numbers.Number) and lb == 0 \
            and ub == 1:
        return transforms.SigmoidTransform()
    return transforms.ComposeTransform([transforms.SigmoidTransform(),
                                        transforms.AffineTransform(lb, ub - lb)])


biject_to.register(constraints.simplex, lambda c: transforms.StickBreakingTransform())
transform_to.register(constraints.simplex, lambda c: transforms.SoftmaxTransform())
transform_to.register(constraints.lower_cholesky, lambda c: transforms.LowerCholeskyTransform())
transform_to.register(constraints.positive_definite,
                      lambda c: transforms.PositiveDefiniteTransform())
transform_to.register(constraints.positive_semidefinite,
                      lambda c: transforms.PositiveDefiniteTransform())
_both(constraints.corr_cholesky)(lambda c: transforms.CorrCholeskyTransform())


def _pieces(registry, transform):
    """``transform`` (CatTransform or StackTransform) of the registry's transform for each
    piece of a cat / stack constraint."""
    def factory(constraint):
        lengths = (constraint.lengths,) if transform is transforms.CatTransform else ()
        return transform([registry(c) for c in constraint.cseq], constraint.dim, *lengths)
    return factory


for _registry in (biject_to, transform_to):
    _registry.register(constraints.cat, _pieces(_registry, transforms.CatTransform))
    _registry.register(constraints.stack, _pieces(_registry, transforms.StackTransform))
del _registry
