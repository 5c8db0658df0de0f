"""Reverse-mode differentiation: walk the graph from the outputs back to the inputs.

Each op's gradient is computed once every op that consumed its output has passed its
share back (reverse topological order), so shared sub-expressions are handled by summing,
as the chain rule's sum over paths says.
"""
from __future__ import annotations

from sys import getrefcount

import numpy as np

from . import function as _f
from .function import ZeroinError
from .graph import toposort
from .ops import NP, TZ, _sum_to_np, sum_to
from . import _tensor as _tmode
from ._tensor import Tensor, _leaf, _scalar, enable_grad, no_grad

_new = object.__new__

__all__ = ["backward", "grad"]

_RELEASED_MSG = ("backward: trying to backward through the graph a second time (or to "
                 "read saved values after they were freed by an earlier backward); pass "
                 "retain_graph=True to the first backward (or zeroin.grad) if you need to "
                 "backward through the same graph again")


def _as_grad(g, t, create_graph, op="backward"):
    if isinstance(g, Tensor):
        arr = g.data
    else:
        arr = np.asarray(g, dtype=t.data.dtype)
    if arr.shape != t.data.shape:
        raise ValueError(f"{op}: gradient has shape {arr.shape} but the output has shape "
                         f"{t.data.shape}; they must match")
    if create_graph:
        return g if isinstance(g, Tensor) else _leaf(arr)
    return arr


def _root_grads(outputs, grad_outputs, create_graph, op):
    grads = []
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: outputs must be tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"{op}: output {i} does not require grad and has no grad_fn: "
                               f"nothing it depends on has requires_grad=True (or it was "
                               f"computed under zeroin.no_grad())")
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(f"{op}: output has shape {t.data.shape}; backward without "
                                   f"a gradient works only for one-element outputs. Reduce it "
                                   f"first (e.g. loss.mean() or loss.sum()) or pass gradient= "
                                   f"an array of shape {t.data.shape}")
            d = t.data
            arr = np.array(1, dtype=d.dtype)     # np.ones_like costs 5x more on 0-d
            if d.ndim:
                arr = arr.reshape(d.shape)
            g = _leaf(arr) if create_graph else arr
        else:
            g = _as_grad(g, t, create_graph, op)
        grads.append(g)
    return grads


