"""Recurrent layers with PyTorch's names, parameters, gate order and shapes: RNN, LSTM, GRU
and their one-step cells.

Each step is written with differentiable ops (``linear``, ``tanh``, ``+``; an LSTM's two
equations as the ops ``lstm_c`` and ``lstm_h`` and a GRU's as the op ``gru_h``, each with
its own backward rule), so backpropagation through time is the engine's usual backward pass
over the unrolled graph: ``zeroin.explain`` and ``draw`` show every step. A layer projects
the inputs of all its steps with one ``linear`` (W_ih x + b_ih for every t at once, as
PyTorch does: one large product, and one for its weight's gradient, instead of seq_len
small ones); each step then adds W_hh h + b_hh. A layer's outputs are joined with one stack
(or cat), not step by step. A torch ``state_dict`` (as NumPy arrays) loads into these
modules and gives the same outputs and gradients.

The step functions, for input x, state h (and c), weights W and biases b of a layer:

- RNN:  h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu)
- LSTM: i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh) into 4 (PyTorch's order);
        c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(c')
        (with ``proj_size``: h' = W_hr h')
- GRU:  r, z, n from W_ih x + b_ih and W_hh h + b_hh split into 3;
        r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z), n = tanh(x_n + r * h_n);
        h' = (1 - z) * n + z * h
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import ops
from .._tensor import Tensor, _leaf
from ..function import NP, Function, ShapeError, sigmoid_array
from . import functional as F
from . import init
from .layers import _check_device, _dtype
from .module import Module, Parameter
from .utils.rnn import PackedSequence, _ints, _split_by_halving

__all__ = ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNNCellBase"]


# --- one step -----------------------------------------------------------------------------
# A step takes the input's part of the gates, gx = W_ih x + b_ih, already computed: the
# layers compute it for all time steps in one product and take each step's rows (the
# engine's fast path writes the steps' gradients into one array: zeroin/_fast.py, T18),
# a cell for its one step.

def rnn_tanh_step(gx, h, w_hh, b_hh=None):
    """One Elman step on gx = W_ih x + b_ih: tanh(gx + W_hh h + b_hh)."""
    return ops.tanh(gx + F.linear(h, w_hh, b_hh))


def rnn_relu_step(gx, h, w_hh, b_hh=None):
    """One Elman step with relu on gx = W_ih x + b_ih: relu(gx + W_hh h + b_hh)."""
    return ops.relu(gx + F.linear(h, w_hh, b_hh))


# The LSTM's two equations, each one op with its own backward rule: a step records 4 nodes
# (linear, +, lstm_c, lstm_h) where the gates written with ops take 15 (4 gate slices,
# 3 sigmoid, 2 tanh, 3 *, + besides linear and +). Forward and rules compute the same
# elementwise formulas in the same order as those ops, so values and gradients are the
# same to the bit (tests/test_nn.py checks it).

def _lstm_gate_grads(xp, gate_grads, like):
    """The gradient of the gates (..., 4 * hidden) from those of i, f, g, o (None: 0)."""
    if xp is not NP:        # create_graph: tensors, joined by a recorded op
        return ops.concatenate([d if d is not None else np.zeros_like(like)
                                for d in gate_grads], -1)
    n = like.shape[-1]
    dtype = next(d for d in gate_grads if d is not None).dtype
    out = np.empty(like.shape[:-1] + (4 * n,), dtype)
    for k, d in enumerate(gate_grads):
        out[..., k * n:(k + 1) * n] = 0 if d is None else d
    return out


class LSTMStateOp(Function):
    """c' = sigmoid(f) * c + sigmoid(i) * tanh(g), gates i, f, g, o in PyTorch's order."""
    __slots__ = ()
    name = "lstm_c"
    input_roles = ("gates", "c")

    def forward(self, gates, c):
        n = c.shape[-1]
        i_f = sigmoid_array(gates[..., :2 * n])
        i, f, g = i_f[..., :n], i_f[..., n:], np.tanh(gates[..., 2 * n:3 * n])
        self.saved = (i, f, g)
        return f * c + i * g

    def backward(self, xp, gc, out, gates, c):
        n = c.shape[-1]
        if xp is NP and self.saved is not None:
            i, f, g = self.saved
        else:           # create_graph: the activations as tensors, recorded
            i, f = xp.sigmoid(gates[..., :n]), xp.sigmoid(gates[..., n:2 * n])
            g = xp.tanh(gates[..., 2 * n:3 * n])
        need_gates, need_c = self.needs_input_grad
        d_gates = _lstm_gate_grads(xp, [gc * g * i * (1 - i), gc * c * f * (1 - f),
                                        gc * i * (1 - g * g), None], c) if need_gates else None
        return d_gates, (gc * f if need_c else None)


class LSTMOutputOp(Function):
    """h' = sigmoid(o) * tanh(c'), gates i, f, g, o in PyTorch's order."""
    __slots__ = ()
    name = "lstm_h"
    input_roles = ("gates", "c")

    def forward(self, gates, c):
        o, tc = sigmoid_array(gates[..., 3 * c.shape[-1]:]), np.tanh(c)
        self.saved = (o, tc)
        return o * tc

    def backward(self, xp, gh, out, gates, c):
        if xp is NP and self.saved is not None:
            o, tc = self.saved
        else:
            o, tc = xp.sigmoid(gates[..., 3 * c.shape[-1]:]), xp.tanh(c)
        need_gates, need_c = self.needs_input_grad
        d_gates = _lstm_gate_grads(xp, [None, None, None, gh * tc * o * (1 - o)], c) \
            if need_gates else None
        return d_gates, (gh * o * (1 - tc * tc) if need_c else None)


