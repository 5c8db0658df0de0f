"""Module: a function with parameters, built from other modules.

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it (a plain
tensor, even one that requires grad, stays a plain attribute, as in PyTorch), so
``model.parameters()`` finds every weight of a network built from pieces, and
``state_dict()`` names each one by its path (``"0.weight"``).
"""
from __future__ import annotations

import copy
import functools
import os
import weakref
from collections import OrderedDict, namedtuple
from typing import TypeVar

import numpy as np

from .._tensor import (DataArray, ParamName, Tensor, _array_of, _as_array, _leaf, _make,
                       get_default_dtype, no_grad)
from ..errors import NotCompiledError as _NotCompiledError
from ..function import ShapeError, ZeroinError
from ..optim.grad_utils import _zero_grad
from ..errors import a_type

__all__ = ["Module", "Parameter", "IncompatibleKeys", "StateDictError",
           "UninitializedParameter", "UninitializedBuffer",
           "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_pre_hook", "register_module_backward_hook",
           "register_module_full_backward_hook", "register_module_buffer_registration_hook",
           "register_module_module_registration_hook",
           "register_module_parameter_registration_hook"]


class StateDictError(ZeroinError, KeyError):
    """A state dict whose keys do not fit the model (missing or unexpected names)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class Parameter(Tensor):
    """A learnable tensor: a float (or complex) leaf tensor with ``requires_grad=True``, as
    PyTorch's.

    Layers make their weights as Parameters, so ``isinstance(layer.weight, nn.Parameter)``
    holds; a :class:`Module` registers a Parameter assigned as an attribute (a plain tensor
    that requires grad stays a plain attribute, as in PyTorch). A tensor's array is shared (as in PyTorch); other data
    is copied; integer or bool data that requires grad becomes the default float dtype
    (PyTorch refuses it); complex data, and any with ``requires_grad=False``, keeps its
    dtype, as PyTorch's.
    """
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True, dtype=None, name=None):
        if data is None:
            data = np.zeros(0)
        arr = data.numpy() if isinstance(data, Tensor) else _as_array(data, dtype)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            arr = arr.astype(dtype)
        if arr.dtype.kind not in "fc" and requires_grad:
            arr = arr.astype(get_default_dtype())
        t = _make(arr, bool(requires_grad), None, None, cls)
        if name is not None:
            t.name = name
        return t

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A copy without the gradient, as PyTorch's: ``copy.deepcopy(model)`` (a target
        network) starts with ``.grad`` None; the original keeps its own."""
        if id(self) in memo:
            return memo[id(self)]
        func, args, (dict_state, slots) = self.__reduce_ex__(4)[:3]
        result = memo[id(self)] = func(*args)
        if dict_state:
            result.__dict__.update(copy.deepcopy(dict_state, memo))
        for key, value in slots.items():
            setattr(result, key, None if key == "_grad" else copy.deepcopy(value, memo))
        return result


class Buffer(Tensor):
    """A tensor marked to become a buffer (PyTorch 2.13's ``nn.Buffer``): assigning
    ``self.mean = nn.Buffer(t)`` in a Module registers it as ``register_buffer("mean", t,
    persistent)`` would. The module stores a plain tensor sharing ``t``'s array."""
    __slots__ = ("persistent",)

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _make(np.zeros(0, get_default_dtype()))
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer: data must be a Tensor, got {type(data).__name__}; "
                            f"wrap it: nn.Buffer(zeroin.tensor(value))")
        t = _make(_array_of(data), data.requires_grad, None, None, cls)
        t.persistent = bool(persistent)
        return t


_UNINIT_SHAPE = ("Can't access the shape of an uninitialized parameter or buffer. This error "
                 "usually happens in `load_state_dict` when trying to load an uninitialized "
                 "parameter into an initialized one. Call `forward` to initialize the "
                 "parameters before accessing their attributes.")


class UninitializedTensorMixin:
    """A parameter or buffer of a lazy module (``nn.LazyLinear``...) whose shape is not
    known until the first forward, as PyTorch's: reading its shape raises, and
    :meth:`materialize` gives it a shape and makes it a plain Parameter (or tensor), the
    same object, so an optimiser made before the first forward goes on holding it."""
    __slots__ = ()
    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor ``shape`` (uninitialised values: the lazy module's
        ``reset_parameters`` fills them) and turn it into ``cls_to_become``."""
        if isinstance(shape, int):
            shape = (shape,)
        self.data = np.empty(tuple(shape), dtype=dtype or self.dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError(_UNINIT_SHAPE)

    def size(self, dim=None):
        raise RuntimeError(_UNINIT_SHAPE)

    @property
    def ndim(self):
        raise RuntimeError(_UNINIT_SHAPE)

    def numel(self):
        raise RuntimeError(_UNINIT_SHAPE)

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A :class:`Parameter` whose shape is not known yet (see :class:`UninitializedTensorMixin`)."""
    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        return super().__new__(cls, np.empty(0, dtype=dtype or get_default_dtype()),
                               requires_grad)


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer whose shape is not known yet (see :class:`UninitializedTensorMixin`)."""
    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None):
        return _make(np.empty(0, dtype=dtype or get_default_dtype()), bool(requires_grad),
                     None, None, cls)


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not find and those it did not use."""
    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


def _name_by_path(name, module):
    """Prefix ``name.`` to the parameters still named by their path inside ``module``, so
    drawings and explanations say ``0.weight``, as ``named_parameters()`` does."""
    for path, p in module.named_parameters():
        if p.name == path:
            p.name = ParamName(f"{name}.{path}")


