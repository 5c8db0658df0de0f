"""Which module ran which op: the record that TensorBoard's ``add_graph`` and
``zeroin.draw(..., modules=)`` share.

:func:`record` puts a forward pre-hook and a forward hook on every submodule of a model
while a block runs and notes each call (the module, its path, its tensor inputs and
outputs, the call it ran inside). :func:`owners` then walks the recorded graph: an op
result belongs to the innermost call whose outputs it leads to without passing that
call's inputs. Nothing is added to recording ops, and ``Module.__call__`` stays one dict
lookup: the hooks and the hook tables they made are taken away when the block ends.
"""
from __future__ import annotations

from contextlib import contextmanager

__all__ = ["Call", "ModuleCalls", "record", "owners", "flat_tensors"]


class Call:
    """One call of a module: ``path`` (``"fc1"``, ``""`` for the model), ``module``,
    tensor ``inputs`` and ``outputs``, the ``parent`` call it ran inside (or None), and
    ``number`` / ``times``: which of the module's calls in the record it is, of how many."""
    __slots__ = ("path", "module", "inputs", "outputs", "parent", "number", "times")

    def __init__(self, path, module, inputs, parent, number):
        self.path, self.module, self.inputs, self.parent = path, module, inputs, parent
        self.outputs, self.number, self.times = [], number, 1

    @property
    def label(self):
        """``fc1 (Linear)``; the model itself by its class; ``, call 2`` when the module
        ran more than once (a layer reused, or the model called twice)."""
        name = type(self.module).__name__
        text = f"{self.path} ({name})" if self.path else name
        return text + (f", call {self.number}" if self.times > 1 else "")

    def __repr__(self):
        return f"<Call {self.label}>"


class ModuleCalls(list):
    """The calls of ``model``'s modules recorded by :func:`record`, in the order they
    finished (a module's inner calls before it)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def __repr__(self):
        return f"<ModuleCalls of {type(self.model).__name__}: {len(self)} calls>"


def flat_tensors(x):
    """The tensors in ``x`` (a tensor, or nested tuples, lists and dicts of them)."""
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, dict):
        x = list(x.values())
    return [t for v in x for t in flat_tensors(v)] if isinstance(x, (list, tuple)) else []


_TABLE_KEYS = ("_hooks", "_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks",
               "_backward_hooks", "_forward_pre_hooks_with_kwargs",
               "_forward_hooks_with_kwargs", "_forward_hooks_always_called")


@contextmanager
def record(model):
    """``with record(model) as calls:`` run the model; ``calls`` is a :class:`ModuleCalls`.
    Afterwards the modules are as before (no hooks, no hook tables they did not have)."""
    calls, open_, counts = ModuleCalls(model), [], {}
    fresh = [m for _, m in model.named_modules() if "_hooks" not in m.__dict__]

    def pre(mod, args, kwargs, path):
        counts[id(mod)] = counts.get(id(mod), 0) + 1
        parent = open_[-1] if open_ else None
        ins = flat_tensors(args) + flat_tensors(kwargs)     # attn(query=x, ...) too
        open_.append(Call(path, mod, ins, parent, counts[id(mod)]))

    def post(mod, args, out):
        while open_:                  # a call whose forward raised is dropped
            c = open_.pop()
            if c.module is mod:
                c.outputs = flat_tensors(out)
                calls.append(c)
                break

    handles = []
    for path, m in model.named_modules():
        handles.append(m.register_forward_pre_hook(
            lambda mod, a, kw, p=path: pre(mod, a, kw, p), with_kwargs=True))
        handles.append(m.register_forward_hook(post))
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()
        for m in fresh:               # Module.__call__ back on its one-lookup path
            d = m.__dict__
            if not any(d.get(k) for k in _TABLE_KEYS[1:]):
                for k in _TABLE_KEYS:
                    d.pop(k, None)
        for c in calls:
            c.times = counts[id(c.module)]


def owners(order, calls):
    """{id(t): the innermost call that computed t} for the op results in ``order`` (a
    topological order): t leads to the call's outputs without passing its inputs."""
    rank = {id(t): i for i, t in enumerate(order)}
    owner = {}
    for c in calls:
        stop = {id(t) for t in c.inputs}
        reach = {id(t) for t in c.outputs if id(t) not in stop}
        top = max([rank.get(k, -1) for k in reach], default=-1)
        for t in reversed(order[:top + 1]):
            if id(t) in reach and t.grad_fn is not None:
                owner.setdefault(id(t), c)
                reach.update(id(p) for p in t.grad_fn.inputs if id(p) not in stop)
    return owner
