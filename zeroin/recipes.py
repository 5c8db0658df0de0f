"""The work behind ``zeroin train``, ``zeroin evaluate`` and ``zeroin sweep``.

Each ``*_command(args)`` takes the argparse namespace from :mod:`zeroin.cli`; the functions
they call (:func:`build_mlp`, :func:`train_mlp`, :func:`evaluate_checkpoint`,
:func:`sweep`) can be used directly from Python as well.

Sweeps run one training per learning rate through joblib (all local cores by default).
The same code runs on a Dask cluster through joblib's dask backend; from Python that is
one line around the call::

    from dask.distributed import Client
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster())
    with joblib.parallel_backend("dask"):
        results = sweep("moons", [0.001, 0.01, 0.1, 1])

and from the command line ``zeroin sweep moons --lr 0.001,0.01,0.1,1 --backend dask
[--scheduler tcp://scheduler:8786]`` (without ``--scheduler``, a local cluster).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["TRAIN_DEFAULTS", "RECIPES", "recipe_for", "build_mlp", "make_optimizer",
           "loss_for_task", "metrics_for_task", "train_mlp", "load_model", "evaluate_checkpoint",
           "sweep",
           "train_command", "evaluate_command", "sweep_command", "evaluate_split",
           "TrainingInterrupted", "finish_run",
           "format_metrics", "run_folder", "check_out_folder", "ACTIVATIONS", "OPTIMIZERS"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")


# --- building blocks ------------------------------------------------------------------------

def build_mlp(in_features, hidden, out_features, activation="relu"):
    """``Linear -> activation`` for each hidden size, then a final ``Linear`` (raw outputs)."""
    from . import nn
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
            "leaky_relu": nn.LeakyReLU}
    if activation not in acts:
        raise ValueError(f"build_mlp: unknown activation {activation!r}; choose one of "
                         f"{', '.join(acts)}")
    hidden = [int(h) for h in hidden]
    if any(h < 1 for h in hidden):
        raise ValueError(f"build_mlp: hidden sizes must be >= 1, got {hidden}")
    layers, n = [], int(in_features)
    for h in hidden:
        layers += [nn.Linear(n, h), acts[activation]()]
        n = h
    layers.append(nn.Linear(n, int(out_features)))
    return nn.Sequential(*layers)


def make_optimizer(name, params, lr):
    """An optimizer by its CLI name (``momentum``/``nesterov`` are SGD with momentum 0.9)."""
    from . import optim
    name = name.lower()
    if name == "sgd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "nesterov":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    classes = {"adagrad": optim.Adagrad, "adadelta": optim.Adadelta,
               "rmsprop": optim.RMSprop, "adam": optim.Adam, "adamw": optim.AdamW}
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    return classes[name](params, lr=lr)


def loss_for_task(task):
    from . import nn
    return {"regression": nn.MSELoss, "binary": nn.BCEWithLogitsLoss,
            "multiclass": nn.CrossEntropyLoss}[task]()


def metrics_for_task(task):
    return ["r2", "mae"] if task == "regression" else ["accuracy"]


def evaluate_split(model, loss_fn, data, metrics, target_standardizer=None, batch_size=1024):
    """Loss and metrics on ``data``; with a ``target_standardizer`` (regression on a data
    file) ``loss`` stays the training loss on standardised targets and ``mse``, ``mae``
    and ``r2`` are measured in the file's own units."""
    from .metrics import mae, mse, r2
    from .train import evaluate, predict
    res = evaluate(model, loss_fn, data, metrics, batch_size=batch_size)
    if target_standardizer is None:
        return res
    X, y = data.arrays
    pred = target_standardizer.inverse_transform(predict(model, X, batch_size=batch_size))
    y = target_standardizer.inverse_transform(y)
    return {"loss": res["loss"], "mse": float(mse(pred, y)), "mae": float(mae(pred, y)),
            "r2": float(r2(pred, y))}


def format_metrics(res):
    """``loss 0.1234  r2 0.9876``: 4 decimals, 6 significant digits for big numbers."""
    return "  ".join(f"{k} {v:.4f}" if abs(v) < 1e5 else f"{k} {v:.6g}"
                     for k, v in res.items())


def _label_text(v):
    v = v.item() if hasattr(v, "item") else v
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _slug(name):
    name = str(name)
    if Path(name).suffix.lower() in (".npz", ".csv"):
        name = Path(name).stem                      # train-mydata, not train--home-me-...
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name.split(":")[0])


def _savefig(fig, path):
    """``fig`` as ``path`` (a PNG, at the lessons' 150 dpi) and beside it as SVG, in the
    lessons' style (text as outlines, stable ids); returns both paths."""
    from .viz import figures as F
    path = Path(path)
    data = F.render(fig)
    return [Path(F.write_bytes(path.with_suffix(f".{fmt}"), data[fmt]))
            for fmt in ("png", "svg")]


def _write_json(obj, path):
    from ._io import atomic_open
    with atomic_open(path, "w", op="write") as f:
        json.dump(obj, f, indent=1, default=float)
    return Path(path)


