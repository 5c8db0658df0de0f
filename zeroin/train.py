"""The chapter's loop, for real: guess, forward, loss, backward, step, repeat until small.

:func:`fit` runs it over batches and epochs, with validation, metrics, early stopping,
divergence detection, progress and callbacks, and returns a :class:`History`.

>>> import zeroin
>>> from zeroin import nn, optim
>>> from zeroin.data import make_linear
>>> _ = zeroin.manual_seed(0)
>>> model = nn.Linear(1, 1)
>>> h = zeroin.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
...                make_linear(200, seed=0), epochs=30, verbose=0)
>>> round(model.weight.item(), 1), round(model.bias.item(), 1)
(2.0, 3.0)
"""
from __future__ import annotations

import math
import sys
import time

import numpy as np

from ._tensor import Tensor, no_grad
from .data.dataset import DataLoader, as_dataset
from .function import ZeroinError
from .metrics import get_metric
from .random import manual_seed

__all__ = ["fit", "evaluate", "predict", "History", "StopTraining", "TrainingDiverged",
           "Callback", "ModelCheckpoint", "LambdaCallback"]


class StopTraining(Exception):
    """Raise it (or return it) from a callback to end training after the current step."""


class TrainingDiverged(ZeroinError):
    """Raised by :func:`fit` with ``on_divergence="raise"`` when the loss blows up."""


