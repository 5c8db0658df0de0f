"""zeroin.draw: graph pictures as SVG, DOT and PNG, with the chain rule's paths."""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zeroin
from conftest import chapter_graph
from zeroin.autograd import node_grads

SVG = "{http://www.w3.org/2000/svg}"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


seed_graph = chapter_graph


def _edge_labels(d):
    return {(e["src_name"], e["dst_name"]): e["label"] for e in d.edges if e["highlight"]}


def test_paths_to_b_are_highlighted_with_local_derivatives():
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=b)
    lab = _edge_labels(d)
    # x = 2w + b and y = b + 1: both local derivatives to b are 1
    assert lab[("b", "+ (x)")] == "1" and lab[("b", "+ (y)")] == "1"
    # dz/dx = y and dz/dy = x, read off the forward values
    assert lab[("x", "\u00d7 (z)")] == str(int(y.item()))
    assert lab[("y", "\u00d7 (z)")] == str(int(x.item()))
    # w's branch is not on a path to b
    assert not any(e["highlight"] for e in d.edges if e["src_name"] == "w")
    texts = {n["key"]: n["text"] for n in d.nodes}
    b_node = next(n for n in d.nodes if n["text"][0] == "b")
    assert b_node["highlight"] and "grad 15" in b_node["text"]
    assert f"grad {int(node_grads(z)[id(x)])}" in next(
        t for t in texts.values() if t[0] == "x")


def test_paths_to_w():
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=w)
    lab = _edge_labels(d)
    assert lab[("w", "\u00d7 (mul1)")] == "2"
    assert lab[("mul1", "+ (x)")] == "1"
    assert lab[("x", "\u00d7 (z)")] == "5"
    assert ("b", "+ (x)") not in lab and ("y", "\u00d7 (z)") not in lab


def test_caption_counts_the_paths():
    """One path from z to w (the chapter's flow4), two from z to b (flow3): the caption
    under the picture says which, not 'the paths' for both."""
    w, b, x, y, z = seed_graph()
    assert "red: the path from z to w;" in zeroin.draw(z, wrt=w).caption
    assert "red: the 2 paths from z to b;" in zeroin.draw(z, wrt=b).caption


def test_caption_of_a_swapped_call_says_which_comes_first():
    w, b, x, y, z = seed_graph()
    caption = zeroin.draw(w, wrt=z).caption
    assert caption.endswith("w does not depend on z: it is the other way round, z is "
                            "computed from w; the output comes first: draw(z, wrt=w)")
    q = zeroin.tensor(1.0, requires_grad=True, name="q")
    assert zeroin.draw(z, wrt=q).caption.endswith("z does not depend on q")


def _parse_svg(s):
    root = ET.fromstring(s)
    assert root.tag == SVG + "svg"
    return root


def test_svg_is_valid_and_carries_the_labels():
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=b, title="flow3")
    root = _parse_svg(d.svg())
    assert float(root.get("width")) > 100 and float(root.get("height")) > 100
    hl = [g for g in root.iter(SVG + "g") if "highlight" in g.get("class", "")
          and g.get("class", "").startswith("edge")]
    labels = sorted(t.text for g in hl for t in g.iter(SVG + "text"))
    assert labels == ["1", "1", "10", "5"]
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "flow3" in texts and "= 50" in texts and "grad 15" in texts
    # every marker reference points at a defined marker
    ids = {e.get("id") for e in root.iter() if e.get("id")}
    for p in root.iter(SVG + "path"):
        ref = p.get("marker-end")
        if ref:
            assert ref[5:-1] in ids


def test_structure_only_and_values_only():
    w, b, x, y, z = seed_graph()
    plain = [t.text for t in _parse_svg(zeroin.draw(z, grads=False, values=False).svg())
             .iter(SVG + "text")]
    assert "x" in plain and "= 10" not in plain and not any("grad" in t for t in plain)
    vals = [t.text for t in _parse_svg(zeroin.draw(z, grads=False).svg()).iter(SVG + "text")]
    assert {"= 10", "= 5", "= 50"} <= set(vals) and not any("grad" in t for t in vals)


