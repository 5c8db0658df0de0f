"""Connectionist temporal classification (CTC) loss: one op, its forward (alpha) and
backward (beta) recursions in log space on NumPy arrays, vectorised over the batch and the
extended label sequence (the only Python loop is over time).

The derivation. For a sample with input length T and target l = (l_1, ..., l_L), the
extended sequence l' = (b, l_1, b, l_2, ..., b, l_L, b) puts the blank b around each label
(S' = 2L + 1 positions). A path pi (one class per time step) reads as l once repeats are
merged and blanks dropped; p(l) = sum over such paths of prod_t y[t, pi_t], with
y = exp(log_probs). In log space, with lp = log_probs:

* alpha_t(s) = lp[t, l'_s] + logsumexp(alpha_{t-1}(s), alpha_{t-1}(s-1), alpha_{t-1}(s-2)),
  the last term only where l'_s is a label that differs from l'_{s-2} (a repeated label
  needs a blank between); alpha_0 is lp[0, b] at s = 0, lp[0, l_1] at s = 1, else -inf.
  log p(l) = logsumexp(alpha_{T-1}(S'-1), alpha_{T-1}(S'-2)), and the loss is -log p(l)
  (+inf where no path fits: a target too long for its input).
* beta_t(s) = lp[t, l'_s] + logsumexp(beta_{t+1}(s), beta_{t+1}(s+1), beta_{t+1}(s+2))
  (the last term where l'_{s+2} may follow l'_s directly), the paths' suffixes from (t, s),
  lp[t] included; beta_{T-1} is lp[T-1, l'_s] at the two final positions, else -inf.

A path's log-probability is sum_t lp[t, pi_t], so d log p / d lp[t, k] is the probability
mass of the paths with pi_t = k over p. The paths through (t, s) weigh
exp(alpha_t(s) + beta_t(s) - lp[t, l'_s]) (lp[t] is in both alpha and beta), hence

    d loss / d lp[t, k] = -gamma_t(k),
    gamma_t(k) = sum over s with l'_s = k of exp(alpha_t(s) + beta_t(s) - lp[t, k] + loss),

the posterior probability of class k at time t (0 for t >= T). PyTorch's kernel returns
exp(lp[t, k]) - gamma_t(k) instead, the gradient with respect to the logits of a
log_softmax over C; through that log_softmax both give the same logits gradient
(softmax - gamma, since gamma_t sums to 1), and zeroin's is the derivative of the function
it computes (finite differences agree), for log-probabilities from anywhere.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _leaf
from ..errors import ShapeError, ZeroinError
from ..function import NP, Function
from ..ops import _calln, op

__all__ = ["ctc_loss"]

_NAME = "ctc_loss"
_NEG = -np.inf


def _lse3(a, b, c):
    """Elementwise log(exp(a) + exp(b) + exp(c)), -inf where all three are -inf."""
    m = np.maximum(np.maximum(a, b), c)
    m[m == _NEG] = 0.0
    return np.log(np.exp(a - m) + np.exp(b - m) + np.exp(c - m)) + m


def _shift(x, k, fill=_NEG):
    """x moved k places along the last axis (right for k > 0, left for k < 0), filled."""
    out = np.full_like(x, fill)
    if k > 0:
        out[..., k:] = x[..., :-k]
    else:
        out[..., :k] = x[..., -k:]
    return out


def _lengths(what, x, n, t):
    """input_lengths / target_lengths as an int64 array (n,); t: log_probs' first size."""
    a = np.asarray(x.numpy() if isinstance(x, Tensor) else x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{_NAME}: {what} must hold integers (one length per sample), got "
                        f"dtype {a.dtype}; convert with {what}.long() or pass a tuple of ints")
    a = a.reshape(-1).astype(np.int64)
    if a.shape[0] != n:
        swapped = (f"; log_probs' first dimension has {t}: if it is (N, T, C), batch "
                   f"first, pass log_probs.transpose(0, 1)" if a.shape[0] == t != n else "")
        raise ShapeError(f"{_NAME}: {what} has {a.shape[0]} entries but the batch has {n} "
                         f"samples (log_probs (T, N, C) with N = {n}); give one length per "
                         f"sample{swapped}")
    if n and a.min() < 0:
        raise ShapeError(f"{_NAME}: {what} must be >= 0, got {a.min()} (sample "
                         f"{int(np.argmin(a))})")
    return a


