"""Module hooks, as PyTorch's: forward pre-hooks, forward hooks, full backward (pre-)hooks,
the module's own and the global ones (``zeroin.nn.module.register_module_*_hook``).

While no module has hooks and no global one is set, ``Module.__call__`` checks one dict key
and one module-level dict, and this file is never imported.
Backward hooks put an identity node (``backward_hook``) on the module's tensor inputs and
on its output; tensor hooks on those nodes see the gradients flowing through them.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .._handle import RemovableHandle
from .._tensor import Tensor, is_grad_enabled
from ..function import Function, ZeroinError
from . import module as _g  # the global hooks (PyTorch's register_module_*_hook)

# each kind's OrderedDict (id -> hook), under PyTorch's attribute name
TABLES = {"forward_pre": "_forward_pre_hooks", "forward": "_forward_hooks",
          "backward_pre": "_backward_pre_hooks", "backward": "_backward_hooks"}
_FLAGS = ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs",
          "_forward_hooks_always_called")      # id -> True, as PyTorch's


def hook_tables(module):
    """Make the module's hook OrderedDicts (PyTorch's names, in its ``__dict__``) if it
    has none yet. ``_hooks`` (kind -> table) in the ``__dict__`` is what tells
    ``Module.__call__`` to look at them at all."""
    d = module.__dict__
    if "_hooks" not in d:
        for name in (*TABLES.values(), *_FLAGS):
            d.setdefault(name, OrderedDict())
        d["_hooks"] = {kind: d[name] for kind, name in TABLES.items()}


def add_hook(module, kind, hook, prepend, with_kwargs=False, always_call=False):
    if not callable(hook):
        raise TypeError(f"register_{kind}_hook: hook must be callable, got "
                        f"{type(hook).__name__}")
    hook_tables(module)
    d = module.__dict__
    hooks = d[TABLES[kind]]
    extra = [d[f"{TABLES[kind]}_with_kwargs"]] if kind.startswith("forward") else []
    if kind == "forward":
        extra.append(d["_forward_hooks_always_called"])
    handle = RemovableHandle(hooks, extra_dict=extra)
    hooks[handle.id] = hook
    if with_kwargs:
        extra[0][handle.id] = True
    if always_call:
        extra[1][handle.id] = True
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def warn_non_full(module, args, output):
    """The forward hook that ``register_backward_hook`` adds: PyTorch's deprecation."""
    import warnings
    warnings.warn("Using a non-full backward hook when the forward contains multiple autograd "
                  "Nodes is deprecated and will be removed in future versions. This hook will "
                  "be missing some grad_input. Please use register_full_backward_hook to get "
                  "the documented behavior.", FutureWarning, stacklevel=3)


class _BackwardHookOp(Function):
    """Identity; the node whose gradient a module's backward hook reads.

    Not registered with ``@op``: it computes nothing (forward and backward pass values
    through), users never call it, and this file is imported only once a module gets a
    hook, so registering here would make ``zeroin.ops.OPS`` depend on whether a hook was
    ever added. The gradient path through it is checked by tests/test_nn.py's hook tests.
    """
    name = "backward_hook"

    def forward(self, x):
        return x

    def backward(self, xp, g, out, x):
        return g


def _hook_lists(module):
    """The hooks one call runs, each kind's global ones first (PyTorch's order), as
    lists: hooks removed after forward still run in this call's backward (as there)."""
    d, e = module.__dict__, {}

    def both(kind, glob):
        return [*glob.items(), *d.get(TABLES[kind], e).items()]
    return (both("forward_pre", _g._global_forward_pre_hooks),
            both("forward", _g._global_forward_hooks),
            {"backward_pre": [h for _, h in both("backward_pre", _g._global_backward_pre_hooks)],
             "backward": [h for _, h in both("backward", _g._global_backward_hooks)]})


def call_with_hooks(module, args, kwargs):
    """``module(*args, **kwargs)`` with the global hooks and its own, in PyTorch's order."""
    pre, fwd, table = _hook_lists(module)
    if not (pre or fwd or table["backward"] or table["backward_pre"]):
        return module.forward(*args, **kwargs)      # the tables were read, never filled
    d = module.__dict__
    with_kwargs = d.get("_forward_pre_hooks_with_kwargs", ())
    for key, hook in pre:
        if key in with_kwargs:
            r = hook(module, args, kwargs)
            if r is not None:
                args, kwargs = r
        else:
            r = hook(module, args)
            if r is not None:
                args = r if isinstance(r, tuple) else (r,)
    backward = (table["backward"] or table["backward_pre"]) and is_grad_enabled()
    if backward:
        state = _BackwardState(module, table)
        args = state.wrap_inputs(args)
    local_kw = d.get("_forward_hooks_with_kwargs", ())
    try:
        out = module.forward(*args, **kwargs)
    except Exception:
        _always_called(module, fwd, args, kwargs, local_kw)
        raise
    for key, hook in fwd:
        r = (hook(module, args, kwargs, out) if key in local_kw or
             key in _g._global_forward_hooks_with_kwargs else hook(module, args, out))
        if r is not None:
            out = r
    if backward:
        if _g._global_is_full_backward_hook is False and _g._global_backward_hooks:
            warn_non_full(module, args, out)
        if isinstance(out, Tensor) or _own_backward_hooks(d):
            out = state.wrap_output(out)
        else:
            state.table = {"backward": (), "backward_pre": ()}    # inputs' hooks: no-ops
            _skip_global_backward_hooks(module, out)
    return out


def _own_backward_hooks(d):
    return bool(d.get(TABLES["backward"]) or d.get(TABLES["backward_pre"]))


