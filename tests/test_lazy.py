"""Lazy modules (nn.LazyLinear, LazyConv*, LazyConvTranspose*, LazyBatchNorm*): PyTorch's
reprs, state dict keys, errors and class change, against torch where installed."""
import numpy as np
import pytest

import zeroin
from zeroin import nn, optim

CASES = [("LazyLinear", (3,), (4, 5)), ("LazyConv1d", (4, 2), (2, 3, 7)),
         ("LazyConv2d", (4, 3), (2, 3, 6, 6)), ("LazyConv3d", (2, 2), (1, 3, 4, 4, 4)),
         ("LazyConvTranspose1d", (4, 2), (2, 3, 5)),
         ("LazyConvTranspose2d", (2, 3), (2, 3, 4, 4)),
         ("LazyConvTranspose3d", (2, 2), (1, 3, 3, 3, 3)),
         ("LazyBatchNorm1d", (), (4, 3)), ("LazyBatchNorm2d", (), (4, 3, 2, 2)),
         ("LazyBatchNorm3d", (), (2, 3, 2, 2, 2))]


@pytest.mark.parametrize("name,args,shape", CASES)
def test_lazy_module_matches_torch(name, args, shape):
    torch = pytest.importorskip("torch")
    tm = getattr(torch.nn, name)(*args).double()
    zm = getattr(nn, name)(*args).double()
    assert repr(zm) == repr(tm)
    assert list(zm.state_dict()) == list(tm.state_dict())
    x = np.random.default_rng(0).standard_normal(shape)
    yt = tm(torch.tensor(x))
    zm(zeroin.tensor(x))
    assert type(zm).__name__ == type(tm).__name__ == name[4:]
    assert repr(zm) == repr(tm)
    assert list(zm.state_dict()) == list(tm.state_dict())
    zm = getattr(nn, name)(*args).double()
    zm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    zx = zeroin.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    yt, yz = tm(tx), zm(zx)
    np.testing.assert_allclose(yz.data, yt.detach().numpy(), rtol=0, atol=1e-10)
    (yt ** 2).sum().backward()
    (yz ** 2).sum().backward()
    np.testing.assert_allclose(zx.grad.data, tx.grad.numpy(), rtol=0, atol=1e-10)
    for (k, p), (k2, q) in zip(tm.named_parameters(), zm.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(q.grad.data, p.grad.numpy(), rtol=0, atol=1e-10)
    assert repr(zm) == repr(tm)         # in_channels / in_features from the loaded shapes


def test_uninitialized_parameters_behave_as_pytorchs():
    m = nn.LazyLinear(3)
    assert isinstance(m.weight, nn.UninitializedParameter) and isinstance(m, nn.Linear)
    assert repr(m.weight) == "<UninitializedParameter>"
    with pytest.raises(RuntimeError, match="Can't access the shape of an uninitialized"):
        m.weight.shape
    sd = m.state_dict()
    assert sd["weight"] is m.weight         # as PyTorch: the uninitialised tensors
    opt = optim.SGD(m.parameters(), lr=0.1)      # before the first forward, as PyTorch
    w = m.weight
    m(zeroin.ones(2, 4)).sum().backward()
    assert m.weight is w and type(w) is nn.Parameter and w.shape == (3, 4)
    before = w.data.copy()
    opt.step()
    np.testing.assert_allclose(w.data, before - 0.1 * w.grad.data)
    assert type(m) is nn.Linear and "_hooks" not in m.__dict__


def test_lazy_initialisation_draws_as_the_regular_layer_at_the_first_call():
    zeroin.manual_seed(3)
    lazy = nn.LazyConv2d(4, 3)
    lazy(zeroin.ones(1, 2, 5, 5))
    zeroin.manual_seed(3)
    plain = nn.Conv2d(2, 4, 3)
    np.testing.assert_array_equal(lazy.weight.data, plain.weight.data)
    np.testing.assert_array_equal(lazy.bias.data, plain.bias.data)


def test_lazy_errors_name_the_problem():
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) "
                                           r"input to LazyConv2d"):
        nn.LazyConv2d(4, 3)(zeroin.ones(5, 5))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(zeroin.ones(1, 3, 5, 5))
    with pytest.raises(ValueError, match="expected input of at least 2 dimensions"):
        nn.LazyBatchNorm1d()(zeroin.ones(3))