def _lstm_operands(name, gates, c):
    gates, c = ops._t(gates), ops._t(c)
    if gates.dtype != c.dtype:
        raise TypeError(f"{name}: gates have dtype {gates.dtype} but c has {c.dtype}; convert "
                        f"one of them with .astype()")
    if c.ndim < 1 or gates.shape != c.shape[:-1] + (4 * c.shape[-1],):
        raise ShapeError(f"{name}: gates of shape {gates.shape} do not fit c of shape "
                         f"{c.shape}: the gates are i, f, g, o side by side in the last "
                         f"dimension, so they need shape "
                         f"{c.shape[:-1] + (4 * (c.shape[-1] if c.ndim else 1),)}")
    return gates, c


@ops.op(LSTMStateOp, export=False)
def lstm_c(gates, c):
    """An LSTM's new cell state c' = sigmoid(f) * c + sigmoid(i) * tanh(g), as one op, from
    the gates (..., 4 * hidden) = W_ih x + b_ih + W_hh h + b_hh (i, f, g, o side by side, in
    PyTorch's order; o is not read) and the cell state c (..., hidden)."""
    return ops._call2(LSTMStateOp(), *_lstm_operands("lstm_c", gates, c))


@ops.op(LSTMOutputOp, export=False)
def lstm_h(gates, c):
    """An LSTM's new hidden state h' = sigmoid(o) * tanh(c'), as one op, from the gates
    (..., 4 * hidden) (only o is read) and the new cell state c' (..., hidden)."""
    return ops._call2(LSTMOutputOp(), *_lstm_operands("lstm_h", gates, c))


def lstm_step(gx, state, w_hh, b_hh=None, w_hr=None):
    """One LSTM step on gx = W_ih x + b_ih and ``state = (h, c)``; returns ``(h', c')``.
    Gates in PyTorch's order i, f, g, o; ``w_hr`` projects h' (``proj_size``)."""
    h, c = state
    gates = gx + F.linear(h, w_hh, b_hh)
    c = lstm_c(gates, c)
    h = lstm_h(gates, c)
    if w_hr is not None:
        h = F.linear(h, w_hr)
    return h, c


# A GRU step's equations as one op, gru_h, with its own backward rule: a step records 2
# nodes (linear, gru_h) where the equations written with ops take 18 (6 gate slices,
# 2 sigmoid, tanh, 3 *, 4 +, - besides linear). Forward and rule compute the same
# elementwise formulas in the same order as those ops, so values and gradients are the same
# to the bit (tests/test_nn.py checks it).

