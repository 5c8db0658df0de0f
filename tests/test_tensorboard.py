"""zeroin.utils.tensorboard.SummaryWriter: event files checked three ways.

(1) A decoder written here (TFRecord framing, a bitwise CRC32C, the protobuf wire format)
reads every record back; (2) tensorboard's own EventAccumulator reads the files (when the
tensorboard package is installed); (3) torch's SummaryWriter, given the same calls, writes
the same events, wall time and the writer's name aside (PNG bytes compared as pixels).
"""
import glob
import io
import os
import re
import socket
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

import zeroin
from zeroin.utils.tensorboard import SummaryWriter, crc32c, masked_crc32c


# --- an independent decoder ----------------------------------------------------------------

def _crc32c_bitwise(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _masked(data):
    x = _crc32c_bitwise(data)
    return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """Every record's data, with both CRCs of each checked."""
    with open(path, "rb") as f:
        raw, out, i = f.read(), [], 0
    while i < len(raw):
        header = raw[i:i + 8]
        (n,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", raw[i + 8:i + 12])[0] == _masked(header)
        data = raw[i + 12:i + 12 + n]
        assert len(data) == n
        assert struct.unpack("<I", raw[i + 12 + n:i + 16 + n])[0] == _masked(data)
        out.append(data)
        i += 16 + n
    return out


def fields(buf):
    """Protobuf wire format: {field number: [values]} (varint int, 64-bit/32-bit bytes,
    length-delimited bytes)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"wire type {wire}")
        out.setdefault(field, []).append(v)
    return out


def _varint(buf, i):
    n = shift = 0
    while True:
        b = buf[i]
        n |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return n, i


def d64(b):
    return struct.unpack("<d", b)[0]


def event(data):
    """An Event as a dict: wall_time, step, file_version, source, and value (the one
    Summary.Value, as its fields)."""
    f = fields(data)
    step = f.get(2, [0])[0]
    e = {"wall_time": d64(f[1][0]), "step": step - (1 << 64) if step >> 63 else step}
    if 3 in f:
        e["file_version"] = f[3][0].decode()
    if 10 in f:
        e["source"] = fields(f[10][0])[1][0].decode()
    if 7 in f:
        e["session_log"] = fields(f[7][0])[1][0]
    if 5 in f:
        (value,) = fields(f[5][0])[1]
        e["value"] = fields(value)
    return e


def events(path):
    return [event(r) for r in read_records(path)]


def one_file(folder):
    (path,) = glob.glob(os.path.join(folder, "events.out.tfevents.*"))
    return path


def summaries(folder):
    """{tag: [(step, Summary.Value fields)]} of the one event file in ``folder``."""
    out = {}
    for e in events(one_file(folder))[1:]:
        out.setdefault(e["value"][1][0].decode(), []).append((e["step"], e["value"]))
    return out


def histo(value):
    h = fields(value[5][0])
    get = (lambda k: d64(h[k][0]) if k in h else 0.0)
    arr = (lambda k: np.frombuffer(h[k][0], "<f8") if k in h else np.zeros(0))
    return {"min": get(1), "max": get(2), "num": get(3), "sum": get(4), "sum_squares": get(5),
            "limits": arr(6), "counts": arr(7)}


def decode_png(png):
    """Pixels of a PNG this writer makes (8-bit, unfiltered rows), checking its chunk CRCs."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    i, chunks = 8, {}
    while i < len(png):
        (n,) = struct.unpack(">I", png[i:i + 4])
        name, data = png[i + 4:i + 8], png[i + 8:i + 8 + n]
        assert struct.unpack(">I", png[i + 8 + n:i + 12 + n])[0] == zlib.crc32(name + data)
        chunks[name] = chunks.get(name, b"") + data
        i += 12 + n
    w, h, depth, kind = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8
    c = {0: 1, 2: 3, 4: 2, 6: 4}[kind]
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, 1 + w * c)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, c)


def image(value):
    im = fields(value[4][0])
    return im[1][0], im[2][0], im[3][0], decode_png(im[4][0])


