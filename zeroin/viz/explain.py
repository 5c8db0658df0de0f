"""The chain rule spelled out: d output / d input as a sum over paths, with the numbers.

:func:`explain` gathers what the engine recorded (the graph from :mod:`zeroin.graph`, every
local derivative from the op's own backward rule, every node's total gradient from
:func:`zeroin.autograd.node_grads`), so what it prints is what backward does; then it
renders that as text, LaTeX (Jupyter) or HTML.

>>> import zeroin
>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> x = (2 * w + b); x.name = "x"
>>> y = (b + 1); y.name = "y"
>>> z = x * y; z.name = "z"
>>> print(zeroin.explain(z, b).text.splitlines()[-1])
dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15
"""
from __future__ import annotations

import html as _html

import numpy as np

from .. import graph
from ..graph import is_constant, parents, toposort
from ..ops import NP, _sum_to_np
from .._tensor import Tensor
from .format import SMALL, array, number, plural, shape_str, tex_array, tex_name

__all__ = ["explain", "Explanation", "Path", "Jacobian", "node_names", "local_vjp",
           "summary", "fmt_number"]

# the old names of the formatters (zeroin.viz.format has them now)
fmt_number = number
_tex_name = tex_name


def summary(a, small=SMALL):
    """An array in words: all its numbers up to ``small`` elements, else its shape and
    statistics (:func:`zeroin.viz.format.array`)."""
    return array(a, small=small)


# --- names -------------------------------------------------------------------------------

def _given_names(model):
    """{id(tensor): name} from a Module (its ``named_parameters()`` paths) or from a
    mapping / iterable of (name, tensor) pairs."""
    if model is None:
        return {}
    if hasattr(model, "named_parameters"):
        pairs = model.named_parameters()
    else:
        pairs = model.items() if hasattr(model, "items") else model
    return {id(t): str(n) for n, t in pairs}


def node_names(output, model=None):
    """Readable names for every tensor in ``output``'s graph, as {id(t): str}.

    A name from ``model`` (a Module's parameter paths such as ``0.weight``, or a mapping
    name -> tensor) wins, then a tensor's own ``name``. Op results are named after the op
    and numbered in the order they were computed (``mul1``, ``add1``, ``add2``); leaves
    without a name are ``t0``, ``t1``, ...; constants with at most 4 elements are shown
    as their value (``2``, ``[[0.5, -1]]``) unless an op says what they are: arrays
    without a gradient are data, named by their role where an op says it (a loss's
    ``target``, also a batch of 2 to 4, cross entropy's ``labels``; a one-element target
    still shows its value), else ``input0``, ``input1``, ... Explanations and drawings use the same
    names.
    """
    order = toposort([output], include_leaves=True)
    given = _given_names(model)
    taken = {given.get(id(t)) or t.name for t in order} - {None}
    seen_user, names, counters = {}, {}, {}
    roles = _data_roles(order)

    def fresh(prefix, start):
        n = counters.get(prefix, start)
        while f"{prefix}{n}" in taken:
            n += 1
        counters[prefix] = n + 1
        taken.add(f"{prefix}{n}")
        return f"{prefix}{n}"

    for t in order:
        k = id(t)
        user = given.get(k) or t.name
        if user:
            c = seen_user.get(user, 0)
            seen_user[user] = c + 1
            names[k] = user if c == 0 else f"{user}_{c + 1}"
        elif t.grad_fn is not None:
            names[k] = fresh(t.grad_fn.name, 1)
        elif t.requires_grad:
            names[k] = fresh("t", 0)
        elif t.data.size == 1 or (t.data.size <= 4 and not roles.get(k)):
            names[k] = array(t.data)             # a number in the formula: its value
        elif roles.get(k) and roles[k] not in taken:
            names[k] = roles[k]                      # target; a second one is target2
            taken.add(roles[k])
        else:
            names[k] = fresh(roles[k], 2) if roles.get(k) else fresh("input", 0)
    return names


def the_other_way_round(fn, output, wrt, model=None):
    """For ``explain(w, z)`` / ``draw(w, wrt=z)`` where ``wrt`` is computed from ``output``
    (the arguments swapped): ``(output's name, wrt's name, the call to write instead)``,
    both named as in ``wrt``'s graph; None when ``wrt`` does not depend on ``output``."""
    names = node_names(wrt, model)
    if id(output) not in names or output is wrt:
        return None
    on, wn = names[id(output)], names[id(wrt)]
    call = f"explain({wn}, {on})" if fn == "explain" else f"draw({wn}, wrt={on})"
    return on, wn, (f"it is the other way round, {wn} is computed from {on}; the output "
                    f"comes first: {call}")


