"""``torch.nn.utils.prune``: zero parts of a parameter through a mask, as PyTorch's.

Pruning ``module.weight`` moves the parameter to ``weight_orig``, registers the 0/1 buffer
``weight_mask`` and makes ``weight`` the product ``weight_mask * weight_orig``, recomputed
by a forward pre-hook (the pruning method itself) before every call, so gradients reach
``weight_orig`` masked. The state-dict keys are PyTorch's (``weight_orig``,
``weight_mask``), so a pruned PyTorch state dict loads into a module pruned the same way.
Pruning again combines the masks in a :class:`PruningContainer`; :func:`remove` makes the
pruned values the parameter for good.

Ties (equal magnitudes or norms) go to the lowest index; PyTorch's ``topk`` leaves the
order of ties unspecified. Random methods draw from zeroin's generator, not PyTorch's.
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from ..._creation import ones_like, rand
from ..._tensor import Tensor, tensor
from ..._torch_ops import norm

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask",
           "identity", "random_unstructured", "l1_unstructured", "random_structured",
           "ln_structured", "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


def _pre_hooks(module):
    """The module's forward pre-hooks, ``{id: hook}`` (empty if none)."""
    return module.__dict__.get("_forward_pre_hooks", {})


def _methods_on(module, name):
    return [(k, h) for k, h in _pre_hooks(module).items()
            if isinstance(h, BasePruningMethod) and h._tensor_name == name]


def _array(t):
    return np.array(t.detach().numpy() if isinstance(t, Tensor) else t)


