"""Convolution, pooling, padding and resampling: values and gradients against finite
differences (float64) and PyTorch, second order, modules, errors, the CNN recipe, the lesson."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from conftest import check_both, check_first, leaf, values
from zeroin import nn
from zeroin.errors import ShapeError

rng = np.random.default_rng(14)

# (input shape, weight shape, kwargs): strides, paddings, dilations, groups, odd sizes
CONV2D = [
    ((2, 3, 5, 6), (4, 3, 3, 3), {}),
    ((1, 2, 7, 5), (3, 2, 2, 3), dict(stride=2, padding=1)),
    ((2, 4, 6, 7), (4, 2, 3, 2), dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2),
                                      groups=2)),
    ((1, 3, 5, 5), (3, 1, 3, 3), dict(padding=1, groups=3)),
    ((2, 2, 6, 5), (2, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    ((1, 2, 4, 4), (2, 2, 3, 3), dict(padding="valid", stride=3)),
]
CONV1D = [((2, 3, 7), (2, 3, 3), dict(stride=2, padding=1)),
          ((1, 4, 6), (2, 2, 2), dict(dilation=2, groups=2, padding="same"))]
TRANSPOSE2D = [((2, 3, 3, 4), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
               ((1, 4, 3, 3), (4, 1, 2, 3), dict(stride=(1, 2), dilation=(2, 1), groups=2)),
               ((1, 2, 2, 2), (2, 3, 4, 4), dict(stride=3, padding=2)),
               # output_padding >= the stride, below the dilation (PyTorch allows it): the
               # rows PyTorch adds past the padded-away ones, then zeros
               ((1, 2, 3, 3), (2, 3, 3, 2), dict(stride=1, dilation=(2, 3), padding=(1, 2),
                                                 output_padding=(1, 2))),
               ((1, 2, 2, 3), (2, 2, 2, 2), dict(stride=(1, 2), dilation=3, padding=1,
                                                 output_padding=(2, 2), groups=2))]


def _case(shapes):
    return [values(rng, s) for s in shapes]


@pytest.mark.parametrize("xs, ws, kw", CONV2D)
def test_conv2d_gradients_first_and_second_order(xs, ws, kw):
    x, w, b = _case([xs, ws, (ws[0],)])
    check_both(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)


@pytest.mark.parametrize("xs, ws, kw", CONV1D)
def test_conv1d_gradients(xs, ws, kw):
    x, w = _case([xs, ws])
    check_both(lambda x, w: F.conv1d(x, w, **kw), x, w)


@pytest.mark.parametrize("xs, ws, kw", TRANSPOSE2D)
def test_conv_transpose2d_gradients(xs, ws, kw):
    x, w, b = _case([xs, ws, (ws[1] * kw.get("groups", 1),)])
    check_both(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw), x, w, b)


def test_conv_transpose1d_gradients():
    x, w = _case([(2, 2, 4), (2, 3, 3)])
    check_both(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1),
               x, w)
    x, w, b = _case([(1, 2, 4), (2, 3, 2), (3,)])     # output_padding 2 >= stride, < dilation
    check_both(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=1, padding=1,
                                                  output_padding=2, dilation=3), x, w, b)


def test_conv_transpose_output_padding_follows_pytorchs_rule():
    # PyTorch wants output_padding below the stride OR the dilation (zeroin refused it at
    # or above the stride); at or above both it is a RuntimeError that names both
    torch = pytest.importorskip("torch")
    _vs_torch(lambda x, w: F.conv_transpose1d(x, w, dilation=2, output_padding=1),
              lambda x, w: torch.nn.functional.conv_transpose1d(x, w, dilation=2,
                                                                output_padding=1),
              [(1, 2, 4), (2, 3, 3)])
    assert nn.ConvTranspose2d(2, 3, 3, dilation=2, output_padding=1)(
        zeroin.ones(1, 2, 4, 4)).shape == (1, 3, 9, 9)
    for f, xs, ws in ((F.conv_transpose1d, (1, 2, 4), (2, 3, 3)),
                      (F.conv_transpose2d, (1, 2, 4, 4), (2, 3, 3, 3)),
                      (F.conv_transpose3d, (1, 2, 3, 3, 3), (2, 3, 2, 2, 2))):
        with pytest.raises(RuntimeError, match=r"output_padding \(1,.* must be smaller than "
                                               r"either the stride \(1,.* or the dilation "
                                               r"\(1,"):
            f(zeroin.ones(*xs), zeroin.ones(*ws), output_padding=1)


def test_conv2d_by_hand_and_conv_transpose_is_its_input_gradient():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[1.0, 2.0], [-1.0, 0.5]]).reshape(1, 1, 2, 2)
    y = F.conv2d(zeroin.tensor(x), zeroin.tensor(w)).data
    want = [[sum(x[0, 0, i + a, j + b] * w[0, 0, a, b] for a in range(2) for b in range(2))
             for j in range(3)] for i in range(3)]
    np.testing.assert_allclose(y[0, 0], want)
    xt = leaf(x)
    g = values(rng, (1, 1, 3, 3))
    (F.conv2d(xt, zeroin.tensor(w)) * zeroin.tensor(g)).sum().backward()
    np.testing.assert_allclose(xt.grad.data,
                               F.conv_transpose2d(zeroin.tensor(g), zeroin.tensor(w)).data)


POOLS = [
    (lambda x: F.max_pool2d(x, 2), (2, 2, 4, 6)),
    (lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (1, 2, 5, 6)),
    (lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1)), (1, 2, 5, 5)),
    (lambda x: F.max_pool2d(x, 2, ceil_mode=True), (1, 2, 5, 3)),
    (lambda x: F.max_pool1d(x, 3, stride=2, padding=1), (2, 2, 7)),
    (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), (1, 2, 5, 6)),
    (lambda x: F.avg_pool2d(x, 2, count_include_pad=False, padding=1, ceil_mode=True),
     (1, 1, 5, 4)),
    (lambda x: F.avg_pool1d(x, 2), (2, 2, 5)),
    (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (1, 2, 7, 5)),
    (lambda x: F.adaptive_avg_pool1d(x, 4), (2, 1, 6)),
    (lambda x: F.adaptive_max_pool2d(x, (2, 3)), (1, 2, 5, 7)),
    (lambda x: F.pad(x, (1, 2, 2, 0), mode="reflect"), (1, 2, 3, 4)),
    (lambda x: F.pad(x, (2, 1), mode="replicate"), (2, 3)),
    (lambda x: F.pad(x, (1, 2, 1, 3), mode="circular"), (1, 1, 3, 3)),
    (lambda x: F.pad(x, (1, 0, 0, 1, 1, 1), value=-1.0), (1, 2, 2)),
    (lambda x: F.interpolate(x, scale_factor=2), (1, 2, 2, 3)),
    (lambda x: F.interpolate(x, size=(3, 5)), (1, 1, 4, 3)),
    (lambda x: F.interpolate(x, size=(4, 5), mode="bilinear", align_corners=True), (1, 1, 2, 3)),
    (lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=False),
     (1, 2, 3, 2)),
    (lambda x: F.interpolate(x, size=5, mode="linear"), (1, 2, 3)),
    (lambda x: F.interpolate(x, size=(5, 7), mode="bicubic", align_corners=False), (1, 2, 3, 4)),
    (lambda x: F.interpolate(x, scale_factor=(0.6, 1.5), mode="bicubic", align_corners=True),
     (1, 1, 5, 3)),
    (lambda x: F.unfold(x, (2, 3), padding=1, stride=(1, 2)), (2, 2, 3, 4)),
    (lambda x: F.fold(x, (3, 4), (2, 2), stride=1), (1, 8, 6)),
    (lambda x: F.batch_norm(x, None, None, training=True), (3, 2, 3, 2)),
]


@pytest.mark.parametrize("i", range(len(POOLS)))
def test_pooling_padding_resampling_gradients(i):
    fn, shape = POOLS[i]
    x = values(rng, shape, "kink")      # distinct values: no ties at a window's maximum
    check_both(fn, x)


def test_pad_refuses_sizes_its_mode_cannot_fill():
    x = zeroin.zeros(1, 2, 3)
    with pytest.raises(zeroin.ShapeError, match=r"pad: reflect padding \(3, 0\) of dimension 2 "
                                                r"must be less than the size 3 .*\(1, 2, 3\).*"
                                                r"mode='replicate'"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(zeroin.ShapeError, match=r"circular padding \(4, 0\) of dimension 2 wraps"):
        F.pad(x, (4, 0), mode="circular")
    with pytest.raises(zeroin.ShapeError, match=r"replicate padding \(1, 1\) of dimension 2 "
                                                r"needs a value to repeat"):
        F.pad(zeroin.zeros(1, 2, 0), (1, 1), mode="replicate")
    assert F.pad(x, (2, 2), mode="reflect").shape == (1, 2, 7)


# --- against PyTorch ---------------------------------------------------------------------

def _vs_torch(zf, tf, shapes, seed=0):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(seed)
    arrs = [r.standard_normal(s) for s in shapes]
    zt = [leaf(a) for a in arrs]
    tt = [torch.tensor(a, requires_grad=True) for a in arrs]
    y, ty = zf(*zt), tf(*tt)
    g = r.standard_normal(tuple(ty.shape))
    (y * zeroin.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, b in zip(zt, tt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-10)


# large outputs (>= 256 positions per image) take the per-sample products
BIG = [((2, 3, 17, 16), (4, 3, 3, 3), dict(padding=1)),
       ((2, 1, 28, 28), (6, 1, 5, 5), dict(padding=2)),
       ((1, 2, 20, 20), (2, 2, 3, 3), dict(dilation=2, stride=1))]


@pytest.mark.parametrize("xs, ws, kw", CONV2D + BIG + [((3, 6, 9, 8), (6, 3, 3, 2),
                                                   dict(stride=(3, 2), padding=(2, 1),
                                                        dilation=(2, 3), groups=2))])
def test_conv2d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # torch warns about even 'same' kernels
        _vs_torch(lambda x, w, b: F.conv2d(x, w, b, **kw),
                  lambda x, w, b: torch.nn.functional.conv2d(x, w, b, **kw),
                  [xs, ws, (ws[0],)])


@pytest.mark.parametrize("xs, ws, kw", CONV1D + [((2, 3, 300), (2, 3, 5), dict(padding=2))])
def test_conv1d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    _vs_torch(lambda x, w: F.conv1d(x, w, **kw),
              lambda x, w: torch.nn.functional.conv1d(x, w, **kw), [xs, ws])


@pytest.mark.parametrize("xs, ws, kw", TRANSPOSE2D + [((2, 3, 16, 17), (3, 2, 3, 3),
                                                        dict(padding=1))])
def test_conv_transpose2d_matches_torch(xs, ws, kw):
    torch = pytest.importorskip("torch")
    bs = (ws[1] * kw.get("groups", 1),)
    _vs_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
              lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw),
              [xs, ws, bs])


TORCH_FUNCS = [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 7, 9)),
    ("max_pool2d", dict(kernel_size=(2, 3), stride=(2, 1), dilation=(2, 1)), (1, 2, 7, 6)),
    ("max_pool2d", dict(kernel_size=3, stride=2, ceil_mode=True), (1, 2, 8, 7)),
    ("max_pool1d", dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), (2, 3, 9)),
    ("avg_pool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
     (2, 3, 7, 8)),
    ("avg_pool2d", dict(kernel_size=2, stride=2, padding=1, ceil_mode=True), (1, 2, 7, 5)),
    ("avg_pool2d", dict(kernel_size=2, divisor_override=3), (1, 2, 4, 4)),
    ("avg_pool1d", dict(kernel_size=3, stride=2, ceil_mode=True), (2, 2, 8)),
    ("adaptive_avg_pool2d", dict(output_size=(3, 4)), (2, 2, 7, 9)),
    ("adaptive_avg_pool2d", dict(output_size=1), (2, 2, 5, 3)),
    ("adaptive_avg_pool1d", dict(output_size=4), (2, 2, 7)),
    ("adaptive_max_pool2d", dict(output_size=(5, 2)), (2, 2, 7, 9)),
    ("pad", dict(pad=(1, 2, 2, 0), mode="reflect"), (2, 3, 5, 6)),
    ("pad", dict(pad=(1, 2, 2, 3), mode="replicate"), (2, 3, 5, 6)),
    ("pad", dict(pad=(1, 2, 0, 3), mode="circular"), (2, 3, 5, 6)),
    ("pad", dict(pad=(1, 1, 2, 0, 1, 1), value=3.0), (2, 3, 5, 6)),
    ("interpolate", dict(scale_factor=2), (2, 3, 4, 6)),
    ("interpolate", dict(size=(5, 13)), (2, 3, 4, 6)),
    ("interpolate", dict(size=(5, 13), mode="bilinear", align_corners=True), (2, 3, 4, 6)),
    ("interpolate", dict(scale_factor=1.7, mode="bilinear", align_corners=False), (2, 3, 4, 6)),
    ("interpolate", dict(size=7, mode="linear", align_corners=False), (2, 3, 4)),
    # bicubic: taps beyond the edges clamped (their weights add up at the edge pixel);
    # upsampling, shrinking, one pixel, scale_factor kept or recomputed as the sizes' ratio
    ("interpolate", dict(scale_factor=2, mode="bicubic", align_corners=False), (2, 3, 4, 6)),
    ("interpolate", dict(size=(5, 13), mode="bicubic", align_corners=True), (2, 3, 4, 6)),
    ("interpolate", dict(size=(3, 2), mode="bicubic", align_corners=False), (1, 2, 8, 9)),
    ("interpolate", dict(size=(4, 3), mode="bicubic", align_corners=True), (1, 2, 1, 7)),
    ("interpolate", dict(scale_factor=(0.6, 1.7), mode="bicubic", align_corners=False),
     (1, 2, 6, 5)),
    ("interpolate", dict(scale_factor=(0.6, 1.7), mode="bicubic", align_corners=False,
                         recompute_scale_factor=True), (1, 2, 6, 5)),
    ("unfold", dict(kernel_size=(2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
     (2, 3, 7, 8)),
    ("fold", dict(output_size=(7, 8), kernel_size=(2, 3), dilation=(1, 2), padding=1,
                  stride=(2, 1)), (2, 18, 24)),
]


@pytest.mark.parametrize("name, kw, shape", TORCH_FUNCS)
def test_functions_match_torch(name, kw, shape):
    torch = pytest.importorskip("torch")
    tf = getattr(torch.nn.functional, name)
    _vs_torch(lambda x: getattr(F, name)(x, **kw), lambda x: tf(x, **kw), [shape])


def test_bicubic_upsample_module_and_float32_match_torch():
    torch = pytest.importorskip("torch")
    for ac in (None, False, True):
        z, t = (up(scale_factor=1.5, mode="bicubic", align_corners=ac)
                for up in (nn.Upsample, torch.nn.Upsample))
        assert repr(z) == repr(t)
        _vs_torch(z, t, [(2, 2, 4, 5)])
    x = values(rng, (1, 2, 5, 4)).astype(np.float32)
    y = F.interpolate(zeroin.tensor(x), size=(9, 6), mode="bicubic")
    ty = torch.nn.functional.interpolate(torch.tensor(x), size=(9, 6), mode="bicubic")
    assert y.dtype == np.float32
    np.testing.assert_allclose(y.data, ty.numpy(), rtol=1e-5, atol=1e-6)


AA_CASES = [((9, 13), dict(size=(4, 5))), ((8, 8), dict(size=(3, 3))),
            ((5, 9), dict(size=(12, 4))), ((7, 6), dict(size=(1, 1))),
            ((11, 10), dict(scale_factor=0.3)), ((9, 7), dict(scale_factor=(0.5, 1.7))),
            ((10, 9), dict(scale_factor=0.37, recompute_scale_factor=True)),
            ((9, 8), dict(size=(4, 3), align_corners=True)),
            ((12, 7), dict(scale_factor=0.45, align_corners=True))]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("hw,kw", AA_CASES, ids=[str(c[1]) for c in AA_CASES])
def test_interpolate_antialias_as_torch(mode, hw, kw):
    """interpolate(antialias=True), PyTorch's (and Pillow's) filter widened by the shrinking
    factor: zeroin refused it. float64 values and gradients against torch to ~1e-12,
    float32 values to 1e-5 (torch sums its taps in float32; measured up to 2.7e-6 of
    the largest value), and gradcheck."""
    torch = pytest.importorskip("torch")
    x = values(rng, (2, 3) + hw)
    r = None
    res = []
    for T in (torch, zeroin):
        t = T.tensor(x, requires_grad=True)
        y = T.nn.functional.interpolate(t, mode=mode, antialias=True, **kw)
        r = rng.uniform(-1, 1, tuple(y.shape)) if r is None else r
        (y * T.tensor(r)).sum().backward()
        y32 = T.nn.functional.interpolate(T.tensor(x.astype(np.float32)), mode=mode,
                                          antialias=True, **kw)
        res.append((np.asarray(y.tolist()), np.asarray(t.grad.tolist()),
                    np.asarray(y32.tolist(), dtype=np.float32)))
    (ty, tg, t32), (zy, zg, z32) = res
    np.testing.assert_allclose(zy, ty, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(zg, tg, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(z32, t32, rtol=0, atol=1e-5 * np.abs(t32).max())
    check_first(lambda t: F.interpolate(t, mode=mode, antialias=True, **kw), x[:1, :1])


def test_bicubic_interpolate_refusals():
    torch = pytest.importorskip("torch")
    for mode, shape in (("nearest", (1, 1, 4, 4)), ("trilinear", (1, 1, 4, 4, 4)),
                        ("linear", (1, 1, 4))):
        size = (2,) * (len(shape) - 2)
        with pytest.raises((RuntimeError, NotImplementedError, ValueError)):
            torch.nn.functional.interpolate(torch.zeros(shape), size=size, mode=mode,
                                            antialias=True)
        with pytest.raises(ValueError, match=r"interpolate: antialias=True needs mode "
                                             r"'bilinear' or 'bicubic' and a 4-D input"):
            F.interpolate(zeroin.zeros(*shape), size=size, mode=mode, antialias=True)
    with pytest.raises(ValueError, match=r"mode 'bicubic' is not supported for a 3-D input.*"
                                         r"4-D input \(N, C, H, W\)"):
        F.interpolate(zeroin.zeros(1, 1, 4), size=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners can only be set with mode "
                                         "'bilinear' or 'bicubic'"):
        F.interpolate(zeroin.zeros(1, 1, 4, 4), size=2, align_corners=True)


def test_batch_norm_4d_matches_torch():
    torch = pytest.importorskip("torch")
    _vs_torch(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
              lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b,
                                                             training=True),
              [(4, 3, 5, 2), (3,), (3,)])


def test_max_pool_indices_ties_and_nan_as_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).integers(0, 3, (2, 2, 6, 7)).astype(float)  # many ties
    x[0, 0, 1, 1] = np.nan
    y, i = F.max_pool2d(zeroin.tensor(x), 3, 2, 1, return_indices=True)
    ty, ti = torch.nn.functional.max_pool2d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(y.data, ty.numpy())       # NaN where PyTorch has NaN
    np.testing.assert_array_equal(i.data, ti.numpy())
    assert i.dtype == np.int64 and not i.requires_grad
    ya, ia = F.adaptive_max_pool2d(zeroin.tensor(x), (4, 3), return_indices=True)
    tya, tia = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), (4, 3),
                                                       return_indices=True)
    np.testing.assert_array_equal(ya.data, tya.numpy())
    np.testing.assert_array_equal(ia.data, tia.numpy())
    assert ya.is_contiguous() and tya.is_contiguous()      # .view(n, -1) works on both
    assert ya.view(ya.shape[0], -1).shape == tya.view(tya.shape[0], -1).shape


def test_float32_stays_float32_and_matches_float64():
    x = values(rng, (2, 3, 6, 6)).astype(np.float32)
    w = values(rng, (4, 3, 3, 3)).astype(np.float32)
    xt, wt = zeroin.tensor(x, requires_grad=True), zeroin.tensor(w, requires_grad=True)
    y = F.max_pool2d(F.conv2d(xt, wt, padding=1), 2)
    assert y.dtype == np.float32
    y.sum().backward()
    assert xt.grad.dtype == np.float32 and wt.grad.dtype == np.float32
    y64 = F.max_pool2d(F.conv2d(zeroin.tensor(x.astype(float)), zeroin.tensor(w.astype(float)),
                                padding=1), 2)
    np.testing.assert_allclose(y.data, y64.data, rtol=1e-5, atol=1e-5)


def test_only_needed_gradients_are_computed():
    x = zeroin.tensor(values(rng, (2, 2, 5, 5)))            # data: no gradient
    w = leaf(values(rng, (3, 2, 3, 3)))
    y = F.conv2d(x, w)
    assert y.grad_fn.needs_input_grad == (False, True)
    grads = y.grad_fn.backward(zeroin.ops.NP, np.ones(y.shape), y.data, x.data, w.data)
    assert grads[0] is None and grads[1].shape == w.shape
    frozen = zeroin.tensor(w.data)
    y2 = F.conv2d(leaf(x.data), frozen)
    grads = y2.grad_fn.backward(zeroin.ops.NP, np.ones(y2.shape), y2.data, x.data, w.data)
    assert grads[1] is None and grads[0].shape == x.shape


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, words", [
    (lambda: F.conv2d(np.zeros((1, 3, 8, 8)), np.zeros((4, 2, 3, 3))),
     ["conv2d", "(1, 3, 8, 8)", "in_channels=2", "Conv2d(3, 4"]),
    (lambda: F.conv2d(np.zeros((1, 3, 4, 4)), np.zeros((4, 3, 5, 5))),
     ["conv2d", "kernel (5, 5)", "padded input (4, 4)", "more padding"]),
    (lambda: F.conv2d(np.zeros((1, 6, 8, 8)), np.zeros((4, 2, 3, 3)), groups=4),
     ["conv2d", "groups=4", "must divide", "(1, 6, 8, 8)"]),
    (lambda: F.conv2d(np.zeros((1, 1, 3, 8, 8)), np.zeros((4, 3, 3, 3))),
     ["conv2d", "4-D input (N, C, H, W)", "unbatched 3-D input (C, H, W)", "(1, 1, 3, 8, 8)"]),
    (lambda: F.conv2d(np.zeros((3, 8, 8)), np.zeros((4, 2, 3, 3))),
     ["conv2d", "in_channels=2", "unbatched input (3, 8, 8) taken as a batch of one"]),
    (lambda: F.conv2d(np.zeros((2, 64)), np.zeros((4, 1, 3, 3))),
     ["conv2d", "(2, 64)", "reshape"]),
    (lambda: F.conv2d(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3)), stride=2,
                      padding="same"), ["conv2d", "same", "strided"]),
    (lambda: F.max_pool2d(np.zeros((1, 1, 3, 3)), 4), ["max_pool2d", "window (4, 4)",
                                                         "(3, 3)", "output would be"]),
    (lambda: F.conv_transpose2d(np.zeros((1, 2, 3, 3)), np.zeros((3, 2, 3, 3))),
     ["conv_transpose2d", "3 channels", "(1, 2, 3, 3)"]),
    (lambda: F.conv1d(np.zeros((1, 2, 4)), np.zeros((3, 2, 3)), bias=np.zeros(2)),
     ["conv1d", "bias", "(3,)"]),
])
def test_errors_name_the_op_the_shapes_and_the_fix(call, words):
    with pytest.raises((ShapeError, ValueError)) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_mixed_dtypes_are_refused_with_the_fix():
    conv = nn.Conv2d(1, 2, 3)               # float64 parameters
    with pytest.raises(TypeError, match=r"model.to.*zeroin's default dtype is float64 "
                                         r"\(PyTorch's is float32\)"):
        conv(zeroin.tensor(np.zeros((1, 1, 5, 5), dtype=np.float32)))   # fast.ai's float32 data
    # the message says which side is which, and its fix converts the model to the input's
    # dtype (not to the dtype it already has)
    conv.float()
    with pytest.raises(TypeError) as e:
        conv(zeroin.zeros(1, 1, 5, 5, dtype=zeroin.float64))
    assert ("conv2d: input has dtype float64 but the weight is float32" in str(e.value)
            and "model.to(zeroin.float64)" in str(e.value)
            and "x.to(zeroin.float32)" in str(e.value)), str(e.value)
    conv.bias.data = conv.bias.data.astype(np.float64)
    with pytest.raises(TypeError, match="weight has dtype float32 but the bias float64"):
        conv(zeroin.zeros(1, 1, 5, 5, dtype=zeroin.float32))


@pytest.mark.parametrize("dtype", ["uint8", "int64"])
def test_integer_images_into_a_conv_are_refused_as_pytorch_with_its_fix(dtype):
    # ZTM 04: an image from read_image is uint8 (0..255); PyTorch raises a RuntimeError
    # ("Input type (unsigned char) and bias type (float) should be the same"); zeroin's
    # was a TypeError whose fix, .astype('float32'), is NumPy's
    torch = pytest.importorskip("torch")
    img = np.random.default_rng(0).integers(0, 256, (1, 3, 6, 6)).astype(dtype)
    with pytest.raises(RuntimeError):
        torch.nn.Conv2d(3, 2, 3)(torch.from_numpy(img))
    conv = nn.Conv2d(3, 2, 3).float()
    with pytest.raises(RuntimeError) as e:
        conv(zeroin.from_numpy(img))
    msg = str(e.value)
    assert msg.startswith(f"conv2d: input has dtype {dtype} but the weight is float32")
    assert "x.to(zeroin.float32)" in msg and "astype" not in msg
    assert ("/ 255" in msg) == (dtype == "uint8")
    assert isinstance(e.value, TypeError)                   # what it raised before
    assert conv(zeroin.from_numpy(img).to(zeroin.float32) / 255).shape == (1, 2, 4, 4)
    with pytest.raises(RuntimeError, match=r"floating-point tensors, got dtypes float64, "
                                           r"int64; convert them with \.to\(zeroin"):
        F.conv2d(zeroin.zeros(1, 3, 6, 6), zeroin.zeros(2, 3, 3, 3, dtype=zeroin.int64))


def test_cs231n_float32_weights_with_a_default_dtype_bias_say_why():
    # CS231n's three_layer_convnet_test: conv_w1 = zeros(..., dtype=torch.float32), but
    # conv_b1 = zeros((6,)): float32 in PyTorch, float64 (the default) in zeroin
    torch = pytest.importorskip("torch")
    x = zeroin.zeros((2, 3, 8, 8), dtype=zeroin.float32)
    w = zeroin.zeros((6, 3, 5, 5), dtype=zeroin.float32)
    with pytest.raises(RuntimeError, match=r"^conv2d: the weight has dtype float32 but the "
                       r"bias float64; .* b\.to\(zeroin\.float32\); zeroin's default dtype is "
                       r"float64 \(PyTorch's is float32\)"):
        F.conv2d(x, w, zeroin.zeros((6,)), padding=2)
    with pytest.raises(RuntimeError):       # PyTorch's type, for a bias really of float64
        torch.nn.functional.conv2d(torch.zeros(2, 3, 8, 8), torch.zeros(6, 3, 5, 5),
                                   torch.zeros(6, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"input has dtype float64 .*default dtype"):
        F.conv2d(zeroin.zeros((2, 3, 8, 8)), w)
    assert F.conv2d(x, w, zeroin.zeros((6,), dtype=zeroin.float32), padding=2).shape == \
        (2, 6, 8, 8)
    with pytest.raises(TypeError) as e:      # float16 and float32: no word on the default
        F.conv2d(x, w, zeroin.zeros((6,), dtype=zeroin.float16))
    assert "default" not in str(e.value)


# --- modules -----------------------------------------------------------------------------

def test_modules_match_torch_with_the_same_weights():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(2).standard_normal((2, 3, 9, 8))
    pairs = [(nn.Conv2d(3, 4, 3, padding=1, padding_mode=m),
              torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode=m, dtype=torch.float64))
             for m in ("zeros", "reflect", "replicate", "circular")]
    pairs.append((nn.Conv2d(3, 6, (3, 2), stride=2, padding="valid", groups=3, bias=False),
                  torch.nn.Conv2d(3, 6, (3, 2), stride=2, groups=3, bias=False,
                                  dtype=torch.float64)))
    pairs.append((nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
                  torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1,
                                           dtype=torch.float64)))
    for z, t in pairs:
        assert z.weight.shape == tuple(t.weight.shape)
        with torch.no_grad():
            t.weight.copy_(torch.tensor(z.weight.data))
            if t.bias is not None:
                t.bias.copy_(torch.tensor(z.bias.data))
        np.testing.assert_allclose(z(zeroin.tensor(x)).data,
                                   t(torch.tensor(x)).detach().numpy(), atol=1e-12)
        assert repr(z).replace("padding=same", "") .startswith(type(z).__name__)


def test_default_initialisation_is_pytorchs():
    conv = nn.Conv2d(6, 16, 5)
    bound = 1 / np.sqrt(6 * 25)              # kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.bias.data).max() <= bound
    assert conv.weight.data.std() == pytest.approx(bound / np.sqrt(3), rel=0.1)
    t = nn.ConvTranspose2d(4, 2, 3)
    assert t.weight.shape == (4, 2, 3, 3) and np.abs(t.weight.data).max() <= 1 / np.sqrt(18)


def test_pytorch_cnn_definition_runs_and_learns():
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Dropout2d(0.1), nn.Conv2d(4, 8, 3),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    r = np.random.default_rng(0)
    x = r.standard_normal((32, 1, 8, 8))
    y = (x[:, 0, :, :4].sum(axis=(1, 2)) > x[:, 0, :, 4:].sum(axis=(1, 2))).astype(int)
    opt = zeroin.optim.Adam(model.parameters(), lr=0.03)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(zeroin.tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    model.eval()
    assert model(zeroin.tensor(x[:3])).shape == (3, 2)


def test_other_modules_shapes():
    x = zeroin.tensor(values(rng, (2, 3, 6, 8)))
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 3, 4)
    assert nn.AvgPool2d(3, stride=2, padding=1)(x).shape == (2, 3, 3, 4)
    assert nn.AdaptiveMaxPool2d((2, 2))(x).shape == (2, 3, 2, 2)
    assert nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)(x).shape == \
        (2, 3, 12, 16)
    assert nn.Dropout2d(0.5).eval()(x) is x
    x1 = zeroin.tensor(values(rng, (2, 3, 9)))
    assert nn.Conv1d(3, 5, 3, padding="same", padding_mode="reflect")(x1).shape == (2, 5, 9)
    assert nn.MaxPool1d(2)(x1).shape == (2, 3, 4)
    assert nn.AvgPool1d(3)(x1).shape == (2, 3, 3)
    assert nn.AdaptiveAvgPool1d(2)(x1).shape == (2, 3, 2)
    assert nn.ConvTranspose1d(3, 2, 2, stride=2)(x1).shape == (2, 2, 18)
    ct = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    assert ct(x, output_size=(12, 16)).shape == (2, 2, 12, 16)
    with pytest.raises(ValueError, match="BatchNorm2d"):
        nn.BatchNorm2d(3)(zeroin.tensor(np.zeros((2, 3))))


def test_dropout2d_drops_whole_channels():
    zeroin.manual_seed(1)
    y = F.dropout2d(zeroin.tensor(np.ones((8, 6, 3, 3))), 0.5).data
    per_channel = y.reshape(8, 6, -1)
    assert np.all(per_channel.min(axis=2) == per_channel.max(axis=2))   # all or nothing
    assert set(np.unique(y)) <= {0.0, 2.0} and 0 < (y == 0).mean() < 1


def test_explain_and_draw_show_a_conv_as_one_node():
    x = zeroin.tensor(values(rng, (1, 1, 5, 5)), name="x")
    w = leaf(values(rng, (2, 1, 3, 3)), name="w")
    loss = F.max_pool2d(F.conv2d(x, w, padding=1), 2).sum()
    text = str(zeroin.explain(loss, w))
    assert "conv2d" in text and "1x2x5x5" in text
    kinds = [type(t.grad_fn).__name__ for t in zeroin.graph.toposort([loss]) if t.grad_fn]
    assert kinds.count("Conv2dOp") == 1 and len(kinds) == 3
    assert "conv2d[p=1]" in zeroin.draw(loss, wrt=w).svg()


# --- the CNN recipe and the lesson --------------------------------------------------------

def test_train_cnn_on_a_small_generated_idx_mnist(tmp_path):
    from zeroin.data.mnist import MNIST_FILES, write_idx
    from zeroin.nn.cnn import LeNet5, train_cnn
    r = np.random.default_rng(0)
    n_train, n_test = 64, 32
    for split, n in (("train", n_train), ("test", n_test)):
        labels = r.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):        # a bright block whose place says the class
            images[i, 2 + 2 * c:6 + 2 * c, 4:20] = 255
        write_idx(tmp_path / MNIST_FILES[f"{split}_images"], images)
        write_idx(tmp_path / MNIST_FILES[f"{split}_labels"], labels)
    model, history, d, test = train_cnn(f"mnist:{tmp_path}", epochs=6, lr=0.01,
                                        out=tmp_path / "out")
    assert isinstance(model, LeNet5) and d.in_features == 784
    assert test["accuracy"] >= 0.5 and history.history["loss"][-1] < history.history["loss"][0]
    assert (tmp_path / "out" / "model.npz").exists()


def test_cli_train_cnn_on_digits(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from zeroin.cli import main
    assert main(["train", "digits", "--model", "cnn", "--epochs", "1", "--out",
                 str(tmp_path), "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "training a CNN (small) on digits" in out and "accuracy" in out
    trained = float(out.split("test  ")[1].split("accuracy ")[1].split()[0])
    assert main(["evaluate", str(tmp_path / "model.npz"), "digits"]) == 0
    out = capsys.readouterr().out
    assert f"accuracy {trained:.4f}" in out, out
    with pytest.raises(SystemExit):
        main(["train", "digits", "--model", "resnet"])


def test_cnn_refuses_non_image_rows():
    from zeroin.nn.cnn import build_cnn
    with pytest.raises(ValueError, match="square image"):
        build_cnn(10, 2)


def test_lesson_convolution(tmp_path):
    pytest.importorskip("sklearn")
    r = zeroin.lessons.convolution(out=str(tmp_path), verbose=False, train_epochs=1)
    assert r.name == "convolution" and r.max_diff_w == 0 and r.max_diff_x == 0
    assert r.y == [[-8, 0, 8], [-9, 0, 9], [-8, 0, 8]]
    assert r.table("The sliding window").rows[4][3] == r.y_center == 0
    assert r.grad_w == r.grad_w_formula and r.grad_x == r.grad_x_formula
    assert "conv2d" in r.texts["explain"] and 0.5 < r.cnn_test_accuracy <= 1
    assert zeroin.lessons.run("convolution", out=str(tmp_path), verbose=False,
                              train_epochs=1).name == "convolution"


@pytest.mark.slow
def test_docs_cnn_python_recipe_runs_as_written(capsys):
    pytest.importorskip("sklearn")
    import os
    import re
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "cnn.md")
    with open(path, encoding="utf-8") as f:
        (code,) = re.findall(r"```python\n(.*?)```", f.read(), flags=re.DOTALL)
    scope = {}
    exec(compile(code, path, "exec"), scope)
    assert scope["test"]["accuracy"] > 0.93
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("xs, ws, kw", [
    ((3, 6, 14, 14), (16, 6, 5, 5), {}),                           # LeNet's second conv
    ((2, 2, 6, 5), (3, 2, 2, 4), dict(padding="same", dilation=(2, 1))),
    ((2, 3, 5, 7), (4, 3, 3, 2), dict(padding=(1, 2)))])
def test_whole_row_conv_transpose_matches_col2im(xs, ws, kw):
    """The stride-1 input gradient spread on whole image rows adds the same numbers in the
    same order as the column-by-column col2im; a non-finite weight takes col2im. Its product
    w^T y is over a wider matrix, so OpenBLAS may block it otherwise: the same bits with
    NumPy 2.4's OpenBLAS 0.3.31, a few in 10^15 apart in the last bits with NumPy 2.2's
    0.3.29 (Python 3.10) -- rounding, where a wrong offset would be off by O(1)."""
    from zeroin.nn import _conv
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    y = F.conv2d(leaf(x), leaf(w), **kw)
    geo, g = y.grad_fn.geo, rng.standard_normal(y.shape)
    wide = _conv._transpose_arrays(g, w, geo, xs[1])
    assert not _conv._per_sample(geo)
    cols = _conv._transpose_cols(g, w, geo, xs[1], g.dtype)
    np.testing.assert_allclose(wide, cols, rtol=1e-13, atol=1e-13 * np.abs(cols).max())
    w[0, 0, 0, 0] = np.inf
    np.testing.assert_array_equal(_conv._transpose_arrays(g, w, geo, xs[1]),
                                  _conv._transpose_cols(g, w, geo, xs[1], g.dtype))


@pytest.mark.parametrize("hw, kw", [((6, 8), {}), ((5, 7), {}), ((5, 5), dict(ceil_mode=True)),
                                    ((6, 6), dict(padding=1)), ((7, 7), dict(stride=3))])
def test_max_pool_gradient_is_one_at_each_maximum_and_zero_elsewhere(hw, kw):
    """Tiling windows write the gradient without a zero fill; the uncovered rows, columns
    and padding must still come back exactly 0."""
    x = leaf(rng.standard_normal((2, 3) + hw))
    y, where = F.max_pool2d(x, 2, return_indices=True, **kw)
    y.sum().backward()
    want = np.zeros((6, hw[0] * hw[1]))
    np.add.at(want, (np.arange(6)[:, None], where.numpy().reshape(6, -1)), 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), want.reshape(x.shape))


@pytest.mark.parametrize("fn, xs, ws", [(F.conv1d, (2, 3, 7), (4, 3, 3)),
                                        (F.conv2d, (2, 3, 6, 5), (4, 3, 3, 3)),
                                        (F.conv3d, (1, 2, 4, 4, 3), (3, 2, 2, 2, 2))],
                         ids=["conv1d", "conv2d", "conv3d"])
def test_convolution_keeps_its_columns_only_for_the_weights_gradient(fn, xs, ws, monkeypatch):
    # the im2col columns (C*k*k times the input) are read by the weight's gradient only:
    # with a frozen weight (input gradients for adversarial examples, a fixed feature
    # extractor) the graph must not hold them; the gradients stay the same
    import gc
    import weakref
    from zeroin.nn import _conv, _volume
    made = []
    for mod in (_conv, _volume):
        real = mod._im2col
        monkeypatch.setattr(mod, "_im2col", lambda *a, real=real, **k: (
            made.append(weakref.ref(out := real(*a, **k))), out)[1])
    x0, w0 = values(rng, xs), values(rng, ws)
    grads = {}
    for w_grad in (True, False):
        x, w = leaf(x0), zeroin.tensor(w0, requires_grad=w_grad)
        made.clear()
        y = fn(x, w, padding=1)
        gc.collect()
        assert len(made) == 1 and (made[0]() is not None) == w_grad   # alive with y's graph
        (y * y).sum().backward()
        grads[w_grad] = x.grad.data
    np.testing.assert_array_equal(grads[True], grads[False])


def test_frozen_conv_layer_holds_no_columns_and_gives_the_input_gradient_of_torch():
    torch = pytest.importorskip("torch")
    z, t = nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1).double()
    z.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    for m in (z, t):
        m.requires_grad_(False)
    x0 = values(rng, (2, 3, 5, 6))
    xz, xt = leaf(x0), torch.tensor(x0, requires_grad=True)
    y = z(xz)
    assert y.grad_fn.saved is None          # the graph holds x, w and the node, no columns
    y.sum().backward()
    t(xt).sum().backward()
    np.testing.assert_allclose(xz.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert z.weight.grad is None


@pytest.mark.parametrize("name, shape, size", [
    ("adaptive_avg_pool1d", (2, 3, 5), 0), ("adaptive_max_pool1d", (2, 3, 5), 0),
    ("adaptive_avg_pool2d", (2, 3, 5, 4), 0), ("adaptive_avg_pool2d", (2, 3, 5, 4), (0, 2)),
    ("adaptive_max_pool2d", (2, 3, 5, 4), (2, 0)), ("adaptive_avg_pool3d", (2, 3, 4, 4, 4), 0),
    ("adaptive_max_pool3d", (3, 4, 4, 4), (1, 0, 2))])
def test_adaptive_pools_take_output_size_0_as_torch(name, shape, size):
    # an empty result that requires grad, whose backward raises (PyTorch refuses the empty
    # gradient); zeroin refused output_size 0 ("must be >= 1")
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal(shape)
    outs = []
    for T in (torch, zeroin):
        x = T.tensor(a, requires_grad=True)
        y = getattr(T.nn.functional, name)(x, size)
        outs.append((tuple(y.shape), y.requires_grad))
        with pytest.raises(RuntimeError):
            y.sum().backward()
    assert outs[0] == outs[1]
    if "max" in name:
        y, idx = getattr(F, name)(zeroin.tensor(a), size, return_indices=True)
        t_idx = getattr(torch.nn.functional, name)(torch.tensor(a), size, return_indices=True)[1]
        assert idx.shape == y.shape == tuple(t_idx.shape) and idx.dtype == np.int64


def test_adaptive_pools_refuse_an_empty_input_dimension_as_torch():
    # zeroin pooled a (2, 3, 0) input into a (2, 3, 2) one of means of nothing
    torch = pytest.importorskip("torch")
    for name, shape in (("adaptive_avg_pool1d", (2, 3, 0)), ("adaptive_avg_pool2d", (2, 3, 0, 3)),
                        ("adaptive_max_pool2d", (2, 1, 3, 0)),
                        ("adaptive_avg_pool3d", (1, 1, 2, 0, 2))):
        with pytest.raises(RuntimeError):
            getattr(torch.nn.functional, name)(torch.zeros(shape), 2)
        with pytest.raises(ShapeError, match=rf"{name}: input of shape .* has an empty "
                                             r"spatial dimension"):
            getattr(F, name)(zeroin.zeros(shape), 2)
    assert F.adaptive_avg_pool1d(zeroin.zeros(0, 3, 4), 2).shape == (0, 3, 2)   # batch 0: fine


@pytest.mark.parametrize("transpose", [False, True])
def test_depthwise_against_torch(transpose):
    # one channel a group: the products over an inner dimension of 1 taken as outer products
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 6, 9, 8)).astype(np.float32)
    w = r.standard_normal((6, 2 if transpose else 1, 3, 3)).astype(np.float32)
    kw = dict(stride=2, padding=1, groups=6)
    res = []
    for T in (zeroin, torch):
        xt, wt = T.tensor(x, requires_grad=True), T.tensor(w, requires_grad=True)
        f = T.nn.functional.conv_transpose2d if transpose else T.nn.functional.conv2d
        out = f(xt, wt, **kw)
        (out * out).sum().backward()
        res.append([out.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    f = F.conv_transpose2d if transpose else F.conv2d
    small = [leaf(a) for a in _case([(1, 6, 5, 4), w.shape])]
    assert zeroin.gradcheck(lambda x, w: f(x, w, **kw), small)


def test_batch_norm_of_the_wrong_channel_count_raises_pytorchs_runtime_error():
    """DLWPT ch8's NetBatchNorm: PyTorch raises RuntimeError for a channel count that is not
    num_features (ValueError for a wrong number of dimensions); ShapeError is both."""
    torch = pytest.importorskip("torch")
    for n, shape in [(1, (2, 4)), (1, (2, 4, 5)), (2, (2, 4, 3, 3)), (3, (2, 4, 2, 2, 2))]:
        with pytest.raises(RuntimeError):
            getattr(torch.nn, f"BatchNorm{n}d")(3)(torch.ones(shape))
        with pytest.raises(RuntimeError, match=f"BatchNorm{n}d: expected input of shape"):
            getattr(nn, f"BatchNorm{n}d")(3)(zeroin.ones(shape))
    with pytest.raises(ValueError):
        torch.nn.BatchNorm2d(3)(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="BatchNorm2d"):
        nn.BatchNorm2d(3)(zeroin.ones(2, 3, 4))


def test_dropout2d_of_a_3d_input_warns_as_pytorchs_and_drops_per_row():
    torch = pytest.importorskip("torch")
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d") as theirs:
        torch.nn.Dropout2d(p=0.4)(torch.ones(8, 4, 5))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d") as mine:
        y = nn.Dropout2d(p=0.4)(zeroin.ones(8, 4, 5)).numpy()
    assert str(mine[0].message) == str(theirs[0].message)
    assert np.all(y.min(axis=2) == y.max(axis=2))         # (N, C, L): a whole row at a time
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.dropout2d(zeroin.ones(2, 4, 3, 3), 0.4)           # 4-D: silent, as PyTorch's
        nn.Dropout1d(0.4)(zeroin.ones(8, 4, 5))             # dropout1d too
        nn.Dropout1d(0.4)(zeroin.ones(4, 5))


def test_dropout2d_of_2d_and_5d_input_warns_and_drops_per_feature_as_pytorchs():
    torch = pytest.importorskip("torch")
    for shape in [(8, 6), (2, 3, 2, 2, 2)]:
        with pytest.warns(UserWarning, match="-D input to dropout2d, which is deprecated") as w:
            y = F.dropout2d(zeroin.ones(shape), 0.5).numpy()
        with pytest.warns(UserWarning) as tw:
            torch.nn.functional.dropout2d(torch.ones(shape), 0.5)
        assert str(w[0].message) == str(tw[0].message)
        flat = y.reshape(shape[0], shape[1], -1)
        assert np.all(flat.min(axis=2) == flat.max(axis=2)) and set(np.unique(y)) <= {0, 2}
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")         # PyTorch warns, then raises
        torch.nn.functional.dropout2d(torch.ones(6), 0.5)
    with pytest.raises(RuntimeError, match="dropout2d: Feature dropout requires at least 2"):
        F.dropout2d(zeroin.ones(6), 0.5)


@pytest.mark.parametrize("case", ["conv1d", "conv2d", "conv2d_groups_stride", "Conv2d"])
def test_an_empty_batch_convolves_to_an_empty_batch_as_torch(case):
    """PyTorch's convolutions take N = 0 (the last batch of a filtered dataset): output
    (0, C_out, ...), zero gradients for the weight and bias; zeroin's kernels reshaped the
    empty input by -1 and raised."""
    torch = pytest.importorskip("torch")
    shapes = {"conv1d": ((0, 2, 5), (3, 2, 2), {}),
              "conv2d": ((0, 1, 4, 4), (2, 1, 3, 3), dict(padding=1)),
              "conv2d_groups_stride": ((0, 4, 5, 5), (6, 2, 2, 2), dict(groups=2, stride=2)),
              "Conv2d": ((0, 1, 4, 4), (2, 1, 3, 3), {})}
    xs, ws, kw = shapes[case]
    res = []
    for T in (torch, zeroin):
        x = T.ones(*xs, dtype=T.float64, requires_grad=True)
        w = T.ones(*ws, dtype=T.float64, requires_grad=True)
        b = T.ones(ws[0], dtype=T.float64, requires_grad=True)
        f = getattr(T.nn.functional, "conv1d" if case == "conv1d" else "conv2d")
        y = f(x, w, b, **kw)
        if case == "Conv2d":
            m = T.nn.Conv2d(1, 2, 3).double()
            y, w, b = m(x), m.weight, m.bias
        y.sum().backward()
        res.append((tuple(y.shape), tuple(x.grad.shape), np.asarray(w.grad.tolist()),
                    np.asarray(b.grad.tolist())))
    (ts, tx, tw, tb), (zs, zx, zw, zb) = res
    assert zs == ts and zx == tx and ts[0] == 0
    np.testing.assert_array_equal(zw, tw)
    np.testing.assert_array_equal(zb, tb)


# PyTorch's unbatched input, (C, L) / (C, H, W): (op, input shape, extra tensor shape, call)
UNBATCHED = [
    ("conv1d", (3, 7), (2, 3, 3), lambda F, x, w: F.conv1d(x, w, stride=2, padding=1)),
    ("conv2d", (4, 5, 6), (4, 2, 3, 1), lambda F, x, w: F.conv2d(x, w, padding="same",
                                                                 dilation=2, groups=2)),
    ("conv_transpose1d", (3, 4), (3, 2, 3),
     lambda F, x, w: F.conv_transpose1d(x, w, stride=2, output_padding=1)),
    ("conv_transpose2d", (2, 3, 3), (2, 3, 2, 2),
     lambda F, x, w: F.conv_transpose2d(x, w, stride=2, padding=1)),
    ("max_pool1d", (2, 7), None, lambda F, x: F.max_pool1d(x, 3, 2, ceil_mode=True)),
    ("max_pool2d", (2, 5, 6), None, lambda F, x: F.max_pool2d(x, 2, padding=1)),
    ("avg_pool1d", (2, 7), None, lambda F, x: F.avg_pool1d(x, 3, 2, padding=1)),
    ("avg_pool2d", (2, 5, 6), None,
     lambda F, x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)),
    ("adaptive_max_pool2d", (2, 5, 7), None, lambda F, x: F.adaptive_max_pool2d(x, (2, 3))),
    ("adaptive_avg_pool1d", (2, 7), None, lambda F, x: F.adaptive_avg_pool1d(x, 3)),
    ("adaptive_avg_pool2d", (2, 5, 7), None, lambda F, x: F.adaptive_avg_pool2d(x, (2, 3))),
    ("lp_pool1d", (2, 7), None, lambda F, x: F.lp_pool1d(x.abs() + 0.5, 2, 3, 2)),
    ("lp_pool2d", (2, 5, 6), None, lambda F, x: F.lp_pool2d(x.abs() + 0.5, 3, 2)),
    ("unfold", (2, 4, 5), None, lambda F, x: F.unfold(x, (2, 3), padding=1, stride=2)),
    ("fold", (8, 9), None, lambda F, x: F.fold(x, (4, 4), 2, stride=1)),
]


@pytest.mark.parametrize("name,shape,wshape,call", UNBATCHED, ids=[c[0] for c in UNBATCHED])
def test_unbatched_input_as_torch(name, shape, wshape, call):
    """PyTorch's convolutions, 1-D and 2-D pooling, unfold and fold take an input without
    the batch dimension and return a result without it; zeroin refused it ("expected a
    4-D input (N, C, H, W)"). Values and gradients against PyTorch, and gradcheck."""
    torch = pytest.importorskip("torch")
    arrays = [values(rng, shape)] + ([values(rng, wshape)] if wshape else [])
    r = None
    res = []
    for T in (torch, zeroin):
        ts = [T.tensor(a, requires_grad=True) for a in arrays]
        y = call(T.nn.functional, *ts)
        r = rng.uniform(-1, 1, tuple(y.shape)) if r is None else r
        (y * T.tensor(r)).sum().backward()
        res.append((np.asarray(y.tolist()), [np.asarray(t.grad.tolist()) for t in ts]))
    (ty, tg), (zy, zg) = res
    assert zy.shape == ty.shape and zy.ndim == len(shape) - (name == "unfold") + \
        (name == "fold")
    np.testing.assert_allclose(zy, ty, rtol=1e-10, atol=1e-12)
    for a, b in zip(zg, tg):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    check_first(lambda *ts: call(F, *ts), *arrays)


def test_unbatched_max_pool_indices_and_unpool_as_torch():
    """return_indices of an unbatched max_pool1d/2d lose the batch dimension too, and
    max_unpool takes them back (PyTorch's round trip on a (C, L) / (C, H, W) input)."""
    torch = pytest.importorskip("torch")
    for shape, pool, unpool in (((2, 8), "max_pool1d", "max_unpool1d"),
                                ((2, 6, 6), "max_pool2d", "max_unpool2d"),
                                ((2, 5, 7), "adaptive_max_pool2d", None)):
        a = values(rng, shape)
        out = []
        for T in (torch, zeroin):
            Fn = T.nn.functional
            arg = (2, 3) if pool.startswith("adaptive") else 2
            y, i = getattr(Fn, pool)(T.tensor(a), arg, return_indices=True)
            u = getattr(Fn, unpool)(y, i, 2) if unpool else y
            out.append((np.asarray(y.tolist()), np.asarray(i.tolist()), np.asarray(u.tolist())))
        for z, t in zip(out[1], out[0]):
            assert z.shape == t.shape
            np.testing.assert_array_equal(z, t)


@pytest.mark.parametrize("mod,shape", [("Conv2d", (3, 4)), ("MaxPool2d", (5,)),
                                       ("Conv1d", (1, 3, 4, 4, 4)), ("Unfold", (2, 1))])
def test_wrong_rank_names_the_batched_and_unbatched_shapes(mod, shape):
    """Neither (N, C, *) nor an unbatched (C, *): the error names both shapes accepted."""
    m = {"Conv2d": nn.Conv2d(1, 1, 1), "MaxPool2d": nn.MaxPool2d(2),
         "Conv1d": nn.Conv1d(1, 1, 1), "Unfold": nn.Unfold(2)}[mod]
    with pytest.raises(ShapeError) as e:
        m(zeroin.zeros(*shape))
    nd = 1 if mod == "Conv1d" else 2
    layout = "(N, C, L)" if nd == 1 else "(N, C, H, W)"
    assert f"expected a {nd + 2}-D input {layout} or an unbatched {nd + 1}-D input " \
           f"({layout[4:]}, got shape {shape}" in str(e.value)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_interpolate_nearest_indices_as_torch_on_a_grid_of_sizes(nd):
    """PyTorch's CPU 'nearest' rounds its source index in float32 (2-D: with a float32
    scale, and o = n or 2n copy or halve the index whatever the scale_factor; 1-D and
    3-D: the float64 product rounded to float32); zeroin's float64 floor differed, e.g.
    6 -> 74 (output 37 from input 3, zeroin 2), 18 -> 66, 31 * 2.7 (output 81).
    'nearest-exact' (floor((i + 0.5) * scale)) and 'area' (adaptive average pooling) were
    refused. Each case here against torch (wider grids, 18,795 1-D cases and 1,102 of
    each rank and mode, measured equal too)."""
    torch = pytest.importorskip("torch")
    for mode in ("nearest", "nearest-exact", "area"):
        for n in (1, 2, 5, 6, 7, 12, 18, 21, 26, 31):
            shape = (1, 1) + (2,) * (nd - 1) + (n,)
            x = np.arange(float(np.prod(shape))).reshape(shape)
            sizes = [dict(size=(2,) * (nd - 1) + (o,))
                     for o in (1, 3, 5, 9, 11, 46, 66, 69, 74, 77)]
            sfs = [dict(scale_factor=f, recompute_scale_factor=r)
                   for f in (0.5, 1.01, 1.7, 2.0, 2.7, 3.3) for r in (None, True)
                   if int(n * f) >= 1]
            for kw in sizes + sfs:
                want = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kw)
                got = F.interpolate(zeroin.tensor(x), mode=mode, **kw)
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-14,
                                           err_msg=f"{mode} {n} {kw}")


