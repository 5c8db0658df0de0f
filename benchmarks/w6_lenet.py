"""W6: one LeNet-5 training step (float32, batch 64) in zeroin, hand-written NumPy and PyTorch.

The network: 1x28x28 input, conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool
2, flatten, 400-120-84-10 with ReLUs, cross-entropy, plain SGD (lr 0.01). Every
implementation starts from the same weights (PyTorch's default ranges, made with NumPy)
and the same batch.

    make_step(impl, batch=64, threads=None) -> step()    impl in IMPLS

``python benchmarks/w6_lenet.py [--repeats 7] [--steps 30] [--threads N]`` times each
implementation in its own fresh process (implementations alternate over rounds) and
prints the median seconds per step, the ratios and each process's peak memory above its
state before the first step.
"""
from __future__ import annotations

import os
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

IMPLS = ("zeroin", "numpy", "torch")
LR = 0.01
# (name, weight shape, fan_in): conv weights (out, in, kh, kw), linear (out, in)
LAYERS = (("c1", (6, 1, 5, 5), 25), ("c2", (16, 6, 5, 5), 150), ("f1", (120, 400), 400),
          ("f2", (84, 120), 120), ("f3", (10, 84), 84))


def init_params(seed=6, dtype=np.float32):
    """PyTorch's default ranges: weights and biases uniform in +-1/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, fan_in in LAYERS:
        bound = 1 / np.sqrt(fan_in)
        out[name] = (rng.uniform(-bound, bound, shape).astype(dtype),
                     rng.uniform(-bound, bound, shape[0]).astype(dtype))
    return out


def batch_data(batch, seed=60):
    rng = np.random.default_rng(seed)
    return (rng.random((batch, 1, 28, 28), dtype=np.float32),
            rng.integers(0, 10, batch).astype(np.int64))


def _limit_threads(threads):
    if threads is None:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(threads)


def make_step(impl, batch=64, threads=None):
    """A zero-argument callable doing one training step of ``impl``; ImportError when
    torch is asked for and missing."""
    if impl not in IMPLS:
        raise ValueError(f"make_step: impl must be one of {IMPLS}, got {impl!r}")
    params = init_params()
    x, y = batch_data(batch)
    if impl == "torch":
        return _torch_step(params, x, y, threads)
    make_step.limits = _limit_threads(threads)      # kept alive with the step
    return _zeroin_step(params, x, y) if impl == "zeroin" else _numpy_step(params, x, y)


# --- zeroin ------------------------------------------------------------------------------

def lenet(nn):
    """LeNet-5 as a PyTorch-style Sequential (works with zeroin.nn and torch.nn)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def _zeroin_step(params, x, y):
    import zeroin
    model = lenet(zeroin.nn).float()
    layers = [m for m in model if hasattr(m, "weight")]
    for m, (name, _, _) in zip(layers, LAYERS):
        m.weight.data[...] = params[name][0]
        m.bias.data[...] = params[name][1]
    opt = zeroin.optim.SGD(model.parameters(), lr=LR)
    return _train_step(model, opt, zeroin.nn.functional.cross_entropy, zeroin.tensor(x), y)


