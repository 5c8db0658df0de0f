"""zeroin.linalg against torch 2.13 (values and gradients), finite differences, errors."""
import numpy as np
import pytest

import zeroin
from conftest import check_first, check_second, leaf

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
        zeroin.linalg.solve(zeroin.eye(2, dtype=zeroin.float64), zeroin.ones(2, dtype=zeroin.float32))
