"""PyTorch's ``torch.utils`` names: ``zeroin.utils.data`` (datasets and loaders),
``zeroin.utils.checkpoint`` (gradient checkpointing) and ``zeroin.utils.hooks``
(``RemovableHandle``); ``zeroin.utils.tensorboard`` (``SummaryWriter``) is imported only
when asked for, as PyTorch's."""
from . import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]
