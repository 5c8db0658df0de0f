"""vmap's batched run (:func:`zeroin.func.vmap`): the function once over the whole batch.

``vmap`` first calls the function on slice 0 and on the next slice whose values differ from
it (usually slice 1), as its loop would, with every op logged (the tracer
:func:`zeroin.replay` uses; a backward pass with ``create_graph`` is allowed, its rules
being logged ops, so ``vmap(grad(f))`` is covered). The log runs once on the whole batch
(the batch as the first dimension) when: both logs are the same ops with the same
attributes; the tensors the ops read from outside are the mapped slices or the same
constants in both; nothing read a value into Python (``.item()``, ``bool()``,
``.numpy()``, ``.data``, comparisons...) or changed a tensor in place (``add_``, ``+=``,
``x[i] = v``); and every op that meets the batch has a batching rule here. It runs on
arrays or, when an output needs a graph (a grad over vmap, parameters that require grad),
as recorded ops, so that backward goes through it (its gradients then sum the slices in
another order than the loop's: equal to round-off). The two rows must equal the two calls
to the bit. Otherwise :func:`attempt` hands back the two calls' outputs and vmap calls the
other slices: the per-slice loop stays the reference, this only skips the Python around
its ops.

The rules keep each slice's NumPy call as the loop makes it (a product batch by batch with
``np.matmul``'s stacked loop, never one larger BLAS product), which is what keeps the bits.
What a log cannot show, and the checks above do not catch: zeroin code that would turn a
tensor's values into an op's Python-number attribute without a Tensor method (none known:
``narrow`` reads with ``.item()``, indexing makes NumPy attributes, both refused).
"""
from __future__ import annotations

import copy
import sys
import threading
from contextlib import contextmanager

import numpy as np

from ._tensor import Tensor, _array_of, _leaf
from .anomaly import anomaly

MIN_BATCH = 3       # below this, two logged calls cost as much as the loop
last = None         # why the last attempt looped, or "batched" (for tests and debugging)


class _Log(list):
    """The tracer: ``(fn, inputs, out)`` per op as for replay; ``soft``: what a replay
    refuses (a plain backward, a random draw, running statistics) marks it ``tainted``."""
    soft = True

    def __init__(self):
        super().__init__()
        self.tainted = None


# a value into Python, or a tensor changed in place: seen wherever it happens (narrow(x,
# 0, t.argmin(), 1) reads t.argmin() inside zeroin: the op's dims would come from slice 0;
# buf.add_(x) must happen once per slice)
_SCALARS = ("item", "tolist", "__float__", "__int__", "__index__", "__bool__", "__complex__",
            "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__",
            "__ifloordiv__", "__imod__", "__ipow__", "__iand__", "__ior__", "__ixor__",
            "__ilshift__", "__irshift__")
# values as arrays: seen when user code reads them (zeroin's own read shapes and dtypes,
# and what they compute comes out as tensors that the plan compares between the calls)
_VIEWS = ("numpy", "__array__", "__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__")
_MISSING = object()
_current = [None]       # the log being taken
_wrappers = {}          # (name, id of the original) -> (original, wrapper)


def _wrapper(name, f, always):
    def watched(self, *a, **k):
        log = _current[0]
        if log is not None and (always or not sys._getframe(1).f_globals.get(
                "__name__", "").startswith("zeroin.")):
            log.tainted = f"Tensor.{name}"
        return f(self, *a, **k)
    return watched


def _watch_list():
    """(name, always) for each Tensor attribute watched: the in-place methods (``add_``,
    ``copy_``... but ``requires_grad_``) always. Made once (dir(Tensor) takes ~0.2 ms)."""
    if not _watch:
        inplace = [n for n in dir(Tensor) if n.endswith("_") and not n.startswith("__")
                   and n != "requires_grad_"]
        _watch.extend([(n, True) for n in _SCALARS + tuple(inplace)] +
                      [(n, False) for n in _VIEWS])
    return _watch


