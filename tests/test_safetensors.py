"""zeroin.safetensors: the format's bytes, every dtype bit-exact, clear errors on bad files,
lazy access, models (tied weights), and the safetensors package and PyTorch as oracles
(skipped where they are not installed)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import zeroin
import zeroin.safetensors as zs
from zeroin import nn
from zeroin.checkpoint import CheckpointError
from zeroin.safetensors import SafetensorError

RNG = np.random.default_rng(7)
DTYPES = ["float64", "float32", "float16", "complex64", "int64", "int32", "int16", "int8",
          "uint64", "uint32", "uint16", "uint8", "bool"]


def _random(dtype, shape=(3, 4)):
    """Values of ``dtype`` covering its range: NaN/inf for floats, extremes for integers."""
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return RNG.integers(0, 2, shape).astype(bool)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        arr = RNG.integers(info.min, info.max, shape, dtype=dt, endpoint=True)
        arr.flat[:2] = info.min, info.max
        return arr
    arr = (RNG.standard_normal(shape) * 1e3).astype(dt)
    if dt.kind == "c":
        arr += 1j * RNG.standard_normal(shape).astype(dt)
    arr.flat[:3] = np.nan, np.inf, -0.0
    return arr


def _bits(arr):
    """The bytes of ``arr``: NaN payloads and -0.0 compare as they are."""
    return np.ascontiguousarray(arr).tobytes()


def _file(header, data=b"", pad=True):
    """A .safetensors file's bytes from a header dict and raw data (for damaged files)."""
    text = json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- the format -----------------------------------------------------------------------------

def test_bytes_follow_the_format_exactly():
    data = zs.save({"b": np.array([1, 2], np.int16), "a": np.array([1.5], np.float32)},
                   metadata={"format": "pt"})
    n = int.from_bytes(data[:8], "little")
    assert n % 8 == 0 and len(data) == 8 + n + 4 + 4
    header = data[8:8 + n]
    assert header.rstrip(b" ") == (b'{"__metadata__":{"format":"pt"},'
                                   b'"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                   b'"b":{"dtype":"I16","shape":[2],"data_offsets":[4,8]}}')
    assert data[8 + n:] == np.float32(1.5).tobytes() + b"\x01\x00\x02\x00"   # little-endian


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_dtype_round_trips_bit_exact(dtype, tmp_path):
    arrays = {"x": _random(dtype), "scalar": _random(dtype, ()), "empty": _random(dtype, (0, 3)),
              "strided": _random(dtype, (4, 6))[::2, 1::3]}
    zs.save_file(arrays, tmp_path / "m.safetensors")
    for back in (zs.load_file(tmp_path / "m.safetensors"), zs.load(zs.save(arrays))):
        assert set(back) == set(arrays)
        for k, a in arrays.items():
            t = back[k]
            assert isinstance(t, zeroin.Tensor) and t.dtype == a.dtype and t.shape == a.shape
            assert _bits(t.data) == _bits(a), k


def test_big_endian_and_tensor_inputs_are_stored_little_endian():
    a = np.arange(3, dtype=">i4")
    back = zs.load(zs.save({"be": a, "t": zeroin.tensor([1.0, 2.0], requires_grad=True)}))
    assert back["be"].dtype == np.int32 and back["be"].tolist() == [0, 1, 2]
    assert back["t"].tolist() == [1.0, 2.0] and not back["t"].requires_grad


def test_loaded_tensors_are_writable_views_on_one_read(tmp_path):
    zs.save_file({"a": np.zeros(4), "b": np.ones(4)}, tmp_path / "m.safetensors")
    back = zs.load_file(tmp_path / "m.safetensors")
    a, b = back["a"].data, back["b"].data
    root = (lambda arr: arr if arr.base is None else root(arr.base))
    assert a.flags.writeable and root(a) is root(b) and root(a).nbytes == 64    # one buffer
    a += 5
    assert b.tolist() == [1.0] * 4 and zs.load_file(tmp_path / "m.safetensors")["a"][0] == 0


