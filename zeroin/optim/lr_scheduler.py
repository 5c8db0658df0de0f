"""Learning-rate schedules: change ``lr`` as training goes on (call ``step()`` once per
epoch, or per batch for OneCycleLR, after ``optimizer.step()``).

Each schedule computes its values as PyTorch's does (the same recursive update from the
current ``lr`` where PyTorch uses one), so the learning rates agree step by step. Every
argument is checked when the schedule is built, with the fix named.
"""
from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right
from collections import Counter

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "ReduceLROnPlateau", "OneCycleLR", "CyclicLR",
           "SequentialLR", "ChainedScheduler"]


# --- argument checks ----------------------------------------------------------------------

def _optimizer(name, optimizer):
    from .optimizer import Optimizer
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        got = f"the class {optimizer.__name__}, not an instance"
    else:
        got = type(optimizer).__name__
    raise TypeError(f"{name}: expected an optimizer, got {got}; build the schedule on the "
                    f"optimizer of the model's parameters, e.g. "
                    f"{name}(optim.SGD(model.parameters(), lr=0.1), ...)")


def _int(name, what, v, lo=1, whole_float=False):
    """``v`` as an int >= lo; with ``whole_float`` a float of whole value counts (PyTorch's
    tutorials write ``StepLR(optimizer, 1.0, gamma=0.95)``); a fraction is refused."""
    if whole_float and isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) \
            and float(v).is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
        kind = "a positive integer" if lo == 1 else f"a whole number >= {lo}"
        raise ValueError(f"{name}: {what} must be {kind}, got {v!r}")
    return int(v)


def _real(name, what, v, lo=None, hi=None, lo_open=False, hi_open=False, why=""):
    from .optimizer import _check_number
    return _check_number(name, what, v, lo, hi, lo_open, hi_open, why)


_GAMMA_WHY = ("; gamma is the factor the learning rate is multiplied by (0.1 divides it by "
              "10); a negative or zero gamma would turn the steps around or stop learning")


def _per_group(name, what, value, optimizer):
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{name}: expected {n} values of {what} (one per parameter "
                             f"group), got {len(value)}")
        return list(value)
    return [value] * n


def _track_step(optimizer):
    """Make ``optimizer.step()`` record that it ran (``_opt_called``, as PyTorch's
    schedulers do), so a schedule stepped first can say so. Bound to this optimizer as a
    method, so a deep copy of the optimizer tracks itself."""
    if getattr(optimizer.step, "_tracks_calls", False):
        return
    step = optimizer.step.__func__

    def tracked(self, *args, **kwargs):
        self._opt_called = True
        return step(self, *args, **kwargs)
    tracked._tracks_calls = True
    tracked.__doc__, tracked.__name__ = step.__doc__, "step"
    optimizer.step = types.MethodType(tracked, optimizer)


# PyTorch's warning for step(epoch), word for word
EPOCH_DEPRECATION = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
    "where possible. Please use `scheduler.step()` to step the scheduler. During the "
    "deprecation, if epoch is different from None, the closed form is used instead of the "
    "new chainable form, where available. Please open an issue if you are unable to "
    "replicate your use case: https://github.com/pytorch/pytorch/issues/new/choose.")


def _warn_if_first(scheduler):
    """PyTorch's warning for the first ``scheduler.step()`` before any ``optimizer.step()``:
    the order of old tutorials, which skips the schedule's first learning rate."""
    if scheduler._step_count == 1 and not getattr(scheduler.optimizer, "_opt_called", False):
        import warnings
        warnings.warn(f"{type(scheduler).__name__}.step() was called before "
                      f"optimizer.step(): call them in the opposite order, optimizer.step() "
                      f"first (per batch), then scheduler.step(); otherwise the schedule "
                      f"skips its first learning rate (PyTorch warns too: 'Detected call of "
                      f"`lr_scheduler.step()` before `optimizer.step()`')", UserWarning,
                      stacklevel=4)     # the caller of step(), past its _within_step


