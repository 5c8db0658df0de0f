"""Optimizer: the rule that turns gradients into a step, ``w <- w - lr * (something)``.

Every optimiser updates ``p.data`` in place (``w -= ...``), so the parameter keeps its
array and dtype; its running averages live in ``state[p]``, arrays of the parameter's
shape made once. Each ``_update`` follows the formula in its class docstring.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections import defaultdict

import numpy as np

from .._tensor import Tensor
from ._hooks import (HookMixin, register_optimizer_step_post_hook,
                     register_optimizer_step_pre_hook)
from .grad_utils import _zero_grad
from ..errors import a_type

__all__ = ["Optimizer", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]

_required = object()


def _check_number(name, what, v, lo=None, hi=None, lo_open=False, hi_open=False, why="",
                  torch=None):
    """``v`` must be a finite real number in the given range (optimisers and schedulers).
    ``torch``: PyTorch's message for a value out of range, which the message starts with
    (e.g. ``"Invalid momentum value: -1"``)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name}: {what} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"{name}: {what} must be a finite number, got {v!r}")
    bad = (lo is not None and (v <= lo if lo_open else v < lo)) or \
        (hi is not None and (v >= hi if hi_open else v > hi))
    if bad:
        left = "" if lo is None else ("(" if lo_open else "[") + f"{lo}"
        right = "" if hi is None else f"{hi}" + (")" if hi_open else "]")
        if hi is None:
            rng = f"> {lo}" if lo_open else f">= {lo}"
        else:
            rng = f"in {left}, {right}"
        first = f"{torch}; " if torch else ""
        raise ValueError(f"{first}{name}: {what} must be {rng}, got {v!r}{why}")
    return v


def _fits(state, value):
    """The state's arrays still fit the parameter's shape (``p.data = ...`` may change
    it; the state then starts afresh)."""
    for v in state.values():
        if isinstance(v, np.ndarray) and v.ndim and v.shape != value.shape:
            return False
    return True


def _snapshot(v):
    """A copy of a state value: arrays and lists of them (LBFGS's history) copied."""
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, list):
        return [_snapshot(x) for x in v]
    return v


def _foreign_keyword(cls, key, params):
    """How to say ``key`` (a Keras / NNFS book name that PyTorch spells otherwise) to
    ``cls``, or None."""
    schedule = ("the rate lr / (1 + decay * k) is a schedule here: sched = "
                "optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / (1 + decay * k)), with "
                "sched.step() after each opt.step() (zeroin.fit(..., scheduler=sched, "
                "scheduler_interval='step'))")
    fixes = {"learning_rate": "lr" in params and "write lr=...",
             "epsilon": "eps" in params and "write eps=...",
             "beta_1": "betas" in params and "write betas=(beta_1, beta_2)",
             "beta_2": "betas" in params and "write betas=(beta_1, beta_2)",
             "rho": "alpha" in params and "the squares' decay rate rho is alpha=... here",
             "decay": "lr_decay" in params and "write lr_decay=... (the same lr / (1 + decay "
                                               "* k))" or "lr" in params and schedule}
    fix = fixes.get(key)
    return fix and (f"{cls.__name__}: unexpected keyword argument {key!r} (a Keras / NNFS "
                    f"book name; zeroin speaks PyTorch's): {fix}")


def _name_foreign_keywords(init):
    """Wrap an optimizer's ``__init__`` so that a keyword it lacks, spelt as Keras and the
    NNFS book spell it (learning_rate, epsilon, decay, ...), is a TypeError naming its
    PyTorch spelling; the signature stays the original's."""
    params = inspect.signature(init).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return init

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        for key in kwargs:
            if key not in params:
                msg = _foreign_keyword(type(self), key, params)
                if msg:
                    raise TypeError(msg)
        init(self, *args, **kwargs)
    return __init__


