"""zeroin.replay: the traced ops replayed on arrays give the eager results bit for bit."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.errors import ReplayError
from zeroin.nn import functional as F


def _mlp_step(replay, seed=0, dtype=np.float64):
    """A small MLP trained by SGD with a hinge loss and L2 (micrograd's demo, as W4)."""
    zeroin.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 1)).to(dtype)
    ps = list(model.parameters())
    opt = zeroin.optim.SGD(ps, lr=0.05, momentum=0.9)
    rng = np.random.default_rng(1)
    x = zeroin.tensor(rng.standard_normal((40, 2)).astype(dtype))
    y = zeroin.tensor(np.sign(rng.standard_normal((40, 1))).astype(dtype))

    def loss_fn():
        return zeroin.relu(1 - y * model(x)).mean() + 1e-4 * sum((p * p).sum() for p in ps)
    f = zeroin.replay(loss_fn) if replay else loss_fn

    def step():
        opt.zero_grad()
        loss = f()
        loss.backward()
        opt.step()
        return loss.item()
    return step, ps


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_with_replay_is_bit_identical(dtype):
    s1, p1 = _mlp_step(True, dtype=dtype)
    s2, p2 = _mlp_step(False, dtype=dtype)
    for k in range(12):
        assert s1() == s2(), k
        for a, b in zip(p1, p2):
            assert a.numpy().tobytes() == b.numpy().tobytes(), k
            assert a.grad.numpy().tobytes() == b.grad.numpy().tobytes(), k


def test_the_chapter_graph_replayed_reads_new_values():
    w = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    f = zeroin.replay(lambda: (2 * w + b) * (b + 1))
    for wv, bv in [(3.0, 4.0), (3.0, 4.0), (1.0, 2.0), (-2.5, 0.5)]:
        w.data = np.array(wv)
        b.data = np.array(bv)
        w.grad = b.grad = None
        z = f()
        z.backward()
        assert z.item() == (2 * wv + bv) * (bv + 1)
        assert w.grad.item() == 2 * (bv + 1)                 # dz/dw = 2y
        assert b.grad.item() == (bv + 1) + (2 * wv + bv)     # dz/db = y*1 + x*1
    assert f.plans and z.grad_fn.name == "replay"


def test_arguments_are_read_per_call_and_new_shapes_trace_again():
    zeroin.manual_seed(3)
    lin = nn.Linear(5, 3)
    f = zeroin.replay(lambda x, t: F.cross_entropy(lin(x), t))
    rng = np.random.default_rng(0)
    for batch in (8, 8, 8, 4, 8):
        x = zeroin.tensor(rng.standard_normal((batch, 5)))
        t = zeroin.tensor(rng.integers(0, 3, batch))
        lin.zero_grad()
        got = f(x, t)
        got.backward()
        g_got = [p.grad.numpy().copy() for p in lin.parameters()]
        lin.zero_grad()
        want = F.cross_entropy(lin(x), t)
        want.backward()
        assert got.item() == want.item()
        for a, p in zip(g_got, lin.parameters()):
            assert a.tobytes() == p.grad.numpy().tobytes()
    assert len(f.plans) == 2            # batch 8 and batch 4


def test_gradients_flow_to_an_argument_that_requires_grad():
    x = zeroin.tensor(np.linspace(-1, 1, 6), requires_grad=True)
    f = zeroin.replay(lambda x: (x * x).sum())
    for _ in range(3):
        x.grad = None
        f(x).backward()
        np.testing.assert_array_equal(x.grad.numpy(), 2 * x.numpy())


def test_two_replayed_results_alive_keep_their_own_state():
    """Cross entropy keeps its softmax and max pooling its indices per call."""
    zeroin.manual_seed(5)
    conv = nn.Conv2d(1, 2, 3, padding=1)
    head = nn.Linear(2 * 3 * 3, 4)

    def loss(x, t):
        h = F.max_pool2d(F.relu(conv(x)), 2)
        return F.cross_entropy(head(h.reshape(x.shape[0], -1)), t)
    f = zeroin.replay(loss)
    rng = np.random.default_rng(2)
    xs = [zeroin.tensor(rng.standard_normal((3, 1, 6, 6))) for _ in range(3)]
    t = zeroin.tensor(np.array([0, 3, 1]))
    f(xs[0], t)                         # the trace
    ps = list(conv.parameters()) + list(head.parameters())
    for p in ps:
        p.grad = None
    (f(xs[1], t) + 2 * f(xs[2], t)).backward()
    got = [p.grad.numpy().copy() for p in ps]
    for p in ps:
        p.grad = None
    (loss(xs[1], t) + 2 * loss(xs[2], t)).backward()
    for a, p in zip(got, ps):
        assert a.tobytes() == p.grad.numpy().tobytes()


