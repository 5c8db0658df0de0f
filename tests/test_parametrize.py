"""zeroin.nn.utils.parametrize, parametrizations.weight_norm / spectral_norm and the older
nn.utils.weight_norm, against PyTorch with copied weights and against finite differences."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn.utils import parametrizations as P
from zeroin.nn.utils import parametrize


def _sd(m):
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _copy(torch_module, z_module):
    z_module.load_state_dict(_sd(torch_module))


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).T

    def right_inverse(self, a):
        return a.triu()


def test_register_parametrization_makes_a_property_and_trains_the_original():
    m = nn.Linear(4, 4).double()
    w0 = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    np.testing.assert_array_equal(m.weight.data, m.weight.data.T)
    np.testing.assert_array_equal(m.parametrizations.weight.original.data, np.triu(w0))
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    m(zeroin.ones(2, 4, dtype=zeroin.float64)).sum().backward()
    assert m.parametrizations.weight.original.grad is not None
    a = np.random.default_rng(0).standard_normal((4, 4))
    a = a + a.T
    m.weight = zeroin.tensor(a)           # through right_inverse
    np.testing.assert_allclose(m.weight.data, a)
    assert "weight" not in m._parameters
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    assert list(m.state_dict()) == ["bias", "weight"]       # re-registered last, as PyTorch
    np.testing.assert_allclose(m.weight.data, a)


def test_cached_computes_once_and_other_instances_keep_their_class():
    calls = []

    class Count(nn.Module):
        def forward(self, x):
            calls.append(1)
            return x * 2

    m = nn.Linear(2, 2)
    other = nn.Linear(2, 2)
    parametrize.register_parametrization(m, "weight", Count())
    calls.clear()
    with parametrize.cached():
        assert m.weight is m.weight
    assert len(calls) == 1
    m.weight, m.weight
    assert len(calls) == 3
    assert type(other) is nn.Linear and "weight" in other._parameters


def test_register_parametrization_errors_name_the_problem():
    m = nn.Linear(2, 3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(m, "nope", Symmetric())

    class Shrink(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ValueError, match="may not change the shape"):
        parametrize.register_parametrization(m, "weight", Shrink())
    with pytest.raises(ValueError, match="does not have a parametrization on bias"):
        parametrize.remove_parametrizations(m, "bias")


@pytest.mark.parametrize("dim", [0, 1, None, -2])
def test_weight_norm_matches_torch(dim):
    torch = pytest.importorskip("torch")
    tl = torch.nn.Conv1d(3, 4, 2).double()
    zl = nn.Conv1d(3, 4, 2).double()
    _copy(tl, zl)
    torch.nn.utils.parametrizations.weight_norm(tl, dim=dim)
    P.weight_norm(zl, dim=dim)
    assert list(zl.state_dict()) == list(tl.state_dict())
    for k, v in tl.state_dict().items():
        np.testing.assert_allclose(zl.state_dict()[k].data, v.numpy(), rtol=0, atol=1e-12)
    x = np.random.default_rng(1).standard_normal((2, 3, 5))
    yt, yz = tl(torch.tensor(x)), zl(zeroin.tensor(x))
    np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-10)
    (yt ** 2).sum().backward()
    (yz ** 2).sum().backward()
    tp, zp = dict(tl.named_parameters()), dict(zl.named_parameters())
    assert list(tp) == list(zp)
    for k in tp:
        np.testing.assert_allclose(zp[k].grad.data, tp[k].grad.numpy(), rtol=0, atol=1e-10)
    assert repr(zl) == repr(tl).replace("torch.", "")


def test_weight_norm_gradcheck():
    rng = np.random.default_rng(2)
    g = zeroin.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    v = zeroin.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    wn = P._WeightNorm(0)
    assert zeroin.gradcheck(lambda a, b: wn(a, b), (g, v))


def test_weight_norm_loads_the_older_keys_and_legacy_weight_norm_matches_torch():
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        tl = torch.nn.utils.weight_norm(torch.nn.Linear(3, 2).double())
    with pytest.warns(FutureWarning, match="deprecated"):
        zl = nn.utils.weight_norm(nn.Linear(3, 2).double())
    assert list(zl.state_dict()) == list(tl.state_dict()) == ["bias", "weight_g", "weight_v"]
    zl.load_state_dict(_sd(tl))
    x = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_allclose(zl(zeroin.tensor(x)).data,
                               tl(torch.tensor(x)).detach().numpy(), rtol=0, atol=1e-12)
    new = P.weight_norm(nn.Linear(3, 2).double())
    new.load_state_dict(_sd(tl))            # weight_g / weight_v renamed, as PyTorch
    np.testing.assert_allclose(new(zeroin.tensor(x)).data,
                               tl(torch.tensor(x)).detach().numpy(), rtol=0, atol=1e-12)
    nn.utils.remove_weight_norm(zl)
    assert set(zl.state_dict()) == {"weight", "bias"}
    assert isinstance(zl.weight, nn.Parameter)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        nn.utils.remove_weight_norm(zl)


@pytest.mark.parametrize("layer", ["linear", "conv", "convT"])
def test_spectral_norm_matches_torch_in_training_and_eval(layer):
    torch = pytest.importorskip("torch")
    make = {"linear": lambda M: M.Linear(4, 3), "conv": lambda M: M.Conv2d(2, 3, 2),
            "convT": lambda M: M.ConvTranspose2d(2, 3, 2)}[layer]
    tl, zl = make(torch.nn).double(), make(nn).double()
    _copy(tl, zl)
    torch.nn.utils.parametrizations.spectral_norm(tl)
    P.spectral_norm(zl)
    assert list(zl.state_dict()) == list(tl.state_dict())
    zl.load_state_dict(_sd(tl))          # the same u, v (the random start differs)
    x = np.random.default_rng(4).standard_normal((2, 4) if layer == "linear" else
                                                 (2, 2, 4, 4))
    _same_as_torch_in_modes(torch, tl, zl, x, (True, True, False, False))


def test_spectral_norm_bounds_the_largest_singular_value_and_checks_arguments():
    zeroin.manual_seed(0)
    m = P.spectral_norm(nn.Linear(6, 5).double(), n_power_iterations=30)
    s = np.linalg.svd(m.weight.data, compute_uv=False)
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="n_power_iterations"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="out of range"):
        P.spectral_norm(nn.Linear(2, 2), dim=3)
    with pytest.raises(ValueError, match="no parameter or buffer with name 'w'"):
        P.spectral_norm(nn.Linear(2, 2), name="w")
    with pytest.raises(IndexError, match="weight_norm: dim 5"):
        P.weight_norm(nn.Linear(2, 2), dim=5)


@pytest.mark.parametrize("layer", ["linear", "conv", "convT", "bias"])
def test_legacy_spectral_norm_matches_torch_in_training_and_eval(layer):
    # SN-GAN code: nn.utils.spectral_norm(nn.Conv2d(...)), the forward pre-hook form
    torch = pytest.importorskip("torch")
    make = {"linear": lambda M: M.Linear(4, 3), "conv": lambda M: M.Conv2d(2, 3, 2),
            "convT": lambda M: M.ConvTranspose2d(2, 3, 2), "bias": lambda M: M.Linear(4, 3)}
    name = "bias" if layer == "bias" else "weight"
    tl, zl = make[layer](torch.nn).double(), make[layer](nn).double()
    _copy(tl, zl)
    tl, zl = torch.nn.utils.spectral_norm(tl, name), nn.utils.spectral_norm(zl, name)
    assert list(zl.state_dict()) == list(tl.state_dict())
    assert [n for n, _ in zl.named_parameters()] == [n for n, _ in tl.named_parameters()]
    zl.load_state_dict(_sd(tl))          # the same u, v (the random start differs)
    np.testing.assert_array_equal(getattr(zl, name).data, getattr(tl, name).numpy())
    x = np.random.default_rng(4).standard_normal((2, 4) if layer in ("linear", "bias") else
                                                 (2, 2, 4, 4))
    _same_as_torch_in_modes(torch, tl, zl, x, (True, True, False, True))
    torch.nn.utils.remove_spectral_norm(tl, name)
    nn.utils.remove_spectral_norm(zl, name)
    assert list(zl.state_dict()) == list(tl.state_dict())
    assert isinstance(getattr(zl, name), nn.Parameter)
    np.testing.assert_allclose(getattr(zl, name).data, getattr(tl, name).detach().numpy(),
                               rtol=0, atol=1e-12)


def test_legacy_spectral_norm_gradcheck_bound_and_errors():
    zeroin.manual_seed(0)
    m = nn.utils.spectral_norm(nn.Linear(6, 5).double(), n_power_iterations=30)
    w = m.weight_orig
    m(zeroin.zeros(1, 6))
    np.testing.assert_allclose(np.linalg.svd(m.weight.data, compute_uv=False)[0], 1.0,
                               rtol=1e-6)
    m.eval()                              # u, v fixed: W / sigma(W) is a smooth function of W
    assert zeroin.gradcheck(lambda x: m(x), (zeroin.randn(2, 6, requires_grad=True),))
    x = zeroin.randn(2, 6)
    from zeroin.func import functional_call
    y = functional_call(m, {"weight_orig": w * 2}, (x,))
    np.testing.assert_allclose(y.data, m(x).data, atol=1e-12)    # scale-free: W/sigma(W)
    assert not np.allclose(functional_call(m, {"weight_orig": zeroin.randn(5, 6)}, (x,)).data,
                           m(x).data)                            # the weight is read
    assert zeroin.gradcheck(lambda v: functional_call(m, {"weight_orig": v}, (x,)),
                            (zeroin.randn(5, 6, requires_grad=True),))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(KeyError, match="Linear has no parameter 'w'"):
        nn.utils.spectral_norm(nn.Linear(2, 2), name="w")
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(nn.Linear(2, 2))


def test_spectral_norm_gradcheck_in_eval():
    m = P.spectral_norm(nn.Linear(3, 4).double()).eval()
    sn = m.parametrizations.weight[0]
    w = zeroin.tensor(np.random.default_rng(5).standard_normal((4, 3)), requires_grad=True)
    assert zeroin.gradcheck(lambda t: sn(t), (w,))


def test_parametrized_module_copies_converts_and_saves(tmp_path):
    import copy
    m = P.weight_norm(nn.Linear(3, 2).double())
    c = copy.deepcopy(m)
    assert c.parametrizations.weight.original1 is not m.parametrizations.weight.original1
    np.testing.assert_array_equal(c.weight.data, m.weight.data)
    m.float()
    assert m.weight.dtype == np.float32 and m.parametrizations.weight.original0.dtype == \
        np.float32
    path = tmp_path / "wn.npz"
    zeroin.save(m.state_dict(), path)
    fresh = P.weight_norm(nn.Linear(3, 2).float())
    fresh.load_state_dict(zeroin.load(path))
    np.testing.assert_array_equal(fresh.weight.data, m.weight.data)


def test_gradcheck_of_a_weight_normed_layer_with_respect_to_g_and_v():
    m = P.weight_norm(nn.Linear(3, 2).double(), dim=None)
    g, v = m.parametrizations.weight.original0, m.parametrizations.weight.original1
    assert g.shape == ()                        # dim=None: one norm for the whole tensor
    x = zeroin.tensor(np.random.default_rng(6).standard_normal((4, 3)))

    def f(g_, v_):
        return zeroin.func.functional_call(m, {"parametrizations.weight.original0": g_,
                                               "parametrizations.weight.original1": v_}, x)

    assert zeroin.gradcheck(f, (g.detach().requires_grad_(), v.detach().requires_grad_()))


def test_transfer_parametrizations_and_params_shares_them_as_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    w, x = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    out = []
    for lib in (torch, zeroin):
        P_ = lib.nn.utils.parametrize
        src = lib.nn.Linear(3, 3).double()
        with lib.no_grad():
            src.weight.copy_(lib.tensor(w))
            src.bias.copy_(lib.tensor([0.5, -1.0, 2.0]))
        sym = _sym_module(lib)()
        P_.register_parametrization(src, "weight", sym)
        lib.nn.utils.parametrizations.weight_norm(src, "bias", dim=0)    # original0, original1
        dst = P_.transfer_parametrizations_and_params(src, lib.nn.Linear(3, 3).double())
        assert type(dst).__name__ == "ParametrizedLinear" and P_.is_parametrized(dst, "bias")
        assert dst.parametrizations.weight.original is src.parametrizations.weight.original
        assert dst.parametrizations.bias.original1 is src.parametrizations.bias.original1
        assert dst.parametrizations.weight[0] is sym
        (dst(lib.tensor(x)) ** 2).sum().backward()          # gradients reach the shared ones
        g = src.parametrizations.weight.original.grad.numpy().copy()
        only = P_.transfer_parametrizations_and_params(src, lib.nn.Linear(3, 3).double(),
                                                       "weight")
        assert P_.is_parametrized(only, "weight") and not P_.is_parametrized(only, "bias")
        plain = lib.nn.Linear(3, 3)
        assert P_.transfer_parametrizations_and_params(plain, lib.nn.Linear(3, 3)) is not None
        out.append((dst.weight.detach().numpy(), dst.bias.detach().numpy(), g))
        with pytest.raises(AttributeError):
            P_.transfer_parametrizations_and_params(src, lib.nn.Linear(3, 3), "nope")
        with pytest.raises(KeyError):           # to_module has it, from_module's is plain
            P_.transfer_parametrizations_and_params(src, lib.nn.Linear(3, 3), "in_features")
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=1e-12)


def _sym_module(lib):
    class Sym(lib.nn.Module):
        def forward(self, x):
            return x.triu() + x.triu(1).T

    return Sym


def _same_as_torch_in_modes(torch, tl, zl, x, modes):
    """torch's layer ``tl`` and zeroin's ``zl`` called on ``x`` in each train/eval mode of
    ``modes`` give the same outputs and state (the power iteration's u, v), then the same
    gradients of the last output's squares."""
    for mode in modes:
        tl.train(mode)
        zl.train(mode)
        yt, yz = tl(torch.tensor(x)), zl(zeroin.tensor(x))
        np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-10)
        for k, v in tl.state_dict().items():
            np.testing.assert_allclose(zl.state_dict()[k].data, v.numpy(), rtol=0, atol=1e-12)
    (yt ** 2).sum().backward()
    (yz ** 2).sum().backward()
    for (k, p), (k2, q) in zip(tl.named_parameters(), zl.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(q.grad.data, p.grad.numpy(), rtol=0, atol=1e-10)