class GRUStateOp(Function):
    """h' = (1 - z) * n + z * h with r, z = sigmoid(gx_rz + gh_rz) and
    n = tanh(gx_n + r * gh_n): gates r, z, n in PyTorch's order."""
    __slots__ = ()
    name = "gru_h"
    input_roles = ("gx", "gh", "h")

    def forward(self, gx, gh, h):
        k = h.shape[-1]
        rz = sigmoid_array(gx[..., :2 * k] + gh[..., :2 * k])
        r, z = rz[..., :k], rz[..., k:]
        n = np.tanh(gx[..., 2 * k:] + r * gh[..., 2 * k:])
        self.saved = (r, z, n)
        return (1 - z) * n + z * h

    def backward(self, xp, g, out, gx, gh, h):
        k = h.shape[-1]
        if xp is NP and self.saved is not None:
            r, z, n = self.saved
        else:           # create_graph: the activations as tensors, recorded
            r = xp.sigmoid(gx[..., :k] + gh[..., :k])
            z = xp.sigmoid(gx[..., k:2 * k] + gh[..., k:2 * k])
            n = xp.tanh(gx[..., 2 * k:] + r * gh[..., 2 * k:])
        need_gx, need_gh, need_h = self.needs_input_grad
        d_gx = d_gh = None
        if need_gx or need_gh:
            d_a = g * (1 - z) * (1 - n * n)         # of n's argument gx_n + r * gh_n
            d_r = d_a * gh[..., 2 * k:] * r * (1 - r)
            d_z = (g * h - g * n) * z * (1 - z)
            d_gx = _gate_grads(xp, [d_r, d_z, d_a]) if need_gx else None
            d_gh = _gate_grads(xp, [d_r, d_z, d_a * r]) if need_gh else None
        return d_gx, d_gh, (g * z if need_h else None)


def _gate_grads(xp, parts):
    """The gates' gradient (..., 3 * hidden) from the parts side by side."""
    if xp is not NP:
        return ops.concatenate(parts, -1)
    k = parts[0].shape[-1]
    out = np.empty(parts[0].shape[:-1] + (len(parts) * k,), parts[0].dtype)
    for i, d in enumerate(parts):
        out[..., i * k:(i + 1) * k] = d
    return out


@ops.op(GRUStateOp, export=False)
def gru_h(gx, gh, h):
    """A GRU's new hidden state h' = (1 - z) * n + z * h, as one op, from the input's gates
    gx = W_ih x + b_ih and the state's gh = W_hh h + b_hh (each (..., 3 * hidden): r, z, n
    side by side, in PyTorch's order) and the state h (..., hidden); r multiplies gh's n
    part, bias included, as PyTorch (and cuDNN) do."""
    gx, gh, h = ops._t(gx), ops._t(gh), ops._t(h)
    if not gx.dtype == gh.dtype == h.dtype:
        raise TypeError(f"gru_h: gx, gh and h have dtypes {gx.dtype}, {gh.dtype} and "
                        f"{h.dtype}; they must match: convert with .astype()")
    want = h.shape[:-1] + (3 * (h.shape[-1] if h.ndim else 1),)
    if h.ndim < 1 or gx.shape != want or gh.shape != want:
        raise ShapeError(f"gru_h: gates gx of shape {gx.shape} and gh of shape {gh.shape} do "
                         f"not fit h of shape {h.shape}: the gates are r, z, n side by side "
                         f"in the last dimension, so both need shape {want}")
    return ops._calln(GRUStateOp(), (gx, gh, h))


def gru_step(gx, h, w_hh, b_hh=None):
    """One GRU step on gx = W_ih x + b_ih: r and z gate the input's and the state's parts;
    the reset gate r multiplies the state's part of n after its bias, as PyTorch (and
    cuDNN) do."""
    return gru_h(gx, F.linear(h, w_hh, b_hh), h)