def _data_roles(order):
    """{id(t): role} for the inputs whose op says what they are (``Function.input_roles``:
    a loss's second input is its target; a loss built from several ops says it with
    :func:`zeroin.function.mark_roles`), the first op to say it winning."""
    roles = {}
    for t in order:
        fn = t.grad_fn
        for inp, role in zip(getattr(fn, "inputs", ()), getattr(fn, "input_roles", ())):
            if role:
                roles.setdefault(id(inp), role)
        for inp, role in getattr(fn, "roles", None) or ():
            roles.setdefault(id(inp), role)
    return roles


def is_data(t):
    """A leaf without a gradient and with more than 4 elements: data such as a batch of
    inputs, not a constant written in the code (those are shown by their value)."""
    return is_constant(t) and t.data.size > 4


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


def _is_identity(t):
    """``x + 0``, ``x - 0``, ``x * 1``, ``x / 1`` with the result shaped like ``x``: a step
    that changes nothing (``sum(...)`` starts with one), left out of explanations."""
    fn = t.grad_fn
    if fn is None or fn.name not in ("add", "sub", "mul", "div") or len(fn.inputs) != 2:
        return False
    a, c = fn.inputs
    if is_constant(a) and fn.name in ("add", "mul"):
        a, c = c, a
    unit = 0 if fn.name in ("add", "sub") else 1
    return (is_constant(c) and c.data.size > 0 and bool(np.all(c.data == unit))
            and a.shape == t.shape and a.data.dtype == t.data.dtype)


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
        return f"J({shape_str(self.out_shape)} by {shape_str(self.in_shape)})"


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
        return f"<Path {' <- '.join(self.names)}: {array(self.product)}>"


def _tex_d(a, b):
    return f"\\frac{{\\partial {tex_name(a)}}}{{\\partial {tex_name(b)}}}"


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
        return (f"<Explanation d{self.output_name}/d{self.wrt_name} = {array(self.value)}, "
                f"{plural(self.n_paths, 'path')}>")

    def latex(self):
        """The result as one LaTeX equation (the sum over paths when every node is a
        number; small tensors as matrices), without ``$`` delimiters."""
        return self._tex

    def _title_tex(self):
        return (f"\\partial {tex_name(self.output_name)} / \\partial "
                f"{tex_name(self.wrt_name)}")

    def markdown(self):
        """The result as Markdown for a notebook cell or Markdown slides: a bold title,
        the equation in ``$$ $$`` (when there is one, as :meth:`latex`) and the text in a
        code block."""
        out = [f"**Chain rule for ${self._title_tex()}$**", ""]
        if self._tex:
            out += ["$$" + self._tex + "$$", ""]
        body = self.text.replace("```", "'''")
        out += ["```text", body, "```"]
        return "\n".join(out)

    def _repr_markdown_(self):
        return self.markdown()

    def html(self):
        """An HTML fragment for a web page: the equation (for MathJax/KaTeX, in ``\\[ \\]``)
        and the text in a ``<pre>``."""
        eq = (f'<div class="equation">\\[{_html.escape(self._tex)}\\]</div>'
              if self._tex else "")
        return (f'<div class="zeroin-explanation"><p><strong>Chain rule for '
                f'\\({_html.escape(self._title_tex())}\\)</strong></p>{eq}'
                f'<pre>{_html.escape(self.text)}</pre></div>')


# --- gathering: the visible graph, its paths and their numbers ----------------------------

