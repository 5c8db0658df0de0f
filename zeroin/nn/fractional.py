"""Fractional max pooling (Graham, 2014), PyTorch's: windows of ``kernel_size`` placed at
pseudo-random start positions so that the output has any size between input / kernel and
the input's. ``_random_samples`` (N, C, 2 or 3) in [0, 1) fix the starts (PyTorch's
argument; ``None`` draws them from zeroin's generator), so with PyTorch's samples the
windows, values and indices are PyTorch's.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._tensor import Tensor, _leaf
from ..errors import ShapeError
from ..random import get_rng
from .module import Module

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices",
           "FractionalMaxPool2d", "FractionalMaxPool3d"]


def _tuple(v, nd):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * nd


def _starts(sample, size, out, pool, dtype):
    """PyTorch's ``generate_intervals``: the window starts along one dimension, computed
    in the input's dtype, for samples (P,) -> (P, out)."""
    s = sample.astype(dtype)[:, None]
    seq = np.empty((s.shape[0], out), dtype=np.int64)
    if out > 1:
        alpha = dtype.type(size - pool) / dtype.type(out - 1)
        i = np.arange(out - 1, dtype=dtype)[None]
        seq[:, :-1] = ((i + s) * alpha).astype(np.int64) - (s * alpha).astype(np.int64)
    if out > 0:
        seq[:, -1] = size - pool
    return seq


def _window_argmax(vals):
    """Flat index of the maximum over the last axis: the first maximum, or the last NaN
    (PyTorch's ``val > max || isnan(val)`` scan)."""
    nan = np.isnan(vals)
    first_max = np.argmax(np.where(nan, -np.inf, vals), axis=-1)
    last_nan = vals.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    return np.where(nan.any(-1), last_nan, first_max)


def _fractional(op, nd, input, kernel_size, output_size, output_ratio, samples):  # noqa: A002
    """(values, indices) of fractional max pooling over the last ``nd`` dimensions."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim not in (nd + 1, nd + 2):
        raise ShapeError(f"{op}: expected a {nd + 1}-D or {nd + 2}-D input (N, C, "
                         f"{'D, ' if nd == 3 else ''}H, W), got shape {tuple(x.shape)}")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{op} requires specifying either an output_size or an "
                         f"output_ratio")
    spatial = tuple(x.shape[-nd:])
    if output_size is None:
        ratio = _tuple(output_ratio, nd)
        if len(ratio) != nd:
            raise ValueError(f"{op} requires output_ratio to either be a single Int or "
                             f"tuple of {nd} Ints.")
        output_size = [int(s * r) for s, r in zip(spatial, ratio)]
    out, ks = tuple(int(v) for v in _tuple(output_size, nd)), \
        tuple(int(v) for v in _tuple(kernel_size, nd))
    if len(out) != nd or len(ks) != nd:
        raise ValueError(f"{op}: kernel_size and output_size need {nd} values, got "
                         f"{kernel_size!r} and {output_size!r}")
    for s, o, k in zip(spatial, out, ks):
        if o + k - 1 > s:
            raise RuntimeError(f"{op}: pool size {k} too large relative to input size {s} "
                               f"for an output of size {o} (need output + kernel - 1 <= "
                               f"input, got input shape {tuple(x.shape)})")
    batched = x.ndim == nd + 2
    xb = x if batched else x.unsqueeze(0)
    n, c = xb.shape[:2]
    if samples is None:
        samples = get_rng().random((n, c, nd)).astype(x.dtype)
    r = np.asarray(samples.data if isinstance(samples, Tensor) else samples)
    if r.shape != (n, c, nd):
        raise RuntimeError(f"{op}: _random_samples must have shape ({n}, {c}, {nd}) (batch, "
                           f"channels, {nd}), got {r.shape}")
    # PyTorch's sample order: (W, H) in 2-D, (T, H, W) in 3-D
    order = (1, 0) if nd == 2 else (0, 1, 2)
    flat = r.reshape(n * c, nd)
    starts = [_starts(flat[:, order[d]], spatial[d], out[d], ks[d], x.dtype) for d in range(nd)]
    # every window's positions, (P, *out, *ks) per dimension, broadcast together
    grids = []
    for d in range(nd):
        s = starts[d].reshape([n * c] + [out[d] if e == d else 1 for e in range(nd)] +
                              [1] * nd)
        off = np.arange(ks[d]).reshape([1] * (1 + nd) + [ks[d] if e == d else 1
                                                         for e in range(nd)])
        grids.append(np.broadcast_to(s + off, [n * c, *out, *ks]))
    plane = xb.data.reshape((n * c,) + spatial)
    p = np.arange(n * c).reshape([n * c] + [1] * (2 * nd))
    vals = plane[(p, *grids)].reshape(n * c, *out, -1)
    best = _window_argmax(vals)
    pos = [np.take_along_axis(g.reshape(n * c, *out, -1), best[..., None], -1)[..., 0]
           for g in grids]
    index = np.ravel_multi_index(pos, spatial).reshape((n, c) + out).astype(np.int64)
    values = xb.reshape(n, c, -1).gather(2, _leaf(index.reshape(n, c, -1)))
    values = values.reshape((n, c) + out)
    if not batched:
        return values[0], _leaf(index[0])
    return values, _leaf(index)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """Fractional max pooling of (N, C, H, W) or (C, H, W): (values, indices)."""
    return _fractional("fractional_max_pool2d", 2, input, kernel_size, output_size,
                       output_ratio, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None,  # noqa: A002
                                       output_ratio=None, return_indices=False,
                                       _random_samples=None):
    """Fractional max pooling of (N, C, D, H, W) or (C, D, H, W): (values, indices)."""
    return _fractional("fractional_max_pool3d", 3, input, kernel_size, output_size,
                       output_ratio, _random_samples)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling of (N, C, H, W) or (C, H, W) to ``output_size`` (or
    ``output_ratio`` times the input's); (values, indices) with ``return_indices``."""
    out = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,  # noqa: A002
                          return_indices=False, _random_samples=None):
    """Fractional max pooling of (N, C, D, H, W) or (C, D, H, W); as
    :func:`fractional_max_pool2d`."""
    out = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]


class _FractionalMaxPool(Module):
    _nd = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        self.kernel_size = _tuple(kernel_size, nd)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = _tuple(output_size, nd) if output_size is not None else None
        self.output_ratio = _tuple(output_ratio, nd) if output_ratio is not None else None
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a "
                             f"pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(
                isinstance(r, numbers.Real) and 0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):  # noqa: A002
        f = fractional_max_pool2d if self._nd == 2 else fractional_max_pool3d
        return f(input, self.kernel_size, self.output_size, self.output_ratio,
                 self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPool):
    """Max over ``kernel_size`` windows at pseudo-random starts, (N, C, H, W) ->
    (N, C, *output_size); ``output_ratio`` in (0, 1) instead gives the size as a fraction."""
    _nd = 2


class FractionalMaxPool3d(_FractionalMaxPool):
    """:class:`FractionalMaxPool2d` over (N, C, D, H, W)."""
    _nd = 3
