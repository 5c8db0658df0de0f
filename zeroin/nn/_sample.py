"""Sampling grids (spatial transformers): ``affine_grid`` and ``grid_sample``, PyTorch's
arguments and values, composed from existing differentiable ops (no new op class), so
gradients to the input, the grid and theta, and their derivatives, come from the ops'
own rules. Exported through :mod:`zeroin.nn.functional`.

Coordinates are normalised to [-1, 1]: -1 is the left/top/front edge. With
``align_corners=True`` -1 and 1 are the centres of the corner pixels; with False (the
default) the outer edges of the corner pixels, so the grid does not depend on the
resolution.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from .._tensor import Tensor
from ..ops import where
from ..errors import ShapeError
from ._composed import _t

__all__ = ["affine_grid", "grid_sample"]

_DEFAULT_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                    "align_corners=False since 1.3.0. Please specify align_corners=True if "
                    "the old behavior is desired. See the documentation of grid_sample for "
                    "details.")


def _align(align_corners):
    if align_corners is None:
        warnings.warn(_DEFAULT_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _base(n, align):
    """Normalised coordinates of n pixel centres along one axis."""
    if n <= 1:
        return np.zeros(n)
    r = np.linspace(-1.0, 1.0, n)
    return r if align else r * ((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid of a batch of affine maps: ``theta`` (N, 2, 3) and ``size``
    (N, C, H, W) give (N, H, W, 2), each output pixel's (x, y) in the input's normalised
    coordinates; ``theta`` (N, 3, 4) and (N, C, D, H, W) give (N, D, H, W, 3) (x, y, z).
    Feed it to :func:`grid_sample`; the gradient flows to theta."""
    op = "affine_grid"
    th = _t(theta, op)
    size = tuple(int(v) for v in size)
    if len(size) not in (4, 5):
        raise ValueError(f"{op}: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    nd = len(size) - 2
    if th.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point theta, got {th.dtype}")
    if th.ndim != 3 or th.shape[1:] != (nd, nd + 1) or th.shape[0] != size[0]:
        raise ShapeError(f"{op}: for size {size} theta must have shape ({size[0]}, {nd}, "
                         f"{nd + 1}) (one {nd} x {nd + 1} affine matrix per sample), got "
                         f"{tuple(th.shape)}")
    if min(size[2:]) < 1:
        raise ValueError(f"{op}: expected a non-empty spatial size, got {size}")
    align = _align(align_corners)
    if align and min(size[2:]) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size "
                      "grids when align_corners=True. This is not an intended use case of "
                      "affine_grid. See the documentation of affine_grid for details.",
                      UserWarning, stacklevel=2)
    axes = [_base(n, align) for n in size[2:]]            # D, H, W order
    mesh = np.meshgrid(*axes, indexing="ij")
    cols = [m.reshape(-1) for m in reversed(mesh)]        # x (W) first, as PyTorch
    base = np.stack(cols + [np.ones_like(cols[0])], axis=1).astype(th.dtype)
    grid = Tensor(base) @ th.transpose(1, 2)              # (N, P, nd)
    return grid.reshape((size[0],) + size[2:] + (nd,))


def _unnormalise(c, n, align):
    """Normalised [-1, 1] -> pixel coordinates along an axis of n pixels."""
    return (c + 1) * ((n - 1) / 2) if align else ((c + 1) * n - 1) / 2


def _clip(c, n):
    """``c`` clipped into [0, n - 1]; as PyTorch, its gradient is 1 strictly inside only
    (0 at either bound itself)."""
    inside = (c.data > 0) & (c.data < n - 1)
    return where(inside, c, np.clip(c.data, 0, n - 1).astype(c.dtype))


def _reflect(c, n, align):
    """Coordinates reflected at the borders (align: the corner centres; else the
    edges) until they fall inside, then clipped into [0, n - 1]."""
    low, high = (0, 2 * (n - 1)) if align else (-1, 2 * n - 1)
    if low == high:
        return c * 0
    mid, span = low / 2, (high - low) / 2
    d = c - mid
    a = d * np.where(d.data < 0, -1.0, 1.0).astype(c.dtype)      # |d|, slope +1 at 0
    flips = np.floor(a.data / span)
    even = flips % 2 == 0
    sign = np.where(even, 1.0, -1.0).astype(c.dtype)
    shift = np.where(even, mid - flips * span, span + mid + flips * span).astype(c.dtype)
    return _clip(a * sign + shift, n)


def _pad_index(ix, n, padding_mode, align):
    """Integer positions along an axis of n pixels through the padding: 'border' clips,
    'reflection' reflects then clips, 'zeros' leaves them (off the input reads 0)."""
    if padding_mode == "border":
        return np.clip(ix, 0, n - 1)
    if padding_mode == "reflection":
        return _reflect(Tensor(ix.astype(np.float64)), n, align).data.astype(np.int64)
    return ix


def _bicubic(coords, sizes, padding_mode, align, at):
    """The sum over the 4 x 4 taps around each point of value * weight, Keys' cubic
    weights (a = -0.75) of the fractions carrying the grid's gradient. As in PyTorch the
    padding applies to each tap's index, not to the point (a point left of the edge still
    takes its taps from floor(x) - 1 to floor(x) + 2)."""
    from ._conv import _cubic_weights
    with np.errstate(invalid="ignore"):
        lows = [np.nan_to_num(np.floor(ci.data), nan=-2).astype(np.int64) for ci in coords]
    weights = [_cubic_weights(ci - lo.astype(ci.dtype)) for ci, lo in zip(coords, lows)]
    y = None
    for ky, kx in itertools.product(range(4), repeat=2):
        idx = [_pad_index(lo - 1 + k, n, padding_mode, align)
               for lo, k, n in zip(lows, (ky, kx), sizes)]
        v, valid = at(idx)
        term = v * ((weights[0][ky] * weights[1][kx]).unsqueeze(1) * valid)
        y = term if y is None else y + term
    return y


