"""3-D convolution and pooling, power-average pooling, 5-D interpolation (zeroin/nn/_volume.py):
values and gradients against finite differences (first and second order, float64) and
PyTorch (values, gradients, indices), modules with PyTorch's weights, errors."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from conftest import check_both, check_first, leaf, values
from zeroin import nn
from zeroin.errors import ShapeError

rng = np.random.default_rng(33)

CONV3D = [((2, 3, 4, 5, 4), (4, 3, 2, 3, 2), {}),
          ((1, 4, 5, 4, 6), (2, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=(1, 0, 2),
                                                   dilation=(1, 2, 1), groups=2)),
          ((1, 2, 4, 4, 3), (3, 2, 3, 2, 2), dict(padding="same", dilation=(1, 2, 1))),
          ((4, 3, 3, 3), (2, 4, 2, 2, 2), dict(padding=1))]          # unbatched (C, D, H, W)
TRANSPOSE3D = [((1, 3, 3, 2, 3), (3, 2, 3, 2, 3), dict(stride=2, padding=1, output_padding=1)),
               ((2, 4, 2, 3, 2), (4, 1, 2, 3, 2), dict(stride=(1, 2, 3), dilation=(2, 1, 1),
                                                       groups=2, output_padding=(0, 1, 2))),
               # output_padding >= the stride but below the dilation, as PyTorch allows
               ((1, 2, 2, 2, 3), (2, 2, 2, 2, 2), dict(stride=(1, 2, 1), dilation=(3, 1, 2),
                                                       padding=1, output_padding=(2, 1, 1)))]
MAXPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=(2, 3, 2), stride=(2, 1, 3), ceil_mode=True),
           dict(kernel_size=3, stride=2, dilation=(1, 2, 1), padding=1, ceil_mode=True)]
AVGPOOL = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
           dict(kernel_size=3, stride=2, padding=1, count_include_pad=False, ceil_mode=True),
           dict(kernel_size=(2, 3, 2), stride=(2, 1, 3), ceil_mode=True),
           dict(kernel_size=2, divisor_override=3)]
ADAPTIVE = [(2, 3, 2), 1, (None, 2, 3), (4, 5, 5), (5, 7, 6)]


def _case(shapes):
    return [values(rng, s) for s in shapes]


def _vs_torch(zf, tf, arrs, seed=0, indices=False):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(seed)
    zt = [leaf(a) for a in arrs]
    tt = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrs]
    y, ty = zf(*zt), tf(*tt)
    if indices:
        np.testing.assert_array_equal(y[1].data, ty[1].numpy())
        assert y[1].dtype == np.int64
        y, ty = y[0], ty[0]
    assert tuple(y.shape) == tuple(ty.shape)
    g = r.standard_normal(tuple(ty.shape))
    (y * zeroin.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(zt, tt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)


# --- convolution ---------------------------------------------------------------------------

@pytest.mark.parametrize("xs, ws, kw", CONV3D)
def test_conv3d_gradients_first_and_second_order(xs, ws, kw):
    x, w, b = _case([xs, ws, (ws[0],)])
    check_both(lambda x, w, b: F.conv3d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs, ws, kw", CONV3D)
@pytest.mark.filterwarnings("ignore:Using padding='same'")      # PyTorch's notice
def test_conv3d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    x, w, b = _case([xs, ws, (ws[0],)])
    _vs_torch(lambda x, w, b: F.conv3d(x, w, b, **kw),
              lambda x, w, b: torch.nn.functional.conv3d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("xs, ws, kw", TRANSPOSE3D)
def test_conv_transpose3d_gradients_first_and_second_order(xs, ws, kw):
    x, w, b = _case([xs, ws, (ws[1] * kw.get("groups", 1),)])
    check_both(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs, ws, kw", TRANSPOSE3D)
def test_conv_transpose3d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    x, w, b = _case([xs, ws, (ws[1] * kw.get("groups", 1),)])
    _vs_torch(lambda x, w, b: F.conv_transpose3d(x, w, b, **kw),
              lambda x, w, b: torch.nn.functional.conv_transpose3d(x, w, b, **kw), [x, w, b])


def test_conv_transpose3d_is_conv3ds_input_gradient():
    x, w, g = _case([(1, 2, 6, 4, 5), (3, 2, 3, 2, 3), (1, 3, 3, 2, 3)])
    xt = leaf(x)
    y = F.conv3d(xt, zeroin.tensor(w), stride=2, padding=(1, 0, 1))
    (y * zeroin.tensor(g)).sum().backward()
    back = F.conv_transpose3d(zeroin.tensor(g), zeroin.tensor(w), stride=2, padding=(1, 0, 1),
                              output_padding=(1, 0, 0))
    np.testing.assert_allclose(back.data, xt.grad.data, atol=1e-12)


def test_conv3d_by_hand():
    x = np.arange(2 * 3 * 4, dtype=float).reshape(1, 1, 2, 3, 4)
    w = np.ones((1, 1, 2, 2, 2))
    y = F.conv3d(zeroin.tensor(x), zeroin.tensor(w))
    want = [[[x[0, 0, :2, i:i + 2, j:j + 2].sum() for j in range(3)] for i in range(2)]]
    np.testing.assert_array_equal(y.data[0, 0], want)


# --- pooling -------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool3d_gradients_first_and_second_order(kw):
    (x,) = _case([(2, 2, 5, 6, 7)])
    check_both(lambda x: F.max_pool3d(x, **kw), x)


@pytest.mark.parametrize("kw", MAXPOOL)
def test_max_pool3d_matches_torch_with_indices(kw):
    torch = pytest.importorskip("torch")
    (x,) = _case([(2, 3, 5, 6, 7)])
    _vs_torch(lambda x: F.max_pool3d(x, return_indices=True, **kw),
              lambda x: torch.nn.functional.max_pool3d(x, return_indices=True, **kw), [x],
              indices=True)


def test_max_pool3d_ties_nan_and_unbatched_as_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((1, 1, 4, 4, 4))
    x[0, 0, 1, 2, 3] = np.nan
    x[0, 0, 3, 3, 3] = -1.0
    for arr in (x, x[0]):
        y, i = F.max_pool3d(zeroin.tensor(arr), 2, return_indices=True)
        ty, ti = torch.nn.functional.max_pool3d(torch.tensor(arr), 2, return_indices=True)
        np.testing.assert_array_equal(y.data, ty.numpy())
        np.testing.assert_array_equal(i.data, ti.numpy())


@pytest.mark.parametrize("kw", AVGPOOL)
def test_avg_pool3d_gradients_and_torch(kw):
    torch = pytest.importorskip("torch")
    (x,) = _case([(2, 2, 5, 6, 7)])
    check_both(lambda x: F.avg_pool3d(x, **kw), x)
    _vs_torch(lambda x: F.avg_pool3d(x, **kw),
              lambda x: torch.nn.functional.avg_pool3d(x, **kw), [x])


@pytest.mark.parametrize("size", ADAPTIVE)
def test_adaptive_pools_3d_gradients_and_torch(size):
    torch = pytest.importorskip("torch")
    (x,) = _case([(2, 2, 4, 5, 6)])
    check_both(lambda x: F.adaptive_avg_pool3d(x, size), x)
    check_both(lambda x: F.adaptive_max_pool3d(x, size), x)
    tf = torch.nn.functional
    _vs_torch(lambda x: F.adaptive_avg_pool3d(x, size),
              lambda x: tf.adaptive_avg_pool3d(x, size), [x])
    _vs_torch(lambda x: F.adaptive_max_pool3d(x, size, True),
              lambda x: tf.adaptive_max_pool3d(x, size, True), [x], indices=True)
    _vs_torch(lambda x: F.adaptive_max_pool3d(x, size), lambda x: tf.adaptive_max_pool3d(x, size),
              [x[0]])


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("p, kw", [(1, dict(kernel_size=2)), (2, dict(kernel_size=3, stride=2)),
                                   (3.5, dict(kernel_size=2, stride=1, ceil_mode=True)),
                                   (2, dict(kernel_size=3, stride=2, ceil_mode=True))])
def test_lp_pool_gradients_and_torch(nd, p, kw):
    torch = pytest.importorskip("torch")
    shape = (2, 2) + (5, 6, 7)[3 - nd:]
    x = np.abs(values(rng, shape)) + 0.2       # x ** p for non-integer p needs x > 0
    f = getattr(F, f"lp_pool{nd}d")
    check_first(lambda x: f(x, p, **kw), x)
    _vs_torch(lambda x: f(x, p, **kw),
              lambda x: getattr(torch.nn.functional, f"lp_pool{nd}d")(x, p, **kw), [x])


# --- 5-D interpolation --------------------------------------------------------------------

INTERP = [("nearest", None, dict(scale_factor=2)), ("nearest", None, dict(size=(3, 7, 4))),
          ("trilinear", False, dict(scale_factor=(1.5, 0.5, 2.3))),
          ("trilinear", True, dict(size=(5, 2, 7))),
          ("trilinear", False, dict(scale_factor=1.7, recompute_scale_factor=True))]


@pytest.mark.parametrize("mode, ac, kw", INTERP)
def test_interpolate_5d_gradients_and_torch(mode, ac, kw):
    torch = pytest.importorskip("torch")
    (x,) = _case([(1, 2, 3, 4, 3)])
    check_both(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw), x)
    _vs_torch(lambda x: F.interpolate(x, mode=mode, align_corners=ac, **kw),
              lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=ac, **kw),
              [x])
    up = nn.Upsample(scale_factor=2, mode=mode, align_corners=ac)
    assert up(zeroin.tensor(x)).shape == (1, 2, 6, 8, 6)


# --- modules --------------------------------------------------------------------------------

def _copy(z, t, torch):
    with torch.no_grad():
        for name, p in t.named_parameters():
            p.copy_(torch.tensor(getattr(z, name).data))


def test_modules_match_torch_with_the_same_weights():
    torch = pytest.importorskip("torch")
    tn = torch.nn
    x = values(rng, (2, 3, 5, 6, 4))
    f64 = dict(dtype=torch.float64)
    pairs = [(nn.Conv3d(3, 4, 3, padding=1, padding_mode=m),
              tn.Conv3d(3, 4, 3, padding=1, padding_mode=m, **f64))
             for m in ("zeros", "reflect", "replicate", "circular")]
    pairs += [(nn.Conv3d(3, 6, (3, 2, 1), stride=2, groups=3, bias=False),
               tn.Conv3d(3, 6, (3, 2, 1), stride=2, groups=3, bias=False, **f64)),
              (nn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1),
               tn.ConvTranspose3d(3, 2, 3, stride=2, padding=1, output_padding=1, **f64)),
              (nn.MaxPool3d(2, ceil_mode=True), tn.MaxPool3d(2, ceil_mode=True)),
              (nn.AvgPool3d(3, 2, 1, count_include_pad=False),
               tn.AvgPool3d(3, 2, 1, count_include_pad=False)),
              (nn.AdaptiveAvgPool3d((2, None, 1)), tn.AdaptiveAvgPool3d((2, None, 1))),
              (nn.AdaptiveMaxPool3d(2), tn.AdaptiveMaxPool3d(2)),
              (nn.LPPool3d(2, 2), tn.LPPool3d(2, 2)),
              (nn.Upsample(scale_factor=2, mode="trilinear"),
               tn.Upsample(scale_factor=2, mode="trilinear")),
              (nn.BatchNorm3d(3), tn.BatchNorm3d(3, **f64)),
              (nn.InstanceNorm3d(3, affine=True), tn.InstanceNorm3d(3, affine=True, **f64))]
    for z, t in pairs:
        _copy(z, t, torch)
        want = t(torch.tensor(x)).detach().numpy()
        np.testing.assert_allclose(z(zeroin.tensor(x)).data, want, atol=1e-12)
        assert repr(z) == repr(t).replace(", dtype=torch.float64", ""), (repr(z), repr(t))
    bz, bt = pairs[-2]
    np.testing.assert_allclose(bz.running_var.data, bt.running_var.numpy(), atol=1e-12)
    np.testing.assert_allclose(nn.InstanceNorm3d(3)(zeroin.tensor(x[0])).data,
                               tn.InstanceNorm3d(3)(torch.tensor(x[0])).numpy(), atol=1e-12)
    lp1, lp2 = nn.LPPool1d(2, 3, 2), nn.LPPool2d(3, 2)
    assert lp1(zeroin.tensor(x[:, :, 0, 0])).shape == (2, 3, 1)
    assert lp2(zeroin.tensor(np.abs(x[:, :, 0]))).shape == (2, 3, 3, 2)


def test_conv_transpose3d_output_size_and_default_initialisation():
    torch = pytest.importorskip("torch")
    up = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1)
    assert up(zeroin.zeros(1, 2, 3, 4, 5), output_size=(6, 8, 10)).shape == (1, 3, 6, 8, 10)
    conv = nn.Conv3d(4, 8, 3)
    bound = 1 / np.sqrt(4 * 27)
    assert conv.weight.shape == (8, 4, 3, 3, 3)
    assert np.abs(conv.weight.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound
    t = torch.nn.Conv3d(4, 8, 3)
    assert tuple(t.weight.shape) == conv.weight.shape


def test_float32_stays_float32_and_matches_float64():
    x, w = _case([(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)])
    for f in (lambda x, w: F.conv3d(x, w, padding=1), lambda x, w: F.max_pool3d(x, 2),
              lambda x, w: F.avg_pool3d(x, 2),
              lambda x, w: F.conv_transpose3d(x, w.transpose(0, 1)),
              lambda x, w: F.interpolate(x, scale_factor=2, mode="trilinear")):
        a = f(zeroin.tensor(x.astype(np.float32)), zeroin.tensor(w.astype(np.float32)))
        b = f(zeroin.tensor(x), zeroin.tensor(w))
        assert a.dtype == np.float32
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-5)


# --- errors ---------------------------------------------------------------------------------

ERRORS = [
    (lambda: nn.Conv3d(3, 4, 3)(zeroin.zeros(3, 8, 8)), ShapeError,
     ["conv3d", "(N, C, D, H, W)", "(C, D, H, W)", "(3, 8, 8)", "conv2d"]),
    (lambda: F.conv3d(zeroin.zeros(1, 3, 4, 4, 4), zeroin.zeros(4, 3, 3, 3)), ShapeError,
     ["conv3d", "weight must be 5-D", "kD, kH, kW", "(4, 3, 3, 3)"]),
    (lambda: F.conv3d(zeroin.zeros(1, 2, 4, 4, 4), zeroin.zeros(4, 3, 3, 3, 3)), ShapeError,
     ["in_channels=3", "2 channels", "Conv3d(2, 4"]),
    (lambda: F.conv3d(zeroin.zeros(1, 2, 2, 4, 4), zeroin.zeros(4, 2, 3, 3, 3)), ShapeError,
     ["conv3d", "kernel (3, 3, 3)", "larger than the padded input (2, 4, 4)"]),
    (lambda: F.max_pool3d(zeroin.zeros(1, 1, 1, 4, 4, 4), 2), ShapeError,
     ["max_pool3d", "(N, C, D, H, W)", "6-D", "video"]),
    (lambda: F.avg_pool3d(zeroin.zeros(1, 1, 4, 4, 4), 3, padding=2), ValueError,
     ["avg_pool3d", "padding (2, 2, 2)", "half the kernel size"]),
    (lambda: F.conv_transpose3d(zeroin.zeros(1, 2, 3, 3, 3), zeroin.zeros(2, 1, 2, 2, 2),
                                stride=2, output_padding=2), ValueError,
     ["conv_transpose3d", "output_padding (2, 2, 2)", "smaller than either the stride",
      "or the dilation"]),
    (lambda: F.interpolate(zeroin.zeros(1, 1, 2, 2, 2), scale_factor=2, mode="bilinear"),
     ValueError, ["interpolate", "'bilinear'", "5-D", "trilinear"]),
    (lambda: nn.BatchNorm3d(2)(zeroin.zeros(2, 2, 3, 3)), ValueError,
     ["BatchNorm3d", "(N, 2, D, H, W)", "BatchNorm2d"]),
    (lambda: F.lp_pool2d(zeroin.zeros(1, 1, 4, 4, 4), 2, 2), ShapeError,
     ["lp_pool2d", "(N, C, H, W)", "(1, 1, 4, 4, 4)"]),
]


@pytest.mark.parametrize("call, exc, words", ERRORS)
def test_errors_name_the_op_the_shapes_and_the_fix(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_mixed_dtypes_are_refused():
    with pytest.raises(TypeError, match="conv3d: input has dtype float32 but the weight is"):
        F.conv3d(zeroin.zeros(1, 1, 3, 3, 3, dtype=zeroin.float32), zeroin.zeros(1, 1, 2, 2, 2))


def test_only_needed_gradients_are_computed():
    x, w = _case([(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)])
    xt, wt = zeroin.tensor(x), leaf(w)
    F.conv3d(xt, wt).sum().backward()
    assert xt.grad is None and wt.grad is not None
    xt, wt = leaf(x), zeroin.tensor(w)
    F.conv3d(xt, wt).sum().backward()
    assert wt.grad is None and xt.grad.shape == x.shape


def test_grad_fn_names_are_pytorchs():
    torch = pytest.importorskip("torch")
    x, w = _case([(1, 2, 4, 4, 4), (3, 2, 2, 2, 2)])
    for f in ("conv3d", "max_pool3d", "avg_pool3d"):
        args = (w,) if f == "conv3d" else (2,)
        z = getattr(F, f)(leaf(x), *[zeroin.tensor(a) if isinstance(a, np.ndarray) else a
                                     for a in args])
        t = getattr(torch.nn.functional, f)(torch.tensor(x, requires_grad=True),
                                            *[torch.tensor(a) if isinstance(a, np.ndarray)
                                              else a for a in args])
        assert z.grad_fn.name() == t.grad_fn.name()
    warnings.simplefilter("default")
