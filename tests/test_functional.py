"""zeroin.functional: jacobian, hessian, vjp and hvp against analytic values."""
import numpy as np
import pytest
from hypothesis import given, settings

import zeroin
from zeroin.functional import hessian, hvp, jacobian, vjp
from conftest import seeds


def f_vec(x):
    """f(x) = x^2 * sum(x): J_ij = 2 x_i S delta_ij + x_i^2."""
    return x * x * x.sum()


def jac_vec(x):
    return np.diag(2 * x * x.sum()) + (x * x)[:, None]


def f_scalar(x):
    """f(x) = sum(x^3) + x0 x1: H = diag(6x) + the x0 x1 coupling."""
    return (x ** 3).sum() + x[0] * x[1]


def hess_scalar(x):
    h = np.diag(6 * x)
    h[0, 1] += 1
    h[1, 0] += 1
    return h


X = np.array([0.5, -1.0, 2.0])


def test_jacobian_against_analytic():
    j = jacobian(f_vec, zeroin.tensor(X))
    assert isinstance(j, zeroin.Tensor) and j.shape == (3, 3)
    np.testing.assert_allclose(j.data, jac_vec(X))


def test_jacobian_shapes_follow_output_then_input():
    w = np.arange(6.0).reshape(2, 3) / 5
    v = np.array([1.0, -2.0, 0.5])
    j = jacobian(lambda m: m @ zeroin.tensor(v), zeroin.tensor(w))
    assert j.shape == (2, 2, 3)                     # d(Wv)_i / dW_kl = delta_ik v_l
    expected = np.einsum("ik,l->ikl", np.eye(2), v)
    np.testing.assert_allclose(j.data, expected)
    js = jacobian(lambda t: t * t, zeroin.tensor(3.0))
    assert js.shape == () and js.item() == 6.0
    jc = jacobian(lambda t: zeroin.tensor([1.0, 2.0]), zeroin.tensor(X))
    np.testing.assert_array_equal(jc.data, np.zeros((2, 3)))   # constant f: zeros


@settings(max_examples=15, deadline=None)
@given(seed=seeds)
def test_jacobian_of_softmax(seed):
    x = np.random.default_rng(seed).uniform(-2, 2, 4)
    p = np.exp(x) / np.exp(x).sum()
    j = jacobian(lambda t: zeroin.softmax(t, dim=0), zeroin.tensor(x))
    np.testing.assert_allclose(j.data, np.diag(p) - np.outer(p, p), atol=1e-12)


def test_jacobian_with_create_graph_is_differentiable():
    x = zeroin.tensor(X, requires_grad=True)
    j = jacobian(lambda t: t ** 3, x, create_graph=True)      # diag(3 x^2)
    np.testing.assert_allclose(j.data, np.diag(3 * X ** 2))
    assert j.requires_grad
    (g,) = zeroin.grad(j.sum(), x)
    np.testing.assert_allclose(g.data, 6 * X)


def test_hessian_against_analytic():
    h = hessian(f_scalar, zeroin.tensor(X))
    assert h.shape == (3, 3)
    np.testing.assert_allclose(h.data, hess_scalar(X))
    # logsumexp: H = diag(p) - p p^T
    p = np.exp(X) / np.exp(X).sum()
    np.testing.assert_allclose(hessian(zeroin.logsumexp, zeroin.tensor(X)).data,
                               np.diag(p) - np.outer(p, p), atol=1e-12)
    # a matrix input: shape x.shape + x.shape; f = sum(W^2) has H = 2 I
    w = zeroin.tensor(np.ones((2, 2)))
    np.testing.assert_allclose(hessian(lambda m: (m * m).sum(), w).data,
                               2 * np.eye(4).reshape(2, 2, 2, 2))
    # linear f: zero Hessian
    np.testing.assert_array_equal(hessian(lambda t: (3 * t).sum(), zeroin.tensor(X)).data,
                                  np.zeros((3, 3)))


def test_vjp_against_analytic():
    v = np.array([1.0, 2.0, -1.0])
    y, g = vjp(f_vec, zeroin.tensor(X), v)
    np.testing.assert_allclose(y.data, X * X * X.sum())
    np.testing.assert_allclose(g.data, v @ jac_vec(X))
    _, g1 = vjp(f_vec, zeroin.tensor(X))          # v defaults to ones
    np.testing.assert_allclose(g1.data, np.ones(3) @ jac_vec(X))
    _, gz = vjp(lambda t: zeroin.tensor(1.0) * t.sum() * 0, zeroin.tensor(X))
    np.testing.assert_array_equal(gz.data, np.zeros(3))


def test_vjp_create_graph():
    x = zeroin.tensor(2.0, requires_grad=True)
    _, g = vjp(lambda t: t ** 3, x, create_graph=True)
    assert g.item() == 12.0
    assert zeroin.grad(g, x)[0].item() == 12.0


def test_hvp_against_analytic():
    v = np.array([0.5, 1.0, -2.0])
    y, hv = hvp(f_scalar, zeroin.tensor(X), v)
    assert y.item() == pytest.approx((X ** 3).sum() + X[0] * X[1])
    np.testing.assert_allclose(hv.data, hess_scalar(X) @ v)
    _, hv_t = hvp(f_scalar, zeroin.tensor(X), zeroin.tensor(v))
    np.testing.assert_allclose(hv_t.data, hess_scalar(X) @ v)
    _, zero = hvp(lambda t: (2 * t).sum(), zeroin.tensor(X), v)
    np.testing.assert_array_equal(zero.data, np.zeros(3))


def test_functional_leaves_inputs_untouched():
    x = zeroin.tensor(X, requires_grad=True)
    jacobian(f_vec, x)
    hessian(f_scalar, x)
    vjp(f_vec, x)
    hvp(f_scalar, x, np.ones(3))
    assert x.grad is None
    np.testing.assert_array_equal(x.data, X)
