"""Every differentiable op, one block each: its class, then its public function.

Read top to bottom like a table of derivatives. Each block is

* a :class:`~zeroin.function.Function` subclass named ``...Op``: ``forward`` on NumPy
  arrays, and ``backward(xp, g, out, *inputs)``, where ``g`` is the gradient flowing in
  from the output, ``out`` the op's output and ``xp`` the namespace the rule computes with
  (:data:`NP` for arrays, :data:`TZ` for tensors under ``create_graph``). A rule computes
  only the gradients ``self.needs_input_grad`` asks for and returns ``None`` for the rest.
  Rules that need a mask compute it from raw data with :func:`_raw`; masks are constants;
* the public function, registered with :func:`op`, which records it in :data:`OPS` and
  binds the Tensor methods and operators named in ``methods``. ``zeroin.<name>`` is
  exported from :data:`OPS` too.

To add an op, see docs/architecture.md ("how to add an op in 3 steps").
"""
from __future__ import annotations

import builtins
import math
import numbers
import operator
from typing import NamedTuple

from weakref import ref as _weakref

import numpy as np

from . import _tensor
from .errors import (DtypeError, InvalidValueError, ShapeError, ZeroinError,
                     sequence_operand_error)
from .function import (NP, Function, _is_basic_index, apply, constant, float_of, scatter_array,
                       sigmoid_array, sum_to_array)
from ._tensor import Tensor, _clean_index, _leaf, _raw, bool_sub_error, clip_keep
from ._tensor import _mark_view as _view
from ._tensor import fill_scalar
from .errors import a_type

# NumPy's module has a __getattr__ (PEP 562), so CPython 3.11 does not specialise `np.name`
# loads: each is a full lookup. The names that every model's step reads are bound once here.
_ndarray, _add_reduce, _maximum = np.ndarray, np.add.reduce, np.maximum



# --- the registry ------------------------------------------------------------------------

class OpInfo(NamedTuple):
    """One registered op: its name, class(es), public function and Tensor methods."""
    name: str
    cls: object             # the Function subclass, a tuple of them, or None (no gradient)
    fn: object
    methods: tuple
    export: bool
    aliases: tuple


OPS = {}        # name -> OpInfo, in the order the ops were defined

# reflected operators whose operands must be swapped back (a - b is not b - a); __radd__
# and __rmul__ call the function directly: the operands' order does not change the value
_SWAPPED = {"__rsub__", "__rtruediv__", "__rpow__", "__rmatmul__"}


def op(cls, *, methods=(), export=True, aliases=()):
    """Register the decorated public function of the op ``cls`` (a class, a tuple of the
    classes it may record, or None for an op with no gradient).

    ``methods`` are bound on :class:`~zeroin.Tensor` (``"__mul__"``, ``"mul"``; reflected
    operators such as ``"__rsub__"`` get their operands swapped); ``export`` makes it
    ``zeroin.<name>`` (with ``aliases`` as extra names). Ops outside this module (e.g. in
    ``zeroin.nn``) register the same way, usually with ``export=False``.
    """
    def register(fn):
        name = fn.__name__
        if name in OPS:
            raise ValueError(f"op: an op named {name!r} is already registered")
        OPS[name] = OpInfo(name, cls, fn, tuple(methods), export, tuple(aliases))
        for m in methods:
            setattr(Tensor, m, _swap(fn, m) if m in _SWAPPED else fn)
        return fn
    return register


def _swap(fn, name):
    def reflected(a, b):
        return fn(b, a)
    reflected.__name__ = name
    return reflected


# --- shared helpers -----------------------------------------------------------------------

def _t(x):
    return x if isinstance(x, Tensor) else constant(x)


def _pair(a, b):
    """Both operands as tensors: a number becomes a constant with the other's dtype."""
    if not isinstance(a, Tensor):
        a = constant(a, b)
    if not isinstance(b, Tensor):
        b = constant(b, a)
    return a, b


def _call1(fn, x):
    return apply(fn, (x,))


def _integral(x):
    """Whether ``x`` is an integer or bool tensor or number."""
    if isinstance(x, Tensor):
        return x.dtype.kind in "biu"
    return isinstance(x, (numbers.Integral, np.bool_))


def no_bool(op, *xs, fix="x.float() (or x.int() for integers)"):
    """Refuse a bool tensor where PyTorch has no bool kernel (abs, round, relu, matmul,
    ...): NumPy would compute a result PyTorch refuses."""
    for x in xs:
        if getattr(x, "dtype", None) == np.bool_:
            raise DtypeError(f"{op}: not implemented for bool tensors (dtype bool), as in "
                             f"PyTorch; convert first: {fix}")


def float_input(op, x):
    """Refuse an integer or bool tensor where PyTorch has only floating-point kernels (elu,
    gelu, silu, leaky_relu, ...), with PyTorch's NotImplementedError."""
    if x.dtype.kind in "biu":
        raise NotImplementedError(f"{op}: not implemented for dtype {x.dtype}, as in PyTorch; "
                                  f"the input must be floating point: {op}(x.float(), ...)")


def _default_float(x):
    """``x`` for an op that makes floats of integers (x / 2, sqrt(x)): an integer or bool
    tensor cast to the default dtype, as PyTorch computes it, where NumPy would give float64
    (CS231n's positional encoding ``-torch.arange(0, D, 2) / D`` with a float32 default)."""
    return _cast(x, _tensor._default_dtype) if isinstance(x, Tensor) else x


def _makes_float(cls):
    """Whether the one-input op ``cls`` makes floats of integers (sqrt, not abs)."""
    try:
        return cls().forward(np.zeros(0, np.int64)).dtype.kind == "f"
    except Exception:       # noqa: BLE001  (an op that refuses integers: no cast needed)
        return False


def _call2(fn, x, y):
    """Record ``fn(x, y)``; a number operand becomes a constant (:func:`_pair`), and
    tensors of two dtypes meet in PyTorch's result dtype (:func:`_promote`)."""
    if type(x) is not Tensor or type(y) is not Tensor:
        if fn.symbol and (type(x) in _SEQUENCES or type(y) in _SEQUENCES):
            raise sequence_operand_error(fn.name, fn.symbol, x, y)
        x, y = _pair(x, y)
    if fn.promotes and x.dtype != y.dtype:
        x, y = _promote(x, y, fn)
    return apply(fn, (x, y))


_SEQUENCES = (list, tuple)


def no_sequence(name, symbol, x, y):
    """Raise :func:`sequence_operand_error` if ``x`` or ``y`` is a list or tuple."""
    if type(x) in _SEQUENCES or type(y) in _SEQUENCES:
        raise sequence_operand_error(name, symbol, x, y)


def write_out(out, result, op, *, resize_warning=True):
    """PyTorch's ``out=``: ``result`` written into the tensor ``out``, which is returned
    (``torch.matmul(a, b, out=y)``). As in PyTorch it is not differentiable: refused while
    the graph is recorded if an input or ``out`` requires grad. ``out`` of another dtype
    takes the result cast when the kind is kept (float64 into float32, not float into
    int); of another shape it is resized, with PyTorch's warning unless it was empty."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out must be a tensor, got {type(out).__name__}")
    if _tensor.is_grad_enabled() and (result.requires_grad or out.requires_grad):
        who = "an input" if result.requires_grad else "out"
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, and {who} requires grad; write y = {op}(...) "
                           f"to record it, or call it under `with zeroin.no_grad():`")
    if result.dtype != out.dtype and not np.can_cast(result.dtype, out.dtype, "same_kind"):
        raise DtypeError(f"{op}: result type {result.dtype} can't be cast to the desired "
                         f"output type {out.dtype}; give an out of dtype {result.dtype}")
    if result.shape != out.shape:
        if resize_warning and out.numel():
            import warnings
            warnings.warn(f"{op}: an output with one or more elements was resized since it "
                          f"had shape {tuple(out.shape)}, which does not match the required "
                          f"output shape {tuple(result.shape)}", UserWarning, stacklevel=3)
        out.data = result.data.astype(out.dtype)
        return out
    return out.copy_(result)


# PyTorch's type promotion: categories bool < integer < floating < complex; a tensor with
# dimensions outranks a 0-d tensor, which outranks a Python number, within a category.

def _category(d):
    return "biufc".index(d.kind if d.kind != "u" else "i") if d.kind in "biufc" else 0


def _torch_promote(a, b):
    if a is None or b is None:
        return a if b is None else b
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if hi.kind == "c" and lo.kind == "f":
            return np.promote_types(hi, lo)
        return hi
    return np.promote_types(a, b)


def promote_types(type1, type2):
    """The dtype PyTorch promotes ``type1`` and ``type2`` to: within a category the wider
    (NumPy's rule); across categories the higher one's dtype (int64 with float16 is
    float16, where NumPy says float64)."""
    from .dtypes import as_dtype
    return _torch_promote(as_dtype(type1, "promote_types"), as_dtype(type2, "promote_types"))


def _operand_dtype(x):
    if isinstance(x, Tensor):
        return (0 if x.ndim else 1), x.dtype
    if isinstance(x, (bool, np.bool_)):
        return 2, np.dtype(bool)
    if isinstance(x, numbers.Integral):
        return 2, np.dtype(np.int64)
    if isinstance(x, numbers.Real):
        return 2, _tensor.get_default_dtype()
    if isinstance(x, numbers.Complex):
        return 2, np.dtype(np.complex128)
    raise TypeError(f"result_type: expected a tensor or a number, got {type(x).__name__}")


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic result of ``tensor1`` and ``tensor2`` by PyTorch's rules:
    a number (or a 0-d tensor) changes a tensor's dtype only if it is of a higher category
    (``int_tensor + 2.5`` is floating, ``float32_tensor + 2.5`` stays float32)."""
    return _result_type(tensor1, tensor2)


def _result_type(*operands):
    """:func:`result_type` of any number of tensors and numbers (clamp's x, min and max)."""
    ranks = [None, None, None]          # dimensioned, 0-d, numbers
    for x in operands:
        r, d = _operand_dtype(x)
        ranks[r] = _torch_promote(ranks[r], d)
    return _outranks(ranks[0], _outranks(ranks[1], ranks[2]))


def _outranks(hi, lo):
    """PyTorch's combine_categories: ``hi``'s dtype unless ``lo`` is of a higher category."""
    if hi is None or lo is None:
        return lo if hi is None else hi
    if hi.kind == "c":
        return hi
    if lo.kind == "c":      # a complex number with a float tensor keeps the float's width
        return np.promote_types(hi, np.complex64) if hi.kind == "f" else lo
    if hi.kind == "f":
        return hi
    return _torch_promote(hi, lo) if hi.kind == "b" or lo.kind == "f" else hi


def _promote(x, y, fn=None):
    """``x`` and ``y`` cast to :func:`result_type` (a recorded cast where grad flows);
    ``fn`` (the op) may refuse the dtypes first (``check_promotion``)."""
    if fn is not None and fn.check_promotion is not None:
        fn.check_promotion(x, y)
    dt = result_type(x, y)
    return _cast(x, dt), _cast(y, dt)


def _cast(t, dtype):
    if t.dtype == dtype:
        return t
    if t.requires_grad:
        return _call1(AsTypeOp(dtype), t)
    return _leaf(t.data.astype(dtype))


_calln = apply      # (fn, inputs)


# _new(cls) makes an op without running its __init__ (sum, mean: no Python frame); an op
# class without an __init__ is made as cls(), about 300 instructions fewer than
# object.__new__(cls), which packs its argument into a tuple and checks the type
_new = object.__new__
_sum_to_np = sum_to_array      # the old name (zeroin.explain uses it)


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, numbers.Integral):
        axis = (int(axis),)
    return tuple(a % ndim if ndim else a for a in axis)


