"""Pictures of the computation graph: values, gradients and the paths of the chain rule.

:func:`draw` lays the graph out itself (left to right like the chapter's figures, a long
graph wrapped into rows to fit a slide, or top to bottom) and renders it as SVG, Graphviz
DOT or PNG. SVG and DOT need nothing but
NumPy; PNG draws the same layout with matplotlib (``pip install zeroin[plots]``). Text sizes
follow :func:`zeroin.viz.set_context` when the drawing is made ("talk": 1.5 times). Every
number comes from the engine: forward values from the tensors, gradients from
:func:`zeroin.autograd.node_grads`, local derivatives from each op's backward rule.

>>> import zeroin
>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> z = (2 * w + b) * (b + 1)
>>> d = zeroin.draw(z, wrt=b)
>>> paths = [d.save("flow3.svg"), d.save("flow3.png", width=1600), d.save("flow3.dot")]
>>> paths
['flow3.svg', 'flow3.png', 'flow3.dot']
"""
from __future__ import annotations

import copy
import itertools
import numbers
import os
from collections import Counter
from html import escape

import numpy as np

from .. import graph
from .._io import atomic_open
from .._tensor import Tensor
from .contexts import scale as _context_scale
from .explain import is_data, local_vjp, node_names, not_a_tensor, the_other_way_round
from . import groups
from .format import array, cells, number, plural, short
from .layout import Cycle, fold, layout, nested

__all__ = ["draw", "Drawing"]

_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_FS = 13            # node text size, px
_LH = 17            # line height, px
_PAD = 9
_CELL = 900         # px: the width of a Jupyter output cell, about
_COL = {
    "param": ("#dbeafe", "#1d4ed8"),      # fill, border
    "result": ("#fefce8", "#a16207"),
    "output": ("#fef3c7", "#b45309"),
    "const": ("#f3f4f6", "#6b7280"),
    "op": ("#ffffff", "#374151"),
    "module": ("#ecfdf5", "#047857"),     # a module drawn as one node (collapse=True)
}
_FRAME = ("#f8fafc", "#64748b")           # a module's frame: fill, border and title
_HL = "#dc2626"        # highlighted paths
_GRAD = "#b91c1c"      # gradient text
_EDGE = "#6b7280"
_INK = "#111827"
# Themes: the palette above is "light"; "dark" maps each of its colours to one that reads
# on a dark slide (the same roles: fills darker, borders and text lighter).
_THEMES = {"light": {}, "dark": {
    "#ffffff": "#0f172a", _INK: "#f1f5f9", "#374151": "#cbd5e1", _EDGE: "#94a3b8",
    "#dbeafe": "#1e3a8a", "#1d4ed8": "#93c5fd", "#fefce8": "#3f2a06", "#a16207": "#facc15",
    "#fef3c7": "#4a2506", "#b45309": "#fbbf24", "#f3f4f6": "#1f2937",
    "#ecfdf5": "#064e3b", "#047857": "#6ee7b7", "#f8fafc": "#111827", "#64748b": "#94a3b8",
    "#4b5563": "#cbd5e1",
    _HL: "#f87171", _GRAD: "#fca5a5"}}


def _paint(color, theme):
    """``color`` of the light palette in ``theme``."""
    return _THEMES[theme].get(color, color)
_SYMBOLS = {"*": "\u00d7", "/": "\u00f7", "-": "\u2212"}
_DIRECTIONS = {"LR": "LR", "TB": "TB", "left-right": "LR", "top-bottom": "TB"}
_ids = itertools.count(1)


def _n(v, digits=4):
    return number(v, digits)


_scale_now = []      # the text scale of the Drawing being laid out or drawn: its own


def _px(v):
    """A size in px at "notebook", in the drawing's text scale (zeroin.viz.context at the
    time it was made): text, line height, padding and the boxes around them grow with it."""
    s = _scale_now[-1] if _scale_now else _context_scale()
    return v if s == 1 else v * s


class _Scaled:
    """``with _Scaled(s):`` lays out or draws in the text scale ``s``."""

    def __init__(self, s):
        self.s = s

    def __enter__(self):
        _scale_now.append(self.s)

    def __exit__(self, *exc):
        _scale_now.pop()


def _text_w(s, size=None, bold=False):
    size = _px(_FS) if size is None else size
    # average advance of DejaVu Sans, a little generous so text never overflows; a
    # Chinese, Japanese or Korean character (full width, 1 em) counts as two
    return cells(s) * size * (0.64 if bold else 0.6)


class _Node:
    __slots__ = ("key", "kind", "lines", "w", "h", "hl", "wrt", "truncated", "tip", "shape")

    def __init__(self, key, kind, lines, hl=False, wrt=False, truncated=False, tip=""):
        self.key, self.kind, self.lines = key, kind, lines
        self.hl, self.wrt, self.truncated, self.tip = hl, wrt, truncated, tip
        if kind == "op":
            tw = _text_w(lines[0][0], _px(_FS + 1), True)
            self.shape = "circle" if tw <= _px(22) else "pill"
            self.w = _px(34) if self.shape == "circle" else tw + _px(22)
            self.h = _px(34) if self.shape == "circle" else _px(30)
        else:
            self.shape = "rect"
            self.w = max(_text_w(t, _px(_FS), b) for t, b, _ in lines) + 2 * _px(_PAD)
            self.w = max(self.w, _px(44))
            self.h = len(lines) * _px(_LH) + 2 * _px(_PAD) - _px(4)


# --- shapes: what the SVG and the PNG both draw --------------------------------------------

def _label_w(s):
    return _text_w(s, _px(12), True) + _px(8)


def _edge_shapes(i, e, pts, at=None):
    hl = e["highlight"]
    g = ("edge", i, e)
    out = [dict(kind="path", group=g, pts=pts, stroke=_HL if hl else _EDGE,
                sw=2.6 if hl else 1.3, arrow=True, hl=hl)]
    if e["label"]:
        lx, ly = at
        tw = _label_w(e["label"])
        out.append(dict(kind="rect", group=g, x=lx - tw / 2, y=ly - _px(10), w=tw, h=_px(20), r=4,
                        fill="#ffffff", stroke=_HL, sw=1, dash=False))
        out.append(dict(kind="text", group=g, x=lx, y=ly, s=e["label"], size=_px(12), bold=True,
                        color=_HL, anchor="middle", cls="elabel"))
    return out


