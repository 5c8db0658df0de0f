"""PyTorch's ``torch.utils`` names: ``zeroin.utils.data`` (datasets and loaders),
``zeroin.utils.checkpoint`` (gradient checkpointing) and ``zeroin.utils.hooks``
(``RemovableHandle``)."""
from . import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
