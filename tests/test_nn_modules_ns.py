"""zeroin.nn.modules and zeroin.nn.parameter: PyTorch's import paths, the private bases
torch code subclasses (_Loss, _WeightedLoss, _ConvNd, _NormBase, _BatchNorm, _DropoutNd)
and the helpers in nn.modules.utils, each compared with torch."""
import importlib

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn import functional as F
from zeroin.nn.modules import _SUBMODULES

_ALL = [n for names in _SUBMODULES.values() for n in names.split()]


def _cls(pkg, name):
    sub = next(s for s, names in _SUBMODULES.items() if name in names.split())
    return getattr(importlib.import_module(f"{pkg.__name__}.modules.{sub}"), name)


@pytest.mark.parametrize("sub", sorted(_SUBMODULES))
def test_submodule_holds_torchs_names_as_zeroins_classes(sub):
    torch = pytest.importorskip("torch")
    ours = importlib.import_module(f"zeroin.nn.modules.{sub}")
    theirs = getattr(torch.nn.modules, sub)
    for name in _SUBMODULES[sub].split():
        assert isinstance(getattr(theirs, name), type), name      # torch has it there too
        if not name.startswith("_"):
            assert getattr(ours, name) is getattr(nn, name) is getattr(nn.modules, name)
    torch_classes = {k for k, v in vars(theirs).items()
                     if isinstance(v, type) and v.__module__ == theirs.__name__}
    assert {n for n in torch_classes if not n.startswith("_") and hasattr(nn, n)} \
        <= set(_SUBMODULES[sub].split())


def test_class_hierarchy_as_in_torch():
    """issubclass(a, b) agrees with torch for every two classes of nn.modules, the private
    bases among them (CELU is no ELU, BatchNorm2d no BatchNorm1d, LazyBatchNorm1d a
    _BatchNorm but no BatchNorm1d until its first input, ...)."""
    torch = pytest.importorskip("torch")
    wrong = [(a, b) for a in _ALL for b in _ALL if a != b
             and issubclass(_cls(zeroin.nn, a), _cls(zeroin.nn, b))
             != issubclass(_cls(torch.nn, a), _cls(torch.nn, b))]
    assert wrong == []
    assert isinstance(nn.MSELoss(), nn.modules.loss._Loss)
    assert not isinstance(nn.BatchNorm2d(3), nn.BatchNorm1d)      # siblings, as torch


def test_import_statements_of_torch_code_run():
    from zeroin.nn.modules.batchnorm import _BatchNorm  # noqa: F401
    from zeroin.nn.modules.conv import _ConvNd  # noqa: F401
    from zeroin.nn.modules.loss import _Loss, _WeightedLoss  # noqa: F401
    from zeroin.nn.modules.utils import _pair, _single, _triple  # noqa: F401
    from zeroin.nn.parameter import Parameter, UninitializedParameter  # noqa: F401
    import zeroin.nn.modules.rnn as rnn
    assert rnn.RNNBase is nn.RNNBase and rnn.RNNCellBase is nn.RNNCellBase
    assert Parameter is nn.Parameter


def _pair_losses(torch):
    """A user's loss in torch's style, once on each library's _Loss."""
    def make(lib):
        class ScaledL1(lib.nn.modules.loss._Loss):
            def __init__(self, scale=2.0, size_average=None, reduce=None, reduction="mean"):
                super().__init__(size_average, reduce, reduction)
                self.scale = scale

            def forward(self, input, target):  # noqa: A002
                return lib.nn.functional.l1_loss(self.scale * input, target,
                                                 reduction=self.reduction)
        return ScaledL1
    return make(torch), make(zeroin)


@pytest.mark.filterwarnings("ignore:size_average and reduce args:UserWarning")   # torch's own
@pytest.mark.parametrize("kw", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                {"size_average": False}, {"reduce": False}])
def test_loss_subclass_as_torch(kw):
    torch = pytest.importorskip("torch")
    T, Z = _pair_losses(torch)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    tl, zl = T(**kw), Z(**kw)
    assert zl.reduction == tl.reduction and repr(zl) == repr(tl)
    tx, zx = torch.tensor(x, requires_grad=True), zeroin.tensor(x, requires_grad=True)
    tout, zout = tl(tx, torch.tensor(y)), zl(zx, zeroin.tensor(y))
    np.testing.assert_allclose(zout.data, tout.detach().numpy(), rtol=1e-12)
    tout.sum().backward()
    zout.sum().backward()
    np.testing.assert_allclose(zx.grad.data, tx.grad.numpy(), rtol=1e-12)
    assert zeroin.gradcheck(lambda a: zl(a + 0.1, zeroin.tensor(y)), (zx,))


