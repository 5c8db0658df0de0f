"""torchvision's MobileNet V2 and V3 (``torchvision.models.mobilenet_v2``,
``mobilenet_v3_large``, ``mobilenet_v3_small``): inverted residuals (V3's with
squeeze-excitation by hardsigmoid and hardswish), torchvision's names, initialisation and
forward, so a state dict converted from torchvision's loads with ``load_state_dict``.

>>> sum(p.numel() for p in mobilenet_v3_small().parameters())
2542856
"""
from __future__ import annotations

from functools import partial

from .. import flatten, nn
from ..nn import functional as F
from ._efficientnet import Conv2dNormActivation, SqueezeExcitation, _make_divisible
from ._presets import check_weights, weights_enum

__all__ = ["MobileNetV2", "MobileNetV3", "mobilenet_v2", "mobilenet_v3_large",
           "mobilenet_v3_small", "MobileNet_V2_Weights", "MobileNet_V3_Large_Weights",
           "MobileNet_V3_Small_Weights"]


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
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class InvertedResidual(nn.Module):
    """MobileNetV2's block: expand (1x1, ReLU6), depthwise 3x3 (ReLU6), project (1x1, no
    activation); the input added back when the shape is kept."""

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride should be 1 or 2, got {stride}")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride,
                                        groups=hidden_dim, norm_layer=norm_layer,
                                        activation_layer=nn.ReLU6),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), norm_layer(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


_V2_SETTING = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
               [6, 160, 3, 2], [6, 320, 1, 1]]


class MobileNetV2(nn.Module):
    """torchvision's ``MobileNetV2(num_classes=1000, width_mult=1.0,
    inverted_residual_setting=None, round_nearest=8, block=None, norm_layer=None,
    dropout=0.2)``: ``features`` and ``classifier`` (Dropout, Linear)."""

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 round_nearest=8, block=None, norm_layer=None, dropout=0.2):
        super().__init__()
        block = InvertedResidual if block is None else block
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        setting = _V2_SETTING if inverted_residual_setting is None else \
            inverted_residual_setting
        if not setting or any(len(row) != 4 for row in setting):
            raise ValueError(f"MobileNetV2: inverted_residual_setting should be a non-empty "
                             f"list of 4-element lists (t, c, n, s), got {setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                          activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))
        _init(self)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(flatten(x, 1))


class InvertedResidualConfig:
    """One MobileNetV3 block: channels in, kernel, expanded and out channels (scaled by
    ``width_mult`` to multiples of 8), squeeze-excite, "RE"/"HS", stride, dilation."""

    def __init__(self, input_channels, kernel, expanded_channels, out_channels, use_se,
                 activation, stride, dilation, width_mult):
        self.input_channels = self.adjust_channels(input_channels, width_mult)
        self.kernel = kernel
        self.expanded_channels = self.adjust_channels(expanded_channels, width_mult)
        self.out_channels = self.adjust_channels(out_channels, width_mult)
        self.use_se, self.use_hs = use_se, activation == "HS"
        self.stride, self.dilation = stride, dilation

    @staticmethod
    def adjust_channels(channels, width_mult):
        return _make_divisible(channels * width_mult, 8)


class InvertedResidualV3(nn.Module):
    """MobileNetV3's block (torchvision's ``mobilenetv3.InvertedResidual``): expand,
    depthwise, squeeze-excite (hardsigmoid), project."""

    def __init__(self, cnf, norm_layer, se_layer=None):
        super().__init__()
        if not 1 <= cnf.stride <= 2:
            raise ValueError(f"InvertedResidual: illegal stride value {cnf.stride}")
        se_layer = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid) \
            if se_layer is None else se_layer
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        act = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels,
                                               kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=act))
        layers.append(Conv2dNormActivation(
            cnf.expanded_channels, cnf.expanded_channels, kernel_size=cnf.kernel,
            stride=1 if cnf.dilation > 1 else cnf.stride, dilation=cnf.dilation,
            groups=cnf.expanded_channels, norm_layer=norm_layer, activation_layer=act))
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels,
                                   _make_divisible(cnf.expanded_channels // 4, 8)))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels,
                                           kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, input):  # noqa: A002
        result = self.block(input)
        return result + input if self.use_res_connect else result


