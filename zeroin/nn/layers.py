"""Layers: Linear, Sequential, Identity, Flatten, Dropout, BatchNorm1d, Bilinear."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .._tensor import Tensor, get_default_dtype
from ..errors import DtypeError, ShapeError, a_type
from ..ops import default_dtype_note
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Sequential", "Identity", "Flatten", "Unflatten", "Unfold", "Fold",
           "Dropout", "BatchNorm1d", "Bilinear"]


def _dtype(dtype, complex_ok=False):
    """A layer's parameter dtype: floating (complex too where ``complex_ok``: Linear)."""
    d = np.dtype(dtype) if dtype is not None else get_default_dtype()
    if d.kind == "c" and not complex_ok:
        raise TypeError(f"expected a floating dtype such as float32 or float64, got {d}; "
                        f"of zeroin's layers only Linear takes a complex dtype")
    if d.kind not in "fc":
        raise TypeError(f"expected a floating dtype such as float32 or float64, got {d}")
    return d


def _check_device(layer, device):
    """Layers live on the CPU; ``device='cpu'`` (or None) is accepted, others refused."""
    if device is not None:
        from .hooks import _device
        _device(device, layer)


def _check_input_dtype(layer, x):
    """The input as a tensor of the layer's parameter dtype: integer or boolean input is
    converted; another floating dtype is refused, as PyTorch refuses mixed dtypes (the
    result would silently take the wider dtype)."""
    if type(x) is not Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
    w = layer.weight if layer.weight is not None else None
    if w is None:
        return x
    xd, wd = x.dtype, w.dtype
    if xd is wd or xd == wd:
        return x
    name = type(layer).__name__
    if xd.kind in "iub":
        return x.astype(wd)
    raise DtypeError(f"{name}: input has dtype {xd} but the layer's parameters are {wd}; "
                     f"convert one of them: the model with model.to(zeroin.{xd}) (or "
                     f"model.float() / model.double()), or the input with x.to(zeroin.{wd}) "
                     f"(x.float() / x.double()){default_dtype_note(xd, wd)}")


class Linear(Module):
    """y = x @ W.T + b: every output is a weighted sum of every input.

    ``weight`` has shape (out_features, in_features) and ``bias`` (out_features,), as in
    PyTorch. The default initialisation is PyTorch's: ``kaiming_uniform_(W, a=sqrt(5))``,
    i.e. W and b uniform in (-1/sqrt(in_features), 1/sqrt(in_features)). For deep ReLU
    networks He initialisation (``init.kaiming_uniform_(W, nonlinearity='relu')``) keeps
    the signal from shrinking; see ``docs/initialisation.md``.
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None, rng=None,
                 device=None):
        super().__init__()
        for n, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Linear: {n} must be a positive integer, got {v!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        _check_device("Linear", device)
        dt = _dtype(dtype, complex_ok=True)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None):
        """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)), b ~ U(-1/sqrt(fan_in), ...)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x):
        w = self.weight
        if type(x) is Tensor:
            # F.linear refuses mixed dtypes itself: the layer's check (its conversion of
            # integer input, its message) runs only then, not as two .dtype reads per call
            try:
                return F.linear(x, w, self.bias)
            except DtypeError:
                pass
        return F.linear(_check_input_dtype(self, x), w, self.bias)

    def extra_repr(self):
        s = f"in_features={self.in_features}, out_features={self.out_features}, " \
            f"bias={self.bias is not None}"
        if self.weight.dtype != get_default_dtype():
            s += f", dtype={self.weight.dtype}"
        return s


def _not_a_module(name, m):
    """Sequential's error for an item that is not a Module, with the likely fix."""
    if isinstance(m, type):
        return (f"Sequential: item {name} is the class {m.__name__}, not a Module; pass an "
                f"instance: {m.__name__}() (with its arguments), not {m.__name__}")
    msg = f"Sequential: item {name} is {a_type(m)}, not a Module"
    if isinstance(m, (list, tuple)):
        msg += "; pass the layers one by one: Sequential(*layers)"
    return msg


