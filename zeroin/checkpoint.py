"""Save and load nested dicts of arrays, numbers and strings as ``.npz``, without pickle.

``zeroin.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "meta": {...}},
path)`` stores every array under a readable flattened key (``model/0.weight``), plus one
JSON string describing the nesting (dicts, lists, tuples, numbers, strings, booleans, None,
and ``argparse.Namespace``: the ``'args': args`` of MAE's and DeiT's checkpoints).
Files are written to a temporary name in the same folder and renamed, so an interrupted
save never leaves a half-written checkpoint behind, and are read with
``numpy.load(allow_pickle=False)``: loading a file runs no code from it.

``save(obj, f)`` and ``load(f, map_location=None, weights_only=None)`` take PyTorch's
arguments, so ``torch.save``/``torch.load`` code runs unchanged after ``import zeroin as
torch``: ``f`` is a path or a binary file object; ``map_location`` may name the CPU (there
is no other device); ``weights_only`` is accepted either way because nothing is ever
unpickled (the file format is the same); ``pickle_module``/``pickle_protocol`` are
accepted and unused. Tensors come back as tensors, NumPy arrays as arrays.

Weights in the ecosystem's ``.safetensors`` format are :mod:`zeroin.safetensors`'s; a
``.safetensors`` path given to ``save``/``load`` is refused with the call to use.
"""
from __future__ import annotations

import argparse
import json
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from ._io import atomic_open
from ._tensor import Tensor
from .function import ZeroinError

__all__ = ["save", "load", "CheckpointError"]

_STRUCTURE_KEY = "__zeroin_structure__"
_FORMAT = 2                 # 2 adds {"__tensor__": key}; files without tensors stay format 1


class CheckpointError(ZeroinError, ValueError):
    """A checkpoint that cannot be written or read back (unsupported value, corrupted file)."""


def _encode(obj, path, arrays):
    """JSON-able description of ``obj``; arrays go into ``arrays`` under their key path."""
    where = "/".join(path) or "<root>"
    tag = "__array__"
    if isinstance(obj, Tensor):
        obj, tag = obj.data, "__tensor__"
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
        return {tag: key}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    if isinstance(obj, dict):
        meta = getattr(obj, "_metadata", None)
        if meta is not None:    # a state_dict's versions (load_state_dict reads them)
            return {"__dict__": _encode(dict(obj), path, arrays)["__dict__"],
                    "__metadata__": _encode(meta, path + ["_metadata"], arrays)}
        if isinstance(obj, Counter):    # MultiStepLR's milestones: loads as a Counter
            return {"__dict__": _encode(dict(obj), path, arrays)["__dict__"],
                    "__counter__": True}
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
    if type(obj) is argparse.Namespace:
        # the run's arguments: MAE's and DeiT's save_model store 'args': args; its
        # attributes are stored as a dict's items (no pickle) and load as a Namespace
        return {"__namespace__": _encode(vars(obj), path, arrays)["__dict__"]}
    import dataclasses
    name = type(obj).__name__
    if callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict",
                                                                      None)):
        # torch.save(model, path) (Raschka's ch12): its class is code, which needs pickle
        raise CheckpointError(
            f"save: cannot store {where} of type {name}, a whole object with a state_dict "
            f"(its class is code, and zeroin writes no pickle); save its state: zeroin.save("
            f"model.state_dict(), path), and load it into a new one: model = {name}(...); "
            f"model.load_state_dict(zeroin.load(path))")
    fix = (f"store dataclasses.asdict({path[-1] if path else 'obj'}) and rebuild it with "
           f"{name}(**d)" if dataclasses.is_dataclass(obj) else
           "save a model as model.state_dict()")
    raise CheckpointError(f"save: cannot store {where} of type {name}; a "
                          f"checkpoint holds dicts, lists, tuples, arrays, numbers, strings, "
                          f"booleans and None ({fix})")