# --- train ----------------------------------------------------------------------------------

#: the defaults of ``zeroin train`` and :func:`train_mlp` for every dataset ...
TRAIN_DEFAULTS = {"hidden": (64, 32), "activation": "relu", "optimizer": "adam", "lr": 0.01,
                  "batch_size": 32, "epochs": 50, "schedule": "none", "augment": "auto"}
#: ... and the recipes that replace some of them for one dataset. digits: chosen on its
#: validation part over training seeds 0-9 (the test part was not looked at); test
#: accuracy 97.8-98.9% for every seed, where the general defaults gave 96.1-97.5%.
RECIPES = {"digits": {"hidden": (256, 128), "lr": 1e-3, "batch_size": 64, "epochs": 40,
                      "schedule": "cosine"}}
SCHEDULES = ("cosine", "none")
AUGMENTS = ("auto", "shift", "none")
_IMAGE_SIDES = {"digits": 8, "mnist": 28}


def _base_name(dataset):
    return str(dataset).split(":")[0]


def recipe_for(dataset):
    """The training settings :func:`train_mlp` and ``zeroin train`` use for ``dataset``
    when none are given: :data:`TRAIN_DEFAULTS` updated by its entry in :data:`RECIPES`."""
    return {**TRAIN_DEFAULTS, **RECIPES.get(_base_name(dataset), {})}


def _load_splits(dataset, augment, data_seed, **file_args):
    """The dataset's splits; with ``augment="shift"`` (``"auto"``: digits only) the
    training images plus one-pixel shifted copies, standardised as the dataset is."""
    from .data import Standardizer, TensorDataset, load_dataset, shift_images
    base = _base_name(dataset)
    if augment not in AUGMENTS:
        raise ValueError(f"train: augment must be one of {', '.join(AUGMENTS)}, got "
                         f"{augment!r}")
    if augment == "auto":
        augment = "shift" if base == "digits" else "none"
    if augment == "none":
        return load_dataset(dataset, seed=data_seed, **file_args)
    if base not in _IMAGE_SIDES:
        raise ValueError(f"train: augment='shift' moves images by a pixel, so it is for "
                         f"digits and mnist only, not {dataset!r}; use augment='none'")
    d = load_dataset(dataset, seed=data_seed, standardize=False if base == "digits" else None,
                     **file_args)
    side = _IMAGE_SIDES[base]
    X, y = shift_images(*d.train.arrays, (side, side))
    parts = [(X, y), d.val.arrays, d.test.arrays]
    scaler = None
    if base == "digits":               # as load_dataset does, fitted on what is trained on
        scaler = Standardizer(min_std=2.0).fit(X)
        parts = [(scaler.transform(a), b) for a, b in parts]
    return dataclasses.replace(d, train=TensorDataset(*parts[0]),
                               val=TensorDataset(*parts[1]), test=TensorDataset(*parts[2]),
                               standardizer=scaler, info={**d.info, "augment": "shift"})


