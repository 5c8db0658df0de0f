"""Loss modules: ``loss_fn(prediction, target)`` returns a scalar tensor to backward.

Constructors take PyTorch's arguments (including the deprecated ``size_average`` and
``reduce``, mapped to ``reduction`` as PyTorch does); class weights are buffers.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss",
           "NLLLoss", "HuberLoss", "SmoothL1Loss", "KLDivLoss", "MarginRankingLoss",
           "TripletMarginLoss", "CosineEmbeddingLoss", "HingeEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "MultiLabelMarginLoss", "MultiMarginLoss",
           "GaussianNLLLoss", "PoissonNLLLoss", "CTCLoss", "TripletMarginWithDistanceLoss"]


class _Loss(Module):
    _fn = None
    _reductions = F._REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        super().__init__()
        _check_flags(type(self).__name__, size_average=size_average, reduce=reduce)
        reduction = F._legacy_reduction(size_average, reduce, reduction)
        F._check_reduction(type(self).__name__, reduction, self._reductions)
        self.reduction = reduction

    def forward(self, input, target):  # noqa: A002
        if type(self)._fn is None:      # a user's subclass without its own forward
            return super().forward(input, target)
        return type(self)._fn(input, target, reduction=self.reduction)

    def extra_repr(self):           # PyTorch's losses show no settings
        return ""


def _check_flags(name, **flags):
    """Refuse a tensor in a flag's place: ``nn.MSELoss(output, target)`` builds the module
    with the data as PyTorch's ``size_average`` and ``reduce`` (PyTorch raises on their
    truth value) instead of computing the loss."""
    for flag, v in flags.items():
        if v is not None and not isinstance(v, (bool, int, np.bool_)):
            what = (f"a tensor of shape {tuple(v.shape)}" if hasattr(v, "shape")
                    else f"{type(v).__name__}")
            raise TypeError(f"{name}: {flag} must be None or a bool, got {what}; the "
                            f"prediction and target go to the built module, not to its "
                            f"constructor: loss_fn = nn.{name}(); loss = loss_fn(output, "
                            f"target) (or nn.{name}()(output, target))")


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error, the chapter's loss: mean((prediction - target)**2)."""
    _fn = staticmethod(F.mse_loss)


class L1Loss(_Loss):
    """Mean absolute error: mean(|prediction - target|)."""
    _fn = staticmethod(F.l1_loss)


