"""The Tensor: a NumPy array that remembers how it was made.

A tensor produced by an op holds a ``grad_fn`` (the :class:`~zeroin.function.Function`
that made it); that function holds its ``inputs``. Following ``grad_fn.inputs`` from an
output back to the leaves is the graph that backward, drawing and explaining all read
(see :mod:`zeroin.graph`).
"""
from __future__ import annotations

import builtins
import math
import numbers
import os
import sys
import threading
from operator import attrgetter

import numpy as np

from .anomaly import anomaly
from ._handle import HOOKED as _HOOKED, RemovableHandle as _RemovableHandle, _ids as _handle_ids
from .errors import DtypeError, InvalidValueError, ShapeError, broadcast_message
from .errors import a_type

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled",
           "set_default_dtype", "get_default_dtype"]

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_default_dtype = _F64
# bound once: NumPy's module has a __getattr__, so CPython 3.11 does not specialise np.name
# loads (about 290 instructions each), and x -= v under no_grad is an SGD step's update
_ndarray, _subtract = np.ndarray, np.subtract

# ZEROIN_FAST=0 (read once, here) runs the reference engine only: no Python-float scalars
# (below) and no zeroin/_fast.py; results are the same (see docs/architecture.md).
FAST = os.environ.get("ZEROIN_FAST", "1").strip() != "0"
# Python floats become T1 float scalars (zeroin/_fast.py) only while the default is float64
_float_lane = FAST


def set_default_dtype(dtype):
    """Set the float dtype used for Python numbers and lists (float64 unless changed)."""
    global _default_dtype, _float_lane
    d = np.dtype(dtype)
    if d.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype such as float32 or "
                        f"float64, got {d}")
    _default_dtype = d
    _float_lane = FAST and d is _F64


def get_default_dtype():
    """The float dtype used for Python numbers and lists."""
    return _default_dtype


# --- grad mode (thread-local) ----------------------------------------------------------

class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()
# Threads whose grad mode is off right now. Reading a thread-local costs about as much as
# the rest of a scalar op, so ops read _mode only while some thread has switched it off.
_off_threads = 0
_off_lock = threading.Lock()


def _set_grad_mode(value):
    """Set this thread's grad mode (keeping ``_off_threads`` true); returns the old one."""
    global _off_threads
    value = bool(value)
    prev = _mode.enabled
    if value is not prev:
        with _off_lock:
            _off_threads += -1 if value else 1
        _mode.enabled = value
    return prev


_float_warned = False       # float(t) of a tensor that requires grad warned already


def is_grad_enabled():
    """True when new ops record the graph (the default; see :class:`no_grad`)."""
    return _off_threads == 0 or _mode.enabled


class _GradSwitch:
    """Context manager and decorator that sets grad mode for the current thread."""
    _value = True

    def __enter__(self):        # `with no_grad() as x:` binds None, as PyTorch's
        self._prev = _set_grad_mode(self._value)

    def __exit__(self, *exc):
        _set_grad_mode(self._prev)
        return False

    def __call__(self, func):
        import functools
        value = self._value

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            prev = _set_grad_mode(value)
            try:
                return func(*args, **kwargs)
            finally:
                _set_grad_mode(prev)
        return wrapper


class _NoArgSwitch(_GradSwitch):
    """A switch that also decorates without the call, ``@zeroin.no_grad``, as PyTorch's."""

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        return self if orig_func is None else self(orig_func)


class no_grad(_NoArgSwitch):
    """Ops inside do not record the graph: for evaluation and for in-place updates.

    Use as ``with zeroin.no_grad(): ...`` or as a decorator, ``@zeroin.no_grad()`` or
    ``@zeroin.no_grad``. Grad mode is per thread.
    """
    _value = False


class enable_grad(_NoArgSwitch):
    """Turn graph recording back on inside a :class:`no_grad` block (or as a decorator)."""
    _value = True


# --- the tensor ------------------------------------------------------------------------

_to_array_lock = threading.Lock()

def _as_array(data, dtype=None, requires_grad=False):
    if type(data) is float and dtype is None:     # zeroin.tensor(3.0): the common scalar
        return np.array(data, dtype=_default_dtype)
    if isinstance(data, Tensor):
        data = _array_of(data)
    from_python = not isinstance(data, (np.ndarray, np.generic))
    if type(data) is list or type(data) is tuple:
        data = _tensor_items(data)
    try:
        arr = np.array(data, dtype=dtype)
    except ValueError as e:     # ragged nested lists, unparsable strings
        raise ValueError(_ragged_message(data) or f"tensor: cannot make a tensor from this "
                         f"{type(data).__name__}: {e}") from None
    except OverflowError:       # tensor([-1], dtype=uint8): PyTorch wraps it or refuses
        arr = _converted_items(data, dtype)
    if dtype is None and from_python:
        if arr.dtype.kind == "f" or (requires_grad and arr.dtype.kind in "iub"):
            # Python floats take the default float dtype; Python ints that are asked to
            # require grad are promoted to it too (w = zeroin.tensor(3, requires_grad=True));
            # float tensors and NumPy floats in the list keep theirs, the widest wins.
            arr = arr.astype(_list_float_dtype(data) if arr.dtype.kind == "f"
                             else _default_dtype, copy=False)
        elif arr.dtype.kind == "c":     # complex64 under float32, as PyTorch's
            arr = arr.astype(np.result_type(_default_dtype, np.complex64), copy=False)
    if arr.dtype.kind in "OUSV":    # objects, strings, bytes, records
        hint = ("; an object array (as pandas' df.values of mixed columns, bool dummies "
                "beside floats) converts with a.astype(float), or df.to_numpy(dtype=float)"
                ) if isinstance(data, np.ndarray) and data.dtype.kind == "O" else ""
        raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} "
                        f"(NumPy gives dtype {arr.dtype}); pass numbers, nested lists of "
                        f"numbers or a numeric NumPy array{hint}")
    return arr


def fill_scalar(op, value, dtype):
    """A Python number ``value`` converted as PyTorch converts a fill value to ``dtype``: a
    finite number past a float dtype's range (float16's 65504: ``fill_(-9e15)``), or NaN,
    inf or a number past an integer dtype's range, is refused (NumPy gives inf, or raises
    OverflowError); an unsigned dtype takes a negative whole number down to -max, wrapped
    (uint8: -1 is 255), and an integer dtype truncates a fraction, as PyTorch's do."""
    d = np.dtype(dtype)
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) or \
            d.kind not in "fiu":
        return value
    if isinstance(value, np.generic):   # np.float32(1.5) against float64's max: a Python float
        value = value.item()
    if d.kind == "f":
        hi = float(np.finfo(d).max)
        if not (math.isfinite(value) and builtins.abs(value) > hi):     # not zeroin's abs
            return value
        lo, hi = f"{-hi:g}", f"{hi:g}"
    else:
        lo, hi = int(np.iinfo(d).min), int(np.iinfo(d).max)
        wraps = d.kind == "u" and isinstance(value, numbers.Integral)     # -1 -> 255
        if math.isfinite(value) and (-hi if wraps else lo) <= value <= hi:
            v = int(value)
            return v % (hi + 1) if v < 0 and d.kind == "u" else v
    shown = int(value) if isinstance(value, numbers.Integral) else f"{float(value):g}"
    raise InvalidValueError(f"{op}: the value {shown} cannot be converted to {d} without "
                            f"overflow ({d} holds {lo} to {hi}); convert the tensor first "
                            f"(x.float(), x.double(), x.long())")


def _converted_items(data, dtype):
    """Numbers past an integer dtype's range, converted one by one as PyTorch converts
    them: an unsigned dtype takes a whole number down to -max, wrapped (uint8: -1 is 255);
    any other is refused with an error that names it (NumPy's OverflowError did not)."""
    items = np.array(data, dtype=object)
    try:
        values = [fill_scalar("tensor", v, dtype) for v in items.ravel()]
    except InvalidValueError as e:
        raise InvalidValueError(str(e).split("; convert")[0] + "; give a dtype that holds "
                                "it (dtype=zeroin.int64, zeroin.float32, ...)") from None
    return np.array(values, dtype=dtype).reshape(items.shape)


_PY_NUMBERS = frozenset((int, float, bool))


def _list_float_dtype(data):
    """PyTorch's float dtype of nested lists: the widest of the float dtypes of the NumPy
    items (and the tensors' values) in them, and the default dtype for Python floats. The
    walk ends at the first float64 (the widest): under the float64 default, at the first
    list holding a Python float, so a list of Python floats costs one set of its types."""
    default = np.dtype(_default_dtype)
    typed, py, stack = set(), False, [data]
    while stack:
        items = stack.pop()
        kinds = set(map(type, items))
        if float in kinds:
            if default.itemsize == 8:
                return default
            py = True
        if kinds <= _PY_NUMBERS:
            continue
        for x in items:
            if type(x) is list or type(x) is tuple:
                stack.append(x)
            elif isinstance(x, (np.generic, np.ndarray)) and x.dtype.kind == "f":
                if x.dtype.itemsize == 8:
                    return x.dtype
                typed.add(x.dtype)
    if not typed:
        return default
    if py:
        typed.add(default)
    return max(typed, key=lambda d: d.itemsize)


