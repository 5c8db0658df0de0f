"""Datasets, splits and the DataLoader that turns them into batches of tensors."""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..random import get_rng

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "random_split",
           "train_val_test_split", "as_dataset"]


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Dataset:
    """A collection of samples: ``len(ds)`` and ``ds[i]`` (a tuple such as ``(x, y)``).

    Subclasses that can fetch many samples at once should also define
    ``__getitems__(indices)`` returning a tuple of stacked arrays; the
    :class:`DataLoader` then builds each batch with one indexing operation.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Arrays (or tensors) that share their first dimension: sample ``i`` is ``(a[i], b[i], ...)``.

    >>> ds = TensorDataset(np.zeros((5, 2)), np.arange(5))
    >>> len(ds), int(ds[1][1])
    (5, 1)
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array, e.g. TensorDataset(X, y)")
        self.arrays = tuple(_array(a) for a in arrays)
        n = len(self.arrays[0]) if self.arrays[0].ndim else 0
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                shapes = ", ".join(str(b.shape) for b in self.arrays)
                raise ValueError(f"TensorDataset: every array needs the same number of samples "
                                 f"(first dimension); got shapes {shapes}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices):
        return tuple(a[indices] for a in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{a.shape} {a.dtype}" for a in self.arrays)
        return f"TensorDataset({len(self)} samples: {shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (a view; nothing is copied)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.intp)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices):
        return _fetch(self.dataset, self.indices[np.asarray(indices, dtype=np.intp)])

    @property
    def arrays(self):
        """The selected samples as arrays (for a Subset of a TensorDataset)."""
        return _fetch(self.dataset, self.indices)


def _fetch(dataset, indices):
    """A tuple of stacked arrays for ``indices``: one fancy-index when the dataset allows."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        return tuple(np.asarray(_array(a)) for a in getitems(indices))
    samples = [dataset[int(i)] for i in indices]
    if not samples:
        return ()
    if not isinstance(samples[0], tuple):
        return (np.stack([_array(s) for s in samples]),)
    return tuple(np.stack([_array(s[k]) for s in samples]) for k in range(len(samples[0])))


def as_dataset(data, where="data"):
    """A Dataset from a Dataset, an ``(X, y)`` pair of arrays/tensors, or a single array."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and data and all(
            isinstance(a, (np.ndarray, Tensor, list)) for a in data):
        return TensorDataset(*data)
    if isinstance(data, (np.ndarray, Tensor)):
        return TensorDataset(data)
    raise TypeError(f"{where}: expected a Dataset, a DataLoader or a pair (X, y) of arrays, "
                    f"got {type(data).__name__}")


def _split_sizes(n, lengths):
    lengths = list(lengths)
    if all(isinstance(v, float) for v in lengths) and math.isclose(sum(lengths), 1.0,
                                                                  abs_tol=1e-6):
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):          # hand out the remainder round-robin
            sizes[i % len(sizes)] += 1
        return sizes
    if any(not isinstance(v, (int, np.integer)) or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be whole numbers adding up to {n}, or "
                         f"fractions adding up to 1; got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} add up to {sum(lengths)}, but the "
                         f"dataset has {n} samples")
    return lengths


def random_split(dataset, lengths, seed=None):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given lengths.

    ``lengths`` are sample counts adding up to ``len(dataset)`` or fractions adding up
    to 1. ``seed`` (int or Generator) fixes the shuffle; ``None`` uses zeroin's shared
    generator (see :func:`zeroin.manual_seed`).
    """
    dataset = as_dataset(dataset, "random_split")
    n = len(dataset)
    sizes = _split_sizes(n, lengths)
    perm = get_rng(seed).permutation(n)
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start:start + size]))
        start += size
    return out


def train_val_test_split(*arrays, val=0.1, test=0.2, seed=0, stratify=None):
    """Shuffle and split arrays into train, validation and test parts.

    Returns ``(train, val, test)``, each a tuple of arrays in the order given.
    ``stratify`` (integer labels) keeps the class proportions equal in every part.
    """
    if not arrays:
        raise ValueError("train_val_test_split: give at least one array")
    arrays = [_array(a) for a in arrays]
    n = len(arrays[0])
    if not (0 <= val < 1 and 0 < test < 1 and val + test < 1):
        raise ValueError(f"train_val_test_split: val and test are fractions with "
                         f"val + test < 1; got val={val}, test={test}")
    rng = get_rng(seed)
    if stratify is None:
        groups = [rng.permutation(n)]
    else:
        labels = np.asarray(_array(stratify)).reshape(n, -1)[:, 0]
        groups = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    parts = ([], [], [])
    for idx in groups:
        k = len(idx)
        n_test = int(round(k * test))
        n_val = int(round(k * val))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    out = []
    for p in parts:
        idx = np.sort(np.concatenate(p)) if p else np.zeros(0, np.intp)
        idx = rng.permutation(idx)
        out.append(tuple(a[idx] for a in arrays))
    return tuple(out)


class DataLoader:
    """Batches of a dataset as tensors, reshuffled every epoch.

    Parameters
    ----------
    dataset : Dataset or (X, y)
        What to iterate over; a pair of arrays is wrapped in a :class:`TensorDataset`.
    batch_size : int
        Samples per batch.
    shuffle : bool
        Draw a new order at the start of every pass.
    drop_last : bool
        Skip the last, smaller batch.
    seed : int, Generator or None
        Random order of this loader alone. ``None`` uses zeroin's shared generator, so
        :func:`zeroin.manual_seed` makes whole runs repeat.

    Each batch is a tuple of :class:`~zeroin.Tensor` (no gradient) made by one fancy-index
    per array, never a Python loop over samples.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, drop_last=False, seed=None):
        self.dataset = as_dataset(dataset, "DataLoader")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a whole number >= 1, got "
                             f"{batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = None if seed is None else get_rng(seed)

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        order = (self._rng or get_rng()).permutation(n) if self.shuffle else np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            arrays = _fetch(self.dataset, order[start:start + self.batch_size])
            yield tuple(Tensor(a) for a in arrays)

    def __repr__(self):
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
