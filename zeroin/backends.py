"""``zeroin.backends``: PyTorch's backend switches, present so that setup code runs.

``backends.mps.is_available()``, ``backends.cudnn.is_available()`` and
``backends.cuda.is_built()`` are False; the cudnn settings and ``backends.cuda.matmul``'s
hold PyTorch's defaults (settings, not availability, as on PyTorch's CPU build) and can be
set, changing nothing (zeroin is deterministic once seeded): nanoGPT's
``torch.backends.cuda.matmul.allow_tf32 = True`` runs.
"""
from __future__ import annotations

from types import SimpleNamespace

__all__ = ["mps", "cudnn", "cuda"]


def _false():
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cudnn = SimpleNamespace(deterministic=False, benchmark=False, enabled=True, allow_tf32=True,
                        benchmark_limit=None, is_available=_false, version=lambda: None)
cuda = SimpleNamespace(is_built=_false, matmul=SimpleNamespace(
    allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
    allow_bf16_reduced_precision_reduction=True))
