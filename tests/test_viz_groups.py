"""zeroin.draw(..., modules=calls): each module's ops in a labelled frame, or each module as
one node (collapse=True); the calls recorded by zeroin.viz.module_calls, the record
TensorBoard's add_graph shares."""
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import zeroin
from conftest import chapter_graph
from zeroin import nn
from zeroin.autograd import node_grads
from zeroin.viz.format import short

F = nn.functional


def _mlp():
    zeroin.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = zeroin.randn(2, 4)
    with zeroin.viz.module_calls(net) as calls:
        loss = F.cross_entropy(net(x), zeroin.tensor([0, 2]))
    return net, calls, loss


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc, self.act = nn.Linear(n, n), nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x)) + x


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.head = nn.Sequential(Block(3), Block(3)), nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.body(x))


class Tied(nn.Module):
    """One Linear used twice: its weight is shared by the two calls."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(zeroin.relu(self.fc(x)))


def _texts(d):
    return {n["key"]: n["text"][0] for n in d.nodes}


def _frames(d):
    return {f["label"]: f for f in d.frames}


def test_mlp_frames_are_titled_by_path_and_class_and_hold_the_layer_ops():
    net, calls, loss = _mlp()
    d = zeroin.draw(loss, modules=calls)
    fr, text = _frames(d), _texts(d)
    assert list(fr) == ["0 (Linear)", "1 (ReLU)", "2 (Linear)"]   # the model: no frame
    assert all(f["parent"] is None for f in fr.values())
    assert sorted(text[k] for k in fr["0 (Linear)"]["members"]) == [
        "0.bias", "0.weight", "linear", "linear1"]
    assert sorted(text[k] for k in fr["1 (ReLU)"]["members"]) == ["relu", "relu1"]
    inside = {k for f in fr.values() for k in f["members"]}
    outside = sorted(text[k] for k in text if k not in inside)
    assert outside == ["cross_entropy", "cross_entropy1", "input0", "labels"]
    # the same nodes and edges as without modules=: only the frames are added
    plain = zeroin.draw(loss, model=net)
    assert d.nodes == plain.nodes and d.edges == plain.edges and plain.frames == []


def test_nested_custom_module_frames_nest_like_the_modules():
    zeroin.manual_seed(0)
    net = Net()
    with zeroin.viz.module_calls(net) as calls:
        y = net(zeroin.randn(2, 3)).sum()
    d = zeroin.draw(y, modules=calls, max_depth=30)
    fr, text = _frames(d), _texts(d)
    key = {label: f["key"] for label, f in fr.items()}
    assert fr["body.0.fc (Linear)"]["parent"] == key["body.0 (Block)"]
    assert fr["body.0.act (Tanh)"]["parent"] == key["body.0 (Block)"]
    assert fr["body.0 (Block)"]["parent"] == key["body (Sequential)"]
    assert fr["body (Sequential)"]["parent"] is None and fr["head (Linear)"]["parent"] is None
    # the Block's own `+ x` is in its frame, not in a child's; a frame holds its frames
    assert sorted(text[k] for k in fr["body.0 (Block)"]["members"]) == ["+", "add1"]
    assert fr["body (Sequential)"]["members"] == []
    _check_geometry(d)


def _check_geometry(d):
    """Every node inside its frame's box and outside the others' (but their ancestors);
    frames either nested or apart."""
    parent = {f["key"]: f["parent"] for f in d.frames}

    def ancestors(f):
        out = set()
        while f is not None:
            out.add(f)
            f = parent[f]
        return out
    where = {k: f["key"] for f in d.frames for k in f["members"]}
    for n in d._nodes:
        x, y = d.pos[n.key]
        box = (x - n.w / 2, y - n.h / 2, x + n.w / 2, y + n.h / 2)
        mine = ancestors(where.get(n.key))
        for f, (a, b, c, e) in d.boxes.items():
            inside = a <= box[0] and box[2] <= c and b <= box[1] and box[3] <= e
            apart = box[2] <= a or c <= box[0] or box[3] <= b or e <= box[1]
            assert inside if f in mine else apart, (n.lines, f)
    for f, (a, b, c, e) in d.boxes.items():
        for g, (a2, b2, c2, e2) in d.boxes.items():
            if f != g and g not in ancestors(f) and f not in ancestors(g):
                assert c <= a2 or c2 <= a or e <= b2 or e2 <= b, (f, g)
    assert all(0 <= a and c <= d.width and 0 <= b and e <= d.height
               for a, b, c, e in d.boxes.values())


@pytest.mark.parametrize("kw", [{}, {"fit": None}, {"direction": "TB"}])
def test_frames_contain_their_nodes_and_never_overlap(kw):
    zeroin.manual_seed(1)
    net = Net()
    with zeroin.viz.module_calls(net) as calls:
        y = net(zeroin.randn(2, 3)).sum()
    _check_geometry(zeroin.draw(y, modules=calls, max_depth=30, **kw))
    _check_geometry(zeroin.draw(_mlp()[2], modules=_mlp()[1], **kw))


def test_edges_wrapped_to_the_next_row_turn_at_right_angles():
    # an edge leaving a row runs down a lane, back under the row and down again: where it
    # leaves one frame and enters the next it stays level (it used to bend to the frame's
    # middle height and back: an S at the frame's edge)
    for net, calls, loss in (_mlp(), _lenet()):
        d = zeroin.draw(loss, modules=calls)
        legs = 0
        for pts in d.routes:
            for k in range(1, len(pts) - 1):
                (x0, y0), (x1, y1), (x2, y2) = pts[k - 1], pts[k], pts[k + 1]
                if x1 == x2 and y1 != y2:           # a lane's vertical leg ...
                    assert y0 == y1, pts            # ... reached level
                    legs += 1
                if x0 == x1 and y0 != y1:
                    assert y1 == y2, pts            # ... and left level
        assert legs >= 4


def _lenet():
    zeroin.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120),
                        nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    with zeroin.viz.module_calls(net) as calls:
        loss = F.cross_entropy(net(zeroin.randn(2, 1, 28, 28)), zeroin.tensor([3, 7]))
    return net, calls, loss


def test_cnn_frames_and_collapsed_lenet_fits_a_slide():
    net, calls, loss = _lenet()
    d = zeroin.draw(loss, modules=calls, max_depth=30)
    fr, text = _frames(d), _texts(d)
    assert sorted(text[k] for k in fr["0 (Conv2d)"]["members"]) == [
        "0.bias", "0.weight", "conv2d", "conv2d1"]
    assert [text[k] for k in fr["2 (MaxPool2d)"]["members"]][0].startswith("max_pool2d")
    assert len(fr) == 12                             # every layer ran an op
    c = zeroin.draw(loss, modules=calls, collapse=True)
    kinds = [n["kind"] for n in c.nodes]
    assert kinds.count("module") == 12 and len(c.nodes) == 12 + 4   # x, labels, op, loss
    assert c.note is None and len(c.edges) == 11 + 4
    conv = next(n["text"] for n in c.nodes if n["text"][0] == "0 (Conv2d)")
    assert conv[1] == "weight 6x1x5x5, bias 6" and conv[2].startswith("out 2x6x24x24")
    assert c.width / c.height < 2.4                  # folded into rows: a slide's shape
    scale = min(1920 / c.width, 1080 / c.height)
    assert min(s["size"] for s in c._scene() if s["kind"] == "text") * scale >= 18


def test_collapsed_mlp_counts_and_values_match_torch():
    torch = pytest.importorskip("torch")
    net, calls, loss = _mlp()
    d = zeroin.draw(loss, modules=calls, collapse=True)
    text = [n["text"] for n in d.nodes]
    assert [t[0] for t in text] == ["input0", "labels", "0 (Linear)", "1 (ReLU)",
                                    "2 (Linear)", "cross_entropy", "cross_entropy1"]
    pairs = {(e["src_name"], e["dst_name"]) for e in d.edges}
    assert pairs == {("input0", "0 (Linear)"), ("0 (Linear)", "1 (ReLU)"),
                     ("1 (ReLU)", "2 (Linear)"), ("2 (Linear)", "cross_entropy"),
                     ("labels", "cross_entropy"), ("cross_entropy", "cross_entropy1")}
    # the output value and gradient shown for fc1 are torch's
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tnet.load_state_dict({k: torch.tensor(v.detach().numpy())
                          for k, v in net.state_dict().items()})
    tnet.double()
    x = torch.tensor(calls[0].inputs[0].detach().numpy(), dtype=torch.float64)
    h = tnet[0](x)
    h.retain_grad()
    torch.nn.functional.cross_entropy(tnet[2](tnet[1](h)), torch.tensor([0, 2])).backward()
    assert text[2][2] == f"out {short(h.detach().numpy())}"
    assert text[2][3] == f"grad {short(h.grad.numpy())}"
    ours = node_grads(loss)[id(calls[0].outputs[0])]
    np.testing.assert_allclose(ours, h.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_a_shared_layer_gets_a_frame_per_call_and_its_weight_sits_outside():
    zeroin.manual_seed(0)
    t = Tied()
    with zeroin.viz.module_calls(t) as calls:
        z = t(zeroin.randn(1, 2)).sum()
    d = zeroin.draw(z, modules=calls)
    fr, text = _frames(d), _texts(d)
    assert set(fr) == {"fc (Linear), call 1", "fc (Linear), call 2"}
    inside = {text[k] for f in fr.values() for k in f["members"]}
    assert "fc.weight" not in inside and "fc.bias" not in inside
    assert sorted(text[k] for k in fr["fc (Linear), call 2"]["members"]) == [
        "linear", "linear2"]
    c = zeroin.draw(z, modules=calls, collapse=True)
    labels = [n["text"][0] for n in c.nodes if n["kind"] == "module"]
    assert labels == ["fc (Linear), call 1", "fc (Linear), call 2"]
    assert all(n["text"][1] == "weight 2x2, bias 2" for n in c.nodes if n["kind"] == "module")


def test_a_model_called_twice_gets_a_frame_per_call():
    zeroin.manual_seed(0)
    t = Tied()
    with zeroin.viz.module_calls(t) as calls:
        z = (t(zeroin.randn(1, 2)) - t(zeroin.randn(1, 2))).pow(2).sum()
    d = zeroin.draw(z, modules=calls)
    fr = _frames(d)
    key = {label: f["key"] for label, f in fr.items()}
    assert fr["Tied, call 1"]["parent"] is None and fr["Tied, call 2"]["parent"] is None
    assert fr["fc (Linear), call 3"]["parent"] == key["Tied, call 2"]
    assert fr["fc (Linear), call 2"]["parent"] == key["Tied, call 1"]
    _check_geometry(d)


def test_plain_graphs_are_drawn_as_before():
    z = chapter_graph()[-1]
    a, b = zeroin.draw(z), zeroin.draw(z, modules=None, collapse=False)
    assert a.nodes == b.nodes and a.pos == b.pos and a.routes == b.routes
    assert a.svg(id_prefix="p") == b.svg(id_prefix="p") and a.dot() == b.dot()
    assert a.frames == [] and a.boxes == {}
    # a model drawn without modules=: no frame anywhere, whatever was recorded
    net, calls, loss = _mlp()
    assert 'class="module"' not in zeroin.draw(loss).svg() and "cluster" not in \
        zeroin.draw(loss).dot()


def test_svg_png_dot_and_jupyter_show_the_frames(tmp_path):
    net, calls, loss = _mlp()
    d = zeroin.draw(loss, modules=calls)
    for svg in (d.svg(), d._repr_svg_()):
        root = ET.fromstring(svg)
        groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g")
                  if g.get("class") == "module"]
        assert [g.get("data-module") for g in groups] == ["0 (Linear)", "1 (ReLU)",
                                                         "2 (Linear)"]
        assert all(g.find("{http://www.w3.org/2000/svg}rect") is not None for g in groups)
    dot = d.dot()
    assert dot.count("subgraph") == 3 and 'label="0 (Linear)"' in dot
    block = re.search(r'subgraph "cluster_m0" \{(.*?)\n  \}', dot, re.S).group(1)
    assert '0.weight' in block and 'input0' not in block
    c = zeroin.draw(loss, modules=calls, collapse=True)
    assert 'class="node module"' in c.svg() and "0 (Linear)" in c.dot()
    pytest.importorskip("matplotlib")
    for pic in (d, c):
        path = pic.save(tmp_path / "m.png", width=1920, aspect=16 / 9)
        assert path.read_bytes()[:4] == b"\x89PNG"
    d.save(tmp_path / "m.pdf")


def test_wrt_paths_are_still_labelled_inside_frames():
    net, calls, loss = _mlp()
    d = zeroin.draw(loss, wrt=net[0].weight, modules=calls)
    red = [e for e in d.edges if e["highlight"]]
    assert any(e["src_name"] == "0.weight" and e["label"] for e in red)
    c = zeroin.draw(loss, wrt=net[0].weight, modules=calls, collapse=True)
    assert [n["text"][0] for n in c.nodes if n["highlight"]] == [
        "0 (Linear)", "1 (ReLU)", "2 (Linear)", "cross_entropy", "cross_entropy1"]


def test_collapse_max_depth_counts_layers_and_says_what_is_left_out():
    zeroin.manual_seed(0)
    net = nn.Sequential(*[m for _ in range(12) for m in (nn.Linear(3, 3), nn.ReLU())])
    with zeroin.viz.module_calls(net) as calls:
        y = net(zeroin.randn(1, 3)).sum()
    c = zeroin.draw(y, modules=calls, collapse=True, max_depth=3)
    mods = [n for n in c.nodes if n["kind"] == "module"]
    # 3 layers with weights, and the ReLU below the last (a ReLU adds no depth)
    assert [n["text"][0] for n in mods] == ["17 (ReLU)", "18 (Linear)", "19 (ReLU)",
                                            "20 (Linear)", "21 (ReLU)", "22 (Linear)",
                                            "23 (ReLU)"]
    assert mods[0]["truncated"] and not mods[1]["truncated"]
    assert c.note.startswith("... 18 more nodes not drawn")      # 17 modules and input0


def test_bad_modules_arguments_say_what_to_pass():
    _, calls, loss = _mlp()
    with pytest.raises(TypeError, match="draw: modules must be the model .* or the calls"):
        zeroin.draw(loss, modules=[1, 2])
    with pytest.raises(ValueError, match="no op in the graph reads a parameter or buffer of "
                                         "the Sequential .*module_calls"):
        zeroin.draw(loss, modules=nn.Sequential(nn.Linear(4, 8)))      # another model
    with pytest.raises(ValueError, match="of the ReLU passed as modules="):
        zeroin.draw(loss, modules=nn.ReLU(), collapse=True)
    with pytest.raises(ValueError, match="collapse=True .* needs modules="):
        zeroin.draw(loss, collapse=True)
    with pytest.raises(TypeError, match="collapse must be True or False"):
        zeroin.draw(loss, modules=calls, collapse="yes")
    with pytest.raises(TypeError, match="module_calls: model must be an nn.Module"):
        with zeroin.viz.module_calls(lambda x: x):
            pass


def test_recording_leaves_the_model_as_it_was():
    seen = []
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    net[1].register_forward_hook(lambda m, a, out: seen.append(out.shape))
    with zeroin.viz.module_calls(net) as calls:
        net(zeroin.randn(1, 2))
    assert [c.label for c in calls] == ["0 (Linear)", "1 (ReLU)", "Sequential"]
    assert "_hooks" not in net.__dict__ and "_hooks" not in net[0].__dict__
    assert len(net[1]._forward_hooks) == 1 and len(net[1]._forward_pre_hooks) == 0
    net(zeroin.randn(1, 2))
    assert len(seen) == 2 and len(calls) == 3           # nothing recorded afterwards
    with pytest.raises(RuntimeError):                   # a forward that raises
        with zeroin.viz.module_calls(net) as calls:
            net(zeroin.randn(1, 3))
    assert "_hooks" not in net[0].__dict__ and len(net[1]._forward_hooks) == 1


def test_tensorboard_add_graph_shares_the_record_and_leaves_no_hooks(tmp_path):
    from zeroin.utils.tensorboard import SummaryWriter, _graph_def
    net = Net()
    graph_def = _graph_def(net, zeroin.randn(2, 3))
    assert b"Net/Sequential[body]/Block[0]/Linear[fc]/linear" in graph_def
    assert b"Net/Sequential[body]/Block[0]/add" in graph_def
    assert all("_hooks" not in m.__dict__ for m in net.modules())
    with SummaryWriter(tmp_path) as w:
        w.add_graph(net, zeroin.randn(2, 3))
    assert all("_hooks" not in m.__dict__ for m in net.modules())


class Scaled(nn.Module):
    def forward(self, x, *, scale):
        return x * scale


class KwNet(nn.Module):
    """A submodule called with a keyword tensor: the op before it is not its own."""
    def __init__(self):
        super().__init__()
        self.fc, self.scaled = nn.Linear(2, 2), Scaled()

    def forward(self, x):
        s = self.fc(x).exp()                 # the model's own op, outside both layers
        return self.scaled(x, scale=s)


def test_a_tensor_passed_by_keyword_is_an_input_of_the_call():
    net = KwNet()
    with zeroin.viz.module_calls(net) as calls:
        y = net(zeroin.randn(1, 2)).sum()
    fr, text = _frames(zeroin.draw(y, modules=calls)), _texts(zeroin.draw(y, modules=calls))
    assert sorted(text[k] for k in fr["scaled (Scaled)"]["members"]) == ["mul1", "\u00d7"]
    assert [c.label for c in calls] == ["fc (Linear)", "scaled (Scaled)", "KwNet"]
    assert len(calls[1].inputs) == 2                 # x, and scale= by keyword


def test_groups_that_feed_each_other_are_drawn_without_frames():
    from zeroin.viz.layout import Cycle, nested
    sizes = {k: (30, 20) for k in "abc"}
    with pytest.raises(Cycle):
        nested(list("abc"), [("a", "b"), ("b", "c")], sizes, {"a": "A", "c": "A"},
               {"A": None})
    z = chapter_graph()[-1]
    d = zeroin.draw(z)
    keys = [n.key for n in d._nodes]
    first, last = keys[0], keys[-1]
    mid = next(e["dst"] for e in d.edges if e["src"] == first)
    frames = ({first: "m0", last: "m0"}, {"m0": None}, {"m0": "A (Loop)"})
    again = zeroin.viz.Drawing(d._nodes, d._edges, None, None, None, frames=frames)
    assert mid not in (first, last) and again.frames == [] and again.pos == d.pos


# --- modules=model: the modules found in the graph, without a recording ---------------------

def _members(d):
    text = _texts(d)
    return {f["label"]: sorted(text[k] for k in f["members"]) for f in d.frames}


def _weighted(d, calls):
    """The recorded view's frames, or collapsed nodes, of modules with parameters."""
    has = {c.label for c in calls if any(True for _ in c.module.parameters(recurse=False))}
    return {k: v for k, v in _members(d).items() if k in has} if d.frames else \
        [n["text"] for n in d.nodes if n["kind"] == "module" and n["text"][0] in has]


