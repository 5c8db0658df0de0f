"""``torch.utils.data`` under zeroin: ``from zeroin.utils.data import DataLoader,
TensorDataset, Dataset, random_split, Subset``. The classes live in :mod:`zeroin.data`;
its modules ``sampler``, ``dataset`` and ``distributed`` are here too (CS231n's
``from torch.utils.data import sampler``; ``import zeroin.utils.data.sampler`` also works).

``DataLoader(num_workers=...)`` is accepted; batches are always made in this process.
"""
from ..data.dataset import (ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                            StackDataset, Subset, TensorDataset, default_collate,
                            default_convert, random_split)
from ..data.sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                            SubsetRandomSampler, WeightedRandomSampler)
from ..data.distributed import DistributedSampler
from ..data import dataset, distributed, sampler

import sys as _sys

for _m in (dataset, distributed, sampler):
    _sys.modules[f"{__name__}.{_m.__name__.rpartition('.')[2]}"] = _m
del _m

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "StackDataset", "DataLoader", "default_collate", "default_convert", "random_split",
           "get_worker_info", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler"]


def get_worker_info():
    """None: no worker processes (batches are made in the main process)."""
    return None
