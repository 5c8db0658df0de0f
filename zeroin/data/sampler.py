"""Samplers (PyTorch's): the order in which a DataLoader visits a dataset's indices.

``generator`` is a :class:`zeroin.Generator`, a NumPy Generator or an int seed (one
stream, so each pass draws a new order); ``None``: zeroin's shared generator, see
:func:`zeroin.manual_seed`. Indices are Python ints, as PyTorch's.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from .._torch_rng import TorchStream
from ..random import Generator, _shared_on_torch, get_rng, torch_stream

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _stream(generator):
    """An int seed made into one Generator, so that passes continue it, not repeat it."""
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(generator)
    return generator


def on_torch_stream(generator):
    """Whether ``generator`` (None: the shared one) draws PyTorch's numbers; draws nothing."""
    if generator is None:
        return _shared_on_torch()
    return isinstance(generator, Generator) and generator.torch is not None


def torch_seed(generator=None):
    """PyTorch's ``int(torch.empty((), dtype=torch.int64).random_(generator=g).item())``
    (random64() modulo 2**63), the seed its RandomSampler and DataLoader iterators draw,
    from ``generator`` on the torch stream (None: the shared one)."""
    return int(torch_stream(generator).u64(1)[0] % np.uint64(1 << 63))


def _check_bool(cls, name, value, exc=ValueError):
    if not isinstance(value, (bool, np.bool_)):
        raise exc(f"{cls}: {name} must be True or False, got {value!r}")


def _check_count(cls, value):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{cls}: num_samples must be a positive integer, got {value!r}")


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
        if on_torch_stream(self._gen):
            return self._torch_iter(len(self.data_source))
        n, rng = len(self.data_source), get_rng(self._gen)
        if self.replacement:
            return iter(rng.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n) if n else 0
        order = np.concatenate([rng.permutation(n) for _ in range(reps)]) if reps else []
        return iter(np.asarray(order[:self.num_samples], dtype=np.int64).tolist())

    def _torch_iter(self, n):
        """PyTorch's __iter__, draw for draw: without a generator, a new one seeded from the
        shared stream (on the first index); randint in chunks of 32 with replacement, else
        one randperm per pass and one more for the remainder (drawn even when it is 0)."""
        stream = TorchStream(torch_seed()) if self._gen is None else torch_stream(self._gen)
        if n == 0:
            return
        if self.replacement:
            for _ in range(self.num_samples // 32):
                yield from stream.randint(32, 0, n).tolist()
            yield from stream.randint(self.num_samples % 32, 0, n).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from stream.randperm(n, "RandomSampler").tolist()
            yield from stream.randperm(n, "RandomSampler").tolist()[:self.num_samples % n]

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order every pass."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = list(indices), generator
        self._gen = _stream(generator)

    def __iter__(self):
        n = len(self.indices)
        perm = (torch_stream(self._gen).randperm(n, "SubsetRandomSampler")   # PyTorch's
                if on_torch_stream(self._gen) else get_rng(self._gen).permutation(n))
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
        p = self._p
        idx = get_rng(self._gen).choice(len(p), self.num_samples,
                                             replace=self.replacement, p=p)
        return iter(idx.tolist())

    def __len__(self):
        return self.num_samples


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
