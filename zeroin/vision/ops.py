"""torchvision's ``ops`` for detection: ``box_area``, ``box_iou``, ``generalized_box_iou``,
``box_convert``, ``clip_boxes_to_image``, ``remove_small_boxes``, ``nms``, ``batched_nms``,
``sigmoid_focal_loss``, ``roi_pool`` / ``RoIPool`` and ``roi_align`` / ``RoIAlign``, with
torchvision's semantics (boxes as (x1, y1, x2, y2); ``nms`` keeps a box unless its IoU with a
kept, higher-scoring box is above the threshold; the RoI kernels' rounding, bins and
bilinear sampling as torchvision's CPU kernels). The box functions and the RoI pools are
differentiable (written on zeroin's ops); ``nms`` returns int64 indices. The layers the
models share are here too, under torchvision's names: ``Conv2dNormActivation``,
``SqueezeExcitation``, ``StochasticDepth``, ``Permute``, ``MLP``.

>>> import zeroin
>>> from zeroin.vision.ops import box_iou
>>> box_iou(zeroin.tensor([[0., 0, 2, 2]]), zeroin.tensor([[1., 1, 3, 3]]))
tensor([[0.14285714]])
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn, stack, tensor, where, zeros
from .._tensor import Tensor
from ._convnext import Permute
from ._efficientnet import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._swin import MLP

__all__ = ["box_area", "box_iou", "generalized_box_iou", "box_convert", "clip_boxes_to_image",
           "remove_small_boxes", "nms", "batched_nms", "sigmoid_focal_loss", "roi_pool",
           "roi_align", "RoIPool", "RoIAlign", "Conv2dNormActivation", "SqueezeExcitation",
           "StochasticDepth", "Permute", "MLP"]


def _boxes(boxes, op, name="boxes"):
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{op}: {name} should be a tensor (N, 4), got {type(boxes).__name__}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{op}: {name} should have shape (N, 4) as (x1, y1, x2, y2), got "
                         f"{tuple(boxes.shape)}")
    return boxes


def box_area(boxes):
    """The areas (N,) of boxes (N, 4) given as (x1, y1, x2, y2)."""
    _boxes(boxes, "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1, boxes2):
    """Pairwise intersection over union (N, M) of boxes1 (N, 4) and boxes2 (M, 4), both
    (x1, y1, x2, y2)."""
    inter, union = _inter_union(boxes1, boxes2, "box_iou")
    return inter / union


def _inter_union(boxes1, boxes2, op):
    """Pairwise intersection and union areas (N, M) of boxes1 (N, 4) and boxes2 (M, 4)."""
    _boxes(boxes1, op, "boxes1")
    _boxes(boxes2, op, "boxes2")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = boxes1[:, None, :2].maximum(boxes2[:, :2])
    rb = boxes1[:, None, 2:].minimum(boxes2[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter, area1[:, None] + area2 - inter


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalized IoU (N, M) (DETR's matching cost): the IoU less the part of the
    smallest box enclosing both that neither covers, in [-1, 1]; boxes (x1, y1, x2, y2)."""
    inter, union = _inter_union(boxes1, boxes2, "generalized_box_iou")
    lti = boxes1[:, None, :2].minimum(boxes2[:, :2])
    rbi = boxes1[:, None, 2:].maximum(boxes2[:, 2:])
    whi = (rbi - lti).clamp(min=0)
    areai = whi[:, :, 0] * whi[:, :, 1]
    return inter / union - (areai - union) / areai


def clip_boxes_to_image(boxes, size):
    """Boxes (..., 4) (x1, y1, x2, y2) clipped to an image of ``size`` (height, width)."""
    if not isinstance(boxes, Tensor) or boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"clip_boxes_to_image: boxes should be a tensor (..., 4), got "
                         f"{getattr(boxes, 'shape', type(boxes).__name__)}")
    height, width = size
    boxes_x = boxes[..., 0::2].clamp(min=0, max=width)
    boxes_y = boxes[..., 1::2].clamp(min=0, max=height)
    return stack((boxes_x, boxes_y), dim=boxes.ndim).reshape(boxes.shape)


