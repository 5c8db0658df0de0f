"""A small layered (Sugiyama-style) layout for graph drawings, left to right.

Longest-path layering from the sources, dummy nodes on long edges, barycentre ordering to
reduce crossings, then vertical positions pulled towards the neighbours. Enough for the
graphs a learner draws (tens of nodes); no Graphviz binary needed. :func:`fold` wraps a
long layout into rows, so that it fits a slide.
"""
from __future__ import annotations

import bisect

__all__ = ["layout", "fold", "nested", "forward_order", "Cycle"]


def _crossings(order_a, order_b, edges_ab):
    """Edge crossings between two adjacent layers (inversions, O(E log E))."""
    pa = {u: i for i, u in enumerate(order_a)}
    pb = {v: i for i, v in enumerate(order_b)}
    seen, n = [], 0
    for _, b in sorted((pa[u], pb[v]) for u, v in edges_ab):
        n += len(seen) - bisect.bisect_right(seen, b)
        bisect.insort(seen, b)
    return n


def _layers(nodes, preds, succs, first=(), last=()):
    """Longest-path layering from the sources; a source then moves just left of its first
    consumer (a constant sits next to its op). Sources in ``first`` stay in the first
    layer, sinks in ``last`` go to a layer after all others (a frame's entry and exit
    points)."""
    layer = {}
    for u in nodes:
        layer[u] = max((layer[p] + 1 for p in preds[u]), default=0)
    for u in reversed(nodes):
        if not preds[u] and succs[u] and u not in first:
            layer[u] = min(layer[s] for s in succs[u]) - 1
    if last:
        end = max((layer[u] for u in nodes if u not in last), default=-1) + 1
        layer.update((u, end) for u in last)
    return layer


def _chains(edges, layer):
    """Each edge as the chain of nodes it passes, with a dummy node in every layer it
    spans; returns (chains, {node or dummy: layer})."""
    chains, all_layer = [], dict(layer)
    for k, (u, v) in enumerate(edges):
        chain = [u]
        for li in range(layer[u] + 1, layer[v]):
            d = ("_d", k, li)
            all_layer[d] = li
            chain.append(d)
        chain.append(v)
        chains.append(chain)
    return chains, all_layer


def _order(layers, up, down, seg, sweeps):
    """Barycentre sweeps (down, then up, ...) keeping the order with fewest crossings."""
    n = len(layers)

    def total(ls):
        return sum(_crossings(ls[i], ls[i + 1], seg[i]) for i in range(n - 1))

    def reorder(layer_nodes, nbrs, ref):
        pos = {u: i for i, u in enumerate(ref)}
        old = {u: i for i, u in enumerate(layer_nodes)}

        def key(u):
            ps = [pos[v] for v in nbrs[u] if v in pos]
            return (sum(ps) / len(ps) if ps else old[u], old[u])
        return sorted(layer_nodes, key=key)

    best = [list(ls) for ls in layers]
    best_c = total(best)
    cur = [list(ls) for ls in layers]
    for s in range(sweeps):
        if best_c == 0:
            break
        if s % 2 == 0:
            for i in range(1, n):
                cur[i] = reorder(cur[i], up, cur[i - 1])
        else:
            for i in range(n - 2, -1, -1):
                cur[i] = reorder(cur[i], down, cur[i + 1])
        c = total(cur)
        if c < best_c:
            best_c, best = c, [list(ls) for ls in cur]
    return best


def _place_layer(y, ls, want, size, gap_y):
    """Move the nodes of one layer towards ``want``, keeping their order and gaps."""
    if not ls:
        return
    sep = [(size(a)[1] + size(b)[1]) / 2 + gap_y for a, b in zip(ls, ls[1:])]
    f = [want[u] for u in ls]
    for i in range(1, len(ls)):
        f[i] = max(f[i], f[i - 1] + sep[i - 1])
    b = [want[u] for u in ls]
    for i in range(len(ls) - 2, -1, -1):
        b[i] = min(b[i], b[i + 1] - sep[i])
    for i, u in enumerate(ls):
        y[u] = (f[i] + b[i]) / 2


