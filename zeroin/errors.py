"""zeroin's own exceptions, and the text of a broadcast error (:func:`broadcast_message`,
used by ops and by the Tensor's comparisons): the bottom layer of the engine (it imports
nothing of zeroin).

Each subclasses the built-in exception a user would catch for the same mistake, so
``except ValueError`` still catches a :class:`ShapeError`.
"""
from __future__ import annotations

__all__ = ["ZeroinError", "ShapeError", "DtypeError", "AnomalyError", "ReplayError",
           "ArgumentError", "InvalidValueError"]


class ZeroinError(RuntimeError):
    """Base class for zeroin's own errors."""


class ShapeError(ZeroinError, ValueError):
    """Operands whose shapes do not fit the operation."""


class DtypeError(ZeroinError, TypeError):
    """An operation PyTorch refuses for its operands' dtypes (``1 - mask`` on a bool
    tensor): a RuntimeError, as PyTorch raises, and a TypeError."""


class ArgumentError(ZeroinError, ValueError, AssertionError):
    """A bad argument that PyTorch's Python code refuses with an ``assert`` (``nn.Embedding``'s
    ``padding_idx`` out of range): an AssertionError, as PyTorch raises, and a ValueError."""


class InvalidValueError(ZeroinError, ValueError):
    """A bad argument value (``div(rounding_mode='round')``, a fill value past the dtype's
    range): a RuntimeError, as PyTorch raises, and a ValueError."""


class AnomalyError(ZeroinError, FloatingPointError):
    """Raised under :func:`zeroin.detect_anomaly` when an op produces NaN or Inf."""


class ReplayError(ZeroinError):
    """:func:`zeroin.replay` cannot repeat the function faithfully (it draws random numbers,
    updates state in place, or gave a different result when replayed)."""


def broadcast_message(op, shapes):
    """Why ``shapes`` do not broadcast together, in zeroin's words, with a fix."""
    nd = max(len(s) for s in shapes)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    for axis in range(nd):
        sizes = {p[axis] for p in padded} - {1}
        if len(sizes) > 1:
            break
    listed = " and ".join(str(tuple(s)) for s in shapes)
    return (f"{op}: shapes {listed} cannot be broadcast together: aligned from the right, "
            f"dimension {axis - nd} has sizes {' vs '.join(str(p[axis]) for p in padded)} "
            f"(each must be equal or 1). Reshape one operand (e.g. x.reshape(-1, 1) makes "
            f"a column, x.unsqueeze(0) a row), or check that the operands are the ones "
            f"you meant")


def a_type(x):
    """``x``'s type with its article, as messages say it: "an int", "a float", "an ndarray"
    (read "en-dee-array")."""
    name = type(x).__name__
    return f"{'an' if name[:1] in 'aeiouAEIOU' or name.startswith('nd') else 'a'} {name}"


def sequence_operand_error(name, symbol, x, y):
    """PyTorch's TypeError for a list or tuple operand of an arithmetic operator or its
    function (``t + [1, 2]``, ``zeroin.mul(t, (2, 3))``), with the fix: NumPy would
    broadcast the list silently, and PyTorch refuses it."""
    seqs = (list, tuple)
    kinds = [type(v).__name__ if type(v) in seqs else "Tensor" for v in (x, y)]
    seq = x if type(x) in seqs else y
    shown = repr(seq) if len(repr(seq)) <= 40 else f"[...] ({len(seq)} items)"
    return TypeError(f"unsupported operand type(s) for {symbol}: '{kinds[0]}' and "
                     f"'{kinds[1]}' ({name}: PyTorch takes tensors and numbers, not "
                     f"{a_type(seq)}); make it a tensor first: zeroin.tensor({shown})")


def not_a_tensor(op, what, x):
    """The TypeError for an argument that is neither a zeroin Tensor nor an array: another
    library's tensor (PyTorch's, after a stray ``import torch``) is named with its package,
    not as a bare ``Tensor``, and the message says how to convert it."""
    kind = type(x)
    root = kind.__module__.partition(".")[0]
    name = kind.__name__ if root in ("builtins", "zeroin") else f"{root}.{kind.__name__}"
    hint = ""
    if root not in ("builtins", "zeroin") and hasattr(x, "__array__"):
        hint = (f", another library's array: convert it, zeroin.tensor(x.detach().numpy()) "
                f"for a PyTorch tensor (is {root} imported where zeroin was meant?)")
    return TypeError(f"{op}: {what} must be a Tensor or array, got {name}{hint}")


class NotCompiledError(RuntimeError, AssertionError):
    """A device zeroin does not have, such as ``"cuda"``: PyTorch built without it raises
    AssertionError ("Torch not compiled with CUDA enabled"), so this is both."""