def remove_small_boxes(boxes, min_size):
    """The indices (int64) of the boxes (N, 4) whose width and height are both at least
    ``min_size``."""
    _boxes(boxes, "remove_small_boxes")
    ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return where((ws >= min_size) & (hs >= min_size))[0]


_FORMATS = ("xyxy", "xywh", "cxcywh")


def box_convert(boxes, in_fmt, out_fmt):
    """Boxes (..., 4) from one format to another: 'xyxy' (corners), 'xywh' (upper-left
    corner, width, height) or 'cxcywh' (centre, width, height)."""
    if in_fmt not in _FORMATS or out_fmt not in _FORMATS:
        raise ValueError(f"box_convert: unsupported formats in_fmt={in_fmt!r}, "
                         f"out_fmt={out_fmt!r}; use one of {_FORMATS}")
    if not isinstance(boxes, Tensor) or boxes.ndim < 1 or boxes.shape[-1] != 4:
        raise ValueError(f"box_convert: boxes should be a tensor (..., 4), got "
                         f"{getattr(boxes, 'shape', type(boxes).__name__)}")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        c, d = a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        c, d = c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return stack((a, b, c, d), dim=-1)


def nms(boxes, scores, iou_threshold):
    """Non-maximum suppression: the indices (int64) of the boxes kept, by decreasing score;
    a box is dropped when its IoU with a kept box of higher score is above
    ``iou_threshold``. As torchvision's kernel: the IoU in the boxes' dtype (float32 boxes
    give float32 IoUs) compared with the threshold as a double, and two empty boxes (IoU
    0 / 0) do not suppress each other."""
    _boxes(boxes, "nms")
    if not isinstance(scores, Tensor) or tuple(scores.shape) != (boxes.shape[0],):
        raise ValueError(f"nms: scores should be a tensor ({boxes.shape[0]},), one per box, "
                         f"got {getattr(scores, 'shape', type(scores).__name__)}")
    b = _box_array(boxes)
    order = np.argsort(-np.asarray(scores.detach().numpy()), kind="stable")
    areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        wh = np.clip(np.minimum(b[i, 2:], b[rest, 2:]) - np.maximum(b[i, :2], b[rest, :2]),
                     0, None)
        inter = wh[:, 0] * wh[:, 1]
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = (inter / (areas[i] + areas[rest] - inter)).astype(np.float64)
        order = rest[~(iou > iou_threshold)]
    return tensor(np.asarray(keep, dtype=np.int64))


def _box_array(boxes):
    """The boxes' array in the dtype torchvision's kernels compute in (float32 stays
    float32; other dtypes become float64)."""
    b = boxes.detach().numpy()
    return b if b.dtype in (np.float32, np.float64) else b.astype(np.float64)