def test_loss_subclass_without_forward_raises_as_torch():
    torch = pytest.importorskip("torch")

    class T(torch.nn.modules.loss._WeightedLoss):
        pass

    class Z(nn.modules.loss._WeightedLoss):
        pass
    with pytest.raises(NotImplementedError):
        T()(torch.ones(2), torch.ones(2))
    with pytest.raises(NotImplementedError, match="forward"):
        Z()(zeroin.ones(2), zeroin.ones(2))
    assert Z(weight=[1.0, 2.0]).weight.tolist() == [1.0, 2.0]


def _my_conv(lib):
    """A convolution written directly on _ConvNd with torch's positional signature."""
    utils = importlib.import_module(f"{lib.__name__}.nn.modules.utils")

    class MyConv(lib.nn.modules.conv._ConvNd):
        def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
            super().__init__(cin, cout, utils._pair(k), utils._pair(stride),
                             utils._pair(padding), utils._pair(1), False, utils._pair(0), 1,
                             bias, "zeros")

        def forward(self, x):
            return lib.nn.functional.conv2d(x, self.weight.tanh(), self.bias, self.stride,
                                            self.padding)
    return MyConv


def test_convnd_subclass_with_torch_signature():
    torch = pytest.importorskip("torch")
    tm, zm = _my_conv(torch)(2, 3, 3, padding=1).double(), _my_conv(zeroin)(2, 3, 3, padding=1)
    assert zm.weight.shape == tuple(tm.weight.shape) == (3, 2, 3, 3)
    assert (zm.kernel_size, zm.padding, zm.transposed) == (tm.kernel_size, tm.padding, False)
    assert repr(zm) == repr(tm)
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    tx, zx = torch.tensor(x, requires_grad=True), zeroin.tensor(x, requires_grad=True)
    tout, zout = tm(tx), zm(zx)
    np.testing.assert_allclose(zout.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    (tout ** 2).sum().backward()
    (zout ** 2).sum().backward()
    np.testing.assert_allclose(zx.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(zm.weight.grad.data, tm.weight.grad.numpy(), rtol=1e-10)
    assert zeroin.gradcheck(lambda a: zm(a), (zeroin.tensor(x[:1], requires_grad=True),))


def test_conv_forward_hook_for_weight_standardisation():
    torch = pytest.importorskip("torch")

    def make(lib):
        class WSConv2d(lib.nn.Conv2d):
            def forward(self, x):
                w = self.weight
                w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / w.std(dim=(1, 2, 3),
                                                                        keepdim=True)
                return self._conv_forward(x, w, self.bias)
        return WSConv2d(2, 4, 3, padding=1, padding_mode="reflect")
    tm, zm = make(torch).double(), make(zeroin)
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((1, 2, 4, 4))
    np.testing.assert_allclose(zm(zeroin.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


def _my_bn(lib):
    class BN4d(lib.nn.modules.batchnorm._BatchNorm):
        def _check_input_dim(self, input):  # noqa: A002
            if input.dim() != 3:
                raise ValueError(f"expected 3D input (got {input.dim()}D input)")
    return BN4d


def test_batchnorm_subclass_uses_check_input_dim():
    torch = pytest.importorskip("torch")
    tm, zm = _my_bn(torch)(3, momentum=None).double(), _my_bn(zeroin)(3, momentum=None)
    assert repr(zm) == repr(tm) and list(zm.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(3)
    for _ in range(2):
        x = rng.standard_normal((4, 3, 5))
        tx, zx = torch.tensor(x, requires_grad=True), zeroin.tensor(x, requires_grad=True)
        tout, zout = tm(tx), zm(zx)
        np.testing.assert_allclose(zout.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        (tout ** 3).sum().backward()
        (zout ** 3).sum().backward()
        np.testing.assert_allclose(zx.grad.data, tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(zm.state_dict()[k].data, v.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="3D"):
        zm(zeroin.ones(2, 3))
    zm.eval()
    assert zeroin.gradcheck(lambda a: zm(a), (zeroin.tensor(x[:2], requires_grad=True),))
    with pytest.raises(NotImplementedError):
        nn.modules.batchnorm._NormBase(3)._check_input_dim(zeroin.ones(2, 3))


def test_norm_base_reset_parameters_as_torch():
    torch = pytest.importorskip("torch")
    tm, zm = torch.nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    for m, lib in ((tm, torch), (zm, zeroin)):
        with lib.no_grad():
            m.weight.mul_(3.0)
            m.running_var.mul_(2.0)
        m.reset_parameters()
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(zm.state_dict()[k].data, v.numpy())


@pytest.mark.parametrize("name", ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d",
                                  "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_layers_share_dropoutnd(name):
    torch = pytest.importorskip("torch")
    zm, tm = getattr(nn, name)(0.25, True), getattr(torch.nn, name)(0.25, True)
    assert isinstance(zm, nn.modules.dropout._DropoutNd) and repr(zm) == repr(tm)
    with pytest.raises(ValueError):
        getattr(torch.nn, name)(1.5)
    with pytest.raises(ValueError, match=f"{name}: dropout probability p must be between 0"):
        getattr(nn, name)(1.5)


def test_parameter_module_and_is_lazy():
    torch = pytest.importorskip("torch")
    from zeroin.nn import parameter as P
    assert P.Parameter is nn.Parameter and P.Buffer is nn.Buffer
    assert P.UninitializedParameter is nn.UninitializedParameter
    lazy = nn.LazyLinear(2)
    assert P.is_lazy(lazy.weight) and torch.nn.parameter.is_lazy(torch.nn.LazyLinear(2).weight)
    assert not P.is_lazy(nn.Linear(1, 1).weight)
    assert not torch.nn.parameter.is_lazy(torch.nn.Linear(1, 1).weight)
    lazy(zeroin.ones(1, 3))
    assert not P.is_lazy(lazy.weight)


@pytest.mark.parametrize("v", [3, (1, 2), [4, 5, 6], "ab", 2.5])
def test_ntuple_helpers_as_torch(v):
    torch = pytest.importorskip("torch")
    ours = importlib.import_module("zeroin.nn.modules.utils")
    theirs = torch.nn.modules.utils
    for name in ("_single", "_pair", "_triple", "_quadruple"):
        assert getattr(ours, name)(v) == getattr(theirs, name)(v)
        assert getattr(ours, name).__name__ == name
    assert ours._ntuple(5)(v) == theirs._ntuple(5)(v)
    assert ours._reverse_repeat_tuple((1, 2), 2) == theirs._reverse_repeat_tuple((1, 2), 2)


def test_consume_prefix_as_torch():
    torch = pytest.importorskip("torch")
    from zeroin.nn.modules.utils import consume_prefix_in_state_dict_if_present as ours
    tsd = torch.nn.Sequential(torch.nn.Linear(2, 2)).state_dict()
    tsd = type(tsd)((f"module.{k}", v) for k, v in tsd.items())
    tsd._metadata = {"": {}, "module": {"version": 1}, "module.0": {"version": 1}}
    zsd = type(tsd)((k, v.numpy()) for k, v in tsd.items())
    zsd._metadata = dict(tsd._metadata)
    torch.nn.modules.utils.consume_prefix_in_state_dict_if_present(tsd, "module.")
    ours(zsd, "module.")
    assert list(zsd) == list(tsd) == ["0.weight", "0.bias"]
    assert zsd._metadata == tsd._metadata
    nn.Sequential(nn.Linear(2, 2)).load_state_dict(zsd)


def test_functional_use_inside_subclass_keeps_module_api():
    """A subclass of a private base is a full Module: parameters, state dict, train/eval."""
    zm = _my_conv(zeroin)(1, 1, 1)
    assert [n for n, _ in zm.named_parameters()] == ["weight", "bias"]
    assert zm.eval().training is False
    assert F.relu(zm(zeroin.ones(1, 1, 2, 2))).shape == (1, 1, 2, 2)


@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
                                  "ConvTranspose2d", "ConvTranspose3d"])
def test_conv_signature_takes_device_as_torch(name):
    """PyTorch's positional order ends ``padding_mode, device, dtype`` (as _ConvNd's)."""
    torch = pytest.importorskip("torch")
    import inspect
    ours = list(inspect.signature(getattr(nn, name)).parameters)
    theirs = list(inspect.signature(getattr(torch.nn, name)).parameters)
    assert ours[:len(theirs)] == theirs
    m = getattr(nn, name)(2, 4, 3, device="cpu", dtype=zeroin.float32)
    assert m.weight.dtype == zeroin.float32
    with pytest.raises(Exception, match="cuda"):
        getattr(nn, name)(2, 4, 3, device="cuda")