class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    Each may return :class:`StopTraining` (the class or an instance) or raise it to stop.
    ``history.model`` and ``history.optimizer`` are available inside every hook.
    """

    def on_train_begin(self, history):
        pass

    def on_epoch_begin(self, history, epoch):
        pass

    def on_step_end(self, history, step, loss):
        pass

    def on_epoch_end(self, history, epoch):
        pass

    def on_train_end(self, history):
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda h, e: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not hasattr(Callback, name):
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; hooks are "
                                f"{[n for n in dir(Callback) if n.startswith('on_')]}")
            setattr(self, name, fn)


class ModelCheckpoint(Callback):
    """Save the model (and optimizer) with :func:`zeroin.save` after each improving epoch.

    ``monitor`` is a History key (``"val_loss"`` falls back to ``"loss"`` without
    validation data). Only epochs that finished with a finite loss are ever saved, so a
    run that diverges later leaves the last good checkpoint in place.
    """

    def __init__(self, path, monitor="val_loss", mode="min", save_best_only=True, meta=None):
        self.path, self.monitor, self.mode = path, monitor, mode
        self.save_best_only, self.meta = save_best_only, meta or {}
        self.best = None

    def on_epoch_end(self, history, epoch):
        from .checkpoint import save
        key = self.monitor if self.monitor in history.history else "loss"
        value = history.history[key][-1]
        better = (self.best is None or (value < self.best if self.mode == "min"
                                        else value > self.best))
        if not math.isfinite(value) or (self.save_best_only and not better):
            return
        self.best = value
        obj = {"model": history.model.state_dict(), "epoch": epoch, key: value,
               "meta": dict(self.meta)}
        if history.optimizer is not None and hasattr(history.optimizer, "state_dict"):
            obj["optimizer"] = history.optimizer.state_dict()
        save(obj, self.path)


class History:
    """What happened during :func:`fit`.

    Attributes
    ----------
    history : dict
        Per-epoch lists: ``loss``, each metric, ``val_loss`` and ``val_<metric>`` when
        there is validation data, ``lr`` and ``time`` (seconds per epoch).
    epoch : list of int
        Epoch numbers (1-based) matching the lists in ``history``.
    step_loss : list of float
        The loss of every batch, in order; ``step_epoch`` gives each one's epoch.
    best_epoch : int or None
        Epoch with the lowest monitored loss (``val_loss`` if available, else ``loss``).
    stopped_reason : str
        ``"epochs"``, ``"epsilon"``, ``"patience"``, ``"diverged"``, ``"callback"`` or
        ``"interrupted"``.
    diverged : bool
    diverged_at : dict or None
        ``epoch``, ``step``, ``global_step`` and the offending ``loss`` of a divergence.
    message : str
        A sentence explaining why training stopped.
    """

    def __init__(self, params=None):
        self.history = {}
        self.epoch = []
        self.step_loss = []
        self.step_epoch = []
        self.best_epoch = None
        self.best_value = None
        self.monitor = None
        self.stopped_reason = None
        self.stopped_epoch = None
        self.diverged = False
        self.diverged_at = None
        self.message = ""
        self.params = dict(params or {})
        self.model = None
        self.optimizer = None

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def _log(self, key, value):
        self.history.setdefault(key, []).append(float(value))

    @property
    def epochs_run(self):
        return len(self.epoch)

    def epochs_to(self, target, key="loss"):
        """First epoch whose ``key`` is at or below ``target``; None if never reached."""
        for e, v in zip(self.epoch, self.history.get(key, [])):
            if v <= target:
                return e
        return None

    def to_dict(self):
        """Plain numbers and lists (for JSON or :func:`zeroin.save`)."""
        return {"history": {k: list(v) for k, v in self.history.items()},
                "epoch": list(self.epoch), "step_loss": list(self.step_loss),
                "step_epoch": list(self.step_epoch), "best_epoch": self.best_epoch,
                "monitor": self.monitor, "stopped_reason": self.stopped_reason,
                "stopped_epoch": self.stopped_epoch, "diverged": self.diverged,
                "diverged_at": self.diverged_at, "message": self.message,
                "params": dict(self.params)}

    def plot(self, keys=None, path=None, title=None, logy=None):
        """Loss (and metric) curves per epoch as a Matplotlib Figure; saved as PNG if ``path``.

        ``keys`` picks History keys; the default draws the loss (with ``val_loss``) and,
        in a second panel, the first metric (with its validation twin).
        """
        from .viz.curves import history_figure
        fig = history_figure(self, keys, title=title, logy=logy)
        if path is not None:
            _save_figure(fig, path)
        return fig

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v and k != "time"}
        return (f"History(epochs={self.epochs_run}, stopped={self.stopped_reason!r}, "
                f"best_epoch={self.best_epoch}, last={last})")


def _save_figure(fig, path):
    """Write a figure atomically (temporary file in the same folder, then rename).

    The format comes from the file's extension (matplotlib's default, PNG, without one).
    """
    from pathlib import Path
    from ._io import atomic_open
    path = Path(path)
    with atomic_open(path) as f:
        fig.savefig(f, dpi=110, format=path.suffix[1:].lower() or None)
    return path


# --- helpers -----------------------------------------------------------------------------

def _loader(data, batch_size, shuffle, where):
    if isinstance(data, DataLoader):
        return data
    return DataLoader(as_dataset(data, where), batch_size=batch_size, shuffle=shuffle)


def _metric_fns(metrics):
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    return [get_metric(m) for m in metrics]


def _batch_loss(loss_fn, out, yb, epoch, step):
    loss = loss_fn(out, yb)
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        shape = getattr(loss, "shape", None)
        raise ValueError(f"fit: loss_fn must return a one-element tensor (use reduction="
                         f"'mean'), got {type(loss).__name__} of shape {shape} at epoch "
                         f"{epoch}, step {step}")
    return loss


def _snapshot(model, optimizer):
    opt = optimizer.state_dict() if hasattr(optimizer, "state_dict") else None
    return model.state_dict(), opt


def _restore(model, optimizer, snap):
    model_state, opt_state = snap
    model.load_state_dict(model_state)
    if opt_state is not None and hasattr(optimizer, "load_state_dict"):
        optimizer.load_state_dict(opt_state)


def _lr(optimizer):
    try:
        return float(optimizer.param_groups[0]["lr"])
    except (AttributeError, LookupError, TypeError, ValueError):
        return float("nan")


def _call(callbacks, hook, *args):
    """Run ``hook`` on every callback; a truthy StopTraining result or raise stops."""
    for cb in callbacks:
        fn = getattr(cb, hook, None)
        if fn is None:
            if hook == "on_epoch_end" and callable(cb) and not isinstance(cb, Callback):
                fn = cb
            else:
                continue
        try:
            res = fn(*args)
        except StopTraining as e:
            return str(e) or f"{type(cb).__name__}.{hook} raised StopTraining"
        if res is StopTraining or isinstance(res, StopTraining):
            msg = str(res) if isinstance(res, StopTraining) else ""
            return msg or f"{getattr(cb, '__name__', type(cb).__name__)} asked to stop"
    return None


@no_grad()
def evaluate(model, loss_fn, data, metrics=(), batch_size=1024):
    """Loss and metrics of ``model`` on ``data`` (Dataset, DataLoader or ``(X, y)``).

    Runs in eval mode without recording the graph; the model's mode is restored after.
    Returns ``{"loss": ..., metric name: ...}`` (loss omitted if ``loss_fn`` is None).
    """
    loader = _loader(data, batch_size, False, "evaluate")
    fns = _metric_fns(metrics)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        total, n, outs, tgts = 0.0, 0, [], []
        for xb, yb in loader:
            out = model(xb)
            if loss_fn is not None:
                total += float(loss_fn(out, yb).data) * len(xb)
            n += len(xb)
            if fns:
                outs.append(out.data)
                tgts.append(yb.data)
    finally:
        if was_training:
            model.train()
    if n == 0:
        raise ValueError("evaluate: the data has no samples")
    res = {} if loss_fn is None else {"loss": total / n}
    if fns:
        o, t = np.concatenate(outs), np.concatenate(tgts)
        for name, fn in fns:
            res[name] = float(fn(o, t))
    return res


@no_grad()
def predict(model, X, batch_size=1024):
    """The model's outputs for inputs ``X`` (array, tensor or Dataset) as one NumPy array."""
    if isinstance(X, (np.ndarray, Tensor)):
        X = X.data if isinstance(X, Tensor) else X
        batches = (Tensor(X[i:i + batch_size]) for i in range(0, len(X), batch_size))
    else:
        batches = (b[0] for b in _loader(X, batch_size, False, "predict"))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        return np.concatenate([model(xb).data for xb in batches])
    finally:
        if was_training:
            model.train()