def _cell_step(mode, x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """One step of a cell on its input x."""
    return _STEPS[mode][1](F.linear(x, w_ih, b_ih), state, w_hh, b_hh)


_STEPS = {"RNN_TANH": (1, rnn_tanh_step), "RNN_RELU": (1, rnn_relu_step),
          "LSTM": (4, lstm_step), "GRU": (3, gru_step)}


# --- shared checks ------------------------------------------------------------------------

def _positive_int(layer, name, v, zero_ok=False):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < (0 if zero_ok else 1):
        raise ValueError(f"{layer}: {name} must be a {'non-negative' if zero_ok else 'positive'}"
                         f" integer, got {v!r}")
    return int(v)


def _as_input(layer, x, dtype, what="input"):
    """``x`` as a tensor of the parameters' dtype: integers are converted, another floating
    dtype is refused (as PyTorch refuses mixed dtypes)."""
    if not isinstance(x, Tensor):
        x = Tensor(np.asarray(x))
    if x.dtype == dtype:
        return x
    if x.dtype.kind in "iub":
        return x.astype(dtype)
    raise ops.DtypeError(f"{layer}: {what} has dtype {x.dtype} but the layer's parameters are "
                         f"{dtype}; convert one of them: the layer with .to(zeroin.{x.dtype}) "
                         f"(or .float() / .double()), or the {what} with .to(zeroin.{dtype})"
                         f"{ops.default_dtype_note(x.dtype, dtype, '. ')}")


def _nonlinearity(layer, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{layer}: unknown nonlinearity {nonlinearity!r}; use 'tanh' or "
                         f"'relu'")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class _Recurrent(Module):
    """What recurrent layers and cells share: PyTorch's initialisation."""

    def reset_parameters(self, rng=None):
        """PyTorch's default: every parameter uniform in (-1/sqrt(hidden), 1/sqrt(hidden))."""
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, rng=rng)


# --- cells --------------------------------------------------------------------------------

class RNNCellBase(_Recurrent):
    """One step of a recurrent layer: parameters ``weight_ih`` (gates * hidden_size,
    input_size), ``weight_hh`` (gates * hidden_size, hidden_size), ``bias_ih``, ``bias_hh``,
    all uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as in PyTorch."""

    def __init__(self, input_size, hidden_size, bias, mode, device=None, dtype=None, rng=None):
        super().__init__()
        name = type(self).__name__
        _check_device(name, device)
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.bias, self.mode = bool(bias), mode
        dt, gates = _dtype(dtype), _STEPS[mode][0]
        self.weight_ih = Parameter(np.empty((gates * hidden_size, input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((gates * hidden_size, hidden_size), dtype=dt))
        for b in ("bias_ih", "bias_hh"):
            if bias:
                setattr(self, b, Parameter(np.empty(gates * hidden_size, dtype=dt)))
            else:
                self.register_parameter(b, None)
        self.reset_parameters(rng)

    def _check(self, input, hx, n_states):  # noqa: A002
        """(input as (N, input_size), [state (N, hidden_size)] * n_states, batched?)."""
        name = type(self).__name__
        x = _as_input(name, input, self.weight_ih.dtype)
        if x.ndim not in (1, 2):
            raise ShapeError(f"{name}: expected input of shape (batch, {self.input_size}) or "
                             f"({self.input_size},) for one sample, got shape {x.shape}; a cell "
                             f"runs one time step (for a whole sequence use nn."
                             f"{name.replace('Cell', '')})")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input of shape {x.shape} has {x.shape[-1]} features, but "
                             f"the cell was built with input_size={self.input_size}; build it "
                             f"as nn.{name}({x.shape[-1]}, {self.hidden_size})")
        batched = x.ndim == 2
        want = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if hx is None:
            zeros = _leaf(np.zeros(want, dtype=x.dtype))
            states = [zeros] * n_states
        else:
            if n_states > 1 and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
                raise TypeError(f"{name}: hx must be the pair (h, c), got "
                                f"{type(hx).__name__}")
            states = list(hx) if n_states > 1 else [hx]
            states = [_as_input(name, s, x.dtype, "hx") for s in states]
            for label, s in zip(("h", "c"), states):
                if s.shape != want:
                    raise ShapeError(f"{name}: {label} must have shape {want} for an input of "
                                     f"shape {x.shape}, got {s.shape}")
        if not batched:
            x, states = x.reshape(1, -1), [s.reshape(1, -1) for s in states]
        return x, states, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity=relu"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (``nonlinearity='relu'``: relu): one step of
    :class:`RNN`. Input (N, input_size) or (input_size,); ``hx`` of the matching (N,
    hidden_size) or (hidden_size,), zeros when omitted; returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None, *, rng=None):
        mode = _nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, mode, device, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):  # noqa: A002
        x, (h,), batched = self._check(input, hx, 1)
        h = _cell_step(self.mode, x, h, *self._weights())
        return h if batched else h.reshape(-1)


