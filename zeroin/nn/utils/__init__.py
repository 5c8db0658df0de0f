"""Gradient and parameter utilities under PyTorch's names (``torch.nn.utils``); padding and
packing of variable-length sequences in :mod:`zeroin.nn.utils.rnn`; parametrizations
(``parametrize``, ``parametrizations.weight_norm`` / ``spectral_norm``) and the older
``weight_norm`` / ``remove_weight_norm`` and ``spectral_norm`` /
``remove_spectral_norm``; ``fusion``
(BatchNorm folded into the layer before it), ``stateless.functional_call`` and, imported
as in PyTorch (``import zeroin.nn.utils.prune``), ``prune`` (masks on parameters).

Clipping and zeroing live in :mod:`zeroin.optim.grad_utils`; they are re-exported here.
Every function reads its ``parameters`` once, so a generator (``model.parameters()``)
works.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ..._tensor import Tensor
from ...function import ShapeError
from ...optim.grad_utils import (_zero_grad, clip_grad_norm_, clip_grad_value_,
                                 clip_grads_with_norm_, get_total_norm, params_list)
from . import fusion, parametrizations, parametrize, rnn, stateless
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm", "skip_init", "clip_grad", "convert_parameters",
           "parameters_to_vector",
           "vector_to_parameters", "rnn", "parametrize", "parametrizations", "weight_norm",
           "remove_weight_norm", "spectral_norm", "remove_spectral_norm", "fusion",
           "stateless", "fuse_conv_bn_eval",
           "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights"]

_zero_grad = _zero_grad     # re-exported for old imports


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """The deprecated name of :func:`clip_grad_norm_`, with PyTorch's FutureWarning."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` for code that initialises the values itself next.
    PyTorch's leaves them uninitialised (as ``torch.empty``); zeroin's are the usual
    initial values (NumPy-backed, nothing to skip). As PyTorch's, the class must take a
    ``device`` argument."""
    import inspect

    from ..module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    return module_cls(*args, **kwargs)


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    params = params_list(parameters, "parameters_to_vector")
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    return ops.concatenate([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into the parameters' values, in place."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor for vec, got "
                        f"{type(vec).__name__}")
    params = params_list(parameters, "vector_to_parameters")
    v = vec.data
    total = sum(p.data.size for p in params)
    if v.ndim != 1 or v.size != total:
        raise ShapeError(f"vector_to_parameters: vec must be 1-D with {total} elements (one "
                         f"per parameter value), got shape {v.shape}")
    start = 0
    for p in params:
        n = p.data.size
        p.data = np.array(v[start:start + n].reshape(p.data.shape), dtype=p.data.dtype)
        start += n


from . import clip_grad, convert_parameters  # noqa: E402  (PyTorch's submodule paths)
