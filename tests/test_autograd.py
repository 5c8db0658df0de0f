"""zeroin.grad (PyTorch semantics), gradcheck, detect_anomaly, custom Functions and the
graph walk that backward, drawing and explaining share."""
import inspect
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import graph
from zeroin.autograd import node_grads
from conftest import leaf

# --- zeroin.grad ------------------------------------------------------------------------------


def test_grad_returns_a_tuple_and_accumulates_nothing():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    x.grad = zeroin.tensor([100.0, 100.0])
    h = x * 3
    h.retain_grad()
    result = zeroin.grad((h * h).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1
    np.testing.assert_array_equal(result[0].data, 18 * np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad.data, [100.0, 100.0])     # untouched
    assert h.grad is None                                           # retain_grad: untouched
    w = zeroin.tensor(2.0, requires_grad=True)
    (gw,) = zeroin.grad(w ** 2, [w], create_graph=True)
    assert w.grad is None and gw.item() == 4.0


def test_grad_with_grad_outputs():
    x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (g,) = zeroin.grad(x * x, x, grad_outputs=np.array([1.0, 0.0, -2.0]))
    np.testing.assert_array_equal(g.data, [2.0, 0.0, -12.0])
    (g,) = zeroin.grad([x * x], [x], grad_outputs=[zeroin.tensor([1.0, 1.0, 1.0])])
    np.testing.assert_array_equal(g.data, [2.0, 4.0, 6.0])
    # several outputs: their vector-Jacobian products add up; None means ones for a scalar
    (g,) = zeroin.grad([(x * x).sum(), x * 3], x, grad_outputs=[None, np.array([1.0, 2, 3])])
    np.testing.assert_array_equal(g.data, [2 + 3, 4 + 6, 6 + 9])
    # a single Tensor or array is one output's gradient, even with outputs given as a list
    (g,) = zeroin.grad([x * x], [x], grad_outputs=zeroin.tensor([1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(g.data, [2.0, 0.0, 6.0])
    with pytest.raises(ValueError, match="grad: got 1 grad_outputs for 2 outputs; give one "
                                         "per output"):
        zeroin.grad([x.sum(), x.mean()], x, grad_outputs=[None])
    with pytest.raises(RuntimeError, match=r"grad: output has shape \(3,\); backward without "
                                           r"a gradient works only for one-element outputs"):
        zeroin.grad(x * x, x)
    with pytest.raises(ValueError, match=r"grad: gradient has shape \(2,\) but the output has "
                                         r"shape \(3,\)"):
        zeroin.grad(x * x, x, grad_outputs=np.ones(2))


def test_grad_allow_unused():
    x = zeroin.tensor(1.0, requires_grad=True, name="x")
    b = zeroin.tensor(2.0, requires_grad=True, name="b")
    y = x * 5
    with pytest.raises(zeroin.ZeroinError) as e:
        zeroin.grad(y, [x, b], retain_graph=True)
    assert str(e.value) == ("grad: input 1 (b) is not used in the graph of the outputs; pass "
                            "allow_unused=True to get None for it")
    gx, gb = zeroin.grad(y, [x, b], allow_unused=True)
    assert gx.item() == 5.0 and gb is None
    with pytest.raises(RuntimeError, match="grad: input 0 does not require grad; create it "
                                           "with requires_grad=True"):
        zeroin.grad(y, [zeroin.tensor(1.0)])


def test_grad_is_grads_batched_gives_jacobian_rows_as_pytorch():
    # the Jacobians tutorial: autograd.grad(y, x, torch.eye(n), is_grads_batched=True)
    torch = pytest.importorskip("torch")
    a = np.array([0.3, -1.2, 0.7])
    out = []
    for lib in (zeroin, torch):
        x = lib.tensor(a, requires_grad=True)
        u = lib.tensor([1.0], requires_grad=True)
        y = x.sin() * x.sum()
        (jac,) = lib.autograd.grad(y, x, lib.eye(3, dtype=lib.float64),
                                   is_grads_batched=True, create_graph=True)
        (h,) = lib.autograd.grad(jac.sum(), x, retain_graph=True)   # create_graph: a graph
        unused = lib.autograd.grad(y, [x, u], lib.eye(3, dtype=lib.float64),
                                   is_grads_batched=True, allow_unused=True,
                                   retain_graph=True)[1]
        zeros = lib.autograd.grad(y, [x, u], lib.eye(3, dtype=lib.float64),
                                  is_grads_batched=True, materialize_grads=True)[1]
        (v,) = lib.autograd.grad((x ** 2).sum(), x, lib.tensor([1.0, 2.0], dtype=lib.float64),
                                 is_grads_batched=True)      # a scalar output: a batch of 2
        out.append([jac.detach().numpy(), h.numpy(), unused, zeros.numpy(), v.numpy()])
        with pytest.raises(RuntimeError, match="first dimension"):
            lib.autograd.grad(x * 2, x, lib.ones(3), is_grads_batched=True)
    for z, t in zip(out[0], out[1]):
        np.testing.assert_allclose(z, t, rtol=1e-12) if z is not None else None
    assert out[0][2] is None and out[1][2] is None and out[0][3].shape == (1,)
    f = lambda v: np.sin(v) * v.sum()                           # noqa: E731
    fd = np.stack([(f(a + e) - f(a - e)) / 2e-6 for e in np.eye(3) * 1e-6], axis=1)
    np.testing.assert_allclose(out[0][0], fd, rtol=1e-6)        # finite differences
    x = zeroin.tensor(a, requires_grad=True)
    with pytest.raises(RuntimeError, match="needs grad_outputs"):
        zeroin.autograd.grad(x * 2, x, is_grads_batched=True)
    with pytest.raises(zeroin.ZeroinError, match="not used in the graph"):
        zeroin.autograd.grad(x * 2, [x, zeroin.ones(1, requires_grad=True)], zeroin.eye(3),
                             is_grads_batched=True)


def test_grad_with_respect_to_intermediate_tensors():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    gh, gx = zeroin.grad((h * h).sum(), [h, x])
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    np.testing.assert_array_equal(gx.data, 3 * 2 * h.data)
    (same,) = zeroin.grad(x, x, grad_outputs=np.array([4.0, 5.0]))     # output is the input
    np.testing.assert_array_equal(same.data, [4.0, 5.0])


def test_grad_retain_graph_defaults_to_create_graph():
    x = zeroin.tensor(3.0, requires_grad=True)
    y = x ** 2
    zeroin.grad(y, x)
    with pytest.raises(RuntimeError, match="pass retain_graph=True"):
        zeroin.grad(y, x)
    y = x ** 2
    zeroin.grad(y, x, retain_graph=True)
    assert zeroin.grad(y, x)[0].item() == 6.0
    y = x ** 2
    (d,) = zeroin.grad(y, x, create_graph=True)      # retained because create_graph
    assert zeroin.grad(y, x)[0].item() == 6.0
    assert zeroin.grad(d, x)[0].item() == 2.0


def test_grad_of_a_gradient_made_without_create_graph_says_to_pass_it():
    # the PINN mistake: u_x from grad(u, x) without create_graph=True, then grad(u_x, x)
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        x = lib.linspace(0, 1, 4).view(-1, 1).requires_grad_(True)
        u = lib.sin(x)
        u_x = lib.autograd.grad(u, x, lib.ones_like(u))[0]
        with pytest.raises(RuntimeError) as e:
            lib.autograd.grad(u_x, x, lib.ones_like(u_x))
        if lib is zeroin:
            assert "without create_graph=True" in str(e.value)
            assert "pass create_graph=True to the grad that made it" in str(e.value)


def _act(lib, name):
    f = getattr(lib.nn.functional, name)
    if name == "prelu":         # one slope per channel, a constant
        w = lib.tensor([0.2, -0.3, 0.1, 0.4, 0.25, 0.05], dtype=lib.float64)
        return lambda z: f(z, w)
    return f


@pytest.mark.parametrize("act", ["relu", "leaky_relu", "hardtanh", "relu6", "rrelu", "prelu"])
def test_second_input_derivative_through_piecewise_linear_activations_is_zero_as_torch(act):
    # a PINN with ReLU: u_xx is 0 (PyTorch's threshold_backward keeps x in the graph), not
    # "x is not used"; the gradient penalty (WGAN-GP) through them is unchanged
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    w1, b1, w2 = rng.standard_normal((2, 6)), rng.standard_normal(6), rng.standard_normal((6, 1))
    xs = rng.standard_normal((5, 2)) * 3
    out = {}
    for lib in (zeroin, torch):
        f = _act(lib, act)
        x = lib.tensor(xs, requires_grad=True)
        w = lib.tensor(w1, requires_grad=True)
        u = f(x @ w + lib.tensor(b1)) @ lib.tensor(w2)
        ux = lib.autograd.grad(u, x, lib.ones_like(u), create_graph=True)[0]
        uxx = lib.autograd.grad(ux, x, lib.ones_like(ux), create_graph=True)[0]
        assert uxx.requires_grad
        penalty = ((ux.norm(2, dim=1) - 1) ** 2).mean()
        gw = lib.autograd.grad(penalty, w)[0]
        out[lib] = [t.detach().numpy() for t in (u, ux, uxx, gw)]
    for a, b in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert not out[zeroin][2].any()
    x = zeroin.tensor(xs[:2], requires_grad=True)
    f = _act(zeroin, act)
    assert zeroin.gradgradcheck(lambda x: f(x @ zeroin.tensor(w1)).sum(1) ** 2, (x,))


def test_create_graph_gradients_are_in_the_graph():
    x = zeroin.tensor([0.5, -1.0], requires_grad=True)
    y = zeroin.tensor([2.0, 3.0], requires_grad=True)
    f = (zeroin.sin(x) * y ** 2).sum()
    gx, gy = zeroin.grad(f, [x, y], create_graph=True)
    np.testing.assert_allclose(gx.data, np.cos(x.data) * y.data ** 2)
    np.testing.assert_allclose(gy.data, 2 * y.data * np.sin(x.data))
    # mixed partial d/dy (df/dx) = 2 y cos x
    (gxy,) = zeroin.grad(gx.sum(), y)
    np.testing.assert_allclose(gxy.data, 2 * y.data * np.cos(x.data))
    # without create_graph the results are constants
    gx2, _ = zeroin.grad((zeroin.sin(x) * y ** 2).sum(), [x, y])
    assert not gx2.requires_grad and gx2.is_leaf


def test_grad_hooks_run_during_grad():
    x = zeroin.tensor(2.0, requires_grad=True)
    h = x * 1
    seen = []
    h.register_hook(lambda g: seen.append(g) or g * 3)
    (gx,) = zeroin.grad(h * h, x)
    assert gx.item() == 3 * 2 * 2.0
    assert type(seen[0]) is zeroin.Tensor and type(seen[0].numpy()) is np.ndarray
    assert type(gx.numpy()) is np.ndarray


def test_node_grads_reads_every_gradient_without_touching_grad():
    w = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    x = 2 * w + b
    y = b + 1
    z = x * y
    z.backward()                                     # plain backward first: graph released
    w.grad = b.grad = None
    g = node_grads(z)
    assert (g[id(z)], g[id(x)], g[id(y)], g[id(w)], g[id(b)]) == (1.0, 5.0, 10.0, 10.0, 15.0)
    assert w.grad is None and b.grad is None


# --- the graph walk ------------------------------------------------------------------------------

def test_toposort_parents_leaves():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    z = x * y
    order = graph.toposort([z])
    assert order[-1] is z and all(t.grad_fn is not None for t in order)
    pos = {id(t): i for i, t in enumerate(order)}
    for t in order:                                  # each node after its inputs
        for p in graph.parents(t):
            if p.grad_fn is not None:
                assert pos[id(p)] < pos[id(t)]
    assert [p is x or p is y for p in graph.parents(z)] == [True, True]
    assert graph.parents(w) == ()
    lv = graph.leaves([z])
    assert any(t is w for t in lv) and any(t is b for t in lv)
    consts = [t for t in lv if graph.is_constant(t)]
    assert sorted(float(c.item()) for c in consts) == [1.0, 2.0]   # the numbers 2 and 1
    assert len(graph.toposort([z], include_leaves=True)) == len(order) + len(lv)
    assert z.grad_fn.name == "mul" and z.grad_fn.label() == "*"


def test_toposort_handles_deep_graphs_without_recursion():
    x = zeroin.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    assert len(graph.toposort([y])) == 20_000


# --- custom ops ----------------------------------------------------------------------------------

class Cube(zeroin.Function):
    """x**3 as a user-defined op: the rule is written once for arrays and tensors."""
    name = "cube"

    def forward(self, x):
        return x ** 3

    def backward(self, xp, g, out, x):
        return g * 3 * x * x


class BadSquare(zeroin.Function):
    name = "bad_square"

    def forward(self, x):
        return x * x

    def backward(self, xp, g, out, x):
        return g * 2.02 * x                          # 1% off


class OpaqueSquare(zeroin.Function):
    """Right first derivative, but the rule reads raw data, so create_graph cannot see x."""
    name = "opaque_square"

    def forward(self, x):
        return x * x

    def backward(self, xp, g, out, x):
        return g * 2 * (x.data if isinstance(x, zeroin.Tensor) else x)


def test_custom_function_first_and_second_order():
    x = zeroin.tensor(2.0, requires_grad=True)
    y = Cube()(x)
    assert y.item() == 8.0 and y.grad_fn.name == "cube"
    (d1,) = zeroin.grad(y, x, create_graph=True)
    (d2,) = zeroin.grad(d1, x)
    assert (d1.item(), d2.item()) == (12.0, 12.0)
    assert zeroin.gradcheck(lambda t: Cube()(t), [leaf([0.5, -1.5])])


# --- gradcheck -----------------------------------------------------------------------------------

def test_gradcheck_returns_true_for_correct_gradients():
    assert zeroin.gradcheck(lambda a, b: (a * b).sum() / (a ** 2 + 1).mean(),
                            [leaf([1.0, 2.0]), leaf([[3.0], [0.5]])]) is True
    # float32 inputs are checked in float64; non-tensor and non-grad inputs pass through
    x32 = zeroin.tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    assert zeroin.gradcheck(lambda x, c, k: zeroin.tanh(x * c) * k,
                            [x32, zeroin.tensor([2.0, 3.0]), 4.0]) is True
    assert zeroin.gradcheck(zeroin.exp, leaf([1.0, 2.0])) is True      # a single tensor


def test_gradcheck_checks_float32_as_float64_where_pytorch_warns():
    # zeroin checks float32 inputs in float64 copies, silently (README: where zeroin differs);
    # PyTorch warns and checks in float32, which fails for eps=1e-6
    x32 = zeroin.tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zeroin.gradcheck(zeroin.sin, [x32]) is True
        assert zeroin.gradgradcheck(zeroin.sin, [x32]) is True
    assert x32.dtype == np.float32 and x32.grad is None       # the caller's input untouched
    with pytest.raises(zeroin.GradcheckError):                 # a wrong rule still fails
        zeroin.gradcheck(lambda t: BadSquare()(t), [x32.detach().requires_grad_()])
    torch = pytest.importorskip("torch")
    t32 = torch.tensor([0.3, 0.7], requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double "
                                         "precision floating point"):
        torch.autograd.gradcheck(torch.sin, (t32,), raise_exception=False)


def test_gradcheck_error_names_input_index_and_both_values():
    a = leaf([1.0, 2.0], name="a")
    x = leaf([[1.0, 2.0], [3.0, -1.0]], name="x")
    with pytest.raises(zeroin.GradcheckError) as e:
        zeroin.gradcheck(lambda a, x: a.sum() + BadSquare()(x).sum(), [a, x])
    msg = str(e.value)
    assert msg.startswith("gradcheck: input 1 (x) of shape (2, 2), element (0, 0): "
                          "analytic gradient 2.02 but finite difference ")
    num = float(msg.split("finite difference ")[1].split(" ")[0])
    assert num == pytest.approx(2.0, abs=1e-6)
    assert isinstance(e.value, AssertionError)
    with pytest.raises(zeroin.GradcheckError, match=r"input 0 of shape \(\), element \(\): "
                                                    r"analytic gradient 10.1"):
        zeroin.gradcheck(lambda t: BadSquare()(t), [leaf(5.0)])


def test_gradcheck_nudges_a_transposed_input():
    # a transposed (Fortran-ordered) input: the finite differences nudge its float64
    # copy's elements; they were all 0 when the copy kept the input's strides
    w = zeroin.tensor(np.arange(1.0, 7.0).reshape(3, 2).T, requires_grad=True)
    assert not w.data.flags.c_contiguous
    assert zeroin.gradcheck(lambda w: (w * w * w).sum(), [w]) is True
    w32 = zeroin.tensor(np.arange(1.0, 7.0, dtype=np.float32).reshape(3, 2).T,
                        requires_grad=True)
    assert zeroin.gradcheck(lambda w: zeroin.tanh(w * 0.3), [w32]) is True
    with pytest.raises(zeroin.GradcheckError, match="analytic gradient 2.02 but finite "
                                                    "difference 2.0"):
        zeroin.gradcheck(lambda t: BadSquare()(t).sum(), [w.detach().requires_grad_()])


def test_gradcheck_input_errors():
    with pytest.raises(ValueError, match="gradcheck: no input requires grad"):
        zeroin.gradcheck(zeroin.exp, [zeroin.tensor([1.0])])
    with pytest.raises(TypeError, match="gradcheck: fn must return a Tensor, got float"):
        zeroin.gradcheck(lambda t: 1.0, [leaf([1.0])])


def test_gradcheck_of_a_gradient_checks_the_second_derivative():
    def first(t):
        return zeroin.grad((t ** 3).sum(), t, create_graph=True)[0]

    assert zeroin.gradcheck(first, [leaf([0.5, 2.0])])

    def opaque_first(t):
        return zeroin.grad(OpaqueSquare()(t).sum(), t, create_graph=True)[0]

    assert zeroin.gradcheck(lambda t: OpaqueSquare()(t), [leaf([0.5, 2.0])])   # 1st: right
    with pytest.raises(zeroin.GradcheckError, match=r"element \(0,\): analytic gradient 0.0 "
                                                    r"but finite difference [-0-9.]+ "):
        zeroin.gradcheck(opaque_first, [leaf([0.5, 2.0])])               # 2nd: wrong


def test_torch_autograd_gradcheck_and_gradgradcheck():
    # PyTorch's spellings: torch.autograd.gradcheck / gradgradcheck, raise_exception=False,
    # tuple outputs, grad_outputs
    ag = zeroin.autograd
    assert ag.gradcheck is zeroin.gradcheck and ag.GradcheckError is zeroin.GradcheckError
    x = leaf([0.5, -1.2, 2.0])
    assert ag.gradcheck(lambda t: (t.sin(), t * t), (x,), eps=1e-6, atol=1e-5)
    assert ag.gradgradcheck(lambda t: (t ** 3).sum(), (x,))
    assert ag.gradgradcheck(lambda t: zeroin.tanh(t) * t, (x,),
                            grad_outputs=zeroin.tensor([1.0, -2.0, 0.5]))
    assert ag.gradcheck(lambda t: BadSquare()(t), (x,), raise_exception=False) is False
    assert ag.gradcheck(lambda t: OpaqueSquare()(t), (x,))        # its first derivative
    assert ag.gradgradcheck(lambda t: OpaqueSquare()(t), (x,),    # but not its second
                            raise_exception=False) is False
    with pytest.raises(zeroin.GradcheckError, match="analytic gradient 0.0"):
        ag.gradgradcheck(lambda t: OpaqueSquare()(t).sum(), (x,))
    torch = pytest.importorskip("torch")
    tx = torch.tensor([0.5, -1.2, 2.0], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: torch.tanh(t) * t, (tx,),
                                        grad_outputs=torch.tensor([1.0, -2.0, 0.5],
                                                                  dtype=torch.float64))


# --- detect_anomaly ------------------------------------------------------------------------------

def _line_of(text):
    lines, start = inspect.getsourcelines(test_detect_anomaly_forward_nan)
    return next(start + i for i, line in enumerate(lines) if text in line)


def test_detect_anomaly_forward_nan():
    x = zeroin.tensor(-1.0, requires_grad=True)
    with np.errstate(all="ignore"):
        quiet = zeroin.log(x)                        # off by default: NaN, no error
    assert np.isnan(quiet.item())
    with zeroin.detect_anomaly():
        y = x * 2
        with pytest.raises(zeroin.AnomalyError) as e, np.errstate(all="ignore"):
            zeroin.log(y)  # the anomalous line
    msg = str(e.value)
    assert msg.startswith("log: forward produced 1 NaN in output of shape ()")
    assert f"test_autograd.py:{_line_of('# the anomalous line')}" in msg
    assert "zeroin.log(y)  # the anomalous line" in msg
    assert isinstance(e.value, FloatingPointError)
    assert not zeroin.function.anomaly.enabled


def test_set_detect_anomaly_is_pytorchs_switch_and_context_manager():
    x = zeroin.tensor(-1.0, requires_grad=True)
    try:
        zeroin.autograd.set_detect_anomaly(True)    # the debugging line of many scripts
        assert zeroin.is_anomaly_enabled()
        with pytest.raises(zeroin.AnomalyError, match="log: forward produced 1 NaN"), \
                np.errstate(all="ignore"):
            zeroin.log(x)
        with zeroin.autograd.set_detect_anomaly(False):
            assert not zeroin.is_anomaly_enabled()
            with np.errstate(all="ignore"):
                assert np.isnan(zeroin.log(x).item())
        assert zeroin.is_anomaly_enabled()          # the with block restored the switch
    finally:
        zeroin.autograd.set_detect_anomaly(False)
    assert not zeroin.is_anomaly_enabled() and not zeroin.function.anomaly.enabled
    with zeroin.autograd.detect_anomaly():
        assert zeroin.is_anomaly_enabled()
    with pytest.raises(ValueError, match="check_nan=False is not supported"):
        zeroin.autograd.set_detect_anomaly(True, check_nan=False)
    assert not zeroin.is_anomaly_enabled()


def test_autograd_backward_takes_several_tensors_as_pytorch():
    torch = pytest.importorskip("torch")
    out = {}
    for T in (torch, zeroin):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y1, y2 = (x ** 2 * w).sum(), x * w
        T.autograd.backward([y1, y2], [None, T.tensor([1.0, 2.0, 3.0])])
        T.autograd.backward((x * 3).sum())                      # one tensor, no gradient
        T.autograd.backward([x * w], grad_tensors=[T.ones(3)])
        out[T] = (x.grad.numpy().copy(), w.grad.numpy().copy())
    for a, b in zip(out[torch], out[zeroin]):
        np.testing.assert_allclose(b, a)
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: got 2 tensors and 1 gradients; give "
                                           r"one gradient per tensor"):
        zeroin.autograd.backward([x.sum(), x * 2], [None])


def test_variable_is_pytorchs_old_wrapper_a_tensor_sharing_memory():
    from zeroin.autograd import Variable
    a = zeroin.ones(2)
    v = Variable(a, requires_grad=True)
    assert v is not a and v.requires_grad and not a.requires_grad and v.is_leaf
    v.data[0] = 5.0
    assert a.tolist() == [5.0, 1.0]
    assert isinstance(a, Variable) and not isinstance(np.ones(2), Variable)
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match=r"Variable data has to be a tensor, but got list; "
                                        r"write zeroin\.tensor\(data"):
        Variable([1.0, 2.0])


def test_detect_anomaly_site_without_source_text_has_no_dangling_colon():
    # code typed at a prompt or run by exec has a file name and line but no source line
    code = "x = zeroin.tensor(-1.0, requires_grad=True)\nzeroin.log(x)\n"
    with zeroin.detect_anomaly(), np.errstate(all="ignore"):
        with pytest.raises(zeroin.AnomalyError) as e:
            exec(compile(code, "<typed>", "exec"), {"zeroin": zeroin})
    msg = str(e.value)
    assert msg.endswith("(op created at <typed>:2)"), msg


def test_detect_anomaly_backward_inf_names_the_op_and_line():
    x = zeroin.tensor([0.0, 4.0], requires_grad=True)
    with zeroin.detect_anomaly():
        r = zeroin.sqrt(x)
        line = inspect.currentframe().f_lineno - 1
        loss = (r * 3).sum()
        with pytest.raises(zeroin.AnomalyError) as e, np.errstate(all="ignore"):
            loss.backward()
    msg = str(e.value)
    assert msg.startswith("sqrt: backward produced 1 Inf in output of shape (2,)")
    assert f"test_autograd.py:{line}: r = zeroin.sqrt(x)" in msg


def test_detect_anomaly_as_decorator_and_for_ops_made_before():
    x = zeroin.tensor([0.0], requires_grad=True)
    r = zeroin.sqrt(x).sum()

    @zeroin.detect_anomaly()
    def run():
        r.backward()

    with pytest.raises(zeroin.AnomalyError, match=r"sqrt: backward produced 1 Inf .*created "
                                                  r"before detect_anomaly was on"), \
            np.errstate(all="ignore"):
        run()
    # without anomaly mode the same backward just gives inf
    x.grad = None
    with np.errstate(all="ignore"):
        zeroin.sqrt(x).sum().backward()
    assert np.isinf(x.grad.item())


def test_detect_anomaly_passes_finite_computations():
    with zeroin.detect_anomaly():
        x = zeroin.tensor([1.0, 2.0], requires_grad=True)
        zeroin.log(x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, 0.5])


def test_integer_leaf_made_to_require_grad_is_refused_not_rounded():
    # `t.requires_grad = True` is refused as PyTorch refuses it (RuntimeError); a path past
    # the setter (the slot itself) meets the check in backward, without which the
    # gradient 2.5 per element came back rounded to 2
    t = zeroin.tensor([1, 2], name="counts")
    with pytest.raises(RuntimeError, match="requires_grad: only floating-point tensors"):
        t.requires_grad = True
    assert t.requires_grad is False
    t._rg = True
    with pytest.raises(TypeError, match=r"backward: tensor 'counts' of shape \(2,\) and dtype "
                                        r"int64.*only floating-point.*dtype='float64'"):
        (t * 2.5).sum().backward()
    assert t.grad is None
    u = zeroin.tensor([1, 2])
    u._rg = True
    with pytest.raises(TypeError, match="only floating-point"):
        zeroin.grad((u * 2.5).sum(), [u])
    f = zeroin.tensor([1, 2], dtype="float64", requires_grad=True)     # the suggested fix
    (f * 2.5).sum().backward()
    np.testing.assert_array_equal(f.grad.data, [2.5, 2.5])


# --- only the gradients someone needs (Function.needs_input_grad) -----------------------

def _spy(monkeypatch, cls):
    """Record what ``cls.backward`` returns during backward."""
    seen = []
    rule = cls.backward

    def spy(self, *args):
        res = rule(self, *args)
        seen.append((self.needs_input_grad, res))
        return res
    monkeypatch.setattr(cls, "backward", spy)
    return seen


def test_matmul_and_linear_skip_the_gradient_of_the_data_batch(monkeypatch):
    import zeroin.nn.functional as F
    rng = np.random.default_rng(0)
    x = zeroin.tensor(rng.standard_normal((8, 5)))          # data: no grad
    w = zeroin.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    seen = _spy(monkeypatch, zeroin.ops.MatMulOp)
    (x @ w).sum().backward()
    [(needs, (gx, gw))] = seen
    assert needs == (False, True) and gx is None and gw.shape == (5, 3)
    np.testing.assert_allclose(w.grad.data, x.data.T @ np.ones((8, 3)))

    seen = _spy(monkeypatch, zeroin.nn.functional.LinearOp)
    lin1, lin2 = zeroin.nn.Linear(5, 4), zeroin.nn.Linear(4, 2)
    F.cross_entropy(lin2(F.relu(lin1(x))), np.array([0, 1] * 4)).backward()
    first, second = seen[1], seen[0]        # backward meets the last layer first
    assert first[0] == (False, True, True) and first[1][0] is None      # no d loss / d x
    assert all(g is not None for g in first[1][1:])
    assert second[0] == (True, True, True) and all(g is not None for g in second[1])


def test_broadcast_add_reduces_only_the_gradients_that_are_needed(monkeypatch):
    from zeroin import autograd, function
    calls = []
    real = function.sum_to_array

    def counting(g, shape):
        calls.append((g.shape, shape))
        return real(g, shape)
    for mod in [autograd, function] + ([zeroin._fast] if zeroin._tensor.FAST else []):
        monkeypatch.setattr(mod, "sum_to_array", counting)
    big = zeroin.tensor(np.ones((4, 3)), requires_grad=True)
    row = zeroin.tensor(np.arange(3.0))                     # a constant row
    (big + row).sum().backward()
    assert calls == [] and np.array_equal(big.grad.data, np.ones((4, 3)))
    big, row = zeroin.tensor(np.ones((4, 3))), zeroin.tensor(np.arange(3.0), requires_grad=True)
    (big + row).sum().backward()
    assert calls == [((4, 3), (3,))] and np.array_equal(row.grad.data, [4.0, 4.0, 4.0])
    seen = _spy(monkeypatch, zeroin.ops.MulOp)
    (big * row).sum().backward()
    [(needs, (gb, gr))] = seen
    assert needs == (False, True) and gb is None and gr is not None


def test_detect_anomaly_blames_the_input_that_already_held_the_nan():
    data = zeroin.tensor(np.array([1.0, np.nan, 3.0]), name="batch")
    w = zeroin.tensor(np.ones(3), requires_grad=True, name="w")
    with zeroin.detect_anomaly():
        with pytest.raises(zeroin.AnomalyError) as e:
            (w * data).sum()
    msg = str(e.value)
    assert msg.startswith("mul: input tensor 'batch' of shape (3,), data or a constant, "
                          "already holds 1 NaN: the NaN/Inf came in with it, not from an op")
    assert "test_autograd.py" in msg
    unnamed = zeroin.tensor(np.array([np.inf]), requires_grad=True)
    with zeroin.detect_anomaly():
        with pytest.raises(zeroin.AnomalyError, match=r"exp: input 0 \(a leaf tensor\) of "
                           r"shape \(1,\), a parameter, already holds 1 Inf"):
            zeroin.exp(unnamed)


def test_in_place_with_the_tensor_itself_as_an_operand_uses_its_value_before():
    # y.add_(y) reads y before the change on both sides (the node took itself as an input,
    # so the gradient was 2 instead of 4); keyword operands too (clamp_(min=...))
    for f, want in ((lambda y: y.add_(y), lambda x: 4 + 0 * x),
                    (lambda y: y.mul_(y), lambda x: 8 * x),
                    (lambda y: y.addcmul_(y, y), lambda x: 2 + 8 * x),
                    (lambda y: y.clamp_(min=y), lambda x: 2 + 0 * x)):
        x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        f(y)
        y.sum().backward()
        np.testing.assert_allclose(x.grad.data, want(x.data))


def test_in_place_on_a_tensor_a_custom_function_saved_is_refused():
    class Square(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return 2 * a * g

    x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    s = Square.apply(y)
    with pytest.raises(RuntimeError, match="mul_: this tensor is saved by an op recorded "
                                           "earlier"):
        y.mul_(10)
    s.sum().backward()                  # the graph is intact
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])


