"""The backward pass one node at a time: a sequence of drawings for a slide build-up.

:func:`backward_steps` draws the graph once (:func:`zeroin.draw`) and returns one picture
per step, all with the same layout and size: first the forward pass (every value, each
gradient still ``grad ?``), then the output's ``grad 1``, then each node's gradient in the
order the backward pass finishes them (a node comes after every node that uses it), its
edges to its users in red and the caption spelling out its chain-rule sum.

>>> import zeroin
>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> x = 2 * w + b; y = b + 1; z = x * y
>>> x.name, y.name, z.name = "x", "y", "z"
>>> steps = zeroin.viz.backward_steps(z)
>>> steps.captions[4]
'Backward, step 4 of 6: grad b = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15'
>>> steps.save("build", "png", width=1600, aspect=16/9)  # doctest: +SKIP
['build/step-00.png', ..., 'build/step-06.png']
"""
from __future__ import annotations

import copy
import os

import numpy as np

from .. import graph
from .._tensor import Tensor
from .draw import _GRAD, _gradients, _px, _rows, _text_w, _wrap, draw
from .explain import local_vjp, node_names, not_a_tensor
from .format import number

__all__ = ["backward_steps", "DrawingSteps"]

_WAITING = "#9ca3af"          # the grey of a gradient not computed yet


class DrawingSteps(list):
    """The drawings of :func:`backward_steps`, a list of :class:`~zeroin.viz.Drawing`
    (step 0 the forward pass); ``captions`` says what each step shows, ``save`` writes
    them all."""

    @property
    def captions(self):
        return [d.caption for d in self]

    def save(self, folder, fmt="svg", stem="step", **kwargs):
        """Write each drawing to ``folder/STEM-00.FMT``, ``-01``, ...; ``fmt`` is ``svg``,
        ``png`` or ``pdf``, ``kwargs`` go to :meth:`Drawing.save` (``width``, ``aspect``,
        ``dpi``). Returns the paths."""
        fmt = str(fmt).lower().lstrip(".")
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"DrawingSteps.save: fmt must be 'svg', 'png' or 'pdf' (one "
                             f"picture per step for slides), got {fmt!r}")
        os.makedirs(folder, exist_ok=True)
        digits = max(2, len(str(len(self) - 1)))
        return [d.save(os.path.join(folder, f"{stem}-{i:0{digits}d}.{fmt}"), **kwargs)
                for i, d in enumerate(self)]

    def _repr_html_(self):
        """Every step, one under the other, each with its caption (Jupyter)."""
        return "".join(f"<div>{d._repr_svg_()}</div>" for d in self)


def _sum_text(t, users, g, names, digits):
    """``grad b = dz/dx * dx/db + ... = 5 * 1 + ... = 15`` for a one-element ``t`` whose
    users are one-element; else the gradient and where it comes from."""
    on, nm = names["out"], names[id(t)]
    total = " ".join(_rows(g[id(t)], digits))
    if not users:
        return f"grad {nm} = {total}"
    if t.data.size == 1 and all(u.data.size == 1 for u in users):
        symbols, values = [], []
        for u in users:
            local = local_vjp(u, t, np.ones_like(u.data))
            local = number(0 if local is None else np.asarray(local).reshape(()), digits)
            un = names[id(u)]
            symbols.append(f"d{on}/d{un} * d{un}/d{nm}")
            values.append(f"{_factor(number(g[id(u)].reshape(()), digits))} * "
                          f"{_factor(local)}")
        if len(users) == 1 and users[0] is names["output"]:
            return f"grad {nm} = d{on}/d{nm} = {values[0]} = {total}"
        return f"grad {nm} = {' + '.join(symbols)} = {' + '.join(values)} = {total}"
    if len(users) == 1:
        return (f"grad {nm} = {total}: what {names[id(users[0])]} passes back, its gradient "
                f"times the local derivative (a vector-Jacobian product)")
    used = ", ".join(names[id(u)] for u in users)
    return (f"grad {nm} = {total}: the sum of what its users ({used}) pass back, each its "
            f"gradient times the local derivative (a vector-Jacobian product)")


def _start_text(on, g, digits):
    """The first step: the output's own gradient, 1 (ones for a tensor: as for sum)."""
    if np.size(g) == 1:
        return f"grad {on} = d{on}/d{on} = 1, where the backward pass starts"
    return (f"grad {on} = {' '.join(_rows(g, digits))}: ones, the gradients are those of "
            f"sum({on}); the backward pass starts here")


def _factor(s):
    return f"({s})" if s.startswith("-") else s


def _frame(base, nodes, edges, caption):
    """``base`` (its layout kept) with other node texts, edge highlights and caption."""
    d = copy.copy(base)
    d._nodes, d._edges, d.caption = nodes, edges, caption
    d.uid = base.uid + f"-s{id(d) % 100000}"
    d.fit = None                  # the layout is final: Jupyter scales it, never refolds
    fit = max(base._graph_w, 420)
    d._extra = [ln for s in (caption, base.note) if s for ln in _wrap(s, fit)]
    return d


