"""``zeroin.set_num_threads`` / ``get_num_threads``: the threads of NumPy's BLAS (matrix
products, convolutions), the only part of zeroin that runs on several threads."""
from __future__ import annotations

import numbers
import os

__all__ = ["set_num_threads", "get_num_threads"]

_requested = None           # the last set_num_threads(n)


def _threadpoolctl():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl


def set_num_threads(n):
    """Use ``n`` threads in NumPy's BLAS, through threadpoolctl (installed with
    scikit-learn, not a zeroin dependency). Without threadpoolctl the request is recorded
    (``get_num_threads()`` returns it) and changes nothing; set ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS`` before starting Python instead."""
    global _requested
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    _requested = int(n)
    tc = _threadpoolctl()
    if tc is not None:
        tc.threadpool_limits(limits=_requested, user_api="blas")


def get_num_threads():
    """The threads NumPy's BLAS uses (through threadpoolctl); without threadpoolctl, the
    last :func:`set_num_threads` request, else ``os.cpu_count()``."""
    tc = _threadpoolctl()
    if tc is not None:
        counts = [i["num_threads"] for i in tc.threadpool_info() if i["user_api"] == "blas"]
        if counts:
            return max(counts)
    return _requested if _requested is not None else os.cpu_count() or 1
