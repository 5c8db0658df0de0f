"""``torch.nn.utils.clip_grad``: where PyTorch defines the clipping functions
(``from torch.nn.utils.clip_grad import clip_grad_norm_``); zeroin's are in
:mod:`zeroin.optim.grad_utils`, re-exported here."""
from . import clip_grad_norm, clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_"]
