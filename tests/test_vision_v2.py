"""zeroin.vision.transforms.v2: torchvision's v2 namespace (ToImage, ToDtype, samples as
tuples and dicts, v2's rule of which items are transformed) over v1's code."""
import numpy as np
import pytest

import zeroin
from zeroin.vision import transforms as T
from zeroin.vision.transforms import v2
from zeroin.vision.transforms.v2 import functional as F2


def _img(h=4, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_to_image_keeps_uint8_and_lays_out_chw():
    a = _img()
    t = v2.ToImage()(a)
    assert isinstance(t, zeroin.Tensor) and t.dtype == zeroin.uint8
    np.testing.assert_array_equal(t.numpy(), np.moveaxis(a, -1, 0))
    assert tuple(v2.ToImage()(a[..., 0]).shape) == (1, 4, 5)          # (H, W) -> (1, H, W)
    assert tuple(v2.ToImage()(zeroin.tensor(a[..., 0])).shape) == (1, 4, 5)
    assert v2.ToImage()(t) is t
    Image = pytest.importorskip("PIL.Image")
    np.testing.assert_array_equal(v2.ToImage()(Image.fromarray(a)).numpy(),
                                  np.moveaxis(a, -1, 0))
    with pytest.raises(TypeError, match="to_image: expected a PIL image.*list"):
        F2.to_image([[1]])


def test_to_dtype_scale_as_torchvision():
    """torchvision v2's to_dtype multiplies by 1 / 255 (v1's convert_image_dtype divides):
    126 of the 256 uint8 values differ in float32's last bit; it was the division."""
    torch = pytest.importorskip("torch")
    u8 = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    for dt, tdt in ((zeroin.float32, torch.float32), (zeroin.float64, torch.float64)):
        got = v2.ToDtype(dt, scale=True)(zeroin.tensor(u8))
        want = torch.from_numpy(u8).to(tdt).mul_(1.0 / 255)        # v2's to_dtype, in torch
        assert got.dtype == dt
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    i16 = np.array([[[0, 1, 300, 32767]]], np.int16)
    np.testing.assert_array_equal(F2.to_dtype(zeroin.tensor(i16), zeroin.float32, True).numpy(),
                                  torch.from_numpy(i16).float().mul_(1.0 / 32767).numpy())
    got = v2.ToDtype(zeroin.float32, scale=True)(zeroin.tensor(u8))
    plain = v2.ToDtype(zeroin.float32)(zeroin.tensor(u8))            # scale=False: a cast
    np.testing.assert_array_equal(plain.numpy(), u8.astype(np.float32))
    back = v2.ToDtype(zeroin.uint8, scale=True)(got)
    np.testing.assert_array_equal(back.numpy(), u8)
    with pytest.raises(TypeError, match=r"to_dtype: expected a tensor.*ToImage\(\) first"):
        v2.ToDtype(zeroin.float32, scale=True)(_img())
    with pytest.raises(NotImplementedError, match="dict of dtypes"):
        v2.ToDtype({zeroin.Tensor: zeroin.float32})


def test_samples_tuples_dicts_and_v2s_rule():
    """The first tensor is the image; labels and later tensors pass through."""
    x = zeroin.tensor(np.arange(6.0).reshape(1, 2, 3))
    lab = zeroin.tensor([1.0, 2.0, 3.0])
    flip = v2.RandomHorizontalFlip(p=1.0)
    out = flip(x, 5)                                                 # several arguments
    assert isinstance(out, tuple) and out[1] == 5
    np.testing.assert_array_equal(out[0].numpy(), x.numpy()[..., ::-1])
    d = flip({"image": x, "boxes": lab, "meta": [x, "a"]})
    np.testing.assert_array_equal(d["image"].numpy(), x.numpy()[..., ::-1])
    assert d["boxes"] is lab and d["meta"][0] is x and d["meta"][1] == "a"
    np.testing.assert_array_equal(flip(x).numpy(), x.numpy()[..., ::-1])   # one image
    Image = pytest.importorskip("PIL.Image")
    pil = Image.fromarray(_img())
    a, b = flip((pil, x))                           # a PIL image: tensors pass through
    assert b is x
    np.testing.assert_array_equal(np.asarray(a), _img()[:, ::-1])


def test_random_params_are_shared_by_the_images_of_a_sample():
    Image = pytest.importorskip("PIL.Image")
    a = Image.fromarray(_img(20, 24, seed=1))
    t = v2.RandomResizedCrop(8)
    for seed in range(5):
        zeroin.manual_seed(seed)
        x, y = t(a, a.copy())
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        zeroin.manual_seed(seed)                    # v1 on the single image: the same draws
        np.testing.assert_array_equal(np.asarray(T.RandomResizedCrop(8)(a)), np.asarray(x))


def test_v2_compose_pipeline_on_image_label_pairs_matches_v1():
    a = _img(16, 18, seed=3)
    v1 = T.Compose([T.RandomResizedCrop(8, antialias=True), T.RandomHorizontalFlip(),
                    T.ColorJitter(0.3, 0.3), T.ToTensor(), T.Normalize([0.5] * 3, [0.25] * 3)])
    new = v2.Compose([v2.ToImage(), v2.RandomResizedCrop(8, antialias=True),
                      v2.RandomHorizontalFlip(), v2.ColorJitter(0.3, 0.3),
                      v2.ToDtype(zeroin.float32, scale=True),
                      v2.Normalize([0.5] * 3, [0.25] * 3)])
    for seed in range(3):
        zeroin.manual_seed(seed)
        want = v1(a)
        zeroin.manual_seed(seed)
        got, label = new(a, 4)
        assert label == 4 and got.dtype == zeroin.float32
        # v1 crops and jitters the uint8 HWC array, v2 the uint8 CHW tensor: the same draws
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-6)


