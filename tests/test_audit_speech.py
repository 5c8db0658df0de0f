"""Audit against a speech-recognition course's homeworks (CMU 11-785, *Introduction to Deep
Learning*, as students write them): HW1P2's frame MLP on phoneme frames with context
padding, HW3P2's CTC model (Conv1d front end, pyramidal BiLSTM over packed sequences,
LockedDropout, ``nn.CTCLoss``, greedy and beam decoding, Levenshtein distance) and HW4P2's
Listen-Attend-Spell (``nn.LSTMCell`` speller, masked dot-product attention, teacher forcing,
label-smoothed masked cross-entropy, weight tying, greedy decoding). Each piece is written
once over a library ``L`` and run as ``torch`` and as ``zeroin`` (``import zeroin as
torch``) with the same made-up data and weights copied from torch: float64 to ~1e-10,
float32 to float resolution. See docs/speech.md."""
import warnings

import numpy as np
import pytest
from _audit import (
    close,
    copy_weights,
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
    torch_stream,
)
from _audit import np_of as _np

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim

torch = pytest.importorskip("torch")

F32 = {"rtol": 2e-5, "atol": 2e-6}
F64 = {"rtol": 1e-10, "atol": 1e-12}
LIBS = (torch, zeroin)


def _set_dtype(name):
    for L in LIBS:
        L.set_default_dtype(getattr(L, name))
    return F32 if name == "float32" else F64


def _libs(L):
    return (torch, torch.nn, torch.nn.functional, torch.optim) if L is torch else \
        (zeroin, znn, ZF, zoptim)


# --- CTC loss ------------------------------------------------------------------------------

T_IN, B_CTC, C_CTC = 9, 4, 6
# Row 0 repeats a label (needs a blank between the two 1s), row 2 needs 2 * 5 - 1 = 9 frames
# but gets 7 (an impossible alignment: inf, or 0 with zero_infinity), row 3 has length 0.
_TARGETS = np.array([[1, 1, 2, 0, 0], [3, 4, 5, 2, 0], [2, 2, 2, 2, 2], [0, 0, 0, 0, 0]])
_TLENS, _ILENS = [3, 4, 5, 0], [9, 6, 7, 5]


def _ctc_case(L, x, blank, reduction, zero_infinity, flat, as_tuple, module):
    """log_softmax(2) of a linear layer's output into the CTC loss, as HW3P2 calls it;
    returns the loss and the logits' input and the weight's gradients."""
    _, nn, F, _ = _libs(L)
    lin = nn.Linear(x.shape[-1], C_CTC)
    lin.load_state_dict({"weight": L.tensor(_W_CTC.astype(x.dtype)),
                         "bias": L.tensor(_B_CTC.astype(x.dtype))})
    xx = L.tensor(x, requires_grad=True)
    log_probs = lin(xx).log_softmax(2)                       # (T, B, C)
    labels = _TARGETS if blank == 0 else np.where(_TARGETS == blank, 0, _TARGETS)
    if flat:
        targets = L.tensor(np.concatenate([labels[b, :n] for b, n in enumerate(_TLENS)]))
    else:
        targets = L.tensor(labels)
    il, tl = (tuple(_ILENS), tuple(_TLENS)) if as_tuple else (L.tensor(_ILENS), L.tensor(_TLENS))
    if module:
        loss = nn.CTCLoss(blank=blank, reduction=reduction,
                          zero_infinity=zero_infinity)(log_probs, targets, il, tl)
    else:
        loss = F.ctc_loss(log_probs, targets, il, tl, blank=blank, reduction=reduction,
                          zero_infinity=zero_infinity)
    loss.sum().backward()          # an impossible row's gradient: NaN in both, or 0 if zeroed
    return [loss, xx.grad, lin.weight.grad]


_RNG = np.random.default_rng(11785)
_W_CTC, _B_CTC = _RNG.standard_normal((C_CTC, 5)) * 0.5, _RNG.standard_normal(C_CTC) * 0.1
_X_CTC = _RNG.standard_normal((T_IN, B_CTC, 5))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("blank", [0, 5])
def test_ctc_loss_as_torch(dtype, blank):
    tol = _set_dtype(dtype)
    x = _X_CTC.astype(dtype)
    for reduction in ("none", "sum", "mean"):
        for zero_infinity in (False, True):
            for flat, as_tuple, module in ((False, False, True), (True, True, False),
                                           (False, True, False), (True, False, True)):
                args = (x, blank, reduction, zero_infinity, flat, as_tuple, module)
                z, t = _ctc_case(zeroin, *args), _ctc_case(torch, *args)
                for a, b in zip(z, t, strict=True):
                    assert tuple(a.shape) == tuple(b.shape) and a.dtype == getattr(zeroin, dtype)
                    # inf stays inf and NaN stays NaN (assert_allclose compares them)
                    close(a, b, **tol)
                loss = _np(z[0])
                if reduction == "none":
                    assert np.isinf(loss[2]) != zero_infinity and np.all(np.isfinite(loss[[0, 1, 3]]))
                    assert zero_infinity is False or loss[2] == 0