def train_mlp(dataset, hidden=None, activation="relu", optimizer="adam", lr=None,
              batch_size=None, epochs=None, seed=0, verbose=0, out=None, patience=None,
              data_seed=0, file=None, test_path=None, task=None, label_column=None,
              announce=None, schedule=None, augment="auto", theme="light"):
    """Train an MLP on a named dataset or a data file; returns
    ``(model, history, splits, test_metrics)``.

    ``hidden``, ``lr``, ``batch_size``, ``epochs`` and ``schedule`` left as None come
    from :func:`recipe_for` (``(64, 32)``, 0.01, 32, 50, ``"none"``; for digits
    ``(256, 128)``, 0.001, 64, 40, ``"cosine"``).

    ``schedule="cosine"`` lowers the learning rate along half a cosine over ``epochs``;
    ``augment="shift"`` adds one-pixel shifted copies of the training images
    (``"auto"``: for digits). ``test_path``, ``task`` and ``label_column`` are passed to
    :func:`zeroin.data.load_dataset` (data files only). ``announce(splits)`` is called
    once the data has loaded, before training starts.

    With ``out``, writes ``model.npz`` (weights, optimizer state and the architecture,
    so ``zeroin evaluate`` can rebuild the model), ``history.json``, ``loss.png`` and a
    metric curve (``accuracy.png`` or ``r2.png``); ``history.files`` lists what was
    written. A run that diverges writes no checkpoint, and writes its history and curves
    only into a folder that holds no model of an earlier run. ``theme="dark"`` draws the
    curves light on slate, for dark slides.
    """
    from . import optim
    from .viz.figures import check_theme
    check_theme("train", theme)             # before training, not after it
    from . import random as zr
    from .train import fit
    r = recipe_for(dataset)
    hidden = r["hidden"] if hidden is None else hidden
    lr = r["lr"] if lr is None else lr
    batch_size = r["batch_size"] if batch_size is None else batch_size
    epochs = r["epochs"] if epochs is None else epochs
    schedule = r["schedule"] if schedule is None else schedule
    if schedule not in SCHEDULES:
        raise ValueError(f"train: schedule must be one of {', '.join(SCHEDULES)}, got "
                         f"{schedule!r}")
    d = _load_splits(dataset, augment, data_seed, test_path=test_path, task=task,
                     label_column=label_column)
    if announce is not None:
        announce(d)
    zr.manual_seed(seed)
    model = build_mlp(d.in_features, hidden, d.out_features, activation)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    sched = (optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(epochs, 1))
             if schedule == "cosine" else None)
    loss_fn = loss_for_task(d.task)
    metrics = metrics_for_task(d.task)
    history = fit(model, loss_fn, opt, d.train, d.val if len(d.val) else None, epochs=epochs,
                  batch_size=batch_size, metrics=metrics, verbose=verbose, patience=patience,
                  file=file, scheduler=sched)
    info = {"optimizer": optimizer, "lr": lr, "batch_size": batch_size, "epochs": epochs,
            "seed": seed, "schedule": schedule, "augment": d.info.get("augment", "none"),
            "epochs_run": history.epochs_run, "stopped_reason": history.stopped_reason}

    def save_model(path, test):
        return save_checkpoint(path, model, opt, d, hidden, activation, info, test)
    title = Path(dataset).name if "file" in d.info else _base_name(dataset)
    test = finish_run(model, loss_fn, metrics, d.test, history, out, dataset, title,
                      save_model, d.target_standardizer, theme=theme)
    return model, history, d, test


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C after the last training step (:func:`finish_run`); its message says what was
    still written (``files``), so the trained model is never lost to a late Ctrl-C."""

    def __init__(self, message, files=()):
        super().__init__(message)
        self.files = list(files)


def _interrupted_message(cut, history, test, out, dataset):
    files = [p.name for p in history.files]
    saved = (f"wrote {', '.join(files)} to {out}" if files else
             "nothing written (no --out)" if out is None else f"nothing written to {out}")
    text = (f"interrupted {cut}, after training had stopped ({history.epochs_run} "
            f"epoch{'' if history.epochs_run == 1 else 's'}): {saved}")
    if test is None:
        text += "; the test metrics were not measured"
        if "model.npz" in files:
            text += f" (zeroin evaluate {Path(out) / 'model.npz'} {dataset} measures them)"
    elif not any(f.endswith(".png") for f in files) and files:
        text += "; no figures drawn"
    return text


def finish_run(model, loss_fn, metrics, test_data, history, out, dataset, title, save_model,
               target_standardizer=None, theme="light"):
    """After training: the test metrics, then (with ``out``) the run's files; returns the
    test metrics. ``save_model(path, test)`` writes the checkpoint and returns its path.
    The model and ``history.json`` are written first (a Ctrl-C meanwhile waits for them),
    the curves after; ``history.files`` lists what was written. A Ctrl-C during the test
    evaluation or the writing raises :class:`TrainingInterrupted` once the model is safe,
    its message saying what was written. Shared by the MLP and CNN recipes; ``theme`` is
    the curves' ("light" or "dark")."""
    cut = None                  # where a Ctrl-C after the last step came
    try:
        test = evaluate_split(model, loss_fn, test_data, metrics, target_standardizer)
    except KeyboardInterrupt:
        test, cut = None, "during the test evaluation"
    history.files = []
    if out is not None:
        history.files, cut_writing = _write_run(Path(out), history, test, title, save_model,
                                                theme)
        cut = cut or cut_writing
    if cut:
        raise TrainingInterrupted(_interrupted_message(cut, history, test, out, dataset),
                                  history.files)
    return test


def _write_run(out, history, test, title, save_model, theme="light"):
    """The run's files in ``out``, the model first; returns ``(paths, cut)``: ``cut`` says
    where a Ctrl-C stopped the writing (None if none came). A Ctrl-C while the model and
    history are written waits for them; one while the curves are drawn skips the rest.
    Never writes a diverged run's history next to an older model."""
    if history.diverged and (out / "model.npz").exists():
        return [], None
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with _holding_interrupts() as held:
        if not history.diverged:
            written.append(save_model(out / "model.npz", test))
        written.append(_write_json({**history.to_dict(), "test": test}, out / "history.json"))
    cut = "while the model was saved" if held else None
    if not cut:
        try:
            _plot_history(history, out, title, written, theme)
        except KeyboardInterrupt:
            cut = "while the figures were drawn"
    written = [Path(p) for p in written]          # listed as before: history, curves, model
    return sorted(written, key=lambda p: (p.suffix == ".npz", p.suffix != ".json")), cut