_watch = []


@contextmanager
def _watched():
    """Tensor's methods that read values or change them in place, wrapped so that they
    mark the log being taken (``_current``) tainted: what a log cannot see or repeat
    (Python control flow, a constant made from data, a captured tensor updated once per
    slice)."""
    saved = []
    for name, always in _watch_list():
        orig = Tensor.__dict__.get(name, _MISSING)
        f = getattr(Tensor, name, None)
        if not callable(f):
            continue
        key = (name, id(f))
        if key not in _wrappers or _wrappers[key][0] is not f:
            _wrappers[key] = (f, _wrapper(name, f, always))
        saved.append((name, orig))
        setattr(Tensor, name, _wrappers[key][1])
    data = Tensor.__dict__["data"]
    saved.append(("data", data))
    Tensor.data = property(_wrapper("data", data.fget, False),
                           _wrapper("data", data.fset, True))
    try:
        yield
    finally:
        for name, orig in saved:
            if orig is _MISSING:
                delattr(Tensor, name)
            else:
                setattr(Tensor, name, orig)


def _traced_call(func, args, kwargs):
    """``func(*args, **kwargs)`` with its ops logged; returns (output, log)."""
    log = _Log()
    anomaly.tracer = _current[0] = log
    anomaly.refresh()
    try:
        out = func(*args, **kwargs)
    finally:
        anomaly.tracer = _current[0] = None
        anomaly.refresh()
    return out, log


class Attempt:
    """What :func:`attempt` gives back: ``result`` (the output leaves, batched, or None)
    and ``outs``, {slice: output} of the slices it called (the loop calls the others)."""

    def __init__(self, outs, result=None, spec=None, why="batched"):
        global last
        self.outs, self.result, self.spec = outs, result, spec
        last = why if result is None or why != "batched" else "batched"


def _second(leaves, dims, n):
    """A slice whose mapped values all differ from slice 0's (slice 1 unless it repeats
    one): with equal values, a constant made from them could not be told from a true one.
    None when none of the first few does."""
    mapped = [np.moveaxis(_array_of(a), d, 0) for a, d in zip(leaves, dims) if d is not None]
    for i in range(1, min(n, 9)):
        if not any(np.array_equal(m[0], m[i]) for m in mapped):
            return i
    return None


def attempt(func, leaves, spec, dims, n, kwargs, out_dims_of, unflatten, flatten):
    """Call ``func`` on slice 0 and another (logged), then try the batched run."""
    usable = (anomaly.tracer is None and not anomaly.detect and n >= MIN_BATCH
              and threading.current_thread() is threading.main_thread()
              and all(d is None or a.dtype.kind in "fc" for a, d in zip(leaves, dims)))
    second = _second(leaves, dims, n) if usable else None
    if second is None:
        return Attempt({}, why="not tried" if not usable else "equal slices")
    slices, logs, outs = [], [], {}
    with _watched():
        for i in (0, second):
            sliced = [a if d is None else a.select(d, i) for a, d in zip(leaves, dims)]
            outs[i], log = _traced_call(func, unflatten(spec, iter(sliced)), kwargs)
            slices.append([s for s, d in zip(sliced, dims) if d is not None])
            logs.append(log)
    if any(log.tainted for log in logs):
        return Attempt(outs, why=logs[0].tainted or logs[1].tainted)
    flat = [flatten(outs[i]) for i in (0, second)]
    if flat[0][0] != flat[1][0]:
        return Attempt(outs, why="structures differ")
    plan = _plan(logs, slices, [f[1] for f in flat])
    if isinstance(plan, str):
        return Attempt(outs, why=plan)
    mapped = [(a, d) for a, d in zip(leaves, dims) if d is not None]
    result = _run(plan, mapped, n, out_dims_of(flat[0][0]), [f[1] for f in flat], second)
    if isinstance(result, str):
        return Attempt(outs, why=result)
    return Attempt(outs, result, flat[0][0])