def _node_shapes(n, cx, cy):
    fill, stroke = _COL[n.kind]
    sw = 1.4
    if n.hl:
        stroke, sw = _HL, 2.6
    if n.kind == "output":
        sw += 0.8
    g = ("node", n.key, n)
    if n.shape == "circle":
        out = [dict(kind="ellipse", group=g, cx=cx, cy=cy, rx=_px(17), ry=_px(17), fill=fill,
                    stroke=stroke, sw=sw)]
    else:
        out = [dict(kind="rect", group=g, x=cx - n.w / 2, y=cy - n.h / 2, w=n.w, h=n.h,
                    r=n.h / 2 if n.shape == "pill" else 7, fill=fill, stroke=stroke, sw=sw,
                    dash=n.kind == "const" or n.truncated)]
    if n.kind == "op":
        return out + [dict(kind="text", group=g, x=cx, y=cy, s=n.lines[0][0], size=_px(_FS + 1),
                           bold=True, color=_INK, anchor="middle", cls="op")]
    y0 = cy - (len(n.lines) - 1) * _px(_LH) / 2
    for j, (t, bold, color) in enumerate(n.lines):
        out.append(dict(kind="text", group=g, x=cx, y=y0 + j * _px(_LH), s=t, size=_px(_FS),
                        bold=bold, color=color, anchor="middle", cls="ntext"))
    return out


def _wrap(s, px, size=None):
    """``s`` in lines at most ``px`` wide (breaking at spaces)."""
    size = _px(12) if size is None else size
    lines, cur = [], ""
    for word in s.split(" "):
        if cur and _text_w(cur + " " + word, size) > px - _px(28):
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    return lines + [cur]


def _on_curve(p0, seg, t):
    """The point at ``t`` (0..1) of the cubic piece from ``p0`` through ``seg``."""
    (x1, y1), (x2, y2), (x3, y3) = seg
    a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
    return a * p0[0] + b * x1 + c * x2 + d * x3, a * p0[1] + b * y1 + c * y2 + d * y3


def _overlap(p, q):
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


def _label_spots(edges, routes, boxes, vertical, margin=3):
    """({edge index: (x, y)}, clashes) for the edge labels: each on the last piece of its
    curve, at the middle, else slid towards either end until it covers no node, no label
    placed before it and no other edge (labels of edges that meet at one op stay
    readable); where every spot is over another edge, the first that covers no node or
    label. clashes counts the labels that found no free spot (the layout then widens)."""
    placed, spots, clashes = [], {}, 0
    if not any(e["label"] for e in edges):
        return spots, clashes
    lines, owner = _edge_points(routes, vertical)
    for i, (e, pts) in enumerate(zip(edges, routes)):
        if not e["label"]:
            continue
        hw, seg = _label_w(e["label"]) / 2 + margin, _curve(pts[-2:], vertical)[0]
        free = None                              # clear of nodes and labels, over an edge
        for t in (0.5, 0.35, 0.65, 0.2, 0.8, 0.1, 0.9):
            x, y = _on_curve(pts[-2], seg, t)
            box = (x - hw, y - _px(10) - margin, x + hw, y + _px(10) + margin)
            if not any(_overlap(box, b) for b in boxes + placed):
                free = free or (x, y, box)
                if not _covers(box, lines[owner != i]):
                    break
        else:
            clashes += 1
            x, y = _on_curve(pts[-2], seg, 0.5)
            x, y, box = free or (x, y, (x - hw, y - _px(10) - margin, x + hw,
                                        y + _px(10) + margin))
        placed.append(box)
        spots[i] = (x, y)
    return spots, clashes


def _edge_points(routes, vertical, n=24):
    """Points along every edge's curve (an array of (x, y)) and the edge each is on."""
    pts, owner = [], []
    for i, r in enumerate(routes):
        p0 = r[0]
        for seg in _curve(r, vertical):
            pts += [_on_curve(p0, seg, t) for t in np.linspace(0, 1, n)]
            owner += [i] * n
            p0 = seg[-1]
    return np.array(pts).reshape(-1, 2), np.array(owner, dtype=int)


def _covers(box, pts):
    """Whether the box (x0, y0, x1, y1) covers one of the points ``pts``."""
    return bool(np.any((pts[:, 0] > box[0]) & (pts[:, 0] < box[2]) & (pts[:, 1] > box[1])
                       & (pts[:, 1] < box[3])))


def _curve(pts, vertical):
    """Cubic pieces through ``pts``, leaving and entering each point along the flow."""
    segs = []
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if vertical:
            my = (y0 + y1) / 2
            segs.append(((x0, my), (x1, my), (x1, y1)))
        else:
            mx = (x0 + x1) / 2
            segs.append(((mx, y0), (mx, y1), (x1, y1)))
    return segs


# --- SVG -------------------------------------------------------------------------------------

def _svg_group(p, g):
    if g[0] == "frame":
        return (f'<g id="{p}-{g[1]}" class="module" data-module="{escape(g[2])}">'
                f'<title>{escape(g[2])}</title>')
    if g[0] == "edge":
        i, e = g[1], g[2]
        cls = "edge highlight" if e["highlight"] else "edge"
        return (f'<g id="{p}-e{i}" class="{cls}" data-src="{escape(str(e["src"]))}" '
                f'data-dst="{escape(str(e["dst"]))}"><title>{escape(e.get("tip") or "")}'
                f'</title>')
    n = g[2]
    cls = "node " + n.kind + (" highlight" if n.hl else "") + (" wrt" if n.wrt else "")
    return f'<g id="{p}-n{escape(str(n.key))}" class="{cls}"><title>{escape(n.tip)}</title>'


def _svg_shape(p, s, vertical):
    k = s["kind"]
    if k == "path":
        pts = s["pts"]
        d = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"] + [
            "C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            for seg in _curve(pts, vertical)]
        m = "arrow-hl" if s["hl"] else "arrow"
        return (f'<path d="{" ".join(d)}" fill="none" stroke="{s["stroke"]}" '
                f'stroke-width="{s["sw"]}" marker-end="url(#{p}-{m})"/>')
    if k == "rect":
        dash = ' stroke-dasharray="5,3"' if s["dash"] else ""
        return (f'<rect x="{s["x"]:.1f}" y="{s["y"]:.1f}" width="{s["w"]:.1f}" '
                f'height="{s["h"]:.1f}" rx="{s["r"]:.1f}" fill="{s["fill"]}" '
                f'stroke="{s["stroke"]}" stroke-width="{s["sw"]}"{dash}/>')
    if k == "ellipse":
        return (f'<ellipse cx="{s["cx"]:.1f}" cy="{s["cy"]:.1f}" rx="{s["rx"]}" '
                f'ry="{s["ry"]}" fill="{s["fill"]}" stroke="{s["stroke"]}" '
                f'stroke-width="{s["sw"]}"/>')
    weight = ' font-weight="bold"' if s["bold"] else ""
    return (f'<text class="{s["cls"]}" x="{s["x"]:.1f}" y="{s["y"]:.1f}" '
            f'font-size="{s["size"]}"{weight} fill="{s["color"]}" '
            f'text-anchor="{s["anchor"]}" dominant-baseline="central">'
            f'{escape(s["s"])}</text>')


