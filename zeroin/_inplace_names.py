"""PyTorch's in-place variants (``x.exp_()``, ``torch.exp_(x)``...), random in-place fills,
the ``*_copy`` names, and the predicates and properties of a tensor (``is_signed``,
``nbytes``, ``storage_offset``...).

The in-place variants are generated from tables, each by
:func:`zeroin._tensor_api._inplace` on the out-of-place op, so they follow its rules:
they return ``self``; under ``no_grad`` (or off the graph) they write into the tensor's
array; on a leaf that requires grad they are refused while recording; on a tensor made by
an op they are recorded (the gradient flows through them); the result is cast to the
tensor's dtype where PyTorch allows it (float into an integer tensor is refused), and only
the other operand broadcasts.
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np

from . import ops as _ops
from . import _torch_ops as _x
from ._api_names import index_put, scatter_reduce
from ._tensor import Size, Tensor, _array_of, _leaf, _raw, is_grad_enabled
from ._tensor_api import EXPORTS, _export, _full, _inplace, _inplace_method, _method
from .random import get_rng, torch_stream
from ._torch_rng import refuse, torch_fill

# --- in-place variants ---------------------------------------------------------------------

# x.name_(...) is x.name(...) written into x
_SAME = (
    "absolute", "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh", "cos", "cosh", "sin",
    "sinh", "tan", "deg2rad", "rad2deg", "digamma", "erf", "erfc", "erfinv", "exp2", "expm1",
    "fix", "frac", "i0", "igamma", "igammac", "lgamma", "log10", "log1p", "log2", "logit",
    "mvlgamma", "polygamma", "negative", "reciprocal", "rsqrt", "sgn", "sign", "sinc",
    "trunc", "nan_to_num", "xlogy", "ldexp", "hypot", "copysign", "heaviside", "fmod",
    "remainder", "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift", "divide", "true_divide", "floor_divide",
    "multiply", "subtract", "cumsum", "cumprod", "addmm", "addbmm", "baddbmm", "addmv",
    "addr", "tril", "triu", "renorm", "masked_scatter", "nextafter")

# bool results written as 0/1 in x's dtype; x keeps requires_grad, with a zero gradient
_PREDICATES = ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
               "less_equal", "not_equal", "logical_and", "logical_or", "logical_xor",
               "logical_not")


def _values_of(fn):
    """``fn``'s values in x's dtype; where x requires grad, a result in the graph with a
    zero gradient, as PyTorch's ``y.eq_(v)`` on a ``y`` that requires grad."""
    def f(x, *args, **kwargs):
        out = fn(x, *args, **kwargs)
        if not (x.requires_grad and is_grad_enabled()):
            return out
        v = _leaf(_raw(out).astype(x.dtype))
        return _ops.where(_leaf(np.ones(x.shape, bool)), v, x)
    return f


for _name in _SAME:
    _inplace_method(_name + "_", getattr(Tensor, _name))
for _name in _PREDICATES:
    _inplace_method(_name + "_", _values_of(getattr(Tensor, _name)))


def _float_power(x, exponent):
    if x.dtype != np.float64:
        raise RuntimeError(f"float_power_: the base has dtype {x.dtype} but float_power's "
                           f"result has dtype float64 (it computes in double precision), "
                           f"which PyTorch does not write back into the base in place; "
                           f"convert first (x = x.double()) or use x.float_power(...)")
    return Tensor.float_power(x, exponent)


_inplace_method("float_power_", _float_power)


@_export
def detach_(input):  # noqa: A002
    """Make this tensor a leaf outside the graph, in place (PyTorch's ``detach_``); a view
    is refused, as in PyTorch (use ``detach()``)."""
    if getattr(input, "_view_of", None) is not None:
        raise RuntimeError("detach_: can't detach views in place (this tensor shares memory "
                           "with another); use detach(), which makes a new tensor")
    input.grad_fn = None
    input._rg = False
    return input


Tensor.detach_ = detach_


# torch.name_(input, ...) is input.name_(...)
_FUNCTIONS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
    "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
    "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_",
    "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_",
    "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_",
    "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_",
    "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_",
    "trunc_", "xlogy_", "zero_")


def _function(name):
    def f(input, *args, **kwargs):  # noqa: A002
        return getattr(Tensor, name)(input, *args, **kwargs)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``input.{name}(...)``: {name[:-1]} in place; returns ``input``."
    return _export(f)


for _name in _FUNCTIONS:
    _function(_name)


def _activation_(name, op):
    """torch.selu_ / torch.celu_: the activation written into ``input``."""
    def f(input, *args, **kwargs):  # noqa: A002
        return _inplace(input, name, lambda x, *a: op(x, *a, **kwargs), *args)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``{name[:-1]}`` in place; returns ``input``."
    return _export(f)


_activation_("selu_", _x.selu)
_activation_("celu_", _x.celu)


# --- random in-place fills -----------------------------------------------------------------

def _fill_random(self, name, values):
    return _inplace(self, name, _full, _leaf(np.asarray(values).astype(self.dtype)))


