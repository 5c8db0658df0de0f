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

import copy
import functools
import math
import numbers
import os
import sys
import time
import warnings

import numpy as np

from ._tensor import Tensor, no_grad
from .data.dataset import DataLoader, as_dataset
from .function import ZeroinError
from .metrics import accuracy, get_metric
from .random import get_rng_state, manual_seed

__all__ = ["fit", "evaluate", "predict", "History", "StopTraining", "TrainingDiverged",
           "Callback", "ModelCheckpoint", "LambdaCallback", "TensorBoard", "LivePlot",
           "TrainingLoop", "save_figure"]


class StopTraining(Exception):
    """Raise it (or return it) from a callback to end training after the current step."""


class TrainingDiverged(ZeroinError):
    """Raised by :func:`fit` with ``on_divergence="raise"`` when the loss blows up."""


class Callback:
    """Hooks called by :func:`fit`; override the ones you need.

    Each may return :class:`StopTraining` (the class or an instance) or raise it to stop.
    ``history.model``, ``history.optimizer`` and ``history.scheduler`` are available
    inside every hook.
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
    run that diverges later leaves the last good checkpoint in place. The file also holds
    the scheduler's state (when fit has one) and ``rng_state`` (:func:`zeroin.get_rng_state`),
    so that loading the three and :func:`zeroin.set_rng_state` resumes the run exactly.
    The folder of ``path`` is created if missing.
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
        if history.scheduler is not None and hasattr(history.scheduler, "state_dict"):
            obj["scheduler"] = history.scheduler.state_dict()
        obj["rng_state"] = get_rng_state()
        if isinstance(self.path, (str, os.PathLike)):   # save needs the folder to exist
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        save(obj, self.path)


class TensorBoard(Callback):
    """Log :func:`fit`'s History to TensorBoard with
    :class:`zeroin.utils.tensorboard.SummaryWriter`.

    After every epoch each History key (``loss``, ``val_loss``, the metrics, ``lr``,
    ``time``) is logged as a scalar of that name at the epoch number; with
    ``log_steps=True`` every step's loss is logged too, as ``step_loss`` at the overall
    step. With ``log_graph=True`` the model's graph is logged once, after the first step,
    on that step's batch (:meth:`~zeroin.utils.tensorboard.SummaryWriter.add_graph`, the
    Graphs tab). ``log_dir`` (default: torch's ``runs/<time>_<host>``) makes a writer that
    is closed when training ends; or pass your own ``writer``, which is only flushed.
    """

    def __init__(self, log_dir=None, writer=None, log_steps=False, log_graph=False):
        if log_dir is not None and writer is not None:
            raise ValueError("TensorBoard: pass log_dir or writer, not both (the writer "
                             "already has its log_dir)")
        self.log_dir, self.writer, self.log_steps = log_dir, writer, log_steps
        self.log_graph, self._owned = log_graph, writer is None
        self._graph_input = self._hook = None

    def on_train_begin(self, history):
        if self._owned:
            from .utils.tensorboard import SummaryWriter
            self.writer = SummaryWriter(self.log_dir)
            self.log_dir = self.writer.get_logdir()
        if self.log_graph:              # keep the first batch the model sees
            def first_batch(module, args):
                self._graph_input = args
                self._hook.remove()
            self._hook = history.model.register_forward_pre_hook(first_batch)

    def on_step_end(self, history, step, loss):
        if self._graph_input is not None:
            self.writer.add_graph(history.model, self._graph_input)
            self._graph_input = None
        if self.log_steps:
            self.writer.add_scalar("step_loss", loss, step)

    def on_epoch_end(self, history, epoch):
        for key, values in history.history.items():
            self.writer.add_scalar(key, values[-1], epoch)
        self.writer.flush()                  # so that a running TensorBoard shows the epoch

    def on_train_end(self, history):
        if self._hook is not None:
            self._hook.remove()
        if self._owned:
            self.writer.close()
        else:
            self.writer.flush()


def _jupyter():
    """Whether this runs in a Jupyter kernel (IPython already imported, with a kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class LivePlot(Callback):
    """The loss curves redrawn while :func:`fit` runs, for a live demo: after every
    ``every`` epochs (and after the last) :meth:`History.plot` is drawn again with
    ``keys``, ``title`` and ``logy``. In Jupyter it shows in one output area, updated in
    place; with ``path`` it is also written there as a PNG (atomically, so an image viewer
    that reloads the file never sees half of it). ``figsize`` (inches) sizes it for a
    slide; text keeps its points, so a smaller figure has larger text; ``theme="dark"``
    draws light on slate for dark slides.
    """

    def __init__(self, every=1, path=None, keys=None, title=None, logy=None, figsize=None,
                 dpi=100, theme=None):
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"LivePlot: every must be a whole number of epochs >= 1, got "
                             f"{every!r}")
        self.every, self.path, self.keys, self.title = int(every), path, keys, title
        if theme is not None:
            from .viz.figures import check_theme
            check_theme("LivePlot", theme)
        self.logy, self.figsize, self.dpi, self.theme = logy, figsize, dpi, theme
        self.draws, self._handle, self._shown = 0, None, _jupyter()
        if not self._shown and path is None:
            warnings.warn("LivePlot: not in a Jupyter kernel and no path= given, so nothing "
                          "is drawn; pass path='loss.png' to watch the curves in a file",
                          UserWarning, stacklevel=2)

    def on_train_begin(self, history):
        self._handle = None             # a new output area for each run

    def on_epoch_end(self, history, epoch):
        if history.epochs_run % self.every == 0:
            self._draw(history)

    def on_train_end(self, history):
        if history.epochs_run % self.every:         # the last epochs, not yet drawn
            self._draw(history)

    def _draw(self, history):
        if not history.epochs_run or (not self._shown and self.path is None):
            return
        fig = history.plot(keys=self.keys, title=self.title, logy=self.logy,
                           theme=self.theme)
        if self.figsize is not None:
            fig.set_size_inches(self.figsize)
        if self.path is not None:
            save_figure(fig, self.path, dpi=self.dpi)
        if self._shown:
            import io

            from IPython.display import Image, display
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi)
            image = Image(data=buf.getvalue(), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
        self.draws += 1


class _Record(dict):
    """``History.history``: a dict whose missing key says why it is missing (no epoch
    finished, as when the loss blew up at once; or which keys there are), not just
    ``KeyError: 'loss'``."""

    def __init__(self, owner):
        super().__init__()
        self._owner = owner

    def __missing__(self, key):
        if not self:
            why = f"{key!r}: no epoch has finished, so nothing is recorded yet"
            message = getattr(self._owner, "message", "")
            raise KeyError(f"{why}: {message}" if message else why)
        hint = ("; validation values need val_data= in fit"
                if str(key).startswith("val_") and not any(k.startswith("val_") for k in self)
                else "")
        raise KeyError(f"{key!r} is not recorded; recorded are {', '.join(self)}{hint}")


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
        self.history = _Record(self)
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
        self.files = []                 # what zeroin.recipes.train_mlp wrote, if it did
        self.message = ""
        self.params = dict(params or {})
        self.model = None
        self.optimizer = None
        self.scheduler = None

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

    def plot(self, keys=None, path=None, title=None, logy=None, theme=None):
        """Loss (and metric) curves per epoch as a Matplotlib Figure; saved as PNG if ``path``.

        ``keys`` picks History keys; the default draws the loss (with ``val_loss``) and,
        in a second panel, the first metric (with its validation twin). ``theme="dark"``
        draws light on slate for dark slides (``"light"``: dark on white; None, the
        default: matplotlib's current style).
        """
        from .viz.curves import history_figure
        from .viz.fonts import fit
        # fonts fitted now, not only while saving: a notebook draws the returned figure
        fig = fit(history_figure(self, keys, title=title, logy=logy, theme=theme))
        if path is not None:
            _save_figure(fig, path)
        return fig

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v and k != "time"}
        return (f"History(epochs={self.epochs_run}, stopped={self.stopped_reason!r}, "
                f"best_epoch={self.best_epoch}, last={last})")


