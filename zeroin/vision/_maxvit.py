"""torchvision's MaxViT (``torchvision.models.maxvit_t``): a convolutional stem, then blocks
of ``MaxVitLayer`` (``MBConv`` with squeeze-excitation, window ("block") attention, grid
attention, each attention with a relative position bias), with torchvision's names,
initialisation and forward, so a state dict converted from torchvision's loads.

>>> attn = RelativePositionalMultiHeadAttention(8, 4, 9)
>>> attn(zeros(2, 4, 9, 8)).shape   # [B, groups, partition tokens, features]
zeroin.Size([2, 4, 9, 8])
"""
from __future__ import annotations

import math
from collections import OrderedDict
from functools import partial

import numpy as np

from .. import chunk, empty, nn, swapaxes, tensor, zeros  # noqa: F401  (zeros: the example)
from ..nn import functional as F
from ._efficientnet import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._presets import check_weights, weights_enum

__all__ = ["MaxVit", "maxvit_t", "MaxVit_T_Weights"]


def _get_conv_output_shape(input_size, kernel_size, stride, padding):
    return ((input_size[0] - kernel_size + 2 * padding) // stride + 1,
            (input_size[1] - kernel_size + 2 * padding) // stride + 1)


def _make_block_input_shapes(input_size, n_blocks):
    """The feature map size each block works at (after its stride-2 MBConv)."""
    shapes, shape = [], _get_conv_output_shape(input_size, 3, 2, 1)
    for _ in range(n_blocks):
        shape = _get_conv_output_shape(shape, 3, 2, 1)
        shapes.append(shape)
    return shapes


def _get_relative_position_index(height, width):
    """(h*w, h*w) indices into the (2h-1)(2w-1) table of relative offsets (int64)."""
    coords = np.stack(np.meshgrid(np.arange(height), np.arange(width), indexing="ij"))
    coords = coords.reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0).copy()
    rel[:, :, 0] += height - 1
    rel[:, :, 1] += width - 1
    rel[:, :, 0] *= 2 * width - 1
    return rel.sum(-1).astype(np.int64)


class MBConv(nn.Module):
    """``proj(x) + sd(layers(x))``; layers: pre_norm, 1x1 conv_a, 3x3 depthwise conv_b
    (the stride), squeeze_excitation (SiLU), 1x1 conv_c; proj: avg pool (stride 2) and a
    1x1 conv where the shape changes, else the identity."""

    def __init__(self, in_channels, out_channels, expansion_ratio, squeeze_ratio, stride,
                 activation_layer, norm_layer, p_stochastic_dropout=0.0):
        super().__init__()
        if stride != 1 or in_channels != out_channels:
            proj = [nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, bias=True)]
            if stride == 2:
                proj = [nn.AvgPool2d(kernel_size=3, stride=stride, padding=1)] + proj
            self.proj = nn.Sequential(*proj)
        else:
            self.proj = nn.Identity()
        mid, sqz = int(out_channels * expansion_ratio), int(out_channels * squeeze_ratio)
        self.stochastic_depth = StochasticDepth(p_stochastic_dropout, mode="row") \
            if p_stochastic_dropout else nn.Identity()
        layers = OrderedDict()
        layers["pre_norm"] = norm_layer(in_channels)
        layers["conv_a"] = Conv2dNormActivation(
            in_channels, mid, kernel_size=1, stride=1, padding=0,
            activation_layer=activation_layer, norm_layer=norm_layer, inplace=None)
        layers["conv_b"] = Conv2dNormActivation(
            mid, mid, kernel_size=3, stride=stride, padding=1, activation_layer=activation_layer,
            norm_layer=norm_layer, groups=mid, inplace=None)
        layers["squeeze_excitation"] = SqueezeExcitation(mid, sqz, activation=nn.SiLU)
        layers["conv_c"] = nn.Conv2d(mid, out_channels, kernel_size=1, bias=True)
        self.layers = nn.Sequential(layers)

    def forward(self, x):
        return self.proj(x) + self.stochastic_depth(self.layers(x))


