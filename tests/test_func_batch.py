"""vmap's batched run (zeroin/_func_batch.py): the same bits as the per-slice loop, and
the loop wherever a log cannot stand for every slice."""
import numpy as np
import pytest

import zeroin as z
import zeroin.func as F
from zeroin import _func_batch as fb
from zeroin.func import functional_call, grad, hessian, jacrev, vmap

rs = np.random.RandomState(0)
X = z.tensor(rs.randn(7, 3))
Y = z.tensor(rs.randn(7, 2))
W = z.tensor(rs.randn(3, 2))
# slices 0 and 1 positive, slice 4 negative: a log of slices 0 and 1 takes one branch only
XS = z.tensor(np.abs(rs.randn(7, 3)) + 0.1)
XS.data[4] *= -1


@pytest.fixture(autouse=True)
def batching():
    """The batched run on in both engines' modes (ZEROIN_FAST=0 turns it off by default:
    there vmap is the per-slice loop); each test compares it with the loop."""
    saved = F._batching_on
    F._batching_on = True
    yield
    F._batching_on = saved


def test_the_batched_run_is_on_with_the_fast_path_and_off_with_zeroin_fast_0():
    import os
    import subprocess
    import sys
    code = "import zeroin.func as F; print(F._batching_on)"
    for env, want in (("1", "True"), ("0", "False")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "ZEROIN_FAST": env}, check=True)
        assert out.stdout.strip() == want


def looped(f, *args, **kw):
    F._batching_on = False
    try:
        return vmap(f, **kw)(*args)
    finally:
        F._batching_on = True


def check(f, *args, batched=True, **kw):
    """vmap(f) against the loop, to the bit; ``batched``: whether the batched run took it."""
    got = vmap(f, **kw)(*args)
    assert (fb.last == "batched") == batched, fb.last
    want = looped(f, *args, **kw)
    a, b = F._leaves(got), F._leaves(want)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.shape == y.shape and x.dtype == y.dtype
        assert x.is_contiguous() and not x.requires_grad
        assert x.numpy().tobytes() == y.numpy().tobytes()
    return got


def mlp():
    z.manual_seed(0)
    nn = z.nn
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 2))


def test_per_sample_gradients_batched():
    net = mlp()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p, x, y):
        out = functional_call(net, p, (x.unsqueeze(0),))
        return z.nn.functional.mse_loss(out, y.unsqueeze(0))
    g = check(grad(loss), params, X, Y, in_dims=(None, 0, 0))
    # and each row is that sample's gradient
    net.zero_grad()
    loss({k: v for k, v in net.named_parameters()}, X[5], Y[5]).backward()
    for k, p in net.named_parameters():
        np.testing.assert_allclose(g[k].numpy()[5], p.grad.numpy(), rtol=0, atol=1e-15)


@pytest.mark.parametrize("f", [
    lambda x: z.tanh(x) * 2 + x ** 3 - z.exp(-x) / 3,
    lambda x: (x @ W).sum(),
    lambda x: x.unsqueeze(0) @ W,
    lambda x: W.t() @ x,
    lambda x: x @ x,
    lambda x: x.reshape(3, 1).mean(0, keepdim=True) + x.t(),
    lambda x: (x[1:] * x[0], z.stack([x, x * 2], 1), {"s": x.sum()}),
    lambda x: z.nn.functional.mse_loss(x[:2], W[0], reduction="sum"),
    jacrev(lambda x: z.tanh(x @ W)),
    hessian(lambda x: (z.sin(x) ** 2).sum()),
    lambda x: vmap(lambda r: r * 2)(x.unsqueeze(0).expand(4, 3)),
    lambda x: x,
    lambda x: W * 2,
    lambda x: z.softmax(x, 0) + z.log_softmax(x.reshape(1, 3), -1) + z.logsumexp(x, 0),
    lambda x: z.cat([x, W[:, 0], x * 2]).reshape(3, 3).logsumexp(1, keepdim=True),
    lambda x: x.clamp(W[:, 0], W[:, 1] + 5),
    grad(lambda x: (z.softmax(x @ W, 0) * z.log_softmax(x, 0).sum()).sum()),
])
def test_batched_same_bits_as_loop(f):
    check(f, X)