class BasePruningMethod(ABC):
    """A way to compute a pruning mask. Subclasses set ``PRUNING_TYPE`` ('unstructured',
    'structured' with a ``dim``, or 'global') and define ``compute_mask(t, default_mask)``;
    the instance is also the forward pre-hook that recomputes the pruned tensor."""
    _tensor_name = None

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask for ``t``, keeping the zeros of ``default_mask``."""

    def apply_mask(self, module):
        """``<name>_mask * <name>_orig``: the pruned tensor (differentiable in ``_orig``)."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return mask.to(orig.dtype) * orig

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, combined with any pruning
        already on it; returns the method (or the container) now on the module."""
        method = cls._composite(module, name, *args, **kwargs)
        orig = getattr(module, name)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(
                    f"importance_scores should have the same shape as parameter {name} of "
                    f"{module}, got {tuple(importance_scores.shape)} vs {tuple(orig.shape)}")
        else:
            importance_scores = orig
        first = not isinstance(method, PruningContainer)
        if first:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            module.__dict__.pop(name, None)
            default_mask = ones_like(orig)
        else:
            default_mask = getattr(module, name + "_mask").detach().clone()
        try:
            mask = method.compute_mask(importance_scores, default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if first:                   # undo: the parameter is back under its name
                orig = getattr(module, name + "_orig")
                delattr(module, name + "_orig")
                module.__dict__.pop(name, None)
                module.register_parameter(name, orig)
            raise
        return method

    @classmethod
    def _composite(cls, module, name, *args, **kwargs):
        """``cls(*args, **kwargs)`` for ``name``, in a container with the method already
        pruning it (whose hook is removed: the container's replaces it)."""
        found = _methods_on(module, name)
        if len(found) > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor "
                                 f"{name} of module {module}. Use a PruningContainer.")
        for k, _ in found:
            del _pre_hooks(module)[k]
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if found:
            old = found[0][1]
            if isinstance(old, PruningContainer):
                old.add_pruning_method(method)
                return old
            container = PruningContainer(old)
            container.add_pruning_method(method)
            return container
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` times the mask this method computes (from ``importance_scores``, or
        ``t`` itself), without touching any module."""
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError(f"importance_scores should have the same shape as "
                                     f"tensor t, got {tuple(importance_scores.shape)} vs "
                                     f"{tuple(t.shape)}")
        else:
            importance_scores = t
        default_mask = default_mask if default_mask is not None else ones_like(t)
        return t * self.compute_mask(importance_scores, default_mask=default_mask)

    def remove(self, module):
        """Make the pruned values the parameter ``<name>`` again; drop ``_orig``/``_mask``."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 f"removed")
        name = self._tensor_name
        weight = self.apply_mask(module)
        if hasattr(module, name):
            delattr(module, name)
        orig = module._parameters[name + "_orig"]
        orig.data = weight.detach().numpy().copy()
        delattr(module, name + "_orig")
        delattr(module, name + "_mask")
        setattr(module, name, orig)


class PruningContainer(BasePruningMethod):
    """Pruning methods applied one after another to the same tensor: each new method
    prunes only what the previous masks kept (its ``amount`` counts the kept entries)."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1:
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        """Append ``method`` (which must prune the same tensor name)."""
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask computed on the part of ``t`` the earlier masks kept
        (kept entries, kept channels along its ``dim``, or everything for 'global')."""
        method = self._pruning_methods[-1]
        mask = _array(default_mask)
        new_mask = mask.astype(np.dtype(t.dtype))
        kind = method.PRUNING_TYPE
        if kind == "unstructured":
            slc = mask == 1
        elif kind == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to '
                                     'have the attribute `dim` defined.')
            n_dims = t.ndim
            dim = method.dim + n_dims if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions "
                                 f"{n_dims}")
            keep = mask.sum(axis=tuple(d for d in range(n_dims) if d != dim)) != 0
            slc = tuple(keep if d == dim else slice(None) for d in range(n_dims))
        elif kind == "global":
            slc = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {kind}")
        partial = method.compute_mask(t[slc], default_mask=tensor(mask[slc]))
        new_mask[slc] = _array(partial)
        return tensor(new_mask)


class Identity(BasePruningMethod):
    """Prunes nothing (the mask is all ones): the pruning machinery on an intact tensor."""
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


def _check_amount(amount):
    """``amount``: a count (int >= 0) or a fraction (float in [0, 1])."""
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         f"non-negative integer")


def _how_many(amount, size):
    """The number of entries (or channels) to prune out of ``size``."""
    if isinstance(amount, numbers.Integral):
        if amount > size:
            raise ValueError(f"amount={amount} should be smaller than the number of "
                             f"parameters to prune={size}")
        return int(amount)
    return round(amount * size)


def _check_structured(t, dim):
    if t.ndim <= 1:
        raise ValueError(f"Structured pruning can only be applied to multidimensional "
                         f"tensors. Found tensor of shape {tuple(t.shape)} with {t.ndim} dims")
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _channel_mask(t, dim, keep, default_mask):
    """Ones on the channels ``keep`` (indices or a boolean vector) along ``dim``, times
    ``default_mask``."""
    mask = np.zeros(tuple(t.shape), dtype=np.dtype(t.dtype))
    slc = [slice(None)] * t.ndim
    slc[dim] = keep
    mask[tuple(slc)] = 1
    return tensor(mask * _array(default_mask).astype(mask.dtype))


class _Unstructured(BasePruningMethod):
    """Prune ``amount`` entries (a count or a fraction): the first ``k`` of ``_order``."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        k = _how_many(self.amount, t.numel())
        mask = _array(default_mask)
        if k:
            mask.reshape(-1)[self._order(t)[:k]] = 0
        return tensor(mask)


class RandomUnstructured(_Unstructured):
    """Prune ``amount`` entries (a count or a fraction) chosen at random."""

    def _order(self, t):
        prob = _array(rand(*tuple(t.shape))).reshape(-1)
        return np.argsort(-prob, kind="stable")

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(_Unstructured):
    """Prune the ``amount`` entries of smallest absolute value (a count or a fraction)."""

    def _order(self, t):
        return np.argsort(np.abs(_array(t)).reshape(-1), kind="stable")

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(BasePruningMethod):
    """Prune ``amount`` whole channels along ``dim``: all but the channels ``_keep``
    names (given the tensor, its non-negative ``dim``, the channel count and ``k``)."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _check_amount(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t, default_mask):
        _check_structured(t, self.dim)
        size = t.shape[self.dim]
        k = _how_many(self.amount, size)
        if k == 0:
            return default_mask
        dim = self.dim % t.ndim
        return _channel_mask(t, dim, self._keep(t, dim, size, k), default_mask)


class RandomStructured(_Structured):
    """Prune ``amount`` whole channels along ``dim``, chosen at random."""

    def _keep(self, t, dim, size, k):
        prob = _array(rand(size))
        return prob > np.sort(prob)[k - 1]

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prune the ``amount`` channels along ``dim`` of smallest ``n``-norm (``n`` as
    ``zeroin.norm``'s ``p``: a number, ``inf`` or ``-inf``)."""

    def __init__(self, amount, n, dim=-1):
        super().__init__(amount, dim)
        self.n = n

    def _keep(self, t, dim, size, k):
        others = [d for d in range(t.ndim) if d != dim]
        norms = _array(norm(t.detach(), p=self.n, dim=others))
        return np.argsort(-norms, kind="stable")[:size - k]

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune where the given ``mask`` is 0."""
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise AssertionError(f"default_mask shape {tuple(default_mask.shape)} must match "
                                 f"self.mask shape {tuple(self.mask.shape)}")
        base = _array(default_mask)
        return tensor(base * _array(self.mask).astype(base.dtype))

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    """Put the pruning machinery on ``module.<name>`` without pruning anything."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prune ``amount`` random entries of ``module.<name>``; returns ``module``."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prune the ``amount`` entries of ``module.<name>`` of smallest magnitude (of
    ``importance_scores`` if given); returns ``module``."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prune ``amount`` random channels of ``module.<name>`` along ``dim``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prune the ``amount`` channels along ``dim`` of smallest ``n``-norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    """Prune ``module.<name>`` where ``mask`` is 0."""
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune the ``(module, name)`` pairs in ``parameters`` together: ``pruning_method``
    (an unstructured class, e.g. ``L1Unstructured``, with ``**kwargs``) sees all their
    entries as one vector, so ``amount`` counts across all of them."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    scores = np.concatenate([
        _array(importance_scores.get((m, n), getattr(m, n))).reshape(-1)
        for m, n in parameters])
    base = np.concatenate([
        _array(getattr(m, n + "_mask")) if hasattr(m, n + "_mask")
        else np.ones(tuple(getattr(m, n).shape), dtype=np.dtype(getattr(m, n).dtype))
        for m, n in parameters], axis=None)
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the '
                        f'`pruning_method`. Found method {pruning_method} of type '
                        f'{method.PRUNING_TYPE}')
    container.add_pruning_method(method)
    final = _array(container.compute_mask(tensor(scores), tensor(base)))
    start = 0
    for m, n in parameters:
        shape = tuple(getattr(m, n).shape)
        size = int(np.prod(shape))
        custom_from_mask(m, n, mask=tensor(final[start:start + size].reshape(shape)))
        start += size


def remove(module, name):
    """Make the pruning of ``module.<name>`` permanent: the pruned values become the
    parameter ``<name>``; ``<name>_orig``, ``<name>_mask`` and the hook go."""
    for k, hook in _methods_on(module, name):
        hook.remove(module)
        del _pre_hooks(module)[k]
        return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before "
                     f"pruning can be removed")


def is_pruned(module):
    """True if ``module`` or one of its submodules has a pruning hook."""
    return any(isinstance(h, BasePruningMethod) for _, m in module.named_modules()
               for h in _pre_hooks(m).values())
