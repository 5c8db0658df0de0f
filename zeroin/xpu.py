"""``zeroin.xpu``: there is no Intel GPU (nor any other) in zeroin, so device-picking code
(``torch.xpu.is_available()``, as in PyTorch's examples) chooses the CPU."""

__all__ = ["is_available", "device_count", "is_initialized", "manual_seed", "manual_seed_all",
           "synchronize", "empty_cache"]


def is_available():
    """False: zeroin computes with NumPy on the CPU."""
    return False


def device_count():
    return 0


def is_initialized():
    """False: there is no XPU state to initialise."""
    return False


def manual_seed(seed):
    """Nothing to seed (no XPU); accepted so that seeding code runs unchanged."""


def manual_seed_all(seed):
    """Nothing to seed (no XPU); accepted so that seeding code runs unchanged."""


def synchronize(device=None):
    """Nothing to wait for: every zeroin op has finished when it returns."""


def empty_cache():
    """Nothing to free (no XPU memory)."""
