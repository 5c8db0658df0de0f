"""zeroin.vision.transforms' second batch (RandomAffine, RandomPerspective, the random colour
ops, FiveCrop / TenCrop, PILToTensor, LinearTransformation, AutoAugment, RandAugment, AugMix,
v2's MixUp / CutMix). torchvision is not installed: its ``get_params`` and forward draws are
transcribed here with torch calls (torchvision 0.28, transforms/transforms.py,
transforms/autoaugment.py, transforms/v2/_auto_augment.py, transforms/v2/_augment.py) and
compared with zeroin's on the torch stream; PIL results against Pillow's own calls (what
torchvision's PIL backend calls), tensor kernels against torch's grid_sample."""
import math

import numpy as np
import pytest

import zeroin
from zeroin.vision import transforms as T
from zeroin.vision.transforms import _apply_op, v2
from zeroin.vision.transforms import functional as F

NEAREST, BILINEAR = T.InterpolationMode.NEAREST, T.InterpolationMode.BILINEAR


def _img(h=9, w=11, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _chw(a):
    return np.ascontiguousarray(np.moveaxis(a, -1, 0))


def _pil(a):
    Image = pytest.importorskip("PIL.Image")
    return Image.fromarray(a)


@pytest.fixture
def tstream():
    """zeroin's shared generator on torch's stream for one test; torch is the oracle."""
    torch = pytest.importorskip("torch")
    from _audit import skip_off_torch_kernels
    skip_off_torch_kernels(torch)
    zeroin.random.use_torch_stream(True)
    yield torch
    zeroin.random.use_torch_stream(False)


def _seed(torch, s):
    zeroin.manual_seed(s)
    torch.manual_seed(s)


def _in_step(torch):
    """Both streams are in the same state: their next draws agree."""
    np.testing.assert_array_equal(zeroin.rand(3, dtype=zeroin.float32).numpy(),
                                  torch.rand(3).numpy())


# ---- torchvision's tensor kernels, written out with torch ----------------------------------

def _tv_inverse_affine(center, angle, translate, scale, shear):
    """torchvision functional.py's _get_inverse_affine_matrix."""
    rot, sx, sy = math.radians(angle), math.radians(shear[0]), math.radians(shear[1])
    (cx, cy), (tx, ty) = center, translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [x / scale for x in [d, -b, 0.0, -c, a, 0.0]]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty)
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty)
    m[2] += cx
    m[5] += cy
    return m


def _tv_grid_apply(torch, img, grid, mode, fill):
    """torchvision _functional_tensor.py's _apply_grid_transform (fill through the mask)."""
    x = img if img.is_floating_point() else img.to(torch.float32)
    x = x.unsqueeze(0) if x.ndim == 3 else x
    if fill is not None:
        x = torch.cat((x, torch.ones((x.shape[0], 1) + x.shape[2:], dtype=x.dtype)), dim=1)
    x = torch.nn.functional.grid_sample(x, grid.to(x.dtype).expand(x.shape[0], -1, -1, -1),
                                        mode=mode, padding_mode="zeros", align_corners=False)
    if fill is not None:
        mask, x = x[:, -1:].expand_as(x[:, :-1]), x[:, :-1]
        fill_img = torch.tensor(fill, dtype=x.dtype).view(1, -1, 1, 1).expand_as(x)
        if mode == "nearest":
            x = torch.where(mask < 0.5, fill_img, x)
        else:
            x = x * mask + (1.0 - mask) * fill_img
    if not img.is_floating_point():
        x = x.round().to(img.dtype)
    return x.reshape(img.shape)


def _tv_affine_grid(torch, m, w, h, dtype):
    """torchvision's _gen_affine_grid of the inverse matrix ``m``."""
    theta = torch.tensor(m, dtype=dtype).reshape(1, 2, 3)
    base = torch.empty(1, h, w, 3, dtype=dtype)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, steps=w))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=dtype)
    return base.view(1, h * w, 3).bmm(rescaled).view(1, h, w, 2)


def _tv_perspective_coeffs(torch, startpoints, endpoints):
    """torchvision functional.py's _get_perspective_coeffs (float64 lstsq, kept float32)."""
    a = torch.zeros(8, 8, dtype=torch.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i, :] = torch.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]])
        a[2 * i + 1, :] = torch.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0],
                                        -p2[1] * p1[1]])
    b = torch.tensor(startpoints, dtype=torch.float64).view(8)
    return torch.linalg.lstsq(a, b, driver="gels").solution.to(torch.float32).tolist()


def _tv_perspective_grid(torch, co, w, h, dtype):
    """torchvision _functional_tensor.py's _perspective_grid."""
    theta1 = torch.tensor([[[co[0], co[1], co[2]], [co[3], co[4], co[5]]]], dtype=dtype)
    theta2 = torch.tensor([[[co[6], co[7], 1.0], [co[6], co[7], 1.0]]], dtype=dtype)
    base = torch.empty(1, h, w, 3, dtype=dtype)
    base[..., 0].copy_(torch.linspace(0.5, w * 1.0 + 0.5 - 1.0, steps=w))
    base[..., 1].copy_(torch.linspace(0.5, h * 1.0 + 0.5 - 1.0, steps=h).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta1.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=dtype)
    g1 = base.view(1, h * w, 3).bmm(rescaled)
    g2 = base.view(1, h * w, 3).bmm(theta2.transpose(1, 2))
    return (g1 / g2 - 1.0).view(1, h, w, 2)


# ---- invert and the random colour ops -------------------------------------------------------