def _run(outputs, out_grads, retain_graph, create_graph, targets=None, everything=False):
    """The engine. Accumulates into leaves' ``.grad``, or returns {id: grad} for targets.

    With ``everything`` it returns the gradient of every tensor in the graph and touches no
    ``.grad``; released graphs are allowed (used by :func:`node_grads`)."""
    if everything:
        targets = _Everything()
    order = toposort(outputs)
    grads = {}          # tensor -> gradient so far (tensors hash by identity)
    for t, g in zip(outputs, out_grads):
        grads[t] = g if t not in grads else grads[t] + g
    xp = TZ if create_graph else NP
    wrap = _leaf if not create_graph else (lambda g: g)
    leaves = {}         # leaf tensor -> None, in the order they were reached
    captured = {}       # id(tensor) -> gradient, for targets
    anomaly = _f.anomaly.enabled
    # hot loop: module globals it reads every node, as locals
    free = not retain_graph and not everything
    check_released = not everything
    ndarray, asarray, generic, f64 = np.ndarray, np.asarray, np.generic, np.float64
    # Python-float scalars (see Tensor.data) are differentiated on floats too, unless
    # someone looks at their gradients (hooks, retain_grad, grad(), anomaly checks).
    lane = not create_graph and targets is None and not anomaly
    for t in reversed(order):
        g = grads.pop(t, None)
        if g is None:
            continue
        fn = t.grad_fn
        if lane and not t._hooks and not t._retain:
            if t._v is not None:
                if fn.released:
                    raise RuntimeError(_RELEASED_MSG)
                if type(g) is not float:
                    g = float(g)
                ins = fn.inputs
                if len(ins) == 2:
                    x, y = ins
                    a, b = x._v, y._v
                    if a is None:
                        a = x.data[()]
                    if b is None:
                        b = y.data[()]
                    try:
                        ga, gb = fn.backward(NP, g, t._v, a, b)
                    except ArithmeticError:     # 0.0 ** -1 and the like: NumPy's inf and warning
                        ga, gb = fn.backward(NP, f64(g), f64(t._v), f64(a), f64(b))
                else:
                    x = ins[0]
                    y = gb = None
                    a = x._v
                    if a is None:
                        a = x.data[()]
                    try:
                        ga = fn.backward(NP, g, t._v, a)
                    except ArithmeticError:
                        ga = fn.backward(NP, f64(g), f64(t._v), f64(a))
                if free:
                    fn.released = True
                    fn.saved = None
                # the two inputs written out, not looped over: this is the scalar hot path
                # (a loop over ((x, ga), (y, gb)) costs W1 6% and a W2 step 9% of instructions)
                if ga is not None and x.requires_grad:
                    if type(ga) is not float:
                        ga = float(ga)
                    prev = grads.get(x)
                    if prev is None:
                        grads[x] = ga
                        if x.grad_fn is None:
                            leaves[x] = None
                    else:
                        grads[x] = prev + ga
                if gb is not None and y.requires_grad:
                    if type(gb) is not float:
                        gb = float(gb)
                    prev = grads.get(y)
                    if prev is None:
                        grads[y] = gb
                        if y.grad_fn is None:
                            leaves[y] = None
                    else:
                        grads[y] = prev + gb
                continue
            if not fn.scalar_rules or t._d.ndim:
                # the plain array path (every node of a network's graph): the general one
                # below, minus what it checks for hooks, targets, create_graph, 0-d scalars
                if fn.released:
                    raise RuntimeError(_RELEASED_MSG)
                if type(g) is not ndarray:
                    g = asarray(g)
                ins = fn.inputs
                n_in = len(ins)
                if n_in == 1:
                    x = ins[0]
                    a = x._d
                    res = (fn.backward(NP, g, t._d, a if a is not None else x.data),)
                elif n_in == 2:
                    x, y = ins
                    a, b = x._d, y._d
                    res = fn.backward(NP, g, t._d, a if a is not None else x.data,
                                      b if b is not None else y.data)
                elif n_in == 3:         # linear with a bias
                    x, y, z = ins
                    a, b, c = x._d, y._d, z._d
                    res = fn.backward(NP, g, t._d, a if a is not None else x.data,
                                      b if b is not None else y.data,
                                      c if c is not None else z.data)
                else:
                    res = fn.backward(NP, g, t._d, *[i.data for i in ins])
                if free:
                    fn.released = True
                    fn.saved = None
                for inp, gi in zip(ins, res):
                    if gi is None or not inp.requires_grad:
                        continue
                    d = inp._d
                    if d is None:
                        d = inp.data
                    if type(gi) is not ndarray:
                        gi = asarray(gi)
                    if gi.shape != d.shape:
                        gi = _sum_to_np(gi, d.shape)
                    if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                        gi = gi.astype(d.dtype)
                    prev = grads.get(inp)
                    if prev is None:
                        grads[inp] = gi
                        if inp.grad_fn is None:
                            leaves[inp] = None
                    else:
                        grads[inp] = prev + gi
                continue
        # Gradients of 0-d values may travel as NumPy scalars or floats between
        # scalar_rules ops (see Function.scalar_rules); anything a user sees is an ndarray.
        scalar = not create_graph and fn.scalar_rules and (t._v is not None or not t._d.ndim)
        if t._hooks or t._retain or targets is not None:    # rare: someone looks at g
            if type(g) is not ndarray and not create_graph:
                g = asarray(g)
            if t._hooks:
                g = _call_hooks(t, g, create_graph)
            if t._retain and targets is None:
                t.grad = wrap(g) if t.grad is None else \
                    wrap(_raw_add(t.grad, g, create_graph))
            if targets is not None and id(t) in targets:
                captured[id(t)] = g
        elif not scalar and type(g) is not ndarray and not create_graph:
            g = asarray(g)
        if fn.released and check_released:
            raise RuntimeError(_RELEASED_MSG)
        ins = fn.inputs
        n_in = len(ins)
        if create_graph:
            res = fn.backward(xp, g, t, *ins)
            if n_in == 1:
                res = (res,)
        elif scalar:
            # an elementwise op with a 0-d output has only 0-d inputs
            if type(g) is ndarray:      # else a NumPy scalar or float from the op after
                g = g[()]
            if n_in == 2:
                res = fn.backward(xp, g, _sv(t), _sv(ins[0]), _sv(ins[1]))
            elif n_in == 1:
                res = (fn.backward(xp, g, _sv(t), _sv(ins[0])),)
            else:
                res = fn.backward(xp, g, _sv(t), *[_sv(i) for i in ins])
        elif n_in == 1:
            res = (fn.backward(xp, g, t.data, ins[0].data),)
        elif n_in == 2:
            res = fn.backward(xp, g, t.data, ins[0].data, ins[1].data)
        else:
            res = fn.backward(xp, g, t.data, *[i.data for i in ins])
        if free:
            fn.released = True
            fn.saved = None
        for inp, gi in zip(ins, res):
            if gi is None or not inp.requires_grad:
                continue
            if create_graph:
                if type(gi) is not Tensor:
                    gi = _leaf(asarray(gi))
                if gi.shape != inp.shape:
                    gi = sum_to(gi, inp.shape)
            elif scalar:
                # 0-d in, 0-d out: only the type and dtype can need fixing
                d = inp._d
                if d is None:               # a Python-float input
                    if type(gi) is not float:
                        gi = float(gi)
                elif not isinstance(gi, generic):
                    gi = asarray(gi)
                    if gi.shape != d.shape:
                        gi = _sum_to_np(gi, d.shape)
                    if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                        gi = gi.astype(d.dtype)
                elif gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
            else:
                d = inp.data
                if type(gi) is not ndarray:
                    gi = asarray(gi)
                if gi.shape != d.shape:
                    gi = _sum_to_np(gi, d.shape)
                if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
            if anomaly:
                _check_backward(fn, gi)
            prev = grads.get(inp)
            if prev is None:
                grads[inp] = gi
                if inp.grad_fn is None:
                    leaves[inp] = None
            else:
                grads[inp] = prev + gi
    res = gi = g = ga = gb = None   # drop the loop's references, or the leaves' grads get copied
    for leaf in leaves:
        g = grads.pop(leaf)
        if type(g) is float and leaf._v is not None and targets is None \
                and not leaf._hooks:
            cur = leaf.grad                 # a Python-float leaf: its grad is one too
            if cur is None:
                leaf.grad = _scalar(g)
            elif cur.requires_grad:
                with no_grad():
                    leaf.grad = cur + _scalar(g)
            elif cur._v is not None:
                cur._v += g
            else:
                _add_into(leaf, cur._d, g)
            continue
        if lane and type(g) is ndarray and leaf.grad is None and not leaf._hooks:
            d = leaf._d     # the usual case (a network's parameters): as below, in short
            if d is not None and d.dtype.kind in "fc":
                # adopt g as the leaf's .grad only if nothing else can see it: a rule such
                # as add's returns one array for both inputs (2: the local g, the call's)
                if not (g.base is None and getrefcount(g) <= 2 and g.flags.writeable):
                    g = g.copy()
                gt = _new(Tensor)       # _leaf(g), inlined
                gt._d = g
                gt._v = None
                gt._grad = None
                gt.requires_grad = False
                gt.grad_fn = None
                gt.name = None
                gt._hooks = None
                gt._retain = False
                leaf.grad = gt
                continue
        d = leaf._d
        if (d.dtype if d is not None else leaf.dtype).kind not in "fc":
            _int_leaf(leaf)
        fresh = False       # g made here from a NumPy scalar or float: nobody else sees it
        if type(g) is not ndarray and not create_graph:
            fresh = isinstance(g, (generic, float))
            g = asarray(g, dtype=leaf.dtype) if type(g) is float else asarray(g)
        if leaf._hooks:
            g = _call_hooks(leaf, g, create_graph)
            fresh = False
        if targets is not None:
            if id(leaf) in targets:
                captured[id(leaf)] = g
            continue
        if leaf.grad is None:
            if create_graph:
                leaf.grad = g
                continue
            if not fresh and not (g.base is None and getrefcount(g) <= 2 and
                                  g.flags.writeable):
                g = g.copy()
            leaf.grad = _leaf(g)
        elif create_graph or leaf.grad.requires_grad:
            if create_graph:
                leaf.grad = leaf.grad + g
            else:
                with no_grad():
                    leaf.grad = leaf.grad + _leaf(g)
        else:
            _add_into(leaf, leaf.grad.data, g)
    for t, g in zip(outputs, out_grads):
        # an output that is itself a target or a leaf
        if t.grad_fn is None and t not in leaves:
            if targets is not None and id(t) in targets:
                captured[id(t)] = g
            elif targets is None:
                if type(g) is float:
                    g = np.asarray(g)
                leaf = t
                leaf.grad = wrap(g) if leaf.grad is None else \
                    wrap(_raw_add(leaf.grad, g, create_graph))
    return captured


