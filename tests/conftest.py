"""Shared test helpers: random inputs, hypothesis strategies, first- and second-order checks."""
import os
import sys

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# Let `pytest` run from a plain checkout as well as from an installed package.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import zeroin  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a long-running test (still part of CI)")


@pytest.fixture
def f32():
    """zeroin in float32, PyTorch's default dtype (the audits of books and courses); the
    default dtype goes back to float64 after each test (below)."""
    zeroin.set_default_dtype(zeroin.float32)
    yield


@pytest.fixture(autouse=True)
def _clean_engine_state():
    """Every test starts with grad mode on, anomaly off and float64 as the default dtype."""
    from zeroin import function
    yield
    zeroin.set_default_dtype(np.float64)
    function.anomaly.enabled = function.anomaly.detect = False
    function.anomaly.tracer = None
    zeroin._tensor._mode.enabled = True


# --- inputs ------------------------------------------------------------------------------

def values(rng, shape, kind="any"):
    """Random float64 values of ``shape`` suited to an op's domain.

    any: uniform in [-2, 2]; pos: [0.3, 2]; kink: |x| in [0.1, 2] (away from 0, where
    abs/relu/leaky_relu bend); clip: away from 0 and from the clip limits +-1.
    """
    if kind == "any":
        return rng.uniform(-2, 2, shape)
    if kind == "pos":
        return rng.uniform(0.3, 2, shape)
    if kind in ("kink", "clip"):
        mag = rng.uniform(0.1, 2, shape)
        if kind == "clip":   # keep clear of the limits at +-1
            mag = np.where(np.abs(mag - 1) < 0.1, mag + 0.25, mag)
        return mag * rng.choice([-1.0, 1.0], shape)
    raise ValueError(kind)


def leaf(a, name=None):
    return zeroin.tensor(np.asarray(a, dtype=np.float64), requires_grad=True, name=name)


# --- hypothesis strategies ---------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)
# two shapes that broadcast together, e.g. (3, 1) and (2,), or () and (2, 3)
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                    min_side=1, max_side=3)
broadcast_triples = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3,
                                                      min_side=1, max_side=3)


# --- checks ------------------------------------------------------------------------------

def check_first(fn, *arrays):
    """gradcheck ``fn`` at float64 leaves made from ``arrays``."""
    ts = [leaf(a) for a in arrays]
    assert zeroin.gradcheck(fn, ts) is True


def check_second(fn, *arrays):
    """Check the derivative of the gradient (second order, ``create_graph=True``).

    ``L(x) = sum(r * f(x)) + sum(f(x)**2) / 2`` is differentiated with create_graph; the
    resulting gradient, a function of the inputs, is gradchecked against finite differences.
    The first term exercises each op's second derivative, the second makes every backward
    rule differentiate its incoming gradient ``g`` too (which is what linear ops rely on).
    """
    ts = [leaf(a) for a in arrays]
    out_shape = fn(*ts).shape
    r = zeroin.tensor(np.random.default_rng(1).standard_normal(out_shape))

    def gradient(*xs):
        out = fn(*xs)
        loss = (out * r).sum() + (out * out).sum() * 0.5
        ds = zeroin.grad(loss, xs, create_graph=True)
        assert all(d.shape == x.shape for d, x in zip(ds, xs))
        return zeroin.concatenate([d.reshape(-1) for d in ds])

    assert zeroin.gradcheck(gradient, ts) is True


def check_both(fn, *arrays):
    check_first(fn, *arrays)
    check_second(fn, *arrays)


def chapter_graph():
    """The chapter's graph z = x*y, x = 2w + b, y = b + 1 at w = 3, b = 4, named."""
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    z = x * y
    x.name, y.name, z.name = "x", "y", "z"
    return w, b, x, y, z


