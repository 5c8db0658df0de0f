"""Reverse-mode differentiation: walk the graph from the outputs back to the inputs.

This is the reference engine, the one to read. :func:`run` visits every node in reverse
topological order, so a node's gradient is complete (the chain rule's sum over paths)
before it is passed on: for each node it calls its op's backward rule
(:mod:`zeroin.ops`), reduces each result to its input's shape and adds it to that input's
gradient; the leaves' sums end in their ``.grad``.

For ``z = x * y`` with ``x = 2 * w + b`` and ``y = b + 1`` (the chapter's graph, w = 3,
b = 4) the order is 2w, x, y, z; backward starts at z with gradient 1: mul passes
``1 * y = 5`` to x and ``1 * x = 10`` to y; y's add passes 10 to b; x's add passes 5 to
2w and to b (now 15); 2w's mul passes ``5 * 2 = 10`` to w.

Unless ``ZEROIN_FAST=0``, a plain ``backward()`` (no ``create_graph``, no
:func:`zeroin.grad` targets, no anomaly mode) runs the same loop in ``zeroin/_fast.py``,
which gives the same results with fewer Python instructions.
"""
from __future__ import annotations

import numpy as np

from . import _tensor
from .anomaly import anomaly, check_backward, not_replayable
from .errors import ShapeError, ZeroinError
from .function import (HOOKED, NP, release_saved, run_posthooks, run_prehooks, sum_to_array,
                       unpack_saved)
from .graph import toposort
from .ops import TZ, GetItemOp, sum_to
from ._tensor import Tensor, _leaf, enable_grad, no_grad
from .errors import a_type

_F64 = np.dtype(np.float64)
_fast = None
if _tensor.FAST:
    from . import _fast

__all__ = ["backward", "grad", "node_grads", "run", "Variable", "detect_anomaly",
           "set_detect_anomaly", "functional", "graph", "set_grad_enabled", "inference_mode",
           "no_grad", "enable_grad", "Function", "once_differentiable", "gradcheck",
           "gradgradcheck"]

# torch.autograd's submodules, loaded on first use (`torch.autograd.graph.Node`)
_SUBMODULES = ("functional", "graph", "grad_mode", "anomaly_mode", "function", "variable",
               "profiler", "forward_ad")

# zeroin.autograd is a module (the reference engine) that also holds a submodule, as
# torch.autograd does: `functional` lives in zeroin/_autograd/ and loads on first use.
__path__ = [__file__.rpartition("autograd.py")[0] + "_autograd"]


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_RELEASED_MSG = ("backward: trying to backward through the graph a second time (or to "
                 "read saved values after they were freed by an earlier backward); pass "
                 "retain_graph=True to the first backward (or zeroin.grad) if you need to "
                 "backward through the same graph again")


class Pass:
    """The settings of one backward pass, and what it collects on the way."""
    __slots__ = ("create_graph", "retain", "targets", "keep_all", "leaves", "captured",
                 "into_grad", "on_end", "hooked")

    def __init__(self, retain_graph, create_graph, targets, keep_all, into_grad=False):
        self.create_graph = create_graph    # record the rules (xp = TZ): higher order
        self.retain = retain_graph or keep_all    # keep the graph for another backward
        self.targets = targets          # ids whose gradient zeroin.grad returns, or None
        self.into_grad = into_grad      # backward(inputs=...): targets' gradients go to .grad
        self.keep_all = keep_all        # node_grads: every tensor's gradient, no .grad
        self.leaves = {}                # leaves reached, in order (a dict as ordered set)
        self.captured = {}              # id(tensor) -> gradient, for targets
        self.on_end = None              # callables to call when the pass is over
        # some node has hooks or packed saved tensors (read once per pass, not per node)
        self.hooked = bool(HOOKED.data) and not keep_all


