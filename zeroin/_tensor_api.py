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

import numpy as np

from . import _tensor as _tm
from . import ops as _ops
from . import _torch_ops as _x
from ._tensor import Tensor, _GradSwitch, _leaf, _raw, _set_grad_mode, is_grad_enabled, no_grad
from .dtypes import CPU, as_device, as_dtype
from .errors import ShapeError
from .function import Function
from .random import get_rng

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


class Size(tuple):
    """A tensor's shape, as returned by ``x.size()``: a tuple (``torch.Size``)."""
    __slots__ = ()

    def numel(self):
        return int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"zeroin.Size({list(self)})"


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
    return shape[dim] if shape else 1


@_method("numel", "nelement")
def numel(self):
    """The number of elements."""
    return int(np.prod(self.shape, dtype=np.int64))


_export(numel)


@_method("dim", "ndimension")
def dim(self):
    """The number of dimensions."""
    return self.ndim


Tensor.T = property(lambda self: _ops.permute(self, None),
                    doc="The dimensions reversed (a matrix transposed).")
Tensor.mT = property(lambda self: _ops.transpose(self, -2, -1),
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
def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False, **_):
    """``x.to(dtype)``, ``x.to("cpu")``, ``x.to(device, dtype)``, ``x.to(other)``: this
    tensor itself when nothing changes, else a (differentiable) cast."""
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
        return _ops.astype(self, self.dtype) if copy else self
    return _ops.astype(self, d)


def _caster(dt, name):
    def cast(self, memory_format=None):
        return to(self, dt)
    cast.__name__ = name
    cast.__doc__ = f"This tensor as {np.dtype(dt).name} (itself if it already is)."
    return cast


for _name, _dt in (("float", np.float32), ("double", np.float64), ("half", np.float16),
                   ("long", np.int64), ("int", np.int32), ("short", np.int16),
                   ("bool", np.bool_), ("byte", np.uint8)):
    setattr(Tensor, _name, _caster(_dt, _name))


@_method("type")
def type_(self, dtype=None, non_blocking=False):
    """With a dtype: this tensor cast to it; without: its type name."""
    if dtype is None:
        return f"zeroin.{self.dtype.name}"
    legacy = getattr(dtype, "legacy_dtype", None)       # zeroin.FloatTensor, ...
    if legacy is not None:
        return to(self, legacy)
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        name = dtype.rsplit(".", 1)[-1][:-6]
        if name not in _LEGACY_TYPES:
            raise TypeError(f"type: {dtype!r} is not a tensor type; use one of "
                            f"{', '.join(n + 'Tensor' for n in _LEGACY_TYPES)} or a dtype "
                            f"such as zeroin.float32")
        dtype = np.dtype(_LEGACY_TYPES[name])
    return to(self, dtype)


_LEGACY_TYPES = {"Float": "float32", "Double": "float64", "Long": "int64", "Int": "int32",
                 "Bool": "bool", "Half": "float16", "Short": "int16", "Byte": "uint8",
                 "Char": "int8"}


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


@_method()
def contiguous(self, memory_format=None):
    """This tensor (NumPy arrays need no contiguity for zeroin's ops)."""
    return self


@_method()
def element_size(self):
    return self.dtype.itemsize


# --- comparisons and logic (no gradient) -------------------------------------------------

def _compare(npf, name):
    def f(input, other):  # noqa: A002
        return _leaf(npf(_raw(input), _raw(other)))
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
        return _leaf(np.asarray(npf(x.data, axis=d, keepdims=keepdim)))
    f.__name__ = name
    f.__doc__ = f"Whether {'all' if name == 'all' else 'any'} elements are true (over dim)."
    return f


for _name, _npf in (("all", np.all), ("any", np.any), ("count_nonzero", np.count_nonzero)):
    _f = _reducer(_npf, _name)
    setattr(Tensor, _name, _f)
    _export(_f)


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
    return bool(np.allclose(_raw(input), _raw(other), rtol, atol, equal_nan))


