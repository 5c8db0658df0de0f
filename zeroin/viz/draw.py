"""Pictures of the computation graph: values, gradients and the paths of the chain rule.

:func:`draw` lays the graph out itself (left to right, like the chapter's figures) and
renders it as SVG, Graphviz DOT or PNG. SVG and DOT need nothing but NumPy; PNG draws the
same layout with matplotlib (``pip install zeroin[plots]``). Every number comes from the
engine: forward values from the tensors, gradients from
:func:`zeroin.autograd.node_grads`, local derivatives from each op's backward rule.

>>> d = zeroin.draw(z, wrt=b)          # doctest: +SKIP
>>> d.save("flow3.svg"); d.save("flow3.png"); d.save("flow3.dot")   # doctest: +SKIP
"""
from __future__ import annotations

import itertools
import os
from html import escape

import numpy as np

from .._io import atomic_open
from .layout import layout
from .explain import local_vjp, node_names
from ..graph import toposort
from .._tensor import Tensor
from .format import number, short

__all__ = ["draw", "Drawing"]

_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_FS = 13            # node text size, px
_LH = 17            # line height, px
_PAD = 9
_COL = {
    "param": ("#dbeafe", "#1d4ed8"),      # fill, border
    "result": ("#fefce8", "#a16207"),
    "output": ("#fef3c7", "#b45309"),
    "const": ("#f3f4f6", "#6b7280"),
    "op": ("#ffffff", "#374151"),
}
_HL = "#dc2626"        # highlighted paths
_GRAD = "#b91c1c"      # gradient text
_EDGE = "#6b7280"
_SYMBOLS = {"*": "\u00d7", "/": "\u00f7", "-": "\u2212"}
_ids = itertools.count(1)


def _n(v):
    return number(v, 4)


def _text_w(s, size=_FS, bold=False):
    # average advance of DejaVu Sans, a little generous so text never overflows
    return len(s) * size * (0.64 if bold else 0.6)


class _Node:
    __slots__ = ("key", "kind", "lines", "w", "h", "hl", "wrt", "truncated", "tip", "shape")

    def __init__(self, key, kind, lines, hl=False, wrt=False, truncated=False, tip=""):
        self.key, self.kind, self.lines = key, kind, lines
        self.hl, self.wrt, self.truncated, self.tip = hl, wrt, truncated, tip
        if kind == "op":
            tw = _text_w(lines[0][0], _FS + 1, True)
            self.shape = "circle" if tw <= 22 else "pill"
            self.w = 34 if self.shape == "circle" else tw + 22
            self.h = 34 if self.shape == "circle" else 30
        else:
            self.shape = "rect"
            self.w = max(_text_w(t, _FS, b) for t, b, _ in lines) + 2 * _PAD
            self.w = max(self.w, 44)
            self.h = len(lines) * _LH + 2 * _PAD - 4


