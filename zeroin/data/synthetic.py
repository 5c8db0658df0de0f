"""Small datasets generated with NumPy: the shapes every learner should see a network fit.

Each ``make_*`` returns ``(X, y)`` NumPy arrays. Regression targets and binary labels are
float columns ``(n, 1)`` (for MSELoss / BCEWithLogitsLoss); multi-class labels are integers
``(n,)`` (for CrossEntropyLoss).
"""
from __future__ import annotations

import numpy as np

from ..random import get_rng

__all__ = ["make_linear", "make_xor", "make_moons", "make_spirals", "make_vertical",
           "make_sine"]


def _check_n(n, fn, minimum=1):
    if not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"{fn}: n must be a whole number >= {minimum}, got {n!r}")


def _check_classes(classes, fn):
    if isinstance(classes, bool) or not isinstance(classes, (int, np.integer)) or classes < 1:
        raise ValueError(f"{fn}: classes must be a whole number >= 1, got {classes!r}")


def make_linear(n=200, w=2.0, b=3.0, noise=0.1, seed=None):
    """``y = w x + b + noise`` with ``x`` uniform in [-1, 1] (defaults: the line y = 2x + 3)."""
    _check_n(n, "make_linear")
    rng = get_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = w * x + b + noise * rng.standard_normal((n, 1))
    return x, y


def make_xor(n=None, noise=0.1, seed=None):
    """XOR: label 1 where exactly one coordinate is 1.

    ``n=None`` gives the four corners of the unit square (the classic truth table);
    an integer ``n`` gives ``n`` points scattered around the corners with Gaussian noise.
    """
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([[0.0], [1.0], [1.0], [0.0]])
    if n is None:
        return corners.copy(), labels.copy()
    _check_n(n, "make_xor")
    rng = get_rng(seed)
    pick = np.arange(n) % 4
    X = corners[pick] + noise * rng.standard_normal((n, 2))
    return X, labels[pick].copy()


def make_moons(n=400, noise=0.1, seed=None):
    """Two interleaving half circles; label 0 for the upper moon, 1 for the lower one."""
    _check_n(n, "make_moons", 2)
    rng = get_rng(seed)
    n_upper = n // 2
    t_up = np.linspace(0.0, np.pi, n_upper)
    t_lo = np.linspace(0.0, np.pi, n - n_upper)
    upper = np.stack([np.cos(t_up), np.sin(t_up)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lo), 0.5 - np.sin(t_lo)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n_upper), np.ones(n - n_upper)])[:, None]
    perm = rng.permutation(n)
    return X[perm], y[perm]


def make_spirals(n=300, classes=3, noise=0.2, turns=1.0, seed=None):
    """``classes`` interleaved spiral arms in the plane; integer labels ``0..classes-1``.

    ``n`` counts all samples (``n // classes`` or one more per class); the nnfs package's
    ``spiral_data(samples, classes)`` counts per class: ``spiral_data(100, 3)`` has 300.
    """
    _check_classes(classes, "make_spirals")
    _check_n(n, "make_spirals", classes)
    rng = get_rng(seed)
    label = np.arange(n) % classes
    r = np.linspace(0.05, 1.0, n)[rng.permutation(n)]
    theta = (label * 2 * np.pi / classes + r * turns * 2 * np.pi
             + noise * rng.standard_normal(n))
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return X, label.astype(np.int64)


def make_vertical(n=300, classes=3, noise=0.1, seed=None):
    """``classes`` blobs side by side: class ``c`` around ``(c / classes, 0.5)``, Gaussian
    spread ``noise``; integer labels ``0..classes-1`` (``n % classes`` labels cycle).

    A linearly separable warm-up before spirals (the nnfs package's ``vertical_data``, whose
    ``samples`` count per class: ``vertical_data(100, 3)`` is ``make_vertical(300, 3)``).
    """
    _check_classes(classes, "make_vertical")
    _check_n(n, "make_vertical", classes)
    rng = get_rng(seed)
    label = np.arange(n) % classes
    centre = np.stack([label / classes, np.full(n, 0.5)], axis=1)
    return centre + noise * rng.standard_normal((n, 2)), label.astype(np.int64)


def make_sine(n=200, noise=0.05, seed=None):
    """``y = sin(x) + noise`` with ``x`` uniform in [-pi, pi]: a curve a line cannot fit."""
    _check_n(n, "make_sine")
    rng = get_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    return x, np.sin(x) + noise * rng.standard_normal((n, 1))