class _holding_interrupts:
    """``with _holding_interrupts() as held:`` delays a Ctrl-C (SIGINT) to the end of the
    block, so the files written inside are complete; ``held`` is then truthy if one came.
    Outside the main thread signals cannot be caught, and the block runs as it is."""

    def __enter__(self):
        import signal
        self.held, self.previous = [], None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, lambda *a: self.held.append(True))
        return self.held

    def __exit__(self, *exc):
        import signal
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _plot_history(history, out, title, paths=None, theme="light"):
    """The loss and metric curves in ``out`` (in ``theme``'s colours); returns the paths,
    also appended to ``paths`` as each is written (so a Ctrl-C halfway still knows what is
    there)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return None
    paths = [] if paths is None else paths
    if not history.epoch:
        return paths
    metric = next((k for k in history.history if k in ("accuracy", "r2")), None)
    for keys, name in ((["loss", "val_loss"], "loss.png"),
                       ([metric, "val_" + metric] if metric else None, f"{metric}.png")):
        if keys is None:
            continue
        fig = _curve_figure(history, keys, title, theme)
        paths.extend(_savefig(fig, out / name))
    return paths


def _curve_figure(history, keys, title, theme="light"):
    from matplotlib.figure import Figure
    from .viz.curves import plot_history
    from .viz.contexts import figsize, fonts
    from .viz.figures import palette
    with palette(theme), fonts():   # colours and font sizes are taken as the figure is made
        fig = Figure(figsize=figsize((6, 4)), layout="constrained")
        ax = fig.subplots()
        plot_history(ax, history, keys)
        ax.set_title(f"{title}: {keys[0]} per epoch")
    return fig


def save_checkpoint(path, model, optimizer, splits, hidden, activation, train_info, test):
    """Write weights, optimizer state and everything ``evaluate`` needs to rebuild the model."""
    from . import __version__
    from .checkpoint import _save as save
    meta = {"kind": "zeroin-mlp",
            "architecture": {"in_features": splits.in_features, "hidden": [int(h) for h in hidden],
                             "out_features": splits.out_features, "activation": activation},
            "task": splits.task, "dataset": splits.name, "data_seed": splits.seed,
            "train": train_info, "test": test, "zeroin_version": __version__}
    if splits.standardizer is not None:
        meta["standardizer"] = splits.standardizer.state_dict()
    if getattr(splits, "target_standardizer", None) is not None:
        meta["target_standardizer"] = splits.target_standardizer.state_dict()
    if getattr(splits, "classes", None) is not None:
        meta["classes"] = np.asarray(splits.classes)
    if "file" in splits.info:
        i = splits.info
        meta["data_file"] = {k: i.get(k) for k in ("file", "sha256", "test_path",
                                                   "test_sha256", "label_column", "val",
                                                   "test")}
    Path(path).absolute().parent.mkdir(parents=True, exist_ok=True)    # save needs it
    return save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "meta": meta}, path)


def run_folder(kind, dataset, out=None, now=None):
    """The folder a command writes to: ``out`` if given, else a new
    ``zeroin-out/<kind>-<data>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... if taken), so two
    runs never mix their files; checked with :func:`check_out_folder`."""
    if out is not None:
        return check_out_folder(out)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path("zeroin-out") / f"{kind}-{_slug(dataset)}-{stamp}"
    folder, n = base, 1
    while folder.exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return check_out_folder(folder, option=None)


def check_out_folder(out, option="--out"):
    """Refuse, before any work, an output folder that is a file, lies under a file or in a
    folder that cannot be written; returns it as a Path (it is created when written)."""
    folder = Path(out)
    if option and folder.exists() and not folder.is_dir():
        raise ValueError(f"{option} {out} is an existing file, but {option} names a folder "
                         f"(created if missing); choose another name")
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ValueError(f"cannot create the output folder {folder}: {probe} is a file")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write the output folder {folder}: {probe} is not "
                              f"writable; choose another" + (f" with {option}" if option
                                                             else " with --out"))
    return folder


def _announce(args, d):
    """The data summary and the recipe, printed before training starts (80 columns)."""
    import textwrap
    n_params = _mlp_parameters(d.in_features, args.hidden, d.out_features)
    shifted = " (with shifted copies)" if d.info.get("augment") == "shift" else ""
    chosen = "" if getattr(args, "optimizer_chosen", True) else " (default)"
    lines = [f"data: {d.name} ({d.task}): {len(d.train)} training{shifted}, {len(d.val)} "
             f"validation, {len(d.test)} test samples; {d.in_features} features -> "
             f"{d.out_features} output(s)",
             f"model: MLP {args.hidden} ({args.activation}), {n_params} parameters; "
             f"{args.optimizer}{chosen} lr={args.lr:g}"
             + (" with a cosine schedule" if args.schedule == "cosine" else "")
             + f", batch size {args.batch_size}, up to {args.epochs} "
             f"epoch{'' if args.epochs == 1 else 's'}, seed {args.seed}"]
    for line in lines:
        print(textwrap.fill(line, 79, subsequent_indent="  ", break_long_words=False,
                            break_on_hyphens=False), flush=True)
    if "file" in d.info:
        print(textwrap.fill(_file_task_text(d), 79, subsequent_indent="  "))


def _mlp_parameters(n_in, hidden, n_out):
    sizes = [n_in, *hidden, n_out]
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _make_folder(folder, op):
    """Create ``folder`` now (before training), or say clearly why it cannot be."""
    existed = folder.is_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise type(e)(f"{op}: cannot create the output folder {folder}: "
                      f"{e.strerror or e}; choose another with --out") from None
    return not existed


def train_command(args):
    out = run_folder("train", args.dataset, args.out)
    verbose = getattr(args, "verbose", 1)
    created = []

    def announce(d):
        _announce(args, d)
        created.append(_make_folder(out, "train"))
    model, history, d, test = train_mlp(
        args.dataset, hidden=args.hidden, activation=args.activation,
        optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
        seed=args.seed, verbose=verbose, out=out, test_path=getattr(args, "test", None),
        task=getattr(args, "task", None), label_column=getattr(args, "label_column", None),
        announce=announce, schedule=getattr(args, "schedule", "cosine"),
        augment=getattr(args, "augment", "auto"), theme=getattr(args, "theme", "light"))
    print("test  " + format_metrics(test))
    written = [p.name for p in history.files]
    if written:
        print(f"wrote {', '.join(written)} to {out}")
    if history.diverged:
        if created and created[0] and not any(out.iterdir()):
            out.rmdir()                       # no empty folder left behind
        kept = (f"; the model of an earlier run in {out} was left as it was, and no history "
                f"or figures were written next to it" if not written else "")
        raise RuntimeError((history.message + "; " if not verbose else "training diverged (see "
                            "above); ") + f"no checkpoint was written to {out}{kept}")
    return test


def _file_task_text(d):
    if d.classes is not None:
        shown = ", ".join(_label_text(c) for c in d.classes[:10])
        more = ", ..." if len(d.classes) > 10 else ""
        return (f"classification, {len(d.classes)} classes: labels {shown}{more} -> "
                f"0..{len(d.classes) - 1}")
    return ("regression: inputs and targets standardised on the training part; the test "
            "mse, mae and r2 are in the file's units")


# --- evaluate -------------------------------------------------------------------------------

def load_model(checkpoint):
    """The model a ``zeroin train`` run saved (its ``model.npz``), rebuilt with its weights
    and in eval mode, and the run's record: ``model, meta = load_model("runs/moons/model.npz")``.

    Feed it as training did: ``meta["standardizer"]``, when there, is the inputs' scaling
    (``zeroin.data.Standardizer.from_state_dict(meta["standardizer"]).transform(X)``);
    ``meta["task"]`` the task (binary, multiclass, regression), ``meta["classes"]`` a data file's
    labels in the order of the outputs, ``meta["target_standardizer"]`` a regression
    target's scaling (its ``inverse_transform`` gives the file's units)."""
    from .checkpoint import load
    ck = load(checkpoint)
    meta = ck.get("meta") if isinstance(ck, dict) else None
    if not isinstance(meta, dict) or "architecture" not in meta or "model" not in ck:
        raise ValueError(f"load_model: {checkpoint} is not a model checkpoint written by "
                         f"`zeroin train` (it has no architecture record); a state_dict "
                         f"saved with zeroin.save loads with model.load_state_dict("
                         f"zeroin.load(path)) into a model you build")
    arch = meta["architecture"]
    if arch.get("model") == "cnn":                  # zeroin train --model cnn
        from .nn.cnn import build_cnn
        model = build_cnn(arch["image_shape"], arch["out_features"]).float()
    else:
        model = build_mlp(arch["in_features"], arch["hidden"], arch["out_features"],
                          arch["activation"])
    model.load_state_dict(ck["model"])
    return model.eval(), meta


def evaluate_checkpoint(checkpoint, dataset, batch_size=256, split="test"):
    """Rebuild the model stored in ``checkpoint`` and measure it on ``dataset``'s split."""
    res, meta, _ = _evaluate_checkpoint(checkpoint, dataset, batch_size, split)
    return res, meta