def _float_only(self, name, error=RuntimeError):
    if self.dtype.kind != "f":        # PyTorch's error type differs between the fills
        raise error(f"{name}: draws from a continuous distribution, so it needs a "
                           f"floating-point tensor, got {self.dtype}; convert first "
                           f"(x = x.double())")


def _positive(name, what, value):
    if not value > 0:
        raise RuntimeError(f"{name}: expects {what} > 0.0, but found {what}={value}")


def cauchy_(self, median=0, sigma=1, *, generator=None):
    """Fill with draws from Cauchy(median, sigma), in place."""
    _float_only(self, "cauchy_")
    _positive("cauchy_", "sigma", sigma)
    rng = get_rng(generator)
    return _fill_random(self, "cauchy_", median + sigma * rng.standard_cauchy(self.shape))


def log_normal_(self, mean=1, std=2, *, generator=None):
    """Fill with draws of exp(N(mean, std)), in place."""
    _float_only(self, "log_normal_", NotImplementedError)
    _positive("log_normal_", "std", std)
    return _fill_random(self, "log_normal_", get_rng(generator).lognormal(mean, std, self.shape))


def geometric_(self, p, *, generator=None):
    """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...), in
    place; integer tensors too."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_: expects p to be in (0, 1), but got p={p}")
    return _fill_random(self, "geometric_", get_rng(generator).geometric(p, self.shape))


def _random_range(d):
    """[low, high] of random_() for dtype ``d``: up to 2 ** mantissa bits for floats (where
    every integer is exact), the dtype's range for integers, as PyTorch."""
    if d.kind == "f":
        return 0, 2 ** (np.finfo(d).nmant + 1)
    if d.kind == "b":
        return 0, 1
    return 0, int(np.iinfo(d).max)


_UNSET = object()


def _torch_random(stream, x, lo, hi, default):
    """random_'s draws on the torch stream: C-contiguous tensors of PyTorch's dtypes."""
    if x.dtype.kind == "u" and x.dtype != np.uint8:
        raise refuse(f"random_ of a {x.dtype} tensor")
    if not _raw(x).flags.c_contiguous:
        raise refuse("random_ of a non-contiguous tensor (call .contiguous() first)")
    return stream.random_(x.numel(), x.dtype, lo, hi, default).reshape(x.shape)


def random_(self, from_=_UNSET, to=_UNSET, *, generator=None, **kwargs):
    """Fill with integers drawn uniformly from [from, to - 1], in place; ``random_(to)`` is
    [0, to - 1], ``random_(from, None)`` [from, the top] and ``random_()`` the dtype's range
    (floats: [0, 2 ** mantissa bits], where every integer is exact)."""
    if kwargs.keys() - {"from"}:
        raise TypeError(f"random_() got an unexpected keyword argument "
                        f"{next(iter(kwargs.keys() - {'from'}))!r}")
    _, top = _random_range(self.dtype)
    default = from_ is _UNSET and to is _UNSET and not kwargs       # random_(): uniform_int
    if to is _UNSET and "from" not in kwargs:      # random_() or random_(to)
        from_, to = 0, (None if from_ is _UNSET else from_)
    from_ = kwargs.get("from", 0 if from_ is _UNSET else from_)
    to = None if to is _UNSET else to
    lo, hi = (from_, top) if to is None else (from_, to - 1)
    if to is not None and from_ >= to:
        raise RuntimeError(f"random_: expects 'from' to be less than 'to', but got "
                           f"from={from_} >= to={to}")
    if self.dtype.kind in "iub":
        info = np.iinfo(self.dtype) if self.dtype.kind != "b" else None
        bounds = (0, 1) if info is None else (int(info.min), int(info.max))
        for what, v in (("from", lo), ("to - 1", hi)):
            if not bounds[0] <= v <= bounds[1]:
                raise RuntimeError(f"random_: {what} = {v} is out of bounds for {self.dtype} "
                                   f"([{bounds[0]}, {bounds[1]}])")
    stream = torch_stream(generator)
    if stream is not None:
        draws = _torch_random(stream, self, lo, hi, default)
    else:
        draws = get_rng(generator).integers(lo, hi, size=self.shape, endpoint=True,
                                            dtype=np.int64 if hi < 2 ** 63 else np.uint64)
    return _fill_random(self, "random_", draws)


for _fn in (cauchy_, log_normal_, geometric_, random_):
    setattr(Tensor, _fn.__name__, _fn)


# --- *_copy: the view op, then a copy (new storage; the view op's gradient) ----------------

def _slice(input, dim=0, start=None, end=None, step=1):  # noqa: A002
    index = (slice(None),) * (dim % max(input.ndim, 1)) + (slice(start, end, step),)
    return input[index]


def _view(input, *size):  # noqa: A002
    return input.view(*size)


def _copy_name(name, view):
    def f(input, *args, **kwargs):  # noqa: A002
        out = view(_ops._t(input), *args, **kwargs)
        if isinstance(out, (tuple, list)):
            return tuple(o.clone() for o in out)
        return out.clone()
    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"``{name[:-5]}`` as a new tensor (its own memory, not a view); the "
                 f"gradient is {name[:-5]}'s.")
    return _export(f)