# --- the plan: the two logs compared -------------------------------------------------------

def _attrs(fn):
    """The op's own attributes (dims, shapes, constants), as comparable values."""
    names = [s for c in type(fn).__mro__ if c.__name__ != "Function"
             for s in getattr(c, "__slots__", ()) if not s.startswith("_")]
    return [getattr(fn, s, None) for s in names]


def _array_like(v):
    """Whether an op attribute holds NumPy values (an index array, a NumPy integer): zeroin
    makes them from tensors without a Python read (W[t.argmax()], take), so they may come
    from the slice's data even when both calls agree."""
    if isinstance(v, (np.ndarray, np.generic)):
        return True
    return isinstance(v, (tuple, list)) and any(_array_like(x) for x in v)


def _same_value(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and
                a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes())
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b))
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:       # noqa: BLE001  (an == that is not a plain truth value)
        return False


class _Slots:
    """Both traces' tensors and arrays by id, each pointing at one slot of the plan."""

    def __init__(self):
        self.by = ({}, {})
        self.kinds = []         # per slot: ("mapped", k), ("const", array), ("step", j)
        self.live = []          # arrays of mapped slices and step results (trace 0)

    def find(self, trace, t):
        by = self.by[trace]
        s = by.get(id(t))
        return by.get(("a", id(_array_of(t)))) if s is None else s

    def add(self, pair, kind):
        self.kinds.append(kind)
        for trace, t in enumerate(pair):
            self.by[trace][id(t)] = self.by[trace][("a", id(_array_of(t)))] = \
                len(self.kinds) - 1
        return len(self.kinds) - 1


def _source(slots, pair, slices):
    """The slot of a tensor read from outside the log (both traces' tensors), or None."""
    a0, a1 = (_array_of(t) for t in pair)
    for k, (s0, s1) in enumerate(zip(*slices)):
        if (pair[0] is s0 or a0 is _array_of(s0)) and (pair[1] is s1 or a1 is _array_of(s1)):
            return slots.add(pair, ("mapped", k))
    if a0.dtype.kind not in "fc" or not _same_value(a0, a1) or \
            any(np.may_share_memory(a0, b) for b in slots.live):
        return None             # a value made from data (it differs, or could)
    return slots.add(pair, ("const", a0, pair[0]))


def _slot(slots, pair, slices):
    s = [slots.find(trace, t) for trace, t in enumerate(pair)]
    if s[0] != s[1]:
        return None
    if s[0] is None:
        s[0] = _source(slots, pair, slices)
        if s[0] is not None and slots.kinds[s[0]][0] == "mapped":
            slots.live.append(_array_of(pair[0]))
    return s[0]


def _plan(logs, slices, outs):
    """The steps ``(fn, input slots, output shape, dtype)``, the slot kinds and the output
    slots, when the two logs match; None when they do not."""
    if len(logs[0]) != len(logs[1]):
        return "the logs differ"
    slots, steps = _Slots(), []
    for (fn0, ins0, res0), (fn1, ins1, res1) in zip(*logs):
        if type(fn0) is not type(fn1) or len(ins0) != len(ins1) or \
                res0.shape != res1.shape or res0.dtype != res1.dtype or \
                not _same_value(_attrs(fn0), _attrs(fn1)):
            return f"the logs differ at {type(fn0).__name__}"
        if _array_like(_attrs(fn0)):
            return f"{type(fn0).__name__} has NumPy values among its attributes"
        ins = [_slot(slots, pair, slices) for pair in zip(ins0, ins1)]
        if None in ins:
            return f"{type(fn0).__name__} reads a value made from data"
        if slots.find(0, res0) is not None or slots.find(1, res1) is not None:
            return f"{type(fn0).__name__} works in place"
        steps.append((fn0, ins, [tuple(t.shape) for t in ins0], tuple(res0.shape),
                      res0.dtype, res0))
        slots.add((res0, res1), ("step", len(steps) - 1))
        slots.live.append(_array_of(res0))
    out_slots = []
    for o0, o1 in zip(*outs):
        if not (isinstance(o0, Tensor) and isinstance(o1, Tensor)):
            return "an output is not a tensor"
        s = _slot(slots, (o0, o1), slices)
        if s is None:
            return "an output is made from data"
        out_slots.append(s)
    graph = any(o.requires_grad for o in outs[0])
    return steps, slots.kinds, out_slots, graph


