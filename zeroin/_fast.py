"""The fast path: the reference engine's results with fewer Python instructions.

Nothing here changes what zeroin computes (one exception, said where it is: T19 rounds a
large weight's SGD update once, as PyTorch does); read ``zeroin/function.py`` (``record``) and
``zeroin/autograd.py`` (``run``) for what happens. ``ZEROIN_FAST=0`` (read once, in
``zeroin/_tensor.py``) leaves this module unimported, and the test suite runs in both
modes (``.ci/run``); tests/test_engine.py compares the two bit for bit (SGD's
T19 update left out).

``ZEROIN_FAST=0`` also turns off ``vmap``'s batched run (zeroin/_func_batch.py, its
own module because it is a transform of the function, not of the engine; the
per-slice loop is the reference there): ``vmap(grad(loss))`` over 256 samples
54-110 -> 1.5-6 ms, docs/pinn.md.

It is entered from three places, chosen once at import:

* ``zeroin/ops.py`` records one- and two-input ops with :func:`call1` / :func:`call2`,
  turns numbers into constants with :func:`pair` and takes the product ``x @ w.T`` of
  linear and 2-D matmul from :func:`linear_product` (T11, T21);
* ``zeroin.optim.SGD`` updates a large weight with :func:`axpy` (T19), and ``t -= u``,
  ``t += u`` outside the graph go to :func:`axpy_tensors` (T20, zeroin/_tensor_api.py);
* ``zeroin.autograd.run`` hands a plain backward (no ``create_graph``, no
  :func:`zeroin.grad` targets, no anomaly mode) to :func:`backward` (``Tensor.backward``
  on a Python-float scalar calls it directly: T8).

The tricks, each with what it buys, in instructions per iteration under callgrind
(benchmarks/README.md: W1 the chapter's graph, W2 one step of the scalar chain, W4 one
step of micrograd's demo). With this module switched off (ZEROIN_FAST=0) W1 takes 269k
instead of 82k (263k and 93k before T8-T9); W2 took 116k instead of 43k before T8-T9.

* **T1 Python-float scalars.** ``zeroin.tensor(3.0)`` and ops on such scalars keep the
  value as a Python float (the ``_float`` slot) until ``.data`` is read; forward and
  backward run the ops' rules on floats (``Function.scalar_rules``) instead of 0-d arrays.
  When it came in: W1 181.5k -> 93.2k, W2 65.2k -> 37.6k (commit fac25eb).
* **T2 One constant leaf per number** on the float lane (``pair``): ``x * 0.99998`` in a
  chain reuses one leaf instead of making a tracked object per step.
* **T3 NumPy scalars for 0-d arrays** in ``scalar_rules`` ops (forward and backward):
  about 5x cheaper than 0-d array arithmetic (W4's loss terms).
* **T4 A backward loop without the reference's generality**: no hooks/targets/create_graph
  checks per node, inputs unpacked by count, gradients fitted only when shape or dtype
  differ, float and array nodes written out in the loop (a call per node cost W1 ~15k:
  120k -> 105k together with T7's shared tuples); nodes with hooks or ``retain_grad`` go
  to the reference step.
* **T5 Adopting gradient arrays.** A leaf's first gradient becomes its ``.grad`` without
  a copy when nothing else can see it (refcount): one array copy less per parameter and
  step (W3).
* **T6 Shared constant arrays** for ``x * 0.5`` and ``lr * p.grad`` on float64 and float32
  arrays (read-only, cached per dtype). With float32 and the number on the left (W3's SGD
  by hand): 25 -> 22 us for the six updates of a tiny MLP step. NumPy multiplies by a 0-d
  array in fewer instructions than by a Python float, so ``optim.SGD`` takes its ``lr``
  the same way (:func:`number`, ``zeroin.ops._number`` in the reference: the number
  itself, the same bits): W3 with nn.Linear, tiny (8-8-8-4) step 664k -> 651k.
* **T7 ``record()`` and the constructor written out** in :func:`call1`, :func:`call2` and
  :func:`calln` (three inputs): W1 97.3k -> 93.7k, W2 45.4k -> 43.5k, W4 1.97M -> 1.93M
  (with T4's written-out array nodes); ``needs_input_grad`` as shared tuples, not one new
  tuple per op (fewer objects for the cyclic GC): W2 43.5k -> 42.0k.
* **T8 Five Python calls fewer around a scalar's backward**: ``Tensor.backward`` on a
  float scalar (zeroin/_tensor.py) calls :func:`backward` directly with the seed 1.0
  instead of going through ``autograd.backward``, ``root_grads`` (with ``.shape`` and
  ``.dtype``) and ``run``; ``zeroin.tensor(3.0)`` and the float leaves' ``.grad`` are
  made without a ``_make`` call. W1 95.3k -> 86.7k (the first -6.5k). A 0-d array loss
  (a float32 mean) goes the same way, seeded with a 0-d one: W3 nn tiny step 651k -> 640k.
* **T9 Add's and mul's float rules and pair's T2 hit written out**: the backward loop
  computes ``(g, g)`` and ``(g * b, g * a)`` itself for :class:`~zeroin.ops.AddOp` and
  :class:`~zeroin.ops.MulOp` nodes on the float lane (their classes set by zeroin/ops.py,
  the layer above), W1 86.7k -> 84.1k; :func:`call2` takes a number operand and looks up
  its cached constant leaf itself (``w * 2``, ``b + 1``), so ``mul`` and ``add`` make no
  :func:`pair` call, W1 84.1k -> 82.1k. W2 32.3k -> 30.9k for the two.
* **T10 0-d float64 results on the float lane**: an op on arrays whose result is a NumPy
  ``float64`` scalar (a full ``sum()`` or ``mean()``, a dot of two vectors) keeps it as a
  Python float, so the loss terms added and scaled after it run on the float lane (T1,
  T9) instead of as 0-d arrays; the op's own backward still gives its rule arrays, as
  before, except that a rule declaring ``float_grad`` (sum, mean) takes the float gradient
  as it is and spreads it with one fill. W4 1.737M -> 1.619M (each of its 8 scalar loss
  ops a float op, no 0-d arrays); ``float_grad`` 1.526M -> 1.487M. Outside this module,
  both engines: x * x computes ``g * x`` once (W4 -> 1.589M), sum and a float64 full mean
  call ``np.add.reduce`` (-> 1.565M), ``broadcast_array`` fills small arrays instead of
  making zero-stride views (-> 1.535M), ``call2`` makes no ``pair`` call for a Parameter
  operand (-> 1.526M).
* **T11 ``x @ w.T`` as ``(w @ x.T).T``** for a small float32 batch (:func:`linear_product`:
  linear's product, ``x @ W.T`` in matmul's forward and ``g @ b.T`` in its backward):
  OpenBLAS packs the weight faster untransposed. The same bits where it is used: the first
  product in its window checks that the two forms agree to the bit on this machine's
  OpenBLAS kernels (they do on the Intel machines measured, and on an AMD EPYC with the
  SkylakeX kernels OpenBLAS picks there; with the Haswell kernels that machine's
  environment forces, OPENBLAS_CORETYPE=Haswell, every product differed in the last bits,
  and there T11 stays off; the check, up to four small products once per process, took
  0.4 ms there, stopping at the first). W3 with nn.Linear, in-process A/B: 0.87 of the step time at batch 32 and 0.99 at
  128 at 1 thread; 0.93 and 0.95 at 2 threads. At 2 threads and batch 128 the product
  alone is slower on a healthy machine (326 against 311-315 us) and faster on a starved
  one (359 against 423); runner children with T11 kept to batch <= 64 measured 0.995
  (0.953-1.126), so it stays.
* **T12 No constant leaf where nothing records**: ``t * 0.5`` on a float array tensor that
  needs no grad, or under ``no_grad`` (``lr * p.grad`` in SGD by hand), hands T6's
  constant straight to NumPy (:func:`_unrecorded`). Six updates' ``lr * p.grad``: 124.4k
  -> 101.7k instructions; W3 ops, tiny step, with the leaner ``t -= v`` of
  ``Tensor._inplace``: 792k -> 753k.
* **T13 NumPy's names as globals**: ``type(data) is _ndarray``, not ``np.ndarray``, in
  the type tests of every op and backward node (about 90 a W4 step), and ``_float64`` for
  T10's. NumPy's module defines ``__getattr__``, so CPython 3.11 does not specialise
  ``np.name`` loads: each is a full lookup, about 290 instructions. W4 1.517M -> 1.491M.
  Outside this module, both engines: the ``np.name`` loads of sum, mean, relu,
  ``broadcast_array`` and linear bound the same way (-> 1.481M, with ``Tensor.backward``
  reading ``autograd._fast`` once). Also here (-9k together): :func:`call2` sorts its
  non-Tensor operands once (a Parameter operand skips T9's and T12's number tests), and
  the backward loop reads ``dtype.kind`` only for outputs and leaves that are not float64.
* **T14 Gradients that need no fitting**: an op whose class sets ``grads_fit``
  (:class:`~zeroin.nn.functional.LinearOp`, :class:`~zeroin.ops.ReLUOp`,
  :class:`~zeroin.ops.SumOp`, :class:`~zeroin.ops.MeanOp`) returns, for a
  ``g`` of its output's shape and dtype (which every gradient in ``grads`` has: seeds are
  made so, and each is fitted when stored), ndarrays of its inputs' shapes and dtypes, so
  the loop skips the four ``.shape``/``.dtype`` reads and the compare per gradient (each
  read of an ndarray attribute about 190 instructions on CPython 3.11). An MLP's layers
  are most of its nodes: W4 (8 linear and 3 relu gradients a step) 1.4774M -> 1.4611M;
  with sum's and mean's (7 a step) -> 1.4494M.
  tests/test_engine.py holds the declaring ops to it.
* **T15 Gradients written into ``g``**: a one-input op that sets ``backward_into``
  (:class:`~zeroin.ops.ReLUOp`: ``g *= out > 0``) gets, instead of its ``backward`` call,
  the ``g`` that nothing but this loop holds (refcount, no base, writeable: the
  gradient a layer's backward has just made, never a seed, a retained or hooked
  ``.grad``, or add's one array for two inputs) and scales it in place: one
  gradient-sized array fewer made and written per ReLU, the same bits. The ReLU
  backward alone, float32 (1024, 256), fresh ``g`` each call: 220 -> 168 us; W3 with
  nn.Linear at 1 thread, in-process A/B on a loaded box: 0.993 of the step at batch
  1024, no change to measure at 128. W4 +1.9k instructions (1.4387M -> 1.4406M: the
  checks on its ten one-input nodes). tests/test_engine.py holds it to the bits and to
  every case where ``g`` is shared.
* **T16 T12 without a call for its constant**: :func:`_unrecorded` reads the array's dtype
  once and looks T6's constant up in the dtype's table itself (:func:`_float_constant`
  only on a miss): ``0.01 * g`` of an 8x8 float32 ``g`` under ``no_grad`` 14.3k -> 13.3k
  instructions. With the leaner ``x -= v`` of ``Tensor._inplace`` (outside this module,
  both engines: 10.7k -> 7.0k) and op classes made as ``cls()`` (both engines, ~300 an
  op) the tiny W3 step (8-8-8-4, SGD by hand) 775.2k -> 741.3k, W4 1.4356M -> 1.4253M.
* **T17 A full sum's or mean's gradient handed on as a number**: in a float64 graph a loss
  term's sum or mean has a Python float gradient (T10); where the node below it is
  elementwise in ``g`` (``takes_number``: mul of same-shaped inputs, relu) and nothing
  (a hook, ``retain_grad``) would see it first, that node's rule gets the number instead
  of an array filled with it (:func:`_pass_number`; MeanOp's ``g / n`` computed as its
  rule does). The same arrays come out: ``g * b`` with a float is the filled array times
  ``b`` element by element. With MulOp's rule for ``x * x`` as one product, ``(g + g) * x``,
  for the first operand (it returned ``g * x`` for both, added twice): W4's L2 term
  ``(p * p).sum()`` a parameter and its hinge ``relu(...).mean()`` take no fill, W4
  1.4030M -> 1.348-1.352M instructions a step (callgrind, this AMD box's Python 3.11.7).
* **T18 Row slices' gradients written into one array**: the gradient of ``x[lo:hi]``
  (a block of rows: a recurrent layer's step taking its rows of the one input projection,
  a packed step's rows of the state) goes into one zeros-of-x's-shape array that this loop
  made for ``x``, in place, instead of each slice scattering into a new x-sized array of
  zeros that is then added (``prev + zeros``: O(T) x-sized arrays for T steps, T log T
  with the layers' halving). The reference's bits, -0.0 included (:func:`_into_rows`).
  LSTM(64, 128), T=32, B=16, forward + backward, in-process A/B at 1 thread (load ~2.9):
  0.948 of the time (5.78 against 6.11 ms CPU); the char-LSTM epoch 0.967.
* **T19 SGD's update as one BLAS call** (:func:`axpy`, used by ``zeroin.optim.SGD``):
  ``w <- w - lr * g`` for a weight of at least 32768 entries is OpenBLAS's ``axpy`` (the
  library NumPy itself links, reached through ctypes; off where NumPy has another BLAS),
  one pass over ``w`` and ``g`` on BLAS's threads instead of NumPy's two single-threaded
  passes (``lr * g``, then ``w -= ...``). **The one trick that changes bits:** axpy rounds
  ``w + (-lr) g`` once (a fused multiply-add), as PyTorch's SGD does (``p.add_(g,
  alpha=-lr)``): torch.optim.SGD's bits, where the reference and smaller weights round
  twice (at most one unit in the last place apart; tests/test_optim.py holds both). The
  update alone, float32, 2 threads: a 784x256 weight 30.3 -> 9.6 us, 1 thread 29.3 ->
  17.1 us; below ~32768 entries the call costs more than it saves.
* **T20 ``t -= u`` and ``t += u`` as one BLAS call** (``x op= v`` in
  zeroin/_tensor_api.py, where nothing records it: SGD written by hand,
  ``p -= lr * p.grad`` under ``no_grad``): for two tensors of one float dtype, shape and
  C-contiguous layout and at least 32768 entries, :func:`axpy` with alpha -1 or +1. The
  product by +-1 is exact, so its one rounding is NumPy's subtraction's (addition's):
  **the same bits**, signed zeros and infinities included (NaN payloads aside);
  tests/test_engine.py holds both engines to NumPy's result. Everything else (views with
  strides, ``p -= p``, mixed dtypes) goes to NumPy as before. The six subtractions of W3's
  step by hand at batch 32, 2 threads, in-process: 29 -> 24-26 us with the SkylakeX
  kernels OpenBLAS picks on the benchmarks' AMD box (35 -> 26 us with its Haswell kernels).
  The whole step, fresh processes alternating 6-8 rounds: 0.968 of the time with the
  Haswell kernels, 1.009 (0.99-1.03) with SkylakeX's, the runner's: about 1.5% of the step,
  below what that comparison resolves.
* **T21 T11 for batches of 2 to 15 rows** (:func:`linear_product`): a recurrent layer's
  ``W_hh h`` at each step is a product with the batch's few rows, below T11's window. There
  ``x @ w.T`` runs OpenBLAS's general kernel with the packing that costs most, and
  ``(w @ x.T).T`` took 0.27-0.72 of its time (float32, 1 thread, this AMD box's SkylakeX
  kernels; hidden 128-1024, LSTM's 4 * hidden outputs and GRU's 3, RNN's 1; batches 2-13;
  at 2 threads 0.08-0.66 in 14 of 16 shapes, two slower in that noisy run on a loaded
  box): at batch 8, hidden 1024 (the lab's W_hh h) 3.57 -> 2.46 ms, hidden 128
  42 -> 23 us. Where OpenBLAS takes its small-matrix path for ``x @ w.T`` (a few us: 2 rows
  of a 512x256 weight, fewer than 256 outputs, a product under 2**18 multiply-adds) the
  transposed form is up to 1 us slower, so the window is 2-15 rows, at least 256 outputs,
  a weight of 32768 entries and ``n * o * i >= 2**18``. Which kernels sum in which order
  depends on the shape, so each shape in this window is checked once, on random operands,
  the first time it comes (:func:`_same_bits_shape`: two products of that shape, remembered
  per shape, at most 256 shapes); a shape whose forms differ keeps ``x @ w.T``. MIT
  6.S191's music model (Embedding(83, 256), LSTM(256, 1024), Linear; batch 8 x 100 steps,
  float32, Adam), one training step at 1 thread, in-process A/B, load 4.9: 0.880 of the
  CPU time (1198 -> 1049 ms); with T22 0.843 (-> 1009 ms).
* **T22 Gradients summed in place**: a tensor used many times (a recurrent layer's W_hh and
  b_hh at every step) gets one gradient per use, each summed as ``prev + gi``: a new
  weight-sized array per step (16 MB at the lab's hidden 1024). Where this loop alone holds
  ``prev`` (``grads`` and the local: refcount, as T5 and T15 count; it owns its memory,
  writeable, ``gi`` of its dtype and shape) and ``gi`` comes from an op that declares
  ``grads_fit`` (linear's, for a weight: T14), with 64 rows or more, it is ``prev += gi``:
  the same elementwise sum, the same bits. Never into an array anyone else holds: the
  caller's seed, add's one array for two inputs (two entries of ``grads``), a retained or
  hooked gradient (the reference's steps), T18's row buffer; ``gi`` is only read.
  Only for gradients from ``grads_fit`` ops into arrays of 64 rows or more (``len()``
  first): the checks on an MLP's few small accumulations cost more than they save (W4,
  six a step). The lab's step above, T22 alone: 0.924 of the CPU time (1198 -> 1103 ms).
  Both, fresh processes alternating, 5 rounds, 1 thread, load 2.4-3.9
  (benchmarks/char_lstm.py --what lab): 0.842 of the CPU time (1165 -> 984 ms; torch 347),
  the char-LSTM epoch 0.981 (838 -> 822 ms), its LSTM(64, 128) layer at batch 16 1.001
  (T11's window already). The lab at 2 threads, 3 rounds, both libraries slowed by the
  loaded box: 0.80 of the wall time (5.99 -> 4.95 s; torch 1.85). W4 under callgrind (PYTHONHASHSEED=0, two runs each):
  1.3732-1.3747M -> 1.3766-1.3792M instructions a step (+0.2-0.3%, within the 0.4% the
  code's layout moves it); W3 nn batch 32 7.0102M -> 7.0118M.
"""
from __future__ import annotations

