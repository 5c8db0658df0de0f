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
    path = tmp_path / "ck.npz"
    assert zeroin.save(obj, path) is None      # as PyTorch's
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
    path = tmp_path / "k.npz"
    assert zeroin.save(obj, path) is None      # as PyTorch's
    _assert_same(zeroin.load(path), obj)


def test_file_is_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "ck.npz"
    assert zeroin.save({"model": {"w": np.ones(3)}}, path) is None      # as PyTorch's
    with np.load(path, allow_pickle=False) as npz:
        assert "model/w" in npz.files
        assert all(npz[k].dtype != object for k in npz.files)


def test_refuses_objects_it_cannot_store_without_pickle(tmp_path):
    with pytest.raises(CheckpointError, match=r"meta/fn.*function"):
        zeroin.save({"meta": {"fn": print}}, tmp_path / "x.npz")
    with pytest.raises(CheckpointError, match="dtype object"):
        zeroin.save({"a": np.array([{}, 1], dtype=object)}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []              # no partial or temporary file left


def test_a_dataclass_config_is_refused_with_the_asdict_fix(tmp_path):
    # build-nanogpt's checkpoint: {'model': ..., 'config': raw_model.config (a dataclass)}
    import dataclasses

    @dataclasses.dataclass
    class GPTConfig:
        n_layer: int = 2
    with pytest.raises(CheckpointError, match=r"config of type GPTConfig.*dataclasses\.asdict"
                                              r"\(config\) and rebuild it with GPTConfig\(\*\*d\)"):
        zeroin.save({"config": GPTConfig()}, tmp_path / "x.npz")
    zeroin.save({"config": dataclasses.asdict(GPTConfig())}, tmp_path / "x.npz")
    assert GPTConfig(**zeroin.load(tmp_path / "x.npz")["config"]) == GPTConfig()


def test_truncated_and_corrupted_files_name_the_file(tmp_path):
    path = tmp_path / "model.npz"
    zeroin.save({"w": np.random.default_rng(0).normal(size=(50, 50))}, path)
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
    path = tmp_path / "ck.npz"
    assert zeroin.save({"w": np.ones(2)}, path) is None      # as PyTorch's
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


# --- PyTorch's save/load arguments, tensors, file objects ----------------------------------

def test_pytorch_arguments_and_tensor_state_dicts_round_trip(tmp_path):
    import io
    import pickle

    from zeroin import optim
    zeroin.manual_seed(0)
    model = _mlp(4)
    opt = optim.Adam(model.parameters(), lr=0.01)
    _train_steps(model, opt, 2)
    state = {k: zeroin.tensor(np.asarray(v)) for k, v in model.state_dict().items()}
    obj = {"model": state, "optimizer": opt.state_dict(), "epoch": 3}
    path = tmp_path / "ck.pt"
    zeroin.save(obj, path, pickle_module=pickle, pickle_protocol=2,
                _use_new_zipfile_serialization=True)
    options = [{}, {"map_location": "cpu"}, {"weights_only": True}, {"weights_only": False},
               {"map_location": lambda storage, loc: storage}, {"mmap": False},
               {"map_location": {"cpu": "cpu"}}]
    if hasattr(zeroin, "device"):
        options.append({"map_location": zeroin.device("cpu")})
    for kwargs in options:
        back = zeroin.load(path, **kwargs)
        assert isinstance(back["model"]["0.weight"], zeroin.Tensor)
        np.testing.assert_array_equal(back["model"]["0.weight"].data, state["0.weight"].data)
        assert back["epoch"] == 3
    back = zeroin.load(path)
    fresh = _mlp(4)
    fresh.load_state_dict({k: v.data for k, v in back["model"].items()})
    opt2 = optim.Adam(fresh.parameters(), lr=0.5)
    opt2.load_state_dict(back["optimizer"])
    assert _train_steps(model, opt, 2, seed=1) == _train_steps(fresh, opt2, 2, seed=1)
    buf = io.BytesIO()                                   # file objects, as torch.save takes
    zeroin.save(obj, buf)
    buf.seek(0)
    np.testing.assert_array_equal(zeroin.load(buf)["model"]["2.bias"].data,
                                  state["2.bias"].data)
    with pytest.raises(ValueError, match=r"map_location='cuda'.*CPU.*map_location='cpu'"):
        zeroin.load(path, map_location="cuda")


def test_saving_a_module_keeps_its_clear_error(tmp_path):
    from zeroin import nn
    with pytest.raises(CheckpointError, match=r"type Linear.*model\.state_dict\(\)"):
        zeroin.save(nn.Linear(2, 2), tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


# --- messages ------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"P", b"PK", b"PK\x03"])
def test_tiny_files_get_no_unsafe_advice(tmp_path, content):
    path = tmp_path / "tiny.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"tiny\.npz is {len(content)} byte\(s\) long.*"
                                              r"truncated") as e:
        zeroin.load(path)
    assert "pickle" not in str(e.value)


def test_object_arrays_are_named_not_called_corrupted(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, ok=np.ones(2), things=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(CheckpointError, match=r"objects\.npz holds 'things', an array of "
                                              r"Python objects.*never unpickles") as e:
        zeroin.load(path)
    assert "corrupted" not in str(e.value)


def _deny_writes(monkeypatch, tmp_path):
    """A folder this process cannot write to (root ignores chmod, so simulate it there)."""
    folder = tmp_path / "locked"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
    else:
        import tempfile

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied",
                                  str(folder / ".x.npz.zeroin-1-abc.tmp"))
        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    return folder


def test_unwritable_folder_names_the_checkpoint_and_save(tmp_path, monkeypatch):
    folder = _deny_writes(monkeypatch, tmp_path)
    try:
        with pytest.raises(PermissionError, match=r"^save: cannot write .*locked/x\.npz: "
                                                  r"Permission denied; choose a folder") as e:
            zeroin.save({"w": np.ones(2)}, folder / "x.npz")
        assert ".tmp" not in str(e.value)
    finally:
        folder.chmod(0o700)


def test_saving_onto_a_folder_says_so(tmp_path):
    (tmp_path / "model.npz").mkdir()
    with pytest.raises(IsADirectoryError, match=r"save: cannot write .*model\.npz: it is a "
                                                r"folder"):
        zeroin.save({"w": np.ones(2)}, tmp_path / "model.npz")
    with pytest.raises(FileNotFoundError, match="it is a folder"):
        zeroin.load(tmp_path / "model.npz")


# --- interrupted saves ---------------------------------------------------------------------

def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_stale_temporaries_are_removed_by_the_next_save_and_load(tmp_path):
    path = tmp_path / "model.npz"
    zeroin.save({"w": np.ones(3)}, path)
    dead = tmp_path / ".model.npz.zeroin-999999999-abcd.tmp"   # no such pid
    mine_old = tmp_path / f".model.npz.zeroin-{os.getpid()}-efgh.tmp"
    alive_old = tmp_path / f".model.npz.zeroin-{os.getppid()}-ijkl.tmp"
    alive_new = tmp_path / f".model.npz.zeroin-{os.getppid()}-mnop.tmp"
    foreign = tmp_path / ".model.npz.1234.tmp"                # not named by zeroin: kept
    other = tmp_path / ".other.npz.zeroin-999999999-qrst.tmp"  # another file's: kept
    for p in (dead, mine_old, alive_old, alive_new, foreign, other):
        p.write_bytes(b"x" * 100)
    os.utime(alive_old, (1, 1))                                 # from 1970: stale
    zeroin.load(path)
    assert _temporaries(tmp_path) == sorted([alive_new.name, foreign.name, other.name])
    dead.write_bytes(b"x")
    zeroin.save({"w": np.zeros(3)}, path)
    assert _temporaries(tmp_path) == sorted([alive_new.name, foreign.name, other.name])


_WRITER = r"""
import sys, numpy as np, zeroin
zeroin.save({"w": np.full(int(sys.argv[2]), float(sys.argv[3]))}, sys.argv[1])
"""


def test_save_killed_mid_write_keeps_the_old_checkpoint_and_no_temporaries_pile_up(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    path = tmp_path / "big.npz"
    n = 6_000_000                                               # 48 MB of float64
    zeroin.save({"w": np.full(n, 1.0)}, path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [os.path.dirname(os.path.dirname(zeroin.__file__))]
        + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    killed_mid_write = 0
    for i in range(10):
        proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(n),
                                 str(i + 2.0)], env=env)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            temps = [p for p in tmp_path.iterdir()
                     if p.name.startswith(f".big.npz.zeroin-{proc.pid}-")]
            if temps and temps[0].stat().st_size > 1_000_000:    # half written
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_mid_write += 1
        proc.wait()
        # at most the one temporary of the writer just killed: each save cleaned up the
        # ones before it; and the checkpoint is whole (read without zeroin.load, which
        # would clean up too)
        assert len(_temporaries(tmp_path)) <= 1
        with np.load(path, allow_pickle=False) as npz:
            w = npz["w"]
        assert w.shape == (n,) and w[0] == w[-1]
    print(f"killed mid-write: {killed_mid_write} of 10")
    assert killed_mid_write >= 8
    data = zeroin.load(path)["w"]                       # the load also cleans up
    assert data.shape == (n,) and data[0] == data[-1]
    assert _temporaries(tmp_path) == []
    zeroin.save({"w": np.zeros(2)}, path)
    assert _temporaries(tmp_path) == []


# --- PyTorch's own checkpoints: named, never unpickled, with the conversion to run ------------

def _refused_as_pytorch(path):
    with pytest.raises(CheckpointError, match=rf"(?s)load: .*{path.name} is a PyTorch \(pickle\) "
                                              r"checkpoint.*never unpickles.*np\.savez") as e:
        zeroin.load(path)
    with open(path, "rb") as f, pytest.raises(CheckpointError, match=r"PyTorch \(pickle\)"):
        zeroin.load(f)
    return str(e.value)


def test_a_pytorch_zip_checkpoint_is_named_without_unpickling(tmp_path, monkeypatch):
    import pickle
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as z:           # the layout of torch.save since 1.6
        z.writestr("model/data.pkl", b"\x80\x02cos\nsystem\nq\x00.")   # would run code
        z.writestr("model/data/0", b"\x00" * 8)
    monkeypatch.setattr(pickle, "loads", None)       # never called
    monkeypatch.setattr(pickle, "load", None)
    _refused_as_pytorch(path)
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")    # torch's old format
    _refused_as_pytorch(legacy)


def test_the_suggested_conversion_of_a_real_pytorch_checkpoint_loads(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    monkeypatch.chdir(tmp_path)
    torch.save(tm.state_dict(), "model.pt")
    message = _refused_as_pytorch(tmp_path / "model.pt")
    line = next(s for s in message.split("\n") if "np.savez" in s).strip()
    exec(line, {"np": np, "torch": torch})           # the line the message asks you to run
    zm = zeroin.nn.Sequential(zeroin.nn.Linear(3, 4), zeroin.nn.ReLU(), zeroin.nn.Linear(4, 2))
    zm.load_state_dict(zeroin.load("model.npz"))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    want = tm(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(zm.float()(zeroin.tensor(x)).data, want, rtol=1e-6, atol=1e-6)
    torch.save(tm.state_dict(), "old.pt", _use_new_zipfile_serialization=False)
    _refused_as_pytorch(tmp_path / "old.pt")


def test_save_into_a_missing_folder_is_refused_as_in_torch(tmp_path):
    # PyTorch: "Parent directory ... does not exist"; zeroin created the folder. The error
    # names the folder and the fix; nothing is written
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="does not exist"):
        torch.save({"w": torch.ones(2)}, tmp_path / "no" / "such" / "m.pt")
    target = tmp_path / "no" / "such" / "m.npz"
    with pytest.raises(RuntimeError, match=r"save: cannot write .*m\.npz: its folder .*such "
                                           r"does not exist .*os\.makedirs\(.*such', "
                                           r"exist_ok=True\)"):
        zeroin.save({"w": np.ones(2)}, target)
    assert not (tmp_path / "no").exists()
    os.makedirs(target.parent)
    zeroin.save({"w": np.ones(2)}, target)
    assert zeroin.load(target)["w"].tolist() == [1.0, 1.0]


def test_model_checkpoint_creates_its_folder(tmp_path):
    # ModelCheckpoint (zeroin's own, not PyTorch's) still makes the folder it writes into
    from zeroin.train import ModelCheckpoint, fit
    x = np.random.default_rng(0).standard_normal((16, 3))
    model = zeroin.nn.Linear(3, 1)
    path = tmp_path / "runs" / "a" / "best.npz"
    fit(model, zeroin.nn.MSELoss(), zeroin.optim.SGD(model.parameters(), lr=0.01),
        (x, x[:, :1]), epochs=1, verbose=False, callbacks=[ModelCheckpoint(path, monitor="loss")])
    assert set(zeroin.load(path)) >= {"model", "epoch"}


def test_state_dict_metadata_survives_save_and_load_as_in_torch(tmp_path):
    """load gives back an OrderedDict with ``_metadata`` (the per-module versions that
    _load_from_state_dict reads), the same as torch.load of torch.save's file."""
    torch = pytest.importorskip("torch")
    seen = []

    class BN(zeroin.nn.BatchNorm1d):
        def _load_from_state_dict(self, sd, prefix, meta, *rest):
            seen.append(meta)
            super()._load_from_state_dict(sd, prefix, meta, *rest)

    m = zeroin.nn.Sequential(zeroin.nn.Linear(2, 3), BN(3))
    tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    zeroin.save({"model": m.state_dict(), "epoch": 3}, tmp_path / "z.pt")
    torch.save({"model": tm.state_dict(), "epoch": 3}, tmp_path / "t.pt")
    z, t = zeroin.load(tmp_path / "z.pt"), torch.load(tmp_path / "t.pt")
    assert type(z["model"]) is type(t["model"])
    assert z["model"]._metadata == t["model"]._metadata
    assert list(z["model"]) == list(t["model"])
    assert type(z) is dict and not hasattr(z, "_metadata") and z["epoch"] == 3
    m.load_state_dict(z["model"])
    assert seen == [{"version": 2}]


def test_a_whole_model_is_refused_with_the_state_dict_fix(tmp_path):
    # Raschka's ch12: torch.save(model, path) then torch.load(path); zeroin writes no pickle
    model = zeroin.nn.Sequential(zeroin.nn.Linear(4, 3))
    opt = zeroin.optim.Adam(model.parameters())
    for obj, name in ((model, "Sequential"), ({"opt": opt}, "Adam")):
        with pytest.raises(CheckpointError, match=rf"type {name}, .*no pickle.*zeroin\.save\("
                                                  rf"model\.state_dict\(\), path\).*{name}\(\.\.\.\)"
                                                  r"; model\.load_state_dict\(zeroin\.load\(path\)\)"):
            zeroin.save(obj, tmp_path / "m.pt")
    assert os.listdir(tmp_path) == []
    zeroin.save(model.state_dict(), tmp_path / "m.pt")            # the fix it names works
    fresh = zeroin.nn.Sequential(zeroin.nn.Linear(4, 3))
    fresh.load_state_dict(zeroin.load(tmp_path / "m.pt"))
    assert np.array_equal(fresh[0].weight.data, model[0].weight.data)


def test_an_argparse_namespace_round_trips_as_a_namespace(tmp_path):
    """MAE's and DeiT's save_model: {'model': ..., 'epoch': e, 'args': args}; the arguments
    come back as a Namespace (as PyTorch's load with weights_only=False), values and nesting
    kept, stored without pickle; a Namespace's subclass (its class is code) is refused."""
    import argparse
    args = argparse.Namespace(lr=1e-3, epochs=3, model="vit_tiny", input_size=(16, 16),
                              resume="", dist_eval=False, min_lr=None, norm=np.float64(0.5),
                              mean=np.array([0.5, 0.4]), sub=argparse.Namespace(k=[1, 2]))
    path = tmp_path / "checkpoint-2.pth"
    zeroin.save({"model": {"w": zeroin.ones(2)}, "epoch": 2, "args": args}, path)
    back = zeroin.load(path, map_location="cpu", weights_only=False)["args"]
    assert type(back) is argparse.Namespace and type(back.sub) is argparse.Namespace
    assert vars(back).keys() == vars(args).keys()
    assert (back.lr, back.epochs, back.model, back.input_size, back.resume, back.dist_eval,
            back.min_lr, back.sub.k) == (1e-3, 3, "vit_tiny", (16, 16), "", False, None, [1, 2])
    assert float(back.norm) == 0.5
    np.testing.assert_array_equal(back.mean, [0.5, 0.4])
    with np.load(path, allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)

    class Args(argparse.Namespace):
        pass
    with pytest.raises(CheckpointError, match="args of type Args"):
        zeroin.save({"args": Args(lr=1.0)}, tmp_path / "x.npz")