for _name, _view_op in (
        ("alias_copy", lambda x: x), ("detach_copy", lambda x: x.detach()),
        ("diagonal_copy", Tensor.diagonal), ("expand_copy",
                                             lambda x, size, *, implicit=False: x.expand(size)),
        ("narrow_copy", Tensor.narrow), ("permute_copy", lambda x, dims: x.permute(*dims)),
        ("select_copy", Tensor.select), ("slice_copy", _slice),
        ("split_copy", Tensor.split),
        ("split_with_sizes_copy", lambda x, sizes, dim=0: split_with_sizes(x, sizes, dim)),
        ("squeeze_copy", Tensor.squeeze), ("t_copy", Tensor.t),
        ("transpose_copy", Tensor.transpose), ("unbind_copy", Tensor.unbind),
        ("unfold_copy", Tensor.unfold), ("unsqueeze_copy", Tensor.unsqueeze),
        ("view_copy", _view)):
    _copy_name(_name, _view_op)
Tensor.narrow_copy = EXPORTS["narrow_copy"]


def split_with_sizes(input, split_sizes, dim=0):  # noqa: A002
    """Split into pieces of the given sizes along ``dim`` (they must add up to its length)."""
    x = _ops._t(input)
    sizes = list(split_sizes)
    if any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in sizes):
        raise TypeError(f"split_with_sizes: split_sizes must be a list of ints, got "
                        f"{split_sizes!r}")
    n = x.shape[dim] if x.ndim else 0
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes: expects split_sizes to sum exactly to {n} "
                           f"(the length of dimension {dim} of a tensor of shape "
                           f"{tuple(x.shape)}), but got split_sizes={sizes}")
    return tuple(x.split(sizes, dim))


# PyTorch's unsafe_* skip the checks on views of the results; here they are the safe ones
for _name, _fn in (("split_with_sizes", split_with_sizes),
                   ("unsafe_split_with_sizes", split_with_sizes),
                   ("unsafe_split", Tensor.split), ("unsafe_chunk", Tensor.chunk)):
    setattr(Tensor, _name, _fn)
    _export(_fn, _name)


# --- predicates and properties -------------------------------------------------------------

def _both(fn, name=None):
    setattr(Tensor, name or fn.__name__, fn)
    return _export(fn, name)


@_both
def is_nonzero(input):  # noqa: A002
    """Whether a one-element tensor is not 0 (more or fewer elements are ambiguous)."""
    a = _array_of(input)
    if a.size != 1:
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with "
                           f"{'no values' if a.size == 0 else 'more than one value'} is "
                           f"ambiguous (shape {a.shape}); use .any() or .all()")
    return bool(a.reshape(()) != 0)


@_both
def is_same_size(input, other):  # noqa: A002
    """Whether the two tensors have the same shape."""
    return tuple(input.shape) == tuple(other.shape)


@_both
def is_signed(input):  # noqa: A002
    """Whether the dtype holds negative numbers (not bool or uint8)."""
    return input.dtype.kind in "ifc"


@_both
def is_complex(input):  # noqa: A002
    """Whether the dtype is complex."""
    return input.dtype.kind == "c"


for _name, _doc in (("is_neg", "Always False: zeroin has no lazy negation bit."),
                    ("is_inference", "Always False: zeroin's inference_mode is no_grad, "
                                     "without inference tensors.")):
    _f = lambda input: False  # noqa: E731,A002
    _f.__name__ = _f.__qualname__ = _name
    _f.__doc__ = _doc
    _both(_f)


@_both
def isreal(input):  # noqa: A002
    """Elementwise: whether the value is real (its imaginary part is 0; all True for a real
    dtype)."""
    a = _array_of(_ops._t(input))
    return _leaf(np.imag(a) == 0 if a.dtype.kind == "c" else np.ones(a.shape, bool))


@_both
def get_device(input):  # noqa: A002
    """-1: the tensor is on the CPU (PyTorch's answer for CPU tensors)."""
    return -1


def resolve_neg(input):  # noqa: A002
    """The tensor itself: zeroin has no lazy negation bit."""
    return input


_both(resolve_neg)


def conj_physical_(input):  # noqa: A002
    """Conjugate in place (nothing to do for a real tensor); returns it."""
    if input.dtype.kind == "c":
        return _inplace(input, "conj_physical_", Tensor.conj_physical)
    return input


_both(conj_physical_)


Tensor.nbytes = property(lambda self: int(_array_of(self).size * self.dtype.itemsize),
                         doc="The bytes the elements take: numel() * itemsize.")
Tensor.itemsize = property(lambda self: int(self.dtype.itemsize),
                           doc="The bytes one element takes.")
Tensor.retains_grad = property(lambda self: bool(getattr(self, "_retain", False)),
                               doc="Whether retain_grad() was called on this non-leaf.")


