"""Rprop, ASGD, Adafactor and Muon with PyTorch's defaults, formulas and state keys.

Notation as in :mod:`zeroin.optim.optimizers`: ``w`` the parameter's array (changed in
place), ``g`` its gradient (negated with ``maximize=True``), ``t`` the step number from 1.
Scalars PyTorch keeps as float32 tensors (ASGD's ``eta`` and ``mu``) are rounded to
float32 here too, so that a run matches PyTorch's to the bit.
"""
from __future__ import annotations

import math

import numpy as np

from .._torch_ops import _lerp_array
from .optimizer import Optimizer, _check_number
from .optimizers import _flags, _l2

__all__ = ["Rprop", "ASGD", "Adafactor", "Muon"]


def _pair(name, what, v, example):
    """A pair of numbers (PyTorch's ``etas``, ``step_sizes``, ``eps``), as a tuple."""
    if isinstance(v, (str, bytes)) or not hasattr(v, "__len__") or len(v) != 2:
        raise ValueError(f"{name}: {what} must be a pair {example}, got {v!r}")
    return v if isinstance(v, (tuple, list)) else tuple(v)     # kept as given, as PyTorch


class Rprop(Optimizer):
    """Resilient backpropagation: only the sign of the gradient is used. Each weight has
    its own step size ``s`` (from ``lr``), multiplied by ``etas[1]`` while the gradient's
    sign stays, by ``etas[0]`` when it flips (and that step is skipped: g taken as 0), and
    clamped to ``step_sizes``; ``w <- w - sign(g) s``."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        super().__init__(params, _flags("Rprop", dict(
            lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
            differentiable=differentiable, capturable=capturable)))

    def _check(self, group):
        super()._check(group)
        minus, plus = group["etas"] = _pair("Rprop", "etas", group["etas"], "(0.5, 1.2)")
        if not 0.0 < minus < 1.0 < plus:
            raise ValueError(f"Invalid eta values: {minus}, {plus}; Rprop: etas must "
                             f"satisfy 0 < etas[0] < 1 < etas[1] (the "
                             f"step shrinks on a sign flip, grows otherwise), got "
                             f"{group['etas']}")
        group["step_sizes"] = _pair("Rprop", "step_sizes", group["step_sizes"], "(1e-6, 50)")

    def _init_state(self, p, group):
        lr = float(group["lr"])         # complex: lr in both parts, as PyTorch
        return {"step": 0, "prev": np.zeros_like(p.numpy()),
                "step_size": np.full_like(p.numpy(), lr * (1 + 1j) if p.is_complex() else lr)}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        minus, plus = group["etas"]
        lo, hi = group["step_sizes"]
        prev, s = state["prev"], state["step_size"]
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, plus, np.where(sign < 0, minus, 1.0)).astype(w.dtype)
        s *= factor
        np.clip(s, lo, hi, out=s)                               # s <- clamp(s * eta)
        g = np.where(sign < 0, np.zeros((), w.dtype), g)        # a flip: no step
        w -= np.sign(g) * s                                     # w <- w - sign(g) s
        prev[...] = g


class ASGD(Optimizer):
    """Averaged SGD: ``w <- w (1 - lambd eta) - eta g`` and the running average
    ``ax <- ax + mu (w - ax)`` of the iterates (``ax = w`` while ``mu = 1``), with
    ``eta = lr / (1 + lambd lr t)**alpha`` and ``mu = 1 / max(1, t - t0)`` after step t.
    The averaged weights are ``optimizer.state[p]["ax"]``."""

    _float32_scalars = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        super().__init__(params, _flags("ASGD", dict(
            lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
            foreach=foreach, maximize=maximize, differentiable=differentiable,
            capturable=capturable)))

    def _check(self, group):
        super()._check(group)
        for key in ("lambd", "alpha", "t0"):
            _check_number("ASGD", key, group[key])

    def _init_state(self, p, group):
        return {"step": 0, "eta": float(np.float32(group["lr"])), "mu": 1.0,
                "ax": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t = state["step"]
        g = _l2(w, g, group["weight_decay"])
        lambd, eta, lr = group["lambd"], state["eta"], float(group["lr"])
        w *= 1 - lambd * eta                                    # decay
        w -= eta * g                                            # w <- w - eta g
        ax = state["ax"]
        if state["mu"] != 1:
            ax += (w - ax) * state["mu"]
        else:
            ax[...] = w
        state["eta"] = float(np.float32(lr / (1 + lambd * lr * t) ** group["alpha"]))
        state["mu"] = float(np.float32(1 / max(1, t - group["t0"])))


def _should_be(key, v):
    """Adafactor's and Muon's words for a setting out of range."""
    what = {"lr": "Learning rate"}.get(key, key)
    return f"{what} should be >= 0 but is: {v}"


class Adafactor(Optimizer):
    """Adam-like steps with a factored second moment (Shazeer & Stern, 2018), PyTorch's
    variant: for a matrix (or stack of them) a row and a column average of g**2, ``v ~
    row col / mean(row)``, else the full average; ``beta2_t = 1 - t**beta2_decay``; the
    step ``g / sqrt(v)`` is scaled down to RMS at most ``d`` and by
    ``max(eps[1], rms(w)) min(lr, 1/sqrt(t))``; ``weight_decay`` is decoupled. ``eps[0]``
    None means the dtype's machine epsilon."""
    _takes_complex = False

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                                      weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize))

    _torch_says = staticmethod(_should_be)

    def _check(self, group):
        rest = {k: v for k, v in group.items() if k != "eps"}     # a pair, checked here
        super()._check(rest)
        group["lr"] = rest["lr"]
        _check_number("Adafactor", "beta2_decay", group["beta2_decay"], hi=0.0,
                      torch=f"beta2_decay should be <= 0 but is: {group['beta2_decay']}")
        e1, e2 = group["eps"] = _pair("Adafactor", "eps", group["eps"], "(None, 1e-3)")
        if e1 is not None:
            _check_number("Adafactor", "eps[0]", e1, lo=0.0,
                          torch=f"epsilon1 should be >= 0 but is: {e1}")
        _check_number("Adafactor", "eps[1]", e2, lo=0.0,
                      torch=f"epsilon2 should be >= 0 but is: {e2}")
        _check_number("Adafactor", "d", group["d"], lo=1.0,
                      why="; d is the clipping threshold of the step's RMS",
                      torch=f"Clipping threshold d should be >= 1 but is: {group['d']}")

    def _init_state(self, p, group):
        return self._init_state_of(p.numpy())

    @staticmethod
    def _init_state_of(w):
        if w.ndim > 1:
            return {"step": 0, "row_var": np.zeros(w.shape[:-1] + (1,), w.dtype),
                    "col_var": np.zeros(w.shape[:-2] + (1, w.shape[-1]), w.dtype)}
        return {"step": 0, "variance": np.zeros_like(w)}

    def _state_fits(self, state, value):
        fresh = self._init_state_of(value)
        return all(isinstance(fresh.get(k), np.ndarray) and v.shape == fresh[k].shape
                   for k, v in state.items() if isinstance(v, np.ndarray))

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t, lr = state["step"], float(group["lr"])
        e1, e2 = group["eps"]
        if e1 is None:
            e1 = float(np.finfo(w.dtype).eps)
        one_minus_beta2 = t ** group["beta2_decay"]
        alpha = max(e2, float(np.linalg.norm(w.ravel())) / math.sqrt(max(w.size, 1))) * \
            min(lr, 1 / math.sqrt(t))
        if group["weight_decay"]:
            w *= 1 - lr * group["weight_decay"]
        if w.ndim > 1:
            row, col = state["row_var"], state["col_var"]
            row += (np.mean(g * g, axis=-1, keepdims=True) - row) * one_minus_beta2
            col += (np.mean(g * g, axis=-2, keepdims=True) - col) * one_minus_beta2
            v = row @ col
            v /= np.maximum(row.mean(axis=-2, keepdims=True), e1)
        else:
            var = state["variance"]
            var += (g * g - var) * one_minus_beta2
            v = var.copy()
        update = g / np.sqrt(np.maximum(v, e1 * e1))
        rms = float(np.linalg.norm(update.ravel())) / (math.sqrt(max(update.size, 1)) *
                                                       group["d"])
        w -= update * (alpha / max(1.0, rms))


