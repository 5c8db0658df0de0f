"""detect_anomaly: find the first op that makes NaN or Inf, and the user line behind it."""
from __future__ import annotations

from . import function as _f

__all__ = ["detect_anomaly"]


class detect_anomaly:
    """Context manager (and decorator): raise at the first NaN/Inf in forward or backward.

    The error names the op and the line of user code that created it. Recording that line
    costs time, so use it for debugging, not training.
    """

    def __enter__(self):
        self._prev = _f.anomaly.enabled
        _f.anomaly.enabled = True
        return self

    def __exit__(self, *exc):
        _f.anomaly.enabled = self._prev
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*a, **k):
            with self.__class__():
                return func(*a, **k)
        return wrapper