def test_in_place_on_an_output_a_custom_function_saved_is_refused():
    class Square(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            out = a * a
            ctx.save_for_backward(a, out)       # the output, saved as PyTorch saves it
            return out

        @staticmethod
        def backward(ctx, g):
            a, out = ctx.saved_tensors
            return 2 * out / a * g

    x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = Square.apply(x * 1)
    with pytest.raises(RuntimeError, match="mul_: this tensor is saved by an op recorded "
                                           "earlier"):
        s.mul_(10)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])


def test_in_place_scans_the_heap_only_for_a_tensor_a_recorded_op_has_read(monkeypatch):
    # finding the ops that read a tensor scans every object (gc.get_referrers): 4 ms with
    # 300,000 objects in the process. A fresh op output (scores.masked_fill_(...) right
    # after the product, out[i] = v) has no readers, so the scan is skipped
    from zeroin import _tensor_api
    scans = []
    real = _tensor_api.gc.get_referrers
    monkeypatch.setattr(_tensor_api.gc, "get_referrers",
                        lambda *objs: scans.append(len(objs)) or real(*objs))
    x = zeroin.tensor([1.0, -2.0, 3.0], requires_grad=True)
    for change in (lambda y: y.mul_(2), lambda y: y.masked_fill_(y < 0, 0.0),
                   lambda y: y.__setitem__(0, 5.0), lambda y: y.relu_()):
        y = x * 1
        change(y)
        change(y)                   # changed again: still nothing reads it
    assert scans == []
    y = x * 2
    z = y * y                       # reads y = 2x
    y.mul_(3)
    assert scans                    # now it must find z's op, and does
    n = len(scans)
    y.add_(1)                       # z's op was re-pointed to the old y: no reader left
    assert len(scans) == n
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad.data, 8 * x.data + 6)    # d/dx (4x^2 + 6x + 1)


