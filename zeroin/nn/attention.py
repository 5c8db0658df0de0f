"""MultiheadAttention with PyTorch's arguments, parameters, masks and shapes.

Each head attends with its own slice of the projected query, key and value:
softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h; the heads' results side by side go
through ``out_proj``. Built from ``linear``, ``reshape``/``transpose``, ``matmul``,
``softmax`` and :func:`~zeroin.nn.functional.scaled_dot_product_attention`, so a torch
``state_dict`` loads and gives the same outputs and gradients.

Mask conventions are PyTorch's, and differ between the two functions: here a boolean
``attn_mask`` or ``key_padding_mask`` is True where a position is LEFT OUT; in
``scaled_dot_product_attention`` True means the position takes part.
"""
from __future__ import annotations

import contextlib
import enum
import math

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..errors import ShapeError
from . import functional as F
from . import init
from ._attention import SDP_ENABLED, scaled_dot_product_attention
from .layers import Linear, _check_device, _dtype
from .module import Module, Parameter
from .rnn import _as_input, _positive_int

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear", "SDPBackend", "sdpa_kernel"]


class SDPBackend(enum.IntEnum):
    """The kernels of ``scaled_dot_product_attention`` (PyTorch's names and numbers)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    __str__ = enum.Enum.__str__         # SDPBackend.MATH, as PyTorch prints it


_FLAG = {SDPBackend.MATH: "math", SDPBackend.FLASH_ATTENTION: "flash",
         SDPBackend.EFFICIENT_ATTENTION: "mem_efficient", SDPBackend.CUDNN_ATTENTION: "cudnn"}


class _BackendError(TypeError, AssertionError):
    """sdpa_kernel given something else than SDPBackends: PyTorch asserts it."""


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Within the block, ``scaled_dot_product_attention`` may use only ``backends`` (an
    SDPBackend or a list of them), as PyTorch's ``torch.nn.attention.sdpa_kernel``.

    zeroin has one kernel, the math one, which stands for MATH and FLASH_ATTENTION (PyTorch's
    two CPU kernels): with neither allowed the call raises, as PyTorch's on the CPU.
    ``set_priority`` (an order among kernels) changes nothing here."""
    items = backends if isinstance(backends, list) else [backends]
    if not isinstance(backends, (list, SDPBackend)) or \
            not all(isinstance(b, SDPBackend) for b in items):
        bad = type(backends).__name__ if not isinstance(backends, list) else \
            [type(b).__name__ for b in items if not isinstance(b, SDPBackend)]
        raise _BackendError(f"sdpa_kernel: backends must be an SDPBackend or a list of "
                            f"SDPBackend members, got {bad}; e.g. "
                            f"sdpa_kernel([SDPBackend.MATH])")
    previous = dict(SDP_ENABLED)
    SDP_ENABLED.update({flag: b in items for b, flag in _FLAG.items()})
    try:
        yield {}
    finally:
        SDP_ENABLED.update(previous)


class _HeadsError(ValueError, AssertionError):
    """embed_dim not divisible by num_heads: PyTorch asserts it (AssertionError)."""


