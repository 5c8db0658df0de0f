"""``torch.func`` on zeroin: :func:`functional_call` (a module run with other tensors in
place of its parameters and buffers), :func:`stack_module_state`, :func:`grad` /
:func:`grad_and_value`, :func:`vjp`, :func:`jvp`, :func:`linearize`, :func:`jacrev`,
:func:`jacfwd`, :func:`hessian` and :func:`vmap`, with torch.func's signatures (argnums,
has_aux, pytrees of tensors: nested tuples, lists and dicts) and results.

All are built on :func:`zeroin.grad` (reverse mode): ``jacfwd`` gives ``jacrev``'s values,
``jvp`` uses the double-vjp trick. ``vmap`` loops: it calls the function once per slice of
the mapped dimension and stacks the outputs, so it has torch's results (and gradients flow
through it) at the speed of a Python loop; see :func:`vmap` for where a loop differs.
"""
from __future__ import annotations

import functools
import weakref
from contextlib import contextmanager

import numpy as np

from ._tensor import FAST as _FAST
from ._tensor import Tensor, _leaf, enable_grad, no_grad
from .errors import a_type

__all__ = ["functional_call", "stack_module_state", "grad", "grad_and_value", "vjp", "jvp",
           "linearize", "jacrev", "jacfwd", "hessian", "vmap", "replace_all_batch_norm_modules_"]


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
                raise TypeError(f"functional_call: the value for {path!r} is "
                                f"{a_type(value)}, not a tensor")
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


def _differentiable(t, api="grad"):
    """A stand-in for ``t`` that requires grad: joined to ``t``'s graph when ``t`` is in
    one (a grad of a grad differentiates through it), a fresh leaf otherwise."""
    if t.requires_grad:
        return t.view_as(t)
    if t.dtype.kind != "f":
        raise RuntimeError(f"{api}: only floating point tensors can be differentiated; an "
                           f"argument has dtype {t.dtype} (pass floats, or leave it out of "
                           f"argnums)")
    return t.detach().requires_grad_()


# Stand-ins of transforms that have returned, by id (dropped with the tensor): nothing
# outside can differentiate with respect to them, so they are not tensors from outside.
_RETIRED = {}


def _retired(t):
    ref = _RETIRED.get(id(t))
    return ref is not None and ref() is t


def _outer_dependence(tensors, own):
    """Whether ``tensors`` depend on a tensor that requires grad other than ``own`` (the
    stand-ins made here) and the stand-ins of inner transforms that have returned (a grad
    over parameters of a grad in x): only then are the results kept in the graph. Retires
    ``own``'s leaves."""
    from .graph import toposort
    roots = [t for t in tensors if isinstance(t, Tensor) and t.requires_grad]
    ids = {id(t) for t in own}
    outer = any(t.grad_fn is None and t.requires_grad and id(t) not in ids
                and not _retired(t) for t in toposort(roots, include_leaves=True))
    for t in own:
        if t.grad_fn is None and id(t) not in _RETIRED:
            _RETIRED[id(t)] = weakref.ref(t, lambda _, i=id(t): _RETIRED.pop(i, None))
    return outer


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
                               f"wanted to use the vjp or jacrev APIs instead?")
        grads = _zeros_for_unused(autograd_grad(output, own, create_graph=True,
                                                allow_unused=True), own)
    keep = _outer_dependence(list(grads) + [output], own)
    if not keep:
        grads = [g.detach() for g in grads]
        output = output.detach()
    it = iter(grads)
    parts = [build(iter([next(it) for _ in stand])) for build, stand in rebuild]
    g = parts[0] if single else tuple(parts)
    return g, ((output, _released(aux, own)) if has_aux else output)


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




# --- pytrees: nested tuples, lists and dicts ------------------------------------------------

def _is_node(x):
    return type(x) in (tuple, list, dict) or (isinstance(x, tuple) and hasattr(x, "_fields"))


