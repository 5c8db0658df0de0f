"""``zeroin.linalg``: the linear-algebra functions PyTorch code reaches for most.

Same layout as :mod:`zeroin.ops`: one block per op, its ``...Op`` class (forward on NumPy's
``numpy.linalg``, backward written with ``xp`` so that it can be differentiated again),
then its public function. Inputs are matrices ``(..., m, n)`` batched over the leading
dimensions, as in PyTorch. Functions built from other ops (``logdet``, ``matrix_power``,
``lstsq``...) have no rule of their own.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._torch_ops import norm as _norm
from ._tensor import Tensor, _leaf
from .errors import DtypeError, ShapeError, ZeroinError
from .function import NP, Function
from .ops import TZ, _DimError, _t, op

__all__ = ["norm", "vector_norm", "inv", "inverse", "solve", "det", "slogdet", "logdet",
           "LinAlgError"]


class LinAlgError(ZeroinError):
    """A matrix the op cannot take (singular for ``inv``/``solve``): a RuntimeError, as
    PyTorch's ``torch.linalg.LinAlgError``."""


# --- shared checks ----------------------------------------------------------------------

def _float(op_name, A, what="A"):
    """``A`` as a tensor, refused unless it has a floating dtype (PyTorch's rule)."""
    A = _t(A)
    if A.dtype.kind != "f":
        raise DtypeError(f"{op_name}: {what} has dtype {A.dtype}; linear algebra needs a "
                         f"floating dtype, as in PyTorch: convert first, e.g. {what}.double()")
    return A


def _matrix(op_name, A, square=True):
    """``A`` checked to be a (batch of) matrix, square unless ``square`` is False."""
    A = _float(op_name, A)
    if A.ndim < 2:
        raise ShapeError(f"{op_name}: A has shape {tuple(A.shape)}; it needs at least 2 "
                         f"dimensions (a matrix, or a batch of them (..., n, n))")
    if square and A.shape[-1] != A.shape[-2]:
        m, n = A.shape[-2:]
        raise ShapeError(f"{op_name}: A has shape {tuple(A.shape)}: A must be a batch of "
                         f"square matrices, but they are {m} by {n}; for a non-square A use "
                         f"linalg.pinv or linalg.lstsq")
    return A


def _singular(op_name, A):
    """The LinAlgError for a singular ``A``, naming the first singular batch element."""
    flat = A.reshape((-1,) + A.shape[-2:])
    bad = next((i for i, a in enumerate(flat) if np.linalg.matrix_rank(a) < a.shape[-1]), 0)
    where = f" (batch element {bad})" if A.ndim > 2 else ""
    return LinAlgError(f"{op_name}: the input matrix{where} of shape {A.shape[-2:]} is "
                       f"singular, so it has no inverse; use linalg.pinv or linalg.lstsq "
                       f"for a least-squares answer, or check the matrix")


# --- inv ---------------------------------------------------------------------------------

class InvOp(Function):
    """A^-1. d(A^-1) = -A^-1 dA A^-1, so gA = -A^-T g A^-T (with ``out`` = A^-1)."""
    __slots__ = ()
    name = "linalg.inv"

    def forward(self, A):
        try:
            return np.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise _singular(self.name, A) from None

    def backward(self, xp, g, out, A):
        t = xp.swap(out)
        return -(t @ g @ t)


@op(InvOp, export=False)
def inv(A):  # noqa: N803
    """The inverse of the square matrix ``A`` (batched); a singular ``A`` raises
    :class:`LinAlgError`, as in PyTorch."""
    return InvOp()(_matrix("linalg.inv", A))


def inverse(input):  # noqa: A002
    """``torch.inverse``: :func:`inv`."""
    return inv(input)


NP.inv = staticmethod(np.linalg.inv)
TZ.inv = staticmethod(inv)


# --- solve -------------------------------------------------------------------------------

def _np_solve(A, B, vector):
    if vector:
        return np.linalg.solve(A, B[..., None])[..., 0]
    return np.linalg.solve(A, B)


