"""Initialisers: the first guess of every weight, filled in place.

Gradient descent starts from a guess, and the guess matters: all zeros makes every hidden
unit identical forever; weights that are too small make the signal (and the gradient)
vanish layer by layer; too large ones saturate or explode. Xavier (Glorot) keeps the
variance of activations roughly constant through tanh/sigmoid layers, He (Kaiming) does
the same for ReLU layers. ``docs/initialisation.md`` measures the difference.

Every function takes a tensor (or array), fills it in place without changing its dtype,
uses :func:`zeroin.random.get_rng` (or ``rng=``) and returns the tensor. Complex tensors
are filled as PyTorch fills them (both parts drawn), except by trunc_normal_ and
orthogonal_ (PyTorch refuses them too).
"""
from __future__ import annotations

import math
import sys
import warnings

import numpy as np

from .._tensor import Tensor
from .._torch_rng import TorchStream, torch_fill
from ..random import get_rng, torch_stream

__all__ = ["calculate_gain", "zeros_", "ones_", "constant_", "eye_", "uniform_", "normal_",
           "trunc_normal_", "orthogonal_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_", "he_uniform_", "he_normal_", "dirac_", "sparse_"]


def _data(tensor, op, complex_ok=True, any_dtype=False):
    """The array to fill: floating point, or complex where PyTorch fills complex too; any
    dtype for the deterministic fills (``any_dtype``: zeros_, constant_, eye_...), as
    PyTorch's fill integer and bool tensors."""
    if isinstance(tensor, Tensor):
        arr = tensor.data
    elif isinstance(tensor, np.ndarray):
        arr = tensor
    else:
        raise TypeError(f"{op}: expected a Tensor or NumPy array, got {type(tensor).__name__}")
    if arr.dtype.kind == "c" and not complex_ok:
        raise NotImplementedError(f"{op}: complex tensors are not supported (as in PyTorch, "
                                  f"got {arr.dtype}); fill .real and .imag separately")
    if arr.dtype.kind not in "fc" and not any_dtype:
        raise TypeError(f"{op}: can only fill floating-point or complex tensors, got dtype "
                        f"{arr.dtype}")
    if not arr.flags.writeable:
        raise ValueError(f"{op}: the tensor's array is read-only")
    return arr


def _uniform(arr, g, a, b):
    """U(a, b) samples into ``arr``; a complex one gets them in both parts, as PyTorch's."""
    if isinstance(g, TorchStream):
        arr[...] = torch_fill(g, "uniform_", arr, a, b)
    elif arr.dtype.kind == "c":
        arr.real, arr.imag = g.uniform(a, b, arr.shape), g.uniform(a, b, arr.shape)
    else:
        _draw_into(arr, g.uniform, a, b)


def _normal(arr, g, mean, std):
    """N(mean, std**2) samples into ``arr``; a complex one gets N(mean, std**2 / 2) in each
    part (so E|z - mean|^2 = std**2), as PyTorch's."""
    if isinstance(g, TorchStream):
        arr[...] = torch_fill(g, "normal_", arr, mean, std)
    elif arr.dtype.kind == "c":
        std = std / math.sqrt(2)
        arr.real, arr.imag = g.normal(mean, std, arr.shape), g.normal(mean, std, arr.shape)
    else:
        _draw_into(arr, g.normal, mean, std)


_CHUNK = 1 << 18        # entries of a large array drawn at a time


def _draw_into(arr, draw, *args):
    """``arr[...] = draw(*args, arr.shape)``, a large C-contiguous array a chunk of its
    entries at a time. NumPy's generators draw the numbers in order however the calls are
    split, so the values and the generator's state after are the same, without a float64
    temporary of the whole array: U(a, b) into vgg16's 103M-entry float32 weight 8.6 ->
    0.9 s, N(0, 0.01) 4.0 -> 2.2 s (the pages of the temporary were most of it)."""
    if arr.size <= _CHUNK or not arr.flags.c_contiguous:
        arr[...] = draw(*args, arr.shape)
        return
    flat = arr.reshape(-1)
    for i in range(0, flat.size, _CHUNK):
        part = flat[i:i + _CHUNK]
        part[...] = draw(*args, part.size)


