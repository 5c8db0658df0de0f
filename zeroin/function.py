"""Function: the base class of every op, and :func:`record`, which puts an op in the graph.

Subclasses (in :mod:`zeroin.ops`, named ``...Op``) define ``forward(*arrays) -> array`` on
NumPy arrays and ``backward(xp, g, out, *inputs)``, which returns the gradient for each
input (a single value for one-input ops; ``None`` for an input that needs none). The
backward rule is written once and runs in two modes:

* normal backward: ``g``, ``out`` and the inputs are ``ndarray`` and ``xp`` is
  :class:`~zeroin.ops.NP` (the fast path gives ``scalar_rules`` ops NumPy scalars or
  floats for 0-d values, and ``float_grad`` ops a float ``g`` and ``out`` for a 0-d
  float64 result);
* ``create_graph=True``: they are :class:`~zeroin.Tensor` and ``xp`` is
  :class:`~zeroin.ops.TZ`, so the rule itself is recorded and can be differentiated again.

The engine reduces each gradient to its input's shape (broadcasting), so rules may return
gradients in the broadcast shape.
"""
from __future__ import annotations

import numbers
import weakref
from math import prod

import numpy as np

from . import _tensor
from ._tensor import Tensor, _array_of, _leaf, _make, _mode
from ._handle import HOOKED, RemovableHandle
from .anomaly import anomaly, check_forward
from .errors import AnomalyError, ShapeError, ZeroinError, broadcast_message

__all__ = ["Function", "record", "apply", "constant", "NP", "sum_to_array", "broadcast_array", "ZeroinError",
           "ShapeError", "AnomalyError"]

# np.name loads are full lookups (NumPy's module __getattr__ keeps CPython 3.11 from
# specialising them): the gradient helpers every step calls bind theirs once
_ndarray, _empty, _add_reduce = np.ndarray, np.empty, np.add.reduce


# --- what backward rules compute with on arrays ------------------------------------------

def sum_to_array(g, shape):
    """Sum the array ``g`` down to ``shape``: the reverse of broadcasting, which the engine
    applies to every gradient a rule returns in the broadcast shape."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead == 1 and g.shape[1:] == shape:      # (n, k) -> (k,), a bias's: one reduce
        return _add_reduce(g, axis=0)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape)
                                      if n == 1 and g.shape[i + lead] != 1)
    r = g.sum(axis=axes, keepdims=True) if axes else g
    if lead:
        r = r.reshape(shape)
    return r


def broadcast_array(g, shape):
    """``np.broadcast_to(g, shape)``'s values: a read-only view, except that a one-element
    ``g`` (the gradient of a full sum or mean) spread over at most 1024 elements is a
    fresh filled array (W4 spreads 7 such a step): made in half the instructions of a view,
    a contiguous operand costs the next ufunc half what a zero-stride one does, and a leaf
    can keep it as its ``.grad`` without a copy. Larger ones are a zero-stride view made by
    one ndarray constructor, about 2x cheaper than np.broadcast_to's Python-level checks."""
    if type(g) is float and prod(shape) <= 1024:    # a float64 (float_grad rules)
        out = _empty(shape)
        out.fill(g)
        return out
    if type(g) is not _ndarray:
        g = np.asarray(g)
    if g.size != 1 or g.ndim > len(shape):
        return np.broadcast_to(g, shape)
    if prod(shape) <= 1024:
        out = _empty(shape, g.dtype)
        out[...] = g
        return out
    out = np.ndarray(shape, g.dtype, g, 0, (0,) * len(shape))
    out.flags.writeable = False
    return out


