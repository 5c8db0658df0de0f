"""Weight averaging, as PyTorch's ``torch.optim.swa_utils``: a running average of a model's
weights along its training path (SWA: the plain mean of the snapshots; EMA: an exponential
moving average), often better than the last weights, and the learning-rate schedule SWA runs
under.

>>> import zeroin
>>> from zeroin.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
>>> model = zeroin.nn.Linear(2, 1)
>>> ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99))
>>> ema.update_parameters(model)          # after each optimizer.step()
"""
from __future__ import annotations

import copy
import itertools
import math

from ..autograd import no_grad
from ..nn.layers import _BatchNorm
from ..nn.module import Module
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _check_decay(decay):
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         f"[0,1] range (the weight of the old average: 0.999 keeps "
                         f"99.9% of it each update)")


def _floating(t):
    return t.is_floating_point()


def get_ema_multi_avg_fn(decay=0.999):
    """In place on lists: ``ema = decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_params, current_params, _):
        with no_grad():
            for e, c in zip(ema_params, current_params):
                if _floating(e):
                    e.lerp_(c, 1 - decay)
                else:
                    e.copy_(e * decay + c * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """In place on lists: the running mean, ``avg += (current - avg) / (n + 1)``."""

    def swa_update(averaged_params, current_params, num_averaged):
        n = int(num_averaged)
        with no_grad():
            for a, c in zip(averaged_params, current_params):
                if _floating(a):
                    a.lerp_(c, 1 / (n + 1))
                else:           # integer buffers: the mean, truncated by copy_
                    a.copy_(a + (c - a) / (n + 1))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """One tensor: returns ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """One tensor: returns ``avg + (current - avg) / (n + 1)``."""

    def swa_update(averaged_param, current_param, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (as ``self.module``) whose parameters are the running average of
    ``model``'s, updated by :meth:`update_parameters` (the first call copies them).

    ``avg_fn(avg, current, n)`` returns one averaged tensor; ``multi_avg_fn(avgs, currents,
    n)`` updates lists in place; neither: the plain mean (SWA). ``use_buffers=True`` averages
    the buffers too (BatchNorm's running statistics); otherwise they are copied from
    ``model``. ``n_averaged`` counts the updates and is saved in the state dict."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None,
                 use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        if not isinstance(model, Module):
            raise TypeError(f"AveragedModel: expected a zeroin.nn.Module, got "
                            f"{type(model).__name__}")
        if device is not None and str(device) != "cpu":
            raise ValueError(f"AveragedModel: zeroin runs on the CPU only, got device="
                             f"{device!r}; leave device out")
        self.module = copy.deepcopy(model)
        from .. import int64, tensor
        self.register_buffer("n_averaged", tensor(0, dtype=int64))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _pairs(self, model):
        if self.use_buffers:
            return (itertools.chain(self.module.parameters(), self.module.buffers()),
                    itertools.chain(model.parameters(), model.buffers()))
        return self.parameters(), model.parameters()

    def update_parameters(self, model):
        """Fold ``model``'s current parameters into the average (after an optimizer step)."""
        mine, theirs = self._pairs(model)
        avg, cur = [], []
        first = int(self.n_averaged) == 0
        with no_grad():
            for a, c in zip(mine, theirs):
                a, c = a.detach(), c.detach()
                avg.append(a)
                cur.append(c)
                if first:
                    a.copy_(c)
            if not first:
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(avg, cur, self.n_averaged.clone())
                else:           # PyTorch's CPU path: one tensor at a time, cast back by copy_
                    fn = self.avg_fn or get_swa_avg_fn()
                    for a, c in zip(avg, cur):
                        a.copy_(fn(a, c, self.n_averaged.clone()))
            if not self.use_buffers:     # keep the buffers in step with the model's
                for b, m in zip(self.module.buffers(), model.buffers()):
                    b.detach().copy_(m.detach())
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """Recompute every BatchNorm's running statistics with one pass over ``loader`` (a batch
    is a tensor, or a list/tuple whose first item is the input): the averaged weights need
    their own statistics. Each layer's momentum is set to None (the plain mean over the
    batches) for the pass and restored after; train/eval mode is restored too."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    try:
        with no_grad():
            for batch in loader:
                if isinstance(batch, (list, tuple)):
                    batch = batch[0]
                model(batch)
    finally:
        for module, momentum in momenta.items():
            module.momentum = momentum
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate from its current value to ``swa_lr`` over
    ``anneal_epochs`` steps (``"cos"`` or ``"linear"``), then hold it there: the schedule
    for the averaging phase of SWA. Each step interpolates from the learning rate the
    previous step set, as PyTorch's, so it can take over from another schedule."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = _per_group("SWALR", "swa_lr", swa_lr, optimizer)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead "
                             f"got {anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if isinstance(anneal_epochs, bool) or not isinstance(anneal_epochs, int) \
                or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t):
        """The fraction of the way to ``swa_lr`` at time ``t`` in [0, 1]."""
        return (1 - math.cos(math.pi * t)) / 2 if self._anneal_strategy == "cos" else t

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha)
                for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha)
                for g, lr in zip(self.optimizer.param_groups, prev)]
