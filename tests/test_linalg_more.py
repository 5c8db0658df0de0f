"""The rest of zeroin.linalg (triangular solves, LU, matrix_exp, the _ex variants, helpers)
and PyTorch's older names for them, against torch 2.13: values, gradients, finite
differences, errors."""
import warnings

import numpy as np
import pytest
from conftest import check_first, check_second

import zeroin

torch = pytest.importorskip("torch")


from test_linalg import _r, _well  # noqa: E402  (the shared test matrices)


def _upper(*shape, seed=3):
    return np.triu(_well(*shape, seed=seed))


def _against_torch(fn, *arrays, dtype=np.float64, tol=1e-10, torch_grad=True):
    """fn(zeroin, *tensors) and fn(torch, *tensors): same values and gradients (values only
    where torch's backward fails: not ``torch_grad``)."""
    arrays = [np.asarray(a, dtype) for a in arrays]
    zs = [zeroin.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zo, to = fn(zeroin, *zs), fn(torch, *ts)
    assert zo.dtype == np.dtype(dtype) and tuple(zo.shape) == tuple(to.shape)
    np.testing.assert_allclose(zo.data, to.detach().numpy(), rtol=tol, atol=tol)
    r = np.random.default_rng(2).standard_normal(tuple(to.shape)).astype(dtype)
    (zo * zeroin.tensor(r)).sum().backward()
    if not torch_grad:
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (to * torch.tensor(r)).sum().backward()
        return
    (to * torch.tensor(r)).sum().backward()
    for z, t in zip(zs, ts):
        if t.grad is None:
            assert z.grad is None or not z.grad.data.any()
            continue
        np.testing.assert_allclose(z.grad.data, t.grad.numpy(), rtol=tol, atol=tol)


def _lu_parts(T, a):
    LU, piv = T.linalg.lu_factor(a)
    return LU


CASES = {
    "solve_triangular_upper": (lambda T, a, b: T.linalg.solve_triangular(a, b, upper=True),
                               [_r(3, 3) + 3 * np.eye(3), _r(3, 2)]),
    "solve_triangular_lower_unit": (
        lambda T, a, b: T.linalg.solve_triangular(a, b, upper=False, unitriangular=True),
        [_r(3, 3), _r(3, 2)]),
    "solve_triangular_right": (
        lambda T, a, b: T.linalg.solve_triangular(a, b, upper=True, left=False),
        [_r(3, 3) + 3 * np.eye(3), _r(2, 3)]),
    "solve_triangular_broadcast": (
        lambda T, a, b: T.linalg.solve_triangular(a, b, upper=False),
        [_r(2, 1, 3, 3) + 3 * np.eye(3), _r(4, 3, 2)]),
    "lu_factor": (_lu_parts, [_r(4, 4)]),
    "lu_factor_batched": (_lu_parts, [_r(2, 3, 3, seed=5)]),
    "lu_factor_wide": (_lu_parts, [_r(3, 5)]),
    "lu_factor_tall": (_lu_parts, [_r(5, 3)]),
    "lu_L_U": (lambda T, a: (lambda p, l, u: p @ l * 2 + l @ u)(*T.linalg.lu(a)), [_r(4, 4)]),
    "lu_tall": (lambda T, a: (lambda p, l, u: l.sum() * u + u * u)(*T.linalg.lu(a)),
                [_r(5, 3, seed=7)]),
    "lu_wide": (lambda T, a: (lambda p, l, u: (l * l).sum() + u)(*T.linalg.lu(a)),
                [_r(2, 3, 5, seed=8)]),
    "lu_solve": (lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b),
                 [_r(3, 3), _r(3, 2)]),
    "lu_solve_adjoint": (lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b,
                                                           adjoint=True), [_r(2, 3, 3), _r(3, 2)]),
    "lu_solve_right": (lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b,
                                                         left=False), [_r(3, 3), _r(2, 3)]),
    "lu_solve_right_adjoint": (
        lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b, left=False,
                                          adjoint=True), [_r(3, 3), _r(2, 3)]),
    "lu_solve_LU_leaf": (lambda T, lu, b: T.linalg.lu_solve(
        lu, T.tensor([2, 3, 3], dtype=T.int32), b), [_well(3, 3), _r(3, 2)]),
    "matrix_exp": (lambda T, a: T.linalg.matrix_exp(a), [_r(3, 3)]),
    "matrix_exp_big_norm": (lambda T, a: T.linalg.matrix_exp(a), [3 * _r(2, 4, 4)]),
    "matrix_exp_top_level": (lambda T, a: T.matrix_exp(a) + a.matrix_exp(), [_r(2, 2) / 10]),
    "inv_ex": (lambda T, a: T.linalg.inv_ex(a).inverse, [_well(2, 3, 3)]),
    "solve_ex": (lambda T, a, b: T.linalg.solve_ex(a, b).result, [_well(3, 3), _r(3)]),
    "solve_ex_left": (lambda T, a, b: T.linalg.solve_ex(a, b, left=False).result,
                      [_well(3, 3), _r(2, 3)]),
    "multi_dot": (lambda T, a, b, c: T.linalg.multi_dot([a, b, c]),
                  [_r(3), _r(3, 5), _r(5, 2)]),
    "multi_dot_4": (lambda T, a, b, c, d: T.linalg.multi_dot([a, b, c, d]),
                    [_r(6, 2), _r(2, 7), _r(7, 3), _r(3)]),
    "cross": (lambda T, a, b: T.linalg.cross(a, b), [_r(4, 3), _r(1, 3)]),
    "cross_dim": (lambda T, a, b: T.linalg.cross(a, b, dim=0), [_r(3, 2), _r(3, 2, seed=4)]),
    "diagonal": (lambda T, a: T.linalg.diagonal(a, offset=1), [_r(2, 3, 4)]),
    "diagonal_dims": (lambda T, a: T.linalg.diagonal(a, dim1=0, dim2=2), [_r(3, 2, 3)]),
    "vecdot": (lambda T, a, b: T.linalg.vecdot(a, b), [_r(2, 4), _r(4)]),
    "vecdot_dim": (lambda T, a, b: T.linalg.vecdot(a, b, dim=0), [_r(4, 2), _r(4, 1)]),
    "matmul": (lambda T, a, b: T.linalg.matmul(a, b), [_r(2, 3), _r(3)]),
    "vander": (lambda T, a: T.linalg.vander(a), [_r(2, 3)]),
    "vander_N": (lambda T, a: T.linalg.vander(a, N=5), [_r(3)]),
    "tensorinv": (lambda T, a: T.linalg.tensorinv(a, ind=1),
                  [(_r(6, 6) + 6 * np.eye(6)).reshape(6, 2, 3)]),
    "tensorinv_2": (lambda T, a: T.linalg.tensorinv(a),
                    [(_r(4, 4) + 4 * np.eye(4)).reshape(2, 2, 4)]),
    "tensorsolve": (lambda T, a, b: T.linalg.tensorsolve(a, b),
                    [(_r(6, 6) + 6 * np.eye(6)).reshape(2, 3, 6), _r(2, 3)]),
    "tensorsolve_dims": (lambda T, a, b: T.linalg.tensorsolve(a, b, dims=(0,)),
                         [(_r(6, 6) + 6 * np.eye(6)).reshape(6, 2, 3), _r(2, 3)]),
    "cond": (lambda T, a: T.linalg.cond(a), [_r(2, 3, 4)]),
    "cond_m2": (lambda T, a: T.linalg.cond(a, -2), [_r(3, 3)]),
    "cond_fro": (lambda T, a: T.linalg.cond(a, "fro"), [_r(2, 3, 3)]),
    "cond_nuc": (lambda T, a: T.linalg.cond(a, "nuc"), [_r(3, 3)]),
    "cond_1": (lambda T, a: T.linalg.cond(a, 1) + T.linalg.cond(a, -np.inf), [_r(3, 3)]),
    "householder_product": (lambda T, a, t: T.linalg.householder_product(a, t),
                            [_r(5, 3), _r(2)]),
    "householder_product_batched": (lambda T, a, t: T.linalg.householder_product(a, t),
                                    [_r(2, 4, 4, seed=9), _r(2, 4, seed=10)]),
    # PyTorch's older names
    "cholesky_old": (lambda T, a: T.cholesky(a @ a.mT + T.eye(3, dtype=a.dtype), upper=True)
                     + (a @ a.mT + 3 * T.eye(3, dtype=a.dtype)).cholesky(), [_r(3, 3)]),
    "cholesky_solve": (lambda T, l, b: T.cholesky_solve(b, l), [np.tril(_well(3, 3)), _r(3, 2)]),
    "cholesky_solve_upper": (lambda T, u, b: b.cholesky_solve(u, upper=True) * 0 +
                             T.cholesky_solve(b, u, True), [_upper(2, 3, 3), _r(3, 2)]),
    "cholesky_inverse": (lambda T, l: T.cholesky_inverse(l), [np.tril(_well(3, 3))]),
    "cholesky_inverse_upper": (lambda T, u: u.cholesky_inverse(upper=True), [_upper(3, 3)]),
    "triangular_solve": (lambda T, b, a: (lambda x, c: x + c.sum())(*T.triangular_solve(b, a)),
                         [_r(3, 2), _r(3, 3) + 3 * np.eye(3)]),
    "triangular_solve_transpose": (
        lambda T, b, a: b.triangular_solve(a, upper=False, transpose=True,
                                           unitriangular=True).solution,
        [_r(2, 3, 2), _r(3, 3)]),
    "lu_old": (lambda T, a: T.lu(a)[0] + a.lu(get_infos=True)[0], [_r(3, 3)]),
    "lu_unpack": (lambda T, a: (lambda p, l, u: p + l + u)(*T.lu_unpack(*T.linalg.lu_factor(a))),
                  [_r(2, 3, 3)]),
    "lu_solve_old": (lambda T, a, b: T.lu_solve(b, *T.linalg.lu_factor(a)), [_r(3, 3), _r(3, 2)]),
    "svd_old": (lambda T, a: (lambda u, s, v: u * s[..., None, :] @ v.mT + v[..., :1, :] ** 2)(
        *T.svd(a)), [_r(4, 3)]),
    "svd_old_full": (lambda T, a: (lambda u, s, v: (u[..., :, :2] * s) @ v[..., :, :2].mT)(
        *a.svd(some=False)), [_r(2, 3)]),
    "svd_old_no_uv": (lambda T, a: (lambda u, s, v: s.sum() + u.sum() + v.sum() + u + 0 * a)(
        *T.svd(a, compute_uv=False)), [_r(3, 3)]),
    "qr_old": (lambda T, a: (lambda q, r: q + r)(*T.qr(a)), [_r(3, 3)]),
    "qr_old_not_some": (lambda T, a: (lambda q, r: q @ r)(*a.qr(some=False)), [_r(3, 4)]),
    "chain_matmul": (lambda T, a, b, c: T.chain_matmul(a, b, c), [_r(2, 3), _r(3, 4), _r(4, 2)]),
    "chain_matmul_one": (lambda T, a: T.chain_matmul(a), [_r(2, 3)]),
    "nuclear_norm": (lambda T, a: T.nuclear_norm(a) + T.nuclear_norm(a, True).sum(), [_r(3, 2)]),
    "nuclear_norm_dim": (lambda T, a: T.nuclear_norm(a, (0, 2)), [_r(3, 2, 4)]),
    "frobenius_norm": (lambda T, a: T.frobenius_norm(a, (0, 1), keepdim=True), [_r(3, 2, 4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(name, dtype):
    fn, arrays = CASES[name]
    _against_torch(fn, *arrays, dtype=dtype, tol=1e-10 if dtype == np.float64 else 5e-4,
                   torch_grad=name not in TORCH_BACKWARD_FAILS)


# torch 2.13's backward of cond for p other than None / 2 / -2 / 'nuc' fails (its inv_ex
# output is modified in place); zeroin's gradient is checked by finite differences below
TORCH_BACKWARD_FAILS = {"cond_1", "cond_fro"}


TRIANGLE_ONLY = {"cholesky_inverse": zeroin.tril, "cholesky_inverse_upper": zeroin.triu,
                 "cholesky_solve": zeroin.tril, "cholesky_solve_upper": zeroin.triu}
SECOND = {"householder_product", "lu_factor", "lu_factor_wide", "lu_factor_tall", "lu_L_U",
          "lu_solve",
          "lu_solve_adjoint", "solve_triangular_upper", "solve_triangular_lower_unit",
          "solve_triangular_right", "matrix_exp", "matrix_exp_big_norm", "multi_dot",
          "cholesky_solve", "cholesky_inverse", "triangular_solve", "inv_ex", "solve_ex",
          "cond", "cond_fro", "tensorsolve", "vander"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_finite_differences(name):
    fn, arrays = CASES[name]
    f = (lambda *xs: fn(zeroin, *xs))
    if name in TRIANGLE_ONLY:
        # only the factor's triangle is read, while the gradient (PyTorch's) is that of
        # the full matrix: finite differences can check the triangle's part only
        first = TRIANGLE_ONLY[name]
        f = (lambda x, *xs: fn(zeroin, first(x), *xs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_first(f, *arrays)
        if name in SECOND:
            check_second(f, *arrays)


# --- LU: pivots, info, singular matrices ----------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (3, 5), (5, 3), (1, 1), (2, 0, 0)])
def test_lu_factor_ex_matches_lapack(shape):
    a = _r(*shape, seed=11)
    z = zeroin.linalg.lu_factor_ex(zeroin.tensor(a))
    t = torch.linalg.lu_factor_ex(torch.tensor(a))
    np.testing.assert_allclose(z.LU.data, t.LU.numpy(), rtol=1e-12, atol=1e-12)
    assert z.pivots.dtype == np.int32 and z.info.dtype == np.int32
    np.testing.assert_array_equal(z.pivots.data, t.pivots.numpy())
    np.testing.assert_array_equal(z.info.data, t.info.numpy())
    P, L, U = zeroin.linalg.lu(zeroin.tensor(a))
    np.testing.assert_allclose((P @ L @ U).data, a, atol=1e-12)


SINGULAR = [np.ones((3, 3)), np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
            np.zeros((2, 2)), np.stack([np.eye(3), np.ones((3, 3))])]


@pytest.mark.parametrize("a", SINGULAR)
def test_singular_matrices_give_torchs_info(a):
    z, t = zeroin.tensor(a), torch.tensor(a)
    for name in ("lu_factor_ex", "inv_ex"):
        np.testing.assert_array_equal(getattr(zeroin.linalg, name)(z).info.data,
                                      getattr(torch.linalg, name)(t).info.numpy())
    b = np.ones(a.shape[:-1])
    zr, zi = zeroin.linalg.solve_ex(z, zeroin.tensor(b))
    np.testing.assert_array_equal(zi.data, torch.linalg.solve_ex(t, torch.tensor(b)).info.numpy())
    bad = zi.data != 0
    assert np.isnan(zr.data[bad]).all() and np.isfinite(zr.data[~bad]).all()
    with pytest.raises(RuntimeError, match="is zero"):
        torch.linalg.lu_factor(t)
    with pytest.raises(zeroin.linalg.LinAlgError, match=r"linalg.lu_factor: .*U\[\d,\d\] is zero"):
        zeroin.linalg.lu_factor(z)
    with pytest.raises(RuntimeError, match="singular"):
        torch.linalg.inv_ex(t, check_errors=True)
    with pytest.raises(zeroin.linalg.LinAlgError, match="inv_ex: .*diagonal element \\d is zero"):
        zeroin.linalg.inv_ex(z, check_errors=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zlu, tlu = zeroin.lu(z, get_infos=True), torch.lu(t, get_infos=True)
        np.testing.assert_array_equal(zeroin.lu(z)[1].data, torch.lu(t)[1].numpy())
    for zp, tp in zip(zlu, tlu):        # torch.lu does not raise, even without get_infos
        np.testing.assert_allclose(zp.data, tp.numpy(), atol=1e-15)


def test_ex_variants_keep_the_gradient_of_the_invertible_matrices():
    a = np.stack([_well(3, 3), np.ones((3, 3))])
    z = zeroin.tensor(a, requires_grad=True)
    inverse, info = zeroin.linalg.inv_ex(z)
    assert info.tolist() == [0, 2]
    inverse[0].sum().backward()
    t = torch.tensor(a[0], requires_grad=True)
    torch.linalg.inv(t).sum().backward()
    np.testing.assert_allclose(z.grad.data[0], t.grad.numpy(), rtol=1e-12)
    assert not z.grad.data[1].any()


def test_lu_without_pivoting_is_refused_as_on_torchs_cpu():
    a = _r(3, 3)
    with pytest.raises(RuntimeError, match="LU without pivoting is not implemented on the CPU"):
        torch.linalg.lu_factor(torch.tensor(a), pivot=False)
    for fn in (zeroin.linalg.lu_factor, zeroin.linalg.lu_factor_ex, zeroin.linalg.lu):
        with pytest.raises(RuntimeError, match="LU without pivoting is not implemented"):
            fn(zeroin.tensor(a), pivot=False)


def test_lu_solve_errors():
    LU, piv = zeroin.linalg.lu_factor(zeroin.tensor(_well(3, 3)))
    with pytest.raises(RuntimeError, match="B must have at least 2 dimensions"):
        torch.linalg.lu_solve(*torch.linalg.lu_factor(torch.tensor(_well(3, 3))),
                              torch.ones(3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="B has shape \\(3,\\); it must have at least 2"):
        zeroin.linalg.lu_solve(LU, piv, zeroin.ones(3, dtype=zeroin.float64))
    with pytest.raises(RuntimeError, match="B needs 3 rows"):
        zeroin.linalg.lu_solve(LU, piv, zeroin.ones(2, 1, dtype=zeroin.float64))
    with pytest.raises(TypeError, match="pivots must be int32"):
        zeroin.linalg.lu_solve(LU, piv.long(), zeroin.ones(3, 1, dtype=zeroin.float64))


def test_lu_unpack_leaves_out_what_is_not_asked_for_as_torch():
    a = _r(2, 3, 4)
    for kw in ({}, {"unpack_data": False}, {"unpack_pivots": False}):
        z = zeroin.lu_unpack(*zeroin.linalg.lu_factor(zeroin.tensor(a)), **kw)
        t = torch.lu_unpack(*torch.linalg.lu_factor(torch.tensor(a)), **kw)
        for zp, tp in zip(z, t):
            assert tuple(zp.shape) == tuple(tp.shape)
            np.testing.assert_allclose(zp.data, tp.numpy(), atol=1e-12)


# --- solve_triangular ------------------------------------------------------------------------

def test_solve_triangular_with_a_zero_on_the_diagonal_gives_inf_and_nan_as_torch():
    a, b = np.array([[0.0, 1.0], [0.0, 0.0]]), np.ones((2, 1))
    z = zeroin.linalg.solve_triangular(zeroin.tensor(a), zeroin.tensor(b), upper=True)
    t = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True)
    np.testing.assert_array_equal(z.data, t.numpy())


def test_solve_triangular_errors():
    A, b = zeroin.tensor(_well(3, 3)), zeroin.tensor(_r(3))
    with pytest.raises(TypeError):
        torch.linalg.solve_triangular(torch.tensor(_well(3, 3)), torch.tensor(_r(3, 1)))
    with pytest.raises(TypeError):
        zeroin.linalg.solve_triangular(A, b[:, None])
    with pytest.raises(RuntimeError, match="B has shape \\(3,\\); it must have at least 2"):
        zeroin.linalg.solve_triangular(A, b, upper=True)
    with pytest.raises(RuntimeError, match="incompatible shapes .* B needs 3 rows"):
        zeroin.linalg.solve_triangular(A, zeroin.tensor(_r(2, 1)), upper=True)
    with pytest.raises(RuntimeError, match="must be a batch of square matrices"):
        zeroin.linalg.solve_triangular(zeroin.tensor(_r(3, 2)), b[:, None], upper=True)
    with pytest.raises(TypeError, match="same dtype"):
        zeroin.linalg.solve_triangular(A, b[:, None].float(), upper=True)
    with pytest.raises(RuntimeError, match="do not broadcast"):
        zeroin.linalg.solve_triangular(zeroin.tensor(_r(2, 3, 3)), zeroin.tensor(_r(3, 3, 1)),
                                       upper=True)


# --- matrix_exp ---------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [0.0, 1e-8, 1.0, 30.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_exp_values_across_norms(scale, dtype):
    a = (scale * _r(3, 4, 4, seed=21)).astype(dtype)
    z = zeroin.linalg.matrix_exp(zeroin.tensor(a))
    t = torch.linalg.matrix_exp(torch.tensor(a))
    assert z.dtype == dtype
    tol = 1e-12 if dtype == np.float64 else 1e-5   # torch computes float32 in float32
    big = np.abs(t.numpy()).max(axis=(-2, -1), keepdims=True)
    assert (np.abs(z.data - t.numpy()) <= tol * (1 + scale) * big).all()


def test_matrix_exp_of_known_matrices():
    rot = zeroin.linalg.matrix_exp(zeroin.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=zeroin.float64))
    np.testing.assert_allclose(rot.data, [[np.cos(1), -np.sin(1)], [np.sin(1), np.cos(1)]],
                               rtol=1e-15)
    d = zeroin.linalg.matrix_exp(zeroin.tensor(np.diag([1.0, -2.0, 50.0])))
    np.testing.assert_allclose(np.diag(d.data), np.exp([1.0, -2.0, 50.0]), rtol=1e-14)
    with pytest.raises(RuntimeError, match="matrix_exp: .* square"):
        zeroin.linalg.matrix_exp(zeroin.tensor(_r(2, 3)))
    with pytest.raises(RuntimeError, match="square"):
        torch.linalg.matrix_exp(torch.tensor(_r(2, 3)))


# --- the helpers' errors -------------------------------------------------------------------------

def _both_raise(call, torch_match, zeroin_match, exc=RuntimeError):
    with pytest.raises(exc, match=torch_match):
        call(torch)
    with pytest.raises(exc, match=zeroin_match):
        call(zeroin)


def test_helper_errors_match_torchs_types():
    def t(T, a):
        return T.tensor(a) if T is torch else zeroin.tensor(a)
    _both_raise(lambda T: T.linalg.multi_dot([t(T, _r(3, 3))]), "expected at least 2 tensors",
                "multi_dot\\(\\): expected at least 2 tensors but got 1")
    _both_raise(lambda T: T.linalg.multi_dot([t(T, _r(2, 3, 3)), t(T, _r(3, 3))]),
                "first tensor must be 1D or 2D", "first tensor must be 1D or 2D but got 3D")
    _both_raise(lambda T: T.linalg.multi_dot([t(T, _r(2, 3)), t(T, _r(2, 3))]), None,
                "shapes \\(2, 3\\) and \\(2, 3\\) cannot be multiplied")
    _both_raise(lambda T: T.linalg.cross(t(T, _r(4, 2)), t(T, _r(4, 2))),
                "must have length 3", "dimension -1 must have length 3")
    _both_raise(lambda T: T.linalg.cross(t(T, _r(4, 3)), t(T, _r(3))),
                "same number of dimensions", "same number of dimensions")
    _both_raise(lambda T: T.linalg.vander(t(T, _r(3)), N=1), "N must be greater than 1",
                "N must be greater than 1")
    _both_raise(lambda T: T.linalg.tensorinv(t(T, _r(4, 2, 3)), ind=1), "6 != 4", "6 != 4")
    _both_raise(lambda T: T.linalg.cond(t(T, _r(3, 4)), "fro"), "square", "square")
    _both_raise(lambda T: T.linalg.solve_ex(t(T, np.ones((3, 3))), t(T, np.ones(3)),
                                            check_errors=True),
                "solver failed because the input matrix is singular",
                "solver failed because the input matrix is singular")
    with pytest.raises(TypeError):
        torch.linalg.diagonal(torch.tensor(_r(3, 3)), 1)
    with pytest.raises(TypeError):
        zeroin.linalg.diagonal(zeroin.tensor(_r(3, 3)), 1)


def test_cond_of_singular_matrices_as_torch():
    inv_based = (1, -1, np.inf, -np.inf, "fro")
    for a, ps in ((np.zeros((3, 3)), (None, 2, -2, "nuc") + inv_based),
                  (np.diag([1.0, 0.0]), (None, 2, -2, "nuc") + inv_based),
                  (np.ones((3, 3)), inv_based)):    # its svd's smallest value is rounding
        for p in ps:
            z = zeroin.linalg.cond(zeroin.tensor(a), p).item()
            t = torch.linalg.cond(torch.tensor(a), p).item()
            assert (np.isnan(z) and np.isnan(t)) or z == pytest.approx(t, rel=1e-12), (a, p)


_EIG_INPUTS = [np.random.default_rng(5).standard_normal((4, 4)),
               np.random.default_rng(6).standard_normal((2, 3, 3)) +
               1j * np.random.default_rng(7).standard_normal((2, 3, 3)),
               np.random.default_rng(8).standard_normal((3, 3)).astype(np.float32)]


@pytest.mark.parametrize("A", _EIG_INPUTS)
def test_eig_and_eigvals_values_dtypes_and_gradients_match_torch(A):
    """Eigenvector phases are LAPACK's in both, but the test reads only |V| (a loss on the
    phases is ill-defined; both refuse its backward)."""
    W = np.random.default_rng(9).standard_normal(A.shape)
    res = []
    for T in (zeroin, torch):
        a = T.tensor(A, requires_grad=True)
        L, V = T.linalg.eig(a)
        loss = (L * T.tensor(W[..., 0] + 0.5j)).real.sum() + (V.abs() * T.tensor(W)).sum()
        loss.backward()
        ev, grad = T.linalg.eigvals(a), a.grad.numpy().copy()
        try:        # a loss on the phases: refused by both (real eigenvectors: by neither)
            T.linalg.eig(a)[1].real.sum().backward()
            phases = None
        except RuntimeError as e:
            phases = "depends on this quantity" in str(e)
        res.append((L.detach().numpy(), V.detach().abs().numpy(), grad,
                    str(L.dtype).replace("torch.", ""), ev.detach().numpy(), phases))
    assert res[0][5] == res[1][5] and (res[0][5] or A.dtype == np.float32)
    tol = 1e-4 if A.dtype == np.float32 else 1e-9
    for z, t in zip(res[0][:3] + res[0][4:5], res[1][:3] + res[1][4:5]):
        np.testing.assert_allclose(z, t, rtol=tol, atol=tol)
    assert res[0][3] == res[1][3]


def test_eigvals_gradient_against_finite_differences():
    A = zeroin.tensor(_r(3, 3), requires_grad=True)
    assert zeroin.gradcheck(lambda A: zeroin.linalg.eigvals(A), (A,))
    Z = zeroin.tensor(_EIG_INPUTS[1][0], requires_grad=True)
    assert zeroin.gradcheck(lambda Z: zeroin.linalg.eigvals(Z) * 1j, (Z,))


def test_eig_refuses_integers_and_non_square_matrices_as_torch():
    for a, err in ((torch.ones(2, 3, dtype=torch.float64), RuntimeError),
                   (torch.ones(2, 2, dtype=torch.int64), RuntimeError)):
        with pytest.raises(err):
            torch.linalg.eig(a)
        with pytest.raises(err):
            zeroin.linalg.eig(zeroin.tensor(a.numpy()))


# --- PyTorch's older names -----------------------------------------------------------------------

@pytest.mark.parametrize("call,start", [
    (lambda T, a: T.cholesky(a @ a.mT + T.eye(3, dtype=a.dtype)),
     "torch.cholesky is deprecated in favor of torch.linalg.cholesky"),
    (lambda T, a: T.lu(a), "torch.lu is deprecated in favor of torch.linalg.lu_factor"),
    (lambda T, a: T.lu_solve(a[:, :1], *T.linalg.lu_factor(a)),
     "torch.lu_solve is deprecated in favor of torch.linalg.lu_solve"),
    (lambda T, a: T.qr(a), "torch.qr is deprecated in favor of torch.linalg.qr"),
    (lambda T, a: T.triangular_solve(a[:, :1], a),
     "torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular"),
    (lambda T, a: T.chain_matmul(a, a), "torch.chain_matmul is deprecated"),
    (lambda T, a: T.nuclear_norm(a), "at::nuclear_norm is deprecated"),
    (lambda T, a: T.frobenius_norm(a, (0, 1)), "at::frobenius_norm is deprecated"),
])
def test_old_names_warn_as_torch(call, start):
    a = _well(3, 3)
    for T, x in ((torch, torch.tensor(a)), (zeroin, zeroin.tensor(a))):
        if T is torch:          # torch warns once per process: its text, if it still does
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                call(T, x)
            assert all(str(m.message).startswith(start) for m in w)
        else:
            with pytest.warns(UserWarning, match="^" + start.replace(".", "\\.")):
                call(T, x)


def test_torch_svd_has_the_old_semantics():
    a = _r(2, 4, 3)
    for kw in ({}, {"some": False}, {"compute_uv": False}, {"some": False, "compute_uv": False}):
        z = zeroin.svd(zeroin.tensor(a), **kw)
        t = torch.svd(torch.tensor(a), **kw)
        assert [tuple(x.shape) for x in z] == [tuple(x.shape) for x in t]
        np.testing.assert_allclose(z.S.data, t.S.numpy(), rtol=1e-12)
        if kw.get("compute_uv", True):      # A = U diag(S) V^T, with V (not Vh)
            k = 3
            rebuilt = (z.U[..., :k] * z.S[..., None, :]) @ z.V[..., :k].mT
            np.testing.assert_allclose(rebuilt.data, a, atol=1e-12)
        else:
            assert not z.U.data.any() and not z.V.data.any()


def test_householder_product_of_geqrf_reflectors_is_qr_q_and_errors_match():
    a = torch.tensor(_r(5, 3))
    packed, tau = torch.geqrf(a)
    q = zeroin.linalg.householder_product(zeroin.tensor(packed.numpy()), zeroin.tensor(tau.numpy()))
    np.testing.assert_allclose(q.data, torch.linalg.qr(a).Q.numpy(), atol=1e-14)
    for shapes, match in ((((3, 4), (2,)), "input.shape\\[-2\\] must be greater"),
                          (((4, 3), (4,)), "must be greater than or equal to tau.shape"),
                          (((2, 4, 3), (3, 2)), "batch dimensions of tau")):
        _both_raise(lambda T: T.linalg.householder_product(
            *(T.tensor(_r(*sh)) if T is torch else zeroin.tensor(_r(*sh)) for sh in shapes)),
            match, match)


@pytest.mark.parametrize("name", ["svd_lowrank", "pca_lowrank"])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (2, 5, 4)])
def test_lowrank_is_exact_for_a_matrix_of_rank_q(name, shape):
    """Random projections: zeroin's generator is not PyTorch's, so the two agree only where
    the answer does not depend on the draw (q >= rank)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape[:-1] + (2,)) @ rng.standard_normal(shape[:-2] + (2, shape[-1]))
    zeroin.manual_seed(0)
    U, S, V = getattr(zeroin, name)(zeroin.tensor(a), q=2)
    tU, tS, tV = getattr(torch, name)(torch.tensor(a), q=2)
    assert [tuple(x.shape) for x in (U, S, V)] == [tuple(x.shape) for x in (tU, tS, tV)]
    np.testing.assert_allclose(S.data, tS.numpy(), rtol=1e-12)
    centred = a - a.mean(-2, keepdims=True) if name == "pca_lowrank" else a
    np.testing.assert_allclose(((U * S[..., None, :]) @ V.mT).data, centred, atol=1e-12)


def test_lowrank_gradient_by_finite_differences_and_q_errors():
    a = _r(5, 4)

    def f(x):
        zeroin.manual_seed(3)       # the same random draw at every evaluation
        U, S, V = zeroin.svd_lowrank(x, q=4)
        return S
    check_first(f, a)
    with pytest.raises(ValueError, match="q\\(=5\\) must be non-negative integer"):
        torch.pca_lowrank(torch.tensor(a), q=5)
    with pytest.raises(ValueError, match="q\\(=5\\) must be non-negative integer"):
        zeroin.pca_lowrank(zeroin.tensor(a), q=5)


# --- ldl_factor, ldl_solve ------------------------------------------------------------------

def _symmetric_cases():
    rng = np.random.default_rng(0)
    out = []
    for n in (1, 2, 3, 5, 8):
        for s in range(6):
            a = rng.standard_normal((n, n))
            a = a + a.T
            if s % 3 == 1:
                a[np.diag_indices(n)] *= 1e-3      # small diagonal: 2 x 2 pivots
            if s % 3 == 2:
                a[np.diag_indices(n)] = 0
            out.append(a)
    return out + [np.array([[0.0, 1.0], [1.0, 0.0]]), np.zeros((2, 2)), np.ones((3, 3))]


def test_ldl_factor_matches_lapacks_pivots_and_solves():
    cases = _symmetric_cases()
    two_by_two = 0
    for a in cases:
        z = zeroin.linalg.ldl_factor_ex(zeroin.tensor(a))
        t = torch.linalg.ldl_factor_ex(torch.tensor(a))
        np.testing.assert_array_equal(z.pivots.data, t.pivots.numpy())
        np.testing.assert_allclose(z.LD.data, t.LD.numpy(), rtol=1e-10, atol=1e-12)
        assert z.info.tolist() == t.info.tolist() and z.pivots.dtype == np.int32
        two_by_two += bool((z.pivots.data < 0).any())
        if t.info.item() == 0:
            b = np.ones((len(a), 2))
            x = zeroin.linalg.ldl_solve(z.LD, z.pivots, zeroin.tensor(b))
            np.testing.assert_allclose(
                x.data, torch.linalg.ldl_solve(t.LD, t.pivots, torch.tensor(b)).numpy(),
                rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(a @ x.data, b, atol=1e-8 * np.abs(a).max() * len(a))
    assert two_by_two >= 5
    batch = np.stack(cases[6:12])       # batched, one call
    z, t = zeroin.linalg.ldl_factor(zeroin.tensor(batch)), torch.linalg.ldl_factor(
        torch.tensor(batch))
    np.testing.assert_array_equal(z.pivots.data, t.pivots.numpy())


def test_ldl_has_no_derivative_as_torch():
    a = _symmetric_cases()[7]
    z = zeroin.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    LD, piv = zeroin.linalg.ldl_factor(z)
    tLD, tpiv = torch.linalg.ldl_factor(t)
    assert LD.requires_grad and tLD.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not"):
        tLD.sum().backward()
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_factor_ex is not"):
        LD.sum().backward()
    b = zeroin.tensor(np.ones((len(a), 1)), requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative for aten::linalg_ldl_solve is not"):
        zeroin.linalg.ldl_solve(LD.detach(), piv, b).sum().backward()
    with pytest.raises(RuntimeError, match="pivots must be the int32 tensor"):
        zeroin.linalg.ldl_solve(LD, piv.long(), b)
