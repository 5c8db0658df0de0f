"""PyTorch's ``torch.utils.model_zoo``: ``load_url`` is :func:`zeroin.hub.load_state_dict_
from_url`, refused (no download, no unpickling)."""
from ..hub import load_state_dict_from_url as load_url

__all__ = ["load_url"]
