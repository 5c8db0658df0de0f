"""Layer and loss functions: each new op is one :class:`~zeroin.Function` with its forward
and backward rule side by side (see :mod:`zeroin.ops` for the contract).

``linear`` and ``cross_entropy`` are single fused ops: one node in the graph, one place to
read the derivative, and no intermediate arrays that a chain of small ops would allocate.
The loss ops refuse target shapes that would broadcast by mistake.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import _torch_ops
from .. import ops as _ops
from .._tensor import Tensor, _leaf
from ..anomaly import not_replayable
from ..errors import DtypeError, ShapeError, ZeroinError, not_a_tensor
from ..function import Function
from ..ops import (NP, _call1, _call2, _calln, _needs, _number, _product, _raw, op, same_dtypes,
                   sigmoid, softplus, tanh, zero_of)
from .._torch_rng import refuse
from ..random import get_rng, torch_stream

# np.name loads are full lookups in CPython 3.11 (NumPy's module __getattr__): linear's and
# cross_entropy's, per call, are bound once
_ndarray, _add_reduce = np.ndarray, np.add.reduce
_max_reduce, _exp, _log = np.maximum.reduce, np.exp, np.log

__all__ = ["linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
           "softplus", "dropout", "batch_norm", "mse_loss", "l1_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy",
           "nll_loss", "erf", "gelu", "silu", "elu", "celu", "selu", "mish", "relu6",
           "hardtanh", "logsigmoid", "softsign", "layer_norm", "group_norm", "embedding",
           "huber_loss", "smooth_l1_loss", "kl_div", "conv1d", "conv2d", "conv_transpose1d",
           "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "unfold",
           "fold", "interpolate", "dropout2d"]


# --- activations with PyTorch's inplace flag ---------------------------------------------
# ``inplace=True`` is accepted so that PyTorch code runs; the result is a new tensor, as
# for every zeroin activation (README: differences). zeroin.relu itself takes no flag.

def relu(input, inplace=False):  # noqa: A002
    """Elementwise max(x, 0) (gradient 0 at 0); ``inplace`` is accepted and ignored."""
    return _ops.relu(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """x where x > 0, else negative_slope * x; ``inplace`` is accepted and ignored."""
    return _ops.leaky_relu(input, negative_slope)


# --- linear -----------------------------------------------------------------------------

class LinearOp(Function):
    """y = x @ W.T + b with W of shape (out_features, in_features), PyTorch's layout."""
    __slots__ = ()
    name = "linear"
    grads_fit = True        # the products and the bias's sum have the inputs' shapes

    def forward(self, x, w, b=None):
        if x.ndim > 2:
            # (..., in) as one (rows, in) matrix, as PyTorch's addmm: one BLAS product, not
            # NumPy's one per leading index (a sequence batch's linear: ~0.88 of the time)
            rows = math.prod(x.shape[:-1])
            y = _product(x.reshape(rows, x.shape[-1]), w).reshape(x.shape[:-1] + w.shape[:1])
        else:
            y = _product(x, w)
        if b is not None:
            # a product of two ndarrays is a fresh array: add the bias in place when that
            # keeps NumPy's result dtype
            if type(y) is _ndarray and y.dtype is b.dtype:
                y += b
            else:
                y = y + b
        return y

    def backward(self, xp, g, out, x, w, b=None):
        gx = gw = gb = None
        needs = self.needs_input_grad
        two = g.ndim == 2       # and x's: g has the output's shape (..., out_features)
        if needs[0]:            # skipped for a network's input batch: the biggest saving
            # (..., out) as one matrix, as in forward: one BLAS product (~0.9 of the time)
            gx = g @ w if g.ndim < 3 else \
                (g.reshape(math.prod(g.shape[:-1]), w.shape[0]) @ w).reshape(x.shape)
        if needs[1]:
            if two:
                gw = g.T @ x
            else:
                gw = g.reshape(-1, w.shape[0]).T @ x.reshape(-1, w.shape[1])
        if b is not None and needs[2]:
            g2 = g if two else g.reshape(-1, w.shape[0])
            # ndarray.sum is np.add.reduce behind a Python wrapper
            gb = _add_reduce(g2, axis=0) if xp is NP else g2.sum(axis=0)
        return (gx, gw, gb) if b is not None else (gx, gw)


def _tensor_arg(x, op, what="input"):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, numbers.Number, list, tuple)):
        from .._creation import tensor
        return tensor(x)    # not Tensor(x): Tensor(3) is a new tensor of 3 zeros
    raise not_a_tensor(op, what, x)


def _linear_fix(shape, out_f, in_f):
    """The likely fix for an input whose last dimension is not ``in_f``: flatten images,
    make a column of one-feature samples, or resize the layer."""
    per_sample = int(np.prod(shape[1:])) if len(shape) > 1 else None
    if len(shape) == 1 and in_f == 1:
        return ("a 1-D input is one sample; for one feature per sample make a column with "
                "x.reshape(-1, 1) (or x.unsqueeze(1))")
    if len(shape) > 2 and per_sample == in_f:
        return (f"flatten each sample first: x.flatten(1) (or nn.Flatten() before the layer) "
                f"gives shape ({shape[0]}, {in_f})")
    if len(shape) > 1 and int(np.prod(shape)) == in_f:
        return (f"for this one sample flatten it and add the batch dimension: "
                f"x.reshape(1, {in_f})")
    last = shape[-1] if shape else 1
    return f"reshape the input to (batch, {in_f}) or build the layer as Linear({last}, {out_f})"


@op(LinearOp, export=False)
def linear(input, weight, bias=None):  # noqa: A002
    """``input @ weight.T + bias`` as one op.

    Parameters
    ----------
    input : Tensor of shape (..., in_features)
    weight : Tensor of shape (out_features, in_features)
    bias : Tensor of shape (out_features,), optional
    """
    x = input if isinstance(input, Tensor) else _tensor_arg(input, "linear")
    w = weight if isinstance(weight, Tensor) else _tensor_arg(weight, "linear", "weight")
    xd, wd = x.numpy(), w.numpy()
    # each shape and dtype read once (an ndarray attribute read costs about as much as a
    # Python call: six reads a call instead of ten)
    xs, ws, wt = xd.shape, wd.shape, wd.dtype
    if len(ws) != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{ws}")
    if not xs or xs[-1] != ws[1]:
        raise ShapeError(
            f"linear: input of shape {xs} has {xs[-1] if xs else 0} features "
            f"in its last dimension but the weight of shape {ws} expects "
            f"in_features={ws[1]}; {_linear_fix(xs, *ws)}")
    if wt.kind == "b":      # PyTorch has no bool matrix product
        _ops.no_bool("linear", wd, fix="x.float() and weight.float()")
    # same_dtypes raises only for unequal dtypes; `is` spares it (and a compare) the
    # usual case, one dtype object for all
    if bias is None:
        if xd.dtype is not wt:
            same_dtypes("linear", xd, wd)
        return _call2(LinearOp(), x, w)
    b = bias if isinstance(bias, Tensor) else _tensor_arg(bias, "linear", "bias")
    bd = b.numpy()
    if bd.shape != ws[:1]:
        raise ShapeError(f"linear: bias of shape {b.shape} does not fit weight of shape "
                         f"{ws}; it must have shape ({ws[0]},)")
    if xd.dtype is not wt or bd.dtype is not wt:
        same_dtypes("linear", xd, wd, bd)
    return _calln(LinearOp(), (x, w, b))