def run(outputs, out_grads, retain_graph=False, create_graph=False, targets=None,
        keep_all=False, into_grad=False):
    """The backward pass from ``outputs`` seeded with ``out_grads``.

    Accumulates into the leaves' ``.grad``; with ``targets`` (a set of ids) returns
    {id: gradient} for them instead, visiting only the nodes that lead to a target (and
    ``into_grad``: ``retain_grad`` tensors on the way keep theirs, as in a plain backward).
    With ``keep_all`` it returns every tensor's gradient, writes no ``.grad`` and allows a
    released graph (see :func:`node_grads`).
    """
    if _fast is not None and not (create_graph or keep_all or anomaly.enabled) \
            and targets is None and not HOOKED.data:     # nodes with hooks
        _fast.backward(outputs, out_grads, retain_graph)
        return {}
    if anomaly.tracer is not None and not (
            create_graph and getattr(anomaly.tracer, "soft", False)):
        # zeroin.replay is tracing (so never the fast path); vmap's log takes the rules
        # run on tensors (create_graph), which are logged ops
        not_replayable("it runs a backward pass", "replay only the function that computes "
                       "the loss, and call loss.backward() and the optimiser outside it")
    p = Pass(retain_graph, create_graph, targets, keep_all, into_grad)
    grads = {}                  # tensor -> its gradient so far (tensors hash by identity)
    for t, g in zip(outputs, out_grads):
        _accumulate(grads, t, g, p.leaves)
    order = toposort(outputs)   # every node after the nodes it was computed from
    need = _leading_to(order, targets) if targets is not None and not keep_all else None
    for t in reversed(order):   # so a node comes after every node that used its output
        g = grads.pop(t, None)
        if g is None:           # no path needs it
            continue
        if need is None or t in need:
            _backprop_node(t, g, grads, p)
        elif id(t) in targets:  # a target no other target lies behind: its op is not run
            _observe(t, g, p)   # (nor freed), as in PyTorch
    for leaf in p.leaves:
        _write_leaf(leaf, grads.pop(leaf), p)
    if p.on_end is not None:
        end_pass(p)
    return p.captured


def end_pass(p):
    """Call what asked to run once the pass ``p`` is over (multi-grad hooks, in order)."""
    calls, p.on_end = p.on_end, None
    for call in calls:
        call()


def _leading_to(order, targets):
    """The nodes of ``order`` whose op leads to a target: the only ones a pass for
    targets runs (as PyTorch's engine, so hooks elsewhere do not fire, and the graph
    behind a target is neither run nor freed: first-order MAML's adapted weights)."""
    need = set()
    for t in order:             # a node comes after its inputs
        if any(i in need or id(i) in targets for i in t.grad_fn.inputs):
            need.add(t)
    return need


def _backprop_node(t, g, grads, p):
    """One step of the chain rule: pass ``g`` = d output / d t to the inputs of t's op."""
    g = _observe(t, g, p)
    fn = t.grad_fn
    if fn.released and not p.keep_all:
        raise RuntimeError(_RELEASED_MSG)
    ins = fn.inputs
    if p.hooked and fn in HOOKED:   # grad_fn hooks, or saved_tensors_hooks' packed tensors
        res = _hooked_rule(t, fn, g, p)
    elif p.create_graph:        # the rule on tensors: recorded, so it can be differentiated
        res = _rule(fn, TZ, g, t, ins)
    else:
        res = _rule(fn, NP, g, _tensor._array_of(t), [_tensor._array_of(i) for i in ins])
    if len(ins) == 1:
        res = (res,)
    if not p.retain:            # free what forward saved: the graph is used up
        fn.released = True
        fn.saved = None
    for inp, gi in zip(ins, res):
        if gi is not None and inp.requires_grad:
            gi = _fit(gi, inp, p.create_graph)
            if anomaly.detect:
                check_backward(fn, gi)
            _accumulate(grads, inp, gi, p.leaves)


