"""replay: run a function once, then repeat the ops it recorded straight on the arrays.

A training step builds the same graph every time: the same ops on the same shapes, only
the numbers change. ``f = zeroin.replay(loss_fn)`` runs ``loss_fn`` once as usual and keeps
the list of ops it ran. Later calls skip the Python around them: each op's ``forward`` on
the current arrays of the inputs, and when the result's ``backward()`` comes, each op's
backward rule in the order the engine's own loop takes (the same toposort), with the
same reductions and casts. The same NumPy calls in the same order give the same bits as
calling ``loss_fn`` itself; the first replay is checked against an eager call.

The result is one node in the graph (``replay[n ops]``) whose inputs are the tensors
that require grad, so ``loss.backward()`` and an optimiser work as usual. What a replay
cannot see is frozen at its traced value: Python control flow on values, ``.item()``,
``.numpy()`` arithmetic, tensors made inside the function from data. Random draws and
in-place running statistics are refused (:class:`~zeroin.errors.ReplayError`).
"""
from __future__ import annotations

import copy

import numpy as np

from ._tensor import Tensor, _array_of, is_grad_enabled
from .anomaly import anomaly, not_replayable
from .errors import ReplayError
from .function import NP, Function, record, sum_to_array
from .graph import toposort
from .errors import a_type

__all__ = ["replay"]


def replay(fn, check=True):
    """``fn`` (tensors in, one tensor out) traced on its first call and replayed after.

    Tensors passed as arguments are read anew on every call; so are the tensors ``fn``
    uses from outside (parameters, data), in place or replaced through ``.data``. A call
    with other shapes, dtypes or ``requires_grad`` traces again. With ``check`` the first
    replay also runs ``fn`` and raises :class:`~zeroin.errors.ReplayError` if the two
    results differ in any bit. Under :class:`~zeroin.no_grad` it simply calls ``fn``.
    Replay the loss function, not the whole step: a backward pass or an optimiser step
    inside ``fn`` would not be repeated, so a backward inside it is refused.
    """
    return Replayed(fn, check)


class Replayed:
    """The callable :func:`replay` returns; ``plans`` holds one trace per input signature."""

    def __init__(self, fn, check=True):
        self.fn, self.check, self.plans = fn, check, {}

    def __call__(self, *args):
        for i, a in enumerate(args):
            if not isinstance(a, Tensor):
                raise TypeError(f"replay: argument {i} is {a_type(a)}; a replayed "
                                f"function takes tensors (wrap data with zeroin.tensor)")
        if not is_grad_enabled():
            return self.fn(*args)
        if getattr(anomaly.tracer, "soft", False):  # inside vmap's log: a plain call
            not_replayable("a replayed function runs inside")
            return self.fn(*args)
        key = tuple((a.shape, a.dtype, a.requires_grad) for a in args)
        plan = self.plans.get(key)
        out = plan.run(args) if plan is not None else None
        if out is None:         # first call, or a source changed shape, dtype, requires_grad
            plan, out = _Plan.trace(self.fn, args)
            if len(self.plans) >= 8:
                self.plans.clear()
            self.plans[key] = plan
        elif not plan.checked and self.check:
            plan.verify(out, self.fn(*args))
        return out

    def __repr__(self):
        return f"replay({getattr(self.fn, '__name__', self.fn)!r}, traces={len(self.plans)})"


class ReplayOp(Function):
    """The replayed function as one node: forward runs the plan's forward, backward the
    plan's backward rules; its inputs are the sources that require grad."""
    __slots__ = ("plan", "args")
    name = "replay"

    def __init__(self, plan, args):
        self.plan, self.args = plan, args

    def label(self):
        return f"replay[{len(self.plan.steps)} ops]"

    def forward(self, *grad_arrays):    # as a step of an outer replay
        arrays = self.plan.arrays_of(self.args)
        for i, v in zip(self.plan.grad_index, grad_arrays):
            arrays[i] = v
        self.saved = self.plan.forward(arrays)
        return self.saved[0][self.plan.out]

    def backward(self, xp, g, out, *inputs):
        if xp is not NP:
            raise RuntimeError("replay: create_graph=True (a gradient of a gradient) does not "
                               "go through a replayed function; call the function itself")
        if self.saved is None:          # released by a backward: explain/draw ask again
            self.forward(*inputs)
        arrays, state = self.saved
        return self.plan.backward(arrays, state, g)


