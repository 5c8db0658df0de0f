"""``torch.func``'s basics: :func:`functional_call` (a module run with other tensors in
place of its parameters and buffers) and :func:`grad` / :func:`grad_and_value` (a function
that returns the gradient of a scalar function), built on :func:`zeroin.grad`.

zeroin has no batching transform: ``vmap``, ``jacrev``/``jacfwd`` and ``hessian`` of
``torch.func`` are not here (``zeroin.autograd.functional`` has ``jacobian`` and
``hessian``; loop over the batch and ``zeroin.stack`` the results instead of ``vmap``).
"""
from __future__ import annotations

import functools
from contextlib import contextmanager

from ._tensor import Tensor, enable_grad

__all__ = ["functional_call", "grad", "grad_and_value", "vmap"]


# --- functional_call --------------------------------------------------------------------

def _merge(dicts):
    if isinstance(dicts, dict):
        return dict(dicts)
    if isinstance(dicts, (list, tuple)):
        if not all(isinstance(d, dict) for d in dicts):
            raise ValueError("Expected all elements of parameter_and_buffer_dicts to be "
                             "dictionaries")
        counts = {}
        for d in dicts:
            for k in d:
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
        return {k: v for d in dicts for k, v in d.items()}
    raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple "
                     f"of dicts, but got {type(dicts)}")


def _tie(module, values):
    """PyTorch's tie_weights: a value given for one name of a tensor the module holds
    under several names (tied weights) goes to all of them."""
    names = {}
    for n, t in list(module.named_parameters(remove_duplicate=False)) + \
            list(module.named_buffers(remove_duplicate=False)):
        names.setdefault(id(t), set()).add(n)
    tied = {n: group for group in names.values() if len(group) > 1 for n in group}
    out = dict(values)
    for n in values:
        if n in tied:
            given = {id(values[m]) for m in tied[n] if m in values}
            if len(given) > 1:
                raise ValueError(f"functional_call got multiple values for keys "
                                 f"{sorted(tied[n])}, which are tied. Consider using "
                                 f"tie_weights=False")
            for m in tied[n]:
                out[m] = values[n]
    return out


_MISSING = object()


