"""``zeroin.autograd.function``: PyTorch's module path of the custom-op API
(``from torch.autograd.function import Function, once_differentiable``)."""
from .._custom_function import Function, FunctionCtx, once_differentiable  # noqa: F401

__all__ = ["Function", "FunctionCtx", "once_differentiable"]