def test_bf16_loads_as_exact_float32():
    values = np.array([1.0, -2.5, 3.140625, np.inf, -0.0, 2.0 ** 120], np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")     # these are bf16-exact
    data = _file({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}},
                 bits.tobytes())
    w = zs.load(data)["w"]
    assert w.dtype == np.float32 and _bits(w.data) == _bits(values.reshape(2, 3))


def test_save_refuses_what_the_format_cannot_hold():
    with pytest.raises(SafetensorError, match=r"save: 'z' has dtype complex128.*convert"):
        zs.save({"z": np.zeros(2, complex)})
    with pytest.raises(SafetensorError, match=r"'s' has dtype <U1"):
        zs.save({"s": np.array(["a"])})
    with pytest.raises(TypeError, match=r"save_file: 'l' is a list, not a tensor"):
        zs.save_file({"l": [1.0]}, "never.safetensors")
    with pytest.raises(TypeError, match=r"expected a dict .*state_dict"):
        zs.save(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"metadata must map strings to strings; 'n': 3"):
        zs.save({"x": np.zeros(1)}, metadata={"n": 3})
    with pytest.raises(SafetensorError, match=r"'__metadata__' is reserved"):
        zs.save({"__metadata__": np.zeros(1)})
    with pytest.raises(TypeError, match="names must be strings"):
        zs.save({1: np.zeros(1)})
    with pytest.raises(TypeError, match=r"bfloat16 is not supported"):
        zeroin.zeros(2, dtype=zeroin.bfloat16)           # so no bfloat16 tensor reaches save


def test_shared_memory_is_refused_naming_both_and_the_fix():
    x = np.arange(10.0)
    with pytest.raises(SafetensorError, match=r"'a' and 'b' share memory.*save_model"):
        zs.save({"a": x, "b": x[2:5]})
    back = zs.load(zs.save({"a": x[:5], "b": x[5:], "even": x[::2].copy()}))   # no overlap
    assert back["b"].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0]
    y = np.arange(12.0).reshape(3, 4)
    back = zs.load(zs.save({"c0": y[:, 0], "c1": y[:, 1]}))       # interleaved, disjoint
    assert back["c1"].tolist() == [1.0, 5.0, 9.0]


