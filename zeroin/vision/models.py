"""torchvision's ResNet-18 and ResNet-34 (``torchvision.models.resnet18``): the same layers,
names, initialisation and forward, so a state dict converted from torchvision's loads with
``load_state_dict``. No pretrained weights: zeroin neither downloads nor unpickles, so
``weights=ResNet18_Weights.DEFAULT`` is an error that says how to convert them once.

>>> model = resnet18()
>>> model.fc.in_features, sum(p.numel() for p in model.parameters())
(512, 11689512)
"""
from __future__ import annotations

import enum

from .. import flatten, nn

__all__ = ["ResNet", "BasicBlock", "resnet18", "resnet34", "ResNet18_Weights",
           "ResNet34_Weights"]


def _conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def _conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a skip connection (torchvision's)."""
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ``ResNet(block, layers, num_classes=1000, zero_init_residual=False)``."""

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(_conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(flatten(self.avgpool(x), 1))


class ResNet18_Weights(enum.Enum):
    """torchvision's weight names; zeroin has no weights behind them (see ``resnet18``)."""
    IMAGENET1K_V1 = "IMAGENET1K_V1"
    DEFAULT = "IMAGENET1K_V1"


class ResNet34_Weights(enum.Enum):
    """torchvision's weight names; zeroin has no weights behind them (see ``resnet34``)."""
    IMAGENET1K_V1 = "IMAGENET1K_V1"
    DEFAULT = "IMAGENET1K_V1"


def _no_weights(name, weights):
    file = f"{name}.safetensors"
    shown = weights if isinstance(weights, enum.Enum) else repr(weights)
    return NotImplementedError(
        f"{name}(weights={shown}): zeroin has no pretrained weights (it neither downloads "
        f"nor unpickles torchvision's file). Convert them once, in PyTorch:\n"
        f"    from safetensors.torch import save_file; import torchvision\n"
        f"    save_file(torchvision.models.{name}(weights='DEFAULT').state_dict(), {file!r})\n"
        f"then: model = zeroin.vision.models.{name}(); "
        f"model.load_state_dict(zeroin.safetensors.load_file({file!r}))")


def _resnet(name, layers, weights, progress, kwargs):
    if kwargs.pop("pretrained", False):
        weights = "DEFAULT"
    if weights is not None:
        raise _no_weights(name, weights)
    return ResNet(BasicBlock, layers, **kwargs)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18 as torchvision's (``num_classes=1000``), randomly initialised."""
    return _resnet("resnet18", [2, 2, 2, 2], weights, progress, kwargs)


def resnet34(*, weights=None, progress=True, **kwargs):
    """ResNet-34 as torchvision's (``num_classes=1000``), randomly initialised."""
    return _resnet("resnet34", [3, 4, 6, 3], weights, progress, kwargs)
