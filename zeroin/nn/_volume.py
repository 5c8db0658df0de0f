"""3-D (volume, video) convolution and pooling, written for any number of spatial dims.

The 1-D and 2-D ops in :mod:`zeroin.nn._conv` are tuned for the 2-D case (a LeNet step
is dominated by them); these are the same ideas without the 2-D special cases, so the
2-D path is untouched:

* a convolution is one matrix product on the columns of the padded input (``im2col`` on
  :func:`numpy.lib.stride_tricks.sliding_window_view`), its two adjoints (in the input:
  ``conv_transpose3d``; in the weight) are each other's backward, so gradients of any order
  come from the same three forwards;
* max pooling keeps each maximum's flat position in its input volume; its backward adds
  g there (a linear op whose backward gathers, and the other way round);
* average pooling adds the windows' strided slices; its backward spreads g back.

Loops run over kernel positions (and groups), never over voxels or samples. Every public
function takes (N, C, D, H, W) or, as PyTorch, an unbatched (C, D, H, W).
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as _windows

from .._tensor import _leaf
from ..errors import ShapeError
from ..function import Function
from ..ops import NP, _ValueError, op
from ._conv import (_adaptive_ranges, _adaptive_size, _apply, _batched, _check_float,
                    _empty_pool, _needs, _pool_window, _rank_error, _record_keeping_cols,
                    _Separable3Op, _transpose_channels, _transpose_past_stride, _tuple,
                    _unbatch)
from .functional import _tensor_arg as _as_tensor

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "lp_pool1d", "lp_pool2d", "lp_pool3d"]


class _Geo:
    """A kernel ``k`` on a volume of ``size`` padded by ``pad`` ((lo, hi) per axis) with
    ``stride``, ``dilation`` and ``groups``; ``out`` is the number of windows per axis."""
    __slots__ = ("size", "k", "stride", "pad", "dil", "groups", "out")

    def __init__(self, size, k, stride, pad, dil, groups=1):
        self.size, self.k, self.stride = tuple(size), tuple(k), tuple(stride)
        self.pad, self.dil, self.groups = tuple(pad), tuple(dil), groups
        self.out = tuple((n + lo + hi - d * (kk - 1) - 1) // s + 1 for n, (lo, hi), kk, s, d
                         in zip(self.size, self.pad, self.k, self.stride, self.dil))

    def padded_size(self):
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.size, self.pad))

    def padded(self, x, value=0.0):
        if not any(lo or hi for lo, hi in self.pad):
            return x
        xp = np.full(x.shape[:2] + self.padded_size(), value, dtype=x.dtype)
        xp[self.inner()] = x
        return xp

    def inner(self):
        """The slice of the padded volume that is the input."""
        return (slice(None),) * 2 + tuple(slice(lo, lo + n) for n, (lo, _) in
                                          zip(self.size, self.pad))

    def positions(self):
        return itertools.product(*(range(kk) for kk in self.k))

    def spot(self, pos):
        """The strided slice of the padded volume that kernel position ``pos`` touches."""
        return (slice(None),) * 2 + tuple(slice(a * d, a * d + s * (o - 1) + 1, s) for a, d, s, o
                                          in zip(pos, self.dil, self.stride, self.out))


def _im2col(x, geo):
    """The (C*K, N*L) columns of the padded ``x`` (K kernel positions, L windows)."""
    nd = len(geo.k)
    eff = tuple(d * (kk - 1) + 1 for kk, d in zip(geo.k, geo.dil))
    v = _windows(geo.padded(x), eff, axis=tuple(range(2, 2 + nd)))
    v = v[(slice(None),) * 2 + tuple(slice(None, None, s) for s in geo.stride) +
          tuple(slice(None, None, d) for d in geo.dil)]           # (N, C, *out, *k), a view
    c = x.shape[1]
    order = (1,) + tuple(range(2 + nd, 2 + 2 * nd)) + (0,) + tuple(range(2, 2 + nd))
    return np.ascontiguousarray(v.transpose(order)).reshape(c * int(np.prod(geo.k)), -1)


def _col2im(cols, geo, n, c, dtype):
    """Adjoint of :func:`_im2col`: the (C*K, N*L) columns added back into (N, C, *size)."""
    cols = cols.reshape((c,) + geo.k + (n,) + geo.out)
    xp = np.zeros((c, n) + geo.padded_size(), dtype=dtype)
    for pos in geo.positions():
        xp[geo.spot(pos)] += cols[(slice(None),) + pos]
    return np.ascontiguousarray(xp[geo.inner()].swapaxes(0, 1))


def _grouped(a, g):
    return a.reshape(g, a.shape[0] // g, -1)


def _on(y, g):
    """(N, O, *out) -> (groups, O/groups, N*L)."""
    return _grouped(np.ascontiguousarray(y.swapaxes(0, 1)), g)


def _conv_arrays(x, w, geo, cols=None):
    n, o, g = x.shape[0], w.shape[0], geo.groups
    cols = _im2col(x, geo) if cols is None else cols
    y = np.matmul(_grouped(w, g), _grouped(cols, g)).reshape((o, n) + geo.out)
    return np.ascontiguousarray(y.swapaxes(0, 1)), cols


def _transpose_arrays(y, w, geo, c):
    cols = np.matmul(_grouped(w, geo.groups).transpose(0, 2, 1), _on(y, geo.groups))
    return _col2im(cols, geo, y.shape[0], c, np.result_type(y, w))


def _weight_arrays(y, cols, geo, wshape):
    g = geo.groups
    return np.matmul(_on(y, g), _grouped(cols, g).transpose(0, 2, 1)).reshape(wshape)


def _with_bias(y, b):
    if b is not None:
        y += b.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    return y


class _Conv3dBase(Function):
    __slots__ = ("geo", "c")

    def __init__(self, geo, c=None):
        self.geo, self.c, self.saved = geo, c, None

    def _bias_grad(self, g):
        return g.sum(axis=(0,) + tuple(range(2, g.ndim)))


class Conv3dOp(_Conv3dBase):
    """y = conv(x, w) + b over (N, C, D, H, W): each output a dot product with one window."""
    __slots__ = ()
    name = "conv3d"

    def __call__(self, *inputs):
        return _record_keeping_cols(self, inputs)

    def forward(self, x, w, b=None):
        y, cols = _conv_arrays(x, w, self.geo)
        self.saved = cols if _needs(self, 1) else None     # see _record_keeping_cols
        return _with_bias(y, b)

    def backward(self, xp, g, out, x, w, b=None):
        geo = self.geo
        gx = gw = None
        if _needs(self, 0):
            gx = _apply(xp, ConvTranspose3dOp(geo, x.shape[1]), g, w)
        if _needs(self, 1):
            if xp is NP:
                cols = self.saved if self.saved is not None else _im2col(x, geo)
                gw = _weight_arrays(g, cols, geo, w.shape)
            else:
                gw = ConvWeight3dOp(geo, w.shape)(x, g)
        if b is None:
            return gx, gw
        return gx, gw, (self._bias_grad(g) if _needs(self, 2) else None)


class ConvTranspose3dOp(_Conv3dBase):
    """x = conv_transpose3d(y, w) + b: the adjoint of conv3d in its input."""
    __slots__ = ()
    name = "conv_transpose3d"

    def forward(self, y, w, b=None):
        return _with_bias(_transpose_arrays(y, w, self.geo, self.c), b)

    def backward(self, xp, g, out, y, w, b=None):
        geo = self.geo
        gy = _apply(xp, Conv3dOp(geo), g, w) if _needs(self, 0) else None
        gw = _apply(xp, ConvWeight3dOp(geo, w.shape), g, y) if _needs(self, 1) else None
        if b is None:
            return gy, gw
        return gy, gw, (self._bias_grad(g) if _needs(self, 2) else None)


class ConvWeight3dOp(_Conv3dBase):
    """dw: the correlation of conv3d's input x with its output's gradient y (``c``: w's
    shape)."""
    __slots__ = ()
    name = "conv3d_weight"

    def forward(self, x, y):
        return _weight_arrays(y, _im2col(x, self.geo), self.geo, self.c)

    def backward(self, xp, g, out, x, y):
        geo = self.geo
        gx = _apply(xp, ConvTranspose3dOp(geo, x.shape[1]), y, g) if _needs(self, 0) else None
        gy = _apply(xp, Conv3dOp(geo), x, g) if _needs(self, 1) else None
        return gx, gy


# --- argument checks --------------------------------------------------------------------

def _check_fits(op, x, geo, what, fix):
    padded = geo.padded_size()
    eff = tuple(d * (k - 1) + 1 for k, d in zip(geo.k, geo.dil))
    if any(p < e for p, e in zip(padded, eff)) or min(geo.out) < 1:
        raise ShapeError(f"{op}: the {what} (spread to {eff} by dilation {geo.dil}) is "
                         f"larger than the padded input {padded} (input {tuple(x.shape)}, "
                         f"padding {geo.pad}): the output would be {geo.out}; {fix}")


def _conv_pad(op, padding, k, dil, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * 3
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', "
                             f"got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided "
                             f"convolutions (stride={stride}); give the padding as a number")
        return tuple((d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2)
                     for kk, d in zip(k, dil))
    return tuple((p, p) for p in _tuple(padding, 3, op, "padding", low=0))


def _setup(op, x, w, b, stride, dilation, groups, transposed):
    x, w = _as_tensor(x, op), _as_tensor(w, op, "weight")
    b = None if b is None else _as_tensor(b, op, "bias")
    x, was = _batched(op, x, 3)
    if w.ndim != 5:
        lay = "(in_channels, out_channels/groups, " if transposed else \
            "(out_channels, in_channels/groups, "
        raise ShapeError(f"{op}: weight must be 5-D {lay}kD, kH, kW), got shape "
                         f"{tuple(w.shape)}")
    _check_float(op, x, w, b)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    stride = _tuple(stride, 3, op, "stride")
    dil = _tuple(dilation, 3, op, "dilation")
    return x, was, w, b, stride, dil


@op(Conv3dOp)
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """3-D convolution (cross-correlation) of ``input`` (N, C_in, D, H, W) (or unbatched
    (C_in, D, H, W)) with ``weight`` (C_out, C_in/groups, kD, kH, kW), plus ``bias``
    (C_out,); PyTorch's arguments (``padding`` an int, a triple, 'same' or 'valid')."""
    op = "conv3d"
    x, was, w, b, stride, dil = _setup(op, input, weight, bias, stride, dilation, groups,
                                       False)
    c, o = x.shape[1], w.shape[0]
    if o % groups or c % groups:
        raise ShapeError(f"{op}: groups={groups} must divide both the input's channels ({c}, "
                         f"input {tuple(x.shape)}) and the weight's out_channels ({o}, weight "
                         f"{tuple(w.shape)})")
    if w.shape[1] * groups != c:
        raise ShapeError(f"{op}: the weight {tuple(w.shape)} with groups={groups} expects an "
                         f"input with in_channels={w.shape[1] * groups}, but the input "
                         f"{tuple(x.shape)} has {c} channels (dimension 1); build the layer "
                         f"as Conv3d({c}, {o}, ...) or check the previous layer's "
                         f"out_channels")
    if b is not None and tuple(b.shape) != (o,):
        raise ShapeError(f"{op}: bias of shape {tuple(b.shape)} does not fit weight "
                         f"{tuple(w.shape)}; it must have shape ({o},)")
    k = tuple(w.shape[2:])
    geo = _Geo(x.shape[2:], k, stride, _conv_pad(op, padding, k, dil, stride), dil, groups)
    _check_fits(op, x, geo, f"kernel {k}", "use a smaller kernel, more padding or a larger "
                "input")
    fn = Conv3dOp(geo)
    return _unbatch(fn(x, w) if b is None else fn(x, w, b), was)