def _vertical(layers, up, down, size, gap_y):
    """y of every node: stacked per layer, then pulled towards its neighbours."""
    y = {}
    for ls in layers:
        t = 0
        for u in ls:
            h = size(u)[1]
            y[u] = t + h / 2
            t += h + gap_y
        off = -(t - gap_y) / 2
        for u in ls:
            y[u] += off
    n = len(layers)
    for _ in range(6):
        for order, nbrs in ((range(n), up), (range(n - 1, -1, -1), down)):
            for i in order:
                want = {}
                for u in layers[i]:
                    ns = nbrs[u] or (down[u] if nbrs is up else up[u])
                    want[u] = sum(y[v] for v in ns) / len(ns) if ns else y[u]
                _place_layer(y, layers[i], want, size, gap_y)
    return y


def _routes(chains, pos, sizes, col_w, all_layer):
    """The points each edge's curve passes: from the right side of its source through
    its dummies' columns to the left side of its target."""
    routes = []
    for chain in chains:
        pts = []
        for j, u in enumerate(chain):
            cx, cy = pos[u]
            w = sizes[u][0] if u in sizes else 0
            if j == 0:
                pts.append((cx + w / 2, cy))
            elif j == len(chain) - 1:
                pts.append((cx - w / 2, cy))
            else:
                pts.append((cx - col_w[all_layer[u]] / 2, cy))
                pts.append((cx + col_w[all_layer[u]] / 2, cy))
        routes.append(pts)
    return routes


def layout(nodes, edges, sizes, gap_x=60, gap_y=22, margin=20, sweeps=12, first=(),
           last=()):
    """Place ``nodes`` (ids in topological order) joined by ``edges`` [(u, v)].

    ``sizes`` maps id -> (width, height). Returns ``(pos, routes, width, height)``:
    centres {id: (x, y)}, for each edge the list of points its curve passes through
    (from the right side of u to the left side of v), and the canvas size. Nodes in
    ``first`` / ``last`` are kept in the first / put in the last column.
    """
    preds = {u: [] for u in nodes}
    succs = {u: [] for u in nodes}
    for u, v in edges:
        succs[u].append(v)
        preds[v].append(u)
    chains, all_layer = _chains(edges, _layers(nodes, preds, succs, set(first), set(last)))
    n_layers = max(all_layer.values(), default=0) + 1
    rank = {u: i for i, u in enumerate(nodes)}
    for u in all_layer:
        if u not in rank:                       # a dummy sorts just after its edge's source
            rank[u] = rank[edges[u[1]][0]] + 0.5
    layers = [[] for _ in range(n_layers)]
    for u in sorted(all_layer, key=lambda u: rank[u]):
        layers[all_layer[u]].append(u)
    up = {u: [] for u in all_layer}     # neighbours in the layer to the left
    down = {u: [] for u in all_layer}   # neighbours in the layer to the right
    seg = [[] for _ in range(n_layers)]
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
            seg[all_layer[a]].append((a, b))
    layers = _order(layers, up, down, seg, sweeps)

    def size(u):
        return sizes[u] if u in sizes else (0, 8)

    col_w = [max((size(u)[0] for u in ls), default=0) for ls in layers]
    xs, x = [], margin
    for w in col_w:
        xs.append(x + w / 2)
        x += w + gap_x
    y = _vertical(layers, up, down, size, gap_y)
    top = min((y[u] - size(u)[1] / 2 for u in y), default=0)
    bottom = max((y[u] + size(u)[1] / 2 for u in y), default=0)
    pos = {u: (xs[i], y[u] - top + margin) for i, ls in enumerate(layers) for u in ls}
    routes = _routes(chains, pos, sizes, col_w, all_layer)
    real = {u: p for u, p in pos.items() if u in sizes}
    return real, routes, x - gap_x + margin, bottom - top + 2 * margin


