"""nn.Module's API and containers against PyTorch: registration rules, names, prefixes and
the errors PyTorch raises (float64). Found by a differential audit of nn."""
import numpy as np
import pytest

import zeroin
from zeroin import nn

torch = pytest.importorskip("torch")


def _lib(m):
    return zeroin if m is nn else torch


def _both(fn):
    """fn(nn) and fn(torch.nn): the same result, or the same exception type."""
    out = []
    for m in (nn, torch.nn):
        try:
            out.append(("ok", fn(m)))
        except Exception as e:              # noqa: BLE001 - compared below
            out.append(("error", type(e)))
    (zk, zv), (tk, tv) = out
    assert zk == tk, f"zeroin {out[0]} vs torch {out[1]}"
    if zk == "ok":
        assert zv == tv
    else:
        assert issubclass(zv, tv), f"zeroin raised {zv.__name__}, torch {tv.__name__}"
    return zv


def _net(m):
    return m.Sequential(m.Linear(2, 3), m.ReLU(), m.Sequential(m.Linear(3, 3), m.Tanh()),
                        m.Linear(3, 1))


def test_state_dict_prefix_is_prepended_as_given():
    keys = _both(lambda m: list(_net(m).state_dict(prefix="model.")))
    assert keys[0] == "model.0.weight"
    _both(lambda m: list(_net(m).state_dict(destination={"x": 1}, prefix="p_")))


def test_remove_duplicate_false_lists_shared_modules_parameters_and_buffers():
    def names(m):
        lin, bn = m.Linear(2, 2), m.BatchNorm1d(2)
        s = m.Sequential(lin, bn, lin, bn)
        return ([n for n, _ in s.named_parameters(remove_duplicate=False)],
                [n for n, _ in s.named_parameters()],
                [n for n, _ in s.named_buffers(remove_duplicate=False)],
                [n for n, _ in s.named_buffers()], list(s.state_dict()))
    assert len(_both(names)[0]) == 8


def test_buffers_shared_inside_one_module_are_listed_once():
    def names(m):
        w = _lib(m).ones(3)
        return [n for n, _ in m.BCEWithLogitsLoss(weight=w, pos_weight=w).named_buffers()]
    assert _both(names) == ["weight"]


@pytest.mark.parametrize("case", ["plain tensor to a parameter", "tensor to a submodule",
                                  "number to a buffer"])
def test_assignments_that_would_unregister_are_refused(case):
    def assign(m):
        lin = m.Linear(2, 2)
        lin.sub = m.ReLU()
        lin.register_buffer("buf", _lib(m).zeros(2))
        target = {"plain tensor to a parameter": "weight", "tensor to a submodule": "sub",
                  "number to a buffer": "buf"}[case]
        setattr(lin, target, _lib(m).ones(2, 2) if "tensor" in case else 3)
    _both(assign)
    with pytest.raises(TypeError, match="cannot assign a Tensor as parameter 'weight'"):
        nn.Linear(2, 2).weight = zeroin.ones(2, 2)


def test_none_keeps_the_slot_and_a_parameter_can_come_back():
    def slots(m):
        lin = m.Linear(2, 2)
        lin.sub = m.ReLU()
        lin.bias, lin.sub = None, None
        a = ([n for n, _ in lin.named_parameters()], list(lin.state_dict()),
             [n for n, _ in lin.named_children()], lin.bias, lin.sub)
        lin.bias = m.Parameter(_lib(m).zeros(2))
        lin.sub = m.Tanh()
        return a, [n for n, _ in lin.named_parameters()], [n for n, _ in lin.named_children()]
    _both(slots)


@pytest.mark.parametrize("call", ["buffer a.b", "buffer ''", "buffer over weight",
                                  "buffer of an int", "module a.b", "module over weight",
                                  "parameter a.b", "parameter over a plain attribute",
                                  "buffer again", "parameter again"])
