"""torchvision's ``transforms.v2`` (the namespace its tutorials use now): the v1 transforms
under the same names, taking a whole sample, plus ``ToImage``, ``ToDtype`` and
``ToPureTensor``, and the batch transforms ``MixUp`` and ``CutMix`` (a batch of images and
its labels, giving soft labels). ``AutoAugment``, ``RandAugment``, ``TrivialAugmentWide``
and ``AugMix`` draw as v2's (an op's sign by ``torch.rand(()) <= 0.5``; AutoAugment each
op's chance in turn), which differs from v1's order.

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

import math

import numpy as np

from ... import transforms as _v1
from ...._tensor import Tensor
from ..functional import InterpolationMode, _is_pil
from . import functional

__all__ = ["Compose", "ToImage", "ToDtype", "ToPureTensor", "Lambda", "InterpolationMode",
           "functional", "Resize", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "CenterCrop", "RandomCrop", "Normalize", "ColorJitter",
           "RandomRotation", "Pad", "GaussianBlur", "RandomErasing", "TrivialAugmentWide",
           "Grayscale", "RandomApply", "RandomChoice", "RandomOrder", "ToPILImage",
           "RandomGrayscale", "RandomSolarize", "RandomAffine", "RandomPerspective",
           "RandomInvert", "RandomPosterize", "RandomAdjustSharpness", "RandomAutocontrast",
           "RandomEqualize", "FiveCrop", "TenCrop", "PILToTensor", "LinearTransformation",
           "AutoAugmentPolicy", "AutoAugment", "RandAugment", "AugMix", "MixUp", "CutMix",
           "ElasticTransform"]


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


def _v2(cls, **attrs):
    """v2's version of the v1 transform ``cls``: the same code, v2's call (``attrs``:
    class attributes switching to v2's draws)."""
    new = type(cls.__name__, (Transform, cls), {"__doc__": cls.__doc__,
                                                "__module__": __name__, **attrs})
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
TrivialAugmentWide = _v2(_v1.TrivialAugmentWide, _v2_draws=True)
Grayscale = _v2(_v1.Grayscale)
ToPILImage = _v2(_v1.ToPILImage)
RandomGrayscale = _v2(_v1.RandomGrayscale)
RandomSolarize = _v2(_v1.RandomSolarize)
RandomAffine = _v2(_v1.RandomAffine)
RandomPerspective = _v2(_v1.RandomPerspective)
RandomInvert = _v2(_v1.RandomInvert)
RandomPosterize = _v2(_v1.RandomPosterize)
RandomAdjustSharpness = _v2(_v1.RandomAdjustSharpness)
RandomAutocontrast = _v2(_v1.RandomAutocontrast)
RandomEqualize = _v2(_v1.RandomEqualize)
FiveCrop = _v2(_v1.FiveCrop)
TenCrop = _v2(_v1.TenCrop)
PILToTensor = _v2(_v1.PILToTensor)
LinearTransformation = _v2(_v1.LinearTransformation)
AutoAugment = _v2(_v1.AutoAugment, _v2_draws=True)
RandAugment = _v2(_v1.RandAugment, _v2_draws=True)
AugMix = _v2(_v1.AugMix, _v2_draws=True)
ElasticTransform = _v2(_v1.ElasticTransform)
AutoAugmentPolicy = _v1.AutoAugmentPolicy


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


def _labels_default(inputs):
    """torchvision's default ``labels_getter``: the second item of a tuple / list (a tensor,
    or a dict), or a dict's "labels" key (else the first key holding "label")."""
    if isinstance(inputs, (tuple, list)):
        inputs = inputs[1]
    if isinstance(inputs, Tensor):
        return inputs
    if not isinstance(inputs, dict):                    # torchvision's ValueError
        raise ValueError(  # noqa: TRY004
            f"When using the default labels_getter, the input passed to forward must be a "
            f"dictionary or a two-tuple whose second item is a dictionary or a tensor, but got "
            f"{type(inputs).__name__} instead")
    keys = [k for k in inputs if str(k).lower() == "labels"] or \
        [k for k in inputs if "label" in str(k).lower()]
    if not keys:
        raise ValueError("Could not infer where the labels are in the sample. Try passing a "
                         "callable as the labels_getter parameter? If there are no labels in "
                         "the sample by design, pass labels_getter=None.")
    return inputs[keys[0]]


def _labels_getter(labels_getter):
    if isinstance(labels_getter, str) and labels_getter == "default":
        return _labels_default
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:
        return lambda _: None
    raise ValueError(f"labels_getter should either be 'default', a callable, or None, but got "
                     f"{labels_getter!r}")


class _MixBase:
    """torchvision v2's ``_BaseMixUpCutMix``: a batch (B, C, H, W) and its labels (B,) of
    class indices (int64, needs ``num_classes``) or (B, num_classes) probabilities; the
    labels come back as float soft labels (B, num_classes). Its Beta(alpha, alpha) draw
    (``torch.distributions.Beta``) has no bit-exact copy here: on the torch stream it
    refuses unless ``_sample_lam`` is overridden."""

    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        name = type(self).__name__
        if not float(alpha) > 0:
            raise ValueError(f"{name}: alpha ({alpha!r}) must be positive (the Beta "
                             f"distribution's concentration)")
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(f"{name}: num_classes should be a positive int, got "
                             f"{num_classes!r}")
        self.alpha, self.num_classes = float(alpha), num_classes
        self._labels_getter = _labels_getter(labels_getter)

    def _sample_lam(self):
        """``float(Beta(alpha, alpha).sample(()))`` (a float32 value), NumPy's generator."""
        from ....random import get_rng, torch_stream
        if torch_stream() is not None:
            from ...._torch_rng import refuse
            raise refuse(f"{type(self).__name__} (torch.distributions.Beta)")
        return float(np.float32(get_rng().beta(self.alpha, self.alpha)))

    def _labels(self, sample):
        name = type(self).__name__
        labels = self._labels_getter(sample)
        if not isinstance(labels, Tensor):              # torchvision's ValueError
            raise ValueError(  # noqa: TRY004
                f"{name}: the labels must be a tensor, but got {type(labels).__name__} "
                f"instead")
        if labels.ndim not in (1, 2):
            raise ValueError(f"{name}: labels should be index based with shape (batch_size,) "
                             f"or probability based with shape (batch_size, num_classes), but "
                             f"got a tensor of shape {tuple(labels.shape)} instead")
        if labels.ndim == 2 and self.num_classes is not None and \
                labels.shape[-1] != self.num_classes:
            raise ValueError(f"{name}: when passing 2D labels, the number of elements in the "
                             f"last dimension must match num_classes: {labels.shape[-1]} != "
                             f"{self.num_classes}. You can leave num_classes to None")
        if labels.ndim == 1 and self.num_classes is None:
            raise ValueError(f"{name}: num_classes must be passed if the labels are index-based "
                             f"(1D)")
        return labels

    def __call__(self, *inputs):
        sample = _sample(inputs)
        leaves = _flatten(sample, [])
        name = type(self).__name__
        if any(_is_pil(x) for x in leaves):
            raise ValueError(f"{name}() does not support PIL images, bounding boxes and "
                             f"masks; give a batch tensor (B, C, H, W)")
        labels = self._labels(sample)
        needs = _needs_transform(leaves)
        images = [x for x, n in zip(leaves, needs) if n and x is not labels]
        for x in images:
            if not isinstance(x, Tensor):
                raise TypeError(f"{name}: expected a batch tensor (B, C, H, W), got a "
                                f"{type(x).__name__}; make it a tensor first")
            if x.ndim != 4:
                raise ValueError(f"{name}: expected a batched input with 4 dims (B, C, H, W), "
                                 f"but got {x.ndim} dimensions instead")
            if x.shape[0] != labels.shape[0]:
                raise ValueError(f"{name}: the batch size of the image does not match the "
                                 f"batch size of the labels: {x.shape[0]} != "
                                 f"{labels.shape[0]}")
        params = self._params(images)
        out = [self._mix_label(x, params["lam"]) if x is labels else
               self._mix_image(x, params) if n else x for x, n in zip(leaves, needs)]
        return _unflatten(sample, iter(out))

    def _mix_label(self, label, lam):
        """Soft labels: ``label.roll(1, 0) * (1 - lam) + label * lam``, one-hot first."""
        arr = np.asarray(label.data)
        if arr.ndim == 1:
            if arr.dtype != np.int64:
                raise RuntimeError(f"{type(self).__name__}: one_hot is only applicable to index "
                                   f"tensor of type LongTensor (int64 class indices), got "
                                   f"labels of dtype {arr.dtype}; pass the class indices "
                                   f"(labels.long()), or (B, num_classes) probabilities")
            if arr.size and (arr.min() < 0 or arr.max() >= self.num_classes):
                raise RuntimeError(f"{type(self).__name__}: class values must be in [0, "
                                   f"num_classes = {self.num_classes}), got labels in "
                                   f"[{arr.min()}, {arr.max()}]")
            arr = np.eye(self.num_classes, dtype=np.int64)[arr]
        if arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        return Tensor(np.roll(arr, 1, 0) * (1.0 - lam) + arr * lam)


def _float_batch(x, name):
    if x.dtype.kind != "f":
        raise TypeError(f"{name}: the images are mixed in place as a float tensor (torch: "
                        f"result type Float can't be cast to {x.dtype}); convert them first "
                        f"with v2.ToDtype(zeroin.float32, scale=True)")
    return np.asarray(x.data)


class MixUp(_MixBase):
    """MixUp (Zhang et al., 2018): each image and label blended with the previous one in
    the batch (``roll(1, 0)``) by a weight drawn from Beta(``alpha``, ``alpha``)."""

    def _params(self, images):
        return {"lam": self._sample_lam()}

    def _mix_image(self, x, params):
        arr, lam = _float_batch(x, "MixUp"), params["lam"]
        return Tensor(np.roll(arr, 1, 0) * (1.0 - lam) + arr * lam)

    def __repr__(self):
        return f"MixUp(alpha={self.alpha}, num_classes={self.num_classes})"


class CutMix(_MixBase):
    """CutMix (Yun et al., 2019): a box of each image replaced by the same box of the
    previous image in the batch; the box's area follows Beta(``alpha``, ``alpha``) and the
    labels mix by the area kept (torchvision's draws: lam, then the box centre x, y)."""

    def _params(self, images):
        lam = self._sample_lam()
        from ... import transforms as T
        h, w = images[0].shape[-2:] if images else (0, 0)
        rng = T._draws()
        r_x, r_y = int(rng.integers(w)), int(rng.integers(h))
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half, r_h_half = int(r * w), int(r * h)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, w), min(r_y + r_h_half, h)
        return {"box": (x1, y1, x2, y2), "lam": float(1.0 - (x2 - x1) * (y2 - y1) / (w * h))}

    def _mix_image(self, x, params):
        x1, y1, x2, y2 = params["box"]
        arr = np.asarray(x.data)
        out = arr.copy()
        out[..., y1:y2, x1:x2] = np.roll(arr, 1, 0)[..., y1:y2, x1:x2]
        return Tensor(out)

    def __repr__(self):
        return f"CutMix(alpha={self.alpha}, num_classes={self.num_classes})"
