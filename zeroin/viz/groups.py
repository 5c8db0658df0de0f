"""Drawings grouped by module: which drawn node is in which module's frame, and the
collapsed view with one node per module.

The calls come from :func:`module_calls` (the record TensorBoard's ``add_graph`` uses too,
:mod:`zeroin.nn._calls`); an op belongs to the innermost call that computed it. A
parameter or input sits in the innermost frame holding all the ops that use it, so a
weight shared by two calls of one layer is drawn once, outside both.
"""
from __future__ import annotations

from contextlib import contextmanager

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
    """The recorded calls, or a clear error for anything else."""
    from ..nn._calls import ModuleCalls
    from ..nn.module import Module
    if not isinstance(collapse, bool):
        raise TypeError(f"draw: collapse must be True or False, got {collapse!r}")
    if modules is None:
        if collapse:
            raise ValueError("draw: collapse=True draws each module as one node, so it "
                             "needs modules=: the calls recorded with "
                             "`with zeroin.viz.module_calls(net) as calls: y = net(x)`")
        return None
    if isinstance(modules, Module):
        raise TypeError("draw: modules= takes the calls recorded while the model ran, not "
                        "the model: `with zeroin.viz.module_calls(net) as calls: y = net(x)` "
                        "then `zeroin.draw(y, modules=calls)`")
    if not isinstance(modules, ModuleCalls):
        raise TypeError(f"draw: modules must be the calls from zeroin.viz.module_calls(net), "
                        f"got {type(modules).__name__}")
    return modules


def _frame_of_call(call):
    """The frame (a call) ``call``'s ops are drawn in, skipping an unframed model call."""
    return call if call is not None and not (call.parent is None and call.times == 1) \
        else None


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
    from ..nn._calls import owners
    owner = owners(order, calls)
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
    from ..nn._calls import owners
    from .layout import forward_order
    owner = owners(order, calls)
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