def _tensor_items(data):
    """tensor([a, b]) of tensors as PyTorch makes it: each one-element tensor is one number
    (a warning if it requires grad: its value is copied, off the graph); an item of more
    elements is refused (that is stack's job)."""
    if not any(isinstance(x, Tensor) for x in data):
        return data
    items, warned = list(data), False
    for i, x in enumerate(data):
        if not isinstance(x, Tensor):
            continue
        if x.numel() != 1:
            raise ValueError(f"tensor: item {i} of the list is a tensor of shape {x.shape}, "
                             f"not a number; join tensors with zeroin.stack(items) (or "
                             f"zeroin.cat), which also keeps their gradients")
        if x.requires_grad and not warned:
            import warnings
            warnings.warn(f"tensor: item {i} of the list requires grad, but only its value is "
                          f"copied: the new tensor is not connected to the graph. Use "
                          f"zeroin.stack(items) to keep the gradients (or x.item() to say "
                          f"that only the value is meant)", UserWarning,
                          stacklevel=_user_stacklevel())
            warned = True
        items[i] = _array_of(x).reshape(())[()]
    return items


def _user_stacklevel():
    """The ``stacklevel`` of the first caller outside zeroin, for its caller's warning."""
    f, level, root = sys._getframe(2), 2, os.path.dirname(os.path.abspath(__file__))
    while f is not None and f.f_code.co_filename.startswith(root):
        f, level = f.f_back, level + 1
    return level


def _ragged_message(data):
    """For nested lists whose rows differ in length, say where; else None."""
    level, path = [data], []
    for depth in range(32):
        seqs = [x for x in level if isinstance(x, (list, tuple))]
        if not seqs:
            return None
        lengths = [len(x) for x in seqs]
        if len(seqs) != len(level) or len(set(lengths)) > 1:
            shown = ", ".join(str(len(x)) if isinstance(x, (list, tuple)) else "a number"
                              for x in level)
            where = "the rows" if depth == 1 else f"the lists at depth {depth}"
            return (f"tensor: nested lists must be rectangular (every row the same length), "
                    f"but {where} have lengths {shown}; pad or trim them to one length, or "
                    f"make a tensor per row")
        level = [y for x in seqs for y in x]
    return None


def _check_grad_dtype(arr, where="tensor"):
    if arr.dtype.kind not in "fc":
        # DtypeError: PyTorch's RuntimeError, and a TypeError; a public name in tracebacks
        raise DtypeError(f"{where}: only floating-point tensors can require grad, got dtype "
                         f"{arr.dtype}; convert first, e.g. zeroin.tensor(data, "
                         f"dtype='float64', requires_grad=True)")


def _array_of(t):
    """The ndarray a tensor stores (not the :class:`DataArray` view ``.data`` returns)."""
    d = t._array
    if d is None:           # a Python-float scalar: from now on an ordinary 0-d array
        with _to_array_lock:    # two threads must not hand out two different arrays
            d = t._array
            if d is None:
                d = t._array = np.array(t._float)
                t._float = None
    return d


def _same_memory(a, b):
    """True when arrays ``a`` and ``b`` are the same values in the same memory."""
    return a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype and \
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]


def _plain(a):
    return a.view(np.ndarray) if type(a) is DataArray else a


def _operand(x):
    return _array_of(x) if isinstance(x, Tensor) else x


def _check_force(force):
    """``numpy(force=...)`` takes a bool, as PyTorch's."""
    if type(force) is not bool:
        raise TypeError(f"numpy(): argument 'force' must be bool, not {type(force).__name__}")


def _is_shape(args):
    """Whether ``view``'s arguments are a shape (``-1``, ``2, 3``, ``(2, 3)``), not a dtype."""
    if len(args) == 1 and type(args[0]) in (tuple, list, Size):
        args = args[0]
    return all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args)


def clip_keep(x, lo, hi):
    """``np.clip(x, lo, hi)`` keeping x where it equals a bound, as PyTorch's clamp
    (clamp(-0.0, min=0) is -0.0, clamp(0.0, max=-0.0) 0.0). NumPy's clip with two number
    bounds keeps x in every float dtype, so a missing one is made infinite (its one-bound
    clip runs maximum/minimum, returning the bound at a tie in float32 and float64); this
    also runs faster: (256, 1024) float32 min=0 22 against 80 us (in-process, 2 shared
    cores, load ~0.9). Array bounds go through maximum/minimum with x where each loop
    keeps it at a tie: second in float32/float64, first in float16 (see ops.zero_first)."""
    if not isinstance(lo, np.ndarray) and not isinstance(hi, np.ndarray):
        if (lo is None or hi is None) and \
                np.result_type(x, hi if lo is None else lo).kind == "f":
            lo, hi = (-np.inf if lo is None else lo), (np.inf if hi is None else hi)
        return np.clip(x, lo, hi)
    for ufunc, b in ((np.maximum, lo), (np.minimum, hi)):
        if b is not None:
            x = ufunc(x, b) if np.result_type(x, b) == np.float16 else ufunc(b, x)
    return x


def _number_first(other, alpha):
    """Whether ``add_(other, alpha)`` is PyTorch's deprecated ``add_(alpha, other)``: a
    tensor where the number goes (a 0-d ``alpha`` after a tensor is a number)."""
    return np.ndim(_operand(alpha)) > 0 or isinstance(other, numbers.Number)


def _deprecated(name, number):
    """``number`` (checked) from PyTorch's deprecated number-first overload of ``name``,
    with PyTorch's warning (see ``_tensor_api.number_first``)."""
    if not isinstance(number, numbers.Number) and np.ndim(_operand(number)) != 0:
        raise TypeError(f"{name}: the deprecated overload takes a number first, got "
                        f"{type(number).__name__}; write {name}(tensor..., value=v)")
    import warnings
    warnings.warn(f"This overload of {name} is deprecated: {name}(Number, Tensor...); use "
                  f"the keyword form ({name}(..., alpha=a) or value=v)", UserWarning,
                  stacklevel=3)
    return _operand(number)


def _refuse_read_only(array, name):
    """The error for writing into a read-only ``.data`` (a broadcast view, such as an
    expanded tensor's), instead of NumPy's shape message."""
    if not array.flags.writeable:
        raise ValueError(f".data.{name}: this array is read-only (a broadcast view, e.g. of "
                         f"an expanded tensor); write through the tensor instead "
                         f"(t.{name}(...) under zeroin.no_grad() gives it its own memory), "
                         f"or clone it first")


