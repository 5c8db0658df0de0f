"""zeroin.explain: the chain rule as a sum over paths, checked against the engine."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import zeroin
from zeroin.autograd import node_grads


def seed_graph(names=True):
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    z = x * y
    if names:
        x.name, y.name, z.name = "x", "y", "z"
    return w, b, x, y, z


def test_seed_b_sum_over_two_paths():
    w, b, x, y, z = seed_graph()
    e = zeroin.explain(z, b)
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15" in e.text
    assert str(e) == e.text
    assert e.value == 15.0 == node_grads(z)[id(b)]
    assert [p.names for p in e.paths] == [["z", "x", "b"], ["z", "y", "b"]]
    assert [p.local for p in e.paths] == [[5.0, 1.0], [10.0, 1.0]]
    assert [p.product for p in e.paths] == [5.0, 10.0]
    assert e.n_paths == 2 and not e.collapsed


def test_seed_w_folds_unnamed_step():
    w, b, x, y, z = seed_graph()
    e = zeroin.explain(z, w)
    assert "dz/dw = dz/dx * dx/dw = 5 * 2 = 10" in e.text
    assert e.value == 10.0
    # the forward formulas with constants shown as values, a number times a tensor number
    # first as the chapter writes x = 2w + b (2 * w records mul(w, 2))
    assert "x = 2 * w + b = 10" in e.text
    assert "z = x * y = 50" in e.text


def test_a_number_times_a_tensor_reads_number_first():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    for u in ((w + b) * 3, 3 * (w + b)):
        u.name = "u"
        assert "u = 3 * (w + b) = 21" in zeroin.explain(u, w, steps="named").text
    v = w * zeroin.tensor([1.0, 2.0])                 # a constant vector keeps its place
    v.name = "v"
    assert "v = w * [1, 2] = [3, 6]" in zeroin.explain(v.sum(), w, steps="all").text
    p = w * b                                         # two tensors: as written
    p.name = "p"
    assert "p = w * b = 12" in zeroin.explain(p, w).text
    x = zeroin.tensor(2.0, name="x")                  # a named constant (the data):
    a = zeroin.sigmoid(w * x + b)                     # as written, the neuron's w * x
    a.name = "a"
    assert "a = sigmoid(w * x + b) = " in zeroin.explain(a, w, steps="named").text


def test_an_output_computed_under_no_grad_is_named_as_the_cause():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    with zeroin.no_grad():
        z = w * 2
    with pytest.raises(ValueError, match=r"does not require grad, so it has no graph to "
                                         r"explain; .*outside `with zeroin.no_grad\(\):`"):
        zeroin.explain(z, w)


def test_markdown_has_math():
    w, b, x, y, z = seed_graph()
    md = zeroin.explain(z, b)._repr_markdown_()
    assert "$$" in md and "\\frac{\\partial z}{\\partial b}" in md
    assert "5 \\cdot 1 + 10 \\cdot 1 = 15" in md


def test_markdown_is_public_for_slides_and_notebooks():
    w, b, x, y, z = seed_graph()
    e = zeroin.explain(z, b)
    md = e.markdown()
    assert md == e._repr_markdown_()
    assert md.startswith("**Chain rule for $\\partial z / \\partial b$**")
    assert "$$" + e.latex() + "$$" in md
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15" in md


def test_all_steps_and_default_names_after_plain_backward():
    w = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    z = (2 * w + b) * (b + 1)
    z.backward()                       # graph released: explain still works
    e = zeroin.explain(z, w)
    assert e.paths[0].names == ["mul2", "add1", "mul1", "t0"]
    assert e.paths[0].local == [5.0, 1.0, 2.0]
    assert "dmul2/dt0 = dmul2/dadd1 * dadd1/dmul1 * dmul1/dt0 = 5 * 1 * 2 = 10" in e.text
    assert zeroin.explain(z, b).value == b.grad.item() == 15.0
    w2, b2, x, y, z2 = seed_graph()
    e2 = zeroin.explain(z2, w2, steps="all")
    assert e2.paths[0].names == ["z", "x", "mul1", "w"]


def _mlp(seed=0):
    rng = np.random.default_rng(seed)
    X = zeroin.tensor(rng.normal(size=(6, 3)), name="X")
    Y = zeroin.tensor(rng.normal(size=(6, 1)), name="Y")
    W1 = zeroin.tensor(rng.normal(size=(3, 4)), requires_grad=True, name="W1")
    b1 = zeroin.tensor(rng.normal(size=4), requires_grad=True, name="b1")
    W2 = zeroin.tensor(rng.normal(size=(4, 1)), requires_grad=True, name="W2")

    def f(W1, b1, W2):
        h = (X @ W1 + b1).tanh()
        r = h @ W2 - Y
        return (r * r).mean() + 0.1 * (W1 * W1).sum()
    return f, (W1, b1, W2)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_mlp_value_matches_node_grads_and_finite_differences(which):
    f, params = _mlp()
    loss = f(*params)
    p = params[which]
    e = zeroin.explain(loss, p)
    np.testing.assert_allclose(e.value, node_grads(loss)[id(p)], rtol=1e-12)
    # central differences, element by element
    num = np.zeros_like(p.data)
    for i in np.ndindex(p.shape):
        old = p.data[i]
        p.data[i] = old + 1e-6
        up = f(*params).item()
        p.data[i] = old - 1e-6
        down = f(*params).item()
        p.data[i] = old
        num[i] = (up - down) / 2e-6
    np.testing.assert_allclose(e.value, num, rtol=1e-5, atol=1e-7)
    # the paths' shares add up to the gradient
    np.testing.assert_allclose(sum(q.product for q in e.paths), e.value, rtol=1e-12)
    # big tensors (the 6x4 hidden layer) are summarised, small ones (W1 has 12 numbers,
    # W2 4) written out; Jacobians are named with their shape, never printed whole
    assert "Jacobian J" in e.text
    if which < 2:
        assert "6x4 matrix (mean" in e.text
    assert zeroin.viz.format.array(p.data) in e.text and "[[" in e.text
    assert all(len(line) < 400 for line in e.lines)


def test_deep_diamond_is_bounded_and_collapsed(monkeypatch):
    x = zeroin.tensor(0.3, requires_grad=True, name="x")
    h = x
    for _ in range(30):
        h = (h * 0.9).tanh() + h.sin()
    edges = []              # the work, counted: one local derivative per edge walked
    vjp = zeroin.viz.explain.local_vjp
    monkeypatch.setattr(zeroin.viz.explain, "local_vjp", lambda *a: edges.append(1) or vjp(*a))
    e = zeroin.explain(h, x, max_paths=10)
    # 10 listed paths of about 90 edges, each edge twice (its factor and the gradient after
    # it): about 1,800; listing all 2**30 paths would walk 2**30 times as many
    assert len(edges) < 5_000
    assert e.n_paths == 2 ** 30 and e.collapsed
    assert len(e.paths) == 10
    assert "more than max_paths=10" in e.text and "collapsed" in e.text
    assert len(e.lines) < 100
    assert e.value == pytest.approx(node_grads(h)[id(x)], rel=1e-12)
    for q in e.paths:                   # each listed path is a real chain of local factors
        assert q.product == pytest.approx(np.prod(q.local), rel=1e-12)


def test_arguments_the_wrong_way_round_say_which_comes_first():
    """explain(w, z), a learner's swap: not 'dw/dwrt = 0' with a placeholder name, but the
    names from z's graph and the call to write."""
    w, b, x, y, z = seed_graph(names=False)
    e = zeroin.explain(w, z)
    assert e.value == 0 and e.n_paths == 0
    assert e.text == ("w does not depend on mul2, so dw/dmul2 = 0: it is the other way round, "
                      "mul2 is computed from w; the output comes first: explain(mul2, w).")
    z.name = "z"
    assert "the output comes first: explain(z, add1)." in zeroin.explain(x, z).text
    q = zeroin.tensor(1.0, requires_grad=True, name="q")        # unrelated: no such hint
    assert "other way round" not in zeroin.explain(z, q).text


