"""zeroin.autograd.graph (Node, register_multi_grad_hook, the saved-tensor hook contexts)
and the torch.autograd module paths (grad_mode, anomaly_mode, function, variable,
set_grad_enabled, inference_mode), side by side with torch."""
import importlib
import warnings

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

LIBS = [zeroin, torch]


def arr(t):
    """A copy of t's values (the engines may go on to add into the arrays they pass)."""
    return None if t is None else np.array(t.detach().numpy())


def same(a, b):
    """Nested results of zeroin and torch agree (arrays to 1e-12)."""
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif a is None or b is None:
        assert a is None and b is None
    elif hasattr(a, "detach"):
        np.testing.assert_allclose(arr(a), arr(b), rtol=1e-12, atol=1e-12)
    elif isinstance(a, np.ndarray):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    else:
        assert a == b


# --- module paths ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, names", [
    ("function", ["Function", "FunctionCtx", "once_differentiable"]),
    ("grad_mode", ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode"]),
    ("anomaly_mode", ["detect_anomaly", "set_detect_anomaly"]),
    ("variable", ["Variable"]),
    ("profiler", ["profile", "record_function", "EventList", "FunctionEvent"]),
    ("graph", ["Node", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks",
               "register_multi_grad_hook"]),
])
def test_torch_autograd_module_paths_import(path, names):
    for lib in ("zeroin", "torch"):
        mod = importlib.import_module(f"{lib}.autograd.{path}")
        assert all(hasattr(mod, n) for n in names)
    zmod = getattr(zeroin.autograd, path)        # also as an attribute, as torch's
    assert zmod.__name__ == f"zeroin.autograd.{path}"


def test_autograd_set_grad_enabled_and_inference_mode():
    def run(T):
        x = T.ones(2, requires_grad=True)
        with T.autograd.set_grad_enabled(False):
            a = (x * 2).requires_grad
        with T.autograd.inference_mode():
            b = (x * 2).requires_grad
        with T.autograd.inference_mode(False):
            c = (x * 2).requires_grad
        with T.autograd.grad_mode.no_grad():
            d = (x * 2).requires_grad
        return a, b, c, d, T.is_grad_enabled()
    assert run(zeroin) == run(torch) == (False, False, True, False, True)