class _Gathered:
    """Everything the renderers need, read from the engine once."""

    def __init__(self, output, wrt, gradient, steps, model):
        from ..autograd import node_grads
        self.output, self.wrt = output, wrt
        self.names = node_names(output, model)
        self.order = toposort([output], include_leaves=True)
        self.rank = {id(t): i for i, t in enumerate(self.order)}
        self.on = self.names[id(output)]
        self.wn = self.names.get(id(wrt), wrt.name or "wrt")
        self.grads = node_grads(output, gradient)
        self.seed = np.ones_like(output.data) if gradient is None else \
            np.asarray(getattr(gradient, "data", gradient), dtype=output.data.dtype)
        self.connected = id(wrt) in self.names
        total = self.grads.get(id(wrt))
        self.total = np.zeros_like(wrt.data) if total is None else total
        self.value = self._val(self.total)
        self.reach = graph.depends_on(output, wrt, self.order)
        self._fold(steps)
        self.count = graph.count_paths(
            [t for t in self.order if id(t) in self.reach and id(t) not in self.hidden],
            wrt, self.parents_of)
        self.n_paths = self.count.get(id(output), 0) if self.connected else 0

    def _val(self, a):
        a = np.asarray(a)
        return float(a.reshape(())) if a.size == 1 and self.wrt.data.ndim == 0 else a

    def _fold(self, steps):
        """Which op results are hidden: unnamed steps when some are named ("named"), and
        steps that change nothing (``x + 0``) unless every step is asked for."""
        inner = [t for t in self.order if t.grad_fn is not None and t is not self.output
                 and t is not self.wrt]
        named_mid = any(t.name for t in inner)
        self.by_name = steps == "named" or (steps == "auto" and named_mid)
        if self.by_name:
            self.hidden = {id(t) for t in inner if not t.name}
        elif steps == "auto":
            self.hidden = {id(t) for t in inner if _is_identity(t)}
        else:
            self.hidden = set()
        self.identities = {k for k in self.hidden if _is_identity(self.order[self.rank[k]])}
        self.visible = {id(t) for t in self.order} - self.hidden

    def parents_of(self, t):
        """The visible nodes ``t`` is computed from, looking through hidden steps."""
        if t is self.wrt:
            return []
        return graph.parents_through(t, self.hidden,
                                     keep=lambda p: id(p) in self.reach and p.requires_grad)

    def edge_vjp(self, child, parent, g):
        """``g . d child / d parent`` through the hidden steps between the two."""
        if not any(id(p) in self.hidden for p in parents(child)):
            return local_vjp(child, parent, g)
        seg = graph.between(child, parent, lambda t: id(t) in self.hidden, self.rank)
        on_seg = {id(t) for t in seg}
        grads = {id(child): np.asarray(g, dtype=child.data.dtype)}
        for t in reversed(seg[1:]):        # seg[0] is parent, the bottom
            gt = grads.pop(id(t), None)
            if gt is None:
                continue
            for p in {id(p): p for p in parents(t)}.values():
                gp = local_vjp(t, p, gt) if id(p) in on_seg else None
                if gp is not None:
                    grads[id(p)] = gp + grads[id(p)] if id(p) in grads else gp
        return grads.get(id(parent))

    def local(self, child, parent):
        """The local derivative as a float (one-element ends), else a Jacobian."""
        if child.data.size == 1 and parent.data.size == 1:
            d = self.edge_vjp(child, parent, np.ones_like(child.data))
            return 0.0 if d is None else float(np.asarray(d).reshape(()))
        return Jacobian(child.data.shape, parent.data.shape)

    def path(self, nodes):
        """A :class:`Path` with its local derivatives and the gradient after each edge."""
        g, local, vjps = self.seed, [], []
        for c, p in zip(nodes, nodes[1:]):
            local.append(self.local(c, p))
            g = self.edge_vjp(c, p, g)
            if g is None:
                g = np.zeros_like(p.data)
            vjps.append(g)
        return Path(nodes, [self.names[id(n)] for n in nodes], local, vjps, self._val(g))

    def paths(self, limit):
        """The first ``limit`` paths, depth first in input order."""
        return [self.path(nodes) for nodes in graph.paths(
            self.output, self.wrt, self.parents_of, limit=limit, count=self.count)]

    def on_paths(self):
        """The visible nodes that lie on some path, in the order they were computed."""
        return [t for t in self.order if id(t) in self.visible and self.count.get(id(t))]

    def all_scalar(self):
        return all(t.data.size == 1 for t in self.on_paths()) and self.output.data.size == 1


# --- rendering as text (and the LaTeX equation) -------------------------------------------

_OPS_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2}