class _Plan:
    """What one trace learned: the sources (tensors the ops read), the steps (op, input
    slots, output slot) in the order they ran, and the backward order."""

    def __init__(self, steps, sources, out, order, size):
        self.steps, self.sources, self.out, self.order = steps, sources, out, order
        self.size, self.checked = size, False
        self.signature = [(t.shape, t.dtype, t.requires_grad) for _, t, _ in sources]
        self.grad_index = [i for i, (_, t, _) in enumerate(sources) if t.requires_grad]

    @classmethod
    def trace(cls, fn, args):
        """Run ``fn`` once with every op logged; returns (plan, fn's own result)."""
        if anomaly.tracer is not None:
            raise ReplayError("replay: a replayed function was called while another one "
                              "was being traced; replay the outer function only")
        log = []
        anomaly.enabled, anomaly.tracer = True, log
        try:
            out = fn(*args)
        finally:
            anomaly.tracer = None
            anomaly.refresh()
        if not isinstance(out, Tensor):
            raise TypeError(f"replay: the function must return one tensor, got "
                            f"{type(out).__name__}")
        return cls._build(log, args, out), out

    @classmethod
    def _build(cls, log, args, out):
        slots, sources, steps = {}, [], []
        arg_index = {a: i for i, a in enumerate(args)}
        for fn, inputs, res in log:
            for t in inputs:
                if t not in slots:          # read from outside: an argument, a parameter,
                    slots[t] = len(slots)   # data or a constant
                    sources.append((slots[t], t, arg_index.get(t)))
            slots[res] = len(slots)
            state = tuple(a for a in fn.forward_state if getattr(fn, a, None) is not None)
            needs = tuple(t.requires_grad for t in inputs)
            fn = copy.copy(fn)              # the plan's own op, not holding the traced graph
            fn.inputs, fn.needs_input_grad = None, needs
            # 0-d elementwise steps run on NumPy scalars, as the fast engine's T3 does
            scalar = fn.scalar_rules and not res.shape and not any(t.shape for t in inputs)
            steps.append((fn, tuple(slots[t] for t in inputs), slots[res], needs, state,
                          scalar))
        if out not in slots or out.grad_fn is None and out.requires_grad:
            raise ReplayError("replay: the function's result was not computed by zeroin ops "
                              "inside it (it returned an input or a tensor made outside)")
        # backward visits the recorded nodes as the engine does: reversed toposort
        index = {res: k for k, (fn, inputs, res) in enumerate(log)}
        order = [index[t] for t in reversed(toposort([out])) if t in index]
        return cls(steps, sources, slots[out], order, len(slots))

    def arrays_of(self, args):
        """The sources' arrays now, or None if one no longer has its traced shape, dtype
        or requires_grad (then the function is traced again)."""
        arrays = []
        for (_, t, k), (shape, dtype, needs) in zip(self.sources, self.signature):
            if k is not None:
                t = args[k]
            a = _array_of(t)
            if a.shape != shape or a.dtype != dtype or t.requires_grad != needs:
                return None
            arrays.append(a)
        return arrays

    def run(self, args):
        """The replayed result as one recorded node, or None to trace again."""
        arrays = self.arrays_of(args)
        if arrays is None:
            return None
        op = ReplayOp(self, args)
        op.saved = self.forward(arrays)
        tensors = tuple(args[self.sources[i][2]] if self.sources[i][2] is not None
                        else self.sources[i][1] for i in self.grad_index)
        return record(op, tensors, op.saved[0][self.out])

    def forward(self, source_arrays):
        """Every step's forward; returns (arrays by slot, state kept per step)."""
        a = [None] * self.size
        for (s, _, _), v in zip(self.sources, source_arrays):
            a[s] = v
        state = {}
        for i, (fn, ins, o, needs, keep, scalar) in enumerate(self.steps):
            if scalar:                  # 0-d: several times cheaper on NumPy scalars
                r = (fn.forward(a[ins[0]][()], a[ins[1]][()]) if len(ins) == 2 else
                     fn.forward(*[a[j][()] for j in ins]))
            elif len(ins) == 2:         # unpacked by hand: a list per step costs a frame
                r = fn.forward(a[ins[0]], a[ins[1]])
            elif len(ins) == 1:
                r = fn.forward(a[ins[0]])
            else:
                r = fn.forward(*[a[j] for j in ins])
            a[o] = r if type(r) is np.ndarray else np.asarray(r)
            if keep:
                state[i] = [getattr(fn, name) for name in keep]
        return a, state

    def backward(self, a, state, g_out):
        """The chain rule over the steps, as zeroin.autograd.run takes it."""
        grads = [None] * self.size
        grads[self.out] = np.asarray(g_out)
        for i in self.order:
            fn, ins, o, needs, keep, scalar = self.steps[i]
            g = grads[o]
            if g is None:
                continue
            grads[o] = None
            if keep:
                for name, v in zip(keep, state[i]):
                    setattr(fn, name, v)
            if scalar and len(ins) == 2:
                res = fn.backward(NP, g[()], a[o][()], a[ins[0]][()], a[ins[1]][()])
            elif scalar:
                res = fn.backward(NP, g[()], a[o][()], *[a[j][()] for j in ins])
                if len(ins) == 1:
                    res = (res,)
            elif len(ins) == 2:
                res = fn.backward(NP, g, a[o], a[ins[0]], a[ins[1]])
            elif len(ins) == 1:
                res = (fn.backward(NP, g, a[o], a[ins[0]]),)
            else:
                res = fn.backward(NP, g, a[o], *[a[j] for j in ins])
            for j, gj, need in zip(ins, res, needs):
                if gj is None or not need:
                    continue
                if type(gj) is not np.ndarray:
                    gj = np.asarray(gj)
                d = a[j]
                if gj.shape != d.shape:
                    gj = sum_to_array(gj, d.shape)
                if gj.dtype is not d.dtype and gj.dtype != d.dtype:
                    gj = gj.astype(d.dtype)
                prev = grads[j]
                grads[j] = gj if prev is None else prev + gj
        return tuple(grads[self.sources[i][0]] for i in self.grad_index)

    def verify(self, replayed, eager):
        """The first replay against ``fn`` itself, bit for bit."""
        r, e = _array_of(replayed), _array_of(eager)
        if r.shape != e.shape or r.dtype != e.dtype or r.tobytes() != e.tobytes():
            raise ReplayError(
                f"replay: the replayed result differs from calling the function (shape "
                f"{e.shape}, first values {e.ravel()[:3]} vs {r.ravel()[:3]}): it depends on "
                f"something a replay cannot see (Python control flow on values, .item(), "
                f"arrays made inside it); call it without zeroin.replay")
        self.checked = True