def _skip_global_backward_hooks(module, out):
    """The global backward hooks see modules that return one tensor only (zeroin's full
    backward hooks do): a module returning a tuple (an LSTM) is passed over, warned of."""
    import warnings
    warnings.warn(f"global module backward hooks: {type(module).__name__} returned a "
                  f"{type(out).__name__}, and zeroin runs backward hooks only for modules "
                  f"that return one tensor; they are not called for it", UserWarning,
                  stacklevel=4)


def _always_called(module, fwd, args, kwargs, with_kwargs):
    """forward raised: the forward hooks registered with ``always_call=True`` still run,
    global ones first, with output None (PyTorch's); an error of theirs is only warned
    about, as there."""
    always = module.__dict__.get("_forward_hooks_always_called", ())
    for key, hook in fwd:
        glob = key in _g._global_forward_hooks_always_called
        if glob or key in always:
            try:
                hook(module, args, kwargs, None) if key in with_kwargs else \
                    hook(module, args, None)
            except Exception as e:      # noqa: BLE001 - forward's error is the one raised
                import warnings
                warnings.warn(f"{'global ' if glob else ''}module forward hook with "
                              f"``always_call=True`` raised an exception that was silenced "
                              f"as another error was raised in forward: {e}", UserWarning,
                              stacklevel=4)


_NO_INPUT_GRAD = ("Full backward hook is firing when gradients are computed with respect to "
                  "module outputs since no inputs require gradients. See https://docs.pytorch"
                  ".org/docs/main/generated/torch.nn.Module.html#torch.nn.Module."
                  "register_full_backward_hook for more details.")    # PyTorch's words


class _BackwardState:
    """One call's gradients: grad_output when it arrives, then each input's gradient."""

    def __init__(self, module, table):
        self.module, self.table = module, table
        self.slots = []             # per tensor argument: True if it needs a gradient
        self.grads = {}
        self.grad_output = None

    def wrap_inputs(self, args):
        out = []
        for a in args:
            if isinstance(a, Tensor):
                if a.requires_grad:
                    i = len(self.slots)
                    a = _BackwardHookOp()(a)
                    a.register_hook(lambda g, i=i: self._input_grad(i, g))
                self.slots.append(a.requires_grad)
            out.append(a)
        return tuple(out)

    def wrap_output(self, out):
        if not isinstance(out, Tensor):
            raise ZeroinError(f"{type(self.module).__name__}: full backward hooks need a "
                              f"forward that returns one tensor, got "
                              f"{type(out).__name__}")
        if not out.requires_grad:
            return out
        out = _BackwardHookOp()(out)
        out.register_hook(self._output_grad)
        return out

    def _output_grad(self, g):
        grad_output = (g,)
        for hook in self.table["backward_pre"]:
            r = hook(self.module, grad_output)
            if r is not None:
                grad_output = r if isinstance(r, tuple) else (r,)
        self.grad_output = grad_output
        if not any(self.slots):         # nothing upstream: the hook runs now
            import warnings
            warnings.warn(_NO_INPUT_GRAD, UserWarning, stacklevel=2)
            self._run((None,) * max(len(self.slots), 1))
        return grad_output[0]

    def _input_grad(self, i, g):
        self.grads[i] = g
        if len(self.grads) < sum(self.slots):
            return None
        grad_input = tuple(self.grads.get(k) for k in range(len(self.slots)))
        new = self._run(grad_input)
        if new is grad_input:
            return None
        if sum(self.slots) > 1:
            raise ZeroinError(f"{type(self.module).__name__}: a full backward hook can "
                              f"replace grad_input only for a module with one input that "
                              f"requires grad")
        return new[i]

    def _run(self, grad_input):
        for hook in self.table["backward"]:
            r = hook(self.module, grad_input, self.grad_output)
            if r is not None:
                r = r if isinstance(r, tuple) else (r,)
                if len(r) != len(grad_input):
                    raise ValueError(f"backward hook of {type(self.module).__name__}: "
                                     f"returned {len(r)} gradients for {len(grad_input)} "
                                     f"inputs")
                grad_input = r
        return grad_input


def _dtype_of(x, where, takes="a dtype (e.g. zeroin.float32), a device ('cpu') or a tensor",
              floats="float32 or float64"):
    """The floating dtype ``x`` names, for ``Module.to`` and ``Module.type`` (``where``)."""
    try:
        dt = np.dtype(x)
    except TypeError:
        raise TypeError(f"{where}: expected {takes}, got {x!r}") from None
    if dt.kind != "f":
        raise TypeError(f"{where}: module parameters must be floating point, got {dt}; "
                        f"use {floats}")
    return dt


def _device(x, where):
    name = str(getattr(x, "type", x)).split(":")[0]
    if name != "cpu":
        raise RuntimeError(f"{where}: zeroin runs on the CPU only, got device {x!r}; use "
                           f"'cpu' (or leave the device out)")


def parse_to(op, args, kwargs):
    """The dtype asked for by ``Module.to(...)`` (None: keep), checking any device."""
    dtype = kwargs.pop("dtype", None)
    if "device" in kwargs:
        _device(kwargs.pop("device"), f"{op}.to")
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"{op}.to: unexpected keyword(s) {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            if a.dtype.kind == "f":
                dtype = a.dtype
        elif type(a).__name__ == "device" or (isinstance(a, str) and a.split(":")[0] in
                                                 ("cpu", "cuda", "mps", "xpu", "meta")):
            _device(a, f"{op}.to")
        elif isinstance(a, bool):
            continue                # non_blocking given positionally
        else:
            dtype = _dtype_of(a, f"{op}.to")
    return None if dtype is None else _dtype_of(dtype, f"{op}.to")