def test_shared_input_and_non_dependence_and_errors():
    a = zeroin.tensor(2.0, requires_grad=True, name="a")
    e = zeroin.explain(a * a, a)
    assert e.value == 4.0 and e.paths[0].local == [4.0]
    q = zeroin.tensor(1.0, requires_grad=True, name="q")
    e = zeroin.explain(a * 3, q)
    assert e.value == 0 and e.n_paths == 0 and "does not depend on q" in e.text
    with pytest.raises(ValueError, match="requires_grad=True"):
        zeroin.explain(a * 3, zeroin.tensor(1.0))
    v = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        zeroin.explain(v * 2, v)
    e = zeroin.explain(v * v, v, gradient=np.ones(2))
    np.testing.assert_allclose(e.value, [2.0, 4.0])


_UNARY = ["tanh", "sin", "exp", "sigmoid"]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 100), st.integers(0, 100)),
                min_size=1, max_size=12),
       st.floats(-1.5, 1.5))
def test_random_graphs_paths_sum_to_gradient(program, x0):
    x = zeroin.tensor(x0, requires_grad=True, name="x")
    nodes = [x]
    for op, i, j in program:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op < 4:
            nodes.append(getattr(a * 0.5, _UNARY[op])())
        elif op == 4:
            nodes.append(a + b)
        else:
            nodes.append(a * b)
    out = nodes[-1] + 0.0 * x          # the output always depends on x
    e = zeroin.explain(out, x, max_paths=10_000)
    assert e.value == pytest.approx(node_grads(out)[id(x)], rel=1e-9, abs=1e-12)
    assert sum(q.product for q in e.paths) == pytest.approx(e.value, rel=1e-9, abs=1e-12)
    assert len(e.paths) == e.n_paths