def _expr(t, G, depth=0):
    """(text, precedence) of the formula computing ``t`` from visible nodes and constants;
    a step that changes nothing (``x + 0``) is written as ``x``."""
    fn = t.grad_fn
    if depth and id(t) in G.identities:
        a, c = fn.inputs
        return _expr(c if is_constant(a) and fn.name in ("add", "mul") else a, G, depth)
    if depth and (fn is None or id(t) in G.visible):
        return G.names[id(t)], 9
    if depth > 6:
        return "...", 9
    sym, label = fn.symbol, fn.label()
    args = [_expr(i, G, depth + 1) for i in fn.inputs]
    if fn.name == "mul" and _number_times(fn.inputs):
        args.reverse()              # 2 * w, as the chapter writes x = 2w + b (recorded: w, 2)
    if sym in _OPS_PREC and len(args) == 2:
        p = _OPS_PREC[sym]
        (a, pa), (b, pb) = args
        a = a if pa >= p else f"({a})"
        b = b if pb > p or (pb == p and sym in "+*") else f"({b})"
        return f"{a} {sym} {b}", p
    if (label.startswith("[") or label.startswith("**")) and len(args) == 1:
        a, pa = args[0]
        return (a if pa >= 9 else f"({a})") + label, 9 if label[0] == "[" else 3
    if sym == "**" and len(args) == 2:
        (a, pa), (b, pb) = args
        return (a if pa >= 9 else f"({a})") + "**" + (b if pb >= 9 else f"({b})"), 3
    if fn.name == "neg":
        a, pa = args[0]
        return "-" + (a if pa >= 3 else f"({a})"), 3
    return f"{label}({', '.join(a for a, _ in args)})", 9


def _number_times(inputs):
    """A product of a tensor and a number (a one-element constant without a name),
    written number first; a named one (``w * x``, x the data) keeps the order written."""
    a, b = inputs
    return is_constant(b) and b.data.size == 1 and not is_constant(a) and not b.name


def _abbrev(items, keep=5, dots=None):
    """The first and last ``keep`` items of a long list, with a count of those left out."""
    if len(items) <= 2 * keep + 1:
        return list(items)
    mid = dots or f"... ({len(items) - 2 * keep} more) ..."
    return list(items[:keep]) + [mid] + list(items[-keep:])


def _chain(*parts):
    """``a = b = c`` with a part equal to the one before it left out."""
    return " = ".join(p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1])


def _d(a, b):
    return f"d{a}/d{b}"


def _node_lines(G):
    """What each node on the paths is: an input with its value, or a formula = value."""
    lines = [f"Chain rule for {_d(G.on, G.wn)}: how {G.on} changes when {G.wn} changes."]
    on_paths = G.on_paths()
    for t in _abbrev(on_paths, keep=15):
        if not isinstance(t, Tensor):
            lines.append(f"  ... ({len(on_paths) - 30} more nodes on the paths) ...")
        elif t.grad_fn is None:
            kind = "parameter" if type(t).__name__ == "Parameter" else "input"
            lines.append(f"  {G.names[id(t)]}: {kind} ({shape_str(t.shape)}) = "
                         f"{array(t.data)}")
        else:
            lines.append(f"  {G.names[id(t)]} = {_expr(t, G)[0]} = {array(t.data)}")
    leaves, folded = _formula_parts(G)
    for what, keep in (("data inputs", is_data), ("constants", lambda t: not is_data(t))):
        shown = list(dict.fromkeys(G.names[id(t)] + ("" if t.data.size <= 4 else
                                                     f" ({array(t.data)})")
                                   for t in leaves if keep(t)))
        if shown:
            lines.append(f"  {what} (no gradient flows into them): {', '.join(shown[:8])}"
                         + (", ..." if len(shown) > 8 else ""))
    n_id = len(G.identities & G.reach)                  # the ones on the way to wrt
    n_folded = len(folded)
    if n_folded:
        lines.append(f"  ({plural(n_folded, 'unnamed intermediate step')} "
                     f"{'are' if n_folded != 1 else 'is'} folded into the local derivatives "
                     f"between named nodes; steps='all' shows every step.)")
    if n_id:
        lines.append(f"  ({plural(n_id, 'step')} that change{'s' if n_id == 1 else ''} "
                     f"nothing, such as x + 0, {'are' if n_id != 1 else 'is'} left out; "
                     f"steps='all' shows every step.)")
    return lines


