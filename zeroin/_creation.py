"""Making tensors, with PyTorch's names and arguments (``zeros``, ``randn``, ``arange``...).

Every function takes PyTorch's keywords ``dtype=``, ``device=`` (only ``"cpu"``) and
``requires_grad=``. Floating results use :func:`zeroin.get_default_dtype` (float64 unless
changed: the one deliberate difference from PyTorch's float32); integer results are int64,
as in PyTorch. Random functions draw from zeroin's shared generator
(:mod:`zeroin.random`), so ``zeroin.manual_seed(0)`` repeats them, or from ``generator=``
(a :class:`zeroin.Generator`, a :class:`numpy.random.Generator` or an int seed).
"""
from __future__ import annotations

import builtins
import functools
import inspect
import math
import numbers
import operator

import numpy as np

from ._tensor import Size, Tensor, _leaf, get_default_dtype, size_arg, tensor
from .errors import DtypeError, ShapeError, ZeroinError
from .dtypes import as_device, as_dtype
from .ops import _fill_scalar, write_out
from .random import get_rng, torch_stream
from ._torch_rng import refuse
from .errors import a_type

__all__ = ["zeros", "ones", "full", "empty", "eye", "arange", "linspace", "logspace",
           "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint",
           "randperm", "normal", "rand_like", "randn_like", "randint_like", "from_numpy",
           "as_tensor", "asarray", "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
           "BoolTensor", "multinomial", "bernoulli"]


def _size(op, size, keyword=None):
    """PyTorch's size arguments: ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])``, ``f(x.shape)``
    or ``f(size=(2, 3))`` (``keyword``)."""
    if keyword is not None:
        if size:
            raise TypeError(f"{op}: got the size twice, as arguments {size} and as "
                            f"size={keyword!r}; give one of them")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        shape = tuple(operator.index(s.item() if isinstance(s, Tensor) else s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: size must be integers, as {op}(2, 3) or {op}((2, 3)), "
                        f"got {size!r}") from None
    if builtins.any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}")
    return shape


def _out_arg(fn):
    """PyTorch's ``out=`` for a creation function: the tensor made (in out's dtype unless
    ``dtype`` is given) is written into ``out``, which is returned (``zeros(3, out=t)``);
    see :func:`zeroin.ops.write_out`. Without it ``out=`` would be silently ignored."""
    takes_dtype = "dtype" in inspect.signature(fn).parameters

    @functools.wraps(fn)
    def make(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        if takes_dtype and kwargs.get("dtype") is None and isinstance(out, Tensor):
            kwargs["dtype"] = out.dtype
        return write_out(out, fn(*args, **kwargs), fn.__name__, resize_warning=False)
    return make


def _make(arr, dtype, requires_grad, device, op):
    """Wrap a freshly made array (no copy) as a leaf."""
    as_device(device, op)
    if dtype is not None:
        arr = arr.astype(as_dtype(dtype, op), copy=False)
    t = _leaf(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype, op):
    d = get_default_dtype() if dtype is None else as_dtype(dtype, op)
    return d


@_out_arg
def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False, name=None,
          out=None):
    """A tensor of zeros, e.g. ``zeroin.zeros(2, 3)`` (default float dtype)."""
    t = _make(np.zeros(_size("zeros", sizes, size), dtype=_float(dtype, "zeros")), None,
              requires_grad, device, "zeros")
    if name is not None:
        t.name = name
    return t


@_out_arg
def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False, name=None,
          out=None):
    """A tensor of ones, e.g. ``zeroin.ones(2, 3)`` (default float dtype)."""
    t = _make(np.ones(_size("ones", sizes, size), dtype=_float(dtype, "ones")), None,
              requires_grad, device, "ones")
    if name is not None:
        t.name = name
    return t


@_out_arg
def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False, layout=None,
          pin_memory=False, memory_format=None, out=None):
    """A tensor to be filled (zeros here: zeroin never hands out uninitialised memory)."""
    return zeros(*sizes, size=size, dtype=dtype, device=device, requires_grad=requires_grad)


