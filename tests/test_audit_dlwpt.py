"""Audit against *Deep Learning with PyTorch* (Stevens, Antiga, Viehmann; Manning 2020),
chapters 3-8: the book's code for each chapter's main workflow, as a learner ports it, run
with ``torch`` and with ``zeroin`` on the same data and the same weights (copied from torch),
compared to 1e-10 in float64 and to float resolution where the book insists on float32
(its images). The data are made here: a small wine-quality-like table written as the book's
CSV, an hourly bike-sharing-like table, CIFAR-10's binary files holding 24 random images
(read by ``zeroin.vision.datasets.CIFAR10``); the thermometer readings of chapter 5 are the
book's 11 values. See docs/dlwpt.md."""
from collections import OrderedDict

import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.nn import functional as F
from _audit import np_of as _np, close as _close, copy_weights as _copy

torch = pytest.importorskip("torch")
tnn, tF = torch.nn, torch.nn.functional

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


# --- chapter 3: tensors ----------------------------------------------------------------------

def _storage_list(lib, t):
    """The book's ``list(t.storage())``; torch's elements read without ``storage()``, whose
    deprecation warning torch gives once a process (test_pytorch_parity_inplace checks it)."""
    if lib is zeroin:
        return list(t.storage())
    n = t.untyped_storage().nbytes() // t.element_size()
    return t.as_strided((n,), (1,), 0).tolist()


@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_ch3_indexing_storage_offset_stride_and_views_share_the_storage():
    for lib in (torch, zeroin):
        points = lib.tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
        assert _storage_list(lib, points) == [4.0, 1.0, 5.0, 3.0, 2.0, 1.0]
        second_point = points[1]
        assert (second_point.storage_offset(), tuple(second_point.size()),
                second_point.stride()) == (2, (2,), (1,))
        second_point[0] = 10.0                      # a view: the book's warning
        assert points[1, 0].item() == 10.0
        second_point = points[1].clone()
        second_point[0] = 99.0
        assert points[1, 0].item() == 10.0
        points_t = points.t()
        assert (points_t.stride(), points_t.is_contiguous()) == ((1, 2), False)
        assert points_t.data_ptr() == points.data_ptr()
        points_t[0, 2] = -7.0                       # writes through the transpose
        assert points[2, 0].item() == -7.0
        points_t_cont = points_t.contiguous()
        assert points_t_cont.stride() == (3, 1) and points_t_cont.is_contiguous()
        assert _storage_list(lib, points_t_cont) == [4.0, 10.0, -7.0, 1.0, 3.0, 1.0]
        some_t = lib.ones(3, 4, 5)
        transpose_t = some_t.transpose(0, 2)
        assert (tuple(transpose_t.shape), some_t.stride(), transpose_t.stride()) == \
            ((5, 4, 3), (20, 5, 1), (1, 5, 20))
        assert some_t.permute(2, 0, 1).stride() == (1, 20, 5)
        assert (tuple(points[1:].shape), tuple(points[1:, 0].shape),
                tuple(points[None].shape)) == ((2, 2), (2,), (1, 3, 2))


def test_ch3_exercises_view_offset_stride_and_int_math_match_torch():
    for lib in (torch, zeroin):
        a = lib.tensor(list(range(9)))
        assert (tuple(a.size()), a.storage_offset(), a.stride()) == ((9,), 0, (1,))
        b = a.view(3, 3)
        assert b[1, 1].item() == 4
        c = b[1:, 1:]
        assert (tuple(c.size()), c.storage_offset(), c.stride()) == ((2, 2), 4, (3, 1))
        with pytest.raises(RuntimeError, match="can't be cast"):
            a.sqrt_()                          # in place keeps int64: refused, as torch
    _close(zeroin.cos(zeroin.tensor(list(range(9)))),
           torch.cos(torch.tensor(list(range(9)), dtype=torch.float64)), 1e-15)


def test_ch3_grayscale_by_broadcasting_and_einsum_match_torch():
    rng = np.random.default_rng(3)
    img, batch = rng.random((3, 5, 5)), rng.random((2, 3, 5, 5))
    w = [0.2126, 0.7152, 0.0722]
    out = {}
    for lib in (torch, zeroin):
        img_t, batch_t = lib.tensor(img), lib.tensor(batch)
        weights = lib.tensor(w, dtype=lib.double)
        unsqueezed_weights = weights.unsqueeze(-1).unsqueeze_(-1)
        out[lib] = [img_t.mean(-3), batch_t.mean(-3), (img_t * unsqueezed_weights).sum(-3),
                    (batch_t * unsqueezed_weights).sum(-3),
                    lib.einsum('...chw,c->...hw', batch_t, weights)]
    for z, t in zip(out[zeroin], out[torch]):
        _close(z, t, 1e-14)


def test_ch3_named_tensors_are_refused_with_a_clear_error():
    """The book's ``refine_names`` / ``align_as`` / ``sum('channels')``: zeroin has no named
    tensors (the installed torch has none either); the error names the positional way."""
    img_t = zeroin.randn(3, 5, 5)
    for name in ("names", "refine_names", "rename", "align_as", "align_to"):
        with pytest.raises(AttributeError, match="named tensors") as e:
            getattr(img_t, name)
        assert "unsqueeze" in str(e.value)
        assert not hasattr(img_t, name)
    with pytest.raises(TypeError, match="names"):
        zeroin.tensor([0.2126, 0.7152, 0.0722], names=['channels'])


def test_ch3_dtypes_double_to_and_promotion_match_torch():
    for lib in (torch, zeroin):
        assert lib.ones(10, 2, dtype=lib.double).dtype == lib.float64
        assert lib.tensor([[1, 2], [3, 4]], dtype=lib.short).dtype == lib.int16
        assert lib.zeros(10, 2).double().dtype == lib.float64
        assert lib.zeros(10, 2).to(dtype=lib.short).dtype == lib.int16
        assert lib.zeros(10, 2).to(lib.float32).dtype == lib.float32
        points_64 = lib.tensor([0.7, 1.5, 2.25], dtype=lib.double)
        points_short = points_64.to(lib.short)
        assert points_short.tolist() == [0, 1, 2]
        assert (points_64 * points_short).dtype == lib.float64
        assert lib.tensor([1, 2]).dtype == lib.int64
    # the one difference: zeroin's default float dtype is float64 (README)
    assert zeroin.tensor([1.0]).dtype == zeroin.float64 and torch.tensor([1.0]).dtype == \
        torch.float32