class Sequential(Module):
    """Modules applied one after another: ``Sequential(Linear(2, 4), ReLU(), Linear(4, 1))``.

    Children are named "0", "1", ... (or by an ``OrderedDict``'s keys)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(_not_a_module(name, m))
            self.add_module(name, m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        mods = list(self._modules.values())
        if isinstance(idx, slice):
            keys = list(self._modules.keys())[idx]
            return Sequential(OrderedDict((k, self._modules[k]) for k in keys))
        try:
            return mods[idx]
        except IndexError:
            raise IndexError(f"Sequential: index {idx} is out of range for {len(mods)} "
                             f"modules") from None

    def append(self, module):
        """Add ``module`` at the end; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.append: expected a Module, got "
                            f"{type(module).__name__}")
        self.add_module(str(len(self._modules)), module)
        return self

    def _reset(self, items):
        """Register ``items`` [(name, module)] afresh, in order."""
        for k in list(self._modules):
            self.__dict__.pop(k, None)
        self._modules.clear()
        for k, m in items:
            self.add_module(k, m)

    def __setitem__(self, idx, module):
        """Replace the module at ``idx``; it keeps its name."""
        key = list(self._modules)[range(len(self))[idx]]
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: item {idx} must be a Module, got "
                            f"{type(module).__name__}")
        setattr(self, key, module)

    def __delitem__(self, idx):
        """Delete the module(s) at ``idx``; the rest are renumbered "0", "1", ... (as
        PyTorch's)."""
        mods = list(self._modules.values())
        if not isinstance(idx, slice):
            idx = range(len(mods))[idx]
        del mods[idx]
        self._reset((str(i), m) for i, m in enumerate(mods))

    def pop(self, idx):
        """Remove and return the module at ``idx`` (the rest are renumbered)."""
        m = self[idx]
        del self[idx]
        return m

    def insert(self, index, module):
        """Insert ``module`` before ``index``; returns self."""
        if not isinstance(module, Module):
            raise TypeError(f"Sequential.insert: expected a Module, got "
                            f"{type(module).__name__}")
        n = len(self)
        if not -n <= index <= n:
            raise IndexError(f"Sequential.insert: index {index} is out of range for {n} "
                             f"modules")
        items = list(self._modules.items())
        items.insert(index + n if index < 0 else index, (None, module))
        self._reset((str(i) if k is None or k.isdigit() else k, m)
                    for i, (k, m) in enumerate(items))
        return self

    def extend(self, modules):
        """Append every module of ``modules``; returns self."""
        for m in modules:
            self.append(m)
        return self

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential + {type(other).__name__}: add two Sequentials")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"Sequential += {type(other).__name__}: add a Sequential")
        return self.extend(list(other))

    def __mul__(self, n):
        if not isinstance(n, int):
            raise TypeError(f"Sequential * {type(n).__name__}: expected a positive int")
        if n <= 0:
            raise ValueError(f"Sequential * {n}: expected a positive int")
        return Sequential(*(list(self) * n))

    __rmul__ = __mul__


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored, as PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dimensions ``start_dim..end_dim`` (by default all but the batch dimension)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unfold(Module):
    """Sliding blocks of an (N, C, H, W) input as columns (N, C * kh * kw, L):
    :func:`~zeroin.nn.functional.unfold` (im2col) as a module."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):  # noqa: A002
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns (N, C * kh * kw, L) summed back into an (N, C, *output_size) image, the
    adjoint of :class:`Unfold`: :func:`~zeroin.nn.functional.fold` (col2im) as a module."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):  # noqa: A002
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of Flatten)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        shape = list(x.shape)
        d = self.dim % len(shape) if shape else 0
        sizes = list(self.unflattened_size)
        known = int(np.prod([s for s in sizes if s != -1]))
        if -1 in sizes:
            sizes[sizes.index(-1)] = shape[d] // known if known else 0
        if int(np.prod(sizes)) != shape[d]:
            raise ValueError(f"Unflatten: dimension {self.dim} of size {shape[d]} cannot be "
                             f"split into {self.unflattened_size} (input shape {x.shape})")
        return x.reshape(*(shape[:d] + sizes + shape[d + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class _DropoutNd(Module):
    """PyTorch's base of the dropout layers: ``p`` (checked) and ``inplace``."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: dropout probability p must be between "
                             f"0 and 1, got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """In training, zero each element with probability ``p`` and scale the others by
    1/(1-p); in evaluation (``model.eval()``) pass the input through unchanged. ``p`` is
    the probability to drop (CS231n's ``dropout_param['p']`` keeps: pass ``1 - p``).

    The masks come from :func:`zeroin.random.get_rng` (seed with ``zeroin.manual_seed``)
    unless ``rng`` is given."""

    def __init__(self, p=0.5, inplace=False, rng=None):
        if not isinstance(inplace, bool):       # Dropout(0.5, rng) from before inplace=
            inplace, rng = False, inplace
        super().__init__(p, inplace)
        self.rng = rng

    def forward(self, x):
        return F.dropout(x, self.p, self.training, rng=self.rng)


class _NormBase(Module):
    """PyTorch's common base of the batch and instance norms: ``weight``/``bias`` (ones and
    zeros; ``affine``), the running statistics (``track_running_stats``), their reset.
    A subclass defines ``_check_input_dim(input)``."""
    _version = 2        # PyTorch's state-dict version (saved in state_dict()._metadata)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        _check_device(type(self).__name__, device)
        dt = _dtype(dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        """Running statistics reset; ``weight`` ones and ``bias`` zeros, as PyTorch."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def _check_input_dim(self, input):  # noqa: A002
        raise NotImplementedError(f"{type(self).__name__} must define "
                                  f"_check_input_dim(self, input)")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """PyTorch's base of the batch norms: ``forward`` checks the input with the subclass's
    ``_check_input_dim`` and normalises over every dimension but 1."""

    def forward(self, x):
        if self.affine:
            x = _check_input_dtype(self, x)
        elif not isinstance(x, Tensor):
            x = Tensor(x)
        self._check_input_dim(x)
        return self._normalize(F.batch_norm, x)

    def _normalize(self, batch_norm, x):
        """``batch_norm`` of ``x`` with this layer's state; counts the batch once it ran.
        ``momentum=None`` averages all batches so far (factor 1 / count), as PyTorch."""
        use_batch = self.training or not self.track_running_stats
        tracking = self.training and self.track_running_stats
        momentum = self.momentum
        if momentum is None:
            momentum = 1.0 / (int(self.num_batches_tracked.item()) + 1) if tracking else 0.0
        y = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                       training=use_batch, momentum=momentum, eps=self.eps)
        if tracking:
            self.num_batches_tracked.data += 1
        return y