def _padded(targets, tl, n, unbatched):
    """The targets as (N, max(target_lengths)) int64, from the padded or concatenated form."""
    y = np.asarray(targets)
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        y = y.astype(np.int64)                  # PyTorch takes whole-number floats too
    if y.dtype.kind not in "iu":
        raise TypeError(f"{_NAME}: targets must hold integer class labels, got dtype "
                        f"{y.dtype}; convert with targets.long()")
    y = y.astype(np.int64)
    smax = int(tl.max()) if n else 0
    if unbatched:
        if y.ndim != 1:
            raise ShapeError(f"{_NAME}: unbatched log_probs (T, C) take targets (S,), got "
                             f"shape {y.shape}")
        y = y[None]
    if y.ndim == 2:
        if y.shape[0] != n or y.shape[1] < smax:
            raise ShapeError(f"{_NAME}: padded targets of shape {y.shape} do not fit: "
                             f"expected ({n}, S) with S >= max(target_lengths) = {smax}; "
                             f"pad each sample's labels to one row, or concatenate them "
                             f"into a 1-D tensor of sum(target_lengths) labels")
        return y[:, :smax]
    if y.ndim != 1:
        raise ShapeError(f"{_NAME}: targets must be padded (N, S) or concatenated 1-D, got "
                         f"shape {y.shape}")
    total = int(tl.sum())
    if y.shape[0] != total:
        raise ShapeError(f"{_NAME}: concatenated targets have {y.shape[0]} labels but "
                         f"sum(target_lengths) = {total}; the 1-D form holds every sample's "
                         f"labels back to back, or pass padded targets (N, S)")
    out = np.zeros((n, smax), dtype=np.int64)
    out[np.arange(smax) < tl[:, None]] = y      # row by row, in order
    return out


def _check_labels(y, valid, c, blank):
    """Every label within its sample's target length is in 0..C-1 and not the blank."""
    from .functional import LabelError
    lab = y[valid]
    if not lab.size:
        return
    bad = (lab < 0) | (lab >= c)
    if bad.any():
        n, j = np.argwhere(valid)[np.argmax(bad)]
        raise LabelError(f"{_NAME}: target labels must be in 0..{c - 1} for log_probs with "
                         f"C = {c} classes, got {y[n, j]} (sample {n}, position {j}); give "
                         f"the model one output per label plus one for the blank")
    if (lab == blank).any():
        n, j = np.argwhere(valid)[np.argmax(lab == blank)]
        raise LabelError(f"{_NAME}: target label {blank} at sample {n}, position {j} is the "
                         f"blank (blank={blank}); the targets hold only real labels (shift "
                         f"them, or choose another blank index); padding after each "
                         f"sample's target length is ignored")


def _prepare(lp, targets, il, tl, blank, unbatched):
    """Checked (targets (N, S) int64, input_lengths (N,), target_lengths (N,))."""
    t, n, c = lp.shape
    if not lp.size:
        raise ShapeError(f"{_NAME}: log_probs must not be empty, got shape "
                         f"{lp.shape[:1] + lp.shape[2:] if unbatched else lp.shape}")
    il = _lengths("input_lengths", il, n, t)
    tl = _lengths("target_lengths", tl, n, t)
    if il.max() > t:
        raise ShapeError(f"{_NAME}: input_lengths must be at most T = {t} (the length of "
                         f"log_probs' first dimension), got {il.max()} (sample "
                         f"{int(np.argmax(il))}); log_probs is (T, N, C), time first")
    y = _padded(targets, tl, n, unbatched)
    _check_labels(y, np.arange(y.shape[1]) < tl[:, None], c, blank)
    return y, il, tl