class Optimizer(HookMixin):
    """Base class: holds ``param_groups`` (lists of parameters with their own settings,
    e.g. ``lr``) and per-parameter ``state`` (momentum buffers, running averages...).

    Subclasses implement ``_update(w, g, state, group, work)``. Complex parameters step
    as their (real, imag) pairs (:meth:`_update_complex`), unless ``_takes_complex`` is
    False (PyTorch's Adafactor and Muon refuse them).
    """
    _takes_complex = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _name_foreign_keywords(cls.__dict__["__init__"])

    # state numbers PyTorch keeps as float32 0-d tensors: state_dict() gives them as 0-d
    # float32 arrays, so that its layout (names, dtypes, shapes) is PyTorch's
    _float32_scalars = ("step",)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)      # as PyTorch: state[p] is {} before the first step
        self._work = {}                     # per parameter: work arrays, never saved
        self.param_groups = []
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors (e.g. "
                            f"model.parameters() or [w, b]), got a single Tensor; wrap it "
                            f"in a list: [{params.name or 'w'}]")
        if callable(getattr(params, "parameters", None)):
            raise TypeError(f"{name}: params must be an iterable of tensors, got the "
                            f"{type(params).__name__} model itself; pass "
                            f"model.parameters()")
        if callable(params) and getattr(params, "__name__", None) == "parameters":
            raise TypeError(f"{name}: params is the method model.parameters, not its "
                            f"result; call it: model.parameters()")
        if isinstance(params, dict):
            raise TypeError(f"{name}: params must be an iterable of tensors or of dicts "
                            f"(parameter groups), got a dict; for a state dict use "
                            f"load_state_dict")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list; pass "
                             f"model.parameters() of a model that has parameters (a "
                             f"generator can only be used once; a module registers "
                             f"nn.Parameter attributes only, as PyTorch's: write self.w = "
                             f"nn.Parameter(t), not a plain tensor with requires_grad=True)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)
        if not any(p.requires_grad for g in self.param_groups for p in g["params"]):
            raise ValueError(f"{name}: no parameter requires grad, so nothing would ever "
                             f"be updated; create them with requires_grad=True (a frozen "
                             f"parameter beside trainable ones is fine)")

    def add_param_group(self, group):
        """Add a dict with ``params`` and optional settings overriding the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(group)}; {name}: a "
                            f"parameter group is a dict with a 'params' key")
        if "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        group = dict(group)
        params = group["params"]
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of tensors in sets will change "
                            "between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} is empty")
        params = self._named(group, params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            label = f"parameter {i}" + (f" ({p.name!r})" if getattr(p, "name", None) else "")
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: {label} is {a_type(p)}, not a Tensor")
            if not p.requires_grad and len(params) == 1 and not self.param_groups:
                raise ValueError(f"{name}: {label} does not require grad, so it would never "
                                 f"be updated; create it with requires_grad=True or leave it "
                                 f"out")
            if p.grad_fn is not None:
                raise ValueError(f"can't optimize a non-leaf Tensor; {name}: {label} was "
                                 f"computed by an op "
                                 f"({p.grad_fn.name}); only leaf tensors can be optimised")
            if p.data.dtype.kind not in "fc":
                raise TypeError(f"{name}: {label} has dtype {p.data.dtype}; parameters "
                                f"must be floating point (or complex)")
            if p.data.dtype.kind == "c" and not self._takes_complex:
                raise RuntimeError(f"{name} does not support complex parameters (as in "
                                   f"PyTorch; {label} is {p.data.dtype}): keep its "
                                   f"real and imaginary parts as two real parameters")
            if id(p) in seen:
                raise ValueError(f"some parameters appear in more than one parameter "
                                 f"group; {name}: {label} appears more than once; each "
                                 f"parameter may be in only one group")
            seen.add(id(p))
        group["params"] = params
        for k, v in self.defaults.items():
            if v is _required and k not in group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {k}")
            group.setdefault(k, v)
        self._check(group)
        self.param_groups.append(group)

    def _named(self, group, params):
        """The tensors of ``params``; ``(name, tensor)`` pairs (``model.named_parameters()``,
        as PyTorch takes them) put their names in ``group["param_names"]``. A group has
        names for all of its parameters or none, and so do all groups."""
        name = type(self).__name__
        names = [p[0] for p in params if isinstance(p, tuple) and len(p) == 2]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: parameter group {len(self.param_groups)} mixes "
                                 f"(name, tensor) pairs and bare tensors; give all of them "
                                 f"names (model.named_parameters()) or none")
            params = [p[1] for p in params]
            group["param_names"] = names
        if self.param_groups and ("param_names" in group) != \
                ("param_names" in self.param_groups[0]):
            has, other = ("with", "without") if "param_names" in group else \
                ("without", "with")
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} comes {has} "
                             f"parameter names, group 0 {other}; give every group names "
                             f"(named_parameters()) or none")
        return params

    def _check(self, group):
        """Refuse settings that make no sense (PyTorch's checks, with the fix named)."""
        name = type(self).__name__
        lr = group.get("lr")
        if isinstance(lr, Tensor):
            if lr.data.size != 1:
                raise ValueError(f"Tensor lr must be 1-element; {name}: got lr of shape "
                                 f"{tuple(lr.shape)}, pass a number or a 1-element tensor")
            lr = group["lr"] = lr.item()
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"{name}: learning rate lr must be a number >= 0, got "
                            f"{type(lr).__name__} {lr!r}; pass e.g. lr=0.1")
        if not lr >= 0 or not math.isfinite(lr):
            raise ValueError(f"{self._torch_says('lr', lr)}; {name}: learning rate lr must "
                             f"be a number >= 0, got {lr!r}")
        for key in ("weight_decay", "momentum"):
            if key in group:
                _check_number(name, key, group[key], lo=0.0,
                              torch=self._torch_says(key, group[key]))
        if "eps" in group:
            _check_number(name, "eps", group["eps"], lo=0.0, lo_open=True,
                          why="; eps keeps the division finite where a gradient is 0 "
                              "(e.g. 1e-8)", torch=self._torch_says("eps", group["eps"]))
        for key in ("maximize", "nesterov", "amsgrad", "centered"):
            if key in group and not isinstance(group[key], (bool, np.bool_)):
                raise TypeError(f"{name}: {key} must be True or False, got "
                                f"{group[key]!r}")

    @staticmethod
    def _torch_says(key, v):
        """PyTorch's message for setting ``key`` out of range (Adafactor and Muon word
        theirs otherwise and override this)."""
        what = {"lr": "learning rate", "eps": "epsilon value"}.get(key, f"{key} value")
        return f"Invalid {what}: {v}"

    # --- the step ----------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient before the next backward (which accumulates)."""
        for group in self.param_groups:
            _zero_grad(group["params"], set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure`` (optional) re-evaluates
        the loss (calling backward) and its value is returned."""
        loss = None
        if closure is not None:
            from .._tensor import enable_grad
            with enable_grad():
                loss = closure()
        self._check_grads()
        for group in self.param_groups:
            self._step_group(group, group["params"])
        return loss

    def _check_grads(self):
        """Every gradient has its parameter's shape: checked before any parameter changes,
        so a step that fails updates nothing."""
        for gi, group in enumerate(self.param_groups):
            for p in group["params"]:
                g = p.grad
                if g is not None and g.shape != p.shape:
                    i = next(i for i, q in enumerate(group["params"]) if q is p)
                    label = f" {p.name!r}" if getattr(p, "name", None) else ""
                    raise ValueError(f"{type(self).__name__}.step: parameter{label} (group "
                                     f"{gi}, index {i}) has shape {p.shape} but its gradient "
                                     f"has shape {g.shape}; no parameter was updated. Was "
                                     f"it replaced (p.data = ...) after backward? Call "
                                     f"zero_grad() and run backward() again")

    def _step_group(self, group, params):
        """Update ``params`` (of ``group``) that have a gradient."""
        for p in params:
            if p.grad is None:
                continue
            grad, value = p.grad.numpy(), p.numpy()
            if grad.shape != value.shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of shape "
                                 f"{grad.shape} for a parameter of shape {value.shape}")
            state = self.state.get(p)
            if not state or not self._state_fits(state, value):
                state = self._init_state(p, group)
            if group.get("maximize"):
                grad = -grad
            update = self._update_complex if value.dtype.kind == "c" else self._update
            update(value, grad, state, group, self._work.setdefault(p, []))
            if state:               # as PyTorch: no entry where nothing is kept (SGD without
                self.state[p] = state   # momentum), so len(opt.state) counts the same

    def _update_complex(self, value, grad, state, group, work):
        """A complex parameter's step as PyTorch's: the update of its view_as_real pairs
        (real and imaginary parts as separate numbers: Adam's second moment is Re(g)^2 and
        Im(g)^2, not |g|^2); the state keeps complex arrays, as PyTorch's."""
        def pairs(a):
            return np.stack([a.real, a.imag], -1)
        w = pairs(value)
        view = {k: pairs(v) if isinstance(v, np.ndarray) and v.dtype.kind == "c" else v
                for k, v in state.items()}
        self._update(w, pairs(grad), view, group, work)
        value.real, value.imag = w[..., 0], w[..., 1]
        for k, v in view.items():
            if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.shape == w.shape:
                old = state.get(k)
                if not (isinstance(old, np.ndarray) and old.shape == value.shape):
                    old = state[k] = np.empty(value.shape, value.dtype)
                old.real, old.imag = v[..., 0], v[..., 1]
            else:
                state[k] = v

    def _init_state(self, p, group):
        return {}

    def _state_fits(self, state, value):
        """The state still fits the parameter's array ``value`` (Adafactor's factored
        averages have other shapes and say so here)."""
        return _fits(state, value)

    def _update(self, w, g, state, group, work):
        """Change the parameter's array ``w`` in place, given its gradient ``g``; ``work``
        is this parameter's list of work arrays (see ``optimizers._work``)."""
        raise NotImplementedError

    # --- state -------------------------------------------------------------------------
    def state_dict(self):
        """Settings and state as plain numbers, lists and NumPy arrays (no pickle needed).

        ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
        [indices]}]}``; parameters are numbered in order across the groups, as in PyTorch.
        The state-dict pre hooks run first, the post hooks (which may replace it) after.
        """
        for hook in self._hook_table("_optimizer_state_dict_pre_hooks").values():
            hook(self)
        out = self._state_dict()
        for hook in self._hook_table("_optimizer_state_dict_post_hooks").values():
            result = hook(self, out)
            if result is not None:
                out = result
        return out

    def _state_dict(self):
        index = {}
        groups = []
        for group in self.param_groups:
            g = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            g["params"] = ids
            groups.append(g)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st:
                    state[index[id(p)]] = {
                        k: np.array(v, np.float32) if k in self._float32_scalars and
                        not isinstance(v, np.ndarray) else _snapshot(v)
                        for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore settings and state saved by :meth:`state_dict` (copies the arrays). The
        load pre hooks get a shallow copy of ``state_dict`` (and may return another); the
        post hooks run after it is loaded."""
        if isinstance(state_dict, dict):
            state_dict = dict(state_dict)
        for hook in self._hook_table("_optimizer_load_state_dict_pre_hooks").values():
            result = hook(self, state_dict)
            if result is not None:
                state_dict = result
        self._load_state_dict(state_dict)
        for hook in self._hook_table("_optimizer_load_state_dict_post_hooks").values():
            hook(self)

    def _load_state_dict(self, state_dict):
        name = type(self).__name__
        try:
            groups, state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups' (from optimizer.state_dict())") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter "
                             f"groups; {name}.load_state_dict: the saved state has "
                             f"{len(groups)} "
                             f"parameter group(s), this optimizer has "
                             f"{len(self.param_groups)}")
        params = []
        for i, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that "
                                 f"doesn't match the size of optimizer's group; "
                                 f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the saved state but "
                                 f"{len(mine['params'])} here; it was saved for another "
                                 f"model")
            params.extend(zip(saved["params"], mine["params"]))
        by_index = dict(params)
        new_groups = [self._loaded_group(saved, mine)
                      for saved, mine in zip(groups, self.param_groups)]
        group_of = {id(p): g for g in new_groups for p in g["params"]}
        new_state = {}
        for k, st in state.items():
            k = int(k)
            if k not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, which "
                                 f"is not in any group")
            p = by_index[k]
            new_state[p] = self._loaded_state(k, p, st, group_of[id(p)])
        for g, mine in zip(new_groups, self.param_groups):
            mine.update(g)
        self.state = defaultdict(dict, new_state)

    def _loaded_group(self, saved, mine):
        """``mine`` with the saved settings, checked as the constructor checks them."""
        group = dict(mine)
        for k, v in saved.items():
            if k == "params":
                continue
            if isinstance(self.defaults.get(k), tuple) and not isinstance(v, (str, bytes)):
                try:
                    v = tuple(np.asarray(v).tolist())
                except TypeError:           # a number: refused by the check below
                    pass
            elif isinstance(v, np.ndarray) and v.ndim == 0:
                v = v.item()
            group[k] = v
        try:
            self._check(group)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{type(self).__name__}.load_state_dict: the saved settings are "
                          f"refused: {e}") from None
        return group

    def _loaded_state(self, k, p, st, group):
        """The saved state of parameter ``k`` as arrays of ``p``'s dtype, with every key
        this optimiser's step reads (a fresh state's keys)."""
        name = type(self).__name__
        fresh = self._init_state(p, group)
        ns = {}
        for key, v in st.items():
            if isinstance(v, np.ndarray) and v.ndim > 0:
                want = fresh[key].shape if isinstance(fresh.get(key), np.ndarray) else \
                    p.data.shape
                if v.shape != want:
                    also = "" if want == p.data.shape else f" (expected {want})"
                    raise ValueError(f"{name}.load_state_dict: state {key!r} of "
                                     f"parameter {k} has shape {v.shape}, the parameter "
                                     f"has shape {p.data.shape}{also}")
                ns[key] = v.astype(p.data.dtype, copy=True)
            elif isinstance(v, np.ndarray):
                ns[key] = v.item()
                if key == "step" and float(ns[key]).is_integer():
                    ns[key] = int(ns[key])          # PyTorch's float32 step: a count here
            else:
                ns[key] = v
        if not ns:
            return ns
        for key, v in fresh.items():
            if key not in ns:
                raise ValueError(f"{name}.load_state_dict: the state of parameter {k} lacks "
                                 f"{key!r} (it has {sorted(ns)}); was it saved by another "
                                 f"optimizer or with other settings? Load the state_dict() "
                                 f"of a {name} with the same settings")
            want = "an array of the parameter's shape" if isinstance(v, np.ndarray) else \
                "a number"
            got = ns[key]
            ok = isinstance(got, np.ndarray) if isinstance(v, np.ndarray) else \
                isinstance(got, numbers.Real) and not isinstance(got, bool)
            if not ok:
                raise ValueError(f"{name}.load_state_dict: state {key!r} of parameter {k} "
                                 f"must be {want}, got {type(got).__name__} {got!r}")
        return ns

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"
