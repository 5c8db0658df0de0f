"""nn.Module's API beyond layers: state-dict hooks and overridable save/load steps, extra
state, get_buffer / set_submodule, _apply / to_empty / share_memory, compile, the refused
devices and bfloat16, the deprecated register_backward_hook. Each idiom runs on zeroin
and on torch (the oracle) and the two must agree."""
import copy
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn

torch = pytest.importorskip("torch")

LIBS = [zeroin, torch]


def both(fn):
    """fn(T) for zeroin and torch; returns the two results."""
    return fn(zeroin), fn(torch)


def net(T):
    T.manual_seed(0)
    return T.nn.Sequential(T.nn.Linear(2, 3), T.nn.BatchNorm1d(3), T.nn.Linear(3, 1))


def arrays(sd):
    return {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)
            for k, v in sd.items()}


# --- state_dict hooks and metadata ----------------------------------------------------

def test_state_dict_hooks_order_and_arguments():
    def run(T):
        calls = []
        m = net(T)
        m[1].register_state_dict_pre_hook(
            lambda mod, prefix, keep_vars: calls.append(("pre", type(mod).__name__, prefix,
                                                         keep_vars)))
        m.register_state_dict_pre_hook(lambda mod, prefix, kv: calls.append(("pre", prefix)))

        def post(mod, sd, prefix, meta):
            calls.append(("post", type(mod).__name__, prefix, sorted(meta), len(sd)))
            sd[prefix + "extra"] = 1
        m[1].register_state_dict_post_hook(post)
        h = m.register_state_dict_post_hook(lambda mod, sd, prefix, meta: calls.append("top"))
        sd = m.state_dict(prefix="net.")
        h.remove()
        m.state_dict()
        return calls, list(sd), dict(sd._metadata)
    z, t = both(run)
    assert z == t
    assert z[0][0] == ("pre", "net.")


def test_state_dict_post_hook_must_return_none_and_private_hook_replaces():
    for T in LIBS:
        m = T.nn.Linear(2, 2)
        m.register_state_dict_post_hook(lambda *a: {})
        with pytest.raises(RuntimeError, match="must return None"):
            m.state_dict()
        m = T.nn.Linear(2, 2)
        m._register_state_dict_hook(lambda mod, sd, prefix, meta: {"only": 1})
        assert m.state_dict() == {"only": 1}
        hook = lambda *a: None  # noqa: E731
        m.register_state_dict_post_hook(hook)
        with pytest.raises(RuntimeError, match="Cannot register the same function"):
            m._register_state_dict_hook(hook)


def test_state_dict_metadata_and_positional_args_warn():
    z, t = both(lambda T: dict(net(T).state_dict()._metadata))
    assert z == t == {"": {"version": 1}, "0": {"version": 1}, "1": {"version": 2},
                      "2": {"version": 1}}
    for T in LIBS:
        with pytest.warns(FutureWarning, match="Positional args"):
            d = T.nn.Linear(2, 2).state_dict({}, "p.")
        assert sorted(d) == ["p.bias", "p.weight"]


# --- overridable _save_to_state_dict / _load_from_state_dict ----------------------------

def renamed(T):
    class Old(T.nn.Module):
        """Saves its weight as 'w' and still loads the old name 'weight'."""
        def __init__(self):
            super().__init__()
            self.weight = T.nn.Parameter(T.zeros(2))

        def _save_to_state_dict(self, destination, prefix, keep_vars):
            destination[prefix + "w"] = self.weight.detach().clone()

        def _load_from_state_dict(self, state_dict, prefix, *args):
            if prefix + "w" in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
            super()._load_from_state_dict(state_dict, prefix, *args)
    return Old


def test_save_and_load_overrides_rename_keys():
    def run(T):
        Old = renamed(T)
        m = T.nn.Sequential(Old(), T.nn.Linear(2, 2))
        sd = m.state_dict()
        keys = list(sd)
        sd["0.w"] = T.tensor([1.0, 2.0])
        r = m.load_state_dict(sd)
        return keys, m[0].weight.tolist(), (r.missing_keys, r.unexpected_keys)
    z, t = both(run)
    assert z == t
    assert z[1] == [1.0, 2.0]


def test_load_through_overrides_reports_missing_and_unexpected():
    def run(T):
        m = T.nn.Sequential(renamed(T)(), T.nn.Linear(2, 2))
        sd = {"1.weight": T.ones(2, 2), "zz": T.ones(1), "1.nope.x": T.ones(1)}
        r = m.load_state_dict(sd, strict=False)
        return sorted(r.missing_keys), sorted(r.unexpected_keys), m[1].weight.sum().item()
    z, t = both(run)
    assert z == t
    m = nn.Sequential(renamed(zeroin)(), nn.Linear(2, 2))
    before = m[1].weight.detach().clone()
    with pytest.raises(KeyError, match="missing key.*'0.weight'"):
        m.load_state_dict({"1.weight": zeroin.ones(2, 2), "1.bias": zeroin.ones(2)})
    with pytest.raises(ValueError, match="shape mismatch for '1.bias'"):
        m.load_state_dict({"0.w": zeroin.ones(2), "1.weight": zeroin.ones(2, 2),
                           "1.bias": zeroin.ones(3)})
    assert zeroin.equal(m[1].weight, before)          # nothing changed on failure
    assert m[0].weight.tolist() == [0.0, 0.0]