@op(ConvTranspose3dOp)
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,  # noqa: A002
                     groups=1, dilation=1):
    """Transposed 3-D convolution (the gradient of conv3d in its input), PyTorch's
    arguments: ``weight`` (C_in, C_out/groups, kD, kH, kW); each output size is
    (n - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1."""
    op = "conv_transpose3d"
    y, was, w, b, stride, dil = _setup(op, input, weight, bias, stride, dilation, groups,
                                       True)
    c_out = _transpose_channels(op, 3, y, w, b, groups)
    p = _tuple(padding, 3, op, "padding", low=0)
    opad = _tuple(output_padding, 3, op, "output_padding", low=0)
    if any(q >= s and q >= d for q, s, d in zip(opad, stride, dil)):    # PyTorch's rule
        raise _ValueError(f"{op}: output_padding {opad} must be smaller than either the "
                          f"stride {stride} or the dilation {dil}")
    if any(q >= s for q, s in zip(opad, stride)):       # below the dilation: allowed
        return _transpose_past_stride(conv_transpose3d, 3, input, weight, bias, stride, p,
                                      opad, groups, dil)
    k = tuple(w.shape[2:])
    size = tuple((n - 1) * s - 2 * pp + d * (kk - 1) + q + 1
                 for n, s, pp, d, kk, q in zip(y.shape[2:], stride, p, dil, k, opad))
    if min(size) < 1:
        raise ShapeError(f"{op}: input {tuple(y.shape)} with kernel {k}, stride {stride} and "
                         f"padding {p} gives an output of size {size}; use less padding")
    geo = _Geo(size, k, stride, tuple((pp, pp) for pp in p), dil, groups)
    fn = ConvTranspose3dOp(geo, c_out)
    return _unbatch(fn(y, w) if b is None else fn(y, w, b), was)


