"""``zeroin.profiler``: where a step spends its time, op by op (PyTorch's ``torch.profiler``).

Inside ``with profile() as prof:`` every op's forward and every backward rule is timed:
``prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)`` lists them
with their calls and CPU times (self: without the ops inside), ``prof.events()`` gives
each call, ``prof.export_chrome_trace(path)`` writes them for chrome://tracing or
Perfetto. ``record_function("name")`` marks a range of your own (a data step, a layer).

The names are zeroin's, not PyTorch's ``aten::`` ones: a forward is ``zeroin::<op>``
(``zeroin::matmul``), a backward rule is the node's PyTorch name (``MmBackward0``).

How, in one place: while a profile records, each op class's ``forward`` and ``backward``
is wrapped by a timer (and put back when it stops), and the engine's anomaly switch
routes every op through ``record()`` and backward through the reference engine, so that
each rule is a call of its own (the fast path writes add's and mul's float rules out).
Nothing is looked up or timed when no profile records. Times include the timer's own
cost (about a microsecond per op), which matters only for the tiniest ops.
"""
from __future__ import annotations

import enum
import functools
import itertools
import json
import os
import threading
import time

from .anomaly import anomaly
from .function import Function

__all__ = ["profile", "record_function", "ProfilerActivity", "ProfilerAction", "schedule",
           "tensorboard_trace_handler", "EventList", "FunctionEvent", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    """What to profile (PyTorch's names): zeroin runs on the CPU, so CPU is all there is;
    a CUDA entry is accepted (code written for a GPU runs) and records nothing."""
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5


class ProfilerAction(enum.Enum):
    """What a ``schedule`` asks of each step (PyTorch's)."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


# --- recording -----------------------------------------------------------------------------

class _Recording:
    """The active profile's events and each thread's stack of open ranges."""
    active = None               # the _Recording events go to, or None
    patched = []                # (class, attribute, original) put back when it stops
    ids = itertools.count()

    def __init__(self):
        self.events = []
        self.t0 = time.perf_counter_ns()
        self.local = threading.local()

    def open(self, name, owner=None):
        stack = self.local.__dict__.setdefault("stack", [])
        frame = [name, time.perf_counter_ns(), 0, owner, []]    # name start child-ns owner kids
        stack.append(frame)
        return frame

    def close(self, frame):
        end = time.perf_counter_ns()
        stack = self.local.stack
        while stack and stack[-1] is not frame:     # ranges left open inside: close them
            self.close(stack[-1])
        stack.pop()
        name, start, child, _, kids = frame
        ev = FunctionEvent(next(_Recording.ids), name, threading.get_ident(),
                           (start - self.t0) / 1e3, (end - self.t0) / 1e3,
                           (end - start) / 1e3, (end - start - child) / 1e3, kids)
        if stack:
            stack[-1][2] += end - start
            stack[-1][4].append(ev)
        self.events.append(ev)


def _timed(original, backward):
    """``original`` (an op's forward or backward; a staticmethod such as add's
    ``operator.add``) timed as one event of the active profile."""
    plain = original.__func__ if isinstance(original, staticmethod) else None
    call = (lambda self, args: plain(*args)) if plain is not None else \
        (lambda self, args: original(self, *args))

    def timed(self, *args):
        rec = _Recording.active
        if rec is None:
            return call(self, args)
        stack = rec.local.__dict__.get("stack")
        if stack and stack[-1][3] is self:          # super().forward() of a subclass
            return call(self, args)
        name = self.name
        name = (name() if callable(name) else str(name)) if backward else f"zeroin::{name}"
        frame = rec.open(name, self)
        try:
            return call(self, args)
        finally:
            rec.close(frame)
    timed.__zeroin_timed__ = True
    return timed


def _op_classes():
    seen, todo = {Function}, [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                todo.append(sub)
    return seen


def _start(rec):
    if _Recording.active is not None:
        raise RuntimeError("profile: another profile is already recording; profile one "
                           "block at a time (end the first `with profile()` before "
                           "starting the next)")
    for cls in _op_classes():
        for attr in ("forward", "backward"):
            f = cls.__dict__.get(attr)
            if (type(f) is type(_start) and not getattr(f, "__zeroin_timed__", False)
                    or isinstance(f, staticmethod)):
                _Recording.patched.append((cls, attr, f))
                setattr(cls, attr, _timed(f, attr == "backward"))
    _Recording.active = rec
    anomaly.profiling = True
    anomaly.refresh()


def _stop():
    _Recording.active = None
    for cls, attr, f in _Recording.patched:
        setattr(cls, attr, f)
    _Recording.patched = []
    anomaly.profiling = False
    anomaly.refresh()


class record_function:
    """A range of your own in the profile (``with record_function("data"): ...``, or as
    a decorator): its event holds the ops run inside. Does nothing when no profile
    records."""

    def __init__(self, name, args=None):
        self.name, self.args = name, args
        self._frame = None

    def __enter__(self):
        rec = _Recording.active
        if rec is not None:
            self._frame, self._rec = rec.open(str(self.name)), rec
        return self

    def __exit__(self, *exc):
        if self._frame is not None:
            frame, self._frame = self._frame, None
            if _Recording.active is self._rec:
                self._rec.close(frame)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapper


# --- events and their table ------------------------------------------------------------------

class Interval:
    """An event's ``time_range``: ``start`` and ``end`` in microseconds."""

    def __init__(self, start, end):
        self.start, self.end = start, end

    def elapsed_us(self):
        return self.end - self.start


class FunctionEvent:
    """One timed call (PyTorch's): ``name``, ``time_range``, ``cpu_time_total`` and
    ``self_cpu_time_total`` in microseconds, ``cpu_children`` (the ranges inside)."""
    count = 1
    device_time_total = self_device_time_total = 0.0

    def __init__(self, id, name, thread, start, end, total_us, self_us, children):
        self.id, self.name, self.thread = id, name, thread
        self.time_range = Interval(start, end)
        self.cpu_time_total = self.cpu_time = total_us
        self.self_cpu_time_total = self_us
        self.cpu_children = children
        self.cpu_parent = None
        for c in children:
            c.cpu_parent = self

    # a schedule's steps, ProfilerStep#<n>, make one row of key_averages (PyTorch's)
    key = property(lambda self: "ProfilerStep*" if self.name.startswith("ProfilerStep#")
                   else self.name)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time_total="
                f"{_format_time(self.cpu_time_total)} self_cpu_time_total="
                f"{_format_time(self.self_cpu_time_total)}>")


