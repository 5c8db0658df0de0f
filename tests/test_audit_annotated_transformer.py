"""Audit against The Annotated Transformer (Harvard NLP, the 2022 edition by Huang,
Subramanian, Sum, Almubarak and Biderman after Sasha Rush's 2018 post): its code as the
notebook writes it (``import zeroin as torch``, ``zeroin.nn`` as ``nn``,
``log_softmax`` from ``zeroin.nn.functional``, ``LambdaLR`` from
``zeroin.optim.lr_scheduler``), written once below and run with ``torch`` and with
``zeroin`` on the same inputs and weights (copied from torch's model): the model's parts,
the masks, label smoothing, the learning-rate schedule, ``run_epoch`` with gradient
accumulation, the copy task trained on the torch stream until greedy decoding copies, and
the attention maps. float64 agrees to 1e-10, float32 to float resolution. See
docs/annotated_transformer.md."""
import copy
import math
import re
import time
from types import SimpleNamespace

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
import zeroin.optim.lr_scheduler as zlr
from zeroin.nn import functional as ZF
from _audit import close, copy_weights, np_of as _np, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=2e-5, atol=2e-6)
STEPS32 = dict(rtol=1e-4, atol=1e-5)        # float32 weights after a few Adam steps


@pytest.fixture(autouse=True)
def one_thread():
    """torch and NumPy's BLAS on one thread: their small products wait far longer for a
    second thread on a loaded two-core machine."""
    n, z = torch.get_num_threads(), zeroin.get_num_threads()
    torch.set_num_threads(1)
    zeroin.set_num_threads(1)
    yield
    torch.set_num_threads(n)
    zeroin.set_num_threads(z)


def _dtype(name):
    torch.set_default_dtype(getattr(torch, name))
    zeroin.set_default_dtype(getattr(zeroin, name))
    return F64 if name == "float64" else F32


