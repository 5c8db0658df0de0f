"""``zeroin.backends``: PyTorch's backend switches, present so that setup code runs.

``backends.mps.is_available()``, ``backends.cudnn.is_available()`` and
``backends.cuda.is_built()`` are False; the cudnn settings and ``backends.cuda.matmul``'s
hold PyTorch's defaults (settings, not availability, as on PyTorch's CPU build) and can be
set, changing nothing (zeroin is deterministic once seeded): nanoGPT's
``torch.backends.cuda.matmul.allow_tf32 = True`` runs. ``backends.cuda.enable_math_sdp``
(flash, mem_efficient, cudnn) and their ``*_sdp_enabled()`` are the switches that
``scaled_dot_product_attention`` reads (see ``nn.attention.sdpa_kernel``).
``mps``, ``cudnn`` and ``cuda`` are modules, as in PyTorch, so that
``import torch.backends.cudnn as cudnn`` (MIT 6.S191's Lab 2) runs as
``import zeroin.backends.cudnn as cudnn``.
"""
from __future__ import annotations

import sys
from importlib.machinery import ModuleSpec
from types import ModuleType, SimpleNamespace

__all__ = ["mps", "cudnn", "cuda"]


def _false():
    return False


def _submodule(name, **attrs):
    """``zeroin.backends.<name>``: a module holding ``attrs``, registered in ``sys.modules``
    so that ``import zeroin.backends.<name>`` finds it (this file is not a package)."""
    module = ModuleType(f"{__name__}.{name}")
    module.__spec__ = ModuleSpec(module.__name__, None)
    vars(module).update(attrs)
    sys.modules[module.__name__] = module
    return module


mps = _submodule("mps", is_available=_false, is_built=_false)
cudnn = _submodule("cudnn", deterministic=False, benchmark=False, enabled=True, allow_tf32=True,
                   benchmark_limit=None, is_available=_false, version=lambda: None)
cuda = _submodule("cuda", is_built=_false, matmul=SimpleNamespace(
    allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
    allow_bf16_reduced_precision_reduction=True))


def _sdp_switches(flag):
    """``enable_<flag>_sdp(bool)`` and ``<flag>_sdp_enabled()`` over the switches that
    ``scaled_dot_product_attention`` reads (nn/_attention.py)."""
    from .nn._attention import SDP_ENABLED

    def enable(enabled):
        SDP_ENABLED[flag] = bool(enabled)

    def enabled():
        return SDP_ENABLED[flag]
    enable.__name__, enabled.__name__ = f"enable_{flag}_sdp", f"{flag}_sdp_enabled"
    return {enable.__name__: enable, enabled.__name__: enabled}


def _sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True,
                enable_cudnn=True):
    """PyTorch's deprecated ``backends.cuda.sdp_kernel``: ``nn.attention.sdpa_kernel`` of
    the kernels enabled."""
    import warnings

    from .nn.attention import SDPBackend, sdpa_kernel
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=2)
    chosen = [b for b, on in ((SDPBackend.FLASH_ATTENTION, enable_flash),
                              (SDPBackend.MATH, enable_math),
                              (SDPBackend.EFFICIENT_ATTENTION, enable_mem_efficient),
                              (SDPBackend.CUDNN_ATTENTION, enable_cudnn)) if on]
    return sdpa_kernel(chosen)


for _flag in ("math", "flash", "mem_efficient", "cudnn"):
    vars(cuda).update(_sdp_switches(_flag))
cuda.sdp_kernel = _sdp_kernel
