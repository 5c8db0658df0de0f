"""How big zeroin's figures write their text: one setting, read by every figure function.

In the spirit of seaborn's contexts: ``"notebook"`` (the default: the sizes zeroin has
always used), ``"paper"`` (0.8 times), ``"talk"`` (1.5 times: a figure on a slide) and
``"poster"`` (2 times: a projector, the back of a room), each times ``font_scale``.

>>> import zeroin.viz
>>> zeroin.viz.set_context("talk")                 # from now on
>>> with zeroin.viz.context("poster", font_scale=1.2):   # inside the block only
...     pass
>>> zeroin.viz.set_context("notebook")

Every zeroin figure (the lessons', the tour's, :func:`zeroin.viz.plot_descent`, training
curves, ``zeroin evaluate``'s, and ``zeroin.draw``'s graphs) takes its sizes from here:
matplotlib's font settings through :func:`fonts`, each size written in a module through
:func:`size`. A figure grows by the square root of the text's factor only
(:func:`figure_scale`), and a graph's gaps between ranks stay, so that larger text takes
more of the picture; a drawing keeps the scale it was made in.
"""
from __future__ import annotations

import contextlib
import numbers

__all__ = ["CONTEXTS", "FONT_KEYS", "set_context", "context", "get_context", "scale", "size",
           "figure_scale", "figsize", "legend_columns", "scaled_rc", "fonts", "wrap_titles"]

CONTEXTS = {"paper": 0.8, "notebook": 1.0, "talk": 1.5, "poster": 2.0}

# matplotlib's settings that hold a font size (a number, or a name relative to font.size),
# and the gaps that grow with the text (tick labels from their axis: an x and a y label
# would meet at the axes' corner)
FONT_KEYS = ("font.size", "axes.titlesize", "axes.labelsize", "xtick.labelsize",
             "ytick.labelsize", "legend.fontsize", "legend.title_fontsize",
             "figure.titlesize", "figure.labelsize", "xtick.major.pad", "ytick.major.pad")

_state = {"name": "notebook", "font_scale": 1.0, "scaled": 0}


def _check(name, font_scale, where):
    if name not in CONTEXTS:
        raise ValueError(f"{where}: context must be one of {', '.join(map(repr, CONTEXTS))}, "
                         f"got {name!r}")
    if isinstance(font_scale, bool) or not isinstance(font_scale, numbers.Real) or \
            not 0 < font_scale < 10:
        raise ValueError(f"{where}: font_scale must be a number between 0 and 10 (1 keeps "
                         f"the context's sizes; e.g. 1.2 for text a fifth larger), got "
                         f"{font_scale!r}")


def set_context(name="notebook", font_scale=1.0):
    """From now on, every zeroin figure writes its text ``CONTEXTS[name] * font_scale``
    times its notebook size. ``set_context()`` goes back to the default."""
    _check(name, font_scale, "set_context")
    _state.update(name=name, font_scale=float(font_scale))


def get_context():
    """``(name, font_scale)`` of the context in effect."""
    return _state["name"], _state["font_scale"]


@contextlib.contextmanager
def context(name="notebook", font_scale=1.0):
    """:func:`set_context` for the duration of a ``with`` block; the one before is back
    after it. Make and save the figures inside the block."""
    _check(name, font_scale, "context")
    before = get_context()
    set_context(name, font_scale)
    try:
        yield
    finally:
        set_context(*before)


def scale():
    """The factor every font size is multiplied by (1 for "notebook" at font_scale 1)."""
    return CONTEXTS[_state["name"]] * _state["font_scale"]


def size(points):
    """A font size of ``points`` at "notebook", in the context in effect."""
    s = scale()
    return points if s == 1 else points * s


def figure_scale():
    """How much a figure grows in the context in effect: the square root of :func:`scale`
    above 1 (talk: 1.22, poster: 1.41), so that its text grows by as much again against
    it and still fits; 1 at "notebook" and smaller ("paper" keeps the size)."""
    s = scale()
    return s ** 0.5 if s > 1 else 1


def figsize(size):
    """A figure size ``(width, height)`` in inches at "notebook", in the context in effect."""
    g = figure_scale()
    return size if g == 1 else (size[0] * g, size[1] * g)


