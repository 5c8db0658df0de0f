"""``zeroin.autograd.graph``: PyTorch's ``torch.autograd.graph`` on zeroin's graph.

``Node`` (what ``grad_fn`` is: ``isinstance(y.grad_fn, Node)``), ``register_multi_grad_hook``
(modes "all" and "any"), and the saved-tensor hook contexts ``saved_tensors_hooks``,
``save_on_cpu`` and ``disable_saved_tensors_hooks``. zeroin's ops keep their inputs and
output rather than a list of saved tensors chosen per op, so a pack hook sees each input
of an op and its output (``save_on_cpu`` has nothing to move on the CPU).
"""
from __future__ import annotations

import abc
import contextlib
import threading

from .._handle import HOOKED
from .._tensor import Tensor
from ..anomaly import anomaly
from ..autograd import GroupHook
from ..function import AccumulateGrad, Function

__all__ = ["Node", "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks",
           "register_multi_grad_hook", "allow_mutation_on_saved_tensors"]


class Node(abc.ABC):
    """The type of ``grad_fn`` (every zeroin op, and ``AccumulateGrad``), as PyTorch's
    ``torch.autograd.graph.Node``: ``name()``, ``next_functions`` and ``metadata``."""

    @abc.abstractmethod
    def name(self):
        """The node's PyTorch name, e.g. ``'MulBackward0'``."""

    @property
    @abc.abstractmethod
    def next_functions(self):
        """``(node, 0)`` for each input: the graph, one step back."""

    @property
    @abc.abstractmethod
    def metadata(self):
        """A dict the user may fill (per node)."""


Node.register(Function)
Node.register(AccumulateGrad)


# --- saved-tensor hooks ---------------------------------------------------------------------

_STATE = threading.local()      # .hooks: the (pack, unpack) stack; .disabled: a message;
                                # .packing: a pack hook is running (its ops are not packed)
_ACTIVE = [0]                   # contexts open in any thread: record() packs while > 0


def _pack_saved(fn, inputs, out):
    """record()'s call while hooks are on: pack what ``fn`` keeps for its backward (its
    inputs and its output) with this thread's innermost hooks."""
    hooks = getattr(_STATE, "hooks", None)
    if not hooks or getattr(_STATE, "packing", False):
        return
    pack, unpack = hooks[-1]
    _STATE.packing = True
    try:
        fn._packed = [(unpack, pack(t)) for t in (*inputs, out)]
    finally:
        _STATE.packing = False
    HOOKED.add(fn)          # backward looks for it (the reference step unpacks)


class saved_tensors_hooks:
    """PyTorch's context for ``pack_hook(tensor)`` / ``unpack_hook(packed)``: each op
    recorded inside packs the tensors it keeps for backward (zeroin's ops keep every input
    and their output), and backward unpacks them when that op's rule runs, using what
    unpack returns. Ops run inside a pack hook are not packed."""

    def __init__(self, pack_hook, unpack_hook):
        for what, hook in (("pack_hook", pack_hook), ("unpack_hook", unpack_hook)):
            if not callable(hook):
                raise TypeError(f"saved_tensors_hooks: {what} must be callable, got "
                                f"{type(hook).__name__}")
        self.pack_hook, self.unpack_hook = pack_hook, unpack_hook

    def __enter__(self):
        message = getattr(_STATE, "disabled", None)
        if message is not None:
            raise RuntimeError(message)
        _STATE.__dict__.setdefault("hooks", []).append((self.pack_hook, self.unpack_hook))
        _ACTIVE[0] += 1
        anomaly.pack = _pack_saved
        anomaly.refresh()           # `as x` binds None, as PyTorch's

    def __exit__(self, *exc):
        _STATE.hooks.pop()
        _ACTIVE[0] -= 1
        if not _ACTIVE[0]:
            anomaly.pack = None
            anomaly.refresh()


class save_on_cpu(saved_tensors_hooks):
    """PyTorch's context that keeps saved tensors on the CPU (``pin_memory`` for faster
    copies back to the GPU): everything already is on the CPU here, so its hooks keep
    each tensor as it is."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        super().__init__(lambda t: t, lambda t: t)
        self.pin_memory, self.device_type = pin_memory, device_type


class disable_saved_tensors_hooks:
    """Inside it, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)``
    (PyTorch's guard for code that must not have its saved tensors packed). Also a
    decorator."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        self._outer = getattr(_STATE, "disabled", None)
        _STATE.disabled = self.error_message        # `as x` binds None, as PyTorch's

    def __exit__(self, *exc):
        _STATE.disabled = self._outer

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with disable_saved_tensors_hooks(self.error_message):
                return fn(*args, **kwargs)
        return wrapper


class _AllowMutationOnSavedContext:
    """What :func:`allow_mutation_on_saved_tensors` yields (PyTorch's keeps its clones here;
    zeroin has none to keep)."""

    def clear(self):
        pass


_MUTATION = {"on": False}


@contextlib.contextmanager
def allow_mutation_on_saved_tensors():
    """PyTorch's context in which a tensor saved for backward may be changed in place
    (PyTorch clones it first). zeroin allows that everywhere: an op keeps the values it
    read, so the gradient is right (see the README). Like PyTorch's, it cannot be nested."""
    if _MUTATION["on"]:
        raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
    _MUTATION["on"] = True
    try:
        yield _AllowMutationOnSavedContext()
    finally:
        _MUTATION["on"] = False


# --- multi-grad hooks -------------------------------------------------------------------------

class _Group:
    """The gradients one backward pass gives a ``register_multi_grad_hook``'s tensors."""

    def __init__(self, tensors, fn, mode):
        self.n, self.fn, self.mode = len(tensors), fn, mode
        self.grads, self.fired, self.pass_ = None, False, None
        self.parts = []

    def arrive(self, i, g, p):
        if self.pass_ is not p:            # the first gradient of a new pass
            self.pass_, self.grads, self.fired = p, [None] * self.n, False
            p.on_end = (p.on_end or []) + [self._end]
        if self.mode == "any":
            if not self.fired:
                self.fired = True
                self.fn(g)
            return
        self.grads[i] = g

    def _end(self):
        grads, self.grads, self.pass_ = self.grads, None, None
        if self.mode == "all":
            self.fn(grads)


class _GroupHandle:
    """``remove()`` takes the hook off every tensor of the group."""

    def __init__(self, group, tensors):
        self._group, self._tensors = group, tensors

    def remove(self):
        for t, part in zip(self._tensors, self._group.parts):
            if t._hooks and part in t._hooks:
                t._hooks.remove(part)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call ``fn`` once per backward pass that reaches any of ``tensors``: with
    ``mode="all"``, ``fn(grads)`` (a tuple, None for a tensor the pass did not reach)
    once the pass is over; with ``mode="any"``, ``fn(grad)`` with the first of their
    gradients computed. Returns a handle whose ``remove()`` unregisters it."""
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"register_multi_grad_hook: tensors[{i}] is a "
                            f"{type(t).__name__}, expected tensors")
        if mode == "all" and not t.requires_grad:
            raise AssertionError(f"Expected gradient function to be set: tensors[{i}] does "
                                 f"not require grad, so no gradient can reach it; leave it "
                                 f"out, or use mode='any', which ignores such tensors")
    group = _Group(tensors, fn, mode)
    for i, t in enumerate(tensors):
        part = GroupHook(group, i)
        group.parts.append(part)
        if not t.requires_grad:             # mode "any" leaves it out, as PyTorch
            continue
        if t._hooks is None:
            t._hooks = []
        t._hooks.append(part)
    return _GroupHandle(group, tensors)