# --- load hooks -------------------------------------------------------------------------

def test_load_hooks_order_arguments_and_incompatible_keys_mutation():
    def run(T):
        calls = []
        m = net(T)

        def pre(mod, sd, prefix, meta, strict, missing, unexpected, errors):
            calls.append(("pre", type(mod).__name__, prefix, meta.get("version"), strict))
            sd.pop(prefix + "bias", None)

        def post(mod, keys):
            calls.append(("post", type(mod).__name__, list(keys.missing_keys),
                          list(keys.unexpected_keys)))
            keys.missing_keys.clear()
        m[0].register_load_state_dict_pre_hook(pre)
        m[0].register_load_state_dict_post_hook(post)
        m.register_load_state_dict_post_hook(
            lambda mod, keys: calls.append(("top", list(keys.missing_keys))))
        sd = m.state_dict()
        sd["junk"] = T.ones(1)
        r = m.load_state_dict(sd, strict=False)
        return calls, r.missing_keys, r.unexpected_keys
    z, t = both(run)
    assert z == t
    assert z[0][0] == ("pre", "Linear", "0.", 1, True)


def test_post_hook_clearing_keys_lets_strict_load_pass_and_must_return_none():
    for T in LIBS:
        m = T.nn.Linear(2, 2)
        m.register_load_state_dict_post_hook(lambda mod, keys: keys.unexpected_keys.clear())
        m.load_state_dict({**m.state_dict(), "extra": T.ones(1)})      # strict, no error
        m2 = T.nn.Linear(2, 2)
        m2.register_load_state_dict_post_hook(lambda mod, keys: 1)
        with pytest.raises(AssertionError, match="not expected to return new values"):
            m2.load_state_dict(m2.state_dict())


def test_load_hook_handle_removes_and_error_msgs_raise_runtime_error():
    for T in LIBS:
        m = T.nn.Linear(2, 2)
        seen = []
        h = m.register_load_state_dict_pre_hook(lambda *a: seen.append(1))
        m.load_state_dict(m.state_dict())
        h.remove()
        m.load_state_dict(m.state_dict())
        assert seen == [1]
        m.register_load_state_dict_pre_hook(lambda *a: a[-1].append("bad value"))
        with pytest.raises(RuntimeError, match="Error.s. in loading state_dict for Linear"):
            m.load_state_dict(m.state_dict())


# --- extra state -------------------------------------------------------------------------

