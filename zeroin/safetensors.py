"""Read and write ``.safetensors`` files, the pickle-free weight format of the PyTorch
ecosystem, with the names of the ``safetensors`` package (``safetensors.torch``).

>>> import zeroin, zeroin.safetensors as st
>>> data = st.save({"w": zeroin.ones(2, 3)}, metadata={"format": "pt"})
>>> st.load(data)["w"].shape
zeroin.Size([2, 3])

A file is 8 bytes (little-endian header length N), N bytes of JSON (``{name: {"dtype",
"shape", "data_offsets": [begin, end]}}`` and an optional ``"__metadata__"`` of strings),
then the raw little-endian bytes of every tensor. Files written here are byte for byte
those the ``safetensors`` package writes for the same arrays (tensors ordered by dtype
size, then name; header padded with spaces to a multiple of 8). Nothing is ever unpickled.

Dtypes: F64, F32, F16, C64, I64, I32, I16, I8, U64, U32, U16, U8 and BOOL both ways.
BF16 loads as float32, exactly (NumPy has no bfloat16: each value's 16 bits become the
top half of a float32); it cannot be saved (no zeroin tensor holds bfloat16). Other
dtypes (F8_*, F4, ...) are refused by name.

Saving refuses, as ``safetensors.torch`` does, two entries that share memory (tied
weights held by ``state_dict(keep_vars=True)``, or views of one array): on loading they
would be two independent arrays. :func:`save_model` drops the duplicate names and
:func:`load_model` restores them. ``model.state_dict()``'s values share the weights'
memory, as PyTorch's, so a tied weight appears twice there and ``save_file`` refuses it
too; copies (``{k: v.clone() for k, v in sd.items()}``) store it under each name. A
non-contiguous array is saved in C order (a copy), as
``safetensors.numpy`` does.
"""
from __future__ import annotations

import json
import math
import mmap
import os
from pathlib import Path

import numpy as np

from ._io import atomic_open
from ._tensor import Tensor, _leaf
from .dtypes import as_device
from .errors import ZeroinError

__all__ = ["save", "save_file", "load", "load_file", "safe_open", "save_model", "load_model",
           "SafetensorError"]

#: the safetensors dtype names zeroin reads and writes, as little-endian NumPy dtypes
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "C64": "<c8", "I64": "<i8", "I32": "<i4",
          "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
          "BOOL": "?"}
# the order in which the safetensors package lays tensors out (first to last), then by name
_ORDER = ["U64", "I64", "F64", "C64", "F32", "U32", "I32", "F16", "U16", "I16", "I8", "U8",
          "BOOL"]
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000         # the safetensors package's limit on the JSON header
_META = "__metadata__"
try:                                            # NumPy 2 moved these
    from numpy.lib.array_utils import byte_bounds as _byte_bounds
    from numpy.exceptions import TooHardError as _TooHard
except ImportError:                             # pragma: no cover (NumPy 1.x)
    _byte_bounds, _TooHard = np.byte_bounds, np.TooHardError


class SafetensorError(ZeroinError, ValueError):
    """A .safetensors file (or bytes) that cannot be read, or tensors that cannot be written."""


# --- writing --------------------------------------------------------------------------------

def _as_array(name, value, op):
    """``value`` (a tensor or NumPy array) as a little-endian NumPy array with its code."""
    if isinstance(value, Tensor):
        value = value.data
    if not isinstance(value, (np.ndarray, np.generic)):
        kind = type(value).__name__
        hint = (" (a torch tensor: pass t.detach().cpu().numpy())"
                if type(value).__module__.startswith("torch") else "")
        raise TypeError(f"{op}: {name!r} is a {kind}, not a tensor; safetensors stores "
                        f"tensors and NumPy arrays only{hint}")
    arr = np.asarray(value)
    code = _CODES.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise SafetensorError(f"{op}: {name!r} has dtype {arr.dtype}, which safetensors "
                              f"cannot store; convert it first (to float32, float64, int64, "
                              f"bool, ...); supported: {', '.join(DTYPES)}")
    return arr.astype(DTYPES[code], copy=False), code