def _tree_flatten(tree, leaves):
    """Append ``tree``'s leaves (anything but a tuple, namedtuple, list or dict) to
    ``leaves``; return its structure (None for a leaf) for :func:`_tree_unflatten`."""
    if not _is_node(tree):
        leaves.append(tree)
        return None
    if isinstance(tree, dict):
        return dict, tuple(tree), tuple(_tree_flatten(v, leaves) for v in tree.values())
    return type(tree), len(tree), tuple(_tree_flatten(v, leaves) for v in tree)


def _tree_unflatten(spec, it):
    if spec is None:
        return next(it)
    kind, keys, children = spec
    values = [_tree_unflatten(c, it) for c in children]
    if kind is dict:
        return dict(zip(keys, values))
    return kind(*values) if hasattr(kind, "_fields") else kind(values)


def _spec_str(spec):
    """A structure as text: ``*`` for a leaf, e.g. ``(*, [*, *], {'a': *})``."""
    if spec is None:
        return "*"
    kind, keys, children = spec
    inner = [_spec_str(c) for c in children]
    if kind is dict:
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(keys, inner)) + "}"
    if kind is list:
        return "[" + ", ".join(inner) + "]"
    text = ", ".join(inner) + ("," if len(inner) == 1 else "")
    return f"({text})" if kind is tuple else f"{kind.__name__}({text})"


def _n_leaves(spec):
    return 1 if spec is None else sum(_n_leaves(c) for c in spec[2])


def _broadcast_prefix(prefix, spec, out):
    """Flatten ``prefix`` (in_dims / out_dims) against the structure ``spec`` into ``out``:
    a leaf of ``prefix`` stands for a whole subtree. False when they do not match."""
    if not _is_node(prefix):
        out.extend([prefix] * _n_leaves(spec))
        return True
    if spec is None or type(prefix) is not spec[0]:
        return False
    kind, keys, children = spec
    if kind is dict:
        if set(prefix) != set(keys):
            return False
        values = [prefix[k] for k in keys]
    elif len(prefix) != keys:
        return False
    else:
        values = list(prefix)
    return all(_broadcast_prefix(p, c, out) for p, c in zip(values, children))


def _released(tree, own):
    """``tree`` with its tensors detached unless they depend on a tensor that requires
    grad other than the stand-ins ``own`` (then a grad or jacobian of it is taken)."""
    leaves = []
    spec = _tree_flatten(tree, leaves)
    if _outer_dependence([t for t in leaves if isinstance(t, Tensor)], own):
        return tree
    return _tree_unflatten(spec, iter([t.detach() if isinstance(t, Tensor) else t
                                       for t in leaves]))


# --- vjp, jvp, linearize, jacrev, jacfwd, hessian ---------------------------------------

def _stand_ins(args, nums, api):
    """``args`` with the tensors of the arguments ``nums`` replaced by stand-ins that
    require grad; also the flat stand-ins and each such argument's structure."""
    args = list(args)
    own, specs = [], []
    for a in nums:
        flat = []
        spec = _tree_flatten(args[a], flat)
        for t in flat:
            if not isinstance(t, Tensor):
                raise RuntimeError(f"{api}: Expected the differentiated arguments to only "
                                   f"contain Tensors, got {type(t)} (leave it out of argnums)")
        stand = [_differentiable(t, api) for t in flat]
        own += stand
        specs.append((spec, len(stand)))
        args[a] = _tree_unflatten(spec, iter(stand))
    return args, own, specs


def _call(func, args, has_aux, api, fname="f(*primals)"):
    """``func(*args)`` with grad on: (output pytree, its flat tensors, structure, aux)."""
    with enable_grad():
        output = func(*args)
    aux = None
    if has_aux:
        if not (isinstance(output, tuple) and len(output) == 2):
            raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) "
                               f"if has_aux is True")
        output, aux = output
    outs = []
    spec = _tree_flatten(output, outs)
    for o in outs:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected {fname} to return only tensors, got "
                               f"unsupported type {type(o)}")
    return output, outs, spec, aux


