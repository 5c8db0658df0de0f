"""The benchmark workloads, each written for zeroin, as hand-written NumPy (the limit), and
for PyTorch and micrograd where they are installed and apply.

The runner (run.py) builds ONE implementation per process, so every builder takes the
implementation's name and imports only that library. Step workloads return ``step()``, a
zero-argument callable doing one iteration (and returning its loss, or None); W1 returns
``run(n) -> seconds`` with the loop written inline, since its iterations last microseconds.
All inputs come from fixed seeds, and every implementation of W3-W5 starts from the same
initial weights (made with NumPy), so the runner can check that their losses agree.
"""
from __future__ import annotations

import os
import time

import numpy as np

clock = time.perf_counter


def timed(step):
    """A runner ``run(n)`` that calls ``step()`` n times and returns the seconds taken."""
    def run(n):
        t0 = clock()
        for _ in range(n):
            step()
        return clock() - t0
    return run


def have(module):
    """Whether ``module`` can be imported (found on the path; it is not imported)."""
    import importlib.util
    return importlib.util.find_spec(module) is not None


def cores():
    """CPU cores this process may run on (the affinity mask, else os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def threads():
    """The thread count the runner chose (ZEROIN_BENCH_THREADS), else all cores."""
    return int(os.environ.get("ZEROIN_BENCH_THREADS", cores()))


def torch_mod():
    import torch
    torch.set_num_threads(threads())
    return torch


def as_float(v):
    """A step's loss as a Python float (zeroin/torch tensor, NumPy value, micrograd Value)."""
    if v is None:
        return None
    if hasattr(v, "item"):
        return float(v.item())
    return float(getattr(v, "data", v))


# --- memory (Linux /proc) ----------------------------------------------------------------

def rss():
    """Resident set size of this process, bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss():
    """Peak RSS of this process, bytes (VmHWM: unlike ru_maxrss, not inherited over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak_rss():
    """Set VmHWM back to the current RSS (Linux >= 4.0); False where that is refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --- W1: the seed graph z = (2w + b)(b + 1) ----------------------------------------------

def w1(impl):
    """``run(n) -> seconds``: n times make the leaves, forward, backward, read both grads."""
    if impl == "zeroin":
        import zeroin
        tensor = zeroin.tensor
        w1_check(zeroin)

        def run(n):
            t0 = clock()
            for _ in range(n):
                w = tensor(3.0, requires_grad=True)
                b = tensor(4.0, requires_grad=True)
                z = (2 * w + b) * (b + 1)
                z.backward()
                w.grad.item(), b.grad.item()
            return clock() - t0
    elif impl == "numpy":
        array = np.array

        def run(n):
            # the same arithmetic on 0-d arrays, with the chain rule written out by hand
            t0 = clock()
            for _ in range(n):
                w = array(3.0)
                b = array(4.0)
                x = 2 * w + b
                y = b + 1
                x * y
                gz = array(1.0)
                gx, gy = gz * y, gz * x
                gw = 2 * gx
                gb = gx + gy
                float(gw), float(gb)
            return clock() - t0
    elif impl == "micrograd":
        from micrograd.engine import Value

        def run(n):
            t0 = clock()
            for _ in range(n):
                w = Value(3.0)
                b = Value(4.0)
                z = (2 * w + b) * (b + 1)
                z.backward()
                w.grad, b.grad
            return clock() - t0
    elif impl == "torch":
        run = _w1_torch()
    else:
        raise ValueError(impl)
    return run


def _w1_torch():
    torch = torch_mod()
    f64 = torch.float64

    def run(n):
        t0 = clock()
        for _ in range(n):
            w = torch.tensor(3.0, requires_grad=True, dtype=f64)
            b = torch.tensor(4.0, requires_grad=True, dtype=f64)
            z = (2 * w + b) * (b + 1)
            z.backward()
            w.grad.item(), b.grad.item()
        return clock() - t0
    return run


def w1_check(zeroin):
    w = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    z = (2 * w + b) * (b + 1)
    z.backward()
    assert (z.item(), w.grad.item(), b.grad.item()) == (50.0, 10.0, 15.0)


# --- W2: a deep chain x = x * 0.99998 + 2e-5, then backward ------------------------------

def w2_chain(impl, n):
    """Run the chain of ``n`` steps once; returns (forward s, backward s, dx/dx0)."""
    if impl in ("zeroin", "torch"):     # the same code on either engine
        if impl == "zeroin":
            import zeroin
            x0 = zeroin.tensor(1.0, requires_grad=True)
        else:
            torch = torch_mod()
            x0 = torch.tensor(1.0, requires_grad=True, dtype=torch.float64)
        t0 = clock()
        x = x0
        for _ in range(n):
            x = x * 0.99998 + 2e-5
        t1 = clock()
        x.backward()
        t2 = clock()
        return t1 - t0, t2 - t1, x0.grad.item()
    if impl == "numpy":
        # forward keeps what backward needs (here only the count); backward multiplies the
        # local derivatives in reverse order
        c = np.array(0.99998)
        d = np.array(2e-5)
        t0 = clock()
        x = np.array(1.0)
        for _ in range(n):
            x = x * c + d
        t1 = clock()
        g = np.array(1.0)
        for _ in range(n):
            g = g * c
        t2 = clock()
        return t1 - t0, t2 - t1, float(g)
    raise ValueError(impl)


def w2_impls():
    return ["zeroin", "numpy"] + (["torch"] if have("torch") else [])


# --- the MLP workloads ---------------------------------------------------------------

def init_mlp(sizes, dtype, seed):
    """PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) weights (out, in) and biases."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(dtype),
                       rng.uniform(-bound, bound, fan_out).astype(dtype)))
    return params


