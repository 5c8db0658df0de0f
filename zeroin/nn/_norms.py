"""layer_norm and group_norm, each one fused op (PyTorch's NativeLayerNorm / NativeGroupNorm).

Composed of small ops they took 7 passes over the activation forward and about 12 in
backward; fused, forward keeps the per-row mean and standard deviation and backward is the
closed form over the ``K`` normalised values of each row (``gw`` = g * weight,
``xhat`` = (x - mean) / std):

    dx = (gw - mean(gw) - xhat * mean(gw * xhat)) / std,   dw = sum(g * xhat),  db = sum(g)

Forward computes what the composed ops computed, in the same order (the same bits), and
keeps xhat for backward unless xhat is the output (no weight, no bias: the output may be
changed in place), so backward does not recompute it. layer_norm's backward takes its sums
over K and over the rows as matrix-vector products (one BLAS pass each). Under
``create_graph`` the rule is built from tensor ops with the statistics recomputed from
``x``, so it is differentiated again (double backward). Mixed dtypes are refused, as in
PyTorch; float16 keeps the composed ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..errors import DtypeError
from ..function import NP, Function, OpName, ShapeError, apply
from ..ops import default_dtype_note, op
from ._composed import _check_affine, _normalize, _normalized_shape, _t

__all__ = ["layer_norm", "group_norm"]

_FUSED = (np.dtype(np.float32), np.dtype(np.float64))


class _NormOp(Function):
    """Normalise each row of ``x`` viewed as (rows, K), then scale and shift by ``weight``
    and ``bias`` broadcast on ``x`` viewed as ``aff`` (reshaped to ``wshape``)."""
    __slots__ = ("rows", "aff", "wshape", "eps", "has_w", "has_b")

    def __init__(self, rows, aff, wshape, eps, has_w, has_b):
        self.rows, self.aff, self.wshape, self.eps = rows, aff, wshape, eps
        self.has_w, self.has_b, self.saved = has_w, has_b, None

    def _params(self, params):
        it = iter(params)
        return (next(it) if self.has_w else None), (next(it) if self.has_b else None)

    def forward(self, x, *params):
        w, b = self._params(params)
        x2 = x.reshape(self.rows)
        mean = x2.mean(axis=1, keepdims=True)
        y = x2 - mean
        std = np.sqrt((y * y).mean(axis=1, keepdims=True) + x.dtype.type(self.eps))
        y /= std                                 # xhat, as the composed ops' xc / std
        y = xhat = y.reshape(self.aff)
        if w is not None:
            y = xhat * w.reshape(self.wshape)
        if b is not None:
            y = np.add(y, b.reshape(self.wshape), out=None if w is None else y)
        # backward reads xhat (kept unless it is the output itself, which may be changed)
        self.saved = (mean, std, xhat if w is not None or b is not None else None)
        return y.reshape(x.shape)

    def backward(self, xp, g, out, x, *params):
        w, b = self._params(params)
        if xp is NP:
            grads = self._grads(g, x, w, b, self.needs_input_grad)
        else:
            grads = self._graph_grads(g, x, w, b, self.needs_input_grad)
        if w is None and b is None:
            return grads[0]                 # a one-input op's rule returns one gradient
        return grads[:1] + ((grads[1],) if w is not None else ()) + \
            ((grads[2],) if b is not None else ())

    def _grads(self, g, x, w, b, need):
        """The rule on arrays, with few passes and no temporaries it can avoid: row sums of
        products by einsum, the forward's xhat (or xhat recomputed, the same bits)."""
        if self.saved is None:                  # released or copied: recompute the stats
            self.forward(x, *(p for p in (w, b) if p is not None))
        mean, std, xhat = self.saved
        if xhat is None:
            xhat = x.reshape(self.rows) - mean
            xhat /= std
        if self.aff == self.rows:                 # layer_norm
            gx, gw, gb = _layer_grads(g.reshape(self.rows), xhat.reshape(self.rows), std,
                                      None if w is None else w.reshape(-1), b, need)
            return (None if gx is None else gx.reshape(x.shape),
                    None if gw is None else gw.reshape(w.shape),
                    None if gb is None else gb.reshape(b.shape))
        xhat = xhat.reshape(self.rows)
        ga, axes = g.reshape(self.aff), _affine_axes(self.aff, self.wshape)
        gx = gw = gb = None
        if w is not None and need[1]:
            gw = np.einsum("ncs,ncs->c", ga.reshape(_three(self.aff)),
                           xhat.reshape(_three(self.aff))).reshape(w.shape)
        if b is not None and need[-1]:
            gb = ga.sum(axis=axes).reshape(b.shape)
        if need[0]:
            k = self.rows[1]
            d = (ga * w.reshape(self.wshape)).reshape(self.rows) if w is not None else \
                np.array(g, copy=True).reshape(self.rows)
            c1 = np.add.reduce(d, axis=1, keepdims=True) / k
            c2 = np.einsum("ij,ij->i", d, xhat)[:, None] / k
            t = xhat * c2
            t += c1
            d -= t
            d /= std
            gx = d.reshape(x.shape)
        return gx, gw, gb

    def _graph_grads(self, g, x, w, b, need):
        """The same rule built from tensor ops, the statistics recomputed from ``x``, so
        that it is recorded and can be differentiated again (create_graph)."""
        x2 = x.reshape(self.rows)
        xc = x2 - x2.mean(axis=1, keepdims=True)
        std = ops.sqrt((xc * xc).mean(axis=1, keepdims=True) + self.eps)
        xhat = xc / std
        ga, axes = g.reshape(self.aff), _affine_axes(self.aff, self.wshape)
        gx = gw = gb = None
        if w is not None and need[1]:
            gw = (ga * xhat.reshape(self.aff)).sum(axis=axes).reshape(w.shape)
        if b is not None and need[-1]:
            gb = ga.sum(axis=axes).reshape(b.shape)
        if need[0]:
            d = (ga * w.reshape(self.wshape)).reshape(self.rows) if w is not None else \
                g.reshape(self.rows)
            gx = (d - d.mean(axis=1, keepdims=True) -
                  xhat * (d * xhat).mean(axis=1, keepdims=True)) / std
            gx = gx.reshape(x.shape)
        return gx, gw, gb


