"""zeroin's own exceptions: the bottom layer of the engine (it imports nothing of zeroin).

Each subclasses the built-in exception a user would catch for the same mistake, so
``except ValueError`` still catches a :class:`ShapeError`.
"""
from __future__ import annotations

__all__ = ["ZeroinError", "ShapeError", "DtypeError", "AnomalyError", "ReplayError"]


class ZeroinError(RuntimeError):
    """Base class for zeroin's own errors."""


class ShapeError(ZeroinError, ValueError):
    """Operands whose shapes do not fit the operation."""


class DtypeError(ZeroinError, TypeError):
    """An operation PyTorch refuses for its operands' dtypes (``1 - mask`` on a bool
    tensor): a RuntimeError, as PyTorch raises, and a TypeError."""


class AnomalyError(ZeroinError, FloatingPointError):
    """Raised under :func:`zeroin.detect_anomaly` when an op produces NaN or Inf."""


class ReplayError(ZeroinError):
    """:func:`zeroin.replay` cannot repeat the function faithfully (it draws random numbers,
    updates state in place, or gave a different result when replayed)."""
