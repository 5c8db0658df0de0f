"""SummaryWriter's graph, audio, video, mesh, custom-scalar and boxed-image records, checked
as tests/test_tensorboard.py checks the others: decoded here, read by TensorBoard's own
readers (when installed), and compared with torch's SummaryWriter field by field."""
import glob
import io
import os
import struct

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.utils.tensorboard import SummaryWriter
from test_tensorboard import (_accumulator, _varint, fields, image, one_file, read_records,
                              summaries)


def _f32s(b):
    return np.frombuffer(b, "<f4")


def _load(folder):
    """Every event of every file under ``folder`` as protobuf (tensorboard's loader)."""
    loader = pytest.importorskip(
        "tensorboard.backend.event_processing.event_file_loader").LegacyEventFileLoader
    out = []
    for f in sorted(glob.glob(os.path.join(str(folder), "events.*"))):
        out += list(loader(f).Load())[1:]
    return out


def _both(tmp_path, calls):
    """The events ``calls(writer, tensor)`` makes with zeroin's writer and with torch's."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    for name, W, T in (("z", SummaryWriter, zeroin.tensor), ("t", TorchWriter, torch.tensor)):
        with W(str(tmp_path / name)) as w:
            calls(w, T)
    return _load(tmp_path / "z"), _load(tmp_path / "t")


# --- add_audio ------------------------------------------------------------------------------

def test_audio_is_16_bit_mono_wav(tmp_path, capsys):
    x = np.sin(np.arange(200) / 7.0)
    with SummaryWriter(tmp_path) as w:
        w.add_audio("a", zeroin.tensor(x[None]), 3, sample_rate=8000)
        w.add_audio("loud", 2 * x, 4)
        with pytest.raises(AssertionError, match="one channel"):
            w.add_audio("stereo", np.zeros((2, 10)))
    assert "auto clipped" in capsys.readouterr().out
    s = summaries(tmp_path)
    (step, v), = s["a"]
    a = fields(v[6][0])
    assert step == 3 and struct.unpack("<f", a[1][0])[0] == 8000
    assert a[2] == [1] and a[3] == [200] and a[5] == [b"audio/wav"]
    wav = a[4][0]
    assert wav[:4] == b"RIFF" and wav[8:16] == b"WAVEfmt "
    channels, rate, _, _, bits = struct.unpack("<HIIHH", wav[22:36])
    assert (channels, rate, bits) == (1, 8000, 16)
    np.testing.assert_array_equal(np.frombuffer(wav[44:], "<i2"), (x * 32767).astype(np.int16))
    loud = np.frombuffer(fields(s["loud"][0][1][6][0])[4][0][44:], "<i2")
    assert loud.max() == 32767 and loud.min() == -32767


# --- add_video: an animated GIF, decoded here ----------------------------------------------

def _lzw_decode(data, min_size):
    """GIF's LZW, read as the format's description says."""
    clear, end = 1 << min_size, (1 << min_size) + 1
    bits = int.from_bytes(data, "little")
    pos, size, out = 0, min_size + 1, []
    table, prev = None, None
    while True:
        code = bits >> pos & ((1 << size) - 1)
        pos += size
        if code == clear:
            table = [[i] for i in range(end + 1)]
            size, prev = min_size + 1, None
            continue
        if code == end:
            return out
        if prev is None:
            entry = table[code]
        else:
            entry = table[code] if code < len(table) else prev + prev[:1]
            if len(table) < 4096:
                table.append(prev + entry[:1])
        out += entry
        prev = entry
        if len(table) == 1 << size and size < 12:
            size += 1


def decode_gif(gif):
    """(frames T x H x W x 3, delays in 1/100 s, loops) of a GIF with a palette per frame."""
    assert gif[:6] == b"GIF89a" and gif[-1:] == b"\x3b"
    w, h, packed = struct.unpack("<HHB", gif[6:11])
    assert packed & 0x80 == 0                        # no global palette
    i, frames, delays, loops = 13, [], [], None
    while gif[i] != 0x3B:
        if gif[i] == 0x21:                           # an extension: its sub-blocks
            label, i, body = gif[i + 1], i + 2, b""
            while gif[i]:
                body, i = body + gif[i + 1:i + 1 + gif[i]], i + 1 + gif[i]
            i += 1
            if label == 0xF9:
                delays.append(struct.unpack("<H", body[1:3])[0])
            elif label == 0xFF:
                assert body[:11] == b"NETSCAPE2.0"
                loops = struct.unpack("<H", body[12:14])[0]
            continue
        assert gif[i] == 0x2C
        x, y, fw, fh, packed = struct.unpack("<HHHHB", gif[i + 1:i + 10])
        assert (x, y, fw, fh) == (0, 0, w, h) and packed & 0x80
        n = 2 << (packed & 7)
        pal = np.frombuffer(gif[i + 10:i + 10 + 3 * n], np.uint8).reshape(n, 3)
        i += 10 + 3 * n
        min_size, i, data = gif[i], i + 1, b""
        while gif[i]:
            data, i = data + gif[i + 1:i + 1 + gif[i]], i + 1 + gif[i]
        i += 1
        idx = np.array(_lzw_decode(data, min_size))
        assert idx.size == w * h
        frames.append(pal[idx].reshape(h, w, 3))
    return np.stack(frames), delays, loops


def _video_frames(v):
    """torch's layout of a batch of videos, written out: N padded with black to a power of
    two, 2 ** ((N.bit_length() - 1) // 2) rows of videos, T x H x W x C."""
    n, t, c, h, w = v.shape
    m = 1 << (n - 1).bit_length() if n & (n - 1) else n
    v = np.concatenate([v, np.zeros((m - n, t, c, h, w))])
    rows = 2 ** ((n.bit_length() - 1) // 2)
    grid = np.zeros((t, rows * h, (m // rows) * w, c))
    for k in range(m):
        r, q = divmod(k, m // rows)
        grid[:, r * h:(r + 1) * h, q * w:(q + 1) * w] = v[k].transpose(0, 2, 3, 1)
    return grid


@pytest.mark.parametrize("n", [1, 3, 4])
def test_video_is_an_animated_gif(tmp_path, n):
    rng = np.random.default_rng(n)
    levels = np.linspace(0, 1, 5)                    # 125 colours: kept exactly
    v = levels[rng.integers(0, 5, (n, 6, 3, 5, 7))]
    with SummaryWriter(tmp_path) as w:
        w.add_video("v", zeroin.tensor(v), 2, fps=5)
    (step, value), = summaries(tmp_path)["v"]
    h, wd, c, _ = fields(value[4][0]).values()
    want = (_video_frames(v).astype(np.float32) * 255).astype(np.uint8)
    assert step == 2 and (h[0], wd[0], c[0]) == want.shape[1:]
    frames, delays, loops = decode_gif(fields(value[4][0])[4][0])
    np.testing.assert_array_equal(frames, want)
    assert delays == [20] * 6 and loops == 0
    pytest.importorskip("torch")
    from torch.utils.tensorboard._utils import _prepare_video
    np.testing.assert_array_equal(_video_frames(v), _prepare_video(v.copy()))


def test_video_gif_many_colours_and_long_codes(tmp_path):
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (1, 3, 1, 64, 64), dtype=np.uint8)   # LZW table refills
    colour = rng.random((2, 2, 3, 16, 16))                           # > 256 colours
    with SummaryWriter(tmp_path) as w:
        w.add_video("grey", grey, fps=4)
        w.add_video("colour", colour)
        w.add_video("rgba", colour[:1, :, :1].repeat(4, 2), fps=100)
        with pytest.raises(ValueError, match="5-D"):
            w.add_video("bad", colour[0])
        with pytest.raises(ValueError, match="1, 3 or 4 channels, got 2"):
            w.add_video("bad", colour[:, :, :2])
        with pytest.raises(ValueError, match="fps must be positive"):
            w.add_video("bad", colour, fps=0)
    s = summaries(tmp_path)
    frames, delays, _ = decode_gif(fields(s["grey"][0][1][4][0])[4][0])
    np.testing.assert_array_equal(frames[..., 0], grey[0, :, 0])
    assert delays == [25] * 3
    frames, _, _ = decode_gif(fields(s["colour"][0][1][4][0])[4][0])
    want = (_video_frames(colour).astype(np.float32) * 255).astype(np.uint8)
    err = np.abs(frames.astype(int) - want)
    assert err[..., :2].max() <= 19 and err[..., 2].max() <= 43      # 8 x 8 x 4 levels
    rgba, delays, _ = decode_gif(fields(s["rgba"][0][1][4][0])[4][0])     # alpha dropped
    one = (_video_frames(colour[:1, :, :1]).astype(np.float32) * 255).astype(np.uint8)
    np.testing.assert_array_equal(rgba, np.repeat(one, 3, -1))
    assert delays == [1, 1]
    Image = pytest.importorskip("PIL.Image")
    for tag, grid in (("grey", np.repeat(grey[0, :, 0, :, :, None], 3, -1)), ("colour", frames)):
        gif = Image.open(io.BytesIO(fields(s[tag][0][1][4][0])[4][0]))
        assert gif.n_frames == len(grid)
        for k in range(gif.n_frames):
            gif.seek(k)
            np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), grid[k])


# --- add_mesh and the custom scalars layout ------------------------------------------------

def test_mesh_tensors_and_plugin_data(tmp_path):
    vertices = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], np.float32)
    faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]])
    with SummaryWriter(tmp_path) as w:
        w.add_mesh("m", zeroin.tensor(vertices), faces=faces, global_step=5,
                   config_dict={"camera": {"fov": 75}})
        with pytest.raises(ValueError, match="BxNx3"):
            w.add_mesh("bad", vertices[0])
    e = fields(read_records(one_file(tmp_path))[1])
    assert e[2] == [5]
    parts = [fields(v) for v in fields(e[5][0])[1]]
    assert [p[1][0] for p in parts] == [b"m_VERTEX", b"m_FACE"]
    for p, a, kind in zip(parts, (vertices, faces), (1, 2)):
        t = fields(p[8][0])
        assert t[1] == [1] and [fields(d)[1][0] for d in fields(t[2][0])[2]] == [1, 4, 3]
        np.testing.assert_array_equal(_f32s(t[5][0]), a.reshape(-1))
        meta = fields(fields(p[9][0])[1][0])
        assert meta[1] == [b"mesh"]
        content = fields(meta[2][0])
        assert content[2] == [b"m"] and content[3] == [kind] and content[7] == [0b110]
        assert content[5] == [b'{"camera": {"fov": 75}}'] and content[6] == [b"\x01\x04\x03"]