def _rule(fn, xp, g, out, ins):
    """``fn``'s backward rule on ``g`` (arrays with ``NP``, recorded tensors with ``TZ``).
    A holomorphic op with a complex output gets PyTorch's gradient as conj(rule(conj(g))):
    the rule written for reals gives g * f'(z) (PyTorch's convention, "Autograd for
    Complex Numbers": the gradient of a real loss is dL/dRe + i dL/dIm)."""
    if out.dtype.kind != "c" or not fn.holomorphic:
        res = fn.backward(xp, g, out, *ins)
        if xp is TZ and fn.piecewise_linear:     # tie the gradient of x to x (or out)
            from .ops import zero_of
            tie = zero_of(out if fn.piecewise_linear == "out" else ins[0])
            if isinstance(res, tuple) and res[0] is not None:
                res = (res[0] + tie,) + res[1:]
            elif res is not None:
                res = res + tie
        return res
    res = fn.backward(xp, g.conj() if xp is TZ else np.conj(g), out, *ins)
    if len(ins) == 1:
        return None if res is None else res.conj()
    return tuple(None if r is None else r.conj() for r in res)


def _hooked_rule(t, fn, g, p):
    """``fn``'s backward rule for a node with hooks or packed saved tensors: pre-hooks on
    ``g``, the rule on what unpack gives back, hooks on the input gradients."""
    hooks, packed = getattr(fn, "_node_hooks", None), getattr(fn, "_packed", None)
    ins = fn.inputs
    if hooks is not None and hooks[0]:      # grad_fn.register_prehook
        with enable_grad() if p.create_graph else no_grad():
            g = run_prehooks(fn, hooks[0], g, *_hook_io(p))
    if packed is not None:                  # saved_tensors_hooks: the unpacked values
        out, args = unpack_saved(fn, t, p.create_graph)
        res = _rule(fn, TZ if p.create_graph else NP, g, out, args)
        if not p.retain:
            release_saved(fn)
    elif p.create_graph:
        res = _rule(fn, TZ, g, t, ins)
    else:
        res = _rule(fn, NP, g, _tensor._array_of(t), [_tensor._array_of(i) for i in ins])
    res = (res,) if len(ins) == 1 else res
    if hooks is not None and hooks[1]:      # grad_fn.register_hook
        res = [None if gi is None or not inp.requires_grad else _fit(gi, inp, p.create_graph)
               for inp, gi in zip(ins, res)]
        with enable_grad() if p.create_graph else no_grad():
            res = run_posthooks(fn, hooks[1], res, g, *_hook_io(p))
    return res[0] if len(ins) == 1 else res


def _hook_io(p):
    """How a node hook sees gradients (tensors, off the graph unless create_graph) and
    how what it returns goes back into the pass."""
    if p.create_graph:
        return (lambda g: g if isinstance(g, Tensor) else _leaf(np.asarray(g)),
                lambda r: r if isinstance(r, Tensor) else _leaf(np.asarray(r)))
    return (lambda g: _leaf(np.asarray(g)),
            lambda r: np.asarray(_tensor._array_of(r) if isinstance(r, Tensor) else r))


def _accumulate(grads, t, g, leaves):
    """Add ``g`` to the gradient collected for ``t`` (the sum over paths)."""
    prev = grads.get(t)
    if prev is None:
        grads[t] = g
        if t.grad_fn is None:
            leaves[t] = None
    else:
        grads[t] = prev + g


def _fit(g, t, create_graph):
    """``g`` reduced to ``t``'s shape (undoing broadcasting) and its dtype."""
    if create_graph:
        g = g if isinstance(g, Tensor) else _leaf(np.asarray(g))
        if g.dtype != t.dtype:      # as PyTorch's engine: each input gets its own dtype
            g = (g.real if g.dtype.kind == "c" and t.dtype.kind != "c" else g).to(t.dtype)
        return g if g.shape == t.shape else sum_to(g, t.shape)
    g = np.asarray(g)
    if g.shape != t.shape:
        g = sum_to_array(g, t.shape)
    if g.dtype == t.dtype:
        return g
    if g.dtype.kind == "c" and t.dtype.kind != "c":     # a real input keeps the real part
        g = g.real
    return g.astype(t.dtype)


def _observe(t, g, p):
    """Let the user see a node's gradient: hooks, ``retain_grad`` and ``zeroin.grad``."""
    if not p.create_graph and type(g) is not np.ndarray:
        g = np.asarray(g)
    if t._hooks:
        g = _call_hooks(t, g, p)
    if p.targets is not None and id(t) in p.targets:
        p.captured[id(t)] = g
    elif t._retain and (p.targets is None or p.into_grad):
        t.grad = _sum_grads(t.grad, g, p.create_graph)
    return g