def save_figure(fig, path, dpi=150):
    """Write a Matplotlib figure atomically (temporary file in the same folder, then rename).

    The format comes from the file's extension (matplotlib's default, PNG, without one);
    ``dpi`` is the lessons' (150).
    """
    from pathlib import Path
    from ._io import atomic_open
    from .viz.fonts import fallback
    path = Path(path)
    with atomic_open(path) as f, fallback(fig):
        fig.savefig(f, dpi=dpi, format=path.suffix[1:].lower() or None)
    return path


_save_figure = save_figure          # the old private name


# --- helpers -----------------------------------------------------------------------------

def _loader(data, batch_size, shuffle, where):
    if isinstance(data, DataLoader):
        return data
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
            batch_size < 1:
        n = len(data[0]) if isinstance(data, tuple) and data and hasattr(data[0], "__len__") \
            else None
        full = f"batch_size={n}" if n else "batch_size=len(X)"
        raise ValueError(f"{where}: batch_size must be a whole number >= 1, got {batch_size!r};"
                         f" for full-batch training (one step per epoch on all samples) pass "
                         f"{full}")
    if isinstance(data, list) and len(data) >= 2 and all(
            hasattr(d, "shape") and len(d.shape) and len(d) == len(data[0]) for d in data):
        # [X, y] was zeroin's (X, y) before lists meant samples, as in PyTorch's DataLoader
        raise TypeError(f"{where}: got a list of {len(data)} arrays of {len(data[0])} rows; "
                        f"a list means samples (as PyTorch's DataLoader reads it), so this "
                        f"would train on X and y as two samples. Pass a tuple (X, y)")
    return DataLoader(as_dataset(data, where), batch_size=batch_size, shuffle=shuffle)