def test_custom_scalars_layout(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_custom_scalars({"Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
                              "USA": {"dow": ["Margin", ["dow/a", "dow/b", "dow/c"]]}})
        with pytest.raises(AssertionError, match="3 tags"):
            w.add_custom_scalars({"x": {"m": ["Margin", ["a", "b"]]}})
        with pytest.raises(AssertionError, match="Expected 3 tags, got 2"):
            w.add_custom_scalars_marginchart(["a", "b"])
    (step, v), = summaries(tmp_path)["custom_scalars__config__"]
    t = fields(v[8][0])
    assert step == 0 and t[1] == [7] and t[2] == [b""]
    assert fields(fields(v[9][0])[1][0])[1] == [b"custom_scalars"]
    cats = [fields(c) for c in fields(t[8][0])[2]]
    assert [c[1][0] for c in cats] == [b"Taiwan", b"USA"]
    chart = fields(cats[0][2][0])
    assert chart[1] == [b"twse"] and fields(chart[2][0])[1] == [b"twse/0050", b"twse/2330"]
    series = fields(fields(fields(cats[1][2][0])[3][0])[1][0])
    assert [series[k][0] for k in (1, 2, 3)] == [b"dow/a", b"dow/b", b"dow/c"]
    layout_pb2 = pytest.importorskip("tensorboard.plugins.custom_scalar.layout_pb2")
    (e,) = _accumulator(tmp_path).Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(e.tensor_proto.string_val[0])
    assert layout.category[1].chart[0].margin.series[0].upper == "dow/c"


# --- add_image_with_boxes ------------------------------------------------------------------

def test_boxes_drawn_in_red(tmp_path):
    img = np.zeros((3, 10, 12))
    with SummaryWriter(tmp_path) as w:
        w.add_image_with_boxes("b", zeroin.tensor(img), np.array([[2, 3, 8, 9]]), 1)
        w.add_image_with_boxes("inv", img, np.array([[8.9, 9.5, 2.2, 3.7], [5, 5, 5, 5]]))
        with pytest.raises(ValueError, match="N x 4"):
            w.add_image_with_boxes("bad", img, np.array([1, 2, 3, 4]))
        with pytest.warns(UserWarning, match="1 labels for 2 boxes"):
            w.add_image_with_boxes("lab", img, np.zeros((2, 4)), labels=["a"])
    s = summaries(tmp_path)
    h, wd, c, px = image(s["b"][0][1])
    assert (h, wd, c) == (10, 12, 3) and set(px[..., 1:].ravel()) == {0}
    red = px[..., 0] == 255
    want = np.zeros((10, 12), bool)
    want[2:4, 2:9] = want[9:11, 2:9] = True          # the top's row before, the bottom's after
    want[3:10, 2:4] = want[3:10, 7:9] = True         # the left's column after, the right's before
    np.testing.assert_array_equal(red, want)
    red = image(s["inv"][0][1])[3][..., 0] == 255   # x1 > x2, y1 > y2: the same box
    want[5, 5] = True                                # a box of one point
    np.testing.assert_array_equal(red, want)


def test_boxes_as_torch(tmp_path):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(0)
    img = rng.random((3, 20, 24)).astype(np.float32)
    boxes = np.concatenate([rng.integers(-4, 28, (30, 4)).astype(np.float32),
                            rng.uniform(-4, 28, (30, 4)).astype(np.float32)])

    def calls(w, T):
        for k in range(0, 60, 6):
            w.add_image_with_boxes(f"b{k}", T(img), T(boxes[k:k + 6]), k, walltime=1.0)
        w.add_image_with_boxes("hwc", T(img.transpose(1, 2, 0)), T(boxes[:3]), 1,
                               walltime=1.0, dataformats="HWC")
        w.add_image_with_boxes("u8", T((img * 255).astype(np.uint8)), T(boxes[:2]), 1,
                               walltime=1.0)
        w.add_image_with_boxes("lab", T(img), T(np.array([[2, 12, 20, 18.0]])), 1,
                               walltime=1.0, labels="cat", rescale=2)
    _same_images(*_both(tmp_path, calls))


def _same_images(ours, theirs):
    from PIL import Image
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        ia, ib = a.summary.value[0].image, b.summary.value[0].image
        np.testing.assert_array_equal(
            np.asarray(Image.open(io.BytesIO(ia.encoded_image_string))),
            np.asarray(Image.open(io.BytesIO(ib.encoded_image_string))), a.summary.value[0].tag)
        ia.encoded_image_string = ib.encoded_image_string = b""
        for e in (a, b):
            e.wall_time = 1.0
        assert a == b


# --- the same events as torch --------------------------------------------------------------

def test_same_events_as_torch(tmp_path):
    rng = np.random.default_rng(1)
    snd = rng.uniform(-1, 1, (1, 300)).astype(np.float32)
    verts = rng.random((2, 5, 3)).astype(np.float32)

    def calls(w, T):
        w.add_audio("snd", T(snd), 2, sample_rate=16000, walltime=1.0)
        w.add_audio("loud", T(snd * 3), 3, walltime=1.0)
        w.add_mesh("mesh", T(verts), colors=T((verts * 255).astype(np.int32)),
                   faces=T(np.array([[[0, 1, 2]], [[2, 3, 4]]])), global_step=4, walltime=1.0,
                   config_dict={"material": {"cls": "PointsMaterial", "config": {"size": 2}}})
        w.add_mesh("cloud", T(verts), global_step=5, walltime=1.0)
        w.add_custom_scalars({"Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
                              "USA": {"dow": ["Margin", ["dow/a", "dow/b", "dow/c"]],
                                      "e": ["Multiline", []]}})
        w.add_custom_scalars_multilinechart(["a", "b"], category="c", title="t")
        w.add_custom_scalars_marginchart(["a", "b", "c"])

    ours, theirs = _both(tmp_path, calls)
    assert len(ours) == len(theirs) == 7
    for a, b in zip(ours, theirs):
        a.ClearField("source_metadata"), b.ClearField("source_metadata")
        if a.summary.value[0].tag == "custom_scalars__config__":     # no walltime=
            a.wall_time = b.wall_time = 0
        assert a == b
        assert a.SerializeToString() == b.SerializeToString()


def test_tensorboard_plugins_read_them(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.plugins.mesh import metadata
    rng = np.random.default_rng(2)
    with SummaryWriter(tmp_path) as w:
        w.add_audio("snd", rng.uniform(-1, 1, 50), 1, sample_rate=100)
        w.add_video("vid", rng.random((1, 2, 3, 4, 5)), 1)
        w.add_mesh("m", rng.random((1, 4, 3)), faces=np.array([[[0, 1, 2]]]), global_step=1)
        w.add_tensor("t", zeroin.arange(6).reshape(2, 3), 2)
    ea = _accumulator(tmp_path)
    (t,) = ea.Tensors("t")
    assert t.step == 2 and list(t.tensor_proto.int64_val) == list(range(6))
    assert [d.size for d in t.tensor_proto.tensor_shape.dim] == [2, 3]
    (a,) = ea.Audio("snd")
    assert (a.step, a.content_type, a.sample_rate, a.length_frames) == (1, "audio/wav", 100, 50)
    (v,) = ea.Images("vid")
    assert (v.width, v.height) == (5, 4) and v.encoded_image_string[:6] == b"GIF89a"
    (m,) = ea.Tensors("m_FACE")
    meta = metadata.parse_plugin_metadata(
        ea.SummaryMetadata("m_FACE").plugin_data.content)
    assert meta.name == "m" and list(meta.shape) == [1, 1, 3]
    assert list(m.tensor_proto.float_val) == [0, 1, 2]


def test_add_onnx_graph_refused(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(NotImplementedError, match="add_graph"):
        w.add_onnx_graph("model.onnx")


# --- add_graph ------------------------------------------------------------------------------

def _net(lib):
    """The same small model in zeroin and in torch: nested modules, a residual add, a
    module called twice, two inputs and two outputs."""
    nn_ = lib.nn

    class Block(nn_.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.act = nn_.Linear(4, 4), nn_.Tanh()

        def forward(self, x):
            return x + self.act(self.lin(x))

    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.body = nn_.Linear(3, 4), nn_.Sequential(Block(), Block())
            self.fc2 = nn_.Linear(4, 2)

        def forward(self, x, y):
            return self.fc2(lib.relu(self.body(self.fc1(x)))) * y, self.fc1(x)

    return Net()


def _graph_nodes(folder):
    """[(name, op, inputs, output shape or None)] of the one GraphDef in ``folder``, and
    the tagged run metadata, decoded here."""
    evs = [fields(r) for r in read_records(one_file(folder))[1:]]
    assert [sorted(e) for e in evs] == [[1, 4], [1, 8]]          # no step, as torch
    graph = fields(evs[0][4][0])
    assert fields(graph[4][0]) == {1: [22]}                      # versions.producer
    nodes = []
    for n in graph[1]:
        n = fields(n)
        attrs = {fields(a)[1][0]: fields(fields(a)[2][0]) for a in n.get(5, [])}
        shape = None
        if b"_output_shapes" in attrs:
            (s,) = fields(attrs[b"_output_shapes"][1][0])[7]
            shape = [fields(d).get(1, [0])[0] for d in fields(s).get(2, [])]
        nodes.append((n[1][0].decode(), n[2][0].decode(),
                      [i.decode() for i in n.get(3, [])], shape))
    return nodes, fields(evs[1][8][0])


def test_graph_nodes_scoped_by_module(tmp_path, capsys):
    zeroin.manual_seed(0)
    model = _net(zeroin)
    x, y = zeroin.randn(5, 3), zeroin.randn(5, 2)
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, (x, y), verbose=True)
    assert model.training and not x.requires_grad               # put back, left alone
    nodes, meta = _graph_nodes(tmp_path)
    assert meta[1] == [b"step1"] and meta[2] == [b"\n\x11\n\x0f\n\r/device:CPU:0"]
    ops = {name: (op, ins, shape) for name, op, ins, shape in nodes}
    assert ops["input/x"] == ("IO Node", [], [5, 3])
    assert ops["Net/Linear[fc1]/weight"] == ("Parameter", [], [4, 3])
    assert ops["Net/Linear[fc1]/linear"] == (
        "zeroin::linear", ["input/x", "Net/Linear[fc1]/weight", "Net/Linear[fc1]/bias"], [5, 4])
    b1 = "Net/Sequential[body]/Block[1]"
    assert ops[b1 + "/Tanh[act]/tanh"] == ("zeroin::tanh", [b1 + "/Linear[lin]/linear"], [5, 4])
    assert ops[b1 + "/add"][1] == ["Net/Sequential[body]/Block[0]/add", b1 + "/Tanh[act]/tanh"]
    assert ops["Net/mul"][1] == ["Net/Linear[fc2]/linear", "input/y"]
    assert ops["Net/Linear[fc1]/linear_1"][1][0] == "input/x"  # fc1 called a second time
    assert ops["output/output.2"] == ("IO Node", ["Net/Linear[fc1]/linear_1"], [5, 4])
    assert len(nodes) == 23 and len(ops) == 23
    printed = capsys.readouterr().out
    assert "Net/relu = zeroin::relu(Net/Sequential[body]/Block[1]/add): [5, 4]" in printed


def test_graph_buffers_constants_and_errors(tmp_path):
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 3)
            self.register_buffer("scale", zeroin.tensor([1.0, 2.0, 3.0]))

        def forward(self, x):
            return nn.functional.hardtanh(self.lin(x) * self.scale, -2.0, 2.0) + 1

    model, x = Scaled(), zeroin.randn(4, 2)
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, x)
        with pytest.raises(TypeError, match="tensor or a tuple of tensors"):
            w.add_graph(model, [[1.0, 2.0]])
    nodes, _ = _graph_nodes(tmp_path)
    ops = {name: (op, ins, shape) for name, op, ins, shape in nodes}
    assert ops["Scaled/scale"] == ("Buffer", [], [3])
    assert ops["Scaled/mul"][1] == ["Scaled/Linear[lin]/linear", "Scaled/scale"]
    assert ops["Scaled/constant"] == ("Constant", [], [])          # the 1 of "+ 1"
    assert ops["Scaled/add"][1] == ["Scaled/hardtanh", "Scaled/constant"]
    assert ops["input/x"][0] == "IO Node" and model.training


def _structure(nodes, prefix):
    """Each op node as (scope, op, shape, inputs), inputs given the same way, parameters by
    their path and inputs by name; constants left out (torch's and zeroin's differ)."""
    by_name = {n[0]: n for n in nodes}
    memo = {}

    def key(name):
        if name not in memo:
            _, op, ins, shape = by_name[name]
            if op == "IO Node" or op in ("Parameter", "prim::GetAttr"):
                memo[name] = name.rsplit("/", 1)[0] if op == "prim::GetAttr" else name
            else:
                memo[name] = (name.rsplit("/", 1)[0], op[len(prefix):], tuple(shape),
                              tuple(key(i) for i in ins if by_name[i][1] not in
                                    ("prim::Constant", "Constant")))
        return memo[name]

    return sorted((key(n[0]) for n in nodes if n[1].startswith(prefix)), key=repr)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_graph_as_torch(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    for name, lib, W in (("z", zeroin, SummaryWriter), ("t", torch, TorchWriter)):
        with W(str(tmp_path / name)) as w:
            w.add_graph(_net(lib), (lib.randn(5, 3), lib.randn(5, 2)))
    ours, meta = _graph_nodes(tmp_path / "z")
    theirs, their_meta = _graph_nodes(tmp_path / "t")
    assert meta == their_meta
    assert _structure(ours, "zeroin::") == _structure(theirs, "aten::")
    assert len(_structure(ours, "zeroin::")) == 11
    io = [n for n in ours if n[1] == "IO Node"]
    assert [n for n in theirs if n[1] == "IO Node"][:2] == io[:2]     # the inputs
    ea = _accumulator(tmp_path / "z")
    g = ea.Graph()
    assert [n.name for n in g.node] == [n[0] for n in ours]
    assert ea.RunMetadata("step1").step_stats.dev_stats[0].device == "/device:CPU:0"
    from tensorboard.backend import process_graph    # what the Graphs tab does with it
    process_graph.prepare_graph_for_ui(g, limit_attr_size=1024,
                                       large_attrs_key="_too_large_attrs")


def test_fit_callback_logs_the_graph_once(tmp_path):
    from zeroin import optim
    from zeroin.data import make_linear
    from zeroin.train import TensorBoard, fit
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 4), nn.ReLU(), nn.Linear(4, 1))
    data = make_linear(64, seed=0)
    cb = TensorBoard(tmp_path, log_graph=True)
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data, epochs=2,
        batch_size=16, verbose=0, callbacks=[cb])
    evs = [fields(r) for r in read_records(one_file(tmp_path))[1:]]
    graphs = [e for e in evs if 4 in e]
    assert len(graphs) == 1 and evs.index(graphs[0]) == 0       # after the first step only
    names = [fields(n)[1][0] for n in fields(graphs[0][4][0])[1]]
    assert b"Sequential/Linear[0]/linear" in names and b"Sequential/ReLU[1]/relu" in names
    inp = [fields(n) for n in fields(graphs[0][4][0])[1] if fields(n)[1][0] == b"input/x"]
    assert len(inp) == 1 and model.training
    model(zeroin.zeros(2, 1))                      # the hook that kept the batch is gone
    assert cb._graph_input is None
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), data, epochs=1,
        verbose=0, callbacks=[TensorBoard(tmp_path / "plain")])
    assert not any(4 in fields(r) for r in read_records(one_file(tmp_path / "plain")))