def _evaluate_checkpoint(checkpoint, dataset, batch_size=256, split="test"):
    """``(metrics, meta, data)``: as :func:`evaluate_checkpoint`, with ``data`` the model
    and the rows measured (``X`` as the model sees them, ``raw`` as in the dataset, ``y``,
    ``task``, ``tscaler``) for ``evaluate --figure``."""
    from .data import Standardizer, TensorDataset, load_dataset
    from .train import evaluate
    model, meta = load_model(checkpoint)
    arch = meta["architecture"]
    from .data.datasets import DATASETS
    from .data.files import is_data_file
    if is_data_file(dataset, DATASETS):
        data = _file_rows(meta, checkpoint, dataset)
        data["model"] = model
        res = evaluate_split(model, loss_for_task(data["task"]),
                             TensorDataset(data["X"], data["y"]), metrics_for_task(data["task"]),
                             data["tscaler"], batch_size=batch_size)
        return res, {**meta, "evaluated_rows": data["rows"]}, data
    if "data_file" in meta:
        raise ValueError(f"{checkpoint} was trained on the data file "
                         f"{meta['data_file']['file']}; evaluate it on a .npz or .csv file "
                         f"with the same columns, not on the built-in {dataset!r}")
    d = load_dataset(dataset, seed=int(meta.get("data_seed", 0)), standardize=False)
    if d.in_features != arch["in_features"] or d.task != meta["task"]:
        raise ValueError(f"{checkpoint} holds a {meta['task']} model with "
                         f"{arch['in_features']} inputs (trained on {meta['dataset']}), but "
                         f"{dataset} is a {d.task} dataset with {d.in_features} inputs")
    raw, y = getattr(d, split).arrays
    X = raw
    if "standardizer" in meta:
        X = Standardizer.from_state_dict(meta["standardizer"]).transform(raw)
    res = evaluate(model, loss_for_task(d.task), TensorDataset(X, y),
                   metrics_for_task(d.task), batch_size=batch_size)
    return res, meta, dict(model=model, X=X, raw=raw, y=y, task=d.task, tscaler=None,
                           classes=getattr(d, "classes", None))