def counter(T):
    class Counter(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = T.nn.Linear(1, 1)
            self.steps = 0

        def get_extra_state(self):
            return {"steps": self.steps}

        def set_extra_state(self, state):
            self.steps = state["steps"]
    return Counter


def test_extra_state_saved_and_loaded_under_extra_state_key():
    def run(T):
        a, b = counter(T)(), counter(T)()
        a.steps = 7
        sd = a.state_dict()
        b.load_state_dict(sd)
        r = b.load_state_dict({k: v for k, v in sd.items() if k != "_extra_state"},
                              strict=False)
        return list(sd), sd["_extra_state"], b.steps, r.missing_keys
    z, t = both(run)
    assert z == t == (["_extra_state", "lin.weight", "lin.bias"], {"steps": 7}, 7,
                      ["_extra_state"])


def test_extra_state_key_is_unexpected_without_set_extra_state():
    for T in LIBS:
        with pytest.raises(RuntimeError, match="should never be called"):
            T.nn.Linear(1, 1).get_extra_state()
        with pytest.raises(RuntimeError, match="should never be called"):
            T.nn.Linear(1, 1).set_extra_state(1)
        m = T.nn.Linear(1, 1)
        r = m.load_state_dict({**m.state_dict(), "_extra_state": 1}, strict=False)
        assert r.unexpected_keys == ["_extra_state"]


# --- paths --------------------------------------------------------------------------------

def test_get_buffer_and_errors():
    for T in LIBS:
        m = net(T)
        assert m.get_buffer("1.running_mean") is m[1].running_mean
        with pytest.raises(AttributeError, match="`weight` is not a buffer"):
            m.get_buffer("1.weight")
        with pytest.raises(AttributeError, match="has no attribute `nope`"):
            m.get_buffer("1.nope")


def test_set_submodule_replaces_adds_and_refuses():
    for T in LIBS:
        m = T.nn.Sequential(T.nn.Sequential(T.nn.Linear(2, 2)))
        new = T.nn.ReLU()
        m.set_submodule("0.0", new)
        assert m[0][0] is new
        m.set_submodule("0.extra", T.nn.Tanh())
        assert isinstance(m[0].extra, T.nn.Tanh)
        with pytest.raises(AttributeError, match="has no attribute `other`"):
            m.set_submodule("0.other", T.nn.Tanh(), strict=True)
        with pytest.raises(ValueError, match="without a target name"):
            m.set_submodule("", new)
        with pytest.raises(ValueError, match="is not an nn.Module"):
            m.set_submodule("0.0", 3)
        m[0].plain = 5
        with pytest.raises(AttributeError, match="`plain` is not an nn.Module"):
            m.set_submodule("0.plain", T.nn.Tanh())
        assert m._get_name() == "Sequential"


# --- _apply and the conversions built on it ----------------------------------------------

def test_apply_converts_params_grads_and_buffers_children_first():
    def run(T):
        m = net(T)
        (m(T.arange(8.0).reshape(4, 2)) ** 2).sum().backward()
        seen = []

        def fn(t):
            seen.append(tuple(t.shape))
            return t * 2
        w, g = m[0].weight, m[0].weight.grad
        before = [w.sum().item(), m[1].running_var.sum().item(), g.sum().item()]
        r = m._apply(fn)
        after = [w.sum().item(), m[1].running_var.sum().item(), m[0].weight.grad.sum().item()]
        return r is m, seen, m[0].weight is w, np.array(after) / np.array(before)
    z, t = both(run)
    assert z[:3] == t[:3]
    assert np.allclose(z[3], 2) and np.allclose(t[3], 2)


def test_subclass_apply_is_used_by_to_and_double():
    for T in LIBS:
        calls = []

        class Cached(T.nn.Linear):
            def _apply(self, fn, recurse=True):
                calls.append(1)
                return super()._apply(fn, recurse)
        m = T.nn.Sequential(Cached(2, 2))
        m.double()
        assert m[0].weight.dtype == T.float64 and calls == [1]
        m.to(T.float32)
        assert calls == [1, 1]


def test_to_empty_share_memory_compile():
    for T in LIBS:
        m = net(T)
        w = m[0].weight
        assert m.to_empty(device="cpu") is m
        assert m[0].weight is w and m[0].weight.shape == (3, 2)
        assert m[1].running_mean.dtype == T.get_default_dtype()
        assert m.share_memory() is m and m[0].weight.is_shared()
    m = net(zeroin).eval()       # torch.compile itself is left out: it imports dynamo
    before, x = copy.deepcopy(m.state_dict()), zeroin.ones(4, 2)
    y = m(x)
    assert m.compile(mode="max-autotune") is None
    assert type(m) is nn.Sequential and zeroin.equal(m(x), y)
    assert all(zeroin.equal(before[k], m.state_dict()[k]) for k in before)
    with pytest.raises(TypeError):
        m.compile(nn.Linear(1, 1))           # PyTorch's arguments are keywords
    with pytest.raises(RuntimeError, match="CPU"):
        nn.Linear(2, 2).to_empty(device="cuda")
    with pytest.raises(TypeError):
        nn.Linear(2, 2).to_empty("cpu")          # device is keyword-only, as PyTorch's


def test_to_meta_drops_the_values_and_functional_call_supplies_them():
    """torch.func's ensembling recipe: ``copy.deepcopy(model).to('meta')`` as the stateless
    base of ``functional_call``; zeroin has no meta tensors, so the copy keeps shapes and
    dtypes but no values (NaN; integer buffers 0) and gives torch's outputs once the values
    come from the dicts. The original module keeps its values; an optimiser's step on the
    copy runs, as on PyTorch's meta tensors."""
    out, tm = {}, net(torch).double()
    for T in LIBS:
        m = net(T).double()
        m.load_state_dict({k: T.tensor(v) for k, v in arrays(tm.state_dict()).items()})
        x = T.linspace(-1, 1, 8, dtype=T.float64).reshape(4, 2)
        for form in (("meta",), (T.device("meta"),), ((), {"device": "meta"})):
            args, kw = (form if isinstance(form[0], tuple) else (form, {}))
            base = copy.deepcopy(m).to(*args, **kw)
            assert [(n, tuple(p.shape), p.dtype) for n, p in base.named_parameters()] == \
                [(n, tuple(p.shape), p.dtype) for n, p in m.named_parameters()]
            if T is zeroin:
                assert all(bool(p.isnan().all()) for p in base.parameters())
                assert base[1].num_batches_tracked.item() == 0
            state = {**dict(m.named_parameters()), **dict(m.named_buffers())}
            y = T.func.functional_call(base, state, (x,))
        assert not bool(m[0].weight.isnan().any())
        out[T] = (y, m(x))
    for a, b in zip(out[zeroin], out[torch], strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)
    base = copy.deepcopy(net(zeroin)).to("meta", zeroin.float32)      # a dtype beside it
    assert base[0].weight.dtype == zeroin.float32 and bool(base[0].weight.isnan().all())
    base(zeroin.ones(4, 2, dtype=zeroin.float32)).sum().backward()
    zeroin.optim.SGD(base.parameters(), lr=0.1, momentum=0.9).step()
    assert bool(base[2].bias.isnan().all())


def test_data_in_place_on_a_read_only_view_says_so():
    """``.data.copy_`` / ``.data.add_`` on an expanded tensor (a read-only broadcast view)
    name the cause and the fix, not a shape mismatch between equal shapes."""
    t = zeroin.ones(3).expand(2, 3)
    for call in (lambda d: d.copy_(zeroin.zeros(2, 3)), lambda d: d.add_(1)):
        with pytest.raises(ValueError, match="read-only .*under zeroin.no_grad"):
            call(t.data)
    with pytest.raises(zeroin.ShapeError, match="cannot be broadcast"):
        zeroin.ones(2).data.copy_(zeroin.ones(3))


def test_refused_devices_and_bfloat16():
    m = nn.Linear(2, 2)
    for name in ("cuda", "xpu", "mtia"):
        with pytest.raises(AssertionError, match="CPU"):
            getattr(m, name)()
        with pytest.raises(AssertionError):
            getattr(torch.nn.Linear(2, 2), name)()
    with pytest.raises(RuntimeError, match="CPU .NumPy. only"):
        m.cuda()
    for lib_m in (m, torch.nn.Linear(2, 2)):
        with pytest.raises(RuntimeError):
            lib_m.ipu()
    with pytest.raises(TypeError, match="bfloat16 is not supported"):
        m.bfloat16()


def test_class_attributes_as_torch():
    for name in ("dump_patches", "_version", "call_super_init"):
        assert getattr(nn.Module, name) == getattr(torch.nn.Module, name)
    assert nn.Module.T_destination.__name__ == "T_destination"
    assert set(dir(torch.nn.Module)) - set(dir(nn.Module)) <= {
        "__annotations__", "__getattr__", "__getstate__", "__setstate__", "_call_impl", "_compiled_call_impl",
        "_get_backward_hooks", "_get_backward_pre_hooks", "_maybe_warn_non_full_backward_hook",
        "_named_members", "_replicate_for_data_parallel", "_slow_forward",
        "_wrapped_call_impl"}


# --- register_backward_hook ---------------------------------------------------------------

def test_register_backward_hook_warns_and_gives_input_grads():
    def run(T):
        got = []
        m = T.nn.Tanh()
        h = m.register_backward_hook(lambda mod, gi, go: got.append(
            (gi[0].detach().numpy().copy(), go[0].detach().numpy().copy())))
        x = T.tensor([0.5, -1.0], requires_grad=True)
        with pytest.warns(FutureWarning, match="non-full backward hook"):
            y = m(x)
        (y * T.tensor([1.0, 2.0])).sum().backward()
        h.remove()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            m(x)
        return got
    z, t = both(run)
    assert len(z) == len(t) == 1
    for a, b in zip(z[0], t[0]):
        assert np.allclose(a, b)


def test_full_backward_hook_without_input_grads_warns_as_pytorch():
    # a hook on a first layer whose input (the data) needs no gradient: PyTorch's UserWarning
    def run(T):
        m = T.nn.Linear(2, 1)
        got = []
        h = m.register_full_backward_hook(lambda mod, gi, go: got.append(gi))
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            m(T.ones(3, 2)).sum().backward()
            m(T.ones(3, 2, requires_grad=True)).sum().backward()     # an input needs one
        h.remove()
        pre = m.register_full_backward_pre_hook(lambda mod, go: None)
        with warnings.catch_warnings(record=True) as w2:
            warnings.simplefilter("always")                         # a pre hook too
            m(T.ones(3, 2)).sum().backward()
        pre.remove()
        with warnings.catch_warnings():
            warnings.simplefilter("error")                          # no hook: silent
            m(T.ones(3, 2)).sum().backward()
        return [(type(o.message), str(o.message)) for o in w + w2], [g[0] is None for g in got]
    z, t = both(run)
    assert z == t and len(z[0]) == 2 and z[0][0][0] is UserWarning, (z, t)
    assert z[1] == [True, False]


def test_backward_hook_kinds_do_not_mix():
    for T in LIBS:
        m = T.nn.ReLU()
        m.register_full_backward_hook(lambda *a: None)
        with pytest.raises(RuntimeError, match="Cannot use both"):
            m.register_backward_hook(lambda *a: None)
        m = T.nn.ReLU()
        m.register_backward_hook(lambda *a: None)
        with pytest.raises(RuntimeError, match="Cannot use both"):
            m.register_full_backward_hook(lambda *a: None)
        m = T.nn.ReLU()                 # the kind stays once the hook is removed
        m.register_full_backward_hook(lambda *a: None).remove()
        with pytest.raises(RuntimeError, match="Cannot use both"):
            m.register_backward_hook(lambda *a: None)


# --- the hook tables under PyTorch's names ------------------------------------------------

HOOK_TABLES = ["_forward_pre_hooks", "_forward_hooks", "_backward_hooks",
               "_backward_pre_hooks", "_forward_hooks_with_kwargs",
               "_forward_pre_hooks_with_kwargs", "_forward_hooks_always_called",
               "_state_dict_hooks", "_state_dict_pre_hooks", "_load_state_dict_pre_hooks",
               "_load_state_dict_post_hooks"]


def test_hook_tables_are_the_ordered_dicts_that_hold_the_hooks_as_torch():
    def run(T):
        m = T.nn.Linear(2, 2)
        out = [(type(getattr(m, n)).__name__, len(getattr(m, n))) for n in HOOK_TABLES]
        calls = []
        m.register_forward_pre_hook(lambda mod, a: calls.append("pre"))
        h = m.register_forward_hook(lambda mod, a, kw, o: calls.append("fwd"),
                                    with_kwargs=True, always_call=True)
        m.register_full_backward_hook(lambda mod, gi, go: calls.append("bwd"))
        m.register_state_dict_post_hook(lambda *a: calls.append("sd"))
        out.append([len(getattr(m, n)) for n in HOOK_TABLES])
        out.append((list(m._forward_hooks) == [h.id], m._forward_hooks_with_kwargs[h.id],
                    list(m._forward_hooks_always_called) == [h.id]))
        x = T.ones(1, 2, requires_grad=True)
        m(x).sum().backward()
        m.state_dict()
        h.remove()
        out.append([len(getattr(m, n)) for n in HOOK_TABLES])
        m._forward_pre_hooks.clear()            # code that empties the tables directly
        m._backward_hooks.clear()
        m(x).sum().backward()
        m._forward_hooks[10 ** 6] = lambda mod, a, o: calls.append("direct")
        m(x)
        return out, calls
    z, t = both(run)
    assert z == t
    assert t[1] == ["pre", "fwd", "bwd", "sd", "direct"]


def test_reading_the_hook_tables_leaves_the_module_as_fast_as_before():
    m = nn.Linear(2, 2)
    assert not m._state_dict_hooks and "_hooks" not in m.__dict__
    assert len(m._forward_pre_hooks) == 0       # makes the call tables, all empty
    assert m(zeroin.ones(1, 2)).shape == (1, 2)
    lazy = nn.LazyLinear(3)
    lazy(zeroin.ones(1, 2))
    assert "_hooks" not in lazy.__dict__ and not lazy._forward_pre_hooks


@pytest.mark.filterwarnings("always::UserWarning")
def test_always_call_forward_hooks_run_when_forward_raises_as_torch():
    def run(T):
        class Bad(T.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m, calls = Bad(), []
        m.register_forward_hook(lambda mod, a, o: calls.append(("always", o)),
                                always_call=True)
        m.register_forward_hook(lambda mod, a, o: calls.append(("plain", o)))
        m.register_forward_hook(lambda mod, a, kw, o: 1 / 0, always_call=True,
                                with_kwargs=True)
        with pytest.warns(UserWarning, match="always_call=True") as w, \
                pytest.raises(ValueError, match="boom"):
            m(T.ones(1))
        return calls, [str(x.message) for x in w]
    z, t = both(run)
    assert z == t and z[0] == [("always", None)]


def test_skip_init_makes_the_module_and_refuses_a_class_without_device():
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        m = lib.nn.utils.skip_init(lib.nn.Linear, 5, out_features=2, bias=False)
        assert type(m) is lib.nn.Linear and tuple(m.weight.shape) == (2, 5) and m.bias is None

        class NoDevice(lib.nn.Module):
            def __init__(self, n):
                super().__init__()

        with pytest.raises(RuntimeError, match="must support a 'device' arg"):
            lib.nn.utils.skip_init(NoDevice, 3)
        with pytest.raises(RuntimeError, match="Expected a Module"):
            lib.nn.utils.skip_init(int, 3)


# --- global module hooks (torch.nn.modules.module.register_module_*_hook) -----------------

def _mm(T):
    import importlib
    return importlib.import_module(T.__name__ + ".nn.modules.module")


def test_global_forward_hooks_run_around_each_module_in_torch_order():
    def run(T):
        mm, calls = _mm(T), []
        m = T.nn.Sequential(T.nn.Linear(2, 2), T.nn.Tanh())
        with T.no_grad():
            m[0].weight.fill_(0.5)
            m[0].bias.fill_(0.1)
        m[0].register_forward_pre_hook(lambda mod, a: calls.append("pre"))
        m[0].register_forward_hook(lambda mod, a, o: calls.append("post") or o * 2)
        hs = [mm.register_module_forward_pre_hook(
                  lambda mod, a: calls.append(("gpre", type(mod).__name__))),
              mm.register_module_forward_hook(
                  lambda mod, a, o: calls.append(("gpost", type(mod).__name__)) or o + 1),
              mm.register_module_forward_hook(
                  lambda mod, a, kw, o: calls.append(("gkw", sorted(kw))), with_kwargs=True)]
        try:
            assert all(type(h) is T.utils.hooks.RemovableHandle for h in hs)
            out = m(T.ones(1, 2)).detach().numpy().copy()
        finally:
            for h in hs:
                h.remove()
        calls.append("removed")
        again = m(T.ones(1, 2)).detach().numpy().copy()
        return calls, out, again
    (zc, zo, za), (tc, to, ta) = both(run)
    assert zc == tc and zc[:3] == [("gpre", "Sequential"), ("gpre", "Linear"), "pre"]
    assert np.allclose(zo, to) and np.allclose(za, ta)


def test_global_forward_hook_always_call_runs_when_forward_raises():
    def run(T):
        mm, calls = _mm(T), []

        class Bad(T.nn.Module):
            def forward(self, x):
                raise ValueError("boom")
        m = Bad()
        m.register_forward_hook(lambda mod, a, o: calls.append(("local", o)), always_call=True)
        hs = [mm.register_module_forward_hook(lambda mod, a, o: calls.append(("g", o)),
                                              always_call=True),
              mm.register_module_forward_hook(lambda mod, a, o: calls.append("never")),
              mm.register_module_forward_hook(lambda mod, a, o: 1 / 0, always_call=True)]
        try:
            with pytest.warns(UserWarning, match="global module forward hook") as w, \
                    pytest.raises(ValueError, match="boom"):
                m(T.ones(1))
        finally:
            for h in hs:
                h.remove()
        assert not mm._global_forward_hooks and not mm._global_forward_hooks_always_called
        return calls, [str(x.message) for x in w]
    z, t = both(run)
    assert z == t and z[0] == [("g", None), ("local", None)]


def test_global_full_backward_hooks_order_and_gradients(monkeypatch):
    def run(T):
        mm, calls = _mm(T), []
        monkeypatch.setattr(mm, "_global_is_full_backward_hook", None)
        m = T.nn.Linear(3, 2).double()
        with T.no_grad():
            m.weight.copy_(T.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]]))
        m.register_full_backward_pre_hook(lambda mod, go: calls.append("pre"))
        m.register_full_backward_hook(lambda mod, gi, go: calls.append("full"))
        hs = [mm.register_module_full_backward_pre_hook(
                  lambda mod, go: calls.append("gpre") or (go[0] * 3,)),
              mm.register_module_full_backward_hook(
                  lambda mod, gi, go: calls.append(("g", gi[0].detach().numpy().copy(),
                                                    go[0].detach().numpy().copy())))]
        x = T.tensor([[0.5, -1.0, 2.0]], dtype=T.float64, requires_grad=True)
        try:
            y = m(x)
        finally:
            for h in hs:
                h.remove()
        (y * T.tensor([[1.0, 2.0]], dtype=T.float64)).sum().backward()   # removed: still run
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks"):
            mm.register_module_backward_hook(lambda *a: None)
        return calls, x.grad.numpy().copy()
    (zc, zg), (tc, tg) = both(run)
    assert [c if isinstance(c, str) else c[0] for c in zc] == ["gpre", "pre", "g", "full"]
    assert [c if isinstance(c, str) else c[0] for c in tc] == ["gpre", "pre", "g", "full"]
    assert np.allclose(zc[2][1], tc[2][1]) and np.allclose(zc[2][2], tc[2][2])
    assert np.allclose(zg, tg)


