"""The chain rule spelled out: d output / d input as a sum over paths, with the numbers.

:func:`explain` walks the graph that the engine recorded (:func:`zeroin.graph.toposort`),
takes every local derivative from the op's own backward rule and every node's total
gradient from :func:`zeroin.autograd.node_grads`, so what it prints is what backward does.

>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> x = (2 * w + b); x.name = "x"
>>> y = (b + 1); y.name = "y"
>>> z = x * y; z.name = "z"
>>> print(zeroin.explain(z, b).text.splitlines()[-1])     # doctest: +SKIP
dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15
"""
from __future__ import annotations

import numpy as np

from ..graph import parents, toposort
from ..ops import NP, _sum_to_np
from .._tensor import Tensor
from .format import array, number, shape_str, tex_name

__all__ = ["explain", "Explanation", "Path", "Jacobian", "node_names", "local_vjp",
           "summary", "fmt_number"]


# --- formatting (zeroin.viz.format; the old names stay) ---------------------------------

fmt_number = number
summary = array
_shape_str = shape_str


# --- names -------------------------------------------------------------------------------

def node_names(output):
    """Readable names for every tensor in ``output``'s graph, as {id(t): str}.

    A tensor's own ``name`` wins. Op results are named after the op and numbered in the
    order they were computed (``mul1``, ``add1``, ``add2``); leaves without a name are
    ``t0``, ``t1``, ...; small constants are shown as their value (``2``), larger ones as
    ``c0``, ``c1``, ... Explanations and drawings use the same names.
    """
    order = toposort([output], include_leaves=True)
    taken = {t.name for t in order if t.name}
    seen_user = {}
    names = {}
    counters = {}

    def fresh(prefix, start):
        n = counters.get(prefix, start)
        while f"{prefix}{n}" in taken:
            n += 1
        counters[prefix] = n + 1
        taken.add(f"{prefix}{n}")
        return f"{prefix}{n}"

    for t in order:
        k = id(t)
        if t.name:
            c = seen_user.get(t.name, 0)
            seen_user[t.name] = c + 1
            names[k] = t.name if c == 0 else f"{t.name}_{c + 1}"
        elif t.grad_fn is not None:
            names[k] = fresh(t.grad_fn.name, 1)
        elif t.requires_grad:
            names[k] = fresh("t", 0)
        elif t.data.size <= 4 and t.data.ndim <= 1:
            names[k] = summary(t.data)
        else:
            names[k] = fresh("c", 0)
    return names


# --- local derivatives from the ops' own backward rules ----------------------------------

def local_vjp(child, parent, g):
    """The share of ``g`` (= d out / d child) that the op making ``child`` passes to
    ``parent``: the vector-Jacobian product ``g . d child / d parent``.

    It calls the op's backward rule, the same one backward uses; with ``g`` all ones on a
    one-element ``child`` it is the local derivative itself. An input used twice (``b * b``)
    gets the sum of both shares. Returns None when no gradient flows to ``parent``.
    """
    fn = child.grad_fn
    if fn is None:
        return None
    ins = fn.inputs
    res = fn.backward(NP, np.asarray(g, dtype=child.data.dtype), child.data,
                      *[i.data for i in ins])
    if len(ins) == 1:
        res = (res,)
    total = None
    for inp, gi in zip(ins, res):
        if inp is not parent or gi is None:
            continue
        gi = np.asarray(gi)
        if gi.shape != parent.data.shape:
            gi = _sum_to_np(gi, parent.data.shape)
        total = gi if total is None else total + gi
    return total


def _segment_vjp(child, parent, g, hidden):
    """Like :func:`local_vjp` but through the hidden (unnamed) nodes between the two."""
    if not any(id(p) in hidden for p in parents(child)):
        return local_vjp(child, parent, g)
    grads = {id(child): np.asarray(g, dtype=child.data.dtype)}
    for t in reversed(toposort([child])):
        if t is parent:
            continue
        gt = grads.pop(id(t), None)
        if gt is None or (t is not child and id(t) not in hidden):
            continue
        seen = set()
        for p in parents(t):
            if id(p) in seen or not p.requires_grad:
                continue
            seen.add(id(p))
            if p is not parent and id(p) not in hidden:
                continue
            gp = local_vjp(t, p, gt)
            if gp is not None:
                prev = grads.get(id(p))
                grads[id(p)] = gp if prev is None else prev + gp
    return grads.get(id(parent))


