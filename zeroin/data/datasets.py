"""``load_dataset(name)``: every dataset zeroin knows, or your own file, split and ready to
train on."""
from __future__ import annotations

from dataclasses import dataclass, field

import math

import numpy as np

from .dataset import TensorDataset, train_val_test_split
from .files import detect_task, encode_labels, file_sha256, is_data_file, read_table
from .mnist import load_mnist
from .synthetic import (make_linear, make_moons, make_sine, make_spirals, make_vertical,
                        make_xor)
from .transforms import Standardizer

__all__ = ["load_digits", "load_dataset", "DatasetSplits", "DATASETS"]

#: name -> (task, one-line description)
DATASETS = {
    "linear": ("regression", "y = 2x + 3 + noise: one weight and one bias to recover"),
    "sine": ("regression", "y = sin(x) + noise: a curve a straight line cannot fit"),
    "xor": ("binary", "XOR: not linearly separable, a hidden layer is needed"),
    "moons": ("binary", "two interleaving half circles"),
    "spirals": ("multiclass", "three interleaved spiral arms"),
    "vertical": ("multiclass", "three blobs side by side: linearly separable classes"),
    "digits": ("multiclass", "8x8 handwritten digits, 1,797 images (scikit-learn)"),
    "mnist": ("multiclass", "28x28 handwritten digits, 70,000 images (IDX files)"),
}


def load_digits():
    """scikit-learn's bundled 8x8 digits: ``X`` (1797, 64) float in 0..16, ``y`` int64."""
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError:
        raise ImportError("the digits dataset comes with scikit-learn, which is not "
                          "installed: pip install zeroin[datasets]") from None
    d = _sk_load_digits()
    return d.data.astype(np.float64), d.target.astype(np.int64)


@dataclass
class DatasetSplits:
    """Train / validation / test parts of a dataset plus what a model needs to know.

    ``task`` is ``"regression"`` (MSE, targets ``(n, k)``), ``"binary"`` (one logit,
    labels ``(n, 1)`` of 0.0/1.0, BCEWithLogits) or ``"multiclass"`` (one logit per
    class, integer labels ``(n,)``, CrossEntropy). ``standardizer`` was fitted on the
    training inputs only and already applied to all three parts.

    For a data file, ``classes`` holds the original label values (class ``i`` is
    ``classes[i]``) and, for regression, ``target_standardizer`` was fitted on the
    training targets and applied to all three parts (undo it with ``inverse_transform``
    to get predictions in the file's units).
    """
    name: str
    task: str
    train: TensorDataset
    val: TensorDataset
    test: TensorDataset
    in_features: int
    out_features: int
    num_classes: int | None = None
    standardizer: Standardizer | None = None
    target_loss: float = 0.1
    seed: int = 0
    info: dict = field(default_factory=dict)
    target_standardizer: Standardizer | None = None
    classes: np.ndarray | None = None

    def __repr__(self):
        return (f"DatasetSplits({self.name!r}, task={self.task!r}, train={len(self.train)}, "
                f"val={len(self.val)}, test={len(self.test)}, in={self.in_features}, "
                f"out={self.out_features})")


def _parse(name):
    name = str(name).strip()
    base, _, arg = name.partition(":")
    return base.lower(), (arg or None)


_TARGET_LOSS = {"linear": 0.02, "sine": 0.01}     # the loss a good fit reaches


def _generate(base, n, rng):
    """(X, y) of a built-in dataset other than MNIST: ``n`` samples (its default if None),
    drawn with ``rng``; digits are scikit-learn's 1,797 images."""
    if base == "digits":
        return load_digits()
    make, default = {"linear": (make_linear, 200), "sine": (make_sine, 400),
                     "xor": (make_xor, 200), "moons": (make_moons, 600),
                     "spirals": (make_spirals, 600),
                     "vertical": (make_vertical, 300)}[base]
    return make(n or default, seed=rng)


