"""Optimizer: the rule that turns gradients into a step, ``w <- w - lr * (something)``.

Every optimiser updates ``p.data`` in place with NumPy ``out=`` operations on buffers made
once per parameter, so float32 parameters stay float32 and a step allocates no new arrays,
except plain SGD's one temporary ``lr * g`` (faster than a buffer: see SGD._update).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._tensor import Tensor
from ..nn.utils import _zero_grad

__all__ = ["Optimizer"]

_required = object()


class Optimizer:
    """Base class: holds ``param_groups`` (lists of parameters with their own settings,
    e.g. ``lr``) and per-parameter ``state`` (momentum buffers, running averages...).

    Subclasses implement ``_update(p, g, state, group, scratch)``.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self._scratch = {}
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
                             f"generator can only be used once)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group):
        """Add a dict with ``params`` and optional settings overriding the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group must be a dict with a 'params' key")
        group = dict(group)
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{name}: parameter group {len(self.param_groups)} is empty")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            label = f"parameter {i}" + (f" ({p.name!r})" if getattr(p, "name", None) else "")
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: {label} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad:
                raise ValueError(f"{name}: {label} does not require grad, so it would never "
                                 f"be updated; create it with requires_grad=True or leave it "
                                 f"out")
            if p.grad_fn is not None:
                raise ValueError(f"{name}: {label} was computed by an op "
                                 f"({p.grad_fn.name}); only leaf tensors can be optimised")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{name}: {label} has dtype {p.data.dtype}; parameters "
                                f"must be floating point")
            if id(p) in seen:
                raise ValueError(f"{name}: {label} appears more than once; each parameter "
                                 f"may be in only one group")
            seen.add(id(p))
        group["params"] = params
        for k, v in self.defaults.items():
            if v is _required and k not in group:
                raise TypeError(f"{name}: parameter group needs {k!r}")
            group.setdefault(k, v)
        self._check(group)
        self.param_groups.append(group)

    def _check(self, group):
        name = type(self).__name__
        lr = group.get("lr")
        if not isinstance(lr, numbers.Real) or not lr >= 0:
            raise ValueError(f"{name}: learning rate lr must be a number >= 0, got {lr!r}")
        wd = group.get("weight_decay", 0)
        if not wd >= 0:
            raise ValueError(f"{name}: weight_decay must be >= 0, got {wd!r}")
        eps = group.get("eps", 0)
        if not eps >= 0:
            raise ValueError(f"{name}: eps must be >= 0, got {eps!r}")

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
        for group in self.param_groups:
            self._step_group(group, group["params"])
        return loss

    def _step_group(self, group, params):
        """Update ``params`` (of ``group``) that have a gradient."""
        state, scratch, update = self.state, self._scratch, self._update
        for p in params:
            gt = p.grad
            if gt is None:
                continue
            g, d = gt.data, p.data
            if g.shape != d.shape:
                raise ValueError(f"{type(self).__name__}.step: gradient of shape "
                                 f"{g.shape} for a parameter of shape {d.shape}")
            st = state.get(p)
            if st is None:
                st = state[p] = self._init_state(p, group)
            e = scratch.get(p)      # (the array p had, [buffer, second buffer or None])
            if e is None or e[0] is not d:
                sc = e[1] if e is not None else None
                if sc is None or sc[0].shape != d.shape or sc[0].dtype != d.dtype:
                    sc = [np.empty_like(d), None]
                e = scratch[p] = (d, sc)
            update(d, g, st, group, e[1])

    def _init_state(self, p, group):
        return {}

    def _update(self, d, g, state, group, sc):
        raise NotImplementedError

    @staticmethod
    def _second(sc):
        """A second scratch array of the parameter's shape, made once."""
        if sc[1] is None:
            sc[1] = np.empty_like(sc[0])
        return sc[1]

    @staticmethod
    def _decayed(d, g, wd, sc):
        """g + wd * d in a scratch buffer (L2 weight decay), or g itself."""
        if not wd:
            return g
        s2 = Optimizer._second(sc)
        np.multiply(d, wd, out=s2)
        s2 += g
        return s2

    # --- state -------------------------------------------------------------------------
    def state_dict(self):
        """Settings and state as plain numbers, lists and NumPy arrays (no pickle needed).

        ``{"state": {index: {name: array or number}}, "param_groups": [{..., "params":
        [indices]}]}``; parameters are numbered in order across the groups, as in PyTorch.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            g = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.items()
                 if k != "params"}
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
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore settings and state saved by :meth:`state_dict` (copies the arrays)."""
        name = type(self).__name__
        try:
            groups, state = state_dict["param_groups"], state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and "
                             f"'param_groups' (from optimizer.state_dict())") from None
        if len(groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has {len(groups)} "
                             f"parameter group(s), this optimizer has "
                             f"{len(self.param_groups)}")
        params = []
        for i, (saved, mine) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(mine["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters in the saved state but "
                                 f"{len(mine['params'])} here; it was saved for another "
                                 f"model")
            params.extend(zip(saved["params"], mine["params"]))
        by_index = dict(params)
        new_state = {}
        for k, st in state.items():
            k = int(k)
            if k not in by_index:
                raise ValueError(f"{name}.load_state_dict: state for parameter {k}, which "
                                 f"is not in any group")
            p = by_index[k]
            ns = {}
            for key, v in st.items():
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p.data.shape:
                        raise ValueError(f"{name}.load_state_dict: state {key!r} of "
                                         f"parameter {k} has shape {v.shape}, the parameter "
                                         f"has shape {p.data.shape}")
                    ns[key] = v.astype(p.data.dtype, copy=True)
                elif isinstance(v, np.ndarray):
                    ns[key] = v.item()
                else:
                    ns[key] = v
            new_state[p] = ns
        for saved, mine in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k == "params":
                    continue
                if isinstance(self.defaults.get(k), tuple):
                    v = tuple(np.asarray(v).tolist())
                elif isinstance(v, np.ndarray) and v.ndim == 0:
                    v = v.item()
                mine[k] = v
        self.state = new_state

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"
