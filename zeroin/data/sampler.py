"""Samplers (PyTorch's): the order in which a DataLoader visits a dataset's indices.

``generator`` is a :class:`zeroin.Generator`, a NumPy Generator or an int seed (one
stream, so each pass draws a new order); ``None``: zeroin's shared generator, see
:func:`zeroin.manual_seed`. Indices are Python ints, as PyTorch's. On the torch stream
(:func:`zeroin.random.use_torch_stream`) the random samplers draw PyTorch's indices, as
lazily as torch.utils.data's.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from .._torch_rng import TorchStream
from ..random import get_rng, torch_stream

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _stream(generator):
    """An int seed made into one Generator, so that passes continue it, not repeat it."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(generator)
    return generator


def _check_bool(cls, name, value, exc=ValueError):
    if not isinstance(value, (bool, np.bool_)):
        raise exc(f"{cls}: {name} must be True or False, got {value!r}")


def _check_count(cls, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{cls}: num_samples must be a positive integer, got {value!r}")


def _lazy_randperm(stream, n):
    yield from stream.randperm(n, "SubsetRandomSampler").tolist()


def _lazy_multinomial(stream, weights, k, replacement):
    yield from stream.multinomial(weights[None], k, replacement)[0].tolist()


class Sampler:
    """Base class: ``iter(sampler)`` gives indices, ``len(sampler)`` how many."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order every pass; ``replacement=True`` draws ``num_samples`` with
    replacement."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        _check_bool("RandomSampler", "replacement", replacement, TypeError)   # as PyTorch
        if num_samples is not None:
            _check_count("RandomSampler", num_samples)
        self.data_source, self.replacement, self.generator = data_source, replacement, generator
        self._num, self._gen = num_samples, _stream(generator)

    @property
    def num_samples(self):
        return len(self.data_source) if self._num is None else self._num

    def __iter__(self):
        stream = torch_stream(self._gen)
        if stream is not None:
            return self._torch_iter(stream)
        n, rng = len(self.data_source), get_rng(self._gen)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        order = np.concatenate([rng.permutation(n) for _ in range(reps)]) if reps else []
        return iter(np.asarray(order[:self.num_samples], dtype=np.int64).tolist())

    def _torch_iter(self, stream):
        yield from (i for chunk in self._torch_chunks(stream) for i in chunk.tolist())

    def _torch_chunks(self, stream):
        """PyTorch's draws as arrays, each drawn when its first index is wanted (as
        lazily as PyTorch's): without a generator a fresh one seeded by a draw of the
        shared one; randint in chunks of 32, or one randperm per pass (the last one drawn
        whole even where none of it is used)."""
        n, k = len(self.data_source), self.num_samples
        if self._gen is None:
            stream = TorchStream(stream.seed64())
        if self.replacement:
            for size in [32] * (k // 32) + [k % 32]:
                yield stream.randint(size, 0, n)
        elif n:
            for _ in range(k // n):
                yield stream.randperm(n, "RandomSampler")
            yield stream.randperm(n, "RandomSampler", head=k % n)

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order every pass."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator
        self._gen = _stream(generator)

    def __iter__(self):
        stream = torch_stream(self._gen)
        if stream is not None:        # PyTorch's randperm, drawn at the first index
            return (self.indices[i] for i in _lazy_randperm(stream, len(self.indices)))
        perm = get_rng(self._gen).permutation(len(self.indices))
        return iter([self.indices[i] for i in perm])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        _check_count("WeightedRandomSampler", num_samples)
        _check_bool("WeightedRandomSampler", "replacement", replacement)
        w = np.asarray(getattr(weights, "data", weights), dtype=np.float64)
        if w.ndim != 1 or not np.all(w >= 0) or not w.sum() > 0:
            raise ValueError("WeightedRandomSampler: weights must be a 1-D sequence of "
                             "non-negative numbers, not all zero")
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples "
                             f"without replacement from {np.count_nonzero(w)} with weight")
        self.weights, self.num_samples = Tensor(w), int(num_samples)    # PyTorch: float64
        self.replacement, self.generator = replacement, generator
        self._p, self._gen = w / w.sum(), _stream(generator)

    def __iter__(self):
        stream = torch_stream(self._gen)
        if stream is not None:        # torch.multinomial of the float64 weights
            return _lazy_multinomial(stream, self.weights.data, self.num_samples,
                                     self.replacement)
        p = self._p
        idx = get_rng(self._gen).choice(len(p), self.num_samples,
                                             replace=self.replacement, p=p)
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


def torch_batches(chunks, batch_size, drop_last):
    """BatchSampler's batches over a RandomSampler's chunks of draws, as arrays; the next
    chunk is drawn when a batch wants its first index, as PyTorch's index by index."""
    part = np.zeros(0, np.intp)          # the start of a batch that runs into the next chunk
    for chunk in chunks:
        chunk = chunk.astype(np.intp, copy=False)
        if len(part):
            cut = batch_size - len(part)
            part, chunk = np.concatenate([part, chunk[:cut]]), chunk[cut:]
            if len(part) < batch_size:
                continue
            yield part
        stop = len(chunk) - len(chunk) % batch_size
        yield from (chunk[i:i + batch_size] for i in range(0, stop, batch_size))
        part = chunk[stop:]
    if len(part) and not drop_last:
        yield part


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"BatchSampler: batch_size must be a positive integer, got "
                             f"{batch_size!r}")
        _check_bool("BatchSampler", "drop_last", drop_last)
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, bool(drop_last)

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
