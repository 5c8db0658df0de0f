"""Lazy modules, as PyTorch's: ``nn.LazyLinear(10)`` learns its ``in_features`` from the
first input.

Until the first forward the weights are :class:`UninitializedParameter` (reading their
shape raises); the first call reads the input's size, gives them their shapes, initialises
them as the regular layer would (drawing from zeroin's generator then, not when the
module is built) and turns the module into the regular class (``cls_to_become``:
``LazyLinear`` becomes ``Linear``). The parameters stay the same objects, so an
optimiser made before the first forward trains them; a state dict loaded before it gives
them the saved shapes.
"""
from __future__ import annotations

import numpy as np

from .._tensor import no_grad
from .conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                   ConvTranspose3d)
from .layers import BatchNorm1d, Linear, _BatchNorm
from .module import UninitializedBuffer, UninitializedParameter, UninitializedTensorMixin
from .normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm
from .pooling import BatchNorm2d, BatchNorm3d

__all__ = ["LazyModuleMixin", "LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d",
           "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d",
           "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


def _quiet_rng():
    """A generator for the regular constructor's throwaway initialisation, so building a
    lazy module draws nothing from zeroin's generator (PyTorch draws at the first call)."""
    return np.random.default_rng(0)


def _infer_parameters(module, args, kwargs):
    """The forward pre-hook of a lazy module: initialise from the first input, then become
    the regular class and drop the hooks."""
    module.initialize_parameters(*args, **kwargs)
    if module.has_uninitialized_params():
        raise RuntimeError(f"module {type(module).__name__} has not been fully initialized")
    module._initialize_hook.remove()
    del module._initialize_hook
    from .hooks import TABLES
    hooks = module.__dict__.get("_hooks")
    if hooks is not None and not any(module.__dict__.get(n) for n in TABLES.values()):
        del module.__dict__["_hooks"]           # the module is called without hooks again
    loads = module.__dict__.get("_load_state_dict_pre_hooks")
    if loads is not None:
        for key in [k for k, h in loads.items() if getattr(h, "func", h) is _lazy_load_hook]:
            del loads[key]
        if not loads:
            del module.__dict__["_load_state_dict_pre_hooks"]
    if module.cls_to_become is not None:
        module.__class__ = module.cls_to_become


def _lazy_load_hook(module, state_dict, prefix, *_):
    """Before ``load_state_dict``: the uninitialised tensors take the saved shapes."""
    for name, t in list(module._parameters.items()) + list(module._buffers.items()):
        key = prefix + name
        if isinstance(t, UninitializedTensorMixin) and key in state_dict:
            v = state_dict[key]
            if isinstance(v, UninitializedTensorMixin):
                continue
            t.materialize(np.shape(v.data if hasattr(v, "data") else v))


class LazyModuleMixin:
    """What makes a module lazy (PyTorch's ``nn.modules.lazy.LazyModuleMixin``): the hook
    that calls ``initialize_parameters(*first_input)`` on the first forward, and the load
    hook that shapes the uninitialised tensors from a state dict."""
    cls_to_become = None

    def _setup_lazy(self):
        self._initialize_hook = self.register_forward_pre_hook(_infer_parameters,
                                                               with_kwargs=True)
        self._register_load_state_dict_pre_hook(_lazy_load_hook, with_module=True)

    def has_uninitialized_params(self):
        """Whether a parameter or buffer of this module still has no shape."""
        return any(isinstance(t, UninitializedTensorMixin)
                   for t in list(self._parameters.values()) + list(self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")


class LazyLinear(LazyModuleMixin, Linear):
    """A :class:`Linear` whose ``in_features`` is the last dimension of the first input."""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(1, out_features, bias, dtype=dtype, rng=_quiet_rng(), device=device)
        dt = self.weight.dtype
        self.in_features = 0
        self.weight = UninitializedParameter(dtype=dt)
        if bias:
            self.bias = UninitializedParameter(dtype=dt)
        self._setup_lazy()

    def reset_parameters(self, rng=None):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters(rng)

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        if not self.has_uninitialized_params():     # shaped by load_state_dict
            self.in_features = int(self.weight.shape[1])
            return
        with no_grad():
            self.in_features = int(input.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()


class _LazyConvMixin(LazyModuleMixin):
    """The lazy convolutions: ``in_channels`` is the channel dimension of the first input
    (dimension 1 of a batch, 0 of an unbatched input)."""

    def _lazy_init(self, out_channels, kernel_size, kwargs):
        groups = kwargs.get("groups", 1)
        super().__init__(groups if isinstance(groups, int) and groups > 0 else 1,
                         out_channels, kernel_size, rng=_quiet_rng(), **kwargs)
        dt = self.weight.dtype
        self.in_channels = 0
        self.weight = UninitializedParameter(dtype=dt)
        if self.bias is not None:
            self.bias = UninitializedParameter(dtype=dt)
        self._setup_lazy()

    def reset_parameters(self, rng=None):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters(rng)

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        if not self.has_uninitialized_params():     # shaped by load_state_dict
            w = self.weight.shape
            self.in_channels = int(w[0] if self._transposed else w[1] * self.groups)
            return
        nd, name = self._nd, type(self).__name__
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input "
                               f"to {name}, but got input of size: {list(input.shape)}")
        c = int(input.shape[1] if input.ndim == nd + 2 else input.shape[0])
        if c % self.groups:
            raise ValueError(f"in_channels must be divisible by groups ({name}: "
                             f"in_channels {c}, read from the input of shape "
                             f"{tuple(input.shape)}, groups={self.groups})")
        with no_grad():
            self.in_channels = c
            o, g = self.out_channels, self.groups
            lead = (c, o // g) if self._transposed else (o, c // g)
            self.weight.materialize(lead + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((o,))
            self.reset_parameters()


def _lazy_conv(name, base, doc):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, *args, **kwargs):
        names = (("output_padding", "groups", "bias", "dilation", "padding_mode")
                 if base._transposed else ("dilation", "groups", "bias", "padding_mode"))
        kwargs.update(zip(names, args))
        kwargs.pop("device", None)
        self._lazy_init(out_channels, kernel_size, dict(stride=stride, padding=padding,
                                                        **kwargs))
    return type(name, (_LazyConvMixin, base), {"cls_to_become": base, "__init__": __init__,
                                               "__doc__": doc, "__module__": __name__})


_DOC = "A :class:`{0}` whose ``in_channels`` is read from the first input."
LazyConv1d = _lazy_conv("LazyConv1d", Conv1d, _DOC.format("Conv1d"))
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d, _DOC.format("Conv2d"))
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d, _DOC.format("Conv3d"))
LazyConvTranspose1d = _lazy_conv("LazyConvTranspose1d", ConvTranspose1d,
                                 _DOC.format("ConvTranspose1d"))
LazyConvTranspose2d = _lazy_conv("LazyConvTranspose2d", ConvTranspose2d,
                                 _DOC.format("ConvTranspose2d"))
LazyConvTranspose3d = _lazy_conv("LazyConvTranspose3d", ConvTranspose3d,
                                 _DOC.format("ConvTranspose3d"))


class _LazyNormMixin(LazyModuleMixin):
    """The lazy batch norms: ``num_features`` is dimension 1 of the first input."""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        dt = np.dtype(dtype) if dtype is not None else None
        if affine:
            self.weight = UninitializedParameter(dtype=dt)
            if bias:
                self.bias = UninitializedParameter(dtype=dt)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dt)
            self.running_var = UninitializedBuffer(dtype=dt)
        self._setup_lazy()

    def reset_parameters(self):
        if self.has_uninitialized_params() or self.num_features == 0:
            return
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            if self.bias is not None:
                self.bias.data[...] = 0

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected input of at least 2 "
                             f"dimensions (N, C, ...), got shape {tuple(input.shape)}")
        if self.num_features == 0:      # also with nothing to shape (affine=False...)
            self.num_features = int(input.shape[1])
        if self.has_uninitialized_params():
            with no_grad():
                for t in (self.weight, self.bias, self.running_mean, self.running_var):
                    if isinstance(t, UninitializedTensorMixin):
                        t.materialize((self.num_features,))
                self.reset_parameters()