def test_global_non_full_backward_hook_warns_and_refuses_a_full_one(monkeypatch):
    def run(T):
        mm, got = _mm(T), []
        monkeypatch.setattr(mm, "_global_is_full_backward_hook", None)
        h = mm.register_module_backward_hook(
            lambda mod, gi, go: got.append(gi[0].detach().numpy().copy()))
        try:
            x, m = T.tensor([0.5, -1.0], requires_grad=True), T.nn.Tanh()
            with pytest.warns(FutureWarning, match="non-full backward hook"):
                y = m(x)
            y.sum().backward()
            with pytest.raises(RuntimeError, match="global Module hook"):
                mm.register_module_full_backward_hook(lambda *a: None)
        finally:
            h.remove()
        return got
    z, t = both(run)
    assert len(z) == len(t) == 1 and np.allclose(z[0], t[0])


def test_global_registration_hooks_see_and_replace_what_modules_register():
    def run(T):
        mm, calls = _mm(T), []

        def hook(kind):
            def h(mod, name, value):
                calls.append((kind, type(mod).__name__, name, type(value).__name__))
                if name == "swap":
                    return T.nn.Identity() if kind == "module" else T.zeros(4)
            return h

        class Net(T.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = T.nn.Linear(1, 1)
                self.register_buffer("b", T.ones(2))
                self.b = T.ones(3)
                self.nb = T.nn.Buffer(T.ones(1), persistent=False)
                self.w = T.nn.Parameter(T.ones(1))
                self.register_parameter("p", None)
                self.add_module("swap", T.nn.Tanh())
                self.register_buffer("swap_b", None)
                self.lin = None
        hs = [mm.register_module_buffer_registration_hook(hook("buffer")),
              mm.register_module_module_registration_hook(hook("module")),
              mm.register_module_parameter_registration_hook(hook("param"))]
        try:
            n = Net()
        finally:
            for h in hs:
                h.remove()
        Net()
        return calls, type(n.swap).__name__, n.lin
    z, t = both(run)
    assert z == t and z[1] == "Identity" and z[2] is None and len(z[0]) == 10


def test_global_hooks_leave_hook_free_modules_on_the_fast_path():
    m = nn.Linear(2, 1)
    mm = zeroin.nn.modules.module
    h = mm.register_module_forward_pre_hook(lambda mod, a: None)
    assert zeroin.nn.module._GLOBAL_CALL
    m(zeroin.ones(1, 2))
    h.remove()
    assert not zeroin.nn.module._GLOBAL_CALL and "_hooks" not in m.__dict__
    assert mm is zeroin.nn.module and "register_module_forward_hook" in mm.__all__


def test_global_backward_hooks_pass_over_a_module_returning_a_tuple(monkeypatch):
    # zeroin's (documented) difference: PyTorch also calls them for an LSTM's tuple
    monkeypatch.setattr(zeroin.nn.module, "_global_is_full_backward_hook", None)
    zeroin.manual_seed(0)
    lstm, lin = nn.LSTM(2, 3), nn.Linear(2, 1)
    x = zeroin.randn(4, 1, 2, requires_grad=True)
    plain = zeroin.autograd.grad(lstm(x)[0].sum() + lin(x).sum(), x)[0].numpy()
    seen = []
    with zeroin.nn.modules.module.register_module_full_backward_hook(
            lambda mod, gi, go: seen.append(type(mod).__name__)):
        with pytest.warns(UserWarning, match="LSTM returned a tuple.*not called"):
            loss = lstm(x)[0].sum() + lin(x).sum()
        grad = zeroin.autograd.grad(loss, x)[0].numpy()
    assert seen == ["Linear"] and np.array_equal(grad, plain)


@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "str"])
def test_module_type_takes_legacy_tensor_types_and_casts_every_buffer(name):
    # CS231n's dtype = torch.FloatTensor; model.type(dtype): PyTorch casts every parameter
    # and buffer, BatchNorm's integer num_batches_tracked too
    def run(T):
        dst = "torch.FloatTensor" if name == "str" else getattr(T, name)
        m = net(T).type(dst)
        m.train()
        m(T.ones(4, 2, dtype=m[0].weight.dtype))
        return {k: (str(v.dtype).split(".")[-1], v.detach().numpy().tolist())
                for k, v in m.state_dict().items() if "num_batches" in k or "bias" in k}
    z, t = both(run)
    assert z.keys() == t.keys() and z["1.num_batches_tracked"][0] == t["1.num_batches_tracked"][0]
    for k in z:                     # the dtypes (the initial values are each library's)
        assert z[k][0] == t[k][0], k
    assert z["1.num_batches_tracked"][1] == t["1.num_batches_tracked"][1] == 1