def zeroin_mlp(params):
    import zeroin
    nn = zeroin.nn
    layers = []
    for i, (w, b) in enumerate(params):
        lin = nn.Linear(w.shape[1], w.shape[0], dtype=w.dtype)
        lin.weight.data[...] = w
        lin.bias.data[...] = b
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_mlp(params):
    torch = torch_mod()
    layers = []
    for i, (w, b) in enumerate(params):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=getattr(torch, str(w.dtype)))
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(params) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


class NumpyMLP:
    """Hand-written forward, backward and SGD(momentum) update for a ReLU MLP: the limit."""

    def __init__(self, params, lr, momentum=0.0):
        self.w = [w.copy() for w, _ in params]
        self.b = [b.copy() for _, b in params]
        self.lr, self.m = lr, momentum
        self.vw = [np.zeros_like(w) for w in self.w] if momentum else None
        self.vb = [np.zeros_like(b) for b in self.b] if momentum else None
        self.first = True

    def forward(self, x):
        acts = [x]
        h = x
        last = len(self.w) - 1
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            h = h @ w.T
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
            acts.append(h)
        return acts

    def backward_update(self, acts, gout):
        g = gout
        for i in range(len(self.w) - 1, -1, -1):
            gw = g.T @ acts[i]
            gb = g.sum(axis=0)
            if i:
                g = g @ self.w[i]
                g *= acts[i] > 0
            self._update(i, gw, gb)
        self.first = False

    def _update(self, i, gw, gb):
        # PyTorch's SGD: buf = g on the first step, then buf = m * buf + g; w -= lr * buf
        if self.m:
            if self.first:
                self.vw[i][...] = gw
                self.vb[i][...] = gb
            else:
                self.vw[i] *= self.m
                self.vw[i] += gw
                self.vb[i] *= self.m
                self.vb[i] += gb
            gw, gb = self.vw[i] * self.lr, self.vb[i] * self.lr
        else:
            gw *= self.lr           # fresh arrays from backward: scale them in place
            gb *= self.lr
        self.w[i] -= gw
        self.b[i] -= gb

    def ce_step(self, x, y):
        """One cross-entropy SGD step; returns the loss."""
        acts = self.forward(x)
        logits = acts[-1]
        n = logits.shape[0]
        rows = np.arange(n)
        s = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(s)
        z = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(z[:, 0]) - s[rows, y]))
        e /= z
        e[rows, y] -= 1
        e *= 1.0 / n
        self.backward_update(acts, e)
        return loss

    def predict(self, x):
        return self.forward(x)[-1].argmax(axis=1)


# --- W3: MLP step 784-256-128-10, float32 ------------------------------------------------

W3_SIZES = [784, 256, 128, 10]
W3_VARIANTS = ("ops", "nn")