def scatter_array(g, index, shape):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate): the
    backward of every gather (indexing, embedding, index_select, gather, pad's reflect)."""
    z = np.zeros(shape, dtype=g.dtype)
    if _is_basic_index(index):
        z[index] = g
    elif z.ndim == 1 and type(index) is np.ndarray and index.ndim > 1:
        # flat positions of any shape (gather, scatter_add): NumPy's fast 1-D loop takes a
        # 1-D index only (5-15x slower otherwise); the same additions in the same order
        np.add.at(z, index.reshape(-1), np.broadcast_to(g, index.shape).reshape(-1))
    elif z.ndim == 1 or not (_scatter_along(z, g, index) or _scatter_flat(z, g, index)):
        np.add.at(z, index, g)          # (on a 1-D z, NumPy's fast loop already)
    return z


def _scatter_along(z, g, index):
    """``np.add.at(z, index, g)`` for ``index`` = (full slices..., one integer array):
    x[i], index_select, index_add, pad's reflect/replicate/circular, repeat_interleave.
    The named positions sorted by how often they occur (most first) make an accumulator
    whose round k, the k-th occurrences, adds into a leading slice: one gather of g a
    round, no fancy read-modify-write of z, then one scatter into z. The same additions
    in the same order as np.add.at. False (nothing done) for other indices, or one
    repeating a position over 16 times."""
    items = index if type(index) is tuple else (index,)
    i, d = items[-1], len(items) - 1
    full = all(type(s) is slice and s == slice(None) for s in items[:-1])
    if not full or type(i) is not np.ndarray or i.dtype.kind not in "iu" or not i.size \
            or d >= z.ndim or g.dtype.kind not in "fc" \
            or i.min() < -z.shape[d] or i.max() >= z.shape[d]:     # (np.add.at raises)
        return False
    flat = i.reshape(-1) % z.shape[d]
    order = np.argsort(flat, kind="stable")
    s = flat[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    counts = np.diff(np.append(starts, s.size))
    rounds = int(counts.max())
    if rounds > 16:
        return False
    pre = (slice(None),) * d
    g = np.broadcast_to(g, z.shape[:d] + i.shape + z.shape[d + 1:])
    g = g.reshape(z.shape[:d] + (i.size,) + z.shape[d + 1:])
    if rounds > 1:
        by = np.argsort(-counts, kind="stable")     # positions, most repeated first
        starts, counts = starts[by], counts[by]
        left = (starts.size - np.cumsum(np.bincount(counts))).tolist()  # left[k]: > k
    acc = g[pre + (order[starts],)]                  # every position's first occurrence
    for k in range(1, rounds):
        c = left[k]
        acc[pre + (slice(0, c),)] += g[pre + (order[starts[:c] + k],)]
    acc += 0            # np.add.at adds into zeros: -0.0 alone sums to +0.0
    z[pre + (s[starts],)] = acc
    return True


def _scatter_flat(z, g, index):
    """``np.add.at(z, index, g)`` through the flat positions ``index`` selects: NumPy's
    fast loop for one 1-D index (the same additions in the same order) instead of its
    general one, which steps element by element (2-4x slower on a gather's or a mask's
    backward). False (nothing done) for a non-float g, or one under 1/8 of z's
    size, where the positions array (z's size) would cost more than it saves."""
    if g.dtype.kind not in "fc" or 8 * np.size(g) < z.size:
        return False
    pos = np.arange(z.size).reshape(z.shape)[index]     # IndexError as np.add.at's
    np.add.at(z.reshape(-1), pos.reshape(-1), np.broadcast_to(g, pos.shape).reshape(-1))
    return True


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (numbers.Integral, slice)) or i is None or i is Ellipsis
               for i in items)


_NO_KIND = np.dtype(object)     # a dtype whose kind ("O") is no number's


def float_of(x):
    """An integer or bool array in the float dtype NumPy's ufuncs give it (np.exp's:
    float16 for bool, int8 and uint8, float32 for int16, float64 for wider), before an op
    that would otherwise compute in it (-x of uint8 wraps around); others as they are."""
    if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind in "biu":
        return x.astype(np.result_type(x.dtype, np.float16))
    return x


def sigmoid_array(x):
    """1 / (1 + e**-x) without overflow, as exp(min(x, 0)) / (1 + exp(-|x|)): each side
    takes the stable form (1 / (1 + e**-x) for x >= 0, e**x / (1 + e**x) below) with
    exponents that are never positive. The same values as choosing the side with
    np.where, without its cost (np.where took half the time on small float32 arrays).
    On a float array the numerator (1 for x >= 0, e**-|x| = e**x below) comes from the
    one exp as max(e**-|x|, x >= 0), since e**-|x| <= 1: the same values (NaN's sign bit
    aside) with one exp instead of two; (256, 1024) float32 336 -> 227 us, float64 1163
    -> 551 us. A complex ``x`` (no ordering to pick a side by) takes 1 / (1 + e**-x)."""
    if type(x) is np.ndarray and x.dtype.kind == "c":
        return 1 / (1 + np.exp(-x))
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.ndim:   # (ufuncs: 0-d -> scalar)
        e = np.abs(x)
        np.negative(e, out=e)
        np.exp(e, out=e)
        d = e + 1
        r = np.maximum(e, x >= 0, out=e)
        r /= d
        return r
    if type(x) is not float and getattr(x, "dtype", _NO_KIND).kind in "biu":
        x = float_of(x)         # -x and |x| of an unsigned integer wrap around
    d = np.exp(-np.abs(x))
    d += 1
    r = np.exp(np.minimum(x, 0))
    r /= d
    return r