# --- dropout and batch norm -------------------------------------------------------------

class DropoutOp(Function):
    """x * mask with a constant mask (dropout)."""
    __slots__ = ("mask",)
    name = "dropout"

    def __init__(self, mask):
        self.mask = mask

    def forward(self, x):
        return x * self.mask

    def backward(self, xp, g, out, x):
        return g * self.mask


@op(DropoutOp, export=False)
def dropout(input, p=0.5, training=True, inplace=False, rng=None):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (training
    only), so that the expected value is unchanged; identity when ``training`` is False.
    ``p`` is the probability to drop (CS231n's ``dropout_param['p']`` is the one to keep:
    pass ``1 - p``). ``inplace`` (PyTorch's fourth argument) is accepted and ignored."""
    if inplace is not None and not isinstance(inplace, (bool, np.bool_)):
        rng, inplace = inplace, False   # rng was the fourth argument before inplace
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability p must be between 0 and 1, got {p}")
    x = _tensor_arg(input, "dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return _call1(DropoutOp(np.zeros((), dtype=x.dtype)), x)
    if x.dtype.kind in "biu":       # the kept values scale by 1/(1-p): floats
        if not x.data.size:         # nothing to scale: PyTorch gives it back
            return _call1(DropoutOp(np.ones((), dtype=x.dtype)), x)
        raise DtypeError(f"dropout: result type float can't be cast to the input's dtype "
                         f"{x.dtype} (the kept values are scaled by 1/(1-p) = {1 / (1 - p):g}), "
                         f"as PyTorch refuses; convert first: dropout(x.float(), p)")
    stream = torch_stream(rng)
    if stream is not None:
        return _call1(DropoutOp(_torch_dropout_mask(stream, x.data, p)), x)
    keep = get_rng(rng).random(x.shape, dtype=np.float32 if x.dtype == np.float32
                               else np.float64) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return _call1(DropoutOp(mask), x)


def _torch_dropout_mask(stream, x, p, op="dropout"):
    """PyTorch's CPU dropout mask: ``empty_like(x).bernoulli_(1 - p).div_(1 - p)``, the
    division in x's dtype."""
    return _torch_noise(stream, x, p, op) / x.dtype.type(1.0 - p)


def _torch_noise(stream, x, p, op):
    """``empty_like(x).bernoulli_(1 - p)`` in x's dtype (float32 / float64). PyTorch's
    ``empty_like`` keeps a dense tensor's strides and ``bernoulli_`` draws in memory order,
    so a permuted x (``x.t()``, batch-first attention's output) gets its draws in the order
    of its memory, as PyTorch's tensor with the same layout; a strided one is refused."""
    if x.dtype not in (np.float32, np.float64):
        raise refuse(f"{op} of a {x.dtype} tensor")
    if x.flags.c_contiguous:
        return stream.bernoulli(1.0 - p, x.shape).astype(x.dtype)
    axes = sorted(range(x.ndim), key=lambda a: -abs(x.strides[a]))     # outermost first
    in_memory = x.transpose(axes)
    if not (in_memory.flags.c_contiguous and min(x.strides, default=0) >= 0):
        raise refuse(f"{op} of a non-contiguous {x.dtype} tensor whose memory has gaps "
                     f"(strides {tuple(d // x.itemsize for d in x.strides)}); .contiguous() first")
    noise = stream.bernoulli(1.0 - p, in_memory.shape).astype(x.dtype)
    return noise.transpose(np.argsort(axes))


def feature_dropout_mask(x, shape, p, op):
    """Feature dropout's mask of ``shape`` (one value per channel, (N, C, 1, ...)): kept
    channels scaled by 1/(1-p). On the torch stream PyTorch's noise: ``bernoulli_(1 - p)``
    of a fresh tensor of that shape, ``div_(1 - p)`` in x's dtype (p = 1: zeros, no draw)."""
    stream = torch_stream()
    if stream is not None:
        if p == 1:
            return np.zeros((), x.dtype)
        return _torch_dropout_mask(stream, np.empty(shape, x.dtype), p, op)
    keep = get_rng().random(shape) >= p
    return keep.astype(x.dtype) * (1.0 / (1.0 - p) if p < 1 else 0.0)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,  # noqa: A002
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dimension 1) over the batch and any further dimensions
    (length, height, width: input (N, C, *)), then scale and
    shift. In training the batch statistics (biased variance) are used and the running
    ones (plain arrays or tensors) are updated in place, ``running = (1 - momentum) *
    running + momentum * batch`` with the unbiased variance (CS231n's momentum 0.9 is
    PyTorch's 0.1); in evaluation the running statistics are used."""
    x = _tensor_arg(input, "batch_norm")
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"batch_norm: momentum must be a number, got {momentum!r}; the "
                        f"modules' momentum=None (a cumulative average) means 1 / the number "
                        f"of batches seen so far, counting this one")
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected input of shape (N, C, *) such as (N, C) or "
                         f"(N, C, H, W), got {x.shape}")
    for what, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if v is not None and np.size(_raw(v)) != x.shape[1]:     # PyTorch's check
            raise ShapeError(f"batch_norm: {what} should contain {x.shape[1]} elements (one "
                             f"per channel of the input {tuple(x.shape)}, dimension 1), not "
                             f"{np.size(_raw(v))}; make it with {x.shape[1]} values")
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        n = int(np.prod(x.shape)) // x.shape[1]
        if n < 2:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}; use a batch of at "
                             f"least 2 or call model.eval()")
        mean = x.mean(axis=axes, keepdims=True)
        xc = x - mean
        var = (xc * xc).mean(axis=axes, keepdims=True)
        xhat = xc / (var + eps).sqrt()
        if running_mean is not None:
            not_replayable("batch_norm updates its running statistics in place")
            rm, rv = _raw(running_mean), _raw(running_var)
            rm *= 1 - momentum
            rm += momentum * mean.data.reshape(-1).astype(rm.dtype)
            rv *= 1 - momentum
            rv += momentum * (var.data.reshape(-1) * (n / (n - 1))).astype(rv.dtype)
    else:
        if running_mean is None:
            raise ValueError("batch_norm: evaluation needs running statistics")
        rm = _raw(running_mean).reshape(shape).astype(x.dtype, copy=False)
        rv = _raw(running_var).reshape(shape).astype(x.dtype, copy=False)
        xhat = (x - rm) * (1.0 / np.sqrt(rv + eps))
    if weight is not None:
        xhat = xhat * weight.reshape(shape)
    if bias is not None:
        xhat = xhat + bias.reshape(shape)
    return xhat


