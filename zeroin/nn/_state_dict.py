"""``load_state_dict`` through each module's ``_load_from_state_dict`` and load hooks.

PyTorch's walk, taken only when some module of the model overrides
``_load_from_state_dict`` or ``set_extra_state``, or has load hooks (``Module``'s own loop
is quicker otherwise): each module reads its keys (its pre-hooks first), then its children
read theirs from the keys under their prefix, then its post-hooks see (and may change) the
missing and unexpected keys. As zeroin's plain loop, nothing changes unless all is well:
the base ``_load_from_state_dict`` queues its copies until the whole walk has passed.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from ..errors import ShapeError
from .module import (_EXTRA_STATE, IncompatibleKeys, Module, _checked_value, _copy_in,
                     _keys_error)

_QUEUE = threading.local()      # the copies of the load in progress (None: copy at once)


def load_through_modules(module, state_dict, strict, assign):
    """``module.load_state_dict(state_dict, strict, assign)`` in PyTorch's order."""
    missing, unexpected, errors = [], [], []
    metadata = getattr(state_dict, "_metadata", None)
    state_dict = OrderedDict(state_dict)
    if metadata is not None:
        state_dict._metadata = metadata
    queue, outer = [], getattr(_QUEUE, "copies", None)
    _QUEUE.copies = queue
    try:
        _load(module, state_dict, "", metadata, assign, missing, unexpected, errors)
    finally:
        _QUEUE.copies = outer
    if strict and (missing or unexpected):
        raise _keys_error(module, missing, unexpected, module._state_targets())
    shape_errors = [e for e in errors if isinstance(e, ShapeError)]
    if shape_errors:
        raise shape_errors[0]
    if errors:
        raise RuntimeError(f"Error(s) in loading state_dict for {type(module).__name__}:"
                           f"\n\t" + "\n\t".join(map(str, errors)))
    for t, arr in queue:
        _copy_in(t, arr, assign)
    return IncompatibleKeys(missing, unexpected)


def _load(module, local, prefix, metadata, assign, missing, unexpected, errors):
    meta = {} if metadata is None else metadata.get(prefix[:-1], {})
    if assign:
        meta["assign_to_params_buffers"] = assign
    module._load_from_state_dict(local, prefix, meta, True, missing, unexpected, errors)
    kids = module._modules
    if kids:
        subs, n = {}, len(prefix)       # the keys under each child's prefix, in one pass
        for k, v in local.items():
            head, dot, _ = k[n:].partition(".")
            if dot and k.startswith(prefix) and head in kids:
                subs.setdefault(head, {})[k] = v
        for name, child in kids.items():
            if child is not None:
                _load(child, dict(subs.get(name, {})), prefix + name + ".", metadata,
                      assign, missing, unexpected, errors)
    keys = IncompatibleKeys(missing, unexpected)
    for hook in list(module.__dict__.get("_load_state_dict_post_hooks", {}).values()):
        if hook(module, keys) is not None:
            raise AssertionError("Hooks registered with ``register_load_state_dict_post_hook`` "
                                 "are not expected to return new values, if incompatible_keys "
                                 "need to be modified, it should be done inplace.")


def load_own(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    """Module's ``_load_from_state_dict``: its pre-hooks, then its own tensors, its extra
    state, and (``strict``) the keys under ``prefix`` that name nothing of it."""
    for hook in list(module.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
        hook(state_dict, prefix, local_metadata, strict, missing, unexpected, errors)
    skip = module.__dict__.get("_non_persistent", ())
    own = {k: t for k, t in module._parameters.items() if t is not None}
    own.update((k, t) for k, t in module._buffers.items() if t is not None and k not in skip)
    assign = local_metadata.get("assign_to_params_buffers", False)
    queue = getattr(_QUEUE, "copies", None)
    for name, t in own.items():
        key = prefix + name
        if key not in state_dict:
            if strict:
                missing.append(key)
            continue
        try:
            arr = _checked_value(module, key, state_dict[key], t)
        except (ShapeError, TypeError) as e:
            errors.append(e)
            continue
        if queue is None:
            _copy_in(t, arr, assign)
        else:
            queue.append((t, arr))
    extra = prefix + _EXTRA_STATE
    if type(module).set_extra_state is not Module.set_extra_state:
        if extra in state_dict:
            module.set_extra_state(state_dict[extra])
        elif strict:
            missing.append(extra)
    elif strict and extra in state_dict:
        unexpected.append(extra)
    if strict:
        for key in state_dict:
            if key.startswith(prefix) and key != extra:
                head, dot, _ = key[len(prefix):].partition(".")
                if (head not in module._modules) if dot else (head not in own):
                    unexpected.append(key)