def test_a_failed_save_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "m.safetensors"
    zs.save_file({"x": np.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(SafetensorError):
        zs.save_file({"x": np.ones(2), "z": np.zeros(1, complex)}, path)
    assert path.read_bytes() == before and _temporaries(tmp_path) == []


# --- damaged files --------------------------------------------------------------------------

F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
DAMAGED = [
    (b"", r"0 byte\(s\) long, too short.*truncated"),
    ((2 ** 40).to_bytes(8, "little") + b"{}", r"header, over the 100000000-byte limit"),
    ((64).to_bytes(8, "little") + b"{}", r"declares a 64-byte header but holds only 2.*truncated"),
    ((2).to_bytes(8, "little") + b"[]", r"does not start with '\{'"),
    ((4).to_bytes(8, "little") + b"{x:}", r"header is not JSON"),
    (_file({"w": F32}, b"\0" * 4), r"'w' ends at byte 8 of the data but the file holds only 4"),
    (_file({"w": F32, "v": {**F32, "data_offsets": [4, 12]}}, b"\0" * 12),
     r"'v' \(bytes 4..12\) overlaps 'w'"),
    (_file({"w": {**F32, "data_offsets": [4, 12]}}, b"\0" * 12), r"bytes 0..4 .* no tensor"),
    (_file({"w": F32}, b"\0" * 12), r"last 4 bytes belong to no tensor"),
    (_file({"w": {**F32, "dtype": "F8_E4M3"}}, b"\0" * 8), r"'w' has dtype 'F8_E4M3'.*\.float\(\)"),
    (_file({"w": {**F32, "shape": [3]}}, b"\0" * 8), r"'w' \(F32, shape \(3,\)\) needs 12 bytes"),
    (_file({"w": {**F32, "shape": [-2]}}, b"\0" * 8), r"shape \[-2\]"),
    (_file({"w": {"dtype": "F32"}}), r"entry for 'w'.*needs 'dtype', 'shape'"),
    (_file({"__metadata__": {"n": 1}}), r"'__metadata__' must map strings to strings"),
    (b"\x10\0\0\0\0\0\0\0" + b'{"w":1,"w":2}   ', r"names 'w' twice"),
]


@pytest.mark.parametrize("data, message", DAMAGED, ids=range(len(DAMAGED)))
def test_damaged_files_are_refused_naming_the_file_and_the_problem(data, message, tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    with pytest.raises(SafetensorError, match=rf"(?s)load_file: .*bad\.safetensors.*{message}"):
        zs.load_file(path)
    with pytest.raises(SafetensorError, match=rf"(?s)safe_open: .*bad\.safetensors.*{message}"):
        zs.safe_open(path, framework="np")
    with pytest.raises(SafetensorError, match=rf"(?s)load: <bytes>.*{message}"):
        zs.load(data)


def test_missing_file_folder_and_device(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"load_file: no safetensors file at .*nope"):
        zs.load_file(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match=r"it is a folder"):
        zs.safe_open(tmp_path, framework="pt")
    zs.save_file({"x": np.ones(1)}, tmp_path / "m.safetensors")
    with pytest.raises(RuntimeError, match=r"load_file: zeroin runs on the CPU"):
        zs.load_file(tmp_path / "m.safetensors", device="cuda")
    assert zs.load_file(tmp_path / "m.safetensors", device="cpu")["x"].tolist() == [1.0]


# --- safe_open ------------------------------------------------------------------------------

def test_safe_open_reads_lazily_by_name_and_slice(tmp_path):
    w = RNG.standard_normal((5, 4)).astype(np.float32)
    path = tmp_path / "m.safetensors"
    zs.save_file({"w": w, "b": np.arange(3)}, path, metadata={"epoch": "3"})
    with zs.safe_open(path, framework="pt") as f:
        assert f.keys() == ["b", "w"] and f.offset_keys() == ["b", "w"]   # I64 before F32
        assert f.metadata() == {"epoch": "3"}
        t = f.get_tensor("w")
        s = f.get_slice("w")
        assert s.get_shape() == [5, 4] and s.get_dtype() == "F32"
        part = s[1:3, ::2]
        with pytest.raises(KeyError, match=r"get_tensor: .* has no tensor 'v'; it has 2: b, w"):
            f.get_tensor("v")
    assert isinstance(t, zeroin.Tensor) and np.array_equal(t.data, w)
    assert np.array_equal(part.data, w[1:3, ::2]) and part.data.flags.writeable
    with pytest.raises(SafetensorError, match=r"get_tensor: .* is closed"):
        f.get_tensor("w")
    with zs.safe_open(path, framework="np") as f:
        arr = f.get_tensor("b")
        assert type(arr) is np.ndarray and arr.tolist() == [0, 1, 2]
    zs.save_file({"x": np.ones(1)}, path)
    with zs.safe_open(path, framework="numpy") as f:
        assert f.metadata() is None
    with pytest.raises(ValueError, match=r"framework='tf' is not available"):
        zs.safe_open(path, framework="tf")


def test_safe_open_slices_bf16(tmp_path):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    path = tmp_path / "bf.safetensors"
    path.write_bytes(_file({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}},
                           bits.tobytes()))
    with zs.safe_open(path, framework="np") as f:
        assert f.get_slice("w").get_dtype() == "BF16"
        assert f.get_slice("w")[:, 1].tolist() == [1.0, 4.0]
        assert np.array_equal(f.get_tensor("w"), values)


# --- models ---------------------------------------------------------------------------------

def _mlp():
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))


