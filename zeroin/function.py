"""Function: one op, its forward and its backward rule in one place.

Subclasses define ``forward(*arrays) -> array`` on NumPy arrays and
``backward(xp, g, out, *inputs)``, which returns the gradient for each input (a single
value for one-input ops; ``None`` for an input that needs none). The backward rule is
written once and runs in two modes:

* normal backward: ``g``, ``out`` and the inputs are ``ndarray`` and ``xp`` is :data:`NP`;
* ``create_graph=True``: they are :class:`~zeroin.Tensor` and ``xp`` is :data:`TZ`, so the
  rule itself is recorded and can be differentiated again.

The engine reduces each gradient to its input's shape (broadcasting), so rules may return
gradients in the broadcast shape.
"""
from __future__ import annotations

import numpy as np

from . import _tensor as _t
from ._tensor import Tensor, _leaf, _mode, _scalar
from .errors import AnomalyError, ShapeError, ZeroinError

__all__ = ["Function", "ZeroinError", "ShapeError", "AnomalyError"]


class _Anomaly:
    def __init__(self):
        self.enabled = False    # an instance attribute: read by every op, and faster so


anomaly = _Anomaly()


_new = object.__new__


def _shape_str(x):
    return str(tuple(x.shape)) if hasattr(x, "shape") else type(x).__name__


class Function:
    """Base class of every op. See the module docstring for the contract."""

    __slots__ = ("inputs", "needs_input_grad", "saved", "released", "site")
    name = "function"       # used in errors, drawings and explanations
    symbol = None           # short infix/label used when drawing, e.g. "*"
    # True when forward and backward also accept NumPy scalars (np.float64, ...) for 0-d
    # arrays: the engine then runs them on scalars, about 5x cheaper than on 0-d arrays.
    # Users still only ever see ndarrays in .data and .grad.
    scalar_rules = False

    def forward(self, *arrays):
        raise NotImplementedError

    def backward(self, xp, g, out, *inputs):
        raise NotImplementedError

    def label(self):
        """Short human label for drawings: the symbol, or the name with its arguments."""
        return self.symbol or self.name

    def __repr__(self):
        return f"<{self.name}>"

    def __call__(self, *inputs):
        """Run forward on tensors ``inputs`` and record the node if grad is needed."""
        n = len(inputs)
        if n == 2:
            return _call2(self, inputs[0], inputs[1])
        if n == 1:
            return _call1(self, inputs[0])
        try:
            data = self.forward(*[t.data for t in inputs])
        except (ValueError, IndexError) as e:
            _raise_shape_error(self, inputs, e)
        if type(data) is not np.ndarray:
            data = np.asarray(data)
        return _record(self, inputs, data, any([t.requires_grad for t in inputs]))


def _call_arrays(fn, inputs, arrays, needs_grad):
    """``fn(*inputs)`` where the caller has read the inputs' arrays and checked them."""
    try:
        data = fn.forward(*arrays)
    except (ValueError, IndexError) as e:
        _raise_shape_error(fn, inputs, e)
    if type(data) is not np.ndarray:
        data = np.asarray(data)
    return _record(fn, inputs, data, needs_grad)


def _record(fn, inputs, data, needs_grad, v=None):
    """The output tensor of ``fn`` holding the array ``data`` (or the Python float ``v``);
    a graph node if grad is on. (``_call2``, the scalar hot path, has it inline.)"""
    out = _new(Tensor)
    out._d = data
    out._v = v
    out.grad = None
    out.name = None
    out._hooks = None
    out._retain = False
    if needs_grad and (_t._off_threads == 0 or _mode.enabled):
        fn.inputs = inputs
        fn.needs_input_grad = tuple([t.requires_grad for t in inputs])
        fn.released = False
        out.requires_grad = True
        out.grad_fn = fn
    else:
        out.requires_grad = False
        out.grad_fn = None
    if anomaly.enabled:
        _anomaly_forward(fn, out)
    return out


def _call1(fn, x):
    """``fn(x)`` for a one-input op (relu, exp, ...)."""
    a = x._v
    v = data = None
    try:
        if a is not None and fn.scalar_rules:
            try:
                v = fn.forward(a)
            except ArithmeticError:     # NumPy's inf and warning instead
                v = None
            if type(v) is not float:
                v, data = _off_lane(fn, v, (a,))
        else:
            a = x._d
            if a is None:
                a = x.data
            if fn.scalar_rules and not a.ndim:
                a = a[()]
            data = fn.forward(a)
            if type(data) is not np.ndarray:
                data = np.asarray(data)
    except (ValueError, IndexError) as e:
        _raise_shape_error(fn, (x,), e)
    return _record(fn, (x,), data, x.requires_grad, v)