# --- results -----------------------------------------------------------------------------

class Jacobian:
    """Stands for the local derivative of a tensor with respect to a tensor: a matrix of
    ``out_shape`` by ``in_shape`` partial derivatives that is never built; only its
    product with the gradient coming down the path (``vjp``) is computed."""

    __slots__ = ("out_shape", "in_shape")

    def __init__(self, out_shape, in_shape):
        self.out_shape, self.in_shape = tuple(out_shape), tuple(in_shape)

    @property
    def shape(self):
        n = int(np.prod(self.out_shape)) if self.out_shape else 1
        m = int(np.prod(self.in_shape)) if self.in_shape else 1
        return (n, m)

    def __repr__(self):
        return f"J({_shape_str(self.out_shape)} by {_shape_str(self.in_shape)})"


class Path:
    """One path from the output down to ``wrt``.

    Attributes
    ----------
    nodes : list of Tensor
        From the output to ``wrt``.
    names : list of str
    local : list
        The local derivative on each edge (``len(nodes) - 1`` of them): a float when both
        ends are one-element tensors, else a :class:`Jacobian`.
    vjp : list of ndarray
        The gradient passed down after each edge (the running product).
    product : float or ndarray
        This path's share of the gradient: the product of its local derivatives.
    """

    __slots__ = ("nodes", "names", "local", "vjp", "product")

    def __init__(self, nodes, names, local, vjp, product):
        self.nodes, self.names, self.local, self.vjp, self.product = \
            nodes, names, local, vjp, product

    def __repr__(self):
        return f"<Path {' <- '.join(self.names)}: {summary(self.product)}>"


_tex_name = tex_name


def _tex_d(a, b):
    return f"\\frac{{\\partial {_tex_name(a)}}}{{\\partial {_tex_name(b)}}}"


class Explanation:
    """The chain rule for one gradient, ready to print or to render in Jupyter.

    Attributes
    ----------
    value : float or ndarray
        d output / d wrt, from the backward pass (:func:`zeroin.autograd.node_grads`).
    paths : list of Path
        The paths from the output to ``wrt`` (at most ``max_paths`` of them).
    n_paths : int
        How many paths there are in all.
    collapsed : bool
        True when there were more than ``max_paths`` paths and they were grouped.
    text : str
        The plain-text explanation (also ``str(e)``).
    """

    def __init__(self, output_name, wrt_name, value, paths, n_paths, collapsed, lines,
                 equation_tex=None):
        self.output_name, self.wrt_name = output_name, wrt_name
        self.value = value
        self.paths = paths
        self.n_paths = n_paths
        self.collapsed = collapsed
        self.lines = lines
        self.text = "\n".join(lines)
        self._tex = equation_tex

    def __str__(self):
        return self.text

    def __repr__(self):
        return (f"<Explanation d{self.output_name}/d{self.wrt_name} = {summary(self.value)}, "
                f"{self.n_paths} path{'s' if self.n_paths != 1 else ''}>")

    def _repr_markdown_(self):
        out = [f"**Chain rule for $\\partial {_tex_name(self.output_name)} / \\partial "
               f"{_tex_name(self.wrt_name)}$**", ""]
        if self._tex:
            out += ["$$" + self._tex + "$$", ""]
        body = self.text.replace("```", "'''")
        out += ["```text", body, "```"]
        return "\n".join(out)


# --- the explanation ---------------------------------------------------------------------

_OPS_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2}


