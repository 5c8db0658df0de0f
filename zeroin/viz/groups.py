"""Drawings grouped by module: which drawn node is in which module's frame, and the
collapsed view with one node per module.

The calls come from :func:`module_calls` (the record TensorBoard's ``add_graph`` uses too,
:mod:`zeroin.nn._calls`); an op belongs to the innermost call that computed it. A
parameter or input sits in the innermost frame holding all the ops that use it, so a
weight shared by two calls of one layer is drawn once, outside both.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..nn._calls import Call
from .format import shape_str, short

__all__ = ["module_calls"]


@contextmanager
def module_calls(model):
    """Record which of ``model``'s modules ran which ops, for ``zeroin.draw(...,
    modules=calls)``::

        with zeroin.viz.module_calls(net) as calls:
            loss = loss_fn(net(x), y)
        zeroin.draw(loss, modules=calls)                  # each layer in a frame
        zeroin.draw(loss, modules=calls, collapse=True)   # each layer one node

    Forward hooks note each call while the block runs and are removed after it, so the
    model runs exactly as fast afterwards (and nothing is recorded outside the block).
    """
    from ..nn._calls import record
    from ..nn.module import Module
    if not isinstance(model, Module):
        raise TypeError(f"module_calls: model must be an nn.Module (the network whose "
                        f"layers frame the drawing), got {type(model).__name__}")
    with record(model) as calls:
        yield calls


def check(modules, collapse):
    """The recorded calls, the model to find its modules' ops in, or a clear error."""
    from ..nn._calls import ModuleCalls
    from ..nn.module import Module
    if not isinstance(collapse, bool):
        raise TypeError(f"draw: collapse must be True or False, got {collapse!r}")
    if modules is None:
        if collapse:
            raise ValueError("draw: collapse=True draws each module as one node, so it "
                             "needs modules=: the model (modules=net), or the calls "
                             "recorded with `with zeroin.viz.module_calls(net) as calls: "
                             "y = net(x)`")
        return None
    if not isinstance(modules, (ModuleCalls, Module)):
        raise TypeError(f"draw: modules must be the model (an nn.Module) or the calls from "
                        f"zeroin.viz.module_calls(net), got {type(modules).__name__}")
    return modules


def _owners(order, calls):
    """{id(op result): its innermost call}: found with the calls (modules=model), or
    from what the recorded calls read and returned."""
    from ..nn._calls import owners
    found = getattr(calls, "owner", None)
    return found if found is not None else owners(order, calls)


def _frame_of_call(call):
    """The frame (a call) ``call``'s ops are drawn in, skipping an unframed model call."""
    top = call is not None and call.parent is None and call.times == 1 and \
        not (isinstance(call, _Found) and call.path)      # found: only the model is top
    return call if call is not None and not top else None


def _chain(call):
    out = []
    while call is not None:
        out.append(call)
        call = call.parent
    return out


def _common(calls):
    """The innermost call holding all of ``calls`` (None: the top level)."""
    chains = [_chain(c) for c in calls]
    if not chains or any(not ch for ch in chains):
        return None
    for c in chains[0]:
        if all(c in ch for ch in chains[1:]):
            return c
    return None


def frames(order, keys, edges, calls):
    """(frame_of, parent, labels): the frame of each drawn node key, each frame's
    enclosing frame and its label (``fc1 (Linear)``); frames are ids ``"m<i>"``."""
    owner = _owners(order, calls)
    where = {}
    for t in order:
        k = keys.get(id(t))
        c = _frame_of_call(owner.get(id(t)))
        if k is not None and t.grad_fn is not None and c is not None:
            where[k] = where[k + "op"] = c
    users = {}
    for e in edges:
        users.setdefault(e["src"], []).append(e["dst"])
    for t in order:
        k = keys.get(id(t))
        if k is not None and t.grad_fn is None and k in users:
            fs = [where.get(u) for u in users[k]]
            c = _frame_of_call(_common(fs)) if all(fs) else None
            while c is not None and any(i is t for i in c.inputs):   # x: not fc1's own
                c = _frame_of_call(c.parent)
            if c is not None:
                where[k] = c
    fid = {id(c): f"m{i}" for i, c in enumerate(calls)}
    parent, labels = {}, {}
    for c in set(where.values()) - {None}:
        while c is not None and fid[id(c)] not in parent:
            p = _frame_of_call(c.parent)
            parent[fid[id(c)]] = fid[id(p)] if p is not None else None
            labels[fid[id(c)]] = c.label
            c = p
    return {k: fid[id(c)] for k, c in where.items() if c is not None}, parent, labels