class FunctionEventAvg:
    """The events of one name together (a row of ``key_averages()``): ``key``,
    ``count``, ``cpu_time_total``, ``self_cpu_time_total`` and ``cpu_time`` (the mean)."""
    device_time_total = self_device_time_total = 0.0

    def __init__(self, key):
        self.key, self.count = key, 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0

    def add(self, ev):
        self.count += ev.count
        self.cpu_time_total += ev.cpu_time_total
        self.self_cpu_time_total += ev.self_cpu_time_total
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / max(self.count, 1)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} count={self.count} cpu_time_total="
                f"{_format_time(self.cpu_time_total)}>")


class EventList(list):
    """A list of events with PyTorch's ``table()``, ``key_averages()``,
    ``total_average()`` and ``export_chrome_trace()``."""

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        rows = {}
        for ev in self:
            rows.setdefault(ev.key, FunctionEventAvg(ev.key)).add(ev)
        return EventList(rows.values())

    def total_average(self):
        total = FunctionEventAvg("Total")
        for ev in self:
            total.add(ev)
        return total

    @property
    def self_cpu_time_total(self):
        return sum(ev.self_cpu_time_total for ev in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """The rows as PyTorch prints them, sorted by the attribute ``sort_by``
        (``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"count"`` ...; largest
        first), at most ``row_limit`` of them."""
        return _table(self, sort_by, row_limit, max_name_column_width, header,
                      top_level_events_only)

    def export_chrome_trace(self, path):
        _write_trace(self, path)


def _format_time(us):
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _table(events, sort_by, row_limit, name_width, header, top_level_only):
    rows = list(events)
    if top_level_only:
        rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
    if sort_by is not None:
        if rows and not hasattr(rows[0], sort_by):
            raise AttributeError(f"table: cannot sort by {sort_by!r}: the rows have no such "
                                 f"attribute; use 'self_cpu_time_total', 'cpu_time_total', "
                                 f"'cpu_time' or 'count'")
        rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
    if row_limit is not None and row_limit > 0:
        rows = rows[:row_limit]
    total = sum(e.self_cpu_time_total for e in events)
    width = max([len("Name")] + [min(len(e.key), name_width) for e in rows])
    heads = ["Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
             "# of Calls"]
    line = "-" * width + "  " + "  ".join("-" * 12 for _ in heads) + "  "
    out = [line, "Name".rjust(width) + "  " + "  ".join(h.rjust(12) for h in heads) + "  ",
           line]
    if header is not None:
        out.insert(0, header)
    for e in rows:
        name = e.key if len(e.key) <= width else e.key[:width - 3] + "..."
        share = 100 / (total or 1.0)
        cells = [f"{share * e.self_cpu_time_total:.2f}%",
                 _format_time(e.self_cpu_time_total),
                 f"{share * e.cpu_time_total:.2f}%", _format_time(e.cpu_time_total),
                 _format_time(e.cpu_time), str(e.count)]
        out.append(name.rjust(width) + "  " + "  ".join(c.rjust(12) for c in cells) + "  ")
    out += [line, f"Self CPU time total: {_format_time(total if events else 0.0)}", ""]
    return "\n".join(out)


def _write_trace(events, path):
    """The events in Chrome's trace format (``ph: X`` complete events), written
    atomically: a reader never sees half a file."""
    from ._io import atomic_open
    pid = os.getpid()
    trace = [{"ph": "X", "cat": "cpu_op", "name": e.name, "pid": pid, "tid": e.thread,
              "ts": e.time_range.start, "dur": e.cpu_time_total, "args": {}}
             for e in events if isinstance(e, FunctionEvent)]
    with atomic_open(os.fspath(path), "w", op="export_chrome_trace") as fh:
        json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, fh)