class DataArray(np.ndarray):
    """What ``t.data`` returns: an ndarray sharing the tensor's memory, plus PyTorch's
    in-place methods (``zero_ fill_ copy_ add_ sub_ mul_ div_ fmod_ addcmul_ addcdiv_
    clamp_ normal_ uniform_ scatter_ index_fill_``), ``clone()``, ``numpy()``, ``cpu()`` /
    ``detach()`` (a detached tensor sharing the memory), ``view(*shape)``, ``view_as``,
    ``unsqueeze(dim)`` (views), ``new(...)`` (a new tensor), ``norm()``,
    ``sign()``, ``abs()``, PyTorch's ``std()`` / ``var()`` (n - 1) and ``max(dim)`` / ``min(dim)``
    (``(values, indices)``); other Tensor methods
    raise an AttributeError that says to call them on ``t.detach()``. Each in-place method
    writes into the tensor and returns this view; arithmetic, ufuncs and reductions give
    plain ndarrays and NumPy scalars."""

    requires_grad = False       # as PyTorch's .data: detached from the graph

    @property
    def data(self):
        """Itself (PyTorch's ``t.data.data``), not NumPy's buffer: d2l's batch norm from
        scratch returns ``moving_mean.data`` of what may already be a ``.data``."""
        return self

    @property
    def device(self):
        """``zeroin.device("cpu")``, a tensor's (NumPy's is the string ``"cpu"``, which a
        device compares unequal to: d2l's ``if self.moving_mean.device != X.device``)."""
        return Tensor.device.__get__(self)

    def __array_wrap__(self, obj, context=None, return_scalar=False):
        if obj is self:                 # an in-place ufunc (p.data -= x) keeps the view
            return self
        if return_scalar:
            return obj[()]
        return obj if type(obj) is np.ndarray else obj.view(np.ndarray)

    def __array_function__(self, func, types, args, kwargs):
        # np.zeros_like(p.data), np.concatenate([p.data, ...]): plain ndarrays out
        args = tuple(_plain(a) if type(a) is not list else [_plain(b) for b in a]
                     for a in args)
        return super().__array_function__(func, (np.ndarray,), args, kwargs)

    def __repr__(self):
        return repr(self.view(np.ndarray))

    def numpy(self, *, force=False):
        """The values as a plain ndarray (shared, not copied); ``force`` as PyTorch's."""
        _check_force(force)
        return self.view(np.ndarray)

    def cpu(self):
        """A tensor of these values sharing their memory, outside the graph (PyTorch's
        ``t.data.cpu()`` on the CPU): CS231n's ``fake_images.data.cpu().numpy()`` and
        ``X.cpu().clone().numpy()`` of an image's ``.data``."""
        return _leaf(self)

    def view(self, *args, **kwargs):
        """PyTorch's ``view(*shape)``, sharing the memory (and raising where PyTorch's view
        needs a copy): the UvA tutorials' ``params.grad.data.view(-1).cpu().clone().numpy()``.
        A dtype or an array class is NumPy's ``view``, as PyTorch's ``view(dtype)``."""
        if kwargs or not args or not _is_shape(args):
            return np.ndarray.view(self, *args, **kwargs)
        return _leaf(self).view(*args).data

    def view_as(self, other):
        """``view(other.size())``, sharing the memory: the NYU convnet notebook's (and old
        MNIST examples') ``pred.eq(target.data.view_as(pred))``."""
        return _leaf(self).view(tuple(other.shape)).data

    def unsqueeze(self, dim):
        """PyTorch's ``unsqueeze(dim)``, a view sharing the memory: the Annotated
        Transformer's label smoothing ``true_dist.scatter_(1, target.data.unsqueeze(1), c)``."""
        return _leaf(self).unsqueeze(dim).data

    def scatter_(self, dim, index, src=None, **kwargs):
        """PyTorch's ``scatter_`` written into this array; returns it (the Annotated
        Transformer's ``true_dist = x.data.clone(); true_dist.scatter_(...)``)."""
        return self._tensor_inplace("scatter_", dim, index, src, **kwargs)

    def index_fill_(self, dim, index, value):
        """PyTorch's ``index_fill_`` written into this array; returns it (the Annotated
        Transformer's ``true_dist.index_fill_(0, mask.squeeze(), 0.0)``)."""
        return self._tensor_inplace("index_fill_", dim, index, value)

    def fmod_(self, other):
        """PyTorch's ``fmod_`` (C's remainder, the dividend's sign) written into this array;
        returns it: fastai's ``trunc_normal_``, ``x.normal_().fmod_(2).mul_(std)`` on an
        ``Embedding``'s ``weight.data``."""
        return self._tensor_inplace("fmod_", other)

    def _tensor_inplace(self, name, *args, **kwargs):
        # the tensor's method on a leaf sharing this memory: its checks, errors and values
        t = _leaf(self)
        getattr(t, name)(*args, **kwargs)
        if not np.shares_memory(_array_of(t), self):    # the op took new memory: copy back
            self[...] = _array_of(t)
        return self

    def new(self, *args, **kwargs):
        """A new tensor (not a view) of this dtype, as the tensor's ``new``: the NYU VAE's
        ``std.data.new(std.size()).normal_()`` and an RNN's ``weight.new(1, b, h).zero_()``
        (``weight = next(self.parameters()).data``), which PyTorch also gives as tensors."""
        return _leaf(self).new(*args, **kwargs)

    def detach(self):
        """A tensor of these values sharing their memory, outside the graph, as ``cpu()``:
        the UvA optimisation tutorial's ``torch.cat([weights.data.detach(), ...])``."""
        return _leaf(self)

    def norm(self, p="fro", dim=None, keepdim=False):
        """The p-norm, as :func:`zeroin.norm` computes it, as a NumPy value: the old
        tutorials' ``while y.data.norm() < 1000``."""
        from ._torch_ops import norm
        r = norm(_leaf(self.view(np.ndarray)), p, dim, keepdim).numpy()
        return r[()] if r.ndim == 0 else r

    def sign(self):
        """The signs (-1, 0, 1) as a plain ndarray: the FGSM tutorial's
        ``data.grad.data.sign()``, added to the image tensor."""
        return np.sign(self.view(np.ndarray))

    def abs(self):
        """The absolute values in new memory, with these methods, as ``clone()``: d2l's
        ``m.weight.data *= m.weight.data.abs() >= 5`` and CS231n's saliency map
        ``X.grad.data.abs().max(dim=1)`` (PyTorch's ``(values, indices)``)."""
        return np.abs(self.view(np.ndarray)).view(DataArray)

    @property
    def size(self):
        """NumPy's element count, also callable as PyTorch's ``size()``: old code's
        ``x.data.size()`` (the shape) and ``x.data.size(0)``."""
        return _DataSize(np.ndarray.size.__get__(self), self.shape)

    def std(self, *args, **kwargs):
        """PyTorch's ``std`` (n - 1 by default) as a NumPy value: makemore's update-to-data
        ratio ``(lr * p.grad).std() / p.data.std()``; NumPy's ``ddof=`` is honoured."""
        return _spread(self, "std", args, kwargs)

    def var(self, *args, **kwargs):
        """PyTorch's ``var`` (n - 1 by default) as a NumPy value; ``ddof=`` as NumPy's."""
        return _spread(self, "var", args, kwargs)

    def max(self, *args, **kwargs):
        return _numpy_reduction(self, "max", args, kwargs)

    def min(self, *args, **kwargs):
        return _numpy_reduction(self, "min", args, kwargs)

    def __getattr__(self, name):
        # only for names ndarray lacks: a Tensor method called on t.data says what t.data is
        if not name.startswith("__") and hasattr(Tensor, name):
            raise AttributeError(
                f"'DataArray' object has no attribute {name!r}: in zeroin t.data is a NumPy "
                f"array sharing the tensor's memory, not a tensor (it has the in-place "
                f"methods zero_, fill_, copy_, add_, sub_, mul_, div_, fmod_, addcmul_, addcdiv_, "
                f"clamp_, masked_fill_, normal_, uniform_, scatter_, index_fill_, the views view, "
                f"view_as and unsqueeze, and norm, sign and abs); call {name} on "
                f"the tensor, detached from the graph: t.detach().{name}(...)")
        raise AttributeError(f"'DataArray' object has no attribute {name!r}")

    def clone(self):
        """A copy in new memory, with these methods (CS231n's
        ``img.data.clone().cpu()``); arithmetic on it gives plain ndarrays, as on ``.data``."""
        return np.array(self.view(np.ndarray)).view(DataArray)

    def zero_(self):
        self[...] = 0
        return self

    def fill_(self, value):
        self[...] = _operand(value)
        return self

    def copy_(self, src):
        """Copy ``src`` (a tensor, array or number, broadcast to this shape) into this."""
        src = np.asarray(_operand(src))
        try:
            np.copyto(self, np.broadcast_to(src, self.shape), casting="unsafe")
        except ValueError:
            _refuse_read_only(self, "copy_")
            raise ShapeError(f"copy_: the source of shape {src.shape} cannot be broadcast "
                             f"to this array's shape {self.shape}") from None
        return self

    def _inplace(self, name, ufunc, other):
        try:
            ufunc(self, _operand(other), out=self, casting="same_kind")
        except ValueError:
            _refuse_read_only(self, name)
            raise ShapeError(f"{name}: the operand of shape {np.shape(_operand(other))} "
                             f"cannot be broadcast to this array's shape {self.shape}") from None
        return self

    def add_(self, other, alpha=1):
        """``self += alpha * other`` (and PyTorch's deprecated ``add_(alpha, other)``: old
        samplers' ``p.data.add_(-lr, d_p)``)."""
        if isinstance(alpha, (np.ndarray, Tensor)) and _number_first(other, alpha):
            other, alpha = alpha, _deprecated("add_", other)
        return self._inplace("add_", np.add, other if alpha == 1 else alpha * _operand(other))

    def sub_(self, other, alpha=1):
        """``self -= alpha * other`` (and the deprecated ``sub_(alpha, other)``)."""
        if isinstance(alpha, (np.ndarray, Tensor)) and _number_first(other, alpha):
            other, alpha = alpha, _deprecated("sub_", other)
        return self._inplace("sub_", np.subtract,
                             other if alpha == 1 else alpha * _operand(other))

    def addcmul_(self, tensor1, tensor2, *more, value=1):
        """``self += value * tensor1 * tensor2`` (and the deprecated ``(value, tensor1,
        tensor2)``: old Adam's ``exp_avg_sq.mul_(beta2).addcmul_(1 - beta2, g, g)``)."""
        if more:
            value, tensor1, tensor2 = _deprecated("addcmul_", tensor1), tensor2, more[0]
        return self._inplace("addcmul_", np.add,
                             value * (_operand(tensor1) * _operand(tensor2)))

    def addcdiv_(self, tensor1, tensor2, *more, value=1):
        """``self += value * tensor1 / tensor2`` (and the deprecated ``(value, tensor1,
        tensor2)``: old Adam's ``p.data.addcdiv_(-step_size, exp_avg, denom)``)."""
        if more:
            value, tensor1, tensor2 = _deprecated("addcdiv_", tensor1), tensor2, more[0]
        return self._inplace("addcdiv_", np.add,
                             value * (_operand(tensor1) / _operand(tensor2)))

    def mul_(self, other):
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other):
        return self._inplace("div_", np.true_divide, other)

    def masked_fill_(self, mask, value):
        """Set the entries where ``mask`` (broadcast to this shape) is true to ``value``
        (CS224n's ``e_t.data.masked_fill_(enc_masks.bool(), -float('inf'))``)."""
        m = np.asarray(_operand(mask))
        if m.dtype != np.bool_:
            raise DtypeError(f"masked_fill_: the mask must be bool, got {m.dtype}; "
                             f"pass mask.bool()")
        v = np.asarray(_operand(value))
        if v.ndim:          # np.putmask would repeat an array's values, not broadcast them
            raise ShapeError(f"masked_fill_: the value must be a number or a 0-d tensor (as "
                             f"in PyTorch), got shape {v.shape}; to take values from a "
                             f"tensor, use t.data[...] = zeroin.where(mask, values, t).data")
        try:
            np.putmask(self, np.broadcast_to(m, self.shape), v.item())   # a Python number
        except ValueError:
            raise ShapeError(f"masked_fill_: the mask of shape {m.shape} cannot be broadcast "
                             f"to this array's shape {self.shape}") from None
        return self

    def clamp_(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp_: give at least one of min and max")
        np.copyto(self, clip_keep(self, _operand(min), _operand(max)))
        return self

    def normal_(self, mean=0.0, std=1.0):
        """Fill with samples of N(mean, std**2) from zeroin's generator (manual_seed)."""
        self[...] = _shared_fill(self, "normal_", mean, std)
        return self

    def uniform_(self, from_=0.0, to=1.0):
        """Fill with samples of U(from_, to) from zeroin's generator (manual_seed)."""
        self[...] = _shared_fill(self, "uniform_", from_, to)
        return self


def _shared_fill(arr, name, a, b):
    """``arr.normal_(a, b)`` / ``uniform_(a, b)``'s values from zeroin's shared generator
    (PyTorch's numbers where it is on the torch stream)."""
    from .random import get_rng, torch_stream
    from ._torch_rng import torch_fill
    stream = torch_stream()
    if stream is not None:
        return torch_fill(stream, name, np.asarray(arr), a, b)
    return getattr(get_rng(), name[:-1])(a, b, arr.shape)


class _DataSize(int):
    """``t.data.size``: the number of elements (NumPy's ``size``, an int) that can be called
    as PyTorch's ``size()``: the shape as a :class:`Size`, or ``size(dim)`` one length."""

    def __new__(cls, n, shape):
        self = super().__new__(cls, n)
        self._shape = shape
        return self

    def __call__(self, dim=None):
        if dim is None:
            return Size(self._shape)
        nd = len(self._shape)
        if not -nd <= dim < nd:
            raise IndexError(f"size: dimension {dim} is out of range for a tensor of shape "
                             f"{self._shape} (expected a dim in [{-nd}, {nd - 1}])")
        return self._shape[dim]


def _spread(a, name, args, kwargs):
    """``t.data.std()`` / ``var()`` with PyTorch's default correction (1, where NumPy's
    ddof is 0: the same call would silently give another number) and its keywords
    (``dim``, ``keepdim``, ``unbiased``, ``correction``); NumPy's arguments otherwise."""
    names = {"dim": "axis", "keepdim": "keepdims", "correction": "ddof"}
    kwargs = {names.get(k, k): v for k, v in kwargs.items()}
    if "unbiased" in kwargs:
        kwargs["ddof"] = int(bool(kwargs.pop("unbiased")))
    if len(args) < 4:                               # (axis, dtype, out, ddof): not given
        kwargs.setdefault("ddof", 1)
    return getattr(np.ndarray, name)(a, *args, **kwargs)


def _numpy_reduction(a, name, args, kwargs):
    """``t.data.max``/``min``. PyTorch's call, a dim given alone (``max(1)``, ``max(1,
    True)``) or with ``dim=``/``keepdim=``, gives PyTorch's ``(values, indices)`` as
    tensors that do not require grad: the old examples' ``_, pred = output.data.max(1)``
    and ``output.data.max(1, keepdim=True)[1]`` (NumPy's maxima there would be silently
    wrong). Every other call is NumPy's: ``max()``, ``axis=``, ``keepdims=``, ``out=``,
    a tuple of axes, ``np.max(t.data, 1)`` (which passes ``axis=``)."""
    torch_kw = {k: v for k, v in kwargs.items() if k in ("dim", "keepdim")}
    numpy_kw = len(torch_kw) < len(kwargs)
    dim_alone = (len(args) == 1 or len(args) == 2 and isinstance(args[1], bool)) and \
        isinstance(args[0], (int, np.integer)) and not isinstance(args[0], bool)
    if torch_kw and (numpy_kw or not (dim_alone or not args)):
        raise TypeError(f"t.data.{name}: PyTorch's dim=/keepdim= and NumPy's arguments "
                        f"cannot be mixed; PyTorch's: t.data.{name}(dim, keepdim=True), "
                        f"NumPy's: t.data.{name}(axis=..., keepdims=True)")
    if torch_kw or dim_alone and not numpy_kw:
        t = _leaf(a.view(np.ndarray))
        return getattr(t, name)(*args, **torch_kw)
    return getattr(np.ndarray, name)(a, *args, **kwargs)


class Size(tuple):
    """A tensor's shape, as ``x.shape`` and ``x.size()`` give it: a tuple with ``numel()``
    (PyTorch's ``torch.Size``). Its repr is ``zeroin.Size([2, 3])``; ``str`` and f-strings
    give the tuple ``(2, 3)``, so error messages and printed shapes read as NumPy's do."""
    __slots__ = ()

    def numel(self):
        """The number of elements a tensor of this shape holds."""
        return int(np.prod(self, dtype=np.int64))

    def __add__(self, other):
        return Size(tuple.__add__(self, other))     # torch.Size + tuple is a torch.Size

    def __radd__(self, other):
        return Size(tuple.__add__(tuple(other), self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __getitem__(self, i):
        out = tuple.__getitem__(self, i)
        return Size(out) if type(i) is slice else out

    def __repr__(self):
        return f"zeroin.Size({list(self)})"

    __str__ = tuple.__repr__


class ParamName(str):
    """A name a module gave its parameter (``"weight"``, ``"0.bias"``): drawings and
    explanations show it, but a tensor's repr leaves it out, as PyTorch prints no name."""


_NO_SIZE = object()         # Tensor(size=...) not given
_NUMBERS = (float, complex, bool)


def _number_data(v):
    """A Python float, bool or complex given to ``Tensor(v)``: refused, as PyTorch's
    ``torch.Tensor`` refuses it (a NumPy scalar is kept as a 0-d array is: README)."""
    raise TypeError(f"Tensor: data must be a sequence (got {type(v).__name__}), as in "
                    f"PyTorch: torch.Tensor({v!r}) refuses a number (and takes an int as a "
                    f"size); for a 0-d tensor holding it use zeroin.tensor({v!r})")


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Numbers, nested lists or a NumPy array. It is copied.
    requires_grad : bool
        Record operations on this tensor so that ``backward`` can compute ``.grad``.
    dtype : dtype, optional
        NumPy dtype. Python floats default to :func:`get_default_dtype` (float64).
    name : str, optional
        A label used when drawing and explaining the graph.

    Attributes
    ----------
    data : DataArray
        The values: a view (an ndarray) of the stored array, with PyTorch's in-place
        methods (``p.data.zero_()``, ``.copy_(x)``, ``p.data -= lr * g``). ``numpy()`` is the
        stored ndarray itself. A float64 scalar made from a Python number
        (``zeroin.tensor(3.0)``, or an op on such scalars) keeps its value as a Python float
        until its array is first needed, which makes scalar graphs several times cheaper;
        from then on it keeps an ordinary 0-d array.
    grad : Tensor or None
        The accumulated gradient after ``backward`` (leaves, and tensors that called
        :meth:`retain_grad`).
    grad_fn : Function or None
        The op that produced this tensor; ``None`` for leaves.
    """

    # The value is stored in one of two slots, read and written only here and in
    # zeroin/_fast.py (everyone else uses .data and .item(); _grad is .grad's storage):
    #   _array: the ndarray; or None while the value is
    #   _float: a Python float (float64 scalars made from Python numbers, fast mode only)
    __slots__ = ("_array", "_float", "_grad", "_rg", "grad_fn", "_hooks", "_read",
                 "__weakref__", "__dict__")
    # _rg: requires_grad's storage (the property checks what a user sets; zeroin/_fast.py
    # and the constructors read and write the slot: 6 ns against the property's 24 a read;
    # the reference engine reads the property, as a learner would)
    # _read: set once an op recorded in the graph has read the tensor (an in-place change
    # must then re-point it): True, or a weak reference to the op when an indexing or
    # reshaping op is the only one (ops.getitem, ops._reshaped); unset before (getattr)
    # __dict__: a user's own attributes, as PyTorch's tensors take them (fast.ai's inp.g =
    # ...), and the attributes few tensors have: ``name``, ``_retain`` (retain_grad), and
    # ``_view_of`` on views (read with getattr). The class gives the first two's defaults.
    # Slots only for what every tensor has: CPython's cyclic collector walks every tensor
    # of a live graph, and its time goes with their size: the tensors of a chain of 2e5
    # scalar ops (W2 at 1e5) took 80 ms a full collection with name, _retain and
    # _view_of as slots (136 bytes a tensor), 50 ms without (112 bytes; benchmarks/README.md)
    name = None         # a label for drawings and explanations; set, it lives in __dict__
    _retain = False     # True after retain_grad()
    __array_priority__ = 1000

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy meets a tensor: ``array -= tensor`` (e.g. ``p.data -= lr * p.grad``)
        updates the array in place; ``array + tensor`` and the other arithmetic give the
        tensor result, as ``tensor + array`` does; other ufuncs (``np.abs(t.grad)``,
        ``np.exp(t)``) give a tensor of NumPy's values, as PyTorch's, refused (as PyTorch)
        for a tensor that requires grad: the graph would stop there."""
        out = kwargs.get("out")
        if method == "__call__" and out is not None and \
                not any(isinstance(o, Tensor) for o in out):
            return ufunc(*[_raw(i) for i in inputs], **kwargs)
        names = _UFUNC_METHODS.get(ufunc.__name__) if method == "__call__" and \
            not kwargs and len(inputs) == 2 else None
        if names is None:
            return _numpy_ufunc(ufunc, method, inputs, kwargs)
        a, b = inputs
        if isinstance(a, Tensor):
            return getattr(a, names[0])(b)
        return getattr(b, names[1])(a)      # the reflected method: operands swapped back

    def __array_function__(self, func, types, args, kwargs):
        """NumPy's functions of a tensor: ``np.sum(t)``, ``np.mean``, ``np.std``... give a
        tensor of NumPy's values (they would call the tensor's own methods with NumPy's
        ``out=``); these and the others a gradient would flow through (``np.dot``,
        ``np.clip``, ``np.cumsum``...) are refused for a tensor that requires grad, as the
        ufuncs are; the rest (``np.allclose``, ``np.concatenate``) read the values."""
        return _numpy_function(func, args, kwargs)

    def __new__(cls, data=(), requires_grad=False, dtype=None, name=None, *, size=_NO_SIZE):
        # zeroin.Tensor() is an empty (0,) tensor of the default dtype, as torch.Tensor()
        if size is not _NO_SIZE:    # torch.Tensor(size=(2, 3)): a new (2, 3) tensor
            if type(data) is not tuple or data or requires_grad is not False or \
                    dtype is not None or name is not None:
                raise TypeError("Tensor: size= goes alone, as in PyTorch: Tensor(size=(2, 3)); "
                                "for data use zeroin.tensor(data, dtype=..., requires_grad=...)")
            return _make(np.zeros(size_arg("Tensor", size), dtype=_default_dtype), False,
                         None, None, cls)
        if type(data) in _NUMBERS:
            _number_data(data)
        if cls is Tensor and isinstance(data, Tensor) and requires_grad is False and \
                dtype is None and name is None:
            # torch.Tensor(t) aliases t (shared memory; differentiable where t requires
            # grad): NYU's tensor tutorial zeroes r = torch.Tensor(t) and t shows the zeros
            return data.view(tuple(data.shape))
        if type(data) is int:
            # torch.Tensor(2, 3): a new (2, 3) tensor (zeros here), not the number 2
            sizes = [data]
            for v in (requires_grad, dtype, name):
                if type(v) is not int:
                    break
                sizes.append(v)
            grad = requires_grad if type(requires_grad) is bool else False
            return _make(np.zeros(sizes, dtype=_default_dtype), grad, None, None, cls)
        if type(data) is Size and requires_grad is False and dtype is None and name is None:
            # torch.Tensor(x.size()): sizes, not data (a tuple is data), as PyTorch's
            return _make(np.zeros(tuple(data), dtype=_default_dtype), False, None, None, cls)
        if dtype is None and type(data) in (list, tuple):
            # zeroin.Tensor([1, 2]) is floating point, as torch.Tensor([1, 2]) is
            # (zeroin.tensor keeps ints as int64, as torch.tensor does)
            dtype = _default_dtype
        return _construct(cls, data, requires_grad, dtype, name)

    def __getnewargs__(self):      # copy.deepcopy: a placeholder; the slots are copied after
        return ()

    @staticmethod
    def _make_subclass(cls, data, require_grad=False, *args, **kwargs):
        """PyTorch's way to make an instance of a Tensor subclass (fastbook chapter 19's
        ``Parameter.__new__``): a leaf of type ``cls`` sharing ``data``'s memory, cut from
        its graph, with ``requires_grad=require_grad``. zeroin's ops on it give plain
        Tensors (PyTorch's ``__torch_function__`` would keep the subclass)."""
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError(f"Tensor._make_subclass: {cls!r} does not inherit from Tensor; "
                            f"make the class a subclass of zeroin.Tensor, as in PyTorch")
        if not isinstance(data, Tensor):
            raise TypeError(f"Tensor._make_subclass: data must be a Tensor, not "
                            f"{type(data).__name__}; wrap it first: zeroin.tensor(data)")
        arr = _array_of(data)
        if require_grad:
            _check_grad_dtype(arr, "Tensor._make_subclass")
        return _make(arr, bool(require_grad), None, None, cls)

    # --- properties --------------------------------------------------------------------
    def _set_grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                value = _grad_value(self, value)
            if value.shape != self.shape:
                what = f" of {self.name!r}" if self.name else ""
                raise RuntimeError(f"grad: the gradient{what} must have the tensor's shape "
                                   f"{tuple(self.shape)}, got shape {tuple(value.shape)}")
            if value.dtype != self.dtype:
                what = f" of {self.name!r}" if self.name else ""
                raise RuntimeError(f"grad: assigned grad has dtype {value.dtype}, but the "
                                   f"tensor{what} has dtype {self.dtype}; PyTorch refuses it "
                                   f"too: convert it, t.grad = g.to(zeroin.{self.dtype})")
        self._grad = value

    # the getter is C (attrgetter), not a Python frame: optimisers read .grad per parameter
    grad = property(attrgetter("_grad"), _set_grad,
                    doc="The accumulated gradient (a tensor of this tensor's shape) or None.")

    @property
    def data(self):
        """The values as a NumPy array sharing this tensor's memory (a :class:`DataArray`
        view, which adds PyTorch's in-place methods: ``p.data.zero_()``, ``.copy_(src)``...)."""
        return _array_of(self).view(DataArray)

    @data.setter
    def data(self, value):
        """``p.data = new`` replaces the values (a tensor, an array or numbers), keeping the
        graph and the gradient, as in PyTorch; ``p.data -= x`` updates them in place."""
        if isinstance(value, Tensor):
            value = _array_of(value)
        elif type(value) is DataArray:
            cur = self._array
            if cur is not None and _same_memory(value, cur):
                return                  # p.data -= x: already written into this storage
            value = value.view(np.ndarray)
        elif type(value) is not np.ndarray:
            value = _as_array(value)
        self._array = value
        self._float = None

    @property
    def shape(self):
        """The shape as a :class:`Size` (a tuple, PyTorch's ``torch.Size``)."""
        d = self._array
        return Size(d.shape) if d is not None else Size()

    @property
    def ndim(self):
        d = self._array
        return d.ndim if d is not None else 0

    @property
    def dtype(self):
        d = self._array
        return d.dtype if d is not None else _F64

    @property
    def is_leaf(self):
        """True for tensors not produced by a recorded op (parameters, inputs, constants)."""
        return self.grad_fn is None

    def __len__(self):
        if _array_of(self).ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(_array_of(self))

    # --- conversion --------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._float is not None:
            return self._float
        if _array_of(self).size != 1:
            raise ShapeError(f"item: only one-element tensors can be converted to a Python "
                             f"number, this one has shape {_array_of(self).shape}")
        return _array_of(self).item()

    def numpy(self, *, force=False):
        """The underlying array (shared, not copied), a plain ndarray. PyTorch's ``force``
        (detach, cpu, resolve the conjugate first) changes nothing here: zeroin's
        ``numpy()`` already works on a tensor that requires grad (README's differences)."""
        if force is not False:
            _check_force(force)
        d = self._array         # _array_of(self) without its call: optimisers read this
        return d if d is not None else _array_of(self)

    def tolist(self):
        return _array_of(self).tolist()

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype) != _array_of(self).dtype:
            return _array_of(self).astype(dtype)
        return _array_of(self).copy() if copy else _array_of(self)     # np.array(t) copies, asarray not

    def __float__(self):
        global _float_warned
        if self.requires_grad and not _float_warned and is_grad_enabled():
            _float_warned = True    # PyTorch's warning, once per process as its C++ one
            import warnings
            warnings.warn("Converting a tensor with requires_grad=True to a scalar may lead "
                          "to unexpected behavior.\nConsider using tensor.detach() first.",
                          UserWarning, stacklevel=2)
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """An integer or bool tensor of one element as a Python int, as PyTorch: so that
        ``classes[labels[j]]`` and ``range(n)`` take a tensor. Floats are refused."""
        a = _array_of(self)
        if a.size != 1 or a.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an "
                            f"index; this one has shape {a.shape} and dtype {a.dtype}"
                            + (" (use int(t) to truncate a float)" if a.size == 1 else ""))
        return int(a.item())

    def __bool__(self):
        if _array_of(self).size != 1:
            raise ShapeError(f"the truth value of a tensor with shape {_array_of(self).shape} is "
                             f"ambiguous (PyTorch: Boolean value of Tensor with more than one "
                             f"value is ambiguous); reduce it first with .any() or .all(), "
                             f"e.g. `if (a == b).all():`")
        return bool(_array_of(self))

    def __iter__(self):
        if _array_of(self).ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(_array_of(self))))

    def __reversed__(self):
        """``reversed(t)``: the tensor flipped along dimension 0 (a tensor, recorded, as
        PyTorch's ``t.flip(0)``; a 0-d tensor is returned as is), not an iterator."""
        return self if _array_of(self).ndim == 0 else self.flip(0)

    def __contains__(self, element):
        """``v in t``: whether some element of ``t`` equals ``v`` (a number, or a tensor
        broadcast against ``t``), PyTorch's ``(t == v).any()``; not a search of the rows."""
        if not isinstance(element, (Tensor, int, float, complex, np.number, np.bool_)):
            raise DtypeError(f"Tensor.__contains__ only supports a Tensor or a number, as in "
                             f"PyTorch, got {type(element).__name__}; for a list of values "
                             f"use zeroin.isin(t, zeroin.tensor(values)).any()")
        return bool((self == element).any())

    __hash__ = object.__hash__

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        t = _leaf(_array_of(self))
        if self.name is not None:
            t.name = self.name
        return t

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on a leaf in place; returns self. On a computed tensor
        (which requires grad) ``True`` changes nothing, as PyTorch's."""
        if not self.is_leaf:
            if requires_grad:
                return self
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach() to get a leaf")
        if requires_grad:
            _check_grad_dtype(_array_of(self), "requires_grad_")
        self._rg = bool(requires_grad)
        return self

    def _set_requires_grad(self, value):
        """PyTorch's setter: a bool, on a leaf (a computed tensor's flag is its graph's),
        True only for a floating-point tensor."""
        if type(value) is not bool:
            raise DtypeError(f"requires_grad must be a bool, got {type(value).__name__} "
                            f"{value!r}, as in PyTorch; write t.requires_grad = bool(...)")
        if self.grad_fn is not None:
            raise RuntimeError(
                f"requires_grad: you can only change requires_grad flags of leaf variables; "
                f"this tensor was computed by {self.grad_fn.name!r}"
                + (". If you want to use a computed variable in a subgraph that doesn't "
                   "require differentiation use var_no_grad = var.detach()" if not value
                   else " and already requires grad"))
        if value:
            _check_grad_dtype(_array_of(self), "requires_grad")
        self._rg = value

    requires_grad = property(attrgetter("_rg"), _set_requires_grad,
                             doc="Whether ops on this tensor are recorded for backward.")

    # --- autograd ----------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to every leaf that requires grad.

        Gradients accumulate into the leaves' ``.grad`` (as in PyTorch): clear them with
        ``optimizer.zero_grad()`` or ``t.grad = None`` between steps.

        Parameters
        ----------
        gradient : array_like or Tensor, optional
            d(something)/d(self); required unless this tensor has one element.
        retain_graph : bool
            Keep the graph usable for another backward. By default the saved values are
            released and a second backward raises an error.
        create_graph : bool
            Record the backward computation so that the gradients can be differentiated
            again (higher-order derivatives).
        inputs : Tensor or sequence of Tensors, optional
            Accumulate only into these tensors' ``.grad`` (leaves or not); other leaves
            are left alone.
        """
        fast = autograd._fast       # one load: zeroin.autograd has a module __getattr__
        if gradient is None and not create_graph and self.requires_grad and \
                fast is not None and not anomaly.enabled and inputs is None \
                and not _HOOKED.data:
            # T8: a scalar loss straight to the fast loop, seeded as autograd.root_grads
            # would seed it (1.0 for a float scalar or float64, a 0-d one otherwise): five
            # Python calls fewer
            d = self._array
            if d is None:
                fast.backward((self,), (1.0,), retain_graph)
                return
            if not d.ndim and d.dtype.kind == "f":
                seed = 1.0 if d.dtype is _F64 else np.array(1, d.dtype)
                fast.backward((self,), (seed,), retain_graph)
                return
        autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self.grad_fn is not None:
            self._retain = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        The hook may return a new gradient (a Tensor or array) that replaces it.
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does "
                               "not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` each time backward has added this leaf's gradient into
        its ``.grad`` (PyTorch's hook for an optimiser step per parameter, freeing each
        gradient early). Not for ``zeroin.autograd.grad``, which fills no ``.grad``.
        Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook "
                               "on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad "
                               "hooks cannot be registered on non-leaf tensors; use "
                               "register_hook(hook) to see this tensor's gradient")
        if self._hooks is None:
            self._hooks = []
        marker = _PostAccumulateHook(hook)
        self._hooks.append(marker)          # in _hooks, so the fast loop hands it over
        return _HookHandle(self._hooks, marker)

    def zero_grad(self):
        """Set ``.grad`` to None."""
        self._grad = None

    def zero_(self):
        """Fill with zeros in place and return self, e.g. ``w.grad.zero_()`` between steps.

        Refused on a tensor that requires grad while grad mode is on (backward may need its
        old value); wrap the call in ``zeroin.no_grad()`` for parameters.
        """
        if self.requires_grad and is_grad_enabled():
            raise RuntimeError("zero_: this tensor requires grad, so zeroing it in place "
                               "would corrupt the graph; to clear a gradient use "
                               "w.grad.zero_() or w.grad = None, and to zero a parameter "
                               "wrap it in `with zeroin.no_grad():`")
        if _array_of(self).flags.writeable:
            _array_of(self)[...] = 0
        else:           # a read-only array may be shared: give this tensor its own zeros
            self.data = np.zeros_like(_array_of(self))
        return self

    # --- operators that record nothing ------------------------------------------------
    # (the differentiable operators and methods, + - * / @ .sum() ..., are bound by the ops
    # registry: see zeroin.ops)
    def __pos__(self):
        return self

    # x < 'a' / None / object() returns NotImplemented, so Python raises PyTorch's TypeError
    # ("'<' not supported between instances of 'Tensor' and 'str'"); a list or tuple is
    # refused with the fix (_unordered), as PyTorch refuses it
    def __lt__(self, other):
        if not isinstance(other, _COMPARABLE):
            return _unordered(self, other, np.less, "lt", "<")
        return compared(np.less, "lt", _array_of(self), _raw(other))

    def __le__(self, other):
        if not isinstance(other, _COMPARABLE):
            return _unordered(self, other, np.less_equal, "le", "<=")
        return compared(np.less_equal, "le", _array_of(self), _raw(other))

    def __gt__(self, other):
        if not isinstance(other, _COMPARABLE):
            return _unordered(self, other, np.greater, "gt", ">")
        return compared(np.greater, "gt", _array_of(self), _raw(other))

    def __ge__(self, other):
        if not isinstance(other, _COMPARABLE):
            return _unordered(self, other, np.greater_equal, "ge", ">=")
        return compared(np.greater_equal, "ge", _array_of(self), _raw(other))

    # x == None / 'x' / [1, 2] / object() is False (!= True), as in PyTorch: only tensors,
    # numbers and array-likes compare elementwise; the rest falls back to Python's identity
    # test (an (values, indices) pair's __array__ still raises its error naming the fix)
    def __eq__(self, other):
        if not isinstance(other, _COMPARABLE) and not hasattr(other, "__array__"):
            return NotImplemented
        return compared(np.equal, "eq", _array_of(self), _raw(other))

    def __ne__(self, other):
        if not isinstance(other, _COMPARABLE) and not hasattr(other, "__array__"):
            return NotImplemented
        return compared(np.not_equal, "ne", _array_of(self), _raw(other))

    # x op= v: zeroin/_tensor_api.py binds __iadd__, __isub__, __imul__ and __itruediv__,
    # which record the change while the graph is recorded and call _inplace otherwise

    def _inplace(self, npf, symbol, value):
        """``t op= value`` where nothing records it (under no_grad, or no operand requires
        grad): ``t.data`` is updated in place, as PyTorch does. The caller
        (``zeroin._tensor_api``'s ``x op= v``) has decided that; while the graph is
        recorded it takes the recorded in-place path instead.
        """
        v = value._array if type(value) is Tensor else None
        if v is None:
            v = _raw(value)
        d = self._array
        if d is None:
            d = _array_of(self)
        if npf is _subtract:
            # PyTorch refuses a bool operand; the usual update (float arrays of one dtype,
            # w -= lr * w.grad) is told by identity, without the two dtype conversions
            dt = d.dtype
            if not ((dt is _F32 or dt is _F64) and type(v) is _ndarray and v.dtype is dt) and \
                    (dt == np.bool_ or np.asarray(v).dtype == np.bool_):
                raise bool_sub_error(d, np.asarray(v))
        try:
            npf(d, v, d)        # out=d (positional: parsed faster), casting="same_kind"
        except ValueError as e:
            raise ShapeError(f"in-place {symbol}=: shapes {d.shape} and "
                             f"{np.shape(v)}: {e}") from None
        except TypeError as e:
            raise TypeError(f"in-place {symbol}=: cannot store the result in a "
                            f"{d.dtype} tensor: {e}") from None
        return self

    # --- printing ----------------------------------------------------------------------
    def __repr__(self):
        d = self._array if self._array is not None else np.array(self._float)  # keep it
        # a user's subclass prints under its name, as PyTorch's (fastbook's Parameter)
        cls = type(self)
        prefix = "tensor(" if cls is Tensor or cls.__module__.partition(".")[0] == "zeroin" \
            else cls.__name__ + "("
        body = np.array2string(d, separator=", ", prefix=prefix, **_print_kwargs(d))
        extra = []
        if d.size == 0 and d.ndim != 1:     # "[]" hides the shape: PyTorch names it
            extra.append(f"size={d.shape}")
        # as PyTorch: int32, uint8, float32...; not the default's complex (complex128
        # under float64, complex64 under float32); an empty one names every other dtype
        if d.dtype != _default_dtype and (d.size == 0 or d.dtype.kind not in "b" and
                                          d.dtype != np.int64 and d.dtype != np.result_type(
                                              _default_dtype, np.complex64)):
            extra.append(f"dtype={d.dtype}")
        if self.grad_fn is not None:
            extra.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        if self.name and type(self.name) is not ParamName:
            extra.append(f"name={self.name!r}")
        return prefix + body + "".join(", " + e for e in extra) + ")"

    def __format__(self, spec):
        """A 0-d tensor formats as its number, as PyTorch's (``f"{pred}"`` is ``5``, not
        ``tensor(5)``); a subclass (a Parameter) prints whole, as PyTorch's."""
        d = _array_of(self)
        if (d.ndim == 0 and type(self) is Tensor) or (d.size == 1 and spec):
            return format(self.item(), spec)
        if spec:        # PyTorch's TypeError (the spec was silently ignored)
            raise TypeError(f"unsupported format string passed to {type(self).__name__}."
                            f"__format__: a tensor of shape {d.shape} is not a number; "
                            f"format its numbers, e.g. [f'{{v:{spec}}}' for v in x.tolist()]")
        return str(self)


