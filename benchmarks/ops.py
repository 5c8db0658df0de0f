"""Per-op sweep: forward + backward of ~100 ops real models use, zeroin against PyTorch.

    python benchmarks/ops.py                       # every op, 3 rounds
    python benchmarks/ops.py --only gelu,conv --rounds 5 --scale 4
    python benchmarks/ops.py --child zeroin --only gelu      # one process's JSON lines
    python benchmarks/ops.py --against /tmp/old --only gelu  # zeroin against an older tree
    python benchmarks/ops.py --sizes large --only gelu      # the realistic sizes (_large)

Each op builds float32 inputs from the same NumPy seed, then times ``out = f(); loss =
out.sum(); loss.backward()`` (optimiser rows: ``opt.step()`` only). Each library runs in its
own process (their thread pools would fight), 1 thread (OMP/OPENBLAS/MKL_NUM_THREADS=1 and
``torch.set_num_threads(1)``); a process times 5 blocks of n iterations (n sized to ~20 ms a
block) and reports their median. Rounds alternate the order (zeroin first, then torch
first); the table shows medians over rounds and the median of the per-round ratios, sorted
by ratio. ``--scale 4`` multiplies the batch dimension by 4 (to see how an op scales).
``--sizes large`` times a second table (:func:`_large`) at sizes a real model uses:
elementwise rows (256, 1024), images (32, 64, 32, 32), scatters of (256, 512) into
(256, 1024).

Not part of the test suite. See benchmarks/README.md ("Per-op sweep").
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _r(*shape, lo=None, pos=False):
    """Seeded float32 data (positive for log/sqrt/pow inputs)."""
    rng = np.random.default_rng(abs(hash(shape)) % 2**32)
    a = rng.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if pos else a


def _i(hi, *shape):
    return np.random.default_rng(7).integers(0, hi, shape)


# --- the ops: name -> build(T, s) returning (leaves, f) ------------------------------------
# T is the library (zeroin or torch), s the batch scale. leaves require grad; f() -> output.

def _leaf(T, a):
    return T.tensor(a, requires_grad=True)


def _unary(expr, shape=(64, 512), pos=False):
    def build(T, s):
        x = _leaf(T, _r(shape[0] * s, *shape[1:], pos=pos))
        F = T.nn.functional
        return [x], lambda: expr(T, F, x)
    return build


def _binary(expr, a=(64, 512), b=(64, 512)):
    def build(T, s):
        sb = (b[0] * s,) + b[1:] if b == a else b          # scale b with a when they match
        x, y = _leaf(T, _r(a[0] * s, *a[1:])), _leaf(T, _r(*sb))
        return [x, y], lambda: expr(T, x, y)
    return build


def _module(make, shape, first=False):
    """A module (built under the same seed) applied to one input; first: take out[0]."""
    def build(T, s):
        T.manual_seed(0)
        m = make(T.nn)
        x = _leaf(T, _r(shape[0] * s, *shape[1:]))
        if first:
            return [x] + list(m.parameters()), lambda: m(x)[0]
        return [x] + list(m.parameters()), lambda: m(x)
    return build


def _indexing():
    G, Z = (64, 512), (64, 256)             # gather from (64, 512); scatter (64, 256) into it

    def into(f):                            # scatter-like: x (64, 256) into zeros (64, 512)
        return lambda T, s: _idx_op(T, s, lambda T, x, i: f(T.zeros(x.shape[0], 512), x, i), Z)
    return {
        "slice basic": _unary(lambda T, F, x: x[:, 10:400:2] * 1.0),
        "fancy index rows": lambda T, s: _with_idx(T, s, lambda x, i: x[i], 64 * s),
        "bool mask": lambda T, s: _bool_mask(T, s),
        "gather dim1": lambda T, s: _idx_op(T, s, lambda T, x, i: T.gather(x, 1, i), G),
        "take_along_dim": lambda T, s: _idx_op(T, s, lambda T, x, i: T.take_along_dim(x, i, 1), G),
        "scatter dim1": into(lambda z, x, i: z.scatter(1, i, x)),
        "scatter_add dim1": into(lambda z, x, i: z.scatter_add(1, i, x)),
        "scatter_reduce amax": into(lambda z, x, i: z.scatter_reduce(1, i, x, "amax")),
        "index_select dim0": lambda T, s: _with_idx(T, s, lambda x, i: x.index_select(0, i), 64 * s),
        "index_add dim0": lambda T, s: _index_add(T, s),
        "masked_fill": lambda T, s: _mask_op(T, s, lambda T, x, m: x.masked_fill(m, 0.0)),
        "where": lambda T, s: _mask_op(T, s, lambda T, x, m: T.where(m, x, x * 2)),
        "embedding repeated idx": lambda T, s: _embedding(T, s),
        "index_put accumulate": lambda T, s: _index_put(T, s),
    }


def _with_idx(T, s, f, n):
    x = _leaf(T, _r(64 * s, 512))
    i = T.tensor(_i(n, 2 * n))
    return [x], lambda: f(x, i)


def _bool_mask(T, s):
    x = _leaf(T, _r(64 * s, 512))
    m = T.tensor(_r(64 * s, 512) > 0)
    return [x], lambda: x[m]


def _idx_op(T, s, f, xs):
    """x of shape xs; i: (64, 256) integers below 512 (batch dimensions scaled)."""
    x = _leaf(T, _r(xs[0] * s, xs[1]))
    i = T.tensor(_i(512, 64 * s, 256))
    return [x], lambda: f(T, x, i)


def _index_add(T, s, w=512, m=1):
    x = _leaf(T, _r(64 * m * s, w))
    src = _leaf(T, _r(256 * m * s, w))
    i = T.tensor(_i(64 * m * s, 256 * m * s))
    return [x, src], lambda: x.index_add(0, i, src)


def _mask_op(T, s, f):
    x = _leaf(T, _r(64 * s, 512))
    m = T.tensor(_r(64 * s, 512) > 0)
    return [x], lambda: f(T, x, m)


def _embedding(T, s, n=1000, d=128, length=64):
    w = _leaf(T, _r(n, d))
    i = T.tensor(_i(n, 32 * s, length))
    return [w], lambda: T.nn.functional.embedding(i, w)


def _index_put(T, s):
    x = _leaf(T, _r(1000, 64))
    v = _leaf(T, _r(4096 * s, 64))
    i = T.tensor(_i(1000, 4096 * s))
    return [x, v], lambda: x.index_put((i,), v, accumulate=True)


def _ops():
    U = _unary
    ops = {
        # elementwise and activations
        "add broadcast": _binary(lambda T, x, y: x + y, b=(512,)),
        "mul": _binary(lambda T, x, y: x * y),
        "div": _binary(lambda T, x, y: x / (y * y + 1)),
        "exp": U(lambda T, F, x: x.exp()),
        "log": U(lambda T, F, x: x.log(), pos=True),
        "sqrt": U(lambda T, F, x: x.sqrt(), pos=True),
        "pow 3": U(lambda T, F, x: x ** 3),
        "abs": U(lambda T, F, x: x.abs()),
        "clamp": U(lambda T, F, x: x.clamp(-0.5, 0.5)),
        "relu": U(lambda T, F, x: F.relu(x)),
        "leaky_relu": U(lambda T, F, x: F.leaky_relu(x, 0.1)),
        "gelu": U(lambda T, F, x: F.gelu(x)),
        "gelu tanh": U(lambda T, F, x: F.gelu(x, approximate="tanh")),
        "silu": U(lambda T, F, x: F.silu(x)),
        "softplus": U(lambda T, F, x: F.softplus(x)),
        "elu": U(lambda T, F, x: F.elu(x)),
        "selu": U(lambda T, F, x: F.selu(x)),
        "mish": U(lambda T, F, x: F.mish(x)),
        "hardswish": U(lambda T, F, x: F.hardswish(x)),
        "hardtanh": U(lambda T, F, x: F.hardtanh(x)),
        "sigmoid": U(lambda T, F, x: x.sigmoid()),
        "tanh": U(lambda T, F, x: x.tanh()),
        "softmax": U(lambda T, F, x: F.softmax(x, dim=-1) * x),
        "log_softmax": U(lambda T, F, x: F.log_softmax(x, dim=-1) * x),
        "glu": U(lambda T, F, x: F.glu(x, dim=-1)),
        # reductions
        "sum dim1": U(lambda T, F, x: x.sum(1)),
        "mean dim0": U(lambda T, F, x: x.mean(0)),
        "var dim1": U(lambda T, F, x: x.var(1)),
        "std dim1": U(lambda T, F, x: x.std(1)),
        "norm dim1": U(lambda T, F, x: x.norm(dim=1)),
        "linalg.vector_norm": U(lambda T, F, x: T.linalg.vector_norm(x, 2, dim=-1)),
        "max dim1": U(lambda T, F, x: x.max(1)[0]),
        "min dim1": U(lambda T, F, x: x.min(1).values),
        "amax dim1": U(lambda T, F, x: x.amax(1)),
        "max all": U(lambda T, F, x: x.max()),
        "argmax dim1 (fwd)": U(lambda T, F, x: x + x.argmax(1, keepdim=True)),
        "logsumexp dim1": U(lambda T, F, x: x.logsumexp(1)),
        "cumsum dim1": U(lambda T, F, x: x.cumsum(1)),
        "cumprod dim1": U(lambda T, F, x: (x * 0.01 + 1).cumprod(1)),
        "prod dim1": U(lambda T, F, x: (x * 0.01 + 1).prod(1)),
        "sort dim1": U(lambda T, F, x: x.sort(1)[0]),
        "topk 10": U(lambda T, F, x: x.topk(10, 1)[0]),
        "median dim1": U(lambda T, F, x: x.median(1)[0]),
        # shape ops
        "cat dim1": _binary(lambda T, x, y: T.cat([x, y], 1)),
        "stack": _binary(lambda T, x, y: T.stack([x, y])),
        "split 4": U(lambda T, F, x: x.split(128, 1)[1]),
        "chunk 4": U(lambda T, F, x: x.chunk(4, 1)[2]),
        "permute+contiguous": U(lambda T, F, x: x.permute(0, 2, 3, 1).contiguous(), (32, 16, 28, 28)),
        "transpose+reshape": U(lambda T, F, x: x.transpose(1, 2).reshape(32, 28, -1), (32, 16, 28, 28)),
        "expand": U(lambda T, F, x: x[:, None, :].expand(-1, 8, -1) * 1.0),
        "repeat": U(lambda T, F, x: x.repeat(2, 3)),
        "tile": U(lambda T, F, x: x.tile((2, 3))),
        "repeat_interleave": U(lambda T, F, x: x.repeat_interleave(3, dim=0)),
        "roll": U(lambda T, F, x: x.roll(5, 1)),
        "flip": U(lambda T, F, x: x.flip(1)),
        "pad 2d": U(lambda T, F, x: F.pad(x, (1, 1, 2, 2)), (32, 16, 28, 28)),
        "pad reflect": U(lambda T, F, x: F.pad(x, (1, 1, 1, 1), mode="reflect"), (32, 16, 28, 28)),
        "unfold (tensor)": U(lambda T, F, x: x.unfold(1, 8, 4)),
        "F.unfold 3x3": U(lambda T, F, x: F.unfold(x, 3, padding=1), (32, 16, 28, 28)),
        "tril": U(lambda T, F, x: x.tril()),
        # layers
        "linear": _module(lambda nn: nn.Linear(512, 512), (64, 512)),
        "conv1d k3": _module(lambda nn: nn.Conv1d(64, 64, 3, padding=1), (32, 64, 128)),
        "conv2d 3x3": _module(lambda nn: nn.Conv2d(16, 32, 3, padding=1), (32, 16, 28, 28)),
        "conv2d stride2": _module(lambda nn: nn.Conv2d(16, 32, 3, stride=2, padding=1), (32, 16, 28, 28)),
        "conv2d groups4": _module(lambda nn: nn.Conv2d(16, 32, 3, padding=1, groups=4), (32, 16, 28, 28)),
        "conv2d depthwise": _module(lambda nn: nn.Conv2d(16, 16, 3, padding=1, groups=16), (32, 16, 28, 28)),
        "conv2d dilation2": _module(lambda nn: nn.Conv2d(16, 32, 3, padding=2, dilation=2), (32, 16, 28, 28)),
        "conv2d 1x1": _module(lambda nn: nn.Conv2d(16, 32, 1), (32, 16, 28, 28)),
        "conv_transpose2d s2": _module(lambda nn: nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), (32, 16, 14, 14)),
        "max_pool2d 2": U(lambda T, F, x: F.max_pool2d(x, 2), (32, 16, 28, 28)),
        "max_pool2d 3 s2 p1": U(lambda T, F, x: F.max_pool2d(x, 3, 2, 1), (32, 16, 28, 28)),
        "avg_pool2d 2": U(lambda T, F, x: F.avg_pool2d(x, 2), (32, 16, 28, 28)),
        "adaptive_avg_pool2d 1": U(lambda T, F, x: F.adaptive_avg_pool2d(x, 1), (32, 16, 28, 28)),
        "adaptive_avg_pool2d 5": U(lambda T, F, x: F.adaptive_avg_pool2d(x, 5), (32, 16, 28, 28)),
        "adaptive_max_pool2d 5": U(lambda T, F, x: F.adaptive_max_pool2d(x, 5), (32, 16, 28, 28)),
        "interpolate nearest x2": U(lambda T, F, x: F.interpolate(x, scale_factor=2), (32, 16, 28, 28)),
        "interpolate bilinear x2": U(lambda T, F, x: F.interpolate(x, scale_factor=2, mode="bilinear"), (32, 16, 28, 28)),
        "batch_norm (train)": _module(lambda nn: nn.BatchNorm2d(16), (32, 16, 28, 28)),
        "layer_norm": _module(lambda nn: nn.LayerNorm(512), (64, 512)),
        "group_norm": _module(lambda nn: nn.GroupNorm(4, 16), (32, 16, 28, 28)),
        "rms_norm": _module(lambda nn: nn.RMSNorm(512), (64, 512)),
        "dropout (train)": U(lambda T, F, x: F.dropout(x, 0.1)),
        "embedding module": _module(lambda nn: _EmbedFloat(nn), (32, 64)),
        "cross_entropy smooth+ignore": lambda T, s: _ce(T, s, dict(label_smoothing=0.1, ignore_index=3)),
        "cross_entropy": lambda T, s: _ce(T, s, {}),
        "cross_entropy 4d": lambda T, s: _ce4(T, s),
        "nll_loss": lambda T, s: _ce(T, s, {}, nll=True),
        "mse_loss": _binary(lambda T, x, y: T.nn.functional.mse_loss(x, y)),
        "l1_loss": _binary(lambda T, x, y: T.nn.functional.l1_loss(x, y)),
        "smooth_l1_loss": _binary(lambda T, x, y: T.nn.functional.smooth_l1_loss(x, y)),
        "bce_with_logits": _binary(lambda T, x, y: T.nn.functional.binary_cross_entropy_with_logits(x, y.sigmoid())),
        "bce": _binary(lambda T, x, y: T.nn.functional.binary_cross_entropy(x.sigmoid(), y.sigmoid())),
        "kl_div": _binary(lambda T, x, y: T.nn.functional.kl_div(x.log_softmax(-1), y.log_softmax(-1), reduction="batchmean", log_target=True)),
        "sdpa": lambda T, s: _sdpa(T, s, False),
        "sdpa causal": lambda T, s: _sdpa(T, s, True),
        "multihead attention": lambda T, s: _mha(T, s),
        "transformer encoder layer": _module(lambda nn: nn.TransformerEncoderLayer(128, 4, 256, dropout=0.0, batch_first=True), (16, 32, 128)),
        "LSTM seq32 b16": _module(lambda nn: nn.LSTM(64, 128), (32, 16, 64), first=True),
        "GRU seq32 b16": _module(lambda nn: nn.GRU(64, 128), (32, 16, 64), first=True),
        "RNN tanh seq32 b16": _module(lambda nn: nn.RNN(64, 128), (32, 16, 64), first=True),
        # matmul
        "matmul 2d": _binary(lambda T, x, y: x @ y, (64, 512), (512, 512)),
        "bmm": _binary(lambda T, x, y: T.bmm(x, y), (32, 64, 64), (32, 64, 64)),
        "matmul broadcast": _binary(lambda T, x, y: x @ y, (32, 8, 64, 64), (64, 64)),
        "einsum bij-bjk": _binary(lambda T, x, y: T.einsum("bij,bjk->bik", x, y), (32, 64, 64), (32, 64, 64)),
        "einsum bhqd-bhkd": _binary(lambda T, x, y: T.einsum("bhqd,bhkd->bhqk", x, y), (8, 4, 64, 32), (8, 4, 64, 32)),
        "outer": _binary(lambda T, x, y: T.outer(x, y), (512,), (512,)),
        # linalg
        "linalg.solve 64": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.solve(a, b)),
        "linalg.inv 64": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.inv(a)),
        "linalg.cholesky 64": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.cholesky(a @ a.mT)),
        "linalg.det 64": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.det(a)),
        "linalg.svd 32": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.svdvals(a), n=32),
        "linalg.qr 64": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.qr(a)[1]),
        "linalg.eigh 32": lambda T, s: _lin(T, s, lambda T, a, b: T.linalg.eigh(a + a.mT)[0], n=32),
        # optimisers (step only)
        "Adam step 1M": lambda T, s: _opt(T, s, "Adam"),
        "AdamW step 1M": lambda T, s: _opt(T, s, "AdamW"),
        "SGD momentum step 1M": lambda T, s: _opt(T, s, "SGD"),
        "clip_grad_norm 1M": lambda T, s: _opt(T, s, "clip"),
    }
    ops.update(_indexing())
    return ops


def _large():
    """Common ops at realistic sizes (``--sizes large``): activations (256, 1024), images
    (32, 64, 32, 32), indexing of (256, 512) into (256, 1024)."""
    U, E, IMG = _unary, (256, 1024), (32, 64, 32, 32)

    def into(f):                            # (256, 512) sent into zeros (256, 1024)
        return lambda T, s: _big_idx(T, s, lambda T, x, i: f(T.zeros(x.shape[0], 1024), x, i))
    ops = {f"{k} {E[0]}x{E[1]}": U(f, E) for k, f in {
        "gelu": lambda T, F, x: F.gelu(x),
        "gelu tanh": lambda T, F, x: F.gelu(x, approximate="tanh"),
        "silu": lambda T, F, x: F.silu(x),
        "tanh": lambda T, F, x: x.tanh(),
        "sigmoid": lambda T, F, x: x.sigmoid(),
        "relu": lambda T, F, x: F.relu(x),
        "mul": lambda T, F, x: x * x,
        "softmax": lambda T, F, x: F.softmax(x, dim=-1) * x,
        "log_softmax": lambda T, F, x: F.log_softmax(x, dim=-1) * x,
        "max dim1": lambda T, F, x: x.max(1)[0],
        "amax dim1": lambda T, F, x: x.amax(1),
        "cumsum dim1": lambda T, F, x: x.cumsum(1),
        "cumsum dim0": lambda T, F, x: x.cumsum(0),
        "sort dim1": lambda T, F, x: x.sort(1)[0],
        "topk 10": lambda T, F, x: x.topk(10, 1)[0]}.items()}
    ops.update({
        "layer_norm 256x1024": _module(lambda nn: nn.LayerNorm(1024), E),
        "conv2d 3x3 32x64x32x32": _module(lambda nn: nn.Conv2d(64, 64, 3, padding=1), IMG),
        "conv2d depthwise 32x64x32x32": _module(
            lambda nn: nn.Conv2d(64, 64, 3, padding=1, groups=64), IMG),
        "gather dim1 256x1024": lambda T, s: _big_idx(T, s, lambda T, x, i: T.gather(x, 1, i),
                                                      1024),
        "scatter_add 256x1024": into(lambda z, x, i: z.scatter_add(1, i, x)),
        "scatter_reduce sum 256x1024": into(lambda z, x, i: z.scatter_reduce(1, i, x, "sum")),
        "scatter_reduce amax 256x1024": into(lambda z, x, i: z.scatter_reduce(1, i, x, "amax")),
        "scatter_reduce amin 256x1024": into(lambda z, x, i: z.scatter_reduce(1, i, x, "amin")),
        "index_add dim0 256x1024": lambda T, s: _index_add(T, s, 1024, 4),
        "embedding 10000x256": lambda T, s: _embedding(T, s, 10000, 256, 256)})
    return ops


def _big_idx(T, s, f, width=512):
    """x: (256, width); i: (256, 512) integers below 1024."""
    x = _leaf(T, _r(256 * s, width))
    i = T.tensor(_i(1024, 256 * s, 512))
    return [x], lambda: f(T, x, i)


def _EmbedFloat(nn):
    class E(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 128)

        def forward(self, x):
            return self.emb((x.detach().abs() * 300).long() % 1000)
    return E()


def _ce(T, s, kw, nll=False):
    x = _leaf(T, _r(64 * s, 1000))
    y = T.tensor(_i(1000, 64 * s))
    F = T.nn.functional
    if nll:
        return [x], lambda: F.nll_loss(F.log_softmax(x, -1), y)
    return [x], lambda: F.cross_entropy(x, y, **kw)


def _ce4(T, s):
    x = _leaf(T, _r(4 * s, 21, 32, 32))
    y = T.tensor(_i(21, 4 * s, 32, 32))
    return [x], lambda: T.nn.functional.cross_entropy(x, y)


def _sdpa(T, s, causal):
    q, k, v = (_leaf(T, _r(8 * s, 4, 64, 32) + i) for i in range(3))
    return [q, k, v], lambda: T.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)


def _mha(T, s):
    T.manual_seed(0)
    m = T.nn.MultiheadAttention(128, 4, batch_first=True)
    x = _leaf(T, _r(16 * s, 32, 128))
    return [x] + list(m.parameters()), lambda: m(x, x, x, need_weights=False)[0]


def _lin(T, s, f, n=64):
    a = _r(8 * s, n, n) / n ** 0.5 + np.eye(n, dtype=np.float32)
    A, B = _leaf(T, a), _leaf(T, _r(8 * s, n, 4))
    return [A, B], lambda: f(T, A, B)


def _opt(T, s, kind):
    ps = [T.nn.Parameter(T.tensor(_r(1000 * s, 250))) for _ in range(4)]
    for p in ps:
        p.grad = T.tensor(_r(1000 * s, 250) * 1e-3)
    if kind == "clip":
        return None, lambda: T.nn.utils.clip_grad_norm_(ps, 1.0)
    opt = {"Adam": lambda: T.optim.Adam(ps, 1e-3), "AdamW": lambda: T.optim.AdamW(ps, 1e-3),
           "SGD": lambda: T.optim.SGD(ps, 1e-3, momentum=0.9)}[kind]()
    return None, opt.step


# --- child: time one library ----------------------------------------------------------------

def _step_fn(leaves, f):
    if leaves is None:                      # optimiser rows: the step itself
        return f

    def step():
        for t in leaves:
            t.grad = None
        out = f()
        out.sum().backward()
    return step


def _time(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def child(lib, names, scale, large=False, blocks=5, target=0.02):
    if lib == "torch":
        import torch as T
        T.set_num_threads(1)
    else:
        import zeroin as T
    T.set_default_dtype(T.float32)              # zeroin's default is float64; torch's float32
    ops = _large() if large else _ops()
    for name in names:
        try:
            step = _step_fn(*ops[name](T, scale))
            step()                                          # warm-up
            one = _time(step, 3)                            # sizes the blocks
            n = max(1, min(2000, int(target / max(one, 1e-7))))
            times = [_time(step, n) for _ in range(blocks)]
            res = dict(op=name, t=statistics.median(times), n=n)
        except Exception as e:                              # noqa: BLE001  (reported, not hidden)
            res = dict(op=name, error=f"{type(e).__name__}: {str(e)[:200]}")
        print(json.dumps(res), flush=True)


# --- parent -------------------------------------------------------------------------------

def _run_child(lib, names, scale, root=ROOT, sizes="small"):
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS}, PYTHONPATH=root)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", lib, "--scale", str(scale),
           "--only", ",".join(names), "--exact", "--sizes", sizes]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.stderr.write(out.stderr[-2000:])
    return {r["op"]: r for r in map(json.loads, filter(None, out.stdout.splitlines()))}


def _fmt(t):
    return "-" if t is None else (f"{t * 1e3:8.3f} ms" if t >= 1e-3 else f"{t * 1e6:8.1f} us")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated substrings of op names")
    ap.add_argument("--exact", action="store_true", help="--only names are exact")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1, help="multiply the batch dimension")
    ap.add_argument("--sizes", choices=("small", "large"), default="small",
                    help="the sweep's sizes (small) or the realistic table (large)")
    ap.add_argument("--child", choices=("zeroin", "torch"))
    ap.add_argument("--json", help="write every number here")
    ap.add_argument("--against", metavar="TREE",
                    help="time zeroin from TREE (e.g. an older commit's `git archive`) in "
                         "place of torch: before/after of a change, same alternation")
    a = ap.parse_args(argv)
    allnames = list(_large() if a.sizes == "large" else _ops())
    want = [w.strip() for w in a.only.split(",") if w.strip()]
    names = [n for n in allnames if not want or (n in want if a.exact else any(w in n for w in want))]
    if a.child:
        return child(a.child, names, a.scale, a.sizes == "large")
    other = "torch" if a.against is None else "zeroin@" + os.path.basename(a.against.rstrip("/"))
    runs = {"zeroin": [], "torch": []}       # "torch": the reference column, whichever
    for r in range(a.rounds):
        for lib in (("zeroin", "torch") if r % 2 == 0 else ("torch", "zeroin")):
            if lib == "torch" and a.against:
                runs[lib].append(_run_child("zeroin", names, a.scale,
                                            os.path.abspath(a.against), a.sizes))
            else:
                runs[lib].append(_run_child(lib, names, a.scale, sizes=a.sizes))
    rows = []
    for n in names:
        zs = [x[n].get("t") for x in runs["zeroin"] if n in x and "t" in x[n]]
        ts = [x[n].get("t") for x in runs["torch"] if n in x and "t" in x[n]]
        err = next((x[n]["error"] for x in runs["zeroin"] + runs["torch"] if "error" in x.get(n, {})), None)
        ratios = [z / t for z, t in zip(zs, ts)]
        rows.append(dict(op=n, zeroin=statistics.median(zs) if zs else None,
                         torch=statistics.median(ts) if ts else None,
                         ratio=statistics.median(ratios) if ratios else None,
                         lo=min(ratios, default=None), hi=max(ratios, default=None), error=err))
    rows.sort(key=lambda r: -(r["ratio"] or 1e9))
    print(f"per-op forward+backward, 1 thread, {a.sizes} sizes, scale {a.scale}, "
          f"{a.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    print(f"{'op':30s} {'zeroin':>11s} {other[:11]:>11s}  ratio (min-max)")
    for r in rows:
        rr = "-" if r["ratio"] is None else f"{r['ratio']:6.2f} ({r['lo']:.2f}-{r['hi']:.2f})"
        print(f"{r['op']:30s} {_fmt(r['zeroin']):>11s} {_fmt(r['torch']):>11s}  {rr}"
              + (f"  ERROR {r['error']}" if r["error"] else ""))
    if a.json:
        tmp = a.json + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(rows, fh, indent=1)
        os.replace(tmp, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