class NP:
    """The namespace ``xp`` a backward rule computes with on NumPy arrays (plain backward);
    :class:`zeroin.ops.TZ` has the same names for tensors (``create_graph=True``)."""
    exp, log, sqrt, sin, cos, tanh = np.exp, np.log, np.sqrt, np.sin, np.cos, np.tanh
    broadcast_to, where = staticmethod(broadcast_array), staticmethod(np.where)
    sum_to = staticmethod(sum_to_array)
    scatter = staticmethod(scatter_array)
    sigmoid = staticmethod(sigmoid_array)

    @staticmethod
    def swap(x):
        return np.swapaxes(x, -1, -2)


# PyTorch's grad_fn names where "CamelCase + Backward0" of zeroin's name is not it (for
# ops whose PyTorch node depends on the arguments, the usual form: a full sum, x @ W)
_TORCH_NAMES = {
    "matmul": "MmBackward0", "max": "MaxBackward1", "min": "MinBackward1",
    "reshape": "ViewBackward0", "getitem": "SelectBackward0", "concatenate": "CatBackward0",
    "clip": "ClampBackward1", "astype": "ToCopyBackward0", "broadcast_to": "ExpandBackward0",
    "linear": "AddmmBackward0", "cross_entropy": "NllLossBackward0",
    "logsigmoid": "LogSigmoidBackward0", "square": "PowBackward0",
    "norm": "LinalgVectorNormBackward0", "pad": "ConstantPadNdBackward0",
    "conv1d": "ConvolutionBackward0", "conv2d": "ConvolutionBackward0",
    "conv_transpose1d": "ConvolutionBackward0", "conv_transpose2d": "ConvolutionBackward0",
    "max_pool2d": "MaxPool2DWithIndicesBackward0", "unfold": "Im2ColBackward0",
    "conv3d": "ConvolutionBackward0", "conv_transpose3d": "ConvolutionBackward0",
    "max_pool3d": "MaxPool3DWithIndicesBackward0", "avg_pool3d": "AvgPool3DBackward0",
    "adaptive_avg_pool3d": "AdaptiveAvgPool3DBackward0",
    "adaptive_max_pool3d": "AdaptiveMaxPool3DBackward0",
    "fold": "Col2ImBackward0", "dropout": "MulBackward0", "l1_loss": "MeanBackward0",
    "linalg.inv": "LinalgInvExBackward0", "linalg.cholesky": "LinalgCholeskyExBackward0",
    "linalg.solve": "LinalgSolveExBackward0", "linalg.eigvalsh": "LinalgEighBackward0",
    "linalg.svdvals": "LinalgSvdBackward0",
}


class OpName(str):
    """An op's name: the string zeroin's errors, drawings and explanations read
    (``fn.name == "mul"``) that, called as PyTorch's ``grad_fn.name()``, gives PyTorch's
    name for the node (``"MulBackward0"``)."""

    def __new__(cls, name, torch_name=None):
        self = super().__new__(cls, name)
        self.torch_name = torch_name
        return self

    def __call__(self):
        if self.torch_name is not None:
            return self.torch_name
        name = str(self)
        words = [w.capitalize() for w in name.replace(".", "_").split("_")]
        # PyTorch writes 2D in class names: AdaptiveAvgPool2DBackward0
        words = [w[:-1] + "D" if w[-2:-1].isdigit() and w[-1:] == "d" else w for w in words]
        return _TORCH_NAMES.get(name) or "".join(words) + "Backward0"

    def __reduce__(self):
        return OpName, (str(self), self.torch_name)