def _columns(pos, sizes, routes):
    """The x intervals [(left, right)] taken by nodes and by edges' dummy points, merged
    and sorted: the columns of a left-to-right layout."""
    spans = [(x - sizes[k][0] / 2, x + sizes[k][0] / 2) for k, (x, _) in pos.items()]
    for pts in routes:                     # inner points come in (left, right) pairs
        spans += [(a[0], b[0]) for a, b in zip(pts[1:-1:2], pts[2:-1:2])]
    cols = []
    for a, b in sorted(spans):
        if cols and a <= cols[-1][1]:
            cols[-1] = (cols[-1][0], max(cols[-1][1], b))
        else:
            cols.append((a, b))
    return cols


def _cuts(cols, bands, routes):
    """x positions (in the gaps between columns) splitting ``cols`` into ``bands`` runs of
    about equal width, preferring gaps that few edges cross (an op stays in the row of
    its inputs where it can)."""
    gaps = [(a[1] + b[0]) / 2 for a, b in zip(cols, cols[1:])]
    total = cols[-1][1] - cols[0][0]
    crossed = {g: sum(p[0] < g < q[0] for pts in routes for p, q in zip(pts, pts[1:]))
               for g in gaps}
    cuts = []
    for j in range(1, bands):
        want = cols[0][0] + total * j / bands
        free = [g for g in gaps if not cuts or g > cuts[-1]]
        if free:
            cuts.append(min(free, key=lambda g: abs(g - want) / total + 0.06 * crossed[g]))
    return cuts


def fold(pos, routes, sizes, bands, margin=20, lane=10):
    """A left-to-right layout wrapped into ``bands`` rows, read like lines of text: each
    row holds a run of columns; an edge that leaves a row turns down at the row's right
    end, runs back under the row in a lane of its own and enters the next row from the
    left (straight lines, right angles). Returns ``(pos, routes, width, height)``."""
    cols = _columns(pos, sizes, routes)
    cuts = _cuts(cols, bands, routes) if len(cols) > 1 else []
    band = (lambda x: bisect.bisect(cuts, x))
    n = len(cuts) + 1
    lo = [cols[0][0]] + [min(a for a, _ in cols if a > c) for c in cuts]
    hi = [max(b for a, b in cols if band(a) == k) for k in range(n)]
    ys = [[] for _ in range(n)]
    for k, (x, y) in pos.items():
        ys[band(x)] += [y - sizes[k][1] / 2, y + sizes[k][1] / 2]
    crossing = [[] for _ in range(n)]          # (edge, y where it leaves the row)
    for i, pts in enumerate(routes):
        for x, y in pts:
            ys[band(x)].append(y)
        for p, q in zip(pts, pts[1:]):
            if band(q[0]) > band(p[0]):
                crossing[band(p[0])].append((i, p[1]))
    lanes = {}                                 # (band, edge): lane number, lowest first
    for b, cs in enumerate(crossing):
        for j, (i, _) in enumerate(sorted(cs, key=lambda c: -c[1])):
            lanes[b, i] = j
    left = margin + lane * max(map(len, crossing))
    top, tops = margin, []
    for b in range(n):
        tops.append(top - min(ys[b]))
        top += max(ys[b]) - min(ys[b]) + margin + lane * len(crossing[b])

    def move(p):
        b = band(p[0])
        return p[0] - lo[b] + left, p[1] + tops[b]

    new_routes = []
    for i, pts in enumerate(routes):
        out = [move(pts[0])]
        for p, q in zip(pts, pts[1:]):
            b = band(p[0])
            if band(q[0]) > b:                 # right, down, back left, down, in
                j = lanes[b, i]
                r, l = hi[b] - lo[b] + left + lane * (j + 1), left - lane * (j + 1)
                y = tops[b] + max(ys[b]) + margin / 2 + lane * j
                out += [(r, out[-1][1]), (r, y), (l, y), (l, move(q)[1])]
            out.append(move(q))
        new_routes.append(out)
    new_pos = {k: move(p) for k, p in pos.items()}
    width = max([p[0] + sizes[k][0] / 2 for k, p in new_pos.items()] +
                [x for r in new_routes for x, _ in r]) + margin
    return new_pos, new_routes, width, top