# --- framing and file layout ---------------------------------------------------------------

def test_crc32c_known_values():
    assert crc32c(b"123456789") == 0xE3069283          # the CRC32C check value
    assert crc32c(b"") == 0
    data = np.random.default_rng(0).integers(0, 256, 500, dtype=np.uint8).tobytes()
    assert crc32c(data) == _crc32c_bitwise(data)
    assert masked_crc32c(data) == _masked(data)


@pytest.mark.parametrize("n", [4095, 4096, 4097, 6000, 70001, 300000])
def test_crc32c_of_long_data(n):
    # long data takes the blockwise NumPy path; the byte loop (checked above) is the oracle
    from zeroin.utils.tensorboard import _crc32c_loop
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert crc32c(data) == _crc32c_loop(data)
    if n == 6000:
        assert crc32c(data) == _crc32c_bitwise(data)


def test_first_record_and_file_name(tmp_path):
    w = SummaryWriter(tmp_path / "run", filename_suffix=".sfx")
    path = one_file(tmp_path / "run")
    assert re.fullmatch(rf"events\.out\.tfevents\.\d{{10}}\.{re.escape(socket.gethostname())}"
                        rf"\.{os.getpid()}\.\d+\.sfx", os.path.basename(path))
    (first,) = events(path)                      # written and flushed at once
    assert first["file_version"] == "brain.Event:2"
    assert first["source"] == "zeroin.utils.tensorboard" and first["step"] == 0
    w.close()
    assert w.get_logdir() == tmp_path / "run"


def test_default_log_dir_as_torch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        d = w.get_logdir()
    assert re.fullmatch(rf"runs{re.escape(os.sep)}[A-Z][a-z]{{2}}\d\d_\d\d-\d\d-\d\d_"
                        rf"{re.escape(socket.gethostname())}_lr0\.1", d)
    assert os.path.isdir(tmp_path / d)