def _bfloat16(a):
    """``a`` rounded to bfloat16 (to nearest, ties to even; a double through float32 first,
    as PyTorch converts it), held in float32: NumPy has no bfloat16, and Muon's
    Newton-Schulz iteration runs in it in PyTorch."""
    b = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32)


def _newton_schulz(g, coefficients, steps, eps):
    """PyTorch's ``_zeropower_via_newtonschulz``: g scaled to norm 1, then ``steps`` of
    X <- a X + (b G + c G G) X with G = X X^T, each product in bfloat16 (float32 sums,
    one rounding per op, as PyTorch's CPU kernels); about U V^T of g's SVD."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational "
                         "efficiency")
    if g.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (np.float32(v) for v in coefficients)
    x = _bfloat16(g)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    norm = _bfloat16(np.sqrt(np.sum(x * x, dtype=np.float32)))
    x = _bfloat16(x / max(norm, _bfloat16(np.float32(eps))))
    for _ in range(steps):
        gram = _bfloat16(x @ x.T)
        update = _bfloat16(b * gram + c * (gram @ gram))
        x = _bfloat16(a * x + update @ x)
    return x.T if tall else x


class Muon(Optimizer):
    """MomentUm Orthogonalized by Newton-schulz (Jordan et al., 2024), PyTorch's, for 2-D
    parameters only: ``B <- lerp(B, g, 1 - momentum)``, the update ``lerp(g, B, momentum)``
    (Nesterov) or ``B``, orthogonalised by ``ns_steps`` Newton-Schulz steps (in bfloat16,
    emulated), ``w <- w (1 - lr wd) - lr' O`` with ``lr' = lr sqrt(max(1, rows/cols))``
    (``adjust_lr_fn="match_rms_adamw"``: ``0.2 lr sqrt(max(rows, cols))``)."""
    _takes_complex = False

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5,
                 adjust_lr_fn=None):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      nesterov=nesterov, ns_coefficients=ns_coefficients,
                                      eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn))

    @staticmethod
    def _torch_says(key, v):
        return _should_be("weight decay" if key == "weight_decay" else key, v)

    def _check(self, group):
        super()._check(group)
        fn = group["adjust_lr_fn"]
        if fn is not None and fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {fn} is not supported (use "
                             f"None, 'original' or 'match_rms_adamw')")
        if not isinstance(group["ns_coefficients"], (tuple, list)):
            group["ns_coefficients"] = tuple(group["ns_coefficients"])
        for p in group["params"]:
            if p.ndim != 2:
                raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                 f"parameter with size: {tuple(p.shape)}; optimise biases "
                                 f"and other parameters with e.g. AdamW")

    def _init_state(self, p, group):
        return {"momentum_buffer": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        buf, m = state["momentum_buffer"], group["momentum"]
        buf[...] = _lerp_array(buf, g, 1 - m)
        update = _lerp_array(g, buf, m) if group["nesterov"] else buf
        o = _newton_schulz(update, group["ns_coefficients"], group["ns_steps"],
                           group["eps"])
        lr = float(group["lr"])
        rows, cols = w.shape[:2]
        fn = group["adjust_lr_fn"]
        if fn is None or fn == "original":
            ratio = math.sqrt(max(1, rows / cols))
        else:
            ratio = 0.2 * math.sqrt(max(rows, cols))
        w *= 1 - lr * group["weight_decay"]
        alpha = w.dtype.type(-(lr * ratio))
        if w.dtype == np.float32:       # PyTorch's add_(alpha=) fuses: emulated exactly
            w[...] = w + o.astype(np.float64) * np.float64(alpha)
        else:
            w += o.astype(w.dtype) * alpha
