"""torchvision's AlexNet, SqueezeNet 1.0/1.1 and ShuffleNet V2 (``torchvision.models.alexnet``,
``squeezenet1_0``, ``shufflenet_v2_x1_0``, ...): the same layers, names, initialisation and
forward, so a state dict converted from torchvision's loads with ``load_state_dict``.

>>> sum(p.numel() for p in squeezenet1_1().parameters())
1235496
"""
from __future__ import annotations

from .. import Tensor, cat, flatten, nn
from ._presets import check_weights, weights_enum

__all__ = ["AlexNet", "SqueezeNet", "ShuffleNetV2", "alexnet", "squeezenet1_0",
           "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5",
           "shufflenet_v2_x2_0", "AlexNet_Weights", "SqueezeNet1_0_Weights",
           "SqueezeNet1_1_Weights", "ShuffleNet_V2_X0_5_Weights", "ShuffleNet_V2_X1_0_Weights",
           "ShuffleNet_V2_X1_5_Weights", "ShuffleNet_V2_X2_0_Weights"]


def _v1(name, resize=256, crop=224):
    return weights_enum(name, {"IMAGENET1K_V1": (crop, resize, "BILINEAR")}, "IMAGENET1K_V1")


class AlexNet(nn.Module):
    """torchvision's ``AlexNet(num_classes=1000, dropout=0.5)`` (PyTorch's default
    initialisation: torchvision has no init loop for it)."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(flatten(self.avgpool(self.features(x)), 1))


class Fire(nn.Module):
    """SqueezeNet's module: squeeze (1x1, ReLU), then 1x1 and 3x3 expansions (ReLU)
    concatenated along the channels."""

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.squeeze_activation(self.squeeze(x))
        return cat([self.expand1x1_activation(self.expand1x1(x)),
                    self.expand3x3_activation(self.expand3x3(x))], 1)


def _squeezenet_features(version):
    pool = lambda: nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)  # noqa: E731
    if version == "1_0":
        return nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
            Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256))
    if version == "1_1":
        return nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
            Fire(512, 64, 256, 256))
    raise ValueError(f"Unsupported SqueezeNet version {version}: 1_0 or 1_1 expected")


class SqueezeNet(nn.Module):
    """torchvision's ``SqueezeNet(version="1_0", num_classes=1000, dropout=0.5)``: the
    classifier is a 1x1 convolution (normal, std 0.01), the other convolutions
    kaiming-uniform, biases zero."""

    def __init__(self, version="1_0", num_classes=1000, dropout=0.5):
        super().__init__()
        self.num_classes = num_classes
        self.features = _squeezenet_features(version)
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv,
                                        nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        return flatten(self.classifier(self.features(x)), 1)


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's shuffle: (N, g*c, H, W) viewed (N, g, c, H, W), the two channel axes
    swapped, flattened back."""
    n, channels, h, w = x.shape
    x = x.view(n, groups, channels // groups, h, w).transpose(1, 2).contiguous()
    return x.view(n, -1, h, w)


def _depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride, 1, bias=False, groups=channels)


