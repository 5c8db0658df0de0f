"""Convolution, pooling, padding and resampling ops (NCL / NCHW layouts, PyTorch's names).

A convolution is three bilinear ops that are each other's derivatives, so gradients of
any order come from the same three forwards:

* ``Conv2dOp(x, w)``: ``y = conv(x, w)`` (cross-correlation, as in every deep-learning library);
* ``ConvTranspose2dOp(y, w)``: the adjoint in ``x`` (``conv_transpose2d``): ``dL/dx``;
* ``ConvWeightOp(x, y)``: the adjoint in ``w`` (the correlation of ``x`` with ``y``): ``dL/dw``.

``backward`` of each returns the other two applied to the incoming gradient; under
``create_graph=True`` they are recorded as ops, which is what makes second derivatives of
a convolution work.

Every convolution is one ``np.matmul`` on a column buffer ("im2col"): the strided view
:func:`numpy.lib.stride_tricks.sliding_window_view` of the padded input, copied once into
a (C*kh*kw, N*oh*ow) matrix, times the kernels (one BLAS product per image inside that
call, straight into NCHW order; with groups, one per group). The adjoint ("col2im") adds the kh*kw kernel positions
back with one strided add each: loops run over kernel positions and groups, never over
pixels or samples. Depthwise convolutions (one input channel per group) skip the columns:
each kernel position multiplies a shifted view of the padded input by per-channel weights
(:func:`_dw_conv` and its two adjoints). 1-D ops run as 2-D ops on a height-1 image.
"""
from __future__ import annotations

import functools
import math
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as _windows

from .._tensor import Tensor, _leaf
from ..errors import DtypeError, ShapeError
from ..function import Function, no_derivative
from ..ops import NP, _ValueError, default_dtype_note, op
from .functional import DropoutOp     # defined before functional imports this module
from .functional import _tensor_arg as _as_tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
           "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_max_pool2d", "unfold", "fold", "interpolate",
           "dropout2d"]


def _needs(fn, i):
    """Whether input ``i`` of ``fn`` needs a gradient (everything, outside the engine)."""
    nig = getattr(fn, "needs_input_grad", None)
    if nig is not None:
        return nig[i]
    ins = getattr(fn, "inputs", None)
    return ins is None or ins[i].requires_grad


def _record_keeping_cols(fn, inputs):
    """Record the convolution ``fn`` on ``inputs`` and keep its im2col columns (``saved``)
    only when the weight's gradient will read them: forward runs before the engine knows
    which inputs need a gradient, so it saves them and they go here. A frozen weight
    (input gradients only, a fixed feature extractor) leaves no column buffer in the
    graph; the columns are C*k*k times the input."""
    out = Function.__call__(fn, *inputs)
    node = out.grad_fn      # fn itself, or its copy when fn was recorded before
    if node is not None and not node.needs_input_grad[1]:
        node.saved = None
    elif node is None and getattr(fn, "inputs", None) is None:
        fn.saved = None     # not recorded: nothing will read them
    return out


def _apply(xp, op, *args):
    """``op`` on ``args``: its forward on arrays (plain backward), recorded on tensors
    (``create_graph=True``), so backward rules written with it differentiate again."""
    return op.forward(*args) if xp is NP else op(*args)


def _tuple(v, n, op, what, low=1):
    """``v`` (an int or a sequence of n ints) as an n-tuple of ints >= ``low``."""
    vals = (v,) * n if isinstance(v, numbers.Integral) else tuple(v)
    if len(vals) != n or not all(isinstance(a, numbers.Integral) for a in vals):
        raise ValueError(f"{op}: {what} must be an int or {n} ints, got {v!r}")
    if any(a < low for a in vals):
        raise ValueError(f"{op}: {what} must be >= {low}, got {v!r}")
    return tuple(int(a) for a in vals)


def _lift(a, nd):
    """(N, C, L) -> (N, C, 1, L) for 1-D ops (a view)."""
    return a[:, :, None, :] if nd == 1 else a


def _drop(a, nd):
    return a[:, :, 0, :] if nd == 1 else a


class _Geom:
    """Where a kernel of ``k`` (kh, kw) sits on an (H, W) image padded by ``pad``
    (top, bottom, left, right) with ``stride``, ``dilation`` and ``groups``; ``nd`` 1 or 2."""
    __slots__ = ("nd", "hw", "k", "stride", "pad", "dil", "groups", "out")

    def __init__(self, nd, hw, k, stride, pad, dil, groups=1):
        self.nd, self.hw, self.k, self.stride = nd, tuple(hw), tuple(k), tuple(stride)
        self.pad, self.dil, self.groups = tuple(pad), tuple(dil), groups
        self.out = tuple((n + p0 + p1 - d * (kk - 1) - 1) // s + 1 for n, p0, p1, kk, s, d in
                         zip(self.hw, self.pad[::2], self.pad[1::2], self.k, self.stride,
                             self.dil))

    def padded(self, x, value=0.0):
        pt, pb, pl, pr = self.pad
        if not (pt or pb or pl or pr):
            return x
        n, c, h, w = x.shape
        xp = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
        xp[:, :, pt:pt + h, pl:pl + w] = x
        return xp

    def crop(self, xp):
        pt, _, pl, _ = self.pad
        h, w = self.hw
        return xp[:, :, pt:pt + h, pl:pl + w]

    def spot(self, a, b):
        """The strided slice of the padded image that kernel position (a, b) touches."""
        (sh, sw), (dh, dw), (oh, ow) = self.stride, self.dil, self.out
        return (slice(None), slice(None), slice(a * dh, a * dh + sh * (oh - 1) + 1, sh),
                slice(b * dw, b * dw + sw * (ow - 1) + 1, sw))

    def label(self):
        parts = []
        if any(s != 1 for s in self.stride):
            parts.append(f"s={_short(self.stride)}")
        if any(self.pad):
            p = self.pad
            parts.append(f"p={_short(p[::2]) if p[::2] == p[1::2] else p}")
        if any(d != 1 for d in self.dil):
            parts.append(f"d={_short(self.dil)}")
        if self.groups != 1:
            parts.append(f"g={self.groups}")
        return ",".join(parts)


def _short(t):
    """(2, 2) -> '2', (1, 3) -> '(1, 3)' (1-D ops: the width only)."""
    return str(t[-1]) if len(set(t)) == 1 else str(tuple(t))


# --- im2col and col2im ------------------------------------------------------------------