def _owner(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


@_method()
def data_ptr(self):
    """The address of the first element: the NumPy array's data pointer (an int, like
    PyTorch's; views of one tensor give addresses inside the same memory)."""
    return int(_array_of(self).__array_interface__["data"][0])


@_method()
def storage_offset(self):
    """How many elements into the memory it shares this tensor starts (0 unless it is a
    view into another tensor's array, as ``x[2:]``)."""
    a = _array_of(self)
    start = _owner(a).__array_interface__["data"][0]
    return (a.__array_interface__["data"][0] - start) // max(a.dtype.itemsize, 1)


class TypedStorage:
    """What ``x.storage()`` gives: the elements of the memory a tensor shares, in memory order
    (of the array that owns it; a view's storage is its base's, as in PyTorch), indexed and
    written element by element. Writes go into the tensor; ``tolist()``, ``size()``,
    ``dtype``, ``data_ptr()`` and ``nbytes()`` as PyTorch's."""

    def __init__(self, array):
        self._a = array

    device = property(lambda self: _cpu())
    dtype = property(lambda self: self._a.dtype)
    is_cuda = False

    def size(self):
        return int(self._a.size)

    __len__ = size

    def element_size(self):
        return int(self._a.dtype.itemsize)

    def nbytes(self):
        return self.size() * self.element_size()

    def data_ptr(self):
        return int(self._a.__array_interface__["data"][0])

    def tolist(self):
        return self._a.tolist()

    def __iter__(self):
        return iter(self.tolist())

    def __getitem__(self, i):
        if isinstance(i, slice):
            raise RuntimeError("storage: slices are only supported in "
                               "UntypedStorage.__getitem__ (as PyTorch); index one element, "
                               "or slice the tensor")
        return self._a[i].item()

    def __setitem__(self, i, value):
        self._a[i] = _array_of(value) if isinstance(value, Tensor) else value

    def __str__(self):
        return (" " + "\n ".join(str(self[i]) for i in range(self.size())) + "\n"
                f"[zeroin.TypedStorage(dtype={self.dtype}, device=cpu) of size {len(self)}]")

    __repr__ = __str__


def _cpu():
    from . import device
    return device("cpu")


_STORAGE_WARNED = []


@_method()
def storage(self):
    """The memory this tensor shares as a :class:`TypedStorage` (makemore's ``a.storage()``:
    a view's numbers are laid out in one row). PyTorch's ``UserWarning`` that TypedStorage
    is deprecated comes once, as there."""
    if not _STORAGE_WARNED:
        _STORAGE_WARNED.append(True)
        import warnings
        warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                      "UntypedStorage will be the only storage class. This should only "
                      "matter to you if you are using storages directly.  To access "
                      "UntypedStorage directly, use tensor.untyped_storage() instead of "
                      "tensor.storage()", UserWarning,
                      stacklevel=2)
    return TypedStorage(_memory(self, "storage"))


def _memory(t, op):
    """The elements of the array that owns ``t``'s memory, in memory order (a view)."""
    owner = _owner(_array_of(t))
    if not (owner.flags.c_contiguous or owner.flags.f_contiguous):
        raise RuntimeError(f"{op}: the array that holds this tensor's memory (shape "
                           f"{owner.shape}, strides {owner.strides}) has gaps; take "
                           f"x.contiguous().{op}()")
    return owner.ravel(order="K")


class UntypedStorage(TypedStorage):
    """What ``x.untyped_storage()`` gives (DLWPT ch3): the bytes of the memory a tensor
    shares, as PyTorch's: ``len`` and ``nbytes()`` count bytes, an element is a byte (an
    int 0-255; a slice is a storage of those bytes), writes go into the tensor."""

    @property
    def dtype(self):
        raise AttributeError("'UntypedStorage' object has no attribute 'dtype' (its "
                             "elements are bytes; x.dtype is the tensor's)")

    def __getitem__(self, i):
        return UntypedStorage(self._a[i]) if isinstance(i, slice) else self._item(i)

    def _item(self, i):
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for storage of size {len(self)}")
        return int(self._a[i])

    def __setitem__(self, i, value):
        self._a[i] = np.asarray(_array_of(value) if isinstance(value, Tensor) else value
                                ).astype(np.int64) & 0xFF          # wraps, as a C cast

    def __str__(self):
        return (" " + "\n ".join(map(str, self.tolist())) + "\n"
                f"[zeroin.UntypedStorage(device=cpu) of size {len(self)}]")

    __repr__ = __str__


@_method()
def untyped_storage(self):
    """The memory this tensor shares as bytes (an :class:`UntypedStorage`); a view's is its
    base's, as PyTorch's (``t.untyped_storage().data_ptr()`` is the same for both)."""
    return UntypedStorage(_memory(self, "untyped_storage").view(np.uint8))


Tensor.is_pinned = lambda self, device=None: False
Tensor.is_pinned.__doc__ = "False: zeroin's tensors are in ordinary (pageable) memory."


@_method()
def pin_memory(self, device=None):
    """Refused, as PyTorch on a machine without an accelerator: zeroin runs on the CPU."""
    raise RuntimeError("pin_memory: Cannot access accelerator device when none is available "
                       "(zeroin runs on the CPU only; pinned memory is for copies to a GPU). "
                       "Leave it out, or use DataLoader(pin_memory=False)")


_SHARED = {}        # id -> weakref of the tensors share_memory_() was called on


@_method()
def share_memory_(self):
    """Returns the tensor (``is_shared()`` is then True): zeroin runs in one process
    (DataLoader workers included), so there is nothing to move into shared memory."""
    key = id(self)
    _SHARED[key] = weakref.ref(self, lambda _, key=key: _SHARED.pop(key, None))
    return self