def _expr(t, names, visible, depth=0):
    """(text, precedence) of the formula computing ``t`` from visible nodes and constants."""
    fn = t.grad_fn
    if depth and (fn is None or id(t) in visible):
        return names[id(t)], 9
    if depth > 6:
        return "...", 9
    ins = fn.inputs
    sym = fn.symbol
    args = [_expr(i, names, visible, depth + 1) for i in ins]
    if sym in _OPS_PREC and len(args) == 2:
        p = _OPS_PREC[sym]
        (a, pa), (b, pb) = args
        a = a if pa >= p else f"({a})"
        b = b if pb > p or (pb == p and sym in "+*") else f"({b})"
        return f"{a} {sym} {b}", p
    label = fn.label()
    if label.startswith("[") and len(args) == 1:
        a, pa = args[0]
        return (a if pa >= 9 else f"({a})") + label, 9
    if label.startswith("**") and len(args) == 1:
        a, pa = args[0]
        return (a if pa >= 9 else f"({a})") + label, 3
    if sym == "**" and len(args) == 2:
        (a, pa), (b, pb) = args
        return (a if pa >= 9 else f"({a})") + "**" + (b if pb >= 9 else f"({b})"), 3
    if fn.name == "neg":
        a, pa = args[0]
        return "-" + (a if pa >= 3 else f"({a})"), 3
    return f"{label}({', '.join(a for a, _ in args)})", 9


def _abbrev(items, keep=5, dots=None):
    """The first and last ``keep`` items of a long list, with a count of those left out."""
    if len(items) <= 2 * keep + 1:
        return list(items)
    mid = dots or f"... ({len(items) - 2 * keep} more) ..."
    return list(items[:keep]) + [mid] + list(items[-keep:])


def _is_scalar(t):
    return t.data.size == 1


