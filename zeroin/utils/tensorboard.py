"""PyTorch's ``torch.utils.tensorboard.SummaryWriter``, without the tensorboard or protobuf
packages: the event files are written by hand (TFRecord framing with masked CRC32C, and
the few protobuf messages TensorBoard reads), so ``tensorboard --logdir runs`` shows them.

>>> import os
>>> from zeroin.utils.tensorboard import SummaryWriter
>>> with SummaryWriter("runs/demo") as w:
...     for step in range(100):
...         w.add_scalar("loss", 1 / (step + 1), step)
>>> [name.startswith("events.out.tfevents.") for name in os.listdir("runs/demo")]
[True]

Each writer appends whole records to its own new file
``events.out.tfevents.<time>.<host>.<pid>.<n><suffix>`` (TensorBoard reads event files
while they grow, so they are append-only, never replaced by an atomic rename). Records are
written synchronously, no background thread: they go to disk when ``max_queue`` are
pending, when ``flush_secs`` have passed at the next record, on :meth:`~SummaryWriter.flush`,
on :meth:`~SummaryWriter.close` and at interpreter exit. A crash loses at most the pending
records (TensorBoard reads the whole records before a torn last one).
"""
from __future__ import annotations

import itertools
import math
import os
import socket
import struct
import threading
import time
import weakref
import zlib

import numpy as np

__all__ = ["SummaryWriter", "FileWriter"]

_SOURCE = "zeroin.utils.tensorboard"


# --- CRC32C (Castagnoli) and TFRecord framing ---------------------------------------------

