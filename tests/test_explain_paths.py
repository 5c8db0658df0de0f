"""explain and draw say only what lies on the paths they explain, and name data as data."""
import numpy as np
import pytest

import zeroin
from conftest import chapter_graph
from zeroin import nn


_chapter = chapter_graph


def test_explain_lists_only_the_constants_and_folded_steps_on_the_paths():
    w, b, x, y, z = _chapter()
    for wrt in (x, z):                      # one edge, and no edge at all
        text = str(zeroin.explain(z, wrt))
        assert "constants" not in text and "folded" not in text, text
    to_w = str(zeroin.explain(z, w))        # z <- x <- w: 2 (in x = 2w + b), not y's 1
    assert "constants (no gradient flows into them): 2\n" in to_w
    assert "1 unnamed intermediate step is folded" in to_w
    to_b = str(zeroin.explain(z, b))        # both paths: 2 and 1
    assert "constants (no gradient flows into them): 2, 1\n" in to_b
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15" in to_b


def _mlp(batch=4):
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    x, y = zeroin.randn(batch, 2), zeroin.randn(batch, 1)
    loss = nn.MSELoss()(model(x), y)
    loss.name = "loss"
    return model, x, loss


def test_a_batch_of_inputs_is_data_not_a_constant():
    model, x, loss = _mlp()
    text = str(zeroin.explain(loss, model[0].weight))
    assert "linear1 = linear(input0, 0.weight, 0.bias)" in text
    assert "data inputs (no gradient flows into them): input0 ([[" in text
    assert "0.weight: parameter (3x2)" in text and "c0" not in text
    d = zeroin.draw(loss, wrt=model[0].weight)
    box = [n for n in d.nodes if n["text"][0] == "input0"]
    assert len(box) == 1 and box[0]["kind"] == "const"
    assert box[0]["text"][1] == f"4x2, mean {np.mean(x.data):.4g}"
    # a 2-element constant written in the code is still shown by its value
    t = zeroin.tensor([1.0, 2.0], requires_grad=True, name="t")
    s = (t * zeroin.tensor([3.0, 4.0])).sum()
    assert "constants (no gradient flows into them): [3, 4]" in str(zeroin.explain(s, t))


def test_data_is_named_by_its_role_a_target_is_not_a_second_input():
    model, x, loss = _mlp(batch=8)           # more than 4 targets: data, not constants
    text = str(zeroin.explain(loss, model[0].weight))
    assert "loss = mse_loss(linear2, target) = " in text and "input1" not in text
    assert "linear1 = linear(input0, 0.weight, 0.bias)" in text      # the batch: an input
    d = zeroin.draw(loss, wrt=model[0].weight)
    assert [n["text"][0] for n in d.nodes if n["kind"] == "const"] == ["input0", "target"]
    # two losses: target and target2; a name the user gave is never taken
    other = zeroin.tensor(np.linspace(0, 1, 8).reshape(8, 1), name="target")
    both = (nn.functional.l1_loss(model(x), x[:, 1:]) + nn.functional.mse_loss(model(x), x[:, :1])
            + (other * model(x)).sum())
    names = [n["text"][0] for n in zeroin.draw(both).nodes]
    assert {"target", "target2", "target3"} <= set(names) and "input1" not in names
    # integer labels given as a tensor are the cross entropy's labels
    labels = zeroin.tensor(np.array([0, 1, 2, 0, 1, 2]))
    ce = nn.functional.cross_entropy(nn.Linear(2, 3)(zeroin.randn(6, 2)), labels)
    assert "labels" in [n["text"][0] for n in zeroin.draw(ce).nodes]
    assert labels.name is None                            # the user's tensor is not renamed


def test_a_small_batch_of_targets_is_named_target_and_a_single_one_shows_its_value():
    """Two to four targets are data with a role, named ``target`` with their values in the
    box, not printed as a list in every formula; one target (the chapter's z = 60) and
    numbers written in the code still show their value."""
    model, x, loss = _mlp(batch=4)
    text = str(zeroin.explain(loss, model[0].weight))
    assert "mse_loss(linear2, target)" in text and "[[" not in text.split("mse_loss(")[1][:40]
    boxes = {n["text"][0]: n["text"] for n in zeroin.draw(loss).nodes if n["kind"] == "const"}
    assert boxes["target"][1].startswith("4x1")
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    one = nn.functional.mse_loss(w * 2, zeroin.tensor(60.0))
    consts = [n["text"] for n in zeroin.draw(one).nodes if n["kind"] == "const"]
    assert ["60"] in consts and ["2"] in consts
    assert "mse_loss(mul1, 60)" in str(zeroin.explain(one, w))