def _write_leaf(leaf, g, p):
    """A leaf's summed gradient goes to ``leaf.grad`` (added to what is there), or to the
    results of :func:`zeroin.grad` (leaves that are not its inputs are left alone)."""
    if p.targets is not None and id(leaf) not in p.targets:
        return
    if leaf.dtype.kind not in "fc":
        _int_leaf(leaf)
    if not p.create_graph:
        g = np.asarray(g, dtype=leaf.dtype)
    if leaf._hooks:
        g = _call_hooks(leaf, g, p)
    if p.targets is not None:
        p.captured[id(leaf)] = g
    else:
        _store_grad(leaf, g, p.create_graph)
        for h in list(leaf._hooks or ()):
            if type(h) is _tensor._PostAccumulateHook:
                with no_grad():
                    if h.hook(leaf) is not None:
                        raise TypeError("post accumulate grad hook: must return None (it "
                                        "sees the tensor after its .grad is written; to "
                                        "change a gradient use register_hook)")


def _store_grad(t, g, create_graph):
    """Add ``g`` to ``t.grad`` (or set it)."""
    if t.grad is None or create_graph or t.grad.requires_grad:
        t.grad = _sum_grads(t.grad, g, create_graph)
    else:                       # the usual second backward: add in place, as PyTorch does
        _add_into(t, _tensor._array_of(t.grad), g)


def _sum_grads(cur, g, create_graph):
    """``cur + g`` as a gradient tensor (``cur`` may be None). Without create_graph the
    result is a fresh array: ``g`` may be shared (add passes one array to both inputs)."""
    if create_graph:
        return g if cur is None else cur + g
    if cur is None:
        return _leaf(np.array(g, order="C"))     # C-contiguous, as PyTorch's .grad
    with no_grad():
        return cur + _leaf(g) if cur.requires_grad else _leaf(_tensor._array_of(cur) + g)


def _add_into(leaf, gd, g):
    """Accumulate ``g`` into the existing gradient array ``gd`` of ``leaf``, in place."""
    if gd.flags.writeable:
        np.add(gd, g, out=gd)
    else:                   # a read-only buffer may be shared: give the leaf its own
        leaf.grad = _leaf(np.asarray(gd + g))


def _int_leaf(leaf):
    # Tensor() refuses requires_grad on integers; `t.requires_grad = True` slips past it,
    # and the gradient would be truncated to whole numbers
    what = f"tensor {leaf.name!r}" if leaf.name else "a tensor"
    raise TypeError(f"backward: {what} of shape {leaf.shape} and dtype {leaf.dtype} "
                    f"has requires_grad=True, but only floating-point tensors can require "
                    f"grad (its gradient would be rounded to whole numbers); create it as "
                    f"zeroin.tensor(data, dtype='float64', requires_grad=True)")


def _contiguous(g):
    """A gradient handed to the user (a hook's argument, :func:`grad`'s result) as a
    C-contiguous array, as PyTorch's are: a rule may leave a strided view (a convolution's
    input gradient cropped from its padded image), on which ``grad.view(n, -1)`` would
    fail."""
    return g.copy() if isinstance(g, np.ndarray) and not g.flags.c_contiguous else g


def _call_hooks(t, g, p):
    create_graph = p.create_graph
    for hook in list(t._hooks):
        if type(hook) is _tensor._PostAccumulateHook:
            continue
        if type(hook) is GroupHook:
            hook.arrive(g, p)
            continue
        if create_graph:
            r = hook(g)
        else:
            with no_grad():         # as in PyTorch: what a hook computes is not recorded
                r = hook(_leaf(_contiguous(g)))
        if r is not None:
            if create_graph:
                g = r if isinstance(r, Tensor) else _leaf(np.asarray(r))
            else:
                g = np.asarray(r.data if isinstance(r, Tensor) else r, dtype=t.dtype)
            if g.shape != t.shape:
                raise ValueError(f"hook: returned a gradient of shape {g.shape} for a "
                                 f"tensor of shape {t.shape}")
    return g


