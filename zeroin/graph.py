"""The graph walk: the one traversal that backward, drawing and explaining all use.

The graph is implicit in the tensors: a tensor's ``grad_fn`` is the op that made it and
``grad_fn.inputs`` are that op's operands. :func:`toposort` orders it without recursion, so
a chain of a million ops is fine.
"""
from __future__ import annotations

__all__ = ["toposort", "parents", "leaves", "is_constant"]


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