def w3(impl, variant, batch, lr=0.01):
    """``step()``: one cross-entropy SGD step of the W3 MLP; returns the loss.

    ``variant`` "ops" is the model written with public ops (``x @ W1 + b1``, ``relu``,
    ``cross_entropy``, SGD by hand under ``no_grad``); "nn" uses ``nn.Linear`` layers and
    ``optim.SGD``. NumPy's hand-written step is the same for both.
    """
    if variant not in W3_VARIANTS:
        raise ValueError(f"W3 variant {variant!r}: choose from {W3_VARIANTS}")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    params = init_mlp(W3_SIZES, np.float32, seed=30)
    if impl == "numpy":
        net = NumpyMLP(params, lr)
        return lambda: net.ce_step(x, y)
    if impl == "zeroin":
        import zeroin
        lib = dict(lib=zeroin, tensor=zeroin.tensor, relu=zeroin.relu, no_grad=zeroin.no_grad,
                   ce=zeroin.nn.functional.cross_entropy, target=y)
    elif impl == "torch":
        torch = torch_mod()
        lib = dict(lib=torch, tensor=torch.from_numpy, relu=torch.relu, no_grad=torch.no_grad,
                   ce=torch.nn.functional.cross_entropy, target=torch.from_numpy(y))
    else:
        raise ValueError(impl)
    if variant == "nn":
        return _w3_nn(impl, lib, x, params, lr)
    return _w3_ops(lib, x, params, lr)


def _w3_ops(lib, x, params, lr):
    """The W3 step as a user writes it with tensors and ops (zeroin and torch alike)."""
    tensor, relu, ce, y = lib["tensor"], lib["relu"], lib["ce"], lib["target"]
    no_grad = lib["no_grad"]
    w1, w2, w3_ = (tensor(w.T.copy()).requires_grad_() for w, _ in params)
    b1, b2, b3 = (tensor(b.copy()).requires_grad_() for _, b in params)
    ps = (w1, w2, w3_, b1, b2, b3)
    xt = tensor(x)

    def step():
        h = relu(xt @ w1 + b1)
        h = relu(h @ w2 + b2)
        loss = ce(h @ w3_ + b3, y)
        loss.backward()
        with no_grad():
            for p in ps:
                p -= lr * p.grad
                p.grad = None
        return loss
    return step


def _w3_nn(impl, lib, x, params, lr):
    """The W3 step with nn.Linear layers and optim.SGD (zeroin and torch alike)."""
    model = zeroin_mlp(params) if impl == "zeroin" else torch_mlp(params)
    opt = lib["lib"].optim.SGD(model.parameters(), lr=lr)
    xt, ce, y = lib["tensor"](x), lib["ce"], lib["target"]

    def step():
        opt.zero_grad()
        loss = ce(model(xt), y)
        loss.backward()
        opt.step()
        return loss
    return step


def w3_steps_rss(variant, steps, batch=128, mark=100):
    """RSS (bytes) after ``mark`` zeroin W3 steps and after ``steps``."""
    run = timed(w3("zeroin", variant, batch))
    run(mark)
    r1 = rss()
    run(steps - mark)
    return r1, rss()


# --- W4: micrograd's demo, 2-16-16-1 on two moons, hinge loss + L2, float64 ---------------

W4_SIZES = [2, 16, 16, 1]
W4_LR, W4_ALPHA = 0.05, 1e-4


def moons(n=100, noise=0.1, seed=4):
    """Two interleaving half circles (as sklearn's make_moons), labels -1 / +1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0, np.pi, n_out)
    t_in = np.linspace(0, np.pi, n_in)
    x = np.vstack([np.c_[np.cos(t_out), np.sin(t_out)],
                   np.c_[1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5]])
    x += rng.normal(scale=noise, size=x.shape)
    y = np.r_[-np.ones(n_out), np.ones(n_in)]
    return x, y


def w4(impl, replay=False):
    """``step()``: one full-batch step of micrograd's demo; returns the loss. With
    ``replay`` zeroin's loss function goes through ``zeroin.replay`` (the others ignore it)."""
    x, y = moons()
    params = init_mlp(W4_SIZES, np.float64, seed=40)
    if impl in ("zeroin", "torch"):
        return _w4_engine(impl, x, y, params, W4_LR, W4_ALPHA, replay and impl == "zeroin")
    build = dict(numpy=_w4_numpy, micrograd=_w4_micrograd)
    if impl not in build:
        raise ValueError(impl)
    return build[impl](x, y, params, W4_LR, W4_ALPHA)


def _w4_engine(impl, x, y, params, lr, alpha, replay=False):
    """The same step on zeroin and torch: nn.Linear layers and optim.SGD."""
    if impl == "zeroin":
        import zeroin as lib
        model, tensor = zeroin_mlp(params), lib.tensor
    else:
        lib = torch_mod()
        model, tensor = torch_mlp(params), lib.from_numpy
    ps = list(model.parameters())
    opt = lib.optim.SGD(ps, lr=lr)
    xt, yt = tensor(x), tensor(y.reshape(-1, 1))

    def loss_fn():
        return lib.relu(1 - yt * model(xt)).mean() + alpha * sum((p * p).sum() for p in ps)
    if replay:
        loss_fn = lib.replay(loss_fn)

    def step():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss
    return step


