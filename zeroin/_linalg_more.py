"""The rest of ``zeroin.linalg``: triangular solves, LU, the matrix exponential, the ``_ex``
variants and the small helpers (``multi_dot``, ``cross``, ``vecdot``, ``vander``,
``tensorinv``, ``tensorsolve``, ``cond``), plus PyTorch's older top-level names for them
(``torch.cholesky_solve``, ``torch.lu``, ``torch.svd``...) with PyTorch's deprecation
warnings. Same layout as :mod:`zeroin.linalg`: an ``...Op`` only where a rule is needed
(triangular solve, LU, matrix_exp), the rest composed of differentiable ops.
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np

from . import _torch_ops as _x
from . import ops as _ops
from ._tensor import Tensor, _leaf, _raw
from .errors import DtypeError, ShapeError
from .function import NP, Function
from .linalg import (LinAlgError, _float, _matrix, _pack, _unpack, inv, matrix_norm, qr,
                     solve, svd, svdvals)
from .linalg import cholesky as _cholesky
from .ops import TZ, _t, op

__all__ = ["cond", "cross", "diagonal", "eig", "eigvals", "householder_product", "inv_ex",
           "ldl_factor", "ldl_factor_ex", "ldl_solve", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "multi_dot", "solve_ex",
           "solve_triangular", "tensorinv", "tensorsolve", "vander", "vecdot"]


def _same_dtype(name, A, B):
    if A.dtype != B.dtype:
        raise TypeError(f"{name}: A has dtype {A.dtype} and B {B.dtype}; give both the same "
                        f"dtype, as PyTorch requires (e.g. B.to(A.dtype))")


def _broadcast_batch(name, A, B):
    """A and B expanded to their common batch shape (differentiably, so that the
    gradients sum back over broadcast dimensions)."""
    try:
        batch = np.broadcast_shapes(A.shape[:-2], B.shape[:-2])
    except ValueError:
        raise ShapeError(f"{name}: the batch dimensions of A {tuple(A.shape)} and B "
                         f"{tuple(B.shape)} do not broadcast") from None
    if A.shape[:-2] != batch:
        A = A.expand(*batch, *A.shape[-2:])
    if B.shape[:-2] != batch:
        B = B.expand(*batch, *B.shape[-2:])
    return A, B


# --- solve_triangular ----------------------------------------------------------------------

def _tri_solve_array(T, B, upper):
    """X with T X = B by substitution, T triangular (..., n, n), B (..., n, k) of the same
    batch. A zero on T's diagonal gives inf / NaN, as LAPACK's trtrs in PyTorch (no error)."""
    n = T.shape[-1]
    X = np.array(B, dtype=np.result_type(T, B))
    with np.errstate(all="ignore"):
        for i in (range(n - 1, -1, -1) if upper else range(n)):
            done = slice(i + 1, n) if upper else slice(0, i)
            X[..., i, :] -= (T[..., i:i + 1, done] @ X[..., done, :])[..., 0, :]
            X[..., i, :] /= T[..., i, i][..., None]
    return X


class SolveTriangularOp(Function):
    """X with T X = B, T triangular (the public function passes triu/tril of A, so A's
    gradient lands on that triangle only, as PyTorch's). gB = T^-T g (a triangular solve the
    other way), gT = -gB X^T."""
    __slots__ = ("upper",)
    name = "linalg.solve_triangular"
    def __init__(self, upper): self.upper = upper
    def forward(self, T, B): return _tri_solve_array(T, B, self.upper)

    def backward(self, xp, g, out, T, B):
        gB = xp.solve_tri(xp.swap(T), g, not self.upper)
        return (-(gB @ xp.swap(out)) if self.needs_input_grad[0] else None), gB


def _triangle(A, upper, unitriangular):
    n = A.shape[-1]
    if unitriangular:
        part = _x.triu(A, 1) if upper else _x.tril(A, -1)
        return part + _leaf(np.eye(n, dtype=A.dtype))
    return _x.triu(A) if upper else _x.tril(A)


@op(SolveTriangularOp, export=False)
def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with ``A @ X = B`` (``X @ A = B`` if not ``left``) for a triangular ``A``: only its
    ``upper`` (or lower) triangle is read, and its diagonal taken as ones if
    ``unitriangular``. B is (..., n, k); batches broadcast. A zero on the diagonal gives
    inf / NaN, not an error, as in PyTorch."""
    name = "linalg.solve_triangular"
    A, B = _matrix(name, A), _float(name, B, "B")
    _same_dtype(name, A, B)
    if B.ndim < 2:
        raise ShapeError(f"{name}: B has shape {tuple(B.shape)}; it must have at least 2 "
                         f"dimensions (..., n, k), as in PyTorch: use B.unsqueeze(-1) for a "
                         f"vector")
    if not left:                        # X A = B  <=>  A^H X^H = B^H
        return solve_triangular(A.mH, B.mH, upper=not upper, unitriangular=unitriangular).mH
    if B.shape[-2] != A.shape[-1]:
        raise ShapeError(f"{name}: incompatible shapes of A {tuple(A.shape)} and B "
                         f"{tuple(B.shape)} for the equation AX = B: B needs {A.shape[-1]} "
                         f"rows")
    A, B = _broadcast_batch(name, A, B)
    return SolveTriangularOp(bool(upper))(_triangle(A, upper, unitriangular), B)


NP.solve_tri = staticmethod(_tri_solve_array)
TZ.solve_tri = staticmethod(lambda T, B, upper: solve_triangular(T, B, upper=upper))


# --- LU ------------------------------------------------------------------------------------

