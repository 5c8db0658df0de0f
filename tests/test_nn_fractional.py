"""Fractional max pooling against PyTorch's with the same ``_random_samples``: values,
indices (ties and NaN as PyTorch), gradients, modules and errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
import zeroin.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [(2, (2, 3, 9, 11), (2, 3), dict(output_size=(5, 4))),
         (2, (3, 7, 8), 2, dict(output_size=(4, 5))),
         (2, (2, 3, 10, 9), 3, dict(output_ratio=(0.5, 0.5))),
         (2, (2, 6, 6, 7), 1, dict(output_size=(6, 7))),
         (3, (2, 2, 7, 8, 9), (2, 2, 3), dict(output_size=(3, 5, 4))),
         (3, (5, 6, 7, 8), 2, dict(output_ratio=(0.5, 0.6, 0.7))),
         (2, (2, 6, 6, 7), 2, dict(output_size=1))]


def _run(nd, shape, k, kw, dtype, values=None):
    rng = np.random.default_rng(0)
    x0 = (rng.standard_normal(shape) if values is None else values).astype(dtype)
    n = shape[0] if len(shape) == nd + 2 else 1
    smp = torch.rand(n, shape[-nd - 1], nd, dtype=torch.from_numpy(x0).dtype)
    xt, x = torch.tensor(x0, requires_grad=True), zeroin.tensor(x0, requires_grad=True)
    ft = TF.fractional_max_pool2d if nd == 2 else TF.fractional_max_pool3d
    fz = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    yt, it = ft(xt, k, return_indices=True, _random_samples=smp, **kw)
    y, i = fz(x, k, return_indices=True, _random_samples=zeroin.tensor(smp.numpy()), **kw)
    return x, xt, y, yt, i, it, smp


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd, shape, k, kw", CASES)
def test_values_indices_and_gradients_match_torch(nd, shape, k, kw, dtype):
    x, xt, y, yt, i, it, _ = _run(nd, shape, k, kw, dtype)
    assert i.dtype == np.int64 and y.dtype == dtype and y.shape == tuple(yt.shape)
    np.testing.assert_array_equal(i.data, it.numpy())
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    w = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    (y * zeroin.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-6)


def test_ties_and_nan_pick_as_torch():
    vals = np.zeros((1, 2, 6, 6))
    vals[0, 1, ::2, ::3] = np.nan
    vals[0, 1, 1, :] = np.nan
    x, xt, y, yt, i, it, _ = _run(2, (1, 2, 6, 6), 2, dict(output_size=(3, 3)), np.float64, vals)
    np.testing.assert_array_equal(i.data, it.numpy())
    np.testing.assert_array_equal(np.isnan(y.data), np.isnan(yt.detach().numpy()))


def test_gradcheck():
    smp = zeroin.tensor(np.random.default_rng(2).random((2, 2, 2)))
    x0 = np.random.default_rng(3).standard_normal((2, 2, 7, 6))
    assert zeroin.gradcheck(lambda x: F.fractional_max_pool2d(x, 2, (3, 4),
                                                              _random_samples=smp),
                            (zeroin.tensor(x0, requires_grad=True),))


@pytest.mark.parametrize("nd", [2, 3])
def test_modules_use_their_samples_and_repr_as_torch(nd):
    cls, tcls = getattr(nn, f"FractionalMaxPool{nd}d"), getattr(torch.nn, f"FractionalMaxPool{nd}d")
    shape = (2, 3) + (8,) * nd
    smp = torch.rand(2, 3, nd, dtype=torch.float64)
    m = cls(2, output_ratio=0.5, return_indices=True, _random_samples=zeroin.tensor(smp.numpy()))
    mt = tcls(2, output_ratio=0.5, return_indices=True, _random_samples=smp)
    assert repr(m) == repr(mt) and m.kernel_size == mt.kernel_size
    assert m.output_ratio == mt.output_ratio and m.output_size == mt.output_size
    assert list(m.state_dict()) == list(mt.state_dict()) == ["_random_samples"]
    x0 = np.random.default_rng(4).standard_normal(shape)
    (y, i), (yt, it) = m(zeroin.tensor(x0)), mt(torch.tensor(x0))
    np.testing.assert_array_equal(y.data, yt.numpy())
    np.testing.assert_array_equal(i.data, it.numpy())
    zeroin.manual_seed(0)
    free = cls(3, output_size=4)
    a, b = free(zeroin.tensor(x0)), free(zeroin.tensor(x0))
    assert a.shape == (2, 3) + (4,) * nd and not np.array_equal(a.data, b.data)


def test_errors_as_torch():
    for T, mod in ((torch, torch.nn), (zeroin, nn)):
        with pytest.raises(ValueError, match="requires specifying either an output size"):
            mod.FractionalMaxPool2d(2)
        with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
            mod.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
        with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
            mod.FractionalMaxPool3d(2, output_ratio=1.5)
    tf, zf = TF.fractional_max_pool2d, F.fractional_max_pool2d
    for f, T in ((tf, torch), (zf, zeroin)):
        with pytest.raises(ValueError, match="requires specifying either an output_size or"):
            f(T.zeros(1, 1, 5, 5), 2)
        with pytest.raises(RuntimeError, match="too large relative to input"):
            f(T.zeros(1, 1, 5, 5), 3, output_size=4)
    with pytest.raises(RuntimeError):
        tf(torch.zeros(1, 1, 5, 5), 2, output_size=3, _random_samples=torch.rand(1, 2, 2))
    with pytest.raises(RuntimeError, match=r"_random_samples must have shape \(1, 1, 2\)"):
        zf(zeroin.zeros(1, 1, 5, 5), 2, output_size=3, _random_samples=np.zeros((1, 2, 2)))
    with pytest.raises(zeroin.ShapeError, match="expected a 3-D or 4-D input"):
        zf(zeroin.zeros(5, 5), 2, output_size=3)