# --- print options (PyTorch's set_printoptions) -------------------------------------------

_PROFILES = {"default": dict(precision=None, threshold=200, edgeitems=3, linewidth=None),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=None, threshold=float("inf"), edgeitems=3, linewidth=None)}
_printopts = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print, as PyTorch's: ``precision`` digits, ``threshold`` elements before
    the middle is summarised with ``...`` (``edgeitems`` kept at each end), ``linewidth``
    characters per line, ``sci_mode`` True/False to force or forbid scientific notation
    (None: NumPy decides). ``profile`` 'default', 'short' or 'full' (every element) sets the
    first four, then the other arguments given override it. zeroin's default differs from
    PyTorch's: NumPy's precision (8) and a threshold of 200 elements."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        _printopts.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"set_printoptions: {key} must be a number >= 0, got "
                                 f"{value!r}")
            _printopts[key] = value
    _printopts["sci_mode"] = sci_mode


def _print_kwargs(d):
    """np.array2string's arguments for the current print options, every one given: NumPy's
    own global options (``np.set_printoptions(precision=3)`` atop Raschka's notebooks) do
    not change how tensors print, as they do not in PyTorch."""
    o = _printopts
    kw = dict(threshold=int(min(o["threshold"], sys.maxsize)), edgeitems=o["edgeitems"],
              precision=8, max_line_width=75, suppress_small=False, floatmode="maxprec",
              sign="-", legacy=False)
    if d.dtype.kind == "b" and d.all():
        # NumPy pads True to False's width even when no False is printed; PyTorch pads
        # only next to a False (tensor([True, True]), tensor([ True, False]))
        kw["formatter"] = {"bool": str}
    if o["precision"] is not None:
        kw["precision"] = o["precision"]
    if o["linewidth"] is not None:
        kw["max_line_width"] = o["linewidth"]
    if o["sci_mode"] is False:
        kw["suppress_small"] = True
    elif o["sci_mode"] and d.dtype.kind in "fc":
        p = 4 if o["precision"] is None else o["precision"]
        kw["formatter"] = {"float_kind": lambda v: f"{v:.{p}e}"}
    return kw


