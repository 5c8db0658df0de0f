"""Parametrizations, as ``torch.nn.utils.parametrize``: ``module.weight`` computed from
other tensors every time it is read.

``register_parametrization(m, "weight", P())`` moves the parameter to
``m.parametrizations.weight.original`` (or ``original0``, ``original1``, ... when
``P.right_inverse`` returns several tensors) and turns ``m.weight`` into a property that
returns ``P()(original)``: gradients reach the originals, which the optimiser updates.
As in PyTorch the module's class becomes a subclass named ``Parametrized<Class>`` (the
only way to put a property on one instance), and ``state_dict`` keys are PyTorch's, so a
PyTorch state dict of a parametrized module loads.
"""
from __future__ import annotations

import itertools
from contextlib import contextmanager

from ..._tensor import Tensor, no_grad
from ..container import ModuleDict, ModuleList
from ..module import Module, Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized",
           "remove_parametrizations", "type_before_parametrizations",
           "transfer_parametrizations_and_params"]

_cache_enabled = 0
_cache = {}


@contextmanager
def cached():
    """Compute each parametrized tensor once inside the block and reuse it (a weight read
    at every step of a recurrent loop); the values are dropped on leaving it."""
    global _cache, _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache = {}


def _register(module, name, t):
    if isinstance(t, Parameter) or (t.requires_grad and t.grad_fn is None):
        module.register_parameter(name, t if isinstance(t, Parameter) else Parameter(t))
    else:
        module.register_buffer(name, t)


def _set(dest, src):
    """``dest``'s values (and shape) become ``src``'s, keeping the tensor object (PyTorch's
    ``set_``), so an optimiser holding ``dest`` goes on updating it."""
    dest.data = src.detach().numpy().copy()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor and its original value(s): what
    ``module.parametrizations[name]`` is. Made by :func:`register_parametrization`."""

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = tuple(original.shape), original.dtype
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        new = module.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, list, tuple)):
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors "
                             f"(list, tuple...). Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != original.dtype:
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype.\noriginal.dtype: {original.dtype}\n"
                                 f"right_inverse(original).dtype: {new.dtype}")
            if new is not original:
                _set(original, new)
            _register(self, "original", original)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of "
                                     f"tensors (list, tuple...). Got element {i} of the "
                                     f"sequence with type {type(t).__name__}.")
                t = t.detach()
                if isinstance(original, Parameter):
                    t = Parameter(t, original.requires_grad)
                t.requires_grad = original.requires_grad
                _register(self, f"original{i}", t)
        if not self.unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(z).__name__}.")
            if z.dtype != dtype:
                raise ValueError(f"Registering a parametrization may not change the dtype of "
                                 f"the tensor, unless `unsafe` flag is enabled.\n"
                                 f"unparametrized dtype: {dtype}\nparametrized dtype: "
                                 f"{z.dtype}")
            if tuple(z.shape) != shape:
                raise ValueError(f"Registering a parametrization may not change the shape of "
                                 f"the tensor, unless `unsafe` flag is enabled.\n"
                                 f"unparametrized shape: {shape}\nparametrized shape: "
                                 f"{tuple(z.shape)}")

    def right_inverse(self, value):
        """Store ``value`` through the ``right_inverse`` of each parametrization (last
        first) in the original(s): what ``module.weight = value`` does."""
        with no_grad():
            for module in reversed(list(self)):
                if not hasattr(module, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not "
                                       f"implement right_inverse.")
                value = module.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got "
                                     f"{type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype "
                                     f"{value.dtype} while `original` has dtype "
                                     f"{self.original.dtype}")
                _set(self.original, value)
                return
            if not isinstance(value, (list, tuple)) or len(value) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of tensors of "
                                 f"length {self.ntensors}. Got {type(value).__name__}"
                                 + (f" of length {len(value)}" if hasattr(value, "__len__")
                                    else ""))
            for i, t in enumerate(value):
                orig = getattr(self, f"original{i}")
                if t.dtype != orig.dtype:
                    raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype "
                                     f"{t.dtype} while `original{i}` has dtype {orig.dtype}")
                _set(orig, t)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _parametrized_setattr(self, name, value):
    """Assigning to a parametrized name goes to its ``right_inverse`` (the property)."""
    if name in type(self).__dict__.get("_parametrized_names", ()):
        object.__setattr__(self, name, value)
    else:
        Module.__setattr__(self, name, value)


def _inject_new_class(module):
    cls = type(module)
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {
        "_parametrized_names": set(), "__setattr__": _parametrized_setattr})


def _inject_property(module, name):
    def get_parametrized(self):
        given = self.__dict__.get("_functional_values")
        if given is not None and name in given:     # inside zeroin.func.functional_call
            return given[name]
        parametrization = self.parametrizations[name]
        if _cache_enabled:
            key = (id(self), name)
            t = _cache.get(key)
            if t is None:
                t = _cache[key] = parametrization()
            return t
        return parametrization()

    def set_original(self, value):
        self.parametrizations[name].right_inverse(value)

    cls = type(module)
    setattr(cls, name, property(get_parametrized, set_original))
    cls._parametrized_names.add(name)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` the output of ``parametrization`` applied to the
    original tensor (moved to ``module.parametrizations[tensor_name].original``). Called
    again on the same name, it chains the new parametrization after the others. Returns
    ``module``. ``unsafe=True`` allows a parametrization that changes shape or dtype."""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an "
                        f"nn.Module (with forward and, optionally, right_inverse), got "
                        f"{type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:
            _check_chained(module, tensor_name, parametrization)
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
        if original is None:
            raise ValueError(f"register_parametrization: {type(module).__name__}."
                             f"{tensor_name} is None; there is no tensor to parametrize")
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    return module


