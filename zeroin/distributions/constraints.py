"""``zeroin.distributions.constraints``: PyTorch's constraint objects.

A constraint says which values are valid: ``c.check(value)`` is a bool tensor of shape
``value.shape[:value.dim() - c.event_dim]`` (True where valid). Distributions name the
constraint of each parameter in ``arg_constraints`` and of their values in ``support``;
``transform_to``/``biject_to`` map the reals onto a constraint (for optimising a
constrained parameter through an unconstrained one).
"""
from __future__ import annotations

import numpy as np

from .. import Tensor, tensor

__all__ = ["Constraint", "MixtureSameFamilyConstraint", "boolean", "cat", "corr_cholesky",
           "dependent", "greater_than", "greater_than_eq",
           "half_open_interval", "independent", "integer_interval", "interval",
           "is_dependent", "less_than", "lower_cholesky", "lower_triangular",
           "multinomial", "nonnegative", "nonnegative_integer", "one_hot", "positive",
           "positive_definite", "positive_integer", "positive_semidefinite", "real",
           "real_vector", "simplex", "square", "stack", "symmetric", "unit_interval"]


def _arr(x):
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)


class Constraint:
    """Base class: ``_ok(array)`` is the elementwise (event-reduced) validity; ``check``
    wraps it for tensors. ``event_dim`` is the number of rightmost dims one check covers
    and ``is_discrete`` whether the valid values are countable."""

    is_discrete = False
    event_dim = 0

    def check(self, value):
        """A bool tensor: True where ``value`` satisfies the constraint (one entry per
        event)."""
        return tensor(np.asarray(self._ok(_arr(value)), dtype=bool))

    def _ok(self, a):
        raise NotImplementedError(f"{type(self).__name__}.check is not implemented")

    def __repr__(self):
        return type(self).__name__[1:] + "()"


class _Dependent(Constraint):
    """A constraint that depends on other parameters (Uniform's ``low`` < ``high``): it
    cannot be checked on its own."""

    def __init__(self, *, is_discrete=False, event_dim=0):
        self.is_discrete, self.event_dim = is_discrete, event_dim

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint (it depends on "
                         "the other parameters; the distribution checks it)")


def is_dependent(constraint):
    """Whether ``constraint`` is a dependent one."""
    return isinstance(constraint, _Dependent)


class _Real(Constraint):
    def _ok(self, a): return a == a                      # noqa: E704 (not NaN)


class _Boolean(Constraint):
    is_discrete = True
    def _ok(self, a): return (a == 0) | (a == 1)          # noqa: E704


class _OneHot(Constraint):
    is_discrete, event_dim = True, 1

    def _ok(self, a):
        return (((a == 0) | (a == 1)).all(-1)) & (a.sum(-1) == 1)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _ok(self, a):
        return (a % 1 == 0) & (_bound(self.lower_bound) <= a) & (a <= _bound(self.upper_bound))

    def __repr__(self):
        return f"IntegerInterval(lower_bound={self.lower_bound}, upper_bound={self.upper_bound})"


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _ok(self, a): return (a % 1 == 0) & (a >= self.lower_bound)  # noqa: E704

    def __repr__(self):
        return f"IntegerGreaterThan(lower_bound={self.lower_bound})"


class _GreaterThan(Constraint):
    def __init__(self, lower_bound):
        self.lower_bound = lower_bound

    def _ok(self, a): return _bound(self.lower_bound) < a           # noqa: E704

    def __repr__(self):
        return f"GreaterThan(lower_bound={self.lower_bound})"


class _GreaterThanEq(_GreaterThan):
    def _ok(self, a): return _bound(self.lower_bound) <= a          # noqa: E704

    def __repr__(self):
        return f"GreaterThanEq(lower_bound={self.lower_bound})"


class _LessThan(Constraint):
    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _ok(self, a): return a < _bound(self.upper_bound)           # noqa: E704

    def __repr__(self):
        return f"LessThan(upper_bound={self.upper_bound})"