def test_ch3_numpy_interop_shares_memory():
    for lib in (torch, zeroin):
        points = lib.ones(3, 4)
        points_np = points.numpy()
        points_np[0, 0] = 5.0
        assert points[0, 0].item() == 5.0
        back = lib.from_numpy(points_np)
        back[1, 1] = -1.0
        assert points_np[1, 1] == -1.0


@pytest.mark.parametrize("dtype", ["float64", "float32", "int16"])
def test_ch3_save_and_load_a_tensor_round_trip(tmp_path, dtype):
    points = zeroin.tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]], dtype=getattr(zeroin, dtype))
    zeroin.save(points, tmp_path / "ourpoints.t")
    with open(tmp_path / "ourpoints2.t", "wb") as f:     # the book's file-object form
        zeroin.save(points, f)
    for got in (zeroin.load(tmp_path / "ourpoints.t"), zeroin.load(open(tmp_path / "ourpoints2.t",
                                                                          "rb"))):
        assert got.dtype == points.dtype and got.shape == points.shape
        assert np.array_equal(_np(got), _np(points))
    assert zeroin.load(str(tmp_path / "ourpoints.t"), map_location="cpu").shape == (3, 2)


def test_ch3_hdf5_round_trip(tmp_path):
    h5py = pytest.importorskip("h5py")
    points = zeroin.tensor([[4.0, 1.0], [5.0, 3.0], [2.0, 1.0]])
    with h5py.File(tmp_path / "ourpoints.hdf5", "w") as f:
        f.create_dataset("coords", data=points.numpy())
    with h5py.File(tmp_path / "ourpoints.hdf5", "r") as f:
        last_points = zeroin.from_numpy(f["coords"][-2:])
    assert np.array_equal(_np(last_points), _np(points[-2:]))


# --- chapter 4: real-world data --------------------------------------------------------------

def test_ch4_image_batch_from_hwc_arrays_and_per_channel_normalisation_match_torch():
    rng = np.random.default_rng(41)
    img_arrs = [rng.integers(0, 256, (16, 16, 4), dtype=np.uint8) for _ in range(3)]   # RGBA
    out = {}
    for lib in (torch, zeroin):
        img = lib.from_numpy(img_arrs[0])
        out_ = img.permute(2, 0, 1)             # a view: no copy
        assert (out_.stride(), out_.data_ptr()) == ((1, 64, 4), img.data_ptr())
        batch_size = 3
        batch = lib.zeros(batch_size, 3, 16, 16, dtype=lib.uint8)
        for i, img_arr in enumerate(img_arrs):
            img_t = lib.from_numpy(img_arr)
            img_t = img_t.permute(2, 0, 1)
            img_t = img_t[:3]                   # only the first three channels
            batch[i] = img_t
        batch = batch.float()
        batch /= 255.0
        n_channels = batch.shape[1]
        for c in range(n_channels):
            mean = lib.mean(batch[:, c])
            std = lib.std(batch[:, c])
            batch[:, c] = (batch[:, c] - mean) / std
        out[lib] = batch
    assert out[zeroin].dtype == zeroin.float32
    np.testing.assert_allclose(_np(out[zeroin]), _np(out[torch]), rtol=1e-5, atol=1e-5)


def _wine_csv(tmp_path):
    """A small table as the book's winequality-white.csv: ';'-separated, a header line,
    11 chemical columns and the quality score (3..9) last."""
    rng = np.random.default_rng(4)
    cols = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides",
            "free sulfur dioxide", "total sulfur dioxide", "density", "pH", "sulphates",
            "alcohol", "quality"]
    table = np.c_[rng.uniform(0, 200, (40, 11)).round(2), rng.integers(3, 10, 40)]
    path = tmp_path / "winequality-white.csv"
    np.savetxt(path, table, delimiter=";", header=";".join(f'"{c}"' for c in cols),
               comments="", fmt="%.2f")
    return path


def test_ch4_wine_one_hot_normalise_and_masks_match_torch(tmp_path):
    wine_path = _wine_csv(tmp_path)
    wineq_numpy = np.loadtxt(wine_path, dtype=np.float32, delimiter=";", skiprows=1)
    col_list = next(open(wine_path)).strip().split(";")
    assert len(col_list) == wineq_numpy.shape[1] == 12
    out = {}
    for lib in (torch, zeroin):
        wineq = lib.from_numpy(wineq_numpy)
        assert tuple(wineq.shape) == (40, 12) and wineq.dtype == lib.float32
        data = wineq[:, :-1]
        target = wineq[:, -1].long()
        target_onehot = lib.zeros(target.shape[0], 10)
        target_onehot.scatter_(1, target.unsqueeze(1), 1.0)
        assert target_onehot.sum().item() == 40
        data_mean = lib.mean(data, dim=0)
        data_var = lib.var(data, dim=0)
        data_normalized = (data - data_mean) / lib.sqrt(data_var)
        bad_indexes = lib.le(target, 3)
        assert bad_indexes.dtype == lib.bool
        bad_data = data[bad_indexes]
        mid_data = data[lib.gt(target, 3) & lib.lt(target, 7)]
        good_data = data[lib.ge(target, 7)]
        total_sulfur_threshold = 141.83
        total_sulfur_data = data[:, 6]
        predicted_indexes = lib.lt(total_sulfur_data, total_sulfur_threshold)
        actual_indexes = target > 5
        n_matches = lib.sum(actual_indexes & predicted_indexes).item()
        out[lib] = [target_onehot, data_normalized, bad_data.mean(0), mid_data.mean(0),
                    good_data.mean(0), n_matches, bad_indexes.sum().item(),
                    predicted_indexes.sum().item()]
    for z, t in zip(out[zeroin], out[torch]):
        if isinstance(t, torch.Tensor):     # the one-hot is in each's default float dtype
            assert _np(z).dtype == _np(t).dtype or t is out[torch][0]
            np.testing.assert_allclose(_np(z), _np(t), rtol=3e-6, atol=1e-6)
        else:
            assert z == t


