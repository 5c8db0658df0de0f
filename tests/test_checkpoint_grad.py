"""zeroin.utils.checkpoint: gradients identical to the plain run (dropout included), far
fewer values held between forward and backward, zeroin.grad and create_graph through it,
PyTorch's warnings and errors; against torch where installed."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.graph import toposort
from zeroin.utils.checkpoint import checkpoint, checkpoint_sequential


def _net():
    zeroin.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Dropout(0.3), nn.Linear(32, 32),
                         nn.GELU(), nn.Dropout(0.2), nn.Linear(32, 32), nn.Tanh(),
                         nn.Linear(32, 1)).double()


def _held_bytes(root):
    """Bytes of the arrays the graph of ``root`` keeps alive for backward: every recorded
    tensor and every operand its op holds (each array once), but the leaves that require
    grad (parameters and input), which are held anyway."""
    arrays = {}
    for t in toposort([root], include_leaves=True):
        for u in (t, *(getattr(t.grad_fn, "inputs", None) or ())):
            if u.requires_grad and u.grad_fn is None:
                continue
            a = u.numpy()
            arrays[id(a)] = a           # kept, so that no id is reused
    return sum(a.nbytes for a in arrays.values())


def _run(net, x, how, reentrant=False):
    net.zero_grad()
    zeroin.manual_seed(1)                   # the same dropout masks in every run
    body = nn.Sequential(*list(net)[:-1])
    if how == "plain":
        h = body(x)
    elif how == "checkpoint":
        h = checkpoint(body, x, use_reentrant=reentrant)
    else:
        h = checkpoint_sequential(body, 4, x, use_reentrant=reentrant)
    loss = (net[-1](h) ** 2).mean()
    held = _held_bytes(loss)
    loss.backward()
    return loss.item(), [p.grad.data.copy() for p in net.parameters()], held, x.grad


@pytest.mark.parametrize("how", ["checkpoint", "sequential"])
@pytest.mark.parametrize("reentrant", [False, True])
def test_gradients_are_bit_identical_to_the_plain_run_with_dropout(how, reentrant):
    net = _net()
    x = zeroin.randn(64, 6, dtype=zeroin.float64, requires_grad=True)
    loss0, g0, held0, gx0 = _run(net, x, "plain")
    gx0 = gx0.data.copy()
    x.grad = None
    loss1, g1, held1, gx1 = _run(net, x, how, reentrant)
    assert loss1 == loss0
    for a, b in zip(g0, g1):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(gx1.data, gx0)
    # the intermediates are not held (checkpoint_sequential keeps the segments' ends
    # and runs its last segment as usual)
    assert held1 < held0 * (0.5 if how == "checkpoint" else 0.75), (held0, held1)


def test_memory_held_counts_nodes_and_the_random_state_is_left_as_it_was():
    net = _net()
    x = zeroin.randn(16, 6, dtype=zeroin.float64)
    plain = net(x).sum()
    ck = checkpoint(net, x, use_reentrant=False).sum()
    assert len(toposort([ck])) == 2 < len(toposort([plain]))    # one node, and the sum
    state = zeroin.get_rng_state()
    ck.backward()
    after = zeroin.get_rng_state()
    assert after["numpy"] == state["numpy"]      # the recomputation drew from a copy


def test_grad_create_graph_and_closures_reach_every_tensor_read():
    rng = np.random.default_rng(0)
    w = zeroin.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    c0 = zeroin.tensor(rng.standard_normal(3), requires_grad=True)
    c = c0 * 2                                  # a non-leaf read by closure
    x = zeroin.tensor(rng.standard_normal((2, 3)), requires_grad=True)

    def f(t, scale=1.0):
        return ((t @ w).sin() + c) * scale, t.exp()

    def loss(out):
        return (out[0] ** 2).sum() + out[1].sum()

    want = zeroin.grad(loss(f(x, scale=0.5)), [x, w, c0], retain_graph=True)
    got = zeroin.grad(loss(checkpoint(f, x, use_reentrant=False, scale=0.5)), [x, w, c0],
                      retain_graph=True)
    for a, b in zip(want, got):
        np.testing.assert_array_equal(a.data, b.data)
    h0 = zeroin.grad(zeroin.grad(loss(f(x)), w, create_graph=True)[0].sum(), w,
                     retain_graph=True)[0]
    h1 = zeroin.grad(zeroin.grad(loss(checkpoint(f, x, use_reentrant=False)), w,
                                 create_graph=True)[0].sum(), w)[0]
    np.testing.assert_allclose(h1.data, h0.data, rtol=1e-13, atol=1e-13)


def test_gradcheck_through_a_checkpoint():
    rng = np.random.default_rng(1)
    w = zeroin.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = zeroin.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert zeroin.gradcheck(lambda a, b: checkpoint(lambda t: (t @ b).tanh(), a,
                                                    use_reentrant=False), (x, w))


def test_a_list_output_and_a_nested_checkpoint():
    w = zeroin.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x = zeroin.tensor([[1.0, -1.0]])

    def inner(t):
        return (t @ w).tanh()

    def outer(t):
        return [checkpoint(inner, t, use_reentrant=False) * 3, 7]

    out = checkpoint(outer, x, use_reentrant=False)
    assert isinstance(out, list) and out[1] == 7
    out[0].sum().backward()
    g = w.grad.data.copy()
    w.grad = None
    (inner(x) * 3).sum().backward()
    np.testing.assert_array_equal(g, w.grad.data)


def test_pytorch_warnings_and_errors():
    net = nn.Linear(2, 2)
    x = zeroin.ones(1, 2)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="None of the inputs")
            checkpoint(net, x)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(net, x, use_reentrant=True)
    assert not y.requires_grad                  # PyTorch's reentrant gotcha
    assert checkpoint(net, x, use_reentrant=False).requires_grad
    with pytest.raises(ValueError, match="Unexpected keyword arguments: k"):
        checkpoint(lambda t, k: t, x, use_reentrant=True, k=1)
    with pytest.raises(ValueError, match="segments must be an int"):
        checkpoint_sequential([net], 2, x, use_reentrant=False)
    with pytest.raises(TypeError, match="the function to run"):
        checkpoint(x, net, use_reentrant=False)


def test_matches_torch_with_copied_weights():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as tcheckpoint
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(),
                               torch.nn.Linear(5, 3)).double()
    znet = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    znet.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((3, 4))
    tx = torch.tensor(x, requires_grad=True)
    zx = zeroin.tensor(x, requires_grad=True)
    (tcheckpoint(tnet, tx, use_reentrant=False) ** 2).sum().backward()
    (checkpoint(znet, zx, use_reentrant=False) ** 2).sum().backward()
    np.testing.assert_allclose(zx.grad.data, tx.grad.numpy(), rtol=0, atol=1e-12)
    for p, q in zip(tnet.parameters(), znet.parameters()):
        np.testing.assert_allclose(q.grad.data, p.grad.numpy(), rtol=0, atol=1e-12)


def test_a_tensor_assigned_by_setitem_gets_its_gradient():
    w = zeroin.tensor([2.0, 3.0], requires_grad=True)
    x = zeroin.tensor([1.0, 5.0], requires_grad=True)

    def f(t):
        buf = zeroin.zeros(2, dtype=w.dtype)
        buf[:] = w                      # under no_grad: a plain write, listed all the same
        return (buf * t).sum()

    checkpoint(f, x, use_reentrant=False).backward()
    np.testing.assert_array_equal(w.grad.data, x.data)
    np.testing.assert_array_equal(x.grad.data, w.data)


def test_a_tensor_the_first_run_did_not_read_is_refused_not_dropped():
    w = zeroin.tensor([2.0, 3.0], requires_grad=True)
    x = zeroin.tensor([1.0, 5.0], requires_grad=True)

    def f(t):           # reads w only when grad is on: the first run never sees it
        return (t * w).sum() if zeroin.is_grad_enabled() else (t * 2).sum()

    y = checkpoint(f, x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="did not read through an op"):
        y.backward()


def test_checkpoint_inside_replay_is_refused():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    f = zeroin.replay(lambda: checkpoint(lambda t: (t * 2).sum(), w, use_reentrant=False))
    with pytest.raises(zeroin.ReplayError, match="checkpoint reruns its function"):
        f()


@pytest.mark.parametrize("reentrant", [False, True])
def test_several_outputs_rerun_the_function_once_per_backward(reentrant):
    rng = np.random.default_rng(5)
    w = zeroin.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    x = zeroin.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    calls = []

    def f(t):
        calls.append(1)
        h = nn.functional.dropout((t @ w).tanh(), 0.3)
        return h.sin(), h * 2, (h ** 2).sum(), 3

    def loss(outs):
        a, b, c, _ = outs
        return (a * b).sum() + c.exp() + (b[:2] ** 3).sum()

    zeroin.manual_seed(2)
    loss(f(x)).backward()
    plain = [w.grad.data.copy(), x.grad.data.copy()]
    w.grad = x.grad = None
    calls.clear()
    zeroin.manual_seed(2)
    out = checkpoint(f, x, use_reentrant=reentrant)
    assert len(calls) == 1 and isinstance(out, tuple) and out[3] == 3
    total = loss(out)
    total.backward(retain_graph=True)
    assert len(calls) == 2                                    # one rerun, not three
    np.testing.assert_array_equal(w.grad.data, plain[0])      # bit-identical, dropout too
    np.testing.assert_array_equal(x.grad.data, plain[1])
    total.backward(retain_graph=True)                         # a second pass: one more rerun
    assert len(calls) == 3
    np.testing.assert_array_equal(w.grad.data, 2 * plain[0])
    # only some outputs used; zeroin.grad of one output; create_graph through them
    (gb,) = zeroin.grad(out[1].sum(), [w], retain_graph=True)
    assert len(calls) == 4
    zeroin.manual_seed(2)                                     # the masks of the first run
    np.testing.assert_array_equal(gb.data, zeroin.grad(f(x)[1].sum(), [w])[0].data)
    calls.clear()
    (gw,) = zeroin.grad(loss(out), [w], create_graph=True)
    assert len(calls) == 1 and gw.requires_grad
    w.grad = None
    (gw ** 2).sum().backward()                        # second order through the rerun graph
    second = w.grad.data.copy()
    w.grad = None
    zeroin.manual_seed(2)
    (gp,) = zeroin.grad(loss(f(x)), [w], create_graph=True)
    (gp ** 2).sum().backward()
    np.testing.assert_allclose(second, w.grad.data, rtol=1e-12, atol=1e-12)


def test_gradcheck_through_a_checkpoint_with_two_outputs():
    rng = np.random.default_rng(6)
    w = zeroin.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = zeroin.tensor(rng.standard_normal((4, 3)), requires_grad=True)

    def two(t, b):
        h = (t @ b).tanh()
        return h.sin(), h.exp().sum(0)

    assert zeroin.gradcheck(lambda a, b: checkpoint(two, a, b, use_reentrant=False), (x, w))


def test_an_input_made_from_another_input_counts_its_path_once_and_double_backward():
    w = zeroin.tensor([1.5, -2.0], requires_grad=True, dtype=zeroin.float64)
    x = zeroin.tensor([0.5, 2.0], dtype=zeroin.float64)
    grads = []
    for use in (False, True):
        c = w * 3                       # read by closure, and so is w: two node inputs
        f = lambda a: (a * c * w).sum()     # noqa: E731
        out = checkpoint(f, x, use_reentrant=False) if use else f(x)
        w.grad = None
        out.backward()
        grads.append(w.grad.data.copy())
    np.testing.assert_array_equal(grads[1], grads[0])
    np.testing.assert_array_equal(grads[0], 6 * x.data * w.data)     # d(3 x w^2)/dw
    # second derivatives through a checkpoint's tensor arguments (one and two outputs)
    rng = np.random.default_rng(7)
    a = zeroin.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = zeroin.tensor(rng.standard_normal((3, 2)), requires_grad=True)

    def two(t, u):
        h = (t @ u).tanh()
        return h.sin(), h.exp().sum(0)

    assert zeroin.gradgradcheck(lambda t, u: checkpoint(lambda p, q: (p @ q).tanh().sin(), t,
                                                        u, use_reentrant=False), (a, b))
    assert zeroin.gradgradcheck(lambda t, u: checkpoint(two, t, u, use_reentrant=False),
                                (a, b))