def _takes_probabilities(loss_fn):
    """True for a loss on probabilities (BCELoss): its model ends in a sigmoid."""
    from .nn import functional as F
    from .nn.losses import BCELoss
    return isinstance(loss_fn, BCELoss) or loss_fn is F.binary_cross_entropy


def _metric_fns(metrics, loss_fn=None, op=None):
    """``[(name, fn)]``; "accuracy" thresholds one-column outputs at 0.5, not 0, when
    ``loss_fn`` is BCELoss (the outputs are probabilities, not logits)."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = (metrics,)
    fns = [get_metric(m, op) for m in metrics]
    if _takes_probabilities(loss_fn):
        fns = [(n, functools.partial(accuracy, logits=False) if f is accuracy else f)
               for n, f in fns]
    return fns


def _batch_loss(loss_fn, out, yb, epoch, step):
    loss = loss_fn(out, yb)
    if not isinstance(loss, Tensor) or loss.data.size != 1:
        shape = getattr(loss, "shape", None)
        raise ValueError(f"fit: loss_fn must return a one-element tensor (use reduction="
                         f"'mean'), got {type(loss).__name__} of shape {shape} at epoch "
                         f"{epoch}, step {step}")
    return loss


def _snapshot(model, optimizer, scheduler=None):
    """Model, optimizer and scheduler state, to go back to (a divergence, restore_best):
    all three, so that the learning rate and the schedule's position agree afterwards."""
    opt = optimizer.state_dict() if hasattr(optimizer, "state_dict") else None
    sched = copy.deepcopy(scheduler.state_dict()) if hasattr(scheduler, "state_dict") else None
    return copy.deepcopy(model.state_dict()), opt, sched     # its values share the weights'


def _restore(model, optimizer, snap, scheduler=None):
    model_state, opt_state, sched_state = snap
    model.load_state_dict(model_state)
    if opt_state is not None and hasattr(optimizer, "load_state_dict"):
        optimizer.load_state_dict(opt_state)
    if sched_state is not None and hasattr(scheduler, "load_state_dict"):
        scheduler.load_state_dict(sched_state)


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
    fns = _metric_fns(metrics, loss_fn, "evaluate")
    dtype = _param_dtype(model)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        total, n, outs, tgts = 0.0, 0, [], []
        for xb, yb in loader:
            xb, yb = _cast(xb, dtype), _cast(yb, dtype)
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
    dtype = _param_dtype(model)         # as fit: float data in the model's dtype
    try:
        return np.concatenate([model(_cast(xb, dtype)).data for xb in batches])
    finally:
        if was_training:
            model.train()


_SHORT = {"accuracy": "acc", "val_accuracy": "val_acc"}


def _columns(file):
    """Width to fit: the terminal's (at most 120 used), 80 when not a terminal."""
    import shutil
    isatty = getattr(file, "isatty", lambda: False)()
    cols = shutil.get_terminal_size((80, 24)).columns if isatty else 80
    return max(40, min(cols, 120))


