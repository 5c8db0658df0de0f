"""The ``torch.<name>`` functional ops that PyTorch also exposes at top level
(``torch.conv2d``, ``torch.layer_norm``, ``torch.dropout``...), as ``zeroin.<name>``.

Where ``torch.<name>`` takes the arguments of ``torch.nn.functional.<name>``, the name is
``zeroin.nn.functional``'s own function, loaded on first use (:data:`LAZY`, so that
``import zeroin`` does not load ``zeroin.nn``). Where the top-level signature differs (ATen's:
``torch.dropout(input, p, train)``, ``torch.embedding(weight, indices, ...)``, reductions as
ints 0/1/2 for 'none'/'mean'/'sum'), a thin wrapper here takes PyTorch's top-level arguments and
calls the functional one, so values and gradients are the functional ones.
"""
from __future__ import annotations


from ._tensor import Tensor
from ._tensor_api import _export
from .errors import ShapeError

# torch.<name> with F.<name>'s signature: zeroin.<name> is F.<name> (loaded lazily); the ones
# that are registered ops (conv*, avg_pool1d, adaptive_avg_pool1d) say export=True there
LAZY = {name: ("zeroin.nn.functional", name) for name in (
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "avg_pool1d", "adaptive_avg_pool1d", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "cosine_similarity", "pairwise_distance", "bilinear", "prelu",
    "hardshrink", "rms_norm")}
LAZY["native_channel_shuffle"] = ("zeroin.nn.functional", "channel_shuffle")


def _F():
    from .nn import functional
    return functional


def _bind(name):
    """``Tensor.<name>``: F.<name> (loaded on first call)."""
    def method(self, *args, **kwargs):
        return getattr(_F(), name)(self, *args, **kwargs)
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"``x.{name}(...)``: :func:`zeroin.nn.functional.{name}` of this tensor."
    setattr(Tensor, name, method)


for _name in ("prelu", "hardshrink"):
    _bind(_name)


_REDUCTIONS = ("none", "mean", "sum")


def _reduction(name, reduction):
    """ATen's reduction int (0 'none', 1 'mean', 2 'sum') as F's string. Omitted, it is 0
    ('none'): what ``torch.kl_div(x, y)`` and the other top-level losses give."""
    if isinstance(reduction, bool) or not isinstance(reduction, int):
        raise TypeError(f"{name}: reduction must be an int at top level (0 'none', 1 'mean', "
                        f"2 'sum'), as torch.{name}, got {reduction!r}; or use "
                        f"zeroin.nn.functional.{name}(..., reduction='mean')")
    if reduction not in (0, 1, 2):
        raise ValueError(f"{name}: reduction must be 0 ('none'), 1 ('mean') or 2 ('sum'), "
                         f"got {reduction}")
    return _REDUCTIONS[reduction]


# --- dropout (ATen's (input, p, train), no defaults) -------------------------------------

def _p(name, p):
    """ATen's check, a RuntimeError at top level (F's is a ValueError, as PyTorch's F)."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"{name}: dropout probability has to be between 0 and 1, but got "
                           f"{p}")
    return p


@_export
def dropout(input, p, train):  # noqa: A002
    """``torch.dropout(input, p, train)``: :func:`zeroin.nn.functional.dropout`."""
    return _F().dropout(input, _p("dropout", p), train)


@_export
def alpha_dropout(input, p, train):  # noqa: A002
    """``torch.alpha_dropout(input, p, train)``: :func:`zeroin.nn.functional.alpha_dropout`."""
    return _F().alpha_dropout(input, _p("alpha_dropout", p), train)


@_export
def feature_alpha_dropout(input, p, train):  # noqa: A002
    """``torch.feature_alpha_dropout(input, p, train)``: one draw per (sample, channel)."""
    return _F().feature_alpha_dropout(input, _p("feature_alpha_dropout", p), train)


@_export
def feature_dropout(input, p, train):  # noqa: A002
    """``torch.feature_dropout(input, p, train)``: zero whole channels of (N, C, *) with
    probability ``p`` and scale the rest by 1/(1-p) in training; identity otherwise."""
    from . import ops
    from .nn._conv import Dropout2dOp
    from .nn.functional import feature_dropout_mask
    _p("feature_dropout", p)
    x = ops._t(input)
    if x.ndim < 2:
        raise RuntimeError(f"feature_dropout: feature dropout requires at least 2 dimensions "
                           f"in the input (N, C, *), got shape {tuple(x.shape)}; for a vector "
                           f"use zeroin.dropout")
    if not train or p == 0:
        return x
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return Dropout2dOp(feature_dropout_mask(x.data, shape, p, "feature_dropout"))(x)


# --- normalisation (ATen's argument order; the cudnn flags are accepted, no effect) -------

@_export
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5,  # noqa: A002
               cudnn_enable=True):
    """``torch.layer_norm``: :func:`zeroin.nn.functional.layer_norm` (``cudnn_enable``
    accepted and ignored)."""
    return _F().layer_norm(input, normalized_shape, weight, bias, eps)


@_export
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5,  # noqa: A002
               cudnn_enabled=True):
    """``torch.group_norm``: :func:`zeroin.nn.functional.group_norm`."""
    return _F().group_norm(input, num_groups, weight, bias, eps)


@_export
def batch_norm(input, weight, bias, running_mean, running_var, training, momentum,  # noqa: A002
               eps, cudnn_enabled):
    """``torch.batch_norm``, ATen's order (weight and bias before the running statistics,
    every argument required): :func:`zeroin.nn.functional.batch_norm`."""
    return _F().batch_norm(input, running_mean, running_var, weight, bias, training,
                           momentum, eps)


@_export
def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats,  # noqa: A002
                  momentum, eps, cudnn_enabled):
    """``torch.instance_norm``, ATen's order: :func:`zeroin.nn.functional.instance_norm`."""
    return _F().instance_norm(input, running_mean, running_var, weight, bias,
                              use_input_stats, momentum, eps)