def _fill_dtype(fill_value):
    if isinstance(fill_value, (bool, np.bool_)):
        return np.dtype(bool)
    if isinstance(fill_value, numbers.Integral):
        return np.dtype(np.int64)
    if isinstance(fill_value, numbers.Complex) and not isinstance(fill_value, numbers.Real):
        return np.result_type(get_default_dtype(), np.complex64)   # complex64 under float32
    return get_default_dtype()


@_out_arg
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ``fill_value``; the dtype follows it (bool, int64 or the float default)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    d = as_dtype(dtype, "full") or _fill_dtype(fill_value)
    shape = _size("full", (size,) if isinstance(size, (tuple, list)) else (size,))
    fill_value = _fill_scalar("full", fill_value, d)
    return _make(np.full(shape, fill_value, dtype=d), None, requires_grad, device, "full")


@_out_arg
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    """The ``n`` x ``m`` identity matrix (``m`` defaults to ``n``)."""
    return _make(np.eye(n, m, dtype=_float(dtype, "eye")), None, requires_grad, device, "eye")


@_out_arg
def arange(start=None, end=None, step=1, *, dtype=None, device=None, requires_grad=False,
           out=None):
    """``start, start + step, ...`` below ``end``: int64 for integers, else the float default.
    ``arange(5)``, ``arange(1, 5)``, ``arange(end=5)``, ``arange(start=1, end=5, step=2)``."""
    if end is None:
        if start is None:
            raise TypeError("arange: give the end, as arange(5) or arange(end=5)")
        start, end = 0, start
    elif start is None:
        start = 0
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if dtype is not None and as_dtype(dtype, "arange").kind in "iu" and not builtins.all(
            isinstance(v, numbers.Integral) for v in vals):
        return _int_arange(vals, as_dtype(dtype, "arange"), requires_grad, device)
    if vals[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (vals[1] - vals[0]) * vals[2] < 0:
        raise RuntimeError(f"arange: the step {vals[2]} goes away from the end: from {vals[0]} "
                           f"to {vals[1]} needs a step of sign {'+' if vals[1] > vals[0] else '-'}"
                           " (as in PyTorch; NumPy would give an empty tensor)")
    if dtype is None:
        ints = builtins.all(isinstance(v, numbers.Integral) for v in vals)
        dtype = np.int64 if ints else get_default_dtype()
    d = as_dtype(dtype, "arange")
    if builtins.all(isinstance(v, numbers.Integral) for v in vals):
        a = np.arange(*vals)
    else:   # PyTorch's values (NumPy steps by a rounded delta): see _float_arange
        if not (math.isfinite(vals[0]) and math.isfinite(vals[1])) or vals[2] != vals[2]:
            raise RuntimeError(f"arange: unsupported range: {vals[0]} -> {vals[1]} with step "
                               f"{vals[2]} (as in PyTorch: the ends must be finite numbers, "
                               f"and the step a number)")
        n = builtins.max(math.ceil((vals[1] - vals[0]) / vals[2]), 0)
        a = _float_arange(float(vals[0]), float(vals[2]), n, d)
    return _make(a.astype(d, copy=False), None, requires_grad, device, "arange")


def _fma(x, y, z):
    """``x * y + z`` rounded once in float64 (NumPy arrays), as a fused multiply-add: the
    exact product as two floats (Veltkamp/Dekker), the sum's low part rounded to odd, then
    one rounding to nearest (Boldo and Melquiond's emulated FMA)."""
    ph = np.asarray(x * y, np.float64)
    (xh, xl), (yh, yl) = (_split(v) for v in (x, y))
    pl = ((xh * yh - ph) + xh * yl + xl * yh) + xl * yl
    th, tl = _two_sum(z, ph)
    v, ve = _two_sum(tl, pl)
    odd = (ve != 0) & ((v.view(np.int64) & 1) == 0)    # round to odd: the neighbour
    if odd.any():
        v[odd] = np.nextafter(v[odd], np.copysign(np.inf, ve[odd]))
    out = th + v
    bad = ~np.isfinite(out)     # beyond the split's range (|v| > 1e300): rounded twice
    if bad.any():
        out[bad] = (ph + z)[bad] if np.ndim(z) else ph[bad] + z
    return out


def _split(v):
    """``v`` as high + low halves of 26 and 27 bits (Veltkamp), products of two exact."""
    c = v * 134217729.0
    h = c - (c - v)
    return h, v - h


def _two_sum(a, b):
    """``a + b`` rounded and its exact error (Knuth's TwoSum)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _float_arange(start, step, n, d):
    """PyTorch's CPU arange values in float32 or float64: each ``start + step * i`` one
    fused multiply-add in float64; within blocks of 16 (float32) or 8 (float64) values, the
    vectorised kernel's: ``fma(j, step, base)`` for the 8 or 4 values from each block start's
    ``base`` (rounded to the dtype first), the tail after the last whole block per value.
    From 32768 values on, each of PyTorch's threads (taken as :func:`get_num_threads`)
    fills its part so. Other dtypes: ``start + i * step`` in float64."""
    if np.dtype(d) not in (np.float32, np.float64):
        return np.arange(n, dtype=np.float64) * step + start
    lanes = 32 // np.dtype(d).itemsize
    tasks = 1
    if n > 32768:   # at::parallel_for's grain: one part per thread, each at least 32768
        from ._threads import get_num_threads
        tasks = builtins.max(builtins.min(get_num_threads(), -(-n // 32768)), 1)
    chunk = -(-n // tasks) if n else 1
    out = np.empty(n)
    for begin in range(0, n, chunk):
        end = builtins.min(begin + chunk, n)
        mid = begin + (end - begin) // (2 * lanes) * 2 * lanes
        idx = np.concatenate([np.arange(begin, mid, lanes), np.arange(mid, end)])
        first = _fma(step, idx.astype(np.float64), start)   # block starts, then the tail
        out[mid:end] = first[(mid - begin) // lanes:]
        if mid > begin:
            base = first[:(mid - begin) // lanes].astype(d).astype(np.float64)[:, None]
            out[begin:mid] = _fma(np.arange(lanes, dtype=np.float64), step, base).ravel()
    return out


def _int_arange(vals, d, requires_grad, device):
    """arange of float ends or step into an integer dtype, as PyTorch's kernel: the three
    truncated to integers; the length from them for int64, else from the floats."""
    if not builtins.all(isinstance(v, numbers.Real) and math.isfinite(v) for v in vals):
        raise RuntimeError(f"arange: unsupported range: {vals[0]} -> {vals[1]} with step "
                           f"{vals[2]} (the ends and step must be finite numbers)")
    start, end, step = (int(v) for v in vals)
    if step == 0:
        raise RuntimeError(f"arange: step must be nonzero (the step {vals[2]} truncates to 0 "
                           f"in the integer dtype {d}, as in PyTorch)")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: the step {step} goes away from the end: from {start} to "
                           f"{end} (the ends and step truncated to integers, as in PyTorch)")
    n = -((start - end) // step) if d == np.int64 else \
        math.ceil((vals[1] - vals[0]) / vals[2])
    a = start + np.arange(builtins.max(n, 0), dtype=np.int64) * step
    return _make(a.astype(d, copy=False), None, requires_grad, device, "arange")


def _scalar_ends(op, start, end):
    """PyTorch takes numbers or 0-d tensors as the ends; NumPy would make one range per
    element of an array (a (steps, n) result), another function."""
    for name, v in (("start", start), ("end", end)):
        shape = tuple(v.shape) if hasattr(v, "shape") else np.shape(v)
        if shape != ():
            raise ShapeError(f"{op}: {name} must be a number or a 0-d tensor, got shape "
                             f"{shape}; for one range per element, scale "
                             f"{op}(0, 1, steps) by hand")


@_out_arg
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    _scalar_ends("linspace", start, end)
    d = np.dtype(_float(dtype, "linspace"))
    n = int(steps)
    if n > 1 and d in (np.float32, np.float64) and all(
            isinstance(v, numbers.Real) or np.ndim(v) == 0 for v in (start, end)):
        arr = linspace_array(float(start), float(end), n, d)
    else:
        arr = np.linspace(start, end, n, dtype=np.float64)
    return _make(arr, d, requires_grad, device, "linspace")


# long double's 64-bit mantissa holds a float64 product exactly enough to round it once
# more with the sum, as the fused multiply-add PyTorch's kernel uses (x86; elsewhere
# long double may be float64 itself and the sum is rounded twice: 1 ulp at most)
_LONG = np.longdouble if np.finfo(np.longdouble).nmant > 52 else np.float64


def linspace_array(start, end, steps, dtype):
    """PyTorch's linspace in float32 or float64: ``step = (end - start) / (steps - 1)`` in
    the dtype, the first half ``start + step * i``, the second ``end - step * (steps - 1 -
    i)`` (so both ends are exact), each a fused multiply-add (one rounding; float32's
    exact through float64). np.linspace computes ``start + i * step`` throughout: its
    second half differed from PyTorch's in the last bit in about a quarter of the values."""
    if steps < 2:
        return np.full(steps, start, dtype)
    i = np.arange(steps, dtype=np.float64)
    back = steps - 1 - i
    if dtype == np.float32:
        f = np.float32
        step = np.float64(f((f(end) - f(start)) / f(steps - 1)))
        lo, hi = np.float64(f(start)) + step * i, np.float64(f(end)) - step * back
    else:
        step = _LONG((end - start) / (steps - 1))
        lo = _LONG(start) + step * i.astype(_LONG)
        hi = _LONG(end) - step * back.astype(_LONG)
    return np.where(i < steps // 2, lo, hi).astype(dtype)


@_out_arg
def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """``base ** linspace(start, end, steps)``."""
    _scalar_ends("logspace", start, end)
    return _make(np.logspace(start, end, int(steps), base=base), _float(dtype, "logspace"),
                 requires_grad, device, "logspace")


# --- window functions (signal processing: STFT frames, filters) -------------------------------

def _window(op, window_length, periodic, dtype, device, requires_grad, shape):
    """A window of ``window_length`` points; ``periodic`` computes length + 1 and drops the
    last point (one period of a periodic window, for spectral analysis), as PyTorch."""
    if isinstance(window_length, bool) or not isinstance(window_length, numbers.Integral) \
            or window_length < 0:
        raise ValueError(f"{op}: window_length must be a whole number >= 0, got "
                         f"{window_length!r}")
    d = _float(dtype, op)
    if np.dtype(d).kind != "f":
        raise DtypeError(f"{op}: expects a floating point dtype, got {d}; leave dtype out "
                         f"or give a float one, e.g. dtype=zeroin.float32")
    n = int(window_length)
    if n <= 1:
        w = np.ones(n)
    else:
        m = n + 1 if periodic else n
        w = shape(np.arange(m, dtype=np.float64), m)[:n]
    return _make(w, d, requires_grad, device, op)


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    """The Hann window, 0.5 - 0.5 cos(2 pi n / (N - 1))."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.5 - 0.5 * np.cos(2 * np.pi * k / (m - 1)))


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    """The Hamming window, alpha - beta cos(2 pi n / (N - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: alpha - beta * np.cos(2 * np.pi * k / (m - 1)))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """The Blackman window, 0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 0.42 - 0.5 * np.cos(2 * np.pi * k / (m - 1))
                   + 0.08 * np.cos(4 * np.pi * k / (m - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """The Bartlett (triangular) window, 1 - |2 n / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: 1 - np.abs(2 * k / (m - 1) - 1))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    """The Kaiser window, I0(beta sqrt(1 - (2 n / (N - 1) - 1)**2)) / I0(beta)."""
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, m: np.i0(beta * np.sqrt(np.clip(1 - (2 * k / (m - 1) - 1) ** 2,
                                                             0, None))) / np.i0(beta))


# --- *_like --------------------------------------------------------------------------------

def _like(op, t, dtype):
    arr = t.data if isinstance(t, Tensor) else np.asarray(t)
    return arr.shape, (as_dtype(dtype, op) or arr.dtype)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):  # noqa: A002
    """Zeros with ``input``'s shape and dtype (or ``dtype``)."""
    shape, d = _like("zeros_like", input, dtype)
    return _make(np.zeros(shape, d), None, requires_grad, device, "zeros_like")


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None):  # noqa: A002
    """Ones with ``input``'s shape and dtype (or ``dtype``)."""
    shape, d = _like("ones_like", input, dtype)
    return _make(np.ones(shape, d), None, requires_grad, device, "ones_like")


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):  # noqa: A002
    """Like :func:`zeros_like` (zeroin never hands out uninitialised memory)."""
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False,  # noqa: A002
              layout=None, memory_format=None):
    """``fill_value`` with ``input``'s shape and dtype (or ``dtype``)."""
    shape, d = _like("full_like", input, dtype)
    fill_value = _fill_scalar("full_like", fill_value, d)
    return _make(np.full(shape, fill_value, d), None, requires_grad, device, "full_like")


def rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False,  # noqa: A002
              layout=None, memory_format=None):
    """Uniform [0, 1) values with ``input``'s shape and dtype (or ``dtype``)."""
    shape, d = _like("rand_like", input, dtype)
    return rand(shape, generator=generator, dtype=d, device=device,
                requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False,  # noqa: A002
               layout=None, memory_format=None):
    """Standard normal values with ``input``'s shape and dtype (or ``dtype``)."""
    shape, d = _like("randn_like", input, dtype)
    return randn(shape, generator=generator, dtype=d, device=device,
                 requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, device=None,  # noqa: A002
                 requires_grad=False, layout=None, memory_format=None):
    """Random integers in [low, high) with ``input``'s shape and dtype (or ``dtype``)."""
    if high is None:
        low, high = 0, low
    shape, d = _like("randint_like", input, dtype)
    return randint(low, high, shape, generator=generator, dtype=d, device=device,
                   requires_grad=requires_grad)


# --- random ----------------------------------------------------------------------------------

class _DrawDtypeError(DtypeError, NotImplementedError):
    """A float draw asked for another dtype: PyTorch has no kernel for it and raises a
    NotImplementedError (``rand_like`` of an int32 image); also a TypeError."""


def _torch_float(op, d):
    """Refuse a dtype the torch stream has no exact path for (it has float32 and float64)."""
    if d not in (np.float32, np.float64):
        raise refuse(f"{op}(dtype={d})")


