"""Save and load nested dicts of arrays, numbers and strings as ``.npz``, without pickle.

``zeroin.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "meta": {...}},
path)`` stores every array under a readable flattened key (``model/0.weight``), plus one
JSON string describing the nesting (dicts, lists, tuples, numbers, strings, booleans, None).
Files are written to a temporary name in the same folder and renamed, so an interrupted
save never leaves a half-written checkpoint behind, and are read with
``numpy.load(allow_pickle=False)``: loading a file runs no code from it.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from ._io import atomic_open
from ._tensor import Tensor
from .function import ZeroinError

__all__ = ["save", "load", "CheckpointError"]

_STRUCTURE_KEY = "__zeroin_structure__"
_FORMAT = 1


class CheckpointError(ZeroinError, ValueError):
    """A checkpoint that cannot be written or read back (unsupported value, corrupted file)."""


def _encode(obj, path, arrays):
    """JSON-able description of ``obj``; arrays go into ``arrays`` under their key path."""
    where = "/".join(path) or "<root>"
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        arr = np.asarray(obj)
        if arr.dtype.kind not in "biufcUS":
            raise CheckpointError(f"save: {where} is an array of dtype {arr.dtype}; only "
                                  f"numeric, boolean and string arrays can be saved without "
                                  f"pickle")
        # the zip member name: readable, but only printable characters (a NUL would cut
        # it short) and unique; the structure record maps it back to the real path
        key = "".join(c if c.isprintable() and c != "\\" else "_" for c in where)
        base, n = key, 1
        while key in arrays or key == _STRUCTURE_KEY:
            key, n = f"{base}#{n}", n + 1
        arrays[key] = arr
        return {"__array__": key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {"__dict__": [[k, _encode(v, path + [k], arrays)] for k, v in obj.items()]}
        items = []
        for k, v in obj.items():
            if isinstance(k, np.integer):
                k = int(k)
            if not isinstance(k, (str, int, bool)) or isinstance(k, bool):
                raise CheckpointError(f"save: {where} has a key {k!r} of type "
                                      f"{type(k).__name__}; keys must be strings or integers")
            items.append([k, _encode(v, path + [str(k)], arrays)])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        enc = [_encode(v, path + [str(i)], arrays) for i, v in enumerate(obj)]
        return {"__tuple__": enc} if isinstance(obj, tuple) else {"__list__": enc}
    raise CheckpointError(f"save: cannot store {where} of type {type(obj).__name__}; a "
                          f"checkpoint holds dicts, lists, tuples, arrays, numbers, strings, "
                          f"booleans and None (save a model as model.state_dict())")


def _decode(node, arrays, path):
    if isinstance(node, dict):
        if "__array__" in node:
            key = node["__array__"]
            if key not in arrays:
                raise CheckpointError(f"load: {path} lacks the array {key!r}: the file is "
                                      f"incomplete or corrupted")
            return arrays[key]
        if "__float__" in node:
            return float(node["__float__"])
        if "__dict__" in node:
            return {k: _decode(v, arrays, path) for k, v in node["__dict__"]}
        if "__list__" in node:
            return [_decode(v, arrays, path) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, path) for v in node["__tuple__"])
        raise CheckpointError(f"load: {path} has an unknown entry {sorted(node)}")
    return node


def save(obj, path):
    """Write ``obj`` (a nested dict/list of arrays, numbers and strings) to ``path`` as .npz.

    Arrays keep their dtype and shape; Python numbers, strings, booleans and None come
    back as themselves. The write is atomic: a temporary file in the same folder, then
    ``os.replace``. The file name is used as given (no ``.npz`` is appended).
    """
    path = Path(path)
    arrays = {}
    structure = _encode(obj, [], arrays)
    meta = json.dumps({"format": _FORMAT, "library": "zeroin", "root": structure})
    with atomic_open(path) as f:     # a file object, so np.savez appends no ".npz"
        np.savez(f, **{_STRUCTURE_KEY: np.array(meta)}, **arrays)
    return path


def _check_magic(path):
    """Refuse what is not a zip archive before NumPy guesses (it offers to unpickle)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) or len(head) < 4:
        return          # an .npz, or too short to tell: np.load reports it as truncated
    if head.startswith(b"\x93NUMPY"):
        raise CheckpointError(f"load: {path} is a single-array .npy file, not an .npz "
                              f"checkpoint; read it with numpy.load, or write checkpoints "
                              f"with zeroin.save")
    raise CheckpointError(f"load: {path} is not an .npz checkpoint (it does not start like "
                          f"a zip archive: first bytes {head!r}); pass a file written by "
                          f"zeroin.save or numpy.savez")


def load(path):
    """Read a file written by :func:`save` (any plain ``.npz`` gives a dict of its arrays).

    Raises ``FileNotFoundError`` for a missing file and :class:`CheckpointError` naming
    the file when it is truncated, corrupted or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {path}")
    _check_magic(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}      # reads (and CRC-checks) everything
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"load: {path} is not a readable checkpoint (truncated or "
                              f"corrupted .npz: {e}); save it again or use an older copy") from None
    if _STRUCTURE_KEY not in arrays:
        return arrays
    try:
        meta = json.loads(str(arrays.pop(_STRUCTURE_KEY)))
        root = meta["root"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"load: {path} has a damaged structure record ({e})") from None
    if meta.get("format", 0) > _FORMAT:
        raise CheckpointError(f"load: {path} was written by a newer zeroin (format "
                              f"{meta['format']}); upgrade zeroin to read it")
    return _decode(root, arrays, path)