def test_invert_is_bound_minus_pixel_and_pillows_invert():
    torch = pytest.importorskip("torch")
    a = _img()
    u = zeroin.tensor(_chw(a))
    np.testing.assert_array_equal(F.invert(u).numpy(), (255 - torch.from_numpy(_chw(a))).numpy())
    assert F.invert(u).dtype == zeroin.uint8
    xf = np.random.default_rng(1).random((2, 3, 4, 5))                 # a batch, float64
    np.testing.assert_array_equal(F.invert(zeroin.tensor(xf)).numpy(),
                                  (1.0 - torch.from_numpy(xf)).numpy())
    x32 = xf[0].astype(np.float32)
    np.testing.assert_array_equal(F.invert(zeroin.tensor(x32)).numpy(),
                                  (1.0 - torch.from_numpy(x32)).numpy())
    np.testing.assert_array_equal(F.invert(a), 255 - a)                # NumPy HWC
    ImageOps = pytest.importorskip("PIL.ImageOps")
    for pic in (_pil(a), _pil(a[..., 0])):
        np.testing.assert_array_equal(np.asarray(F.invert(pic)),
                                      np.asarray(ImageOps.invert(pic)))
    with pytest.raises(ValueError, match="invert: expected an image of 1 or 3 channels"):
        F.invert(zeroin.zeros(2, 4, 4))


def _color_cases():
    return [(T.RandomInvert(0.5), F.invert),
            (T.RandomPosterize(3, 0.5), lambda i: F.posterize(i, 3)),
            (T.RandomAdjustSharpness(2.0, 0.5), lambda i: F.adjust_sharpness(i, 2.0)),
            (T.RandomAutocontrast(0.5), F.autocontrast),
            (T.RandomEqualize(0.5), F.equalize)]


def test_random_colour_ops_apply_when_torch_rand_is_below_p(tstream):
    """torchvision's forward: ``if torch.rand(1).item() < self.p: return F.op(img)``."""
    torch = tstream
    u = zeroin.tensor(_chw(_img(6, 7, seed=1)))
    for t, op in _color_cases():
        _seed(torch, 3)
        applied = []
        for _ in range(8):
            got = t(u).numpy()
            applied.append(torch.rand(1).item() < 0.5)
            np.testing.assert_array_equal(got, (op(u) if applied[-1] else u).numpy(),
                                          err_msg=repr(t))
        assert any(applied) and not all(applied)
        _in_step(torch)


def test_random_colour_ops_p0_p1_pil_numpy_and_errors():
    ImageOps = pytest.importorskip("PIL.ImageOps")
    ImageEnhance = pytest.importorskip("PIL.ImageEnhance")
    a = _img(8, 10, seed=2)
    pic = _pil(a)
    want = {"RandomInvert": ImageOps.invert(pic), "RandomPosterize": ImageOps.posterize(pic, 3),
            "RandomAdjustSharpness": ImageEnhance.Sharpness(pic).enhance(2.0),
            "RandomAutocontrast": ImageOps.autocontrast(pic),
            "RandomEqualize": ImageOps.equalize(pic)}
    for t, op in _color_cases():
        name = type(t).__name__
        t.p = 1.0
        np.testing.assert_array_equal(np.asarray(t(pic)), np.asarray(want[name]), err_msg=name)
        np.testing.assert_array_equal(t(a), np.moveaxis(op(zeroin.tensor(_chw(a))).numpy(),
                                                        0, -1))
        t.p = 0.0
        u = zeroin.tensor(_chw(a))
        assert t(u) is u and t(pic) is pic
    with pytest.raises(ValueError, match=r"RandomInvert: p should be a probability"):
        T.RandomInvert(1.5)
    with pytest.raises(ValueError, match="sharpness_factor .* non-negative"):
        T.RandomAdjustSharpness(-1.0)
    with pytest.raises(TypeError, match="posterize: a tensor or NumPy image must be uint8"):
        T.RandomPosterize(4, p=1.0)(zeroin.rand(3, 4, 4))
    with pytest.raises(TypeError, match="RandomEqualize: expected a PIL image"):
        T.RandomEqualize(p=1.0)([[1, 2]])
    assert repr(T.RandomPosterize(3)) == "RandomPosterize(bits=3,p=0.5)"


# ---- RandomAffine ---------------------------------------------------------------------------

def _tv_affine_params(torch, degrees, translate, scale_ranges, shears, img_size):
    """torchvision transforms.py's RandomAffine.get_params."""
    angle = float(torch.empty(1).uniform_(float(degrees[0]), float(degrees[1])).item())
    if translate is not None:
        max_dx = float(translate[0] * img_size[0])
        max_dy = float(translate[1] * img_size[1])
        tx = int(round(torch.empty(1).uniform_(-max_dx, max_dx).item()))
        ty = int(round(torch.empty(1).uniform_(-max_dy, max_dy).item()))
        translations = (tx, ty)
    else:
        translations = (0, 0)
    if scale_ranges is not None:
        scale = float(torch.empty(1).uniform_(scale_ranges[0], scale_ranges[1]).item())
    else:
        scale = 1.0
    shear_x = shear_y = 0.0
    if shears is not None:
        shear_x = float(torch.empty(1).uniform_(shears[0], shears[1]).item())
        if len(shears) == 4:
            shear_y = float(torch.empty(1).uniform_(shears[2], shears[3]).item())
    return angle, translations, scale, (shear_x, shear_y)


AFFINE_ARGS = [{"degrees": 30}, {"degrees": (-10, 40), "translate": (0.2, 0.3)},
               {"degrees": 0, "scale": (0.7, 1.3), "shear": 12},
               {"degrees": 15, "translate": (0.1, 0.1), "scale": (0.9, 1.1),
                "shear": (-5, 5, -8, 8)}]


def test_random_affine_params_are_torchvisions(tstream):
    torch = tstream
    for kw in AFFINE_ARGS:
        t = T.RandomAffine(**kw)
        for seed in range(4):
            _seed(torch, seed)
            got = t.get_params(t.degrees, t.translate, t.scale, t.shear, [11, 9])
            want = _tv_affine_params(torch, t.degrees, t.translate, t.scale, t.shear, [11, 9])
            assert got == want, kw
            _in_step(torch)
    assert T.RandomAffine(12).degrees == (-12.0, 12.0)
    assert T.RandomAffine(0, shear=7).shear == [-7.0, 7.0]