def _check_shared(arrays, op):
    """Refuse two entries that share memory, naming both (safetensors.torch refuses them)."""
    spans = []
    for name, arr in arrays.items():
        if arr.nbytes:
            lo, hi = _byte_bounds(arr)
            spans.append((lo, hi, name))
    spans.sort()
    for i, (lo, hi, name) in enumerate(spans):
        for lo2, _, other in spans[i + 1:]:
            if lo2 >= hi:
                break
            try:
                shared = np.shares_memory(arrays[name], arrays[other], max_work=10**6)
            except _TooHard:
                shared = True
            if shared:
                raise SafetensorError(
                    f"{op}: {name!r} and {other!r} share memory (tied weights, or views of one "
                    f"array); safetensors stores each tensor once, so loading would untie "
                    f"them. Save the model with zeroin.safetensors.save_model(model, path) "
                    f"(it keeps one name and records the other), or save copies "
                    f"({{k: v.clone() for k, v in state_dict.items()}})")


def _check_metadata(metadata, op):
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"{op}: metadata must be a dict of strings, got "
                        f"{type(metadata).__name__}")
    for k, v in metadata.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"{op}: metadata must map strings to strings; {k!r}: {v!r} is "
                            f"not (store numbers as str(x), structures as json.dumps(x))")
    return dict(sorted(metadata.items()))


