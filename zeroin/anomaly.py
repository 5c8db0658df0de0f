"""detect_anomaly: find the first op that makes NaN or Inf, and the user line behind it.

Also the anomaly switch itself (:data:`anomaly`), which the engine reads on every op.
"""
from __future__ import annotations

import os

import numpy as np

from .errors import AnomalyError

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class _Anomaly:
    """What every op reads (instance attributes: faster so)."""

    def __init__(self):
        self.enabled = False    # ops go through function.record(): detect or a trace is on
        self.detect = False     # detect_anomaly: check each op's output and gradients
        self.tracer = None      # zeroin.replay while tracing: record() appends each op here
        self.reads = None       # utils.checkpoint's forward: record() appends each op's inputs
        self.profiling = False  # zeroin.profiler: every rule a call of its own (no fast path)
        self.pack = None        # saved_tensors_hooks is on: record() calls pack(fn, inputs, out)

    def refresh(self):
        """``enabled`` again from the five things that need record() on every op."""
        self.enabled = (self.detect or self.tracer is not None or self.reads is not None
                        or self.profiling or self.pack is not None)


anomaly = _Anomaly()


def not_replayable(reason, fix="call the function without zeroin.replay"):
    """Called where a replay could not repeat what happens (random draws, running
    statistics updated in place, a backward pass): while :func:`zeroin.replay` traces,
    refuse with ``reason`` and ``fix``; otherwise nothing."""
    if anomaly.tracer is not None:
        if getattr(anomaly.tracer, "soft", False):  # vmap's log: it loops instead
            anomaly.tracer.tainted = reason
            return
        from .errors import ReplayError
        raise ReplayError(f"replay: {reason}, which a replay would not repeat (it runs only "
                          f"the recorded ops); {fix}")


class detect_anomaly:
    """Context manager (and decorator): raise at the first NaN/Inf in forward or backward.

    The error names the op and the line of user code that created it, or the input tensor
    when the NaN/Inf came in with the data. Recording that line costs time, so use it for
    debugging, not training.
    """

    def __enter__(self):
        self._prev = anomaly.detect
        anomaly.enabled = anomaly.detect = True     # `as x` binds None, as PyTorch's

    def __exit__(self, *exc):
        anomaly.detect = self._prev
        anomaly.refresh()
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*a, **k):
            with self.__class__():
                return func(*a, **k)
        return wrapper


class set_detect_anomaly:
    """PyTorch's switch for :class:`detect_anomaly`: ``set_detect_anomaly(True)`` turns it on
    from this call on (``False`` off); used in a ``with`` block, it restores the previous
    state at the end. ``check_nan=False`` (trace without raising) is not supported."""

    def __init__(self, mode, check_nan=True):
        if not check_nan:
            raise ValueError("set_detect_anomaly: check_nan=False is not supported: zeroin's "
                             "anomaly mode raises at the first NaN/Inf; leave check_nan=True")
        self._prev = anomaly.detect
        anomaly.detect = bool(mode)
        anomaly.refresh()

    def __enter__(self):        # switched at the call; `as x` binds None, as PyTorch's
        pass

    def __exit__(self, *exc):
        anomaly.detect = self._prev
        anomaly.refresh()
        return False


def is_anomaly_enabled():
    """True while :class:`detect_anomaly` (or ``set_detect_anomaly(True)``) is on."""
    return anomaly.detect


def _user_site():
    """The innermost stack frame outside zeroin, as 'file:line: code'."""
    import traceback
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(here + os.sep):
            code = f": {frame.line}" if frame.line else ""    # no source: <stdin>, exec
            return f"{frame.filename}:{frame.lineno}{code}"
    return "<unknown>"


def _not_finite(a):
    return a.dtype.kind in "fc" and not np.all(np.isfinite(a))


def _bad(a):
    n_nan = int(np.isnan(a).sum())
    n_inf = int(np.isinf(a).sum())
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN")
    if n_inf:
        parts.append(f"{n_inf} Inf")
    return " and ".join(parts) + f" in output of shape {tuple(a.shape)}"


def check_forward(fn, inputs, out):
    """Under detect_anomaly: note where ``fn`` was created; raise if ``out`` is not finite,
    blaming the input leaf when the NaN/Inf was already in the data."""
    site = _user_site()
    if out.grad_fn is fn:
        fn.site = site
    if not _not_finite(out.data):
        return
    for i, t in enumerate(inputs):
        if t.grad_fn is None and _not_finite(t.data):
            what = f"input tensor {t.name!r}" if t.name else f"input {i} (a leaf tensor)"
            kind = "a parameter" if t.requires_grad else "data or a constant"
            raise AnomalyError(
                f"{fn.name}: {what} of shape {tuple(t.data.shape)}, {kind}, already holds "
                f"{_bad(t.data).split(' in output')[0]}: the NaN/Inf came in with it, not "
                f"from an op (op created at {site}); check the data or the step that last "
                f"changed it")
    raise AnomalyError(f"{fn.name}: forward produced {_bad(out.data)} (op created at {site})")


def check_backward(fn, g):
    """Under detect_anomaly: raise if the gradient ``g`` that ``fn`` passes back is not
    finite."""
    data = g.data if hasattr(g, "grad_fn") else np.asarray(g)
    if _not_finite(data):
        site = getattr(fn, "site", None) or "<created before detect_anomaly was on>"
        raise AnomalyError(f"{fn.name}: backward produced {_bad(data)} (op created at {site})")