@contextmanager
def _swapped(module, values):
    """Put ``values`` ({path: tensor}) in place of the module's tensors; put the module's
    own back afterwards, whatever happens."""
    done = []
    try:
        for path, value in values.items():
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"functional_call: the value for {path!r} is a "
                                f"{type(value).__name__}, not a tensor")
            owner_path, _, name = path.rpartition(".")
            owner = module.get_submodule(owner_path)
            d = owner.__dict__
            if name in type(owner).__dict__.get("_parametrized_names", ()):
                # PyTorch's: the value replaces the parametrized tensor (the
                # parametrization is not applied to it; give ...original for that)
                d.setdefault("_functional_values", {})[name] = value
                done.append((owner, name, "_functional_values", None))
                continue
            reg = next((r for r in ("_parameters", "_buffers") if name in d[r]), None)
            done.append((owner, name, reg, d[reg][name] if reg else d.get(name, _MISSING)))
            if reg:
                d[reg][name] = value
            d[name] = value
        yield
    finally:
        for owner, name, reg, old in reversed(done):
            d = owner.__dict__
            if reg == "_functional_values":
                given = d[reg]
                given.pop(name, None)
                if not given:
                    del d[reg]
                continue
            if reg:
                d[reg][name] = old
            if old is _MISSING:
                d.pop(name, None)
            else:
                d[name] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with the tensors in ``parameter_and_buffer_dicts`` (a
    dict ``{"0.weight": t, ...}`` as ``named_parameters()`` names them, or a tuple of
    such dicts) in place of the module's own, which are back, untouched, afterwards.
    Gradients flow to the tensors given. ``args`` that is not a tuple is one argument.
    ``strict=True`` refuses missing and unexpected names; ``tie_weights`` gives a value
    for one of several tied names to all of them (PyTorch's ``torch.func.functional_call``).
    """
    values = _merge(parameter_and_buffer_dicts)
    if tie_weights:
        values = _tie(module, values)
    if strict:
        known = [n for n, _ in module.named_parameters(remove_duplicate=False)] + \
            [n for n, _ in module.named_buffers(remove_duplicate=False)]
        msgs = []
        unexpected = [k for k in values if k not in known]
        missing = [k for k in known if k not in values]
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:"
                               f"\n\t" + "\n\t".join(msgs))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values):
        return module(*args, **(kwargs or {}))


# --- grad, grad_and_value ---------------------------------------------------------------

def _flatten(tree, out):
    """The tensors of a nested tuple / list / dict, in order, and a function that puts new
    values in their places."""
    if isinstance(tree, Tensor):
        out.append(tree)
        return lambda it: next(it)
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t, out) for t in tree]
        return lambda it: type(tree)(p(it) for p in parts)
    if isinstance(tree, dict):
        parts = {k: _flatten(v, out) for k, v in tree.items()}
        return lambda it: {k: p(it) for k, p in parts.items()}
    return lambda it: tree


def _argnums(argnums, n, api):
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        nums, single = (argnums,), True
    elif isinstance(argnums, tuple) and argnums and \
            all(isinstance(a, int) and not isinstance(a, bool) for a in argnums):
        nums, single = argnums, False
    else:
        raise RuntimeError(f"{api}: argnums must be int or Tuple[int, ...] (non-empty), got: "
                           f"{argnums!r}")
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"{api}: Got argnum={a}, but only {n} positional inputs")
    nums = tuple(a % n for a in nums)
    if len(set(nums)) != len(nums):
        raise RuntimeError(f"{api}: argnums elements must be unique, got {argnums}")
    return nums, single


def _differentiable(t):
    """A stand-in for ``t`` that requires grad: joined to ``t``'s graph when ``t`` is in
    one (a grad of a grad differentiates through it), a fresh leaf otherwise."""
    if t.requires_grad:
        return t.view_as(t)
    if t.dtype.kind != "f":
        raise RuntimeError(f"grad: only floating point tensors can be differentiated; an "
                           f"argument has dtype {t.dtype} (pass floats, or leave it out of "
                           f"argnums)")
    return t.detach().requires_grad_()


def _outer_dependence(tensors, own):
    """Whether ``tensors`` depend on a tensor that requires grad other than ``own`` (the
    stand-ins made here): only then are the results kept in the graph."""
    from .graph import toposort
    roots = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
    own = {id(t) for t in own}
    return any(t.grad_fn is None and t.requires_grad and id(t) not in own
               for t in toposort(roots, include_leaves=True))


def _grad_and_value(func, argnums, has_aux, api, args, kwargs):
    from .autograd import grad as autograd_grad
    nums, single = _argnums(argnums, len(args), api)
    args = list(args)
    own, rebuild = [], []
    for a in nums:
        flat = []
        build = _flatten(args[a], flat)
        stand = [_differentiable(t) for t in flat]
        own += stand
        rebuild.append((build, stand))
        args[a] = build(iter(stand))
    with enable_grad():
        output = func(*args, **kwargs)
        if has_aux:
            if not (isinstance(output, tuple) and len(output) == 2):
                raise RuntimeError(f"{api}(f)(*args): output of function f should be a "
                                   f"tuple: (output, aux) if has_aux is True")
            output, aux = output
        if not isinstance(output, Tensor):
            raise RuntimeError(f"{api}(f)(*args): Expected f(*args) to return a Tensor, got "
                               f"{type(output)}")
        if output.ndim != 0:
            raise RuntimeError(f"{api}(f)(*args): Expected f(*args) to return a scalar "
                               f"Tensor, got tensor with {output.ndim} dims. Maybe you "
                               f"wanted to use the vjp or jacrev APIs instead? (here: "
                               f"zeroin.autograd.functional.vjp / jacobian)")
        grads = autograd_grad(output, own, create_graph=True, allow_unused=True,
                              materialize_grads=True)
    keep = _outer_dependence(list(grads) + [output], own)
    if not keep:
        grads = [g.detach() for g in grads]
        output = output.detach()
    it = iter(grads)
    parts = [build(iter([next(it) for _ in stand])) for build, stand in rebuild]
    g = parts[0] if single else tuple(parts)
    return g, ((output, aux) if has_aux else output)


def grad_and_value(func, argnums=0, has_aux=False):
    """``func`` made into a function returning ``(gradient, value)``: the gradient of its
    scalar result with respect to the argument(s) ``argnums`` (each a tensor or a nested
    tuple / list / dict of tensors, returned in the same structure). With ``has_aux``,
    ``func`` returns ``(value, aux)`` and the result is ``(gradient, (value, aux))``.
    Nested (``grad(grad(f))``) gives higher derivatives."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _grad_and_value(func, argnums, has_aux, "grad_and_value", args, kwargs)
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``func`` made into a function returning the gradient of its scalar result (see
    :func:`grad_and_value`); with ``has_aux``, ``(gradient, aux)``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = _grad_and_value(func, argnums, has_aux, "grad", args, kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vmap(func, *args, **kwargs):
    """Not in zeroin (no batching transform): raises, saying what to write instead."""
    raise NotImplementedError("vmap: zeroin has no batching transform; call the function "
                              "once per example and stack the results (zeroin.stack([f(x) "
                              "for x in xs])), or write it for a batch")