class CTCLossOp(Function):
    """-log p(target | log_probs) per sample by the alpha recursion, then the reduction.

    Inputs: log_probs (T, N, C) (or (T, C) when ``unbatched``), targets, input_lengths,
    target_lengths (integer constants, checked in forward). The gradient with respect to
    log_probs is -gamma, the posterior of each class at each time step, from the beta
    recursion (derivation in the module docstring); 0 past each input length.
    """
    __slots__ = ("blank", "reduction", "unbatched", "zero_infinity")
    name = "ctc_loss"

    def __init__(self, blank, reduction, zero_infinity, unbatched):
        self.blank, self.reduction = blank, reduction
        self.zero_infinity, self.unbatched = zero_infinity, unbatched
        self.saved = None

    def label(self):
        return self.name if self.reduction == "mean" else f"{self.name}[{self.reduction}]"

    def forward(self, lp, targets, il, tl):
        x = lp[:, None] if self.unbatched else lp
        y, il, tl = _prepare(x, targets, il, tl, self.blank, self.unbatched)
        ct = np.promote_types(x.dtype, np.float32)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ext, lpe, skip, alpha, nll = _alpha(x.astype(ct, copy=False), y, il, tl,
                                                self.blank)
        self.saved = (ext, lpe, skip, alpha, nll, il, tl)
        loss = np.where(np.isinf(nll), 0.0, nll) if self.zero_infinity else nll
        if self.reduction == "mean":
            out = np.mean(loss / np.maximum(tl, 1))
        elif self.reduction == "sum":
            out = np.sum(loss)
        else:
            out = loss[0] if self.unbatched else loss
        return np.asarray(out, dtype=lp.dtype)

    def _scale(self, g, n, tl):
        """The factor of each sample's loss in the output, times the incoming gradient."""
        if self.reduction == "none":
            return g.reshape(-1)
        if self.reduction == "sum":
            return np.full(n, g.reshape(()))
        return g.reshape(()) / (n * np.maximum(tl, 1))

    def posterior_grad(self, lp, targets, il, tl):
        """d (per-sample loss) / d log_probs, (T, N, C) in the computing dtype."""
        if self.saved is None:                  # released, or a copied op: recompute
            self.forward(lp, targets, il, tl)
        x = lp[:, None] if self.unbatched else lp
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            grad = _grad(x.shape, *self.saved, self.zero_infinity)
        return grad

    def backward(self, xp, g, out, lp, targets, il, tl):
        if not self.needs_input_grad[0]:
            return None, None, None, None
        if xp is not NP:        # create_graph: a recorded node (its own gradient refused)
            consts = (targets.numpy(), il.numpy(), tl.numpy())
            return CTCLossBackwardOp(self, consts)(g, lp), None, None, None
        grad = self.posterior_grad(lp, targets, il, tl)
        grad *= self._scale(g, grad.shape[1], self.saved[-1])[:, None].astype(grad.dtype)
        return grad.reshape(lp.shape).astype(lp.dtype, copy=False), None, None, None


class CTCLossBackwardOp(Function):
    """ctc_loss's gradient as a node of its own (``create_graph=True``), so that a first
    derivative can be taken with create_graph; its own derivative (the loss's second
    derivative) is not implemented, as in PyTorch: differentiating it raises."""
    __slots__ = ("consts", "loss")
    name = "ctc_loss_backward"

    def __init__(self, loss, consts):
        self.loss, self.consts, self.saved = loss, consts, None

    def forward(self, g, lp):
        f = self.loss
        grad = f.posterior_grad(lp, *self.consts)           # (T, N, C)
        s = f._scale(g, grad.shape[1], f.saved[-1])
        return (grad * s[:, None]).reshape(lp.shape).astype(lp.dtype, copy=False)

    def backward(self, xp, gg, out, g, lp):
        raise ZeroinError(f"{_NAME}: the second derivative (differentiating ctc_loss's "
                          f"gradient again) is not implemented, as in PyTorch; "
                          f"differentiate once, or detach the gradient")


