"""zeroin.nn.utils.fusion (BatchNorm folded into conv / linear), nn.utils.stateless,
zeroin.utils.hooks.RemovableHandle and zeroin.version, against PyTorch."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn.utils import fusion

torch = pytest.importorskip("torch")


def _copy_params(z, t):
    """Random values into torch's module, the same into zeroin's (params and buffers)."""
    rng = np.random.default_rng(0)
    tsd = t.state_dict()
    new = {}
    for k, v in tsd.items():
        if v.dtype.is_floating_point:
            a = rng.standard_normal(tuple(v.shape))
            if "running_var" in k:
                a = np.abs(a) + 0.5
            new[k] = torch.tensor(a, dtype=v.dtype)
        else:
            new[k] = v
    t.load_state_dict(new)
    z.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in new.items()})


@pytest.mark.parametrize("kind, transpose, bias", [
    ("Conv2d", False, True), ("Conv2d", False, False), ("Conv1d", False, True),
    ("ConvTranspose2d", True, True), ("ConvTranspose1d", True, False)])
def test_fuse_conv_bn_eval_matches_torch_and_unfused(kind, transpose, bias):
    bn_kind = "BatchNorm1d" if kind.endswith("1d") else "BatchNorm2d"
    z = nn.Sequential(getattr(nn, kind)(3, 4, 3, bias=bias), getattr(nn, bn_kind)(4))
    t = torch.nn.Sequential(getattr(torch.nn, kind)(3, 4, 3, bias=bias),
                            getattr(torch.nn, bn_kind)(4))
    z.double().eval()
    t.double().eval()
    _copy_params(z, t)
    fz = fusion.fuse_conv_bn_eval(z[0], z[1], transpose=transpose)
    ft = torch.nn.utils.fuse_conv_bn_eval(t[0], t[1], transpose=transpose)
    assert type(fz) is type(z[0]) and fz is not z[0]
    assert isinstance(fz.weight, nn.Parameter) and isinstance(fz.bias, nn.Parameter)
    assert fz.bias.requires_grad == ft.bias.requires_grad
    np.testing.assert_allclose(fz.weight.detach().numpy(), ft.weight.detach().numpy(),
                               rtol=1e-13)
    np.testing.assert_allclose(fz.bias.detach().numpy(), ft.bias.detach().numpy(),
                               rtol=1e-13, atol=1e-15)
    shape = (2, 3, 6) if kind.endswith("1d") else (2, 3, 6, 6)
    x = zeroin.tensor(np.random.default_rng(1).standard_normal(shape))
    np.testing.assert_allclose(fz(x).detach().numpy(), z(x).detach().numpy(), rtol=1e-10,
                               atol=1e-12)
    if not bias:
        assert z[0].bias is None    # the original is untouched


@pytest.mark.parametrize("features", [4, 1])
def test_fuse_linear_bn_eval_matches_torch(features):
    z = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(features)).double().eval()
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(features))
    t.double().eval()
    _copy_params(z, t)
    fz = fusion.fuse_linear_bn_eval(z[0], z[1])
    ft = torch.nn.utils.fuse_linear_bn_eval(t[0], t[1])
    np.testing.assert_allclose(fz.weight.detach().numpy(), ft.weight.detach().numpy(),
                               rtol=1e-13)
    np.testing.assert_allclose(fz.bias.detach().numpy(), ft.bias.detach().numpy(),
                               rtol=1e-13)
    assert nn.utils.fuse_linear_bn_eval is fusion.fuse_linear_bn_eval


def test_fusion_errors_match_torch():
    lin, bn = nn.Linear(3, 4), nn.BatchNorm1d(4)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fusion.fuse_linear_bn_eval(lin, bn)
    with pytest.raises(AssertionError, match="Fusion only for eval!"):
        fusion.fuse_conv_bn_eval(nn.Conv2d(1, 4, 1), nn.BatchNorm2d(4).eval())
    with pytest.raises(AssertionError, match="linear.out_features=4 and bn.num_features=3"):
        fusion.fuse_linear_bn_eval(lin.eval(), nn.BatchNorm1d(3).eval())


def test_fuse_weights_dtypes_and_missing_parts():
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 2, 3)).astype(np.float32)
    rm, rv = rng.standard_normal(4), np.abs(rng.standard_normal(4)) + 0.1
    fw, fb = fusion.fuse_conv_bn_weights(zeroin.tensor(w, requires_grad=True), None,
                                         zeroin.tensor(rm), zeroin.tensor(rv), 1e-3,
                                         None, None)
    tw, tb = torch.nn.utils.fuse_conv_bn_weights(torch.tensor(w, requires_grad=True), None,
                                                 torch.tensor(rm), torch.tensor(rv), 1e-3,
                                                 None, None)
    assert fw.dtype == np.float32 and fb.dtype == np.float32
    assert (fw.requires_grad, fb.requires_grad) == (tw.requires_grad, tb.requires_grad)
    np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(fb.detach().numpy(), tb.detach().numpy(), rtol=1e-6)


def test_stateless_functional_call_warns_and_calls():
    m = nn.Linear(2, 1).double()
    w = zeroin.ones(1, 2, dtype=zeroin.float64, requires_grad=True)
    with pytest.warns(FutureWarning, match="torch.func.functional_call"):
        y = nn.utils.stateless.functional_call(
            m, {"weight": w}, (zeroin.ones(3, 2, dtype=zeroin.float64),))
    np.testing.assert_allclose(y.detach().numpy(), np.full((3, 1), 2 + m.bias.item()))
    y.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [[3.0, 3.0]])
    tm = torch.nn.Linear(2, 1)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        torch.nn.utils.stateless.functional_call(tm, {"weight": torch.ones(1, 2)},
                                                 (torch.ones(3, 2),))
    assert rec and rec[0].category is FutureWarning


def test_removable_handle_is_the_class_every_hook_returns():
    from zeroin.utils.hooks import RemovableHandle
    m = nn.Linear(2, 2)
    handles = [m.register_forward_pre_hook(lambda *a: None),
               m.register_forward_hook(lambda *a: None),
               m.register_full_backward_hook(lambda *a: None),
               m.register_full_backward_pre_hook(lambda *a: None),
               zeroin.ones(2, requires_grad=True).register_hook(lambda g: g)]
    assert all(isinstance(h, RemovableHandle) for h in handles)
    calls = []
    x = zeroin.ones(2, requires_grad=True)
    with x.register_hook(lambda g: calls.append(1)):
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    assert calls == [1]
    assert zeroin.utils.hooks.RemovableHandle is RemovableHandle


def test_version_module():
    assert zeroin.version.__version__ == zeroin.__version__
    for name in ("cuda", "hip", "rocm", "xpu"):
        assert getattr(zeroin.version, name) is None
        assert getattr(torch.version, name) is None     # PyTorch's CPU build says the same
    assert zeroin.version.debug is False and torch.version.debug is False
    assert isinstance(zeroin.version.git_version, str)
    assert sorted(zeroin.version.__all__) == sorted(torch.version.__all__)