# --- the batched run ------------------------------------------------------------------------

class _Arrays:
    """The batched run on arrays (no output needs a graph): each op's forward."""
    graph = False

    @staticmethod
    def run(fn, xs):
        return fn.forward(*xs)

    broadcast = staticmethod(np.broadcast_to)

    @staticmethod
    def swap(w):
        return np.swapaxes(w, -1, -2)

    @staticmethod
    def sum(x, axes):
        return np.add.reduce(x, axis=axes)


class _Tensors:
    """The batched run recorded (an output needs a graph: a grad over vmap, parameters
    that require grad): each op applied to tensors, so backward goes through it."""
    graph = True

    @staticmethod
    def run(fn, xs):
        from .function import apply
        return apply(copy.copy(fn), list(xs))

    @staticmethod
    def broadcast(x, shape):
        from .ops import broadcast_to
        return broadcast_to(x, shape)

    @staticmethod
    def swap(w):
        return w.transpose(-1, -2)

    @staticmethod
    def sum(x, axes):
        return x.sum(axes)


def _initial(kinds, mapped, k):
    """The sources' values: (value, batched) for each slot that is not a step."""
    from ._torch_ops import movedim
    out = {}
    for s, kind in enumerate(kinds):
        if kind[0] == "mapped":
            a, d = mapped[kind[1]]
            out[s] = (movedim(a, d, 0) if k.graph else np.moveaxis(_array_of(a), d, 0), True)
        elif kind[0] == "const":
            out[s] = (kind[2] if k.graph else kind[1], False)
    return out


def _run(plan, mapped, n, out_dims, outs, second):
    """The output leaves over the whole batch, or why not (a rule is missing, a row
    differs from the calls)."""
    steps, kinds, out_slots, graph = plan
    k = _Tensors if graph else _Arrays
    values = [None] * len(kinds)
    for s, v in _initial(kinds, mapped, k).items():
        values[s] = v
    for s, kind in enumerate(kinds):
        if kind[0] != "step":
            continue
        fn, ins, in_shapes, shape, dtype, traced = steps[kind[1]]
        args = [values[i] for i in ins]
        if not any(b for _, b in args):
            values[s] = (traced if graph else _array_of(traced), False)   # the same in all
            continue
        rule = RULES.get(type(fn).__name__) or _loss_rule(fn)
        r = rule(k, fn, args, in_shapes, shape, n) if rule is not None else None
        if r is None or tuple(r.shape) != (n,) + shape or r.dtype != dtype:
            return f"no batching rule for {type(fn).__name__} here"
        values[s] = (r, True)
    outside = [] if graph else [values[s][0] for s, kind in enumerate(kinds)
                                if kind[0] != "step"]
    return _outputs(k, values, out_slots, out_dims, outs, (n, second), outside)