class _Progress:
    """One line per epoch, fitted to the width of the terminal (80 columns when the output
    is not a terminal); on a terminal with tqdm (``verbose=1``), a bar with the live loss
    runs during each epoch and is replaced by that epoch's line. Nothing at ``verbose=0``."""

    def __init__(self, verbose, epochs, steps, file):
        self.verbose, self.epochs, self.steps = verbose, epochs, steps
        self.file = file or sys.stdout
        self.width = len(str(epochs))
        self.columns = _columns(self.file)
        self.bar = self.tqdm = None
        if verbose == 1 and getattr(self.file, "isatty", lambda: False)():
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            self.tqdm = tqdm

    def step(self, epoch, loss):
        if self.tqdm is None:
            return
        if self.bar is None:
            self.bar = self.tqdm(total=self.steps, unit="step", file=self.file, leave=False,
                                 ncols=self.columns, mininterval=0.2,
                                 desc=f"epoch {epoch:>{self.width}}/{self.epochs}")
        self.bar.set_postfix_str(f"loss {loss:.4g}", refresh=False)
        self.bar.update(1)

    def line(self, history, epoch):
        """``epoch 3/40  loss 0.1234  acc 0.9876  val_loss ...  0.52s`` within the width."""
        head = f"epoch {epoch:>{self.width}}/{self.epochs}"
        items = [(k, v[-1]) for k, v in history.history.items() if k not in ("lr", "time")]
        secs = f"{history.history['time'][-1]:.2f}s" if "time" in history.history else ""
        full = [f"{k} {v:.4f}" for k, v in items]
        short = [f"{_SHORT.get(k, k)} {v:.4f}" for k, v in items]
        for parts in ([head, *full, secs], [head, *short, secs], [head, *short]):
            text = "  ".join(p for p in parts if p)
            if len(text) < self.columns:
                return text
        while len(text) >= self.columns and len(parts) > 2:
            parts.pop()
            text = "  ".join(parts)
        return text

    def epoch(self, history, epoch):
        if self.verbose == 0:
            return
        self._close_bar()
        print(self.line(history, epoch), file=self.file, flush=True)

    def message(self, text):
        if self.verbose == 0:
            return
        self._close_bar()
        print(text, file=self.file, flush=True)

    def _close_bar(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def close(self):
        self._close_bar()


# --- checks made before any step -----------------------------------------------------------

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


def _check_scheduler(scheduler, optimizer):
    """A scheduler class, or one built on another optimizer, would fail late or do nothing."""
    if scheduler is None:
        return
    name = getattr(scheduler, "__name__", type(scheduler).__name__)
    if isinstance(scheduler, type):
        raise TypeError(f"fit: scheduler must be a scheduler object built on the optimizer, "
                        f"got the class {name}; pass {name}(optimizer, ...) instead")
    if not callable(getattr(scheduler, "step", None)):
        raise TypeError(f"fit: scheduler must have a step() method (an optim.lr_scheduler "
                        f"object such as StepLR(optimizer, step_size=10)), got {name}")
    if getattr(scheduler, "mode", None) == "max" and _needs_metric(scheduler):
        raise ValueError(f"fit: {name}(mode='max') waits for a value that rises, but fit "
                         f"steps it with the monitored loss (val_loss, or loss without "
                         f"validation data), which falls; build it with mode='min'")
    own = getattr(scheduler, "optimizer", optimizer)
    if own is not optimizer:
        raise ValueError(f"fit: the scheduler {name} was built on another optimizer "
                         f"({type(own).__name__} at {id(own):#x}), so it would never change "
                         f"the learning rate of the one training this model; build it as "
                         f"{name}(optimizer, ...) with the optimizer passed to fit")


def _data_arrays(data):
    """``(inputs, targets)`` NumPy arrays behind ``data`` when they can be read at once."""
    if isinstance(data, DataLoader):
        data = data.dataset
    if isinstance(data, tuple) and len(data) == 2:      # a list holds samples, not (X, y)
        arrays = data
    else:
        arrays = getattr(data, "arrays", None)
    if arrays is None or len(arrays) < 2:
        return None
    return [a.data if isinstance(a, Tensor) else np.asarray(a) for a in arrays[:2]]


def _first_bad_row(arr):
    """(row, count) of rows holding NaN or Inf in a floating array; None if all finite."""
    arr = np.asarray(arr)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    good = np.isfinite(arr).reshape(len(arr), -1).all(axis=1) if arr.ndim else \
        np.isfinite(arr).reshape(1)
    if good.all():
        return None
    bad = np.flatnonzero(~good)
    return int(bad[0]), len(bad)


def _not_finite_error(where, part, arr, row, count, epoch=None, step=None, first=0):
    """The data error for row ``row`` of ``arr`` (row ``first + row`` of ``where``)."""
    at = f" of the batch of epoch {epoch}, step {step}" if epoch is not None else ""
    bad = np.asarray(np.asarray(arr)[row]).ravel()
    what = "NaN" if np.isnan(bad).any() else "Inf"
    return ValueError(
        f"fit: the {part} of {where} hold {what} in row {first + row}{at}, the first of "
        f"{count} row(s) with NaN or Inf. This is a problem in the data, not a divergence "
        f"or a too large learning rate: nothing was trained. Clean or drop those rows "
        f"first, e.g. keep = np.isfinite(X).all(axis=1); X, y = X[keep], y[keep]")


def _check_finite(data, where):
    """Refuse NaN/Inf in the inputs or targets of ``data`` before any training step.

    Returns False when the data cannot be read as arrays (checked batch by batch instead)."""
    arrays = _data_arrays(data)
    if arrays is None:
        return False
    for part, arr in zip(("inputs", "targets"), arrays):
        found = _first_bad_row(arr)
        if found:
            raise _not_finite_error(where, part, arr, *found)
    return True


def _check_finite_batches(loader, where):
    """The same check over the batches of a loader that is not shuffled (validation data
    that cannot be read as arrays at once): rows are numbered across the batches."""
    offset = 0
    for batch in loader:
        for part, t in zip(("inputs", "targets"), batch[:2]):
            arr = t.data if isinstance(t, Tensor) else np.asarray(t)
            found = _first_bad_row(arr)
            if found:
                raise _not_finite_error(where, part, arr, found[0], "at least 1",
                                        first=offset)
        offset += len(batch[0])


def _param_dtype(model):
    """The floating dtype of the model's parameters (data is cast to it), or None."""
    params = getattr(model, "parameters", None)
    if not callable(params):
        return None
    for p in params():
        dt = np.asarray(p.data).dtype
        if dt.kind == "f":
            return dt
    return None


def _cast(t, dtype):
    """``t`` in ``dtype`` when both are floating and differ (integer labels stay)."""
    if dtype is None or not isinstance(t, Tensor):
        return t
    arr = t.data
    if arr.dtype.kind != "f" or arr.dtype == dtype:
        return t
    return Tensor(arr.astype(dtype))


# Schedules that PyTorch steps after every batch, not every epoch (their docs say so).
_PER_BATCH_SCHEDULERS = ("OneCycleLR", "CyclicLR")


def _needs_metric(scheduler):
    """True for a schedule whose ``step`` takes the monitored value (ReduceLROnPlateau, or
    one whose ``step`` has a required positional argument)."""
    import inspect
    from .optim.lr_scheduler import ReduceLROnPlateau
    if isinstance(scheduler, ReduceLROnPlateau):
        return True
    try:
        params = inspect.signature(scheduler.step).parameters.values()
    except (TypeError, ValueError):
        params = ()
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
               for p in params)


