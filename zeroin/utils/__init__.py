"""PyTorch's ``torch.utils`` names: ``zeroin.utils.data`` (datasets and loaders),
``zeroin.utils.checkpoint`` (gradient checkpointing) and ``zeroin.utils.hooks``
(``RemovableHandle``); ``zeroin.utils.tensorboard`` (``SummaryWriter``),
``zeroin.utils.benchmark`` (``Timer``), ``zeroin.utils.model_zoo`` (``load_url``) and
``zeroin.utils.summary`` (torchinfo's model table, zeroin/utils/model_summary.py) are
imported only when asked for."""
from . import checkpoint, data, hooks

__all__ = ["checkpoint", "data", "hooks"]


def __getattr__(name):
    if name == "summary":
        from .model_summary import summary
        return summary
    if name in ("benchmark", "model_zoo"):
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
