"""``zeroin.linalg``: the linear-algebra functions PyTorch code reaches for most.

Same layout as :mod:`zeroin.ops`: one block per op, its ``...Op`` class (forward on NumPy's
``numpy.linalg``, backward written with ``xp`` so that it can be differentiated again),
then its public function. Inputs are matrices ``(..., m, n)`` batched over the leading
dimensions, as in PyTorch. Functions built from other ops (``logdet``, ``matrix_power``,
``lstsq``...) have no rule of their own. Rules that need another decomposition of their
input (det needs inv, svdvals needs U and Vh) call it through ``xp`` (``xp.inv``,
``xp.svd_reduced``...: NumPy's on arrays, the recorded op under ``create_graph``), added to
:class:`~zeroin.function.NP` and :class:`~zeroin.ops.TZ` next to the op.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

from ._tensor import Tensor, _leaf, _raw
from ._tensor import is_grad_enabled as _grad_enabled
from ._torch_ops import norm as _norm
from .errors import DtypeError, ShapeError, ZeroinError
from .function import NP, Function
from .ops import TZ, _DimError, _t, op
from .ops import concatenate as _concatenate
from .ops import where as _where

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig",
           "eigh", "eigvals", "eigvalsh", "householder_product", "inv", "inv_ex", "inverse",
           "ldl_factor", "ldl_factor_ex", "ldl_solve", "logdet", "lstsq", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "norm", "pinv", "pinverse", "qr", "slogdet", "solve",
           "solve_ex", "solve_triangular", "svd", "svdvals", "tensorinv", "tensorsolve", "vander",
           "vecdot", "vector_norm"]


class LinAlgError(ZeroinError):
    """A matrix the op cannot take (singular for ``inv``/``solve``): a RuntimeError, as
    PyTorch's ``torch.linalg.LinAlgError``."""


# --- shared checks ----------------------------------------------------------------------

# the ops that take complex matrices (their rules give PyTorch's complex gradients); the
# rest refuse them, with an error that says so
_COMPLEX_OK = frozenset(f"linalg.{n}" for n in (
    "inv", "solve", "det", "slogdet", "matrix_power", "matrix_exp", "inv_ex", "solve_ex",
    "solve_triangular", "lu_factor", "lu_factor_ex", "lu_solve", "matrix_norm", "eig",
    "cholesky", "cholesky_ex", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv", "lstsq",
    "matrix_rank", "tensorinv", "tensorsolve", "cond")) | {
    "svd", "lu_unpack", "triangular_solve", "cholesky_solve", "cholesky_inverse",
    "torch.linalg.householder_product", "svd_lowrank", "pca_lowrank"}


def _float(op_name, A, what="A"):
    """``A`` as a tensor, refused unless it has a floating dtype (PyTorch's rule), or a
    complex one for the ops of :data:`_COMPLEX_OK`."""
    A = _t(A)
    if A.dtype.kind == "c" and op_name.split("(")[0] not in _COMPLEX_OK:
        raise DtypeError(f"{op_name}: A has dtype {A.dtype}; zeroin's {op_name} does not "
                         f"take complex matrices yet (PyTorch's does; see the README's "
                         f"differences for those that do): use real tensors")
    if A.dtype.kind not in "fc":
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


def _singular(op_name, A, fix="use linalg.pinv or linalg.lstsq for a least-squares "
                              "answer, or check the matrix"):
    """The LinAlgError for a singular ``A``, naming the first singular batch element."""
    flat = A.reshape((-1,) + A.shape[-2:])
    bad = next((i for i, a in enumerate(flat) if np.linalg.matrix_rank(a) < a.shape[-1]), 0)
    where = f" (batch element {bad})" if A.ndim > 2 else ""
    return LinAlgError(f"{op_name}: the input matrix{where} of shape {A.shape[-2:]} is "
                       f"singular, so it has no inverse; {fix}")


NP.adj = staticmethod(lambda x: np.conj(np.swapaxes(x, -1, -2)))
TZ.adj = staticmethod(lambda x: x.mH)          # the conjugate transpose (real: swap)


def _gauge_check(op_name, im_diag, what):
    """PyTorch's refusal of a loss that depends on the arbitrary phase e^{i phi} of complex
    singular or eigen vectors (``im_diag``: Im diag(X^H gX), 0 for a well-posed loss)."""
    if not np.allclose(_raw(im_diag), 0, rtol=1e-2, atol=1e-2):
        raise RuntimeError(f"{op_name}_backward: The {what} in the complex case are specified "
                           f"up to multiplication by e^{{i phi}}. The specified loss function "
                           f"depends on this phase term, making it ill-defined (as PyTorch "
                           f"says); make the loss depend on |v| or on products like U @ Vh")


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
def inv(A):
    """The inverse of the square matrix ``A`` (batched); a singular ``A`` raises
    :class:`LinAlgError`, as in PyTorch."""
    return InvOp()(_matrix("linalg.inv", A))


def inverse(input):  # noqa: A002
    """``torch.inverse``: :func:`inv`."""
    return inv(input)


def _inv_array(A):
    """np.linalg.inv for backward rules, with the error naming the op."""
    try:
        return np.linalg.inv(A)
    except np.linalg.LinAlgError:
        raise _singular("backward", A, "the gradient needs A^-1, which is infinite "
                        "there (PyTorch gives inf or nan)") from None