def test_model_frames_are_the_recorded_frames_of_the_layers_with_weights():
    for net, calls, loss in (_mlp(), _lenet()):
        found = zeroin.draw(loss, modules=net, max_depth=30)
        recorded = zeroin.draw(loss, modules=calls, max_depth=30)
        assert _members(found) == _weighted(recorded, calls)
        assert all(f["parent"] is None for f in found.frames)
        plain = zeroin.draw(loss, model=net, max_depth=30)   # only the frames are added
        assert found.nodes == plain.nodes and found.edges == plain.edges
        _check_geometry(found)
    assert list(_members(found)) == ["0 (Conv2d)", "3 (Conv2d)", "7 (Linear)", "9 (Linear)",
                                      "11 (Linear)"]     # ReLU, pooling, Flatten: no trace
    assert "_hooks" not in net.__dict__ and "_hooks" not in net[0].__dict__


def test_collapsed_model_has_a_node_per_layer_with_weights_as_the_recorded_view():
    for net, calls, loss in (_mlp(), _lenet()):
        found = zeroin.draw(loss, modules=net, collapse=True, max_depth=30)
        recorded = zeroin.draw(loss, modules=calls, collapse=True, max_depth=30)
        mods = [n["text"] for n in found.nodes if n["kind"] == "module"]
        assert mods == _weighted(recorded, calls)      # labels, shapes, values, gradients
        assert len(mods) == sum(1 for c in calls if any(True for _ in c.module.parameters(recurse=False)))
        relus = [n for n in found.nodes if n["text"][0] == "relu"]
        assert relus and all(n["kind"] == "op" for n in relus)
    assert len(mods) == 5 and found.note is None
    scale = min(1920 / found.width, 1080 / found.height)
    assert min(s["size"] for s in found._scene() if s["kind"] == "text") * scale >= 16


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(4, 8), nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def test_custom_module_layers_are_named_by_path_and_their_gradient_is_torchs():
    torch = pytest.importorskip("torch")
    zeroin.manual_seed(0)
    net, x = TwoLayer(), zeroin.randn(2, 4)
    loss = F.cross_entropy(net(x), zeroin.tensor([0, 2]))
    assert _members(zeroin.draw(loss, modules=net)) == {
        "fc1 (Linear)": ["fc1.bias", "fc1.weight", "linear", "linear1"],
        "fc2 (Linear)": ["fc2.bias", "fc2.weight", "linear", "linear2"]}
    c = zeroin.draw(loss, modules=net, collapse=True)
    fc1 = next(n["text"] for n in c.nodes if n["text"][0] == "fc1 (Linear)")
    w = {k: torch.tensor(v.detach().numpy(), requires_grad=True)
         for k, v in net.state_dict().items()}
    h = torch.nn.functional.linear(torch.tensor(x.numpy()), w["fc1.weight"], w["fc1.bias"])
    h.retain_grad()
    torch.nn.functional.cross_entropy(torch.nn.functional.linear(
        h.relu(), w["fc2.weight"], w["fc2.bias"]), torch.tensor([0, 2])).backward()
    assert fc1[1:] == ["weight 8x4, bias 8", f"out {short(h.detach().numpy())}",
                       f"grad {short(h.grad.numpy())}"]


