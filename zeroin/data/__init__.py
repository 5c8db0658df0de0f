"""Data for training: datasets, loaders, splits, standardisation and ready-made datasets.

>>> from zeroin.data import DataLoader, make_moons
>>> X, y = make_moons(100, seed=0)
>>> xb, yb = next(iter(DataLoader((X, y), batch_size=32, shuffle=True, seed=0)))
>>> xb.shape, yb.shape
(zeroin.Size([32, 2]), zeroin.Size([32, 1]))
"""
from .dataset import (ChainDataset, ConcatDataset, DataLoader, Dataset, IterableDataset,
                      StackDataset, Subset, TensorDataset, as_dataset, default_collate,
                      default_convert, random_split,
                      train_val_test_split)
from .datasets import DATASETS, DatasetSplits, load_dataset, load_digits
from .files import detect_task, encode_labels, read_table
from .mnist import (DEFAULT_MNIST_URL, MNIST_FILES, MNIST_SHA256, DatasetError, DownloadError,
                    load_mnist, mnist_cache_dir, read_idx, write_idx)
from .synthetic import (make_linear, make_moons, make_sine, make_spirals, make_vertical,
                        make_xor)
from .transforms import Standardizer, shift_images

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "ChainDataset", "StackDataset", "DataLoader",
           "default_collate", "default_convert", "random_split",
           "train_val_test_split", "as_dataset", "Standardizer", "make_linear", "make_xor",
           "make_moons", "make_spirals", "make_vertical", "make_sine", "load_digits", "load_mnist",
           "read_idx", "write_idx", "mnist_cache_dir", "load_dataset", "DatasetSplits", "DATASETS",
           "MNIST_FILES", "MNIST_SHA256", "DEFAULT_MNIST_URL", "DatasetError", "DownloadError",
           "read_table", "detect_task", "encode_labels", "shift_images"]
