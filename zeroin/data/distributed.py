"""DistributedSampler (PyTorch's ``torch.utils.data.distributed``): each of
``num_replicas`` processes reads its own slice of a dataset, in PyTorch's order.

``num_replicas`` and ``rank`` default to the world size and rank of the default process
group, as PyTorch's: zeroin's is one process (``zeroin.distributed.init_process_group(
world_size=1)``); without it they must be given. The shuffled
order is PyTorch's to the index: ``torch.randperm`` with a CPU generator seeded with
``seed + epoch`` (the torch stream's randperm, zeroin/_torch_rng.py), so replicas of a
job that mixes zeroin and PyTorch agree.
"""
from __future__ import annotations

import math
import numbers

from .._torch_rng import TorchStream
from .sampler import Sampler

__all__ = ["DistributedSampler"]


def _torch_randperm(n, seed):
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed))`` as a list."""
    return TorchStream(int(seed)).randperm(n, "DistributedSampler").tolist()


def _int(name, value):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
    return int(value)


class DistributedSampler(Sampler):
    """The indices of replica ``rank`` of ``num_replicas``: every ``num_replicas``-th index
    from ``rank`` of the (shuffled, with ``seed + epoch``) order, padded by repeating its
    start to a multiple of ``num_replicas`` (or cut to one with ``drop_last``). Call
    :meth:`set_epoch` each epoch for a new order."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        from .. import distributed
        if (num_replicas is None or rank is None) and distributed.is_initialized():
            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if num_replicas is None or rank is None:
            raise ValueError("DistributedSampler: Default process group has not been "
                             "initialized (zeroin runs in one process and has none); pass "
                             "num_replicas and rank, e.g. DistributedSampler(dataset, "
                             "num_replicas=world_size, rank=rank)")
        num_replicas, rank = _int("num_replicas", num_replicas), _int("rank", rank)
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        indices = _torch_randperm(n, self.seed + self.epoch) if self.shuffle else \
            list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use order ``seed + epoch`` from the next pass on (all replicas alike)."""
        self.epoch = epoch