def load_dataset(name, seed=0, val=0.1, test=0.2, standardize=None, n=None, test_path=None,
                 task=None, label_column=None):
    """Load a dataset by name, or your own data file, and split it.

    Parameters
    ----------
    name : str or path
        ``linear``, ``sine``, ``xor``, ``moons``, ``spirals``, ``vertical``, ``digits``,
        ``mnist``, ``mnist:DIR`` for MNIST IDX files in folder DIR, or a path to a ``.npz`` file
        (arrays ``data`` and ``label``, or ``X`` and ``y``, samples in rows) or a
        ``.csv`` file (optional header, label in the last column).
    seed : int
        Fixes the generated data and the split (not the training).
    val, test : float
        Fractions for validation and test (MNIST keeps its official 10,000 test images
        and takes ``val`` of the 60,000 training images).
    standardize : bool, optional
        Fit a :class:`Standardizer` on the training inputs and apply it everywhere
        (default: only for digits; MNIST pixels are scaled to [0, 1]).
    n : int, optional
        Number of samples for the generated datasets.
    test_path : path, optional
        A separate test file (same layout as ``name``); the file ``name`` is then split
        into train and validation only.
    task : {"classification", "regression"}, optional
        For files: overrides the guess (whole-number labels with at most 50 distinct
        values, fewer than n/5, are classes; anything else is a regression target).
    label_column : str or int, optional
        For .csv files: the label column's header name or index (default: the last).

    For files, inputs are standardised on the training part by default, and so are
    regression targets (see :class:`DatasetSplits`).
    """
    if test_path is not None or task is not None or label_column is not None or \
            is_data_file(name, DATASETS):
        return _load_file(name, seed=seed, val=val, test=test, standardize=standardize,
                          test_path=test_path, task=task, label_column=label_column)
    base, arg = _parse(name)
    if base not in DATASETS:
        import difflib
        close = difflib.get_close_matches(base, list(DATASETS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"load_dataset: unknown dataset {name!r}; {hint}choose one of "
                         f"{', '.join(DATASETS)}, mnist:DIR, or a data file ending in .npz "
                         f"(arrays 'data' and 'label') or .csv (label in the last column)")
    if arg is not None and base != "mnist":
        raise ValueError(f"load_dataset: only mnist takes a folder (mnist:DIR), got {name!r}")
    task = DATASETS[base][0]
    rng = np.random.default_rng(seed)
    stratify, target_loss = base not in ("linear", "sine"), _TARGET_LOSS.get(base, 0.1)
    if base == "digits":
        standardize = True if standardize is None else standardize
    if base != "mnist":
        X, y = _generate(base, n, rng)
    if base == "mnist":
        (Xtr, ytr), (Xte, yte) = load_mnist(root=arg)
        (Xtr, ytr), (Xva, yva), _ = _split_train(Xtr, ytr, val, seed)
        parts = ((Xtr, ytr), (Xva, yva), (Xte, yte))
    else:
        parts = train_val_test_split(X, y, val=val, test=test, seed=rng,
                                     stratify=y if stratify else None)
    scaler = None
    if standardize:
        # digits pixels run 0..16; a floor of 2 keeps rarely lit pixels from exploding
        scaler = Standardizer(min_std=2.0 if base == "digits" else 0.0).fit(parts[0][0])
        parts = tuple((scaler.transform(Xp), yp) for Xp, yp in parts)
    Xtr, ytr = parts[0]
    if task == "multiclass":
        num_classes = int(max(p[1].max() for p in parts if len(p[1])) + 1)
        out = num_classes
    else:
        num_classes = 2 if task == "binary" else None
        out = ytr.shape[1]
    return DatasetSplits(name=name, task=task, train=TensorDataset(*parts[0]),
                         val=TensorDataset(*parts[1]), test=TensorDataset(*parts[2]),
                         in_features=int(np.prod(Xtr.shape[1:])), out_features=int(out),
                         num_classes=num_classes, standardizer=scaler,
                         target_loss=target_loss, seed=seed,
                         info={"description": DATASETS[base][1]})


def _split_train(X, y, val, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(X))
    n_val = int(round(len(X) * val))
    va, tr = perm[:n_val], perm[n_val:]
    return (X[tr], y[tr]), (X[va], y[va]), None


def _load_file(path, seed, val, test, standardize, test_path, task, label_column):
    if not is_data_file(path, DATASETS):
        raise ValueError(f"load_dataset: test_path, task and label_column are for data files "
                         f"(.npz or .csv); {path!r} is a built-in dataset name")
    X, y = read_table(path, label_column)
    kind = detect_task(y, task, where=str(path))
    info = {"description": f"your data from {path}", "file": str(path),
            "sha256": file_sha256(path), "label_column": label_column, "val": val,
            "test": test, "test_path": None if test_path is None else str(test_path),
            "task_given": task}
    if test_path is not None:
        Xte, yte = read_table(test_path, label_column)
        info["test_sha256"] = file_sha256(test_path)
        if Xte.shape[1] != X.shape[1] or yte.shape[1:] != y.shape[1:]:
            raise ValueError(f"load_dataset: the test file {test_path} has {Xte.shape[1]} "
                             f"features and labels of shape {yte.shape[1:]}, but {path} has "
                             f"{X.shape[1]} and {y.shape[1:]}")
    classes = None
    if kind == "classification":
        classes = np.unique(y)
        y = encode_labels(y, classes, str(path))
        if test_path is not None:
            yte = encode_labels(yte, classes, f"the test file {test_path}")
    else:
        y = y.astype(np.float64).reshape(len(y), -1)
        if test_path is not None:
            yte = yte.astype(np.float64).reshape(len(yte), -1)
    strat = y if kind == "classification" and _can_stratify(y, val, test_path is None and
                                                               test) else None
    if test_path is None:
        parts = train_val_test_split(X, y, val=val, test=test, seed=seed, stratify=strat)
    elif val > 0:
        # a two-way split: the "test" part of this call is the validation part
        tr, _, va = train_val_test_split(X, y, val=0.0, test=val, seed=seed, stratify=strat)
        parts = (tr, va, (Xte, yte))
    else:
        parts = ((X, y), (X[:0], y[:0]), (Xte, yte))
    _check_parts(path, len(X), parts, val, test if test_path is None else None)
    scaler = tscaler = None
    if standardize is None or standardize:
        scaler = Standardizer().fit(parts[0][0])
        parts = tuple((scaler.transform(Xp), yp) for Xp, yp in parts)
    if kind == "regression" and standardize is not False:
        tscaler = Standardizer().fit(parts[0][1])
        parts = tuple((Xp, tscaler.transform(yp)) for Xp, yp in parts)
    out = len(classes) if kind == "classification" else y.shape[1]
    return DatasetSplits(name=str(path), task="multiclass" if classes is not None else
                         "regression", train=TensorDataset(*parts[0]),
                         val=TensorDataset(*parts[1]), test=TensorDataset(*parts[2]),
                         in_features=int(X.shape[1]), out_features=int(out),
                         num_classes=None if classes is None else len(classes),
                         standardizer=scaler, target_loss=0.1, seed=seed, info=info,
                         target_standardizer=tscaler, classes=classes)


def _check_parts(path, n, parts, val, test):
    """Refuse, before any training, a file too small for every part asked for."""
    names = [("training", None, 0), ("validation", "val", val), ("test", "test", test)]
    empty = [(name, arg, frac) for (name, arg, frac), p in zip(names, parts)
             if len(p[0]) == 0 and (arg is None or frac)]
    if not empty:
        return
    fracs = [f for f in (val, test) if f]
    need = max(3, math.ceil(1 / min(fracs))) if fracs else 1
    what = " and ".join(f"the {name} part" for name, _, _ in empty)
    raise ValueError(f"load_dataset: {path} has {n} row(s), too few to split into training, "
                     f"validation (val={val}) and test (test={test}) parts: {what} would be "
                     f"empty. Use a file with at least {need} rows" + (
                         ", or pass val=0 (--test TEST_FILE for a separate test file)"
                         if val else ""))


def _can_stratify(y, val, test):
    """Stratify only when every class has enough samples to appear in each part."""
    counts = np.bincount(y)
    small = min(f for f in (val, test) if f) if (val or test) else 1.0
    return bool(counts.min() * small >= 1)
