"""zeroin.linalg against torch 2.13 (values and gradients), finite differences, errors."""
import numpy as np
import pytest
from conftest import check_first, check_second

import zeroin

torch = pytest.importorskip("torch")


def _well(*shape, seed=0):
    """Well-conditioned square matrices: random plus a dominant diagonal."""
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def _r(*shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _against_torch(fn, *arrays, dtype=np.float64, tol=1e-10):
    """fn(zeroin, *tensors) and fn(torch, *tensors): same value and same gradient of a
    random projection, for every input."""
    arrays = [np.asarray(a, dtype) for a in arrays]
    zs = [zeroin.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    zo, to = fn(zeroin, *zs), fn(torch, *ts)
    assert zo.dtype == np.dtype(dtype) and tuple(zo.shape) == tuple(to.shape)
    np.testing.assert_allclose(zo.data, to.detach().numpy(), rtol=tol, atol=tol)
    r = np.random.default_rng(2).standard_normal(tuple(to.shape)).astype(dtype)
    (zo * zeroin.tensor(r)).sum().backward()
    (to * torch.tensor(r)).sum().backward()
    for z, t in zip(zs, ts):
        np.testing.assert_allclose(z.grad.data, t.grad.numpy(), rtol=tol, atol=tol)


# --- inv, solve, det, slogdet ------------------------------------------------------------

GROUP1 = {
    "inv": (lambda T, a: T.linalg.inv(a), [_well(3, 3)]),
    "inv_batched": (lambda T, a: T.linalg.inv(a), [_well(2, 2, 3, 3)]),
    "inverse": (lambda T, a: T.inverse(a) + a.inverse(), [_well(3, 3)]),
    "solve_matrix": (lambda T, a, b: T.linalg.solve(a, b), [_well(3, 3), _r(3, 2)]),
    "solve_vector": (lambda T, a, b: T.linalg.solve(a, b), [_well(3, 3), _r(3)]),
    "solve_batched_vectors": (lambda T, a, b: T.linalg.solve(a, b), [_well(2, 3, 3), _r(2, 3)]),
    "solve_broadcast": (lambda T, a, b: T.linalg.solve(a, b), [_well(3, 3), _r(4, 3, 2)]),
    "solve_broadcast_A": (lambda T, a, b: T.linalg.solve(a, b), [_well(2, 1, 3, 3), _r(4, 3, 2)]),
    "solve_right": (lambda T, a, b: T.linalg.solve(a, b, left=False), [_well(3, 3), _r(2, 3)]),
    "det": (lambda T, a: T.linalg.det(a), [_well(2, 3, 3)]),
    "det_top_level": (lambda T, a: T.det(a) + a.det(), [_well(4, 4)]),
    "slogdet": (lambda T, a: T.linalg.slogdet(a).logabsdet * T.linalg.slogdet(a).sign,
                [_well(2, 3, 3) - 6 * np.eye(3)]),
    "slogdet_method": (lambda T, a: a.slogdet()[1] + T.slogdet(a)[0], [_well(3, 3)]),
    "logdet": (lambda T, a: T.logdet(a) + a.logdet(), [_well(2, 3, 3)]),
    "least_squares": (lambda T, x, y: T.linalg.inv(x.T @ x) @ x.T @ y, [_r(6, 3), _r(6)]),
}


@pytest.mark.parametrize("name", sorted(GROUP1))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group1_matches_torch(name, dtype):
    fn, arrays = GROUP1[name]
    _against_torch(fn, *arrays, dtype=dtype, tol=1e-10 if dtype == np.float64 else 2e-4)


@pytest.mark.parametrize("name", sorted(GROUP1))
def test_group1_first_and_second_derivatives(name):
    fn, arrays = GROUP1[name]
    f = (lambda *xs: fn(zeroin, *xs))
    check_first(f, *arrays)
    check_second(f, *arrays)


def test_closed_form_least_squares_recovers_the_weights():
    rng = np.random.default_rng(0)
    X = zeroin.tensor(rng.standard_normal((50, 3)))
    w = np.array([1.5, -2.0, 0.5])
    y = X @ zeroin.tensor(w)
    np.testing.assert_allclose((zeroin.linalg.inv(X.T @ X) @ X.T @ y).data, w, atol=1e-12)


def test_det_and_slogdet_of_a_singular_matrix_are_0_as_in_torch():
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert zeroin.linalg.det(zeroin.tensor(s)).item() == 0.0
    sign, logabs = zeroin.linalg.slogdet(zeroin.tensor(s))
    assert sign.item() == 0.0 and logabs.item() == -np.inf
    assert np.isnan(zeroin.logdet(zeroin.tensor(-np.eye(3))).item())
    assert torch.isnan(torch.logdet(-torch.eye(3, dtype=torch.float64))).item()


def test_det_gradient_at_a_singular_matrix_is_torchs_and_slogdet_refuses():
    s = np.stack([np.eye(3), np.diag([1.0, 2.0, 0.0]), np.arange(9.0).reshape(3, 3)])
    x = zeroin.tensor(s, requires_grad=True)
    zeroin.linalg.det(x).sum().backward()
    t = torch.tensor(s, requires_grad=True)
    torch.linalg.det(t).sum().backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())   # 0 where det = 0
    x = zeroin.tensor(s, requires_grad=True)
    with pytest.raises(zeroin.linalg.LinAlgError, match=r"backward: .*batch element 1\).*"
                       r"singular.*needs A\^-1"):
        zeroin.linalg.slogdet(x).logabsdet.sum().backward()


def test_singular_inv_and_solve_raise_linalg_errors_naming_the_batch_element():
    s = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]])
    for call in (lambda: zeroin.linalg.inv(zeroin.tensor(s)),
                 lambda: zeroin.linalg.solve(zeroin.tensor(s), zeroin.tensor(np.ones((2, 2))))):
        with pytest.raises(zeroin.linalg.LinAlgError, match=r"batch element 1\).*singular"):
            call()
    with pytest.raises(RuntimeError):       # PyTorch raises its LinAlgError, a RuntimeError
        zeroin.linalg.inv(zeroin.tensor(s))
    with pytest.raises(RuntimeError):
        torch.linalg.inv(torch.tensor(s))