from sys import getrefcount
from types import SimpleNamespace

import numpy as np

from . import _tensor
from ._tensor import _ONE_LOCAL, Tensor, _array_of, _make, _mode
from .anomaly import anomaly
from .errors import sequence_operand_error
from .function import NP, constant, record, sum_to_array
from .graph import toposort

__all__ = ["call1", "call2", "pair", "backward"]

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
# globals, not np's attributes, in the type tests of every op and node: NumPy's module has a
# __getattr__, so CPython 3.11 does not specialise np.name loads (each a full lookup)
_ndarray, _float64 = np.ndarray, np.float64
_new = object.__new__
_ADD = _MUL = None      # AddOp and MulOp, set by zeroin/ops.py (T9)
_SPREAD = ()            # SumOp and MeanOp, set by zeroin/ops.py (T17)
_GETITEM = None         # GetItemOp, set by zeroin/autograd.py (T18)
_PROMOTE = None        # zeroin.ops._promote: PyTorch's result dtype, set by zeroin/ops.py
_EXACT = 2 ** 53        # integers up to this convert to float64 exactly


# --- forward: recording ops ---------------------------------------------------------------

def call1(fn, x):
    """``fn(x)`` for a one-input op; see :func:`zeroin.function.apply`."""
    a = x._float
    v = data = None
    try:
        if a is not None and fn.scalar_rules:           # T1
            try:
                v = fn.forward(a)
            except ArithmeticError:     # NumPy's inf and warning instead
                v = None
            if type(v) is not float:
                v, data = _off_lane(fn, v, (a,))
        else:
            a = x._array
            if a is None:
                a = _array_of(x)
            if fn.scalar_rules and not a.ndim:          # T3
                a = a[()]
            data = fn.forward(a)
            if type(data) is not _ndarray:
                if type(data) is _float64:    # T10: a 0-d float64 result on the lane
                    v, data = float(data), None
                else:
                    data = np.asarray(data)
    except (ValueError, IndexError, TypeError) as e:
        raise fn.error((x,), e) from None
    if anomaly.enabled:
        return record(fn, (x,), data, v)
    out = _new(Tensor)      # T7, as in call2
    out._array = data
    out._float = v
    out._grad = None
    out._hooks = None
    if x._rg and (_tensor._off_threads == 0 or _mode.enabled):
        x._read = True      # as record() marks its inputs
        fn.inputs = (x,)
        fn.needs_input_grad = _NEEDS1
        fn.released = False
        out._rg = True
        out.grad_fn = fn
    else:
        out._rg = False
        out.grad_fn = None
    return out


