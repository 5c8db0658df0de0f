"""torchvision's ``utils``: ``make_grid`` (a batch of images tiled into one image),
``save_image`` (that grid written as a PNG / JPEG ... file with Pillow, atomically) and
``draw_bounding_boxes`` / ``draw_segmentation_masks`` / ``draw_keypoints`` (drawn on a
uint8 or [0, 1] float image (C, H, W) with Pillow's ImageDraw, as torchvision) and
``flow_to_image`` (an optical flow coloured by the Middlebury colour wheel).

>>> import zeroin
>>> from zeroin.vision.utils import make_grid
>>> make_grid(zeroin.ones(5, 3, 4, 4), nrow=4, padding=1).shape   # 4 columns, 2 rows
zeroin.Size([3, 11, 21])
"""
from __future__ import annotations

import math
import numbers
import os
import warnings

import numpy as np

from .._tensor import Tensor

__all__ = ["make_grid", "save_image", "draw_bounding_boxes", "draw_segmentation_masks",
           "draw_keypoints", "flow_to_image"]


def _batch(tensor):
    """(N, C, H, W) as a NumPy array, torchvision's shapes: a list is stacked, (H, W) and
    (C, H, W) are one image, one channel is repeated to three."""
    if isinstance(tensor, (list, tuple)):
        if not tensor or not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError("make_grid: a list should hold tensors (C, H, W) of one shape")
        shapes = {tuple(t.shape) for t in tensor}
        if len(shapes) > 1:
            raise ValueError(f"make_grid: the images' shapes differ: {sorted(shapes)}; resize "
                             f"or crop them to one shape first")
        arr = np.stack([np.asarray(t.data) for t in tensor])
    elif isinstance(tensor, Tensor):
        arr = np.asarray(tensor.data)
    else:
        raise TypeError(f"make_grid: tensor should be a tensor or a list of tensors, got "
                        f"{type(tensor).__name__}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = np.concatenate([arr] * 3) if arr.shape[0] == 1 else arr
        arr = arr[None]
    if arr.ndim != 4:
        raise ValueError(f"make_grid: expected (N, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{arr.shape}")
    return np.concatenate([arr] * 3, axis=1) if arr.shape[1] == 1 else arr


def _normalized(arr, value_range, scale_each):
    if value_range is not None and not (isinstance(value_range, tuple) and
                                        len(value_range) == 2):
        raise TypeError(f"make_grid: value_range has to be a tuple (min, max), got "
                        f"{value_range!r}")
    arr = arr.astype(np.result_type(arr.dtype, np.float32), copy=True)

    def norm(a):
        lo, hi = value_range if value_range is not None else (float(a.min()), float(a.max()))
        np.clip(a, lo, hi, out=a)
        a -= lo
        a /= max(hi - lo, 1e-5)

    for part in (arr if scale_each else [arr]):
        norm(part)
    return arr


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """The images of ``tensor`` ((N, C, H, W) or a list of (C, H, W)) tiled ``nrow`` to a
    row with ``padding`` pixels of ``pad_value`` between them, as a tensor (C, H', W').
    ``normalize=True`` maps ``value_range`` (default: the min and max, per image with
    ``scale_each``) to [0, 1]. One channel is repeated to three, as torchvision. Not
    recorded (no gradient)."""
    for name, v in (("nrow", nrow), ("padding", padding)):
        if not isinstance(v, numbers.Integral) or v < (1 if name == "nrow" else 0):
            raise ValueError(f"make_grid: {name} must be an int >= "
                             f"{1 if name == 'nrow' else 0}, got {v!r}")
    arr = _batch(tensor)
    if normalize:
        arr = _normalized(arr, value_range, scale_each)
    if arr.shape[0] == 1:
        return Tensor(np.ascontiguousarray(arr[0]))
    n, c, h, w = arr.shape
    xmaps = min(nrow, n)
    ymaps = math.ceil(n / xmaps)
    hp, wp = h + padding, w + padding
    grid = np.full((c, hp * ymaps + padding, wp * xmaps + padding), pad_value, arr.dtype)
    for k in range(n):
        y, x = divmod(k, xmaps)
        grid[:, y * hp + padding:(y + 1) * hp, x * wp + padding:(x + 1) * wp] = arr[k]
    return Tensor(grid)


def save_image(tensor, fp, format=None, **kwargs):  # noqa: A002 (torchvision's name)
    """``make_grid(tensor, **kwargs)`` saved as an image file: values in [0, 1] scaled to
    uint8 (x * 255 + 0.5, clamped), written with Pillow. A path is written atomically and
    its format read from its extension; a file object needs ``format``."""
    from PIL import Image
    grid = np.asarray(make_grid(tensor, **kwargs).data)
    arr = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8)    # torchvision's rounding
    img = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)))
    if not isinstance(fp, (str, os.PathLike)):
        if format is None:
            raise ValueError("save_image: give format= (e.g. 'PNG') when fp is a file object")
        img.save(fp, format=format)
        return
    if format is None:
        ext = os.path.splitext(os.fspath(fp))[1].lower()
        format = Image.registered_extensions().get(ext)
        if format is None:
            raise ValueError(f"save_image: cannot tell the image format from {fp!r}'s "
                             f"extension {ext!r}; use .png / .jpg ..., or give format=")
    from .._io import atomic_open
    with atomic_open(fp, "wb", op="save_image") as f:
        img.save(f, format=format)