def _formula_parts(G):
    """The constants (and data) and the folded unnamed steps inside the formulas of the
    nodes on the paths, as ``(constants in computing order, ids of folded steps)``. The
    formula of ``wrt`` itself is left out: the paths end at ``wrt``."""
    stack = [i for t in G.on_paths() if t.grad_fn is not None and t is not G.wrt
             for i in t.grad_fn.inputs]
    seen, consts, folded = set(), set(), set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if is_constant(t):
            consts.add(id(t))
        elif id(t) in G.hidden and t.grad_fn is not None:
            if id(t) not in G.identities:
                folded.add(id(t))
            stack.extend(t.grad_fn.inputs)
    return [t for t in G.order if id(t) in consts], folded


def _factors(p, tex=False):
    """The symbols and numbers of one path's product. On a long path (more than 4 edges)
    the factors equal to 1 are left out."""
    pairs = list(zip(zip(p.names, p.names[1:]), p.local))
    if len(pairs) > 4 and any(x != 1.0 for _, x in pairs):
        pairs = [(ab, x) for ab, x in pairs if x != 1.0]
    d = _tex_d if tex else _d
    dots = "\\cdots" if tex else None
    join = " \\cdot " if tex else " * "
    return (join.join(_abbrev([d(a, b) for (a, b), _ in pairs], dots=dots)),
            join.join(_abbrev([_factor(x) for _, x in pairs], dots=dots)))


def _factor(x):
    """A number inside a product or after a ``+``: ``(-2)`` in parentheses when it is
    negative, so that ``(-2) * 1 + (-5) * 1`` reads as the chapter writes it."""
    s = number(x)
    return f"({s})" if s.startswith("-") else s


def _scalar_lines(G, paths):
    """Every node is a number: each path is a product of numbers, and the paths add up."""
    on, wn = G.on, G.wn
    terms, nums = zip(*[_factors(p) for p in paths])
    if G.n_paths == 1:
        lines = [f"1 path from {on} to {wn}: {' <- '.join(_abbrev(paths[0].names))}; the "
                 f"gradient is the product of the local derivatives along it:"]
    else:
        lines = [f"{G.n_paths} paths from {on} to {wn}; each contributes the product of the "
                 f"local derivatives along it, and the paths add up:"]
        for i, p in enumerate(paths):
            lines.append(f"  path {i + 1}: {' <- '.join(_abbrev(p.names))}: "
                         + _chain(terms[i], nums[i], number(p.product)))
    if any(len(p.local) > 4 and 1.0 in p.local for p in paths):
        lines.append("  (on the long paths, the local derivatives equal to 1 are left out of "
                     "the products)")
    lines.append(_chain(_d(on, wn), " + ".join(terms), " + ".join(nums), number(G.value)))
    tex_terms, tex_nums = zip(*[_factors(p, tex=True) for p in paths])
    tex = (f"{_tex_d(on, wn)} = {' + '.join(tex_terms)} = {' + '.join(tex_nums)} = "
           f"{number(G.value)}")
    return lines, tex


def _tensor_steps(G, i, p):
    """The lines for one path's edges; steps that pass the gradient on unchanged are
    counted, not listed."""
    lines, skipped = [], 0
    steps = list(zip(zip(p.names, p.names[1:]), p.local, p.vjp))
    before = [G.seed] + list(p.vjp)
    for j, ((a, b), loc, g) in enumerate(steps):
        if (not isinstance(loc, Jacobian) and loc == 1.0
                and np.array_equal(np.ravel(before[j]), np.ravel(g))):
            skipped += 1
            continue
        if len(steps) > 12 and 6 <= j < len(steps) - 6:
            if j == 6:
                lines.append(f"    ... {len(steps) - 12} more steps ...")
            continue
        what = _d(G.on, b) if G.n_paths == 1 else f"path {i}'s share of {_d(G.on, b)}"
        if isinstance(loc, Jacobian):
            n, m = loc.shape
            lines.append(f"    {_d(a, b)} is a {n}x{m} Jacobian J ({plural(n, 'element')} of "
                         f"{a} by {m} of {b}); {what} = {array(g)}")
        else:
            lines.append(f"    {_d(a, b)} = {number(loc)}; {what} = {array(g)}")
    if skipped:
        lines.append(f"    ({plural(skipped, 'step')} with local derivative 1 pass"
                     f"{'es' if skipped == 1 else ''} the gradient on unchanged)")
    return lines