def test_random_affine_pixels_pil_and_tensor(tstream):
    """PIL: Pillow's AFFINE transform of torchvision's inverse matrix about (w/2, h/2);
    tensor: torch grid_sample of the same matrix about the centre (fill through the mask)."""
    torch = tstream
    Image = pytest.importorskip("PIL.Image")
    a = _img(9, 11, seed=4)
    pic = _pil(a)
    for kw in AFFINE_ARGS:
        t = T.RandomAffine(**kw, fill=7)
        _seed(torch, 5)
        angle, tr, sc, sh = _tv_affine_params(torch, t.degrees, t.translate, t.scale, t.shear,
                                              [11, 9])
        zeroin.manual_seed(5)
        m = _tv_inverse_affine([5.5, 4.5], angle, tr, sc, sh)
        want = pic.transform(pic.size, Image.Transform.AFFINE, m, Image.Resampling.NEAREST,
                             fillcolor=(7, 7, 7))
        np.testing.assert_array_equal(np.asarray(t(pic)), np.asarray(want), err_msg=str(kw))
        xf = np.random.default_rng(6).random((2, 3, 9, 11))
        tb = T.RandomAffine(**kw, interpolation=BILINEAR, fill=0.25)
        zeroin.manual_seed(5)
        grid = _tv_affine_grid(torch, _tv_inverse_affine([0.0, 0.0], angle, tr, sc, sh), 11, 9,
                               torch.float64)
        want = _tv_grid_apply(torch, torch.from_numpy(xf), grid, "bilinear", [0.25] * 3)
        np.testing.assert_allclose(tb(zeroin.tensor(xf)).numpy(), want.numpy(), rtol=0,
                                   atol=1e-10)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 1.5))
    with pytest.raises(ValueError, match="scale values should be positive"):
        T.RandomAffine(0, scale=(0.0, 1.0))
    with pytest.raises(TypeError, match="shear should be a sequence of length 2 or 4"):
        T.RandomAffine(0, shear=(1, 2, 3))
    with pytest.raises(ValueError, match="degrees is a single number, it must be non-negative"):
        T.RandomAffine(-3)
    with pytest.raises(TypeError, match="fill should be either a sequence or a number"):
        T.RandomAffine(3, fill="white")


# ---- RandomPerspective and F.perspective ----------------------------------------------------

def _tv_perspective_params(torch, width, height, distortion_scale):
    """torchvision transforms.py's RandomPerspective.get_params."""
    half_height, half_width = height // 2, width // 2
    dw, dh = int(distortion_scale * half_width), int(distortion_scale * half_height)

    def ri(lo, hi):
        return int(torch.randint(lo, hi, size=(1,)).item())
    topleft = [ri(0, dw + 1), ri(0, dh + 1)]
    topright = [ri(width - dw - 1, width), ri(0, dh + 1)]
    botright = [ri(width - dw - 1, width), ri(height - dh - 1, height)]
    botleft = [ri(0, dw + 1), ri(height - dh - 1, height)]
    start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
    return start, [topleft, topright, botright, botleft]


def test_random_perspective_params_and_forward_draws(tstream):
    torch = tstream
    for seed in range(5):
        for w, h, d in ((11, 9, 0.5), (32, 20, 0.9), (7, 7, 0.0)):
            _seed(torch, seed)
            got = T.RandomPerspective.get_params(w, h, d)
            assert got == _tv_perspective_params(torch, w, h, d)
            _in_step(torch)
    a = _img(9, 11, seed=7)
    u = zeroin.tensor(_chw(a))
    t = T.RandomPerspective(0.6, p=0.5)
    _seed(torch, 11)
    seen = set()
    for _ in range(6):
        got = t(u).numpy()
        if torch.rand(1) < 0.5:         # torchvision's forward: rand, then get_params
            s, e = _tv_perspective_params(torch, 11, 9, 0.6)
            want = F.perspective(u, s, e, BILINEAR, [0.0] * 3).numpy()
            seen.add(True)
        else:
            want = u.numpy()
            seen.add(False)
        np.testing.assert_array_equal(got, want)
    assert seen == {True, False}
    with pytest.raises(ValueError, match="distortion_scale should be between 0 and 1"):
        T.RandomPerspective(1.5)


def test_perspective_pil_is_pillows_and_tensor_is_torchs_grid():
    torch = pytest.importorskip("torch")
    Image = pytest.importorskip("PIL.Image")
    a = _img(9, 11, seed=8)
    start = [[0, 0], [10, 0], [10, 8], [0, 8]]
    for end in ([[1, 2], [9, 0], [10, 7], [2, 8]], [[2, 1], [8, 2], [9, 6], [0, 8]]):
        co = _tv_perspective_coeffs(torch, start, end)
        np.testing.assert_allclose(F._perspective_coeffs(start, end), co, rtol=1e-6)
        pic = _pil(a)
        want = pic.transform(pic.size, Image.Transform.PERSPECTIVE, co,
                             Image.Resampling.BILINEAR, fillcolor=(3, 3, 3))
        np.testing.assert_array_equal(np.asarray(F.perspective(pic, start, end, fill=3)),
                                      np.asarray(want))
        xf = np.random.default_rng(9).random((2, 3, 9, 11))
        grid = _tv_perspective_grid(torch, co, 11, 9, torch.float64)
        for mode, fill in (("bilinear", [0.5] * 3), ("nearest", None), ("bilinear", None)):
            got = F.perspective(zeroin.tensor(xf), start, end, T.InterpolationMode(mode), fill)
            want = _tv_grid_apply(torch, torch.from_numpy(xf), grid, mode, fill)
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-10)
        u = _chw(a)
        grid32 = _tv_perspective_grid(torch, co, 11, 9, torch.float32)
        got = F.perspective(zeroin.tensor(u), start, end, NEAREST, [0, 0, 0])
        want = _tv_grid_apply(torch, torch.from_numpy(u), grid32, "nearest", [0.0] * 3)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert F.perspective(a, start, end).shape == a.shape            # NumPy HWC
    with pytest.raises(ValueError, match="exactly four corners"):
        F.perspective(zeroin.tensor(_chw(a)), start[:3], start[:3])


# ---- FiveCrop / TenCrop / PILToTensor / LinearTransformation -------------------------------

