"""SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW with PyTorch's defaults and formulas.

Notation: ``g`` gradient (plus ``weight_decay * w`` where L2 decay applies), ``t`` the
step number starting at 1. Every update writes into preallocated arrays.
"""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW"]


def _in_range(name, what, v, lo=0.0, hi=None, hi_open=True):
    ok = v >= lo and (hi is None or (v < hi if hi_open else v <= hi))
    if not ok:
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name}: {what} must be {rng}, got {v!r}")


def _ema_(avg, x, beta, s):
    """``avg <- beta avg + (1-beta) x`` in place (``s`` is scratch)."""
    avg *= beta
    np.multiply(x, 1 - beta, out=s)
    avg += s


def _ema_sq_(avg, x, beta, s):
    """``avg <- beta avg + (1-beta) x**2`` in place (``s`` is scratch)."""
    avg *= beta
    np.multiply(x, x, out=s)
    s *= 1 - beta
    avg += s


class SGD(Optimizer):
    """Stochastic gradient descent, the chapter's ``w <- w - lr * dL/dw``, with options.

    With momentum m: ``b <- m b + (1 - dampening) g`` (``b = g`` on the first step) and the
    step uses ``b`` (or ``g + m b`` with ``nesterov``). ``weight_decay`` adds ``wd * w`` to
    the gradient.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False):
        _in_range("SGD", "momentum", momentum)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def step(self, closure=None):
        """Update every parameter that has a gradient (see :meth:`Optimizer.step`)."""
        if closure is not None:
            return super().step(closure)
        for group in self.param_groups:
            if group["momentum"] or group["weight_decay"]:
                self._step_group(group, group["params"])
                continue
            # plain SGD, the training loop's usual case: w <- w - lr * g, with no scratch
            # buffer per parameter (its state stays empty)
            lr = float(group["lr"])
            state = self.state
            for p in group["params"]:
                gt = p.grad
                if gt is None:
                    continue
                if p not in state:
                    state[p] = {}
                g, d = gt.data, p.data
                if g.dtype is d.dtype and g.shape == d.shape:
                    d -= lr * g             # as _update below, to the bit
                else:
                    self._step_group(group, (p,))
        return None

    def _update(self, d, g, st, group, sc):
        lr = float(group["lr"])
        wd = group["weight_decay"]
        if wd:
            g = self._decayed(d, g, wd, sc)
        m = group["momentum"]
        s = sc[0]
        if m:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = g.copy()
            else:
                buf *= m
                damp = group["dampening"]
                if damp:
                    np.multiply(g, 1 - damp, out=s)
                    buf += s
                else:
                    buf += g
            if group["nesterov"]:
                np.multiply(buf, m, out=s)
                s += g
                s *= -lr
                d += s
                return
            g = buf
        if g.dtype is d.dtype:
            # a temporary, not the scratch buffer: malloc hands back memory freed moments
            # ago, still in cache, where the scratch was last written a step ago (measured
            # 1% of a whole W3 step). d - lr*g equals d + (-lr)*g to the bit.
            d -= lr * g
        else:
            np.multiply(g, -lr, out=s)
            d += s


class Adagrad(Optimizer):
    """Per-weight step sizes that shrink with the sum of squared gradients:
    ``s <- s + g**2``, ``w <- w - lr_t g / (sqrt(s) + eps)``,
    ``lr_t = lr / (1 + (t - 1) lr_decay)``."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10):
        _in_range("Adagrad", "lr_decay", lr_decay)
        _in_range("Adagrad", "initial_accumulator_value", initial_accumulator_value)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))

    def _init_state(self, p, group):
        return {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def _update(self, d, g, st, group, sc):
        st["step"] += 1
        clr = float(group["lr"]) / (1 + (st["step"] - 1) * group["lr_decay"])
        g = self._decayed(d, g, group["weight_decay"], sc)
        s, acc = sc[0], st["sum"]
        np.multiply(g, g, out=s)
        acc += s
        np.sqrt(acc, out=s)
        s += group["eps"]
        np.divide(g, s, out=s)
        s *= -clr
        d += s


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared steps:
    ``v <- rho v + (1-rho) g**2``, ``dx = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u <- rho u + (1-rho) dx**2``, ``w <- w - lr dx``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        _in_range("Adadelta", "rho", rho, 0.0, 1.0, hi_open=False)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay))

    def _init_state(self, p, group):
        return {"step": 0, "square_avg": np.zeros_like(p.data),
                "acc_delta": np.zeros_like(p.data)}

    def _update(self, d, g, st, group, sc):
        st["step"] += 1
        rho, eps = group["rho"], group["eps"]
        g = self._decayed(d, g, group["weight_decay"], sc)
        s = sc[0]
        if g is sc[1]:          # weight decay used the second buffer: need a third
            if len(sc) < 3:
                sc.append(np.empty_like(s))
            s2 = sc[2]
        else:
            s2 = self._second(sc)
        sa, ad = st["square_avg"], st["acc_delta"]
        _ema_sq_(sa, g, rho, s)
        np.add(sa, eps, out=s)
        np.sqrt(s, out=s)                 # std
        np.add(ad, eps, out=s2)
        np.sqrt(s2, out=s2)
        s2 /= s
        s2 *= g                           # delta
        _ema_sq_(ad, s2, rho, s)
        s2 *= -float(group["lr"])
        d += s2


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients:
    ``v <- alpha v + (1-alpha) g**2``, ``w <- w - lr g / (sqrt(v) + eps)`` (``centered``
    subtracts the squared running mean of g; ``momentum`` accumulates the scaled steps)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        _in_range("RMSprop", "alpha", alpha)
        _in_range("RMSprop", "momentum", momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _init_state(self, p, group):
        st = {"step": 0, "square_avg": np.zeros_like(p.data)}
        if group["momentum"] > 0:
            st["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"]:
            st["grad_avg"] = np.zeros_like(p.data)
        return st

    def _update(self, d, g, st, group, sc):
        st["step"] += 1
        alpha, lr = group["alpha"], float(group["lr"])
        g = self._decayed(d, g, group["weight_decay"], sc)
        s, sa = sc[0], st["square_avg"]
        _ema_sq_(sa, g, alpha, s)
        if group["centered"]:
            ga = st["grad_avg"]
            _ema_(ga, g, alpha, s)
            np.multiply(ga, ga, out=s)
            np.subtract(sa, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(sa, out=s)
        s += group["eps"]
        np.divide(g, s, out=s)
        if group["momentum"] > 0:
            buf = st["momentum_buffer"]
            buf *= group["momentum"]
            buf += s
            np.multiply(buf, -lr, out=s)
        else:
            s *= -lr
        d += s


class Adam(Optimizer):
    """Adaptive moments: ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g**2``,
    ``w <- w - lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)``.

    ``weight_decay`` is L2 decay added to the gradient (for decoupled decay use AdamW);
    ``amsgrad`` uses the running maximum of v."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False):
        name = type(self).__name__
        betas = tuple(float(b) for b in betas)
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas}")
        _in_range(name, "beta1", betas[0], 0.0, 1.0)
        _in_range(name, "beta2", betas[1], 0.0, 1.0)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _init_state(self, p, group):
        st = {"step": 0, "exp_avg": np.zeros_like(p.data), "exp_avg_sq": np.zeros_like(p.data)}
        if group["amsgrad"]:
            st["max_exp_avg_sq"] = np.zeros_like(p.data)
        return st

    def _update(self, d, g, st, group, sc):
        st["step"] += 1
        t = st["step"]
        b1, b2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        if self._decoupled:
            if wd:
                d *= 1 - lr * wd
        else:
            g = self._decayed(d, g, wd, sc)
        s, m, v = sc[0], st["exp_avg"], st["exp_avg_sq"]
        _ema_(m, g, b1, s)
        _ema_sq_(v, g, b2, s)
        if group["amsgrad"]:
            vmax = st["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        np.sqrt(v, out=s)
        s *= 1 / math.sqrt(1 - b2 ** t)
        s += group["eps"]
        np.divide(m, s, out=s)
        s *= -lr / (1 - b1 ** t)
        d += s


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w <- w (1 - lr wd)`` before the Adam step
    (default ``weight_decay=1e-2``)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)
