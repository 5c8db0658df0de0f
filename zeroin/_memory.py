"""Keep freed heap memory for the next training step (glibc only; ``ZEROIN_KEEP_FREED_MB``).

A training step allocates and frees the same large arrays every step: column buffers,
activations, masks, gradients (about 10 MB a step for LeNet-5 at batch 64). glibc gives
the top of its heap back to the OS as soon as more than twice the largest freed block is
free there, and serves blocks of that size or more with fresh ``mmap`` calls, so every
step takes the same memory back from the kernel page by page. Measured on the W6 step
(1 BLAS thread, in one process): 2,610 page faults and ~5 ms of kernel time a step, on
top of 7.2 ms of arithmetic (PyTorch's step: 1,540 faults, ~3 ms).

``mallopt(M_MMAP_THRESHOLD, 32 MB)`` serves arrays under 32 MB from the heap, and
``mallopt(M_TOP_PAD, 64 MB)`` makes glibc grow its heap 64 MB at a time and keep up to
64 MB free at its top instead of returning it, so a step's arrays come from memory that
is already mapped: 0 faults a step, W6 12.3 -> 7.2 ms CPU (1 thread; numbers above: one
process each, on this project's 2-core box). The cost: up to that much freed memory
stays resident between steps (the peak while a step runs does not change: W6's measured
peak 18.5 -> 19.3 MB). It applies to the whole process (NumPy allocates with glibc's
malloc), which is why it is switchable: ``ZEROIN_KEEP_FREED_MB=0`` before
``import zeroin`` leaves malloc as it was, another number keeps that many MB (the mmap
threshold: at most 32 MB). Nothing happens on other C libraries or systems, nor where
the user tuned malloc already (``MALLOC_TOP_PAD_`` and the like, ``GLIBC_TUNABLES``).
"""
from __future__ import annotations

import os
import sys

M_TOP_PAD, M_MMAP_THRESHOLD = -2, -3      # glibc's <malloc.h>
MMAP_MAX = 32 << 20     # glibc's largest mmap threshold (64-bit)
DEFAULT_MB = 64
USER_VARS = ("MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_",
             "MALLOC_MMAP_MAX_", "MALLOC_ARENA_MAX")
applied_mb = 0          # what was applied at import (0: nothing)


def _user_tuned():
    """Whether the user already tuned glibc's malloc (their setting wins)."""
    env = os.environ
    return (any(k in env for k in USER_VARS) or
            "glibc.malloc." in env.get("GLIBC_TUNABLES", ""))


def keep_freed_memory(mb=None):
    """Keep up to ``mb`` MB of freed memory mapped (glibc's heap top pad; default
    ``$ZEROIN_KEEP_FREED_MB`` or 64); 0 does nothing. Returns the MB applied (0 where
    glibc or mallopt is missing, or the environment tunes malloc already)."""
    global applied_mb
    if mb is None:
        raw = os.environ.get("ZEROIN_KEEP_FREED_MB", "").strip()
        try:
            mb = int(raw) if raw else DEFAULT_MB
        except ValueError:
            raise ValueError(f"ZEROIN_KEEP_FREED_MB must be a whole number of MB (0 turns "
                             f"it off), got {raw!r}") from None
    mb = min(int(mb), 2047)             # mallopt takes a C int of bytes
    if mb <= 0 or not sys.platform.startswith("linux") or _user_tuned():
        return 0
    import ctypes
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version       # glibc only: musl has no such pad
        ok = (libc.mallopt(M_MMAP_THRESHOLD, min(mb << 20, MMAP_MAX)) == 1 and
              libc.mallopt(M_TOP_PAD, mb << 20) == 1)
    except (OSError, AttributeError):
        return 0
    applied_mb = mb if ok else 0
    return applied_mb
