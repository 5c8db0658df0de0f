"""PyTorch's top-level data functions: ``histogram`` / ``histogramdd`` (NumPy's counting,
PyTorch's bin edges and return types), ``gradient`` (differentiable finite differences),
``poisson`` / ``binomial`` sampling, and the buffer bridges ``frombuffer``,
``from_dlpack`` / ``to_dlpack``."""
from __future__ import annotations

import builtins
import numbers
import warnings
from typing import NamedTuple

import numpy as np

from . import ops as _ops
from ._tensor import Tensor, _leaf, get_default_dtype
from ._tensor_api import _export, _method
from .dtypes import as_dtype
from .function import no_derivative


def _t(x):
    return _ops._t(x)


# --- histograms ---------------------------------------------------------------------------

class histogram_result(NamedTuple):
    """``(hist, bin_edges)``, as PyTorch's ``torch.return_types.histogram``."""
    hist: Tensor
    bin_edges: Tensor


class histogramdd_result(NamedTuple):
    """``(hist, bin_edges)`` with one edges tensor per dimension (a tuple), as PyTorch's
    ``torch.return_types.histogramdd``."""
    hist: Tensor
    bin_edges: tuple


def _float_input(name, x):
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{name}: input has dtype {x.dtype}; {name} takes only "
                                  f"floating-point tensors, as in PyTorch: convert first, "
                                  f"e.g. x.double()")


