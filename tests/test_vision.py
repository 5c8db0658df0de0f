"""zeroin.vision: torchvision's transforms and ImageFolder, checked against torchvision's
formulas on small arrays written out by hand (torchvision itself is not a dependency) and
against PyTorch's interpolate where torch is installed."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import zeroin
from zeroin.vision import transforms as T
from zeroin.vision.datasets import ImageFolder


def _img(h=4, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _pil(arr):
    Image = pytest.importorskip("PIL.Image")
    return Image.fromarray(arr)


# ---- ToTensor -----------------------------------------------------------------------------

def test_to_tensor_uint8_array_is_chw_scaled_to_unit_in_default_dtype():
    a = _img()
    t = T.ToTensor()(a)
    assert t.shape == (3, 4, 5) and t.dtype == zeroin.get_default_dtype()
    np.testing.assert_array_equal(t.data, a.transpose(2, 0, 1) / 255.0)
    assert t.data.min() >= 0 and t.data.max() <= 1
    assert T.ToTensor()(np.full((2, 3), 255, np.uint8)).tolist() == [[[1.0] * 3] * 2]
    old = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)
    try:
        assert T.ToTensor()(a).dtype == np.float32        # torchvision's default float32
    finally:
        zeroin.set_default_dtype(old)


def test_to_tensor_keeps_float_and_int_arrays_unscaled():
    f = np.array([[[2.5, -1.0]]], dtype=np.float32)     # (1, 1, 2)
    t = T.ToTensor()(f)
    assert t.dtype == np.float32 and t.shape == (2, 1, 1) and t.tolist() == [[[2.5]], [[-1.0]]]
    i = np.array([[300, 7]], dtype=np.int32)
    assert T.ToTensor()(i).tolist() == [[[300, 7]]]


def test_to_tensor_pil_modes():
    a = _img()
    np.testing.assert_array_equal(T.ToTensor()(_pil(a)).data, a.transpose(2, 0, 1) / 255)
    gray = _pil(a[..., 0])
    assert T.ToTensor()(gray).shape == (1, 4, 5)
    from PIL import Image
    one = Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1")
    assert T.ToTensor()(one).tolist() == [[[0.0, 1.0]]]
    fl = Image.fromarray(np.array([[0.25, 3.0]], np.float32), mode="F")
    t = T.ToTensor()(fl)
    assert t.dtype == np.float32 and t.tolist() == [[[0.25, 3.0]]]


def test_to_tensor_errors():
    with pytest.raises(ValueError, match=r"ToTensor: pic should be 2 or 3 dim.*\(1, 2, 3, 4\)"):
        T.ToTensor()(np.zeros((1, 2, 3, 4), np.uint8))
    with pytest.raises(TypeError, match="ToTensor: pic should be a PIL image.*list"):
        T.ToTensor()([[1, 2]])


# ---- Normalize ----------------------------------------------------------------------------

def test_normalize_per_channel_by_hand():
    x = np.arange(12, dtype=np.float64).reshape(3, 2, 2) / 12
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = T.Normalize(mean, std)(zeroin.tensor(x))
    want = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(out.data, want)
    assert out.data[1, 0, 0] == pytest.approx((4 / 12 - 0.2) / 0.25)
    batch = T.Normalize(mean, std)(zeroin.tensor(np.stack([x, 2 * x])))
    np.testing.assert_allclose(batch.data[1], (2 * x - np.array(mean)[:, None, None])
                               / np.array(std)[:, None, None])
    one = T.Normalize([0.5], [0.5])(zeroin.tensor(x))          # one value for all channels
    np.testing.assert_allclose(one.data, (x - 0.5) / 0.5)


def test_normalize_keeps_dtype_inplace_and_gradient():
    x32 = zeroin.tensor(np.ones((2, 1, 1), np.float32))
    assert T.Normalize([0.5, 0.5], [0.5, 0.5])(x32).dtype == np.float32
    t = zeroin.tensor(np.ones((1, 2, 2)))
    out = T.Normalize([0.5], [0.25], inplace=True)(t)
    assert out is t and t.tolist() == [[[2.0, 2.0], [2.0, 2.0]]]
    x = zeroin.tensor(np.random.default_rng(1).random((2, 3, 3)), requires_grad=True)
    assert zeroin.gradcheck(lambda v: T.Normalize([0.1, 0.2], [0.5, 3.0])(v), (x,))
    T.Normalize([0.1, 0.2], [0.5, 3.0])(x).sum().backward()
    np.testing.assert_allclose(x.grad.data[:, 0, 0], [1 / 0.5, 1 / 3.0])


def test_normalize_errors_name_shapes_and_fix():
    x = zeroin.tensor(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match=r"mean has 2 values but the tensor of shape "
                                         r"\(3, 2, 2\) has 3 channels"):
        T.Normalize([0.5, 0.5], [1, 1, 1])(x)
    with pytest.raises(ValueError, match="std has 4 values"):
        T.Normalize([0.5], [1, 1, 1, 1])(x)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize([0.5], [0.0])(x)
    with pytest.raises(TypeError, match=r"float tensor, got uint8.*ConvertImageDtype"):
        T.Normalize([0.5], [0.5])(zeroin.tensor(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(TypeError, match="apply ToTensor"):
        T.Normalize([0.5], [0.5])(np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\), got shape \(2, 2\)"):
        T.Normalize([0.5], [0.5])(zeroin.tensor(np.zeros((2, 2))))


# ---- flips --------------------------------------------------------------------------------

def test_flips_always_and_never():
    a = _img()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(a), a[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(a), a[::-1])
    assert T.RandomHorizontalFlip(0.0)(a) is a
    t = T.ToTensor()(a)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(t).data, t.data[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(t).data, t.data[..., ::-1, :])
    np.testing.assert_array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(_pil(a))), a[:, ::-1])
    np.testing.assert_array_equal(np.asarray(T.RandomVerticalFlip(1.0)(_pil(a))), a[::-1])


def test_flip_draws_from_zeroins_generator():
    a = np.arange(2, dtype=np.uint8).reshape(1, 2)
    flip = T.RandomHorizontalFlip(0.5)
    zeroin.manual_seed(7)
    got = [flip(a)[0, 0] == 1 for _ in range(40)]
    want = np.random.Generator(np.random.PCG64(7)).random(40) < 0.5
    assert got == list(want) and 5 < sum(got) < 35
    zeroin.manual_seed(7)
    assert [flip(a)[0, 0] == 1 for _ in range(40)] == got


def test_flip_of_tensor_is_recorded():
    x = zeroin.tensor(np.arange(6.0).reshape(1, 2, 3), requires_grad=True)
    (T.RandomHorizontalFlip(1.0)(x) * zeroin.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [[[3.0, 2.0, 1.0], [3.0, 2.0, 1.0]]]


# ---- crops --------------------------------------------------------------------------------

def test_center_crop_offsets_round_as_torchvision():
    a = np.arange(49).reshape(7, 7)
    # top = int(round((7 - 2) / 2)) = round(2.5) = 2 (round half to even), as torchvision
    np.testing.assert_array_equal(T.CenterCrop(2)(a), a[2:4, 2:4])
    np.testing.assert_array_equal(T.CenterCrop((3, 4))(a), a[2:5, 2:6])   # round(1.5) = 2
    np.testing.assert_array_equal(T.CenterCrop(3)(np.arange(36).reshape(6, 6)),
                                  np.arange(36).reshape(6, 6)[2:5, 2:5])
    t = zeroin.tensor(np.arange(2 * 49.0).reshape(2, 7, 7))
    np.testing.assert_array_equal(T.CenterCrop([2])(t).data, t.data[:, 2:4, 2:4])
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(2)(_pil(_img(7, 7)))),
                                  _img(7, 7)[2:4, 2:4])


def test_center_crop_pads_a_small_image_with_zeros():
    a = np.arange(1, 7, dtype=np.uint8).reshape(2, 3)
    # to 4x4: left (4-3)//2 = 0, right 1, top (4-2)//2 = 1, bottom 1
    want = np.array([[0, 0, 0, 0], [1, 2, 3, 0], [4, 5, 6, 0], [0, 0, 0, 0]])
    np.testing.assert_array_equal(T.CenterCrop(4)(a), want)
    t = T.CenterCrop(4)(zeroin.tensor(a[None].astype(float)))
    assert t.shape == (1, 4, 4) and t.data[0].tolist() == want.tolist()
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(4)(_pil(a))), want)


def test_random_crop_padding_and_seeded_offsets():
    a = np.arange(1, 13, dtype=np.uint8).reshape(3, 4)
    padded = np.pad(a, 1)
    zeroin.manual_seed(3)
    outs = [T.RandomCrop(3, padding=1)(a) for _ in range(10)]
    g = np.random.Generator(np.random.PCG64(3))
    for out in outs:
        top, left = int(g.integers(0, 5 - 3 + 1)), int(g.integers(0, 6 - 3 + 1))
        np.testing.assert_array_equal(out, padded[top:top + 3, left:left + 3])
    assert len({o.tobytes() for o in outs}) > 3
    t = zeroin.tensor(a[None].astype(np.float32))
    zeroin.manual_seed(3)
    for out in outs:
        got = T.RandomCrop(3, padding=1)(t)
        assert got.shape == (1, 3, 3) and got.dtype == np.float32
        np.testing.assert_array_equal(got.data[0], out)
    zeroin.manual_seed(3)
    np.testing.assert_array_equal(np.asarray(T.RandomCrop(3, padding=1)(_pil(a))), outs[0])


def test_random_crop_padding_forms_and_modes():
    a = np.arange(1, 7).reshape(2, 3)
    # (left/right, top/bottom) = (2, 1): the whole padded image is (4, 7)
    full = T.RandomCrop((4, 7), padding=(2, 1))(a)
    np.testing.assert_array_equal(full, np.pad(a, ((1, 1), (2, 2))))
    full = T.RandomCrop((3, 6), padding=(0, 1, 3, 0), fill=9)(a)   # left, top, right, bottom
    np.testing.assert_array_equal(full, np.pad(a, ((1, 0), (0, 3)), constant_values=9))
    for mode in ("edge", "reflect", "symmetric"):
        full = T.RandomCrop((4, 5), padding=1, padding_mode=mode)(a)
        np.testing.assert_array_equal(full, np.pad(a, 1, mode=mode))
    zeroin.manual_seed(0)
    grown = [T.RandomCrop((2, 5), pad_if_needed=True)(a) for _ in range(6)]
    g = np.random.Generator(np.random.PCG64(0))
    wide = np.pad(a, ((0, 0), (2, 2)))          # as torchvision: tw - w = 2 on both sides
    for out in grown:
        top, left = int(g.integers(0, 1)), int(g.integers(0, 3))
        assert top == 0
        np.testing.assert_array_equal(out, wide[:, left:left + 5])


def test_random_crop_errors():
    with pytest.raises(ValueError, match=r"crop size \(5, 5\) is larger than the \(padded\) "
                                         r"image size \(3, 4\).*pad_if_needed"):
        T.RandomCrop(5)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding must be an int or a sequence"):
        T.RandomCrop(2, padding=(1, 2, 3))
    with pytest.raises(ValueError, match=r"RandomCrop: size must be an int or a sequence"):
        T.RandomCrop((1, 2, 3))


# ---- Resize -------------------------------------------------------------------------------

def test_resize_size_semantics():
    def out(h, w, size, max_size=None):
        return T.Resize(size, max_size=max_size)(np.zeros((h, w), np.float32)).shape

    assert out(4, 6, 2) == (2, 3) and out(6, 4, 2) == (3, 2)
    assert out(4, 6, 3) == (3, 4)                    # int(3 * 6 / 4) = int(4.5) = 4
    assert out(3, 5, 4) == (4, 6)                    # int(6.67) = 6: truncated, not rounded
    assert out(4, 6, [3]) == (3, 4) and out(4, 6, (5, 7)) == (5, 7)
    assert out(10, 40, 5, max_size=12) == (3, 12)    # long 20 > 12: short int(12 * 5/20) = 3
    with pytest.raises(ValueError, match="max_size = 5 must be strictly greater"):
        out(4, 6, 5, max_size=5)
    with pytest.raises(ValueError, match="max_size is only for an int size"):
        out(4, 6, (2, 2), max_size=5)
    with pytest.raises(ValueError, match=r"Resize: size must be positive, got \(0, 2\)"):
        T.Resize((0, 2))
    with pytest.raises(TypeError, match="interpolation must be an InterpolationMode.*'area'"):
        T.Resize(2, interpolation="area")


def _tv_resize(torch, x, size, mode, antialias):
    """torchvision's tensor resize: interpolate in float32 (uint8 in), bicubic uint8 clamped,
    integers rounded back."""
    t = torch.from_numpy(x)
    f = t.float() if t.dtype == torch.uint8 else t
    out = torch.nn.functional.interpolate(
        f[None], size=size, mode=mode, antialias=antialias and mode != "nearest-exact",
        align_corners=False if mode == "bicubic" else None)[0]
    if t.dtype == torch.uint8:
        out = out.clamp(0, 255).round().to(torch.uint8)
    return out.numpy()


@pytest.mark.parametrize("mode", ["bicubic", "nearest-exact"])
@pytest.mark.parametrize("antialias", [True, False])
def test_resize_bicubic_and_nearest_exact_as_torchvisions_tensor_path(mode, antialias):
    """InterpolationMode had only NEAREST and BILINEAR: BICUBIC and NEAREST_EXACT were
    refused. The uint8 path rounds and clamps to 0..255 (bicubic overshoots)."""
    torch = pytest.importorskip("torch")
    M = T.InterpolationMode
    m = M(mode)
    u8 = np.zeros((3, 9, 11), np.uint8)
    u8[:, 3:6, 4:8] = 255                           # sharp edges: bicubic over/undershoots
    f64 = _rgb(3, (3, 9, 11))
    for x in (u8, f64):
        for size in ((5, 6), (14, 17)):
            got = T.Resize(size, interpolation=m, antialias=antialias)(zeroin.tensor(x))
            want = _tv_resize(torch, x, size, mode, antialias)
            assert got.dtype == x.dtype
            if x.dtype == np.uint8:
                np.testing.assert_array_equal(got.numpy(), want)
            else:
                np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    hwc = np.moveaxis(u8, 0, -1)
    np.testing.assert_array_equal(T.functional.resize(hwc, (5, 6), m, antialias=antialias),
                                  np.moveaxis(T.Resize((5, 6), m, antialias=antialias)(
                                      zeroin.tensor(u8)).numpy(), 0, -1))


def test_interpolation_as_a_string_is_refused_as_torchvisions():
    """torchvision's InterpolationMode is a plain Enum and its functions take a mode or
    Pillow's int code only: F.resize / rotate / affine raise TypeError for 'lanczos' (v1),
    v2's _check_interpolation ValueError. zeroin took the string; now it raises an error
    that is both, names the op and says which mode to write."""
    from zeroin.vision.transforms import v2
    M = T.InterpolationMode
    for value in [m.value for m in M] + ["LANCZOS", "area"]:
        fix = (f"InterpolationMode.{M(value.lower()).name}" if value.lower() in
               [m.value for m in M] else r"the modes are InterpolationMode.NEAREST, .NEAREST_EXACT")
        makers = [("Resize", lambda: T.Resize(4, interpolation=value)),
                  ("RandomResizedCrop", lambda: T.RandomResizedCrop(4, interpolation=value)),
                  ("RandomRotation", lambda: T.RandomRotation(5, interpolation=value)),
                  ("TrivialAugmentWide", lambda: T.TrivialAugmentWide(interpolation=value)),
                  ("Resize", lambda: v2.Resize(4, interpolation=value)),
                  ("resize", lambda: T.functional.resize(_img(8, 6), 4, value)),
                  ("rotate", lambda: T.functional.rotate(_img(8, 6), 30, value))]
        for op, make in makers:
            for kind in (TypeError, ValueError):
                with pytest.raises(kind, match=f"{op}: interpolation must be an "
                                   f"InterpolationMode .*got '{value}'; .*{fix}"):
                    make()
    assert T.Resize(4, interpolation=1).interpolation is M.LANCZOS     # Pillow's code
    assert T.Resize(4, interpolation=M("lanczos")).interpolation is M.LANCZOS


def test_interpolation_modes_with_pil_and_rotate():
    Image = pytest.importorskip("PIL.Image")
    M = T.InterpolationMode
    a = _img(8, 10)
    got = T.RandomResizedCrop((4, 5), scale=(1.0, 1.0), ratio=(1.25, 1.25),
                              interpolation=M.BICUBIC)(_pil(a))
    np.testing.assert_array_equal(np.asarray(got), np.asarray(
        _pil(a).resize((5, 4), Image.Resampling.BICUBIC)))
    np.testing.assert_array_equal(np.asarray(T.Resize((3, 4), M.NEAREST_EXACT)(_pil(a))),
                                  np.asarray(_pil(a).resize((4, 3), Image.Resampling.NEAREST)))
    np.testing.assert_array_equal(
        np.asarray(T.functional.rotate(_pil(a), 30, M.BICUBIC)),
        np.asarray(_pil(a).rotate(30, Image.Resampling.BICUBIC, fillcolor=(0, 0, 0))))
    for op in (lambda x: T.functional.rotate(x, 30, M.BICUBIC),
               lambda x: T.functional.affine(x, 0, (1, 0), 1.0, 0.0, M.NEAREST_EXACT)):
        with pytest.raises(ValueError, match="NEAREST or BILINEAR .*tensor .*use a PIL"):
            op(zeroin.tensor(_rgb()))


@pytest.mark.parametrize("name", ["BOX", "HAMMING", "LANCZOS"])
def test_resize_pil_only_filters_are_pillows_resize(name):
    """BOX, HAMMING and LANCZOS were refused ('interpolation must be ...'): on a PIL image
    torchvision's resize is Pillow's with that filter, in Resize, functional.resize,
    RandomResizedCrop and v2; given as the mode or Pillow's integer code (not its value, a
    string, which torchvision refuses)."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision.transforms import v2
    M, f = T.InterpolationMode, getattr(Image.Resampling, name)
    a = _img(11, 14, seed=3)
    for img, size in ((_pil(a), (5, 9)), (_pil(a[..., 0]), (17, 6)), (_pil(a).convert("F"),
                                                                        (4, 4))):
        want = np.asarray(img.resize((size[1], size[0]), f))
        for mode in (M[name], f, int(f)):
            np.testing.assert_array_equal(np.asarray(T.Resize(size, mode)(img)), want)
            np.testing.assert_array_equal(
                np.asarray(T.functional.resize(img, size, mode)), want)
            np.testing.assert_array_equal(np.asarray(v2.Resize(size, mode)(img)), want)
    assert M(name.lower()) is M[name] and T.Resize(3, int(f)).interpolation is M[name]
    crop = T.RandomResizedCrop((4, 5), scale=(1.0, 1.0), ratio=(14 / 11, 14 / 11),
                               interpolation=f)
    for t in (crop, v2.RandomResizedCrop(**{k: getattr(crop, k) for k in
                                            ("size", "scale", "ratio", "interpolation")})):
        np.testing.assert_array_equal(np.asarray(t(_pil(a))),
                                      np.asarray(_pil(a).resize((5, 4), f)))


