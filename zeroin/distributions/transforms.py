"""``zeroin.distributions.transforms``: PyTorch's invertible maps between value spaces.

A transform ``t`` maps ``x`` to ``y = t(x)``; ``t.inv(y)`` maps back and
``t.log_abs_det_jacobian(x, y)`` is log |dy/dx| (summed over the event dims of
``t.domain``), which is what :class:`TransformedDistribution` subtracts from the base
density. With ``cache_size=1`` a transform remembers its last ``(x, y)``: ``t.inv(y)`` of
that very ``y`` returns the ``x`` it came from instead of recomputing it, so
``TanhTransform(cache_size=1)`` gives a finite ``log_prob`` for an action that rounded to
exactly ±1 (the SAC policy), as in PyTorch.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import (Tensor, atanh, cat, clamp, eye, linalg, logsigmoid, softmax, softplus, stack,
               tensor)
from . import constraints
from .utils import _sum_rightmost

__all__ = ["AbsTransform", "AffineTransform", "CatTransform", "ComposeTransform",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "ExpTransform",
           "IndependentTransform", "LowerCholeskyTransform", "PositiveDefiniteTransform",
           "PowerTransform", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
           "SoftplusTransform", "StackTransform", "StickBreakingTransform", "TanhTransform",
           "Transform", "identity_transform"]


class Transform:
    """Base class: subclasses define ``_call`` (x -> y), ``_inverse`` (y -> x) and
    ``log_abs_det_jacobian``, and set ``domain``, ``codomain``, ``bijective``, ``sign``."""

    bijective = False
    domain = codomain = constraints.real

    def __init__(self, cache_size=0):
        if cache_size not in (0, 1):
            raise ValueError(f"{type(self).__name__}: cache_size must be 0 or 1 (as in "
                             f"PyTorch), got {cache_size!r}")
        self._cache_size = cache_size
        self._cached_x_y = None, None
        self._inv = None

    @property
    def event_dim(self):
        """The event dims of domain and codomain, when they agree."""
        if self.domain.event_dim == self.codomain.event_dim:
            return self.domain.event_dim
        raise ValueError(f"{type(self).__name__}: domain and codomain event dims differ; "
                         f"use .domain.event_dim or .codomain.event_dim")

    @property
    def sign(self):
        """+1 or -1 for a monotone increasing or decreasing map."""
        raise NotImplementedError(f"{type(self).__name__} is not monotone: it has no sign")

    @property
    def inv(self):
        """The inverse transform (shares this one's cache)."""
        if self._inv is None:
            self._inv = _InverseTransform(self)
        return self._inv

    def with_cache(self, cache_size=1):
        """This transform with the given cache size (a copy when it differs)."""
        if self._cache_size == cache_size:
            return self
        if type(self).__init__ is Transform.__init__:
            return type(self)(cache_size=cache_size)
        raise NotImplementedError(f"{type(self).__name__}.with_cache is not implemented")

    def __call__(self, x):
        if self._cache_size == 0:
            return self._call(x)
        x_old, y_old = self._cached_x_y
        if x is x_old:
            return y_old
        y = self._call(x)
        self._cached_x_y = x, y
        return y

    def _inv_call(self, y):
        if self._cache_size == 0:
            return self._inverse(y)
        x_old, y_old = self._cached_x_y
        if y is y_old:
            return x_old
        x = self._inverse(y)
        self._cached_x_y = x, y
        return x

    def _call(self, x):
        raise NotImplementedError(f"{type(self).__name__} has no forward map")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} has no inverse")

    def log_abs_det_jacobian(self, x, y):
        """log |dy/dx| at the pair (x, y = self(x))."""
        raise NotImplementedError(f"{type(self).__name__}.log_abs_det_jacobian is not "
                                  f"implemented (the map is not a bijection)")

    def forward_shape(self, shape):
        """The shape of ``self(x)`` for ``x`` of ``shape``."""
        return shape

    def inverse_shape(self, shape):
        """The shape of ``self.inv(y)`` for ``y`` of ``shape``."""
        return shape

    def __eq__(self, other):
        """Parameterless transforms are equal to any of their type (as in PyTorch); the
        others compare their parameters."""
        return type(other) is type(self) and self._params_equal(other)

    def _params_equal(self, other):
        return True

    def __hash__(self):
        return hash(type(self))                 # equal transforms share a type

    def __repr__(self):
        return type(self).__name__ + "()"


