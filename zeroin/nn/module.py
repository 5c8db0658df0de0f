"""Module: a function with parameters, built from other modules.

Assigning a :class:`Parameter` (any leaf tensor that requires grad) or a :class:`Module` to
an attribute registers it, so ``model.parameters()`` finds every weight of a network built
from pieces, and ``state_dict()`` names each one by its path (``"0.weight"``).
"""
from __future__ import annotations

import os
from collections import OrderedDict, namedtuple

import numpy as np

from .._tensor import Tensor, _as_array, _leaf, get_default_dtype
from ..function import ShapeError, ZeroinError
from .utils import _zero_grad

__all__ = ["Module", "Parameter", "IncompatibleKeys", "StateDictError"]


class StateDictError(ZeroinError, KeyError):
    """A state dict whose keys do not fit the model (missing or unexpected names)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class _ParameterMeta(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.requires_grad and obj.grad_fn is None


class Parameter(metaclass=_ParameterMeta):
    """A learnable tensor: a float leaf tensor with ``requires_grad=True``.

    ``Parameter(data)`` returns an ordinary :class:`~zeroin.Tensor` (so every op treats it
    at full speed); ``isinstance(t, Parameter)`` is true for any float leaf tensor that
    requires grad, and those are what a :class:`Module` registers on attribute assignment.
    A tensor's array is shared (as in PyTorch); other data is copied.
    """

    def __new__(cls, data=None, requires_grad=True, dtype=None, name=None):
        if data is None:
            data = np.zeros(0)
        arr = data.data if isinstance(data, Tensor) else _as_array(data, dtype)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            arr = arr.astype(dtype)
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        t = _leaf(arr, bool(requires_grad))
        t.name = name
        return t


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _name_by_path(name, module):
    """Prefix ``name.`` to the parameters still named by their path inside ``module``, so
    drawings and explanations say ``0.weight``, as ``named_parameters()`` does."""
    for path, p in module.named_parameters():
        if p.name == path:
            p.name = f"{name}.{path}"


def _init_args_error(module, args, kwargs):
    name = type(module).__name__
    given = ", ".join([type(a).__name__ for a in args] + [f"{k}=" for k in kwargs])
    hint = ""
    if any(isinstance(a, Tensor) or hasattr(a, "__array__") for a in args):
        hint = (f"; a module is built first and then called on data: "
                f"nn.{name}()(x), or inside nn.Sequential(..., nn.{name}(), ...)")
    raise TypeError(f"{name}() takes no arguments, got ({given}){hint}")


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()``, assign parameters and submodules as attributes
    and define ``forward``; calling the module runs ``forward``.

    >>> class Net(zeroin.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = zeroin.nn.Linear(2, 4)
    ...         self.out = zeroin.nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    """

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            _init_args_error(self, args, kwargs)
        d = self.__dict__
        d["_parameters"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent"] = set()
        d["training"] = True

    # --- registration -------------------------------------------------------------------
    def _registry(self, what):
        try:
            return self.__dict__[what]
        except KeyError:
            raise ZeroinError(f"{type(self).__name__}: assign parameters, buffers and "
                              f"submodules only after calling super().__init__() in "
                              f"__init__") from None

    def __setattr__(self, name, value):
        d = self.__dict__
        if isinstance(value, Module):
            self._registry("_modules")
            self._forget(name)
            d["_modules"][name] = value
            _name_by_path(name, value)
        elif isinstance(value, Tensor) and value.requires_grad and value.grad_fn is None:
            self._registry("_parameters")
            self._forget(name)
            d["_parameters"][name] = value
            if value.name is None:
                value.name = name
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                value = Tensor(value)
            d["_buffers"][name] = value
        else:
            # plain attributes, including computed tensors (e.g. a cached activation)
            self._forget(name)
        object.__setattr__(self, name, value)

    def _forget(self, name):
        d = self.__dict__
        for reg in ("_parameters", "_modules", "_buffers"):
            if reg in d:
                d[reg].pop(name, None)
        if "_non_persistent" in d:
            d["_non_persistent"].discard(name)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a leaf tensor that requires grad, or None) as ``name``."""
        if param is None:
            self._registry("_parameters")
            self._forget(name)
            self.__dict__["_parameters"][name] = None
            object.__setattr__(self, name, None)
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a leaf tensor with "
                            f"requires_grad=True (zeroin.nn.Parameter(data))")
        setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register a state tensor that is not learned (e.g. BatchNorm's running mean).

        Buffers are saved in ``state_dict`` (unless ``persistent=False``) and converted by
        :meth:`to`, but optimisers never see them."""
        self._registry("_buffers")
        self._forget(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self.__dict__["_buffers"][name] = tensor
        if not persistent:
            self.__dict__["_non_persistent"].add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        self._registry("_modules")
        self._forget(name)
        self.__dict__["_modules"][name] = module
        if module is not None:
            _name_by_path(name, module)
        object.__setattr__(self, name, module)

    # --- running ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal ----------------------------------------------------------------------
    def named_children(self):
        """(name, module) for each direct submodule."""
        for name, m in self._registry("_modules").items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix="", memo=None):
        """(path, module) for this module and every submodule, each once."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self.named_children():
            yield from m.named_modules(prefix + ("." if prefix else "") + name, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        """(path, parameter) for every parameter, each once, in registration order."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._registry("_parameters").items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (mp + "." if mp else "") + name, p

    def parameters(self, recurse=True):
        """Every learnable tensor, each once: what you hand to an optimiser."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, b in m._registry("_buffers").items():
                if b is not None:
                    yield (mp + "." if mp else "") + name, b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self):
        """Total number of learnable numbers."""
        return sum(p.data.size for p in self.parameters())

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule, then on this module; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # --- modes --------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (Dropout drops, BatchNorm uses batch statistics); returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self):
        """Evaluation mode: ``train(False)``; returns self."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter (set them to None, or fill with zeros)."""
        _zero_grad(self.parameters(), set_to_none)

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def to(self, dtype):
        """Convert every parameter and float buffer to ``dtype`` in place; returns self."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise TypeError(f"to: expected a floating dtype such as float32, got {dt}")
        for p in self.parameters():
            if p.data.dtype != dt:
                p.data = p.data.astype(dt)
                if p.grad is not None:
                    p.grad = _leaf(p.grad.data.astype(dt))
        for b in self.buffers():
            if b.data.dtype.kind == "f" and b.data.dtype != dt:
                b.data = b.data.astype(dt)
        return self

    def float(self):
        """Convert to float32; returns self."""
        return self.to(np.float32)

    def double(self):
        """Convert to float64; returns self."""
        return self.to(np.float64)

    # --- state --------------------------------------------------------------------------
    def state_dict(self, prefix=""):
        """{path: array copy} of every parameter and persistent buffer.

        Values are NumPy array copies, so the dict is a snapshot (later training does not
        change it) and can be saved with ``numpy.savez`` or :func:`zeroin.save`.
        """
        out = OrderedDict()
        for name, p in self.named_parameters(prefix):
            out[name] = p.data.copy()
        for mp, m in self.named_modules(prefix):
            skip = m.__dict__.get("_non_persistent", ())
            for name, b in m._registry("_buffers").items():
                if b is not None and name not in skip:
                    out[(mp + "." if mp else "") + name] = b.data.copy()
        return out

    def _state_targets(self):
        t = OrderedDict(self.named_parameters())
        for mp, m in self.named_modules():
            skip = m.__dict__.get("_non_persistent", ())
            for name, b in m._registry("_buffers").items():
                if b is not None and name not in skip:
                    t[(mp + "." if mp else "") + name] = b
        return t

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        With ``strict`` (default) the keys must match exactly; any missing or unexpected
        key or any shape mismatch raises an error naming it, and nothing is changed.
        Values keep the model's dtypes. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys"):
            hint = ""
            if isinstance(state_dict, (str, os.PathLike)):
                hint = (f"; read the file first: model.load_state_dict(zeroin.load("
                        f"{os.fspath(state_dict)!r})) (or zeroin.load(path)['model'] for a "
                        f"checkpoint that holds more than the weights)")
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}{hint}")
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        name = type(self).__name__
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if unexpected:
                parts.append(f"unexpected key(s) {', '.join(map(repr, unexpected))}")
            raise StateDictError(f"load_state_dict for {name}: {'; '.join(parts)}. The saved "
                                 f"state does not come from this architecture; the model "
                                 f"expects {list(targets)}")
        values = {}
        for k, t in targets.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            if arr.shape != t.data.shape:
                raise ShapeError(f"load_state_dict for {name}: shape mismatch for {k!r}: the "
                                 f"saved value has shape {arr.shape}, the model's has shape "
                                 f"{t.data.shape}; build the model with the same layer "
                                 f"sizes as the one that was saved")
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"load_state_dict for {name}: value for {k!r} has dtype "
                                f"{arr.dtype}, expected numbers")
            values[k] = arr
        for k, arr in values.items():
            t = targets[k]
            if t.data.flags.writeable:
                np.copyto(t.data, arr, casting="unsafe")
            else:
                t.data = arr.astype(t.data.dtype)
        return IncompatibleKeys(missing, unexpected)

    # --- printing -----------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        kids = list(self.named_children())
        if not kids:
            return f"{type(self).__name__}({extra})"
        lines = [extra] if extra else []
        for name, m in kids:
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return sorted(set(super().__dir__()))