def test_ctc_loss_gradient_by_finite_differences():
    """The gradient w.r.t. a model's logits (through log_softmax(2)) against central
    differences of zeroin's own float64 loss, impossible row zeroed."""
    x = _X_CTC[:, :3].copy()
    il, tl = zeroin.tensor([9, 6, 7]), zeroin.tensor(_TLENS[:3])

    def loss_of(a):
        lp = ZF.log_softmax(zeroin.tensor(a), 2)
        return ZF.ctc_loss(lp, zeroin.tensor(_TARGETS[:3]), il, tl, zero_infinity=True)

    logits = zeroin.tensor(x @ _W_CTC.T, requires_grad=True)
    loss_of_t = ZF.ctc_loss(logits.log_softmax(2), zeroin.tensor(_TARGETS[:3]), il, tl,
                            zero_infinity=True)
    loss_of_t.backward()
    a, num, h = x @ _W_CTC.T, np.zeros((T_IN, 3, C_CTC)), 1e-6
    for i in np.ndindex(a.shape):
        up, down = a.copy(), a.copy()
        up[i] += h
        down[i] -= h
        num[i] = (loss_of(up).item() - loss_of(down).item()) / (2 * h)
    np.testing.assert_allclose(_np(logits.grad), num, rtol=1e-6, atol=1e-8)
    assert np.abs(num[:, 2]).max() == 0 and np.abs(num[:, :2]).max() > 1e-2


def test_ctc_log_probs_gradient_is_the_derivative():
    """What differs on purpose: ``log_probs.grad`` is the derivative of the loss (minus the
    posterior of each class, finite differences agree above), where PyTorch's kernel
    returns that plus exp(log_probs) (the logits' gradient for a log_softmax in front);
    through log_softmax(2) both give the same logits' gradient (test_ctc_loss_as_torch)."""
    res = {}
    for L in LIBS:
        logits = L.tensor(_X_CTC[:, :2] @ _W_CTC.T, requires_grad=True)
        lp = logits.log_softmax(2)
        lp.retain_grad()
        L.nn.functional.ctc_loss(lp, L.tensor(_TARGETS[:2]), L.tensor(_ILENS[:2]),
                                 L.tensor(_TLENS[:2]), reduction="sum").backward()
        res[L] = _np(lp.grad), _np(lp.detach()), _np(logits.grad)
    (zg, lp, zl), (tg, _, tl) = res[zeroin], res[torch]
    close(zl, tl, 1e-12)
    live = np.arange(T_IN)[:, None] < np.array(_ILENS[:2])[None, :]      # (T, N)
    close(tg, np.where(live[..., None], zg + np.exp(lp), 0), 1e-12)
    assert np.all(zg <= 0) and np.allclose(zg[live].sum(-1), -1)


# --- nn.utils.rnn and packed RNNs ------------------------------------------------------------

_LENS = [4, 7, 2, 5]
_SEQS = [_RNG.standard_normal((n, 3)) for n in _LENS]


def test_rnn_utils_as_torch():
    res = {}
    for L in LIBS:
        U = L.nn.utils.rnn
        seqs = [L.tensor(s) for s in _SEQS]
        out = [U.pad_sequence(seqs, batch_first=True, padding_value=-1.0), U.pad_sequence(seqs)]
        padded = out[0]
        for lengths in (_LENS, L.tensor(_LENS)):
            packed = U.pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
            out += [packed.data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices]
            for batch_first in (True, False):
                out += list(U.pad_packed_sequence(packed, batch_first=batch_first, total_length=9))
            out += list(U.pad_packed_sequence(packed, batch_first=True, padding_value=0.5))
        srt = sorted(seqs, key=len, reverse=True)
        packed = U.pack_sequence(srt)
        assert packed.sorted_indices is None and packed.unsorted_indices is None
        out += [packed.data, packed.batch_sizes]
        packed = U.pack_padded_sequence(U.pad_sequence(srt), [len(s) for s in srt])
        out += [packed.data, packed.batch_sizes, U.pad_packed_sequence(packed)[0]]
        packed = U.pack_sequence(seqs, enforce_sorted=False)
        out += [packed.data, packed.sorted_indices, packed.unsorted_indices]
        # a layer on the packed data, packed again (HW3P2's dropout / LayerNorm between LSTMs)
        again = U.PackedSequence(packed.data * 2, packed.batch_sizes, packed.sorted_indices,
                                 packed.unsorted_indices)
        out += list(U.pad_packed_sequence(again, batch_first=True))
        with pytest.raises(Exception, match="enforce_sorted"):
            U.pack_padded_sequence(padded, _LENS, batch_first=True)
        res[L] = out
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        close(z, t, 0)


