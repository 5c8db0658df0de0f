"""SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, NAdam, RAdam, Adamax with PyTorch's
defaults and formulas.

Notation: ``w`` the parameter's array (changed in place), ``g`` its gradient (negated
with ``maximize=True``; plus ``weight_decay * w`` where L2 decay applies), ``t`` the step
number starting at 1. Running averages are arrays in ``state``, updated in place.

Each ``_update`` follows its docstring's formula line by line. The adaptive ones write
intermediate results into work arrays made once per parameter (``out=``): a temporary
the size of a weight matrix per operation measured up to 4x slower (the allocator returns
the memory to the system and faults it back in at every step).
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import FAST, _with_grads
from ..ops import _number
from .optimizer import Optimizer, _check_number

if FAST:     # SGD's w - lr * g for a weight of _AXPY_MIN entries or more in one BLAS call
    from .._fast import _AXPY_MIN, axpy as _axpy        # (T19)
else:
    _axpy, _AXPY_MIN = None, 0

__all__ = ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "Adamax"]

def _flags(name, defaults):
    """PyTorch's implementation switches, kept in the defaults as PyTorch keeps them:
    ``foreach``, ``fused`` and ``capturable`` choose among PyTorch's kernels (CUDA graphs,
    fused loops) and change nothing in zeroin's one NumPy implementation; PyTorch's
    conflicts are refused with its errors. ``differentiable=True`` (a step recorded for
    autograd) is refused: zeroin's optimisers update ``p.data`` outside the graph."""
    fused, foreach = defaults.get("fused"), defaults.get("foreach")
    if defaults.get("differentiable"):
        if fused:
            raise RuntimeError("`fused` does not support `differentiable`")
        raise NotImplementedError(f"{name}: differentiable=True is not supported: zeroin's "
                                  f"optimisers update p.data outside the autograd graph; "
                                  f"leave differentiable=False")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    return defaults


def _l2(w, g, weight_decay):
    """L2 weight decay as PyTorch adds it to the gradient: g + weight_decay * w."""
    return g + weight_decay * w if weight_decay else g


def _work(work, w, n=1):
    """``n`` work arrays of ``w``'s shape and dtype in the parameter's list ``work``."""
    if len(work) < n or work[0].dtype != w.dtype or work[0].shape != w.shape:
        work[:] = [np.empty_like(w) for _ in range(n)]
    return work[:n]


def _ema_sq(avg, g, beta, tmp):
    """avg <- beta avg + (1 - beta) g**2, in place."""
    avg *= beta
    np.multiply(g, g, out=tmp)
    tmp *= 1 - beta
    avg += tmp