# --- embedding, convolution, pooling, padding ---------------------------------------------

@_export
def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """``torch.embedding(weight, indices, ...)`` (weight first, as ATen): the rows of
    ``weight``; a negative ``padding_idx`` means none (F's -1 means the last row)."""
    pad = None if padding_idx is None or padding_idx < 0 else padding_idx
    return _F().embedding(indices, weight, pad, scale_grad_by_freq=scale_grad_by_freq,
                          sparse=sparse)


@_export
def convolution(input, weight, bias, stride, padding, dilation, transposed,  # noqa: A002
                output_padding, groups):
    """``torch.convolution``: conv{1,2,3}d, or conv_transpose{1,2,3}d when ``transposed``,
    chosen by ``weight.ndim``."""
    F = _F()
    n = len(weight.shape) - 2
    if n not in (1, 2, 3):
        raise ShapeError(f"convolution: weight must be 3-D, 4-D or 5-D (out, in/groups, "
                         f"*kernel), got shape {tuple(weight.shape)}")
    if transposed:
        return getattr(F, f"conv_transpose{n}d")(input, weight, bias, stride, padding,
                                                 output_padding, groups, dilation)
    return getattr(F, f"conv{n}d")(input, weight, bias, stride, padding, dilation, groups)


def _max_pool(n):
    def pool(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):  # noqa: A002
        return getattr(_F(), f"max_pool{n}d")(input, kernel_size, stride or None, padding,
                                              dilation, ceil_mode)
    pool.__name__ = pool.__qualname__ = f"max_pool{n}d"
    pool.__doc__ = (f"``torch.max_pool{n}d`` (no ``return_indices``: see "
                    f"``max_pool1d_with_indices`` or F.max_pool{n}d).")
    return _export(pool)


max_pool1d, max_pool2d, max_pool3d = (_max_pool(n) for n in (1, 2, 3))


@_export
def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False):
    """``torch.max_pool1d_with_indices``: the (values, indices) pair."""
    return _F().max_pool1d(input, kernel_size, stride or None, padding, dilation, ceil_mode,
                           True)


@_export
def adaptive_max_pool1d(input, output_size):  # noqa: A002
    """``torch.adaptive_max_pool1d``: always the (values, indices) pair."""
    return _F().adaptive_max_pool1d(input, output_size, True)


@_export
def constant_pad_nd(input, pad, value=0):  # noqa: A002
    """``torch.constant_pad_nd``: pad the last dimensions with ``value``,
    ``pad=(left, right, top, bottom, ...)``; negative amounts crop (a slice)."""
    from . import ops
    x, pad = ops._t(input), [int(p) for p in pad]
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"constant_pad_nd: pad must hold (left, right) pairs for at most "
                           f"{x.ndim} dimensions (an even length), got {pad}")
    return _F().pad(x, pad, "constant", value)      # negative amounts crop, as there


_INTERPOLATION = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")