# --- the profile contexts --------------------------------------------------------------------

_RECORDS = (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE)


class _Profile:
    """What both profile contexts share: recording on and off, and the finished events."""

    def _begin(self):
        rec = _Recording()
        _start(rec)
        self._rec = rec

    def _end(self):
        rec, self._rec = self._rec, None
        _stop()
        self._events = EventList(sorted(rec.events, key=lambda e: e.time_range.start))

    def _finished(self):
        if getattr(self, "_rec", None) is not None:
            self._end()         # read while recording: PyTorch refuses, zeroin stops first
        events = getattr(self, "_events", None)
        if events is None:
            raise RuntimeError(f"{type(self).__name__}: nothing was recorded yet; read the "
                               f"results after the `with profile() as prof:` block")
        return events

    def events(self):
        """Every timed call, in the order they started (an :class:`EventList`)."""
        return self._finished()

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One row per name: calls and CPU times summed (``.table(...)`` prints them)."""
        return self._finished().key_averages()

    def export_chrome_trace(self, path):
        """Write the events for chrome://tracing or Perfetto (JSON, written atomically)."""
        self._finished().export_chrome_trace(path)


class profile(_Profile):
    """``torch.profiler.profile``: ``with profile() as prof:`` times every op's forward and
    backward inside. With ``schedule`` (see :func:`schedule`), ``prof.step()`` after each
    training step decides which steps record, and ``on_trace_ready(prof)`` runs after each
    recorded cycle. ``activities`` may name CUDA too (only the CPU is recorded);
    ``record_shapes``, ``profile_memory``, ``with_stack``, ``with_flops`` and
    ``with_modules`` are accepted and unused."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None,
                 record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None,
                 execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        for a in activities or ():
            if not isinstance(a, ProfilerActivity):
                raise TypeError(f"profile: activities must be ProfilerActivity members "
                                f"(ProfilerActivity.CPU), got {a!r}")
        if schedule is not None and not callable(schedule):
            raise TypeError(f"profile: schedule must be callable (zeroin.profiler.schedule"
                            f"(wait=..., warmup=..., active=...)), got {schedule!r}")
        self.activities = set(activities or (ProfilerActivity.CPU,))
        self.schedule = schedule or (lambda step: ProfilerAction.RECORD)
        self.on_trace_ready = on_trace_ready
        self.record_steps = schedule is not None     # a range per step: ProfilerStep#<n>
        self.step_num = 0
        self.current_action = self.schedule(0)
        self._rec = self._events = self._step = None

    def _begin(self):
        super()._begin()
        if self.record_steps:
            self._step = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def _end(self):
        if self._step is not None:
            self._step, step = None, self._step
            step.__exit__(None, None, None)
        super()._end()

    def start(self):
        if self.current_action in _RECORDS:
            self._begin()

    def stop(self):
        if self._rec is not None:
            self._end()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)

    def step(self):
        """Mark the end of a training step: the schedule says what the next one does."""
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        if prev is ProfilerAction.RECORD_AND_SAVE and self._rec is not None:
            self.stop()
        if self.current_action in _RECORDS and self._rec is None:
            self._begin()
        elif self.current_action not in _RECORDS and self._rec is not None:
            self._end()
        elif self._step is not None:            # recording on: the next step's range
            self._step.__exit__(None, None, None)
            self._step = record_function(f"ProfilerStep#{self.step_num}").__enter__()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """PyTorch's step schedule: skip ``skip_first`` steps, then cycles of ``wait`` steps
    off, ``warmup`` steps warming up (not recorded) and ``active`` steps recorded, the
    last one saved (``on_trace_ready``); ``repeat`` cycles (0: no end)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup="
            f"{warmup} (need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        import warnings
        warnings.warn("Profiler won't be using warmup, this can skew profiler results",
                      stacklevel=2)

    def schedule_fn(step):
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        k = step % cycle
        if k < wait:
            return ProfilerAction.NONE
        if k < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if k < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False,
                              use_python_export=False):
    """An ``on_trace_ready`` that writes each recorded cycle to ``dir_name`` as
    ``<worker>.<ms>.pt.trace.json`` (``.gz`` with ``use_gzip``), as PyTorch names it
    (TensorBoard's profile plugin and Perfetto read it)."""
    def handler(prof):
        import socket
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{name}.{time.time_ns() // 1_000_000}.pt.trace.json")
        if not use_gzip:
            prof.export_chrome_trace(path)
            return
        import gzip
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            plain = os.path.join(tmp, "trace.json")
            prof.export_chrome_trace(plain)
            from ._io import atomic_open
            with open(plain, "rb") as src, atomic_open(path + ".gz", op="trace") as fh:
                fh.write(gzip.compress(src.read()))
    return handler
