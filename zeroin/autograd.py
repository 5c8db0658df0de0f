"""Reverse-mode differentiation: walk the graph from the outputs back to the inputs.

Each op's gradient is computed once every op that consumed its output has passed its
share back (reverse topological order), so shared sub-expressions are handled by summing,
as the chain rule's sum over paths says.
"""
from __future__ import annotations

import sys

import numpy as np

from . import function as _f
from .function import ZeroinError
from .graph import toposort
from .ops import NP, TZ, _sum_to_np, sum_to
from . import _tensor as _tmode
from ._tensor import Tensor, _leaf, enable_grad, no_grad

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
    grads = {}
    for t, g in zip(outputs, out_grads):
        k = id(t)
        grads[k] = g if k not in grads else grads[k] + g
    xp = TZ if create_graph else NP
    wrap = _leaf if not create_graph else (lambda g: g)
    leaves = {}
    captured = {}
    anomaly = _f.anomaly.enabled
    # hot loop: bind what it reads every node to locals
    pop, get = grads.pop, grads.get
    free = not retain_graph and not everything
    check_released = not everything
    ndarray, asarray, generic = np.ndarray, np.asarray, np.generic
    for t in reversed(order):
        k = id(t)
        g = pop(k, None)
        if g is None:
            continue
        fn = t.grad_fn
        # Gradients of 0-d values may travel as NumPy scalars between scalar_rules ops
        # (see Function.scalar_rules); anything else, and anything a user sees, is an ndarray.
        scalar = not create_graph and fn.scalar_rules and not t.data.ndim
        if t._hooks or t._retain or targets is not None:    # rare: someone looks at g
            if type(g) is not ndarray and not create_graph:
                g = asarray(g)
            if t._hooks:
                g = _call_hooks(t, g, create_graph)
            if t._retain and targets is None:
                t.grad = wrap(g) if t.grad is None else \
                    wrap(_raw_add(t.grad, g, create_graph))
            if targets is not None and k in targets:
                captured[k] = g
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
            if not isinstance(g, generic):      # else a NumPy scalar from the op after
                g = g[()]
            if n_in == 2:
                res = fn.backward(xp, g, t.data[()], ins[0].data[()], ins[1].data[()])
            elif n_in == 1:
                res = (fn.backward(xp, g, t.data[()], ins[0].data[()]),)
            else:
                res = fn.backward(xp, g, t.data[()], *[i.data[()] for i in ins])
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
            d = inp.data
            if create_graph:
                if type(gi) is not Tensor:
                    gi = _leaf(asarray(gi))
                if gi.shape != d.shape:
                    gi = sum_to(gi, d.shape)
            elif scalar:
                # 0-d in, 0-d out: only the type and dtype can need fixing
                if not isinstance(gi, generic):
                    gi = asarray(gi)
                    if gi.shape != d.shape:
                        gi = _sum_to_np(gi, d.shape)
                if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
            else:
                if type(gi) is not ndarray:
                    gi = asarray(gi)
                if gi.shape != d.shape:
                    gi = _sum_to_np(gi, d.shape)
                if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                    gi = gi.astype(d.dtype)
            if anomaly:
                _check_backward(fn, gi)
            ki = id(inp)
            prev = get(ki)
            grads[ki] = gi if prev is None else prev + gi
            if inp.grad_fn is None:
                leaves[ki] = inp
    res = gi = g = None     # drop the loop's references, or _exclusive copies the last grads
    for ki, leaf in leaves.items():
        g = grads.pop(ki)
        if leaf.data.dtype.kind not in "fc":
            _int_leaf(leaf)
        fresh = False       # g made here from a NumPy scalar: nobody else can see it
        if type(g) is not ndarray and not create_graph:
            fresh = isinstance(g, generic)
            g = asarray(g)
        if leaf._hooks:
            g = _call_hooks(leaf, g, create_graph)
            fresh = False
        if targets is not None:
            if ki in targets:
                captured[ki] = g
            continue
        if leaf.grad is None:
            leaf.grad = g if create_graph else \
                _leaf(g if fresh or _exclusive(g) else g.copy())
        elif create_graph or leaf.grad.requires_grad:
            leaf.grad = leaf.grad + (g if create_graph else _leaf(g))
        else:
            gd = leaf.grad.data
            if gd.flags.writeable:
                np.add(gd, g, out=gd)
            else:
                leaf.grad = _leaf(gd + g)
    for t, g in zip(outputs, out_grads):
        # an output that is itself a target or a leaf
        if t.grad_fn is None and id(t) not in leaves:
            if targets is not None and id(t) in targets:
                captured[id(t)] = g
            elif targets is None:
                leaf = t
                leaf.grad = wrap(g) if leaf.grad is None else \
                    wrap(_raw_add(leaf.grad, g, create_graph))
    return captured


def _int_leaf(leaf):
    # Tensor() refuses requires_grad on integers; `t.requires_grad = True` slips past it,
    # and the gradient would be truncated to whole numbers
    what = f"tensor {leaf.name!r}" if leaf.name else "a tensor"
    raise TypeError(f"backward: {what} of shape {leaf.data.shape} and dtype {leaf.data.dtype} "
                    f"has requires_grad=True, but only floating-point tensors can require "
                    f"grad (its gradient would be rounded to whole numbers); create it as "
                    f"zeroin.tensor(data, dtype='float64', requires_grad=True)")


def _exclusive(g):
    # Adopt the array as the leaf's grad buffer only if nothing else can see it: a rule
    # such as add's returns the same array for both inputs. (2 = our local + the call.)
    return g.flags.owndata and g.flags.writeable and sys.getrefcount(g) <= 3


def _raw_add(cur, g, create_graph):
    if create_graph:
        return cur + g
    return cur.data + g


def _call_hooks(t, g, create_graph):
    for hook in list(t._hooks):
        arg = g if create_graph else _leaf(g)
        r = hook(arg)
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
    data = g.data if isinstance(g, Tensor) else g
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
    d = tensor.data if type(tensor) is Tensor else None
    if gradient is None and d is not None and d.ndim == 0 and tensor.requires_grad \
            and not create_graph:
        g = [np.array(1, dtype=d.dtype)]     # the usual loss.backward()
    else:
        g = _root_grads(outs, None if gradient is None else [gradient], create_graph,
                        "backward")
    mode = _tmode._mode             # what no_grad()/enable_grad() set, without the objects
    prev = mode.enabled
    mode.enabled = create_graph
    try:
        _run(outs, g, retain_graph or create_graph, create_graph)
    finally:
        mode.enabled = prev


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