def _block(name, lines):
    """``Name(\n  line\n  line\n)`` as PyTorch's reprs lay out several lines."""
    return f"{name}(\n  " + "\n  ".join(lines) + "\n)" if lines else f"{name}()"


def _slot_value(module, name, value):
    """Only None may replace a registered parameter or submodule without registering
    another (PyTorch's rule): a plain tensor there would silently stop being trained."""
    is_param = name in module.__dict__["_parameters"]
    if value is not None:
        what, want = (("parameter", "an nn.Parameter (nn.Parameter(t)) or None") if is_param
                      else ("child module", "an nn.Module or None"))
        raise TypeError(f"{type(module).__name__}: cannot assign {a_type(value)} as "
                        f"{what} {name!r} ({want} expected; to change a parameter's values "
                        f"in place use 'with zeroin.no_grad(): m.{name}.copy_(t)')")
    module.__dict__["_parameters" if is_param else "_modules"][name] = None


def _check_name(module, kind, name, registry):
    """PyTorch's checks on the name given to register_buffer / register_parameter /
    add_module: a string, not empty, no dot, not an existing plain attribute."""
    op = {"buffer": "register_buffer", "parameter": "register_parameter",
          "module": "add_module"}[kind]
    if not isinstance(name, str):
        raise TypeError(f"{op}: the {kind} name must be a str, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{op}: {kind} name {name!r} can't be empty or contain \".\" (dots "
                       f"separate the parts of a path such as '0.weight')")
    if name not in module.__dict__.get(registry, ()) and hasattr(module, name):
        raise KeyError(f"{op}: attribute {name!r} already exists on "
                       f"{type(module).__name__}; choose another name or delete it first")


def _init_args_error(module, args, kwargs):
    name = type(module).__name__
    given = ", ".join([type(a).__name__ for a in args] + [f"{k}=" for k in kwargs])
    hint = ""
    if any(isinstance(a, Tensor) or hasattr(a, "__array__") for a in args):
        hint = (f"; a module is built first and then called on data: "
                f"nn.{name}()(x), or inside nn.Sequential(..., nn.{name}(), ...)")
    raise TypeError(f"{name}() takes no arguments, got ({given}){hint}")


_EXTRA_STATE = "_extra_state"


def _plain_loader(m):
    """Whether ``m`` loads as Module does with no load hooks (the fast path applies)."""
    cls, d = type(m), m.__dict__
    return (cls._load_from_state_dict is Module._load_from_state_dict
            and cls.set_extra_state is Module.set_extra_state
            and not d.get("_load_state_dict_pre_hooks")
            and not d.get("_load_state_dict_post_hooks"))


def _keys_error(module, missing, unexpected, targets):
    parts = []
    if missing:
        parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
    if unexpected:
        parts.append(f"unexpected key(s) {', '.join(map(repr, unexpected))}")
    return StateDictError(f"load_state_dict for {type(module).__name__}: {'; '.join(parts)}. "
                          f"The saved state does not come from this architecture; the model "
                          f"expects {list(targets)}")


def _checked_value(module, k, v, t):
    """The saved value ``v`` for tensor ``t`` (key ``k``) as an array; raises if its shape
    or kind does not fit."""
    name = type(module).__name__
    arr = np.asarray(v.data if isinstance(v, Tensor) else v)
    if arr.shape != t.data.shape:
        raise ShapeError(f"load_state_dict for {name}: shape mismatch for {k!r}: the "
                         f"saved value has shape {arr.shape}, the model's has shape "
                         f"{t.data.shape}; build the model with the same layer "
                         f"sizes as the one that was saved")
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"load_state_dict for {name}: value for {k!r} has dtype "
                        f"{arr.dtype}, expected numbers")
    if arr.dtype.kind == "c" and t.data.dtype.kind != "c":
        raise TypeError(f"load_state_dict for {name}: value for {k!r} is complex "
                        f"({arr.dtype}) but the model's is {t.data.dtype}; loading it would "
                        f"drop the imaginary part (PyTorch warns and drops it): build the "
                        f"model with dtype={arr.dtype} or load value.real")
    return arr


def _copy_in(t, arr, assign):
    if assign and arr.dtype.kind == "f":
        t.data = np.array(arr)
    elif t.data.flags.writeable:
        np.copyto(t.data, arr, casting="unsafe")
    else:
        t.data = arr.astype(t.data.dtype)




def _hook_dict(name, on_call=False):
    """PyTorch's ``Module.<name>``: the module's OrderedDict of hooks itself (in its
    ``__dict__``), made on first use, so that reading it costs modules without hooks
    nothing; a table ``__call__`` reads (``on_call``) makes them all (nn/hooks.py)."""
    def get(self):
        d = self.__dict__
        if name not in d:
            if on_call:
                from .hooks import hook_tables
                hook_tables(self)
            else:
                d[name] = OrderedDict()
        return d[name]

    def set(self, value):
        if on_call:
            get(self)
        self.__dict__[name] = value
    return property(get, set, doc=f"PyTorch's {name}: id -> hook (an OrderedDict)")


# --- PyTorch's global module hooks (torch.nn.modules.module.register_module_*) ----------
# Under PyTorch's names. _GLOBAL_CALL also holds the id of each global hook that
# Module.__call__ runs (forward (pre-), backward (pre-)): while it is empty, a module
# without hooks of its own pays one more truth test per call, nothing else.
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_with_kwargs = OrderedDict()
_global_forward_hooks_always_called = OrderedDict()
_global_backward_pre_hooks = OrderedDict()
_global_backward_hooks = OrderedDict()
_global_is_full_backward_hook = None     # set by the first global backward hook, for good
_global_buffer_registration_hooks = OrderedDict()
_global_module_registration_hooks = OrderedDict()
_global_parameter_registration_hooks = OrderedDict()
_GLOBAL_CALL = {}