def test_five_and_ten_crop():
    torch = pytest.importorskip("torch")
    a = _chw(_img(9, 11, seed=10))
    x, tx = zeroin.tensor(a), torch.from_numpy(a)
    want = [tx[..., :4, :5], tx[..., :4, 6:], tx[..., 5:, :5], tx[..., 5:, 6:],
            tx[..., 2:6, 3:8]]                      # centre: round((9-4)/2)=2, round((11-5)/2)=3
    got = T.FiveCrop((4, 5))(x)
    assert isinstance(got, tuple) and len(got) == 5
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    np.testing.assert_array_equal(F.five_crop(x, 4)[4].numpy(),    # round(3.5) = 4, as torch
                                  tx[..., 2:6, 4:8].numpy())
    ten = T.TenCrop((4, 5))(x)
    assert len(ten) == 10
    for g, w in zip(ten[:5], want):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    hf = torch.flip(tx, (-1,))                   # torchvision: five_crop of hflip(img)
    for g, w in zip(ten[5:], [hf[..., :4, :5], hf[..., :4, 6:], hf[..., 5:, :5], hf[..., 5:, 6:],
                              hf[..., 2:6, 3:8]]):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    for g, w in zip(F.ten_crop(x, 4, vertical_flip=True)[5:],
                    F.five_crop(zeroin.tensor(a[..., ::-1, :].copy()), 4)):
        np.testing.assert_array_equal(g.numpy(), w.numpy())
    pic = _pil(np.moveaxis(a, 0, -1))
    for g, w in zip(T.FiveCrop(4)(pic), F.five_crop(np.moveaxis(a, 0, -1), [4])):
        assert g.size == (4, 4)
        np.testing.assert_array_equal(np.asarray(g), w)
    assert len(T.TenCrop(3)(pic)) == 10
    with pytest.raises(ValueError, match=r"requested crop size \(10, 5\) is bigger than input "
                                         r"size \(9, 11\)"):
        F.five_crop(x, (10, 5))
    with pytest.raises(ValueError, match="two dimensions"):
        F.five_crop(x, (1, 2, 3))


def test_pil_to_tensor_keeps_dtype_and_values():
    a = _img(5, 6, seed=11)
    t = T.PILToTensor()(_pil(a))
    assert t.dtype == zeroin.uint8 and tuple(t.shape) == (3, 5, 6)
    np.testing.assert_array_equal(t.numpy(), _chw(a))
    g = F.pil_to_tensor(_pil(a[..., 0]))
    assert tuple(g.shape) == (1, 5, 6)
    np.testing.assert_array_equal(g.numpy()[0], a[..., 0])
    b = F.pil_to_tensor(_pil(a[..., 0] > 127).convert("1"))         # mode '1': bool, as torch
    assert b.dtype == zeroin.bool
    with pytest.raises(TypeError, match="pil_to_tensor: pic should be a PIL image, got ndarray"):
        T.PILToTensor()(a)


def test_linear_transformation_is_torchvisions_mm_with_gradients():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    d = 2 * 3 * 4
    m, mean = rng.standard_normal((d, d)), rng.standard_normal(d)
    x = rng.standard_normal((5, 2, 3, 4))
    zx = zeroin.tensor(x, requires_grad=True)
    out = T.LinearTransformation(zeroin.tensor(m), zeroin.tensor(mean))(zx)
    tx = torch.tensor(x, requires_grad=True)
    want = torch.mm(tx.view(-1, d) - torch.from_numpy(mean), torch.from_numpy(m)).view(x.shape)
    np.testing.assert_allclose(out.numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(x.shape)
    out.backward(zeroin.tensor(g))
    want.backward(torch.from_numpy(g))
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    one = T.LinearTransformation(zeroin.tensor(m), zeroin.tensor(mean))(zeroin.tensor(x[0]))
    assert tuple(one.shape) == (2, 3, 4)
    with pytest.raises(ValueError, match="transformation_matrix should be square"):
        T.LinearTransformation(zeroin.zeros(3, 4), zeroin.zeros(3))
    with pytest.raises(ValueError, match="mean_vector should have the same length 2"):
        T.LinearTransformation(zeroin.zeros(3, 3), zeroin.zeros(2))
    with pytest.raises(ValueError, match="same dtype"):
        T.LinearTransformation(zeroin.zeros(3, 3), zeroin.zeros(3, dtype=zeroin.float32))
    with pytest.raises(ValueError, match="incompatible shape"):
        T.LinearTransformation(zeroin.tensor(m), zeroin.tensor(mean))(zeroin.zeros(3, 3, 3))


# ---- AutoAugment, RandAugment, AugMix (v1) -------------------------------------------------

def test_augmentation_tables_are_torchvisions():
    torch = pytest.importorskip("torch")
    h, w = 9, 11
    aa = T.AutoAugment._augmentation_space(10, (h, w))
    ra = T.RandAugment._augmentation_space(31, (h, w))
    assert list(aa) == ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
                        "Color", "Contrast", "Sharpness", "Posterize", "Solarize",
                        "AutoContrast", "Equalize", "Invert"]
    assert list(ra) == ["Identity"] + list(aa)[:-1]
    for space, n in ((aa, 10), (ra, 31)):
        for name, hi in (("ShearX", 0.3), ("TranslateX", 150.0 / 331.0 * w),
                         ("TranslateY", 150.0 / 331.0 * h), ("Rotate", 30.0), ("Color", 0.9)):
            np.testing.assert_array_equal(space[name][0], torch.linspace(0.0, hi, n).numpy())
        np.testing.assert_array_equal(
            space["Posterize"][0], (8 - (torch.arange(n) / ((n - 1) / 4)).round().int()).numpy())
        np.testing.assert_array_equal(space["Solarize"][0], torch.linspace(255.0, 0.0, n).numpy())
    mix = T.AugMix()._augmentation_space(10, (h, w))
    assert list(mix) == ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Posterize",
                         "Solarize", "AutoContrast", "Equalize", "Brightness", "Color",
                         "Contrast", "Sharpness"]
    assert list(T.AugMix(all_ops=False)._augmentation_space(10, (h, w))) == list(mix)[:9]
    np.testing.assert_array_equal(mix["TranslateX"][0], torch.linspace(0.0, w / 3.0, 10).numpy())
    np.testing.assert_array_equal(
        mix["Posterize"][0], (4 - (torch.arange(10) / ((10 - 1) / 4)).round().int()).numpy())
    for policy in T.AutoAugmentPolicy:
        pol = T.AutoAugment(policy).policies
        assert len(pol) == 25 and all(len(sub) == 2 for sub in pol)
        assert all(op in aa and 0 <= p <= 1 and (m is None) == (aa[op][0] is None)
                   for sub in pol for op, p, m in sub)
    assert T.AutoAugment().policies[0] == (("Posterize", 0.4, 8), ("Rotate", 0.6, 9))
    assert T.AutoAugment(T.AutoAugmentPolicy.SVHN).policies[-1] == (("ShearX", 0.7, 2),
                                                                    ("Invert", 0.1, None))
    with pytest.raises(ValueError, match="policy 'imagenet' is not recognized"):
        T.AutoAugment("imagenet")


