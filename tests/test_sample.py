"""Sampling grids (zeroin/nn/_sample.py): affine_grid and grid_sample, 4-D and 5-D, every
mode, padding_mode and align_corners: values and gradients (input, grid, theta) against
PyTorch and finite differences, second order, errors."""
import itertools
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from conftest import check_both, check_first, leaf
from zeroin.errors import ShapeError

rng = np.random.default_rng(21)
CASES = list(itertools.product((2, 3), ("bilinear", "nearest"),
                               ("zeros", "border", "reflection"), (False, True)))
CASES += [(2, "bicubic", pm, ac) for pm in ("zeros", "border", "reflection")
          for ac in (False, True)]          # bicubic: 4-D only, as PyTorch


def _grid(nd, spread, seed=0, n=2):
    r = np.random.default_rng(seed)
    return r.uniform(-spread, spread, (n,) + (3, 4, 2)[3 - nd:] + (nd,))


def _torch_pair(zf, tf, arrs):
    torch = pytest.importorskip("torch")
    zt = [leaf(a) for a in arrs]
    tt = [torch.tensor(a, requires_grad=True) for a in arrs]
    y, ty = zf(*zt), tf(*tt)
    assert tuple(y.shape) == tuple(ty.shape)
    g = np.random.default_rng(5).standard_normal(tuple(ty.shape))
    (y * zeroin.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(zt, tt):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("nd, mode, pm, ac", CASES)
def test_grid_sample_matches_torch(nd, mode, pm, ac):
    torch = pytest.importorskip("torch")
    img = rng.standard_normal((2, 3) + (4, 5, 6)[3 - nd:])
    for spread in (1.2, 4.0):                 # mostly inside; far outside (reflections)
        grid = _grid(nd, spread)
        grid[0, 0, 0] = 0.0                   # exact pixel centres and borders
        grid[0, 0, 1] = 1.0
        grid[1, -1, -1] = -1.0
        _torch_pair(lambda x, g: F.grid_sample(x, g, mode, pm, ac),
                    lambda x, g: torch.nn.functional.grid_sample(x, g, mode, pm, ac),
                    [img, grid])


@pytest.mark.parametrize("nd, pm, ac", [(nd, pm, ac) for nd, m, pm, ac in CASES
                                        if m == "bilinear"])
def test_grid_sample_bilinear_gradients_first_and_second_order(nd, pm, ac):
    img = rng.standard_normal((1, 2) + (3, 4, 3)[3 - nd:])
    grid = _grid(nd, 1.6, seed=nd, n=1)
    # away from integer pixel positions and the borders, where the gradient jumps
    pix = [((grid[..., i] + 1) * ((n - 1) / 2 if ac else n / 2) - (0 if ac else 0.5))
           for i, n in enumerate(reversed(img.shape[2:]))]
    for p in pix:
        assert np.abs(p - np.round(p)).min() > 1e-3
    check_both(lambda x, g: F.grid_sample(x, g, "bilinear", pm, ac), img, grid)


@pytest.mark.parametrize("pm, ac", list(itertools.product(("zeros", "border", "reflection"),
                                                         (False, True))))
def test_grid_sample_bicubic_gradients_first_and_second_order(pm, ac):
    # points up to 2 pixels off the input: taps padded one by one (PyTorch's way); away
    # from integer positions, where the weights' second derivative jumps
    img = rng.standard_normal((1, 2, 3, 4))
    grid = _grid(2, 1.6, seed=7, n=1)
    pix = [((grid[..., i] + 1) * ((n - 1) / 2 if ac else n / 2) - (0 if ac else 0.5))
           for i, n in enumerate(reversed(img.shape[2:]))]
    for p in pix:
        assert np.abs(p - np.round(p)).min() > 1e-3
    check_both(lambda x, g: F.grid_sample(x, g, "bicubic", pm, ac), img, grid)


def test_grid_sample_nearest_gradient_to_input():
    img = rng.standard_normal((1, 2, 4, 5))
    grid = _grid(2, 1.1, seed=3, n=1)
    check_first(lambda x: F.grid_sample(x, zeroin.tensor(grid), "nearest", "zeros", False), img)
    g = leaf(grid)
    F.grid_sample(zeroin.tensor(img), g, "nearest", align_corners=False).sum().backward()
    assert np.array_equal(g.grad.data, np.zeros_like(grid))     # zeros, as PyTorch


@pytest.mark.parametrize("nd, ac", list(itertools.product((2, 3), (False, True))))
def test_affine_grid_matches_torch_and_finite_differences(nd, ac):
    torch = pytest.importorskip("torch")
    theta = rng.standard_normal((2, nd, nd + 1))
    size = (2, 3) + (3, 4, 5)[3 - nd:]
    _torch_pair(lambda t: F.affine_grid(t, size, ac),
                lambda t: torch.nn.functional.affine_grid(t, size, ac), [theta])
    check_first(lambda t: F.affine_grid(t, size, ac), theta)
    one = (2, 1) + (1, 1, 1)[3 - nd:]         # single-pixel axes sit at 0
    with pytest.warns(UserWarning, match="unit-size grids") if ac else \
            warnings.catch_warnings():
        F.affine_grid(zeroin.tensor(theta), one, ac)
    warnings.filterwarnings("ignore", "Since version 1.3.0")
    _torch_pair(lambda t: F.affine_grid(t, one, ac),
                lambda t: torch.nn.functional.affine_grid(t, one, ac), [theta])


def test_spatial_transformer_identity_and_theta_gradient():
    torch = pytest.importorskip("torch")
    img = rng.standard_normal((2, 1, 5, 6))
    eye = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1))
    y = F.grid_sample(zeroin.tensor(img), F.affine_grid(zeroin.tensor(eye), img.shape, False),
                      align_corners=False)
    np.testing.assert_allclose(y.data, img, atol=1e-12)       # identity map: the image
    theta = eye + rng.normal(0, 0.1, eye.shape)

    def stn(T, x, t):
        return T.nn.functional.grid_sample(
            x, T.nn.functional.affine_grid(t, (2, 1, 4, 4), align_corners=False),
            padding_mode="border", align_corners=False)
    _torch_pair(lambda x, t: stn(zeroin, x, t), lambda x, t: stn(torch, x, t), [img, theta])
    check_both(lambda t: stn(zeroin, zeroin.tensor(img), t), theta)