class MobileNetV3(nn.Module):
    """torchvision's ``MobileNetV3(inverted_residual_setting, last_channel,
    num_classes=1000, block=None, norm_layer=None, dropout=0.2)``."""

    def __init__(self, inverted_residual_setting, last_channel, num_classes=1000, block=None,
                 norm_layer=None, dropout=0.2, **kwargs):
        super().__init__()
        setting = inverted_residual_setting
        if not setting or not all(isinstance(s, InvertedResidualConfig) for s in setting):
            raise TypeError("MobileNetV3: inverted_residual_setting should be a non-empty "
                            "list of InvertedResidualConfig")
        block = InvertedResidualV3 if block is None else block
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01) if norm_layer is None \
            else norm_layer
        layers = [Conv2dNormActivation(3, setting[0].input_channels, kernel_size=3, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in setting]
        last_in = setting[-1].out_channels
        layers.append(Conv2dNormActivation(last_in, 6 * last_in, kernel_size=1,
                                           norm_layer=norm_layer,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * last_in, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes))
        _init(self)

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


_V3_LARGE = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
             (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
             (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
             (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
             (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
             (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1)]
_V3_SMALL = [(16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2),
             (24, 3, 88, 24, False, "RE", 1), (24, 5, 96, 40, True, "HS", 2),
             (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
             (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1)]


def _mobilenet_v3_conf(arch, width_mult=1.0, reduced_tail=False, dilated=False):
    """torchvision's settings: the blocks (the last three reduced by ``reduced_tail``,
    dilated by ``dilated``) and the classifier's hidden width."""
    div, dil = (2 if reduced_tail else 1), (2 if dilated else 1)
    conf = partial(InvertedResidualConfig, width_mult=width_mult)
    if arch == "mobilenet_v3_large":
        head = [conf(*row, 1) for row in _V3_LARGE]
        tail = [conf(112, 5, 672, 160 // div, True, "HS", 2, dil),
                conf(160 // div, 5, 960 // div, 160 // div, True, "HS", 1, dil),
                conf(160 // div, 5, 960 // div, 160 // div, True, "HS", 1, dil)]
        last = 1280
    elif arch == "mobilenet_v3_small":
        head = [conf(*row, 1) for row in _V3_SMALL]
        tail = [conf(48, 5, 288, 96 // div, True, "HS", 2, dil),
                conf(96 // div, 5, 576 // div, 96 // div, True, "HS", 1, dil),
                conf(96 // div, 5, 576 // div, 96 // div, True, "HS", 1, dil)]
        last = 1024
    else:
        raise ValueError(f"Unsupported model type {arch}")
    return head + tail, InvertedResidualConfig.adjust_channels(last // div, width_mult)


MobileNet_V2_Weights = weights_enum("MobileNet_V2_Weights",
                                    {"IMAGENET1K_V1": (224, 256, "BILINEAR"),
                                     "IMAGENET1K_V2": (224, 232, "BILINEAR")}, "IMAGENET1K_V2")
MobileNet_V3_Large_Weights = weights_enum("MobileNet_V3_Large_Weights",
                                          {"IMAGENET1K_V1": (224, 256, "BILINEAR"),
                                           "IMAGENET1K_V2": (224, 232, "BILINEAR")},
                                          "IMAGENET1K_V2")
MobileNet_V3_Small_Weights = weights_enum("MobileNet_V3_Small_Weights",
                                          {"IMAGENET1K_V1": (224, 256, "BILINEAR")},
                                          "IMAGENET1K_V1")


def mobilenet_v2(*, weights=None, progress=True, **kwargs):
    """MobileNetV2 as torchvision's, randomly initialised."""
    check_weights("mobilenet_v2", weights, kwargs)
    return MobileNetV2(**kwargs)


def _mobilenet_v3(arch, weights, kwargs):
    check_weights(arch, weights, kwargs)
    conf = {k: kwargs.pop(k) for k in ("width_mult", "reduced_tail", "dilated") if k in kwargs}
    setting, last_channel = _mobilenet_v3_conf(arch, **conf)
    return MobileNetV3(setting, last_channel, **kwargs)


def mobilenet_v3_large(*, weights=None, progress=True, **kwargs):
    """MobileNetV3-Large as torchvision's, randomly initialised."""
    return _mobilenet_v3("mobilenet_v3_large", weights, kwargs)


def mobilenet_v3_small(*, weights=None, progress=True, **kwargs):
    """MobileNetV3-Small as torchvision's, randomly initialised."""
    return _mobilenet_v3("mobilenet_v3_small", weights, kwargs)
