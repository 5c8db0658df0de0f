"""``torch.testing`` on zeroin: :func:`assert_close` (PyTorch's decisions, tolerances and
messages), :func:`make_tensor` (random test tensors with PyTorch's value ranges) and the
deprecated :func:`assert_allclose`.

>>> import zeroin
>>> zeroin.testing.assert_close(zeroin.tensor([1.0, 2.0]), zeroin.tensor([1.0, 2.0 + 1e-9]))
"""
from __future__ import annotations

import cmath
import collections.abc
import contextlib
import math
import warnings

import numpy as np

from ._tensor import Tensor

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# (rtol, atol) by dtype, PyTorch's table; every other dtype compares exactly.
_PRECISIONS = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7), np.dtype(np.complex64): (1.3e-6, 1e-5),
               np.dtype(np.complex128): (1e-7, 1e-7)}
_NUMBER_DTYPES = {int: np.dtype(np.int64), float: np.dtype(np.float64),
                  complex: np.dtype(np.complex128)}


class _Mismatch(Exception):
    """One failed comparison: the exception type to raise, its message, the item path."""

    def __init__(self, kind, msg, path=()):
        super().__init__(msg)
        self.kind, self.msg, self.path = kind, msg, path

    def to_error(self, msg=None):
        if isinstance(msg, str):
            return self.kind(msg)
        text = self.msg
        if self.path:
            text += "\n\nThe failure occurred for item " + "".join(str([p]) for p in self.path)
        return self.kind(msg(text) if callable(msg) else text)


def _tolerances(dtypes, rtol, atol, path):
    if (rtol is None) != (atol is None):
        raise _Mismatch(ValueError, f"Both 'rtol' and 'atol' must be either specified or "
                                    f"omitted, but got no {'rtol' if rtol is None else 'atol'}.",
                        path)
    if rtol is not None:
        return rtol, atol
    pairs = [_PRECISIONS.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _mismatch_msg(what, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    """PyTorch's "<what> are not close!" message (greatest differences and tolerances)."""
    equal = rtol == 0 and atol == 0

    def line(kind, diff, idx, tol):
        text = (f"{kind.title()} difference: {diff}" if idx is None
                else f"Greatest {kind} difference: {diff} at index {idx}")
        return text + ("" if equal else f" (up to {tol} allowed)") + "\n"
    msg = f"{what} are not {'equal' if equal else 'close'}!\n\n"
    if extra:
        msg += extra.strip() + "\n"
    msg += line("absolute", abs_diff, abs_idx, atol) + line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_msg(actual, expected, rtol, atol):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg("Scalars", f"Expected {expected} but got {actual}.", abs_diff, None,
                         atol, rel_diff, None, rtol)


def _greatest(diff):
    """(value, flat index) of the largest entry, NaN winning as in ``torch.max``."""
    nan = np.isnan(diff)
    i = int(np.argmax(nan)) if nan.any() else int(np.argmax(diff))
    return diff[i].item(), i


def _tensor_msg(a, e, matches, rtol, atol):
    total = matches.size
    bad = total - int(matches.sum())
    extra = f"Mismatched elements: {bad} / {total} ({bad / total:.1%})"
    a, e, m = a.reshape(-1), e.reshape(-1), matches.reshape(-1)
    if a.dtype.kind in "biu":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[m] = 0
        rel_diff = abs_diff / np.abs(e)
    rel_diff[m] = 0
    (ad, ai), (rd, ri) = _greatest(abs_diff), _greatest(rel_diff)
    where = (lambda i: tuple(int(k) for k in np.unravel_index(i, matches.shape)))
    return _mismatch_msg("Tensor-likes", extra, ad, where(ai), atol, rd, where(ri), rtol)


def _dtype_name(dt):
    return f"zeroin.{np.dtype(dt).name}"


def _promote(a, b):
    from .ops import promote_types
    wide = [np.dtype(np.int64) if d.kind == "u" and d.itemsize > 1 else d for d in (a, b)]
    return np.dtype(promote_types(*wide))


def _array_of(x):
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)


def _compare_tensors(a, e, path, o):
    """Two tensor-likes (zeroin tensors, or NumPy arrays): shape, dtype, then values."""
    a, e = _array_of(a), _array_of(e)
    rtol, atol = _tolerances((a.dtype, e.dtype), o["rtol"], o["atol"], path)
    if a.shape != e.shape:
        from ._tensor import Size
        raise _Mismatch(AssertionError, f"The values for attribute 'shape' do not match: "
                                        f"{Size(a.shape)!r} != {Size(e.shape)!r}.", path)
    if o["check_dtype"] and a.dtype != e.dtype:
        raise _Mismatch(AssertionError, f"The values for attribute 'dtype' do not match: "
                                        f"{_dtype_name(a.dtype)} != {_dtype_name(e.dtype)}.",
                        path)
    if a.dtype != e.dtype:
        dt = _promote(a.dtype, e.dtype)
        a, e = a.astype(dt), e.astype(dt)
    if rtol == 0 and atol == 0 or a.dtype.kind in "biu":
        matches = a == e
        if o["equal_nan"] and a.dtype.kind in "fc":
            matches |= np.isnan(a) & np.isnan(e)
    else:
        with np.errstate(all="ignore"):
            matches = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=o["equal_nan"])
    if matches.all():
        return
    if a.ndim == 0:
        raise _Mismatch(AssertionError, _scalar_msg(a.item(), e.item(), rtol, atol), path)
    raise _Mismatch(AssertionError, _tensor_msg(a, e, matches, rtol, atol), path)