def test_module_type_keeps_the_parameter_objects_and_refuses_integer_types():
    m = net(zeroin)
    w = m[0].weight
    assert m.type(zeroin.FloatTensor) is m and m[0].weight is w and w.dtype == np.float32
    with pytest.raises(TypeError, match=r"Sequential\.type: module parameters must be floating "
                                        r"point, got int64"):
        m.type(zeroin.LongTensor)
    with pytest.raises(RuntimeError):
        net(torch).type(torch.LongTensor)
    with pytest.raises(TypeError, match=r"Sequential\.type: 'torch\.FooTensor' is not a tensor"):
        m.type("torch.FooTensor")
    with pytest.raises(TypeError, match=r"Sequential\.type: expected a dtype .* got 3"):
        m.type(3)


@pytest.mark.parametrize("make", [
    lambda T: T.nn.Conv2d(3, 4, 3), lambda T: T.nn.Conv1d(2, 2, 3, bias=False),
    lambda T: T.nn.ConvTranspose2d(4, 1, 4, stride=2, padding=1), lambda T: T.nn.Conv3d(1, 1, 1),
    lambda T: T.nn.LayerNorm(5), lambda T: T.nn.GroupNorm(2, 4), lambda T: T.nn.RMSNorm(3),
    lambda T: T.nn.Embedding(6, 8, padding_idx=0), lambda T: T.nn.EmbeddingBag(4, 2),
    lambda T: T.nn.Embedding.from_pretrained(T.ones(3, 2)),
    lambda T: T.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True)])