def batched_nms(boxes, scores, idxs, iou_threshold):
    """``nms`` within each category ``idxs`` (N,) (boxes of different categories never
    suppress each other): indices (int64) by decreasing score. As torchvision on the CPU:
    up to 1000 boxes, one ``nms`` on the boxes shifted apart by category (the offsets in
    the boxes' dtype); above, ``nms`` per category."""
    _boxes(boxes, "batched_nms")
    if boxes.shape[0] == 0:
        return tensor(np.zeros(0, np.int64))
    b, cats = _box_array(boxes), np.asarray(idxs.detach().numpy())
    if b.size <= 4000:
        offsets = cats.astype(b.dtype) * (b.max() + b.dtype.type(1))
        return nms(tensor(b + offsets[:, None]), scores, iou_threshold)
    s = np.asarray(scores.detach().numpy())
    keep = np.zeros(len(b), bool)
    for c in np.unique(cats):
        where_c = np.flatnonzero(cats == c)
        keep[where_c[nms(tensor(b[where_c]), tensor(s[where_c]), iou_threshold).numpy()]] = True
    kept = np.flatnonzero(keep)
    return tensor(kept[np.argsort(-s[kept], kind="stable")].astype(np.int64))


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
    """RetinaNet's focal loss (torchvision's formula): binary cross-entropy on the logits
    ``inputs``, scaled by ``(1 - p_t) ** gamma`` (easy examples count less) and, when
    ``alpha >= 0``, by ``alpha`` for positives and ``1 - alpha`` for negatives; ``targets``
    are 0 / 1 floats of the same shape. ``reduction``: 'none', 'mean' or 'sum'."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"sigmoid_focal_loss: invalid value for reduction: {reduction!r}; "
                         f"supported reduction modes: 'none', 'mean', 'sum'")
    if not isinstance(inputs, Tensor) or not isinstance(targets, Tensor) \
            or tuple(inputs.shape) != tuple(targets.shape):
        raise ValueError(f"sigmoid_focal_loss: inputs and targets should be tensors of one "
                         f"shape (one 0/1 target per logit), got "
                         f"{getattr(inputs, 'shape', type(inputs).__name__)} and "
                         f"{getattr(targets, 'shape', type(targets).__name__)}")
    p = inputs.sigmoid()
    ce_loss = nn.functional.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _rois(boxes, op):
    """Boxes as one array (K, 5) of (batch index, x1, y1, x2, y2): torchvision takes that or
    a list of (L, 4) tensors, one per image."""
    if isinstance(boxes, (list, tuple)):
        parts = [np.concatenate([np.full((len(b), 1), i), _boxes(b, op).detach().numpy()], 1)
                 for i, b in enumerate(boxes)]
        return np.concatenate(parts) if parts else np.zeros((0, 5))
    if not isinstance(boxes, Tensor) or boxes.ndim != 2 or boxes.shape[1] != 5:
        raise ValueError(f"{op}: boxes should be a tensor (K, 5) of (batch index, x1, y1, x2, "
                         f"y2) or a list of (L, 4) tensors, one per image; got "
                         f"{getattr(boxes, 'shape', type(boxes).__name__)}")
    return boxes.detach().numpy()


def _pair(output_size, op):
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"{op}: output_size should be an int or (height, width) >= 1, got "
                         f"{output_size!r}")
    return size


def _checked(input, op):  # noqa: A002 (torchvision's name)
    if not isinstance(input, Tensor) or input.ndim != 4:
        raise ValueError(f"{op}: input should be a tensor (N, C, H, W), got "
                         f"{getattr(input, 'shape', type(input).__name__)}")


def _round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def roi_pool(input, boxes, output_size, spatial_scale=1.0):  # noqa: A002
    """Max over each of output_size bins of each region (K, C, h, w), torchvision's RoI
    pooling: the box scaled by ``spatial_scale`` and rounded to whole pixels, bins of
    floor / ceil edges, 0 for an empty bin; the gradient goes to each bin's maximum."""
    _checked(input, "roi_pool")
    ph, pw = _pair(output_size, "roi_pool")
    rois = _rois(boxes, "roi_pool")
    _, c, height, width = input.shape
    dt = input.detach().numpy().dtype.type
    index = np.zeros((len(rois), c, ph, pw), np.int64)
    full = np.zeros((len(rois), 1, ph, pw), bool)
    x = input.detach().numpy()
    for k, (b, *box) in enumerate(rois):
        x1, y1, x2, y2 = _round_half_away(np.asarray(box, dt) * dt(spatial_scale)).astype(int)
        bin_h = dt(max(y2 - y1 + 1, 1)) / dt(ph)
        bin_w = dt(max(x2 - x1 + 1, 1)) / dt(pw)
        for i in range(ph):
            hs = min(max(int(math.floor(dt(i) * bin_h)) + y1, 0), height)
            he = min(max(int(math.ceil(dt(i + 1) * bin_h)) + y1, 0), height)
            for j in range(pw):
                ws = min(max(int(math.floor(dt(j) * bin_w)) + x1, 0), width)
                we = min(max(int(math.ceil(dt(j + 1) * bin_w)) + x1, 0), width)
                if he <= hs or we <= ws:
                    continue
                region = x[int(b), :, hs:he, ws:we].reshape(c, -1)
                r, q = np.divmod(region.argmax(1), we - ws)
                index[k, :, i, j] = ((int(b) * c + np.arange(c)) * height + hs + r) * width + ws + q
                full[k, 0, i, j] = True
    picked = input.reshape(-1)[tensor(index)]
    return where(tensor(full), picked, zeros((), dtype=input.dtype))