def test_resize_pil_only_filters_refuse_tensors_and_rotation():
    """A tensor (or NumPy image) with BOX / HAMMING / LANCZOS: torchvision's interpolate
    refuses the mode (NotImplementedError); rotate / affine of a PIL image: Pillow's
    ValueError. Pillow's integer codes map as torchvision's (1 is LANCZOS, 4 BOX, 5 HAMMING);
    other codes are refused."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision.transforms import v2
    M = T.InterpolationMode
    x = zeroin.tensor(_rgb(1, (3, 8, 8)))
    for mode in (M.BOX, M.HAMMING, M.LANCZOS):
        pat = rf"resize: InterpolationMode.{mode.name} is for PIL images only.*got {mode.value}"
        for t in (T.Resize(4, mode), v2.Resize(4, mode),
                  T.RandomResizedCrop(4, interpolation=mode)):
            with pytest.raises(NotImplementedError, match=pat + ".*to_pil_image"):
                t(x)
        with pytest.raises(NotImplementedError, match="a NumPy image is resized"):
            T.functional.resize(_img(8, 8), (3, 3), mode)
        for op in (lambda im: T.functional.rotate(im, 30, mode),
                   lambda im: T.functional.affine(im, 5, (1, 0), 1.0, 0.0, mode),
                   lambda im: T.RandomRotation(10, mode)(im)):
            with pytest.raises(ValueError, match=rf"InterpolationMode.{mode.name} cannot be "
                                                 r"used.*NEAREST, BILINEAR or BICUBIC"):
                op(_pil(_img()))
            with pytest.raises(ValueError, match="NEAREST or BILINEAR"):
                op(x)
    assert [T.Resize(2, c).interpolation for c in range(6)] == [
        M.NEAREST, M.LANCZOS, M.BILINEAR, M.BICUBIC, M.BOX, M.HAMMING]
    np.testing.assert_array_equal(    # Pillow's NEAREST code rotates as NEAREST
        np.asarray(T.functional.rotate(_pil(_img()), 30, Image.Resampling.NEAREST)),
        np.asarray(T.functional.rotate(_pil(_img()), 30, M.NEAREST)))
    for bad in (6, -1, True):
        with pytest.raises(ValueError, match="Resize: interpolation"):
            T.Resize(2, bad)


def test_resize_by_hand_nearest_and_bilinear():
    row = np.array([[0.0, 10.0, 20.0, 30.0]])
    near = T.Resize((1, 2), interpolation=T.InterpolationMode.NEAREST)(row)
    assert near.tolist() == [[0.0, 20.0]]                     # floor(i * 2)
    # bilinear, half-pixel centres: src = (i + 0.5) * 2 - 0.5 = 0.5, 2.5
    assert T.Resize((1, 2), antialias=False)(row).tolist() == [[5.0, 25.0]]
    # antialiased (torchvision's default): a triangle of half-width 2 (the factor) about
    # the centres 1 and 3, w = 1 - |j + 0.5 - centre| / 2, normalised:
    # pixels 0, 1, 2 weigh 0.75, 0.75, 0.25 -> 12.5 / 1.75; pixels 1, 2, 3 -> 40 / 1.75
    np.testing.assert_allclose(T.Resize((1, 2))(row), [[12.5 / 1.75, 40 / 1.75]])
    # up 2 -> 4: src = (i + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    up = T.Resize((1, 4), interpolation=T.InterpolationMode.BILINEAR)(np.array([[0.0, 10.0]]))
    assert up.tolist() == [[0.0, 2.5, 7.5, 10.0]]
    # uint8 results are rounded (half to even): [0, 5] up to 4 -> 0, 1.25, 3.75, 5
    u = T.Resize((1, 4))(np.array([[0, 5]], np.uint8))
    assert u.dtype == np.uint8 and u.tolist() == [[0, 1, 4, 5]]
    d = T.Resize((1, 2))(np.array([[0, 10, 20, 30]], np.uint8))       # 7.14, 22.86
    assert d.dtype == np.uint8 and d.tolist() == [[7, 23]]


def test_resize_tensor_matches_pytorch_interpolate():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x64 = rng.random((2, 3, 37, 23))
    sizes = [(3, 4), (11, 5), (7, 13), (36, 22), (74, 9), (5, 23), (19, 12), (50, 50)]
    # float32: zeroin's is within 2e-7 of the float64 result, torch's float32 kernels
    # within 2.1e-6 of it (they round more), hence 3e-6 between the two float32 results
    for hw in sizes:
        for mode in ("nearest", "bilinear"):
            for aa in (True, False):
                kw = {} if mode == "nearest" else {"align_corners": False, "antialias": aa}
                want = F.interpolate(torch.from_numpy(x64), size=hw, mode=mode, **kw).numpy()
                want32 = F.interpolate(torch.from_numpy(x64.astype(np.float32)), size=hw,
                                       mode=mode, **kw).numpy()
                resize = T.Resize(hw, interpolation=T.InterpolationMode(mode), antialias=aa)
                got, got32 = resize(zeroin.tensor(x64)), resize(zeroin.tensor(
                    x64.astype(np.float32)))
                assert got.dtype == np.float64 and got32.dtype == np.float32
                assert got.shape == (2, 3) + hw
                np.testing.assert_allclose(got.data, want, rtol=0, atol=1e-12)
                if mode == "nearest":
                    np.testing.assert_array_equal(got32.data, want32)
                else:
                    np.testing.assert_allclose(got32.data, want, rtol=0, atol=2e-7)
                    np.testing.assert_allclose(got32.data, want32, rtol=0, atol=3e-6)
    # a photo-sized shrink: torch's float32 kernel puts the filter centres in float32, off by
    # up to ~1.5e-5 here; zeroin's float32 stays within 2e-7 of the float64 result
    big = rng.random((3, 375, 500))
    want = F.interpolate(torch.from_numpy(big)[None], size=(224, 298), mode="bilinear",
                         antialias=True)[0].numpy()
    want32 = F.interpolate(torch.from_numpy(big.astype(np.float32))[None], size=(224, 298),
                           mode="bilinear", antialias=True)[0].numpy()
    got32 = T.Resize(224)(zeroin.tensor(big.astype(np.float32))).data
    np.testing.assert_allclose(T.Resize(224)(zeroin.tensor(big)).data, want, atol=1e-12)
    np.testing.assert_allclose(got32, want, rtol=0, atol=2e-7)
    assert np.abs(got32 - want32).max() <= np.abs(want32 - want).max() + 2e-7
    # antialiasing changes only shrinking, not enlarging
    up, up_aa = (T.Resize((40, 30), antialias=aa)(zeroin.tensor(x64)).data
                 for aa in (False, True))
    np.testing.assert_allclose(up, up_aa, atol=1e-12)
    down, down_aa = (T.Resize((9, 6), antialias=aa)(zeroin.tensor(x64)).data
                     for aa in (False, True))
    assert np.abs(down - down_aa).max() > 0.05 and down_aa.std() < down.std()
    # PyTorch's nearest index is floor(i * scale) in float32: 14 -> 46 and 26 -> 22 pick
    # other pixels than the same formula in float64 would
    for n_in, n_out in ((14, 46), (26, 22)):
        row = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in)
        got = T.Resize((1, n_out), interpolation=T.InterpolationMode.NEAREST)(zeroin.tensor(row))
        want = F.interpolate(torch.from_numpy(row[None]), size=(1, n_out)).numpy()[0]
        np.testing.assert_array_equal(got.data, want)


def test_resize_array_and_pil_keep_their_kind():
    a = _img(8, 6)
    r = T.Resize(3)(a)
    assert isinstance(r, np.ndarray) and r.shape == (4, 3, 3) and r.dtype == np.uint8
    t = T.Resize(3, interpolation=T.InterpolationMode.NEAREST)(T.ToTensor()(a))
    np.testing.assert_allclose(t.data, T.ToTensor()(T.Resize(3, 0)(a)).data)
    p = T.Resize(3)(_pil(a))
    from PIL import Image
    assert p.size == (3, 4)
    np.testing.assert_array_equal(np.asarray(p), np.asarray(_pil(a).resize(
        (3, 4), Image.Resampling.BILINEAR)))


# ---- Grayscale, ConvertImageDtype, Compose, Lambda -----------------------------------------

def test_grayscale_formula_and_truncation():
    x = np.array([[[1.0]], [[0.5]], [[0.25]]])
    g = T.Grayscale()(zeroin.tensor(x))
    assert g.shape == (1, 1, 1)
    assert g.item() == pytest.approx(0.2989 + 0.587 * 0.5 + 0.114 * 0.25)
    u = np.array([[[255, 0, 0], [1, 1, 1]]], np.uint8)       # (1, 2, 3) HWC
    # 0.2989 * 255 = 76.22 -> 76; 0.2989 + 0.587 + 0.114 = 0.9999 -> 0 (truncated)
    assert T.Grayscale()(u).tolist() == [[[76], [0]]]          # (H, W, 1)
    three = T.Grayscale(3)(zeroin.tensor(np.stack([x, x])))
    assert three.shape == (2, 3, 1, 1) and np.ptp(three.data[0]) == 0
    assert np.asarray(T.Grayscale()(_pil(u))).shape == (1, 2)
    assert np.asarray(T.Grayscale(3)(_pil(u))).shape == (1, 2, 3)
    with pytest.raises(ValueError, match=r"1 or 3 channels, got an image of shape \(4, 1, 1\)"):
        T.Grayscale()(zeroin.tensor(np.zeros((4, 1, 1))))
    with pytest.raises(ValueError, match="num_output_channels should be 1 or 3"):
        T.Grayscale(2)


def test_random_grayscale_keeps_the_channel_count_with_probability_p():
    x = zeroin.tensor(np.random.default_rng(0).uniform(size=(3, 2, 2)))
    np.testing.assert_array_equal(T.RandomGrayscale(p=1.0)(x).data, T.Grayscale(3)(x).data)
    assert T.RandomGrayscale(p=0.0)(x) is x
    one = zeroin.tensor(np.ones((1, 2, 2)))
    assert T.RandomGrayscale(p=1.0)(one).shape == (1, 2, 2)
    u = np.zeros((2, 2, 3), np.uint8)                          # HWC: three channels
    assert T.RandomGrayscale(p=1.0)(u).shape == (2, 2, 3)
    assert np.asarray(T.RandomGrayscale(p=1.0)(_pil(u))).shape == (2, 2, 3)
    zeroin.manual_seed(3)
    hits = [T.RandomGrayscale(p=0.2)(x) is not x for _ in range(40)]
    g = np.random.Generator(np.random.PCG64(3))
    assert hits == [g.random() < 0.2 for _ in range(40)] and 2 < sum(hits) < 16
    assert repr(T.RandomGrayscale(0.2)) == "RandomGrayscale(p=0.2)"


def test_random_solarize_inverts_at_or_above_the_threshold_with_probability_p():
    """torchvision's RandomSolarize (BYOL's and DINO's second view): 1 - x for float
    pixels >= threshold, 255 - x for uint8 ones, with probability p (one uniform draw)."""
    a = np.array([[[0.1, 0.25], [0.7, 0.24]]], np.float32)
    x = zeroin.tensor(a)
    np.testing.assert_array_equal(T.RandomSolarize(0.25, p=1.0)(x).numpy(),
                                  np.array([[[0.1, 0.75], [1 - np.float32(0.7), 0.24]]],
                                           np.float32))
    assert T.RandomSolarize(0.5, p=0.0)(x) is x
    u = np.array([[[10, 128], [200, 127]]], np.uint8)
    np.testing.assert_array_equal(T.RandomSolarize(128, p=1.0)(zeroin.tensor(u)).numpy(),
                                  [[[10, 127], [55, 127]]])
    assert np.asarray(T.RandomSolarize(128, p=1.0)(_pil(u[0]))).tolist() == [[10, 127],
                                                                             [55, 127]]
    zeroin.manual_seed(3)
    hits = [T.RandomSolarize(0.5, p=0.2)(x) is not x for _ in range(40)]
    g = np.random.Generator(np.random.PCG64(3))
    assert hits == [g.random() < 0.2 for _ in range(40)] and 2 < sum(hits) < 16
    assert repr(T.RandomSolarize(0.5, 0.2)) == "RandomSolarize(threshold=0.5,p=0.2)"
    with pytest.raises(ValueError, match=r"RandomSolarize: p should be a probability in "
                                         r"\[0, 1\], got 2"):
        T.RandomSolarize(0.5, p=2)
    with pytest.raises(ValueError, match=r"RandomGrayscale: p should be a probability.*1.5"):
        T.RandomGrayscale(1.5)


def test_convert_image_dtype():
    u = zeroin.tensor(np.array([0, 128, 255], np.uint8))
    f = T.ConvertImageDtype(zeroin.float32)(u)
    assert f.dtype == np.float32 and f.tolist() == pytest.approx([0, 128 / 255, 1])
    back = T.ConvertImageDtype(zeroin.uint8)(zeroin.tensor(np.array([0.0, 0.5, 1.0])))
    assert back.dtype == np.uint8 and back.tolist() == [0, 127, 255]   # x * 255.999
    assert T.ConvertImageDtype(zeroin.int16)(u).tolist() == [0, 128 * 128, 255 * 128]
    assert T.ConvertImageDtype(zeroin.uint8)(
        zeroin.tensor(np.array([32767, 256], np.int16))).tolist() == [255, 2]
    with pytest.raises(RuntimeError, match="float32 to int32 cannot be performed safely"):
        T.ConvertImageDtype(zeroin.int32)(zeroin.tensor(np.zeros(2, np.float32)))


def test_compose_and_lambda():
    pipe = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize([1.0], [2.0])])
    out = pipe(np.full((1, 1, 1), 255, np.uint8))
    assert out.tolist() == [[[0.5]]]                     # (1 * 2 - 1) / 2
    assert repr(pipe).splitlines()[0] == "Compose(" and "ToTensor()" in repr(pipe)
    with pytest.raises(TypeError, match="lambd should be callable, got int"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="RandomCrop: expected a PIL image.*got list"):
        T.RandomCrop(2)([[1, 2]])


# ---- ImageFolder --------------------------------------------------------------------------

def _folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    pixels = {}
    for cls, names in (("dog", ["b.png", "a.PNG", "sub/c.png"]), ("cat", ["z.png"])):
        for i, name in enumerate(names):
            path = tmp_path / cls / name
            path.parent.mkdir(parents=True, exist_ok=True)
            arr = np.full((2, 3, 3), 10 * i + len(cls), np.uint8)
            Image.fromarray(arr).save(path)
            pixels[str(path)] = arr
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    return pixels


def test_image_folder_layout_as_torchvision(tmp_path):
    pixels = _folder(tmp_path)
    ds = ImageFolder(tmp_path, transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    names = [p.replace(str(tmp_path), "").replace("\\", "/") for p, _ in ds.samples]
    assert names == ["/cat/z.png", "/dog/a.PNG", "/dog/b.png", "/dog/sub/c.png"]
    assert ds.targets == [0, 1, 1, 1] and ds.imgs is ds.samples and len(ds) == 4
    x, y = ds[2]
    assert y == 1 and x.shape == (3, 2, 3)
    np.testing.assert_array_equal(x.data, pixels[ds.samples[2][0]].transpose(2, 0, 1) / 255)
    ds2 = ImageFolder(tmp_path, transform=T.ToTensor(), target_transform=lambda t: 10 + t)
    assert ds2[0][1] == 10
    assert repr(ImageFolder(tmp_path, T.Compose([T.ToTensor()]))).splitlines()[-3:] == [
        "    Transform: Compose(", "        ToTensor()", "    )"]
    xb, yb = next(iter(zeroin.data.DataLoader(ds, batch_size=3)))
    assert xb.shape == (3, 3, 2, 3) and yb.tolist() == [0, 1, 1]


def test_image_folder_find_classes_can_be_overridden(tmp_path):
    _folder(tmp_path)

    class DogsOnly(ImageFolder):
        def find_classes(self, directory):
            return ["dog"], {"dog": 0}

    ds = DogsOnly(tmp_path)
    assert ds.classes == ["dog"] and ds.targets == [0, 0, 0]
    assert ds[0][0].size == (3, 2) and ds[0][0].mode == "RGB"     # PIL image, RGB


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="found no class folder"):
        ImageFolder(tmp_path)
    (tmp_path / "empty").mkdir()
    _folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no valid file for the classes empty"):
        ImageFolder(tmp_path)
    assert ImageFolder(tmp_path, allow_empty=True).classes == ["cat", "dog", "empty"]
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(tmp_path / "missing")


def test_image_folder_without_pillow_says_how_to_install(tmp_path, monkeypatch):
    _folder(tmp_path)
    ds = ImageFolder(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install pillow"):
        ds[0]


def test_import_zeroin_does_not_load_vision_or_pillow():
    code = ("import sys, zeroin; assert 'zeroin.vision' not in sys.modules; "
            "assert 'PIL' not in sys.modules; import zeroin.vision; "
            "assert 'PIL' not in sys.modules; print(zeroin.vision.transforms.Resize)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


# ---- RandomResizedCrop --------------------------------------------------------------------

def _rrc_params(g, height, width, scale, ratio):
    """torchvision's RandomResizedCrop.get_params, written out with a NumPy generator."""
    for _ in range(10):
        target = height * width * g.uniform(*scale)
        ar = np.exp(g.uniform(np.log(ratio[0]), np.log(ratio[1])))
        w, h = int(round(np.sqrt(target * ar))), int(round(np.sqrt(target / ar)))
        if 0 < w <= width and 0 < h <= height:
            return int(g.integers(0, height - h + 1)), int(g.integers(0, width - w + 1)), h, w
    return None


