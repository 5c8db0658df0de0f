"""Variable-length sequences under PyTorch's names (``torch.nn.utils.rnn``).

A batch of sequences of different lengths is either *padded* into one tensor (shorter
sequences filled with ``padding_value``) or *packed*: the valid steps only, time step by
time step, longest sequence first (:class:`PackedSequence`). The recurrent layers accept a
PackedSequence and stop each sequence at its own last step, so its ``h_n`` is the state
after its last valid input, not after the padding.

Every function here is composed of differentiable ops (concatenate, stack, getitem), so
gradients flow back to the sequences.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import ops
from ..._tensor import Tensor, _leaf
from ...errors import ZeroinError, not_a_tensor
from ...function import ShapeError

__all__ = ["PackedSequence", "pad_sequence", "unpad_sequence", "pack_padded_sequence",
           "pad_packed_sequence", "pack_sequence", "unpack_sequence", "invert_permutation"]


class SequenceError(ZeroinError, ValueError):
    """Lengths or sequences PyTorch's packing refuses (unsorted, empty, none): a
    RuntimeError, as PyTorch raises, and a ValueError."""


def _as_tensor(x, op, what):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, list, tuple)) or np.isscalar(x):
        return Tensor(np.asarray(x))
    raise not_a_tensor(op, what, x)


def _split_by_halving(x, dim, keep=False, sizes=None):
    """The slices of ``x`` along ``dim``, taken by halving it first: each ``x[i]`` taken
    directly has a backward that scatters into an array of x's whole size, so n of them cost
    n * n; halving costs n log n. ``keep`` keeps the dimension (size 1); ``sizes`` (with
    ``keep``) cuts consecutive blocks of those lengths instead of single slices."""
    lead = (slice(None),) * dim
    sizes = [1] * x.shape[dim] if sizes is None else list(sizes)
    if len(sizes) <= 8:
        out, start = [], 0
        for s in sizes:
            out.append(x[lead + (slice(start, start + s) if keep else start,)])
            start += s
        return out
    h = len(sizes) // 2
    mid = sum(sizes[:h])
    return (_split_by_halving(x[lead + (slice(0, mid),)], dim, keep, sizes[:h])
            + _split_by_halving(x[lead + (slice(mid, None),)], dim, keep, sizes[h:]))


def _sequences(sequences, op):
    """The sequences as tensors, checked: at least one, each (L_i, *) with the same *."""
    seqs = [_as_tensor(s, op, "each sequence") for s in sequences]
    if not seqs:
        raise SequenceError(f"{op}: got no sequences")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim == 0 or s.shape[1:] != trailing:
            raise ShapeError(f"{op}: every sequence must have shape (L_i"
                             f"{''.join(f', {d}' for d in trailing)}) "
                             f"(time first, the same trailing dimensions), but sequence 0 has "
                             f"shape {seqs[0].shape} and sequence {i} has shape {s.shape}")
    return seqs


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into one (max L, N, *) tensor ((N, max L, *) with
    ``batch_first``), filling the missing steps with ``padding_value`` after each sequence
    (``padding_side='left'``: before it). Differentiable in every sequence."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    seqs = _sequences(sequences, "pad_sequence")
    trailing = seqs[0].shape[1:]
    longest = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        missing = longest - s.shape[0]
        if missing:
            fill = _leaf(np.full((missing,) + trailing, padding_value, dtype=s.dtype))
            s = ops.concatenate([s, fill] if padding_side == "right" else [fill, s], 0)
        rows.append(s)
    return ops.stack(rows, 0 if batch_first else 1)


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """The valid steps of a batch of sequences, time step by time step: ``data`` (sum of
    lengths, *) holds step 0 of every sequence, then step 1 of those at least 2 long, ...,
    longest first; ``batch_sizes[t]`` is how many sequences have a step t.
    ``sorted_indices`` is the batch order by decreasing length (None when the batch was
    already sorted) and ``unsorted_indices`` its inverse. Build it with
    :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand."""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if sorted_indices is not None and unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)`` (a dtype, ``"cpu"``...) in a PackedSequence with the same
        batch sizes and orders; itself when data is unchanged, as PyTorch's."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def cpu(self):
        """Itself: everything is on the CPU."""
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        """Refused with the reason, as ``Tensor.cuda``: zeroin runs on the CPU only."""
        return self._replace(data=self.data.cuda(*args, **kwargs))

    @property
    def is_cuda(self):
        """False: the data is on the CPU."""
        return self.data.is_cuda


def _packed_caster(name):
    def cast(self):
        data = getattr(self.data, name)()
        return self if data is self.data else self._replace(data=data)
    cast.__name__ = name
    cast.__doc__ = f"The PackedSequence with ``data.{name}()`` (itself if already so)."
    return cast


for _name in ("double", "float", "half", "long", "int", "short", "char", "byte"):
    setattr(PackedSequence, _name, _packed_caster(_name))


def _ints(x):
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


def _padded(x, lengths, batch_first, op, what, least):
    """A padded batch ``x`` (T, N, *) ((N, T, *) with ``batch_first``) as a tensor, and its
    ``lengths`` as int64, one per sequence, each in [least, T]."""
    x = _as_tensor(x, op, what)
    if x.ndim < 2:
        raise ShapeError(f"{op}: {what} must be (T, N, *) or, with batch_first, (N, T, *); "
                         f"got shape {x.shape}")
    n, t = (x.shape[0], x.shape[1]) if batch_first else (x.shape[1], x.shape[0])
    layout = "(N, T, *)" if batch_first else "(T, N, *)"
    swapped = (f"; the input of shape {x.shape} is read as {layout} (batch_first="
               f"{batch_first}), and its other dimension has {t}: if it is "
               f"{'(T, N, *)' if batch_first else '(N, T, *)'}, pass batch_first="
               f"{not batch_first}")
    return x, _lengths(lengths, n, t, op, least, swapped)


def _lengths(lengths, n, t, op, least, swapped=""):
    """``lengths`` as int64, one per sequence of the batch (n), each in [least, t];
    ``swapped`` ends the message when there are t lengths (batch and time confused)."""
    arr = _ints(lengths)
    if arr.ndim != 1 or arr.shape[0] != n or (arr.size and arr.dtype.kind not in "iu"
                                              and not np.all(arr == np.round(arr))):
        hint = swapped if arr.ndim == 1 and arr.shape[0] == t != n else ""
        raise ShapeError(f"{op}: lengths must hold one integer per sequence of the batch "
                         f"({n}), got {arr.tolist()!r}{hint}")
    if n and (arr.min() < least or arr.max() > t):
        raise SequenceError(f"{op}: every length must be between {least} and the padded length "
                         f"{t}, got lengths {arr.astype(np.int64).tolist()}")
    return arr.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):  # noqa: A002
    """Pack a padded batch (T, N, *) ((N, T, *) with ``batch_first``) whose sequence b is
    ``lengths[b]`` steps long. With ``enforce_sorted`` (the default, as PyTorch) the lengths
    must be in decreasing order; ``enforce_sorted=False`` sorts the batch and remembers the
    order, so outputs and ``h_n`` come back in the caller's order."""
    x, lens = _padded(input, lengths, batch_first, "pack_padded_sequence", "input", 1)
    n, t = lens.size, x.shape[1 if batch_first else 0]
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise SequenceError(f"pack_padded_sequence: lengths {lens.tolist()} are not in "
                             f"decreasing order; sort the batch by length or pass "
                             f"enforce_sorted=False")
        order = np.arange(n)
        sorted_idx = None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx = _leaf(order.astype(np.int64))
    batch_sizes = (lens[:, None] > np.arange(lens.max() if n else 0)).sum(0)
    steps = np.repeat(np.arange(batch_sizes.size), batch_sizes)
    members = np.concatenate([order[:b] for b in batch_sizes]) if n else np.zeros(0, int)
    flat = x.reshape((n * t,) + x.shape[2:])
    rows = members * t + steps if batch_first else steps * n + members
    return PackedSequence(flat[rows], _leaf(batch_sizes.astype(np.int64)), sorted_idx)