class SGD(Optimizer):
    """Stochastic gradient descent, the chapter's ``w <- w - lr * g``, with options.

    With momentum m: ``b <- m b + (1 - dampening) g`` (``b = g`` on the first step) and the
    step uses ``b`` (or ``g + m b`` with ``nesterov``). ``weight_decay`` adds ``wd * w`` to
    the gradient; ``maximize`` climbs instead (``g <- -g``).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        super().__init__(params, _flags("SGD", dict(
            lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
            nesterov=nesterov, maximize=maximize, foreach=foreach,
            differentiable=differentiable, fused=fused)))

    def _check(self, group):
        super()._check(group)
        momentum, dampening = group["momentum"], group["dampening"]
        _check_number("SGD", "dampening", dampening)
        if group["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError(f"Nesterov momentum requires a momentum and zero dampening; "
                             f"SGD: nesterov momentum needs momentum > 0 and dampening = 0, "
                             f"got momentum={momentum}, dampening={dampening}; pass e.g. "
                             f"momentum=0.9 or drop nesterov=True")

    def step(self, closure=None):
        """Update every parameter that has a gradient (see :meth:`Optimizer.step`)."""
        if closure is not None:
            return super().step(closure)
        # plain SGD, the training loop's usual case: w <- w - lr * g. Every pair is read and
        # checked before any parameter changes (all or nothing), in one pass
        plain, rest = [], []
        for group in self.param_groups:
            if group["momentum"] or group["weight_decay"] or group["maximize"]:
                rest.append((group, group["params"]))
                continue
            lr = float(group["lr"])
            c = cdtype = None
            for p, d, g in _with_grads(group["params"]):
                dt = d.dtype
                if g.dtype is dt and g.shape == d.shape:
                    if dt is not cdtype:
                        cdtype = dt
                        c = _number(lr, dt)
                    plain.append((d, c, g))
                else:
                    rest.append((group, (p,)))
        if rest:
            self._check_grads()     # names a parameter whose gradient has another shape
        for d, c, g in plain:
            if _axpy is None or d.size < _AXPY_MIN or not _axpy(d, -float(c), g):
                d -= c * g          # as _descend, without a call per parameter (W4)
        for group, params in rest:
            self._step_group(group, params)
        return None

    def _update(self, w, g, state, group, work):
        g = _l2(w, g, group["weight_decay"])
        m = group["momentum"]
        if m:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = np.array(g)
            else:
                b *= m
                b += (1 - group["dampening"]) * g if group["dampening"] else g
            g = g + m * b if group["nesterov"] else b
        lr = float(group["lr"])
        _descend(w, _number(lr, w.dtype), g)


def _descend(w, lr, g):
    """``w <- w - lr * g`` in place (``lr`` a number, or a 0-d array of ``w``'s dtype).

    A temporary ``lr * g``: measured faster than a buffer (malloc hands back memory freed
    moments ago, still in cache). On the fast path a large weight takes one BLAS axpy
    instead, rounded once as PyTorch's SGD rounds it (T19 in zeroin/_fast.py)."""
    if _axpy is None or w.size < _AXPY_MIN or not _axpy(w, -float(lr), g):
        w -= lr * g


class Adagrad(Optimizer):
    """Per-weight step sizes that shrink with the sum of squared gradients:
    ``s <- s + g**2``, ``w <- w - lr_t g / (sqrt(s) + eps)``,
    ``lr_t = lr / (1 + (t - 1) lr_decay)``."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        super().__init__(params, _flags("Adagrad", dict(
            lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value, foreach=foreach,
            maximize=maximize, differentiable=differentiable, fused=fused)))

    def _check(self, group):
        super()._check(group)
        for key in ("lr_decay", "initial_accumulator_value"):
            _check_number("Adagrad", key, group[key], lo=0.0,
                          torch=f"Invalid {key} value: {group[key]}")

    def _init_state(self, p, group):
        return {"step": 0, "sum": np.full_like(p.numpy(), group["initial_accumulator_value"])}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t = state["step"]
        g = _l2(w, g, group["weight_decay"])
        lr_t = float(group["lr"]) / (1 + (t - 1) * group["lr_decay"])
        (tmp,) = _work(work, w)
        s = state["sum"]
        s += np.multiply(g, g, out=tmp)                         # s <- s + g**2
        denom = np.sqrt(s, out=tmp)
        denom += group["eps"]                                   # sqrt(s) + eps
        step = np.divide(g, denom, out=tmp)
        step *= lr_t
        w -= step                                               # w <- w - lr_t g / denom


class Adadelta(Optimizer):
    """Step sizes from running averages of squared gradients and squared steps:
    ``v <- rho v + (1-rho) g**2``, ``dx = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u <- rho u + (1-rho) dx**2``, ``w <- w - lr dx``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        super().__init__(params, _flags("Adadelta", dict(
            lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
            capturable=capturable, foreach=foreach, differentiable=differentiable)))

    def _check(self, group):
        super()._check(group)
        _check_number("Adadelta", "rho", group["rho"], lo=0.0, hi=1.0,
                      torch=f"Invalid rho value: {group['rho']}")

    def _init_state(self, p, group):
        return {"step": 0, "square_avg": np.zeros_like(p.numpy()),
                "acc_delta": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        g = _l2(w, g, group["weight_decay"])
        v, u = state["square_avg"], state["acc_delta"]
        tmp, dx = _work(work, w, 2)
        _ema_sq(v, g, rho, tmp)                                 # v <- rho v + (1-rho) g**2
        np.add(u, eps, out=dx)
        np.sqrt(dx, out=dx)
        np.add(v, eps, out=tmp)
        dx /= np.sqrt(tmp, out=tmp)
        dx *= g                                                 # dx = sqrt(u+eps)/sqrt(v+eps) g
        _ema_sq(u, dx, rho, tmp)                                # u <- rho u + (1-rho) dx**2
        dx *= float(group["lr"])
        w -= dx                                                 # w <- w - lr dx


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients:
    ``v <- alpha v + (1-alpha) g**2``, ``w <- w - lr g / (sqrt(v) + eps)``. ``centered``
    uses ``v - gbar**2`` (``gbar`` the running mean of g); ``momentum`` m accumulates the
    scaled steps: ``b <- m b + g / (sqrt(v) + eps)``, ``w <- w - lr b``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        super().__init__(params, _flags("RMSprop", dict(
            lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
            weight_decay=weight_decay, capturable=capturable, foreach=foreach,
            maximize=maximize, differentiable=differentiable)))

    def _check(self, group):
        super()._check(group)
        _check_number("RMSprop", "alpha", group["alpha"], lo=0.0,
                      torch=f"Invalid alpha value: {group['alpha']}")

    def _init_state(self, p, group):
        state = {"step": 0, "square_avg": np.zeros_like(p.numpy())}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p.numpy())
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.numpy())
        return state

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        alpha, lr = group["alpha"], float(group["lr"])
        g = _l2(w, g, group["weight_decay"])
        v = state["square_avg"]
        tmp, rms = _work(work, w, 2)
        _ema_sq(v, g, alpha, tmp)                               # v <- alpha v + (1-alpha) g**2
        if group["centered"]:
            gbar = state["grad_avg"]
            gbar += np.multiply(np.subtract(g, gbar, out=tmp), 1 - alpha, out=tmp)
            np.subtract(v, np.multiply(gbar, gbar, out=tmp), out=rms)
            np.sqrt(rms, out=rms)                               # sqrt(v - gbar**2)
        else:
            np.sqrt(v, out=rms)
        rms += group["eps"]
        step = np.divide(g, rms, out=tmp)                       # g / (sqrt(v) + eps)
        if group["momentum"] > 0:
            b = state["momentum_buffer"]
            b *= group["momentum"]
            b += step                                           # b <- m b + g / rms
            step = np.multiply(b, lr, out=tmp)
        else:
            step *= lr
        w -= step