class RelativePositionalMultiHeadAttention(nn.Module):
    """Self-attention within each group of [B, G, P, D] (``to_qkv``, ``merge``), plus a
    learnt ``relative_position_bias_table`` (truncated normal, std 0.02) read through the
    2-D ``relative_position_index`` buffer. As torchvision, the keys are scaled by
    feat_dim ** -0.5 (not head_dim ** -0.5)."""

    def __init__(self, feat_dim, head_dim, max_seq_len):
        super().__init__()
        if feat_dim % head_dim != 0:
            raise ValueError(f"RelativePositionalMultiHeadAttention: feat_dim: {feat_dim} must "
                             f"be divisible by head_dim: {head_dim}")
        self.n_heads, self.head_dim = feat_dim // head_dim, head_dim
        self.size, self.max_seq_len = int(math.sqrt(max_seq_len)), max_seq_len
        self.to_qkv = nn.Linear(feat_dim, self.n_heads * self.head_dim * 3)
        self.scale_factor = feat_dim ** -0.5
        self.merge = nn.Linear(self.head_dim * self.n_heads, feat_dim)
        self.relative_position_bias_table = nn.Parameter(
            empty((2 * self.size - 1) * (2 * self.size - 1), self.n_heads))
        self.register_buffer("relative_position_index",
                             tensor(_get_relative_position_index(self.size, self.size)))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def get_relative_positional_bias(self):
        index = self.relative_position_index.reshape(-1)
        bias = self.relative_position_bias_table[index]
        return bias.reshape(self.max_seq_len, self.max_seq_len, -1).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x):
        if x.dim() != 4 or x.shape[2] != self.max_seq_len:
            raise ValueError(f"RelativePositionalMultiHeadAttention: expected [B, G, "
                             f"{self.max_seq_len}, D] (its max_seq_len tokens per group), got "
                             f"shape {tuple(x.shape)}")
        b, g, p, d = x.shape
        h, dh = self.n_heads, self.head_dim
        q, k, v = (t.reshape(b, g, p, h, dh).permute(0, 1, 3, 2, 4)
                   for t in chunk(self.to_qkv(x), 3, dim=-1))
        k = k * self.scale_factor
        attn = F.softmax(q @ k.transpose(-2, -1) + self.get_relative_positional_bias(), dim=-1)
        out = (attn @ v).permute(0, 1, 3, 2, 4).reshape(b, g, p, d)
        return self.merge(out)