def _scheduler_interval(scheduler, interval, steps_per_epoch, epochs):
    """``"epoch"`` or ``"step"``: when fit steps ``scheduler``. The default (None) is
    ``"step"`` for OneCycleLR and CyclicLR, which PyTorch steps after every batch (stepped
    per epoch, a one-cycle schedule would barely leave its starting lr), else ``"epoch"``."""
    if interval not in (None, "epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch', 'step' or None (the "
                         f"schedule's own: 'step' for OneCycleLR and CyclicLR), got "
                         f"{interval!r}")
    if scheduler is None:
        return "epoch"
    name = type(scheduler).__name__
    if interval is None:
        interval = "step" if name in _PER_BATCH_SCHEDULERS else "epoch"
    if interval == "step" and _needs_metric(scheduler):
        raise ValueError(f"fit: {name} is stepped with the monitored loss, which fit has only "
                         f"at the end of an epoch; leave scheduler_interval='epoch'")
    total = getattr(scheduler, "total_steps", None)
    if name == "OneCycleLR" and total is not None:
        steps = epochs * steps_per_epoch if interval == "step" else epochs
        left = total - scheduler.last_epoch          # a resumed schedule has fewer left
        if steps > left:
            raise ValueError(
                f"fit: OneCycleLR has {left} of its total_steps={total} left, but fit would "
                f"step it up to {steps} times ({epochs} epoch(s)" +
                (f" x {steps_per_epoch} batches" if interval == "step" else "") +
                f"); build it with epochs={epochs}, steps_per_epoch={steps_per_epoch} "
                f"(the length of the training DataLoader)")
    return interval


def _scheduler_step(scheduler, monitored):
    """``step()``, or ``step(metric)`` for schedules that need one (ReduceLROnPlateau)."""
    scheduler.step(monitored) if _needs_metric(scheduler) else scheduler.step()


# --- the training loop ---------------------------------------------------------------------

