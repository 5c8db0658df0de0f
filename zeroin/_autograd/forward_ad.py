"""``zeroin.autograd.forward_ad``: PyTorch's forward-mode API (dual tensors) on zeroin's
reverse-mode engine.

``make_dual(x, v)`` inside ``dual_level()`` gives a tensor carrying the tangent ``v``;
``unpack_dual(y).tangent`` is then ``J v``, the derivative of ``y`` along ``v``. zeroin
has no forward tangents flowing with each op: the dual is ``x`` plus a zero "seed" leaf
in the graph (an identity op of both), and ``unpack_dual`` computes ``J v`` when asked,
with the double-vjp trick of :func:`zeroin.func.jvp`: the vjp ``g(u) = J^T u`` with a
dummy cotangent ``u`` is linear in ``u``, so the gradient of ``<g(u), v>`` wrt ``u`` is
``J v`` (two reverse passes). The values are PyTorch's; the cost is a backward pass, not
a forward one.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from .._tensor import Tensor, enable_grad
from ..function import Function

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level",
           "make_dual", "unpack_dual"]

_LEVELS = []        # the open levels (one at most): {id(dual): (dual, seed, tangent)}


class UnpackedDualTensor(NamedTuple):
    """What :func:`unpack_dual` returns: the ``primal`` values and the ``tangent`` (None
    for a tensor that carries none)."""
    primal: Any
    tangent: Any


class _NotATensor(TypeError, AttributeError):
    """A tangent that is not a tensor (PyTorch fails with AttributeError)."""


class _DualOp(Function):
    """``make_dual``'s node: the primal's values, with a zero seed leaf as a second input
    that the tangent is read through (identity for both in backward)."""
    __slots__ = ()
    name = "make_dual"

    def forward(self, x, seed):
        return x

    def backward(self, xp, g, out, x, seed):
        return g, g


def enter_dual_level():
    """Open a dual level (only one at a time, as in PyTorch); returns its index."""
    if _LEVELS:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _LEVELS.append({})
    return len(_LEVELS) - 1


def exit_dual_level(*, level=None):
    """Close the level: its dual tensors carry no tangent any more."""
    level = len(_LEVELS) - 1 if level is None else level
    if not _LEVELS or level != len(_LEVELS) - 1:
        raise RuntimeError(f"exit_dual_level: level {level} is not the open dual level "
                           f"({len(_LEVELS) - 1 if _LEVELS else 'none is open'}); exit the "
                           f"level that enter_dual_level() returned")
    _LEVELS.pop()


class dual_level:
    """``with dual_level():`` opens a level for :func:`make_dual` and closes it after."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False


def _level(level, op):
    if not _LEVELS:
        return None
    if level is not None and level != len(_LEVELS) - 1:
        raise RuntimeError(f"{op}: level {level} is not the open dual level "
                           f"{len(_LEVELS) - 1}")
    return _LEVELS[-1]


def make_dual(tensor, tangent, *, level=None):
    """``tensor``'s values carrying ``tangent`` (same shape) as their derivative."""
    duals = _level(level, "make_dual")
    if duals is None:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    if not isinstance(tangent, Tensor):
        raise _NotATensor(f"make_dual: the tangent must be a tensor of the primal's shape, "
                          f"got {type(tangent).__name__}; wrap it: zeroin.tensor(...)")
    for what, t in (("primal", tensor), ("tangent", tangent)):
        if t.dtype.kind not in "fc":
            raise ValueError(f"Expected {what} to be floating point or complex, but got: "
                             f"{t.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    from .._creation import zeros_like
    seed = zeros_like(tensor).requires_grad_()
    with enable_grad():
        dual = _DualOp()(tensor, seed)
    duals[id(dual)] = (dual, seed, tangent.detach() if tangent.requires_grad else tangent)
    return dual


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)`` of ``tensor``: the tangent is ``J v`` for the duals it was
    computed from (None when it depends on none, or no level is open)."""
    duals = _level(level, "unpack_dual")
    if not duals or not isinstance(tensor, Tensor):
        return UnpackedDualTensor(tensor, None)
    entry = duals.get(id(tensor))
    if entry is not None and entry[0] is tensor:
        return UnpackedDualTensor(_primal(tensor, entry[1]), entry[2])
    if not tensor.requires_grad or tensor.dtype.kind not in "fc":
        return UnpackedDualTensor(tensor, None)
    from ..graph import toposort
    reached = {id(t) for t in toposort([tensor], include_leaves=True) if t.grad_fn is None}
    pairs = [(seed, v) for _, seed, v in duals.values() if id(seed) in reached]
    if not pairs:
        return UnpackedDualTensor(tensor, None)
    primal = _primal(tensor, {id(s) for s, _ in pairs})
    return UnpackedDualTensor(primal, _jvp(tensor, pairs, primal is tensor))


def _primal(tensor, seeds):
    """The values without the tangent: ``tensor`` itself if it also depends on a tensor
    that requires grad (reverse mode goes on through it), else detached."""
    from ..graph import toposort
    seeds = seeds if isinstance(seeds, set) else {id(seeds)}
    leaves = [t for t in toposort([tensor], include_leaves=True) if t.grad_fn is None]
    if any(t.requires_grad and id(t) not in seeds for t in leaves):
        return tensor
    return tensor.detach()


def _jvp(out, pairs, differentiable):
    """``sum_i J_i v_i`` by the double-vjp trick (see the module docstring); recorded
    (``differentiable``) when ``out`` depends on tensors that require grad, so that the
    tangent can be differentiated wrt them (reverse over forward), as in PyTorch."""
    from .._creation import zeros_like
    from ..autograd import grad
    u = zeros_like(out).requires_grad_()
    with enable_grad():
        gs = grad(out, [s for s, _ in pairs], u, retain_graph=True, create_graph=True,
                  allow_unused=True)
        live = [(g, v) for g, (_, v) in zip(gs, pairs) if g is not None and g.requires_grad]
        if not live:
            return zeros_like(out)
        (jv,) = grad([g for g, _ in live], [u], [v.to(g.dtype) for g, v in live],
                     create_graph=differentiable, allow_unused=True, materialize_grads=True)
    return jv if differentiable else jv.detach()