class TZ:
    """The same names as :class:`~zeroin.function.NP` for tensors (``create_graph=True``),
    so a rule written once is itself recorded and can be differentiated again; filled in
    from :data:`OPS` at the end of this module."""


def _fmt(v):
    return "None" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def _needs(fn, i):
    """Whether input ``i`` of the recorded op ``fn`` needs a gradient."""
    return fn.needs_input_grad[i]


_BITS = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32,
         np.dtype(np.float64): np.int64}


def _select(xp, g, keep):
    """``g`` where ``keep`` (a bool array, or a bool), else 0: PyTorch's rules select, so an
    inf or NaN gradient arriving at a dropped element gives 0 there, where ``g * keep``
    gives NaN (a fully -inf-masked softmax row zeroed afterwards). A large float array: a
    bitwise AND with 0 or all ones (np.where is 3-5x slower there, on a random mask)."""
    if xp is not NP:
        return xp.where(keep, g, 0)
    if type(g) is np.ndarray and g.size >= 1024:
        i = _BITS.get(g.dtype)
        if i is not None:
            m = np.asarray(keep).astype(i)
            np.negative(m, out=m)               # 0 -> no bits, 1 -> all bits set
            return np.bitwise_and(g.view(i), m, out=m if m.shape == g.shape else None
                                  ).view(g.dtype)
    return np.where(keep, g, 0)


def _where_bits(keep, a, b):
    """``np.where(keep, a, b)`` for two float arrays of one dtype (any shapes that
    broadcast), the same bits, by AND/OR with bit masks: np.where is 10-30x slower on a
    random mask (a branch per element), as activations' masks are. np.where itself for
    anything else, or under 1024 elements."""
    i = _BITS.get(a.dtype) if type(a) is np.ndarray and type(b) is np.ndarray else None
    if i is None or b.dtype != a.dtype:
        return np.where(keep, a, b)
    shape = np.broadcast_shapes(np.shape(keep), a.shape, b.shape)
    if math.prod(shape) < 1024:
        return np.where(keep, a, b)
    # the mask array in the layout of a full-shape operand (PyTorch's result layout):
    # astype of a broadcast mask ((B, 1, 1, T) for (B, H, T, T) scores) would permute it
    full = a if a.shape == shape else b if b.shape == shape else None
    m = np.empty(shape, i) if full is None else np.empty_like(full, dtype=i)
    np.copyto(m, keep)
    np.negative(m, out=m)                       # 0 -> no bits, 1 -> all bits set
    r = np.bitwise_and(a.view(i), m)
    np.bitwise_and(b.view(i), np.invert(m, out=m), out=m)
    return np.bitwise_or(r, m, out=r).view(a.dtype)


# --- arithmetic --------------------------------------------------------------------------

class AddOp(Function):
    __slots__ = ()
    promotes = True
    scalar_rules = True
    name, symbol = "add", "+"
    forward = staticmethod(operator.add)      # a + b, without a Python frame
    def backward(self, xp, g, out, a, b): return g, g     # nothing to compute


@op(AddOp, methods=("__add__", "__radd__", "add"))
def add(a, b, *, alpha=1, out=None):
    """Elementwise a + b (``a + alpha * b``) with broadcasting; ``out=`` writes into a tensor."""
    if alpha != 1:
        b = b * alpha
    if out is not None:
        return write_out(out, _call2(AddOp(), a, b), "add")
    return _call2(AddOp(), a, b)


class SubOp(Function):
    __slots__ = ()
    promotes = True
    scalar_rules = True
    name, symbol = "sub", "-"
    forward = staticmethod(operator.sub)
    def backward(self, xp, g, out, a, b):
        return g, (-g if self.needs_input_grad[1] else None)

    @staticmethod
    def check_promotion(x, y):
        """PyTorch refuses a bool tensor with another dtype (``1 - mask``)."""
        if x.dtype == np.bool_ or y.dtype == np.bool_:
            raise bool_sub_error(x, y)

    def error(self, inputs, exc):
        if isinstance(exc, TypeError) and any(t.dtype == np.bool_ for t in inputs):
            return bool_sub_error(*inputs)
        return super().error(inputs, exc)


@op(SubOp, methods=("__sub__", "__rsub__", "sub"))
def sub(a, b, *, alpha=1, out=None):
    """Elementwise a - b (``a - alpha * b``) with broadcasting; ``out=`` writes into a tensor."""
    if type(a) is bool or type(b) is bool:       # a Python bool is a bool operand too
        raise bool_sub_error(a, b)
    if alpha != 1:
        if any(getattr(t, "dtype", None) == np.bool_ for t in (a, b)):
            raise bool_sub_error(a, b)
        b = b * alpha
    if out is not None:
        return write_out(out, _call2(SubOp(), a, b), "sub")
    return _call2(SubOp(), a, b)


class MulOp(Function):
    __slots__ = ()
    promotes = True
    scalar_rules = True
    takes_number = True     # g * b, g * a: a float g of same-shaped inputs (T17)
    name, symbol = "mul", "*"
    forward = staticmethod(operator.mul)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        if a is b and na and nb:    # x * x: the whole 2 g x on the first operand, one product
            return (g + g) * a, None
        return (g * b if na else None), (g * a if nb else None)


@op(MulOp, methods=("__mul__", "__rmul__", "mul"))
def mul(a, b, *, out=None):
    """Elementwise a * b with broadcasting; ``out=`` writes into a tensor."""
    if out is not None:
        return write_out(out, _call2(MulOp(), a, b), "mul")
    return _call2(MulOp(), a, b)


class DivOp(Function):
    __slots__ = ()
    promotes = True
    scalar_rules = True
    name, symbol = "div", "/"
    forward = staticmethod(operator.truediv)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        return (g / b if na else None), (-g * out / b if nb else None)


@op(DivOp, methods=("__truediv__", "__rtruediv__", "div"))
def div(a, b, *, rounding_mode=None, out=None):
    """Elementwise a / b with broadcasting; ``rounding_mode="floor"`` or ``"trunc"``
    rounds the quotient (as Python's ``//`` does, or toward zero), with gradient 0;
    ``out=`` writes into a tensor."""
    if out is not None:
        return write_out(out, div(a, b, rounding_mode=rounding_mode), "div")
    if rounding_mode is not None:
        no_sequence("div", "//" if rounding_mode == "floor" else "/", a, b)
        return _rounded_div(a, b, rounding_mode)
    if _tensor._default_dtype is not _F64 and _integral(a) and _integral(b):
        a, b = _default_float(a), _default_float(b)
    return _call2(DivOp(), a, b)


class RoundedDivOp(Function):
    """div with a rounding_mode: a step function of both operands (gradient 0)."""
    __slots__ = ("mode",)
    promotes = True
    name = "div"
    def __init__(self, mode): self.mode = mode
    def label(self): return f"div[{self.mode}]"
    def forward(self, a, b):
        if self.mode == "floor":
            return np.floor_divide(a, b)
        if np.result_type(a, b).kind in "fc":
            return np.trunc(np.true_divide(a, b))
        q = np.floor_divide(a, b)          # integers: exact, then toward zero
        return q + ((q < 0) & (q * b != a))
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        return (g * 0 if na else None), (g * 0 if nb else None)


def _rounded_div(a, b, mode):
    if mode not in ("floor", "trunc"):
        raise _ValueError(f"div: rounding_mode must be None, 'floor' or 'trunc', got {mode!r}")
    _check_int_divisor(f"div(rounding_mode={mode!r})", a, b)
    return _call2(RoundedDivOp(mode), a, b)


class NegOp(Function):
    __slots__ = ()
    scalar_rules = True
    name, symbol = "neg", "-"
    def forward(self, x): return -x
    def backward(self, xp, g, out, x): return -g

    def error(self, inputs, exc):
        if isinstance(exc, TypeError) and inputs[0].dtype == np.bool_:
            return DtypeError("neg: Negation, the `-` operator, on a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` "
                               "or `logical_not()` operator instead")
        return super().error(inputs, exc)


@op(NegOp, methods=("__neg__", "neg"))
def neg(x):
    """Elementwise -x."""
    return _call1(NegOp(), _t(x))


class PowOp(Function):
    """x ** p with a tensor exponent (gradients for both)."""
    __slots__ = ()
    promotes = True
    scalar_rules = True
    name, symbol = "pow", "**"

    def forward(self, x, p):
        if getattr(p, "dtype", _F64).kind == "i" and getattr(x, "dtype", _F64).kind in "iu" \
                and np.any(p < 0):
            return _int_pow(x, p)
        return x ** p

    def backward(self, xp, g, out, x, p):
        nx, np_ = self.needs_input_grad
        gx = gp = None
        if nx:
            p0 = _raw(p) == 0       # x ** 0 is 1: gradient 0 (PyTorch), not 0 * 0 ** -1 = NaN
            gx = g * p * _real_pow(x, xp.where(p0, 1, p - 1) if np.any(p0) else p - 1)
        if np_:     # PyTorch's rule: 0 where x == 0 and p >= 0, else out * log(x) (so
            # 0 ** -1 gives -inf and a negative x NaN, as the function is not real there)
            safe = (_raw(x) == 0) & (_raw(p) >= 0)
            gp = g * out * xp.log(xp.where(safe, 1, x) if np.any(safe) else x)
        return gx, gp


def _int_pow(x, p):
    """Integer ``x ** p`` with some p < 0, which NumPy refuses: PyTorch's rule there is 1
    for x = 1, -1 or 1 (p odd or even) for x = -1, else 0 (the truncated 1 / x ** -p)."""
    neg = p < 0
    r = x ** np.where(neg, 0, p)
    ones = np.where(x == 1, 1, np.where(x == -1, np.where(p % 2 == 0, 1, -1), 0))
    return np.where(neg, ones, r).astype(r.dtype, copy=False)


def _real_pow(x, e):
    """``x ** e``, NaN (NumPy's) where Python's float power leaves the reals: a negative
    float to a fractional power is complex in Python (the fast path's float lane), inf
    (NumPy's) where Python raises ZeroDivisionError (0.0 to a negative power)."""
    try:
        r = _pow_number(x, e) if isinstance(e, numbers.Real) else x ** e
    except ZeroDivisionError:
        return np.float64(x) ** e
    return np.float64(x) ** e if type(r) is complex else r


def _pow_number(x, c):
    """``x ** c`` for a number c. On a float array and a whole c other than -1, 0, 1, 2
    (NumPy's own fast cases): c = 3 as x * x * x, as PyTorch's kernel computes it, and
    else |x| ** c with x's sign put back for an odd c (the same values), because NumPy's
    pow takes a ~20x slower path for negative bases."""
    if type(x) is not np.ndarray or x.dtype.kind != "f" or not builtins.abs(c) < 2 ** 31 \
            or c != int(c) or c in (-1, 0, 1, 2):
        return x ** c
    if c == 3:
        return x * x * x
    r = np.abs(x) ** c
    return np.copysign(r, x) if int(c) % 2 else r


class PowConstOp(Function):
    """x ** c for a constant number c."""
    __slots__ = ("c",)
    scalar_rules = True
    name = "pow"
    def __init__(self, c): self.c = c
    def label(self): return f"**{_fmt(self.c)}"
    def forward(self, x): return _pow_number(x, self.c)
    def backward(self, xp, g, out, x):
        c = self.c
        if c == 0:      # x**0 is constant 1: zeros (PyTorch's), not 0 * x**-1 = NaN at 0
            return _untracked_zeros(g)
        if c == 2 and xp is NP:
            return g * 2 * x
        # recorded (create_graph): g * c * x ** (c - 1) even for c - 1 = 1 or 0, as
        # PyTorch's rule, so x**2's third derivative is zeros, not "does not require grad"
        return g * c * _real_pow(x, c - 1)


