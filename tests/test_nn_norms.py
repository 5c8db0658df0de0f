"""zeroin.nn._norms: layer_norm and group_norm as one fused op each, against torch (values,
gradients, double backward, grad_fn names), finite differences, and the composed ops they
replaced (forward to the bit)."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn import functional as F
from zeroin.nn._composed import _normalize

from conftest import check_both

# (name, zeroin/torch call (T's functional, x, w, b), x shape, weight/bias shape or None)
CASES = [
    ("ln", lambda F_, x, w, b: F_.layer_norm(x, (5,), w, b), (3, 4, 5), (5,), (5,)),
    ("ln_2d_w_only", lambda F_, x, w, b: F_.layer_norm(x, (4, 5), w, None, 1e-3), (3, 4, 5),
     (4, 5), None),
    ("ln_plain", lambda F_, x, w, b: F_.layer_norm(x, [4, 5], eps=0.1), (2, 4, 5), None, None),
    ("ln_1d", lambda F_, x, w, b: F_.layer_norm(x, (6,), w, b), (6,), (6,), (6,)),
    ("ln_b_only", lambda F_, x, w, b: F_.layer_norm(x, (2, 3), None, b), (4, 2, 3), None,
     (2, 3)),
    ("gn", lambda F_, x, w, b: F_.group_norm(x, 2, w, b), (3, 4, 5, 2), (4,), (4,)),
    ("gn_nc", lambda F_, x, w, b: F_.group_norm(x, 3, w, b, 1e-3), (2, 6), (6,), (6,)),
    ("gn_3d_w_only", lambda F_, x, w, b: F_.group_norm(x, 1, w), (2, 3, 2, 2, 3), (3,), None),
    ("gn_plain", lambda F_, x, w, b: F_.group_norm(x, 4), (2, 4, 7), None, None),
]


def _arrays(xs, ws, bs, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(xs) * 3 + 1).astype(dtype)
    return [x] + [None if s is None else rng.standard_normal(s).astype(dtype) for s in (ws, bs)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, call, xs, ws, bs", CASES, ids=[c[0] for c in CASES])
def test_fused_norms_match_torch_values_gradients_and_names(name, call, xs, ws, bs, dtype):
    torch = pytest.importorskip("torch")
    arrays = _arrays(xs, ws, bs, dtype)
    z = [None if a is None else zeroin.tensor(a, requires_grad=True) for a in arrays]
    t = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    zy, ty = call(F, *z), call(torch.nn.functional, *t)
    assert zy.dtype == dtype and zy.grad_fn.name() == ty.grad_fn.name()
    g = np.random.default_rng(1).standard_normal(xs).astype(dtype)
    zy.backward(zeroin.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(zy.numpy(), ty.detach().numpy(), **tol)
    for a, b in zip(z, t):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


@pytest.mark.parametrize("name, call, xs, ws, bs", CASES, ids=[c[0] for c in CASES])
def test_fused_norms_gradcheck_first_and_second_order(name, call, xs, ws, bs):
    arrays = [a for a in _arrays(xs, ws, bs, np.float64, seed=2) if a is not None]
    has_w, has_b = ws is not None, bs is not None

    def fn(x, *p):
        it = iter(p)
        return call(F, x, next(it) if has_w else None, next(it) if has_b else None)
    check_both(fn, *arrays)


@pytest.mark.parametrize("name, call, xs, ws, bs", [c for c in CASES if c[0] in ("ln", "gn")],
                         ids=["ln", "gn"])
def test_fused_norms_double_backward_matches_torch(name, call, xs, ws, bs):
    torch = pytest.importorskip("torch")
    arrays = _arrays(xs, ws, bs, np.float64, seed=3)
    r = np.random.default_rng(4).standard_normal(xs)
    res = []
    for T, mk in ((zeroin, zeroin.tensor), (torch, torch.tensor)):
        leaves = [mk(a, requires_grad=True) for a in arrays]
        y = call(T.nn.functional, *leaves)
        gs = T.autograd.grad((y * mk(r)).sum(), leaves, create_graph=True)
        second = T.autograd.grad(sum((d * d).sum() for d in gs), leaves, allow_unused=True)
        assert second[2] is None        # the bias's gradient does not depend on the inputs
        res.append([d.detach().numpy() for d in list(gs) + list(second[:2])])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_norm_forward_is_the_composed_ops_to_the_bit(dtype):
    x, w, b = _arrays((4, 6, 3, 5), (6,), (6,), dtype, seed=5)
    xt, wt, bt = (zeroin.tensor(a) for a in (x, w, b))
    got = F.layer_norm(xt, (3, 5), zeroin.tensor(np.ones((3, 5), dtype))).numpy()
    want = _normalize(xt.reshape(4, 6, 15), (2,), 1e-5).numpy().reshape(x.shape)
    assert got.tobytes() == want.tobytes()
    got = F.group_norm(xt, 3, wt, bt).numpy()
    want = (_normalize(xt.reshape(4, 3, -1), (2,), 1e-5).reshape(x.shape) * wt.reshape(6, 1, 1)
            + bt.reshape(6, 1, 1)).numpy()
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_at_a_model_size_matches_torch(affine):
    # (64, 512) float32: the backward's matrix-vector sums over 512 columns and 64 rows
    torch = pytest.importorskip("torch")
    x, w, b = _arrays((64, 512), (512,), (512,), np.float32, seed=10)
    g = np.random.default_rng(11).standard_normal(x.shape).astype(np.float32)
    res = []
    for T in (zeroin, torch):
        leaves = [T.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = T.nn.functional.layer_norm(leaves[0], (512,), *(leaves[1:] if affine else ()))
        y.backward(T.tensor(g))
        res.append([y.detach().numpy()] + [t.grad.numpy() for t in leaves if t.grad is not None])
    assert len(res[0]) == len(res[1]) == (4 if affine else 2)
    for a, c in zip(*res):
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=2e-5 * np.abs(c).max())


def test_group_norm_with_a_bias_only_is_the_composed_ops():
    # (not in CASES: torch 2.13's backward fails there, "tensor does not have a device")
    x, _, b = _arrays((3, 4, 5), None, (4,), np.float64, seed=9)
    xt, bt = zeroin.tensor(x), zeroin.tensor(b)
    got = F.group_norm(xt, 2, None, bt).numpy()
    want = (_normalize(xt.reshape(3, 2, -1), (2,), 1e-5).reshape(x.shape)
            + bt.reshape(4, 1)).numpy()
    assert got.tobytes() == want.tobytes()
    check_both(lambda v, c: F.group_norm(v, 2, None, c), x, b)


def test_fused_norm_is_one_node_and_a_retained_graph_gives_the_same_gradients_twice():
    x, w, b = (zeroin.tensor(a, requires_grad=True) for a in _arrays((3, 4), (4,), (4,),
                                                                       np.float64))
    y = F.layer_norm(x, 4, w, b)
    assert y.grad_fn.name == "layer_norm" and y.grad_fn.inputs == (x, w, b)
    assert [type(f[0]).__name__ for f in y.grad_fn.next_functions] == ["AccumulateGrad"] * 3
    g = zeroin.tensor(np.arange(12.0).reshape(3, 4))
    first = zeroin.autograd.grad(y, (x, w, b), g, retain_graph=True)
    second = zeroin.autograd.grad(y, (x, w, b), g)
    for a, c in zip(first, second):
        assert a.numpy().tobytes() == c.numpy().tobytes()


@pytest.mark.parametrize("call", [lambda F_, x, w, b: F_.layer_norm(x, (6,)),
                                  lambda F_, x, w, b: F_.layer_norm(x, (6,), w, b),
                                  lambda F_, x, w, b: F_.group_norm(x, 2, w[:4], b[:4])],
                         ids=["ln_plain", "ln", "gn"])
def test_fused_norms_backward_after_the_output_is_changed_in_place(call):
    # backward reads the forward's xhat, never the output: without weight and bias xhat
    # is the output, which the user may change in place (PyTorch allows it too)
    torch = pytest.importorskip("torch")
    x, w, b = _arrays((5, 4, 6), (6,), (6,), np.float64, seed=7)
    g = np.random.default_rng(8).standard_normal(x.shape)
    res = []
    for T in (zeroin, torch):
        leaves = [T.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = call(T.nn.functional, *leaves)
        with T.no_grad():
            y.mul_(3.0)
        y.backward(T.tensor(g))
        res.append(leaves[0].grad.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.LayerNorm(6, bias=False), (2, 3, 6)),
    (lambda m: m.LayerNorm((3, 6), elementwise_affine=False), (2, 3, 6)),
    (lambda m: m.GroupNorm(2, 6, affine=False), (4, 6, 5)),
    (lambda m: m.GroupNorm(3, 6), (2, 6, 2, 3)),
])
def test_norm_modules_match_torch_in_float32(make, shape):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    zm, tm = make(nn).float(), make(torch.nn)
    zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zm(zx).square().sum().backward()
    tm(tx).square().sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (n, p), (_, q) in zip(zm.named_parameters(), tm.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=n)


def test_fused_norms_keep_their_errors():
    x = zeroin.ones(2, 6, 3)
    with pytest.raises(zeroin.ShapeError, match=r"layer_norm: normalized_shape \(4,\) must "
                                                r"equal the last dimensions"):
        F.layer_norm(x, 4)
    with pytest.raises(zeroin.ShapeError, match=r"group_norm: expected input \(N, C, \.\.\.\) "
                                                r"with C divisible by num_groups=4"):
        F.group_norm(x, 4)
    with pytest.raises(zeroin.ShapeError, match=r"weight must have shape \(6,\)"):
        F.group_norm(x, 3, zeroin.ones(1, 6, 1))


@pytest.mark.parametrize("xd, pd", [("float32", "float64"), ("float64", "float32"),
                                    ("float32", "float16")])
@pytest.mark.parametrize("which", ["weight", "bias"])
def test_mixed_dtypes_are_refused_as_torch_refuses_them(xd, pd, which):
    torch = pytest.importorskip("torch")
    x = np.ones((2, 4, 3), xd)
    p = np.ones(4, pd)
    for T, mk in ((torch, torch.tensor), (zeroin, zeroin.tensor)):
        kw = {which: mk(p)}
        with pytest.raises(RuntimeError, match="mixed dtype"):
            T.nn.functional.group_norm(mk(x), 2, **kw)
        with pytest.raises(RuntimeError, match="mixed dtype"):
            T.nn.functional.layer_norm(mk(x.transpose(0, 2, 1).copy()), (4,), **kw)
    with pytest.raises(zeroin.DtypeError, match=rf"group_norm: mixed dtype: input has dtype "
                                                rf"{xd} but the {which} {pd}; convert"):
        F.group_norm(zeroin.tensor(x), 2, **{which: zeroin.tensor(p)})


def test_half_input_takes_float32_parameters_as_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(7).standard_normal((2, 4, 3)).astype(np.float16)
    w = np.linspace(0.5, 2, 3).astype(np.float32)
    zw = zeroin.tensor(w, requires_grad=True)
    z = F.layer_norm(zeroin.tensor(x), (3,), zw)
    t = torch.nn.functional.layer_norm(torch.tensor(x), (3,), torch.tensor(w))
    assert z.dtype == np.float16 and t.dtype == torch.float16
    np.testing.assert_allclose(z.numpy().astype(float), t.numpy().astype(float), rtol=4e-3,
                               atol=4e-3)      # a few float16 steps: PyTorch computes in float32
    z.sum().backward()
    assert zw.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_of_an_empty_batch_as_torch(dtype, affine):
    """PyTorch's group_norm takes N = 0 (an empty last batch): an empty output and zero
    gradients for weight and bias; zeroin's reshape to (N, groups, -1) refused it."""
    torch = pytest.importorskip("torch")
    res = []
    for T in (torch, zeroin):
        x = T.zeros(0, 4, 3, 3, dtype=getattr(T, dtype), requires_grad=True)
        m = T.nn.GroupNorm(2, 4, affine=affine).to(getattr(T, dtype))
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # no "mean of empty slice"
            y = m(x)
            (y.sum() + x.sum()).backward()
        res.append((tuple(y.shape), y.dtype == x.dtype, tuple(x.grad.shape),
                    [p.grad.tolist() for p in m.parameters()]))
    assert res[1] == res[0]