def _packed_rnn_run(L, kind, dtype, tmodel=None):
    """A 2-layer bidirectional batch_first LSTM / GRU over a padded batch packed with
    enforce_sorted=False, the output padded back; returns the outputs and the gradients."""
    _, nn, _F, _ = _libs(L)
    U = nn.utils.rnn
    rnn = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    if tmodel is not None:
        copy_weights(tmodel, rnn)
    x = L.tensor(np.stack([np.pad(s, ((0, 7 - len(s)), (0, 0))) for s in _SEQS]).astype(dtype),
                 requires_grad=True)
    packed = U.pack_padded_sequence(x, L.tensor(_LENS), batch_first=True, enforce_sorted=False)
    out, hidden = rnn(packed)
    y, lens = U.pad_packed_sequence(out, batch_first=True)
    h_n, c_n = hidden if kind == "LSTM" else (hidden, None)
    loss = (y ** 2).sum() + h_n.sum() * 0.5 + (0 if c_n is None else (c_n ** 3).sum())
    loss.backward()
    res = [out.data, out.batch_sizes, out.sorted_indices, y, lens, h_n, x.grad]
    res += [c_n] if c_n is not None else []
    return res + [p.grad for p in rnn.parameters()], rnn


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_packed_bidirectional_rnn_as_torch(kind, dtype):
    tol = _set_dtype(dtype)
    torch.manual_seed(0)
    t, tmodel = _packed_rnn_run(torch, kind, dtype)
    z, _ = _packed_rnn_run(zeroin, kind, dtype, tmodel)
    for a, b in zip(z, t, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, **tol)


# --- HW3P2: Conv1d front end, pyramidal BiLSTM, LockedDropout, CTC ----------------------------

def _hw3p2_model(L, n_feat=8, embed=6, hidden=5, n_classes=5, p_locked=0.3):
    """The homework's ASR model, written as students write it (classes inside, so that each
    library gets its own)."""
    _, nn, _F, _ = _libs(L)
    U = nn.utils.rnn

    class PermuteBlock(nn.Module):
        def forward(self, x):
            return x.transpose(1, 2)

    class LockedDropout(nn.Module):
        """One mask per utterance and channel, shared over time (batch_first input)."""
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or not self.p:
                return x
            mask = x.new_empty(x.size(0), 1, x.size(2)).bernoulli_(1 - self.p)
            return x * mask.div_(1 - self.p)

    class pBLSTM(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.blstm = nn.LSTM(2 * input_size, hidden_size, bidirectional=True,
                                 batch_first=True)

        def trunc_reshape(self, x, x_lens):
            if x.shape[1] % 2 == 1:
                x = x[:, :-1, :]
            B, T, H = x.shape
            return x.reshape(B, T // 2, 2 * H), L.div(x_lens, 2, rounding_mode="floor")

        def forward(self, x_packed):
            x, x_lens = U.pad_packed_sequence(x_packed, batch_first=True)
            x, x_lens = self.trunc_reshape(x, x_lens)
            x = U.pack_padded_sequence(x, x_lens, batch_first=True, enforce_sorted=False)
            out, _ = self.blstm(x)
            return out

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Sequential(
                PermuteBlock(), nn.Conv1d(n_feat, embed, kernel_size=3, padding=1),
                nn.BatchNorm1d(embed), nn.GELU(), PermuteBlock())
            self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
            self.pBLSTMs = nn.Sequential(pBLSTM(2 * hidden, hidden))
            self.locked = LockedDropout(p_locked)

        def forward(self, x, x_lens):
            x = self.embedding(x)
            x = U.pack_padded_sequence(x, x_lens, batch_first=True, enforce_sorted=False)
            x, _ = self.lstm(x)
            x = self.pBLSTMs(x)
            out, lens = U.pad_packed_sequence(x, batch_first=True)
            return self.locked(out), lens

    class ASRModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(),
                                         nn.Dropout(0.2), nn.Linear(hidden, n_classes))
            self.softmax = nn.LogSoftmax(dim=2)

        def forward(self, x, x_lens):
            enc, enc_lens = self.encoder(x, x_lens)
            return self.softmax(self.decoder(enc)), enc_lens

    return ASRModel()


_FRAMES = [13, 11, 8, 10]
_X3 = [_RNG.standard_normal((n, 8)) for n in _FRAMES]
_Y3 = [[1, 2, 2], [3, 1], [4, 4], [2, 3, 1]]                # labels 1..4, 0 is the blank


def _hw3p2_batch(L, dtype):
    """The homework's collate_fn: pad the features and the labels, keep the lengths."""
    U = L.nn.utils.rnn
    x = U.pad_sequence([L.tensor(a.astype(dtype)) for a in _X3], batch_first=True)
    y = U.pad_sequence([L.tensor(b) for b in _Y3], batch_first=True)
    return x, y, L.tensor(_FRAMES), L.tensor([len(b) for b in _Y3])


def _hw3p2_train(L, dtype, scheduler_name, tmodel=None, steps=4):
    """A few steps of the homework's train loop: autocast and GradScaler (no-ops on the
    CPU), CTCLoss on (T, B, C) log-probabilities, clip_grad_norm_, AdamW, a scheduler."""
    _, nn, _F, optim = _libs(L)
    model = _hw3p2_model(L)
    if tmodel is not None:
        copy_weights(tmodel, model)
    criterion = nn.CTCLoss(blank=0)
    optimizer = optim.AdamW(model.parameters(), lr=2e-2, weight_decay=1e-2)
    if scheduler_name == "plateau":
        scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min", factor=0.5, patience=0)
    else:
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    scaler = L.amp.GradScaler("cuda")
    x, y, lx, ly = _hw3p2_batch(L, dtype)
    L.manual_seed(7)
    losses, norms, lrs = [], [], []
    model.train()
    for step in range(steps):
        optimizer.zero_grad()
        with L.autocast(device_type="cuda", dtype=L.float16):
            h, lh = model(x, lx)
            h = L.permute(h, (1, 0, 2))
            loss = criterion(h, y, lh, ly)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.detach())
        if scheduler_name == "plateau":
            scheduler.step(losses[0].item())           # a validation metric that is stuck
        else:
            scheduler.step()
        lrs.append(optimizer.param_groups[0]["lr"])
    model.eval()
    with L.inference_mode():
        h, lh = model(x, lx)
    # the Conv1d bias before BatchNorm1d has a zero gradient up to rounding, which Adam
    # scales up to lr-sized steps: in float32 it (and the running mean it shifts) is
    # rounding noise, which BatchNorm takes out again; compared in float64 only
    noise = ("encoder.embedding.1.bias", "encoder.embedding.2.running_mean")
    state = [v for k, v in model.state_dict().items() if dtype == "float64" or k not in noise]
    return model, [*losses, *norms, h, lh, *state], lrs