@_method()
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    return _leaf(np.isclose(_raw(input), _raw(other), rtol, atol, equal_nan))


@_method()
def nonzero(input, *, as_tuple=False):  # noqa: A002
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-D ones."""
    idx = np.nonzero(_raw(input))
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
    """The distinct values (sorted); with ``return_inverse``/``return_counts`` a tuple."""
    r = np.unique(_raw(input), return_inverse=return_inverse, return_counts=return_counts,
                  axis=dim)
    if isinstance(r, tuple):
        return tuple(_leaf(r[0])) + tuple(_leaf(a.astype(np.int64)) for a in r[1:])
    return _leaf(r)


@_method()
def bincount(input, weights=None, minlength=0):  # noqa: A002
    return _leaf(np.bincount(_raw(input), None if weights is None else _raw(weights),
                             minlength).astype(np.int64 if weights is None else np.float64))


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
    return _ops.matmul(input, mat2)


@_method()
def bmm(input, mat2):  # noqa: A002
    """Batched matrix product of two 3-D tensors (b, n, m) @ (b, m, p)."""
    a, b = _ops._t(input), _ops._t(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ShapeError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{a.shape} and {b.shape}")
    return _ops.matmul(a, b)


@_method()
def mv(input, vec):  # noqa: A002
    return _ops.matmul(input, vec)


@_method()
def dot(input, other):  # noqa: A002
    a, b = _ops._t(input), _ops._t(other)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"dot: expects two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return _ops.matmul(a, b)


@_method()
def outer(input, vec2):  # noqa: A002
    return _ops.reshape(input, -1, 1) * _ops.reshape(vec2, 1, -1)


@_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    """beta * input + alpha * (mat1 @ mat2)."""
    p = mm(mat1, mat2)
    return (input if beta == 1 else input * beta) + (p if alpha == 1 else p * alpha)


@_method()
def lerp(input, end, weight):  # noqa: A002
    """input + weight * (end - input)."""
    return input + weight * (end - input)


@_method("true_divide", "divide")
def true_divide(input, other):  # noqa: A002
    return _ops.div(input, other)


@_method("multiply")
def multiply(input, other):  # noqa: A002
    return _ops.mul(input, other)


@_method("subtract")
def subtract(input, other, *, alpha=1):  # noqa: A002
    return _ops.sub(input, other, alpha=alpha)


@_method("floor_divide", "__floordiv__")
def floor_divide(input, other):  # noqa: A002
    """Elementwise floor(input / other); no gradient (as in PyTorch)."""
    return _leaf(np.asarray(np.floor_divide(_raw(input), _raw(other))))


Tensor.__rfloordiv__ = lambda self, other: floor_divide(other, self)


@_method()
def positive(input):  # noqa: A002
    return input


@_method()
def clone(input, *, memory_format=None):  # noqa: A002
    """A copy in the graph (gradients flow back to the original)."""
    return _x.clone(input)


@_method()
def repeat_interleave(input, repeats, dim=None):  # noqa: A002
    """Repeat each element ``repeats`` times along ``dim`` (the flattened tensor if None)."""
    x = _ops._t(input)
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = _ops._check_axis("repeat_interleave", x, dim) % max(x.ndim, 1)
    idx = np.repeat(np.arange(x.shape[d]), _raw(repeats))
    return _x.index_select(x, d, idx)


@_method()
def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal of a matrix (2-D only here)."""
    x = _ops._t(input)
    if x.ndim != 2 or (dim1, dim2) not in ((0, 1), (-2, -1)):
        raise NotImplementedError("diagonal: only the main dims of a 2-D tensor")
    n = min(x.shape[0] - max(-offset, 0), x.shape[1] - max(offset, 0))
    i = np.arange(max(n, 0))
    return _ops.getitem(x, (i + max(-offset, 0), i + max(offset, 0)))


