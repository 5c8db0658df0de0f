"""The rest of PyTorch's Tensor API: sizes, conversions, comparisons, logic, in-place methods.

None of these is an op with a backward rule of its own (the differentiable ones are built
from ops), so they live here rather than in :mod:`zeroin.ops`; each is bound on
:class:`~zeroin.Tensor` and, where PyTorch has ``torch.<name>``, exported as
``zeroin.<name>`` (see ``EXPORTS``).

In-place methods (``add_``, ``mul_``, ``copy_``, ``zero_``...) follow PyTorch's rules: under
``zeroin.no_grad()`` (or on tensors outside the graph) they write into the tensor's array;
on a leaf that requires grad they are refused while grad is recorded; on a tensor made by an
op they are recorded, unless an op already recorded needs that tensor's old value, which is
refused at once (PyTorch detects it at backward).
"""
from __future__ import annotations

import gc
import numbers
import threading
import warnings
from sys import getrefcount

import numpy as np

from . import _tensor as _tm
from . import ops as _ops
from . import _torch_ops as _x
from ._tensor import (_ONE_LOCAL, Size, Tensor, _GradSwitch, _array_of, _clean_index, _leaf, _raw, _set_grad_mode,
                      compared, is_grad_enabled, no_grad)
from .dtypes import CPU, as_device, as_dtype
from .anomaly import anomaly as _anomaly
from .errors import DtypeError, ShapeError, ZeroinError
from .function import Function, no_derivative
from .random import get_rng, torch_stream
from ._torch_rng import torch_fill

EXPORTS = {}        # name -> function, for zeroin.<name>


def _export(fn, name=None):
    EXPORTS[name or fn.__name__] = fn
    return fn


def _method(*names):
    def bind(fn):
        for n in names or (fn.__name__,):
            setattr(Tensor, n, fn)
        return fn
    return bind


# --- sizes ---------------------------------------------------------------------------------

@_method()
def size(self, dim=None):
    """The shape as a :class:`Size` (a tuple), or the size of dimension ``dim``."""
    shape = self.shape
    if dim is None:
        return Size(shape)
    n = max(len(shape), 1)
    if not isinstance(dim, numbers.Integral) or not -n <= dim < n:
        raise _ops._DimError(f"size: dimension {dim} is out of range for a tensor of shape "
                             f"{tuple(shape)} (expected a dim in [{-n}, {n - 1}])")
    if not shape:
        raise _ops._DimError(f"size: dimension {dim} specified but the tensor is 0-d (no "
                             f"dimensions), as PyTorch's IndexError; size() is ()")
    return shape[dim]


@_method("numel", "nelement")
def numel(self):
    """The number of elements."""
    return int(np.prod(self.shape, dtype=np.int64))


_export(numel)


@_method("dim", "ndimension")
def dim(self):
    """The number of dimensions."""
    return self.ndim


def _reversed(self):
    """``x.T``: the dimensions reversed (a matrix transposed). PyTorch's UserWarning for a
    tensor that is not 2-D, once per process as its C++ TORCH_WARN_ONCE: ``keys.T`` of a batch
    ``(b, n, d)`` is ``(d, n, b)``, rarely what was meant (``.mT`` swaps the last two)."""
    if self.ndim != 2:
        from .amp import _warn_once
        if self.ndim == 0:
            _warn_once("T0", "Tensor.T is deprecated on 0-D tensors. This function is the "
                       "identity in these cases.")
        else:
            _warn_once("T", "The use of `x.T` on tensors of dimension other than 2 to reverse "
                       "their shape is deprecated and it will throw an error in a future "
                       "release. Consider `x.mT` to transpose batches of matrices or "
                       "`x.permute(*zeroin.arange(x.ndim - 1, -1, -1))` to reverse the "
                       "dimensions of a tensor.")
    return _ops.permute(self, None)


Tensor.T = property(_reversed, doc="The dimensions reversed (a matrix transposed).")
def _matrix_transpose(self):
    """``x.mT``: the last two dimensions swapped (a batch of matrices transposed). As in
    PyTorch, a 0-D tensor is returned as it is (with its UserWarning, once), a 1-D one
    refused."""
    if self.ndim >= 2:
        return _ops.transpose(self, -2, -1)
    if self.ndim == 1:
        raise RuntimeError("mT: tensor.mT is only supported on matrices or batches of "
                           "matrices. Got 1-D tensor.")
    from .amp import _warn_once
    _warn_once("mT0", "Tensor.mT is deprecated on 0-D tensors. This function is the "
               "identity in these cases.")
    return _ops.permute(self, None)


Tensor.mT = property(_matrix_transpose,
                     doc="The last two dimensions swapped (a batch of matrices transposed).")


@_method()
def t(self):
    """The transpose of a matrix (tensors with fewer than 2 dimensions unchanged)."""
    if self.ndim < 2:
        return self
    if self.ndim > 2:
        raise ShapeError(f"t: expects a tensor with at most 2 dimensions, got shape "
                         f"{self.shape}; use transpose(dim0, dim1) or .mT")
    return _ops.transpose(self, 0, 1)


_export(t)


@_method()
def view_as(self, other):
    """This tensor reshaped to ``other``'s shape."""
    return _ops.reshape(self, other.shape)


@_method()
def reshape_as(self, other):
    return _ops.reshape(self, other.shape)


@_method()
def expand_as(self, other):
    """This tensor broadcast to ``other``'s shape."""
    return _x.expand(self, other.shape)


# --- dtype and device ------------------------------------------------------------------------

@_method()
def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False,
       memory_format=None, **_):
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(device, dtype)``, ``x.to(other)``: this
    tensor itself when nothing changes, else a (differentiable) cast; ``memory_format=
    zeroin.channels_last`` lays the result out as :meth:`contiguous` does."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, str) or type(a).__name__ == "device":
            device = a
        else:
            dtype = a
    as_device(device, "to")
    d = as_dtype(dtype, "to")
    if d is None or d == self.dtype:
        out = _ops.astype(self, self.dtype) if copy else self
    else:
        out = _ops.astype(self, d)
    return out if _last_perm("to", self, memory_format) is None else \
        contiguous(out, memory_format)


def _caster(dt, name):
    def cast(self, memory_format=None):
        return to(self, dt)
    cast.__name__ = name
    cast.__doc__ = f"This tensor as {np.dtype(dt).name} (itself if it already is)."
    return cast


for _name, _dt in (("float", np.float32), ("double", np.float64), ("half", np.float16),
                   ("long", np.int64), ("int", np.int32), ("short", np.int16),
                   ("bool", np.bool_), ("byte", np.uint8), ("cfloat", np.complex64),
                   ("cdouble", np.complex128)):
    setattr(Tensor, _name, _caster(_dt, _name))


@_method("type")
def type_(self, dtype=None, non_blocking=False):
    """With a dtype: this tensor cast to it; without: its legacy type name, as PyTorch's
    (``'zeroin.FloatTensor'`` for float32, ``'zeroin.LongTensor'`` for int64...), which
    ``type()`` accepts back."""
    if dtype is None:
        return f"zeroin.{_LEGACY_NAMES.get(self.dtype.name, self.dtype.name)}"
    return to(self, legacy_dtype(dtype))


def legacy_dtype(dtype, op="type"):
    """The dtype a ``type()`` argument names: ``zeroin.FloatTensor``, ``'torch.FloatTensor'``
    (CS231n's ``dtype = torch.FloatTensor``) or a dtype itself (left as it is)."""
    legacy = getattr(dtype, "legacy_dtype", None)       # zeroin.FloatTensor, ...
    if legacy is not None:
        return legacy
    if not isinstance(dtype, str):
        return dtype
    prefix, _, base = dtype.rpartition(".")
    name = base[:-6] if base.endswith("Tensor") else None
    if name in _LEGACY_TYPES and prefix in ("torch.cuda", "zeroin.cuda"):
        as_device("cuda", op)       # NotCompiledError, as PyTorch's without CUDA
    if name in _LEGACY_TYPES and prefix in ("", "torch", "zeroin"):
        return np.dtype(_LEGACY_TYPES[name])
    if name is not None or prefix:     # 'torch.FooTensor', 'torch.float32', 'np.float32'
        raise TypeError(f"{op}: {dtype!r} is not a tensor type; use one of "
                        f"{', '.join(n + 'Tensor' for n in _LEGACY_TYPES)} or a dtype "
                        f"such as zeroin.float32")
    return as_dtype(dtype, op)      # 'float32' (not a device: t.type('cpu') is refused)


