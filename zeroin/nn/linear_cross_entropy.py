"""``F.linear_cross_entropy`` and ``nn.LinearCrossEntropyLoss`` (PyTorch 2.13): the cross
entropy of ``linear(input, weight)`` in one call. PyTorch can chunk the batch
(``options``) to never hold all logits at once; zeroin always runs PyTorch's reference
path (same values and gradients), and accepts ``options`` only so that code runs.
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from .losses import _WeightedLoss
from .layers import Linear

__all__ = ["linear_cross_entropy", "LinearCrossEntropyLoss"]


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,  # noqa: A002
                         reduction="mean", ignore_index=None, label_smoothing=0.0,
                         options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` with
    input (in,) or (N, in) and linear_weight (C, *out_features, in): the logits are
    (N, C, *out_features) (K-dimensional loss). ``ignore_index`` None means -100 for class
    indices; it may not be given with class probabilities."""
    from .functional import cross_entropy, linear
    x = input if isinstance(input, Tensor) else Tensor(input)
    w = linear_weight if isinstance(linear_weight, Tensor) else Tensor(linear_weight)
    t = target if isinstance(target, Tensor) else Tensor(target)
    if x.ndim < 1 or x.ndim > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {x.ndim}")
    if w.ndim < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got "
                           f"{w.ndim}")
    batches, in_features = tuple(x.shape[:-1]), x.shape[-1]
    if in_features != w.shape[-1]:
        raise RuntimeError(f"expected equal input and linear_weight last dimensions "
                           f"(in_features), got {in_features} and {w.shape[-1]}, "
                           f"respectively")
    classes, out_features = w.shape[0], tuple(w.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(classes, *out_features)}, got "
                           f"{tuple(linear_bias.shape)}")
    if out_features and not batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape "
                           f"{tuple(w.shape)} requires batched input, (N, {in_features}), "
                           f"got unbatched input with shape {tuple(x.shape)}")
    logits_shape = (*batches, classes, *out_features)
    if tuple(t.shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains "
                           "probabilities")
    ignore_index = -100 if ignore_index is None else ignore_index
    if out_features:
        rows = math.prod(out_features, start=classes)
        w = w.reshape(rows, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(rows)
    logits = linear(x, w, linear_bias).reshape(logits_shape)
    return cross_entropy(logits, t, weight=weight, reduction=reduction,
                         ignore_index=ignore_index, label_smoothing=label_smoothing)


class LinearCrossEntropyLoss(_WeightedLoss):
    """A :class:`Linear` (``linear``: in_features -> num_classes * prod(out_features),
    stored flat as PyTorch stores it) followed by the cross entropy, in one module:
    ``loss(input, target)``. Arguments and state dict keys as PyTorch's."""

    def __init__(self, in_features, num_classes, *, out_features=(), bias=False,
                 device=None, dtype=None, reduction="mean", weight=None, ignore_index=None,
                 label_smoothing=0.0, options=None):
        if weight is not None and tuple(np.shape(weight.data if isinstance(weight, Tensor)
                                                 else weight)) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(np.shape(getattr(weight, 'data', weight)))}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes, self.out_features = num_classes, out_features
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes),
                             bias=bias, device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):  # noqa: A002
        w = self.linear.weight.reshape((self.num_classes, *self.out_features,
                                        self.linear.in_features))
        b = self.linear.bias
        b = b.reshape((self.num_classes, *self.out_features)) if b is not None else None
        return linear_cross_entropy(input, w, target, linear_bias=b, weight=self.weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing,
                                    options=self.options)

    def extra_repr(self):
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