def test_ch4_bike_sharing_time_series_view_transpose_and_one_hot_match_torch():
    rng = np.random.default_rng(40)
    n = 24 * 3                                  # three days of hourly rows, 17 columns
    bikes_numpy = np.c_[np.arange(1, n + 1), np.repeat(np.arange(1, 4), 24),
                        rng.random((n, 7)), rng.integers(1, 5, n), rng.random((n, 6)),
                        rng.integers(0, 900, n)].astype(np.float32)
    out = {}
    for lib in (torch, zeroin):
        bikes = lib.from_numpy(bikes_numpy)
        assert (tuple(bikes.shape), bikes.stride()) == ((72, 17), (17, 1))
        daily_bikes = bikes.view(-1, 24, bikes.shape[1])
        assert (tuple(daily_bikes.shape), daily_bikes.stride()) == ((3, 24, 17), (408, 17, 1))
        daily_bikes = daily_bikes.transpose(1, 2)
        assert (tuple(daily_bikes.shape), daily_bikes.stride()) == ((3, 17, 24), (408, 1, 17))
        first_day = bikes[:24].long()
        weather_onehot = lib.zeros(first_day.shape[0], 4)
        weather_onehot.scatter_(dim=1, index=first_day[:, 9].unsqueeze(1).long() - 1,
                                value=1.0)
        first = lib.cat((bikes[:24], weather_onehot), 1)
        daily_weather_onehot = lib.zeros(daily_bikes.shape[0], 4, daily_bikes.shape[2])
        daily_weather_onehot.scatter_(1, daily_bikes[:, 9, :].long().unsqueeze(1) - 1, 1.0)
        daily_bikes = lib.cat((daily_bikes, daily_weather_onehot), dim=1)
        daily_bikes[:, 9, :] = (daily_bikes[:, 9, :] - 1.0) / 3.0
        temp = daily_bikes[:, 10, :]
        temp_min, temp_max = lib.min(temp), lib.max(temp)
        daily_bikes[:, 10, :] = ((daily_bikes[:, 10, :] - temp_min) / (temp_max - temp_min))
        scaled = (temp - lib.mean(temp)) / lib.std(temp)
        out[lib] = [first, daily_bikes, scaled]
    for z, t in zip(out[zeroin], out[torch]):
        assert tuple(z.shape) == tuple(t.shape)
        np.testing.assert_allclose(_np(z), _np(t), rtol=2e-6, atol=1e-6)


def test_ch4_text_one_hot_letters_and_words_match_torch():
    line = "\u201cImpossible, Mr. Bennet, impossible, when I am not acquainted with him"
    text = line + " myself; how can you be so teasing?\u201d"

    def clean_words(input_str):
        punctuation = '.,;:"!?\u201d\u201c_-'
        word_list = input_str.lower().replace('\n', ' ').split()
        return [word.strip(punctuation) for word in word_list]

    out = {}
    for lib in (torch, zeroin):
        letter_t = lib.zeros(len(line), 128)
        for i, letter in enumerate(line.lower().strip()):
            letter_index = ord(letter) if ord(letter) < 128 else 0
            letter_t[i][letter_index] = 1
        word2index_dict = {word: i for (i, word) in enumerate(sorted(set(clean_words(text))))}
        words_in_line = clean_words(line)
        word_t = lib.zeros(len(words_in_line), len(word2index_dict))
        for i, word in enumerate(words_in_line):
            word_index = word2index_dict[word]
            word_t[i][word_index] = 1
        out[lib] = (letter_t, word_t)
    for z, t in zip(out[zeroin], out[torch]):
        assert np.array_equal(_np(z), _np(t))
    assert _np(out[zeroin][1]).sum() == len(clean_words(line))


# --- chapter 5: the mechanics of learning ----------------------------------------------------

def _model(t_u, w, b):
    return w * t_u + b


def _loss_fn(t_p, t_c):
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()


def _by_hand(lib):
    """The book's hand-written derivatives and its first training loop, on ``lib``."""
    def dloss_fn(t_p, t_c):
        return 2 * (t_p - t_c) / t_p.size(0)

    def dmodel_dw(t_u, w, b):
        return t_u

    def dmodel_db(t_u, w, b):
        return 1.0

    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * dmodel_db(t_u, w, b)
        return lib.stack([dloss_dw.sum(), dloss_db.sum()])

    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for epoch in range(1, n_epochs + 1):
            w, b = params
            t_p = _model(t_u, w, b)
            loss = _loss_fn(t_p, t_c)
            grad = grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params, loss
    return grad_fn, training_loop


def _thermometer(lib):
    return lib.tensor(T_C, dtype=lib.float64), lib.tensor(T_U, dtype=lib.float64)


def test_ch5_hand_gradient_and_training_loops_match_torch_and_finite_differences():
    out = {}
    for lib in (torch, zeroin):
        t_c, t_u = _thermometer(lib)
        grad_fn, training_loop = _by_hand(lib)
        w, b = lib.ones((), dtype=lib.float64), lib.zeros((), dtype=lib.float64)
        t_p = _model(t_u, w, b)
        delta = 0.1
        loss_rate_of_change_w = (_loss_fn(_model(t_u, w + delta, b), t_c)
                                 - _loss_fn(_model(t_u, w - delta, b), t_c)) / (2.0 * delta)
        grad = grad_fn(t_u, t_c, t_p, w, b)
        with np.errstate(over="ignore", invalid="ignore"):     # lr 1e-2 on t_u blows up
            blown = training_loop(100, 1e-2, lib.tensor([1.0, 0.0], dtype=lib.float64), t_u, t_c)
        small = training_loop(100, 1e-4, lib.tensor([1.0, 0.0], dtype=lib.float64), t_u, t_c)
        t_un = 0.1 * t_u
        fit = training_loop(5000, 1e-2, lib.tensor([1.0, 0.0], dtype=lib.float64), t_un, t_c)
        out[lib] = (_loss_fn(t_p, t_c), loss_rate_of_change_w, grad, small, fit, blown)
    z, t = out[zeroin], out[torch]
    for i in range(3):
        _close(z[i], t[i])
    for i in (3, 4):
        _close(z[i][0], t[i][0])
        _close(z[i][1], t[i][1])
    assert not np.isfinite(z[5][1].item()) and not np.isfinite(t[5][1].item())
    np.testing.assert_allclose(z[0].item(), 1763.884545454545, rtol=1e-12)
    # the loss is quadratic in w: the central difference is the derivative exactly
    np.testing.assert_allclose(z[2][0].item(), z[1].item(), rtol=1e-12)
    np.testing.assert_allclose(_np(z[4][0]), [5.367, -17.301], atol=5e-4)   # the book's fit


def _autograd_loop(lib, n_epochs, learning_rate, params, t_u, t_c):
    for epoch in range(1, n_epochs + 1):
        if params.grad is not None:
            params.grad.zero_()
        t_p = _model(t_u, *params)
        loss = _loss_fn(t_p, t_c)
        loss.backward()
        with lib.no_grad():
            params -= learning_rate * params.grad
    return params