def test_batchnorm_frame_holds_the_ops_that_read_its_weight_and_bias():
    zeroin.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    x = zeroin.randn(5, 3)
    for mode in (net.train, net.eval):
        mode()
        y = net(x).sum()
        m = _members(zeroin.draw(y, modules=net))
        assert list(m) == ["0 (Linear)", "1 (BatchNorm1d)", "3 (Linear)"]
        assert {"1.weight", "1.bias", "\u00d7", "+"} <= set(m["1 (BatchNorm1d)"])
        assert "mean" not in m["1 (BatchNorm1d)"]   # normalising reads no parameter
        c = zeroin.draw(y, modules=net, collapse=True)
        bn = next(n["text"] for n in c.nodes if n["text"][0] == "1 (BatchNorm1d)")
        assert bn[1] == "weight 4, bias 4" and bn[2] == f"out {short(net[1](net[0](x)).data)}"


class Gated(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc, self.act = nn.Linear(n, n), nn.Tanh()
        self.gate = nn.Parameter(zeroin.ones(n))

    def forward(self, x):
        return self.gate * self.act(self.fc(x)) + x


class Deep(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks, self.head = nn.Sequential(Gated(3), Gated(3)), nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.blocks(x))


def test_nested_modules_nest_where_ownership_says_so():
    zeroin.manual_seed(0)
    net = Deep()
    y = net(zeroin.randn(2, 3)).sum()
    d = zeroin.draw(y, modules=net, max_depth=30)
    fr, m = _frames(d), _members(d)
    assert fr["blocks.0.fc (Linear)"]["parent"] == fr["blocks.0 (Gated)"]["key"]
    assert fr["blocks.0 (Gated)"]["parent"] is None        # the Sequential owns nothing
    assert "blocks (Sequential)" not in fr and fr["head (Linear)"]["parent"] is None
    # the tanh between the block's Linear and its gate is the block's; its + x is not seen
    assert m["blocks.0 (Gated)"] == ["blocks.0.gate", "mul1", "tanh", "tanh1", "\u00d7"]
    assert "+" in _texts(d).values() and not any("+" in v for v in m.values())
    _check_geometry(d)
    with zeroin.viz.module_calls(net) as calls:
        y2 = net(zeroin.randn(2, 3)).sum()
    found = zeroin.draw(y2, modules=net, collapse=True, max_depth=30)
    recorded = zeroin.draw(y2, modules=calls, collapse=True, max_depth=30)
    mods = [n["text"] for n in found.nodes if n["kind"] == "module"]
    assert [t[0] for t in mods] == ["blocks.0.fc (Linear)", "blocks.1.fc (Linear)",
                                    "head (Linear)"]
    assert mods == [n["text"] for n in recorded.nodes if n["text"][0] in {t[0] for t in mods}]


def test_a_shared_layer_gets_a_frame_per_connected_group_of_its_ops():
    zeroin.manual_seed(0)
    t = Tied()
    with zeroin.viz.module_calls(t) as calls:
        z = t(zeroin.randn(1, 2)).sum()
    found, recorded = zeroin.draw(z, modules=t), zeroin.draw(z, modules=calls)
    m = _members(found)
    assert list(m) == ["fc (Linear), use 1", "fc (Linear), use 2"]   # not "call": a guess
    assert list(m.values()) == list(_members(recorded).values())    # the weight outside
    c = zeroin.draw(z, modules=t, collapse=True)
    rc = zeroin.draw(z, modules=calls, collapse=True)
    assert [n["text"][1:] for n in c.nodes if n["kind"] == "module"] == \
        [n["text"][1:] for n in rc.nodes if n["kind"] == "module"]
    assert [n["text"][0] for n in c.nodes if n["kind"] != "module"] == \
        [n["text"][0] for n in rc.nodes if n["kind"] != "module"]
    # an RNN reads its weights at each step: a frame per step's op, the same honest guess
    rnn = nn.RNN(2, 2)
    out, _ = rnn(zeroin.randn(3, 1, 2))
    assert [f["label"] for f in zeroin.draw(out.sum(), modules=rnn).frames][:2] == [
        "RNN, use 1", "RNN, use 2"]