def _float_draw(op, draw, size, dtype, generator, device, requires_grad, scale=1.0,
                size_kw=None):
    """``draw(rng, shape)`` as a tensor of ``dtype``; a complex one draws both parts (each
    times ``scale``: randn's parts have variance 1/2, as PyTorch's). ``size_kw`` is the
    ``size=`` keyword (d2l's ``randn(size=(), requires_grad=True)``). On the torch stream
    ``draw(stream, n, dtype)`` gives the values (``op`` names the stream's method)."""
    d = _float(dtype, op)
    if d.kind not in "fc":
        raise _DrawDtypeError(f"{op}: dtype must be floating point or complex, got {d}; for "
                              f"whole numbers use randint (randint_like), or convert first "
                              f"(x.float())")
    stream = torch_stream(generator)
    if stream is not None:
        _torch_float(op, d)
        shape = _size(op, size, size_kw)
        arr = getattr(stream, _STREAM_DRAW[op])(math.prod(shape), d).reshape(shape)
        return _make(arr, None, requires_grad, device, op)
    rng, shape = get_rng(generator), _size(op, size, size_kw)
    if d.kind == "c":
        arr = np.empty(shape, d)
        arr.real, arr.imag = draw(rng, shape) * scale, draw(rng, shape) * scale
        return _make(arr, None, requires_grad, device, op)
    arr = draw(rng, shape)
    return _make(np.asarray(arr).astype(d, copy=False), None, requires_grad, device, op)