def _sample_check(op, x, g, mode, padding_mode):
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{op}: mode must be 'bilinear', 'nearest' or 'bicubic', got "
                         f"{mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{op}: padding_mode must be 'zeros', 'border' or 'reflection', "
                         f"got {padding_mode!r}")
    if x.ndim not in (4, 5):
        raise ShapeError(f"{op}: expected a 4-D input (N, C, H, W) or a 5-D input (N, C, D, "
                         f"H, W), got shape {tuple(x.shape)}")
    if mode == "bicubic" and x.ndim != 4:
        raise ShapeError(f"{op}: mode 'bicubic' needs a 4-D input (N, C, H, W), got shape "
                         f"{tuple(x.shape)}; for a 5-D input use 'bilinear' (trilinear) or "
                         f"'nearest'")
    nd = x.ndim - 2
    want = "(N, H_out, W_out, 2)" if nd == 2 else "(N, D_out, H_out, W_out, 3)"
    if g.ndim != x.ndim or g.shape[-1] != nd or g.shape[0] != x.shape[0]:
        raise ShapeError(f"{op}: for input {tuple(x.shape)} the grid must be {want} with "
                         f"N={x.shape[0]}, got shape {tuple(g.shape)}")
    if x.dtype.kind != "f" or g.dtype != x.dtype:
        raise TypeError(f"{op}: expected floating-point input and grid of one dtype, got "
                        f"{x.dtype} and {g.dtype}; convert one with .to(...)")
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{op}: expected a non-empty input, got shape {tuple(x.shape)}")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):  # noqa: A002
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, H_out, W_out, 2), each entry an (x, y)
    in normalised coordinates (5-D: (N, C, D, H, W) at (N, D_out, H_out, W_out, 3)):
    output (N, C, H_out, W_out). ``mode`` 'bilinear', 'nearest' (ties to even, as
    PyTorch) or 'bicubic' (4-D only); ``padding_mode`` says what lies outside: 'zeros',
    'border' (the edge pixels) or 'reflection'. Gradients flow to the input and (bilinear,
    bicubic) the grid."""
    op = "grid_sample"
    x, g = _t(input, op), _t(grid, op)
    _sample_check(op, x, g, mode, padding_mode)
    align = _align(align_corners)
    n, c, sizes = x.shape[0], x.shape[1], tuple(x.shape[2:])
    nd, out = len(sizes), tuple(g.shape[1:-1])
    gf = g.reshape(n, -1, nd)
    coords = []                                   # per input axis (D,) H, W
    for i, size in enumerate(sizes):
        ci = _unnormalise(gf[:, :, nd - 1 - i], size, align)
        if padding_mode == "border" and mode != "bicubic":      # bicubic: per tap
            ci = _clip(ci, size)
        elif padding_mode == "reflection" and mode != "bicubic":
            ci = _reflect(ci, size, align)
        coords.append(ci)
    xf = x.reshape(n, c, -1)
    strides = [int(np.prod(sizes[i + 1:])) for i in range(nd)]
    rows, chans = np.arange(n)[:, None, None], np.arange(c)[None, :, None]

    def at(idx):
        """Input values at integer positions ``idx`` (one (N, P) array per axis), 0 off
        the input."""
        valid = np.ones(idx[0].shape, dtype=bool)
        flat = 0
        for ix, size, st in zip(idx, sizes, strides):
            valid &= (ix >= 0) & (ix < size)
            flat = flat + np.clip(ix, 0, size - 1) * st
        v = xf[rows, chans, flat[:, None, :]]
        return v, valid[:, None, :].astype(x.dtype)

    if mode == "bicubic":
        return _bicubic(coords, sizes, padding_mode, align, at).reshape((n, c) + out)
    with np.errstate(invalid="ignore"):
        if mode == "nearest":
            idx = [np.nan_to_num(np.rint(ci.data), nan=-1).astype(np.int64) for ci in coords]
            v, valid = at(idx)
            # the grid's gradient is zero (PyTorch gives zeros, not None): a link through
            # round, whose gradient is 0, with the value 0 (also where a coordinate is inf)
            link = sum(where(np.isfinite(ci.data), ci.round(), 0.0) * 0.0 for ci in coords)
            return (v * valid + link.unsqueeze(1)).reshape((n, c) + out)
        lows = [np.nan_to_num(np.floor(ci.data), nan=-2).astype(np.int64) for ci in coords]
    fracs = [ci - lo.astype(x.dtype) for ci, lo in zip(coords, lows)]
    y = None
    for bits in itertools.product((0, 1), repeat=nd):
        w = None
        for b, f in zip(bits, fracs):
            wi = f if b else 1 - f
            w = wi if w is None else w * wi
        v, valid = at([lo + b for lo, b in zip(lows, bits)])
        term = v * (w.unsqueeze(1) * valid)
        y = term if y is None else y + term
    return y.reshape((n, c) + out)