class _Interval(Constraint):
    def __init__(self, lower_bound, upper_bound):
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _ok(self, a):
        return (_bound(self.lower_bound) <= a) & (a <= _bound(self.upper_bound))

    def __repr__(self):
        return (f"{type(self).__name__[1:]}(lower_bound={self.lower_bound}, "
                f"upper_bound={self.upper_bound})")


class _HalfOpenInterval(_Interval):
    def _ok(self, a):
        return (_bound(self.lower_bound) <= a) & (a < _bound(self.upper_bound))


def _bound(b):
    return _arr(b) if isinstance(b, Tensor) else b


class _Multinomial(Constraint):
    """Count vectors: nonnegative, summing to at most ``upper_bound`` (PyTorch's check)."""
    is_discrete, event_dim = True, 1

    def __init__(self, upper_bound):
        self.upper_bound = upper_bound

    def _ok(self, a):
        return (a >= 0).all(-1) & (a.sum(-1) <= _bound(self.upper_bound))

    def __repr__(self):
        return f"Multinomial(upper_bound={self.upper_bound})"


class _Simplex(Constraint):
    event_dim = 1

    def _ok(self, a):
        return (a >= 0).all(-1) & (np.abs(a.sum(-1) - 1) < 1e-6)


class _LowerTriangular(Constraint):
    event_dim = 2

    def _ok(self, a):
        return (np.tril(a) == a).all((-2, -1))


class _LowerCholesky(Constraint):
    event_dim = 2

    def _ok(self, a):
        return (np.tril(a) == a).all((-2, -1)) & (np.diagonal(a, 0, -2, -1) > 0).all(-1)


class _CorrCholesky(Constraint):
    """Lower Cholesky factors of correlation matrices: rows of unit length (within
    10 k eps, as PyTorch)."""
    event_dim = 2

    def _ok(self, a):
        tol = float(np.finfo(a.dtype if a.dtype.kind == "f" else np.float64).eps) \
            * a.shape[-1] * 10
        unit = (np.abs(np.linalg.norm(a, axis=-1) - 1.0) <= tol).all(-1)
        return _LowerCholesky()._ok(a) & unit


class _Square(Constraint):
    """Square matrices (the same verdict for every matrix of the batch)."""
    event_dim = 2

    def _ok(self, a):
        return np.full(a.shape[:-2], a.ndim >= 2 and a.shape[-1] == a.shape[-2])


class _Symmetric(_Square):
    """Symmetric square matrices (to 1e-6, PyTorch's isclose)."""

    def _ok(self, a):
        if not (a.ndim >= 2 and a.shape[-1] == a.shape[-2]):
            return _Square._ok(self, a)
        return np.isclose(a, np.swapaxes(a, -1, -2), atol=1e-6).all((-2, -1))


class _PositiveSemidefinite(_Symmetric):
    """Symmetric matrices with eigenvalues >= 0 (each matrix judged on both)."""

    def _ok(self, a):
        sym = _Symmetric._ok(self, a)
        if not (a.ndim >= 2 and a.shape[-1] == a.shape[-2]):
            return sym
        sym_a = (a + np.swapaxes(a, -1, -2)) / 2
        return sym & (np.linalg.eigvalsh(sym_a)[..., 0] >= 0)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def _ok(self, a):
        square = a.ndim >= 2 and a.shape[-1] == a.shape[-2]
        if not square:
            return np.zeros(a.shape[:-2], dtype=bool)
        sym = np.isclose(a, np.swapaxes(a, -1, -2), atol=1e-6).all((-2, -1))
        sym_a = (a + np.swapaxes(a, -1, -2)) / 2
        return sym & (np.linalg.eigvalsh(sym_a)[..., 0] > 0)


