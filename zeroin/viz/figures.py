"""Shared matplotlib helpers for the lessons and the tour: one style, atomic PNG + SVG.

matplotlib is optional (the ``plots`` extra) and imported only here, inside functions.
Figures are made with :class:`matplotlib.figure.Figure` directly (the Agg canvas), never
pyplot, so no window opens and no global backend is switched.

>>> from zeroin.viz import figures
>>> with figures.style():
...     fig, ax = figures.subplots()
...     _ = ax.plot([0, 1], [0, 1])
...     files = figures.save(fig, "zeroin-out", "line", "A line.")
>>> files.png, files.svg
('zeroin-out/line.png', 'zeroin-out/line.svg')
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field

from .._io import atomic_open

__all__ = ["available", "style", "palette", "check_theme", "THEMES", "subplots", "save",
           "plain_log_ticks", "log_tick_span", "place", "clashes", "FigureFiles", "span",
           "spread_labels", "run_style", "MARKERS",
           "write_bytes", "write_text", "render", "legend_below", "COLORS", "PLOTS_HINT"]

PLOTS_HINT = "figures need matplotlib: pip install 'zeroin[plots]'"

# One palette for every lesson. Red and green follow the chapter's pictures: red is an
# error (the miss), green a correction (the step against the gradient), yellow a tangent.
# Every line colour has a WCAG contrast of at least 3 against the white paper (graphics
# on a projector): matplotlib's orange, cyan, pink and olive, and the tangent's yellow,
# darkened at the same hue (2.0-2.7 -> 3.3).
COLORS = {
    "error": "#d62728",
    "correction": "#2ca02c",
    "tangent": "#b78400",
    "curve": "#1f3b73",
    "left": "#1f77b4",
    "right": "#e26a00",
    "accent": "#9467bd",
    "muted": "#7f7f7f",
    # for several samples or runs; no red or green, which mean error and correction
    "series": ["#1f77b4", "#e26a00", "#9467bd", "#8c564b", "#139caa", "#dd5cb6",
               "#91921a", "#393b79"],
    "ink": "#000000",           # marker edges and legend marks drawn in the text's colour
    "paper": "#ffffff",         # the background's colour (a marker's halo)
    "faint": "#4d4d4d",         # a note in the middle of an empty panel
    # the lessons' drawn things: a target's shaded rings, its ring lines and bullseye, an
    # image panel's frame and grey colour map (ink where the value is high), the two
    # classes' regions behind a decision boundary
    "ring": "#f4f1e8", "ring_line": "#555555", "bullseye": "#222222", "frame": "#6b7280",
    "image": "Greys", "regions": ["#dbe7f5", "#fde3c8"],
}
_LIGHT_COLORS = dict(COLORS)       # the light palette, while palette("dark") changes COLORS

# Themes: "light" is the palette above on white; "dark" gives every role a colour that
# reads on draw(theme="dark")'s background (slate #0f172a): the same roles, lighter.
THEMES = ("light", "dark")
_DARK_INK, _DARK_PAPER = "#f1f5f9", "#0f172a"
_DARK_COLORS = {
    "error": "#f87171", "correction": "#4ade80", "tangent": "#facc15", "curve": "#93c5fd",
    "left": "#60a5fa", "right": "#fb923c", "accent": "#c4b5fd", "muted": "#94a3b8",
    "series": ["#60a5fa", "#fb923c", "#c4b5fd", "#e7b08f", "#67e8f9", "#f9a8d4",
               "#e5e75f", "#a5b4fc"],
    "ink": _DARK_INK, "paper": _DARK_PAPER, "faint": "#cbd5e1",
    "ring": "#1e293b", "ring_line": "#64748b", "bullseye": "#e2e8f0", "frame": "#94a3b8",
    "image": "gray", "regions": ["#1e3a5f", "#4a2c17"],
}
_DARK_RC = {
    "figure.facecolor": _DARK_PAPER, "axes.facecolor": _DARK_PAPER,
    "savefig.facecolor": _DARK_PAPER, "text.color": _DARK_INK,
    "axes.labelcolor": _DARK_INK, "axes.titlecolor": _DARK_INK,
    "axes.edgecolor": "#94a3b8", "xtick.color": "#cbd5e1", "ytick.color": "#cbd5e1",
    "xtick.labelcolor": "#e2e8f0", "ytick.labelcolor": "#e2e8f0", "grid.color": "#94a3b8",
    "legend.facecolor": "#1e293b", "legend.edgecolor": "#475569",
}

# Several runs in one figure: colour, marker and line style all differ, so that they stay
# apart for colour-blind readers and printed in grey. No triangles: they mark off-view points.
MARKERS = ("o", "s", "D", "P", "X", "h", "p", "*")
_LINES = ("-", "--", "-.")

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.facecolor": "auto",   # the figure's own (white, or a dark theme's)
    "figure.facecolor": "white",
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 10,
    "legend.framealpha": 0.9,
    "lines.linewidth": 2.0,
    "lines.markersize": 7,
    "svg.fonttype": "path",        # text as outlines: the SVG needs no font installed
    "svg.hashsalt": "zeroin",      # stable ids, so the same lesson writes the same SVG
}


def available():
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def check_theme(where, theme):
    """``theme`` if it is one of :data:`THEMES`, else an error that names ``where``."""
    if theme not in THEMES:
        raise ValueError(f"{where}: theme must be 'light' or 'dark', got {theme!r}")
    return theme


@contextlib.contextmanager
def palette(theme="light"):
    """Colours only, for the duration of a ``with`` block: ``"dark"`` sets matplotlib's
    background, text, axes and grid colours and :data:`COLORS` to the dark slide's (light
    on slate, as ``draw(theme="dark")``); ``"light"`` changes nothing. Figures keep the
    colours they were made with, so make them inside the block."""
    import matplotlib
    from cycler import cycler
    check_theme("palette", theme)
    if theme == "light":
        yield
        return
    saved = dict(COLORS)
    COLORS.update(_DARK_COLORS)
    try:
        with matplotlib.rc_context({**_DARK_RC,
                                    "axes.prop_cycle": cycler(color=COLORS["series"])}):
            yield
    finally:
        COLORS.clear()
        COLORS.update(saved)


@contextlib.contextmanager
def style(theme="light"):
    """The lessons' matplotlib style (and :func:`palette`'s colours for ``theme``), for the
    duration of a ``with`` block; font sizes as :mod:`zeroin.viz.context` says."""
    from .contexts import fonts
    check_theme("style", theme)
    with fonts(_STYLE), palette(theme):
        yield


def image_cmap(theme=None):
    """The grey colour map for an image whose ink is its high values (MNIST, the digits):
    ink dark on the light theme's white, bright on the dark theme's slate. ``theme`` None:
    the palette in effect (inside :func:`style` / :func:`palette`)."""
    if theme is None:
        return COLORS["image"]
    dark = check_theme("image_cmap", theme) == "dark"
    return (_DARK_COLORS if dark else _LIGHT_COLORS)["image"]


def show_image(ax, image, theme=None, **kwargs):
    """``ax.imshow(image)`` in :func:`image_cmap`'s grey (ink read the same way in every
    figure), pixels shown as they are (``interpolation="nearest"``); ``kwargs`` go to
    ``imshow`` (``vmin``, ``vmax``). The theme's grid is turned off on ``ax``: its lines
    sit on integer coordinates, the pixels' centres, and would stripe the image."""
    kwargs.setdefault("interpolation", "nearest")
    ax.grid(False)
    return ax.imshow(image, cmap=image_cmap(theme), **kwargs)


