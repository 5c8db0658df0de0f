"""Pooling, resampling and channel-wise layers for CNNs: MaxPool1d/2d/3d,
AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, AdaptiveMaxPool1d/2d/3d, LPPool1d/2d/3d,
Upsample, Dropout2d, BatchNorm2d/3d (PyTorch's arguments)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _leaf
from ..errors import ShapeError
from . import _conv as C
from . import _more as M
from . import _volume as V
from .functional import batch_norm
from .layers import _BatchNorm, _DropoutNd
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Upsample", "Dropout2d", "BatchNorm2d",
           "AdaptiveMaxPool1d", "UpsamplingNearest2d", "UpsamplingBilinear2d", "Dropout1d",
           "AlphaDropout", "FeatureAlphaDropout",
           "MaxUnpool1d", "MaxUnpool2d", "LocalResponseNorm", "MaxPool3d", "AvgPool3d",
           "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "BatchNorm3d", "MaxUnpool3d", "Dropout3d", "CrossMapLRN2d", "SyncBatchNorm"]


class _MaxPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else \
            kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        f = (C.max_pool1d, C.max_pool2d, V.max_pool3d)[self._nd - 1]
        return f(x, self.kernel_size, self.stride, self.padding, self.dilation,
                 ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding="
                f"{self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPool):
    """The maximum of each window of (N, C, L)."""
    _nd = 1


class MaxPool2d(_MaxPool):
    """The maximum of each window of (N, C, H, W): ``MaxPool2d(2)`` halves height and
    width, keeping the strongest response of each 2x2 block."""
    _nd = 2


class MaxPool3d(_MaxPool):
    """The maximum of each window of (N, C, D, H, W) (or (C, D, H, W)): ``MaxPool3d(2)``
    halves depth, height and width."""
    _nd = 3


class _MaxUnpool(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        def tup(v):
            return tuple(v) if isinstance(v, (tuple, list)) else (v,) * self._nd
        self.kernel_size = tup(kernel_size)
        self.stride = tup(stride if stride is not None else kernel_size)
        self.padding = tup(padding)

    def forward(self, input, indices, output_size=None):  # noqa: A002
        f = {1: M.max_unpool1d, 2: M.max_unpool2d, 3: M.max_unpool3d}[self._nd]
        return f(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """The inverse of MaxPool1d(return_indices=True): values back where their maxima were."""
    _nd = 1


class MaxUnpool2d(_MaxUnpool):
    """The inverse of MaxPool2d(return_indices=True): values back where their maxima were."""
    _nd = 2


class MaxUnpool3d(_MaxUnpool):
    """The inverse of MaxPool3d(return_indices=True): values back where their maxima were."""
    _nd = 3


class LocalResponseNorm(Module):
    """Normalise each channel by the mean square of its ``size`` neighbouring channels:
    x / (k + alpha * mean(x**2)) ** beta (AlexNet)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):  # noqa: A002
        return M.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _cross_map_window(channels, size):
    """(C, C) counts: row c says which channels' squares PyTorch's CrossMapLRN2d sums for
    channel c. Its running sum adds channel c + pre - 1 and drops channel c - pre only for
    c > pre, so channel 0 stays in the sums beyond it; reproduced, not corrected."""
    pre = int((size - 1) / 2 + 1)
    m = np.zeros((channels, channels))
    m[0, :min(pre, channels)] = 1
    for c in range(1, channels):
        m[c] = m[c - 1]
        if c < channels - pre + 1:
            m[c, c + pre - 1] += 1
        if c > pre:
            m[c, c - pre] -= 1
    return m


class CrossMapLRN2d(Module):
    """PyTorch's older local response norm of (N, C, H, W):
    x * (k + alpha / size * s) ** -beta, ``s`` a running sum of x**2 over neighbouring
    channels as PyTorch's forward computes it (see :func:`_cross_map_window`); for a
    centred window use :class:`LocalResponseNorm`."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):  # noqa: A002
        from .. import ops
        x = M._t(input, "CrossMapLRN2d")
        if x.ndim != 4:
            raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {x.ndim}D instead "
                             f"(shape {tuple(x.shape)}; (N, C, H, W))")
        w = _leaf(_cross_map_window(x.shape[1], self.size).T.astype(x.dtype))
        s = ops.matmul((x * x).movedim(1, -1), w).movedim(-1, 1)
        return x * (s * (self.alpha / self.size) + self.k) ** -self.beta

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _AvgPool(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else \
            kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x):
        if self._nd == 1:
            return C.avg_pool1d(x, self.kernel_size, self.stride, self.padding,
                                self.ceil_mode, self.count_include_pad)
        f = C.avg_pool2d if self._nd == 2 else V.avg_pool3d
        return f(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                 self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPool):
    """The mean of each window of (N, C, L)."""
    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)

    def extra_repr(self):           # PyTorch keeps AvgPool1d's sizes as 1-tuples
        one = [v if isinstance(v, tuple) else (v,) for v in
               (self.kernel_size, self.stride, self.padding)]
        return "kernel_size={}, stride={}, padding={}".format(*one)


class AvgPool2d(_AvgPool):
    """The mean of each window of (N, C, H, W)."""
    _nd = 2


class AvgPool3d(_AvgPool):
    """The mean of each window of (N, C, D, H, W) (or (C, D, H, W))."""
    _nd = 3


class _LPPool(Module):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, x):
        f = (V.lp_pool1d, V.lp_pool2d, V.lp_pool3d)[self._nd - 1]
        return f(x, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """Power-average pooling of (N, C, L): (sum of x ** norm_type over each window) **
    (1 / norm_type)."""
    _nd = 1


class LPPool2d(_LPPool):
    """Power-average pooling of (N, C, H, W) (see :class:`LPPool1d`)."""
    _nd = 2


class LPPool3d(_LPPool):
    """Power-average pooling of (N, C, D, H, W) (see :class:`LPPool1d`)."""
    _nd = 3


class _Adaptive(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_Adaptive):
    """Average pooling of (N, C, L) to a fixed length."""

    def forward(self, x):
        return C.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_Adaptive):
    """Average pooling of (N, C, H, W) to a fixed (oh, ow) whatever the input size;
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def forward(self, x):
        return C.adaptive_avg_pool2d(x, self.output_size)