class LazyBatchNorm1d(_LazyNormMixin, _BatchNorm):
    """A :class:`BatchNorm1d` whose ``num_features`` is read from the first input (a
    ``_BatchNorm``, not a ``BatchNorm1d`` until then, as PyTorch's)."""
    cls_to_become = BatchNorm1d
    _check_input_dim = BatchNorm1d._check_input_dim


class LazyBatchNorm2d(_LazyNormMixin, _BatchNorm):
    """A :class:`BatchNorm2d` whose ``num_features`` is read from the first input (a
    ``_BatchNorm``, not a ``BatchNorm2d`` until then, as PyTorch's)."""
    cls_to_become = BatchNorm2d
    _check_input_dim = BatchNorm2d._check_input_dim


class LazyBatchNorm3d(_LazyNormMixin, _BatchNorm):
    """A :class:`BatchNorm3d` whose ``num_features`` is read from the first input (a
    ``_BatchNorm``, not a ``BatchNorm3d`` until then, as PyTorch's)."""
    cls_to_become = BatchNorm3d
    _check_input_dim = BatchNorm3d._check_input_dim


class _LazyInstanceNormMixin(_LazyNormMixin):
    """As PyTorch's: with nothing to shape (``affine=False, track_running_stats=False``)
    ``num_features`` stays 0 and the instance norm warns that it is unused. Shaped by a
    state dict, it takes ``num_features`` from the first input (PyTorch's keeps 0 and
    then refuses every input), as zeroin's lazy batch norms do."""

    def initialize_parameters(self, input, *args, **kwargs):  # noqa: A002
        if self.has_uninitialized_params() or self.affine or self.track_running_stats:
            super().initialize_parameters(input, *args, **kwargs)


class LazyInstanceNorm1d(_LazyInstanceNormMixin, _InstanceNorm):
    """An :class:`InstanceNorm1d` whose ``num_features`` is read from the first input
    (dimension 1, as PyTorch's; its defaults ``affine=True, track_running_stats=True``)."""
    cls_to_become = InstanceNorm1d
    _spatial = 1


class LazyInstanceNorm2d(_LazyInstanceNormMixin, _InstanceNorm):
    """An :class:`InstanceNorm2d` whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm2d
    _spatial = 2


class LazyInstanceNorm3d(_LazyInstanceNormMixin, _InstanceNorm):
    """An :class:`InstanceNorm3d` whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm3d
    _spatial = 3