def test_gradients_same_before_and_after_backward():
    w, b, x, y, z = seed_graph()
    before = zeroin.draw(z, wrt=b).svg(id_prefix="p")
    z.backward()
    after = zeroin.draw(z, wrt=b).svg(id_prefix="p")
    assert before == after


def test_dot_text():
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=b)
    dot = d.dot()
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("->") == len(d.edges) == 12
    assert dot.count("{") == dot.count("}")
    for e in d.edges:
        assert f'"{e["src"]}"' in dot and f'"{e["dst"]}"' in dot
    edge_lines = [line for line in dot.splitlines() if "->" in line]
    assert sum('label="1"' in line for line in edge_lines) == 2
    assert sum('label="10"' in line for line in edge_lines) == 1


def test_ids_unique_across_drawings():
    w, b, x, y, z = seed_graph()
    d1, d2 = zeroin.draw(z, wrt=b), zeroin.draw(z, wrt=w)

    def ids(s):
        found = [e.get("id") for e in _parse_svg(s).iter() if e.get("id")]
        assert len(found) == len(set(found))
        return set(found)
    a, b_, c = ids(d1._repr_svg_()), ids(d2._repr_svg_()), ids(d1._repr_svg_())
    assert not (a & b_) and not (a & c) and not (ids(d1.svg()) & ids(d2.svg()))


def test_save_svg_dot_png(tmp_path):
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=w, title="flow4")
    d.save(tmp_path / "f.svg")
    d.save(tmp_path / "f.dot")
    _parse_svg((tmp_path / "f.svg").read_text())
    assert (tmp_path / "f.dot").read_text() == d.dot()
    with pytest.raises(ValueError, match=".svg, .png or .dot"):
        d.save(tmp_path / "f.jpg")
    pytest.importorskip("matplotlib")
    d.save(tmp_path / "f.png")
    data = (tmp_path / "f.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    assert sorted(os.listdir(tmp_path)) == ["f.dot", "f.png", "f.svg"]   # no temp files


def test_svg_and_dot_do_not_import_matplotlib(tmp_path):
    code = f"""
import sys
import zeroin
w = zeroin.tensor(3.0, requires_grad=True, name="w")
b = zeroin.tensor(4.0, requires_grad=True, name="b")
z = (2 * w + b) * (b + 1)
d = zeroin.draw(z, wrt=b)
d.svg(); d.dot(); d._repr_svg_()
d.save({str(tmp_path / 'a.svg')!r}); d.save({str(tmp_path / 'a.dot')!r})
str(zeroin.explain(z, b))
assert "matplotlib" not in sys.modules, "matplotlib was imported"
sys.modules["matplotlib"] = None          # as if it were not installed
try:
    d.save({str(tmp_path / 'a.png')!r})
except ImportError as e:
    assert "pip install zeroin[plots]" in str(e), e
else:
    raise SystemExit("no ImportError")
print("ok")
"""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    assert not (tmp_path / "a.png").exists()


def _deep_mlp(layers=40):
    rng = np.random.default_rng(1)
    h = zeroin.tensor(rng.normal(size=(8, 3)), name="X")
    for i in range(layers):
        W = zeroin.tensor(rng.normal(size=(h.shape[1], 4)) * 0.5, requires_grad=True,
                          name=f"W{i}")
        c = zeroin.tensor(np.zeros(4), requires_grad=True, name=f"b{i}")
        h = (h @ W + c).tanh()
    return ((h - 1.0) ** 2).mean()


def test_large_graph_is_summarised():
    loss = _deep_mlp()
    n_graph = len(zeroin.graph.toposort([loss], include_leaves=True))
    assert n_graph > 200
    d = zeroin.draw(loss, max_nodes=40)
    assert len(d.nodes) <= 40
    assert "more nodes not drawn" in d.note
    assert any(n["truncated"] for n in d.nodes)
    assert d.width < 3000 and d.height < 1500
    _parse_svg(d.svg())
    # a wide graph too: the sum of many terms
    x = zeroin.tensor(1.0, requires_grad=True, name="x")
    s = x
    for i in range(200):
        s = s + x * float(i)
    d = zeroin.draw(s, max_nodes=25)
    assert len(d.nodes) <= 25 and "more nodes not drawn" in d.note


def test_tensor_nodes_show_summaries_and_jacobians():
    rng = np.random.default_rng(0)
    W = zeroin.tensor(rng.normal(size=(3, 4)), requires_grad=True, name="W")
    X = zeroin.tensor(rng.normal(size=(5, 3)), name="X")
    loss = (X @ W).tanh().mean()
    d = zeroin.draw(loss, wrt=W)
    w_node = next(n for n in d.nodes if n["text"][0] == "W")
    assert w_node["text"][1].startswith("3x4, mean")
    assert _edge_labels(d)[("W", "@ (matmul1)")] == "J 20x12"
    assert all(len(t) < 60 for n in d.nodes for t in n["text"])


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 50), st.integers(0, 50)),
                min_size=1, max_size=14))
