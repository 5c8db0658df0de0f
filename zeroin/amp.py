"""``zeroin.amp``: PyTorch's mixed-precision names, so copied training scripts run.

zeroin has no reduced-precision autocast: every op runs in its tensors' own dtype. So
:class:`autocast` changes nothing (it warns once when enabled), and :class:`GradScaler`
behaves as PyTorch's does when disabled (as ``torch.amp.GradScaler("cuda")`` is on a
machine without CUDA): ``scale`` returns the loss as it is and ``step`` calls
``optimizer.step()``.

>>> import zeroin
>>> scaler = zeroin.amp.GradScaler(enabled=False)
>>> scaler.get_scale(), scaler.is_enabled()
(1.0, False)
"""
from __future__ import annotations

import functools
import warnings

__all__ = ["autocast", "GradScaler", "is_autocast_available", "is_autocast_enabled",
           "get_autocast_dtype", "set_autocast_dtype"]

_warned = set()         # what has warned already in this process


def _warn_once(key, message, category=UserWarning, stacklevel=3):
    """Warn the first time ``key`` comes; ``stacklevel`` 3 names the constructor's caller."""
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, category, stacklevel=stacklevel)


def _check_device_type(op, device_type):
    if not isinstance(device_type, str):
        raise ValueError(f"{op}: expected `device_type` of type `str` (e.g. 'cuda' or "
                         f"'cpu'), got: `{type(device_type)}`")
    from .dtypes import device
    device(device_type)           # an unknown type raises RuntimeError, as in PyTorch


def is_autocast_available(device_type):
    """False: zeroin has no autocast for any device."""
    _check_device_type("is_autocast_available", device_type)
    return False


def is_autocast_enabled(device_type=None):
    """False: zeroin's :class:`autocast` never switches anything on."""
    return False


_LOWER = {}         # device type -> the dtype set by set_autocast_dtype


def _default_lower(device_type):
    """PyTorch's default autocast dtype: bfloat16 on the CPU-like devices, float16 else."""
    from . import dtypes
    return dtypes.bfloat16 if device_type in ("cpu", "xpu", "hpu") else dtypes.float16


def get_autocast_dtype(device_type):
    """The dtype autocast would use on ``device_type`` (PyTorch's defaults: bfloat16 on
    the CPU, float16 on CUDA, or what :func:`set_autocast_dtype` set). zeroin's autocast
    casts nothing; this is what a script reads to choose its own dtypes."""
    if not isinstance(device_type, str):
        raise TypeError(f"get_autocast_dtype(): argument 'device_type' must be str, not "
                        f"{type(device_type).__name__}")
    _check_device_type("get_autocast_dtype", device_type)
    dtype = _LOWER.get(device_type)
    return _default_lower(device_type) if dtype is None else dtype


def set_autocast_dtype(device_type, dtype):
    """Set what :func:`get_autocast_dtype` returns for ``device_type`` (and the dtype an
    :class:`autocast` without ``dtype=`` reports); no op changes: zeroin casts nothing."""
    if not isinstance(device_type, str):
        raise TypeError(f"set_autocast_dtype(): argument 'device_type' must be str, not "
                        f"{type(device_type).__name__}")
    _check_device_type("set_autocast_dtype", device_type)
    from . import dtypes
    _LOWER[device_type] = dtype if dtype is dtypes.bfloat16 else dtypes.as_dtype(dtype)


class autocast:
    """``with zeroin.autocast("cuda"):`` or ``@zeroin.autocast("cpu")``: accepted and
    ignored. zeroin runs every op in its tensors' own dtype (no float16/bfloat16
    autocast), so results and dtypes are those without it; ``enabled=True`` warns once."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        _check_device_type("autocast", device_type)
        self.device = device_type
        if dtype is None:
            dtype = get_autocast_dtype(device_type)
        self.fast_dtype, self._enabled, self._cache_enabled = dtype, bool(enabled), cache_enabled
        if self._enabled:
            _warn_once("autocast", "zeroin runs every op in its tensors' own dtype; autocast "
                       "changes nothing (zeroin has no float16/bfloat16 autocast)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        """As a decorator: ``func`` runs inside this context (which changes nothing)."""
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return wrapped


class GradScaler:
    """PyTorch's loss scaler, always disabled: zeroin makes no float16 gradients, so
    there is nothing to scale. As ``torch.amp.GradScaler`` when disabled:
    ``scale(loss)`` returns ``loss`` itself, ``step(opt)`` returns ``opt.step()`` (no
    inf/NaN check), ``unscale_`` and ``update`` do nothing, ``get_scale()`` is 1.0,
    ``state_dict()`` is ``{}``. ``enabled=True`` warns once, as PyTorch without CUDA
    does. (PyTorch's ``GradScaler("cpu")`` is enabled and really scales; zeroin's is not.)"""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        self._device = device
        self._init_scale, self._growth_factor = init_scale, growth_factor
        self._backoff_factor, self._growth_interval = backoff_factor, growth_interval
        if enabled:
            _warn_once("GradScaler", f"{type(self).__name__} is enabled, but zeroin has no "
                       "reduced-precision gradients to scale. Disabling.")
        self._enabled = False

    def is_enabled(self):
        return self._enabled

    def scale(self, outputs):
        """``outputs`` unchanged (a tensor, or any nesting of them)."""
        return outputs

    def unscale_(self, optimizer):
        """Nothing to unscale."""

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` and its result; every step is taken."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None):
        """Nothing to update."""

    def get_scale(self):
        return 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def state_dict(self):
        """``{}``, as a disabled PyTorch scaler returns."""
        return {}

    def load_state_dict(self, state_dict):
        """Accepted and ignored (a disabled scaler has no state), as in PyTorch."""