# ---- drawing: torchvision's draw_bounding_boxes / draw_segmentation_masks / draw_keypoints --

def _checked_image(image, op, channels):
    """torchvision's checks of the image to draw on: a tensor (C, H, W), uint8 or float,
    with C in ``channels``; the pixels as a NumPy array."""
    if not isinstance(image, Tensor):
        raise TypeError(f"{op}: image should be a tensor (C, H, W), got "
                        f"{type(image).__name__}; a NumPy image (H, W, C) becomes one with "
                        f"vision.transforms.v2.functional.to_image(arr)")
    arr = np.asarray(image.data)
    if not (arr.dtype == np.uint8 or arr.dtype.kind == "f"):
        raise ValueError(f"{op}: the image dtype must be uint8 or float (values in [0, 1]), "
                         f"got {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"{op}: pass individual images (C, H, W), not batches: got shape "
                         f"{arr.shape}; draw on image[i] for each i")
    if arr.shape[0] not in channels:
        what = ("only grayscale and RGB images are supported" if 1 in channels else
                "pass an RGB image; other image formats are not supported")
        raise ValueError(f"{op}: {what}, got {arr.shape[0]} channels (shape {arr.shape})")
    return arr


def _to_uint8(arr, op):
    """torchvision's v2 ``to_dtype(uint8, scale=True)`` of a float image (x * 255.999,
    truncated); a float image outside [0, 1] is refused (it would wrap around)."""
    if arr.dtype == np.uint8:
        return arr
    if arr.size and not (arr.min() >= 0 and arr.max() <= 1):
        raise ValueError(f"{op}: a float image must hold values in [0, 1], got values in "
                         f"[{arr.min():.4g}, {arr.max():.4g}]; clamp(0, 1) first or undo "
                         f"Normalize")
    return (arr * arr.dtype.type(255 + 1.0 - 1e-3)).astype(np.uint8)


def _from_uint8(out, dtype):
    """Back to the image's dtype: v2's ``to_dtype(float, scale=True)``, x * (1 / 255)."""
    if dtype == np.uint8:
        return Tensor(np.ascontiguousarray(out))
    return Tensor(out.astype(dtype) * dtype.type(1.0 / 255))


def _palette(n):
    """torchvision's default colours: (i * [2**25 - 1, 2**15 - 1, 2**21 - 1]) % 255."""
    return [tuple(i * p % 255 for p in (2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1))
            for i in range(n)]


def _parse_colors(colors, n, op, floating=False):
    """torchvision's ``_parse_colors``: None (the palette), one colour (a name, '#RRGGBB' or
    an RGB tuple) for all, or a list of at least ``n``; RGB tuples, in [0, 1] if
    ``floating``."""
    from PIL import ImageColor
    if colors is None:
        colors = _palette(n)
    elif isinstance(colors, list):
        if len(colors) < n:
            raise ValueError(f"{op}: number of colors must be equal or larger than the number "
                             f"of objects, but got {len(colors)} < {n}; give one per object "
                             f"or one colour for all")
    elif not isinstance(colors, (tuple, str)):
        raise ValueError(f"{op}: colors must be a tuple or a string, or a list thereof, but "
                         f"got {colors!r}")
    elif isinstance(colors, tuple) and len(colors) != 3:
        raise ValueError(f"{op}: if passed as tuple, colors should be an RGB triplet, but got "
                         f"{colors!r}; several colours go in a list")
    else:
        colors = [colors] * n
    colors = [ImageColor.getrgb(c) if isinstance(c, str) else c for c in colors]
    return [tuple(v / 255 for v in c) for c in colors] if floating else colors


