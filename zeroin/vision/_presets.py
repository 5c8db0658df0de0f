"""torchvision's weight enums for zeroin's models (the names only: zeroin has no weights)
and their ``transforms()`` preset, ``ImageClassification``, which needs no download.

>>> W = weights_enum("Demo_Weights", {"IMAGENET1K_V1": (224, 256, "BILINEAR")},
...                  "IMAGENET1K_V1")
>>> W.DEFAULT is W.IMAGENET1K_V1, W.DEFAULT.transforms().resize_size
(True, [256])
"""
from __future__ import annotations

import enum
import warnings

import numpy as np

from .. import Tensor, float32, tensor, uint8

__all__ = ["ImageClassification", "weights_enum", "check_weights"]


class ImageClassification:
    """torchvision's preset (``weights.transforms()``): resize the shorter side to
    ``resize_size``, crop the centre ``crop_size``, float32 in [0, 1], normalise by
    ImageNet's mean and std. Takes a PIL image or a (..., C, H, W) tensor (uint8, or float
    in [0, 1])."""

    def __init__(self, *, crop_size, resize_size=256, mean=(0.485, 0.456, 0.406),
                 std=(0.229, 0.224, 0.225), interpolation=None, antialias=True):
        from .transforms.functional import InterpolationMode
        self.crop_size, self.resize_size = [crop_size], [resize_size]
        self.mean, self.std = list(mean), list(std)
        self.interpolation = InterpolationMode.BILINEAR if interpolation is None else \
            interpolation
        self.antialias = antialias

    def __call__(self, img):
        from .transforms import functional as F
        img = F.resize(img, self.resize_size, interpolation=self.interpolation,
                       antialias=self.antialias)
        img = F.center_crop(img, self.crop_size)
        if not isinstance(img, Tensor):
            arr = np.asarray(img)
            arr = arr.reshape(arr.shape[0], arr.shape[1], -1).transpose(2, 0, 1)
            img = tensor(np.ascontiguousarray(arr))
        scale = 255.0 if img.dtype == uint8 else 1.0
        img = img.to(float32) / scale
        mean = tensor(self.mean, dtype=float32).reshape(-1, 1, 1)
        std = tensor(self.std, dtype=float32).reshape(-1, 1, 1)
        return (img - mean) / std

    def __repr__(self):
        return (f"{type(self).__name__}(\n    crop_size={self.crop_size}\n"
                f"    resize_size={self.resize_size}\n    mean={self.mean}\n"
                f"    std={self.std}\n    interpolation={self.interpolation}\n)")


_PRESETS = {}
_META = {}


class _Weights(enum.Enum):
    """torchvision's ``WeightsEnum``: each member has torchvision's ``url``, ``meta`` and
    ``transforms()`` preset (zeroin has no weights behind the URL)."""

    def transforms(self, **kwargs):
        """The preset these weights were trained with (no download); ``kwargs`` override
        its settings, as torchvision's ``functools.partial`` does."""
        from .transforms.functional import InterpolationMode
        crop, resize, mode, *mean_std = _PRESETS[type(self).__name__][self.value]
        settings = dict(zip(("mean", "std"), mean_std), crop_size=crop, resize_size=resize,
                        interpolation=InterpolationMode[mode])
        return ImageClassification(**{**settings, **kwargs})

    @property
    def url(self):
        """Where torchvision downloads these weights from (zeroin does not)."""
        from ._weights_meta import URL, WEIGHTS
        return URL + WEIGHTS[str(self)][0]

    @property
    def meta(self):
        """torchvision's metadata: ``num_params``, ``min_size``, ``categories`` (the 1000
        ImageNet class names), ``recipe``, ``_metrics``, ``_ops``, ``_file_size``,
        ``_docs`` (and ``license`` for SWAG's). One dict per member, as torchvision's."""
        key = str(self)
        if key not in _META:
            _META[key] = _meta_of(key, self.name)
        return _META[key]

    @classmethod
    def verify(cls, obj):
        """torchvision's ``WeightsEnum.verify``: ``None``, a member, or its name (``"DEFAULT"``,
        ``"ResNet50_Weights.IMAGENET1K_V2"``) to the member."""
        if obj is None or isinstance(obj, cls):
            return obj
        if type(obj) is str:
            return cls[obj.replace(cls.__name__ + ".", "")]
        raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but received "
                        f"{type(obj).__name__}.")

    def __repr__(self):
        return f"{type(self).__name__}.{self._name_}"


