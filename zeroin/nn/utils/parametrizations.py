"""``weight_norm`` and ``spectral_norm`` as parametrizations, as
``torch.nn.utils.parametrizations``: the weight is computed from the originals on every
read (see :mod:`zeroin.nn.utils.parametrize`), and the state dict keys are PyTorch's
(``parametrizations.weight.original0`` / ``original1`` for weight norm's g and v;
``parametrizations.weight.original`` and ``parametrizations.weight.0._u`` / ``_v`` for
spectral norm); ``orthogonal`` (``parametrizations.weight.original`` and, with
``use_trivialization``, ``parametrizations.weight.0.base``) is in ``_orthogonal.py``.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ..._tensor import Tensor, _leaf
from ..module import Module
from . import parametrize

from ._orthogonal import orthogonal

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


def _norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every dimension but ``dim`` (kept, size 1), PyTorch's
    ``norm_except_dim``; ``dim=-1`` is the norm of the whole tensor (a 0-d result)."""
    from ..._torch_ops import norm
    if dim == -1:
        return norm(v)
    d = dim % v.ndim
    return norm(v, 2, tuple(i for i in range(v.ndim) if i != d), keepdim=True)


class _WeightNorm(Module):
    """w = g * v / ||v||, the norm over every dimension but ``dim``."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def _check_dim(op, weight, dim):
    if dim is not None and dim != -1 and not -weight.ndim <= dim < weight.ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for the weight of shape "
                         f"{tuple(weight.shape)} (expected in [-{weight.ndim}, "
                         f"{weight.ndim - 1}], or None for the norm of the whole tensor)")


def weight_norm(module, name="weight", dim=0):
    """Weight normalisation (Salimans & Kingma 2016): ``module.<name>`` becomes
    ``g * v / ||v||`` with ``g = parametrizations.<name>.original0`` (the magnitudes, shape
    (out, 1, ...) for ``dim=0``) and ``v = ...original1`` (the directions); ``dim=None``
    takes one norm over the whole tensor. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"weight_norm: module '{type(module).__name__}' has no parameter "
                         f"or buffer with name '{name}'")
    _check_dim("weight_norm", weight, dim)
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)

    def compat(state_dict, prefix, *_):
        """A state dict of the older weight_norm (``weight_g``, ``weight_v``) loads."""
        g, v = f"{prefix}{name}_g", f"{prefix}{name}_v"
        if g in state_dict and v in state_dict:
            state_dict[f"{prefix}parametrizations.{name}.original0"] = state_dict.pop(g)
            state_dict[f"{prefix}parametrizations.{name}.original1"] = state_dict.pop(v)

    module._register_load_state_dict_pre_hook(compat)
    return module


def _as_matrix(weight, dim):
    """A weight as a matrix with dimension ``dim`` as its rows (spectral norm's view of a
    conv kernel), the other dimensions flattened in order."""
    if dim != 0:
        weight = weight.permute(dim, *(d for d in range(weight.ndim) if d != dim))
    return weight.reshape(weight.shape[0], -1)


def _normalize(a, eps):
    return a / max(float(np.sqrt(np.dot(a, a))), eps)


class _SpectralNorm(Module):
    """W / sigma(W), sigma estimated by power iteration on the buffers ``_u``, ``_v``
    (updated in training mode only, as PyTorch)."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"spectral_norm: dimension out of range (expected to be in "
                             f"range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be positive, "
                             f"but got n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            from ...random import get_rng
            self.n_power_iterations = n_power_iterations
            w = self._matrix(weight).data
            h, k = w.shape
            rng = get_rng()
            u = rng.standard_normal(h).astype(w.dtype)
            v = rng.standard_normal(k).astype(w.dtype)
            self.register_buffer("_u", _leaf(_normalize(u, eps)))
            self.register_buffer("_v", _leaf(_normalize(v, eps)))
            self._power_method(w, 15)

    def _matrix(self, weight):
        return _as_matrix(weight, self.dim)

    def _power_method(self, w, n):
        """``n`` power-iteration steps on the array ``w``, written into the buffers."""
        u, v = self._buffers["_u"].data, self._buffers["_v"].data     # PyTorch's names
        for _ in range(n):
            u[...] = _normalize(w @ v, self.eps)
            v[...] = _normalize(w.T @ u, self.eps)

    def forward(self, weight):
        if weight.ndim == 1:
            from ..functional import normalize
            return normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            self._power_method(mat.data, self.n_power_iterations)
        u, v = (_leaf(self._buffers[k].data.copy()) for k in ("_u", "_v"))
        sigma = ops.sum(u * (mat @ v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation (Miyato et al. 2018): ``module.<name>`` becomes W / sigma(W),
    sigma the largest singular value of W as a matrix (rows along ``dim``: 0, or 1 for the
    ConvTranspose layers), estimated by ``n_power_iterations`` power-iteration steps each
    time the weight is read in training mode. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: module '{type(module).__name__}' has no parameter "
                         f"or buffer with name '{name}'")
    if dim is None:
        from ..conv import ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d,
                                       ConvTranspose3d)) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
