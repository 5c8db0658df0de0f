"""torchvision's ``transforms.v2`` (the namespace its tutorials use now): the v1 transforms
under the same names, taking a whole sample, plus ``ToImage``, ``ToDtype`` and
``ToPureTensor``.

A transform is called on one image or on a sample: several arguments, or a tuple / list /
dict nesting them (``(image, label)``, ``{"image": ..., "label": ...}``); it returns the
same structure. Which items it transforms is v2's rule: every PIL image, and the first
tensor (or NumPy image) when the sample holds no PIL image; every other item (labels,
later tensors) passes through unchanged. A random transform draws its parameters once
per call: each transformed item gets the same ones. Left out: torchvision's
``tv_tensors`` (``Image``, ``BoundingBoxes``, ``Mask``; zeroin has plain tensors only),
so boxes and masks are not transformed with the image.

>>> import numpy as np, zeroin
>>> from zeroin.vision.transforms import v2
>>> t = v2.Compose([v2.ToImage(), v2.ToDtype(zeroin.float32, scale=True)])
>>> img, label = t(np.full((2, 3, 1), 255, np.uint8), 7)
>>> img.shape, img.dtype == zeroin.float32, img.max().item(), label
(zeroin.Size([1, 2, 3]), True, 1.0, 7)
"""
from __future__ import annotations

import numpy as np

from ... import transforms as _v1
from ...._tensor import Tensor
from ..functional import InterpolationMode, _is_pil
from . import functional

__all__ = ["Compose", "ToImage", "ToDtype", "ToPureTensor", "Lambda", "InterpolationMode",
           "functional", "Resize", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "CenterCrop", "RandomCrop", "Normalize", "ColorJitter",
           "RandomRotation", "Pad", "GaussianBlur", "RandomErasing", "TrivialAugmentWide",
           "Grayscale", "RandomApply", "RandomChoice", "RandomOrder", "ToPILImage"]


def _flatten(obj, out):
    if isinstance(obj, (tuple, list)):
        for v in obj:
            _flatten(v, out)
    elif isinstance(obj, dict):
        for v in obj.values():
            _flatten(v, out)
    else:
        out.append(obj)
    return out


def _unflatten(obj, leaves):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unflatten(v, leaves) for v in obj)
    if isinstance(obj, dict):
        return {k: _unflatten(v, leaves) for k, v in obj.items()}
    return next(leaves)


def _is_image(x):
    return _is_pil(x) or isinstance(x, (Tensor, np.ndarray))


def _needs_transform(leaves, types=None):
    """v2's rule: PIL images always; the first tensor / NumPy image only when the sample
    has no PIL image; ``types`` (Lambda's) widens it to other leaves."""
    first_tensor = not any(_is_pil(x) for x in leaves)
    needs = []
    for x in leaves:
        if isinstance(x, (Tensor, np.ndarray)):
            needs.append(first_tensor and (types is None or isinstance(x, types)))
            first_tensor = False
        elif _is_pil(x):
            needs.append(types is None or isinstance(x, types))
        else:
            needs.append(types is not None and isinstance(x, types))
    return needs


def _sample(inputs):
    if not inputs:
        raise TypeError("a v2 transform needs an input: an image or a sample")
    return inputs if len(inputs) > 1 else inputs[0]


class Transform:
    """The v2 call: flatten the sample, apply ``_transform_one`` (v1's ``__call__``) to the
    items v2's rule picks, with the same random draws for each, and rebuild the sample."""

    _types = None           # Lambda's: the leaf types it applies to

    def __call__(self, *inputs):
        sample = _sample(inputs)
        leaves = _flatten(sample, [])
        needs = _needs_transform(leaves, self._types)
        from ....random import get_rng_state, set_rng_state
        state = get_rng_state() if sum(needs) > 1 else None
        out, done = [], False
        for leaf, need in zip(leaves, needs):
            if need:
                if done:
                    set_rng_state(state)        # the same parameters for every item
                leaf, done = self._transform_one(leaf), True
            out.append(leaf)
        return _unflatten(sample, iter(out))

    def _transform_one(self, x):
        return super().__call__(x)


def _v2(cls):
    """v2's version of the v1 transform ``cls``: the same code, v2's call."""
    new = type(cls.__name__, (Transform, cls), {"__doc__": cls.__doc__,
                                                "__module__": __name__})
    new.__qualname__ = cls.__name__
    return new


Resize = _v2(_v1.Resize)
RandomResizedCrop = _v2(_v1.RandomResizedCrop)
RandomHorizontalFlip = _v2(_v1.RandomHorizontalFlip)
RandomVerticalFlip = _v2(_v1.RandomVerticalFlip)
CenterCrop = _v2(_v1.CenterCrop)
RandomCrop = _v2(_v1.RandomCrop)
Normalize = _v2(_v1.Normalize)
ColorJitter = _v2(_v1.ColorJitter)
RandomRotation = _v2(_v1.RandomRotation)
Pad = _v2(_v1.Pad)
GaussianBlur = _v2(_v1.GaussianBlur)
RandomErasing = _v2(_v1.RandomErasing)
TrivialAugmentWide = _v2(_v1.TrivialAugmentWide)
Grayscale = _v2(_v1.Grayscale)
ToPILImage = _v2(_v1.ToPILImage)


class _Container:
    """v2's Compose and random choices: the whole sample goes to each transform."""

    def __call__(self, *inputs):
        return super().__call__(_sample(inputs))


class Compose(_Container, _v1.Compose):
    """Apply ``transforms`` one after the other to the sample."""


class RandomApply(_Container, _v1.RandomApply):
    """Apply the ``transforms`` (in order) with probability ``p``, or none of them."""


class RandomChoice(_Container, _v1.RandomChoice):
    """Apply one of the ``transforms``, picked at random (with weights ``p``)."""


class RandomOrder(_Container, _v1.RandomOrder):
    """Apply all the ``transforms`` in a random order."""


class Lambda(Transform, _v1.Lambda):
    """``lambd`` applied to the sample's items of ``types`` (all items if none given; a
    tensor only if it is the first, v2's rule)."""

    def __init__(self, lambd, *types):
        super().__init__(lambd)
        self.types = types
        self._types = types or (object,)


class ToImage(Transform):
    """A PIL image or a NumPy image (H, W) / (H, W, C) as a tensor (C, H, W), its dtype
    kept (uint8 stays uint8, unlike ``ToTensor``); a tensor passes as it is."""

    def _transform_one(self, x):
        return functional.to_image(x)

    def __repr__(self):
        return "ToImage()"


class ToDtype(Transform):
    """The image tensor in ``dtype``; ``scale=True`` rescales the values as torchvision
    v2's ``to_dtype`` (uint8 0..255 -> float x * (1 / 255), 0..1, and back), else a plain
    cast."""

    def __init__(self, dtype, scale=False):
        if isinstance(dtype, dict):
            raise NotImplementedError(
                "ToDtype: a dict of dtypes per tv_tensor type is not supported (zeroin has "
                "no tv_tensors); give one dtype, applied to the image")
        self.dtype, self.scale = dtype, scale

    def _transform_one(self, x):
        return functional.to_dtype(x, self.dtype, self.scale)

    def __repr__(self):
        return f"ToDtype(dtype={self.dtype}, scale={self.scale})"


class ToPureTensor(Transform):
    """torchvision's tv_tensors to plain tensors; zeroin's tensors are plain already, so
    this returns the sample as it is (kept so v2 pipelines run unchanged)."""

    def _transform_one(self, x):
        return x

    def __repr__(self):
        return "ToPureTensor()"