def test_registration_names_are_checked_as_in_pytorch(call):
    def register(m):
        lin = m.Linear(2, 2)
        lin.plain = 3
        lin.register_buffer("buf", _lib(m).ones(1))
        kind, _, name = call.partition(" ")
        name = {"a.b": "a.b", "''": "", "over weight": "weight", "of an int": "x",
                "over a plain attribute": "plain", "again": "buf" if kind == "buffer"
                else "weight"}[name]
        value = {"buffer": _lib(m).ones(1) if name != "x" else 5, "module": m.ReLU(),
                 "parameter": m.Parameter(_lib(m).ones(1))}[kind]
        {"buffer": lin.register_buffer, "module": lin.add_module,
         "parameter": lin.register_parameter}[kind](name, value)
        return [n for n, _ in lin.named_parameters()], [n for n, _ in lin.named_buffers()]
    _both(register)


def test_a_replaced_parameter_buffer_or_child_keeps_its_place():
    def order(m):
        lin = m.Linear(2, 2)
        lin.register_buffer("a", _lib(m).zeros(1))
        lin.register_buffer("b", _lib(m).zeros(1))
        lin.weight = m.Parameter(_lib(m).ones(2, 2))        # weight tying, re-initialising
        lin.register_buffer("a", _lib(m).ones(1))
        s = m.Sequential(m.ReLU(), m.Tanh())
        s.add_module("0", m.ELU())
        return list(lin.state_dict()), [n for n, _ in lin.named_parameters()], str(s)
    assert _both(order)[0] == ["weight", "bias", "a", "b"]


def _kids(s):
    return [(n, type(c).__name__) for n, c in s.named_children()]


def test_sequential_edits_as_pytorch():
    def edits(m):
        s = _net(m)
        out = [_kids(s[1:]), type(s[-1]).__name__]
        s.extend([m.Sigmoid(), m.ELU()])
        s.insert(1, m.Identity())
        s.insert(-2, m.Softplus())
        out.append(_kids(s))
        del s[0]
        out.append(_kids(s))
        s[0] = m.GELU()
        out += [_kids(s), type(s.pop(1)).__name__, _kids(s)]
        del s[1:3]
        out.append(_kids(s))
        s += m.Sequential(m.Tanh())
        out += [_kids(s), _kids(s + m.Sequential(m.ReLU())), _kids(s * 2), len(s * 2)]
        out.append([type(c).__name__ for c in m.Sequential(s[0], s[0]).children()])
        return out
    _both(edits)
    _both(lambda m: m.Sequential(m.ReLU()).insert(2, m.Tanh()))
    _both(lambda m: m.Sequential(m.ReLU()) + m.ModuleList([m.Tanh()]))


def test_module_list_pop_and_edits_as_pytorch():
    def edits(m):
        ml = m.ModuleList([m.Linear(1, 1), m.ReLU(), m.Tanh()])
        ml.insert(1, m.Identity())
        popped = type(ml.pop(0)).__name__
        ml.append(m.ELU()).extend([m.GELU()])
        del ml[1]
        return popped, _kids(ml), _kids(ml[1:]), type(ml.pop(-1)).__name__, _kids(ml)
    _both(edits)


def test_half_converts_parameters_and_float_buffers():
    def dtypes(m):
        net = m.Sequential(m.Linear(2, 2), m.BatchNorm1d(2))
        assert net.half() is net
        return [str(v.dtype).rsplit(".")[-1] for v in net.state_dict().values()]
    assert _both(dtypes)[0] == "float16"


@pytest.mark.parametrize("shape, groups", [((4, 2, 3), 1), ((4, 2, 3, 3), 1), ((2, 4, 3, 5), 1),
                                           ((6, 2, 3, 3), 3), ((4, 2, 2, 3, 3), 2)], ids=str)
