"""torchvision's EfficientNet B0-B7 (``torchvision.models.efficientnet_b0`` ...): the same
blocks (``Conv2dNormActivation``, ``MBConv`` with squeeze-excitation and stochastic depth),
names, initialisation and forward, so a state dict converted from torchvision's loads with
``load_state_dict``.

>>> model = _efficientnet("b0", {})
>>> model.classifier[1].in_features, sum(p.numel() for p in model.parameters())
(1280, 5288548)
"""
from __future__ import annotations

import copy
import math

from .. import flatten, nn, rand

__all__ = ["EfficientNet", "MBConv", "MBConvConfig", "FusedMBConv", "FusedMBConvConfig",
           "SqueezeExcitation", "StochasticDepth", "Conv2dNormActivation"]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (padding keeps the size at stride 1, no bias before a norm), a norm layer and
    an activation, as ``torchvision.ops.Conv2dNormActivation``."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                            dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else
                                              {"inplace": inplace})))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """``input * sigmoid(fc2(act(fc1(avgpool(input)))))`` (torchvision.ops')."""

    def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU,
                 scale_activation=nn.Sigmoid):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, input):  # noqa: A002
        scale = self.fc2(self.activation(self.fc1(self.avgpool(input))))
        return self.scale_activation(scale) * input


class StochasticDepth(nn.Module):
    """In training, zero a sample's ("row") or the batch's ("batch") residual branch with
    probability ``p`` and scale the rest by 1 / (1 - p); the identity in eval mode."""

    def __init__(self, p, mode):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"StochasticDepth: p must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"StochasticDepth: mode must be 'row' or 'batch', got {mode!r}")
        self.p, self.mode = p, mode

    def forward(self, input):  # noqa: A002
        if not self.training or self.p == 0.0:
            return input
        survival = 1.0 - self.p
        shape = [input.shape[0]] + [1] * (input.ndim - 1) if self.mode == "row" else \
            [1] * input.ndim
        keep = (rand(*shape) < survival).to(input.dtype)
        return input * (keep / survival if survival > 0.0 else keep)

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


def _make_divisible(v, divisor, min_value=None):
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class MBConvConfig:
    """One stage: expand ratio, kernel, stride, channels in and out, number of blocks (the
    channels scaled by ``width_mult`` to multiples of 8, the blocks by ``depth_mult``)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels,
                 num_layers, width_mult=1.0, depth_mult=1.0):
        self.expand_ratio, self.kernel, self.stride = expand_ratio, kernel, stride
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.num_layers = int(math.ceil(num_layers * depth_mult))
        self.block = MBConv

    @staticmethod
    def adjust_channels(channels, width_mult, min_value=None):
        return _make_divisible(channels * width_mult, 8, min_value)


class MBConv(nn.Module):
    """Expand (1x1), depthwise (k x k), squeeze-excite, project (1x1); the input is added
    back (through stochastic depth) when the shape is kept."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"MBConv: stride must be 1 or 2, got {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        layers = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer,
                                               activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, groups=expanded,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, cnf.input_channels // 4),
                                        activation=lambda: nn.SiLU(inplace=True)))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, input):  # noqa: A002
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + input
        return result


class FusedMBConvConfig(MBConvConfig):
    """One EfficientNetV2 fused stage (channels not scaled)."""

    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels,
                 num_layers):
        super().__init__(expand_ratio, kernel, stride, input_channels, out_channels,
                         num_layers)
        self.block = FusedMBConv


class FusedMBConv(nn.Module):
    """EfficientNetV2's fused block: a k x k conv expands (SiLU) and a 1x1 projects (or one
    k x k conv when the expansion is 1); no squeeze-excite; residual through stochastic
    depth when the shape is kept."""

    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"FusedMBConv: stride must be 1 or 2, got {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = cnf.adjust_channels(cnf.input_channels, cnf.expand_ratio)
        if expanded != cnf.input_channels:
            layers = [Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=cnf.kernel,
                                           stride=cnf.stride, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU),
                      Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None)]
        else:
            layers = [Conv2dNormActivation(cnf.input_channels, cnf.out_channels,
                                           kernel_size=cnf.kernel, stride=cnf.stride,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU)]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    forward = MBConv.forward