class LSTMCell(RNNCellBase):
    """One step of :class:`LSTM`: ``(h', c') = cell(x, (h, c))``, gates i, f, g, o in
    PyTorch's order. ``hx`` is the pair (h, c), zeros when omitted."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, *,
                 rng=None):
        super().__init__(input_size, hidden_size, bias, "LSTM", device, dtype, rng)

    def forward(self, input, hx=None):  # noqa: A002
        x, states, batched = self._check(input, hx, 2)
        h, c = _cell_step("LSTM", x, tuple(states), *self._weights())
        return (h, c) if batched else (h.reshape(-1), c.reshape(-1))


class GRUCell(RNNCellBase):
    """One step of :class:`GRU`: h' = (1 - z) * n + z * h with reset gate r, update gate z
    and n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), as PyTorch."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, *,
                 rng=None):
        super().__init__(input_size, hidden_size, bias, "GRU", device, dtype, rng)

    def forward(self, input, hx=None):  # noqa: A002
        x, (h,), batched = self._check(input, hx, 1)
        h = _cell_step("GRU", x, h, *self._weights())
        return h if batched else h.reshape(-1)


# --- layers -------------------------------------------------------------------------------

def _last(state):
    """The output of a step: h of an LSTM's (h, c), the state itself otherwise."""
    return state[0] if isinstance(state, tuple) else state


def _rows(state, start, stop=None):
    """Rows start:stop of a state (each of an LSTM's h and c)."""
    if isinstance(state, tuple):
        return tuple(s[start:stop] for s in state)
    return state[start:stop]


def _join(states):
    """The states stacked row-wise (h with h, c with c for an LSTM)."""
    if isinstance(states[0], tuple):
        return tuple(ops.concatenate(p, 0) for p in zip(*states))
    return ops.concatenate(states, 0)


def _blocks(state, sizes):
    """A state cut row-wise into consecutive blocks of ``sizes`` rows."""
    if isinstance(state, tuple):
        return list(zip(*(_split_by_halving(s, 0, True, sizes) for s in state)))
    return _split_by_halving(state, 0, True, sizes)


def _direction(step, xs, state, weights, reverse):
    """Run one layer in one direction over the per-step input projections ``xs``; returns
    the outputs in time order and the last state."""
    outs = [None] * len(xs)
    for t in (range(len(xs) - 1, -1, -1) if reverse else range(len(xs))):
        state = step(xs[t], state, *weights)
        outs[t] = _last(state)
    return outs, state


def _direction_packed(step, xs, state, weights, reverse, sizes):
    """:func:`_direction` over packed steps: ``xs[t]`` holds the ``sizes[t]`` (non-increasing)
    sequences that have step t, which are the first rows of the state. Forward, the rows of
    finished sequences are set aside as they end; in reverse, each sequence's initial state
    joins at its last step. So every step works on contiguous rows only."""
    outs = [None] * len(xs)
    if reverse:     # the initial state in blocks: the rows that join at each new size
        joins = sorted(set(sizes))
        blocks = _blocks(state, np.diff([0] + joins).tolist())
        state = blocks.pop(0)
        for t in range(len(xs) - 1, -1, -1):
            if sizes[t] > _last(state).shape[0]:
                state = _join([state, blocks.pop(0)])
            state = step(xs[t], state, *weights)
            outs[t] = _last(state)
        return outs, state
    done = []       # the final states of finished sequences, last rows first
    for t in range(len(xs)):
        if sizes[t] < _last(state).shape[0]:
            done.append(_rows(state, sizes[t]))
            state = _rows(state, 0, sizes[t])
        state = step(xs[t], state, *weights)
        outs[t] = _last(state)
    return outs, (_join([state] + done[::-1]) if done else state)