def test_random_draws_and_running_statistics_are_refused():
    x = zeroin.tensor(np.ones((4, 3)), requires_grad=True)
    with pytest.raises(ReplayError, match="random numbers"):
        zeroin.replay(lambda x: F.dropout(x, 0.5).sum())(x)
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ReplayError, match="running statistics"):
        zeroin.replay(lambda x: bn(x).sum())(x)
    bn.eval()                           # evaluation reads the statistics: fine
    f = zeroin.replay(lambda x: bn(x).sum())
    assert f(x).item() == f(x).item() == bn(x).sum().item()
    # the engine is back to normal after a refused trace
    assert not zeroin.function.anomaly.enabled and zeroin.function.anomaly.tracer is None


def test_the_first_replay_is_checked_against_the_function():
    def fn(x):
        if x.sum().item() > 0:          # control flow on a value: invisible to a trace
            return (x * 2).sum()
        return (x * 3).sum()
    f = zeroin.replay(fn)
    f(zeroin.tensor([1.0, 2.0]))
    with pytest.raises(ReplayError, match="differs"):
        f(zeroin.tensor([-1.0, -2.0]))
    unchecked = zeroin.replay(fn, check=False)
    unchecked(zeroin.tensor([1.0, 2.0]))
    assert unchecked(zeroin.tensor([-1.0, -2.0])).item() == -6.0    # frozen branch: x * 2


def test_misuse_gets_clear_errors():
    w = zeroin.tensor(2.0, requires_grad=True)
    with pytest.raises(TypeError, match="one tensor"):
        zeroin.replay(lambda: (w * w, w))()
    with pytest.raises(TypeError, match="argument 0"):
        zeroin.replay(lambda x: x * w)(3.0)
    f = zeroin.replay(lambda: w * w * w)
    f()
    z = f()
    with pytest.raises(RuntimeError, match="create_graph"):
        z.backward(create_graph=True)


def test_without_grad_it_just_calls_the_function():
    w = zeroin.tensor(2.0, requires_grad=True)
    f = zeroin.replay(lambda: w * w)
    with zeroin.no_grad():
        z = f()
    assert z.item() == 4.0 and not z.requires_grad and not f.plans


def test_detect_anomaly_inside_and_around_a_replay():
    w = zeroin.tensor(np.array([1.0, 0.0]), requires_grad=True)
    f = zeroin.replay(lambda: (w * 2).sum())
    with zeroin.detect_anomaly():
        f().backward()
        f().backward()
    assert not zeroin.function.anomaly.enabled
    g = zeroin.replay(lambda: (1 / w).sum())
    with pytest.raises(zeroin.AnomalyError), np.errstate(divide="ignore"):
        with zeroin.detect_anomaly():
            g()


def test_a_replay_is_one_node_that_explain_and_draw_show():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    f = zeroin.replay(lambda: (2 * w + b) * (b + 1))
    f()
    z = f()
    z.backward()                        # releases the node; explain recomputes it
    text = str(zeroin.explain(z, b))
    assert "replay[4 ops]" in text and "= 15" in text
    assert zeroin.graph.toposort([z]) == [z]


def test_the_plan_does_not_keep_the_traced_graph_alive():
    import gc
    import weakref
    w = zeroin.tensor(np.ones(3), requires_grad=True)
    f = zeroin.replay(lambda: ((w * 2).exp() * 3).sum())
    first = f()
    inner = weakref.ref(first.grad_fn.inputs[0])    # an intermediate of the traced call
    del first
    gc.collect()
    assert inner() is None
    assert f().item() == pytest.approx(3 * 3 * np.exp(2))


def test_retain_graph_and_changes_to_captured_tensors():
    w = zeroin.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    v = zeroin.tensor(np.array([0.5, 0.5, 0.5]), requires_grad=True)
    f = zeroin.replay(lambda: (w * v).sum())
    f()
    z = f()
    z.backward(retain_graph=True)
    z.backward()                        # twice through the same replayed node: 2 * v
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])
    w.data = np.ones(4)                 # a captured tensor changes shape: traced again
    v.data = np.full(4, 2.0)
    w.grad = v.grad = None
    f().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.full(4, 2.0))
    assert len(next(iter(f.plans.values())).steps) == 2
    v.requires_grad_(False)             # ... and so does requires_grad
    w.grad = v.grad = None
    z = f()
    z.backward()
    assert v.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), np.full(4, 2.0))


def test_a_whole_training_step_is_refused_with_the_fix():
    """Replaying zero_grad/backward/step would silently stop training: refused."""
    w = zeroin.tensor(np.ones(3), requires_grad=True)
    opt = zeroin.optim.SGD([w], lr=0.1)

    def step():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        opt.step()
        return loss
    with pytest.raises(ReplayError, match="loss.backward.. and the optimiser outside"):
        zeroin.replay(step)()
    np.testing.assert_array_equal(w.numpy(), np.ones(3))    # refused before any update
