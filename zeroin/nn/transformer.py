"""Transformer layers with PyTorch's arguments, submodule names and computation:
TransformerEncoderLayer, TransformerEncoder, TransformerDecoderLayer, TransformerDecoder,
Transformer. A torch ``state_dict`` loads and gives the same outputs and gradients.

Encoder layer (post-norm, the default): x = norm1(x + dropout1(self_attn(x)));
x = norm2(x + dropout2(linear2(dropout(activation(linear1(x)))))). With
``norm_first=True`` each block reads the normalised input instead: x = x + block(norm(x)).
The decoder layer adds a block attending to the encoder's output (``memory``).
"""
from __future__ import annotations

import copy

import numpy as np

from .._tensor import Tensor, _leaf, get_default_dtype, is_grad_enabled
from . import functional as F
from . import init
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .layers import Dropout, Linear, _check_device, _dtype
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer"]


def _activation(layer, activation):
    if isinstance(activation, str):
        if activation not in ("relu", "gelu"):
            raise RuntimeError(f"{layer}: activation should be 'relu' or 'gelu' (or a "
                               f"callable), not {activation!r}")
        return F.relu if activation == "relu" else F.gelu
    if not callable(activation):
        raise TypeError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got "
                        f"{type(activation).__name__}")
    return activation


def _square_subsequent_mask(sz, dtype=None):
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    return _leaf(np.triu(np.full((sz, sz), -np.inf, dtype=d), 1))


def _detect_is_causal_mask(mask, is_causal, size):
    """PyTorch's rule: ``is_causal=None`` with a mask means 'is the mask the causal one?'."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    causal = _square_subsequent_mask(size, m.dtype if m.dtype.kind == "f" else None).data
    return m.shape == causal.shape and bool((m == causal).all())


def _seq_len(x, batch_first):
    shape = x.shape if isinstance(x, Tensor) else np.shape(x)
    return shape[1 if batch_first and len(shape) == 3 else 0]


class _FeedForward(Module):
    """What the encoder and decoder layers share: the feed-forward block and its setup."""

    def _setup(self, name, d_model, nhead, dim_feedforward, dropout, activation,
               layer_norm_eps, batch_first, norm_first, bias, device, dtype, rng, cross):
        _check_device(name, device)
        dt = _dtype(dtype)
        mha = dict(dropout=dropout, bias=bias, batch_first=batch_first, dtype=dt, rng=rng)
        self.self_attn = MultiheadAttention(d_model, nhead, **mha)
        if cross:
            self.multihead_attn = MultiheadAttention(d_model, nhead, **mha)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt, rng=rng)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt, rng=rng)
        self.norm_first = bool(norm_first)
        for i in range(1, 4 if cross else 3):
            setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        for i in range(1, 4 if cross else 3):
            setattr(self, f"dropout{i}", Dropout(dropout))
        self.activation = _activation(name, activation)

    def _ff_block(self, x, drop):
        return drop(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)


class TransformerEncoderLayer(_FeedForward):
    """Self-attention then a feed-forward network, each with a residual connection and a
    LayerNorm; PyTorch's submodules ``self_attn``, ``linear1``, ``dropout``, ``linear2``,
    ``norm1``, ``norm2``, ``dropout1``, ``dropout2``.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: src (S,
    N, d_model) ((N, S, d_model) with ``batch_first``, or (S, d_model)); masks as in
    :class:`MultiheadAttention` (True = left out)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None, *, rng=None):
        super().__init__()
        self._setup("TransformerEncoderLayer", d_model, nhead, dim_feedforward, dropout,
                    activation, layer_norm_eps, batch_first, norm_first, bias, device,
                    dtype, rng, cross=False)

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x), self.dropout2)
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x, self.dropout2))