def _bilinear(y, x, height, width):
    """torchvision's roi_align sampling: for points (y, x) the four neighbours' flat indices
    and weights (P, 4); points beyond a pixel outside the map weigh nothing."""
    out = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
    y, x = np.maximum(y, 0), np.maximum(x, 0)
    y_low, x_low = y.astype(np.int64), x.astype(np.int64)
    top, right = y_low >= height - 1, x_low >= width - 1
    y_low, x_low = np.where(top, height - 1, y_low), np.where(right, width - 1, x_low)
    y, x = np.where(top, y_low, y), np.where(right, x_low, x)
    y_high, x_high = np.where(top, y_low, y_low + 1), np.where(right, x_low, x_low + 1)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1 - ly, 1 - lx
    idx = np.stack([y_low * width + x_low, y_low * width + x_high,
                    y_high * width + x_low, y_high * width + x_high], -1)
    w = np.stack([hy * hx, hy * lx, ly * hx, ly * lx], -1)
    w[out] = 0
    idx[out] = 0
    return idx, w


def roi_align(input, boxes, output_size, spatial_scale=1.0, sampling_ratio=-1,  # noqa: A002
              aligned=False):
    """Each region's bins (K, C, h, w) as the mean of bilinear samples, torchvision's RoI
    Align: a grid of ``sampling_ratio`` x ``sampling_ratio`` points per bin (ceil(box / bins)
    when -1); ``aligned=True`` shifts the box by half a pixel. Differentiable in ``input``."""
    _checked(input, "roi_align")
    ph, pw = _pair(output_size, "roi_align")
    rois = _rois(boxes, "roi_align")
    n, c, height, width = input.shape
    dt = input.detach().numpy().dtype.type
    offset = dt(0.5 if aligned else 0.0)
    flat = input.reshape(n, c, height * width)
    outs = []
    for b, *box in rois:
        x1, y1, x2, y2 = np.asarray(box, dt) * dt(spatial_scale) - offset
        rh, rw = y2 - y1, x2 - x1
        if not aligned:
            rh, rw = max(rh, dt(1)), max(rw, dt(1))
        bin_h, bin_w = rh / dt(ph), rw / dt(pw)
        gh = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rh / dt(ph)))
        gw = sampling_ratio if sampling_ratio > 0 else int(math.ceil(rw / dt(pw)))
        iy = (np.arange(gh, dtype=dt) + dt(0.5)) * bin_h / dt(gh)
        ix = (np.arange(gw, dtype=dt) + dt(0.5)) * bin_w / dt(gw)
        y = y1 + np.arange(ph, dtype=dt)[:, None] * bin_h + iy         # (ph, gh)
        x = x1 + np.arange(pw, dtype=dt)[:, None] * bin_w + ix         # (pw, gw)
        yy = np.broadcast_to(y[:, None, :, None], (ph, pw, gh, gw))
        xx = np.broadcast_to(x[None, :, None, :], (ph, pw, gh, gw))
        idx, w = _bilinear(yy.reshape(-1), xx.reshape(-1), height, width)
        w = (w / dt(max(gh * gw, 1))).astype(dt)
        vals = flat[int(b)][:, tensor(idx.reshape(-1))]                # (C, P * 4)
        outs.append((vals * tensor(w.reshape(-1))).reshape(c, ph, pw, -1).sum(-1))
    if not outs:
        return zeros((0, c, ph, pw), dtype=input.dtype)
    return stack(outs)


class RoIPool(nn.Module):
    """``roi_pool`` as a module (torchvision's ``RoIPool(output_size, spatial_scale)``)."""

    def __init__(self, output_size, spatial_scale):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, input, rois):  # noqa: A002
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self):
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(nn.Module):
    """``roi_align`` as a module (torchvision's ``RoIAlign(output_size, spatial_scale,
    sampling_ratio, aligned=False)``)."""

    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, input, rois):  # noqa: A002
        return roi_align(input, rois, self.output_size, self.spatial_scale,
                         self.sampling_ratio, self.aligned)

    def extra_repr(self):
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")