def test_random_resized_crop_params_follow_torchvisions_sampling():
    img = np.zeros((30, 50), np.uint8)
    zeroin.manual_seed(5)
    got = [T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    g = np.random.Generator(np.random.PCG64(5))
    assert got == [_rrc_params(g, 30, 50, (0.08, 1.0), (3 / 4, 4 / 3)) for _ in range(50)]
    for i, j, h, w in got:
        assert 0 <= i <= 30 - h and 0 <= j <= 50 - w
        assert 0.08 * 1500 - 2 * (h + w) <= h * w <= 1500          # rounding of h and w
        assert 3 / 4 - 1 / min(h, w) <= w / h <= 4 / 3 + 1 / min(h, w)
    assert len(set(got)) > 40


def test_random_resized_crop_falls_back_to_the_central_crop():
    # an area of 5x the image never fits: after 10 tries, the central crop in ratio range
    wide, tall, square = np.zeros((10, 40)), np.zeros((40, 10)), np.zeros((12, 14))
    p = T.RandomResizedCrop.get_params
    # w / h = 4 > 4/3: h = 10, w = round(10 * 4/3) = 13, left = (40 - 13) // 2 = 13
    assert p(wide, (5.0, 6.0), (3 / 4, 4 / 3)) == (0, 13, 10, 13)
    # w / h = 1/4 < 3/4: w = 10, h = round(10 / 0.75) = 13, top = (40 - 13) // 2 = 13
    assert p(tall, (5.0, 6.0), (3 / 4, 4 / 3)) == (13, 0, 13, 10)
    assert p(square, (5.0, 6.0), (3 / 4, 4 / 3)) == (0, 0, 12, 14)     # ratio in range
    t = zeroin.tensor(np.arange(400.0).reshape(1, 10, 40))
    out = T.RandomResizedCrop((10, 13), scale=(5.0, 6.0))(t)
    np.testing.assert_array_equal(out.data, t.data[:, :, 13:26])


def test_random_resized_crop_is_crop_then_resize_for_every_kind():
    a = _img(20, 30)
    t = T.ToTensor()(a)
    rrc = T.RandomResizedCrop((6, 5), interpolation=T.InterpolationMode.NEAREST)
    for kind_img in (a, t, _pil(a)):
        zeroin.manual_seed(11)
        out = rrc(kind_img)
        zeroin.manual_seed(11)
        i, j, h, w = T.RandomResizedCrop.get_params(kind_img, (0.08, 1.0), (3 / 4, 4 / 3))
        want = T.Resize((6, 5), T.InterpolationMode.NEAREST)(a[i:i + h, j:j + w])
        if not isinstance(kind_img, (np.ndarray, zeroin.Tensor)):      # Pillow's resize
            want = np.asarray(_pil(a[i:i + h, j:j + w]).resize((5, 6), 0))
        got = out.data.transpose(1, 2, 0) * 255 if kind_img is t else np.asarray(out)
        np.testing.assert_allclose(got, want, atol=1e-9)
    assert T.RandomResizedCrop(7)(t).shape == (3, 7, 7)


def test_random_resized_crop_errors():
    with pytest.raises(TypeError, match=r"RandomResizedCrop: scale should be a sequence "
                                        r"\(min, max\).*0.5"):
        T.RandomResizedCrop(4, scale=0.5)
    with pytest.raises(ValueError, match="ratio > 0"):
        T.RandomResizedCrop(4, ratio=(0, 1))
    with pytest.warns(UserWarning, match=r"ratio \(2, 1\) should be of kind \(min, max\)"):
        T.RandomResizedCrop(4, ratio=(2, 1))
    with pytest.raises(ValueError, match="RandomResizedCrop: size must be positive"):
        T.RandomResizedCrop(0)
    with pytest.raises(TypeError, match="RandomResizedCrop: interpolation must be.*'area'"):
        T.RandomResizedCrop(4, interpolation="area")


# ---- ColorJitter and the colour adjustments -----------------------------------------------

def _rgb(seed=0, shape=(3, 4, 5)):
    return np.random.default_rng(seed).random(shape)


def _luma(x):
    return 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def test_adjust_brightness_contrast_saturation_by_formula():
    from zeroin.vision.transforms import functional as F
    x = _rgb()
    t = zeroin.tensor(x)
    for f in (0.0, 0.3, 1.0, 1.7):
        np.testing.assert_allclose(F.adjust_brightness(t, f).data, np.clip(f * x, 0, 1))
        mean = _luma(x).mean()
        np.testing.assert_allclose(F.adjust_contrast(t, f).data,
                                   np.clip(f * x + (1 - f) * mean, 0, 1), atol=1e-15)
        np.testing.assert_allclose(F.adjust_saturation(t, f).data,
                                   np.clip(f * x + (1 - f) * _luma(x)[None], 0, 1), atol=1e-15)
    assert F.adjust_brightness(t, 1.7).data.max() == 1.0         # clamped
    assert np.ptp(F.adjust_contrast(t, 0.0).data) < 1e-15        # flat: the gray mean
    g = zeroin.tensor(x[:1])                                     # one channel
    np.testing.assert_allclose(F.adjust_contrast(g, 0.5).data,
                               0.5 * x[:1] + 0.5 * x[:1].mean())
    assert F.adjust_saturation(g, 0.2).data.tolist() == x[:1].tolist()
    b = zeroin.tensor(np.stack([x, x / 2]).astype(np.float32))   # batch, float32 kept
    out = F.adjust_contrast(b, 1.5)
    assert out.dtype == np.float32 and out.shape == (2, 3, 4, 5)
    np.testing.assert_allclose(out.data[1], np.clip(1.5 * x / 2 - 0.5 * _luma(x / 2).mean(),
                                                    0, 1), atol=1e-6)
    # uint8: the gray image is truncated to uint8, the blend clamped to 255 and truncated
    u = np.array([[[200, 10, 0]]], np.uint8)                     # (H, W, C) = (1, 1, 3)
    gray = int(0.2989 * 200 + 0.587 * 10)                        # 65
    assert F.adjust_saturation(u, 2.0).tolist() == [[[255, 0, 0]]]
    assert F.adjust_brightness(u, 1.5).tolist() == [[[255, 15, 0]]]
    assert F.adjust_contrast(u, 0.5).tolist() == [[[int(100 + gray / 2), int(5 + gray / 2),
                                                     int(gray / 2)]]]


def test_adjust_hue_matches_colorsys_and_hand_values():
    import colorsys
    from zeroin.vision.transforms import functional as F
    red = zeroin.tensor([[[1.0]], [[0.0]], [[0.0]]])
    np.testing.assert_allclose(F.adjust_hue(red, 1 / 3).data.ravel(), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(F.adjust_hue(red, -1 / 3).data.ravel(), [0, 0, 1], atol=1e-12)
    x = _rgb(1, (3, 6, 7))
    x[:, 0, 0] = 0.4                                             # gray: hue 0, s 0
    x[:, 0, 1] = [0.9, 0.9, 0.2]                                 # max in two channels
    for f in (-0.5, -0.2, 0.0, 0.13, 0.5):
        got = F.adjust_hue(zeroin.tensor(x), f).data
        want = np.empty_like(x)
        for i in range(6):
            for j in range(7):
                h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
                want[:, i, j] = colorsys.hsv_to_rgb((h + f) % 1.0, s, v)
        np.testing.assert_allclose(got, want, atol=1e-12)
    assert F.adjust_hue(zeroin.tensor(x[:1]), 0.3).data.tolist() == x[:1].tolist()
    # uint8 goes through float32 and back as ConvertImageDtype (x 255.999, truncated)
    u = np.array([[[255, 0, 0]]], np.uint8)
    assert F.adjust_hue(u, 1 / 3).tolist() == [[[0, 255, 0]]]


def test_color_adjustments_on_pil_use_pillow_as_torchvision():
    from zeroin.vision.transforms import functional as F
    from PIL import ImageEnhance
    p = _pil(_img(4, 5))
    for fn, enh in ((F.adjust_brightness, ImageEnhance.Brightness),
                    (F.adjust_contrast, ImageEnhance.Contrast),
                    (F.adjust_saturation, ImageEnhance.Color)):
        np.testing.assert_array_equal(np.asarray(fn(p, 0.6)), np.asarray(enh(p).enhance(0.6)))
    hsv = np.asarray(p.convert("HSV")).copy()
    hsv[..., 0] += np.uint8(int(0.2 * 255))                      # wraps around mod 256
    from PIL import Image
    want = Image.merge("HSV", [Image.fromarray(hsv[..., k]) for k in range(3)]).convert("RGB")
    np.testing.assert_array_equal(np.asarray(F.adjust_hue(p, 0.2)), np.asarray(want))
    assert np.abs(np.asarray(F.adjust_hue(p, 0.2), int) - np.asarray(p, int)).max() > 20


def test_color_adjustment_errors():
    from zeroin.vision.transforms import functional as F
    t = zeroin.tensor(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match=r"adjust_brightness: brightness_factor \(-0.5\) "
                                         r"must be a non-negative"):
        F.adjust_brightness(t, -0.5)
    with pytest.raises(ValueError, match=r"adjust_hue: hue_factor \(0.7\) must be in"):
        F.adjust_hue(t, 0.7)
    with pytest.raises(ValueError, match=r"adjust_contrast: expected an image of 1 or 3 "
                                         r"channels.*\(2, 2, 2\)"):
        F.adjust_contrast(zeroin.tensor(np.zeros((2, 2, 2))), 0.5)


def test_color_jitter_argument_forms():
    cj = T.ColorJitter(brightness=0.5, contrast=(0.2, 0.9), saturation=2, hue=0.1)
    assert cj.brightness == (0.5, 1.5) and cj.contrast == (0.2, 0.9)
    assert cj.saturation == (0.0, 3.0) and cj.hue == (-0.1, 0.1)      # 1 - 2 clipped to 0
    none = T.ColorJitter()
    assert none.brightness is none.contrast is none.saturation is none.hue is None
    assert T.ColorJitter(brightness=(1, 1), hue=(0, 0)).brightness is None
    with pytest.raises(ValueError, match="ColorJitter: if brightness is a single number, it "
                                         "must be non-negative, got -1"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\)"):
        T.ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match=r"contrast values.*got \[0.9, 0.2\]"):
        T.ColorJitter(contrast=(0.9, 0.2))
    with pytest.raises(TypeError, match=r"saturation should be a single number or a "
                                        r"sequence \(min, max\), got 'x'"):
        T.ColorJitter(saturation="x")
    x = zeroin.tensor(_rgb())
    assert T.ColorJitter()(x) is x


def test_color_jitter_draws_order_and_factors_as_torchvision():
    from zeroin.vision.transforms import functional as F
    x = zeroin.tensor(_rgb(2))
    cj = T.ColorJitter(brightness=(1.5, 2.5), contrast=(0.3, 0.6), saturation=0.4, hue=0.2)
    zeroin.manual_seed(4)
    outs = [cj(x).data for _ in range(12)]
    g = np.random.Generator(np.random.PCG64(4))
    fns = [F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue]
    orders = set()
    for out in outs:
        order = g.permutation(4)
        factors = [g.uniform(1.5, 2.5), g.uniform(0.3, 0.6), g.uniform(0.6, 1.4),
                   g.uniform(-0.2, 0.2)]
        want = x
        for k in order:
            want = fns[k](want, factors[k])
        np.testing.assert_allclose(out, want.data, atol=1e-12)
        orders.add(tuple(order))
    assert len(orders) > 6
    # the order matters: brightness x2 clamps, so contrast before or after differ
    both = T.ColorJitter(brightness=(2, 2), contrast=(0.5, 0.5))
    a = F.adjust_contrast(F.adjust_brightness(x, 2), 0.5).data
    b = F.adjust_brightness(F.adjust_contrast(x, 0.5), 2).data
    assert np.abs(a - b).max() > 0.1
    zeroin.manual_seed(0)
    outs = [both(x).data for _ in range(20)]
    seen = {0 if np.allclose(o, a) else 1 if np.allclose(o, b) else 2 for o in outs}
    assert seen == {0, 1}


# ---- ToPILImage, Pad ----------------------------------------------------------------------

def test_to_pil_image_modes_and_scaling():
    pytest.importorskip("PIL.Image")
    x = _rgb(3, (3, 2, 4))
    p = T.ToPILImage()(zeroin.tensor(x))
    assert p.mode == "RGB" and p.size == (4, 2)
    np.testing.assert_array_equal(np.asarray(p), (x * 255).astype(np.uint8).transpose(1, 2, 0))
    assert np.asarray(T.ToPILImage()(zeroin.tensor([[[1.0, 0.999]]]))).tolist() == [[255, 254]]
    g = T.ToPILImage()(zeroin.tensor(x[:1]))
    assert g.mode == "L" and np.asarray(g).tolist() == (x[0] * 255).astype(np.uint8).tolist()
    assert T.ToPILImage()(zeroin.tensor(x[0])).mode == "L"                  # (H, W)
    assert T.ToPILImage()(zeroin.tensor(np.concatenate([x, x[:1]]))).mode == "RGBA"
    f = T.ToPILImage(mode="F")(zeroin.tensor(x[:1].astype(np.float32)))
    assert f.mode == "F" and np.asarray(f).tolist() == x[0].astype(np.float32).tolist()
    a = _img(2, 3)
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(a)), a)          # (H, W, C)
    assert T.ToPILImage(mode="HSV")(a).mode == "HSV"
    back = T.ToTensor()(T.ToPILImage()(T.ToTensor()(a)))                     # a round trip
    np.testing.assert_array_equal(back.data, T.ToTensor()(a).data)