def _lu_array(a):
    """LAPACK getrf's answer for each matrix of ``a`` (..., m, n): the packed LU (L's
    multipliers below the diagonal, U on and above), the 1-based int32 pivots (row i was
    swapped with row pivots[i]) and info (0, or the 1-based index of the first zero pivot).
    Partial pivoting, the first largest |value| of the column, as LAPACK."""
    m, n = a.shape[-2:]
    k = min(m, n)
    lu = np.array(a.reshape((int(np.prod(a.shape[:-2])), m, n)), dtype=a.dtype)
    piv, info = np.zeros((len(lu), k), np.int32), np.zeros(len(lu), np.int32)
    rows = np.arange(len(lu))
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1) if m > j else np.full(len(lu), j)
            piv[:, j] = p + 1
            lu[rows, j], lu[rows, p] = lu[rows, p], lu[rows, j].copy()
            d = lu[:, j, j]
            info[(info == 0) & (d == 0)] = j + 1
            lu[:, j + 1:, j] /= np.where(d == 0, 1, d)[:, None]
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    batch = a.shape[:-2]
    return lu.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _perm_matrix(pivots, m, dtype):
    """P with A = P L U, from LAPACK's 1-based pivots (..., k)."""
    flat = pivots.reshape((int(np.prod(pivots.shape[:-1])), pivots.shape[-1])) - 1
    perm = np.tile(np.arange(m), (len(flat), 1))
    rows = np.arange(len(flat))
    for j in range(flat.shape[-1]):
        p = flat[:, j]
        perm[rows, j], perm[rows, p] = perm[rows, p], perm[rows, j].copy()
    P = np.swapaxes(np.eye(m, dtype=dtype)[perm], -1, -2)
    return P.reshape(pivots.shape[:-1] + (m, m))


class LuFactorOp(Function):
    """The packed LU of A = P L U (P from the pivots, kept on the op). With gL, gU the
    strictly lower and upper parts of the incoming gradient and X = L^-1 P^T dA U^-1,
    dL = L tril(X, -1) and dU = triu(X) U, so gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T))
    U^-T; a wide A's extra columns of U and a tall A's extra rows of L go straight
    through (PyTorch's rule)."""
    __slots__ = ("P",)
    name = "linalg.lu_factor"

    def forward(self, A):
        lu, piv, _ = _lu_array(A)
        self.P = _perm_matrix(piv, A.shape[-2], A.dtype)
        return lu

    def backward(self, xp, g, out, A):
        m, n = A.shape[-2:]
        k = min(m, n)
        low, up = np.tril(np.ones((m, k)), -1), np.triu(np.ones((k, n)))
        L, U = out[..., :, :k] * low + np.eye(m, k), out[..., :k, :] * up
        gL, gU = g[..., :, :k] * low, g[..., :k, :] * up
        L1, U1, gL1, gU1 = L[..., :k, :], U[..., :, :k], gL[..., :k, :], gU[..., :, :k]
        M = xp.swap(L1) @ gL1
        N = gU1 @ xp.swap(U1)
        if n > k:
            M = M - gU[..., :, k:] @ xp.swap(U[..., :, k:])
        if m > k:
            N = N - xp.swap(L[..., k:, :]) @ gL[..., k:, :]
        M = M * np.tril(np.ones((k, k)), -1) + N * np.triu(np.ones((k, k)))
        Z = xp.swap(xp.solve_tri(U1, xp.swap(M), True))           # M U1^-T
        Z = xp.solve_tri(xp.swap(L1), Z, True)                      # L1^-T M U1^-T
        if n > k:
            Z = xp.cat_last([Z, xp.solve_tri(xp.swap(L1), gU[..., :, k:], True)])
        if m > k:
            Z2 = xp.swap(xp.solve_tri(U1, xp.swap(gL[..., k:, :]), True))
            Z = xp.swap(xp.cat_last([xp.swap(Z), xp.swap(Z2)]))
        return xp.swap(xp.swap(Z) @ np.swapaxes(self.P, -1, -2))   # P Z


class LUFactor(NamedTuple):
    LU: Tensor
    pivots: Tensor


class LUFactorEx(NamedTuple):
    LU: Tensor
    pivots: Tensor
    info: Tensor


class PLU(NamedTuple):
    P: Tensor
    L: Tensor
    U: Tensor


def _check_pivot(name, pivot):
    if not pivot:
        raise RuntimeError(f"{name}: LU without pivoting is not implemented on the CPU (as in "
                           f"PyTorch); use pivot=True")


def _zero_pivot_error(name, info, fix):
    flat = info.reshape(-1)
    bad = int(np.argmax(flat != 0))
    where = f"(Batch element {bad}): " if info.ndim else ""
    return LinAlgError(f"{name}: {where}U[{flat[bad]},{flat[bad]}] is zero: the matrix is "
                       f"singular; {fix}")


@op(LuFactorOp, export=False)
def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """``(LU, pivots, info)``: A = P L U by partial pivoting (batched, any m x n), packed as
    LAPACK (L's multipliers below the diagonal, U on and above), pivots 1-based int32 and
    info 0 or the first zero pivot (1-based: A singular). Differentiable in LU."""
    name = "linalg.lu_factor_ex"
    _check_pivot(name, pivot)
    A = _matrix(name, A, square=False)
    fn = LuFactorOp()
    LU = fn(A)
    piv, info = _lu_array(_raw(A))[1:]
    if check_errors and info.any():
        raise _zero_pivot_error(name, info, "use check_errors=False to get info instead")
    return LUFactorEx(LU, _leaf(piv), _leaf(info))