def explain(output, wrt, max_paths=12, gradient=None, steps="auto"):
    """Spell out d output / d wrt as the chain rule's sum over paths, with the numbers.

    Parameters
    ----------
    output : Tensor
        The result (usually a one-element loss).
    wrt : Tensor
        The tensor to differentiate with respect to (a leaf or an intermediate result).
    max_paths : int
        List at most this many paths one by one. Beyond it (their number grows
        exponentially with depth) shared sub-paths are collapsed: each gradient is written
        as a sum over the nodes that use it directly, with their totals from the backward
        pass, and the text says so.
    gradient : array_like, optional
        d(something)/d output, needed when ``output`` has more than one element.
    steps : {"auto", "all", "named"}
        Which nodes appear on the paths. "all": every op result. "named": only tensors
        with a name (plus the output and ``wrt``); the unnamed steps between them are
        folded into one local derivative (x = 2*w + b gives dx/dw = 2). "auto": "named"
        when some intermediate result has a name, else "all".

    Returns
    -------
    Explanation
        ``str()`` is plain text; Jupyter renders the math. ``.value`` is the gradient,
        ``.paths`` the paths with their local derivatives and products.
    """
    from ..autograd import node_grads
    if not isinstance(output, Tensor) or not isinstance(wrt, Tensor):
        raise TypeError(f"explain: output and wrt must be tensors, got "
                        f"{type(output).__name__} and {type(wrt).__name__}")
    if not output.requires_grad:
        raise ValueError("explain: the output does not require grad, so it has no graph "
                         "to explain; create its inputs with requires_grad=True")
    if not wrt.requires_grad:
        raise ValueError("explain: wrt does not require grad (it is a constant), so no "
                         "gradient flows to it; create it with requires_grad=True")
    if steps not in ("auto", "all", "named"):
        raise ValueError(f"explain: steps must be 'auto', 'all' or 'named', got {steps!r}")
    max_paths = int(max_paths)
    if max_paths < 1:
        raise ValueError(f"explain: max_paths must be at least 1, got {max_paths}")
    if gradient is None and output.data.size != 1:
        raise ValueError(f"explain: the output has shape {output.data.shape}; explain a "
                         f"one-element result (e.g. loss.sum() or loss.mean()) or pass "
                         f"gradient= an array of shape {output.data.shape}")

    names = node_names(output)
    order = toposort([output], include_leaves=True)
    on = names.get(id(output))
    wn = names.get(id(wrt), wrt.name or "wrt")
    grads = node_grads(output, gradient)
    seed = np.ones_like(output.data) if gradient is None else \
        np.asarray(getattr(gradient, "data", gradient), dtype=output.data.dtype)

    def val(a):
        a = np.asarray(a)
        return float(a.reshape(())) if a.size == 1 and wrt.data.ndim == 0 else a

    if id(wrt) not in names:
        lines = [f"{on} does not depend on {wn}: no path leads from {on} to {wn}, so "
                 f"d{on}/d{wn} = 0."]
        return Explanation(on, wn, val(np.zeros_like(wrt.data)), [], 0, False, lines)

    # which nodes depend on wrt (the ones that can lie on a path)
    reach = {id(wrt)}
    for t in order:
        if t.grad_fn is not None and any(id(p) in reach for p in t.grad_fn.inputs):
            reach.add(id(t))

    named_mid = any(t.name for t in order if t.grad_fn is not None and t is not output)
    use_named = steps == "named" or (steps == "auto" and named_mid)
    hidden = set()
    if use_named:
        hidden = {id(t) for t in order if t.grad_fn is not None and not t.name
                  and t is not output and t is not wrt}
    visible = {id(t) for t in order} - hidden

    # edges of the visible graph: child -> the visible nodes it is computed from
    def vis_parents(t):
        out, stack, seen = [], list(parents(t)), set()
        while stack:
            p = stack.pop(0)
            if id(p) in seen or id(p) not in reach or not p.requires_grad:
                continue
            seen.add(id(p))
            if id(p) in hidden:
                stack[:0] = list(parents(p))
            else:
                out.append(p)
        return out

    vp = {}
    count = {}
    for t in order:
        k = id(t)
        if k not in reach or k in hidden:
            continue
        if t is wrt:
            count[k] = 1
            vp[k] = []
            continue
        ps = vis_parents(t)
        vp[k] = ps
        count[k] = sum(count.get(id(p), 0) for p in ps)
    n_paths = count.get(id(output), 0)

    def edge_vjp(c, p, g):
        if hidden:
            return _segment_vjp(c, p, g, hidden)
        return local_vjp(c, p, g)

    # the first max_paths paths, depth first in input order
    raw_paths = []

    stack = [(output, None)]           # (node, the link it was reached by): no copying
    while stack and len(raw_paths) < max_paths:
        link = stack.pop()
        t = link[0]
        if t is wrt:
            nodes = []
            while link is not None:
                nodes.append(link[0])
                link = link[1]
            raw_paths.append(nodes[::-1])
            continue
        for p in reversed(vp.get(id(t), ())):
            if count.get(id(p), 0):
                stack.append((p, link))

    all_scalar = all(_is_scalar(t) for t in order if id(t) in reach and id(t) in visible
                     and count.get(id(t), 0) and id(t) in vp) and _is_scalar(output)
    paths = []
    for nodes in raw_paths:
        g = seed
        local, vjps = [], []
        for c, p in zip(nodes, nodes[1:]):
            if _is_scalar(c) and _is_scalar(p):
                d = edge_vjp(c, p, np.ones_like(c.data))
                local.append(0.0 if d is None else float(np.asarray(d).reshape(())))
            else:
                local.append(Jacobian(c.data.shape, p.data.shape))
            g = edge_vjp(c, p, g)
            if g is None:
                g = np.zeros_like(p.data)
            vjps.append(g)
        prod = float(np.asarray(g).reshape(())) if g.size == 1 and wrt.data.ndim == 0 \
            else g
        paths.append(Path(nodes, [names[id(n)] for n in nodes], local, vjps, prod))

    total = grads.get(id(wrt))
    if total is None:
        total = np.zeros_like(wrt.data)
    value = val(total)
    d = lambda a, b: f"d{a}/d{b}"  # noqa: E731

    lines = []
    # what each visible node is
    lines.append(f"Chain rule for {d(on, wn)}: how {on} changes when {wn} changes.")
    on_paths = [t for t in order if id(t) in visible and id(t) in reach
                and count.get(id(t), 0)]
    for t in _abbrev(on_paths, keep=15):
        if not isinstance(t, Tensor):
            lines.append(f"  ... ({len(on_paths) - 30} more nodes on the paths) ...")
            continue
        nm = names[id(t)]
        if t.grad_fn is None:
            lines.append(f"  {nm}: input ({_shape_str(t.shape)}) = {summary(t.data)}")
        else:
            e, _ = _expr(t, names, visible)
            lines.append(f"  {nm} = {e} = {summary(t.data)}")
    consts = list(dict.fromkeys(names[id(t)] for t in order
                                if t.grad_fn is None and not t.requires_grad))
    if consts:
        shown = ", ".join(consts[:8]) + (", ..." if len(consts) > 8 else "")
        lines.append(f"  constants (no gradient flows into them): {shown}")
    if hidden:
        lines.append(f"  ({len(hidden)} unnamed intermediate step"
                     f"{'s are' if len(hidden) != 1 else ' is'} folded into the local "
                     f"derivatives between named nodes; steps='all' shows every step.)")

    if output is wrt:
        lines.append(f"{on} is wrt itself: {d(on, wn)} = {summary(total)}.")
        return Explanation(on, wn, value, paths, n_paths, False, lines)
    if n_paths == 0:
        lines.append(f"No path leads from {on} to {wn} (the gradient stops at a constant "
                     f"or a non-differentiable step), so {d(on, wn)} = {summary(total)}.")
        return Explanation(on, wn, value, paths, 0, False, lines)

    tex = None
    if not n_paths > max_paths and all_scalar:
        terms = [" * ".join(_abbrev([d(a, b) for a, b in zip(p.names, p.names[1:])]))
                 for p in paths]
        nums = [" * ".join(_abbrev([fmt_number(x) for x in p.local])) for p in paths]
        if n_paths == 1:
            lines.append(f"1 path from {on} to {wn}: "
                         f"{' <- '.join(_abbrev(paths[0].names))}; the gradient is the "
                         f"product of the local derivatives along it:")
        else:
            lines.append(f"{n_paths} paths from {on} to {wn}; each contributes the product "
                         f"of the local derivatives along it, and the paths add up:")
        for i, p in enumerate(paths if n_paths > 1 else [], 1):
            parts = [terms[i - 1], nums[i - 1], fmt_number(p.product)]
            lines.append(f"  path {i}: {' <- '.join(_abbrev(p.names))}: " + " = ".join(
                q for j, q in enumerate(parts) if j == 0 or q != parts[j - 1]))
        parts = [d(on, wn), " + ".join(terms), " + ".join(nums), fmt_number(value)]
        lines.append(" = ".join(p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]))
        tex_terms = [" \\cdot ".join(_abbrev([_tex_d(a, b) for a, b in
                                              zip(p.names, p.names[1:])], dots="\\cdots"))
                     for p in paths]
        tex_nums = [" \\cdot ".join(_abbrev([fmt_number(x) for x in p.local],
                                             dots="\\cdots")) for p in paths]
        tex = (f"{_tex_d(on, wn)} = {' + '.join(tex_terms)} = {' + '.join(tex_nums)} = "
               f"{fmt_number(value)}")
    elif not n_paths > max_paths:
        lines.append(f"{n_paths} path{'s' if n_paths != 1 else ''} from {on} to {wn}. Some "
                     f"nodes are tensors, so a local derivative is a Jacobian J (every "
                     f"output element by every input element); it is never built: only "
                     f"the gradient passed down (the vector-Jacobian product) is shown.")
        for i, p in enumerate(paths, 1):
            lines.append(f"  path {i}: {' <- '.join(_abbrev(p.names))}")
            steps_ = list(zip(zip(p.names, p.names[1:]), p.local, p.vjp))
            for j, ((a, b), loc, g) in enumerate(steps_):
                if len(steps_) > 12 and j == 6:
                    lines.append(f"    ... {len(steps_) - 12} more steps ...")
                if len(steps_) > 12 and 6 <= j < len(steps_) - 6:
                    continue
                what = f"{d(on, b)}" if n_paths == 1 else f"path {i}'s share of {d(on, b)}"
                if isinstance(loc, Jacobian):
                    n, m = loc.shape
                    lines.append(f"    {d(a, b)} is a {n}x{m} Jacobian J ({n} element"
                                 f"{'s' if n != 1 else ''} of {a} by {m} of {b}); "
                                 f"{what} = {summary(g)}")
                else:
                    lines.append(f"    {d(a, b)} = {fmt_number(loc)}; {what} = {summary(g)}")
            lines.append(f"    path {i} contributes {summary(p.product)}")
        sumtxt = " + ".join(f"path {i}" for i in range(1, len(paths) + 1))
        lines.append(f"{d(on, wn)} = {sumtxt} = {summary(total)}")
    else:
        lines += _collapsed(output, wrt, names, vp, count, grads, n_paths, max_paths,
                            edge_vjp, d)
        lines.append(f"{d(on, wn)} = {summary(total)}")
    return Explanation(on, wn, value, paths, n_paths, n_paths > max_paths, lines, tex)