def _meta_of(key, member):
    from ._imagenet_categories import IMAGENET_CATEGORIES
    from ._weights_meta import DOCS, SWAG_LICENSE, WEIGHTS
    _, num_params, min_size, recipe, acc1, acc5, ops, file_size, docs = WEIGHTS[key]
    meta = {"min_size": (min_size, min_size),
            "categories": None if member == "IMAGENET1K_FEATURES" else IMAGENET_CATEGORIES,
            "num_params": num_params, "recipe": recipe,
            "_metrics": {"ImageNet-1K": {"acc@1": acc1, "acc@5": acc5}}, "_ops": ops,
            "_file_size": file_size, "_docs": DOCS[docs]}
    if "SWAG" in member:
        meta["license"] = SWAG_LICENSE
    return meta


def weights_enum(name, presets, default):
    """An enum ``name`` of torchvision's weight names, each with its (crop, resize,
    interpolation[, mean, std]) preset; ``DEFAULT`` is ``default``."""
    _PRESETS[name] = presets
    names = {value: value for value in presets}
    names["DEFAULT"] = default
    return _Weights(name, names, module="zeroin.vision.models")


def _no_weights(name, weights):
    file = f"{name}.safetensors"
    shown = weights if isinstance(weights, enum.Enum) else repr(weights)
    asked = weights.value if isinstance(weights, enum.Enum) else str(weights)
    return NotImplementedError(
        f"{name}(weights={shown}): zeroin has no pretrained weights (it neither downloads "
        f"nor unpickles torchvision's file). Convert them once, in PyTorch:\n"
        f"    from safetensors.torch import save_file; import torchvision\n"
        f"    save_file(torchvision.models.{name}(weights={asked!r}).state_dict(), {file!r})\n"
        f"then: model = zeroin.vision.models.{name}(); "
        f"model.load_state_dict(zeroin.safetensors.load_file({file!r}))")


def check_weights(name, weights, kwargs):
    """Refuse ``weights`` (or the legacy ``pretrained=True``) with how to convert them; the
    legacy ``pretrained=`` warns first, with torchvision's two UserWarnings."""
    if "pretrained" in kwargs:
        pretrained = kwargs.pop("pretrained")
        warnings.warn("The parameter 'pretrained' is deprecated since 0.13 and may be removed "
                      "in the future, please use 'weights' instead.", UserWarning, stacklevel=3)
        default = "'DEFAULT'" if pretrained else "None"
        warnings.warn("Arguments other than a weight enum or `None` for 'weights' are "
                      "deprecated since 0.13 and may be removed in the future. The current "
                      f"behavior is equivalent to passing `weights={default}`.", UserWarning,
                      stacklevel=3)
        if pretrained:
            weights = "DEFAULT"
    if weights is not None:
        raise _no_weights(name, weights)


def fix_kwarg(kwargs, name, value, builder):
    """torchvision's ``_ovewrite_named_param``: a builder's fixed setting; a different one
    passed by the user is an error."""
    if name in kwargs and kwargs[name] != value:
        raise ValueError(f"{builder}: the parameter '{name}' expected value {value} but got "
                         f"{kwargs[name]} instead (it defines the model; build "
                         f"ResNet(Bottleneck, layers, {name}={kwargs[name]}) for another)")
    kwargs[name] = value
