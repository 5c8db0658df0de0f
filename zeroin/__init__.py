"""zeroin: backpropagation and gradient descent, real, fast and visible.

A reverse-mode automatic-differentiation engine on NumPy arrays, with neural-network
layers, optimisers, a training loop, and pictures and explanations of the chain rule.

>>> import zeroin
>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> z = (2 * w + b) * (b + 1)
>>> z.backward()
>>> z.item(), w.grad.item(), b.grad.item()
(50.0, 10.0, 15.0)
"""
import importlib as _importlib

from ._tensor import (Tensor, enable_grad, get_default_dtype, is_grad_enabled, no_grad,
                     set_default_dtype, tensor)
from .errors import AnomalyError, ShapeError, ZeroinError
from .function import Function
from . import ops
from .autograd import grad
from .anomaly import detect_anomaly
from .gradcheck import GradcheckError, gradcheck
from . import functional, graph

# zeroin.add, zeroin.relu, ...: every op registered in zeroin.ops with export=True
globals().update({alias: info.fn for info in ops.OPS.values() if info.export
                  for alias in (info.name,) + info.aliases})

__version__ = "0.1.0"

# Heavier or optional parts load on first use, so `import zeroin` stays fast.
_LAZY = {
    "nn": ("zeroin.nn", None),
    "optim": ("zeroin.optim", None),
    "data": ("zeroin.data", None),
    "lessons": ("zeroin.lessons", None),
    "viz": ("zeroin.viz", None),
    "explain": ("zeroin.viz.explain", "explain"),
    "Explanation": ("zeroin.viz.explain", "Explanation"),
    "draw": ("zeroin.viz.draw", "draw"),
    "figures": ("zeroin.viz.figures", None),         # old path, kept as an alias
    "fit": ("zeroin.train", "fit"),
    "History": ("zeroin.train", "History"),
    "metrics": ("zeroin.metrics", None),
    "save": ("zeroin.checkpoint", "save"),
    "load": ("zeroin.checkpoint", "load"),
    "manual_seed": ("zeroin.random", "manual_seed"),
}


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'zeroin' has no attribute {name!r}") from None
    mod = _importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


def zeros(*shape, requires_grad=False, dtype=None, name=None):
    """A tensor of zeros (float, default dtype)."""
    import numpy as np
    from .ops import _shape_arg
    return Tensor(np.zeros(_shape_arg(shape), dtype=dtype or get_default_dtype()),
                  requires_grad=requires_grad, name=name)


def ones(*shape, requires_grad=False, dtype=None, name=None):
    """A tensor of ones (float, default dtype)."""
    import numpy as np
    from .ops import _shape_arg
    return Tensor(np.ones(_shape_arg(shape), dtype=dtype or get_default_dtype()),
                  requires_grad=requires_grad, name=name)


def zeros_like(t, requires_grad=False):
    import numpy as np
    return Tensor(np.zeros_like(t.data), requires_grad=requires_grad)


def ones_like(t, requires_grad=False):
    import numpy as np
    return Tensor(np.ones_like(t.data), requires_grad=requires_grad)


def arange(*args, dtype=None, requires_grad=False):
    import numpy as np
    return Tensor(np.arange(*args, dtype=dtype), requires_grad=requires_grad)
