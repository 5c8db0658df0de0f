"""AdaptiveLogSoftmaxWithLoss (Grave et al., 2016), PyTorch's layer: a softmax over many
classes that spends less on rare ones. The frequent classes (below ``cutoffs[0]``) and
one entry per cluster of rarer classes share the ``head``; each cluster has its own
smaller ``tail`` projection, so log p(class) = log p(cluster) + log p(class | cluster).
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from .. import ops
from .._creation import zeros
from .._tensor import Tensor, _leaf
from .container import ModuleList
from .layers import Linear, Sequential
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """``forward(input, target)`` gives ``(output, loss)``: the log-probability of each
    target and their negated mean. ``log_prob(input)`` gives all ``n_classes``
    log-probabilities, ``predict(input)`` the most likely class. Parameters as PyTorch's
    (``head``; ``tail.i`` = Linear(in, in // div_value**(i+1)), Linear(that, cluster size)),
    so a PyTorch state dict loads."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1 \
                or len(set(cutoffs)) != len(cutoffs) or \
                any(not isinstance(c, numbers.Real) or int(c) != c for c in cutoffs):
            raise ValueError(f"cutoffs should be a sequence of unique, positive integers "
                             f"sorted in an increasing order, where each value is between "
                             f"1 and n_classes-1 = {n_classes - 1}, got {cutoffs}")
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        kw = dict(device=device, dtype=dtype)
        self.head = Linear(in_features, self.head_size, bias=head_bias, **kw)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            if hsz < 1:         # PyTorch builds a Linear(in, 0): the cluster is uniform
                raise ValueError(f"AdaptiveLogSoftmaxWithLoss: cluster {i}'s projection "
                                 f"would have in_features // div_value**{i + 1} = 0 "
                                 f"features ({in_features} // {div_value}**{i + 1}); use "
                                 f"fewer cutoffs, a smaller div_value or more in_features")
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, **kw),
                                        Linear(hsz, osz, bias=False, **kw)))

    def reset_parameters(self):
        """Draw the head's and tails' weights afresh, as at construction."""
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):  # noqa: A002
        x = input_ if isinstance(input_, Tensor) else Tensor(input_)
        t = np.asarray(target_.data if isinstance(target_, Tensor) else target_)
        if t.ndim == 1:
            if x.shape[0] != t.shape[0]:
                raise RuntimeError(f"Input and target should have the same size in the batch "
                                   f"dimension, got input {tuple(x.shape)} and target "
                                   f"{t.shape}")
            if x.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {tuple(x.shape)}")
        elif t.ndim == 0:
            if x.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {tuple(x.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = t.ndim > 0
        if not batched:
            x, t = x.unsqueeze(0), t.reshape(1)
        if t.dtype.kind not in "iu":
            raise TypeError(f"AdaptiveLogSoftmaxWithLoss: target must hold class indices "
                            f"(integers), got dtype {t.dtype}")
        if t.size and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{t.min()}, {t.max()}] were found. ")
        n = t.shape[0]
        gather = t.astype(np.int64)
        output = None
        for i in range(1, len(self.cutoffs)):
            low, high = self.cutoffs[i - 1], self.cutoffs[i]
            rows = np.nonzero((t >= low) & (t < high))[0]
            if rows.size == 0:
                continue
            gather[rows] = self.shortlist_size + i - 1
            logp = ops.log_softmax(self.tail[i - 1](x[rows]), dim=1)
            local = logp.gather(1, _leaf((t[rows] - low).astype(np.int64).reshape(-1, 1)))
            part = zeros(n, dtype=local.dtype).index_add(0, _leaf(rows), local[:, 0])
            output = part if output is None else output + part
        head = ops.log_softmax(self.head(x), dim=1)
        chosen = head.gather(1, _leaf(gather.reshape(-1, 1)))[:, 0]
        output = chosen if output is None else output + chosen
        loss = (-output).mean()
        return _ASMoutput(output if batched else output[0], loss)

    def _get_full_log_prob(self, input, head_output):  # noqa: A002
        """All n_classes log-probabilities from the input and the head's output."""
        head = ops.log_softmax(head_output, dim=1)
        parts = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = ops.log_softmax(self.tail[i](input), dim=1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return ops.cat(parts, dim=1)

    def log_prob(self, input):  # noqa: A002
        """Log-probabilities of all ``n_classes`` classes: (N, in_features) -> (N, C)."""
        x = input if isinstance(input, Tensor) else Tensor(input)
        return self._get_full_log_prob(x, self.head(x))

    def predict(self, input):  # noqa: A002
        """The most likely class of each row (``log_prob(input).argmax(dim=1)``, with the
        tails computed only for rows whose head points to a cluster)."""
        x = input if isinstance(input, Tensor) else Tensor(input)
        head = self.head(x)
        out = np.argmax(head.data, axis=1).astype(np.int64)
        rest = out >= self.shortlist_size
        if rest.any():
            rows = np.nonzero(rest)[0]
            logp = self._get_full_log_prob(x[rows], head[rows])
            out[rows] = np.argmax(logp.data, axis=1)
        return _leaf(out)