# --- losses -----------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        names = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{op}: reduction must be one of {names}, got {reduction!r}")


#: the losses whose result dtype PyTorch takes from its arithmetic's promotion (a float32
#: input with a float64 target gives float64); the others keep the input's dtype
_PROMOTING = frozenset({"mse_loss", "l1_loss", "smooth_l1_loss", "kl_div", "poisson_nll_loss",
                        "gaussian_nll_loss", "multilabel_soft_margin_loss"})


def _prepare(op, input, target, reduction, allowed=_REDUCTIONS):  # noqa: A002
    """Checked (input, target) tensors of one shape for an elementwise loss; the target
    takes the input's dtype, or both the promoted one for the losses in ``_PROMOTING``."""
    _check_reduction(op, reduction, allowed)
    x = _tensor_arg(input, op)
    if x.dtype.kind != "f":
        x = _integer_input(op, x, target)
    if op in _PROMOTING and isinstance(target, Tensor) and target.dtype != x.dtype:
        x = _ops._cast(x, _ops.result_type(x, target))    # recorded: grads come back cast
    t = _target(op, target, x)
    _check_same_shape(op, x, t)
    return x, t


#: the regression losses that take integer input as PyTorch's do: the dtype kinds that l1,
#: mse and smooth_l1 promote to a float target's dtype; huber_loss none (PyTorch refuses)
_INTEGER_INPUT = {"l1_loss": "iu", "mse_loss": "iub", "smooth_l1_loss": "iub", "huber_loss": ""}


def _integer_input(op, x, target):
    """An integer or bool ``input``: cast to a float target's dtype where PyTorch computes
    the loss; its NotImplementedError for the regression losses otherwise (an integer
    target too), a TypeError for the rest."""
    if op not in _INTEGER_INPUT:
        raise TypeError(f"{op}: input must be floating point (the model's output), got "
                        f"dtype {x.dtype}")
    if x.dtype.kind in _INTEGER_INPUT[op] and isinstance(target, Tensor) and \
            target.dtype.kind == "f":
        return _ops._cast(x, target.dtype)
    what = getattr(target, "dtype", type(target).__name__)
    raise NotImplementedError(f"{op}: not implemented for input of dtype {x.dtype} with a "
                              f"target of dtype {what}, as in PyTorch; the input is the "
                              f"model's output: convert it, input.float()")


def _check_binary_target(op, t):
    """Binary losses take targets in [0, 1] (labels 0/1 or probabilities): a ValueError,
    and the RuntimeError PyTorch's binary_cross_entropy raises."""
    d = t.numpy()
    if d.size and not (d.min() >= 0 and d.max() <= 1):      # also refuses NaN
        raise _ops._ValueError(f"{op}: targets must be in [0, 1] (0/1 labels or "
                               f"probabilities), got values from {d.min():g} to {d.max():g}; "
                               f"for class labels 0..C-1 use cross_entropy "
                               f"(nn.CrossEntropyLoss) with one output per class")


def _target(op, target, input):  # noqa: A002
    """Make the target a tensor with the input's float dtype (unless it needs grad)."""
    if isinstance(target, Tensor):
        if target.requires_grad or target.dtype == input.dtype:
            return target
        return _leaf(target.data.astype(input.dtype))
    try:
        return _leaf(np.asarray(target, dtype=input.dtype))
    except (TypeError, ValueError):
        raise TypeError(f"{op}: target must be a Tensor or array of numbers, got "
                        f"{type(target).__name__}") from None


def _check_same_shape(op, x, t):
    if x.shape == t.shape or t.ndim == 0:     # a single target value is unambiguous
        return
    msg = f"{op}: input shape {x.shape} and target shape {t.shape} differ"
    try:
        b = np.broadcast_shapes(x.shape, t.shape)
        msg += f"; they would broadcast to {b}"
    except ValueError:
        b = None
    if x.ndim == t.ndim + 1 and x.shape[-1] == 1 and x.shape[:-1] == t.shape:
        fix = ("Reshape the target with target.reshape(-1, 1) or the input with "
               "input.reshape(-1)")
    elif t.ndim == x.ndim + 1 and t.shape[-1] == 1 and t.shape[:-1] == x.shape:
        fix = ("Reshape the input with input.reshape(-1, 1) or the target with "
               "target.reshape(-1)")
    elif np.prod(x.shape) == np.prod(t.shape):
        fix = f"Reshape the target with target.reshape{x.shape}"
    else:
        fix = ("They must have the same shape: one prediction per target value; check the "
               "model's output size and the batch")
    raise ShapeError(f"{msg}. {fix}")


def _inverse(n):
    """1 / n for a mean's gradient; NaN for the mean of nothing (an empty gradient)."""
    return 1.0 / n if n else math.nan


class _LossOp(Function):
    """Elementwise loss l(x, t) followed by a reduction; subclasses give l and its partials."""
    __slots__ = ("reduction",)
    input_roles = (None, "target")

    def __init__(self, reduction):
        self.reduction = reduction

    def label(self):
        return self.name if self.reduction == "mean" else f"{self.name}[{self.reduction}]"

    def forward(self, x, t):
        el = self.elementwise(x, t)
        if self.reduction == "mean":
            return el.sum() * (1.0 / el.size) if el.size else el.mean()
        if self.reduction == "sum":
            return el.sum()
        return el

    def _scale(self, xp, g, x):
        if self.reduction == "none":
            return g
        if xp is NP:
            g = g.item()
        return g * _inverse(int(np.prod(x.shape))) if self.reduction == "mean" else g

    def backward(self, xp, g, out, x, t):
        s = self._scale(xp, g, x)
        gx = self.dx(xp, x, t) * s if _needs(self, 0) else None
        gt = self.dt(xp, x, t) * s if _needs(self, 1) else None
        return gx, gt