def _outputs(k, values, out_slots, out_dims, outs, rows, outside):
    """The outputs, checked against the calls; new memory, as the loop's stack makes,
    where an output would share the inputs' (``outside``)."""
    from ._torch_ops import movedim
    n, second = rows
    result = []
    for s, d, o0, o1 in zip(out_slots, out_dims, *outs):
        a, batched = values[s]
        if d is None:
            if batched:
                return "out_dims None for a batched output"
            result.append(o0)
            continue
        if not batched:
            a = k.broadcast(a, (n,) + tuple(a.shape))
        got = _array_of(a) if k.graph else a
        for row, o in ((0, o0), (second, o1)):
            b = _array_of(o)
            if got[row].dtype != b.dtype or got[row].shape != b.shape or \
                    np.ascontiguousarray(got[row]).tobytes() != \
                    np.ascontiguousarray(b).tobytes():
                return f"row {row} differs from its call"
        d = d % a.ndim
        if k.graph:
            result.append(movedim(a, 0, d).contiguous())
            continue
        r = np.ascontiguousarray(np.moveaxis(a, 0, d))
        if any(np.may_share_memory(r, o) for o in outside):
            r = r.copy()
        result.append(_leaf(r))
    return result


def _with(fn, **attrs):
    """A copy of the op with its dims / shapes for the batch (the batch dimension first)."""
    fn = copy.copy(fn)
    for name, v in attrs.items():
        setattr(fn, name, v)
    return fn


def _padded(arg, shape, nd):
    """A batched value (n, *shape) with 1s after n up to ``nd`` dims per slice (NumPy's
    broadcasting then lines up each slice as in the call); an unbatched one as it is."""
    a, batched = arg
    if not batched or len(shape) == nd:
        return a
    return a.reshape((a.shape[0],) + (1,) * (nd - len(shape)) + tuple(shape))


def _elementwise(k, fn, args, in_shapes, shape, n):
    return k.run(fn, [_padded(a, s, len(shape)) for a, s in zip(args, in_shapes)])


def _reshape(k, fn, args, in_shapes, shape, n):
    return k.run(_with(fn, shape=(n,) + shape), [args[0][0]])


def _broadcast(k, fn, args, in_shapes, shape, n):
    return k.run(_with(fn, shape=(n,) + shape), [_padded(args[0], in_shapes[0], len(shape))])


def _sum_to(k, fn, args, in_shapes, shape, n):
    lead = len(in_shapes[0]) - len(shape)
    r = k.run(_with(fn, shape=(n,) + (1,) * lead + shape), [args[0][0]])
    return r.reshape((n,) + shape)


def _axes(axis, nd):
    if axis is None:
        return tuple(range(1, nd + 1))
    if isinstance(axis, tuple):
        return tuple(a % nd + 1 for a in axis) if nd else ()
    return axis % nd + 1 if nd else ()


def _reduce(k, fn, args, in_shapes, shape, n):
    """sum, mean, softmax, log_softmax, logsumexp: the slice's axes, one further (all of
    them for a full reduction)."""
    return k.run(_with(fn, axis=_axes(fn.axis, len(in_shapes[0]))), [args[0][0]])


def _transpose(k, fn, args, in_shapes, shape, n):
    nd = len(in_shapes[0])
    axes = range(nd)[::-1] if fn.axes is None else [a % nd for a in fn.axes]
    return k.run(_with(fn, axes=(0,) + tuple(a + 1 for a in axes)), [args[0][0]])


def _as_matrix(arg, shape, nd, first):
    """A matmul operand as a stack of matrices with ``nd`` dims per slice (a vector as
    one row or one column, as NumPy's matmul takes it)."""
    a, batched = arg
    if len(shape) == 1:
        shape = (1,) + tuple(shape) if first else tuple(shape) + (1,)
        a = a.reshape(((a.shape[0],) if batched else ()) + shape)
    return _padded((a, batched), shape, nd)


def _matmul(k, fn, args, in_shapes, shape, n):
    """Products slice by slice (NumPy's stacked matmul: the kernel of each slice's call,
    never one larger BLAS product, which rounds differently)."""
    sa, sb = in_shapes
    nd = max(len(sa), len(sb), 2)
    a = _as_matrix(args[0], sa, nd, True)
    b = _as_matrix(args[1], sb, nd, False)
    return k.run(fn if k.graph else _MATMUL, [a, b]).reshape((n,) + shape)