def _decode(node, arrays, path):
    if isinstance(node, dict):
        for tag in ("__array__", "__tensor__"):
            if tag in node:
                key = node[tag]
                if key not in arrays:
                    raise CheckpointError(f"load: {path} lacks the array {key!r}: the file "
                                          f"is incomplete or corrupted")
                return arrays[key] if tag == "__array__" else Tensor(arrays[key])
        if "__float__" in node:
            return float(node["__float__"])
        if "__dict__" in node:
            items = {k: _decode(v, arrays, path) for k, v in node["__dict__"]}
            if node.get("__counter__"):
                return Counter(items)
            if "__metadata__" not in node:
                return items
            from collections import OrderedDict     # a state_dict, as PyTorch loads it
            items = OrderedDict(items)
            items._metadata = OrderedDict(_decode(node["__metadata__"], arrays, path))
            return items
        if "__list__" in node:
            return [_decode(v, arrays, path) for v in node["__list__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, arrays, path) for v in node["__tuple__"])
        if "__namespace__" in node:
            return argparse.Namespace(**{k: _decode(v, arrays, path)
                                         for k, v in node["__namespace__"]})
        raise CheckpointError(f"load: {path} has an unknown entry {sorted(node)}")
    return node


def save(obj, f, pickle_module=None, pickle_protocol=None,
         _use_new_zipfile_serialization=True, _disable_byteorder_record=False):
    """Write ``obj`` (a nested dict/list of tensors, arrays, numbers and strings, such as
    a ``state_dict`` or ``{"model": ..., "optimizer": opt.state_dict()}``) as .npz.

    ``f`` is a path or a binary file object (``io.BytesIO``). Arrays and tensors keep
    their dtype and shape; Python numbers, strings, booleans and None come back as
    themselves. A path is written atomically: a temporary file in the same folder, then
    ``os.replace`` (stale temporaries of interrupted saves are removed first). Its folder
    must exist, as in PyTorch (create it with ``os.makedirs(folder, exist_ok=True)``). The file
    name is used as given (no ``.npz`` is appended). PyTorch's ``pickle_module``,
    ``pickle_protocol`` and ``_use_new_zipfile_serialization`` are accepted and unused:
    nothing is pickled. A module itself cannot be saved: save ``model.state_dict()``.
    Returns None, as PyTorch's (a notebook cell ending in ``torch.save(...)`` shows nothing).
    """
    _save(obj, f)


def _save(obj, f):
    """``save`` that returns what it wrote to: the path (a ``Path``) or the file object."""
    arrays = {}
    structure = _encode(obj, [], arrays)
    fmt = _FORMAT if "__tensor__" in json.dumps(structure) else 1
    meta = json.dumps({"format": fmt, "library": "zeroin", "root": structure})
    members = {_STRUCTURE_KEY: np.array(meta), **arrays}
    if hasattr(f, "write"):
        np.savez(f, **members)
        return f
    path = Path(f)
    if path.suffix.lower() == ".safetensors":
        raise CheckpointError(
            f"save: {path} names a safetensors file, but zeroin.save writes an .npz "
            f"checkpoint (that other tools would fail to read as safetensors). For the "
            f"weights in the safetensors format use zeroin.safetensors.save_file("
            f"model.state_dict(), {str(path)!r}) (or zeroin.safetensors.save_model(model, "
            f"...) for tied weights); for a checkpoint, name it .npz or .pt")
    folder = path.absolute().parent
    if not folder.exists():     # (a file there: atomic_open's NotADirectoryError)
        raise CheckpointError(
            f"save: cannot write {path}: its folder {folder} does not exist (PyTorch's save "
            f"refuses it too); create it first: os.makedirs({str(folder)!r}, exist_ok=True)")
    with atomic_open(path, op="save", make_folder=False) as fh:    # np.savez adds no ".npz"
        np.savez(fh, **members)
    return path


def _check_magic(path, head):
    """Refuse what is not a zip archive before NumPy guesses (it offers to unpickle)."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return
    if (len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little")
            <= 100_000_000) or str(path).lower().endswith(".safetensors"):
        raise CheckpointError(f"load: {path} is a safetensors file, not an .npz checkpoint; "
                              f"read it with zeroin.safetensors.load_file({str(path)!r}) (a "
                              f"dict of tensors for model.load_state_dict)")
    if len(head) < 4:
        raise CheckpointError(f"load: {path} is {len(head)} byte(s) long, too short to be a "
                              f"checkpoint (an .npz starts with a 4-byte zip header): it is "
                              f"empty or truncated; save it again or use an older copy")
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:      # a pickle: torch.save before 1.6
        raise _pytorch_checkpoint(path)
    if head.startswith(b"\x93NUMPY"):
        raise CheckpointError(f"load: {path} is a single-array .npy file, not an .npz "
                              f"checkpoint; read it with numpy.load, or write checkpoints "
                              f"with zeroin.save")
    raise CheckpointError(f"load: {path} is not an .npz checkpoint (it does not start like "
                          f"a zip archive: first bytes {head!r}); pass a file written by "
                          f"zeroin.save or numpy.savez")


def _pytorch_checkpoint(path):
    """The error for a file written by ``torch.save``: what it is and the line converting it."""
    name = str(path)
    npz = str(Path(name).with_suffix(".npz")) if not name.startswith("<") else "model.npz"
    st = (str(Path(name).with_suffix(".safetensors")) if not name.startswith("<")
          else "model.safetensors")
    return CheckpointError(
        f"load: {name} is a PyTorch (pickle) checkpoint (torch.save); zeroin never unpickles "
        f"(that would run code from the file). Convert a state dict of tensors once, in "
        f"PyTorch (import numpy as np, torch):\n"
        f"    np.savez({npz!r}, **{{k: v.detach().cpu().numpy() for k, v in "
        f"torch.load({name!r}).items()}})\n"
        f"then zeroin.load({npz!r}) gives the same dict of arrays for load_state_dict.\n"
        f"Or, with the safetensors package, write the ecosystem's pickle-free format:\n"
        f"    safetensors.torch.save_file(torch.load({name!r}), {st!r})\n"
        f"(or save_file(model.state_dict(), ...); save_model(model, ...) for tied weights) "
        f"then model.load_state_dict(zeroin.safetensors.load_file({st!r}))")


def _check_map_location(map_location):
    """Everything lives on the CPU: accept what names it, refuse another device clearly."""
    if map_location is None or callable(map_location):
        return
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for t in targets:
        name = str(getattr(t, "type", t) if not isinstance(t, str) else t)
        if name.split(":")[0] != "cpu":
            raise ValueError(f"load: map_location={map_location!r} names a device zeroin "
                             f"does not have; zeroin runs on the CPU: pass "
                             f"map_location='cpu' or leave it out")


def _read_members(path, source):
    """Every array of the .npz (read and CRC-checked), with errors that say what is wrong."""
    if isinstance(source, Path):    # our own handle: closed even when the .npz is damaged
        with open(source, "rb") as fh:
            return _read_members(path, fh)
    try:
        with np.load(source, allow_pickle=False) as npz:
            if any(n == "data.pkl" or n.endswith("/data.pkl") for n in npz.zip.namelist()):
                raise _pytorch_checkpoint(path)      # torch.save's zip: a pickle inside
            arrays = {}
            for k in npz.files:
                try:
                    arrays[k] = npz[k]
                except ValueError as e:
                    if "allow_pickle" not in str(e):
                        raise
                    raise CheckpointError(
                        f"load: {path} holds {k!r}, an array of Python objects, which only "
                        f"pickle can read; zeroin never unpickles (that would run code from "
                        f"the file). Re-save it with numeric, boolean or string arrays "
                        f"(numpy.savez of plain arrays, or zeroin.save)") from None
            return arrays
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"load: {path} is not a readable checkpoint (truncated or "
                              f"corrupted .npz: {e}); save it again or use an older copy") from None


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
         **pickle_load_args):
    """Read a file written by :func:`save` (any plain ``.npz`` gives a dict of its arrays).

    ``f`` is a path or a binary file object. PyTorch's arguments are accepted:
    ``map_location`` may be None, ``"cpu"``, ``zeroin.device("cpu")``, a dict mapping to
    the CPU or a function (everything loads on the CPU); ``weights_only`` (True or False)
    changes nothing, as nothing is unpickled either way; ``pickle_module`` and ``mmap``
    are unused. Raises ``FileNotFoundError`` for a missing file and
    :class:`CheckpointError` naming the file when it is truncated, corrupted or not a
    checkpoint. Loading a path first removes stale temporaries of interrupted saves.
    """
    _check_map_location(map_location)
    if hasattr(f, "read"):
        path, source = getattr(f, "name", "<file object>"), f
        pos = f.tell() if hasattr(f, "tell") else None
        head = f.read(9)
        f.seek(pos or 0)
    else:
        path = source = Path(f)
        if not path.is_file():
            raise FileNotFoundError(f"load: no checkpoint at {path}" + (
                " (it is a folder; name the file in it)" if path.is_dir() else ""))
        from ._io import clean_stale_temporaries
        clean_stale_temporaries(path)
        with open(path, "rb") as fh:
            head = fh.read(9)
    _check_magic(path, head)
    arrays = _read_members(path, source)
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