def test_scalars_records(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("loss", zeroin.tensor(0.25), 3, walltime=12.5)
        w.add_scalar("loss", np.float32(0.125), 4)
        w.add_scalar("acc", np.array([[0.75]]), -2)
        w.add_scalar("big", 1e300, 0)
        w.add_scalar("grad", zeroin.tensor([1.5], requires_grad=True) * 2, 1)
    evs = events(one_file(tmp_path))
    assert len(evs) == 6
    s = evs[1]
    assert s["wall_time"] == 12.5 and s["step"] == 3
    assert s["value"][1] == [b"loss"] and struct.unpack("<f", s["value"][2][0])[0] == 0.25
    assert evs[3]["step"] == -2
    assert struct.unpack("<f", evs[4]["value"][2][0])[0] == np.inf   # past float32: inf
    assert struct.unpack("<f", evs[5]["value"][2][0])[0] == 3.0
    assert all(abs(e["wall_time"] - evs[0]["wall_time"]) < 60 for e in evs[2:])


def test_new_style_scalar(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("a", 0.1, 1, new_style=True)
        w.add_scalar("b", 0.1, 1, new_style=True, double_precision=True)
    s = summaries(tmp_path)
    ta, tb = fields(s["a"][0][1][8][0]), fields(s["b"][0][1][8][0])
    assert ta[1] == [1] and struct.unpack("<f", ta[5][0]) == (np.float32(0.1),)
    assert tb[1] == [2] and d64(tb[6][0]) == 0.1
    assert fields(fields(s["a"][0][1][9][0])[1][0])[1] == [b"scalars"]


def test_add_scalars_writes_one_run_per_key(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalars("loss/all", {"train": 1.0, "val": 2.0}, 1)
        w.add_scalars("loss/all", {"train": 0.5, "val": 1.5}, 2)
    assert sorted(os.listdir(tmp_path))[1:] == ["loss_all_train", "loss_all_val"]
    got = summaries(tmp_path / "loss_all_val")["loss/all"]
    assert [(st, struct.unpack("<f", v[2][0])[0]) for st, v in got] == [(1, 2.0), (2, 1.5)]
    assert list(summaries(tmp_path)) == []              # nothing in the main run


def test_histogram_tensorflow_bins(tmp_path):
    x = np.random.default_rng(0).standard_normal(1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", zeroin.tensor(x), 5)
        bins = w.default_bins
    h = histo(summaries(tmp_path)["w"][0][1])
    assert h["num"] == 1000 and h["min"] == x.min() and h["max"] == x.max()
    assert h["sum"] == pytest.approx(x.sum()) and h["sum_squares"] == pytest.approx(x @ x)
    counts, edges = np.histogram(x, bins=bins)
    nz = np.flatnonzero(counts)
    # torch's trimming: one empty bucket before the first non-empty one, limits are edges
    np.testing.assert_array_equal(h["counts"], counts[nz[0] - 1:nz[-1] + 1])
    np.testing.assert_array_equal(h["limits"], edges[nz[0]:nz[-1] + 2])
    assert len(bins) == 1549 and bins[774] == 0 and bins[775] == 1e-12


def test_histogram_numpy_bins_and_max_bins(tmp_path):
    x = np.arange(100.0)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("auto", x, 0, bins="auto")
        w.add_histogram("ten", x, 0, bins=10)
        w.add_histogram("merged", x, 0, bins=10, max_bins=3)
    s = summaries(tmp_path)
    counts, edges = np.histogram(x, bins="auto")
    assert histo(s["auto"][0][1])["counts"].sum() == 100
    assert len(histo(s["auto"][0][1])["counts"]) == len(counts) + 1
    ten = histo(s["ten"][0][1])
    np.testing.assert_array_equal(ten["counts"], [0] + [10] * 10)
    np.testing.assert_array_equal(ten["limits"], np.linspace(0, 99, 11))
    merged = histo(s["merged"][0][1])             # 10 buckets in groups of 3, padded
    np.testing.assert_array_equal(merged["counts"], [0, 30, 30, 30, 10])


def test_histogram_raw_and_errors(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_histogram_raw("r", 0, 3, 4, 6, 14, [1, 2, 3], [1, 2, 1], 2)
        with pytest.raises(ValueError, match="bucket_limits"):
            w.add_histogram_raw("r", 0, 3, 4, 6, 14, [1, 2], [1, 2, 1], 2)
        with pytest.raises(ValueError, match="no element"):
            w.add_histogram("e", np.zeros(0))
    h = histo(summaries(tmp_path)["r"][0][1])
    assert (h["min"], h["max"], h["num"], h["sum"], h["sum_squares"]) == (0, 3, 4, 6, 14)
    np.testing.assert_array_equal(h["counts"], [1, 2, 1])


@pytest.mark.parametrize("fmt, shape", [("CHW", (3, 4, 5)), ("HWC", (4, 5, 3)),
                                        ("HW", (4, 5)), ("CHW", (1, 4, 5)),
                                        ("HWC", (4, 5, 4))])
def test_image_layouts(tmp_path, fmt, shape):
    x = np.random.default_rng(1).uniform(-0.2, 1.2, shape)
    with SummaryWriter(tmp_path) as w:
        w.add_image("im", zeroin.tensor(x), 1, dataformats=fmt)
    h, wd, c, px = image(summaries(tmp_path)["im"][0][1])
    hwc = x.transpose([fmt.find(ch) for ch in "HWC"]) if len(fmt) == 3 else x[..., None]
    if hwc.shape[2] == 1:
        hwc = np.repeat(hwc, 3, 2)
    expected = (hwc.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)
    assert (h, wd, c) == (4, 5, expected.shape[2])
    np.testing.assert_array_equal(px, expected)


def test_uint8_image_kept_and_images_grid(tmp_path):
    u8 = np.random.default_rng(2).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    batch = np.random.default_rng(3).random((10, 1, 2, 3))
    with SummaryWriter(tmp_path) as w:
        w.add_image("u8", u8, 0, dataformats="HWC")
        w.add_images("grid", batch, 0)
    s = summaries(tmp_path)
    np.testing.assert_array_equal(image(s["u8"][0][1])[3], u8)
    h, wd, c, px = image(s["grid"][0][1])
    assert (h, wd, c) == (4, 24, 3)                  # 8 a row: 2 rows of 8 columns
    want = (batch[9, 0].astype(np.float32) * 255).astype(np.uint8)
    np.testing.assert_array_equal(px[2:4, 3:6, 1], want)
    assert (px[2:4, 6:] == 0).all()                  # empty cells are black


def test_image_errors(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(AssertionError, match=r"shape \(4, 5\).*CHW"):
            w.add_image("im", np.zeros((4, 5)))
        with pytest.raises(AssertionError, match="twice"):
            w.add_image("im", np.zeros((4, 5)), dataformats="HH")
        with pytest.raises(AssertionError, match="1 or 3 channels"):
            w.add_images("im", np.zeros((2, 2, 4, 5)))
        with pytest.raises(AssertionError, match=r"one element, got shape \(2,\)"):
            w.add_scalar("s", np.zeros(2))
        with pytest.raises(NotImplementedError, match="list"):
            w.add_scalar("s", [1.0])


def test_text(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", "lr **0.1**, é", 4)
    ((step, v),) = summaries(tmp_path)["notes/text_summary"]
    t = fields(v[8][0])
    assert step == 4 and t[1] == [7] and t[8] == ["lr **0.1**, é".encode()]
    assert fields(fields(t[2][0])[2][0]) == {1: [1]}               # shape [1]
    assert fields(fields(v[9][0])[1][0]) == {1: [b"text"]}          # the text plugin


def test_pr_curve(tmp_path):
    labels = np.array([1, 0, 1, 1, 0])
    pred = np.array([0.9, 0.8, 0.4, 0.6, 0.1])
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve("pr", zeroin.tensor(labels), zeroin.tensor(pred), 1, num_thresholds=3)
        with pytest.raises(ValueError, match="one label per prediction"):
            w.add_pr_curve("pr", labels, pred[:4])
        with pytest.raises(ValueError, match="lengths"):
            w.add_pr_curve_raw("r", [1], [1], [1], [1], [1], [1, 2])
    ((step, v),) = summaries(tmp_path)["pr"]
    t = fields(v[8][0])
    assert t[1] == [1] and [fields(d) for d in fields(t[2][0])[2]] == [{1: [6]}, {1: [3]}]
    got = np.frombuffer(t[5][0], "<f4").reshape(6, 3)
    # thresholds 0, 0.5, 1: buckets floor(p * 2) = [1, 1, 0, 1, 0]
    tp, fp = np.array([3, 2, 0]), np.array([2, 1, 0])
    want = [tp, fp, 2 - fp, 3 - tp, tp / np.maximum(1e-7, tp + fp), tp / 3]
    np.testing.assert_allclose(got, np.float32(want))
    plugin = fields(fields(v[9][0])[1][0])
    assert plugin[1] == [b"pr_curves"] and fields(plugin[2][0]) == {2: [3]}   # thresholds


def test_hparams_in_a_sub_run(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_hparams({"lr": 0.1, "opt": "adam", "skip": None}, {"hp/acc": 0.9},
                      {"opt": ["adam", "sgd"]}, run_name="trial")
        with pytest.raises(TypeError, match="dictionaries"):
            w.add_hparams([("lr", 0.1)], {})
        with pytest.raises(TypeError, match="hparam_domain_discrete"):
            w.add_hparams({"lr": 0.1}, {}, {"lr": ["a"]})
        with pytest.raises(ValueError, match="int, float, str"):
            w.add_hparams({"lr": [0.1]}, {})
    s = summaries(tmp_path / "trial")
    content = {t: fields(fields(fields(v[9][0])[1][0])[2][0]) for t, ((_, v),) in s.items()
               if t.startswith("_hparams_")}
    exp = fields(content["_hparams_/experiment"][2][0])
    infos = [fields(i) for i in exp[4]]
    assert [(i[1][0], i[4][0]) for i in infos] == [(b"lr", 3), (b"opt", 1)]
    assert [fields(v) for v in fields(infos[1][5][0])[1]] == [{3: [b"adam"]}, {3: [b"sgd"]}]
    assert [fields(fields(m)[1][0]) for m in exp[5]] == [{2: [b"hp/acc"]}]
    start = [fields(e) for e in fields(content["_hparams_/session_start_info"][3][0])[1]]
    assert {e[1][0]: fields(e[2][0]) for e in start} == {
        b"lr": {2: [struct.pack("<d", 0.1)]}, b"opt": {3: [b"adam"]}}
    assert fields(content["_hparams_/session_end_info"][4][0]) == {1: [1]}
    assert struct.unpack("<f", s["hp/acc"][0][1][2][0])[0] == np.float32(0.9)


def test_purge_step(tmp_path):
    with SummaryWriter(tmp_path, purge_step=7) as w:
        w.add_scalar("x", 1.0, 7)
    evs = events(one_file(tmp_path))
    assert evs[1]["step"] == 7 and evs[1]["file_version"] == "brain.Event:2"
    assert evs[2]["step"] == 7 and evs[2]["session_log"] == 1       # SessionLog.START
    assert evs[3]["step"] == 7 and "value" in evs[3]


def test_queue_flush_close_and_reopen(tmp_path):
    w = SummaryWriter(tmp_path, max_queue=3)
    path = one_file(tmp_path)
    w.add_scalar("x", 1.0, 1)
    assert len(read_records(path)) == 1                 # pending in memory
    w.flush()
    assert len(read_records(path)) == 2
    for step in range(3):
        w.add_scalar("x", 1.0, step)
    assert len(read_records(path)) == 5                 # max_queue reached: written
    w.close()
    w.close()                                           # twice is fine
    w.flush()
    w.add_scalar("x", 2.0, 9)                           # after close: a new file, as torch
    w.close()
    files = sorted(glob.glob(str(tmp_path / "events.*")))
    assert len(files) == 2 and len(read_records(path)) == 5
    other = [f for f in files if f != path][0]
    assert [e["step"] for e in events(other)] == [0, 9]


def test_file_writer_reopen(tmp_path):
    from zeroin.utils.tensorboard import FileWriter, _scalar_summary
    summary = _scalar_summary("x", 1.0)
    fw = FileWriter(tmp_path)
    first = fw.path
    fw.close()
    with pytest.raises(ValueError, match="closed; call reopen"):
        fw._add_summary(summary, 1)
    fw.reopen()
    fw._add_summary(summary, 1)
    fw.close()
    assert fw.path != first and fw.get_logdir() == str(tmp_path)
    assert [e["step"] for e in events(fw.path)] == [0, 1]


def test_threads_lose_no_record(tmp_path):
    import threading
    w = SummaryWriter(tmp_path, max_queue=3)

    def log(k):
        for step in range(200):
            w.add_scalar(f"t{k}", float(step), step)

    threads = [threading.Thread(target=log, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    s = summaries(tmp_path)
    assert sorted(s) == ["t0", "t1", "t2", "t3"]
    assert all(sorted(st for st, _ in v) == list(range(200)) for v in s.values())


def test_flush_secs_and_exit(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "from zeroin.utils.tensorboard import SummaryWriter\n"
            "w = SummaryWriter(sys.argv[2])\n"
            "w.add_scalar('x', 1.0, 1)\n")       # never closed: written at exit
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code, root, str(tmp_path)], check=True)
    assert len(read_records(one_file(tmp_path))) == 2
    w = SummaryWriter(tmp_path / "b", flush_secs=0)
    w.add_scalar("x", 1.0, 1)
    assert len(read_records(one_file(tmp_path / "b"))) == 2
    w.close()


def test_import_zeroin_stays_light():
    code = ("import sys, zeroin, zeroin.utils, zeroin.train\n"
            "assert 'zeroin.utils.tensorboard' not in sys.modules\n"
            "from zeroin.utils.tensorboard import SummaryWriter\n"
            "bad = {'tensorboard', 'google.protobuf', 'matplotlib', 'torch'} & set(sys.modules)\n"
            "assert not bad, bad\n")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root,
                   env={**os.environ, "PYTHONPATH": root})


def test_add_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot().plot([0, 1], [0, 1])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 3)
        w.add_figure("figs", [Figure(figsize=(1, 1), dpi=20), Figure(figsize=(1, 1), dpi=20)])
    s = summaries(tmp_path)
    h, wd, c, px = image(s["fig"][0][1])
    assert (h, wd, c) == (50, 100, 3) and px.min() < 128 and px.max() == 255
    assert image(s["figs"][0][1])[:3] == (20, 40, 3)


def test_fit_tensorboard_callback(tmp_path):
    from zeroin import nn, optim
    from zeroin.data import make_linear
    from zeroin.train import TensorBoard, fit
    zeroin.manual_seed(0)
    model = nn.Linear(1, 1)
    data = make_linear(64, seed=0)
    cb = TensorBoard(tmp_path / "fit", log_steps=True)
    h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data, data, epochs=3,
            batch_size=32, verbose=0, callbacks=[cb])
    s = summaries(tmp_path / "fit")
    assert set(s) == {"loss", "val_loss", "lr", "time", "step_loss"}
    for key in ("loss", "val_loss", "lr"):
        assert [st for st, _ in s[key]] == [1, 2, 3]
        np.testing.assert_array_equal([struct.unpack("<f", v[2][0])[0] for _, v in s[key]],
                                      np.float32(h.history[key]))
    assert [st for st, _ in s["step_loss"]] == list(range(1, 7))
    with SummaryWriter(tmp_path / "mine") as w:         # the user's writer: flushed, not closed
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data, epochs=1,
            verbose=0, callbacks=[TensorBoard(writer=w)])
        assert "loss" in summaries(tmp_path / "mine")
        w.add_scalar("after", 1.0)
    with pytest.raises(ValueError, match="not both"):
        TensorBoard(tmp_path, writer=w)


# --- the tensorboard package and torch read and write the same -----------------------------

def _accumulator(folder):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ea = ea_mod.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                             "images": 0, "tensors": 0})
    return ea.Reload()


def test_tensorboard_reads_it_back(tmp_path):
    pytest.importorskip("tensorboard")
    x = np.random.default_rng(4).standard_normal(500)
    img = np.random.default_rng(5).random((3, 6, 7))
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_histogram("w", x, 2)
        w.add_image("im", img, 3)
        w.add_text("note", "hello", 4)
        w.add_pr_curve("pr", np.array([1, 0, 1]), np.array([0.9, 0.2, 0.6]), 5,
                       num_thresholds=4)
    ea = _accumulator(tmp_path)
    assert [(e.step, e.value) for e in ea.Scalars("loss")] == [
        (s, float(np.float32(1.0 / (s + 1)))) for s in range(5)]
    hv = ea.Histograms("w")[0]
    assert hv.step == 2 and hv.histogram_value.num == 500
    assert hv.histogram_value.sum == pytest.approx(x.sum())
    assert sum(hv.histogram_value.bucket) == 500
    from PIL import Image
    im = ea.Images("im")[0]
    assert (im.step, im.width, im.height) == (3, 7, 6)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(im.encoded_image_string))),
                                  (img.transpose(1, 2, 0).astype(np.float32) * 255)
                                  .astype(np.uint8))
    (t,) = ea.Tensors("note/text_summary")
    assert t.step == 4 and t.tensor_proto.string_val == [b"hello"]
    (pr,) = ea.Tensors("pr")
    assert pr.step == 5 and [d.size for d in pr.tensor_proto.tensor_shape.dim] == [6, 4]
    assert list(pr.tensor_proto.float_val[:4]) == [2, 2, 1, 0]          # true positives