def test_dirac_init_matches(shape, groups):
    z, t = zeroin.empty(*shape), torch.empty(*shape, dtype=torch.float64)
    assert nn.init.dirac_(z, groups) is z
    torch.nn.init.dirac_(t, groups)
    np.testing.assert_array_equal(z.numpy(), t.numpy())


def test_dirac_and_sparse_refuse_what_pytorch_refuses():
    for call in (lambda i, e: i.dirac_(e(3, 3)), lambda i, e: i.dirac_(e(3, 2, 3), 2),
                 lambda i, e: i.sparse_(e(3, 3, 3), 0.1)):
        for init, empty in ((nn.init, zeroin.empty), (torch.nn.init, torch.empty)):
            with pytest.raises(ValueError):
                call(init, empty)


def test_sparse_init_zeros_per_column_and_std():
    z = zeroin.empty(200, 50)
    assert nn.init.sparse_(z, 0.3, std=0.5) is z
    zeros = (z.numpy() == 0).sum(0)
    t = torch.nn.init.sparse_(torch.empty(200, 50), 0.3, std=0.5)
    np.testing.assert_array_equal(zeros, (t.numpy() == 0).sum(0))      # 60 per column
    assert abs(z.numpy()[z.numpy() != 0].std() - 0.5) < 0.02


def test_clip_grad_norm_nonfinite_raises_pytorchs_runtime_error():
    for lib, utils in ((zeroin, nn.utils), (torch, torch.nn.utils)):
        p = lib.zeros(2, requires_grad=True)
        p.grad = lib.tensor([1.0, float("nan")])
        with pytest.raises(RuntimeError):
            utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(FloatingPointError, match="norm .order 2.0. is inf"):
        nn.utils.clip_grad_norm_([_inf_param()], 1.0, error_if_nonfinite=True)


def _inf_param():
    p = zeroin.zeros(1, requires_grad=True)
    p.grad = zeroin.tensor([float("inf")])
    return p


# --- layers that were missing ---------------------------------------------------------------

from test_pytorch_parity_nn import check_value_and_grad  # noqa: E402

RNG = np.random.default_rng(11)
NEW_LAYERS = [("Softmax2d", (), (2, 6, 5, 4)), ("Softmax2d", (), (6, 5, 4)),
              ("ZeroPad1d", ((1, 3),), (2, 6, 9)), ("CircularPad1d", ((2, 9),), (2, 6, 9)),
              ("CircularPad1d", (3,), (6, 9)), ("CircularPad2d", ((1, 2, 0, 5),), (2, 6, 5, 4)),
              ("CircularPad2d", (2,), (6, 5, 4)), ("ChannelShuffle", (3,), (2, 6, 5, 4)),
              ("ChannelShuffle", (2,), (2, 6, 9)),
              ("UpsamplingNearest2d", (None, 2), (2, 3, 5, 4)),
              ("UpsamplingNearest2d", ((7, 9),), (2, 3, 5, 4)),
              ("UpsamplingBilinear2d", (None, 2), (2, 3, 5, 4)),
              ("UpsamplingBilinear2d", ((7, 9),), (2, 3, 5, 4)),
              ("AdaptiveMaxPool1d", (4,), (2, 6, 9)), ("AdaptiveMaxPool1d", (5,), (6, 9)),
              ("Dropout1d", (0.0,), (2, 6, 9)), ("Dropout1d", (1.0,), (6, 9))]


@pytest.mark.parametrize("name, args, shape", NEW_LAYERS, ids=str)
def test_added_layers_match(name, args, shape):
    z, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(z) == repr(t)
    check_value_and_grad(z, t, RNG.standard_normal(shape))