def _fill(tensor, values, op):
    arr = _data(tensor, op, any_dtype=True)
    arr[...] = values       # into an integer tensor truncated toward 0, as PyTorch's fill_
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activation variance steady through ``nonlinearity``.

    linear/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope**2)),
    selu 3/4 (PyTorch's values).
    """
    nl = str(nonlinearity).lower()
    if nl in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid",
              "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"):
        return 1                        # PyTorch's int (it prints as 1, not 1.0)
    if nl == "tanh":
        return 5.0 / 3
    if nl == "relu":
        return math.sqrt(2.0)
    if nl == "leaky_relu":
        if param is not None and (isinstance(param, bool) or
                                  not isinstance(param, (int, float))):
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nl == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; use one of "
                     f"'linear', 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'selu'")


def _fans(shape, op):
    if len(shape) < 2:
        raise ValueError(f"{op}: fan in and fan out need a tensor with at least 2 "
                         f"dimensions (out_features, in_features), got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: in and out features times the kernel size."""
    arr = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    return _fans(arr.shape, "_calculate_fan_in_and_fan_out")


def _rng(rng, generator, exact=False):
    """The NumPy generator to draw from; for the uniform and normal fills (``exact``) the
    PyTorch stream where ``generator`` (or the shared one) is on it."""
    stream = torch_stream(generator) if rng is None and exact else None
    if stream is not None:
        return stream
    code = sys._getframe(1).f_code
    return get_rng(generator if rng is None else rng, code.co_name)


def zeros_(tensor):
    """Fill with 0. (For weights a bad idea: every unit of a layer stays identical.)"""
    return _fill(tensor, 0, "zeros_")


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1, "ones_")


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def uniform_(tensor, a=0.0, b=1.0, rng=None, generator=None):
    """Fill with samples from U(a, b)."""
    if b < a:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    arr = _data(tensor, "uniform_")
    _uniform(arr, _rng(rng, generator, exact=True), a, b)
    return tensor


def normal_(tensor, mean=0.0, std=1.0, rng=None, generator=None):
    """Fill with samples from N(mean, std**2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    arr = _data(tensor, "normal_")
    _normal(arr, _rng(rng, generator, exact=True), mean, std)
    return tensor


def xavier_uniform_(tensor, gain=1.0, rng=None, generator=None):
    """Glorot/Xavier: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and of gradients about equal across layers for
    symmetric activations (tanh, sigmoid, none)."""
    arr = _data(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(arr.shape, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    _uniform(arr, _rng(rng, generator, exact=True), -a, a)
    return tensor


def xavier_normal_(tensor, gain=1.0, rng=None, generator=None):
    """Glorot/Xavier: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    arr = _data(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(arr.shape, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    _normal(arr, _rng(rng, generator, exact=True), 0.0, std)
    return tensor


def _empty(arr):
    """PyTorch's kaiming_*_ warn on a zero-element tensor and leave it (fans aside)."""
    if arr.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", UserWarning,
                      stacklevel=3)
        return True
    return False


def _kaiming_std(arr, a, mode, nonlinearity, op):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(arr.shape, op)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, generator=None):
    """He/Kaiming: U(-b, b) with b = gain * sqrt(3 / fan), gain from ``nonlinearity``.

    For ReLU layers (``nonlinearity='relu'``) this keeps the activations' second moment
    constant with depth. ``a`` is the negative slope for leaky_relu."""
    arr = _data(tensor, "kaiming_uniform_")
    if _empty(arr):
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(arr, a, mode, nonlinearity, "kaiming_uniform_")
    _uniform(arr, _rng(rng, generator, exact=True), -bound, bound)
    return tensor


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None, generator=None):
    """He/Kaiming: N(0, std**2) with std = gain / sqrt(fan)."""
    arr = _data(tensor, "kaiming_normal_")
    if _empty(arr):
        return tensor
    std = _kaiming_std(arr, a, mode, nonlinearity, "kaiming_normal_")
    _normal(arr, _rng(rng, generator, exact=True), 0.0, std)
    return tensor


def he_uniform_(tensor, rng=None):
    """He uniform for ReLU layers: ``kaiming_uniform_(t, nonlinearity='relu')``."""
    return kaiming_uniform_(tensor, nonlinearity="relu", rng=rng)