def _sv(t):
    """A 0-d tensor's value as a scalar (its Python float, else a NumPy scalar)."""
    v = t._v
    return v if v is not None else t._d[()]


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
    raise TypeError(f"backward: {what} of shape {leaf.data.shape} and dtype {leaf.data.dtype} "
                    f"has requires_grad=True, but only floating-point tensors can require "
                    f"grad (its gradient would be rounded to whole numbers); create it as "
                    f"zeroin.tensor(data, dtype='float64', requires_grad=True)")


def _raw_add(cur, g, create_graph):
    if create_graph:
        return cur + g
    return cur.data + g


def _call_hooks(t, g, create_graph):
    for hook in list(t._hooks):
        if create_graph:
            r = hook(g)
        else:
            with no_grad():         # as in PyTorch: what a hook computes is not recorded
                r = hook(_leaf(g))
        if r is not None:
            if create_graph:
                g = r if isinstance(r, Tensor) else _leaf(np.asarray(r))
            else:
                g = np.asarray(r.data if isinstance(r, Tensor) else r, dtype=t.data.dtype)
            if g.shape != t.data.shape:
                raise ValueError(f"hook: returned a gradient of shape {g.shape} for a "
                                 f"tensor of shape {t.data.shape}")
    return g


def _check_backward(fn, g):
    data = g.data if isinstance(g, Tensor) else np.asarray(g)
    if data.dtype.kind in "fc" and not np.all(np.isfinite(data)):
        site = getattr(fn, "site", None) or "<created before detect_anomaly was on>"
        raise _f.AnomalyError(f"{fn.name}: backward produced {_f._bad(data)} "
                              f"(op created at {site})")


