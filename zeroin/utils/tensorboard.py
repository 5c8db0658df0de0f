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


def _event(wall_time, step=None, *, file_version=None, summary=None, session_log=None,
           source=None):
    """An ``Event``: wall_time 1, step 2, then one of file_version 3, summary 5,
    session_log 7; source_metadata 10."""
    out = _double(1, wall_time) + (_int(2, step) if step is not None else b"")
    if file_version is not None:
        out += _bytes(3, file_version)
    if summary is not None:
        out += _bytes(5, summary)
    if session_log is not None:
        out += _bytes(7, _int(1, session_log))
    if source is not None:
        out += _bytes(10, _bytes(1, source))
    return out


def _summary_value(tag, *, simple_value=None, image=None, histo=None, tensor=None,
                   metadata=None):
    """A ``Summary`` holding one ``Summary.Value`` (tag 1, simple_value 2, image 4,
    histo 5, tensor 8, metadata 9)."""
    v = _opt_bytes(1, tag)
    if simple_value is not None:
        v += _float(2, simple_value)
    for field, msg in ((4, image), (5, histo), (8, tensor), (9, metadata)):
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

    def render(fig):
        canvas = FigureCanvasAgg(fig)
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
    """Write scalars, histograms, images and text to TensorBoard event files in ``log_dir``.

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