_NEEDS1 = (True,)
_TT, _TF, _FT = (True, True), (True, False), (False, True)


def calln(fn, inputs):
    """``fn(*inputs)`` for any number of inputs (linear, concatenate)."""
    try:
        if len(inputs) == 3:        # linear with a bias: the arrays unpacked by hand
            x, y, z = inputs
            a, b, c = x._array, y._array, z._array
            data = fn.forward(a if a is not None else _array_of(x), b if b is not None else _array_of(y),
                              c if c is not None else _array_of(z))
        else:
            data = fn.forward(*[_array_of(t) for t in inputs])
    except (ValueError, IndexError, TypeError) as e:
        raise fn.error(inputs, e) from None
    if type(data) is not _ndarray:
        data = np.asarray(data)
    if len(inputs) != 3 or anomaly.enabled:
        return record(fn, inputs, data)
    out = _new(Tensor)      # T7, as in call2
    out._array = data
    out._float = None
    out._grad = None
    out._hooks = None
    needs = (x._rg, y._rg, z._rg)
    if True in needs and (_tensor._off_threads == 0 or _mode.enabled):
        x._read = y._read = z._read = True
        fn.inputs = inputs
        fn.needs_input_grad = needs
        fn.released = False
        out._rg = True
        out.grad_fn = fn
    else:
        out._rg = False
        out.grad_fn = None
    return out


