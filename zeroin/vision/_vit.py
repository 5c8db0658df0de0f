"""torchvision's Vision Transformer (``torchvision.models.vit_b_16``, ``vit_b_32``,
``vit_l_16``, ``vit_l_32``, ``vit_h_14``): ``conv_proj``, ``class_token``, ``encoder``
(``pos_embedding``, ``layers.encoder_layer_<i>``, ``ln``) and ``heads.head``, with
torchvision's names, initialisation and forward, so a state dict converted from
torchvision's loads.

>>> model = VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
...                           hidden_dim=48, mlp_dim=96, num_classes=3)
>>> model(rand(2, 3, 32, 32)).shape
zeroin.Size([2, 3])
"""
from __future__ import annotations

import math
from collections import OrderedDict

from .. import cat, empty, nn, rand, zeros  # noqa: F401  (rand: the example)

__all__ = ["VisionTransformer"]


def _layer_norm(dim):
    return nn.LayerNorm(dim, eps=1e-6)


class MLPBlock(nn.Sequential):
    """Linear, GELU, Dropout, Linear, Dropout (indices 0 and 3 hold the weights); xavier
    uniform weights, biases normal with std 1e-6."""

    def __init__(self, in_dim, mlp_dim, dropout):
        super().__init__(nn.Linear(in_dim, mlp_dim), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(mlp_dim, in_dim), nn.Dropout(dropout))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    """Pre-norm: ``x = x + dropout(attention(ln_1(x)))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, num_heads, hidden_dim, mlp_dim, dropout, attention_dropout,
                 norm_layer=_layer_norm):
        super().__init__()
        self.num_heads = num_heads
        self.ln_1 = norm_layer(hidden_dim)
        self.self_attention = nn.MultiheadAttention(hidden_dim, num_heads,
                                                    dropout=attention_dropout,
                                                    batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = norm_layer(hidden_dim)
        self.mlp = MLPBlock(hidden_dim, mlp_dim, dropout)

    def forward(self, input):  # noqa: A002
        if input.dim() != 3:
            raise ValueError(f"EncoderBlock: expected (batch_size, seq_length, hidden_dim), "
                             f"got shape {tuple(input.shape)}")
        x = self.ln_1(input)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + input
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Position embedding (normal, std 0.02), dropout, the blocks, a final LayerNorm."""

    def __init__(self, seq_length, num_layers, num_heads, hidden_dim, mlp_dim, dropout,
                 attention_dropout, norm_layer=_layer_norm):
        super().__init__()
        self.pos_embedding = nn.Parameter(empty(1, seq_length, hidden_dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(OrderedDict(
            (f"encoder_layer_{i}", EncoderBlock(num_heads, hidden_dim, mlp_dim, dropout,
                                                attention_dropout, norm_layer))
            for i in range(num_layers)))
        self.ln = norm_layer(hidden_dim)

    def forward(self, input):  # noqa: A002
        return self.ln(self.layers(self.dropout(input + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """torchvision's ``VisionTransformer``: patches by a strided conv, a class token, the
    encoder, and ``heads`` on the class token (``head`` zero-initialised)."""

    def __init__(self, image_size, patch_size, num_layers, num_heads, hidden_dim, mlp_dim,
                 dropout=0.0, attention_dropout=0.0, num_classes=1000,
                 representation_size=None, norm_layer=_layer_norm):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"VisionTransformer: image_size {image_size} is not divisible "
                             f"by patch_size {patch_size}")
        self.image_size, self.patch_size = image_size, patch_size
        self.hidden_dim, self.mlp_dim = hidden_dim, mlp_dim
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.num_classes, self.representation_size = num_classes, representation_size
        self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)
        self.seq_length = (image_size // patch_size) ** 2 + 1
        self.class_token = nn.Parameter(zeros(1, 1, hidden_dim))
        self.encoder = Encoder(self.seq_length, num_layers, num_heads, hidden_dim, mlp_dim,
                               dropout, attention_dropout, norm_layer)
        heads = OrderedDict()
        if representation_size is None:
            heads["head"] = nn.Linear(hidden_dim, num_classes)
        else:
            heads["pre_logits"] = nn.Linear(hidden_dim, representation_size)
            heads["act"] = nn.Tanh()
            heads["head"] = nn.Linear(representation_size, num_classes)
        self.heads = nn.Sequential(heads)
        fan_in = 3 * patch_size * patch_size
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        if representation_size is not None:
            nn.init.trunc_normal_(self.heads.pre_logits.weight,
                                  std=math.sqrt(1 / hidden_dim))
            nn.init.zeros_(self.heads.pre_logits.bias)
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)

    def _process_input(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.image_size, self.image_size):
            raise ValueError(f"VisionTransformer: expected images (N, 3, {self.image_size}, "
                             f"{self.image_size}), got shape {tuple(x.shape)}; resize them "
                             f"to image_size (weights.transforms() does)")
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.hidden_dim, -1)
        return x.permute(0, 2, 1)

    def forward(self, x):
        x = self._process_input(x)
        x = cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


# (patch_size, num_layers, num_heads, hidden_dim, mlp_dim) of torchvision's models
_VARIANTS = {"vit_b_16": (16, 12, 12, 768, 3072), "vit_b_32": (32, 12, 12, 768, 3072),
             "vit_l_16": (16, 24, 16, 1024, 4096), "vit_l_32": (32, 24, 16, 1024, 4096),
             "vit_h_14": (14, 32, 16, 1280, 5120)}


def _vision_transformer(name, kwargs):
    patch, layers, heads, hidden, mlp = _VARIANTS[name]
    return VisionTransformer(image_size=kwargs.pop("image_size", 224), patch_size=patch,
                             num_layers=layers, num_heads=heads, hidden_dim=hidden,
                             mlp_dim=mlp, **kwargs)