def _alpha(lp, y, il, tl, blank):
    """The forward recursion over time, vectorised over the batch and the extended labels.

    Returns ext (N, S') the extended labels (blank where past a target's end), lpe (T', N,
    S') their log-probabilities (-inf past the end), skip (N, S') where s-2 -> s is allowed,
    alpha (T', N, S') and the per-sample loss nll (N,), with T' = max(input_lengths).
    """
    n, smax = y.shape
    rows = np.arange(n)
    ext = np.full((n, 2 * smax + 1), blank, dtype=np.int64)
    ext[:, 1::2] = y
    pos = np.arange(ext.shape[1])
    valid = pos < 2 * tl[:, None] + 1
    ext[~valid] = blank
    tmax = int(il.max())
    lpe = lp[:tmax][:, rows[:, None], ext]                          # (T', N, S')
    lpe[:, ~valid] = _NEG
    skip = np.zeros(ext.shape, dtype=bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    alpha = np.full(lpe.shape, _NEG, dtype=lpe.dtype)
    if tmax:
        alpha[0, :, :2] = lpe[0, :, :2]
    for t in range(1, tmax):
        a = alpha[t - 1]
        alpha[t] = lpe[t] + _lse3(a, _shift(a, 1), np.where(skip, _shift(a, 2), _NEG))
    end = 2 * tl                                                    # the final blank
    last = (alpha[np.maximum(il - 1, 0), rows] if tmax           # (N, S'); none: no steps
            else np.full(ext.shape, _NEG, dtype=lpe.dtype))
    ll = np.logaddexp(last[rows, end], np.where(tl > 0, last[rows, end - 1], _NEG))
    ll = np.where(il > 0, ll, np.where(tl == 0, 0.0, _NEG))         # no time steps
    return ext, lpe, skip, alpha, -ll


def _grad(shape, ext, lpe, skip, alpha, nll, il, tl, zero_infinity):
    """d nll / d log_probs (T, N, C): -gamma from the beta recursion (module docstring)."""
    tmax, n, sx = lpe.shape
    rows = np.arange(n)
    ends = np.zeros((n, sx), dtype=bool)
    ends[rows, 2 * tl] = True
    ends[rows, np.maximum(2 * tl - 1, 0)] |= tl > 0
    skip_next = _shift(skip, -2, False)          # s -> s+2 allowed
    beta = np.full(lpe.shape, _NEG, dtype=lpe.dtype)
    for t in range(tmax - 1, -1, -1):
        state = np.where(ends, lpe[t], _NEG)            # a sample's last step: the ends
        if t + 1 < tmax:                                # earlier steps: the recursion
            b = beta[t + 1]
            rec = lpe[t] + _lse3(b, _shift(b, -1), np.where(skip_next, _shift(b, -2), _NEG))
            state = np.where((t < il - 1)[:, None], rec, state)
        beta[t] = np.where((t <= il - 1)[:, None], state, _NEG)     # -inf past the input
    # paths through a class of probability 0 carry no mass (not -inf + inf)
    gamma = np.exp(alpha + beta - np.where(lpe == _NEG, 0.0, lpe) + nll[:, None])
    inf = np.isinf(nll)
    gamma[:, inf] = 0.0
    t_, c = shape[0], shape[2]
    idx = (np.arange(tmax)[:, None, None] * n + rows[:, None]) * c + ext
    grad = 0.0 - np.bincount(idx.ravel(), gamma.ravel(), minlength=t_ * n * c)   # no -0.0
    grad = grad.reshape(shape).astype(lpe.dtype, copy=False)
    if inf.any() and not zero_infinity:          # PyTorch's NaN where p = 0: 0 / 0
        live = np.arange(t_)[:, None] < il[None, :]
        grad[live[:, :, None] & inf[None, :, None] & np.ones(c, bool)] = np.nan
    return grad


def _int_leaf(x, what):
    """An integer argument (targets, lengths) as a constant tensor input of the op."""
    if isinstance(x, Tensor):
        return x
    try:
        return _leaf(np.asarray(x))
    except (TypeError, ValueError):
        raise TypeError(f"{_NAME}: {what} must be a tensor, an array or a tuple of ints, got "
                        f"{type(x).__name__}") from None


@op(CTCLossOp, export=False)
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss, PyTorch's ``F.ctc_loss``.

    log_probs : (T, N, C) log-softmax outputs, time first (or (T, C), one sample)
    targets : padded (N, S) with S >= max(target_lengths) (padding ignored), or all the
        samples' labels concatenated (1-D, sum(target_lengths) long); labels in 0..C-1,
        never ``blank``
    input_lengths, target_lengths : (N,) tensors or tuples of ints, input_lengths <= T
    reduction : 'mean' (each loss divided by its target length, at least 1, then the
        batch mean), 'sum' or 'none' (one loss per sample)
    zero_infinity : impossible alignments (a target too long for its input: loss inf)
        give 0 and a zero gradient; otherwise inf, and NaN gradients, as in PyTorch.
    """
    from .functional import _check_reduction, _tensor_arg
    _check_reduction(_NAME, reduction)
    x = _tensor_arg(log_probs, _NAME, "log_probs")
    if x.dtype.kind != "f":
        raise TypeError(f"{_NAME}: log_probs must be floating point (log_softmax of the "
                        f"model's output), got dtype {x.dtype}")
    if x.ndim not in (2, 3):
        raise ShapeError(f"{_NAME}: log_probs must be (T, N, C) (time, batch, classes) or "
                         f"(T, C) for one sample, got shape {x.shape}")
    c = x.shape[-1]
    if not 0 <= blank < c:
        raise ValueError(f"{_NAME}: blank must be in 0..{c - 1} (a class of log_probs, "
                         f"C = {c}), got {blank}")
    inputs = (x, _int_leaf(targets, "targets"), _int_leaf(input_lengths, "input_lengths"),
              _int_leaf(target_lengths, "target_lengths"))
    return _calln(CTCLossOp(int(blank), reduction, bool(zero_infinity), x.ndim == 2), inputs)