_LEGACY_TYPES = {"Float": "float32", "Double": "float64", "Long": "int64", "Int": "int32",
                 "Bool": "bool", "Half": "float16", "Short": "int16", "Byte": "uint8",
                 "Char": "int8", "ComplexFloat": "complex64", "ComplexDouble": "complex128"}
_LEGACY_NAMES = {dt: name + "Tensor" for name, dt in _LEGACY_TYPES.items()}


@_method()
def type_as(self, other):
    return to(self, other.dtype)


@_method()
def cpu(self, memory_format=None):
    """This tensor (zeroin's tensors are always on the CPU)."""
    return self


@_method()
def cuda(self, device=None, non_blocking=False):
    as_device("cuda", "cuda")


Tensor.device = property(lambda self: CPU, doc="zeroin.device('cpu'): always.")
Tensor.is_cuda = property(lambda self: False)
Tensor.is_cpu = property(lambda self: True)


@_method()
def is_floating_point(self):
    return self.dtype.kind == "f"


_export(is_floating_point)


@_export
def is_tensor(obj):
    return isinstance(obj, Tensor)


_LAST = {"channels_last": 4, "channels_last_3d": 5}


def _last_perm(op, x, memory_format):
    """For ``channels_last`` (``_3d``): the permutation whose row-by-row order is that
    layout, (0, 2, 3, 1) for (N, C, H, W); None for the row-by-row formats."""
    name = getattr(memory_format, "name", None)
    if memory_format is None or name in ("contiguous_format", "preserve_format"):
        return None
    if name not in _LAST:
        raise TypeError(f"{op}: memory_format must be zeroin.contiguous_format, "
                        f"preserve_format, channels_last or channels_last_3d, got "
                        f"{memory_format!r}")
    if x.ndim != _LAST[name]:
        raise RuntimeError(f"{op}: required rank {_LAST[name]} tensor to use {name} format, "
                           f"got shape {tuple(x.shape)}")
    return (0,) + tuple(range(2, x.ndim)) + (1,)


def _laid_out(x, perm):
    """A copy of ``x`` (in the graph) whose memory is row by row in ``perm``'s order."""
    return _x.clone(x.permute(*perm)).permute(*np.argsort(perm).tolist())


@_method()
def contiguous(self, memory_format=None):
    """This tensor if its memory is laid out row by row, else a copy that is (in the graph):
    ``x.t().contiguous().view(-1)``. With ``memory_format=zeroin.channels_last`` the copy
    is laid out channels last (NHWC), as PyTorch's. zeroin's ops accept any layout."""
    perm = _last_perm("contiguous", self, memory_format)
    if perm is not None:
        if _array_of(self).transpose(perm).flags.c_contiguous:
            return self
        return _laid_out(self, perm)
    if _array_of(self).flags.c_contiguous:
        return self
    return _x.clone(self)


@_method()
def is_contiguous(self, memory_format=None):
    """Whether the values are laid out row by row in memory (views after ``t()``,
    ``transpose`` or a step slice are not), or channels last for that ``memory_format``."""
    name = getattr(memory_format, "name", None)
    if name in _LAST and self.ndim != _LAST[name]:
        return False                        # PyTorch's answer for another rank
    perm = _last_perm("is_contiguous", self, memory_format)
    a = _array_of(self)
    return bool((a if perm is None else a.transpose(perm)).flags.c_contiguous)