def lu_factor(A, *, pivot=True):
    """``(LU, pivots)`` of :func:`lu_factor_ex`; a singular A raises (a zero pivot would
    divide by zero in lu_solve), as in PyTorch."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    if info.data.any():
        raise _zero_pivot_error("linalg.lu_factor", info.data, "to factor it anyway, use "
                                "linalg.lu(A) or linalg.lu_factor_ex(A), as PyTorch suggests")
    return LUFactor(LU, piv)


def _unpack_lu(LU, pivots, data=True, perm=True):
    m, n = LU.shape[-2:]
    k = min(m, n)
    P = _leaf(_perm_matrix(np.asarray(_raw(pivots)), m, LU.dtype)) if perm else None
    if not data:
        return P, None, None
    L = _x.tril(LU[..., :, :k], -1) + _leaf(np.eye(m, k, dtype=LU.dtype))
    return P, L, _x.triu(LU[..., :k, :])


def lu(A, *, pivot=True):
    """``(P, L, U)`` with A = P L U (batched, any m x n): P a permutation matrix, L unit lower
    triangular (m, k), U upper triangular (k, n); differentiable in L and U."""
    _check_pivot("linalg.lu", pivot)
    LU, piv, _ = lu_factor_ex(A)
    return PLU(*_unpack_lu(LU, piv))


def _check_pivots(name, LU, pivots):
    p = _t(pivots)
    if p.dtype != np.int32:
        raise TypeError(f"{name}: pivots must be int32 (as lu_factor returns), got {p.dtype}")
    if tuple(p.shape) != tuple(LU.shape[:-2]) + (min(LU.shape[-2:]),):
        raise ShapeError(f"{name}: pivots of shape {tuple(p.shape)} do not fit LU of shape "
                         f"{tuple(LU.shape)}; pass the pivots lu_factor returned with it")
    return p


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B from A's :func:`lu_factor` (``adjoint``: A^T X = B; not ``left``:
    X A = B), batched with broadcasting; differentiable in LU and B."""
    name = "linalg.lu_solve"
    LU, B = _matrix(name, LU), _float(name, B, "B")
    _same_dtype(name, LU, B)
    pivots = _check_pivots(name, LU, pivots)
    if B.ndim < 2:
        raise ShapeError(f"{name}: B has shape {tuple(B.shape)}; it must have at least 2 "
                         f"dimensions (..., n, k), as in PyTorch")
    if not left:                        # X A = B <=> A^H X^H = B^H
        return lu_solve(LU, pivots, B.mH, adjoint=not adjoint).mH
    if B.shape[-2] != LU.shape[-1]:
        raise ShapeError(f"{name}: incompatible shapes of LU {tuple(LU.shape)} and B "
                         f"{tuple(B.shape)}: B needs {LU.shape[-1]} rows")
    P, L, U = _unpack_lu(LU, pivots)
    if adjoint:                         # A^H = U^H L^H P^T
        Y = solve_triangular(U.mH, B, upper=False)
        return P @ solve_triangular(L.mH, Y, upper=True, unitriangular=True)
    Y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
    return solve_triangular(U, Y, upper=True)


# --- matrix_exp ----------------------------------------------------------------------------

_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def _expm_array(a):
    """exp(A) for each matrix of ``a``: scaling and squaring with the [13/13] Padé
    approximant (Higham 2005), in float64 (complex128), returned in a's dtype."""
    A = np.asarray(a, np.complex128 if np.iscomplexobj(a) else np.float64)
    n = A.shape[-1]
    norm1 = np.abs(A).sum(axis=-2).max(axis=-1, initial=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.ceil(np.log2(norm1 / _THETA13))
    s = np.where(np.isfinite(s) & (s > 0), s, 0).astype(np.int64)
    A = A / (2.0 ** s)[..., None, None]
    b, eye = _PADE13, np.eye(n)
    A2 = A @ A
    A4 = A2 @ A2
    A6 = A4 @ A2
    U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2
             + b[1] * eye)
    V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 \
        + b[0] * eye
    with np.errstate(all="ignore"):
        try:
            R = np.linalg.solve(V - U, V + U)
        except np.linalg.LinAlgError:       # non-finite input: NaN, as PyTorch
            R = np.full(A.shape, np.nan)
        for k in range(int(s.max(initial=0))):
            R = np.where((k < s)[..., None, None], R @ R, R)
    return R.astype(a.dtype)


class MatrixExpOp(Function):
    """exp(A). Its derivative in direction E is the top right block of
    exp([[A, E], [0, A]]), so gA is the top right block of exp([[A^T, g], [0, A^T]])
    (Mathias 1996; PyTorch's rule): one exponential of twice the size, itself recorded
    under create_graph."""
    __slots__ = ()
    name = "linalg.matrix_exp"
    def forward(self, A): return _expm_array(A)

    def backward(self, xp, g, out, A):
        n = A.shape[-1]
        At = xp.swap(A)
        top, bottom = xp.cat_last([At, g]), xp.cat_last([At * 0, At])
        M = xp.swap(xp.cat_last([xp.swap(top), xp.swap(bottom)]))
        return xp.matrix_exp(M)[..., :n, n:]


@op(MatrixExpOp, methods=("matrix_exp",))
def matrix_exp(A):
    """The matrix exponential exp(A) = sum A^k / k! of the square ``A`` (batched)."""
    return MatrixExpOp()(_matrix("linalg.matrix_exp", A))


NP.matrix_exp = staticmethod(_expm_array)
TZ.matrix_exp = staticmethod(matrix_exp)


# --- the _ex variants: an info tensor instead of an error -------------------------------------

class InvEx(NamedTuple):
    inverse: Tensor
    info: Tensor


class SolveEx(NamedTuple):
    result: Tensor
    info: Tensor


def _ex(name, A, info, check_errors, compute, what=None):
    """compute(A) with each singular matrix (info > 0) replaced by I, then NaN there (PyTorch
    leaves whatever LAPACK stopped at, inf or NaN); ``check_errors`` raises instead."""
    if check_errors and info.any():
        flat = info.reshape(-1)
        bad = int(np.argmax(flat != 0))
        where = f"(Batch element {bad}): " if info.ndim else ""
        what = what or (f"The diagonal element {flat[bad]} is zero, the inversion could not "
                        f"be completed because the input matrix is singular")
        raise LinAlgError(f"{name}: {where}{what} (as PyTorch says); use check_errors=False "
                          f"to get info instead")
    if not info.any():
        return compute(A), _leaf(info)
    bad = (info != 0)[..., None, None]
    out = compute(_ops.where(bad, np.eye(A.shape[-1], dtype=A.dtype), A))
    return _ops.where(bad if out.ndim == A.ndim else bad[..., 0], np.nan, out), _leaf(info)


def inv_ex(A, *, check_errors=False):
    """``(inverse, info)``: :func:`~zeroin.linalg.inv` without raising; info (int32) is 0
    where A is invertible, else the first zero pivot of its LU (1-based). The inverse of a
    singular matrix is NaN."""
    A = _matrix("linalg.inv_ex", A)
    info = _lu_array(A.data)[2]
    return InvEx(*_ex("linalg.inv_ex", A, info, check_errors, inv))