if _fast is not None:   # the fast loop hands hooks, retain_grad and released graphs to these
    _fast.reference.Pass = Pass
    _fast.reference.backprop_node = _backprop_node
    _fast.reference.write_leaf = _write_leaf
    _fast.reference.end_pass = end_pass
    _fast._GETITEM = GetItemOp      # the slices whose gradients T18 writes into one buffer


class GroupHook:
    """One tensor's part of a ``register_multi_grad_hook`` (kept in its ``_hooks``, so
    the fast loop hands the tensor to these steps): it reports the tensor's gradient to
    the group (``arrive(g, pass)``) and never changes it."""
    __slots__ = ("group", "index")

    def __init__(self, group, index):
        self.group, self.index = group, index

    def arrive(self, g, p):
        self.group.arrive(self.index, g if isinstance(g, Tensor) else _leaf(g), p)


# --- the entry points ---------------------------------------------------------------------

def root_grads(outputs, grad_outputs, create_graph, op):
    """The seeds of a backward pass: d output / d output (ones, or what the user gave)."""
    grads = []
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: outputs must be tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"{op}: output {i} does not require grad and has no grad_fn: "
                               f"nothing it depends on has requires_grad=True, or it was "
                               f"computed under zeroin.no_grad(), or it is a gradient made "
                               f"without create_graph=True (to differentiate it again, as "
                               f"u_xx from u_x, pass create_graph=True to the grad that made "
                               f"it)")
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if t.dtype.kind == "c":
                raise RuntimeError(f"{op}: grad can be implicitly created only for real scalar "
                                   f"outputs; this output is {t.dtype}: reduce it to a real "
                                   f"loss first (e.g. z.abs().sum() or z.real.sum()) or pass "
                                   f"gradient=")
            shape = t.shape
            if shape and t.data.size != 1:
                raise RuntimeError(f"{op}: output has shape {shape}; backward without "
                                   f"a gradient works only for one-element outputs. Reduce it "
                                   f"first (e.g. loss.mean() or loss.sum()) or pass gradient= "
                                   f"an array of shape {shape}")
            dtype = t.dtype
            # a float64 scalar's seed is the float 1.0, as zeroin.tensor(1.0) would be
            g = 1.0 if dtype is _F64 and not shape else np.ones(shape, dtype)
        else:
            seed = g
            g = _tensor._array_of(g) if isinstance(g, Tensor) else np.asarray(g, dtype=t.dtype)
            if g.shape != t.shape:
                raise ShapeError(f"{op}: gradient has shape {g.shape} but the output has "
                                 f"shape {t.shape}; they must match")
            if g.dtype != t.dtype:      # PyTorch casts the seed to the output's dtype
                g = g.astype(t.dtype)
            if create_graph and isinstance(seed, Tensor):
                # kept as given (cast, recorded): the gradients depend on it (double backward)
                g = seed if seed.dtype == t.dtype else seed.to(t.dtype)
        grads.append(g if isinstance(g, Tensor) else _leaf(np.asarray(g)) if create_graph
                     else g)
    return grads


def backward(tensor, gradient=None, retain_graph=False, create_graph=False, *,
             grad_tensors=None, inputs=None):
    """Accumulate d(tensor)/d(leaf) into each leaf's ``.grad``. See :meth:`Tensor.backward`.
    As ``torch.autograd.backward``, ``tensor`` may be a sequence, with one gradient each in
    ``gradient`` (or ``grad_tensors``; None for a one-element tensor): one pass for all.
    ``inputs`` (tensors, leaves or not) limits the accumulation to their ``.grad``."""
    inputs = _as_inputs(inputs, "backward")
    if grad_tensors is not None:
        gradient = grad_tensors
    outputs = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    grads = None
    if gradient is not None:
        grads = [gradient] if isinstance(tensor, Tensor) or isinstance(
            gradient, (Tensor, np.ndarray)) else list(gradient)
        if len(grads) != len(outputs):
            raise RuntimeError(f"backward: got {len(outputs)} tensors and {len(grads)} "
                               f"gradients; give one gradient per tensor (None for a "
                               f"one-element tensor)")
    g = root_grads(outputs, grads, create_graph, "backward")
    if inputs is not None:
        _backward_into(outputs, g, retain_graph, create_graph, inputs)
    elif create_graph:
        with enable_grad():     # the rules are recorded: gradients of gradients
            run(outputs, g, True, True)
    else:                       # the rules run on arrays; hooks run under no_grad
        run(outputs, g, retain_graph)