def test_layout_never_overlaps_nodes(program):
    a = zeroin.tensor(0.5, requires_grad=True, name="a")
    c = zeroin.tensor(-1.0, requires_grad=True, name="c")
    nodes = [a, c]
    for op, i, j in program:
        u, v = nodes[i % len(nodes)], nodes[j % len(nodes)]
        nodes.append([lambda: u + v, lambda: u * v, lambda: (u * 2).sin(),
                      lambda: u - 3.0][op]())
    out = nodes[-1] if nodes[-1].grad_fn is not None else a * 1.0
    d = zeroin.draw(out, wrt=a)
    boxes = [(d.pos[n.key], n.w, n.h) for n in d._nodes]
    for i in range(len(boxes)):
        (x1, y1), w1, h1 = boxes[i]
        assert 0 <= x1 - w1 / 2 and x1 + w1 / 2 <= d.width
        assert 0 <= y1 - h1 / 2 and y1 + h1 / 2 <= d.height
        for j in range(i):
            (x2, y2), w2, h2 = boxes[j]
            assert abs(x1 - x2) * 2 >= w1 + w2 or abs(y1 - y2) * 2 >= h1 + h2


def _neuron():
    from zeroin import nn
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    x = zeroin.tensor([[0.5, -1.0]])
    big = zeroin.tensor(np.arange(6.0).reshape(2, 3))              # a larger constant
    loss = ((model(x) - 1.0) ** 2).mean() + (big * model(x)).sum() * 0.0
    return model, loss


def test_svg_scales_to_its_container():
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=b)
    root = _parse_svg(d.svg())
    W, H = int(root.get("width")), int(root.get("height"))
    assert root.get("viewBox") == f"0 0 {W} {H}"
    style = root.get("style").replace(" ", "")
    assert "max-width:100%" in style and "height:auto" in style


def test_top_to_bottom_layout():
    model, loss = _neuron()
    lr = zeroin.draw(loss, wrt=model[0].weight, fit=None)          # one long row
    tb = zeroin.draw(loss, wrt=model[0].weight, rankdir="TB")
    assert tb.rankdir == "TB" and zeroin.draw(loss, direction="TB").rankdir == "TB"
    assert lr.width / lr.height > 3 and tb.height > tb.width
    out_key = next(n["key"] for n in tb.nodes if n["kind"] == "output")
    ys = {n["key"]: tb.pos[n["key"]][1] for n in tb.nodes}
    assert ys[out_key] == max(ys.values())                       # the output at the bottom
    for e, pts in zip(tb.edges, tb.routes):                      # every edge points down
        assert pts[-1][1] > pts[0][1]
    assert "rankdir=TB;" in tb.dot() and "rankdir=LR;" in lr.dot()
    d = next(p.get("d") for p in _parse_svg(tb.svg()).iter(SVG + "path") if "C" in p.get("d"))
    start = d[1:].split()[0].split(",")
    control = d.split("C")[1].split()[0].split(",")
    assert control[0] == start[0]                      # an edge leaves its node straight down
    with pytest.raises(ValueError, match="'LR' .* or 'TB'"):
        zeroin.draw(loss, rankdir="BT")
    with pytest.raises(ValueError, match="not both"):
        zeroin.draw(loss, rankdir="TB", direction="LR")


