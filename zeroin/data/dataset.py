"""Datasets, splits and the DataLoader that turns them into batches of tensors."""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import numpy as np

from .._tensor import Tensor
from ..errors import ShapeError
from ..random import Generator, get_rng, on_torch_stream, torch_stream
from .sampler import BatchSampler, RandomSampler, SequentialSampler, torch_batches

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "StackDataset", "DataLoader",
           "default_collate", "default_convert", "random_split", "train_val_test_split",
           "as_dataset"]


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class Dataset:
    """A collection of samples: ``len(ds)`` and ``ds[i]`` (a tuple such as ``(x, y)``).

    Subclasses that can fetch many samples at once should also define
    ``__getitems__(indices)`` returning a tuple of stacked arrays; the
    :class:`DataLoader` then builds each batch with one indexing operation. PyTorch's
    ``__getitems__`` (a list of ints in, a list of samples out) works too.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__`` (no indexing); the DataLoader
    groups consecutive samples into batches."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self):
        raise TypeError(f"{type(self).__name__} is an IterableDataset without __len__")

    def __add__(self, other):
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several IterableDatasets one after another (PyTorch's): the stream of each in turn."""

    def __init__(self, datasets):
        self.datasets = datasets

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: takes IterableDatasets only, got "
                                f"{type(d).__name__}; join indexed datasets with "
                                f"ConcatDataset")
            yield from d

    def __len__(self):
        return sum(len(d) for d in self.datasets)


class StackDataset(Dataset):
    """Datasets of one length side by side (PyTorch's): ``StackDataset(a, b)[i]`` is
    ``(a[i], b[i])``, ``StackDataset(x=a, y=b)[i]`` is ``{"x": a[i], "y": b[i]}``."""

    def __init__(self, *args, **kwargs):
        if bool(args) == bool(kwargs):
            raise ValueError("StackDataset: give the datasets either by position (samples "
                             "are tuples) or by keyword (samples are dicts), not both or "
                             "neither")
        self.datasets = args if args else kwargs
        parts = list(args) if args else list(kwargs.values())
        lengths = [len(d) for d in parts]
        if any(n != lengths[0] for n in lengths):
            raise ValueError(f"StackDataset: the datasets differ in length {lengths}; "
                             f"each must have as many samples as the others")
        self._length = lengths[0]

    def __len__(self):
        return self._length

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)


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

    @property
    def tensors(self):
        """The arrays as tensors (PyTorch's attribute)."""
        return tuple(Tensor(a) for a in self.arrays)

    def __getitem__(self, index):
        return tuple(Tensor(a[index]) for a in self.arrays)

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
        picked = self.indices[index]        # the dataset sees ints (a list for a list)
        return self.dataset[int(picked) if np.ndim(picked) == 0 else picked.tolist()]

    def __getitems__(self, indices):
        idx = self.indices[np.asarray(indices, dtype=np.intp)]
        got = _getitems(self.dataset, idx)
        return [self.dataset[int(i)] for i in idx] if got is None else got

    @property
    def arrays(self):
        """The selected samples as arrays (for a Subset of a TensorDataset)."""
        return _fetch(self.dataset, self.indices)


def _fetch(dataset, indices):
    """A tuple of stacked arrays for ``indices``: one fancy-index when the dataset allows."""
    getitems = getattr(dataset, "__getitems__", None)
    got = None if getitems is None else getitems(indices)
    if isinstance(got, tuple):
        return tuple(np.asarray(_array(a)) for a in got)
    if isinstance(got, np.ndarray):             # rows of one array
        return (got,)
    samples = [dataset[int(i)] for i in indices] if got is None else list(got)
    if not samples:
        return ()
    if not isinstance(samples[0], tuple):
        return (np.stack([_array(s) for s in samples]),)
    return tuple(np.stack([_array(s[k]) for s in samples]) for k in range(len(samples[0])))


class _Rows(Dataset):
    """An array (or tensor) read as a dataset: sample ``i`` is row ``i``, as PyTorch reads it."""

    def __init__(self, array):
        self.array = _array(array)
        if self.array.ndim == 0:
            raise TypeError("DataLoader: a 0-d array has no samples; give an array with the "
                            "samples along its first dimension")

    def __len__(self):
        return len(self.array)

    def __getitem__(self, index):
        return Tensor(self.array[index])

    def __getitems__(self, indices):
        return self.array[indices]