@pytest.mark.parametrize("call, match", [
    (lambda: zeroin.linalg.inv(zeroin.ones(2, 3)), r"linalg.inv: .*\(2, 3\).*square.*2 by 3"),
    (lambda: zeroin.linalg.det(zeroin.ones(3)), r"linalg.det: .*\(3,\).*at least 2"),
    (lambda: zeroin.linalg.slogdet(zeroin.ones(4, 2)), r"slogdet: .*square.*pinv"),
    (lambda: zeroin.linalg.solve(zeroin.eye(3), zeroin.ones(4)),
     r"linalg.solve: incompatible shapes of A \(3, 3\) and B \(4,\).*3 rows"),
    (lambda: zeroin.linalg.solve(zeroin.ones(2, 3, 3), zeroin.ones(4, 3, 1)),
     r"batch dimensions .*\(2, 3, 3\).*\(4, 3, 1\)"),
])
def test_shape_errors_name_the_op_the_shapes_and_the_fix(call, match):
    with pytest.raises(zeroin.ShapeError, match=match):
        call()


def test_dtype_errors():
    with pytest.raises(zeroin.DtypeError, match=r"linalg.inv: A has dtype int64.*double"):
        zeroin.linalg.inv(zeroin.tensor([[1, 0], [0, 1]]))
    with pytest.raises(RuntimeError, match=r"linalg.solve: A has dtype float64 and B float32"):
        zeroin.linalg.solve(zeroin.eye(2, dtype=zeroin.float64),
                            zeroin.ones(2, dtype=zeroin.float32))


# --- lstsq, pinv, matrix_norm, matrix_power, matrix_rank ---------------------------------

def _spd(*shape, seed=3):
    a = _r(*shape, seed=seed)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _sym(*shape, seed=4):
    a = _r(*shape, seed=seed)
    return a + np.swapaxes(a, -1, -2)