class _AdaptiveMaxPoolNd(_Adaptive):
    """PyTorch's base of the adaptive max pools: ``output_size``, ``return_indices``."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) to a fixed (oh, ow)."""

    def forward(self, x):
        return C.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class AdaptiveAvgPool3d(_Adaptive):
    """Average pooling of (N, C, D, H, W) (or (C, D, H, W)) to a fixed (od, oh, ow);
    ``AdaptiveAvgPool3d(1)`` is global average pooling."""

    def forward(self, x):
        return V.adaptive_avg_pool3d(x, self.output_size)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, D, H, W) (or (C, D, H, W)) to a fixed (od, oh, ow)."""

    def forward(self, x):
        return V.adaptive_max_pool3d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) to a fixed length."""

    def forward(self, x):
        from ._more import adaptive_max_pool1d
        return adaptive_max_pool1d(x, self.output_size, self.return_indices)


class Upsample(Module):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) by ``scale_factor`` or to
    ``size``: mode 'nearest' (default), 'linear', 'bilinear', 'bicubic' or 'trilinear'
    (see ``functional.interpolate``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, x):
        return C.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self):
        s = self.scale_factor
        if s is None:
            return f"size={self.size!r}, mode={self.mode!r}"
        s = tuple(float(v) for v in s) if isinstance(s, (tuple, list)) else float(s)
        return f"scale_factor={s!r}, mode={self.mode!r}"       # PyTorch stores floats


class Dropout2d(_DropoutNd):
    """In training, zero whole channels of (N, C, H, W) with probability ``p`` (and scale
    the rest by 1/(1-p)): neighbouring pixels are correlated, so dropping single pixels
    regularises little. Identity in evaluation."""

    def forward(self, x):
        return C.dropout2d(x, self.p, self.training)


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` of (N, C, H, W)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)``."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class Dropout1d(_DropoutNd):
    """In training, zero whole channels of (N, C, L) or (C, L) with probability ``p``
    (the rest scaled by 1/(1-p)). Identity in evaluation."""

    def forward(self, x):
        from ._more import dropout1d
        return dropout1d(x, self.p, self.training)


class Dropout3d(_DropoutNd):
    """In training, zero whole channels of (N, C, D, H, W) or (C, D, H, W) with
    probability ``p`` (the rest scaled by 1/(1-p)). Identity in evaluation."""

    def forward(self, x):
        return M.dropout3d(x, self.p, self.training)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps SELU's self-normalisation: in training, elements are set to
    SELU's saturation value with probability ``p`` and all are rescaled so that a mean of
    0 and a variance of 1 are preserved (:func:`~zeroin.nn.functional.alpha_dropout`).
    Identity in evaluation."""

    def forward(self, x):
        from ._more import alpha_dropout
        return alpha_dropout(x, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """:class:`AlphaDropout` of whole channels of (N, C, *): one draw per channel."""

    def forward(self, x):
        from ._more import feature_alpha_dropout
        return feature_alpha_dropout(x, self.p, self.training)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation per channel of (N, C, H, W): statistics over the batch, height
    and width; running statistics as :class:`BatchNorm1d`."""

    def _check_input_dim(self, x):
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm2d: expected input of shape (N, {self.num_features}, "
                             f"H, W), got {x.shape}" + ("; for (N, C) or (N, C, L) use "
                                                        "BatchNorm1d" if x.ndim in (2, 3)
                                                        else ""))


class BatchNorm3d(_BatchNorm):
    """Batch normalisation per channel of (N, C, D, H, W): statistics over the batch and
    the volume; running statistics as :class:`BatchNorm1d`."""

    def _check_input_dim(self, x):
        if x.ndim != 5 or x.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm3d: expected input of shape (N, {self.num_features}, "
                             f"D, H, W), got {x.shape}" + ("; for (N, C, H, W) use "
                                                           "BatchNorm2d" if x.ndim == 4
                                                           else ""))


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) whose statistics PyTorch gathers across the
    processes of ``process_group``; zeroin runs in one process, so it is the batch norm
    of its own batch (as PyTorch's SyncBatchNorm outside a process group)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, x):
        if x.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input (got {x.ndim}D "
                             f"input), (N, C, *)")
        if x.shape[1] != self.num_features:
            raise ValueError(f"SyncBatchNorm: expected input with {self.num_features} "
                             f"channels in dimension 1, got shape {x.shape}")

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every batch norm in it (itself included) replaced by a
        SyncBatchNorm that shares its parameters and running statistics."""
        out = module
        if isinstance(module, _BatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      bias=module.bias is not None)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