class Function:
    """Base class of every op. See the module docstring for the contract.

    Attributes set when the op is recorded in the graph (by :func:`record`):

    inputs : tuple of Tensor
        The operands, in order: the edges of the graph.
    needs_input_grad : tuple of bool
        For each input, whether it requires grad (PyTorch's name). ``backward`` computes
        only those gradients and returns ``None`` for the others.
    released : bool
        Set by a backward without ``retain_graph``: the graph is used up, and a second
        backward through it raises an error.
    saved : object
        Anything ``forward`` keeps for ``backward`` (e.g. cross entropy's softmax); cleared
        when the graph is released. ``None`` unless the op sets it.
    site : str
        Under :func:`zeroin.detect_anomaly`, the user line that created the op.
    roles : tuple of (Tensor, str)
        Set by :func:`mark_roles` on the last op of a function built from several ops (a
        loss such as huber_loss): what its data tensors are, for drawings and explanations.
        Unset otherwise.
    """

    __slots__ = ("inputs", "needs_input_grad", "saved", "released", "site", "roles",
                 "_metadata", "_node_hooks", "_packed", "__weakref__")
    # used in errors, drawings and explanations; a subclass's plain string becomes an
    # OpName, so that PyTorch's grad_fn.name() works too
    name = OpName("function")
    symbol = None           # short infix/label used when drawing, e.g. "*"
    # What each input is, where the op knows (a loss's second input is its "target"):
    # drawings and explanations name an unnamed data input after it, not "input1".
    input_roles = ()
    # True when forward and backward also accept Python floats and NumPy scalars for 0-d
    # arrays (elementwise ops): the fast path (zeroin/_fast.py) then runs them on scalars,
    # several times cheaper. Users only ever see ndarrays in .data and .grad.
    scalar_rules = False
    # True when backward also takes a Python float ``g`` for a 0-d result and does not read
    # ``out`` then (a full sum or mean): the fast path gives it the loss term's float as is
    float_grad = False
    # True when backward, given ``g`` of the output's shape and dtype, returns each input's
    # gradient as an ndarray of that input's shape and dtype (linear, relu): the fast path
    # then does not check or fit them (T14)
    grads_fit = False
    # True when backward is elementwise in ``g`` (relu, mul): given a Python float for a
    # ``g`` of the output's shape filled with it, it returns the same arrays, so the fast
    # path hands such a node a full sum's or mean's gradient as the number (T17) when its
    # inputs have the output's shape
    takes_number = False
    # backward_into(g, out, x) for one-input ops whose rule can scale ``g`` itself: the
    # fast path calls it, instead of backward, with a ``g`` that nothing else holds (T15)
    backward_into = None
    # attributes forward sets for backward: zeroin.replay keeps them per call
    forward_state = ("saved",)
    # True for elementwise ops of two tensors (+ - * / ** maximum minimum where atan2):
    # operands of different dtypes are cast to PyTorch's result dtype first
    # (zeroin.ops.result_type), e.g. float32 * int64 stays float32
    promotes = False
    # an op's check_promotion(x, y) may refuse two dtypes before they are promoted
    check_promotion = None
    # True when the op is holomorphic (complex-differentiable: + * exp matmul ...), so that
    # its rule written for reals, g * f'(z), gives PyTorch's complex gradient
    # g * conj(f'(z)) as conj(rule(conj(g))): the engine does that for every op whose
    # output is complex (zeroin.autograd._backprop_node). Ops that are not (conj,
    # complex, polar) set False and write PyTorch's gradient themselves; an op with a real
    # output (abs, real, angle) is never wrapped.
    holomorphic = True
    # True for piecewise-linear unary ops (relu, leaky_relu, hardtanh, rrelu), whose rule
    # reads x only through a mask: a recorded rule (create_graph) is then tied to x by a
    # zero term, so a derivative of the gradient reaches x as zeros (u_xx of a ReLU
    # network), as PyTorch's threshold_backward does, instead of "x is not used"; "out"
    # ties it to the output instead (relu: PyTorch's mask reads the result, so every
    # further derivative is zeros that still require grad)
    piecewise_linear = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if type(name) is str:
            cls.name = OpName(name)

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, xp, g, out, *inputs):
        raise NotImplementedError

    def error(self, inputs, exc):
        """The exception to raise when ``forward`` failed with ``exc`` on ``inputs``.

        The default names the op and the shapes, and says how to fix operands that do not
        broadcast; ops override it for their own checks.
        """
        if isinstance(exc, (ZeroinError, TypeError)):     # a TypeError: NumPy's, unchanged
            return exc
        shapes = [_shape_of(t) for t in inputs]
        if len(inputs) > 1 and "broadcast" in str(exc):
            return ShapeError(broadcast_message(self.name, shapes))
        word = "shape" if len(inputs) == 1 else "shapes"
        return ShapeError(f"{self.name}: {word} {' and '.join(map(str, shapes))}: {exc}")

    def label(self):
        """Short human label for drawings: the symbol, or the name with its arguments."""
        return self.symbol or self.name

    def __repr__(self):
        return f"<{self.name}>"

    @property
    def metadata(self):
        """A dict of the user's own for this node (PyTorch's ``grad_fn.metadata``)."""
        try:
            return self._metadata
        except AttributeError:
            self._metadata = {}
            return self._metadata

    def register_prehook(self, hook):
        """Call ``hook(grad_outputs)`` before this node's backward rule runs (PyTorch's
        ``Node.register_prehook``): ``grad_outputs`` is a 1-tuple, the gradient of the
        node's output; a tuple it returns replaces it. Returns a handle to ``remove()``."""
        return _add_node_hook(self, 0, hook, "register_prehook")

    def register_hook(self, hook):
        """Call ``hook(grad_inputs, grad_outputs)`` after this node's backward rule ran
        (PyTorch's ``Node.register_hook``): ``grad_inputs`` has one gradient per input
        (None where none is computed); a tuple it returns replaces them (None: no
        gradient). Returns a handle to ``remove()``."""
        return _add_node_hook(self, 1, hook, "register_hook")

    @property
    def next_functions(self):
        """PyTorch's walk back through the graph (``loss.grad_fn.next_functions[0][0]``):
        for each input, ``(the op that made it, 0)``; an :class:`AccumulateGrad` for a leaf
        that requires grad, ``None`` for one that does not (a constant)."""
        return tuple((t.grad_fn if t.grad_fn is not None else
                      AccumulateGrad(t) if t.requires_grad else None, 0)
                     for t in getattr(self, "inputs", None) or ())

    def __call__(self, *inputs):
        """Run forward on the tensors ``inputs`` and record the node if grad is needed.

        An instance already recorded in a graph (a user's op object called twice) records
        a copy, so that each call is its own node with its own inputs.
        """
        if getattr(self, "inputs", None) is not None:
            import copy
            return apply(copy.copy(self), inputs)
        return apply(self, inputs)