Tensor.is_shared = lambda self: (lambda r: r is not None and r() is self)(_SHARED.get(id(self)))
Tensor.is_shared.__doc__ = "Whether share_memory_() was called on this tensor."
Tensor.is_distributed = lambda self: False
Tensor.is_distributed.__doc__ = "False: zeroin has no distributed tensors."
Tensor.const_data_ptr = data_ptr
for _name in ("is_sparse", "is_sparse_csr", "is_quantized", "is_meta", "is_nested",
              "is_mkldnn", "is_xpu", "is_mps", "is_ipu", "is_xla", "is_vulkan", "is_maia",
              "is_mtia"):
    setattr(Tensor, _name, property(lambda self: False, doc="False: zeroin's tensors are "
                                    "dense, strided NumPy arrays on the CPU."))
Tensor.output_nr = property(lambda self: 0, doc="0: the output index among its op's outputs "
                            "(zeroin's ops record each output on its own).")


# --- sparse layouts: zeroin has none (dense tensors give the same products) ------------------

def _no_sparse(op, fix):
    return NotImplementedError(f"{op}: zeroin has no sparse layouts (its tensors are dense "
                               f"NumPy arrays). {fix}")


@_method("to_sparse", "to_sparse_coo", "to_sparse_csr", "to_sparse_csc")
def to_sparse(self, *args, **kwargs):
    """Refused: zeroin has no sparse layouts; keep the tensor dense."""
    raise _no_sparse("to_sparse", "Leave .to_sparse() out: the dense tensor gives the same "
                     "values in @, mm and spmm")


@_method()
def to_dense(self, dtype=None, *, masked_grad=None):
    """The tensor itself (cast to ``dtype`` if given), as PyTorch's for a dense tensor."""
    return self if dtype is None else self.to(dtype)


@_export
def sparse_coo_tensor(indices, values, size=None, dtype=None, device=None, **kwargs):
    """Refused: zeroin has no sparse layouts; the error gives the dense equivalent."""
    raise _no_sparse(
        "sparse_coo_tensor", "Build the dense tensor: zeroin.zeros(size, dtype=...)"
        ".index_put_(tuple(indices), values, accumulate=True) (accumulate=True sums "
        "repeated indices, as coalesce() does)")


@_export
def spmm(input, mat2):  # noqa: A002
    """The matrix product of two 2-D tensors, as ``torch.spmm`` of a dense ``input``
    (zeroin has no sparse layouts)."""
    from ._tensor_api import mm
    for n, m in (("input", input), ("mat2", mat2)):
        if _ops._t(m).ndim != 2:
            raise ValueError(f"spmm: {n} must be a matrix (2-D), got shape {_ops._t(m).shape}")
    return mm(input, mat2)


@_method()
def is_set_to(self, tensor):
    """Whether both tensors are the same memory with the same shape and strides."""
    a, b = _array_of(self), _array_of(tensor)
    return a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and \
        a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype


@_method()
def dim_order(self, *, ambiguity_check=False):
    """The dims from outermost to innermost in memory (by decreasing stride): (0, 1, ...)
    for a contiguous tensor."""
    strides = _array_of(self).strides
    return tuple(sorted(range(len(strides)), key=lambda d: -strides[d]))


@_method()
def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False,
                      layout=None, pin_memory=False):
    """``new_empty(size)``: zeroin's tensors are contiguous, so ``stride`` only has to be
    as long as ``size``; the values are 0, as zeroin's ``empty``."""
    if len(tuple(stride)) != len(tuple(size)):
        raise RuntimeError(f"new_empty_strided: mismatch in length of strides and shape "
                           f"(size {tuple(size)}, stride {tuple(stride)})")
    return self.new_empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


# --- odds and ends ---------------------------------------------------------------------------

@_method()
def new(self, *args, device=None):
    """PyTorch's legacy constructor, in this tensor's dtype: ``x.new()`` is empty,
    ``x.new(2, 3)`` (or a Size) a new 2 x 3 tensor of zeros, ``x.new([1, 2])`` the data."""
    from ._creation import zeros
    if not args:
        args = (0,)
    if isinstance(args[0], Size) or all(isinstance(a, (int, np.integer)) and
                                         not isinstance(a, bool) for a in args):
        shape = tuple(args[0]) if isinstance(args[0], Size) else args
        return zeros(*shape, dtype=self.dtype, device=device)
    if len(args) > 1 or np.ndim(_raw(args[0])) == 0:
        raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__}); "
                        f"give the sizes as ints (x.new(2, 3)) or the data as a list")
    data = args[0]
    if isinstance(data, Tensor) and data.dtype != self.dtype:
        raise TypeError(f"new(): a tensor of dtype {data.dtype} given to a {self.dtype} "
                        f"tensor's new(); convert it first (data.to(x.dtype))")
    return _leaf(np.array(_raw(data)).astype(self.dtype))


