"""Scaled dot-product attention, composed from differentiable ops (matmul, masked_fill,
softmax, where, dropout): no op of its own, so ``explain`` and ``draw`` show each step.

softmax(q k^T * scale + mask) v, with PyTorch's conventions: a boolean ``attn_mask`` says
which positions TAKE PART (True), a float one is added to the scores; a query whose every
key is masked gets zeros (and zero gradients), as PyTorch's CPU kernels give.
"""
from __future__ import annotations

import math

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..errors import ShapeError

OP = "scaled_dot_product_attention"

# PyTorch's backend switches (torch.backends.cuda.enable_math_sdp ..., nn.attention.sdpa_kernel).
# zeroin has one kernel, the math one. It runs where PyTorch's CPU build runs a kernel: its
# math kernel while "math" is on, else its CPU flash kernel, which takes 4-D inputs of one
# batch size, value's features as query's, and no dropout. Elsewhere PyTorch finds none.
SDP_ENABLED = {"math": True, "flash": True, "mem_efficient": True, "cudnn": True}


def _check_backend(q, k, v, dropout_p):
    flash_fits = (q.ndim == k.ndim == v.ndim == 4 and q.shape[0] == k.shape[0] == v.shape[0]
                  and v.shape[-1] == q.shape[-1] and dropout_p == 0)
    if SDP_ENABLED["math"] or (SDP_ENABLED["flash"] and flash_fits):
        return
    off = sorted(name for name, on in SDP_ENABLED.items() if not on)
    why = "" if not SDP_ENABLED["flash"] else (
        "; PyTorch's CPU flash kernel, the one left on, takes 4-D inputs of one batch "
        "size, value's features equal to query's, and dropout_p=0")
    raise RuntimeError(
        f"{OP}: No viable backend for scaled_dot_product_attention was found (off: {off}"
        f"{why}). zeroin runs the math kernel on the CPU: allow it, e.g. "
        f"`with sdpa_kernel([SDPBackend.MATH]):`")


def _as_float(x, what, dtype=None):
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x))
    if x.dtype.kind != "f":
        raise TypeError(f"{OP}: {what} must be floating point, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{OP}: {what} has dtype {x.dtype} but query has {dtype}; convert "
                        f"one of them (x.double() / x.float())")
    return x


def _check_shapes(q, k, v, enable_gqa):
    for t, name in ((q, "query"), (k, "key"), (v, "value")):
        if t.ndim < 2:
            raise ShapeError(f"{OP}: {name} must be at least 2-D (..., seq_len, features), "
                             f"got shape {t.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ShapeError(f"{OP}: query {q.shape} and key {k.shape} must have the same "
                         f"number of features (last dimension), to take their dot products")
    if k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{OP}: key {k.shape} and value {v.shape} must have the same "
                         f"length (dimension -2): one value per key")
    if enable_gqa and q.ndim >= 3:
        hq, hk, hv = q.shape[-3], k.shape[-3], v.shape[-3]
        if hk != hv or hq % hk:
            raise ShapeError(f"{OP}: with enable_gqa, key and value need the same number of "
                             f"heads (dimension -3), dividing query's: query {q.shape}, key "
                             f"{k.shape}, value {v.shape}")
        return
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        hint = ""
        if q.ndim >= 3 and k.ndim >= 3 and k.shape[-3] and q.shape[-3] % k.shape[-3] == 0:
            hint = ("; for fewer key/value heads than query heads (grouped-query attention) "
                    "pass enable_gqa=True")
        raise ShapeError(f"{OP}: the batch dimensions of query {q.shape}, key {k.shape} and "
                         f"value {v.shape} (all but the last two) do not broadcast{hint}") \
            from None


def _repeat_heads(x, groups):
    """Each head ``groups`` times in a row (``repeat_interleave`` on dimension -3)."""
    if groups == 1:
        return x
    s = x.shape
    x = x.unsqueeze(-3).expand(*s[:-2], groups, *s[-2:])
    return x.reshape(*s[:-3], s[-3] * groups, *s[-2:])


def _mask_term(attn_mask, is_causal, shape, dtype):
    """(boolean array of positions taking part or None, float tensor to add or None)."""
    L, S = shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(f"{OP}: pass either attn_mask or is_causal=True, not both (PyTorch's "
                             f"documented error); for a causal mask combined with your own, "
                             f"pass attn_mask & zeroin.ones({L}, {S}, dtype=bool).tril()")
        return np.tril(np.ones((L, S), dtype=bool)), None
    if attn_mask is None:
        return None, None
    m = attn_mask
    kind = (m.dtype if isinstance(m, Tensor) else np.asarray(m).dtype).kind
    mshape = tuple(m.shape) if isinstance(m, Tensor) else np.shape(m)
    try:
        ok = np.broadcast_shapes(mshape, shape) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"{OP}: attn_mask of shape {mshape} does not broadcast to the "
                         f"attention scores' shape {tuple(shape)} (batch..., L, S); give it "
                         f"shape ({L}, {S}) for every batch and head, or the scores' shape")
    if kind == "b":
        return np.asarray(m.data if isinstance(m, Tensor) else m), None
    if kind != "f":
        raise TypeError(f"{OP}: attn_mask must be boolean (True = takes part) or floating "
                        f"(added to the scores), got dtype "
                        f"{m.dtype if isinstance(m, Tensor) else np.asarray(m).dtype}")
    if not isinstance(m, Tensor):
        m = _leaf(np.asarray(m, dtype=dtype))
    elif m.dtype != dtype and not m.requires_grad:
        m = _leaf(m.data.astype(dtype))
    return None, m


def safe_softmax(scores, dim=-1):
    """softmax over ``dim``, but 0 (with zero gradients) along rows that are all -inf,
    where softmax gives NaN: PyTorch's ``_safe_softmax``."""
    dead = np.all(np.isneginf(scores.data), axis=dim, keepdims=True)
    if not dead.any():
        return ops.softmax(scores, dim)
    zero = _leaf(np.zeros((), dtype=scores.dtype))
    return ops.where(dead, zero, ops.softmax(ops.where(dead, zero, scores), dim))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value, PyTorch's function.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev). ``scale``
    defaults to 1/sqrt(E). ``attn_mask``: boolean (True = the key takes part) or float
    (added), broadcastable to (..., L, S); ``is_causal``: query i sees keys 0..i. A query
    that sees no key gets zeros. ``dropout_p`` drops attention weights (always: pass 0 in
    evaluation). ``enable_gqa``: key/value may have fewer heads (dimension -3).
    """
    from .functional import dropout
    q = _as_float(query, "query")
    k, v = _as_float(key, "key", q.dtype), _as_float(value, "value", q.dtype)
    _check_shapes(q, k, v, enable_gqa)
    if not SDP_ENABLED["math"]:
        _check_backend(q, k, v, dropout_p)
    if not 0 <= dropout_p <= 1:
        raise ValueError(f"{OP}: dropout_p must be between 0 and 1, got {dropout_p}")
    if enable_gqa and q.ndim >= 3:
        k, v = _repeat_heads(k, q.shape[-3] // k.shape[-3]), \
            _repeat_heads(v, q.shape[-3] // v.shape[-3])
    s = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(q, k.transpose(-2, -1)) * s
    keep, add = _mask_term(attn_mask, is_causal, scores.shape, q.dtype)
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    if add is not None:
        scores = scores + add
    attn = safe_softmax(scores, -1)
    if dropout_p > 0:
        attn = dropout(attn, dropout_p, True)
    return ops.matmul(attn, v)
