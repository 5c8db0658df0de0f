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