def solve_ex(A, B, *, left=True, check_errors=False):
    """``(result, info)``: :func:`~zeroin.linalg.solve` without raising (info as in
    :func:`inv_ex`; the result NaN for a singular A)."""
    A = _matrix("linalg.solve_ex", A)
    info = _lu_array(A.data)[2]
    result, info = _ex("linalg.solve_ex", A, info, check_errors,
                       lambda A: solve(A, B, left=left),
                       "The solver failed because the input matrix is singular")
    return SolveEx(result, info)


# --- built from other ops ------------------------------------------------------------------

def multi_dot(tensors):
    """The product of the matrices in ``tensors`` (two or more; the first may be a 1-D row
    and the last a 1-D column vector, their dimension dropped from the result), multiplied
    in the order that costs the fewest scalar products, as PyTorch."""
    ts = [_t(t) for t in tensors]
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    for i, t in enumerate(ts):
        allowed = (1, 2) if i in (0, len(ts) - 1) else (2,)
        if t.ndim not in allowed:
            which = "first" if i == 0 else "last" if i == len(ts) - 1 else "middle"
            raise RuntimeError(f"multi_dot(): the {which} tensor must be "
                               f"{' or '.join(f'{d}D' for d in allowed)} but got {t.ndim}D")
    first, last = ts[0].ndim == 1, ts[-1].ndim == 1
    mats = [ts[0].unsqueeze(0) if first else ts[0]] + ts[1:-1] + \
           [ts[-1].unsqueeze(1) if last else ts[-1]]
    for a, b in zip(mats, mats[1:]):
        if a.shape[1] != b.shape[0]:
            raise ShapeError(f"multi_dot(): tensors of shapes {tuple(a.shape)} and "
                             f"{tuple(b.shape)} cannot be multiplied")
    dims = [mats[0].shape[0]] + [m.shape[1] for m in mats]
    out = _chain(mats, _chain_order(dims), 0, len(mats) - 1)
    if last:
        out = out.squeeze(-1)
    return out.squeeze(0) if first else out


def _chain_order(d):
    """split[i][j]: where to split the product of matrices i..j (d: their dimensions)."""
    n = len(d) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min((cost[i][k] + cost[k + 1][j]
                                           + d[i] * d[k + 1] * d[j + 1], k) for k in range(i, j))
    return split


def _chain(mats, split, i, j):
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def cross(input, other, *, dim=-1):  # noqa: A002
    """The cross product of 3-vectors along ``dim`` (default the last, unlike the old
    ``torch.cross``), broadcasting."""
    a, b = _ops._pair(input, other)
    if a.ndim != b.ndim:
        raise ShapeError(f"linalg.cross: inputs must have the same number of dimensions, as "
                         f"in PyTorch, got shapes {tuple(a.shape)} and {tuple(b.shape)}; "
                         f"unsqueeze the smaller one (size-1 dimensions broadcast)")
    d = _ops._check_axis("linalg.cross", a, dim)
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise ShapeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                         f"{a.shape[d]} and {b.shape[d]} (shapes {tuple(a.shape)} and "
                         f"{tuple(b.shape)})")
    from ._tensor_api import cross as _cross
    return _cross(a, b, dim=d)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The ``offset`` diagonal of each matrix in the plane (dim1, dim2) (last two by
    default): :func:`zeroin.diagonal` with linalg's defaults."""
    return _x.diagonal(A, offset, dim1, dim2)


def vecdot(x, y, *, dim=-1):
    """The dot product of the vectors along ``dim``, broadcasting: sum(conj(x) * y, dim),
    the first conjugated as PyTorch's (real: sum(x * y, dim))."""
    x, y = _ops._pair(x, y)
    return (x.conj() * y).sum(dim)


def matmul(input, other):  # noqa: A002
    """``torch.linalg.matmul``: the same as ``zeroin.matmul``."""
    return _ops.matmul(input, other)


def vander(x, *, N=None):  # noqa: N803
    """The Vandermonde matrices of the vectors ``x`` (..., n): (..., n, N) with columns
    x**0, x**1, ..., x**(N-1) (increasing, unlike the old ``torch.vander``); N > 1."""
    v = _t(x)
    if v.ndim < 1:
        raise ShapeError("linalg.vander: x must have at least one dimension, got a 0-d tensor")
    n = v.shape[-1] if N is None else N
    if not isinstance(n, numbers.Integral) or n <= 1:
        raise RuntimeError(f"linalg.vander: N must be greater than 1 (as in PyTorch), got {n}")
    if v.dtype.kind == "b" or v.dtype.kind in "iu":
        v = v.to(np.int64)
    ones = _leaf(np.ones(tuple(v.shape) + (1,), dtype=v.dtype))
    cols = _ops.concatenate([ones, v.unsqueeze(-1).expand(*v.shape, n - 1)], -1)
    return _x.cumprod(cols, -1)


def tensorinv(A, ind=2):
    """The inverse of ``A`` seen as a linear map from its first ``ind`` dimensions' product
    to the rest: shape A.shape[ind:] + A.shape[:ind]."""
    A = _float("linalg.tensorinv", A)
    if not isinstance(ind, numbers.Integral) or ind <= 0:
        raise ValueError(f"linalg.tensorinv: ind must be a positive integer, got {ind!r}")
    front, back = A.shape[:ind], A.shape[ind:]
    if int(np.prod(front)) != int(np.prod(back)):
        raise ShapeError(f"linalg.tensorinv: A of shape {tuple(A.shape)} with ind={ind}: "
                         f"prod(shape[ind:]) == prod(shape[:ind]) is needed, got "
                         f"{int(np.prod(back))} != {int(np.prod(front))}")
    size = int(np.prod(front))
    return inv(A.reshape(size, size)).reshape(*back, *front)


def tensorsolve(A, B, dims=None):
    """X with ``tensordot(A, X, X.ndim) = B``: X has shape A.shape[B.ndim:] (after moving
    ``dims`` of A to the end)."""
    A, B = _float("linalg.tensorsolve", A), _float("linalg.tensorsolve", B, "B")
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.permute(*[d for d in range(A.ndim) if d not in dims], *dims)
    rest = A.shape[B.ndim:]
    if tuple(A.shape[:B.ndim]) != tuple(B.shape) or \
            int(np.prod(rest)) != int(np.prod(B.shape)):
        raise ShapeError(f"linalg.tensorsolve: A of shape {tuple(A.shape)} and B of shape "
                         f"{tuple(B.shape)}: A must start with B's shape and the rest must "
                         f"have as many elements as B")
    size = int(np.prod(B.shape))
    return solve(A.reshape(size, size), B.reshape(size)).reshape(*rest)