def _global_hook(table, hook, extra=(), call=True):
    from .._handle import RemovableHandle
    handle = RemovableHandle(table, extra_dict=[*extra, _GLOBAL_CALL] if call else None)
    table[handle.id] = hook
    if call:
        _GLOBAL_CALL[handle.id] = True
    return handle


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` before every module's forward (before its own pre-hooks);
    a non-None result replaces the positional arguments. Returns a removable handle."""
    return _global_hook(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output)`` (``with_kwargs``: ``hook(module, args, kwargs,
    output)``) after every module's forward, before its own forward hooks; a non-None
    result replaces the output. ``always_call``: also run when forward raises."""
    handle = _global_hook(_global_forward_hooks, hook, [_global_forward_hooks_with_kwargs,
                                                        _global_forward_hooks_always_called])
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


def _backward_kind(full):
    global _global_is_full_backward_hook
    if _global_is_full_backward_hook is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as "
                           "a global Module hook. Please use only one of them.")
    _global_is_full_backward_hook = full


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output)`` for every module, as
    :meth:`Module.register_full_backward_hook`, before the module's own."""
    _backward_kind(True)
    return _global_hook(_global_backward_hooks, hook)


def register_module_backward_hook(hook):
    """PyTorch's deprecated global backward hook; run as the full one, with PyTorch's
    FutureWarning at each call (as :meth:`Module.register_backward_hook`)."""
    _backward_kind(False)
    return _global_hook(_global_backward_hooks, hook)


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output)`` for every module, before the module's own; a non-None
    result replaces grad_output."""
    return _global_hook(_global_backward_pre_hooks, hook)


def register_module_buffer_registration_hook(hook):
    """``hook(module, name, buffer)`` whenever any module registers a buffer; a non-None
    result is registered instead."""
    return _global_hook(_global_buffer_registration_hooks, hook, call=False)


def register_module_module_registration_hook(hook):
    """``hook(module, name, submodule)`` whenever any module registers a submodule; a
    non-None result is registered instead."""
    return _global_hook(_global_module_registration_hooks, hook, call=False)


def register_module_parameter_registration_hook(hook):
    """``hook(module, name, param)`` whenever any module registers a parameter; a
    non-None result is registered instead."""
    return _global_hook(_global_parameter_registration_hooks, hook, call=False)


def _registered(table, module, name, value):
    """``value`` after the global registration hooks in ``table`` (PyTorch's order)."""
    for hook in list(table.values()):
        out = hook(module, name, value)
        if out is not None:
            value = out
    return value


# a TorchScript module's attributes, which zeroin's jit (the module itself) has not
_SCRIPT_ONLY = frozenset({"save", "code", "graph", "inlined_graph",
                          "code_with_constants", "original_name"})


class _ScriptOnly:
    """A TorchScript module's attribute (``save``, ``code``, ``graph``...) on Module: reading
    it raises an AttributeError with the advice, as zeroin's ``jit.script``/``trace`` return
    the module itself (d2l's ``torch.jit.script(net).save("mlp.pt")``). A class attribute
    without ``__set__``, so a module's own attribute of that name wins; not a
    ``Module.__getattr__``, which sends every attribute read of every module down CPython's
    slow path (a W4 step: 5k instructions more)."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, module, owner=None):
        if module is None:
            return self
        raise AttributeError(
            f"'{type(module).__name__}' object has no attribute {self.name!r}: zeroin's "
            f"jit.script and jit.trace return the module itself (no TorchScript); save "
            f"its weights with zeroin.save(model.state_dict(), path) and load them into "
            f"a model built by the same code (model.load_state_dict(zeroin.load(path)))")


_REGISTRIES = ("_parameters", "_buffers", "_modules")


class _Registry(OrderedDict):
    """A module's ``_parameters``, ``_buffers`` or ``_modules``. zeroin also keeps each entry
    as a plain attribute of its module (read at attribute speed in ``forward``), so an entry
    written into the registry itself (learn2learn's ``module._parameters[name] = adapted``)
    is written to the attribute too: the module then computes with it, as PyTorch's, which
    reads the registry, does. Copies (``copy``, ``deepcopy``) belong to no module until one
    takes them as its registry."""

    def __init__(self, *args, owner=None, what=None):
        self._owner = None if owner is None else weakref.ref(owner)
        self._what = what
        super().__init__(*args)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        ref = self._owner
        owner = ref() if ref is not None else None
        if owner is not None and owner.__dict__.get(self._what) is self and \
                owner.__dict__.get(key, self) is not value:
            object.__setattr__(owner, key, value)

    def __reduce__(self):
        return type(self), (), None, None, iter(self.items())


def _own_registries(module, state):
    """Make the registries in ``state`` (a module's ``__dict__``) ``module``'s own."""
    for what in _REGISTRIES:
        reg = state.get(what)
        if isinstance(reg, _Registry):
            reg._owner, reg._what = weakref.ref(module), what


def _is_meta(device):
    """``device`` names PyTorch's meta device ('meta', ``device('meta')``)."""
    return str(getattr(device, "type", device)) == "meta"


def _valueless(t):
    """A tensor of ``t``'s shape and dtype without its values (``Module.to('meta')``):
    NaN (integers: 0), writable, so that in-place code runs on it as on PyTorch's meta
    tensors."""
    return _leaf(np.full(t.shape, np.nan if t.dtype.kind in "fc" else 0, dtype=t.dtype))


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()``, assign parameters and submodules as attributes
    and define ``forward``; calling the module runs ``forward``.

    >>> import zeroin
    >>> class Net(zeroin.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = zeroin.nn.Linear(2, 4)
    ...         self.out = zeroin.nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).relu())
    >>> Net()(zeroin.ones(3, 2)).shape
    zeroin.Size([3, 1])
    """

    dump_patches = False        # PyTorch's (unused) flag, kept for code that reads it
    _version = 1                # saved in state_dict()._metadata for _load_from_state_dict
    call_super_init = False     # PyTorch's: whether Module.__init__ calls super().__init__
    T_destination = TypeVar("T_destination", bound=dict)

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            _init_args_error(self, args, kwargs)
        d = self.__dict__
        d["_parameters"] = _Registry(owner=self, what="_parameters")
        d["_modules"] = _Registry(owner=self, what="_modules")
        d["_buffers"] = _Registry(owner=self, what="_buffers")
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
        if isinstance(value, Buffer):
            self._set_buffer(name, value)
            return
        if isinstance(value, Module):
            self._registry("_modules")
            if _global_module_registration_hooks:
                value = _registered(_global_module_registration_hooks, self, name, value)
            self._forget(name, keep="_modules")     # a replaced child keeps its place
            d["_modules"][name] = value
            _name_by_path(name, value)
        elif isinstance(value, Parameter):
            # only a Parameter, as PyTorch: a plain tensor with requires_grad=True (Raschka's
            # ch13 `self.w1 = torch.empty(2, 3, requires_grad=True)`) stays an attribute
            self._set_parameter(name, value)
            return
        elif name in d.get("_parameters", ()) or name in d.get("_modules", ()):
            _slot_value(self, name, value)          # None keeps the slot (PyTorch's)
            if name in d["_modules"] and _global_module_registration_hooks:
                value = d["_modules"][name] = _registered(
                    _global_module_registration_hooks, self, name, None)
        elif "_buffers" in d and name in d["_buffers"]:
            if isinstance(value, DataArray):    # t.data: a tensor on the same memory
                value = value.detach()
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a "
                                f"{type(value).__name__} to buffer {name!r} (a Tensor or "
                                f"None expected: zeroin.tensor(value))")
            if _global_buffer_registration_hooks:
                value = _registered(_global_buffer_registration_hooks, self, name, value)
            d["_buffers"][name] = value
        else:
            # plain attributes, including computed tensors (e.g. a cached activation)
            self._forget(name)
            if name in _REGISTRIES and type(value) is not _Registry and \
                    isinstance(value, dict):     # learn2learn's clone._parameters = a copy
                value = _Registry(value, owner=self, what=name)
            elif type(value) is _Registry and name in _REGISTRIES:
                value._owner, value._what = weakref.ref(self), name
        object.__setattr__(self, name, value)

    def __setstate__(self, state):
        """``copy``/``deepcopy``: the state as it was, its registries made this module's."""
        if isinstance(state, tuple):            # (__dict__, slots) of a class with slots
            state, slots = state
            for key, value in (slots or {}).items():
                object.__setattr__(self, key, value)
        if state:
            self.__dict__.update(state)
            _own_registries(self, state)

    def _set_parameter(self, name, value):
        """Register ``value`` (a leaf tensor that requires grad) as parameter ``name``."""
        self._registry("_parameters")
        if _global_parameter_registration_hooks:
            value = _registered(_global_parameter_registration_hooks, self, name, value)
        self._forget(name, keep="_parameters")
        self.__dict__["_parameters"][name] = value
        if value.name is None:
            value.name = ParamName(name)
        object.__setattr__(self, name, value)

    def _set_buffer(self, name, value):
        """``self.name = nn.Buffer(t, persistent=...)``: register t (a plain tensor on the
        same array) as a buffer, persistent as the Buffer says."""
        d = self.__dict__
        self._registry("_buffers")
        if name in d["_parameters"]:
            raise TypeError(f"{type(self).__name__}: cannot assign a Buffer as parameter "
                            f"{name!r} (an nn.Parameter or None expected); delete it first "
                            f"(del module.{name}) to make it a buffer")
        plain = _make(_array_of(value), value.requires_grad)
        if _global_buffer_registration_hooks:
            plain = _registered(_global_buffer_registration_hooks, self, name, plain)
        self._forget(name, keep="_buffers")
        d["_buffers"][name] = plain
        if not value.persistent:
            d["_non_persistent"].add(name)
        object.__setattr__(self, name, plain)

    def _forget(self, name, keep=None):
        """Drop ``name`` from the registries (but ``keep``, where it keeps its place)."""
        d = self.__dict__
        for reg in ("_parameters", "_modules", "_buffers"):
            if reg in d and reg != keep:
                d[reg].pop(name, None)
        if "_non_persistent" in d:
            d["_non_persistent"].discard(name)

    def __delattr__(self, name):
        self._forget(name)
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (an :class:`nn.Parameter`, or None) as ``name``."""
        self._registry("_parameters")
        _check_name(self, "parameter", name, "_parameters")
        if param is None:
            self._forget(name, keep="_parameters")
            self.__dict__["_parameters"][name] = None
            object.__setattr__(self, name, None)
            return
        if not isinstance(param, Parameter):      # a plain tensor too, as in PyTorch
            kind = param.type() if isinstance(param, Tensor) else type(param).__name__
            raise TypeError(f"cannot assign '{kind}' object to parameter {name!r} "
                            f"(zeroin.nn.Parameter or None required): register_parameter("
                            f"{name!r}, nn.Parameter(t)) registers it")
        self._set_parameter(name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register a state tensor that is not learned (e.g. BatchNorm's running mean).

        Buffers are saved in ``state_dict`` (unless ``persistent=False``) and converted by
        :meth:`to`, but optimisers never see them."""
        self._registry("_buffers")
        _check_name(self, "buffer", name, "_buffers")
        if isinstance(tensor, DataArray):   # PyTorch's .data is a tensor on the same memory:
            tensor = tensor.detach()        # jzbontar's register_buffer('mask', w.data.clone())
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot register {a_type(tensor)} as "
                            f"buffer {name!r} (a Tensor or None expected: "
                            f"zeroin.tensor(value))")
        if _global_buffer_registration_hooks:
            tensor = _registered(_global_buffer_registration_hooks, self, name, tensor)
        self._forget(name, keep="_buffers")
        self.__dict__["_buffers"][name] = tensor
        if not persistent:
            self.__dict__["_non_persistent"].add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is {a_type(module)}, not a Module")
        self._registry("_modules")
        _check_name(self, "module", name, "_modules")
        if _global_module_registration_hooks:
            module = _registered(_global_module_registration_hooks, self, name, module)
        self._forget(name, keep="_modules")
        self.__dict__["_modules"][name] = module
        if module is not None:
            _name_by_path(name, module)
        object.__setattr__(self, name, module)

    register_module = add_module        # PyTorch's alias

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` ("" is this module)."""
        m = self
        for part in target.split(".") if target else ():
            kids = m.__dict__.get("_modules", {})
            if part not in kids:
                raise AttributeError(f"{type(m).__name__} has no submodule {part!r} (path "
                                     f"{target!r}); its children are {list(kids)}")
            m = kids[part]
        return m

    def get_parameter(self, target):
        """The parameter at the dotted path ``target`` (e.g. "0.weight")."""
        path, _, name = target.rpartition(".")
        m = self.get_submodule(path)
        p = m.__dict__.get("_parameters", {}).get(name)
        if p is None:
            raise AttributeError(f"{type(m).__name__} has no parameter {name!r} (path "
                                 f"{target!r})")
        return p

    def get_buffer(self, target):
        """The buffer at the dotted path ``target`` (e.g. "0.running_mean")."""
        path, _, name = target.rpartition(".")
        m = self.get_submodule(path)
        if not hasattr(m, name):
            raise AttributeError(f"{m._get_name()} has no attribute `{name}`")
        if name not in m.__dict__.get("_buffers", {}):
            raise AttributeError(f"`{name}` is not a buffer")
        return getattr(m, name)

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at the dotted path ``target``, replacing the submodule there
        (or adding one to an existing parent; ``strict=True``: only replacing)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        path, _, name = target.rpartition(".")
        parent = self.get_submodule(path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def _get_name(self):
        return type(self).__name__

    # --- running ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        if "_hooks" not in self.__dict__ and not _GLOBAL_CALL:     # the common case: no hooks
            return self.forward(*args, **kwargs)
        from .hooks import call_with_hooks
        return call_with_hooks(self, args, kwargs)

    # --- hooks (PyTorch's; the machinery is in nn/hooks.py) ------------------------------
    # The hook tables, under PyTorch's names, that torch code reads or clears directly
    # (``len(m._forward_pre_hooks)``, ``m._forward_hooks.clear()``): made on first use.
    _forward_pre_hooks = _hook_dict("_forward_pre_hooks", True)
    _forward_pre_hooks_with_kwargs = _hook_dict("_forward_pre_hooks_with_kwargs", True)
    _forward_hooks = _hook_dict("_forward_hooks", True)
    _forward_hooks_with_kwargs = _hook_dict("_forward_hooks_with_kwargs", True)
    _forward_hooks_always_called = _hook_dict("_forward_hooks_always_called", True)
    _backward_pre_hooks = _hook_dict("_backward_pre_hooks", True)
    _backward_hooks = _hook_dict("_backward_hooks", True)
    _state_dict_hooks = _hook_dict("_state_dict_hooks")
    _state_dict_pre_hooks = _hook_dict("_state_dict_pre_hooks")
    _load_state_dict_pre_hooks = _hook_dict("_load_state_dict_pre_hooks")
    _load_state_dict_post_hooks = _hook_dict("_load_state_dict_post_hooks")

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before ``forward``; a non-None result replaces the
        positional arguments (a tuple, or a single value). Returns a handle to ``remove()``."""
        from .hooks import add_hook
        return add_hook(self, "forward_pre", hook, prepend, with_kwargs=with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call ``hook(module, args, output)`` after ``forward``; a non-None result
        replaces the output. Returns a handle to ``remove()``."""
        from .hooks import add_hook
        return add_hook(self, "forward", hook, prepend, with_kwargs=with_kwargs,
                        always_call=always_call)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradient of the output is known; a
        non-None result replaces ``grad_output``."""
        from .hooks import add_hook
        return add_hook(self, "backward_pre", hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect
        to the module's tensor inputs are computed (``None`` for inputs that need none); a
        non-None result replaces ``grad_input``."""
        from .hooks import add_hook
        self._backward_hook_kind(True)
        return add_hook(self, "backward", hook, prepend)

    def register_backward_hook(self, hook):
        """PyTorch's deprecated backward hook, run as :meth:`register_full_backward_hook`
        (``grad_input`` is the module inputs' gradients); each forward warns, as PyTorch
        does for most modules. A module takes one kind of backward hook only."""
        from .hooks import add_hook, warn_non_full
        self._backward_hook_kind(False)
        handle = add_hook(self, "backward", hook, False)
        handle.also = add_hook(self, "forward", warn_non_full, False)
        return handle

    def _backward_hook_kind(self, full):
        """A module keeps the kind of its first backward hook, even once that hook is
        removed (PyTorch's ``_is_full_backward_hook``)."""
        d = self.__dict__
        if d.get("_is_full_backward_hook", full) is not full:
            raise RuntimeError("Cannot use both regular backward hooks and full backward "
                               "hooks on a single Module. Please use only one of them.")
        d["_is_full_backward_hook"] = full

    # --- traversal ----------------------------------------------------------------------
    def named_children(self):
        """(name, module) for each direct submodule, each once (as PyTorch's)."""
        seen = set()
        for name, m in self._registry("_modules").items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(path, module) for this module and every submodule, each once (PyTorch's
        signature: ``named_modules(memo=None, prefix='', remove_duplicate=True)``)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._registry("_modules").items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name,
                                       remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(path, parameter) for every parameter, each once, in registration order."""
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for mp, m in mods:
            for name, p in m._registry("_parameters").items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                yield (mp + "." if mp else "") + name, p

    def parameters(self, recurse=True):
        """Every learnable tensor, each once: what you hand to an optimiser."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(path, buffer) for every buffer, each once unless ``remove_duplicate=False``."""
        seen = set()
        mods = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                if recurse else [(prefix, self)])
        for mp, m in mods:
            for name, b in m._registry("_buffers").items():
                if b is None or (remove_duplicate and id(b) in seen):
                    continue
                seen.add(id(b))
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

    def to(self, *args, **kwargs):
        """Convert every parameter and float buffer to a floating ``dtype`` in place;
        returns self. Accepts PyTorch's forms: ``to(dtype)``, ``to('cpu')``,
        ``to(device, dtype)``, ``to(tensor)`` and ``dtype=``/``device=`` keywords (the only
        device is the CPU). ``memory_format=zeroin.channels_last`` lays out the 4-D
        parameters and buffers channels last, as PyTorch. ``to('meta')`` (the
        ``torch.func`` ensembling recipe's base module, whose values ``functional_call``
        supplies) drops the values: zeroin has no meta tensors, so each parameter and buffer
        keeps its shape and dtype and is filled with NaN (integers: 0)."""
        from .hooks import parse_to
        fmt = kwargs.pop("memory_format", None)
        meta = [a for a in (*args, kwargs.get("device")) if _is_meta(a)]
        if meta:
            args = tuple(a for a in args if not _is_meta(a))
            kwargs = {k: v for k, v in kwargs.items() if not (k == "device" and _is_meta(v))}
        dt = parse_to(type(self).__name__, args, kwargs)
        if dt is not None:
            self._convert(dt)
        if fmt is not None:
            self._lay_out(fmt)
        if meta:
            self._apply(_valueless)
        return self

    def _lay_out(self, fmt):
        """The 4-D and 5-D parameters and buffers in ``fmt``'s layout (PyTorch's rule:
        channels_last refuses a 5-D one)."""
        from .._tensor_api import _last_perm
        for t in list(self.parameters()) + list(self.buffers()):
            if t.ndim in (4, 5):
                perm = _last_perm(f"{type(self).__name__}.to", t, fmt)
                if perm is not None:
                    t.data = np.ascontiguousarray(t.data.transpose(perm)).transpose(
                        np.argsort(perm))
                elif getattr(fmt, "name", None) == "contiguous_format":
                    t.data = np.ascontiguousarray(t.data)

    def _convert(self, dt):
        def fn(t):
            a = t.data
            return _leaf(a.astype(dt)) if a.dtype.kind == "f" and a.dtype != dt else t
        self._apply(fn)

    def _apply(self, fn, recurse=True):
        """Apply ``fn`` (tensor -> tensor) to every parameter, its gradient and every
        buffer, children first, as PyTorch's ``_apply`` (what ``to``, ``float``,
        ``double``, ``half`` and ``to_empty`` use, so a subclass can extend it): a result
        that is a new tensor replaces the array of the same parameter or buffer object,
        so references to them stay valid. Returns self."""
        if recurse:
            for m in self.children():
                m._apply(fn)
        with no_grad():
            for p in self._registry("_parameters").values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    p.data = _array_of(new)
                g = p.grad
                if g is not None:
                    new = fn(g)
                    if new is not g:
                        p.grad = _leaf(_array_of(new))
            for b in self._registry("_buffers").values():
                if b is not None:
                    new = fn(b)
                    if new is not b:
                        b.data = _array_of(new)
        return self

    def float(self):
        """Convert to float32; returns self."""
        return self.to(np.float32)

    def double(self):
        """Convert to float64; returns self."""
        return self.to(np.float64)

    def half(self):
        """Convert to float16; returns self."""
        return self.to(np.float16)

    def type(self, dst_type):
        """Cast every parameter and buffer to ``dst_type``: a floating dtype,
        ``zeroin.FloatTensor`` or ``'torch.FloatTensor'`` (CS231n's ``model.type(dtype)``
        with ``dtype = torch.FloatTensor``); returns self. As PyTorch's, integer buffers
        (BatchNorm's ``num_batches_tracked``) are cast too."""
        from .._tensor_api import legacy_dtype
        from .hooks import _dtype_of
        op = f"{self._get_name()}.type"
        dt = _dtype_of(legacy_dtype(dst_type, op), op, "a dtype (zeroin.float32) or a tensor "
                       "type (zeroin.FloatTensor)", "float32 (zeroin.FloatTensor) or float64")
        return self._apply(lambda t: t if t.dtype == dt else _leaf(t.data.astype(dt)))

    def cpu(self):
        """Nothing to move (everything lives on the CPU); returns self."""
        return self

    def _no_device(self, kind, error=_NotCompiledError):
        raise error(f"{self._get_name()}.{kind}: zeroin runs on the CPU (NumPy) only, so a "
                    f"module cannot move to {kind!r}; leave it on the CPU (device-agnostic "
                    f"code: `'cuda' if zeroin.cuda.is_available() else 'cpu'` gives 'cpu')")

    def cuda(self, device=None):
        """Refused: zeroin has no GPU (PyTorch without CUDA raises AssertionError)."""
        self._no_device("cuda")

    def xpu(self, device=None):
        """Refused: zeroin runs on the CPU only."""
        self._no_device("xpu")

    def mtia(self, device=None):
        """Refused: zeroin runs on the CPU only."""
        self._no_device("mtia")

    def ipu(self, device=None):
        """Refused: zeroin runs on the CPU only (PyTorch raises RuntimeError)."""
        self._no_device("ipu", RuntimeError)

    def bfloat16(self):
        """Refused: no zeroin tensor can hold bfloat16 (NumPy has no such type)."""
        raise TypeError(f"{self._get_name()}.bfloat16: bfloat16 is not supported: NumPy has "
                        f"no bfloat16 type, so no zeroin tensor can hold it; use .float() "
                        f"(float32) or .half() (float16)")

    def share_memory(self):
        """``share_memory_()`` on every parameter and buffer (nothing moves: zeroin runs
        in one process); returns self."""
        return self._apply(lambda t: t.share_memory_())

    def to_empty(self, *, device, recurse=True):
        """Give every parameter and buffer new, uninitialised memory of the same shape
        and dtype (PyTorch's way out of the meta device; the only device is the CPU);
        returns self."""
        from ..dtypes import as_device
        as_device(device, f"{self._get_name()}.to_empty")
        return self._apply(lambda t: _leaf(np.empty(t.data.shape, t.data.dtype)),
                           recurse=recurse)

    def compile(self, *args, **kwargs):
        """``torch.compile`` on this module: zeroin has no compiler, so the module stays
        as it is (``zeroin.compile``'s arguments are checked and ignored); returns None."""
        from .._toplevel_misc import compile as compile_
        compile_(self, *args, **kwargs)

    # --- state --------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """{path: tensor} of every parameter and persistent buffer (and ``_extra_state``
        where ``get_extra_state`` is defined), as PyTorch's, built by each module's
        :meth:`_save_to_state_dict` with the state-dict hooks around it.

        Values are detached tensors sharing the parameters' and buffers' memory, as
        PyTorch's: ``sd[k].copy_(w)`` under ``no_grad`` loads a weight (nanoGPT's
        ``from_pretrained``, timm's EMA), and later training changes them too, so keep a
        snapshot with ``copy.deepcopy(model.state_dict())``. With ``keep_vars=True`` the
        parameters and buffers themselves. Save it with :func:`zeroin.save`.
        """
        if args:                   # PyTorch's deprecated positional (destination, prefix, keep_vars)
            import warnings
            warnings.warn("Positional args are being deprecated, use kwargs instead. Refer to "
                          "https://pytorch.org/docs/main/generated/torch.nn.Module.html#torch."
                          "nn.Module.state_dict for details.", FutureWarning, stacklevel=2)
            destination = args[0] if destination is None else destination
            prefix = args[1] if len(args) > 1 and prefix == "" else prefix
            keep_vars = args[2] if len(args) > 2 and keep_vars is False else keep_vars
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        local_metadata = dict(version=self._version)
        if hasattr(destination, "_metadata"):
            destination._metadata[prefix[:-1]] = local_metadata
        d = self.__dict__
        for hook in list(d.get("_state_dict_pre_hooks", {}).values()):
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._registry("_modules").items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".",
                             keep_vars=keep_vars)
        for hook in list(d.get("_state_dict_hooks", {}).values()):
            result = hook(self, destination, prefix, local_metadata)
            if not getattr(hook, "_from_public_api", False):
                destination = destination if result is None else result
            elif result is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return destination

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        """Put this module's own parameters, persistent buffers and extra state (not its
        children's) into ``destination``; ``state_dict`` calls it on every module, so a
        subclass can override it (e.g. to save under other names)."""
        d = self.__dict__
        skip = d.get("_non_persistent", ())
        for name, t in self._registry("_parameters").items():
            if t is not None:
                keep = keep_vars or isinstance(t, UninitializedTensorMixin)   # PyTorch's
                destination[prefix + name] = t if keep else t.detach()
        for name, t in d["_buffers"].items():
            if t is not None and name not in skip:
                keep = keep_vars or isinstance(t, UninitializedTensorMixin)
                destination[prefix + name] = t if keep else t.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE] = self.get_extra_state()

    def get_extra_state(self):
        """The extra (non-tensor) state this module puts into ``state_dict`` under
        ``_extra_state``: define it, and :meth:`set_extra_state`, in a subclass."""
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called. Please file an issue at https://github.com/pytorch/"
                           "pytorch/issues/new?template=bug-report.yml to report this bug.")

    def set_extra_state(self, state):
        """Restore what :meth:`get_extra_state` returned (``load_state_dict`` calls it)."""
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called. Please file an issue at https://github.com/pytorch/"
                           "pytorch/issues/new?template=bug-report.yml to report this bug.")

    def _state_targets(self, prefix=""):
        """{path: tensor} in PyTorch's order: each module's parameters, then its persistent
        buffers, then its children's (a shared tensor appears under each of its names)."""
        t = OrderedDict()
        for mp, m in self.named_modules(prefix=prefix, remove_duplicate=False):
            skip = m.__dict__.get("_non_persistent", ())
            pre = mp + "." if mp else ""
            for name, p in m._registry("_parameters").items():
                if p is not None:
                    t[pre + name] = p
            for name, b in m._registry("_buffers").items():
                if b is not None and name not in skip:
                    t[pre + name] = b
        return t

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into the parameters and buffers, in place.

        With ``strict`` (default) the keys must match exactly; any missing or unexpected
        key or any shape mismatch raises an error naming it, and nothing is changed.
        Values keep the model's dtypes (``assign=True``: take the saved arrays' dtypes).
        Returns PyTorch's ``(missing_keys, unexpected_keys)`` named tuple. A model whose
        modules override ``_load_from_state_dict``/``set_extra_state`` or have load hooks
        goes through them, in PyTorch's order (nn/_state_dict.py).
        """
        if not hasattr(state_dict, "keys"):
            hint = ""
            if isinstance(state_dict, (str, os.PathLike)):
                hint = (f"; read the file first: model.load_state_dict(zeroin.load("
                        f"{os.fspath(state_dict)!r})) (or zeroin.load(path)['model'] for a "
                        f"checkpoint that holds more than the weights)")
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}{hint}")
        if not all(_plain_loader(m) for m in self.modules()):
            from ._state_dict import load_through_modules
            return load_through_modules(self, state_dict, strict, assign)
        targets = self._state_targets()
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        if strict and (missing or unexpected):
            raise _keys_error(self, missing, unexpected, targets)
        values = {k: _checked_value(self, k, state_dict[k], t) for k, t in targets.items()
                  if k in state_dict}
        for k, arr in values.items():
            _copy_in(targets[k], arr, assign)
        return IncompatibleKeys(missing, unexpected)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        """Load this module's own parameters, persistent buffers and extra state (not its
        children's) from ``state_dict``, recording missing and unexpected keys and errors
        in the lists, as PyTorch's; a subclass overrides it to rename old keys."""
        from ._state_dict import load_own
        load_own(self, state_dict, prefix, local_metadata, strict, missing_keys,
                 unexpected_keys, error_msgs)

    def _hook_table(self, key):
        from .hooks import RemovableHandle
        table = self.__dict__.setdefault(key, OrderedDict())
        return table, RemovableHandle(table)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """PyTorch's (private) hook ``hook(state_dict, prefix, local_metadata, strict,
        missing_keys, unexpected_keys, error_msgs)`` (``module`` first with
        ``with_module``), called by ``_load_from_state_dict`` before it reads the keys, so
        that it can rename old keys (weight norm's ``weight_g``). Returns a handle."""
        table, handle = self._hook_table("_load_state_dict_pre_hooks")
        table[handle.id] = functools.partial(hook, self) if with_module else hook
        return handle

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module loads its keys."""
        return self._register_load_state_dict_pre_hook(hook, with_module=True)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` after this module and its children have
        loaded; it may change ``incompatible_keys``' lists in place (before ``strict``
        checks them) and must return None."""
        table, handle = self._hook_table("_load_state_dict_post_hooks")
        table[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` before ``state_dict`` saves this module."""
        table, handle = self._hook_table("_state_dict_pre_hooks")
        table[handle.id] = hook
        return handle

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict`` saved
        this module and its children; it changes ``state_dict`` in place (returns None)."""
        hook._from_public_api = True
        table, handle = self._hook_table("_state_dict_hooks")
        table[handle.id] = hook
        return handle

    def _register_state_dict_hook(self, hook):
        """PyTorch's older post-hook: a non-None result replaces the state dict."""
        if getattr(hook, "_from_public_api", False):
            raise RuntimeError("Cannot register the same function as the state dict post hook "
                               "that was previously registered via "
                               "register_state_dict_post_hook")
        table, handle = self._hook_table("_state_dict_hooks")
        table[handle.id] = hook
        return handle

    # --- printing -----------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        """PyTorch's layout: ``extra_repr``, then every registered child by name, a module
        registered twice (``act`` in ``Sequential(l1, act, l2, act)``) and None ones too."""
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        kids = [f"({name}): " + repr(m).replace("\n", "\n  ")     # a shared one each time
                for name, m in self._registry("_modules").items()]
        if len(extra_lines) == 1 and not kids:
            return f"{type(self).__name__}({extra})"
        return _block(type(self).__name__, extra_lines + kids)

    def __dir__(self):
        names = set(super().__dir__())
        names.difference_update(n for n in _SCRIPT_ONLY if n not in self.__dict__ and
                                isinstance(getattr(type(self), n, None), _ScriptOnly))
        return sorted(names)

    save, code, graph = _ScriptOnly(), _ScriptOnly(), _ScriptOnly()
    inlined_graph, code_with_constants, original_name = _ScriptOnly(), _ScriptOnly(), _ScriptOnly()
