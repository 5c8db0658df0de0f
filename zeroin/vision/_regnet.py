"""torchvision's RegNets (``torchvision.models.regnet_y_400mf`` ... ``regnet_x_32gf``):
``stem``, ``trunk_output.block<i>.block<i>-<j>`` (``proj``, ``f.a``/``f.b``/``f.se``/``f.c``),
``fc``, with the widths computed as torchvision computes them (in float32), its
initialisation and forward, so a state dict converted from torchvision's loads.

>>> sum(p.numel() for p in regnet_y_400mf().parameters())
4344144
"""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial

import numpy as np

from .. import flatten, nn
from ._efficientnet import Conv2dNormActivation, SqueezeExcitation, _make_divisible
from ._presets import check_weights, weights_enum

__all__ = ["RegNet", "BlockParams"]  # and the builders and enums: see the end


class SimpleStemIN(Conv2dNormActivation):
    """The ImageNet stem: 3x3 conv stride 2, batch norm, ReLU."""

    def __init__(self, width_in, width_out, norm_layer, activation_layer):
        super().__init__(width_in, width_out, kernel_size=3, stride=2, norm_layer=norm_layer,
                         activation_layer=activation_layer)


class BottleneckTransform(nn.Sequential):
    """``a`` 1x1, ``b`` 3x3 grouped (stride), ``se`` (RegNetY), ``c`` 1x1 without
    activation."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer, group_width,
                 bottleneck_multiplier, se_ratio):
        layers = OrderedDict()
        w_b = int(round(width_out * bottleneck_multiplier))
        layers["a"] = Conv2dNormActivation(width_in, w_b, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        layers["b"] = Conv2dNormActivation(w_b, w_b, kernel_size=3, stride=stride,
                                           groups=w_b // group_width, norm_layer=norm_layer,
                                           activation_layer=activation_layer)
        if se_ratio:
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * width_in)),
                                             activation=activation_layer)
        layers["c"] = Conv2dNormActivation(w_b, width_out, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None)
        super().__init__(layers)


class ResBottleneckBlock(nn.Module):
    """``activation(proj(x) + f(x))`` (``proj``, 1x1 with batch norm, where the shape
    changes; else ``x + f(x)``)."""

    def __init__(self, width_in, width_out, stride, norm_layer, activation_layer,
                 group_width=1, bottleneck_multiplier=1.0, se_ratio=None):
        super().__init__()
        self.proj = None
        if width_in != width_out or stride != 1:
            self.proj = Conv2dNormActivation(width_in, width_out, kernel_size=1, stride=stride,
                                             norm_layer=norm_layer, activation_layer=None)
        self.f = BottleneckTransform(width_in, width_out, stride, norm_layer,
                                     activation_layer, group_width, bottleneck_multiplier,
                                     se_ratio)
        self.activation = activation_layer(inplace=True)

    def forward(self, x):
        skip = x if self.proj is None else self.proj(x)
        return self.activation(skip + self.f(x))


class AnyStage(nn.Sequential):
    """``depth`` blocks named ``block<stage>-<i>``, the first one strided."""

    def __init__(self, width_in, width_out, stride, depth, block_constructor, norm_layer,
                 activation_layer, group_width, bottleneck_multiplier, se_ratio=None,
                 stage_index=0):
        super().__init__()
        for i in range(depth):
            self.add_module(f"block{stage_index}-{i}", block_constructor(
                width_in if i == 0 else width_out, width_out, stride if i == 0 else 1,
                norm_layer, activation_layer, group_width, bottleneck_multiplier, se_ratio))


class BlockParams:
    """Per-stage depths, widths, group widths, bottleneck multipliers and strides;
    ``from_init_params`` quantises the RegNet design rule as torchvision does."""

    def __init__(self, depths, widths, group_widths, bottleneck_multipliers, strides,
                 se_ratio=None):
        self.depths, self.widths, self.group_widths = depths, widths, group_widths
        self.bottleneck_multipliers, self.strides = bottleneck_multipliers, strides
        self.se_ratio = se_ratio

    @classmethod
    def from_init_params(cls, depth, w_0, w_a, w_m, group_width, bottleneck_multiplier=1.0,
                         se_ratio=None, **kwargs):
        if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
            raise ValueError(f"Invalid RegNet settings: need w_a >= 0, w_0 > 0 a multiple of "
                             f"8, w_m > 1; got w_a={w_a}, w_0={w_0}, w_m={w_m}")
        f32 = np.float32   # torch's arithmetic here is float32: so is this
        widths_cont = np.arange(depth).astype(f32) * f32(w_a) + f32(w_0)
        capacity = np.round(np.log(widths_cont / f32(w_0)) / f32(math.log(w_m)))
        widths = (np.round(f32(w_0) * np.power(f32(w_m), capacity) / f32(8)) * 8)
        widths = widths.astype(np.int32).tolist()
        splits = [w != wp for w, wp in zip(widths + [0], [0] + widths)]
        stage_widths = [w for w, t in zip(widths, splits[:-1]) if t]
        stage_depths = np.diff([d for d, t in enumerate(splits) if t]).tolist()
        n = len(set(widths))
        bottleneck = [bottleneck_multiplier] * n
        stage_widths, group_widths = cls._adjust_widths_groups_compatibilty(
            stage_widths, bottleneck, [group_width] * n)
        return cls(stage_depths, stage_widths, group_widths, bottleneck, [2] * n, se_ratio)

    def _get_expanded_params(self):
        return zip(self.widths, self.strides, self.depths, self.group_widths,
                   self.bottleneck_multipliers)

    @staticmethod
    def _adjust_widths_groups_compatibilty(stage_widths, bottleneck_ratios, group_widths):
        widths = [int(w * b) for w, b in zip(stage_widths, bottleneck_ratios)]
        group_widths_min = [min(g, w_bot) for g, w_bot in zip(group_widths, widths)]
        ws_bot = [_make_divisible(w_bot, g) for w_bot, g in zip(widths, group_widths_min)]
        stage_widths = [int(w_bot / b) for w_bot, b in zip(ws_bot, bottleneck_ratios)]
        return stage_widths, group_widths_min


class RegNet(nn.Module):
    """torchvision's ``RegNet(block_params, num_classes=1000, stem_width=32, stem_type=None,
    block_type=None, norm_layer=None, activation=None)``; convs normal with std
    sqrt(2 / fan_out), fc normal std 0.01."""

    def __init__(self, block_params, num_classes=1000, stem_width=32, stem_type=None,
                 block_type=None, norm_layer=None, activation=None):
        super().__init__()
        stem_type = SimpleStemIN if stem_type is None else stem_type
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        block_type = ResBottleneckBlock if block_type is None else block_type
        activation = nn.ReLU if activation is None else activation
        self.stem = stem_type(3, stem_width, norm_layer, activation)
        width, blocks = stem_width, []
        for i, (w_out, stride, depth, g, b) in enumerate(block_params._get_expanded_params()):
            blocks.append((f"block{i + 1}", AnyStage(
                width, w_out, stride, depth, block_type, norm_layer, activation, g, b,
                block_params.se_ratio, stage_index=i + 1)))
            width = w_out
        self.trunk_output = nn.Sequential(OrderedDict(blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(in_features=width, out_features=num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.trunk_output(self.stem(x))
        return self.fc(flatten(self.avgpool(x), 1))


# name: (depth, w_0, w_a, w_m, group_width, se_ratio) of torchvision's presets
_PRESETS = {
    "regnet_y_400mf": (16, 48, 27.89, 2.09, 8, 0.25),
    "regnet_y_800mf": (14, 56, 38.84, 2.4, 16, 0.25),
    "regnet_y_1_6gf": (27, 48, 20.71, 2.65, 24, 0.25),
    "regnet_y_3_2gf": (21, 80, 42.63, 2.66, 24, 0.25),
    "regnet_y_8gf": (17, 192, 76.82, 2.19, 56, 0.25),
    "regnet_y_16gf": (18, 200, 106.23, 2.48, 112, 0.25),
    "regnet_y_32gf": (20, 232, 115.89, 2.53, 232, 0.25),
    "regnet_y_128gf": (27, 456, 160.83, 2.52, 264, 0.25),
    "regnet_x_400mf": (22, 24, 24.48, 2.54, 16, None),
    "regnet_x_800mf": (16, 56, 35.73, 2.28, 16, None),
    "regnet_x_1_6gf": (18, 80, 34.01, 2.25, 24, None),
    "regnet_x_3_2gf": (25, 88, 26.31, 2.25, 48, None),
    "regnet_x_8gf": (23, 80, 49.56, 2.88, 120, None),
    "regnet_x_16gf": (22, 216, 55.59, 2.1, 128, None),
    "regnet_x_32gf": (23, 320, 69.86, 2.0, 168, None)}


def _regnet(name, weights, kwargs):
    check_weights(name, weights, kwargs)
    depth, w_0, w_a, w_m, group_width, se_ratio = _PRESETS[name]
    params = BlockParams.from_init_params(depth=depth, w_0=w_0, w_a=w_a, w_m=w_m,
                                          group_width=group_width, se_ratio=se_ratio)
    norm_layer = kwargs.pop("norm_layer", partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))
    return RegNet(params, norm_layer=norm_layer, **kwargs)

__all__ += list(_PRESETS) + [f"RegNet_{n[7:].upper()}_Weights" for n in _PRESETS]

_V1_V2 = {"IMAGENET1K_V1": (224, 256, "BILINEAR"), "IMAGENET1K_V2": (224, 232, "BILINEAR")}
_SWAG = {"IMAGENET1K_SWAG_E2E_V1": (384, 384, "BICUBIC"),
         "IMAGENET1K_SWAG_LINEAR_V1": (224, 224, "BICUBIC")}
RegNet_Y_400MF_Weights = weights_enum("RegNet_Y_400MF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_Y_800MF_Weights = weights_enum("RegNet_Y_800MF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_Y_1_6GF_Weights = weights_enum("RegNet_Y_1_6GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_Y_3_2GF_Weights = weights_enum("RegNet_Y_3_2GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_Y_8GF_Weights = weights_enum("RegNet_Y_8GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_Y_16GF_Weights = weights_enum("RegNet_Y_16GF_Weights", {**_V1_V2, **_SWAG}, "IMAGENET1K_V2")
RegNet_Y_32GF_Weights = weights_enum("RegNet_Y_32GF_Weights", {**_V1_V2, **_SWAG}, "IMAGENET1K_V2")
RegNet_Y_128GF_Weights = weights_enum("RegNet_Y_128GF_Weights", _SWAG, "IMAGENET1K_SWAG_E2E_V1")
RegNet_X_400MF_Weights = weights_enum("RegNet_X_400MF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_800MF_Weights = weights_enum("RegNet_X_800MF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_1_6GF_Weights = weights_enum("RegNet_X_1_6GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_3_2GF_Weights = weights_enum("RegNet_X_3_2GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_8GF_Weights = weights_enum("RegNet_X_8GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_16GF_Weights = weights_enum("RegNet_X_16GF_Weights", _V1_V2, "IMAGENET1K_V2")
RegNet_X_32GF_Weights = weights_enum("RegNet_X_32GF_Weights", _V1_V2, "IMAGENET1K_V2")


def regnet_y_400mf(*, weights=None, progress=True, **kwargs):
    """RegNetY-400MF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_400mf", weights, kwargs)