def _padded_index(batch_sizes, total_length=None):
    """(T, N) row numbers into ``data`` for each (step, sorted sequence); missing steps point
    one row past the end (the padding row)."""
    bs = np.asarray(batch_sizes, dtype=np.int64)
    n, t = int(bs[0]), max(int(bs.size), total_length or 0)
    idx = np.full((t, n), int(bs.sum()), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(bs)[:-1]])
    for step, (off, b) in enumerate(zip(offsets, bs)):
        idx[step, :b] = off + np.arange(b)
    return idx


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0,  # noqa: A002
                        total_length=None):
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)`` with padded of
    shape (T, N, *) ((N, T, *) with ``batch_first``) in the original batch order, T the
    longest length (or ``total_length``) and ``lengths`` an int64 tensor."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    bs = _ints(sequence.batch_sizes)
    if total_length is not None and total_length < bs.size:
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than "
                         f"the longest sequence ({bs.size} steps)")
    idx = _padded_index(bs, total_length)
    lens = (bs[:, None] > np.arange(int(bs[0]))).sum(0)
    if sequence.unsorted_indices is not None:
        unsort = _ints(sequence.unsorted_indices)
        idx, lens = idx[:, unsort], lens[unsort]
    data = sequence.data
    pad_row = _leaf(np.full((1,) + data.shape[1:], padding_value, dtype=data.dtype))
    padded = ops.concatenate([data, pad_row], 0)[idx.T if batch_first else idx]
    return padded, _leaf(lens.astype(np.int64))


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *): ``pack_padded_sequence(pad_sequence(sequences),
    lengths, enforce_sorted=enforce_sorted)``."""
    seqs = _sequences(sequences, "pack_sequence")
    lengths = [s.shape[0] for s in seqs]
    if min(lengths) == 0:
        raise SequenceError(f"pack_sequence: sequence {lengths.index(0)} is empty (shape "
                         f"{seqs[lengths.index(0)].shape}); every sequence needs at least one "
                         f"step: leave the empty ones out")
    if enforce_sorted and np.any(np.diff(lengths) > 0):
        raise SequenceError(f"pack_sequence: the sequences' lengths {lengths} are not in "
                         f"decreasing order; put the longest first or pass "
                         f"enforce_sorted=False")
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def invert_permutation(permutation):
    """The inverse of a permutation of 0..n-1 (``out[permutation[i]] = i``), as an integer
    tensor of its dtype (int64 for a list); None stays None. PyTorch's, used for a
    PackedSequence's ``unsorted_indices``."""
    if permutation is None:
        return None
    arr = _ints(permutation)
    if arr.size == 0:
        arr = arr.astype(np.int64)
    if (arr.ndim != 1 or arr.dtype.kind not in "iu"
            or not np.array_equal(np.sort(arr), np.arange(arr.size))):
        raise ValueError(f"invert_permutation: expected a 1-D permutation of 0..n-1 (each "
                         f"index once), got {arr.tolist()!r}")
    out = np.empty_like(arr)
    out[arr] = np.arange(arr.size)
    return _leaf(out)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of :func:`pad_sequence`: a list of the N sequences of a padded batch (T, N,
    *) ((N, T, *) with ``batch_first``), sequence b cut to its ``lengths[b]`` steps
    ((lengths[b], *)). Differentiable; the input is left as it is."""
    x, lens = _padded(padded_sequences, lengths, batch_first, "unpad_sequence",
                      "padded_sequences", 0)
    rows = _split_by_halving(x, 0 if batch_first else 1)
    return [row[:int(length)] for row, length in zip(rows, lens)]


def unpack_sequence(packed_sequences):
    """The inverse of :func:`pack_sequence`: a list of the packed sequences, each (L_i, *),
    in the order they were packed in. Differentiable."""
    if not isinstance(packed_sequences, PackedSequence):
        raise TypeError(f"unpack_sequence: expected a PackedSequence, got "
                        f"{type(packed_sequences).__name__}")
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