class RNNBase(_Recurrent):
    """A stack of ``num_layers`` recurrent layers, each optionally bidirectional, with
    PyTorch's parameters: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (and ``weight_hr_l{k}`` for LSTM's ``proj_size``), ``_reverse`` for
    the backward direction, all uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size)).

    ``forward(input, hx=None)`` takes (seq_len, batch, input_size) ((batch, seq_len,
    input_size) with ``batch_first``), one unbatched sequence (seq_len, input_size), or a
    :class:`~zeroin.nn.utils.rnn.PackedSequence`. It returns ``(output, h_n)`` with output
    (seq_len, batch, D * H_out) (D = 2 when bidirectional, the two directions' states
    concatenated) and h_n (num_layers * D, batch, H_out); hx has h_n's shape, zeros when
    omitted. ``dropout`` applies to each layer's output but the last, in training only.
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None, rng=None):
        super().__init__()
        name = type(self).__name__
        _check_device(name, device)
        self.mode = mode
        self.input_size = _positive_int(name, "input_size", input_size)
        self.hidden_size = _positive_int(name, "hidden_size", hidden_size)
        self.num_layers = _positive_int(name, "num_layers", num_layers)
        self.proj_size = _positive_int(name, "proj_size", proj_size, zero_ok=True)
        if self.proj_size >= self.hidden_size:
            raise ValueError(f"{name}: proj_size ({proj_size}) must be smaller than "
                             f"hidden_size ({hidden_size}), or 0 for no projection")
        if (not isinstance(dropout, numbers.Real) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout must be a probability between 0 and 1 (applied "
                             f"between layers), got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} applies between stacked layers only, so "
                          f"with num_layers=1 it does nothing (as in PyTorch); use "
                          f"num_layers > 1 or an nn.Dropout on the output", UserWarning,
                          stacklevel=3)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self._flat_weights_names = []
        self._make_parameters(_dtype(dtype))
        self.reset_parameters(rng)

    def _make_parameters(self, dt):
        gates, hid = _STEPS[self.mode][0] * self.hidden_size, self.hidden_size
        out = self.proj_size or hid
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else out * self._directions
            for d in range(self._directions):
                shapes = [("weight_ih", (gates, width)), ("weight_hh", (gates, out))]
                if self.bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                if self.proj_size:
                    shapes.append(("weight_hr", (self.proj_size, hid)))
                for base, shape in shapes:
                    key = f"{base}_l{layer}{'_reverse' if d else ''}"
                    setattr(self, key, Parameter(np.empty(shape, dtype=dt)))
                    self._flat_weights_names.append(key)

    @property
    def _directions(self):
        return 2 if self.bidirectional else 1

    def flatten_parameters(self):
        """Nothing to do (PyTorch packs the weights for cuDNN); kept so that code calling it
        runs."""

    @property
    def all_weights(self):
        """The parameters per layer and direction, in PyTorch's nesting."""
        per = len(self._flat_weights_names) // (self.num_layers * self._directions)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i:i + per]]
                for i in range(0, len(names), per)]

    def _weights(self, layer, d):
        sfx = f"_l{layer}{'_reverse' if d else ''}"
        w = [getattr(self, f"weight_ih{sfx}"), getattr(self, f"weight_hh{sfx}"),
             getattr(self, f"bias_ih{sfx}", None), getattr(self, f"bias_hh{sfx}", None)]
        if self.proj_size:
            w.append(getattr(self, f"weight_hr{sfx}"))
        return w

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s                    # as PyTorch's: RNN's nonlinearity is not shown

    # --- forward ------------------------------------------------------------------------
    def _layout(self):
        return ("(batch, seq_len, input_size)" if self.batch_first
                else "(seq_len, batch, input_size)")

    def _check_input(self, input):  # noqa: A002
        name = type(self).__name__
        x = _as_input(name, input, self.weight_ih_l0.dtype)
        if x.ndim not in (2, 3):
            raise ShapeError(f"{name}: expected a 3-D input {self._layout()} "
                             f"(batch_first={self.batch_first}) or a 2-D input (seq_len, "
                             f"input_size) for one unbatched sequence, got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise ShapeError(f"{name}: input of shape {x.shape} has {x.shape[-1]} features in "
                             f"its last dimension, but the layer was built with input_size="
                             f"{self.input_size}; the features go last, {self._layout()}; if "
                             f"the input is right, build the layer as nn.{name}("
                             f"{x.shape[-1]}, {self.hidden_size}, ...)")
        if x.shape[1 if x.ndim == 3 and self.batch_first else 0] == 0:
            raise ShapeError(f"{name}: input of shape {x.shape} has no time steps")
        return x

    def _hx_error(self, label, got, want, x_shape, batched, packed=False):
        name = type(self).__name__
        if packed:
            msg = (f"{name}: {label} must have shape {want} (num_layers * num_directions, "
                   f"batch, hidden) for a PackedSequence of {want[1]} sequences, got {got}")
            if len(got) == 3 and got[0] == want[0] and got[2] == want[2]:
                msg += (f"; it holds {got[1]} sequences: one state per packed sequence, in "
                        f"the order they were given")
            return msg
        if not batched:
            return (f"{name}: {label} must have shape {want} (num_layers * num_directions, "
                    f"hidden), got {got}: a 2-D input of shape {x_shape} is one unbatched "
                    f"sequence (seq_len, input_size), whatever batch_first says; for a batch "
                    f"of sequences pass a 3-D input {self._layout()}")
        msg = (f"{name}: {label} must have shape {want} (num_layers * num_directions, batch, "
               f"hidden) for the input of shape {x_shape} read as {self._layout()}, got {got}")
        if len(got) == 2:
            return msg + f"; a 2-D {label} goes with an unbatched 2-D input (seq_len, input_size)"
        other = x_shape[1 if self.batch_first else 0]       # the dimension taken for time
        if len(got) == 3 and got[0] == want[0] and got[2] == want[2] and got[1] == other:
            swapped = "(seq_len, batch, ...)" if self.batch_first else "(batch, seq_len, ...)"
            return msg + (f"; {label}'s batch {got[1]} is the input's time dimension: if the "
                          f"input is {swapped}, build the layer with "
                          f"batch_first={not self.batch_first}")
        if len(got) == 3 and got[0] == want[0] and got[2] == want[2]:
            return msg + (f"; a state kept from a batch of {got[1]} sequences does not fit "
                          f"this batch of {want[1]} (a smaller last batch?): start it again "
                          f"(hx=None), or use DataLoader(drop_last=True)")
        return msg

    def _states(self, label, h, size, n, batched, x, perm=None, packed=False):
        """The initial state of each layer and direction, each (n, size)."""
        k = self.num_layers * self._directions
        if h is None:
            zeros = _leaf(np.zeros((n, size), dtype=x.dtype))
            return [zeros] * k
        h = _as_input(type(self).__name__, h, x.dtype, label)
        want = (k, n, size) if batched else (k, size)
        if h.shape != want:
            raise ShapeError(self._hx_error(label, h.shape, want, x.shape, batched, packed))
        if not batched:
            return [h[i:i + 1] for i in range(k)]
        if perm is not None:
            h = h[:, perm]
        return [h[i] for i in range(k)]

    def _initial(self, hx, n, batched, x, perm=None, packed=False):
        hid = self.proj_size or self.hidden_size
        if self.mode != "LSTM":
            return self._states("hx", hx, hid, n, batched, x, perm, packed)
        if hx is None:
            hx = (None, None)
        elif not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTM: hx must be the pair (h_0, c_0), got "
                            f"{type(hx).__name__}")
        return list(zip(self._states("h_0", hx[0], hid, n, batched, x, perm, packed),
                        self._states("c_0", hx[1], self.hidden_size, n, batched, x, perm,
                                     packed)))

    def _run(self, rows, sizes, states, last_axis=None):
        """All layers over ``rows``, the inputs of every step one after another (step t is
        the next ``sizes[t]`` rows, the first sequences of the batch); returns (the last
        layer's output, final states). Each layer and direction projects all its inputs
        with one linear and cuts the result into the steps' rows; the steps then only add
        W_hh h. A layer's output is its steps' outputs joined by one cat (rows in the same
        order), or with ``last_axis`` by one stack for the last layer: (seq_len, batch,
        hidden), seen as (batch, seq_len, hidden) with ``last_axis`` 1 (batch_first), a
        transposed view as PyTorch's, whose dropout after the layer (fastbook's LMModel7)
        draws in that memory order; dropout between layers applies to ``rows`` once."""
        step, finals = _STEPS[self.mode][1], []
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                rows = F.dropout(rows, self.dropout, True)
            outs = []
            for d in range(self._directions):
                w_ih, w_hh, b_ih, b_hh, *w_hr = self._weights(layer, d)
                gxs = _split_by_halving(F.linear(rows, w_ih, b_ih), 0, True, sizes)
                args = (step, gxs, states[layer * self._directions + d],
                        (w_hh, b_hh, *w_hr), d == 1)
                out, final = (_direction(*args) if len(set(sizes)) == 1
                              else _direction_packed(*args, sizes))
                last = layer == self.num_layers - 1 and last_axis is not None
                outs.append(ops.stack(out, 0) if last else
                            ops.concatenate(out, 0) if len(out) > 1 else out[0])
                finals.append(final)
            rows = outs[0] if len(outs) == 1 else ops.concatenate(outs, -1)
        if last_axis == 1:
            rows = ops.swapaxes(rows, 0, 1)
        return rows, finals

    def _final(self, finals, batched, unperm=None):
        """h_n (and c_n) stacked as (num_layers * num_directions, [batch,] hidden)."""
        def join(ts):
            out = ops.stack(ts, 0) if batched else ops.concatenate(ts, 0)
            return out if unperm is None else out[:, unperm]
        if self.mode == "LSTM":
            return join([f[0] for f in finals]), join([f[1] for f in finals])
        return join(finals)

    def forward(self, input, hx=None):  # noqa: A002
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        x = self._check_input(input)
        batched = x.ndim == 3
        if batched:     # the steps' rows one after another: (seq_len * batch, input_size)
            t, n = x.shape[:2][::-1] if self.batch_first else x.shape[:2]
            rows = (x.swapaxes(0, 1) if self.batch_first else x).reshape(t * n, -1)
        else:           # one sequence: a batch of 1, each step one row
            t, n, rows = x.shape[0], 1, x
        output, finals = self._run(rows, [n] * t, self._initial(hx, n, batched, x),
                                   (1 if self.batch_first else 0) if batched else None)
        return output, self._final(finals, batched)

    def _forward_packed(self, packed, hx):
        """A PackedSequence in, a PackedSequence out: each sequence runs for its own length,
        so h_n is taken at its last valid step. Step t is the contiguous block of
        ``batch_sizes[t]`` rows of ``data`` and works on the first rows of the state."""
        name = type(self).__name__
        data = _as_input(name, packed.data, self.weight_ih_l0.dtype)
        if data.ndim != 2 or data.shape[1] != self.input_size:
            raise ShapeError(f"{name}: a PackedSequence's data must have shape (total steps, "
                             f"{self.input_size}), got {data.shape}")
        bs = _ints(packed.batch_sizes).astype(np.int64).tolist()
        if (not bs or bs[-1] < 1 or np.any(np.diff(bs) > 0)
                or sum(bs) != data.shape[0]):
            raise ShapeError(f"{name}: a PackedSequence's batch_sizes must be positive, "
                             f"non-increasing and sum to its data's {data.shape[0]} rows, got "
                             f"{bs}; build it with nn.utils.rnn.pack_padded_sequence or "
                             f"pack_sequence")
        perm = None if packed.sorted_indices is None else _ints(packed.sorted_indices)
        unperm = None if packed.unsorted_indices is None else _ints(packed.unsorted_indices)
        out, finals = self._run(data, bs, self._initial(hx, bs[0], True, data, perm, True))
        return (PackedSequence(out, packed.batch_sizes, packed.sorted_indices,
                               packed.unsorted_indices), self._final(finals, True, unperm))


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) per layer
    (``nonlinearity='relu'``: relu), PyTorch's arguments in PyTorch's order. See
    :class:`RNNBase` for shapes and parameters."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None, *, rng=None):
        mode = _nonlinearity("RNN", nonlinearity)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype, rng)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: a cell state c carried by the forget gate (gates i, f, g, o
    in PyTorch's order; see the module docstring). ``forward(input, (h_0, c_0))`` returns
    ``(output, (h_n, c_n))``; with ``proj_size`` > 0 h is projected to proj_size (c keeps
    hidden_size). See :class:`RNNBase` for shapes and parameters."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, *,
                 rng=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, device, dtype, rng)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n in PyTorch's order; the reset gate multiplies
    W_hn h + b_hn). See :class:`RNNBase` for shapes and parameters."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, *, rng=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, device, dtype, rng)