@_method()
def diag(input, diagonal=0):  # noqa: A002
    """The diagonal of a matrix, or the square matrix with a vector on its diagonal."""
    x = _ops._t(input)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    if x.ndim != 1 or diagonal:
        raise NotImplementedError("diag: a 2-D tensor, or a 1-D one with diagonal=0")
    return _ops.reshape(x, -1, 1) * np.eye(x.shape[0], dtype=x.dtype)


for _f in (mm, bmm, mv, dot, outer, addmm, lerp, true_divide, multiply, subtract,
           floor_divide, positive, clone, repeat_interleave, diagonal, diag):
    _export(_f)
_export(true_divide, "divide")
for _name in ("split", "chunk", "unbind"):
    setattr(Tensor, _name, getattr(_x, _name))
    _export(getattr(_x, _name))
_export(_x.sign, "sgn")
_export(_ops.concatenate, "concat")


@_export
def hstack(tensors):
    ts = [_ops._t(t) for t in tensors]
    return _ops.concatenate(ts, 0 if ts[0].ndim == 1 else 1)


@_export
def vstack(tensors):
    ts = [_ops._t(t) for t in tensors]
    return _ops.concatenate([t.reshape(1, -1) if t.ndim == 1 else t for t in ts], 0)


# --- grad mode -------------------------------------------------------------------------------

class set_grad_enabled(_GradSwitch):
    """Turn graph recording on or off: at once when called (``set_grad_enabled(False)``),
    or for a block (``with set_grad_enabled(False):``), as in PyTorch."""

    def __init__(self, mode):
        self._value = bool(mode)
        self._prev = _set_grad_mode(self._value)

    def __enter__(self):
        return self


class inference_mode(no_grad):
    """Like :class:`zeroin.no_grad` (zeroin has no separate inference tensors)."""

    def __init__(self, mode=True):
        self._value = not mode


EXPORTS["set_grad_enabled"] = set_grad_enabled
EXPORTS["inference_mode"] = inference_mode
EXPORTS["Size"] = Size


# --- in-place methods ----------------------------------------------------------------------

def _used_by_graph(t):
    """Whether a recorded op (not yet backpropagated) holds ``t`` as an input."""
    for r in gc.get_referrers(t):
        if isinstance(r, Function):
            return True
        if type(r) in (tuple, list):
            for rr in gc.get_referrers(r):
                if isinstance(rr, Function) and getattr(rr, "inputs", None) is r and \
                        not getattr(rr, "released", True):
                    return True
    return False


def _store(self, name, value):
    """Write ``value`` into this tensor's array (PyTorch's casting and broadcasting)."""
    d = self.data
    if not d.flags.writeable:       # a shared read-only constant: take a private copy
        d = self.data = d.copy()
    try:
        np.copyto(d, value, casting="same_kind")
    except TypeError:
        raise RuntimeError(f"{name}: the result has dtype {np.asarray(value).dtype}, which "
                           f"cannot be stored in this {d.dtype} tensor in place; use the "
                           f"out-of-place form or convert first") from None
    except ValueError as e:
        raise ShapeError(f"{name}: a result of shape {np.shape(value)} cannot be written "
                         f"into a tensor of shape {d.shape} in place: {e}") from None