def test_index_then_assign_in_place_scans_no_heap_and_gives_torchs_gradients(monkeypatch):
    """makemore part 4's ``dC[ix] += demb[k, j]`` loop: t[i] reads t, then t[i] = ... writes
    it. That one indexing op is t's only reader, so setitem re-points it without the heap
    scan (each scan ~20 ms with torch imported: 96 of them took 2.8 s); a second reader
    still means a scan. Gradients and values as torch's."""
    torch = pytest.importorskip("torch")
    from zeroin import _tensor_api
    scans = []
    real = _tensor_api.gc.get_referrers
    monkeypatch.setattr(_tensor_api.gc, "get_referrers",
                        lambda *objs: scans.append(len(objs)) or real(*objs))
    rng = np.random.default_rng(0)
    Xb, demb0 = rng.integers(0, 5, (4, 3)), rng.standard_normal((4, 3, 2))
    out = {}
    for T in (torch, zeroin):
        demb = T.tensor(demb0, requires_grad=True)
        X = T.tensor(Xb)
        dC = T.zeros((5, 2), dtype=T.float64)
        for k in range(X.shape[0]):
            for j in range(X.shape[1]):
                ix = X[k, j]
                dC[ix] += demb[k, j] * (k + 1)
        twice = dC * 1
        first = twice[[0]]              # read by indexing (a copy: no view of twice) ...
        second = twice * 3              # ... and by another op: the scan finds both
        twice[0] = 7.0
        (dC ** 2).sum().backward(retain_graph=True)
        (first.sum() + second.sum() + twice.sum()).backward()
        out[T] = [dC.detach().numpy(), twice.detach().numpy(), demb.grad.numpy()]
    assert len(scans) == 2          # the one scan (get_referrers twice) is twice[0] = 7
    for z, t in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(z, t, rtol=1e-12, atol=1e-12)