class _Everything:
    def __contains__(self, k):
        return True


def node_grads(output, gradient=None):
    """d(output)/d(t) for every tensor ``t`` in ``output``'s graph, as {id(t): ndarray}.

    Reads the graph without changing it: no ``.grad`` is written and it also works after
    an ordinary ``backward`` has run. Drawing and explaining use it to label every node.
    """
    g = _root_grads([output], None if gradient is None else [gradient], False, "node_grads")
    with no_grad():
        return _run([output], g, True, False, everything=True)


def backward(tensor, gradient=None, retain_graph=False, create_graph=False):
    """Accumulate d(tensor)/d(leaf) into each leaf's ``.grad``. See :meth:`Tensor.backward`."""
    outs = [tensor]
    d = tensor._d if type(tensor) is Tensor else None
    if gradient is None and not create_graph and type(tensor) is Tensor \
            and tensor.requires_grad and (d is None or d.ndim == 0):
        # the usual loss.backward()
        g = [1.0 if d is None else np.array(1, dtype=d.dtype)]    # np.ones_like: 5x slower
    else:
        g = _root_grads(outs, None if gradient is None else [gradient], create_graph,
                        "backward")
    if not create_graph:
        # the rules run on arrays and record nothing; user code (hooks) runs under no_grad
        _run(outs, g, retain_graph, False)
        return
    prev = _tmode._set_grad_mode(True)      # enable_grad(), without the object
    try:
        _run(outs, g, True, True)
    finally:
        _tmode._set_grad_mode(prev)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    Unlike :meth:`Tensor.backward`, nothing is accumulated into ``.grad``. With
    ``create_graph=True`` the results are part of the graph and can be differentiated
    again. ``retain_graph`` defaults to ``create_graph``.

    Examples
    --------
    >>> x = zeroin.tensor(2.0, requires_grad=True)
    >>> (dy,) = zeroin.grad(x ** 3, x, create_graph=True)
    >>> (d2y,) = zeroin.grad(dy, x)
    >>> dy.item(), d2y.item()
    (12.0, 12.0)
    """
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
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
    g = _root_grads(outputs, grad_outputs, create_graph, "grad")
    targets = {id(t) for t in inputs}
    ctx = enable_grad() if create_graph else no_grad()
    with ctx:
        captured = _run(outputs, g, retain_graph, create_graph, targets)
    result = []
    for i, t in enumerate(inputs):
        r = captured.get(id(t))
        if r is None:
            if not allow_unused:
                label = f" ({t.name})" if t.name else ""
                raise ZeroinError(f"grad: input {i}{label} is not used in the graph of the "
                                  f"outputs; pass allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(r if isinstance(r, Tensor) else _leaf(r))
    return tuple(result)
from ._custom_function import Function, FunctionCtx, once_differentiable  # noqa: E402,F401  (PyTorch's torch.autograd.Function)