_STREAM_DRAW = {"rand": "uniform", "randn": "normal"}


@_out_arg
def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False,
         out=None):
    """Uniform random values in [0, 1), e.g. ``zeroin.rand(2, 3)``."""
    return _float_draw("rand", lambda r, s: r.random(s), sizes, dtype, generator, device,
                       requires_grad, size_kw=size)


@_out_arg
def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False,
          out=None):
    """Standard normal random values, e.g. ``zeroin.randn(2, 3)``."""
    return _float_draw("randn", lambda r, s: r.standard_normal(s), sizes, dtype, generator,
                       device, requires_grad, scale=np.sqrt(0.5), size_kw=size)


@_out_arg
def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False, out=None):
    """Random integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``,
    each also by keyword (``randint(low=0, high=10, size=(3,))``), as PyTorch's."""
    if size is None:
        if not args or len(args) + (low is not None) + (high is not None) < 2:
            raise TypeError("randint: give the size, as randint(10, (3,)) or "
                            "randint(0, 10, size=(3,))")
        *args, size = args
    if high is None and low is not None and not args:
        raise TypeError("randint: low= given without high=; give both, as "
                        "randint(low=0, high=10, size=(3,)), or randint(high=10, size=(3,))")
    args = ((low,) if low is not None else ()) + tuple(args) + \
        ((high,) if high is not None else ())
    if not args:
        raise TypeError("randint: give the upper bound, as randint(10, (3,)) or "
                        "randint(high=10, size=(3,))")
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got "
                        f"{len(args) + 1} arguments")
    low, high = int(low), int(high)
    if high <= low:
        raise RuntimeError(f"randint: empty range [{low}, {high}); high must exceed low")
    shape = _size("randint", (size,) if isinstance(size, (tuple, list)) else (size,))
    stream = torch_stream(generator)
    if stream is not None:
        if not -2 ** 63 <= low < high <= 2 ** 63:
            raise RuntimeError(f"randint: [{low}, {high}) is outside int64")
        arr = stream.randint(math.prod(shape), low, high).reshape(shape)
        return _make(arr, dtype, requires_grad, device, "randint")
    arr = get_rng(generator).integers(low, high, shape, dtype=np.int64)
    return _make(arr, dtype, requires_grad, device, "randint")