@_both
def nonzero_static(input, *, size, fill_value=-1):  # noqa: A002
    """The indices of the nonzero elements, as ``nonzero()``, in exactly ``size`` rows:
    cut, or padded with ``fill_value`` (a shape known in advance)."""
    if not isinstance(size, (int, np.integer)) or size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be a non-negative integer, got "
                           f"{size!r}")
    a = _array_of(_ops._t(input))
    found = np.argwhere(a)[:size] if a.ndim else np.zeros((min(size, int(a != 0)), 0), np.int64)
    out = np.full((size, a.ndim), fill_value, np.int64)
    out[:len(found)] = found
    return _leaf(out)


def _flat_index(name, x, index, source):
    """``put``'s checks: an int64 index and a source of as many elements, in range."""
    idx = np.asarray(_raw(index))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected an integer (long) tensor for index, but got "
                           f"{idx.dtype}")
    s = _ops._t(source)
    if s.dtype != x.dtype:
        raise RuntimeError(f"{name}: self and source expected to have the same dtype, but "
                           f"got self.dtype = {x.dtype} and source.dtype = {s.dtype}")
    if idx.size != s.numel():
        raise IndexError(f"{name}: expected source and index to have the same number of "
                         f"elements, but got source.numel() = {s.numel()}, index.numel() = "
                         f"{idx.size}")
    n = x.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx.min() if idx.min() < -n else idx.max()
        raise IndexError(f"{name}: index {bad} is out of range for a tensor of {n} elements "
                         f"(shape {tuple(x.shape)}); valid indices are {-n}..{n - 1}")
    return idx.reshape(-1) % max(n, 1), s


@_both
def put(input, index, source, accumulate=False):  # noqa: A002
    """A copy of ``input`` read as 1-D with ``source`` written at ``index`` (added, with
    ``accumulate``); the gradient flows to both, as ``index_put``'s."""
    x = _ops._t(input)
    idx, s = _flat_index("put", x, index, source)
    flat = index_put(_ops.reshape(x, -1), (_leaf(idx),), _ops.reshape(s, -1),
                                accumulate)
    return _ops.reshape(flat, x.shape)


_inplace_method("put_", put)


@_both
def index_reduce(input, dim, index, source, reduce, *, include_self=True):  # noqa: A002
    """Reduce the slices of ``source`` into ``input``'s slices ``index`` along ``dim`` with
    'prod', 'mean', 'amax' or 'amin' (``include_self``: the slice's own value takes part):
    ``scatter_reduce`` with the index spread along the other dims, and its gradients."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce: expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce!r}")
    x, s = _ops._t(input), _ops._t(source)
    d = _ops._check_dim("index_reduce", x, dim)
    idx = _x._index_array("index_reduce", index).reshape(-1)
    if s.ndim != x.ndim or (s.ndim and idx.size != s.shape[d]) or any(
            a != b for i, (a, b) in enumerate(zip(s.shape, x.shape)) if i != d):
        raise RuntimeError(f"index_reduce: source (shape {tuple(s.shape)}) must match self "
                           f"(shape {tuple(x.shape)}) except along dim {d}, where its size "
                           f"is the number of indices ({idx.size})")
    _x._check_range("index_reduce", idx, x, d)
    if x.ndim == 0:         # as 1-D, as in PyTorch
        return _ops.reshape(index_reduce(_ops.reshape(x, (1,)), 0, idx, _ops.reshape(s, (1,)),
                                         reduce, include_self=include_self), ())
    spread = np.broadcast_to(idx.reshape((-1,) + (1,) * (s.ndim - d - 1)), s.shape)
    return scatter_reduce(x, d, _leaf(np.ascontiguousarray(spread)), s, reduce,
                                     include_self=include_self)


_inplace_method("index_reduce_", index_reduce)


def _python_map(name, self, fn, *others):
    """``fn`` called on each element (with the broadcast elements of ``others``), in
    Python, the results written into ``self`` in its dtype, as PyTorch's apply_/map_."""
    if self.requires_grad:
        raise RuntimeError(f"{name}: can't call {name}() on a tensor that requires grad "
                           f"(a Python function has no gradient); use x.detach().{name}(...)")
    arrays = [_array_of(self)]
    for o in others:
        a = _array_of(_ops._t(o))
        try:
            arrays.append(np.broadcast_to(a, self.shape))
        except ValueError:
            raise RuntimeError(f"{name}: a tensor of shape {a.shape} cannot be broadcast to "
                               f"this tensor's shape {tuple(self.shape)}") from None
    results = []
    for values in zip(*(a.reshape(-1).tolist() for a in arrays)):
        v = fn(*values)
        if not isinstance(v, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"{name}: the function must return a real number, not "
                            f"{type(v).__name__}")
        results.append(v)
    out = np.array(results, dtype=object).astype(self.dtype).reshape(self.shape)
    return _inplace(self, name, _full, _leaf(out))


@_method()
def apply_(self, callable):  # noqa: A002
    """Replace each element ``v`` by ``callable(v)`` (a Python function; slow, no
    gradient); returns self."""
    return _python_map("apply_", self, callable)


@_method()
def map_(self, tensor, callable):  # noqa: A002
    """Replace each element ``v`` by ``callable(v, w)``, ``w`` the matching element of
    ``tensor`` (broadcast to this shape); returns self."""
    return _python_map("map_", self, callable, tensor)