def test_ch5_autograd_loop_matches_the_hand_gradient_and_torch():
    out = {}
    for lib in (torch, zeroin):
        t_c, t_u = _thermometer(lib)
        params = lib.tensor([1.0, 0.0], dtype=lib.float64, requires_grad=True)
        assert params.grad is None
        loss = _loss_fn(_model(t_u, *params), t_c)
        loss.backward()
        first = params.grad.clone()
        _loss_fn(_model(t_u, *params), t_c).backward()      # accumulates: twice the first
        twice = params.grad.clone()
        grad_fn, _ = _by_hand(lib)
        by_hand = grad_fn(t_u, t_c, _model(t_u, *params.detach()), *params.detach())
        fit = _autograd_loop(lib, 5000, 1e-2, lib.tensor([1.0, 0.0], dtype=lib.float64,
                                                          requires_grad=True), 0.1 * t_u, t_c)
        out[lib] = (first, twice, by_hand, fit)
    z, t = out[zeroin], out[torch]
    for a, b in zip(z, t):
        _close(a, b)
    _close(z[1], 2 * z[0], 1e-14)
    # the book's other form of the update: a new leaf each step
    t_c, t_u = _thermometer(zeroin)
    params = zeroin.tensor([1.0, 0.0], requires_grad=True)
    for epoch in range(5000):
        loss = _loss_fn(_model(0.1 * t_u, *params), t_c)
        loss.backward()
        params = (params - 1e-2 * params.grad).detach().requires_grad_()
    _close(params, t[3])
    _close(z[0], z[2], 1e-12)
    assert z[3].requires_grad and z[3].grad_fn is None


@pytest.mark.parametrize("name, lr, scale", [("SGD", 1e-2, 0.1), ("Adam", 1e-1, 1.0)])
def test_ch5_optimizers_match_torch(name, lr, scale):
    out = {}
    for lib, opt_mod in ((torch, torch.optim), (zeroin, optim)):
        t_c, t_u = _thermometer(lib)
        params = lib.tensor([1.0, 0.0], dtype=lib.float64, requires_grad=True)
        optimizer = getattr(opt_mod, name)([params], lr=lr)
        for epoch in range(1, 2001):
            t_p = _model(scale * t_u, *params)
            loss = _loss_fn(t_p, t_c)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        out[lib] = (params, loss)
    _close(out[zeroin][0], out[torch][0])
    _close(out[zeroin][1], out[torch][1])


def test_ch5_train_validation_split_and_no_grad_validation_match_torch():
    torch.manual_seed(0)
    shuffled = torch.randperm(11)
    zperm = zeroin.randperm(11)                 # another generator, but a permutation too
    assert sorted(zperm.tolist()) == list(range(11)) and zperm.dtype == zeroin.int64
    out = {}
    for lib, opt_mod in ((torch, torch.optim), (zeroin, optim)):
        t_c, t_u = _thermometer(lib)
        n_samples = t_u.shape[0]
        n_val = int(0.2 * n_samples)
        shuffled_indices = lib.tensor(shuffled.numpy())      # the same split in both
        train_indices, val_indices = shuffled_indices[:-n_val], shuffled_indices[-n_val:]
        train_t_u, train_t_c = t_u[train_indices], t_c[train_indices]
        val_t_u, val_t_c = t_u[val_indices], t_c[val_indices]
        train_t_un, val_t_un = 0.1 * train_t_u, 0.1 * val_t_u
        params = lib.tensor([1.0, 0.0], dtype=lib.float64, requires_grad=True)
        optimizer = opt_mod.SGD([params], lr=1e-2)
        for epoch in range(1, 3001):
            train_loss = _loss_fn(_model(train_t_un, *params), train_t_c)
            with lib.no_grad():
                val_loss = _loss_fn(_model(val_t_un, *params), val_t_c)
                assert val_loss.requires_grad is False
            optimizer.zero_grad()
            train_loss.backward()
            optimizer.step()
        with lib.set_grad_enabled(False):
            off = _loss_fn(_model(val_t_un, *params), val_t_c)
        with lib.set_grad_enabled(True):
            on = _loss_fn(_model(val_t_un, *params), val_t_c)
        assert (off.requires_grad, on.requires_grad) == (False, True)
        out[lib] = (params, train_loss, val_loss, off)
    for a, b in zip(out[zeroin], out[torch]):
        _close(a, b)


# --- chapter 6: using a neural network to fit the data --------------------------------------

def _training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
    for epoch in range(1, n_epochs + 1):
        t_p_train = model(t_u_train)
        loss_train = loss_fn(t_p_train, t_c_train)
        t_p_val = model(t_u_val)
        loss_val = loss_fn(t_p_val, t_c_val)
        optimizer.zero_grad()
        loss_train.backward()
        optimizer.step()
    return loss_train, loss_val


def _ch6_data(lib):
    t_c, t_u = _thermometer(lib)
    t_c, t_u = t_c.unsqueeze(1), t_u.unsqueeze(1)
    idx = lib.tensor([10, 0, 4, 3, 5, 8, 2, 1, 9, 7, 6])      # a fixed permutation
    tr, va = idx[:-2], idx[-2:]
    return 0.1 * t_u[tr], 0.1 * t_u[va], t_c[tr], t_c[va]


def test_ch6_linear_on_unsqueezed_data_with_mse_loss_matches_torch():
    t_lin = tnn.Linear(1, 1).double()
    z_lin = _copy(t_lin, nn.Linear(1, 1))
    assert tuple(z_lin.weight.shape) == (1, 1) and tuple(z_lin.bias.shape) == (1,)
    assert tuple(z_lin(zeroin.ones(10, 1)).shape) == (10, 1)
    assert tuple(z_lin(zeroin.ones(1)).shape) == (1,)
    out = {}
    for lib, model, opt_mod, mse in ((torch, t_lin, torch.optim, tnn.MSELoss()),
                                     (zeroin, z_lin, optim, nn.MSELoss())):
        optimizer = opt_mod.SGD(model.parameters(), lr=1e-2)
        losses = _training_loop(3000, optimizer, model, mse, *_ch6_data(lib))
        out[lib] = losses + (model.weight, model.bias)
    for a, b in zip(out[zeroin], out[torch]):
        _close(a, b)
    # the book's warning: a target of shape (N,) against (N, 1) outputs; zeroin refuses it
    with pytest.raises(zeroin.errors.ShapeError, match="reshape"):
        nn.MSELoss()(z_lin(zeroin.ones(4, 1)), zeroin.ones(4))


def _seq(lib_nn, named):
    layers = [lib_nn.Linear(1, 8), lib_nn.Tanh(), lib_nn.Linear(8, 1)]
    if not named:
        return lib_nn.Sequential(*layers)
    return lib_nn.Sequential(OrderedDict(zip(["hidden_linear", "hidden_activation",
                                               "output_linear"], layers)))