@_out_arg
def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """A random permutation of ``0 .. n-1`` (int64)."""
    stream = torch_stream(generator)
    arr = get_rng(generator).permutation(int(n)).astype(np.int64) if stream is None else \
        stream.randperm(int(n))
    return _make(arr, dtype, requires_grad, device, "randperm")


@_out_arg
def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False, out=None):
    """Normal samples: elementwise from tensors ``mean``/``std``, or ``size`` of them.

    The result carries no gradient (sample the noise and scale it, ``mean + std * randn``,
    to differentiate through the sampling).
    """
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal: std must be >= 0")
    if size is not None:
        shape = _size("normal", (size,) if isinstance(size, (tuple, list)) else (size,))
    else:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    tensors = [x.data.dtype for x in (mean, std) if isinstance(x, Tensor)]
    d = as_dtype(dtype, "normal") or (tensors[0] if tensors else get_default_dtype())
    stream = torch_stream(generator)
    arr = get_rng(generator).normal(m, s, shape) if stream is None else \
        _torch_normal(stream, m, s, shape, np.dtype(d))
    return _make(np.asarray(arr).astype(d, copy=False), None, requires_grad, device, "normal")


def _torch_normal(stream, m, s, shape, d):
    """PyTorch's normal: ``normal_(mean, std)`` for numbers; with a tensor std,
    ``normal_(0, 1) * std + mean``; with a tensor mean only, ``normal_(0, std) + mean``
    (each step rounded in the dtype)."""
    _torch_float("normal", d)
    n, t = math.prod(shape), d.type
    if np.ndim(s) == 0 and np.ndim(m) == 0:
        return stream.normal(n, d, float(m), float(s)).reshape(shape)
    if np.ndim(s) == 0:
        return stream.normal(n, d, 0.0, float(s)).reshape(shape) + np.asarray(m, d)
    z = stream.normal(n, d).reshape(shape) * np.asarray(s, d)
    return z + (np.asarray(m, d) if np.ndim(m) else t(m))


class _DistributionError(ZeroinError, ValueError):
    """Probabilities that do not make a distribution (PyTorch raises RuntimeError)."""


_DtypeError = DtypeError      # one class for dtype refusals (zeroin.errors)