def subplots(nrows=1, ncols=1, figsize=(7.0, 5.0), **kwargs):
    """A new Agg figure and its axes (not registered with pyplot, so never shown); larger
    in a context with larger text (:func:`zeroin.viz.contexts.figsize`)."""
    from matplotlib.figure import Figure

    from .contexts import figsize as _grown
    fig = Figure(figsize=_grown(figsize), layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def legend_below(fig, axes, ncol=2, **kwargs):
    """One legend for ``axes``, under the plots (so it never covers data); each label once;
    fewer columns where a context's larger text needs them to fit."""
    from .contexts import legend_columns
    seen = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    ncol = legend_columns(fig, list(seen), ncol, kwargs.get("fontsize"))
    return fig.legend(list(seen.values()), list(seen), loc="outside lower center", ncol=ncol,
                      **kwargs)


def plain_log_ticks(axis, subs=(1.0, 2.0, 5.0)):
    """Label a log axis 0.2, 0.5, 1, 2 rather than 2x10^-1 ... (easier on a slide).

    ``subs`` are the labelled multiples of each power of ten; pass ``(1.0,)`` for an
    axis spanning many decades."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def log_tick_span(values, subs=(1.0, 2.0, 5.0)):
    """``(low, high)`` limits for a log axis labelled by :func:`plain_log_ticks`: the
    nearest labelled ticks at or beyond the smallest and largest of ``values``, so that
    the ends of the data are never past the last label."""
    import math
    ticks = sorted(m * 10.0 ** k for k in range(-12, 13) for m in subs)
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    lo, hi = min(positive), max(positive)
    below = max((t for t in ticks if t <= lo), default=lo)
    above = min((t for t in ticks if t >= hi), default=hi)
    return below / 1.08, above * 1.08


def run_style(i):
    """Run ``i``'s ``(colour, marker, line style)`` in a figure of several runs."""
    series = COLORS["series"]
    return series[i % len(series)], MARKERS[i % len(MARKERS)], _LINES[i % len(_LINES)]


def span(values, margin_frac, min_margin):
    """``(lo, hi)`` around ``values`` with a margin on each side."""
    lo, hi = min(values), max(values)
    pad = max(min_margin, margin_frac * (hi - lo))
    return lo - pad, hi + pad


def spread_labels(groups, min_dx, min_dy):
    """Which points to number: for each group of points (axes fractions, in step order)
    the steps up to the first whose label would come within ``min_dx`` across and
    ``min_dy`` up of a label already placed; returns one count per group."""
    placed, counts = [], []
    for points in groups:
        n = 0
        for x, y in points:
            if any(abs(x - a) < min_dx and abs(y - b) < min_dy for a, b in placed):
                break
            placed.append((x, y))
            n += 1
        counts.append(n)
    return counts


def clashes(ax, box, others=()):
    """Whether the display box ``box`` leaves ``ax`` or touches one of its lines (a marker
    counts as a box of its size) or one of the boxes ``others`` (a legend, a placed label)."""
    from matplotlib.transforms import Bbox
    if not _in_axes(ax, box):
        return True
    if any(box.overlaps(o) for o in others):
        return True
    for line in ax.lines:
        path = line.get_transform().transform_path(line.get_path())
        if line.get_linestyle() not in ("None", "none", "", " ") and len(path.vertices) > 1 \
                and path.intersects_bbox(box, filled=False):
            return True
        if line.get_marker() not in (None, "None", "none", "", " "):
            r = line.get_markersize() * ax.figure.dpi / 72 / 2
            if any(box.overlaps(Bbox([[x - r, y - r], [x + r, y + r]]))
                   for x, y in path.vertices):
                return True
    return False


def _in_axes(ax, box):
    return ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1)