@_method()
def map2_(self, x, y, callable):  # noqa: A002
    """Replace each element ``v`` by ``callable(v, a, b)`` with the matching elements of
    ``x`` and ``y`` (broadcast to this shape); returns self."""
    return _python_map("map2_", self, callable, x, y)


@_method()
def resize_(self, *sizes, memory_format=None):
    """Change the shape in place to ``sizes``, keeping the first elements in row-major
    order: fewer are cut, new ones are 0 (PyTorch leaves them uninitialised). As PyTorch's,
    the memory stays when it holds enough elements (a tensor sharing it still sees the
    writes: NYU's ``r = torch.Tensor(t); r.resize_(3, 8); r.zero_()`` zeroes ``t``); grown,
    it is new memory of its own (PyTorch grows the storage its sharers see). Refused on a
    tensor that requires grad, as in PyTorch."""
    shape = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) \
        else sizes
    if self.requires_grad:
        raise RuntimeError("resize_: cannot resize variables that require grad; resize "
                           "x.detach() or make a new tensor (x.reshape, zeroin.zeros)")
    if any(not isinstance(s, (int, np.integer)) or s < 0 for s in shape):
        raise RuntimeError(f"resize_: sizes must be non-negative integers, got {shape}")
    old = _array_of(self).reshape(-1)
    n = int(np.prod(shape, dtype=np.int64))
    if n <= old.size and np.may_share_memory(old, _array_of(self)):
        self.data = old[:n].reshape(shape)          # a view of the same memory
        return self
    new = np.zeros(n, old.dtype)
    k = min(new.size, old.size)
    new[:k] = old[:k]
    self.data = new.reshape(shape)
    return self


@_method()
def resize_as_(self, the_template, memory_format=None):
    """``resize_`` to the shape of ``the_template``."""
    return self.resize_(tuple(the_template.shape))


_export(resize_as_)


def exponential_(self, lambd=1, *, generator=None):
    """Fill with draws from Exponential(rate ``lambd``), in place."""
    _float_only(self, "exponential_")
    _positive("exponential_", "lambda", lambd)
    stream = torch_stream(generator)
    if stream is not None:
        return _fill_random(self, "exponential_", torch_fill(stream, "exponential_",
                                                             self.data, lambd))
    return _fill_random(self, "exponential_", get_rng(generator).exponential(1 / lambd,
                                                                             self.shape))


Tensor.exponential_ = exponential_


# --- fill_diagonal_ and the in-place functional forms --------------------------------------

def _fill_diagonal(x, fill_value, wrap=False):
    if x.ndim < 2:
        raise RuntimeError(f"fill_diagonal_: dimensions must be larger than 1, got a tensor of "
                           f"shape {tuple(x.shape)}")
    if x.ndim > 2 and len(set(x.shape)) != 1:
        raise RuntimeError(f"fill_diagonal_: all dimensions of input must be of equal length "
                           f"above 2-D, got shape {tuple(x.shape)}")
    mask = np.zeros(x.shape, bool)
    np.fill_diagonal(mask, True, wrap=wrap)     # NumPy's and PyTorch's rule, wrap included
    value = np.full(x.shape, _raw(fill_value)).astype(x.dtype)
    return _ops.where(_leaf(mask), _leaf(value), x)


_inplace_method("fill_diagonal_", _fill_diagonal)
Tensor.fill_diagonal_.__doc__ = ("Fill the main diagonal with ``fill_value`` in place (all "
                                 "dims equal above 2-D; ``wrap``: restart every N + 1 rows "
                                 "of a tall matrix); returns self.")


def _functional_(name, body):
    """torch.dropout_, torch.threshold_...: ``nn.functional``'s op written into ``input``."""
    def f(input, *args, **kwargs):  # noqa: A002
        from .nn import functional
        op = getattr(functional, body)
        return _inplace(input, name, lambda x: op(x, *args, **kwargs))
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``nn.functional.{body}`` in place; returns ``input``."
    return _export(f)


for _name, _body in (("dropout_", "dropout"), ("alpha_dropout_", "alpha_dropout"),
                     ("feature_alpha_dropout_", "feature_alpha_dropout"),
                     ("threshold_", "threshold"), ("rrelu_", "rrelu")):
    _functional_(_name, _body)


# --- as_strided: NumPy's stride tricks on the tensor's elements in row-major order ---------

