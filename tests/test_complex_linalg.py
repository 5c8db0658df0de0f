"""zeroin.linalg on complex matrices against PyTorch: values, dtypes and gradients (PyTorch's
convention, z.grad = dL/dRe + i dL/dIm, checked against torch AND complex finite
differences), and the functions that still refuse complex matrices (a clear error)."""
import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

from test_complex import check, loss  # noqa: E402  (the shared complex helpers)

RNG = np.random.default_rng(11)


def _c(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


A = _c(3, 3) + 3 * np.eye(3)          # well conditioned
AB = _c(2, 3, 3) + 3 * np.eye(3)      # a batch
B = _c(3, 2)
V = _c(4, 3)
TALL = _c(4, 3)
RHS = _c(4, 2)


def real_loss(T, y):
    """A real loss of a complex or real result (weights reading both parts)."""
    if y.is_complex():
        return loss(T, y)
    return (y * T.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)))).sum()


ONE = {
    "inv": lambda T, a: T.linalg.inv(a),
    "inverse": lambda T, a: T.inverse(a),
    "inv_ex": lambda T, a: T.linalg.inv_ex(a).inverse,
    "det": lambda T, a: T.linalg.det(a),
    "det_method": lambda T, a: a.det(),
    "matrix_power_3": lambda T, a: T.linalg.matrix_power(a, 3),
    "matrix_power_-2": lambda T, a: T.linalg.matrix_power(a, -2),
    "matrix_exp": lambda T, a: T.linalg.matrix_exp(a * 0.3),
    "slogdet_sign": lambda T, a: T.linalg.slogdet(a).sign,
    "slogdet_logabsdet": lambda T, a: T.linalg.slogdet(a).logabsdet,
    "logdet": lambda T, a: T.logdet(a),
    "lu_factor": lambda T, a: T.linalg.lu_factor(a).LU,
    "lu_L": lambda T, a: T.linalg.lu(a).L,
    "lu_U": lambda T, a: T.linalg.lu(a).U,
    "tril_solve": lambda T, a: T.linalg.solve_triangular(a.tril(), T.tensor(B), upper=False),
    "triu_solve_right": lambda T, a: T.linalg.solve_triangular(
        a.triu(), T.tensor(B.T.copy()), upper=True, left=False),
    "unitriangular": lambda T, a: T.linalg.solve_triangular(
        a, T.tensor(B), upper=True, unitriangular=True),
    "fro": lambda T, a: T.linalg.matrix_norm(a),
    "matrix_norm_1": lambda T, a: T.linalg.matrix_norm(a, 1),
    "matrix_norm_-inf": lambda T, a: T.linalg.matrix_norm(a, -np.inf),
    "norm": lambda T, a: T.linalg.norm(a),
    "vector_norm": lambda T, a: T.linalg.vector_norm(a),
    "vector_norm_3": lambda T, a: T.linalg.vector_norm(a, 3, dim=0),
    "vector_norm_inf": lambda T, a: T.linalg.vector_norm(a, np.inf, dim=1),
    "vector_norm_1": lambda T, a: T.linalg.vector_norm(a, 1),
}


@pytest.mark.parametrize("name", list(ONE))
def test_one_matrix_functions_give_torch_values_and_gradients(name):
    check(lambda T, a: real_loss(T, ONE[name](T, a)), A)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet_logabsdet", "matrix_exp", "lu_U"])
def test_batched(name):
    check(lambda T, a: real_loss(T, ONE[name](T, a)), AB)


TWO = {
    "solve": lambda T, a, b: T.linalg.solve(a, b),
    "solve_vector": lambda T, a, b: T.linalg.solve(a, b[:, 0]),
    "solve_right": lambda T, a, b: T.linalg.solve(a, b.mT, left=False),
    "solve_ex": lambda T, a, b: T.linalg.solve_ex(a, b).result,
    "lu_solve": lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b),
    "lu_solve_adjoint": lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b,
                                                          adjoint=True),
    "lu_solve_right": lambda T, a, b: T.linalg.lu_solve(*T.linalg.lu_factor(a), b.mT,
                                                        left=False),
    "lu_solve_right_adjoint": lambda T, a, b: T.linalg.lu_solve(
        *T.linalg.lu_factor(a), b.mT, left=False, adjoint=True),
    "multi_dot": lambda T, a, b: T.linalg.multi_dot([a, a, b, b.mT]),
    "multi_dot_vectors": lambda T, a, b: T.linalg.multi_dot([b[:, 0], a, b[:, 1]]),
    "matmul": lambda T, a, b: T.linalg.matmul(a, b),
}


