"""Audit of a BERT-style encoder written from scratch ("BERT from scratch" blog posts and
notebooks, CS224n-style code on ``nn.TransformerEncoderLayer``): token + position + segment
embeddings, a ``TransformerEncoder`` with padding and additive masks, the pooled ``[CLS]``,
MLM masking the way HuggingFace's collator writes it (``bernoulli`` of ``torch.full``, the
80/10/10 split, ``randint``), a tied MLM decoder, the NSP head, then fine-tuning (sequence and
token classification, AdamW with two parameter groups, a linear warm-up ``LambdaLR``,
``clip_grad_norm_``, dropout on and off, accuracy and F1 with tensors). Each runs on torch and
on zeroin (``import zeroin as torch``) with the same inputs and weights copied from torch;
float64 is compared to 1e-10, float32 to float resolution. Random draws come from zeroin's
torch stream. See docs/bert.md."""
import numpy as np
import pytest
from _audit import close, copy_weights, np_of, torch_stream

import zeroin

torch = pytest.importorskip("torch")
V, D, H, FF, LAYERS, S = 50, 32, 4, 64, 2, 12
PAD, CLS, SEP, MASK = 0, 1, 2, 3
STEPS = {"rtol": 5e-5, "atol": 5e-6}    # after a few optimiser steps in float32


