"""zeroin.graph's queries shared by explain and draw: dependence, consumers, paths."""
import zeroin
from zeroin import graph


def _chapter():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    m = 2 * w
    x = m + b
    y = b + 1
    z = x * y
    return w, b, m, x, y, z


def test_depends_on_and_consumers():
    w, b, m, x, y, z = _chapter()
    assert graph.depends_on(z, w) == {id(w), id(m), id(x), id(z)}
    assert graph.depends_on(z, b) == {id(b), id(x), id(y), id(z)}
    order = graph.toposort([z], include_leaves=True)
    users = graph.consumers(order)
    assert [id(t) for t in users[id(b)]] == [id(x), id(y)]
    assert [id(t) for t in users[id(x)]] == [id(z)] and id(z) not in users
    s = b * b                                             # one input used twice: once
    assert len(graph.consumers(graph.toposort([s], include_leaves=True))[id(b)]) == 1


def test_count_and_list_paths():
    w, b, m, x, y, z = _chapter()
    order = graph.toposort([z], include_leaves=True)
    count = graph.count_paths(order, b)
    assert count[id(z)] == 2 and count[id(x)] == count[id(y)] == 1 and id(w) not in count
    ps = graph.paths(z, b, count=count)
    assert [[id(t) for t in p] for p in ps] == [[id(z), id(x), id(b)], [id(z), id(y), id(b)]]
    assert len(graph.paths(z, b, limit=1)) == 1
    h = b
    for _ in range(40):                                   # 2**40 paths: counted, not listed
        h = h.sin() + h.cos()
    c = graph.count_paths(graph.toposort([h], include_leaves=True), b)
    assert c[id(h)] == 2 ** 40 and len(graph.paths(h, b, limit=5, count=c)) == 5


def test_parents_through_and_between():
    w, b, m, x, y, z = _chapter()
    hidden = {id(m)}
    # m = 2 * w is hidden: x's nearest parents are m's inputs, then b
    want = [id(p) for p in m.grad_fn.inputs] + [id(b)]
    assert [id(p) for p in graph.parents_through(x, hidden)] == want
    only_w = graph.parents_through(x, hidden, keep=lambda p: p.requires_grad and p is not b)
    assert [id(p) for p in only_w] == [id(w)]
    rank = {id(t): i for i, t in enumerate(graph.toposort([z], include_leaves=True))}
    seg = graph.between(x, w, lambda t: id(t) in hidden, rank)
    assert [id(t) for t in seg] == [id(w), id(m), id(x)]
    assert [id(t) for t in graph.between(x, b, lambda t: False, rank)] == [id(b), id(x)]
    assert graph.between(z, b, lambda t: False, rank) == []      # b is not z's input
