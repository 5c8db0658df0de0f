"""PyTorch's small top-level names a user meets in the first hour: the constants
(``zeroin.pi``, ``zeroin.inf``...), ``detach``, ``fill``, ``scalar_tensor``, ``range``,
``row_stack``, ``typename``, ``finfo`` / ``iinfo``, the memory-format and layout objects,
the global settings that zeroin records without acting on (``set_default_device``,
``set_float32_matmul_precision``, ``set_warn_always``, interop threads, the deterministic
debug mode), ``compile`` (the model itself), the legacy ``set_default_tensor_type`` and
``empty_strided``."""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from . import ops as _ops
from ._tensor import Tensor, get_default_dtype
from ._tensor_api import _export
from .dtypes import as_device, as_dtype, device as _device

# --- constants (Python floats, as torch's) ------------------------------------------------

for _name, _value in (("pi", math.pi), ("e", math.e), ("inf", math.inf), ("nan", math.nan),
                      ("newaxis", None)):
    _export(_value, _name)


# --- memory formats and layouts ------------------------------------------------------------

class memory_format:
    """A PyTorch memory format (``zeroin.channels_last``...): accepted wherever PyTorch takes
    ``memory_format=``; ``contiguous``, ``to``, ``clone`` and ``Module.to`` lay the data out
    channels last for ``channels_last`` (``_3d``), other functions keep NumPy's layout."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"zeroin.{self.name}"


class layout:
    """A PyTorch tensor layout: zeroin has only ``zeroin.strided`` (dense NumPy arrays)."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"zeroin.{self.name}"


for _name in ("contiguous_format", "preserve_format", "channels_last", "channels_last_3d"):
    _export(memory_format(_name), _name)
strided = _export(layout("strided"), "strided")
_export(memory_format, "memory_format")
_export(layout, "layout")
Tensor.layout = property(lambda self: strided, doc="Always ``zeroin.strided`` (dense).")


# --- small tensor functions ---------------------------------------------------------------

@_export
def detach(input):  # noqa: A002
    """``torch.detach(x)``: ``x.detach()``, the same data outside the graph."""
    return _ops._t(input).detach()


@_export
def fill(input, value):  # noqa: A002
    """A new tensor of ``input``'s shape and dtype filled with ``value`` (a number or a 0-d
    tensor); the gradient goes to a tensor ``value`` (summed), zero to ``input``."""
    x = _ops._t(input)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill: only supports a 0-dimension value tensor but got one "
                               f"with {value.ndim} dimensions (shape {tuple(value.shape)}); "
                               f"pass a number or a 0-d tensor")
        v = value.to(x.dtype)
    else:
        v = _ops._t(np.asarray(value).astype(x.dtype))
    return _ops.where(_ops._t(np.zeros(x.shape, dtype=bool)), x, v)


@_export
def scalar_tensor(s, *, dtype=None, layout=None, device=None, pin_memory=None,  # noqa: A002
                  requires_grad=False):
    """A 0-d tensor holding the number ``s``, of the default float dtype unless ``dtype``
    says otherwise (ints and bools too, as PyTorch)."""
    as_device(device, "scalar_tensor")
    if isinstance(s, Tensor):
        s = s.item()
    if not isinstance(s, (numbers.Number, np.generic)):
        raise TypeError(f"scalar_tensor: expected a number, got {type(s).__name__}")
    d = as_dtype(dtype, "scalar_tensor") or get_default_dtype()
    return Tensor(np.array(s, dtype=d), requires_grad=requires_grad)