@pytest.mark.parametrize("name", list(TWO))
def test_two_matrix_functions_give_torch_values_and_gradients(name):
    check(lambda T, a, b: real_loss(T, TWO[name](T, a, b)), A, B)


VEC = {
    "vecdot": lambda T, x, y: T.linalg.vecdot(x, y),
    "vecdot_dim0": lambda T, x, y: T.linalg.vecdot(x, y, dim=0),
    "cross": lambda T, x, y: T.linalg.cross(x, y),
}


@pytest.mark.parametrize("name", list(VEC))
def test_vector_functions_give_torch_values_and_gradients(name):
    check(lambda T, x, y: real_loss(T, VEC[name](T, x, y)), V, _c(4, 3))


@pytest.mark.parametrize("name", ["inv", "det", "slogdet_logabsdet", "slogdet_sign", "logdet",
                                  "matrix_exp", "lu_U", "tril_solve"])
def test_second_derivatives_match_torch(name):
    res = {}
    for T in (zeroin, torch):
        a = T.tensor(A, requires_grad=True)
        (g,) = T.autograd.grad(real_loss(T, ONE[name](T, a)), a, create_graph=True)
        (g2,) = T.autograd.grad((g * T.tensor(B @ B.T)).real.sum(), a)
        res[T.__name__] = np.asarray(g2.detach().resolve_conj().numpy())
    np.testing.assert_allclose(res["zeroin"], res["torch"], rtol=1e-7, atol=1e-9)


def test_gradcheck_and_gradgradcheck_of_complex_linalg():
    a = zeroin.tensor(A, requires_grad=True)
    assert zeroin.gradcheck(lambda a: zeroin.linalg.inv(a), (a,))
    assert zeroin.gradgradcheck(lambda a: zeroin.linalg.det(a), (a,))
    assert zeroin.gradgradcheck(lambda a: zeroin.linalg.slogdet(a).sign, (a,))