def _compare_numbers(a, e, path, o):
    """Two Python (or NumPy) numbers; ``check_dtype`` compares their Python types."""
    a = a.item() if isinstance(a, np.generic) else a
    e = e.item() if isinstance(e, np.generic) else e
    rtol, atol = _tolerances([_NUMBER_DTYPES[type(x)] for x in (a, e)], o["rtol"], o["atol"],
                             path)
    if o["check_dtype"] and type(a) is not type(e):
        raise _Mismatch(AssertionError, f"The (d)types do not match: {type(a)} != "
                                        f"{type(e)}.", path)
    if a == e or (o["equal_nan"] and cmath.isnan(a) and cmath.isnan(e)):
        return
    diff = abs(a - e)
    if cmath.isfinite(diff) and diff <= atol + rtol * abs(e):
        return
    raise _Mismatch(AssertionError, _scalar_msg(a, e, rtol, atol), path)


def _compare(a, e, path, o):
    """One leaf pair, dispatched as PyTorch's pair types: None, bool, number, tensor-like."""
    if a is None or e is None:
        if not (a is None and e is None):
            raise _Mismatch(AssertionError, f"None mismatch: {a} is not {e}", path)
        return
    bools = (bool, np.bool_)
    if isinstance(a, bools) and isinstance(e, bools):
        if bool(a) is not bool(e):
            raise _Mismatch(AssertionError, f"Booleans mismatch: {bool(a)} is not {bool(e)}",
                            path)
        return
    numbers = (int, float, complex, np.number)
    if isinstance(a, numbers) and isinstance(e, numbers) and not isinstance(a, bools) \
            and not isinstance(e, bools):
        return _compare_numbers(a, e, path, o)
    if {type(a), type(e)} & {bool} and all(isinstance(x, numbers) for x in (a, e)):
        # PyTorch's number comparison fails on a Python bool: RuntimeError, as there
        raise _Mismatch(RuntimeError, f"cannot compare {a!r} with {e!r}: a bool with a "
                                      f"number (PyTorch raises RuntimeError too); compare "
                                      f"bool(x) with bool(y), or int(x) with int(y)", path)
    tensor_likes = (Tensor, np.ndarray)
    related = isinstance(a, type(e)) or isinstance(e, type(a))
    if (isinstance(a, tensor_likes) and related
            and (o["allow_subclasses"] or type(a) is type(e))):
        return _compare_tensors(a, e, path, o)
    raise _Mismatch(TypeError, f"No comparison pair was able to handle inputs of type "
                               f"{type(a)} and {type(e)}.", path)