# --- node hooks (grad_fn.register_hook / register_prehook) -------------------------------

def _unhook(node):
    """Take ``node`` out of :data:`HOOKED` once it has neither hooks nor packed tensors."""
    if not any(getattr(node, "_node_hooks", None) or ()) and \
            getattr(node, "_packed", None) is None:
        HOOKED.discard(node)


class _NodeHookHandle(RemovableHandle):
    """A node hook's handle; the node leaves :data:`HOOKED` with its last hook."""

    def __init__(self, node, hooks):
        super().__init__(hooks)
        self._node = weakref.ref(node)

    def remove(self):
        super().remove()
        node = self._node()
        if node is not None:
            _unhook(node)


def _add_node_hook(node, kind, hook, what):
    if not callable(hook):
        raise TypeError(f"{node.name()}.{what}: hook must be callable, got "
                        f"{type(hook).__name__}")
    hooks = getattr(node, "_node_hooks", None)
    if hooks is None:
        hooks = node._node_hooks = ({}, {})     # pre-hooks, hooks: id -> hook, in order
    handle = _NodeHookHandle(node, hooks[kind])
    hooks[kind][handle.id] = hook
    HOOKED.add(node)
    return handle


def _hook_result(hook, r, n, what):
    """A node hook's return value checked as PyTorch checks it: None or an n-tuple."""
    if r is None:
        return None
    if not isinstance(r, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(r).__name__}' ({what} "
                        f"hooks return None or a tuple of {n} gradient(s))")
    if len(r) != n:
        raise RuntimeError(f"hook '{getattr(hook, '__name__', hook)}' has returned an "
                           f"incorrect number of values (got {len(r)}, but expected {n})")
    return r


def run_prehooks(fn, hooks, g, as_tensor, as_grad):
    """The node's pre-hooks on its output gradient ``g``; returns the gradient to use."""
    for hook in list(hooks.values()):
        r = _hook_result(hook, hook((as_tensor(g),)), 1, "pre")
        if r is not None:
            g = as_grad(r[0])
    return g