def test_auto_augment_draws_and_applies_as_torchvision(tstream):
    """get_params: randint(25), rand(2), randint(2, (2,)); an op runs when probs[i] <= p,
    negated when signs[i] == 0 (autoaugment.py's forward)."""
    torch = tstream
    u = zeroin.tensor(_chw(_img(9, 11, seed=13)))
    for policy in T.AutoAugmentPolicy:
        t = T.AutoAugment(policy, fill=[1, 2, 3])
        space = t._augmentation_space(10, (9, 11))
        for seed in range(10):
            _seed(torch, seed)
            got = t(u).numpy()
            pid = int(torch.randint(25, (1,)).item())
            probs, signs = torch.rand((2,)), torch.randint(2, (2,))
            want = u
            for i, (name, p, mid) in enumerate(t.policies[pid]):
                if probs[i] <= p:
                    mags, signed = space[name]
                    mag = float(mags[mid]) if mid is not None else 0.0
                    mag = -mag if signed and signs[i] == 0 else mag
                    want = _apply_op(want, name, mag, NEAREST, [1.0, 2.0, 3.0])
            np.testing.assert_array_equal(got, want.numpy(), err_msg=f"{policy} {seed}")
            _in_step(torch)
        _seed(torch, 0)
        pid, probs, signs = T.AutoAugment.get_params(25)
        assert pid == int(torch.randint(25, (1,)).item())
        np.testing.assert_array_equal(probs.numpy(), torch.rand((2,)).numpy())
        np.testing.assert_array_equal(signs.numpy(), torch.randint(2, (2,)).numpy())


def test_rand_augment_draws_and_applies_as_torchvision(tstream):
    torch = tstream
    u = zeroin.tensor(_chw(_img(9, 11, seed=14)))
    t = T.RandAugment(num_ops=3, magnitude=12)
    space = t._augmentation_space(31, (9, 11))
    for seed in range(12):
        _seed(torch, seed)
        got = t(u).numpy()
        want = u
        for _ in range(3):                      # autoaugment.py's RandAugment.forward
            name = list(space)[int(torch.randint(len(space), (1,)).item())]
            mags, signed = space[name]
            mag = float(mags[12]) if mags is not None else 0.0
            if signed and torch.randint(2, (1,)):
                mag *= -1.0
            want = _apply_op(want, name, mag, NEAREST, None)
        np.testing.assert_array_equal(got, want.numpy(), err_msg=str(seed))
        _in_step(torch)
    with pytest.raises(ValueError, match=r"magnitude \(31\) must be an integer in"):
        T.RandAugment(magnitude=31)
    with pytest.raises(ValueError, match="num_ops should be a non-negative integer"):
        T.RandAugment(num_ops=-1)


class _FixedDirichlet:
    """torchvision's own AugMix tests override ``_sample_dirichlet``: fixed weights here."""

    def _sample_dirichlet(self, params):
        k = params.shape[-1]
        w = np.arange(1.0, k + 1.0, dtype=np.float32)
        return zeroin.tensor(np.tile(w / w.sum(), (params.shape[0], 1)))


class _AugMixFixed(_FixedDirichlet, T.AugMix):
    pass


def _tv_augmix(torch, t, img_u8, space, v2=False):
    """autoaugment.py's AugMix.forward (v2: v2/_auto_augment.py's draws), its Dirichlet
    weights fixed as in :class:`_FixedDirichlet`, the ops zeroin's _apply_op."""
    batch = img_u8.reshape((1,) * max(4 - img_u8.ndim, 0) + img_u8.shape)
    b = batch.shape[0]
    bd = (b,) + (1,) * (batch.ndim - 1)
    w2 = torch.tensor([1.0, 2.0]) / 3.0
    wk = torch.arange(1.0, t.mixture_width + 1.0)
    wk = wk / wk.sum()
    m = w2.expand(b, -1)
    combined = wk.expand(b, -1) * m[:, 1].reshape(b, -1)
    tb = torch.from_numpy(batch)
    mix = m[:, 0].reshape(bd) * tb
    for i in range(t.mixture_width):
        aug = zeroin.tensor(batch)
        depth = t.chain_depth if t.chain_depth > 0 else int(torch.randint(1, 4, (1,)).item())
        for _ in range(depth):
            name = list(space)[int(torch.randint(len(space), (1,)).item())]
            mags, signed = space[name]
            mag = 0.0
            if mags is not None:
                mag = float(mags[int(torch.randint(t.severity, (1,)).item())])
                if signed and (torch.rand(()) <= 0.5 if v2 else torch.randint(2, (1,))):
                    mag *= -1.0
            aug = _apply_op(aug, name, mag, t.interpolation, t.fill, v2)
        mix.add_(combined[:, i].reshape(bd) * torch.from_numpy(aug.numpy()))
    return mix.reshape(img_u8.shape).to(torch.uint8).numpy()