def _notebook(torch, nn, F, LambdaLR):
    """The notebook's code, on one library (``torch``, ``nn``, ``F``: torch's or zeroin's)."""
    log_softmax, pad = F.log_softmax, F.pad

    class EncoderDecoder(nn.Module):
        def __init__(self, encoder, decoder, src_embed, tgt_embed, generator):
            super(EncoderDecoder, self).__init__()
            self.encoder = encoder
            self.decoder = decoder
            self.src_embed = src_embed
            self.tgt_embed = tgt_embed
            self.generator = generator

        def forward(self, src, tgt, src_mask, tgt_mask):
            return self.decode(self.encode(src, src_mask), src_mask, tgt, tgt_mask)

        def encode(self, src, src_mask):
            return self.encoder(self.src_embed(src), src_mask)

        def decode(self, memory, src_mask, tgt, tgt_mask):
            return self.decoder(self.tgt_embed(tgt), memory, src_mask, tgt_mask)

    class Generator(nn.Module):
        def __init__(self, d_model, vocab):
            super(Generator, self).__init__()
            self.proj = nn.Linear(d_model, vocab)

        def forward(self, x):
            return log_softmax(self.proj(x), dim=-1)

    def clones(module, N):
        return nn.ModuleList([copy.deepcopy(module) for _ in range(N)])

    class Encoder(nn.Module):
        def __init__(self, layer, N):
            super(Encoder, self).__init__()
            self.layers = clones(layer, N)
            self.norm = LayerNorm(layer.size)

        def forward(self, x, mask):
            for layer in self.layers:
                x = layer(x, mask)
            return self.norm(x)

    class LayerNorm(nn.Module):
        def __init__(self, features, eps=1e-6):
            super(LayerNorm, self).__init__()
            self.a_2 = nn.Parameter(torch.ones(features))
            self.b_2 = nn.Parameter(torch.zeros(features))
            self.eps = eps

        def forward(self, x):
            mean = x.mean(-1, keepdim=True)
            std = x.std(-1, keepdim=True)
            return self.a_2 * (x - mean) / (std + self.eps) + self.b_2

    class SublayerConnection(nn.Module):
        def __init__(self, size, dropout):
            super(SublayerConnection, self).__init__()
            self.norm = LayerNorm(size)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x, sublayer):
            return x + self.dropout(sublayer(self.norm(x)))

    class EncoderLayer(nn.Module):
        def __init__(self, size, self_attn, feed_forward, dropout):
            super(EncoderLayer, self).__init__()
            self.self_attn = self_attn
            self.feed_forward = feed_forward
            self.sublayer = clones(SublayerConnection(size, dropout), 2)
            self.size = size

        def forward(self, x, mask):
            x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, mask))
            return self.sublayer[1](x, self.feed_forward)

    class Decoder(nn.Module):
        def __init__(self, layer, N):
            super(Decoder, self).__init__()
            self.layers = clones(layer, N)
            self.norm = LayerNorm(layer.size)

        def forward(self, x, memory, src_mask, tgt_mask):
            for layer in self.layers:
                x = layer(x, memory, src_mask, tgt_mask)
            return self.norm(x)

    class DecoderLayer(nn.Module):
        def __init__(self, size, self_attn, src_attn, feed_forward, dropout):
            super(DecoderLayer, self).__init__()
            self.size = size
            self.self_attn = self_attn
            self.src_attn = src_attn
            self.feed_forward = feed_forward
            self.sublayer = clones(SublayerConnection(size, dropout), 3)

        def forward(self, x, memory, src_mask, tgt_mask):
            m = memory
            x = self.sublayer[0](x, lambda x: self.self_attn(x, x, x, tgt_mask))
            x = self.sublayer[1](x, lambda x: self.src_attn(x, m, m, src_mask))
            return self.sublayer[2](x, self.feed_forward)

    def subsequent_mask(size):
        attn_shape = (1, size, size)
        subsequent_mask = torch.triu(torch.ones(attn_shape), diagonal=1).type(torch.uint8)
        return subsequent_mask == 0

    def attention(query, key, value, mask=None, dropout=None):
        d_k = query.size(-1)
        scores = torch.matmul(query, key.transpose(-2, -1)) / math.sqrt(d_k)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        p_attn = scores.softmax(dim=-1)
        if dropout is not None:
            p_attn = dropout(p_attn)
        return torch.matmul(p_attn, value), p_attn

    class MultiHeadedAttention(nn.Module):
        def __init__(self, h, d_model, dropout=0.1):
            super(MultiHeadedAttention, self).__init__()
            assert d_model % h == 0
            self.d_k = d_model // h
            self.h = h
            self.linears = clones(nn.Linear(d_model, d_model), 4)
            self.attn = None
            self.dropout = nn.Dropout(p=dropout)

        def forward(self, query, key, value, mask=None):
            if mask is not None:
                mask = mask.unsqueeze(1)
            nbatches = query.size(0)
            query, key, value = [
                lin(x).view(nbatches, -1, self.h, self.d_k).transpose(1, 2)
                for lin, x in zip(self.linears, (query, key, value))
            ]
            x, self.attn = attention(query, key, value, mask=mask, dropout=self.dropout)
            x = x.transpose(1, 2).contiguous().view(nbatches, -1, self.h * self.d_k)
            del query
            del key
            del value
            return self.linears[-1](x)

    class PositionwiseFeedForward(nn.Module):
        def __init__(self, d_model, d_ff, dropout=0.1):
            super(PositionwiseFeedForward, self).__init__()
            self.w_1 = nn.Linear(d_model, d_ff)
            self.w_2 = nn.Linear(d_ff, d_model)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            return self.w_2(self.dropout(self.w_1(x).relu()))

    class Embeddings(nn.Module):
        def __init__(self, d_model, vocab):
            super(Embeddings, self).__init__()
            self.lut = nn.Embedding(vocab, d_model)
            self.d_model = d_model

        def forward(self, x):
            return self.lut(x) * math.sqrt(self.d_model)

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout, max_len=5000):
            super(PositionalEncoding, self).__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * -(math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:, : x.size(1)].requires_grad_(False)
            return self.dropout(x)

    def make_model(src_vocab, tgt_vocab, N=6, d_model=512, d_ff=2048, h=8, dropout=0.1):
        c = copy.deepcopy
        attn = MultiHeadedAttention(h, d_model)
        ff = PositionwiseFeedForward(d_model, d_ff, dropout)
        position = PositionalEncoding(d_model, dropout)
        model = EncoderDecoder(
            Encoder(EncoderLayer(d_model, c(attn), c(ff), dropout), N),
            Decoder(DecoderLayer(d_model, c(attn), c(attn), c(ff), dropout), N),
            nn.Sequential(Embeddings(d_model, src_vocab), c(position)),
            nn.Sequential(Embeddings(d_model, tgt_vocab), c(position)),
            Generator(d_model, tgt_vocab),
        )
        for p in model.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        return model

    class Batch:
        def __init__(self, src, tgt=None, pad=2):
            self.src = src
            self.src_mask = (src != pad).unsqueeze(-2)
            if tgt is not None:
                self.tgt = tgt[:, :-1]
                self.tgt_y = tgt[:, 1:]
                self.tgt_mask = self.make_std_mask(self.tgt, pad)
                self.ntokens = (self.tgt_y != pad).data.sum()

        @staticmethod
        def make_std_mask(tgt, pad):
            tgt_mask = (tgt != pad).unsqueeze(-2)
            tgt_mask = tgt_mask & subsequent_mask(tgt.size(-1)).type_as(tgt_mask.data)
            return tgt_mask

    class TrainState:
        step: int = 0
        accum_step: int = 0
        samples: int = 0
        tokens: int = 0

    def run_epoch(data_iter, model, loss_compute, optimizer, scheduler, mode="train",
                  accum_iter=1, train_state=TrainState()):
        start = time.time()
        total_tokens = 0
        total_loss = 0
        tokens = 0
        n_accum = 0
        for i, batch in enumerate(data_iter):
            out = model.forward(batch.src, batch.tgt, batch.src_mask, batch.tgt_mask)
            loss, loss_node = loss_compute(out, batch.tgt_y, batch.ntokens)
            if mode == "train" or mode == "train+log":
                loss_node.backward()
                train_state.step += 1
                train_state.samples += batch.src.shape[0]
                train_state.tokens += batch.ntokens
                if i % accum_iter == 0:
                    optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    n_accum += 1
                    train_state.accum_step += 1
                scheduler.step()
            total_loss += loss
            total_tokens += batch.ntokens
            tokens += batch.ntokens
            if i % 40 == 1 and (mode == "train" or mode == "train+log"):
                lr = optimizer.param_groups[0]["lr"]
                elapsed = time.time() - start
                print(("Epoch Step: %6d | Accumulation Step: %3d | Loss: %6.2f "
                       + "| Tokens / Sec: %7.1f | Learning Rate: %6.1e")
                      % (i, n_accum, loss / batch.ntokens, tokens / elapsed, lr))
                start = time.time()
                tokens = 0
            del loss
            del loss_node
        return total_loss / total_tokens, train_state

    def rate(step, model_size, factor, warmup):
        if step == 0:
            step = 1
        return factor * (model_size ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))

    class LabelSmoothing(nn.Module):
        def __init__(self, size, padding_idx, smoothing=0.0):
            super(LabelSmoothing, self).__init__()
            self.criterion = nn.KLDivLoss(reduction="sum")
            self.padding_idx = padding_idx
            self.confidence = 1.0 - smoothing
            self.smoothing = smoothing
            self.size = size
            self.true_dist = None

        def forward(self, x, target):
            assert x.size(1) == self.size
            true_dist = x.data.clone()
            true_dist.fill_(self.smoothing / (self.size - 2))
            true_dist.scatter_(1, target.data.unsqueeze(1), self.confidence)
            true_dist[:, self.padding_idx] = 0
            mask = torch.nonzero(target.data == self.padding_idx)
            if mask.dim() > 0:
                true_dist.index_fill_(0, mask.squeeze(), 0.0)
            self.true_dist = true_dist
            return self.criterion(x, true_dist.clone().detach())

    def data_gen(V, batch_size, nbatches):
        for i in range(nbatches):
            data = torch.randint(1, V, size=(batch_size, 10))
            data[:, 0] = 1
            src = data.requires_grad_(False).clone().detach()
            tgt = data.requires_grad_(False).clone().detach()
            yield Batch(src, tgt, 0)

    class SimpleLossCompute:
        def __init__(self, generator, criterion):
            self.generator = generator
            self.criterion = criterion

        def __call__(self, x, y, norm):
            x = self.generator(x)
            sloss = (self.criterion(x.contiguous().view(-1, x.size(-1)), y.contiguous().view(-1))
                     / norm)
            return sloss.data * norm, sloss

    def greedy_decode(model, src, src_mask, max_len, start_symbol):
        memory = model.encode(src, src_mask)
        ys = torch.zeros(1, 1).fill_(start_symbol).type_as(src.data)
        for i in range(max_len - 1):
            out = model.decode(memory, src_mask, ys, subsequent_mask(ys.size(1)).type_as(src.data))
            prob = model.generator(out[:, -1])
            _, next_word = torch.max(prob, dim=1)
            next_word = next_word.data[0]
            ys = torch.cat([ys, torch.zeros(1, 1).type_as(src.data).fill_(next_word)], dim=1)
        return ys

    def inference_test():
        test_model = make_model(11, 11, 2)
        test_model.eval()
        src = torch.LongTensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])
        src_mask = torch.ones(1, 1, 10)
        memory = test_model.encode(src, src_mask)
        ys = torch.zeros(1, 1).type_as(src)
        for i in range(9):
            out = test_model.decode(memory, src_mask, ys,
                                    subsequent_mask(ys.size(1)).type_as(src.data))
            prob = test_model.generator(out[:, -1])
            _, next_word = torch.max(prob, dim=1)
            next_word = next_word.data[0]
            ys = torch.cat([ys, torch.empty(1, 1).type_as(src.data).fill_(next_word)], dim=1)
        print("Example Untrained Model Prediction:", ys)
        return ys       # (the notebook only prints it)

    def collate_batch(batch, src_pipeline, tgt_pipeline, src_vocab, tgt_vocab, device,
                      max_padding=128, pad_id=2):
        bs_id = torch.tensor([0], device=device)  # <s> token id
        eos_id = torch.tensor([1], device=device)  # </s> token id
        src_list, tgt_list = [], []
        for (_src, _tgt) in batch:
            processed_src = torch.cat(
                [bs_id, torch.tensor(src_vocab(src_pipeline(_src)), dtype=torch.int64,
                                     device=device), eos_id], 0)
            processed_tgt = torch.cat(
                [bs_id, torch.tensor(tgt_vocab(tgt_pipeline(_tgt)), dtype=torch.int64,
                                     device=device), eos_id], 0)
            src_list.append(pad(processed_src, (0, max_padding - len(processed_src)),
                                value=pad_id))
            tgt_list.append(pad(processed_tgt, (0, max_padding - len(processed_tgt)),
                                value=pad_id))
        src = torch.stack(src_list)
        tgt = torch.stack(tgt_list)
        return (src, tgt)

    class DummyOptimizer(torch.optim.Optimizer):
        def __init__(self):
            self.param_groups = [{"lr": 0}]
            None

        def step(self):
            None

        def zero_grad(self, set_to_none=False):
            None

    class DummyScheduler:
        def step(self):
            None

    return SimpleNamespace(**locals())


