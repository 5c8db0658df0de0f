"""More of PyTorch's tensor functions and methods, composed from the ops (no rules of their
own): stacking, nan-reductions, products, scatter_reduce, index_fill/index_copy/index_put,
bitwise ops, and the in-place shape methods (``t_``, ``unsqueeze_``...). Each is bound on
:class:`~zeroin.Tensor` where PyTorch has the method, and exported as ``zeroin.<name>``
where PyTorch has ``torch.<name>``, as in :mod:`zeroin._tensor_api`.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from . import ops as _ops
from . import _torch_ops as _x
from ._tensor import Tensor, _clean_index, _leaf, _raw
from ._tensor_api import (_export, _inplace, _inplace_method, _method, _operator, bmm, dot,
                          meshgrid, mm, same_dtype, tensor_split, tensordot)
from .dtypes import as_dtype
from .errors import DtypeError, ShapeError
from .function import Function, no_derivative


def _t(x):
    return _ops._t(x)


def _both(name, fn):
    """Bind ``fn`` as the method and export it as ``zeroin.<name>``."""
    setattr(Tensor, name, fn)
    return _export(fn, name)


# --- shapes and stacking -----------------------------------------------------------------

def _atleast(n, name):
    def f(*tensors):
        ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) \
            else tensors
        out = []
        for t in ts:
            t = _t(t)
            out.append(t if t.ndim >= n else _ops.reshape(t, _atleast_shape(n, t.shape)))
        return out[0] if len(tensors) == 1 and not isinstance(tensors[0], (list, tuple)) \
            else tuple(out)
    f.__name__ = name
    f.__doc__ = (f"The tensor(s) with at least {n} dimension(s) (sizes of 1 added as "
                 f"NumPy and PyTorch add them); several tensors or a list give a tuple.")
    return _export(f)


def _atleast_shape(n, shape):
    """NumPy's and PyTorch's rule: () -> (1, ...), (k,) -> (1, k) or (1, k, 1), (m, k) ->
    (m, k, 1)."""
    if not shape:
        return (1,) * n
    if n == 2 or len(shape) == 2:
        return (1,) + shape if n == 2 else shape + (1,)
    return (1,) + shape + (1,) if n == 3 else shape


atleast_1d, atleast_2d, atleast_3d = (_atleast(n, f"atleast_{n}d") for n in (1, 2, 3))


@_export
def hstack(tensors):
    """Join along dim 1 (dim 0 for 1-D tensors); 0-d ones count as 1-D."""
    ts = atleast_1d(list(tensors))
    return _ops.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


@_export
def vstack(tensors):
    """Join along dim 0, with 0-d and 1-D tensors as rows (``atleast_2d``)."""
    return _ops.concatenate(atleast_2d(list(tensors)), 0)


@_export
def dstack(tensors):
    """Join along dim 2 (depth), after ``atleast_3d``: (n,) is (1, n, 1), (m, n) is (m, n, 1)."""
    return _ops.concatenate(atleast_3d(list(tensors)), 2)


@_export
def column_stack(tensors):
    """Join as columns: 0-d and 1-D tensors become (n, 1) columns, then ``hstack``."""
    ts = [_t(t) for t in tensors]
    return hstack([_ops.reshape(t, -1, 1) if t.ndim <= 1 else t for t in ts])


@_method()
def ravel(input):  # noqa: A002
    """The elements as a 1-D tensor (a view when the layout allows)."""
    return _ops.reshape(input, -1)


_export(ravel)


@_export
def cartesian_prod(*tensors):
    """All tuples of one element from each 1-D tensor, as the rows of a (n, k) tensor (one
    tensor: itself)."""
    ts = [_t(t) for t in tensors]
    for t in ts:
        if t.ndim != 1:
            raise ShapeError(f"cartesian_prod: expects 1-D tensors, got shape {t.shape}")
    same_dtype("cartesian_prod", ts)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return _ops.stack([_ops.reshape(g, -1) for g in grids], 1)


@_export
def combinations(input, r=2, with_replacement=False):  # noqa: A002
    """The length-``r`` combinations of the elements of a 1-D tensor, as the rows of an
    (m, r) tensor (itertools' order); the gradient flows to the elements."""
    x = _t(input)
    if x.ndim != 1:
        raise ShapeError(f"combinations: expects a 1-D tensor, got shape {x.shape}")
    if r < 0:
        raise ValueError(f"combinations: r must be >= 0, got {r}")
    if r == 0:
        return _ops.getitem(x, np.zeros(0, np.int64))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(pick(range(x.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return _ops.getitem(x, idx)




# --- reductions ----------------------------------------------------------------------------

class MinMax(NamedTuple):
    """``(min, max)``, as PyTorch's ``torch.return_types.aminmax``."""
    min: Tensor
    max: Tensor


@_method()
def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    """``(min, max)`` over ``dim`` (all elements by default); ties share the gradient."""
    x = _t(input)
    if x.numel() == 0:
        raise RuntimeError(f"aminmax: cannot reduce the empty tensor of shape {x.shape} "
                           f"(no identity)")
    if dim is None:
        lo, hi = _ops.amin(x), _ops.amax(x)
        if keepdim:
            lo, hi = (_ops.reshape(v, (1,) * x.ndim) for v in (lo, hi))
        return MinMax(lo, hi)
    return MinMax(_ops.amin(x, dim, keepdim), _ops.amax(x, dim, keepdim))


def _floating(name, x):
    if x.dtype.kind not in "fc":
        raise DtypeError(f"{name}: expects a floating point tensor, got {x.dtype}; convert "
                         f"first (x.float() or x.double())")
    return x


@_method()
def nanmean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The mean over ``dim`` of the elements that are not NaN (their gradient is 0)."""
    x = _floating("nanmean", _t(input) if dtype is None else _t(input).to(dtype))
    count = _leaf(~np.isnan(x.data)).sum(dim=dim, keepdim=keepdim)
    return _x.nansum(x, dim, keepdim) / count.to(x.dtype)


class NanmedianOp(_x.MedianOp):
    """The lower median of all values that are not NaN (NaN if none are); the gradient is
    shared as median's."""
    __slots__ = ()
    name = "nanmedian"
    def forward(self, x):
        flat = x.reshape(-1)
        if not flat.size and flat.dtype.kind in "fc":     # PyTorch: NaN (as median's)
            return np.full((), np.nan, flat.dtype)
        return flat[int(_nanmedian_index(flat, 0)[0])]


@_method()
def nanmedian(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median of the values that are not NaN (NaN if there are none), of all
    values or ``(values, indices)`` along ``dim``; the gradient of the median of all goes
    to the elements equal to it, along ``dim`` to the picked one."""
    x = _t(input)
    if dim is None:
        return NanmedianOp()(x)
    if x.ndim == 0:
        _ops._check_axis("nanmedian", x, dim)
        return _ops.values_indices("nanmedian", x * 1, _leaf(np.zeros((), np.int64)))
    d = _ops._check_axis("nanmedian", x, dim) % x.ndim
    return _x._picked("nanmedian", x, _nanmedian_index(x.data, d), d, keepdim)


def _nanmedian_index(a, d):
    """Where the lower median of the non-NaN values of ``a`` along ``d`` is (size 1 along
    ``d``); the first NaN where all are NaN."""
    order = np.argsort(a, axis=d, kind="stable")        # NaNs last, in their order
    k = (~np.isnan(a)).sum(axis=d, keepdims=True) if a.dtype.kind in "fc" else \
        np.full(a.shape[:d] + (1,) + a.shape[d + 1:], a.shape[d])
    pos = np.where(k > 0, (k - 1) // 2, 0)
    return np.take_along_axis(order, pos, axis=d)


for _f in (aminmax, nanmean, nanmedian):
    _export(_f)


@_method()
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The values with runs of equal neighbours kept once (slices along ``dim``); with
    ``return_inverse`` / ``return_counts`` the tuple ``(values, inverse, counts)`` of those
    asked for. The values require grad when the input does, but have no derivative (as in
    PyTorch)."""
    x = _t(input)
    d = None if dim is None else _ops._check_dim("unique_consecutive", x, dim)
    a = np.asarray(_raw(x))
    change, starts, n = _runs(a, d)
    out = [no_derivative("unique_consecutive", lambda a: _runs(a, d, values=True), x)]
    if return_inverse:
        inv = np.cumsum(np.concatenate([[0], change])).astype(np.int64)[:n]
        out.append(_leaf(inv.reshape(a.shape) if dim is None else inv))
    if return_counts:
        out.append(_leaf(np.diff(np.append(starts, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def _runs(a, d, values=False):
    """Where runs of equal neighbours of ``a`` (elements, or slices along ``d``) change,
    where each run starts and how many there are; with ``values``, each run's value."""
    if d is None:
        flat = a.reshape(-1)
        change = flat[1:] != flat[:-1]
        n = flat.shape[0]
    else:
        rows = np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        change = (rows[1:] != rows[:-1]).any(axis=1)
        n = a.shape[d]
    starts = np.flatnonzero(np.concatenate([[n > 0], change]))
    if values:
        return flat[starts] if d is None else np.take(a, starts, axis=d)
    return change, starts, n


_export(unique_consecutive)


# --- elementwise -----------------------------------------------------------------------------

@_method()
def dist(input, other, p=2):  # noqa: A002
    """The ``p``-norm of ``input - other`` (broadcast)."""
    a, b = _t(input), _t(other)
    for v in (a, b):
        _floating("dist", v)
    return _x.norm(a - b, p=p)


def _nan_extreme(name, keep_first):
    def f(input, other):  # noqa: A002
        a, b = _t(input), _t(other)
        ra, rb = np.asarray(a.data), np.asarray(b.data)
        first = keep_first(ra, rb)
        if rb.dtype.kind in "fc":       # NaN only where both are NaN
            first = first | np.isnan(rb)
        return _ops.where(first, a, b)
    f.__name__ = name
    f.__doc__ = (f"Elementwise {name[1:]}imum that ignores NaN (NaN only where both are); "
                 f"ties give the gradient to ``input``, as in PyTorch.")
    return _both(name, f)


fmax = _nan_extreme("fmax", np.greater_equal)
fmin = _nan_extreme("fmin", np.less_equal)


@_method()
def float_power(input, exponent):  # noqa: A002
    """``input ** exponent`` computed in float64 (complex128 for complex operands)."""
    complex_ = any(np.asarray(_raw(v)).dtype.kind == "c" for v in (input, exponent))
    dt = np.dtype(np.complex128 if complex_ else np.float64)
    base = _t(input).to(dt) if isinstance(input, Tensor) else _t(np.asarray(input, dt))
    exp = exponent.to(dt) if isinstance(exponent, Tensor) else \
        (complex(exponent) if dt.kind == "c" else float(exponent))
    return _ops.pow(base, exp)


@_export
def rsub(input, other, *, alpha=1):  # noqa: A002
    """``other - alpha * input`` (subtraction with the operands reversed)."""
    return _ops.sub(other, input, alpha=alpha)


for _f in (dist, float_power):
    _export(_f)


class _IntegerOnly(DtypeError, NotImplementedError):
    """A bitwise op on floating point: PyTorch raises NotImplementedError (a RuntimeError)."""


def _bitwise(npf, name, symbol):
    def f(input, other):  # noqa: A002
        _ops.no_sequence(name, symbol, input, other)
        a, b = _raw(input), _raw(other)
        for v in (a, b):
            if np.asarray(v).dtype.kind in "fc":
                raise _IntegerOnly(f"{name}: only integer and bool tensors, got "
                                   f"{np.asarray(v).dtype}; for floats use "
                                   + ("logical_and / logical_or / logical_xor"
                                      if "shift" not in name else "x * 2 ** n"))
        return _leaf(np.asarray(npf(a, b)))
    f.__name__ = name
    f.__doc__ = f"Elementwise ``input {symbol} other`` of integer or bool tensors (no gradient)."
    return _both(name, f)


for _name, _npf, _sym, _op in (("bitwise_and", np.bitwise_and, "&", "and"),
                               ("bitwise_or", np.bitwise_or, "|", "or"),
                               ("bitwise_xor", np.bitwise_xor, "^", "xor"),
                               ("bitwise_left_shift", np.left_shift, "<<", "lshift"),
                               ("bitwise_right_shift", np.right_shift, ">>", "rshift")):
    _f = _bitwise(_npf, _name, _sym)
    setattr(Tensor, f"__{_op}__", _f)
    setattr(Tensor, f"__r{_op}__", (lambda g: lambda self, other: g(other, self))(_f))
for _op, _npf, _sym in (("lshift", np.left_shift, "<<"), ("rshift", np.right_shift, ">>")):
    setattr(Tensor, f"__i{_op}__", _operator(_npf, _sym, getattr(Tensor, f"__{_op}__")))


@_method()
def bitwise_not(input):  # noqa: A002
    """Elementwise ``~input``: bits inverted (integers), logical not (bool); no gradient."""
    d = np.asarray(_raw(_t(input)))
    if d.dtype.kind in "fc":
        raise _IntegerOnly(f"bitwise_not: only integer and bool tensors, got {d.dtype}; "
                           f"use logical_not or 1 - x")
    return _leaf(np.invert(d))


Tensor.__invert__ = bitwise_not
_export(bitwise_not)


@_export
def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` to ``to`` without going down a
    category (bool < integer < floating < complex)."""
    f, t = as_dtype(from_, "can_cast"), as_dtype(to, "can_cast")
    return _ops._category(f) <= _ops._category(t)


@_export
def broadcast_shapes(*shapes):
    """The shape that tensors of ``shapes`` broadcast to (ints count as 1-D shapes)."""
    from ._tensor_api import Size
    shapes = [(s,) if isinstance(s, (int, np.integer)) else tuple(s) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {', '.join(map(str, shapes))} do not "
                         f"broadcast (each dimension, aligned from the right, must match or "
                         f"be 1)") from None


@_export
def broadcast_tensors(*tensors):
    """The tensors broadcast to one shape (a tuple; each a recorded ``broadcast_to``)."""
    xs = [_t(x) for x in tensors]
    try:
        shape = np.broadcast_shapes(*(x.shape for x in xs))
    except ValueError:
        got = ", ".join(str(tuple(x.shape)) for x in xs)
        raise ShapeError(f"broadcast_tensors: shapes {got} do not broadcast (each dimension, "
                         f"aligned from the right, must match or be 1)") from None
    return tuple(_ops.broadcast_to(x, shape) for x in xs)


# --- products --------------------------------------------------------------------------------

def _scaled_sum(input, p, beta, alpha):  # noqa: A002
    """``beta * input + alpha * p``; with beta=0 ``input`` is ignored (NaN in it does not
    spread) but still gets its gradient, 0, as in PyTorch."""
    if beta == 0:
        x = _t(input)
        inp = _ops.where(np.zeros(x.shape, bool), x, 0)
    else:
        inp = input if beta == 1 else input * beta
    return inp + (p if alpha == 1 else p * alpha)


@_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * (mat1 @ mat2)`` (``input`` broadcast)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@_method()
def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * (mat @ vec)`` for a matrix and a vector."""
    m, v = _t(mat), _t(vec)
    if m.ndim != 2 or v.ndim != 1:
        raise ShapeError(f"addmv: expects a matrix and a vector, got shapes {m.shape} and "
                         f"{v.shape}")
    return _scaled_sum(input, _ops.matmul(m, v), beta, alpha)


@_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


@_method()
def addbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]`` (the products of a batch,
    summed to one matrix)."""
    a, b = _t(batch1), _t(batch2)
    if a.ndim != 3 or b.ndim != 3:
        raise _ops._DimError(f"addbmm: batch1 and batch2 must be 3-D (b, n, m) and (b, m, p), "
                         f"got shapes {a.shape} and {b.shape}")
    return _scaled_sum(input, bmm(a, b).sum(0), beta, alpha)


@_method()
def addr(input, vec1, vec2, *, beta=1, alpha=1):  # noqa: A002
    """``beta * input + alpha * outer(vec1, vec2)`` (``input`` broadcast)."""
    return _scaled_sum(input, Tensor.outer(_t(vec1), vec2), beta, alpha)


@_method()
def inner(input, other):  # noqa: A002
    """Sum of products over the last dimension of both (a product if either is 0-d)."""
    a, b = _t(input), _t(other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"inner: the last dimensions differ: shapes {a.shape} and {b.shape}")
    return tensordot(a, b, ([-1], [-1]))


@_method()
def kron(input, other):  # noqa: A002
    """The Kronecker product: each element of ``input`` times the whole of ``other``
    (shapes multiply dimension by dimension, the shorter one padded with 1s in front)."""
    a, b = _t(input), _t(other)
    nd = max(a.ndim, b.ndim)
    sa, sb = (1,) * (nd - a.ndim) + a.shape, (1,) * (nd - b.ndim) + b.shape
    ra = _ops.reshape(a, tuple(v for s in sa for v in (s, 1)))
    rb = _ops.reshape(b, tuple(v for s in sb for v in (1, s)))
    return _ops.reshape(ra * rb, tuple(i * j for i, j in zip(sa, sb)))


for _f in (addmm, addmv, baddbmm, addbmm, addr, inner, kron):
    _export(_f)
Tensor.ger = Tensor.outer
_export(Tensor.outer, "ger")


# --- indexing --------------------------------------------------------------------------------

@_method()
def take(input, index):  # noqa: A002
    """The elements at ``index`` of the tensor read as 1-D (negative indices count from
    the end); the result has the index's shape."""
    x = _t(input)
    idx = _x._index_array("take", index)
    n = x.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.min() if idx.min() < -n else idx.max()
        raise IndexError(f"take: index {bad} is out of range for a tensor of {n} elements "
                         f"(shape {x.shape}); valid indices are {-n}..{n - 1}")
    flat = _ops.reshape(x, -1)
    return _ops.reshape(_ops.getitem(flat, idx.reshape(-1) % max(n, 1)), idx.shape)


_export(take)


def _dim_index(name, x, dim, index, negative=False):
    """``dim`` made non-negative and ``index`` (0-d or 1-D integers) checked against it
    (``negative``: indices from -size count from the end, as index_fill's)."""
    d = _ops._check_dim(name, x, dim)
    idx = _x._index_array(name, index)
    if idx.ndim > 1:
        raise ShapeError(f"{name}: index must be 0-D or 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    if negative:
        n = x.shape[d] if x.ndim else 1
        idx = np.where((idx < 0) & (idx >= -n), idx + n, idx)
    return d, _x._check_range(name, idx, x, d)


@_method()
def index_fill(input, dim, index, value):  # noqa: A002
    """A copy of ``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a
    number or a 0-d tensor, which gets the gradient of those slices)."""
    x = _t(input)
    d, idx = _dim_index("index_fill", x, dim, index, negative=True)
    if isinstance(value, Tensor) and value.ndim:
        raise ShapeError(f"index_fill: value must be a number or a 0-d tensor, got shape "
                         f"{value.shape}")
    hit = np.zeros(x.shape[d] if x.ndim else 1, bool)
    hit[idx] = True
    mask = np.broadcast_to(hit.reshape((-1,) + (1,) * (x.ndim - d - 1)) if x.ndim else
                           hit.reshape(()), x.shape)
    return _x.masked_fill(x, mask, value)


@_method()
def index_copy(input, dim, index, source):  # noqa: A002
    """A copy of ``input`` with the slices of ``source`` written at ``index`` along ``dim``:
    ``out[index[i]] = source[i]`` for dim=0."""
    x, src = _t(input), _t(source)
    d, idx = _dim_index("index_copy", x, dim, index)
    want = x.shape[:d] + (idx.size,) + x.shape[d + 1:] if x.ndim else ()
    if tuple(src.shape) != want and not (x.ndim == 0 and src.numel() == 1):
        raise _ops._DimError(f"index_copy: source of shape {src.shape} does not fit: with "
                         f"{idx.size} indices along dim {d} of shape {x.shape} it must have "
                         f"shape {want}")
    if x.ndim == 0:
        return _ops.reshape(src, ()) * 1 if idx.size else x * 1
    return _ops.index_put(x, (slice(None),) * d + (idx,), src)


@_method()
def index_put(input, indices, values, accumulate=False):  # noqa: A002
    """A copy of ``input`` with ``values`` written at ``input[indices]`` (a tuple of index
    tensors), or added there with ``accumulate=True`` (repeats add up)."""
    x = _t(input)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got "
                        f"{type(indices).__name__}; write x.index_put((idx,), values)")
    where = _clean_index(tuple(indices))
    if not accumulate:
        return _ops.index_put(x, where, values)
    v = _t(values)
    shape = np.empty(x.shape, bool)[where].shape
    return x + _ops.index_add(_ops.broadcast_to(v.to(x.dtype), shape), where, x.shape)


for _f in (index_fill, index_copy, index_put):
    _export(_f)


_SCATTER_REDUCE = ("sum", "prod", "mean", "amax", "amin")


class ScatterReduceOp(Function):
    """scatter_reduce's "sum" (also mean's, before its division), "amax" and "amin" as one
    op on flat positions: ``np.add.at`` / ``np.maximum.at`` / ``np.minimum.at`` from the
    kept input (``pad`` where not ``own``). Sums add in the order the composed table's
    rows did (self, then src in order); 10-130x faster than gathering that table (with
    its sort) and reducing it, at (256, 512) into (256, 1024). Gradients: sum passes g;
    amax/amin share g among the ties (self and src elements equal to the result), as
    PyTorch (a self value left out by include_self=False still counts in the share, PyTorch's
    rule: the src ties then get less than g)."""
    __slots__ = ("reduce", "tgt", "spos", "own")
    name = "scatter_reduce"
    _UFUNC = {"sum": np.add, "amax": np.maximum, "amin": np.minimum}

    def __init__(self, reduce, tgt, spos, own):
        self.reduce, self.tgt, self.spos, self.own = reduce, tgt, spos, own

    def label(self): return f"scatter_reduce[{self.reduce}]"

    def forward(self, x, s):
        out = x.reshape(-1).copy()
        if not self.own.all():
            out[~self.own] = 0 if self.reduce == "sum" else \
                _extreme(x.dtype, self.reduce == "amin")
        with np.errstate(invalid="ignore"):                 # NaN propagates, unannounced
            self._UFUNC[self.reduce].at(out, self.tgt, s.reshape(-1)[self.spos])
        return out.reshape(x.shape)

    def backward(self, xp, g, out, x, s):
        nx, ns = self.needs_input_grad
        shape, dt = tuple(x.shape), _raw(x).dtype
        if self.reduce == "sum":
            wx, ws = self.own, None
        else:       # the ties' shares, constants as amax's; a left-out self value equal
            o = _raw(out).reshape(-1)       # to the result counts among them (its share
            ms = _raw(s).reshape(-1)[self.spos] == o[self.tgt]      # dropped), as PyTorch's
            tie = _raw(x).reshape(-1) == o
            count = tie + np.bincount(self.tgt, ms, minlength=o.size)
            with np.errstate(invalid="ignore", divide="ignore"):     # NaN results: NaN
                wx, ws = ((self.own & tie) / count).astype(dt), (ms / count[self.tgt]).astype(dt)
        gx = gs = None
        if nx:
            gx = (g if wx.all() else _ops._select(xp, g, wx.reshape(shape))) \
                if wx.dtype == bool else g * wx.reshape(shape)
        if ns:
            v = g.reshape(-1)[self.tgt]
            v = v if ws is None else v * ws
            n = int(np.prod(s.shape))
            full = self.spos.size == n and (n == 0 or self.spos[-1] == n - 1)
            gs = (v if full else xp.scatter(v, self.spos, (n,))).reshape(tuple(s.shape))
        return gx, gs


@_method()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    """A copy of ``input`` where each position ``index`` points at (along ``dim``) becomes
    the ``reduce`` ("sum", "prod", "mean", "amax", "amin") of the ``src`` elements sent
    there, and of its own value if ``include_self``. Gradients as PyTorch's (amax/amin:
    shared among ties)."""
    if reduce not in _SCATTER_REDUCE:
        hint = f" (write reduce='a{reduce}': PyTorch takes '{reduce}' only as a legacy alias " \
            f"whose gradient it refuses)" if reduce in ("max", "min") else ""
        raise _ops._ValueError(f"scatter_reduce: reduce must be one of {_SCATTER_REDUCE}, got "
                               f"{reduce!r}{hint}")
    x, s = _t(input), _t(src)
    d = _ops._check_dim("scatter_reduce", x, dim)
    idx = _x._check_range("scatter_reduce", _x._index_array("scatter_reduce", index), x, d)
    if x.ndim == 0 or (x.ndim == 1 and idx.ndim == 0):     # 0-d: 1-D, as in PyTorch
        out = scatter_reduce(_ops.reshape(x, (1,)) if x.ndim == 0 else x, 0, idx.reshape(-1),
                             _x._one(s), reduce, include_self=include_self)
        return _ops.reshape(out, x.shape)
    if idx.ndim != x.ndim or s.ndim != x.ndim or any(
            idx.shape[i] > s.shape[i] or (i != d and idx.shape[i] > x.shape[i])
            for i in range(x.ndim)):
        raise ShapeError(f"scatter_reduce: index of shape {idx.shape} must have the "
                         f"dimensions of input {x.shape} and src {s.shape}, and be no "
                         f"larger than src (nor than input except along dim {d})")
    if s.dtype != x.dtype:
        raise DtypeError(f"scatter_reduce: src has dtype {s.dtype} and input {x.dtype}; they "
                         f"must match (convert with src.to(input.dtype))")
    tgt, spos = _scatter_targets(x, s, idx, d)
    counts = np.bincount(tgt, minlength=x.numel())
    own = np.full(x.numel(), bool(include_self)) | (counts == 0)
    if reduce == "prod":
        return _reduce_rows(x, s, _reduce_table(x, s, tgt, spos, own, counts), _x.prod, 1)
    out = _ops._call2(ScatterReduceOp("sum" if reduce == "mean" else reduce, tgt, spos, own),
                      x, s)
    if reduce != "mean":
        return out
    c = _leaf((own + counts).astype(x.dtype).reshape(x.shape))
    return out / c if x.dtype.kind in "fc" else _ops.div(out, c, rounding_mode="floor")


def _extreme(dt, highest):
    """The dtype's highest (or lowest) value: inf, the integer limit, or True."""
    if dt.kind == "f":
        return np.inf if highest else -np.inf
    if dt.kind in "iu":
        return np.iinfo(dt).max if highest else np.iinfo(dt).min
    return highest


def _scatter_targets(x, s, idx, d):
    """Each index element's flat position in ``x`` and in ``src``, in src's order."""
    if not idx.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    own = np.arange(idx.shape[d]).reshape((-1,) + (1,) * (idx.ndim - 1 - d))
    return (_x._flat_along(tuple(x.shape), idx, d).reshape(-1),
            _x._flat_along(tuple(s.shape), np.broadcast_to(own, idx.shape), d).reshape(-1))


def _reduce_table(x, s, tgt, spos, own, counts):
    """For each position of ``x`` (flattened), the places in [x, src, pad] (flattened) of
    what is reduced into it (``own``: x's own value), padded with the last place."""
    P = x.numel()
    order = np.argsort(tgt, kind="stable")
    ts = tgt[order]
    rank = np.arange(ts.size) - np.searchsorted(ts, ts)
    table = np.full((P, counts.max(initial=0) + 1), P + s.numel(), np.int64)
    table[own, 0] = np.flatnonzero(own)
    table[ts, 1 + rank] = P + spos[order]
    return table


def _reduce_rows(x, s, table, fn, pad):
    """fn over the rows of [x, src, pad] gathered by ``table`` (prod: zeros' gradients)."""
    pool = _ops.concatenate([_ops.reshape(x, -1), _ops.reshape(s, -1),
                             _leaf(np.full(1, pad, x.dtype))])
    out = fn(_ops.getitem(pool, table), dim=1)
    return _ops.reshape(out.to(x.dtype), x.shape)


Tensor.scatter_reduce = scatter_reduce
_export(scatter_reduce)


# --- in place ------------------------------------------------------------------------------

for _name, _fn in (("scatter_add_", _x.scatter_add), ("scatter_reduce_", scatter_reduce),
                   ("index_fill_", index_fill), ("index_copy_", index_copy),
                   ("index_put_", index_put), ("clamp_min_", _ops.clip),
                   ("clamp_max_", lambda x, max: _ops.clip(x, None, max))):  # noqa: A006
    _inplace_method(_name, _fn)


def _view_method(name, fn):
    """``x.t_()``, ``x.unsqueeze_(0)``...: ``x`` itself becomes the view ``fn(x, ...)`` of
    its values (same memory, new shape), recorded as the other in-place methods are."""
    def method(self, *args, **kwargs):
        f = (lambda x, *a: fn(x, *a, **kwargs)) if kwargs else fn
        return _inplace(self, name, f, *args, view=True)
    method.__name__ = name
    method.__doc__ = f"In place: ``x.{name}(...)`` makes x ``x.{name[:-1]}(...)``; returns x."
    setattr(Tensor, name, method)


for _name, _fn in (("t_", lambda x: x.t()), ("unsqueeze_", _ops.unsqueeze),
                   ("squeeze_", lambda x, *d, **k: Tensor.squeeze(x, *d, **k)),
                   ("transpose_", _ops.transpose),
                   ("swapdims_", _ops.transpose), ("swapaxes_", _ops.transpose)):
    _view_method(_name, _fn)



# --- splitting, block matrices, searching, covariance -----------------------------------------

def _split_along(name, d, min_nd):
    """PyTorch's hsplit / vsplit / dsplit: tensor_split along dimension ``d`` (hsplit: 0
    for 1-D input), refusing a number of sections that does not divide the length."""
    def f(input, indices_or_sections):  # noqa: A002
        x = _t(input)
        if x.ndim < min_nd:
            raise ShapeError(f"{name}: needs a tensor with at least {min_nd} dimension(s), "
                             f"got shape {tuple(x.shape)}")
        dim = 0 if name == "hsplit" and x.ndim == 1 else d
        s = _raw(indices_or_sections)
        if np.ndim(s) == 0 and (int(s) < 1 or x.shape[dim] % int(s)):
            raise ShapeError(f"{name}: dimension {dim} of size {x.shape[dim]} is not divisible "
                             f"by {int(s)} sections; give a divisor, or the split indices")
        return tensor_split(x, indices_or_sections, dim)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Split along dimension {d} (tensor_split with equal sections only)."
    return f


for _name, _d, _nd in (("hsplit", 1, 1), ("vsplit", 0, 2), ("dsplit", 2, 3)):
    _both(_name, _split_along(_name, _d, _nd))


@_export
@_method()
def diagflat(input, offset=0):  # noqa: A002
    """The square matrix with the flattened input on its ``offset``-th diagonal."""
    return _x.diag_embed(_t(input).reshape(-1), offset)


@_export
def block_diag(*tensors):
    """The block-diagonal matrix of the tensors (0-d as 1 x 1, 1-D as one row)."""
    ts = [_t(x) for x in tensors]
    for x in ts:
        if x.ndim > 2:
            raise ShapeError(f"block_diag: inputs must have 2 or fewer dimensions, got shape "
                             f"{tuple(x.shape)}")
    # PyTorch's promotion (float32 with int64 is float32), not NumPy's (float64)
    ts = _ops._same_dtype([x.reshape(1, -1) if x.ndim < 2 else x for x in ts])
    cols = sum(x.shape[1] for x in ts)
    from ._tensor import get_default_dtype
    dtype = ts[0].dtype if ts else get_default_dtype()
    parts, c = [], 0
    for x in ts:
        parts.append(_x.pad(x.to(dtype), (c, cols - c - x.shape[1])))
        c += x.shape[1]
    return _ops.concatenate(parts, 0) if parts else _leaf(np.zeros((1, 0), dtype))


@_export
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each element is one of ``test_elements`` (a bool tensor, no gradient).
    Bool operands are refused, as PyTorch refuses them."""
    a, b = np.asarray(_raw(elements)), np.asarray(_raw(test_elements))
    for what, x in (("elements", a), ("test_elements", b)):
        if x.dtype == bool:
            raise DtypeError(f"isin: {what} is a bool {'tensor' if x.ndim else 'value'}; "
                             f"PyTorch's isin does not support bool: compare as integers, "
                             f"e.g. isin(x.long(), y.long()), or use x == y / x.logical_not()")
    return _leaf(np.asarray(np.isin(a, b, invert=invert)))


def _sides(name, right, side):
    if side not in (None, "left", "right"):
        raise _x._ArgumentError(f"{name}: side must be 'left' or 'right', got {side!r}")
    if side is not None and right and side == "left":
        raise _x._ArgumentError(f"{name}: side='left' and right=True contradict each other; "
                                f"give one of them")
    return side or ("right" if right else "left")


@_export
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,  # noqa: A002
                 sorter=None):
    """Where each value of ``input`` would go in ``sorted_sequence`` (along its last
    dimension, row by row for N-D) to keep it sorted; int64 indices, no gradient."""
    seq, v = np.asarray(_raw(sorted_sequence)), np.asarray(_raw(input))
    how = _sides("searchsorted", right, side)
    if sorter is not None:
        seq = np.take_along_axis(seq, np.asarray(_raw(sorter)), -1)
    if seq.ndim <= 1:
        out = np.searchsorted(seq, v, side=how)
    else:
        if seq.shape[:-1] != v.shape[:-1]:
            raise ShapeError(f"searchsorted: sorted_sequence {seq.shape} and input {v.shape} "
                             f"must have the same leading dimensions (all but the last)")
        rows = seq.reshape(-1, seq.shape[-1])
        vals = v.reshape(-1, v.shape[-1])
        out = np.stack([np.searchsorted(r, w, side=how) for r, w in zip(rows, vals)])
        out = out.reshape(v.shape)
    return _leaf(np.asarray(out, dtype=np.int32 if out_int32 else np.int64))


@_export
def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    """The bucket of each value among the 1-D ``boundaries`` (boundaries[i-1] < x <=
    boundaries[i]; with ``right``, boundaries[i-1] <= x < boundaries[i])."""
    b = np.asarray(_raw(boundaries))
    if b.ndim != 1:
        raise ShapeError(f"bucketize: boundaries must be 1-D, got shape {b.shape}")
    return searchsorted(b, input, out_int32=out_int32, right=right)


@_export
@_method()
def cov(input, *, correction=1, fweights=None, aweights=None):  # noqa: A002
    """The covariance matrix of the variables in the rows of ``input`` (observations in
    the columns), with PyTorch's frequency and observation weights."""
    x = _t(input)
    if x.ndim > 2:
        raise ShapeError(f"cov: input must have 2 or fewer dimensions (variables x "
                         f"observations), got shape {tuple(x.shape)}")
    vector = x.ndim < 2
    x = x.reshape(1, -1) if vector else x
    n = x.shape[1]
    w = None
    for name, v in (("fweights", fweights), ("aweights", aweights)):
        if v is not None:
            a = np.asarray(_raw(v))
            if a.shape != (n,):
                raise ShapeError(f"cov: {name} must be 1-D with one weight per observation "
                                 f"({n}), got shape {a.shape}")
            if (a < 0).any():
                raise _x._ArgumentError(f"cov: {name} cannot be negative, got {a.min()}")
            w = a if w is None else w * a
    w = np.ones(n) if w is None else w
    w_sum = w.sum()
    norm = w_sum - (correction if aweights is None else
                    correction * (w * np.asarray(_raw(aweights))).sum() / w_sum)
    wt = _leaf(w.astype(x.dtype))
    xm = x - (x * wt).sum(1, keepdim=True) * (1.0 / w_sum)
    c = (xm * wt) @ xm.T * (1.0 / max(norm, 0))
    return c.reshape(()) if vector else c


@_export
@_method()
def corrcoef(input):  # noqa: A002
    """Pearson correlation coefficients of the variables in the rows of ``input``,
    clipped to [-1, 1] (NaN for a constant variable)."""
    c = cov(input)
    if not c.ndim:
        return c / c
    s = _x.diagonal(c).sqrt()
    return _ops.clip(c / s.reshape(-1, 1) / s.reshape(1, -1), -1, 1)


# --- integration, sign tests, shape helpers ---------------------------------------------------

def _trapezoid_areas(name, y, x, dx, dim):
    """The area of each trapezoid between neighbouring samples of ``y`` along ``dim``
    (spacing ``x`` values, 1-D or broadcasting with y, or the constant ``dx``), and dim."""
    y = _t(y)
    if y.dtype.kind not in "fc":
        from ._tensor import get_default_dtype
        y = y.to(get_default_dtype())
    d = _ops._check_dim(name, y, dim)
    n = y.shape[d]
    m = max(n - 1, 0)
    mid = (_x.narrow(y, d, 0, m) + _x.narrow(y, d, 1, m)) * 0.5
    if x is None:
        return mid * (1.0 if dx is None else dx), d
    x = _t(x)
    if x.ndim == 1:
        if x.shape[0] != n:
            raise ShapeError(f"{name}: there must be one x value for each sample point: x has "
                             f"{x.shape[0]} values, y has {n} along dimension {d}")
        step = (x[1:] - x[:-1]).reshape((m,) + (1,) * (y.ndim - d - 1))
    else:
        xd = d - y.ndim + x.ndim
        if xd < 0 or x.shape[xd] != n:
            raise ShapeError(f"{name}: x of shape {tuple(x.shape)} must have y's {n} samples "
                             f"along dimension {d} (y's shape {tuple(y.shape)})")
        step = _x.narrow(x, xd, 1, m) - _x.narrow(x, xd, 0, m)
    return mid * step, d


@_export
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The integral of ``y`` along ``dim`` by the trapezoidal rule, at sample points ``x``
    (or ``dx`` apart, 1 by default)."""
    areas, d = _trapezoid_areas("trapezoid", y, x, dx, dim)
    return areas.sum(d)


@_export
def trapz(y, x=None, *, dx=None, dim=-1):
    """The old name of :func:`trapezoid`."""
    areas, d = _trapezoid_areas("trapz", y, x, dx, dim)
    return areas.sum(d)


@_export
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal integral of ``y`` along ``dim`` (one value fewer)."""
    areas, d = _trapezoid_areas("cumulative_trapezoid", y, x, dx, dim)
    return _x.cumsum(areas, d)


def _sign_test(name, test, doc):
    def f(input):  # noqa: A002
        return _leaf(np.asarray(test(np.asarray(_raw(input)))))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    _both(name, f)


_sign_test("isposinf", np.isposinf, "Whether each element is +inf (a bool tensor).")
_sign_test("isneginf", np.isneginf, "Whether each element is -inf (a bool tensor).")
_sign_test("signbit", np.signbit, "Whether each element's sign bit is set (-0.0 included).")


def _sum_to_size(self, *size):
    """``x`` summed down to ``size`` (a shape x broadcasts from): the gradient of a
    broadcast, as PyTorch's ``sum_to_size``."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) \
        else tuple(size)
    try:
        ok = np.broadcast_shapes(shape, self.shape) == tuple(self.shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"sum_to_size: size {list(shape)} is not expandable to the tensor's "
                         f"size {list(self.shape)}; give a shape that broadcasts to it")
    return self.sum_to(shape)


Tensor.sum_to_size = _sum_to_size
Tensor.char = lambda self: self.to(np.int8)
Tensor.char.__doc__ = "``self.to(zeroin.int8)``, PyTorch's name."


# --- norms, powers and integer helpers ------------------------------------------------------

@_export
@_method()
def renorm(input, p, dim, maxnorm):  # noqa: A002
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to norm
    ``maxnorm`` (PyTorch's factor maxnorm / (norm + 1e-7)); the others unchanged."""
    x = _t(input)
    if x.ndim < 2:
        raise ShapeError(f"renorm: input needs at least 2 dimensions, got {x.ndim} (shape "
                         f"{tuple(x.shape)}), as in PyTorch; for one vector: "
                         f"x.unsqueeze(0).renorm(p, 0, maxnorm)[0]")
    d = _ops._check_dim("renorm", x, dim)
    if not maxnorm >= 0 or not p > 0:
        raise _x._ArgumentError(f"renorm: needs p > 0 and maxnorm >= 0, got p={p!r}, "
                                f"maxnorm={maxnorm!r}")
    others = tuple(i for i in range(x.ndim) if i != d)
    norms = _x.norm(x, p, others, keepdim=True) if others else _ops.abs(x)
    over = norms.data > maxnorm
    return x * _ops.where(over, maxnorm / (norms + 1e-7), 1.0)


@_export
def vander(x, N=None, increasing=False):  # noqa: N803
    """The Vandermonde matrix of the 1-D ``x``: columns x**(N-1), ..., x, 1 (increasing:
    the other way), by running products, so x = 0 has finite gradients."""
    v = _t(x)
    if v.ndim != 1:
        raise ShapeError(f"vander: x must be 1-D, got shape {tuple(v.shape)}")
    n = v.shape[0] if N is None else int(N)
    if n < 0:
        raise _x._ArgumentError(f"vander: N must be non-negative, got {n}")
    if v.dtype.kind not in "fc":
        v = v.to(np.int64)
    ones = _leaf(np.ones((v.shape[0], min(n, 1)), dtype=v.dtype))
    cols = _ops.concatenate([ones, v.reshape(-1, 1).expand(-1, max(n - 1, 0))], 1)
    out = _x.cumprod(cols, 1)
    return out if increasing else _x.flip(out, 1)


@_export
def unravel_index(indices, shape):
    """The coordinates in ``shape`` of each flat index (a tuple of int64 tensors); an index
    outside the shape is refused (PyTorch wraps it around silently)."""
    idx = np.asarray(_raw(indices))
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"unravel_index: indices must be integers, got {idx.dtype}")
    size = int(np.prod(shape))
    if idx.size and (idx.min() < -size or idx.max() >= size):
        raise _x._ArgumentError(f"unravel_index: index out of range for shape {shape} "
                                f"({size} elements): give -{size} <= index < {size}")
    coords = np.unravel_index(np.where(idx < 0, idx + size, idx), shape)
    return tuple(_leaf(np.asarray(c, dtype=np.int64)) for c in coords)


@_export
@_method()
def ldexp(input, other):  # noqa: A002
    """input * 2 ** other."""
    x, e = _t(input), _t(other)
    if x.dtype.kind not in "fc":
        from ._tensor import get_default_dtype
        x = x.to(get_default_dtype())
    return x * _ops.pow(2.0, e.to(x.dtype) if e.dtype.kind not in "fc" else e)


class _Frexp(NamedTuple):
    mantissa: Tensor
    exponent: Tensor


class FrexpOp(Function):
    """frexp's mantissa m = x / 2**e, e held constant (a step function of x): dm/dx = 2**-e,
    PyTorch's rule (1 at x = 0, where e = 0)."""
    __slots__ = ()
    name = "frexp"
    def forward(self, x): return np.frexp(x)[0]
    def backward(self, xp, g, out, x):
        return g * np.ldexp(np.ones((), _raw(x).dtype), -np.frexp(_raw(x))[1])


@_export
@_method()
def frexp(input):  # noqa: A002
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, |mantissa| in [0.5, 1).
    The mantissa has a gradient (2 ** -exponent, as PyTorch's); the int32 exponent none."""
    x = _t(input)
    if x.dtype.kind != "f":
        raise TypeError(f"frexp: only floating point input is supported, got {x.dtype}")
    return _Frexp(_ops._call1(FrexpOp(), x), _leaf(np.frexp(x.data)[1].astype(np.int32)))


def _integer_pair(name, fn, doc):
    def f(input, other):  # noqa: A002
        a, b = np.asarray(_raw(input)), np.asarray(_raw(other))
        if a.dtype.kind not in "iub" or b.dtype.kind not in "iub":
            raise NotImplementedError(f"{name}: only integer tensors are supported (as in "
                                      f"PyTorch), got {a.dtype} and {b.dtype}")
        return _leaf(np.asarray(fn(a, b)))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    _both(name, f)


_integer_pair("gcd", np.gcd, "Elementwise greatest common divisor (non-negative).")
_integer_pair("lcm", np.lcm, "Elementwise least common multiple (non-negative).")