def _leaves(a, e, path=()):
    """The (actual, expected, path) leaf pairs of nested sequences and mappings."""
    seq = collections.abc.Sequence
    if isinstance(a, seq) and isinstance(e, seq) and not isinstance(a, str) \
            and not isinstance(e, str):
        if len(a) != len(e):
            raise _Mismatch(AssertionError, f"The length of the sequences mismatch: "
                                            f"{len(a)} != {len(e)}", path)
        return [p for i in range(len(a)) for p in _leaves(a[i], e[i], (*path, i))]
    mapping = collections.abc.Mapping
    if isinstance(a, mapping) and isinstance(e, mapping):
        ka, ke = set(a.keys()), set(e.keys())
        if ka != ke:
            raise _Mismatch(AssertionError,
                            f"The keys of the mappings do not match:\nMissing keys in the "
                            f"actual mapping: {sorted(ke - ka)}\nAdditional keys in the "
                            f"actual mapping: {sorted(ka - ke)}", path)
        keys = ka
        with contextlib.suppress(Exception):
            keys = sorted(keys)
        return [p for k in keys for p in _leaves(a[k], e[k], (*path, k))]
    return [(a, e, path)]


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` are close, as PyTorch's
    ``torch.testing.assert_close``: tensors (or NumPy arrays) of equal shape and dtype whose
    values satisfy ``|actual - expected| <= atol + rtol * |expected|`` (default tolerances
    by dtype, exact for integers and bools), numbers, None, and nested sequences or
    mappings of them. ``msg`` (a string, or a callable on the generated message) replaces
    the message. Every tensor is on the CPU and strided, so ``check_device``,
    ``check_layout`` and ``check_stride`` change nothing."""
    opts = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol, equal_nan=equal_nan,
                check_dtype=check_dtype)
    first = None
    try:
        for a, e, path in _leaves(actual, expected):
            try:
                _compare(a, e, path, opts)
            except _Mismatch as m:
                if m.kind is not AssertionError:
                    raise                   # a bad input beats a mismatch, as PyTorch's
                first = first or m
    except _Mismatch as m:
        raise m.to_error() from None        # bad input: msg is not used (PyTorch's)
    if first is not None:
        raise first.to_error(msg) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated since PyTorch 1.12 (FutureWarning): :func:`assert_close` with looser
    default tolerances, ``equal_nan=True`` and no dtype check."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    from ._tensor import tensor
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        loose = {np.dtype(np.float16): (1e-3, 1e-3), np.dtype(np.float32): (1e-4, 1e-5),
                 np.dtype(np.float64): (1e-5, 1e-8)}
        pairs = [loose.get(np.dtype(t.dtype), (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_dtype=False, msg=msg or None)


_MAKE_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32",
                "uint64", "float16", "float32", "float64", "complex64", "complex128")


def _low_high(low, high, dt, lowest, highest, default_low, default_high):
    """PyTorch's checks on ``[low, high)``, clamped to what ``dt`` holds (ceiled for
    integers)."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dt.kind in "fc":
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. "
                      "Use `torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, "
                         f"{high}), but {_dtype_name(dt)} only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if dt.kind in "biu":
        return math.ceil(low), math.ceil(high)
    return low, high


def _uniform(shape, low, high):
    """Float64 draws in ``[low, high)`` from zeroin's generator."""
    from .random import get_rng
    u = get_rng(None).random(shape)
    if high - low >= np.finfo(np.float64).max:         # the width itself would overflow
        return (u * (high / 2 - low / 2) + low / 2) * 2
    return u * (high - low) + low


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` with values drawn uniformly from ``[low, high)`` by zeroin's
    generator, PyTorch's default ranges: bool [0, 2), unsigned [0, 10), signed [-9, 10),
    floating and complex [-9, 9). ``exclude_zero`` replaces zeros by 1 (bool, integers) or
    the dtype's smallest normal number; ``noncontiguous=True`` gives a strided view."""
    from ._tensor import tensor
    from .dtypes import device as _device
    if str(_device(device)).split(":")[0] != "cpu":
        raise RuntimeError(f"make_tensor: zeroin runs on the CPU only, got device "
                           f"{device!r}; use 'cpu'")
    dt = np.dtype(dtype) if getattr(dtype, "name", None) in _MAKE_DTYPES else None
    if dt is None:
        raise TypeError(f"The requested dtype '{dtype}' is not supported by "
                        f"torch.testing.make_tensor(). To request support, file an issue at: "
                        f"https://github.com/pytorch/pytorch/issues")
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(int(n) for n in shape)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and dt.kind in "biu":
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={_dtype_name(dt)}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dt.kind in "biu":
        info = np.iinfo(np.uint8 if dt.kind == "b" else dt)
        lowest, highest = (0, 2) if dt.kind == "b" else (info.min, info.max + (dt != np.int64))
        lo, hi = _low_high(low, high, dt, lowest, highest, *((0, 2) if dt.kind == "b"
                                                             else (-9, 10)))
        from .random import get_rng
        values = get_rng(None).integers(lo, hi, shape, dtype=np.int8 if dt.kind == "b"
                                        else dt).astype(dt)
    else:
        info = np.finfo(dt)
        lo, hi = _low_high(low, high, dt, float(info.min), float(info.max), -9, 9)
        values = _uniform(shape, lo, hi)
        if dt.kind == "c":
            values = values + 1j * _uniform(shape, lo, hi)
        values = values.astype(dt)
    if noncontiguous:
        values = values[..., 1::2]
    if exclude_zero:
        tiny = np.finfo(dt).tiny if dt.kind in "fc" else 1
        values[values == 0] = tiny + (1j * tiny if dt.kind == "c" else 0)
    t = tensor(values)          # NumPy-backed: the copy is contiguous (see README)
    return t.requires_grad_() if requires_grad and dt.kind in "fc" else t
