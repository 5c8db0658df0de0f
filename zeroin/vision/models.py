"""torchvision's classification models (``torchvision.models.resnet50``, ``vgg16``,
``efficientnet_b0``, ``mobilenet_v3_large``, ``densenet121``, ``convnext_tiny``,
``vit_b_16``, ``swin_t``, ``maxvit_t``, ...; docs/vision_models.md lists them): the same
layers, names, initialisation and forward, so a state dict converted from torchvision's loads with
``load_state_dict``. No pretrained weights: zeroin neither
downloads nor unpickles, so ``weights=ResNet18_Weights.DEFAULT`` is an error that says how
to convert them once (the weight enums' ``transforms()`` presets work: they need no
download). torchvision's registry too: ``list_models``, ``get_model``, ``get_model_builder``,
``get_model_weights``, ``get_weight`` (not in ``__all__``, which lists the models and enums),
and each weight's ``url`` and ``meta`` (``meta["categories"]``, ``meta["_metrics"]``, ...).

>>> model = resnet18()
>>> model.fc.in_features, sum(p.numel() for p in model.parameters())
(512, 11689512)
"""
from __future__ import annotations

from .. import flatten, nn
from . import _convnext, _densenet, _inception, _mnasnet, _mobilenet, _regnet, _resnet
from . import _maxvit, _small_nets, _swin
from ._convnext import *  # noqa: F401,F403
from ._densenet import *  # noqa: F401,F403
from ._efficientnet import _VARIANTS as _EFFNETS, EfficientNet, _efficientnet
from ._efficientnet import _efficientnet_v2
from ._inception import *  # noqa: F401,F403
from ._maxvit import *  # noqa: F401,F403
from ._mnasnet import *  # noqa: F401,F403
from ._mobilenet import *  # noqa: F401,F403
from ._regnet import *  # noqa: F401,F403
from ._resnet import *  # noqa: F401,F403
from ._small_nets import *  # noqa: F401,F403
from ._swin import *  # noqa: F401,F403
from ._api import get_model, get_model_builder, get_model_weights, get_weight  # noqa: F401
from ._api import list_models  # noqa: F401
from ._presets import _no_weights, check_weights as _check_weights  # noqa: F401
from ._presets import _Weights as WeightsEnum  # noqa: F401
from ._presets import weights_enum as _weights_enum_with_presets
from ._resnet import BasicBlock, ResNet
from ._vit import _VARIANTS as _VITS, VisionTransformer, _vision_transformer

__all__ = ["ResNet", "BasicBlock", "resnet18", "resnet34", "ResNet18_Weights",
           "ResNet34_Weights", "VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
           "vgg16_bn", "vgg19", "vgg19_bn", "VGG11_Weights", "VGG11_BN_Weights",
           "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights", "VGG16_BN_Weights",
           "VGG19_Weights", "VGG19_BN_Weights", "EfficientNet", "VisionTransformer"] + \
    [f"efficientnet_b{i}" for i in range(8)] + [f"EfficientNet_B{i}_Weights" for i in range(8)] \
    + list(_VITS) + [f"ViT_{n[4:].upper()}_Weights" for n in _VITS] \
    + [f"efficientnet_v2_{v}" for v in "sml"] + [f"EfficientNet_V2_{v}_Weights" for v in "SML"]
for _family in (_resnet, _mobilenet, _small_nets, _densenet, _inception, _mnasnet, _convnext,
                _regnet, _swin, _maxvit):
    __all__ += _family.__all__


def _weights_enum(name, **extra):
    """torchvision's ImageNet weights (crop 224, resize 256; ``DEFAULT`` is
    ``IMAGENET1K_V1``) and ``extra`` ones, each with its ``transforms()`` preset."""
    return _weights_enum_with_presets(
        name, {"IMAGENET1K_V1": (224, 256, "BILINEAR"), **extra}, "IMAGENET1K_V1")


ResNet18_Weights = _weights_enum("ResNet18_Weights")
ResNet34_Weights = _weights_enum("ResNet34_Weights")
VGG11_Weights = _weights_enum("VGG11_Weights")
VGG11_BN_Weights = _weights_enum("VGG11_BN_Weights")
VGG13_Weights = _weights_enum("VGG13_Weights")
VGG13_BN_Weights = _weights_enum("VGG13_BN_Weights")
# VGG-16's features weights (for style transfer) expect 0-255 pixels less the mean
VGG16_Weights = _weights_enum("VGG16_Weights", IMAGENET1K_FEATURES=(
    224, 256, "BILINEAR", (0.48235, 0.45882, 0.40784), (1 / 255.0, 1 / 255.0, 1 / 255.0)))
VGG16_BN_Weights = _weights_enum("VGG16_BN_Weights")
VGG19_Weights = _weights_enum("VGG19_Weights")
VGG19_BN_Weights = _weights_enum("VGG19_BN_Weights")


