"""``zeroin.backends``: PyTorch's backend switches, present so that setup code runs.

``backends.mps.is_available()`` is False; ``backends.cudnn.deterministic`` and
``.benchmark`` can be set and change nothing (zeroin is deterministic once seeded).
"""
from __future__ import annotations

from types import SimpleNamespace

__all__ = ["mps", "cudnn"]


def _false():
    return False


mps = SimpleNamespace(is_available=_false, is_built=_false)
cudnn = SimpleNamespace(deterministic=False, benchmark=False, enabled=False,
                        is_available=_false)
