"""The older ``torch.nn.utils.weight_norm`` / ``remove_weight_norm`` (deprecated in
PyTorch in favour of :func:`zeroin.nn.utils.parametrizations.weight_norm`, with the same
``FutureWarning``): parameters ``<name>_g`` and ``<name>_v``, and a forward pre-hook that
recomputes ``module.<name>`` (a plain tensor) before every forward."""
from __future__ import annotations

import warnings

from ..module import Parameter
from .parametrizations import _check_dim, _norm_except_dim

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


class WeightNorm:
    """The forward pre-hook of :func:`weight_norm` on one parameter."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name, dim):
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        for hook in _hooks(module).values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"weight_norm: {type(module).__name__} has no parameter "
                             f"{name!r}")
        _check_dim("weight_norm", weight, dim)
        fn = WeightNorm(name, dim)
        delattr(module, name)
        module.register_parameter(name + "_g",
                                  Parameter(_norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        delattr(module, self.name + "_g")
        delattr(module, self.name + "_v")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def _hooks(module):
    return module.__dict__.get("_forward_pre_hooks", {})


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation with a forward pre-hook (PyTorch's older form): ``<name>_g``
    and ``<name>_v`` are the parameters, ``module.<name>`` is recomputed before each
    forward. Prefer :func:`zeroin.nn.utils.parametrizations.weight_norm`."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo :func:`weight_norm`: ``module.<name>`` is a parameter again, holding the
    current weight."""
    return _remove_hook(module, WeightNorm, name, "weight_norm")


def _remove_hook(module, kind, name, what):
    """Take off ``module``'s pre-hook of class ``kind`` on parameter ``name`` (the older
    weight_norm and spectral_norm): the hook puts the parameter back; PyTorch's error if
    there is none."""
    hooks = _hooks(module)
    for k, hook in list(hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            hook.remove(module)
            del hooks[k]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")
