"""Containers: ModuleList, ModuleDict, ParameterList, ParameterDict (PyTorch's).

They register what they hold, so ``model.parameters()`` and ``state_dict()`` see it; they
have no ``forward`` of their own.
"""
from __future__ import annotations

from collections import OrderedDict

from .._tensor import Tensor
from .module import Module, Parameter, _block
from ..errors import a_type

__all__ = ["ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Container"]


def _module(owner, key, m):
    if not isinstance(m, Module):
        hint = " (a class, not an instance: add ())" if isinstance(m, type) else ""
        raise TypeError(f"{owner}: item {key!r} is {a_type(m)}, not a Module{hint}")
    return m


def _parameter_lines(items, kind):
    """PyTorch's lines for a ParameterList (``kind`` the dtype: ``zeroin.float32``) or a
    ParameterDict (the type: ``zeroin.FloatTensor``)."""
    return "\n".join(f"  ({k}): Parameter containing: ["
                     f"{p.type() if kind == 'type' else f'zeroin.{p.dtype}'} of size "
                     f"{'x'.join(str(n) for n in p.shape)}]" for k, p in items)


class ModuleList(Module):
    """A list of modules, registered as "0", "1", ...; index, slice, append, extend."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self):
        return list(self._modules.values())

    def _reset(self, mods):
        for k in list(self._modules):
            self.__dict__.pop(k, None)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(self._items()[idx])
        try:
            return self._items()[idx]
        except (IndexError, TypeError):
            raise IndexError(f"ModuleList: index {idx!r} is out of range for {len(self)} "
                             f"modules") from None

    def __setitem__(self, idx, module):
        mods = self._items()
        mods[idx] = _module("ModuleList", idx, module)
        self._reset(mods)

    def __delitem__(self, idx):
        mods = self._items()
        del mods[idx]
        self._reset(mods)

    def __len__(self):
        return len(self._modules)

    def __repr__(self):
        """As PyTorch's: equal neighbours in one line, ``(0-2): 3 x Linear(...)``."""
        runs = []                   # [first index, last index, repr]
        for i, m in enumerate(self):
            r = repr(m)
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        return _block(type(self).__name__, [
            (f"({a}): " if a == b else f"({a}-{b}): {b - a + 1} x ") + r.replace("\n", "\n  ")
            for a, b, r in runs])

    def __iter__(self):
        return iter(self._items())

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(self._items() + list(other))

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), _module("ModuleList", len(self), module))
        return self

    def extend(self, modules):
        """Append every module of ``modules``; returns self."""
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList,)):
            raise TypeError("ModuleList.extend: expected an iterable of modules, got a "
                            "single Module; use append")
        for m in modules:
            self.append(m)
        return self

    def pop(self, idx):
        """Remove and return the module at ``idx`` (the rest are renumbered)."""
        m = self[idx]
        del self[idx]
        return m

    def insert(self, index, module):
        mods = self._items()
        mods.insert(index, _module("ModuleList", index, module))
        self._reset(mods)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward: loop over its modules in your "
                                  "own forward (for layer in self.layers: x = layer(x))")


class _DictLike:
    """The dict methods of ModuleDict and ParameterDict, over the registry ``_store``."""
    _store = None

    def _items(self):
        return self.__dict__[self._store]

    def __getitem__(self, key):
        return self._items()[key]

    def __delitem__(self, key):
        del self._items()[key]
        object.__delattr__(self, key)

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __contains__(self, key):
        return key in self._items()

    def keys(self):
        return self._items().keys()

    def items(self):
        return self._items().items()

    def values(self):
        return self._items().values()

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def clear(self):
        for k in list(self._items()):
            del self[k]

    def update(self, values):
        items = values.items() if hasattr(values, "items") else values
        for k, v in OrderedDict(items).items():
            self[k] = v


class ModuleDict(_DictLike, Module):
    """A dict of modules, registered under their keys."""
    _store = "_modules"

    def __init__(self, modules=None):
        Module.__init__(self)
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key, module):
        self.add_module(key, _module("ModuleDict", key, module))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward: call its modules by key")


def _param(owner, key, p):
    if not isinstance(p, Tensor):
        raise TypeError(f"{owner}: item {key!r} is {a_type(p)}, not a Tensor")
    return p if isinstance(p, Parameter) else Parameter(p)


class ParameterList(Module):
    """A list of parameters, registered as "0", "1", ... (plain tensors become
    Parameters, as in PyTorch)."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        ps = list(self._parameters.values())
        if isinstance(idx, slice):
            return ParameterList(ps[idx])
        return ps[idx]

    def __setitem__(self, idx, p):
        idx = range(len(self))[idx]
        self.register_parameter(str(idx), _param("ParameterList", idx, p))

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(list(self._parameters.values()))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self.register_parameter(str(len(self)), _param("ParameterList", len(self), value))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return _parameter_lines(enumerate(self), "dtype")


class ParameterDict(_DictLike, Module):
    """A dict of parameters, registered under their keys."""
    _store = "_parameters"

    def extra_repr(self):
        return _parameter_lines(self.items(), "type")

    def __init__(self, parameters=None):
        Module.__init__(self)
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key, p):
        self.register_parameter(key, _param("ParameterDict", key, p))


class Container(Module):
    """Deprecated (as in PyTorch): a Module with the keyword arguments as submodules;
    subclass :class:`Module` instead."""

    def __init__(self, **kwargs):
        import warnings
        warnings.warn("`nn.Container` is deprecated. All of its functionality is now "
                      "implemented in `nn.Module`. Subclass that instead.", FutureWarning,
                      stacklevel=2)
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