AT = {"torch": _notebook(torch, torch.nn, torch.nn.functional,
                         torch.optim.lr_scheduler.LambdaLR),
      "zeroin": _notebook(zeroin, znn, ZF, zlr.LambdaLR)}
LIB = {"torch": torch, "zeroin": zeroin}


def _pair(V=11, **kw):
    """torch's ``make_model(V, V, **kw)`` and zeroin's with torch's weights and buffers."""
    torch.manual_seed(0)
    tm = AT["torch"].make_model(V, V, **kw)
    return tm, copy_weights(tm, AT["zeroin"].make_model(V, V, **kw))


def _grads_close(zmodel, tmodel, tol):
    tg = dict(tmodel.named_parameters())
    for n, p in zmodel.named_parameters():
        assert (p.grad is None) == (tg[n].grad is None), n
        if p.grad is not None:
            close(p.grad, tg[n].grad, **tol)


# --- masks and batches --------------------------------------------------------------------

def test_subsequent_mask_and_the_batch_masks():
    data = [[1, 4, 5, 3, 0, 0], [1, 2, 2, 7, 9, 3]]     # 0 = the padding
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        m = A.subsequent_mask(5)
        src = lib.tensor(data)
        b = A.Batch(src, src, 0)
        assert m.dtype == b.src_mask.dtype == b.tgt_mask.dtype == lib.bool
        assert tuple(b.src_mask.shape) == (2, 1, 6) and tuple(b.tgt_mask.shape) == (2, 5, 5)
        out[name] = (m, b.src_mask, b.tgt, b.tgt_y, b.tgt_mask, int(b.ntokens))
    for z, t in zip(out["zeroin"], out["torch"]):
        np.testing.assert_array_equal(_np(z), _np(t))
    # row i of the target mask sees columns j <= i that are not padding
    tgt = np.array(data)[:, :-1]
    want = np.tril(np.ones((5, 5), bool))[None] & (tgt != 0)[:, None, :]
    np.testing.assert_array_equal(_np(out["zeroin"][4]), want)
    assert out["zeroin"][5] == 3 + 5


