"""IDX files and MNIST: read from a folder you have, or download once into a cache.

MNIST is four gzipped IDX files. :func:`load_mnist` reads them from ``root`` when given;
otherwise from the cache folder (``$ZEROIN_DATA/mnist``, default ``~/.cache/zeroin/mnist``),
downloading any that are missing from ``url`` (``$ZEROIN_MNIST_URL``, default
:data:`DEFAULT_MNIST_URL`). Every downloaded or cached file is checked against its
published SHA-256 before use; without a network the error says which files to fetch and
where to put them.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from .._io import atomic_open, sha256_file
from ..function import ZeroinError

__all__ = ["read_idx", "write_idx", "load_mnist", "mnist_cache_dir", "MNIST_FILES",
           "MNIST_SHA256", "DEFAULT_MNIST_URL", "DatasetError", "DownloadError"]

DEFAULT_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

#: Published SHA-256 of the original gzipped files.
MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz":
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz":
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz":
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}


class DatasetError(ZeroinError, ValueError):
    """A data file that is missing pieces, corrupted or not what it claims to be."""


class DownloadError(ZeroinError):
    """A dataset could not be downloaded (offline, wrong URL, server error)."""


# --- IDX --------------------------------------------------------------------------------

_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {d.newbyteorder("=").str[1:]: c for c, d in _IDX_TYPES.items()}


def read_idx(path):
    """Read an IDX file (gzipped or not) into a NumPy array in native byte order.

    Raises :class:`DatasetError` naming the file when it is not IDX, is truncated or
    its gzip stream is corrupted.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DatasetError(f"read_idx: {path} is a truncated or corrupted gzip file "
                               f"({e}); delete it and fetch it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"read_idx: {path} is not an IDX file (it should start with two "
                           f"zero bytes and a type code; starts with {raw[:4]!r})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"read_idx: {path} is truncated inside its header")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    count = int(np.prod(dims, dtype=np.int64))
    expected = count * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(f"read_idx: {path} declares shape {dims} ({expected} bytes of data) "
                           f"but holds {len(raw) - header} bytes: the file is truncated or "
                           f"corrupted; fetch it again")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))


def write_idx(path, array, compress=None):
    """Write ``array`` as an IDX file, gzipped when ``compress`` (default: path ends in .gz).

    The file is written to a temporary name and renamed, so readers never see half of it.
    """
    path = Path(path)
    arr = np.asarray(array)
    code = _IDX_CODES.get(arr.dtype.newbyteorder("=").str[1:])
    if code is None:
        raise TypeError(f"write_idx: IDX holds uint8, int8, int16, int32, float32 or float64; "
                        f"got {arr.dtype}")
    data = (bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
            + arr.astype(_IDX_TYPES[code], copy=False).tobytes())
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        data = gzip.compress(data, mtime=0)
    _atomic_write(path, data)
    return path


def _atomic_write(path, data):
    with atomic_open(path, suffix=".part") as f:
        f.write(data)


# --- MNIST ------------------------------------------------------------------------------

def mnist_cache_dir():
    """``$ZEROIN_DATA/mnist``, or ``$XDG_CACHE_HOME/zeroin/mnist`` (``~/.cache/zeroin/mnist``)."""
    root = os.environ.get("ZEROIN_DATA")
    if root:
        return Path(root).expanduser() / "mnist"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "zeroin" / "mnist"


def _find(root, gz_name):
    """``gz_name`` in ``root``, gzipped or not, with '-' or '.' before 'idx' (both occur)."""
    stem = gz_name[:-3]
    for name in (gz_name, stem, stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (root / name).is_file():
            return root / name
    return None


def _how_to_get(folder, url):
    names = "\n  ".join(MNIST_FILES.values())
    return (f"download these four files from {url} (or any MNIST mirror):\n  {names}\n"
            f"and put them in {folder} (gzipped or not); or set ZEROIN_MNIST_URL to a "
            f"reachable mirror, or pass a folder: `zeroin train mnist:DIR`, "
            f"load_mnist(root=DIR)")


def _download(url, dest, expected, timeout):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read()
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"could not download {url}: {reason}") from None
    got = hashlib.sha256(data).hexdigest()
    if expected is not None and got != expected:
        raise DatasetError(f"load_mnist: {url} has SHA-256 {got}, expected {expected}: the "
                           f"download is truncated or not the file it should be; nothing was "
                           f"saved. Try another mirror (ZEROIN_MNIST_URL)")
    _atomic_write(dest, data)


def load_mnist(root=None, *, url=None, cache_dir=None, download=True, checksums=None,
               flatten=True, normalize=True, timeout=30):
    """MNIST as ``((X_train, y_train), (X_test, y_test))``.

    Parameters
    ----------
    root : path, optional
        A folder holding the four IDX files (gzipped or not). Nothing is downloaded.
    url : str, optional
        Base URL to download from (default ``$ZEROIN_MNIST_URL`` or
        :data:`DEFAULT_MNIST_URL`); ``file://`` URLs work too.
    cache_dir : path, optional
        Where downloads go (default :func:`mnist_cache_dir`).
    download : bool
        Download files missing from the cache; with False a missing file is an error.
    checksums : dict, optional
        SHA-256 per file name (default :data:`MNIST_SHA256`); ``{}`` skips the check.
    flatten, normalize : bool
        Images as ``(n, 784)`` rows instead of ``(n, 28, 28)``; pixels as float32 in
        [0, 1] instead of uint8 0-255.

    Labels are int64.
    """
    checksums = MNIST_SHA256 if checksums is None else checksums
    base = url or os.environ.get("ZEROIN_MNIST_URL") or DEFAULT_MNIST_URL
    if not base.endswith("/"):
        base += "/"
    paths = {}
    if root is not None:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(f"load_mnist: folder {folder} does not exist; "
                                    + _how_to_get(folder, base))
        missing = []
        for key, name in MNIST_FILES.items():
            found = _find(folder, name)
            if found is None:
                missing.append(name)
            paths[key] = found
        if missing:
            raise FileNotFoundError(f"load_mnist: {folder} lacks {', '.join(missing)}; "
                                    + _how_to_get(folder, base))
    else:
        folder = Path(cache_dir).expanduser() if cache_dir else mnist_cache_dir()
        for key, name in MNIST_FILES.items():
            dest = folder / name
            expected = checksums.get(name)
            if dest.is_file():
                if expected is not None and sha256_file(dest) != expected:
                    raise DatasetError(f"load_mnist: cached file {dest} does not match its "
                                       f"SHA-256 {expected}; delete it to download it again")
            elif not download:
                raise FileNotFoundError(f"load_mnist: {dest} is missing and download=False; "
                                        + _how_to_get(folder, base))
            else:
                try:
                    _download(base + name, dest, expected, timeout)
                except DownloadError as e:
                    raise DownloadError(f"load_mnist: {e}. You seem to be offline or the "
                                        f"mirror is down; " + _how_to_get(folder, base)) from None
            paths[key] = dest

    arrays = {key: read_idx(p) for key, p in paths.items()}
    out = []
    for part in ("train", "test"):
        X, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise DatasetError(f"load_mnist: {paths[part + '_images']} and "
                               f"{paths[part + '_labels']} should hold images (n, rows, cols) "
                               f"and labels (n,); got shapes {X.shape} and {y.shape}")
        if flatten:
            X = X.reshape(len(X), -1)
        if normalize:
            X = X.astype(np.float32) / np.float32(255.0)
        out.append((X, y.astype(np.int64)))
    return tuple(out)
