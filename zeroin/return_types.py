"""PyTorch's ``torch.return_types``: the type of each op's ``(values, indices)`` pair.

``isinstance(x.max(1), zeroin.return_types.max)``; every one is a
:class:`zeroin.ops.ValuesIndices` (a named tuple: unpack it, or read ``.values`` and
``.indices``), printed as PyTorch prints its own.
"""
from .ops import values_indices as _values_indices

__all__ = ["cummax", "cummin", "kthvalue", "max", "median", "min", "mode", "nanmedian",
           "sort", "topk"]


def _type(op):
    """The class :func:`zeroin.ops.values_indices` makes (and keeps) for ``op``."""
    return type(_values_indices(op, None, None))


cummax = _type("cummax")
cummin = _type("cummin")
kthvalue = _type("kthvalue")
max = _type("max")          # noqa: A001 (PyTorch's name)
median = _type("median")
min = _type("min")          # noqa: A001
mode = _type("mode")
nanmedian = _type("nanmedian")
sort = _type("sort")
topk = _type("topk")