def call2(fn, x, y):
    """``fn(x, y)`` for a two-input op: + - * / call it directly (their hot path); a number
    operand becomes a constant as :func:`pair` makes it."""
    if type(y) is not Tensor or type(x) is not Tensor:
        ty, tx = type(y), type(x)
        if (ty is float or ty is int) and tx is Tensor:
            # T9: pair's T2 hit written out (w * 2, x + 1.0 on the float lane)
            c = _LANE_CONSTANTS.get(y) if -_EXACT <= y <= _EXACT else None
            if c is not None and c._float is not None and x._float is not None:
                y = c
            else:
                out = _unrecorded(fn, x, y, False)                  # T12: t * 0.5
                if out is not None:
                    return out
                x, y = pair(x, y)
        elif ty is Tensor and (tx is float or tx is int):
            out = _unrecorded(fn, y, x, True)                       # 0.5 * t
            if out is not None:
                return out
            x, y = pair(x, y)
        elif not (isinstance(x, Tensor) and isinstance(y, Tensor)):    # not Parameters
            if fn.symbol and (tx is list or ty is list or tx is tuple or ty is tuple):
                raise sequence_operand_error(fn.name, fn.symbol, x, y)
            x, y = pair(x, y)
    a, b = x._float, y._float
    v = data = None
    try:
        if a is not None and b is not None and fn.scalar_rules:     # T1
            try:
                v = fn.forward(a, b)
            except ArithmeticError:     # 1.0 / 0.0: NumPy's inf and warning instead
                v = None
            if type(v) is not float:
                v, data = _off_lane(fn, v, (a, b))
        else:
            a = x._array if a is None else _array_of(x)
            b = y._array if b is None else _array_of(y)
            if a.dtype is not b.dtype and fn.promotes:     # PyTorch's result dtype
                x, y = _PROMOTE(x, y, fn)
                a, b = _array_of(x), _array_of(y)
            if fn.scalar_rules and not a.ndim and not b.ndim:      # T3
                a, b = a[()], b[()]
            data = fn.forward(a, b)
            if type(data) is not _ndarray:
                if type(data) is _float64:    # T10: a 0-d float64 result on the lane
                    v, data = float(data), None
                else:
                    data = np.asarray(data)
    except (ValueError, IndexError, TypeError) as e:
        raise fn.error((x, y), e) from None
    if anomaly.enabled:
        return record(fn, (x, y), data, v)
    # T7: record() and the constructor written out, for the hot path of every scalar graph
    out = _new(Tensor)
    out._array = data
    out._float = v
    out._grad = None
    out._hooks = None
    rx, ry = x._rg, y._rg
    if (rx or ry) and (_tensor._off_threads == 0 or _mode.enabled):
        x._read = y._read = True
        fn.inputs = (x, y)
        # shared tuples: a new one per op is one more object for the cyclic GC to track
        fn.needs_input_grad = (_TT if ry else _TF) if rx else _FT
        fn.released = False
        out._rg = True
        out.grad_fn = fn
    else:
        out._rg = False
        out.grad_fn = None
    return out