def _binary_dtypes(op, x, target):
    """PyTorch's dtype rules of the binary losses for a tensor target: binary_cross_entropy
    wants the input's dtype; ..._with_logits a floating-point target, whose dtype the loss
    takes (the input is cast to it, its gradient comes back in the input's dtype)."""
    if not isinstance(target, Tensor) or target.dtype == x.dtype or x.dtype.kind != "f":
        return x
    if target.dtype.kind != "f":
        raise DtypeError(f"{op}: the target must be floating point (0./1. labels or "
                         f"probabilities), got dtype {target.dtype} with an input of dtype "
                         f"{x.dtype}, as PyTorch refuses; convert it: target.to(input.dtype)")
    if op == "binary_cross_entropy":
        raise DtypeError(f"{op}: input (dtype {x.dtype}) and target (dtype {target.dtype}) "
                         f"must have the same dtype, as PyTorch requires; convert the "
                         f"target: target.to(input.dtype)")
    return _ops._cast(x, target.dtype)


def _loss(cls, op, input, target, reduction):  # noqa: A002
    if cls is BCELossOp or cls is BCEWithLogitsLossOp:
        input = _binary_dtypes(op, _tensor_arg(input, op), target)
    x, t = _prepare(op, input, target, reduction)
    if cls is BCELossOp or cls is BCEWithLogitsLossOp:
        _check_binary_target(op, t)
    return cls(reduction)(x, t)


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average``/``reduce`` arguments, mapped as it does."""
    if size_average is None and reduce is None:
        return reduction
    out = "none" if reduce is False else "sum" if size_average is False else "mean"
    from .._tensor import _user_stacklevel
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{out}' instead.", UserWarning, stacklevel=_user_stacklevel())
    return out


def _check_weight(op, name, w, shape):
    """Refuse a ``weight``/``pos_weight`` whose broadcast would change the input's shape
    (the classic: (n,) against (n, 1) gives (n, n), as PyTorch refuses too)."""
    shape = tuple(shape)
    try:
        out = np.broadcast_shapes(w.shape, shape)
    except ValueError:
        raise ShapeError(f"{op}: {name} of shape {w.shape} does not broadcast to the input's "
                         f"shape {shape}; give one value per element, or a shape that "
                         f"broadcasts to it (such as one per column, ({shape[-1]},))"
                         if shape else f"{op}: {name} of shape {w.shape} against a 0-d "
                         f"input; give a single value") from None
    if out != shape:
        fix = (f"{name}.reshape({', '.join(map(str, (w.shape[0],) + (1,) * (len(shape) - 1)))})"
               if w.ndim == 1 and len(shape) > 1 and w.shape[0] == shape[0] else
               f"a {name} whose shape broadcasts to {shape}")
        raise ShapeError(f"{op}: {name} of shape {w.shape} against the input of shape "
                         f"{shape} would broadcast to {out}, a loss per pair of rows, not one "
                         f"per element; use {fix}")
    return w


def _weighted(op, el, weight, reduction):
    """``el * weight`` reduced; the binary losses keep ``el``'s dtype, as PyTorch's
    in-place product does."""
    if weight is not None:
        w = _check_weight(op, "weight", _tensor_arg(weight, op, "weight"), el.shape)
        el = el * (_ops._cast(w, el.dtype) if op.startswith("binary_") else w)
    if reduction == "mean":
        return el.mean()
    return el.sum() if reduction == "sum" else el


class MSELossOp(_LossOp):
    __slots__ = ()
    name = "mse_loss"

    def elementwise(self, x, t):
        d = x - t
        return d * d

    def dx(self, xp, x, t):
        return (x - t) * 2

    def dt(self, xp, x, t):
        return (t - x) * 2


def _elementwise_weight(op, el, input, weight, reduction, by_weight):  # noqa: A002
    """PyTorch's ``weight=`` of the regression losses: the per-element loss ``el`` times
    ``weight`` (a tensor of the input's shape), then summed, or averaged: divided by
    sum(weight) when ``by_weight`` (mse_loss, l1_loss), by the count otherwise (huber_loss)."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor of the input's shape, got "
                        f"{type(weight).__name__}; wrap it: weight=zeroin.tensor(...)")
    shape = tuple(getattr(input, "shape", ()))
    if tuple(weight.shape) != shape:
        raise ValueError(f"{op}: weight has shape {tuple(weight.shape)} but input {shape}; "
                         f"weights and input must have the same size (as in PyTorch)")
    el = el * weight
    if reduction == "none":
        return el
    if reduction == "sum" or not by_weight:
        return el.sum() if reduction == "sum" else el.mean()
    return el.sum() / weight.sum()


@op(MSELossOp, export=False)
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
             weight=None):
    """Mean squared error: mean((input - target)**2) (or the sum, or per element);
    ``weight`` (input's shape) weighs each element, the mean becoming sum(w l) / sum(w)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is not None:
        el = _loss(MSELossOp, "mse_loss", input, target, "none")
        return _elementwise_weight("mse_loss", el, input, weight, reduction, True)
    return _loss(MSELossOp, "mse_loss", input, target, reduction)


class L1LossOp(_LossOp):
    __slots__ = ()
    name = "l1_loss"

    def elementwise(self, x, t):
        return np.abs(x - t)

    def dx(self, xp, x, t):
        s = np.sign(_raw(x) - _raw(t))
        # recorded: PyTorch's l1_loss is |x - t|, whose sgn is tied to x - t (gradient 0)
        return s if xp is NP else _leaf(s) + zero_of(x - t)

    def dt(self, xp, x, t):
        s = -np.sign(_raw(x) - _raw(t))
        return s if xp is NP else _leaf(s) + zero_of(x - t)


@op(L1LossOp, export=False)
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
            weight=None):
    """Mean absolute error: mean(|input - target|); ``weight`` as in :func:`mse_loss`.
    Complex tensors: the (real) modulus |input - target|, as PyTorch's."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if any(isinstance(a, Tensor) and a.dtype.kind == "c" for a in (input, target)):
        return _complex_l1_loss(input, target, reduction, weight)
    if weight is not None:
        el = _loss(L1LossOp, "l1_loss", input, target, "none")
        return _elementwise_weight("l1_loss", el, input, weight, reduction, True)
    if reduction in ("none", "sum") and all(isinstance(a, Tensor) and a.dtype.kind in "iu"
                                            for a in (input, target)):
        return _integer_l1_loss(input, target, reduction)
    return _loss(L1LossOp, "l1_loss", input, target, reduction)


