"""``zeroin.backends``: PyTorch's backend switches, present so that setup code runs.

``backends.mps.is_available()`` and ``backends.cudnn.is_available()`` are False; the
cudnn settings hold PyTorch's defaults (``enabled`` and ``allow_tf32`` True: settings, not
availability, as on PyTorch's CPU build) and can be set, changing nothing (zeroin is
deterministic once seeded).
"""
from __future__ import annotations

from types import SimpleNamespace

__all__ = ["mps", "cudnn"]


def _false():
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cudnn = SimpleNamespace(deterministic=False, benchmark=False, enabled=True, allow_tf32=True,
                        benchmark_limit=None, is_available=_false, version=lambda: None)