class BCELoss(_WeightedLoss):
    """Binary cross entropy on probabilities (after a sigmoid), targets in [0, 1]."""
    _fn = staticmethod(F.binary_cross_entropy)

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross entropy on raw scores, numerically stable; targets in
    [0, 1]; ``pos_weight`` weighs the positive examples (one value per class). A
    ``_Loss`` with its own ``weight`` buffer, not a ``_WeightedLoss``, as PyTorch's."""
    _fn = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean",
                 pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        for name, v in (("weight", weight), ("pos_weight", pos_weight)):
            self.register_buffer(name, v if v is None or isinstance(v, Tensor) else Tensor(v))

    def forward(self, input, target):  # noqa: A002
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax + negative log-likelihood on raw scores (N, C) and integer labels (N,) (or
    class probabilities), with ``weight``, ``ignore_index`` and ``label_smoothing``."""
    _fn = staticmethod(F.cross_entropy)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean", label_smoothing=0.0):
        super().__init__(weight, size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got "
                             f"{label_smoothing!r}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):  # noqa: A002
        if self.weight is None and not self.label_smoothing and self.ignore_index == -100:
            return F.cross_entropy(input, target, reduction=self.reduction)
        return F.cross_entropy(input, target, weight=self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities (N, C) and integer labels (N,)."""
    _fn = staticmethod(F.nll_loss)

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):  # noqa: A002
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class HuberLoss(_Loss):
    """0.5 d**2 where |d| < delta, else delta (|d| - 0.5 delta)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction=reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0, got {delta!r}")
        self.delta = delta

    def forward(self, input, target):  # noqa: A002
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class SmoothL1Loss(_Loss):
    """0.5 d**2 / beta where |d| < beta, else |d| - 0.5 beta."""

    def __init__(self, size_average=None, reduce=None, reduction="mean", beta=1.0):
        super().__init__(size_average, reduce, reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")
        self.beta = beta

    def forward(self, input, target):  # noqa: A002
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence; input log-probabilities, target probabilities (or
    log-probabilities with ``log_target=True``). Use ``reduction='batchmean'``."""
    _reductions = ("mean", "sum", "none", "batchmean")

    def __init__(self, size_average=None, reduce=None, reduction="mean", log_target=False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):  # noqa: A002
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class _MarginLoss(_Loss):
    """A loss with a ``margin`` (PyTorch's argument order: margin first)."""
    _margin = 0.0

    def __init__(self, margin=None, size_average=None, reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.margin = self._margin if margin is None else margin


class MarginRankingLoss(_MarginLoss):
    """max(0, -y (x1 - x2) + margin): y = 1 says x1 should rank higher, -1 lower."""

    def forward(self, input1, input2, target):
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class HingeEmbeddingLoss(_MarginLoss):
    """x where y = 1, max(0, margin - x) where y = -1 (x often a distance)."""
    _margin = 1.0

    def forward(self, input, target):  # noqa: A002
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1."""

    def forward(self, input1, input2, target):
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """log(1 + exp(-y x)) for targets y = 1 or -1 (a two-class logistic loss)."""
    _fn = staticmethod(F.soft_margin_loss)


class MultiLabelMarginLoss(_Loss):
    """Multi-label hinge loss: for each label j of a sample and each class i it lacks,
    max(0, 1 - (x[j] - x[i])), summed and divided by C; target (N, C) lists the labels,
    ended by -1."""
    _fn = staticmethod(F.multilabel_margin_loss)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Independent sigmoid cross entropies over the classes of each sample, averaged over
    the classes; 0/1 targets (N, C), ``weight`` per class."""

    def forward(self, input, target):  # noqa: A002
        return F.multilabel_soft_margin_loss(input, target, weight=self.weight,
                                             reduction=self.reduction)


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])**p / C, on
    scores (N, C) and integer labels (N,); CS231n's ``svm_loss`` is C times the mean."""

    def __init__(self, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                 reduction="mean"):
        super().__init__(weight, size_average, reduce, reduction)
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: p must be 1 or 2, got {p!r}")
        self.p, self.margin = p, margin

    def forward(self, input, target):  # noqa: A002
        return F.multi_margin_loss(input, target, p=self.p, margin=self.margin,
                                   weight=self.weight, reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin), d the pairwise ``p``-norm distance; ``swap``
    also tries the positive as the anchor."""

    def __init__(self, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None,
                 reduce=None, reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginLoss: margin must be > 0, got {margin!r}")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class TripletMarginWithDistanceLoss(_Loss):
    """max(0, d(a, p) - d(a, n) + margin) with any distance function (a
    :class:`PairwiseDistance` by default); ``swap`` also tries the positive as the anchor."""

    def __init__(self, *, distance_function=None, margin=1.0, swap=False, reduction="mean"):
        super().__init__(reduction=reduction)
        if not margin > 0:
            raise ValueError(f"TripletMarginWithDistanceLoss: margin must be greater than 0, "
                             f"got {margin!r}")
        from .distance import PairwiseDistance
        self.distance_function = distance_function if distance_function is not None \
            else PairwiseDistance()
        self.margin, self.swap = margin, swap

    def forward(self, anchor, positive, negative):
        return F.triplet_margin_with_distance_loss(
            anchor, positive, negative, distance_function=self.distance_function,
            margin=self.margin, swap=self.swap, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Negative log-likelihood of the target under N(input, var): 0.5 (log var +
    (input - target)**2 / var), var clamped at ``eps``; ``full`` adds 0.5 log(2 pi)."""

    def __init__(self, *, full=False, eps=1e-6, reduction="mean"):
        super().__init__(reduction=reduction)
        self.full, self.eps = full, eps

    def forward(self, input, target, var):  # noqa: A002
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Negative log-likelihood of counts under Poisson(rate): exp(input) - target input
    for log-rates (``log_input``), else input - target log(input + eps)."""

    def __init__(self, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                 reduction="mean"):
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input, target):
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input,
                                  full=self.full, eps=self.eps, reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification: -log p(target | log_probs), summed over
    every alignment of the target to the input's time steps (with blanks between).
    log_probs (T, N, C) are log_softmax outputs, time first; see F.ctc_loss."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)
