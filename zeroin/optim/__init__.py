"""Optimisers, learning-rate schedules and gradient clipping.

>>> import zeroin
>>> model = zeroin.nn.Linear(2, 1)
>>> opt = zeroin.optim.SGD(model.parameters(), lr=0.1)
>>> loss = model(zeroin.ones(4, 2)).pow(2).mean()
>>> opt.zero_grad(); loss.backward(); opt.step()
"""
from . import lr_scheduler
from .grad_utils import clip_grad_norm_, clip_grad_value_
from .lbfgs import LBFGS
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, NAdam, RAdam, RMSprop
from .optimizers_more import ASGD, Adafactor, Muon, Rprop

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam",
           "RAdam", "Adamax", "LBFGS", "Rprop", "ASGD", "Adafactor", "Muon",
           "lr_scheduler", "swa_utils", "clip_grad_norm_", "clip_grad_value_"]


def __getattr__(name):
    """``optim.swa_utils`` is imported on first use (it needs ``nn``, which imports this)."""
    if name == "swa_utils":
        import importlib
        return importlib.import_module(".swa_utils", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    """``dir(optim)`` (DLWPT ch5 lists it) shows the API, as PyTorch's: the classes,
    ``lr_scheduler``, ``swa_utils`` and the clipping functions, not the files defining them."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