def _untracked_zeros(g):
    """Zeros of g's shape and dtype outside any graph: PyTorch's zeros_like in a rule
    whose value does not depend on g (x ** 0, floor): 0 for an inf or NaN g, not g * 0's
    NaN, and nothing a further derivative could reach."""
    if isinstance(g, (Tensor, np.ndarray)):
        r = _raw(g)
        return np.zeros(r.shape, r.dtype)
    return type(g)(0)       # a float or NumPy scalar (scalar_rules)


@op((PowOp, PowConstOp), methods=("__pow__", "__rpow__", "pow"))
def pow(x, p):  # noqa: A001
    """x ** p; ``p`` a number (one-input op) or a tensor."""
    if isinstance(p, numbers.Real) and not isinstance(p, bool) and isinstance(x, Tensor):
        if isinstance(p, float) and _tensor._default_dtype is not _F64 and _integral(x):
            x = _default_float(x)       # int_tensor ** 0.5: the default dtype, as PyTorch's
        elif x.dtype.kind == "b" and isinstance(p, numbers.Integral):
            x = _cast(x, np.int64)      # mask ** 2: int64, as PyTorch's (NumPy: int8)
        return _call1(PowConstOp(p), x)
    no_sequence("pow", "**", x, p)
    x, p = _pair(x, p)
    return _call2(PowOp(), x, p)


def _number(value, dtype):
    """``value`` as NumPy arithmetic with arrays of ``dtype`` takes it: the number itself
    (the fast path gives T6's cached 0-d array of that dtype: the same result, a cheaper
    NumPy call), e.g. for ``lr`` in an optimiser's ``w -= lr * g``."""
    return value


def _product(x, w):
    """``x @ w.T`` for 2-D arrays: the product of linear, and of matmul with ``w = b.T`` (the
    fast path puts its T11 here: the same bits, faster for small float32 batches)."""
    return x @ w.T


def default_dtype_note(a, b, sep="; "):
    """Why one of dtypes ``a`` and ``b`` (float32 and float64) may be float64 unasked:
    zeroin's default dtype, to end a dtype error with ('' for other pairs)."""
    if {np.dtype(a).name, np.dtype(b).name} != {"float32", "float64"} or \
            _tensor.get_default_dtype() != np.float64:
        return ""
    return (f"{sep}zeroin's default dtype is float64 (PyTorch's is float32): randn, zeros "
            f"and layers give float64 and .float() float32; "
            f"zeroin.set_default_dtype(zeroin.float32) first runs PyTorch code as written")


def same_dtypes(op, *operands):
    """Refuse products of two dtypes as PyTorch does (matmul, mm, linear, einsum, ...):
    NumPy would compute in the wider dtype, silently and slowly. Arrays or tensors."""
    first = operands[0].dtype
    for k, t in enumerate(operands[1:], 1):
        if t.dtype != first:
            default = default_dtype_note(first, t.dtype, ". ")
            raise DtypeError(
                f"{op}: expected all operands to have the same dtype, got {first} and "
                f"{t.dtype} (operands 0 and {k}); convert one to the other's dtype: "
                f"a.to(b.dtype) (x.float() for float32, x.double() for float64). NumPy data "
                f"is float64: zeroin.tensor(array, dtype=zeroin.float32) or model.double()"
                f"{default}")


def _matmul_fix(sa, sb):
    """What to write instead of ``a @ b`` whose inner dimensions differ."""
    ka, kb = sa[-1], sb[-2] if len(sb) > 1 else sb[0]
    if len(sb) > 1 and sb[-1] == ka:
        return f"; the second operand transposed fits (a @ b.{'T' if len(sb) == 2 else 'mT'})"
    if len(sa) > 1 and sa[-2] == kb:
        return f"; the first operand transposed fits (a.{'T' if len(sa) == 2 else 'mT'} @ b)"
    return ("; the first operand's last dimension must equal the second's first (its second "
            "to last for a matrix or batch)")


class MatMulOp(Function):
    __slots__ = ()
    name, symbol = "matmul", "@"

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: both operands need "
                             f"at least 1 dimension; use * for scalars")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape}: inner dimensions "
                             f"{ka} and {kb} differ{_matmul_fix(a.shape, b.shape)}")
        dt = a.dtype
        if dt is not b.dtype and dt != b.dtype:
            same_dtypes("matmul", a, b)
        if dt is not _F32 and dt is not _F64 and dt.kind == "b":
            no_bool("matmul", a, fix="a.float() @ b.float() (or .int(); a count: .sum())")
        return _product(a, b.T) if a.ndim == 2 and b.ndim == 2 else a @ b

    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:
            # _product(g, b) is g @ b.T, for tensors too (create_graph): linear_product
            # leaves anything but a float32 ndarray to x @ w.T
            return (_product(g, b) if na else None), (a.T @ g if nb else None)
        a2 = a.reshape((1,) + a.shape) if a.ndim == 1 else a
        b2 = b.reshape(b.shape + (1,)) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if b.ndim > 1 else \
                g2.reshape(g2.shape + (1,))
        if b.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        ga = xp.sum_to(g2 @ xp.swap(b2), a2.shape).reshape(a.shape) if na else None
        gb = xp.sum_to(xp.swap(a2) @ g2, b2.shape).reshape(b.shape) if nb else None
        return ga, gb


@op(MatMulOp, methods=("__matmul__", "__rmatmul__", "matmul"))
def matmul(a, b, *, out=None):
    """Matrix product of 1-D, 2-D or batched operands (NumPy's ``@`` rules); ``out=``
    writes into a tensor."""
    no_sequence("matmul", "@", a, b)
    a, b = _pair(a, b)
    if out is not None:
        return write_out(out, _call2(MatMulOp(), a, b), "matmul")
    return _call2(MatMulOp(), a, b)


# --- elementwise functions --------------------------------------------------------------
# one-input ops without arguments are made as cls(), as + - * / are: see _unary

def _unary(cls, doc, methods=None):
    """Define and register the public function of a one-input op without arguments."""
    assert cls.__init__ is object.__init__

    def f(x):
        return _call1(cls(), x if type(x) is Tensor else constant(x))

    # abs(bool_tensor), silu(int_tensor): refused, as PyTorch refuses them
    refused = "biu" if cls.__dict__.get("float_only") else "b" if \
        cls.__dict__.get("no_bool") else ""
    cast = _makes_float(cls)    # sqrt(int_tensor): the default dtype, as PyTorch's
    if refused or cast:
        def f(x):  # noqa: F811
            x = x if type(x) is Tensor else constant(x)
            k = x.dtype.kind
            if k in "biu":      # NumPy: float16 for bool and int8
                if refused and k in refused:
                    float_input(cls.name, x) if refused == "biu" else no_bool(cls.name, x)
                if cast:
                    x = _default_float(x)
            return _call1(cls(), x)
    f.__name__ = f.__qualname__ = cls.name
    f.__doc__ = doc
    return op(cls, methods=methods or (cls.name,))(f)


class ExpOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "exp"
    def forward(self, x): return np.exp(x)
    def backward(self, xp, g, out, x): return g * out


exp = _unary(ExpOp, "Elementwise e**x.")


class LogOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "log"
    def forward(self, x): return np.log(x)
    def backward(self, xp, g, out, x): return g / x


log = _unary(LogOp, "Elementwise natural logarithm.")


class SqrtOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sqrt"
    def forward(self, x): return np.sqrt(x)
    def backward(self, xp, g, out, x): return g * 0.5 / out


sqrt = _unary(SqrtOp, "Elementwise square root.")


class AbsOp(Function):
    __slots__ = ()
    scalar_rules = True
    no_bool = True
    piecewise_linear = True     # g * sgn(x), sgn tied to x with gradient 0 (PyTorch's)
    name = "abs"
    def forward(self, x): return np.abs(x)
    def backward(self, xp, g, out, x):
        s = np.sign(_raw(x))            # complex x: z / |z| (NumPy >= 2), PyTorch's sgn
        if xp is not NP and s.dtype.kind == "c":    # create_graph: sgn is not constant
            return g * x.sgn()
        return g * s


abs = _unary(AbsOp, "Elementwise |x| (gradient sign(x), 0 at 0).",  # noqa: A001
             ("__abs__", "abs"))


class SinOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sin"
    def forward(self, x): return np.sin(x)
    def backward(self, xp, g, out, x): return g * xp.cos(x)


sin = _unary(SinOp, "Elementwise sine.")


class CosOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "cos"
    def forward(self, x): return np.cos(x)
    def backward(self, xp, g, out, x): return -g * xp.sin(x)


cos = _unary(CosOp, "Elementwise cosine.")


class TanhOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "tanh"
    def forward(self, x): return np.tanh(x)
    def backward(self, xp, g, out, x): return g * (1 - out * out)


tanh = _unary(TanhOp, "Elementwise hyperbolic tangent.")


class SigmoidOp(Function):
    __slots__ = ()
    scalar_rules = True
    name = "sigmoid"
    def forward(self, x): return sigmoid_array(x)
    def backward(self, xp, g, out, x): return g * out * (1 - out)


sigmoid = _unary(SigmoidOp, "Elementwise logistic function 1 / (1 + e**-x), computed stably.")


class ReLUOp(Function):
    __slots__ = ()
    scalar_rules = True
    grads_fit = True        # g * mask: g's shape and dtype, which are x's
    piecewise_linear = "out"    # PyTorch's threshold_backward(g, result): tied to out
    takes_number = True     # g * mask with a float g: the same array (T17)
    name = "relu"

    # PyTorch's relu keeps x where x is not below 0, so relu(-0.0) is -0.0 (zero_first);
    # a bool tensor is refused as PyTorch refuses it, checked here on the array, after the
    # float dtypes (relu is in every MLP step: no_bool's wrapper cost W4 ~0.5% instructions)
    def forward(self, x):
        if type(x) is not _ndarray:         # a float or NumPy scalar (scalar_rules)
            if type(x) is np.bool_:
                no_bool("relu", x)
            return _maximum(x, 0) if type(x) is np.float16 else _maximum(0, x)
        dt = x.dtype
        if dt is not _F32 and dt is not _F64 and dt.kind == "b":
            no_bool("relu", x)
        return zero_first(_maximum, x)

    # relu(x) > 0 exactly where x > 0 (NaN: neither); the output is the array the next
    # layer's backward has just read, so its mask is the cheaper one to make
    def backward(self, xp, g, out, x):
        out = _raw(out)
        if type(out) is not _ndarray:       # a float or NumPy scalar (scalar_rules)
            return g * (out > 0)
        dt = out.dtype
        return g * (out > (_ZERO_F64 if dt is _F64 else _ZERO_F32 if dt is _F32 else 0))

    @staticmethod
    def backward_into(g, out, x):
        """backward's ``g * (out > 0)`` written into ``g`` (T15 in zeroin/_fast.py)."""
        dt = out.dtype
        g *= out > (_ZERO_F64 if dt is _F64 else _ZERO_F32 if dt is _F32 else 0)
        return g


def _read_only_zero(dtype):
    z = np.zeros((), dtype)
    z.flags.writeable = False
    return z


_ZERO_F64, _ZERO_F32 = _read_only_zero(np.float64), _read_only_zero(np.float32)
_FLAT_ZEROS = {}        # dtype -> read-only zeros of _FLAT_CHUNK elements
_FLAT_CHUNK = 1 << 18