def _numpy(x, op, name):
    if isinstance(x, Tensor):
        return np.asarray(x.data)
    if isinstance(x, (np.ndarray, list, tuple)):
        return np.asarray(x)
    raise TypeError(f"{op}: {name} should be a tensor, got {type(x).__name__}")


def _checked_boxes(boxes, op):
    b = _numpy(boxes, op, "boxes")
    if b.ndim != 2 or b.shape[1] not in (4, 8):
        raise ValueError(f"{op}: boxes should be (N, 4) (xmin, ymin, xmax, ymax) or (N, 8) "
                         f"(x1, y1, ..., x4, y4: a rotated box), got shape {b.shape}")
    if b.shape[1] == 4:
        bad = np.flatnonzero((b[:, 0] > b[:, 2]) | (b[:, 1] > b[:, 3]))
        if bad.size:
            raise ValueError(f"{op}: boxes need to be in (xmin, ymin, xmax, ymax) format; box "
                             f"{bad[0]} is {b[bad[0]].tolist()}. (x, y, w, h) boxes convert "
                             f"with boxes[:, 2:] += boxes[:, :2]")
    return b


def _dashed_line(draw, xy, fill, width, dash=5, space=5):
    """torchvision's ``_ImageDrawTV.dashed_line``: dashes of 5 pixels, 5 apart."""
    for (x1, y1), (x2, y2) in zip(xy[:-1], xy[1:]):
        left, on = math.hypot(x2 - x1, y2 - y1), True
        angle = math.atan2(y2 - y1, x2 - x1)
        while left > 0:
            step = min(left, dash if on else space)
            ex, ey = x1 + math.cos(angle) * step, y1 + math.sin(angle) * step
            if on:
                draw.line([(x1, y1), (ex, ey)], fill, width)
            left -= step
            x1, y1, on = ex, ey, not on


def _oriented_rectangle(draw, xy, fill, outline, width):
    """torchvision's rotated box: its first side dashed, the others solid, then filled."""
    _dashed_line(draw, ((xy[0], xy[1]), (xy[2], xy[3])), outline, width)
    for i in range(2, len(xy), 2):
        j = (i + 2) % len(xy)
        draw.line(((xy[i], xy[i + 1]), (xy[j], xy[j + 1])), width=width, fill=outline)
    draw.polygon(xy, fill=fill, outline=None, width=0)


def _font(font, font_size):
    from PIL import ImageFont
    if font is None:
        if font_size is not None:
            warnings.warn("draw_bounding_boxes: argument 'font_size' will be ignored since "
                          "'font' is not set", stacklevel=3)
        return ImageFont.load_default()
    return ImageFont.truetype(font=font, size=font_size or 10)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, fill=False, width=1,
                        font=None, font_size=None, label_colors=None, fill_labels=False):
    """``image`` (uint8, or float in [0, 1]; (1 or 3, H, W)) with ``boxes`` (N, 4) (xmin,
    ymin, xmax, ymax; (N, 8): rotated, first side dashed) drawn by Pillow, ``width`` pixels
    wide, in ``colors`` (default torchvision's palette); ``fill`` shades them (alpha 100 /
    255); ``labels`` are written inside the top-left corner (Pillow's default font unless
    ``font``), on a box-coloured patch with ``fill_labels``. Returns an RGB tensor of the
    image's dtype, as torchvision. Not recorded."""
    from PIL import Image, ImageDraw
    op = "draw_bounding_boxes"
    arr, b = _checked_image(image, op, (1, 3)), _checked_boxes(boxes, op)
    n = b.shape[0]
    if n == 0:
        warnings.warn(f"{op}: boxes doesn't contain any box. No box was drawn", stacklevel=2)
        return image
    if labels is None:
        labels = [None] * n
    elif len(labels) != n:
        raise ValueError(f"{op}: number of boxes ({n}) and labels ({len(labels)}) mismatch; "
                         f"give one label per box")
    colors = _parse_colors(colors, n, op)
    label_colors = (_parse_colors(label_colors or "black", n, op)
                    if label_colors or fill_labels else list(colors))
    txt_font = _font(font, font_size)
    u8 = _to_uint8(np.concatenate([arr] * 3) if arr.shape[0] == 1 else arr, op)
    img = Image.fromarray(np.ascontiguousarray(u8.transpose(1, 2, 0)))
    draw = ImageDraw.Draw(img, "RGBA") if fill else ImageDraw.Draw(img)
    for box, color, label, label_color in zip(b.astype(np.int64).tolist(), colors, labels,
                                              label_colors):
        shade = tuple(color) + (100,) if fill else None
        if len(box) > 4:
            _oriented_rectangle(draw, box, shade, color, width)
        else:
            draw.rectangle(box, width=width, outline=color, fill=shade)
        if label is not None:
            at = (box[0] + width + 1, box[1] + width + 1)
            if fill_labels:
                left, top, right, bottom = draw.textbbox(at, label, font=txt_font)
                draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), fill=color)
            draw.text(at, label, fill=label_color, font=txt_font)
    return _from_uint8(np.asarray(img).transpose(2, 0, 1), arr.dtype)


