"""LayerNorm, GroupNorm, InstanceNorm1d/2d, RMSNorm and Embedding (PyTorch's layers and
default initialisations)."""
from __future__ import annotations

import warnings

import numpy as np

from .._tensor import Tensor, _leaf
from ..errors import ArgumentError
from . import functional as F
from ._composed import _normalized_shape
from .layers import _NormBase, _check_device, _check_input_dtype, _dtype
from .module import Module, Parameter

__all__ = ["LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "RMSNorm", "Embedding",
           "EmbeddingBag"]


class LayerNorm(Module):
    """Normalise each sample over its last dimensions ``normalized_shape`` (mean 0,
    variance 1, biased), then scale and shift elementwise (``weight`` 1, ``bias`` 0)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        shape = _normalized_shape("LayerNorm", normalized_shape)
        if any(d < 1 for d in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got "
                             f"{normalized_shape!r}")
        self.normalized_shape = shape
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _check_device("LayerNorm", device)
        dt = _dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        x = _check_input_dtype(self, x)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise groups of channels of each sample: ``num_channels`` split into
    ``num_groups``; then per-channel ``weight`` (1) and ``bias`` (0). Input (N, C, ...)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible "
                             f"by num_groups ({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = eps, affine
        _check_device("GroupNorm", device)
        dt = _dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_channels, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_channels, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        x = _check_input_dtype(self, x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input (N, {self.num_channels}, ...), got "
                             f"shape {x.shape}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_NormBase):
    _spatial = 1

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def forward(self, x):
        name, k = type(self).__name__, self._spatial
        x = _check_input_dtype(self, x) if self.affine else \
            (x if isinstance(x, Tensor) else Tensor(x))
        if x.ndim not in (k + 1, k + 2):
            shapes = {1: "(C, L) or (N, C, L)", 2: "(C, H, W) or (N, C, H, W)",
                      3: "(C, D, H, W) or (N, C, D, H, W)"}[k]
            raise ValueError(f"{name}: expected a {k + 1}-D or {k + 2}-D input {shapes}, got "
                             f"shape {x.shape}")
        unbatched = x.ndim == k + 1
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.num_features:
            msg = (f"{name}: expected input with {self.num_features} channels "
                   f"(num_features) in dimension {0 if unbatched else 1}, got shape "
                   f"{x.shape[1:] if unbatched else x.shape}")
            if self.affine or self.track_running_stats:
                raise ValueError(msg)
            warnings.warn(msg + "; num_features is unused (affine=False)", UserWarning,
                          stacklevel=2)
        # as PyTorch: num_batches_tracked is kept in the state_dict but never counted
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, self.momentum,
                            self.eps)
        return y[0] if unbatched else y

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Normalise each channel of each sample over its length: input (N, C, L) or (C, L).
    No parameters by default (``affine=True`` adds ``weight`` and ``bias``); with
    ``track_running_stats`` evaluation uses running averages, as BatchNorm."""
    _spatial = 1


class InstanceNorm2d(_InstanceNorm):
    """Normalise each channel of each image over its pixels: input (N, C, H, W) or
    (C, H, W); options as :class:`InstanceNorm1d`."""
    _spatial = 2


class InstanceNorm3d(_InstanceNorm):
    """Normalise each channel of each volume over its voxels: input (N, C, D, H, W) or
    (C, D, H, W); options as :class:`InstanceNorm1d`."""
    _spatial = 3