def run_posthooks(fn, hooks, res, g, as_tensor, as_grad):
    """The node's hooks on its input gradients ``res`` (a list, each already in its
    input's shape); returns the gradients to pass on."""
    go = (as_tensor(g),)
    for hook in list(hooks.values()):
        gi = tuple(None if r is None else as_tensor(r) for r in res)
        r = _hook_result(hook, hook(gi, go), len(res), "node")
        if r is not None:
            res = [None if x is None else as_grad(x) for x in r]
            for x, t in zip(res, fn.inputs):
                if x is not None and tuple(x.shape) != tuple(t.shape):
                    raise RuntimeError(f"{fn.name()} hook: returned a gradient of shape "
                                       f"{tuple(x.shape)} for an input of shape {t.shape}")
    return res


# --- saved-tensor hooks (autograd.graph.saved_tensors_hooks packs, backward unpacks) -------

def unpack_saved(fn, t, create_graph):
    """The output and inputs of ``fn`` (whose output is ``t``) for its backward rule, each
    from the unpack hook of what the pack hook made of it: arrays, or tensors with
    ``create_graph`` (a tensor other than the saved one is then a constant)."""
    vals = []
    for (unpack, obj), orig in zip(fn._packed, (*fn.inputs, t)):
        r = unpack(obj)
        if not isinstance(r, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but "
                            f"got result of type {type(r).__name__} (for {fn.name()}'s saved "
                            f"tensor of shape {orig.shape}); return the tensor pack_hook got, "
                            f"or one with its values")
        if tuple(r.shape) != tuple(orig.shape):
            raise RuntimeError(f"saved_tensors_hooks: unpack_hook returned a tensor of shape "
                               f"{tuple(r.shape)} for {fn.name()}'s saved tensor of shape "
                               f"{tuple(orig.shape)}; it must give back the saved values")
        vals.append(r if create_graph else _array_of(r))
    return vals[-1], vals[:-1]


def release_saved(fn):
    """A backward without ``retain_graph`` is over: drop what pack made (as PyTorch frees
    the saved tensors)."""
    fn._packed = None
    _unhook(fn)


_LEAF_METADATA = {}     # id(leaf) -> (weakref to it, its AccumulateGrad's metadata)


class AccumulateGrad:
    """What :attr:`Function.next_functions` names for a leaf that requires grad, as in
    PyTorch: the end of a path back through the graph; ``variable`` is the leaf, whose
    ``.grad`` backward fills."""
    __slots__ = ("variable",)
    name = OpName("AccumulateGrad", "torch::autograd::AccumulateGrad")
    next_functions = ()
    @property
    def metadata(self):
        """A dict of the user's own, one per leaf (while the leaf lives), as PyTorch's."""
        key = id(self.variable)
        entry = _LEAF_METADATA.get(key)
        if entry is None or entry[0]() is not self.variable:
            ref = weakref.ref(self.variable, lambda _, key=key: _LEAF_METADATA.pop(key, None))
            entry = _LEAF_METADATA[key] = (ref, {})
        return entry[1]

    def __init__(self, variable):
        self.variable = variable

    def register_prehook(self, hook):
        """``hook(grad_outputs)`` before the leaf's ``.grad`` is written (PyTorch's): a
        tuple it returns replaces the gradient. Kept as a tensor hook on the leaf."""
        if not callable(hook):
            raise TypeError(f"AccumulateGrad.register_prehook: hook must be callable, got "
                            f"{type(hook).__name__}")

        def tensor_hook(g):
            r = _hook_result(hook, hook((g,)), 1, "pre")
            return None if r is None else r[0]
        return self.variable.register_hook(tensor_hook)

    def register_hook(self, hook):
        raise NotImplementedError("AccumulateGrad.register_hook is not supported in zeroin; "
                                  "use leaf.register_post_accumulate_grad_hook(fn), which "
                                  "runs at the same moment (fn gets the leaf)")

    def __repr__(self):
        return "<AccumulateGrad>"


def mark_roles(out, **roles):
    """Say what the data tensors of a function built from ops are (``target=t``), on the op
    that made ``out``: drawings and explanations then name an unnamed data input ``target``
    instead of ``input1``, as a single loss op's ``input_roles`` does. Returns ``out``; a
    result that nothing recorded is returned as it is."""
    fn = out.grad_fn if isinstance(out, Tensor) else None
    if fn is not None:
        fn.roles = tuple((t, name) for name, t in roles.items() if isinstance(t, Tensor))
    return out