def _tensor_lines(G, paths):
    """Some nodes are tensors: each edge is a Jacobian that is never built; the gradient
    passed down it (the vector-Jacobian product) is shown instead."""
    on, wn = G.on, G.wn
    lines = [f"{plural(G.n_paths, 'path')} from {on} to {wn}. Some nodes are tensors, so a "
             f"local derivative is a Jacobian J (every output element by every input "
             f"element); it is never built: only the gradient passed down (the "
             f"vector-Jacobian product) is shown."]
    for i, p in enumerate(paths, 1):
        lines.append(f"  path {i}: {' <- '.join(_abbrev(p.names))}")
        lines += _tensor_steps(G, i, p)
        lines.append(f"    path {i} contributes {array(p.product)}")
    sumtxt = " + ".join(f"path {i}" for i in range(1, len(paths) + 1))
    lines.append(f"{_d(on, wn)} = {sumtxt} = {array(G.total)}")
    tex_paths = " + ".join(f"\\text{{path {i}}}" for i in range(1, len(paths) + 1))
    return lines, f"{_tex_d(on, wn)} = {tex_paths} = {tex_array(G.total)}"


def _collapsed_line(G, n, users, above):
    """d on/d n as the sum over the nodes c that use n directly."""
    nn = G.names[id(n)]
    terms, nums = [], []
    for c in users[:4]:
        cn = G.names[id(c)]
        gc = G.grads.get(id(c), np.zeros_like(c.data))
        top = c is G.output and gc.size == 1 and float(gc.reshape(())) == 1.0
        terms.append(_d(cn, nn) if top else f"{_d(G.on, cn)} * {_d(cn, nn)}")
        if c.data.size == 1 and n.data.size == 1:
            loc = _factor(G.local(c, n))
            nums.append(loc if top else f"{_factor(gc)} * {loc}")
        else:
            share = G.edge_vjp(c, n, gc)
            s = array(np.zeros_like(n.data) if share is None else share)
            nums.append(s if s.startswith("[") else f"({s})")
    tail = f" + ... ({len(users) - 4} more terms)" if len(users) > 4 else ""
    k = above.get(id(n), 0)
    eq = _chain(_d(G.on, nn), " + ".join(terms) + tail, " + ".join(nums) + tail,
                array(G.grads.get(id(n), np.zeros_like(n.data))))
    return f"  {eq}   [{plural(k, 'path')} from {G.on} to {nn} in one line]"


def _collapsed_lines(G, max_paths):
    """Too many paths to list: each gradient as a sum over the nodes that use it directly,
    breadth first from ``wrt``, with the totals from the backward pass."""
    on, wn = G.on, G.wn
    on_paths = G.on_paths()
    users_of = graph.consumers(on_paths, G.parents_of)
    above = {id(G.output): 1}          # paths from the output down to each node
    for t in reversed(on_paths):
        for p in G.parents_of(t):
            above[id(p)] = above.get(id(p), 0) + above.get(id(t), 0)
    lines = [f"{G.n_paths} paths lead from {on} to {wn}, more than max_paths={max_paths}, so "
             f"they are not listed one by one. Shared sub-paths are collapsed instead: the "
             f"backward pass gives the total d{on}/dn at every node n (all the paths from "
             f"{on} down to n already summed), so each gradient is a sum over the nodes c "
             f"that use it directly: d{on}/dn = sum over c of d{on}/dc * dc/dn."]
    queue, seen, shown = [G.wrt], {id(G.wrt)}, 0
    while queue and shown < max(max_paths, 4):
        n = queue.pop(0)
        users = users_of.get(id(n), [])
        if not users:
            continue
        lines.append(_collapsed_line(G, n, users, above))
        shown += 1
        for c in users:
            if id(c) not in seen and c is not G.output:
                seen.add(id(c))
                queue.append(c)
    rest = sum(1 for t in on_paths if id(t) not in seen and t is not G.output)
    if rest:
        lines.append(f"  ... {plural(rest, 'more node')} between "
                     f"{G.names[id(queue[0])] if queue else wn} and {on} are collapsed the "
                     f"same way (not shown); their totals come from the backward pass.")
    lines.append(f"{_d(on, wn)} = {array(G.total)}")
    return lines


# --- the function ------------------------------------------------------------------------