def _train_step(model, opt, ce, x, y):
    """One training step of ``model`` on the fixed batch (zeroin and torch alike)."""
    def step():
        opt.zero_grad()
        loss = ce(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


# --- PyTorch -----------------------------------------------------------------------------

def _torch_step(params, x, y, threads):
    import torch
    if threads is not None:
        torch.set_num_threads(threads)
    model = lenet(torch.nn)
    layers = [m for m in model if hasattr(m, "weight")]
    with torch.no_grad():
        for m, (name, _, _) in zip(layers, LAYERS):
            m.weight.copy_(torch.from_numpy(params[name][0]))
            m.bias.copy_(torch.from_numpy(params[name][1]))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    return _train_step(model, opt, torch.nn.functional.cross_entropy, torch.from_numpy(x),
                       torch.from_numpy(y))


# --- hand-written NumPy: im2col + one matrix product per convolution ----------------------

def _cols(x, k, pad=0):
    """(C*k*k, N*oh*ow) columns of x (N, C, H, W), stride 1."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    v = sliding_window_view(x, (k, k), axis=(2, 3))          # (N, C, oh, ow, k, k)
    n, c, oh, ow = v.shape[:4]
    return np.ascontiguousarray(v.transpose(1, 4, 5, 0, 2, 3)).reshape(c * k * k, -1), oh, ow


def _conv(x, w, b, pad=0):
    """One product per sample, straight into (N, O, oh, ow)."""
    cols, oh, ow = _cols(x, w.shape[2], pad)
    n, o = x.shape[0], w.shape[0]
    z = np.matmul(w.reshape(o, -1), cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2))
    z += b[:, None]
    return z.reshape(n, o, oh, ow), cols


_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _pool(a):
    """2x2 max pooling: the maximum of four strided views."""
    v = [a[:, :, i::2, j::2] for i, j in _CORNERS]
    return np.maximum(np.maximum(v[0], v[1]), np.maximum(v[2], v[3]))


def _pool_back(a, p, g):
    """The gradient to the maxima (to each of equal ones: a hand-written shortcut)."""
    gx = np.empty_like(a)
    for i, j in _CORNERS:
        np.multiply(g, a[:, :, i::2, j::2] == p, out=gx[:, :, i::2, j::2])
    return gx


def _conv_back(g, w, cols, x_shape=None, k=5):
    """dW, db and (if x_shape) dx of a stride-1 valid convolution."""
    o, n = w.shape[0], g.shape[0]
    gb = g.sum(axis=(0, 2, 3))
    if x_shape is None:         # the first layer (784 outputs per image): per sample
        per = np.matmul(g.reshape(n, o, -1), cols.reshape(cols.shape[0], n, -1)
                        .transpose(1, 2, 0))
        return per.sum(axis=0).reshape(w.shape), gb, None
    g2 = np.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(o, -1)
    gw = (cols @ g2.T).T.reshape(w.shape)
    n, c, h, wd = x_shape
    oh, ow = g.shape[2:]
    gc = (w.reshape(o, -1).T @ g2).reshape(c, k, k, n, oh, ow)
    gx = np.zeros(x_shape, dtype=g.dtype)
    for a in range(k):
        for b in range(k):
            gx[:, :, a:a + oh, b:b + ow] += gc[:, a, b].transpose(1, 0, 2, 3)
    return gw, gb, gx


def _numpy_step(params, x, y):
    p = {k: (w.copy(), b.copy()) for k, (w, b) in params.items()}
    n = x.shape[0]
    rows = np.arange(n)

    def step():
        (w1, b1), (w2, b2) = p["c1"], p["c2"]
        a1, cols1 = _conv(x, w1, b1, pad=2)
        np.maximum(a1, 0, out=a1)
        p1 = _pool(a1)
        a2, cols2 = _conv(p1, w2, b2)
        np.maximum(a2, 0, out=a2)
        p2 = _pool(a2)
        h0 = p2.reshape(n, -1)
        hs = [h0]
        for name in ("f1", "f2", "f3"):
            w, b = p[name]
            h = hs[-1] @ w.T
            h += b
            if name != "f3":
                np.maximum(h, 0, out=h)
            hs.append(h)
        s = hs[-1] - hs[-1].max(axis=1, keepdims=True)
        e = np.exp(s)
        z = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(z[:, 0]) - s[rows, y]))
        e /= z
        e[rows, y] -= 1
        g = e * (1.0 / n)
        grads = {}
        for i, name in ((2, "f3"), (1, "f2"), (0, "f1")):
            w, _ = p[name]
            grads[name] = (g.T @ hs[i], g.sum(axis=0))
            g = g @ w
            if i:
                g *= hs[i] > 0
        g = _pool_back(a2, p2, g.reshape(p2.shape))
        g *= a2 > 0
        gw2, gb2, g = _conv_back(g, w2, cols2, p1.shape)
        grads["c2"] = (gw2, gb2)
        g = _pool_back(a1, p1, g)
        g *= a1 > 0
        grads["c1"] = _conv_back(g, w1, cols1)[:2]
        for name, (gw, gb) in grads.items():
            w, b = p[name]
            w -= LR * gw
            b -= LR * gb
        return loss
    return step


# --- each implementation in its own process ----------------------------------------------

def _child(impl, steps, repeats, threads):
    import json
    import statistics
    import time
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:0] = [os.path.dirname(here), here]
    from workloads import peak_rss, rss
    step = make_step(impl, threads=threads)
    r0 = rss()         # before the first step: its one-time allocations count too
    for _ in range(3):
        step()
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        times.append((time.perf_counter() - t0) / steps)
        cpu.append((time.process_time() - c0) / steps)
    print(json.dumps({"median": statistics.median(times), "best": min(times),
                      "cpu": statistics.median(cpu), "peak_mb": (peak_rss() - r0) / 2**20}))


def main(argv=None):
    import argparse
    import json
    import statistics
    import subprocess
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        return _child(a.child, a.steps, a.repeats, a.threads)
    res = {k: [] for k in IMPLS}
    for r in range(a.rounds):
        for impl in (IMPLS if r % 2 == 0 else IMPLS[::-1]):
            cmd = [sys.executable, os.path.abspath(__file__), "--child", impl, "--steps",
                   str(a.steps), "--repeats", str(a.repeats)]
            if a.threads:
                cmd += ["--threads", str(a.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode:
                print(f"{impl}: failed\n{p.stderr[-2000:]}")
                continue
            res[impl].append(json.loads(p.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(r["median"] for r in v) for k, v in res.items() if v}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in res.items() if v}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in res.items() if v}
    for k in med:
        print(f"{k:7s} {med[k] * 1e3:8.2f} ms/step (cpu {cpu[k] * 1e3:.2f} ms)   peak "
              f"+{peak[k]:.1f} MB")
    if "zeroin" in med:
        for k in ("numpy", "torch"):
            if k in med:
                print(f"zeroin/{k}: time {med['zeroin'] / med[k]:.2f}x (cpu "
                      f"{cpu['zeroin'] / cpu[k]:.2f}x), peak memory "
                      f"{peak['zeroin'] / max(peak[k], 1e-9):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
