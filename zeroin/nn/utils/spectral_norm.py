"""The older ``torch.nn.utils.spectral_norm`` / ``remove_spectral_norm`` (PyTorch keeps it,
without a deprecation warning, beside :func:`zeroin.nn.utils.parametrizations.spectral_norm`;
SN-GAN code uses it): the parameter ``<name>_orig``, the buffers ``<name>_u`` and
``<name>_v``, and a forward pre-hook that sets ``module.<name>`` = W / sigma(W) (a plain
tensor) before every forward, with ``n_power_iterations`` steps of power iteration on
``u``, ``v`` in training mode only."""
from __future__ import annotations

import numpy as np

from ... import ops
from ..._tensor import _leaf, no_grad
from ..module import Parameter
from .parametrizations import _as_matrix, _normalize
from .weight_norm import _hooks, _remove_hook

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook of :func:`spectral_norm` on one parameter."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, "
                             f"but got n_power_iterations={n_power_iterations}")
        self.name, self.dim, self.eps = name, dim, eps
        self.n_power_iterations = n_power_iterations

    def reshape_weight_to_matrix(self, weight):
        """The weight as a matrix whose rows run along ``dim`` (PyTorch's method name)."""
        return _as_matrix(weight, self.dim)

    def compute_weight(self, module, do_power_iteration):
        """W / (u . W v); in training mode ``u`` and ``v`` first take the power-iteration
        steps (v first, as PyTorch's), in place, outside the graph."""
        weight = getattr(module, self.name + "_orig")
        u, v = (module._buffers[self.name + k].numpy() for k in ("_u", "_v"))
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            w = mat.numpy()
            for _ in range(self.n_power_iterations):
                v[...] = _normalize(w.T @ u, self.eps)
                u[...] = _normalize(w @ v, self.eps)
        sigma = ops.sum(_leaf(u.copy()) * (mat @ _leaf(v.copy())))
        return weight / sigma

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in _hooks(module).values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise KeyError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
        from ...random import get_rng
        h, w = fn.reshape_weight_to_matrix(weight).shape
        rng, dt = get_rng(), weight.dtype
        u = _normalize(rng.standard_normal(h).astype(dt), eps)
        v = _normalize(rng.standard_normal(w).astype(dt), eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)     # the same Parameter object
        setattr(module, name, weight.detach())      # W itself until the first forward
        module.register_buffer(name + "_u", _leaf(np.asarray(u, dtype=dt)))
        module.register_buffer(name + "_v", _leaf(np.asarray(v, dtype=dt)))
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation (Miyato et al. 2018) with a forward pre-hook (PyTorch's older
    form): ``module.<name>`` is W / sigma(W) after each forward, sigma W's largest singular
    value estimated by power iteration (rows along ``dim``: 0, or 1 for the ConvTranspose
    layers). Returns ``module``."""
    if dim is None:
        from ..conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d,
                                       ConvTranspose3d)) else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo :func:`spectral_norm`: ``module.<name>`` is a parameter again, holding the
    current normalised weight (computed without a power-iteration step)."""
    return _remove_hook(module, SpectralNorm, name, "spectral_norm")
