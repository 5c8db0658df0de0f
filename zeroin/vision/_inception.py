"""torchvision's GoogLeNet and Inception v3 (``torchvision.models.googlenet``,
``inception_v3``): ``BasicConv2d`` (conv, batch norm eps 1e-3, ReLU), the Inception blocks
and the auxiliary classifiers (``aux1``/``aux2``, ``AuxLogits``), with torchvision's names,
initialisation (truncated normal) and forward, so a state dict converted from torchvision's
loads. In training with ``aux_logits`` the forward returns ``(logits, aux...)`` namedtuples.

>>> sum(p.numel() for p in inception_v3().parameters())
27161264
"""
from __future__ import annotations

from collections import namedtuple

from .. import cat, flatten, nn
from ..nn import functional as F
from ._presets import check_weights, weights_enum

__all__ = ["GoogLeNet", "Inception3", "GoogLeNetOutputs", "InceptionOutputs", "googlenet",
           "inception_v3", "GoogLeNet_Weights", "Inception_V3_Weights"]

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])
InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])


class BasicConv2d(nn.Module):
    """Conv2d (no bias), BatchNorm2d (eps 0.001), ReLU."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _transform_input(x):
    """Map ImageNet-normalised input to the (x - 0.5) / 0.5 scaling Google's weights
    expect (``transform_input=True``)."""
    chans = [x[:, c:c + 1] * (s / 0.5) + (m - 0.5) / 0.5
             for c, (m, s) in enumerate(((0.485, 0.229), (0.456, 0.224), (0.406, 0.225)))]
    return cat(chans, 1)


def _trunc_normal_init(model):
    """torchvision's loop: conv and linear weights truncated normal (std ``m.stddev`` where
    the module has one, else ``default``; cut at +-2), batch norms 1 and 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            std = float(getattr(m, "stddev", model._init_std))
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)


class Inception(nn.Module):
    """GoogLeNet's block: 1x1; 1x1 then 3x3; 1x1 then 3x3 (torchvision's, where the paper
    has 5x5); 3x3 max pool then 1x1; concatenated."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNetAux(nn.Module):
    """GoogLeNet's auxiliary classifier: 4x4 average, 1x1 conv to 128, fc1 (2048 -> 1024,
    ReLU), dropout, fc2."""

    def __init__(self, in_channels, num_classes, dropout=0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x), inplace=True)))


_GOOGLENET = [("inception3a", (192, 64, 96, 128, 16, 32, 32)),
              ("inception3b", (256, 128, 128, 192, 32, 96, 64)), ("maxpool3", 3),
              ("inception4a", (480, 192, 96, 208, 16, 48, 64)),
              ("inception4b", (512, 160, 112, 224, 24, 64, 64)),
              ("inception4c", (512, 128, 128, 256, 24, 64, 64)),
              ("inception4d", (512, 112, 144, 288, 32, 64, 64)),
              ("inception4e", (528, 256, 160, 320, 32, 128, 128)), ("maxpool4", 2),
              ("inception5a", (832, 256, 160, 320, 32, 128, 128)),
              ("inception5b", (832, 384, 192, 384, 48, 128, 128))]


class GoogLeNet(nn.Module):
    """torchvision's ``GoogLeNet(num_classes=1000, aux_logits=True, transform_input=False,
    init_weights=None, dropout=0.2, dropout_aux=0.7)`` (``init_weights=None`` initialises,
    as torchvision does, without its FutureWarning)."""
    _init_std = 0.01

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 init_weights=None, dropout=0.2, dropout_aux=0.7):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, spec in _GOOGLENET:
            setattr(self, name, nn.MaxPool2d(spec, stride=2, ceil_mode=True)
                    if isinstance(spec, int) else Inception(*spec))
        self.aux1 = GoogLeNetAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = GoogLeNetAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights or init_weights is None:
            _trunc_normal_init(self)

    def forward(self, x):
        x = _transform_input(x) if self.transform_input else x
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.inception4a(self.maxpool3(self.inception3b(self.inception3a(x))))
        aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if aux else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        x = self.fc(self.dropout(flatten(self.avgpool(x), 1)))
        return GoogLeNetOutputs(x, aux2, aux1) if self.training and self.aux_logits else x


def _avg3(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)


class InceptionA(nn.Module):
    """Inception v3's 35x35 block: 1x1; 1x1 then 5x5; 1x1, 3x3, 3x3; avg pool then 1x1."""

    def __init__(self, in_channels, pool_features):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)), b3,
                    self.branch_pool(_avg3(x))], 1)


