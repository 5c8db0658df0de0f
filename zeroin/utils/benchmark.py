"""PyTorch's ``torch.utils.benchmark``: :class:`Timer` (``timeit``, ``blocked_autorange``,
``adaptive_autorange``) and :class:`Measurement` (``mean``, ``median``, ``iqr``, ``times``
and PyTorch's repr), with PyTorch's measurement loops. A statement's globals hold
``torch`` (= ``zeroin``) unless given, so PyTorch snippets run as written; only Python
statements (no ``language='cpp'``)."""
import contextlib
import dataclasses
import math
import textwrap
import timeit as _timeit

import numpy as np

__all__ = ["Timer", "Measurement", "TaskSpec", "select_unit"]

_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a :class:`Timer` measures (its statement, setup and labels)."""
    stmt: str
    setup: str
    global_setup: str = ""
    label: str = None
    sub_label: str = None
    description: str = None
    env: str = None
    num_threads: int = 1

    @property
    def title(self):
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        if "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        return (f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n"
                f"{textwrap.indent(self.stmt, '  ')}")

    def setup_str(self):
        if self.setup == "pass" or not self.setup:
            return ""
        return (f"setup:\n{textwrap.indent(self.setup, '  ')}" if "\n" in self.setup
                else f"setup: {self.setup}")

    def summarize(self):
        sections = [self.title, self.description or "", self.setup_str()]
        return "\n".join(f"{s}\n" if "\n" in s else s for s in sections if s)


def select_unit(t):
    """The unit (ns, us, ms, s) and its scale in which ``t`` seconds reads best."""
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3), "s")
    return unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[unit]


@dataclasses.dataclass(repr=False)
class Measurement:
    """Timings of one statement: ``raw_times`` of blocks of ``number_per_run`` runs;
    ``times``, ``mean``, ``median``, ``iqr`` are per run, in seconds."""
    number_per_run: int
    raw_times: list
    task_spec: TaskSpec
    metadata: dict = None

    def __getattr__(self, name):
        if name in {f.name for f in dataclasses.fields(TaskSpec)}:
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute {name!r}")

    @property
    def times(self):
        return [t / self.number_per_run for t in self.raw_times]

    def _quantile(self, q):
        return float(np.quantile(np.asarray(self.times, dtype=np.float64), q))

    @property
    def median(self):
        return self._quantile(0.5)

    @property
    def mean(self):
        return float(np.mean(self.times))

    @property
    def iqr(self):
        return self._quantile(0.75) - self._quantile(0.25)

    @property
    def title(self):
        return self.task_spec.title

    @property
    def env(self):
        return "Unspecified env" if self.task_spec.env is None else self.task_spec.env

    @property
    def as_row_name(self):
        return self.sub_label or self.stmt or "[Unknown]"

    def meets_confidence(self, threshold=_IQR_WARN_THRESHOLD):
        return self.iqr / self.median < threshold

    @property
    def _warnings(self):
        if self.meets_confidence(_IQR_WARN_THRESHOLD):
            return ()
        why = ("This suggests significant environmental influence."
               if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD)
               else "This could indicate system fluctuation.")
        return (f"  WARNING: Interquartile range is {self.iqr / self.median * 100:.1f}% of the "
                f"median measurement.\n           {why}",)

    @property
    def has_warnings(self):
        return bool(self._warnings)

    def __repr__(self):
        n, med = len(self.raw_times), self.median
        unit, scale = select_unit(med)
        lines = [object.__repr__(self), self.task_spec.summarize(),
                 f"  {'Median: ' if n > 1 else ''}{med / scale:.2f} {unit}"]
        if n >= 4:
            lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} "
                         f"({self._quantile(0.25) / scale:.2f} to "
                         f"{self._quantile(0.75) / scale:.2f})")
        threads = self.num_threads
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement,' if n > 1 else ','} {threads} "
                     f"thread{'s' if threads > 1 else ''}")
        lines.extend(self._warnings)
        return "\n".join(lines).strip()

    @staticmethod
    def merge(measurements):
        """One measurement per task, its times per run (``number_per_run=1``)."""
        groups = {}
        for m in measurements:
            groups.setdefault(m.task_spec, []).extend(m.times)
        return [Measurement(1, times, spec) for spec, times in groups.items()]


@contextlib.contextmanager
def _threads(n):
    from .. import _threads as T
    before = T.get_num_threads()
    T.set_num_threads(n)
    try:
        yield
    finally:
        T.set_num_threads(before)


def _clean(code):
    code = textwrap.dedent(code)
    return (code[1:] if code and code[0] == "\n" else code).rstrip()


class Timer:
    """Time a Python statement, as ``torch.utils.benchmark.Timer``: ``setup`` runs once,
    then ``stmt`` in blocks; ``globals`` (copied) are the names both see."""

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=_timeit.default_timer,
                 globals=None, label=None, sub_label=None, description=None, env=None,  # noqa: A002
                 num_threads=1, language="python"):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if getattr(language, "name", language) not in ("python", "py", "PYTHON"):
            raise ValueError(f"Timer: only Python statements can be timed (language="
                             f"{language!r}); zeroin has no C++ API")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely "
                             f"this code can simply be moved to `setup`.")
        import zeroin
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", zeroin)
        stmt, setup = _clean(stmt), _clean(setup)
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer,
                                    globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                   label=label, sub_label=sub_label, description=description,
                                   env=env, num_threads=num_threads)

    def _run(self, number):
        return max(self._timer.timeit(number), 1e-9)     # no statement takes under 1 ns

    def timeit(self, number=1000000):
        """Run ``stmt`` ``number`` times (after a warm-up of number // 100): one block."""
        with _threads(self._task_spec.num_threads):
            self._run(max(int(number // 100), 2))
            return Measurement(number, [self._run(number)], self._task_spec)

    def _loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        total, times, can_stop = 0.0, [], False
        with _threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._run(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def _block_size(self, min_run_time):
        """Runs per block so that the timer's own overhead is under 0.01% of a block."""
        with _threads(self._task_spec.num_threads):
            overhead = float(np.median([self._run(0) for _ in range(5)]))
            number = 1
            while True:
                taken = self._run(number)
                if (overhead / taken <= 1e-4 and taken >= min_run_time / 1000) or \
                        taken > min_run_time or number * 10 > 2147483647:
                    return number
                number *= 10

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of a fixed size (chosen by a warm-up) until ``min_run_time`` seconds."""
        number = self._block_size(min_run_time)
        times = self._loop(number, lambda t: True, min_run_time, callback=callback)
        return Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None):
        """Blocks until the IQR is under ``threshold`` of the median (after 4 blocks and
        ``min_run_time`` seconds) or ``max_run_time`` seconds have passed."""
        number = self._block_size(0.05)

        def stop(times):
            return len(times) > 3 and Measurement(number, times, self._task_spec) \
                .meets_confidence(threshold)
        times = self._loop(number, stop, min_run_time, max_run_time, callback)
        return Measurement(number, times, self._task_spec)
