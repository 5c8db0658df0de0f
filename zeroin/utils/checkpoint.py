"""Gradient checkpointing, as ``torch.utils.checkpoint``: trade compute for memory.

``checkpoint(f, x, use_reentrant=False)`` runs ``f(x)`` without recording its graph
(under ``no_grad``), so none of the intermediate values ``f``'s ops would keep for
backward are held; the result is one graph node. When backward reaches it, ``f`` runs
again with grad on, from the same random state (dropout draws the same masks), and the
gradient is passed back through that fresh graph, which is freed right after.

The node's inputs are every tensor that requires grad and that ``f`` read: its tensor
arguments, the module parameters it used, and tensors it reached by closure. They are
found while ``f`` runs the first time (``record`` lists each op's operands), so the node is
an ordinary custom :class:`zeroin.autograd.Function` node: ``zeroin.grad`` works through
it, and so do both engines. This is the saved-memory part of PyTorch's non-reentrant
checkpoint; the recomputation reruns ``f`` and calls :func:`zeroin.grad` on its graph,
stopping at the node's inputs (the outer pass goes on from them, so a path through an
input made from another input is counted once, and under ``create_graph`` the gradients
can be differentiated again through the inputs, arguments included).

With several outputs (a tuple or list), each output is a small node that hands its
gradient to one node standing for ``f``; the engine runs that node after all of the
outputs' nodes, so ``f`` reruns once per backward and one :func:`zeroin.grad` call takes
all the outputs' gradients (the same gradients as without checkpointing, bit for bit).
"""
from __future__ import annotations

import warnings

import numpy as np

from .._custom_function import Function
from .._tensor import Tensor, _leaf, enable_grad, is_grad_enabled, no_grad
from ..anomaly import anomaly, not_replayable

__all__ = ["checkpoint", "checkpoint_sequential"]

_NO_REENTRANT_CHOICE = ("torch.utils.checkpoint: the use_reentrant parameter should be "
                        "passed explicitly. Starting in PyTorch 2.9, calling checkpoint "
                        "without use_reentrant will raise an exception. use_reentrant=False "
                        "is recommended, but if you need to preserve the current default "
                        "behavior, you can pass use_reentrant=True. Refer to docs for more "
                        "details on the differences between the two variants.")


class _Reads(dict):
    """What ``record`` hands each op's operands to while a checkpointed function runs:
    keeps those that require grad (by id, in the order first read), and nothing else, so
    the function's intermediate values are freed as they would be without it."""

    def append(self, inputs):
        for t in inputs:
            if t.requires_grad and id(t) not in self:
                self[id(t)] = t


def _run_listing_reads(function, args, kwargs):
    """``function(*args, **kwargs)`` under no_grad, and the tensors that require grad that
    it read: its tensor arguments first, then those its ops read."""
    outer, reads = anomaly.reads, _Reads()
    reads.append([a for a in args if isinstance(a, Tensor)])
    anomaly.reads = reads
    anomaly.refresh()
    try:
        with no_grad():
            out = function(*args, **kwargs)
    finally:
        anomaly.reads = outer
        anomaly.refresh()
    if outer is not None:           # a checkpoint inside a checkpointed function
        outer.append(list(reads.values()))
    return out, list(reads.values())


class _State:
    """What the node needs to run ``function`` again: its arguments and random state."""

    def __init__(self, function, args, kwargs, rng_state, outputs):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state, self.outputs = rng_state, outputs


class _Checkpoint(Function):
    """The node standing for a checkpointed function with one tensor output: forward
    hands back the output computed already; backward recomputes it with grad on and
    differentiates."""

    @staticmethod
    def forward(ctx, state, *boundary):
        ctx.state, ctx.boundary = state, boundary
        out = state.outputs
        state.outputs = None        # the node keeps its own reference to the arrays
        return out

    @staticmethod
    def backward(ctx, grad):
        return (None, *_rerun_backward(ctx.state, ctx.boundary, {0: grad}))


class _CheckpointOutputs(Function):
    """For a function with several outputs, the node that reruns it: each output is a
    :class:`_CheckpointOutput` node reading this one's (scalar, zero) result, so the engine
    runs this node after all of them, when each has left its gradient in
    ``state.pending``. The function reruns once per backward, however many outputs (a
    node per output would rerun it once per output)."""

    @staticmethod
    def forward(ctx, state, dtype, *boundary):
        ctx.state, ctx.boundary = state, boundary
        state.pending = {}
        return _leaf(np.zeros((), dtype=dtype))

    @staticmethod
    def backward(ctx, _):
        pending, ctx.state.pending = ctx.state.pending, {}
        return (None, None, *_rerun_backward(ctx.state, ctx.boundary, pending))


class _CheckpointOutput(Function):
    """Output ``k`` of a checkpointed function: its backward only hands its gradient to
    the :class:`_CheckpointOutputs` node (and a zero for that node's result)."""

    @staticmethod
    def forward(ctx, state, k, hub):
        ctx.state, ctx.k, ctx.dtype = state, k, hub.dtype
        return state.outputs[k]

    @staticmethod
    def backward(ctx, grad):
        ctx.state.pending[ctx.k] = grad
        return None, None, np.zeros((), dtype=ctx.dtype)