# --- the model's parts --------------------------------------------------------------------

@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_hand_written_layer_norm_divides_by_the_unbiased_std(dt):
    tol = _dtype(dt)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 3, 6)) * 3 + 1).astype(dt)
    a, b, w = (rng.normal(size=6).astype(dt) for _ in range(3))
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        ln = A.LayerNorm(6)
        with lib.no_grad():
            ln.a_2.copy_(lib.tensor(a))
            ln.b_2.copy_(lib.tensor(b))
        xt = lib.tensor(x, requires_grad=True)
        y = ln(xt)
        (y * lib.tensor(w)).sum().backward()
        out[name] = (y, xt.grad, ln.a_2.grad, ln.b_2.grad)
    for z, t in zip(out["zeroin"], out["torch"]):
        close(z, t, **tol)
    x64 = x.astype(np.float64)
    ref = a * (x64 - x64.mean(-1, keepdims=True)) / (x64.std(-1, ddof=1, keepdims=True) + 1e-6) + b
    close(out["zeroin"][0], ref, **(tol if dt == "float64" else dict(rtol=1e-5, atol=1e-5)))


def test_attention_and_multiheaded_attention():
    tol = _dtype("float64")
    rng = np.random.default_rng(1)
    q, kv = rng.normal(size=(2, 5, 8)), rng.normal(size=(2, 6, 8))
    keep = np.ones((2, 1, 6), bool)
    keep[0, 0, 4:] = False                  # the first sequence's last two keys are padding
    torch.manual_seed(0)
    tm = AT["torch"].MultiHeadedAttention(2, 8)
    zm = copy_weights(tm, AT["zeroin"].MultiHeadedAttention(2, 8))
    out = {}
    for name, mha in (("torch", tm), ("zeroin", zm)):
        lib = LIB[name]
        mha.eval()          # its dropout on the attention weights off
        qt, kt = lib.tensor(q, requires_grad=True), lib.tensor(kv, requires_grad=True)
        y = mha(qt, kt, kt, lib.tensor(keep))
        (y * y).sum().backward()
        x, p = AT[name].attention(qt, kt, kt, lib.tensor(keep)[:, None] == 1)   # one head
        out[name] = (y, mha.attn, qt.grad, kt.grad, x, p)
    for z, t in zip(out["zeroin"], out["torch"]):
        close(z, t, **tol)
    _grads_close(zm, tm, tol)
    attn = _np(out["zeroin"][1])
    assert attn.shape == (2, 2, 5, 6)
    assert np.all(attn[0, :, :, 4:] == 0) and np.all(attn[1] > 0)   # -1e9: exactly 0 after softmax
    close(attn.sum(-1), np.ones((2, 2, 5)), **tol)


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_positional_encoding_buffer(dt):
    _dtype(dt)
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        pe = A.PositionalEncoding(20, 0)
        y = pe.forward(lib.zeros(1, 100, 20))           # the notebook's example_positional
        assert not y.requires_grad and [n for n, _ in pe.named_parameters()] == []
        assert list(pe.state_dict()) == ["pe"] and tuple(pe.pe.shape) == (1, 5000, 20)
        out[name] = (pe.pe, y[0, :, 4:8])
    pos = np.arange(5000)[:, None].astype(float)
    div = np.exp(np.arange(0, 20, 2) * -(math.log(10000.0) / 20))
    ref = np.zeros((5000, 20))
    ref[:, 0::2], ref[:, 1::2] = np.sin(pos * div), np.cos(pos * div)
    if dt == "float64":
        close(out["zeroin"][0], out["torch"][0], 1e-10)
        close(out["zeroin"][0][0], ref, 1e-10)
    else:
        # float32: NumPy's exp and PyTorch's differ in the last bit of a few div_term
        # values, and position * div_term carries that ulp times the position (5000)
        err = np.abs(_np(out["zeroin"][0])[0] - _np(out["torch"][0])[0])
        assert np.all(err <= 3e-7 * (1 + pos)), err.max()
        assert np.all(np.abs(_np(out["zeroin"][0])[0] - ref) <= 3e-7 * (1 + pos))
    close(out["zeroin"][1], out["torch"][1], **(F64 if dt == "float64" else F32))