def not_a_tensor(fn, what, x):
    """The TypeError for a non-tensor ``output`` or ``wrt``, with what to pass instead."""
    got = type(x).__name__
    if hasattr(x, "named_parameters"):
        hint = ("draw or explain the tensor it computes, e.g. loss = loss_fn(model(x), y)"
                if what == "output" else "pass one of its parameters, e.g. model[0].weight "
                "(model.named_parameters() lists them)")
        got = f"a {got} module; {hint}"
    elif isinstance(x, (list, tuple)) and x and all(isinstance(t, Tensor) for t in x):
        hint = (f"{fn} follows one wrt at a time: {fn}(output, t) for each t"
                if what == "wrt" else f"{fn} one output at a time, or their sum: "
                "zeroin.stack(outputs).sum()")
        got = f"a {got} of {len(x)} tensors; {hint}"
    elif isinstance(x, (int, float, np.number, np.ndarray, list)):
        got = (f"{got} {x!r}"[:60] + "; make it a tensor first, e.g. "
               "zeroin.tensor(3.0, requires_grad=True), and compute with that")
    return TypeError(f"{fn}: {what} must be a Tensor, got {got}")


def _check(output, wrt, max_paths, gradient, steps):
    for what, x in (("output", output), ("wrt", wrt)):
        if not isinstance(x, Tensor):
            raise not_a_tensor("explain", what, x)
    if not output.requires_grad:
        raise ValueError("explain: the output does not require grad, so it has no graph "
                         "to explain; create its inputs with requires_grad=True, and compute "
                         "it outside `with zeroin.no_grad():`")
    if not wrt.requires_grad:
        raise ValueError("explain: wrt does not require grad (it is a constant), so no "
                         "gradient flows to it; create it with requires_grad=True")
    if steps not in ("auto", "all", "named"):
        raise ValueError(f"explain: steps must be 'auto', 'all' or 'named', got {steps!r}")
    if int(max_paths) < 1:
        raise ValueError(f"explain: max_paths must be at least 1, got {max_paths}")
    if gradient is None and output.data.size != 1:
        raise ValueError(f"explain: the output has shape {output.data.shape}; explain a "
                         f"one-element result (e.g. loss.sum() or loss.mean()) or pass "
                         f"gradient= an array of shape {output.data.shape}")


def explain(output, wrt, max_paths=12, gradient=None, steps="auto", model=None):
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
        when some intermediate result has a name, else every step except those that
        change nothing (``x + 0``, ``x * 1``).
    model : Module or mapping, optional
        Names for parameters: a Module's ``named_parameters()`` paths (``0.weight``) or a
        mapping name -> tensor.

    Returns
    -------
    Explanation
        ``str()`` is plain text; Jupyter renders the math; ``.latex()``, ``.markdown()``,
        ``.html()``.
        ``.value`` is the gradient, ``.paths`` the paths with their local derivatives and
        products. Tensors with at most 12 elements are written out in full.
    """
    _check(output, wrt, max_paths, gradient, steps)
    max_paths = int(max_paths)
    G = _Gathered(output, wrt, gradient, steps, model)
    on, wn = G.on, G.wn
    if not G.connected:
        swapped = the_other_way_round("explain", output, wrt, model)
        if swapped:
            on, wn, hint = swapped
            lines = [f"{on} does not depend on {wn}, so d{on}/d{wn} = 0: {hint}."]
        else:
            lines = [f"{on} does not depend on {wn}: no path leads from {on} to {wn}, so "
                     f"d{on}/d{wn} = 0."]
        return Explanation(on, wn, G.value, [], 0, False, lines)
    lines = _node_lines(G)
    paths = G.paths(max_paths)
    if output is wrt or G.n_paths == 0:
        why = (f"{on} is wrt itself: " if output is wrt else
               f"No path leads from {on} to {wn} (the gradient stops at a constant or a "
               f"non-differentiable step), so ")
        lines.append(f"{why}{_d(on, wn)} = {array(G.total)}.")
        return Explanation(on, wn, G.value, paths, G.n_paths, False, lines)
    tex = None
    if G.n_paths > max_paths:
        lines += _collapsed_lines(G, max_paths)
    else:
        more, tex = (_scalar_lines if G.all_scalar() else _tensor_lines)(G, paths)
        lines += more
    return Explanation(on, wn, G.value, paths, G.n_paths, G.n_paths > max_paths, lines, tex)
