"""The graph walk: the one traversal that backward, drawing and explaining all use.

The graph is implicit in the tensors: a tensor's ``grad_fn`` is the op that made it and
``grad_fn.inputs`` are that op's operands. :func:`toposort` orders it without recursion, so
a chain of a million ops is fine.
"""
from __future__ import annotations

__all__ = ["toposort", "parents", "leaves", "is_constant", "depends_on", "consumers",
           "parents_through", "count_paths", "paths", "between"]


def parents(t):
    """The tensors ``t`` was computed from (empty for leaves)."""
    fn = t.grad_fn
    return fn.inputs if fn is not None else ()


def toposort(roots, include_leaves=False):
    """Tensors reachable from ``roots``, each after every tensor it was computed from.

    Only recorded ops are followed (a tensor made under ``no_grad`` is a leaf). With
    ``include_leaves`` the leaves and constants that feed the graph are listed too;
    otherwise only tensors with a ``grad_fn``.
    """
    order = []
    seen = set()                # tensors hash by identity
    stack = list(roots)
    stack.reverse()
    open_ = []          # tensors whose inputs are being visited; None on stack closes one
    while stack:
        t = stack.pop()
        if t is None:
            order.append(open_.pop())
            continue
        if t in seen:
            continue
        seen.add(t)
        fn = t.grad_fn
        if fn is None:
            if include_leaves:
                order.append(t)
            continue
        open_.append(t)
        stack.append(None)
        ins = fn.inputs
        if len(ins) == 2:           # most ops: push the second input first, visit the first
            a, b = ins
            if include_leaves or b.grad_fn is not None:
                stack.append(b)
            if include_leaves or a.grad_fn is not None:
                stack.append(a)
        elif len(ins) == 1:
            if include_leaves or ins[0].grad_fn is not None:
                stack.append(ins[0])
        elif len(ins) == 3 and not include_leaves:      # linear: usually only x has a grad_fn
            a, b, c = ins
            if c.grad_fn is not None:
                stack.append(c)
            if b.grad_fn is not None:
                stack.append(b)
            if a.grad_fn is not None:
                stack.append(a)
        else:
            for i in reversed(ins):
                if include_leaves or i.grad_fn is not None:
                    stack.append(i)
    return order


def leaves(roots):
    """The leaf tensors (inputs, parameters, constants) that ``roots`` depend on."""
    return [t for t in toposort(roots, include_leaves=True) if t.grad_fn is None]


def is_constant(t):
    """A leaf that does not require grad: a number written into the formula, or data."""
    return t.grad_fn is None and not t.requires_grad


# --- queries that explaining and drawing share ---------------------------------------------

def _inputs_once(t):
    """``parents(t)`` with an input used twice (``b * b``) listed once."""
    return list({id(p): p for p in parents(t)}.values())


def depends_on(output, wrt, order=None):
    """The ids of the tensors in ``output``'s graph that depend on ``wrt`` (``wrt``
    included): the only nodes a path from ``output`` down to ``wrt`` can pass through.

    ``order`` is ``toposort([output], include_leaves=True)`` if the caller has it.
    """
    if order is None:
        order = toposort([output], include_leaves=True)
    reach = {id(wrt)}
    for t in order:
        fn = t.grad_fn
        if fn is not None and any(id(p) in reach for p in fn.inputs):
            reach.add(id(t))
    return reach


def consumers(order, parents_of=None):
    """{id(t): [the tensors computed directly from t]} over the tensors in ``order``, each
    consumer listed once, in ``order``. ``parents_of`` replaces :func:`parents` (for a
    graph with some nodes folded away)."""
    parents_of = parents_of or _inputs_once
    users = {}
    for t in order:
        for p in parents_of(t):
            users.setdefault(id(p), []).append(t)
    return users


def parents_through(t, hidden, keep=None):
    """The nearest tensors below ``t`` whose ids are not in ``hidden``, looking through the
    hidden ones (each once, nearest first, in input order). With ``keep`` only tensors
    for which ``keep(p)`` is true are followed at all."""
    out, stack, seen = [], list(parents(t)), set()
    while stack:
        p = stack.pop(0)
        if id(p) in seen or (keep is not None and not keep(p)):
            continue
        seen.add(id(p))
        if id(p) in hidden:
            stack[:0] = list(parents(p))
        else:
            out.append(p)
    return out


def count_paths(order, wrt, parents_of=None):
    """{id(t): number of paths from t down to wrt} for the tensors in ``order`` (a
    topological order); tensors with no path are left out. Path counts grow
    exponentially with depth, so they are counted, never listed, here."""
    parents_of = parents_of or _inputs_once
    count = {id(wrt): 1}
    for t in order:
        if t is wrt:
            continue
        n = sum(count.get(id(p), 0) for p in parents_of(t))
        if n:
            count[id(t)] = n
    return count


def paths(output, wrt, parents_of=None, limit=None, count=None):
    """The first ``limit`` paths from ``output`` down to ``wrt``, each a list of tensors
    ``[output, ..., wrt]``, depth first in input order. ``count`` (from
    :func:`count_paths`) prunes branches that never reach ``wrt``."""
    parents_of = parents_of or _inputs_once
    found = []
    stack = [(output, None)]           # (node, the link it was reached by): no copying
    while stack and (limit is None or len(found) < limit):
        link = stack.pop()
        if link[0] is wrt:
            nodes = []
            while link is not None:
                nodes.append(link[0])
                link = link[1]
            found.append(nodes[::-1])
            continue
        for p in reversed(parents_of(link[0])):
            if count is None or count.get(id(p), 0):
                stack.append((p, link))
    return found


def between(top, bottom, through, rank):
    """The tensors on the routes from ``top`` down to ``bottom`` whose inner nodes all
    satisfy ``through(t)``, ``top`` and ``bottom`` included, in topological order
    (``rank`` maps id(t) to its position in a topological order of the graph)."""
    below = {id(top): top}
    stack = [top]
    while stack:                       # everything reachable through `through` nodes
        for p in parents(stack.pop()):
            if id(p) not in below and (p is bottom or through(p)):
                below[id(p)] = p
                if p is not bottom:
                    stack.append(p)
    ordered = sorted(below.values(), key=lambda t: rank[id(t)])
    leads = {id(bottom)}               # ... and from which bottom can be reached
    for t in ordered:
        if any(id(p) in leads for p in parents(t)):
            leads.add(id(t))
    return [t for t in ordered if id(t) in leads]
