"""``zeroin.linalg``: the linear-algebra functions PyTorch code reaches for most."""
from __future__ import annotations

from ._torch_ops import norm as _norm
from .ops import _DimError

__all__ = ["norm", "vector_norm"]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The ``ord``-norm of ``x`` seen as a vector (over ``dim``, or all elements)."""
    return _norm(x, ord, dim, keepdim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: N803
    """The vector 2-norm (or ``ord``-norm) over ``dim``; matrix norms other than
    Frobenius are not supported."""
    if dim is not None and not isinstance(dim, int) and len(dim) not in (1, 2):
        raise _DimError(f"linalg.norm: dim={dim!r}: give one dim (a vector norm) or two (a "
                        f"matrix norm), as in PyTorch; vector_norm takes any number")
    if ord is not None and dim is not None and not isinstance(dim, int) and len(dim) == 2:
        if ord != "fro":
            raise NotImplementedError(f"linalg.norm: the matrix norm ord={ord!r} is not "
                                      f"supported; use 'fro'")
    return _norm(A, 2 if ord in (None, "fro") else ord, dim, keepdim)