def _clean_index(index):
    """An index with tensors replaced by their arrays (lists become integer arrays)."""
    if isinstance(index, Tensor):
        return _index_array(index)
    if isinstance(index, tuple):
        out = []
        for i in index:
            if isinstance(i, Tensor):
                i = _index_array(i)
            elif type(i) is slice:
                _check_step(i)
            out.append(i)
        return tuple(out)
    if isinstance(index, list):
        if _sequence_as_tuple(index):   # x[[rows, cols]] is x[rows, cols], as in PyTorch
            import warnings
            warnings.warn("indexing with a list that holds lists, tensors, slices, None or "
                          "... reads it as a tuple (x[[rows, cols]] is x[rows, cols]), as "
                          "PyTorch does and deprecates; write x[tuple(seq)] for that, or "
                          "x[zeroin.tensor(seq)] for one index array", UserWarning,
                          stacklevel=3)
            return _clean_index(tuple(index))
        a = np.asarray(index)
        return a if a.size else a.astype(np.int64)      # x[[]]: no rows, not a float index
    if type(index) is slice:
        _check_step(index)
    return index


def _sequence_as_tuple(index):
    """PyTorch's rule (NumPy's before 1.23) for a list index: with a sequence, tensor, slice,
    None or ... among its (fewer than 32) items it is a tuple of indices, one per dimension."""
    return len(index) < 32 and any(
        i is None or i is Ellipsis or isinstance(i, (Tensor, list, tuple, np.ndarray, slice))
        for i in index)