def legend_columns(fig, labels, ncol, fontsize=None):
    """At most ``ncol`` columns for a legend of ``labels`` across ``fig``: fewer where the
    context's larger text would make the legend wider than the figure (``ncol`` itself
    at "notebook" and smaller)."""
    if scale() <= 1 or ncol <= 1:
        return ncol
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    pt = FontProperties(size=fontsize or matplotlib.rcParams["legend.fontsize"]) \
        .get_size_in_points()
    widest = max((TextPath((0, 0), str(s), size=pt).get_extents().width for s in labels),
                 default=0)
    room = fig.get_figwidth() * 72 * 0.95
    while ncol > 1 and ncol * (widest + 4.8 * pt) + 2 * pt > room:  # handle, gaps
        ncol -= 1
    return ncol


def scaled_rc(rc):
    """The font sizes (numbers) of the matplotlib settings ``rc`` times :func:`scale`, as a
    dict for ``matplotlib.rc_context`` (names such as "large" follow font.size)."""
    s = scale()
    return {k: rc[k] * s for k in FONT_KEYS
            if k in rc and isinstance(rc[k], numbers.Real) and s != 1}


@contextlib.contextmanager
def fonts(rc=None):
    """matplotlib's font sizes scaled for a ``with`` block: those of ``rc`` (a style dict,
    applied with them), else matplotlib's current ones. Inside another ``fonts`` block
    the current sizes are already scaled, so they are kept (never scaled twice)."""
    import matplotlib
    base = dict(rc or {})
    current = {k: matplotlib.rcParams[k] for k in FONT_KEYS}
    if not _state["scaled"]:
        base.update(scaled_rc({**current, **base}))
    elif rc is not None:                # the rest is scaled already: rc's own sizes only
        base.update(scaled_rc(rc))
    _state["scaled"] += 1
    try:
        with matplotlib.rc_context(base):
            yield
    finally:
        _state["scaled"] -= 1


def wrap_titles(fig):
    """Fit ``fig``'s text where the context enlarges it: break each title and axis label
    wider than its axes (or the figure) into lines that fit. At "notebook" (and smaller) a
    figure is left exactly as made; done once per figure, before its layout is settled
    by the first save. Draws ``fig`` to measure (matplotlib's public API only)."""
    if scale() <= 1 or getattr(fig, "_zeroin_wrapped", False):
        return fig
    fig._zeroin_wrapped = True
    for _ in range(4):              # a wrapped title moves the layout: measure again
        fig.draw_without_rendering()        # each drawn text keeps the renderer it used
        if not _wrap_pass(fig):
            break
    _titles_on_canvas(fig)
    return fig


def _titles_on_canvas(fig):
    """Pad the constrained layout by what the axes' titles stick out past the top edge.

    An equal-aspect axes above a legend placed ``"outside lower center"`` (the shooting
    lesson's targets) can end with its title a few pixels past the top: matplotlib sizes
    the margins from the axes' box before the aspect shrinks it, and the shrunk box moves
    the title. Measured on the last draw; at most two more draws."""
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    engine = fig.get_layout_engine()
    if not isinstance(engine, ConstrainedLayoutEngine):
        return
    for _ in range(2):
        tops = [t.get_window_extent().y1 for ax in fig.axes if ax.get_visible()
                for t in _titles(ax) if t.get_text() and t.get_visible()]
        over = max(tops, default=0.0) - fig.bbox.height
        if over <= 0:
            return
        engine.set(h_pad=engine.get()["h_pad"] + (over + 2.0) / fig.dpi)
        fig.draw_without_rendering()


def _titles(ax):
    """``ax``'s three titles (centre, left, right): the texts it draws that are neither its
    ``texts`` nor its axes' labels, as ``Axes.get_children`` lists them."""
    from matplotlib.text import Text
    own = set(map(id, ax.texts))
    return [c for c in ax.get_children() if isinstance(c, Text) and id(c) not in own]


def _wrap_pass(fig):
    """Wrap the texts wider than their room, narrower than the last time; whether any."""
    import textwrap
    texts = [(t, ax.bbox.width, False) for ax in fig.axes if ax.get_visible()
             for t in (*_titles(ax), ax.xaxis.label)]
    texts += [(ax.yaxis.label, ax.bbox.height, True) for ax in fig.axes if ax.get_visible()]
    texts += [(t, sub.bbox.width, False) for sub in [fig, *fig.subfigs]    # the suptitles
              for t in sub.texts if sub.get_suptitle() and t.get_text() == sub.get_suptitle()]
    changed = False
    for t, room, upright in texts:
        s = t.get_text()
        if not s or "$" in s or not t.get_visible():
            continue
        box = t.get_window_extent()
        w = box.height if upright else box.width
        if w > 0.98 * room:
            longest = max(map(len, s.splitlines()))
            new = textwrap.fill(" ".join(s.split()), max(12, int(longest * 0.9 * room / w)))
            changed |= new != s
            t.set_text(new)
    return changed