def _integer_l1_loss(x, t, reduction):
    """l1_loss of two integer tensors where PyTorch computes it (no mean): |x - t| in
    their promoted dtype (wrapping around as PyTorch's), its sum an int64."""
    _check_same_shape("l1_loss", x, t)
    el = (x - t).abs()
    return el if reduction == "none" else el.sum()


def _complex_l1_loss(input, target, reduction, weight):  # noqa: A002
    """l1_loss of complex tensors, composed: |input - target| (differentiable), reduced."""
    _check_reduction("l1_loss", reduction, _REDUCTIONS)
    if weight is not None:
        raise NotImplementedError("l1_loss: weight= with complex tensors is not supported "
                                  "in zeroin; multiply (input - target).abs() by it instead")
    x, t = _tensor_arg(input, "l1_loss"), _tensor_arg(target, "l1_loss")
    _check_same_shape("l1_loss", x, t)
    el = (x - t).abs()
    return el if reduction == "none" else el.sum() if reduction == "sum" else el.mean()


def _maximum(xp, a, b):
    return np.maximum(a, b) if xp is NP else _ops.maximum(a, b)


class BCELossOp(_LossOp):
    """-(t log p + (1 - t) log(1 - p)); logs are clamped at -100 as in PyTorch."""
    __slots__ = ()
    name = "binary_cross_entropy"

    def elementwise(self, x, t):
        with np.errstate(divide="ignore"):
            lp = np.maximum(np.log(x), -100)
            lq = np.maximum(np.log1p(-x), -100)
        return -(t * lp + (1 - t) * lq)

    def dx(self, xp, x, t):
        return (x - t) / _maximum(xp, x * (1 - x), 1e-12)

    def dt(self, xp, x, t):     # -logit(p), unclamped as PyTorch's: inf at p = 0, -inf at 1
        return xp.log(1 - x) - xp.log(x)


@op(BCELossOp, export=False)
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """Binary cross entropy between probabilities ``input`` in [0, 1] and targets in [0, 1];
    ``weight`` rescales each element's loss.

    Prefer :func:`binary_cross_entropy_with_logits` on raw scores: it is stable."""
    op = "binary_cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x = _tensor_arg(input, op)
    d = x.numpy()
    if d.size and not (d.min() >= 0 and d.max() <= 1):      # also refuses NaN, as PyTorch
        raise _ops._ValueError(f"binary_cross_entropy: input values must be probabilities "
                               f"in [0, 1], got values from {d.min():g} to {d.max():g}; "
                               f"apply sigmoid first or use binary_cross_entropy_with_logits "
                               f"on the raw scores")
    if weight is None:
        return _loss(BCELossOp, op, x, target, reduction)
    el = _loss(BCELossOp, op, x, target, "none")
    return _weighted(op, el, weight, reduction)


class BCEWithLogitsLossOp(_LossOp):
    """-(t log s(x) + (1 - t) log(1 - s(x))) = max(x, 0) - x t + log(1 + exp(-|x|))."""
    __slots__ = ()
    name = "binary_cross_entropy_with_logits"

    def elementwise(self, x, t):
        return np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x)))

    def dx(self, xp, x, t):
        return xp.sigmoid(x) - t

    def dt(self, xp, x, t):
        return -x


def _warn_twice_squashed(op, input, after, takes, fix):  # noqa: A002
    """Warn when ``input`` is the direct output of ``after`` (softmax, sigmoid) while ``op``
    applies it itself or needs logs of it: a model ending in nn.Softmax fed to
    CrossEntropyLoss trains on twice-squashed scores. The graph says so at no cost; PyTorch
    gives no warning."""
    if getattr(getattr(input, "grad_fn", None), "name", None) == after:
        warnings.warn(f"{op}: the input comes straight from {after}, but {op} takes {takes}; "
                      f"{fix}", stacklevel=3)


@op(BCEWithLogitsLossOp, export=False)
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid followed by binary cross entropy, in one numerically stable op.

    ``pos_weight`` (one value per class, broadcast along the last dimension) weighs the
    positive term: ``-(pos_weight t log s(x) + (1 - t) log(1 - s(x)))``; ``weight``
    rescales each element's loss."""
    op = "binary_cross_entropy_with_logits"
    _warn_twice_squashed(op, input, "sigmoid", "logits and applies the sigmoid itself, so "
                         "the model's outputs are squashed twice (into 0.5..0.73)",
                         "remove the model's final sigmoid (apply it only to read "
                         "probabilities), or keep it and use binary_cross_entropy (nn.BCELoss)")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if pos_weight is None:
        if weight is None:
            return _loss(BCEWithLogitsLossOp, op, input, target, reduction)
        return _weighted(op, _loss(BCEWithLogitsLossOp, op, input, target, "none"), weight,
                         reduction)
    x = _binary_dtypes(op, _tensor_arg(input, op), target)
    x, t = _prepare(op, x, target, reduction)
    _check_binary_target(op, t)
    pw = _check_weight(op, "pos_weight", _tensor_arg(pos_weight, op, "pos_weight"), x.shape)
    pw = _ops._cast(pw, x.dtype)        # the loss keeps the target's dtype, as PyTorch's
    # log s(x) = -softplus(-x), log(1 - s(x)) = -softplus(x)
    el = pw * t * _ops.softplus(-x) + (1 - t) * _ops.softplus(x)
    return _weighted(op, el, weight, reduction)


class CrossEntropyOp(Function):
    """Log-softmax of logits (N, C) and negative log-likelihood of integer labels, fused.

    Inputs: the logits and the labels (N,), a constant tensor: the loss depends on them, so
    the graph (and its drawing and explanation) shows them. They are checked in forward.
    d loss / d logits = (softmax(logits) - onehot(labels)) / N for the mean.
    """
    input_roles = (None, "labels")
    __slots__ = ("reduction",)
    name = "cross_entropy"

    def __init__(self, reduction):
        self.reduction = reduction
        self.saved = None

    def label(self):
        return self.name if self.reduction == "mean" else f"{self.name}[{self.reduction}]"

    def forward(self, x, y):
        # np.<ufunc>.reduce directly: ndarray.max/.sum are the same calls behind a wrapper
        n = x.shape[0]
        y = _labels(self.name, y, n, x.shape[1])
        s = x - _max_reduce(x, axis=1, keepdims=True)
        e = _exp(s)
        z = _add_reduce(e, axis=1, keepdims=True)
        e /= z
        self.saved = e          # softmax, reused by backward
        nll = _log(z[:, 0]) - s[_rows(n), y]
        if self.reduction == "mean":
            return _add_reduce(nll) * (1.0 / n) if n else nll.mean()
        if self.reduction == "sum":
            return _add_reduce(nll)
        return nll

    def backward(self, xp, g, out, x, y):
        n = x.shape[0]
        rows = _rows(n)
        if xp is NP:
            p = self.saved if self.saved is not None else _ops.SoftmaxOp(1).forward(x)
            if self.reduction == "none":
                gx = p * g[:, None]
                gx[rows, y] -= g
                return gx, None
            s = g.item() * _inverse(n) if self.reduction == "mean" else g.item()
            s = _number(s, p.dtype)     # the same number, as NumPy takes it cheaper (T6)
            gx = p * s
            gx[rows, y] -= s
            return gx, None
        # create_graph: the same rule built from tensor ops, so it can be differentiated
        onehot = np.zeros(x.shape, dtype=x.dtype)
        onehot[rows, y.numpy()] = 1
        d = _ops.softmax(x, axis=1) - _leaf(onehot)
        if self.reduction == "none":
            return d * g.reshape(-1, 1), None
        return d * (g * _inverse(n) if self.reduction == "mean" else g), None