@pytest.mark.parametrize("dtype,scheduler", [("float64", "plateau"), ("float32", "cosine")])
def test_hw3p2_ctc_model_trains_as_torch(dtype, scheduler):
    """The train loop with LockedDropout and Dropout drawn on torch's stream: the same
    masks, so the same losses, gradient norms, weights, BatchNorm statistics and lrs."""
    tol = _set_dtype(dtype)
    if dtype == "float32":        # four Adam steps of 2e-2 carry float32's rounding further
        tol = {"rtol": 2e-4, "atol": 2e-5}
    torch_stream()
    torch.manual_seed(0)
    init = _hw3p2_model(torch)
    with warnings.catch_warnings():   # both: "GradScaler / autocast ... Disabling" on the CPU
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        _, t, tlrs = _hw3p2_train(torch, dtype, scheduler)
        _, z, zlrs = _hw3p2_train(zeroin, dtype, scheduler, tmodel=init)
    assert zlrs == tlrs and len(set(tlrs)) > 1
    for a, b in zip(z, t, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, **tol)


def _awd_locked_dropout(L, x, dropout=0.4):
    """LockedDropout as AWD-LSTM writes it (many HW3P2 / HW4P2 listeners copy it): one
    mask of shape (1, B, H) for a time-first (T, B, H) batch, from ``x.data.new``."""
    m = x.data.new(1, x.size(1), x.size(2)).bernoulli_(1 - dropout)
    mask = L.autograd.Variable(m, requires_grad=False) / (1 - dropout)
    return mask.expand_as(x) * x


def test_locked_dropout_time_first_on_torch_stream():
    """The (1, B, H) mask over a time-first BiLSTM output on torch's stream: the same mask
    for every time step, the same as torch's, and the same gradients."""
    _set_dtype("float32")
    torch_stream()
    torch.manual_seed(0)
    tl = torch.nn.LSTM(3, 4, bidirectional=True)
    res = {}
    for L in LIBS:
        lstm = tl if L is torch else copy_weights(tl, znn.LSTM(3, 4, bidirectional=True))
        U = L.nn.utils.rnn
        x = L.tensor(np.stack([np.pad(s, ((0, 7 - len(s)), (0, 0))) for s in _SEQS], 1)
                     .astype("float32"), requires_grad=True)
        out, _ = lstm(U.pack_padded_sequence(x, _LENS, enforce_sorted=False))
        out, _ = U.pad_packed_sequence(out)                          # (T, B, 2H)
        L.manual_seed(5)
        y = _awd_locked_dropout(L, out)
        (y * L.arange(y.numel()).reshape(y.shape).to(y.dtype).cos()).sum().backward()
        res[L] = [y, x.grad, *[p.grad for p in lstm.parameters()]]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        close(z, t, **F32)
    kept = _np(res[zeroin][0])[0] != 0                               # (B, 2H) at t = 0
    assert 0 < kept.sum() < kept.size
    assert np.all((_np(res[zeroin][0])[:2] != 0) == kept)            # shared over time


