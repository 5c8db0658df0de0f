"""How numbers and arrays are written in explanations and drawings: one place to change it.

A learner should see ``5``, ``0.25`` or ``1.5e-07``, not ``5.000000000000001``; a small
tensor (up to :data:`SMALL` elements) shows its numbers; a big one its shape and a few
statistics, never every element.
"""
from __future__ import annotations

import unicodedata

import numpy as np

__all__ = ["number", "array", "short", "shape_str", "shape_words", "tex_array", "tex_name",
           "plural", "cells", "SMALL"]

SMALL = 12          # tensors with at most this many elements are written out in full


def number(v, digits=6):
    """A number as a learner would write it: ``5``, ``0.25``, ``1.5e-07`` (``digits``
    significant digits); whole numbers without a decimal point."""
    v = float(v)
    if v == 0:
        return "0"
    if v == int(v) and abs(v) < 10 ** max(digits, 6):
        return str(int(v))
    return format(v, f".{digits}g")


def cells(s):
    """How many character cells ``s`` takes: two for a wide or full-width character
    (Chinese, Japanese, Korean, full-width forms; East Asian Width W or F), one for any
    other (Latin, Greek, math symbols such as the ambiguous-width ``\u03b1``)."""
    if s.isascii():
        return len(s)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def shape_str(shape):
    """``scalar``, ``3``, ``3x2``."""
    return "scalar" if tuple(shape) == () else "x".join(str(s) for s in shape)


def shape_words(shape):
    """``vector of 3``, ``3x2 matrix``, ``2x3x4 array``."""
    if len(shape) == 1:
        return f"vector of {shape[0]}"
    if len(shape) == 2:
        return f"{shape[0]}x{shape[1]} matrix"
    return "x".join(str(s) for s in shape) + " array"


def plural(n, word, many=None):
    """``1 path``, ``3 paths``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _nested(a, digits):
    if a.ndim == 0:
        return number(a, digits)
    return "[" + ", ".join(_nested(x, digits) for x in a) + "]"


def array(a, digits=6, small=SMALL):
    """An array in words: the number itself, all its numbers when it has at most ``small``
    elements (``[[1, 2], [3, 4]]``), else its shape with mean, min and max."""
    a = np.asarray(a)
    if a.size == 1:
        return number(a.reshape(()), digits)
    if a.size == 0:
        return f"empty {shape_words(a.shape)}"
    if a.dtype.kind == "b":
        return f"{shape_words(a.shape)} of booleans ({int(a.sum())} true)"
    if a.size <= small:
        return _nested(a, digits)
    return (f"{shape_words(a.shape)} (mean {number(a.mean(), digits)}, "
            f"min {number(a.min(), digits)}, max {number(a.max(), digits)})")


def short(a, digits=4, small=3):
    """A label short enough for a node of a drawing: ``1.5``, ``[1, 2, 3]`` or
    ``3x4, mean 0.25``."""
    a = np.asarray(a)
    if a.size == 1:
        return number(a.reshape(()), digits)
    if a.ndim == 1 and a.size <= small:
        return _nested(a, digits)
    if a.size == 0:
        return f"{shape_str(a.shape)} (empty)"
    return f"{shape_str(a.shape)}, mean {number(a.mean(), digits)}"


def tex_name(n):
    """A node name as LaTeX: one letter italic, longer names upright."""
    n = n.replace("\\", "\\\\").replace("_", "\\_").replace("{", "\\{").replace("}", "\\}")
    return n if len(n) == 1 else "\\mathrm{" + n + "}"


def tex_array(a, digits=6, small=SMALL):
    """An array as LaTeX: a number, a ``bmatrix`` of all its numbers when it is small
    (vectors as a row), else its description in words."""
    a = np.asarray(a)
    if a.size == 1:
        return number(a.reshape(()), digits)
    if a.size <= small and a.ndim <= 2 and a.dtype.kind != "b":
        rows = a.reshape(1, -1) if a.ndim == 1 else a
        body = " \\\\ ".join(" & ".join(number(v, digits) for v in r) for r in rows)
        return "\\begin{bmatrix} " + body + " \\end{bmatrix}"
    return "\\text{" + array(a, digits, small).replace("_", "\\_") + "}"
