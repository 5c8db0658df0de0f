"""Activation modules: the nonlinearities between layers."""
from __future__ import annotations

from .. import ops
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Softplus"]


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return ops.relu(x)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x):
        return ops.tanh(x)


class Softplus(Module):
    """log(1 + exp(x))."""

    def forward(self, x):
        return ops.softplus(x)


class Softmax(Module):
    """exp(x) / sum(exp(x)) along ``dim``. Do not put it before CrossEntropyLoss, which
    takes raw scores (logits) and applies log-softmax itself."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.softmax(x, axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return ops.log_softmax(x, axis=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