@_method()
def stride(self, dim=None):
    """Steps in elements between neighbours along each dimension (PyTorch's ``stride``)."""
    d = _array_of(self)
    st = tuple(s // d.itemsize for s in d.strides)
    return st if dim is None else st[dim]


@_method()
def element_size(self):
    return self.dtype.itemsize


# --- comparisons and logic (no gradient) -------------------------------------------------

def _compare(npf, name):
    def f(input, other):  # noqa: A002
        return compared(npf, name, _raw(input), _raw(other))
    f.__name__ = name
    f.__doc__ = f"Elementwise {name} comparison (a bool tensor)."
    return f


for _name, _npf in (("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                    ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal),
                    ("logical_and", np.logical_and), ("logical_or", np.logical_or),
                    ("logical_xor", np.logical_xor)):
    _f = _compare(_npf, _name)
    setattr(Tensor, _name, _f)
    _export(_f)
for _name, _alias in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                      ("ge", "greater_equal"), ("ne", "not_equal")):
    setattr(Tensor, _alias, getattr(Tensor, _name))
    _export(EXPORTS[_name], _alias)


def _bitwise(npf, name):
    def f(self, other):
        a, b = _raw(self), _raw(other)
        for v in (a, b):
            if np.asarray(v).dtype.kind == "f":
                raise TypeError(f"{name}: only integer and bool tensors, got "
                                f"{np.asarray(v).dtype}; compare first (x > 0) or use "
                                f"logical_and/logical_or")
        return _leaf(np.asarray(npf(a, b)))
    return f


for _name, _npf in (("and", np.bitwise_and), ("or", np.bitwise_or),
                    ("xor", np.bitwise_xor)):
    setattr(Tensor, f"__{_name}__", _bitwise(_npf, f"__{_name}__"))
    setattr(Tensor, f"__r{_name}__", _bitwise(_npf, f"__r{_name}__"))


def _invert(self):
    d = self.data
    if d.dtype.kind == "f":
        raise TypeError("~: only integer and bool tensors; use logical_not or 1 - x")
    return _leaf(np.invert(d))


Tensor.__invert__ = _invert


@_method()
def logical_not(input):  # noqa: A002
    return _leaf(np.logical_not(_raw(input)))


_export(logical_not)


def _reducer(npf, name):
    def f(input, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A002
        dim, keepdim = _ops._dim_names(name, dim, keepdim, axis, keepdims)
        x = _ops._t(input)
        d = _ops._check_axis(name, x, dim)
        r = np.asarray(npf(x.data, axis=d, keepdims=keepdim))
        return _leaf(r.astype(np.uint8) if x.dtype == np.uint8 else r)     # PyTorch's rule
    f.__name__ = name
    f.__doc__ = (f"Whether {'all' if name == 'all' else 'any'} elements are true (over dim): "
                 f"bool, uint8 for a uint8 input (as PyTorch).")
    return f


for _name, _npf in (("all", np.all), ("any", np.any)):
    _f = _reducer(_npf, _name)
    setattr(Tensor, _name, _f)
    _export(_f)


def count_nonzero(input, dim=None):  # noqa: A002
    """The number of nonzero elements (over ``dim``: an int or a tuple); int64, no keepdim
    (PyTorch has none)."""
    x = _ops._t(input)
    d = _ops._check_axis("count_nonzero", x, dim)
    if isinstance(d, tuple) and len({a % x.ndim for a in d}) < len(d):
        raise ZeroinError(f"count_nonzero: a dimension appears twice in dim={dim}")
    return _leaf(np.asarray(np.count_nonzero(x.data, axis=d), dtype=np.int64))


def _count_nonzero_method(self, *dim, **kwargs):
    """``x.count_nonzero(0, 1)`` counts over dims 0 and 1, as PyTorch's method does."""
    if len(dim) > 1:
        return count_nonzero(self, dim, **kwargs)
    return count_nonzero(self, *dim, **kwargs)


def _squeeze_method(self, *dim, **kwargs):
    """``x.squeeze(0, 1)`` squeezes dims 0 and 1 (where of size 1), as PyTorch's method."""
    if len(dim) > 1:
        return _ops.squeeze(self, dim, **kwargs)
    return _ops.squeeze(self, *dim, **kwargs)


_squeeze_method.__name__ = "squeeze"
Tensor.squeeze = _squeeze_method
_count_nonzero_method.__name__ = "count_nonzero"
Tensor.count_nonzero = _count_nonzero_method
_export(count_nonzero)


def _elementwise_test(npf, name):
    def f(input):  # noqa: A002
        return _leaf(npf(_raw(input)))
    f.__name__ = name
    return f


for _name, _npf in (("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite)):
    _f = _elementwise_test(_npf, _name)
    setattr(Tensor, _name, _f)
    _export(_f)


@_method()
def equal(input, other):  # noqa: A002
    """True if both have the same shape and values."""
    a, b = _raw(input), _raw(other)
    return bool(np.shape(a) == np.shape(b) and np.array_equal(a, b))


@_method()
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """Whether every element of ``input`` is close to ``other``'s (see :func:`isclose`)."""
    _same_dtype_tensors("allclose", input, other)
    return bool(np.allclose(_raw(input), _raw(other), rtol, atol, equal_nan))


@_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    """|input - other| <= atol + rtol * |other|, elementwise; two tensors must have one
    dtype, as in PyTorch (a Python number is taken as is)."""
    _same_dtype_tensors("isclose", input, other)
    return _leaf(np.isclose(_raw(input), _raw(other), rtol, atol, equal_nan))


def _same_dtype_tensors(name, a, b):
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype != b.dtype:
        raise _ops.DtypeError(f"{name}: input has dtype {a.dtype} and other {b.dtype}; "
                              f"PyTorch compares only tensors of one dtype: convert one, "
                              f"e.g. {name}(input, other.to(input.dtype))"
                              f"{_ops.default_dtype_note(a.dtype, b.dtype, '. ')}")


@_method()
def nonzero(input, *, as_tuple=False):  # noqa: A002
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-D ones."""
    a = _raw(input)
    if a.ndim == 0:     # PyTorch: (1, 0) or (0, 0); as a tuple, as for a 1-D tensor
        if as_tuple:
            return (_leaf(np.arange(int(a != 0), dtype=np.int64)),)
        return _leaf(np.zeros((int(a != 0), 0), np.int64))
    idx = np.nonzero(a)
    if as_tuple:
        return tuple(_leaf(i.astype(np.int64)) for i in idx)
    return _leaf(np.stack(idx, axis=1).astype(np.int64) if idx else
                 np.zeros((0, 0), np.int64))


@_method()
def argwhere(input):  # noqa: A002
    return nonzero(input)


@_method()
def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    """The indices that sort ``input`` along ``dim`` (int64)."""
    return _x.sort(input, dim, descending).indices


@_method()
def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Counts of values in ``bins`` equal bins over [min, max] (the data's range if both 0)."""
    r = _raw(input)
    lo, hi = (float(r.min()), float(r.max())) if min == max == 0 else (min, max)
    counts, _ = np.histogram(r, bins=bins, range=(lo, hi))
    return _leaf(counts.astype(r.dtype))


@_method()
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct values (sorted, or slices along ``dim``); with ``return_inverse`` /
    ``return_counts`` the tuple ``(values, inverse, counts)`` of those asked for. The values
    require grad when the input does, but have no derivative (as in PyTorch)."""
    values = no_derivative("unique", lambda a: np.unique(a, axis=dim), _ops._t(input))
    if not (return_inverse or return_counts):
        return values
    x = _raw(input)
    r = np.unique(x, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    extra = [a.astype(np.int64) for a in r[1:]]
    if return_inverse:      # one index per element (dim None) or per slice along dim
        extra[0] = extra[0].reshape(x.shape if dim is None else (x.shape[dim],))
    return (values,) + tuple(_leaf(a) for a in extra)


@_method()
def bincount(input, weights=None, minlength=0):  # noqa: A002
    """How often each value 0, 1, ... occurs in a 1-D tensor of non-negative integers (at
    least ``minlength`` counts), or the sums of ``weights`` per value. No gradient: with
    weights that require grad, backward raises, as PyTorch's (use index_add for one)."""
    if getattr(input, "dtype", None) == np.bool_:
        raise NotImplementedError("bincount: not implemented for bool tensors, as in PyTorch; "
                                  "convert first: bincount(x.long())")
    x = np.asarray(_raw(input))
    if x.ndim != 1 or x.dtype.kind not in "iu" or (x.size and x.min() < 0):
        bad = f"shape {x.shape}" if x.ndim != 1 else f"dtype {x.dtype}" \
            if x.dtype.kind not in "iu" else f"smallest value {x.min()}"
        raise _ops._ValueError(f"bincount: only supports 1-d non-negative integral inputs, as "
                               f"PyTorch's; got {bad} (counts of class labels or edge ends: "
                               f"x.long() of values 0, 1, ..., flattened with x.reshape(-1))")
    w = None if weights is None else np.asarray(_raw(weights))
    if w is not None and w.shape != x.shape:
        raise ShapeError(f"bincount: weights should be 1-d and have the same length as input; "
                         f"got weights of shape {w.shape} for input of shape {x.shape}")
    out = np.bincount(x, w, minlength).astype(   # PyTorch: float32 weights
        np.int64 if w is None else np.float32 if w.dtype == np.float32 else np.float64)
    if isinstance(weights, Tensor) and weights.requires_grad:
        return no_derivative("bincount", lambda *_: out, weights, why=(
            "bincount has no gradient for weights (as in PyTorch); sum them per value with "
            "zeros(n, dtype=weights.dtype).index_add(0, input, weights) (n values), which has "
            "one"))
    return _leaf(out)


for _f in (equal, allclose, isclose, nonzero, argwhere, argsort, histc, unique, bincount):
    _export(_f)


# --- arithmetic under PyTorch's names ----------------------------------------------------

Tensor.where = lambda self, condition, other: _ops.where(condition, self, other)


@_method()
def mm(input, mat2):  # noqa: A002
    """The matrix product of two 2-D tensors."""
    for n, m in (("input", input), ("mat2", mat2)):
        if _ops._t(m).ndim != 2:
            raise ShapeError(f"mm: {n} must be a matrix (2-D), got shape {_ops._t(m).shape}")
    _ops.same_dtypes("mm", _ops._t(input), _ops._t(mat2))
    _ops.no_bool("mm", _ops._t(input), _ops._t(mat2), fix="a.float(), b.float() (or .int())")
    return _ops.matmul(input, mat2)


@_method()
def bmm(input, mat2):  # noqa: A002
    """Batched matrix product of two 3-D tensors (b, n, m) @ (b, m, p)."""
    a, b = _ops._t(input), _ops._t(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{a.shape} and {b.shape}")
    _ops.same_dtypes("bmm", a, b)
    _ops.no_bool("bmm", a, b, fix="a.float(), b.float() (or .int())")
    return _ops.matmul(a, b)


@_method()
def mv(input, vec):  # noqa: A002
    a, v = _ops._t(input), _ops._t(vec)
    if a.ndim != 2 or v.ndim != 1:
        raise ShapeError(f"mv: expects a matrix (2-D) and a vector (1-D), got shapes {a.shape} "
                         f"and {v.shape}; for other shapes use matmul (@)")
    _ops.same_dtypes("mv", a, v)
    _ops.no_bool("mv", a, v, fix="a.float(), b.float() (or .int())")
    return _ops.matmul(input, vec)


@_method()
def dot(input, other):  # noqa: A002
    a, b = _ops._t(input), _ops._t(other)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"dot: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    _ops.same_dtypes("dot", a, b)
    _ops.no_bool("dot", a, b, fix="a.float(), b.float() (or .int())")
    return _ops.matmul(a, b)


@_method()
def outer(input, vec2):  # noqa: A002
    """The outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    for n, v in (("input", input), ("vec2", vec2)):
        if _ops._t(v).ndim != 1:
            raise ShapeError(f"outer: {n} must be 1-D, got shape {_ops._t(v).shape}; "
                             f"flatten it first (x.reshape(-1)) if that is what you mean")
    return _ops.reshape(input, -1, 1) * _ops.reshape(vec2, 1, -1)


def number_first(name, new):
    """PyTorch's deprecated overloads that take the number first, which pre-1.5 optimisers
    and samplers call (``p.data.add_(-lr, d_p)``, ``exp_avg_sq.addcmul_(1 - beta2, g, g)``,
    ``p.data.addcdiv_(-step_size, exp_avg, denom)``): PyTorch warns and runs them, and so
    does zeroin (``addcdiv_`` read the number as ``tensor1`` before: a wrong result)."""
    warnings.warn(f"This overload of {name} is deprecated: {name}(Number, Tensor...); use "
                  f"{new}", UserWarning, stacklevel=3)


def _addc(name, op, input, tensor1, tensor2, more, value):  # noqa: A002
    """input + value * op(tensor1, tensor2); ``more`` holds the last tensor of the
    deprecated ``(value, tensor1, tensor2)``."""
    if more:
        if len(more) > 1 or not isinstance(tensor1, numbers.Number) or value != 1:
            raise TypeError(f"{name}: takes tensor1, tensor2 and value= (a keyword), or "
                            f"PyTorch's deprecated (value, tensor1, tensor2); got "
                            f"{2 + len(more)} positional arguments")
        number_first(name, f"{name}(tensor1, tensor2, value=v)")
        value, tensor1, tensor2 = tensor1, tensor2, more[0]
    r = op(tensor1, tensor2)
    return input + (r if value == 1 else value * r)


@_method()
def addcmul(input, tensor1, tensor2, *more, value=1):  # noqa: A002
    """input + value * tensor1 * tensor2."""
    return _addc("addcmul", _ops.mul, input, tensor1, tensor2, more, value)


@_method()
def addcdiv(input, tensor1, tensor2, *more, value=1):  # noqa: A002
    """input + value * tensor1 / tensor2."""
    return _addc("addcdiv", _ops.div, input, tensor1, tensor2, more, value)


@_method("true_divide", "divide")
def true_divide(input, other, *, rounding_mode=None):  # noqa: A002
    """``input / other``; ``rounding_mode="floor"`` or ``"trunc"`` rounds (see div)."""
    return _ops.div(input, other, rounding_mode=rounding_mode)


@_method("multiply")
def multiply(input, other):  # noqa: A002
    return _ops.mul(input, other)


@_method("subtract")
def subtract(input, other, *, alpha=1):  # noqa: A002
    return _ops.sub(input, other, alpha=alpha)


@_method("floor_divide", "__floordiv__")
def floor_divide(input, other):  # noqa: A002
    """Elementwise floor(input / other); no gradient (as in PyTorch)."""
    return _ops.div(input, other, rounding_mode="floor")


Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)


@_method()
def positive(input):  # noqa: A002
    return input


@_method()
def clone(input, *, memory_format=None):  # noqa: A002
    """A copy in the graph (gradients flow back to the original); laid out channels last
    for ``memory_format=zeroin.channels_last``, or when ``input`` is and the format is
    ``preserve_format`` (the default), as PyTorch."""
    x = _ops._t(input)
    perm = _last_perm("clone", x, memory_format)
    if perm is None and getattr(memory_format, "name", None) != "contiguous_format" \
            and x.ndim in (4, 5):
        p = (0,) + tuple(range(2, x.ndim)) + (1,)
        a = _array_of(x)
        if not a.flags.c_contiguous and a.transpose(p).flags.c_contiguous:
            perm = p
    return _x.clone(x) if perm is None else _laid_out(x, perm)


@_method()
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """Repeat each element ``repeats`` times along ``dim`` (the flattened tensor if None).
    ``repeat_interleave(counts)`` alone repeats ``arange(len(counts))``: 0 counts[0] times..."""
    x = _ops._t(input)
    if repeats is None:
        if x.ndim != 1 or x.dtype.kind not in "iu":
            raise _ops._DtypeError(f"repeat_interleave(repeats): repeats must be a 1-D "
                                   f"integer tensor, got shape {x.shape} and dtype {x.dtype}")
        x, repeats = _leaf(np.arange(x.shape[0])), x
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = _ops._check_dim("repeat_interleave", x, dim)
    idx = np.repeat(np.arange(x.shape[d]), _raw(repeats))
    return _x.index_select(x, d, idx)


diagonal = _x.diagonal       # a view (DiagonalOp), bound as Tensor.diagonal by its op


@_method()
def diag(input, diagonal=0):  # noqa: A002
    """The ``diagonal``-th diagonal of a matrix (a copy), or the square matrix with a
    vector on that diagonal."""
    x = _ops._t(input)
    if x.ndim == 2:
        return _x.clone(_x.diagonal(x, diagonal))
    if x.ndim != 1:
        raise ShapeError(f"diag: expects a 1-D or 2-D tensor, got shape {x.shape}; for "
                         f"other dimensions use diagonal(x, offset, dim1, dim2) or diag_embed")
    return _x.diag_embed(x, diagonal)


for _f in (mm, bmm, mv, dot, outer, true_divide, multiply, subtract,
           floor_divide, positive, clone, repeat_interleave, diagonal, diag):
    _export(_f)
_export(true_divide, "divide")
for _name in ("split", "chunk", "unbind"):
    setattr(Tensor, _name, getattr(_x, _name))
    _export(getattr(_x, _name))
_export(_x.sign, "sgn")
_export(_ops.concatenate, "concat")


# --- more of PyTorch's names, composed from the ops above ------------------------------------

def _new(self, op, shape, fill, dtype, device, requires_grad):
    from ._creation import _make
    d = as_dtype(dtype, op) or self.dtype
    return _make(np.full(shape, _ops._fill_scalar(op, fill, d), dtype=d), None, requires_grad,
                 device, op)


def _new_size(op, sizes, size):
    from ._creation import _size
    return _size(op, sizes, size)


@_method()
def new_zeros(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """Zeros of the given size with this tensor's dtype (or ``dtype``)."""
    return _new(self, "new_zeros", _new_size("new_zeros", sizes, size), 0, dtype, device,
                requires_grad)


@_method()
def new_ones(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """Ones of the given size with this tensor's dtype (or ``dtype``)."""
    return _new(self, "new_ones", _new_size("new_ones", sizes, size), 1, dtype, device,
                requires_grad)


@_method()
def new_empty(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
    """Like :meth:`new_zeros` (zeroin never hands out uninitialised memory)."""
    return _new(self, "new_empty", _new_size("new_empty", sizes, size), 0, dtype, device,
                requires_grad)


@_method()
def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` of ``size`` with this tensor's dtype (or ``dtype``), not the fill's."""
    return _new(self, "new_full", _new_size("new_full", (size,), None), _raw(fill_value),
                dtype, device, requires_grad)


@_method()
def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    """A new leaf holding a copy of ``data``, with this tensor's dtype (or ``dtype``)."""
    as_device(device, "new_tensor")
    return _tm.tensor(np.array(_raw(data)), requires_grad=requires_grad,
                      dtype=as_dtype(dtype, "new_tensor") or self.dtype)


@_method()
def clamp_min(input, min):  # noqa: A002
    """``clamp(input, min=min)``."""
    return _ops.clip(input, min=min)


@_method()
def clamp_max(input, max):  # noqa: A002
    """``clamp(input, max=max)``."""
    return _ops.clip(input, max=max)


def _bool_mask(op, mask):
    m = np.asarray(_raw(mask))
    if m.dtype != bool:
        raise _ops._DtypeError(f"{op}: expected a bool tensor for mask, got dtype {m.dtype}; "
                               f"compare first, e.g. x > 0, or convert with mask.bool()")
    return m


@_method()
def masked_select(input, mask):  # noqa: A002
    """The elements of ``input`` where ``mask`` (broadcast with it) is True, as a 1-D tensor."""
    x, m = _ops._t(input), _bool_mask("masked_select", mask)
    shape = np.broadcast_shapes(x.shape, m.shape)
    return _ops.getitem(_ops.broadcast_to(x, shape), np.broadcast_to(m, shape))


@_method()
def masked_scatter(input, mask, source):  # noqa: A002
    """A copy of ``input`` (broadcast with ``mask``) whose elements where ``mask`` is True
    are ``source``'s first elements in order. As PyTorch's rule, ``input`` gets no gradient
    there (0, whatever arrives) and ``source`` gets the gradient of the places it filled."""
    x, src = _ops._t(input), _ops._t(source)
    m = _bool_mask("masked_scatter", mask)
    if src.dtype != x.dtype:
        raise _ops._DtypeError(f"masked_scatter: expected input and source to have the same "
                               f"dtype, got {x.dtype} and {src.dtype}; convert source with "
                               f"source.to(input.dtype)")
    shape = np.broadcast_shapes(x.shape, m.shape)
    m = np.broadcast_to(m, shape)
    k = int(m.sum())
    if src.numel() < k:
        raise _ops._ValueError(f"masked_scatter: source has {src.numel()} elements, fewer "
                               f"than the {k} True elements of mask")
    placed = _ops.index_add(_ops.reshape(src, (-1,))[:k], m, shape)
    return _ops.where(m, placed, _ops.broadcast_to(x, shape))


@_method()
def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """A copy of ``input`` with ``alpha * source`` added at ``index`` (1-D) along ``dim``:
    ``out[index[i]] += alpha * source[i]`` for dim=0 (repeats add up)."""
    x, src = _ops._t(input), _ops._t(source)
    d = _ops._check_dim("index_add", x, dim)
    idx = _x._index_array("index_add", index)
    want = x.shape[:d] + (idx.size,) + x.shape[d + 1:] if x.ndim else ()
    if idx.ndim > 1 or tuple(src.shape) != want:
        raise ShapeError(f"index_add: source of shape {src.shape} does not fit: with "
                         f"{idx.size} indices along dim {d} of shape {x.shape} it must have "
                         f"shape {want} (and index must be 1-D)")
    if x.ndim == 0:         # as 1-D, as in PyTorch
        return _ops.reshape(index_add(_ops.reshape(x, (1,)), 0, idx.reshape(-1),
                                      _ops.reshape(src, (1,)), alpha=alpha), ())
    where = (slice(None),) * d + (idx.reshape(-1),)
    return x + _ops.index_add(src if alpha == 1 else src * alpha, where, x.shape)


@_method()
def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    """The ``n``-th forward difference along ``dim`` (``out[i] = x[i + 1] - x[i]``), after
    joining ``prepend`` and ``append``; for bool tensors, ``!=``."""
    x = _ops._t(input)
    d = _ops._check_axis("diff", x, dim)
    if x.ndim == 0:
        raise ShapeError("diff: expects a tensor with at least one dimension, got a 0-d one")
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ZeroinError(f"diff: the order n must be a non-negative integer, got {n!r}")
    parts = [_ops._t(p) for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = _ops.concatenate(parts, d)
    for _ in range(n):
        m = x.shape[d] - 1
        if m < 1:
            return _x.narrow(x, d, 0, 0)
        a, b = _x.narrow(x, d, 1, m), _x.narrow(x, d, 0, m)
        x = _leaf(a.data != b.data) if x.dtype == bool else a - b
    return x


@_method()
def trace(input):  # noqa: A002
    """The sum of the main diagonal of a matrix."""
    x = _ops._t(input)
    if x.ndim != 2:
        raise ShapeError(f"trace: expects a matrix (2-D), got shape {x.shape}")
    return diagonal(x).sum()


@_method()
def cross(input, other, dim=None):  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (broadcasting); without ``dim``, the
    first dimension of size 3 (PyTorch's deprecated default, with its warning)."""
    a, b = _ops._pair(input, other)
    if a.ndim != b.ndim:
        raise ShapeError(f"cross: inputs must have the same number of dimensions, got shapes "
                         f"{a.shape} and {b.shape}; unsqueeze the smaller one (size-1 "
                         f"dimensions broadcast)")
    shape = np.broadcast_shapes(a.shape, b.shape)
    a, b = _ops.broadcast_to(a, shape), _ops.broadcast_to(b, shape)
    if dim is None:
        import warnings
        warnings.warn("cross: without dim, the first dimension of size 3 is used (deprecated "
                      "in PyTorch); pass dim, e.g. dim=-1", UserWarning, stacklevel=2)
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    d = _ops._check_axis("cross", a, dim)
    if not shape or shape[d] != 3:
        raise ShapeError(f"cross: dimension {dim} of shape {tuple(shape)} must have size 3")
    a0, a1, a2 = (_x.select(a, d, i) for i in range(3))
    b0, b1, b2 = (_x.select(b, d, i) for i in range(3))
    return _ops.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def tensordot(a, b, dims=2):
    """Sum products over the last ``dims`` dimensions of ``a`` and the first ``dims`` of
    ``b``, or over the dimensions listed in ``dims=([a dims], [b dims])``."""
    a, b = _ops._t(a), _ops._t(b)
    _ops.same_dtypes("tensordot", a, b)
    _ops.no_bool("tensordot", a, b, fix="a.float(), b.float() (or .int())")
    if isinstance(dims, numbers.Integral):
        if not 0 <= dims <= min(a.ndim, b.ndim):
            raise ShapeError(f"tensordot: dims={dims} must be between 0 and the smaller number "
                             f"of dimensions of shapes {a.shape} and {b.shape}; for 1-D "
                             f"tensors give dims=1 (or use dot)")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([int(i) for i in np.atleast_1d(_raw(x))] for x in dims)
    da, db = [i % max(a.ndim, 1) for i in da], [i % max(b.ndim, 1) for i in db]
    if len(da) != len(db) or any(a.shape[i] != b.shape[j] for i, j in zip(da, db)):
        raise ShapeError(f"tensordot: cannot contract dims {da} of shape {a.shape} with dims "
                         f"{db} of shape {b.shape}; the sizes must match pairwise")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [sa[da[db.index(j)]] if j in db else next(letters) for j in range(b.ndim)]
    out = [c for i, c in enumerate(sa) if i not in da] + \
        [c for j, c in enumerate(sb) if j not in db]
    return _x.einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


@_method()
def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    """Split along ``dim`` into ``n`` nearly equal pieces (the first ones one longer), or
    at the given indices; a tuple of tensors."""
    x = _ops._t(input)
    d = _ops._check_dim("tensor_split", x, dim)
    n = x.shape[d]
    s = np.asarray(_raw(indices_or_sections))
    if s.ndim > 1 or (s.size and s.dtype.kind not in "iu"):
        raise TypeError(f"tensor_split: indices_or_sections must be an int, a list of ints or "
                        f"a 0-d or 1-D integer tensor, got {s.dtype} of shape {s.shape}")
    if s.ndim == 0:
        k = int(s)
        if k < 1:
            raise ValueError(f"tensor_split: the number of sections must be >= 1, got {k}")
        sizes = [n // k + (i < n % k) for i in range(k)]
        cuts = np.cumsum([0] + sizes)
    else:       # each piece is x[a:b] with Python's slice rules (a negative index counts back)
        cuts = [0] + [min(int(i), n) if i >= 0 else max(int(i) + n, 0) for i in s] + [n]
    return tuple(_x.narrow(x, d, int(lo), max(int(hi) - int(lo), 0))
                 for lo, hi in zip(cuts[:-1], cuts[1:]))


@_method()
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):  # noqa: A002
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (the dtype's
    largest and lowest finite values by default); the gradient is 0 at those places."""
    x = _ops._t(input)
    if x.dtype.kind not in "fc":
        return _leaf(x.data.copy())     # integers and bools as they are (x * 1: bool -> int)
    r = x.data
    filled = np.nan_to_num(r, nan=nan, posinf=posinf, neginf=neginf)
    return _ops._call2(_ops.MaskMulOp(np.isfinite(r)), *_ops._pair(x, filled))   # as PyTorch


def _mean_for(name, x, dim, keepdim):
    return _ops.mean(x) if dim is None and not keepdim else \
        _ops.mean(x, dim=dim if dim is not None else tuple(range(x.ndim)), keepdim=keepdim)


@_export
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(var(input, dim, ...), mean(input, dim))``, as PyTorch's (a tuple)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    x = _ops._t(input)
    return (_x._var_parts("var_mean", x, dim, unbiased, keepdim, correction),
            _mean_for("var_mean", x, dim, keepdim))


@_export
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(std(input, dim, ...), mean(input, dim))``, as PyTorch's (a tuple)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    x = _ops._t(input)
    return (_x.StdOp()(_x._var_parts("std_mean", x, dim, unbiased, keepdim, correction)),
            _mean_for("std_mean", x, dim, keepdim))


@_export
def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-D tensors: ``indexing="ij"`` (the default, with PyTorch's
    warning when omitted) gives shape (n0, n1, ...), ``"xy"`` swaps the first two."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        import warnings
        warnings.warn("meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument (as in PyTorch); pass indexing='ij' (the default "
                      "now) or 'xy'", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise _ops._ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [_ops._t(t) for t in tensors]
    for t in ts:
        if t.ndim > 1:
            raise ShapeError(f"meshgrid: expects 0-D or 1-D tensors, got shape {t.shape}")
    same_dtype("meshgrid", ts)
    axes = list(range(len(ts)))
    if indexing == "xy" and len(ts) > 1:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(ts)
    for t, a in zip(ts, axes):
        shape[a] = t.data.size
    return tuple(_ops.broadcast_to(_ops.reshape(t, [-1 if i == a else 1 for i in
                                                    range(len(ts))]), tuple(shape))
                 for t, a in zip(ts, axes))


def same_dtype(op, ts):
    """PyTorch's RuntimeError (a DtypeError) where the tensors ``ts`` of meshgrid or
    cartesian_prod differ in dtype: they are not promoted."""
    dts = [t.dtype for t in ts]
    if len(set(dts)) > 1:
        raise DtypeError(f"{op}: expects all tensors to have the same dtype, got "
                         f"{', '.join(map(str, dts))} (as in PyTorch, they are not promoted); "
                         f"convert first, e.g. b.to(a.dtype)")


def _tri_indices(op, np_fn, row, col, offset, dtype, device):
    from ._creation import _make
    i, j = np_fn(int(row), int(offset), int(col))
    return _make(np.stack([i, j]).astype(np.int64), dtype, False, device, op)


@_export
def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the lower triangle of a row x col matrix."""
    return _tri_indices("tril_indices", np.tril_indices, row, col, offset, dtype, device)


@_export
def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """The (2, n) row and column indices of the upper triangle of a row x col matrix."""
    return _tri_indices("triu_indices", np.triu_indices, row, col, offset, dtype, device)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                 "donot_use_mm_for_euclid_dist")


@_export
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distances between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): shape (..., P, R); PyTorch's gradients where a distance is 0 (NormOp's).
    Every ``compute_mode`` gives the exact distances (PyTorch's matrix-product modes round)."""
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"cdist: {compute_mode!r} is not a valid value for compute_mode; use "
                         f"one of {', '.join(map(repr, _CDIST_MODES))}")
    a, b = _ops._t(x1), _ops._t(x2)
    for what, x in (("x1", a), ("x2", b)):
        if x.dtype.kind != "f":
            raise _ops.DtypeError(f"cdist: {what} has dtype {x.dtype}; cdist takes only "
                                  f"floating-point tensors, as in PyTorch: convert first, "
                                  f"e.g. {what}.double()")
    _ops.same_dtypes("cdist", a, b)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ShapeError(f"cdist: expects x1 (..., P, M) and x2 (..., R, M), at least 2-D and "
                         f"with the same M, got shapes {a.shape} and {b.shape}")
    if p < 0:
        raise _ops._ValueError(f"cdist: p must be >= 0, got {p}")
    diff = _ops.unsqueeze(a, -2) - _ops.unsqueeze(b, -3)           # (..., P, R, M)
    return _x.norm(diff, p=p, dim=-1)       # NormOp: PyTorch's gradients at 0, any p


result_type = _export(_ops.result_type)
promote_types = _export(_ops.promote_types)


for _f in (clamp_min, clamp_max, masked_select, masked_scatter, index_add, diff, trace, cross,
           tensordot, tensor_split, nan_to_num, addcmul, addcdiv):
    _export(_f)


# --- grad mode -------------------------------------------------------------------------------

class set_grad_enabled(_GradSwitch):
    """Turn graph recording on or off: at once when called (``set_grad_enabled(False)``),
    or for a block (``with set_grad_enabled(False):``), as in PyTorch."""

    def __init__(self, mode):
        self._value = bool(mode)
        self._prev = _set_grad_mode(self._value)

    def __enter__(self):        # the switch happened at the call; `as x` binds None
        pass


_inference = threading.local()      # .on: inside inference_mode(True), for this thread


class inference_mode(no_grad):
    """Like :class:`zeroin.no_grad` (zeroin has no separate inference tensors); while on,
    :func:`is_inference_mode_enabled` says True. ``@inference_mode`` decorates too."""

    def __new__(cls, mode=True):
        if mode is None or isinstance(mode, bool):
            return object.__new__(cls)
        return cls()(mode)          # @inference_mode without the call: mode is the function

    def __init__(self, mode=True):
        self._value = not mode

    def __enter__(self):
        self._prev_inference = getattr(_inference, "on", False)
        _inference.on = not self._value
        super().__enter__()

    def __exit__(self, *exc):
        _inference.on = self._prev_inference
        return super().__exit__(*exc)

    def __call__(self, func):
        import functools
        mode = not self._value

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)
        return wrapper


@_export
def is_inference_mode_enabled():
    """True inside ``with inference_mode():`` (or a function decorated with it)."""
    return getattr(_inference, "on", False)


EXPORTS["set_grad_enabled"] = set_grad_enabled
EXPORTS["inference_mode"] = inference_mode
EXPORTS["Size"] = Size


# --- in-place methods ----------------------------------------------------------------------

def _graph_users(t, refs=None):
    """The recorded ops (not yet backpropagated) that hold ``t`` among their inputs, and
    whether anything else in the graph holds it (a custom Function's saved tensors);
    ``refs``: t's referrers, where the caller has scanned the heap for them already."""
    users, other = [], False
    holders = []                # the tuples and lists that hold t
    for r in gc.get_referrers(t) if refs is None else refs:
        if isinstance(r, Function):
            other = True
        elif type(r) in (tuple, list):
            holders.append(r)
    if not holders:
        return users, other
    ids = {id(h) for h in holders}
    for rr in gc.get_referrers(*holders):      # one more scan of the heap, for all of them
        if isinstance(rr, Function) and not getattr(rr, "released", True):
            inputs = getattr(rr, "inputs", None)
            if id(inputs) in ids:
                users.append(rr)
            # a holder other than its inputs: a tuple of tensors it saved
            if any(id(v) in ids and v is not inputs for v in gc.get_referents(rr)):
                other = True
        elif id(getattr(rr, "_saved", None)) in ids:     # a custom Function's ctx
            other = True
        elif type(rr) is dict and id(rr.get("_saved")) in ids:
            other = True    # the ctx's __dict__: before Python 3.11 it refers to the tuple
    return users, other


def _out_of_place(name):
    """The out-of-place form of an in-place call, for messages: y = y + v, y = y.add(...)."""
    if name.startswith("in-place "):
        return f"y = y {name[len('in-place '):-1]} v"
    return f"y = y.{name.rstrip('_')}(...)"


def _store(self, name, value):
    """Write ``value`` into this tensor's array (PyTorch's casting and broadcasting)."""
    d = self.data
    if not d.flags.writeable:       # a shared read-only constant: take a private copy
        d = self.data = d.copy()
    try:
        np.copyto(d, value, casting="same_kind")
    except TypeError:
        raise RuntimeError(f"{name}: result type {np.asarray(value).dtype} can't be cast to "
                           f"the desired output type {d.dtype} (in place keeps this tensor's "
                           f"dtype); use the out-of-place form or convert first") from None
    except ValueError as e:
        raise ShapeError(f"{name}: a result of shape {np.shape(value)} cannot be written "
                         f"into a tensor of shape {d.shape} in place: {e}") from None


def _inplace(self, name, fn, *args, operands=(), view=False, refs=None):
    """Replace this tensor's values by ``fn(self, *args)`` (a tensor), PyTorch's way;
    ``operands`` are tensors ``fn`` takes otherwise (keywords) that may require grad. With
    ``view``, ``fn`` is a view op (t, unsqueeze...): this tensor takes its result's array,
    the same memory in a new shape. ``refs``: this tensor's referrers, if scanned already."""
    track = is_grad_enabled() and (self.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args + tuple(operands)))
    if not track:
        with no_grad():
            out = fn(self, *args)
        if view:
            self.data = _array_of(out)
        else:
            _store(self, name, out.data if isinstance(out, Tensor) else out)
        return self
    if self.requires_grad and self.grad_fn is None:
        raise RuntimeError(f"{name}: this tensor requires grad (a leaf, e.g. a parameter), "
                           f"so changing it in place while the graph is recorded would "
                           f"corrupt it; to clear a gradient use w.grad.zero_() or "
                           f"w.grad = None, and to change a parameter wrap the call in "
                           f"`with zeroin.no_grad():` (the update: w -= lr * w.grad)")
    base = getattr(self, "_view_of", None)
    if base is not None and _whole_view(self, base):
        return _inplace_whole_view(self, base, name, fn, args, operands, view)
    if base is not None and base.requires_grad and base.grad_fn is None:
        raise RuntimeError(f"{name}: a view of a leaf tensor that requires grad (shape "
                           f"{tuple(base.shape)}, e.g. a parameter) is being changed in place "
                           f"while the graph is recorded, which PyTorch refuses too; change "
                           f"a copy (y = w.clone(), then y's view), or the leaf itself under "
                           f"`with zeroin.no_grad():`")
    seen = None if base is None or view else gc.get_referrers(base)     # one heap scan
    where = None if seen is None or _other_views(self, base, args, seen) else \
        _place_in(self, base)
    if where is not None:
        return _inplace_strided_view(self, base, where, name, fn, args, operands, seen)
    if base is not None:
        raise RuntimeError(f"{name}: this tensor is a view of another tensor of shape "
                           f"{tuple(base.shape)} (made by indexing, view, reshape or "
                           f"transpose); changing a view in place while the graph is "
                           f"recorded is not supported, as the other tensor's graph would "
                           f"miss the change. Assign through the other tensor instead "
                           f"(y[i] = new_value is recorded), or clone the view first")
    # only a tensor a recorded op has read can have users: the heap scan of _graph_users
    # (milliseconds in a process with many objects) is skipped for a fresh op output, and
    # for one that only an indexing or reshaping op has read (_read is a weak reference
    # to that op: ops.getitem, ops._reshaped)
    read = getattr(self, "_read", False)
    if read is True:
        users, other = _graph_users(self, refs)
    else:       # False, or a weak reference to the one op that read it (None once freed)
        read = read() if read is not False else None
        users, other = ([read] if read is not None and not read.released else []), False
    if other:
        raise RuntimeError(f"{name}: this tensor is saved by an op recorded earlier (a "
                           f"custom Function's saved tensors), whose backward needs its "
                           f"current value; changing it in place would make the gradients "
                           f"wrong. Use the out-of-place form ({_out_of_place(name)})")
    old = _leaf(_array_of(self), self.requires_grad)    # the value before, for the graph
    old.grad_fn = self.grad_fn
    for user in users:      # ops recorded earlier read the value before, as in PyTorch
        user.inputs = tuple(old if i is self else i for i in user.inputs)
        old._read = True
    out = fn(old, *(old if a is self else a for a in args))     # y.add_(y): y before
    # new storage: earlier views and saved values keep the old one, as the graph needs.
    # The result's own array is that storage when nothing else holds it (out's and ours)
    r = _array_of(out)
    if view:
        new = r
    elif type(r) is np.ndarray and r.base is None and r.dtype == old.dtype and \
            r.shape == old.shape and r.flags.writeable and \
            getrefcount(r) <= _ONE_LOCAL + 1:     # our local r and out's own slot
        new = r
    else:
        new = np.empty_like(old.data)
        _store(_leaf(new), name, out.data)
    self.data = new
    self.grad_fn, self._rg = out.grad_fn, out._rg
    self._read = False      # the ops that read it now read `old`
    return self


def _whole_view(v, base):
    """Whether ``v`` is ``base`` reshaped (view, reshape, flatten, unsqueeze...): the same
    elements, in the same memory, in the same order; and ``base`` no leaf that requires
    grad (PyTorch refuses in place on its views)."""
    a, b = _array_of(v), _array_of(base)
    return a.size == b.size and a.flags.c_contiguous and b.flags.c_contiguous and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and \
        not (base.requires_grad and base.grad_fn is None)


def _inplace_whole_view(self, base, name, fn, args, operands, view):
    """In place on a reshaped ``base`` while recording, as PyTorch: the view changes, then
    ``base`` becomes the view reshaped back (recorded), so both see the change and share
    memory again (d2l's masked_softmax: ``X.reshape(-1, n)[~mask] = -1e6`` on scores)."""
    self._view_of = None
    try:
        _inplace(self, name, fn, *args, operands=operands, view=view)
        _inplace(base, name, lambda b, v: _ops.reshape(v, b.shape), self, view=True)
    finally:
        self._view_of = base
    return self


def _other_views(v, base, args, refs):
    """Whether a tensor other than ``v``, the operands ``args`` and the view base's last
    op wrote (an earlier change like this one) is a view of ``base``'s current memory
    (``refs``: base's referrers): it would keep base's old values, where PyTorch's sees
    the change, so such a change stays refused."""
    known = (v,) + args + tuple(getattr(base.grad_fn, "inputs", None) or ())  # the graph's
    now = _array_of(base)
    return any(isinstance(r, Tensor) and getattr(r, "_view_of", None) is base and
               not any(r is a for a in known) and np.may_share_memory(_array_of(r), now)
               for r in refs)


def _place_in(v, base):
    """Where each element of the view ``v`` lies in ``base``: a tuple of index arrays of
    v's shape, or None where that cannot be told (base's array not C-contiguous, v
    reinterpreting its bytes: the error then stands)."""
    flat = _flat_place(v, base)
    return None if flat is None else np.unravel_index(flat, base.shape)


def _flat_place(v, base):
    """:func:`_place_in` as flat positions: read off the memory (offset and strides), or,
    for ``y[i, j]`` taken while recording (a copied scalar, see ``ops._element``), off the
    indexing op that made it."""
    a, b = _array_of(v), _array_of(base)
    if not b.flags.c_contiguous or a.dtype != b.dtype:
        return None
    lo, hi = np.lib.array_utils.byte_bounds(a)
    blo, bhi = np.lib.array_utils.byte_bounds(b)
    size, off = b.itemsize, lo - blo if a.size else -1
    if blo <= lo and hi <= bhi and off % size == 0 and all(s % size == 0 for s in a.strides):
        off = a.__array_interface__["data"][0] - blo
        flat = np.arange(b.size)
        return np.lib.stride_tricks.as_strided(flat[off // size:], a.shape, tuple(
            s // size * flat.itemsize for s in a.strides), writeable=False)
    fn = v.grad_fn
    if a.ndim == 0 and type(fn) is _ops.GetItemOp and getattr(fn, "inputs", None):
        src, index = fn.inputs[0], fn.index
        if all(isinstance(i, numbers.Integral) for i in np.atleast_1d(index)):
            at = np.arange(b.size).reshape(b.shape) if src is base else _flat_place(src, base)
            return None if at is None else np.asarray(at[index])
    return None


def _inplace_strided_view(self, base, where, name, fn, args, operands, refs):
    """In place on a view that picks some of ``base``'s elements (``torch.diagonal(c)``,
    ``c[0]``, ``c[:, 1:]``) while recording, as PyTorch: the view changes, then ``base``
    becomes itself with the view's new values written at ``where`` (recorded, so its graph
    sees the change: Barlow Twins' ``torch.diagonal(c).add_(-1).pow_(2)``), and the view
    is again a window on base's memory."""
    a = _array_of(self)
    start = int(np.ravel_multi_index(tuple(w.flat[0] for w in where), base.shape)) \
        if a.size else 0        # where the view's first element lies in base
    self._view_of = None
    try:
        _inplace(self, name, fn, *args, operands=operands)
        _inplace(base, name, lambda b, v: _ops.index_put(b, where, v), self, refs=refs)
    finally:
        self._view_of = base
    b = _array_of(base).reshape(-1)     # base's new storage (C-contiguous, as before)
    self.data = np.lib.stride_tricks.as_strided(b[start:], a.shape, a.strides)
    return self


def _setitem(self, index, value):
    """``t[index] = value``, as PyTorch: in place under no_grad or off the graph (a view
    ``t[0]`` shares t's memory); while recording, on a tensor made by an op or with a
    ``value`` that requires grad, it is recorded (``value`` gets the gradient at index)."""
    if not (is_grad_enabled() and (self.requires_grad or (
            isinstance(value, Tensor) and value.requires_grad))):
        if isinstance(value, Tensor) and _anomaly.reads is not None:
            _anomaly.reads.append((value,))     # utils.checkpoint: value is read here
        d = _array_of(self)
        if not d.flags.writeable:       # a shared read-only constant: take a private copy
            d = d.copy()
            self.data = d
        _ops.put_array(d, _clean_index(index), _raw(value))
        return
    if self.requires_grad and self.grad_fn is None:
        raise RuntimeError("setitem: in-place assignment into a tensor that requires grad "
                           "would corrupt the graph: this is a leaf (e.g. a parameter), "
                           "which PyTorch refuses too; wrap the assignment in "
                           "`with zeroin.no_grad():` to change it, or assign into a copy "
                           "(y = w.clone(); y[i] = v) to build a new tensor")
    _inplace(self, "setitem", lambda x, v: _ops.index_put(x, index, v), value)


Tensor.__setitem__ = _setitem


def _inplace_method(name, fn):
    def method(self, *args, **kwargs):
        return _inplace(self, name, lambda x, *a: fn(x, *a, **{
            k: x if v is self else v for k, v in kwargs.items()}), *args,
            operands=kwargs.values())
    method.__name__ = name
    method.__doc__ = f"In place: ``x.{name}(...)`` sets x to ``x.{name[:-1]}(...)``."
    setattr(Tensor, name, method)


def _add(x, other, alpha=1):
    if isinstance(alpha, (Tensor, np.ndarray)) and _tm._number_first(other, alpha):
        # PyTorch's deprecated add_(alpha, other)
        number_first("add_", "add_(other, alpha=a)")
        other, alpha = alpha, other
    return _ops.add(x, other if alpha == 1 else other * alpha)


def _sub(x, other, alpha=1):
    if isinstance(alpha, (Tensor, np.ndarray)) and _tm._number_first(other, alpha):
        # PyTorch's deprecated sub_(alpha, other)
        number_first("sub_", "sub_(other, alpha=a)")
        other, alpha = alpha, other
    return _ops.sub(x, other if alpha == 1 else other * alpha)


def _fill(x, value):
    if np.ndim(_raw(value)):
        raise ShapeError(f"fill_: the value must be a number or a 0-d tensor, got shape "
                         f"{np.shape(_raw(value))}; to copy a tensor in (broadcasting), use "
                         f"copy_")
    return _full(x, _ops._fill_scalar("fill_", value, x.dtype))


def _full(x, value):
    """``value`` in x's shape and dtype; in the graph where x or value is (value gets the
    gradient, x none), by ``where``: x * 0 + value would make x's inf or NaN a NaN."""
    grad = isinstance(value, Tensor) and value.requires_grad
    if not (x.requires_grad or grad):
        return _leaf(np.broadcast_to(np.asarray(_raw(value), dtype=x.dtype), x.shape))
    v = value if grad else _leaf(np.asarray(_raw(value), dtype=x.dtype))
    if v.dtype != x.dtype:
        v = _ops.astype(v, x.dtype)
    return _ops.where(_leaf(np.ones(x.shape, bool)), v, x)


def _copy(x, src, non_blocking=False):
    s = _ops._t(src)
    if s.shape != x.shape:
        try:
            fits = np.broadcast_shapes(s.shape, x.shape) == x.shape
        except ValueError:
            fits = False
        if not fits:
            raise ShapeError(f"copy_: the source of shape {s.shape} cannot be broadcast to the "
                             f"tensor's shape {x.shape}; give a source of shape {x.shape} (or "
                             f"one that broadcasts to it)")
    if s.dtype != x.dtype:
        s = _ops.astype(s, x.dtype) if s.dtype.kind in "fc" and x.dtype.kind in "fc" else \
            _leaf(s.data.astype(x.dtype))
    return _ops.broadcast_to(s, x.shape) if s.shape != x.shape else s * 1


for _name, _fn in (("add_", _add), ("sub_", _sub), ("mul_", _ops.mul), ("div_", _ops.div),
                   ("pow_", _ops.pow), ("fill_", _fill), ("copy_", _copy),
                   ("clamp_", _ops.clip), ("clip_", _ops.clip),
                   ("masked_fill_", _x.masked_fill), ("abs_", _ops.abs),
                   ("neg_", _ops.neg), ("exp_", _ops.exp), ("log_", _ops.log),
                   ("sqrt_", _ops.sqrt), ("sigmoid_", _ops.sigmoid), ("tanh_", _ops.tanh),
                   ("relu_", _ops.relu), ("floor_", _x.floor), ("ceil_", _x.ceil),
                   ("round_", _x.round), ("square_", _x.square), ("lerp_", _x.lerp),
                   ("addcmul_", lambda x, a, b, *more, value=1: _addc(
                       "addcmul_", _ops.mul, x, a, b, more, value)),
                   ("addcdiv_", lambda x, a, b, *more, value=1: _addc(
                       "addcdiv_", _ops.div, x, a, b, more, value)),
                   ("scatter_", _x.scatter), ("index_add_", index_add),
                   ("index_fill_", None)):
    if _fn is not None:
        _inplace_method(_name, _fn)
Tensor.zero_ = lambda self: _inplace(self, "zero_", _full, 0)
Tensor.zero_.__doc__ = "Fill with zeros in place (e.g. ``w.grad.zero_()``); returns self."


def _random_fill(name, draw):
    def method(self, *args, generator=None, **kwargs):
        if self.dtype.kind != "f":
            raise NotImplementedError(f"{name}: expects a floating-point tensor, got "
                                      f"{self.dtype}; convert first (x = x.double())")
        stream = torch_stream(generator)
        if stream is not None:
            values = torch_fill(stream, name, self.data, *args, **kwargs)
        else:
            values = draw(get_rng(generator), self.shape, *args, **kwargs)
        return _inplace(self, name, _full, _leaf(np.asarray(values, dtype=self.dtype)))
    method.__name__ = name
    setattr(Tensor, name, method)


def _bernoulli_(self, p=0.5, *, generator=None):
    """In place: 1 with probability ``p`` (a number or a tensor), else 0."""
    from ._creation import bernoulli
    return _inplace(self, "bernoulli_", _full, bernoulli(self, p, generator=generator))


def _sampling_methods():
    from ._creation import bernoulli, multinomial
    Tensor.multinomial = lambda self, num_samples, replacement=False, *, generator=None: \
        multinomial(self, num_samples, replacement, generator=generator)
    Tensor.bernoulli = lambda self, p=None, *, generator=None: \
        bernoulli(self, p, generator=generator)
    Tensor.multinomial.__doc__ = multinomial.__doc__
    Tensor.bernoulli.__doc__ = bernoulli.__doc__
    Tensor.bernoulli_ = _bernoulli_


_sampling_methods()
_random_fill("uniform_", lambda r, shape, a=0.0, b=1.0: r.uniform(a, b, shape))
_random_fill("normal_", lambda r, shape, mean=0.0, std=1.0: r.normal(mean, std, shape))
_random_fill("exponential_", lambda r, shape, lambd=1.0: r.exponential(1 / lambd, shape))


def _inplace_dtype_error(symbol, d, value):
    """PyTorch's refusal of ``t op= v`` whose result (by its promotion: ``/`` of integers
    gives the default float dtype) does not fit ``t``'s dtype, naming that dtype and the
    fixes."""
    try:
        dt = _ops.result_type(Tensor(d), value)
    except TypeError:
        dt = np.result_type(d, np.asarray(value))
    if symbol == "/" and dt.kind in "biu":
        dt = _tm.get_default_dtype()
    what = (f"a tensor of dtype {value.dtype}" if isinstance(value, Tensor)
            else type(value).__name__)
    return DtypeError(f"in-place {symbol}=: result type {dt} (this {d.dtype} tensor {symbol} "
                      f"{what}) can't be cast to the desired output type {d.dtype}, as in "
                      f"PyTorch (in place keeps the tensor's dtype); write t = t {symbol} v, "
                      f"or convert first: t = t.to(zeroin.{dt})")


if _tm.FAST:     # t += u, t -= u of large float arrays in one BLAS call, the same bits
    from ._fast import axpy_tensors as _axpy     # (T20)
else:
    _axpy = None


def _operator(npf, symbol, fn):
    """``x op= v`` as PyTorch: in place on the values when nothing is recorded (under
    no_grad, or no operand requires grad); while recording, the recorded in-place op of
    ``x.add_(v)`` and friends, so every reference to ``x`` sees the result. A view, while
    recording, gets the name rebound instead (``x = x op v``): ``y[i] += v`` then goes on
    as the recorded ``y[i] = ...``."""
    name = f"in-place {symbol}="
    sign = {np.add: 1.0, np.subtract: -1.0}.get(npf) if _axpy is not None else None

    def f(self, value):
        if (self.requires_grad or isinstance(value, Tensor) and value.requires_grad) and \
                (_tm._off_threads == 0 or _tm._mode.enabled):     # is_grad_enabled(), inlined
            base = getattr(self, "_view_of", None)
            if base is not None and not _whole_view(self, base):
                return fn(self, value)
            return _inplace(self, name, fn, value)
        if sign and type(value) is Tensor and _axpy(self, sign, value):   # T20: BLAS's
            return self
        try:
            return self._inplace(npf, symbol, value)
        except ZeroinError:         # its own refusals (bool - bool): as they are
            raise
        except TypeError:
            raise _inplace_dtype_error(symbol, self.data, value) from None
    return f


Tensor.__iadd__ = _operator(np.add, "+", _ops.add)
Tensor.__isub__ = _operator(np.subtract, "-", _ops.sub)
Tensor.__imul__ = _operator(np.multiply, "*", _ops.mul)
Tensor.__itruediv__ = _operator(np.divide, "/", _ops.div)


def _int_checked(npf, name):
    def f(a, b, out):       # as Tensor._inplace calls a ufunc: npf(d, v, d)
        _ops._check_int_divisor(name, a, b)
        return npf(a, b, out)
    return f


Tensor.__ipow__ = _operator(np.power, "**", _ops.pow)
Tensor.__ifloordiv__ = _operator(_int_checked(np.floor_divide, "in-place //="), "//",
                                 lambda x, v: _ops.div(x, v, rounding_mode="floor"))
Tensor.__imod__ = _operator(_int_checked(np.mod, "in-place %="), "%", _x.remainder)
for _name, _npf, _symbol in (("and", np.bitwise_and, "&"), ("or", np.bitwise_or, "|"),
                             ("xor", np.bitwise_xor, "^")):
    setattr(Tensor, f"__i{_name}__", _operator(_npf, _symbol, getattr(Tensor, f"__{_name}__")))