def _crc_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC32C of ``data`` (bytes), table-driven: the checksum TFRecord files use.

    Long data (images) is cut into about sqrt(n) equal blocks whose CRCs NumPy computes
    side by side, then joined: the CRC is linear, so appending a block of L bytes maps the
    running CRC through a fixed "L zero bytes" table before XOR-ing in the block's own."""
    if len(data) < 4096:
        return _crc32c_loop(data)
    a = np.frombuffer(bytes(data), np.uint8).copy()
    a[:4] ^= 0xFF                       # the initial 0xFFFFFFFF, folded into the data
    size = 1 << (len(a).bit_length() + 1) // 2           # block length, a power of two
    a = np.concatenate([np.zeros(-len(a) % size, np.uint8), a])   # zeros before: CRC 0
    table = np.asarray(_CRC_TABLE, np.uint32)
    crcs = np.zeros(len(a) // size, np.uint32)
    blocks = a.reshape(-1, size)
    for j in range(size):
        crcs = table[(crcs ^ blocks[:, j]) & 0xFF] ^ (crcs >> 8)
    z0, z1, z2, z3 = _zero_bytes_tables(size)
    crc = 0
    for c in crcs.tolist():
        crc = z0[crc & 0xFF] ^ z1[crc >> 8 & 0xFF] ^ z2[crc >> 16 & 0xFF] ^ z3[crc >> 24] ^ c
    return crc ^ 0xFFFFFFFF


def _crc32c_loop(data, crc=0xFFFFFFFF):
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


_ZERO_TABLES = {}


def _zero_bytes_tables(size):
    """Four 256-entry tables: the CRC state ``v << 8k`` becomes after ``size`` zero bytes."""
    if size not in _ZERO_TABLES:
        table = np.asarray(_CRC_TABLE, np.uint32)
        v = np.arange(256, dtype=np.uint32)
        s = np.concatenate([v << np.uint32(8 * k) for k in range(4)])
        for _ in range(size):
            s = table[s & 0xFF] ^ (s >> 8)
        _ZERO_TABLES[size] = [s[256 * k:256 * (k + 1)].tolist() for k in range(4)]
    return _ZERO_TABLES[size]


def masked_crc32c(data):
    """TFRecord's masked CRC32C: rotate right by 15 bits and add 0xa282ead8."""
    x = crc32c(data)
    return (((x >> 15) | (x << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _record(data):
    """One TFRecord: uint64 length, masked CRC of it, the data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


# --- protobuf wire format (proto3: scalar fields at their default value are left out) -----

def _varint(n):
    n &= 0xFFFFFFFFFFFFFFFF                      # negative int64: two's complement, 10 bytes
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field, wire):
    return _varint(field << 3 | wire)


def _int(field, n):
    n = int(n)
    return _key(field, 0) + _varint(n) if n else b""


def _double(field, x):
    b = struct.pack("<d", float(x))
    return _key(field, 1) + b if b != bytes(8) else b""


def _f32(x):
    """``x`` as little-endian float32 bytes: inf past float32's range, as protobuf."""
    with np.errstate(over="ignore"):
        return np.array(float(x), "<f8").astype("<f4").tobytes()


def _float(field, x):
    """A float field in a oneof (always written)."""
    return _key(field, 5) + _f32(x)


def _bytes(field, b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return _key(field, 2) + _varint(len(b)) + b


def _opt_bytes(field, b):
    return _bytes(field, b) if b else b""


def _packed_doubles(field, values):
    a = np.asarray(values, dtype="<f8")
    return _bytes(field, a.tobytes()) if a.size else b""


def _event(wall_time, step=None, *, file_version=None, graph_def=None, summary=None,
           session_log=None, tagged_run_metadata=None, source=None):
    """An ``Event``: wall_time 1, step 2, then one of file_version 3, graph_def 4,
    summary 5, session_log 7, tagged_run_metadata 8; source_metadata 10."""
    out = _double(1, wall_time) + (_int(2, step) if step is not None else b"")
    if file_version is not None:
        out += _bytes(3, file_version)
    if graph_def is not None:
        out += _bytes(4, graph_def)
    if summary is not None:
        out += _bytes(5, summary)
    if session_log is not None:
        out += _bytes(7, _int(1, session_log))
    if tagged_run_metadata is not None:
        out += _bytes(8, tagged_run_metadata)
    if source is not None:
        out += _bytes(10, _bytes(1, source))
    return out


def _summary_value(tag, *, simple_value=None, image=None, histo=None, audio=None,
                   tensor=None, metadata=None):
    """A ``Summary`` holding one ``Summary.Value`` (tag 1, simple_value 2, image 4,
    histo 5, audio 6, tensor 8, metadata 9); joined, such bytes are one Summary of
    several values."""
    v = _opt_bytes(1, tag)
    if simple_value is not None:
        v += _float(2, simple_value)
    for field, msg in ((4, image), (5, histo), (6, audio), (8, tensor), (9, metadata)):
        if msg is not None:
            v += _bytes(field, msg)
    return _bytes(1, v)


def _plugin_metadata(name, content=b""):
    """``SummaryMetadata`` with ``plugin_data`` (plugin_name 1, content 2)."""
    return _bytes(1, _bytes(1, name) + _opt_bytes(2, content))


# --- values in: zeroin tensors, NumPy arrays, Python numbers -------------------------------

def _np(x, what):
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return np.asarray(x.detach().numpy())
    raise NotImplementedError(f"SummaryWriter.{what}: got {type(x).__name__}, but a NumPy "
                              f"array, a zeroin tensor or a Python number is expected; "
                              f"wrap a list in np.asarray(...)")


def _scalar_summary(tag, value, what="add_scalar", new_style=False, double_precision=False):
    a = _np(value, what).squeeze()
    if a.ndim != 0:
        raise AssertionError(f"SummaryWriter.{what}({tag!r}): the value must hold one "
                             f"element, got shape {a.shape}; log .item() or a reduction")
    x = float(a)
    if not new_style:
        return _summary_value(tag, simple_value=x)
    if double_precision:     # TensorProto: dtype 1 (DT_DOUBLE = 2), double_val 6
        tensor = _int(1, 2) + _bytes(6, struct.pack("<d", x))
    else:                    # DT_FLOAT = 1, float_val 5
        tensor = _int(1, 1) + _bytes(5, _f32(x))
    return _summary_value(tag, tensor=tensor, metadata=_plugin_metadata("scalars"))


def _default_bins():
    """TensorFlow's histogram bucket limits, as torch's SummaryWriter makes them."""
    v, buckets = 1e-12, []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    return [-b for b in buckets[::-1]] + [0] + buckets


def _histogram(values, bins, max_bins=None):
    """``HistogramProto`` bytes (min 1, max 2, num 3, sum 4, sum_squares 5, bucket_limit 6,
    bucket 7), with torch's trimming of the empty buckets at both ends."""
    values = values.astype(float).reshape(-1)
    if values.size == 0:
        raise ValueError("SummaryWriter.add_histogram: the input has no element")
    counts, limits = np.histogram(values, bins=bins)
    if max_bins is not None and len(counts) > max_bins:
        sub = len(counts) // max_bins
        if len(counts) % sub:
            counts = np.pad(counts, [[0, sub - len(counts) % sub]])
        counts = counts.reshape(-1, sub).sum(axis=-1)
        limits = np.concatenate([limits[:-1:sub], limits[-1:]])
    cum = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum, [0, cum[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("SummaryWriter.add_histogram: the histogram is empty (are all the "
                         "values outside the bins?)")
    return _histogram_raw(values.min(), values.max(), len(values), values.sum(),
                          values.dot(values), limits, counts)


def _histogram_raw(mn, mx, num, total, sum_squares, limits, counts):
    return (_double(1, mn) + _double(2, mx) + _double(3, num) + _double(4, total)
            + _double(5, sum_squares) + _packed_doubles(6, limits)
            + _packed_doubles(7, counts))


# --- images: torch's layout conversions and a small PNG encoder ----------------------------

def _make_grid(imgs, ncols=8):
    """N1HW or N3HW images side by side, 8 a row: one 3HW image."""
    if imgs.shape[1] == 1:
        imgs = np.concatenate([imgs, imgs, imgs], 1)
    if imgs.ndim != 4 or imgs.shape[1] != 3:
        raise AssertionError(f"SummaryWriter.add_images: the images must have 1 or 3 "
                             f"channels, got shape {imgs.shape} in NCHW")
    n, _, h, w = imgs.shape
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    canvas = np.zeros((3, h * nrows, w * ncols), dtype=imgs.dtype)
    for i in range(n):
        y, x = divmod(i, ncols)
        canvas[:, y * h:(y + 1) * h, x * w:(x + 1) * w] = imgs[i]
    return canvas


def _to_hwc(a, dataformats, what):
    if len(set(dataformats)) != len(dataformats):
        raise AssertionError(f"SummaryWriter.{what}: dataformats {dataformats!r} names a "
                             f"dimension twice")
    if a.ndim != len(dataformats):
        raise AssertionError(f"SummaryWriter.{what}: the image has shape {a.shape} "
                             f"({a.ndim} dims) but dataformats={dataformats!r} has "
                             f"{len(dataformats)}; pass the dataformats that match")
    fmt = dataformats.upper()
    if len(fmt) == 4:
        return _make_grid(a.transpose([fmt.find(c) for c in "NCHW"])).transpose(1, 2, 0)
    if len(fmt) == 3:
        a = a.transpose([fmt.find(c) for c in "HWC"])
        return np.concatenate([a, a, a], 2) if a.shape[2] == 1 else a
    a = a.transpose([fmt.find(c) for c in "HW"])
    return np.stack([a, a, a], 2)


def _png(img):
    """PNG bytes of an HxWxC uint8 image (C = 1, 2, 3 or 4), zlib + struct only."""
    h, w, c = img.shape
    kind = {1: 0, 2: 4, 3: 2, 4: 6}[c]

    def chunk(name, data):
        return (struct.pack(">I", len(data)) + name + data
                + struct.pack(">I", zlib.crc32(name + data) & 0xFFFFFFFF))

    rows = np.concatenate([np.zeros((h, 1), np.uint8),
                           np.ascontiguousarray(img, np.uint8).reshape(h, w * c)], 1)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, kind, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def _image_summary(tag, img, dataformats, what):
    """``Summary.Image`` (height 1, width 2, colorspace 3, encoded_image_string 4): floats
    are taken in [0, 1] and scaled by 255, uint8 as it is (torch's rule)."""
    a = _np(img, what)
    a = _to_hwc(a, dataformats, what)
    scale = 1 if a.dtype == np.uint8 else 255
    a = (a.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    h, w, c = a.shape
    image = _int(1, h) + _int(2, w) + _int(3, c) + _bytes(4, _png(a))
    return _summary_value(tag, image=image)


def _figure_to_image(figures, close=True):
    """Render Matplotlib figure(s) to CHW (NCHW for a list) uint8 RGB arrays."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from ..viz.fonts import fallback

    def render(fig):
        canvas = FigureCanvasAgg(fig)
        with fallback(fig):            # labels in any script: a font that has them
            canvas.draw()
        w, h = fig.canvas.get_width_height()
        data = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8).reshape(h, w, 4)
        if close:
            plt.close(fig)
        return np.moveaxis(data[:, :, :3], 2, 0)

    if isinstance(figures, list):
        return np.stack([render(f) for f in figures])
    return render(figures)


def _text_summary(tag, text):
    """The text plugin's tensor: DT_STRING (7), shape [1], the UTF-8 string."""
    tensor = _int(1, 7) + _bytes(2, _bytes(2, _int(1, 1))) + _bytes(8, text.encode("utf-8"))
    return _summary_value(tag + "/text_summary", tensor=tensor,
                          metadata=_plugin_metadata("text"))


# --- precision-recall curves ----------------------------------------------------------------

def _pr_curve(labels, predictions, num_thresholds, weights=None):
    """TensorBoard's pr_curves plugin's rows tp, fp, tn, fn, precision, recall over
    ``num_thresholds`` thresholds in [0, 1] (as torch's ``compute_curve``)."""
    weights = 1.0 if weights is None else weights
    buckets = np.int32(np.floor(predictions * (num_thresholds - 1)))
    labels = labels.astype(np.float64)
    rng = (0, num_thresholds - 1)
    tp_b, _ = np.histogram(buckets, bins=num_thresholds, range=rng, weights=labels * weights)
    fp_b, _ = np.histogram(buckets, bins=num_thresholds, range=rng,
                           weights=(1.0 - labels) * weights)
    tp, fp = np.cumsum(tp_b[::-1])[::-1], np.cumsum(fp_b[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _pr_summary(tag, data, num_thresholds):
    """The 6 x n float tensor with ``PrCurvePluginData`` (version 1 = 0, num_thresholds 2)."""
    data = np.asarray(data, dtype=np.float64)
    shape = b"".join(_bytes(2, _int(1, n)) for n in data.shape)
    with np.errstate(over="ignore"):
        values = data.reshape(-1).astype("<f4").tobytes()
    tensor = _int(1, 1) + _bytes(2, shape) + _opt_bytes(5, values)
    return _summary_value(tag, tensor=tensor,
                          metadata=_plugin_metadata("pr_curves", _int(2, num_thresholds)))


# --- the projector's files (add_embedding) -------------------------------------------------

def _write_file(path, data):
    from .._io import atomic_open
    with atomic_open(path, op="SummaryWriter.add_embedding") as f:
        f.write(data)


def _pbtxt_string(text):
    """A string in protobuf's text format (UTF-8 kept, as ``text_format`` writes it)."""
    special = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "'": "\\'",
               "\\": "\\\\"}
    return '"' + "".join(special.get(ch) or ("\\%03o" % ord(ch) if ord(ch) < 32 or ord(ch) == 127
                                             else ch) for ch in text) + '"'


def _embedding_info(has_metadata, label_img, subdir, global_step, tag):
    """One ``embeddings { ... }`` entry of projector_config.pbtxt, its fields in number
    order (tensor_name 1, metadata_path 2, sprite 5, tensor_path 8)."""
    lines = [f"  tensor_name: {_pbtxt_string(f'{tag}:{str(global_step).zfill(5)}')}"]
    if has_metadata:
        lines.append(f"  metadata_path: {_pbtxt_string(subdir + '/metadata.tsv')}")
    if label_img is not None:
        lines += ["  sprite {", f"    image_path: {_pbtxt_string(subdir + '/sprite.png')}",
                  f"    single_image_dim: {label_img.shape[3]}",
                  f"    single_image_dim: {label_img.shape[2]}", "  }"]
    lines.append(f"  tensor_path: {_pbtxt_string(subdir + '/tensors.tsv')}")
    return "embeddings {\n" + "\n".join(lines) + "\n}\n"


def _sprite(label_img):
    """The label images in a square grid, as sprite.png (torch's layout)."""
    grid = _make_grid(label_img, ncols=math.ceil(label_img.shape[0] ** 0.5))
    square = np.zeros((grid.shape[2], grid.shape[2], 3))
    square[:grid.shape[1]] = grid.transpose(1, 2, 0)
    return _png(np.uint8((square * 255).clip(0, 255)))


def _encode(tag):
    """A tag as a folder name: ``%``, ``/`` and ``\\`` percent-encoded (as torch)."""
    return tag.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")


# --- hparams plugin -------------------------------------------------------------------------

def _pb_value(v):
    """``google.protobuf.Value``: string_value 3 or number_value 2 (bools too, as torch)."""
    if isinstance(v, str):
        return _bytes(3, v)
    return _key(2, 1) + struct.pack("<d", float(v))


def _hparams_summary(tag, data):
    """``HParamsPluginData`` (version 1 = 0, then experiment 2, session_start_info 3 or
    session_end_info 4) inside the hparams plugin's metadata of an otherwise empty value."""
    return _summary_value(tag, metadata=_plugin_metadata("hparams", data))


def _hparams(hparam_dict, metric_dict, hparam_domain_discrete=None):
    """The three summaries of ``add_hparams``: experiment, session start, session end."""
    from .._tensor import Tensor
    domains = hparam_domain_discrete or {}
    if not isinstance(domains, dict):
        raise TypeError("SummaryWriter.add_hparams: hparam_domain_discrete should be a "
                        "dictionary, nothing logged")
    for k, v in domains.items():
        if k not in hparam_dict or not isinstance(v, list) or \
                not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"SummaryWriter.add_hparams: hparam_domain_discrete[{k!r}] "
                            f"should be a list of the type of hparam_dict[{k!r}]")
    infos, start = b"", b""
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, Tensor):
            v = float(_np(v, "add_hparams").reshape(-1)[0])
        if not isinstance(v, (int, float, str)):
            raise ValueError(f"SummaryWriter.add_hparams: hparam {k!r} is a "
                             f"{type(v).__name__}; a value should be one of int, float, "
                             f"str, bool, or a tensor")
        start += _bytes(1, _bytes(1, k) + _bytes(2, _pb_value(v)))     # map entry
        dtype = 1 if isinstance(v, str) else 3          # DATA_TYPE_STRING / _FLOAT64
        domain = b"".join(_bytes(1, _pb_value(d)) for d in domains.get(k, ()))
        infos += _bytes(4, _bytes(1, k) + _int(4, dtype)
                        + (_bytes(5, domain) if k in domains else b""))
    metrics = b"".join(_bytes(5, _bytes(1, _bytes(2, k))) for k in metric_dict)
    return (_hparams_summary("_hparams_/experiment", _bytes(2, infos + metrics)),
            _hparams_summary("_hparams_/session_start_info", _bytes(3, start)),
            _hparams_summary("_hparams_/session_end_info", _bytes(4, _int(1, 1))))


# --- add_tensor: any tensor, as torch's TensorProto ----------------------------------------

_TENSOR_PROTO = {       # NumPy dtype: (DataType, TensorProto field, how the values are packed)
    "float16": (19, 13, "half"), "float32": (1, 5, "<f4"), "float64": (2, 6, "<f8"),
    "int8": (6, 7, "varint"), "int16": (5, 7, "varint"), "int32": (3, 7, "varint"),
    "uint8": (4, 16, "varint"), "int64": (9, 10, "varint"), "bool": (10, 11, "varint"),
    "complex64": (8, 9, "<f4"), "complex128": (18, 12, "<f8"),
}


def _tensor_summary(tag, value):
    """The whole tensor as a ``TensorProto`` (dtype 1, tensor_shape 2, then the values in
    the field of its type) for the tensor plugin, as torch's ``tensor_proto``: float16
    values go to half_val as the bits of their float32 value (torch's ``half_to_int``),
    complex ones as (real, imaginary) pairs."""
    a = _np(value, "add_tensor")
    if a.nbytes >= 1 << 31:
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    if a.dtype.name not in _TENSOR_PROTO:
        raise ValueError(f"{tag} has unsupported tensor dtype {a.dtype.name}; convert it "
                         f"to one of {sorted(_TENSOR_PROTO)}")
    dtype, field, packing = _TENSOR_PROTO[a.dtype.name]
    flat = a.reshape(-1)
    if packing == "half":
        values = b"".join(_varint(v) for v in flat.astype("<f4").view("<i4").tolist())
    elif packing == "varint":
        values = b"".join(_varint(v) for v in flat.astype(np.int64).tolist())
    elif a.dtype.kind == "c":
        values = np.stack([flat.real, flat.imag], -1).astype(packing).tobytes()
    else:
        values = flat.astype(packing).tobytes()
    shape = b"".join(_bytes(2, _int(1, n)) for n in a.shape)
    tensor = _int(1, dtype) + _bytes(2, shape) + _opt_bytes(field, values)
    return _summary_value(tag, tensor=tensor, metadata=_plugin_metadata("tensor"))


# --- audio, video (an animated GIF), meshes, custom scalars, boxes --------------------------

def _audio_summary(tag, snd, sample_rate):
    """``Summary.Audio`` (sample_rate 1, num_channels 2, length_frames 3,
    encoded_audio_string 4, content_type 5): mono 16-bit WAV, as torch's."""
    import io
    import wave
    a = _np(snd, "add_audio").squeeze()
    if a.size and np.abs(a).max() > 1:
        print("warning: audio amplitude out of range, auto clipped.")     # as torch
        a = a.clip(-1, 1)
    if a.ndim != 1:
        raise AssertionError(f"SummaryWriter.add_audio({tag!r}): the sound must be one "
                             f"channel of samples, shape (1, L) or (L,), got "
                             f"{_np(snd, 'add_audio').shape}")
    a = (a * np.iinfo(np.int16).max).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(a.tobytes())
    rate = _float(1, sample_rate) if sample_rate else b""
    audio = (rate + _int(2, 1) + _int(3, a.shape[-1]) + _bytes(4, buf.getvalue())
             + _bytes(5, "audio/wav"))
    return _summary_value(tag, audio=audio)


def _prepare_video(v):
    """B x T x C x H x W: each frame's B images in a grid (rows a power of two, the batch
    padded with black to a power of two), T x H' x W' x C, as torch's ``_prepare_video``."""
    if v.ndim != 5:
        raise ValueError(f"SummaryWriter.add_video: the video must be 5-D (N, T, C, H, W), "
                         f"got shape {v.shape}; add a batch dimension with [None]")
    b, t, c, h, w = v.shape
    if v.dtype == np.uint8:
        v = np.float32(v) / 255.0
    if b & (b - 1):
        v = np.concatenate((v, np.zeros((2 ** b.bit_length() - b, t, c, h, w))), axis=0)
    rows = 2 ** ((b.bit_length() - 1) // 2)
    cols = v.shape[0] // rows
    v = v.reshape(rows, cols, t, c, h, w).transpose(2, 0, 4, 1, 5, 3)
    return v.reshape(t, rows * h, cols * w, c)


def _lzw(indices, min_size=8):
    """GIF's variable-length LZW code of a sequence of palette indices, as bytes in
    sub-blocks of at most 255 (a clear code starts, and restarts a full table)."""
    clear, end = 1 << min_size, (1 << min_size) + 1
    out, acc, nbits = bytearray(), 0, 0
    table, nxt, size = {}, end + 1, min_size + 1
    codes = [(clear, size)]
    w = indices[0]
    for k in indices[1:]:
        c = table.get(w << 8 | k)
        if c is not None:
            w = c
            continue
        codes.append((w, size))
        table[w << 8 | k] = nxt
        nxt += 1
        if nxt > 1 << size and size < 12:
            size += 1
        if nxt == 4096:                   # the table is full: start again
            codes.append((clear, size))
            table, nxt, size = {}, end + 1, min_size + 1
        w = k
    codes += [(w, size), (end, size)]
    for code, n in codes:                 # packed least significant bit first
        acc |= code << nbits
        nbits += n
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc)
    return b"".join(bytes([len(out[i:i + 255])]) + out[i:i + 255]
                    for i in range(0, len(out), 255)) + b"\x00"


def _palette(frame):
    """(palette indices, 256 x 3 palette) of an H x W x C uint8 frame: its own colours
    when there are at most 256, else the 8 x 8 x 4 levels of R, G, B, rounded."""
    rgb = (np.repeat(frame, 3, 2) if frame.shape[2] == 1 else frame[:, :, :3]).reshape(-1, 3)
    keys = rgb.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], np.uint32)
    colors, idx = np.unique(keys, return_inverse=True)
    if len(colors) <= 256:
        pal = np.stack([colors >> 16, colors >> 8 & 0xFF, colors & 0xFF], 1)
    else:
        levels = np.array([7, 7, 3])
        q = np.rint(rgb * levels / 255.0).astype(np.int64)
        idx = q[:, 0] << 5 | q[:, 1] << 2 | q[:, 2]
        grid = np.stack(np.meshgrid(*[np.arange(n + 1) for n in levels], indexing="ij"), -1)
        pal = np.rint(grid.reshape(-1, 3) * 255.0 / levels)
    pal = np.concatenate([pal, np.zeros((256 - len(pal), 3))]).astype(np.uint8)
    return idx.reshape(-1).tolist(), pal


def _gif(frames, fps):
    """An animated GIF (looping, ``1/fps`` s a frame, a palette per frame) of T x H x W x C
    uint8 frames, C = 1 or 3 (4: the alpha is dropped)."""
    t, h, w, c = frames.shape
    if c not in (1, 3, 4):
        raise ValueError(f"SummaryWriter.add_video: frames need 1, 3 or 4 channels, got {c}")
    if not fps > 0:
        raise ValueError(f"SummaryWriter.add_video: fps must be positive, got {fps}")
    delay = max(1, round(100 / fps))                           # in 1/100 s
    out = [b"GIF89a", struct.pack("<HHBBB", w, h, 0, 0, 0),
           b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"]     # loop forever
    for frame in frames:
        idx, pal = _palette(frame)
        out += [b"\x21\xf9\x04\x00" + struct.pack("<H", delay) + b"\x00\x00",
                b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0x87), pal.tobytes(),
                b"\x08", _lzw(idx)]
    return b"".join(out) + b"\x3b"


def _video_summary(tag, vid, fps):
    """The video as ``Summary.Image`` holding an animated GIF (torch's, via moviepy)."""
    v = _prepare_video(_np(vid, "add_video"))
    v = (v.astype(np.float32) * 255).clip(0, 255).astype(np.uint8)
    t, h, w, c = v.shape
    image = _int(1, h) + _int(2, w) + _int(3, c) + _bytes(4, _gif(v, fps))
    return _summary_value(tag, image=image)


_MESH_PARTS = (("vertices", 1, "VERTEX"), ("faces", 2, "FACE"), ("colors", 3, "COLOR"))


def _mesh_summary(tag, parts, config_dict):
    """One Summary with a float tensor per given part (``<tag>_VERTEX``, ``_FACE``,
    ``_COLOR``), each with the mesh plugin's ``MeshPluginData`` (name 2, content_type 3,
    json_config 5, shape 6, components 7)."""
    import json
    config = "{}" if config_dict is None else json.dumps(config_dict, sort_keys=True)
    given = [(a, kind, name) for a, (_, kind, name) in zip(parts, _MESH_PARTS)
             if a is not None]
    components = sum(1 << kind for _, kind, _ in given)
    out = b""
    for a, kind, name in given:
        a = _np(a, "add_mesh")
        if a.ndim != 3:
            raise ValueError(f"SummaryWriter.add_mesh({tag!r}): {name.lower()} should be of "
                             f"shape BxNx3, but got {a.shape}")
        shape = b"".join(_bytes(2, _int(1, n)) for n in a.shape)
        with np.errstate(over="ignore"):
            values = a.reshape(-1).astype("<f4").tobytes()
        tensor = _int(1, 1) + _bytes(2, shape) + _opt_bytes(5, values)
        content = (_bytes(2, tag) + _int(3, kind) + _bytes(5, config)
                   + _opt_bytes(6, b"".join(_varint(n) for n in a.shape))
                   + _int(7, components))
        out += _summary_value(f"{tag}_{name}", tensor=tensor,
                              metadata=_plugin_metadata("mesh", content))
    return out


def _custom_scalars_summary(layout):
    """The custom_scalars plugin's ``Layout`` (category 2: title 1, chart 2; chart: title
    1, multiline 2 (tag 1) or margin 3 (series 1: value 1, lower 2, upper 3)) as the
    string tensor ``custom_scalars__config__``."""
    categories = b""
    for title, charts in layout.items():
        body = _opt_bytes(1, title)
        for name, (kind, tags) in charts.items():
            if kind == "Margin":
                if len(tags) != 3:
                    raise AssertionError(f"SummaryWriter.add_custom_scalars: the Margin "
                                         f"chart {name!r} needs 3 tags (value, lower, "
                                         f"upper), got {len(tags)}")
                chart = _bytes(3, _bytes(1, b"".join(_opt_bytes(i + 1, t)
                                                     for i, t in enumerate(tags))))
            else:
                chart = _bytes(2, b"".join(_bytes(1, t) for t in tags))
            body += _bytes(2, _opt_bytes(1, name) + chart)
        categories += _bytes(2, body)
    tensor = _int(1, 7) + _bytes(2, b"") + _bytes(8, categories)
    return _summary_value("custom_scalars__config__", tensor=tensor,
                          metadata=_plugin_metadata("custom_scalars"))


def _paint_box(img, box, color):
    """Draw one box (x1, y1, x2, y2) in place as PIL's 2-pixel ``ImageDraw.line`` around
    it draws it (what torch calls): coordinates truncated to integers; an edge drawn left
    to right covers its row and the next, right to left the row before, likewise down/up
    for columns; a box shrunk to a point is that pixel."""
    h, w = img.shape[:2]
    l, t, r, b = (int(v) for v in box)

    def fill(y0, y1, x0, x1):                 # rows y0..y1, columns x0..x1, clipped
        img[max(y0, 0):max(y1 + 1, 0), max(x0, 0):max(x1 + 1, 0)] = color

    if l == r and t == b:
        if 0 <= t < h and 0 <= l < w:
            img[t, l] = color
        return
    for x, y0, y1 in ((l, t, b), (r, b, t)):               # down the left, up the right
        if y0 != y1:
            x0 = x if y1 > y0 else x - 1
            fill(min(y0, y1), max(y0, y1), x0, x0 + 1)
    for y, x0, x1 in ((b, l, r), (t, r, l)):               # along the bottom, back the top
        if x0 != x1:
            y0 = y if x1 > x0 else y - 1
            fill(y0, y0 + 1, min(x0, x1), max(x0, x1))


def _boxes_with_pil(img, boxes, labels, rescale):
    """Labels and rescaling need PIL's default font and Lanczos filter, as torch's."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("SummaryWriter.add_image_with_boxes: labels= and rescale= need "
                          "Pillow (pip install pillow), as in torch") from None
    image, font = Image.fromarray(img), ImageFont.load_default()
    draw = ImageDraw.Draw(image)
    for box, label in zip(boxes, labels or [None] * len(boxes)):
        l, t, r, b = box
        draw.line([(l, t), (l, b), (r, b), (r, t), (l, t)], width=2, fill="Red")
        if label:
            x0, y0, x1, y1 = font.getbbox(label)
            margin = np.ceil(0.05 * (y1 - y0))
            draw.rectangle([(l, b - (y1 - y0) - 2 * margin), (l + x1 - x0, b)], fill="Red")
            draw.text((l + margin, b - (y1 - y0) - margin), label, fill="black", font=font)
    h, w = img.shape[:2]
    image = image.resize((int(w * rescale), int(h * rescale)), Image.Resampling.LANCZOS)
    return np.asarray(image)


def _boxes_summary(tag, img, boxes, rescale, dataformats, labels):
    """The image with every box drawn in red (torch's ``image_boxes``); the Image's height
    and width are the image's before ``rescale``, as torch's."""
    a = _to_hwc(_np(img, "add_image_with_boxes"), dataformats, "add_image_with_boxes")
    scale = 1 if a.dtype == np.uint8 else 255
    a = (a.astype(np.float32) * scale).clip(0, 255).astype(np.uint8)
    boxes = _np(boxes, "add_image_with_boxes")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"SummaryWriter.add_image_with_boxes({tag!r}): boxes should be "
                         f"N x 4 rows (xmin, ymin, xmax, ymax), got shape {boxes.shape}")
    h, w, c = a.shape
    if labels or rescale != 1:
        out = _boxes_with_pil(a, boxes, labels, rescale)
    else:
        out = a.copy()
        for box in boxes:
            _paint_box(out, box, np.array([255, 0, 0, 255][:c], np.uint8))
    image = _int(1, h) + _int(2, w) + _int(3, c) + _bytes(4, _png(out))
    return _summary_value(tag, image=image)


# --- add_graph: the model's recorded graph as a GraphDef ------------------------------------

def _attrs(text, shape=None):
    """NodeDef's attr map: ``attr`` (a string, torch's), ``_output_shapes`` (a list of one
    TensorShapeProto) when the node makes a tensor."""
    out = _bytes(5, _bytes(1, "attr") + _bytes(2, _bytes(2, text)))
    if shape is not None:
        dims = b"".join(_bytes(2, _int(1, n)) for n in shape)
        out += _bytes(5, _bytes(1, "_output_shapes") + _bytes(2, _bytes(1, _bytes(7, dims))))
    return out


def _node(name, op, inputs=(), text="{}", shape=None):
    """A ``NodeDef``: name 1, op 2, input 3, attr 5."""
    return (_bytes(1, name) + _bytes(2, op) + b"".join(_bytes(3, i) for i in inputs)
            + _attrs(text, shape))


def _module_calls(model, inputs):
    """Run ``model`` on ``inputs`` under :func:`zeroin.nn._calls.record`: (outputs,
    parameter names, buffer names, calls, scopes) where names map id(tensor) to the owning
    module's scope and the tensor's name, and scopes map each call to its scope string."""
    from .. import enable_grad
    from ..nn._calls import flat_tensors, record
    scopes = {"": type(model).__name__}
    for name, m in model.named_modules():
        if name:
            parent, _, last = name.rpartition(".")
            scopes[name] = f"{scopes[parent]}/{type(m).__name__}[{last}]"
    params, buffers = {}, {}
    for name, m in model.named_modules():
        for kind, named in ((params, m.named_parameters), (buffers, m.named_buffers)):
            for pname, p in named(recurse=False):
                kind.setdefault(id(p), f"{scopes[name]}/{pname}")
    training = model.training
    try:
        model.train(False)
        with enable_grad(), record(model) as calls:
            outputs = flat_tensors(model(*inputs))
    finally:
        model.train(training)
    return outputs, params, buffers, calls, scopes


def _graph_def(model, input_to_model, verbose=False):
    """The ``GraphDef`` (node 1, versions 4) of ``model``'s graph on ``input_to_model``:
    one node per input, parameter, buffer, constant and recorded op, named by module scope
    (``Net/Linear[fc1]/linear``), and one per output; walked by :func:`zeroin.graph.toposort`."""
    from .. import graph
    from .._tensor import Tensor
    given = input_to_model if isinstance(input_to_model, (list, tuple)) else [input_to_model]
    if not given or not all(isinstance(x, Tensor) for x in given):
        raise TypeError(f"SummaryWriter.add_graph: input_to_model should be a tensor or a "
                        f"tuple of tensors, got {type(input_to_model).__name__}")
    inputs = [x.detach().requires_grad_(x.is_floating_point()) for x in given]
    from ..nn._calls import owners
    outputs, params, buffers, calls, scopes = _module_calls(model, inputs)
    order = graph.toposort(outputs, include_leaves=True)
    scope = {k: scopes[c.path] for k, c in owners(order, calls).items()}
    root = type(model).__name__
    arg_names = _arg_names(model, len(inputs))
    names, used, nodes = {}, set(), []

    def unique(name):
        n, k = name, 0
        while n in used:
            k += 1
            n = f"{name}_{k}"
        used.add(n)
        return n

    consumer_scope = {}
    for t in order:
        for p in graph.parents(t):
            consumer_scope.setdefault(id(p), scope.get(id(t), root))
    for i, x in enumerate(inputs):
        names[id(x)] = unique(f"input/{arg_names[i]}")
        nodes.append((names[id(x)], "IO Node", (), "", x.shape))
    for t in order:
        k = id(t)
        if k in names:
            continue
        if t.grad_fn is not None:
            names[k] = unique(f"{scope.get(k, root)}/{t.grad_fn.name}")
            nodes.append((names[k], f"zeroin::{t.grad_fn.name}",
                          [names[id(p)] for p in t.grad_fn.inputs], "{}", t.shape))
            continue
        kind = "Parameter" if k in params else "Buffer" if k in buffers else "Constant"
        names[k] = unique(params.get(k) or buffers.get(k)
                          or f"{consumer_scope.get(k, root)}/constant")
        nodes.append((names[k], kind, (), "{}", t.shape))
    for i, y in enumerate(outputs):
        nodes.append((unique(f"output/output.{i + 1}"), "IO Node", [names[id(y)]], "",
                      y.shape))
    if verbose:
        for name, op, ins, _, shape in nodes:
            print(f"{name} = {op}({', '.join(ins)}): {list(shape)}")
    return b"".join(_bytes(1, _node(*n)) for n in nodes) + _bytes(4, _int(1, 22))


def _arg_names(model, n):
    """The names of ``model.forward``'s first ``n`` arguments (``input``, ``input.2`` ...
    past its named ones, e.g. for ``forward(*args)``)."""
    import inspect
    try:
        args = [p.name for p in inspect.signature(model.forward).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        args = []
    return args[:n] + ["input" if i == 0 else f"input.{i + 1}" for i in range(len(args), n)]


# --- the writers ----------------------------------------------------------------------------

_uid = itertools.count()


def _write_out(f, pending):
    """Append the pending records to ``f`` and hand them to the OS (also at exit)."""
    if pending and not f.closed:
        f.write(b"".join(pending))
        f.flush()
    pending.clear()


def _close_file(f, pending):
    _write_out(f, pending)
    f.close()


class FileWriter:
    """One event file in ``log_dir``; :class:`SummaryWriter` makes them.

    It starts with the ``file_version`` event TensorBoard expects and appends one record
    per event (see the module's notes on when records reach the disk).
    """

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self._logdir = str(log_dir)
        self.max_queue, self.flush_secs = max_queue, flush_secs
        self.filename_suffix = filename_suffix
        self._open()

    def _open(self):
        os.makedirs(self._logdir, exist_ok=True)
        name = "events.out.tfevents.%010d.%s.%s.%s" % (
            time.time(), socket.gethostname(), os.getpid(), next(_uid))
        self.path = os.path.join(self._logdir, name) + self.filename_suffix
        self._file = open(self.path, "ab")              # append-only, as TensorBoard reads
        self._pending, self._last_flush = [], time.monotonic()
        self._lock = threading.Lock()                   # records from several threads
        self._finalizer = weakref.finalize(self, _close_file, self._file, self._pending)
        self._add(_event(time.time(), file_version="brain.Event:2", source=_SOURCE))
        self.flush()

    def get_logdir(self):
        """The folder the event file is in."""
        return self._logdir

    def _add(self, event):
        if self._file.closed:
            raise ValueError(f"FileWriter: the event file {self.path} is closed; call "
                             f"reopen() first")
        record = _record(event)
        with self._lock:
            self._pending.append(record)
            due = len(self._pending) >= self.max_queue or \
                time.monotonic() - self._last_flush >= self.flush_secs
        if due:
            self.flush()

    def _add_summary(self, summary, global_step=None, walltime=None):
        self._add(_event(time.time() if walltime is None else walltime, global_step,
                         summary=summary))

    def flush(self):
        """Write the pending records to the event file."""
        with self._lock:
            _write_out(self._file, self._pending)
            self._last_flush = time.monotonic()

    def close(self):
        """Flush and close the event file (closing twice does nothing)."""
        with self._lock:
            self._finalizer()

    def reopen(self):
        """After :meth:`close`, start a new event file in the same folder."""
        if self._file.closed:
            self._open()


class SummaryWriter:
    """Write scalars, histograms, images, video, audio, text, meshes, curves, hyperparameters
    and the model's graph to TensorBoard event files in ``log_dir``.

    As torch's: ``log_dir`` defaults to ``runs/<Mon DD_HH-MM-SS>_<hostname><comment>``;
    ``purge_step`` hides the events at or after that step left by a crashed run in the
    same ``log_dir``; ``max_queue`` and ``flush_secs`` bound how many records and how long
    records wait before being written. Values may be zeroin tensors, NumPy arrays or
    Python numbers. Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        if not log_dir:
            from datetime import datetime
            log_dir = os.path.join("runs", datetime.now().strftime("%b%d_%H-%M-%S") + "_"
                                   + socket.gethostname() + comment)
        self.log_dir, self.purge_step = log_dir, purge_step
        self.max_queue, self.flush_secs = max_queue, flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        self.default_bins = _default_bins()
        self._projector = []                             # add_embedding's entries

    def _get_file_writer(self):
        """The main file writer, made anew after :meth:`close` (as torch's)."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                step, now = self.purge_step, time.time()
                self.file_writer._add(_event(now, step, file_version="brain.Event:2"))
                self.file_writer._add(_event(now, step, session_log=1))     # START
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        """The folder the event files are written to."""
        return self.log_dir

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None,
                   new_style=False, double_precision=False):
        """Log one number; ``new_style`` logs it as a tensor for the scalars plugin."""
        self._get_file_writer()._add_summary(
            _scalar_summary(tag, scalar_value, "add_scalar", new_style, double_precision),
            global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Several numbers in one chart: each key gets its own run (sub-folder)
        ``<log_dir>/<main_tag>_<key>`` where the value is logged under ``main_tag``."""
        walltime = time.time() if walltime is None else walltime
        logdir = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            fw_tag = logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = self.all_writers[fw_tag] = FileWriter(
                    fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
            fw._add_summary(_scalar_summary(main_tag, value, "add_scalars"), global_step,
                            walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        """Log a whole tensor (every value, its shape and dtype) for the tensor plugin."""
        self._get_file_writer()._add_summary(_tensor_summary(tag, tensor), global_step,
                                             walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """Log a histogram of ``values``; ``bins`` is ``"tensorflow"`` (TensorFlow's
        bucket limits), anything ``np.histogram`` takes (``"auto"``, ``"fd"``, a count,
        edges), and ``max_bins`` merges neighbouring buckets down to that many."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        histo = _histogram(_np(values, "add_histogram"), bins, max_bins)
        self._get_file_writer()._add_summary(_summary_value(tag, histo=histo), global_step,
                                             walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits,
                          bucket_counts, global_step=None, walltime=None):
        """Log a histogram computed elsewhere (bucket_limits are the right edges)."""
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError(f"SummaryWriter.add_histogram_raw: len(bucket_limits) = "
                             f"{len(bucket_limits)} != len(bucket_counts) = "
                             f"{len(bucket_counts)}; give one limit per bucket")
        histo = _histogram_raw(min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
        self._get_file_writer()._add_summary(_summary_value(tag, histo=histo), global_step,
                                             walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """Log an image, ``dataformats`` ``"CHW"``, ``"HWC"`` or ``"HW"``: floats in
        [0, 1] (clipped), or uint8 in [0, 255]; one channel is shown as grey."""
        self._get_file_writer()._add_summary(
            _image_summary(tag, img_tensor, dataformats, "add_image"), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        """Log a batch of images as one grid, 8 a row (``"NCHW"`` or ``"NHWC"``)."""
        self._get_file_writer()._add_summary(
            _image_summary(tag, img_tensor, dataformats, "add_images"), global_step,
            walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """Log a Matplotlib figure (or a list of them, as a grid) as an image; ``close``
        closes the figure afterwards."""
        image = _figure_to_image(figure, close)
        self.add_image(tag, image, global_step, walltime,
                       dataformats="NCHW" if isinstance(figure, list) else "CHW")

    def add_image_with_boxes(self, tag, img_tensor, box_tensor, global_step=None,
                             walltime=None, rescale=1, dataformats="CHW", labels=None):
        """Log an image with boxes (N x 4 rows xmin, ymin, xmax, ymax, in pixels) drawn in
        red, 2 pixels wide, as torch's; ``labels`` (one string per box, drawn in
        PIL's default font) and ``rescale`` (the image resized by that factor) need
        Pillow, as in torch."""
        if labels is not None:
            labels = [labels] if isinstance(labels, str) else labels
            if len(labels) != len(box_tensor):
                import warnings
                warnings.warn(f"SummaryWriter.add_image_with_boxes: {len(labels)} labels "
                              f"for {len(box_tensor)} boxes, so none is drawn (as torch); "
                              f"give one label per box", UserWarning, stacklevel=2)
                labels = None
        self._get_file_writer()._add_summary(
            _boxes_summary(tag, img_tensor, box_tensor, rescale, dataformats, labels),
            global_step, walltime)

    def add_video(self, tag, vid_tensor, global_step=None, fps=4, walltime=None):
        """Log a video, N x T x C x H x W (floats in [0, 1] or uint8), as an animated GIF
        that TensorBoard's Images tab plays: the N videos side by side in a grid, ``fps``
        frames a second. zeroin encodes the GIF itself (torch needs moviepy)."""
        self._get_file_writer()._add_summary(
            _video_summary(tag, vid_tensor, fps), global_step, walltime)

    def add_audio(self, tag, snd_tensor, global_step=None, sample_rate=44100, walltime=None):
        """Log a sound, shape (1, L), samples in [-1, 1] (clipped, with a printed warning
        as torch's), as 16-bit mono WAV at ``sample_rate`` Hz for the Audio tab."""
        self._get_file_writer()._add_summary(
            _audio_summary(tag, snd_tensor, sample_rate), global_step, walltime)

    def add_mesh(self, tag, vertices, colors=None, faces=None, config_dict=None,
                 global_step=None, walltime=None):
        """Log a 3-D mesh or point cloud for the Mesh tab: ``vertices`` B x N x 3, optional
        ``colors`` B x N x 3 (0..255) and ``faces`` B x F x 3 (vertex indices);
        ``config_dict`` the Three.js camera, lights and materials (saved as JSON)."""
        self._get_file_writer()._add_summary(
            _mesh_summary(tag, (vertices, faces, colors), config_dict), global_step,
            walltime)

    def add_custom_scalars(self, layout):
        """Lay out charts of scalar tags for the Custom Scalars tab: ``layout`` is
        ``{category: {chart title: ["Multiline", [tags]] or ["Margin", [value, lower,
        upper]]}}``; call it once per writer, before or after the scalars are logged."""
        self._get_file_writer()._add_summary(_custom_scalars_summary(layout))

    def add_custom_scalars_multilinechart(self, tags, category="default", title="untitled"):
        """One Custom Scalars chart with a line per tag in ``tags``."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(self, tags, category="default", title="untitled"):
        """One Custom Scalars chart of a value and its margin: ``tags`` are 3 tags
        (value, lower, upper)."""
        if len(tags) != 3:
            raise AssertionError(f"Expected 3 tags, got {len(tags)}.")
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Log ``model``'s graph for the Graphs tab: the model is run once (in eval mode,
        then put back) on ``input_to_model`` (a tensor or a tuple of tensors) and the ops
        zeroin records are the nodes, grouped by module (``Net/Linear[fc1]/linear``);
        ``verbose`` prints them. Nothing is traced, so ``use_strict_trace`` changes
        nothing."""
        graph_def = _graph_def(model, input_to_model, verbose)
        stats = _bytes(1, _bytes(1, _bytes(1, "/device:CPU:0")))  # RunMetadata.step_stats
        fw = self._get_file_writer()
        fw._add(_event(time.time(), graph_def=graph_def))
        fw._add(_event(time.time(), tagged_run_metadata=_bytes(1, "step1") + _bytes(2, stats)))

    def add_onnx_graph(self, prototxt):
        """Not supported: it reads an ONNX file with the onnx package (protobuf), which
        zeroin does not use; log the model itself with :meth:`add_graph`."""
        raise NotImplementedError("SummaryWriter.add_onnx_graph: reading an ONNX file needs "
                                  "the onnx package, which zeroin does not use; log the "
                                  "model's graph with add_graph(model, example_input)")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        """Log a string (Markdown) for TensorBoard's Text tab, as ``<tag>/text_summary``."""
        self._get_file_writer()._add_summary(_text_summary(tag, text_string), global_step,
                                             walltime)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127,
                     weights=None, walltime=None):
        """Log a precision-recall curve of ``predictions`` (probabilities in [0, 1]) for
        the 0/1 ``labels``, over ``num_thresholds`` thresholds (at most 127, as torch)."""
        labels, predictions = _np(labels, "add_pr_curve"), _np(predictions, "add_pr_curve")
        if labels.shape != predictions.shape:
            raise ValueError(f"SummaryWriter.add_pr_curve: labels have shape {labels.shape} "
                             f"but predictions {predictions.shape}; give one label per "
                             f"prediction")
        n = min(num_thresholds, 127)
        w = None if weights is None else _np(weights, "add_pr_curve")
        self._get_file_writer()._add_summary(
            _pr_summary(tag, _pr_curve(labels, predictions, n, w), n), global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts,
                         true_negative_counts, false_negative_counts, precision, recall,
                         global_step=None, num_thresholds=127, weights=None, walltime=None):
        """Log a precision-recall curve computed elsewhere (one value per threshold)."""
        rows = [(np.asarray(r) if isinstance(r, (list, tuple)) else
                 _np(r, "add_pr_curve_raw")).reshape(-1) for r in (
            true_positive_counts, false_positive_counts, true_negative_counts,
            false_negative_counts, precision, recall)]
        if len({len(r) for r in rows}) != 1:
            raise ValueError(f"SummaryWriter.add_pr_curve_raw: the six rows have lengths "
                             f"{[len(r) for r in rows]}; give one value per threshold each")
        self._get_file_writer()._add_summary(
            _pr_summary(tag, np.stack(rows), min(num_thresholds, 127)), global_step, walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag="default", metadata_header=None):
        """Save an N x D matrix for TensorBoard's Projector, in ``<step>/<tag>/`` of the log
        folder: tensors.tsv, metadata.tsv (labels, one per row; with ``metadata_header``
        one list per row), sprite.png (``label_img``, N x C x H x W) and the
        projector_config.pbtxt that lists every embedding of this writer."""
        mat = _np(mat, "add_embedding")
        global_step = 0 if global_step is None else global_step
        subdir = f"{str(global_step).zfill(5)}/{_encode(tag)}"
        save_path = os.path.join(self._get_file_writer().get_logdir(), subdir)
        if os.path.isfile(save_path):
            raise NotADirectoryError(f"Path: `{save_path}` exists, but is a file. Cannot "
                                     f"proceed.")
        if os.path.isdir(save_path):
            print("warning: Embedding dir exists, did you set global_step for add_embedding()?")
        if mat.ndim != 2:
            raise AssertionError(f"SummaryWriter.add_embedding: mat should be 2-D (one row "
                                 f"per data point), got shape {mat.shape}")
        if metadata is not None:
            if len(metadata) != mat.shape[0]:
                raise AssertionError(f"SummaryWriter.add_embedding: {len(metadata)} labels "
                                     f"for {mat.shape[0]} data points; give one per row")
            if metadata_header:
                if len(metadata_header) != len(metadata[0]):
                    raise AssertionError("SummaryWriter.add_embedding: len of header must "
                                         "be equal to the number of columns in metadata")
                rows = ["\t".join(str(e) for e in r) for r in [metadata_header] + list(metadata)]
            else:
                rows = [str(x) for x in metadata]
            _write_file(os.path.join(save_path, "metadata.tsv"),
                        ("\n".join(rows) + "\n").encode("utf-8"))
        if label_img is not None:
            label_img = _np(label_img, "add_embedding")
            if label_img.shape[0] != mat.shape[0]:
                raise AssertionError(f"SummaryWriter.add_embedding: {label_img.shape[0]} "
                                     f"images for {mat.shape[0]} data points")
            _write_file(os.path.join(save_path, "sprite.png"), _sprite(label_img))
        _write_file(os.path.join(save_path, "tensors.tsv"), "".join(
            "\t".join(str(v.item()) for v in row) + "\n" for row in mat).encode("utf-8"))
        self._projector.append(_embedding_info(metadata is not None, label_img, subdir,
                                               global_step, tag))
        _write_file(os.path.join(self._get_file_writer().get_logdir(),
                                 "projector_config.pbtxt"), "".join(self._projector).encode())

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None,
                    run_name=None, global_step=None):
        """Log a run's hyperparameters and final metrics for TensorBoard's HParams tab,
        in the sub-folder ``run_name`` (default: the current time)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("SummaryWriter.add_hparams: hparam_dict and metric_dict should "
                            "be dictionaries")
        summaries = _hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        logdir = os.path.join(self._get_file_writer().get_logdir(),
                              run_name or str(time.time()))
        with SummaryWriter(log_dir=logdir) as w:
            for s in summaries:
                w.file_writer._add_summary(s, global_step)
            for k, v in metric_dict.items():
                w.add_scalar(k, v, global_step)

    def flush(self):
        """Write every pending record to disk."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self):
        """Flush and close every event file (closing twice does nothing)."""
        for writer in (self.all_writers or {}).values():
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()
