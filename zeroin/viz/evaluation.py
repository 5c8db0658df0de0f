"""``zeroin evaluate --figure``: what a learner looks at after measuring a model.

A classifier: its confusion matrix twice (counts, and each true class's row as shares, so
that a small class reads as well as a large one), its accuracy per class and, for images,
the test images it got wrong with their true and predicted labels. A regression: predicted
against true values, one panel per target (up to three), the diagonal where they agree.
Every number drawn is counted from the rows evaluated. matplotlib is imported inside the
functions (the ``plots`` extra).
"""
from __future__ import annotations

import io
import os

import numpy as np

from .contexts import size as _fs

__all__ = ["check_path", "predictions", "confusion_matrix", "classifier_figure",
           "regression_figure", "evaluation_figure", "FORMATS"]

FORMATS = (".png", ".svg", ".pdf")
_WRONG_SHOWN = 16          # misclassified images drawn, at most (two rows of eight)


def check_path(path):
    """``path``'s format (png, svg or pdf), from its suffix; else an error with the fix."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in FORMATS:
        raise ValueError(f"--figure {path!r} needs a suffix that names the format: "
                         f".png, .svg or .pdf (e.g. --figure results.png), got "
                         f"{suffix or 'none'!r}")
    return suffix[1:]


def predictions(model, X, task, tscaler=None):
    """``model``'s answers for ``X``: class indices (a binary model's logit > 0, else the
    highest logit) or, for a regression, values in the targets' own units."""
    from ..train import predict
    out = predict(model, X)
    if task == "binary":
        return (out.reshape(len(out), -1)[:, 0] > 0).astype(np.int64)
    if task == "multiclass":
        return out.argmax(axis=1)
    out = out.reshape(len(out), -1)
    return tscaler.inverse_transform(out) if tscaler is not None else out