def _as_inputs(inputs, op):
    """PyTorch's ``inputs=``: a tensor, a sequence or a dict of them, as a list (or None)."""
    if inputs is None:
        return None
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    elif isinstance(inputs, dict):
        inputs = list(inputs.values())
    else:
        inputs = list(inputs)
    if not inputs:
        raise RuntimeError(f"`inputs` argument to `{op}()` cannot be empty.")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: inputs[{i}] is {a_type(t)}; inputs must be "
                            f"tensors")
        if not t.requires_grad:
            raise RuntimeError(f"{op}: inputs[{i}] does not require grad, so no gradient "
                               f"can be computed for it; create it with requires_grad=True "
                               f"or leave it out of inputs")
    return inputs


def _backward_into(outputs, g, retain_graph, create_graph, inputs):
    """backward(inputs=...): only the given tensors' ``.grad`` (leaves or not) receive
    their gradient; the pass visits only the nodes that lead to them. As in PyTorch, a
    non-leaf input is marked ``retain_grad()``, so later backward passes fill it too."""
    for t in inputs:
        if t.grad_fn is not None:
            t.retain_grad()
    with enable_grad() if create_graph else no_grad():
        captured = run(outputs, g, retain_graph or create_graph, create_graph,
                       {id(t) for t in inputs}, into_grad=True)
    for t in {id(t): t for t in inputs}.values():
        gt = captured.get(id(t))
        if gt is not None:
            _store_grad(t, gt, create_graph)


def node_grads(output, gradient=None):
    """d(output)/d(t) for every tensor ``t`` in ``output``'s graph, as {id(t): ndarray}.

    Reads the graph without changing it: no ``.grad`` is written and it also works after
    an ordinary ``backward`` has run. Drawing and explaining use it to label every node.
    """
    g = root_grads([output], None if gradient is None else [gradient], False, "node_grads")
    with no_grad():
        return run([output], g, True, False, _Everything(), keep_all=True)


