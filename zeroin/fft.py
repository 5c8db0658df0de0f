"""zeroin.fft: PyTorch's ``torch.fft`` on NumPy's pocketfft, differentiable.

Two ops carry every transform: :class:`FFTOp`, the complex DFT over some dimensions (its
matrix is symmetric, so its rule for reals is the same transform of ``g``; the engine
conjugates it into PyTorch's adjoint), and :class:`IRFFTOp`, the one-sided inverse with a
real output, whose rule is PyTorch's (an rfft of ``g`` with the bins that stand for two
doubled). The rest is composed of them and of differentiable slicing, padding and casts:
``rfft`` is the first ``n // 2 + 1`` bins of the complex transform of the real input (its
gradient the exact adjoint, as PyTorch's), ``hfft`` (``hfft2``, ``hfftn``) an irfft of the
conjugate, ``ihfft`` (``ihfft2``, ``ihfftn``) the conjugate of an rfft. dtypes as PyTorch's: float32 in, complex64 out; integers take
the default float dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import ops as _ops
from ._tensor import Tensor, _array_of, _leaf, get_default_dtype
from .function import Function, apply

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2",
           "irfft2", "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift", "stft", "istft"]

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


def hfftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The n-dimensional :func:`hfft`: the real signal whose :func:`ihfftn` is ``input``
    (one-sided in the last of ``dim``; PyTorch's: an irfftn of the conjugate with the
    forward's scale)."""
    return _c2r("hfftn", _complex(input).conj(), s, dim, _SWAP[_norm(norm)])


def ihfftn(input, s=None, dim=None, norm=None):  # noqa: A002
    """The n-dimensional :func:`ihfft` of a real input: the conjugate of an rfftn with the
    inverse's scale."""
    return _r2c("ihfftn", input, s, dim, _SWAP[_norm(norm)]).conj()


def hfft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """:func:`hfftn` over the last two dimensions."""
    return _c2r("hfft2", _complex(input).conj(), s, dim, _SWAP[_norm(norm)])


def ihfft2(input, s=None, dim=(-2, -1), norm=None):  # noqa: A002
    """:func:`ihfftn` over the last two dimensions."""
    return _r2c("ihfft2", input, s, dim, _SWAP[_norm(norm)]).conj()


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


# --- short-time Fourier transforms (zeroin.stft, zeroin.istft) ---------------------------------

def _window(op, n_fft, hop_length, win_length, window, given):
    """PyTorch's defaults: hop n_fft // 4, a window of win_length (n_fft) ones, centred and
    zero-padded to n_fft; a missing window is warned about, as PyTorch does."""
    import warnings
    hop = n_fft // 4 if hop_length is None else int(hop_length)
    win = n_fft if win_length is None else int(win_length)
    if n_fft <= 0 or hop <= 0 or not 0 < win <= n_fft:
        raise RuntimeError(f"{op}: expected 0 < n_fft, 0 < hop_length and 0 < win_length <= "
                           f"n_fft, but got n_fft={n_fft}, hop_length={hop}, win_length={win}")
    if window is None:
        warnings.warn(f"{op}: a window was not provided; a rectangular window will be applied"
                      + (", which is known to cause spectral leakage (use e.g. "
                         "zeroin.hann_window)" if op == "stft" else
                         "; give the window stft used, to make the inversion lossless")
                      + f". To silence this, give window=zeroin.ones({n_fft})",
                      UserWarning, stacklevel=3)
        w = _leaf(np.ones(win, given))
    else:
        w = _ops._t(window)
        if w.ndim != 1 or w.shape[0] != win:
            raise RuntimeError(f"{op}: expected a 1D window tensor of size equal to "
                               f"win_length={win}, but got window with size "
                               f"{tuple(w.shape)}")
    left = (n_fft - win) // 2
    if left or win != n_fft:
        w = _ops.concatenate([_leaf(np.zeros(left, w.dtype)), w,
                              _leaf(np.zeros(n_fft - win - left, w.dtype))])
    return hop, w


def _frame_index(n_frames, hop, n_fft):
    return np.arange(n_frames)[:, None] * hop + np.arange(n_fft)