def _probs(op, x):
    """The probabilities as a float array (their values are checked by each caller)."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind != "f":
        raise _DtypeError(f"{op}: expects floating-point probabilities, got dtype {a.dtype}; "
                        f"convert them first, e.g. p.double()")
    return a


@_out_arg
def multinomial(input, num_samples, replacement=False, *, generator=None,  # noqa: A002
                out=None):
    """Indices drawn from the categories of each row of ``input`` (weights >= 0, not
    necessarily summing to 1): shape (num_samples,) for 1-D input, (n, num_samples) for
    2-D; int64. Without ``replacement`` each index appears at most once per row (zero
    weights come last, as in PyTorch)."""
    p = _probs("multinomial", input)
    if p.ndim not in (1, 2):
        raise ShapeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {p.shape}; "
                         f"give one row of weights (k,) or a batch of rows (n, k)")
    k = p.shape[-1]
    if isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or \
            num_samples <= 0:
        raise _DistributionError(f"multinomial: cannot sample n_sample <= 0 samples: num_samples must "
                         f"be a whole number >= 1, got {num_samples!r}")
    if not replacement and num_samples > k:
        raise _DistributionError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                         f"without replacement: {num_samples} from {k} categories; pass "
                         f"replacement=True or ask for at most {k}")
    rows = p.reshape(-1, k).astype(np.float64)
    if rows.size and not (np.all(np.isfinite(rows)) and rows.min() >= 0):
        raise _DistributionError("multinomial: probability tensor contains either `inf`, "
                                 "`nan` or element < 0")
    total = rows.sum(axis=1)
    if np.any(total <= 0) or (k == 0 and len(rows)):
        raise _DistributionError(f"multinomial: invalid multinomial distribution (sum of "
                                 f"probabilities <= 0) in row {int(np.argmax(total <= 0))}")
    stream = torch_stream(generator)
    if stream is not None:
        _torch_float("multinomial", p.dtype)
        idx = stream.multinomial(p.reshape(-1, k), num_samples, replacement)
        return _leaf(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)))
    rng = get_rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1) / total[:, None]
        u = rng.random((len(rows), num_samples))
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)]) \
            if len(rows) else np.zeros((0, num_samples), np.int64)
        idx = np.minimum(idx, k - 1)
    else:           # exponential race: the same law as drawing one by one, renormalising
        with np.errstate(divide="ignore"):
            keys = rng.standard_exponential(rows.shape) / rows
        idx = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    return _leaf(idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,)))


@_out_arg
def bernoulli(input, p=None, *, generator=None, out=None):  # noqa: A002
    """1 with probability ``input`` (or ``p`` if given), else 0: same shape and dtype as
    ``input``."""
    x = input if isinstance(input, Tensor) else tensor(input)
    probs = _probs("bernoulli", x) if p is None else \
        np.broadcast_to(np.asarray(p.data if isinstance(p, Tensor) else p, np.float64),
                        x.shape)
    if probs.size and not (probs.min() >= 0 and probs.max() <= 1):    # NaN fails too
        raise _DistributionError(f"bernoulli: probabilities must be in [0, 1], got values "
                                 f"from {probs.min():g} to {probs.max():g}; apply sigmoid to "
                                 f"scores first")
    stream = torch_stream(generator)
    if stream is None:
        draws = get_rng(generator).random(x.shape) < probs
    else:                       # a number p draws float64, a tensor p in its own dtype
        draws = stream.bernoulli(x.data if p is None else p.data if isinstance(p, Tensor)
                                 else float(p), x.shape)
    return _leaf(draws.astype(x.dtype))


# --- from existing data ------------------------------------------------------------------------

def from_numpy(ndarray):
    """A tensor sharing ``ndarray``'s memory and dtype (changes show in both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got "
                        f"{type(ndarray).__name__}; use zeroin.tensor(data) for other data")
    if ndarray.dtype.kind in "OUSV":
        raise TypeError(f"from_numpy: cannot convert an array of dtype {ndarray.dtype}; "
                        f"only numeric and bool arrays")
    return _leaf(ndarray)