def _w4_numpy(x, y, params, lr, alpha):
    w = [p[0].copy() for p in params]
    b = [p[1].copy() for p in params]
    ycol = y.reshape(-1, 1)

    def step():
        acts = [x]
        h = x
        for i in range(3):
            h = h @ w[i].T + b[i]
            if i < 2:
                h = np.maximum(h, 0)
            acts.append(h)
        margin = 1 - ycol * h
        loss = np.maximum(margin, 0).mean() + alpha * sum((p * p).sum() for p in w + b)
        g = -(ycol * (margin > 0)) / margin.size
        for i in range(2, -1, -1):
            gw = g.T @ acts[i] + 2 * alpha * w[i]
            gb = g.sum(axis=0) + 2 * alpha * b[i]
            if i:
                g = (g @ w[i]) * (acts[i] > 0)
            w[i] -= lr * gw
            b[i] -= lr * gb
        return float(loss)
    return step


def _w4_micrograd(x, y, params, lr, alpha):
    from micrograd.engine import Value
    from micrograd.nn import MLP
    mlp = MLP(2, [16, 16, 1])
    for layer, (wl, bl) in zip(mlp.layers, params):
        for neuron, wrow, bv in zip(layer.neurons, wl, bl):
            for p, v in zip(neuron.w, wrow):
                p.data = float(v)
            neuron.b.data = float(bv)
    mps = mlp.parameters()
    xs = [[Value(float(a)) for a in row] for row in x]

    def step():
        scores = [mlp(row) for row in xs]
        data_loss = sum((1 + -float(yi) * si).relu() for yi, si in zip(y, scores)) \
            * (1.0 / len(y))
        loss = data_loss + alpha * sum(p * p for p in mps)
        mlp.zero_grad()
        loss.backward()
        for p in mps:
            p.data -= lr * p.grad
        return loss
    return step


# --- W5: time to 97% test accuracy on sklearn's digits ---------------------------------

W5_SIZES = [64, 128, 10]


def digits_split(seed=5):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = 360
    te, tr = perm[:n_test], perm[n_test:]
    mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0) + 1e-2     # standardise by train stats
    x = ((x - mu) / sd).astype(np.float32)
    return x[tr], y[tr], x[te], y[te]


def w5(impl, target=0.97, max_epochs=100, batch=32, lr=0.01, momentum=0.9):
    """(wall seconds to reach ``target`` test accuracy or None, epochs, accuracy)."""
    xtr, ytr, xte, yte = digits_split()
    params = init_mlp(W5_SIZES, np.float32, seed=50)
    orders = [np.random.default_rng(500 + e).permutation(len(ytr)) for e in range(max_epochs)]
    if impl == "zeroin":
        step, accuracy = _w5_zeroin(params, lr, momentum, xte, yte)
    elif impl == "numpy":
        net = NumpyMLP(params, lr, momentum)
        step = net.ce_step
        accuracy = lambda: float((net.predict(xte) == yte).mean())  # noqa: E731
    elif impl == "torch":
        step, accuracy = _w5_torch(params, lr, momentum, xte, yte)
    else:
        raise ValueError(impl)
    t0 = clock()
    acc = 0.0
    for epoch in range(max_epochs):
        order = orders[epoch]
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            step(xtr[idx], ytr[idx])
        acc = accuracy()
        if acc >= target:
            return clock() - t0, epoch + 1, acc
    return None, max_epochs, acc


def _w5_zeroin(params, lr, momentum, xte, yte):
    import zeroin
    F = zeroin.nn.functional
    model = zeroin_mlp(params)
    opt = zeroin.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    xte_z = zeroin.tensor(xte)

    def step(xb, yb):
        opt.zero_grad()
        F.cross_entropy(model(zeroin.tensor(xb)), yb).backward()
        opt.step()

    def accuracy():
        with zeroin.no_grad():
            return float((model(xte_z).data.argmax(axis=1) == yte).mean())
    return step, accuracy


def _w5_torch(params, lr, momentum, xte, yte):
    torch = torch_mod()
    tm = torch_mlp(params)
    topt = torch.optim.SGD(tm.parameters(), lr=lr, momentum=momentum)
    tce = torch.nn.functional.cross_entropy
    xte_t = torch.from_numpy(xte)

    def step(xb, yb):
        topt.zero_grad()
        tce(tm(torch.from_numpy(xb)), torch.from_numpy(yb)).backward()
        topt.step()

    def accuracy():
        with torch.no_grad():
            return float((tm(xte_t).argmax(dim=1).numpy() == yte).mean())
    return step, accuracy