@pytest.mark.parametrize("second_reader", [False, True])
def test_reshape_then_assign_in_place_scans_no_heap_and_gives_torchs_gradients(
        monkeypatch, second_reader):
    """d2l's masked_softmax: ``X = scores.reshape(-1, n); X[~mask] = -1e6`` changes the
    scores through their reshaped view. The reshape is the scores' only reader, so the
    in-place change re-points it without the heap scan (145 ms a call with torch
    imported: 2 s over six BERT steps); another reader of the scores still means a scan.
    Values and gradients as torch's."""
    torch = pytest.importorskip("torch")
    from zeroin import _tensor_api
    scans = []
    real = _tensor_api.gc.get_referrers
    monkeypatch.setattr(_tensor_api.gc, "get_referrers",
                        lambda *objs: scans.append(len(objs)) or real(*objs))
    rng = np.random.default_rng(0)
    q0, k0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    out = {}
    for T in (torch, zeroin):
        q, k = T.tensor(q0, requires_grad=True), T.tensor(k0, requires_grad=True)
        scores = T.bmm(q, k.transpose(1, 2))
        other = scores * 2 if second_reader else None
        X = scores.reshape(-1, 5)
        mask = T.arange(5)[None, :] < T.tensor([1, 2, 3, 4, 5, 2])[:, None]
        X[~mask] = -1e6
        p = T.nn.functional.softmax(X.reshape(scores.shape), dim=-1)
        loss = (p * T.arange(5.0)).sum() + (0 if other is None else other.sum())
        loss.backward()
        out[T] = [scores.detach().numpy(), p.detach().numpy(), q.grad.numpy(), k.grad.numpy()]
    assert bool(scans) == second_reader
    for z, t in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(z, t, rtol=1e-12, atol=1e-12)