def _linear(k, fn, args, in_shapes, shape, n):
    """``x @ w.T + b`` slice by slice: ``x`` as the one matrix of rows its call makes."""
    from .ops import MatMulOp
    (x, bx), (w, bw) = args[:2]
    sx = in_shapes[0]
    rows = (1 if len(sx) == 1 else int(np.prod(sx[:-1])), sx[-1])
    y = k.run(MatMulOp(), [x.reshape(((n,) if bx else ()) + rows), k.swap(w)])
    if len(args) == 3:
        y = y + _padded(args[2], in_shapes[2], 2)
    return y.reshape((n,) + shape)


def _basic(index):
    """The index with the batch's slice first, if it has ints, slices, None, ... only."""
    index = index if isinstance(index, tuple) else (index,)
    if not all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in index):
        return None
    return (slice(None),) + index


def _getitem(k, fn, args, in_shapes, shape, n):
    index = _basic(fn.index)
    if index is None:
        return None
    r = k.run(_with(fn, index=index), [args[0][0]])
    return r if k.graph else np.asarray(r)


def _index_add(k, fn, args, in_shapes, shape, n):
    """getitem's adjoint (create_graph): zeros of the batch's shape, ``g`` added."""
    index = _basic(fn.index)
    if index is None:
        return None
    return k.run(_with(fn, index=index, shape=(n,) + shape), [args[0][0]])


def _stack(k, fn, args, in_shapes, shape, n):
    """stack and cat: each slice's tensors joined, the unbatched ones repeated."""
    xs = [a if b else k.broadcast(a, (n,) + tuple(a.shape)) for a, b in args]
    return k.run(_with(fn, axis=fn.axis % len(shape) + 1), xs)


def _loss(k, fn, args, in_shapes, shape, n):
    """An elementwise loss (mse, l1, ...): the elementwise values, reduced per slice as
    its forward reduces them."""
    nd = max(len(s) for s in in_shapes)
    el = k.run(_with(fn, reduction="none"), [_padded(a, s, nd) for a, s in zip(args, in_shapes)])
    if el.shape[0] != n or fn.reduction == "none":
        return el if el.shape[0] == n else None
    size = int(np.prod(el.shape[1:]))
    if fn.reduction == "sum":
        return k.sum(el, _axes(None, nd))
    if fn.reduction == "mean" and size:
        return k.sum(el, _axes(None, nd)) * (1.0 / size)
    return None


def _loss_rule(fn):
    from .nn.functional import _LossOp
    if isinstance(fn, _LossOp) and type(fn).forward is _LossOp.forward:
        return _loss
    return None


class _MatMulArrays:
    """MatMulOp's product on arrays without its checks (done by the call)."""
    forward = staticmethod(np.matmul)


_MATMUL = _MatMulArrays()

RULES = {name: _elementwise for name in (
    "AddOp", "SubOp", "MulOp", "DivOp", "NegOp", "PowOp", "PowConstOp", "ExpOp", "LogOp",
    "SqrtOp", "AbsOp", "SinOp", "CosOp", "TanhOp", "SigmoidOp", "ReLUOp", "MaximumOp",
    "MinimumOp", "ZeroOfOp", "AsTypeOp", "SoftplusOp", "LeakyReLUOp", "ClipOp",
    "ClipTensorOp")}
RULES.update(ReshapeOp=_reshape, BroadcastToOp=_broadcast, SumToOp=_sum_to, SumOp=_reduce,
             MeanOp=_reduce, SoftmaxOp=_reduce, LogSoftmaxOp=_reduce, LogSumExpOp=_reduce,
             ConcatenateOp=_stack, TransposeOp=_transpose, MatMulOp=_matmul, LinearOp=_linear,
             GetItemOp=_getitem, IndexAddOp=_index_add, StackOp=_stack)