def test_out_dims_in_dims_and_float32():
    check(lambda x: x.unsqueeze(0) @ W, X, out_dims=1)
    check(lambda x: W * 2, X, out_dims=None)
    check(lambda x: z.sin(x).sum(), X, in_dims=1)
    check(lambda x: z.tanh(x) @ W.float(), X.float())
    with pytest.raises(ValueError, match="can not return a BatchedTensor"):
        vmap(lambda x: x * 2, out_dims=None)(X)


def test_pinn_second_derivative_batched():
    def u(x, t):
        return z.tanh(z.stack([x, t]) @ W[:2]).sum()
    check(lambda x, t: grad(grad(u))(x, t), X[:, 0], X[:, 1])


@pytest.mark.parametrize("f", [
    lambda x: x * 2 if x.sum() > 0 else x * 3,          # bool() of a value
    lambda x: x * (x > 0),                              # a mask from a comparison
    lambda x: x * x.sum().item(),                       # .item()
    lambda x: x * z.tensor(x.numpy().copy()),           # .numpy()
    lambda x: x + z.tensor(np.sign(x.data)),            # .data
    lambda x: x + x.detach().clone().abs_(),            # an op in place
])
def test_values_read_from_data_loop(f):
    """These give slices 0 and 1 the same log but slice 4 another: the batched run would
    give slice 4 wrong values; each is seen and the loop runs instead."""
    got = check(f, XS, batched=False)
    want = np.stack([f(z.tensor(r)).numpy() for r in XS.numpy()])
    np.testing.assert_array_equal(got.numpy(), want)


def test_dims_from_values_read_inside_zeroin_loop():
    """narrow(x, 0, x.argmin(), 1) reads the start with .item() inside zeroin: slices 0
    and 1 share an argmin (1), slice 2 does not; the batched run would take slice 0's."""
    a = z.tensor([[3., 1, 2], [3, 0, 1], [0, 5, 1], [4, 1, 2]])
    got = check(lambda x: x.narrow(0, x.argmin(), 1) * x, a, batched=False)
    np.testing.assert_array_equal(got.numpy()[2], [0, 0, 0])


@pytest.mark.parametrize("f", [
    lambda x: V3[x.argmax()] + x,       # an index made from the slice inside zeroin
    lambda x: z.take(V3, x.argmax()) + x,
])
def test_op_attributes_from_data_loop(f):
    """Slices 0 and 1 share their argmax, slice 2 does not: the op taking it as an
    attribute (not an input) would be reused from slice 0."""
    a = z.tensor([[3., 1, 2], [3, 0, 1], [0, 5, 1], [4, 1, 2]])
    got = check(f, a, batched=False)
    np.testing.assert_array_equal(got.numpy()[2], [20, 25, 21])


V3 = z.tensor([10., 20., 30.])


def test_tensor_copied_from_data_loops():
    got = check(lambda x: x + z.tensor(x.tolist()), XS, batched=False)
    np.testing.assert_array_equal(got.numpy(), 2 * XS.numpy())
    with pytest.warns(UserWarning, match="copy construct"):     # zeroin copies the values
        got = check(lambda x: x + z.tensor(x), XS, batched=False)
    np.testing.assert_array_equal(got.numpy(), 2 * XS.numpy())
    check(lambda x: x * 2, z.ones(5, 3), batched=False)     # equal slices: nothing to tell


def grads_both_ways(f, params, *args):
    """The gradients wrt ``params`` of sum(vmap(f)(*args) * R), batched and looped."""
    out = []
    for on in (True, False):
        F._batching_on = on
        try:
            for p in params:
                p.grad = None
            fb.last = None
            y = vmap(f)(*args)
            assert (fb.last == "batched") == on and y.requires_grad
            r = z.tensor(np.random.RandomState(1).randn(*y.shape))
            (y * r).sum().backward()
            out.append((y.detach(), [p.grad.numpy().copy() for p in params]))
        finally:
            F._batching_on = True
    (y1, g1), (y2, g2) = out
    assert y1.numpy().tobytes() == y2.numpy().tobytes()     # values: the loop's bits
    for a, b in zip(g1, g2):     # gradients: summed in another order, to round-off
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    return g1