def test_a_models_state_dict_round_trips_with_the_same_outputs(tmp_path):
    zeroin.manual_seed(0)
    model, fresh = _mlp(), _mlp()
    model(zeroin.randn(8, 3))                          # moves BatchNorm's running stats
    model.eval(), fresh.eval()
    zs.save_file(model.state_dict(), tmp_path / "m.safetensors")
    assert fresh.load_state_dict(zs.load_file(tmp_path / "m.safetensors")) == ([], [])
    x = zeroin.randn(5, 3)
    assert np.array_equal(fresh(x).data, model(x).data)
    assert fresh[1].num_batches_tracked.dtype == np.int64


def _tied():
    m = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    m[2].weight = m[0].weight
    return m


def test_tied_weights_save_model_stores_once_and_load_model_restores(tmp_path):
    zeroin.manual_seed(1)
    model = _tied()
    path = tmp_path / "tied.safetensors"
    copies = {k: v.clone() for k, v in model.state_dict().items()}
    zs.save_file(copies, path)                        # copies: stored under both names
    assert set(zs.load_file(path)) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    for sd in (model.state_dict(), model.state_dict(keep_vars=True)):   # safetensors.torch's
        with pytest.raises(SafetensorError, match=r"'0.weight' and '2.weight' share memory"):
            zs.save_file(sd, path)
    zs.save_model(model, path, metadata={"note": "tied"})
    with zs.safe_open(path, framework="np") as f:
        assert f.keys() == ["0.bias", "0.weight", "2.bias"]
        assert f.metadata() == {"note": "tied", "2.weight": "0.weight"}
    with pytest.raises(zeroin.nn.StateDictError, match=r"missing key\(s\) '2.weight'"):
        _tied().load_state_dict(zs.load_file(path))
    fresh = _tied()
    assert zs.load_model(fresh, path) == ([], [])
    assert fresh[2].weight is fresh[0].weight
    x = zeroin.randn(4, 3)
    assert np.array_equal(fresh(x).data, model(x).data)
    untied = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    with pytest.raises(zeroin.nn.StateDictError, match=r"missing key\(s\) '2.weight'"):
        zs.load_model(untied, path)
    assert zs.load_model(untied, path, strict=False).missing_keys == ["2.weight"]


# --- zeroin.save / zeroin.load point here ----------------------------------------------------

def test_checkpoint_functions_point_to_this_module(tmp_path):
    path = tmp_path / "model.safetensors"
    with pytest.raises(CheckpointError, match=r"save: .*model\.safetensors names a safetensors "
                                              r"file.*zeroin\.safetensors\.save_file"):
        zeroin.save({"w": np.ones(2)}, path)
    assert not path.exists()
    zs.save_file({"w": np.ones(2)}, path)
    renamed = tmp_path / "weights.bin"
    renamed.write_bytes(path.read_bytes())
    for p in (path, renamed):
        with pytest.raises(CheckpointError, match=r"load: .* is a safetensors file.*"
                                                  r"zeroin\.safetensors\.load_file\("):
            zeroin.load(p)
        with open(p, "rb") as f, pytest.raises(CheckpointError, match="safetensors file"):
            zeroin.load(f)


