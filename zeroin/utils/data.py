"""``torch.utils.data`` under zeroin: ``from zeroin.utils.data import DataLoader,
TensorDataset, Dataset, random_split, Subset``. The classes live in :mod:`zeroin.data`;
its modules ``sampler``, ``dataset`` and ``distributed`` are here too (CS231n's
``from torch.utils.data import sampler``; ``import zeroin.utils.data.sampler`` also works),
and ``dataloader`` with PyTorch's names from ``torch.utils.data.dataloader`` (custom
collate functions' ``from torch.utils.data.dataloader import default_collate``).

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
import types as _types

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


dataloader = _types.ModuleType(f"{__name__}.dataloader", "torch.utils.data.dataloader's "
                               "public names (the classes live in zeroin.data.dataset).")
dataloader.__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]
for _n in dataloader.__all__:
    setattr(dataloader, _n, globals()[_n])
_sys.modules[dataloader.__name__] = dataloader
del _n