def _within_step(step):
    """``step`` marking that ``get_lr()`` is called from it (PyTorch's
    ``_get_lr_called_within_step``, saved in the state dict too)."""
    if getattr(step, "_marks_get_lr", False):
        return step

    def marked(self, *args, **kwargs):
        outer = self.__dict__.get("_get_lr_called_within_step", False)
        self._get_lr_called_within_step = True
        try:
            return step(self, *args, **kwargs)
        finally:
            self._get_lr_called_within_step = outer
    marked._marks_get_lr = True
    marked.__doc__, marked.__name__, marked.__wrapped__ = step.__doc__, "step", step
    return marked


def _warns_outside_step(get_lr):
    """``get_lr`` warning as PyTorch's when called outside ``step()`` (where the value it
    computes is the next one, not the current lr)."""
    def checked(self):
        if not self.__dict__.get("_get_lr_called_within_step", False):
            import warnings
            warnings.warn("To get the last learning rate computed by the scheduler, please "
                          "use `get_last_lr()`.", UserWarning, stacklevel=2)
        return get_lr(self)
    checked.__doc__, checked.__name__, checked.__wrapped__ = get_lr.__doc__, "get_lr", get_lr
    return checked


# --- the base class -----------------------------------------------------------------------

class LRScheduler:
    """Base class: every ``step()`` sets each group's ``lr`` to ``get_lr()``.

    Subclasses define ``get_lr()`` (PyTorch's formula from the current state) and, where
    a closed form exists, ``_get_closed_form_lr()`` (used by ``step(epoch)`` and by
    ``load_state_dict`` to put the optimizer's lr where the schedule says)."""

    _is_initial = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _within_step(cls.__dict__["step"])
        if "get_lr" in cls.__dict__ and cls.__module__.startswith("zeroin."):
            # PyTorch's warning is in its own schedulers' get_lr: a user's get_lr (the UvA
            # tutorial's CosineWarmupScheduler) is called directly without one
            cls.get_lr = _warns_outside_step(cls.__dict__["get_lr"])

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        self._get_lr_called_within_step = False
        optimizer = _optimizer(name, optimizer)
        self.optimizer = optimizer
        _int(name, "last_epoch", last_epoch, lo=-1)
        if last_epoch == -1:
            for g in optimizer.param_groups:
                g.setdefault("initial_lr", g["lr"])
        else:
            for i, g in enumerate(optimizer.param_groups):
                if "initial_lr" not in g:
                    raise KeyError(f"{name}: param group {i} has no 'initial_lr'; resuming "
                                   f"(last_epoch != -1) needs an optimizer that a schedule "
                                   f"has driven before (load its state first)")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        _track_step(optimizer)
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _lrs(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def get_lr(self):
        """The learning rates for the current ``last_epoch``."""
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (or jump to ``epoch``) and set the optimizer's learning rates."""
        _warn_if_first(self)
        self._step_count += 1
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            import warnings
            warnings.warn(EPOCH_DEPRECATION, UserWarning, stacklevel=3)   # past _within_step
            self.last_epoch = _int(type(self).__name__, "epoch", epoch, lo=0)
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, values):
            g["lr"] = lr
        self._last_lr = self._lrs()

    def get_last_lr(self):
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self):
        """Settings and counters as numbers, strings and lists (no functions)."""
        skip = ("optimizer", "lr_lambdas", "_schedulers")
        out = {k: (list(v) if isinstance(v, (list, tuple)) else v)
               for k, v in self.__dict__.items() if k not in skip}
        if type(self).get_lr is LRScheduler.get_lr:     # no get_lr: PyTorch saves no flag
            out.pop("_get_lr_called_within_step", None)
        if "lr_lambdas" in self.__dict__:       # as PyTorch: functions are not saved, the
            out["lr_lambdas"] = [               # attributes of callable objects are
                None if isinstance(f, types.FunctionType) else dict(f.__dict__)
                for f in self.lr_lambdas]
        for k, v in out.items():
            if isinstance(v, Counter):      # MultiStepLR's milestones: a Counter, as PyTorch's
                out[k] = Counter({int(m): int(c) for m, c in v.items()})
        return out

    def load_state_dict(self, state_dict):
        """Restore a saved schedule; the optimizer's lr is set to the lr the schedule had
        set when saved (its ``_last_lr``, else the closed form at that epoch), so the order
        of loading optimizer and scheduler does not matter. The saved lr itself, not the
        closed form, keeps a resumed run bit for bit on the uninterrupted one's path:
        schedules such as CosineAnnealingLR compute each lr from the previous one."""
        state_dict = dict(state_dict)
        for f, saved in zip(getattr(self, "lr_lambdas", ()),
                            state_dict.pop("lr_lambdas", None) or ()):
            if saved is not None:
                f.__dict__.update(saved)
        for k, v in state_dict.items():
            if hasattr(v, "tolist"):
                v = v.tolist()
            if k == "milestones" and isinstance(v, dict):
                v = Counter({int(m): int(c) for m, c in v.items()})
            setattr(self, k, v)
        last = state_dict.get("_last_lr")
        closed = getattr(self, "_get_closed_form_lr", None)
        if last is not None and len(last) == len(self.optimizer.param_groups):
            lrs = [float(v) for v in last]
        elif closed is not None and self.last_epoch >= 0:
            lrs = closed()
        else:
            return
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = self._lrs()

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, lr={self._last_lr})"


