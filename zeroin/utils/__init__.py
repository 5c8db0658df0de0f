"""PyTorch's ``torch.utils`` names: ``zeroin.utils.data`` (datasets and loaders) and
``zeroin.utils.checkpoint`` (gradient checkpointing)."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
