"""PyTorch's ``torch.utils`` names: ``zeroin.utils.data`` (datasets and loaders) and
``zeroin.utils.checkpoint`` (gradient checkpointing); ``zeroin.utils.tensorboard``
(``SummaryWriter``) is imported only when asked for, as PyTorch's."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