def test_ch6_sequential_named_parameters_and_tanh_hidden_layer_match_torch():
    for named in (False, True):
        t_seq = _seq(tnn, named).double()
        z_seq = _copy(t_seq, _seq(nn, named))
        assert str(z_seq) == str(t_seq)
        assert [(n, tuple(p.shape)) for n, p in z_seq.named_parameters()] == \
            [(n, tuple(p.shape)) for n, p in t_seq.named_parameters()]
        assert [p.numel() for p in z_seq.parameters()] == [8, 8, 8, 1]
    assert tuple(z_seq.output_linear.bias.shape) == (1,)
    out = {}
    for lib, model, opt_mod, mse in ((torch, t_seq, torch.optim, tnn.MSELoss()),
                                     (zeroin, z_seq, optim, nn.MSELoss())):
        optimizer = opt_mod.SGD(model.parameters(), lr=1e-3)
        data = _ch6_data(lib)
        losses = _training_loop(500, optimizer, model, mse, *data)
        t_range = lib.arange(20., 90.).unsqueeze(1)
        curve = model(0.1 * t_range.double())
        out[lib] = losses + (model.hidden_linear.weight.grad, curve, model(data[1]))
    for a, b in zip(out[zeroin], out[torch]):
        _close(a, b)


# --- chapter 7: telling birds from airplanes -------------------------------------------------

_PIX = np.random.default_rng(7).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
_LABELS = np.random.default_rng(70).integers(0, 10, 24)
_LABELS[:8] = [0, 2, 0, 2, 1, 0, 2, 0]          # enough birds (2) and airplanes (0)


@pytest.fixture
def data_path(tmp_path):
    """CIFAR-10's binary files made from _PIX/_LABELS: 22 training images, 2 test ones."""
    pytest.importorskip("PIL")
    from test_vision import write_cifar_bin
    return str(write_cifar_bin(tmp_path, _PIX, _LABELS)) + "/"


def test_ch7_cifar10_to_tensor_stats_and_normalize_match_the_formulas(data_path):
    from zeroin.vision import datasets, transforms
    cifar10 = datasets.CIFAR10(data_path, train=True, download=False)
    cifar10_val = datasets.CIFAR10(data_path, train=False, download=False)
    assert (len(cifar10), len(cifar10_val)) == (22, 2)
    img, label = cifar10[5]
    assert img.mode == "RGB" and label == 0 and cifar10.classes[label] == "airplane"
    to_tensor = transforms.ToTensor()
    img_t = to_tensor(img)
    assert (tuple(img_t.shape), img_t.dtype) == ((3, 32, 32), zeroin.float64)
    assert np.array_equal(_np(img_t.permute(1, 2, 0)), _PIX[5] / 255)      # plt.imshow's view
    tensor_cifar10 = datasets.CIFAR10(data_path, train=True, download=False,
                                      transform=transforms.ToTensor())
    imgs = zeroin.stack([img_t for img_t, _ in tensor_cifar10], dim=3)
    assert tuple(imgs.shape) == (3, 32, 32, 22)
    mean, std = imgs.view(3, -1).mean(dim=1), imgs.view(3, -1).std(dim=1)
    by_hand = (_PIX[:22] / 255).transpose(3, 1, 2, 0).reshape(3, -1)
    np.testing.assert_allclose(_np(mean), by_hand.mean(1), rtol=1e-13)
    np.testing.assert_allclose(_np(std), by_hand.std(1, ddof=1), rtol=1e-13)
    m, s = mean.tolist(), std.tolist()
    transformed_cifar10 = datasets.CIFAR10(
        data_path, train=True, download=False,
        transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize(m, s)]))
    img_n, _ = transformed_cifar10[5]
    want = (_PIX[5].transpose(2, 0, 1) / 255 - np.reshape(m, (3, 1, 1))) / np.reshape(s, (3, 1, 1))
    np.testing.assert_allclose(_np(img_n), want, rtol=1e-13, atol=1e-15)
    label_map = {0: 0, 2: 1}
    cifar2 = [(img, label_map[label]) for img, label in transformed_cifar10 if label in [0, 2]]
    assert [y for _, y in cifar2] == [label_map[y] for y in _LABELS[:22] if y in (0, 2)]
    old = zeroin.get_default_dtype()
    zeroin.set_default_dtype(zeroin.float32)      # torchvision's float32 images
    try:
        img32 = transformed_cifar10[5][0]
    finally:
        zeroin.set_default_dtype(old)
    assert img32.dtype == zeroin.float32
    np.testing.assert_allclose(_np(img32), want, rtol=1e-5, atol=1e-6)


def _cifar2(lib, contiguous=False):
    """The book's birds-vs-airplanes subset (labels 0, 2 -> 0, 1), normalised, in ``lib``:
    each image a (C, H, W) view of an (H, W, C) array, or, as ToTensor makes them,
    contiguous."""
    x = (_PIX.transpose(0, 3, 1, 2) / 255 - 0.5) / 0.25
    x = np.ascontiguousarray(x) if contiguous else x
    label_map = {0: 0, 2: 1}
    return [(lib.tensor(img), label_map[label]) for img, label in zip(x, _LABELS.tolist())
            if label in [0, 2]]


def _fc_model(lib_nn, log_softmax=True):
    layers = [lib_nn.Linear(3072, 512), lib_nn.Tanh(), lib_nn.Linear(512, 2)]
    return lib_nn.Sequential(*layers, *([lib_nn.LogSoftmax(dim=1)] if log_softmax else []))