def _same(a, b):
    """Equal parameters: numbers by value, tensors by shape and values."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
                and bool(np.array_equal(a.detach().numpy(), b.detach().numpy())))
    return a == b


class _InverseTransform(Transform):
    """``t.inv``: swaps the roles of ``t``'s forward and inverse maps and domains."""

    def __init__(self, transform):
        super().__init__(cache_size=transform._cache_size)
        self._inv = transform

    domain = property(lambda self: self._inv.codomain)
    codomain = property(lambda self: self._inv.domain)
    bijective = property(lambda self: self._inv.bijective)
    sign = property(lambda self: self._inv.sign)
    inv = property(lambda self: self._inv)

    def with_cache(self, cache_size=1):
        return self._inv.with_cache(cache_size).inv

    def _params_equal(self, other):
        return self._inv == other._inv

    def __call__(self, x):
        return self._inv._inv_call(x)

    def log_abs_det_jacobian(self, x, y):
        return -self._inv.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self._inv.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self._inv.forward_shape(shape)

    def __repr__(self):
        return f"{self._inv!r}.inv"


class ComposeTransform(Transform):
    """``parts`` applied in order (``parts[0]`` first); log-Jacobians add up, each summed
    over the event dims the composition adds beyond the part's own."""

    def __init__(self, parts, cache_size=0):
        parts = list(parts)
        for p in parts:
            if not isinstance(p, Transform):
                raise TypeError(f"ComposeTransform: parts must be Transforms, got "
                                f"{type(p).__name__}")
        if cache_size:
            parts = [p.with_cache(cache_size) for p in parts]
        super().__init__(cache_size=cache_size)
        self.parts = parts

    @property
    def domain(self):
        if not self.parts:
            return constraints.real
        domain, event_dim = self.parts[0].domain, self.parts[-1].codomain.event_dim
        for part in reversed(self.parts):
            event_dim += part.domain.event_dim - part.codomain.event_dim
            event_dim = max(event_dim, part.domain.event_dim)
        if event_dim > domain.event_dim:
            domain = constraints.independent(domain, event_dim - domain.event_dim)
        return domain

    @property
    def codomain(self):
        if not self.parts:
            return constraints.real
        codomain, event_dim = self.parts[-1].codomain, self.parts[0].domain.event_dim
        for part in self.parts:
            event_dim += part.codomain.event_dim - part.domain.event_dim
            event_dim = max(event_dim, part.codomain.event_dim)
        if event_dim > codomain.event_dim:
            codomain = constraints.independent(codomain, event_dim - codomain.event_dim)
        return codomain

    bijective = property(lambda self: all(p.bijective for p in self.parts))

    @property
    def sign(self):
        s = 1
        for p in self.parts:
            s = s * p.sign
        return s

    @property
    def inv(self):
        if self._inv is None:
            self._inv = ComposeTransform([p.inv for p in reversed(self.parts)])
            self._inv._inv = self
        return self._inv

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else ComposeTransform(self.parts,
                                                                            cache_size)

    def _params_equal(self, other):
        return self.parts == other.parts

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def log_abs_det_jacobian(self, x, y):
        if not self.parts:
            return x.new_zeros(x.shape) if isinstance(x, Tensor) else 0 * x
        xs = [x]
        for part in self.parts[:-1]:            # free when the parts are cached
            xs.append(part(xs[-1]))
        xs.append(y)
        total, event_dim = 0, self.domain.event_dim
        for part, a, b in zip(self.parts, xs[:-1], xs[1:]):
            total = total + _sum_rightmost(part.log_abs_det_jacobian(a, b),
                                           event_dim - part.domain.event_dim)
            event_dim += part.codomain.event_dim - part.domain.event_dim
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return shape

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return shape

    def __repr__(self):
        return "ComposeTransform(" + ", ".join(map(repr, self.parts)) + ")"


identity_transform = ComposeTransform([])


class ExpTransform(Transform):
    """y = exp(x)."""
    domain, codomain, bijective, sign = constraints.real, constraints.positive, True, 1
    def _call(self, x): return x.exp()                                  # noqa: E704
    def _inverse(self, y): return y.log()                               # noqa: E704
    def log_abs_det_jacobian(self, x, y): return x                      # noqa: E704