def zero_first(ufunc, x):
    """``ufunc(0, x)`` (np.maximum: relu; np.minimum: elu's negative side) on an array,
    keeping x where x equals 0, as PyTorch does (relu(-0.0) is -0.0): NumPy's float32 and
    float64 loops return the second operand at a tie, its float16 loop the first, so the
    zero goes first there and x first elsewhere. A C-contiguous float32/float64 array of
    1024 or more elements meets a cached flat zero array, as 1-D arrays in chunks of
    2**18: two contiguous operands run NumPy's plain SIMD loop, where a zero row broadcast
    over x's rows (relu's previous way) pays a loop call a row, and a 0-d zero a generic
    loop. relu's forward, in-process A/B against the row (2 shared cores, load ~1.6):
    (1024, 256) float32 28.7 against 32.5 us, (64, 512) 2.8 against 4.4, (512, 1024)
    float32 (two chunks) 58.1 against 69.2, (128, 1024) float64 29.3 against 32.2."""
    dt = x.dtype
    if dt is not _F32 and dt is not _F64:
        return ufunc(x, 0)
    if x.size < 1024 or not x.flags.c_contiguous:
        return ufunc(_ZERO_F64 if dt is _F64 else _ZERO_F32, x)
    z = _FLAT_ZEROS.get(dt)
    if z is None:
        z = _FLAT_ZEROS[dt] = np.zeros(_FLAT_CHUNK, dt)
        z.flags.writeable = False
    flat, n = x.reshape(-1), x.size
    if n <= _FLAT_CHUNK:
        return ufunc(z[:n], flat).reshape(x.shape)
    out = np.empty_like(flat)
    for i in range(0, n, _FLAT_CHUNK):
        part = flat[i:i + _FLAT_CHUNK]
        ufunc(z[:part.size], part, out=out[i:i + _FLAT_CHUNK])
    return out.reshape(x.shape)


relu = _unary(ReLUOp, "Elementwise max(x, 0) (gradient 0 at 0).")


class ZeroOfOp(Function):
    """Zeros of x's shape and dtype, tied to x with gradient 0: the link that keeps a
    recorded piecewise-linear rule in x's graph (see Function.piecewise_linear)."""
    __slots__ = ()
    name = "zero_of"
    def forward(self, x): return np.zeros_like(x)
    # zeros outside the graph (PyTorch's zeros_like(grad)): a further derivative through
    # the tie is 0, not a term that still depends on g (and 0, not NaN, for an inf g)
    def backward(self, xp, g, out, x): return _untracked_zeros(g)


def zero_of(x):
    """Zeros like ``x``, in its graph with a zero gradient."""
    return _call1(ZeroOfOp(), _t(x))


def softplus_array(x):
    """log(1 + e**x) as max(x, 0) + log1p(e**-|x|): np.logaddexp(0, x)'s values to 3
    units in the last place (its own error is 1.4), 5-7x faster on float arrays."""
    if type(x) is not np.ndarray or x.dtype.kind != "f" or not x.ndim:
        return np.logaddexp(0, x)
    r = np.exp(-np.abs(x))
    np.log1p(r, out=r)
    r += np.maximum(x, 0)
    return r


class SoftplusOp(Function):
    __slots__ = ()
    float_only = True
    name = "softplus"
    def forward(self, x): return softplus_array(x)
    def backward(self, xp, g, out, x): return g * xp.sigmoid(x)


softplus = _unary(SoftplusOp, "Elementwise log(1 + e**x), computed stably.")


class LeakyReLUOp(Function):
    __slots__ = ("slope",)
    piecewise_linear = True
    name = "leaky_relu"
    def __init__(self, slope): self.slope = slope
    def forward(self, x): return _where_bits(x > 0, x, x * self.slope)
    def backward(self, xp, g, out, x):
        if xp is NP:        # g * 1 is g: the values of g * where(x > 0, 1, slope)
            return _where_bits(x > 0, g, g * x.dtype.type(self.slope))
        return g * np.where(_raw(x) > 0, 1, self.slope).astype(_raw(x).dtype)


@op(LeakyReLUOp, methods=("leaky_relu",))
def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x."""
    x = _t(x)
    if x.dtype.kind in "biu":
        float_input("leaky_relu", x)
    return _call1(LeakyReLUOp(negative_slope), x)


def _tie_weights(ra, rb, a_loses, b_loses, need, dtype):
    """The gradient weights of maximum's/minimum's operands, PyTorch's rule: 1 for an
    operand not beaten (so both where either is NaN), 0.5 each at ties, else 0."""
    keep = 1 - 0.5 * (ra == rb)
    wa = (keep - a_loses).astype(dtype) if need[0] else None
    wb = (keep - b_loses).astype(dtype) if need[1] else None
    return wa, wb


def _weighted(xp, g, w):
    """``g * w`` for the weights 0, 0.5 and 1 of :func:`_tie_weights`, 0 where w is 0 (as
    PyTorch's rule, whatever g is there)."""
    return None if w is None else _select(xp, g * w, w != 0)


class MaximumOp(Function):
    __slots__ = ()
    promotes = True
    name = "maximum"
    def forward(self, a, b): return np.maximum(a, b)
    def backward(self, xp, g, out, a, b):
        ra, rb = _raw(a), _raw(b)       # ties share the gradient equally
        wa, wb = _tie_weights(ra, rb, ra < rb, ra > rb, self.needs_input_grad, _raw(g).dtype)
        return _weighted(xp, g, wa), _weighted(xp, g, wb)


@op(MaximumOp, methods=("maximum",))
def maximum(a, b):
    """Elementwise maximum; at ties the gradient is shared equally."""
    a, b = _pair(a, b)
    return _call2(MaximumOp(), a, b)


class MinimumOp(Function):
    __slots__ = ()
    promotes = True
    name = "minimum"
    def forward(self, a, b): return np.minimum(a, b)
    def backward(self, xp, g, out, a, b):
        ra, rb = _raw(a), _raw(b)
        wa, wb = _tie_weights(ra, rb, ra > rb, ra < rb, self.needs_input_grad, _raw(g).dtype)
        return _weighted(xp, g, wa), _weighted(xp, g, wb)


@op(MinimumOp, methods=("minimum",))
def minimum(a, b):
    """Elementwise minimum; at ties the gradient is shared equally."""
    a, b = _pair(a, b)
    return _call2(MinimumOp(), a, b)


class WhereOp(Function):
    """where(cond, a, b); ``cond`` is a constant boolean array."""
    __slots__ = ("cond",)
    promotes = True
    name = "where"
    def __init__(self, cond): self.cond = cond
    def forward(self, a, b): return _where_bits(self.cond, a, b)
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad     # select, as PyTorch: see _select
        return (_select(xp, g, self.cond) if na else None), \
            (_select(xp, g, ~np.asarray(self.cond)) if nb else None)


class MaskMulOp(WhereOp):
    """where with the rule of PyTorch's ``nansum`` and ``nan_to_num``, ``g * cond`` and
    ``g * ~cond``: a multiply, not where's select (an inf gradient gives NaN at a replaced
    element, as in PyTorch)."""
    __slots__ = ()
    def backward(self, xp, g, out, a, b):
        na, nb = self.needs_input_grad
        return (g * self.cond if na else None), (g * ~np.asarray(self.cond) if nb else None)


@op(WhereOp)
def where(condition, input=None, other=None):  # noqa: A002 (PyTorch's keyword names)
    """Elementwise ``input`` where ``condition`` else ``other``; ``condition`` carries no
    gradient. PyTorch's keyword names (the LLMs-from-scratch book's
    ``where(condition=..., input=..., other=...)``). ``where(condition)`` alone: the indices
    of the true elements, a tuple of int64 tensors."""
    if input is None and other is None:     # PyTorch: nonzero(cond, as_tuple=True), any dtype
        from ._tensor_api import nonzero
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: give both input and other, where(condition, input, other), "
                        "or the condition alone for the indices where it is True")
    c = _condition(condition)
    a, b = _pair(input, other)
    return _call2(WhereOp(c), a, b)


def _condition(cond):
    """where's condition as a bool array: PyTorch refuses other dtypes (and warns on uint8)."""
    c = np.asarray(_raw(cond))
    if c.dtype == bool:
        return c
    if c.dtype == np.uint8:
        import warnings
        warnings.warn("where: a uint8 condition is deprecated (as in PyTorch); use a bool "
                      "tensor, e.g. cond.bool() or cond != 0", UserWarning, stacklevel=3)
    else:
        raise _DtypeError(f"where: expected condition to be a bool tensor, got dtype "
                          f"{c.dtype} (PyTorch refuses it too); compare first, e.g. "
                          f"where(cond != 0, a, b)")
    return c.astype(bool)


class ClipOp(Function):
    __slots__ = ("lo", "hi")
    name = "clip"
    def __init__(self, lo, hi): self.lo, self.hi = lo, hi
    def label(self): return f"clip[{_fmt(self.lo)}, {_fmt(self.hi)}]"
    def forward(self, x): return clip_keep(x, self.lo, self.hi)
    def backward(self, xp, g, out, x):
        r = _raw(x)
        m = np.ones(r.shape, dtype=bool)
        if self.lo is not None:
            m &= r >= self.lo
        if self.hi is not None:
            m &= r <= self.hi
        return _select(xp, g, m)


class ClipTensorOp(Function):
    """clip with tensor bounds, ``minimum(maximum(x, lo), hi)`` with broadcasting (with
    lo > hi the result is hi). PyTorch's rule: the gradient goes to x where lo <= x <= hi,
    to lo where x < lo < hi, and to hi where x > hi or hi < lo."""
    __slots__ = ("has_lo", "has_hi")
    name = "clip"
    def __init__(self, has_lo, has_hi): self.has_lo, self.has_hi = has_lo, has_hi

    def forward(self, x, *bounds):
        return clip_keep(x, bounds[0] if self.has_lo else None,
                         bounds[-1] if self.has_hi else None)

    def backward(self, xp, g, out, x, *bounds):
        r = _raw(x)
        lo = _raw(bounds[0]) if self.has_lo else None
        hi = _raw(bounds[-1]) if self.has_hi else None
        need = self.needs_input_grad
        gx = _select(xp, g, (True if lo is None else r >= lo) &
                     (True if hi is None else r <= hi))
        grads = [gx if need[0] else None]
        if lo is not None:
            grads.append(_select(xp, g, (r < lo) & (True if hi is None else lo < hi))
                         if need[1] else None)
        if hi is not None:
            grads.append(_select(xp, g, (r > hi) | (False if lo is None else hi < lo))
                         if need[-1] else None)
        return tuple(grads)


@op((ClipOp, ClipTensorOp), methods=("clip", "clamp"), aliases=("clamp",))
def clip(x, min=None, max=None):  # noqa: A002
    """Limit values to [min, max] (numbers, or tensors that broadcast); the gradient is 0
    where clipped, and goes to a tensor bound where the result is that bound."""
    if min is None and max is None:
        raise ValueError("clip: give at least one of min and max")
    x = _t(x)
    if None not in (min, max) and isinstance(min, Tensor) != isinstance(max, Tensor):
        min, max = _number_bound(min), _number_bound(max)
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        if x.dtype.kind in "biu" and (_fractional(min) or _fractional(max)):
            x = _cast(x, _tensor._default_dtype)    # int_tensor.clamp(min=0.5), PyTorch's
        return _call1(ClipOp(min, max), x)
    if (min is not None and not isinstance(min, Tensor)) or \
            (max is not None and not isinstance(max, Tensor)):
        raise TypeError(f"clip: min is {a_type(min)} and max "
                        f"{a_type(max)}; as in PyTorch, give both as tensors or both "
                        f"as numbers (a 0-d tensor without grad counts as a number), e.g. "
                        f"clamp(x, min=lo, max=zeroin.full_like(lo, 1.0))")
    bounds = tuple(b for b in (min, max) if b is not None)
    dt = _result_type(x, *bounds)       # PyTorch's dtype (NumPy's may be wider)
    x, bounds = _cast(x, dt), tuple(_cast(b, dt) for b in bounds)
    return _calln(ClipTensorOp(min is not None, max is not None), (x,) + bounds)