GROUP2 = {
    "lstsq": (lambda T, a, b: T.linalg.lstsq(a, b).solution, [_r(2, 5, 3), _r(2, 5, 2)]),
    "lstsq_vector": (lambda T, a, b: T.linalg.lstsq(a, b).solution, [_r(5, 3), _r(5)]),
    "lstsq_wide": (lambda T, a, b: T.linalg.lstsq(a, b).solution, [_r(3, 5), _r(3, 2)]),
    "pinv_tall": (lambda T, a: T.linalg.pinv(a), [_r(2, 4, 3)]),
    "pinv_wide": (lambda T, a: T.linalg.pinv(a) + a.pinverse().mT.mT, [_r(3, 5)]),
    "pinv_hermitian": (lambda T, a: T.linalg.pinv(_sym_in(a), hermitian=True), [_spd(3, 3)]),
    "matrix_power": (lambda T, a: T.linalg.matrix_power(a, 3) + a.matrix_power(2)
                     + T.matrix_power(a, 1), [_r(2, 3, 3)]),
    "matrix_power_negative": (lambda T, a: T.linalg.matrix_power(a, -2), [_well(3, 3)]),
}
for _o in ("fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2):
    GROUP2[f"matrix_norm_{_o}"] = (lambda T, a, o=_o: T.linalg.matrix_norm(a, ord=o),
                                   [_r(2, 4, 3)])
    GROUP2[f"matrix_norm_{_o}_dims"] = (
        lambda T, a, o=_o: T.linalg.matrix_norm(a, ord=o, dim=(2, 0), keepdim=True),
        [_r(3, 2, 4)])
    GROUP2[f"norm_{_o}"] = (lambda T, a, o=_o: T.linalg.norm(a, ord=o), [_r(3, 4)])


# --- cholesky, qr, eigh, eigvalsh, svd, svdvals ------------------------------------------
# eigen- and singular vectors are fixed up to sign: these functions of them are not

def _sign_free_svd(T, a, full):
    U, S, Vh = T.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]         # the columns past k of a full U (rows of Vh) get no gradient
    U, Vh = U[..., :k], Vh[..., :k, :]
    w = T.arange(k * 1.0).to(a.dtype)
    return ((U * U * w).sum(-1)[..., :1] + (U[..., :1, :1] * Vh[..., :1, :1]).sum(-1)
            + S[..., :1] + (Vh * Vh).sum(-2)[..., :1] * S[..., -1:])


def _svd_product(T, a, full):
    """U diag(S) Vh (A again); with ``full``, plus |U|^2 and |Vh|^2 (the extra columns)."""
    U, S, Vh = T.linalg.svd(a, full_matrices=full)
    k = S.shape[-1]
    usv = (U[..., :k] * S[..., None, :]) @ Vh[..., :k, :]
    return usv + (U * U).sum() + (Vh * Vh).sum() if full else usv


def _sign_free_eigh(T, a, uplo):
    L, Q = T.linalg.eigh(a, UPLO=uplo)
    return L[..., None, :] + Q * Q * T.arange(a.shape[-1] * 1.0).to(a.dtype)


def _sign_free_qr(T, a, mode):
    Q, R = T.linalg.qr(a, mode=mode)
    return (Q @ R) * 2 + (Q * Q).sum(-1, keepdim=True) + (R[..., :1, :] * Q[..., :1, :1])


def _sym_in(a):
    """cholesky, eigh, eigvalsh read one triangle of A, and their gradient is the symmetric
    one (PyTorch's): finite differences agree with it on a symmetrised input."""
    return (a + a.mT) / 2


GROUP3 = {
    "cholesky": (lambda T, a: T.linalg.cholesky(_sym_in(a)), [_spd(2, 3, 3)]),
    "cholesky_upper": (lambda T, a: T.linalg.cholesky(_sym_in(a), upper=True), [_spd(4, 4)]),
    "qr_tall": (lambda T, a: _sign_free_qr(T, a, "reduced"), [_r(2, 5, 3)]),
    "qr_square_complete": (lambda T, a: _sign_free_qr(T, a, "complete"), [_r(3, 3)]),
    "qr_wide": (lambda T, a: _sign_free_qr(T, a, "reduced"), [_r(3, 5)]),
    "qr_wide_complete": (lambda T, a: _sign_free_qr(T, a, "complete"), [_r(2, 3, 4)]),
    "eigh": (lambda T, a: _sign_free_eigh(T, _sym_in(a), "L"), [_sym(2, 3, 3)]),
    "eigh_upper": (lambda T, a: _sign_free_eigh(T, _sym_in(a), "U"), [_sym(4, 4)]),
    "eigvalsh": (lambda T, a: T.linalg.eigvalsh(_sym_in(a)), [_sym(2, 3, 3)]),
    "eigvalsh_upper": (lambda T, a: T.linalg.eigvalsh(_sym_in(a), UPLO="U"), [_r(3, 3)]),
    "svd_tall": (lambda T, a: _sign_free_svd(T, a, False), [_r(2, 4, 3)]),
    "svd_wide_full": (lambda T, a: _sign_free_svd(T, a, True), [_r(3, 5)]),
    "svd_tall_full": (lambda T, a: _sign_free_svd(T, a, True), [_r(4, 2)]),
    "svd_reconstruct": (lambda T, a: _svd_product(T, a, False), [_r(2, 3, 4)]),
    "svdvals": (lambda T, a: T.linalg.svdvals(a), [_r(2, 4, 3)]),
}