def _svg_head(p, box, width=None, theme="light"):
    """The root element scales with its container (never wider than the drawing, never
    cut off: ``max-width: 100%`` and the ``viewBox``) and keeps its natural size (or
    ``width`` px) where nothing constrains it, e.g. as a file or in an ``<img>``."""
    x0, y0, W, H = box
    w = W if width is None else float(width)
    h = H * w / W
    vb = " ".join(format(v, ".1f").removesuffix(".0") for v in (x0, y0, W, H))
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{p}" width="{w:.0f}" height="{h:.0f}" '
         f'viewBox="{vb}" preserveAspectRatio="xMidYMid meet" '
         f'style="max-width: 100%; height: auto;" font-family="{_FONT}">', "<defs>"]
    for name, color, size in (("arrow", _paint(_EDGE, theme), 9),
                              ("arrow-hl", _paint(_HL, theme), 12)):
        o.append(f'<marker id="{p}-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                 f'markerWidth="{size}" markerHeight="{size}" '
                 f'markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
                 f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>')
    o.append("</defs>")
    o.append('<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'.format(
        *vb.split(), _paint("#ffffff", theme)))
    return o


# --- PNG -------------------------------------------------------------------------------------

def _png_patch(ax, s, vertical, pt):
    from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path as MPath
    k = s["kind"]
    if k == "path":
        verts, codes = [s["pts"][0]], [MPath.MOVETO]
        for seg in _curve(s["pts"], vertical):
            verts += list(seg)
            codes += [MPath.CURVE4] * 3
        ax.add_patch(FancyArrowPatch(
            path=MPath(verts, codes), arrowstyle="-|>", mutation_scale=9 + 2 * s["sw"],
            color=s["stroke"], linewidth=s["sw"] * pt, shrinkA=0, shrinkB=0, zorder=1))
    elif k == "rect":
        r = min(s["r"], s["h"] / 2, s["w"] / 2)
        ax.add_patch(FancyBboxPatch(
            (s["x"] + r, s["y"] + r), s["w"] - 2 * r, s["h"] - 2 * r,
            boxstyle=f"round,pad={r},rounding_size={r}", facecolor=s["fill"],
            edgecolor=s["stroke"], linewidth=s["sw"] * pt,
            linestyle=(0, (5, 3)) if s["dash"] else "-", zorder=s.get("z", 2)))
    elif k == "ellipse":
        ax.add_patch(Ellipse((s["cx"], s["cy"]), 2 * s["rx"], 2 * s["ry"],
                             facecolor=s["fill"], edgecolor=s["stroke"],
                             linewidth=s["sw"] * pt, zorder=2))
    else:
        ax.text(s["x"], s["y"], s["s"], fontsize=s["size"] * pt,
                fontweight="bold" if s["bold"] else "normal", color=s["color"],
                ha="center" if s["anchor"] == "middle" else "left", va="center",
                zorder=3, family="DejaVu Sans")


def _wraps(routes):
    """How many edges of a folded left-to-right layout wrap round to a later row (each
    wrap is a run back to the left)."""
    return sum(q[0] < p[0] - 1 for r in routes for p, q in zip(r, r[1:]))


def _positive(v, what):
    """True for a positive number, False for None; anything else is an error."""
    if v is None:
        return False
    try:
        ok = float(v) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        hint = {"width": "a number of pixels", "dpi": "dots per inch, e.g. 200"}.get(
            what, "a width/height ratio like 16/9")
        raise ValueError(f"Drawing: {what} must be a positive number ({hint}), got {v!r}")
    return True


def _canvas(W, H, aspect):
    """The canvas (x0, y0, width, height) holding a W x H drawing, widened or heightened
    (the drawing centred) to the width:height ratio ``aspect``."""
    if not _positive(aspect, "aspect"):
        return 0.0, 0.0, W, H
    aspect = float(aspect)
    if W / H < aspect:
        cw = H * aspect
        return -(cw - W) / 2, 0.0, cw, H
    ch = W / aspect
    return 0.0, -(ch - H) / 2, W, ch


class Drawing:
    """A laid-out picture of a graph. ``svg()``, ``dot()``, ``png()``, ``pdf()``,
    ``save(path)``; shows inline in Jupyter (each rendering gets its own ids, so pictures
    on one page never clash) and scales down to fit the page.

    Attributes
    ----------
    nodes, edges : list
        What is drawn (for inspection and tests): node dicts and edge dicts with keys
        ``src``, ``dst``, ``highlight``, ``label``.
    note : str or None
        What was left out of a large graph.
    width, height : float
        The natural size in pixels.
    rankdir : {"LR", "TB"}
        Left to right or top to bottom.
    fit : float or None
        The width:height of the frame a left-to-right picture is wrapped into rows for.
    """

    def __init__(self, nodes, edges, note, title, caption, rankdir="LR", theme="light",
                 fit=16 / 9, frames=None):
        self.theme, self.fit = theme, fit
        self._frames = frames if frames and frames[0] else None   # (frame_of, parent, labels)
        self._nodes = nodes
        self._edges = edges
        self.note, self.title, self.caption = note, title, caption
        self.rankdir = rankdir
        self.uid = f"zg{next(_ids)}-{os.urandom(4).hex()}"
        self.text_scale = _scale_now[-1] if _scale_now else _context_scale()
        with _Scaled(self.text_scale):
            self._place()

    # --- layout ---------------------------------------------------------------------
    def _place(self):
        tb = self.rankdir == "TB"
        labels = [_label_w(e["label"]) for e in self._edges if e["label"]]
        gap = max([78 if labels else 52] + [w + 2 * 10 for w in labels if not tb])
        pos, routes, w, h = self._arrange(gap * (0.8 if tb else 1))
        boxes = [(x - n.w / 2, y - n.h / 2, x + n.w / 2, y + n.h / 2)
                 for n in self._nodes for x, y in [pos[n.key]]]
        self._spots, clash = _label_spots(self._edges, routes, boxes, tb)
        widen = 1.5                # larger text (zeroin.viz.context): up to 2 more tries
        while clash and widen <= (1.5 if _px(1) == 1 else 1.5 ** 3):
            # labels crowd where edges meet: more room between ranks
            pos, routes, w, h = self._arrange(gap * widen)
            boxes = [(x - n.w / 2, y - n.h / 2, x + n.w / 2, y + n.h / 2)
                     for n in self._nodes for x, y in [pos[n.key]]]
            self._spots, clash = _label_spots(self._edges, routes, boxes, tb)
            widen *= 1.5
        top = _px(34) if self.title else 0
        fit = max(w, 420)                        # captions wrap to the graph's width
        self._extra = [ln for s in (self.caption, self.note) if s for ln in _wrap(s, fit)]
        self._graph_w, self._body_h = w, h + top      # without the lines below
        bottom = _px(20) * len(self._extra) + (_px(6) if self._extra else 0)
        self.pos = {k: (x, y + top) for k, (x, y) in pos.items()}
        self.boxes = {f: (a, b + top, c, d + top) for f, (a, b, c, d) in self._boxes.items()}
        self.routes = [[(x, y + top) for x, y in r] for r in routes]
        self._spots = {i: (x, y + top) for i, (x, y) in self._spots.items()}
        width = max([w] + [self._text_width(s) for s in self._extra] +
                    ([_text_w(self.title, _px(17), True) + _px(40)] if self.title else []))
        self.width, self.height = width, h + top + bottom

    @staticmethod
    def _text_width(line):
        """The width a caption line needs, margins included."""
        return _text_w(line, _px(12)) + _px(28)

    def _arrange(self, gap):
        """Node centres, edge routes and size with ``gap`` px between ranks."""
        tb = self.rankdir == "TB"
        keys = [n.key for n in self._nodes]
        sizes = {n.key: ((n.h, n.w) if tb else (n.w, n.h)) for n in self._nodes}
        pairs = [(e["src"], e["dst"]) for e in self._edges]
        self._boxes = {}
        folding = self.fit is not None and not tb    # top to bottom: a tall page, as asked
        if self._frames:
            try:
                pos, routes, self._boxes, w, h = nested(
                    keys, pairs, sizes, self._frames[0], self._frames[1], gap_x=gap,
                    gap_y=30 if tb else 22, fold=self._fold if folding else None,
                    head=_px(22), vertical=tb, least={f: _text_w(t, _px(_FS), True) + _px(18)
                                        for f, t in self._frames[2].items()},
                    row=self._row)
            except Cycle:                        # modules feeding each other: no frames
                self._frames = None
        if not self._frames:
            pos, routes, w, h = layout(keys, pairs, sizes, gap_x=gap, gap_y=30 if tb else 22)
            if folding:
                pos, routes, w, h = self._fold(pos, routes, sizes, w, h)
        if tb:                                   # laid out sideways, then turned
            pos = {k: (y, x) for k, (x, y) in pos.items()}
            routes = [[(y, x) for x, y in r] for r in routes]
            self._boxes = {f: (b, a, d, c) for f, (a, b, c, d) in self._boxes.items()}
            w, h = h, w
        return pos, routes, w, h

    def _row(self, w, h):
        """The width to wrap a long module's frame to: a cell's width in Jupyter, else
        that of the rows a w x h strip folds into to fill the frame ``fit``."""
        return self.fit[1] if isinstance(self.fit, tuple) else (w * h * float(self.fit)) ** .5

    def _fold(self, pos, routes, sizes, w, h):
        """The layout wrapped into the number of rows whose
        picture, captions included, is largest in the frame ``fit``: a width:height ratio
        (a slide), or ``("width", px)`` (a notebook cell: as few rows as keep it that
        narrow). One row unless folding makes the text at least 15% larger; on a slide
        where one row is already legible (its smallest text 14 px or more on a slide 1920
        px wide), 30% more for each edge beyond one per fold that wraps round to the next
        row (the chapter's graph folded, both branches wrapping, reads worse)."""
        words = sum(_text_w(s, _px(12)) for s in (self.caption, self.note) if s)

        def scale(pw, ph):
            ph += (_px(34) if self.title else 0) + _px(20) * (words / (max(pw, 420) - 28) + 1.3)
            if isinstance(self.fit, tuple):
                return min(1.0, self.fit[1] / pw)
            return min(float(self.fit) / pw, 1.0 / ph)

        best, best_s = (pos, routes, w, h), scale(w, h) * 1.15
        legible = not isinstance(self.fit, tuple) and \
            _px(12) * scale(w, h) * 1920 / float(self.fit) >= 14
        for bands in range(2, 9):
            cand = fold(pos, routes, sizes, bands)
            s = scale(*cand[2:])
            if legible:
                s /= 1 + 0.3 * max(0, _wraps(cand[1]) - (bands - 1))
            if s > best_s:
                best, best_s = cand, s
        return best

    @property
    def nodes(self):
        return [dict(key=n.key, kind=n.kind, text=[t for t, _, _ in n.lines], highlight=n.hl,
                     truncated=n.truncated) for n in self._nodes]

    @property
    def edges(self):
        return [dict(e) for e in self._edges]

    @property
    def frames(self):
        """The modules' frames drawn (``modules=``), in the order the calls finished:
        dicts with ``key``, ``label`` (``fc1 (Linear)``), ``parent`` (the enclosing
        frame's key or None) and ``members`` (the keys of the nodes directly inside)."""
        if not self._frames:
            return []
        frame_of, parent, labels = self._frames
        return [dict(key=f, label=labels[f], parent=parent[f],
                     members=[n.key for n in self._nodes if frame_of.get(n.key) == f])
                for f in sorted(parent, key=lambda f: int(f[1:]))]

    def _frame_shapes(self):
        """Each frame's box and title, outer frames first (drawn under inner ones)."""
        out = []
        if not self._frames:
            return out
        labels, parent = self._frames[2], self._frames[1]

        def depth(f):
            return 0 if parent[f] is None else 1 + depth(parent[f])
        for f in sorted(parent, key=lambda f: (depth(f), int(f[1:]))):
            x0, y0, x1, y1 = self.boxes[f]
            g = ("frame", f, labels[f])
            out.append(dict(kind="rect", group=g, x=x0, y=y0, w=x1 - x0, h=y1 - y0, r=9,
                            fill=_FRAME[0], stroke=_FRAME[1], sw=1.2, dash=False, z=0))
            out.append(dict(kind="text", group=g, x=x0 + 8, y=y0 + _px(12), s=labels[f],
                            size=_px(_FS), bold=True, color=_FRAME[1], anchor="start",
                            cls="mlabel"))
        return out

    def _scene(self):
        """Shapes in pixel coordinates: the SVG and the PNG draw exactly these (in the
        drawing's own text scale, whatever the context when it is drawn)."""
        with _Scaled(getattr(self, "text_scale", 1)):
            return self._shapes()

    def _shapes(self):
        out = self._frame_shapes()
        for i, (e, pts) in enumerate(zip(self._edges, self.routes)):
            out += _edge_shapes(i, e, pts, self._spots.get(i))
        for n in self._nodes:
            out += _node_shapes(n, *self.pos[n.key])
        y = self.height - 10
        for s in reversed(self._extra):
            out.append(dict(kind="text", group=None, x=14, y=y - 4, s=s, size=_px(12), bold=False,
                            color="#374151", anchor="start", cls="note"))
            y -= _px(20)
        if self.title:
            out.append(dict(kind="text", group=None, x=self.width / 2, y=_px(20), s=self.title,
                            size=_px(17), bold=True, color=_INK, anchor="middle", cls="title"))
        for shape in out:                       # the theme's colours for the light ones
            for key in ("fill", "stroke", "color"):
                if key in shape:
                    shape[key] = _paint(shape[key], self.theme)
        return out

    # --- SVG --------------------------------------------------------------------------
    def svg(self, id_prefix=None, width=None, aspect=None):
        """The picture as a self-contained SVG document (a string) that scales down to
        fit its container (``viewBox``, ``max-width: 100%``). ``width`` (pixels) and
        ``aspect`` (width/height) as for :meth:`png`."""
        p = id_prefix or self.uid
        vertical = self.rankdir == "TB"
        _positive(width, "width")
        o = _svg_head(p, _canvas(int(np.ceil(self.width)), int(np.ceil(self.height)),
                                 aspect), width, self.theme)
        current = None
        for s in self._scene():
            g = s["group"]
            gk = g[:2] if g else None
            if gk != current:
                if current is not None:
                    o.append("</g>")
                current = gk
                if g is not None:
                    o.append(_svg_group(p, g))
            o.append(_svg_shape(p, s, vertical))
        if current is not None:
            o.append("</g>")
        o.append("</svg>")
        return "\n".join(o)

    def _repr_svg_(self):
        """Jupyter's picture: folded into as many rows as keep it within a cell's width
        (the SVG scales down further where the cell is narrower still)."""
        d = self
        if self.fit is not None and self.rankdir == "LR" and self.width > _CELL:
            d = copy.copy(self)
            d.fit = ("width", _CELL)
            d._place()
        return d.svg(id_prefix=f"zg{next(_ids)}-{os.urandom(4).hex()}")

    # --- DOT --------------------------------------------------------------------------
    def _dot_node(self, n, q):
        fill, stroke = _COL[n.kind]
        if n.hl:
            stroke = _HL
        text = "\\n".join(t.replace("\\", "\\\\").replace('"', '\\"') for t, _, _ in n.lines)
        if n.kind == "op":
            shape = "circle" if n.shape == "circle" else "box, style=\"rounded,filled\""
            attrs = f'shape={shape}'
            if n.shape == "circle":
                attrs += ', style=filled, width=0.45, fixedsize=true'
        else:
            style = "rounded,filled" + (",dashed" if n.kind == "const" or n.truncated
                                        else "")
            attrs = f'shape=box, style="{style}"'
        pen = 2.5 if n.hl else 1.2
        return (f'  {q(n.key)} [label="{text}", {attrs}, fillcolor="{fill}", '
                f'color="{stroke}", penwidth={pen}];')

    def _dot_nodes(self, q):
        """The node lines, each module's inside a ``subgraph cluster_...`` (nested)."""
        if not self._frames:
            return [self._dot_node(n, q) for n in self._nodes]
        frame_of, parent, labels = self._frames

        def block(f, indent):
            pad = "  " * indent
            inner = [pad + self._dot_node(n, q).strip() for n in self._nodes
                     if frame_of.get(n.key) == f]
            for c in (c for c in parent if parent[c] == f):
                inner += [f"{pad}subgraph {q('cluster_' + c)} {{",
                          f"{pad}  label={q(labels[c])}; style=\"rounded,filled\"; "
                          f"fillcolor=\"{_FRAME[0]}\"; color=\"{_FRAME[1]}\"; "
                          f"fontname=\"DejaVu Sans\";"]
                inner += ["  " + line for line in block(c, indent)] + [f"{pad}}}"]
            return inner
        return ["  " + line for line in block(None, 0)]

    def dot(self):
        """Graphviz DOT text of the same graph (for ``dot -Tpng``), with the same labels."""
        def q(s):
            return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
        o = ["digraph zeroin {", f"  rankdir={self.rankdir};",
             '  node [fontname="DejaVu Sans", fontsize=11];',
             '  edge [fontname="DejaVu Sans", fontsize=10];']
        label = " \\n".join(s for s in (self.title, self.caption, self.note) if s)
        if label:
            o.append(f"  label={q(label).replace(chr(92) * 2 + 'n', chr(92) + 'n')}; "
                     f"labelloc=t;")
        o += self._dot_nodes(q)
        for e in self._edges:
            attrs = []
            if e["highlight"]:
                attrs += [f'color="{_HL}"', "penwidth=2.5"]
            if e["label"]:
                attrs += [f"label={q(e['label'])}", f'fontcolor="{_HL}"']
            tail = f" [{', '.join(attrs)}]" if attrs else ""
            o.append(f"  {q(e['src'])} -> {q(e['dst'])}{tail};")
        o.append("}")
        return "\n".join(o) + "\n"

    # --- PNG --------------------------------------------------------------------------
    def png(self, dpi=200, width=None, aspect=None):
        """The picture as PNG bytes, drawn with matplotlib from the same layout.

        ``width`` sets the image width in pixels (else ``dpi``: 200 gives twice the
        natural size, at most 4000 px a side). ``aspect`` (width/height, e.g. ``16/9``
        for a slide) pads the canvas around the centred drawing to that shape.
        """
        return self._matplotlib("png", dpi, width, aspect)

    def pdf(self, aspect=None):
        """The picture as PDF bytes (vector, for LaTeX/beamer slides), drawn with
        matplotlib from the same layout; one layout pixel is 1/100 inch. ``aspect`` as
        for :meth:`png`."""
        return self._matplotlib("pdf", 100, None, aspect)

    def _matplotlib(self, fmt, dpi, width, aspect):
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError(f"draw: {fmt.upper()} output needs matplotlib; install it with "
                              "`pip install zeroin[plots]` (SVG and DOT work without it)"
                              ) from None
        import io
        x0, y0, W, H = _canvas(self.width, self.height, aspect)
        if _positive(width, "width"):
            dpi = int(width) / (W / 100)
        else:
            _positive(dpi, "dpi")
            dpi = min(dpi, 4000 / (W / 100), 4000 / (H / 100))   # keep the file a sane size
        fig = Figure(figsize=(W / 100, H / 100), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(x0, x0 + W)
        ax.set_ylim(y0 + H, y0)
        ax.axis("off")
        for s in self._scene():          # one layout pixel is 1/100 inch
            _png_patch(ax, s, self.rankdir == "TB", 72 / 100)
        from .fonts import fallback
        buf = io.BytesIO()
        with fallback(fig):               # names in any script: a font that has them
            fig.savefig(buf, format=fmt, dpi=dpi, facecolor=_paint("#ffffff", self.theme))
        return buf.getvalue()

    # --- files ------------------------------------------------------------------------
    def save(self, path, dpi=200, width=None, aspect=None):
        """Write the picture to ``path``: .svg, .dot (or .gv), .png or .pdf, chosen by
        suffix.

        For SVG and PNG, ``width`` (pixels) and ``aspect`` (width/height, e.g. ``16/9``)
        size the image for a slide; see :meth:`png`. The file is written atomically (a temporary
        file, then renamed). Returns ``path``.
        """
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix == ".svg":
            data = self.svg(width=width, aspect=aspect).encode("utf-8")
        elif suffix in (".dot", ".gv"):
            if width is not None or aspect is not None:
                raise ValueError("Drawing.save: width and aspect apply to .svg and .png; "
                                 "a .dot file has no size (Graphviz chooses it)")
            data = self.dot().encode("utf-8")
        elif suffix == ".png":
            data = self.png(dpi=dpi, width=width, aspect=aspect)
        elif suffix == ".pdf":
            if width is not None:
                raise ValueError("Drawing.save: width applies to .svg and .png; a .pdf is "
                                 "vector (scale it where it is placed); aspect still applies")
            data = self.pdf(aspect=aspect)
        else:
            raise ValueError(f"Drawing.save: unknown file type {suffix!r} in {path!r}; use "
                             f".svg, .png or .dot (or .pdf, vector, for slides)")
        with atomic_open(path) as f:
            f.write(data)
        return path

    def __repr__(self):
        return (f"<Drawing {len(self._nodes)} nodes, {len(self._edges)} edges"
                + (f"; {self.note}" if self.note else "") + ">")


# --- draw(): which nodes, with which labels --------------------------------------------

def _select(output, max_nodes, max_depth):
    """Breadth first from the output, whole ops at a time: the tensors to draw and the
    op results whose op (and inputs) are drawn."""
    keep, expanded = {id(output)}, set()
    queue = [(output, 0)]
    while queue:
        t, depth = queue.pop(0)
        fn = t.grad_fn
        if fn is None or depth >= max_depth:
            continue
        new = list({id(i): i for i in fn.inputs if id(i) not in keep}.values())
        if len(keep) + len(expanded) + 1 + len(new) > max_nodes:
            continue
        expanded.add(id(t))
        for i in new:
            keep.add(id(i))
            queue.append((i, depth + 1))
    return keep, expanded


def _spine(t, limit=2000):
    """The op names met going down from ``t`` through each op's first computed input."""
    ops = []
    while t is not None and t.grad_fn is not None and len(ops) < limit:
        ops.append(t.grad_fn.name)
        t = next((i for i in t.grad_fn.inputs if i.grad_fn is not None), None)
    return ops


def _repeats(ops, longest=8):
    """(block, times) when ``ops`` starts with a block of ops repeated at least 3 times
    (the layers of a deep network), else None."""
    for p in range(1, longest + 1):
        times = 1
        while ops[times * p:(times + 1) * p] == ops[:p]:
            times += 1
        if times >= 3:
            return ops[:p], times
    return None


def _left_out(order, keep, expanded, names):
    """The note saying what a summarised drawing leaves out: how many nodes of which ops,
    and the block of steps that repeats below the cut (a deep network's layers)."""
    n_total = len(order) + sum(1 for t in order if t.grad_fn is not None)
    n_drawn = len(keep) + len(expanded)
    if n_drawn >= n_total:
        return None
    ops = Counter(t.grad_fn.name for t in order
                  if t.grad_fn is not None and id(t) not in expanded)
    leaves = sum(1 for t in order if t.grad_fn is None and id(t) not in keep)
    kinds = ", ".join(f"{n} {k}" for k, n in ops.most_common(4))
    kinds += ", ..." if len(ops) > 4 else ""
    cut = [t for t in reversed(order) if id(t) in keep and t.grad_fn is not None
           and id(t) not in expanded]
    spines = sorted(((_spine(t), names[id(t)]) for t in cut), key=lambda s: -len(s[0]))
    rep = _repeats(spines[0][0]) if spines else None
    block = (f"; below {spines[0][1]} the steps {' <- '.join(rep[0])} repeat "
             f"{rep[1]} times" if rep else "")
    return (f"... {n_total - n_drawn} more nodes not drawn ({kinds} ops; "
            f"{plural(leaves, 'leaf', 'leaves')}){block}: the graph has {n_total} nodes "
            f"(tensors and ops); these are the {n_drawn} nearest "
            f"{names[id(order[-1])]}, and dashed boxes are computed from the hidden part")


def _tensor_node(t, key, ctx):
    names, g, on = ctx["names"], ctx["grads"], ctx["on"]
    k, nm = id(t), names[id(t)]
    if t.grad_fn is None:
        kind = "param" if t.requires_grad else "const"
    else:
        kind = "output" if t is ctx["output"] else "result"
    lines = [(nm, True, _INK)]                 # data without a name: input0, target, ...
    by_value = kind == "const" and nm == array(t.data)      # 2, [[0.5, -1]]: its name
    digits = ctx["digits"]
    if (ctx["values"] or is_data(t)) and not by_value:
        value = _rows(t.data, digits)
        lines += [((v if t.data.size > 1 else "= " + v), False, _INK) for v in value]
    if ctx["grads_on"] and k in g and kind != "const":
        grad = _rows(g[k], digits)
        lines += [(("grad " if i == 0 else "     ") + v, True, _GRAD)
                  for i, v in enumerate(grad)]
    truncated = t.grad_fn is not None and k not in ctx["expanded"]
    if truncated:
        rep = _repeats(_spine(t))              # a deep network: say what repeats below
        lines.append(("(inputs not drawn" + (";" if rep else ")"), False, "#6b7280"))
        if rep:
            lines.append((f"{rep[1]} \u00d7 ({', '.join(rep[0])}))", False, "#6b7280"))
    tip = f"{nm}: shape {tuple(t.shape)}, value {short(t.data, digits)}"
    if k in g:
        tip += f", d{on}/d{nm} = {short(g[k], digits)}"
    return _Node(key, kind, lines, hl=k in ctx["reach"], wrt=t is ctx["wrt"],
                 truncated=truncated, tip=tip)


def _rows(a, digits=4):
    """A node's text for the array ``a``: a matrix of at most 2 x 2 with all its numbers,
    one row a line (a 2-2-1 network's weights), anything else as :func:`short` writes it."""
    a = np.asarray(a)
    if a.ndim == 2 and a.size > 1 and a.shape[0] <= 2 and a.shape[1] <= 2:
        rows = ["[" + ", ".join(number(v, digits) for v in r) + "]" for r in a]
        return ["[" + rows[0] + ("," if len(rows) > 1 else "]")] + \
            [" " + r + "]" for r in rows[1:]]
    return [short(a, digits)]


def _edge_label(t, inp, names, digits=4):
    """The local derivative on the edge inp -> t: a number, or the Jacobian's size."""
    nm, inn = names[id(t)], names[id(inp)]
    if t.data.size == 1 and inp.data.size == 1:
        d = local_vjp(t, inp, np.ones_like(t.data))
        label = _n(0 if d is None else np.asarray(d).reshape(()), digits)
        return label, f"d{nm}/d{inn} = {label}"
    m = int(np.prod(t.shape)) if t.shape else 1
    n = int(np.prod(inp.shape)) if inp.shape else 1
    return f"J {m}x{n}", f"d{nm}/d{inn}: a {m}x{n} Jacobian"


def _op_node_and_edges(t, keys, ctx):
    """The op that made ``t``, the edges from its inputs to it and from it to ``t``."""
    names, reach = ctx["names"], ctx["reach"]
    fn, nm, key = t.grad_fn, names[id(t)], keys[id(t)]
    sym = _SYMBOLS.get(fn.label(), fn.label())
    if len(sym) > 18:
        sym = sym[:17] + "\u2026"
    okey = key + "op"
    hl_t = id(t) in reach
    node = _Node(okey, "op", [(sym, True, _INK)], hl=hl_t, tip=f"{fn.name} -> {nm}")
    edges = []
    for inp in {id(i): i for i in fn.inputs}.values():
        hl = id(inp) in reach and inp.requires_grad
        label, tip = _edge_label(t, inp, names, ctx["digits"]) if hl else ("", "")
        edges.append(dict(src=keys[id(inp)], dst=okey, src_name=names[id(inp)],
                          dst_name=f"{sym} ({nm})", highlight=hl, label=label, tip=tip))
    edges.append(dict(src=okey, dst=key, src_name=f"{sym} ({nm})", dst_name=nm,
                      highlight=hl_t, label="", tip=""))
    return node, edges


def _collapsed(order, calls, ctx, max_nodes, max_depth):
    """The nodes and edges of ``collapse=True``: each innermost module call one node, and
    the ``max_nodes`` items nearest the output (at most ``max_depth`` layers deep);
    with the note saying how many items are left out."""
    items, pairs, item_of = groups.collapsed(order, calls)
    by_id = {id(t): t for t in order}
    preds = {}
    for a, b in pairs:
        preds.setdefault(b, []).append(a)
    def layers(u):             # a network's depth counts its layers with weights
        return int(u[0] == "m" and any(True for _ in u[1].module.parameters()))
    start = item_of[id(ctx["output"])]
    depth, queue = {start: layers(start)}, [start]
    while queue:
        u = queue.pop(0)
        new = [p for p in preds.get(u, ()) if p not in depth]
        if any(depth[u] + layers(p) > max_depth for p in new) or \
                len(depth) + len(new) > max_nodes:
            continue
        for p in new:
            depth[p] = depth[u] + layers(p)
            queue.append(p)
    keys = {u: f"n{i}" for i, u in enumerate(items) if u in depth}
    outs = {}
    for k, u in item_of.items():                # a module's output: its last result
        if u[0] == "m" and by_id[k].grad_fn is not None:
            outs[id(u[1])] = by_id[k]
    nodes, edges = [], []
    for u in (u for u in items if u in keys):
        cut = any(p not in keys for p in preds.get(u, ()))
        if u[0] == "m":
            lines = groups.module_lines(u[1], outs.get(id(u[1])), ctx, _INK, _GRAD)
            nodes.append(_Node(keys[u], "module", lines, truncated=cut,
                               hl=any(id(t) in ctx["reach"] for t in u[1].outputs),
                               tip=f"{u[1].label}: {len(u[1].outputs)} output(s)"))
        elif u[0] == "o":
            t = by_id[u[1]]
            sym = _SYMBOLS.get(t.grad_fn.label(), t.grad_fn.label())[:18]
            nodes.append(_Node(keys[u], "op", [(sym, True, _INK)],
                               hl=u[1] in ctx["reach"], tip=f"{t.grad_fn.name}"))
        else:
            ctx["expanded"] = {u[1]} if ("o", u[1]) in keys else set()
            nodes.append(_tensor_node(by_id[u[1]], keys[u], ctx))
    lit = {n.key for n in nodes if n.hl}
    text = {n.key: n.lines[0][0] for n in nodes}
    for a, b in pairs:
        if a in keys and b in keys:
            edges.append(dict(src=keys[a], dst=keys[b], src_name=text[keys[a]],
                              dst_name=text[keys[b]], label="", tip="",
                              highlight=keys[a] in lit and keys[b] in lit))
    left = len(items) - len(keys)
    note = (f"... {plural(left, 'more node')} not drawn (tensors, ops and modules further "
            f"from the output); dashed boxes are computed from the hidden part"
            if left else None)
    return nodes, edges, note


def _no_graph(output, on):
    """Why a drawing of ``output`` is one node (as :func:`explain` says), else None."""
    if output.grad_fn is not None:
        return None
    on = "this tensor" if on == array(output.data) else on      # named by its value
    if output.requires_grad:
        return (f"{on} is a leaf (made, not computed), so its graph is this one node: "
                f"draw a result computed from it")
    return (f"{on} has no graph: it does not require grad (a constant, or computed under "
            f"zeroin.no_grad()); create its inputs with requires_grad=True, and compute it "
            f"outside `with zeroin.no_grad():`")


def _captions(output, wrt, names, keep, grads_shown, seeded, labels=(), order=()):
    on = names[id(output)]
    caption = [f"grad = d{on}/d(node)"] if grads_shown and output.grad_fn else []
    caption += [c for c in (_no_graph(output, on),) if c]
    if seeded:
        caption.append(f"gradients are of sum({on})")
    if wrt is not None:
        wn = names.get(id(wrt), wrt.name or "wrt")
        swapped = the_other_way_round("draw", output, wrt) if id(wrt) not in names else None
        if swapped:
            caption.append(f"{on} does not depend on {swapped[1]}: {swapped[2]}")
        elif id(wrt) not in names:
            caption.append(f"{on} does not depend on {wn}")
        elif id(wrt) not in keep:
            caption.append(f"{wn} is in the part not drawn")
        else:
            n = graph.count_paths(order, wrt).get(id(output), 0)
            way = "the path" if n == 1 else f"the {n} paths"
            caption.append(f"red: {way} from {on} to {wn}; " + _edge_caption(labels))
    return "; ".join(caption) if caption else None


def _edge_caption(labels):
    """What the labels on the red edges are: numbers, Jacobian sizes, or both."""
    jac = [x for x in labels if x.startswith("J ")]
    numbers = "edge numbers are the local derivatives d(op result)/d(input) along them"
    sizes = ("'J mxn' on an edge: the local derivative d(op result)/d(input) is a Jacobian "
             "of m result elements by n input elements (never built: backward passes "
             "the vector-Jacobian product)")
    if not jac:
        return numbers
    if len(jac) == len(labels):
        return sizes
    return f"{numbers} where both are single numbers; {sizes}"


def _nodes_and_edges(order, keys, ctx):
    """The drawn tensors (those with ``keys``), each after its op where that is drawn."""
    nodes, edges = [], []
    for t in order:
        if id(t) not in keys:
            continue
        nodes.append(_tensor_node(t, keys[id(t)], ctx))
        if id(t) in ctx["expanded"]:
            op, es = _op_node_and_edges(t, keys, ctx)
            nodes.insert(len(nodes) - 1, op)
            edges += es
    return nodes, edges


def _gradients(output, grads):
    """(d output / d node by id, a note if an op has no derivative, whether the gradients
    are of sum(output)): what :func:`draw` shows in red."""
    from ..autograd import node_grads
    if not (grads and output.requires_grad):
        return {}, None, False
    seed = None if output.data.size == 1 else np.ones_like(output.data)
    try:
        g = node_grads(output, seed)
    except NotImplementedError as e:    # an op PyTorch gives no derivative (unique): no grads
        return {}, f"no gradients: {e}", False
    return g, None, bool(g) and seed is not None


def _check(output, wrt, max_nodes, max_depth, rankdir, direction, digits=4, theme="light",
           fit=None):
    if fit is not None and (isinstance(fit, bool) or not isinstance(fit, numbers.Real)
                            or not 0 < fit < float("inf")):
        raise ValueError(f"draw: fit must be a positive width/height ratio (16/9 for a "
                         f"slide) or None (one row, never wrapped), got {fit!r}")
    if not isinstance(output, Tensor):
        raise not_a_tensor("draw", "output", output)
    if wrt is not None and not isinstance(wrt, Tensor):
        raise not_a_tensor("draw", "wrt", wrt)
    if int(max_depth) < 1:
        raise ValueError(f"draw: max_depth must be at least 1, got {max_depth}")
    if theme not in _THEMES:
        raise ValueError(f"draw: theme must be 'light' or 'dark', got {theme!r}")
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or \
            not 1 <= digits <= 17:
        raise ValueError(f"draw: digits must be a whole number from 1 to 17 (significant "
                         f"digits of the numbers shown), got {digits!r}")
    if int(max_nodes) < 3:
        raise ValueError(f"draw: max_nodes must be at least 3, got {max_nodes}")
    if direction is not None and rankdir not in (None, "LR", direction):
        raise ValueError(f"draw: give rankdir= or direction=, not both "
                         f"(got {rankdir!r} and {direction!r})")
    way = direction if direction is not None else (rankdir or "LR")
    if way not in _DIRECTIONS:
        raise ValueError(f"draw: rankdir must be 'LR' (left to right) or 'TB' (top to "
                         f"bottom), got {way!r}")
    return _DIRECTIONS[way]


def draw(output, wrt=None, grads=True, max_nodes=60, title=None, values=True,
         max_depth=8, rankdir="LR", direction=None, model=None, digits=4, theme="light",
         fit=16 / 9, modules=None, collapse=False):
    """Draw the graph that computed ``output``: leaves, constants, ops and results.

    Parameters
    ----------
    output : Tensor
        The result whose graph is drawn (the last node).
    wrt : Tensor, optional
        Highlight the paths from ``output`` down to this tensor; every edge on them is
        labelled with its local derivative (from the op's backward rule), like the
        chapter's figures of the partial derivatives to b and to w.
    grads : bool
        Show each node's gradient d output / d node (from
        :func:`zeroin.autograd.node_grads`, so backward need not have run).
    max_nodes : int
        Larger graphs are summarised: only the nodes nearest the output are drawn, the
        cut-off tensors are marked, and a note says how many nodes (of which ops) are
        left out.
    max_depth : int
        At most this many ops are drawn along any path back from the output (a deep
        network's graph is summarised by its last steps, not drawn as a mile-long line).
    title : str, optional
    values : bool
        Show forward values. ``values=False, grads=False`` is the bare structure.
    rankdir, direction : {"LR", "TB"}
        Left to right (the default, like the chapter) or top to bottom (for tall pages
        and slides); ``direction`` is another name for the same choice.
    fit : float or None
        The width:height of the frame the picture is for (16/9: a slide). A long
        left-to-right graph (an MLP, a CNN, an unrolled RNN) is wrapped into rows, read
        like lines of text, so that its text stays large in that frame; in Jupyter the
        rows also fit the cell's width. ``None`` keeps one long row.
    model : Module or mapping, optional
        Names for parameters (``named_parameters()`` paths such as ``0.weight``, or a
        mapping name -> tensor). Parameters of a Module are already named by their path.
    digits : int
        Significant digits of the values, gradients and local derivatives shown (4 keeps
        nodes small; 6 shows the solve lesson's b = 4.66667 as the chapter prints it).
    theme : {"light", "dark"}
        Colours of the SVG, PNG and PDF: dark text on white (the default), or light text
        and lines on a dark background for dark slides. The DOT text keeps Graphviz's.
    modules : Module or ModuleCalls, optional
        From ``with zeroin.viz.module_calls(net) as calls: y = net(x)``: each module's ops
        in a frame titled ``fc1 (Linear)``, nested like the modules (the model itself
        unframed unless it ran twice; a module run twice has a frame per call, ``...,
        call 2``, and a weight the calls share sits outside both). The model itself
        (``modules=net``, no recording needed) frames what the graph shows: each op in
        the innermost module owning a parameter or buffer it reads, the ops between a
        module's own in its frame too. Parameter-free modules (ReLU, Dropout, Flatten,
        pooling) leave no trace there, so their ops stay unframed; a module whose weights
        are read by separate groups of ops (a reused layer, an RNN's steps) gets a frame
        per group, ``..., use 2``. ``module_calls`` gives the exact grouping.
    collapse : bool
        With ``modules``: each innermost module call as ONE node (its parameters' shapes,
        its output's value and gradient), so a LeNet fits a slide; ``max_depth`` then
        counts the layers with weights. Ops outside those modules are drawn as usual.

    Returns
    -------
    Drawing
        ``.svg()``, ``.dot()``, ``.png(width=, aspect=)``, ``.pdf()``, ``.save(path)``;
        inline in Jupyter, scaled to fit.
    """
    way = _check(output, wrt, max_nodes, max_depth, rankdir, direction, digits, theme, fit)
    calls = groups.check(modules, collapse)
    order = graph.toposort([output], include_leaves=True)
    calls = groups.as_calls(calls, order)
    names = node_names(output, model if model is not None or calls is None else calls.model)
    g, no_grads, seeded = _gradients(output, grads)
    ctx = dict(names=names, grads=g, on=names[id(output)], output=output, wrt=wrt,
               values=values, grads_on=bool(grads and output.requires_grad), digits=digits,
               reach=graph.depends_on(output, wrt, order) if wrt is not None else set())
    if collapse:
        nodes, edges, note = _collapsed(order, calls, ctx, int(max_nodes), int(max_depth))
        caption = _captions(output, None, names, set(names), bool(g), seeded, (), order)
        caption = "; ".join(c for c in (no_grads, caption) if c) or None
        return Drawing(nodes, edges, note, title, caption, way, theme, fit)
    keep, expanded = _select(output, int(max_nodes), int(max_depth))
    ctx["expanded"] = expanded
    keys = {id(t): f"n{i}" for i, t in enumerate(order) if id(t) in keep}
    nodes, edges = _nodes_and_edges(order, keys, ctx)
    caption = _captions(output, wrt, names, keep, bool(g), seeded,
                        [e["label"] for e in edges if e["highlight"] and e["label"]], order)
    caption = "; ".join(c for c in (no_grads, caption) if c) or None
    frames = groups.frames(order, keys, edges, calls) if calls is not None else None
    d = Drawing(nodes, edges, _left_out(order, keep, expanded, names), title,
                caption, way, theme, fit, frames)
    d._tensor_keys, d._expanded, d._on = keys, expanded, ctx["on"]   # for backward_steps
    return d
