"""zeroin.jit: TorchScript-decorated code runs eagerly (script/trace give back what they
got, trace runs the example inputs once), save/load refuse with the reason; against torch.
script, trace, trace_module, fork, wait and freeze warn (DeprecationWarning) as torch 2.13's."""
import typing

import numpy as np
import pytest

import zeroin
from zeroin import jit, nn

pytestmark = [pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning"),  # torch's
              pytest.mark.filterwarnings("ignore:`jit.:DeprecationWarning")]      # and ours


@pytest.mark.parametrize("name,call", [
    ("script", lambda lib: lib.jit.script(lib.nn.Linear(1, 1))),
    ("trace", lambda lib: lib.jit.trace(lib.nn.Linear(1, 1), lib.ones(1, 1))),
    ("trace_module", lambda lib: lib.jit.trace_module(lib.nn.Linear(1, 1),
                                                      {"forward": lib.ones(1, 1)})),
    ("fork", lambda lib: lib.jit.fork(lambda: 1)),
    ("freeze", lambda lib: lib.jit.freeze(lib.jit.script(lib.nn.Linear(1, 1)).eval()))])
def test_deprecated_calls_warn_as_torch(name, call):
    torch = pytest.importorskip("torch")
    for lib in (torch, zeroin):
        with pytest.warns(DeprecationWarning, match=f"jit.{name if lib is zeroin else ''}"):
            call(lib)


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2))


def test_script_returns_the_module_and_function_running_eagerly():
    torch = pytest.importorskip("torch")
    zm, tm = _model(zeroin).double(), _model(torch).double()
    zm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert jit.script(zm) is zm
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(jit.script(zm)(zeroin.tensor(x)).data,
                               torch.jit.script(tm)(torch.tensor(x)).detach().numpy(),
                               rtol=1e-12)

    @jit.script
    def f(a):
        return a * 2 + 1
    assert f(zeroin.tensor([1.0])).tolist() == [3.0]
    with pytest.raises(TypeError, match="jit.script"):
        jit.script(3)


def test_trace_runs_the_example_inputs_once():
    torch = pytest.importorskip("torch")
    calls = []

    def f(a, b=None):
        calls.append(a.shape)
        return a + 1
    assert jit.trace(f, zeroin.ones(2)) is f and calls == [(2,)]
    assert jit.trace(f, (zeroin.ones(3),)) is f and calls[-1] == (3,)
    assert jit.trace(f, [zeroin.ones(4)]) is f and calls[-1] == (4,)
    jit.trace(f, example_kwarg_inputs={"a": zeroin.ones(1), "b": 2})
    assert calls[-1] == (1,)
    zm = nn.Linear(2, 2)
    with pytest.raises(Exception, match="2"):      # the wrong shape fails while tracing
        jit.trace(zm, zeroin.ones(3, 3))
    with pytest.raises(RuntimeError):
        torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(3, 3))
    for lib in (torch, zeroin):
        with pytest.raises(TypeError):
            lib.jit.trace(lambda a: a)


def test_trace_module_runs_each_method():
    torch = pytest.importorskip("torch")
    zm = nn.Linear(2, 1)
    seen = []
    zm.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    assert jit.trace_module(zm, {"forward": zeroin.ones(4, 2)}) is zm and seen == [(4, 1)]
    for lib in (torch, zeroin):
        with pytest.raises(AttributeError, match="dictionary of \\(method_name, input\\)"):
            lib.jit.trace_module(lib.nn.Linear(2, 1), lib.ones(1, 2))


def test_decorators_and_predicates_as_torch():
    torch = pytest.importorskip("torch")

    def g(a):
        return a + 1
    for lib in (torch, zeroin):
        with pytest.warns(FutureWarning, match="ignore\\(True\\) has been deprecated"):
            dropped = lib.jit.ignore(drop=True)
        assert lib.jit.ignore(g)(1) == dropped(g)(1) == 2
        assert lib.jit.unused(g)(2) == lib.jit.export(g)(2) == 3
        assert lib.jit.annotate(typing.List[int], [1]) == [1]
        assert lib.jit.is_scripting() is False and lib.jit.is_tracing() is False
        assert lib.jit.Final is typing.Final
    assert jit.ignore(g) is g and jit.interface(int) is int and jit.freeze(g) is g


def test_fork_runs_now_and_wait_returns_the_value():
    torch = pytest.importorskip("torch")
    for lib in (torch, zeroin):
        fut = lib.jit.fork(lambda a, b=0: a * 10 + b, 4, b=2)
        assert lib.jit.wait(fut) == fut.wait() == 42 and fut.done()
        with pytest.raises(ZeroDivisionError):
            lib.jit.fork(lambda: 1 / 0)


def test_save_and_load_refuse_with_the_reason(tmp_path):
    for call in (lambda: jit.save(nn.Linear(1, 1), tmp_path / "m.pt"),
                 lambda: jit.load(tmp_path / "m.pt")):
        with pytest.raises(NotImplementedError, match="TorchScript archive.*zeroin.save"):
            call()
    assert not (tmp_path / "m.pt").exists()


def test_script_module_classes_for_isinstance():
    assert issubclass(jit.ScriptModule, nn.Module)
    assert not isinstance(jit.script(nn.Linear(1, 1)), jit.ScriptModule)
    assert not isinstance(jit.script(lambda a: a), jit.ScriptFunction)
    assert zeroin.jit is jit


def test_a_scripted_modules_save_says_what_to_do_instead(tmp_path):
    # d2l's hybridize section: torch.jit.script(net).save("mlp.pt")
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    with pytest.warns(DeprecationWarning):
        scripted = jit.script(net)
    for name in ("save", "code", "graph"):
        with pytest.raises(AttributeError, match=rf"no attribute '{name}': zeroin's jit.script "
                                                 r"and jit.trace return the module itself.*"
                                                 r"zeroin\.save\(model\.state_dict\(\), path\)"):
            getattr(scripted, name)
    with pytest.raises(AttributeError, match=r"^'Sequential' object has no attribute 'foo'$"):
        scripted.foo
    assert not hasattr(net, "save") and hasattr(net[0], "weight")
    path = tmp_path / "mlp.npz"                  # what the message says works
    zeroin.save(net.state_dict(), path)
    again = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    again.load_state_dict(zeroin.load(path))
    x = zeroin.randn(4, 3)
    np.testing.assert_array_equal(again(x).numpy(), net(x).numpy())


def test_the_script_only_names_leave_a_modules_own_attributes_alone():
    # class attributes, not Module.__getattr__ (which would slow every attribute read)
    assert "__getattr__" not in vars(nn.Module)

    class Coder(nn.Module):
        def __init__(self):
            super().__init__()
            self.code = 5
            self.graph = nn.Linear(1, 1)

    m = Coder()
    assert m.code == 5 and isinstance(m.graph, nn.Linear)
    assert [n for n, _ in m.named_children()] == ["graph"]
    assert {"code", "graph"} <= set(dir(m)) and "save" not in dir(m)
    assert "save" not in dir(nn.Linear(1, 1)) and not hasattr(nn.Linear(1, 1), "code")