class InceptionB(nn.Module):
    """Inception v3's grid reduction 35 -> 17: 3x3 stride 2; 1x1, 3x3, 3x3 stride 2; max."""

    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return cat([self.branch3x3(x), b3, F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionC(nn.Module):
    """Inception v3's 17x17 block with factorised 1x7 / 7x1 convolutions."""

    def __init__(self, in_channels, channels_7x7):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = x
        for i in range(1, 6):
            bd = getattr(self, f"branch7x7dbl_{i}")(bd)
        return cat([self.branch1x1(x), b7, bd, self.branch_pool(_avg3(x))], 1)


class InceptionD(nn.Module):
    """Inception v3's grid reduction 17 -> 8."""

    def __init__(self, in_channels):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b7 = x
        for i in range(1, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return cat([self.branch3x3_2(self.branch3x3_1(x)), b7,
                    F.max_pool2d(x, kernel_size=3, stride=2)], 1)


class InceptionE(nn.Module):
    """Inception v3's 8x8 block with the 1x3 / 3x1 splits concatenated."""

    def __init__(self, in_channels):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        return cat([self.branch1x1(x), b3, bd, self.branch_pool(_avg3(x))], 1)


class InceptionAux(nn.Module):
    """Inception v3's auxiliary classifier on the 17x17 grid (``conv1.stddev = 0.01`` sits
    on the BasicConv2d, so, as in torchvision, the init loop does not see it)."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.conv1.stddev = 0.01
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x):
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))


_INCEPTION3 = [("Mixed_5b", InceptionA, (192, 32)), ("Mixed_5c", InceptionA, (256, 64)),
               ("Mixed_5d", InceptionA, (288, 64)), ("Mixed_6a", InceptionB, (288,)),
               ("Mixed_6b", InceptionC, (768, 128)), ("Mixed_6c", InceptionC, (768, 160)),
               ("Mixed_6d", InceptionC, (768, 160)), ("Mixed_6e", InceptionC, (768, 192))]


class Inception3(nn.Module):
    """torchvision's ``Inception3(num_classes=1000, aux_logits=True, transform_input=False,
    init_weights=None, dropout=0.5)``; input at least 75x75, and 299x299 in training with
    ``aux_logits`` (the auxiliary head's 5x5 conv needs the 17x17 grid)."""
    _init_std = 0.1

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 init_weights=None, dropout=0.5):
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        for name, block, args in _INCEPTION3:
            setattr(self, name, block(*args))
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights or init_weights is None:
            _trunc_normal_init(self)

    def forward(self, x):
        x = _transform_input(x) if self.transform_input else x
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(self.maxpool1(x))))
        for name, _, _ in _INCEPTION3:
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(flatten(self.dropout(self.avgpool(x)), 1))
        return InceptionOutputs(x, aux) if self.training and self.aux_logits else x


GoogLeNet_Weights = weights_enum("GoogLeNet_Weights", {"IMAGENET1K_V1": (224, 256, "BILINEAR")},
                                 "IMAGENET1K_V1")
Inception_V3_Weights = weights_enum("Inception_V3_Weights",
                                    {"IMAGENET1K_V1": (299, 342, "BILINEAR")}, "IMAGENET1K_V1")


def googlenet(*, weights=None, progress=True, **kwargs):
    """GoogLeNet (Inception v1) as torchvision's, randomly initialised; ``aux_logits``
    defaults to True (``aux1``, ``aux2``), as torchvision's without weights."""
    check_weights("googlenet", weights, kwargs)
    return GoogLeNet(**kwargs)


def inception_v3(*, weights=None, progress=True, **kwargs):
    """Inception v3 as torchvision's (``aux_logits=True``, ``transform_input=False`` without
    weights), randomly initialised; ``Inception_V3_Weights.DEFAULT.transforms()`` crops 299."""
    check_weights("inception_v3", weights, kwargs)
    return Inception3(**kwargs)