def _node_with(n, revealed, current, lit):
    """A copy of node ``n`` (same size) with its gradient shown or ``grad ?`` (the lines
    after the first of a matrix's gradient left blank)."""
    m = copy.copy(n)
    m.lines = [(t, bold, color) if revealed or color != _GRAD else
               ("grad ?" if t.startswith("grad ") else "", bold, _WAITING)
               for t, bold, color in n.lines]
    m.hl = current or n.key in lit
    return m


def _check(output, kwargs):
    if not isinstance(output, Tensor):
        raise not_a_tensor("backward_steps", "output", output)
    if not output.requires_grad or output.grad_fn is None:
        raise ValueError("backward_steps: the output has no graph to go back through "
                         "(a leaf, or computed without requires_grad); draw a result "
                         "computed from tensors made with requires_grad=True")
    for key in ("grads", "collapse"):
        if kwargs.get(key) not in (None, True if key == "grads" else False):
            raise ValueError(f"backward_steps: {key}={kwargs[key]!r} is not possible: the "
                             f"steps show each tensor's gradient as the backward pass "
                             f"computes it (one node per tensor); leave {key} out")
    if kwargs.get("wrt") is not None:
        raise ValueError("backward_steps: wrt= highlights a path in every picture; the "
                         "steps highlight the node being computed. Leave wrt out (or draw "
                         "zeroin.draw(output, wrt=...) as a separate slide)")


def backward_steps(output, **kwargs):
    """The forward pass, then the backward pass one node at a time, as drawings.

    Step 0 shows every value with each gradient ``grad ?``; step 1 the output's
    ``grad 1``; each later step one more tensor's gradient, in the order the backward pass
    completes them (reverse topological order: a node after all the nodes that use it),
    the node and its edges to its users in red and the caption spelling out its sum,
    e.g. ``grad b = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15``. Constants
    get no step. All drawings share one layout and size, so they can be shown one after
    another on a slide (a build-up).

    Parameters
    ----------
    output : Tensor
        The result whose graph is drawn (its gradient starts at 1; a tensor of several
        elements starts with ones, as for ``output.sum()``).
    **kwargs
        Passed to :func:`zeroin.draw` (``title``, ``rankdir``, ``theme``, ``digits``,
        ``fit``, ``model``, ``modules``, ``max_nodes``, ...); not ``wrt``, ``grads`` or
        ``collapse``.

    Returns
    -------
    DrawingSteps
        A list of :class:`~zeroin.viz.Drawing`; ``.captions``, and
        ``.save(folder, "png", width=1600, aspect=16/9)`` writes ``step-00.png``, ...
    """
    _check(output, kwargs)
    base = draw(output, **kwargs)
    keys, digits = base._tensor_keys, kwargs.get("digits", 4)
    order = [t for t in graph.toposort([output], include_leaves=True) if id(t) in keys]
    g = _gradients(output, True)[0]
    names = dict(node_names(output, kwargs.get("model")), out=base._on, output=output)
    by_key = {n.key: n for n in base._nodes}
    todo = [t for t in reversed(order) if id(t) in g and t.requires_grad
            and len(by_key[keys[id(t)]].lines) > 1]
    users = {id(t): [u for u in order if u.grad_fn is not None and id(u) in base._expanded
                     and any(i is t for i in u.grad_fn.inputs)] for t in todo}
    frames = [_frame(base, [_node_with(n, False, False, ()) for n in base._nodes],
                     [dict(e, highlight=False, label="") for e in base._edges],
                     f"Forward pass: every value, from the inputs to {base._on}; no "
                     f"gradient yet (grad ?)")]
    for k, t in enumerate(todo, 1):
        done = {keys[id(s)] for s in todo[:k]}
        ops = {keys[id(u)] + "op" for u in users[id(t)]}
        lit = {keys[id(t)]}
        edges = [dict(e, highlight=(e["src"] == keys[id(t)] and e["dst"] in ops), label="")
                 for e in base._edges]
        nodes = [_node_with(n, n.key in done, n.key in lit, ops) for n in base._nodes]
        head = f"Backward, step {k} of {len(todo)}: "
        text = (_start_text(base._on, g[id(t)], digits) if t is output else
                _sum_text(t, users[id(t)], g, names, digits))
        frames.append(_frame(base, nodes, edges, head + text))
    return _same_size(frames)


def _same_size(frames):
    """Every frame as large as the largest (captions and titles differ in length), so
    that a build-up does not jump."""
    extra = max(len(d._extra) for d in frames)
    width = max([d.width for d in frames] + [d._text_width(s) for d in frames for s in d._extra]
                + [_text_w(d.title, _px(17), True) + _px(40) for d in frames if d.title])
    for d in frames:
        d.height = d._body_h + _px(20) * extra + (_px(6) if extra else 0)
        d.width = width
    return DrawingSteps(frames)