# --- max pooling: the flat position of each maximum, scatter and gather -----------------

class _Windows:
    """Pooling windows on a volume of ``size`` padded by ``pad``: ``R[i]`` (out_i, k_i)
    holds the padded coordinates along axis i of each window's elements. With ``geo``
    (regular windows) a kernel position's elements are one strided slice (a view)."""
    __slots__ = ("size", "pad", "R", "geo")

    def __init__(self, size, pad, R, geo=None):
        self.size, self.pad, self.R, self.geo = tuple(size), tuple(pad), R, geo

    def positions(self):
        return itertools.product(*(range(r.shape[1]) for r in self.R))

    def spot(self, xp, pos):
        if self.geo is not None:
            return xp[self.geo.spot(pos)]
        return xp[(slice(None),) * 2 + np.ix_(*(r[:, a] for r, a in zip(self.R, pos)))]

    def flat(self, pos):
        """Each window's element ``pos`` as a flat position in the unpadded volume
        (clipped inside it: padding is -inf, never a maximum of a window with a value)."""
        f, nd = 0, len(self.size)
        for i, (r, a, n, (lo, _)) in enumerate(zip(self.R, pos, self.size, self.pad)):
            c = np.clip(r[:, a] - lo, 0, n - 1).astype(np.int64)
            f = f * n + c.reshape((-1,) + (1,) * (nd - 1 - i))
        return f

    def argmax(self, x):
        """Each window's maximum (NaN wins, as in PyTorch; the first of equal ones) and its
        flat position in the input volume."""
        xp = self.geo.padded(x, -np.inf) if self.geo is not None else x
        first = next(self.positions())
        best = np.array(self.spot(xp, first), dtype=x.dtype, copy=True)
        idx = np.empty(best.shape, dtype=np.int64)
        idx[...] = self.flat(first)
        m = np.empty(best.shape, dtype=bool)
        for pos in itertools.islice(self.positions(), 1, None):
            cand = self.spot(xp, pos)
            np.greater(cand, best, out=m)
            np.copyto(idx, self.flat(pos), where=m)
            np.maximum(best, cand, out=best)
        if np.isnan(best).any():            # rare: point at the (last) NaN, as PyTorch does
            for pos in self.positions():
                np.copyto(idx, self.flat(pos), where=np.isnan(self.spot(xp, pos)))
        return best, idx