def _grid_sampler(name, nd):
    def f(input, grid, interpolation_mode, padding_mode, align_corners):  # noqa: A002
        if interpolation_mode not in (0, 1, 2) or padding_mode not in (0, 1, 2):
            raise ValueError(f"{name}: interpolation_mode must be 0 (bilinear), 1 (nearest) "
                             f"or 2 (bicubic) and padding_mode 0 (zeros), 1 (border) or 2 "
                             f"(reflection), got {interpolation_mode} and {padding_mode}")
        if nd and len(input.shape) != nd + 2:
            raise ShapeError(f"{name}: expects a {nd + 2}-D input, got shape "
                             f"{tuple(input.shape)}")
        return _F().grid_sample(input, grid, _INTERPOLATION[interpolation_mode],
                                _PADDING[padding_mode], bool(align_corners))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``torch.{name}``: :func:`zeroin.nn.functional.grid_sample` with ATen's "
                 f"int modes (interpolation 0 bilinear, 1 nearest, 2 bicubic; padding 0 "
                 f"zeros, 1 border, 2 reflection).")
    return _export(f)


grid_sampler = _grid_sampler("grid_sampler", 0)
grid_sampler_2d = _grid_sampler("grid_sampler_2d", 2)
grid_sampler_3d = _grid_sampler("grid_sampler_3d", 3)


@_export
def affine_grid_generator(theta, size, align_corners):
    """``torch.affine_grid_generator``: :func:`zeroin.nn.functional.affine_grid`."""
    return _F().affine_grid(theta, list(size), align_corners)


# --- activations --------------------------------------------------------------------------

@_export
def threshold(input, threshold, value):  # noqa: A002
    """``torch.threshold``: ``input`` where it is > ``threshold``, else ``value``."""
    return _F().threshold(input, threshold, value)


@_export
def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, generator=None):  # noqa: A002
    """``torch.rrelu``: :func:`zeroin.nn.functional.rrelu`, the slopes drawn from
    ``generator`` (zeroin's shared one by default)."""
    from .nn._more import _rrelu
    return _rrelu(input, lower, upper, training, generator)


# --- losses (ATen's reduction: an int) ----------------------------------------------------

@_export
def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,  # noqa: A002
                                     reduction=0):
    """``torch.binary_cross_entropy_with_logits`` (reduction 0/1/2)."""
    r = _reduction("binary_cross_entropy_with_logits", reduction)
    return _F().binary_cross_entropy_with_logits(input, target, weight, reduction=r,
                                                 pos_weight=pos_weight)


@_export
def kl_div(input, target, reduction=0, *, log_target=False):  # noqa: A002
    """``torch.kl_div`` (reduction 0/1/2; 1, 'mean', averages over every element, as
    ATen)."""
    from .nn._composed import _kl_div
    return _kl_div(input, target, _reduction("kl_div", reduction), log_target)


@_export
def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    """``torch.margin_ranking_loss`` (reduction 0/1/2)."""
    return _F().margin_ranking_loss(input1, input2, target, margin,
                                    reduction=_reduction("margin_ranking_loss", reduction))


@_export
def hinge_embedding_loss(input, target, margin=1.0, reduction=0):  # noqa: A002
    """``torch.hinge_embedding_loss`` (reduction 0/1/2)."""
    return _F().hinge_embedding_loss(input, target, margin,
                                     reduction=_reduction("hinge_embedding_loss", reduction))


@_export
def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    """``torch.cosine_embedding_loss`` (reduction 0/1/2)."""
    return _F().cosine_embedding_loss(input1, input2, target, margin,
                                      reduction=_reduction("cosine_embedding_loss", reduction))


@_export
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False,
                        reduction=0):
    """``torch.triplet_margin_loss`` (reduction 0/1/2)."""
    return _F().triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                    reduction=_reduction("triplet_margin_loss", reduction))


@_export
def poisson_nll_loss(input, target, log_input, full, eps, reduction):  # noqa: A002
    """``torch.poisson_nll_loss``, every argument required (reduction 0/1/2)."""
    return _F().poisson_nll_loss(input, target, log_input, full, eps=eps,
                                 reduction=_reduction("poisson_nll_loss", reduction))


@_export
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction=0,
             zero_infinity=False):
    """``torch.ctc_loss`` (reduction 0/1/2)."""
    return _F().ctc_loss(log_probs, targets, input_lengths, target_lengths, blank,
                         _reduction("ctc_loss", reduction), zero_infinity)