def _layer_grads(g, xhat, std, w, b, need):
    """layer_norm's rule on (rows, K) arrays, w and b of K values: the sums over K and
    over the rows as matrix-vector products (BLAS: one pass, ~3x a reduction's speed),
    ``g * xhat`` shared by dw and the row sums of ``g * w * xhat``."""
    m, k = g.shape
    g = np.ascontiguousarray(g)         # (a sum's broadcast gradient: BLAS wants strides)
    gw = gb = gx = None
    gxh = g * xhat if (w is not None and (need[0] or need[1])) else None
    if w is not None and need[1]:
        gw = np.ones(m, g.dtype) @ gxh
    if b is not None and need[-1]:
        gb = np.ones(m, g.dtype) @ g
    if need[0]:
        if w is not None:
            d, c1, c2 = g * w, g @ w, gxh @ w           # d = g w; its row sums; of d xhat
        else:
            d, c1, c2 = g.copy(), g @ np.ones(k, g.dtype), np.vecdot(g, xhat)
        t = np.multiply(xhat, (c2 / k)[:, None], out=gxh)     # (gxh's memory, done with)
        t += (c1 / k)[:, None]
        d -= t
        d /= std
        gx = d
    return gx, gw, gb


def _three(aff):
    """``aff`` as (lead, C, rest): layer_norm's (rows, K) is (rows, K, 1)."""
    return (aff[0], aff[1], math.prod(aff[2:]))