NP.inv = staticmethod(_inv_array)
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
def solve(A, B, *, left=True):
    """X with ``A @ X = B`` (``X @ A = B`` if not ``left``) for square ``A``; ``B`` is a
    vector (..., n) or matrix (..., n, k), batched with broadcasting as in PyTorch."""
    A = _matrix("linalg.solve", A)
    B = _float("linalg.solve", B, "B")
    if A.dtype != B.dtype:
        raise DtypeError(f"linalg.solve: A has dtype {A.dtype} and B {B.dtype}; give both "
                         f"the same dtype, as PyTorch requires (e.g. B.to(A.dtype))")
    if not left:            # X A = B  <=>  A^H X^H = B^H
        if B.ndim < 2:
            raise ShapeError(f"linalg.solve: left=False needs B of shape (..., k, n), got "
                             f"{tuple(B.shape)}")
        return solve(A.mH, B.mH).mH
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    msg = _solve_error(A, B, vector)
    if msg:
        raise ShapeError(msg)
    return SolveOp(vector)(A, B)


NP.solve_vec = staticmethod(_np_solve)
TZ.solve_vec = staticmethod(lambda A, B, vector: SolveOp(vector)(A, B))


# --- det, slogdet -----------------------------------------------------------------------

class DetOp(Function):
    """det(A). d det = det * tr(A^-1 dA), so gA = g * det * A^-T. At an exactly singular A
    the gradient is 0, as PyTorch 2.13 returns (the true derivative, the cofactor matrix,
    is not 0 when the rank is n - 1): its inverse is replaced by I there."""
    __slots__ = ()
    name = "linalg.det"
    def forward(self, A): return np.linalg.det(A)
    def backward(self, xp, g, out, A):
        singular = (_raw(out) == 0)[..., None, None]
        if singular.any():
            A = xp.where(singular, np.eye(A.shape[-1], dtype=_raw(A).dtype), A)
        return (g * out)[..., None, None] * xp.swap(xp.inv(A))


@op(DetOp, methods=("det",))
def det(A):
    """The determinant of the square matrix ``A`` (batched); 0 for a singular A."""
    return DetOp()(_matrix("linalg.det", A))


class SlogdetOp(Function):
    """log |det A|. d log|det A| = Re tr(A^-1 dA), so gA = g * A^-H (A invertible)."""
    __slots__ = ()
    name = "linalg.slogdet"
    def forward(self, A): return np.linalg.slogdet(A)[1]
    def backward(self, xp, g, out, A): return g[..., None, None] * xp.swap(xp.inv(A)).conj()


class SlogdetSignOp(Function):
    """sign(det A). Real A: piecewise constant, so no gradient reaches A (a backward
    through it alone leaves A.grad None); recorded so that it requires grad, as PyTorch's.
    Complex A: d sign = i sign Im tr(A^-1 dA), so gA = i Im(g conj(sign)) A^-H."""
    __slots__ = ()
    name = "linalg.slogdet"
    holomorphic = False
    def forward(self, A): return np.linalg.slogdet(A)[0]

    def backward(self, xp, g, out, A):
        if A.dtype.kind != "c":
            return None
        w = (g * out.conj()).imag * 1j
        return w.reshape(tuple(w.shape) + (1, 1)) * xp.swap(xp.inv(A)).conj()


class SignLogAbsDet(NamedTuple):
    sign: Tensor
    logabsdet: Tensor


@op((SlogdetOp, SlogdetSignOp), methods=("slogdet",))
def slogdet(A):
    """``(sign, logabsdet)`` of det A: the sign (-1, 0 or 1; it requires grad when A does,
    as in PyTorch, but its gradient is 0) and log |det A| (-inf for a singular A), accurate
    where det itself would under- or overflow."""
    A = _matrix("linalg.slogdet", A)
    return SignLogAbsDet(SlogdetSignOp()(A), SlogdetOp()(A))


def logdet(A):
    """log det A: NaN where det A < 0 and -inf where it is 0 (``torch.logdet``); for a
    complex A, log |det A| + i angle(det A)."""
    sign, logabs = slogdet(A)
    if sign.dtype.kind == "c":
        from ._complex import complex as _complex
        return _complex(logabs, sign.angle())
    return logabs + _leaf(np.where(sign.data < 0, np.nan, 0).astype(logabs.dtype))


# --- packed outputs ----------------------------------------------------------------------
# An op with several outputs (svd's U, S, Vh) returns them packed side by side in one
# array (..., total), each flattened; the public function unpacks them by indexing, so the
# engine hands the rule one gradient of the same packed shape (zeros for unused outputs).

def _pack(batch, *arrays):
    return np.concatenate([a.reshape(batch + (-1,)) for a in arrays], axis=-1)


def _unpack(x, shapes):
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(x[..., start:start + size].reshape(tuple(x.shape[:-1]) + tuple(shape)))
        start += size
    return parts


def _gaps_inverse(xp, d):
    """F[..., i, j] = 1 / (d_j - d_i) off the diagonal, 0 on it: the factor in the rules of
    eigh and svd, infinite where two values coincide (no gradient there, as in PyTorch)."""
    n = d.shape[-1]
    diag = np.eye(n, dtype=bool)
    diff = d[..., None, :] - d[..., :, None]
    return xp.where(diag, 0, 1 / xp.where(diag, 1, diff))


# --- svd, svdvals ------------------------------------------------------------------------