def test_embedding_files(tmp_path):
    mat = np.arange(6.0).reshape(3, 2)
    imgs = np.ones((3, 1, 2, 2))
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(zeroin.tensor(mat), metadata=["a", "b", "c"], label_img=imgs,
                        tag="feat/x")
        w.add_embedding(mat, metadata=[[1, "x"], [2, "y"], [3, "z"]],
                        metadata_header=["n", "s"], global_step=7)
        with pytest.raises(AssertionError, match="2 labels for 3 data points"):
            w.add_embedding(mat, metadata=["a", "b"], global_step=8)
        with pytest.raises(AssertionError, match="2-D"):
            w.add_embedding(mat.reshape(-1), global_step=9)
    sub = tmp_path / "00000" / "feat%2fx"
    assert (sub / "tensors.tsv").read_text() == "0.0\t1.0\n2.0\t3.0\n4.0\t5.0\n"
    assert (sub / "metadata.tsv").read_text() == "a\nb\nc\n"
    assert (tmp_path / "00007" / "default" / "metadata.tsv").read_text() == \
        "n\ts\n1\tx\n2\ty\n3\tz\n"
    sprite = decode_png((sub / "sprite.png").read_bytes())
    assert sprite.shape == (4, 4, 3)                  # 2 x 2 grid of 2 x 2 images, square
    assert (sprite[:2] == 255).all() and (sprite[2:, :2] == 255).all()
    assert (sprite[2:, 2:] == 0).all()
    config = (tmp_path / "projector_config.pbtxt").read_text()
    assert config.count("embeddings {") == 2
    assert '  tensor_name: "feat/x:00000"\n' in config
    assert '  sprite {\n    image_path: "00000/feat%2fx/sprite.png"\n' in config
    pb = pytest.importorskip("tensorboard.plugins.projector.projector_config_pb2")
    from google.protobuf import text_format
    parsed = text_format.Parse(config, pb.ProjectorConfig())
    assert [e.tensor_path for e in parsed.embeddings] == [
        "00000/feat%2fx/tensors.tsv", "00007/default/tensors.tsv"]
    assert list(parsed.embeddings[0].sprite.single_image_dim) == [2, 2]