def _edges(name, col, n, lo_hi, dtype):
    """``n`` equal bins over ``lo_hi`` (else the data's range, widened by 0.5 when it is one
    point; (0, 1) when empty), as PyTorch and NumPy."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
        raise RuntimeError(f"{name}: bins must be a positive int, got {n!r}")
    if lo_hi is None:
        lo, hi = (float(col.min()), float(col.max())) if col.size else (0.0, 1.0)
    else:
        lo, hi = (float(v) for v in lo_hi)
        if lo > hi:
            raise RuntimeError(f"{name}: min should not exceed max, but got min {lo:g} max "
                               f"{hi:g}; pass range=(low, high)")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"{name}: range of [{lo}, {hi}] is not finite")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, n + 1).astype(dtype)


def _weights(name, x, weight, shape):
    if weight is None:
        return None
    w = _t(weight)
    if tuple(w.shape) != tuple(shape):
        raise RuntimeError(f"{name}: weight should have the same shape as the input (without "
                           f"its last dimension for histogramdd): {tuple(shape)}, got "
                           f"{tuple(w.shape)}")
    if w.dtype != x.dtype:
        raise RuntimeError(f"{name}: weight has dtype {w.dtype} but input {x.dtype}; pass "
                           f"weight.to(input.dtype)")
    return w.data.reshape(-1)


def _no_grad(op, array, x):
    """``array`` (in ``x``'s dtype) as a result that requires grad when ``x`` does, whose
    backward raises (PyTorch's: the derivative is not implemented)."""
    return no_derivative(op, lambda a: array.astype(x.dtype), x)


@_export
@_method()
def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """The counts (or summed ``weight``; a density with ``density``) of the elements of
    ``input`` in ``bins`` equal bins over ``range`` (default: min to max), or between the
    edges of a 1-D tensor ``bins``: ``(hist, bin_edges)``. The last bin includes its right
    edge. No gradient."""
    x = _t(input)
    _float_input("histogram", x)
    if isinstance(bins, Tensor):
        if bins.ndim != 1 or bins.shape[0] < 2:
            raise RuntimeError(f"histogram: bins must be a 1-D tensor of at least 2 edges, "
                               f"got shape {tuple(bins.shape)}")
        edges = bins.data.astype(x.dtype)
    else:
        edges = _edges("histogram", x.data, bins, range, x.dtype)
    w = _weights("histogram", x, weight, x.shape)
    hist, _ = np.histogram(x.data.reshape(-1), edges, weights=w, density=density)
    return histogram_result(_no_grad("histogram", hist, x), _no_grad("histogram", edges, x))


@_export
def histogramdd(input, bins, *, range=None, weight=None, density=False):  # noqa: A002
    """The multi-dimensional histogram of the points ``input`` (..., D): ``bins`` an int, D
    ints or D 1-D edge tensors; ``range`` a flat list (min0, max0, min1, max1, ...).
    Returns ``(hist, bin_edges)``, the edges a tuple of D tensors. No derivative."""
    x = _t(input)
    _float_input("histogramdd", x)
    if x.ndim < 2:
        raise RuntimeError(f"histogramdd: input tensor should have at least 2 dimensions (the "
                           f"last one the coordinates), got shape {tuple(x.shape)}")
    d = x.shape[-1]
    pts = x.data.reshape(-1, d)
    nbins = [bins] * d if isinstance(bins, numbers.Integral) else list(bins)
    if len(nbins) != d:
        raise RuntimeError(f"histogramdd: The size of bins must be equal to the innermost "
                           f"dimension of the input ({d}), got {len(nbins)}")
    if range is not None and len(range) != 2 * d:
        raise RuntimeError(f"histogramdd: range should have 2 * {d} elements (min, max per "
                           f"dimension), got {len(range)}")
    edges = []
    for i, b in enumerate(nbins):
        if isinstance(b, Tensor):
            edges.append(b.data.astype(x.dtype))
        else:
            lo_hi = None if range is None else range[2 * i:2 * i + 2]
            edges.append(_edges("histogramdd", pts[:, i], b, lo_hi, x.dtype))
    w = _weights("histogramdd", x, weight, x.shape[:-1])
    hist, _ = np.histogramdd(pts, edges, weights=w, density=density)
    return histogramdd_result(_no_grad("histogramdd", hist, x),
                              tuple(_no_grad("histogramdd", e, x) for e in edges))


# --- gradient -----------------------------------------------------------------------------

def _along(x, d, start, stop):
    idx = [slice(None)] * x.ndim
    idx[d] = slice(start, stop)
    return x[tuple(idx)]


def _coef(c, x, d):
    """The tensor ``c`` (one value per position along ``d``) shaped to broadcast over ``x``."""
    shape = [1] * x.ndim
    shape[d] = -1
    return c.reshape(*shape)


def _gradient_1d(f, d, h, edge_order):
    """The derivative of ``f`` along ``d``: central differences inside, one-sided (first or
    second order) at the ends; ``h`` a spacing (float) or the coordinates (a 1-D tensor,
    differentiable, as PyTorch's)."""
    n = f.shape[d]
    if isinstance(h, Tensor):
        h = h.to(f.dtype)
        dx = h[1:] - h[:-1]
    else:
        dx = _leaf(np.full(n - 1, h, dtype=f.dtype))
    dx1, dx2 = dx[:-1], dx[1:]
    inner = (_coef(-dx2 / (dx1 * (dx1 + dx2)), f, d) * _along(f, d, 0, n - 2)
             + _coef((dx2 - dx1) / (dx1 * dx2), f, d) * _along(f, d, 1, n - 1)
             + _coef(dx1 / (dx2 * (dx1 + dx2)), f, d) * _along(f, d, 2, n))
    if edge_order == 1:
        first = (_along(f, d, 1, 2) - _along(f, d, 0, 1)) / dx[0]
        last = (_along(f, d, n - 1, n) - _along(f, d, n - 2, n - 1)) / dx[-1]
    else:
        a, b = dx[0], dx[1]
        first = (_along(f, d, 0, 1) * (-(2 * a + b) / (a * (a + b)))
                 + _along(f, d, 1, 2) * ((a + b) / (a * b))
                 + _along(f, d, 2, 3) * (-a / (b * (a + b))))
        a, b = dx[-2], dx[-1]
        last = (_along(f, d, n - 3, n - 2) * (b / (a * (a + b)))
                + _along(f, d, n - 2, n - 1) * (-(a + b) / (a * b))
                + _along(f, d, n - 1, n) * ((2 * b + a) / (b * (a + b))))
    return _ops.concatenate([first, inner, last], d)


def _spacings(x, spacing, dims):
    """One spacing per dim in ``dims``: a float, or the coordinates (a 1-D tensor)."""
    if spacing is None:
        return [1.0] * len(dims)
    if isinstance(spacing, Tensor) and spacing.ndim == 0 or isinstance(spacing, numbers.Number):
        return [float(spacing)] * len(dims)
    spacing = list(spacing)
    if len(spacing) != len(dims):
        raise RuntimeError(f"gradient: expected spacing to be unspecified, a scalar, or a list "
                           f"of length {len(dims)} (one per dim), but got a list of length "
                           f"{len(spacing)}")
    out = []
    for d, s in zip(dims, spacing):
        if isinstance(s, Tensor) and s.ndim == 1:
            if s.shape[0] != x.shape[d]:
                raise RuntimeError(f"gradient: the coordinates for dim {d} have {s.shape[0]} "
                                   f"values but that dimension has size {x.shape[d]}")
            out.append(s)
        else:
            out.append(float(s))
    return out


@_export
def gradient(input, *, spacing=None, dim=None, edge_order=1):  # noqa: A002
    """The derivative of the samples ``input`` along each dim of ``dim`` (default: all),
    as a tuple of tensors: central differences inside, one-sided differences of order
    ``edge_order`` (1 or 2) at the ends. ``spacing``: a scalar, one per dim, or the
    coordinates (1-D tensors). Differentiable in ``input``, as PyTorch."""
    x = _t(input)
    if edge_order not in (1, 2):
        raise RuntimeError(f"gradient: only supports edge_order=1 and edge_order=2, got "
                           f"{edge_order!r}")
    if x.dtype.kind != "f":
        x = x.to(get_default_dtype())
    dims = builtins.range(x.ndim) if dim is None else [dim] if isinstance(dim, int) else dim
    dims = [_ops._check_axis("gradient", x, d) for d in dims]
    for d in dims:
        if x.shape[d] < edge_order + 1:
            raise RuntimeError(f"gradient: expected each dimension size to be at least "
                               f"edge_order+1 = {edge_order + 1}, but dim {d} of shape "
                               f"{tuple(x.shape)} has {x.shape[d]}")
    return tuple(_gradient_1d(x, d, h, edge_order)
                 for d, h in zip(dims, _spacings(x, spacing, dims)))


# --- sampling -----------------------------------------------------------------------------

def _sampled(like, sample):
    """``sample`` as a tensor of ``like``'s dtype that requires grad when ``like`` does,
    with a zero gradient (PyTorch's for poisson and binomial)."""
    out = _leaf(sample.astype(like.dtype))
    if not like.requires_grad:
        return out
    return _ops.where(_leaf(np.zeros(like.shape, dtype=bool)), like, out)


@_export
def poisson(input, generator=None):  # noqa: A002
    """A Poisson sample for each element, ``input`` holding the rates (floating point, >= 0);
    the gradient is zero, as PyTorch."""
    from .random import get_rng
    x = _t(input)
    _float_input("poisson", x)
    if x.data.size and not (x.data >= 0).all():
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    return _sampled(x, get_rng(generator).poisson(x.data))


@_export
def binomial(count, prob, generator=None):
    """A Binomial(count, prob) sample for each element (``count`` and ``prob`` floating
    point, broadcast; prob clipped to [0, 1], negative counts give 0, as PyTorch); no
    derivative (backward raises, as PyTorch)."""
    from .random import get_rng
    n, p = _t(count), _t(prob)
    for what, v in (("count", n), ("prob", p)):
        if v.dtype.kind != "f":
            raise ValueError(f"binomial: only supports floating-point dtypes for {what}, got "
                             f"{v.dtype}; pass {what}.double()")
    shape = np.broadcast_shapes(n.shape, p.shape)
    trials = np.broadcast_to(np.maximum(np.floor(n.data), 0), shape).astype(np.int64)
    draws = get_rng(generator).binomial(trials, np.clip(np.broadcast_to(p.data, shape), 0, 1))
    return no_derivative("binomial", lambda a, b: draws.astype(n.dtype), n, p)


# --- buffers ------------------------------------------------------------------------------

@_export
def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor sharing the memory of a Python buffer (bytearray, memoryview, array...):
    ``count`` elements of ``dtype`` (-1: all) after ``offset`` bytes. A read-only buffer
    (bytes) warns, as PyTorch: writing to the tensor then fails."""
    d = as_dtype(dtype, "frombuffer")
    mem = memoryview(buffer)
    size = mem.nbytes
    if size == 0 or count == 0:
        raise ValueError(f"frombuffer: both buffer length ({size}) and count ({count}) must "
                         f"not be 0")
    if not 0 <= offset < size:
        raise ValueError(f"frombuffer: offset ({offset} bytes) must be non-negative and no "
                         f"greater than buffer length ({size} bytes) minus 1")
    if count < 0 and (size - offset) % d.itemsize:
        raise ValueError(f"frombuffer: buffer length ({size - offset} bytes) after offset "
                         f"({offset} bytes) must be a multiple of element size ({d.itemsize})")
    if count > 0 and count * d.itemsize > size - offset:
        raise ValueError(f"frombuffer: requested buffer length ({count} * {d.itemsize} bytes) "
                         f"after offset ({offset} bytes) must not be greater than actual "
                         f"buffer length ({size} bytes)")
    if mem.readonly:
        warnings.warn("frombuffer: the given buffer is not writable; the tensor shares its "
                      "memory, so writing to it will fail. Copy the buffer (bytearray(b)) "
                      "or the tensor (.clone()) to write.", UserWarning, stacklevel=2)
    arr = np.frombuffer(buffer, dtype=d, count=count, offset=offset)
    return _leaf(arr, requires_grad)


class _Capsule:
    """A DLPack capsule dressed as a producer, for ``np.from_dlpack``."""

    def __init__(self, capsule):
        self.capsule = capsule

    def __dlpack__(self, **kwargs):
        return self.capsule

    def __dlpack_device__(self):
        return (1, 0)           # kDLCPU


@_export
def from_dlpack(ext_tensor):
    """A tensor sharing the memory of a DLPack producer on the CPU (a NumPy array, a
    PyTorch CPU tensor...) or of a capsule from :func:`to_dlpack`."""
    src = ext_tensor if hasattr(ext_tensor, "__dlpack__") else _Capsule(ext_tensor)
    try:
        arr = np.from_dlpack(src)
    except (BufferError, TypeError, RuntimeError) as e:
        raise RuntimeError(f"from_dlpack: cannot take this {type(ext_tensor).__name__} "
                           f"(zeroin takes CPU memory only): {e}") from None
    return _leaf(arr)


@_export
def to_dlpack(tensor):
    """A DLPack capsule of the tensor's memory (shared), for another library's
    ``from_dlpack``."""
    return _t(tensor).data.__dlpack__()


def _dlpack(self, *, stream=None, **kwargs):
    return self.data.__dlpack__(stream=stream, **kwargs)


Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = lambda self: (1, 0)      # kDLCPU, device 0