class _Samples(Dataset):
    """A sequence (a list, ...) read as a dataset: sample ``i`` is ``data[i]``."""

    def __init__(self, data):
        self.data = data

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index]


def as_dataset(data, where="data"):
    """A Dataset from a Dataset, an ``(X, y)`` tuple of arrays/tensors, an array (its rows
    are the samples) or any other sequence of samples (``len`` and ``[i]``, as PyTorch)."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple) and data and all(
            isinstance(a, (np.ndarray, Tensor, list)) for a in data):
        rows = [len(a) if isinstance(a, list) else (a.shape[0] if a.ndim else None)
                for a in data]
        if None not in rows and len(set(rows)) > 1:
            shapes = [f"a list of {len(a)}" if isinstance(a, list) else str(tuple(a.shape))
                      for a in data]
            raise ValueError(f"{where}: the arrays of (X, y) need the same number of samples "
                             f"(rows): got shapes {', '.join(shapes)}; take X and y from the "
                             f"same rows")
        return TensorDataset(*data)
    if isinstance(data, (np.ndarray, Tensor)):
        return _Rows(data)
    if (hasattr(data, "__len__") and hasattr(data, "__getitem__")
            and not isinstance(data, (str, bytes))):
        return _Samples(data)
    raise TypeError(f"{where}: expected a Dataset, a DataLoader, a pair (X, y) of arrays or "
                    f"a sequence of samples (len() and [i]), got {type(data).__name__}; wrap "
                    f"a stream of samples in an IterableDataset")


def _split_sizes(n, lengths):
    # a tensor or array of lengths (PyTorch takes one) gives its numbers
    lengths = [v.item() if isinstance(v, (Tensor, np.generic, np.ndarray)) and np.ndim(v) == 0
               else v for v in lengths]
    if all(isinstance(v, float) for v in lengths) and math.isclose(sum(lengths), 1.0,
                                                                  abs_tol=1e-6):
        for i, f in enumerate(lengths):
            if not 0 <= f <= 1:
                raise ValueError(f"random_split: fraction {f} at index {i} is not between 0 "
                                 f"and 1; give fractions in [0, 1] adding up to 1")
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):          # hand out the remainder round-robin
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: split {i} of {lengths} is empty ({n} samples)",
                              stacklevel=3)
        return sizes
    if any(not isinstance(v, (int, np.integer)) or v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be whole numbers adding up to {n}, or "
                         f"fractions adding up to 1; got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} add up to {sum(lengths)}, but the "
                         f"dataset has {n} samples")
    return lengths


def random_split(dataset, lengths, generator=None, seed=None):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given lengths.

    ``lengths`` are sample counts adding up to ``len(dataset)`` or fractions adding up
    to 1. ``generator`` (PyTorch's name) or ``seed`` (int or Generator) fixes the
    shuffle; ``None`` uses zeroin's shared generator (see :func:`zeroin.manual_seed`).
    """
    seed = generator if seed is None else seed
    dataset = as_dataset(dataset, "random_split")
    n = len(dataset)
    sizes = _split_sizes(n, lengths)
    stream = torch_stream(seed)
    perm = get_rng(seed).permutation(n) if stream is None else stream.randperm(n, "random_split")
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
    """Batches of a dataset as tensors, reshuffled every epoch (PyTorch's arguments).

    Parameters
    ----------
    dataset : Dataset, (X, y) or a sequence of samples
        What to iterate over; a tuple of arrays is wrapped in a :class:`TensorDataset`; an
        array, a list or any other sequence gives its items as the samples (PyTorch).
    batch_size : int or None
        Samples per batch (default 1, as PyTorch); ``None`` yields single samples.
    shuffle : bool
        Draw a new order at the start of every pass.
    sampler, batch_sampler : iterables of indices / of lists of indices, optional
        Choose the order (or the batches) yourself.
    drop_last : bool
        Skip the last, smaller batch.
    collate_fn : callable, optional
        Makes a batch from a list of samples (default :func:`default_collate`).
    generator, seed : int, Generator or None
        Random order of this loader alone (``generator`` is PyTorch's name). ``None`` uses
        zeroin's shared generator, so :func:`zeroin.manual_seed` makes whole runs repeat;
        on the torch stream each ``iter()`` draws as PyTorch's, so the batches are its own.
    num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor, persistent_workers
        Accepted for PyTorch compatibility. Batches are always made in this process
        (``num_workers`` is checked, then ignored): NumPy indexing is fast enough that
        worker processes would cost more than they save here.

    Batches follow PyTorch's ``default_collate``: a dataset of ``(x, y)`` samples gives
    ``[xb, yb]`` lists of :class:`~zeroin.Tensor` (no gradient), dict samples give dicts.
    A dataset with ``__getitems__`` (TensorDataset, Subset of one) is indexed once per
    batch, never sample by sample.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True, seed=None):
        data = as_dataset(dataset, "DataLoader")
        # PyTorch keeps the object given; an (X, y) tuple is zeroin's TensorDataset
        self.dataset = data if isinstance(dataset, tuple) else dataset
        self._data = data
        _check_loader_args(data, batch_size, shuffle, sampler, batch_sampler, drop_last,
                           num_workers, collate_fn, timeout, prefetch_factor,
                           persistent_workers)
        if batch_sampler is not None:           # PyTorch's attributes then
            batch_size, drop_last = None, False
        self.batch_size = None if batch_size is None else int(batch_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        self.collate_fn, self.num_workers = collate_fn, int(num_workers)
        self.pin_memory, self.timeout = bool(pin_memory), timeout
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        rng = seed if seed is not None else generator
        self.generator = rng
        self._rng = None if rng is None or on_torch_stream(rng) else get_rng(rng)
        self._own_sampler, self._own_batches = sampler is None, batch_sampler is None
        if sampler is None and not isinstance(data, IterableDataset):
            # PyTorch's sampler holds the Generator given, so that the usual reseeding
            # (loader.sampler.generator.manual_seed(s)) repeats the order
            own = rng if isinstance(rng, Generator) else self._rng
            sampler = (RandomSampler(data, generator=own) if self.shuffle
                       else SequentialSampler(data))
        if batch_sampler is None and self.batch_size is not None and sampler is not None:
            batch_sampler = BatchSampler(sampler, self.batch_size, self.drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler

    def _order(self):
        n = len(self._data)
        if not self._own_sampler:
            return _keys(list(self.sampler))
        return (self._rng or get_rng()).permutation(n) if self.shuffle else np.arange(n)

    def _batches(self):
        if self._own_sampler and self.shuffle and on_torch_stream(self.sampler.generator):
            # PyTorch's RandomSampler and BatchSampler (their lazy draws), chunk by chunk
            if self.batch_size is None or not self._own_batches:
                batches = self.sampler if self.batch_size is None else self.batch_sampler
                yield from (np.asarray(b if self.batch_size else [b], dtype=np.intp)
                            for b in batches)
                return
            stream = torch_stream(self.sampler._gen)
            yield from torch_batches(self.sampler._torch_chunks(stream), self.batch_size,
                                     self.drop_last)
            return
        if not self._own_batches:
            yield from (np.asarray(list(b), dtype=np.intp) for b in self.batch_sampler)
            return
        order = self._order()
        bs = self.batch_size or 1
        stop = len(order) - len(order) % bs if self.drop_last else len(order)
        for start in range(0, stop, bs):
            yield order[start:start + bs]

    def __len__(self):
        if isinstance(self._data, IterableDataset):
            n = len(self._data)         # TypeError when the stream has no length
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if not self._own_batches:
            return len(self.batch_sampler)
        n = len(self.sampler)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _stream(self):
        collate = self.collate_fn or default_collate
        if self.batch_size is None:
            yield from (_convert(s, tuple) if self.collate_fn is None else self.collate_fn(s)
                        for s in self._data)
            return
        batch = []
        for sample in self._data:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

    def __iter__(self):
        if self.pin_memory:             # PyTorch's warning without an accelerator
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", UserWarning, stacklevel=2)
        gen = self.generator
        stream = torch_stream(gen) if gen is None or isinstance(gen, Generator) else None
        if stream is not None:      # PyTorch's iterator draws its workers' base seed
            stream.seed64()
        return self._iterate()

    def _iterate(self):
        if isinstance(self._data, IterableDataset):
            yield from self._stream()
            return
        for idx in self._batches():
            if self.batch_size is None and self._own_batches:
                sample = self._data[_key(idx[0])]
                yield _convert(sample, tuple) if self.collate_fn is None else \
                    self.collate_fn(sample)
            elif self.collate_fn is not None:
                yield self.collate_fn(_samples(self._data, idx))
            else:
                yield _batch(self._data, idx)

    def __repr__(self):
        return (f"DataLoader({self._data!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def _check_loader_args(data, batch_size, shuffle, sampler, batch_sampler, drop_last,
                       num_workers, collate_fn, timeout, prefetch_factor, persistent_workers):
    """PyTorch's DataLoader argument checks, with messages that say what to change."""
    if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or
                                   isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"DataLoader: batch_size must be a whole number >= 1, got "
                         f"{batch_size!r} (or None for single samples)")
    if not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
        raise ValueError(f"DataLoader: num_workers must be a whole number >= 0, got "
                         f"{num_workers!r}")
    if isinstance(data, IterableDataset) and (shuffle or sampler is not None or
                                              batch_sampler is not None):
        raise ValueError("DataLoader: an IterableDataset gives its samples in its own "
                         "order; shuffle, sampler and batch_sampler do not apply (shuffle "
                         "inside its __iter__)")
    if sampler is not None and shuffle:
        raise ValueError("DataLoader: sampler and shuffle=True cannot be combined; the "
                         "sampler chooses the order")
    if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or
                                      drop_last):
        raise ValueError("DataLoader: batch_sampler makes the batches itself; leave "
                         "batch_size (1), shuffle, sampler and drop_last at their defaults")
    if batch_size is None and batch_sampler is None and drop_last:
        raise ValueError("DataLoader: batch_size=None yields single samples, so drop_last="
                         "True means nothing; give a batch_size or drop_last=False")
    if collate_fn is not None and not callable(collate_fn):
        raise TypeError(f"DataLoader: collate_fn must be a function of a list of "
                        f"samples, got {type(collate_fn).__name__}")
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout must be >= 0 seconds, got {timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(f"DataLoader: prefetch_factor={prefetch_factor!r} needs "
                         f"num_workers > 0 (as in PyTorch); leave it None")
    if num_workers == 0 and persistent_workers:
        raise ValueError("DataLoader: persistent_workers=True needs num_workers > 0 (as in "
                         "PyTorch); leave it False")


def _stacked(got, n):
    """True for zeroin's ``__getitems__`` answer: a tuple of arrays of ``n`` rows each."""
    return isinstance(got, tuple) and all(
        isinstance(a, (np.ndarray, Tensor)) and a.ndim and len(a) == n for a in got)


def _getitems(dataset, idx):
    """``dataset.__getitems__`` at ``idx`` (a list of ints for PyTorch-style datasets, as
    PyTorch passes it), or None when the dataset has none."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is None:
        return None
    return getitems(idx if isinstance(dataset, (TensorDataset, Subset, _Rows)) else
                    idx.tolist())


def _keys(keys):
    """A sampler's keys: an index array when they are whole numbers, else an object array
    of them as they come (PyTorch passes any key to ``dataset[key]``: fast.ai's batch
    sampler given as ``sampler=`` yields lists of indices)."""
    if all(isinstance(k, (int, np.integer)) or getattr(k, "ndim", None) == 0 for k in keys):
        return np.asarray(keys, dtype=np.intp)
    out = np.empty(len(keys), dtype=object)
    for i, k in enumerate(keys):
        out[i] = k
    return out


def _key(i):
    """``dataset[...]``'s key: a Python int for an index, other keys as they are."""
    return int(i) if isinstance(i, (int, np.integer)) or getattr(i, "ndim", None) == 0 else i


def _samples(dataset, idx):
    """The samples at ``idx`` as a list, for a ``collate_fn``; PyTorch's ``__getitems__``
    (a list of samples) is used when the dataset has one."""
    if idx.dtype == object:
        return [dataset[k] for k in idx]
    got = _getitems(dataset, idx)
    if got is None or _stacked(got, len(idx)) or isinstance(got, np.ndarray):
        return [dataset[int(i)] for i in idx]
    return list(got)


def _batch(dataset, idx):
    """The batch at ``idx``: one fancy index when the dataset allows, else collated."""
    if idx.dtype == object:
        return default_collate([dataset[k] for k in idx])
    got = _getitems(dataset, idx)
    if got is None:
        return default_collate([dataset[int(i)] for i in idx])
    if _stacked(got, len(idx)):             # zeroin's protocol: stacked arrays
        return [Tensor(np.asarray(_array(a))) for a in got]
    if isinstance(got, np.ndarray):         # the rows of one array
        return Tensor(got)
    return default_collate(list(got))       # PyTorch's: a list of samples


def default_collate(batch):
    """PyTorch's default_collate: stack samples into tensors, recursing into tuples
    (giving a list), lists, dicts and named tuples; numbers become 1-D tensors (floats
    float64, ints int64); strings are left as they come (a list, or a tuple inside
    tuple samples, as in PyTorch)."""
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError(f"default_collate: expected a non-empty list of samples, got "
                        f"{type(batch).__name__}")
    elem = batch[0]
    if isinstance(elem, (str, bytes)):          # np.str_ too, before np.generic
        return batch
    if isinstance(elem, (Tensor, np.ndarray, np.generic)):
        return _collate_arrays(batch)
    if isinstance(elem, (bool, int, float)):
        return _collate_numbers(batch)
    if isinstance(elem, Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if any(len(b) != len(elem) for b in batch):
            raise ShapeError("default_collate: each sample in a batch must have the same "
                             "number of parts (PyTorch: each element in list of batch "
                             "should be of equal size)")
        return [default_collate(s) for s in zip(*batch)]
    raise TypeError(f"default_collate: cannot batch samples of type {type(elem).__name__}; "
                    f"return arrays, tensors, numbers, tuples or dicts, or pass collate_fn=")


def _collate_arrays(batch):
    """Tensors, arrays or NumPy scalars stacked into one tensor along a new first axis."""
    if any(isinstance(b, Tensor) and b.requires_grad for b in batch):
        from ..ops import stack                 # recorded, as torch.stack is
        return stack([b if isinstance(b, Tensor) else Tensor(b) for b in batch])
    arrays = [_array(b) for b in batch]
    if arrays[0].dtype.kind in "USO":
        raise TypeError(f"default_collate: cannot batch NumPy arrays of dtype "
                        f"{arrays[0].dtype} (text or objects); convert them to numbers or "
                        f"to lists of str in the dataset, or pass collate_fn=")
    try:
        return Tensor(np.ascontiguousarray(np.stack(arrays)))    # contiguous, as torch's
    except ValueError:
        shapes = sorted({str(np.shape(a)) for a in arrays})
        raise ShapeError(f"default_collate: samples of different shapes {', '.join(shapes)} "
                         f"cannot be stacked into a batch; pad them to one shape or pass "
                         f"collate_fn=") from None


def default_convert(data):
    """PyTorch's default_convert (what ``DataLoader(batch_size=None)`` applies to each
    sample): NumPy arrays and scalars become tensors, recursing into dicts, named tuples,
    tuples (giving lists) and lists; text, numbers and tensors are left as they are."""
    return _convert(data, list)


def _convert(data, tuple_as):
    if isinstance(data, (Tensor, str, bytes)):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        return data if data.dtype.kind in "USO" else Tensor(np.asarray(data))
    if isinstance(data, Mapping):
        out = {k: _convert(v, tuple_as) for k, v in data.items()}
        try:
            return out if type(data) is dict else type(data)(out)
        except TypeError:
            return out
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(_convert(d, tuple_as) for d in data))
    if isinstance(data, (tuple, list)):
        return (tuple_as if isinstance(data, tuple) else list)(
            _convert(d, tuple_as) for d in data)
    return data


def _collate_numbers(batch):
    """Python numbers as one tensor: bool if all are bools, float64 if any is a float
    (PyTorch: its default float dtype; zeroin's is float64), else int64."""
    for i, b in enumerate(batch):
        if not isinstance(b, (bool, int, float)):
            raise TypeError(f"default_collate: sample {i} is {type(b).__name__} ({b!r}) but "
                            f"sample 0 is {type(batch[0]).__name__} ({batch[0]!r}); a batch "
                            f"holds one kind of value: convert the labels to numbers (or "
                            f"to strings) in the dataset, or pass collate_fn=")
    if all(isinstance(b, bool) for b in batch):
        return Tensor(np.array(batch, dtype=bool))
    if any(isinstance(b, float) for b in batch):
        return Tensor(np.array(batch, dtype=np.float64))
    return Tensor(np.array(batch, dtype=np.int64))


class ConcatDataset(Dataset):
    """Several datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError(f"ConcatDataset: {type(d).__name__} is an IterableDataset "
                                f"(no indices); join streams with ChainDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        index %= n
        k = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[k - 1] if k else 0
        return self.datasets[k][index - start]