class ShuffleUnit(nn.Module):
    """ShuffleNetV2's unit (torchvision's ``shufflenetv2.InvertedResidual``): at stride 1
    half the channels pass through and ``branch2`` transforms the other half; at stride 2
    ``branch1`` and ``branch2`` both take the input; then ``channel_shuffle(out, 2)``."""

    def __init__(self, inp, oup, stride):
        super().__init__()
        if not 1 <= stride <= 3:
            raise ValueError(f"ShuffleNetV2 unit: illegal stride value {stride}")
        self.stride = stride
        branch = oup // 2
        if stride == 1 and inp != branch << 1:
            raise ValueError(f"ShuffleNetV2 unit: at stride 1 inp ({inp}) must be oup ({oup}) "
                             f"rounded down to an even number")
        self.branch1 = nn.Sequential()
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(inp, stride), nn.BatchNorm2d(inp),
                nn.Conv2d(inp, branch, 1, 1, 0, bias=False), nn.BatchNorm2d(branch),
                nn.ReLU(inplace=True))
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch, branch, 1, 1, 0, bias=False),
            nn.BatchNorm2d(branch), nn.ReLU(inplace=True),
            _depthwise(branch, stride), nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, 1, 0, bias=False), nn.BatchNorm2d(branch),
            nn.ReLU(inplace=True))

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = cat((x1, self.branch2(x2)), 1)
        else:
            out = cat((self.branch1(x), self.branch2(x)), 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """torchvision's ``ShuffleNetV2(stages_repeats, stages_out_channels, num_classes=1000)``
    (``conv1``, ``maxpool``, ``stage2``-``stage4``, ``conv5``, ``fc``; PyTorch's default
    initialisation)."""

    def __init__(self, stages_repeats, stages_out_channels, num_classes=1000,
                 inverted_residual=ShuffleUnit):
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError(f"ShuffleNetV2: expected 3 stages_repeats and 5 "
                             f"stages_out_channels, got {stages_repeats} and "
                             f"{stages_out_channels}")
        self._stage_out_channels = stages_out_channels
        channels = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, channels, 3, 2, 1, bias=False),
                                   nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for name, repeats, out in zip(("stage2", "stage3", "stage4"), stages_repeats,
                                      stages_out_channels[1:]):
            units = [inverted_residual(channels, out, 2)]
            units += [inverted_residual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*units))
            channels = out
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(channels, last, 1, 1, 0, bias=False),
                                   nn.BatchNorm2d(last), nn.ReLU(inplace=True))
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean([2, 3]))


AlexNet_Weights = _v1("AlexNet_Weights")
SqueezeNet1_0_Weights = _v1("SqueezeNet1_0_Weights")
SqueezeNet1_1_Weights = _v1("SqueezeNet1_1_Weights")
ShuffleNet_V2_X0_5_Weights = _v1("ShuffleNet_V2_X0_5_Weights")
ShuffleNet_V2_X1_0_Weights = _v1("ShuffleNet_V2_X1_0_Weights")
ShuffleNet_V2_X1_5_Weights = _v1("ShuffleNet_V2_X1_5_Weights", resize=232)
ShuffleNet_V2_X2_0_Weights = _v1("ShuffleNet_V2_X2_0_Weights", resize=232)


def alexnet(*, weights=None, progress=True, **kwargs):
    """AlexNet as torchvision's (one-GPU variant), randomly initialised."""
    check_weights("alexnet", weights, kwargs)
    return AlexNet(**kwargs)


def squeezenet1_0(*, weights=None, progress=True, **kwargs):
    """SqueezeNet 1.0 as torchvision's, randomly initialised."""
    check_weights("squeezenet1_0", weights, kwargs)
    return SqueezeNet("1_0", **kwargs)


def squeezenet1_1(*, weights=None, progress=True, **kwargs):
    """SqueezeNet 1.1 (2.4x less computation than 1.0) as torchvision's."""
    check_weights("squeezenet1_1", weights, kwargs)
    return SqueezeNet("1_1", **kwargs)


def _shufflenet(name, repeats, channels, weights, kwargs):
    check_weights(name, weights, kwargs)
    return ShuffleNetV2(repeats, channels, **kwargs)


def shufflenet_v2_x0_5(*, weights=None, progress=True, **kwargs):
    """ShuffleNetV2 with 0.5x output channels, as torchvision's."""
    return _shufflenet("shufflenet_v2_x0_5", [4, 8, 4], [24, 48, 96, 192, 1024], weights,
                       kwargs)


def shufflenet_v2_x1_0(*, weights=None, progress=True, **kwargs):
    """ShuffleNetV2 with 1.0x output channels, as torchvision's."""
    return _shufflenet("shufflenet_v2_x1_0", [4, 8, 4], [24, 116, 232, 464, 1024], weights,
                       kwargs)


def shufflenet_v2_x1_5(*, weights=None, progress=True, **kwargs):
    """ShuffleNetV2 with 1.5x output channels, as torchvision's."""
    return _shufflenet("shufflenet_v2_x1_5", [4, 8, 4], [24, 176, 352, 704, 1024], weights,
                       kwargs)


def shufflenet_v2_x2_0(*, weights=None, progress=True, **kwargs):
    """ShuffleNetV2 with 2.0x output channels, as torchvision's."""
    return _shufflenet("shufflenet_v2_x2_0", [4, 8, 4], [24, 244, 488, 976, 2048], weights,
                       kwargs)
