"""PyTorch's ``torch.cpu``: the device-agnostic calls (``getattr(torch, device_type)``) on
the one device zeroin has. ``Stream``/``Event`` do nothing, as PyTorch's CPU ones: work
runs in order, as it is asked for."""
from contextlib import contextmanager

__all__ = ["is_available", "is_initialized", "device_count", "current_device", "set_device",
           "synchronize", "Stream", "Event", "StreamContext", "stream", "current_stream"]


class Stream:
    """Only for device-agnostic code, as PyTorch's CPU stream: its methods do nothing."""

    def __init__(self, priority=-1):
        pass

    def wait_stream(self, stream):
        pass

    def record_event(self):
        pass

    def wait_event(self, event):
        pass


class Event:
    """A CPU event: always reached."""

    def query(self):
        return True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass


_streams = [Stream()]       # the default stream, then any set by `stream(...)`


def is_available():
    """True: the CPU is always there."""
    return True


def is_initialized():
    return True


def device_count():
    """1, as PyTorch counts the CPU."""
    return 1


def current_device():
    """``'cpu'``."""
    return "cpu"


def set_device(device):
    """Nothing to switch: one CPU device."""


def synchronize(device=None):
    """Nothing to wait for: CPU work is done when the call returns."""


def current_stream(device=None):
    return _streams[-1]


@contextmanager
def StreamContext(stream):  # noqa: N802  (PyTorch's class name)
    """Make ``stream`` the current one inside the ``with`` block (None: no change)."""
    if stream is None:
        yield
        return
    _streams.append(stream)
    try:
        yield
    finally:
        _streams.pop()


def stream(stream):
    """``with zeroin.cpu.stream(s):``: see :func:`StreamContext`."""
    return StreamContext(stream)
