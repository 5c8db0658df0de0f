"""``zeroin.autograd.grad_mode``: where PyTorch code imports the grad-mode switches from
(``from torch.autograd.grad_mode import no_grad``)."""
from .._tensor import enable_grad, is_grad_enabled, no_grad  # noqa: F401
from .._tensor_api import inference_mode, set_grad_enabled  # noqa: F401

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]