def test_make_model_initialisation():
    _dtype("float32")
    tm, _ = _pair(N=2, d_model=32, d_ff=64, h=4)
    zm = AT["zeroin"].make_model(11, 11, N=2, d_model=32, d_ff=64, h=4)
    assert list(zm.state_dict()) == list(tm.state_dict())
    for (n, p), (_, t) in zip(zm.named_parameters(), tm.named_parameters()):
        assert tuple(p.shape) == tuple(t.shape) and p.dtype == zeroin.float32, n
        w = _np(p)
        if p.dim() > 1:         # xavier_uniform_: U(-a, a), a = sqrt(6 / (fan_in + fan_out))
            a = math.sqrt(6 / sum(w.shape))
            assert np.abs(w).max() <= a and np.abs(w).max() > 0.8 * a, n
        elif n.endswith("a_2"):
            assert np.all(w == 1), n
        elif n.endswith("b_2"):
            assert np.all(w == 0), n
    # the clones are copies, not one module: each layer its own weights
    zl = zm.encoder.layers
    assert zl[0].self_attn.linears[0].weight is not zl[1].self_attn.linears[0].weight
    w1 = [_np(layer.feed_forward.w_1.weight) for layer in zl]
    assert not np.array_equal(w1[0], w1[1])
    assert sum(p.numel() for p in zm.parameters()) == sum(p.numel() for p in tm.parameters())


