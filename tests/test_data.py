"""zeroin.data: datasets, loaders, splits, standardisation, IDX files and the MNIST loader."""
import gc
import gzip
import hashlib
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin.data import (DataLoader, Dataset, DatasetError, DownloadError, MNIST_FILES,
                         Standardizer, TensorDataset, load_dataset, load_mnist, make_linear,
                         make_moons, make_sine, make_spirals, make_vertical, make_xor,
                         random_split, read_idx, train_val_test_split, write_idx)


# --- Dataset / DataLoader ----------------------------------------------------------------

def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same number of samples.*\(5, 2\).*\(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


@given(n=st.integers(1, 60), bs=st.integers(1, 17), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_loader_covers_every_sample_once(n, bs, shuffle, drop_last, seed):
    X = np.arange(n, dtype=float)[:, None] * np.ones((1, 3))
    y = np.arange(n)
    loader = DataLoader((X, y), batch_size=bs, shuffle=shuffle, drop_last=drop_last, seed=seed)
    batches = list(loader)
    assert len(batches) == len(loader)
    seen = np.concatenate([b[1].data for b in batches]) if batches else np.zeros(0, int)
    for xb, yb in batches:
        assert isinstance(xb, zeroin.Tensor) and not xb.requires_grad
        np.testing.assert_array_equal(xb.data[:, 0], yb.data)      # rows stay paired
        assert len(yb) == bs or (not drop_last and yb is batches[-1][1])
    expected = n - n % bs if drop_last else n
    assert len(seen) == expected and len(set(seen.tolist())) == expected
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(expected))


def test_loader_reshuffles_each_epoch_and_seed_repeats():
    data = (np.arange(100.0)[:, None], np.arange(100))
    a = DataLoader(data, batch_size=100, shuffle=True, seed=3)
    e1, e2 = [next(iter(a))[1].data for _ in range(2)]
    assert not np.array_equal(e1, e2)
    b = DataLoader(data, batch_size=100, shuffle=True, seed=3)
    np.testing.assert_array_equal(next(iter(b))[1].data, e1)
    # without a seed of its own, the loader follows zeroin.manual_seed
    c = DataLoader(data, batch_size=100, shuffle=True)
    zeroin.manual_seed(7)
    first = next(iter(c))[1].data
    zeroin.manual_seed(7)
    np.testing.assert_array_equal(next(iter(c))[1].data, first)


def test_loader_uses_one_fancy_index_per_batch():
    calls = []

    class Counting(TensorDataset):
        def __getitem__(self, i):
            calls.append("item")
            return super().__getitem__(i)

        def __getitems__(self, idx):
            calls.append("items")
            return super().__getitems__(idx)

    loader = DataLoader(Counting(np.zeros((64, 2)), np.zeros(64)), batch_size=16)
    assert len(list(loader)) == 4
    assert calls == ["items"] * 4


def test_loader_works_with_plain_per_sample_dataset():
    class Squares(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return np.array([float(i)]), i * i

    xb, yb = next(iter(DataLoader(Squares(), batch_size=4)))
    np.testing.assert_array_equal(yb.data, [0, 1, 4, 9])
    assert xb.shape == (4, 1)


def test_loader_rejects_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader((np.zeros((3, 1)), np.zeros(3)), batch_size=0)


def test_random_split_partitions():
    ds = TensorDataset(np.arange(10.0), np.arange(10))
    parts = random_split(ds, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    idx = np.concatenate([p.indices for p in parts])
    assert sorted(idx.tolist()) == list(range(10))
    assert parts[0][0][1] == parts[0].indices[0]
    with pytest.raises(ValueError, match="add up to 9"):
        random_split(ds, [4, 5])


def test_train_val_test_split_stratified_and_disjoint():
    X = np.arange(300.0)[:, None]
    y = np.repeat([0, 1, 2], 100)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split(X, y, val=0.1, test=0.2,
                                                               seed=1, stratify=y)
    assert (len(Xtr), len(Xva), len(Xte)) == (210, 30, 60)
    assert np.bincount(yte).tolist() == [20, 20, 20]
    assert np.bincount(yva).tolist() == [10, 10, 10]
    all_rows = np.concatenate([Xtr, Xva, Xte])[:, 0]
    assert sorted(all_rows.tolist()) == X[:, 0].tolist()
    np.testing.assert_array_equal(y[Xte[:, 0].astype(int)], yte)   # labels follow rows


# --- Standardizer -------------------------------------------------------------------------

@given(seed=st.integers(0, 10_000))
@settings(max_examples=25, deadline=None)
def test_standardizer_roundtrip(seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(5, 3, (40, 4))
    X[:, 2] = 7.0                                   # a constant feature
    s = Standardizer().fit(X)
    Z = s.transform(X)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-10)
    np.testing.assert_allclose(Z.std(0)[[0, 1, 3]], 1, atol=1e-10)
    assert np.all(Z[:, 2] == 0)
    np.testing.assert_allclose(s.inverse_transform(Z), X, atol=1e-10)


def test_standardizer_fits_on_train_only():
    train, test = np.array([[0.0], [2.0]]), np.array([[10.0]])
    s = Standardizer().fit(train)
    assert s.transform(test).item() == 9.0          # (10 - 1) / 1: test statistics unused
    with pytest.raises(ValueError, match=r"shape \(1,\).*\(2,\)"):
        s.transform(np.zeros((3, 2)))
    with pytest.raises(RuntimeError, match="fit"):
        Standardizer().transform(train)


def test_load_dataset_standardizer_uses_train_statistics():
    d = load_dataset("digits")
    Xtr = d.train.arrays[0]
    np.testing.assert_allclose(Xtr.mean(0), 0, atol=1e-10)
    assert abs(d.test.arrays[0].mean()) > 1e-6      # test data were not re-centred


# --- generated datasets --------------------------------------------------------------------

def test_linear_dataset_is_the_line():
    X, y = make_linear(2000, noise=0.1, seed=0)
    w, b = np.polyfit(X[:, 0], y[:, 0], 1)
    assert abs(w - 2) < 0.03 and abs(b - 3) < 0.03
    resid = y[:, 0] - (2 * X[:, 0] + 3)
    assert 0.08 < resid.std() < 0.12


def test_xor_truth_table_and_noisy():
    X, y = make_xor()
    np.testing.assert_array_equal(y[:, 0], np.logical_xor(X[:, 0], X[:, 1]))
    Xn, yn = make_xor(400, noise=0.1, seed=0)
    nearest = np.round(Xn).clip(0, 1)
    assert np.mean(np.logical_xor(nearest[:, 0], nearest[:, 1]) == yn[:, 0]) > 0.99


def test_moons_spirals_sine_shapes_and_labels():
    X, y = make_moons(301, noise=0.0, seed=0)
    assert X.shape == (301, 2) and y.shape == (301, 1)
    upper = X[y[:, 0] == 0]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-12)    # unit half circle
    assert np.all(upper[:, 1] >= -1e-12)
    X, y = make_spirals(300, classes=3, seed=0)
    assert X.shape == (300, 2) and y.dtype == np.int64 and np.bincount(y).tolist() == [100] * 3
    X, y = make_sine(100, noise=0.0, seed=0)
    np.testing.assert_allclose(y, np.sin(X))


def test_make_vertical_blobs_side_by_side():
    X, y = make_vertical(300, classes=3, seed=0)
    assert X.shape == (300, 2) and y.dtype == np.int64 and np.bincount(y).tolist() == [100] * 3
    centres = np.array([X[y == c].mean(axis=0) for c in range(3)])
    np.testing.assert_allclose(centres, [[0, 0.5], [1 / 3, 0.5], [2 / 3, 0.5]], atol=0.03)
    assert np.all(np.abs(X[y == 1].std(axis=0) - 0.1) < 0.02)
    X0, _ = make_vertical(4, classes=2, noise=0.0)
    np.testing.assert_array_equal(X0, [[0, 0.5], [0.5, 0.5], [0, 0.5], [0.5, 0.5]])
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="make_vertical: classes must be a whole number"):
            make_vertical(10, classes=bad)
    with pytest.raises(ValueError, match="make_spirals: classes must be a whole number"):
        make_spirals(10, classes=0)


def test_generators_repeat_with_seed():
    a = make_moons(50, seed=4)
    b = make_moons(50, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    zeroin.manual_seed(1)
    c = make_spirals(30)
    zeroin.manual_seed(1)
    np.testing.assert_array_equal(c[0], make_spirals(30)[0])


@pytest.mark.parametrize("name,task,n_in,n_out", [
    ("linear", "regression", 1, 1), ("sine", "regression", 1, 1), ("xor", "binary", 2, 1),
    ("moons", "binary", 2, 1), ("spirals", "multiclass", 2, 3),
    ("vertical", "multiclass", 2, 3), ("digits", "multiclass", 64, 10)])
def test_load_dataset(name, task, n_in, n_out):
    d = load_dataset(name, seed=0)
    assert (d.task, d.in_features, d.out_features) == (task, n_in, n_out)
    sizes = [len(d.train), len(d.val), len(d.test)]
    assert sizes[0] > sizes[2] > 0 and sizes[1] > 0
    again = load_dataset(name, seed=0)
    np.testing.assert_array_equal(again.test.arrays[0], d.test.arrays[0])


def test_digits_is_the_bundled_copy():
    d = load_dataset("digits")
    assert len(d.train) + len(d.val) + len(d.test) == 1797


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ImportError("No module named 'sklearn'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install zeroin\[datasets\]"):
        load_dataset("digits")


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*moons"):
        load_dataset("nope")


# --- IDX and MNIST --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                   np.float64])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_roundtrip(tmp_path, dtype, suffix):
    arr = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / f"a{suffix}", arr)
    raw = path.read_bytes()
    assert (raw[:2] == b"\x1f\x8b") == (suffix == ".gz")
    back = read_idx(path)
    assert back.dtype == arr.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, arr)