class _IndependentConstraint(Constraint):
    """``base_constraint`` with its rightmost ``reinterpreted_batch_ndims`` dims taken as
    part of one event (all must hold)."""

    def __init__(self, base_constraint, reinterpreted_batch_ndims):
        if not isinstance(base_constraint, Constraint) or reinterpreted_batch_ndims < 0:
            raise ValueError(f"constraints.independent: expected a Constraint and an int >= "
                             f"0, got {base_constraint!r} and {reinterpreted_batch_ndims!r}")
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    is_discrete = property(lambda self: self.base_constraint.is_discrete)
    event_dim = property(lambda self: self.base_constraint.event_dim
                         + self.reinterpreted_batch_ndims)

    def _ok(self, a):
        ok = np.asarray(self.base_constraint._ok(a))
        n = self.reinterpreted_batch_ndims
        return ok.all(tuple(range(-n, 0))) if n else ok

    def __repr__(self):
        return (f"IndependentConstraint({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


class _Cat(Constraint):
    """``cseq[i]`` on the i-th slice (of ``lengths[i]`` entries) of dim ``dim``, as the
    pieces of ``torch.cat`` (CatTransform's domain and codomain)."""

    def __init__(self, cseq, dim=0, lengths=None):
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("constraints.cat: every element of cseq must be a Constraint")
        self.lengths = [1] * len(self.cseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.cseq):
            raise ValueError(f"constraints.cat: lengths ({len(self.lengths)}) must match "
                             f"cseq ({len(self.cseq)})")
        self.dim = dim

    is_discrete = property(lambda self: any(c.is_discrete for c in self.cseq))
    event_dim = property(lambda self: max(c.event_dim for c in self.cseq))

    def _ok(self, a):
        if not -a.ndim <= self.dim < a.ndim:
            raise IndexError(f"constraints.cat: dim {self.dim} out of range for a value "
                             f"with {a.ndim} dims")
        bounds = np.cumsum([0] + self.lengths)
        return np.concatenate([np.asarray(c._ok(np.take(a, range(i, j), self.dim)))
                               for c, i, j in zip(self.cseq, bounds[:-1], bounds[1:])],
                              self.dim)


class _Stack(Constraint):
    """``cseq[i]`` on the i-th entry of dim ``dim``, as the pieces of ``torch.stack``
    (StackTransform's domain and codomain)."""

    def __init__(self, cseq, dim=0):
        self.cseq = list(cseq)
        if not all(isinstance(c, Constraint) for c in self.cseq):
            raise TypeError("constraints.stack: every element of cseq must be a Constraint")
        self.dim = dim

    is_discrete = property(lambda self: any(c.is_discrete for c in self.cseq))

    @property
    def event_dim(self):
        dim = max(c.event_dim for c in self.cseq)
        return dim + 1 if self.dim + dim < 0 else dim

    def _ok(self, a):
        if not -a.ndim <= self.dim < a.ndim:
            raise IndexError(f"constraints.stack: dim {self.dim} out of range for a value "
                             f"with {a.ndim} dims")
        return np.stack([np.asarray(c._ok(np.take(a, i, self.dim)))
                         for i, c in zip(range(a.shape[self.dim]), self.cseq)], self.dim)


class MixtureSameFamilyConstraint(Constraint):
    """The component's support checked on ``value`` with the component dim put back (the
    support of a MixtureSameFamily): valid where it holds for every component."""

    def __init__(self, base_constraint):
        if not isinstance(base_constraint, Constraint):
            raise TypeError(f"MixtureSameFamilyConstraint: base_constraint must be a "
                            f"Constraint, got {type(base_constraint).__name__}")
        self.base_constraint = base_constraint

    is_discrete = property(lambda self: self.base_constraint.is_discrete)
    event_dim = property(lambda self: self.base_constraint.event_dim)

    def _ok(self, a):
        n = self.event_dim
        if a.ndim < n:
            raise ValueError(f"MixtureSameFamilyConstraint: expected value.dim() >= {n} "
                             f"but got {a.ndim}")
        ok = np.asarray(self.base_constraint._ok(np.expand_dims(a, -1 - n)))
        return ok.reshape(ok.shape[:a.ndim - n] + (-1,)).all(-1)

    def __repr__(self):
        return f"MixtureSameFamilyConstraint({self.base_constraint!r})"


# PyTorch's public names: classes for the parameterised constraints, instances otherwise.
independent = _IndependentConstraint
dependent = _Dependent()
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
multinomial = _Multinomial
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
positive_semidefinite = _PositiveSemidefinite()
square = _Square()
symmetric = _Symmetric()
corr_cholesky = _CorrCholesky()
cat = _Cat
stack = _Stack
