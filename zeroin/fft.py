"""zeroin.fft: PyTorch's ``torch.fft`` on NumPy's pocketfft, differentiable.

Two ops carry every transform: :class:`FFTOp`, the complex DFT over some dimensions (its
matrix is symmetric, so its rule for reals is the same transform of ``g``; the engine
conjugates it into PyTorch's adjoint), and :class:`IRFFTOp`, the one-sided inverse with a
real output, whose rule is PyTorch's (an rfft of ``g`` with the bins that stand for two
doubled). The rest is composed of them and of differentiable slicing, padding and casts:
``rfft`` is the first ``n // 2 + 1`` bins of the complex transform of the real input (its
gradient the exact adjoint, as PyTorch's), ``hfft`` an irfft of the conjugate, ``ihfft``
the conjugate of an rfft. dtypes as PyTorch's: float32 in, complex64 out; integers take
the default float dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops as _ops
from ._tensor import Tensor, _array_of, _leaf, get_default_dtype
from .function import Function, apply

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2",
           "irfft2", "rfftn", "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift",
           "ifftshift"]

_SWAP = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


class FFTOp(Function):
    """The complex DFT (``inverse``: its inverse) over ``dims`` with NumPy's ``norm``."""
    __slots__ = ("dims", "inverse", "norm")
    name = "fft_c2c"

    def __init__(self, dims, inverse, norm):
        self.dims, self.inverse, self.norm = dims, inverse, norm

    def forward(self, x):
        f = np.fft.ifftn if self.inverse else np.fft.fftn
        return f(x, axes=self.dims, norm=self.norm).astype(x.dtype, copy=False)

    def backward(self, xp, g, out, x):
        # the DFT matrix is symmetric: the transpose is the same transform (the engine
        # conjugates it into the adjoint, PyTorch's gradient)
        if isinstance(g, Tensor):
            return apply(FFTOp(self.dims, self.inverse, self.norm), (g,))
        return self.forward(np.asarray(g, dtype=x.dtype))


class IRFFTOp(Function):
    """The inverse of a one-sided spectrum along ``dim`` (Hermitian completed), ``n`` real
    points, NumPy's ``norm``; its rule is PyTorch's c2r backward."""
    __slots__ = ("dim", "n", "norm")
    name = "fft_c2r"

    def __init__(self, dim, n, norm):
        self.dim, self.n, self.norm = dim, n, norm

    def forward(self, x):
        out = np.fft.irfft(x, self.n, axis=self.dim, norm=self.norm)
        return out.astype(x.real.dtype, copy=False)

    def backward(self, xp, g, out, x):
        # PyTorch's: rfft(g) with the forward's scale, and the bins whose mirror image
        # lies outside the one-sided range doubled (they stood for two)
        norm = _SWAP[self.norm]
        m = x.shape[self.dim]
        w = np.ones(m, x.real.dtype)
        w[1:1 + self.n - m] = 2
        w = w.reshape((-1,) + (1,) * (x.ndim - 1 - self.dim % x.ndim))
        if isinstance(g, Tensor):
            return rfft(g, self.n, self.dim, norm) * _leaf(w)
        return np.fft.rfft(g, self.n, axis=self.dim, norm=norm).astype(x.dtype) * w


# --- arguments ---------------------------------------------------------------------------

def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _SWAP:
        raise RuntimeError(f'Invalid normalization mode: "{norm}"; use "backward" (the '
                           f'default), "ortho" or "forward"')
    return norm


def _dim(op, d, ndim):
    if not -max(ndim, 1) <= d < max(ndim, 1):
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
    return d % max(ndim, 1)


def _dims(op, x, s, dim):
    """PyTorch's (sizes, dims) of an n-dimensional transform: ``dim`` None means the last
    ``len(s)`` dimensions, or all of them; a size of -1 (or None) keeps that dimension."""
    if isinstance(dim, numbers.Integral):
        dim = (dim,)
    if s is not None and isinstance(s, numbers.Integral):
        s = (s,)
    if dim is None:
        if s is not None and len(s) > x.ndim:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only "
                               f"has {x.ndim} dimensions.")
        dim = range(x.ndim - len(s), x.ndim) if s is not None else range(x.ndim)
    dims = tuple(_dim(op, int(d), x.ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"{op}: FFT dims must be unique, got {tuple(dim)}")
    if s is None:
        s = [None] * len(dims)
    if len(s) != len(dims):
        raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same "
                           f"length (got s={tuple(s)} and dim={tuple(dim)})")
    sizes = tuple(x.shape[d] if n is None or n == -1 else int(n) for d, n in zip(dims, s))
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    return sizes, dims


def _resize(x, dim, n):
    """``x`` cropped or zero-padded to ``n`` along ``dim`` (differentiable)."""
    m = x.shape[dim]
    if n == m:
        return x
    if n < m:
        return x[(slice(None),) * dim + (slice(0, n),)]
    shape = list(x.shape)
    shape[dim] = n - m
    return _ops.concatenate([x, _leaf(np.zeros(shape, x.dtype))], dim)


def _floating(x):
    x = _ops._t(x)
    if x.dtype.kind in "biu":
        x = x.to(get_default_dtype())
    return x


def _complex(x):
    x = _floating(x)
    return x if x.dtype.kind == "c" else x.to(np.result_type(x.dtype, np.complex64))


def _real_input(op, x):
    x = _floating(x)
    if x.dtype.kind == "c":
        raise RuntimeError(f"{op} expects a real input tensor, but got {x.dtype}; take "
                           f".real or .abs() first, or use fft for a complex input")
    return x


