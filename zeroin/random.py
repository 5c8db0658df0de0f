"""One seeded random generator shared by initialisers, dropout and data shuffling."""
from __future__ import annotations

import numpy as np

from .anomaly import not_replayable

__all__ = ["manual_seed", "get_rng"]

_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed zeroin's generator so that initialisation, dropout and shuffling repeat exactly."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng(rng=None):
    """``rng`` if given (a Generator or an int seed), else zeroin's shared generator."""
    not_replayable("it draws random numbers")
    if rng is None:
        return _rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