def _unrecorded(fn, t, number, left):
    """T12: ``t op number`` (``number op t`` if ``left``) on a float array when nothing
    records it (``t`` needs no grad, or grad mode is off), as ``lr * p.grad`` in an update:
    the number goes to NumPy as T6's cached constant, with no constant leaf made for the
    graph. None where the general path must run (it raises the op's own errors)."""
    if t._rg and (_tensor._off_threads == 0 or _mode.enabled):
        return None         # asked first: the recorded case (1 - y * out in a loss) reads no more
    d = t._array
    if d is None or anomaly.enabled:
        return None
    dt = d.dtype                # T16: read once; T6's table looked up here, not in a call
    if dt is _F64:
        c = _CONSTANTS_F64.get(number)
    elif dt is _F32:
        c = _CONSTANTS_F32.get(number)
    else:
        return None
    if not d.ndim or not -_EXACT <= number <= _EXACT:
        return None
    if c is None:
        c = _float_constant(number, dt)
    try:
        data = fn.forward(c, d) if left else fn.forward(d, c)
    except (ValueError, IndexError):
        return None
    if type(data) is not _ndarray:
        return None
    out = _new(Tensor)
    out._array = data
    out._float = out._grad = out._hooks = out.grad_fn = None
    out._rg = False
    return out


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


def pair(a, b):
    """Both operands as tensors, as :func:`zeroin.ops._pair`, with T2 and T6."""
    tb = type(b)
    if (tb is float or tb is int) and type(a) is Tensor:
        if a._float is not None and (tb is float or -_EXACT <= b <= _EXACT):
            c = _LANE_CONSTANTS.get(b)                  # T2
            if c is not None and c._float is not None:  # None: someone took its .data
                return a, c
            c = _make(None, False, None, b if tb is float else float(b))
            if b and b == b:        # not 0 (0.0 == -0.0 would share) and not NaN
                if len(_LANE_CONSTANTS) >= 4096:
                    _LANE_CONSTANTS.clear()
                _LANE_CONSTANTS[b] = c
            return a, c
        d = a._array                                    # T6
        if d is not None and (d.dtype is _F64 or d.dtype is _F32) and -_EXACT <= b <= _EXACT:
            return a, _make(_float_constant(b, d.dtype))
    ta = type(a)
    if (ta is float or ta is int) and type(b) is Tensor:
        if b._float is not None:
            return _make(None, False, None, float(a)), b    # 2.0 ** w: T1 for the constant
        d = b._array                                    # T6: lr * p.grad
        if d is not None and (d.dtype is _F64 or d.dtype is _F32) and -_EXACT <= a <= _EXACT:
            return _make(_float_constant(a, d.dtype)), b
    if not isinstance(a, Tensor):
        a = constant(a, b)
    if not isinstance(b, Tensor):
        b = constant(b, a)
    return a, b


_LANE_CONSTANTS = {}    # number -> its constant leaf on the float lane (T2)
_FLOAT_CONSTANTS = {_F64: {}, _F32: {}}     # dtype -> {number: read-only 0-d array} (T6)
_CONSTANTS_F64, _CONSTANTS_F32 = _FLOAT_CONSTANTS[_F64], _FLOAT_CONSTANTS[_F32]


def number(value, dtype):
    """T6 for a number meeting float arrays outside ops (an optimiser's ``lr * g``)."""
    if (dtype is _F64 or dtype is _F32) and -_EXACT <= value <= _EXACT:
        return _float_constant(value, dtype)
    return value


def _float_constant(value, dtype):
    table = _FLOAT_CONSTANTS[dtype]
    arr = table.get(value)
    if arr is None:
        if len(table) >= 4096:
            table.clear()
        arr = np.asarray(value, dtype=dtype)     # as zeroin.function.constant makes it
        arr.flags.writeable = False
        if value:       # not 0: 0.0 == -0.0 would share one entry; NaN never matches a key
            table[value] = arr
    return arr


# --- linear's product (T11) ------------------------------------------------------------------

def _openblas():
    """Whether NumPy was built against OpenBLAS, where T11 was measured (with another BLAS
    :func:`linear_product` stays ``x @ w.T``; the bits are the same either way)."""
    try:
        from numpy.__config__ import CONFIG
        return "openblas" in CONFIG["Build Dependencies"]["blas"]["name"].lower()
    except (ImportError, KeyError, TypeError, AttributeError):
        return False


_T11 = _openblas()
_T11_CHECKED = False


def _same_bits():
    """Whether ``(w @ x.T).T`` is ``x @ w.T`` to the bit on this machine, for products in
    T11's window (float32, batches of 16 to 128): the two packings run different OpenBLAS
    kernels, which sum in the same order on some CPUs and not on others."""
    rng = np.random.default_rng(11)
    for n, o, i in ((16, 256, 128), (32, 10, 4096), (64, 128, 256), (128, 256, 512)):
        x = rng.standard_normal((n, i)).astype(np.float32)
        w = rng.standard_normal((o, i)).astype(np.float32)
        if not np.array_equal((w @ x.T).T, x @ w.T):
            return False
    return True


def _check_t11():
    """T11 stays on only where :func:`_same_bits` (checked once, on first use)."""
    global _T11, _T11_CHECKED
    _T11, _T11_CHECKED = _T11 and _same_bits(), True
    return _T11