_COND_P = (None, "fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2)


def cond(A, p=None):
    """The condition number of A in the norm ``p``: for None / 2 / -2 the ratio of its
    largest and smallest singular values (any m x n); for 'nuc' sum(s) * sum(1 / s); for
    'fro', inf, -inf, 1, -1, norm(A) * norm(inv(A)), inf where A is singular (as PyTorch;
    all but None / 2 / -2 need a square A)."""
    if p not in _COND_P:
        raise ValueError(f"linalg.cond: p={p!r}; use None, 'fro', 'nuc', inf, -inf, 1, -1, 2 "
                         f"or -2")
    A = _matrix(f"linalg.cond(ord={p})", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2, "nuc"):
        s = svdvals(A)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == "nuc":              # sum(s) * sum(1 / s), as PyTorch: NaN for A = 0
                return s.sum(-1) * (1 / s).sum(-1)
            return s[..., -1] / s[..., 0] if p == -2 else s[..., 0] / s[..., -1]
    Ainv, info = inv_ex(A)
    bad = info.data != 0
    r = matrix_norm(A, p) * matrix_norm(_ops.where(bad[..., None, None], 0.0, Ainv), p)
    return _ops.where(bad, np.inf, r) if bad.any() else r


def householder_product(A, tau):
    """The first n columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^H with v_i the i-th
    column of ``A`` (m, n) below the diagonal and 1 on it (LAPACK's orgqr: Q from geqrf's
    packed reflectors); batched, composed of differentiable ops."""
    name = "torch.linalg.householder_product"
    A, tau = _matrix(name, A, square=False), _float(name, tau, "tau")
    _same_dtype(name, A, tau)
    m, n = A.shape[-2:]
    if m < n:
        raise ShapeError(f"{name}: input.shape[-2] must be greater than or equal to "
                         f"input.shape[-1], got A of shape {tuple(A.shape)}")
    if tau.ndim < 1 or tau.shape[-1] > n:
        raise ShapeError(f"{name}: input.shape[-1] must be greater than or equal to "
                         f"tau.shape[-1], got A {tuple(A.shape)} and tau {tuple(tau.shape)}")
    if tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise ShapeError(f"{name}: Expected batch dimensions of tau to be equal to "
                         f"input.shape[:-2], but got {list(tau.shape[:-1])}")
    Q = _leaf(np.broadcast_to(np.eye(m, dtype=A.dtype), tuple(A.shape[:-2]) + (m, m)).copy())
    rows = np.arange(m)
    for i in range(tau.shape[-1]):
        v = A[..., :, i] * (rows > i).astype(A.dtype) + _leaf((rows == i).astype(A.dtype))
        Qv = (Q @ v[..., :, None]) * tau[..., i, None, None]
        Q = Q - Qv @ v.conj()[..., None, :]        # H_i = I - tau_i v_i v_i^H
    return Q[..., :, :n]


def _approximate_basis(A, q, niter):
    """Q (m, q) with orthonormal columns whose span nearly holds A's range: Halko et al.
    (2009), a random start (zeroin's generator) and ``niter`` power iterations."""
    from ._creation import randn
    R = randn(A.shape[-1], q, dtype=A.dtype)
    Q = qr(A @ R).Q
    for _ in range(niter):
        Q = qr(A @ qr(A.mH @ Q).Q).Q
    return Q


def svd_lowrank(A, q=6, niter=2, M=None):
    """``(U, S, V)``, an approximate rank-``q`` SVD of ``A`` (minus ``M``), A ~ U diag(S)
    V^H, by a random projection (Halko et al. 2009, as PyTorch): exact up to rounding where
    q >= rank(A); random otherwise (zeroin's generator, so not PyTorch's numbers)."""
    A = _matrix("svd_lowrank", A, square=False)
    q = 6 if q is None else q
    m, n = A.shape[-2:]
    if M is not None:
        A = A - _t(M).broadcast_to(tuple(A.shape))
    if m < n:
        A = A.mH
    Q = _approximate_basis(A, q, 2 if niter is None else niter)
    B = Q.mH @ A
    U, S, Vh = svd(B, full_matrices=False)
    U, V = Q @ U, Vh.mH
    return SVDOld(V, S, U) if m < n else SVDOld(U, S, V)


def pca_lowrank(A, q=None, center=True, niter=2):
    """``(U, S, V)`` of :func:`svd_lowrank` of ``A`` with its column means subtracted
    (``center``): the principal directions are V's columns; q defaults to min(6, m, n)."""
    A = _matrix("pca_lowrank", A, square=False)
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    return svd_lowrank(A - A.mean(-2, keepdim=True) if center else A, q, niter)


# --- ldl_factor, ldl_solve (LAPACK's sytf2 / sytrs; no derivative, as in PyTorch) ------------

_BK_ALPHA = (1 + math.sqrt(17)) / 8


def _bk_choice(a, k):
    """Bunch-Kaufman's pivot for column k of the (0-based) lower-stored ``a``: (kp, kstep),
    or None where the column is zero (singular)."""
    n = len(a)
    absakk = abs(a[k, k])
    imax, colmax = k, 0.0
    if k < n - 1:
        imax = k + 1 + int(np.argmax(np.abs(a[k + 1:, k])))
        colmax = abs(a[imax, k])
    if not max(absakk, colmax) > 0:
        return None
    if absakk >= _BK_ALPHA * colmax:
        return k, 1
    rowmax = np.abs(a[imax, k:imax]).max()
    if imax < n - 1:
        rowmax = max(rowmax, np.abs(a[imax + 1:, imax]).max())
    if absakk >= _BK_ALPHA * colmax * (colmax / rowmax):
        return k, 1
    if abs(a[imax, imax]) >= _BK_ALPHA * rowmax:
        return imax, 1
    return imax, 2


def _sym_swap(a, k, kk, kp, kstep):
    """Interchange rows and columns kk and kp of the trailing lower-stored matrix."""
    a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
    seg = a[kk + 1:kp, kk].copy()
    a[kk + 1:kp, kk] = a[kp, kk + 1:kp]
    a[kp, kk + 1:kp] = seg
    a[[kk, kp], [kk, kp]] = a[[kp, kk], [kp, kk]]
    if kstep == 2:
        a[[k + 1, kp], k] = a[[kp, k + 1], k]


def _sytf2(a):
    """LAPACK dsytf2 (lower): A = L D L^T with Bunch-Kaufman pivoting; returns the packed
    LD (upper triangle zeroed, as PyTorch), the 1-based pivots (negative for 2 x 2 blocks)
    and info (the first zero 1 x 1 block, or 0)."""
    a, n = np.tril(a).astype(a.dtype), len(a)
    piv, info, k = np.zeros(n, np.int32), 0, 0
    with np.errstate(all="ignore"):
        while k < n:
            choice = _bk_choice(a, k)
            kp, kstep = choice or (k, 1)
            if choice is None:
                info = info or k + 1
            elif kp != k + kstep - 1:
                _sym_swap(a, k, k + kstep - 1, kp, kstep)
            if choice is not None and kstep == 1 and k < n - 1:
                x = a[k + 1:, k].copy()
                a[k + 1:, k + 1:] -= np.tril(np.outer(x, x)) / a[k, k]
                a[k + 1:, k] = x / a[k, k]
            elif choice is not None and kstep == 2 and k < n - 2:
                d21 = a[k + 1, k]
                d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
                d21 = 1 / (d11 * d22 - 1) / d21
                wk = d21 * (d11 * a[k + 2:, k] - a[k + 2:, k + 1])
                wkp1 = d21 * (d22 * a[k + 2:, k + 1] - a[k + 2:, k])
                a[k + 2:, k + 2:] -= np.tril(np.outer(a[k + 2:, k], wk)
                                             + np.outer(a[k + 2:, k + 1], wkp1))
                a[k + 2:, k], a[k + 2:, k + 1] = wk, wkp1
            piv[k:k + kstep] = kp + 1 if kstep == 1 else -(kp + 1)
            k += kstep
    return a, piv, info


def _sytrs(ld, piv, b):
    """LAPACK dsytrs (lower): X with A X = B from :func:`_sytf2`'s LD and pivots."""
    n, b = len(ld), np.array(b, dtype=ld.dtype)
    k = 0
    while k < n:                        # L D Y = B
        if piv[k] > 0:
            kp = piv[k] - 1
            b[[k, kp]] = b[[kp, k]]
            b[k + 1:] -= np.outer(ld[k + 1:, k], b[k])
            b[k] /= ld[k, k]
            k += 1
            continue
        kp = -piv[k] - 1
        b[[k + 1, kp]] = b[[kp, k + 1]]
        b[k + 2:] -= np.outer(ld[k + 2:, k], b[k]) + np.outer(ld[k + 2:, k + 1], b[k + 1])
        akm1k = ld[k + 1, k]
        akm1, ak = ld[k, k] / akm1k, ld[k + 1, k + 1] / akm1k
        bkm1, bk = b[k] / akm1k, b[k + 1] / akm1k
        denom = akm1 * ak - 1
        b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
        k += 2
    k = n - 1
    while k >= 0:                       # L^T X = Y
        step = 1 if piv[k] > 0 else 2
        for j in range(k, k - step, -1):
            b[j] -= ld[k + 1:, j] @ b[k + 1:]
        kp = abs(piv[k]) - 1
        b[[k, kp]] = b[[kp, k]]
        k -= step
    return b


class LDLFactor(NamedTuple):
    LD: Tensor
    pivots: Tensor


class LDLFactorEx(NamedTuple):
    LD: Tensor
    pivots: Tensor
    info: Tensor


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """``(LD, pivots, info)``: A = L D L^T of the symmetric ``A`` (its lower triangle is
    read) by Bunch-Kaufman pivoting, packed as LAPACK's sytrf (D's 1 x 1 and 2 x 2 blocks on
    the diagonal, pivots 1-based, negative for 2 x 2 blocks). No derivative, as in PyTorch."""
    A = _matrix("linalg.ldl_factor_ex", A)
    a = _raw(A)
    flat = a.reshape((int(np.prod(a.shape[:-2])),) + a.shape[-2:])
    parts = [_sytf2(m) for m in flat]
    ld = np.stack([p[0] for p in parts]).reshape(a.shape) if parts else a.copy()
    piv = np.array([p[1] for p in parts], np.int32).reshape(a.shape[:-1])
    info = np.array([p[2] for p in parts], np.int32).reshape(a.shape[:-2])
    if check_errors and info.any():
        raise _zero_pivot_error("linalg.ldl_factor_ex", info, "D is singular")
    LD = _x_no_derivative("linalg_ldl_factor_ex", ld, A)
    return LDLFactorEx(LD, _leaf(piv), _leaf(info))


def ldl_factor(A, *, hermitian=False):
    """``(LD, pivots)`` of :func:`ldl_factor_ex` (a singular D is not an error, as in
    PyTorch: ldl_solve then gives inf / NaN)."""
    LD, piv, _ = ldl_factor_ex(A, hermitian=hermitian)
    return LDLFactor(LD, piv)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with A X = B from A's :func:`ldl_factor`; no derivative, as in PyTorch."""
    name = "linalg.ldl_solve"
    LD, B = _matrix(name, LD), _float(name, B, "B")
    _same_dtype(name, LD, B)
    piv = np.asarray(_raw(pivots))
    if piv.dtype != np.int32 or piv.shape != tuple(LD.shape[:-1]):
        raise ShapeError(f"{name}: pivots must be the int32 tensor of shape "
                         f"{tuple(LD.shape[:-1])} that ldl_factor returned with LD")
    if B.ndim < 2 or B.shape[-2] != LD.shape[-1]:
        raise ShapeError(f"{name}: B of shape {tuple(B.shape)} must be (..., "
                         f"{LD.shape[-1]}, k)")
    batch = np.broadcast_shapes(LD.shape[:-2], B.shape[:-2])
    ld = np.broadcast_to(_raw(LD), batch + LD.shape[-2:])
    p = np.broadcast_to(piv, batch + piv.shape[-1:])
    b = np.broadcast_to(_raw(B), batch + B.shape[-2:])
    x = np.empty(b.shape, LD.dtype)
    with np.errstate(all="ignore"):
        for i in np.ndindex(*batch):
            x[i] = _sytrs(ld[i], p[i], b[i])
    return _x_no_derivative("linalg_ldl_solve", x, LD, B)


def _x_no_derivative(op_name, value, *inputs):
    from .function import no_derivative
    why = f"derivative for aten::{op_name} is not implemented (as in PyTorch)"
    return no_derivative(op_name, lambda *_: value, *inputs, why=why)


class EigOp(Function):
    """A V = V diag(L) for a general square A (LAPACK's geev, as PyTorch's CPU): complex
    eigenvalues and unit eigenvectors, packed. Not holomorphic (the eigenvectors are
    normalised), so its rule is PyTorch's own: gA = V^-H (diag(gL) + (V^H gV -
    V^H V diag(Re(V^H gV)_ii)) / conj(L_j - L_i)) V^H, refused where the loss depends on
    the eigenvectors' phases (ill-defined, PyTorch's check); a real A keeps Re(gA)."""
    __slots__ = ()
    name = "linalg.eig"
    holomorphic = False

    def forward(self, A):
        L, V = np.linalg.eig(A)
        c = np.result_type(A.dtype, np.complex64)
        return _pack(A.shape[:-2], L.astype(c, copy=False), V.astype(c, copy=False))

    def backward(self, xp, g, out, A):
        if xp is not NP:
            raise NotImplementedError("linalg.eig: its double backward (create_graph=True) "
                                      "is not supported in zeroin")
        n = A.shape[-1]
        L, V = _unpack(out, ((n,), (n, n)))
        gL, gV = _unpack(g, ((n,), (n, n)))
        Vh = np.conj(np.swapaxes(V, -1, -2))
        VhgV = Vh @ gV
        d = np.diagonal(VhgV, 0, -2, -1)
        if not np.allclose(d.imag, 0, rtol=1e-2, atol=1e-2):
            raise RuntimeError(
                "linalg_eig_backward: The eigenvectors in the complex case are specified up "
                "to multiplication by e^{i phi}. The specified loss function depends on this "
                "quantity, so it is ill-defined; make the loss depend on |V| or on V V^-1")
        gA = VhgV - Vh @ (V * d.real[..., None, :])
        Lc = np.conj(L)
        E = Lc[..., None, :] - Lc[..., :, None]
        i = np.arange(n)
        E[..., i, i] = 1
        gA = gA / E
        gA[..., i, i] += gL
        return np.linalg.solve(Vh, gA @ Vh)


class Eig(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


def _square(op_name, A):
    A = _t(A)
    if A.dtype.kind not in "fc":
        raise DtypeError(f"{op_name}: A has dtype {A.dtype}; it needs a float or complex "
                         f"dtype, as in PyTorch: convert first, e.g. A.double()")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise ShapeError(f"{op_name}: A must be a square matrix or a batch of them "
                         f"(..., n, n), got shape {tuple(A.shape)}")
    return A


@op(EigOp, export=False)
def eig(A):
    """``(eigenvalues, eigenvectors)`` of a general square ``A`` (batched): complex (complex64
    from float32), the eigenvectors of unit norm, in LAPACK's order, as PyTorch's CPU."""
    A = _square("linalg.eig", A)
    n = A.shape[-1]
    return Eig(*_unpack(EigOp()(A), ((n,), (n, n))))


def eigvals(A):
    """The complex eigenvalues of a general square ``A`` (batched), as :func:`eig`'s."""
    return eig(A).eigenvalues


# --- PyTorch's older top-level names (deprecated there, with its warnings) -----------------

def _deprecated(old, new):
    warnings.warn(f"torch.{old} is deprecated in favor of {new} and will be removed in a "
                  f"future PyTorch release.", UserWarning, stacklevel=3)


def cholesky_top(input, upper=False):  # noqa: A002
    """``torch.cholesky``: :func:`zeroin.linalg.cholesky` (deprecated in PyTorch)."""
    _deprecated("cholesky", "torch.linalg.cholesky")
    return _cholesky(input, upper=upper)


def _other_triangle(L, upper):
    """Whether L has nonzeros outside its ``upper`` (or lower) triangle (PyTorch reads only
    the triangle, but differentiates as if L were the full matrix)."""
    a = _raw(L)
    return bool((np.tril(a, -1) if upper else np.triu(a, 1)).any())


def cholesky_solve(B, L, upper=False):
    """X with A X = B for A = L L^H (``upper``: A = U^H U), L a Cholesky factor. As in
    PyTorch only L's triangle is read, and the gradient is that of solve(L @ L.mH, B)."""
    name = "cholesky_solve"
    L, B = _matrix(name, L), _float(name, B, "B")
    _same_dtype(name, L, B)
    if B.ndim < 2:
        raise ShapeError(f"{name}: B has shape {tuple(B.shape)}; it must have at least 2 "
                         f"dimensions (..., n, k), as in PyTorch")
    X = solve(L.mH @ L if upper else L @ L.mH, B)
    if _other_triangle(L, upper):       # the value from the triangle only, as PyTorch's
        low = NP.adj(np.triu(_raw(L))) if upper else np.tril(_raw(L))
        low = np.broadcast_to(low, tuple(X.shape[:-2]) + low.shape[-2:])
        Y = _tri_solve_array(low, np.broadcast_to(_raw(B), X.shape), False)
        X = X + _leaf(_tri_solve_array(NP.adj(low), Y, True) - X.data)
    return X


def cholesky_inverse(L, upper=False):
    """(L L^H)^-1 (``upper``: (U^H U)^-1) from a Cholesky factor; only L's triangle is read,
    the gradient is that of inv(L @ L.mH), as in PyTorch."""
    L = _matrix("cholesky_inverse", L)
    X = inv(L.mH @ L if upper else L @ L.mH)
    if _other_triangle(L, upper):       # the value from the triangle only, as PyTorch's
        T = np.triu(_raw(L)) if upper else np.tril(_raw(L))
        Tt = NP.adj(T)
        X = X + _leaf(np.linalg.inv(Tt @ T if upper else T @ Tt) - X.data)
    return X


class TriangularSolve(NamedTuple):
    solution: Tensor
    cloned_coefficient: Tensor


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """``torch.triangular_solve``: ``(X, A.clone())`` with A X = b (A^T X = b if
    ``transpose``); note b first and upper=True by default (deprecated in PyTorch, which
    prefers linalg.solve_triangular(A, b, upper=...))."""
    _deprecated("triangular_solve", "torch.linalg.solve_triangular")
    A = _matrix("triangular_solve", A)
    T, up = (A.mT, not upper) if transpose else (A, upper)
    X = solve_triangular(T, b, upper=up, unitriangular=unitriangular)
    return TriangularSolve(X, _x.clone(A))


class LUWithInfo(NamedTuple):
    LU: Tensor
    pivots: Tensor
    info: Tensor


def lu_top(A, pivot=True, get_infos=False):
    """``torch.lu``: ``(LU, pivots)``, or with ``get_infos`` ``(LU, pivots, info)``, of
    :func:`lu_factor_ex` (a singular A does not raise, as in PyTorch; deprecated there)."""
    _deprecated("lu", "torch.linalg.lu_factor / torch.linalg.lu_factor_ex")
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return LUWithInfo(LU, pivots, info) if get_infos else LUFactor(LU, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):  # noqa: N803
    """``(P, L, U)`` from the packed LU and pivots of :func:`lu_factor`; the parts not
    unpacked are empty tensors, as in PyTorch."""
    LU = _matrix("lu_unpack", LU_data, square=False)
    pivots = _check_pivots("lu_unpack", LU, LU_pivots)
    P, L, U = _unpack_lu(LU, pivots, unpack_data, unpack_pivots)
    empty = _leaf(np.zeros((0,), LU.dtype))
    return PLU(P if P is not None else empty, L if L is not None else empty,
               U if U is not None else empty)


def lu_solve_top(b, LU_data, LU_pivots):  # noqa: N803
    """``torch.lu_solve(b, LU, pivots)``: :func:`lu_solve` with its arguments in the old
    order (deprecated in PyTorch)."""
    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solve and will be "
                  "removed in a future PyTorch release. Note that torch.linalg.lu_solve has its "
                  "arguments reversed.", UserWarning, stacklevel=2)
    return lu_solve(LU_data, LU_pivots, b)


class SVDOld(NamedTuple):
    U: Tensor
    S: Tensor
    V: Tensor


def svd_top(input, some=True, compute_uv=True):  # noqa: A002
    """``torch.svd``, the old form: ``(U, S, V)`` with A = U diag(S) V^H (V, not Vh);
    ``some``: reduced U and V; without ``compute_uv`` U and V are zeros of shape (m, m) and
    (n, n), as in PyTorch."""
    A = _matrix("svd", input, square=False)
    if not compute_uv:
        m, n = A.shape[-2:]
        z = lambda k: _leaf(np.zeros(tuple(A.shape[:-2]) + (k, k), A.dtype))  # noqa: E731
        return SVDOld(z(m), svdvals(A), z(n))      # (PyTorch's zeros: A's dtype)
    U, S, Vh = svd(A, full_matrices=not some)
    return SVDOld(U, S, Vh.mH)


def qr_top(input, some=True):  # noqa: A002
    """``torch.qr``: :func:`zeroin.linalg.qr` with mode 'reduced' (``some``) or 'complete'
    (deprecated in PyTorch)."""
    _deprecated("qr", "torch.linalg.qr")
    return qr(input, "reduced" if some else "complete")


def chain_matmul(*matrices):
    """The product of the 2-D ``matrices`` (:func:`multi_dot`; deprecated in PyTorch)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for m in matrices:
        if _t(m).ndim != 2:
            raise RuntimeError(f"chain_matmul: Tensor dimension is {_t(m).ndim}, expected 2 "
                               f"instead.")
    if len(matrices) == 1:
        return _x.clone(_t(matrices[0]))
    return multi_dot(matrices)


def nuclear_norm(input, dim=None, keepdim=False):  # noqa: A002
    """The nuclear norm (sum of singular values) of the matrices in ``dim`` (the last two
    of a 2-D input by default): ``linalg.matrix_norm(A, 'nuc', dim, keepdim)``."""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. "
                  "It will be removed in a future PyTorch release. Please use "
                  "`linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    if isinstance(dim, bool):          # nuclear_norm(A, keepdim) positionally
        dim, keepdim = None, dim
    A = _t(input)
    if dim is None and A.ndim != 2:
        raise RuntimeError(f"nuclear_norm: expected a 2-D tensor without dim, got shape "
                           f"{tuple(A.shape)}; give dim=(-2, -1) for a batch")
    return matrix_norm(A, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim)


def frobenius_norm(input, dim, keepdim=False):  # noqa: A002
    """sqrt(sum(A**2)) over ``dim``: ``linalg.vector_norm(A, 2, dim, keepdim)``."""
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT "
                  "compatibility. It will be removed in a future PyTorch release. Please use "
                  "`linalg.vector_norm(A, 2., dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    from .linalg import vector_norm
    return vector_norm(input, 2, dim, keepdim)


TORCH_NAMES = {"cholesky": cholesky_top, "cholesky_solve": cholesky_solve,
               "cholesky_inverse": cholesky_inverse, "triangular_solve": triangular_solve,
               "lu": lu_top, "lu_unpack": lu_unpack, "lu_solve": lu_solve_top,
               "svd": svd_top, "qr": qr_top,
               "chain_matmul": chain_matmul, "nuclear_norm": nuclear_norm,
               "frobenius_norm": frobenius_norm, "svd_lowrank": svd_lowrank,
               "pca_lowrank": pca_lowrank}

Tensor.cholesky = cholesky_top
Tensor.cholesky_solve = cholesky_solve
Tensor.cholesky_inverse = cholesky_inverse
Tensor.triangular_solve = triangular_solve
Tensor.lu = lu_top
Tensor.lu_solve = lu_solve_top
Tensor.svd = svd_top
Tensor.qr = qr_top