def _inplace(self, name, fn, *args):
    """Replace this tensor's values by ``fn(self, *args)`` (a tensor), PyTorch's way."""
    track = is_grad_enabled() and (self.requires_grad or any(
        isinstance(a, Tensor) and a.requires_grad for a in args))
    if not track:
        with no_grad():
            out = fn(self, *args)
        _store(self, name, out.data if isinstance(out, Tensor) else out)
        return self
    if self.requires_grad and self.grad_fn is None:
        raise RuntimeError(f"{name}: this tensor requires grad (a leaf, e.g. a parameter), "
                           f"so changing it in place while the graph is recorded would "
                           f"corrupt it; to clear a gradient use w.grad.zero_() or "
                           f"w.grad = None, and to change a parameter wrap the call in "
                           f"`with zeroin.no_grad():`")
    if _used_by_graph(self):
        raise RuntimeError(f"{name}: this tensor is an input of an op recorded earlier, "
                           f"whose backward needs its current value; changing it in place "
                           f"would make the gradients wrong. Use the out-of-place form "
                           f"(y = y.{name.rstrip('_')}(...)) instead")
    old = _leaf(self.data.copy(), self.requires_grad)   # the value before, for the graph
    old.grad_fn = self.grad_fn
    out = fn(old, *args)
    _store(self, name, out.data)
    self.grad_fn, self.requires_grad = out.grad_fn, out.requires_grad
    return self


def _inplace_method(name, fn):
    def method(self, *args, **kwargs):
        return _inplace(self, name, lambda x, *a: fn(x, *a, **kwargs), *args)
    method.__name__ = name
    method.__doc__ = f"In place: ``x.{name}(...)`` sets x to ``x.{name[:-1]}(...)``."
    setattr(Tensor, name, method)


def _add(x, other, alpha=1):
    return _ops.add(x, other if alpha == 1 else other * alpha)


def _sub(x, other, alpha=1):
    return _ops.sub(x, other if alpha == 1 else other * alpha)


def _full(x, value):
    v = _raw(value)
    if x.requires_grad:
        return x * 0 + value
    return _leaf(np.broadcast_to(np.asarray(v, dtype=x.dtype), x.shape))


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
                   ("pow_", _ops.pow), ("fill_", _full), ("copy_", _copy),
                   ("clamp_", _ops.clip), ("clip_", _ops.clip),
                   ("masked_fill_", _x.masked_fill), ("abs_", _ops.abs),
                   ("neg_", _ops.neg), ("exp_", _ops.exp), ("log_", _ops.log),
                   ("sqrt_", _ops.sqrt), ("sigmoid_", _ops.sigmoid), ("tanh_", _ops.tanh),
                   ("relu_", _ops.relu), ("floor_", _x.floor), ("ceil_", _x.ceil),
                   ("round_", _x.round), ("square_", _x.square), ("lerp_", lerp),
                   ("addcmul_", lambda x, a, b, value=1: x + value * a * b),
                   ("addcdiv_", lambda x, a, b, value=1: x + value * a / b),
                   ("scatter_", _x.scatter), ("index_fill_", None)):
    if _fn is not None:
        _inplace_method(_name, _fn)
Tensor.zero_ = lambda self: _inplace(self, "zero_", _full, 0)
Tensor.zero_.__doc__ = "Fill with zeros in place (e.g. ``w.grad.zero_()``); returns self."


def _random_fill(name, draw):
    def method(self, *args, generator=None, **kwargs):
        if self.dtype.kind != "f":
            raise TypeError(f"{name}: expects a floating-point tensor, got {self.dtype}")
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
_random_fill("bernoulli_", lambda r, shape, p=0.5: (r.random(shape) < p))


def _operator(npf, symbol, fn):
    """``x op= v``: in place under no_grad (or off the graph); on a tensor made by an op,
    while recording, the name is rebound to the new tensor ``x op v`` (as a Python
    ``x = x op v``), which leaves any op that used the old ``x`` correct."""
    def f(self, value):
        # a leaf (w -= lr * w.grad) is decided by its grad_fn alone
        if self.grad_fn is not None and self.requires_grad and is_grad_enabled():
            return fn(self, value)
        return self._inplace(npf, symbol, value)
    return f


Tensor.__iadd__ = _operator(np.add, "+", _ops.add)
Tensor.__isub__ = _operator(np.subtract, "-", _ops.sub)
Tensor.__imul__ = _operator(np.multiply, "*", _ops.mul)
Tensor.__itruediv__ = _operator(np.divide, "/", _ops.div)