def low_contrast(fig, minimum=3.0):
    """What ``fig`` draws (lines, markers, texts, filled shapes) in a colour whose WCAG
    contrast ratio with the figure's background is under ``minimum`` (3: large text and
    graphics): a list of (what, ratio), empty when everything reads. Colours with alpha
    are blended first. A text in a box (``bbox=``) is measured against the box; a marker
    filled with the background's colour (a knocked-out, hollow one) by its edge; a filled
    shape (bar, patch, fill_between) by its face, or by its edge where that reads. The
    axes' grid lines are not measured: they sit behind the data, faint on purpose."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.text import Text
    bg = np.array(to_rgba(fig.get_facecolor())[:3])

    def blend(c, under):
        rgba = to_rgba(c)
        return rgba[3] * np.array(rgba[:3]) + (1 - rgba[3]) * under

    def lum(rgb):
        lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(lin @ [0.2126, 0.7152, 0.0722])

    def ratio(c, under=bg):
        a, b = sorted((lum(blend(c, under)), lum(under)))
        return (b + 0.05) / (a + 0.05)

    def under(text):                    # what a text is drawn on: its box, or the figure
        box = text.get_bbox_patch()
        return bg if box is None else blend(box.get_facecolor(), bg)

    drawn = []
    grid = {id(g) for ax in fig.axes for g in ax.get_xgridlines() + ax.get_ygridlines()}
    for o in fig.findobj(Line2D):
        if id(o) in grid:               # behind the data, faint on purpose
            continue
        if o.get_visible() and o.get_linestyle() not in ("None", "none", "", " "):
            drawn.append((f"line {o.get_label()!r}", o.get_color()))
        if o.get_visible() and o.get_marker() not in (None, "None", "none", ""):
            face = o.get_markerfacecolor()      # its edge only for a hollow marker (an
            hollow = (isinstance(face, str) and face == "none"    # edge else is a halo)
                      or np.allclose(to_rgba(face)[:3], bg))
            drawn.append((f"marker {o.get_label()!r}",
                          o.get_markeredgecolor() if hollow else face))
    drawn = [(what, c, bg) for what, c in drawn]
    drawn += [(f"contour of {o}", c, bg) for o in fig.findobj(LineCollection)
              for c in o.get_edgecolor()]
    drawn += [(f"text {o.get_text()!r}", o.get_color(), under(o)) for o in fig.findobj(Text)
              if o.get_visible() and o.get_text().strip()]
    drawn += [(what, c, bg) for what, c in _filled_shapes(fig, ratio, minimum)]
    return [(what, round(ratio(c, u), 2)) for what, c, u in drawn if ratio(c, u) < minimum]


def _filled_shapes(fig, ratio, minimum):
    """``[(what, colour)]`` for the filled shapes ``fig`` draws in its axes: patches (bars,
    axvspan, polygons) and filled collections (fill_between), each by its face,
    or by its edge where the face does not read but a drawn edge does. Not measured: the
    figure's and axes' own backgrounds, spines, legend frames, text boxes, colour bars'
    and images' parts, and filled contours (regions behind the data)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.contour import ContourSet
    from matplotlib.spines import Spine
    out = []
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        for o in ax.patches:
            if not o.get_visible() or isinstance(o, Spine) or not o.get_fill():
                continue
            face, edge = o.get_facecolor(), o.get_edgecolor()
            drawn_edge = o.get_linewidth() > 0 and edge[3] > 0
            use = edge if drawn_edge and ratio(face) < minimum <= ratio(edge) else face
            if face[3] > 0:
                out.append((f"{type(o).__name__} {o.get_label()!r}", use))
        for o in ax.collections:
            if (isinstance(o, PolyCollection) and not isinstance(o, ContourSet)
                    and o.get_visible()):
                edges = o.get_edgecolor() if np.any(o.get_linewidth()) else []
                for k, face in enumerate(o.get_facecolor()):
                    edge = edges[k % len(edges)] if len(edges) else None
                    use = (edge if edge is not None and edge[3] > 0 and
                           ratio(face) < minimum <= ratio(edge) else face)
                    if face[3] > 0:
                        out.append((f"{type(o).__name__} {o.get_label()!r}", use))
    return out


def drawn_texts(fig):
    """``[(text, display box)]`` for every non-empty text ``fig`` draws (titles, axis and
    tick labels in view, annotations, legends, colour bars), measured as its PNG is written:
    at the save dpi, after the lessons' save has settled the layout (in the zeroin.viz
    context in effect)."""
    import matplotlib
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    from zeroin.viz import figures as F
    F.render(fig, ("png",))
    with F.style():
        fig.set_dpi(matplotlib.rcParams["savefig.dpi"])
        fig.draw_without_rendering()
        r = fig._get_renderer()
        ticks, drawn = set(), []
        for axis in fig.findobj(Axis):
            for t in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update((id(t.label1), id(t.label2)))
            if not axis.get_visible():          # a twin's hidden axis: its label is not drawn
                ticks.update((id(axis.label), id(axis.offsetText)))
            if axis.get_visible() and axis.axes.get_visible() and axis.axes.axison:
                drawn += [lab for t in axis._update_ticks() for lab in (t.label1, t.label2)
                          if lab.get_visible()]
        drawn += [t for t in fig.findobj(Text) if id(t) not in ticks and t.get_visible()
                  and not (t.axes is not None and not t.axes.get_visible())]
        return [(t.get_text(), _ink_box(t, t.get_window_extent(r), fig.dpi)) for t in drawn
                if t.get_text().strip()]


def _ink_box(text, box, dpi):
    """A text's box, less the room under the baseline (DejaVu Sans' descent, 0.236 em)
    where it has one line and no letter that reaches down there (digits, capitals, signs):
    two such labels whose boxes touch there (an x and a y tick label at the axes' corner)
    do not touch in ink."""
    from matplotlib.transforms import Bbox
    s = text.get_text()
    if "\n" in s or any(c in s for c in "gjpqy,;()[]{}|_$Q/@"):
        return box
    d = 0.2 * text.get_fontsize() * dpi / 72
    angle = text.get_rotation() % 360
    if angle == 0:
        return Bbox([[box.x0, box.y0 + d], [box.x1, box.y1]])
    if angle == 90:                       # the baseline on the right
        return Bbox([[box.x0, box.y0], [box.x1 - d, box.y1]])
    return box


def text_problems(fig, slack=2.0):
    """What keeps ``fig``'s text from being read: texts that leave the canvas, and pairs of
    texts whose boxes overlap (by more than ``slack`` pixels); empty when all reads."""
    boxes = drawn_texts(fig)
    w, h = fig.bbox.width, fig.bbox.height
    out = [f"off the canvas: {s!r}" for s, b in boxes
           if b.x0 < -1 or b.y0 < -1 or b.x1 > w + 1 or b.y1 > h + 1]
    for i, (s, a) in enumerate(boxes):
        for t, b in boxes[i + 1:]:
            if min(a.x1, b.x1) - max(a.x0, b.x0) > slack and \
                    min(a.y1, b.y1) - max(a.y0, b.y0) > slack:
                out.append(f"overlap: {s!r} and {t!r}")
    return out