# --- backward(inputs=...), grad(materialize_grads=...): against PyTorch -----------------

def _inputs_graph(lib):
    """a, b leaves; h = a * b retained, with hooks on b and h; y = sum(2h) + c * 0 - c."""
    a = lib.tensor([1.0, 2.0], requires_grad=True)
    b = lib.tensor([3.0, 4.0], requires_grad=True)
    c = lib.tensor(5.0, requires_grad=True)
    h = a * b
    h.retain_grad()
    calls = []
    b.register_hook(lambda g: calls.append("b"))
    h.register_hook(lambda g: calls.append("h"))
    return a, b, c, h, (h * 2).sum(), calls


def _grads(*ts):
    return [None if t.grad is None else t.grad.detach().numpy().tolist() for t in ts]


@pytest.mark.parametrize("which", [[0], [3], 3, [3, 0], [2], [0, 0], {"h": 3}])
def test_backward_inputs_accumulates_only_into_them_as_torch(which):
    torch = pytest.importorskip("torch")
    seen = []
    for lib in (torch, zeroin):
        a, b, c, h, y, calls = _inputs_graph(lib)
        ts = (a, b, c, h)
        pick = {k: ts[v] for k, v in which.items()} if isinstance(which, dict) else \
            ts[which] if isinstance(which, int) else [ts[i] for i in which]
        y.backward(inputs=pick, retain_graph=True)
        lib.autograd.backward([y], inputs=pick)     # the function form, accumulating
        seen.append((_grads(a, b, c, h), calls))
    assert seen[0] == seen[1]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_inputs_with_create_graph_and_through_a_non_leaf():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (torch, zeroin):
        m = lib.tensor([1.0, 2.0], requires_grad=True)
        n = m * 3
        (n * n * m).sum().backward(inputs=[n, m], retain_graph=True)
        grads = _grads(n, m)
        (n * n * m).sum().backward(inputs=m, retain_graph=True)   # n is retain_grad now
        grads += _grads(n, m)
        m.grad = None       # (PyTorch's non-leaf .grad under create_graph has quirks)
        (n * n * m).sum().backward(inputs=m, create_graph=True)
        (g2,) = lib.autograd.grad(m.grad.sum(), m)
        out.append((grads, g2.detach().numpy().tolist(), m.grad.requires_grad))
    assert out[0] == out[1]


def test_backward_inputs_errors_as_torch():
    y = (zeroin.tensor([1.0], requires_grad=True) * 2).sum()
    with pytest.raises(RuntimeError, match=r"`inputs` argument to `backward\(\)` cannot be "
                                           r"empty\."):
        y.backward(inputs=[], retain_graph=True)
    with pytest.raises(RuntimeError, match=r"inputs\[0\] does not require grad"):
        y.backward(inputs=[zeroin.tensor(1.0)])


def test_grad_materialize_grads_as_torch():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (torch, zeroin):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        c = lib.tensor(5.0, requires_grad=True)
        y = (a * a).sum()
        ga, gc = lib.autograd.grad(y, [a, c], materialize_grads=True, retain_graph=True)
        d = lib.autograd.grad(y, {"a": a, "c": c}, allow_unused=True, retain_graph=True)
        ca, cc = lib.autograd.grad(y, (a, c), materialize_grads=True, create_graph=True)
        out.append((ga.tolist(), gc.tolist(), sorted(d), d["c"] is None, cc.requires_grad,
                    ca.requires_grad, cc.dtype == c.dtype))
        with pytest.raises(ValueError, match="Expected allow_unused to be True or not "
                                             "passed when materialize_grads=True"):
            lib.autograd.grad(y, [a, c], materialize_grads=True, allow_unused=False)
        with pytest.raises(RuntimeError):       # unused, without allow_unused
            lib.autograd.grad(y, [a, c], retain_graph=True)
        with pytest.raises(RuntimeError, match=r"`inputs` argument to `grad\(\)` cannot be "
                                               r"empty\."):
            lib.autograd.grad(y, [])
    assert out[0] == out[1]


