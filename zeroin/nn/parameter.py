"""PyTorch's ``torch.nn.parameter``: the parameter and buffer classes under the path torch
code imports them from (``from torch.nn.parameter import Parameter``)."""
from .module import (Buffer, Parameter, UninitializedBuffer, UninitializedParameter,
                     UninitializedTensorMixin)

__all__ = ["Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer",
           "UninitializedTensorMixin", "is_lazy"]


def is_lazy(param):
    """Whether ``param`` is a lazy module's parameter or buffer whose shape is not known
    yet (an :class:`UninitializedParameter` / :class:`UninitializedBuffer`)."""
    return isinstance(param, UninitializedTensorMixin)