class Drawing:
    """A laid-out picture of a graph. ``svg()``, ``dot()``, ``save(path)``; shows inline in
    Jupyter (each rendering gets its own ids, so pictures on one page never clash).

    Attributes
    ----------
    nodes, edges : list
        What is drawn (for inspection and tests): node dicts and edge dicts with keys
        ``src``, ``dst``, ``highlight``, ``label``.
    n_hidden : int
        Nodes of the graph that were summarised instead of drawn.
    """

    def __init__(self, nodes, edges, note, title, caption):
        self._nodes = nodes
        self._edges = edges
        self.note, self.title, self.caption = note, title, caption
        self.uid = f"zg{next(_ids)}-{os.urandom(4).hex()}"
        self._place()

    # --- layout ---------------------------------------------------------------------
    def _place(self):
        keys = [n.key for n in self._nodes]
        sizes = {n.key: (n.w, n.h) for n in self._nodes}
        pairs = [(e["src"], e["dst"]) for e in self._edges]
        gap = 78 if any(e["label"] for e in self._edges) else 52
        pos, routes, w, h = layout(keys, pairs, sizes, gap_x=gap)
        top = 0
        if self.title:
            top += 34
        bottom = 0
        extra = [s for s in (self.caption, self.note) if s]
        bottom += 20 * len(extra) + (6 if extra else 0)
        self.pos = {k: (x, y + top) for k, (x, y) in pos.items()}
        self.routes = [[(x, y + top) for x, y in r] for r in routes]
        width = max([w] + [_text_w(s, 12) + 40 for s in extra] +
                    ([_text_w(self.title, 17, True) + 40] if self.title else []))
        self.width, self.height = width, h + top + bottom

    @property
    def nodes(self):
        return [dict(key=n.key, kind=n.kind, text=[t for t, _, _ in n.lines], highlight=n.hl,
                     truncated=n.truncated) for n in self._nodes]

    @property
    def edges(self):
        return [dict(e) for e in self._edges]

    # --- primitives shared by the SVG and PNG renderers ------------------------------
    def _scene(self):
        """Shapes in pixel coordinates: the SVG and the PNG draw exactly these."""
        out = []
        for i, (e, pts) in enumerate(zip(self._edges, self.routes)):
            hl = e["highlight"]
            out.append(dict(kind="path", group=("edge", i, e), pts=pts,
                            stroke=_HL if hl else _EDGE, sw=2.6 if hl else 1.3, arrow=True))
            if e["label"]:
                (x0, y0), (x1, y1) = pts[-2], pts[-1]
                lx, ly = (x0 + x1) / 2, (y0 + y1) / 2
                tw = _text_w(e["label"], 12, True) + 8
                out.append(dict(kind="rect", group=("edge", i, e), x=lx - tw / 2, y=ly - 10,
                                w=tw, h=20, r=4, fill="#ffffff", stroke=_HL, sw=1,
                                dash=False))
                out.append(dict(kind="text", group=("edge", i, e), x=lx, y=ly, s=e["label"],
                                size=12, bold=True, color=_HL, anchor="middle",
                                cls="elabel"))
        for n in self._nodes:
            cx, cy = self.pos[n.key]
            fill, stroke = _COL[n.kind]
            sw = 1.4
            if n.hl:
                stroke, sw = _HL, 2.6
            if n.kind == "output":
                sw += 0.8
            g = ("node", n.key, n)
            if n.shape == "circle":
                out.append(dict(kind="ellipse", group=g, cx=cx, cy=cy, rx=17, ry=17,
                                fill=fill, stroke=stroke, sw=sw))
            elif n.shape == "pill":
                out.append(dict(kind="rect", group=g, x=cx - n.w / 2, y=cy - n.h / 2, w=n.w,
                                h=n.h, r=n.h / 2, fill=fill, stroke=stroke, sw=sw,
                                dash=False))
            else:
                out.append(dict(kind="rect", group=g, x=cx - n.w / 2, y=cy - n.h / 2, w=n.w,
                                h=n.h, r=7, fill=fill, stroke=stroke, sw=sw,
                                dash=n.kind == "const" or n.truncated))
            if n.kind == "op":
                out.append(dict(kind="text", group=g, x=cx, y=cy, s=n.lines[0][0],
                                size=_FS + 1, bold=True, color="#111827", anchor="middle",
                                cls="op"))
                continue
            y0 = cy - (len(n.lines) - 1) * _LH / 2
            for j, (t, bold, color) in enumerate(n.lines):
                out.append(dict(kind="text", group=g, x=cx, y=y0 + j * _LH, s=t, size=_FS,
                                bold=bold, color=color, anchor="middle", cls="ntext"))
        y = self.height - 10
        for s in reversed([s for s in (self.caption, self.note) if s]):
            out.append(dict(kind="text", group=None, x=14, y=y - 4, s=s, size=12, bold=False,
                            color="#374151", anchor="start", cls="note"))
            y -= 20
        if self.title:
            out.append(dict(kind="text", group=None, x=self.width / 2, y=20, s=self.title,
                            size=17, bold=True, color="#111827", anchor="middle",
                            cls="title"))
        return out

    # --- SVG --------------------------------------------------------------------------
    def svg(self, id_prefix=None):
        """The picture as a self-contained SVG document (a string)."""
        p = id_prefix or self.uid
        W, H = int(np.ceil(self.width)), int(np.ceil(self.height))
        o = [f'<svg xmlns="http://www.w3.org/2000/svg" id="{p}" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" font-family="{_FONT}">',
             "<defs>"]
        for name, color, size in (("arrow", _EDGE, 9), ("arrow-hl", _HL, 12)):
            o.append(f'<marker id="{p}-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
                     f'markerWidth="{size}" markerHeight="{size}" '
                     f'markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
                     f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>')
        o.append("</defs>")
        o.append(f'<rect x="0" y="0" width="{W}" height="{H}" fill="#ffffff"/>')
        current = None
        for s in self._scene():
            g = s["group"]
            gk = g[:2] if g else None
            if gk != current:
                if current is not None:
                    o.append("</g>")
                current = gk
                if g is not None:
                    o.append(self._svg_group(p, g))
            o.append(self._svg_shape(p, s))
        if current is not None:
            o.append("</g>")
        o.append("</svg>")
        return "\n".join(o)

    def _svg_group(self, p, g):
        if g[0] == "edge":
            i, e = g[1], g[2]
            cls = "edge highlight" if e["highlight"] else "edge"
            tip = e.get("tip") or ""
            return (f'<g id="{p}-e{i}" class="{cls}" data-src="{escape(str(e["src"]))}" '
                    f'data-dst="{escape(str(e["dst"]))}"><title>{escape(tip)}</title>')
        n = g[2]
        cls = "node " + n.kind + (" highlight" if n.hl else "") + (" wrt" if n.wrt else "")
        return (f'<g id="{p}-n{escape(str(n.key))}" class="{cls}"><title>{escape(n.tip)}'
                f'</title>')

    @staticmethod
    def _svg_shape(p, s):
        k = s["kind"]
        if k == "path":
            pts = s["pts"]
            d = [f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"]
            for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                mx = (x0 + x1) / 2
                d.append(f"C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
            m = "arrow-hl" if s["stroke"] == _HL else "arrow"
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

    def _repr_svg_(self):
        return self.svg(id_prefix=f"zg{next(_ids)}-{os.urandom(4).hex()}")

    # --- DOT --------------------------------------------------------------------------
    def dot(self):
        """Graphviz DOT text of the same graph (for ``dot -Tpng``), with the same labels."""
        def q(s):
            return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'
        o = ["digraph zeroin {", "  rankdir=LR;",
             '  node [fontname="DejaVu Sans", fontsize=11];',
             '  edge [fontname="DejaVu Sans", fontsize=10];']
        label = " \\n".join(s for s in (self.title, self.caption, self.note) if s)
        if label:
            o.append(f"  label={q(label).replace(chr(92) * 2 + 'n', chr(92) + 'n')}; "
                     f"labelloc=t;")
        for n in self._nodes:
            fill, stroke = _COL[n.kind]
            if n.hl:
                stroke = _HL
            text = "\\n".join(t.replace("\\", "\\\\").replace('"', '\\"')
                              for t, _, _ in n.lines)
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
            o.append(f'  {q(n.key)} [label="{text}", {attrs}, fillcolor="{fill}", '
                     f'color="{stroke}", penwidth={pen}];')
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
    def png(self, dpi=200):
        """The picture as PNG bytes, drawn with matplotlib from the same layout."""
        try:
            import matplotlib
            from matplotlib.figure import Figure
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch
            from matplotlib.path import Path as MPath
        except ImportError:
            raise ImportError("draw: PNG output needs matplotlib; install it with "
                              "`pip install zeroin[plots]` (SVG and DOT work without it)"
                              ) from None
        del matplotlib
        import io
        W, H = self.width, self.height
        dpi = min(dpi, 4000 / (W / 100), 4000 / (H / 100))     # keep the file a sane size
        fig = Figure(figsize=(W / 100, H / 100), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, W)
        ax.set_ylim(H, 0)
        ax.axis("off")
        pt = 72 / 100           # one layout pixel is 1/100 inch
        for s in self._scene():
            k = s["kind"]
            if k == "path":
                pts = s["pts"]
                verts, codes = [pts[0]], [MPath.MOVETO]
                for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                    mx = (x0 + x1) / 2
                    verts += [(mx, y0), (mx, y1), (x1, y1)]
                    codes += [MPath.CURVE4] * 3
                ax.add_patch(FancyArrowPatch(
                    path=MPath(verts, codes), arrowstyle="-|>",
                    mutation_scale=9 + 2 * s["sw"], color=s["stroke"],
                    linewidth=s["sw"] * pt, shrinkA=0, shrinkB=0, zorder=1))
            elif k == "rect":
                r = min(s["r"], s["h"] / 2, s["w"] / 2)
                ax.add_patch(FancyBboxPatch(
                    (s["x"] + r, s["y"] + r), s["w"] - 2 * r, s["h"] - 2 * r,
                    boxstyle=f"round,pad={r},rounding_size={r}", facecolor=s["fill"],
                    edgecolor=s["stroke"], linewidth=s["sw"] * pt,
                    linestyle=(0, (5, 3)) if s["dash"] else "-", zorder=2))
            elif k == "ellipse":
                ax.add_patch(Ellipse((s["cx"], s["cy"]), 2 * s["rx"], 2 * s["ry"],
                                     facecolor=s["fill"], edgecolor=s["stroke"],
                                     linewidth=s["sw"] * pt, zorder=2))
            else:
                ax.text(s["x"], s["y"], s["s"], fontsize=s["size"] * pt,
                        fontweight="bold" if s["bold"] else "normal", color=s["color"],
                        ha="center" if s["anchor"] == "middle" else "left", va="center",
                        zorder=3, family="DejaVu Sans")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
        return buf.getvalue()

    # --- files ------------------------------------------------------------------------
    def save(self, path, dpi=200):
        """Write the picture to ``path``: .svg, .dot (or .gv) or .png, chosen by suffix.

        The file is written atomically (a temporary file, then renamed). Returns ``path``.
        """
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        if suffix == ".svg":
            data = self.svg().encode("utf-8")
        elif suffix in (".dot", ".gv"):
            data = self.dot().encode("utf-8")
        elif suffix == ".png":
            data = self.png(dpi=dpi)
        else:
            raise ValueError(f"Drawing.save: unknown file type {suffix!r} in {path!r}; use "
                             f".svg, .png or .dot")
        with atomic_open(path) as f:
            f.write(data)
        return path

    def __repr__(self):
        return (f"<Drawing {len(self._nodes)} nodes, {len(self._edges)} edges"
                + (f"; {self.note}" if self.note else "") + ">")


def draw(output, wrt=None, grads=True, max_nodes=60, title=None, values=True,
         max_depth=8):
    """Draw the graph that computed ``output``: leaves, constants, ops and results.

    Parameters
    ----------
    output : Tensor
        The result whose graph is drawn (right-most node).
    wrt : Tensor, optional
        Highlight the paths from ``output`` down to this tensor; every edge on them is
        labelled with its local derivative (from the op's backward rule), like the
        chapter's figures of the partial derivatives to b and to w.
    grads : bool
        Show each node's gradient d output / d node (from
        :func:`zeroin.autograd.node_grads`, so backward need not have run).
    max_nodes : int
        Larger graphs are summarised: only the nodes nearest the output are drawn, the
        cut-off tensors are marked, and a note says how many nodes are left out.
    max_depth : int
        At most this many ops are drawn along any path back from the output (a deep
        network's graph is summarised by its last steps, not drawn as a mile-long line).
    title : str, optional
    values : bool
        Show forward values. ``values=False, grads=False`` is the bare structure.

    Returns
    -------
    Drawing
        ``.svg()``, ``.dot()``, ``.save(path)`` (.svg/.png/.dot); inline in Jupyter.
    """
    from ..autograd import node_grads
    if not isinstance(output, Tensor):
        raise TypeError(f"draw: output must be a Tensor, got {type(output).__name__}")
    if wrt is not None and not isinstance(wrt, Tensor):
        raise TypeError(f"draw: wrt must be a Tensor, got {type(wrt).__name__}")
    max_nodes, max_depth = int(max_nodes), int(max_depth)
    if max_depth < 1:
        raise ValueError(f"draw: max_depth must be at least 1, got {max_depth}")
    if max_nodes < 3:
        raise ValueError(f"draw: max_nodes must be at least 3, got {max_nodes}")
    names = node_names(output)
    order = toposort([output], include_leaves=True)
    on = names[id(output)]
    g = {}
    caption = []
    if grads and output.requires_grad:
        seed = None if output.data.size == 1 else np.ones_like(output.data)
        g = node_grads(output, seed)
        if seed is not None:
            caption.append(f"gradients are of sum({on})")

    # which tensors to draw: breadth first from the output, whole ops at a time
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
    n_total = len(order) + sum(1 for t in order if t.grad_fn is not None)
    n_drawn = len(keep) + len(expanded)
    note = None
    if n_drawn < n_total:
        note = (f"... {n_total - n_drawn} more nodes not drawn: the graph has {n_total} "
                f"nodes (tensors and ops); these are the {n_drawn} nearest {on}, and dashed "
                f"boxes are computed from the hidden part")

    reach = set()
    if wrt is not None:
        reach.add(id(wrt))
        for t in order:
            if t.grad_fn is not None and any(id(p) in reach for p in t.grad_fn.inputs):
                reach.add(id(t))
        wn = names.get(id(wrt), wrt.name or "wrt")
        if id(wrt) not in names:
            caption.append(f"{on} does not depend on {wn}")
        elif id(wrt) not in keep:
            caption.append(f"{wn} is in the part not drawn")
        else:
            caption.append(f"red: the paths from {on} to {wn}; edge numbers are the local "
                           f"derivatives d(op result)/d(input) along them")
    if grads and g:
        caption.insert(0, f"grad = d{on}/d(node)")

    keys = {id(t): f"n{i}" for i, t in enumerate(order) if id(t) in keep}
    nodes, edges = [], []
    for t in order:
        k = id(t)
        if k not in keep:
            continue
        nm = names[k]
        key = keys[k]
        if t.grad_fn is None:
            kind = "param" if t.requires_grad else "const"
        else:
            kind = "output" if t is output else "result"
        lines = []
        if kind == "const" and t.data.size <= 3 and t.data.ndim <= 1 and not t.name:
            lines.append((short(t.data), True, "#111827"))
        else:
            lines.append((nm, True, "#111827"))
            if values:
                lines.append(((short(t.data) if t.data.size > 1 else
                               "= " + short(t.data)), False, "#111827"))
        if grads and k in g and kind != "const":
            lines.append((f"grad {short(g[k])}", True, _GRAD))
        truncated = t.grad_fn is not None and k not in expanded
        if truncated:
            lines.append(("(inputs not drawn)", False, "#6b7280"))
        tip = f"{nm}: shape {tuple(t.shape)}, value {short(t.data)}"
        if k in g:
            tip += f", d{on}/d{nm} = {short(g[k])}"
        nodes.append(_Node(key, kind, lines,
                           hl=k in reach, wrt=t is wrt, truncated=truncated, tip=tip))
        if k in expanded:
            fn = t.grad_fn
            sym = fn.label()
            sym = _SYMBOLS.get(sym, sym)
            if len(sym) > 18:
                sym = sym[:17] + "\u2026"
            okey = key + "op"
            nodes.insert(len(nodes) - 1, _Node(okey, "op", [(sym, True, "#111827")],
                                               hl=k in reach, tip=f"{fn.name} -> {nm}"))
            for inp in {id(i): i for i in fn.inputs}.values():
                hl = id(inp) in reach and inp.requires_grad
                label, etip = "", ""
                if hl:
                    inn = names[id(inp)]
                    if t.data.size == 1 and inp.data.size == 1:
                        d = local_vjp(t, inp, np.ones_like(t.data))
                        label = _n(0 if d is None else np.asarray(d).reshape(()))
                        etip = f"d{nm}/d{inn} = {label}"
                    else:
                        m = int(np.prod(t.shape)) if t.shape else 1
                        n_ = int(np.prod(inp.shape)) if inp.shape else 1
                        label = f"J {m}x{n_}"
                        etip = f"d{nm}/d{inn}: a {m}x{n_} Jacobian"
                edges.append(dict(src=keys[id(inp)], dst=okey, src_name=names[id(inp)],
                                  dst_name=f"{sym} ({nm})", highlight=hl, label=label,
                                  tip=etip))
            edges.append(dict(src=okey, dst=key, src_name=f"{sym} ({nm})", dst_name=nm,
                              highlight=k in reach, label="", tip=""))
    return Drawing(nodes, edges, note, title, "; ".join(caption) if caption else None)