def he_normal_(tensor, rng=None):
    """He normal for ReLU layers: ``kaiming_normal_(t, nonlinearity='relu')``."""
    return kaiming_normal_(tensor, nonlinearity="relu", rng=rng)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal)."""
    arr = _data(tensor, "eye_", any_dtype=True)
    if arr.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {arr.shape}")
    arr[...] = np.eye(*arr.shape)
    return tensor


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: each of the first
    in_channels output channels (per group) copies its input channel unchanged."""
    arr = _data(tensor, "dirac_", any_dtype=True)
    if arr.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only tensors with 3, 4, or 5 dimensions are supported, "
                         f"got shape {arr.shape}")
    if arr.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({arr.shape[0]}) must be divisible by groups "
                         f"({groups})")
    per_group = arr.shape[0] // groups
    centre = tuple(k // 2 for k in arr.shape[2:])
    arr[...] = 0
    for g in range(groups):
        for d in range(min(per_group, arr.shape[1])):
            arr[(g * per_group + d, d) + centre] = 1
    return tensor


def sparse_(tensor, sparsity, std=0.01, rng=None, generator=None):
    """Fill a 2-D tensor from N(0, std**2), then zero ``ceil(sparsity * rows)`` randomly
    chosen entries of each column (Martens, 2010)."""
    arr = _data(tensor, "sparse_")
    if arr.ndim != 2:
        raise ValueError(f"sparse_: only 2-D tensors are supported, got shape {arr.shape}")
    rows, cols = arr.shape
    g = _rng(rng, generator)
    _normal(arr, g, 0.0, std)
    n_zeros = int(math.ceil(sparsity * rows))
    for c in range(cols):
        arr[g.permutation(rows)[:n_zeros], c] = 0
    return tensor


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, rng=None, generator=None):
    """Fill with samples from N(mean, std**2) truncated to [a, b] (``a`` and ``b`` are
    values, not multiples of std, as in PyTorch); samples outside are drawn again. On the
    torch stream PyTorch's own sampler and numbers (:func:`_trunc_normal_torch`)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    if std < 0:
        raise ValueError(f"trunc_normal_: std must be >= 0, got {std}")
    arr = _data(tensor, "trunc_normal_", complex_ok=False)
    g = _rng(rng, generator, exact=True)
    if isinstance(g, TorchStream):
        arr[...] = _trunc_normal_torch(arr, g, mean, std, a, b)
        return tensor
    out = g.normal(mean, std, arr.shape)
    for _ in range(100):
        bad = (out < a) | (out > b)
        if not bad.any():
            break
        out[bad] = g.normal(mean, std, int(bad.sum()))
    arr[...] = np.clip(out, a, b)       # (only reached clipped for a sliver of mass)
    return tensor


def _trunc_normal_torch(arr, g, mean, std, a, b):
    """PyTorch's trunc_normal_ on its stream (torch.nn.init._no_grad_trunc_normal_): where
    [a, b] holds more than 30% of the mass, normal_ draws of the whole tensor, each round
    filling the entries still outside; else uniform_ proposals on [a, b] accepted where
    log U < log pdf / pdf(mode), U and the proposals each a whole-tensor uniform_ a round.
    The values are those draws, bit for bit; the accept test takes NumPy's log, which may
    differ from PyTorch's in the last bit (a decision flips with odds of about 1e-16)."""
    t = arr.dtype.type

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
        lo, hi = float(t(a)), float(t(b))               # the bounds in the tensor's dtype
        out = torch_fill(g, "normal_", arr, mean, std)
        while True:
            bad = (out < lo) | (out > hi)
            if not bad.any():
                return out
            out = np.where(bad, torch_fill(g, "normal_", arr, mean, std), out)
    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

    def pending_of(cand):
        log_pdf = (cand - t(mean)) / t(std)
        log_pdf = log_pdf * log_pdf * t(-0.5) - t(log_peak)
        return np.log(torch_fill(g, "uniform_", arr, 0.0, 1.0)) > log_pdf

    out = torch_fill(g, "uniform_", arr, a, b)
    pending = pending_of(out)
    while pending.any():
        cand = torch_fill(g, "uniform_", arr, a, b)
        out = np.where(pending, cand, out)
        pending = pending & pending_of(cand)
    return out


def orthogonal_(tensor, gain=1.0, rng=None, generator=None):
    """Fill with a (semi-)orthogonal matrix times ``gain``: the Q of the QR decomposition
    of a standard normal matrix, signs fixed so that it is uniformly distributed. More
    than 2 dimensions are flattened after the first. On the torch stream the normal draws
    are PyTorch's; the QR is NumPy's LAPACK, so the weights match torch's to its rounding
    (~1e-15 in float64, a few float32 ulps), not to the bit."""
    arr = _data(tensor, "orthogonal_", complex_ok=False)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are "
                         f"supported, got shape {arr.shape}")
    if arr.size == 0:
        return tensor
    rows = arr.shape[0]
    cols = arr.size // rows
    g = _rng(rng, generator, exact=True)
    if isinstance(g, TorchStream):      # PyTorch's normal_ draws, its QR in arr's dtype
        flat = np.empty((rows, cols), arr.dtype)
        _normal(flat, g, 0.0, 1.0)
    else:
        flat = g.standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    arr[...] = (gain * q).reshape(arr.shape)
    return tensor


def _make_deprecate(meth):
    """The old name without the trailing underscore: warns as PyTorch's (FutureWarning)
    and calls the in-place initialiser."""
    new_name = meth.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return meth(*args, **kwargs)

    deprecated_init.__name__ = deprecated_init.__qualname__ = old_name
    deprecated_init.__doc__ = f"Deprecated: use :func:`{new_name}` (same arguments)."
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
sparse = _make_deprecate(sparse_)
orthogonal = _make_deprecate(orthogonal_)

__all__ += ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform",
            "xavier_normal", "kaiming_uniform", "kaiming_normal", "sparse", "orthogonal"]
