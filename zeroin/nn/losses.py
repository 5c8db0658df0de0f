"""Loss modules: ``loss_fn(prediction, target)`` returns a scalar tensor to backward."""
from __future__ import annotations

from . import functional as F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
           "NLLLoss"]


class _Loss(Module):
    _fn = None

    def __init__(self, reduction="mean"):
        super().__init__()
        F._check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def forward(self, input, target):  # noqa: A002
        return type(self)._fn(input, target, reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, the chapter's loss: mean((prediction - target)**2)."""
    _fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """Mean absolute error: mean(|prediction - target|)."""
    _fn = staticmethod(F.l1_loss)


class BCELoss(_Loss):
    """Binary cross entropy on probabilities (after a sigmoid)."""
    _fn = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy on raw scores, numerically stable."""
    _fn = staticmethod(F.binary_cross_entropy_with_logits)


class CrossEntropyLoss(_Loss):
    """Softmax + negative log-likelihood on raw scores (N, C) and integer labels (N,)."""
    _fn = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities (N, C) and integer labels (N,)."""
    _fn = staticmethod(F.nll_loss)