def _png_size(data):
    import struct
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_png_width_and_aspect_for_slides(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss = _neuron()
    d = zeroin.draw(loss)
    assert _png_size(d.png(width=800))[0] == 800
    w, h = _png_size(d.png(width=1600, aspect=16 / 9))
    assert w == 1600 and abs(h - 900) <= 1
    d.save(tmp_path / "tall.png", width=600, aspect=0.75)
    w, h = _png_size((tmp_path / "tall.png").read_bytes())
    assert w == 600 and abs(h - 800) <= 1
    with pytest.raises(ValueError, match="aspect"):
        d.png(aspect=0)


def test_svg_width_and_aspect(tmp_path):
    model, loss = _neuron()
    d = zeroin.draw(loss, fit=None)                    # one long row, padded to 16:9
    root = _parse_svg(d.svg(width=800, aspect=16 / 9))
    assert root.get("width") == "800" and root.get("height") == "450"
    x0, y0, W, H = map(float, root.get("viewBox").split())
    assert W / H == pytest.approx(16 / 9, rel=1e-3) and x0 == 0 and y0 < 0   # padded
    assert H == pytest.approx(d.width * 9 / 16, rel=1e-3)
    d.save(tmp_path / "g.svg", width=500)
    assert _parse_svg((tmp_path / "g.svg").read_text()).get("width") == "500"
    with pytest.raises(ValueError, match="no size"):
        d.save(tmp_path / "g.dot", width=500)
    with pytest.raises(ValueError, match="width must be a positive number"):
        d.svg(width=-3)


def test_parameters_named_by_module_path_and_constants_by_value():
    model, loss = _neuron()
    d = zeroin.draw(loss)
    first = [n["text"][0] for n in d.nodes if n["kind"] in ("param", "const")]
    assert {"0.weight", "0.bias", "2.weight", "2.bias"} <= set(first)
    assert "[[0.5, -1]]" in first and "1" in first
    # the larger array without a gradient is data: named input0, with its summary
    assert [n["text"] for n in d.nodes if n["text"][0] == "input0"] == [["input0",
                                                                        "2x3, mean 2.5"]]
    assert not any(t.startswith(("weight_", "bias_", "c0", "c1")) for t in first)
    from zeroin import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
            self.scale = nn.Parameter(np.ones(1), name="my scale")      # a name given
    net = Net()
    names = {n: p.name for n, p in net.named_parameters()}
    assert names == {"scale": "my scale", "body.0.weight": "body.0.weight",
                     "body.0.bias": "body.0.bias", "body.2.weight": "body.2.weight",
                     "body.2.bias": "body.2.bias"}
    v = zeroin.tensor(2.0, requires_grad=True)
    d = zeroin.draw(v * 3, model={"speed": v})
    assert "speed" in [n["text"][0] for n in d.nodes]


def test_left_out_note_says_which_ops():
    d = zeroin.draw(_deep_mlp(), max_nodes=40)
    assert "tanh" in d.note and "matmul" in d.note and "leaves" in d.note
    assert "the steps matmul <- tanh <- add repeat 38 times" in d.note    # the 40 layers
    root = _parse_svg(d.svg())
    notes = " ".join(t.text for t in root.iter(SVG + "text") if t.get("class") == "note")
    assert "more nodes not drawn" in notes and "nearest" in notes     # wrapped, all there


def _boxes(d):
    """(edge-label rects, node rects) as (x0, y0, x1, y1), from what the SVG and PNG draw."""
    labels, nodes = [], []
    for s in d._scene():
        g = s["group"]
        if s["kind"] == "rect" and g and g[0] == "edge":
            labels.append((s["x"], s["y"], s["x"] + s["w"], s["y"] + s["h"]))
        elif s["kind"] == "rect" and g and g[0] == "node":
            nodes.append((s["x"], s["y"], s["x"] + s["w"], s["y"] + s["h"]))
        elif s["kind"] == "ellipse":
            nodes.append((s["cx"] - s["rx"], s["cy"] - s["ry"], s["cx"] + s["rx"],
                          s["cy"] + s["ry"]))
    return labels, nodes


def _hit(p, q):
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


@pytest.mark.parametrize("rankdir", ["LR", "TB"])
def test_edge_labels_cover_no_node_and_no_other_label(rankdir):
    # long numbers on two edges that meet at one op (and on an edge as wide as the gap
    # between ranks): every label stays readable, clear of nodes and of each other
    a = zeroin.tensor(123456789.0, requires_grad=True, name="a")
    b = zeroin.tensor(-2345678.0, requires_grad=True, name="b")
    t = zeroin.tensor(1e-9, requires_grad=True, name="tiny")
    p = a * b
    out = (p * a + t * a) * p
    for wrt in (a, t):
        d = zeroin.draw(out, wrt=wrt, rankdir=rankdir)
        labels, nodes = _boxes(d)
        assert len(labels) >= 3
        for i, lab in enumerate(labels):
            assert not any(_hit(lab, n) for n in nodes), (rankdir, lab)
            assert not any(_hit(lab, other) for other in labels[:i]), (rankdir, lab)
            assert 0 <= lab[0] and lab[2] <= d.width and 0 <= lab[1] and lab[3] <= d.height


def test_save_pdf_for_slides_and_bad_dpi(tmp_path):
    pytest.importorskip("matplotlib")
    import re
    w, b, x, y, z = seed_graph()
    d = zeroin.draw(z, wrt=b, title="dz/db")
    d.save(tmp_path / "g.pdf")
    data = (tmp_path / "g.pdf").read_bytes()
    assert data[:5] == b"%PDF-"
    box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", data).group(1).split()]
    # one layout pixel is 1/100 inch = 0.72 pt: the page is the drawing's natural size
    assert box[2] == pytest.approx(d.width * 0.72, abs=1)
    assert box[3] == pytest.approx(d.height * 0.72, abs=1)
    wide = d.pdf(aspect=16 / 9)
    box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", wide).group(1).split()]
    assert box[2] / box[3] == pytest.approx(16 / 9, rel=1e-3)
    with pytest.raises(ValueError, match="vector"):
        d.save(tmp_path / "h.pdf", width=800)
    for bad in (0, -100, "high"):
        with pytest.raises(ValueError, match="dpi must be a positive number"):
            d.png(dpi=bad)
    assert sorted(os.listdir(tmp_path)) == ["g.pdf"]


def test_digits_sets_the_precision_of_every_number_drawn():
    """The solve lesson's first step (b = 4 + 10/15, z = 60.4444) shows as 60.44 by default
    and to 6 digits with digits=6, in the values, the gradients and the edges' local
    derivatives alike."""
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4 + 10 / 15, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    z = x * y
    x.name, y.name, z.name = "x", "y", "z"
    short_ = " ".join(t for n in zeroin.draw(z, wrt=b).nodes for t in n["text"])
    long_ = zeroin.draw(z, wrt=b, digits=6)
    text = " ".join(t for n in long_.nodes for t in n["text"])
    assert "= 60.44" in short_ and "= 60.4444" not in short_
    assert "= 60.4444" in text and "= 4.66667" in text and "grad 16.3333" in text
    assert "grad 16.33 " in short_                              # dz/db = x + y
    labels = [e["label"] for e in long_.edges if e["label"]]
    assert "5.66667" in labels and "10.6667" in labels        # dz/dx = y, dz/dy = x
    for bad in (0, 18, 2.5, True, "4"):
        with pytest.raises(ValueError, match="draw: digits must be a whole number from 1 to 17"):
            zeroin.draw(z, digits=bad)


def test_dark_theme_for_dark_slides(tmp_path):
    """theme='dark': a dark background, light text and lines, in the SVG and the PNG (its
    corner pixel); no colour of the light palette is left in the SVG; default unchanged."""
    import re
    from zeroin.viz import draw as D
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    z = (2 * w + b) * (b + 1)
    light = zeroin.draw(z, wrt=b).svg()
    dark = zeroin.draw(z, wrt=b, theme="dark", title="t").svg()
    assert 'fill="#ffffff"' in light and D._INK in light
    used = set(re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', dark))
    assert used and not used & set(D._THEMES["dark"])          # every light colour mapped
    assert 'fill="#0f172a"' in dark and D._THEMES["dark"][D._INK] in dark
    pytest.importorskip("matplotlib")
    from PIL import Image
    path = zeroin.draw(z, theme="dark").save(str(tmp_path / "g.png"))
    corner = Image.open(path).convert("RGB").getpixel((1, 1))
    assert corner == (0x0f, 0x17, 0x2a)
    with pytest.raises(ValueError, match="draw: theme must be 'light' or 'dark', got 'blue'"):
        zeroin.draw(z, theme="blue")


def _labels_over_other_edges(d):
    """The edge numbers whose box covers a point of another edge's curve."""
    from zeroin.viz import draw as D
    bad = []
    for i, (x, y) in d._spots.items():
        hw = D._label_w(d.edges[i]["label"]) / 2
        for j, pts in enumerate(d.routes):
            p0, hits = pts[0], False
            for seg in D._curve(pts, d.rankdir == "TB"):
                hits |= any(x - hw < px < x + hw and y - 10 < py < y + 10
                            for px, py in (D._on_curve(p0, seg, t)
                                           for t in np.linspace(0, 1, 50)))
                p0 = seg[-1]
            if j != i and hits:
                bad.append((d.edges[i]["label"], d.edges[j]["src"], d.edges[j]["dst"]))
    return bad


def test_an_edge_number_sits_on_no_other_edge():
    """Each local derivative on the path is written clear of the other edges: the 2-2-1
    MLP's 'J 2x4' sat where its input's and bias's edges meet the linear op."""
    from zeroin import nn
    w, b, _, _, z = chapter_graph()
    zeroin.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
    out = mlp(zeroin.tensor([[0.5, -1.0]])).sum()
    wn = zeroin.tensor([0.5, -0.3], requires_grad=True, name="w")
    neuron = zeroin.tanh((wn * zeroin.tensor([1.0, 2.0])).sum()
                         + zeroin.tensor(0.1, requires_grad=True))
    for d in (zeroin.draw(z, wrt=b), zeroin.draw(z, wrt=w),
              zeroin.draw(out, model=mlp, wrt=mlp[0].weight),
              zeroin.draw(out, model=mlp, wrt=mlp[2].weight), zeroin.draw(neuron, wrt=wn)):
        assert any(e["label"] for e in d.edges)
        assert _labels_over_other_edges(d) == []



def test_a_tensor_without_a_graph_says_why_it_is_one_node():
    x = zeroin.tensor(2.0, requires_grad=True, name="x")
    d = zeroin.draw(x)
    assert len(d.nodes) == 1 and not d.edges
    assert d.caption.startswith("x is a leaf (made, not computed), so its graph is this one")
    with zeroin.no_grad():
        y = x * 3
    for t in (y, zeroin.ones(3)):
        d = zeroin.draw(t)
        assert len(d.nodes) == 1 and d.nodes[0]["kind"] == "const"
        assert d.caption.startswith("this tensor has no graph: it does not require grad")
        assert "outside `with zeroin.no_grad():`" in d.caption
        drawn = " ".join(e.text for e in _parse_svg(d.svg()).iter(SVG + "text"))
        assert "this tensor has no graph" in drawn and "no_grad():`" in drawn
    y.name = "y"
    assert zeroin.draw(y).caption.startswith("y has no graph")
    with pytest.raises(ValueError, match="compute it outside `with zeroin.no_grad"):
        zeroin.explain(y, x)                           # explain says the same
    assert "no graph" not in (zeroin.draw(2 * x).caption or "")


# --- every default picture fits a slide --------------------------------------------------

def _slide_graphs():
    """The audit's table: the chapter's graph, MLPs written with ops and with nn, a
    LeNet-5-like CNN, an RNN unrolled 10 steps and a chain of 200 ops."""
    from zeroin import nn
    import zeroin.nn.functional as F
    zeroin.manual_seed(0)
    labels = zeroin.tensor([1, 2, 3, 4, 5, 6, 7, 8])

    def mlp_ops():
        h = zeroin.randn(8, 784)
        for i, (a, b) in enumerate([(784, 256), (256, 128), (128, 10)]):
            h = h @ zeroin.randn(a, b, requires_grad=True) + zeroin.zeros(b, requires_grad=True)
            h = h.relu() if i < 2 else h
        return F.cross_entropy(h, labels)

    def mlp_nn(*sizes):
        layers = [m for a, b in zip(sizes, sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
        return nn.Sequential(*layers[:-1])(zeroin.randn(8, sizes[0]))

    def lenet():
        m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
        return F.cross_entropy(m(zeroin.randn(2, 1, 28, 28)), zeroin.tensor([3, 7]))

    def rnn():
        Wx, Wh = (zeroin.randn(n, 5, requires_grad=True) for n in (3, 5))
        h = zeroin.zeros(1, 5)
        for _ in range(10):
            h = (zeroin.randn(1, 3) @ Wx + h @ Wh).tanh()
        return (h ** 2).sum()

    def chain():
        y = zeroin.tensor(0.5, requires_grad=True)
        for i in range(200):
            y = (y * 1.01).sin() if i % 2 else y + 0.1
        return y

    return {"chapter": seed_graph()[-1], "mlp ops": mlp_ops(),
            "mlp nn": F.cross_entropy(mlp_nn(784, 256, 128, 10), labels),
            "mlp 2-16-16-1": (mlp_nn(2, 16, 16, 1) ** 2).mean(),
            "lenet": lenet(), "rnn": rnn(), "chain": chain()}


def _smallest_text(d, frame=(1920, 1080)):
    """The smallest text height in px when the picture is scaled to fit ``frame``."""
    scale = min(frame[0] / d.width, frame[1] / d.height)
    return min(s["size"] for s in d._scene() if s["kind"] == "text") * scale


def test_every_default_picture_fits_a_slide_with_readable_text(tmp_path):
    for name, out in _slide_graphs().items():
        d, row = zeroin.draw(out), zeroin.draw(out, fit=None)
        assert d.width / d.height < 2.4, name                  # about the slide's shape
        assert _smallest_text(d) >= 14, (name, _smallest_text(d))
        d.save(tmp_path / "g.svg")
        root = _parse_svg((tmp_path / "g.svg").read_text())
        assert float(root.get("width")) / float(root.get("height")) < 2.4
        if name == "chapter":                                  # the chapter's: one row
            assert (d.width, d.height) == (row.width, row.height) and d.pos == row.pos
        else:                                                  # one long row: tiny text
            assert _smallest_text(row) < 11 and row.width / row.height > 4, name
        assert len(d.nodes) == len(row.nodes) and d.edges == row.edges   # all still drawn
        notebook = _parse_svg(d._repr_svg_())                  # fits a cell, text 12 px
        assert float(notebook.get("width")) <= 900, name


def test_a_small_matrix_shows_its_numbers_row_by_row():
    # a 2-2-1 network on a slide: its 2x2 and 1x2 weights and their gradients in full
    torch = pytest.importorskip("torch")
    from zeroin import nn
    zeroin.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    x, y = [[1.0, 2.0]], [[1.0]]
    loss = nn.functional.mse_loss(net(zeroin.tensor(x)), zeroin.tensor(y))
    text = {n["text"][0]: n["text"][1:] for n in zeroin.draw(loss).nodes}
    W = net[0].weight.data
    assert text["0.weight"][:2] == [f"[[{W[0, 0]:.4g}, {W[0, 1]:.4g}],",
                                    f" [{W[1, 0]:.4g}, {W[1, 1]:.4g}]]"]
    tn = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(), torch.nn.Linear(2, 1))
    with torch.no_grad():
        for p, q in zip(tn.parameters(), net.parameters()):
            p.copy_(torch.tensor(q.data, dtype=torch.float32))
    torch.nn.functional.mse_loss(tn(torch.tensor(x)), torch.tensor(y)).backward()
    G = tn[0].weight.grad.numpy()
    assert text["0.weight"][2:] == [f"grad [[{G[0, 0]:.4g}, {G[0, 1]:.4g}],",
                                    f"      [{G[1, 0]:.4g}, {G[1, 1]:.4g}]]"]
    G2 = tn[2].weight.grad.numpy()
    assert text["2.weight"] == [f"[[{net[2].weight.data[0, 0]:.4g}, "
                                 f"{net[2].weight.data[0, 1]:.4g}]]",
                                 f"grad [[{G2[0, 0]:.4g}, {G2[0, 1]:.4g}]]"]
    big = zeroin.draw((zeroin.ones(2, 3, requires_grad=True) * 2).sum())   # 2x3: summary
    assert ["2x3, mean 1", "grad 2x3, mean 2"] in [n["text"][1:] for n in big.nodes]


def test_the_chapters_graph_stays_one_row_on_a_4_3_slide():
    # folded, both branches (x and y) wrapped round to a second row in parallel red
    # lines; one row is legible at 4:3 already, so it stays one row
    w, b, x, y, z = seed_graph()
    for kw in ({}, {"wrt": b}):
        d, row = zeroin.draw(z, fit=4 / 3, **kw), zeroin.draw(z, fit=None, **kw)
        assert d.pos == row.pos and d.width == row.width, kw
        assert _smallest_text(d, (1440, 1080)) >= 14
    long = _slide_graphs()["mlp nn"]                 # a long graph still folds at 4:3
    d, row = zeroin.draw(long, fit=4 / 3), zeroin.draw(long, fit=None)
    assert d.width < row.width / 2 and _smallest_text(d, (1440, 1080)) >= 14


def test_default_png_of_an_mlp_fits_a_slide(tmp_path):
    pytest.importorskip("matplotlib")
    out = _slide_graphs()["mlp nn"]
    zeroin.draw(out).save(tmp_path / "m.png")
    w, h = _png_size((tmp_path / "m.png").read_bytes())
    assert w <= 4000 and h <= 4000 and w / h < 2.4            # was 4000 x 674
    assert min(1920 / w, 1080 / h) * 2 * 12 >= 14              # 200 dpi: 2 px a layout px


def test_fit_must_be_a_ratio_or_none():
    z = seed_graph()[-1]
    for bad in (0, -1.5, "16:9", True, float("inf")):
        with pytest.raises(ValueError, match="draw: fit must be a positive width/height"):
            zeroin.draw(z, fit=bad)
    out = _slide_graphs()["chain"]
    wide, square = zeroin.draw(out, fit=16 / 9), zeroin.draw(out, fit=1.0)
    assert square.width / square.height < wide.width / wide.height   # more rows for 1:1
    tb = zeroin.draw(out, rankdir="TB")                 # top to bottom stays one column
    assert tb.height > tb.width and tb.pos == zeroin.draw(out, rankdir="TB", fit=None).pos