def test_grad_runs_only_the_nodes_that_lead_to_its_inputs():
    # as PyTorch's engine: a hook on a branch that does not reach the inputs does not fire
    a = zeroin.tensor(1.0, requires_grad=True)
    b = zeroin.tensor(2.0, requires_grad=True)
    calls = []
    u = b * 3
    u.register_hook(lambda g: calls.append("u"))
    b.register_hook(lambda g: calls.append("b"))
    (g,) = zeroin.grad(a * 2 + u, a)
    assert g.item() == 2.0 and calls == []



def test_grad_wrt_a_non_leaf_leaves_the_graph_behind_it_as_torch():
    # first-order MAML: grad of a step's loss w.r.t. the adapted weights h (no retain_graph)
    # neither runs nor frees h's own op, so a later backward through h still works
    torch = pytest.importorskip("torch")
    out = {}
    for lib in (torch, zeroin):
        w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        calls = []
        h = w * 3
        w.register_hook(lambda g: calls.append("w"))
        (gh,) = lib.autograd.grad((h ** 2).sum(), h)
        assert calls == []
        (h * gh.detach()).sum().backward()
        with pytest.raises(RuntimeError, match="retain_graph=True"):
            (h * 2).sum().backward()            # now h's op was run, and freed
        out[lib] = gh.detach().numpy(), w.grad.numpy(), calls
    np.testing.assert_array_equal(out[zeroin][0], out[torch][0])
    np.testing.assert_array_equal(out[zeroin][1], out[torch][1])
    assert out[zeroin][2] == out[torch][2] == ["w"]

# --- grad_fn.name(): PyTorch's method, zeroin's string ------------------------------------

_NAME_CASES = {     # the same expression on both libraries (F: nn.functional)
    "x * x": lambda T, F, x, w: x * x, "x + 1": lambda T, F, x, w: x + 1,
    "x - w": lambda T, F, x, w: x - w, "x / w": lambda T, F, x, w: x / w,
    "-x": lambda T, F, x, w: -x, "x ** 2": lambda T, F, x, w: x ** 2,
    "x @ w": lambda T, F, x, w: x @ w, "sum": lambda T, F, x, w: x.sum(),
    "mean": lambda T, F, x, w: x.mean(), "exp": lambda T, F, x, w: x.exp(),
    "log": lambda T, F, x, w: w.abs().log(), "tanh": lambda T, F, x, w: x.tanh(),
    "sigmoid": lambda T, F, x, w: x.sigmoid(), "relu": lambda T, F, x, w: x.relu(),
    "reshape": lambda T, F, x, w: x.reshape(16), "cat": lambda T, F, x, w: T.cat([x, w]),
    "stack": lambda T, F, x, w: T.stack([x, w]), "clamp": lambda T, F, x, w: x.clamp(0, 1),
    "max": lambda T, F, x, w: x.max(), "softmax": lambda T, F, x, w: x.softmax(1),
    "log_softmax": lambda T, F, x, w: F.log_softmax(x, 1),
    "linear": lambda T, F, x, w: F.linear(x, w, x[0]),
    "cross_entropy": lambda T, F, x, w: F.cross_entropy(x, T.tensor([0, 1, 2, 3])),
    "mse_loss": lambda T, F, x, w: F.mse_loss(x, w.detach()),
    "gelu": lambda T, F, x, w: F.gelu(x), "silu": lambda T, F, x, w: F.silu(x),
    "leaky_relu": lambda T, F, x, w: F.leaky_relu(x), "where": lambda T, F, x, w:
    T.where(x > 0, x, w), "pool": lambda T, F, x, w: F.avg_pool2d(x.reshape(1, 1, 4, 4), 2),
    "adaptive": lambda T, F, x, w: F.adaptive_avg_pool2d(x.reshape(1, 1, 4, 4), 2),
    "conv2d": lambda T, F, x, w: F.conv2d(x.reshape(1, 1, 4, 4), w[:2, :2].reshape(1, 1, 2, 2)),
    "det": lambda T, F, x, w: T.linalg.det(x),
}


@pytest.mark.parametrize("case", sorted(_NAME_CASES))
def test_grad_fn_name_is_a_string_and_pytorchs_method(case):
    torch = pytest.importorskip("torch")
    made = []
    for lib in (torch, zeroin):
        g = np.random.default_rng(0)
        x = lib.tensor(g.uniform(-1, 1, (4, 4)), requires_grad=True)
        w = lib.tensor(g.uniform(-1, 1, (4, 4)), requires_grad=True)
        made.append(_NAME_CASES[case](lib, lib.nn.functional, x, w).grad_fn)
    tfn, zfn = made
    assert zfn.name() == tfn.name()
    name = zfn.name         # zeroin's own name stays an ordinary string for everyone else
    assert isinstance(name, str) and f"{name}" == str(name) and name + "" == str(name)
    assert {str(name): 1}[name] == 1 and name == str(name) and repr(zfn) == f"<{name}>"