def confusion_matrix(y_true, y_pred, k):
    """``(k, k)`` counts: row = true class, column = predicted class."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def _names(classes, k):
    return [str(c) for c in classes] if classes is not None and len(classes) == k else \
        [str(i) for i in range(k)]


def _matrix(ax, m, names, shares, F):
    """A confusion matrix on ``ax`` (``shares``: each row in % of its true class); each
    cell's number when there are 12 classes or fewer,
    in black or white, whichever reads on the cell."""
    from matplotlib import colormaps
    k = len(m)
    rows = m.sum(axis=1, keepdims=True)
    shown = np.divide(m, rows, out=np.zeros(m.shape), where=rows > 0) if shares else m
    cmap = colormaps["Blues"]
    top = shown.max() or 1
    ax.imshow(shown, cmap=cmap, vmin=0, vmax=top, interpolation="nearest")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                r, g, b, _ = cmap(shown[i, j] / top)
                ink = "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.5 else "#ffffff"
                ax.text(j, i, f"{100 * shown[i, j]:.0f}" if shares else str(m[i, j]), ha="center",
                        va="center", fontsize=_cell_points(k), color=ink,
                        gid="share" if shares else "count")
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    ax.grid(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("% of each true class" if shares else "confusion matrix")


def _cell_points(k):
    return _fs(9 if k > 5 else 11)


def _per_class(ax, m, names, F):
    rows = m.sum(axis=1)
    acc = np.divide(np.diag(m), rows, out=np.full(len(m), np.nan), where=rows > 0)
    ax.bar(range(len(m)), np.nan_to_num(acc), color=F.COLORS["curve"])
    ax.axhline(np.trace(m) / max(m.sum(), 1), color=F.COLORS["tangent"], ls="--", lw=1.5,
               label="all classes")
    ax.set_xticks(range(len(m)), names)
    ax.set_ylim(0, 1.3)                               # room for the legend above the bars
    ax.set_xlabel("true class")
    ax.set_ylabel("accuracy")
    ax.set_title("accuracy per class")
    ax.legend(loc="upper center")


def classifier_figure(y_true, y_pred, classes=None, images=None, image_shape=None, title=""):
    """The confusion matrix (counts, row shares), accuracy per class and, with ``images``
    (the rows, raw) of ``image_shape``, the first misclassified ones. Make it inside
    :func:`zeroin.viz.figures.style`."""
    from matplotlib.figure import Figure
    from . import figures as F
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    k = int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
    if classes is not None:
        k = max(k, len(classes))
    m, names = confusion_matrix(y_true, y_pred, k), _names(classes, k)
    wrong = np.flatnonzero(y_true != y_pred)[:_WRONG_SHOWN] if images is not None else []
    # a cell holds "100" in its text size; a panel its title
    side = max(4.2, 0.036 * k * _cell_points(k), 20 * 0.62 * _fs(14) / 72)
    fig = Figure(figsize=(3 * side + 0.6, side + (0.5 * side + 0.8 if len(wrong) else 0)),
                 layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[side, 0.5 * side + 0.8]) \
        if len(wrong) else (fig, None)
    axes = top.subplots(1, 3)
    _matrix(axes[0], m, names, False, F)
    _matrix(axes[1], m, names, True, F)
    _per_class(axes[2], m, names, F)
    if bottom is not None:
        _wrong_grid(bottom, np.asarray(images), image_shape, wrong, y_true, y_pred, names, F)
    fig.suptitle(f"{title + chr(10) if title else ''}{np.trace(m)} of {m.sum()} right "
                 f"(accuracy {np.trace(m) / max(m.sum(), 1):.4f})")
    fig.zeroin_confusion = m                          # the counts drawn (for tests, notebooks)
    return fig


def _wrong_grid(sub, images, image_shape, wrong, y_true, y_pred, names, F):
    cols = min(len(wrong), 8)
    axes = sub.subplots(-(-len(wrong) // cols), cols, squeeze=False)
    for a in axes.ravel():
        a.axis("off")
    for a, i in zip(axes.ravel(), wrong):
        F.show_image(a, images[i].reshape(image_shape))
        a.set_title(f"{names[y_true[i]]} \u2192 {names[y_pred[i]]}", fontsize=_fs(10),
                    color=F.COLORS["error"], pad=2)
    sub.suptitle("misclassified: true \u2192 predicted", fontsize=_fs(12))


def regression_figure(y_true, y_pred, title=""):
    """Predicted against true values, one panel per target (the first three), the line
    where they agree and each panel's R^2."""
    from matplotlib.figure import Figure
    from . import figures as F
    y_true = np.asarray(y_true, np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, np.float64).reshape(len(y_pred), -1)
    n = min(y_true.shape[1], 3)
    fig = Figure(figsize=(max(5.2 * n, 0.62 * _fs(14) / 72 * 34), 5.0), layout="constrained")
    for j, ax in enumerate(fig.subplots(1, n, squeeze=False)[0]):
        t, p = y_true[:, j], y_pred[:, j]
        lo, hi = F.span([*t, *p], 0.05, 1e-6)
        ax.plot([lo, hi], [lo, hi], color=F.COLORS["muted"], ls="--", lw=1.5,
                label="predicted = true")
        ax.plot(t, p, "o", ms=5, alpha=0.7, color=F.COLORS["curve"], ls="none")
        r2 = 1 - ((t - p) ** 2).sum() / max(((t - t.mean()) ** 2).sum(), 1e-300)
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_xlabel("true value" + (f" (target {j})" if y_true.shape[1] > 1 else ""))
        ax.set_ylabel("predicted value")
        ax.set_title(f"R\u00b2 = {r2:.4f}")
        ax.legend(loc="upper left")
    fig.suptitle(f"{title + chr(10) if title else ''}predicted against true, {len(y_true)} rows")
    return fig


def evaluation_figure(data, path, title="", theme="light", image_shape=None):
    """Draw what ``zeroin evaluate`` measured (``data``: model, X, raw, y, task, tscaler,
    classes) and write it to ``path`` atomically, as its suffix says; returns ``path``."""
    from . import figures as F
    fmt = check_path(path)
    if not F.available():
        raise ImportError(f"evaluate --figure: {F.PLOTS_HINT}")
    pred = predictions(data["model"], data["X"], data["task"], data["tscaler"])
    with F.style(theme):
        if data["task"] == "regression":
            y = data["y"] if data["tscaler"] is None else \
                data["tscaler"].inverse_transform(data["y"])
            fig = regression_figure(y, pred, title)
        else:
            fig = classifier_figure(np.asarray(data["y"]).reshape(-1).astype(np.int64), pred,
                                    data.get("classes"),
                                    data["raw"] if image_shape else None, image_shape, title)
        _write(fig, path, fmt)
    return path


def _write(fig, path, fmt):
    from .fonts import fallback
    buf = io.BytesIO()
    meta = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt,
                                                                       {"Software": "zeroin"})
    with fallback(fig):
        fig.savefig(buf, format=fmt, metadata=meta)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    from .figures import write_bytes
    return write_bytes(path, buf.getvalue())