def _im2col(x, geo, batch_first=False):
    """Columns of the padded ``x`` (N, C, H, W): a contiguous (C*kh*kw, N*oh*ow) matrix,
    the one buffer a convolution materialises ((N, C*kh*kw, oh*ow) with ``batch_first``,
    PyTorch's ``unfold``)."""
    (kh, kw), (sh, sw), (dh, dw) = geo.k, geo.stride, geo.dil
    v = _windows(geo.padded(x), (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    v = v[:, :, ::sh, ::sw, ::dh, ::dw]                     # (N, C, oh, ow, kh, kw), a view
    n, c, oh, ow = v.shape[:4]
    if batch_first:
        return np.ascontiguousarray(v.transpose(0, 1, 4, 5, 2, 3)).reshape(
            n, c * kh * kw, oh * ow)
    return np.ascontiguousarray(v.transpose(1, 4, 5, 0, 2, 3)).reshape(c * kh * kw,
                                                                      n * oh * ow)


def _col2im(cols, geo, n, c, dtype, batch_major=False):
    """Adjoint of :func:`_im2col`: add columns (C, kh, kw, N, oh, ow) (any strides; with
    ``batch_major`` (N, C, kh, kw, oh, ow)) back into an (N, C, H, W) image, one strided
    add per kernel position."""
    (kh, kw), (oh, ow), (h, w), (pt, pb, pl, pr) = geo.k, geo.out, geo.hw, geo.pad
    if batch_major:
        cols = cols.reshape(n, c, kh, kw, oh, ow)
        xp = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=dtype)
        for a in range(kh):
            for b in range(kw):
                xp[geo.spot(a, b)] += cols[:, :, a, b]
        return np.ascontiguousarray(geo.crop(xp))       # a gradient is contiguous (see _spread)
    cols = cols.reshape(c, kh, kw, n, oh, ow)
    xp = np.zeros((c, n, h + pt + pb, w + pl + pr), dtype=dtype)     # the columns' order
    for a in range(kh):
        for b in range(kw):
            xp[geo.spot(a, b)] += cols[:, a, b]
    return np.ascontiguousarray(geo.crop(xp).transpose(1, 0, 2, 3))


def _by_group(a, geo, rows):
    """(O, N, ...) -> (groups, O/groups, N*oh*ow) and the like: a reshape."""
    return a.reshape(geo.groups, rows // geo.groups, -1)


def _per_sample(geo):
    """Whether the backward products run per sample (one small product per image, no
    reordering of the gradient): faster when each image has many output positions (the
    first layers), measured on LeNet's two convolutions."""
    return geo.groups == 1 and geo.out[0] * geo.out[1] >= 256


def _cols3(cols, n):
    """The (C*kh*kw, N*L) columns as (N, C*kh*kw, L), a view."""
    return cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2)


def _conv_arrays(x, w, geo, b=None, cols=None):
    """y = conv(x, w) + b, contiguous (N, O, oh, ow), and the column buffer used. Without
    groups: one product per sample straight into NCHW order (no reordering copy)."""
    if _depthwise(geo, w.shape):
        return _dw_conv(x, w, geo, b), None
    n, o = x.shape[0], w.shape[0]
    if _pointwise(geo, w.shape):     # the columns would be a reordered copy of x
        y = np.matmul(w.reshape(o, -1), x.reshape(n, x.shape[1], -1)).reshape(n, o, *geo.out)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y, None
    if cols is None:
        cols = _im2col(x, geo)
    g = geo.groups
    if g == 1:
        y = np.matmul(w.reshape(o, -1), _cols3(cols, n)).reshape(n, o, *geo.out)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y, cols
    wm = w.reshape(g, o // g, -1)
    y = np.matmul(wm, _by_group(cols, geo, cols.shape[0])).reshape(o, n, *geo.out)
    return _nchw(y, b), cols


def _nchw(y_onhw, b=None):
    """(O, N, oh, ow) + bias -> contiguous (N, O, oh, ow)."""
    if b is not None:
        y_onhw += b.reshape(-1, 1, 1, 1)
    return np.ascontiguousarray(y_onhw.transpose(1, 0, 2, 3))


def _onhw(g, geo):
    """(N, O, oh, ow) -> contiguous (groups, O/groups, N*oh*ow)."""
    return _by_group(np.ascontiguousarray(g.transpose(1, 0, 2, 3)), geo, g.shape[1])


def _transpose_arrays(y, w, geo, c, gm=None):
    """conv_transpose: col2im(w^T y), the (N, C, H, W) image whose conv pairs with y
    (``gm``: y already as :func:`_onhw` gives it)."""
    dtype = np.result_type(y if gm is None else gm, w)
    if _depthwise(geo, w.shape):
        return _dw_transpose(y, w, geo, c, dtype)
    if _pointwise(geo, w.shape):
        n, o = y.shape[:2]
        return np.matmul(w.reshape(o, -1).T, y.reshape(n, o, -1)).reshape(n, c, *geo.hw)
    if _per_sample(geo):
        n, o = y.shape[:2]
        cols = np.matmul(w.reshape(o, -1).T, y.reshape(n, o, -1))      # (N, C*kh*kw, L)
        return _col2im(cols, geo, n, c, dtype, batch_major=True)
    if geo.groups == 1 and geo.stride == (1, 1) and np.isfinite(w).all():
        return _transpose_wide(y, w, geo, c, dtype)
    return _transpose_cols(y, w, geo, c, dtype, gm)


def _transpose_cols(y, w, geo, c, dtype, gm=None):
    """conv_transpose as col2im(w^T y) on the (C*kh*kw, N*oh*ow) columns (any geometry)."""
    gm = _onhw(y, geo) if gm is None else gm
    wm = w.reshape(geo.groups, w.shape[0] // geo.groups, -1)
    if geo.groups == 1:
        cols = wm[0].T @ gm[0]
    elif wm.shape[1] == 1:      # depthwise: products over an inner dimension of 1 are outer
        cols = wm.transpose(0, 2, 1) * gm   # products; NumPy's matmul took ~10x longer
    else:
        cols = np.matmul(wm.transpose(0, 2, 1), gm)
    return _col2im(cols, geo, gm.shape[2] // (geo.out[0] * geo.out[1]), c, dtype)


def _transpose_wide(y, w, geo, c, dtype):
    """conv_transpose of a stride-1 convolution with whole image rows: y is laid on rows as
    wide as the padded image (zeros past ow), so kernel position (a, b) adds its columns to
    each image plane as ONE contiguous run at offset a*dh*Wp + b*dw (136 numbers a run on
    LeNet's conv2, not 10). The zero columns give w^T 0 = 0 (w is finite), which adds
    nothing: the same sums in the same order. The product over the wider matrix is
    OpenBLAS's to block: the same bits as col2im's with NumPy 2.4's OpenBLAS, its last bits
    may differ with older ones. LeNet's conv2: 1.52 -> 1.2 ms (1 thread)."""
    n, o, oh, ow = y.shape
    (kh, kw), (dh, dw), (h, wd), (pt, pb, pl, pr) = geo.k, geo.dil, geo.hw, geo.pad
    hp, wp = h + pt + pb, wd + pl + pr
    yw = np.zeros((o, n, oh, wp), dtype=dtype)
    yw[..., :ow] = y.transpose(1, 0, 2, 3)
    cols = (w.reshape(o, -1).T @ yw.reshape(o, -1)).reshape(c, kh, kw, n, oh * wp)
    run = (oh - 1) * wp + ow                   # the last row's zero tail is not needed
    xp = np.zeros((n, c, hp * wp), dtype=dtype)
    for a in range(kh):
        for b in range(kw):
            at = a * dh * wp + b * dw
            xp[:, :, at:at + run] += cols[:, a, b, :, :run].transpose(1, 0, 2)
    return np.ascontiguousarray(geo.crop(xp.reshape(n, c, hp, wp)))      # see _spread


def _weight_arrays(y, geo, cols, wshape, gm=None):
    """The correlation of the input (as columns) with y: dL/dw of shape ``wshape``.
    (cols @ y^T)^T: BLAS runs the long inner dimension faster this way round."""
    if _per_sample(geo):
        n, o = y.shape[:2]
        per = np.matmul(y.reshape(n, o, -1), _cols3(cols, n).transpose(0, 2, 1))
        return np.add.reduce(per, axis=0).reshape(wshape)
    gm = _onhw(y, geo) if gm is None else gm
    if geo.groups == 1:
        return (cols @ gm[0].T).T.reshape(wshape)
    cm = _by_group(cols, geo, cols.shape[0])
    return np.matmul(cm, gm.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(wshape)


def _weight_of(x, y, geo, wshape, cols=None, gm=None):
    """dL/dw for the input x (N, C, H, W) and y: depthwise without columns, else
    :func:`_weight_arrays` on ``cols`` (made here when not kept)."""
    if _depthwise(geo, wshape):
        return _dw_weight_grad(x, y, geo, wshape)
    if _pointwise(geo, wshape):     # per sample, as _weight_arrays for large images
        n, o = y.shape[:2]
        per = np.matmul(y.reshape(n, o, -1), x.reshape(n, x.shape[1], -1).transpose(0, 2, 1))
        return np.add.reduce(per, axis=0).reshape(wshape)
    if cols is None:
        cols = _im2col(x, geo)
    return _weight_arrays(y, geo, cols, wshape, gm)


# --- depthwise: one input channel per group ----------------------------------------------

def _depthwise(geo, wshape):
    """Whether each group reads one input channel (w (O, 1, kh, kw), groups = C; EfficientNet's
    and MobileNet's layers): then every product below is a per-channel multiply, and the
    kh*kw shifted views of the padded input replace im2col's buffer of C*kh*kw rows and its
    G small matmuls (EfficientNet-B0's step, batch 8 x 224: see benchmarks/README.md)."""
    return geo.groups > 1 and wshape[1] == 1


def _pointwise(geo, wshape):
    """Whether the convolution is 1x1, stride 1, unpadded, ungrouped (EfficientNet's and
    MobileNet's expand and project layers): one product per sample on x itself, (O, C) times
    (C, H*W), and no column buffer (a reordered copy of x) kept in the graph."""
    return (geo.groups == 1 and geo.k == (1, 1) and geo.stride == (1, 1)
            and not any(geo.pad))


def _dw_weight(w, geo):
    """(O, 1, kh, kw) -> (C, m, kh, kw): channel c's m = O/C kernels."""
    return w.reshape(geo.groups, -1, *geo.k)


def _dw_conv(x, w, geo, b=None):
    """Depthwise y = conv(x, w) + b: the sum over kernel positions (a, b) of the view of the
    padded x that (a, b) touches times w[:, a, b] (per output channel)."""
    n, c = x.shape[:2]
    wd = _dw_weight(w, geo)
    m = wd.shape[1]
    dtype = np.result_type(x, w)
    xp = geo.padded(x)
    y, tmp = np.empty((n, c, m) + geo.out, dtype=dtype), None
    for a in range(geo.k[0]):
        for bb in range(geo.k[1]):      # the first position writes y, the others add to it
            out = y if tmp is None else tmp
            np.multiply(xp[geo.spot(a, bb)][:, :, None], wd[None, :, :, a, bb, None, None],
                        out=out)
            if tmp is None:
                tmp = np.empty_like(y)
            else:
                y += tmp
    y = y.reshape(n, c * m, *geo.out)
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def _dw_transpose(g, w, geo, c, dtype):
    """Depthwise conv_transpose (dL/dx): each kernel position adds g * w[:, a, b] (summed over
    a channel's m kernels) back onto the view of the padded image it read."""
    n = g.shape[0]
    wd = _dw_weight(w, geo)
    g5 = g.reshape(n, c, wd.shape[1], *geo.out)
    (h, wdt), (pt, pb, pl, pr) = geo.hw, geo.pad
    xp = np.zeros((n, c, h + pt + pb, wdt + pl + pr), dtype=dtype)
    tmp = np.empty((n, c) + geo.out, dtype=dtype)      # one buffer for every position
    for a in range(geo.k[0]):
        for bb in range(geo.k[1]):
            if wd.shape[1] == 1:
                xp[geo.spot(a, bb)] += np.multiply(g5[:, :, 0], wd[None, :, 0, a, bb, None, None],
                                                   out=tmp)
            else:
                xp[geo.spot(a, bb)] += np.einsum("ncmhw,cm->nchw", g5, wd[:, :, a, bb])
    return np.ascontiguousarray(geo.crop(xp))


def _dw_weight_grad(x, g, geo, wshape):
    """Depthwise dL/dw: for each kernel position, the per-channel dot product of g with the
    view of the padded x that position read."""
    n, c = x.shape[:2]
    g5 = g.reshape(n, c, -1, *geo.out)
    xp = geo.padded(x)
    gw = np.empty((c, g5.shape[2]) + geo.k, dtype=np.result_type(x, g))
    for a in range(geo.k[0]):
        for bb in range(geo.k[1]):
            gw[:, :, a, bb] = np.einsum("nchw,ncmhw->cm", xp[geo.spot(a, bb)], g5)
    return gw.reshape(wshape)


# --- the three convolution ops ----------------------------------------------------------

class _ConvBase(Function):
    __slots__ = ("geo", "c")

    def __init__(self, geo, c=None):
        self.geo, self.c, self.saved = geo, c, None

    def label(self):
        extra = self.geo.label()
        return f"{self.name}[{extra}]" if extra else self.name

    def _w(self, w):
        return w if self.geo.nd == 2 else w.reshape(w.shape[:2] + (1,) + w.shape[2:])

    def _bias_grad(self, g):
        return g.sum(axis=(0, 2, 3) if self.geo.nd == 2 else (0, 2))


class Conv2dOp(_ConvBase):
    """y = conv(x, w) + b: every output is a dot product of the kernel with one window."""
    __slots__ = ()
    name = "conv2d"

    def __call__(self, *inputs):
        return _record_keeping_cols(self, inputs)

    def forward(self, x, w, b=None):
        geo = self.geo
        y, cols = _conv_arrays(_lift(x, geo.nd), self._w(w), geo, b)
        self.saved = cols if _needs(self, 1) else None     # see _record_keeping_cols
        return _drop(y, geo.nd)

    def backward(self, xp, g, out, x, w, b=None):
        geo, cols = self.geo, self.saved
        gx = gw = None
        if xp is NP:        # y's gradient reordered (if at all) once for both products
            gl = _lift(g, geo.nd)
            gm = None if (_per_sample(geo) or _depthwise(geo, w.shape)
                          or _pointwise(geo, w.shape)) else _onhw(gl, geo)
            if _needs(self, 0):
                gx = _drop(_transpose_arrays(gl, self._w(w), geo, x.shape[1], gm), geo.nd)
            if _needs(self, 1):
                gw = _weight_of(_lift(x, geo.nd), gl, geo, w.shape, cols, gm)
        else:
            if _needs(self, 0):
                gx = _TRANSPOSE[geo.nd](geo, x.shape[1])(g, w)
            if _needs(self, 1):
                gw = ConvWeightOp(geo, w.shape)(x, g)
        if b is None:
            return gx, gw
        return gx, gw, (self._bias_grad(g) if _needs(self, 2) else None)


class ConvTranspose2dOp(_ConvBase):
    """x = conv_transpose(y, w) + b: the adjoint of the convolution in its input."""
    __slots__ = ()
    name = "conv_transpose2d"

    def forward(self, y, w, b=None):
        geo = self.geo
        x = _transpose_arrays(_lift(y, geo.nd), self._w(w), geo, self.c)
        if b is not None:
            x = x + b.reshape(-1, 1, 1)
        return _drop(x, geo.nd)

    def backward(self, xp, g, out, y, w, b=None):
        geo = self.geo
        gy = _apply(xp, _CONV[geo.nd](geo), g, w) if _needs(self, 0) else None
        gw = _apply(xp, ConvWeightOp(geo, w.shape), g, y) if _needs(self, 1) else None
        if b is None:
            return gy, gw
        return gy, gw, (self._bias_grad(g) if _needs(self, 2) else None)


class ConvWeightOp(_ConvBase):
    """dw = correlation of the input x with the output's gradient y (shape ``c``: w's);
    PyTorch calls it ``torch.nn.grad.conv2d_weight``."""
    __slots__ = ()
    name = "conv_weight"

    def forward(self, x, y):
        geo = self.geo
        return _weight_of(_lift(x, geo.nd), _lift(y, geo.nd), geo, self.c)

    def backward(self, xp, g, out, x, y):
        geo = self.geo
        gx = _apply(xp, _TRANSPOSE[geo.nd](geo, x.shape[1]), y, g) if _needs(self, 0) else None
        gy = _apply(xp, _CONV[geo.nd](geo), x, g) if _needs(self, 1) else None
        return gx, gy


class Conv1dOp(Conv2dOp):
    __slots__ = ()
    name = "conv1d"


class ConvTranspose1dOp(ConvTranspose2dOp):
    __slots__ = ()
    name = "conv_transpose1d"


_CONV = {1: Conv1dOp, 2: Conv2dOp}
_TRANSPOSE = {1: ConvTranspose1dOp, 2: ConvTranspose2dOp}


# --- argument checks --------------------------------------------------------------------

def _check_float(op, x, w, b):
    """Floating input, weight and bias of one dtype (PyTorch refuses mixed dtypes; the
    result would silently take the wider one), named by role so the fix is the right way
    round."""
    if x.dtype.kind != "f" and w.dtype.kind == "f":
        # DtypeError: PyTorch's RuntimeError (and the TypeError this was); the course's
        # uint8 image from read_image: the fix in PyTorch's words, pixels scaled too
        raise DtypeError(f"{op}: input has dtype {x.dtype} but the weight is {w.dtype}; a "
                         f"convolution needs floating-point input: convert it with "
                         f"x.to(zeroin.{w.dtype})" + (" (image pixels 0..255 are usually "
                         f"scaled as well: x.to(zeroin.{w.dtype}) / 255)"
                         if x.dtype == np.uint8 else ""))
    dts = {t.dtype for t in (x, w, b) if t is not None}
    if any(d.kind != "f" for d in dts):
        raise DtypeError(f"{op}: expected floating-point tensors, got dtypes "
                         f"{', '.join(sorted(map(str, dts)))}; convert them with "
                         f".to(zeroin.float32) (or .float() / .double())")
    if b is not None and b.dtype != w.dtype:
        raise DtypeError(f"{op}: the weight has dtype {w.dtype} but the bias {b.dtype}; convert "
                         f"the model to one dtype with model.to(zeroin.{w.dtype}), or a bias "
                         f"of your own with b.to(zeroin.{w.dtype}){_default_note(w, b)}")
    if x.dtype != w.dtype:
        raise DtypeError(f"{op}: input has dtype {x.dtype} but the weight is {w.dtype}; convert "
                         f"one of them: the model with model.to(zeroin.{x.dtype}) (or "
                         f"model.float() / model.double()), or the input with "
                         f"x.to(zeroin.{w.dtype}) (x.float() / x.double()){_default_note(x, w)}")


def _default_note(a, b):
    """Why one is float64 (CS231n's three-layer convnet test makes its weights with
    dtype=torch.float32, its biases without)."""
    return default_dtype_note(a.dtype, b.dtype)


_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


def _rank_error(op, x, nd):
    """The ShapeError for an input of neither rank nd + 2 (N, C, *) nor nd + 1 (C, *)."""
    layout = _LAYOUTS[nd]
    hint = ""
    if nd == 2 and x.ndim == 2:
        side = math.isqrt(x.shape[1])               # rows of side*side pixels: say so
        side = side if side > 1 and side * side == x.shape[1] else 28
        hint = f"; reshape flat images to (N, C, H, W), e.g. x.reshape(-1, 1, {side}, {side})"
    elif nd == 3 and x.ndim == 6:
        hint = "; for video fold the batch and clip dimensions together first"
    elif nd == 3 and x.ndim < 4:
        hint = "; a 2-D image (N, C, H, W) needs the 2-D op (conv2d, max_pool2d, ...)"
    return ShapeError(f"{op}: expected a {nd + 2}-D input {layout} or an unbatched "
                      f"{nd + 1}-D input ({layout[4:]}, got shape {tuple(x.shape)} "
                      f"({x.ndim}-D){hint}")


def _check_input(op, x, nd):
    if x.ndim != nd + 2:
        raise _rank_error(op, x, nd)


def _batched(op, x, nd):
    """PyTorch's unbatched input: (N, C, *spatial) as it is, (C, *spatial) as a batch of
    one; returns the batch and whether one was added (any other rank: a ShapeError)."""
    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    raise _rank_error(op, x, nd)


def _unbatch(y, was):
    """The result of a batch of one without its batch dimension (each of a tuple's)."""
    if not was:
        return y
    return tuple(v[0] for v in y) if isinstance(y, tuple) else y[0]


def _unbatched(rank):
    """Decorate an op on a batched ``rank``-D input (N, C, *spatial) to also take PyTorch's
    unbatched input, one dimension fewer: run as a batch of one, that dimension dropped
    from the result (and from returned indices); gradients flow through the unsqueeze
    and the indexing."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(input, *args, **kwargs):  # noqa: A002
            x = _as_tensor(input, fn.__name__)
            if x.ndim != rank - 1:
                return fn(x, *args, **kwargs)
            try:
                return _unbatch(fn(x.unsqueeze(0), *args, **kwargs), True)
            except ShapeError as e:     # its shapes are the batch of one's: say so
                raise ShapeError(f"{e} (the unbatched input {tuple(x.shape)} taken as a "
                                 f"batch of one)") from None
        return run
    return wrap


def _conv_padding(op, padding, k, dil, stride, nd):
    """Padding as (top, bottom, left, right) from an int, a tuple, 'same' or 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * 4
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided "
                             f"convolutions (stride={stride if nd == 2 else stride[1]}); "
                             f"give the padding as a number")
        out = []
        for kk, d in zip(k, dil):
            total = d * (kk - 1)
            out += [total // 2, total - total // 2]
        return tuple(out)
    p = _tuple(padding, nd, op, "padding", low=0)
    p = (0,) + p if nd == 1 else p
    return (p[0], p[0], p[1], p[1])


def _check_fits(op, x, geo, kdesc, fix):
    pt, pb, pl, pr = geo.pad
    hp, wp = geo.hw[0] + pt + pb, geo.hw[1] + pl + pr
    eff = tuple(d * (k - 1) + 1 for k, d in zip(geo.k, geo.dil))
    sl = slice(1, None) if geo.nd == 1 else slice(None)
    if hp < eff[0] or wp < eff[1] or min(geo.out) < 1:
        raise ShapeError(
            f"{op}: the {kdesc} (spread to {eff[sl]} by dilation {geo.dil[sl]}) is larger "
            f"than the padded input {(hp, wp)[sl]} (input {tuple(x.shape)}, padding "
            f"{geo.pad[2:] if geo.nd == 1 else geo.pad}): the output would be "
            f"{geo.out[sl]}; {fix}")


def _conv_setup(op, nd, x, w, b, stride, padding, dilation, groups, transposed=False):
    x, w = _as_tensor(x, op), _as_tensor(w, op, "weight")
    b = None if b is None else _as_tensor(b, op, "bias")
    _check_input(op, x, nd)
    if w.ndim != 2 + nd:
        layout = "(in_channels, out_channels/groups, " if transposed else \
            "(out_channels, in_channels/groups, "
        raise ShapeError(f"{op}: weight must be {2 + nd}-D {layout}"
                         f"{'kL' if nd == 1 else 'kH, kW'}), got shape {tuple(w.shape)}")
    _check_float(op, x, w, b)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    k = (1,) * (2 - nd) + tuple(w.shape[2:])
    stride = (1,) * (2 - nd) + _tuple(stride, nd, op, "stride")
    dil = (1,) * (2 - nd) + _tuple(dilation, nd, op, "dilation")
    return x, w, b, k, stride, dil


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):  # noqa: A002
    x, w, b, k, stride, dil = _conv_setup(op, nd, input, weight, bias, stride, padding,
                                          dilation, groups)
    c, o = x.shape[1], w.shape[0]
    kind = "Conv1d" if nd == 1 else "Conv2d"
    if o % groups or c % groups:
        raise ShapeError(f"{op}: groups={groups} must divide both the input's channels "
                         f"({c}, input {tuple(x.shape)}) and the weight's out_channels ({o}, "
                         f"weight {tuple(w.shape)}); choose groups among their common "
                         f"divisors")
    if w.shape[1] * groups != c:
        raise ShapeError(
            f"{op}: the weight {tuple(w.shape)} with groups={groups} expects an input with "
            f"in_channels={w.shape[1] * groups}, but the input {tuple(x.shape)} has {c} "
            f"channels (dimension 1); build the layer as {kind}({c}, {o}, ...) or check "
            f"the previous layer's out_channels")
    if b is not None and tuple(b.shape) != (o,):
        raise ShapeError(f"{op}: bias of shape {tuple(b.shape)} does not fit weight "
                         f"{tuple(w.shape)}; it must have shape ({o},)")
    pad = _conv_padding(op, padding, k, dil, stride, nd)
    geo = _Geom(nd, (1,) * (2 - nd) + tuple(x.shape[2:]), k, stride, pad, dil, groups)
    _check_fits(op, x, geo, f"kernel {tuple(w.shape[2:])}",
                "use a smaller kernel, more padding or a larger input")
    fn = _CONV[nd](geo)
    if not x.shape[0]:
        return _empty_batch(fn, x, w, b)
    return fn(x, w) if b is None else fn(x, w, b)


def _empty_batch(fn, x, w, b):
    """A convolution of an empty batch, as PyTorch's: (0, C_out, ...) (the kernels reshape
    by -1, which an empty array refuses), from one zero sample; the gradients are zeros."""
    one = _leaf(np.zeros((1,) + tuple(x.shape[1:]), x.dtype))
    y = fn(one, w) if b is None else fn(one, w, b)
    return y[:0] + x.sum() * 0


@op(Conv1dOp)
@_unbatched(3)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-D convolution (cross-correlation) of ``input`` (N, C_in, L) with ``weight``
    (C_out, C_in/groups, k); PyTorch's arguments (``padding`` also 'same'/'valid')."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@op(Conv2dOp)
@_unbatched(4)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D convolution (cross-correlation) of ``input`` (N, C_in, H, W) with ``weight``
    (C_out, C_in/groups, kH, kW), plus ``bias`` (C_out,): output (N, C_out, H_out, W_out)
    with H_out = (H + 2 padding - dilation (kH - 1) - 1) // stride + 1. ``padding`` is an
    int, a pair, 'valid' (0) or 'same' (stride 1 only; an odd total puts the extra on the
    bottom/right, as PyTorch)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _transpose_channels(op, nd, y, w, b, groups):
    """conv_transpose's checks of the input's channels against the weight (in_channels,
    out_channels/groups, ...), of groups and of the bias (1-, 2- and 3-D); returns the
    output's channels."""
    c_in = y.shape[1]
    if w.shape[0] != c_in:
        raise ShapeError(f"{op}: the weight {tuple(w.shape)} (in_channels, "
                         f"out_channels/groups, ...) expects an input with {w.shape[0]} "
                         f"channels, but the input {tuple(y.shape)} has {c_in}; build the "
                         f"layer as ConvTranspose{nd}d({c_in}, ...)")
    if c_in % groups:
        raise ShapeError(f"{op}: groups={groups} must divide the input's channels ({c_in}, "
                         f"input {tuple(y.shape)})")
    c_out = w.shape[1] * groups
    if b is not None and tuple(b.shape) != (c_out,):
        raise ShapeError(f"{op}: bias of shape {tuple(b.shape)} does not fit; it must have "
                         f"shape ({c_out},)")
    return c_out


def _transpose_past_stride(fn, nd, input, weight, bias, stride, p, opad, groups, dil):  # noqa: A002
    """``fn`` (a conv_transpose) with an output_padding >= the stride, which PyTorch allows
    while it is below the dilation: the full result (no padding), the window of PyTorch's
    size from ``padding`` on, zeros past the end of the full result, then the bias."""
    full = fn(input, weight, None, stride, 0, 0, groups, dil)
    spatial = tuple(full.shape[-nd:])
    size = [n - 2 * pp + q for n, pp, q in zip(spatial, p, opad)]
    y = full[(Ellipsis,) + tuple(slice(pp, min(n, pp + m))
                                 for n, pp, m in zip(spatial, p, size))]
    extra = [pp + m - min(n, pp + m) for n, pp, m in zip(spatial, p, size)]
    if any(extra):
        from .functional import pad
        y = pad(y, tuple(v for e in reversed(extra) for v in (0, e)))
    return y if bias is None else y + bias.reshape((-1,) + (1,) * nd)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    y, w, b, k, stride, dil = _conv_setup(op, nd, input, weight, bias, stride, 0, dilation,
                                          groups, transposed=True)
    c_out = _transpose_channels(op, nd, y, w, b, groups)
    p = (0,) * (2 - nd) + _tuple(padding, nd, op, "padding", low=0)
    opad = (0,) * (2 - nd) + _tuple(output_padding, nd, op, "output_padding", low=0)
    if any(q >= s and q >= d for q, s, d in zip(opad, stride, dil)):    # PyTorch's rule
        raise _ValueError(f"{op}: output_padding {opad[2 - nd:]} must be smaller than "
                          f"either the stride {stride[2 - nd:]} or the dilation "
                          f"{dil[2 - nd:]}")
    if any(q >= s for q, s in zip(opad, stride)):       # below the dilation: allowed
        return _transpose_past_stride(globals()[op], nd, input, weight, bias, stride[2 - nd:],
                                      p[2 - nd:], opad[2 - nd:], groups, dil[2 - nd:])
    hw = (1,) * (2 - nd) + tuple(y.shape[2:])
    size = tuple((n - 1) * s - 2 * pp + d * (kk - 1) + q + 1
                 for n, s, pp, d, kk, q in zip(hw, stride, p, dil, k, opad))
    if min(size) < 1:
        raise ShapeError(f"{op}: input {tuple(y.shape)} with kernel {tuple(w.shape[2:])}, "
                         f"stride {stride[2 - nd:]} and padding {p[2 - nd:]} gives an output "
                         f"of size {size[2 - nd:]}; use less padding")
    geo = _Geom(nd, size, k, stride, (p[0], p[0], p[1], p[1]), dil, groups)
    fn = _TRANSPOSE[nd](geo, c_out)
    return fn(y, w) if b is None else fn(y, w, b)


@op(ConvTranspose1dOp)
@_unbatched(3)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,  # noqa: A002
                     groups=1, dilation=1):
    """Transposed 1-D convolution (the gradient of conv1d with respect to its input);
    ``weight`` (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


@op(ConvTranspose2dOp)
@_unbatched(4)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,  # noqa: A002
                     groups=1, dilation=1):
    """Transposed 2-D convolution, PyTorch's arguments: ``weight`` (C_in, C_out/groups,
    kH, kW); output size (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding
    + 1. It is the gradient of conv2d with respect to its input, so conv_transpose2d
    undoes conv2d's shape change (an "up-convolution")."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# --- max pooling: windows, the position of each maximum, gather and scatter -------------

class _Win:
    """Pooling windows on an (H, W) image padded by ``pad``: rows ``R`` (oh, kh) and
    columns ``C`` (ow, kw) of the padded image. With ``geo`` (regular windows) the
    windows' k-th elements are one strided slice, and a window's maximum is stored as
    its kernel position k (int8); otherwise as its flat position in the padded image."""
    __slots__ = ("hw", "pad", "R", "C", "geo", "overlap", "nd")

    def __init__(self, nd, hw, pad, R, C, geo=None):
        self.nd, self.hw, self.pad, self.R, self.C, self.geo = nd, hw, pad, R, C, geo
        self.overlap = bool((R[1:, 0] <= R[:-1, -1]).any() or (C[1:, 0] <= C[:-1, -1]).any())

    @property
    def out(self):
        return self.R.shape[0], self.C.shape[0]

    @property
    def size(self):
        return self.R.shape[1] * self.C.shape[1]

    def padded_hw(self):
        pt, pb, pl, pr = self.pad
        return self.hw[0] + pt + pb, self.hw[1] + pl + pr

    def padded(self, x, value):
        pt, pb, pl, pr = self.pad
        if not (pt or pb or pl or pr):
            return x
        n, c, h, w = x.shape
        xp = np.full((n, c) + self.padded_hw(), value, dtype=x.dtype)
        xp[:, :, pt:pt + h, pl:pl + w] = x
        return xp

    def spot(self, xp, k):
        """The k-th element of every window, (N, C, oh, ow)."""
        kw = self.C.shape[1]
        if self.geo is not None:
            return xp[self.geo.spot(k // kw, k % kw)]
        return xp[:, :, self.R[:, k // kw][:, None], self.C[:, k % kw][None, :]]

    def argmax(self, x):
        """Each window's maximum (NaN wins, as in PyTorch; the first of equal ones) and
        where it is; one pass of cheap arithmetic per kernel position, no masks."""
        xp = self.padded(x, -np.inf)
        best = np.array(self.spot(xp, 0), dtype=x.dtype, copy=True)
        K = self.size
        am = np.zeros(best.shape, dtype=np.int8 if K < 128 else np.int32)
        m = np.empty(best.shape, dtype=bool)
        for k in range(1, K):
            cand = self.spot(xp, k)
            np.greater(cand, best, out=m)
            d = k - am                   # am becomes k where the candidate is larger
            d *= m
            am += d
            np.maximum(best, cand, out=best)
        if np.isnan(best).any():        # rare: point at the (last) NaN, as PyTorch does
            for k in range(1, K):
                np.isnan(self.spot(xp, k), out=m)
                am[m] = k
        if self.geo is not None:
            return best, am
        r, c = self._rows_cols(am)
        return best, r.astype(np.int64) * self.padded_hw()[1] + c

    def _rows_cols(self, am):
        kw = self.C.shape[1]
        oh, ow = self.out
        return self.R[np.arange(oh)[:, None], am // kw], self.C[np.arange(ow), am % kw]

    def _tiles(self):
        """Whether the windows cover the padded image exactly once (stride = kernel)."""
        geo, (hp, wp) = self.geo, self.padded_hw()
        return (geo is not None and geo.stride == geo.k and geo.dil == (1, 1) and
                geo.out[0] * geo.k[0] == hp and geo.out[1] * geo.k[1] == wp)

    def positions(self, idx):
        """Flat positions of the maxima in the unpadded image plane (return_indices)."""
        if self.geo is not None:
            r, c = self._rows_cols(idx)
        else:
            r, c = np.divmod(idx, self.padded_hw()[1])
        return (r - self.pad[0]) * self.hw[1] + (c - self.pad[2])

    def gather(self, x, idx):
        """The values of x (N, C, H, W) where ``idx`` says the maxima are."""
        xp = self.padded(x, 0)
        if self.geo is not None:
            out = np.zeros(idx.shape, dtype=x.dtype)
            for k in range(self.size):
                out += self.spot(xp, k) * (idx == k)
            return out
        n, c = x.shape[:2]
        flat = xp.reshape(n * c, -1)
        return np.take_along_axis(flat, idx.reshape(n * c, -1), axis=1).reshape(idx.shape)

    def scatter(self, g, idx, dtype):
        """Adjoint of :meth:`gather`: an (N, C, H, W) image with g added where idx says."""
        n, c = g.shape[:2]
        hp, wp = self.padded_hw()
        if self.geo is not None:
            # windows that tile the padded image write every element once: no zero fill,
            # each product straight into its strided slice (LeNet's first pool: 0.25 ->
            # 0.21 ms, 1 thread)
            gx = (np.empty if self._tiles() else np.zeros)((n, c, hp, wp), dtype=dtype)
            for k in range(self.size):
                at = gx[self.geo.spot(k // self.C.shape[1], k % self.C.shape[1])]
                if self.overlap:
                    at += g * (idx == k)
                else:
                    np.multiply(g, idx == k, out=at)
        else:
            p = idx.reshape(n * c, -1) + (np.arange(n * c) * (hp * wp))[:, None]
            flat = np.bincount(p.ravel(), weights=g.ravel(), minlength=n * c * hp * wp)
            gx = flat.astype(dtype, copy=False).reshape(n, c, hp, wp)
        pt, _, pl, _ = self.pad
        return np.ascontiguousarray(gx[:, :, pt:pt + self.hw[0], pl:pl + self.hw[1]])


def _regular_win(nd, geo):
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo.k, geo.stride, geo.dil, geo.out
    R = np.arange(oh)[:, None] * sh + np.arange(kh) * dh
    C = np.arange(ow)[:, None] * sw + np.arange(kw) * dw
    return _Win(nd, geo.hw, geo.pad, R, C, geo)


class _PoolIndexBase(Function):
    __slots__ = ("win", "idx")
    forward_state = ("idx",)    # max pooling's forward sets idx (see zeroin.replay)

    def __init__(self, win, idx=None):
        self.win, self.idx = win, idx


class MaxPool2dOp(_PoolIndexBase):
    """The largest value of each window; its gradient goes to that one input (the first
    of equal ones)."""
    __slots__ = ()
    name = "max_pool2d"
    piecewise_linear = True     # recorded: tied to x, as PyTorch's backward reads x

    def label(self):
        return f"{self.name}[{_short((self.win.R.shape[1], self.win.C.shape[1]))}]"

    def forward(self, x):
        best, self.idx = self.win.argmax(_lift(x, self.win.nd))
        return _drop(best, self.win.nd)

    def backward(self, xp, g, out, x):
        return _apply(xp, _PoolScatterOp(self.win, self.idx), g)


class MaxPool1dOp(MaxPool2dOp):
    __slots__ = ()
    name = "max_pool1d"


class AdaptiveMaxPool2dOp(MaxPool2dOp):
    __slots__ = ()
    name = "adaptive_max_pool2d"

    def forward(self, x):
        # the windows' gather leaves NumPy's transposed copy; PyTorch's result is contiguous
        # (so that .view(n, -1) of it works)
        return np.ascontiguousarray(super().forward(x))


class _PoolScatterOp(_PoolIndexBase):
    """g added at the positions of the maxima: max pooling's backward, linear in g."""
    __slots__ = ()
    name = "max_pool_backward"

    def forward(self, g):
        return _drop(self.win.scatter(_lift(g, self.win.nd), self.idx, g.dtype), self.win.nd)

    def backward(self, xp, h, out, g):
        return _apply(xp, _PoolGatherOp(self.win, self.idx), h)


class _PoolGatherOp(_PoolIndexBase):
    """The values at the positions of the maxima (fixed positions): linear."""
    __slots__ = ()
    name = "max_pool_gather"

    def forward(self, x):
        return _drop(self.win.gather(_lift(x, self.win.nd), self.idx), self.win.nd)

    def backward(self, xp, g, out, x):
        return _apply(xp, _PoolScatterOp(self.win, self.idx), g)


def _pool_window(op, nd, size, kernel_size, stride, padding, dilation, ceil_mode):
    """A pooling window's kernel, stride, padding and dilation over ``nd`` spatial sizes
    ``size`` (1-, 2- and 3-D pooling), and the padding ``ceil_mode`` adds at the end of
    each so that the last partial window is kept (a window must start inside the input or
    the padding before it)."""
    k = _tuple(kernel_size, nd, op, "kernel_size")
    s = k if stride is None or (not isinstance(stride, numbers.Integral) and
                                len(tuple(stride)) == 0) else _tuple(stride, nd, op, "stride")
    p = _tuple(padding, nd, op, "padding", low=0)
    d = _tuple(dilation, nd, op, "dilation")
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        raise _ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    extra = []
    for n, kk, ss, pp, dd in zip(size, k, s, p, d):
        span = n + 2 * pp - dd * (kk - 1) - 1
        o = (-(-span // ss) if ceil_mode else span // ss) + 1
        if ceil_mode and (o - 1) * ss >= n + pp:
            o -= 1
        extra.append(max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (n + 2 * pp)))
    return k, s, p, d, extra


def _pool_geom(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode):
    """The windows' geometry of 1- and 2-D pooling (:func:`_pool_window`, lifted to 2-D)."""
    _check_input(op, x, nd)
    hw = tuple(x.shape[2:])
    k, s, p, d, extra = _pool_window(op, nd, hw, kernel_size, stride, padding, dilation,
                                     ceil_mode)
    k, s, d = ((1,) * (2 - nd) + t for t in (k, s, d))
    p2 = (0,) * (2 - nd) + p
    extra = [0] * (2 - nd) + extra
    pad = (p2[0], p2[0] + extra[0], p2[1], p2[1] + extra[1])
    geo = _Geom(nd, (1,) * (2 - nd) + hw, k, s, pad, d)
    _check_fits(op, x, geo, f"window {k[2 - nd:]}", "use a smaller kernel_size or a larger "
                "input")
    return geo, p2


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode,  # noqa: A002
              return_indices):
    x = _as_tensor(input, op)
    geo, _ = _pool_geom(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode)
    fn = (MaxPool1dOp if nd == 1 else MaxPool2dOp)(_regular_win(nd, geo))
    y = fn(x)
    return (y, _indices(fn)) if return_indices else y


def _indices(fn):
    """PyTorch's return_indices: flat positions in each (unpadded) input plane."""
    return _leaf(_drop(fn.win.positions(fn.idx).astype(np.int64), fn.win.nd))


@op(MaxPool1dOp, export=False)
@_unbatched(3)
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """The maximum of each window of ``input`` (N, C, L); ``stride`` defaults to the
    kernel size."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


@op(MaxPool2dOp, export=False)
@_unbatched(4)
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """The maximum of each kH x kW window of ``input`` (N, C, H, W), PyTorch's arguments:
    ``stride`` defaults to the kernel size, ``padding`` is implicit -inf, ``ceil_mode``
    keeps a last partial window, ``return_indices`` also returns each maximum's flat
    index in its input plane. The gradient flows to the maximum of each window only."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _adaptive_ranges(n, o):
    """PyTorch's adaptive windows: [floor(i n / o), ceil((i + 1) n / o))."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


@op(AdaptiveMaxPool2dOp, export=False)
@_unbatched(4)
def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling to a fixed ``output_size`` (oh, ow) whatever the input's size; window
    i spans [floor(i H / oh), ceil((i + 1) H / oh)) as in PyTorch."""
    op = "adaptive_max_pool2d"
    x = _as_tensor(input, op)
    _check_input(op, x, 2)
    out = _adaptive_size(op, output_size, x)
    if 0 in out:
        return _empty_pool(op, x, out, return_indices)
    RC = []
    for n, o in zip(x.shape[2:], out):
        lo, hi = _adaptive_ranges(n, o)
        kmax = int((hi - lo).max())
        RC.append(np.minimum(lo[:, None] + np.arange(kmax), hi[:, None] - 1))
    fn = AdaptiveMaxPool2dOp(_Win(2, tuple(x.shape[2:]), (0, 0, 0, 0), *RC))
    y = fn(x)
    return (y, _indices(fn)) if return_indices else y


def _out_size(op, size, hw, least=1):
    nd = len(hw)
    vals = (size,) * nd if isinstance(size, numbers.Integral) or size is None else tuple(size)
    if len(vals) != nd:
        raise ValueError(f"{op}: output_size must be an int or {nd} ints, got {size!r}")
    vals = tuple(int(h) if v is None else int(v) for v, h in zip(vals, hw))
    if min(vals) < least:
        raise ValueError(f"{op}: output_size must be >= {least}, got {size!r}")
    return vals


def _adaptive_size(op, size, x):
    """An adaptive pool's output size, as PyTorch: ints >= 0 (0 gives an empty result),
    for an (N, C, *) input whose spatial dimensions are not empty."""
    if 0 in x.shape[2:]:
        raise ShapeError(f"{op}: input of shape {tuple(x.shape)} has an empty spatial "
                         f"dimension, with no values to pool; PyTorch refuses it too: give "
                         f"each spatial dimension at least 1 element")
    return _out_size(op, size, x.shape[2:], least=0)


def _empty_pool(op, x, out, return_indices=False):
    """The result of ``output_size`` 0: empty, requiring grad when x does, and a backward
    through it raises, as PyTorch's backward refuses the empty gradient."""
    shape = tuple(x.shape[:2]) + tuple(out)
    y = no_derivative(op, lambda a: np.zeros(shape, a.dtype), x, why=(
        f"{op}: the output is empty (output_size {tuple(out)}), and PyTorch's backward "
        f"refuses its empty gradient; give output_size >= 1, or detach the result"))
    return (y, _leaf(np.zeros(shape, np.int64))) if return_indices else y


# --- average pooling --------------------------------------------------------------------

def _spread(g, geo, inv):
    """Adjoint of average pooling: each output's g * inv added to its whole window. The
    padded image is cropped into a contiguous copy, as the adjoints of padded convolution
    and max pooling are: PyTorch's input gradients are contiguous, and WGAN-GP's
    ``gradients.view(n, -1)`` of ``autograd.grad(D(x), x, ...)`` relies on it."""
    gi = g * inv
    n, c = g.shape[:2]
    pt, pb, pl, pr = geo.pad
    xp = np.zeros((n, c, geo.hw[0] + pt + pb, geo.hw[1] + pl + pr), dtype=gi.dtype)
    for a in range(geo.k[0]):
        for b in range(geo.k[1]):
            xp[geo.spot(a, b)] += gi
    return np.ascontiguousarray(geo.crop(xp))


class AvgPool2dOp(Function):
    """The mean of each window (divided by ``1 / inv``, per output position)."""
    __slots__ = ("geo", "inv")
    name = "avg_pool2d"

    def __init__(self, geo, inv):
        self.geo, self.inv = geo, inv

    def label(self):
        return f"{self.name}[{_short(self.geo.k)}]"

    def forward(self, x):
        geo = self.geo
        xp = geo.padded(_lift(x, geo.nd))
        s = xp[geo.spot(0, 0)].copy()
        for k in range(1, geo.k[0] * geo.k[1]):
            s += xp[geo.spot(k // geo.k[1], k % geo.k[1])]
        s *= self.inv.astype(s.dtype, copy=False)
        return _drop(s, geo.nd)

    def backward(self, xp, g, out, x):
        return _apply(xp, _AvgSpreadOp(self.geo, self.inv), g)


class AvgPool1dOp(AvgPool2dOp):
    __slots__ = ()
    name = "avg_pool1d"


class _AvgSpreadOp(AvgPool2dOp):
    """Average pooling's backward (linear in g); its own backward is average pooling."""
    __slots__ = ()
    name = "avg_pool_backward"

    def forward(self, g):
        geo = self.geo
        return _drop(_spread(_lift(g, geo.nd), geo, self.inv.astype(g.dtype, copy=False)),
                     geo.nd)

    def backward(self, xp, h, out, g):
        return _apply(xp, AvgPool2dOp(self.geo, self.inv), h)


def _avg_divisor(geo, p, count_include_pad, divisor_override):
    """1 / (the number of values each output averages), shape (oh, ow)."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must not be 0")
        return np.full(geo.out, 1.0 / divisor_override)
    sizes = []
    for n, o, k, s, pp in zip(geo.hw, geo.out, geo.k, geo.stride, p):
        start = np.arange(o) * s - pp
        end = np.minimum(start + k, n + pp)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(end - start)
    return 1.0 / np.outer(sizes[0], sizes[1])


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,  # noqa: A002
              divisor_override=None):
    x = _as_tensor(input, op)
    geo, p = _pool_geom(op, nd, x, kernel_size, stride, padding, 1, ceil_mode)
    inv = _avg_divisor(geo, p, count_include_pad, divisor_override)
    return (AvgPool1dOp if nd == 1 else AvgPool2dOp)(geo, inv)(x)


@op(AvgPool1dOp)
@_unbatched(3)
def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    """The mean of each window of ``input`` (N, C, L)."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad)


@op(AvgPool2dOp, export=False)
@_unbatched(4)
def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """The mean of each kH x kW window of ``input`` (N, C, H, W), PyTorch's arguments:
    zero padding counts in the mean unless ``count_include_pad=False``."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# --- separable linear maps: adaptive average pooling, linear interpolation ---------------

class _SeparableOp(Function):
    """y = A @ x @ B.T over the last two axes (A or B None: that axis is kept): a linear
    map per axis; its backward is the same map transposed."""
    __slots__ = ("A", "B", "adjoint")
    name = "separable"

    def __init__(self, A, B, adjoint=False):
        self.A, self.B, self.adjoint = A, B, adjoint

    def label(self):
        return self.name + ("^T" if self.adjoint else "")

    def forward(self, x):
        y = x
        if self.A is not None:
            y = np.matmul(self.A.astype(x.dtype, copy=False), y)
        if self.B is not None:
            y = np.matmul(y, self.B.T.astype(x.dtype, copy=False))
        return y

    def backward(self, xp, g, out, x):
        A = None if self.A is None else self.A.T
        B = None if self.B is None else self.B.T
        return _apply(xp, type(self)(A, B, not self.adjoint), g)


class _Separable3Op(Function):
    """y: ``mats`` (one matrix or None per axis) applied along the last three axes of
    (N, C, D, H, W): a linear map per axis; its backward is the same maps transposed."""
    __slots__ = ("mats", "adjoint")
    name = "separable"

    def __init__(self, mats, adjoint=False):
        self.mats, self.adjoint = tuple(mats), adjoint

    def label(self):
        return self.name + ("^T" if self.adjoint else "")

    def forward(self, x):
        y = x
        for ax, M in zip((-3, -2, -1), self.mats):
            if M is not None:
                y = np.moveaxis(np.tensordot(M.astype(x.dtype, copy=False), y, (1, ax)), 0, ax)
        return np.ascontiguousarray(y)

    def backward(self, xp, g, out, x):
        mats = tuple(None if M is None else M.T for M in self.mats)
        return _apply(xp, type(self)(mats, not self.adjoint), g)


class Interpolate3dOp(_Separable3Op):
    __slots__ = ()
    name = "interpolate"


class AdaptiveAvgPool2dOp(_SeparableOp):
    __slots__ = ()
    name = "adaptive_avg_pool2d"


class AdaptiveAvgPool1dOp(_SeparableOp):
    __slots__ = ()
    name = "adaptive_avg_pool1d"


class InterpolateOp(_SeparableOp):
    __slots__ = ()
    name = "interpolate"


def _mean_matrix(n, o):
    lo, hi = _adaptive_ranges(n, o)
    j = np.arange(n)
    inside = (j >= lo[:, None]) & (j < hi[:, None])
    return inside / (hi - lo)[:, None]


@op(AdaptiveAvgPool1dOp)
@_unbatched(3)
def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """Average pooling of (N, C, L) to length ``output_size`` (PyTorch's windows)."""
    x = _as_tensor(input, "adaptive_avg_pool1d")
    _check_input("adaptive_avg_pool1d", x, 1)
    (o,) = _adaptive_size("adaptive_avg_pool1d", output_size, x)
    if o == 0:
        return _empty_pool("adaptive_avg_pool1d", x, (0,))
    return AdaptiveAvgPool1dOp(None, _mean_matrix(x.shape[2], o))(x)


@op(AdaptiveAvgPool2dOp, export=False)
@_unbatched(4)
def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling of (N, C, H, W) to ``output_size`` (oh, ow), whatever H and W;
    ``output_size=1`` is global average pooling. Window i spans [floor(i H / oh),
    ceil((i + 1) H / oh)) as in PyTorch."""
    x = _as_tensor(input, "adaptive_avg_pool2d")
    _check_input("adaptive_avg_pool2d", x, 2)
    oh, ow = _adaptive_size("adaptive_avg_pool2d", output_size, x)
    if 0 in (oh, ow):
        return _empty_pool("adaptive_avg_pool2d", x, (oh, ow))
    return AdaptiveAvgPool2dOp(_mean_matrix(x.shape[2], oh), _mean_matrix(x.shape[3], ow))(x)


def _linear_matrix(n, o, scale, align_corners):
    """PyTorch's (bi)linear weights from n inputs to o outputs along one axis."""
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1)) if o > 1 else np.zeros(o)
    else:
        src = np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n - 1)
    i1 = np.minimum(i0 + 1, n - 1)
    w1 = src - i0
    M = np.zeros((o, n))
    np.add.at(M, (np.arange(o), i0), 1 - w1)
    np.add.at(M, (np.arange(o), i1), w1)
    return M


def _cubic_weights(t, a=-0.75):
    """Keys' cubic convolution weights (PyTorch's a = -0.75) of the four taps at offsets
    -1, 0, 1, 2 from floor(src), for the fractions t = src - floor(src); works on arrays
    and on tensors (grid_sample's weights carry the grid's gradient)."""
    def near(x):                            # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):                             # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return far(t + 1.0), near(t), near(1.0 - t), far((1.0 - t) + 1.0)


def _aa_matrix(n, o, scale, align_corners, mode="bilinear"):
    """PyTorch's antialiased weights (interpolate(antialias=True), as Pillow's resize) from
    n inputs to o outputs along one axis: a triangle ('bilinear') or a cubic with a = -0.5
    ('bicubic') filter, widened by the shrinking factor ``scale`` (in / out), normalised
    over the input pixels it covers. ``vision``'s Resize(antialias=True) uses it too."""
    if align_corners:
        scale = (n - 1) / (o - 1) if o > 1 else 0.0
    half = 1.0 if mode == "bilinear" else 2.0
    support, inv = (half * scale, 1.0 / scale) if scale >= 1.0 else (half, 1.0)
    center = scale * (np.arange(o) + 0.5)
    lo = np.maximum((center - support + 0.5).astype(np.int64), 0)      # C's truncation
    hi = np.minimum((center + support + 0.5).astype(np.int64), n)
    idx = lo[:, None] + np.arange(max(int((hi - lo).max()), 1))
    t = np.abs((idx - center[:, None] + 0.5) * inv)
    if mode == "bilinear":
        w = np.maximum(1.0 - t, 0.0)
    else:                       # Keys' cubic convolution with a = -0.5 (Pillow's)
        w = np.where(t < 1.0, ((1.5 * t - 2.5) * t) * t + 1.0,
                     np.where(t < 2.0, ((-0.5 * t + 2.5) * t - 4.0) * t + 2.0, 0.0))
    w = w * (idx < hi[:, None])
    total = w.sum(axis=1, keepdims=True)
    M = np.zeros((o, n))
    np.add.at(M, (np.repeat(np.arange(o), idx.shape[1]), np.minimum(idx, n - 1).ravel()),
              (w / np.where(total == 0, 1.0, total)).ravel())
    return M


def _cubic_matrix(n, o, scale, align_corners):
    """PyTorch's bicubic weights from n inputs to o outputs along one axis: four taps
    around the source position, indices clamped to the edges (their weights add up)."""
    dst = np.arange(o, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (o - 1)) if o > 1 else np.zeros(o)
    else:                                   # not clamped at 0, unlike (bi)linear
        src = (dst + 0.5) * scale - 0.5
    i0 = np.floor(src)
    M = np.zeros((o, n))
    for k, w in enumerate(_cubic_weights(src - i0)):
        np.add.at(M, (np.arange(o), np.clip(i0.astype(np.int64) - 1 + k, 0, n - 1)), w)
    return M


# --- gathers along axes: nearest interpolation -------------------------------------------

def _take(x, steps):
    for ax, ix in steps:
        x = np.take(x, ix, axis=ax)
    return x


def _put_add(g, steps, shape):
    """Adjoint of :func:`_take`: g summed back onto the positions it was taken from."""
    shapes = [tuple(shape)]
    for ax, ix in steps[:-1]:
        s = list(shapes[-1])
        s[ax] = len(ix)
        shapes.append(tuple(s))
    for (ax, ix), s in zip(reversed(steps), reversed(shapes)):
        gx = np.zeros(s, dtype=g.dtype)
        np.add.at(np.moveaxis(gx, ax, 0), ix, np.moveaxis(g, ax, 0))
        g = gx
    return g


class _TakeOp(Function):
    """x indexed along some axes by integer arrays ``steps`` ((axis, index), ...)."""
    __slots__ = ("steps", "mode")
    name = "take"

    def __init__(self, steps, mode=None):
        self.steps, self.mode = steps, mode

    def label(self):
        return f"{self.name}[{self.mode}]" if self.mode else self.name

    def forward(self, x):
        return _take(x, self.steps)

    def backward(self, xp, g, out, x):
        return _apply(xp, _PutAddOp(self.steps, x.shape), g)


class _PutAddOp(Function):
    """The adjoint of :class:`_TakeOp` (its backward); linear."""
    __slots__ = ("steps", "shape")
    name = "take_backward"

    def __init__(self, steps, shape):
        self.steps, self.shape = steps, tuple(shape)

    def forward(self, g):
        return _put_add(g, self.steps, self.shape)

    def backward(self, xp, h, out, g):
        return _apply(xp, _TakeOp(self.steps), h)


class InterpolateNearestOp(_TakeOp):
    __slots__ = ()
    name = "interpolate"


def _nearest_index(n, o, scale, exact, planar):
    """PyTorch's source index of each of o outputs from n inputs, 'nearest':
    floor(i * scale), or 'nearest-exact': floor((i + 0.5) * scale), clamped to n - 1,
    rounded as PyTorch 2.13's CPU kernels (measured against them): for 2-D images
    (``planar``) in float32 with the float32 scale, and 'nearest' copies (o = n) or
    halves (o = 2n) the index whatever the scale; for 1-D and 3-D the product of the
    float64 scale (in / out or 1 / scale_factor) rounded to float32 (6 -> 74 takes input
    3 at output 37, where a float64 floor gives 2)."""
    i = np.arange(o)
    if not planar:
        src = ((i + 0.5 * exact) * scale).astype(np.float32)
    elif not exact and o in (n, 2 * n):
        src = i if o == n else i // 2
    else:
        src = (i + 0.5 * exact).astype(np.float32) * np.float32(scale)
    return np.minimum(np.floor(src).astype(np.int64), n - 1)


def _interp_size(op, x, size, scale_factor, recompute_scale_factor):
    """interpolate's output size and the scale (in / out) of each spatial dimension: from
    ``size``, or ``scale_factor`` (1 / factor unless ``recompute_scale_factor``)."""
    nd, hw = x.ndim - 2, tuple(x.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    if size is not None:
        out = _out_size(op, size, hw)
        return out, [n / o for n, o in zip(hw, out)]
    sf = (scale_factor,) * nd if isinstance(scale_factor, numbers.Real) else \
        tuple(scale_factor)
    if len(sf) != nd or min(sf) <= 0:
        raise ValueError(f"{op}: scale_factor must be a positive number or {nd} of "
                         f"them, got {scale_factor!r}")
    out = tuple(int(math.floor(n * f)) for n, f in zip(hw, sf))
    if min(out) < 1:
        raise ShapeError(f"{op}: scale_factor {scale_factor} gives output size {out} "
                         f"for input {tuple(x.shape)}")
    return out, ([n / o for n, o in zip(hw, out)] if recompute_scale_factor else
                 [1.0 / f for f in sf])


@op((InterpolateNearestOp, InterpolateOp, Interpolate3dOp), export=False)
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L), (N, C, H, W) or (N, C, D, H, W) to ``size`` or by
    ``scale_factor``: mode 'nearest' (input floor(i * in / out)), 'nearest-exact'
    (floor((i + 0.5) * in / out)), 'area' (adaptive average pooling), 'linear' (3-D),
    'bilinear' or 'bicubic' (4-D; cubic convolution with a = -0.75, edge pixels
    repeated) or 'trilinear' (5-D), with ``align_corners`` as in PyTorch: False maps
    pixel centres, True the corner pixels. ``antialias=True`` (4-D 'bilinear' or
    'bicubic') filters as PyTorch's when shrinking (see :func:`_aa_matrix`)."""
    op = "interpolate"
    x = _as_tensor(input, op)
    if x.ndim not in (3, 4, 5):
        raise ShapeError(f"{op}: expected (N, C, L), (N, C, H, W) or (N, C, D, H, W), got "
                         f"shape {tuple(x.shape)}")
    nd = x.ndim - 2
    modes = ("nearest", "nearest-exact", "area", ("linear", "bilinear", "trilinear")[nd - 1]) + \
        (("bicubic",) if nd == 2 else ())
    if mode not in modes:
        hint = "; bicubic needs a 4-D input (N, C, H, W)" if mode == "bicubic" else ""
        raise ValueError(f"{op}: mode {mode!r} is not supported for a {x.ndim}-D input; "
                         f"use one of {modes}{hint}")
    if mode in modes[:3] and align_corners is not None:
        raise ValueError(f"{op}: align_corners can only be set with mode "
                         f"{' or '.join(repr(m) for m in modes[3:])}")
    if antialias and (nd != 2 or mode not in ("bilinear", "bicubic")):
        raise ValueError(f"{op}: antialias=True needs mode 'bilinear' or 'bicubic' and a 4-D "
                         f"input (N, C, H, W), as in PyTorch; got mode {mode!r} and shape "
                         f"{tuple(x.shape)}")
    out, scales = _interp_size(op, x, size, scale_factor, recompute_scale_factor)
    hw = tuple(x.shape[2:])
    if mode == "area":          # PyTorch's: adaptive average pooling to the output size
        from ._volume import adaptive_avg_pool3d
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](x, out)
    if mode.startswith("nearest"):
        steps = tuple((2 + i, _nearest_index(n, o, s, mode == "nearest-exact", nd == 2))
                      for i, (n, o, s) in enumerate(zip(hw, out, scales)))
        return InterpolateNearestOp(steps, mode)(x)
    if antialias:
        return InterpolateOp(*(_aa_matrix(n, o, s, bool(align_corners), mode)
                               for n, o, s in zip(hw, out, scales)))(x)
    matrix = _cubic_matrix if mode == "bicubic" else _linear_matrix
    mats = [matrix(n, o, s, bool(align_corners)) for n, o, s in zip(hw, out, scales)]
    if nd == 3:
        return Interpolate3dOp(mats)(x)
    return InterpolateOp(*([None] + mats if nd == 1 else mats))(x)


# --- unfold and fold (im2col and col2im) ------------------------------------------------

class UnfoldOp(Function):
    """Every kH x kW window as a column: (N, C, H, W) -> (N, C*kH*kW, L)."""
    __slots__ = ("geo", "c")
    name = "unfold"

    def __init__(self, geo, c):
        self.geo, self.c = geo, c

    def forward(self, x):
        return _im2col(x, self.geo, batch_first=True)

    def backward(self, xp, g, out, x):
        return _apply(xp, FoldOp(self.geo, self.c), g)


class FoldOp(UnfoldOp):
    """Columns summed back into an image: (N, C*kH*kW, L) -> (N, C, H, W)."""
    __slots__ = ()
    name = "fold"

    def forward(self, cols):
        (kh, kw), (oh, ow) = self.geo.k, self.geo.out
        n = cols.shape[0]
        v = cols.reshape(n, self.c, kh, kw, oh, ow).transpose(1, 2, 3, 0, 4, 5)
        return _col2im(v, self.geo, n, self.c, cols.dtype)

    def backward(self, xp, g, out, cols):
        return _apply(xp, UnfoldOp(self.geo, self.c), g)


def _fold_geom(op, hw, kernel_size, dilation, padding, stride):
    k = _tuple(kernel_size, 2, op, "kernel_size")
    d = _tuple(dilation, 2, op, "dilation")
    p = _tuple(padding, 2, op, "padding", low=0)
    s = _tuple(stride, 2, op, "stride")
    return _Geom(2, hw, k, s, (p[0], p[0], p[1], p[1]), d)


@op(UnfoldOp, export=False)
@_unbatched(4)
def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """im2col: each sliding window of (N, C, H, W) as a column of (N, C*kH*kW, L), L the
    number of windows; ``conv2d(x, w)`` is ``w.reshape(O, -1) @ unfold(x, k)`` reshaped."""
    x = _as_tensor(input, "unfold")
    _check_input("unfold", x, 2)
    geo = _fold_geom("unfold", tuple(x.shape[2:]), kernel_size, dilation, padding, stride)
    _check_fits("unfold", x, geo, f"kernel {geo.k}", "use a smaller kernel or more padding")
    return UnfoldOp(geo, x.shape[1])(x)


@op(FoldOp, export=False)
@_unbatched(3)
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """col2im, the adjoint of :func:`unfold`: sums (N, C*kH*kW, L) columns back into an
    (N, C, *output_size) image (overlapping windows add up)."""
    op = "fold"
    cols = _as_tensor(input, op)
    hw = _out_size(op, output_size, (0, 0))
    geo = _fold_geom(op, hw, kernel_size, dilation, padding, stride)
    K, L = geo.k[0] * geo.k[1], geo.out[0] * geo.out[1]
    if cols.ndim != 3 or cols.shape[1] % K or cols.shape[2] != L:
        raise ShapeError(f"{op}: expected input (N, C*{K}, {L}) for kernel {geo.k} and "
                         f"output_size {hw} ({geo.out[0]} x {geo.out[1]} windows), got shape "
                         f"{tuple(cols.shape)}")
    return FoldOp(geo, cols.shape[1] // K)(cols)


class Dropout2dOp(DropoutOp):
    """x * mask with a constant mask of shape (N, C, 1, ...): whole channels dropped."""
    __slots__ = ()
    name = "dropout2d"


@op(Dropout2dOp, export=False)
def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels (feature maps) of (N, C, H, W) with probability ``p`` and scale
    the rest by 1/(1-p) in training; identity otherwise. ``inplace`` is accepted for
    PyTorch compatibility and ignored."""
    from .functional import feature_dropout_mask
    if not 0 <= p <= 1:
        raise ValueError(f"dropout2d: probability p must be between 0 and 1, got {p}")
    x = _as_tensor(input, "dropout2d")
    if x.ndim < 2:
        raise ShapeError(f"dropout2d: Feature dropout requires at least 2 dimensions in the "
                         f"input (N, C, H, W), got shape {tuple(x.shape)}")
    import warnings
    if x.ndim not in (3, 4):     # PyTorch's: deprecated, a mask of shape (N, C, 1, ...)
        warnings.warn(
            f"dropout2d: Received a {x.ndim}-D input to dropout2d, which is deprecated "
            "and will result in an error in a future release. To retain the behavior "
            "and silence this warning, please use dropout instead. Note that dropout2d "
            "exists to provide channel-wise dropout on inputs with 2 spatial dimensions, "
            "a channel dimension, and an optional batch dimension (i.e. 3D or 4D inputs).",
            UserWarning, stacklevel=2)
    if x.ndim == 3:     # PyTorch's warning: read as (N, C, L), not as an unbatched (C, H, W)
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
            "1D dropout behavior is desired - input is interpreted as shape (N, C, L), where C "
            "is the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            UserWarning, stacklevel=2)
    if not training or p == 0:
        return x
    shape = x.shape[:2] + (1,) * (x.ndim - 2)
    return Dropout2dOp(feature_dropout_mask(x.data, shape, p, "dropout2d"))(x)
