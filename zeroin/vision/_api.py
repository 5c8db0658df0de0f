"""torchvision's model registry (``torchvision.models.list_models``, ``get_model``,
``get_model_builder``, ``get_model_weights``, ``get_weight``, torchvision >= 0.14) over
zeroin's 80 classification builders: the same names, filters, results and error texts, each
error followed by the names zeroin knows.

>>> from zeroin.vision import models
>>> models.list_models(include="resnet1*")
['resnet101', 'resnet152', 'resnet18']
>>> models.get_weight("ResNet50_Weights.DEFAULT")
ResNet50_Weights.IMAGENET1K_V2
"""
from __future__ import annotations

import difflib
import fnmatch
import functools
import inspect

from ._presets import _Weights

__all__ = ["get_model", "get_model_builder", "get_model_weights", "get_weight", "list_models"]


@functools.cache
def _registry():
    """{name: builder} for the builders zeroin.vision.models exports, and {builder: enum}
    (the enum whose name is the builder's but for case: resnext50_32x4d ->
    ResNeXt50_32X4D_Weights)."""
    from . import models
    builders = {n: getattr(models, n) for n in models.__all__ if n[0].islower()}
    enums = {n[:-len("_Weights")].lower(): getattr(models, n)
             for n in models.__all__ if n.endswith("_Weights")}
    return builders, {fn: enums[n] for n, fn in builders.items()}


def _known(name, names, what):
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return f"{hint} zeroin.vision.models has these {len(names)} {what}: {', '.join(names)}"


def list_models(module=None, include=None, exclude=None):
    """The sorted names of the registered models: those of ``module`` (``models`` itself:
    zeroin has only torchvision's classification models), matching any of the ``include``
    fnmatch patterns (a str or several; all when ``None``) and none of ``exclude``."""
    builders = _registry()[0]
    names = {n for n in builders
             if module is None or getattr(module, "__name__", None) == "zeroin.vision.models"}
    chosen = set(names)
    if include:
        chosen = set()
        for pattern in [include] if isinstance(include, str) else include:
            chosen |= set(fnmatch.filter(names, pattern))
    if exclude:
        for pattern in [exclude] if isinstance(exclude, str) else exclude:
            chosen -= set(fnmatch.filter(names, pattern))
    return sorted(chosen)


def get_model_builder(name):
    """The builder registered as ``name`` (any case): ``get_model_builder("resnet50")`` is
    ``models.resnet50``."""
    name = name.lower()
    builders = _registry()[0]
    if name not in builders:
        raise ValueError(f"Unknown model {name}." + _known(name, sorted(builders), "models")
                         + " (only torchvision's classification models; none of detection, "
                         "segmentation, video, optical_flow or quantization)")
    return builders[name]


def get_model(name, **config):
    """Builds the model registered as ``name`` with ``config`` (its builder's keyword
    arguments): ``get_model("resnet50", weights=None, num_classes=10)``."""
    return get_model_builder(name)(**config)


def get_model_weights(name):
    """The weights enum of a model, by its registered name or its builder:
    ``get_model_weights("resnet50")`` is ``ResNet50_Weights``."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    if "weights" not in inspect.signature(fn).parameters:
        raise ValueError("The method is missing the 'weights' argument.")
    enum = _registry()[1].get(fn)
    if enum is None:
        raise ValueError("The WeightsEnum class for the specific method couldn't be retrieved. "
                         f"Make sure the typing info is correct. ({fn!r} is none of "
                         "zeroin.vision.models' builders: list_models() names them)")
    return enum


def get_weight(name):
    """The weights enum member of a full name, ``"ResNet50_Weights.IMAGENET1K_V2"`` (or
    ``"ResNet50_Weights.DEFAULT"``, the same member)."""
    from . import models
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'. It is 'EnumName.MEMBER', "
                         "e.g. 'ResNet50_Weights.IMAGENET1K_V2'") from None
    enum = getattr(models, enum_name, None)
    if not (isinstance(enum, type) and issubclass(enum, _Weights)):
        enums = sorted(n for n in models.__all__ if n.endswith("_Weights"))
        raise ValueError(  # noqa: TRY004 (torchvision's ValueError)
            f"The weight enum '{enum_name}' for the specific method couldn't be "
            "retrieved." + _known(enum_name, enums, "weight enums"))
    if value_name not in enum.__members__:
        raise KeyError(f"{value_name!r}: {enum_name} has no such member; it has "
                       f"{', '.join(enum.__members__)}")
    return enum[value_name]