class _Progress:
    """tqdm bar with live loss on a terminal; one line per epoch otherwise; nothing at 0."""

    def __init__(self, verbose, epochs, steps, file):
        self.verbose, self.epochs, self.file = verbose, epochs, file or sys.stdout
        self.bar = None
        self.width = len(str(epochs))
        if verbose == 1 and getattr(self.file, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=epochs * steps, unit="step", file=self.file,
                                dynamic_ncols=True, leave=True, mininterval=0.2)

    def step(self, epoch, loss):
        if self.bar is not None:
            self.bar.set_postfix_str(f"epoch {epoch}/{self.epochs} loss {loss:.4g}",
                                     refresh=False)
            self.bar.update(1)

    def epoch(self, history, epoch):
        if self.verbose == 0:
            return
        parts = [f"epoch {epoch:>{self.width}}/{self.epochs}"]
        for k, v in history.history.items():
            if k in ("lr", "time"):
                continue
            parts.append(f"{k} {v[-1]:.4f}")
        if self.bar is not None:
            self.bar.set_postfix_str("  ".join(parts), refresh=True)
        else:
            parts.append(f"{history.history['time'][-1]:.2f}s")
            print("  ".join(parts), file=self.file, flush=True)

    def message(self, text):
        if self.verbose == 0:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


# --- fit -----------------------------------------------------------------------------------

