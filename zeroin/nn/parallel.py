"""PyTorch's ``torch.nn.parallel`` on one CPU process: ``DataParallel`` and
``DistributedDataParallel`` wrap a module and call it (PyTorch does the same with no GPU,
and with a one-process group), so wrapped training scripts run and their checkpoints keep
PyTorch's ``module.``-prefixed keys."""
from contextlib import contextmanager

from .module import Module

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


class DataParallel(Module):
    """``nn.DataParallel(module)``: on a machine without GPUs PyTorch calls ``module`` as it
    is (``device_ids`` becomes ``[]``), and so does zeroin, always. ``.module`` is the
    wrapped module; its state dict keys start with ``module.``."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel: expected an nn.Module to wrap, got "
                            f"{type(module).__name__}")
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """``module(*inputs, **module_kwargs)``: PyTorch's functional DataParallel on the CPU."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module)`` in the one process zeroin runs: it needs the
    default process group (``zeroin.distributed.init_process_group(world_size=1)``), as
    PyTorch; averaging the gradients over one process leaves them as they are, so the
    forward is the module's. ``no_sync()`` and ``join()`` are PyTorch's context managers."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=None, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        from .. import distributed
        super().__init__()
        if process_group is None and not distributed.is_initialized():
            raise ValueError(distributed._NOT_INIT)
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.device_ids, self.output_device, self.dim = None, None, dim
        self.broadcast_buffers = True if broadcast_buffers is None else broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.require_backward_grad_sync = True

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)

    @contextmanager
    def no_sync(self):
        """Gradients accumulate without synchronisation inside (PyTorch's flag is kept;
        with one process there is nothing to synchronise)."""
        old, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    @contextmanager
    def join(self, divide_by_initial_world_size=True, enable=True,
             throw_on_early_termination=False):
        """Uneven inputs across processes cannot happen with one process: runs the body."""
        yield