# against torch only: the raw (unsymmetrised) inputs and the extra columns of a full svd,
# where finite differences and PyTorch's conventional gradients differ by design
TORCH_ONLY = {
    "cholesky_raw": (lambda T, a: T.linalg.cholesky(a), [_spd(3, 3) + np.triu(_r(3, 3), 1)]),
    "eigh_raw": (lambda T, a: _sign_free_eigh(T, a, "L"), [_r(2, 3, 3)]),
    "eigh_raw_upper": (lambda T, a: _sign_free_eigh(T, a, "U"), [_r(3, 3)]),
    "eigvalsh_raw": (lambda T, a: T.linalg.eigvalsh(a, UPLO="U"), [_r(3, 3)]),
    "svd_full_extra_columns": (lambda T, a: _svd_product(T, a, True), [_r(4, 2)]),
    "pinv_hermitian_raw": (lambda T, a: T.linalg.pinv(a, hermitian=True), [_spd(3, 3)]),
}


@pytest.mark.parametrize("name", sorted(TORCH_ONLY))
def test_raw_inputs_match_torch(name):
    _against_torch(*TORCH_ONLY[name][:1], *TORCH_ONLY[name][1])


@pytest.mark.parametrize("name", sorted(GROUP2) + sorted(GROUP3))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_groups2_3_match_torch(name, dtype):
    fn, arrays = {**GROUP2, **GROUP3}[name]
    _against_torch(fn, *arrays, dtype=dtype, tol=1e-9 if dtype == np.float64 else 2e-3)


@pytest.mark.parametrize("name", sorted(GROUP2) + sorted(GROUP3))
def test_groups2_3_gradcheck(name):
    fn, arrays = {**GROUP2, **GROUP3}[name]
    check_first(lambda *xs: fn(zeroin, *xs), *arrays)


@pytest.mark.parametrize("name", ["pinv_tall", "pinv_wide", "cholesky", "qr_tall", "qr_wide",
                                  "eigh", "eigvalsh", "svd_tall", "svd_wide_full", "svdvals"])
def test_decompositions_second_derivatives(name):
    fn, arrays = {**GROUP2, **GROUP3}[name]
    check_second(lambda *xs: fn(zeroin, *xs), *arrays)