def draw_segmentation_masks(image, masks, alpha=0.8, colors=None):
    """``image`` (uint8, or float in [0, 1]; (3, H, W)) with the bool ``masks`` ((N, H, W)
    or (H, W)) blended in: ``image * (1 - alpha) + painted * alpha`` where ``painted`` has
    each mask's pixels in its colour (default torchvision's palette) and pixels under two or
    more masks black; computed in float32 for uint8 images, then truncated, as
    torchvision. Not recorded."""
    op = "draw_segmentation_masks"
    arr = _checked_image(image, op, (3,))
    m = _numpy(masks, op, "masks")
    m = m[None] if m.ndim == 2 else m
    if m.ndim != 3:
        raise ValueError(f"{op}: masks must be of shape (H, W) or (batch_size, H, W), got "
                         f"{m.shape}")
    if m.dtype != np.bool_:
        raise ValueError(f"{op}: the masks must be of dtype bool, got {m.dtype}; threshold "
                         f"them (masks > 0.5) first")
    if m.shape[-2:] != arr.shape[-2:]:
        raise ValueError(f"{op}: the image and the masks must have the same height and "
                         f"width, got image {arr.shape} and masks {m.shape}")
    if not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"{op}: alpha must be a number in [0, 1] (0: the image, 1: only the "
                         f"masks' colours), got {alpha!r}")
    if m.shape[0] == 0:
        warnings.warn(f"{op}: masks doesn't contain any mask. No mask was drawn", stacklevel=2)
        return image
    painted = arr.copy()
    for mask, color in zip(m, _parse_colors(colors, m.shape[0], op, arr.dtype.kind == "f")):
        painted[:, mask] = np.asarray(color, arr.dtype)[:, None]
    painted[:, m.sum(axis=0) > 1] = 0
    f = arr.dtype.type if arr.dtype.kind == "f" else np.float32   # torch's default dtype
    out = arr.astype(f) * f(1 - alpha) + painted.astype(f) * f(alpha)
    return Tensor(out.astype(arr.dtype))


def _checked_keypoints(keypoints, visibility, connectivity, op):
    k = _numpy(keypoints, op, "keypoints")
    if k.ndim != 3 or k.shape[-1] < 2:
        raise ValueError(f"{op}: keypoints must be of shape (num_instances, K, 2) (x, y), got "
                         f"{k.shape}")
    v = (np.ones(k.shape[:-1], bool) if visibility is None
         else _numpy(visibility, op, "visibility").astype(bool))
    if v.ndim == 3 and v.shape[-1] == 1:        # as torchvision: pred.split([2, 1], dim=-1)
        v = v[..., 0]
    if v.shape != k.shape[:-1]:
        raise ValueError(f"{op}: visibility must be of shape (num_instances, K) = "
                         f"{k.shape[:-1]}, as keypoints {k.shape}; got {v.shape}")
    for pair in connectivity or ():
        if len(pair) != 2 or not all(-k.shape[1] <= int(i) < k.shape[1] for i in pair):
            raise ValueError(f"{op}: connectivity holds pairs of keypoint indices in "
                             f"0..{k.shape[1] - 1}, got {pair!r}")
    return k, v