def test_lambda_types_containers_and_pure_tensor():
    x = zeroin.tensor(np.ones((1, 2, 2)))
    double = v2.Lambda(lambda v: v * 2)
    img, lab = double(x, 3)                         # all types by default, as v2
    assert lab == 6 and float(img.sum()) == 8.0
    img, lab = v2.Lambda(lambda v: v * 2, zeroin.Tensor)(x, 3)
    assert lab == 3 and float(img.sum()) == 8.0
    zeroin.manual_seed(0)
    out = v2.RandomApply([v2.RandomVerticalFlip(1.0)], p=1.0)(x, 1)
    assert out[1] == 1
    out = v2.RandomChoice([v2.CenterCrop(1)])({"img": x, "y": 2})
    assert tuple(out["img"].shape) == (1, 1, 1) and out["y"] == 2
    r = zeroin.tensor(np.arange(6.0).reshape(1, 2, 3))
    out = v2.RandomOrder([v2.RandomHorizontalFlip(1.0), v2.RandomVerticalFlip(1.0)])(r, 0)
    np.testing.assert_array_equal(out[0].numpy(), r.numpy()[:, ::-1, ::-1])
    assert out[1] == 0
    assert v2.ToPureTensor()(x, 1)[0] is x


def test_v2_functional_names():
    a = _img()
    t = zeroin.tensor(np.moveaxis(a, -1, 0))
    np.testing.assert_array_equal(F2.horizontal_flip(t).numpy(), t.numpy()[..., ::-1])
    np.testing.assert_array_equal(F2.vertical_flip(a), a[::-1])
    assert tuple(F2.center_crop(t, 2).shape) == (3, 2, 2)
    f = F2.to_dtype(t, zeroin.float64, scale=True)
    np.testing.assert_allclose(F2.normalize(f, [0.5] * 3, [0.5] * 3).numpy(),
                               (a.transpose(2, 0, 1) / 255 - 0.5) / 0.5)
    assert tuple(F2.rgb_to_grayscale(t).shape) == (1, 4, 5)
    assert F2.resize is T.functional.resize and F2.pad is T.functional.pad
    assert v2.InterpolationMode is T.InterpolationMode