def _fc_training(lib, model, loss_fn, opt_mod, loader_cls, n_epochs=2):
    train_loader = loader_cls(_cifar2(lib), batch_size=4, shuffle=False)
    optimizer = opt_mod.SGD(model.parameters(), lr=1e-2)
    losses = []
    for epoch in range(n_epochs):
        for imgs, labels in train_loader:
            batch_size = imgs.shape[0]
            outputs = model(imgs.view(batch_size, -1))
            loss = loss_fn(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    correct, total = 0, 0
    with lib.no_grad():
        for imgs, labels in loader_cls(_cifar2(lib), batch_size=4, shuffle=False):
            outputs = model(imgs.view(imgs.shape[0], -1))
            _, predicted = lib.max(outputs, dim=1)
            total += labels.shape[0]
            correct += int((predicted == labels).sum())
    return np.array(losses), correct / total, outputs


def test_ch7_fully_connected_log_softmax_nll_and_cross_entropy_match_torch():
    from torch.utils.data import DataLoader as TLoader
    for log_softmax, t_loss, z_loss in ((True, tnn.NLLLoss(), nn.NLLLoss()),
                                        (False, tnn.CrossEntropyLoss(), nn.CrossEntropyLoss())):
        torch.manual_seed(0)
        t_model = _fc_model(tnn, log_softmax).double()
        z_model = _copy(t_model, _fc_model(nn, log_softmax))
        t_out = _fc_training(torch, t_model, t_loss, torch.optim, TLoader)
        z_out = _fc_training(zeroin, z_model, z_loss, optim, zeroin.utils.data.DataLoader)
        np.testing.assert_allclose(z_out[0], t_out[0], rtol=1e-10)
        assert z_out[1] == t_out[1]
        _close(z_out[2], t_out[2])
        if log_softmax:
            nll_losses = z_out[0]
        else:      # the same weights: CrossEntropyLoss on the logits is LogSoftmax + NLLLoss
            np.testing.assert_allclose(z_out[0], nll_losses, rtol=1e-10)


def test_ch7_one_sample_at_a_time_loop_matches_torch():
    """The book's first loop: ``model(img.view(-1).unsqueeze(0))`` against
    ``torch.tensor([label])``, one optimizer step per image."""
    torch.manual_seed(1)
    t_model = _fc_model(tnn).double()
    z_model = _copy(t_model, _fc_model(nn))
    out = {}
    for lib, model, opt_mod, loss_fn in ((torch, t_model, torch.optim, tnn.NLLLoss()),
                                         (zeroin, z_model, optim, nn.NLLLoss())):
        optimizer = opt_mod.SGD(model.parameters(), lr=1e-2)
        losses = []
        for epoch in range(2):
            for img, label in _cifar2(lib, contiguous=True):
                out_ = model(img.view(-1).unsqueeze(0))
                loss = loss_fn(out_, lib.tensor([label]))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        _, index = lib.max(out_, dim=1)
        out[lib] = (np.array(losses), index.item(), model[2].weight)
    np.testing.assert_allclose(out[zeroin][0], out[torch][0], rtol=1e-10)
    assert out[zeroin][1] == out[torch][1]
    _close(out[zeroin][2], out[torch][2])


def test_ch7_softmax_and_dataloader_batches():
    x = zeroin.tensor([1.0, 2.0, 3.0])

    def softmax(x):
        return zeroin.exp(x) / zeroin.exp(x).sum()

    _close(softmax(x), torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64), 0))
    assert abs(softmax(x).sum().item() - 1) < 1e-15
    rows = zeroin.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    _close(nn.Softmax(dim=1)(rows), softmax(x).expand(2, 3), 1e-15)
    cifar2 = _cifar2(zeroin)
    loader = zeroin.utils.data.DataLoader(cifar2, batch_size=4, shuffle=True)
    seen = []
    for imgs, labels in loader:
        assert tuple(imgs.shape[1:]) == (3, 32, 32) and labels.dtype == zeroin.int64
        assert imgs.is_contiguous()         # as torch's: imgs.view(batch_size, -1) works
        seen += [_np(i).tobytes() for i in imgs]
    assert sorted(seen) == sorted(_np(img).tobytes() for img, _ in cifar2)
    assert not cifar2[0][0].is_contiguous()     # made from a transposed array


def test_ch7_parameter_counts_as_the_book_prints_them():
    connected_model = nn.Sequential(nn.Linear(3072, 1024), nn.Tanh(), nn.Linear(1024, 512),
                                    nn.Tanh(), nn.Linear(512, 128), nn.Tanh(),
                                    nn.Linear(128, 2))
    numel_list = [p.numel() for p in connected_model.parameters() if p.requires_grad is True]
    assert sum(numel_list) == 3737474
    assert numel_list == [3145728, 1024, 524288, 512, 65536, 128, 256, 2]
    first_model = nn.Sequential(nn.Linear(3072, 512), nn.Tanh(), nn.Linear(512, 2),
                                nn.LogSoftmax(dim=1))
    numel_list = [p.numel() for p in first_model.parameters()]
    assert (sum(numel_list), numel_list) == (1574402, [1572864, 512, 1024, 2])
    linear = nn.Linear(3072, 1024)
    assert (tuple(linear.weight.shape), tuple(linear.bias.shape)) == ((1024, 3072), (1024,))


# --- chapter 8: using convolutions to generalize ---------------------------------------------

def test_ch8_conv_padding_blur_edge_and_max_pool_match_torch():
    img = np.random.default_rng(8).random((3, 32, 32))
    out = {}
    for lib, lnn in ((torch, tnn), (zeroin, nn)):
        lib.manual_seed(1)
        conv = lnn.Conv2d(3, 16, kernel_size=3)
        assert (tuple(conv.weight.shape), tuple(conv.bias.shape)) == ((16, 3, 3, 3), (16,))
        img_t = lib.tensor(img)
        assert tuple(conv.double()(img_t.unsqueeze(0)).shape) == (1, 16, 30, 30)
        conv = lnn.Conv2d(3, 1, kernel_size=3, padding=1).double()
        with lib.no_grad():
            conv.bias.zero_()
        with lib.no_grad():
            conv.weight.fill_(1.0 / 9.0)
        blurred = conv(img_t.unsqueeze(0))
        conv = lnn.Conv2d(3, 1, kernel_size=3, padding=1).double()
        with lib.no_grad():
            conv.weight[:] = lib.tensor([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])
            conv.bias.zero_()
        edges = conv(img_t.unsqueeze(0))
        pool = lnn.MaxPool2d(2)
        out[lib] = (blurred, edges, pool(img_t.unsqueeze(0)))
    for a, b in zip(out[zeroin], out[torch]):
        _close(a, b)
    blurred = _np(out[zeroin][0])[0, 0]
    np.testing.assert_allclose(blurred[5, 7], img[:, 4:7, 6:9].sum() / 9, rtol=1e-13)
    assert _np(out[zeroin][2]).shape == (1, 3, 16, 16)
    np.testing.assert_array_equal(_np(out[zeroin][2])[0, 1, 3, 4], img[1, 6:8, 8:10].max())


