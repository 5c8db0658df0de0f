"""The depthwise path (one input channel per group: shifted views times per-channel weights)
and the pointwise path (1x1, stride 1: a product per sample on x itself), EfficientNet's and
MobileNet's layers, no im2col: against the im2col formulas they replace, against PyTorch, and
by finite differences (first and second order)."""
import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from zeroin.nn import _conv

rng = np.random.default_rng(61)

# (input (N, C, H, W), channel multiplier m, kernel, stride, padding, dilation)
DEPTHWISE = [
    ((2, 4, 9, 8), 1, (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 3, 9, 8), 2, (5, 5), (2, 2), (2, 2), (1, 1)),
    ((1, 4, 7, 7), 1, (3, 3), (2, 2), (0, 0), (2, 2)),
    ((2, 5, 6, 11), 3, (3, 2), (1, 2), (0, 1), (2, 1)),
]


def _arrays(shape, m, k, dtype=np.float64):
    n, c = shape[:2]
    return (rng.standard_normal(shape).astype(dtype),
            rng.standard_normal((c * m, 1) + k).astype(dtype),
            rng.standard_normal(c * m).astype(dtype))


def _geo(shape, k, s, p, d):
    return _conv._Geom(2, shape[2:], k, s, (p[0], p[0], p[1], p[1]), d, shape[1])


def _close(a, b, rtol):
    scale = np.abs(b).max()
    assert a.shape == b.shape and np.abs(a - b).max() <= rtol * scale, (a.shape, b.shape)


@pytest.mark.parametrize("case", DEPTHWISE)
def test_depthwise_path_matches_the_grouped_im2col_formula(case):
    """Forward, input gradient and weight gradient: the new sums over kernel positions give
    the grouped im2col products (the previous code) to float64 rounding."""
    shape, m, k, s, p, d = case
    x, w, b = _arrays(shape, m, k)
    geo = _geo(shape, k, s, p, d)
    assert _conv._depthwise(geo, w.shape)
    cols = _conv._im2col(x, geo)
    g_, o = geo.groups, w.shape[0]
    old = np.matmul(w.reshape(g_, o // g_, -1), _conv._by_group(cols, geo, cols.shape[0]))
    old = _conv._nchw(old.reshape(o, shape[0], *geo.out), b)
    _close(_conv._dw_conv(x, w, geo, b), old, 1e-12)
    g = rng.standard_normal(old.shape)
    _close(_conv._dw_transpose(g, w, geo, shape[1], g.dtype),
           _conv._transpose_cols(g, w, geo, shape[1], g.dtype), 1e-12)
    _close(_conv._dw_weight_grad(x, g, geo, w.shape),
           _conv._weight_arrays(g, geo, cols, w.shape), 1e-12)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", DEPTHWISE)
def test_depthwise_conv2d_matches_torch(case, dtype, rtol):
    torch = pytest.importorskip("torch")
    shape, m, k, s, p, d = case
    arrays = _arrays(shape, m, k, dtype)
    g = rng.standard_normal((1,)).astype(dtype)
    res = []
    for T in (zeroin, torch):
        x, w, b = (T.tensor(a, requires_grad=True) for a in arrays)
        y = T.nn.functional.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=shape[1])
        (y * y * T.tensor(g)).sum().backward()
        res.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()])
    for a, t in zip(*res):
        _close(a, t, rtol)


def test_depthwise_conv1d_and_conv_transpose2d_match_torch():
    """The 1-D op (a height-1 image) and conv_transpose2d with out_channels == groups (the
    adjoint of a depthwise convolution) take the same path."""
    torch = pytest.importorskip("torch")
    x1 = rng.standard_normal((2, 3, 10))
    w1 = rng.standard_normal((6, 1, 3))
    x2 = rng.standard_normal((2, 6, 4, 5))
    w2 = rng.standard_normal((6, 1, 3, 3))
    calls = [("conv1d", (x1, w1), dict(stride=2, padding=1, groups=3)),
             ("conv_transpose2d", (x2, w2), dict(stride=2, padding=1, output_padding=1,
                                                 groups=6))]
    for name, arrays, kw in calls:
        res = []
        for T in (zeroin, torch):
            x, w = (T.tensor(a, requires_grad=True) for a in arrays)
            y = getattr(T.nn.functional, name)(x, w, **kw)
            (y * y).sum().backward()
            res.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
        for a, t in zip(*res):
            _close(a, t, 1e-12)