def _check_optimizer_owns_model(model, optimizer):
    """An optimizer built on another model's parameters would leave this one untrained."""
    params = getattr(model, "parameters", None)
    groups = getattr(optimizer, "param_groups", None)
    if not callable(params) or groups is None:
        return
    mine = {id(p) for p in params()}
    if mine and not any(id(p) in mine for g in groups for p in g["params"]):
        raise ValueError(f"fit: the optimizer holds none of the model's {len(mine)} "
                         f"parameters, so training would change nothing; build it on this "
                         f"model: {type(optimizer).__name__}(model.parameters(), ...)")


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs=10, batch_size=32,
        metrics=(), epsilon=None, patience=None, verbose=1, callbacks=(), seed=None,
        scheduler=None, clip_grad_norm=None, shuffle=True, min_delta=0.0, restore_best=None,
        divergence_factor=1e4, on_divergence="stop", file=None):
    """Train ``model`` by gradient descent and return a :class:`History`.

    Each step is the chapter's loop: forward a batch, measure the loss, backward,
    let the optimizer move every weight against its gradient.

    Parameters
    ----------
    model : Module
        Called as ``model(x)``; ``train()``/``eval()`` are switched for validation.
    loss_fn : callable
        ``loss_fn(output, target)`` returning a scalar tensor (e.g. ``nn.MSELoss()``).
    optimizer : Optimizer
        Built on ``model.parameters()``.
    train_data : Dataset, DataLoader or (X, y)
        Arrays or a Dataset are batched with ``batch_size`` and reshuffled each epoch.
    val_data : Dataset, DataLoader or (X, y), optional
        Evaluated after every epoch (``val_loss`` and ``val_<metric>``).
    epochs : int
        Upper bound on the passes over the training data.
    metrics : sequence of str or callable
        ``"accuracy"``, ``"mse"``, ``"mae"``, ``"r2"`` or ``f(output, target)``; on the
        training data they are computed from the outputs seen during the epoch.
    epsilon : float, optional
        Stop once the epoch's training loss is below it (the chapter's ``|a - y| -> 0``).
    patience : int, optional
        Stop after this many epochs without improving the monitored loss by more than
        ``min_delta`` (``val_loss`` when there is validation data, else ``loss``), and
        restore the weights of the best epoch (``restore_best``, default True then).
    verbose : int
        0 silent; 1 a tqdm bar with the live loss on a terminal, one line per epoch
        otherwise; 2 always one line per epoch.
    callbacks : sequence
        :class:`Callback` objects, or plain functions ``f(history, epoch)`` called at the
        end of each epoch; returning or raising :class:`StopTraining` stops training.
    seed : int, optional
        Passed to :func:`zeroin.manual_seed` first, so shuffling and dropout repeat
        exactly (seed before building the model to repeat the initial weights too).
    scheduler : LRScheduler, optional
        ``scheduler.step()`` after every epoch.
    clip_grad_norm : float, optional
        Clip the joint gradient norm to this value before each step.
    divergence_factor : float or None
        The loss is called divergent when it is NaN/Inf or exceeds this many times the
        first batch's loss. Training then stops, weights (and optimizer state) return to
        the end of the last good epoch, and ``history.message`` names the epoch and step
        and suggests a smaller learning rate. ``on_divergence="raise"`` raises
        :class:`TrainingDiverged` with that message instead of returning.
    file : file object, optional
        Where progress goes (default ``sys.stdout``).
    """
    if on_divergence not in ("stop", "raise"):
        raise ValueError(f"fit: on_divergence must be 'stop' or 'raise', got {on_divergence!r}")
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a whole number >= 0, got {epochs!r}")
    _check_optimizer_owns_model(model, optimizer)
    if seed is not None:
        manual_seed(seed)
    loader = _loader(train_data, batch_size, shuffle, "fit(train_data)")
    val_loader = None if val_data is None else _loader(val_data, max(batch_size, 1024),
                                                        False, "fit(val_data)")
    fns = _metric_fns(metrics)
    if restore_best is None:
        restore_best = patience is not None
    callbacks = list(callbacks)
    history = History({"epochs": epochs, "batch_size": getattr(loader, "batch_size", None),
                       "lr": _lr(optimizer), "steps_per_epoch": len(loader)})
    history.model, history.optimizer = model, optimizer
    history.monitor = "val_loss" if val_loader is not None else "loss"
    progress = _Progress(verbose, epochs, len(loader), file)
    params = list(model.parameters()) if clip_grad_norm is not None else None

    good = _snapshot(model, optimizer)          # the state at the end of the last good epoch
    best = best_state = None
    bad_epochs = 0
    first_loss = None
    global_step = 0
    stop = None
    if hasattr(model, "train"):
        model.train()
    msg = _call(callbacks, "on_train_begin", history)
    if msg:
        stop = ("callback", msg)
    try:
        for epoch in range(1, epochs + 1):
            if stop:
                break
            msg = _call(callbacks, "on_epoch_begin", history, epoch)
            if msg:
                stop = ("callback", msg)
                break
            t0 = time.perf_counter()
            total, n, outs, tgts = 0.0, 0, [], []
            for step, (xb, yb) in enumerate(loader, 1):
                global_step += 1
                optimizer.zero_grad()
                out = model(xb)
                loss = _batch_loss(loss_fn, out, yb, epoch, step)
                value = float(loss.data)
                if first_loss is None:
                    first_loss = value
                if not math.isfinite(value) or (
                        divergence_factor is not None
                        and value > divergence_factor * max(abs(first_loss), 1e-3)):
                    stop = ("diverged", _diverged_message(value, first_loss, epoch, step,
                                                          global_step, optimizer, epoch - 1))
                    history.diverged_at = {"epoch": epoch, "step": step,
                                           "global_step": global_step, "loss": value}
                    break
                loss.backward()
                if clip_grad_norm is not None:
                    from .nn.utils import clip_grad_norm_
                    clip_grad_norm_(params, clip_grad_norm)
                optimizer.step()
                history.step_loss.append(value)
                history.step_epoch.append(epoch)
                total += value * len(xb)
                n += len(xb)
                if fns:
                    outs.append(out.data)
                    tgts.append(yb.data)
                progress.step(epoch, value)
                msg = _call(callbacks, "on_step_end", history, global_step, value)
                if msg:
                    stop = ("callback", msg)
                    break
            if stop and stop[0] == "diverged":
                _restore(model, optimizer, good)
                break
            if n == 0:
                if stop:
                    break
                raise ValueError("fit: the training data gave no batches (empty dataset, or "
                                 "drop_last with fewer samples than batch_size)")
            history.epoch.append(epoch)
            history._log("loss", total / n)
            if fns:
                o, t = np.concatenate(outs), np.concatenate(tgts)
                for name, fn in fns:
                    history._log(name, fn(o, t))
            if val_loader is not None:
                for k, v in evaluate(model, loss_fn, val_loader, metrics).items():
                    history._log("val_" + k, v)
            history._log("lr", _lr(optimizer))
            history._log("time", time.perf_counter() - t0)
            if scheduler is not None:
                scheduler.step()

            monitored = history.history[history.monitor][-1]
            if not math.isfinite(monitored):
                stop = ("diverged", _diverged_message(monitored, first_loss, epoch, None,
                                                      global_step, optimizer, epoch - 1,
                                                      what=history.monitor))
                history.diverged_at = {"epoch": epoch, "step": None,
                                       "global_step": global_step, "loss": monitored}
                _restore(model, optimizer, good)
                history.epoch.pop()
                for v in history.history.values():
                    v.pop()
                break
            good = _snapshot(model, optimizer)
            if best is None or monitored < best - min_delta:
                best, bad_epochs = monitored, 0
                history.best_epoch, history.best_value = epoch, monitored
                best_state = good
            else:
                bad_epochs += 1
            progress.epoch(history, epoch)
            msg = _call(callbacks, "on_epoch_end", history, epoch)
            if stop:                             # a step callback asked to stop
                break
            if msg:
                stop = ("callback", msg)
                break
            if epsilon is not None and history.history["loss"][-1] < epsilon:
                stop = ("epsilon", f"the training loss {history.history['loss'][-1]:.4g} is "
                                   f"below epsilon = {epsilon:g} after epoch {epoch}")
                break
            if patience is not None and bad_epochs >= patience:
                stop = ("patience", f"no improvement of {history.monitor} for {patience} "
                                    f"epoch(s); best was epoch {history.best_epoch} "
                                    f"({history.best_value:.4g})")
                break
    except KeyboardInterrupt:
        stop = ("interrupted", f"interrupted during epoch {len(history.epoch) + 1}; the "
                               f"weights are those of the last completed step")
    finally:
        progress.close()

    reason, message = stop or ("epochs", f"ran all {epochs} epoch(s)")
    history.stopped_reason = reason
    history.stopped_epoch = history.epoch[-1] if history.epoch else 0
    history.diverged = reason == "diverged"
    if restore_best and history.best_epoch is not None and not history.diverged \
            and history.best_epoch != history.stopped_epoch:
        _restore(model, optimizer, best_state)
        message += f"; restored the weights of epoch {history.best_epoch}"
    history.message = message
    if reason != "epochs":
        progress.message(("stopped: " if reason != "diverged" else "") + message)
    _call(callbacks, "on_train_end", history)
    if history.diverged and on_divergence == "raise":
        raise TrainingDiverged(message)
    return history


def _diverged_message(value, first, epoch, step, global_step, optimizer, last_good, what="loss"):
    lr = _lr(optimizer)
    where = f"epoch {epoch}, step {step} (step {global_step} overall)" if step else \
        f"the end of epoch {epoch}"
    why = ("is NaN" if math.isnan(value) else "is infinite" if math.isinf(value)
           else f"is {value:.4g}, {value / max(abs(first), 1e-12):.3g} times the first "
                f"loss ({first:.4g})")
    fix = (f"try a smaller learning rate (lr={lr:g} now; e.g. {lr / 10:g})"
           if math.isfinite(lr) else "try a smaller learning rate")
    kept = (f"the weights were restored to the end of epoch {last_good}" if last_good
            else "the weights were restored to their initial values")
    return f"training diverged at {where}: the {what} {why}; {fix}. Nothing saved was lost: {kept}"