class RMSNorm(Module):
    """x / sqrt(mean(x**2) + eps) over the last dimensions ``normalized_shape``, times
    ``weight`` (1); ``eps`` None is the input dtype's machine epsilon."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        shape = _normalized_shape("RMSNorm", normalized_shape)
        if any(d < 1 for d in shape):
            raise ValueError(f"RMSNorm: normalized_shape must be positive sizes, got "
                             f"{normalized_shape!r}")
        self.normalized_shape = shape
        self.eps, self.elementwise_affine = eps, elementwise_affine
        _check_device("RMSNorm", device)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=_dtype(dtype)))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.data[...] = 1

    def forward(self, x):
        x = _check_input_dtype(self, x)
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


def _table(name, num_embeddings, embedding_dim, padding_idx, _weight, device, dtype, rng):
    """(padding_idx checked, the weight array) of Embedding and EmbeddingBag: ``_weight``,
    or N(0, 1) draws with the ``padding_idx`` row zero."""
    if padding_idx is not None:
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
            raise TypeError(f"{name}: padding_idx must be a whole number (a row index in "
                            f"0..{num_embeddings - 1}) or None, got {padding_idx!r}")
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise ArgumentError(f"{name}: padding_idx must be within num_embeddings "
                                f"({num_embeddings}): -{num_embeddings}..{num_embeddings - 1}, "
                                f"got {padding_idx}")
        padding_idx %= num_embeddings
    _check_device(name, device)
    if _weight is not None:
        if tuple(np.shape(_weight)) != (num_embeddings, embedding_dim):
            raise ArgumentError(f"{name}: _weight's shape {tuple(np.shape(_weight))} does not "
                                f"match (num_embeddings, embedding_dim) = ({num_embeddings}, "
                                f"{embedding_dim})")
        # a Tensor is kept as it is (PyTorch's Parameter shares its memory and dtype)
        return padding_idx, (_weight if isinstance(_weight, Tensor)
                             else np.array(_weight, dtype=_dtype(dtype)))
    from ..random import Generator
    from .init import normal_
    w = np.empty((num_embeddings, embedding_dim), dtype=_dtype(dtype))
    # init.normal_ as PyTorch's reset_parameters: on the torch stream, PyTorch's numbers
    normal_(w, **({"generator": rng} if rng is None or isinstance(rng, Generator)
                  else {"rng": rng}))
    if padding_idx is not None:
        w[padding_idx] = 0
    return padding_idx, w


def _pretrained(name, embeddings):
    """``from_pretrained``'s table: a Tensor itself (shared), other data as a new tensor."""
    e = embeddings if isinstance(embeddings, Tensor) else _leaf(np.array(embeddings))
    if e.ndim != 2:
        raise ArgumentError(f"{name}.from_pretrained: embeddings must be 2-D (num_embeddings, "
                            f"embedding_dim), got shape {tuple(e.shape)}")
    return e


class Embedding(Module):
    """A lookup table: integer indices -> rows of ``weight`` (num_embeddings,
    embedding_dim), initialised N(0, 1) (the ``padding_idx`` row zero, never updated).
    ``max_norm``, ``norm_type`` and ``scale_grad_by_freq`` act as in PyTorch (see
    :func:`zeroin.nn.functional.embedding`); ``sparse=True`` is refused."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None, rng=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if sparse:
            raise NotImplementedError("Embedding: sparse=True (a sparse gradient) is not "
                                      "supported; use sparse=False: the gradient is a dense "
                                      "array")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        self.padding_idx, w = _table(type(self).__name__, num_embeddings, embedding_dim,
                                     padding_idx, _weight, device, dtype, rng)
        self.weight = Parameter(w if isinstance(w, Tensor) else _leaf(w),
                                requires_grad=not _freeze)
        if _freeze:
            self.__dict__["_parameters"]["weight"] = self.weight

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding holding ``embeddings`` (2-D); frozen unless ``freeze=False``. A
        tensor's memory is shared, as PyTorch's (its ``padding_idx`` row is left as it is)."""
        e = _pretrained("Embedding", embeddings)
        return cls(e.shape[0], e.shape[1], padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                   sparse=sparse, _weight=e, _freeze=freeze)

    def forward(self, input):  # noqa: A002
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm,
                           self.norm_type, self.scale_grad_by_freq)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        return s + (", scale_grad_by_freq=True" if self.scale_grad_by_freq else "")


class EmbeddingBag(Module):
    """Sums, means or maxima of the embedding rows of bags of indices (a 2-D input of bags,
    or a 1-D input with ``offsets``): :func:`~zeroin.nn.functional.embedding_bag` with a
    weight initialised as :class:`Embedding`'s."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None,
                 rng=None):
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        if sparse:
            raise NotImplementedError("EmbeddingBag: sparse=True (a sparse gradient) is not "
                                      "supported; use sparse=False: the gradient is dense")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), False
        self.mode, self.include_last_offset = mode, include_last_offset
        self.padding_idx, w = _table("EmbeddingBag", num_embeddings, embedding_dim,
                                     padding_idx, _weight, device, dtype, rng)
        self.weight = Parameter(w if isinstance(w, Tensor) else _leaf(w))

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding ``embeddings`` (2-D, a tensor's memory shared); frozen
        unless ``freeze=False``."""
        e = _pretrained("EmbeddingBag", embeddings)
        bag = cls(e.shape[0], e.shape[1], max_norm=max_norm, norm_type=norm_type,
                  scale_grad_by_freq=scale_grad_by_freq, mode=mode, sparse=sparse,
                  _weight=e, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):  # noqa: A002
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, False, per_sample_weights,
                               self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        s += ", scale_grad_by_freq=True" if self.scale_grad_by_freq else ""
        s += f", mode={self.mode!r}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