def _scatter(g, idx, shape):
    """g added at the flat positions ``idx`` of each (N, C) plane of ``shape``."""
    n, c = shape[:2]
    v = int(np.prod(shape[2:]))
    p = idx.reshape(n * c, -1) + (np.arange(n * c) * v)[:, None]
    flat = np.bincount(p.ravel(), weights=g.ravel(), minlength=n * c * v)
    return flat.astype(g.dtype, copy=False).reshape(shape)


def _gather(x, idx):
    n, c = x.shape[:2]
    return np.take_along_axis(x.reshape(n * c, -1), idx.reshape(n * c, -1),
                              axis=1).reshape(idx.shape)


class _FlatIndexBase(Function):
    __slots__ = ("win", "idx", "shape")
    forward_state = ("idx",)    # max pooling's forward sets idx (see zeroin.replay)

    def __init__(self, win=None, idx=None, shape=None):
        self.win, self.idx, self.shape = win, idx, shape


class MaxPool3dOp(_FlatIndexBase):
    """The largest value of each window; its gradient goes to that one input (the first
    of equal ones)."""
    __slots__ = ()
    name = "max_pool3d"
    piecewise_linear = True     # recorded: tied to x, as PyTorch's backward reads x

    def forward(self, x):
        best, self.idx = self.win.argmax(x)
        self.shape = x.shape
        return best

    def backward(self, xp, g, out, x):
        return _apply(xp, _ScatterOp(None, self.idx, x.shape), g)