@pytest.mark.parametrize("loss, roles", [
    ("huber_loss", {"target"}), ("smooth_l1_loss", {"target"}), ("poisson_nll_loss", {"target"}),
    ("soft_margin_loss", {"target"}), ("multilabel_soft_margin_loss", {"target"}),
    ("kl_div", {"target", "log_target"}), ("gaussian_nll_loss", {"target", "var", "log_var"}),
    ("nll_loss", {"label_weight"}), ("margin_ranking_loss", {"target"}),
])
def test_a_loss_built_from_several_ops_names_its_data_too(loss, roles):
    """Losses composed of ops (no loss op of their own) name their data by role, as
    mse_loss does, and never by position; the user's tensors keep their names (None)."""
    F = nn.functional
    rng = np.random.default_rng(1)
    x = zeroin.tensor(rng.standard_normal((8, 3)), requires_grad=True, name="x")
    data = {"target": zeroin.tensor(rng.random((8, 3))),
            "signs": zeroin.tensor(np.sign(rng.standard_normal(8))),
            "labels": zeroin.tensor(rng.integers(0, 3, 8)),
            "var": zeroin.tensor(rng.random((8, 3)) + 0.5)}
    out = {"huber_loss": lambda: F.huber_loss(x, data["target"]),
           "smooth_l1_loss": lambda: F.smooth_l1_loss(x, data["target"]),
           "poisson_nll_loss": lambda: F.poisson_nll_loss(x, data["target"]),
           "soft_margin_loss": lambda: F.soft_margin_loss(x, data["target"]),
           "multilabel_soft_margin_loss": lambda: F.multilabel_soft_margin_loss(x, data["target"]),
           "kl_div": lambda: F.kl_div(F.log_softmax(x, dim=1), data["target"],
                                     reduction="batchmean"),
           "gaussian_nll_loss": lambda: F.gaussian_nll_loss(x, data["target"], data["var"]),
           "nll_loss": lambda: F.nll_loss(F.log_softmax(x, dim=1), data["labels"]),
           "margin_ranking_loss": lambda: F.margin_ranking_loss(x[:, 0], x[:, 1],
                                                                data["signs"])}[loss]()
    names = {n["text"][0] for n in zeroin.draw(out).nodes if n["kind"] == "const"}
    assert roles <= names, names
    assert not any(n.startswith("input") for n in names) or loss == "multilabel_soft_margin_loss"
    assert roles <= set(str(zeroin.explain(out, x)).replace("(", " ").replace(",", " ").split())
    assert all(t.name is None for t in data.values())


def test_the_caption_says_what_the_edge_labels_are():
    model, x, loss = _mlp()
    d = zeroin.draw(loss, wrt=model[0].weight)
    labels = [e["label"] for e in d.edges if e["highlight"] and e["label"]]
    assert labels and all(lab.startswith("J ") for lab in labels)
    assert "'J mxn' on an edge" in d.caption and "edge numbers" not in d.caption
    w, b, x, y, z = _chapter()
    d = zeroin.draw(z, wrt=b)
    assert all(not e["label"].startswith("J ") for e in d.edges)
    assert "edge numbers are the local derivatives" in d.caption and "J mxn" not in d.caption
    # both kinds on one path: scalars, then a vector
    v = zeroin.tensor([1.0, 2.0], requires_grad=True, name="v")
    k = zeroin.tensor(2.0, requires_grad=True, name="k")
    m = k * 3
    out = (v * m).sum()
    d = zeroin.draw(out, wrt=k)
    labels = [e["label"] for e in d.edges if e["highlight"] and e["label"]]
    assert any(lab.startswith("J ") for lab in labels) and "3" in labels
    assert "where both are single numbers; 'J mxn'" in d.caption