# --- add_tensor -----------------------------------------------------------------------------

_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "uint8", "int64",
           "bool", "complex64", "complex128"]


def test_add_tensor_as_torch(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    base = rng.standard_normal((2, 3)) * 50
    values = {d: (base + 1j * base[::-1] if d.startswith("complex") else base).astype(d)
              for d in _DTYPES}
    values["empty"] = np.zeros((0, 2), np.float32)

    def calls(w, T):
        for i, (name, a) in enumerate(values.items()):
            w.add_tensor(name, T(a), i, walltime=1.0)
        w.add_tensor("scalar", T(np.float64(2.5)), walltime=1.0)

    ours, theirs = _both(tmp_path, calls)
    assert len(ours) == len(theirs) == len(values) + 1
    for a, b in zip(ours, theirs):
        a.ClearField("source_metadata"), b.ClearField("source_metadata")
        assert a == b
        assert a.SerializeToString() == b.SerializeToString()
    t = fields(summaries(tmp_path / "z")["int8"][0][1][8][0])          # decoded here
    assert t[1] == [6] and [fields(d)[1][0] for d in fields(t[2][0])[2]] == [2, 3]
    raw, i, got = t[7][0], 0, []                     # packed varints, int64 two's complement
    while i < len(raw):
        v, i = _varint(raw, i)
        got.append(v - (1 << 64) if v >> 63 else v)
    assert got == values["int8"].reshape(-1).tolist() and min(got) < 0
    with SummaryWriter(tmp_path / "e") as w, pytest.raises(ValueError, match="uint16"):
        w.add_tensor("u16", zeroin.tensor(np.zeros(2, np.uint16)))
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    with TorchWriter(str(tmp_path / "te")) as w, pytest.raises(ValueError, match="uint16"):
        w.add_tensor("u16", torch.tensor(np.zeros(2, np.uint16)))