class AdaptiveMaxPool3dOp(MaxPool3dOp):
    __slots__ = ()
    name = "adaptive_max_pool3d"


class _ScatterOp(_FlatIndexBase):
    """g added at the positions of the maxima: max pooling's backward, linear in g."""
    __slots__ = ()
    name = "max_pool3d_backward"

    def forward(self, g):
        return _scatter(g, self.idx, self.shape)

    def backward(self, xp, h, out, g):
        return _apply(xp, _GatherOp(None, self.idx, self.shape), h)


class _GatherOp(_FlatIndexBase):
    """The values at the positions of the maxima (fixed positions): linear."""
    __slots__ = ()
    name = "max_pool3d_gather"

    def forward(self, x):
        return _gather(x, self.idx)

    def backward(self, xp, g, out, x):
        return _apply(xp, _ScatterOp(None, self.idx, x.shape), g)


def _pool_geo(op, nd, x, kernel_size, stride, padding, dilation, ceil_mode):
    """The windows' geometry (and the padding asked for); ``ceil_mode`` pads the end so
    that a last partial window is kept (a window must start inside the input or the
    padding before it)."""
    k, s, p, d, extra = _pool_window(op, nd, x.shape[2:], kernel_size, stride, padding,
                                     dilation, ceil_mode)
    pad = [(pp, pp + e) for pp, e in zip(p, extra)]
    geo = _Geo(x.shape[2:], k, s, pad, d)
    _check_fits(op, x, geo, f"window {k}", "use a smaller kernel_size or a larger input")
    return geo, p


def _regular(geo):
    R = [np.arange(o)[:, None] * s + np.arange(kk) * d
         for o, s, kk, d in zip(geo.out, geo.stride, geo.k, geo.dil)]
    return _Windows(geo.size, geo.pad, R, geo)


@op(MaxPool3dOp, export=False)
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
               return_indices=False):
    """The maximum of each kD x kH x kW window of ``input`` (N, C, D, H, W) (or (C, D, H,
    W)), PyTorch's arguments: ``stride`` defaults to the kernel size, padding is -inf,
    ``ceil_mode`` keeps a last partial window, ``return_indices`` also returns each
    maximum's flat index in its D*H*W volume."""
    op = "max_pool3d"
    x, was = _batched(op, _as_tensor(input, op), 3)
    geo, _ = _pool_geo(op, 3, x, kernel_size, stride, padding, dilation, ceil_mode)
    fn = MaxPool3dOp(_regular(geo))
    y = _unbatch(fn(x), was)
    return (y, _unbatch(_leaf(fn.idx), was)) if return_indices else y


@op(AdaptiveMaxPool3dOp, export=False)
def adaptive_max_pool3d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling of (N, C, D, H, W) (or (C, D, H, W)) to ``output_size`` (od, oh, ow)
    whatever the input's size (None keeps that size); window i along an axis of n spans
    [floor(i n / o), ceil((i + 1) n / o)) as in PyTorch."""
    op = "adaptive_max_pool3d"
    x, was = _batched(op, _as_tensor(input, op), 3)
    out = _adaptive_size(op, output_size, x)
    if 0 in out:
        y, idx = _empty_pool(op, x, out, True)
        return (_unbatch(y, was), _unbatch(idx, was)) if return_indices else _unbatch(y, was)
    R = []
    for n, o in zip(x.shape[2:], out):
        lo, hi = _adaptive_ranges(n, o)
        R.append(np.minimum(lo[:, None] + np.arange(int((hi - lo).max())), hi[:, None] - 1))
    fn = AdaptiveMaxPool3dOp(_Windows(x.shape[2:], ((0, 0),) * 3, R))
    y = _unbatch(fn(x), was)
    return (y, _unbatch(_leaf(fn.idx), was)) if return_indices else y


# --- average pooling --------------------------------------------------------------------

class AvgPool3dOp(Function):
    """The mean of each window (times ``inv``, 1 / the divisor per output position)."""
    __slots__ = ("geo", "inv")
    name = "avg_pool3d"

    def __init__(self, geo, inv):
        self.geo, self.inv = geo, inv

    def forward(self, x):
        geo = self.geo
        xp = geo.padded(x)
        ks = geo.positions()
        s = xp[geo.spot(next(ks))].copy()
        for pos in ks:
            s += xp[geo.spot(pos)]
        s *= self.inv.astype(s.dtype, copy=False)
        return s

    def backward(self, xp, g, out, x):
        return _apply(xp, _AvgSpreadOp(self.geo, self.inv), g)


class _AvgSpreadOp(AvgPool3dOp):
    """Average pooling's backward (linear in g); its own backward is average pooling."""
    __slots__ = ()
    name = "avg_pool3d_backward"

    def forward(self, g):
        geo = self.geo
        gi = g * self.inv.astype(g.dtype, copy=False)
        xp = np.zeros(g.shape[:2] + geo.padded_size(), dtype=gi.dtype)
        for pos in geo.positions():
            xp[geo.spot(pos)] += gi
        return np.ascontiguousarray(xp[geo.inner()])

    def backward(self, xp, h, out, g):
        return _apply(xp, AvgPool3dOp(self.geo, self.inv), h)