def draw_keypoints(image, keypoints, connectivity=None, colors=None, radius=2, width=3,
                   visibility=None):
    """``image`` (uint8, or float in [0, 1]; (3, H, W)) with each instance's visible
    ``keypoints`` ((N, K, 2), x and y) drawn as discs of ``radius`` in ``colors`` (a name,
    '#RRGGBB' or an RGB tuple; None draws no disc: Pillow's ellipse without fill, as
    torchvision's), and the ``connectivity`` pairs of visible keypoints joined by lines
    ``width`` wide (in Pillow's default ink, white, as torchvision's). ``visibility``
    (N, K) hides keypoints. Not recorded."""
    from PIL import Image, ImageDraw
    op = "draw_keypoints"
    arr = _checked_image(image, op, (3,))
    k, v = _checked_keypoints(keypoints, visibility, connectivity, op)
    if colors is not None and not isinstance(colors, str) and not (
            isinstance(colors, tuple) and len(colors) == 3):
        raise ValueError(f"{op}: colors must be a colour name, '#RRGGBB' or an RGB tuple, "
                         f"got {colors!r}")
    img = Image.fromarray(np.ascontiguousarray(_to_uint8(arr, op).transpose(1, 2, 0)))
    draw = ImageDraw.Draw(img)
    for pts, vis in zip(k.astype(np.int64).tolist(), v.tolist()):
        for (x, y, *_), seen in zip(pts, vis):
            if seen:
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colors,
                             outline=None, width=0)
        for i, j in connectivity or ():
            if vis[i] and vis[j]:
                draw.line(((pts[i][0], pts[i][1]), (pts[j][0], pts[j][1])), width=width)
    return _from_uint8(np.asarray(img).transpose(2, 0, 1), arr.dtype)


# ---- flow_to_image: torchvision's optical-flow colouring -----------------------------------

# the Middlebury colour wheel (Baker et al., ICCV 2007): hue steps from red through yellow,
# green, cyan, blue and magenta back to red; torchvision's 15, 6, 4, 11, 13, 6 steps
_WHEEL_STEPS = (15, 6, 4, 11, 13, 6)


def _colorwheel():
    """(55, 3) float32: each of the six arcs ramps one channel up or down while another
    stays at 255, in steps of floor(255 * i / n)."""
    rows = []
    # (channel held at 255, channel that moves, rising?) per arc: RY, YG, GC, CB, BM, MR
    for n, (held, moving, up) in zip(_WHEEL_STEPS, ((0, 1, True), (1, 0, False),
                                                    (1, 2, True), (2, 1, False),
                                                    (2, 0, True), (0, 2, False))):
        arc = np.zeros((n, 3), np.float32)
        ramp = np.floor(np.float32(255) * np.arange(n, dtype=np.float32) / np.float32(n))
        arc[:, held] = 255
        arc[:, moving] = ramp if up else 255 - ramp
        rows.append(arc)
    return np.concatenate(rows)


def flow_to_image(flow):
    """An optical flow as an RGB image, as torchvision's ``flow_to_image``: ``flow`` float32
    (2, H, W) or (N, 2, H, W) (the x and y displacement per pixel) gives uint8 (3, H, W) or
    (N, 3, H, W). The direction picks the hue on the Middlebury colour wheel, the length
    (over the largest in the batch) the saturation: no motion is white. float64 (zeroin's
    default; torchvision takes float32 only) is computed as its float32 copy. Not
    recorded."""
    op = "flow_to_image"
    if not isinstance(flow, Tensor):
        raise TypeError(f"{op}: flow should be a tensor (2, H, W) or (N, 2, H, W), got "
                        f"{type(flow).__name__}; wrap it with zeroin.tensor(...)")
    f = np.asarray(flow.data)
    if f.dtype not in (np.float32, np.float64):
        raise ValueError(f"{op}: flow should be of dtype float32 (torch.float) or zeroin's "
                         f"default float64, got {f.dtype}; convert it with flow.float()")
    f = f.astype(np.float32, copy=False)       # computed in float32, as torchvision's
    shape = f.shape
    f = f[None] if f.ndim == 3 else f
    if f.ndim != 4 or f.shape[1] != 2:
        raise ValueError(f"{op}: input flow should have shape (2, H, W) or (N, 2, H, W) "
                         f"(x and y displacements), got {tuple(shape)}")
    norm = np.sqrt(np.sum(f * f, axis=1))
    top = norm.max() if norm.size else np.float32(0)
    f = f / (top + np.finfo(np.float32).eps)
    wheel = _colorwheel()
    n = wheel.shape[0]
    norm = np.sqrt(np.sum(f * f, axis=1))
    angle = np.arctan2(-f[:, 1], -f[:, 0]) / np.float32(np.pi)
    fk = (angle + 1) / 2 * (n - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = np.where(k0 + 1 == n, 0, k0 + 1)
    frac = fk - k0.astype(np.float32)          # float32 throughout, as torchvision
    out = np.empty((f.shape[0], 3, *f.shape[2:]), np.uint8)
    for c in range(3):
        col = (1 - frac) * (wheel[k0, c] / 255) + frac * (wheel[k1, c] / 255)
        out[:, c] = np.floor(255 * (1 - norm * (1 - col)))
    return Tensor(out[0] if len(shape) == 3 else out)