def _file_rows(meta, checkpoint, path):
    """The rows of a data file the checkpoint's model is measured on, mapped and scaled
    exactly as in training: ``dict(X, raw, y, task, tscaler, rows, classes)``.

    The file it was trained on (same bytes) gives the same held-out test rows as
    training did; any other file (a separate test file, new data) is used whole.
    """
    from .data import Standardizer, load_dataset
    from .data.files import encode_labels, file_sha256, read_table
    info = meta.get("data_file")
    arch = meta["architecture"]
    if info is None:
        raise ValueError(f"{checkpoint} was trained on the built-in dataset "
                         f"{meta['dataset']!r}, not on a data file; evaluate it on "
                         f"{meta['dataset']!r}")
    task = "classification" if "classes" in meta else "regression"
    if info.get("test_path") is None and file_sha256(path) == info["sha256"]:
        d = load_dataset(path, seed=int(meta.get("data_seed", 0)), val=info["val"],
                         test=info["test"], standardize=False, task=task,
                         label_column=info.get("label_column"))
        X, y = d.test.arrays
        if task == "classification":
            y = encode_labels(np.asarray(d.classes)[y], meta["classes"], str(path))
        rows = f"the {len(y)} test rows held out when training"
    else:
        X, y = read_table(path, info.get("label_column"))
        if task == "classification":
            if y.ndim != 1:
                raise ValueError(f"{path} has labels of shape {y.shape}; {checkpoint} is a "
                                 f"classifier that needs one label per row")
            y = encode_labels(y, meta["classes"], str(path))
        else:
            y = y.astype(np.float64).reshape(len(y), -1)
        rows = f"all {len(y)} rows"
    if X.shape[1] != arch["in_features"] or (task == "regression" and
                                             y.shape[1] != arch["out_features"]):
        raise ValueError(f"{checkpoint} holds a model with {arch['in_features']} inputs and "
                         f"{arch['out_features']} outputs (trained on {info['file']}), but "
                         f"{path} has {X.shape[1]} feature columns"
                         + (f" and {y.shape[1]} targets" if task == "regression" else ""))
    raw = X
    if "standardizer" in meta:
        X = Standardizer.from_state_dict(meta["standardizer"]).transform(X)
    tscaler = None
    if "target_standardizer" in meta:
        tscaler = Standardizer.from_state_dict(meta["target_standardizer"])
        y = tscaler.transform(y)
    return dict(X=X, raw=raw, y=y, task=meta["task"], tscaler=tscaler, rows=rows,
                classes=meta.get("classes"))


def evaluate_command(args):
    from .viz.figures import check_theme
    figure, theme = getattr(args, "figure", None), getattr(args, "theme", "light")
    if figure is not None:              # a wrong suffix or theme is said before the work
        from .viz.evaluation import check_path
        check_path(figure)
        check_theme("evaluate", theme)
    res, meta, data = _evaluate_checkpoint(args.checkpoint, args.dataset,
                                           batch_size=getattr(args, "batch_size", 256))
    a = meta["architecture"]
    if a.get("model") == "cnn":
        print(f"{args.checkpoint}: CNN {a['class']} on {'x'.join(map(str, a['image_shape']))} "
              f"images, {a['out_features']} classes, trained on {meta['dataset']}")
    else:
        print(f"{args.checkpoint}: MLP {a['in_features']}-"
              f"{'-'.join(str(h) for h in a['hidden'])}{'-' if a['hidden'] else ''}"
              f"{a['out_features']} ({a['activation']}), trained on {meta['dataset']}")
    if "evaluated_rows" in meta:
        print(f"{args.dataset}: {meta['evaluated_rows']}")
    print(f"test on {args.dataset}  " + format_metrics(res))
    if figure is not None:
        from .viz.evaluation import evaluation_figure
        trained = os.path.basename(str(meta["dataset"]))
        path = evaluation_figure(data, figure, title=f"{trained} model on "
                                 f"{os.path.basename(str(args.dataset))}", theme=theme,
                                 image_shape=_image_shape(meta, args.dataset))
        print(f"figure: {path}")
    return res