def test_model_forward_loss_gradients_and_attention_maps():
    tol = _dtype("float64")
    tm, zm = _pair(N=2, d_model=32, d_ff=64, h=4)
    data = [[1, 4, 5, 3, 8, 0, 0], [1, 2, 2, 7, 9, 3, 10], [1, 6, 0, 0, 0, 0, 0]]
    out = {}
    for name, model in (("torch", tm), ("zeroin", zm)):
        A, lib = AT[name], LIB[name]
        model.eval()                    # dropout off: the same numbers must come out
        src = lib.tensor(data)
        b = A.Batch(src, src, 0)
        y = model.forward(b.src, b.tgt, b.src_mask, b.tgt_mask)
        lc = A.SimpleLossCompute(model.generator, A.LabelSmoothing(11, 0, 0.1))
        loss, loss_node = lc(y, b.tgt_y, b.ntokens)
        loss_node.backward()
        maps = [model.encoder.layers[0].self_attn.attn, model.decoder.layers[1].self_attn.attn,
                model.decoder.layers[1].src_attn.attn]
        out[name] = [y, model.generator(y), loss_node, lc.criterion.true_dist] + maps
        out[name].append(float(loss))
    for z, t in zip(out["zeroin"], out["torch"]):
        close(z, t, **tol)
    _grads_close(zm, tm, tol)
    assert all(p.grad is not None for p in zm.parameters())
    assert out["zeroin"][-1] == pytest.approx(out["zeroin"][2].item() * (4 + 6 + 1), rel=1e-12)
    # the decoder's self-attention looks at no later position, the encoder's at no padding
    dec = _np(out["zeroin"][5])
    assert np.all(np.triu(dec, 1) == 0) and np.all(_np(out["zeroin"][4])[0, :, :, 5:] == 0)


# --- label smoothing, the schedule ---------------------------------------------------------

def _penalty(torch, x, crit, first=0):
    """The notebook's ``loss(x, crit)`` of the penalisation plot (``first``: the padding
    column's prediction, 0 there)."""
    d = x + 3 * 1
    predict = torch.FloatTensor([[first, x / d, 1 / d, 1 / d, 1 / d]])
    return crit(predict.log(), torch.LongTensor([1])).data


def test_label_smoothing_example_and_penalty():
    _dtype("float32")
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        crit = A.LabelSmoothing(5, 0, 0.4)
        predict = lib.FloatTensor([[0, 0.2, 0.7, 0.1, 0]] * 5)
        with np.errstate(divide="ignore", invalid="ignore"):   # log(0): NumPy warns
            x = predict.log().requires_grad_()
            loss = crit(x=x, target=lib.LongTensor([2, 1, 0, 3, 3]))
            loss.backward()
            nan = [float(_penalty(lib, k, A.LabelSmoothing(5, 0, 0.1))) for k in (1, 50)]
        pen = [float(_penalty(lib, k, A.LabelSmoothing(5, 0, 0.1), 1e-3)) for k in (1, 5, 20, 99)]
        out[name] = (crit.true_dist, loss, x.grad, nan, pen)
    for z, t in zip(out["zeroin"], out["torch"]):
        close(z, t, **F32)
    want = np.full((5, 5), 0.4 / 3)         # smoothing / (size - 2), the rest on the target
    want[np.arange(5), [2, 1, 0, 3, 3]] = 0.6
    want[:, 0] = 0                          # the padding column
    want[2] = 0                             # the row whose target is the padding
    close(out["zeroin"][0], want, **F32)
    # KLDivLoss is target * (log(target) - input): 0 * (-inf) where a prediction is 0 (the
    # notebook's examples), NaN in PyTorch 2.x as in zeroin (the notebook's plots predate it)
    assert np.isnan(_np(out["zeroin"][1])) and np.isnan(out["zeroin"][3]).all()
    pen = out["zeroin"][4]
    assert pen[1] < pen[0] and pen[3] > pen[2]     # very confident is penalised again


def test_rate_schedule_with_lambdalr_and_adam():
    _dtype("float64")       # torch.tensor(learning_rates): float64 in both
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        dummy_model = lib.nn.Linear(1, 1)
        learning_rates = []
        for example in ([512, 1, 200], [512, 1, 400], [256, 1, 200]):
            optimizer = lib.optim.Adam(dummy_model.parameters(), lr=1, betas=(0.9, 0.98),
                                       eps=1e-9)
            lr_scheduler = A.LambdaLR(optimizer=optimizer,
                                      lr_lambda=lambda step: A.rate(step, *example))
            tmp = []
            for step in range(600):
                tmp.append(optimizer.param_groups[0]["lr"])
                optimizer.step()
                lr_scheduler.step()
            learning_rates.append(tmp)
        out[name] = lib.tensor(learning_rates)
    close(out["zeroin"], out["torch"], 1e-15)
    lr = _np(out["zeroin"])
    assert lr.shape == (3, 600) and lr[0].argmax() == 200 and lr[1].argmax() == 400
    assert lr[0, 200] == pytest.approx(512 ** -0.5 * 200 ** -0.5, rel=1e-12)
    assert lr[0, 0] == lr[0, 1]                 # step 0 is taken as step 1


# --- training: run_epoch, the copy task, greedy decoding ------------------------------------