_ROWS = {}


def _rows(n):
    """arange(n), cached (read-only): the row index of every sample's label."""
    r = _ROWS.get(n)
    if r is None:
        if len(_ROWS) > 64:
            _ROWS.clear()
        r = _ROWS[n] = np.arange(n)
        r.flags.writeable = False
    return r


_UNSIGNED = {}


def _unsigned(dtype):
    """The unsigned integer dtype of ``dtype``'s size and byte order (int64 -> uint64)."""
    u = _UNSIGNED.get(dtype)
    if u is None:
        u = _UNSIGNED[dtype] = np.dtype(dtype.str.replace("i", "u"))
    return u


class LabelError(ZeroinError, ValueError, IndexError):
    """Class labels outside 0..C-1: an IndexError, as PyTorch raises (and a ValueError)."""


def _labels(op, target, n, c):
    y = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    # the fixes in the target's own words: a tensor's (.long(), dim=) or an array's
    to_int, dim = ((".long()", "dim") if isinstance(target, Tensor)
                   else (".astype('int64')", "axis"))
    if c == 1:
        raise ShapeError(f"{op}: the input has shape ({n}, 1), one class: the loss is always 0 "
                         f"and nothing learns; give the model one output per class, or for "
                         f"0/1 targets use binary_cross_entropy_with_logits "
                         f"(nn.BCEWithLogitsLoss) with one output, or mse_loss for regression")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.all(y == np.round(y)):
            if (y.shape == (n, c) and c > 1 and np.all((y == 0) | (y == 1))
                    and np.all(y.sum(axis=1) == 1)):
                hint = (" (they look like one-hot rows of shape (N, C): pass "
                        f"target.argmax({dim}=1))")
            elif y.shape == (n, 1):
                hint = (" (they hold whole numbers in a column of shape (N, 1): convert "
                        f"with target.reshape(-1){to_int})")
            else:
                hint = f" (they hold whole numbers: convert with target{to_int})"
            if c == 2 and y.ndim and y.shape[0] == n and y.size == n and \
                    np.all((y == 0) | (y == 1)):
                hint += ("; or, for 0/1 targets, give the model one output and use "
                         "binary_cross_entropy_with_logits (nn.BCEWithLogitsLoss)")
        elif y.dtype.kind == "f" and (y.shape != (n, c) or c == 1):
            hint = (" (they are continuous values, a regression target: cross_entropy is "
                    "for classification; use mse_loss (nn.MSELoss) for regression)")
        elif y.dtype.kind == "f":
            hint = (" (they are not whole numbers: cross_entropy takes class indices, not "
                    f"probabilities or one-hot rows; use labels.argmax({dim}=1) for one-hot)")
        else:
            hint = ""
        raise DtypeError(f"{op}: target must hold integer class labels 0..{c - 1}, got "
                         f"dtype {y.dtype}{hint}")
    if y.shape != (n,):
        if y.shape == (n, 1):
            fix = "flatten it with target.reshape(-1)"
        elif y.shape == (n, c):
            fix = f"for one-hot rows pass target.argmax({dim}=1)"
        else:
            fix = "pass one integer label per row of the input"
        raise ShapeError(f"{op}: input of shape ({n}, {c}) needs a target of shape ({n},), "
                         f"got {y.shape}; {fix}")
    # one pass: as unsigned, negative labels become huge, so max() >= c catches both ends
    if n and int(_max_reduce(y.view(_unsigned(y.dtype)), axis=None)) >= c:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= c:
            msg = (f"{op}: labels must be in 0..{c - 1} for {c} classes, got values from "
                   f"{lo} to {hi}")
            if lo >= 1 and hi == c:
                msg += ("; they look 1-based: subtract 1 (target - 1) so that the first "
                        "class is 0")
            elif hi >= c:
                msg += (f"; the model has {c} outputs: give its last layer as many outputs "
                        f"as there are classes ({hi + 1} or more)")
            raise LabelError(msg)
    return y


def _check_tensor_labels(op, x, target, y):
    """Refuse float or misshapen label tensors of an (N, C) input here, where the target is
    still a tensor, so that the fix is given as a tensor's (``.long()``, ``argmax(dim=1)``),
    not as the array's the op sees later."""
    if isinstance(target, Tensor) and x.ndim == 2 and (y.dtype.kind not in "iu" or
                                                       y.shape != (x.shape[0],)):
        _labels(op, target, x.shape[0], x.shape[1])


def _labels_leaf(y):
    t = _leaf(y)
    t.name = "labels"       # what drawings and explanations call it
    return t


def _float_scores(input, op):
    """The input of cross_entropy / nll_loss as a tensor: scores are floats, so integer
    or bool input is refused with PyTorch's NotImplementedError (it has no such kernel);
    integer data there is most likely the labels passed in the input's place."""
    x = _tensor_arg(input, op)
    if x.dtype.kind in "biu":
        raise NotImplementedError(
            f"{op}: the input (scores of shape {tuple(x.shape)}) must be floating point, got "
            f"{x.dtype}; pass the model's float output (or cast with input.float()), and "
            f"the integer class labels as the target")
    return x


