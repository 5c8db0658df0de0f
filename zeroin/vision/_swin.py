"""torchvision's Swin Transformer and Swin Transformer V2 (``torchvision.models.swin_t``,
``swin_s``, ``swin_b``, ``swin_v2_t``, ``swin_v2_s``, ``swin_v2_b``): patch embedding,
``SwinTransformerBlock`` stages of (shifted) window attention with a relative position bias,
``PatchMerging`` downsampling, with torchvision's names, initialisation and forward, so a
state dict converted from torchvision's loads with ``load_state_dict``.

>>> attn = ShiftedWindowAttention(8, [4, 4], [2, 2], num_heads=2)
>>> attn(zeros(1, 6, 6, 8)).shape   # padded to 8x8, rolled, windowed, rolled back, cropped
zeroin.Size([1, 6, 6, 8])
"""
from __future__ import annotations

import math
from functools import partial

import numpy as np

from .. import cat, get_default_dtype, log, nn, no_grad, ones, roll, sigmoid, tensor, zeros
from ..nn import functional as F
from ._convnext import Permute
from ._efficientnet import StochasticDepth
from ._presets import check_weights, weights_enum

__all__ = ["SwinTransformer", "swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s",
           "swin_v2_b", "Swin_T_Weights", "Swin_S_Weights", "Swin_B_Weights",
           "Swin_V2_T_Weights", "Swin_V2_S_Weights", "Swin_V2_B_Weights"]


def _patch_merging_pad(x):
    """Pad H and W (of [..., H, W, C]) to even sizes; the 2x2 neighbours side by side."""
    h, w = x.shape[-3], x.shape[-2]
    x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
    return cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                x[..., 1::2, 1::2, :]], -1)