@pytest.mark.parametrize("driver", ["gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("shapes", [((5, 3), (5, 2)), ((2, 5, 3), (2, 5)), ((3, 5), (3, 2))])
def test_lstsq_returns_what_torch_returns_per_driver(driver, shapes):
    a, b = _r(*shapes[0]), _r(*shapes[1], seed=5)
    z = zeroin.linalg.lstsq(zeroin.tensor(a), zeroin.tensor(b), driver=driver)
    t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
    assert z._fields == ("solution", "residuals", "rank", "singular_values")
    for got, want in zip(z, t):
        assert tuple(got.shape) == tuple(want.shape)
        assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
        np.testing.assert_allclose(got.data, want.numpy(), rtol=1e-9, atol=1e-12)


def test_lstsq_and_pinv_of_a_rank_deficient_matrix_match_torch():
    a = _r(5, 2) @ _r(2, 3, seed=6)
    b = _r(5, 2, seed=7)
    z = zeroin.linalg.lstsq(zeroin.tensor(a), zeroin.tensor(b), driver="gelsd")
    t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver="gelsd")
    assert z.rank.item() == t.rank.item() == 2
    np.testing.assert_allclose(z.solution.data, t.solution.numpy(), atol=1e-10)
    np.testing.assert_allclose(zeroin.linalg.pinv(zeroin.tensor(a)).data,
                               torch.linalg.pinv(torch.tensor(a)).numpy(), atol=1e-10)


def test_matrix_rank_and_its_tolerances_match_torch():
    a = np.stack([(_r(4, 2) @ _r(2, 3, seed=6))[:3], np.diag([1.0, 1e-3, 1e-9])])
    for kw in ({}, {"atol": 1e-2}, {"rtol": 1e-6}, {"atol": 1e-12, "rtol": 0.5},
               {"hermitian": True}):
        got = zeroin.linalg.matrix_rank(zeroin.tensor(a @ np.swapaxes(a, -1, -2)), **kw)
        want = torch.linalg.matrix_rank(torch.tensor(a @ np.swapaxes(a, -1, -2)), **kw)
        assert got.dtype == np.int64 and got.tolist() == want.tolist(), kw


def test_cholesky_of_a_matrix_that_is_not_positive_definite_raises():
    with pytest.raises(zeroin.linalg.LinAlgError, match=r"linalg.cholesky: .*not "
                       r"positive-definite"):
        zeroin.linalg.cholesky(-zeroin.eye(2, dtype=zeroin.float64))


def test_qr_modes_and_the_modes_that_have_no_gradient():
    a = _r(4, 3)
    for mode in ("reduced", "complete", "r"):
        zq, zr = zeroin.linalg.qr(zeroin.tensor(a), mode=mode)
        tq, tr = torch.linalg.qr(torch.tensor(a), mode=mode)
        assert tuple(zq.shape) == tuple(tq.shape) and tuple(zr.shape) == tuple(tr.shape)
        np.testing.assert_allclose(np.abs(zr.data), np.abs(tr.numpy()), atol=1e-12)
    for mode in ("r", "complete"):
        x = zeroin.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError, match=f"mode='{mode}'.*not differentiable"):
            zeroin.linalg.qr(x, mode=mode).R.sum().backward()
    with pytest.raises(ValueError, match="mode='full'"):
        zeroin.linalg.qr(zeroin.tensor(a), mode="full")


def test_eigh_gradient_through_repeated_eigenvalues_is_not_finite_as_in_torch():
    # the eigenvectors of a repeated eigenvalue are any basis: no gradient (PyTorch: inf/nan)
    x = zeroin.tensor(np.eye(3), requires_grad=True)
    with np.errstate(all="ignore"):
        zeroin.linalg.eigh(x).eigenvectors[:, 0].sum().backward()
    t = torch.eye(3, dtype=torch.float64, requires_grad=True)
    torch.linalg.eigh(t).eigenvectors[:, 0].sum().backward()
    assert not np.isfinite(x.grad.data).all() and not torch.isfinite(t.grad).all()
    for values in (lambda x: zeroin.linalg.eigvalsh(x), lambda x: zeroin.linalg.eigh(x)[0],
                   lambda x: zeroin.linalg.svd(x)[1], lambda x: zeroin.linalg.svdvals(x)):
        x = zeroin.tensor(np.eye(3), requires_grad=True)
        values(x).sum().backward()          # the values alone are fine: I, as torch gives
        np.testing.assert_allclose(x.grad.data, np.eye(3), atol=1e-15)


@pytest.mark.parametrize("call, match", [
    (lambda: zeroin.linalg.cholesky(zeroin.ones(2, 3)), r"linalg.cholesky: .*square"),
    (lambda: zeroin.linalg.eigh(zeroin.ones(3)), r"linalg.eigh: .*at least 2"),
    (lambda: zeroin.linalg.svd(zeroin.ones(3)), r"linalg.svd: .*at least 2"),
    (lambda: zeroin.linalg.matrix_power(zeroin.ones(2, 3), 2), r"matrix_power: .*square"),
    (lambda: zeroin.linalg.lstsq(zeroin.ones(4, 3), zeroin.ones(5, 2)),
     r"linalg.lstsq: A \(4, 3\) and B \(5, 2\): B needs A's 4 rows"),
    (lambda: zeroin.linalg.matrix_norm(zeroin.ones(3)), r"matrix_norm: A of shape \(3,\)"),
])
def test_group2_3_shape_errors(call, match):
    with pytest.raises(zeroin.ShapeError, match=match):
        call()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"matrix_norm: ord=3"):
        zeroin.linalg.matrix_norm(zeroin.ones(2, 2), ord=3)
    with pytest.raises(ValueError, match=r"UPLO='X'"):
        zeroin.linalg.eigh(zeroin.eye(2), UPLO="X")
    with pytest.raises(ValueError, match=r"driver='foo'"):
        zeroin.linalg.lstsq(zeroin.eye(2), zeroin.eye(2), driver="foo")