@op(CrossEntropyOp, export=False)
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Cross entropy of logits (N, C) (or (N, C, d1, ...)) against integer class labels
    (N,) (or (N, d1, ...)), or against class probabilities of the input's shape.

    Computes log-softmax and the negative log-likelihood; the input is raw scores
    (logits), not probabilities. PyTorch's options: ``weight`` (one per class),
    ``ignore_index`` (labels that contribute nothing, excluded from the mean),
    ``label_smoothing`` (mix the target with the uniform distribution), ``reduction``
    'mean' (weighted mean), 'sum' or 'none'. Plain calls are one fused op.
    """
    op = "cross_entropy"
    _warn_twice_squashed(op, input, "softmax", "logits (raw scores) and applies log-softmax "
                         "itself, so the model's probabilities are softmaxed twice (the loss "
                         "cannot approach 0 and learning slows)", "remove the model's final "
                         "softmax (apply it only to read probabilities), or keep it and use "
                         "nll_loss(probs.log(), target)")
    plain = weight is None and not label_smoothing and size_average is None and \
        reduce is None
    if plain and ignore_index == -100 and isinstance(input, Tensor) and \
            type(target) is _ndarray and target.dtype.kind in "iu":     # a training loop's call
        d = input.numpy()       # one call, not the ndim and dtype properties' two frames
        if d.ndim == 2 and d.dtype.kind == "f" and reduction in _REDUCTIONS:
            try:
                return _call2(CrossEntropyOp(reduction), input, _labels_leaf(target))
            except LabelError:
                if not np.any(target == ignore_index):
                    raise
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    x = _float_scores(input, op)
    y = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    from ._classes import class_loss, soft_cross_entropy
    if y.dtype.kind == "f" and y.shape == x.shape:
        return soft_cross_entropy(op, x, target, weight, reduction, label_smoothing)
    _check_tensor_labels(op, x, target, y)
    if plain and x.ndim == 2 and not np.any(y == ignore_index):
        t = target if isinstance(target, Tensor) else _labels_leaf(y)
        return _call2(CrossEntropyOp(reduction), x, t)
    return class_loss(op, x, y, weight, ignore_index, reduction, label_smoothing,
                      log_softmax_first=True)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100,  # noqa: A002
             reduce=None, reduction="mean"):
    """Negative log-likelihood of integer labels given log-probabilities (N, C) (or
    (N, C, d1, ...)), with PyTorch's ``weight``, ``ignore_index`` and ``reduction``."""
    op = "nll_loss"
    _warn_twice_squashed(op, input, "softmax", "log-probabilities, so the loss would be "
                         "-mean(p[target]) instead of -mean(log p[target])",
                         "use log_softmax in place of softmax, pass probs.log(), or give the "
                         "logits to cross_entropy")
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(op, reduction)
    x = _float_scores(input, op)
    y = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    _check_tensor_labels(op, x, target, y)
    from ._classes import class_loss
    return class_loss(op, x, y, weight, ignore_index, reduction, 0.0,
                      log_softmax_first=False)


# composed from the ops above (no new op classes): activations, norms, embedding, losses
from ._composed import (celu, elu, embedding, erf, gelu, hardtanh,  # noqa: E402
                        huber_loss, kl_div, logsigmoid, mish, relu6, selu, silu,
                        smooth_l1_loss, softsign)
from ._norms import group_norm, layer_norm  # noqa: E402  (one fused op each)


# --- PyTorch's other activations and helpers (ops in zeroin._torch_ops) -------------------

from .._torch_ops import pad, pdist  # noqa: E402


def hardswish(input, inplace=False):  # noqa: A002
    """x * relu6(x + 3) / 6; ``inplace`` is accepted and ignored (a new tensor)."""
    return _torch_ops.hardswish(input)


def hardsigmoid(input, inplace=False):  # noqa: A002
    """relu6(x + 3) / 6; ``inplace`` is accepted and ignored (a new tensor)."""
    return _torch_ops.hardsigmoid(input)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002, F811
    """log(1 + e**(beta x)) / beta, computed stably; x itself where beta x > threshold
    (PyTorch's linear part: there the value is x and the gradient 1). The gradient is
    sigmoid(beta x), also for beta = 0 (PyTorch's rule: 1/2, where the value is inf)."""
    x = _ops._t(input)
    _ops.float_input("softplus", x)
    if beta == 0:       # log(2) / 0: inf (NaN for a non-finite x), and PyTorch's gradient
        return x * 0.5 + _leaf(np.where(np.isfinite(_raw(x)), np.inf, np.nan).astype(x.dtype))
    y = _ops.softplus(x) if beta == 1 else _ops.softplus(x * beta) / beta
    linear = beta * _raw(x) > threshold
    return _ops.where(linear, x, y) if linear.any() else y