def _strided_index(name, x, size, stride, storage_offset):
    """The flat (row-major) element positions ``as_strided`` reads, checked as PyTorch."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    off = int(storage_offset or 0)
    if len(size) != len(stride):
        raise RuntimeError(f"{name}: mismatch in length of strides and shape (size {size}, "
                           f"stride {stride})")
    if any(s < 0 for s in stride) or any(s < 0 for s in size) or off < 0:
        raise RuntimeError(f"{name}: negative sizes, strides or storage offset are not "
                           f"supported, got size {size}, stride {stride}, offset {off}")
    idx = np.full(size, off, np.int64)
    for d, (n, s) in enumerate(zip(size, stride)):
        idx += (np.arange(n, dtype=np.int64) * s).reshape((-1,) + (1,) * (len(size) - d - 1))
    n = x.numel()
    if idx.size and idx.max() >= n:
        raise RuntimeError(f"{name}: sizes {list(size)}, strides {list(stride)} and storage "
                           f"offset {off} reach element {idx.max()}, out of bounds for a "
                           f"tensor of {n} elements (shape {tuple(x.shape)})")
    return idx


@_both
def as_strided(input, size, stride, storage_offset=None):  # noqa: A002
    """The elements of ``input`` (read in row-major order, as a contiguous tensor's memory)
    at ``storage_offset + sum(i_k * stride[k])``, in shape ``size``. Off the graph it is a
    NumPy view sharing the memory (of a contiguous tensor); the gradient adds up where
    elements are read more than once, as PyTorch's."""
    x = _ops._t(input)
    idx = _strided_index("as_strided", x, size, stride, storage_offset)
    a = _array_of(x)
    if not (x.requires_grad and is_grad_enabled()) and a.flags.c_contiguous:
        flat = a.reshape(-1)
        view = np.lib.stride_tricks.as_strided(
            flat[int(storage_offset or 0):], shape=idx.shape,
            strides=tuple(int(s) * a.itemsize for s in stride))
        out = _leaf(view)
    else:
        out = _ops.reshape(_ops.getitem(_ops.reshape(x, -1), idx.reshape(-1)), idx.shape)
    out._view_of = getattr(x, "_view_of", None) or x    # in place while recording: refused
    return out


@_method()
def as_strided_(self, size, stride, storage_offset=None):
    """Make this tensor ``as_strided(size, stride, storage_offset)`` of itself, in place."""
    return _inplace(self, "as_strided_", lambda x: as_strided(x, size, stride,
                                                              storage_offset), view=True)


_export(as_strided_)
_copy_name("as_strided_copy", as_strided)


@_both
def as_strided_scatter(input, src, size, stride, storage_offset=None):  # noqa: A002
    """A copy of ``input`` with ``src`` written where ``as_strided(size, stride,
    storage_offset)`` reads; positions read twice are refused (which write would win is
    not defined). The gradient goes to ``input`` outside them and to ``src`` inside."""
    x, s = _ops._t(input), _ops._t(src)
    idx = _strided_index("as_strided_scatter", x, size, stride, storage_offset)
    if tuple(s.shape) != idx.shape:
        raise RuntimeError(f"as_strided_scatter: expected src to have a size equal to the "
                           f"slice of self: src size {list(s.shape)}, slice size "
                           f"{list(idx.shape)}")
    flat = idx.reshape(-1)
    if np.unique(flat).size != flat.size:
        raise RuntimeError("as_strided_scatter: more than one element of the written-to "
                           "tensor refers to a single memory location (a stride of 0, or "
                           "overlapping ones); give strides that reach each element once")
    out = index_put(_ops.reshape(x, -1), (_leaf(flat),), _ops.reshape(s, -1))
    return _ops.reshape(out, x.shape)


@_export
def embedding_renorm_(input, indices, max_norm, norm_type):  # noqa: A002
    """Scale the rows of ``input`` that ``indices`` names to a ``norm_type``-norm of at most
    ``max_norm`` (PyTorch's rule: by max_norm / (norm + 1e-7)), in place; no gradient, as
    in PyTorch (Embedding(max_norm=) calls it under no_grad)."""
    idx = np.asarray(_raw(indices))
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding_renorm_: expected indices of an integer dtype (long "
                           f"or int), got {idx.dtype}")
    w = _array_of(input)
    rows = np.unique(idx.reshape(-1))
    if rows.size and (rows.min() < 0 or rows.max() >= w.shape[0]):
        bad = rows.min() if rows.min() < 0 else rows.max()
        raise IndexError(f"embedding_renorm_: index {bad} is out of range for a weight of "
                         f"{w.shape[0]} rows (shape {w.shape})")
    if input.requires_grad and input.grad_fn is not None and is_grad_enabled():
        raise NotImplementedError("embedding_renorm_: the derivative for 'embedding_renorm' "
                                  "is not implemented (as in PyTorch); call it under "
                                  "zeroin.no_grad()")
    new = w.copy()
    norms = np.linalg.norm(new[rows], ord=norm_type, axis=1) if rows.size else rows
    big = norms > max_norm
    new[rows[big]] *= (max_norm / (norms[big] + 1e-7))[:, None]
    return _inplace(input, "embedding_renorm_", _full, _leaf(new))


# --- named tensors: absent, with the positional way in the error ---------------------------

_NAMED = ("names", "refine_names", "rename", "rename_", "align_as", "align_to")


def _no_named(name):
    def refuse(self):
        raise AttributeError(
            f"'Tensor' object has no attribute {name!r}: zeroin has no named tensors (nor has "
            f"current PyTorch). Name dimensions by position instead: the book's "
            f"img.sum('channels') is img.sum(-3), and w.align_as(img) for weights w of "
            f"shape (3,) is w.unsqueeze(-1).unsqueeze(-1) (shape (3, 1, 1), which "
            f"broadcasts), or zeroin.einsum('...chw,c->...hw', img, w)")
    return property(refuse)


for _name in _NAMED:
    setattr(Tensor, _name, _no_named(_name))