@pytest.mark.parametrize("mode", ["nearest-exact", "area"])
@pytest.mark.parametrize("shape", [(2, 3, 7), (1, 2, 5, 7), (1, 2, 3, 4, 5)])
def test_interpolate_nearest_exact_and_area_gradients_as_torch(mode, shape):
    torch = pytest.importorskip("torch")
    x = values(rng, shape)
    kw = dict(scale_factor=1.6) if mode == "nearest-exact" else dict(size=(3,) * (len(shape) - 2))
    t = torch.tensor(x, requires_grad=True)
    z = leaf(x)
    ty = torch.nn.functional.interpolate(t, mode=mode, **kw)
    zy = F.interpolate(z, mode=mode, **kw)
    r = rng.uniform(-1, 1, tuple(ty.shape))
    (ty * torch.tensor(r)).sum().backward()
    (zy * zeroin.tensor(r)).sum().backward()
    np.testing.assert_allclose(zy.data, ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(z.grad.data, t.grad.numpy(), rtol=1e-12)
    check_first(lambda a: F.interpolate(a, mode=mode, **kw), x)
    with pytest.raises(ValueError, match="align_corners can only be set with mode"):
        F.interpolate(z, mode=mode, align_corners=False, **kw)
    assert repr(nn.Upsample(scale_factor=2, mode=mode)) == \
        repr(torch.nn.Upsample(scale_factor=2, mode=mode))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_transpose_output_size_of_an_unbatched_input_as_torch(nd):
    """ConvTranspose*d(x, output_size=...) of an unbatched (C, *) input: zeroin read the
    spatial sizes from x.shape[2:], as if batched, and refused sizes PyTorch reaches."""
    torch = pytest.importorskip("torch")
    x = values(rng, (4,) + (5, 6, 4)[:nd])
    want = [14, 17, 11][:nd]        # least (n - 1) * 3 - 2 + 3: 13, 16, 10
    res = []
    for T in (torch, zeroin):
        T.manual_seed(0)
        m = getattr(T.nn, f"ConvTranspose{nd}d")(4, 3, 3, stride=3, padding=1).double()
        if T is torch:
            state = {k: v.detach().numpy() for k, v in m.state_dict().items()}
        else:
            m.load_state_dict({k: zeroin.tensor(v) for k, v in state.items()})
        y = m(T.tensor(x), output_size=want)
        res.append((tuple(y.shape), np.asarray(y.tolist())))
    assert res[1][0] == res[0][0] == (3, *want)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("make", [
    lambda: nn.Conv2d(3, 2, 3, 1, 1), lambda: nn.Conv1d(3, 2, 3, 1, 1),
    lambda: nn.AvgPool2d(3, 1, 1), lambda: nn.AvgPool2d(2, 2, 1), lambda: nn.MaxPool2d(3, 1, 1),
    lambda: nn.MaxPool2d(2, 2, ceil_mode=True),
    lambda: lambda x: F.pad(x, (1, 2, 0, 1), value=1.0)])
@pytest.mark.parametrize("create_graph", [False, True])
def test_input_gradients_of_padded_conv_and_pooling_are_contiguous(make, create_graph):
    """PyTorch's input gradients are contiguous: WGAN-GP's ``gradients.view(n, -1)`` of
    ``autograd.grad(D(x), x, ...)`` through a padded first layer or ``F.pad`` (Glow's
    ZeroConv2d) (the cropped padded image was a strided view before)."""
    m = make()
    x = leaf(values(rng, (2, 3, 5, 5) if not isinstance(m, nn.Conv1d) else (2, 3, 5)))
    y = m(x)
    g, = zeroin.autograd.grad(y, x, zeroin.ones_like(y), create_graph=create_graph)
    assert g.is_contiguous()
    assert g.view(2, -1).shape == (2, x[0].numel())
    (m(x) ** 2).sum().backward()
    assert x.grad.is_contiguous()