def _init(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            init_range = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -init_range, init_range)
            nn.init.zeros_(m.bias)


class EfficientNet(nn.Module):
    """``features`` (stem, the MBConv stages, a 1x1 conv to 4x the last width), ``avgpool``
    and ``classifier`` (Dropout, Linear), as torchvision's."""

    def __init__(self, inverted_residual_setting, dropout, stochastic_depth_prob=0.2,
                 num_classes=1000, norm_layer=None, last_channel=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        settings = inverted_residual_setting
        layers = [Conv2dNormActivation(3, settings[0].input_channels, kernel_size=3, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total, block_id = sum(cnf.num_layers for cnf in settings), 0
        for cnf in settings:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels, block_cnf.stride = block_cnf.out_channels, 1
                sd_prob = stochastic_depth_prob * float(block_id) / total
                stage.append(getattr(cnf, "block", MBConv)(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = settings[-1].out_channels
        last_out = 4 * last_in if last_channel is None else last_channel
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_out, num_classes))
        _init(self)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


# (width_mult, depth_mult, dropout, crop, resize) of torchvision's B0-B7 and their weights
# (bicubic; B1's second weights, its DEFAULT: crop 240, resize 255, bilinear)
_VARIANTS = {"b0": (1.0, 1.0, 0.2, 224, 256), "b1": (1.0, 1.1, 0.2, 240, 256),
             "b2": (1.1, 1.2, 0.3, 288, 288), "b3": (1.2, 1.4, 0.3, 300, 320),
             "b4": (1.4, 1.8, 0.4, 380, 384), "b5": (1.6, 2.2, 0.4, 456, 456),
             "b6": (1.8, 2.6, 0.5, 528, 528), "b7": (2.0, 3.1, 0.5, 600, 600)}
_STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
           (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
           (6, 3, 1, 192, 320, 1)]


def _efficientnet(variant, kwargs):
    width, depth, dropout = _VARIANTS[variant][:3]
    settings = [MBConvConfig(*s, width_mult=width, depth_mult=depth) for s in _STAGES]
    if variant in ("b5", "b6", "b7") and "norm_layer" not in kwargs:
        kwargs["norm_layer"] = lambda c: nn.BatchNorm2d(c, eps=0.001, momentum=0.01)
    return EfficientNet(settings, kwargs.pop("dropout", dropout), **kwargs)


# EfficientNetV2 (expand, kernel, stride, in, out, layers); the first rows are fused
_V2_STAGES = {
    "s": ([(1, 3, 1, 24, 24, 2), (4, 3, 2, 24, 48, 4), (4, 3, 2, 48, 64, 4)],
          [(4, 3, 2, 64, 128, 6), (6, 3, 1, 128, 160, 9), (6, 3, 2, 160, 256, 15)], 0.2),
    "m": ([(1, 3, 1, 24, 24, 3), (4, 3, 2, 24, 48, 5), (4, 3, 2, 48, 80, 5)],
          [(4, 3, 2, 80, 160, 7), (6, 3, 1, 160, 176, 14), (6, 3, 2, 176, 304, 18),
           (6, 3, 1, 304, 512, 5)], 0.3),
    "l": ([(1, 3, 1, 32, 32, 4), (4, 3, 2, 32, 64, 7), (4, 3, 2, 64, 96, 7)],
          [(4, 3, 2, 96, 192, 10), (6, 3, 1, 192, 224, 19), (6, 3, 2, 224, 384, 25),
           (6, 3, 1, 384, 640, 7)], 0.4)}


def _efficientnet_v2(variant, kwargs):
    fused, plain, dropout = _V2_STAGES[variant]
    settings = [FusedMBConvConfig(*s) for s in fused] + [MBConvConfig(*s) for s in plain]
    kwargs.setdefault("norm_layer", lambda c: nn.BatchNorm2d(c, eps=1e-03))
    return EfficientNet(settings, kwargs.pop("dropout", dropout), last_channel=1280, **kwargs)