def test_every_layer_parameter_is_an_nn_parameter_as_torchs(make):
    # CS231n's init_weights(m) and the usual isinstance(p, nn.Parameter) checks: PyTorch's
    # layers hold Parameters; zeroin's Conv, norms and Embedding held plain leaf tensors
    got = {n: (isinstance(p, zeroin.nn.Parameter), p.requires_grad)
           for n, p in make(zeroin).named_parameters()}
    want = {n: (isinstance(p, torch.nn.Parameter), p.requires_grad)
            for n, p in make(torch).named_parameters()}
    assert got == want and got
    m = make(zeroin).float()                       # a dtype change keeps the objects' class
    assert all(isinstance(p, zeroin.nn.Parameter) for p in m.parameters())


def test_a_parameter_prints_without_the_name_its_module_gave_it_as_pytorchs():
    """DLWPT ch6's ``print(linear_model.weight)`` / ``seq_model.output_linear.bias``: PyTorch
    prints no name; the drawings' names stay, and a name the user gave still prints."""
    seq = nn.Sequential(nn.Linear(1, 2))
    tseq = torch.nn.Sequential(torch.nn.Linear(1, 2))
    with torch.no_grad():
        tseq[0].weight.copy_(torch.tensor([[0.5], [-1.0]], dtype=torch.float64).float())
        tseq[0].bias.zero_()
    tseq.double()
    seq.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in tseq.state_dict().items()})
    for mine, theirs in [(seq[0].weight, tseq[0].weight), (seq[0].bias, tseq[0].bias)]:
        assert "name=" not in repr(mine) and "name=" not in repr(mine.detach())
        assert repr(mine).replace("zeroin", "torch").splitlines()[0] == \
            repr(theirs).splitlines()[0]            # "Parameter containing:"
        assert repr(mine).endswith("requires_grad=True)") and repr(theirs).endswith(
            "requires_grad=True)")
    assert seq[0].weight.name == "0.weight" and nn.Linear(1, 1).bias.name == "bias"
    assert "name='w'" in repr(zeroin.tensor(1.0, name="w"))