class TanhTransform(Transform):
    """y = tanh(x), onto (-1, 1); log |dy/dx| = 2 (log 2 - x - softplus(-2x)), stable
    for large |x|."""
    domain, codomain = constraints.real, constraints.interval(-1.0, 1.0)
    bijective, sign = True, 1
    def _call(self, x): return x.tanh()                                 # noqa: E704
    def _inverse(self, y): return atanh(y)                              # noqa: E704

    def log_abs_det_jacobian(self, x, y):
        return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


class SigmoidTransform(Transform):
    """y = sigmoid(x), kept inside [tiny, 1 - eps] as PyTorch does."""
    domain, codomain = constraints.real, constraints.unit_interval
    bijective, sign = True, 1

    def _call(self, x):
        f = np.finfo(x.dtype)
        return clamp(x.sigmoid(), min=float(f.tiny), max=1.0 - float(f.eps))

    def _inverse(self, y):
        f = np.finfo(y.dtype)
        y = clamp(y, min=float(f.tiny), max=1.0 - float(f.eps))
        return y.log() - (-y).log1p()

    def log_abs_det_jacobian(self, x, y):
        return -softplus(-x) - softplus(x)


class SoftplusTransform(Transform):
    """y = log(1 + exp(x)), onto the positive reals."""
    domain, codomain, bijective, sign = constraints.real, constraints.positive, True, 1
    def _call(self, x): return softplus(x)                              # noqa: E704
    def _inverse(self, y): return (-(-y).expm1()).log() + y             # noqa: E704
    def log_abs_det_jacobian(self, x, y): return -softplus(-x)          # noqa: E704


class AbsTransform(Transform):
    """y = |x| (not a bijection: ``inv`` returns y, there is no log-Jacobian)."""
    domain, codomain = constraints.real, constraints.positive
    def _call(self, x): return x.abs()                                  # noqa: E704
    def _inverse(self, y): return y                                     # noqa: E704


def _sign(v):
    return (v > 0) - (v < 0) if isinstance(v, numbers.Number) else v.sign()


def _shape_of(v):
    return tuple(v.shape) if isinstance(v, Tensor) else ()


def _broadcast_shape(op, *shapes):
    try:
        return type(shapes[0])(np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise ValueError(f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} do "
                         f"not broadcast") from None