def regnet_y_800mf(*, weights=None, progress=True, **kwargs):
    """RegNetY-800MF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_800mf", weights, kwargs)


def regnet_y_1_6gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-1.6GF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_1_6gf", weights, kwargs)


def regnet_y_3_2gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-3.2GF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_3_2gf", weights, kwargs)


def regnet_y_8gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-8GF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_8gf", weights, kwargs)


def regnet_y_16gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-16GF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_16gf", weights, kwargs)


def regnet_y_32gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-32GF as torchvision's, randomly initialised."""
    return _regnet("regnet_y_32gf", weights, kwargs)


def regnet_y_128gf(*, weights=None, progress=True, **kwargs):
    """RegNetY-128GF as torchvision's (644M parameters), randomly initialised."""
    return _regnet("regnet_y_128gf", weights, kwargs)


def regnet_x_400mf(*, weights=None, progress=True, **kwargs):
    """RegNetX-400MF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_400mf", weights, kwargs)


def regnet_x_800mf(*, weights=None, progress=True, **kwargs):
    """RegNetX-800MF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_800mf", weights, kwargs)


def regnet_x_1_6gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-1.6GF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_1_6gf", weights, kwargs)


def regnet_x_3_2gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-3.2GF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_3_2gf", weights, kwargs)


def regnet_x_8gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-8GF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_8gf", weights, kwargs)


def regnet_x_16gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-16GF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_16gf", weights, kwargs)


def regnet_x_32gf(*, weights=None, progress=True, **kwargs):
    """RegNetX-32GF as torchvision's, randomly initialised."""
    return _regnet("regnet_x_32gf", weights, kwargs)