# --- frames: a layout of nested groups (the modules of a model) ------------------------------

class Cycle(ValueError):
    """The groups cannot be laid out left to right: one feeds another that feeds it."""


def forward_order(items, pairs):
    """``items`` ordered so that every pair (u, v) goes forward (stable); Cycle if none."""
    preds = {u: 0 for u in items}
    succ = {u: [] for u in items}
    for u, v in pairs:
        succ[u].append(v)
        preds[v] += 1
    ready = [u for u in items if not preds[u]]
    out = []
    while ready:
        u = ready.pop(0)
        out.append(u)
        for v in succ[u]:
            preds[v] -= 1
            if not preds[v]:
                ready.append(v)
    if len(out) < len(items):
        raise Cycle("groups that feed each other")
    return out


def _level(frame, nodes, edges, frame_of, parent):
    """The items of one group (its own nodes, its child groups as ("F", g), its entry and
    exit points) and its edges [(edge index, u, v)]."""
    def item(k):
        f = frame_of.get(k)
        if f == frame:
            return k
        while f is not None and parent.get(f) != frame:
            f = parent.get(f)
        return ("F", f) if f is not None else None
    members = [k for k in nodes if frame_of.get(k) == frame]
    kids = [("F", g) for g in parent if parent[g] == frame]
    ins, outs, pairs = [], [], []
    for i, (u, v) in enumerate(edges):
        a, b = item(u), item(v)
        if a == b or (a is None and b is None):
            continue
        if a is None:
            a = ("in", i)
            ins.append(a)
        if b is None:
            b = ("out", i)
            outs.append(b)
        pairs.append((i, a, b))
    return members, kids, ins, outs, pairs