def _affine_axes(aff, wshape):
    """The axes of ``aff`` that a parameter of ``wshape`` (aligned right) is summed over."""
    lead = len(aff) - len(wshape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(wshape) if n == 1)


def _same_dtype(op, x, w, b):
    """``w`` and ``b`` in ``x``'s dtype, refused otherwise as PyTorch refuses them ("mixed
    dtype"): a float32 weight with float64 input would silently give float64. Half input
    takes float32 parameters (cast, recorded), as PyTorch's."""
    out = []
    for name, p in (("weight", w), ("bias", b)):
        if p is not None and p.dtype != x.dtype:
            if x.dtype == np.float16 and p.dtype == np.float32:
                p = p.to(x.dtype)
            else:
                raise DtypeError(
                    f"{op}: mixed dtype: input has dtype {x.dtype} but the {name} "
                    f"{p.dtype}; convert one of them: the layer with .to(zeroin.{x.dtype}) "
                    f"(or .float() / .double()), or the input with x.to(zeroin.{p.dtype})"
                    f"{default_dtype_note(x.dtype, p.dtype)}")
        out.append(p)
    return out


def _fusable(x, *params):
    return x.dtype in _FUSED and math.prod(x.shape) and all(p is None or p.dtype == x.dtype
                                                for p in params)


class LayerNormOp(_NormOp):
    __slots__ = ()
    name = OpName("layer_norm", "NativeLayerNormBackward0")


@op(LayerNormOp, export=False)
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Normalise over the last ``len(normalized_shape)`` dimensions (biased variance),
    then scale by ``weight`` and shift by ``bias`` (both of ``normalized_shape``)."""
    x = _t(input, "layer_norm")
    shape = _normalized_shape("layer_norm", normalized_shape)
    k = len(shape)
    if tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise ShapeError(f"layer_norm: normalized_shape {shape} must equal the last "
                         f"dimensions of the input, got input of shape {x.shape}")
    _check_affine("layer_norm", weight, bias, shape, "normalized_shape")
    w, b = _same_dtype("layer_norm", x, *(None if p is None else _t(p, "layer_norm")
                                          for p in (weight, bias)))
    if not _fusable(x, w, b):
        y = _normalize(x, tuple(range(x.ndim - k, x.ndim)), eps)
        y = y * w if w is not None else y
        return y + b if b is not None else y
    n = math.prod(shape)
    m = math.prod(x.shape) // n
    fn = LayerNormOp((m, n), (m, n), (n,), eps, w is not None,
                     b is not None)
    return apply(fn, tuple(t for t in (x, w, b) if t is not None))


class GroupNormOp(_NormOp):
    __slots__ = ()
    name = OpName("group_norm", "NativeGroupNormBackward0")


@op(GroupNormOp, export=False)
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Split the channels (dimension 1) into ``num_groups`` groups and normalise each
    group of each sample; then per-channel ``weight`` and ``bias``."""
    x = _t(input, "group_norm")
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ShapeError(f"group_norm: expected input (N, C, ...) with C divisible by "
                         f"num_groups={num_groups}, got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    _check_affine("group_norm", weight, bias, (c,), "one value per channel")
    w, b = _same_dtype("group_norm", x, *(None if p is None else _t(p, "group_norm")
                                          for p in (weight, bias)))
    spatial = math.prod(x.shape[2:])    # sizes, not -1: an empty batch (N = 0) as PyTorch
    if not _fusable(x, w, b):
        y = _normalize(x.reshape(n, num_groups, c // num_groups * spatial), (2,),
                       eps).reshape(x.shape)
        cshape = (1, c) + (1,) * (x.ndim - 2)
        y = y * w.reshape(cshape) if w is not None else y
        return y + b.reshape(cshape) if b is not None else y
    fn = GroupNormOp((n * num_groups, c // num_groups * spatial), (n, c, spatial),
                     (c, 1), eps, w is not None, b is not None)
    return apply(fn, tuple(t for t in (x, w, b) if t is not None))