def test_idx_header_is_big_endian_magic(tmp_path):
    path = write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 1]) and raw[4:8] == (3).to_bytes(4, "big")
    assert raw[8:] == bytes([7, 2, 1])


def test_idx_truncated_and_corrupted(tmp_path):
    path = write_idx(tmp_path / "img", np.zeros((4, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"img.*\(4, 28, 28\).*truncated"):
        read_idx(path)
    gz = write_idx(tmp_path / "img.gz", np.zeros((4, 28, 28), np.uint8))
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(DatasetError, match=r"img\.gz.*gzip"):
        read_idx(gz)
    bad = tmp_path / "not-idx"
    bad.write_bytes(b"hello world")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(bad)


def _fake_mnist(folder, gz=True, n_train=12, n_test=5, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train_labels": rng.integers(0, 10, n_train).astype(np.uint8),
              "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "test_labels": rng.integers(0, 10, n_test).astype(np.uint8)}
    for key, name in MNIST_FILES.items():
        write_idx(folder / (name if gz else name[:-3]), arrays[key])
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_load_mnist_from_folder(tmp_path, gz):
    arrays = _fake_mnist(tmp_path, gz=gz)
    (Xtr, ytr), (Xte, yte) = load_mnist(root=tmp_path)
    assert Xtr.shape == (12, 784) and Xtr.dtype == np.float32 and ytr.dtype == np.int64
    np.testing.assert_allclose(Xtr * 255, arrays["train_images"].reshape(12, -1), atol=1e-4)
    np.testing.assert_array_equal(yte, arrays["test_labels"])
    (Xr, _), _ = load_mnist(root=tmp_path, flatten=False, normalize=False)
    assert Xr.shape == (12, 28, 28) and Xr.dtype == np.uint8


def test_load_dataset_mnist_dir(tmp_path):
    _fake_mnist(tmp_path, n_train=40, n_test=6)
    d = load_dataset(f"mnist:{tmp_path}", val=0.25)
    assert (len(d.train), len(d.val), len(d.test)) == (30, 10, 6)
    assert d.in_features == 784 and d.out_features == 10


def test_load_mnist_missing_files_says_what_to_get(tmp_path):
    _fake_mnist(tmp_path)
    os.remove(tmp_path / MNIST_FILES["test_labels"])
    with pytest.raises(FileNotFoundError, match=r"lacks t10k-labels-idx1-ubyte\.gz"):
        load_mnist(root=tmp_path)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_load_mnist_downloads_into_cache_with_checksums(tmp_path):
    server = tmp_path / "server"
    arrays = _fake_mnist(server)
    sums = {name: _sha(server / name) for name in MNIST_FILES.values()}
    cache = tmp_path / "cache"
    url = server.as_uri() + "/"
    (Xtr, ytr), _ = load_mnist(url=url, cache_dir=cache, checksums=sums)
    np.testing.assert_array_equal(ytr, arrays["train_labels"])
    assert sorted(os.listdir(cache)) == sorted(MNIST_FILES.values())      # no temp files left
    # second call reads the cache: the "server" may disappear
    for name in MNIST_FILES.values():
        os.remove(server / name)
    (Xtr2, _), _ = load_mnist(url=url, cache_dir=cache, checksums=sums)
    np.testing.assert_array_equal(Xtr2, Xtr)


def test_load_mnist_rejects_wrong_checksum(tmp_path):
    server = tmp_path / "server"
    _fake_mnist(server)
    cache = tmp_path / "cache"
    # the fake files are not the published MNIST: the default checksums must refuse them
    with pytest.raises(DatasetError, match=r"SHA-256.*expected 440fcabf"):
        load_mnist(url=server.as_uri(), cache_dir=cache)
    assert not cache.exists() or os.listdir(cache) == []                  # nothing saved
    # a corrupted cached file is caught too
    sums = {name: _sha(server / name) for name in MNIST_FILES.values()}
    load_mnist(url=server.as_uri(), cache_dir=cache, checksums=sums)
    victim = cache / MNIST_FILES["train_images"]
    victim.write_bytes(victim.read_bytes()[:-1])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz.*delete it"):
        load_mnist(url=server.as_uri(), cache_dir=cache, checksums=sums)


def test_load_mnist_offline_says_what_to_download_and_where(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("ZEROIN_MNIST_URL", "http://127.0.0.1:9/")
    with pytest.raises(DownloadError) as info:
        load_mnist(cache_dir=cache, timeout=5)
    msg = str(info.value)
    assert "http://127.0.0.1:9/train-images-idx3-ubyte.gz" in msg
    assert all(name in msg for name in MNIST_FILES.values())
    assert str(cache) in msg and "mnist:DIR" in msg


def test_mnist_cache_dir_follows_env(tmp_path, monkeypatch):
    from zeroin.data import mnist_cache_dir
    monkeypatch.setenv("ZEROIN_DATA", str(tmp_path))
    assert mnist_cache_dir() == tmp_path / "mnist"


def test_gzip_file_that_is_really_gzip(tmp_path):
    # a folder with files gzipped by another tool (not write_idx) reads the same
    arrays = _fake_mnist(tmp_path, gz=False)
    for name in MNIST_FILES.values():
        raw = (tmp_path / name[:-3]).read_bytes()
        (tmp_path / name).write_bytes(gzip.compress(raw))
        os.remove(tmp_path / name[:-3])
    (_, _), (Xte, yte) = load_mnist(root=tmp_path, normalize=False)
    np.testing.assert_array_equal(Xte.reshape(-1, 28, 28), arrays["test_images"])


# --- your own data files (.npz, .csv) -------------------------------------------------------

from zeroin.data import detect_task, encode_labels, read_table  # noqa: E402


def _two_class_npz(path, n=200, seed=0, **keys):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.where(X[:, 0] + X[:, 1] > 0, 2, 1)[:, None]          # labels 1/2, shape (n, 1)
    names = keys or {"data": "data", "label": "label"}
    np.savez(path, **{names["data"]: X, names["label"]: y})
    return X, y


def _write_csv(path, X, y, header=None):
    lines = ([",".join(header)] if header else []) + [
        ",".join([*(repr(float(v)) for v in x), str(lab)]) for x, lab in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")


def test_npz_two_classes_labels_one_two_map_to_zero_one(tmp_path):
    X, y = _two_class_npz(tmp_path / "two.npz")
    d = load_dataset(tmp_path / "two.npz", seed=3)
    assert (d.task, d.in_features, d.out_features, d.num_classes) == ("multiclass", 3, 2, 2)
    np.testing.assert_array_equal(d.classes, [1, 2])
    parts = [d.train, d.val, d.test]
    assert sum(len(p) for p in parts) == len(X)
    labels = np.concatenate([p.arrays[1] for p in parts])
    assert labels.dtype == np.int64 and labels.ndim == 1 and set(labels) == {0, 1}
    # every sample keeps its label: undo the scaling and look each row up in the file
    rows = np.concatenate([d.standardizer.inverse_transform(p.arrays[0]) for p in parts])
    for row, lab in zip(rows, labels):
        i = np.argmin(np.abs(X - row).sum(axis=1))
        assert np.allclose(X[i], row) and y[i, 0] == d.classes[lab]
    # inputs standardised with the training part's statistics only
    np.testing.assert_allclose(d.train.arrays[0].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.train.arrays[0].std(axis=0), 1, atol=1e-12)
    assert abs(d.test.arrays[0].mean()) > 1e-6
    # the split repeats with the seed
    np.testing.assert_array_equal(load_dataset(tmp_path / "two.npz", seed=3).test.arrays[0],
                                  d.test.arrays[0])


def test_npz_with_X_and_y_keys_and_flat_labels(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(100, 2)), rng.integers(0, 2, 100)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    d = load_dataset(str(tmp_path / "xy.npz"))
    assert d.num_classes == 2 and len(d.train) + len(d.val) + len(d.test) == 100


def test_csv_three_classes_with_and_without_header(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(150, 2))
    y = rng.choice([1, 2, 3], 150)
    _write_csv(tmp_path / "h.csv", X, y, header=["a", "b", "kind"])
    _write_csv(tmp_path / "n.csv", X, y)
    for name in ("h.csv", "n.csv"):
        Xr, yr = read_table(tmp_path / name)
        np.testing.assert_allclose(Xr, X)
        np.testing.assert_array_equal(yr, y)
        d = load_dataset(tmp_path / name)
        assert d.num_classes == 3 and d.out_features == 3
        np.testing.assert_array_equal(d.classes, [1, 2, 3])
    # the label column by header name or index; text labels are classes
    (tmp_path / "t.csv").write_text("kind,a,b\n" + "".join(
        f"{'cat' if v > 0 else 'dog'},{v},{w}\n" for v, w in X))
    Xr, yr = read_table(tmp_path / "t.csv", label_column="kind")
    np.testing.assert_allclose(Xr, X)
    d = load_dataset(tmp_path / "t.csv", label_column=0)
    assert list(d.classes) == ["cat", "dog"] and d.task == "multiclass"
    (tmp_path / "t2.csv").write_text("".join(                  # text labels, no header
        f"{'cat' if v > 0 else 'dog'},{v},{w}\n" for v, w in X))
    Xr, yr = read_table(tmp_path / "t2.csv", label_column=0)
    np.testing.assert_allclose(Xr, X)
    assert len(yr) == 150 and set(yr) == {"cat", "dog"}


def test_regression_file_standardises_inputs_and_targets_on_train(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 2)) * [1.0, 50.0]
    y = 3e5 + 1e5 * X[:, 0] - 1e3 * X[:, 1] + rng.normal(0, 1e4, 300)
    np.savez(tmp_path / "r.npz", data=X, label=y[:, None])
    d = load_dataset(tmp_path / "r.npz")
    assert d.task == "regression" and d.classes is None and d.out_features == 1
    ytr = d.train.arrays[1]
    assert ytr.shape == (len(d.train), 1)
    np.testing.assert_allclose([ytr.mean(), ytr.std()], [0, 1], atol=1e-12)
    back = np.concatenate([d.target_standardizer.inverse_transform(p.arrays[1])
                           for p in (d.train, d.val, d.test)])
    np.testing.assert_allclose(np.sort(back[:, 0]), np.sort(y), rtol=1e-12)
    raw = load_dataset(tmp_path / "r.npz", standardize=False)
    assert raw.standardizer is None and raw.target_standardizer is None
    np.testing.assert_allclose(d.target_standardizer.inverse_transform(d.train.arrays[1]),
                               raw.train.arrays[1], rtol=1e-12)     # the same split


@pytest.mark.parametrize("k,n,expected", [
    (2, 11, "classification"), (2, 10, "regression"),     # fewer distinct values than n/5
    (50, 251, "classification"), (51, 1000, "regression")])
def test_detect_task_rule(k, n, expected):
    y = np.arange(n) % k + 1.0
    assert detect_task(y) == expected
    assert detect_task(y + 0.5) == "regression"                 # not whole numbers
    assert detect_task(y, "regression") == "regression"
    assert detect_task(np.array(["a", "b"] * 10)) == "classification"


def test_task_override_and_separate_test_file(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 2))
    y = rng.integers(0, 100, 200)                               # 100 values: a target
    np.savez(tmp_path / "a.npz", X=X, y=y)
    np.savez(tmp_path / "b.npz", X=X[:40], y=y[:40])
    assert load_dataset(tmp_path / "a.npz").task == "regression"
    d = load_dataset(tmp_path / "a.npz", task="classification", test_path=tmp_path / "b.npz",
                     val=0.25)
    assert d.num_classes == len(np.unique(y))
    assert (len(d.train), len(d.val), len(d.test)) == (150, 50, 40)
    np.testing.assert_array_equal(d.classes[d.test.arrays[1]], y[:40])
    np.testing.assert_allclose(d.standardizer.inverse_transform(d.test.arrays[0]), X[:40])
    with pytest.raises(ValueError, match="text labels"):
        detect_task(np.array(["a", "b"]), "regression")


def test_test_file_with_unknown_labels_or_other_columns(tmp_path):
    _two_class_npz(tmp_path / "tr.npz")
    np.savez(tmp_path / "te.npz", data=np.zeros((4, 3)), label=[1, 2, 7, 7])
    with pytest.raises(ValueError, match=r"te\.npz has labels \[7\].*classes: \[1, 2\]"):
        load_dataset(tmp_path / "tr.npz", test_path=tmp_path / "te.npz")
    np.savez(tmp_path / "te2.npz", data=np.zeros((4, 5)), label=[1, 2, 1, 2])
    with pytest.raises(ValueError, match=r"te2\.npz has 5 features.*tr\.npz has 3"):
        load_dataset(tmp_path / "tr.npz", test_path=tmp_path / "te2.npz")
    with pytest.raises(ValueError, match="Index"):
        encode_labels(np.array([1, 5]), np.array([1, 2]), "Index")


def test_bad_files_get_clear_errors(tmp_path):
    np.savez(tmp_path / "keys.npz", features=np.zeros((3, 2)), target=np.zeros(3))
    with pytest.raises(ValueError, match=r"keys\.npz has arrays \['features', 'target'\]; "
                                         r"expected 'data' and 'label' \(or 'X' and 'y'\)"):
        load_dataset(tmp_path / "keys.npz")
    np.savez(tmp_path / "rows.npz", data=np.zeros((10, 2)), label=np.zeros(8))
    with pytest.raises(ValueError, match=r"rows\.npz: features have 10 rows.*labels have 8"):
        load_dataset(tmp_path / "rows.npz")
    np.savez(tmp_path / "obj.npz", data=np.array([None, 1], dtype=object), label=np.zeros(2))
    with pytest.raises(ValueError, match=r"obj\.npz holds Python objects"):
        load_dataset(tmp_path / "obj.npz")
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with warnings.catch_warnings(record=True) as seen:     # and the file is closed again
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match=r"broken\.npz is not a readable \.npz"):
            load_dataset(tmp_path / "broken.npz")
        gc.collect()
    assert not [w for w in seen if issubclass(w.category, ResourceWarning)]
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        load_dataset(tmp_path / "missing.csv")
    (tmp_path / "f.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"f\.txt.*\.npz.*\.csv"):
        load_dataset(tmp_path / "f.txt")
    (tmp_path / "text.csv").write_text("a,b,y\n1,2,0\n3,oops,1\n")
    with pytest.raises(ValueError, match=r"text\.csv line 3, column 2: 'oops' is not a number"):
        load_dataset(tmp_path / "text.csv")
    (tmp_path / "ragged.csv").write_text("1,2,0\n3,1\n")
    with pytest.raises(ValueError, match=r"ragged\.csv line 2 has 2 columns, expected 3"):
        load_dataset(tmp_path / "ragged.csv")
    (tmp_path / "nan.csv").write_text("1,2,0\nnan,1,1\n")
    with pytest.raises(ValueError, match=r"nan\.csv: 1 rows have NaN"):
        load_dataset(tmp_path / "nan.csv")
    with pytest.raises(ValueError, match=r"no column named 'kind'"):
        load_dataset(tmp_path / "text.csv", label_column="kind")
    with pytest.raises(ValueError, match="for data files"):
        load_dataset("moons", test_path=tmp_path / "keys.npz")


def test_builtin_names_win_over_files_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "moons").write_text("not data")
    assert load_dataset("moons").task == "binary"
    _two_class_npz(tmp_path / "mine")                          # np.savez adds .npz
    assert load_dataset("mine.npz").num_classes == 2


def test_npz_that_is_not_a_zip_is_named_for_what_it_is(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello world\n")
    with pytest.raises(ValueError, match=r"is not an \.npz file .*starts with b'hello "):
        read_table(text)
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array.*np\.savez"):
        read_table(single)


# --- PyTorch's DataLoader arguments and batch types -----------------------------------------

def _pairs(n=5):
    return TensorDataset(np.arange(n * 2.0).reshape(n, 2), np.arange(n))


@pytest.mark.parametrize("make, exc, words", [
    (lambda: DataLoader(_pairs(), batch_size=2.5), ValueError, r"batch_size must be a whole"),
    (lambda: DataLoader(_pairs(), batch_size=True), ValueError, r"batch_size"),
    (lambda: DataLoader(_pairs(), num_workers=-1), ValueError, r"num_workers must be a whole"),
    (lambda: DataLoader(_pairs(), sampler=[0, 1], shuffle=True), ValueError,
     r"sampler and shuffle=True cannot be combined"),
    (lambda: DataLoader(_pairs(), batch_sampler=[[0, 1]], batch_size=4), ValueError,
     r"batch_sampler makes the batches itself"),
    (lambda: DataLoader(_pairs(), collate_fn=3), TypeError, r"collate_fn must be a function"),
    (lambda: DataLoader(42), TypeError, r"DataLoader: expected a Dataset"),
    (lambda: zeroin.utils.data.default_collate([np.zeros(2), np.zeros(3)]), ValueError,
     r"samples of different shapes \(2,\), \(3,\).*collate_fn"),
    (lambda: zeroin.utils.data.default_collate([object()]), TypeError, r"cannot batch samples"),
    (lambda: zeroin.utils.data.ConcatDataset([]), ValueError, r"should not be an empty"),
    (lambda: zeroin.utils.data.ConcatDataset([_pairs()])[9], IndexError, r"out of range for 5"),
])
def test_dataloader_argument_errors(make, exc, words):
    with pytest.raises(exc, match=words):
        make()


def test_dataloader_pytorch_arguments_work_in_process():
    ds = _pairs(7)
    loader = DataLoader(ds, batch_size=3, num_workers=4, pin_memory=True, drop_last=True,
                        persistent_workers=True, generator=1, shuffle=True)
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no "
                      "accelerator is found") as seen:
        batches = list(loader)          # PyTorch's warning: CPU only, nothing to pin
    assert seen[0].filename == __file__
    assert len(batches) == len(loader) == 2 and isinstance(batches[0], list)
    assert all(isinstance(t, zeroin.Tensor) and len(t) == 3 for b in batches for t in b)
    assert zeroin.utils.data.get_worker_info() is None
    assert len(DataLoader(ds)) == 7                               # PyTorch's batch_size=1
    single = list(DataLoader(ds, batch_size=None))
    assert len(single) == 7 and isinstance(single[0], tuple) and single[0][0].shape == (2,)
    order = [int(b[1].data[0]) for b in DataLoader(ds, sampler=[6, 0, 3])]
    assert order == [6, 0, 3]
    sizes = [len(b[1]) for b in DataLoader(ds, batch_sampler=[[0, 1], [2, 3, 4], [5]])]
    assert sizes == [2, 3, 1]
    custom = list(DataLoader(ds, batch_size=4, collate_fn=lambda s: len(s)))
    assert custom == [4, 3]


def test_dict_samples_and_plain_datasets_collate_like_pytorch():
    class D(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": np.full(2, float(i)), "y": i, "name": f"s{i}"}

    (batch,) = list(DataLoader(D(), batch_size=3))
    assert set(batch) == {"x", "y", "name"}
    assert batch["x"].shape == (3, 2) and batch["y"].dtype == np.int64
    assert batch["name"] == ["s0", "s1", "s2"]


# --- default_collate of mixed numbers; sequences of samples as datasets ------------------

def test_default_collate_of_mixed_numbers_looks_at_every_sample():
    collate = zeroin.utils.data.default_collate
    mixed = collate([1, 0.5])
    assert mixed.dtype == np.float64 and mixed.tolist() == [1.0, 0.5]
    assert collate([0.5, 1]).tolist() == [0.5, 1.0]
    assert collate([1, 2]).dtype == np.int64 and collate([True, False]).dtype == np.bool_
    assert collate([True, 2]).dtype == np.int64

    class Labels(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.full(2, float(i)), [1, 0.7, 2, 0.3][i]

    (xb, yb), = list(DataLoader(Labels(), batch_size=4))
    assert yb.tolist() == [1.0, 0.7, 2.0, 0.3]


def test_default_collate_refuses_numbers_mixed_with_text():
    class Labels(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.zeros(2), [1, "a"][i]

    with pytest.raises(TypeError, match=r"default_collate: sample 1 is str \('a'\).*sample 0 "
                                         r"is int.*collate_fn"):
        list(DataLoader(Labels(), batch_size=2))


def test_dataloader_over_a_list_of_samples_batches_samples_like_pytorch():
    arrays = [np.full(4, i) for i in range(3)]
    first, last = list(DataLoader(arrays, batch_size=2))
    assert isinstance(first, zeroin.Tensor) and first.shape == (2, 4) and last.shape == (1, 4)
    assert first.tolist() == [[0] * 4, [1] * 4]
    (xb, yb), _ = list(DataLoader([(x, 0) for x in arrays], batch_size=2))
    assert xb.shape == (2, 4) and yb.tolist() == [0, 0]
    assert list(DataLoader([1, 0.7, 2, 0.3], batch_size=4))[0].tolist() == [1, 0.7, 2, 0.3]


def test_dataloader_over_an_array_yields_tensors_of_rows():
    X = np.arange(8.0).reshape(4, 2)
    batches = list(DataLoader(X, batch_size=2))
    assert all(isinstance(b, zeroin.Tensor) for b in batches)
    assert batches[1].tolist() == [[4.0, 5.0], [6.0, 7.0]]
    assert list(DataLoader(zeroin.tensor(X), batch_size=3))[1].tolist() == [[6.0, 7.0]]
    assert list(DataLoader(X, batch_size=None))[0].tolist() == [0.0, 1.0]
    part, _ = random_split(X, [3, 1], seed=0)
    assert len(part) == 3 and next(iter(DataLoader(part, batch_size=3))).shape == (3, 2)


def test_dataloader_keeps_the_documented_x_y_tuple():
    X, y = np.zeros((5, 2)), np.arange(5)
    xb, yb = next(iter(DataLoader((X, y), batch_size=5)))
    assert xb.shape == (5, 2) and yb.tolist() == list(range(5))
    with pytest.raises(TypeError, match=r"DataLoader: .*sequence of samples.*IterableDataset"):
        DataLoader(iter([1, 2]))


def test_random_split_takes_a_tensor_or_array_of_lengths():
    # PyTorch's random_split takes a tensor of sizes (a helper that scales split sizes)
    ds = TensorDataset(np.arange(10.0))
    for lengths in (zeroin.tensor([7, 3]), np.array([7, 3]), zeroin.tensor([0.7, 0.3]),
                    [zeroin.tensor(7), np.int64(3)]):
        parts = random_split(ds, lengths, generator=zeroin.Generator().manual_seed(0))
        assert [len(p) for p in parts] == [7, 3]
    with pytest.raises(ValueError, match=r"lengths \[7, 4\] add up to 11, but the dataset "
                                         r"has 10 samples"):
        random_split(ds, zeroin.tensor([7, 4]))


def test_zeroin_generator_works_wherever_data_takes_a_generator():
    ds = TensorDataset(np.arange(20.0).reshape(10, 2), np.arange(10))

    def split(seed):
        parts = random_split(ds, [0.8, 0.2], generator=zeroin.Generator().manual_seed(seed))
        return [p.indices.tolist() for p in parts]
    assert split(42) == split(42) and split(42) != split(1)
    assert sorted(sum(split(42), [])) == list(range(10)) and len(split(42)[1]) == 2

    def order(**kw):
        loader = DataLoader(ds, batch_size=10, shuffle=True, **kw)
        return [b[1].tolist() for b in loader] + [b[1].tolist() for b in loader]
    assert order(generator=zeroin.Generator().manual_seed(0)) == \
        order(generator=zeroin.Generator().manual_seed(0))
    sampler = zeroin.utils.data.RandomSampler
    assert list(sampler(ds, generator=zeroin.Generator().manual_seed(5))) == \
        list(sampler(ds, generator=zeroin.Generator().manual_seed(5)))
    g = zeroin.Generator().manual_seed(0)
    loader = DataLoader(ds, batch_size=10, shuffle=True, generator=g)
    first = [b[1].tolist() for b in loader]
    g.manual_seed(0)                    # re-seeding the generator the loader holds restarts it
    assert [b[1].tolist() for b in loader] == first
    # PyTorch's shuffling sampler holds that Generator: a trainer's set_seed reseeds it as
    # loader.sampler.generator.manual_seed(s) (a NumPy Generator there had no manual_seed)
    assert loader.sampler.generator is g
    loader.sampler.generator.manual_seed(0)
    assert [b[1].tolist() for b in loader] == first


def test_utils_data_has_pytorchs_submodules_for_cs231n_imports():
    # CS231n's assignment 2: from torch.utils.data import sampler;
    # DataLoader(..., sampler=sampler.SubsetRandomSampler(range(NUM_TRAIN)))
    # and custom collate functions' from torch.utils.data.dataloader import default_collate
    from zeroin.utils.data import dataloader, dataset, distributed, sampler
    import zeroin.utils.data.sampler as imported
    from zeroin.utils.data.dataloader import default_collate
    torch = pytest.importorskip("torch")
    assert imported is sampler and default_collate is zeroin.utils.data.default_collate
    for mod, theirs in ((sampler, torch.utils.data.sampler),
                        (dataset, torch.utils.data.dataset),
                        (distributed, torch.utils.data.distributed),
                        (dataloader, torch.utils.data.dataloader)):
        # what torch's submodule exports and zeroin has is found in zeroin's submodule
        want = set(theirs.__all__) & set(zeroin.utils.data.__all__)
        assert want and want <= set(dir(mod)), want - set(dir(mod))
    assert sampler.SubsetRandomSampler is zeroin.utils.data.SubsetRandomSampler
    assert dataset.TensorDataset is zeroin.utils.data.TensorDataset
    ds = dataset.TensorDataset(zeroin.arange(10.0), zeroin.arange(10))
    loader = DataLoader(ds, batch_size=4, sampler=sampler.SubsetRandomSampler(range(6)))
    seen = sorted(int(i) for _, y in loader for i in y.tolist())
    assert seen == list(range(6)) and len(loader) == 2


def test_a_sampler_may_yield_any_key_as_pytorchs():
    # fast.ai 04: a BatchSampler given as sampler= yields lists, and dataset[list] is a batch,
    # which the loader then collates into batches of one: (1, 50, 784)
    torch = pytest.importorskip("torch")
    x = np.arange(40.0).reshape(10, 4)

    class Rows:
        def __init__(self, lib):
            self.x, self.y = lib.tensor(x), lib.arange(10)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], self.y[i]

    class Words:                             # string keys
        def __len__(self):
            return 2

        def __getitem__(self, k):
            return len(k)

    got = []
    for lib in (zeroin, torch):
        U = lib.utils.data
        samp = U.BatchSampler(U.SequentialSampler(range(10)), 4, drop_last=False)
        batches = list(U.DataLoader(Rows(lib), sampler=samp))
        assert len(batches) == 3
        assert [tuple(b[0].shape) for b in batches] == [(1, 4, 4), (1, 4, 4), (1, 2, 4)]
        assert batches[2][1].tolist() == [[8, 9]]
        both = list(U.DataLoader(Rows(lib), sampler=samp, collate_fn=lambda b: b[0][0]))
        assert both[1].tolist() == x[4:8].tolist()
        assert [b.tolist() for b in U.DataLoader(Words(), sampler=["ab", "abc"],
                                                  batch_size=2)] == [[2, 3]]
        got.append(batches[0][0].numpy())
    np.testing.assert_array_equal(got[0], got[1])


def test_default_collate_of_permuted_samples_is_contiguous_as_pytorch():
    """Samples made as (C, H, W) views of (H, W, C) arrays (``from_numpy(a).permute(2, 0,
    1)``) batch into a contiguous tensor, as torch's: the batch's ``view(n, -1)`` works."""
    hwc = np.arange(2 * 4 * 5 * 3, dtype=np.float64).reshape(2, 4, 5, 3)
    samples = [(zeroin.from_numpy(x).permute(2, 0, 1), 0) for x in hwc]
    for b in (samples, [(s.numpy(), 0) for s, _ in samples]):
        imgs, _ = next(iter(DataLoader(b, batch_size=2)))
        assert imgs.is_contiguous() and imgs.stride() == (60, 20, 5, 1)
        assert np.array_equal(imgs.view(2, -1).numpy(), hwc.transpose(0, 3, 1, 2).reshape(2, -1))