class BatchNorm1d(_BatchNorm):
    """Normalise each feature over the batch, then scale by ``weight`` and shift by
    ``bias``.

    Training mode uses the batch's mean and (biased) variance and updates the running
    statistics: ``running = (1 - momentum) * running + momentum * batch`` (the running
    variance uses the unbiased batch variance; ``momentum=None``: the plain average of
    all batches so far): CS231n's momentum 0.9 (the weight of the old value) is
    PyTorch's 0.1. Evaluation mode uses the running ones.
    Input (N, C) or (N, C, L).
    """

    def _check_input_dim(self, x):
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm1d: expected input of shape (N, {self.num_features}) "
                             f"or (N, {self.num_features}, L), got {x.shape}")


class Bilinear(Module):
    """y = x1^T A x2 + b per output: ``weight`` (out_features, in1_features, in2_features),
    ``bias`` (out_features,), both uniform in +-1/sqrt(in1_features) (PyTorch's)."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None, rng=None):
        super().__init__()
        sizes = (("in1_features", in1_features), ("in2_features", in2_features),
                 ("out_features", out_features))
        for n, v in sizes:
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Bilinear: {n} must be a positive integer, got {v!r}")
        self.in1_features, self.in2_features, self.out_features = (int(v) for _, v in sizes)
        _check_device("Bilinear", device)
        dt = _dtype(dtype)
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None):
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound, rng=rng)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, input1, input2):
        x1 = _check_input_dtype(self, input1)
        return F.bilinear(x1, _check_input_dtype(self, input2), self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