def test_aug_mix_draws_and_mixes_as_torchvision(tstream):
    torch = tstream
    a = _chw(_img(9, 11, seed=15))
    for kw in ({}, {"severity": 5, "mixture_width": 2, "chain_depth": 2, "all_ops": False}):
        t = _AugMixFixed(**kw)
        space = t._augmentation_space(10, (9, 11))
        for seed in range(6):
            _seed(torch, seed)
            got = t(zeroin.tensor(a)).numpy()
            np.testing.assert_array_equal(got, _tv_augmix(torch, t, a, space), err_msg=str(kw))
            _in_step(torch)
    _seed(torch, 1)
    batch = np.stack([a, a[:, ::-1].copy()])
    t = _AugMixFixed()
    got = t(zeroin.tensor(batch)).numpy()
    np.testing.assert_array_equal(got, _tv_augmix(torch, t, batch,
                                                  t._augmentation_space(10, (9, 11))))
    with pytest.raises(NotImplementedError, match=r"AugMix \(torch._sample_dirichlet\): not "
                                                  r"available on the torch stream"):
        T.AugMix()(zeroin.tensor(a))


def test_aug_mix_kinds_on_numpy_stream_and_errors():
    a = _img(9, 11, seed=16)
    zeroin.manual_seed(0)
    out = T.AugMix()(_pil(a))
    assert out.mode == "RGB" and out.size == (11, 9)
    zeroin.manual_seed(0)
    np.testing.assert_array_equal(T.AugMix()(a), np.asarray(out))          # NumPy HWC, same
    zeroin.manual_seed(0)
    np.testing.assert_array_equal(T.AugMix()(zeroin.tensor(_chw(a))).numpy(), _chw(np.asarray(out)))
    assert T.AugMix()(a[..., 0]).shape == (9, 11)
    zeroin.manual_seed(3)
    outs = [T.AugMix()(zeroin.tensor(_chw(a))).numpy() for _ in range(3)]
    assert not np.array_equal(outs[0], outs[1])                  # weights drawn each call
    with pytest.raises(ValueError, match=r"severity must be between \[1, 10\]"):
        T.AugMix(severity=11)


# ---- v2: the same classes, v2's draws --------------------------------------------------------

def test_v2_solarize_threshold_is_bound_times_magnitude():
    """v2/_auto_augment.py: threshold = bound * magnitude (magnitudes 1 -> 0), compared by
    torch in float32 for a uint8 image."""
    torch = pytest.importorskip("torch")
    u8 = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    for mag in torch.linspace(1.0, 0.0, 31).tolist():
        tu = torch.from_numpy(u8)
        want = torch.where(tu >= 255.0 * mag, 255 - tu, tu).numpy()
        got = _apply_op(zeroin.tensor(u8), "Solarize", mag, NEAREST, None, True).numpy()
        np.testing.assert_array_equal(got, want, err_msg=str(mag))


def test_v2_auto_augments_draw_as_torchvision_v2(tstream):
    """AutoAugment: randint(25, ()), then per op rand(()) <= p, then rand(()) <= 0.5 for the
    sign; RandAugment / TrivialAugmentWide / AugMix: v2's sign draw."""
    torch = tstream
    u = zeroin.tensor(_chw(_img(9, 11, seed=17)))
    t = v2.AutoAugment(T.AutoAugmentPolicy.CIFAR10)
    space = T.AutoAugment._augmentation_space(10, (9, 11), v2=True)
    ra = v2.RandAugment()
    rspace = T.RandAugment._augmentation_space(31, (9, 11), v2=True)
    ta = v2.TrivialAugmentWide()
    tspace = T.TrivialAugmentWide._augmentation_space(31, v2=True)
    for seed in range(10):
        _seed(torch, seed)
        got = t(u).numpy()
        want = u
        for name, p, mid in t.policies[int(torch.randint(25, ()))]:
            if not torch.rand(()) <= p:
                continue
            mags, signed = space[name]
            mag = 0.0
            if mags is not None:
                mag = float(mags[mid])
                if signed and torch.rand(()) <= 0.5:
                    mag *= -1
            want = _apply_op(want, name, mag, NEAREST, None, True)
        np.testing.assert_array_equal(got, want.numpy(), err_msg=str(seed))
        got = ra(u).numpy()
        want = u
        for _ in range(2):
            name = list(rspace)[int(torch.randint(len(rspace), ()))]
            mags, signed = rspace[name]
            mag = 0.0
            if mags is not None:
                mag = float(mags[9])
                if signed and torch.rand(()) <= 0.5:
                    mag *= -1
            want = _apply_op(want, name, mag, NEAREST, None, True)
        np.testing.assert_array_equal(got, want.numpy(), err_msg=str(seed))
        got = ta(u).numpy()
        name = list(tspace)[int(torch.randint(len(tspace), ()))]
        mags, signed = tspace[name]
        mag = 0.0
        if mags is not None:
            mag = float(mags[int(torch.randint(31, ()))])
            if signed and torch.rand(()) <= 0.5:
                mag *= -1
        np.testing.assert_array_equal(got, _apply_op(u, name, mag, NEAREST, None, True).numpy())
        _in_step(torch)
    mix = type("AugMixFixedV2", (_FixedDirichlet, v2.AugMix), {})()
    mspace = mix._augmentation_space(10, (9, 11))
    for seed in range(4):
        _seed(torch, seed)
        got = mix(u).numpy()
        np.testing.assert_array_equal(got, _tv_augmix(torch, mix, u.numpy(), mspace, v2=True))


def test_v2_new_transforms_take_samples():
    x = zeroin.tensor(_chw(_img(9, 11, seed=18)))
    out, label = v2.RandomInvert(p=1.0)(x, 3)
    assert label == 3
    np.testing.assert_array_equal(out.numpy(), 255 - x.numpy())
    crops, label = v2.FiveCrop(4)(x, 5)
    assert len(crops) == 5 and label == 5
    zeroin.manual_seed(0)
    d = v2.RandomAffine(20, translate=(0.1, 0.1))({"image": x, "label": 2})
    zeroin.manual_seed(0)
    np.testing.assert_array_equal(d["image"].numpy(), T.RandomAffine(20, (0.1, 0.1))(x).numpy())
    assert d["label"] == 2
    assert v2.AutoAugmentPolicy is T.AutoAugmentPolicy
    for name in ("RandomPerspective", "RandomPosterize", "RandomAdjustSharpness",
                 "RandomAutocontrast", "RandomEqualize", "TenCrop", "PILToTensor",
                 "LinearTransformation", "RandAugment", "AugMix", "MixUp", "CutMix",
                 "RandomGrayscale", "RandomSolarize"):
        assert name in v2.__all__ and hasattr(v2, name)


