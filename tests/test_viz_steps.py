"""zeroin.viz.backward_steps: the forward pass, then the backward pass one node at a time,
as drawings that share one layout (a slide build-up)."""
import os
import re

import pytest

import zeroin
from conftest import chapter_graph
from zeroin import nn
from zeroin.viz import backward_steps


def _chapter():
    w, b, _, _, z = chapter_graph()
    return w, b, z


def _grad_texts(d):
    """{node name: its gradient line} of a drawing's tensor nodes."""
    return {n["text"][0]: t for n in d.nodes for t in n["text"] if t.startswith("grad ")}


def test_chapter_graph_steps_follow_the_backward_pass_and_spell_out_each_sum():
    w, b, z = _chapter()
    steps = backward_steps(z)
    assert len(steps) == 7                   # forward, then z, y, x, b, mul1, w
    caps = steps.captions
    assert caps[0].startswith("Forward pass")
    assert "grad z = dz/dz = 1" in caps[1]
    assert caps[4] == ("Backward, step 4 of 6: grad b = dz/dx * dx/db + dz/dy * dy/db = "
                       "5 * 1 + 10 * 1 = 15")
    assert caps[6].endswith("grad w = dz/dmul1 * dmul1/dw = 5 * 2 = 10")
    order = [re.search(r"grad (\w+) =", c).group(1) for c in caps[1:]]
    assert order == ["z", "y", "x", "b", "mul1", "w"]
    z.backward()                              # the numbers are the engine's
    assert caps[4].endswith(f"= {b.grad.item():g}")
    assert caps[6].endswith(f"= {w.grad.item():g}")


def test_each_step_reveals_one_more_gradient_and_the_forward_step_none():
    _, _, z = _chapter()
    steps = backward_steps(z)
    shown = [sum(t != "grad ?" for t in _grad_texts(d).values()) for d in steps]
    assert shown == list(range(7))
    assert set(_grad_texts(steps[0]).values()) == {"grad ?"}
    assert _grad_texts(steps[-1]) == {"w": "grad 10", "mul1": "grad 5", "b": "grad 15",
                                      "x": "grad 5", "y": "grad 10", "z": "grad 1"}
    # the node being computed is red, with its edges to its users (b feeds two ops)
    d = steps[4]
    lit = [n["text"][0] for n in d.nodes if n["highlight"] and n["kind"] != "op"]
    assert lit == ["b"]
    assert sum(e["highlight"] for e in d.edges) == 2
    assert not any(e["highlight"] for e in steps[0].edges)
    assert "grad ?" in steps[0].svg() and "grad ?" not in steps[-1].svg()


def test_all_steps_share_one_layout_and_size():
    zeroin.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 1))
    loss = nn.functional.mse_loss(net(zeroin.tensor([[1.0, 2.0]])), zeroin.tensor([[1.0]]))
    steps = backward_steps(loss, modules=net)
    assert len(steps) == 9                    # forward + 8 tensors with gradients
    assert len({(d.width, d.height) for d in steps}) == 1
    assert all(d.pos == steps[0].pos for d in steps)
    assert steps[4].caption.endswith("grad 2.weight = [[-0.7951, -0.3086]]: what linear2 "
                                     "passes back, its gradient times the local derivative "
                                     "(a vector-Jacobian product)")
    w0 = [n["text"] for n in steps[0].nodes if n["text"][0] == "0.weight"][0]
    assert w0[-2:] == ["grad ?", ""]          # a matrix's second gradient row: blank
    g = net[0].weight
    loss.backward()
    w8 = [n["text"] for n in steps[8].nodes if n["text"][0] == "0.weight"][0]
    assert w8[-2:] == [f"grad [[{g.grad[0, 0].item():.4g}, {g.grad[0, 1].item():.4g}],",
                       f"      [{g.grad[1, 0].item():.4g}, {g.grad[1, 1].item():.4g}]]"]
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    narrow = backward_steps(b * 2 + b * 3 + b * 5 + b * 7, rankdir="TB")
    assert narrow.captions[-1].endswith("= 1 * 2 + 1 * 3 + 1 * 5 + 1 * 7 = 17")
    lines = [len(d._extra) for d in narrow]
    assert max(lines) > min(lines)            # captions wrap to more lines, the canvas
    assert len({(d.width, d.height) for d in narrow}) == 1      # stays the same
    sizes = {re.search(r'width="(\d+)" height="(\d+)"', d.svg()).groups() for d in steps}
    assert len(sizes) == 1


