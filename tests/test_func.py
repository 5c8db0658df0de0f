"""zeroin.func: functional_call, grad, grad_and_value, vmap, vjp, jvp, linearize, jacrev,
jacfwd, hessian and stack_module_state, against torch.func (float64, copied weights),
against finite differences, and their errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.func import functional_call, grad, grad_and_value


def _pair():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                             torch.nn.Tanh(), torch.nn.Linear(4, 2)).double().eval()
    zm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(),
                       nn.Linear(4, 2)).double().eval()
    zm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return torch, tm, zm


def test_functional_call_matches_torch_and_leaves_the_module_untouched():
    torch, tm, zm = _pair()
    rng = np.random.default_rng(0)
    params = {k: rng.standard_normal(tuple(v.shape)) for k, v in tm.named_parameters()}
    bufs = {"1.running_mean": rng.standard_normal(4)}
    x = rng.standard_normal((5, 3))
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    zp = {k: zeroin.tensor(v, requires_grad=True) for k, v in params.items()}
    before = {k: v.data.copy() for k, v in zm.state_dict().items()}
    own = list(zm.parameters())
    yt = torch.func.functional_call(tm, (tp, {k: torch.tensor(v) for k, v in bufs.items()}),
                                    torch.tensor(x))
    yz = functional_call(zm, (zp, {k: zeroin.tensor(v) for k, v in bufs.items()}),
                         zeroin.tensor(x))
    np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-12)
    (yt ** 2).sum().backward()
    (yz ** 2).sum().backward()
    for k in tp:
        np.testing.assert_allclose(zp[k].grad.data, tp[k].grad.numpy(), rtol=0, atol=1e-10)
    assert list(zm.parameters()) == own and all(p.grad is None for p in own)
    for k, v in zm.state_dict().items():
        np.testing.assert_array_equal(v.data, before[k])
    np.testing.assert_allclose(zm(zeroin.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(),
                               rtol=0, atol=1e-12)     # its own weights again


def test_functional_call_strict_tied_weights_and_errors():
    m = nn.Module()
    m.a = nn.Linear(2, 2, bias=False)
    m.b = nn.Linear(2, 2, bias=False)
    m.b.weight = m.a.weight                  # tied
    m.forward = lambda x: m.b(m.a(x))
    w = zeroin.eye(2, dtype=m.a.weight.dtype) * 2
    x = zeroin.ones(1, 2, dtype=w.dtype)
    np.testing.assert_array_equal(functional_call(m, {"a.weight": w}, x).data, [[4.0, 4.0]])
    untied = functional_call(m, {"a.weight": w}, x, tie_weights=False).data
    np.testing.assert_allclose(untied, (x.data @ (2 * np.eye(2))) @ m.a.weight.data.T)
    with pytest.raises(ValueError, match="which are tied. Consider using tie_weights=False"):
        functional_call(m, {"a.weight": w, "b.weight": w * 1}, x)
    with pytest.raises(RuntimeError, match=r"(?s)Unexpected key\(s\): 'c'.*Missing key\(s\)"):
        functional_call(m, {"c": w}, x, strict=True, tie_weights=False)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        functional_call(m, ({"a.weight": w}, {"a.weight": w}), x)
    with pytest.raises(ValueError, match="to be a dict, or a list/tuple of dicts"):
        functional_call(m, w, x)
    with pytest.raises(TypeError, match="'a.weight' is an ndarray, not a tensor"):
        functional_call(m, {"a.weight": np.eye(2)}, x)
    assert m.b.weight is m.a.weight and "weight" in m.a._parameters   # all put back


def test_grad_of_a_functional_call_matches_torch_func():
    torch, tm, zm = _pair()
    rng = np.random.default_rng(1)
    params = {k: rng.standard_normal(tuple(v.shape)) for k, v in tm.named_parameters()}
    x = rng.standard_normal((6, 3))

    def lt(p, x):
        return torch.func.functional_call(tm, p, (x,)).pow(2).mean()

    def lz(p, x):
        return functional_call(zm, p, (x,)).pow(2).mean()

    gt, vt = torch.func.grad_and_value(lt)({k: torch.tensor(v) for k, v in params.items()},
                                          torch.tensor(x))
    gz, vz = grad_and_value(lz)({k: zeroin.tensor(v) for k, v in params.items()},
                                zeroin.tensor(x))
    assert isinstance(gz, dict) and list(gz) == list(gt)
    for k in gt:
        np.testing.assert_allclose(gz[k].data, gt[k].numpy(), rtol=0, atol=1e-12)
        assert not gz[k].requires_grad      # nothing outside needs the graph
    np.testing.assert_allclose(vz.item(), vt.item(), rtol=0, atol=1e-14)


def test_grad_argnums_has_aux_and_nesting_against_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((3, 2))

    def f(a, b):
        return (a.sin() * b).sum(), a.mean()

    gt, aux_t = torch.func.grad(f, argnums=(0, 1), has_aux=True)(torch.tensor(x),
                                                                 torch.tensor(x * 2))
    gz, aux_z = grad(f, argnums=(0, 1), has_aux=True)(zeroin.tensor(x), zeroin.tensor(x * 2))
    assert isinstance(gz, tuple) and len(gz) == 2
    for a, b in zip(gz, gt):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(aux_z.item(), aux_t.item())

    def h(a):
        return (a.sin() * a).sum()

    dt = torch.func.grad(lambda a: torch.func.grad(h)(a).sum())(torch.tensor(x))
    dz = grad(lambda a: grad(h)(a).sum())(zeroin.tensor(x))
    np.testing.assert_allclose(dz.data, dt.numpy(), rtol=0, atol=1e-12)
    t = zeroin.tensor(x, requires_grad=True)
    assert zeroin.gradcheck(lambda a: grad(h)(a), (t,))


def test_grad_keeps_the_graph_of_tensors_from_outside():
    w = zeroin.tensor([1.5, -2.0], requires_grad=True)
    g = grad(lambda a: (a * w).sum())(zeroin.tensor([3.0, 4.0]))
    assert g.requires_grad          # d/da depends on w, which requires grad
    g.sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_nested_transforms_over_other_arguments_free_their_graph_as_torch():
    # PINNs in torch.func style: grad over the parameters of a loss built from per-point
    # derivatives in x (vmap(hessian(u, argnums=1))). The inner transforms' stand-ins for
    # x must not count as tensors from outside, or every result keeps its graph and a
    # training loop `p = p - lr * g` grows a longer graph each step.
    torch = pytest.importorskip("torch")
    def run(lib):
        f = lib.func
        w = lib.tensor([0.7, -1.2], dtype=lib.float64)
        xs = lib.tensor([[0.3], [0.9], [-0.4]], dtype=lib.float64)

        def u(w, x):
            return (w[0] * x.sin() + w[1] * x * x).sum()

        outs = [f.grad(lambda w: f.grad(u, argnums=1)(w, xs[0]).sum())(w),
                f.grad(lambda w: f.vmap(f.grad(u, argnums=1), in_dims=(None, 0))(w, xs).sum())(w),
                f.grad(lambda w: f.vmap(f.hessian(u, argnums=1), in_dims=(None, 0))(w, xs).sum())(w),
                f.jacrev(lambda w: f.grad(u, argnums=1)(w, xs[1]))(w),
                f.grad_and_value(lambda w: f.hessian(u, argnums=1)(w, xs[2]).sum())(w)[0]]
        return outs

    zs, ts = run(zeroin), run(torch)
    for z, t in zip(zs, ts):
        assert not z.requires_grad and z.grad_fn is None     # as torch's
        assert t.requires_grad is False
        np.testing.assert_allclose(z.data, t.numpy(), rtol=1e-12, atol=1e-14)
    # a tensor from outside that requires grad still keeps the graph
    c = zeroin.tensor(2.0, requires_grad=True)
    g = grad(lambda w: grad(lambda w, x: (c * w * x.sin()).sum(), argnums=1)(
        w, zeroin.tensor([0.5])).sum())(zeroin.tensor([1.5]))
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(c.grad.item(), np.cos(0.5))


def test_unused_arguments_and_weights_get_zeros_outside_the_graph_as_torch():
    # grad / jacrev / vjp gave an unused argument zeros that required grad (autograd's
    # materialized zeros under create_graph): a leaf that looked like a tensor from outside,
    # so an LNN's grad over parameters of jacrev(...) (whose bias does not reach the
    # Jacobian) returned a value and gradients still in a graph. PyTorch's are not.
    torch = pytest.importorskip("torch")

    def run(lib):
        f = lib.func
        x, y = lib.ones(2, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        p = {"w": lib.tensor([[0.5, -1.0]], dtype=lib.float64),
             "b": lib.tensor([0.3], dtype=lib.float64)}

        def lagrangian(p, v):       # its constant term b does not reach the Jacobian
            return (v @ p["w"].T).tanh().sum() + p["b"].sum()
        jac = f.jacrev(lagrangian, argnums=1)
        g, val = f.grad_and_value(lambda p: (jac(p, x) ** 2).sum())(p)
        return [g["w"], g["b"], val,
                *f.jacrev(lambda a, b: a * 2, argnums=(0, 1))(x, y),
                *f.grad(lambda a, b: (a * 2).sum(), argnums=(0, 1))(x, y),
                *f.vjp(lambda a, b: a * 2, x, y)[1](lib.ones(2, dtype=lib.float64))]

    for z, t in zip(run(zeroin), run(torch), strict=True):
        assert not z.requires_grad and z.grad_fn is None and not t.requires_grad
        np.testing.assert_allclose(z.data, t.numpy(), rtol=1e-12, atol=1e-14)


def test_grad_errors_say_what_went_wrong():
    x = zeroin.ones(3)
    with pytest.raises(RuntimeError, match="to return a scalar Tensor, got tensor with 1 dims"):
        grad(lambda a: a * 2)(x)
    with pytest.raises(RuntimeError, match="to return a Tensor, got"):
        grad(lambda a: 3.0)(x)
    with pytest.raises(RuntimeError, match="should be a tuple: \\(output, aux\\)"):
        grad(lambda a: a.sum(), has_aux=True)(x)
    with pytest.raises(RuntimeError, match="Got argnum=2, but only 1 positional inputs"):
        grad(lambda a: a.sum(), argnums=2)(x)
    with pytest.raises(RuntimeError, match="argnums elements must be unique"):
        grad(lambda a, b: a.sum(), argnums=(0, 0))(x, x)


def test_functional_call_reaches_layers_that_hold_several_weights():
    torch = pytest.importorskip("torch")
    tm = torch.nn.LSTM(3, 4, batch_first=True).double()
    zm = nn.LSTM(3, 4, batch_first=True).double()
    zm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(3)
    new = {k: rng.standard_normal(tuple(v.shape)) for k, v in tm.named_parameters()}
    x = rng.standard_normal((2, 5, 3))
    yt, _ = torch.func.functional_call(tm, {k: torch.tensor(v) for k, v in new.items()},
                                       (torch.tensor(x),))
    yz, _ = functional_call(zm, {k: zeroin.tensor(v) for k, v in new.items()},
                            (zeroin.tensor(x),))
    np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-12)


def test_functional_call_on_a_parametrized_module_matches_torch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(3, 2).double())
    zm = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2).double())
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(4)
    w, x = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    g, v = rng.standard_normal((2, 1)), rng.standard_normal((2, 3))
    for given in ({"weight": w},            # replaces the parametrized weight, as PyTorch
                  {"parametrizations.weight.original0": g,
                   "parametrizations.weight.original1": v}):
        yt = torch.func.functional_call(tm, {k: torch.tensor(a) for k, a in given.items()},
                                        (torch.tensor(x),))
        yz = functional_call(zm, {k: zeroin.tensor(a) for k, a in given.items()},
                             (zeroin.tensor(x),))
        np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-12)
    assert "_functional_values" not in zm.__dict__
    np.testing.assert_allclose(zm.weight.data, tm.weight.detach().numpy(), rtol=0, atol=1e-12)


# --- vmap, vjp, jvp, linearize, jacrev, jacfwd, hessian, stack_module_state -------------

def _same_tree(z, t, atol=1e-12):
    """zeroin's pytree ``z`` has torch's structure, shapes, dtypes and values ``t``."""
    torch = pytest.importorskip("torch")
    if isinstance(t, torch.Tensor):
        assert isinstance(z, zeroin.Tensor), type(z)
        assert tuple(z.shape) == tuple(t.shape) and str(z.dtype) == str(t.dtype).split(".")[1]
        np.testing.assert_allclose(z.data, t.detach().numpy(), rtol=0, atol=atol)
    elif isinstance(t, dict):
        assert isinstance(z, dict) and list(z) == list(t)
        for k in t:
            _same_tree(z[k], t[k], atol)
    elif isinstance(t, (tuple, list)):
        assert type(z) is type(t) and len(z) == len(t)
        for a, b in zip(z, t):
            _same_tree(a, b, atol)
    else:
        assert z == t


def _both(*shapes, seed=0):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    return torch, [zeroin.tensor(a) for a in arrays], [torch.tensor(a) for a in arrays]


def test_vmap_in_dims_out_dims_and_pytrees_match_torch():
    torch, (zx, zy, zw), (tx, ty, tw) = _both((3, 4), (4, 3), (4,))
    cases = [
        (lambda T: lambda a: a.sin().sum(), {}, "x"),
        (lambda T: lambda a, b: a * b, dict(in_dims=(0, 1)), "xy"),
        (lambda T: lambda a, w: T.matmul(a, w), dict(in_dims=(0, None)), "xw"),
        (lambda T: lambda a: a.exp(), dict(in_dims=1, out_dims=-1), "x"),
        (lambda T: lambda a: (a, a.sum()), dict(out_dims=(1, 0)), "x"),
        (lambda T: lambda d, w: {"u": d["p"] * w, "v": [d["q"].sum()]},
         dict(in_dims=({"p": 0, "q": 1}, None), out_dims={"u": 1, "v": [0]}), "dw"),
        (lambda T: lambda a, n: (a * n, n), dict(in_dims=(0, None), out_dims=(0, None)),
         "xn"),
    ]
    for make, kw, which in cases:
        def args(T, x, y, w):
            pick = {"x": x, "y": y, "w": w, "n": 2.5, "d": {"p": x, "q": y}}
            return [pick[c] for c in which]
        rz = zeroin.func.vmap(make(zeroin), **kw)(*args(zeroin, zx, zy, zw))
        rt = torch.func.vmap(make(torch), **kw)(*args(torch, tx, ty, tw))
        _same_tree(rz, rt)
    assert zeroin.vmap is zeroin.func.vmap
    # nested: a function of two batch dimensions, and keyword arguments are not mapped
    f = lambda a, *, k: a * k          # noqa: E731
    _same_tree(zeroin.vmap(zeroin.vmap(f))(zx, k=3.0), torch.vmap(torch.vmap(f))(tx, k=3.0))


def test_vmap_of_grad_gives_torchs_per_sample_gradients_and_grad_flows_through():
    torch, (zx, zt), (tx, tt) = _both((5, 3), (5,), seed=1)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(),
                             torch.nn.Linear(4, 1)).double()
    zm = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})

    def loss(F, m):             # the torch.func per-sample-gradients tutorial
        def compute(params, x, t):
            y = F.func.functional_call(m, params, (x.unsqueeze(0),))
            return ((y.squeeze() - t) ** 2)
        return compute

    pt = {k: v.detach() for k, v in tm.named_parameters()}
    pz = {k: v.detach() for k, v in zm.named_parameters()}
    gt = torch.func.vmap(torch.func.grad(loss(torch, tm)), in_dims=(None, 0, 0))(pt, tx, tt)
    gz = zeroin.func.vmap(zeroin.func.grad(loss(zeroin, zm)), in_dims=(None, 0, 0))(pz, zx, zt)
    _same_tree(gz, gt)
    assert gz["0.weight"].shape == (5, 4, 3)
    # grad of vmap, and gradients through vmap (select and stack are ops)
    f = lambda a: zeroin.vmap(lambda r: (r.sin() * r).sum())(a).pow(2).sum()   # noqa: E731
    g = lambda a: torch.vmap(lambda r: (r.sin() * r).sum())(a).pow(2).sum()    # noqa: E731
    _same_tree(zeroin.func.grad(f)(zx), torch.func.grad(g)(tx))
    x = zeroin.tensor(zx.data, requires_grad=True)
    assert zeroin.gradcheck(lambda a: zeroin.vmap(lambda r: r.sin() * r.sum())(a), (x,))
    assert zeroin.gradgradcheck(lambda a: zeroin.vmap(lambda r: r.sin() * r.sum())(a), (x,))


def test_vmap_randomness_modes():
    x = zeroin.zeros(4, 3, dtype=zeroin.float64)
    with pytest.raises(RuntimeError, match="called random operation while in randomness "
                                           "error mode"):
        zeroin.vmap(lambda a: a + zeroin.randn(3))(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        zeroin.vmap(lambda a: nn.functional.dropout(a, 0.5))(x)
    zeroin.randn(1)                 # the refusal is gone after the call
    zeroin.manual_seed(0)
    same = zeroin.vmap(lambda a: a + zeroin.randn(3, dtype=a.dtype), randomness="same")(x)
    assert np.all(same.data == same.data[0]) and np.all(same.data[0] != 0)
    after_same = zeroin.randn(2)
    zeroin.manual_seed(0)
    zeroin.randn(3)
    np.testing.assert_array_equal(after_same.data, zeroin.randn(2).data)   # drew one slice's
    diff = zeroin.vmap(lambda a: a + zeroin.randn(3, dtype=a.dtype), randomness="different")(x)
    assert len({tuple(r) for r in diff.data}) == 4
    with pytest.raises(RuntimeError, match="Only allowed values for randomness are 'error', "
                                           "'different', or 'same'. Got x"):
        zeroin.vmap(lambda a: a, randomness="x")
    # the loop allows what torch's batching refuses (documented): .item() per slice
    np.testing.assert_array_equal(zeroin.vmap(lambda a: a * a.sum().item())(x + 1).data,
                                  np.full((4, 3), 3.0))


def test_vmap_errors_are_torchs():
    torch = pytest.importorskip("torch")
    x = np.ones((3, 2))
    cases = [
        (lambda V, T: V(lambda a: a, in_dims=None)(T(x)), "expected `in_dims` to be int or a"),
        (lambda V, T: V(lambda a, b: a, in_dims=(0,))(T(x), T(x)),
         r"in_dims is not compatible with the structure of `inputs`"),
        (lambda V, T: V(lambda a: a, in_dims=2)(T(x)),
         r"Got in_dim=2 for some input, but that input is a Tensor of dimensionality 2 so "
         r"expected in_dim to satisfy -2 <= in_dim < 2."),
        (lambda V, T: V(lambda a, b: a + b, in_dims=(0, 1))(T(x), T(x)),
         r"same size in the mapped dimension, got sizes \[3, 2\]"),
        (lambda V, T: V(lambda a: (a, a), out_dims=(0, 1, 2))(T(x)),
         "out_dims is not compatible with the structure of `outputs`"),
        (lambda V, T: V(lambda a: a.sum(), out_dims=None)(T(x) * T.arange(3.0)[:, None]),
         "can not return a BatchedTensor when out_dim is None"),
        (lambda V, T: V(lambda a: 3)(T(x)), "must only return Tensors, got type <class 'int'>"),
        (lambda V, T: V(lambda a, n: a, in_dims=(0, 0))(T(x), 2.0),
         "We cannot vmap over non-Tensor arguments"),
        (lambda V, T: V(lambda a: a, in_dims=(0.5,))(T(x)), "in_dim must be either an integer"),
        (lambda V, T: V(lambda a: a, out_dims="a")(T(x)), "`out_dims` must be an int, None"),
        (lambda V, T: V(lambda: 1)(), "got no inputs"),
        (lambda V, T: V(lambda a: a, in_dims=(None,))(T(x)), "Expected at least one Tensor"),
        (lambda V, T: V(lambda a: a, chunk_size=0), r"chunk_size should be None or greater "
                                                   r"than 0. \(got 0\)"),
    ]
    for fn, msg in cases:
        for V, T in ((torch.func.vmap, torch), (zeroin.func.vmap, zeroin)):
            with pytest.raises(ValueError, match=msg):
                fn(V, _Lib(T))
    with pytest.raises(IndexError):
        zeroin.vmap(lambda a: a, out_dims=2)(zeroin.ones(3, 2))
    with pytest.raises(ValueError, match="has size 0"):      # torch's gives an empty result
        zeroin.vmap(lambda a: a)(zeroin.ones(0, 2))
    with pytest.raises(RuntimeError, match=r"different shapes \[\(1,\), \(2,\)\]"):
        zeroin.vmap(lambda a: a[: int(a.sum().item())])(zeroin.tensor([[1.0, 0.0], [1.0, 1.0]]))


class _Lib:
    """A library ``T`` with ``T(x)``: ``x`` as its float64 tensor."""

    def __init__(self, T):
        self.T = T

    def __getattr__(self, name):
        return getattr(self.T, name)

    def __call__(self, a):
        return self.T.tensor(np.asarray(a, dtype=np.float64))


_TORCH_JIT = "ignore:`torch.jit.script` is deprecated:DeprecationWarning"  # torch's jacfwd


@pytest.mark.filterwarnings(_TORCH_JIT)
def test_jacrev_jacfwd_hessian_match_torch_with_argnums_has_aux_and_pytrees():
    torch, (zx, zy), (tx, ty) = _both((3,), (2, 2), seed=2)

    def f(T):
        return lambda a, b: (a.sin() * b.sum(), (a[:2] * b.exp()).sum(-1))

    def aux(T):
        return lambda a: (a.sin(), {"m": a.mean()})

    def tree(T):
        return lambda d: {"o": d["a"].cos() * d["b"][0].sum()}

    for Z, TT in ((zeroin.func.jacrev, torch.func.jacrev), (zeroin.func.jacfwd,
                                                              torch.func.jacfwd)):
        _same_tree(Z(f(zeroin), argnums=(0, 1))(zx, zy), TT(f(torch), argnums=(0, 1))(tx, ty))
        # torch 2.13's jacfwd gives zeros for a negative argnums (its bug): compare with 1
        _same_tree(Z(f(zeroin), argnums=-1)(zx, zy), TT(f(torch), argnums=1)(tx, ty))
        _same_tree(Z(aux(zeroin), has_aux=True)(zx), TT(aux(torch), has_aux=True)(tx))
        _same_tree(Z(tree(zeroin))({"a": zx, "b": [zy]}), TT(tree(torch))({"a": tx, "b": [ty]}))
    h = lambda T: lambda a, b: (a.sin() * b.sum() * a).sum()   # noqa: E731
    _same_tree(zeroin.func.hessian(h(zeroin), argnums=(0, 1))(zx, zy),
               torch.func.hessian(h(torch), argnums=(0, 1))(tx, ty))
    _same_tree(zeroin.func.jacrev(zeroin.func.jacrev(h(zeroin)))(zx, zy),
               torch.func.jacrev(torch.func.jacrev(h(torch)))(tx, ty))
    j = zeroin.func.jacrev(lambda a: a.sin())(zx)
    assert not j.requires_grad
    x = zeroin.tensor(zx.data, requires_grad=True)
    assert zeroin.gradcheck(lambda a: zeroin.func.jacrev(lambda u: u.sin() * u.sum())(a), (x,))
    assert zeroin.gradcheck(lambda a: zeroin.func.hessian(lambda u: (u.sin() * u).sum())(a),
                            (x,))


def test_jacobian_transforms_errors():
    x = zeroin.ones(3, dtype=zeroin.float64)
    with pytest.raises(RuntimeError, match="Got argnum=1, but only 1 positional inputs"):
        zeroin.func.jacrev(lambda a: a, argnums=1)(x)
    with pytest.raises(RuntimeError, match="argnums elements must be unique"):
        zeroin.func.jacfwd(lambda a: a, argnums=(0, 0))(x)
    with pytest.raises(RuntimeError, match="to return only tensors, got unsupported type"):
        zeroin.func.jacrev(lambda a: 3)(x)
    with pytest.raises(RuntimeError, match=r"should be a tuple: \(output, aux\)"):
        zeroin.func.jacrev(lambda a: a, has_aux=True)(x)
    with pytest.raises(ValueError, match="`chunk_size` should be greater than 0"):
        zeroin.func.jacrev(lambda a: a, chunk_size=0)
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        zeroin.func.jacfwd(lambda a: a, randomness="foo")
    with pytest.raises(RuntimeError, match="randomness error mode"):
        zeroin.func.jacfwd(lambda a: a * zeroin.rand(3))(x)
    assert zeroin.func.jacfwd(lambda a: a * zeroin.rand(3), randomness="same")(x).shape == (3, 3)
    with pytest.raises(RuntimeError, match="only floating point tensors"):
        zeroin.func.jacrev(lambda a: a)(zeroin.tensor([1, 2]))


@pytest.mark.filterwarnings(_TORCH_JIT)
@pytest.mark.filterwarnings("ignore:Attempted to insert a get_attr Node")    # torch's linearize
def test_vjp_jvp_linearize_match_torch():
    torch, (zx, zy, zv, zu), (tx, ty, tv, tu) = _both((3,), (2,), (3,), (3,), seed=3)

    def f(T):
        return lambda a, b: (a.sin() * b.sum(), {"s": (a * a).sum() * b})

    out_z, fn_z = zeroin.func.vjp(f(zeroin), zx, zy)
    out_t, fn_t = torch.func.vjp(f(torch), tx, ty)
    _same_tree(out_z, out_t)
    assert not out_z[0].requires_grad
    cz, ct = (zv, {"s": zy * 2}), (tv, {"s": ty * 2})
    _same_tree(fn_z(cz), fn_t(ct))
    _same_tree(fn_z(cz), fn_t(ct))                  # again: the graph is kept
    out_z, fn_z, aux_z = zeroin.func.vjp(lambda a: (a.exp(), a.sum()), zx, has_aux=True)
    np.testing.assert_allclose(fn_z(zv)[0].data, (tv * tx.exp()).numpy(), rtol=0, atol=1e-12)
    assert aux_z.item() == pytest.approx(tx.sum().item())

    g = lambda T: lambda a, b: (a.sin() * b[0], a.sum() * b)    # noqa: E731
    _same_tree(zeroin.func.jvp(g(zeroin), (zx, zy), (zu, zy * 3)),
               torch.func.jvp(g(torch), (tx, ty), (tu, ty * 3)))
    _same_tree(zeroin.func.jvp(lambda a: (a.exp(), a.max()), (zx,), (zu,), has_aux=True),
               torch.func.jvp(lambda a: (a.exp(), a.max()), (tx,), (tu,), has_aux=True))
    _same_tree(zeroin.func.jvp(lambda d: d["k"].sin(), ({"k": zx},), ({"k": zu},)),
               torch.func.jvp(lambda d: d["k"].sin(), ({"k": tx},), ({"k": tu},)))
    out_z, jf_z = zeroin.func.linearize(g(zeroin), zx, zy)
    out_t, jf_t = torch.func.linearize(g(torch), tx, ty)
    _same_tree(out_z, out_t)
    _same_tree(jf_z(zu, zy), jf_t(tu, ty))
    _same_tree(jf_z(zx, zy * 0), jf_t(tx, ty * 0))
    # the jvp is differentiable: grad of a jvp against finite differences
    x = zeroin.tensor(zx.data, requires_grad=True)
    assert zeroin.gradcheck(lambda a: zeroin.func.jvp(lambda u: u.sin() * u, (a,), (zu,))[1],
                            (x,))


def test_vjp_jvp_linearize_errors():
    x = zeroin.ones(3, dtype=zeroin.float64)
    _, fn = zeroin.func.vjp(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="Expected pytree structure of cotangents to be the "
                                           "same as pytree structure of outputs"):
        fn((x,))
    with pytest.raises(RuntimeError, match=r"Mismatch in shape: grad_output\[0\] has a shape "
                                           r"of \(2,\)"):
        fn(zeroin.ones(2))
    with pytest.raises(RuntimeError, match="vjp.*should be a tuple: \\(output, aux\\)"):
        zeroin.func.vjp(lambda a: a, x, has_aux=True)
    with pytest.raises(RuntimeError, match="Expected primals to be a tuple"):
        zeroin.func.jvp(lambda a: a, x, x)
    with pytest.raises(RuntimeError, match="Expected primals and tangents to have the same "
                                           "python structure"):
        zeroin.func.jvp(lambda a: a, (x,), [x])
    with pytest.raises(RuntimeError, match=r"different size .* Tensor is of size \[3\] while "
                                           r"the given forward gradient is of size \[2\]"):
        zeroin.func.jvp(lambda a: a, (x,), (zeroin.ones(2),))
    with pytest.raises(RuntimeError, match="expected f\\(\\*primals\\) to return only tensors"):
        zeroin.func.jvp(lambda a: 3, (x,), (x,))
    with pytest.raises(RuntimeError, match="strict=True.*independent of the inputs"):
        zeroin.func.jvp(lambda a: zeroin.ones(2), (x,), (x,), strict=True)
    np.testing.assert_array_equal(zeroin.func.jvp(lambda a: zeroin.ones(2), (x,), (x,))[1].data,
                                  [0.0, 0.0])
    _, jf = zeroin.func.linearize(lambda a: a * 2, x)
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        jf(x, x)
    with pytest.raises(RuntimeError, match="tangent:0 with shape \\(2,\\) in flattened pytree "
                                           "doesn't match the shape"):
        jf(zeroin.ones(2))


def test_stack_module_state_ensembles_like_torch():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tms = [torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).double()
           for _ in range(3)]
    zms = [nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).double() for _ in range(3)]
    for zm, tm in zip(zms, tms):
        zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
        zm.eval(), tm.eval()
    pz, bz = zeroin.func.stack_module_state(zms)
    pt, bt = torch.func.stack_module_state(tms)
    _same_tree((pz, bz), (pt, bt))
    assert all(p.requires_grad and p.grad_fn is None for p in pz.values())
    assert not any(b.requires_grad for b in bz.values())
    x = np.random.default_rng(4).standard_normal((5, 3))

    def ens(F, m):
        return lambda p, b, x: F.func.functional_call(m, (p, b), (x,))

    yz = zeroin.vmap(ens(zeroin, zms[0]), in_dims=(0, 0, None))(pz, bz, zeroin.tensor(x))
    yt = torch.vmap(ens(torch, tms[0]), in_dims=(0, 0, None))(pt, bt, torch.tensor(x))
    _same_tree(yz, yt)
    yz.sum().backward()
    yt.sum().backward()
    for k in pt:
        np.testing.assert_allclose(pz[k].grad.data, pt[k].grad.numpy(), rtol=0, atol=1e-12)
    with pytest.raises(RuntimeError, match="Expected at least one model, got 0"):
        zeroin.func.stack_module_state([])
    with pytest.raises(RuntimeError, match="same training/eval mode"):
        zeroin.func.stack_module_state([nn.Linear(2, 2), nn.Linear(2, 2).eval()])
    with pytest.raises(RuntimeError, match="same class"):
        zeroin.func.stack_module_state([nn.Linear(2, 2), nn.Tanh()])
    frozen = nn.Linear(2, 2)
    frozen.weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="Expected weight from each model to have the same "
                                           ".requires_grad"):
        zeroin.func.stack_module_state([nn.Linear(2, 2), frozen])


def test_grad_has_aux_returns_aux_outside_the_graph_as_torch():
    def f(T):
        def g(x):
            y = x.sin()
            return y.sum(), {"y": y, "c": y.cos()}
        return g
    torch = pytest.importorskip("torch")
    x0 = np.array([0.3, -1.2])
    for T in (torch, zeroin):
        x = T.tensor(x0)
        g, aux = T.func.grad(f(T), has_aux=True)(x)
        assert not aux["y"].requires_grad and not aux["c"].requires_grad
        np.testing.assert_allclose(aux["y"].detach().numpy(), np.sin(x0))
        _, (v, aux2) = T.func.grad_and_value(f(T), has_aux=True)(x)
        assert not aux2["y"].requires_grad and not v.requires_grad
    # depending on a tensor outside (that requires grad), aux stays in its graph, as torch's
    w = zeroin.tensor([2.0, 3.0], requires_grad=True)
    _, aux = zeroin.func.grad(lambda x: ((x * w).sum(), x * w), has_aux=True)(zeroin.tensor(x0))
    assert aux.requires_grad
    aux.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), x0)


def test_replace_all_batch_norm_modules_uses_batch_statistics_as_pytorch():
    # torch.func's patch before vmap over a model with BatchNorm
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((5, 3, 2, 2))
    out = []
    for lib in (zeroin, torch):
        m = lib.nn.Sequential(lib.nn.BatchNorm2d(3), lib.nn.Conv2d(3, 2, 1),
                              lib.nn.BatchNorm2d(2, affine=False)).double()
        m[1].weight.data.fill_(0.5)
        m[1].bias.data.fill_(0.1)
        assert lib.func.replace_all_batch_norm_modules_(m) is m
        assert m[0].running_mean is None and m[2].running_var is None
        assert m[0].num_batches_tracked is None and not m[2].track_running_stats
        xt = lib.tensor(x, requires_grad=True)
        y = m.eval()(xt)                     # batch statistics even in evaluation
        (y * y).sum().backward()
        out.append((list(m.state_dict()), repr(m), y.detach().numpy(), xt.grad.numpy()))
    assert out[0][:2] == out[1][:2]
    np.testing.assert_allclose(out[0][2], out[1][2], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[0][3], out[1][3], rtol=1e-8, atol=1e-10)