# ---- v2.MixUp / v2.CutMix --------------------------------------------------------------------

class _MixUpFixed(v2.MixUp):
    lam = 0.3

    def _sample_lam(self):
        return self.lam


class _CutMixFixed(v2.CutMix):
    lam = 0.55

    def _sample_lam(self):
        return self.lam


def test_mixup_blends_images_and_one_hot_labels_as_torchvision():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(19)
    x = rng.random((4, 3, 5, 6)).astype(np.float32)
    y = np.array([0, 2, 1, 2])
    xm, ym = _MixUpFixed(num_classes=3)(zeroin.tensor(x), zeroin.tensor(y))
    lam, tx = 0.3, torch.from_numpy(x)
    want_x = tx.roll(1, 0).mul_(1.0 - lam).add_(tx.mul(lam))      # v2/_augment.py's MixUp
    lab = torch.nn.functional.one_hot(torch.from_numpy(y), num_classes=3).float()
    want_y = lab.roll(1, 0).mul_(1.0 - lam).add_(lab.mul(lam))
    np.testing.assert_array_equal(xm.numpy(), want_x.numpy())
    np.testing.assert_array_equal(ym.numpy(), want_y.numpy())
    assert ym.dtype == zeroin.float32 and tuple(ym.shape) == (4, 3)
    probs = rng.random((4, 3))                                   # (B, num_classes) soft labels
    _, yp = _MixUpFixed()(zeroin.tensor(x), zeroin.tensor(probs))
    tp = torch.from_numpy(probs)
    np.testing.assert_allclose(yp.numpy(), tp.roll(1, 0).mul_(0.7).add_(tp.mul(0.3)).numpy(),
                               rtol=1e-15)
    d = _MixUpFixed(num_classes=3)({"image": zeroin.tensor(x), "target_labels": zeroin.tensor(y)})
    np.testing.assert_array_equal(d["target_labels"].numpy(), want_y.numpy())
    got = _MixUpFixed(num_classes=3, labels_getter=lambda s: s[1]["y"])(
        (zeroin.tensor(x), {"y": zeroin.tensor(y), "id": 7}))
    np.testing.assert_array_equal(got[1]["y"].numpy(), want_y.numpy())
    assert got[1]["id"] == 7
    zeroin.manual_seed(0)
    lams = [v2.MixUp(alpha=0.4, num_classes=3)._sample_lam() for _ in range(50)]
    assert all(0.0 <= v <= 1.0 for v in lams) and len(set(lams)) == 50


def test_cutmix_box_draws_and_pastes_as_torchvision(tstream):
    """v2/_augment.py's CutMix._get_params: lam (fixed here), randint(W), randint(H), the box
    clamped to the image, labels mixed by the area kept."""
    torch = tstream
    rng = np.random.default_rng(20)
    x = rng.random((3, 2, 8, 10))
    y = np.array([1, 0, 3])
    for seed in range(8):
        _seed(torch, seed)
        xm, ym = _CutMixFixed(num_classes=4)(zeroin.tensor(x), zeroin.tensor(y))
        lam, H, W = 0.55, 8, 10
        r_x, r_y = torch.randint(W, size=(1,)), torch.randint(H, size=(1,))
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * W), int(r * H)
        x1, y1 = int(torch.clamp(r_x - r_w_half, min=0)), int(torch.clamp(r_y - r_h_half, min=0))
        x2, y2 = int(torch.clamp(r_x + r_w_half, max=W)), int(torch.clamp(r_y + r_h_half, max=H))
        lam_adj = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
        tx = torch.from_numpy(x)
        want = tx.clone()
        want[..., y1:y2, x1:x2] = tx.roll(1, 0)[..., y1:y2, x1:x2]
        np.testing.assert_array_equal(xm.numpy(), want.numpy())
        lab = torch.nn.functional.one_hot(torch.from_numpy(y), num_classes=4).float()
        np.testing.assert_array_equal(
            ym.numpy(), lab.roll(1, 0).mul_(1.0 - lam_adj).add_(lab.mul(lam_adj)).numpy())
        _in_step(torch)
    with pytest.raises(NotImplementedError, match=r"CutMix \(torch.distributions.Beta\)"):
        v2.CutMix(num_classes=4)(zeroin.tensor(x), zeroin.tensor(y))


def test_mixup_cutmix_errors_name_the_fix():
    x, y = zeroin.rand(4, 3, 5, 5), zeroin.tensor(np.array([0, 1, 2, 1]))
    for cls in (_MixUpFixed, _CutMixFixed):
        with pytest.raises(RuntimeError, match="one_hot is only applicable to index tensor"):
            cls(num_classes=3)(x, y.float())
        with pytest.raises(ValueError, match="num_classes must be passed"):
            cls()(x, y)
        with pytest.raises(ValueError, match="labels should be index based with shape"):
            cls(num_classes=3)(x, zeroin.zeros(4, 3, 1))
        with pytest.raises(ValueError, match="must match num_classes: 3 != 5"):
            cls(num_classes=5)(x, zeroin.zeros(4, 3))
        with pytest.raises(ValueError, match="expected a batched input with 4 dims"):
            cls(num_classes=3)(x[0], y)
        with pytest.raises(ValueError, match="batch size of the image does not match .* 4 != 3"):
            cls(num_classes=3)(x, y[:3])
        with pytest.raises(ValueError, match="the labels must be a tensor, but got int"):
            cls(num_classes=3, labels_getter=lambda sample: sample[1])(x, 3)
        with pytest.raises(ValueError, match="a two-tuple whose second item is a dictionary or "
                                             "a tensor, but got int"):
            cls(num_classes=3)(x, 3)
        with pytest.raises(ValueError, match="does not support PIL images"):
            cls(num_classes=3)(_pil(_img()), y)
        with pytest.raises(ValueError, match="Could not infer where the labels are"):
            cls(num_classes=3)({"image": x, "target": y})
        with pytest.raises(RuntimeError, match=r"class values must be in \[0, num_classes = 2\)"):
            cls(num_classes=2)(x, y)
    with pytest.raises(TypeError, match="expected a batch tensor .* got a ndarray"):
        _CutMixFixed(num_classes=3)(np.zeros((4, 3, 2, 2)), y)
    with pytest.raises(TypeError, match=r"MixUp: the images are mixed in place as a float"):
        _MixUpFixed(num_classes=3)(zeroin.zeros(4, 3, 2, 2, dtype=zeroin.uint8), y)
    with pytest.raises(ValueError, match="labels_getter should either be 'default'"):
        v2.MixUp(num_classes=3, labels_getter="labels")
    with pytest.raises(ValueError, match="alpha"):
        v2.CutMix(alpha=0.0, num_classes=3)
    with pytest.raises(TypeError):
        v2.MixUp(1.0, 3)                        # keyword-only, as torchvision's