def linear_product(x, w):
    """``x @ w.T`` of 2-D arrays (linear's product; matmul's with ``w = b.T``, forward and
    backward), the same bits, faster for a small float32 batch: ``(w @ x.T).T`` copied to
    C order.

    OpenBLAS packs the weight matrix for the product, and it packs a C-contiguous ``w``
    faster as the left operand of ``w @ x.T`` than as the transposed right one of
    ``x @ w.T``; with a small batch that packing decides the time. Where that pays
    (float32, measured on OpenBLAS 0.3.31 at 1 and 2 threads, so only with OpenBLAS;
    float64 does not gain): 16 to 64 rows with a weight of at least 32768 entries, or up
    to 128 rows with at least 256 outputs and 512 inputs. Where OpenBLAS's kernels compute
    each output as the same dot product in the same order, the result is the same array to
    the bit; the first call in that window checks it (:func:`_same_bits`) and leaves T11 off
    where it does not hold (tests/test_engine.py checks the result either way).
    """
    if _T11 and type(x) is _ndarray and x.dtype is _F32 and x.ndim == 2 and \
            w.dtype is _F32 and x.flags.c_contiguous and w.flags.c_contiguous:
        n = x.shape[0]
        o, i = w.shape
        if 16 <= n <= 128 and o * i >= 32768 and (n <= 64 or (o >= 256 and i >= 512)) \
                and (_T11_CHECKED or _check_t11()):
            return (w @ x.T).T.copy()
        if 2 <= n < 16 and o >= 256 and o * i >= 32768 and n * o * i >= 262144:     # T21
            same = _T21_SHAPES.get((n, o, i))
            if same is None:
                same = _same_bits_shape(n, o, i)
            if same:
                return (w @ x.T).T.copy()
    return x @ w.T


_T21_SHAPES = {}        # (n, o, i): whether the two forms agree to the bit (T21)


def _same_bits_shape(n, o, i):
    """T21: whether ``(w @ x.T).T`` is ``x @ w.T`` to the bit for this one shape, on random
    operands (the order OpenBLAS sums in depends on the shape, not on the values; the
    operands are random so that no order can hide behind exact sums). Checked once per
    shape and remembered; past 256 shapes a new one is not checked and keeps ``x @ w.T``."""
    if len(_T21_SHAPES) >= 256:
        return False
    rng = np.random.default_rng(21)
    x = rng.standard_normal((n, i), dtype=np.float32)
    w = rng.standard_normal((o, i), dtype=np.float32)
    _T21_SHAPES[(n, o, i)] = same = bool(np.array_equal((w @ x.T).T, x @ w.T))
    return same


# --- SGD's update (T19) ----------------------------------------------------------------------

_AXPY = None            # {dtype: OpenBLAS's cblas_?axpy} once looked up ({} where not found)
_AXPY_MIN = 32768       # entries; below this NumPy's two passes beat the call's overhead


def _load_axpy():
    """NumPy's own OpenBLAS's ``cblas_saxpy``/``cblas_daxpy`` through ctypes: the 64-bit
    integer build that NumPy's wheels bundle (``numpy.libs`` or ``numpy/.dylibs``, symbols
    ``scipy_cblas_?axpy64_``). Each is kept only if it computes ``y + a x`` on a test
    vector; ``{}`` where NumPy has no such library (conda's, MKL, Accelerate)."""
    import ctypes
    import glob
    import os
    found = {}
    root = os.path.dirname(np.__file__)
    paths = glob.glob(os.path.join(root, os.pardir, "numpy.libs", "*openblas*")) + \
        glob.glob(os.path.join(root, ".dylibs", "*openblas*"))
    if not _openblas() or not paths:
        return found
    try:
        lib = ctypes.CDLL(paths[0])
    except OSError:
        return found
    for dtype, name, real in ((_F32, "scipy_cblas_saxpy64_", ctypes.c_float),
                              (_F64, "scipy_cblas_daxpy64_", ctypes.c_double)):
        fn = getattr(lib, name, None)
        if fn is None:
            continue
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        fn.argtypes, fn.restype = [i64, real, ptr, i64, ptr, i64], None
        rng = np.random.default_rng(19)
        x, y = (rng.standard_normal(_AXPY_MIN + 7).astype(dtype) for _ in range(2))
        want = y - dtype.type(0.25) * x      # exact: 0.25 x loses no bits
        fn(y.size, -0.25, x.ctypes.data, 1, y.ctypes.data, 1)
        if np.array_equal(y, want):
            found[dtype] = fn
    return found


def axpy(w, alpha, g):
    """``w += alpha * g`` in place, rounded once, by OpenBLAS's axpy (T19); False (``w``
    untouched) where it does not apply: fewer than 32768 entries, dtypes other than float32
    and float64 or not both the same, other shapes, not both C-contiguous, a read-only or
    non-ndarray ``w``, ``g`` sharing memory with ``w``, ``alpha`` 0 (BLAS would skip a NaN
    ``g``), or no such BLAS."""
    global _AXPY
    if w.size < _AXPY_MIN or not alpha or type(w) is not _ndarray:
        return False
    if _AXPY is None:
        _AXPY = _load_axpy()
    fn = _AXPY.get(w.dtype)
    if fn is None or g.dtype is not w.dtype or g.shape != w.shape or \
            not (w.flags.c_contiguous and g.flags.c_contiguous and w.flags.writeable) or \
            np.may_share_memory(w, g):
        return False
    fn(w.size, alpha, g.ctypes.data, 1, w.ctypes.data, 1)
    return True


def axpy_tensors(t, alpha, u):
    """``t += alpha * u`` in place by :func:`axpy` for two array tensors (T20: ``t -= u``
    and ``t += u`` outside the graph, alpha -1 or +1); False where it does not apply."""
    d, v = t._array, u._array
    return d is not None and v is not None and d.size >= _AXPY_MIN and axpy(d, alpha, v)


# --- backward ------------------------------------------------------------------------------

