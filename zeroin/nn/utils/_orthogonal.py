"""``parametrizations.orthogonal``: a weight kept orthogonal (orthonormal columns, or rows
for a wide matrix) by computing it from an unconstrained tensor, as PyTorch's.

The maps are zeroin's differentiable ops: the matrix exponential of a skew matrix
(``linalg.matrix_exp``), the Cayley map (``linalg.solve``) and a product of Householder
reflections (``linalg.householder_product``).
"""
from __future__ import annotations

import numpy as np

from ... import linalg, ops
from ..._tensor import Tensor, _leaf, no_grad
from ...random import get_rng
from ..module import Module

__all__ = ["orthogonal"]

_MAPS = ("matrix_exp", "cayley", "householder")


def _eye(n, dtype):
    return _leaf(np.eye(n, dtype=dtype))


def _geqrf(a):
    """LAPACK's geqrf of a (batch of) matrices as arrays: reflectors below the diagonal,
    R on and above it, and the factors tau (NumPy's ``qr(mode='raw')``)."""
    h, tau = np.linalg.qr(a, mode="raw")
    return np.swapaxes(h, -1, -2).copy(), tau


def _make_orthogonal(a):
    """The Q of a = QR with diag(R) >= 0, for a tall (batch of) matrix array."""
    q, r = np.linalg.qr(a)          # R's diagonal is geqrf's
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _is_orthogonal(q):
    n, k = q.shape[-2], q.shape[-1]
    eps = 10.0 * n * np.finfo(q.dtype).eps
    return np.allclose(np.swapaxes(q, -1, -2) @ q, np.eye(k), atol=eps)


class _Orthogonal(Module):
    """Q from X: a skew matrix A = tril(X) - tril(X)^T mapped by ``matrix_exp`` or
    ``cayley``, or Householder reflections from X's lower triangle; times the buffer
    ``base`` with ``use_trivialization`` (PyTorch's dynamic trivialization)."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        self._trivial = use_trivialization
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            X = X.tril()
            if n != k:
                pad = _leaf(np.zeros(X.shape[:-1] + (n - k,), dtype=X.dtype))
                X = ops.cat([X, pad], dim=-1)
            A = X - X.mT
            if self.orthogonal_map == "matrix_exp":
                Q = linalg.matrix_exp(A)
            else:
                eye = _eye(n, A.dtype)
                Q = linalg.solve(eye - A * 0.5, eye + A * 0.5)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(-1)
            tau = 2.0 / ((A * A).sum(dim=-2) + 1.0)
            Q = linalg.householder_product(A, tau)
            signs = np.trunc(np.diagonal(X.data, axis1=-2, axis2=-1))   # not differentiated
            Q = Q * _leaf(signs[..., None, :].astype(X.dtype))
        if self._trivial:
            Q = ops.matmul(self.base, Q)
        return Q.mT if transposed else Q

    def right_inverse(self, Q):
        """The X whose forward is ``Q`` (orthogonalised first if it is not orthogonal)."""
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q):
        if tuple(Q.shape) != tuple(self.shape):
            raise ValueError(f"Expected a matrix or batch of matrices of shape "
                             f"{tuple(self.shape)}. Got a tensor of shape {tuple(Q.shape)}.")
        q = np.array(Q.data if isinstance(Q, Tensor) else Q)
        n, k = q.shape[-2], q.shape[-1]
        transpose = n < k
        if transpose:
            q = np.swapaxes(q, -1, -2)
            n, k = k, n
        if not self._trivial:
            if self.orthogonal_map in ("matrix_exp", "cayley"):
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            a, tau = _geqrf(q)
            d = np.sign(np.diagonal(a, axis1=-2, axis2=-1)).copy()
            d[tau == 0.0] *= -1
            idx = np.arange(k)
            a[..., idx, idx] = d
            return _leaf(np.swapaxes(a, -1, -2).copy() if transpose else a)
        if n == k:
            q = q.copy() if _is_orthogonal(q) else _make_orthogonal(q)
        else:
            fill = get_rng().standard_normal(q.shape[:-2] + (n, n - k)).astype(q.dtype)
            q = _make_orthogonal(np.concatenate([q, fill], axis=-1))
        self.base = _leaf(q.astype(Q.dtype, copy=False))
        neg = np.zeros(tuple(self.shape), dtype=Q.dtype)
        m = min(neg.shape[-2:])
        neg[..., np.arange(m), np.arange(m)] = -1.0
        return _leaf(neg)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Keep ``module.<name>`` orthogonal (orthonormal columns when tall, rows when wide;
    a batch of matrices for more dimensions): it is computed from
    ``parametrizations.<name>.original`` by ``orthogonal_map`` ("matrix_exp" or "cayley",
    the default for a square matrix; "householder" for other shapes). With
    ``use_trivialization`` the result is ``base @ map(original)``, ``base`` a buffer set
    to the initial orthogonal value. PyTorch's state dict keys. Returns ``module``."""
    from . import parametrize
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with "
                         f"name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else \
            "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