def test_grad_fn_name_of_custom_functions_and_accumulate_grad():
    torch = pytest.importorskip("torch")
    names = []
    for lib in (torch, zeroin):
        class MyExp(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x.exp()

            @staticmethod
            def backward(ctx, g):
                return g

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = MyExp.apply(x)
        names.append((y.grad_fn.name(), (y * x).grad_fn.next_functions[1][0].name()))
    assert names[0] == names[1]
    assert zeroin.ops.mul(zeroin.tensor(1.0, requires_grad=True), 2.0).grad_fn.name == "mul"


@pytest.mark.parametrize("create_graph", [False, True])
def test_custom_function_gradient_shapes_follow_pytorch(create_graph):
    """A gradient ``backward`` returns must have its argument's shape or one the argument
    broadcasts to (summed back, as PyTorch's); zeroin wrote a (3,) gradient into a (2,)
    tensor's .grad and failed with a bare NumPy error on (2, 1)."""
    torch = pytest.importorskip("torch")
    bad = ((lambda g: g.sum()[None].expand(3), "(3,)"), (lambda g: g.reshape(2, 1), "(2, 1)"),
           (lambda g: g.sum(), "()"))
    for rule, shape in bad + ((lambda g: g[None].expand(3, 2), None),):
        grads = []
        for lib in (torch, zeroin):
            class Twice(lib.autograd.Function):
                @staticmethod
                def forward(ctx, k, a):
                    return a * k

                @staticmethod
                def backward(ctx, g, rule=rule):
                    return None, rule(g)
            a = lib.ones(2, requires_grad=True)
            if shape is None:
                grads.append(lib.autograd.grad(Twice.apply(2.0, a).sum(), a,
                                               create_graph=create_graph)[0])
                continue
            with pytest.raises(RuntimeError) as e:
                lib.autograd.grad(Twice.apply(2.0, a).sum(), a, create_graph=create_graph)
            if lib is zeroin:
                assert str(e.value) == (
                    f"Twice.backward: gradient 1 has shape {shape}, but argument 1 of forward "
                    f"has shape (2,); return a gradient of the argument's shape (PyTorch "
                    f"refuses this too)")
        if grads:
            np.testing.assert_array_equal(grads[1].detach().numpy(), grads[0].detach().numpy())
    x = zeroin.ones((), requires_grad=True)                  # () broadcasts to (1,): summed

    class Up(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g.reshape(1) * 3
    Up.apply(x).backward()
    assert x.grad.shape == () and x.grad.item() == 3.0


def test_post_accumulate_grad_hook_runs_after_grad_is_written_in_both_engines():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    order = []
    w.register_hook(lambda g: order.append(("grad", g.tolist())) or g * 2)
    w.register_post_accumulate_grad_hook(lambda t: order.append(("post", t.grad.tolist())))
    (w * w).sum().backward()
    assert order == [("grad", [2.0, 4.0]), ("post", [4.0, 8.0])]
    v = zeroin.tensor(1.0, requires_grad=True)            # a float scalar leaf (fast path)

    def zero(t):
        t.grad.mul_(0)
    v.register_post_accumulate_grad_hook(zero)
    (v * 3).backward()
    assert v.grad.item() == 0.0                           # the hook may edit .grad in place
    u = zeroin.tensor([1.0], requires_grad=True)
    u.register_post_accumulate_grad_hook(lambda t: 5)
    with pytest.raises(TypeError, match="post accumulate grad hook: must return None"):
        (u * 1).sum().backward()


def test_assigning_a_grad_of_another_dtype_is_refused_as_in_torch():
    # PyTorch: "attempting to assign a gradient with dtype 'double' to a tensor with
    # grad_dtype 'Float'"; zeroin kept the float64 gradient of a float32 tensor
    torch = pytest.importorskip("torch")
    for dt, gdt in (("float32", "float64"), ("float64", "float32"), ("float32", "int64")):
        t = torch.zeros(3, dtype=getattr(torch, dt), requires_grad=True)
        with pytest.raises(RuntimeError):
            t.grad = torch.zeros(3, dtype=getattr(torch, gdt))
        z = zeroin.zeros(3, dtype=getattr(zeroin, dt), requires_grad=True)
        with pytest.raises(RuntimeError, match=rf"grad: assigned grad has dtype {gdt}, but "
                                               rf"the tensor has dtype {dt}; PyTorch refuses "
                                               rf"it too: .*g\.to\(zeroin\.{dt}\)"):
            z.grad = zeroin.zeros(3, dtype=getattr(zeroin, gdt))
        assert z.grad is None
        z.grad = zeroin.ones(3, dtype=getattr(zeroin, dt))
        assert z.grad.dtype == np.dtype(dt)


@pytest.mark.parametrize("create_graph", [False, True])
def test_gradients_take_each_tensors_dtype_whatever_the_seed_as_in_torch(create_graph):
    # a float64 seed for a float32 output, or a float64 path to a float32 leaf: PyTorch's
    # engine casts every gradient to its tensor's dtype; zeroin kept float64 under
    # create_graph (and for the output's own retained gradient)
    torch = pytest.importorskip("torch")
    got = []
    for T in (torch, zeroin):
        q = T.ones(3, dtype=T.float32, requires_grad=True)
        y = q * 2
        y.retain_grad()
        y.backward(T.ones(3, dtype=T.float64), create_graph=create_graph)
        g1 = T.autograd.grad(q * 3, q, T.ones(3, dtype=T.float64), create_graph=create_graph)[0]
        r = T.ones(3, dtype=T.float32, requires_grad=True)
        (r.to(T.float64) ** 2).sum().backward(create_graph=create_graph)
        got.append([str(d).replace("torch.", "") for d in (y.grad.dtype, q.grad.dtype,
                                                            g1.dtype, r.grad.dtype)])
    assert got[0] == got[1] == [["float32"] * 4][0]


# --- makemore part 4, "becoming a backprop ninja" ------------------------------------------------


def _ninja_forward(T, F, arrays, Xb, Yb):
    """Karpathy's 2-layer MLP with BatchNorm, broken into the steps his manual backward
    walks back through; returns the loss, the leaves and the retained intermediates."""
    C, W1, b1, W2, b2, bngain, bnbias = [T.tensor(a, requires_grad=True) for a in arrays]
    n = Xb.shape[0]
    emb = C[T.tensor(Xb)]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = T.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), T.tensor(Yb)].mean()
    v = dict(C=C, W1=W1, b1=b1, W2=W2, b2=b2, bngain=bngain, bnbias=bnbias, emb=emb,
             embcat=embcat, hprebn=hprebn, bnmeani=bnmeani, bndiff=bndiff, bndiff2=bndiff2,
             bnvar=bnvar, bnvar_inv=bnvar_inv, bnraw=bnraw, hpreact=hpreact, h=h,
             logits=logits, logit_maxes=logit_maxes, norm_logits=norm_logits, counts=counts,
             counts_sum=counts_sum, counts_sum_inv=counts_sum_inv, probs=probs,
             logprobs=logprobs)
    for t in v.values():
        if t.grad_fn is not None:
            t.retain_grad()
    loss.backward()
    return loss, v


def _ninja_backward(T, F, v, Xb, Yb):
    """His manual backward, line by line as in the lecture (exercise 1, 2 and 3)."""
    n = Xb.shape[0]
    Yb = T.tensor(Yb)
    d = {}
    d["logprobs"] = T.zeros_like(v["logprobs"])
    d["logprobs"][range(n), Yb] = -1.0 / n
    d["probs"] = (1.0 / v["probs"]) * d["logprobs"]
    d["counts_sum_inv"] = (v["counts"] * d["probs"]).sum(1, keepdim=True)
    d["counts"] = v["counts_sum_inv"] * d["probs"]
    d["counts_sum"] = (-v["counts_sum"] ** -2) * d["counts_sum_inv"]
    d["counts"] += T.ones_like(v["counts"]) * d["counts_sum"]
    d["norm_logits"] = v["counts"] * d["counts"]
    d["logits"] = d["norm_logits"].clone()
    d["logit_maxes"] = (-d["norm_logits"]).sum(1, keepdim=True)
    d["logits"] += F.one_hot(v["logits"].max(1).indices,
                             num_classes=v["logits"].shape[1]) * d["logit_maxes"]
    d["h"] = d["logits"] @ v["W2"].T
    d["W2"] = v["h"].T @ d["logits"]
    d["b2"] = d["logits"].sum(0)
    d["hpreact"] = (1.0 - v["h"] ** 2) * d["h"]
    d["bngain"] = (v["bnraw"] * d["hpreact"]).sum(0, keepdim=True)
    d["bnraw"] = v["bngain"] * d["hpreact"]
    d["bnbias"] = d["hpreact"].sum(0, keepdim=True)
    d["bndiff"] = v["bnvar_inv"] * d["bnraw"]
    d["bnvar_inv"] = (v["bndiff"] * d["bnraw"]).sum(0, keepdim=True)
    d["bnvar"] = (-0.5 * (v["bnvar"] + 1e-5) ** -1.5) * d["bnvar_inv"]
    d["bndiff2"] = (1.0 / (n - 1)) * T.ones_like(v["bndiff2"]) * d["bnvar"]
    d["bndiff"] += (2 * v["bndiff"]) * d["bndiff2"]
    d["hprebn"] = d["bndiff"].clone()
    d["bnmeani"] = (-d["bndiff"]).sum(0)
    d["hprebn"] += 1.0 / n * (T.ones_like(v["hprebn"]) * d["bnmeani"])
    d["embcat"] = d["hprebn"] @ v["W1"].T
    d["W1"] = v["embcat"].T @ d["hprebn"]
    d["b1"] = d["hprebn"].sum(0)
    d["emb"] = d["embcat"].view(v["emb"].shape)
    d["C"] = T.zeros_like(v["C"])
    for k in range(Xb.shape[0]):
        for j in range(Xb.shape[1]):
            d["C"][int(Xb[k, j])] += d["emb"][k, j]
    # exercise 2: the cross entropy's gradient in three lines
    fast = F.softmax(v["logits"], 1)
    fast[range(n), Yb] -= 1
    fast /= n
    # exercise 3: BatchNorm's backward in one line
    dh, raw = d["hpreact"], v["bnraw"]
    hprebn_fast = v["bngain"] * v["bnvar_inv"] / n * (
        n * dh - dh.sum(0) - n / (n - 1) * raw * (dh * raw).sum(0))
    return d, fast, hprebn_fast