def _per_argument(grads, specs, single):
    """Flat gradients, one per stand-in, put back in the arguments' structures."""
    it = iter(grads)
    parts = [_tree_unflatten(spec, iter([next(it) for _ in range(n)])) for spec, n in specs]
    return parts[0] if single else tuple(parts)


def _vjp_grads(outs, cots, own):
    """Gradients of ``outs`` with ``cots`` for the stand-ins ``own`` (zeros where none
    reaches), in the graph (create_graph), keeping the forward graph for the next call."""
    from .autograd import grad as autograd_grad
    for i, (o, c) in enumerate(zip(outs, cots)):
        if not isinstance(c, Tensor) or tuple(c.shape) != tuple(o.shape):
            got = tuple(c.shape) if isinstance(c, Tensor) else type(c).__name__
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {got} "
                               f"and output[{i}] has a shape of {tuple(o.shape)}.")
    pairs = [(o, c) for o, c in zip(outs, cots) if o.requires_grad]
    if not pairs:
        return [_zeros(tuple(t.shape), t.dtype) for t in own]
    with enable_grad():
        return _zeros_for_unused(autograd_grad(
            [o for o, _ in pairs], own, [c for _, c in pairs], retain_graph=True,
            create_graph=True, allow_unused=True), own)


def _zeros_for_unused(grads, own):
    """``grads`` with zeros that do not require grad for the stand-ins nothing reached
    (``materialize_grads`` makes zeros that require grad under ``create_graph``: leaves
    that look like an outer tensor, so the results stayed in a graph)."""
    return [_zeros(tuple(t.shape), t.dtype) if g is None else g for g, t in zip(grads, own)]


def vjp(func, *primals, has_aux=False):
    """``(func(*primals), vjp_fn)`` (``(output, vjp_fn, aux)`` with ``has_aux``):
    ``vjp_fn(cotangents)``, with cotangents shaped as the output (a pytree), returns the
    vector-Jacobian products, a tuple with one entry per primal. ``vjp_fn`` can be called
    again (the graph is kept while it lives). torch.func.vjp."""
    api = "vjp(f, *primals)"
    args, own, specs = _stand_ins(primals, range(len(primals)), api)
    output, outs, ospec, aux = _call(func, args, has_aux, api)

    def vjp_fn(cotangents):
        cots = []
        cspec = _tree_flatten(cotangents, cots)
        if cspec != ospec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{_spec_str(cspec)}, primal output: {_spec_str(ospec)}")
        grads = _released(_vjp_grads(outs, cots, own), own)
        return tuple(_per_argument(grads, specs, False))

    output = _released(output, own)
    return (output, vjp_fn, _released(aux, own)) if has_aux else (output, vjp_fn)


def _check_tangents(primals, tangents, api):
    """Flat primals and tangents after torch.func's checks of their structures and shapes."""
    pl, tl = [], []
    ps, ts = _tree_flatten(primals, pl), _tree_flatten(tangents, tl)
    if ps != ts:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure "
                           f"{_spec_str(ps)} and tangents with structure {_spec_str(ts)}")
    for name, flat in (("primals", pl), ("tangents", tl)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for t in flat:
            if not isinstance(t, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got "
                                   f"{type(t)}")
    for p, t in zip(pl, tl):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"Trying to set a forward gradient that has a different size "
                               f"than that of the original Tensor, this is not supported. "
                               f"Tensor is of size {list(p.shape)} while the given forward "
                               f"gradient is of size {list(t.shape)}.")
    return tl


def _double_vjp(outs, own):
    """The double-vjp trick's first half: dummy cotangents ``us`` for ``outs`` and the
    vjp ``gs`` of ``outs`` with them, which is linear in ``us``: the gradient of ``gs``
    with tangents as cotangents, taken wrt ``us``, is the Jacobian-vector product."""
    from ._creation import zeros_like
    us = [zeros_like(o).requires_grad_(o.requires_grad) for o in outs]
    gs = _vjp_grads(outs, us, own)
    return us, gs