# --- decoding: greedy, beam search, Levenshtein distance ---------------------------------------

LABELS = ["-", "a", "b", "c", "d"]                          # "-" is the blank, index 0


def greedy_decode(L, log_probs, lens):
    """argmax per frame, collapse repeats, drop blanks; (B, T, C) log-probabilities."""
    preds = L.argmax(log_probs, dim=2)
    out = []
    for b in range(preds.shape[0]):
        path = L.unique_consecutive(preds[b, :lens[b]])
        out.append("".join(LABELS[i] for i in path[path != 0].tolist()))
    return out


def greedy_decode_by_hand(L, log_probs, lens):
    """The same with a keep-mask: a frame is kept if it differs from the one before."""
    out = []
    for b in range(log_probs.shape[0]):
        path = log_probs[b, :int(lens[b])].argmax(-1)
        keep = L.cat([L.tensor([True]), path[1:] != path[:-1]]) & (path != 0)
        out.append("".join(LABELS[i] for i in path[keep].tolist()))
    return out


def ctc_beam_search(L, log_probs, beam_width, blank=0):
    """Prefix beam search over one utterance's (T, C) log-probabilities: each prefix keeps
    the log-probabilities of its paths ending in a blank and in a label (0-d tensors)."""
    neg = L.tensor(float("-inf"), dtype=log_probs.dtype)
    beams = {(): (L.tensor(0.0, dtype=log_probs.dtype), neg)}
    for t in range(log_probs.shape[0]):
        lp, new = log_probs[t], {}
        for prefix, (pb, pnb) in beams.items():
            total = L.logaddexp(pb, pnb)
            b_, nb_ = new.get(prefix, (neg, neg))
            new[prefix] = (L.logaddexp(b_, total + lp[blank]), nb_)
            for c in range(log_probs.shape[1]):
                if c == blank:
                    continue
                ext = prefix + (c,)
                b_, nb_ = new.get(ext, (neg, neg))
                if prefix and prefix[-1] == c:      # "aa" needs a blank between; "a a" stays "a"
                    new[ext] = (b_, L.logaddexp(nb_, pb + lp[c]))
                    b2, nb2 = new[prefix]
                    new[prefix] = (b2, L.logaddexp(nb2, pnb + lp[c]))
                else:
                    new[ext] = (b_, L.logaddexp(nb_, total + lp[c]))
        keys = list(new)
        scores = L.stack([L.logaddexp(*new[k]) for k in keys])
        top = scores.topk(min(beam_width, len(keys))).indices.tolist()
        beams = {keys[i]: new[keys[i]] for i in top}
    return {p: L.logaddexp(*v) for p, v in beams.items()}


def levenshtein(a, b):
    """Edit distance (insertions, deletions, substitutions), one row at a time."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_levenshtein_distance():
    assert levenshtein("kitten", "sitting") == 3 and levenshtein("flaw", "lawn") == 2
    assert levenshtein("", "abc") == levenshtein("abc", "") == 3 and levenshtein("ab", "ab") == 0
    assert levenshtein("abcd", "acbd") == 2


def test_decoding_as_torch():
    """Greedy (two ways) and prefix beam search on the same log-probabilities: the same
    strings and scores; a full beam's scores are CTC probabilities (exp(-ctc_loss))."""
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((3, 6, len(LABELS))) * 2
    lens = [6, 5, 4]
    res = {}
    for L in LIBS:
        lp = L.nn.functional.log_softmax(L.tensor(logits), dim=2)
        g1, g2 = greedy_decode(L, lp, L.tensor(lens)), greedy_decode_by_hand(L, lp, lens)
        assert g1 == g2 and any(len(s) < n for s, n in zip(g1, lens, strict=True))
        beams = [ctc_beam_search(L, lp[b, :lens[b]], beam_width=4) for b in range(3)]
        full = ctc_beam_search(L, lp[2, :4], beam_width=10 ** 6)
        res[L] = g1, beams, full, lp
    assert res[zeroin][0] == res[torch][0]
    for zb, tb in zip(res[zeroin][1], res[torch][1], strict=True):
        assert list(zb) == list(tb)
        close(zeroin.stack(list(zb.values())), torch.stack(list(tb.values())), 1e-12)
    # every labelling of 4 frames, scored by the full beam, is CTC's probability of it
    full, lp = res[zeroin][2], res[torch][3]
    total = 0.0
    for prefix, score in full.items():
        nll = torch.nn.functional.ctc_loss(lp[2:3, :4].transpose(0, 1), torch.tensor([prefix]),
                                           [4], [len(prefix)], reduction="sum") \
            if prefix else -lp[2, :4, 0].sum()
        close(score, -nll, 1e-10)
        total += float(np.exp(_np(score)))
    assert abs(total - 1) < 1e-12 and len(full) > 20
    dists = [levenshtein(h, t) for h, t in zip(res[zeroin][0], ["abc", "dd", "cab"], strict=True)]
    assert dists == [levenshtein(h, t) for h, t in zip(res[torch][0], ["abc", "dd", "cab"],
                                                       strict=True)]