def _check_step(s):
    """PyTorch refuses a negative slice step (``x[::-1]``), where NumPy reverses."""
    if s.step is not None and s.step < 1:
        raise ValueError(f"index: step must be greater than zero, got the slice "
                         f"{'' if s.start is None else s.start}:"
                         f"{'' if s.stop is None else s.stop}:{s.step} (as in PyTorch); to "
                         f"reverse a dimension use x.flip(dim)")


def _index_array(t):
    """A tensor used as an index: its array; a uint8 one is a mask, as in PyTorch."""
    a = _array_of(t)
    if a.dtype == np.uint8:
        import warnings
        warnings.warn("indexing with a uint8 tensor treats it as a mask (PyTorch's "
                      "deprecated rule), not as indices; use a bool tensor (mask.bool()) "
                      "for a mask, or .long() for indices", UserWarning, stacklevel=4)
        return a != 0
    return a


def size_arg(op, size):
    """The ``size=`` of ``torch.Tensor(size=(2, 3))`` / ``FloatTensor(size=...)``: a tuple or
    list of ints >= 0, as PyTorch's (``size=2`` is its TypeError)."""
    if not isinstance(size, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size):
        raise TypeError(f"{op}: size= must be a tuple or list of ints, e.g. size=(2, 3), "
                        f"got {size!r}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"{op}: size={tuple(size)} has a negative dimension; sizes are "
                           f"counts, >= 0")
    return tuple(int(s) for s in size)