def backward(outputs, out_grads, retain_graph):
    """:func:`zeroin.autograd.run` for a plain backward (T1, T3-T5, T8, T10, T14, T15, T18,
    T22).

    What this loop does not handle (hooks, retain_grad, released graphs) goes to the
    reference engine's steps (:data:`reference`), with a ``Pass`` made on first need.
    """
    grads = {}
    leaves = {}
    rows = {}                   # T18: the row buffers this loop made, per tensor
    for t, g in zip(outputs, out_grads):
        prev = grads.get(t)
        grads[t] = g if prev is None else prev + g
        if t.grad_fn is None:
            leaves[t] = None
    free = not retain_graph
    p = None                    # the reference's Pass, made only if it is needed
    for t in reversed(toposort(outputs)):
        g = grads.pop(t, None)
        if g is None:
            continue
        if rows:
            rows.pop(t, None)
        fn = t.grad_fn
        if t._hooks or t._retain or fn.released:
            if p is None:
                p = _reference(retain_graph, leaves)
            reference.backprop_node(t, g, grads, p)
            continue
        if t._float is None or not fn.scalar_rules:
            # T4: an array node (T3 for 0-d scalar_rules ops), the reference step without
            # its checks, written out; an array op's float-lane result (T10) comes here
            # too, its rule given arrays unless it declares float_grad
            out = t._array
            if out is None:             # T10: float_grad rules take the floats as they are
                out = t._float if fn.float_grad else np.asarray(t._float)
            elif out.dtype is not _F64 and out.dtype.kind == "c":
                # a complex output: the reference's step (float64 skips the kind's read)
                if p is None:
                    p = _reference(retain_graph, leaves)
                reference.backprop_node(t, g, grads, p)
                continue
            ins = fn.inputs
            n = len(ins)
            if type(g) is float and type(fn) in _SPREAD and _pass_number(fn, ins[0]):
                x = ins[0]      # T17: the number itself for x's elementwise rule
                if type(fn) is not _SPREAD[0]:
                    g = g / x._array.size       # MeanOp's g / n, the value it spreads
                prev = grads.get(x)
                grads[x] = g if prev is None else prev + g
                if free:
                    fn.released = True
                    fn.saved = None
                continue
            if type(fn) is _GETITEM and type(g) is _ndarray and \
                    _into_rows(fn.index, ins[0], g, grads, rows):      # T18
                if free:
                    fn.released = True
                    fn.saved = None
                continue
            scalar = fn.scalar_rules and not out.ndim
            if scalar:                  # T3: NumPy scalars (or floats) in, out of the rule
                if type(g) is _ndarray:
                    g = g[()]
                if n == 2:
                    x, y = ins
                    a, b = x._float, y._float
                    res = fn.backward(NP, g, out[()], a if a is not None else x._array[()],
                                      b if b is not None else y._array[()])
                else:
                    res = fn.backward(NP, g, out[()], *[_scalar_of(i) for i in ins])
            else:
                if type(g) is not _ndarray and (type(g) is not float or not (
                        fn.float_grad or fn.takes_number)):
                    g = np.asarray(g)
                if n == 1:
                    x = ins[0]
                    a = x._array
                    if a is None:
                        a = _array_of(x)
                    res = gi = None         # T15: is g held by nothing but this loop?
                    if fn.backward_into is not None and type(g) is _ndarray and \
                            g.base is None and getrefcount(g) <= _ONE_LOCAL and \
                            g.flags.writeable:
                        res = fn.backward_into(g, out, a)
                    else:
                        res = fn.backward(NP, g, out, a)
                elif n == 2:
                    x, y = ins
                    a, b = x._array, y._array
                    res = fn.backward(NP, g, out, a if a is not None else _array_of(x),
                                      b if b is not None else _array_of(y))
                elif n == 3:                # linear with a bias
                    x, y, z = ins
                    a, b, c = x._array, y._array, z._array
                    res = fn.backward(NP, g, out, a if a is not None else _array_of(x),
                                      b if b is not None else _array_of(y),
                                      c if c is not None else _array_of(z))
                else:
                    res = fn.backward(NP, g, out, *[_array_of(i) for i in ins])
            if n == 1:
                res = (res,)
            fit = scalar or not fn.grads_fit       # T14: linear's and relu's need no fitting
            for inp, gi in zip(ins, res):
                if gi is None or not inp._rg:
                    continue
                if fit:
                    d = inp._array
                    if scalar and (d is None or isinstance(gi, np.generic)):
                        if d is None:           # a float-lane input
                            gi = gi if type(gi) is float else float(gi)
                        elif gi.dtype is not d.dtype and gi.dtype != d.dtype:
                            gi = gi.astype(d.dtype)
                    else:
                        if d is None:
                            d = _array_of(inp)
                        if type(gi) is not _ndarray:
                            gi = np.asarray(gi)
                        if gi.shape != d.shape:
                            gi = sum_to_array(gi, d.shape)
                        if gi.dtype is not d.dtype and gi.dtype != d.dtype:
                            gi = gi.astype(d.dtype)
                prev = grads.get(inp)
                if prev is None:
                    grads[inp] = gi
                    if inp.grad_fn is None:
                        leaves[inp] = None
                else:
                    try:    # T22: len(), the cheap size test (a 0-d array raises)
                        owned = not fit and type(prev) is _ndarray and \
                            len(prev) >= _IN_PLACE_ROWS and getrefcount(prev) <= _OWNED and \
                            type(gi) is _ndarray and _owned_sum(prev, gi)
                    except TypeError:
                        owned = False
                    if owned:
                        prev += gi      # the loop alone holds prev: the bits of prev + gi
                    else:
                        grads[inp] = prev + gi
            if free:
                fn.released = True
                fn.saved = None
            continue
        # T1: a node on the float lane, its rule on Python floats (written out here, not
        # in a function: W1 makes four such calls per iteration)
        if type(g) is not float:
            g = float(g)
        ins = fn.inputs
        x = ins[0]
        a = x._float
        if a is None:
            a = x._array[()]
        if len(ins) == 2:
            y = ins[1]
            b = y._float
            if b is None:
                b = y._array[()]
            kind = type(fn)
            if kind is _ADD:            # T9: add's and mul's rules written out
                ga = gb = g
            elif kind is _MUL:
                na, nb = fn.needs_input_grad
                if x is y:              # x * x: MulOp's rule, (g + g) * x on the first
                    ga, gb = (g + g) * a, None
                else:
                    ga = g * b if na else None
                    gb = g * a if nb else None
            else:
                try:
                    ga, gb = fn.backward(NP, g, t._float, a, b)
                except ArithmeticError:     # 0.0 ** -1 and the like: NumPy's inf, warning
                    f64 = np.float64
                    ga, gb = fn.backward(NP, f64(g), f64(t._float), f64(a), f64(b))
        else:
            y = gb = None
            try:
                ga = fn.backward(NP, g, t._float, a)
            except ArithmeticError:
                ga = fn.backward(NP, np.float64(g), np.float64(t._float), np.float64(a))
        # the two inputs written out, not looped over: a loop over ((x, ga), (y, gb)) cost
        # W1 6% and a W2 step 9% of instructions
        if ga is not None and x._rg:
            if type(ga) is not float:
                ga = float(ga) if x._float is not None else np.asarray(ga, x._array.dtype)
            prev = grads.get(x)
            if prev is None:
                grads[x] = ga
                if x.grad_fn is None:
                    leaves[x] = None
            else:
                grads[x] = prev + ga
        if gb is not None and y._rg:
            if type(gb) is not float:
                gb = float(gb) if y._float is not None else np.asarray(gb, y._array.dtype)
            prev = grads.get(y)
            if prev is None:
                grads[y] = gb
                if y.grad_fn is None:
                    leaves[y] = None
            else:
                grads[y] = prev + gb
        if free:
            fn.released = True
            fn.saved = None
    g = ga = gb = gi = prev = res = None  # the loop's last references (T5 counts)
    for leaf in leaves:         # the leaves' .grad (written out here: T1, T5)
        g = grads.pop(leaf)
        if not leaf._hooks:
            if type(g) is float and leaf._float is not None:   # T1: float leaf, float grad
                cur = leaf._grad
                if cur is None:
                    leaf._grad = gt = _new(Tensor)      # _make(None, ..., g) written out (T8)
                    gt._float = g
                    gt._array = gt._grad = gt.grad_fn = gt._hooks = None
                    gt._rg = False
                    continue
                if cur._float is not None and not cur._rg:
                    cur._float += g
                    continue
            elif type(g) is _ndarray and leaf._grad is None:
                d = leaf._array
                dt = d.dtype if d is not None else None
                if dt is not None and g.dtype is dt and (dt is _F64 or dt.kind in "fc"):
                    # T5: adopt g as .grad only if nothing else can see it: a rule such as
                    # add's returns one array for both inputs (_ONE_LOCAL: g alone, 2 here),
                    # and only if C-contiguous (PyTorch's .grad is; ``copy`` makes it so)
                    if not (g.base is None and getrefcount(g) <= _ONE_LOCAL and
                            (f := g.flags).writeable and f.c_contiguous):
                        g = g.copy()
                    leaf._grad = gt = _new(Tensor)      # _make(g), written out (T7)
                    gt._array = g
                    gt._float = gt._grad = gt.grad_fn = gt._hooks = None
                    gt._rg = False
                    continue
        if p is None:
            p = _reference(retain_graph, leaves)
        reference.write_leaf(leaf, g, p)
    if p is not None and p.on_end is not None:      # multi-grad hooks wait for the end
        reference.end_pass(p)