def _resnet(name, layers, weights, progress, kwargs):
    _check_weights(name, weights, kwargs)
    return ResNet(BasicBlock, layers, **kwargs)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18 as torchvision's (``num_classes=1000``), randomly initialised."""
    return _resnet("resnet18", [2, 2, 2, 2], weights, progress, kwargs)


def resnet34(*, weights=None, progress=True, **kwargs):
    """ResNet-34 as torchvision's (``num_classes=1000``), randomly initialised."""
    return _resnet("resnet34", [3, 4, 6, 3], weights, progress, kwargs)


class VGG(nn.Module):
    """torchvision's ``VGG(features, num_classes=1000, init_weights=True, dropout=0.5)``."""

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if not init_weights:
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


_CFGS = {"vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
         "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
         "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                   512, 512, 512, "M"],
         "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512,
                   "M", 512, 512, 512, 512, "M"]}


def _vgg_features(cfg, batch_norm):
    layers, in_channels = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        layers += [nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else \
            [nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)


def _vgg(name, batch_norm, weights, kwargs):
    _check_weights(name + "_bn" * batch_norm, weights, kwargs)
    return VGG(_vgg_features(_CFGS[name], batch_norm), **kwargs)


def vgg11(*, weights=None, progress=True, **kwargs):
    """VGG-11 as torchvision's, randomly initialised."""
    return _vgg("vgg11", False, weights, kwargs)


def vgg11_bn(*, weights=None, progress=True, **kwargs):
    """VGG-11 with batch norm as torchvision's, randomly initialised."""
    return _vgg("vgg11", True, weights, kwargs)


def vgg13(*, weights=None, progress=True, **kwargs):
    """VGG-13 as torchvision's, randomly initialised."""
    return _vgg("vgg13", False, weights, kwargs)


def vgg13_bn(*, weights=None, progress=True, **kwargs):
    """VGG-13 with batch norm as torchvision's, randomly initialised."""
    return _vgg("vgg13", True, weights, kwargs)


def vgg16(*, weights=None, progress=True, **kwargs):
    """VGG-16 as torchvision's (the save-and-load tutorial's model), randomly initialised."""
    return _vgg("vgg16", False, weights, kwargs)


def vgg16_bn(*, weights=None, progress=True, **kwargs):
    """VGG-16 with batch norm as torchvision's, randomly initialised."""
    return _vgg("vgg16", True, weights, kwargs)


def vgg19(*, weights=None, progress=True, **kwargs):
    """VGG-19 as torchvision's, randomly initialised."""
    return _vgg("vgg19", False, weights, kwargs)


def vgg19_bn(*, weights=None, progress=True, **kwargs):
    """VGG-19 with batch norm as torchvision's, randomly initialised."""
    return _vgg("vgg19", True, weights, kwargs)


def _efficientnet_weights(variant):
    crop, resize = _EFFNETS[variant][3:]
    presets = {"IMAGENET1K_V1": (crop, resize, "BICUBIC")}
    if variant == "b1":
        presets["IMAGENET1K_V2"] = (crop, 255, "BILINEAR")
    return _weights_enum_with_presets(f"EfficientNet_{variant.upper()}_Weights", presets,
                                      max(presets))


EfficientNet_B0_Weights = _efficientnet_weights("b0")
EfficientNet_B1_Weights = _efficientnet_weights("b1")
EfficientNet_B2_Weights = _efficientnet_weights("b2")
EfficientNet_B3_Weights = _efficientnet_weights("b3")
EfficientNet_B4_Weights = _efficientnet_weights("b4")
EfficientNet_B5_Weights = _efficientnet_weights("b5")
EfficientNet_B6_Weights = _efficientnet_weights("b6")
EfficientNet_B7_Weights = _efficientnet_weights("b7")


def _effnet(variant, weights, kwargs):
    _check_weights(f"efficientnet_{variant}", weights, kwargs)
    return _efficientnet(variant, kwargs)


def efficientnet_b0(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B0 as torchvision's (ZTM's transfer-learning model), randomly
    initialised; ``EfficientNet_B0_Weights.DEFAULT.transforms()`` is its preset."""
    return _effnet("b0", weights, kwargs)


def efficientnet_b1(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B1 as torchvision's, randomly initialised."""
    return _effnet("b1", weights, kwargs)


def efficientnet_b2(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B2 as torchvision's, randomly initialised."""
    return _effnet("b2", weights, kwargs)


def efficientnet_b3(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B3 as torchvision's, randomly initialised."""
    return _effnet("b3", weights, kwargs)


def efficientnet_b4(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B4 as torchvision's, randomly initialised."""
    return _effnet("b4", weights, kwargs)


def efficientnet_b5(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B5 as torchvision's, randomly initialised."""
    return _effnet("b5", weights, kwargs)


def efficientnet_b6(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B6 as torchvision's, randomly initialised."""
    return _effnet("b6", weights, kwargs)


def efficientnet_b7(*, weights=None, progress=True, **kwargs):
    """EfficientNet-B7 as torchvision's, randomly initialised."""
    return _effnet("b7", weights, kwargs)


# torchvision's weights for the ViTs (crop, resize, interpolation); SWAG's end-to-end ones
# need the model built at their crop (vit_b_16(image_size=384)), the linear ones at 224
ViT_B_16_Weights = _weights_enum_with_presets(
    "ViT_B_16_Weights", {"IMAGENET1K_V1": (224, 256, "BILINEAR"),
                         "IMAGENET1K_SWAG_E2E_V1": (384, 384, "BICUBIC"),
                         "IMAGENET1K_SWAG_LINEAR_V1": (224, 224, "BICUBIC")}, "IMAGENET1K_V1")
ViT_B_32_Weights = _weights_enum_with_presets(
    "ViT_B_32_Weights", {"IMAGENET1K_V1": (224, 256, "BILINEAR")}, "IMAGENET1K_V1")
ViT_L_16_Weights = _weights_enum_with_presets(
    "ViT_L_16_Weights", {"IMAGENET1K_V1": (224, 242, "BILINEAR"),
                         "IMAGENET1K_SWAG_E2E_V1": (512, 512, "BICUBIC"),
                         "IMAGENET1K_SWAG_LINEAR_V1": (224, 224, "BICUBIC")}, "IMAGENET1K_V1")
ViT_L_32_Weights = _weights_enum_with_presets(
    "ViT_L_32_Weights", {"IMAGENET1K_V1": (224, 256, "BILINEAR")}, "IMAGENET1K_V1")
# ViT-H/14 has only SWAG weights: end-to-end fine-tuned at 518x518 or a linear head at 224
ViT_H_14_Weights = _weights_enum_with_presets(
    "ViT_H_14_Weights", {"IMAGENET1K_SWAG_E2E_V1": (518, 518, "BICUBIC"),
                         "IMAGENET1K_SWAG_LINEAR_V1": (224, 224, "BICUBIC")},
    "IMAGENET1K_SWAG_E2E_V1")


def _vit(name, weights, kwargs):
    _check_weights(name, weights, kwargs)
    return _vision_transformer(name, kwargs)


def vit_b_16(*, weights=None, progress=True, **kwargs):
    """ViT-B/16 as torchvision's (ZTM 08's pretrained ViT), randomly initialised;
    ``ViT_B_16_Weights.DEFAULT.transforms()`` is its preset."""
    return _vit("vit_b_16", weights, kwargs)


def vit_b_32(*, weights=None, progress=True, **kwargs):
    """ViT-B/32 as torchvision's, randomly initialised."""
    return _vit("vit_b_32", weights, kwargs)


def vit_l_16(*, weights=None, progress=True, **kwargs):
    """ViT-L/16 as torchvision's, randomly initialised."""
    return _vit("vit_l_16", weights, kwargs)


def vit_l_32(*, weights=None, progress=True, **kwargs):
    """ViT-L/32 as torchvision's, randomly initialised."""
    return _vit("vit_l_32", weights, kwargs)


def vit_h_14(*, weights=None, progress=True, **kwargs):
    """ViT-H/14 as torchvision's (632M parameters at image_size=224), randomly
    initialised."""
    return _vit("vit_h_14", weights, kwargs)


EfficientNet_V2_S_Weights = _weights_enum_with_presets(
    "EfficientNet_V2_S_Weights", {"IMAGENET1K_V1": (384, 384, "BILINEAR")}, "IMAGENET1K_V1")
EfficientNet_V2_M_Weights = _weights_enum_with_presets(
    "EfficientNet_V2_M_Weights", {"IMAGENET1K_V1": (480, 480, "BILINEAR")}, "IMAGENET1K_V1")
EfficientNet_V2_L_Weights = _weights_enum_with_presets(
    "EfficientNet_V2_L_Weights",
    {"IMAGENET1K_V1": (480, 480, "BICUBIC", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))},
    "IMAGENET1K_V1")


def _effnet_v2(variant, weights, kwargs):
    _check_weights(f"efficientnet_v2_{variant}", weights, kwargs)
    return _efficientnet_v2(variant, kwargs)


def efficientnet_v2_s(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-S as torchvision's (fused MBConv stages first), randomly
    initialised."""
    return _effnet_v2("s", weights, kwargs)


def efficientnet_v2_m(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-M as torchvision's, randomly initialised."""
    return _effnet_v2("m", weights, kwargs)


def efficientnet_v2_l(*, weights=None, progress=True, **kwargs):
    """EfficientNetV2-L as torchvision's, randomly initialised."""
    return _effnet_v2("l", weights, kwargs)