def as_tensor(data, dtype=None, device=None):
    """``data`` as a tensor, sharing memory when it already is one (or a NumPy array) of
    the requested dtype; otherwise a copy as :func:`zeroin.tensor`."""
    as_device(device, "as_tensor")
    d = as_dtype(dtype, "as_tensor")
    if isinstance(data, Tensor):
        return data if d is None or data.dtype == d else data.astype(d)
    if isinstance(data, np.ndarray) and (d is None or data.dtype == d) and \
            data.dtype.kind not in "OUSV":
        return _leaf(data)
    return tensor(data, dtype=d)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` as a tensor, sharing memory where it can (PyTorch's ``asarray``): a tensor
    of the requested dtype is returned as it is, a NumPy array (or an object with
    ``__array__``) is wrapped without a copy. ``copy=True`` always
    copies (a tensor's copy is recorded, as ``clone``); ``copy=False`` refuses to copy
    (a dtype change, a Python list). ``requires_grad`` defaults to the tensor's own."""
    as_device(device, "asarray")
    d = as_dtype(dtype, "asarray")
    if isinstance(obj, Tensor):
        out = _asarray_tensor(obj, d, copy, requires_grad)
    else:
        if hasattr(obj, "__array__") and not isinstance(obj, (np.ndarray, np.generic)):
            obj = np.asarray(obj)                       # shares memory where it can
        if isinstance(obj, np.ndarray) and obj.dtype.kind not in "OUSV":
            if d is not None and obj.dtype != d:
                _refuse_copy(copy, f"a NumPy array of dtype {obj.dtype} as dtype {d}")
                obj = obj.astype(d)
            elif copy:
                obj = obj.copy()
            out = _leaf(obj)
        else:
            _refuse_copy(copy, f"{a_type(obj)} (a new array is always made)")
            out = tensor(obj, dtype=d)
    if requires_grad and not out.requires_grad:
        out.requires_grad_()
    return out


def _refuse_copy(copy, what):
    if copy is False:
        raise ValueError(f"asarray: copy=False, but {what} can't be aliased without a copy; "
                         f"leave copy=None to copy when needed")


def _asarray_tensor(t, d, copy, requires_grad):
    if d is not None and t.dtype != d:
        _refuse_copy(copy, f"a tensor of dtype {t.dtype} as dtype {d}")
        return _leaf(t.data.astype(d))                  # a new leaf, as PyTorch
    if copy:
        out = t.clone()
        return out.detach() if requires_grad is False else out
    if requires_grad is None or bool(requires_grad) == t.requires_grad:
        return t
    return t.detach()                                   # shares memory; grad set after


def _typed(name, dt):
    def f(*data, **size):
        """Legacy PyTorch constructor: ``LongTensor([1, 2])``, ``FloatTensor(2, 3)``,
        ``FloatTensor(size=(2, 3))``, ``FloatTensor(x.size())`` (a ``Size`` is sizes, a
        tuple data, as in PyTorch) or ``FloatTensor()`` (empty, of shape (0,), as
        PyTorch's; not a 0-d zero)."""
        if size:
            if data or set(size) != {"size"}:
                raise TypeError(f"{name}: takes data, sizes, or size= alone, as in PyTorch "
                                f"(got {len(data)} positional and keywords {sorted(size)})")
            return zeros(size_arg(name, size["size"]), dtype=dt)
        if not data:
            return zeros(0, dtype=dt)
        if len(data) == 1 and type(data[0]) is Size:    # FloatTensor(std.size()): sizes
            return zeros(*data[0], dtype=dt)
        if len(data) == 1 and not isinstance(data[0], numbers.Integral):
            return tensor(data[0].data if isinstance(data[0], Tensor) else data[0], dtype=dt)
        return zeros(*data, dtype=dt)
    f.__name__ = f.__qualname__ = name
    f.legacy_dtype = np.dtype(dt)       # what Tensor.type(zeroin.FloatTensor) casts to
    return f


FloatTensor = _typed("FloatTensor", np.float32)
DoubleTensor = _typed("DoubleTensor", np.float64)
LongTensor = _typed("LongTensor", np.int64)
IntTensor = _typed("IntTensor", np.int32)
BoolTensor = _typed("BoolTensor", np.bool_)
