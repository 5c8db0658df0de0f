"""``zeroin.cuda.amp``: PyTorch's deprecated ``torch.cuda.amp`` names (see :mod:`zeroin.amp`:
autocast changes nothing, the scaler is disabled)."""
from __future__ import annotations

import warnings

from .. import amp as _amp
from ..dtypes import float16

__all__ = ["autocast", "GradScaler"]


def _deprecated(name):
    warnings.warn(f"`zeroin.cuda.amp.{name}(args...)` is deprecated. Please use "
                  f"`zeroin.amp.{name}('cuda', args...)` instead.", FutureWarning, stacklevel=3)


class autocast(_amp.autocast):
    """``zeroin.amp.autocast("cuda", ...)``: changes nothing (warns once when enabled)."""

    def __init__(self, enabled=True, dtype=float16, cache_enabled=True):
        _deprecated("autocast")
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_amp.GradScaler):
    """``zeroin.amp.GradScaler("cuda", ...)``: always disabled."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        _deprecated("GradScaler")
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)