_COMPARABLE = (Tensor, int, float, complex, np.ndarray, np.generic)   # what == compares


def _raw(x):
    """The array of a tensor, anything else as it is."""
    return _array_of(x) if isinstance(x, Tensor) else x


def _numpy_ufunc(ufunc, method, inputs, kwargs):
    """``np.abs(t)``, ``np.add.reduce(t)``: NumPy's values as new tensors (PyTorch's
    ``__array_wrap__``); refused for a tensor that requires grad while grad is recorded."""
    if "out" in kwargs:
        return NotImplemented       # a tensor as out=: NumPy's TypeError
    if is_grad_enabled() and any(isinstance(i, Tensor) and i.requires_grad for i in inputs):
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        same = getattr(sys.modules.get("zeroin"), name, None) if method == "__call__" else None
        use = (f"zeroin.{name}(...)" if callable(same) else
               "zeroin's function (t.abs(), zeroin.exp(t))")
        raise RuntimeError(f"np.{name}: NumPy cannot follow a tensor that requires grad (its "
                           f"gradient would stop here); use {use} to keep it, or np.{name} "
                           f"of t.detach() (or t.detach().numpy()) for the values")
    got = getattr(ufunc, method)(*[_raw(i) for i in inputs], **kwargs)
    wrap = lambda r: _make(np.asarray(r)) if isinstance(r, (np.ndarray, np.generic)) else r  # noqa: E731
    return tuple(map(wrap, got)) if isinstance(got, tuple) else wrap(got)


# NumPy's functions of tensors (Tensor.__array_function__): the reductions, which NumPy
# would hand to the tensor's own method with its out= (a TypeError), as NumPy's values,
# with zeroin's method that keeps the graph; and the others a gradient flows through, which
# would silently return an array: np.dot(W, h) + b trains b and never W
_NP_REDUCTIONS = {"sum": "t.sum(dim=...)", "mean": "t.mean(dim=...)",
                  "std": "t.std(dim=..., correction=0) (NumPy's ddof=0; zeroin's and "
                         "PyTorch's std divides by n - 1 unless told)",
                  "var": "t.var(dim=..., correction=0) (NumPy's ddof=0; zeroin's and "
                         "PyTorch's var divides by n - 1 unless told)",
                  "max": "t.amax(dim=...)", "amax": "t.amax(dim=...)",
                  "min": "t.amin(dim=...)", "amin": "t.amin(dim=...)",
                  "prod": "t.prod(dim=...)", "any": "t.any()", "all": "t.all()"}
_NP_GRAPH = {"dot": "w @ x or zeroin.dot", "vdot": "zeroin.vdot", "inner": "zeroin.inner",
             "outer": "zeroin.outer", "tensordot": "zeroin.tensordot",
             "einsum": "zeroin.einsum", "clip": "t.clamp(min, max)",
             "cumsum": "t.cumsum(dim)", "cumprod": "t.cumprod(dim)", "trace": "zeroin.trace",
             "average": "t.mean() or (t * w).sum() / w.sum()", "norm": "zeroin.linalg.norm",
             "diff": "zeroin.diff", "cross": "zeroin.linalg.cross", "kron": "zeroin.kron",
             "where": "zeroin.where", "median": "t.median()",
             "quantile": "zeroin.quantile", "percentile": "zeroin.quantile(t, q / 100)",
             "nansum": "zeroin.nansum", "nanmean": "zeroin.nanmean",
             "reshape": "t.reshape(...)", "transpose": "t.T or t.permute(...)",
             "squeeze": "t.squeeze()", "expand_dims": "t.unsqueeze(dim)",
             "concatenate": "zeroin.cat", "stack": "zeroin.stack",
             "hstack": "zeroin.hstack", "vstack": "zeroin.vstack"}


def _tensors_in(args):
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif type(a) in (list, tuple):
            yield from _tensors_in(a)


def _numpy_function(func, args, kwargs):
    """``np.sum(t)``, ``np.dot(w, x)``...: see :meth:`Tensor.__array_function__`."""
    name = func.__name__ if getattr(func, "__module__", "").startswith("numpy") else None
    hint = _NP_REDUCTIONS.get(name) or _NP_GRAPH.get(name)
    if hint and is_grad_enabled() and any(t.requires_grad for t in
                                          _tensors_in((*args, *kwargs.values()))):
        raise RuntimeError(f"np.{name}: NumPy cannot follow a tensor that requires grad (its "
                           f"gradient would stop here); use {hint} to keep it, or np.{name} "
                           f"of t.detach() (or t.detach().numpy()) for the values")
    if name in _NP_REDUCTIONS:
        got = func(*[_raw(a) for a in args], **{k: _raw(v) for k, v in kwargs.items()})
        return _make(np.asarray(got)) if isinstance(got, (np.ndarray, np.generic)) else got
    return func._implementation(*args, **kwargs)