def test_the_pytorch_checkpoint_message_names_the_safetensors_conversion(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8P\x19.")
    with pytest.raises(CheckpointError) as e:
        zeroin.load(path)
    assert "safetensors.torch.save_file(torch.load(" in str(e.value)
    assert f"zeroin.safetensors.load_file({str(tmp_path / 'model.safetensors')!r})" in str(e.value)


def test_import_zeroin_does_not_load_this_module():
    code = "import sys, zeroin; print('zeroin.safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert zeroin.safetensors is zs


# --- oracles: the safetensors package and PyTorch ---------------------------------------------

def test_files_are_byte_identical_to_the_safetensors_packages_and_read_both_ways(tmp_path):
    snp = pytest.importorskip("safetensors.numpy")
    arrays = {f"t_{d}": _random(d) for d in DTYPES}
    arrays.update({"scalar": np.array(2.5, np.float32), "empty": np.zeros((0, 2), np.int8),
                   "naïve name": np.ones(3)})
    ours = zs.save(arrays, metadata={"format": "pt"})
    assert ours == snp.save(arrays, metadata={"format": "pt"})
    theirs = snp.load(ours)
    assert all(_bits(theirs[k]) == _bits(np.asarray(a)) for k, a in arrays.items())
    snp.save_file(arrays, tmp_path / "theirs.safetensors")
    back = zs.load_file(tmp_path / "theirs.safetensors")
    assert all(_bits(back[k].data) == _bits(np.asarray(a)) for k, a in arrays.items())


def test_torch_bf16_and_tied_files_from_the_safetensors_package(tmp_path):
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    w = torch.randn(4, 5).to(torch.bfloat16)
    stt.save_file({"w": w}, tmp_path / "bf.safetensors")
    back = zs.load_file(tmp_path / "bf.safetensors")["w"]
    assert back.dtype == np.float32 and _bits(back.data) == _bits(w.float().numpy())
    tm = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
    tm[2].weight = tm[0].weight
    stt.save_model(tm, tmp_path / "tied.safetensors")
    zm = _tied()
    zs.load_model(zm, tmp_path / "tied.safetensors")
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(zm.float()(zeroin.tensor(x)).data,
                               tm(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    zs.save_model(zm, tmp_path / "ours.safetensors")         # and ours into torch's
    tm2 = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 3))
    tm2[2].weight = tm2[0].weight
    stt.load_model(tm2, tmp_path / "ours.safetensors")
    assert torch.equal(tm2[2].weight, tm[0].weight)


def test_a_torch_cnns_weights_load_into_zeroins_cnn_with_the_same_outputs(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tnn, znn = torch.nn, nn
    tm = tnn.Sequential(tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(),
                        tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(4 * 4 * 4, 3))
    tm(torch.randn(6, 1, 8, 8))                          # running stats move
    tm.eval()
    zm = znn.Sequential(znn.Conv2d(1, 4, 3, padding=1), znn.BatchNorm2d(4), znn.ReLU(),
                        znn.MaxPool2d(2), znn.Flatten(), znn.Linear(4 * 4 * 4, 3)).float().eval()
    path = tmp_path / "cnn.safetensors"
    zs.save_file({k: v.numpy() for k, v in tm.state_dict().items()}, path)  # torch's arrays
    with zs.safe_open(path, framework="np") as f:
        assert set(f.keys()) == set(tm.state_dict())
    zm.load_state_dict(zs.load_file(path))
    x = np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32)
    want = tm(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(zm(zeroin.tensor(x)).data, want, rtol=1e-5, atol=1e-6)


def test_the_suggested_torch_conversion_runs_and_loads(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    safetensors = pytest.importorskip("safetensors.torch").__name__ and \
        sys.modules["safetensors"]
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    torch.save(tm.state_dict(), tmp_path / "model.pt")
    with pytest.raises(CheckpointError) as e:
        zeroin.load(tmp_path / "model.pt")
    line = next(s for s in str(e.value).split("\n") if "safetensors.torch.save_file(" in s)
    exec(line.strip(), {"safetensors": safetensors, "torch": torch})  # as the message says
    zm = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).float()
    zm.load_state_dict(zs.load_file(tmp_path / "model.safetensors"))
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(zm(zeroin.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-6, atol=1e-6)


def test_save_file_refuses_a_missing_folder_as_the_package_does_and_names_the_fix(tmp_path):
    target = tmp_path / "runs" / "m.safetensors"
    with pytest.raises(zs.SafetensorError, match=r"save_file: .*folder .*runs does not exist.*"
                                                 r"os\.makedirs\("):
        zs.save_file({"a": np.ones(2)}, target)
    assert not (tmp_path / "runs").exists()             # nothing made, nothing half-written
    snp = pytest.importorskip("safetensors.numpy")
    with pytest.raises(Exception, match="No such file or directory"):
        snp.save_file({"a": np.ones(2)}, str(target))
    (tmp_path / "runs").mkdir()
    zs.save_file({"a": np.ones(2)}, target)
    np.testing.assert_array_equal(zs.load_file(target)["a"].numpy(), np.ones(2))
