"""Atomic file writes: the one place zeroin writes a user's file.

A reader (or a crash) never sees half a file: the data goes to a temporary file in the same
folder, is flushed to disk, and is then renamed over the target with ``os.replace``.

A write killed outright (``kill -9``, power loss) cannot remove its temporary file. The
temporaries are therefore named so that zeroin can prove they are its own,
``.<name>.zeroin-<pid>-<random>.tmp``, and every later write of the same file (and every
:func:`zeroin.load` of it) removes those whose process is gone or that are older than
:data:`STALE_AFTER` seconds: the folder never fills up with dead halves of checkpoints.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

__all__ = ["atomic_open", "clean_stale_temporaries", "STALE_AFTER"]

#: a temporary older than this (seconds) is stale even if its pid is alive (pids are reused)
STALE_AFTER = 6 * 3600
_MARK = "zeroin"
_ACTIVE = set()                   # temporaries this process is writing right now
_ACTIVE_LOCK = threading.Lock()


def _pid_alive(pid):
    if os.name == "nt":               # os.kill(pid, 0) would send CTRL_C_EVENT there
        return True                   # so only the age decides
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True                   # it exists (another user's) or we cannot tell
    return True


def clean_stale_temporaries(path, stale_after=None):
    """Remove ``path``'s temporaries left by interrupted writes; returns the removed paths.

    Only files named as :func:`atomic_open` names them (``.<name>.zeroin-<pid>-*.tmp`` or
    another suffix) are considered, and only those whose writing process no longer runs,
    that this process left behind, or that are older than ``stale_after`` seconds
    (default :data:`STALE_AFTER`). Anything else in the folder is left alone.
    """
    path = Path(path)
    folder = path.absolute().parent
    limit = STALE_AFTER if stale_after is None else stale_after
    prefix = f".{path.name}.{_MARK}-"
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_file(follow_symlinks=False):
            continue
        pid = entry.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        pid = int(pid)
        with _ACTIVE_LOCK:
            if entry.path in _ACTIVE:
                continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > limit
        except OSError:
            continue
        if pid == os.getpid() or old or not _pid_alive(pid):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(entry.path)
    return removed


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _cannot_write(e, path, op):
    """The OSError ``e`` again, saying which file ``op`` could not write (not the temp)."""
    why = e.strerror or str(e)
    hint = {13: "choose a folder you can write to (or fix its permissions)",
            30: "the file system is read-only; choose another folder",
            28: "the disk is full; free some space or choose another folder",
            21: "a folder has that name; give a file name",
            20: "a part of the path is a file, not a folder"}.get(e.errno, "")
    # one argument, so str(err) is the message (setting filename would put errno first)
    return type(e)(f"{op}: cannot write {path}: {why}" + (f"; {hint}" if hint else ""))


@contextlib.contextmanager
def atomic_open(path, mode="wb", *, suffix=".tmp", encoding=None, fsync=True, op="write",
                make_folder=True):
    """Open ``path`` for writing so that it is replaced whole or not at all.

    Yields a file object on a temporary file ``.<name>.zeroin-<pid>-<random><suffix>`` in
    the target's folder (created if missing, unless ``make_folder`` is False), after
    removing stale temporaries of earlier interrupted writes of ``path``
    (:func:`clean_stale_temporaries`). When the block ends normally the file is flushed
    (and fsynced unless ``fsync=False``), given the permissions a plain ``open`` would
    give (``0o666`` less the umask, where ``mkstemp`` alone makes ``0o600``) and renamed
    onto ``path``. If the block raises, the temporary
    file is removed and any old ``path`` is left untouched.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    mode : {"wb", "w"}
        Binary or text; text defaults to UTF-8.
    suffix : str
        Ending of the temporary name (e.g. ``".part"`` for downloads).
    op : str
        The operation named in errors: a folder that cannot be written raises the
        ``OSError`` subclass NumPy/Python gave, with a message naming ``op`` and ``path``
        (not the hidden temporary file).
    make_folder : bool
        Create a missing folder (False for ``zeroin.save``, which refuses it as PyTorch).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    path = Path(path)
    folder = path.absolute().parent
    try:
        if make_folder:
            folder.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise IsADirectoryError(21, "it is a folder")
        clean_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{_MARK}-{os.getpid()}-",
                                   suffix=suffix)
    except OSError as e:
        raise _cannot_write(e, path, op) from None
    with _ACTIVE_LOCK:
        _ACTIVE.add(tmp)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        try:
            os.replace(tmp, path)
        except OSError as e:
            raise _cannot_write(e, path, op) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(tmp)


def sha256_file(path):
    """SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
