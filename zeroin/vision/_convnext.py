"""torchvision's ConvNeXt tiny/small/base/large (``torchvision.models.convnext_tiny`` ...):
``CNBlock`` (7x7 depthwise conv, LayerNorm, MLP, layer scale, stochastic depth),
``LayerNorm2d`` downsampling, torchvision's names, initialisation and forward, so a state
dict converted from torchvision's loads with ``load_state_dict``.

>>> sum(p.numel() for p in convnext_tiny().parameters())
28589128
"""
from __future__ import annotations

from functools import partial

from .. import nn, ones
from ..nn import functional as F
from ._efficientnet import Conv2dNormActivation, StochasticDepth
from ._presets import check_weights, weights_enum

__all__ = ["ConvNeXt", "CNBlockConfig", "LayerNorm2d", "convnext_tiny", "convnext_small",
           "convnext_base", "convnext_large", "ConvNeXt_Tiny_Weights",
           "ConvNeXt_Small_Weights", "ConvNeXt_Base_Weights", "ConvNeXt_Large_Weights"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a layer (torchvision.ops.misc.Permute)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return x.permute(*self.dims)


class CNBlock(nn.Module):
    """``input + stochastic_depth(layer_scale * block(input))``; block: 7x7 depthwise conv,
    channels last, LayerNorm, Linear to 4x, GELU, Linear back, channels first."""

    def __init__(self, dim, layer_scale, stochastic_depth_prob, norm_layer=None):
        super().__init__()
        norm_layer = partial(nn.LayerNorm, eps=1e-6) if norm_layer is None else norm_layer
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]), norm_layer(dim), nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(), nn.Linear(4 * dim, dim, bias=True), Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):  # noqa: A002
        return self.stochastic_depth(self.layer_scale * self.block(input)) + input


class CNBlockConfig:
    """One stage: its width, the next stage's (None for the last) and its block count."""

    def __init__(self, input_channels, out_channels, num_layers):
        self.input_channels, self.out_channels = input_channels, out_channels
        self.num_layers = num_layers

    def __repr__(self):
        return (f"CNBlockConfig(input_channels={self.input_channels}, "
                f"out_channels={self.out_channels}, num_layers={self.num_layers})")


class ConvNeXt(nn.Module):
    """torchvision's ``ConvNeXt(block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6,
    num_classes=1000, block=None, norm_layer=None)``: ``features`` (patchify stem, stages
    and downsamplings), ``avgpool``, ``classifier`` (LayerNorm2d, Flatten, Linear); conv and
    linear weights truncated normal (std 0.02), biases zero."""

    def __init__(self, block_setting, stochastic_depth_prob=0.0, layer_scale=1e-6,
                 num_classes=1000, block=None, norm_layer=None, **kwargs):
        super().__init__()
        if not block_setting or not all(isinstance(s, CNBlockConfig) for s in block_setting):
            raise TypeError("ConvNeXt: block_setting should be a non-empty list of "
                            "CNBlockConfig")
        block = CNBlock if block is None else block
        norm_layer = partial(LayerNorm2d, eps=1e-6) if norm_layer is None else norm_layer
        layers = [Conv2dNormActivation(3, block_setting[0].input_channels, kernel_size=4,
                                       stride=4, padding=0, norm_layer=norm_layer,
                                       activation_layer=None, bias=True)]
        total, block_id = sum(cnf.num_layers for cnf in block_setting), 0
        for cnf in block_setting:
            stage = []
            for _ in range(cnf.num_layers):
                sd_prob = stochastic_depth_prob * block_id / (total - 1.0)
                stage.append(block(cnf.input_channels, layer_scale, sd_prob))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cnf.out_channels is not None:
                layers.append(nn.Sequential(
                    norm_layer(cnf.input_channels),
                    nn.Conv2d(cnf.input_channels, cnf.out_channels, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1]
        last = last.input_channels if last.out_channels is None else last.out_channels
        self.classifier = nn.Sequential(norm_layer(last), nn.Flatten(1),
                                        nn.Linear(last, num_classes))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)))


def _v1(name, resize):
    return weights_enum(name, {"IMAGENET1K_V1": (224, resize, "BILINEAR")}, "IMAGENET1K_V1")


ConvNeXt_Tiny_Weights = _v1("ConvNeXt_Tiny_Weights", 236)
ConvNeXt_Small_Weights = _v1("ConvNeXt_Small_Weights", 230)
ConvNeXt_Base_Weights = _v1("ConvNeXt_Base_Weights", 232)
ConvNeXt_Large_Weights = _v1("ConvNeXt_Large_Weights", 232)


def _convnext(name, widths, depths, sd_prob, weights, kwargs):
    check_weights(name, weights, kwargs)
    setting = [CNBlockConfig(w, nxt, d)
               for w, nxt, d in zip(widths, list(widths[1:]) + [None], depths)]
    return ConvNeXt(setting, stochastic_depth_prob=kwargs.pop("stochastic_depth_prob",
                                                              sd_prob), **kwargs)


def convnext_tiny(*, weights=None, progress=True, **kwargs):
    """ConvNeXt-Tiny as torchvision's (stochastic depth 0.1), randomly initialised."""
    return _convnext("convnext_tiny", (96, 192, 384, 768), (3, 3, 9, 3), 0.1, weights, kwargs)


def convnext_small(*, weights=None, progress=True, **kwargs):
    """ConvNeXt-Small as torchvision's (stochastic depth 0.4), randomly initialised."""
    return _convnext("convnext_small", (96, 192, 384, 768), (3, 3, 27, 3), 0.4, weights,
                     kwargs)


def convnext_base(*, weights=None, progress=True, **kwargs):
    """ConvNeXt-Base as torchvision's (stochastic depth 0.5), randomly initialised."""
    return _convnext("convnext_base", (128, 256, 512, 1024), (3, 3, 27, 3), 0.5, weights,
                     kwargs)


def convnext_large(*, weights=None, progress=True, **kwargs):
    """ConvNeXt-Large as torchvision's (stochastic depth 0.5), randomly initialised."""
    return _convnext("convnext_large", (192, 384, 768, 1536), (3, 3, 27, 3), 0.5, weights,
                     kwargs)