def test_cholesky_ex_reports_info_as_torch_and_keeps_the_good_factors_differentiable():
    a = np.stack([_spd(3, 3), np.diag([1.0, -1.0, 1.0]), [[1.0, 2, 0], [2, 1, 0], [0, 0, 1]],
                  [[4.0, 1, 0], [1, 3, 0], [0, 0, -2]]])
    x = zeroin.tensor(a, requires_grad=True)
    got = zeroin.linalg.cholesky_ex(x)
    want = torch.linalg.cholesky_ex(torch.tensor(a))
    assert got.info.dtype == np.int32 and got.info.tolist() == want.info.tolist() == [0, 2, 2, 3]
    np.testing.assert_allclose(got.L.data[0], want.L.numpy()[0], rtol=1e-12)
    assert np.isnan(got.L.data[1:]).all()
    got.L[0].sum().backward()
    t = torch.tensor(a[0], requires_grad=True)
    torch.linalg.cholesky(t).sum().backward()
    np.testing.assert_allclose(x.grad.data[0], t.grad.numpy(), rtol=1e-10)
    assert not x.grad.data[1:].any()
    with pytest.raises(zeroin.linalg.LinAlgError, match=r"cholesky_ex: .*batch element 1\).*"
                       r"order 2"):
        zeroin.linalg.cholesky_ex(x, check_errors=True)
    ok = zeroin.linalg.cholesky_ex(zeroin.tensor(_spd(3, 3)), upper=True)
    np.testing.assert_allclose(ok.L.data, np.linalg.cholesky(_spd(3, 3)).T, rtol=1e-12)
    assert ok.info.item() == 0


# --- PyTorch parity found by tests/parity_sweep.py -----------------------------------------

