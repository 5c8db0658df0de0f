"""Module: a function with parameters, built from other modules.

Assigning a :class:`Parameter` (any leaf tensor that requires grad) or a :class:`Module` to
an attribute registers it, so ``model.parameters()`` finds every weight of a network built
from pieces, and ``state_dict()`` names each one by its path (``"0.weight"``).
"""
from __future__ import annotations

import os
from collections import OrderedDict, namedtuple

import numpy as np

from .._tensor import Tensor, _array_of, _as_array, _leaf, _make, get_default_dtype
from ..function import ShapeError, ZeroinError
from ..optim.grad_utils import _zero_grad

__all__ = ["Module", "Parameter", "IncompatibleKeys", "StateDictError",
           "UninitializedParameter", "UninitializedBuffer"]


class StateDictError(ZeroinError, KeyError):
    """A state dict whose keys do not fit the model (missing or unexpected names)."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class Parameter(Tensor):
    """A learnable tensor: a float leaf tensor with ``requires_grad=True``, as PyTorch's.

    Layers make their weights as Parameters, so ``isinstance(layer.weight, nn.Parameter)``
    holds; a :class:`Module` also registers any other leaf tensor that requires grad when
    it is assigned as an attribute. A tensor's array is shared (as in PyTorch); other data
    is copied; integer data becomes the default float dtype.
    """
    __slots__ = ()

    def __new__(cls, data=None, requires_grad=True, dtype=None, name=None):
        if data is None:
            data = np.zeros(0)
        arr = data.numpy() if isinstance(data, Tensor) else _as_array(data, dtype)
        if dtype is not None and arr.dtype != np.dtype(dtype):
            arr = arr.astype(dtype)
        if arr.dtype.kind != "f":
            arr = arr.astype(get_default_dtype())
        t = _make(arr, bool(requires_grad), None, None, cls)
        t.name = name
        return t

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


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


def _is_parameter(value):
    """A Parameter (also a frozen one), or any leaf tensor that requires grad."""
    return isinstance(value, Parameter) or (isinstance(value, Tensor) and value.requires_grad
                                            and value.grad_fn is None)


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
            p.name = f"{name}.{path}"


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
        raise TypeError(f"{type(module).__name__}: cannot assign a {type(value).__name__} as "
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
        if isinstance(value, Buffer):
            self._set_buffer(name, value)
            return
        if isinstance(value, Module):
            self._registry("_modules")
            self._forget(name, keep="_modules")     # a replaced child keeps its place
            d["_modules"][name] = value
            _name_by_path(name, value)
        elif _is_parameter(value):
            self._registry("_parameters")
            self._forget(name, keep="_parameters")
            d["_parameters"][name] = value
            if value.name is None:
                value.name = name
        elif name in d.get("_parameters", ()) or name in d.get("_modules", ()):
            _slot_value(self, name, value)          # None keeps the slot (PyTorch's)
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}: cannot assign a "
                                f"{type(value).__name__} to buffer {name!r} (a Tensor or "
                                f"None expected: zeroin.tensor(value))")
            d["_buffers"][name] = value
        else:
            # plain attributes, including computed tensors (e.g. a cached activation)
            self._forget(name)
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
        """Register ``param`` (a leaf tensor that requires grad, or None) as ``name``."""
        self._registry("_parameters")
        _check_name(self, "parameter", name, "_parameters")
        if param is None:
            self._forget(name, keep="_parameters")
            self.__dict__["_parameters"][name] = None
            object.__setattr__(self, name, None)
            return
        if not _is_parameter(param):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or a leaf "
                            f"tensor with requires_grad=True (zeroin.nn.Parameter(data))")
        setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Register a state tensor that is not learned (e.g. BatchNorm's running mean).

        Buffers are saved in ``state_dict`` (unless ``persistent=False``) and converted by
        :meth:`to`, but optimisers never see them."""
        self._registry("_buffers")
        _check_name(self, "buffer", name, "_buffers")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: cannot register a {type(tensor).__name__} as "
                            f"buffer {name!r} (a Tensor or None expected: "
                            f"zeroin.tensor(value))")
        self._forget(name, keep="_buffers")
        self.__dict__["_buffers"][name] = tensor
        if not persistent:
            self.__dict__["_non_persistent"].add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} is a {type(module).__name__}, not a Module")
        self._registry("_modules")
        _check_name(self, "module", name, "_modules")
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

    # --- running ------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args, **kwargs):
        if "_hooks" not in self.__dict__:       # the common case: no hooks registered
            return self.forward(*args, **kwargs)
        from .hooks import call_with_hooks
        return call_with_hooks(self, args, kwargs)

    # --- hooks (PyTorch's; the machinery is in nn/hooks.py) ------------------------------
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
        return add_hook(self, "forward", hook, prepend, with_kwargs=with_kwargs)

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
        return add_hook(self, "backward", hook, prepend)

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
        parameters and buffers channels last, as PyTorch."""
        from .hooks import parse_to
        fmt = kwargs.pop("memory_format", None)
        dt = parse_to(type(self).__name__, args, kwargs)
        if dt is not None:
            self._convert(dt)
        if fmt is not None:
            self._lay_out(fmt)
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
        for p in self.parameters():
            if p.data.dtype != dt:
                p.data = p.data.astype(dt)
                if p.grad is not None:
                    p.grad = _leaf(p.grad.data.astype(dt))
        for b in self.buffers():
            if b.data.dtype.kind == "f" and b.data.dtype != dt:
                b.data = b.data.astype(dt)

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
        """Convert to ``dst_type`` (a floating dtype); returns self."""
        return self.to(dst_type)

    def cpu(self):
        """Nothing to move (everything lives on the CPU); returns self."""
        return self

    # --- state --------------------------------------------------------------------------
    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """{path: tensor} of every parameter and persistent buffer, as PyTorch's.

        Values are detached tensors holding *copies* of the arrays (a snapshot: later
        training does not change it; PyTorch shares the storage instead). With
        ``keep_vars=True`` the parameters and buffers themselves. Save it with
        :func:`zeroin.save`.
        """
        if args:                   # PyTorch's deprecated positional (destination, prefix)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
        out = OrderedDict() if destination is None else destination
        for name, t in self._state_targets().items():     # prefix "m." gives "m.0.weight"
            keep = keep_vars or isinstance(t, UninitializedTensorMixin)   # PyTorch's
            out[prefix + name] = t if keep else _leaf(t.data.copy())
        return out

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
        Returns PyTorch's ``(missing_keys, unexpected_keys)`` named tuple.
        """
        if not hasattr(state_dict, "keys"):
            hint = ""
            if isinstance(state_dict, (str, os.PathLike)):
                hint = (f"; read the file first: model.load_state_dict(zeroin.load("
                        f"{os.fspath(state_dict)!r})) (or zeroin.load(path)['model'] for a "
                        f"checkpoint that holds more than the weights)")
            raise TypeError(f"load_state_dict: expected a dict of arrays, got "
                            f"{type(state_dict).__name__}{hint}")
        state_dict = self._run_load_pre_hooks(state_dict, strict)
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
            if assign and arr.dtype.kind == "f":
                t.data = np.array(arr)
            elif t.data.flags.writeable:
                np.copyto(t.data, arr, casting="unsafe")
            else:
                t.data = arr.astype(t.data.dtype)
        return IncompatibleKeys(missing, unexpected)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """PyTorch's (private) hook ``hook(state_dict, prefix, local_metadata, strict,
        missing_keys, unexpected_keys, error_msgs)``, called by ``load_state_dict`` before
        it reads the keys, so that it can rename old keys (weight norm's ``weight_g``)."""
        self.__dict__.setdefault("_load_pre_hooks", []).append((hook, with_module))

    def _run_load_pre_hooks(self, state_dict, strict):
        """A copy of ``state_dict`` after every submodule's load pre-hooks (if any)."""
        mods = [(p, m) for p, m in self.named_modules() if "_load_pre_hooks" in m.__dict__]
        if not mods:
            return state_dict
        state_dict = OrderedDict(state_dict)
        for path, m in mods:
            for hook, with_module in m.__dict__["_load_pre_hooks"]:
                args = (state_dict, path + "." if path else "", {}, strict, [], [], [])
                hook(m, *args) if with_module else hook(*args)
        return state_dict

    # --- printing -----------------------------------------------------------------------
    def extra_repr(self):
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        kids = [f"({name}): " + repr(m).replace("\n", "\n  ")
                for name, m in self.named_children()]
        if len(extra_lines) == 1 and not kids:
            return f"{type(self).__name__}({extra})"
        return _block(type(self).__name__, extra_lines + kids)

    def __dir__(self):
        return sorted(set(super().__dir__()))