def _number_bound(b):
    """A 0-d tensor that does not require grad as its number: PyTorch's clamp takes it as
    a Scalar beside a number bound (clamp(x, t0, 0.5))."""
    if isinstance(b, Tensor) and b.ndim == 0 and not b.requires_grad:
        return b.item()
    return b


def _fractional(b):
    """A float (not integral) clamp bound: it makes an integer tensor's result float."""
    return isinstance(b, numbers.Real) and not isinstance(b, numbers.Integral)


class AsTypeOp(Function):
    __slots__ = ("dtype",)
    name = "astype"
    def __init__(self, dtype): self.dtype = np.dtype(dtype)
    def forward(self, x): return x.astype(self.dtype)
    def backward(self, xp, g, out, x):
        d = _raw(x).dtype
        if g.dtype.kind == "c" and d.kind != "c":     # from real to complex: Re g
            g = g.real
        return g.astype(d)


@op(AsTypeOp, methods=("astype",))
def astype(x, dtype):
    """Cast to ``dtype``; differentiable between float dtypes."""
    x = _t(x)
    if np.dtype(dtype).kind not in "fc" and x.requires_grad:
        return _leaf(x.data.astype(dtype))
    return _call1(AsTypeOp(dtype), x)


# --- reductions -------------------------------------------------------------------------

def _expand(g, in_shape, axes, keepdims):
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if keepdims or not in_shape:
        return g
    if type(g) is float:        # a float_grad rule's 0-d gradient on the fast path's lane
        g = np.asarray(g)
    shape = list(in_shape)
    for a in axes:
        shape[a] = 1
    return g.reshape(tuple(shape))


def _torch_names(op, axis, keepdims, dim, keepdim, default_axis=None):
    """Accept PyTorch's ``dim``/``keepdim`` for NumPy's ``axis``/``keepdims``."""
    if dim is not None:
        if axis != default_axis and axis != dim:
            raise TypeError(f"{op}: got axis={axis!r} and dim={dim!r}; dim is PyTorch's "
                            f"name for axis, give one of them")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, keepdims


def _check_axis(op, x, axis):
    """``axis`` checked against ``x`` (an int or a tuple); a 0-d tensor takes dim 0 or -1
    (as in PyTorch), which means the whole tensor (None)."""
    if axis is None:
        return None
    nd = x.ndim
    n = builtins.max(nd, 1)
    for a in ((axis,) if isinstance(axis, numbers.Integral) else axis):
        if not isinstance(a, numbers.Integral) or not -n <= a < n:
            raise _DimError(f"{op}: dimension {a} is out of range for a tensor of shape "
                            f"{tuple(x.shape)} (expected a dim in [{-n}, {n - 1}])")
    if nd == 0:
        return None
    return int(axis) if isinstance(axis, numbers.Integral) else tuple(int(a) for a in axis)


def _check_dim(op, x, dim):
    """One ``dim`` checked against ``x`` and made non-negative; a 0-d tensor takes 0 or -1,
    which is 0 (PyTorch's ops along a dim treat it as one dimension of size 1)."""
    d = _check_axis(op, x, dim)
    return 0 if d is None else d % x.ndim


def _reduce_dims(op, x, dim):
    """``dim`` of a reduction checked against ``x``; ``()`` and ``[]`` mean every dimension,
    as in PyTorch (NumPy would reduce over none)."""
    if isinstance(dim, (tuple, list)) and not len(dim):
        return None
    return _check_axis(op, x, dim)


_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)


_DtypeError = DtypeError      # a dtype the op cannot take: RuntimeError and TypeError


_ValueError = InvalidValueError   # its old private name, kept for code that imports it


_fill_scalar = fill_scalar      # its place is zeroin/_tensor.py (tensor() uses it too)


class _DimError(ShapeError, IndexError):
    """A dimension out of range: an IndexError, as in PyTorch (and a ShapeError)."""


class _ZeroDivisionError(ZeroinError, ZeroDivisionError):
    """Integer division by zero: a ZeroDivisionError, and a RuntimeError as PyTorch raises."""


def _is_integer_operand(v):
    if isinstance(v, (Tensor, np.ndarray)):
        return v.dtype.kind in "biu"
    return isinstance(v, (numbers.Integral, np.integer, np.bool_))


def _check_int_divisor(name, a, b):
    """Integer ``a`` by integer ``b`` (tensors, arrays or numbers) with a 0 in ``b`` raises,
    as in PyTorch (NumPy gives 0 and a warning); floats give inf or NaN as usual."""
    if not (_is_integer_operand(a) and _is_integer_operand(b)):
        return
    if (np.asarray(_raw(b)) == 0).any():
        where = "has a 0" if np.ndim(_raw(b)) else "is 0"
        raise _ZeroDivisionError(f"{name}: integer division by zero (the divisor {where}), "
                                 "as PyTorch refuses; divide floats (x.float()) to get inf or "
                                 "NaN instead")


def _unsigned_to_int64(x):
    """uint8 summed or multiplied is int64 in PyTorch, as every integer (NumPy: uint64)."""
    return x.to(np.int64) if x.dtype.kind == "u" else x


class SumOp(Function):
    __slots__ = ("axis", "keepdims", "dtype")
    name = "sum"
    float_grad = True
    grads_fit = True        # g spread over x's shape; a dtype= casts x before the op

    def __init__(self, axis, keepdims, dtype=None):
        self.axis, self.keepdims, self.dtype = axis, keepdims, dtype

    def forward(self, x):
        # np.add.reduce is ndarray.sum without its Python wrapper. PyTorch's result dtypes:
        # a requested dtype as it is (int32 stays int32), else NumPy's upcasts (bool and
        # int32 to int64) except unsigned integers, which PyTorch sums to int64 (NumPy:
        # uint64). Read on the array here, not before the op: no property call per sum
        dtype = self.dtype
        if dtype is None:
            dt = x.dtype
            if dt is not _F64 and dt.kind == "u":
                dtype = np.int64
        return _add_reduce(x, axis=self.axis, keepdims=self.keepdims, dtype=dtype)
    def backward(self, xp, g, out, x):
        if self.axis is None:           # a full sum: g is one number, spread over x
            return xp.broadcast_to(g, x.shape)
        axes = _axes(self.axis, x.ndim)
        return xp.broadcast_to(_expand(g, x.shape, axes, self.keepdims), x.shape)


@op(SumOp, methods=("sum",))
def sum(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):  # noqa: A001
    """Sum over ``axis`` (all by default); ``dtype`` casts the input first (PyTorch's)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("sum", axis, keepdims, dim, keepdim)
    if not isinstance(x, Tensor):
        x = constant(x)
    if dtype is not None:
        x = x.to(dtype)
        dtype = x.dtype
    # SumOp(axis, keepdims, dtype) without its __init__'s Python frame (every loss sums)
    fn = _new(SumOp)
    fn.axis = axis if axis is None else _reduce_dims("sum", x, axis)
    fn.keepdims, fn.dtype = keepdims, dtype
    return _call1(fn, x)


class MeanOp(Function):
    __slots__ = ("axis", "keepdims")
    name = "mean"
    float_grad = True
    grads_fit = True        # g / n spread over x's shape, in g's dtype (x's)
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        if self.axis is None and x.dtype is _F64 and x.size:
            # a full mean as np.mean computes it, to the bit (sum, then one division by
            # the count as a float64), without np.mean's Python layers (a loss, each step)
            return _add_reduce(x, axis=None) / x.size
        return x.mean(axis=self.axis, keepdims=self.keepdims)
    def backward(self, xp, g, out, x):
        if self.axis is None:           # a full mean: g / n spread over x (none if empty)
            n = math.prod(x.shape)
            return xp.broadcast_to(g / n if n else g * math.nan, x.shape)
        axes = _axes(self.axis, x.ndim)
        n = math.prod([x.shape[a] for a in axes])
        return xp.broadcast_to(_expand(g, x.shape, axes, self.keepdims) / n, x.shape)


@op(MeanOp, methods=("mean",))
def mean(x, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None):
    """Mean over ``axis`` (all by default); ``dtype`` casts the input first (PyTorch's)."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("mean", axis, keepdims, dim, keepdim)
    x = _t(x) if dtype is None else _t(x).to(dtype)
    if x.dtype.kind not in "fc":
        raise _DtypeError(f"mean: the input has dtype {x.dtype}; the mean needs a floating "
                          f"dtype, as in PyTorch: convert first, e.g. x.float().mean() or "
                          f"x.double().mean()")
    fn = _new(MeanOp)       # MeanOp(axis, keepdims) without __init__'s frame, as in sum
    fn.axis = axis if axis is None else _reduce_dims("mean", x, axis)
    fn.keepdims = keepdims
    return _call1(fn, x)


def evenly(g, x, out):
    """PyTorch's rule for one value picked from all of ``x`` (``max()``, ``min()``,
    ``median()``): ``g`` shared equally among the elements equal to it, or among the NaNs
    where it is NaN (``amax``'s rule gives NaN to every element there)."""
    r, o = _raw(x), _raw(out)
    mask = np.isnan(r) if np.isnan(o) else r == o
    return g * (mask / mask.sum()).astype(r.dtype)


class _ExtremumOp(Function):
    """Shared rule of max and min: the gradient goes to the extreme elements (ties share);
    ``evenly`` (``max()``, ``min()`` of all) gives a NaN result's gradient to the NaNs."""
    __slots__ = ("axis", "keepdims", "evenly")
    def __init__(self, axis, keepdims, evenly=False):
        self.axis, self.keepdims, self.evenly = axis, keepdims, evenly
    def backward(self, xp, g, out, x):
        if self.evenly:
            return evenly(g, x, out)
        axes = _axes(self.axis, x.ndim)
        o = _expand(_raw(out), x.shape, axes, self.keepdims)
        mask = _raw(x) == o
        weight = (mask / mask.sum(axis=axes, keepdims=True)).astype(_raw(x).dtype)
        return _expand(g, x.shape, axes, self.keepdims) * weight


class ValuesIndices(NamedTuple):
    """``(values, indices)``, as PyTorch's ``torch.return_types``: from ``max(dim)``,
    ``min(dim)``, ``sort``, ``topk``, ``median(dim)``... Each op returns its own subclass,
    ``zeroin.return_types.max`` and so on (:func:`values_indices`), printed as PyTorch's."""
    values: object
    indices: object

    def __repr__(self):
        op = type(self).__name__
        name = op if type(self) is ValuesIndices else f"zeroin.return_types.{op}"
        return f"{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    def __array__(self, dtype=None, copy=None):
        # x.max(1) == labels compared both parts with the labels, a (2, N) mask whose sum
        # looked like a count of correct predictions (PyTorch gives False)
        raise TypeError("a (values, indices) pair from max/min(dim), sort, topk... is not a "
                        "tensor; take the part you mean: .indices (the position, as argmax: "
                        "predicted = out.max(1).indices) or .values, or unpack it: "
                        "values, indices = out.max(1)")


_RETURN_TYPES = {}


def values_indices(op, values, indices):
    """``(values, indices)`` of ``op`` ("max", "sort", ...) as its own :class:`ValuesIndices`
    subclass, PyTorch's ``torch.return_types.<op>``: the same tuple, with the op's name."""
    cls = _RETURN_TYPES.get(op)
    if cls is None:
        cls = _RETURN_TYPES[op] = type(op, (ValuesIndices,), {
            "__slots__": (), "__module__": "zeroin.return_types", "__qualname__": op})
    return cls(values, indices)


def _dim_names(op, dim, keepdim, axis, keepdims):
    """PyTorch's ``dim``/``keepdim`` with NumPy's ``axis``/``keepdims`` as aliases
    (PyTorch accepts both)."""
    if axis is not None:
        if dim is not None and dim != axis:
            raise TypeError(f"{op}: got dim={dim!r} and axis={axis!r}; axis is an alias of "
                            f"dim, give one of them")
        dim = axis
    return dim, (keepdim if keepdims is None else keepdims)


def _extreme(op, cls, pair, arg, x, dim, keepdim):
    if isinstance(dim, (Tensor, np.ndarray)):     # max(a, b): the elementwise maximum
        return pair(x, dim)
    x = _t(x)
    if dim is None:
        return cls(None, False, True)(x)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}: dim must be an int (one dimension), got {dim!r}; for the "
                        f"{op} over several dimensions use x.a{op}(dim=(...))")
    d = _check_axis(op, x, dim)
    # bool max(dim) is PyTorch's, bool argmax is not: the indices come from the uint8 view
    xi = _leaf(x.data.view(np.uint8)) if x.dtype == np.bool_ else x
    if d is None:                   # a 0-d tensor: itself, at index 0
        return values_indices(op, cls(None, False, True)(x), arg(xi, None, False))
    idx = arg(xi, d, True)
    # the values are picked at the indices, so the gradient goes to that one element (as
    # in PyTorch; amax/amin share it among ties)
    where = list(np.indices(idx.shape, sparse=True))
    where[d] = idx.data
    values = getitem(x, tuple(where))
    if not keepdim:
        values, idx = squeeze(values, d), _leaf(idx.data.squeeze(d))
    return values_indices(op, values, idx)


