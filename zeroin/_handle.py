"""``RemovableHandle``, the one handle class every ``register_*_hook`` returns (module hooks
and tensor hooks alike), exported as ``zeroin.utils.hooks.RemovableHandle`` as in PyTorch.
Its own file so that ``zeroin._tensor`` can subclass it without importing ``zeroin.nn``."""
import itertools
import weakref

_ids = itertools.count()
# The graph nodes (grad_fn) that have hooks (zeroin.function's register_hook): while it is
# empty, backward never looks for them (HOOKED.data, a set, is the cheap test).
HOOKED = weakref.WeakSet()


class RemovableHandle:
    """Returned by ``register_*_hook``: ``handle.remove()`` unregisters the hook (also
    usable as a context manager). ``hooks_dict`` maps ``handle.id`` to the hook."""

    def __init__(self, hooks_dict, *, extra_dict=None):
        self._hooks = hooks_dict
        self.id = next(_ids)
        self.also = None            # a hook registered together with this one
        # PyTorch's extra_dict: dicts also keyed by id (a module's "_with_kwargs" flags)
        self.extra_dicts = ([] if extra_dict is None else
                            list(extra_dict) if isinstance(extra_dict, list) else [extra_dict])

    def remove(self):
        self._hooks.pop(self.id, None)
        for d in self.extra_dicts:
            d.pop(self.id, None)
        if self.also is not None:
            self.also.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
