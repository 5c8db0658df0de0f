"""``zeroin.cuda``: there is no GPU in zeroin, so device-agnostic PyTorch code picks the CPU."""
from __future__ import annotations

from . import amp

__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize",
           "is_bf16_supported", "empty_cache", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "is_initialized", "current_device", "get_device_name",
           "get_device_properties", "get_device_capability", "Event", "amp"]


def is_available():
    """False: zeroin computes with NumPy on the CPU."""
    return False


def device_count():
    return 0


def is_bf16_supported(including_emulation=True):
    """False, as PyTorch's without a GPU (nanoGPT picks its dtype with it)."""
    return False


def manual_seed(seed):
    """Nothing to seed (no GPU); accepted so that seeding code runs unchanged."""


def manual_seed_all(seed):
    """Nothing to seed (no GPU); accepted so that seeding code runs unchanged."""


def synchronize(device=None):
    """Nothing to wait for: every zeroin op has finished when it returns."""


def empty_cache():
    """Nothing to free (no GPU memory); accepted as PyTorch's without a GPU, so fast.ai's
    ``clean_mem()`` (``gc.collect(); torch.cuda.empty_cache()``) runs unchanged."""


def memory_allocated(device=None):
    """0 bytes: zeroin holds no GPU memory (PyTorch's gives 0 without a GPU)."""
    return 0


def max_memory_allocated(device=None):
    """0 bytes: zeroin holds no GPU memory (PyTorch's gives 0 without a GPU)."""
    return 0


def memory_reserved(device=None):
    """0 bytes: zeroin holds no GPU memory (PyTorch's gives 0 without a GPU)."""
    return 0


def is_initialized():
    """False: there is no CUDA state to initialise."""
    return False


def _no_gpu(name, fix=""):
    """PyTorch built without CUDA raises AssertionError here; zeroin's is that and a
    RuntimeError, with the device-agnostic idiom that avoids the call."""
    from ..errors import NotCompiledError
    return NotCompiledError(
        f"cuda.{name}: zeroin runs on the CPU (NumPy) only, so there is no GPU to ask about "
        f"(PyTorch without CUDA raises too); guard the call with "
        f"`if zeroin.cuda.is_available():`{fix}")


def current_device():
    raise _no_gpu("current_device")


def get_device_name(device=None):
    raise _no_gpu("get_device_name")


def get_device_properties(device=None):
    raise _no_gpu("get_device_properties")


def get_device_capability(device=None):
    raise _no_gpu("get_device_capability")


class Event:
    """A CUDA timing event; with no GPU, making one raises (as PyTorch's without CUDA, a
    RuntimeError): time CPU code with ``time.perf_counter()``. The UvA tutorial 2 times a
    GPU matmul with ``cuda.Event(enable_timing=True)`` / ``record()`` / ``elapsed_time``."""

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        raise _no_gpu("Event", " and time CPU code with time.perf_counter()")