class _Everything:
    """The targets of node_grads: every tensor."""
    def __contains__(self, k):
        return True


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False,
         materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple (a dict
    for a dict of inputs), with PyTorch's signature.

    Unlike :meth:`Tensor.backward`, nothing is accumulated into ``.grad``. With
    ``create_graph=True`` the results are part of the graph and can be differentiated
    again. ``retain_graph`` defaults to ``create_graph``. An input the outputs do not
    depend on is an error, None with ``allow_unused=True`` and zeros with
    ``materialize_grads=True`` (``allow_unused`` defaults to ``materialize_grads``).
    With ``is_grads_batched=True`` the first dimension of each of ``grad_outputs`` is a
    batch: one backward per row, the results stacked (rows of a Jacobian, as PyTorch's
    vmap over the backward gives). ``only_inputs`` is ignored, as in PyTorch.

    Examples
    --------
    >>> import zeroin
    >>> x = zeroin.tensor(2.0, requires_grad=True)
    >>> (dy,) = zeroin.grad(x ** 3, x, create_graph=True)
    >>> (d2y,) = zeroin.grad(dy, x)
    >>> dy.item(), d2y.item()
    (12.0, 12.0)
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if is_grads_batched:
        return _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph,
                             allow_unused, materialize_grads)
    keys = list(inputs) if isinstance(inputs, dict) else None
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(
        inputs.values() if keys is not None else inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if grad_outputs is not None:
        # one Tensor or array is the gradient of a single output (as in PyTorch)
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) \
            else list(grad_outputs)
        if len(grad_outputs) != len(outputs):
            raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for "
                             f"{len(outputs)} outputs; give one per output (None for a "
                             f"one-element output)")
    if retain_graph is None:
        retain_graph = create_graph
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad; create it with "
                               f"requires_grad=True")
    g = root_grads(outputs, grad_outputs, create_graph, "grad")
    with enable_grad() if create_graph else no_grad():
        captured = run(outputs, g, retain_graph, create_graph, {id(t) for t in inputs})
    result = []
    for i, t in enumerate(inputs):
        r = captured.get(id(t))
        if r is None and not (allow_unused or materialize_grads):
            label = f" ({t.name})" if t.name else ""
            raise ZeroinError(f"grad: input {i}{label} is not used in the graph of the "
                              f"outputs; pass allow_unused=True to get None for it")
        if r is None and materialize_grads:
            r = _leaf(np.zeros(t.shape, t.dtype)).requires_grad_(create_graph)
        result.append(r if r is None or isinstance(r, Tensor) else _leaf(_contiguous(r)))
    return dict(zip(keys, result)) if keys is not None else tuple(result)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    """:func:`grad` with ``is_grads_batched=True``: a backward per row of ``grad_outputs``
    (the graph kept until the last), each input's rows stacked; an unused input is None,
    an error, or (``materialize_grads``) zeros of its own shape, as PyTorch gives."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        raise RuntimeError("grad: is_grads_batched=True needs grad_outputs, one per output "
                           "with a batch dimension first (e.g. zeroin.eye(n) for the rows "
                           "of a Jacobian)")
    gos = [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) \
        else list(grad_outputs)
    shapes = [tuple(np.shape(g)) for g in gos]
    if len(gos) != len(outs) or any(len(s) != o.ndim + 1 or s[1:] != tuple(o.shape)
                                    for s, o in zip(shapes, outs)):
        raise RuntimeError(f"grad: with is_grads_batched=True the first dimension of each "
                           f"grad_output is the batch and the rest must be its output's "
                           f"shape; got grad_outputs of shapes {shapes} for outputs of "
                           f"shapes {[tuple(o.shape) for o in outs]}")
    if len({s[0] for s in shapes}) != 1:
        raise ValueError(f"grad: with is_grads_batched=True every grad_output needs the same "
                         f"batch size (first dimension), got {[s[0] for s in shapes]}")
    keys = list(inputs) if isinstance(inputs, dict) else None
    ins = [inputs] if isinstance(inputs, Tensor) else list(
        inputs.values() if keys is not None else inputs)
    n = shapes[0][0]
    last = create_graph if retain_graph is None else retain_graph
    rows = [grad(outs, ins, [g[b] for g in gos], retain_graph=True if b < n - 1 else last,
                 create_graph=create_graph, allow_unused=True) for b in range(n)]
    result = []
    for i, t in enumerate(ins):
        col = [r[i] for r in rows]
        if n and all(c is not None for c in col):
            from .ops import stack
            result.append(stack(col))
        elif materialize_grads:
            result.append(_leaf(np.zeros(t.shape, t.dtype)).requires_grad_(create_graph))
        elif allow_unused or n == 0:
            result.append(None)
        else:
            raise ZeroinError(f"grad: input {i} is not used in the graph of the outputs; "
                              f"pass allow_unused=True to get None for it")
    return dict(zip(keys, result)) if keys is not None else tuple(result)


from ._custom_function import Function, FunctionCtx, once_differentiable  # noqa: E402,F401  (PyTorch's torch.autograd.Function)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402,F401  (torch.autograd's)
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402,F401  (torch.autograd's)
from ._tensor_api import inference_mode, set_grad_enabled  # noqa: E402,F401  (torch.autograd's)


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """PyTorch's pre-0.4 wrapper, which old tutorials still call (``Variable(x,
    requires_grad=True)``) and PyTorch still accepts: a tensor sharing ``data``'s memory,
    with ``requires_grad`` set. Every tensor is a Variable (``isinstance``)."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}; write zeroin.tensor(data, "
                            f"requires_grad=...) (Variable is not needed since PyTorch 0.4)")
        return data.detach().requires_grad_(requires_grad)