class SwapAxes(nn.Module):
    """``swapaxes(x, a, b)`` as a layer."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x):
        return swapaxes(x, self.a, self.b)


class WindowPartition(nn.Module):
    """[B, C, H, W] to [B, (H/p)(W/p), p*p, C]: the p x p windows."""

    def forward(self, x, p):
        b, c, h, w = x.shape
        x = x.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(b, (h // p) * (w // p), p * p, c)


class WindowDepartition(nn.Module):
    """[B, hp*wp, p*p, C] back to [B, C, hp*p, wp*p]."""

    def forward(self, x, p, h_partitions, w_partitions):
        b, _, _, c = x.shape
        x = x.reshape(b, h_partitions, w_partitions, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, h_partitions * p, w_partitions * p)


class PartitionAttentionLayer(nn.Module):
    """Attention within windows of partition_size ("window", MaxViT's block attention) or
    across a partition_size grid ("grid", dilated): partition, ``x + sd(attn_layer(x))``,
    ``x + sd(mlp_layer(x))`` (both pre-norm), departition. Takes [B, C, *grid_size]."""

    def __init__(self, in_channels, head_dim, partition_size, partition_type, grid_size,
                 mlp_ratio, activation_layer, norm_layer, attention_dropout, mlp_dropout,
                 p_stochastic_dropout):
        super().__init__()
        self.n_heads, self.head_dim = in_channels // head_dim, head_dim
        self.n_partitions = grid_size[0] // partition_size
        self.partition_type, self.grid_size = partition_type, grid_size
        if partition_type not in ["grid", "window"]:
            raise ValueError(f"PartitionAttentionLayer: partition_type must be either 'grid' "
                             f"or 'window', got {partition_type!r}")
        if partition_type == "window":
            self.p, self.g = partition_size, self.n_partitions
        else:
            self.p, self.g = self.n_partitions, partition_size
        self.partition_op, self.departition_op = WindowPartition(), WindowDepartition()
        grid = partition_type == "grid"
        self.partition_swap = SwapAxes(-2, -3) if grid else nn.Identity()
        self.departition_swap = SwapAxes(-2, -3) if grid else nn.Identity()
        self.attn_layer = nn.Sequential(
            norm_layer(in_channels),
            RelativePositionalMultiHeadAttention(in_channels, head_dim, partition_size ** 2),
            nn.Dropout(attention_dropout))
        self.mlp_layer = nn.Sequential(
            nn.LayerNorm(in_channels), nn.Linear(in_channels, in_channels * mlp_ratio),
            activation_layer(), nn.Linear(in_channels * mlp_ratio, in_channels),
            nn.Dropout(mlp_dropout))
        self.stochastic_dropout = StochasticDepth(p_stochastic_dropout, mode="row")

    def forward(self, x):
        gh, gw = self.grid_size[0] // self.p, self.grid_size[1] // self.p
        if self.grid_size[0] % self.p or self.grid_size[1] % self.p:
            raise ValueError(f"PartitionAttentionLayer: grid size must be divisible by "
                             f"partition size. Got grid size of {self.grid_size} and "
                             f"partition size of {self.p}")
        if x.dim() != 4 or tuple(x.shape[-2:]) != tuple(self.grid_size):
            raise ValueError(f"PartitionAttentionLayer: expected [B, C, {self.grid_size[0]}, "
                             f"{self.grid_size[1]}] (the grid_size it was built for; MaxVit's "
                             f"input_size sets it), got shape {tuple(x.shape)}")
        x = self.partition_swap(self.partition_op(x, self.p))
        x = x + self.stochastic_dropout(self.attn_layer(x))
        x = x + self.stochastic_dropout(self.mlp_layer(x))
        return self.departition_op(self.departition_swap(x), self.p, gh, gw)


class MaxVitLayer(nn.Module):
    """``layers``: ``MBconv``, ``window_attention``, ``grid_attention``."""

    def __init__(self, in_channels, out_channels, squeeze_ratio, expansion_ratio, stride,
                 norm_layer, activation_layer, head_dim, mlp_ratio, mlp_dropout,
                 attention_dropout, p_stochastic_dropout, partition_size, grid_size):
        super().__init__()
        layers = OrderedDict()
        layers["MBconv"] = MBConv(in_channels, out_channels, expansion_ratio, squeeze_ratio,
                                  stride, activation_layer, norm_layer, p_stochastic_dropout)
        for kind in ("window", "grid"):
            layers[f"{kind}_attention"] = PartitionAttentionLayer(
                out_channels, head_dim, partition_size, kind, grid_size, mlp_ratio,
                activation_layer, nn.LayerNorm, attention_dropout, mlp_dropout,
                p_stochastic_dropout)
        self.layers = nn.Sequential(layers)

    def forward(self, x):
        return self.layers(x)


class MaxVitBlock(nn.Module):
    """``n_layers`` MaxVitLayers (``layers``, a ModuleList), the first with stride 2."""

    def __init__(self, in_channels, out_channels, squeeze_ratio, expansion_ratio, norm_layer,
                 activation_layer, head_dim, mlp_ratio, mlp_dropout, attention_dropout,
                 partition_size, input_grid_size, n_layers, p_stochastic):
        super().__init__()
        if not len(p_stochastic) == n_layers:
            raise ValueError(f"MaxVitBlock: p_stochastic must have length n_layers={n_layers}, "
                             f"got p_stochastic={p_stochastic}.")
        self.layers = nn.ModuleList()
        self.grid_size = _get_conv_output_shape(input_grid_size, kernel_size=3, stride=2,
                                                padding=1)
        for idx, p in enumerate(p_stochastic):
            self.layers.append(MaxVitLayer(
                in_channels if idx == 0 else out_channels, out_channels, squeeze_ratio,
                expansion_ratio, 2 if idx == 0 else 1, norm_layer, activation_layer, head_dim,
                mlp_ratio, mlp_dropout, attention_dropout, p, partition_size, self.grid_size))

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def _check_input_size(input_size, n_blocks, partition_size):
    sizes = _make_block_input_shapes(input_size, n_blocks)
    for idx, size in enumerate(sizes):
        if size[0] % partition_size != 0 or size[1] % partition_size != 0:
            raise ValueError(
                f"MaxVit: Input size {size} of block {idx} is not divisible by partition size "
                f"{partition_size}. Consider changing the partition size or the input size.\n"
                f"Current configuration yields the following block input sizes: {sizes}.")


class MaxVit(nn.Module):
    """torchvision's ``MaxVit(input_size, stem_channels, partition_size, block_channels,
    block_layers, head_dim, stochastic_depth_prob, norm_layer=None, activation_layer=GELU,
    squeeze_ratio=0.25, expansion_ratio=4, mlp_ratio=4, mlp_dropout=0.0,
    attention_dropout=0.0, num_classes=1000)``: ``stem``, ``blocks``, ``classifier``; it
    takes images of ``input_size`` (or of a size with the same feature map sizes). Conv and
    Linear weights normal (std 0.02), biases 0; BatchNorm2d(eps=1e-3, momentum=0.99) as
    torchvision's."""

    def __init__(self, input_size, stem_channels, partition_size, block_channels,
                 block_layers, head_dim, stochastic_depth_prob, norm_layer=None,
                 activation_layer=nn.GELU, squeeze_ratio=0.25, expansion_ratio=4, mlp_ratio=4,
                 mlp_dropout=0.0, attention_dropout=0.0, num_classes=1000):
        super().__init__()
        if norm_layer is None:
            norm_layer = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99)
        _check_input_size(input_size, len(block_channels), partition_size)
        self.stem = nn.Sequential(
            Conv2dNormActivation(3, stem_channels, 3, stride=2, norm_layer=norm_layer,
                                 activation_layer=activation_layer, bias=False, inplace=None),
            Conv2dNormActivation(stem_channels, stem_channels, 3, stride=1, norm_layer=None,
                                 activation_layer=None, bias=True))
        input_size = _get_conv_output_shape(input_size, kernel_size=3, stride=2, padding=1)
        self.partition_size = partition_size
        self.blocks = nn.ModuleList()
        p_stochastic = np.linspace(0, stochastic_depth_prob, sum(block_layers)).tolist()
        p_idx = 0
        for in_ch, out_ch, n in zip([stem_channels] + block_channels[:-1], block_channels,
                                    block_layers):
            self.blocks.append(MaxVitBlock(
                in_ch, out_ch, squeeze_ratio, expansion_ratio, norm_layer, activation_layer,
                head_dim, mlp_ratio, mlp_dropout, attention_dropout, partition_size,
                input_size, n, p_stochastic[p_idx:p_idx + n]))
            input_size, p_idx = self.blocks[-1].grid_size, p_idx + n
        last = block_channels[-1]
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(last), nn.Linear(last, last),
            nn.Tanh(), nn.Linear(last, num_classes, bias=False))
        self._init_weights()

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.classifier(x)

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)


MaxVit_T_Weights = weights_enum("MaxVit_T_Weights", {"IMAGENET1K_V1": (224, 224, "BICUBIC")},
                                "IMAGENET1K_V1")


def maxvit_t(*, weights=None, progress=True, **kwargs):
    """MaxViT-T as torchvision's (partition 7, stochastic depth 0.2), randomly initialised;
    ``input_size=(224, 224)`` unless given (the only size it then takes)."""
    check_weights("maxvit_t", weights, kwargs)
    return MaxVit(stem_channels=64, block_channels=[64, 128, 256, 512], block_layers=[2, 2, 5, 2],
                  head_dim=32, stochastic_depth_prob=0.2, partition_size=7,
                  input_size=kwargs.pop("input_size", (224, 224)), **kwargs)
