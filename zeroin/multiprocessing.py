"""PyTorch's ``torch.multiprocessing``: Python's ``multiprocessing`` re-exported (zeroin's
tensors are NumPy arrays, which pickle through its queues as they are), the sharing-strategy
names, and ``spawn``/``start_processes``, which run ``fn(i, *args)`` in ``nprocs`` processes
and raise PyTorch's ``ProcessRaisedException`` / ``ProcessExitedException`` on a failure."""
import multiprocessing as _mp
import sys as _sys
import traceback as _traceback
import warnings as _warnings
from multiprocessing import *  # noqa: F401,F403

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "spawn", "start_processes", "ProcessContext", "ProcessException",
           "ProcessRaisedException", "ProcessExitedException"] + list(_mp.__all__)

_STRATEGIES = {"file_system", "file_descriptor"}
_sharing = ["file_descriptor"]


def get_all_sharing_strategies():
    return set(_STRATEGIES)


def get_sharing_strategy():
    return _sharing[0]


def set_sharing_strategy(new_strategy):
    """Accepted for PyTorch code; zeroin shares nothing through it (NumPy arrays pickle)."""
    if new_strategy not in _STRATEGIES:
        raise ValueError(f"set_sharing_strategy: expected one of {sorted(_STRATEGIES)}, got "
                         f"{new_strategy!r}")
    _sharing[0] = new_strategy


class ProcessException(Exception):
    def __init__(self, msg, error_index, error_pid):
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A spawned process raised: the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A spawned process exited with a non-zero code (or was killed by a signal)."""

    def __init__(self, msg, error_index, error_pid, exit_code, signal_name=None):
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i, args, error_queue):
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:
        error_queue.put(_traceback.format_exc())
        _sys.exit(1)


class ProcessContext:
    """The started processes; :meth:`join` waits for them and raises the first failure."""

    def __init__(self, processes, error_queues):
        self.processes, self.error_queues = processes, error_queues

    def pids(self):
        return [p.pid for p in self.processes]

    def join(self, timeout=None):
        """True once every process has ended well; raises for the first that did not."""
        for p in self.processes:
            p.join(timeout)
        for i, (p, q) in enumerate(zip(self.processes, self.error_queues)):
            if p.exitcode is None:
                return False
            if not q.empty():
                raise ProcessRaisedException(f"\n\n-- Process {i} terminated with the "
                                             f"following error:\n{q.get()}", i, p.pid)
            if p.exitcode != 0:
                raise ProcessExitedException(f"process {i} terminated with exit code "
                                             f"{p.exitcode}", i, p.pid, p.exitcode)
        return True


def start_processes(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """Run ``fn(i, *args)`` for i in range(nprocs), each in a new process."""
    ctx = _mp.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args=(), nprocs=1, join=True, daemon=False, start_method="spawn"):
    """``torch.multiprocessing.spawn``: :func:`start_processes` (another start method
    than 'spawn' warns, as PyTorch, and is used)."""
    if start_method != "spawn":
        _warnings.warn(f"This method only supports start_method=spawn (got: {start_method})."
                       f"\nTo use a different start_method use:\n\t\t "
                       f"torch.multiprocessing.start_processes(...)", FutureWarning,
                       stacklevel=2)
    return start_processes(fn, args, nprocs, join, daemon, start_method)
