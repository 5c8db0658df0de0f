"""Schedules that are not a function of the epoch alone: ReduceLROnPlateau (driven by a
monitored value), OneCycleLR (a fixed budget of steps), CyclicLR (per-batch cycles),
SequentialLR and ChainedScheduler (built from other schedules). Exported by :mod:`zeroin.optim.lr_scheduler`."""
from __future__ import annotations

import math
import numbers
import types
from bisect import bisect_right

from .lr_scheduler import LRScheduler, _int, _optimizer, _per_group, _real
from ..errors import a_type

_MISSING = object()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when the monitored value (``step(val_loss)``) has not
    improved for more than ``patience`` epochs; ``mode='max'`` for accuracies."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        self.optimizer = _optimizer(name, optimizer)
        self.factor = _real(name, "factor", factor, lo=0, hi=1, lo_open=True,
                            hi_open=True, why="; the lr is multiplied by it (0.1: ten "
                                               "times smaller)")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' (a loss) or 'max' (an accuracy), "
                             f"got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.min_lrs = [_real(name, "min_lr", v, lo=0)
                        for v in _per_group(name, "min_lr", min_lr, self.optimizer)]
        self.patience = _int(name, "patience", patience, lo=0)
        self.cooldown = _int(name, "cooldown", cooldown, lo=0)
        self.threshold = _real(name, "threshold", threshold, lo=0)
        self.eps = _real(name, "eps", eps, lo=0)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self.best = self.mode_worse = math.inf if mode == "min" else -math.inf
        self.default_min_lr = None if isinstance(min_lr, (list, tuple)) else min_lr
        self.cooldown_counter = self.num_bad_epochs = 0

    def _is_better(self, a, best):
        if self.mode == "min":
            return a < (best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                        else best - self.threshold)
        return a > (best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                    else best + self.threshold)

    def step(self, metrics=_MISSING, epoch=None):
        """Record this epoch's monitored value (e.g. the validation loss)."""
        if metrics is _MISSING:
            raise TypeError("ReduceLROnPlateau.step: give it the monitored value, e.g. "
                            "scheduler.step(val_loss)")
        try:
            current = float(metrics.item() if hasattr(metrics, "item") else metrics)
        except (TypeError, ValueError):
            raise TypeError(f"ReduceLROnPlateau.step: the monitored value must be a number, "
                            f"got {type(metrics).__name__}") from None
        if math.isnan(current):
            raise ValueError("ReduceLROnPlateau.step: the monitored value is nan; the loss "
                             "has diverged or the validation data holds NaN")
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for g, lo in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(g["lr"])
                new = max(old * self.factor, lo)
                if old - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._lrs()

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def load_state_dict(self, state_dict):
        for k, v in state_dict.items():
            setattr(self, k, v.tolist() if hasattr(v, "tolist") else v)


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per *batch*: the lr rises from max_lr/div_factor
    to ``max_lr`` over ``pct_start`` of ``total_steps``, then anneals to
    initial_lr/final_div_factor; momentum (or Adam's beta1) moves the other way."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True,
                 base_momentum=0.85, max_momentum=0.95, div_factor=25.0, final_div_factor=1e4,
                 three_phase=False, last_epoch=-1):
        name = "OneCycleLR"
        optimizer = self.optimizer = _optimizer(name, optimizer)
        if total_steps is not None:
            self.total_steps = _int(name, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = _int(name, "epochs", epochs) * \
                _int(name, "steps_per_epoch", steps_per_epoch)
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch "
                             f"(e.g. steps_per_epoch=len(train_loader))")
        _real(name, "pct_start", pct_start, lo=0, hi=1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        _real(name, "div_factor", div_factor, lo=0, lo_open=True)
        _real(name, "final_div_factor", final_div_factor, lo=0, lo_open=True)
        self._schedule_phases = _phases(pct_start, self.total_steps, three_phase)
        max_lrs = [_real(name, "max_lr", v, lo=0, lo_open=True)
                   for v in _per_group(name, "max_lr", max_lr, optimizer)]
        if last_epoch == -1:
            for m, g in zip(max_lrs, optimizer.param_groups):
                g["initial_lr"] = m / div_factor
                g["max_lr"] = m
                g["min_lr"] = g["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self._set_momenta(name, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _set_momenta(self, name, base_momentum, max_momentum, last_epoch):
        opt = self.optimizer
        if "momentum" not in opt.defaults and "betas" not in opt.defaults:
            raise ValueError(f"{name}: {type(opt).__name__} has no momentum to cycle; pass "
                             f"cycle_momentum=False")
        self.use_beta1 = "betas" in opt.defaults
        maxs = _per_group(name, "max_momentum", max_momentum, opt)
        bases = _per_group(name, "base_momentum", base_momentum, opt)
        if last_epoch == -1:
            for m, b, g in zip(maxs, bases, opt.param_groups):
                self._put_momentum(g, m)
                g["max_momentum"], g["base_momentum"] = m, b

    def _put_momentum(self, g, m):
        if self.use_beta1:
            g["betas"] = (m, *g["betas"][1:])
        else:
            g["momentum"] = m

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, but total_steps is "
                             f"{self.total_steps}; build it with total_steps (or epochs and "
                             f"steps_per_epoch) covering every optimizer step")
        lrs = []
        for g in self.optimizer.param_groups:
            start = 0.0
            for i, ph in enumerate(self._schedule_phases):
                end = ph["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    lrs.append(self._anneal(g[ph["start_lr"]], g[ph["end_lr"]], pct))
                    if self.cycle_momentum:
                        self._put_momentum(g, self._anneal(g[ph["start_momentum"]],
                                                           g[ph["end_momentum"]], pct))
                    break
                start = ph["end_step"]
        return lrs


class CyclicLR(LRScheduler):
    """The lr cycles between ``base_lr`` and ``max_lr`` (stepped once per *batch*): up over
    ``step_size_up`` steps, down over ``step_size_down``. ``mode`` 'triangular' keeps the
    amplitude, 'triangular2' halves it every cycle, 'exp_range' scales it by
    ``gamma ** step``; or ``scale_fn`` of the cycle (``scale_mode='cycle'``) or step
    ('iterations'). Momentum (or Adam's beta1) cycles the other way between
    ``max_momentum`` and ``base_momentum`` unless ``cycle_momentum=False``."""

    _MODES = ("triangular", "triangular2", "exp_range")

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        name = "CyclicLR"
        optimizer = self.optimizer = _optimizer(name, optimizer)
        base_lrs = [_real(name, "base_lr", v, lo=0)
                    for v in _per_group(name, "base_lr", base_lr, optimizer)]
        if last_epoch == -1:
            for lr, g in zip(base_lrs, optimizer.param_groups):
                g["lr"] = lr
        self.max_lrs = [_real(name, "max_lr", v, lo=0)
                        for v in _per_group(name, "max_lr", max_lr, optimizer)]
        up = float(_real(name, "step_size_up", step_size_up, lo=0, lo_open=True))
        down = up if step_size_down is None else \
            float(_real(name, "step_size_down", step_size_down, lo=0))
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None and mode not in self._MODES:
            raise ValueError(f"{name}: mode must be one of {', '.join(map(repr, self._MODES))}"
                             f" (or give scale_fn), got {mode!r}")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{name}: scale_fn must be a function of the cycle or step, got "
                            f"{scale_fn!r}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{name}: scale_mode must be 'cycle' or 'iterations', got "
                             f"{scale_mode!r}")
        self.mode, self.gamma = mode, _real(name, "gamma", gamma, lo=0, lo_open=True)
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else \
            ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            OneCycleLR._set_momenta(self, name, base_momentum, max_momentum, last_epoch)
            self.base_momentums = [g["base_momentum"] for g in optimizer.param_groups]
            self.max_momentums = [g["max_momentum"] for g in optimizer.param_groups]
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    _put_momentum = OneCycleLR._put_momentum

    def scale_fn(self, x):
        """The amplitude's factor at cycle (or step) ``x``."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma ** x

    def get_lr(self):
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        f = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        s = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [b + (m - b) * f * s for b, m in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for g, b, m in zip(self.optimizer.param_groups, self.base_momentums,
                               self.max_momentums):
                self._put_momentum(g, m - (m - b) * f * s)
        return lrs

    def state_dict(self):
        """As PyTorch: a custom ``scale_fn`` is not saved (None), but the attributes of a
        callable object given as one are (its ``__dict__``)."""
        out = super().state_dict()
        fn = out.pop("_scale_fn_custom", None)
        out["_scale_fn_custom"] = None if fn is None or isinstance(fn, types.FunctionType) \
            else dict(fn.__dict__)
        return out

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom", None)
        super().load_state_dict(state_dict)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn)


def _phases(pct_start, total, three_phase):
    def ph(end, lr0, lr1, m0, m1):
        return {"end_step": end, "start_lr": lr0, "end_lr": lr1, "start_momentum": m0,
                "end_momentum": m1}
    up = float(pct_start * total) - 1
    if three_phase:
        return [ph(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                ph(float(2 * pct_start * total) - 2, "max_lr", "initial_lr",
                   "base_momentum", "max_momentum"),
                ph(total - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
    return [ph(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
            ph(total - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]


def _check_children(name, optimizer, schedulers):
    if not isinstance(schedulers, (list, tuple)) or not schedulers:
        raise ValueError(f"{name}: expected a non-empty list of schedulers, got "
                         f"{schedulers!r}")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: item {i} is {a_type(s)}, not a scheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{name}: ReduceLROnPlateau (item {i}) needs a metric at each "
                             f"step and cannot be combined; step it separately")
        if s.optimizer is not optimizer:
            raise ValueError(f"{name}: scheduler {i} ({type(s).__name__}) drives another "
                             f"optimizer; build every scheduler on the same optimizer")


class SequentialLR(LRScheduler):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``, ... (e.g. a
    LinearLR warm-up followed by CosineAnnealingLR)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        name = "SequentialLR"
        self.optimizer = _optimizer(name, optimizer)
        _check_children(name, optimizer, schedulers)
        ms = list(milestones)
        if len(ms) != len(schedulers) - 1:
            raise ValueError(f"{name}: needs one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(ms)} milestones")
        if any(not isinstance(m, numbers.Integral) for m in ms) or ms != sorted(ms):
            raise ValueError(f"{name}: milestones must be increasing whole numbers, got {ms}")
        self._schedulers, self._milestones = list(schedulers), ms
        self.last_epoch = last_epoch + 1
        for g in self.optimizer.param_groups:
            g["lr"] = g["initial_lr"]
        for s in self._schedulers:      # undo the step each made when it was built
            s.last_epoch -= 1
        idx = bisect_right(ms, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self):
        """Advance one epoch in the scheduler whose turn it is."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            import warnings
            with warnings.catch_warnings():     # PyTorch restarts it without step(epoch)'s
                warnings.filterwarnings("ignore", "The epoch parameter", UserWarning)
                s.step(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()

    def state_dict(self):
        out = LRScheduler.state_dict(self)          # not super(): ChainedScheduler shares it
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        children = state_dict.pop("_schedulers", None)
        for k, v in state_dict.items():
            setattr(self, k, v.tolist() if hasattr(v, "tolist") else v)
        for s, sd in zip(self._schedulers, children or ()):
            s.load_state_dict(sd)
        last = state_dict.get("_last_lr")         # each child put back its own last lr:
        if last is not None:                      # the one in force is this schedule's
            for g, lr in zip(self.optimizer.param_groups, last):
                g["lr"] = float(lr)


class ChainedScheduler(LRScheduler):
    """Step several schedulers together (their factors multiply)."""

    def __init__(self, schedulers, optimizer=None):
        name = "ChainedScheduler"
        if not isinstance(schedulers, (list, tuple)) or not schedulers:
            raise ValueError(f"{name}: expected a non-empty list of schedulers")
        optimizer = optimizer or getattr(schedulers[0], "optimizer", None)
        self.optimizer = _optimizer(name, optimizer)
        _check_children(name, self.optimizer, schedulers)
        self._schedulers = list(schedulers)
        self._last_lr = self._lrs()

    def step(self):
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()

    state_dict, load_state_dict = SequentialLR.state_dict, SequentialLR.load_state_dict