def stft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,  # noqa: A002
         pad_mode="reflect", normalized=False, onesided=None, return_complex=None,
         align_to_window=None):
    """PyTorch's short-time Fourier transform of a 1-D (L) or 2-D (B, L) signal:
    (B, freq, frames) complex, differentiable (frames, window and rfft composed)."""
    x = _floating(input)
    complex_in = x.dtype.kind == "c" or (window is not None and _ops._t(window).is_complex())
    if return_complex is None and not complex_in:
        raise RuntimeError("stft requires the return_complex parameter be given for real "
                           "inputs; give return_complex=True")
    if align_to_window:
        raise NotImplementedError("stft: align_to_window=True is not supported in zeroin")
    if x.ndim not in (1, 2):
        raise RuntimeError(f"stft: expected a 1D or 2D tensor, got shape {tuple(x.shape)}")
    hop, w = _window("stft", int(n_fft), hop_length, win_length, window, x.real.dtype)
    batched = x.ndim == 2
    x = x if batched else x.unsqueeze(0)
    if center:
        from .nn import functional as F
        pad = int(n_fft) // 2
        x = F.pad(x.unsqueeze(1), (pad, pad), mode=pad_mode).squeeze(1)
    if not 0 < n_fft <= x.shape[-1]:
        raise RuntimeError(f"stft: expected 0 < n_fft <= {x.shape[-1]} (the padded length), "
                           f"but got n_fft={n_fft}")
    onesided = not complex_in if onesided is None else onesided
    if onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    frames = x[:, _frame_index(1 + (x.shape[-1] - n_fft) // hop, hop, n_fft)] * w
    norm = "ortho" if normalized else "backward"
    spec = (rfft(frames, norm=norm) if onesided else fft(frames, norm=norm)).transpose(-1, -2)
    spec = spec if batched else spec.squeeze(0)
    if return_complex is False:
        import warnings
        warnings.warn("stft with return_complex=False is deprecated (as in PyTorch); give "
                      "return_complex=True and call view_as_real on the result",
                      UserWarning, stacklevel=2)
        from ._complex import view_as_real
        return view_as_real(spec)
    return spec


def istft(input, n_fft, hop_length=None, win_length=None, window=None, center=True,  # noqa: A002
          normalized=False, onesided=None, length=None, return_complex=False):
    """PyTorch's inverse of :func:`stft` (overlap-add of the frames, divided by the summed
    squared window), differentiable."""
    z = _ops._t(input)
    if z.dtype.kind != "c":
        raise RuntimeError("istft requires a complex-valued input tensor; give stft's "
                           "return_complex=True output (or view_as_complex of the old form)")
    if z.ndim not in (2, 3):
        raise RuntimeError(f"istft: expected a tensor of 2 or 3 dimensions of complex dtype, "
                           f"got shape {tuple(z.shape)}")
    hop, w = _window("istft", int(n_fft), hop_length, win_length, window, z.real.dtype)
    batched = z.ndim == 3
    z = z if batched else z.unsqueeze(0)
    n_freq, n_frames = z.shape[-2:]
    onesided = n_freq != n_fft if onesided is None else onesided
    if n_freq != (n_fft // 2 + 1 if onesided else n_fft):
        raise RuntimeError(f"istft: expected the frequency dimension (-2) of input to be "
                           f"{n_fft // 2 + 1 if onesided else n_fft} (onesided={onesided}), "
                           f"got {n_freq}")
    if onesided and return_complex:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    norm = "ortho" if normalized else "backward"
    zt = z.transpose(-1, -2)
    if return_complex:
        frames = ifft(zt, n_fft, norm=norm)
    else:       # a real signal: the one-sided half only, as PyTorch's (its gradient too)
        frames = irfft(zt[..., :n_fft // 2 + 1], n_fft, norm=norm)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    idx = _frame_index(n_frames, hop, n_fft).reshape(-1)
    y = _leaf(np.zeros((z.shape[0], total), frames.dtype)).index_add(
        -1, _leaf(idx), frames.reshape(z.shape[0], -1))         # overlap-add
    env = np.zeros(total, w.dtype)
    np.add.at(env, idx, np.tile(_array_of(w) ** 2, n_frames))
    start = n_fft // 2 if center else 0
    end = total - (n_fft // 2 if center else 0) if length is None else start + int(length)
    y, env = y[:, start:end], env[start:end]
    if env.size and np.abs(env).min() < 1e-11:
        raise RuntimeError("istft: window overlap add min: the squared window sums to 0 "
                           "somewhere (hop_length too large for the window?)")
    y = y / _leaf(env)
    if length is not None and y.shape[-1] < length:
        import warnings
        warnings.warn("istft: the length of signal is shorter than the length parameter. "
                      "Result is being padded with zeros in the tail. Please check your "
                      "center and hop_length settings", UserWarning, stacklevel=2)
        y = _ops.concatenate([y, _leaf(np.zeros((y.shape[0], length - y.shape[-1]),
                                                y.dtype))], -1)
    return y if batched else y.squeeze(0)