def test_align_corners_none_warns_as_torch_and_means_false():
    img, grid = rng.standard_normal((1, 1, 3, 3)), _grid(2, 1.0)[:1]
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
        a = F.grid_sample(zeroin.tensor(img), zeroin.tensor(grid))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        b = F.grid_sample(zeroin.tensor(img), zeroin.tensor(grid), align_corners=False)
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.warns(UserWarning, match="align_corners"):
        F.affine_grid(zeroin.zeros(1, 2, 3), (1, 1, 2, 2))


ERRORS = [
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 3, 3), zeroin.zeros(1, 2, 2, 3),
                           align_corners=False), ShapeError,
     ["grid_sample", "(N, H_out, W_out, 2)", "(1, 2, 2, 3)"]),
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 3), zeroin.zeros(1, 2, 2), align_corners=False),
     ShapeError, ["grid_sample", "(N, C, H, W)", "(1, 1, 3)"]),
    (lambda: F.grid_sample(zeroin.zeros(2, 1, 3, 3), zeroin.zeros(1, 2, 2, 2),
                           align_corners=False), ShapeError, ["N=2", "(1, 2, 2, 2)"]),
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 3, 3), zeroin.zeros(1, 2, 2, 2), "cubic",
                           align_corners=False), ValueError,
     ["'bilinear', 'nearest' or 'bicubic'", "'cubic'"]),
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 2, 3, 3), zeroin.zeros(1, 2, 2, 2, 3),
                           "bicubic", align_corners=False), ShapeError,
     ["grid_sample", "'bicubic' needs a 4-D input", "(1, 1, 2, 3, 3)"]),
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 3, 3), zeroin.zeros(1, 2, 2, 2),
                           padding_mode="reflect", align_corners=False), ValueError,
     ["'zeros', 'border' or 'reflection'", "'reflect'"]),
    (lambda: F.grid_sample(zeroin.zeros(1, 1, 3, 3), zeroin.zeros(1, 2, 2, 2,
                           dtype=zeroin.float32), align_corners=False), TypeError,
     ["one dtype", "float64", "float32"]),
    (lambda: F.affine_grid(zeroin.zeros(1, 2, 3), (1, 1, 2, 2, 2), False), ShapeError,
     ["affine_grid", "(1, 3, 4)", "(1, 2, 3)"]),
    (lambda: F.affine_grid(zeroin.zeros(1, 2, 3), (1, 2, 2), False), ValueError,
     ["(N, C, H, W) or (N, C, D, H, W)"]),
]


@pytest.mark.parametrize("call, exc, words", ERRORS)
def test_errors_name_the_op_the_shapes_and_the_fix(call, exc, words):
    with pytest.raises(exc) as e:
        call()
    for w in words:
        assert w in str(e.value), (w, str(e.value))