def _ninja_data(dtype, n=32, emb=10, hidden=64, block=3, vocab=27):
    rng = np.random.default_rng(0)
    fan = emb * block
    arrays = [rng.standard_normal(s).astype(dtype) * k for s, k in [
        ((vocab, emb), 1.0), ((fan, hidden), (5 / 3) / fan ** 0.5), ((hidden,), 0.1),
        ((hidden, vocab), 0.1), ((vocab,), 0.1), ((1, hidden), 0.1), ((1, hidden), 0.1)]]
    arrays[5] += 1.0
    return arrays, rng.integers(0, vocab, (n, block)), rng.integers(0, vocab, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backprop_ninja_manual_gradients_match_autograd_and_torch(dtype):
    """Every hand-written d<name> of makemore part 4 equals the autograd gradient (his
    cmp(): exact or allclose), and zeroin's gradients are torch's for the same data."""
    torch = pytest.importorskip("torch")
    from torch.nn import functional as TF

    from zeroin.nn import functional as F
    arrays, Xb, Yb = _ninja_data(dtype)
    loss, v = _ninja_forward(zeroin, F, arrays, Xb, Yb)
    d, fast, hprebn_fast = _ninja_backward(zeroin, F, v, Xb, Yb)
    assert len(d) == 26
    tol = {"rtol": 1e-5, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-14}
    for name, dt in d.items():
        assert dt.dtype == dtype, name          # (dbnmeani is (64,), bnmeani (1, 64), as his)
        assert zeroin.allclose(dt, v[name].grad, **tol), name         # his cmp(): approximate
    assert zeroin.allclose(fast, v["logits"].grad, **tol)
    assert zeroin.allclose(hprebn_fast, v["hprebn"].grad, **tol)
    assert zeroin.allclose(F.cross_entropy(v["logits"], zeroin.tensor(Yb)), loss, **tol)
    tloss, tv = _ninja_forward(torch, TF, arrays, Xb, Yb)
    np.testing.assert_allclose(loss.item(), tloss.item(), **tol)
    for name in d:
        np.testing.assert_allclose(v[name].grad.numpy(), tv[name].grad.numpy(), **tol,
                                   err_msg=name)


def test_backprop_ninja_loss_passes_gradcheck():
    """The same forward, small, against finite differences."""
    from zeroin.nn import functional as F
    arrays, Xb, Yb = _ninja_data(np.float64, n=6, emb=2, hidden=4, vocab=5)

    def loss_of(*params):
        C, W1, b1, W2, b2, g, b = params
        emb = C[zeroin.tensor(Xb)].view(len(Xb), -1)
        hpre = emb @ W1 + b1
        hpre = (hpre - hpre.mean(0, keepdim=True)) / (hpre.var(0, keepdim=True) + 1e-5) ** 0.5
        hpre = g * hpre + b
        return F.cross_entropy(zeroin.tanh(hpre) @ W2 + b2, zeroin.tensor(Yb))
    assert zeroin.gradcheck(loss_of, [zeroin.tensor(a, requires_grad=True) for a in arrays])


# --- what `with ... as x:` binds ------------------------------------------------------------

_SWITCHES = {
    "no_grad": (lambda T: T.no_grad(), False),
    "enable_grad": (lambda T: T.enable_grad(), True),
    "set_grad_enabled": (lambda T: T.set_grad_enabled(False), False),
    "autograd_set_grad_enabled": (lambda T: T.autograd.set_grad_enabled(True), True),
    "inference_mode": (lambda T: T.inference_mode(), False),
    "inference_mode_off": (lambda T: T.inference_mode(False), True),
    "detect_anomaly": (lambda T: T.autograd.detect_anomaly(), True),
    "set_detect_anomaly": (lambda T: T.autograd.set_detect_anomaly(True), True),
    "saved_tensors_hooks": (lambda T: T.autograd.graph.saved_tensors_hooks(lambda x: x,
                                                                           lambda x: x), True),
    "save_on_cpu": (lambda T: T.autograd.graph.save_on_cpu(), True),
    "disable_saved_tensors_hooks": (
        lambda T: T.autograd.graph.disable_saved_tensors_hooks("no hooks here"), True),
}


@pytest.mark.parametrize("name", list(_SWITCHES))
def test_with_grad_switch_as_name_binds_none_as_pytorchs(name):
    """`with torch.no_grad() as x:` binds None (zeroin's bound the context object)."""
    torch = pytest.importorskip("torch")
    make, grad_inside = _SWITCHES[name]
    got = {}
    for T in (torch, zeroin):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # detect_anomaly's "slows down" warning
            with make(T) as bound:
                got[T.__name__] = (bound, T.is_grad_enabled())
        assert T.is_grad_enabled()
    assert got["zeroin"] == got["torch"] == (None, grad_inside)


def test_setting_requires_grad_on_a_computed_tensor_is_refused_as_torch():
    """PyTorch's setter takes only a bool, and only on a leaf (a computed tensor's flag is
    its graph's: RuntimeError naming var.detach() for False); requires_grad_(True) on one
    changes nothing. zeroin's setter took anything, and False cut the tensor out of the
    graph while it kept its grad_fn."""
    torch = pytest.importorskip("torch")
    for T in (torch, zeroin):
        a = T.tensor([1.0, 2.0], requires_grad=True)
        b = a * 2
        with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
            b.requires_grad = True
        with pytest.raises(RuntimeError, match=r"var_no_grad = var\.detach\(\)"):
            b.requires_grad = False
        assert b.requires_grad and b.grad_fn is not None
        assert b.requires_grad_(True) is b
        with pytest.raises(RuntimeError, match="requires_grad must be a bool"):
            a.requires_grad = 1
        with pytest.raises(RuntimeError, match="floating point|floating-point"):
            T.tensor([1, 2]).requires_grad = True
        with T.no_grad():
            c = a * 2                   # computed outside the graph: a leaf
        c.requires_grad = True
        a.requires_grad = False
        assert c.requires_grad and c.is_leaf and not a.requires_grad
        b.sum().backward()              # b's graph ends at a, which no longer wants grad
        assert a.grad is None


@pytest.mark.parametrize("f", [lambda x: x.t() @ zeroin.ones(4, 2),
                               lambda x: x.permute(1, 0).exp(),
                               lambda x: x.flip(0) * zeroin.arange(12.0).reshape(4, 3)])
def test_a_leafs_grad_and_a_flips_gradient_are_laid_out_row_by_row(f):
    """``.grad`` is C-contiguous in both engines (the reference kept a transpose's layout,
    so ``x.grad.view(-1)`` raised with ZEROIN_FAST=0 alone), as PyTorch's; so is flip's
    gradient from ``zeroin.grad``, first and second order."""
    x = leaf(np.arange(12.0).reshape(4, 3) / 7)
    f(x).sum().backward()
    assert x.grad.is_contiguous() and x.grad.view(-1).shape == (12,)
    g, = zeroin.autograd.grad((f(x) ** 2).sum(), x, create_graph=True)
    if "flip" in f.__code__.co_names:
        assert g.is_contiguous()
        gg, = zeroin.autograd.grad((g * g).sum(), x)
        assert gg.is_contiguous()


@pytest.mark.parametrize("make", [
    lambda L: L.nn.Conv2d(3, 4, 3, padding=1),       # the input gradient cropped from padding
    lambda L: L.nn.AvgPool2d(3, stride=1, padding=1),
    lambda L: (lambda x: L.flip(x, dims=(3,))),
    lambda L: (lambda x: x.permute(0, 2, 3, 1) * 1)])
def test_grad_hooks_and_dot_grad_hand_out_contiguous_gradients_as_torch(make):
    # torchattacks' PGDL2: grad = autograd.grad(cost, x)[0]; grad.view(n, -1).norm(dim=1);
    # a hook viewing its gradient the same way
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)    # the conv's weights: not whatever an earlier test left the stream at
    a = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    out, state = {}, None
    for L in (torch, zeroin):
        f = make(L)
        if isinstance(f, L.nn.Module) and L is torch:
            state = {k: v.double().numpy() for k, v in f.double().state_dict().items()}
        elif isinstance(f, L.nn.Module):
            f.load_state_dict({k: zeroin.tensor(v) for k, v in state.items()})
        x = L.tensor(a, requires_grad=True)
        (g,) = L.autograd.grad((f(x) ** 2).sum(), x)
        seen = []
        h = x * 1
        h.register_hook(lambda g, seen=seen: seen.append(g.view(2, -1).norm(dim=1)))
        h.retain_grad()
        (f(h) ** 2).sum().backward()
        assert g.is_contiguous() and x.grad.is_contiguous() and h.grad.is_contiguous()
        out[L] = (g.view(2, -1).norm(dim=1), seen[0], x.grad.view(2, -1), h.grad.view(-1))
    for z, t in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-12)