def _train_setup(A, lib, warmup=40, dropout=0.0):
    """The notebook's example_simple_model on a tiny model: make_model (its attention's
    dropout stays 0.1: make_model does not pass ``dropout`` on), Adam, LambdaLR."""
    V = 11
    criterion = A.LabelSmoothing(size=V, padding_idx=0, smoothing=0.0)
    model = A.make_model(V, V, N=2, d_model=32, d_ff=64, h=4, dropout=dropout)
    optimizer = lib.optim.Adam(model.parameters(), lr=0.5, betas=(0.9, 0.98), eps=1e-9)
    lr_scheduler = A.LambdaLR(optimizer=optimizer, lr_lambda=lambda step: A.rate(
        step, model_size=model.src_embed[0].d_model, factor=1.0, warmup=warmup))
    return model, criterion, optimizer, lr_scheduler


@pytest.mark.parametrize("dt", ["float64", "float32"])
def test_run_epoch_with_gradient_accumulation(capsys, dt):
    """Five batches with accum_iter=2 (steps after batches 0, 2, 4, the scheduler after
    each), dropout on the torch stream, then an eval epoch with the dummy optimiser."""
    torch_stream()
    tol = _dtype(dt)
    out, lines = {}, {}
    for name, A in AT.items():
        lib = LIB[name]
        lib.manual_seed(0)
        model, criterion, optimizer, lr_scheduler = _train_setup(A, lib, dropout=0.1)
        if name == "torch":
            start = copy.deepcopy(model)        # torch's initial weights, for zeroin's model
        else:
            copy_weights(start, model)
        model.train()
        state = A.TrainState()
        loss, state = A.run_epoch(A.data_gen(11, 8, 5), model,
                                  A.SimpleLossCompute(model.generator, criterion), optimizer,
                                  lr_scheduler, mode="train", accum_iter=2, train_state=state)
        lines[name] = capsys.readouterr().out
        model.eval()
        eval_loss = A.run_epoch(A.data_gen(11, 8, 2), model,
                                A.SimpleLossCompute(model.generator, criterion),
                                A.DummyOptimizer(), A.DummyScheduler(), mode="eval")[0]
        out[name] = dict(model=model, loss=loss, eval=eval_loss, lr=optimizer.param_groups[0]["lr"],
                         state=(state.step, state.accum_step, state.samples, int(state.tokens)))
    z, t = out["zeroin"], out["torch"]
    for k in ("loss", "eval", "lr"):
        close(z[k], t[k], **tol)
    assert z["state"] == t["state"] == (5, 3, 40, 5 * 8 * 9)
    # lr=0.5 times rate(5): still warming up
    assert z["lr"] == pytest.approx(0.5 * 32 ** -0.5 * 5 * 40 ** -1.5, rel=1e-12)
    w0 = dict(start.named_parameters())
    moved = 2 * 0.5 * 32 ** -0.5 * 40 ** -1.5 * (1 + 2 + 4)   # twice the lrs of the 3 steps
    for (n, p), (_, q) in zip(z["model"].named_parameters(), t["model"].named_parameters()):
        assert p.grad is None and q.grad is None, n       # zero_grad(set_to_none=True)
        if dt == "float32" and re.search(r"attn\.linears\.1\.bias", n):
            # a key bias adds q.b to every score of a row, which softmax ignores: its
            # gradient is rounding (~1e-9 in float32, near Adam's eps=1e-9), which Adam's
            # first steps turn into +-lr in either library
            for r in (p, q):
                assert np.abs(_np(r) - _np(w0[n])).max() <= moved, n
            continue
        # Adam's first steps divide by sqrt(v): a gradient near 0 carries its rounding
        close(p, q, **(dict(rtol=1e-8, atol=1e-10) if dt == "float64" else STEPS32))
    # the log line at i = 1, but for the tokens per second
    pat = re.compile(r"Tokens / Sec: +[0-9.e+inf]+")
    assert lines["zeroin"].startswith("Epoch Step:      1 | Accumulation Step:   1 | Loss: ")
    assert pat.sub("", lines["zeroin"]) == pat.sub("", lines["torch"])