def test_added_layers_indices_eval_and_errors():
    x = RNG.standard_normal((2, 6, 9))
    (zy, zi), (ty, ti) = (nn.AdaptiveMaxPool1d(4, return_indices=True)(zeroin.tensor(x)),
                          torch.nn.AdaptiveMaxPool1d(4, return_indices=True)(torch.tensor(x)))
    np.testing.assert_array_equal(zi.numpy(), ti.numpy())
    np.testing.assert_array_equal(zy.numpy(), ty.numpy())
    np.testing.assert_array_equal(nn.Dropout1d(0.7).eval()(zeroin.tensor(x)).numpy(), x)
    drop = nn.Dropout1d(0.5)(zeroin.tensor(x)).numpy()
    kept = (drop != 0).all(-1)                                      # whole channels
    assert ((drop == 0).all(-1) | kept).all()
    np.testing.assert_allclose(drop[kept], 2 * x[kept])
    for call in (lambda m, T: m.Softmax2d()(T.ones(2, 2)),
                 lambda m, T: m.CircularPad1d(3)(T.ones(1, 2, 2)),
                 lambda m, T: m.ChannelShuffle(4)(T.ones(1, 6, 2)),
                 lambda m, T: m.Dropout1d()(T.ones(1, 6, 2, 2)),
                 lambda m, T: m.AdaptiveMaxPool1d(2)(T.ones(1, 6, 2, 2))):
        _both(lambda m: call(m, _lib(m)))


def test_frozen_parameters_stay_registered():
    def names(m):
        T = _lib(m)
        mod = m.Module()
        mod.fixed = m.Parameter(T.ones(2), requires_grad=False)     # e.g. a fixed encoding
        mod.register_parameter("also", m.Parameter(T.ones(1), requires_grad=False))
        lin = m.Linear(2, 2)
        lin.requires_grad_(False)
        lin.weight = lin.weight                                      # reassigned while frozen
        mod.lin = lin
        return ([n for n, _ in mod.named_parameters()], list(mod.state_dict()),
                [p.requires_grad for p in mod.parameters()])
    assert _both(names)[0] == ["fixed", "also", "lin.weight", "lin.bias"]


def test_parameter_repr():
    _both(lambda m: repr(m.Parameter(_lib(m).tensor([1.0, 2.0]))).replace("zeroin", "torch"))


def _buffers(m):
    lib = _lib(m)
    mod = m.Module()
    mod.a = m.Buffer(lib.ones(2, dtype=lib.float64))
    mod.b = m.Buffer(lib.zeros(3, dtype=lib.float64), persistent=False)
    first = (list(mod.state_dict()), sorted(dict(mod.named_buffers())),
             type(mod.a).__name__, tuple(m.Buffer().shape))
    mod.b = m.Buffer(lib.ones(1, dtype=lib.float64))          # now persistent
    mod.a = lib.zeros(4, dtype=lib.float64)                   # stays a buffer
    return first + (list(mod.state_dict()), tuple(mod.a.shape),
                    m.Buffer(lib.ones(2, dtype=lib.float64, requires_grad=True)).requires_grad)


def test_nn_buffer_registers_on_assignment():
    assert _both(_buffers)[0] == ["a"]
    _both(lambda m: setattr(m.Linear(1, 1), "weight", m.Buffer(_lib(m).ones(1, 1))))  # TypeError


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    def run(lib):
        x = lib.ones(2, dtype=lib.float64, requires_grad=True)
        seen = []
        h = x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
        (x * 3).sum().backward()
        (x * 2).sum().backward()
        lib.autograd.grad((x * 4).sum(), x)                  # no .grad written: not called
        h.remove()
        (x * 5).sum().backward()
        return seen, x.grad.tolist()
    assert run(zeroin) == run(torch) == ([[3.0, 3.0], [5.0, 5.0]], [10.0, 10.0])
    for bad in (lambda lib: lib.ones(2).register_post_accumulate_grad_hook(print),
                lambda lib: (lib.ones(2, requires_grad=True) * 2)
                .register_post_accumulate_grad_hook(print)):
        with pytest.raises(RuntimeError):
            bad(torch)
        with pytest.raises(RuntimeError, match="register_post_accumulate_grad_hook"):
            bad(zeroin)