# --- HW4P2: Listen, Attend and Spell -----------------------------------------------------------

VOCAB = ["<pad>", "<sos>", "<eos>", "a", "b", "c", "d"]
PAD, SOS, EOS = 0, 1, 2


def _las_model(L, n_feat=6, hidden=5, key=4, speller_hidden=6, masked_value=-1e9):
    """The homework's LAS: a pBLSTM listener with key / value projections, a two-cell
    LSTMCell speller with dot-product attention, the output layer tied to the embedding."""
    _, nn, F, _ = _libs(L)
    U = nn.utils.rnn

    class Listener(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(n_feat, hidden, bidirectional=True, batch_first=True)
            self.plstm = nn.LSTM(4 * hidden, hidden, bidirectional=True, batch_first=True)
            self.key_network = nn.Linear(2 * hidden, key)
            self.value_network = nn.Linear(2 * hidden, key)

        def forward(self, x, x_lens):
            packed = U.pack_padded_sequence(x, x_lens, batch_first=True, enforce_sorted=False)
            out, lens = U.pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
            out = out[:, :out.shape[1] // 2 * 2]
            out, lens = out.reshape(out.shape[0], out.shape[1] // 2, -1), lens // 2
            packed = U.pack_padded_sequence(out, lens, batch_first=True, enforce_sorted=False)
            out, lens = U.pad_packed_sequence(self.plstm(packed)[0], batch_first=True)
            return self.key_network(out), self.value_network(out), lens

    class Attention(nn.Module):
        def forward(self, query, key, value, mask):
            energy = L.bmm(key, query.unsqueeze(2)).squeeze(2)          # (B, T)
            energy = energy.masked_fill(mask, masked_value)
            attention = F.softmax(energy, dim=1)
            context = L.bmm(attention.unsqueeze(1), value).squeeze(1)   # (B, key)
            return context, attention

    class Speller(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(len(VOCAB), 2 * key, padding_idx=PAD)
            self.lstm1 = nn.LSTMCell(2 * key + key, speller_hidden)
            self.lstm2 = nn.LSTMCell(speller_hidden, key)
            self.attention = Attention()
            self.character_prob = nn.Linear(2 * key, len(VOCAB))
            self.character_prob.weight = self.embedding.weight         # weight tying

        def forward(self, key_, value, enc_lens, y=None, tf_rate=1.0, coin=None, max_len=8):
            B, T = key_.shape[:2]
            mask = L.arange(T)[None, :] >= enc_lens[:, None]            # True on padding
            steps = y.shape[1] if y is not None else max_len
            hidden, context = [None, None], value[:, 0, :]
            prediction = L.full((B,), SOS, dtype=L.long)
            preds, attentions = [], []
            for i in range(steps):
                if y is not None and i > 0 and coin() < tf_rate:      # teacher forcing
                    char_embed = self.embedding(y[:, i - 1])
                else:
                    char_embed = self.embedding(prediction)
                hidden[0] = self.lstm1(L.cat([char_embed, context], dim=1), hidden[0])
                hidden[1] = self.lstm2(hidden[0][0], hidden[1])
                query = hidden[1][0]
                context, attention = self.attention(query, key_, value, mask)
                logits = self.character_prob(L.cat([query, context], dim=1))
                prediction = logits.argmax(dim=-1)
                preds.append(logits.unsqueeze(1))
                attentions.append(attention)
            return L.cat(preds, dim=1), L.stack(attentions, dim=1)

    class LAS(nn.Module):
        def __init__(self):
            super().__init__()
            self.listener, self.speller = Listener(), Speller()

        def forward(self, x, x_lens, y=None, tf_rate=1.0, coin=None):
            k, v, lens = self.listener(x, x_lens)
            return self.speller(k, v, lens, y, tf_rate, coin)

    return LAS()


_FRAMES4 = [11, 8, 9]
_X4 = [_RNG.standard_normal((n, 6)) for n in _FRAMES4]
_Y4 = ["abca", "dd", "bad"]


def _las_batch(L, dtype):
    """Features padded; the transcript as <sos> + chars (decoder input, HW4P2's y) and
    chars + <eos> (its target), padded with <pad>."""
    U = L.nn.utils.rnn
    x = U.pad_sequence([L.tensor(a.astype(dtype)) for a in _X4], batch_first=True)
    ids = [[VOCAB.index(c) for c in s] for s in _Y4]
    y_out = U.pad_sequence([L.tensor(t + [EOS]) for t in ids], batch_first=True,
                           padding_value=PAD)
    return x, L.tensor(_FRAMES4), y_out, L.tensor([len(t) + 1 for t in ids])


def _las_train(L, dtype, tmodel=None, steps=3, masked_value=-1e9):
    """Teacher forcing at 0.7 (the same coin flips in both libraries), CrossEntropyLoss
    with ignore_index, label_smoothing and reduction='none', masked by the lengths."""
    import random
    _, nn, _F, optim = _libs(L)
    model = _las_model(L, masked_value=masked_value)
    if tmodel is not None:
        copy_weights(tmodel, model)
    sp = model.speller
    assert sp.character_prob.weight is sp.embedding.weight
    assert len(list(model.parameters())) == len(model.state_dict()) - 1
    criterion = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=0.1, reduction="none")
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    x, lx, y, ly = _las_batch(L, dtype)
    coin = random.Random(0).random
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        preds, attentions = model(x, lx, y, tf_rate=0.7, coin=coin)
        loss = criterion(preds.view(-1, preds.size(2)), y.view(-1))
        mask = (L.arange(y.shape[1])[None, :] < ly[:, None]).reshape(-1)
        masked_loss = (loss * mask).sum() / mask.sum()
        masked_loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 2.0)
        optimizer.step()
        out += [masked_loss, L.exp(masked_loss), attentions, sp.embedding.weight.grad]
    model.eval()
    with L.no_grad():
        k, v, lens = model.listener(x, lx)
        logits, attentions = sp(k, v, lens)
    decoded = []
    for row in logits.argmax(-1).tolist():
        chars = [VOCAB[i] for i in row]
        decoded.append("".join(chars[:chars.index("<eos>")] if "<eos>" in chars else chars))
    # the key projection's bias adds the same k.q to every frame's energy, which softmax
    # takes out: its gradient is zero up to rounding, which Adam scales up to lr-sized
    # steps, so in float32 it is rounding noise; compared in float64 only
    state = [v for k, v in model.state_dict().items()
             if dtype == "float64" or k != "listener.key_network.bias"]
    return decoded, [*out, logits, attentions, *state]


@pytest.mark.parametrize("dtype,masked_value", [("float64", -1e9), ("float32", float("-inf"))])
def test_hw4p2_las_as_torch(dtype, masked_value):
    _set_dtype(dtype)                          # three Adam steps carry the rounding further
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-9, "atol": 1e-11}
    torch.manual_seed(0)
    init = _las_model(torch)
    torch.manual_seed(0)
    tdec, t = _las_train(torch, dtype, masked_value=masked_value)
    zdec, z = _las_train(zeroin, dtype, tmodel=init, masked_value=masked_value)
    assert zdec == tdec
    for a, b in zip(z, t, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b, **tol)
    attentions = _np(z[2])                     # no weight on the padded frames
    lens = [n // 2 for n in _FRAMES4]
    for b, n in enumerate(lens):
        assert np.all(attentions[b, :, n:] == 0) and np.allclose(attentions[b].sum(-1), 1)


# --- HW1P2: frame-level phoneme MLP with context ----------------------------------------------

PHONEMES = ["[SIL]", "AA", "AE", "AH", "B", "D"]
_MFCCS = [_RNG.standard_normal((n, 5)) * 3 + 1 for n in (9, 7, 12)]
_TRANSCRIPTS = [list(_RNG.choice(PHONEMES, n)) for n in (9, 7, 12)]


def _hw1p2_dataset(L, context, dtype):
    """The homework's AudioDataset: cepstral mean-variance normalisation per utterance,
    phonemes to indices, utterances concatenated, zero context padding at both ends, and
    frames sliced with their context in __getitem__."""
    class AudioDataset(L.utils.data.Dataset):
        def __init__(self, mfccs, transcripts, context):
            self.context = context
            mfccs = [(m - m.mean(axis=0)) / (m.std(axis=0) + 1e-8) for m in mfccs]
            labels = [np.array([PHONEMES.index(p) for p in t]) for t in transcripts]
            self.mfccs = np.concatenate(mfccs)
            self.transcripts = np.concatenate(labels)
            self.length = len(self.mfccs)
            self.mfccs = np.pad(self.mfccs, ((context, context), (0, 0)), "constant",
                                constant_values=0)
            self.mfccs = L.from_numpy(self.mfccs)
            self.mfccs = self.mfccs.float() if dtype == "float32" else self.mfccs.double()
            self.transcripts = L.from_numpy(self.transcripts)

        def __len__(self):
            return self.length

        def __getitem__(self, ind):
            frames = self.mfccs[ind: ind + 2 * self.context + 1]
            return L.flatten(frames), self.transcripts[ind]

    return AudioDataset(_MFCCS, _TRANSCRIPTS, context)


def _hw1p2_train(L, dtype, tmodel=None, context=2, epochs=2):
    """Shuffled batches, an MLP with BatchNorm1d, GELU and Dropout, CrossEntropyLoss, Adam,
    ReduceLROnPlateau on the epoch's loss; then eval accuracy."""
    _, nn, _F, optim = _libs(L)
    data = _hw1p2_dataset(L, context, dtype)
    loader = L.utils.data.DataLoader(data, batch_size=8, shuffle=True, drop_last=False)
    width = (2 * context + 1) * 5
    model = nn.Sequential(nn.Linear(width, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.25),
                          nn.Linear(16, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.25),
                          nn.Linear(16, len(PHONEMES)))
    if tmodel is not None:
        copy_weights(tmodel, model)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                     patience=0)
    L.manual_seed(3)
    out = [data[0][0], data[len(data) - 1][0]]
    for _ in range(epochs):
        model.train()
        total = 0.0
        for frames, phonemes in loader:
            optimizer.zero_grad()
            loss = criterion(model(frames), phonemes)
            loss.backward()
            optimizer.step()
            total += loss.item()
            out += [frames, phonemes, loss]
        scheduler.step(total / len(loader))
    model.eval()
    with L.inference_mode():
        logits = model(data.mfccs.unfold(0, 2 * context + 1, 1).transpose(1, 2).flatten(1))
        acc = (L.argmax(logits, dim=1) == data.transcripts).sum().item() / len(data)
    state = model.state_dict()
    if dtype == "float32":
        # a Linear's bias before BatchNorm1d has a zero gradient up to rounding, which Adam
        # scales up to lr-sized steps: in float32 those biases, the running means they
        # shift and so the eval logits are rounding noise; compared in float64 only
        state = {k: v for k, v in state.items() if k[-4:] != "bias" or k[0] == "8"}
        state = {k: v for k, v in state.items() if "running_mean" not in k}
        return model, [*out, *state.values()], None, optimizer.param_groups[0]["lr"]
    return model, [*out, logits, *state.values()], acc, optimizer.param_groups[0]["lr"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hw1p2_frame_mlp_as_torch(dtype):
    """float32 as the homework (``.float()``), and float64; shuffling and dropout drawn on
    torch's stream, so the same batches, masks, losses and weights."""
    _set_dtype(dtype)
    torch_stream()
    torch.manual_seed(0)
    init = _hw1p2_train(torch, dtype, epochs=0)[0]
    torch.manual_seed(0)
    _, t, tacc, tlr = _hw1p2_train(torch, dtype)
    _, z, zacc, zlr = _hw1p2_train(zeroin, dtype, tmodel=init)
    assert (zacc, zlr) == (tacc, tlr)
    # float64: the biases before BatchNorm move by Adam's lr * 1e-17 / eps each step
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-8, "atol": 1e-9}
    for a, b in zip(z, t, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        close(a, b, **tol)
    # a frame with its context: the previous and next frames, zeros past the ends
    first = _np(z[0]).reshape(5, 5)
    assert np.all(first[:2] == 0) and np.all(first[2:] != 0)


def test_models_built_after_manual_seed_are_torchs_on_torch_stream():
    """Nothing copied: on torch's stream ``torch.manual_seed(0)`` then the model gives
    PyTorch's initial weights bit for bit (Conv1d, BatchNorm1d, LSTM, Linear, Embedding,
    LSTMCell), keys in the same order."""
    _set_dtype("float32")
    torch_stream()
    for make in (_hw3p2_model, _las_model):
        states = {}
        for L in LIBS:
            L.manual_seed(0)
            states[L] = make(L).state_dict()
        assert list(states[zeroin]) == list(states[torch])
        for k, v in states[torch].items():
            assert str(states[zeroin][k].dtype).split(".")[-1] == str(v.dtype).split(".")[-1]
            np.testing.assert_array_equal(_np(states[zeroin][k]), _np(v))
