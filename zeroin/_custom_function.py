"""``zeroin.autograd.Function``: custom ops written as in PyTorch.

    class Exp(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

    y = Exp.apply(x)

``forward`` runs with grad recording off and receives the arguments as given (tensors as
tensors); ``backward`` receives one gradient per output and returns one per ``forward``
argument (``None`` for arguments that need none, e.g. non-tensors). Each ``apply`` makes a
fresh graph node, so one Function class serves any number of calls. Under
``create_graph=True`` the gradients ``backward`` receives are tensors in the graph, so a
``backward`` written with zeroin ops can itself be differentiated.

This adapts PyTorch's static style onto the engine's :class:`zeroin.function.Function`
(the op contract used inside zeroin, where ``forward``/``backward`` work on NumPy arrays).
"""
from __future__ import annotations

import numpy as np

from . import function as _f
from ._tensor import Tensor, _leaf, enable_grad, is_grad_enabled, no_grad
from .errors import a_type

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` leaves for ``backward``: saved tensors and any attributes."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.materialize_grads = True
        self._saved = ()
        self._freed = False
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        """Keep tensors (or None) for ``backward``; read them back as ``ctx.saved_tensors``."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: argument {i} is "
                                f"{a_type(t)}, not a tensor; store other values as "
                                f"attributes, e.g. ctx.k = k")
        self._saved = tensors

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError("saved_tensors: the saved tensors were freed by an earlier "
                               "backward; pass retain_graph=True to backward through the "
                               "graph a second time")
        return self._saved

    def mark_non_differentiable(self, *tensors):
        """Outputs that carry no gradient (e.g. indices)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def mark_dirty(self, *tensors):
        """Accepted for compatibility; zeroin records no version counters here."""

    def set_materialize_grads(self, value):
        """With False, ``backward`` gets None (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class _Node(_f.Function):
    """The graph node of one ``apply`` call for output ``k`` of ``n``. Its backward gets
    the gradient as PyTorch's does, complex ones too (no conjugation by the engine)."""
    holomorphic = False

    def __init__(self, cls, ctx, result, k, n, tensor_pos, n_args, out_arrays):
        self.name = _f.OpName(cls.__name__, cls.__name__ + "Backward")    # PyTorch's name()
        self.saved = ctx
        self._cls, self._result, self._k, self._n = cls, result, k, n
        self._tensor_pos, self._n_args, self._out_arrays = tensor_pos, n_args, out_arrays

    def forward(self, *arrays):
        return self._result

    def backward(self, xp, g, out, *inputs):
        ctx = self.saved
        tensors = xp is not _NP
        g = g if tensors else _leaf(np.asarray(g))
        grads = []
        for j, arr in enumerate(self._out_arrays):
            if j == self._k:
                grads.append(g)
            elif ctx.materialize_grads:
                grads.append(_leaf(np.zeros_like(arr)))
            else:
                grads.append(None)
        switch = enable_grad() if tensors else no_grad()
        with switch:
            res = self._cls.backward(ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        if len(res) > self._n_args and all(r is None for r in res[self._n_args:]):
            res = res[:self._n_args]            # extra Nones are fine, as in PyTorch
        if len(res) != self._n_args:            # fewer too: PyTorch raises, not pads
            raise RuntimeError(f"{self._cls.__name__}.backward: returned {len(res)} "
                               f"gradients, but forward took {self._n_args} arguments; "
                               f"return one per argument (None where there is none)")
        out_grads = [_grad_value(res[p], tensors, self.name, p) for p in self._tensor_pos]
        for p, gp, x in zip(self._tensor_pos, out_grads, inputs):
            if gp is not None and gp.shape != x.shape:
                _check_shape(self._cls.__name__, p, tuple(gp.shape), tuple(x.shape))
        return out_grads[0] if len(out_grads) == 1 else tuple(out_grads)


_NP = None     # zeroin.ops.NP, bound on first use (import order)


def _check_shape(name, pos, got, want):
    """PyTorch's rule for a gradient that ``backward`` returns: its argument's shape, or a
    shape the argument broadcasts to (the engine sums it back); anything else raises."""
    try:
        ok = np.broadcast_shapes(want, got) == got
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"{name}.backward: gradient {pos} has shape {got}, but argument "
                           f"{pos} of forward has shape {want}; return a gradient of the "
                           f"argument's shape (PyTorch refuses this too)")


def _grad_value(g, tensors, name, pos):
    if g is None:
        return None
    if tensors:
        return g if isinstance(g, Tensor) else _leaf(np.asarray(g))
    if isinstance(g, Tensor):
        return g.data
    if isinstance(g, (np.ndarray, np.generic, int, float)):
        return np.asarray(g)
    raise TypeError(f"{name}.backward: gradient {pos} is {a_type(g)}; return a "
                    f"tensor (or None)")


class Function:
    """Base class for custom differentiable operations, as ``torch.autograd.Function``.

    Subclasses define static ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` and are
    called through ``MyFunction.apply(*args)``. See the module docstring.
    """

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise RuntimeError(f"{type(self).__name__}: call {type(self).__name__}.apply(...)"
                               f" (a static forward/backward pair), not "
                               f"{type(self).__name__}(...)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a custom Function must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a custom Function must define a static backward(ctx, "
                                  "...) to be differentiated")

    @staticmethod
    def setup_context(ctx, inputs, output):
        return _NO_SETUP

    @classmethod
    def apply(cls, *args):
        """Run ``forward`` and, if any tensor argument requires grad, record one node."""
        global _NP
        if _NP is None:
            from .ops import NP as _NP
        tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        separate = cls.setup_context is not Function.setup_context
        with no_grad():
            out = cls.forward(*args) if separate else cls.forward(ctx, *args)
            if separate:
                cls.setup_context(ctx, args, out)
        if not (is_grad_enabled() and any(needs)):
            return out
        outs = out if isinstance(out, tuple) else (out,)
        arrays = [o.data for o in outs if isinstance(o, Tensor)]
        inputs = [args[i] for i in tensor_pos]
        wrapped, k = [], -1
        for o in outs:
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            k += 1
            if id(o) in ctx._non_differentiable or o.data.dtype.kind not in "fc":
                wrapped.append(o.detach())
                continue
            node = _Node(cls, ctx, o.data, k, len(arrays), tensor_pos, len(args), arrays)
            wrapped.append(node(*inputs))
        # a saved output is the recorded output (as in PyTorch), so that a backward that
        # uses it can be differentiated again under create_graph
        swap = {id(o): w for o, w in zip(outs, wrapped) if isinstance(o, Tensor)}
        ctx._saved = tuple(swap.get(id(t), t) for t in ctx._saved)
        for t in ctx._saved:        # an in-place change must find (and refuse) these saves
            if t is not None:
                t._read = True
        return tuple(wrapped) if isinstance(out, tuple) else wrapped[0]


_NO_SETUP = object()


def once_differentiable(backward):
    """Mark a ``backward`` that is not itself differentiable; runs it unchanged."""
    return backward
