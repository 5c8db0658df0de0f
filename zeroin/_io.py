"""Atomic file writes: the one place zeroin writes a user's file.

A reader (or a crash) never sees half a file: the data goes to a temporary file in the same
folder, is flushed to disk, and is then renamed over the target with ``os.replace``.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_open"]


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path, mode="wb", *, suffix=".tmp", encoding=None, fsync=True):
    """Open ``path`` for writing so that it is replaced whole or not at all.

    Yields a file object on a temporary file ``.<name>.<random><suffix>`` in the target's
    folder (created if missing). When the block ends normally the file is flushed (and
    fsynced unless ``fsync=False``), given the permissions a plain ``open`` would give
    (``0o666`` less the umask, where ``mkstemp`` alone makes ``0o600``) and renamed onto
    ``path``. If the block raises, the temporary file is removed and any old ``path`` is
    left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : {"wb", "w"}
        Binary or text; text defaults to UTF-8.
    suffix : str
        Ending of the temporary name (e.g. ``".part"`` for downloads).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    path = Path(path)
    folder = path.absolute().parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=suffix)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256_file(path):
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