def _call2(fn, x, y):
    """``fn(x, y)`` for a two-input op: + - * / call it directly (it is their hot path)."""
    a, b = x._v, y._v
    v = data = None
    try:
        if a is not None and b is not None and fn.scalar_rules:
            try:
                v = fn.forward(a, b)
            except ArithmeticError:     # 1.0 / 0.0: NumPy's inf and warning instead
                v = None
            if type(v) is not float:
                v, data = _off_lane(fn, v, (a, b))
        else:
            a = x._d if a is None else x.data
            b = y._d if b is None else y.data
            if fn.scalar_rules and not a.ndim and not b.ndim:
                a, b = a[()], b[()]
            data = fn.forward(a, b)
            if type(data) is not np.ndarray:
                data = np.asarray(data)
    except (ValueError, IndexError) as e:
        _raise_shape_error(fn, (x, y), e)
    out = _new(Tensor)
    out._d = data
    out._v = v
    out.grad = None
    out.name = None
    out._hooks = None
    out._retain = False
    if (x.requires_grad or y.requires_grad) and (_t._off_threads == 0 or _mode.enabled):
        fn.inputs = (x, y)
        fn.needs_input_grad = (x.requires_grad, y.requires_grad)
        fn.released = False
        out.requires_grad = True
        out.grad_fn = fn
    else:
        out.requires_grad = False
        out.grad_fn = None
    if anomaly.enabled:
        _anomaly_forward(fn, out)
    return out


def _raise_shape_error(fn, inputs, e):
    if isinstance(e, ZeroinError):
        raise e
    shapes = " and ".join(_shape_str(t) for t in inputs)
    word = "shape" if len(inputs) == 1 else "shapes"
    raise ShapeError(f"{fn.name}: {word} {shapes}: {e}") from None


def _off_lane(fn, v, args):
    """A scalar op whose result is not a plain Python float: (float, None) or (None, array).

    NumPy functions give np.float64 (kept on the lane as a float); Python arithmetic that
    raised or left the reals (0.0 ** -1, (-8.0) ** (1/3)) is redone on NumPy scalars for
    NumPy's results (inf, nan) and warnings.
    """
    t = type(v)
    if t is np.float64 or (t is np.ndarray and v.dtype == np.float64 and not v.ndim):
        return float(v), None
    data = fn.forward(*[np.float64(a) for a in args])
    if type(data) is np.float64:
        return float(data), None
    return None, np.asarray(data)


def _user_site():
    """The innermost stack frame outside zeroin, as 'file:line: code'."""
    import os
    import traceback
    here = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(here + os.sep):
            code = f": {frame.line}" if frame.line else ""    # no source: <stdin>, exec
            return f"{frame.filename}:{frame.lineno}{code}"
    return "<unknown>"


def _anomaly_forward(fn, out):
    site = _user_site()
    if out.grad_fn is fn:
        fn.site = site
    if out.data.dtype.kind in "fc" and not np.all(np.isfinite(out.data)):
        raise AnomalyError(f"{fn.name}: forward produced {_bad(out.data)} "
                           f"(op created at {site})")


def _bad(a):
    n_nan = int(np.isnan(a).sum())
    n_inf = int(np.isinf(a).sum())
    parts = []
    if n_nan:
        parts.append(f"{n_nan} NaN")
    if n_inf:
        parts.append(f"{n_inf} Inf")
    return " and ".join(parts) + f" in output of shape {tuple(a.shape)}"


_F64_CONSTANTS = {}


def _f64_constant(value):
    if len(_F64_CONSTANTS) >= 4096:
        _F64_CONSTANTS.clear()
    arr = np.asarray(float(value))
    arr.flags.writeable = False
    if value:       # not 0: 0.0 == -0.0 would share one entry; NaN never matches a key
        _F64_CONSTANTS[value] = arr
    return arr


def constant(value, like=None):
    """Wrap a non-tensor operand as a constant leaf, keeping ``like``'s float dtype.

    Python numbers do not change a tensor's dtype: ``float32_tensor * 2.0`` stays float32.
    """
    if isinstance(value, Tensor):
        return value
    tv = type(value)
    if (tv is float or tv is int) and type(like) is Tensor and like._v is not None and \
            (tv is float or -9007199254740992 <= value <= 9007199254740992):
        return _scalar(float(value))        # joins a Python-float scalar on the fast lane
    if (tv is float or tv is int) and type(like) is Tensor and like.dtype.char == "d":
        # the common case (x * 0.5, 2 * w): a fresh node around a shared read-only array
        arr = _F64_CONSTANTS.get(value)
        if arr is not None:
            return _leaf(arr)
        if -9007199254740992 <= value <= 9007199254740992:
            return _leaf(_f64_constant(value))
    if isinstance(value, (int, float, bool)) and isinstance(like, Tensor):
        kind = like.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, int) and not
                           isinstance(value, bool)):
            return _leaf(np.asarray(value, dtype=like.dtype))
        if isinstance(value, float):
            return _leaf(np.asarray(value, dtype=_t._default_dtype))
    return _leaf(_t._as_array(value))
