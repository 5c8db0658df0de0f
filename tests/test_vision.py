"""zeroin.vision: torchvision's transforms and ImageFolder, checked against torchvision's
formulas on small arrays written out by hand (torchvision itself is not a dependency) and
against PyTorch's interpolate where torch is installed."""
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
    with pytest.raises(ValueError, match="interpolation must be.*'bicubic'"):
        T.Resize(2, interpolation="bicubic")


def test_resize_by_hand_nearest_and_bilinear():
    row = np.array([[0.0, 10.0, 20.0, 30.0]])
    near = T.Resize((1, 2), interpolation=T.InterpolationMode.NEAREST)(row)
    assert near.tolist() == [[0.0, 20.0]]                     # floor(i * 2)
    # bilinear, half-pixel centres: src = (i + 0.5) * 2 - 0.5 = 0.5, 2.5
    assert T.Resize((1, 2))(row).tolist() == [[5.0, 25.0]]
    # up 2 -> 4: src = (i + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25
    up = T.Resize((1, 4), interpolation="bilinear")(np.array([[0.0, 10.0]]))
    assert up.tolist() == [[0.0, 2.5, 7.5, 10.0]]
    # uint8 results are rounded (half to even): [0, 5] up to 4 -> 0, 1.25, 3.75, 5
    u = T.Resize((1, 4))(np.array([[0, 5]], np.uint8))
    assert u.dtype == np.uint8 and u.tolist() == [[0, 1, 4, 5]]


def test_resize_tensor_matches_pytorch_interpolate():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.random((2, 3, 7, 9)).astype(np.float32)
    for hw in [(3, 4), (11, 5), (7, 13), (14, 18), (5, 9)]:
        for mode in ("nearest", "bilinear"):
            got = T.Resize(hw, interpolation=mode)(zeroin.tensor(x))
            kw = {} if mode == "nearest" else {"align_corners": False, "antialias": False}
            want = F.interpolate(torch.from_numpy(x), size=hw, mode=mode, **kw).numpy()
            assert got.dtype == np.float32 and got.shape == (2, 3) + hw
            np.testing.assert_allclose(got.data, want, rtol=1e-6, atol=1e-6)
    # README: torchvision's antialias=True changes only shrinking, not enlarging
    up = T.Resize((11, 13))(zeroin.tensor(x)).data
    smooth = F.interpolate(torch.from_numpy(x), size=(11, 13), mode="bilinear",
                           antialias=True).numpy()
    np.testing.assert_allclose(up, smooth, atol=1e-6)
    # PyTorch's nearest index is floor(i * scale) in float32: 14 -> 46 and 26 -> 22 pick
    # other pixels than the same formula in float64 would
    for n_in, n_out in ((14, 46), (26, 22)):
        row = np.arange(n_in, dtype=np.float32).reshape(1, 1, n_in)
        got = T.Resize((1, n_out), interpolation="nearest")(zeroin.tensor(row))
        want = F.interpolate(torch.from_numpy(row[None]), size=(1, n_out)).numpy()[0]
        np.testing.assert_array_equal(got.data, want)


def test_resize_array_and_pil_keep_their_kind():
    a = _img(8, 6)
    r = T.Resize(3)(a)
    assert isinstance(r, np.ndarray) and r.shape == (4, 3, 3) and r.dtype == np.uint8
    t = T.Resize(3, interpolation="nearest")(T.ToTensor()(a))
    np.testing.assert_allclose(t.data, T.ToTensor()(T.Resize(3, "nearest")(a)).data)
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


def test_cifar10_download_unpacks_the_binary_archive(tmp_path, monkeypatch):
    import tarfile
    pytest.importorskip("PIL")
    from zeroin.data import DownloadError
    from zeroin.vision.datasets import CIFAR10
    pix, labels = _cifar_pixels()
    src = write_cifar_bin(tmp_path / "src", pix, labels)
    (tmp_path / "src" / "cifar-10-batches-bin" / "batches.meta.txt").write_text("airplane\n")
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(os.path.join(src, "cifar-10-batches-bin"), arcname="cifar-10-batches-bin")
    monkeypatch.setattr(CIFAR10, "url", archive.as_uri())
    got = CIFAR10(tmp_path / "data", train=False, download=True)
    assert np.array_equal(got.data, pix[-2:])
    assert sorted(os.listdir(tmp_path / "data" / "cifar-10-batches-bin")) == \
        sorted(os.listdir(os.path.join(src, "cifar-10-batches-bin")))
    assert len(CIFAR10(tmp_path / "data", download=True)) == 10     # present: not fetched
    (tmp_path / "junk.tar.gz").write_bytes(b"not a tar")
    monkeypatch.setattr(CIFAR10, "url", (tmp_path / "junk.tar.gz").as_uri())
    with pytest.raises(DownloadError, match="not the binary CIFAR-10 archive"):
        CIFAR10(tmp_path / "other", download=True)