@pytest.fixture(autouse=True)
def one_torch_thread():
    """torch on one thread: its small attention kernels wait for a second thread on a
    loaded two-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def f64():
    """float64 in both libraries (zeroin's default), so the models agree to 1e-10."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.fixture
def tstream(f32):
    """float32 and zeroin's generator on PyTorch's stream, for this test only."""
    torch_stream()
    yield
    zeroin.random.use_torch_stream(False)


# --- the model, as the blog posts write it ---------------------------------------------------

def bert(lib, norm_first=False, n_labels=None, emb_dropout=0.0, dropout=0.0):
    """A small BERT: embeddings, TransformerEncoder (``dropout`` in its layers), pooler,
    tied MLM head + NSP head, or a classification head when ``n_labels`` is given
    (``"tokens"`` for token classes)."""
    nn = lib.nn

    class BertEmbeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(V, D, padding_idx=PAD)
            self.position = nn.Embedding(S, D)
            self.segment = nn.Embedding(2, D)
            self.LayerNorm = nn.LayerNorm(D, eps=1e-12)
            self.dropout = nn.Dropout(emb_dropout)

        def forward(self, input_ids, segment_ids):
            pos = lib.arange(input_ids.size(1)).unsqueeze(0).expand_as(input_ids)
            x = self.word(input_ids) + self.position(pos) + self.segment(segment_ids)
            return self.dropout(self.LayerNorm(x))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = BertEmbeddings()
            layer = nn.TransformerEncoderLayer(D, H, FF, dropout=dropout, activation="gelu",
                                               batch_first=True, norm_first=norm_first)
            self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
            self.pooler = nn.Sequential(nn.Linear(D, D), nn.Tanh())

        def forward(self, input_ids, segment_ids, pad_mask=None, attn_mask=None):
            h = self.embeddings(input_ids, segment_ids)
            h = self.encoder(h, mask=attn_mask, src_key_padding_mask=pad_mask)
            return h, self.pooler(h[:, 0])

    class BertForPreTraining(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = Bert()
            self.transform = nn.Sequential(nn.Linear(D, D), nn.GELU(), nn.LayerNorm(D))
            self.decoder = nn.Linear(D, V, bias=False)
            self.decoder.weight = self.bert.embeddings.word.weight      # tied
            self.bias = nn.Parameter(lib.zeros(V))
            self.nsp = nn.Linear(D, 2)

        def forward(self, *args, **kw):
            h, pooled = self.bert(*args, **kw)
            return self.decoder(self.transform(h)) + self.bias, self.nsp(pooled)

    class BertClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = Bert()
            self.dropout = nn.Dropout(0.1)
            self.classifier = nn.Linear(D, 3)

        def forward(self, *args, **kw):
            h, pooled = self.bert(*args, **kw)
            return self.classifier(self.dropout(h if n_labels == "tokens" else pooled))

    return BertForPreTraining() if n_labels is None else BertClassifier()


def pair(make, **kw):
    """The torch model (seeded) and the zeroin one with torch's weights."""
    torch.manual_seed(0)
    tm = make(torch, **kw)
    return tm, copy_weights(tm, make(zeroin, **kw))


def batch(seed=0, b=4):
    """Token ids ([CLS] a [SEP] b [SEP], padded with 0), segment ids, the pad mask."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(4, V, (b, S))
    seg = np.zeros((b, S), np.int64)
    lengths = rng.integers(6, S + 1, b)
    lengths[0] = S                                  # one row without padding
    for i, n in enumerate(lengths):
        ids[i, 0], ids[i, n // 2], ids[i, n - 1] = CLS, SEP, SEP
        seg[i, n // 2 + 1:n] = 1
        ids[i, n:] = PAD
    return ids, seg, ids == PAD


def _grads(model):
    return {n: p.grad for n, p in model.named_parameters()}


# --- the encoder -----------------------------------------------------------------------------

@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_padding_mask_outputs_and_gradients(f64, norm_first):
    """Post-LN and pre-LN encoders with a bool ``src_key_padding_mask`` (True = pad): the
    same hidden states, pooled [CLS], MLM/NSP logits, loss and every gradient (the tied
    decoder's included, which sums the embedding's and the decoder's)."""
    tm, zm = pair(bert, norm_first=norm_first)
    ids, seg, pad = batch()
    names = [n for n, _ in tm.named_parameters()]
    assert names == [n for n, _ in zm.named_parameters()]
    assert "decoder.weight" not in names            # tied: listed once, as in torch
    for lib, m in ((torch, tm), (zeroin, zm)):
        h, pooled = m.bert(lib.tensor(ids), lib.tensor(seg), pad_mask=lib.tensor(pad))
        mlm, nsp = m(lib.tensor(ids), lib.tensor(seg), pad_mask=lib.tensor(pad))
        loss = lib.nn.functional.cross_entropy(mlm.view(-1, V), lib.tensor(ids).view(-1),
                                               ignore_index=PAD) \
            + lib.nn.functional.cross_entropy(nsp, lib.tensor([0, 1, 1, 0]))
        loss.backward()
        m.out = (h, pooled, mlm, nsp, loss)
    for a, b in zip(zm.out, tm.out, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        close(a, b)
    assert np.abs(np_of(zm.out[1])).max() < 1          # tanh pooler
    tg, zg = _grads(tm), _grads(zm)
    for n in names:
        close(zg[n], tg[n])


def test_float_masks_match_bool_masks(f64):
    """An additive float padding mask (0 / -inf built by ``masked_fill``) gives the bool
    mask's result, and a float ``mask`` (S, S) (a band of -1e4) is added to the scores, as in
    torch."""
    tm, zm = pair(bert, norm_first=True)
    ids, seg, pad = batch(1)
    band = np.where(np.abs(np.arange(S)[:, None] - np.arange(S)) > 3, -1e4, 0.0)
    out = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        fpad = lib.zeros(pad.shape).masked_fill(lib.tensor(pad), float("-inf"))
        h_bool, _ = m.bert(lib.tensor(ids), lib.tensor(seg), pad_mask=lib.tensor(pad))
        h_float, _ = m.bert(lib.tensor(ids), lib.tensor(seg), pad_mask=fpad)
        close(h_float, h_bool, 1e-12)
        h_band, _ = m.bert(lib.tensor(ids), lib.tensor(seg), pad_mask=fpad,
                           attn_mask=lib.tensor(band))
        h_band.sum().backward()
        out[lib] = (h_float, h_band, m.bert.embeddings.position.weight.grad)
    assert not np.allclose(np_of(out[zeroin][0]), np_of(out[zeroin][1]))   # the band counts
    for a, b in zip(out[zeroin], out[torch], strict=True):
        close(a, b)


# --- MLM and NSP pretraining -----------------------------------------------------------------

def mask_tokens(lib, inputs, special_tokens_mask, mlm_probability=0.15):
    """HuggingFace's DataCollatorForLanguageModeling.torch_mask_tokens, as the posts copy it."""
    labels = inputs.clone()
    probability_matrix = lib.full(labels.shape, mlm_probability)
    probability_matrix.masked_fill_(special_tokens_mask, value=0.0)
    masked_indices = lib.bernoulli(probability_matrix).bool()
    labels[~masked_indices] = -100
    indices_replaced = lib.bernoulli(lib.full(labels.shape, 0.8)).bool() & masked_indices
    inputs[indices_replaced] = MASK
    indices_random = (lib.bernoulli(lib.full(labels.shape, 0.5)).bool() & masked_indices
                      & ~indices_replaced)
    random_words = lib.randint(V, labels.shape, dtype=lib.long)
    inputs[indices_random] = random_words[indices_random]
    return inputs, labels


def test_mlm_masking_draws_torchs_masks(tstream):
    """The collator's masks on the torch stream: the same masked inputs and -100 labels, bit
    for bit, specials never masked."""
    ids, _, _ = batch(2, b=16)
    special = [[1 if t in (PAD, CLS, SEP) else 0 for t in row] for row in ids.tolist()]
    out = {}
    for lib in (torch, zeroin):
        lib.manual_seed(7)
        out[lib] = mask_tokens(lib, lib.tensor(ids), lib.tensor(special, dtype=lib.bool))
    (zi, zl), (ti, tl) = out[zeroin], out[torch]
    assert zi.dtype == zeroin.int64 and zl.dtype == zeroin.int64
    np.testing.assert_array_equal(np_of(zi), np_of(ti))
    np.testing.assert_array_equal(np_of(zl), np_of(tl))
    masked = np_of(zl) != -100
    assert 5 < masked.sum() < 60 and not np.isin(ids[masked], [PAD, CLS, SEP]).any()
    assert (np_of(zi)[masked] == MASK).any() and (np_of(zi)[~masked] == ids[~masked]).all()


def test_pretraining_steps(tstream):
    """MLM (ignore_index=-100) + NSP loss, three AdamW steps on fresh masks each step: the
    same losses, tied weights still one tensor, the same weights after."""
    tm, zm = pair(bert)
    ids, seg, pad = batch(3, b=8)
    special = np.isin(ids, [PAD, CLS, SEP])
    nsp_labels = np.array([0, 1] * 4)
    losses = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        lib.manual_seed(11)
        opt = lib.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
        losses[lib] = []
        for _ in range(3):
            inputs, labels = mask_tokens(lib, lib.tensor(ids), lib.tensor(special))
            mlm, nsp = m(inputs, lib.tensor(seg), pad_mask=lib.tensor(pad))
            loss = lib.nn.functional.cross_entropy(mlm.view(-1, V), labels.view(-1),
                                                   ignore_index=-100) \
                + lib.nn.functional.cross_entropy(nsp, lib.tensor(nsp_labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[lib].append(loss.item())
            m.labels = labels
        assert m.decoder.weight is m.bert.embeddings.word.weight
    np.testing.assert_array_equal(np_of(zm.labels), np_of(tm.labels))
    np.testing.assert_allclose(losses[zeroin], losses[torch], **STEPS)
    zs = zm.state_dict()
    for k, v in tm.state_dict().items():
        if k.endswith("in_proj_bias"):      # the key bias: its gradient is 0 up to rounding
            close(zs[k][D:2 * D], v[D:2 * D], atol=2e-2, rtol=0)    # (softmax ignores a
            zs[k], v = zs[k][[*range(D), *range(2 * D, 3 * D)]], \
                v[[*range(D), *range(2 * D, 3 * D)]]                # shift), Adam scales it
        close(zs[k], v, **STEPS)


# --- fine-tuning -----------------------------------------------------------------------------

def _optimizer(lib, model, total, warmup):
    """Two AdamW groups by name (no decay on biases and LayerNorm weights) and the linear
    warm-up / decay schedule of transformers' get_linear_schedule_with_warmup."""
    no_decay = ["bias", "LayerNorm.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0}]
    opt = lib.optim.AdamW(groups, lr=1e-2, eps=1e-8)

    def lr_lambda(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return opt, lib.optim.lr_scheduler.LambdaLR(opt, lr_lambda)


def _f1(preds, labels, lib):
    """Binary F1 for class 1, with tensors."""
    tp = ((preds == 1) & (labels == 1)).sum().float()
    fp = ((preds == 1) & (labels != 1)).sum().float()
    fn = ((preds != 1) & (labels == 1)).sum().float()
    return (2 * tp / (2 * tp + fp + fn).clamp(min=1)).item()


@pytest.mark.parametrize("task, dropout", [("sequence", 0.0), ("tokens", 0.0),
                                           ("sequence", 0.1)])
def test_finetuning_loop(tstream, task, dropout):
    """Four training steps with dropout on (the torch stream draws torch's masks), gradients
    clipped to norm 0.5, two AdamW groups and LambdaLR, then evaluation under ``no_grad`` with
    dropout off: the same losses, norms, learning rates, logits, accuracy and F1. With
    ``dropout=0.1`` in the encoder layers too (attention weights, feed-forward, residuals)."""
    tm, zm = pair(bert, n_labels=task, emb_dropout=0.1, dropout=dropout)
    ids, seg, pad = batch(4, b=8)
    rng = np.random.default_rng(5)
    if task == "sequence":
        y = rng.integers(0, 3, 8)
    else:
        y = rng.integers(0, 3, (8, S))
        y[pad] = -100
        y[:, 0] = -100                          # [CLS] and sub-tokens are not scored
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        lib.manual_seed(13)
        opt, sched = _optimizer(lib, m, total=4, warmup=1)
        assert [len(g["params"]) for g in opt.param_groups][1] == 6 * LAYERS + 4
        loss_fn = lib.nn.CrossEntropyLoss()
        m.train()
        rec = []
        for _ in range(4):
            logits = m(lib.tensor(ids), lib.tensor(seg), pad_mask=lib.tensor(pad))
            loss = loss_fn(logits.view(-1, 3), lib.tensor(y).view(-1))
            opt.zero_grad()
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(m.parameters(), 0.5)   # posts: 1.0; 0.5 here bites
            opt.step()
            sched.step()
            rec += [loss.item(), float(norm), sched.get_last_lr()[0]]
        m.eval()
        with lib.no_grad():
            logits = m(lib.tensor(ids), lib.tensor(seg), pad_mask=lib.tensor(pad))
            preds = logits.argmax(dim=-1)
            labels = lib.tensor(y)
            keep = labels != -100
            acc = (preds[keep] == labels[keep]).float().mean().item()
            rec += [acc, _f1(preds[keep], labels[keep], lib)]
        assert not logits.requires_grad
        res[lib] = rec, logits
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **STEPS)
    close(res[zeroin][1], res[torch][1], **STEPS)
    assert max(res[zeroin][0][1:12:3]) > 0.5    # clipping did something


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors")
def test_default_encoder_eval_zeroes_pads_as_torch(f64):
    """``nn.TransformerEncoder(layer, 2)`` as most posts write it (``enable_nested_tensor``
    left on), evaluated with ``model.eval()`` under ``torch.no_grad()`` and a padding mask:
    PyTorch returns 0 at the padded positions, so a mean over all positions (``h.mean(1)``)
    differs from the masked mean; zeroin gives both of PyTorch's numbers. Under
    ``inference_mode`` too; with gradients on, the pads hold the layers' values in both."""
    ids, _, pad = batch(5)
    x = np.random.default_rng(6).standard_normal((len(ids), S, D))
    out = {}
    for lib in (torch, zeroin):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, activation="gelu",
                                               batch_first=True)
        out[lib] = lib.nn.TransformerEncoder(layer, LAYERS)
    copy_weights(out[torch], out[zeroin])
    res = {}
    for lib, enc in out.items():
        enc.eval()
        mask = lib.tensor(pad)
        keep = (~mask).unsqueeze(-1).to(lib.float64)
        with lib.no_grad():
            h = enc(lib.tensor(x), src_key_padding_mask=mask)
            masked_mean = (h * keep).sum(1) / keep.sum(1)
        with lib.inference_mode():
            h_inf = enc(lib.tensor(x), src_key_padding_mask=mask)
        h_grad = enc(lib.tensor(x), src_key_padding_mask=mask)
        res[lib] = (h, h.mean(1), masked_mean, h_inf, h_grad)
    for a, b in zip(res[zeroin], res[torch], strict=True):
        close(a, b)
    assert np.all(np_of(res[zeroin][0])[pad] == 0) and np.all(np_of(res[zeroin][4])[pad] != 0)