def _grad_value(t, value):
    """An array assigned to ``t.grad`` as a tensor; anything else is refused."""
    if isinstance(value, np.ndarray):
        return _make(value)
    raise TypeError(f"grad: assigned grad expected to be a Tensor (or an array) of shape "
                    f"{tuple(t.shape)} or None, but got {type(value).__name__}; to clear it "
                    f"use t.grad = None, to fill it use t.grad = zeroin.zeros_like(t)")


# ndarray <op> tensor, by NumPy ufunc name: the Tensor method and its reflection
_UFUNC_METHODS = {"add": ("__add__", "__radd__"), "subtract": ("__sub__", "__rsub__"),
                  "multiply": ("__mul__", "__rmul__"), "divide": ("__truediv__", "__rtruediv__"),
                  "true_divide": ("__truediv__", "__rtruediv__"),
                  "power": ("__pow__", "__rpow__"), "matmul": ("__matmul__", "__rmatmul__"),
                  "maximum": ("maximum", "maximum"), "minimum": ("minimum", "minimum"),
                  "less": ("__lt__", "__gt__"), "greater": ("__gt__", "__lt__"),
                  "less_equal": ("__le__", "__ge__"), "greater_equal": ("__ge__", "__le__"),
                  "equal": ("__eq__", "__eq__"), "not_equal": ("__ne__", "__ne__")}


class _PostAccumulateHook:
    """A post-accumulate hook, kept in a leaf's ``_hooks``: it does nothing to the
    gradient; autograd calls ``hook(leaf)`` after writing ``.grad``."""
    __slots__ = ("hook",)

    def __init__(self, hook):
        self.hook = hook

    def __call__(self, grad):
        return None


class _HookHandle(_RemovableHandle):
    """A tensor hook's handle: the hooks are a list here, so ``remove`` drops the hook."""
    __slots__ = ("_hook",)

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook
        self.id = next(_handle_ids)     # PyTorch's RemovableHandle.id

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


_new = object.__new__


def _construct(cls, data, requires_grad, dtype, name):
    """Tensor(data, ...) as zeroin.tensor makes it (no dtype change for Python ints)."""
    if type(data) is float and dtype is None and _default_dtype is _F64 and FAST:
        t = _make(None, bool(requires_grad), None, data, cls)
    else:
        arr = _as_array(data, dtype, requires_grad)
        if requires_grad and arr.dtype.kind not in "fc":
            _check_grad_dtype(arr)
        t = _make(arr, bool(requires_grad), None, None, cls)
    if name is not None:
        t.name = name
    return t


def _make(array, requires_grad=False, grad_fn=None, value=None, cls=Tensor):
    """The one constructor behind every Tensor: around ``array`` (not copied, not checked)
    or, with ``array`` None, the Python float ``value``."""
    t = _new(cls)
    t._array = array
    t._float = value
    t._grad = None
    t._rg = requires_grad
    t.grad_fn = grad_fn
    t._hooks = None
    return t


def _mark_view(out, x):
    """Mark ``out`` as a view of ``x`` (PyTorch's ``out._base``) when it shares x's memory:
    an in-place change of a view while the graph is recorded is then refused (see
    ``zeroin._tensor_api._inplace``) instead of silently missing the base's graph."""
    a, b = out._array, x._array
    if a is not None and b is not None and np.may_share_memory(a, b):
        base = getattr(x, "_view_of", None)
        out._view_of = x if base is None else base
    return out


def _local_refs():
    """What ``getrefcount`` reports for an object one local variable holds: 2 where the
    call's argument is counted, less where the interpreter borrows it (CPython 3.14).
    Whoever adopts an array nobody else can see (T5 in zeroin/_fast.py, in-place
    results in zeroin/_tensor_api.py) compares with this, not with a fixed 2."""
    x = object()
    return sys.getrefcount(x)


_ONE_LOCAL = _local_refs()


def _drop_grads(tensors):
    """``t.grad = None`` for each tensor: the setter's None case written out, one call for
    all (an optimizer's ``zero_grad`` clears every parameter each step; a property setter
    call per parameter cost W4 5k instructions a step)."""
    for t in tensors:
        t._grad = None


def _with_grads(tensors):
    """(t, its array, its gradient's array) for each tensor whose ``.grad`` is set, in
    order: what an optimiser's step reads, in one call (a ``.grad`` read and two
    ``numpy()`` calls per parameter cost optim.SGD ~5k instructions a W4 step)."""
    out = []
    for t in tensors:
        gt = t._grad
        if gt is not None:
            d, g = t._array, gt._array
            out.append((t, d if d is not None else _array_of(t),
                        g if g is not None else _array_of(gt)))
    return out


def _leaf(array, requires_grad=False):
    """A leaf around an existing array (not copied); a ``.data`` view is stored as the
    plain ndarray it views."""
    if type(array) is DataArray:
        array = array.view(np.ndarray)
    return _make(array, requires_grad)


def _unordered(x, other, npf, op, symbol):
    """``x < other`` (``npf``) where ``other`` is no tensor, number or NumPy array: an
    array-like compares, a list or tuple raises PyTorch's TypeError with the fix, anything
    else (a str, None, an object) gives NotImplemented, so Python raises PyTorch's
    TypeError ("'<' not supported between instances of 'Tensor' and 'str')."""
    if type(other) in (list, tuple):
        shown = repr(other) if len(repr(other)) <= 40 else "[...]"
        raise TypeError(f"'{symbol}' not supported between instances of 'Tensor' and "
                        f"'{type(other).__name__}' ({op}: PyTorch compares tensors and "
                        f"numbers, not {a_type(other)}); make it a tensor first: "
                        f"x {symbol} zeroin.tensor({shown})")
    if hasattr(other, "__array__"):
        return compared(npf, op, _array_of(x), _raw(other))
    return NotImplemented


def compared(npf, op, a, b):
    """``npf(a, b)`` (a comparison or logical ufunc) as a bool tensor. Shapes that do not
    broadcast raise PyTorch's RuntimeError (a ShapeError naming ``op`` and the shapes), not
    NumPy's ValueError: the LLMs-from-scratch book's ``logits < top_logits[:, -1]`` with a
    batch of more than one row."""
    try:
        return _leaf(npf(a, b))
    except ValueError:
        shapes = (np.shape(a), np.shape(b))
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise ShapeError(broadcast_message(op, shapes)) from None
        raise


def tensor(data, *, requires_grad=False, dtype=None, name=None, device=None):
    """Make a leaf tensor (copies ``data``). See :class:`Tensor`. As ``torch.tensor``, the
    options are keyword-only: ``tensor(3, 4)`` raises TypeError (for a 3 x 4 tensor use
    ``zeros(3, 4)`` or ``empty(3, 4)``).

    Parameters
    ----------
    data : array_like
        A number, nested lists of numbers or a NumPy array.
    requires_grad : bool
        Record the operations on it, so that ``backward()`` fills its ``.grad``. Only
        floating-point tensors can require grad (Python ints are promoted to float).
    dtype : dtype, optional
        NumPy dtype; Python floats and lists default to float64
        (:func:`set_default_dtype`), NumPy arrays keep theirs (float32 stays float32), a
        list of float32 tensors or NumPy floats is float32 (the widest item's, as PyTorch).
    name : str, optional
        The label that :func:`zeroin.explain` and :func:`zeroin.draw` show.
    device : str or zeroin.device, optional
        Accepted for PyTorch code; only ``"cpu"`` (zeroin computes with NumPy).

    Examples
    --------
    >>> import zeroin
    >>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
    >>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
    >>> z = (2 * w + b) * (b + 1)
    >>> z.backward()
    >>> w.grad.item(), b.grad.item()
    (10.0, 15.0)
    """
    if type(data) is float and _float_lane and dtype is None and device is None:
        # zeroin.tensor(3.0, requires_grad=True): T1's float leaf, _make written out (T8)
        t = _new(Tensor)
        t._array = t._grad = t.grad_fn = t._hooks = None
        t._float = data
        t._rg = requires_grad is True or bool(requires_grad)
        if name is not None:
            t.name = name
        return t
    if isinstance(data, Tensor):        # PyTorch's warning, word for word
        import warnings
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()."
                      "requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=_user_stacklevel())
    if device is not None:
        from .dtypes import as_device
        as_device(device, "tensor")
    if dtype is not None and type(dtype).__module__ == "torch":
        from .dtypes import as_dtype
        dtype = as_dtype(dtype, "tensor")
    return _construct(Tensor, data, requires_grad, dtype, name)


# The one import cycle of the engine, kept visible: Tensor.backward runs zeroin.autograd,
# which is built on this module (and the ops registry binds the operators onto Tensor).
def bool_sub_error(a, b):
    """PyTorch's refusal of ``-`` with a bool operand (``a``, ``b``: arrays, tensors or
    numbers), naming the operands' dtypes."""
    dts = [np.dtype(bool) if type(t) is bool else getattr(t, "dtype", None) or
           type(t).__name__ for t in (a, b)]
    if all(d == np.bool_ for d in dts):
        return DtypeError(
            "sub: Subtraction, the `-` operator, with two bool tensors is not supported. "
            "Use the `^` or `logical_xor()` operator instead; if you are trying to invert "
            "a mask, use the `~` or `logical_not()` operator")
    return DtypeError(
        "sub: Subtraction, the `-` operator, with a bool tensor is not supported. If you are "
        "trying to invert a mask, use the `~` or `logical_not()` operator instead. Got "
        f"{dts[0]} - {dts[1]}; to subtract the values, convert the mask first "
        "(mask.long() or mask.float())")


from . import autograd  # noqa: E402