# --- complex to complex --------------------------------------------------------------------

def _c2c(op, input, s, dim, norm, inverse):  # noqa: A002
    x = _complex(input)
    sizes, dims = _dims(op, x, s, dim)
    norm = _norm(norm)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    return apply(FFTOp(dims, inverse, norm), (x,))


def fft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The one-dimensional discrete Fourier transform along ``dim`` (``n`` points: the
    input cropped or zero-padded); ``norm`` "backward" (none), "ortho" or "forward" (1/n)."""
    return _c2c("fft", input, None if n is None else (n,), (dim,), norm, False)


def ifft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The inverse of :func:`fft` (scaled by 1/n under the default norm)."""
    return _c2c("ifft", input, None if n is None else (n,), (dim,), norm, True)


def fftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The n-dimensional DFT over ``dim`` (all dimensions, or the last ``len(s)``)."""
    return _c2c("fftn", input, s, dim, norm, False)


def ifftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The inverse of :func:`fftn`."""
    return _c2c("ifftn", input, s, dim, norm, True)


def fft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """The two-dimensional DFT over the last two dimensions."""
    return _c2c("fft2", input, s, dim, norm, False)


def ifft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """The inverse of :func:`fft2`."""
    return _c2c("ifft2", input, s, dim, norm, True)


# --- real to complex and back -----------------------------------------------------------------

def _r2c(op, input, s, dim, norm):  # noqa: A002
    x = _real_input(op, input)
    sizes, dims = _dims(op, x, s, dim)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    y = apply(FFTOp(dims, False, _norm(norm)), (_complex(x),))
    return y[(slice(None),) * dims[-1] + (slice(0, sizes[-1] // 2 + 1),)]


def _c2r(op, input, s, dim, norm):  # noqa: A002
    x = _complex(input)
    if s is not None and not isinstance(s, numbers.Integral):
        s = tuple(s)
    sizes, dims = _dims(op, x, s, dim)
    norm = _norm(norm)
    last = dims[-1]
    n = sizes[-1] if s is not None and s[-1] not in (None, -1) else 2 * (x.shape[last] - 1)
    if n < 1:
        raise RuntimeError(f"{op}: Invalid number of data points ({n}) specified")
    for d, m in zip(dims[:-1], sizes[:-1]):
        x = _resize(x, d, m)
    if len(dims) > 1:
        x = apply(FFTOp(dims[:-1], True, norm), (x,))
    return apply(IRFFTOp(last, n, norm), (_resize(x, last, n // 2 + 1),))


def rfft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The DFT of a real input along ``dim``: its ``n // 2 + 1`` non-negative frequencies."""
    return _r2c("rfft", input, None if n is None else (n,), (dim,), norm)


def irfft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The real inverse of :func:`rfft`: ``n`` points (default ``2 * (m - 1)``)."""
    return _c2r("irfft", input, None if n is None else (n,), (dim,), norm)


def rfftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The n-dimensional DFT of a real input, one-sided in the last of ``dim``."""
    return _r2c("rfftn", input, s, dim, norm)


def irfftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The real inverse of :func:`rfftn`."""
    return _c2r("irfftn", input, s, dim, norm)


def rfft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """:func:`rfftn` over the last two dimensions."""
    return _r2c("rfft2", input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """:func:`irfftn` over the last two dimensions."""
    return _c2r("irfft2", input, s, dim, norm)


def hfft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The DFT of a Hermitian-symmetric signal given by its one-sided half: ``n`` real
    points (PyTorch's: an irfft of the conjugate with the forward's scale)."""
    return _c2r("hfft", _complex(input).conj(), None if n is None else (n,), (dim,),
                _SWAP[_norm(norm)])


def ihfft(input, n=None, dim=-1, norm=None):  # noqa: A002
    """The inverse of :func:`hfft` of a real input: the conjugate of an rfft with the
    inverse's scale."""
    return _r2c("ihfft", input, None if n is None else (n,), (dim,), _SWAP[_norm(norm)]).conj()


# --- frequencies and shifts --------------------------------------------------------------------

def _freq_dtype(dtype):
    from .dtypes import as_dtype
    return get_default_dtype() if dtype is None else as_dtype(dtype, "fftfreq")


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **_):
    """The sample frequencies of an n-point DFT: ``[0, 1, ..., -1] / (n * d)``."""
    v = np.fft.fftfreq(int(n), d).astype(_freq_dtype(dtype))
    return _leaf(v).requires_grad_(requires_grad)


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False, **_):
    """The sample frequencies of :func:`rfft`: ``[0, 1, ..., n // 2] / (n * d)``."""
    v = np.fft.rfftfreq(int(n), d).astype(_freq_dtype(dtype))
    return _leaf(v).requires_grad_(requires_grad)


def _shift(input, dim, sign):  # noqa: A002
    x = _ops._t(input)
    dims = range(x.ndim) if dim is None else (dim,) if isinstance(dim, numbers.Integral) \
        else dim
    dims = [_dim("fftshift", int(d), x.ndim) for d in dims]
    if not dims:
        return x
    return x.roll([sign * (x.shape[d] // 2) for d in dims], dims)


def fftshift(input, dim=None):  # noqa: A002
    """The zero frequency moved to the centre (a roll by n // 2 along ``dim``, all by
    default)."""
    return _shift(input, dim, 1)


def ifftshift(input, dim=None):  # noqa: A002
    """The inverse of :func:`fftshift`."""
    return _shift(input, dim, -1)