def _image_shape(meta, dataset):
    """(H, W) when the rows are images (a CNN's, or digits/mnist), else None."""
    a = meta["architecture"]
    if a.get("model") == "cnn":
        return tuple(a["image_shape"][-2:])
    side = {"digits": 8, "mnist": 28}.get(str(dataset).split(":")[0])
    return (side, side) if side and a["in_features"] == side * side else None


# --- sweep ----------------------------------------------------------------------------------

_SEED_LOCK = threading.Lock()


def _sweep_run(config):
    """One training run of a sweep (a top-level function, so worker processes can run it)."""
    from . import random as zr
    from .data import load_dataset
    from .train import fit
    from .data import DataLoader
    t0 = time.perf_counter()
    d = load_dataset(config["dataset"], seed=config.get("data_seed", 0),
                     test_path=config.get("test_path"), task=config.get("task"),
                     label_column=config.get("label_column"))
    # Runs may share one process (threads, an in-process Dask cluster): the shared
    # generator is used only under a lock, and each run shuffles with its own generator,
    # so every backend gives the same numbers.
    with _SEED_LOCK:
        zr.manual_seed(config["seed"])
        model = build_mlp(d.in_features, config["hidden"], d.out_features,
                          config["activation"])
    opt = make_optimizer(config["optimizer"], model.parameters(), config["lr"])
    loss_fn = loss_for_task(d.task)
    metrics = metrics_for_task(d.task)
    loader = DataLoader(d.train, batch_size=config["batch_size"], shuffle=True,
                        seed=config["seed"])
    h = fit(model, loss_fn, opt, loader, d.val if len(d.val) else None,
            epochs=config["epochs"], metrics=metrics, verbose=0)
    target = config["target"] if config.get("target") is not None else d.target_loss
    test = evaluate_split(model, loss_fn, d.test, metrics, d.target_standardizer)
    losses = h.history.get("loss", [])
    return {"lr": config["lr"], "losses": losses, "val_losses": h.history.get("val_loss", []),
            "final_loss": losses[-1] if losses else float("nan"),
            "epochs_to_target": h.epochs_to(target), "target": target,
            "diverged": h.diverged, "diverged_at": h.diverged_at, "message": h.message,
            "epochs_run": h.epochs_run,
            "test": test, "seconds": time.perf_counter() - t0, "pid": os.getpid()}