def test_once_differentiable_from_function_module():
    def run(T):
        from importlib import import_module
        fmod = import_module(f"{T.__name__}.autograd.function")

        class Cube(fmod.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @fmod.once_differentiable
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 3 * x ** 2 * g
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        Cube.apply(x).sum().backward()
        return x.grad
    same(run(zeroin), run(torch))
    v = zeroin.autograd.variable.Variable(zeroin.ones(2), requires_grad=True)
    assert v.requires_grad and isinstance(v, zeroin.autograd.Variable)


# --- Node ---------------------------------------------------------------------------------------

def test_grad_fn_is_a_node_with_name_next_functions_metadata():
    def run(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = (x * 2).exp()
        Node = T.autograd.graph.Node
        fn = y.grad_fn
        fn.metadata["tag"] = 1
        leaf_node = fn.next_functions[0][0].next_functions[0][0]
        leaf_node.metadata["seen"] = True
        again = y.grad_fn.next_functions[0][0].next_functions[0][0]
        return (isinstance(fn, Node), isinstance(leaf_node, Node), fn.name(),
                fn.next_functions[0][0].name(), leaf_node.name(), y.grad_fn.metadata,
                again.metadata, isinstance(3, Node), issubclass(type(fn), Node))
    z, t = run(zeroin), run(torch)
    assert z == t
    assert z[2] == "ExpBackward0"


# --- grad_fn hooks (Node.register_hook / register_prehook) ---------------------------------

def node_hook_log(T, backward, tensor_hook=True):
    """What grad_fn hooks see and change: a pre-hook scales the output gradient, a hook
    logs the input gradients (None where none is computed) and bumps the first."""
    log = []
    x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
    w = T.tensor(3.0, dtype=T.float64, requires_grad=True)
    b = T.ones(2, 1, dtype=T.float64)
    y = x * w + b                       # AddBackward0 of (mul, a constant); broadcasts
    m = y.grad_fn.next_functions[0][0]  # MulBackward0
    if tensor_hook:
        y.register_hook(lambda g: log.append(("tensor", arr(g))))
    h1 = y.grad_fn.register_prehook(lambda go: log.append(("pre", [arr(g) for g in go])))
    h2 = y.grad_fn.register_hook(lambda gi, go: log.append(
        ("post", [arr(g) for g in gi], [arr(g) for g in go], T.is_grad_enabled())))
    m.register_prehook(lambda go: (go[0] * 10,))
    m.register_hook(lambda gi, go: (gi[0] + 1, gi[1]))
    backward(T, y)
    backward(T, y)
    h1.remove()
    h2.remove()
    backward(T, y)
    return log, arr(x.grad), arr(w.grad), [type(h.id) for h in (h1, h2)], m.name()


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("how", ["backward", "grad", "create_graph", "no_tensor_hook"])
def test_grad_fn_register_hook_and_prehook_match_torch(how, fast, monkeypatch):
    def backward(T, y):
        if how == "grad":
            x, w = y.grad_fn.next_functions[0][0].next_functions[0][0].variable, None
            g = T.autograd.grad(y.sum(), [x], retain_graph=True)[0]
            x.grad = g if x.grad is None else x.grad + g
        elif how == "create_graph":
            y.sum().backward(retain_graph=True, create_graph=True)
        else:
            y.sum().backward(retain_graph=True)
    if not fast:
        monkeypatch.setattr(zeroin.autograd, "_fast", None)
    z = node_hook_log(zeroin, backward, how != "no_tensor_hook")
    t = node_hook_log(torch, backward, how != "no_tensor_hook")
    assert [e[0] for e in z[0]] == [e[0] for e in t[0]]
    if how != "grad":               # zeroin.grad computes every input's gradient
        same(z[0], t[0])
    same(z[1:], t[1:])
    assert z[4] == "MulBackward0"


def test_grad_fn_hooks_cost_nothing_once_removed_and_run_under_no_grad():
    from zeroin._handle import HOOKED
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    h = y.grad_fn.register_hook(lambda gi, go: None)
    assert len(HOOKED) >= 1
    h.remove()
    assert y.grad_fn not in HOOKED        # the fast engine is used again
    y = x.exp()
    y.grad_fn.register_hook(lambda gi, go: None)
    del y
    import gc
    gc.collect()
    assert not any(n.name == "exp" for n in HOOKED)


def test_grad_fn_hook_errors_match_torch():
    def run(T, hook):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        y.grad_fn.register_hook(hook)
        with pytest.raises(Exception) as e:
            y.sum().backward()
        return e.type
    for hook in (lambda gi, go: (1, 2, 3), lambda gi, go: 5):
        assert run(zeroin, hook) is run(torch, hook)
    with pytest.raises(TypeError, match="must be callable"):
        zeroin.tensor([1.0], requires_grad=True).exp().grad_fn.register_hook(3)
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.grad_fn.register_hook(lambda gi, go: (zeroin.ones(3), None))
    with pytest.raises(RuntimeError, match=r"shape \(3,\) for an input of shape"):
        y.sum().backward()
    with pytest.raises(NotImplementedError, match="register_post_accumulate_grad_hook"):
        (x * 2).grad_fn.next_functions[0][0].register_hook(lambda gi, go: None)


def test_accumulate_grad_prehook_replaces_the_leaf_gradient_as_torch():
    def run(T):
        seen = []
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        acc = (x * 2).grad_fn.next_functions[0][0]
        h = acc.register_prehook(lambda go: seen.append(arr(go[0])) or (go[0] * 3,))
        (x * 2).sum().backward()
        h.remove()
        (x * 2).sum().backward()
        return seen, arr(x.grad), type(h.id)
    same(run(zeroin), run(torch))


def test_tensor_hook_handles_have_ids_as_torch():
    for T in LIBS:
        x = T.tensor([1.0], requires_grad=True)
        h1, h2 = x.register_hook(lambda g: None), x.register_hook(lambda g: None)
        h3 = x.register_post_accumulate_grad_hook(lambda t: None)
        assert isinstance(h1.id, int) and len({h1.id, h2.id, h3.id}) == 3


# --- register_multi_grad_hook -------------------------------------------------------------------

def multi_all(T, backward):
    calls = []
    a = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
    b = T.tensor([3.0, -1.0], dtype=T.float64, requires_grad=True)
    c = T.tensor([0.5, 0.5], dtype=T.float64, requires_grad=True)
    h = T.autograd.graph.register_multi_grad_hook(
        (a, b, c), lambda grads: calls.append([arr(g) if g is not None else None
                                               for g in grads]))
    backward(T, a, b, c)
    backward(T, a, b, c)
    h.remove()
    backward(T, a, b, c)
    return calls


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("case", ["plain", "unused", "inputs", "nonleaf"])
def test_multi_grad_hook_all_mode(case, fast, monkeypatch):
    def backward(T, a, b, c):
        if case == "plain":
            (a * b * c).sum().backward()
        elif case == "unused":                  # c is not in this graph: None for it
            (a * b).sum().backward()
        elif case == "inputs":
            (a * b * c).sum().backward(inputs=(a,))
        else:
            ((a * 2) * b).sum().backward()
    if not fast:
        monkeypatch.setattr(zeroin.autograd, "_fast", None)
    z, t = multi_all(zeroin, backward), multi_all(torch, backward)
    assert len(z) == len(t) == 2
    for zc, tc in zip(z, t):
        assert [g is None for g in zc] == [g is None for g in tc]
        for zg, tg in zip(zc, tc):
            if zg is not None:
                np.testing.assert_allclose(zg, tg, rtol=1e-12)


def test_multi_grad_hook_all_on_non_leaf_tensors():
    def run(T):
        calls = []
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        u, v = x * 3, x.exp()
        T.autograd.graph.register_multi_grad_hook((u, v), lambda g: calls.append(
            [arr(t) for t in g]))
        (u * v).sum().backward()
        return calls, arr(x.grad)
    (zc, zg), (tc, tg) = run(zeroin), run(torch)
    assert len(zc) == len(tc) == 1
    np.testing.assert_allclose(zg, tg)
    for a, b in zip(zc[0], tc[0]):
        np.testing.assert_allclose(a, b)


def test_multi_grad_hook_any_mode_once_per_pass():
    def run(T):
        calls = []
        a = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        b = T.tensor([3.0, 4.0], dtype=T.float64, requires_grad=True)
        k = T.tensor([1.0, 1.0], dtype=T.float64)        # no grad: left out in "any"
        T.autograd.graph.register_multi_grad_hook((a, b, k), lambda g: calls.append(arr(g)),
                                                  mode="any")
        (a * b).sum().backward()
        (a * 5).sum().backward()
        return calls
    z, t = run(zeroin), run(torch)
    assert len(z) == len(t) == 2
    np.testing.assert_allclose(z[1], t[1])         # the one gradient of the second pass
    assert any(np.allclose(z[0], g) for g in ([3.0, 4.0], [1.0, 2.0]))


def test_multi_grad_hook_errors():
    for T in LIBS:
        a = T.ones(2, requires_grad=True)
        with pytest.raises(ValueError, match="Expects mode to be one of"):
            T.autograd.graph.register_multi_grad_hook((a,), print, mode="some")
        with pytest.raises(AssertionError, match="Expected gradient function to be set"):
            T.autograd.graph.register_multi_grad_hook((a, T.ones(2)), print)


# --- saved-tensor hooks ---------------------------------------------------------------------------

def test_saved_tensors_hooks_contexts_accept_and_leave_gradients_alone():
    def run(T):
        x = T.tensor([0.5, 1.5], dtype=T.float64, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):
                y = (x * x).sin().sum()
        with T.autograd.graph.save_on_cpu():
            y = y + x.exp().sum()
        y.backward()
        return x.grad
    same(run(zeroin), run(torch))


def test_saved_tensors_hooks_check_their_hooks():
    with pytest.raises(TypeError, match="pack_hook must be callable"):
        zeroin.autograd.graph.saved_tensors_hooks(1, lambda t: t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with zeroin.autograd.graph.save_on_cpu(pin_memory=True):
            pass


def saved_hooks_run(T, pack_scale):
    """Pack doubles what it saves (or keeps it); unpack logs. The graph's ops save the
    same tensors in PyTorch and zeroin (mul, sin and matmul their inputs, tanh and exp
    their output), so the gradients agree even though pack changed the values."""
    G = T.autograd.graph
    x = T.tensor([0.5, -1.0, 2.0], dtype=T.float64, requires_grad=True)
    w = T.tensor([[1.0, 2.0], [0.5, -1.0], [3.0, 0.25]], dtype=T.float64,
                 requires_grad=True)
    log = []

    def pack(t):
        log.append("pack")
        return t.detach() * pack_scale

    def unpack(t):
        log.append("unpack")
        return t
    with G.saved_tensors_hooks(pack, unpack):
        y = ((x * x).sin() @ w).tanh().exp().sum()
    packs = log.count("pack")
    y.backward(retain_graph=True)
    first = (arr(x.grad), arr(w.grad), log.count("unpack") == packs)
    y.backward()                            # unpacked again, as PyTorch
    with pytest.raises(RuntimeError):
        y.backward()
    return first, log.count("unpack") == 2 * packs, packs > 0


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_saved_tensors_hooks_pack_and_unpack_as_torch(scale, fast, monkeypatch):
    if not fast:
        monkeypatch.setattr(zeroin.autograd, "_fast", None)
    same(saved_hooks_run(zeroin, scale), saved_hooks_run(torch, scale))


def offload(T):
    """Pack returns another object (a key to a NumPy copy kept aside), unpack makes the
    tensor again: the common offloading idiom."""
    store = {}

    def pack(t):
        store[len(store)] = t.detach().numpy().copy()
        return len(store) - 1

    x = T.tensor([0.5, -1.0, 2.0], dtype=T.float64, requires_grad=True)
    with T.autograd.graph.saved_tensors_hooks(pack, lambda k: T.tensor(store.pop(k))):
        y = (x.exp() * x).sum()
    y.backward()
    return arr(x.grad), len(store)


def test_saved_tensors_hooks_offloading_and_errors_as_torch():
    same(offload(zeroin), offload(torch))
    assert offload(zeroin)[1] == 0
    for T in LIBS:
        x = T.tensor([1.0, 2.0], requires_grad=True)
        log = []
        with T.autograd.graph.saved_tensors_hooks(lambda t: log.append("outer") or t,
                                                  lambda t: t):
            with T.autograd.graph.saved_tensors_hooks(lambda t: log.append("in") or t,
                                                      lambda t: t):
                (x * x).sum()
        assert set(log) == {"in"}                  # the innermost hooks only
        with T.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: 3):
            y = (x * x).sum()
        with pytest.raises(TypeError, match="unpack_hook expected to be a Tensor"):
            y.backward()


def test_saved_tensors_hooks_cost_nothing_outside_and_after():
    from zeroin._handle import HOOKED
    from zeroin.anomaly import anomaly
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with zeroin.autograd.graph.saved_tensors_hooks(lambda t: t * 1, lambda t: t):
        assert anomaly.enabled
        y = (x * x).sum()               # the op inside pack (t * 1) is not packed
    assert not anomaly.enabled and y.grad_fn in HOOKED
    y.backward()
    assert not any(n is y.grad_fn for n in HOOKED)      # released: fast engine again
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_disable_saved_tensors_hooks_refuses_hooks_inside():
    for T in LIBS:
        g = T.autograd.graph
        with g.disable_saved_tensors_hooks("no hooks here"):
            with pytest.raises(RuntimeError, match="no hooks here"):
                with g.save_on_cpu():
                    pass
        with g.save_on_cpu():                       # allowed again after it
            pass

        @g.disable_saved_tensors_hooks("not in f")
        def f():
            with g.save_on_cpu():
                pass
        with pytest.raises(RuntimeError, match="not in f"):
            f()


def test_allow_mutation_on_saved_tensors_gives_the_gradient_of_the_values_read():
    # PyTorch's docstring example: b is saved by b ** 2, then changed in place
    for T in LIBS:
        g = T.autograd.graph
        with g.allow_mutation_on_saved_tensors() as ctx:
            a = T.tensor([[0.5, 1.0, -2.0]], dtype=T.float64, requires_grad=True)
            b = a.clone()
            out = (b ** 2).sum()
            b.sin_()
            out.backward()
            assert a.grad.tolist() == [[1.0, 2.0, -4.0]]       # 2 b before the sin_
            assert type(ctx).__name__ == "_AllowMutationOnSavedContext"
        with pytest.raises(RuntimeError, match="cannot be nested"):
            with g.allow_mutation_on_saved_tensors():
                with g.allow_mutation_on_saved_tensors():
                    pass


def test_a_node_with_packed_tensors_keeps_them_when_its_hook_is_removed():
    for T in LIBS:
        x = T.tensor([1.0, 2.0], dtype=T.float64, requires_grad=True)
        with T.autograd.graph.saved_tensors_hooks(lambda t: t.detach() * 2, lambda t: t):
            y = x * x
        h = y.grad_fn.register_hook(lambda gi, go: None)
        h.remove()
        y.sum().backward()
        assert x.grad.tolist() == [4.0, 8.0]        # 2 * (2x): the packed values are used