def _nets(lib, lnn, LF):
    """The book's chapter-8 models, written once against ``lib``'s torch-like API."""
    class Net(lnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = lnn.Conv2d(3, 16, kernel_size=3, padding=1)
            self.act1 = lnn.Tanh()
            self.pool1 = lnn.MaxPool2d(2)
            self.conv2 = lnn.Conv2d(16, 8, kernel_size=3, padding=1)
            self.act2 = lnn.Tanh()
            self.pool2 = lnn.MaxPool2d(2)
            self.fc1 = lnn.Linear(8 * 8 * 8, 32)
            self.act3 = lnn.Tanh()
            self.fc2 = lnn.Linear(32, 2)

        def forward(self, x):
            out = self.pool1(self.act1(self.conv1(x)))
            out = self.pool2(self.act2(self.conv2(out)))
            out = out.view(-1, 8 * 8 * 8)
            out = self.act3(self.fc1(out))
            return self.fc2(out)

    class NetWidth(lnn.Module):                 # the functional API, n_chans1 wide
        def __init__(self, n_chans1=32):
            super().__init__()
            self.n_chans1 = n_chans1
            self.conv1 = lnn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
            self.conv2 = lnn.Conv2d(n_chans1, n_chans1 // 2, kernel_size=3, padding=1)
            self.fc1 = lnn.Linear(8 * 8 * n_chans1 // 2, 32)
            self.fc2 = lnn.Linear(32, 2)

        def forward(self, x):
            out = LF.max_pool2d(lib.tanh(self.conv1(x)), 2)
            out = LF.max_pool2d(lib.tanh(self.conv2(out)), 2)
            out = out.view(-1, 8 * 8 * self.n_chans1 // 2)
            out = lib.tanh(self.fc1(out))
            return self.fc2(out)

    class NetDropout(NetWidth):
        def __init__(self, n_chans1=32):
            super().__init__(n_chans1)
            self.conv1_dropout = lnn.Dropout2d(p=0.4)
            self.conv2_dropout = lnn.Dropout2d(p=0.4)

        def forward(self, x):
            out = LF.max_pool2d(lib.tanh(self.conv1(x)), 2)
            out = self.conv1_dropout(out)
            out = LF.max_pool2d(lib.tanh(self.conv2(out)), 2)
            out = self.conv2_dropout(out)
            out = out.view(-1, 8 * 8 * self.n_chans1 // 2)
            return self.fc2(lib.tanh(self.fc1(out)))

    class NetBatchNorm(NetWidth):
        def __init__(self, n_chans1=32):
            super().__init__(n_chans1)
            self.conv1_batchnorm = lnn.BatchNorm2d(num_features=n_chans1)
            self.conv2_batchnorm = lnn.BatchNorm2d(num_features=n_chans1 // 2)

        def forward(self, x):
            out = self.conv1_batchnorm(self.conv1(x))
            out = LF.max_pool2d(lib.tanh(out), 2)
            out = self.conv2_batchnorm(self.conv2(out))
            out = LF.max_pool2d(lib.tanh(out), 2)
            out = out.view(-1, 8 * 8 * self.n_chans1 // 2)
            return self.fc2(lib.tanh(self.fc1(out)))

    class NetDepth(lnn.Module):
        def __init__(self, n_chans1=32):
            super().__init__()
            self.n_chans1 = n_chans1
            self.conv1 = lnn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
            self.conv2 = lnn.Conv2d(n_chans1, n_chans1 // 2, kernel_size=3, padding=1)
            self.conv3 = lnn.Conv2d(n_chans1 // 2, n_chans1 // 2, kernel_size=3, padding=1)
            self.fc1 = lnn.Linear(4 * 4 * n_chans1 // 2, 32)
            self.fc2 = lnn.Linear(32, 2)

        def forward(self, x, res=False):
            out = LF.max_pool2d(lib.relu(self.conv1(x)), 2)
            out = LF.max_pool2d(lib.relu(self.conv2(out)), 2)
            out1 = out
            out = lib.relu(self.conv3(out))
            out = LF.max_pool2d(out + out1 if res else out, 2)
            out = out.view(-1, 4 * 4 * self.n_chans1 // 2)
            return self.fc2(lib.relu(self.fc1(out)))

    class NetRes(NetDepth):
        def forward(self, x):
            return super().forward(x, res=True)

    class ResBlock(lnn.Module):
        def __init__(self, n_chans):
            super(ResBlock, self).__init__()
            self.conv = lnn.Conv2d(n_chans, n_chans, kernel_size=3, padding=1, bias=False)
            self.batch_norm = lnn.BatchNorm2d(num_features=n_chans)
            lib.nn.init.kaiming_normal_(self.conv.weight, nonlinearity='relu')
            lib.nn.init.constant_(self.batch_norm.weight, 0.5)
            lib.nn.init.zeros_(self.batch_norm.bias)

        def forward(self, x):
            out = self.conv(x)
            out = self.batch_norm(out)
            out = lib.relu(out)
            return out + x

    class NetResDeep(lnn.Module):
        def __init__(self, n_chans1=32, n_blocks=10):
            super().__init__()
            self.n_chans1 = n_chans1
            self.conv1 = lnn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
            self.resblocks = lnn.Sequential(*(n_blocks * [ResBlock(n_chans=n_chans1)]))
            self.fc1 = lnn.Linear(8 * 8 * n_chans1, 32)
            self.fc2 = lnn.Linear(32, 2)

        def forward(self, x):
            out = LF.max_pool2d(lib.relu(self.conv1(x)), 2)
            out = self.resblocks(out)
            out = LF.max_pool2d(out, 2)
            out = out.view(-1, 8 * 8 * self.n_chans1)
            return self.fc2(lib.relu(self.fc1(out)))

    return dict(Net=Net, NetWidth=NetWidth, NetDropout=NetDropout, NetBatchNorm=NetBatchNorm,
                NetDepth=NetDepth, NetRes=NetRes, NetResDeep=NetResDeep, ResBlock=ResBlock)


_T_NETS, _Z_NETS = _nets(torch, tnn, tF), _nets(zeroin, nn, F)
_IMGS = np.random.default_rng(80).normal(size=(4, 3, 32, 32))


def _pair(name, **kw):
    torch.manual_seed(8)
    t_model = _T_NETS[name](**kw).double()
    return t_model, _copy(t_model, _Z_NETS[name](**kw))


@pytest.mark.parametrize("name, kw, n_params", [
    ("Net", {}, 18090), ("NetWidth", {}, 38386), ("NetWidth", {"n_chans1": 16}, 18090),
    ("NetBatchNorm", {}, 38482), ("NetDepth", {}, 16130), ("NetRes", {}, 16130),
    ("NetResDeep", {"n_blocks": 3}, 75810)])
def test_ch8_models_forward_backward_and_counts_match_torch(name, kw, n_params):
    t_model, z_model = _pair(name, **kw)
    assert sum(p.numel() for p in z_model.parameters()) == n_params
    assert [p.numel() for p in z_model.parameters()] == [p.numel() for p in t_model.parameters()]
    assert list(z_model.state_dict()) == list(t_model.state_dict())
    labels = [1, 0, 0, 1]
    out = {}
    for lib, model, ce in ((torch, t_model, tnn.CrossEntropyLoss()),
                           (zeroin, z_model, nn.CrossEntropyLoss())):
        model.train()
        outputs = model(lib.tensor(_IMGS))
        loss = ce(outputs, lib.tensor(labels))
        loss.backward()
        model.eval()
        out[lib] = [outputs, loss, model(lib.tensor(_IMGS))] + \
            [p.grad for p in model.parameters()] + list(model.state_dict().values())
    for a, b in zip(out[zeroin], out[torch]):
        _close(a, b)
    if name == "Net":
        assert [p.numel() for p in z_model.parameters()] == [432, 16, 1152, 8, 16384, 32, 64, 2]


def _ch8_training_loop(n_epochs, optimizer, model, loss_fn, train_loader, l2_lambda=0.0):
    for epoch in range(1, n_epochs + 1):
        loss_train = 0.0
        for imgs, labels in train_loader:
            outputs = model(imgs)
            loss = loss_fn(outputs, labels)
            if l2_lambda:
                l2_norm = sum(p.pow(2.0).sum() for p in model.parameters())
                loss = loss + l2_lambda * l2_norm
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_train += loss.item()
    return loss_train / len(train_loader)


def _validate(lib, model, loader):
    correct, total = 0, 0
    with lib.no_grad():
        for imgs, labels in loader:
            outputs = model(imgs)
            _, predicted = lib.max(outputs, dim=1)
            total += labels.shape[0]
            correct += int((predicted == labels).sum())
    return correct / total


def test_ch8_training_loop_validate_and_state_dict_round_trip_match_torch(tmp_path):
    from torch.utils.data import DataLoader as TLoader
    t_model, z_model = _pair("Net")
    out = {}
    for lib, model, opt_mod, ce, loader in (
            (torch, t_model, torch.optim, tnn.CrossEntropyLoss(), TLoader),
            (zeroin, z_model, optim, nn.CrossEntropyLoss(), zeroin.utils.data.DataLoader)):
        train_loader = loader(_cifar2(lib), batch_size=4, shuffle=False)
        optimizer = opt_mod.SGD(model.parameters(), lr=1e-2)
        loss = _ch8_training_loop(3, optimizer, model, ce, train_loader)
        out[lib] = (loss, _validate(lib, model, train_loader))
    np.testing.assert_allclose(out[zeroin][0], out[torch][0], rtol=1e-10)
    assert out[zeroin][1] == out[torch][1]
    for a, b in zip(z_model.parameters(), t_model.parameters()):
        _close(a, b)
    device = zeroin.device('cuda') if zeroin.cuda.is_available() else zeroin.device('cpu')
    data_path = str(tmp_path) + "/"
    zeroin.save(z_model.state_dict(), data_path + 'birds_vs_airplanes.pt')
    loaded_model = _Z_NETS["Net"]().to(device=device)
    loaded_model.load_state_dict(zeroin.load(data_path + 'birds_vs_airplanes.pt',
                                             map_location=device))
    x = zeroin.tensor(_IMGS)
    assert np.array_equal(_np(loaded_model(x)), _np(z_model(x)))


def test_ch8_dropout2d_drops_whole_channels_in_training_only():
    drop = nn.Dropout2d(p=0.4)
    x = zeroin.ones(64, 32, 4, 4)
    y = _np(drop(x))
    per_channel = y.reshape(64, 32, -1)
    assert set(np.unique(per_channel)) <= {0.0, 1 / 0.6}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()     # a channel all kept or not
    assert 0.3 < (per_channel[..., 0] == 0).mean() < 0.5
    drop.eval()
    assert np.array_equal(_np(drop(x)), _np(x))
    assert repr(drop) == repr(tnn.Dropout2d(p=0.4))
    t_model, z_model = _pair("NetDropout")
    t_model.eval(), z_model.eval()
    _close(z_model(zeroin.tensor(_IMGS)), t_model(torch.tensor(_IMGS)))


def test_ch8_resblock_init_kaiming_normal_relu_and_constant():
    block = _Z_NETS["ResBlock"](n_chans=32)
    w = _np(block.conv.weight)
    fan_in = 32 * 3 * 3
    assert abs(w.std() / np.sqrt(2 / fan_in) - 1) < 0.05       # 9216 draws: about 0.7% spread
    assert abs(w.mean()) < 4 * np.sqrt(2 / fan_in) / np.sqrt(w.size)
    assert np.array_equal(_np(block.batch_norm.weight), np.full(32, 0.5))
    assert np.array_equal(_np(block.batch_norm.bias), np.zeros(32))
    assert block.conv.bias is None
    deep = _Z_NETS["NetResDeep"](n_blocks=10)
    assert all(b is deep.resblocks[0] for b in deep.resblocks)     # the book's shared block
    assert len(list(deep.parameters())) == 9


def test_ch8_l2_by_hand_is_weight_decay_and_matches_torch():
    """``loss + l2_lambda * sum(p.pow(2).sum())`` steps as ``SGD(weight_decay=2 l2_lambda)``
    on the plain loss (the gradient of lambda |p|^2 is 2 lambda p)."""
    l2_lambda = 0.001
    results = {}
    for lib, lnn, opt_mod, ce in ((torch, tnn, torch.optim, tnn.CrossEntropyLoss()),
                                  (zeroin, nn, optim, nn.CrossEntropyLoss())):
        loader = [(lib.tensor(_IMGS), lib.tensor([1, 0, 0, 1]))]
        for how in ("by_hand", "weight_decay"):
            t_model, z_model = _pair("Net")
            model = t_model if lib is torch else z_model
            wd = 2 * l2_lambda if how == "weight_decay" else 0.0
            optimizer = opt_mod.SGD(model.parameters(), lr=1e-1, weight_decay=wd)
            _ch8_training_loop(2, optimizer, model, ce, loader,
                               l2_lambda if how == "by_hand" else 0.0)
            results[lib, how] = [p.detach().clone() for p in model.parameters()]
    for key in results:
        for a, b in zip(results[key], results[torch, "by_hand"]):
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    before = [p for p in _pair("Net")[1].parameters()]
    assert max(np.abs(_np(a) - _np(b)).max() for a, b in
               zip(results[zeroin, "by_hand"], before)) > 1e-3      # the steps moved them
