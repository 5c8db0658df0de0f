"""``torch.utils.hooks``: :class:`RemovableHandle`, the class every module ``register_*_hook``
returns (so ``isinstance(h, zeroin.utils.hooks.RemovableHandle)`` holds, as in PyTorch)."""
from .._handle import RemovableHandle

__all__ = ["RemovableHandle"]
