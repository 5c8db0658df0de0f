"""NumPy's ``axis=`` / ``keepdims=`` as aliases of ``dim=`` / ``keepdim=`` for the ops whose
own signature lacks them, as PyTorch's argument parser accepts them for every built-in op
(d2l's ``A.cumsum(axis=0)``). The reductions (``sum``, ``mean``, ``max``...) take them
themselves; ops PyTorch writes in Python (``split``, ``unique``, ``norm``, ``F.softmax``)
refuse them there, so they are not listed here."""
from __future__ import annotations

import functools

from . import ops as _ops
from ._tensor import Tensor

_BOTH = ("aminmax", "argsort", "chunk", "cross", "cummax", "cummin", "cumprod", "cumsum",
         "diff", "gather", "index_add", "index_copy", "index_fill", "index_reduce",
         "index_select", "kthvalue", "logcumsumexp", "median", "mode", "nanmean",
         "nanmedian", "nanquantile", "nansum", "narrow", "quantile", "renorm",
         "repeat_interleave", "scatter", "scatter_add", "scatter_reduce", "select",
         "select_scatter", "slice_scatter", "sort", "split_with_sizes", "take_along_dim",
         "tensor_split", "topk", "unbind", "unsafe_chunk", "unsafe_split",
         "unsafe_split_with_sizes")
FUNCTIONS = _BOTH + ("cosine_similarity", "count_nonzero", "cumulative_trapezoid",
                     "frobenius_norm", "gradient", "nuclear_norm", "std_mean", "trapezoid",
                     "trapz", "unflatten", "var_mean")
METHODS = _BOTH


def _rename(kwargs, alias, name, op):
    if alias in kwargs:
        if name in kwargs:      # PyTorch: "got an unexpected keyword argument 'axis'"
            raise TypeError(f"{op}: got {name}= and {alias}=; {alias} is an alias of "
                            f"{name}, give one of them")
        kwargs[name] = kwargs.pop(alias)


def _aliased(name, fn):
    @functools.wraps(fn)
    def f(*args, **kwargs):
        if kwargs:
            _rename(kwargs, "axis", "dim", name)
            _rename(kwargs, "keepdims", "keepdim", name)
        return fn(*args, **kwargs)
    f._axis_alias = True
    return f


def install(namespace):
    """Wrap each listed op once: in ``namespace`` (zeroin's globals), in the op registry and
    on Tensor."""
    made = {}

    def wrap(name, fn):
        if not callable(fn) or getattr(fn, "_axis_alias", False):
            return fn
        if id(fn) not in made:
            made[id(fn)] = _aliased(name, fn)
        return made[id(fn)]

    for name in FUNCTIONS:
        if name in namespace:
            namespace[name] = wrap(name, namespace[name])
        if name in _ops.OPS:
            _ops.OPS[name] = _ops.OPS[name]._replace(fn=wrap(name, _ops.OPS[name].fn))
    for name in METHODS:
        if getattr(Tensor, name, None) is not None:
            setattr(Tensor, name, wrap(name, getattr(Tensor, name)))
