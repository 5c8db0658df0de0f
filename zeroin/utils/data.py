"""``torch.utils.data`` under zeroin: ``from zeroin.utils.data import DataLoader,
TensorDataset, Dataset, random_split, Subset``. The classes live in :mod:`zeroin.data`.

``DataLoader(num_workers=...)`` is accepted; batches are always made in this process.
"""
from ..data.dataset import (ConcatDataset, DataLoader, Dataset, Subset, TensorDataset,
                            default_collate, random_split)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "DataLoader",
           "default_collate", "random_split", "get_worker_info"]


def get_worker_info():
    """None: no worker processes (batches are made in the main process)."""
    return None
