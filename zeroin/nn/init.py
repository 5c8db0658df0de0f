"""Initialisers: the first guess of every weight, filled in place.

Gradient descent starts from a guess, and the guess matters: all zeros makes every hidden
unit identical forever; weights that are too small make the signal (and the gradient)
vanish layer by layer; too large ones saturate or explode. Xavier (Glorot) keeps the
variance of activations roughly constant through tanh/sigmoid layers, He (Kaiming) does
the same for ReLU layers. ``docs/initialisation.md`` measures the difference.

Every function takes a tensor (or array), fills it in place without changing its dtype,
uses :func:`zeroin.random.get_rng` (or ``rng=``) and returns the tensor.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..random import get_rng

__all__ = ["calculate_gain", "zeros_", "ones_", "constant_", "uniform_", "normal_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "he_uniform_", "he_normal_"]


def _data(tensor, op):
    if isinstance(tensor, Tensor):
        arr = tensor.data
    elif isinstance(tensor, np.ndarray):
        arr = tensor
    else:
        raise TypeError(f"{op}: expected a Tensor or NumPy array, got {type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"{op}: can only fill floating-point tensors, got dtype {arr.dtype}")
    if not arr.flags.writeable:
        raise ValueError(f"{op}: the tensor's array is read-only")
    return arr


def _fill(tensor, values, op):
    arr = _data(tensor, op)
    arr[...] = values
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activation variance steady through ``nonlinearity``.

    linear/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope**2)),
    selu 3/4 (PyTorch's values).
    """
    nl = nonlinearity.lower()
    if nl in ("linear", "identity", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nl == "tanh":
        return 5.0 / 3
    if nl == "relu":
        return math.sqrt(2.0)
    if nl == "leaky_relu":
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


def zeros_(tensor):
    """Fill with 0. (For weights a bad idea: every unit of a layer stays identical.)"""
    return _fill(tensor, 0, "zeros_")


def ones_(tensor):
    """Fill with 1."""
    return _fill(tensor, 1, "ones_")


def constant_(tensor, val):
    """Fill with ``val``."""
    return _fill(tensor, val, "constant_")


def uniform_(tensor, a=0.0, b=1.0, rng=None):
    """Fill with samples from U(a, b)."""
    if b < a:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    arr = _data(tensor, "uniform_")
    arr[...] = get_rng(rng).uniform(a, b, arr.shape)
    return tensor


def normal_(tensor, mean=0.0, std=1.0, rng=None):
    """Fill with samples from N(mean, std**2)."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    arr = _data(tensor, "normal_")
    arr[...] = get_rng(rng).normal(mean, std, arr.shape)
    return tensor


def xavier_uniform_(tensor, gain=1.0, rng=None):
    """Glorot/Xavier: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Keeps the variance of activations and of gradients about equal across layers for
    symmetric activations (tanh, sigmoid, none)."""
    arr = _data(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(arr.shape, "xavier_uniform_")
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    arr[...] = get_rng(rng).uniform(-a, a, arr.shape)
    return tensor


def xavier_normal_(tensor, gain=1.0, rng=None):
    """Glorot/Xavier: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    arr = _data(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(arr.shape, "xavier_normal_")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    arr[...] = get_rng(rng).normal(0.0, std, arr.shape)
    return tensor


def _kaiming_std(arr, a, mode, nonlinearity, op):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(arr.shape, op)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He/Kaiming: U(-b, b) with b = gain * sqrt(3 / fan), gain from ``nonlinearity``.

    For ReLU layers (``nonlinearity='relu'``) this keeps the activations' second moment
    constant with depth. ``a`` is the negative slope for leaky_relu."""
    arr = _data(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(arr, a, mode, nonlinearity, "kaiming_uniform_")
    arr[...] = get_rng(rng).uniform(-bound, bound, arr.shape)
    return tensor


def kaiming_normal_(tensor, a=0.0, mode="fan_in", nonlinearity="leaky_relu", rng=None):
    """He/Kaiming: N(0, std**2) with std = gain / sqrt(fan)."""
    arr = _data(tensor, "kaiming_normal_")
    std = _kaiming_std(arr, a, mode, nonlinearity, "kaiming_normal_")
    arr[...] = get_rng(rng).normal(0.0, std, arr.shape)
    return tensor


def he_uniform_(tensor, rng=None):
    """He uniform for ReLU layers: ``kaiming_uniform_(t, nonlinearity='relu')``."""
    return kaiming_uniform_(tensor, nonlinearity="relu", rng=rng)


def he_normal_(tensor, rng=None):
    """He normal for ReLU layers: ``kaiming_normal_(t, nonlinearity='relu')``."""
    return kaiming_normal_(tensor, nonlinearity="relu", rng=rng)
