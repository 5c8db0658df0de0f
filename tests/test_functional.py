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


# --- nn.functional.ctc_loss: against a brute-force sum over paths, finite differences ------

def _ctc_brute(lp, target, blank=0):
    """-log p(target): every path of classes over the T steps, merged and blanks dropped."""
    import itertools
    t, c = lp.shape
    total = 0.0
    for path in itertools.product(range(c), repeat=t):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if [k for k in merged if k != blank] == list(target):
            total += np.exp(sum(lp[i, k] for i, k in enumerate(path)))
    return -np.log(total) if total else np.inf


def _ctc_case(seed, t=5, n=3, c=3, normalised=True):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (t, n, c))
    if normalised:
        x = x - np.log(np.exp(x).sum(axis=2, keepdims=True))
    return x


@pytest.mark.parametrize("blank", [0, 2])
def test_ctc_loss_equals_the_sum_over_all_paths(blank):
    import zeroin.nn.functional as F
    lp = _ctc_case(blank, normalised=False)     # any log-probabilities, not only normalised
    labels = [k for k in range(3) if k != blank]
    # a repeated label (needs a blank between), a single one, an empty target
    targets = np.array([[labels[0], labels[0]], [labels[1], 0], [0, 0]])
    il, tl = np.array([5, 4, 3]), np.array([2, 1, 0])
    out = F.ctc_loss(zeroin.tensor(lp), targets, il, tl, blank=blank, reduction="none")
    want = [_ctc_brute(lp[:il[i], i], targets[i, :tl[i]], blank) for i in range(3)]
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)
    # a repeated label takes T >= 3 steps: 2 gives inf, not an error
    short = F.ctc_loss(zeroin.tensor(lp), targets, np.array([2, 4, 3]), tl, blank=blank,
                       reduction="none")
    assert short.numpy()[0] == np.inf and _ctc_brute(lp[:2, 0], targets[0], blank) == np.inf
    zero = F.ctc_loss(zeroin.tensor(lp), targets, np.array([2, 4, 3]), tl, blank=blank,
                      reduction="none", zero_infinity=True)
    np.testing.assert_array_equal(zero.numpy(), [0.0, *short.numpy()[1:]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_gradient_matches_finite_differences(reduction):
    from conftest import check_first

    import zeroin.nn.functional as F
    targets, il, tl = np.array([[1, 1], [2, 0], [0, 0]]), (5, 4, 3), (2, 1, 0)
    # the gradient with respect to log_probs themselves (-posterior), unnormalised too
    check_first(lambda x: F.ctc_loss(x, targets, il, tl, reduction=reduction),
                _ctc_case(1, normalised=False))
    # through log_softmax, as a model uses it; concatenated targets, blank last
    check_first(lambda z: F.ctc_loss(z.log_softmax(2), np.array([0, 1, 1, 0]), il,
                                     (2, 1, 1), blank=2, reduction=reduction),
                _ctc_case(2, normalised=False))


def test_ctc_loss_gradient_is_minus_the_posterior_and_zero_past_the_input():
    import zeroin.nn.functional as F
    lp = zeroin.tensor(_ctc_case(3), requires_grad=True)
    F.ctc_loss(lp, np.array([[1, 2], [2, 2], [1, 0]]), (5, 5, 3), (2, 2, 1),
               reduction="sum").backward()
    g = lp.grad.numpy()
    np.testing.assert_allclose(g[:3].sum(axis=2), -1.0, rtol=1e-12)   # a distribution
    np.testing.assert_allclose(g[3:, :2].sum(axis=2), -1.0, rtol=1e-12)
    np.testing.assert_array_equal(g[3:, 2], 0.0)                       # past input length 3
    assert (g <= 0).all()


def test_ctc_loss_impossible_alignment_gradients():
    import zeroin.nn.functional as F
    args = (np.array([[1, 2], [1, 1]]), (1, 4), (2, 2))         # sample 0: 2 labels, 1 step
    for zero_infinity in (False, True):
        lp = zeroin.tensor(_ctc_case(4, n=2), requires_grad=True)
        loss = F.ctc_loss(lp, *args, reduction="none", zero_infinity=zero_infinity)
        loss.sum().backward()
        g = lp.grad.numpy()
        assert np.isfinite(loss.numpy()[1]) and np.isfinite(g[:, 1]).all()
        if zero_infinity:
            assert loss.numpy()[0] == 0 and (g[:, 0] == 0).all()
        else:                           # 0 / 0 within the input length, as in PyTorch
            assert loss.numpy()[0] == np.inf
            assert np.isnan(g[0, 0]).all() and (g[1:, 0] == 0).all()


def test_ctc_loss_unbatched_module_and_reductions():
    import zeroin.nn.functional as F
    from zeroin import nn
    lp = _ctc_case(5)
    tg, il, tl = np.array([[1, 2], [2, 0], [1, 1]]), np.array([5, 3, 4]), np.array([2, 1, 2])
    per = F.ctc_loss(zeroin.tensor(lp), tg, il, tl, reduction="none").numpy()
    assert F.ctc_loss(zeroin.tensor(lp), tg, il, tl).item() == pytest.approx(
        np.mean(per / tl))
    assert nn.CTCLoss(reduction="sum")(zeroin.tensor(lp), tg, il, tl).item() == \
        pytest.approx(per.sum())
    one = F.ctc_loss(zeroin.tensor(lp[:, 1]), tg[1], (3,), (1,), reduction="none")
    assert one.shape == () and one.item() == pytest.approx(per[1])
    assert repr(nn.CTCLoss(blank=1)) == "CTCLoss()"
    with pytest.raises(ValueError, match="reduction"):
        nn.CTCLoss(reduction="batchmean")


CTC_ERRORS = [
    (dict(log_probs=np.zeros((5, 2, 3, 1))), "log_probs must be \\(T, N, C\\)"),
    (dict(input_lengths=(6, 5)), "input_lengths must be at most T = 5"),
    (dict(input_lengths=(5, -1)), "input_lengths must be >= 0"),
    (dict(input_lengths=(5, 5, 5)), "input_lengths has 3 entries but the batch has 2"),
    (dict(target_lengths=(2,)), "target_lengths has 1 entries but the batch has 2"),
    (dict(log_probs=np.zeros((2, 5, 3))), "batch has 5 .* log_probs' first dimension has 2: "
     "if it is \\(N, T, C\\), batch first, pass log_probs.transpose\\(0, 1\\)"),
    (dict(target_lengths=(3, 1)), "padded targets of shape \\(2, 2\\) do not fit"),
    (dict(targets=np.array([1, 2, 2])), "concatenated targets have 3 labels but sum"),
    (dict(targets=np.array([[1, 0], [2, 1]])), "target label 0 at sample 0, position 1 is"),
    (dict(targets=np.array([[1, 3], [2, 1]])), "must be in 0..2 .* got 3 \\(sample 0, pos"),
    (dict(blank=3), "blank must be in 0..2"),
    (dict(targets=np.array([[1.5, 2], [2, 1]])), "targets must hold integer class labels"),
    (dict(input_lengths=np.array([5.0, 4.0])), "input_lengths must hold integers"),
    (dict(log_probs=np.zeros((5, 2, 3), dtype=np.int64)), "log_probs must be floating"),
    (dict(reduction="avg"), "reduction must be one of"),
]


@pytest.mark.parametrize("kw, msg", CTC_ERRORS, ids=[m for _, m in CTC_ERRORS])
def test_ctc_loss_refuses_bad_input_with_a_fix(kw, msg):
    import zeroin.nn.functional as F
    args = dict(log_probs=_ctc_case(6, n=2), targets=np.array([[1, 2], [2, 1]]),
                input_lengths=(5, 4), target_lengths=(2, 2))
    args.update(kw)
    args["log_probs"] = zeroin.tensor(args["log_probs"])
    with pytest.raises((ValueError, TypeError), match=msg):
        F.ctc_loss(**args)


def test_ctc_loss_ignores_the_padding_of_padded_targets():
    import zeroin.nn.functional as F
    lp = zeroin.tensor(_ctc_case(6, n=2))
    padded = [F.ctc_loss(lp, np.array([[1, pad], [2, 1]]), (5, 4), (1, 2), reduction="none")
              for pad in (-1, 0, 7)]                # out of range, the blank: only padding
    for p in padded[1:]:
        np.testing.assert_array_equal(p.numpy(), padded[0].numpy())
    concatenated = F.ctc_loss(lp, np.array([1, 2, 1]), (5, 4), (1, 2), reduction="none")
    np.testing.assert_array_equal(concatenated.numpy(), padded[0].numpy())


def test_ctc_loss_second_derivative_is_refused_as_in_pytorch():
    import zeroin.nn.functional as F
    lp = zeroin.tensor(_ctc_case(7), requires_grad=True)
    args = (np.array([[1, 2], [2, 2], [1, 0]]), (5, 5, 3), (2, 2, 1))
    (g,) = zeroin.grad(F.ctc_loss(lp, *args), lp, create_graph=True)
    lp2 = zeroin.tensor(_ctc_case(7), requires_grad=True)
    F.ctc_loss(lp2, *args).backward()
    np.testing.assert_array_equal(g.numpy(), lp2.grad.numpy())      # first order as usual
    with pytest.raises(RuntimeError, match="second derivative .* not implemented"):
        zeroin.grad((g * g).sum(), lp)
