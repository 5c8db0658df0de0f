"""Your own data: features and labels from a ``.npz`` or ``.csv`` file.

``read_table(path)`` reads the raw arrays; ``detect_task(y)`` decides classification or
regression; ``encode_labels`` maps class labels (1, 2, 3 or "cat", "dog") to 0..K-1.
:func:`zeroin.data.load_dataset` uses all three when it is given a path.
"""
from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path

import numpy as np

from .._io import sha256_file

__all__ = ["FILE_SUFFIXES", "is_data_file", "read_table", "detect_task", "encode_labels",
           "file_sha256"]

FILE_SUFFIXES = (".npz", ".csv")
#: (features, labels) key pairs a .npz file may use, in order of preference
NPZ_KEYS = (("data", "label"), ("X", "y"))
MAX_CLASSES = 50


def is_data_file(name, builtin=()):
    """True when ``name`` names a data file: a .npz/.csv suffix, or an existing file that is
    not also a built-in dataset name (so ``moons`` stays the built-in one)."""
    s = str(name)
    if Path(s).suffix.lower() in FILE_SUFFIXES:
        return True
    return os.path.isfile(s) and s.lower() not in builtin


file_sha256 = sha256_file


def read_table(path, label_column=None):
    """Features ``X`` (n, d) and labels ``y`` (n,) or (n, k) from a .npz or .csv file.

    .npz: arrays ``data`` and ``label`` (or ``X`` and ``y``), samples in rows; read with
    ``allow_pickle=False``. .csv: comma-separated, optional header row, the label in the
    last column unless ``label_column`` (a header name or a column index) says otherwise.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise FileNotFoundError(f"load_dataset: no such data file: {path}")
    if not path.is_file():
        raise ValueError(f"load_dataset: {path} is not a file")
    if suffix == ".npz":
        if label_column is not None:
            raise ValueError(f"load_dataset: label_column is for .csv files; {path} is a .npz "
                             f"file with named arrays (data/label or X/y)")
        X, y = _read_npz(path)
    elif suffix == ".csv":
        X, y = _read_csv(path, label_column)
    else:
        raise ValueError(f"load_dataset: cannot read {path}: data files must end in .npz "
                         f"(arrays data and label, or X and y) or .csv (label in the last "
                         f"column)")
    return _check_xy(X, y, path)


def _read_npz(path):
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as e:
        raise ValueError(f"load_dataset: cannot read {path} ({e})") from None
    if head.startswith(b"\x93NUMPY"):
        raise ValueError(f"load_dataset: {path} is a single .npy array, not an .npz archive; "
                         f"save features and labels together with "
                         f"np.savez(path, data=X, label=y)")
    if not head.startswith(b"PK"):
        raise ValueError(f"load_dataset: {path} is not an .npz file (an .npz is a zip archive "
                         f"written by np.savez; this file starts with {head!r}); save it with "
                         f"np.savez(path, data=X, label=y) or use a .csv file")
    try:
        # our own handle: np.load leaves the file it opened open when the zip is damaged
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as z:
            keys = list(z.files)
            for kx, ky in NPZ_KEYS:
                if kx in keys and ky in keys:
                    return z[kx], z[ky]
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise ValueError(f"load_dataset: {path} holds Python objects (pickled arrays), "
                             f"which zeroin does not load; save plain numeric arrays with "
                             f"np.savez(path, data=X, label=y)") from None
        raise ValueError(f"load_dataset: {path} is not a readable .npz file ({e})") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"load_dataset: {path} is not a readable .npz file ({e})") from None
    raise ValueError(f"load_dataset: {path} has arrays {keys or 'none'}; expected 'data' and "
                     f"'label' (or 'X' and 'y'), e.g. np.savez(path, data=X, label=y)")


def _is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def _read_csv(path, label_column):
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"load_dataset: {path} is empty")
    header = None
    # a header is text where the next row has a number (text labels are not a header)
    if any(not _is_number(c) and (len(rows) == 1 or (j < len(rows[1]) and
                                                     _is_number(rows[1][j])))
           for j, c in enumerate(rows[0])):
        header, rows = rows[0], rows[1:]
    if not rows:
        raise ValueError(f"load_dataset: {path} has a header row but no data rows")
    width = len(header) if header else len(rows[0])
    if width < 2:
        raise ValueError(f"load_dataset: {path} has {width} column; expected at least one "
                         f"feature column and a label column")
    for i, r in enumerate(rows):
        if len(r) != width:
            line = i + 1 + (header is not None)
            raise ValueError(f"load_dataset: {path} line {line} has {len(r)} columns, "
                             f"expected {width}")
    col = _label_index(label_column, header, width, path)
    feats = [j for j in range(width) if j != col]
    try:
        X = np.array([[float(r[j]) for j in feats] for r in rows], dtype=np.float64)
    except ValueError:
        bad = next((i, j) for i, r in enumerate(rows) for j in feats if not _is_number(r[j]))
        i, j = bad
        raise ValueError(f"load_dataset: {path} line {i + 1 + (header is not None)}, column "
                         f"{j + 1}: {rows[i][j]!r} is not a number (features must be "
                         f"numeric; only the label column may hold text)") from None
    labels = [r[col] for r in rows]
    if all(_is_number(v) for v in labels):
        y = np.array([float(v) for v in labels], dtype=np.float64)
    else:
        y = np.array(labels)
    return X, y


def _label_index(label_column, header, width, path):
    if label_column is None:
        return width - 1
    if isinstance(label_column, str) and not label_column.lstrip("-").isdigit():
        if header is None or label_column not in header:
            found = f"columns {header}" if header else "no header row"
            raise ValueError(f"load_dataset: {path} has no column named {label_column!r} "
                             f"({found})")
        return header.index(label_column)
    i = int(label_column)
    if not -width <= i < width:
        raise ValueError(f"load_dataset: label column {i} is out of range for {path}, which "
                         f"has {width} columns")
    return i % width


def _check_xy(X, y, path):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"load_dataset: {path}: features and labels need samples in rows; "
                         f"got shapes {X.shape} and {y.shape}")
    if X.ndim == 1:
        X = X[:, None]
    if len(X) != len(y):
        raise ValueError(f"load_dataset: {path}: features have {len(X)} rows (shape "
                         f"{X.shape}) but labels have {len(y)} (shape {y.shape}); samples "
                         f"must be in rows")
    if len(X) == 0:
        raise ValueError(f"load_dataset: {path} has no samples")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"load_dataset: {path}: features must be numbers, got dtype "
                         f"{X.dtype}")
    X = X.reshape(len(X), -1).astype(np.float64)
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise ValueError(f"load_dataset: {path}: {int(bad.sum())} rows have NaN or infinite "
                         f"features (first: row {int(np.flatnonzero(bad)[0])}); drop or fill "
                         f"them first")
    if y.ndim > 2:
        raise ValueError(f"load_dataset: {path}: labels must have shape (n,) or (n, 1) (or "
                         f"(n, k) regression targets), got {y.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dtype.kind not in "biufUS":
        raise ValueError(f"load_dataset: {path}: labels must be numbers or strings, got "
                         f"dtype {y.dtype}")
    if y.dtype.kind in "f" and not np.isfinite(y).all():
        raise ValueError(f"load_dataset: {path}: {int((~np.isfinite(y)).sum())} labels are "
                         f"NaN or infinite")
    return X, y


def detect_task(y, task=None, where="data"):
    """``"classification"`` or ``"regression"``: the one given, or guessed from the labels.

    Labels that are text, or whole numbers with at most 50 distinct values and fewer
    distinct values than a fifth of the samples, are class labels; anything else is a
    regression target.
    """
    if task is not None:
        task = str(task).lower()
        if task not in ("classification", "regression"):
            raise ValueError(f"load_dataset: task must be 'classification' or 'regression', "
                             f"got {task!r}")
        if task == "regression" and y.dtype.kind in "US":
            raise ValueError(f"load_dataset: {where} has text labels (e.g. {y[0]!r}); "
                             f"they cannot be regression targets")
        if task == "classification" and y.ndim != 1:
            raise ValueError(f"load_dataset: {where}: classification needs one label per "
                             f"sample, got labels of shape {y.shape}")
        return task
    if y.dtype.kind in "US":
        return "classification"
    if y.ndim != 1:
        return "regression"
    whole = y.dtype.kind in "biu" or bool(np.all(y == np.round(y)))
    k = len(np.unique(y))
    return "classification" if whole and k <= MAX_CLASSES and k < len(y) / 5 else "regression"


def encode_labels(y, classes, where="data"):
    """Map labels to their index in ``classes`` (sorted original values): 0..K-1, int64."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "US" or y.dtype.kind in "US":
        y, classes = y.astype(str), classes.astype(str)
    idx = np.searchsorted(classes, y)
    idx = np.clip(idx, 0, len(classes) - 1)
    unknown = classes[idx] != y
    if unknown.any():
        extra = np.unique(y[unknown])[:10]
        raise ValueError(f"load_dataset: {where} has labels {extra.tolist()} that the "
                         f"training data does not have (its classes: "
                         f"{classes.tolist()[:20]})")
    return idx.astype(np.int64)