class _FeaturesError(ShapeError, AssertionError):
    """query / key / value of the wrong feature size: PyTorch asserts it (AssertionError)."""


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under PyTorch's name for MultiheadAttention's ``out_proj``."""


class MultiheadAttention(Module):
    """Attention from ``num_heads`` heads of ``embed_dim // num_heads`` features each.

    Parameters, as PyTorch's: ``in_proj_weight`` (3 * embed_dim, embed_dim) holding the
    query, key and value projections (or ``q_proj_weight``, ``k_proj_weight`` (embed_dim,
    kdim), ``v_proj_weight`` (embed_dim, vdim) when kdim or vdim differ from embed_dim),
    ``in_proj_bias`` (3 * embed_dim,), ``out_proj`` (a Linear), and with ``add_bias_kv``
    ``bias_k``/``bias_v`` (1, 1, embed_dim), a learned key and value appended to the
    sequence. ``add_zero_attn`` appends a key and value of zeros. ``dropout`` drops
    attention weights in training.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)``: query (L, N, E), key
    (S, N, kdim), value (S, N, vdim) ((N, L, E)... with ``batch_first``; (L, E)... for one
    unbatched sequence). ``key_padding_mask`` (N, S): True (or -inf) leaves a key out;
    ``attn_mask`` (L, S) or (N * num_heads, L, S): True (or -inf) stops query i from seeing
    key j. Returns ``(attn_output, attn_weights)``: output shaped like query, weights (N, L,
    S) averaged over heads or (N, num_heads, L, S) (None when ``need_weights=False``).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None, *, rng=None):
        super().__init__()
        name = "MultiheadAttention"
        _check_device(name, device)
        self.embed_dim = _positive_int(name, "embed_dim", embed_dim)
        self.num_heads = _positive_int(name, "num_heads", num_heads)
        self.kdim = embed_dim if kdim is None else _positive_int(name, "kdim", kdim)
        self.vdim = embed_dim if vdim is None else _positive_int(name, "vdim", vdim)
        if embed_dim % num_heads:
            ok = [h for h in range(1, embed_dim + 1) if embed_dim % h == 0]
            raise _HeadsError(f"{name}: embed_dim ({embed_dim}) must be divisible by "
                              f"num_heads ({num_heads}): each head gets embed_dim // num_heads "
                              f"features; num_heads can be one of {ok}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability between 0 and 1, got "
                             f"{dropout!r}")
        self.head_dim = embed_dim // num_heads
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        dt, e = _dtype(dtype), self.embed_dim

        def param(*shape):
            return Parameter(np.empty(shape, dtype=dt))
        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * e, e)
            for n in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(n, None)
        else:
            self.q_proj_weight, self.k_proj_weight = param(e, e), param(e, self.kdim)
            self.v_proj_weight = param(e, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * e)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(e, e, bias=bias, dtype=dt, rng=rng)
        if add_bias_kv:
            self.bias_k, self.bias_v = param(1, 1, e), param(1, 1, e)
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters(rng)

    def _reset_parameters(self, rng=None):
        """PyTorch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k/v."""
        for w in (self.in_proj_weight, self.q_proj_weight, self.k_proj_weight,
                  self.v_proj_weight):
            if w is not None:
                init.xavier_uniform_(w, rng=rng)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        for b in (self.bias_k, self.bias_v):
            if b is not None:
                init.xavier_normal_(b, rng=rng)

    # --- forward ------------------------------------------------------------------------
    def _layout(self, what, dim):
        return (f"({'N, ' if self.batch_first else ''}{what}"
                f"{'' if self.batch_first else ', N'}, {dim})")

    def _check_inputs(self, q, k, v):
        """True for batched (3-D) inputs, after checking the three agree."""
        name, lay = "MultiheadAttention", self._layout
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim:
            raise ShapeError(f"{name}: query, key and value must all be 3-D, query "
                             f"{lay('L', 'embed_dim')} (batch_first={self.batch_first}), or "
                             f"all 2-D for one unbatched sequence; got {q.shape}, {k.shape}, "
                             f"{v.shape}")
        for t, what, want in ((q, "query", self.embed_dim), (k, "key", self.kdim),
                              (v, "value", self.vdim)):
            if t.shape[-1] != want:
                raise _FeaturesError(f"{name}: {what} of shape {t.shape} has {t.shape[-1]} "
                                     f"features in its last dimension, the layer expects "
                                     f"{want} (embed_dim={self.embed_dim}, kdim={self.kdim}, "
                                     f"vdim={self.vdim}); features go last")
        batched = q.ndim == 3
        if k.shape[:-1] != v.shape[:-1]:
            raise ShapeError(f"{name}: key {k.shape} and value {v.shape} must have the same "
                             f"length and batch size (one value per key)")
        b = 0 if self.batch_first else 1
        if batched and q.shape[b] != k.shape[b]:
            raise ShapeError(f"{name}: query {q.shape} and key {k.shape} have different batch "
                             f"sizes (dimension {b} with batch_first={self.batch_first})")
        return batched

    def _project(self, q, k, v):
        e, w, b = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        bq, bk, bv = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if w is None:
            return (F.linear(q, self.q_proj_weight, bq), F.linear(k, self.k_proj_weight, bk),
                    F.linear(v, self.v_proj_weight, bv))
        if q is k and k is v:                   # self-attention: one product
            return tuple(F.linear(q, w, b).chunk(3, -1))
        return (F.linear(q, w[:e], bq), F.linear(k, w[e:2 * e], bk),
                F.linear(v, w[2 * e:], bv))

    def _mask(self, m, what, shapes, dtype, sizes):
        """A mask as a float tensor to add (-inf where a boolean one is True), or None."""
        if m is None:
            return None
        arr = m.data if isinstance(m, Tensor) else np.asarray(m)
        if tuple(arr.shape) not in shapes:
            want = " or ".join(str(s) for s in shapes)
            raise ShapeError(f"MultiheadAttention: {what} of shape {tuple(arr.shape)} should "
                             f"have shape {want} ({sizes}; batch_first={self.batch_first})")
        if arr.dtype.kind == "b":
            return _leaf(np.where(arr, -np.inf, 0.0).astype(dtype))
        if arr.dtype.kind != "f":
            raise TypeError(f"MultiheadAttention: {what} must be boolean (True = left out) or "
                            f"floating (added to the scores), got dtype {arr.dtype}")
        if not isinstance(m, Tensor):
            return _leaf(arr.astype(dtype, copy=False))
        return m if m.dtype == dtype or m.requires_grad else _leaf(arr.astype(dtype))

    def _merged_mask(self, attn_mask, key_padding_mask, n, L, S, batched, dtype):
        """attn_mask and key_padding_mask added into one (N, H, L, S) float mask (or a
        broadcastable part of it), or None."""
        h = self.num_heads
        sizes = (f"L = {L} queries, S = {S} keys" + (f", N = {n} sequences" if batched else "")
                 + f", num_heads = {h}")
        am = self._mask(attn_mask, "attn_mask",
                        [(L, S), (n * h, L, S)] if batched else [(L, S), (h, L, S)], dtype, sizes)
        kp = self._mask(key_padding_mask, "key_padding_mask",
                        [(n, S)] if batched else [(S,)], dtype, sizes)
        if am is not None:
            am = am.reshape(n, h, L, S) if am.ndim == 3 else am
        if kp is not None:
            kp = kp.reshape(n, 1, 1, S)
        if am is None or kp is None:
            return am if kp is None else kp
        return am + kp

    def _extend(self, k, v, mask, n):
        """bias_k/bias_v and add_zero_attn: one more key and value per option, each with a
        0 appended to the mask. k, v: (N, H, S, head_dim)."""
        extra = []
        if self.bias_k is not None:
            extra.append((self._heads(self.bias_k.expand(1, n, self.embed_dim)),
                          self._heads(self.bias_v.expand(1, n, self.embed_dim))))
        if self.add_zero_attn:
            z = _leaf(np.zeros((n, self.num_heads, 1, self.head_dim), dtype=k.dtype))
            extra.append((z, z))
        for ek, ev in extra:
            k, v = ops.concatenate([k, ek], -2), ops.concatenate([v, ev], -2)
            if mask is not None:
                pad = _leaf(np.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype))
                mask = ops.concatenate([mask, pad], -1)
        return k, v, mask

    def _heads(self, x):
        """(T, N, E) -> (N, H, T, head_dim)."""
        t, n = x.shape[:2]
        return x.reshape(t, n, self.num_heads, self.head_dim).permute(1, 2, 0, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        dt = self.out_proj.weight.dtype
        same = query is key and key is value
        q = _as_input("MultiheadAttention", query, dt, "query")
        k = q if same else _as_input("MultiheadAttention", key, dt, "key")
        v = q if same else _as_input("MultiheadAttention", value, dt, "value")
        batched = self._check_inputs(q, k, v)
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True is a hint that attn_mask is "
                               "the causal mask, and needs that mask: pass attn_mask=nn."
                               "Transformer.generate_square_subsequent_mask(L) (PyTorch's rule)")
        if not batched or self.batch_first:     # to (T, N, E)
            q, k, v = [x.unsqueeze(1) if not batched else x.transpose(0, 1)
                       for x in ((q,) if same else (q, k, v))] * (3 if same else 1)
        (L, n, e), S = q.shape, k.shape[0]
        mask = self._merged_mask(attn_mask, key_padding_mask, n, L, S, batched, dt)
        qp, kp, vp = self._project(q, k, v)
        qh, kh, vh = self._heads(qp), self._heads(kp), self._heads(vp)
        kh, vh, mask = self._extend(kh, vh, mask, n)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = ops.matmul(qh * math.sqrt(1.0 / self.head_dim), kh.transpose(-2, -1))
            weights = ops.softmax(scores if mask is None else scores + mask, -1)
            if p > 0:
                weights = F.dropout(weights, p, True)
            out = ops.matmul(weights, vh)
            if average_attn_weights:
                weights = weights.mean(axis=1)
        elif is_causal and key_padding_mask is None:      # PyTorch trusts the hint here
            out = scaled_dot_product_attention(qh, kh, vh, None, p, is_causal=True)
        else:
            out = scaled_dot_product_attention(qh, kh, vh, mask, p)
        out = self.out_proj(out.permute(2, 0, 1, 3).reshape(L, n, e))
        if not batched:
            return out.squeeze(1), (None if weights is None else weights.squeeze(0))
        return (out.transpose(0, 1) if self.batch_first else out), weights