class SvdOp(Function):
    """A = U diag(S) Vh. The rule (Townsend 2016, real case) needs distinct nonzero
    singular values when U or Vh get a gradient (S alone: U diag(gS) Vh, always defined); with ``full_matrices`` the columns of U
    and rows of Vh past min(m, n) get none (they are any basis of their subspace)."""
    __slots__ = ("full",)
    name = "linalg.svd"
    holomorphic = False     # complex A: ^H for ^T, i Im diag(U^H gU) / S more, a phase check
    def __init__(self, full): self.full = full

    def shapes(self, m, n):
        k = min(m, n)
        return ((m, m if self.full else k), (k,), (n if self.full else k, n))

    def forward(self, A):
        return _pack(A.shape[:-2], *np.linalg.svd(A, full_matrices=self.full))

    def backward(self, xp, g, out, A):
        m, n = A.shape[-2:]
        k = min(m, n)
        U, S, Vh = _unpack(out, self.shapes(m, n))
        gU, gS, gVh = _unpack(g, self.shapes(m, n))
        S, gS = S.real, gS.real         # real values (packed as complex for complex A)
        if self.full:
            U, Vh, gU, gVh = U[..., :k], Vh[..., :k, :], gU[..., :k], gVh[..., :k, :]
        if not (_raw(gU).any() or _raw(gVh).any()):     # S alone: defined for any A
            return (U * gS[..., None, :]) @ Vh
        Ut, V, gV = xp.adj(U), xp.adj(Vh), xp.adj(gVh)
        F = _gaps_inverse(xp, S * S)
        X = Ut @ gU
        J = F * (X - xp.adj(X))
        K = F * (Vh @ gV - gVh @ V)
        inner = J * S[..., None, :] + S[..., :, None] * K + gS[..., :, None] * np.eye(k)
        if X.dtype.kind == "c":
            im = np.diagonal(_raw(X), 0, -2, -1).imag
            _gauge_check("svd", im + np.diagonal(_raw(Vh @ gV), 0, -2, -1).imag,
                         "singular vectors")
            inner = inner + (X * np.eye(k) - xp.adj(X) * np.eye(k)) * 0.5 / S[..., None, :]
        gA = U @ inner @ Vh
        if m > k:       # (I - U U^H) gU S^-1 Vh
            gA = gA + ((gU - U @ X) / S[..., None, :]) @ Vh
        if n > k:       # U S^-1 gV^H (I - V Vh)
            gA = gA + U @ (xp.adj(gV - V @ (Vh @ gV)) / S[..., :, None])
        return gA


class SVD(NamedTuple):
    U: Tensor
    S: Tensor
    Vh: Tensor