def collapsed(order, calls):
    """The graph with each innermost call as one item: (items, pairs, item_of). Items are
    ("t", id) for a tensor drawn as today, ("o", id) for its op, ("m", call) for a
    module; item_of maps id(tensor) to the item it is drawn as (a module's results and
    own parameters to the module). Items are in an order every pair goes forward in."""
    from .layout import forward_order
    owner = _owners(order, calls)
    outer = {id(c.parent) for c in calls if c.parent is not None}
    unit = {k: c for k, c in owner.items() if id(c) not in outer}
    users = {}
    for t in order:
        for p in ({id(i): i for i in t.grad_fn.inputs}.values() if t.grad_fn else ()):
            users.setdefault(id(p), []).append(unit.get(id(t)))
    own = {id(p) for c in set(unit.values())
           for p in (*c.module.parameters(), *c.module.buffers())}
    item_of, items = {}, []
    for t in order:
        k = id(t)
        if k in unit:
            item_of[k] = ("m", unit[k])
        elif k in own and users.get(k) and all(users[k]):
            item_of[k] = ("m", users[k][0])
        else:
            item_of[k] = ("t", k)
            items += [("o", k), ("t", k)] if t.grad_fn is not None else [("t", k)]
        if item_of[k] not in items:
            items.append(item_of[k])
    pairs = []
    for t in order:
        if t.grad_fn is None:
            continue
        dst = item_of[id(t)] if item_of[id(t)][0] == "m" else ("o", id(t))
        for p in {id(i): i for i in t.grad_fn.inputs}.values():
            src = item_of[id(p)]
            if src != dst and (src, dst) not in pairs:
                pairs.append((src, dst))
        if dst[0] == "o":
            pairs.append((dst, ("t", id(t))))
    return forward_order(items, pairs), pairs, item_of


def module_lines(call, out, ctx, ink, grad_color):
    """The text of a collapsed module: its label, its parameters' shapes, its output's
    value and gradient."""
    lines = [(call.label, True, ink)]
    params = ", ".join(f"{n} {shape_str(p.shape)}"
                       for n, p in call.module.named_parameters(recurse=True))
    if params:
        lines.append((params, False, "#4b5563"))
    if out is not None and ctx["values"]:
        lines.append((f"out {short(out.data, ctx['digits'])}", False, ink))
    if out is not None and ctx["grads_on"] and id(out) in ctx["grads"]:
        lines.append((f"grad {short(ctx['grads'][id(out)], ctx['digits'])}", True,
                      grad_color))
    return lines


# --- modules=model: the calls as the graph shows them, without a recording -----------------

class _Found(Call):
    """A module's ops found after the fact: labelled ``fc1 (Linear)``, with ``, use 2``
    when its parameters are read by separate groups of ops (a reused layer's calls, or
    an RNN's steps: the graph alone cannot tell which)."""
    __slots__ = ()

    @property
    def label(self):
        name = type(self.module).__name__
        text = f"{self.path} ({name})" if self.path else name
        return text + (f", use {self.number}" if self.times > 1 else "")


def _inputs(t):
    return list({id(i): i for i in t.grad_fn.inputs}.values()) if t.grad_fn else []


def _parent_path(path):
    return path.rpartition(".")[0] if path else None


def _common_path(paths):
    """The innermost module path holding all of ``paths`` ("" is the model)."""
    parts = [p.split(".") if p else [] for p in paths]
    out = []
    for names in zip(*parts):
        if len(set(names)) > 1:
            break
        out.append(names[0])
    return ".".join(out)


def _owned_ops(model, order):
    """{id(op result): module path}: each op reading a parameter or buffer of a module
    (or a tensor computed from those alone, as ``w.t()``), by the innermost module that
    owns all it reads."""
    path_of = {}
    for path, m in model.named_modules():
        for t in (*m.parameters(recurse=False), *m.buffers(recurse=False)):
            path_of.setdefault(id(t), path)
    pure, own = dict(path_of), {}
    for t in order:
        ins = _inputs(t)
        paths = {pure[id(i)] for i in ins if id(i) in pure}
        if not paths:
            continue
        own[id(t)] = _common_path(paths)
        if all(id(i) in pure for i in ins):
            pure[id(t)] = own[id(t)]
    return own


def _groups(own, order):
    """The ops of each module split into connected groups (one op's result read by
    another of the same module): [(path, [op results])] in the order they start."""
    root = {}

    def find(k):
        while root[k] != k:
            root[k] = root[root[k]]
            k = root[k]
        return k
    for t in order:
        if id(t) in own:
            root.setdefault(id(t), id(t))
            for i in _inputs(t):
                if own.get(id(i)) == own[id(t)]:
                    root[find(id(t))] = find(id(i))
    out = {}
    for t in order:
        if id(t) in own:
            out.setdefault(find(id(t)), (own[id(t)], []))[1].append(t)
    return list(out.values())