def test_copy_task_trains_until_greedy_decoding_copies():
    """example_simple_model shrunk (N=2, d_model=32, h=4; 12 epochs of 10 batches of 80):
    on the torch stream the data, the initial weights and the attention dropout are
    PyTorch's, so every epoch's loss is torch's, and both decode the input back."""
    torch_stream()
    tol = _dtype("float64")
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        lib.manual_seed(0)
        model, criterion, optimizer, lr_scheduler = _train_setup(A, lib)
        w0 = {k: _np(v).copy() for k, v in model.state_dict().items()}
        losses = []
        for epoch in range(12):
            model.train()
            losses.append(A.run_epoch(A.data_gen(11, 80, 10), model,
                                      A.SimpleLossCompute(model.generator, criterion),
                                      optimizer, lr_scheduler, mode="train",
                                      train_state=A.TrainState())[0])
            model.eval()
            losses.append(A.run_epoch(A.data_gen(11, 80, 1), model,
                                      A.SimpleLossCompute(model.generator, criterion),
                                      A.DummyOptimizer(), A.DummyScheduler(), mode="eval")[0])
        model.eval()
        src = lib.LongTensor([[1, 3, 5, 7, 9, 2, 4, 6, 8, 10]])
        copied = A.greedy_decode(model, src, lib.ones(1, 1, 10), max_len=10, start_symbol=1)
        enc_attn = model.encoder.layers[0].self_attn.attn
        src = lib.LongTensor([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]])      # the notebook's call
        nb = A.greedy_decode(model, src, lib.ones(1, 1, src.shape[1]), max_len=src.shape[1],
                             start_symbol=0)
        out[name] = dict(w0=w0, losses=[float(v) for v in losses], copied=copied.tolist(),
                         nb=nb.tolist(), attn=enc_attn, dtype=copied.dtype)
    z, t = out["zeroin"], out["torch"]
    for k in t["w0"]:               # the same initial weights, drawn by zeroin itself
        close(z["w0"][k], t["w0"][k], 1e-12 if not k.endswith("pe") else 1e-10)
    close(z["losses"], t["losses"], **tol)
    close(z["attn"], t["attn"], 1e-8)
    assert z["copied"] == t["copied"] == [[1, 3, 5, 7, 9, 2, 4, 6, 8, 10]]
    assert z["nb"] == t["nb"] and z["dtype"] == zeroin.int64
    assert z["losses"][-2] < 0.3 * z["losses"][0]


def test_eval_turns_dropout_off_and_inference_test_matches():
    """Train mode draws new dropout masks on every call, eval mode none; the notebook's
    inference_test (an untrained make_model(11, 11, 2)) decodes the same tokens."""
    torch_stream()
    _dtype("float32")
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        lib.manual_seed(3)
        model = A.make_model(11, 11, N=1, d_model=16, d_ff=32, h=2)
        b = next(A.data_gen(11, 4, 1))
        runs = []
        for mode in (model.train, model.train, model.eval, model.eval):
            mode()
            runs.append(_np(model(b.src, b.tgt, b.src_mask, b.tgt_mask)).copy())
        lib.manual_seed(1)
        out[name] = runs + [A.inference_test().tolist()]
    z, t = out["zeroin"], out["torch"]
    assert not np.allclose(z[0], z[1]) and np.array_equal(z[2], z[3])
    for a, b in zip(z[:4], t[:4]):
        close(a, b, **F32)
    assert z[4] == t[4] and len(z[4][0]) == 10


def test_collate_batch_and_the_tokens_of_check_outputs():
    """Part 3's collate_batch (torch.cat of <s>, the ids and </s>; F.pad to max_padding
    with the <blank> id; torch.stack) on a hand-made vocabulary (no torchtext, no spacy),
    Batch with pad 2, and check_outputs' ``[itos[x] for x in rb.src[0] if x != pad_idx]``."""
    itos = ["<s>", "</s>", "<blank>", "<unk>", "ein", "hund", "a", "dog", "läuft", "runs"]
    stoi = {w: i for i, w in enumerate(itos)}

    def vocab(tokens):
        return [stoi.get(w, 3) for w in tokens]

    pairs = [("ein hund läuft", "a dog runs"), ("hund", "a cat"),
             ("ein ein hund hund läuft läuft", "a a dog")]    # 8 ids: F.pad's -1 cuts </s>
    out = {}
    for name, A in AT.items():
        lib = LIB[name]
        src, tgt = A.collate_batch(pairs, str.split, str.split, vocab, vocab,
                                   lib.device("cpu"), max_padding=7, pad_id=stoi["<blank>"])
        rb = A.Batch(src, tgt, 2)
        words = [itos[x] for x in rb.src[0] if x != 2]
        out[name] = (src, tgt, rb.src_mask, rb.tgt_mask, int(rb.ntokens), words)
    z, t = out["zeroin"], out["torch"]
    for a, b in zip(z[:4], t[:4]):
        np.testing.assert_array_equal(_np(a), _np(b))
    assert z[4] == t[4] == 4 + 3 + 4 and z[5] == t[5] == ["<s>", "ein", "hund", "läuft", "</s>"]
    assert z[0].dtype == zeroin.int64 and _np(z[1])[1].tolist() == [0, 6, 3, 1, 2, 2, 2]
    assert _np(z[0])[2].tolist() == [0, 4, 4, 5, 5, 8, 8]