def _double_vjp_apply(us, gs, tangents, strict=False):
    from .autograd import grad as autograd_grad
    pairs = [(g, t) for g, t in zip(gs, tangents) if g.requires_grad]
    if not pairs or not any(u.requires_grad for u in us):
        if strict:
            raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                               "independent of the inputs. This is not allowed with "
                               "strict=True.")
        return [_zeros(tuple(u.shape), u.dtype) for u in us]
    live = [u for u in us if u.requires_grad]
    with enable_grad():
        got = iter(autograd_grad([g for g, _ in pairs], live, [t for _, t in pairs],
                                 retain_graph=True, create_graph=True, allow_unused=True,
                                 materialize_grads=True))
    return [next(got) if u.requires_grad else u for u in us]


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """``(func(*primals), jvp_out)`` (``(output, jvp_out, aux)`` with ``has_aux``): the
    Jacobian of ``func`` at ``primals`` (a tuple) applied to ``tangents`` (the same
    structure). zeroin has no forward mode: computed with the double-vjp trick (two reverse
    passes), the same values as torch.func.jvp."""
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid "
                           f"to call f(*primals).")
    tl = _check_tangents(primals, tangents, api)
    args, own, _ = _stand_ins(primals, range(len(primals)), api)
    output, outs, ospec, aux = _call(func, args, has_aux, api)
    us, gs = _double_vjp(outs, own)
    jv = _double_vjp_apply(us, gs, tl, strict)
    jv = _released(_tree_unflatten(ospec, iter(jv)), own)
    output = _released(output, own)
    return (output, jv, _released(aux, own)) if has_aux else (output, jv)