def _raschka_ch13_module(T):
    class MyModule(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = T.empty(2, 3, requires_grad=True)     # plain tensors, not Parameters
            T.nn.init.xavier_normal_(self.w1)
            self.p = T.nn.Parameter(T.ones(2))
    return MyModule()


def test_a_plain_tensor_that_requires_grad_stays_an_attribute_as_pytorchs():
    """Raschka's ch13 ``self.w1 = torch.empty(2, 3, requires_grad=True)``: PyTorch registers
    only Parameters, so neither parameters() nor state_dict() nor an optimizer sees w1;
    zeroin registered every leaf tensor that required grad."""
    for T in (torch, zeroin):
        m = _raschka_ch13_module(T)
        assert [n for n, _ in m.named_parameters()] == ["p"] and list(m.state_dict()) == ["p"]
        assert m.w1.requires_grad and m.w1.is_leaf and not isinstance(m.w1, T.nn.Parameter)
        with pytest.raises(TypeError, match="parameter 'p'"):   # a plain tensor in its slot
            m.p = T.zeros(2, requires_grad=True)
        m.w1 = T.nn.Parameter(m.w1.detach())                    # a Parameter registers
        assert [n for n, _ in m.named_parameters()] == ["p", "w1"]
    for T in (torch, zeroin):   # register_parameter wants a Parameter, as an attribute does
        m = _raschka_ch13_module(T)
        for plain in (T.ones(1, requires_grad=True), T.ones(1, dtype=T.float64), 3.0):
            kind = plain.type().split(".")[-1] if hasattr(plain, "type") else "float"
            with pytest.raises(TypeError, match=rf"^cannot assign '(\w+\.)?{kind}' object to "
                                                rf"parameter 'r' \(\w+\.nn\.Parameter or None "
                                                rf"required\)"):
                m.register_parameter("r", plain)
        m.register_parameter("r", T.nn.Parameter(T.ones(1)))
        assert [n for n, _ in m.named_parameters()] == ["p", "r"]


def test_deepcopy_of_a_parameter_drops_its_grad():
    """copy.deepcopy(model) after a backward (a target network made mid-training): the
    copy's parameters have no .grad, as torch's Parameter.__deepcopy__; the original keeps
    its grads, requires_grad and sharing between modules are copied; a plain tensor's
    deepcopy keeps its grad in both libraries."""
    def run(T):
        T.manual_seed(0)
        m = T.nn.Sequential(T.nn.Linear(3, 2), T.nn.Linear(2, 1))
        m[1].bias.requires_grad_(False)
        m(T.ones(4, 3)).sum().backward()
        m.tied = m[0]
        c = copy.deepcopy(m)
        x = T.ones(2, requires_grad=True)
        x.sum().backward()
        return ([p.grad is None for p in c.parameters()],
                [p.grad is None for p in m.parameters()],
                [p.requires_grad for p in c.parameters()], c.tied is c[0],
                type(c[0].weight).__name__, copy.deepcopy(x).grad.tolist())
    z, t = both(run)
    assert z == t
    assert z[0] == [True] * 4 and z[1] == [False, False, False, True]


def test_a_data_view_registered_or_assigned_as_a_buffer_is_a_tensor_on_that_memory():
    """jzbontar's PixelCNN ``register_buffer('mask', self.weight.data.clone())``: PyTorch's
    ``.data`` is a tensor, zeroin's an ndarray view; the buffer becomes a tensor on the same
    memory (``w.data`` itself shares the weight's, as in PyTorch)."""
    for lib in (torch, zeroin):
        conv = lib.nn.Conv2d(1, 2, 3)
        conv.register_buffer("mask", conv.weight.data.clone())
        conv.register_buffer("alias", conv.weight.data)
        assert isinstance(conv.mask, lib.Tensor) and isinstance(conv.alias, lib.Tensor)
        conv.mask.fill_(1)
        conv.mask[:, :, 1, 1:] = 0
        conv.weight.data *= conv.mask
        assert conv.weight[0, 0, 1, 2].item() == 0.0 and conv.alias[0, 0, 1, 2].item() == 0.0
        conv.alias.fill_(2.0)                       # shares the weight's memory
        assert conv.weight.sum().item() == 36.0
        conv.mask = conv.weight.data.clone()        # assigned to a buffer's name
        assert isinstance(conv.mask, lib.Tensor) and "mask" in dict(conv.named_buffers())
        assert sorted(conv.state_dict()) == ["alias", "bias", "mask", "weight"]