class PowerTransform(Transform):
    """y = x ** exponent on the positive reals (``exponent`` a number or tensor)."""
    domain, codomain, bijective = constraints.positive, constraints.positive, True

    def __init__(self, exponent, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.exponent = exponent

    sign = property(lambda self: _sign(self.exponent))

    def with_cache(self, cache_size=1):
        return self if self._cache_size == cache_size else PowerTransform(self.exponent,
                                                                          cache_size)

    def _params_equal(self, other):
        return _same(self.exponent, other.exponent)

    def _call(self, x): return x.pow(self.exponent)                     # noqa: E704
    def _inverse(self, y): return y.pow(1 / self.exponent)              # noqa: E704

    def log_abs_det_jacobian(self, x, y):
        return (self.exponent * y / x).abs().log()

    def forward_shape(self, shape):
        return _broadcast_shape("PowerTransform", shape, _shape_of(self.exponent))

    inverse_shape = forward_shape

    def __repr__(self):
        return f"PowerTransform(exponent={self.exponent!r})"


class AffineTransform(Transform):
    """y = loc + scale * x; ``event_dim`` > 0 makes the log-Jacobian sum over that many
    rightmost dims (one event)."""
    bijective = True

    def __init__(self, loc, scale, event_dim=0, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.loc, self.scale, self._event_dim = loc, scale, event_dim

    @property
    def event_dim(self):
        return self._event_dim

    @property
    def domain(self):
        if self._event_dim == 0:
            return constraints.real
        return constraints.independent(constraints.real, self._event_dim)

    codomain = domain
    sign = property(lambda self: _sign(self.scale))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return AffineTransform(self.loc, self.scale, self._event_dim, cache_size)

    def _params_equal(self, other):
        return (_same(self.loc, other.loc) and _same(self.scale, other.scale)
                and self._event_dim == other._event_dim)

    def _call(self, x): return self.loc + self.scale * x                # noqa: E704
    def _inverse(self, y): return (y - self.loc) / self.scale           # noqa: E704

    def log_abs_det_jacobian(self, x, y):
        shape = tuple(x.shape)
        if isinstance(self.scale, numbers.Number):
            result = x.new_full(shape, math.log(abs(self.scale)))
        else:
            result = self.scale.abs().log()
        if self._event_dim:
            result = result.reshape(tuple(result.shape[:-self._event_dim]) + (-1,)).sum(-1)
            shape = shape[:-self._event_dim]
        return result.expand(shape)

    def forward_shape(self, shape):
        return _broadcast_shape("AffineTransform", shape, _shape_of(self.loc),
                                _shape_of(self.scale))

    inverse_shape = forward_shape

    def __repr__(self):
        return f"AffineTransform(loc={self.loc!r}, scale={self.scale!r})"


class SoftmaxTransform(Transform):
    """y = softmax(x) over the last dim, onto the simplex (not a bijection: ``inv`` gives
    log y, one of the many x with that softmax)."""
    domain, codomain = constraints.real_vector, constraints.simplex
    def _call(self, x): return softmax(x, -1)                           # noqa: E704
    def _inverse(self, y): return y.log()                               # noqa: E704


def _offset_log(x, n):
    """log of (n + 1 - [1, 2, ..., n]): the stick-breaking shift of each coordinate."""
    return x.new_tensor(np.log(np.arange(n, 0, -1, dtype=np.float64)))


class StickBreakingTransform(Transform):
    """A bijection from R^(k-1) onto the k-simplex: each coordinate (shifted so that 0
    maps to the uniform point) takes a sigmoid share of the stick still left."""
    domain, codomain, bijective = constraints.real_vector, constraints.simplex, True

    def _call(self, x):
        z = SigmoidTransform()._call(x - _offset_log(x, x.shape[-1]))
        ones = z.new_ones(tuple(z.shape[:-1]) + (1,))
        return cat([z, ones], -1) * cat([ones, (1 - z).cumprod(-1)], -1)

    def _inverse(self, y):
        y_crop = y[..., :-1]
        sf = clamp(1 - y_crop.cumsum(-1), min=float(np.finfo(y.dtype).tiny))
        return y_crop.log() - sf.log() + _offset_log(y, y.shape[-1] - 1)

    def log_abs_det_jacobian(self, x, y):
        x = x - _offset_log(x, x.shape[-1])
        return (-x + logsigmoid(x) + y[..., :-1].log()).sum(-1)

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("StickBreakingTransform: too few dimensions on input (needs a "
                             "last dim of size k - 1)")
        return type(shape)(tuple(shape[:-1]) + (shape[-1] + 1,))

    def inverse_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("StickBreakingTransform.inv: too few dimensions on input")
        return type(shape)(tuple(shape[:-1]) + (shape[-1] - 1,))


class IndependentTransform(Transform):
    """``base_transform`` with its rightmost ``reinterpreted_batch_ndims`` dims read as
    one event: the log-Jacobian sums over them."""

    def __init__(self, base_transform, reinterpreted_batch_ndims, cache_size=0):
        if not isinstance(base_transform, Transform):
            raise TypeError(f"IndependentTransform: base_transform must be a Transform, got "
                            f"{type(base_transform).__name__}")
        super().__init__(cache_size=cache_size)
        self.base_transform = base_transform.with_cache(cache_size)
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    domain = property(lambda self: constraints.independent(self.base_transform.domain,
                                                           self.reinterpreted_batch_ndims))
    codomain = property(lambda self: constraints.independent(
        self.base_transform.codomain, self.reinterpreted_batch_ndims))
    bijective = property(lambda self: self.base_transform.bijective)
    sign = property(lambda self: self.base_transform.sign)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return IndependentTransform(self.base_transform, self.reinterpreted_batch_ndims,
                                    cache_size)

    def _params_equal(self, other):
        return (self.base_transform == other.base_transform
                and self.reinterpreted_batch_ndims == other.reinterpreted_batch_ndims)

    def _call(self, x): return self.base_transform(x)                   # noqa: E704
    def _inverse(self, y): return self.base_transform.inv(y)            # noqa: E704

    def log_abs_det_jacobian(self, x, y):
        return _sum_rightmost(self.base_transform.log_abs_det_jacobian(x, y),
                              self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)

    def __repr__(self):
        return f"IndependentTransform({self.base_transform!r}, {self.reinterpreted_batch_ndims})"


class ReshapeTransform(Transform):
    """Reshapes the rightmost ``in_shape`` dims to ``out_shape`` (same number of entries);
    the log-Jacobian is 0."""
    bijective = True

    def __init__(self, in_shape, out_shape, cache_size=0):
        self.in_shape, self.out_shape = tuple(in_shape), tuple(out_shape)
        if math.prod(self.in_shape) != math.prod(self.out_shape):
            raise ValueError(f"ReshapeTransform: in_shape {self.in_shape} and out_shape "
                             f"{self.out_shape} have different numbers of elements")
        super().__init__(cache_size=cache_size)

    domain = property(lambda self: constraints.independent(constraints.real,
                                                           len(self.in_shape)))
    codomain = property(lambda self: constraints.independent(constraints.real,
                                                             len(self.out_shape)))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return ReshapeTransform(self.in_shape, self.out_shape, cache_size)

    def _params_equal(self, other):
        return (self.in_shape, self.out_shape) == (other.in_shape, other.out_shape)

    def _call(self, x):
        return x.reshape(tuple(x.shape[:x.dim() - len(self.in_shape)]) + self.out_shape)

    def _inverse(self, y):
        return y.reshape(tuple(y.shape[:y.dim() - len(self.out_shape)]) + self.in_shape)

    def log_abs_det_jacobian(self, x, y):
        return x.new_zeros(tuple(x.shape[:x.dim() - len(self.in_shape)]))

    def forward_shape(self, shape):
        return self._reshape("", shape, self.in_shape, self.out_shape)

    def inverse_shape(self, shape):
        return self._reshape(".inv", shape, self.out_shape, self.in_shape)

    @staticmethod
    def _reshape(op, shape, old, new):
        if len(shape) < len(old):
            raise ValueError(f"ReshapeTransform{op}: too few dimensions on input: shape "
                             f"{tuple(shape)}, needs the rightmost to be {old}")
        cut = len(shape) - len(old)
        if tuple(shape[cut:]) != old:
            raise ValueError(f"ReshapeTransform{op}: shape mismatch: expected the rightmost "
                             f"dims {old} but got {tuple(shape[cut:])}")
        return type(shape)(tuple(shape[:cut]) + new)

    def __repr__(self):
        return f"ReshapeTransform(in_shape={self.in_shape}, out_shape={self.out_shape})"


def _tril_index(n, diag):
    """The (row-major) flat positions of the entries i, j < i + diag + 1 of an n x n
    matrix (PyTorch's tril_matrix_to_vec order)."""
    i, j = np.indices((n, n))
    return np.flatnonzero(j < i + diag + 1)


def _tril_to_vec(mat, diag):
    n = mat.shape[-1]
    flat = mat.reshape(tuple(mat.shape[:-2]) + (n * n,))
    return flat.index_select(-1, tensor(_tril_index(n, diag)))


def _vec_to_tril(vec, diag):
    """The n x n matrix with ``vec`` on its entries j < i + diag + 1 (row order), zeros
    elsewhere (gradients reach vec)."""
    m = vec.shape[-1]
    n = round((-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag)
                                  * (diag + 1)) ** 0.5) / 2)
    pos = _tril_index(n, diag)
    if pos.size != m:
        raise ValueError(f"the size of the last dimension is {m}, which cannot be the lower "
                         f"triangular part of a square matrix")
    index = np.full(n * n, m)                   # m: the zero appended below
    index[pos] = np.arange(m)
    padded = cat([vec, vec.new_zeros(tuple(vec.shape[:-1]) + (1,))], -1)
    return padded.index_select(-1, tensor(index)).reshape(tuple(vec.shape[:-1]) + (n, n))