def test_neuron_captions_match_torch():
    torch = pytest.importorskip("torch")
    w = zeroin.tensor(0.5, requires_grad=True, name="w")
    a = zeroin.sigmoid(w * 2.0 - 0.3)
    a.name = "a"
    L = (a - 1) ** 2
    L.name = "L"
    caps = backward_steps(L).captions
    tw = torch.tensor(0.5, requires_grad=True, dtype=torch.float64)
    ((torch.sigmoid(tw * 2.0 - 0.3) - 1) ** 2).backward()
    last = float(caps[-1].rsplit("= ", 1)[1])
    assert caps[-1].startswith("Backward, step 6 of 6: grad w = dL/dmul1 * dmul1/dw")
    assert last == pytest.approx(tw.grad.item(), rel=1e-3)       # 4 significant digits


def test_save_writes_one_file_per_step(tmp_path):
    _, _, z = _chapter()
    steps = backward_steps(z, title="Backprop, step by step")
    paths = steps.save(tmp_path / "build", "svg", width=1600, aspect=16 / 9)
    assert [os.path.basename(p) for p in paths] == [f"step-{i:02d}.svg" for i in range(7)]
    with open(paths[4], encoding="utf-8") as f:
        text = f.read()
    assert 'width="1600"' in text and "Backprop, step by step" in text
    with pytest.raises(ValueError, match="fmt must be 'svg', 'png' or 'pdf'"):
        steps.save(tmp_path, "gif")


def test_png_steps_have_the_slide_size(tmp_path):
    pytest.importorskip("matplotlib")
    _, _, z = _chapter()
    paths = backward_steps(z).save(tmp_path, "png", width=800, aspect=16 / 9)
    for p in (paths[0], paths[-1]):
        with open(p, "rb") as f:
            head = f.read(24)
        assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == \
            (800, 450)


@pytest.mark.parametrize("kw, words", [
    (dict(wrt="b"), "wrt= highlights a path"),
    (dict(grads=False), "grads=False is not possible"),
    (dict(collapse=True), "collapse=True is not possible"),
])
def test_options_the_steps_cannot_honour_are_errors(kw, words):
    w, b, z = _chapter()
    kw = {k: (b if v == "b" else v) for k, v in kw.items()}
    with pytest.raises(ValueError, match=re.escape(words)):
        backward_steps(z, **kw)


def test_a_leaf_has_no_backward_steps():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    with pytest.raises(ValueError, match="backward_steps: the output has no graph"):
        backward_steps(w)
    with zeroin.no_grad():
        q = w * 2
    with pytest.raises(ValueError, match="backward_steps: the output has no graph"):
        backward_steps(q)
    with pytest.raises(TypeError, match="backward_steps: output must be a Tensor, got float"):
        backward_steps(3.0)


def test_a_tensor_output_starts_from_ones_and_a_reused_input_sums_both_shares():
    v = zeroin.tensor([1.0, 2.0], requires_grad=True, name="v")
    caps = backward_steps(v * 3).captions
    assert caps[1].endswith("grad mul1 = [1, 1]: ones, the gradients are those of "
                            "sum(mul1); the backward pass starts here")
    assert caps[2].startswith("Backward, step 2 of 2: grad v = [3, 3]: what mul1 passes")
    b = zeroin.tensor(3.0, requires_grad=True, name="b")
    assert backward_steps(b * b).captions[-1].endswith("grad b = dmul1/db = 1 * 6 = 6")
