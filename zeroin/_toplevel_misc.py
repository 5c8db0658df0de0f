"""PyTorch's small top-level names a user meets in the first hour: the constants
(``zeroin.pi``, ``zeroin.inf``...), ``detach``, ``fill``, ``scalar_tensor``, ``range``,
``row_stack``, ``typename``, the memory-format and layout objects, the global settings that
zeroin records without acting on (``set_default_device``, ``set_float32_matmul_precision``,
``set_warn_always``, interop threads) and ``compile`` (the model itself)."""
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


# --- memory formats and layouts: names only (the data layout is always NumPy's) -----------

class memory_format:
    """A PyTorch memory format (``zeroin.channels_last``...): accepted wherever PyTorch takes
    ``memory_format=``; zeroin's data layout is NumPy's whatever it says."""
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
    tensor); the gradient goes to a tensor ``value`` (summed), none to ``input``."""
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