_RANGE_WARNING = ("zeroin.range is deprecated (as torch.range) and will be removed because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "zeroin.arange, which produces values in [start, end).")


@_export
def range(start, end, step=1, *, dtype=None, layout=None, device=None,  # noqa: A001
          pin_memory=None, requires_grad=False):
    """Deprecated in PyTorch (it warns, and so does zeroin): start, start + step, ... up to
    and including ``end``, of the default float dtype; use :func:`zeroin.arange`."""
    warnings.warn(_RANGE_WARNING, UserWarning, stacklevel=2)
    as_device(device, "range")
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"range: upper bound and lower bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    n = int(math.floor((end - start) / step)) + 1
    d = as_dtype(dtype, "range") or get_default_dtype()
    data = (start + step * np.arange(n, dtype=np.float64)).astype(d)
    return Tensor(data, requires_grad=requires_grad)


@_export
def row_stack(tensors):
    """Alias of :func:`zeroin.vstack`."""
    from ._api_names import vstack
    return vstack(tensors)


@_export
def typename(obj, /):
    """The type's full name: ``x.type()`` for a tensor, else ``module.QualName``."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module, qualname = obj.__class__.__module__ or "", obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


# --- global settings: recorded, CPU only --------------------------------------------------

_SETTINGS = {"matmul_precision": "highest", "warn_always": False, "interop_threads": None}


@_export
def get_default_device():
    """``zeroin.device('cpu')``: zeroin's tensors live on the CPU."""
    return _device("cpu")


@_export
def set_default_device(device):
    """Accepts ``'cpu'`` (or None) only: zeroin runs on the CPU (NumPy)."""
    if device is not None:
        as_device(device, "set_default_device")


@_export
def set_float32_matmul_precision(precision):
    """Recorded for :func:`get_float32_matmul_precision` and otherwise without effect:
    NumPy's float32 matmul has one precision. An unknown name warns, as PyTorch."""
    if precision not in ("highest", "high", "medium"):
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the "
                      f"current set_float32_matmul_precision call has no effect.",
                      UserWarning, stacklevel=2)
        return
    _SETTINGS["matmul_precision"] = precision


@_export
def get_float32_matmul_precision():
    """The name set by :func:`set_float32_matmul_precision` ('highest' by default)."""
    return _SETTINGS["matmul_precision"]


@_export
def set_warn_always(b, /):
    """PyTorch's switch to repeat its once-only warnings; recorded (zeroin's warnings follow
    Python's ``warnings`` filters)."""
    _SETTINGS["warn_always"] = bool(b)


@_export
def is_warn_always_enabled():
    """The value given to :func:`set_warn_always` (False by default)."""
    return _SETTINGS["warn_always"]


@_export
def get_num_interop_threads():
    """The number set by :func:`set_num_interop_threads` (else the CPU count, at least 1):
    zeroin runs no inter-op thread pool."""
    import os
    return _SETTINGS["interop_threads"] or os.cpu_count() or 1


@_export
def set_num_interop_threads(num, /):
    """Recorded for :func:`get_num_interop_threads`; a positive int, as PyTorch."""
    if isinstance(num, bool) or not isinstance(num, numbers.Integral) or num <= 0:
        raise RuntimeError(f"set_num_interop_threads: expected a positive number of threads, "
                           f"got {num!r}")
    _SETTINGS["interop_threads"] = int(num)


@_export
def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor",  # noqa: A001
            mode=None, options=None, disable=False, **kwargs):
    """``torch.compile``: returns ``model`` unchanged (zeroin has no compiler), so that
    ``model = torch.compile(model)`` runs; as a decorator with arguments
    (``@compile(mode=...)``) too. PyTorch's keyword arguments are accepted and ignored."""
    if model is None:
        return lambda m: m
    if not callable(model):
        raise TypeError(f"compile: expected a Module or a callable, got "
                        f"{type(model).__name__}")
    return model


# --- dtype limits -------------------------------------------------------------------------

_BFLOAT16 = dict(bits=16, eps=0.0078125, max=3.3895313892515355e+38,
                 min=-3.3895313892515355e+38, tiny=1.1754943508222875e-38,
                 smallest_normal=1.1754943508222875e-38, resolution=0.01, dtype="bfloat16")


class finfo:
    """The limits of a floating-point dtype (default: the default dtype), as
    ``torch.finfo``: ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``),
    ``resolution`` (Python numbers) and ``dtype`` (its name)."""
    __slots__ = tuple(_BFLOAT16)

    def __init__(self, type=None):  # noqa: A002
        if getattr(type, "name", type) == "bfloat16":
            values = _BFLOAT16
        else:
            d = get_default_dtype() if type is None else as_dtype(type, "finfo")
            if d.kind != "f":
                raise TypeError(f"finfo: requires a floating point dtype, got {d}; use "
                                f"zeroin.iinfo for integer dtypes")
            fi = np.finfo(d)
            values = dict(bits=fi.bits, eps=float(fi.eps), max=float(fi.max),
                          min=float(fi.min), tiny=float(fi.tiny),
                          smallest_normal=float(fi.smallest_normal),
                          resolution=10.0 ** -fi.precision, dtype=d.name)
        for k, v in values.items():
            object.__setattr__(self, k, v)

    def __eq__(self, other):
        return type(other) is type(self) and other.dtype == self.dtype

    def __hash__(self):
        return hash((type(self), self.dtype))

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """The limits of an integer dtype, as ``torch.iinfo``: ``bits``, ``max``, ``min``
    (Python ints) and ``dtype`` (its name); bool is refused, as PyTorch."""
    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):  # noqa: A002
        d = as_dtype(type, "iinfo")
        if d.kind not in "iu":
            raise TypeError(f"iinfo: requires an integer dtype, got {d}"
                            + ("; use zeroin.finfo for floating-point dtypes"
                               if d.kind == "f" else ""))
        ii = np.iinfo(d)
        for k, v in (("bits", ii.bits), ("max", int(ii.max)), ("min", int(ii.min)),
                     ("dtype", d.name)):
            object.__setattr__(self, k, v)

    __eq__, __hash__ = finfo.__eq__, finfo.__hash__

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