def _avg_inv(op, geo, p, count_include_pad, divisor_override):
    """1 / the number of values each output averages (PyTorch's rule), shape ``geo.out``."""
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{op}: divisor_override must not be 0")
        return np.full(geo.out, 1.0 / divisor_override)
    inv = np.ones(())
    for n, o, k, s, pp in zip(geo.size, geo.out, geo.k, geo.stride, p):
        start = np.arange(o) * s - pp
        end = np.minimum(start + k, n + pp)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        inv = np.multiply.outer(inv, 1.0 / (end - start))
    return inv


@op(AvgPool3dOp, export=False)
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """The mean of each kD x kH x kW window of ``input`` (N, C, D, H, W) (or (C, D, H,
    W)), PyTorch's arguments: zero padding counts in the mean unless
    ``count_include_pad=False``; ``divisor_override`` replaces the window size."""
    op = "avg_pool3d"
    x, was = _batched(op, _as_tensor(input, op), 3)
    geo, p = _pool_geo(op, 3, x, kernel_size, stride, padding, 1, ceil_mode)
    inv = _avg_inv(op, geo, p, count_include_pad, divisor_override)
    return _unbatch(AvgPool3dOp(geo, inv)(x), was)


class AdaptiveAvgPool3dOp(_Separable3Op):
    __slots__ = ()
    name = "adaptive_avg_pool3d"


@op(AdaptiveAvgPool3dOp, export=False)
def adaptive_avg_pool3d(input, output_size):  # noqa: A002
    """Average pooling of (N, C, D, H, W) (or (C, D, H, W)) to ``output_size``
    (od, oh, ow) whatever the input's size: one averaging matrix per axis, PyTorch's
    windows; ``output_size=1`` is global average pooling."""
    from ._conv import _mean_matrix
    op = "adaptive_avg_pool3d"
    x, was = _batched(op, _as_tensor(input, op), 3)
    out = _adaptive_size(op, output_size, x)
    if 0 in out:
        return _unbatch(_empty_pool(op, x, out), was)
    mats = tuple(_mean_matrix(n, o) for n, o in zip(x.shape[2:], out))
    return _unbatch(AdaptiveAvgPool3dOp(mats)(x), was)


# --- power-average pooling (composed) ---------------------------------------------------

def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):  # noqa: A002
    """(sum of x ** p over each window) ** (1 / p), as PyTorch computes it: the average
    pool of x ** p times the window size, its sign kept, to the power 1 / p."""
    from ._conv import avg_pool1d, avg_pool2d
    op = f"lp_pool{nd}d"
    x = _as_tensor(input, op)
    if not isinstance(norm_type, numbers.Real) or isinstance(norm_type, bool) or \
            norm_type == 0:
        raise ValueError(f"{op}: norm_type must be a non-zero number, got {norm_type!r}")
    if x.ndim not in (nd + 1, nd + 2):
        raise _rank_error(op, x, nd)
    k = _tuple(kernel_size, nd, op, "kernel_size")
    pool = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[nd]
    out = pool(x ** float(norm_type), k, stride, 0, ceil_mode)     # unbatched too
    out = (out.sign() * out.abs().relu()) * float(np.prod(k))
    return out ** (1.0 / float(norm_type))


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling of (N, C, L): (sum over each window of x ** norm_type) **
    (1 / norm_type); norm_type 1 is sum pooling, large values approach max pooling."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling of (N, C, H, W) over kH x kW windows (see :func:`lp_pool1d`)."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling of (N, C, D, H, W) over kD x kH x kW windows (see
    :func:`lp_pool1d`)."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