class TrainingLoop:
    """The state of one :func:`fit` run and its steps: an epoch of batches, the epoch's
    bookkeeping, the named stop conditions, callbacks and progress lines.

    ``fit`` builds one and calls :meth:`run`; the pieces are methods so that each can be
    read (and tested) on its own. ``stop`` is None while training goes on, else
    ``(reason, message)`` with a reason from :attr:`History.stopped_reason`.
    """

    def __init__(self, model, loss_fn, optimizer, train_data, val_data=None, epochs=10,
                 batch_size=32, metrics=(), epsilon=None, patience=None, verbose=1,
                 callbacks=(), scheduler=None, clip_grad_norm=None, shuffle=True,
                 min_delta=0.0, restore_best=None, divergence_factor=1e4, file=None,
                 scheduler_interval=None):
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.scheduler, self.epochs, self.epsilon = scheduler, epochs, epsilon
        self.patience, self.min_delta, self.clip = patience, min_delta, clip_grad_norm
        self.divergence_factor = divergence_factor
        self.restore_best = patience is not None if restore_best is None else restore_best
        self.loader = _loader(train_data, batch_size, shuffle, "fit(train_data)")
        val_batch = max(batch_size, 1024) if isinstance(batch_size, (int, np.integer)) else \
            batch_size         # a train DataLoader left batch_size unchecked
        self.val_loader = None if val_data is None else _loader(
            val_data, val_batch, False, "fit(val_data)")
        self.interval = _scheduler_interval(scheduler, scheduler_interval, len(self.loader),
                                            epochs)
        self.check_batches = not _check_finite(train_data, "train_data")
        if val_data is not None and not _check_finite(val_data, "val_data"):
            _check_finite_batches(self.val_loader, "val_data")
        self.dtype = _param_dtype(model)
        self.metrics, self.fns = metrics, _metric_fns(metrics, loss_fn, "fit")
        self.callbacks = list(callbacks)
        self.history = h = History({"epochs": epochs, "lr": _lr(optimizer),
                                    "batch_size": getattr(self.loader, "batch_size", None),
                                    "steps_per_epoch": len(self.loader)})
        h.model, h.optimizer, h.scheduler = model, optimizer, scheduler
        h.monitor = "val_loss" if self.val_loader is not None else "loss"
        self.progress = _Progress(verbose, epochs, len(self.loader), file)
        self.params = list(model.parameters()) if clip_grad_norm is not None else None
        self.good = _snapshot(model, optimizer, scheduler)   # the state at the end of the last good epoch
        self.best = self.best_state = self.first_loss = self.stop = None
        self.bad_epochs = self.global_step = 0
        self.stop_conditions = [self.epsilon_reached, self.patience_exhausted]

    def run(self):
        """Epochs until one of the stop conditions holds; returns the History."""
        if hasattr(self.model, "train"):
            self.model.train()
        self.callback("on_train_begin", self.history)
        try:
            for epoch in range(1, self.epochs + 1):
                if self.stop or self.callback("on_epoch_begin", self.history, epoch):
                    break
                if not self.train_epoch(epoch) or not self.end_epoch(epoch):
                    break
        except KeyboardInterrupt:
            self.stop = ("interrupted", f"interrupted during epoch {len(self.history.epoch) + 1}"
                                        f"; the weights are those of the last completed step")
        finally:
            self.progress.close()
        return self.finish()

    def callback(self, hook, *args):
        """Run ``hook`` on every callback; True (and ``stop`` set) if one asked to stop."""
        msg = _call(self.callbacks, hook, *args)
        if msg and not self.stop:
            self.stop = ("callback", msg)
        return bool(msg)

    def step(self, xb, yb, epoch, step):
        """One step of the chapter's loop; returns the output and the loss, or None
        (and ``stop`` set) when the loss diverged before the weights moved."""
        xb, yb = _cast(xb, self.dtype), _cast(yb, self.dtype)
        if self.check_batches:
            for part, t in (("inputs", xb), ("targets", yb)):
                arr = t.data if isinstance(t, Tensor) else t
                found = _first_bad_row(arr)
                if found:
                    raise _not_finite_error("train_data", part, arr, *found, epoch, step)
        self.optimizer.zero_grad()
        out = self.model(xb)
        loss = _batch_loss(self.loss_fn, out, yb, epoch, step)
        value = float(loss.data)
        if self.first_loss is None:
            self.first_loss = value
        if self.diverges(value):
            self.diverged(value, epoch, step)
            return None
        loss.backward()
        self.clip_grads()
        if getattr(self.optimizer, "needs_closure", False):     # LBFGS
            self.optimizer.step(self.closure(xb, yb, loss, epoch, step))
        else:
            self.optimizer.step()
        if self.interval == "step":
            self.scheduler.step()
        return out, yb, value

    def clip_grads(self):
        if self.clip is not None:
            from .nn.utils import clip_grad_norm_
            clip_grad_norm_(self.params, self.clip)

    def closure(self, xb, yb, loss, epoch, step):
        """The closure an optimizer such as LBFGS calls to re-evaluate the batch's loss
        (zero the gradients, forward, backward): its first call returns ``loss``, whose
        gradients are already there, so the step costs no extra evaluation."""
        first = [loss]

        def closure():
            if first:
                return first.pop()
            self.optimizer.zero_grad()
            again = _batch_loss(self.loss_fn, self.model(xb), yb, epoch, step)
            again.backward()
            self.clip_grads()
            return again
        return closure

    def diverges(self, value):
        limit = self.divergence_factor
        return not math.isfinite(value) or (
            limit is not None and value > limit * max(abs(self.first_loss), 1e-3))

    def diverged(self, value, epoch, step, what="loss"):
        """Record a divergence and put back the weights of the last good epoch."""
        h = self.history
        self.stop = ("diverged", _diverged_message(value, self.first_loss, epoch, step,
                                                   self.global_step, self.optimizer,
                                                   epoch - 1, what=what))
        h.diverged_at = {"epoch": epoch, "step": step, "global_step": self.global_step,
                         "loss": value}
        _restore(self.model, self.optimizer, self.good, self.scheduler)

    def train_epoch(self, epoch):
        """One pass over the training data; logs the epoch. False when training stops."""
        h, t0 = self.history, time.perf_counter()
        total, n, outs, tgts = 0.0, 0, [], []
        for step, (xb, yb) in enumerate(self.loader, 1):
            self.global_step += 1
            res = self.step(xb, yb, epoch, step)
            if res is None:
                return False
            out, yb, value = res
            h.step_loss.append(value)
            h.step_epoch.append(epoch)
            total, n = total + value * len(xb), n + len(xb)
            if self.fns:
                outs.append(out.data)
                tgts.append(yb.data)
            self.progress.step(epoch, value)
            if self.callback("on_step_end", h, self.global_step, value):
                break
        if n == 0:
            if self.stop:
                return False
            raise ValueError("fit: the training data gave no batches (empty dataset, or "
                             "drop_last with fewer samples than batch_size)")
        self.log_epoch(epoch, total / n, outs, tgts, t0)
        return True

    def log_epoch(self, epoch, loss, outs, tgts, t0):
        """Training loss and metrics, validation loss and metrics, lr and time."""
        h = self.history
        h.epoch.append(epoch)
        h._log("loss", loss)
        if self.fns:
            o, t = np.concatenate(outs), np.concatenate(tgts)
            for name, fn in self.fns:
                h._log(name, fn(o, t))
        if self.val_loader is not None:
            for k, v in evaluate(self.model, self.loss_fn, self.val_loader, self.metrics).items():
                h._log("val_" + k, v)
        h._log("lr", _lr(self.optimizer))
        h._log("time", time.perf_counter() - t0)

    def end_epoch(self, epoch):
        """Schedule, divergence of the monitored loss, best epoch, callbacks and the stop
        conditions; False when training stops."""
        h = self.history
        monitored = h.history[h.monitor][-1]
        if self.scheduler is not None and self.interval == "epoch":
            _scheduler_step(self.scheduler, monitored)
        if not math.isfinite(monitored):
            self.diverged(monitored, epoch, None, what=h.monitor)
            h.epoch.pop()
            for v in h.history.values():
                v.pop()
            return False
        self.good = _snapshot(self.model, self.optimizer, self.scheduler)
        if self.best is None or monitored < self.best - self.min_delta:
            self.best, self.bad_epochs = monitored, 0
            h.best_epoch, h.best_value, self.best_state = epoch, monitored, self.good
        else:
            self.bad_epochs += 1
        self.progress.epoch(h, epoch)
        stopped_in_epoch = self.stop is not None          # a step callback asked to stop
        if self.callback("on_epoch_end", h, epoch) or stopped_in_epoch:
            return False
        for condition in self.stop_conditions:
            self.stop = condition(epoch)
            if self.stop:
                return False
        return True

    # --- named stop conditions: (reason, message) to stop, None to go on ---

    def epsilon_reached(self, epoch):
        loss = self.history.history["loss"][-1]
        if self.epsilon is not None and loss < self.epsilon:
            return ("epsilon", f"the training loss {loss:.4g} is below epsilon = "
                               f"{self.epsilon:g} after epoch {epoch}")
        return None

    def patience_exhausted(self, epoch):
        h = self.history
        if self.patience is not None and self.bad_epochs >= self.patience:
            return ("patience", f"no improvement of {h.monitor} for {self.patience} epoch(s); "
                                f"best was epoch {h.best_epoch} ({h.best_value:.4g})")
        return None

    def finish(self):
        """Fill in why training stopped, restore the best weights if asked, say so."""
        h = self.history
        reason, message = self.stop or ("epochs", f"ran all {self.epochs} epoch(s)")
        h.stopped_reason, h.diverged = reason, reason == "diverged"
        h.stopped_epoch = h.epoch[-1] if h.epoch else 0
        if self.restore_best and h.best_epoch is not None and not h.diverged \
                and h.best_epoch != h.stopped_epoch:
            _restore(self.model, self.optimizer, self.best_state, self.scheduler)
            message += f"; restored the weights of epoch {h.best_epoch}"
        h.message = message
        if reason != "epochs":
            self.progress.message(("stopped: " if reason != "diverged" else "") + message)
        _call(self.callbacks, "on_train_end", h)
        return h


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs=10, batch_size=32,
        metrics=(), epsilon=None, patience=None, verbose=1, callbacks=(), seed=None,
        scheduler=None, clip_grad_norm=None, shuffle=True, min_delta=0.0, restore_best=None,
        divergence_factor=1e4, on_divergence="stop", file=None, scheduler_interval=None):
    """Train ``model`` by gradient descent and return a :class:`History`.

    Each step is the chapter's loop: forward a batch, measure the loss, backward,
    let the optimizer move every weight against its gradient. Before the first step,
    ``fit`` checks what it is given: the optimizer holds the model's parameters, the
    scheduler is an object built on that optimizer, and the training and validation
    inputs and targets hold no NaN or Inf (a ValueError names the array and the first bad
    row). Floating inputs and targets are cast to the dtype of the model's parameters
    (float64 unless the model was made float32), so a float32 dataset trains a float64
    model and the other way round; integer class labels stay integers.

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
        ``"accuracy"`` reads one output column as a logit (class 1 above 0), or as a
        probability (above 0.5) when ``loss_fn`` is ``nn.BCELoss``.
    epsilon : float, optional
        Stop once the epoch's training loss is below it (the chapter's ``|a - y| -> 0``).
    patience : int, optional
        Stop after this many epochs without improving the monitored loss by more than
        ``min_delta`` (``val_loss`` when there is validation data, else ``loss``), and
        restore the weights of the best epoch (``restore_best``, default True then).
    verbose : int
        0 silent; 1 one line per epoch, with a tqdm bar and the live loss during each
        epoch on a terminal; 2 one line per epoch only. Lines fit the terminal's width
        (80 columns when the output is not a terminal).
    callbacks : sequence
        :class:`Callback` objects, or plain functions ``f(history, epoch)`` called at the
        end of each epoch; returning or raising :class:`StopTraining` stops training.
        :class:`TensorBoard` logs the History for TensorBoard.
    seed : int, optional
        Passed to :func:`zeroin.manual_seed` first, so shuffling and dropout repeat
        exactly (seed before building the model to repeat the initial weights too).
    scheduler : LRScheduler, optional
        ``scheduler.step()`` after every epoch (``step(monitored loss)`` for a schedule
        whose ``step`` needs a metric, such as ReduceLROnPlateau), or after every batch
        for OneCycleLR and CyclicLR, as PyTorch's documentation says to step them.
    scheduler_interval : {None, "epoch", "step"}
        Overrides that choice: ``"step"`` steps any schedule after every batch.
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
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a whole number >= 0, got {epochs!r}")
    _check_optimizer_owns_model(model, optimizer)
    _check_scheduler(scheduler, optimizer)
    if seed is not None:
        manual_seed(seed)
    loop = TrainingLoop(model, loss_fn, optimizer, train_data, val_data, epochs=epochs,
                        batch_size=batch_size, metrics=metrics, epsilon=epsilon,
                        patience=patience, verbose=verbose, callbacks=callbacks,
                        scheduler=scheduler, clip_grad_norm=clip_grad_norm, shuffle=shuffle,
                        min_delta=min_delta, restore_best=restore_best,
                        divergence_factor=divergence_factor, file=file,
                        scheduler_interval=scheduler_interval)
    history = loop.run()
    if history.diverged and on_divergence == "raise":
        raise TrainingDiverged(history.message)
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