def _is_none(x):
    return x is None


def _collapsed(output, wrt, names, vp, count, grads, n_paths, max_paths, edge_vjp, d):
    """Lines that group the paths by the nodes that use each tensor directly."""
    on, wn = names[id(output)], names[id(wrt)]
    by_id = {id(t): t for t in toposort([output], include_leaves=True)}
    consumers = {}
    for k, ps in vp.items():
        for p in ps:
            consumers.setdefault(id(p), []).append(by_id[k])
    # paths from the output down to each node (what one grouped line stands for)
    above = {id(output): 1}
    for t in reversed(list(by_id.values())):
        a = above.get(id(t), 0)
        if a:
            for p in vp.get(id(t), ()):
                above[id(p)] = above.get(id(p), 0) + a
    lines = [f"{n_paths} paths lead from {on} to {wn}, more than max_paths={max_paths}, so "
             f"they are not listed one by one. Shared sub-paths are collapsed instead: the "
             f"backward pass gives the total d{on}/dn at every node n (all the paths from "
             f"{on} down to n already summed), so each gradient is a sum over the nodes c "
             f"that use it directly: d{on}/dn = sum over c of d{on}/dc * dc/dn."]
    budget = max(max_paths, 4)
    queue, seen, shown = [wrt], {id(wrt)}, 0
    while queue and shown < budget:
        n = queue.pop(0)
        users = [c for c in consumers.get(id(n), []) if count.get(id(c), 0)]
        if not users:
            continue
        nn = names[id(n)]
        gn = grads.get(id(n), np.zeros_like(n.data))
        terms, nums = [], []
        for c in users[:4]:
            cn = names[id(c)]
            gc = grads.get(id(c), np.zeros_like(c.data))
            top = c is output and gc.size == 1 and float(gc.reshape(())) == 1.0
            terms.append(d(cn, nn) if top else f"{d(on, cn)} * {d(cn, nn)}")
            if _is_scalar(c) and _is_scalar(n):
                loc = edge_vjp(c, n, np.ones_like(c.data))
                loc = 0.0 if loc is None else float(np.asarray(loc).reshape(()))
                nums.append(fmt_number(loc) if top else f"{fmt_number(gc)} * {fmt_number(loc)}")
            else:
                s = summary(np.zeros_like(n.data) if _is_none(share := edge_vjp(c, n, gc))
                            else share)
                nums.append(s if s.startswith("[") else f"({s})")
        more = len(users) - 4
        tail = f" + ... ({more} more terms)" if more > 0 else ""
        k = above.get(id(n), 0)
        parts = [d(on, nn), " + ".join(terms) + tail, " + ".join(nums) + tail, summary(gn)]
        eq = " = ".join(p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1])
        lines.append(f"  {eq}   [{k} path{'s' if k != 1 else ''} from {on} to {nn} in one "
                     f"line]")
        shown += 1
        for c in users:
            if id(c) not in seen and c is not output:
                seen.add(id(c))
                queue.append(c)
    rest = sum(1 for k in vp if k not in seen and k != id(output) and count.get(k, 0))
    if rest:
        lines.append(f"  ... {rest} more node{'s' if rest != 1 else ''} between "
                     f"{names[id(queue[0])] if queue else wn} and {on} are collapsed the "
                     f"same way (not shown); their totals come from the backward pass.")
    return lines