def test_slogdet_sign_requires_grad_as_torchs_and_passes_no_gradient():
    # PyTorch's sign has the grad_fn of logabsdet; a backward through it alone reaches
    # nothing (A.grad stays None), and through sign * logabsdet only logabsdet's part
    a = _well(3, 3) * np.array([[-1.0], [1.0], [1.0]])
    zA, tA = zeroin.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (zs, zl), (ts, tl) = zeroin.linalg.slogdet(zA), torch.linalg.slogdet(tA)
    assert zs.requires_grad and ts.requires_grad and zs.grad_fn.name() == ts.grad_fn.name()
    assert zs.item() == ts.item() == -1.0
    zs.sum().backward()
    ts.sum().backward()
    assert zA.grad is None and tA.grad is None
    (zs, zl), (ts, tl) = zeroin.linalg.slogdet(zA), torch.linalg.slogdet(tA)
    (zs * zl).backward()
    (ts * tl).backward()
    np.testing.assert_allclose(zA.grad.data, tA.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss", "gels"])
def test_lstsq_outputs_require_grad_as_torchs(driver):
    # solution and residuals (empty or not) are recorded, rank and singular_values are not;
    # the residuals' gradient is that of |A X - B|^2 with X = pinv(A) @ B, as PyTorch's
    a, b = _r(5, 3), _r(5, 2, seed=5)
    zA, zB = zeroin.tensor(a, requires_grad=True), zeroin.tensor(b, requires_grad=True)
    tA, tB = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    z, t = zeroin.linalg.lstsq(zA, zB, driver=driver), torch.linalg.lstsq(tA, tB, driver=driver)
    for f in z._fields:
        got, want = getattr(z, f), getattr(t, f)
        assert got.requires_grad == want.requires_grad, f
        assert (got.grad_fn is None) == (want.grad_fn is None), f
    if t.residuals.numel():
        (z.residuals * zeroin.tensor([1.0, -2.0])).sum().backward()
        (t.residuals * torch.tensor([1.0, -2.0])).sum().backward()
        np.testing.assert_allclose(zA.grad.data, tA.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(zB.grad.data, tB.grad.numpy(), rtol=1e-9, atol=1e-12)


# 3 columns of rank 3, nearly 2 and nearly 1: rcond picks how many gelsy keeps
_DEFICIENT = np.array([[1.0, 2, 3], [2, 4, 6.1], [1, 0, 1], [0.5, 1, 2]])


@pytest.mark.parametrize("rcond", [None, 0.01, 0.1, 0.3])
@pytest.mark.parametrize("shape", [(4, 3), (3, 4)])
def test_lstsq_gelsy_with_rcond_truncates_as_lapacks_gelsy(rcond, shape):
    # PyTorch's default driver: column-pivoted QR, the rank from LAPACK's estimate of
    # cond(R11), then the minimum-norm solution of the truncated problem (zeroin used to
    # truncate singular values, gelsd's answer). PyTorch 2.13 hands LAPACK an uncleared
    # pivot array, so its values and rank for a cut A vary between calls (README); LAPACK's
    # own gelsy (scipy, pivots cleared) is the oracle for them, PyTorch for the gradient
    # (pinv(A) @ B's, whatever the rcond)
    lapack = pytest.importorskip("scipy.linalg.lapack")
    a = _DEFICIENT if shape == (4, 3) else _DEFICIENT.T.copy()
    b = _r(a.shape[0], 2, seed=8)
    m, n = a.shape
    rc = np.finfo(np.float64).eps * max(m, n) if rcond is None else rcond
    bb = np.zeros((max(m, n), 2))
    bb[:m] = b
    _, x, _, rank, _ = lapack.dgelsy(a, bb, np.zeros(n, np.int32), rc, 1000)
    zA, zB = zeroin.tensor(a, requires_grad=True), zeroin.tensor(b, requires_grad=True)
    tA, tB = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    z, t = zeroin.linalg.lstsq(zA, zB, rcond=rcond), torch.linalg.lstsq(tA, tB, rcond=rcond)
    assert z.rank.item() == rank
    np.testing.assert_allclose(z.solution.data, x[:n], rtol=1e-10, atol=1e-12)
    w = _r(n, 2, seed=9)
    (z.solution * zeroin.tensor(w)).sum().backward()
    (t.solution * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(zA.grad.data, tA.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(zB.grad.data, tB.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("driver", ["gelsd", "gelss"])
def test_lstsq_svd_drivers_with_rcond_match_torch(driver):
    a, b = _DEFICIENT, _r(4, 2, seed=8)
    for rcond in (0.01, 0.3):
        z = zeroin.linalg.lstsq(zeroin.tensor(a), zeroin.tensor(b), rcond=rcond, driver=driver)
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), rcond=rcond, driver=driver)
        assert z.rank.item() == t.rank.item()
        np.testing.assert_allclose(z.solution.data, t.solution.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")
def test_pinv_and_matrix_rank_take_torchs_older_positional_tolerance():
    # (PyTorch's matrix_rank(A, tensor) warns about its own internal out= resize)
    # PyTorch 2.13 still takes pinv(A, rcond, hermitian) (rcond relative: rtol) and
    # matrix_rank(A, tol, hermitian) (tol absolute: atol), also as keywords, and refuses
    # them together with atol/rtol; zeroin said "takes 1 positional argument"
    a = np.diag([10.0, 1.0, 0.05])
    calls = [lambda T, x: T.linalg.pinv(x, 0.2), lambda T, x: T.linalg.pinv(x, rcond=0.2),
             lambda T, x: T.linalg.pinv(x, 0.2, True), lambda T, x: T.linalg.pinv(x, -1.0),
             lambda T, x: T.linalg.pinv(x, T.tensor(0.2)),
             lambda T, x: T.linalg.matrix_rank(x, 0.2), lambda T, x: T.linalg.matrix_rank(x, 1),
             lambda T, x: T.linalg.matrix_rank(x, 0.5, True),
             lambda T, x: T.linalg.matrix_rank(x, tol=0.5),
             lambda T, x: T.linalg.matrix_rank(x, T.tensor(0.2)),
             # a tensor of tolerances, one per matrix, broadcast with A's batch
             lambda T, x: T.linalg.pinv(x, T.tensor([[0.05], [0.2]])),
             lambda T, x: T.linalg.pinv(x, atol=T.tensor([0.5, 2.0])),
             lambda T, x: T.linalg.pinv(x.expand(2, 3, 3), rtol=T.tensor([0.05, 0.2])),
             lambda T, x: T.linalg.matrix_rank(x, T.tensor([0, 1, 5])),
             lambda T, x: T.linalg.matrix_rank(x, T.tensor([True, False])),
             lambda T, x: T.linalg.matrix_rank(x.expand(3, 3, 3), atol=T.tensor([0.0, 0.5, 5]))]
    for f in calls:
        np.testing.assert_array_equal(f(zeroin, zeroin.tensor(a)).numpy(),
                                      f(torch, torch.tensor(a)).numpy())
    for f in (lambda T, x: T.linalg.pinv(x, 0.2, atol=0.1),
              lambda T, x: T.linalg.matrix_rank(x, 0.2, rtol=0.1)):
        with pytest.raises(TypeError):
            f(torch, torch.tensor(a))
        with pytest.raises(TypeError, match=r"linalg\.(pinv|matrix_rank): give (rcond|tol) "
                                            r"\(PyTorch's older form\) or atol/rtol, not both"):
            f(zeroin, zeroin.tensor(a))
    for T in (torch, zeroin):   # a tolerance that requires grad: pinv refuses, rank takes it
        tol = T.tensor([0.2, 0.5], dtype=T.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match="differentiable"):
            T.linalg.pinv(T.tensor(a), tol)
        assert T.linalg.matrix_rank(T.tensor(a), tol).tolist() == [2, 2]
    g = _r(2, 3, 3, seed=3)     # the gradient through the batch a tensor tolerance makes
    _against_torch(lambda T, x: T.linalg.pinv(x, T.tensor([[0.05], [0.2]])), _well(3, 3))
    _against_torch(lambda T, x: T.linalg.pinv(x, atol=T.tensor(np.array([0.5, 2.0]))), g)


@pytest.mark.parametrize("driver", ["gelsy", "gelsd", "gelss"])
def test_lstsq_of_zero_and_empty_matrices_matches_torch(driver):
    for shape in ((3, 3), (2, 4, 3), (3, 0), (0, 3)):
        a, b = np.zeros(shape), np.ones(shape[:-1] + (2,))
        z = zeroin.linalg.lstsq(zeroin.tensor(a), zeroin.tensor(b), driver=driver)
        t = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
        assert tuple(z.solution.shape) == tuple(t.solution.shape)
        assert z.rank.tolist() == t.rank.tolist()
        np.testing.assert_array_equal(z.solution.data, t.solution.numpy())


def test_norm_nuc_is_matrix_norms_as_torch():
    """PyTorch's norm(p='nuc') is linalg.matrix_norm(x, 'nuc') over dim (all dims by
    default, so a 2-D input or two dims); zeroin refused p='nuc'. Values, gradient of a
    full-rank matrix (a rank-deficient one has no unique gradient), and the errors."""
    torch = pytest.importorskip("torch")
    a = np.array([[2.0, -1.0, 0.5, 3.0], [0.3, 1.0, -2.0, 1.5], [1.0, 0.0, 4.0, -1.0]])
    res = []
    for T in (torch, zeroin):
        x = T.tensor(a, requires_grad=True)
        y = x.norm(p="nuc")
        y.backward()
        b = T.tensor(np.stack([a, a[::-1]]))
        res.append((float(y.detach()), np.asarray(x.grad.tolist()),
                    np.asarray(b.norm(p="nuc", dim=(1, 2)).tolist()),
                    tuple(T.norm(T.tensor(a), "nuc", keepdim=True).shape)))
        for bad in (lambda: b.norm(p="nuc"), lambda: b.norm(p="nuc", dim=1),
                    lambda: T.tensor(a[0]).norm(p="nuc")):
            with pytest.raises(RuntimeError):
                bad()
    (tv, tg, tb, ts), (zv, zg, zb, zs) = res
    np.testing.assert_allclose(zv, tv, rtol=1e-12)
    np.testing.assert_allclose(zg, tg, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(zb, tb, rtol=1e-12)
    assert zs == ts == (1, 1)
