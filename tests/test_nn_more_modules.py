"""3-D padding, Dropout3d, MaxUnpool3d, CrossMapLRN2d, SyncBatchNorm and the lazy
instance norms against PyTorch: values, gradients, reprs, state dicts and errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
import zeroin.nn.functional as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X5 = RNG.standard_normal((2, 3, 4, 5, 6))


def _both(make, *args):
    return make(nn)(*[zeroin.tensor(a, requires_grad=True) for a in args]), \
        make(torch.nn)(*[torch.tensor(a, requires_grad=True) for a in args])


def _same_with_grad(ours, theirs, xs, xt, rtol=1e-12):
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=rtol, atol=1e-14)
    w = RNG.standard_normal(ours.shape)
    (ours * zeroin.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    for a, b in zip(xs, xt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("name, args", [
    ("ZeroPad3d", (1,)), ("ZeroPad3d", ((1, 0, 2, 1, 0, 3),)),
    ("ConstantPad3d", ((1, 2, 0, 1, 2, 0), 3.5)), ("ReflectionPad3d", ((1, 2, 3, 1, 2, 0),)),
    ("ReplicationPad3d", ((2, 0, 1, 3, 1, 1),)), ("CircularPad3d", ((1, 2, 3, 1, 2, 0),))])
@pytest.mark.parametrize("batched", [True, False])
def test_padding_3d_matches_torch(name, args, batched):
    x0 = X5 if batched else X5[0]
    x, xt = zeroin.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    m, mt = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(m) == repr(mt) and m.padding == mt.padding
    _same_with_grad(m(x), mt(xt), [x], [xt])
    small = x0[:1, ..., :4, :4, :4] if batched else x0[..., :4, :4, :4]
    assert zeroin.gradcheck(m, (zeroin.tensor(small, requires_grad=True),))


def test_padding_3d_errors():
    with pytest.raises(ValueError, match=r"ZeroPad3d: padding must be an int or 6 ints"):
        nn.ZeroPad3d((1, 2))
    with pytest.raises(ValueError, match=r"ReflectionPad3d: expected a 4-D or 5-D input"):
        nn.ReflectionPad3d(1)(zeroin.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="smaller than the dimension"):
        nn.ReflectionPad3d(4)(zeroin.zeros(1, 1, 4, 5, 6))
    with pytest.raises(RuntimeError):
        torch.nn.ReflectionPad3d(4)(torch.zeros(1, 1, 4, 5, 6))


@pytest.mark.parametrize("shape", [(4, 6, 3, 2, 2), (6, 3, 2, 2)])
def test_dropout3d_drops_whole_channels(shape):
    zeroin.manual_seed(0)
    x = zeroin.ones(*shape, requires_grad=True)
    m = nn.Dropout3d(p=0.4)
    assert repr(m) == repr(torch.nn.Dropout3d(p=0.4))
    y = m(x)
    per_channel = y.data.reshape(shape[:len(shape) - 3] + (-1,))
    assert ((per_channel == 0).all(-1) | (per_channel == 1 / 0.6).all(-1)).all()
    assert (per_channel == 0).any() and (per_channel != 0).any()
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)      # d(mask * x)/dx = mask
    m.eval()
    assert m(x) is x or np.array_equal(m(x).data, x.data)
    np.testing.assert_array_equal(F.dropout3d(x, 0.5, training=False).data, x.data)
    with pytest.raises(zeroin.ShapeError, match="dropout3d: expected a 4-D"):
        F.dropout3d(zeroin.ones(2, 3, 4))


@pytest.mark.parametrize("batched", [True, False])
def test_max_unpool3d_inverts_max_pool3d_as_torch(batched):
    x0 = X5[..., :4, :4, :] if batched else X5[0, ..., 1:, :]     # (4, 4, 6); (3, 5, 6)
    xt = torch.tensor(x0)
    pooled, idx = torch.nn.functional.max_pool3d(xt, 2, stride=2, return_indices=True)
    p = zeroin.tensor(pooled.numpy(), requires_grad=True)
    pt = pooled.clone().requires_grad_()
    m, mt = nn.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2)
    assert repr(m) == repr(mt)
    for size in (None, x0.shape[-3:]):
        ours = m(p, zeroin.tensor(idx.numpy()), output_size=size)
        theirs = mt(pt, idx, output_size=size)
        p.grad = pt.grad = None
        _same_with_grad(ours, theirs, [p], [pt])
    f = F.max_unpool3d(p, zeroin.tensor(idx.numpy()), (2, 2, 2), output_size=x0.shape)
    np.testing.assert_array_equal(f.data, theirs.detach().numpy())
    assert np.isin(x0.max(axis=(-3, -2, -1)), f.data).all()
    with pytest.raises(zeroin.ShapeError, match=r"max_unpool3d: input must be \(N, C, D, H, W\)"):
        F.max_unpool3d(p[..., 0], zeroin.tensor(idx.numpy()), 2)


@pytest.mark.parametrize("channels", [1, 2, 5, 8])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_cross_map_lrn2d_forward_is_torchs_and_gradient_true(channels, size):
    x0 = RNG.standard_normal((2, channels, 3, 2))
    m = nn.CrossMapLRN2d(size, alpha=0.3, beta=0.8, k=1.5)
    mt = torch.nn.CrossMapLRN2d(size, alpha=0.3, beta=0.8, k=1.5)
    assert repr(m) == repr(mt)
    np.testing.assert_allclose(m(zeroin.tensor(x0)).data, mt(torch.tensor(x0)).numpy(),
                               rtol=1e-12)
    assert zeroin.gradcheck(m, (zeroin.tensor(x0, requires_grad=True),))


@pytest.mark.parametrize("channels, size", [(1, 2), (1, 5), (2, 4), (2, 5)])
def test_cross_map_lrn2d_gradient_is_torchs_where_its_backward_is_the_derivative(channels,
                                                                                  size):
    # PyTorch's hand-written backward fails its own gradcheck unless every channel's
    # window covers all channels; there both agree
    x0 = RNG.standard_normal((2, channels, 3, 2))
    x, xt = zeroin.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    _same_with_grad(nn.CrossMapLRN2d(size, 0.3, 0.8, 1.5)(x),
                    torch.nn.CrossMapLRN2d(size, 0.3, 0.8, 1.5)(xt), [x], [xt])

def test_cross_map_lrn2d_errors():
    with pytest.raises(ValueError, match="CrossMapLRN2d: Expected input to be 4D, got 3D"):
        nn.CrossMapLRN2d(3)(zeroin.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="Expected input to be 4D, got 3D"):
        torch.nn.CrossMapLRN2d(3)(torch.zeros(2, 3, 4))


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5)])
def test_sync_batch_norm_is_batch_norm_in_one_process(shape):
    x0 = RNG.standard_normal(shape)
    m, mt = nn.SyncBatchNorm(3, momentum=0.3), torch.nn.SyncBatchNorm(3, momentum=0.3)
    assert repr(m) == repr(mt)
    assert list(m.state_dict()) == list(mt.state_dict())
    mt.double()
    for _ in range(2):
        x, xt = zeroin.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
        _same_with_grad(m(x), mt(xt), [x], [xt])
    for k, v in mt.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)
    m.eval(), mt.eval()
    np.testing.assert_allclose(m(zeroin.tensor(x0)).data,
                               mt(torch.tensor(x0)).detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        m(zeroin.zeros(3))
    with pytest.raises(ValueError, match=r"expected at least 2D input \(got 1D input\)"):
        mt(torch.zeros(3))


def test_convert_sync_batchnorm_shares_parameters_and_statistics():
    seq = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3),
                        nn.Sequential(nn.BatchNorm1d(4, affine=False)))
    seq.eval()
    bn = seq[1]
    out = nn.SyncBatchNorm.convert_sync_batchnorm(seq)
    assert out is seq and type(out[1]) is nn.SyncBatchNorm and type(out[2][0]) is nn.SyncBatchNorm
    assert out[1].weight is bn.weight and out[1].running_mean is bn.running_mean
    assert not out[1].training and out[2][0].weight is None
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(5, eps=1e-3))
    assert type(single) is nn.SyncBatchNorm and single.eps == 1e-3
    tseq = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 1), torch.nn.BatchNorm2d(3),
                               torch.nn.Sequential(torch.nn.BatchNorm1d(4, affine=False)))
    assert list(torch.nn.SyncBatchNorm.convert_sync_batchnorm(tseq).state_dict()) == \
        list(out.state_dict())


@pytest.mark.parametrize("name, shape", [("LazyInstanceNorm1d", (2, 3, 5)),
                                         ("LazyInstanceNorm2d", (2, 3, 4, 5)),
                                         ("LazyInstanceNorm3d", (2, 3, 2, 3, 4))])
@pytest.mark.parametrize("kw", [{}, dict(affine=False, track_running_stats=False)])
def test_lazy_instance_norm_becomes_instance_norm_as_torch(name, shape, kw):
    x0 = RNG.standard_normal(shape)
    m, mt = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(m) == repr(mt)
    assert m.has_uninitialized_params() == mt.has_uninitialized_params()
    x, xt = zeroin.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    mt.double() if not kw else None
    if kw:      # nothing to shape: num_features stays 0, and both warn that it is unused
        with pytest.warns(UserWarning, match="num_features"):
            y = m(x)
        with pytest.warns(UserWarning, match="num_features"):
            yt = mt(xt)
    else:
        y, yt = m(x), mt(xt)
    assert type(m).__name__ == type(mt).__name__ == name.replace("Lazy", "")
    assert repr(m) == repr(mt)
    _same_with_grad(y, yt, [x], [xt])
    assert list(m.state_dict()) == list(mt.state_dict())
    for k, v in mt.state_dict().items():
        np.testing.assert_allclose(m.state_dict()[k].numpy(), v.numpy(), rtol=1e-12)


def test_lazy_instance_norm_loads_a_torch_state_dict():
    mt = torch.nn.InstanceNorm2d(4, affine=True, track_running_stats=True)
    with torch.no_grad():
        mt.weight.uniform_()
        mt.running_var.uniform_(1, 2)
    m = nn.LazyInstanceNorm2d()
    m.load_state_dict({k: v.numpy() for k, v in mt.state_dict().items()})
    m.eval()
    mt.eval()
    assert m.weight.shape == (4,)
    with pytest.raises(ValueError, match=r"num_features \(0\)"):      # PyTorch's keeps 0
        mt_lazy = torch.nn.LazyInstanceNorm2d()
        mt_lazy.load_state_dict(mt.state_dict())
        mt_lazy(torch.zeros(2, 4, 3, 3))
    x0 = RNG.standard_normal((2, 4, 3, 3))
    np.testing.assert_allclose(m(zeroin.tensor(x0)).data,
                               mt.double()(torch.tensor(x0)).detach().numpy(), rtol=1e-6)
    assert type(m) is nn.InstanceNorm2d and repr(m) == repr(mt)


def test_container_is_deprecated_as_in_torch():
    import warnings
    msgs = []
    for mod in (torch.nn, nn):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            c = mod.Container(a=mod.Linear(2, 3), b=mod.ReLU())
        msgs.append([(type(r.message), str(r.message)) for r in rec])
        assert [n for n, _ in c.named_children()] == ["a", "b"]
    assert msgs[0] == msgs[1] and msgs[0][0][0] is FutureWarning
    with pytest.warns(FutureWarning, match="nn.Container. is deprecated"):
        assert repr(nn.Container(a=nn.ReLU())).startswith("Container(\n  (a): ReLU()")