LRScheduler.step = _within_step(LRScheduler.step)


class _LRScheduler(LRScheduler):
    """PyTorch's old name, a subclass of :class:`LRScheduler` as in PyTorch (not an alias):
    user schedulers written against it (``class Warmup(_LRScheduler)``) still work, and
    the built-in schedulers are not instances of it."""


# --- schedules from a factor of the initial lr ---------------------------------------------

def _lambdas(name, lr_lambda, optimizer):
    fns = _per_group(name, "lr_lambda", lr_lambda, optimizer)
    for f in fns:
        if not callable(f):
            raise TypeError(f"{name}: lr_lambda must be a function of the epoch returning a "
                            f"factor, e.g. lambda epoch: 0.95 ** epoch; got "
                            f"{type(f).__name__} {f!r} (for a constant factor per epoch use "
                            f"ExponentialLR(optimizer, gamma={f!r}))")
    return fns


class LambdaLR(LRScheduler):
    """lr = initial lr * ``lr_lambda(epoch)`` (one function, or one per group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambdas = _lambdas("LambdaLR", lr_lambda, _optimizer("LambdaLR", optimizer))
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [b * f(self.last_epoch) for f, b in zip(self.lr_lambdas, self.base_lrs)]

    _get_closed_form_lr = get_lr


class MultiplicativeLR(LRScheduler):
    """lr <- lr * ``lr_lambda(epoch)`` at every step after the first."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambdas = _lambdas("MultiplicativeLR", lr_lambda,
                                   _optimizer("MultiplicativeLR", optimizer))
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * f(self.last_epoch) for f, lr in zip(self.lr_lambdas, self._lrs())]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = _int("StepLR", "step_size", step_size, whole_float=True)
        self.gamma = _real("StepLR", "gamma", gamma, lo=0, lo_open=True, why=_GAMMA_WHY)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch in ``milestones``."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        try:
            ms = list(milestones)
        except TypeError:
            raise TypeError(f"MultiStepLR: milestones must be a list of epochs such as "
                            f"[30, 80], got {milestones!r}") from None
        self.milestones = Counter(_int("MultiStepLR", "each milestone", m, lo=0,
                                       whole_float=True) for m in ms)
        self.gamma = _real("MultiStepLR", "gamma", gamma, lo=0, lo_open=True,
                           why=_GAMMA_WHY)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]

    def _get_closed_form_lr(self):
        ms = sorted(self.milestones.elements())
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr * ``factor`` for the first ``total_iters`` epochs, then the lr itself."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        self.factor = _real("ConstantLR", "factor", factor, lo=0, hi=1)
        self.total_iters = _int("ConstantLR", "total_iters", total_iters, lo=0,
                                        whole_float=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._lrs()]
        if self.last_epoch != self.total_iters:
            return self._lrs()
        return [lr * (1.0 / self.factor) for lr in self._lrs()]

    def _get_closed_form_lr(self):
        on = self.last_epoch >= self.total_iters
        return [b * (self.factor + on * (1 - self.factor)) for b in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor on the initial lr goes linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs (a warm-up when it rises)."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        self.start_factor = _real("LinearLR", "start_factor", start_factor, lo=0, hi=1,
                                  lo_open=True)
        self.end_factor = _real("LinearLR", "end_factor", end_factor, lo=0, hi=1)
        self.total_iters = _int("LinearLR", "total_iters", total_iters, whole_float=True)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.start_factor for lr in self._lrs()]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        f = 1.0 + (e - s) / (n * s + (self.last_epoch - 1) * (e - s))
        return [lr * f for lr in self._lrs()]

    def _get_closed_form_lr(self):
        s, e, n = self.start_factor, self.end_factor, self.total_iters
        return [b * (s + (e - s) * min(n, self.last_epoch) / n) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = _real("ExponentialLR", "gamma", gamma, lo=0, lo_open=True,
                           why=_GAMMA_WHY)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self):
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr0 * (1 - epoch / total_iters) ** power, then constant."""

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters = _int("PolynomialLR", "total_iters", total_iters,
                                        whole_float=True)
        self.power = _real("PolynomialLR", "power", power, lo=0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._lrs()
        n, t = self.total_iters, self.last_epoch
        f = ((1.0 - t / n) / (1.0 - (t - 1) / n)) ** self.power
        return [lr * f for lr in self._lrs()]

    def _get_closed_form_lr(self):
        n = self.total_iters
        return [b * (1.0 - min(n, self.last_epoch) / n) ** self.power for b in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from the initial lr down to ``eta_min`` over ``T_max`` epochs:
    ``eta_min + (lr0 - eta_min) (1 + cos(pi t / T_max)) / 2`` (and back up after)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803
        self.T_max = _real("CosineAnnealingLR", "T_max", T_max, lo=0, lo_open=True)
        self.eta_min = _real("CosineAnnealingLR", "eta_min", eta_min, lo=0)
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min  # noqa: N806
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and t > 0:
            return [lo + (b - lo) * (1 + math.cos(t * math.pi / T)) / 2 for b in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            return [lr + (b - lo) * (1 - math.cos(math.pi / T)) / 2
                    for b, lr in zip(self.base_lrs, self._lrs())]
        f = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [f * (lr - lo) + lo for lr in self._lrs()]

    def _get_closed_form_lr(self):
        t, T, lo = self.last_epoch, self.T_max, self.eta_min  # noqa: N806
        return [lo + (b - lo) * (1 + math.cos(math.pi * t / T)) / 2 for b in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing that restarts at the initial lr after ``T_0`` epochs, then after
    ``T_0 * T_mult``, ... (SGDR)."""

    def __init__(self, optimizer, T_0, T_mult=1, eta_min=0.0, last_epoch=-1):  # noqa: N803
        name = "CosineAnnealingWarmRestarts"
        self.T_0 = self.T_i = _int(name, "T_0", T_0)
        self.T_mult = _int(name, "T_mult", T_mult)
        self.eta_min = _real(name, "eta_min", eta_min, lo=0)
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (b - self.eta_min) * c for b in self.base_lrs]

    def step(self, epoch=None):
        """Advance one epoch (fractions allowed with ``epoch=``, e.g. per batch)."""
        _warn_if_first(self)
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur += 1
            if self.T_cur >= self.T_i:
                self.T_cur %= self.T_i
                self.T_i *= self.T_mult
        else:
            _real("CosineAnnealingWarmRestarts.step", "epoch", epoch, lo=0)
            self._jump(epoch)
        self.last_epoch = math.floor(epoch)
        for g, lr in zip(self.optimizer.param_groups, self.get_lr()):
            g["lr"] = lr
        self._last_lr = self._lrs()

    def _jump(self, epoch):
        if epoch < self.T_0:
            self.T_i, self.T_cur = self.T_0, epoch
        elif self.T_mult == 1:
            self.T_cur = epoch % self.T_0
        else:
            n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
            self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
            self.T_i = self.T_0 * self.T_mult ** n


# schedules driven by a metric, a fixed budget of steps, or other schedules
from ._lr_special import (ChainedScheduler, CyclicLR, OneCycleLR,  # noqa: E402
                          ReduceLROnPlateau, SequentialLR)