def test_to_pil_image_errors():
    pytest.importorskip("PIL.Image")
    with pytest.raises(ValueError, match=r"to_pil_image: a float image must hold values in "
                                         r"\[0, 1\].*\[-1, 1\].*clamp"):
        T.ToPILImage()(zeroin.tensor([[[-1.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"incorrect mode 'RGB' for an image of 1 channel"):
        T.ToPILImage(mode="RGB")(zeroin.tensor([[[0.5]]]))
    with pytest.raises(ValueError, match=r"not have more than 4 channels.*5"):
        T.ToPILImage()(zeroin.tensor(np.zeros((5, 2, 2))))
    with pytest.raises(TypeError, match="to_pil_image: pic should be a tensor or a NumPy"):
        T.ToPILImage()([[0.5]])


def test_pad_matches_pytorch_pad():
    torch = pytest.importorskip("torch")
    x = _rgb(4, (2, 3, 4))
    t = zeroin.tensor(x)
    for padding, ltrb in ((1, (1, 1, 1, 1)), ((2, 1), (2, 1, 2, 1)), ((0, 1, 2, 2), (0, 1, 2, 2))):
        for mode, tmode in (("constant", "constant"), ("edge", "replicate"),
                            ("reflect", "reflect")):
            got = T.Pad(padding, fill=0.5, padding_mode=mode)(t)
            kw = {"value": 0.5} if mode == "constant" else {}
            lrtb = (ltrb[0], ltrb[2], ltrb[1], ltrb[3])              # torch's order
            want = torch.nn.functional.pad(torch.from_numpy(x)[None], lrtb, mode=tmode, **kw)
            np.testing.assert_array_equal(got.data, want[0].numpy())
    sym = T.Pad((1, 0), padding_mode="symmetric")(t).data        # the edge pixel repeated
    np.testing.assert_array_equal(sym[..., 0], x[..., 0])
    np.testing.assert_array_equal(sym[..., -1], x[..., -1])
    a = _img(2, 3)
    p = T.Pad((1, 2, 0, 0), fill=(9, 8, 7))(_pil(a))                # per-channel fill on PIL
    assert p.size == (4, 4) and np.asarray(p)[0, 0].tolist() == [9, 8, 7]
    np.testing.assert_array_equal(np.asarray(p)[2:, 1:], a)
    np.testing.assert_array_equal(T.Pad(1, padding_mode="reflect")(a), np.pad(
        a, ((1, 1), (1, 1), (0, 0)), mode="reflect"))


def test_pad_negative_crops_as_torch_pad():
    """torchvision's pad crops a side padded by a negative amount (was refused)."""
    torch = pytest.importorskip("torch")
    x = _rgb(5, (2, 5, 6))
    t = zeroin.tensor(x)
    for ltrb in ((-1, 0, 2, -2), (-2, -1, -1, -1), (1, -2, -3, 2)):
        for mode, tmode in (("constant", "constant"), ("edge", "replicate"),
                            ("reflect", "reflect")):
            got = T.Pad(ltrb, fill=0.5, padding_mode=mode)(t)
            kw = {"value": 0.5} if mode == "constant" else {}
            lrtb = (ltrb[0], ltrb[2], ltrb[1], ltrb[3])
            want = torch.nn.functional.pad(torch.from_numpy(x)[None], lrtb, mode=tmode, **kw)
            np.testing.assert_array_equal(got.data, want[0].numpy())
    a = _img(4, 5)
    np.testing.assert_array_equal(T.functional.pad(a, (-1, -2, 0, 0)), a[2:, 1:])  # NumPy
    p = T.Pad((-1, 0, 1, -1), fill=(9, 8, 7))(_pil(a))                      # PIL
    assert p.size == (5, 3)
    np.testing.assert_array_equal(np.asarray(p)[:, :4], a[:3, 1:])
    assert np.asarray(p)[0, 4].tolist() == [9, 8, 7]


def test_pad_errors():
    t = zeroin.tensor(np.zeros((1, 2, 2)))
    with pytest.raises(ValueError, match=r"pad: padding -1 crops the whole 2x2 image away"):
        T.Pad(-1)(t)
    with pytest.raises(ValueError, match="Pad: padding_mode must be one of"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(TypeError, match=r"pad: fill must be a number for a tensor.*\(1, 2\)"):
        T.Pad(1, fill=(1, 2))(t)
    with pytest.raises(ValueError, match="Pad: padding must be an int or a sequence"):
        T.Pad((1, 2, 3))


# ---- RandomApply, RandomChoice, RandomOrder -----------------------------------------------

def test_random_apply_choice_order_draw_from_zeroins_generator():
    add = [T.Lambda(lambda x, k=k: x * 10 + k) for k in range(3)]
    zeroin.manual_seed(2)
    applied = [T.RandomApply(add[:2], p=0.3)(0) for _ in range(40)]
    g = np.random.Generator(np.random.PCG64(2))
    assert applied == [0 if 0.3 < g.random() else 1 for _ in range(40)]  # (0*10+0)*10+1
    assert 5 < applied.count(1) < 25
    assert T.RandomApply(add, p=0.0)(5) == 5 and T.RandomApply(add, p=1.0)(0) == 12
    zeroin.manual_seed(2)
    chosen = [T.RandomChoice(add, p=[1, 0, 3])(0) for _ in range(40)]
    g = np.random.Generator(np.random.PCG64(2))
    assert chosen == [int(g.choice(3, p=[0.25, 0, 0.75])) for _ in range(40)]
    assert set(chosen) == {0, 2}
    zeroin.manual_seed(2)
    orders = [T.RandomOrder(add)(0) for _ in range(30)]
    g = np.random.Generator(np.random.PCG64(2))
    for got in orders:
        perm = g.permutation(3)                     # applied in this order: digits of got
        assert got == (perm[0] * 10 + perm[1]) * 10 + perm[2]
    assert len(set(orders)) == 6


def test_random_apply_choice_order_errors():
    with pytest.raises(TypeError, match="RandomApply: transforms should be a list"):
        T.RandomApply(T.ToTensor())
    with pytest.raises(ValueError, match=r"RandomApply: p should be a probability.*1.5"):
        T.RandomApply([T.ToTensor()], p=1.5)
    with pytest.raises(ValueError, match=r"one weight per transform \(2\), got \[1\]"):
        T.RandomChoice([T.ToTensor(), T.ToTensor()], p=[1])
    with pytest.raises(TypeError, match="RandomOrder: transforms should be a list"):
        T.RandomOrder([1, 2])


# ---- RandomRotation -----------------------------------------------------------------------

def _torch_rotate(torch, x, angle, mode, fill, center=None, out_hw=None):
    """torchvision's tensor rotate, written with torch ops: the inverse affine matrix, the
    affine grid of pixel centres (out_hw: its size), grid_sample with a mask for fill."""
    import math
    c, h, w = x.shape
    oh, ow = (h, w) if out_hw is None else out_hw
    cx, cy = (0.0, 0.0) if center is None else (center[0] - w * 0.5, center[1] - h * 0.5)
    rot = math.radians(-angle)
    a, b, cc, d = math.cos(rot), -math.sin(rot), math.sin(rot), math.cos(rot)
    m = [d, -b, 0.0, -cc, a, 0.0]
    m[2] += m[0] * -cx + m[1] * -cy + cx
    m[5] += m[3] * -cx + m[4] * -cy + cy
    theta = torch.tensor(m, dtype=x.dtype).reshape(1, 2, 3)
    base = torch.empty(1, oh, ow, 3, dtype=x.dtype)
    base[..., 0].copy_(torch.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, steps=ow))
    base[..., 1].copy_(torch.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, steps=oh).unsqueeze(-1))
    base[..., 2].fill_(1)
    scale = torch.tensor([0.5 * w, 0.5 * h], dtype=x.dtype)
    grid = base.view(1, oh * ow, 3).bmm(theta.transpose(1, 2) / scale).view(1, oh, ow, 2)
    img = torch.cat([x[None], torch.ones(1, 1, h, w, dtype=x.dtype)], 1)
    out = torch.nn.functional.grid_sample(img, grid, mode=mode, padding_mode="zeros",
                                          align_corners=False)
    mask, out = out[:, -1:].expand(1, c, oh, ow), out[:, :-1]
    fill_img = torch.tensor(fill, dtype=x.dtype).view(1, -1, 1, 1).expand_as(out)
    if mode == "nearest":
        out = torch.where(mask < 0.5, fill_img, out)
    else:
        out = out * mask + (1 - mask) * fill_img
    return out[0].numpy()


def test_rotate_by_hand():
    from zeroin.vision.transforms import functional as F
    a = np.arange(25.0).reshape(1, 5, 5)
    t = zeroin.tensor(a)
    np.testing.assert_array_equal(F.rotate(t, 90).data, np.rot90(a, 1, axes=(1, 2)))
    np.testing.assert_array_equal(F.rotate(t, -90).data, np.rot90(a, -1, axes=(1, 2)))
    np.testing.assert_array_equal(F.rotate(t, 180).data, a[:, ::-1, ::-1])
    np.testing.assert_array_equal(F.rotate(t, 0).data, a)
    r = F.rotate(t, 45, fill=-1).data[0]                        # the corners come from outside
    assert r[0, 0] == r[0, 4] == r[4, 0] == r[4, 4] == -1 and r[2, 2] == 12
    # about the top-left pixel's centre (x, y) = (0.5, 0.5): by 90 degrees, row 0 maps
    # from column 0 of the image, from the bottom up, and the rest is outside
    c = F.rotate(t, 90, center=[0.5, 0.5], fill=7).data[0]
    assert c[0, 0] == 0 and c[0, 1:].tolist() == [5, 10, 15, 20] and c[1, 0] == 7


def test_rotate_matches_torchvisions_algorithm_in_torch():
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    rng = np.random.default_rng(6)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        x = rng.random((3, 7, 10)).astype(dtype)
        for angle in (17.3, -61.0, 133.7, 90.0, 270.0):     # 90s: nearest ties on 7x10
            for mode in ("nearest", "bilinear"):
                for center in (None, (2.0, 5.5)):
                    got = F.rotate(zeroin.tensor(x), angle, F.InterpolationMode(mode),
                           center=center, fill=[0.1, 0.2, 0.3]).data
                    want = _torch_rotate(torch, torch.from_numpy(x), angle, mode,
                                         [0.1, 0.2, 0.3], center)
                    assert got.dtype == dtype
                    np.testing.assert_allclose(got, want, atol=tol)
    u = (x * 255).astype(np.uint8)                     # integers: float32, then rounded
    got = F.rotate(zeroin.tensor(u), 30.0, F.InterpolationMode.BILINEAR, fill=[0, 0, 0]).data
    want = _torch_rotate(torch, torch.from_numpy(u.astype(np.float32)), 30.0, "bilinear",
                         [0.0] * 3)
    assert got.dtype == np.uint8 and np.abs(got - np.round(want)).max() == 0


def test_rotate_expand_sizes_as_pillow_and_pixels_as_torchvision():
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    a = np.arange(15.0).reshape(1, 3, 5)
    np.testing.assert_array_equal(F.rotate(zeroin.tensor(a), 90, expand=True).data,
                                  np.rot90(a, 1, axes=(1, 2)))
    # a 4x4 square by 45 degrees: corners at +-2 sqrt(2) about the centre 2 -> -0.83..4.83,
    # floor -1 to ceil 5: 6 pixels
    assert F.rotate(zeroin.tensor(np.ones((1, 4, 4))), 45, expand=True).shape == (1, 6, 6)
    # 7x10 by 90 degrees: the corners' x span 5 -+ 3.5 = 1.5..8.5, floor 1 to ceil 9: 8
    # wide, and y 3.5 -+ 5: -1.5..8.5, 11 high (torchvision's tensor path; Pillow turns
    # multiples of 90 degrees into a transpose, 10x7); other angles: Pillow's size
    x = np.random.default_rng(12).random((2, 7, 10))
    assert F.rotate(zeroin.tensor(x), 90, expand=True).shape == (2, 11, 8)
    for angle in (30.0, -75.5, 90.0, 123.0, 200.0):
        pil = _pil(np.zeros((7, 10), np.uint8)).rotate(angle, expand=True)
        for mode in ("nearest", "bilinear"):
            got = F.rotate(zeroin.tensor(x), angle, F.InterpolationMode(mode), expand=True,
                           fill=[0.5, 0.5]).data
            assert angle == 90 or got.shape[1:] == (pil.size[1], pil.size[0])
            want = _torch_rotate(torch, torch.from_numpy(x), angle, mode, [0.5, 0.5],
                                 out_hw=got.shape[1:])
            np.testing.assert_allclose(got, want, atol=1e-12)


def test_random_rotation_draws_the_angle_and_keeps_the_kind():
    from zeroin.vision.transforms import functional as F
    x = zeroin.tensor(_rgb(7, (3, 6, 6)))
    rr = T.RandomRotation((10, 40), fill=0.5)
    zeroin.manual_seed(8)
    outs = [rr(x).data for _ in range(5)]
    g = np.random.Generator(np.random.PCG64(8))
    for out in outs:
        np.testing.assert_array_equal(out, F.rotate(x, g.uniform(10, 40), fill=0.5).data)
    assert T.RandomRotation(30).degrees == (-30.0, 30.0)
    a = _img(5, 5)
    np.testing.assert_array_equal(T.RandomRotation((90, 90))(a), np.rot90(a, 1))
    p = T.RandomRotation((90, 90))(_pil(a))
    np.testing.assert_array_equal(np.asarray(p), np.rot90(a, 1))
    assert T.RandomRotation((90, 90), expand=True)(_img(3, 5)).shape == (5, 3, 3)
    with pytest.raises(ValueError, match=r"degrees is a single number, it must be "
                                         r"non-negative, got -5"):
        T.RandomRotation(-5)
    with pytest.raises(ValueError, match=r"rotate: fill has 2 values but the image has 3"):
        T.RandomRotation(5, fill=(1, 2))(x)


# ---- RandomErasing ------------------------------------------------------------------------

def test_random_erasing_follows_torchvisions_sampling():
    x = _rgb(9, (3, 10, 12))
    t = zeroin.tensor(x)
    er = T.RandomErasing(p=0.7, value=(0.1, 0.2, 0.3))
    zeroin.manual_seed(1)
    outs = [er(t).data for _ in range(20)]
    g = np.random.Generator(np.random.PCG64(1))
    erased = 0
    for out in outs:
        want = x.copy()
        if g.random() < 0.7:
            for _ in range(10):
                area = 120 * g.uniform(0.02, 0.33)
                ar = np.exp(g.uniform(np.log(0.3), np.log(3.3)))
                h, w = int(round(np.sqrt(area * ar))), int(round(np.sqrt(area / ar)))
                if h < 10 and w < 12:
                    i, j = int(g.integers(0, 10 - h + 1)), int(g.integers(0, 12 - w + 1))
                    want[:, i:i + h, j:j + w] = np.array([0.1, 0.2, 0.3])[:, None, None]
                    erased += 1
                    break
        np.testing.assert_array_equal(out, want)
    assert 5 < erased < 20
    assert t.data.tolist() == x.tolist()                       # not in place
    zeroin.manual_seed(3)
    r = T.RandomErasing(p=1.0, value="random", scale=(0.2, 0.3))(t).data
    changed = r != x
    assert changed.sum() >= 12 and abs(r[changed].std() - 1) < 0.5     # standard normal
    assert T.RandomErasing(p=0.0)(t) is t
    # an area that never fits leaves the image as it is
    assert T.RandomErasing(p=1.0, scale=(1.0, 1.0), ratio=(1, 1))(t).data.tolist() == \
        x.tolist()
    inplace = zeroin.tensor(x.copy())
    assert T.RandomErasing(p=1.0, inplace=True)(inplace) is inplace
    assert (inplace.data == 0).any()


def test_random_erasing_errors():
    t = zeroin.tensor(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r"value has 2 numbers but the image of shape "
                                         r"\(3, 4, 4\) has 3 channels"):
        T.RandomErasing(p=1.0, value=(1, 2))(t)
    with pytest.raises(TypeError, match=r"RandomErasing: expected a tensor image.*ndarray of "
                                        r"shape \(4, 4, 3\); apply ToTensor"):
        T.RandomErasing()(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="a str value should be 'random', got 'noise'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match=r"scale should be between 0 and 1, got \(0.5, 2\)"):
        T.RandomErasing(scale=(0.5, 2))


# ---- GaussianBlur -------------------------------------------------------------------------

def test_gaussian_blur_matches_torch_conv_with_reflect_padding():
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    x = _rgb(10, (3, 8, 9))
    for ks, sigma in (((5, 3), (1.3, 0.6)), ((3, 3), (0.8, 0.8)), ((7, 1), (2.0, 1.0))):
        got = F.gaussian_blur(zeroin.tensor(x), list(ks), list(sigma)).data

        def k1(n, s):
            v = np.exp(-0.5 * (np.linspace(-(n - 1) / 2, (n - 1) / 2, n) / s) ** 2)
            return v / v.sum()
        kern = torch.from_numpy(np.outer(k1(ks[1], sigma[1]), k1(ks[0], sigma[0])))
        xp = torch.nn.functional.pad(torch.from_numpy(x)[None],
                                     (ks[0] // 2, ks[0] // 2, ks[1] // 2, ks[1] // 2),
                                     mode="reflect")
        want = torch.nn.functional.conv2d(xp, kern.expand(3, 1, ks[1], ks[0]), groups=3)
        np.testing.assert_allclose(got, want[0].numpy(), atol=1e-14)
    u = _img(6, 7)
    got = F.gaussian_blur(u, 3, 1.0)
    want = F.gaussian_blur(u.astype(np.float64), 3, 1.0)
    assert got.dtype == np.uint8 and np.abs(got - np.round(want)).max() == 0
    # default sigma 0.15 k + 0.35
    np.testing.assert_allclose(F.gaussian_blur(zeroin.tensor(x), 5).data,
                               F.gaussian_blur(zeroin.tensor(x), 5, 1.1).data)


def test_gaussian_blur_transform_draws_sigma_and_checks_arguments():
    from zeroin.vision.transforms import functional as F
    x = zeroin.tensor(_rgb(11))
    zeroin.manual_seed(5)
    out = T.GaussianBlur(3, (0.5, 1.5))(x).data
    s = np.random.Generator(np.random.PCG64(5)).uniform(0.5, 1.5)
    np.testing.assert_array_equal(out, F.gaussian_blur(x, 3, s).data)
    assert np.abs(out - x.data).max() > 0.05 and abs(out.mean() - x.data.mean()) < 0.05
    assert np.asarray(T.GaussianBlur(3)(_pil(_img()))).shape == (4, 5, 3)
    with pytest.raises(ValueError, match=r"GaussianBlur: kernel_size values should be odd "
                                         r"and positive, got \(3, 4\)"):
        T.GaussianBlur((3, 4))
    with pytest.raises(ValueError, match=r"sigma values should be positive and of the form "
                                         r"\(min, max\), got \(2, 1\)"):
        T.GaussianBlur(3, sigma=(2, 1))
    with pytest.raises(ValueError, match="if sigma is a single number, it must be positive"):
        T.GaussianBlur(3, sigma=0)


def test_gaussian_blur_refuses_a_kernel_wider_than_reflect_padding_allows():
    """torch's reflect padding (torchvision's blur) needs padding < the image's side: the
    widest kernels that pass agree with torch's convolution, one step wider is refused."""
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    x = np.random.default_rng(3).random((2, 4, 6))
    got = F.gaussian_blur(zeroin.tensor(x), [11, 7], [2.0, 1.5]).numpy()
    xp = torch.nn.functional.pad(torch.from_numpy(x)[None], (5, 5, 3, 3), mode="reflect")
    k1 = lambda k, s: np.exp(-0.5 * (np.linspace(-(k // 2), k // 2, k) / s) ** 2)  # noqa: E731
    kern = np.outer(k1(7, 1.5), k1(11, 2.0))
    kern = torch.from_numpy(kern / kern.sum()).expand(2, 1, 7, 11)
    want = torch.nn.functional.conv2d(xp, kern, groups=2)[0].numpy()
    np.testing.assert_allclose(got, want, atol=1e-14)
    for ks, pad in (([13, 3], (6, 6, 1, 1)), ([3, 9], (1, 1, 4, 4))):
        with pytest.raises(RuntimeError, match="Padding size should be less"):
            torch.nn.functional.pad(torch.from_numpy(x)[None], pad, mode="reflect")
        with pytest.raises(ValueError, match=r"gaussian_blur: kernel_size .* must be fewer "
                                             r"than the image's width and height 6 x 4"):
            F.gaussian_blur(zeroin.tensor(x), ks)
        with pytest.raises(ValueError, match="use a kernel_size at most"):
            F.gaussian_blur(_pil(_img(4, 6)), ks)


# --- CIFAR10 (binary version) --------------------------------------------------------------

def write_cifar_bin(folder, images, labels, n_train_files=5):
    """``images`` (N, 32, 32, 3) uint8 and ``labels`` as CIFAR-10's binary files in
    folder/cifar-10-batches-bin: the first N - 2 split over the data_batch files, the last
    2 in test_batch. Returns the folder."""
    d = os.path.join(folder, "cifar-10-batches-bin")
    os.makedirs(d, exist_ok=True)
    rec = np.concatenate([np.asarray(labels, np.uint8)[:, None],
                          images.transpose(0, 3, 1, 2).reshape(len(images), -1)], axis=1)
    for i, part in enumerate(np.array_split(rec[:-2], n_train_files), 1):
        part.tofile(os.path.join(d, f"data_batch_{i}.bin"))
    rec[-2:].tofile(os.path.join(d, "test_batch.bin"))
    return folder


def _cifar_pixels(n=12):
    rng = np.random.default_rng(10)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)


def test_cifar10_reads_the_binary_version_as_torchvision(tmp_path):
    pytest.importorskip("PIL")
    from zeroin.vision.datasets import CIFAR10
    pix, labels = _cifar_pixels()
    write_cifar_bin(tmp_path, pix, labels)
    train = CIFAR10(tmp_path, train=True, download=False)
    test = CIFAR10(str(tmp_path), train=False, transform=T.ToTensor(),
                   target_transform=lambda y: y + 100)
    assert (len(train), len(test)) == (10, 2)
    assert train.data.shape == (10, 32, 32, 3) and train.data.dtype == np.uint8
    assert np.array_equal(train.data, pix[:10]) and train.targets == labels[:10].tolist()
    img, label = train[3]
    assert img.mode == "RGB" and np.array_equal(np.array(img), pix[3]) and label == labels[3]
    img_t, label = test[1]
    assert np.array_equal(img_t.numpy(), pix[11].transpose(2, 0, 1) / 255)
    assert label == labels[11] + 100
    assert train.classes[0] == "airplane" and train.class_to_idx["bird"] == 2
    assert "Number of datapoints: 10" in repr(train) and "Split: Test" in repr(test)


def test_cifar10_errors_say_what_is_missing(tmp_path):
    from zeroin.vision.datasets import CIFAR10
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path)
    os.makedirs(tmp_path / "cifar-10-batches-py")
    with pytest.raises(FileNotFoundError, match="pickled"):
        CIFAR10(tmp_path)
    pix, labels = _cifar_pixels()
    write_cifar_bin(tmp_path, pix, labels)
    with open(tmp_path / "cifar-10-batches-bin" / "data_batch_2.bin", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="3073|3072 pixel bytes"):
        CIFAR10(tmp_path)


def _md5(path):
    import hashlib
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_cifar10_download_unpacks_the_binary_archive(tmp_path, monkeypatch):
    import tarfile
    pytest.importorskip("PIL")
    from zeroin.data import DownloadError
    from zeroin.data.mnist import DatasetError
    from zeroin.vision import datasets as vision_datasets
    from zeroin.vision.datasets import CIFAR10
    pix, labels = _cifar_pixels()
    src = write_cifar_bin(tmp_path / "src", pix, labels)
    (tmp_path / "src" / "cifar-10-batches-bin" / "batches.meta.txt").write_text("airplane\n")
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(os.path.join(src, "cifar-10-batches-bin"), arcname="cifar-10-batches-bin")
    monkeypatch.setattr(CIFAR10, "url", archive.as_uri())
    with pytest.raises(DatasetError, match=r"MD5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b"):
        CIFAR10(tmp_path / "data", train=False, download=True)   # torchvision's checksum
    assert not (tmp_path / "data" / "cifar-10-batches-bin").exists()   # nothing saved
    monkeypatch.setattr(vision_datasets, "_CIFAR_MD5", _md5(archive))
    got = CIFAR10(tmp_path / "data", train=False, download=True)
    assert np.array_equal(got.data, pix[-2:])
    assert sorted(os.listdir(tmp_path / "data" / "cifar-10-batches-bin")) == \
        sorted(os.listdir(os.path.join(src, "cifar-10-batches-bin")))
    assert len(CIFAR10(tmp_path / "data", download=True)) == 10     # present: not fetched
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    monkeypatch.setattr(CIFAR10, "url", (tmp_path / "junk.tar.gz").as_uri())
    monkeypatch.setattr(vision_datasets, "_CIFAR_MD5", _md5(tmp_path / "junk.tar.gz"))
    with pytest.raises(DownloadError, match="not the binary CIFAR-10 archive"):
        CIFAR10(tmp_path / "other", download=True)


# ---- TrivialAugmentWide and its ops (torchvision's autoaugment.py) ---------------------------

def test_affine_tensor_is_torch_affine_grid_and_grid_sample_of_torchvisions_matrix():
    """Shear about the corner and translate: zeroin's affine is grid_sample of the inverse
    matrix written out here (torchvision's _get_inverse_affine_matrix), as torchvision's."""
    import math
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    x = np.random.default_rng(1).random((3, 6, 9))
    h, w = x.shape[-2:]
    for shear, translate, center in (([25.0, 0.0], [0, 0], [0, 0]), ([0.0, -30.0], [0, 0], [0, 0]),
                                     ([0.0, 0.0], [3, -2], None)):
        sx, sy = math.radians(shear[0]), math.radians(shear[1])
        a, c = 1.0, math.sin(-sy) / math.cos(sy)
        b = -math.tan(sx)
        d = -math.sin(-sy) * math.tan(sx) / math.cos(sy) + 1.0
        cx, cy = (-w * 0.5, -h * 0.5) if center is not None else (0.0, 0.0)
        tx, ty = translate
        m = [d, -b, 0.0, -c, a, 0.0]
        m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
        m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
        theta = torch.tensor([[m[0], m[1], m[2]], [m[3], m[4], m[5]]], dtype=torch.float64)
        # torchvision's _gen_affine_grid: the base grid in pixels, divided by (w/2, h/2)
        xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w, dtype=torch.float64)
        ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h, dtype=torch.float64)
        base = torch.stack(torch.meshgrid(xs, ys, indexing="xy") + (torch.ones(h, w,
                           dtype=torch.float64),), -1)
        grid = (base.reshape(-1, 3) @ theta.T) / torch.tensor([0.5 * w, 0.5 * h],
                                                              dtype=torch.float64)
        want = torch.nn.functional.grid_sample(
            torch.tensor(x)[None], grid.reshape(1, h, w, 2), mode="nearest",
            padding_mode="zeros", align_corners=False)[0].numpy()
        got = F.affine(zeroin.tensor(x), 0.0, translate, 1.0, shear, center=center).numpy()
        np.testing.assert_array_equal(got, want)


def test_affine_tensor_and_pil_agree_on_translate_and_shear():
    from zeroin.vision.transforms import functional as F
    a = _img(8, 10)
    pil = _pil(a)
    t = zeroin.tensor(np.moveaxis(a, -1, 0).copy())
    for args, center in (((0.0, [3, 0], 1.0, [0.0, 0.0]), None),
                         ((0.0, [0, -2], 1.0, [0.0, 0.0]), None),
                         ((0.0, [0, 0], 1.0, [20.0, 0.0]), [0, 0])):
        got = np.moveaxis(F.affine(t, *args, center=center).numpy(), 0, -1)
        np.testing.assert_array_equal(got, np.asarray(F.affine(pil, *args, center=center)))
    shifted = np.moveaxis(F.affine(t, 0.0, [3, 0], 1.0, [0.0, 0.0]).numpy(), 0, -1)
    np.testing.assert_array_equal(shifted[:, 3:], a[:, :-3])
    assert (shifted[:, :3] == 0).all()


def test_posterize_solarize_autocontrast_equalize_are_torchvisions_formulas_and_pillows():
    from zeroin.vision.transforms import functional as F
    a = _img(7, 9, seed=3)
    chw = np.moveaxis(a, -1, 0).copy()
    t = zeroin.tensor(chw)
    np.testing.assert_array_equal(F.posterize(t, 3).numpy(), chw & 0b11100000)
    np.testing.assert_array_equal(F.solarize(t, 100).numpy(),
                                  np.where(chw >= 100, 255 - chw, chw))
    lo, hi = chw.min(axis=(1, 2), keepdims=True), chw.max(axis=(1, 2), keepdims=True)
    want = np.clip((chw - lo.astype(np.float32)) * (np.float32(255) / (hi - lo)), 0, 255)
    np.testing.assert_array_equal(F.autocontrast(t).numpy(), want.astype(np.uint8))
    f = np.array([[[0.2, 0.4], [0.3, 0.2]]])
    np.testing.assert_allclose(F.autocontrast(zeroin.tensor(f)).numpy(),
                               [[[0.0, 1.0], [0.5, 0.0]]], atol=1e-15)
    np.testing.assert_array_equal(F.solarize(zeroin.tensor(f), 0.3).numpy(),
                                  [[[0.2, 0.6], [0.7, 0.2]]])
    pil = _pil(a)
    for op, args in (("posterize", (3,)), ("solarize", (100,)), ("autocontrast", ()),
                     ("equalize", ())):
        got = getattr(F, op)(t, *args).numpy()
        want = np.moveaxis(np.asarray(getattr(F, op)(pil, *args)), -1, 0)
        np.testing.assert_array_equal(got, want, err_msg=op)


def test_equalize_lookup_table_by_hand():
    from zeroin.vision.transforms import functional as F
    ch = np.array([[0, 0, 10, 10], [10, 200, 200, 255]], np.uint8)
    step = (8 - 1) // 255                       # all but the last non-zero bin, // 255
    assert step == 0                            # too few pixels: the channel is left
    np.testing.assert_array_equal(F.equalize(zeroin.tensor(ch[None])).numpy()[0], ch)
    big = np.repeat(ch, 100, axis=1)
    hist = np.bincount(big.ravel(), minlength=256)
    step = (hist.sum() - hist[255]) // 255
    lut = np.clip(np.concatenate([[0], ((np.cumsum(hist) + step // 2) // step)[:-1]]), 0, 255)
    np.testing.assert_array_equal(F.equalize(zeroin.tensor(big[None])).numpy()[0], lut[big])


def test_posterize_and_equalize_refuse_float_tensors_naming_the_fix():
    from zeroin.vision.transforms import functional as F
    x = zeroin.rand(3, 4, 4)
    for op, args in (("posterize", (4,)), ("equalize", ())):
        with pytest.raises(TypeError, match=rf"{op}: .*uint8.*ToTensor"):
            getattr(F, op)(x, *args)
    with pytest.raises(TypeError, match=r"solarize: threshold \(2.0\) should be at most 1"):
        F.solarize(x, 2.0)


def test_adjust_sharpness_is_torchvisions_blend_with_the_13_kernel():
    torch = pytest.importorskip("torch")
    from zeroin.vision.transforms import functional as F
    x = np.random.default_rng(4).random((3, 6, 7))
    k = torch.ones(3, 1, 3, 3, dtype=torch.float64)
    k[:, :, 1, 1] = 5.0
    k /= 13.0
    deg = torch.tensor(x).clone()
    deg[:, 1:-1, 1:-1] = torch.nn.functional.conv2d(torch.tensor(x)[None], k, groups=3)[0]
    want = (1.7 * torch.tensor(x) + (1 - 1.7) * deg).clamp(0, 1).numpy()
    np.testing.assert_allclose(F.adjust_sharpness(zeroin.tensor(x), 1.7).numpy(), want,
                               rtol=0, atol=1e-15)
    u = _img(6, 7, seed=5)
    got = F.adjust_sharpness(zeroin.tensor(np.moveaxis(u, -1, 0).copy()), 0.3).numpy()
    pil = np.moveaxis(np.asarray(F.adjust_sharpness(_pil(u), 0.3)), -1, 0)
    assert np.abs(got.astype(int) - pil).max() <= 1     # Pillow rounds its own way


def test_trivial_augment_wide_table_and_draws_are_torchvisions():
    torch = pytest.importorskip("torch")
    space = T.TrivialAugmentWide._augmentation_space(31)
    assert list(space) == ["Identity", "ShearX", "ShearY", "TranslateX", "TranslateY",
                           "Rotate", "Brightness", "Color", "Contrast", "Sharpness",
                           "Posterize", "Solarize", "AutoContrast", "Equalize"]
    for name, hi in (("ShearX", 0.99), ("TranslateY", 32.0), ("Rotate", 135.0),
                     ("Sharpness", 0.99)):
        np.testing.assert_array_equal(space[name][0], torch.linspace(0.0, hi, 31).numpy())
        assert space[name][1] is True
    np.testing.assert_array_equal(space["Solarize"][0], torch.linspace(255.0, 0.0, 31).numpy())
    post = (8 - (torch.arange(31) / ((31 - 1) / 6)).round().int()).numpy()
    np.testing.assert_array_equal(space["Posterize"][0], post)
    zeroin.manual_seed(0)
    ta = T.TrivialAugmentWide(num_magnitude_bins=31)
    draws = [ta.get_params() for _ in range(2800)]
    counts = {n: sum(d[0] == n for d in draws) for n in space}
    assert min(counts.values()) > 130 and max(counts.values()) < 270   # 200 each expected
    rot = [m for n, m in draws if n == "Rotate"]
    assert any(m < 0 for m in rot) and any(m > 0 for m in rot)
    assert set(np.abs(rot)) <= set(space["Rotate"][0].tolist())
    assert all(m == 0.0 for n, m in draws if n in ("Identity", "Equalize"))


def test_trivial_augment_wide_applies_the_drawn_op():
    from zeroin.vision.transforms import _apply_op
    from zeroin.vision.transforms import functional as F
    u = zeroin.tensor(np.moveaxis(_img(8, 8, seed=6), -1, 0).copy())
    ta = T.TrivialAugmentWide()
    for seed in range(40):
        zeroin.manual_seed(seed)
        name, mag = ta.get_params()
        zeroin.manual_seed(seed)
        got = ta(u).numpy()
        want = {"Posterize": lambda: F.posterize(u, int(mag)),
                "Brightness": lambda: F.adjust_brightness(u, 1.0 + mag),
                "Equalize": lambda: F.equalize(u), "Identity": lambda: u,
                "Rotate": lambda: F.rotate(u, mag)}.get(name)
        want = _apply_op(u, name, mag, T.InterpolationMode.NEAREST, None) if want is None \
            else want()
        np.testing.assert_array_equal(got, want.numpy(), err_msg=name)
    zeroin.manual_seed(1)
    out = T.Compose([T.Resize((16, 16)), T.TrivialAugmentWide(num_magnitude_bins=31),
                     T.ToTensor()])(_pil(_img(10, 12)))
    assert out.shape == (3, 16, 16)
    xf = zeroin.rand(3, 5, 5, dtype=zeroin.float32)
    np.testing.assert_array_equal(_apply_op(xf, "Solarize", 127.5, T.InterpolationMode.NEAREST,
                                            None).numpy(), F.solarize(xf, 0.5).numpy())


# ---- MNIST / FashionMNIST (torchvision's layout of IDX files) -------------------------------

def _write_fashion(folder, n=6, split="train", gz=False):
    from zeroin.data.mnist import write_idx
    rng = np.random.default_rng(7)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    ext = ".gz" if gz else ""
    os.makedirs(folder, exist_ok=True)
    write_idx(os.path.join(folder, f"{split}-images-idx3-ubyte{ext}"), images)
    write_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte{ext}"), labels)
    return images, labels


def test_fashion_mnist_reads_torchvisions_layout_as_torchvision_does(tmp_path):
    pytest.importorskip("PIL.Image")
    from zeroin.vision.datasets import MNIST, FashionMNIST
    images, labels = _write_fashion(tmp_path / "FashionMNIST" / "raw")
    _write_fashion(tmp_path / "FashionMNIST" / "raw", n=3, split="t10k", gz=True)
    train = FashionMNIST(root=tmp_path, train=True, download=False, transform=T.ToTensor(),
                         target_transform=None)
    test = FashionMNIST(root=str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 3
    assert train.classes[9] == "Ankle boot" and train.class_to_idx["Trouser"] == 1
    assert train.data.dtype == zeroin.uint8 and train.data.shape == (6, 28, 28)
    assert train.targets.dtype == zeroin.int64 and train.targets.tolist() == labels.tolist()
    img, label = train[2]
    assert img.shape == (1, 28, 28) and label == int(labels[2]) and type(label) is int
    np.testing.assert_array_equal(img.numpy()[0], images[2] / 255.0)
    pil, _ = test[0]
    assert pil.mode == "L" and pil.size == (28, 28)
    with pytest.raises(FileNotFoundError, match=r"MNIST: train-images.* not found in .*"
                                                r"MNIST.raw; pass download=True"):
        MNIST(root=tmp_path)


def test_fashion_mnist_download_fetches_missing_files_from_its_mirror(tmp_path):
    pytest.importorskip("PIL.Image")
    from zeroin.data.mnist import DatasetError
    from zeroin.vision.datasets import MNIST, FashionMNIST
    _write_fashion(tmp_path / "mirror", gz=True)

    class Local(FashionMNIST):
        mirrors = [(tmp_path / "mirror").as_uri() + "/"]

    with pytest.raises(DatasetError, match=r"Local: .*MD5 [0-9a-f]{32}, expected (8d4fb7|25c819)"):
        Local(root=tmp_path / "data", download=True)        # torchvision's MD5s
    assert not list((tmp_path / "data" / "Local" / "raw").iterdir())     # nothing saved
    Local.resources = [(p.name, _md5(p)) for p in (tmp_path / "mirror").iterdir()]
    ds = Local(root=tmp_path / "data", download=True)
    assert len(ds) == 6 and (tmp_path / "data" / "Local" / "raw" /
                             "train-labels-idx1-ubyte.gz").is_file()

    class LocalMNIST(MNIST):                  # MNIST's files: torchvision's MD5s
        mirrors = [(tmp_path / "mirror").as_uri() + "/"]

    with pytest.raises(DatasetError, match="MD5 .*expected (f68b3c2d|d53e105e)"):
        LocalMNIST(root=tmp_path / "data", download=True)


def test_celeba_download_true_is_a_clear_download_error_never_ignored(tmp_path, monkeypatch):
    """CelebA(download=True) used to ignore ``download``: with files missing it now says that
    zeroin cannot fetch them, which files, where to put them and the URL; with the files
    there, download=True reads them (as torchvision's, which skips a download then)."""
    import inspect

    from zeroin.data import DownloadError
    from zeroin.vision import datasets
    from zeroin.vision.datasets import CelebA
    folder = tmp_path / "celeba"
    with pytest.raises(DownloadError, match=r"CelebA\(download=True\): zeroin cannot download "
                       r"CelebA .*missing in .*celeba: list_eval_partition.txt, "
                       r"list_attr_celeba.txt, img_align_celeba; .*mmlab.ie.cuhk.edu.hk"):
        CelebA(tmp_path, download=True)
    with pytest.raises(FileNotFoundError, match=r"CelebA: list_eval_partition.txt not found"):
        CelebA(tmp_path)
    (folder / "img_align_celeba").mkdir(parents=True)
    (folder / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 2\n")
    (folder / "identity_CelebA.txt").write_text("000001.jpg 7\n000002.jpg 9\n")
    got = CelebA(tmp_path, split="test", target_type="identity", download=True)
    assert got.filename == ["000002.jpg"] and got.identity.numpy().tolist() == [[9]]
    # every data set class that takes download= tries (here: a fetch that fails offline)
    # and says so, never a plain "not found" as if download were False
    def offline(url, timeout):
        raise DownloadError(f"could not download {url}: offline (test)")

    monkeypatch.setattr(datasets, "_fetch", offline)
    for name in datasets.__all__:
        cls = getattr(datasets, name)
        if inspect.isclass(cls) and "download" in inspect.signature(cls).parameters:
            with pytest.raises(DownloadError, match=name):
                cls(tmp_path / "empty", download=True)


# --- vision.io and vision.models (the PyTorch tutorials' decode_image and resnet18) -----

def test_vision_io_decode_image_modes_bytes_and_errors(tmp_path):
    """torchvision.io (the datasets page's decode_image) was missing from zeroin.vision."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision.io import ImageReadMode, decode_image, read_file, read_image
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(rgba[..., :3], "RGB").save(tmp_path / "b.png")
    for path, channels in (("a.png", 4), ("b.png", 3)):
        img = decode_image(tmp_path / path)
        assert img.dtype == zeroin.uint8 and tuple(img.shape) == (channels, 5, 7)
        np.testing.assert_array_equal(img.numpy(), rgba[..., :channels].transpose(2, 0, 1))
    rgb = decode_image(str(tmp_path / "a.png"), mode=ImageReadMode.RGB)
    np.testing.assert_array_equal(rgb.numpy(), rgba[..., :3].transpose(2, 0, 1))
    gray = read_image(tmp_path / "b.png", ImageReadMode.GRAY)
    expect = np.asarray(Image.open(tmp_path / "b.png").convert("L"))
    np.testing.assert_array_equal(gray.numpy(), expect[None])
    data = read_file(tmp_path / "b.png")
    assert data.dtype == zeroin.uint8 and data.ndim == 1
    np.testing.assert_array_equal(decode_image(data, mode="RGB").numpy(),
                                  rgba[..., :3].transpose(2, 0, 1))
    with pytest.raises(ValueError, match=r"decode_image: mode='CMYK'.*ImageReadMode\.RGB"):
        decode_image(tmp_path / "b.png", mode="CMYK")
    with pytest.raises(TypeError, match=r"decode_image:.*1-D uint8 tensor.*float32"):
        decode_image(zeroin.zeros(3, dtype=zeroin.float32))


def test_vision_models_resnet18_as_torchvision_and_no_pretrained_weights():
    """torchvision.models.resnet18 (the blitz autograd page) was missing from zeroin.vision."""
    from zeroin.vision.models import ResNet18_Weights, resnet18, resnet34
    model = resnet18()
    assert sum(p.numel() for p in model.parameters()) == 11689512        # torchvision's count
    assert sum(p.numel() for p in resnet34(num_classes=10).parameters()) == 21289802
    conv = model.layer2[0].conv1.weight
    std = math.sqrt(2 / (128 * 9))                  # kaiming_normal_, fan_out, relu
    assert abs(conv.detach().numpy().std() / std - 1) < 0.05
    assert model.layer1[0].bn1.weight.detach().numpy().tolist() == [1.0] * 64
    assert not resnet18(zero_init_residual=True).layer1[0].bn2.weight.any()
    for weights in (ResNet18_Weights.DEFAULT, "IMAGENET1K_V1"):
        with pytest.raises(NotImplementedError, match=r"(?s)resnet18\(weights=.*no pretrained.*"
                                                      r"save_file.*load_state_dict"):
            resnet18(weights=weights)
    with pytest.warns(UserWarning), pytest.raises(NotImplementedError, match="resnet18"):
        resnet18(pretrained=True)


def test_vision_models_vgg16_as_torchvision():
    """torchvision.models.vgg16 (the save-and-load tutorial's model) was missing."""
    from zeroin.vision import models
    old = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)         # 138M parameters: half the memory
    try:
        _check_vgg16(models.vgg16())
    finally:
        zeroin.set_default_dtype(old)
    bn = models._vgg_features(models._CFGS["vgg11"], batch_norm=True)
    assert [type(m).__name__ for m in bn[:4]] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]
    with pytest.raises(NotImplementedError,
                       match=r"(?s)vgg16\(weights=VGG16_Weights.IMAGENET1K_V1\).*"
                             r"vgg16\(weights='IMAGENET1K_V1'\)"):
        models.vgg16(weights=models.VGG16_Weights.DEFAULT)
    with pytest.raises(NotImplementedError, match=r"vgg11_bn\(weights='DEFAULT'\)"):
        models.vgg11_bn(weights="DEFAULT")


def test_vgg_init_draws_the_same_weights_as_torchvisions_loop():
    """VGG's weights for a given seed are those of torchvision's init loop, one normal_
    call per Linear weight (zeroin.nn.init draws the 103M-weight layer in chunks, with the
    same numbers: tests/test_init.py), and the generator ends in the same state."""
    from zeroin import nn
    from zeroin.vision import models

    def one_call_each():
        model = models.vgg11(init_weights=False, num_classes=10)
        for m in model.modules():                          # torchvision's VGG.__init__
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)
        return model

    old = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)
    try:
        runs = []
        for build in (one_call_each, lambda: models.vgg11(num_classes=10)):
            zeroin.manual_seed(7)
            model = build()
            runs.append(({k: v.numpy().copy() for k, v in model.state_dict().items()},
                         zeroin.randn(5).numpy()))
            del model
    finally:
        zeroin.set_default_dtype(old)
    (want, next_want), (got, next_got) = runs
    assert list(got) == list(want)
    for k in want:
        assert got[k].dtype == want[k].dtype == np.float32, k
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)
    np.testing.assert_array_equal(next_got, next_want)
    w = got["classifier.0.weight"]
    assert w.shape == (4096, 25088) and abs(w.std() / 0.01 - 1) < 0.01


def _check_vgg16(model):
    assert sum(p.numel() for p in model.parameters()) == 138357544      # torchvision's count
    assert len(model.features) == 31 and len(model.classifier) == 7
    assert str(model.classifier) == (
        "Sequential(\n  (0): Linear(in_features=25088, out_features=4096, bias=True)\n"
        "  (1): ReLU(inplace=True)\n  (2): Dropout(p=0.5, inplace=False)\n"
        "  (3): Linear(in_features=4096, out_features=4096, bias=True)\n"
        "  (4): ReLU(inplace=True)\n  (5): Dropout(p=0.5, inplace=False)\n"
        "  (6): Linear(in_features=4096, out_features=1000, bias=True)\n)")
    assert str(model.features[4]) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, "
                                      "dilation=1, ceil_mode=False)")
    w = model.classifier[3].weight.detach().numpy()
    assert abs(w.std() / 0.01 - 1) < 0.01 and abs(w.mean()) < 1e-4       # normal_(0, 0.01)
    conv = model.features[28].weight.detach().numpy()
    assert abs(conv.std() / math.sqrt(2 / (512 * 9)) - 1) < 0.02          # fan_out, relu
    assert not model.features[28].bias.any() and not model.classifier[6].bias.any()
    model.eval()
    assert tuple(model(zeroin.rand(1, 3, 32, 32, dtype=zeroin.float32)).shape) == (1, 1000)


def test_vision_models_vgg16_features_against_torch():
    """VGG-16's convolutional part (its config written out for torch) gives torch's numbers."""
    torch = pytest.importorskip("torch")
    from zeroin.vision import models
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
           512, 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        layers += ([torch.nn.MaxPool2d(kernel_size=2, stride=2)] if v == "M" else
                   [torch.nn.Conv2d(c, v, kernel_size=3, padding=1), torch.nn.ReLU(True)])
        c = c if v == "M" else v
    torch.manual_seed(0)
    tfeat = torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d((7, 7))).double()
    zfeat = zeroin.nn.Sequential(*models._vgg_features(models._CFGS["vgg16"], False),
                                 zeroin.nn.AdaptiveAvgPool2d((7, 7)))
    assert str(zfeat) == str(tfeat)
    zfeat.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in tfeat.state_dict().items()})
    x = np.random.default_rng(0).random((1, 3, 32, 32))
    np.testing.assert_allclose(zfeat(zeroin.tensor(x)).detach().numpy(),
                               tfeat(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-12)


# --- vision.utils: make_grid and save_image (torchvision.utils) ---------------------------

def _tv_make_grid(torch, t, nrow=8, padding=2, normalize=False, value_range=None,
                  scale_each=False, pad_value=0.0):
    """torchvision.utils.make_grid's documented algorithm, in torch."""
    if t.dim() == 3:
        t = (torch.cat((t, t, t), 0) if t.size(0) == 1 else t).unsqueeze(0)
    if t.size(1) == 1:
        t = torch.cat((t, t, t), 1)
    if normalize:
        t = t.clone()

        def norm(img):
            lo, hi = value_range if value_range is not None else (float(img.min()),
                                                                   float(img.max()))
            img.clamp_(min=lo, max=hi).sub_(lo).div_(max(hi - lo, 1e-5))
        for img in (t if scale_each else [t]):
            norm(img)
    if t.size(0) == 1:
        return t.squeeze(0)
    n = t.size(0)
    xm = min(nrow, n)
    ym = int(math.ceil(n / xm))
    h, w = t.size(2) + padding, t.size(3) + padding
    grid = t.new_full((t.size(1), h * ym + padding, w * xm + padding), pad_value)
    for k in range(n):
        y, x = divmod(k, xm)
        grid.narrow(1, y * h + padding, h - padding).narrow(
            2, x * w + padding, w - padding).copy_(t[k])
    return grid


@pytest.mark.parametrize("kw", [{}, {"nrow": 3, "padding": 1, "pad_value": 0.5},
                                {"normalize": True}, {"normalize": True, "scale_each": True},
                                {"normalize": True, "value_range": (-1.0, 1.0), "nrow": 2}])
def test_make_grid_as_torchvision(kw):
    """vision.utils was missing: make_grid tiles a batch as torchvision's."""
    torch = pytest.importorskip("torch")
    from zeroin.vision.utils import make_grid
    x = np.random.default_rng(0).normal(size=(7, 3, 4, 5)).astype(np.float32)
    got = make_grid(zeroin.tensor(x), **kw)
    want = _tv_make_grid(torch, torch.from_numpy(x), **kw)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
    one = x[:3, :1]                                                 # one channel: 3 copies
    np.testing.assert_array_equal(make_grid(zeroin.tensor(one), nrow=2).numpy(),
                                  _tv_make_grid(torch, torch.from_numpy(one), nrow=2).numpy())
    lst = make_grid([zeroin.tensor(v) for v in x[:2]], padding=0)
    np.testing.assert_array_equal(lst.numpy(), np.concatenate([x[0], x[1]], axis=-1))
    assert tuple(make_grid(zeroin.tensor(x[0, 0])).shape) == (3, 4, 5)    # (H, W): one image


def test_make_grid_errors():
    from zeroin.vision.utils import make_grid
    with pytest.raises(ValueError, match=r"make_grid: the images' shapes differ"):
        make_grid([zeroin.zeros(3, 2, 2), zeroin.zeros(3, 2, 3)])
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(zeroin.zeros(2, 3, 2, 2), normalize=True, value_range=[0, 1])
    with pytest.raises(ValueError, match="expected .N, C, H, W.*got shape"):
        make_grid(zeroin.zeros(1, 2, 3, 2, 2))
    with pytest.raises(ValueError, match="nrow must be an int >= 1, got 0"):
        make_grid(zeroin.zeros(2, 3, 2, 2), nrow=0)


def test_save_image_png_rounding_and_atomic(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision.utils import make_grid, save_image
    x = np.random.default_rng(1).random((4, 3, 5, 6)).astype(np.float32)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = -0.5, 1.5                         # clamped
    path = tmp_path / "out" / "grid.png"
    save_image(zeroin.tensor(x), path, nrow=2, padding=1)
    grid = make_grid(zeroin.tensor(x), nrow=2, padding=1).numpy()
    want = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    with Image.open(path) as im:
        assert im.format == "PNG"
        np.testing.assert_array_equal(np.asarray(im), want)
    assert want[1, 1, 0] == 0 and want[1, 2, 0] == 255
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]      # no temporary left
    old = path.read_bytes()

    def boom(self, *a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_image(zeroin.tensor(x[:1]), path)
    assert path.read_bytes() == old and len(list(path.parent.iterdir())) == 1  # untouched
    monkeypatch.undo()
    with pytest.raises(ValueError, match="cannot tell the image format.*'.xyz'"):
        save_image(zeroin.tensor(x), tmp_path / "a.xyz")
    with open(tmp_path / "f", "wb") as f, pytest.raises(ValueError, match="give format="):
        save_image(zeroin.tensor(x), f)


def test_fake_data_items_are_torchvisions_on_the_torch_stream():
    """dcgan's ``--dataset fake``: FakeData's items, against torchvision's recipe written out
    with torch (torchvision is not installed): seed index + random_offset, randn, randint,
    mul(255).byte() as a PIL image; the shared generator is left alone."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("PIL.Image")
    from _audit import skip_off_torch_kernels
    from zeroin.vision.datasets import FakeData
    skip_off_torch_kernels(torch)
    zeroin.random.use_torch_stream(True)
    try:
        zeroin.manual_seed(5)
        before = zeroin.rand(1).item()
        zeroin.manual_seed(5)
        ds = FakeData(size=4, image_size=(3, 6, 5), num_classes=7, random_offset=10)
        for i in (0, 3, -2):
            img, target = ds[i]
            torch.manual_seed(i + 10)
            ref = torch.randn(3, 6, 5)
            label = torch.randint(0, 7, size=(1,), dtype=torch.long)[0].item()
            assert img.mode == "RGB" and img.size == (5, 6)
            np.testing.assert_array_equal(np.asarray(img),
                                          ref.mul(255).byte().permute(1, 2, 0).numpy())
            assert target == label and isinstance(target, int)
        assert zeroin.rand(1).item() == before          # the shared stream is untouched
    finally:
        zeroin.random.use_torch_stream(False)
    gray = FakeData(size=2, image_size=(1, 4, 4), transform=T.ToTensor())
    x, _ = gray[1]
    assert tuple(x.shape) == (1, 4, 4) and len(gray) == 2
    np.testing.assert_array_equal(gray[1][0].numpy(), x.numpy())    # the same item each time
    assert repr(gray) == "Dataset FakeData\n    Number of datapoints: 2"
    with pytest.raises(IndexError, match="FakeData index 2 out of range"):
        gray[2]
