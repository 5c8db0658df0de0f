"""zeroin.save / zeroin.load: round trips, no pickle, atomic writes, clear errors."""
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zeroin
from zeroin.checkpoint import CheckpointError


def _assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_roundtrip_nested_state(tmp_path):
    obj = {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "0.bias": np.zeros(2)},
        "optimizer": {"state": {0: {"exp_avg": np.ones(3), "step": 7}},
                      "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), "params": [0, 1]}]},
        "meta": {"hidden": [64, 32], "activation": "relu", "best": float("inf"),
                 "nan": float("nan"), "done": True, "note": None, "labels": np.array(["a", "b"])},
    }
    path = zeroin.save(obj, tmp_path / "ck.npz")
    _assert_same(zeroin.load(path), obj)


arrays = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
leaves = arrays | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=8) \
    | st.booleans() | st.none()
trees = st.recursive(leaves, lambda kids: st.lists(kids, max_size=3)
                     | st.dictionaries(st.text(min_size=1, max_size=6), kids, max_size=3),
                     max_leaves=10)


@given(tree=trees)
@settings(max_examples=50, deadline=None)
def test_roundtrip_property(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("ck") / "t.npz"
    zeroin.save({"x": tree}, path)
    _assert_same(zeroin.load(path), {"x": tree})


def test_keys_that_collide_or_cannot_be_zip_names(tmp_path):
    obj = {"a/b": np.array([1]), "a": {"b": np.array([2])}, "\x00": np.array([3]),
           "a/b#1": np.array([4]), "__zeroin_structure__": np.array([5])}
    path = zeroin.save(obj, tmp_path / "k.npz")
    _assert_same(zeroin.load(path), obj)


def test_file_is_plain_npz_without_pickle(tmp_path):
    path = zeroin.save({"model": {"w": np.ones(3)}}, tmp_path / "ck.npz")
    with np.load(path, allow_pickle=False) as npz:
        assert "model/w" in npz.files
        assert all(npz[k].dtype != object for k in npz.files)


def test_refuses_objects_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(CheckpointError, match=r"meta/fn.*function"):
        zeroin.save({"meta": {"fn": print}}, tmp_path / "x.npz")
    with pytest.raises(CheckpointError, match="dtype object"):
        zeroin.save({"a": np.array([{}, 1], dtype=object)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []              # no partial or temporary file left


def test_truncated_and_corrupted_files_name_the_file(tmp_path):
    path = zeroin.save({"w": np.random.default_rng(0).normal(size=(50, 50))},
                       tmp_path / "model.npz")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"model\.npz.*truncated or corrupted"):
        zeroin.load(path)
    # flip bytes inside the stored array: the zip CRC check catches it
    bad = bytearray(raw)
    bad[len(raw) // 2: len(raw) // 2 + 8] = b"\xff" * 8
    path.write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match=r"model\.npz"):
        zeroin.load(path)
    path.write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match=r"model\.npz"):
        zeroin.load(path)
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        zeroin.load(tmp_path / "nothing.npz")


def test_files_that_are_not_npz_get_a_fix_not_an_offer_to_unpickle(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes\.npz is not an \.npz checkpoint.*zip "
                       r"archive.*b'hello'.*zeroin\.save") as e:
        zeroin.load(text)
    assert "pickle" not in str(e.value)
    npy = tmp_path / "weights.npy"
    np.save(npy, np.arange(3.0))
    with pytest.raises(CheckpointError, match=r"weights\.npy is a single-array \.npy file.*"
                       r"numpy\.load"):
        zeroin.load(npy)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"empty\.npz.*truncated"):
        zeroin.load(empty)
    # the one-array case loads once it is an .npz
    np.savez(tmp_path / "weights.npz", w=np.arange(3.0))
    np.testing.assert_array_equal(zeroin.load(tmp_path / "weights.npz")["w"], [0.0, 1.0, 2.0])


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    zeroin.save({"w": np.ones(2)}, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        zeroin.save({"w": np.zeros(2)}, path)
    assert path.read_bytes() == before             # the old checkpoint is intact
    assert os.listdir(tmp_path) == ["ck.npz"]      # and no temporary file is left


def test_plain_npz_loads_as_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3))
    out = zeroin.load(tmp_path / "plain.npz")
    np.testing.assert_array_equal(out["a"], np.arange(3))


def test_structure_record_refers_to_arrays(tmp_path):
    # a zip whose structure points at a missing array is reported, not half-loaded
    path = zeroin.save({"w": np.ones(2)}, tmp_path / "ck.npz")
    with zipfile.ZipFile(path) as z:
        structure = z.read("__zeroin_structure__.npy")
    with zipfile.ZipFile(tmp_path / "broken.npz", "w") as z:
        z.writestr("__zeroin_structure__.npy", structure)
    with pytest.raises(CheckpointError, match=r"broken\.npz.*lacks the array 'w'"):
        zeroin.load(tmp_path / "broken.npz")


# --- with real models and optimizers ---------------------------------------------------------

def _mlp(hidden=8):
    from zeroin import nn
    return nn.Sequential(nn.Linear(3, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def _train_steps(model, opt, steps, seed=0):
    from zeroin import nn
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.MSELoss()(model(zeroin.tensor(X)), zeroin.tensor(y))
        loss.backward()
        opt.step()
    return loss.item()


def test_resume_from_checkpoint_continues_exactly(tmp_path):
    from zeroin import optim
    zeroin.manual_seed(0)
    a = _mlp()
    opt_a = optim.Adam(a.parameters(), lr=0.01)
    _train_steps(a, opt_a, 5)
    zeroin.save({"model": a.state_dict(), "optimizer": opt_a.state_dict()}, tmp_path / "r.npz")
    ck = zeroin.load(tmp_path / "r.npz")
    b = _mlp()
    opt_b = optim.Adam(b.parameters(), lr=0.5)
    b.load_state_dict(ck["model"])
    opt_b.load_state_dict(ck["optimizer"])
    assert opt_b.param_groups[0]["lr"] == 0.01
    assert _train_steps(a, opt_a, 3, seed=1) == _train_steps(b, opt_b, 3, seed=1)
    for (_, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_state_dict_that_does_not_fit_names_the_parameter(tmp_path):
    zeroin.save({"model": _mlp(8).state_dict()}, tmp_path / "m.npz")
    state = zeroin.load(tmp_path / "m.npz")["model"]
    with pytest.raises(ValueError, match=r"'0\.weight'.*\(8, 3\).*\(4, 3\)"):
        _mlp(4).load_state_dict(state)
