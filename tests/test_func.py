"""zeroin.func: functional_call, grad and grad_and_value, against torch.func with copied
weights, against finite differences, and their errors."""
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
    with pytest.raises(TypeError, match="'a.weight' is a ndarray, not a tensor"):
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
    with pytest.raises(NotImplementedError, match="no batching transform"):
        zeroin.func.vmap(lambda a: a)


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