def test_dtypes_and_complex64_follow_torch():
    a64 = A.astype(np.complex64)
    for name in ("inv", "det", "slogdet_sign", "slogdet_logabsdet", "logdet", "matrix_exp",
                 "fro", "vector_norm", "lu_factor"):
        z, t = ONE[name](zeroin, zeroin.tensor(a64)), ONE[name](torch, torch.tensor(a64))
        assert str(z.dtype) == str(t.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


def test_solve_of_complex_and_real_refuses_mixed_dtypes_as_torch():
    with pytest.raises(RuntimeError):
        torch.linalg.solve(torch.tensor(A), torch.tensor(B.real))
    with pytest.raises(zeroin.DtypeError, match="same dtype"):
        zeroin.linalg.solve(zeroin.tensor(A), zeroin.tensor(B.real))


def test_singular_complex_matrix_raises_linalg_error():
    s = np.ones((2, 2), complex)
    with pytest.raises(zeroin.linalg.LinAlgError, match="singular"):
        zeroin.linalg.inv(zeroin.tensor(s))
    assert complex(zeroin.linalg.det(zeroin.tensor(s)).item()) == 0


REFUSED = {
    "ldl_factor": lambda L, a: L.ldl_factor(a),
    "ldl_factor_ex": lambda L, a: L.ldl_factor_ex(a),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_functions_not_yet_complex_refuse_clearly(name):
    REFUSED[name](torch.linalg, torch.tensor(A))          # torch takes them
    with pytest.raises(zeroin.DtypeError, match="complex"):
        REFUSED[name](zeroin.linalg, zeroin.tensor(A))


HPD = A @ A.conj().T + np.eye(3)      # Hermitian positive-definite
HERM = (A + A.conj().T) / 2


def _phase_free(T, U):
    """|U|: independent of the eigen/singular vectors' arbitrary phases."""
    return U.abs()


DECOMP = {
    "cholesky": (HPD, lambda T, a: T.linalg.cholesky(a)),
    "cholesky_upper": (HPD, lambda T, a: T.linalg.cholesky(a, upper=True)),
    "cholesky_ex": (HPD, lambda T, a: T.linalg.cholesky_ex(a).L),
    "eigvalsh": (HERM, lambda T, a: T.linalg.eigvalsh(a)),
    "eigvalsh_U": (HERM, lambda T, a: T.linalg.eigvalsh(a, UPLO="U")),
    "eigh_values": (HERM, lambda T, a: T.linalg.eigh(a).eigenvalues),
    "eigh_abs_vectors": (HERM, lambda T, a: _phase_free(T, T.linalg.eigh(a).eigenvectors)),
    "eigh_projector": (HERM, lambda T, a: (lambda Q: Q[:, :1] @ Q[:, :1].mH)(
        T.linalg.eigh(a).eigenvectors)),
    "svdvals": (A, lambda T, a: T.linalg.svdvals(a)),
    "svdvals_tall": (TALL, lambda T, a: T.linalg.svdvals(a)),
    "svd_S": (TALL, lambda T, a: T.linalg.svd(a).S),
    "svd_abs_U": (TALL, lambda T, a: _phase_free(T, T.linalg.svd(a, full_matrices=False).U)),
    "svd_UVh": (A, lambda T, a: (lambda r: r.U @ r.Vh)(T.linalg.svd(a))),
    "svd_UVh_tall": (TALL, lambda T, a: (lambda r: r.U @ r.Vh)(
        T.linalg.svd(a, full_matrices=False))),
    "svd_UVh_wide": (TALL.T.copy(), lambda T, a: (lambda r: r.U @ r.Vh)(
        T.linalg.svd(a, full_matrices=False))),
    "matrix_norm_nuc": (A, lambda T, a: T.linalg.matrix_norm(a, "nuc")),
    "matrix_norm_2": (TALL, lambda T, a: T.linalg.matrix_norm(a, 2)),
    "qr_Q": (A, lambda T, a: T.linalg.qr(a).Q),
    "qr_R": (A, lambda T, a: T.linalg.qr(a).R),
    "qr_tall_Q": (TALL, lambda T, a: T.linalg.qr(a).Q),
    "qr_tall_R": (TALL, lambda T, a: T.linalg.qr(a).R),
    "qr_wide_Q": (TALL.T.copy(), lambda T, a: T.linalg.qr(a).Q),
    "qr_wide_R": (TALL.T.copy(), lambda T, a: T.linalg.qr(a).R),
    "qr_complete_square": (A, lambda T, a: T.linalg.qr(a, mode="complete").R),
    "pinv": (TALL, lambda T, a: T.linalg.pinv(a)),
    "pinv_wide": (TALL.T.copy(), lambda T, a: T.linalg.pinv(a)),
    "pinv_square": (A, lambda T, a: T.linalg.pinv(a)),
    "pinv_hermitian": (HERM, lambda T, a: T.linalg.pinv(a, hermitian=True)),
    "pinverse": (TALL, lambda T, a: T.pinverse(a)),
    "lstsq": (TALL, lambda T, a: T.linalg.lstsq(a, T.tensor(RHS)).solution),
    "lstsq_vector": (TALL, lambda T, a: T.linalg.lstsq(a, T.tensor(RHS[:, 0])).solution),
    "lstsq_wide": (TALL.T.copy(), lambda T, a: T.linalg.lstsq(a, T.tensor(RHS[:3])).solution),
    "tensorinv": (A, lambda T, a: T.linalg.tensorinv(a.reshape(3, 3, 1), ind=1)),
    "tensorsolve": (A, lambda T, a: T.linalg.tensorsolve(a, T.tensor(B[:, 0]))),
    "cond": (TALL, lambda T, a: T.linalg.cond(a)),
    "cond_nuc": (A, lambda T, a: T.linalg.cond(a, "nuc")),
    "householder_product": (TALL, lambda T, a: T.linalg.householder_product(
        a, T.tensor(np.array([0.5 + 0.3j, 1.2 - 0.4j])))),
    "lstsq_gelsd_residuals": (TALL, lambda T, a: T.linalg.lstsq(
        a, T.tensor(RHS), driver="gelsd").residuals),
}


@pytest.mark.parametrize("name", list(DECOMP))
def test_decompositions_give_torch_values_and_gradients(name):
    a, f = DECOMP[name]
    if a is HERM or a is HPD:   # they read one triangle: differences of the Hermitian part
        check(lambda T, a: real_loss(T, f(T, (a + a.mH) / 2)), a)
    else:
        check(lambda T, a: real_loss(T, f(T, a)), a)


def test_decomposition_dtypes_follow_torch():
    for name in ("eigvalsh", "eigh_values", "svdvals", "svd_S", "cholesky"):
        a, f = DECOMP[name]
        a = a.astype(np.complex64)
        z, t = f(zeroin, zeroin.tensor(a)), f(torch, torch.tensor(a))
        assert str(z.dtype) == str(t.dtype).replace("torch.", ""), name
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("which", ["eigh", "svd"])
def test_a_loss_on_the_vectors_phase_is_refused_as_torch(which):
    a = HERM if which == "eigh" else A
    for T in (torch, zeroin):
        x = T.tensor(a, requires_grad=True)
        vecs = T.linalg.eigh(x).eigenvectors if which == "eigh" else T.linalg.svd(x).U
        with pytest.raises(RuntimeError, match="phase|e\\^\\{i phi\\}"):
            vecs[1, 0].imag.backward()


@pytest.mark.parametrize("name", ["cholesky", "eigvalsh", "eigh_projector", "svdvals",
                                  "svd_UVh_tall", "qr_tall_Q", "qr_wide_R"])
def test_decomposition_second_derivatives_match_torch(name):
    a0, f = DECOMP[name]
    res = {}
    for T in (zeroin, torch):
        a = T.tensor(a0, requires_grad=True)
        x = (a + a.mH) / 2 if a0 is HERM or a0 is HPD else a
        (g,) = T.autograd.grad(real_loss(T, f(T, x)), a, create_graph=True)
        (g2,) = T.autograd.grad((g * T.tensor(np.ones(a0.shape) * (0.2 - 0.4j))).real.sum(), a)
        res[T.__name__] = np.asarray(g2.detach().resolve_conj().numpy())
    np.testing.assert_allclose(res["zeroin"], res["torch"], rtol=1e-6, atol=1e-8)


def test_matrix_rank_and_rank_deficient_lstsq_of_complex_matrices():
    low = _c(4, 2) @ _c(2, 3)                    # rank 2
    for h in (False, True):
        a = low @ low.conj().T if h else low
        assert int(zeroin.linalg.matrix_rank(zeroin.tensor(a), hermitian=h)) == \
            int(torch.linalg.matrix_rank(torch.tensor(a), hermitian=h)) == 2
    for driver in ("gelsd", "gelss"):
        z = zeroin.linalg.lstsq(zeroin.tensor(low), zeroin.tensor(RHS), driver=driver)
        t = torch.linalg.lstsq(torch.tensor(low), torch.tensor(RHS), driver=driver)
        np.testing.assert_allclose(z.solution.numpy(), t.solution.numpy(), atol=1e-10)
        assert z.singular_values.dtype == zeroin.float64 and int(z.rank) == int(t.rank)
    with pytest.raises(NotImplementedError, match="gelsd"):
        zeroin.linalg.lstsq(zeroin.tensor(low), zeroin.tensor(RHS))


def _l_factor(T, a):
    return T.linalg.cholesky((a + a.mH) / 2)


OLD = {     # the older top-level functions, on complex matrices (PyTorch warns on some)
    "svd_U_V": (A, lambda T, a: (lambda r: r.U @ r.V.mH)(T.svd(a))),
    "svd_S": (TALL, lambda T, a: T.svd(a).S),
    "svd_no_uv": (TALL, lambda T, a: T.svd(a, compute_uv=False).S),
    "cholesky_solve": (HPD, lambda T, a: T.cholesky_solve(T.tensor(B), _l_factor(T, a))),
    "cholesky_solve_upper": (HPD, lambda T, a: T.cholesky_solve(
        T.tensor(B), _l_factor(T, a).mH, upper=True)),
    "cholesky_inverse": (HPD, lambda T, a: T.cholesky_inverse(_l_factor(T, a))),
    "cholesky_inverse_upper": (HPD, lambda T, a: T.cholesky_inverse(_l_factor(T, a).mH,
                                                                    upper=True)),
    "lu_unpack": (A, lambda T, a: T.lu_unpack(*T.linalg.lu_factor(a)).U),
    "triangular_solve": (A, lambda T, a: T.triangular_solve(T.tensor(B), a).solution),
    "triangular_solve_t": (A, lambda T, a: T.triangular_solve(T.tensor(B), a,
                                                              transpose=True).solution),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(OLD))
def test_older_functions_give_torch_values_and_gradients(name):
    a, f = OLD[name]
    check(lambda T, a: real_loss(T, f(T, a)), a)


@pytest.mark.parametrize("p", ["fro", 1, -np.inf])
def test_cond_by_norms_of_complex_matrices(p):
    """Values as torch's; the gradient (PyTorch 2.13's backward raises here) by finite
    differences."""
    np.testing.assert_allclose(zeroin.linalg.cond(zeroin.tensor(A), p).numpy(),
                               torch.linalg.cond(torch.tensor(A), p).numpy(), rtol=1e-12)
    a = zeroin.tensor(A, requires_grad=True)
    assert zeroin.gradcheck(lambda a: zeroin.linalg.cond(a, p), (a,))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("method,args", [
    ("det", ()), ("inverse", ()), ("logdet", ()), ("pinverse", ()), ("matrix_exp", ()),
    ("matrix_power", (2,)), ("cholesky", ()), ("cholesky_inverse", ()), ("norm", ()),
])
def test_tensor_methods_of_complex_matrices(method, args):
    if method == "cholesky_inverse":        # of a Cholesky factor
        check(lambda T, a: real_loss(T, _l_factor(T, a).cholesky_inverse()), HPD)
        return
    a = HPD if method == "cholesky" else A
    check(lambda T, a: real_loss(T, getattr(a, method)(*args)), a, fd=method != "cholesky")


@pytest.mark.parametrize("name", ["cholesky", "cholesky_upper", "eigvalsh", "eigvalsh_U",
                                  "eigh_projector"])
def test_hermitian_inputs_gradients_match_torch_unsymmetrised(name):
    """On the matrix itself (not its Hermitian part) the gradient is PyTorch's (finite
    differences do not apply: one triangle is read)."""
    a, f = DECOMP[name]
    check(lambda T, a: real_loss(T, f(T, a)), a, fd=False)


@pytest.mark.parametrize("fn", ["svd_lowrank", "pca_lowrank"])
@pytest.mark.parametrize("shape", [(6, 4), (4, 6)])
def test_low_rank_svd_of_complex_matrices(fn, shape):
    """Random projections (zeroin's generator): exact where q >= rank, so the singular
    values are torch's and U diag(S) V^H rebuilds the matrix; gradients flow."""
    a = _c(shape[0], 2) @ _c(2, shape[1])             # rank 2
    za = zeroin.tensor(a, requires_grad=True)
    U, S, V = getattr(zeroin, fn)(za, q=3, **({"center": False} if fn == "pca_lowrank" else {}))
    St = getattr(torch, fn)(torch.tensor(a), q=3, **(
        {"center": False} if fn == "pca_lowrank" else {}))[1]
    np.testing.assert_allclose(S.data, St.numpy(), atol=1e-10)
    np.testing.assert_allclose((U.data * S.data) @ V.data.conj().T, a, atol=1e-10)
    S.sum().backward()
    assert za.grad.dtype == np.complex128 and np.abs(za.grad.data).max() > 0