_export(finfo, "finfo")
_export(iinfo, "iinfo")


@_export
def set_default_tensor_type(t):
    """Deprecated in PyTorch (it warns, and so does zeroin): the default float dtype from a
    legacy type (``zeroin.DoubleTensor`` or ``'torch.DoubleTensor'``); use
    :func:`zeroin.set_default_dtype`."""
    from . import _creation
    from ._tensor import set_default_dtype
    warnings.warn("set_default_tensor_type() is deprecated (as in PyTorch 2.1), please use "
                  "zeroin.set_default_dtype() instead.", UserWarning, stacklevel=2)
    if isinstance(t, str):
        fn = getattr(_creation, t.rpartition(".")[2], None)
        d = getattr(fn, "legacy_dtype", None)
        if d is None:
            raise TypeError(f"set_default_tensor_type: invalid type string {t!r}; use "
                            f"'torch.FloatTensor' or 'torch.DoubleTensor'")
    else:
        d = getattr(t, "legacy_dtype", None)
        if d is None:
            raise TypeError(f"set_default_tensor_type: expected a legacy tensor type such as "
                            f"zeroin.DoubleTensor, got {t!r}")
    if d.kind != "f":
        raise TypeError(f"set_default_tensor_type: only floating-point types are supported "
                        f"as the default type, got {d}")
    set_default_dtype(d)


# --- strides -------------------------------------------------------------

@_export
def empty_strided(size, stride, *, dtype=None, layout=None, device=None,
                  requires_grad=False, pin_memory=False):
    """A tensor of ``size`` to be filled (zeros); ``stride`` is checked and ignored: the
    data layout is NumPy's."""
    from ._creation import empty
    if len(tuple(stride)) != len(tuple(size)):
        raise RuntimeError(f"empty_strided: mismatch in length of strides and shape: size "
                           f"{tuple(size)}, stride {tuple(stride)}")
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


# --- more recorded settings ---------------------------------------------------------------

_DEBUG_MODES = ("default", "warn", "error")


@_export
def set_deterministic_debug_mode(debug_mode):
    """PyTorch's shorthand for :func:`zeroin.use_deterministic_algorithms`: 'default' (0)
    off, 'warn' (1) on with ``warn_only``, 'error' (2) on. Recorded only: zeroin is
    deterministic whatever it says."""
    from .random import use_deterministic_algorithms
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"set_deterministic_debug_mode: invalid value of debug_mode, "
                               f"expected one of `default`, `warn`, `error`, but got "
                               f"{debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    if isinstance(debug_mode, bool) or debug_mode not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: invalid value of debug_mode, "
                           f"expected 0, 1, or 2, but got {debug_mode}")
    use_deterministic_algorithms(debug_mode > 0, warn_only=debug_mode == 1)


@_export
def get_deterministic_debug_mode():
    """0, 1 or 2, from :func:`use_deterministic_algorithms`'s setting (see
    :func:`set_deterministic_debug_mode`)."""
    from .random import are_deterministic_algorithms_enabled as on
    from .random import is_deterministic_algorithms_warn_only_enabled as warn_only
    return 0 if not on() else 1 if warn_only() else 2


@_export
def set_flush_denormal(mode):
    """False: NumPy cannot flush denormal floats to zero, so the request is not carried out
    (PyTorch returns True where the CPU supports it)."""
    return False


@_export
def init_num_threads():
    """Nothing to do: NumPy's thread pool starts by itself."""


# ``except torch.OutOfMemoryError:`` catches zeroin's (NumPy's) out-of-memory error
OutOfMemoryError = _export(MemoryError, "OutOfMemoryError")