class CorrCholeskyTransform(Transform):
    """A bijection from R^(D(D-1)/2) onto the Cholesky factors of D x D correlation
    matrices (LKJ's): tanh of each entry, filled into the strict lower triangle row by
    row, each row then scaled by a stick-breaking so it has unit length."""
    domain, codomain, bijective = constraints.real_vector, constraints.corr_cholesky, True

    def _call(self, x):
        eps = float(np.finfo(x.dtype).eps)
        r = _vec_to_tril(x.tanh().clamp(min=-1 + eps, max=1 - eps), -1)
        z1m_cumprod_sqrt = (1 - r ** 2).sqrt().cumprod(-1)
        ones = r.new_ones(tuple(r.shape[:-1]) + (1,))
        r = r + eye(r.shape[-1], dtype=r.dtype)
        return r * cat([ones, z1m_cumprod_sqrt[..., :-1]], -1)

    def _inverse(self, y):
        y_cumsum = 1 - (y * y).cumsum(-1)
        ones = y.new_ones(tuple(y.shape[:-1]) + (1,))
        shifted = cat([ones, y_cumsum[..., :-1]], -1)
        t = _tril_to_vec(y, -1) / _tril_to_vec(shifted, -1).sqrt()
        return (t.log1p() - (-t).log1p()) / 2

    def log_abs_det_jacobian(self, x, y):
        y1m_cumsum = 1 - (y * y).cumsum(-1)
        stick_breaking = 0.5 * _tril_to_vec(y1m_cumsum, -2).log().sum(-1)
        tanh = -2 * (x + softplus(-2 * x) - math.log(2.0)).sum(-1)
        return stick_breaking + tanh

    def forward_shape(self, shape):
        if len(shape) < 1:
            raise ValueError("CorrCholeskyTransform: too few dimensions on input")
        n = shape[-1]
        d = round((0.25 + 2 * n) ** 0.5 + 0.5)
        if d * (d - 1) // 2 != n:
            raise ValueError(f"CorrCholeskyTransform: input of size {n} is not a flattened "
                             f"strict lower triangle (D (D - 1) / 2 entries)")
        return type(shape)(tuple(shape[:-1]) + (d, d))

    def inverse_shape(self, shape):
        if len(shape) < 2:
            raise ValueError("CorrCholeskyTransform.inv: too few dimensions on input")
        if shape[-2] != shape[-1]:
            raise ValueError(f"CorrCholeskyTransform.inv: input is not square: "
                             f"{tuple(shape)}")
        d = shape[-1]
        return type(shape)(tuple(shape[:-2]) + (d * (d - 1) // 2,))


class LowerCholeskyTransform(Transform):
    """An unconstrained square matrix onto a lower triangular one with a positive
    diagonal: the strict lower triangle kept, the diagonal exponentiated (not a bijection:
    the upper triangle is dropped)."""
    domain, codomain = constraints.independent(constraints.real, 2), constraints.lower_cholesky

    def _call(self, x):
        return x.tril(-1) + x.diagonal(dim1=-2, dim2=-1).exp().diag_embed()

    def _inverse(self, y):
        return y.tril(-1) + y.diagonal(dim1=-2, dim2=-1).log().diag_embed()


class PositiveDefiniteTransform(Transform):
    """An unconstrained square matrix onto a positive definite one: L L^T for L its
    LowerCholeskyTransform (not a bijection)."""
    domain = constraints.independent(constraints.real, 2)
    codomain = constraints.positive_definite

    def _call(self, x):
        L = LowerCholeskyTransform()(x)
        return L @ L.mT

    def _inverse(self, y):
        return LowerCholeskyTransform().inv(linalg.cholesky(y))


def _check_dim(op, what, z, dim, size, expected):
    if not -z.dim() <= dim < z.dim():
        raise IndexError(f"{op}: dim {dim} out of range for {what} with {z.dim()} dims")
    if z.shape[dim] != size:
        raise ValueError(f"{op}: {what}.size({dim}) = {z.shape[dim]} must equal "
                         f"{expected} {size}")


class CatTransform(Transform):
    """``tseq[i]`` applied to the i-th slice (``lengths[i]`` entries, 1 each by default)
    of dim ``dim``, the results concatenated (as ``torch.cat``)."""

    def __init__(self, tseq, dim=0, lengths=None, cache_size=0):
        tseq = list(tseq)
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("CatTransform: every element of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms = tseq
        self.lengths = [1] * len(tseq) if lengths is None else list(lengths)
        if len(self.lengths) != len(self.transforms):
            raise ValueError(f"CatTransform: lengths ({len(self.lengths)}) must match "
                             f"transforms ({len(self.transforms)})")
        self.dim = dim

    event_dim = property(lambda self: max(t.event_dim for t in self.transforms))
    length = property(lambda self: sum(self.lengths))
    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.cat([t.domain for t in self.transforms],
                                                   self.dim, self.lengths))
    codomain = property(lambda self: constraints.cat([t.codomain for t in self.transforms],
                                                     self.dim, self.lengths))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CatTransform(self.transforms, self.dim, self.lengths, cache_size)

    def _params_equal(self, other):
        return (self.transforms, self.dim, self.lengths) == (other.transforms, other.dim,
                                                             other.lengths)

    def _slices(self, z, what):
        _check_dim("CatTransform", what, z, self.dim, self.length, "length")
        starts = np.cumsum([0] + self.lengths[:-1])
        return [z.narrow(self.dim, int(s), n) for s, n in zip(starts, self.lengths)]

    def _call(self, x):
        return cat([t(v) for t, v in zip(self.transforms, self._slices(x, "x"))], self.dim)

    def _inverse(self, y):
        return cat([t.inv(v) for t, v in zip(self.transforms, self._slices(y, "y"))],
                   self.dim)

    def log_abs_det_jacobian(self, x, y):
        parts = []
        for t, a, b in zip(self.transforms, self._slices(x, "x"), self._slices(y, "y")):
            parts.append(_sum_rightmost(t.log_abs_det_jacobian(a, b),
                                        self.event_dim - t.event_dim))
        dim = (self.dim - x.dim() if self.dim >= 0 else self.dim) + self.event_dim
        return cat(parts, dim) if dim < 0 else sum(parts)

    def __repr__(self):
        return f"CatTransform({self.transforms!r}, dim={self.dim}, lengths={self.lengths})"


class StackTransform(Transform):
    """``tseq[i]`` applied to the i-th entry of dim ``dim``, the results stacked (as
    ``torch.stack``)."""

    def __init__(self, tseq, dim=0, cache_size=0):
        tseq = list(tseq)
        if not all(isinstance(t, Transform) for t in tseq):
            raise TypeError("StackTransform: every element of tseq must be a Transform")
        if cache_size:
            tseq = [t.with_cache(cache_size) for t in tseq]
        super().__init__(cache_size=cache_size)
        self.transforms, self.dim = tseq, dim

    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    domain = property(lambda self: constraints.stack([t.domain for t in self.transforms],
                                                     self.dim))
    codomain = property(lambda self: constraints.stack([t.codomain for t in self.transforms],
                                                       self.dim))

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return StackTransform(self.transforms, self.dim, cache_size)

    def _params_equal(self, other):
        return (self.transforms, self.dim) == (other.transforms, other.dim)

    def _slices(self, z, what):
        _check_dim("StackTransform", what, z, self.dim, len(self.transforms),
                   "len(transforms)")
        return [z.select(self.dim, i) for i in range(z.shape[self.dim])]

    def _call(self, x):
        return stack([t(v) for t, v in zip(self.transforms, self._slices(x, "x"))], self.dim)

    def _inverse(self, y):
        return stack([t.inv(v) for t, v in zip(self.transforms, self._slices(y, "y"))],
                     self.dim)

    def log_abs_det_jacobian(self, x, y):
        return stack([t.log_abs_det_jacobian(a, b) for t, a, b in zip(
            self.transforms, self._slices(x, "x"), self._slices(y, "y"))], self.dim)

    def __repr__(self):
        return f"StackTransform({self.transforms!r}, dim={self.dim})"


class CumulativeDistributionTransform(Transform):
    """x -> ``distribution.cdf(x)``, onto [0, 1] (a copula's margins); the inverse is
    ``icdf`` and the log-Jacobian the log density."""
    bijective, codomain, sign = True, constraints.unit_interval, 1

    def __init__(self, distribution, cache_size=0):
        super().__init__(cache_size=cache_size)
        self.distribution = distribution

    domain = property(lambda self: self.distribution.support)

    def with_cache(self, cache_size=1):
        if self._cache_size == cache_size:
            return self
        return CumulativeDistributionTransform(self.distribution, cache_size)

    def _params_equal(self, other):
        return self.distribution is other.distribution

    def _call(self, x): return self.distribution.cdf(x)                 # noqa: E704
    def _inverse(self, y): return self.distribution.icdf(y)             # noqa: E704
    def log_abs_det_jacobian(self, x, y): return self.distribution.log_prob(x)  # noqa: E704

    def __repr__(self):
        return f"CumulativeDistributionTransform({self.distribution!r})"