class SolveOp(Function):
    """X with A X = B. dX = A^-1 (dB - dA X): gB = A^-T g (one more solve), gA = -gB X^T.
    ``vector``: B is a (batch of) vector(s) (..., n), not matrices (..., n, k)."""
    __slots__ = ("vector",)
    name = "linalg.solve"
    def __init__(self, vector): self.vector = vector

    def forward(self, A, B):
        try:
            return _np_solve(A, B, self.vector)
        except np.linalg.LinAlgError:
            raise _singular(self.name, A) from None

    def backward(self, xp, g, out, A, B):
        gB = xp.solve_vec(xp.swap(A), g, self.vector)
        if not self.needs_input_grad[0]:
            return None, gB
        if self.vector:
            return -(gB[..., :, None] * out[..., None, :]), gB
        return -(gB @ xp.swap(out)), gB


def _solve_error(A, B, vector):
    rows = B.shape[-1] if vector else B.shape[-2] if B.ndim > 1 else B.shape[0]
    if rows != A.shape[-1]:
        return (f"linalg.solve: incompatible shapes of A {tuple(A.shape)} and B "
                f"{tuple(B.shape)} for the equation AX = B: B needs {A.shape[-1]} rows "
                f"(shape (..., {A.shape[-1]}) or (..., {A.shape[-1]}, k))")
    try:
        np.broadcast_shapes(A.shape[:-2], B.shape[:-1] if vector else B.shape[:-2])
    except ValueError:
        return (f"linalg.solve: the batch dimensions of A {tuple(A.shape)} and B "
                f"{tuple(B.shape)} do not broadcast")
    return None


@op(SolveOp, export=False)
def solve(A, B, *, left=True):  # noqa: N803
    """X with ``A @ X = B`` (``X @ A = B`` if not ``left``) for square ``A``; ``B`` is a
    vector (..., n) or matrix (..., n, k), batched with broadcasting as in PyTorch."""
    A = _matrix("linalg.solve", A)
    B = _float("linalg.solve", B, "B")
    if A.dtype != B.dtype:
        raise DtypeError(f"linalg.solve: A has dtype {A.dtype} and B {B.dtype}; give both "
                         f"the same dtype, as PyTorch requires (e.g. B.to(A.dtype))")
    if not left:            # X A = B  <=>  A^T X^T = B^T
        if B.ndim < 2:
            raise ShapeError(f"linalg.solve: left=False needs B of shape (..., k, n), got "
                             f"{tuple(B.shape)}")
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    msg = _solve_error(A, B, vector)
    if msg:
        raise ShapeError(msg)
    return SolveOp(vector)(A, B)


NP.solve_vec = staticmethod(_np_solve)
TZ.solve_vec = staticmethod(lambda A, B, vector: SolveOp(vector)(A, B))


# --- det, slogdet -----------------------------------------------------------------------

class DetOp(Function):
    """det(A). d det = det * tr(A^-1 dA), so gA = g * det * A^-T (A invertible)."""
    __slots__ = ()
    name = "linalg.det"
    def forward(self, A): return np.linalg.det(A)
    def backward(self, xp, g, out, A):
        return (g * out)[..., None, None] * xp.swap(xp.inv(A))


@op(DetOp, methods=("det",))
def det(A):  # noqa: N803
    """The determinant of the square matrix ``A`` (batched); 0 for a singular A. Its
    gradient, det(A) A^-T, needs A invertible."""
    return DetOp()(_matrix("linalg.det", A))


class SlogdetOp(Function):
    """log |det A|. d log|det A| = tr(A^-1 dA), so gA = g * A^-T (A invertible)."""
    __slots__ = ()
    name = "linalg.slogdet"
    def forward(self, A): return np.linalg.slogdet(A)[1]
    def backward(self, xp, g, out, A): return g[..., None, None] * xp.swap(xp.inv(A))


class SignLogAbsDet(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


@op(SlogdetOp, methods=("slogdet",))
def slogdet(A):  # noqa: N803
    """``(sign, logabsdet)`` of det A: the sign (-1, 0 or 1, no gradient) and log |det A|
    (-inf for a singular A), accurate where det itself would under- or overflow."""
    A = _matrix("linalg.slogdet", A)
    sign = np.linalg.slogdet(A.data)[0]
    return SignLogAbsDet(_leaf(np.asarray(sign, A.dtype)), SlogdetOp()(A))


def logdet(A):  # noqa: N803
    """log det A: NaN where det A < 0 and -inf where it is 0 (``torch.logdet``)."""
    sign, logabs = slogdet(A)
    return logabs + _leaf(np.where(sign.data < 0, np.nan, 0).astype(logabs.dtype))


Tensor.inverse = inverse
Tensor.logdet = logdet


# --- norms -------------------------------------------------------------------------------

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