class Adam(Optimizer):
    """Adaptive moments: ``m <- b1 m + (1-b1) g``, ``v <- b2 v + (1-b2) g**2``,
    ``w <- w - lr/(1-b1**t) * m / (sqrt(v)/sqrt(1-b2**t) + eps)``.

    ``weight_decay`` is L2 decay added to the gradient (for decoupled decay use AdamW or
    ``decoupled_weight_decay=True``); ``amsgrad`` uses the running maximum of v."""

    _float_betas = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        if isinstance(betas, list):     # PyTorch keeps Adam's betas as a tuple
            betas = tuple(betas)
        super().__init__(params, _flags(type(self).__name__, dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable, fused=fused,
            decoupled_weight_decay=bool(decoupled_weight_decay))))

    def _check(self, group):
        name = type(self).__name__
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2) such as "
                             f"(0.9, 0.999), got {betas!r}")
        b1, b2 = betas
        for i, b in enumerate((b1, b2)):
            _check_number(name, f"beta{i + 1}", b, lo=0.0, hi=1.0, hi_open=True,
                          torch=f"Invalid beta parameter at index {i}: {b}")
        if self._float_betas:       # Adam, AdamW: PyTorch takes floats, kept as a tuple
            if not all(isinstance(b, float) for b in betas):
                raise ValueError(f"betas must be either both floats or both Tensors; {name}: "
                                 f"got {betas!r}; write them as floats, e.g. (0.9, 0.999)")
            group["betas"] = (float(b1), float(b2))
        elif not all(type(b) in (int, float) for b in betas):  # else kept as given
            group["betas"] = (float(b1), float(b2))
        super()._check(group)

    def _init_state(self, p, group):
        state = {"step": 0, "exp_avg": np.zeros_like(p.numpy()),
                 "exp_avg_sq": np.zeros_like(p.numpy())}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.numpy())
        return state

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t = state["step"]
        b1, b2 = group["betas"]
        lr, wd = float(group["lr"]), group["weight_decay"]
        if group["decoupled_weight_decay"]:
            w *= 1 - lr * wd                    # AdamW: shrink w, apart from the gradient
        else:
            g = _l2(w, g, wd)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp, denom = _work(work, w, 2)
        m += np.multiply(np.subtract(g, m, out=tmp), 1 - b1, out=tmp)   # m <- b1 m + (1-b1) g
        _ema_sq(v, g, b2, tmp)                                  # v <- b2 v + (1-b2) g**2
        if group["amsgrad"]:
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        np.sqrt(v, out=denom)
        denom /= math.sqrt(1 - b2 ** t)
        denom += group["eps"]                                   # sqrt(v)/sqrt(1-b2**t) + eps
        step = np.divide(m, denom, out=tmp)
        step *= lr / (1 - b1 ** t)
        w -= step                                               # w <- w - lr/(1-b1**t) m/denom


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w <- w (1 - lr wd)`` before the Adam step
    (default ``weight_decay=1e-2``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


def _moments(w, g, state, group, tmp):
    """Decay (decoupled or L2), then m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g**2; the
    gradient (with L2 decay) is returned."""
    b1, b2 = group["betas"]
    lr, wd = float(group["lr"]), group["weight_decay"]
    if group.get("decoupled_weight_decay"):
        if wd:
            w *= 1 - lr * wd
    else:
        g = _l2(w, g, wd)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m += np.multiply(np.subtract(g, m, out=tmp), 1 - b1, out=tmp)
    _ema_sq(v, g, b2, tmp)
    return g


class NAdam(Adam):
    """Adam with Nesterov momentum (Dozat): momentum coefficients
    ``mu_t = b1 (1 - 0.5 * 0.96 ** (t momentum_decay))``, their running product ``P_t``, and
    ``w <- w - lr (1-mu_t)/(1-P_t) g / d - lr mu_{t+1}/(1-P_t mu_{t+1}) m / d`` with
    ``d = sqrt(v / (1-b2**t)) + eps``. ``P_t`` is kept in float32, as PyTorch keeps it."""

    _float_betas = False

    _float32_scalars = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        Optimizer.__init__(self, params, _flags("NAdam", dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            momentum_decay=momentum_decay, decoupled_weight_decay=bool(decoupled_weight_decay),
            maximize=maximize, foreach=foreach, capturable=capturable,
            differentiable=differentiable)))

    def _check(self, group):        # betas, lr, eps, weight_decay: Adam's and the base's
        super()._check(group)
        _check_number("NAdam", "momentum_decay", group["momentum_decay"], lo=0.0,
                      torch=f"Invalid momentum_decay value: {group['momentum_decay']}")

    def _init_state(self, p, group):
        return {"step": 0, "mu_product": 1.0, "exp_avg": np.zeros_like(p.numpy()),
                "exp_avg_sq": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t, lr = state["step"], float(group["lr"])
        b1, b2 = group["betas"]
        tmp, denom = _work(work, w, 2)
        g = _moments(w, g, state, group, tmp)
        md = group["momentum_decay"]
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * md))
        prod = state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
        np.divide(state["exp_avg_sq"], 1 - b2 ** t, out=denom)
        np.sqrt(denom, out=denom)
        denom += group["eps"]
        w += np.multiply(np.divide(g, denom, out=tmp), -lr * (1.0 - mu) / (1.0 - prod),
                         out=tmp)
        w += np.multiply(np.divide(state["exp_avg"], denom, out=tmp),
                         (-lr * mu_next) / (1.0 - prod * mu_next), out=tmp)