def linearize(func, *primals):
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` gives the Jacobian-vector
    product at ``primals`` (torch.func.linearize). The forward pass and the first vjp of
    the double-vjp trick run once; each ``jvp_fn`` call is one reverse pass."""
    api = "linearize(f, *primals)"
    args, own, _ = _stand_ins(primals, range(len(primals)), api)
    output, outs, ospec, _ = _call(func, args, False, api)
    pl = []
    ps = _tree_flatten(primals, pl)
    us, gs = _double_vjp(outs, own)

    def jvp_fn(*tangents):
        tl = []
        ts = _tree_flatten(tangents, tl)
        if ts != ps:
            raise RuntimeError(f"Expected the tangents {_spec_str(ts)} to have the same "
                               f"argspec as the primals {_spec_str(ps)}")
        for i, (p, t) in enumerate(zip(pl, tl)):
            for what, a, b in (("shape", tuple(t.shape), tuple(p.shape)),
                               ("dtype", t.dtype, p.dtype)):
                if a != b:
                    raise RuntimeError(f"tangent:{i} with {what} {a} in flattened pytree "
                                       f"doesn't match the {what} {b} of the corresponding "
                                       f"primal.")
        return _released(_tree_unflatten(ospec, iter(_double_vjp_apply(us, gs, tl))), own)

    return _released(output, own), jvp_fn


def _jacobian(func, argnums, has_aux, api, args):
    """The Jacobian of each output wrt each argument in ``argnums``: one reverse pass per
    output element; each block shaped ``output.shape + input.shape``."""
    from .ops import stack
    nums, single = _argnums(argnums, len(args), api)
    args, own, specs = _stand_ins(args, nums, api)
    output, outs, ospec, aux = _call(func, args, has_aux, api, "f(*args)")
    blocks = []
    for o in outs:
        rows = []
        if o.requires_grad:
            for j in range(o.numel()):
                e = np.zeros(o.numel(), dtype=o.dtype)
                e[j] = 1
                rows.append(_vjp_grads([o], [_leaf(e.reshape(o.shape))], own))
        jac = [stack([r[k] for r in rows]).reshape(tuple(o.shape) + tuple(t.shape))
               if rows else _zeros(tuple(o.shape) + tuple(t.shape), t.dtype)
               for k, t in enumerate(own)]
        blocks.append(_per_argument(jac, specs, single))
    jac = _released(_tree_unflatten(ospec, iter(blocks)), own)
    return (jac, _released(aux, own)) if has_aux else jac


def _zeros(shape, dtype):
    return _leaf(np.zeros(shape, dtype=dtype))


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None, _preallocate_and_copy=False):
    """``func`` made into a function returning its Jacobian wrt the argument(s)
    ``argnums`` (torch.func.jacrev): for each output (a pytree), blocks shaped
    ``output.shape + input.shape`` in the arguments' structure (a tuple of them for a
    tuple ``argnums``); with ``has_aux``, ``(jacobian, aux)``. One reverse pass per output
    element (``chunk_size`` is checked and changes nothing). Nests: ``jacrev(jacrev(f))``."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        return _jacobian(func, argnums, has_aux, "jacrev", args)
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """torch.func.jacfwd's signature and values, computed as :func:`jacrev` (zeroin has no
    forward mode). ``randomness`` as in :func:`vmap` (torch's jacfwd runs ``func`` under
    vmap): 'error' refuses random draws in ``func``."""
    _check_randomness(randomness)

    @functools.wraps(func)
    def wrapper(*args):
        with _random_mode(randomness):
            return _jacobian(func, argnums, has_aux, "jacfwd", args)
    return wrapper


def hessian(func, argnums=0):
    """The Hessian of a scalar ``func`` wrt ``argnums``: ``jacfwd(jacrev(func, argnums),
    argnums)``, as torch.func.hessian."""
    return jacfwd(jacrev(func, argnums), argnums)


def replace_all_batch_norm_modules_(root):
    """Make every BatchNorm in ``root`` (``root`` too) normalise with its batch's own
    statistics, in training and evaluation: ``running_mean``, ``running_var`` and
    ``num_batches_tracked`` become None and ``track_running_stats`` False, in place
    (PyTorch's patch before ``vmap`` over a model with BatchNorm). Returns ``root``."""
    from .nn.layers import _BatchNorm
    for m in root.modules():
        if isinstance(m, _BatchNorm) and m.track_running_stats:
            m.running_mean = m.running_var = m.num_batches_tracked = None
            m.track_running_stats = False
    return root


def stack_module_state(models):
    """``(params, buffers)``: dicts of each parameter and buffer of ``models`` (modules of
    one class, all in train or all in eval mode) stacked along a new first dimension, for
    ``vmap`` over ``functional_call`` (ensembles). Stacked parameters are new leaves that
    require grad (torch.func.stack_module_state)."""
    from .ops import stack
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({bool(m.training) for m in models}) > 1:
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    if any(type(m) is not type(models[0]) for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")

    def stacked(tensors, name):
        needs = {t.requires_grad for t in tensors}
        if len(needs) > 1:
            raise RuntimeError(f"Expected {name} from each model to have the same "
                               f".requires_grad")
        with no_grad():
            out = stack([t.detach() for t in tensors])
        return out.requires_grad_() if needs == {True} else out

    result = []
    for named in ("named_parameters", "named_buffers"):
        all_ = [dict(getattr(m, named)()) for m in models]
        result.append({k: stacked([d[k] for d in all_], k) for k in all_[0]})
    return tuple(result)


# --- vmap ---------------------------------------------------------------------------------

_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either "
                 "use the 'same' or 'different' randomness flags on vmap or perform the "
                 "randomness operation out of vmap")


def _check_randomness(randomness):
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', "
                           f"or 'same'. Got {randomness}")


def _refuse_draw():
    raise RuntimeError(_RANDOM_ERROR)


@contextmanager
def _random_mode(randomness):
    """Inside, a draw from zeroin's random functions raises ('error'); yields the function
    to call before each slice: for 'same' it puts zeroin's default generator back to its
    state at the start, so every slice draws the same numbers."""
    from . import random as zr
    state = zr.get_rng_state() if randomness == "same" else None

    def start_slice():
        if state is not None:
            zr.set_rng_state(state)

    if randomness != "error":
        yield start_slice
        return
    zr._draw_hooks.append(_refuse_draw)
    try:
        yield start_slice
    finally:
        zr._draw_hooks.remove(_refuse_draw)


def _name(func):
    return getattr(func, "__name__", repr(func))


def _mapped_inputs(func, in_dims, args):
    """Flat arguments, their structure, each one's in_dim and the batch size, after
    torch's checks (its messages)."""
    head = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"{head}: expected `in_dims` to be int or a (potentially nested) "
                         f"tuple matching the structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to "
                         f"add inputs, or you are trying to vmap over a function with no "
                         f"inputs. The latter is unsupported.")
    leaves, dims = [], []
    spec = _tree_flatten(args, leaves)
    if not _broadcast_prefix(in_dims, spec, dims):
        in_spec = _tree_flatten(in_dims, [])
        raise ValueError(f"{head}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {_spec_str(in_spec)} but inputs has "
                         f"structure {_spec_str(spec)}.")
    sizes = []
    for arg, d in zip(leaves, dims):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{head}: Got in_dim={d} for an input but in_dim must be either "
                             f"an integer dimension or None.")
        if not isinstance(arg, Tensor):
            raise ValueError(f"{head}: Got in_dim={d} for an input but the input is of type "
                             f"{type(arg)}. We cannot vmap over non-Tensor arguments, please "
                             f"use None as the respective in_dim")
        if not -arg.ndim <= d < arg.ndim:
            raise ValueError(f"{head}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {arg.ndim} so expected in_dim to "
                             f"satisfy -{arg.ndim} <= in_dim < {arg.ndim}.")
        sizes.append(arg.shape[d])
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(n != sizes[0] for n in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return leaves, spec, dims, sizes[0]


def _same(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
                and np.array_equal(a.data, b.data, equal_nan=a.dtype.kind in "fc"))
    try:
        return a is b or bool(a == b)
    except Exception:       # noqa: BLE001  (an == that is not a plain truth value)
        return False


def _unbatch(name, column, d):
    """One output's values from every slice joined along ``d`` (torch's out_dim)."""
    from .ops import stack
    if d is None:
        if not all(_same(column[0], c) for c in column[1:]):
            raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                             f"when out_dim is None (zeroin's vmap runs `{name}` once per "
                             f"slice, and this output differs between slices)")
        return column[0]
    for c in column:
        if not isinstance(c, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got "
                             f"type {type(c)}. Did you mean to set out_dims= to None for "
                             f"output?")
    shapes = sorted({tuple(c.shape) for c in column})
    if len(shapes) > 1:
        raise RuntimeError(f"vmap({name}, ...): `{name}` returned tensors of different shapes "
                           f"{shapes} for different slices; a batched function must give one "
                           f"shape per output (torch's vmap cannot run such a function either)")
    return stack(column, dim=d)


def _batched_outputs(name, outs, out_dims):
    """The outputs of the slices joined into one output pytree, torch's way."""
    per, spec = [], None
    for k, o in enumerate(outs):
        leaves = []
        s = _tree_flatten(o, leaves)
        if k and s != spec:
            raise ValueError(f"vmap({name}, ...): `{name}` returned {_spec_str(spec)} for one "
                             f"slice and {_spec_str(s)} for another; it must return one "
                             f"structure")
        spec = s
        per.append(leaves)
    dims = _out_dims(name, spec, out_dims)
    joined = [_unbatch(name, [leaves[j] for leaves in per], d) for j, d in enumerate(dims)]
    return _tree_unflatten(spec, iter(joined))


def _out_dims(name, spec, out_dims):
    """Each output leaf's out_dim, for the outputs' structure ``spec`` (torch's checks)."""
    if not all(isinstance(d, int) or d is None for d in _leaves(out_dims)):
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an int, "
                         f"None or a python collection of ints representing where in the "
                         f"outputs the vmapped dimension should appear.")
    dims = []
    if spec is None:            # one output (torch's edge case: a 1-tuple out_dims fits)
        ok = not isinstance(out_dims, (list, dict)) and \
            (not isinstance(out_dims, tuple) or len(out_dims) == 1)
        dims = list(out_dims) if isinstance(out_dims, tuple) else [out_dims]
    else:
        ok = _broadcast_prefix(out_dims, spec, dims)
    if not ok:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         f"compatible with the structure of `outputs`. out_dims has structure "
                         f"{_spec_str(_tree_flatten(out_dims, []))} but outputs has "
                         f"structure {_spec_str(spec)}.")
    return dims


def _flat_outputs(out):
    leaves = []
    return _tree_flatten(out, leaves), leaves


def _leaves(tree):
    out = []
    _tree_flatten(tree, out)
    return out


# The batched run (zeroin/_func_batch.py) is speed work: on with the fast path, off with
# ZEROIN_FAST=0, where vmap is the reference, the per-slice loop. False: always the loop.
_batching_on = _FAST


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over a dimension of its inputs (torch.func.vmap, also
    ``zeroin.vmap``): ``in_dims`` says which dimension of each argument is mapped (an int,
    or a tuple matching the arguments, nested for pytrees; None: not mapped), ``out_dims``
    where the mapped dimension goes in each output. Keyword arguments are not mapped.

    zeroin has no batching transform: this calls ``func`` once per slice (``select``) and
    stacks the outputs (``stack``), so the results and gradients are torch's (it nests, and
    ``vmap(grad(f))`` gives per-sample gradients). Batched run (with the fast path;
    ``ZEROIN_FAST=0`` always loops): with 3 slices or more and
    randomness='error', the calls of slice 0 and of the next slice whose values differ
    (usually 1) are logged; when their ops match, have batching rules (elementwise,
    matmul, linear, sums, shapes, elementwise losses), read no value into Python and
    change no tensor in place, the ops run once on the whole batch, recorded when an
    output needs a graph (the two rows checked against the calls to the bit; gradients
    through it equal the loop's to round-off; ``vmap(grad(loss))`` over 256 samples ~36x
    faster, a grad of a vmapped PINN residual 60x and more); otherwise the loop calls the
    other slices. ``randomness``: 'error' refuses draws from zeroin's random functions,
    'different' lets each slice draw its own, 'same' restarts zeroin's default generator
    for each slice. Where a loop differs from torch: ``.item()``, data-dependent control
    flow and in-place changes of captured tensors, which torch refuses, run (once per
    slice; they make it loop); Python side effects (print, appending to a list) happen
    once per slice in the loop, twice when batched (torch's vmap: once), and slices equal
    to slice 0 are called after the next one;
    out_dims=None compares the slices' outputs rather than tracking batching; a batch of
    size 0 is refused (no slice to call ``func`` on); ``chunk_size`` changes nothing."""
    _check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        leaves, spec, dims, n = _mapped_inputs(func, in_dims, args)
        if n == 0:
            raise ValueError(f"vmap({_name(func)}, ...): the mapped dimension has size 0; "
                             f"zeroin's vmap calls the function once per slice, so it cannot "
                             f"give the shape of an empty result: skip the call for an empty "
                             f"batch")
        outs, done = [], {}
        with _random_mode(randomness) as start_slice:
            if randomness == "error" and _batching_on:
                from . import _func_batch
                name = _name(func)
                tried = _func_batch.attempt(
                    func, leaves, spec, dims, n, kwargs,
                    lambda s: _out_dims(name, s, out_dims), _tree_unflatten, _flat_outputs)
                if tried.result is not None:
                    return _tree_unflatten(tried.spec, iter(tried.result))
                done = tried.outs       # {slice: output} of the slices it called
            for i in range(n):
                if i in done:
                    outs.append(done[i])
                    continue
                start_slice()
                sliced = [a if d is None else a.select(d, i) for a, d in zip(leaves, dims)]
                outs.append(func(*_tree_unflatten(spec, iter(sliced)), **kwargs))
        return _batched_outputs(_name(func), outs, out_dims)
    return wrapped