def _hull(ops, order, users):
    """The ops on a path between two of ``ops`` (the ops themselves included)."""
    ids = {id(t) for t in ops}
    down, stack = set(ids), list(ids)
    while stack:
        for u in users.get(stack.pop(), ()):
            if u not in down:
                down.add(u)
                stack.append(u)
    up, stack = set(ids), [t for t in ops]
    while stack:
        for i in _inputs(stack.pop()):
            if id(i) not in up and i.grad_fn is not None:
                up.add(id(i))
                stack.append(i)
    return down & up


def _parents(calls, ops_of, order, users):
    """Each call's parent: the call of its nearest ancestor module that owns ops, the
    only one, or the one whose ops it lies between or is wired to."""
    by_path = {}
    for c in calls:
        by_path.setdefault(c.path, []).append(c)
    hulls = {id(c): _hull(ops_of[id(c)], order, users) for c in calls}
    for c in calls:
        mine = {id(t) for t in ops_of[id(c)]}
        p = _parent_path(c.path)
        while p is not None and c.parent is None:
            for b in by_path.get(p, ()):
                theirs = {id(t) for t in ops_of[id(b)]}
                wired = any(id(i) in theirs for t in ops_of[id(c)] for i in _inputs(t)) or \
                    any(id(i) in mine for t in ops_of[id(b)] for i in _inputs(t))
                if len(by_path[p]) == 1 or wired or mine <= hulls[id(b)]:
                    c.parent = b
                    break
            p = _parent_path(p)


def _depth(c):
    return 0 if c.parent is None else 1 + _depth(c.parent)


def as_calls(modules, order):
    """The recorded calls as they are, or those found in the graph for a model."""
    from ..nn._calls import ModuleCalls
    return modules if modules is None or isinstance(modules, ModuleCalls) \
        else found_calls(modules, order)


def found_calls(model, order):
    """``modules=model``: the calls of ``model``'s modules as the graph shows them, with
    the owner of each op, for :func:`frames` and :func:`collapsed`. An op belongs to the
    innermost module owning a parameter (or buffer) it reads; the ops of one module that
    read each other's results are one call; a module's frame also holds the ops between
    its own and its submodules'. Parameter-free modules (ReLU, pooling) leave no trace."""
    from ..nn._calls import ModuleCalls
    own = _owned_ops(model, order)
    if not own:
        raise ValueError(f"draw: no op in the graph reads a parameter or buffer of the "
                         f"{type(model).__name__} passed as modules=, so none of its modules "
                         f"can be found; pass the model that computed it, or record the "
                         f"calls: `with zeroin.viz.module_calls(net) as calls: y = net(x)`")
    mods, users = dict(model.named_modules()), {}
    for t in order:
        for i in _inputs(t):
            users.setdefault(id(i), []).append(id(t))
    found, count, ops_of = _groups(own, order), {}, {}
    calls = []
    for path, ops in found:
        count[path] = count.get(path, 0) + 1
        c = _Found(path, mods[path], [], None, count[path])
        ops_of[id(c)] = ops
        calls.append(c)
    _parents(calls, ops_of, order, users)
    owner = {id(t): c for c in calls for t in ops_of[id(c)]}
    full = {id(c): list(ops_of[id(c)]) for c in calls}
    for c in sorted(calls, key=_depth, reverse=True):    # inner calls first
        if c.parent is not None:
            full[id(c.parent)] += full[id(c)]
        for k in _hull(full[id(c)], order, users):
            owner.setdefault(k, c)
    _ends(calls, owner, order, users, count)
    rank = {id(t): i for i, t in enumerate(order)}
    last = {id(c): max(rank[k] for k in _subtree(c, owner)) for c in calls}
    out = ModuleCalls(model)
    out.extend(sorted(calls, key=lambda c: (last[id(c)], -_depth(c))))
    out.owner = owner
    return out


def _subtree(call, owner):
    """The op results owned by ``call`` or a call inside it."""
    def inside(c):
        while c is not None and c is not call:
            c = c.parent
        return c is call
    return {k for k, c in owner.items() if inside(c)}


def _ends(calls, owner, order, users, count):
    """Each call's inputs (what its ops read from outside, but its module's own
    parameters), outputs (its results read outside, or the drawn output) and times."""
    for c in calls:
        mine = _subtree(c, owner)
        params = {id(p) for p in (*c.module.parameters(), *c.module.buffers())}
        c.inputs = list({id(i): i for t in order if id(t) in mine for i in _inputs(t)
                         if id(i) not in mine and id(i) not in params}.values())
        c.outputs = [t for t in order if id(t) in mine and
                     (t is order[-1] or any(u not in mine for u in users.get(id(t), ())))]
        c.times = count[c.path]