def _block(frame, g):
    """Lay out one group: (pos, pieces, boxes, ports, width, height) in its own
    coordinates, with the frame's margin and title band; pieces[i] is the part of edge i
    inside it (from its node or entry point to its node or exit point)."""
    members, kids, ins, outs, pairs = _level(frame, g["nodes"], g["edges"], g["frame_of"],
                                             g["parent"])
    sub = {k: _block(k[1], g) for k in kids}
    sizes = {k: g["sizes"][k] for k in members}
    sizes.update({k: sub[k][4:] for k in kids})
    sizes.update({p: (0, 6) for p in ins + outs})
    order = ins + forward_order(members + kids, [(a, b) for _, a, b in pairs
                                                  if a in sizes and b in sizes
                                                  and a not in ins and b not in outs]) + outs
    top = frame is None
    pos, routes, w, h = layout(order, [(a, b) for _, a, b in pairs], sizes, g["gap_x"],
                               g["gap_y"], g["margin"] if top else g["pad"],
                               first=ins, last=outs)
    if top and g["fold"] is not None:
        pos, routes, w, h = g["fold"](pos, routes, sizes, w, h)
    elif not top and g["row"] and w > 1.15 * g["row"]:    # a long group: rows of its own
        pos, routes, w, h = fold(pos, routes, sizes, -int(-w // g["row"]), margin=g["pad"])
    dx, dy = ((g["head"], 0) if g["vertical"] else (0, g["head"])) if not top else (0, 0)
    out_pos, pieces, boxes, ports, inner = {}, {}, {}, {}, {}
    for k, (x, y) in pos.items():
        x, y = x + dx, y + dy
        if k in sub:
            kp, kpieces, kboxes, kports, kw, kh = sub[k]
            ox, oy = x - kw / 2, y - kh / 2
            boxes[k[1]] = (ox, oy, ox + kw, oy + kh)
            out_pos.update({n: (a + ox, b + oy) for n, (a, b) in kp.items()})
            boxes.update({f: (a + ox, b + oy, c + ox, d + oy)
                          for f, (a, b, c, d) in kboxes.items()})
            ports[k] = {p: (a + ox, b + oy) for p, (a, b) in kports.items()}
            inner[k] = {i: [(a + ox, b + oy) for a, b in pts] for i, pts in kpieces.items()}
        elif k in members:
            out_pos[k] = (x, y)
        else:
            ports.setdefault(None, {})[k] = (x, y)
    for k_pieces in inner.values():    # edges inside one child group
        pieces.update(k_pieces)
    for (i, a, b), pts in zip(pairs, routes):
        if a in ins:                   # cross the entry's column straight, above or below
            pts = [(max(x + sizes[k][0] / 2 for k, (x, _) in pos.items()
                        if x == pts[0][0]), pts[0][1])] + pts[1:]
        pts = [(x + dx, y + dy) for x, y in pts]
        if a in sub:                   # leave the child group at its exit's height
            py, edge = ports[a][("out", i)][1], boxes[a[1]][2]
            tail = pts[1:]
            if len(tail) > 1 and tail[0][0] == tail[1][0] > edge:
                tail[0] = (tail[0][0], py)     # a fold's first leg: down from that height
            pts = inner[a][i] + [(edge, py)] + tail
        if b in sub:                   # enter the child group at its entry's height
            py, edge = ports[b][("in", i)][1], boxes[b[1]][0]
            head = pts[:-1]
            if len(head) > 1 and head[-1][0] == head[-2][0] < edge:
                head[-1] = (head[-1][0], py)   # a fold's last leg: down to that height
            pts = head + [(edge, py)] + inner[b][i]
        pieces[i] = pts
    least = g["least"].get(frame, 0) if not top else 0
    w, h = (w, max(h, least)) if g["vertical"] else (max(w, least), h)
    return out_pos, pieces, boxes, ports.get(None, {}), w + dx, h + dy


def nested(nodes, edges, sizes, frame_of, parent, gap_x=60, gap_y=22, margin=20, pad=12,
           head=22, fold=None, vertical=False, least=None, row=None):
    """A left-to-right layout in which the nodes of each group are drawn together, inside
    the group's frame, and groups nest: each group is laid out on its own (its inputs
    entering on the left, its outputs leaving on the right) and placed as one node in its
    parent. ``frame_of`` maps node -> group (absent: the top level), ``parent`` group ->
    enclosing group (None: the top level). ``fold`` (as :func:`fold`, on the top level)
    wraps the top level into rows. Returns ``(pos, routes, boxes, width, height)`` with
    boxes {group: (x0, y0, x1, y1)}; each group has ``pad`` px of margin and a band of
    ``head`` px for its title (on the left for ``vertical``, as the picture is turned).
    ``least`` {group: px} widens a group's frame to fit its title. ``row(width, height)``
    (of the unfolded layout) gives the px width a group wider than it is wrapped to,
    into rows of its own (a long Sequential inside a model). Raises :class:`Cycle` if
    groups feed each other."""
    g = dict(nodes=nodes, edges=edges, sizes=sizes, frame_of=frame_of, parent=parent,
             gap_x=gap_x, gap_y=gap_y, margin=margin, pad=pad, head=head, fold=fold,
             vertical=vertical, least=least or {}, row=None)
    if row is not None and fold is not None:
        w, h = _block(None, dict(g, fold=None))[4:]
        g["row"] = row(w, h)
    pos, pieces, boxes, _, w, h = _block(None, g)
    return pos, [pieces[i] for i in range(len(edges))], boxes, w, h