# ---- ElasticTransform ------------------------------------------------------------------------

def _tv_gaussian_blur(torch, img, ks, sigma):
    """torchvision _functional_tensor.py's gaussian_blur of a float (1, 1, H, W) tensor."""
    def k1(n, s):
        x = torch.linspace(-(n - 1) * 0.5, (n - 1) * 0.5, steps=n)
        pdf = torch.exp(-0.5 * (x / s).pow(2))
        return pdf / pdf.sum()
    kernel = torch.mm(k1(ks[1], sigma[1])[:, None], k1(ks[0], sigma[0])[None, :])
    x = torch.nn.functional.pad(img, [ks[0] // 2, ks[0] // 2, ks[1] // 2, ks[1] // 2],
                                mode="reflect")
    return torch.nn.functional.conv2d(x, kernel.expand(1, 1, ks[1], ks[0]))


def _tv_elastic_params(torch, alpha, sigma, size):
    """torchvision transforms.py's ElasticTransform.get_params."""
    out = []
    for k in (0, 1):
        d = torch.rand([1, 1] + size) * 2 - 1
        if sigma[k] > 0.0:
            ks = int(8 * sigma[k] + 1)
            ks += 1 if ks % 2 == 0 else 0
            d = _tv_gaussian_blur(torch, d, [ks, ks], sigma)
        out.append(d * alpha[k] / size[k])
    return torch.concat(out, 1).permute([0, 2, 3, 1])


def _tv_elastic(torch, img, displacement, mode, fill):
    """torchvision _functional_tensor.py's elastic_transform: identity grid + displacement,
    sampled in the grid's float32."""
    h, w = img.shape[-2:]
    hw = [torch.linspace((-s + 1) / s, (s - 1) / s, s) for s in (h, w)]
    gy, gx = torch.meshgrid(hw, indexing="ij")
    grid = torch.stack([gx, gy], -1).unsqueeze(0) + displacement
    x = img if img.dtype != torch.float64 else img.to(torch.float32)
    out = _tv_grid_apply(torch, x, grid, mode, fill)
    return out.to(img.dtype)


def test_elastic_transform_draws_and_warps_as_torchvision(tstream):
    torch = tstream
    t = T.ElasticTransform(alpha=(30.0, 20.0), sigma=(1.0, 0.875), fill=5)   # 8: made 9
    for seed in range(3):
        _seed(torch, seed)
        got = t.get_params(t.alpha, t.sigma, [12, 14])
        want = _tv_elastic_params(torch, t.alpha, t.sigma, [12, 14])
        assert got.dtype == zeroin.float32 and tuple(got.shape) == (1, 12, 14, 2)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
        _in_step(torch)
    _seed(torch, 4)
    disp = _tv_elastic_params(torch, [40.0, 40.0], [1.0, 1.0], [12, 14])
    zd = zeroin.tensor(disp.numpy())
    a = _img(12, 14, seed=21)
    u = _chw(a)
    got = F.elastic_transform(zeroin.tensor(u), zd, NEAREST, [5.0] * 3).numpy()
    want = _tv_elastic(torch, torch.from_numpy(u), disp, "nearest", [5.0] * 3).numpy()
    np.testing.assert_array_equal(got, want)
    for dt in (np.float32, np.float64):
        xf = np.random.default_rng(22).random((2, 3, 12, 14)).astype(dt)
        got = F.elastic_transform(zeroin.tensor(xf), zd, BILINEAR, [0.5] * 3)
        want = _tv_elastic(torch, torch.from_numpy(xf), disp, "bilinear", [0.5] * 3)
        assert got.dtype == dt
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-6)
        # sampled in float32 (the grid's dtype), as torchvision, then cast back
        np.testing.assert_array_equal(got.numpy(), got.numpy().astype(np.float32))
    pil_out = F.elastic_transform(_pil(a), zd, BILINEAR, 0)          # via its uint8 tensor
    want = _tv_elastic(torch, torch.from_numpy(u), disp, "bilinear", [0.0])
    np.testing.assert_array_equal(_chw(np.asarray(pil_out)), want.numpy())
    assert F.elastic_transform(a, zd).shape == a.shape
    with pytest.raises(ValueError, match=r"displacement shape should be \(1, 12, 14, 2\)"):
        F.elastic_transform(zeroin.tensor(u), zeroin.zeros(1, 12, 13, 2))
    with pytest.raises(ValueError, match="InterpolationMode.NEAREST or BILINEAR"):
        F.elastic_transform(zeroin.tensor(u), zd, T.InterpolationMode.BICUBIC)
    with pytest.raises(TypeError, match="alpha should be a float or a sequence"):
        T.ElasticTransform(alpha="big")
    zeroin.random.use_torch_stream(False)
    zeroin.manual_seed(0)
    out, label = v2.ElasticTransform(sigma=2.0)(zeroin.tensor(u), 1)
    assert tuple(out.shape) == u.shape and label == 1