@op(SvdOp, export=False)
def svd(A, full_matrices=True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U @ diag(S) @ Vh``, S descending (batched). Gradients
    through U or Vh are undefined (infinite) where singular values repeat, as in PyTorch."""
    A = _matrix("linalg.svd", A, square=False)
    fn = SvdOp(bool(full_matrices))
    U, S, Vh = _unpack(fn(A), fn.shapes(*A.shape[-2:]))
    return SVD(U, S.real, Vh)


class SvdvalsOp(Function):
    """The singular values. dS_i = u_i^T dA v_i, so gA = U diag(g) Vh: defined for any A
    (PyTorch's rule)."""
    __slots__ = ()
    name = "linalg.svdvals"
    def forward(self, A): return np.linalg.svd(A, compute_uv=False)
    def backward(self, xp, g, out, A):
        U, _, Vh = xp.svd_reduced(A)
        return (U * g[..., None, :]) @ Vh


@op(SvdvalsOp, export=False)
def svdvals(A):
    """The singular values of ``A``, descending (batched)."""
    return SvdvalsOp()(_matrix("linalg.svdvals", A, square=False))


NP.svd_reduced = staticmethod(lambda A: np.linalg.svd(A, full_matrices=False))
TZ.svd_reduced = staticmethod(lambda A: svd(A, full_matrices=False))


# --- pinv --------------------------------------------------------------------------------

def _pinv_array(A, atol, rtol, hermitian):
    """A^+ from the SVD (or eigh), dropping singular values <= max(atol, rtol * largest)."""
    if hermitian:
        L, Q = np.linalg.eigh(A)
        S, U, Vh = np.abs(L), Q, NP.adj(Q * np.sign(L)[..., None, :])
    else:
        U, S, Vh = np.linalg.svd(A, full_matrices=False)
    big = S.max(axis=-1, keepdims=True, initial=0.0)
    keep = S > np.maximum(atol, rtol * big)
    inv_s = np.where(keep, 1 / np.where(keep, S, 1), 0).astype(A.dtype)
    return NP.adj(Vh) @ (inv_s[..., :, None] * NP.adj(U))


class PinvOp(Function):
    """X = A^+. Where the rank is locally constant (Golub and Pereyra 1973),
    dX = -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X, so
    gA = -X^H g X^H + (I - A X) g^H X X^H + X^H X g^H (I - X A) (^H: ^T for real A)."""
    __slots__ = ("atol", "hermitian", "rtol")
    name = "linalg.pinv"
    holomorphic = False
    def __init__(self, atol, rtol, hermitian):
        self.atol, self.rtol, self.hermitian = atol, rtol, hermitian
    def forward(self, A): return _pinv_array(A, self.atol, self.rtol, self.hermitian)

    def backward(self, xp, g, out, A):
        X, Xt, gt = out, xp.adj(out), xp.adj(g)
        M = gt @ X @ Xt
        N = Xt @ X @ gt
        return -(Xt @ g @ Xt) + (M - A @ (X @ M)) + (N - (N @ X) @ A)


@op(PinvOp, export=False)
def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """The Moore-Penrose pseudo-inverse of ``A`` (..., m, n) -> (..., n, m); singular values
    at most ``max(atol, rtol * largest)`` count as 0 (PyTorch's default rtol is
    eps * max(m, n) when neither is given). ``pinv(A, rcond)``, PyTorch's older form
    (also ``rcond=``), is ``rtol=rcond``. A tolerance may be a tensor, one value per
    matrix: broadcast with A's batch dimensions, as in PyTorch."""
    if rcond is not None:
        atol, rtol = _legacy_tolerance("linalg.pinv", "rcond", atol, rtol), rcond
    A = _matrix("linalg.pinv", A, square=hermitian)
    atol, rtol = _tolerances(A, atol, rtol)
    batch = np.broadcast_shapes(A.shape[:-2], np.shape(atol)[:-1], np.shape(rtol)[:-1])
    if batch != A.shape[:-2]:       # a tolerance per matrix of a larger batch
        A = A.expand(*batch, *A.shape[-2:])
    return PinvOp(atol, rtol, bool(hermitian))(A)


def _legacy_tolerance(name, what, atol, rtol):
    """0.0, the atol of PyTorch's older form ``name(A, tolerance)``; refused with atol/rtol."""
    if atol is not None or rtol is not None:
        raise TypeError(f"{name}: give {what} (PyTorch's older form) or atol/rtol, not both, "
                        f"as PyTorch requires")
    return 0.0


def _tolerances(A, atol, rtol, op="linalg.pinv"):
    """PyTorch's rule: rtol defaults to eps * max(m, n), or to 0 where atol > 0. Numbers
    stay floats; a tensor of tolerances (one per matrix) becomes an array of shape
    (..., 1), to broadcast with the singular values (..., k)."""
    def value(t):
        if not isinstance(t, (numbers.Real, Tensor, np.ndarray)):
            raise TypeError(f"{op}: a tolerance must be a number or a tensor (one per "
                            f"matrix), as in PyTorch, got {type(t).__name__}")
        if op == "linalg.pinv" and isinstance(t, Tensor) and t.requires_grad and \
                _grad_enabled():
            raise RuntimeError(f"{op}: a tolerance tensor requires grad, but pinv is not "
                               f"differentiable with respect to it (PyTorch refuses it too); "
                               f"pass tol.detach()")
        a = np.asarray(_raw(t), np.float64)
        return float(a) if a.ndim == 0 else a[..., None]
    atol = 0.0 if atol is None else value(atol)
    if rtol is None:
        default = np.finfo(A.dtype).eps * max(A.shape[-2:])
        rtol = np.where(np.asarray(atol) > 0, 0.0, default)
        return atol, (float(rtol) if rtol.ndim == 0 else rtol)
    return atol, value(rtol)


def pinverse(input, rcond=1e-15):  # noqa: A002
    """``torch.pinverse``: :func:`pinv` with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)


# --- cholesky ----------------------------------------------------------------------------

class CholeskyOp(Function):
    """L lower triangular with A = L L^H (A Hermitian positive-definite; only its lower
    triangle is read). gA = sym(L^-H Phi(L^H gL) L^-1), Phi taking the lower triangle with
    the diagonal halved (Murray 2016), the diagonal's share as PyTorch's (below);
    ``upper``: the output is L^H."""
    __slots__ = ("upper",)
    name = "linalg.cholesky"
    holomorphic = False         # complex A (Hermitian): the same rule with L^H for L^T
    def __init__(self, upper): self.upper = upper

    def forward(self, A):
        try:
            L = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise LinAlgError(f"linalg.cholesky: the input of shape {A.shape} is not "
                              f"positive-definite, so it has no Cholesky factor; check that "
                              f"it is symmetric with positive eigenvalues (e.g. add a "
                              f"multiple of the identity)") from None
        return NP.adj(L).copy() if self.upper else L

    def backward(self, xp, g, out, A):
        L, gL = (xp.adj(out), xp.adj(g)) if self.upper else (out, g)
        n = A.shape[-1]
        X, Linv = xp.adj(L) @ gL, xp.inv(L)
        gA = xp.adj(Linv) @ (X * np.tril(np.ones((n, n)), -1)) @ Linv
        # the diagonal's share is not symmetrised: for complex A it keeps i Im diag(X) / 2,
        # as PyTorch's gradient does (for real A it is symmetric anyway)
        return (gA + xp.adj(gA)) * 0.5 + xp.adj(Linv) @ (X * (0.5 * np.eye(n))) @ Linv


@op(CholeskyOp, export=False)
def cholesky(A, *, upper=False):
    """The Cholesky factor L of a symmetric positive-definite ``A`` (batched): A = L L^T
    (``upper``: U with A = U^T U). Raises :class:`LinAlgError` otherwise, as PyTorch."""
    return CholeskyOp(bool(upper))(_matrix("linalg.cholesky", A))


class CholeskyEx(NamedTuple):
    L: Tensor
    info: Tensor


def _cholesky_info(a):
    """PyTorch's ``info`` per matrix: 0, or the order of the first leading minor that is
    not positive-definite."""
    flat = a.reshape((-1,) + a.shape[-2:])
    info = np.zeros(len(flat), np.int32)
    for i, m in enumerate(flat):
        for k in range(1, m.shape[-1] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                info[i] = k
                break
    return info.reshape(a.shape[:-2])


def cholesky_ex(A, *, upper=False, check_errors=False):
    """``(L, info)``: :func:`cholesky` without raising; ``info`` (int32) is 0 where A is
    positive-definite, else the order of its first leading minor that is not. L is NaN for
    those matrices (PyTorch leaves a partial factor there); ``check_errors`` raises."""
    A = _matrix("linalg.cholesky_ex", A)
    try:
        return CholeskyEx(cholesky(A, upper=upper), _leaf(np.zeros(A.shape[:-2], np.int32)))
    except LinAlgError:
        info = _cholesky_info(_raw(A))
    if check_errors:
        bad = int(np.argmax(info.reshape(-1) != 0))
        where = f" (batch element {bad})" if A.ndim > 2 else ""
        raise LinAlgError(f"linalg.cholesky_ex: the input{where} is not positive-definite "
                          f"(its leading minor of order {info.reshape(-1)[bad]} is not)")
    bad = (info != 0)[..., None, None]
    L = cholesky(_where(bad, np.eye(A.shape[-1], dtype=A.dtype), A), upper=upper)
    return CholeskyEx(_where(bad, np.nan, L), _leaf(info))


# --- qr ----------------------------------------------------------------------------------

def _copyltu(xp, M):
    """The symmetric (Hermitian) matrix with M's lower triangle and (real) diagonal."""
    n = M.shape[-1]
    low = M * np.tril(np.ones((n, n)), -1)
    return low + xp.adj(low) + M.real * np.eye(n)


def _qr_square_grad(xp, Q, R, gQ, gR):
    """gA for A = Q R with R square (m >= n): (gQ + Q copyltu(M)) R^-H, M = R gR^H - gQ^H Q
    (Liao et al. 2019)."""
    M = R @ xp.adj(gR) - xp.adj(gQ) @ Q
    B = gQ + Q @ _copyltu(xp, M)
    return xp.adj(xp.solve_vec(R, xp.adj(B), False))


class QrOp(Function):
    """A = Q R. For m >= n the rule above; for m < n, A = [X | Y] with X = Q R1 square and
    Y = Q R2, so Y's share goes through Q. Not differentiable for mode='r' (no Q) or for
    mode='complete' with m > n (Q's extra columns are arbitrary), as in PyTorch."""
    __slots__ = ("mode",)
    name = "linalg.qr"
    holomorphic = False         # complex A: the same rule with ^H for ^T
    def __init__(self, mode): self.mode = mode

    def shapes(self, m, n):
        k = m if self.mode == "complete" else min(m, n)
        return ((m, k), (k, n))

    def forward(self, A):
        if self.mode == "r":
            return np.linalg.qr(A, mode="r")
        return _pack(A.shape[:-2], *np.linalg.qr(A, mode=self.mode))

    def backward(self, xp, g, out, A):
        m, n = A.shape[-2:]
        if self.mode == "r" or (self.mode == "complete" and m > n):
            raise RuntimeError(f"linalg.qr: mode={self.mode!r} with A of shape "
                               f"{tuple(A.shape)} is not differentiable (as in PyTorch); use "
                               f"mode='reduced' to differentiate through the QR decomposition")
        Q, R = _unpack(out, self.shapes(m, n))
        gQ, gR = _unpack(g, self.shapes(m, n))
        if m >= n:
            return _qr_square_grad(xp, Q, R, gQ, gR)
        Y, gR1, gR2 = A[..., m:], gR[..., :m], gR[..., m:]
        gX = _qr_square_grad(xp, Q, R[..., :m], gQ + Y @ xp.adj(gR2), gR1)
        return xp.cat_last([gX, Q @ gR2])


class QR(NamedTuple):
    Q: Tensor
    R: Tensor


@op(QrOp, export=False)
def qr(A, mode="reduced"):
    """``(Q, R)`` with A = Q R, Q with orthonormal columns and R upper triangular (batched).
    ``mode``: 'reduced' (Q (m, k), R (k, n), k = min(m, n)), 'complete' (Q (m, m)) or 'r'
    (R only; Q is an empty tensor, as PyTorch returns)."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode={mode!r}; use 'reduced', 'complete' or 'r'")
    A = _matrix("linalg.qr", A, square=False)
    fn = QrOp(mode)
    if mode == "r":
        return QR(_leaf(np.zeros((0,), A.dtype)), fn(A))
    return QR(*_unpack(fn(A), fn.shapes(*A.shape[-2:])))


# --- eigh, eigvalsh ----------------------------------------------------------------------

class EighOp(Function):
    """A = Q diag(L) Q^T for symmetric A (only the ``uplo`` triangle is read).
    gA = Q (diag(gL) + F o (Q^T gQ - gQ^T Q) / 2) Q^T, F = 1 / (L_j - L_i): the gradient
    through Q is undefined (infinite) where eigenvalues repeat, as in PyTorch; through L
    alone it is always defined."""
    __slots__ = ("uplo",)
    name = "linalg.eigh"
    holomorphic = False         # complex (Hermitian) A: Q^H for Q^T, and a phase check
    def __init__(self, uplo): self.uplo = uplo
    def forward(self, A): return _pack(A.shape[:-2], *np.linalg.eigh(A, UPLO=self.uplo))

    def backward(self, xp, g, out, A):
        n = A.shape[-1]
        L, Q = _unpack(out, ((n,), (n, n)))
        gL, gQ = _unpack(g, ((n,), (n, n)))
        L, gL = L.real, gL.real         # real eigenvalues (packed as complex for complex A)
        if not _raw(gQ).any():          # the eigenvalues alone: defined for any A
            return (Q * gL[..., None, :]) @ xp.adj(Q)
        X = xp.adj(Q) @ gQ
        if X.dtype.kind == "c":
            _gauge_check("linalg_eigh", np.diagonal(_raw(X), 0, -2, -1).imag, "eigenvectors")
        inner = _gaps_inverse(xp, L) * (X - xp.adj(X)) * 0.5 + gL[..., :, None] * np.eye(n)
        return Q @ inner @ xp.adj(Q)


class Eigh(NamedTuple):
    eigenvalues: Tensor
    eigenvectors: Tensor


def _uplo(op_name, UPLO):
    if UPLO not in ("L", "U"):
        raise ValueError(f"{op_name}: UPLO={UPLO!r}; use 'L' (lower triangle) or 'U'")
    return UPLO


@op(EighOp, export=False)
def eigh(A, UPLO="L"):
    """``(eigenvalues, eigenvectors)`` of the symmetric ``A`` (batched), eigenvalues
    ascending; only the ``UPLO`` triangle of A is read."""
    A = _matrix("linalg.eigh", A)
    fn = EighOp(_uplo("linalg.eigh", UPLO))
    L, Q = _unpack(fn(A), ((A.shape[-1],), A.shape[-2:]))
    return Eigh(L.real, Q)


class EigvalshOp(Function):
    """The eigenvalues of symmetric A: gA = Q diag(g) Q^T, defined for any A."""
    __slots__ = ("uplo",)
    name = "linalg.eigvalsh"
    def __init__(self, uplo): self.uplo = uplo
    def forward(self, A): return np.linalg.eigvalsh(A, UPLO=self.uplo)
    def backward(self, xp, g, out, A):
        Q = xp.eigh_vectors(A, self.uplo)
        return (Q * g[..., None, :]) @ xp.adj(Q)


@op(EigvalshOp, export=False)
def eigvalsh(A, UPLO="L"):
    """The eigenvalues of the symmetric ``A`` (batched), ascending."""
    return EigvalshOp(_uplo("linalg.eigvalsh", UPLO))(_matrix("linalg.eigvalsh", A))


NP.eigh_vectors = staticmethod(lambda A, uplo: np.linalg.eigh(A, UPLO=uplo)[1])
TZ.eigh_vectors = staticmethod(lambda A, uplo: eigh(A, uplo).eigenvectors)
NP.cat_last = staticmethod(lambda parts: np.concatenate(parts, axis=-1))
TZ.cat_last = staticmethod(lambda parts: _concatenate(parts, dim=-1))


# --- built from the ops above: lstsq, matrix_norm, matrix_power, matrix_rank -------------

class Lstsq(NamedTuple):
    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares solution X of ``A @ X ~ B`` as PyTorch's CPU ``driver`` gives it
    (default 'gelsy'): for a full-rank A the unique (minimum-norm) one; for an A that
    ``rcond`` (default eps * max(m, n)) cuts, the driver's own truncated solution: singular
    values below rcond times the largest dropped ('gelsd', 'gelss'), or the leading columns
    of a column-pivoted QR kept while their estimated condition is at most 1 / rcond
    ('gelsy', as LAPACK; 'gels' assumes full rank and gives pinv's answer). The gradient is
    PyTorch's: that of ``pinv(A) @ B`` (default tolerance), whatever the driver and rcond.
    As PyTorch's drivers return: ``rank`` for all but 'gels', ``singular_values`` for
    'gelsd'/'gelss', ``residuals`` (squared, per column) for all but 'gelsy' when m > n
    and A has full rank; an empty tensor otherwise."""
    driver = driver or "gelsy"
    if driver not in _DRIVERS:
        raise ValueError(f"linalg.lstsq: driver={driver!r}; use one of {_DRIVERS}")
    A = _matrix("linalg.lstsq", A, square=False)
    B = _float("linalg.lstsq", B, "B")
    if A.dtype != B.dtype:
        raise DtypeError(f"linalg.lstsq: A has dtype {A.dtype} and B {B.dtype}; give both "
                         f"the same dtype, as PyTorch requires (e.g. B.to(A.dtype))")
    vector = B.ndim == A.ndim - 1
    rows = B.shape[-1] if vector else B.shape[-2] if B.ndim > 1 else -1
    if rows != A.shape[-2]:
        raise ShapeError(f"linalg.lstsq: A {tuple(A.shape)} and B {tuple(B.shape)}: B needs "
                         f"A's {A.shape[-2]} rows, shape (..., {A.shape[-2]}, k) or a vector "
                         f"(..., {A.shape[-2]}) with one dimension less than A")
    m, n = A.shape[-2:]
    rtol = np.finfo(A.dtype).eps * max(m, n) if rcond is None else float(rcond)
    B2 = B[..., None] if vector else B
    X = pinv(A) @ B2                    # PyTorch's backward differentiates pinv(A) @ B
    s = np.linalg.svd(A.data, compute_uv=False)
    rank = (s > rtol * s.max(axis=-1, keepdims=True, initial=0.0)).sum(axis=-1)
    if driver == "gelsy" and A.dtype.kind == "c":    # full rank: X = pinv(A) @ B already
        if (rank < min(m, n)).any():
            raise NotImplementedError(
                "linalg.lstsq: zeroin's 'gelsy' driver takes complex matrices of full rank "
                "only (PyTorch's takes any); for this rank-deficient A use driver='gelsd'")
    elif driver == "gelsy":
        rank, values = _gelsy(A.data, B2.data, rtol, s)
    else:
        values = np.linalg.pinv(A.data, rcond=rtol) @ B2.data
    if driver != "gels" and (rank < min(m, n)).any():
        X = X + _leaf(values - X.data)  # the driver's values (it truncated A)
    residuals = X.reshape(-1)[:0]       # empty, but recorded, as PyTorch's
    if driver != "gelsy" and m > n and (rank == n).all():
        r = (A @ X - B2).abs()       # |r|: real residuals for a complex A, as PyTorch
        residuals = (r * r).sum(-2)
    return Lstsq(X[..., 0] if vector else X, residuals,
                 _leaf(np.asarray(rank, np.int64)) if driver != "gels" else
                 _leaf(np.zeros((0,), np.int64)),
                 _leaf(s) if driver in ("gelsd", "gelss") else _leaf(np.zeros((0,), s.dtype)))


def _gelsy(a, b, rcond, s):
    """LAPACK gelsy's rank and solution for each matrix of ``a`` (..., m, n) and ``b``
    (..., m, k), whose singular values are ``s``: column-pivoted QR, the rank from LAPACK's
    estimate of cond(R[:r, :r]) against 1 / rcond, then the minimum-norm solution of the
    problem truncated to those r columns (LAPACK's complete orthogonal factorization)."""
    m, n = a.shape[-2:]
    if m >= n and s.size and ((s[..., -1] >= rcond * s[..., 0]) & (s[..., 0] > 0)).all():
        return np.full(a.shape[:-2], n), None       # full rank: X = pinv(A) @ B already
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = np.broadcast_to(a, batch + (m, n)), np.broadcast_to(b, batch + b.shape[-2:])
    rank, x = np.zeros(batch, np.int64), np.zeros(batch + (n, b.shape[-1]), a.dtype)
    for i in np.ndindex(*batch):
        rank[i], x[i] = _gelsy_one(a[i], b[i], rcond)
    return rank, x


def _gelsy_one(a, b, rcond):
    r, qb, perm = a.astype(np.float64), b.astype(np.float64), np.arange(a.shape[1])
    m, n = a.shape
    for j in range(min(m, n)):          # Householder QR, largest remaining column first
        p = j + int(np.argmax(np.linalg.norm(r[j:, j:], axis=0)))
        r[:, [j, p]], perm[[j, p]] = r[:, [p, j]], perm[[p, j]]
        v = r[j:, j].copy()
        v[0] += np.copysign(np.linalg.norm(v), v[0])
        if v @ v > 0:
            for M in (r, qb):
                M[j:] -= np.outer(2 * v / (v @ v), v @ M[j:])
    rank = _gelsy_rank(r, min(m, n), rcond)
    x = np.zeros((n, b.shape[1]))
    x[perm] = np.linalg.pinv(r[:rank]) @ qb[:rank]  # minimum norm, of the r kept rows
    return rank, x.astype(a.dtype)


def _gelsy_rank(r, k, rcond):
    """gelsy's rank: R's leading r columns are kept while the largest and smallest singular
    values of R[:r, :r], estimated one column at a time as LAPACK's dlaic1 does, satisfy
    smax * rcond <= smin."""
    smax = smin = abs(r[0, 0]) if k else 0.0
    if smax == 0:
        return 0
    xmin, xmax, rank = np.ones(1), np.ones(1), 1
    while rank < k:
        w, gamma = r[:rank, rank], r[rank, rank]
        smin_new, s1, c1 = _dlaic1_min(xmin @ w, gamma, smin)
        smax_new, s2, c2 = _dlaic1_max(xmax @ w, gamma, smax)
        if not smax_new * rcond <= smin_new:
            break
        xmin, xmax = np.append(s1 * xmin, c1), np.append(s2 * xmax, c2)
        smin, smax, rank = smin_new, smax_new, rank + 1
    return rank


_EPS = np.finfo(np.float64).eps / 2     # LAPACK's dlamch('Epsilon'): the unit roundoff


def _dlaic1_max(alpha, gamma, sest):
    """LAPACK dlaic1 (job 1): the largest singular value of [[L, 0], [w^T, gamma]] from
    sest, L's estimate, and alpha = x . w; with the sine and cosine updating x."""
    aa, ag, ae = abs(alpha), abs(gamma), abs(sest)
    if sest == 0:
        s1 = max(ag, aa)
        if s1 == 0:
            return 0.0, 0.0, 1.0
        s, c = alpha / s1, gamma / s1
        t = np.hypot(s, c)
        return s1 * t, s / t, c / t
    if ag <= _EPS * ae:
        t = max(ae, aa)
        return t * np.hypot(ae / t, aa / t), 1.0, 0.0
    if aa <= _EPS * ae:
        return (ae, 1.0, 0.0) if ag <= ae else (ag, 0.0, 1.0)
    if ae <= _EPS * aa or ae <= _EPS * ag:
        if ag <= aa:
            s = np.sqrt(1 + (ag / aa) ** 2)
            return aa * s, np.copysign(1.0, alpha) / s, (gamma / aa) / s
        c = np.sqrt(1 + (aa / ag) ** 2)
        return ag * c, (alpha / ag) / c, np.copysign(1.0, gamma) / c
    z1, z2 = alpha / ae, gamma / ae
    b, c = (1 - z1 * z1 - z2 * z2) / 2, z1 * z1
    t = c / (b + np.sqrt(b * b + c)) if b > 0 else np.sqrt(b * b + c) - b
    sine, cosine = -z1 / t, -z2 / (1 + t)
    h = np.hypot(sine, cosine)
    return np.sqrt(t + 1) * ae, sine / h, cosine / h


def _dlaic1_min(alpha, gamma, sest):
    """LAPACK dlaic1 (job 2): as :func:`_dlaic1_max`, for the smallest singular value."""
    aa, ag, ae = abs(alpha), abs(gamma), abs(sest)
    if sest == 0:
        sine, cosine = (1.0, 0.0) if max(ag, aa) == 0 else (-gamma, alpha)
        s1 = max(abs(sine), abs(cosine))
        h = np.hypot(sine / s1, cosine / s1)
        return 0.0, sine / s1 / h, cosine / s1 / h
    if ag <= _EPS * ae:
        return ag, 0.0, 1.0
    if aa <= _EPS * ae:
        return (ag, 0.0, 1.0) if ag <= ae else (ae, 1.0, 0.0)
    if ae <= _EPS * aa or ae <= _EPS * ag:
        if ag <= aa:
            t = ag / aa
            c = np.sqrt(1 + t * t)
            return ae * (t / c), -(gamma / aa) / c, np.copysign(1.0, alpha) / c
        t = aa / ag
        s = np.sqrt(1 + t * t)
        return ae / s, -np.copysign(1.0, gamma) / s, (alpha / ag) / s
    z1, z2 = alpha / ae, gamma / ae
    norma = max(1 + z1 * z1 + abs(z1 * z2), abs(z1 * z2) + z2 * z2)
    if 1 + 2 * (z1 - z2) * (z1 + z2) >= 0:
        b, c = (z1 * z1 + z2 * z2 + 1) / 2, z2 * z2
        t = c / (b + np.sqrt(abs(b * b - c)))
        sine, cosine = z1 / (1 - t), -z2 / t
        est = np.sqrt(t + 4 * _EPS * _EPS * norma) * ae
    else:
        b, c = (z2 * z2 + z1 * z1 - 1) / 2, z1 * z1
        t = -c / (b + np.sqrt(b * b + c)) if b >= 0 else b - np.sqrt(b * b + c)
        sine, cosine = -z1 / t, -z2 / (1 + t)
        est = np.sqrt(1 + t + 4 * _EPS * _EPS * norma) * ae
    h = np.hypot(sine, cosine)
    return est, sine / h, cosine / h


_ORDS = ("fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """The matrix norm over the two dims ``dim``: 'fro', 'nuc' (sum of singular values),
    2 / -2 (largest / smallest singular value), inf / -inf (max / min row sum of |A|),
    1 / -1 (max / min column sum of |A|)."""
    A = _float("linalg.matrix_norm", A if dtype is None else _t(A).to(dtype))
    if ord not in _ORDS:
        raise ValueError(f"linalg.matrix_norm: ord={ord!r}; use one of 'fro', 'nuc', inf, "
                         f"-inf, 1, -1, 2, -2")
    if A.ndim < 2 or len(dim) != 2:
        raise ShapeError(f"linalg.matrix_norm: A of shape {tuple(A.shape)} and dim={dim!r}: "
                         f"give a (batch of) matrix and two dims")
    d0, d1 = (d % A.ndim for d in dim)
    if d0 == d1:
        raise _DimError(f"linalg.matrix_norm: dim={dim!r} names one dimension twice")
    if ord == "fro":
        return _norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(A.movedim((d0, d1), (-2, -1)))
        r = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        for d in sorted((d0, d1)) if keepdim else ():
            r = r.unsqueeze(d)
        return r
    summed, across = (d1, d0) if abs(ord) == np.inf else (d0, d1)   # row or column sums
    sums = A.abs().sum(summed, keepdim=True)
    r = sums.amax(across, keepdim=True) if ord > 0 else sums.amin(across, keepdim=True)
    return r if keepdim else r.squeeze((d0, d1))


def matrix_power(A, n):
    """A multiplied by itself ``n`` times (the identity for n = 0, powers of inv(A) for
    n < 0), by repeated squaring as PyTorch."""
    A = _matrix("linalg.matrix_power", A)
    if not isinstance(n, numbers.Integral):
        raise TypeError(f"linalg.matrix_power: n={n!r} must be an integer")
    if n == 0:
        return _leaf(np.broadcast_to(np.eye(A.shape[-1], dtype=A.dtype), A.shape).copy())
    if n < 0:
        A, n = inv(A), -n
    result = None
    while n:
        if n & 1:
            result = A if result is None else result @ A
        n >>= 1
        if n:
            A = A @ A
    return result


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The number of singular values above max(atol, rtol * largest) (an int64 tensor,
    no gradient); the default rtol is eps * max(m, n). ``matrix_rank(A, tol)``, PyTorch's
    older form (also ``tol=``), is ``atol=tol, rtol=0``. Tensor tolerances: as in pinv."""
    A = _matrix("linalg.matrix_rank", A, square=hermitian)
    if tol is not None:
        atol, rtol = tol, _legacy_tolerance("linalg.matrix_rank", "tol", atol, rtol)
    atol, rtol = _tolerances(A, atol, rtol, "linalg.matrix_rank")
    a = A.data
    s = np.abs(np.linalg.eigvalsh(a)) if hermitian else np.linalg.svd(a, compute_uv=False)
    big = s.max(axis=-1, keepdims=True, initial=0.0)
    return _leaf((s > np.maximum(atol, rtol * big)).sum(axis=-1).astype(np.int64))


Tensor.inverse = inverse
Tensor.logdet = logdet
Tensor.pinverse = pinverse
Tensor.matrix_power = matrix_power


# --- norms -------------------------------------------------------------------------------

def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """The ``ord``-norm of ``x`` seen as a vector (over ``dim``, or all elements)."""
    return _norm(x, ord, dim, keepdim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """A vector norm over one dim (or all elements), or a matrix norm (:func:`matrix_norm`)
    over two dims, or of a 2-D ``A`` when ``ord`` is given without ``dim``, as PyTorch."""
    if dim is not None and not isinstance(dim, int) and len(dim) not in (1, 2):
        raise _DimError(f"linalg.norm: dim={dim!r}: give one dim (a vector norm) or two (a "
                        f"matrix norm), as in PyTorch; vector_norm takes any number")
    A = _t(A)
    two = dim is not None and not isinstance(dim, int) and len(dim) == 2
    if ord is not None and (two or (dim is None and A.ndim == 2)):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if isinstance(ord, str) and dim is None and A.ndim != 2:
        raise ShapeError(f"linalg.norm: ord={ord!r} is a matrix norm, but A has shape "
                         f"{tuple(A.shape)}; give dim=(-2, -1) for a batch of matrices")
    if ord is not None and dim is None and A.ndim > 2:
        raise ShapeError(f"linalg.norm: with ord={ord!r} and no dim, A must be 1-D or 2-D, got "
                         f"shape {tuple(A.shape)}; give dim, or use vector_norm(A, {ord!r}) "
                         f"for all the elements")
    return _norm(A, 2 if ord is None else ord, dim, keepdim)


# the rest (triangular solves, LU, matrix_exp, the _ex variants, ...) is in _linalg_more
from ._linalg_more import (cond, cross, diagonal, eig, eigvals,  # noqa: E402
                           householder_product, inv_ex, ldl_factor, ldl_factor_ex,
                           ldl_solve, lu,
                           lu_factor, lu_factor_ex, lu_solve, matmul, matrix_exp, multi_dot,
                           solve_ex, solve_triangular, tensorinv, tensorsolve, vander, vecdot)
