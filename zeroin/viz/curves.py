"""Loss and metric curves per epoch: the one place that decides how a training curve looks.

``History.plot``, the ``zeroin train`` command's figures and the tour's learning curves
all draw through :func:`plot_history`. matplotlib is imported inside the functions (the
optional ``plots`` extra).
"""
from __future__ import annotations
from .contexts import size as _fs

__all__ = ["plot_history", "history_figure", "curve_label", "default_panels",
           "integer_epochs"]

WIDE_RANGE = 50     # a loss spanning more than this factor is drawn on a log axis


def curve_label(key):
    """The legend text for a History key: ``val_loss`` -> ``validation loss``."""
    if key.startswith("val_"):
        return "validation " + key[4:].replace("_", " ")
    if key in ("lr", "time"):
        return key
    return "training " + key.replace("_", " ")


def default_panels(history):
    """``[["loss", "val_loss"], [metric, "val_" + metric]]``: the loss, and the first
    metric if the history has one."""
    metric = next((k for k in history.history if k not in ("loss", "lr", "time")
                   and not k.startswith("val_")), None)
    return [["loss", "val_loss"]] + ([[metric, "val_" + metric]] if metric else [])


def integer_epochs(ax):
    """Label the x axis ``epoch`` with whole-number ticks."""
    from matplotlib.ticker import MaxNLocator
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_history(ax, history, keys, *, logy=None, colors=None, best=True, legend=True,
                 grid=True):
    """Draw the History ``keys`` per epoch on ``ax``; returns the lines drawn.

    Training curves are solid, validation curves dashed; points are marked when there
    are fewer than 40 epochs. ``logy=None`` uses a log axis for a loss panel whose values
    span more than a factor of 50. ``best`` marks ``history.best_epoch`` on a loss panel.
    Keys the history lacks are skipped.
    """
    h, epochs = history.history, history.epoch
    marker = "." if len(epochs) < 40 else None
    lines = []
    for i, k in enumerate(keys):
        if k not in h:
            continue
        style = dict(ls="--" if k.startswith("val_") else "-", marker=marker,
                     label=curve_label(k))
        if colors:
            style["color"] = colors[i % len(colors)]
        lines += ax.plot(epochs, h[k], **style)
    integer_epochs(ax)
    if len(epochs) == 1:      # one epoch: MaxNLocator(integer=True) would tick 0.945 ... 1.05
        ax.set_xticks(list(epochs))
    ax.set_ylabel(keys[0].removeprefix("val_").replace("_", " "))
    is_loss = keys[0].endswith("loss")
    if is_loss:
        vals = [v for k in keys for v in h.get(k, []) if v > 0]
        if logy or (logy is None and vals and max(vals) / min(vals) > WIDE_RANGE):
            ax.set_yscale("log")
    if best and is_loss and getattr(history, "best_epoch", None):
        what = (history.monitor or "loss").replace("_", " ")
        lines.append(ax.axvline(history.best_epoch, color="0.6", ls=":", lw=1,
                                label=f"lowest {what} (epoch {history.best_epoch})"))
    if grid:
        ax.grid(alpha=0.3)
    if legend and lines:
        ax.legend()
    if not epochs:                 # say why the panel is empty (the loss blew up at once)
        import textwrap
        why = getattr(history, "message", "") or ""
        text = "No epoch finished, so there is no curve" + (f": {why}" if why else ".")
        ax.text(0.5, 0.5, textwrap.fill(text, 60),
                transform=ax.transAxes, ha="center", va="center", fontsize=_fs(9),
                color=_faint())
    return lines


def _faint():
    from .figures import COLORS
    return COLORS["faint"]


def history_figure(history, keys=None, title=None, logy=None, panel_size=(5.5, 3.8),
                   theme=None):
    """A matplotlib Figure with one panel per group of keys (default: loss, then the
    first metric), side by side. ``theme`` None draws in matplotlib's current style;
    ``"light"`` or ``"dark"`` in that theme's colours (:func:`zeroin.viz.figures.palette`)."""
    from matplotlib.figure import Figure
    from .contexts import figsize, fonts
    from .figures import check_theme, palette
    panels = default_panels(history) if keys is None else \
        [[k] if isinstance(k, str) else list(k) for k in keys]
    if theme is not None:
        check_theme("History.plot", theme)
    with palette(theme or "light"), fonts():
        fig = Figure(figsize=figsize((panel_size[0] * len(panels), panel_size[1])),
                     layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            plot_history(ax, history, panel, logy=logy)
        if title:
            fig.suptitle(title)
    return fig
