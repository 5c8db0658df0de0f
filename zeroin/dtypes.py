"""PyTorch's dtype and device names, so that ``torch.float32`` code runs as ``zeroin.float32``.

zeroin's dtypes *are* NumPy dtypes: ``zeroin.float32 == np.dtype("float32")`` and
``t.dtype == zeroin.float32`` compares as in PyTorch. ``zeroin.float`` is float32 and
``zeroin.int`` int32, as in PyTorch (not Python's float and int). Tensors live on the CPU
only; ``zeroin.device("cpu")`` exists so that device-agnostic code runs unchanged.
"""
from __future__ import annotations

import builtins

import numpy as np

__all__ = ["float16", "half", "bfloat16", "float32", "float", "float64", "double", "int8", "uint8", "uint16", "uint32", "uint64",
           "int16", "short", "int32", "int", "int64", "long", "bool", "complex64",
           "complex128", "cfloat", "cdouble", "dtype", "as_dtype", "device", "as_device",
           "is_floating_point_dtype"]

dtype = np.dtype                    # isinstance(x.dtype, zeroin.dtype) holds
float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)      # noqa: A001 (PyTorch's names)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
uint16, uint32, uint64 = np.dtype(np.uint16), np.dtype(np.uint32), np.dtype(np.uint64)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)            # noqa: A001
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)                   # noqa: A001
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)


class _NoDtype:
    """A PyTorch dtype NumPy does not have: the name exists, so that code naming it runs
    (``autocast(dtype=zeroin.bfloat16)``, which changes nothing in zeroin), but no tensor
    can hold it."""
    __slots__ = ("name",)
    is_floating_point = True

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"zeroin.{self.name}"


bfloat16 = _NoDtype("bfloat16")
_NO_DTYPES = {"bfloat16": bfloat16}


def as_dtype(value, op="dtype"):
    """``value`` (a zeroin/NumPy dtype, a NumPy type, a name, or a PyTorch dtype) as a
    NumPy dtype; None stays None."""
    if value is None or isinstance(value, np.dtype):
        return value
    if type(value).__module__ == "torch":       # torch.float32 -> "float32"
        value = str(value).rpartition(".")[2]
    if isinstance(value, _NoDtype) or (isinstance(value, str) and value in _NO_DTYPES):
        name = getattr(value, "name", value)
        raise TypeError(f"{op}: {name} is not supported: NumPy has no {name} type, so no "
                        f"zeroin tensor can hold it; use zeroin.float32 (or float16)")
    try:
        return np.dtype(value)
    except TypeError:
        raise TypeError(f"{op}: {value!r} is not a dtype; use zeroin.float32, zeroin.float64, "
                        f"zeroin.int64, zeroin.bool, ...") from None


def is_floating_point_dtype(d):
    return np.dtype(d).kind == "f"


class device:
    """A device name, as ``torch.device``: only ``"cpu"`` holds tensors in zeroin.

    ``zeroin.device("cuda")`` can be made (device-agnostic code builds one), but moving a
    tensor or module there raises an error saying that zeroin runs on the CPU.
    """
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):     # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name, _, idx = type.partition(":")
        if idx:
            if index is not None:
                raise ValueError(f"device: {type!r} already names an index; do not also "
                                 f"pass index={index}")
            index = builtins.int(idx)
        if name not in ("cpu", "cuda", "mps", "meta", "xpu"):
            raise RuntimeError(f"device: unknown device type {name!r}; zeroin runs on 'cpu'")
        self.type, self.index = name, index

    def __repr__(self):
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{idx})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == \
            (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


def as_device(value, op="to"):
    """Check that ``value`` (a device or a name) is the CPU; returns ``zeroin.device('cpu')``."""
    if value is None:
        return CPU
    d = value if isinstance(value, device) else device(str(value))
    if d.type != "cpu":
        from .errors import NotCompiledError
        error = NotCompiledError if d.type in ("cuda", "xpu") else RuntimeError   # PyTorch's
        raise error(f"{op}: zeroin runs on the CPU (NumPy) only, so a tensor cannot "
                    f"move to {str(d)!r}; use device='cpu' (device-agnostic code: "
                    f"`'cuda' if zeroin.cuda.is_available() else 'cpu'` gives 'cpu')")
    return CPU