def place(ann, offsets, others=()):
    """Move the annotation ``ann`` to the first of ``offsets`` (``(dx, dy)`` in points from
    its point; the text starts there on the side it points to) where :func:`clashes` finds
    nothing; when every one clashes, the first that stays inside the axes (a label over a
    line is readable, one off the canvas is not), else the first. Call after a draw, so
    that the layout is settled; returns the text's display box."""
    ann.set_in_layout(False)                 # moving it must not move the axes
    inside = None
    for dx, dy in offsets:
        box = _move(ann, dx, dy)
        if not clashes(ann.axes, box, others):
            return box
        if inside is None and _in_axes(ann.axes, box):
            inside = (dx, dy)
    return _move(ann, *(inside or offsets[0]))


def _move(ann, dx, dy):
    """Put ``ann``'s text ``(dx, dy)`` points from its point, on that side; its box."""
    ann.xyann = (dx, dy)
    ann.set_ha("left" if dx > 0 else "right" if dx < 0 else "center")
    ann.set_va("bottom" if dy > 0 else "top" if dy < 0 else "center")
    return ann.get_window_extent()


@dataclass
class FigureFiles:
    """One figure: its ``png`` and ``svg`` paths (``None`` when kept in memory only), its
    caption, and the rendered bytes (``png_data``, ``svg_data``) when they were kept."""
    png: str
    svg: str
    caption: str = ""
    png_data: bytes = field(default=None, repr=False)
    svg_data: bytes = field(default=None, repr=False)
    figure: object = field(default=None, repr=False)   # to render a format on demand

    def data(self, fmt):
        """The figure's ``fmt`` ("png" or "svg") bytes: kept, rendered now, or read back."""
        kept = getattr(self, f"{fmt}_data")
        if kept is None and self.figure is not None:
            if hasattr(self.figure, "savefig"):           # a matplotlib figure
                kept = render(self.figure, (fmt,))[fmt]
            else:                                         # a zeroin.draw Drawing
                kept = getattr(self.figure, fmt)()
                kept = kept.encode("utf-8") if isinstance(kept, str) else kept
            setattr(self, f"{fmt}_data", kept)
        path = getattr(self, fmt)
        if kept is None and path and os.path.exists(path):
            with open(path, "rb") as f:
                kept = f.read()
        return kept

    def __iter__(self):
        return iter((self.png, self.svg))

    def _repr_html_(self):
        """The figure (embedded) and its caption, inline in Jupyter."""
        from ..lessons._common import figure_html
        key = os.path.splitext(os.path.basename(self.svg or self.png or "figure"))[0]
        return figure_html(key, self)