# T22: prev, held by grads and the local prev alone (getrefcount's argument counted as in
# _ONE_LOCAL), is summed in place where the gradient comes from a grads_fit op (linear's
# for a weight) and prev has this many rows or more: len() costs a few instructions where
# the checks for a small array (an MLP's few accumulations: W4) cost more than they save
_OWNED = _ONE_LOCAL + 1
_IN_PLACE_ROWS = 64


def _owned_sum(prev, gi):
    """T22: may ``prev + gi`` be written into ``prev``? Where ``prev`` (held by nothing but
    this loop's ``grads``: checked by the caller) owns its memory and is writeable, and
    ``gi`` has its dtype and shape, so that the sum is an array of the same dtype and shape,
    computed element by element as ``prev + gi`` would be. ``gi`` may be anything (a rule's
    array for two inputs, a seed, a saved array): it is only read."""
    return prev.base is None and prev.flags.writeable and gi.dtype is prev.dtype and \
        gi.shape == prev.shape


def _into_rows(index, x, g, grads, rows):
    """T18: the gradient ``g`` of the rows ``x[lo:hi]`` written into one buffer of x's
    shape that this loop made for x (True), instead of ``prev + zeros with g at lo:hi``
    (False: not such a slice, or x's gradient so far not that buffer). The reference's
    bits, -0.0 included: adding its zeros turns a -0.0 into 0.0 outside lo:hi, and a -0.0
    can stand only in the rows that every slice so far wrote (``rows[x]``'s lo:hi)."""
    d = x._array
    if type(index) is tuple and len(index) == 1:
        index = index[0]
    if type(index) is not slice or index.step not in (None, 1) or d is None or not x._rg \
            or x.grad_fn is None:
        return False
    dt = d.dtype
    if g.dtype is not dt or (dt is not _F64 and dt is not _F32):
        return False
    lo, hi, _ = index.indices(len(d))
    prev = grads.get(x)
    if prev is None:            # the first slice: scatter_array's zeros, g assigned
        buf = np.zeros(d.shape, g.dtype)
        buf[lo:hi] = g
        grads[x], rows[x] = buf, (buf, lo, hi)
        return True
    held = rows.get(x)
    if held is None or held[0] is not prev:
        return False
    buf, a, b = held
    for s, e in ((a, min(b, lo)), (max(a, hi), b)):     # the -0.0s that 0.0 would clear
        if s < e:
            v = buf[s:e]
            v += 0.0
    v = buf[lo:hi]
    v += g
    rows[x] = (buf, max(a, lo), min(b, hi))
    return True


def _pass_number(fn, x):
    """T17: may a full sum's (mean's) float gradient reach ``x`` as the number? Where
    ``x`` is made by a ``takes_number`` op (relu, mul) from inputs of its own shape, and
    nothing (a hook, retain_grad) would see it before that op's rule spreads it."""
    xf = x.grad_fn
    if fn.axis is not None or xf is None or not xf.takes_number or x._hooks or x._retain:
        return False
    d = x._array
    if d is None or not d.size:
        return False
    for i in xf.inputs:
        a = i._array
        if a is None or a.shape != d.shape:
            return False
    return True


def _reference(retain_graph, leaves):
    """The reference engine's ``Pass`` for the nodes and leaves this loop hands to it."""
    p = reference.Pass(retain_graph, False, None, False)
    p.leaves = leaves
    return p


# The reference engine's steps, filled in by zeroin/autograd.py (the layer above this one,
# so not imported here): its Pass, _backprop_node and _write_leaf.
reference = SimpleNamespace(Pass=None, backprop_node=None, write_leaf=None, end_pass=None)


def _scalar_of(t):
    """A 0-d tensor's value as a scalar (its Python float, else a NumPy scalar)."""
    v = t._float
    return v if v is not None else t._array[()]