def _shape_of(x):
    return tuple(x.shape) if hasattr(x, "shape") else type(x).__name__


def apply(fn, inputs):
    """Run ``fn.forward`` on the inputs' arrays and return its output tensor (recorded)."""
    try:
        out = fn.forward(*[_array_of(t) for t in inputs])
    except (ValueError, IndexError, TypeError) as e:
        raise fn.error(inputs, e) from None
    if type(out) is not np.ndarray:
        out = np.asarray(out)
    return record(fn, inputs, out)


def record(fn, inputs, array, value=None, needs=None):
    """The output tensor of ``fn`` holding ``array`` (or, with ``array`` None, the Python
    float ``value``); if grad is on and an input requires grad, the graph node too.

    Every op's output is made here, so this is where the graph is recorded: the output's
    ``grad_fn`` is ``fn`` and ``fn.inputs`` are the operands. ``needs`` is
    ``needs_input_grad`` when the caller has it at hand.
    """
    if needs is None:
        needs = tuple([t.requires_grad for t in inputs])
    if True in needs and (_tensor._off_threads == 0 or _mode.enabled):
        fn.inputs = inputs
        fn.needs_input_grad = needs
        fn.released = False
        for t in inputs:
            t._read = True      # an in-place change of t must now re-point fn (_tensor_api)
        out = _make(array, True, fn, value)
    else:
        out = _make(array, False, None, value)
    if anomaly.enabled:
        if anomaly.detect:
            check_forward(fn, inputs, out)
        if anomaly.tracer is not None:          # zeroin.replay is tracing
            anomaly.tracer.append((fn, inputs, out))
        if anomaly.reads is not None:           # utils.checkpoint runs its function
            anomaly.reads.append(inputs)
        if anomaly.pack is not None and out.grad_fn is fn:     # saved_tensors_hooks
            anomaly.pack(fn, inputs, out)
    return out


class NoDerivativeOp(Function):
    """The output of an op whose derivative PyTorch does not implement (``unique``'s
    values, ``heaviside``): it requires grad when an input does, as PyTorch's, and a
    backward that reaches it raises, as PyTorch's ``NotImplementedError``. ``compute``
    makes the output from the input arrays (so that :func:`zeroin.replay` recomputes it)."""
    __slots__ = ("compute", "why")
    name = "no_derivative"

    def __init__(self, compute, why=None):
        self.compute, self.why = compute, why

    def forward(self, *arrays):
        return self.compute(*arrays)

    def backward(self, xp, g, out, *inputs):
        if self.why is not None:
            raise ZeroinError(self.why)
        raise NotImplementedError(
            f"the derivative for '{self.name}' is not implemented (as in PyTorch); use its "
            f"result as a constant: call {self.name} on x.detach(), or detach the result")


_NO_DERIVATIVE = {}     # op name -> its NoDerivativeOp subclass, named after it


def no_derivative(op, compute, *inputs, why=None):
    """``compute(*arrays of inputs)``, the result of ``op``, as a tensor recorded by a
    :class:`NoDerivativeOp` named ``op`` (for drawings and ``grad_fn``): it requires grad
    when an input does; backward raises, with ``why`` if given, else PyTorch's "not
    implemented"."""
    cls = _NO_DERIVATIVE.get(op)
    if cls is None:
        cls = _NO_DERIVATIVE[op] = type(f"NoDerivativeOp[{op}]", (NoDerivativeOp,),
                                        {"__slots__": (), "name": op})
    return apply(cls(compute, why), inputs)


def constant(value, like=None):
    """Wrap a non-tensor operand as a constant leaf, keeping ``like``'s float dtype.

    Python numbers do not change a tensor's dtype: ``float32_tensor * 2.0`` stays float32.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (int, float, bool)) and isinstance(like, Tensor):
        kind = like.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, int) and not
                           isinstance(value, bool)):
            return _leaf(np.asarray(value, dtype=like.dtype))
        if isinstance(value, float):
            return _leaf(np.asarray(value, dtype=_tensor._default_dtype))
    if isinstance(value, complex) and isinstance(like, Tensor) and like.dtype.kind in "fc":
        # a complex number keeps a float tensor's width (0-d ones too): float32 -> complex64
        return _leaf(np.asarray(value, dtype=np.promote_types(like.dtype, np.complex64)))
    return _leaf(_tensor._as_array(value))
