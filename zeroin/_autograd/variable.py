"""``zeroin.autograd.variable``: PyTorch's module path of ``Variable``."""
from ..autograd import Variable  # noqa: F401

__all__ = ["Variable"]