def test_long_chain_is_abbreviated_not_dumped():
    x = zeroin.tensor(0.1, requires_grad=True, name="x")
    h = x
    for _ in range(1000):
        h = (h * 0.999).sin()
    e = zeroin.explain(h, x)
    assert e.n_paths == 1 and len(e.paths[0].nodes) == 2001
    assert len(e.lines) < 60 and max(map(len, e.lines)) < 800
    assert "more nodes on the paths" in e.text and "(1990 more)" in e.text
    assert e.paths[0].product == pytest.approx(np.prod(e.paths[0].local), rel=1e-9)
    assert e.value == pytest.approx(node_grads(h)[id(x)], rel=1e-12)


_A = np.random.default_rng(3).normal(size=(3, 4))
_V = np.random.default_rng(4).normal(size=4)
_CASES = {
    "softmax": lambda a, v: (a.softmax(axis=1) * a).sum(),
    "log_softmax": lambda a, v: a.log_softmax(1).mean(),
    "max_min": lambda a, v: a.amax(axis=0).sum() + a.min(),
    "where": lambda a, v: zeroin.where(a.data > 0, a, a * a).sum(),
    "indexing": lambda a, v: a[[0, 0, 2]].sum() + a[1, 2:].sum(),
    "cat_stack": lambda a, v: zeroin.cat([a, a * 2]).sum() + zeroin.stack([v, v * v]).mean(),
    "matvec": lambda a, v: (a @ v).tanh().sum() + v @ v,
    "broadcast": lambda a, v: (a + v).sum() + (a * v).sum(),
    "pow": lambda a, v: ((v.abs() + 1) ** v.sum()).sum(),
    "shapes": lambda a, v: a.reshape(4, 3).T.sum(axis=0).sum(),
    "clip_relu": lambda a, v: a.clip(-0.5, 0.5).sum() + a.relu().sum() + a.leaky_relu().sum(),
    "logsumexp": lambda a, v: a.logsumexp(axis=1).sum(),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_every_op_family_paths_add_up(case):
    a = zeroin.tensor(_A, requires_grad=True, name="a")
    v = zeroin.tensor(_V, requires_grad=True, name="v")
    out = _CASES[case](a, v)
    grads = node_grads(out)
    for wrt in (a, v):
        e = zeroin.explain(out, wrt, max_paths=50)
        if id(wrt) not in grads:
            assert e.n_paths == 0
            continue
        np.testing.assert_allclose(e.value, grads[id(wrt)], rtol=1e-12)
        np.testing.assert_allclose(sum(np.asarray(p.product) for p in e.paths), e.value,
                                   rtol=1e-9, atol=1e-12)


def test_default_names_never_clash_with_given_names():
    a = zeroin.tensor(2.0, requires_grad=True)           # unnamed leaf -> t0
    m = a * 3.0
    m.name = "mul1"                                      # the user took "mul1"
    out = (m * a) * 1.0
    names = zeroin.explain(out, a, steps="all").paths[0].names
    assert names[0] == "mul3" and names[-1] == "t0"
    from zeroin.viz.explain import node_names
    assert sorted(node_names(out).values()) == ["1", "3", "mul1", "mul2", "mul3", "t0"]
    assert zeroin.explain(out, a).value == 12.0           # still callable after the import


def test_named_steps_fold_through_shared_hidden_nodes():
    # h is named; the unnamed steps between h and the leaves are folded, and the
    # folded local derivatives still multiply out to the backward gradient
    a = zeroin.tensor(0.7, requires_grad=True, name="a")
    u = (a * a).sin()
    h = u * u + u
    h.name = "h"
    out = h.exp() * a
    out.name = "L"
    e = zeroin.explain(out, a)
    assert [p.names for p in e.paths] == [["L", "h", "a"], ["L", "a"]]
    dh_da = e.paths[0].local[1]
    uu = np.sin(0.49)
    assert dh_da == pytest.approx((2 * uu + 1) * np.cos(0.49) * 2 * 0.7, rel=1e-12)
    assert e.value == pytest.approx(node_grads(out)[id(a)], rel=1e-12)


def test_viz_package_and_the_functions_resolve():
    import zeroin.viz
    import zeroin.viz.explain as mod
    assert zeroin.viz.Explanation is zeroin.Explanation is mod.Explanation
    assert zeroin.explain is mod.explain and callable(zeroin.explain)
    from zeroin.viz.draw import draw
    assert zeroin.draw is draw
    for name in dir(zeroin):                              # every listed name resolves
        getattr(zeroin, name)


def test_small_tensors_show_their_numbers_in_text_and_latex():
    rng = np.random.default_rng(0)
    W = zeroin.tensor(rng.normal(size=(3, 2)), requires_grad=True, name="W")
    x = zeroin.tensor([[0.5, -1.0, 2.0]], name="x")
    loss = (x @ W).tanh().sum()
    e = zeroin.explain(loss, W)
    six = zeroin.viz.format.array(W.data)
    assert six.count(",") == 5 and six.startswith("[[")          # all six numbers
    assert f"W: input (3x2) = {six}" in e.text
    assert "mean" not in e.text.split("\n")[1]
    g = node_grads(loss)[id(W)]
    tex = e.latex()
    assert tex.count("&") == 3 and tex.count("\\\\") == 2 and "bmatrix" in tex
    assert zeroin.viz.format.number(g[2, 1]) in tex
    assert "\\[" in e.html() and "<pre>" in e.html()
    big = zeroin.tensor(rng.normal(size=(4, 4)), requires_grad=True, name="B")
    e = zeroin.explain((big * 2).sum(), big)
    assert "B: input (4x4) = 4x4 matrix (mean" in e.text and "\\text{4x4 matrix" in e.latex()


def _scalar_net():
    rng = np.random.default_rng(0)
    T = lambda v: zeroin.tensor(v, requires_grad=True)              # noqa: E731
    W1 = [[T(rng.uniform(-1, 1)) for _ in range(2)] for _ in range(3)]
    W2 = [T(rng.uniform(-1, 1)) for _ in range(3)]
    loss = 0
    for x, y in zip([[2.0, 3.0], [3.0, -1.0], [0.5, 1.0]], [1.0, -1.0, -1.0]):
        h = [sum(w * xi for w, xi in zip(row, x)).tanh() for row in W1]
        loss = loss + (sum(w * hi for w, hi in zip(W2, h)) - y) ** 2
    return loss, W1


def test_deep_scalar_graph_skips_steps_that_change_nothing():
    loss, W1 = _scalar_net()
    e = zeroin.explain(loss, W1[0][0])
    assert e.value == pytest.approx(node_grads(loss)[id(W1[0][0])], rel=1e-12)
    assert sum(p.product for p in e.paths) == pytest.approx(e.value, rel=1e-12)
    assert " + 0 " not in e.text and "+ 0 =" not in e.text        # sum()'s 0 + ... left out
    assert "that change nothing, such as x + 0, are left out" in e.text
    for line in e.lines:                                           # no `dA/dB = dA/dB`
        parts = [p.strip() for p in line.split(" = ")]
        assert all(a != b for a, b in zip(parts, parts[1:])), line
    last = e.lines[-1].split(" = ")
    assert " * 1 " not in last[2] and "local derivatives equal to 1 are left out" in e.text
    every = zeroin.explain(loss, W1[0][0], steps="all")
    assert every.value == e.value and "+ 0" in every.text
    assert len(every.paths[0].nodes) > len(e.paths[0].nodes)


def test_names_from_a_model_and_module_paths():
    from zeroin import nn
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    loss = model(zeroin.tensor([[0.5, -1.0]])).sum()
    e = zeroin.explain(loss, model[0].weight)
    assert e.wrt_name == "0.weight" and "linear([[0.5, -1]], 0.weight, 0.bias)" in e.text
    w = zeroin.tensor(1.5, requires_grad=True)
    e = zeroin.explain(w * 3, w, model={"slope": w})
    assert e.paths[0].names[-1] == "slope"


def test_a_number_or_a_module_in_place_of_a_tensor_says_what_to_pass():
    from zeroin import nn
    w, b, x, y, z = seed_graph()
    model = nn.Linear(2, 1)
    for fn in (zeroin.explain, zeroin.draw):
        name = fn.__name__
        with pytest.raises(TypeError, match=rf"{name}: output must be a Tensor, got a "
                                            rf"Linear module; .*model\(x\)"):
            fn(model, w)
        with pytest.raises(TypeError, match=rf"{name}: wrt must be a Tensor, got a Linear "
                                            r"module; pass one of its parameters"):
            fn(z, model)
        with pytest.raises(TypeError, match=rf"{name}: output must be a Tensor, got float "
                                            r"50.0; make it a tensor first"):
            fn(z.item(), w)
        with pytest.raises(TypeError, match=rf"{name}: wrt must be a Tensor, got str"):
            fn(z, "w")


def test_a_list_of_tensors_in_place_of_one_says_one_at_a_time():
    """explain(z, [w, b]) / draw(z, wrt=[w, b]): the tensors are right, the list is not; the
    message said to "make it a tensor first" (with the list's repr cut mid-word)."""
    w, b, x, y, z = seed_graph()
    for fn in (zeroin.explain, zeroin.draw):
        name = fn.__name__
        with pytest.raises(TypeError, match=rf"{name}: wrt must be a Tensor, got a list of 2 "
                                            rf"tensors; {name} follows one wrt at a time: "
                                            rf"{name}\(output, t\) for each t$"):
            fn(z, [w, b])
        with pytest.raises(TypeError, match=rf"{name}: output must be a Tensor, got a tuple "
                                            rf"of 2 tensors; .*one output at a time.*sum"):
            fn((z, y), w)


@pytest.mark.parametrize("kind", ["GRU", "LSTM"])
def test_two_recurrent_steps_explain_and_draw_with_the_step_ops(kind):
    # a step is a few ops with their own rules (gru_h; lstm_c, lstm_h): the paths through
    # them add up to the engine's gradient, and the drawing names each step's op
    zeroin.manual_seed(0)
    m = getattr(zeroin.nn, kind)(2, 3)
    x = zeroin.tensor(np.random.default_rng(0).standard_normal((2, 1, 2)), requires_grad=True)
    loss = m(x)[0].sum()
    for wrt in (x, m.weight_hh_l0):
        e = zeroin.explain(loss, wrt)
        np.testing.assert_allclose(e.value, node_grads(loss)[id(wrt)], rtol=1e-12)
        np.testing.assert_allclose(sum(q.product for q in e.paths), e.value, rtol=1e-12,
                                   atol=1e-15)
    ops = {"GRU": ["gru_h1", "gru_h2"], "LSTM": ["lstm_c2", "lstm_h2"]}[kind]
    assert all(name in e.text for name in ops)
    texts = [line for node in zeroin.draw(loss).nodes for line in node["text"]]
    assert all(name in texts for name in ops)