def test_embedding_files_as_torch(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    rng = np.random.default_rng(0)
    mat = rng.standard_normal((10, 3)).astype(np.float32)
    img = rng.random((10, 1, 4, 5)).astype(np.float32)
    for name, W, T in (("z", SummaryWriter, zeroin.tensor), ("t", TorchWriter, torch.tensor)):
        with W(str(tmp_path / name)) as w:
            w.add_embedding(T(mat), metadata=list(range(10)), label_img=T(img),
                            tag='a/b \u00e9"\x01\\')
            w.add_embedding(T(mat[:, :2]), metadata=[[i, "x"] for i in range(10)],
                            metadata_header=["n", "s"], global_step=3)
    files = sorted(os.path.relpath(os.path.join(d, f), tmp_path / "t")
                   for d, _, fs in os.walk(tmp_path / "t") for f in fs
                   if not f.startswith("events."))
    assert len(files) == 6
    for f in files:
        ours, theirs = (tmp_path / "z" / f).read_bytes(), (tmp_path / "t" / f).read_bytes()
        if f.endswith(".png"):
            from PIL import Image
            np.testing.assert_array_equal(decode_png(ours),
                                          np.asarray(Image.open(io.BytesIO(theirs))))
        else:
            assert ours == theirs, f


def _torch_calls(w, T, figure):
    rng = np.random.default_rng(0)
    w.add_scalar("loss", T(0.5), 3, walltime=1.0)
    w.add_scalar("neg", -3, -3, walltime=1.0)
    w.add_scalar("step0", 1.0, 0.5, walltime=1.0)            # step int(0.5) == 0: left out
    w.add_scalar("ns", 2.0, 4, walltime=1.0, new_style=True, double_precision=True)
    w.add_scalars("g/rp", {"a": 1, "b": 2}, 5, walltime=1.0)
    w.add_histogram("h", T(rng.standard_normal(1000)), 1, walltime=1.0)
    w.add_histogram("h2", rng.standard_normal(300), 1, bins="fd", max_bins=5, walltime=1.0)
    w.add_histogram("zeros", np.zeros(5), 1, walltime=1.0)
    w.add_histogram_raw("raw", 0, 3, 4, 6, 14, [1, 2, 3], [1, 2, 1], 2, walltime=1.0)
    w.add_image("chw", T(rng.random((3, 8, 10))), 1, walltime=1.0)
    w.add_image("hw", rng.random((8, 10)) * 2 - 0.5, 1, walltime=1.0, dataformats="HW")
    w.add_image("rgba", rng.random((8, 10, 4)), 1, walltime=1.0, dataformats="HWC")
    w.add_images("n", T(rng.random((10, 1, 8, 10))), 1, walltime=1.0)
    w.add_figure("fig", figure(), 1, walltime=1.0)
    w.add_text("t", "hello **world** é", 7, walltime=1.0)
    labels = rng.integers(0, 2, 50)
    w.add_pr_curve("pr", T(labels), T(rng.random(50)), 2, walltime=1.0)
    w.add_pr_curve("prw", labels, rng.random(50), 2, num_thresholds=500,
                   weights=rng.random(50), walltime=1.0)
    w.add_pr_curve_raw("prr", [3, 2, 0], [2, 1, 0], [0, 1, 2], [0, 1, 3], [0.6, 0.67, 1.0],
                       [1.0, 0.67, 0.0], 2, num_thresholds=3, walltime=1.0)
    w.add_hparams({"lr": 0.1, "opt": "adam", "b": True}, {"acc": 0.9},
                  {"opt": ["adam", "sgd"]}, run_name="hp", global_step=3)


def _hparam_map(content):
    """session_start_info's hparams map as {name: Value fields}."""
    entries = fields(fields(content)[3][0])[1]
    return {fields(e)[1][0]: fields(fields(e)[2][0]) for e in entries}


def test_same_events_as_torch(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure
    from PIL import Image
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    def figure():
        fig = Figure(figsize=(2, 1), dpi=40)
        fig.add_subplot().plot([0, 1], [1, 0])
        return fig

    for name, W, T in (("z", SummaryWriter, zeroin.tensor), ("t", TorchWriter, torch.tensor)):
        with W(str(tmp_path / name), purge_step=2) as w:
            _torch_calls(w, T, figure)
        assert W(str(tmp_path / "bins")).default_bins == w.default_bins

    def load(root):
        out = {}
        for f in glob.glob(str(root / "**" / "events.*"), recursive=True):
            out[os.path.relpath(os.path.dirname(f), root)] = list(LegacyEventFileLoader(f).Load())
        return out

    ours, theirs = load(tmp_path / "z"), load(tmp_path / "t")
    assert ours.keys() == theirs.keys() == {".", "g_rp_a", "g_rp_b", "hp"}
    n = 0
    for run in ours:
        assert len(ours[run]) == len(theirs[run])
        for a, b in zip(ours[run], theirs[run]):
            for e in (a, b):
                e.ClearField("source_metadata")        # the writer's name
                if run == "hp" or e.HasField("file_version") or e.HasField("session_log"):
                    e.wall_time = 0                    # written at the time, not walltime=
            if a.HasField("summary") and a.summary.value[0].HasField("image"):
                ia, ib = a.summary.value[0].image, b.summary.value[0].image
                np.testing.assert_array_equal(
                    np.asarray(Image.open(io.BytesIO(ia.encoded_image_string))),
                    np.asarray(Image.open(io.BytesIO(ib.encoded_image_string))))
                ia.encoded_image_string = ib.encoded_image_string = b""
            if a.HasField("summary") and a.summary.value[0].tag.endswith("session_start_info"):
                pa, pb = (e.summary.value[0].metadata.plugin_data for e in (a, b))
                assert _hparam_map(pa.content) == _hparam_map(pb.content)
                pa.content = pb.content = b""          # a map: the entries' order may differ
            assert a == b, (run, a, b)
            assert a.SerializeToString() == b.SerializeToString()
            n += 1
    assert n == 29
