"""``zeroin.accelerator``: PyTorch's device-generic API, so that the tutorials' first line
``device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available()
else "cpu"`` picks the CPU. There is no accelerator in zeroin: the calls that need one raise
PyTorch's RuntimeError."""
from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "current_device_idx", "set_device_index", "set_device_idx", "synchronize",
           "empty_cache"]

_NONE = ("Cannot access accelerator device when none is available (zeroin computes with "
         "NumPy on the CPU: use device 'cpu').")


def is_available():
    """False: zeroin has no accelerator."""
    return False


def current_accelerator(check_available=False):
    """None (no accelerator); with ``check_available=True`` too, as PyTorch."""
    return None


def device_count():
    """0: no accelerator."""
    return 0


def _none(*args, **kwargs):
    raise RuntimeError(_NONE)


current_device_index = current_device_idx = _none
set_device_index = set_device_idx = synchronize = empty_cache = _none
