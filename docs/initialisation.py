"""Measure how the first guess of the weights decides what gradient descent can do.

Run: python docs/initialisation.py   (prints the tables used in docs/initialisation.md;
about 30 s on an idle 2-core machine, up to 12 min measured on a busy one). Everything is
seeded, so the numbers repeat.
"""
from __future__ import annotations

import math
import time

import numpy as np

import zeroin
from zeroin import nn, optim
from zeroin.nn import init

SCHEMES = {
    "zeros": lambda w, rng: init.zeros_(w),
    "normal std=0.01": lambda w, rng: init.normal_(w, 0.0, 0.01, rng=rng),
    "Xavier (Glorot) normal": lambda w, rng: init.xavier_normal_(w, rng=rng),
    "He (Kaiming) normal": lambda w, rng: init.kaiming_normal_(w, nonlinearity="relu",
                                                               rng=rng),
}


def activation_std(scheme, act, depth=10, width=256, batch=512, seed=0):
    """Std of the activations after each of ``depth`` layers (input std 1)."""
    rng = np.random.default_rng(seed)
    h = zeroin.tensor(rng.standard_normal((batch, width)))
    stds = []
    with zeroin.no_grad():
        for _ in range(depth):
            layer = nn.Linear(width, width, bias=False)
            SCHEMES[scheme](layer.weight, rng)
            h = act(layer(h))
            stds.append(float(h.data.std()))
    return stds


def spirals(n=600, seed=0):
    """Two interleaved spirals: a task that needs several layers."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n // 2)) * 3 * math.pi
    a = np.stack([t * np.cos(t), t * np.sin(t)], 1) / (3 * math.pi)
    x = np.concatenate([a, -a]) + rng.normal(0, 0.02, (n, 2))
    y = np.concatenate([np.zeros(n // 2, int), np.ones(n // 2, int)])
    return x, y


def train(scheme, steps=1500, depth=6, width=64, lr=0.1, seed=0):
    """Full-batch SGD with momentum on the spirals; returns losses, accuracy, first-layer
    gradient norm at step 0."""
    rng = np.random.default_rng(seed)
    x, y = spirals(seed=seed)
    layers = []
    sizes = [2] + [width] * (depth - 1)
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(width, 2))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            SCHEMES[scheme](m.weight, rng)
            init.zeros_(m.bias)
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    xt = zeroin.tensor(x)
    losses, g0 = [], None
    for step in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), y)
        loss.backward()
        if g0 is None:
            g0 = float(np.linalg.norm(model[0].weight.grad.data))
        opt.step()
        losses.append(loss.item())
    with zeroin.no_grad():
        acc = float((model(xt).data.argmax(1) == y).mean())
    return losses, acc, g0


def main():
    t0 = time.time()
    print("## Activation std after each layer (width 256, input std 1)\n")
    for name, act in (("ReLU", zeroin.relu), ("tanh", zeroin.tanh)):
        print(f"{name} layers:\n")
        print("| initialisation | layer 1 | layer 2 | layer 5 | layer 10 |")
        print("|---|---|---|---|---|")
        for scheme in SCHEMES:
            s = activation_std(scheme, act)
            print(f"| {scheme} | " + " | ".join(f"{s[i]:.3g}" for i in (0, 1, 4, 9)) + " |")
        print()
    print("## Training a 6-layer ReLU network on two spirals (600 points, full batch, "
          "SGD lr 0.1, momentum 0.9)\n")
    print("| initialisation | grad norm, layer 1, step 0 | loss at step 0 | 100 | 500 | 1500 "
          "| accuracy |")
    print("|---|---|---|---|---|---|---|")
    for scheme in SCHEMES:
        losses, acc, g0 = train(scheme)
        print(f"| {scheme} | {g0:.3g} | {losses[0]:.4f} | {losses[100]:.4f} | "
              f"{losses[500]:.4f} | {losses[-1]:.4f} | {acc:.1%} |")
    print(f"\n(run time {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