def _check_chained(module, name, parametrization):
    """PyTorch's checks for a parametrization added after others: same shape and dtype."""
    y = getattr(module, name)
    x = parametrization(y)
    if not isinstance(x, Tensor):
        raise ValueError(f"A parametrization must return a tensor. Got {type(x).__name__}.")
    for what, a, b in (("dtype", x.dtype, y.dtype), ("shape", tuple(x.shape),
                                                      tuple(y.shape))):
        if a != b:
            raise ValueError(f"Registering a parametrization may not change the {what} of "
                             f"the tensor, unless the `unsafe` flag is enabled.\n"
                             f"module.{name}.{what}: {b}\n"
                             f"parametrization(module.{name}).{what}: {a}")
    if hasattr(parametrization, "right_inverse"):
        try:
            z = parametrization.right_inverse(x)
        except NotImplementedError:
            return
        if not isinstance(z, Tensor):
            raise ValueError(f"parametrization.right_inverse must return a tensor. Got: "
                             f"{type(z).__name__}")
        if z.dtype != y.dtype or tuple(z.shape) != tuple(y.shape):
            raise ValueError(f"The tensor returned by parametrization.right_inverse must have "
                             f"the same dtype and shape as module.{name} ({y.dtype}, "
                             f"{tuple(y.shape)}), unless the `unsafe` flag is enabled; got "
                             f"{z.dtype}, {tuple(z.shape)}")


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has a parametrization (on ``tensor_name``, if given)."""
    p = module.__dict__.get("parametrizations")
    if not isinstance(p, ModuleDict):
        return False
    return len(p) > 0 if tensor_name is None else tensor_name in p


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo :func:`register_parametrization` on ``tensor_name``: the tensor becomes a plain
    parameter (or buffer) again, holding its current parametrized value
    (``leave_parametrized=True``) or the original (possible for one original only).
    Returns ``module``; its class is the original class again once no parametrization is
    left."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            _set(original, t)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a "
                             "tensor that is parametrized in terms of a sequence of tensors.")
        t = getattr(module, tensor_name)
        original = Parameter(t.detach()) if t.requires_grad else t.detach()
    cls = type(module)
    delattr(cls, tensor_name)
    cls._parametrized_names.discard(tensor_name)
    del module.parametrizations[tensor_name]
    _register(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = cls.__bases__[0]
    return module


def type_before_parametrizations(module):
    """The module's class before parametrizations were registered."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Give ``to_module`` the parametrizations of ``from_module`` (all, or only
    ``tensor_name``'s), the same parametrization modules and the same original
    Parameters, as PyTorch's: the two modules then share them. A tensor ``to_module`` lacks
    is created first. Does nothing if ``from_module`` is not parametrized; returns
    ``to_module``."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        if not is_parametrized(from_module, name):    # PyTorch's exception types
            exc = KeyError if hasattr(to_module, name) else AttributeError
            raise exc(f"transfer_parametrizations_and_params: {type(from_module).__name__} "
                      f"has no parametrization on {name!r}")
        src = from_module.parametrizations[name]
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
        for fn in src:
            register_parametrization(to_module, name, fn)
        dest = to_module.parametrizations[name]
        keys = ["original"] if hasattr(src, "original") else itertools.takewhile(
            lambda k: hasattr(src, k), (f"original{i}" for i in itertools.count()))
        for key in keys:
            setattr(dest, key, getattr(src, key))
    return to_module
