"""torchvision's ResNets (``torchvision.models.resnet18`` ... ``resnet152``), ResNeXts and
wide ResNets: ``BasicBlock``, ``Bottleneck`` (the stride on the 3x3, "ResNet V1.5") and
``ResNet`` with torchvision's names, initialisation and forward, so a state dict converted
from torchvision's loads with ``load_state_dict``.

>>> model = ResNet(Bottleneck, [3, 4, 6, 3])
>>> model.layer1[0].downsample[0].weight.shape, sum(p.numel() for p in model.parameters())
(zeroin.Size([256, 64, 1, 1]), 25557032)
"""
from __future__ import annotations

from .. import flatten, nn
from ._presets import check_weights, fix_kwarg, weights_enum

__all__ = ["Bottleneck", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
           "resnext101_32x8d", "resnext101_64x4d", "wide_resnet50_2", "wide_resnet101_2",
           "ResNet50_Weights", "ResNet101_Weights", "ResNet152_Weights",
           "ResNeXt50_32X4D_Weights", "ResNeXt101_32X8D_Weights", "ResNeXt101_64X4D_Weights",
           "Wide_ResNet50_2_Weights", "Wide_ResNet101_2_Weights"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding (no bias: a norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution (no bias)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a skip connection (torchvision's)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock only supports groups=1 and base_width=64, got "
                             f"groups={groups}, base_width={base_width}; use Bottleneck")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (to ``width``), 3x3 (stride, groups, dilation), 1x1 (to 4 x planes), each with
    batch norm, and a skip connection; ``width = planes * base_width / 64 * groups``."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ``ResNet(block, layers, num_classes=1000, zero_init_residual=False,
    groups=1, width_per_group=64, replace_stride_with_dilation=None, norm_layer=None)``."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        self._norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes, self.dilation = 64, 1
        dilate = [False] * 3 if replace_stride_with_dilation is None else \
            list(replace_stride_with_dilation)
        if len(dilate) != 3:
            raise ValueError(f"ResNet: replace_stride_with_dilation should be None or a "
                             f"3-element tuple, got {replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        norm_layer, downsample, previous_dilation = self._norm_layer, None, self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=norm_layer)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x), 1))


def _v1_v2(name, v2_resize=232):
    """torchvision's ImageNet weights: V1 (resize 256) and, the DEFAULT, V2 (resize 232)."""
    return weights_enum(name, {"IMAGENET1K_V1": (224, 256, "BILINEAR"),
                               "IMAGENET1K_V2": (224, v2_resize, "BILINEAR")}, "IMAGENET1K_V2")


ResNet50_Weights = _v1_v2("ResNet50_Weights")
ResNet101_Weights = _v1_v2("ResNet101_Weights")
ResNet152_Weights = _v1_v2("ResNet152_Weights")
ResNeXt50_32X4D_Weights = _v1_v2("ResNeXt50_32X4D_Weights")
ResNeXt101_32X8D_Weights = _v1_v2("ResNeXt101_32X8D_Weights")
ResNeXt101_64X4D_Weights = weights_enum("ResNeXt101_64X4D_Weights",
                                        {"IMAGENET1K_V1": (224, 232, "BILINEAR")},
                                        "IMAGENET1K_V1")
Wide_ResNet50_2_Weights = _v1_v2("Wide_ResNet50_2_Weights")
Wide_ResNet101_2_Weights = _v1_v2("Wide_ResNet101_2_Weights")


def _resnet(name, block, layers, weights, kwargs, **fixed):
    check_weights(name, weights, kwargs)
    for key, value in fixed.items():
        fix_kwarg(kwargs, key, value, name)
    return ResNet(block, layers, **kwargs)


def resnet50(*, weights=None, progress=True, **kwargs):
    """ResNet-50 as torchvision's (the transfer-learning tutorials' model), randomly
    initialised; ``ResNet50_Weights.DEFAULT.transforms()`` is its preset."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, kwargs)


def resnet101(*, weights=None, progress=True, **kwargs):
    """ResNet-101 as torchvision's, randomly initialised."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, kwargs)


def resnet152(*, weights=None, progress=True, **kwargs):
    """ResNet-152 as torchvision's, randomly initialised."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, kwargs)


def resnext50_32x4d(*, weights=None, progress=True, **kwargs):
    """ResNeXt-50 32x4d as torchvision's (groups=32, width_per_group=4)."""
    return _resnet("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], weights, kwargs, groups=32,
                   width_per_group=4)


def resnext101_32x8d(*, weights=None, progress=True, **kwargs):
    """ResNeXt-101 32x8d as torchvision's (groups=32, width_per_group=8)."""
    return _resnet("resnext101_32x8d", Bottleneck, [3, 4, 23, 3], weights, kwargs, groups=32,
                   width_per_group=8)


def resnext101_64x4d(*, weights=None, progress=True, **kwargs):
    """ResNeXt-101 64x4d as torchvision's (groups=64, width_per_group=4)."""
    return _resnet("resnext101_64x4d", Bottleneck, [3, 4, 23, 3], weights, kwargs, groups=64,
                   width_per_group=4)


def wide_resnet50_2(*, weights=None, progress=True, **kwargs):
    """Wide ResNet-50-2 as torchvision's (bottlenecks twice as wide: width_per_group=128)."""
    return _resnet("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], weights, kwargs,
                   width_per_group=128)


def wide_resnet101_2(*, weights=None, progress=True, **kwargs):
    """Wide ResNet-101-2 as torchvision's (width_per_group=128)."""
    return _resnet("wide_resnet101_2", Bottleneck, [3, 4, 23, 3], weights, kwargs,
                   width_per_group=128)