def sweep(dataset, lrs, hidden=(32,), activation="relu", optimizer="sgd", batch_size=32,
          epochs=30, seed=0, target=None, jobs=-1, backend=None, scheduler=None,
          test_path=None, task=None, label_column=None):
    """One training run per learning rate, in parallel with joblib; returns one dict per run.

    Each dict holds ``lr``, ``losses`` (training loss per epoch), ``final_loss``,
    ``epochs_to_target`` (first epoch with loss <= ``target``, None if never),
    ``diverged``, ``test`` metrics and ``seconds``. ``backend`` is any joblib backend
    (default: loky processes, or the one set by an enclosing
    ``joblib.parallel_backend(...)``); ``"dask"`` connects to ``scheduler`` (an address)
    or starts a local cluster, and closes what it started. ``test_path``, ``task`` and
    ``label_column`` are for data files, as in :func:`zeroin.data.load_dataset`.
    """
    try:
        import joblib
    except ImportError:
        raise ImportError("sweep runs in parallel with joblib: pip install zeroin[parallel]"
                          ) from None
    if jobs == 0:
        raise ValueError("sweep: jobs=0 runs nothing; give the number of parallel runs "
                         "(1, 2, ...) or -1 for one per core")
    lrs = [float(lr) for lr in lrs]
    if not lrs or any(not (lr > 0 and math.isfinite(lr)) for lr in lrs):
        raise ValueError(f"sweep: learning rates must be positive numbers, got {lrs}")
    configs = [{"dataset": dataset, "hidden": list(hidden), "activation": activation,
                "optimizer": optimizer, "lr": lr, "batch_size": batch_size, "epochs": epochs,
                "seed": seed, "target": target, "test_path": test_path, "task": task,
                "label_column": label_column} for lr in lrs]
    tasks = (joblib.delayed(_sweep_run)(c) for c in configs)
    if backend != "dask":
        return joblib.Parallel(n_jobs=jobs, backend=backend)(tasks)
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--backend dask needs dask.distributed: pip install zeroin[dask]"
                          ) from None
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        workers = (os.cpu_count() or 1) if jobs in (None, -1) else max(1, int(jobs))
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        with joblib.parallel_backend("dask"):
            return joblib.Parallel(n_jobs=jobs)(tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _no_progress(r):
    """A run that did not blow up but ended no lower than its first epoch (eta too big)."""
    losses = r["losses"]
    return len(losses) > 1 and not losses[-1] < losses[0]


def sweep_table(results):
    """The sweep as aligned text: one row per learning rate."""
    rows = [("lr", "final loss", "epochs to target", "diverged", "test", "seconds")]
    for r in results:
        test = ", ".join(f"{k} {v:.3f}" for k, v in r["test"].items() if k != "loss")
        rows.append((f"{r['lr']:g}", f"{r['final_loss']:.4g}" if r["losses"] else "-",
                     "-" if r["epochs_to_target"] is None else str(r["epochs_to_target"]),
                     f"yes (epoch {r['diverged_at']['epoch']})" if r["diverged"] else
                     "no, but the loss never fell" if _no_progress(r) else "no",
                     test, f"{r['seconds']:.1f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i < 3 else c.ljust(w) for i, (c, w) in
                       enumerate(zip(row, widths))).rstrip() for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def sweep_figure(results, title="", target=None, theme="light"):
    """All loss curves on one log-scale axis; an x marks where a run diverged. ``theme``:
    "light", or "dark" (light on slate, for dark slides)."""
    from .viz.contexts import fonts
    from .viz.figures import check_theme, palette
    check_theme("sweep_figure", theme)
    with palette(theme), fonts():   # colours and font sizes are taken as the figure is made
        return _sweep_figure(results, title, target, theme)


def _sweep_figure(results, title, target, theme):
    from matplotlib.figure import Figure
    from .viz.figures import COLORS
    from .viz.contexts import figsize
    fig = Figure(figsize=figsize((7, 4.5)), layout="constrained")
    ax = fig.subplots()
    finite = [v for r in results for v in r["losses"] if math.isfinite(v) and v > 0]
    top = max(finite) * 3 if finite else 1.0
    for r in results:
        ep = np.arange(1, len(r["losses"]) + 1)
        line, = ax.plot(ep, r["losses"], marker="." if len(ep) < 40 else None,
                        label=f"lr = {r['lr']:g}" + (" (diverged)" if r["diverged"] else ""))
        at = r.get("diverged_at")
        if r["diverged"] and at:
            # where the loss blew up, clipped to the top of the plot (NaN and Inf included)
            y = at["loss"] if math.isfinite(at["loss"]) and at["loss"] < top else top
            ax.plot([at["epoch"]], [y], "x", color=line.get_color(), ms=10, mew=2)
    if target is not None:
        ax.axhline(target, color="0.5" if theme == "light" else COLORS["faint"], ls=":", lw=1,
                   label=f"target {target:g}")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yscale("log")
    from .viz.figures import log_tick_span, plain_log_ticks
    shown = [v for v in finite if v <= top] or [1.0]
    subs = (1.0, 2.0, 5.0) if max(shown) / min(shown) < 1e3 else (1.0,)
    plain_log_ticks(ax.yaxis, subs=subs)
    lo, hi = log_tick_span(shown + ([target] if target else []), subs)   # labels at both ends
    ax.set_ylim(min(lo, ax.get_ylim()[0]), max(hi, ax.get_ylim()[1]))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.set_title(title or "the learning rate decides the training time")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    from .viz.fonts import fit
    return fit(fig)         # a title in any script, also where a notebook draws it


def sweep_command(args):
    out = run_folder("sweep", args.dataset, args.out)
    backend = None if args.backend in (None, "", "loky") else args.backend
    print(f"sweep on {args.dataset}: {len(args.lr)} runs (lr {', '.join(f'{v:g}' for v in args.lr)}"
          f"), {args.optimizer}, MLP {args.hidden}, {args.epochs} epochs, backend "
          f"{args.backend}" + (f" at {args.scheduler}" if args.scheduler else ""))
    if args.scheduler and args.backend != "dask":
        raise ValueError("--scheduler is for --backend dask")
    _make_folder(out, "sweep")
    results = sweep(args.dataset, args.lr, hidden=args.hidden, activation=args.activation,
                    optimizer=args.optimizer, batch_size=args.batch_size, epochs=args.epochs,
                    seed=args.seed, target=args.target, jobs=args.jobs, backend=backend,
                    scheduler=args.scheduler, test_path=getattr(args, "test", None),
                    task=getattr(args, "task", None),
                    label_column=getattr(args, "label_column", None))
    target = results[0]["target"]
    print(f"target loss {target:g}")
    print(sweep_table(results))
    out.mkdir(parents=True, exist_ok=True)
    _write_json({"dataset": args.dataset, "target": target, "runs": results},
                out / "sweep.json")
    written = ["sweep.json"]
    try:
        fig = sweep_figure(results, f"{args.dataset.split(':')[0]}: training loss per "
                                    f"learning rate", target, getattr(args, "theme", "light"))
        _savefig(fig, out / "sweep.png")
        written += ["sweep.png", "sweep.svg"]
    except ImportError:
        print("matplotlib is not installed (pip install zeroin[plots]): no figure")
    for r in results:
        if r["diverged"]:
            print(f"lr={r['lr']:g}: {r['message']}")
    print(f"wrote {', '.join(written)} to {out}")
    return results