def _legacy_dim(name, x, dim, stacklevel):
    """``dim`` or, if None, PyTorch's deprecated implicit choice for F.softmax and its
    kin (0 for 0-, 1- and 3-d input, else 1), with PyTorch's warning."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if x.ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None, *, axis=None):  # noqa: A002
    """exp(x) / sum(exp(x)) along ``dim``, computed stably; without ``dim``, PyTorch's
    legacy choice (0 for 0-, 1- and 3-d input, else 1) and its deprecation warning."""
    x = _ops._softmax_input("softmax", input, dtype)
    if axis is None:
        dim = _legacy_dim("softmax", x, dim, _stacklevel)
    return _ops.softmax(x, axis, dim=dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None, *, axis=None):  # noqa: A002
    """x - logsumexp(x) along ``dim``; without ``dim``, as :func:`softmax`."""
    x = _ops._softmax_input("log_softmax", input, dtype)
    if axis is None:
        dim = _legacy_dim("log_softmax", x, dim, _stacklevel)
    return _ops.log_softmax(x, axis, dim=dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """softmax(-input) along ``dim``; without ``dim``, as :func:`softmax`."""
    x = _ops._softmax_input("softmin", input, dtype)
    return _ops.softmax(-x, dim=_legacy_dim("softmin", x, dim, _stacklevel))


def tanhshrink(input):  # noqa: A002
    """input - tanh(input)."""
    return input - tanh(input)


def glu(input, dim=-1):  # noqa: A002
    """Gated linear unit: first half * sigmoid(second half) along ``dim``."""
    from .._torch_ops import chunk
    x = _ops._t(input)
    _ops.float_input("glu", x)
    d = _ops._check_axis("glu", x, dim)
    if x.ndim == 0 or x.shape[d] % 2:
        raise ShapeError(f"glu: the halved dimension {dim} must have an even size, got shape "
                         f"{tuple(x.shape)}")
    a, b = chunk(x, 2, d)
    return a * sigmoid(b)


def normalize(input, p=2.0, dim=1, eps=1e-12):  # noqa: A002
    """input / max(||input||_p, eps) along ``dim`` (PyTorch's clamp_min: a zero row gets
    the gradient 1 / eps)."""
    from .._torch_ops import norm
    n = norm(input, p, dim, keepdim=True)
    return input / _ops.clip(n, min=eps)


def one_hot(tensor, num_classes=-1):
    """int64 one-hot rows for integer class labels (``num_classes`` from the data if -1)."""
    y = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if y.dtype.kind not in "iu":
        raise DtypeError(f"one_hot: expects integer class labels, got dtype {y.dtype}")
    if isinstance(tensor, Tensor) and y.dtype != np.int64:
        raise DtypeError(f"one_hot: expects int64 class labels (a LongTensor), as PyTorch, got "
                         f"dtype {y.dtype}; convert them: one_hot(labels.long(), ...)")
    n = int(y.max()) + 1 if num_classes == -1 else int(num_classes)
    if y.size and (y.min() < 0 or y.max() >= n):
        raise LabelError(f"one_hot: labels must lie in [0, {n}), got {y.min()}..{y.max()}")
    return _leaf(np.eye(n, dtype=np.int64)[y])


__all__ += ["hardswish", "hardsigmoid", "softmin", "tanhshrink", "glu", "normalize", "pad",
            "one_hot"]

# distances, shrink activations, PReLU, instance and RMS norm, pixel shuffle, bilinear
from ._more import (adaptive_max_pool1d, alpha_dropout, bilinear, channel_shuffle,  # noqa: E402
                    cosine_similarity, dropout1d, embedding_bag, gumbel_softmax, hardshrink,
                    instance_norm, local_response_norm, max_unpool1d, max_unpool2d,
                    pairwise_distance, pixel_shuffle, pixel_unshuffle, prelu, rms_norm,
                    rrelu, softshrink, threshold, feature_alpha_dropout)

from ._more_losses import (cosine_embedding_loss, gaussian_nll_loss,  # noqa: E402
                           hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                           multilabel_margin_loss, multilabel_soft_margin_loss,
                           poisson_nll_loss, soft_margin_loss,
                           triplet_margin_with_distance_loss,
                           triplet_margin_loss)

from ._ctc import ctc_loss  # noqa: E402

__all__ += ["margin_ranking_loss", "triplet_margin_loss", "cosine_embedding_loss",
            "hinge_embedding_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
            "multi_margin_loss", "gaussian_nll_loss", "poisson_nll_loss", "ctc_loss"]
__all__ += ["channel_shuffle", "dropout1d", "adaptive_max_pool1d", "alpha_dropout",
            "feature_alpha_dropout"]
__all__ += ["cosine_similarity", "pairwise_distance", "prelu", "softshrink", "hardshrink",
            "threshold", "instance_norm", "rms_norm", "pixel_shuffle", "pixel_unshuffle",
            "bilinear", "rrelu", "pdist", "multilabel_margin_loss", "gumbel_softmax",
            "embedding_bag", "local_response_norm", "max_unpool1d", "max_unpool2d",
            "triplet_margin_with_distance_loss"]


# convolution, pooling, resampling (zeroin/nn/_conv.py; imported last: it builds on
# DropoutOp above)
from ._conv import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d,  # noqa: E402,F401
                    avg_pool1d, avg_pool2d, conv1d, conv2d, conv_transpose1d,
                    conv_transpose2d, dropout2d, fold, interpolate, max_pool1d, max_pool2d,
                    unfold)

# 3-D convolution and pooling, power-average pooling (zeroin/nn/_volume.py); sampling
# grids (zeroin/nn/_sample.py)
from ._volume import (adaptive_avg_pool3d, adaptive_max_pool3d, avg_pool3d,  # noqa: E402,F401
                      conv3d, conv_transpose3d, lp_pool1d, lp_pool2d, lp_pool3d, max_pool3d)
from ._sample import affine_grid, grid_sample  # noqa: E402,F401

__all__ += ["conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
            "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "affine_grid",
            "grid_sample"]

# attention (zeroin/nn/_attention.py; composed from the ops above)
from ._attention import scaled_dot_product_attention  # noqa: E402,F401

__all__ += ["scaled_dot_product_attention"]


# PyTorch's other names: the pools that always return indices, the old upsample functions
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool1d(..., return_indices=True)``: (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool2d(..., return_indices=True)``: (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool3d(..., return_indices=True)``: (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool3d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool1d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool2d(..., return_indices=True)``: (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):  # noqa: A002
    """The old name of :func:`interpolate` (deprecated in PyTorch, with its warning)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):  # noqa: A002
    """``interpolate(mode="nearest")`` (deprecated in PyTorch, with its warning)."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):  # noqa: A002
    """``interpolate(mode="bilinear", align_corners=True)`` (deprecated in PyTorch)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__ += ["max_pool1d_with_indices", "max_pool2d_with_indices",
            "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices", "upsample",
            "max_pool3d_with_indices", "adaptive_max_pool3d_with_indices",
            "upsample_nearest", "upsample_bilinear"]


from ._more import dropout3d, max_unpool3d  # noqa: E402
from .fractional import (fractional_max_pool2d, fractional_max_pool2d_with_indices,  # noqa: E402
                         fractional_max_pool3d, fractional_max_pool3d_with_indices)

from .linear_cross_entropy import linear_cross_entropy  # noqa: E402

__all__ += ["dropout3d", "max_unpool3d", "linear_cross_entropy", "fractional_max_pool2d",
            "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
            "fractional_max_pool3d_with_indices"]


# --- in-place activations: F.relu_(x) changes x, recorded as PyTorch records it ---------

def _inplace_activation(name, fn):
    def activation_(input, *args, **kwargs):  # noqa: A002
        from .._tensor_api import _inplace
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: expected a Tensor (changed in place), got "
                            f"{type(input).__name__}")
        return _inplace(input, name, lambda x, *a: fn(x, *a, **kwargs), *args)
    activation_.__name__ = activation_.__qualname__ = name
    activation_.__doc__ = (f"In place: ``F.{name}(x, ...)`` sets x to ``F.{name[:-1]}(x, ...)``"
                           f" and returns x (recorded for autograd, as PyTorch's).")
    return activation_


relu_ = _inplace_activation("relu_", relu)
elu_ = _inplace_activation("elu_", elu)
leaky_relu_ = _inplace_activation("leaky_relu_", leaky_relu)
hardtanh_ = _inplace_activation("hardtanh_", hardtanh)
rrelu_ = _inplace_activation("rrelu_", rrelu)
celu_ = _inplace_activation("celu_", celu)
selu_ = _inplace_activation("selu_", selu)
threshold_ = _inplace_activation("threshold_", threshold)

__all__ += ["relu_", "elu_", "leaky_relu_", "hardtanh_", "rrelu_", "celu_", "selu_",
            "threshold_"]

from .._complex import install as _install_complex_guard  # noqa: E402
_install_complex_guard(globals())   # activations and losses PyTorch refuses on complex refuse too