class TransformerDecoderLayer(_FeedForward):
    """Self-attention, attention over ``memory`` (the encoder's output), then a
    feed-forward network; PyTorch's submodules (``self_attn``, ``multihead_attn``,
    ``linear1``, ``linear2``, ``norm1..3``, ``dropout``, ``dropout1..3``).

    ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None, *, rng=None):
        super().__init__()
        self._setup("TransformerDecoderLayer", d_model, nhead, dim_feedforward, dropout,
                    activation, layer_norm_eps, batch_first, norm_first, bias, device,
                    dtype, rng, cross=True)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            return x + self._ff_block(self.norm3(x), self.dropout3)
        x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                           memory_is_causal))
        return self.norm3(x + self._ff_block(x, self.dropout3))


def _clones(layer, name, num_layers):
    if not isinstance(layer, Module):
        raise TypeError(f"{name}: the first argument must be a layer instance (e.g. nn."
                        f"{name}Layer(d_model, nhead)), got {type(layer).__name__}")
    if not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"{name}: num_layers must be a positive integer, got {num_layers!r}")
    return ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])


def _nested_ok(layer):
    """Whether PyTorch's TransformerEncoder would use nested tensors for ``layer``."""
    attn = getattr(layer, "self_attn", None)
    return (isinstance(layer, TransformerEncoderLayer) and not layer.norm_first
            and attn.batch_first and attn.in_proj_bias is not None
            and attn.num_heads % 2 == 0 and layer.norm1.eps == layer.norm2.eps
            and (layer.activation in (F.relu, F.gelu)
                 or isinstance(layer.activation, (ReLU, GELU))))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: each learns its own
    weights, ``layers.0``, ``layers.1``, ...), then ``norm`` if given.

    ``enable_nested_tensor`` (a PyTorch speed-up) changes one thing that shows: where
    PyTorch would take its nested-tensor path (eval mode, no gradient recorded, a
    right-padded ``src_key_padding_mask`` and no ``mask``, a post-norm batch-first layer
    that it accepts), the padded positions come out as 0 before ``norm``, as in PyTorch.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)``; with
    ``is_causal=None`` a mask equal to ``Transformer.generate_square_subsequent_mask`` is
    taken as causal, as in PyTorch."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, "TransformerEncoder", num_layers)
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check
        self.use_nested_tensor = enable_nested_tensor and _nested_ok(encoder_layer)

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        bf = self.layers[0].self_attn.batch_first
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, bf))
        keep = self._nested_lengths(src, mask, src_key_padding_mask)
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=is_causal)
        if keep is not None:            # PyTorch's to_padded_tensor(0.0): pads are 0
            x = x.masked_fill(_leaf(~keep[:, :, None]), 0.0)
        return x if self.norm is None else self.norm(x)

    def _nested_lengths(self, src, mask, pad):
        """The (N, S) bool array of the positions PyTorch's nested-tensor path keeps, or
        None where PyTorch takes the ordinary path (whose padded outputs are not 0)."""
        first = self.layers[0]
        if (not self.use_nested_tensor or first.training or pad is None or mask is not None
                or not isinstance(src, Tensor) or src.ndim != 3):
            return None
        if is_grad_enabled() and (src.requires_grad
                                  or any(p.requires_grad for p in first.parameters())):
            return None
        p = np.asarray(pad.data if isinstance(pad, Tensor) else pad)
        if p.shape != src.shape[:2]:
            return None                 # the layers raise the shape error
        keep = ~p if p.dtype == np.bool_ else p == 0
        lengths = keep.sum(axis=1)
        prefix = np.arange(p.shape[1]) < lengths[:, None]
        if self.mask_check and not (keep == prefix).all():
            return None                 # not right-padded: PyTorch's ordinary path
        return prefix


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm`` if given. ``forward(tgt,
    memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, "TransformerDecoder", num_layers)
        self.num_layers, self.norm = num_layers, norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        bf = self.layers[0].self_attn.batch_first
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(tgt, bf))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


class Transformer(Module):
    """PyTorch's encoder-decoder Transformer: ``encoder`` (a TransformerEncoder with a final
    LayerNorm) reads ``src``, ``decoder`` reads ``tgt`` and the encoder's output. Weight
    matrices are Xavier-uniform, as in PyTorch.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``."""

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False,
                 norm_first=False, bias=True, device=None, dtype=None, *, rng=None):
        super().__init__()
        _check_device("Transformer", device)
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        dt = _dtype(dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, dtype=dt, rng=rng), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, dtype=dt, rng=rng), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dt))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p, rng=rng)
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        s, t = np.shape(src.data if isinstance(src, Tensor) else src), \
            np.shape(tgt.data if isinstance(tgt, Tensor) else tgt)
        b = 0 if self.batch_first else 1
        if len(s) == 3 and len(t) == 3 and s[b] != t[b]:
            raise RuntimeError(f"Transformer: src {s} and tgt {t} must have the same batch "
                               f"size (dimension {b} with batch_first={self.batch_first})")
        if s[-1] != self.d_model or t[-1] != self.d_model:
            raise RuntimeError(f"Transformer: src {s} and tgt {t} must have d_model="
                               f"{self.d_model} features in their last dimension")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """A float (sz, sz) mask: 0 on and below the diagonal, -inf above (position i
        attends to positions 0..i)."""
        _check_device("generate_square_subsequent_mask", device)
        return _square_subsequent_mask(sz, dtype)