class RAdam(Adam):
    """Rectified Adam: while the variance estimate is unreliable (``rho_t <= 5``) a plain
    momentum step ``w <- w - lr m / (1-b1**t)``; after, the Adam step times the rectification
    ``r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))``, with
    ``rho_inf = 2/(1-b2) - 1`` and ``rho_t = rho_inf - 2 t b2**t / (1-b2**t)``."""

    _float_betas = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        Optimizer.__init__(self, params, _flags("RAdam", dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
            foreach=foreach, capturable=capturable,
            decoupled_weight_decay=bool(decoupled_weight_decay),
            differentiable=differentiable)))

    def _init_state(self, p, group):
        return {"step": 0, "exp_avg": np.zeros_like(p.numpy()),
                "exp_avg_sq": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t, lr = state["step"], float(group["lr"])
        b1, b2 = group["betas"]
        tmp, denom = _work(work, w, 2)
        _moments(w, g, state, group, tmp)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        step = np.divide(state["exp_avg"], bc1, out=tmp)
        step *= lr                                              # lr m / (1-b1**t)
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2 ** t) / bc2
        if rho_t > 5.0:
            np.sqrt(state["exp_avg_sq"], out=denom)
            denom += group["eps"]
            step *= np.divide(bc2 ** 0.5, denom, out=denom)     # sqrt(1-b2**t) / d
            step *= ((rho_t - 4) * (rho_t - 2) * rho_inf /
                     ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        w -= step


class Adamax(Adam):
    """Adam with the infinity norm: ``u <- max(b2 u, |g| + eps)``,
    ``w <- w - lr / (1-b1**t) * m / u``."""

    _float_betas = False

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        Optimizer.__init__(self, params, _flags("Adamax", dict(
            lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
            maximize=maximize, differentiable=differentiable, capturable=capturable)))

    def _init_state(self, p, group):
        return {"step": 0, "exp_avg": np.zeros_like(p.numpy()),
                "exp_inf": np.zeros_like(p.numpy())}

    def _update(self, w, g, state, group, work):
        state["step"] += 1
        t = state["step"]
        b1, b2 = group["betas"]
        g = _l2(w, g, group["weight_decay"])
        m, u = state["exp_avg"], state["exp_inf"]
        (tmp,) = _work(work, w)
        m += np.multiply(np.subtract(g, m, out=tmp), 1 - b1, out=tmp)   # m <- b1 m + (1-b1) g
        u *= b2
        np.abs(g, out=tmp)
        tmp += group["eps"]
        np.maximum(u, tmp, out=u)                               # u <- max(b2 u, |g| + eps)
        step = np.divide(m, u, out=tmp)
        step *= -(float(group["lr"]) / (1 - b1 ** t))
        w += step