@pytest.mark.parametrize("case", DEPTHWISE[1:3])
def test_depthwise_gradcheck_and_gradgradcheck(case):
    shape, m, k, s, p, d = case
    shape = (1, shape[1], 6, 5)
    x, w, b = (zeroin.tensor(a, requires_grad=True) for a in _arrays(shape, m, k))

    def f(x, w, b):
        return F.conv2d(x, w, b, stride=s, padding=p, dilation=d, groups=shape[1])
    assert zeroin.gradcheck(f, (x, w, b))
    assert zeroin.gradgradcheck(f, (x, w, b))


def test_depthwise_forward_keeps_no_column_buffer():
    """The depthwise path materialises no im2col columns (C*k*k times the input) in the
    graph: the weight's gradient reads the input itself."""
    x = zeroin.tensor(rng.standard_normal((2, 4, 8, 8)), requires_grad=True)
    w = zeroin.tensor(rng.standard_normal((4, 1, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1, groups=4)
    assert y.grad_fn.saved is None
    dense = F.conv2d(x, zeroin.tensor(rng.standard_normal((4, 4, 3, 3)), requires_grad=True),
                     padding=1)
    assert dense.grad_fn.saved is not None      # the other path still keeps them


@pytest.mark.parametrize("shape", [(3, 5, 4, 6), (2, 3, 17, 16), (2, 4, 1, 9)])
def test_pointwise_path_matches_the_im2col_formula_and_torch(shape):
    """1x1 convolutions on small and large images (the per-sample threshold is 256 output
    positions) and a height-1 image: forward, input and weight gradients."""
    torch = pytest.importorskip("torch")
    x, w, b = (rng.standard_normal(shape), rng.standard_normal((7, shape[1], 1, 1)),
               rng.standard_normal(7))
    geo = _conv._Geom(2, shape[2:], (1, 1), (1, 1), (0, 0, 0, 0), (1, 1))
    assert _conv._pointwise(geo, w.shape)
    cols = _conv._im2col(x, geo)
    old = np.matmul(w.reshape(7, -1), _conv._cols3(cols, shape[0])).reshape(y_shape := (
        shape[0], 7, *shape[2:]))
    y, saved = _conv._conv_arrays(x, w, geo, b)
    assert saved is None and y.shape == y_shape
    _close(y, old + b.reshape(1, -1, 1, 1), 1e-12)
    g = rng.standard_normal(y.shape)
    _close(_conv._transpose_arrays(g, w, geo, shape[1]),
           _conv._transpose_cols(g, w, geo, shape[1], g.dtype), 1e-12)
    _close(_conv._weight_of(x, g, geo, w.shape), _conv._weight_arrays(g, geo, cols, w.shape),
           1e-12)
    res = []
    for T in (zeroin, torch):
        xt, wt, bt = (T.tensor(a, requires_grad=True) for a in (x, w, b))
        (T.nn.functional.conv2d(xt, wt, bt) * T.tensor(g)).sum().backward()
        res.append([xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()])
    for a, t in zip(*res):
        _close(a, t, 1e-12)


def test_pointwise_conv1d_transpose_and_gradgradcheck():
    torch = pytest.importorskip("torch")
    x1, w1 = rng.standard_normal((2, 3, 9)), rng.standard_normal((5, 3, 1))
    x2, w2 = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((4, 6, 1, 1))
    for name, arrays in [("conv1d", (x1, w1)), ("conv_transpose2d", (x2, w2))]:
        res = []
        for T in (zeroin, torch):
            x, w = (T.tensor(a, requires_grad=True) for a in arrays)
            y = getattr(T.nn.functional, name)(x, w)
            (y * y).sum().backward()
            res.append([y.detach().numpy(), x.grad.numpy(), w.grad.numpy()])
        for a, t in zip(*res):
            _close(a, t, 1e-12)
    w = np.ascontiguousarray(w2.transpose(1, 0, 2, 3))
    x, w = (zeroin.tensor(a, requires_grad=True) for a in (x2[:1], w))
    assert zeroin.gradcheck(F.conv2d, (x, w))
    assert zeroin.gradgradcheck(F.conv2d, (x, w))
