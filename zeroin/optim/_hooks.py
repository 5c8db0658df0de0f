"""Optimizer hooks as PyTorch's: step pre/post hooks (per optimizer and global), and
state-dict and load-state-dict pre/post hooks. Each ``register_*`` returns a
``RemovableHandle``; ``prepend=True`` runs the hook before those already registered."""
from __future__ import annotations

import functools
from collections import OrderedDict

from .._handle import RemovableHandle

__all__ = ["register_optimizer_step_pre_hook", "register_optimizer_step_post_hook"]

_global_optimizer_pre_hooks = OrderedDict()
_global_optimizer_post_hooks = OrderedDict()


def _add(table, hook, prepend=False):
    handle = RemovableHandle(table)
    table[handle.id] = hook
    if prepend:
        table.move_to_end(handle.id, last=False)
    return handle


def register_optimizer_step_pre_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` before every optimizer's ``step`` (it may
    return new ``(args, kwargs)``)."""
    return _add(_global_optimizer_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """Run ``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _add(_global_optimizer_post_hooks, hook)


def hooked_step(func):
    """``step`` with the step hooks around it, as PyTorch's ``profile_hook_step``: the
    global pre hooks, then the optimizer's, each given ``(optimizer, args, kwargs)``
    (``args`` starts with the optimizer) and able to return new ``(args, kwargs)``; after
    the step the optimizer's post hooks, then the global ones. A step that calls its base
    class's step runs the hooks once."""
    if getattr(func, "_hooked", False):
        return func

    @functools.wraps(func)
    def step(*args, **kwargs):
        self = args[0]
        d = self.__dict__
        if not (_global_optimizer_pre_hooks or _global_optimizer_post_hooks or
                d.get("_optimizer_step_pre_hooks") or d.get("_optimizer_step_post_hooks")) \
                or d.get("_in_step"):       # no hooks (asked first: the usual case)
            return func(*args, **kwargs)
        for hook in (*_global_optimizer_pre_hooks.values(),
                     *self._hook_table("_optimizer_step_pre_hooks").values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{func} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        self._in_step = True
        try:
            out = func(*args, **kwargs)
        finally:
            self._in_step = False
        for hook in (*self._hook_table("_optimizer_step_post_hooks").values(),
                     *_global_optimizer_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    step._hooked = True
    return step


class HookMixin:
    """The ``register_*_hook`` methods of ``Optimizer``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = hooked_step(cls.__dict__["step"])

    def _hook_table(self, name):
        table = self.__dict__.get(name)
        if table is None:
            table = self.__dict__[name] = OrderedDict()
        return table

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` before each ``step``; it may return new
        ``(args, kwargs)``."""
        return _add(self._hook_table("_optimizer_step_pre_hooks"), hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after each ``step``."""
        return _add(self._hook_table("_optimizer_step_post_hooks"), hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer)`` before ``state_dict()`` builds its dict."""
        return _add(self._hook_table("_optimizer_state_dict_pre_hooks"), hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` after; a dict it returns replaces it."""
        return _add(self._hook_table("_optimizer_state_dict_post_hooks"), hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """``hook(optimizer, state_dict)`` before loading (a shallow copy of the given
        dict); a dict it returns is loaded instead."""
        return _add(self._hook_table("_optimizer_load_state_dict_pre_hooks"), hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return _add(self._hook_table("_optimizer_load_state_dict_post_hooks"), hook, prepend)