def test_graph_through_batched_run():
    """Outputs that need a graph (parameters that require grad, a grad over vmap) come
    from the batched run recorded op by op: backward goes through it."""
    Wg = W.clone().requires_grad_()
    Xg = X.clone().requires_grad_()
    g = grads_both_ways(lambda x: z.tanh(x @ Wg).sum(), [Wg, Xg], Xg)
    assert g[0].shape == (3, 2)
    net = mlp()
    ps = list(net.parameters())
    grads_both_ways(lambda x, y: z.nn.functional.mse_loss(net(x), y), ps, X, Y)

    def u(x, t):
        return net(z.stack([x, t, x * t])).sum()
    grads_both_ways(lambda x, t: grad(grad(u))(x, t) + u(x, t), ps, X[:, 0], X[:, 1])


def test_random_and_integers_loop():
    with pytest.raises(RuntimeError, match="randomness error mode"):
        vmap(lambda x: x + z.rand(3))(X)
    check(lambda x: x * 2, z.tensor(rs.randint(0, 5, (5, 3))), batched=False)


def test_backward_and_replay_inside_loop():
    def plain_grad(x):      # a backward without create_graph: its arrays are not logged
        x = x.detach().requires_grad_()
        return z.autograd.grad((z.tanh(x) ** 2).sum(), x)[0]
    check(plain_grad, X, batched=False)
    f = z.replay(lambda x: z.tanh(x) * 2)
    check(lambda x: f(x.detach().requires_grad_()).detach(), X, batched=False)


def test_outputs_new_memory_as_the_loop():
    """The loop stacks the slices into new memory; so does the batched run, also where
    the function returns its input (or a view of it)."""
    x = X.clone()
    for f in (lambda v: v, lambda v: v.reshape(3, 1), lambda v: W[0] * 1):
        y = check(f, x)
        y.data[...] = 0
        np.testing.assert_array_equal(x.numpy(), X.numpy())


@pytest.mark.parametrize("change", [
    lambda buf, x: buf.add_(x.sum()),
    lambda buf, x: buf.copy_(x),
    lambda buf, x: buf.__iadd__(x),
])
def test_captured_tensor_changed_in_place_loops(change):
    """An in-place change of a captured tensor happens once per slice in the loop; the
    batched run cannot repeat it, so it loops (torch's vmap refuses such a function)."""
    ends = []
    for on in (True, False):
        F._batching_on = on
        try:
            buf = z.zeros(3)

            def f(x, buf=buf):
                change(buf, x)
                return x * 2
            fb.last = None
            vmap(f)(X)
            assert fb.last != "batched"
            ends.append(buf.numpy().copy())
        finally:
            F._batching_on = True
    np.testing.assert_array_equal(ends[0], ends[1])


def test_slice_one_repeating_slice_zero():
    """Slices 0 and 1 equal (one-hot targets of one class): the second call is the first
    slice that differs, and the loop calls the others in order if it comes to that."""
    y = Y.clone()
    y.data[1] = y.data[0]
    net = mlp()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def loss(p, x, t):
        return z.nn.functional.mse_loss(functional_call(net, p, (x,)), t)
    check(grad(loss), params, X, y, in_dims=(None, 0, 0))
    x = XS.clone()
    x.data[1] = x.data[0]
    seen = []

    def copied(v):
        seen.append(float(v.sum()))             # (a value read: it loops)
        return v + z.tensor(v.numpy().copy())
    got = check(copied, x, batched=False)
    np.testing.assert_array_equal(got.numpy(), 2 * x.numpy())
    assert seen[:len(seen) // 2] == [float(r.sum()) for r in x.numpy()[[0, 2, 1, 3, 4, 5, 6]]]
