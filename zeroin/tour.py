"""``zeroin tour``: the chapter end to end (seed graph for now)."""
from __future__ import annotations

import zeroin


def run_tour(out="zeroin-out", train=True):
    """Print the seed graph z = (2w + b)(b + 1) at w=3, b=4 with its gradients."""
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    x.retain_grad()
    y.retain_grad()
    z = x * y
    z.backward()
    print(f"x = 2w + b = {x.item():g}   y = b + 1 = {y.item():g}   z = x*y = {z.item():g}")
    print(f"dz/dx = {x.grad.item():g}  dz/dy = {y.grad.item():g}  "
          f"dz/dw = {w.grad.item():g}  dz/db = {b.grad.item():g}")
    return None