def render(fig, formats=("png", "svg")):
    """``fig`` as ``{"png": bytes, "svg": bytes}``, in the lessons' style."""
    from .contexts import wrap_titles
    from .fonts import fallback
    data = {}
    with style(), fallback(fig):
        wrap_titles(fig)
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, metadata=_metadata(fmt))
            # The layout is settled by the first save; freezing it halves the second.
            fig.set_layout_engine("none")
            data[fmt] = buf.getvalue()
    return data


def save(fig, out, stem, caption=""):
    """Write ``fig`` as ``out/stem.png`` and ``out/stem.svg`` atomically; return the paths
    (and the bytes). ``out=None`` writes nothing: the figure is kept in memory, as SVG
    (for a notebook) and as the figure itself, so that a PNG can be made on demand."""
    if out is None:
        return FigureFiles(None, None, caption, svg_data=render(fig, ("svg",))["svg"],
                           figure=fig)
    data = render(fig)
    os.makedirs(out, exist_ok=True)
    paths = {fmt: write_bytes(os.path.join(out, f"{stem}.{fmt}"), data[fmt])
             for fmt in ("png", "svg")}
    return FigureFiles(paths["png"], paths["svg"], caption, data["png"], data["svg"])


def _metadata(fmt):
    # No creation date, so a rerun writes identical files.
    if fmt == "svg":
        return {"Date": None}
    return {"Software": "zeroin"}


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then
    ``os.replace``), so a reader never sees half a file."""
    with atomic_open(path) as f:
        f.write(data)
    return path


def write_text(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))