class PatchMerging(nn.Module):
    """[..., H, W, C] to [..., H/2, W/2, 2C]: the 2x2 neighbours concatenated, LayerNorm over
    4C, a Linear to 2C without bias."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(4 * dim)

    def forward(self, x):
        return self.reduction(self.norm(_patch_merging_pad(x)))


class PatchMergingV2(nn.Module):
    """Swin V2's: the Linear first, then LayerNorm over 2C."""

    def __init__(self, dim, norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim = dim
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = norm_layer(2 * dim)

    def forward(self, x):
        return self.norm(self.reduction(_patch_merging_pad(x)))


def _relative_position_index(wh, ww):
    """(wh*ww)**2 indices into the (2wh-1)(2ww-1) table of relative offsets (int64)."""
    coords = np.stack(np.meshgrid(np.arange(wh), np.arange(ww), indexing="ij")).reshape(2, -1)
    rel = (coords[:, :, None] - coords[:, None, :]).transpose(1, 2, 0).copy()
    rel[:, :, 0] += wh - 1
    rel[:, :, 1] += ww - 1
    rel[:, :, 0] *= 2 * ww - 1
    return rel.sum(-1).reshape(-1).astype(np.int64)


def _relative_position_bias(table, index, window_size):
    n = window_size[0] * window_size[1]
    return table[index].reshape(n, n, -1).permute(2, 0, 1).unsqueeze(0)


def _attention_mask(pad_h, pad_w, window_size, shift_size):
    """(windows, N, N): 0 within a region of the rolled map, -100 across regions."""
    mask = np.zeros((pad_h, pad_w))
    (wh, ww), (sh, sw) = window_size, shift_size
    count = 0
    for h in ((0, -wh), (-wh, -sh), (-sh, None)):
        for w in ((0, -ww), (-ww, -sw), (-sw, None)):
            mask[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    mask = mask.reshape(pad_h // wh, wh, pad_w // ww, ww).transpose(0, 2, 1, 3)
    mask = mask.reshape(-1, wh * ww)
    return np.where(mask[:, None, :] - mask[:, :, None] != 0, -100.0, 0.0)


def _check_window_input(input, qkv_weight, window_size, shift_size, num_heads):
    if input.dim() != 4:
        raise ValueError(f"shifted_window_attention: expected input [B, H, W, C], got shape "
                         f"{tuple(input.shape)} (Swin's blocks take channels last)")
    c = input.shape[-1]
    if c % num_heads or qkv_weight.shape != (3 * c, c):
        raise ValueError(f"shifted_window_attention: input has C={c} channels but qkv_weight "
                         f"is {tuple(qkv_weight.shape)} and num_heads={num_heads}; expected "
                         f"qkv_weight ({3 * c}, {c}) and C divisible by num_heads")
    if len(window_size) != 2 or len(shift_size) != 2:
        raise ValueError(f"shifted_window_attention: window_size and shift_size must be of "
                         f"length 2, got {window_size} and {shift_size}")


def _window_logits(x, qkv_weight, qkv_bias, num_heads, logit_scale):
    """q.k^T scaled (V1) or cosine similarity times exp(min(logit_scale, log 100)) (V2)."""
    n, length, c = x.shape
    if logit_scale is not None and qkv_bias is not None:   # V2: no key bias
        keep = np.ones(qkv_bias.shape[0])
        keep[qkv_bias.shape[0] // 3:2 * qkv_bias.shape[0] // 3] = 0.0
        qkv_bias = qkv_bias * tensor(keep, dtype=qkv_bias.dtype)
    qkv = F.linear(x, qkv_weight, qkv_bias)
    qkv = qkv.reshape(n, length, 3, num_heads, c // num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    if logit_scale is not None:
        attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
        return attn * logit_scale.clamp(max=math.log(100.0)).exp(), v
    return (q * (c // num_heads) ** -0.5) @ k.transpose(-2, -1), v


def shifted_window_attention(input, qkv_weight, proj_weight, relative_position_bias,  # noqa: A002
                             window_size, num_heads, shift_size, attention_dropout=0.0,
                             dropout=0.0, qkv_bias=None, proj_bias=None, logit_scale=None,
                             training=True):
    """torchvision's window attention on [B, H, W, C]: pad H and W to multiples of the
    window, roll by -shift_size (no shift where the window covers the map), attend within
    each window (plus the relative position bias; -100 across the rolled regions), project,
    roll back, crop. ``logit_scale`` makes it Swin V2's cosine attention."""
    _check_window_input(input, qkv_weight, window_size, shift_size, num_heads)
    b, h, w, c = input.shape
    (wh, ww), shift_size = window_size, list(shift_size)
    x = F.pad(input, (0, 0, 0, (ww - w % ww) % ww, 0, (wh - h % wh) % wh))
    pad_h, pad_w = x.shape[1], x.shape[2]
    if wh >= pad_h:
        shift_size[0] = 0
    if ww >= pad_w:
        shift_size[1] = 0
    shifted = sum(shift_size) > 0
    if shifted:
        x = roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    windows = (pad_h // wh) * (pad_w // ww)
    x = x.reshape(b, pad_h // wh, wh, pad_w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b * windows, wh * ww, c)
    attn, v = _window_logits(x, qkv_weight, qkv_bias, num_heads, logit_scale)
    attn = attn + relative_position_bias
    if shifted:
        mask = tensor(_attention_mask(pad_h, pad_w, window_size, shift_size), dtype=attn.dtype)
        attn = attn.reshape(b, windows, num_heads, wh * ww, wh * ww) + mask.unsqueeze(1)
        attn = attn.reshape(-1, num_heads, wh * ww, wh * ww)
    attn = F.dropout(F.softmax(attn, dim=-1), p=attention_dropout, training=training)
    x = (attn @ v).transpose(1, 2).reshape(b * windows, wh * ww, c)
    x = F.dropout(F.linear(x, proj_weight, proj_bias), p=dropout, training=training)
    x = x.reshape(b, pad_h // wh, pad_w // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(b, pad_h, pad_w, c)
    if shifted:
        x = roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x[:, :h, :w, :]


class ShiftedWindowAttention(nn.Module):
    """Swin's (shifted) window multi-head self-attention on [B, H, W, C]: ``qkv``, ``proj``,
    a learnt ``relative_position_bias_table`` (truncated normal, std 0.02) read through the
    ``relative_position_index`` buffer."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__()
        if len(window_size) != 2 or len(shift_size) != 2:
            raise ValueError(f"ShiftedWindowAttention: window_size and shift_size must be of "
                             f"length 2, got {window_size} and {shift_size}")
        self.window_size, self.shift_size = window_size, shift_size
        self.num_heads = num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        self.define_relative_position_bias_table()
        self.define_relative_position_index()

    def define_relative_position_bias_table(self):
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            zeros((2 * wh - 1) * (2 * ww - 1), self.num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def define_relative_position_index(self):
        self.register_buffer("relative_position_index",
                             tensor(_relative_position_index(*self.window_size)))

    def get_relative_position_bias(self):
        return _relative_position_bias(self.relative_position_bias_table,
                                       self.relative_position_index, self.window_size)

    def _attend(self, x, logit_scale=None):
        return shifted_window_attention(
            x, self.qkv.weight, self.proj.weight, self.get_relative_position_bias(),
            self.window_size, self.num_heads, shift_size=self.shift_size,
            attention_dropout=self.attention_dropout, dropout=self.dropout,
            qkv_bias=self.qkv.bias, proj_bias=self.proj.bias, logit_scale=logit_scale,
            training=self.training)

    def forward(self, x):
        return self._attend(x)


def _log_spaced_coords(wh, ww):
    """Swin V2's (1, 2wh-1, 2ww-1, 2) relative offsets scaled to [-8, 8], then
    sign(t) * log2(|t| + 1) / 3 (computed in float32, as torchvision)."""
    h = np.arange(-(wh - 1), wh, dtype=np.float32)
    w = np.arange(-(ww - 1), ww, dtype=np.float32)
    table = np.stack(np.meshgrid(h, w, indexing="ij")).transpose(1, 2, 0)[None].copy()
    table[..., 0] /= np.float32(wh - 1)
    table[..., 1] /= np.float32(ww - 1)
    table *= np.float32(8)
    return np.sign(table) * np.log2(np.abs(table) + np.float32(1.0)) / np.float32(3.0)


class ShiftedWindowAttentionV2(ShiftedWindowAttention):
    """Swin V2's: cosine attention scaled by the learnt ``logit_scale`` (log 10 at start,
    clamped at log 100), a continuous position bias (``cpb_mlp`` on the log-spaced
    ``relative_coords_table``, 16 * sigmoid), no bias on the keys."""

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0):
        super().__init__(dim, window_size, shift_size, num_heads, qkv_bias=qkv_bias,
                         proj_bias=proj_bias, attention_dropout=attention_dropout,
                         dropout=dropout)
        self.logit_scale = nn.Parameter(log(10 * ones(num_heads, 1, 1)))
        self.cpb_mlp = nn.Sequential(nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True),
                                     nn.Linear(512, num_heads, bias=False))
        if qkv_bias:
            length = self.qkv.bias.numel() // 3
            with no_grad():
                self.qkv.bias[length:2 * length] = 0.0

    def define_relative_position_bias_table(self):
        table = _log_spaced_coords(*self.window_size)
        self.register_buffer("relative_coords_table", tensor(table, dtype=get_default_dtype()))

    def get_relative_position_bias(self):
        table = self.cpb_mlp(self.relative_coords_table).reshape(-1, self.num_heads)
        bias = _relative_position_bias(table, self.relative_position_index, self.window_size)
        return 16 * sigmoid(bias)

    def forward(self, x):
        return self._attend(x, self.logit_scale)


class MLP(nn.Sequential):
    """torchvision.ops.MLP: (Linear, [norm], activation, Dropout) per hidden layer, then the
    last Linear and Dropout."""

    def __init__(self, in_channels, hidden_channels, norm_layer=None, activation_layer=nn.ReLU,
                 inplace=None, bias=True, dropout=0.0):
        layers, in_dim = [], in_channels
        act = {} if inplace is None else {"inplace": inplace}
        for hidden in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden))
            layers += [activation_layer(**act), nn.Dropout(dropout, **act)]
            in_dim = hidden
        layers += [nn.Linear(in_dim, hidden_channels[-1], bias=bias), nn.Dropout(dropout, **act)]
        super().__init__(*layers)


class SwinTransformerBlock(nn.Module):
    """Pre-norm: ``x + sd(attn(norm1(x)))``, then ``x + sd(mlp(norm2(x)))`` (stochastic
    depth "row"); the MLP's weights xavier uniform, biases normal with std 1e-6."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttention):
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_layer(dim, window_size, shift_size, num_heads,
                               attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.norm2 = norm_layer(dim)
        self.mlp = MLP(dim, [int(dim * mlp_ratio), dim], activation_layer=nn.GELU,
                       inplace=None, dropout=dropout)
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.normal_(m.bias, std=1e-6)

    def forward(self, x):
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class SwinTransformerBlockV2(SwinTransformerBlock):
    """Swin V2's res-post-norm: ``x + sd(norm1(attn(x)))``, then ``x + sd(norm2(mlp(x)))``."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio=4.0, dropout=0.0,
                 attention_dropout=0.0, stochastic_depth_prob=0.0, norm_layer=nn.LayerNorm,
                 attn_layer=ShiftedWindowAttentionV2):
        super().__init__(dim, num_heads, window_size, shift_size, mlp_ratio=mlp_ratio,
                         dropout=dropout, attention_dropout=attention_dropout,
                         stochastic_depth_prob=stochastic_depth_prob, norm_layer=norm_layer,
                         attn_layer=attn_layer)

    def forward(self, x):
        x = x + self.stochastic_depth(self.norm1(self.attn(x)))
        return x + self.stochastic_depth(self.norm2(self.mlp(x)))


class SwinTransformer(nn.Module):
    """torchvision's ``SwinTransformer(patch_size, embed_dim, depths, num_heads, window_size,
    mlp_ratio=4.0, dropout=0.0, attention_dropout=0.0, stochastic_depth_prob=0.1,
    num_classes=1000, norm_layer=None, block=None, downsample_layer=PatchMerging)``:
    ``features`` (patch embedding, stages, patch merging), ``norm``, ``permute``,
    ``avgpool``, ``flatten``, ``head``; every Linear truncated normal (std 0.02), bias 0."""

    def __init__(self, patch_size, embed_dim, depths, num_heads, window_size, mlp_ratio=4.0,
                 dropout=0.0, attention_dropout=0.0, stochastic_depth_prob=0.1,
                 num_classes=1000, norm_layer=None, block=None, downsample_layer=PatchMerging):
        super().__init__()
        self.num_classes = num_classes
        block = SwinTransformerBlock if block is None else block
        norm_layer = partial(nn.LayerNorm, eps=1e-5) if norm_layer is None else norm_layer
        layers = [nn.Sequential(
            nn.Conv2d(3, embed_dim, kernel_size=tuple(patch_size), stride=tuple(patch_size)),
            Permute([0, 2, 3, 1]), norm_layer(embed_dim))]
        total, block_id = sum(depths), 0
        for i_stage, depth in enumerate(depths):
            dim, stage = embed_dim * 2 ** i_stage, []
            for i_layer in range(depth):
                stage.append(block(
                    dim, num_heads[i_stage], window_size=window_size,
                    shift_size=[0 if i_layer % 2 == 0 else w // 2 for w in window_size],
                    mlp_ratio=mlp_ratio, dropout=dropout, attention_dropout=attention_dropout,
                    stochastic_depth_prob=stochastic_depth_prob * float(block_id) / (total - 1),
                    norm_layer=norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if i_stage < len(depths) - 1:
                layers.append(downsample_layer(dim, norm_layer))
        self.features = nn.Sequential(*layers)
        num_features = embed_dim * 2 ** (len(depths) - 1)
        self.norm = norm_layer(num_features)
        self.permute = Permute([0, 3, 1, 2])
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.head = nn.Linear(num_features, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        if x.dim() != 4:
            raise ValueError(f"SwinTransformer: expected images (N, 3, H, W), got shape "
                             f"{tuple(x.shape)}")
        x = self.permute(self.norm(self.features(x)))
        return self.head(self.flatten(self.avgpool(x)))


def _bicubic(name, crop, resize):
    return weights_enum(name, {"IMAGENET1K_V1": (crop, resize, "BICUBIC")}, "IMAGENET1K_V1")


Swin_T_Weights = _bicubic("Swin_T_Weights", 224, 232)
Swin_S_Weights = _bicubic("Swin_S_Weights", 224, 246)
Swin_B_Weights = _bicubic("Swin_B_Weights", 224, 238)
Swin_V2_T_Weights = _bicubic("Swin_V2_T_Weights", 256, 260)
Swin_V2_S_Weights = _bicubic("Swin_V2_S_Weights", 256, 260)
Swin_V2_B_Weights = _bicubic("Swin_V2_B_Weights", 256, 272)

# (embed_dim, depths, num_heads, stochastic depth) of torchvision's builders
_VARIANTS = {"t": (96, [2, 2, 6, 2], [3, 6, 12, 24], 0.2),
             "s": (96, [2, 2, 18, 2], [3, 6, 12, 24], 0.3),
             "b": (128, [2, 2, 18, 2], [4, 8, 16, 32], 0.5)}


def _swin(name, variant, v2, weights, kwargs):
    check_weights(name, weights, kwargs)
    embed_dim, depths, heads, sd_prob = _VARIANTS[variant]
    if v2:
        kwargs.update(block=SwinTransformerBlockV2, downsample_layer=PatchMergingV2)
    return SwinTransformer(patch_size=[4, 4], embed_dim=embed_dim, depths=depths,
                           num_heads=heads, window_size=[8, 8] if v2 else [7, 7],
                           stochastic_depth_prob=sd_prob, **kwargs)


def swin_t(*, weights=None, progress=True, **kwargs):
    """Swin-T as torchvision's (window 7, stochastic depth 0.2), randomly initialised."""
    return _swin("swin_t", "t", False, weights, kwargs)


def swin_s(*, weights=None, progress=True, **kwargs):
    """Swin-S as torchvision's (window 7, stochastic depth 0.3), randomly initialised."""
    return _swin("swin_s", "s", False, weights, kwargs)


def swin_b(*, weights=None, progress=True, **kwargs):
    """Swin-B as torchvision's (window 7, stochastic depth 0.5), randomly initialised."""
    return _swin("swin_b", "b", False, weights, kwargs)


def swin_v2_t(*, weights=None, progress=True, **kwargs):
    """Swin V2-T as torchvision's (window 8, stochastic depth 0.2), randomly initialised."""
    return _swin("swin_v2_t", "t", True, weights, kwargs)


def swin_v2_s(*, weights=None, progress=True, **kwargs):
    """Swin V2-S as torchvision's (window 8, stochastic depth 0.3), randomly initialised."""
    return _swin("swin_v2_s", "s", True, weights, kwargs)


def swin_v2_b(*, weights=None, progress=True, **kwargs):
    """Swin V2-B as torchvision's (window 8, stochastic depth 0.5), randomly initialised."""
    return _swin("swin_v2_b", "b", True, weights, kwargs)