def _outputs_node(state, boundary):
    """The outputs of a checkpointed function that returned a tuple or list: the float
    tensors as :class:`_CheckpointOutput` nodes on one :class:`_CheckpointOutputs`."""
    outs = state.outputs
    floats = [o.dtype for o in boundary if o.dtype.kind in "fc"]
    hub = _CheckpointOutputs.apply(state, floats[0] if floats else np.float32, *boundary)
    res = [_CheckpointOutput.apply(state, k, hub)
           if isinstance(o, Tensor) and o.dtype.kind in "fc" else o
           for k, o in enumerate(outs)]
    state.outputs = None            # each output's node keeps its own array
    return res


def _rerun_backward(s, boundary, grads):
    """The gradients for ``boundary`` (the node's inputs): the function rerun once and
    differentiated with ``grads`` ({output position: gradient}) in one pass."""
    from ..autograd import grad
    create = is_grad_enabled()      # create_graph: the gradients are graph tensors
    outs = _recompute(s)
    pairs = [(outs[k], g) for k, g in sorted(grads.items())
             if k < len(outs) and isinstance(outs[k], Tensor) and outs[k].requires_grad
             and g is not None]
    if not pairs:
        return (None,) * len(boundary)
    _check_reads([o for o in outs if isinstance(o, Tensor)], boundary)
    # the pass stops at the node's inputs (made leaves while it runs): the outer pass goes
    # on from them, so a path through an op outside (an input made from another input)
    # is counted once; the gradients refer to the inputs themselves, so with create_graph
    # they can be differentiated again through the inputs' own ops
    cut = [(b, b.grad_fn) for b in boundary if b.grad_fn is not None]
    try:
        for b, _ in cut:
            b.grad_fn = None
        with enable_grad():
            return list(grad([o for o, _ in pairs], list(boundary), [g for _, g in pairs],
                             retain_graph=create, create_graph=create, allow_unused=True))
    finally:
        for b, fn in cut:
            b.grad_fn = fn


def _check_reads(outs, boundary):
    """Refuse (rather than drop its gradient) a tensor that requires grad which the
    recomputation reached but the first run did not list (read in a way ``record`` does
    not see, e.g. through ``.data``). Walks the fresh graph only, up to the node's inputs."""
    stop = {id(t) for t in boundary}
    stack, seen = [o for o in outs if o.requires_grad], set()
    while stack:
        t = stack.pop()
        if id(t) in stop or id(t) in seen:
            continue
        seen.add(id(t))
        if t.grad_fn is None:
            if t.requires_grad:
                raise RuntimeError(
                    f"checkpoint: the recomputation reached a tensor of shape "
                    f"{tuple(t.shape)} that requires grad which the first run did not "
                    f"read through an op (so it would get no gradient); pass it to the "
                    f"checkpointed function as an argument")
            continue
        stack.extend(t.grad_fn.inputs)


def _recompute(s):
    """Run the checkpointed function again with grad on, from the random state of the
    first run (the current state is put back afterwards). Returns the outputs as a
    tuple."""
    from ..random import get_rng_state, set_rng_state
    now = get_rng_state() if s.rng_state is not None else None
    try:
        if s.rng_state is not None:
            set_rng_state(s.rng_state)
        with enable_grad():
            out = s.function(*s.args, **s.kwargs)
    finally:
        if now is not None:
            set_rng_state(now)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate values for backward;
    backward runs it again (see the module docstring). PyTorch's signature and warnings:
    ``use_reentrant`` should be given (``False`` is recommended; not given, it warns and
    means ``True``). With ``use_reentrant=True``, as in PyTorch, keyword arguments are
    refused and, if no tensor argument requires grad, nothing gets a gradient (a warning
    says so): checkpoint the first layer with ``use_reentrant=False``.
    ``preserve_rng_state=False`` skips saving the random state (dropout then draws new
    masks in the recomputation and the gradients do not match the forward)."""
    if use_reentrant is None:
        warnings.warn(_NO_REENTRANT_CHOICE, stacklevel=2)
        use_reentrant = True
    if not callable(function):
        raise TypeError(f"checkpoint: the first argument must be the function to run, got "
                        f"{type(function).__name__}")
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    not_replayable("checkpoint reruns its function during backward",
                   "checkpoint outside the replayed function, or drop the checkpoint")
    from ..random import get_rng_state
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)
        with no_grad():
            return function(*args)
    rng = get_rng_state() if preserve_rng_state else None
    out, boundary = _run_listing_reads(function, args, kwargs)
    if not (is_grad_enabled() and boundary):
        return out
    if not isinstance(out, (tuple, list)):
        return _Checkpoint.apply(_State(function, args, kwargs, rng, out), *boundary)
    res = _outputs_node(_State(function, args, kwargs, rng, tuple(out)), boundary)
    return res if isinstance(out, list) else tuple(res)


def checkpoint_sequential(functions, segments, input, use_reentrant=None,  # noqa: A002
                          **kwargs):
    """Run ``functions`` (a list or an ``nn.Sequential``) on ``input`` in ``segments``
    pieces, each but the last under :func:`checkpoint`: only the segments' boundaries are
    kept for backward. PyTorch's signature and warning for ``use_reentrant``."""
    if use_reentrant is None:
        warnings.warn(_NO_REENTRANT_CHOICE.replace("checkpoint:", "checkpoint."
                                                   "checkpoint_sequential:"), stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, int) or not 1 <= segments <= max(len(functions), 1):
        raise ValueError(f"checkpoint_sequential: segments must be an int from 1 to the "
                         f"number of functions ({len(functions)}), got {segments!r}")

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
