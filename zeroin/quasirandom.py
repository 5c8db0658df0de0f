"""``torch.quasirandom``: :class:`SobolEngine`, low-discrepancy points in [0, 1)^d, which
PINN scripts draw as collocation points. Built on SciPy's Sobol' generator (imported when
an engine is made): the same direction numbers (Joe and Kuo, up to 21201 dimensions) and
30 bits as PyTorch's, so unscrambled points equal PyTorch's; scrambled ones come from
zeroin's generator (``seed``), not PyTorch's.
"""
from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = ["SobolEngine"]


def _count(op, n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"SobolEngine.{op}: n must be an int, got {type(n).__name__} {n!r}")
    if n < 0:
        raise ValueError(f"SobolEngine.{op}: n must be >= 0, got {n}")
    return int(n)


class SobolEngine:
    """Sobol' sequence of ``dimension`` coordinates (1 to 21201), as ``torch.quasirandom``'s:
    ``draw(n)`` gives the next ``n`` points as an (n, dimension) tensor of the default dtype;
    ``scramble=True`` randomises them (``seed``: an int, or None for zeroin's generator)."""

    MAXBIT = 30
    MAXDIM = 21201

    def __init__(self, dimension, scramble=False, seed=None):
        if isinstance(dimension, bool) or not isinstance(dimension, numbers.Integral) \
                or not 1 <= dimension <= self.MAXDIM:
            raise ValueError(f"Supported range of dimensionality for SobolEngine is "
                             f"[1, {self.MAXDIM}]")
        try:
            from scipy.stats import qmc
        except ImportError:
            raise ImportError("SobolEngine needs SciPy (its Sobol' generator): pip install "
                              "scipy") from None
        self.dimension, self.scramble, self.seed = int(dimension), bool(scramble), seed
        if seed is None and scramble:
            from .random import get_rng
            seed = int(get_rng().integers(2 ** 63))
        gen = np.random.default_rng(seed)
        try:
            self._engine = qmc.Sobol(self.dimension, scramble=self.scramble, bits=self.MAXBIT,
                                     rng=gen)
        except TypeError:       # SciPy before 1.15 calls the generator seed=
            self._engine = qmc.Sobol(self.dimension, scramble=self.scramble, bits=self.MAXBIT,
                                     seed=gen)
        self.num_generated = 0

    def draw(self, n=1, out=None, dtype=None):
        """The next ``n`` points, an (n, dimension) tensor (of ``dtype``, by default the
        default dtype); written into ``out`` when given."""
        from ._tensor import get_default_dtype, tensor
        n = _count("draw", n)
        dtype = np.dtype(dtype if dtype is not None else get_default_dtype())
        if dtype not in (np.float32, np.float64):
            raise NotImplementedError(f"SobolEngine.draw: dtype {dtype} is not supported; "
                                      f"use float32 or float64")
        with warnings.catch_warnings():     # SciPy's note on non-power-of-2 counts
            warnings.simplefilter("ignore", UserWarning)
            points = self._engine.random(n).astype(dtype)
        self.num_generated += n
        if out is None:
            return tensor(points)
        return out.copy_(tensor(points))

    def draw_base2(self, m, out=None, dtype=None):
        """The next ``2**m`` points; the total drawn must stay a power of 2 (Sobol'
        points are balanced only in such blocks)."""
        total = self.num_generated + 2 ** _count("draw_base2", m)
        if total & (total - 1):
            raise ValueError(f"The balance properties of Sobol' points require n to be a "
                             f"power of 2. {self.num_generated} points have been previously "
                             f"generated, then: n={self.num_generated}+2**{m}={total}. If "
                             f"you still want to do this, please use 'SobolEngine.draw()' "
                             f"instead.")
        return self.draw(2 ** m, out=out, dtype=dtype)

    def reset(self):
        """Back to the first point; returns the engine."""
        self._engine.reset()
        self.num_generated = 0
        return self

    def fast_forward(self, n):
        """Skip the next ``n`` points; returns the engine."""
        n = _count("fast_forward", n)
        self._engine.fast_forward(n)
        self.num_generated += n
        return self

    def __repr__(self):
        parts = [f"dimension={self.dimension}"]
        if self.scramble:
            parts.append("scramble=True")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return f"{type(self).__name__}({', '.join(parts)})"
