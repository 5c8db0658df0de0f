"""torchvision.io's image readers: ``decode_image`` / ``read_image`` give a uint8 tensor
(C, H, W) of the file's pixels, read with Pillow (imported on first use).

>>> ImageReadMode.RGB.value, ImageReadMode["GRAY"] is ImageReadMode.GRAY
(3, True)
"""
from __future__ import annotations

import enum
import os

import numpy as np

from .. import from_numpy

__all__ = ["ImageReadMode", "decode_image", "read_image", "read_file"]


class ImageReadMode(enum.Enum):
    """The channels to read: as stored (UNCHANGED), or converted to GRAY, GRAY_ALPHA, RGB,
    RGB_ALPHA (torchvision's names and values)."""
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4


_PIL_MODE = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
             ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}
# Pillow's modes kept as stored with UNCHANGED; a palette or 1-bit image is expanded, as
# libpng does for torchvision
_AS_STORED = {"L": "L", "LA": "LA", "RGB": "RGB", "RGBA": "RGBA", "1": "L", "PA": "RGBA"}


def _mode(mode, op):
    if isinstance(mode, ImageReadMode):
        return mode
    if isinstance(mode, str) and mode.upper() in ImageReadMode.__members__:
        return ImageReadMode[mode.upper()]
    raise ValueError(f"{op}: mode={mode!r} is not an ImageReadMode; use one of "
                     f"{', '.join('ImageReadMode.' + m for m in ImageReadMode.__members__)}")


def read_file(path):
    """The bytes of the file at ``path`` as a 1-D uint8 tensor (torchvision's)."""
    with open(os.fspath(path), "rb") as f:
        return from_numpy(np.frombuffer(f.read(), dtype=np.uint8).copy())


def _open(input, op):  # noqa: A002
    from PIL import Image
    if isinstance(input, (str, os.PathLike)):
        return Image.open(os.fspath(input))
    if hasattr(input, "numpy") and str(input.dtype) == "uint8" and input.ndim == 1:
        import io
        return Image.open(io.BytesIO(input.numpy().tobytes()))
    raise TypeError(f"{op}: expected a path or a 1-D uint8 tensor of the file's bytes "
                    f"(read_file(path)), got {type(input).__name__}"
                    + (f" of dtype {input.dtype}, shape {tuple(input.shape)}"
                       if hasattr(input, "dtype") else ""))


def decode_image(input, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):  # noqa: A002
    """The image (a path, or a uint8 tensor of a file's bytes) as a uint8 tensor (C, H, W):
    C is 1 for gray, 2 gray + alpha, 3 RGB, 4 RGBA, as stored or as ``mode`` asks.
    Conversions between modes are Pillow's (torchvision's decoders may round a gray level
    differently, by 1)."""
    mode = _mode(mode, "decode_image")
    with _open(input, "decode_image") as img:
        if apply_exif_orientation:
            from PIL import ImageOps
            img = ImageOps.exif_transpose(img)
        pil_mode = _PIL_MODE.get(mode)
        if pil_mode is None:
            if img.mode == "P":
                pil_mode = "RGBA" if "transparency" in img.info else "RGB"
            elif img.mode in _AS_STORED:
                pil_mode = _AS_STORED[img.mode]
            else:
                raise ValueError(f"decode_image: the image's Pillow mode {img.mode!r} has no "
                                 f"uint8 channels to keep as they are; pass "
                                 f"mode=ImageReadMode.RGB (or GRAY) to convert it")
        arr = np.asarray(img.convert(pil_mode) if img.mode != pil_mode else img)
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    return from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def read_image(path, mode=ImageReadMode.UNCHANGED, apply_exif_orientation=False):
    """The image file at ``path`` as a uint8 tensor (C, H, W) (``decode_image`` of a path)."""
    return decode_image(os.fspath(path), mode, apply_exif_orientation)