def _prepare(tensors, metadata, op):
    """(header bytes including the 8-byte length, arrays in file order)."""
    if not isinstance(tensors, dict):
        raise TypeError(f"{op}: expected a dict {{name: tensor}}, got "
                        f"{type(tensors).__name__} (a model: save model.state_dict(), or use "
                        f"zeroin.safetensors.save_model)")
    arrays, codes = {}, {}
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"{op}: tensor names must be strings, got {name!r}")
        if name == _META:
            raise SafetensorError(f"{op}: {_META!r} is reserved for the metadata; pass "
                                  f"metadata=... and give the tensor another name")
        arrays[name], codes[name] = _as_array(name, value, op)
    _check_shared(arrays, op)
    header = {}
    meta = _check_metadata(metadata, op)
    if meta is not None:
        header[_META] = meta
    order = sorted(arrays, key=lambda n: (_ORDER.index(codes[n]), n))
    offset = 0
    for name in order:
        end = offset + arrays[name].nbytes
        header[name] = {"dtype": codes[name], "shape": list(arrays[name].shape),
                        "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text, [arrays[n] for n in order]


def _raw(arr):
    """The array's bytes in C order, without a copy when it is already contiguous."""
    return memoryview(np.ascontiguousarray(arr).reshape(-1).view(np.uint8))


def save(tensors, metadata=None):
    """``tensors`` ({name: tensor or array}) as the bytes of a .safetensors file."""
    head, arrays = _prepare(tensors, metadata, "save")
    return b"".join([head] + [_raw(a) for a in arrays])


def save_file(tensors, filename, metadata=None):
    """Write ``tensors`` ({name: tensor or array}) to ``filename`` as .safetensors.

    ``metadata`` is an optional dict of strings (``{"format": "pt"}`` is what PyTorch
    tooling writes). The file is written atomically (a temporary, then ``os.replace``).
    """
    head, arrays = _prepare(tensors, metadata, "save_file")
    folder = Path(filename).absolute().parent
    if not folder.exists():     # (a file there: atomic_open's NotADirectoryError)
        raise SafetensorError(
            f"save_file: cannot write {filename}: its folder {folder} does not exist (the "
            f"safetensors package refuses it too); create it first: "
            f"os.makedirs({str(folder)!r}, exist_ok=True)")
    with atomic_open(filename, op="save_file", make_folder=False) as f:
        f.write(head)
        for a in arrays:
            f.write(_raw(a))


# --- reading --------------------------------------------------------------------------------

def _entry(name, info, where, op):
    """(code, shape, begin, end) of one header entry, checked."""
    if not (isinstance(info, dict) and {"dtype", "shape", "data_offsets"} <= info.keys()):
        raise SafetensorError(f"{op}: {where}: the entry for {name!r} is {info!r}; each needs "
                              f"'dtype', 'shape' and 'data_offsets': the file is corrupted")
    code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if code not in DTYPES and code != "BF16":
        raise SafetensorError(f"{op}: {where}: {name!r} has dtype {code!r}, which zeroin "
                              f"cannot read (NumPy has no such type); convert it where it "
                              f"was made (in PyTorch: .float() before saving); readable: "
                              f"{', '.join(DTYPES)}, BF16 (as float32)")
    ints = (lambda v: isinstance(v, list) and all(type(x) is int and x >= 0 for x in v))
    if not ints(shape) or not ints(offsets) or len(offsets) != 2 or offsets[0] > offsets[1]:
        raise SafetensorError(f"{op}: {where}: {name!r} has shape {shape!r} and data_offsets "
                              f"{offsets!r}; expected non-negative integers and [begin, end] "
                              f"with begin <= end: the file is corrupted")
    size = 2 if code == "BF16" else np.dtype(DTYPES[code]).itemsize
    if offsets[1] - offsets[0] != math.prod(shape) * size:
        raise SafetensorError(f"{op}: {where}: {name!r} ({code}, shape {tuple(shape)}) needs "
                              f"{math.prod(shape) * size} bytes but its data_offsets "
                              f"{offsets} span {offsets[1] - offsets[0]}: the file is "
                              f"corrupted; write it again")
    return code, tuple(shape), offsets[0], offsets[1]


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise SafetensorError(f"the header names {dup!r} twice")
    return dict(pairs)


def _parse_header(raw, data_len, where, op):
    """(metadata or None, {name: (code, shape, begin, end)} in file order), checked."""
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except SafetensorError as e:
        raise SafetensorError(f"{op}: {where}: {e}: the file is corrupted") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorError(f"{op}: {where} is not a safetensors file: its header is not "
                              f"JSON ({e}); write it with save_file (here or in the "
                              f"safetensors package)") from None
    if not isinstance(header, dict):
        raise SafetensorError(f"{op}: {where}: the header is not a JSON object: the file is "
                              f"corrupted")
    meta = header.pop(_META, None)
    if meta is not None and not (isinstance(meta, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise SafetensorError(f"{op}: {where}: {_META!r} must map strings to strings, got "
                              f"{meta!r}: the file is corrupted")
    entries = {n: _entry(n, info, where, op) for n, info in header.items()}
    entries = dict(sorted(entries.items(), key=lambda kv: (kv[1][2], kv[1][3])))
    pos, prev = 0, None
    for name, (code, shape, begin, end) in entries.items():
        if end > data_len:
            raise SafetensorError(f"{op}: {where}: {name!r} ends at byte {end} of the data "
                                  f"but the file holds only {data_len}: it is truncated or "
                                  f"corrupted; copy or download it again")
        if begin < pos:
            raise SafetensorError(f"{op}: {where}: {name!r} (bytes {begin}..{end}) overlaps "
                                  f"{prev!r} (ending at {pos}): the file is corrupted")
        if begin > pos:
            raise SafetensorError(f"{op}: {where}: bytes {pos}..{begin} of the data belong to "
                                  f"no tensor (before {name!r}); the safetensors package "
                                  f"refuses such files too: write it again")
        pos, prev = end, name
    if pos != data_len:
        raise SafetensorError(f"{op}: {where}: the last {data_len - pos} bytes belong to no "
                              f"tensor; the safetensors package refuses such files too: the "
                              f"file is corrupted or has data appended")
    return meta, entries


def _split(size, read_head, where, op):
    """(metadata, entries, data start) from a source of ``size`` bytes; ``read_head(a, b)``
    returns bytes a..b."""
    if size < 8:
        raise SafetensorError(f"{op}: {where} is {size} byte(s) long, too short for a "
                              f"safetensors file (8-byte header length first): it is empty or "
                              f"truncated")
    n = int.from_bytes(read_head(0, 8), "little")
    if n > MAX_HEADER:
        raise SafetensorError(f"{op}: {where} declares a {n}-byte header, over the "
                              f"{MAX_HEADER}-byte limit: it is not a safetensors file (an "
                              f".npz? use zeroin.load) or it is corrupted")
    if 8 + n > size:
        raise SafetensorError(f"{op}: {where} declares a {n}-byte header but holds only "
                              f"{size - 8} bytes after the length: it is truncated or not a "
                              f"safetensors file")
    raw = read_head(8, 8 + n)
    if not raw.startswith(b"{"):
        raise SafetensorError(f"{op}: {where} is not a safetensors file (its header does not "
                              f"start with '{{'; first bytes {read_head(0, min(size, 16))!r})")
    meta, entries = _parse_header(raw, size - 8 - n, where, op)
    return meta, entries, 8 + n


def _from_buffer(buf, start, entry):
    """A NumPy array on ``buf`` (from byte ``start`` of the data) for ``entry``; a view where
    possible (BF16 is widened to float32, a new array)."""
    code, shape, begin, end = entry
    dt = np.dtype("<u2" if code == "BF16" else DTYPES[code])
    arr = np.frombuffer(buf, dtype=dt, count=(end - begin) // dt.itemsize, offset=start + begin)
    arr = arr.reshape(shape)
    return _bf16(arr) if code == "BF16" else arr


def _bf16(bits):
    """bfloat16 bit patterns (uint16) as float32 values, exactly."""
    return (bits.astype("<u4") << 16).view("<f4")


def _tensors(buf, start, entries, owned):
    """{name: Tensor} on ``buf``; ``owned``: the buffer is ours and writable (views suffice)."""
    out = {}
    for name, entry in entries.items():
        arr = _from_buffer(buf, start, entry)
        if not owned or not arr.flags.aligned:
            arr = arr.copy()
        out[name] = _leaf(arr)
    return out


def load(data):
    """{name: tensor} from the bytes of a .safetensors file (as ``safetensors.torch.load``)."""
    data = memoryview(data).cast("B")
    _meta, entries, start = _split(len(data), lambda a, b: bytes(data[a:b]), "<bytes>", "load")
    owned = np.frombuffer(data, np.uint8, offset=start).copy()   # one copy, writable
    return _tensors(owned, 0, entries, True)


def _open_checked(filename, op):
    path = Path(os.fspath(filename))
    if not path.is_file():
        raise FileNotFoundError(f"{op}: no safetensors file at {path}" + (
            " (it is a folder; name the file in it)" if path.is_dir() else ""))
    return path, open(path, "rb")


def load_file(filename, device="cpu"):
    """{name: tensor} from a .safetensors file, in file order (``safetensors.torch.load_file``).

    The data section is read once into one writable buffer and every tensor is a view on
    it (no second copy). ``device`` must name the CPU. Give the result to
    ``model.load_state_dict``.
    """
    as_device(device, "load_file")
    path, f = _open_checked(filename, "load_file")
    with f:
        size = os.fstat(f.fileno()).st_size

        def read_head(a, b):
            f.seek(a)
            return f.read(b - a)
        _meta, entries, start = _split(size, read_head, path, "load_file")
        f.seek(start)
        buf = np.empty(size - start, np.uint8)
        got = f.readinto(memoryview(buf)) if buf.size else 0
        if got != buf.size:
            raise SafetensorError(f"load_file: {path} shrank while being read (got {got} of "
                                  f"{buf.size} bytes); read it again")
    return _tensors(buf, 0, entries, True)


# --- lazy access ----------------------------------------------------------------------------

_FRAMEWORKS = {"pt": "tensor", "torch": "tensor", "pytorch": "tensor", "zeroin": "tensor",
               "np": "numpy", "numpy": "numpy"}


class safe_open:  # the safetensors package's name, lower case
    """A .safetensors file opened lazily (memory-mapped): read only what you ask for.

    ``framework`` is ``"pt"`` (zeroin tensors, as PyTorch's) or ``"np"`` (NumPy arrays).
    Use as a context manager::

        with safe_open("model.safetensors", framework="pt") as f:
            w = f.get_tensor("fc.weight")
            rows = f.get_slice("embed.weight")[:100]

    Returned tensors are copies: they stay valid after the file is closed.
    """

    def __init__(self, filename, framework="pt", device="cpu"):
        kind = _FRAMEWORKS.get(str(framework).lower())
        if kind is None:
            raise ValueError(f"safe_open: framework={framework!r} is not available in zeroin; "
                             f"use 'pt' (zeroin tensors) or 'np' (NumPy arrays)")
        as_device(device, "safe_open")
        self._kind = kind
        path, f = _open_checked(filename, "safe_open")
        self._path = path
        with f:
            size = os.fstat(f.fileno()).st_size
            if size < 8:    # mmap cannot map an empty file; _split names the problem
                _split(size, lambda a, b: b"", path, "safe_open")
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            self._meta, self._entries, self._start = _split(
                size, lambda a, b: self._mm[a:b], path, "safe_open")
        except BaseException:
            self._mm.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Unmap the file (tensors already returned stay valid)."""
        self._mm.close()

    def keys(self):
        """The tensor names, sorted (as the safetensors package)."""
        return sorted(self._entries)

    def offset_keys(self):
        """The tensor names in the order of their data in the file."""
        return list(self._entries)

    def metadata(self):
        """The ``__metadata__`` dict of strings, or None."""
        return None if self._meta is None else dict(self._meta)

    def _entry(self, name, op):
        if self._mm.closed:
            raise SafetensorError(f"{op}: {self._path} is closed; read inside the with block")
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(f"{op}: {self._path} has no tensor {name!r}; it has "
                           f"{len(self._entries)}: {', '.join(list(self._entries)[:10])}"
                           f"{', ...' if len(self._entries) > 10 else ''}") from None

    def _wrap(self, arr):
        return _leaf(arr) if self._kind == "tensor" else arr

    def get_tensor(self, name):
        """The tensor ``name`` (read from the file now, a copy)."""
        entry = self._entry(name, "get_tensor")
        arr = _from_buffer(self._mm, self._start, entry)
        out = arr if entry[0] == "BF16" else np.array(arr)   # a copy, off the map
        del arr
        return self._wrap(out)

    def get_slice(self, name):
        """A lazy view of ``name``: index it (``[:, 2:5]``) to read only those elements."""
        return _Slice(self, name, self._entry(name, "get_slice"))


class _Slice:
    """``safe_open(...).get_slice(name)``: shape and dtype without reading; ``[...]`` reads."""

    def __init__(self, owner, name, entry):
        self._owner, self._name, self._e = owner, name, entry

    def get_shape(self):
        return list(self._e[1])

    def get_dtype(self):
        return self._e[0]

    def __getitem__(self, index):
        owner = self._owner
        owner._entry(self._name, "get_slice")           # still open?
        code, shape, begin, end = self._e
        raw = _from_buffer(owner._mm, owner._start, ("U16" if code == "BF16" else code,
                                                     shape, begin, end))
        part = np.array(raw[index])
        del raw
        return owner._wrap(_bf16(part) if code == "BF16" else part)


# --- models ---------------------------------------------------------------------------------

def _shared_groups(model):
    """Lists of state_dict names that are one tensor (tied weights), each sorted."""
    by_id = {}
    for name, t in model.state_dict(keep_vars=True).items():
        by_id.setdefault(id(t), []).append(name)
    return [sorted(names) for names in by_id.values() if len(names) > 1]


def save_model(model, filename, metadata=None, force_contiguous=False):
    """Save ``model``'s state dict, each tied tensor once (``safetensors.torch.save_model``).

    Of names sharing one tensor the first in sorted order is kept; each other name is
    recorded in the metadata as ``{dropped: kept}`` (user metadata wins), so
    :func:`load_model` (here or in the safetensors package) restores it.
    ``force_contiguous`` is accepted and unused (arrays are written in C order anyway).
    """
    state = model.state_dict()
    metadata = dict(metadata or {})
    for names in _shared_groups(model):
        for dropped in names[1:]:
            metadata.setdefault(dropped, names[0])
            del state[dropped]
    save_file(state, filename, metadata=metadata or None)


def load_model(model, filename, strict=True, device="cpu"):
    """Load a .safetensors file into ``model`` (``safetensors.torch.load_model``).

    A tied tensor saved under only one of its names (as :func:`save_model` and the
    safetensors package write it) fills all of them. Returns ``load_state_dict``'s
    ``(missing_keys, unexpected_keys)``; with ``strict`` any mismatch raises.
    """
    state = load_file(filename, device=device)
    for names in _shared_groups(model):
        have = [n for n in names if n in state]
        for n in names:
            if have and n not in state:
                state[n] = state[have[0]]
    return model.load_state_dict(state, strict=strict)
