"""zeroin.viz.layout: the layered layout and its folding into rows (for slides)."""
from hypothesis import given, settings, strategies as st

from zeroin.viz.layout import fold, layout


def _chain_with_params(n, params_every=3):
    """A chain x0 -> op -> x1 -> op ... with a parameter into every few ops."""
    nodes, edges, sizes = [], [], {}
    prev = None
    for i in range(n):
        if i % params_every == 1:
            p = f"p{i}"
            nodes.append(p)
            sizes[p] = (90, 50)
        node = f"t{i}"
        nodes.append(node)
        sizes[node] = (60 + 10 * (i % 4), 40)
        if prev is not None:
            edges.append((prev, node))
        if i % params_every == 1:
            edges.append((p, node))
        prev = node
    return nodes, edges, sizes


def _check_picture(pos, routes, sizes, w, h, edges):
    boxes = [(x - sizes[k][0] / 2, y - sizes[k][1] / 2, x + sizes[k][0] / 2,
              y + sizes[k][1] / 2) for k, (x, y) in pos.items()]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] and a[2] <= w and 0 <= a[1] and a[3] <= h
        for b in boxes[:i]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    assert len(routes) == len(edges)
    for (u, v), pts in zip(edges, routes):        # each edge from u's right to v's left
        assert pts[0] == (pos[u][0] + sizes[u][0] / 2, pos[u][1])
        assert pts[-1] == (pos[v][0] - sizes[v][0] / 2, pos[v][1])
        assert all(0 <= x <= w and 0 <= y <= h for x, y in pts)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(1, 6), st.integers(2, 5))
def test_folding_keeps_every_node_apart_and_every_edge_joined(n, bands, every):
    nodes, edges, sizes = _chain_with_params(n, every)
    pos, routes, w, h = layout(nodes, edges, sizes)
    _check_picture(pos, routes, sizes, w, h, edges)
    f_pos, f_routes, fw, fh = fold(pos, routes, sizes, bands)
    _check_picture(f_pos, f_routes, sizes, fw, fh, edges)


def test_folding_a_long_chain_makes_rows_read_like_text():
    nodes, edges, sizes = _chain_with_params(30)
    pos, routes, w, h = layout(nodes, edges, sizes)
    f_pos, f_routes, fw, fh = fold(pos, routes, sizes, 3)
    assert fw < w / 2 and fh > h                        # three rows, a third as wide
    rows = sorted({round(y) for k, (x, y) in f_pos.items() if k.startswith("t")})
    first, last = f_pos["t0"], f_pos["t29"]
    assert first[1] < last[1] and first[0] < w / 6      # starts top left, ends lower down
    crossing = [r for r in f_routes if len(r) > 2]
    assert len(crossing) == 2                           # one edge from each row to the next
    for r in crossing:                                  # right angles: only straight pieces
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in zip(r, r[1:]))
        assert r[2][1] == r[3][1] and r[3][0] < r[2][0]  # back left under the row
    assert len(rows) >= 3
    one = fold(pos, routes, sizes, 1)                   # one band: the same picture, moved
    assert (one[2], one[3]) == (w, h) and one[0] == pos