class MaxOp(_ExtremumOp):
    __slots__ = ()
    name = "max"
    def forward(self, x): return x.max(axis=self.axis, keepdims=self.keepdims)


@op(MaxOp, methods=("amax",))
def amax(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Maximum over ``dim`` (an int, a tuple, or all); ties share the gradient."""
    dim, keepdim = _dim_names("amax", dim, keepdim, axis, keepdims)
    x = _t(x)
    return _call1(MaxOp(_reduce_dims("amax", x, dim), keepdim), x)


@op(MaxOp, methods=("max",))
def max(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """PyTorch's max: ``max(x)`` the largest value; ``max(x, dim)`` the pair
    ``(values, indices)`` along ``dim``; ``max(a, b)`` the elementwise maximum.

    Ties share the gradient of the values; use :func:`amax` for the values alone.
    """
    dim, keepdim = _dim_names("max", dim, keepdim, axis, keepdims)
    return _extreme("max", MaxOp, maximum, argmax, x, dim, keepdim)


class MinOp(_ExtremumOp):
    __slots__ = ()
    name = "min"
    def forward(self, x): return x.min(axis=self.axis, keepdims=self.keepdims)


@op(MinOp, methods=("amin",))
def amin(x, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Minimum over ``dim`` (an int, a tuple, or all); ties share the gradient."""
    dim, keepdim = _dim_names("amin", dim, keepdim, axis, keepdims)
    x = _t(x)
    return _call1(MinOp(_reduce_dims("amin", x, dim), keepdim), x)


@op(MinOp, methods=("min",))
def min(x, dim=None, keepdim=False, *, axis=None, keepdims=None):  # noqa: A001
    """PyTorch's min: ``min(x)``, ``min(x, dim)`` -> ``(values, indices)``, ``min(a, b)``."""
    dim, keepdim = _dim_names("min", dim, keepdim, axis, keepdims)
    return _extreme("min", MinOp, minimum, argmin, x, dim, keepdim)


def _check_nonempty(op, x, axis):
    """An index of the largest or smallest value needs at least one value to look at; a
    bool tensor is refused, as PyTorch refuses it."""
    if x.dtype == np.bool_:
        raise _DtypeError(f"{op}(): bool tensors are not supported, as in PyTorch; convert "
                          f"first: x.int().{op}(...) (the first True: x.int().argmax())")
    if axis is None and x.data.size == 0:
        raise _DimError(f"{op}: the tensor of shape {x.shape} is empty: there is no value to "
                        f"return the index of; check x.numel() > 0 first")
    if axis is not None and x.shape[axis] == 0:
        raise _DimError(f"{op}: dimension {axis} of the tensor of shape {x.shape} is empty: "
                        f"there is no value to return the index of along it")
    return axis


@op(None, methods=("argmax",))
def argmax(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the largest value over ``axis`` (flat index by default); no gradient.

    Returns an int64 tensor that requires no grad, e.g. predicted classes
    ``logits.argmax(axis=1)``.
    """
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("argmax", axis, keepdims, dim, keepdim)
    x = _t(x)
    axis = _check_nonempty("argmax", x, _check_axis("argmax", x, axis))
    return _leaf(np.argmax(x.data, axis=axis, keepdims=keepdims))


@op(None, methods=("argmin",))
def argmin(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """Index of the smallest value over ``axis`` (flat index by default); no gradient."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("argmin", axis, keepdims, dim, keepdim)
    x = _t(x)
    axis = _check_nonempty("argmin", x, _check_axis("argmin", x, axis))
    return _leaf(np.argmin(x.data, axis=axis, keepdims=keepdims))


class LogSumExpOp(Function):
    __slots__ = ("axis", "keepdims")
    name = "logsumexp"
    def __init__(self, axis, keepdims): self.axis, self.keepdims = axis, keepdims
    def forward(self, x):
        x = float_of(x)     # integers: x - max would wrap around (uint8)
        if not x.size:      # an empty sum: log(0) = -inf, as in PyTorch
            return np.full_like(np.add.reduce(x, axis=self.axis, keepdims=self.keepdims),
                                -np.inf)
        m = x.max(axis=self.axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        r = np.log(np.exp(x - m).sum(axis=self.axis, keepdims=True)) + m
        return r if self.keepdims else r.squeeze(axis=self.axis) if self.axis is not None \
            else r.reshape(())
    def backward(self, xp, g, out, x):
        axes = _axes(self.axis, x.ndim)
        o = _expand(out, x.shape, axes, self.keepdims)
        return _expand(g, x.shape, axes, self.keepdims) * xp.exp(x - o)


@op(LogSumExpOp, methods=("logsumexp",))
def logsumexp(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """log(sum(exp(x))) over ``axis``, computed without overflow."""
    if dim is not None or keepdim is not None:
        axis, keepdims = _torch_names("logsumexp", axis, keepdims, dim, keepdim)
    x = _t(x)
    if x.dtype.kind in "biu":       # PyTorch's default float dtype (NumPy's: float16 for bool)
        x = _cast(x, _tensor._default_dtype)
    if isinstance(axis, (tuple, list)) and not len(axis) and not keepdims:
        raise _DimError(f"logsumexp: dim={axis!r} without keepdim=True fails in PyTorch "
                        f"(its output shape check), so it does here; leave dim out, or pass "
                        f"keepdim=True, to reduce over every dimension")
    return _call1(LogSumExpOp(_reduce_dims("logsumexp", x, axis), keepdims), x)


class SoftmaxOp(Function):
    __slots__ = ("axis",)
    name = "softmax"
    def __init__(self, axis): self.axis = axis
    def forward(self, x):
        if not x.size:      # nothing to normalise (max would refuse an empty dimension)
            return x.copy()
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)
    def backward(self, xp, g, out, x):
        gy = g * out
        return gy - out * gy.sum(axis=self.axis, keepdims=True)


def _softmax_dim(op, axis, dim):
    """The one dimension of softmax or log_softmax: required, as in PyTorch (whose
    ``nn.functional`` forms alone guess a legacy one, with a warning)."""
    if dim is not None:
        axis = _torch_names(op, axis, None, dim, None)[0]
    if axis is None:
        raise TypeError(f"{op}: give the dimension to normalise over, e.g. {op}(x, dim=-1) "
                        f"(PyTorch requires it too)")
    return axis


def _softmax_input(op, x, dtype):
    """``x`` cast to ``dtype`` first (PyTorch's ``dtype=``: ``softmax(labels, 0,
    dtype=torch.float32)``); integer or bool input without it is PyTorch's
    NotImplementedError, not a float result."""
    x = _t(x) if dtype is None else _t(x).to(dtype)
    if x.dtype.kind in "iub" and x.numel():
        raise NotImplementedError(
            f"{op}: not implemented for integer or bool input ({x.dtype}), as in PyTorch; "
            f"convert it first, x.float(), or pass dtype=zeroin.float32")
    return x


@op(SoftmaxOp, methods=("softmax",))
def softmax(x, axis=None, dtype=None, *, dim=None):
    """exp(x) / sum(exp(x)) along ``axis`` (``dim``), computed stably, in ``dtype``
    (default: x's own, which must be floating point)."""
    axis = _softmax_dim("softmax", axis, dim)
    x = _softmax_input("softmax", x, dtype)
    return _call1(SoftmaxOp(_check_axis("softmax", x, axis)), x)


class LogSoftmaxOp(Function):
    __slots__ = ("axis",)
    name = "log_softmax"
    def __init__(self, axis): self.axis = axis
    def forward(self, x):
        if not x.size:
            return x.copy()
        s = x - x.max(axis=self.axis, keepdims=True)
        return s - np.log(np.exp(s).sum(axis=self.axis, keepdims=True))
    def backward(self, xp, g, out, x):
        return g - xp.exp(out) * g.sum(axis=self.axis, keepdims=True)


@op(LogSoftmaxOp, methods=("log_softmax",))
def log_softmax(x, axis=None, dtype=None, *, dim=None):
    """x - logsumexp(x) along ``axis`` (``dim``), in ``dtype`` as :func:`softmax`."""
    axis = _softmax_dim("log_softmax", axis, dim)
    x = _softmax_input("log_softmax", x, dtype)
    return _call1(LogSoftmaxOp(_check_axis("log_softmax", x, axis)), x)


# --- shapes -----------------------------------------------------------------------------

def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class ReshapeOp(Function):
    __slots__ = ("shape",)
    name = "reshape"
    def __init__(self, shape): self.shape = shape
    def label(self): return f"reshape{self.shape}"
    def forward(self, x): return x.reshape(self.shape)
    def backward(self, xp, g, out, x): return g.reshape(x.shape)


def _reshaped(x, shape):
    """``x`` in ``shape``, recorded, a view of x (reshape, view, squeeze, unsqueeze,
    flatten). When nothing had read x, this op is its only reader (``x._read``, as getitem's):
    an in-place write into the view then re-points it without a heap scan (d2l's
    masked_softmax, ``scores.reshape(-1, n)[~mask] = -1e6``: gc.get_referrers took 60 ms a
    call under pytest, two per attention call)."""
    read = getattr(x, "_read", False)
    out = _view(_call1(ReshapeOp(shape), x), x)
    if read is False and out.grad_fn is not None:
        x._read = _weakref(out.grad_fn)     # weak: x -> op -> x would be a cycle
    return out


def _check_reshape(x, shape, name):
    """ShapeError naming the op (``reshape`` or ``view``) when x cannot take ``shape``."""
    try:
        np.empty(x.shape, dtype=bool).reshape(shape)
    except ValueError:
        raise ShapeError(f"{name}: cannot {name} a tensor of shape {x.shape} "
                         f"({int(np.prod(x.shape))} elements) into shape {shape}") from None


@op(ReshapeOp, methods=("reshape",))
def reshape(x, *sizes, shape=None):
    """Same data, new shape (one dimension may be -1); ``shape=`` by keyword too, as
    PyTorch's (MAE's ``imgs.reshape(shape=(n, 3, h, p, w, p))``)."""
    x = _t(x)
    if shape is not None:
        if sizes:
            raise TypeError(f"reshape: the shape is given twice ({sizes} and shape={shape}); "
                            f"give it once: x.reshape{sizes} or x.reshape(shape=...)")
        sizes = (shape,)
    shape = _shape_arg(sizes)
    _check_reshape(x, shape, "reshape")
    return _reshaped(x, shape)


@op(ReshapeOp, methods=("view",), export=False)
def view(x, *shape, size=None):
    """:func:`reshape` that never copies (PyTorch's ``view``): the result shares x's
    memory, and a layout that would need a copy (e.g. ``x.t().view(-1)``) is refused.
    ``x.view(dtype)`` reinterprets the bytes (no gradient); ``size=`` by keyword too."""
    x = _t(x)
    if size is not None:
        if shape:
            raise TypeError(f"view: the shape is given twice ({shape} and size={size}); "
                            f"give it once: x.view{shape} or x.view(size=...)")
        shape = (size,)
    if len(shape) == 1 and not isinstance(shape[0], (numbers.Integral, tuple, list)):
        from .dtypes import as_dtype
        return _view(_leaf(x.data.view(np.ndarray).view(as_dtype(shape[0]))), x)
    _check_reshape(x, _shape_arg(shape), "view")
    out = reshape(x, *shape)
    if out is not x and not (out.data.size == 0 or np.may_share_memory(out.data, x.data)):
        raise RuntimeError(f"view: a tensor of shape {x.shape} laid out as it is (not "
                           f"contiguous, e.g. after t(), transpose or permute) cannot be "
                           f"viewed as shape {out.shape} without a copy; use "
                           f".reshape(...) (copies when needed) or .contiguous().view(...)")
    return out


@op(ReshapeOp, methods=("squeeze",))
def squeeze(x, dim=None, *, axis=None):
    """Remove dimensions of size 1: all of them, or those of ``dim`` (an int or a tuple)
    that have size 1 (others are left as they are, as in PyTorch)."""
    x = _t(x)
    dim = axis if dim is None else dim
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = _axes(_check_axis("squeeze", x, dim), x.ndim)
        if x.ndim and not isinstance(dim, numbers.Integral) and len(set(axes)) < len(dim):
            raise ShapeError(f"squeeze: a dimension appears twice in dim={dim!r}")
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    if shape == x.shape:
        return x
    return _reshaped(x, shape)


@op(ReshapeOp, methods=("unsqueeze",))
def unsqueeze(x, dim=None, *, axis=None):
    """Insert a dimension of size 1 at ``dim``."""
    x = _t(x)
    axis = axis if dim is None else dim
    nd = x.ndim + 1
    if axis is None:
        raise TypeError("unsqueeze: give the dimension, e.g. x.unsqueeze(0)")
    if not -nd <= axis < nd:
        raise _DimError(f"unsqueeze: dimension {axis} is out of range for a result with "
                        f"{nd} dimensions (expected a dim in [{-nd}, {nd - 1}])")
    shape = list(x.shape)
    shape.insert(axis % nd, 1)
    return _reshaped(x, tuple(shape))


@op(ReshapeOp, methods=("flatten",))
def flatten(x, start_dim=0, end_dim=-1):
    """Merge dimensions ``start_dim..end_dim`` into one (PyTorch's meaning)."""
    x = _t(x)
    _check_axis("flatten", x, (start_dim, end_dim))
    if x.ndim == 0:
        return _reshaped(x, (1,))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"tensor of shape {x.shape} (PyTorch refuses it too); give "
                         f"start_dim <= end_dim, e.g. flatten({end_dim}, {start_dim})")
    n = int(np.prod(x.shape[s:e + 1]))
    return _reshaped(x, x.shape[:s] + (n,) + x.shape[e + 1:])


class TransposeOp(Function):
    __slots__ = ("axes",)
    name = "transpose"
    def __init__(self, axes): self.axes = axes
    def forward(self, x): return x.transpose(self.axes)
    def backward(self, xp, g, out, x):
        inv = None if self.axes is None else tuple(int(a) for a in np.argsort(self.axes))
        if type(g) is Tensor:       # create_graph: Tensor.transpose swaps two dims only
            return _permute(g, inv)
        return g.transpose(inv)


@op(TransposeOp, methods=("transpose",))
def transpose(x, dim0=None, dim1=None):
    """Swap two dimensions, as PyTorch: ``x.transpose(0, 1)``. (To reorder all of them use
    :func:`permute`; ``x.T`` reverses them.)"""
    x = _t(x)
    if dim0 is None or dim1 is None or isinstance(dim0, (tuple, list)):
        raise TypeError(f"transpose: give the two dimensions to swap, e.g. "
                        f"x.transpose(0, 1) (PyTorch's meaning); to reorder all dimensions "
                        f"use x.permute(...), to reverse them x.T")
    dims = _check_axis("transpose", x, (dim0, dim1))
    if dims is None:        # a 0-d tensor: nothing to swap
        return x
    d0, d1 = dims
    axes = list(range(x.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return _view(TransposeOp(tuple(axes))(x), x)


def _permute(x, axes):
    """Reorder the dimensions of the tensor ``x`` by ``axes`` (None: reverse them)."""
    if axes is not None:
        nd = x.ndim
        if not all(-nd <= a < nd for a in axes) or \
                sorted(a % nd for a in axes) != list(range(nd)):
            raise ShapeError(f"permute: dims {axes} are not a permutation of the "
                             f"{nd} dimensions of shape {x.shape}")
        axes = tuple(a % nd for a in axes)      # backward inverts them with argsort
    return _view(_call1(TransposeOp(axes), x), x)


@op(TransposeOp, methods=("permute",))
def permute(x, *dims):
    """Reorder the dimensions, e.g. ``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``."""
    x = _t(x)
    if len(dims) == 1 and dims[0] is None:
        return _permute(x, None)
    return _permute(x, _shape_arg(dims))


@op(TransposeOp, methods=("swapaxes", "swapdims"), aliases=("swapdims",))
def swapaxes(x, a1, a2):
    """Exchange two axes (``transpose(x, a1, a2)``; also named swapdims)."""
    return transpose(x, a1, a2)


class BroadcastToOp(Function):
    __slots__ = ("shape",)
    name = "broadcast_to"
    def __init__(self, shape): self.shape = shape
    def forward(self, x): return np.broadcast_to(x, self.shape)
    def backward(self, xp, g, out, x): return xp.sum_to(g, x.shape)


@op(BroadcastToOp, methods=("broadcast_to",))
def broadcast_to(x, shape):
    """Repeat ``x`` to ``shape`` by NumPy's broadcasting rules."""
    x = _t(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return _call1(BroadcastToOp(shape), x)


class SumToOp(Function):
    __slots__ = ("shape",)
    name = "sum_to"
    def __init__(self, shape): self.shape = shape
    def forward(self, x): return sum_to_array(x, self.shape)
    def backward(self, xp, g, out, x): return xp.broadcast_to(g, x.shape)


@op(SumToOp, methods=("sum_to",))
def sum_to(x, shape):
    """Sum ``x`` down to ``shape``: the adjoint of :func:`broadcast_to`."""
    x = _t(x)
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return _call1(SumToOp(shape), x)


def _join_error(fn, op, inputs, exc, extra):
    """cat / stack with a dimension out of range: the range and the fix, not NumPy's words."""
    first = next((x for x in inputs if x.shape != (0,)), inputs[0])    # cat skips (0,)
    axis, nd = fn.axis, first.ndim + extra
    if isinstance(axis, numbers.Integral) and nd and not -nd <= axis < nd:
        into = f" stacked into {nd} dimensions" if extra else ""
        hint = ("; to put 1-D tensors side by side as columns use stack(tensors, dim=1)"
                if op == "cat" and nd == 1 and axis == 1 else "")
        return _DimError(f"{op}: dimension {axis} is out of range for tensors of shape "
                         f"{tuple(first.shape)}{into} (expected a dim in [{-nd}, "
                         f"{nd - 1}]){hint}")
    mismatch = _join_mismatch(op, inputs, axis, extra)
    return mismatch or Function.error(fn, inputs, exc)


def _join_mismatch(op, inputs, axis, extra):
    """cat / stack of tensors whose shapes do not fit: which one and where, in PyTorch's
    terms (cat: the same sizes except along ``dim``; stack: the same shape), and the fix."""
    shapes = [tuple(x.shape) for x in inputs]
    k = next((i for i, sh in enumerate(shapes) if sh != shapes[0] and sh != (0,)), None)
    if k is None or not isinstance(axis, numbers.Integral):
        return None
    a, b = shapes[0], shapes[k]
    if extra:
        return ShapeError(f"stack: expects each tensor to be of equal size, but got {a} at "
                          f"entry 0 and {b} at entry {k}; to join along an existing "
                          f"dimension whose sizes differ use cat(tensors, dim=...)")
    if len(a) != len(b):
        return ShapeError(f"cat: tensors must have the same number of dimensions: got "
                          f"{len(a)} (shape {a}, entry 0) and {len(b)} (shape {b}, entry "
                          f"{k}); add the missing one first, e.g. x.unsqueeze(0) or "
                          f"x.reshape(...)")
    d = axis % len(a)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    bad = next(i for i in differ if i != d)
    fix = (f"; to join along dimension {bad} use cat(tensors, dim={bad})" if differ == [bad]
           else "")
    return ShapeError(f"cat: sizes of tensors must match except in dimension {d}: entry 0 "
                      f"has shape {a} and entry {k} shape {b}, which differ in dimension "
                      f"{bad} ({a[bad]} against {b[bad]}){fix}")


def _legacy_empty(xs):
    """Which of ``xs`` PyTorch's cat skips: 1-D empty ones, of shape (0,) (``tensor([])``,
    the start of ``out = cat([out, x])`` loops), when some other input is not 1-D."""
    skip = [x.shape == (0,) for x in xs]
    if not any(skip) or all(x.ndim == 1 for x, s in zip(xs, skip) if not s):
        return None
    return skip


class ConcatenateOp(Function):
    """Join along ``axis``; 1-D empty inputs are skipped as in PyTorch (:func:`_legacy_empty`)
    and get an empty gradient."""
    __slots__ = ("axis",)
    name = "concatenate"
    def __init__(self, axis): self.axis = axis
    def forward(self, *xs):
        skip = _legacy_empty(xs)
        if skip is not None:
            xs = [x for x, s in zip(xs, skip) if not s]
        # contiguous as PyTorch's (NumPy keeps a transposed layout): the book's view(n, -1)
        return np.ascontiguousarray(np.concatenate(xs, axis=self.axis))
    def error(self, inputs, exc): return _join_error(self, "cat", inputs, exc, 0)
    def backward(self, xp, g, out, *xs):
        ax = self.axis % out.ndim
        grads, start = [], 0
        skip = _legacy_empty(xs) or [False] * len(xs)
        for x, needed, s in zip(xs, self.needs_input_grad, skip):
            if s:
                grads.append(g.reshape(-1)[:0] if needed else None)
                continue
            n = x.shape[ax]
            grads.append(g[(slice(None),) * ax + (slice(start, start + n),)] if needed
                         else None)
            start += n
        return tuple(grads) if len(grads) > 1 else grads[0]   # one input: one value


@op(ConcatenateOp, aliases=("cat",))
def concatenate(tensors, axis=0, *, dim=None, out=None):
    """Join tensors along an existing axis; ``out=`` writes into a tensor."""
    if out is not None:
        return write_out(out, concatenate(tensors, axis, dim=dim), "cat")
    _check_sequence("cat", tensors, axis)
    if dim is not None:
        axis = _torch_names("concatenate", axis, None, dim, None, 0)[0]
    ts = _same_dtype([_t(t) for t in tensors])
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    return _calln(ConcatenateOp(axis), tuple(ts))


cat = concatenate


def _check_sequence(name, tensors, axis):
    """Refuse ``cat(a, b)`` and ``cat(t)``: PyTorch takes one list of tensors (a tensor
    alone would be split into its rows, and a second tensor read as the dimension)."""
    if isinstance(tensors, Tensor):
        extra = " (the second one was taken as the dimension)" if isinstance(axis, Tensor) \
            else ""
        raise TypeError(f"{name}: expects a list or tuple of tensors, got a single tensor of "
                        f"shape {tensors.shape}{extra}; put the tensors in one list: "
                        f"zeroin.{name}([a, b], dim=0)")


def _same_dtype(ts):
    """The tensors cast to one dtype by PyTorch's rule (float32 with int64 is float32), as
    cat and stack promote in PyTorch."""
    dt = ts[0].dtype if ts else None
    for t in ts[1:]:
        if t.dtype != dt:
            dt = _torch_promote(dt, t.dtype)
    return ts if all(t.dtype == dt for t in ts) else [_cast(t, dt) for t in ts]


class StackOp(Function):
    __slots__ = ("axis",)
    name = "stack"
    def __init__(self, axis): self.axis = axis
    def forward(self, *xs): return np.ascontiguousarray(np.stack(xs, axis=self.axis))
    def error(self, inputs, exc): return _join_error(self, "stack", inputs, exc, 1)
    def backward(self, xp, g, out, *xs):
        ax = self.axis % out.ndim
        grads = tuple(g[(slice(None),) * ax + (i,)] if needed else None
                      for i, needed in enumerate(self.needs_input_grad))
        return grads if len(grads) > 1 else grads[0]   # one input: one value


@op(StackOp)
def stack(tensors, axis=0, *, dim=None, out=None):
    """Join tensors along a new axis; ``out=`` writes into a tensor."""
    if out is not None:
        return write_out(out, stack(tensors, axis, dim=dim), "stack")
    _check_sequence("stack", tensors, axis)
    if dim is not None:
        axis = _torch_names("stack", axis, None, dim, None, 0)[0]
    ts = _same_dtype([_t(t) for t in tensors])
    if not ts:
        raise ValueError("stack: need at least one tensor")
    return _calln(StackOp(axis), tuple(ts))


def _index_str(index):
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, slice):
            out.append(":" if i == slice(None) else
                       f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
                       + ("" if i.step is None else f":{i.step}"))
        elif i is Ellipsis:
            out.append("...")
        elif i is None:
            out.append("None")
        elif isinstance(i, np.ndarray):
            out.append(f"<{i.dtype} array {i.shape}>")
        else:
            out.append(str(i))
    return ", ".join(out)


def _float_index_fix(index):
    """The fix for NumPy's "arrays used as indices must be of integer type", when a float
    tensor was the index (makemore's X = torch.Tensor(X), then C[X])."""
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, np.ndarray) and i.dtype.kind in "fc" for i in items):
        return ("; an index tensor must hold integers (long, int, byte or bool, as in "
                "PyTorch): convert it with idx.long(); zeroin.tensor(list) of whole numbers "
                "gives int64, zeroin.Tensor(list) the default float dtype")
    return ""


def _no_tail_ellipsis(index):
    """``(0, Ellipsis)`` as ``0`` for labels and errors: getitem adds the Ellipsis to get
    a 0-d view."""
    if isinstance(index, tuple) and index and index[-1] is Ellipsis:
        index = index[:-1]
        return index[0] if len(index) == 1 else index
    return index


class GetItemOp(Function):
    __slots__ = ("index",)
    name = "getitem"
    def __init__(self, index): self.index = index
    def label(self): return "[" + _index_str(_no_tail_ellipsis(self.index)) + "]"
    def forward(self, x):
        try:
            r = x[self.index]
        except IndexError as e:     # PyTorch raises IndexError too: `except IndexError` works
            raise _DimError(f"getitem: index [{_index_str(_no_tail_ellipsis(self.index))}] "
                            f"for a tensor of shape {x.shape}: {e}"
                            f"{_float_index_fix(self.index)}") from None
        if type(r) is np.ndarray and not r.flags.c_contiguous and r.base is not x and \
                (r.base is not x.base or x.base is None):
            # integer arrays after a slice (x[:, idx]): NumPy's copy comes out transposed,
            # PyTorch's is C-contiguous (so that .view(n, -1) of it works there and here)
            r = np.ascontiguousarray(r)
        return r        # a view for ints and slices, a NumPy scalar for x[0] of 1-D
    def backward(self, xp, g, out, x): return xp.scatter(g, self.index, x.shape)


@op(GetItemOp, methods=("__getitem__",))
def getitem(x, index):
    """``x[index]`` with ints, slices, None, Ellipsis, boolean masks and integer arrays.
    Ints, slices, None and Ellipsis give a view sharing ``x``'s memory (as in PyTorch:
    ``x[0].zero_()`` under no_grad changes ``x``); masks and integer arrays give a copy."""
    x = _t(x)
    read = getattr(x, "_read", False)
    if type(index) is int:          # x[i], the usual case, without the general checks
        out = _element(x, (index,)) if x.ndim == 1 else _view(_call1(GetItemOp(index), x), x)
    else:
        out = _getitem_clean(x, _clean_index(index))    # (here: its warnings' stacklevel)
    if read is False and out.grad_fn is not None:
        # x's only reader: `t[i] += v` (t[i] then t[i] = ...) needs no heap scan in setitem
        # (makemore part 4's dC[ix] += demb[k, j], 96 of them: 2.8 s to 10 ms). Weak: the
        # op holds x, so a strong mark would be a cycle, freeing the graph only at gc time
        x._read = _weakref(out.grad_fn)
    return out


def _getitem_clean(x, index):
    """``x[index]`` for a cleaned index (tensors as arrays)."""
    if not _is_basic_index(index):
        return _call1(GetItemOp(index), x)
    items = index if isinstance(index, tuple) else (index,)
    if len(items) == x.ndim and all(isinstance(i, numbers.Integral) for i in items):
        return _element(x, items)
    return _view(_call1(GetItemOp(index), x), x)


def _element(x, items):
    """``x[i, j, ...]`` of one element: a 0-d view (``x[0].fill_(5)`` changes x, as in
    PyTorch); while recording, a scalar on the fast path's float lane instead, marked as a
    view all the same, so that changing it in place is refused rather than lost."""
    if not (x.requires_grad and _tensor.is_grad_enabled()):
        return _view(_call1(GetItemOp(items + (Ellipsis,)), x), x)
    out = _call1(GetItemOp(items[0] if len(items) == 1 else items), x)
    base = getattr(x, "_view_of", None)
    out._view_of = x if base is None else base
    return out


def put_array(d, index, value):
    """``d[index] = value`` on arrays, with errors that name setitem, the shapes and the fix
    (what ``t[index] = value`` does, recorded or not)."""
    if type(value) is np.ndarray and value.ndim and value.size == 1:
        value = value.reshape(())   # one number, shape (1, 1): fits any place, as in PyTorch
    try:                            # (NumPy 2.2 warns for one element, 2.4 refuses)
        d[index] = value
    except IndexError as e:
        raise _DimError(f"setitem: index [{_index_str(index)}] for a tensor of shape "
                        f"{d.shape}: {e}{_float_index_fix(index)}") from None
    except ValueError as e:
        shape = np.shape(value)
        ones = len(shape) - len(np.trim_zeros(np.array(shape) != 1, "f"))
        if ones:    # PyTorch drops a value's leading 1s (NumPy not for one element):
            try:    # d2l's preds[i] = net(x) of shape (1, 1)
                d[index] = np.reshape(value, shape[ones:])
                return
            except ValueError:
                pass
        raise ShapeError(f"setitem: a value of shape {np.shape(value)} cannot be written "
                         f"into t[{_index_str(index)}] of a tensor of shape {d.shape}: {e}; "
                         f"give a value of the selection's shape (or one that broadcasts "
                         f"to it)") from None


class IndexPutOp(Function):
    """``x`` with ``value`` written at ``index``: ``x[index] = value`` recorded (PyTorch's
    ``index_put``). The overwritten elements of ``x`` get no gradient; ``value`` gets the
    gradient at ``index``, summed back to its own shape (it may broadcast)."""
    __slots__ = ("index", "keep")
    name = "setitem"
    def __init__(self, index): self.index, self.keep = index, None
    def label(self): return "[" + _index_str(self.index) + "]="
    def forward(self, x, value):
        out = x.copy()
        put_array(out, self.index, value)
        self.keep = np.ones(x.shape, dtype=bool)    # the elements of x that survive
        self.keep[self.index] = False
        return out
    def backward(self, xp, g, out, x, value):
        nx, nv = self.needs_input_grad
        gv = g[self.index] if nv else None
        if nv and len(value.shape) > gv.ndim:   # value's leading 1s that forward dropped
            gv = gv.reshape((1,) * (len(value.shape) - gv.ndim) + tuple(gv.shape))
        return (_select(xp, g, self.keep) if nx else None), gv


@op(IndexPutOp, export=False)
def index_put(x, index, value):
    """``x`` with ``value`` written at ``index``, out of place and recorded: what
    ``x[index] = value`` does while the graph is recorded."""
    x = _t(x)
    value = value if isinstance(value, Tensor) else constant(value, x)
    return _call2(IndexPutOp(_clean_index(index)), x, value)


class IndexAddOp(Function):
    """zeros(shape) with ``g`` added at ``index`` (repeated indices accumulate)."""
    __slots__ = ("index", "shape")
    name = "index_add"
    def __init__(self, index, shape): self.index, self.shape = index, shape
    def forward(self, g): return scatter_array(g, self.index, self.shape)
    def backward(self, xp, g, out, x): return g[self.index]


@op(IndexAddOp, export=False)
def index_add(g, index, shape):
    """zeros(shape) with ``g`` added at ``index``: the adjoint of indexing."""
    return _call1(IndexAddOp(index, tuple(shape)), _t(g))


# div with a rounding_mode records RoundedDivOp
OPS["div"] = OPS["div"]._replace(cls=(DivOp, RoundedDivOp))


# --- the tensor namespace for create_graph backward -------------------------------------

for _name in vars(NP):
    if _name in OPS:                    # exp, log, ..., where, broadcast_to, sum_to
        setattr(TZ, _name, staticmethod(OPS[_name].fn))
TZ.scatter = staticmethod(index_add)
TZ.swap = staticmethod(lambda x: swapaxes(x, -1, -2))
# max(x, dim) and min(x, dim) pick their values by indexing (see _extreme)
for _name in ("max", "min"):
    OPS[_name] = OPS[_name]._replace(cls=(OPS[_name].cls, GetItemOp))
del _name


# Unless ZEROIN_FAST=0, the fast path records one- and two-input ops and turns numbers into
# constants (Python floats for scalars, shared constant leaves): same results, fewer
# instructions. See zeroin/_fast.py.
if _tensor.FAST:
    from ._fast import (call1 as _call1, call2 as _call2, calln as _calln,  # noqa: E402,F811
                        linear_product as _product, number as _number,  # noqa: F401
                        pair as _pair)
    from . import _fast
    _fast._ADD, _fast._MUL = AddOp, MulOp   # their float rules, written out in the loop
    _fast._SPREAD = (SumOp, MeanOp)         # full reductions whose g is one number (T17)
    _fast._PROMOTE = _promote
