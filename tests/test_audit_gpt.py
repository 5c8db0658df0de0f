"""Audit against Andrej Karpathy's "Let's build GPT: from scratch, in code, spelled out"
(the gpt-dev notebook, bigram.py, v2.py) and nanoGPT (model.py, train.py's CPU path,
sample.py): their main code as a learner ports it (``import zeroin as torch``,
``import zeroin.nn as nn``, ``from zeroin.nn import functional as F``), written once and run
with ``torch`` and with ``zeroin`` on the same short text and the same weights (copied from
torch's model), compared to float resolution in float32 and to 1e-10 in float64. On zeroin's
opt-in torch stream the lecture's own draws (initial weights, batches, dropout, samples) are
PyTorch's. See docs/gpt.md."""
import inspect
import math
import os
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
from zeroin.nn import functional as ZF
from _audit import close, copy_weights, np_of as _np, torch_stream

torch = pytest.importorskip("torch")
LIBS = {"torch": (torch, torch.nn, torch.nn.functional), "zeroin": (zeroin, znn, ZF)}

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak."
        "\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\n"
        "Resolved. resolved.\n\nFirst Citizen:\nFirst, you know Caius Marcius is chief enemy "
        "to the people.\n")
chars = sorted(list(set(TEXT)))
vocab_size = len(chars)
stoi = {ch: i for i, ch in enumerate(chars)}
itos = {i: ch for i, ch in enumerate(chars)}


def encode(s):
    return [stoi[c] for c in s]


def decode(ids):
    return "".join([itos[i] for i in ids])


F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)


def _close(z, t, tol):
    close(z, t, **tol)


@pytest.fixture(autouse=True)
def _restore():
    """Put torch's default dtype, train.py's tf32 switches (in PyTorch allow_tf32 also sets
    the float32 matmul precision) and zeroin's stream back even when a test fails (conftest
    puts zeroin's dtype back)."""
    libs = (torch, zeroin)
    old = [(lib.backends.cuda.matmul.allow_tf32, lib.backends.cudnn.allow_tf32,
            lib.get_float32_matmul_precision()) for lib in libs]
    yield
    for lib, (tf32, cudnn_tf32, precision) in zip(libs, old):
        lib.backends.cuda.matmul.allow_tf32 = tf32
        lib.backends.cudnn.allow_tf32 = cudnn_tf32
        lib.set_float32_matmul_precision(precision)
    torch.set_default_dtype(torch.float32)
    zeroin.random.use_torch_stream(False)




def _dtype(name):
    d = torch.float64 if name == "float64" else torch.float32
    torch.set_default_dtype(d)
    zeroin.set_default_dtype(zeroin.float64 if name == "float64" else zeroin.float32)
    return F64 if name == "float64" else F32


def _grads_close(zmodel, tmodel, tol):
    tg = dict(tmodel.named_parameters())
    for n, p in zmodel.named_parameters():
        assert (p.grad is None) == (tg[n].grad is None), n
        if p.grad is not None:
            _close(p.grad, tg[n].grad, tol)


# --- the lecture: data ------------------------------------------------------------------------

def _data(torch):
    data = torch.tensor(encode(TEXT), dtype=torch.long)
    n = int(0.9 * len(data))
    return data, data[:n], data[n:]


def _get_batch(torch, data, block_size, batch_size, ix=None):
    if ix is None:
        ix = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in ix])
    return x, y


def test_vocabulary_split_and_batches():
    assert decode(encode("hear me speak")) == "hear me speak"
    out = {}
    for name, (lib, _, _) in LIBS.items():
        data, train, val = _data(lib)
        assert data.dtype == lib.int64 and data.shape == (len(TEXT),)
        assert data[:10].tolist() == encode(TEXT[:10])
        ix = lib.tensor([0, 5, 17, len(train) - 9])
        out[name] = _get_batch(lib, train, 8, 4, ix) + (len(train), len(val))
    for z, t in zip(out["zeroin"], out["torch"]):
        np.testing.assert_array_equal(_np(z), _np(t))
    x, y = out["zeroin"][:2]
    np.testing.assert_array_equal(_np(x)[:, 1:], _np(y)[:, :-1])


# --- the lecture: bigram.py -------------------------------------------------------------------

def _bigram(torch, nn, F):
    class BigramLanguageModel(nn.Module):
        def __init__(self, vocab_size):
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab_size, vocab_size)

        def forward(self, idx, targets=None):
            logits = self.token_embedding_table(idx)  # (B,T,C)
            if targets is None:
                loss = None
            else:
                B, T, C = logits.shape
                logits = logits.view(B * T, C)
                targets = targets.view(B * T)
                loss = F.cross_entropy(logits, targets)
            return logits, loss

        def generate(self, idx, max_new_tokens):
            for _ in range(max_new_tokens):
                logits, loss = self(idx)
                logits = logits[:, -1, :]  # becomes (B, C)
                probs = F.softmax(logits, dim=-1)  # (B, C)
                idx_next = torch.multinomial(probs, num_samples=1)  # (B, 1)
                idx = torch.cat((idx, idx_next), dim=1)  # (B, T+1)
            return idx
    return BigramLanguageModel


def _estimate_loss(torch, model, splits, eval_iters, block_size, batch_size):
    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ["train", "val"]:
            losses = torch.zeros(eval_iters)
            for k in range(eval_iters):
                X, Y = _get_batch(torch, splits[split], block_size, batch_size)
                logits, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean()
        model.train()
        return out
    return estimate_loss()


def _train_bigram(lib, steps=5, batch_size=4, block_size=8):
    torch, nn, F = lib
    torch.manual_seed(1337)
    _, train_data, val_data = _data(torch)
    model = _bigram(*lib)(vocab_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        xb, yb = _get_batch(torch, train_data, block_size, batch_size)
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    est = _estimate_loss(torch, model, {"train": train_data, "val": val_data}, 3,
                         block_size, batch_size)
    context = torch.zeros((1, 1), dtype=torch.long)
    text = decode(model.generate(context, max_new_tokens=20)[0].tolist())
    return model, losses, est, text


def test_bigram_on_the_torch_stream_is_the_lectures_run():
    """With use_torch_stream(True) and float32, torch.manual_seed(1337) gives PyTorch's
    initial embedding, batches and samples: the losses printed and the text generated are
    PyTorch's."""
    _dtype("float32")
    torch_stream()
    tm, tl, te, tt = _train_bigram(LIBS["torch"])
    zm, zl, ze, zt = _train_bigram(LIBS["zeroin"])
    _close(zm.token_embedding_table.weight, tm.token_embedding_table.weight, F32)
    np.testing.assert_allclose(zl, tl, **F32)
    for split in ("train", "val"):
        assert ze[split].dtype == zeroin.float32 and ze[split].shape == ()
        _close(ze[split], te[split], F32)
        assert f"{ze[split]:.4f}" == f"{te[split]:.4f}"
    assert zt == tt and len(zt) == 21
    assert zm.training


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bigram_loss_gradient_and_step(dtype):
    tol = _dtype(dtype)
    out = {}
    for name, lib in LIBS.items():
        torch, nn, F = lib
        model = _bigram(*lib)(vocab_size)
        if name == "torch":
            first = _bigram(*lib)(vocab_size)
            first.load_state_dict(model.state_dict())
        else:
            copy_weights(first, model)
        _, train, _ = _data(torch)
        xb, yb = _get_batch(torch, train, 8, 4, torch.tensor([0, 3, 30, 60]))
        logits, loss = model(xb, yb)
        assert logits.shape == (32, vocab_size)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad = model.token_embedding_table.weight.grad.clone()
        optimizer.step()
        out[name] = (model, loss, grad)
    (zm, zl, zg), (tm, tl, tg) = out["zeroin"], out["torch"]
    _close(zl, tl, tol)
    _close(zg, tg, tol)
    _close(zm.token_embedding_table.weight, tm.token_embedding_table.weight, tol)
    assert abs(tl.item() - math.log(vocab_size)) < 3   # near -ln(1/vocab) for N(0, 1) logits


# --- the lecture: the mathematical trick in self-attention -------------------------------------

def _trick(lib, x):
    torch, nn, F = lib
    B, T, C = x.shape
    xbow = torch.zeros((B, T, C))
    for b in range(B):
        for t in range(T):
            xprev = x[b, :t + 1]  # (t,C)
            xbow[b, t] = torch.mean(xprev, 0)
    wei = torch.tril(torch.ones(T, T))
    wei = wei / wei.sum(1, keepdim=True)
    xbow2 = wei @ x  # (B, T, T) @ (B, T, C) ----> (B, T, C)
    tril = torch.tril(torch.ones(T, T))
    wei = torch.zeros((T, T))
    wei = wei.masked_fill(tril == 0, float('-inf'))
    wei = F.softmax(wei, dim=-1)
    xbow3 = wei @ x
    return xbow, xbow2, xbow3


def _single_head(lib, x, head_size=16):
    torch, nn, F = lib
    B, T, C = x.shape
    key = nn.Linear(C, head_size, bias=False)
    query = nn.Linear(C, head_size, bias=False)
    value = nn.Linear(C, head_size, bias=False)
    return (key, query, value), lambda: _attend(torch, F, x, key, query, value)


def _attend(torch, F, x, key, query, value):
    T = x.shape[1]
    k = key(x)   # (B, T, 16)
    q = query(x)  # (B, T, 16)
    wei = q @ k.transpose(-2, -1) * k.shape[-1]**-0.5  # (B, T, 16) @ (B, 16, T) ---> (B, T, T)
    tril = torch.tril(torch.ones(T, T))
    wei = wei.masked_fill(tril == 0, float('-inf'))
    wei = F.softmax(wei, dim=-1)
    v = value(x)
    out = wei @ v
    return wei, out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_mathematical_trick_and_one_head(dtype):
    tol = _dtype(dtype)
    torch.manual_seed(1337)
    xt = torch.randn(4, 8, 32)
    xz = zeroin.tensor(xt.numpy().copy())
    t3, z3 = _trick(LIBS["torch"], xt), _trick(LIBS["zeroin"], xz)
    for z, t in zip(z3, t3):
        _close(z, t, tol)
    _close(z3[0], z3[1], tol)
    _close(z3[0], z3[2], tol)
    tlayers, tf = _single_head(LIBS["torch"], xt)
    zlayers, zf = _single_head(LIBS["zeroin"], xz)
    for zl, tl in zip(zlayers, tlayers):
        copy_weights(tl, zl)
    (zw, zo), (tw, to) = zf(), tf()
    _close(zw, tw, tol)
    _close(zo, to, tol)
    assert zo.shape == (4, 8, 16)
    np.testing.assert_array_equal(np.triu(_np(zw)[0], 1), 0)


# --- the lecture: v2.py -------------------------------------------------------------------------

def _v2(torch, nn, F, n_embd=32, n_head=4, n_layer=2, block_size=8, dropout=0.0,
        device="cpu"):
    class Head(nn.Module):
        """ one head of self-attention """

        def __init__(self, head_size):
            super().__init__()
            self.key = nn.Linear(n_embd, head_size, bias=False)
            self.query = nn.Linear(n_embd, head_size, bias=False)
            self.value = nn.Linear(n_embd, head_size, bias=False)
            self.register_buffer('tril', torch.tril(torch.ones(block_size, block_size)))
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            B, T, C = x.shape
            k = self.key(x)   # (B,T,hs)
            q = self.query(x)  # (B,T,hs)
            wei = q @ k.transpose(-2, -1) * k.shape[-1]**-0.5  # (B, T, hs) @ (B, hs, T)
            wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))  # (B, T, T)
            wei = F.softmax(wei, dim=-1)  # (B, T, T)
            wei = self.dropout(wei)
            v = self.value(x)  # (B,T,hs)
            out = wei @ v  # (B, T, T) @ (B, T, hs) -> (B, T, hs)
            return out

    class MultiHeadAttention(nn.Module):
        def __init__(self, num_heads, head_size):
            super().__init__()
            self.heads = nn.ModuleList([Head(head_size) for _ in range(num_heads)])
            self.proj = nn.Linear(head_size * num_heads, n_embd)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            out = torch.cat([h(x) for h in self.heads], dim=-1)
            out = self.dropout(self.proj(out))
            return out

    class FeedFoward(nn.Module):
        def __init__(self, n_embd):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(),
                                     nn.Linear(4 * n_embd, n_embd), nn.Dropout(dropout))

        def forward(self, x):
            return self.net(x)

    class Block(nn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            head_size = n_embd // n_head
            self.sa = MultiHeadAttention(n_head, head_size)
            self.ffwd = FeedFoward(n_embd)
            self.ln1 = nn.LayerNorm(n_embd)
            self.ln2 = nn.LayerNorm(n_embd)

        def forward(self, x):
            x = x + self.sa(self.ln1(x))
            x = x + self.ffwd(self.ln2(x))
            return x

    class GPTLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
            self.position_embedding_table = nn.Embedding(block_size, n_embd)
            self.blocks = nn.Sequential(*[Block(n_embd, n_head=n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)  # final layer norm
            self.lm_head = nn.Linear(n_embd, vocab_size)
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            B, T = idx.shape
            tok_emb = self.token_embedding_table(idx)  # (B,T,C)
            pos_emb = self.position_embedding_table(torch.arange(T, device=device))  # (T,C)
            x = tok_emb + pos_emb  # (B,T,C)
            x = self.blocks(x)  # (B,T,C)
            x = self.ln_f(x)  # (B,T,C)
            logits = self.lm_head(x)  # (B,T,vocab_size)
            if targets is None:
                loss = None
            else:
                B, T, C = logits.shape
                logits = logits.view(B * T, C)
                targets = targets.view(B * T)
                loss = F.cross_entropy(logits, targets)
            return logits, loss

        def generate(self, idx, max_new_tokens):
            for _ in range(max_new_tokens):
                idx_cond = idx[:, -block_size:]
                logits, loss = self(idx_cond)
                logits = logits[:, -1, :]  # becomes (B, C)
                probs = F.softmax(logits, dim=-1)  # (B, C)
                idx_next = torch.multinomial(probs, num_samples=1)  # (B, 1)
                idx = torch.cat((idx, idx_next), dim=1)  # (B, T+1)
            return idx
    return GPTLanguageModel


def _train_v2(lib, steps, dropout, state=None, batch_size=4, block_size=8):
    """v2.py's script, shortened: returns the model, the losses, estimate_loss and a sample."""
    torch, nn, F = lib
    torch.manual_seed(1337)
    _, train_data, val_data = _data(torch)
    model = _v2(*lib, dropout=dropout, block_size=block_size)()
    m = model.to("cpu")
    if state is not None:      # torch's initial weights
        m.load_state_dict({k: torch.tensor(v.numpy().copy()) for k, v in state.items()})
    first = {k: v.detach().clone() for k, v in m.state_dict().items()}
    n_params = sum(p.numel() for p in m.parameters()) / 1e6
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(steps):
        xb, yb = _get_batch(torch, train_data, block_size, batch_size)
        logits, loss = model(xb, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    est = _estimate_loss(torch, model, {"train": train_data, "val": val_data}, 2,
                         block_size, batch_size)
    context = torch.zeros((1, 1), dtype=torch.long, device="cpu")
    text = decode(m.generate(context, max_new_tokens=12)[0].tolist())
    return m, losses, est, text, n_params, first


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_v2_gpt_trains_as_torchs(dtype):
    """The lecture's GPT (dropout 0), weights copied from torch's; the batches and the
    samples from torch's stream."""
    tol = _dtype(dtype)
    torch_stream()
    t = _train_v2(LIBS["torch"], 4, 0.0)
    z = _train_v2(LIBS["zeroin"], 4, 0.0, state=t[5] if dtype == "float64" else None)
    assert z[4] == t[4] and 0.02 < t[4] < 0.04
    np.testing.assert_allclose(z[1], t[1], **tol)
    for split in ("train", "val"):
        _close(z[2][split], t[2][split], tol)
    line = "step {}: train loss {:.4f}, val loss {:.4f}"       # v2.py's print
    assert line.format(4, z[2]['train'], z[2]['val']) == line.format(4, t[2]['train'],
                                                                     t[2]['val'])
    assert f"{z[4]} M parameters" == f"{t[4]} M parameters"
    assert z[3] == t[3]
    for (n, zp), (tn, tp) in zip(z[0].state_dict().items(), t[0].state_dict().items()):
        assert n == tn
        _close(zp, tp, tol)


def test_v2_dropout_on_thetorch_stream():
    """v2.py's dropout=0.2, in float32 on the torch stream: the initial weights, the
    dropout masks, the batches and the losses are PyTorch's."""
    _dtype("float32")
    torch_stream()
    t = _train_v2(LIBS["torch"], 3, 0.2)
    z = _train_v2(LIBS["zeroin"], 3, 0.2)
    for k, v in t[5].items():      # the initial weights: PyTorch's own numbers
        np.testing.assert_array_equal(_np(z[5][k]), _np(v))
    np.testing.assert_allclose(z[1], t[1], **F32)
    assert z[3] == t[3]
    _close(z[0].lm_head.weight, t[0].lm_head.weight, F32)


# --- nanoGPT: model.py ----------------------------------------------------------------------

@dataclass
class GPTConfig:
    block_size: int = 16
    vocab_size: int = vocab_size
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 16
    dropout: float = 0.0
    bias: bool = True


def _nanogpt(torch, nn, F, flash):
    class LayerNorm(nn.Module):
        """ LayerNorm but with an optional bias. PyTorch doesn't support simply bias=False """

        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, input):
            return F.layer_norm(input, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self, config):
            super().__init__()
            assert config.n_embd % config.n_head == 0
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.attn_dropout = nn.Dropout(config.dropout)
            self.resid_dropout = nn.Dropout(config.dropout)
            self.n_head = config.n_head
            self.n_embd = config.n_embd
            self.dropout = config.dropout
            self.flash = flash and hasattr(torch.nn.functional, 'scaled_dot_product_attention')
            if not self.flash:
                self.register_buffer("bias", torch.tril(torch.ones(
                    config.block_size, config.block_size)).view(
                        1, 1, config.block_size, config.block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
            if self.flash:
                y = torch.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                    is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float('-inf'))
                att = F.softmax(att, dim=-1)
                att = self.attn_dropout(att)
                y = att @ v  # (B, nh, T, T) x (B, nh, T, hs) -> (B, nh, T, hs)
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            y = self.resid_dropout(self.c_proj(y))
            return y

    class MLP(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.ln_1 = LayerNorm(config.n_embd, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = LayerNorm(config.n_embd, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x

    return LayerNorm, Block


def _gpt_class(torch, nn, F, flash):
    LayerNorm, Block = _nanogpt(torch, nn, F, flash)

    class GPT(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.config = config
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=LayerNorm(config.n_embd, bias=config.bias),
            ))
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith('c_proj.weight'):
                    torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    torch.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            device = idx.device
            b, t = idx.size()
            assert t <= self.config.block_size, \
                f"Cannot forward sequence of length {t}, block size is {self.config.block_size}"
            pos = torch.arange(0, t, dtype=torch.long, device=device)  # shape (t)
            tok_emb = self.transformer.wte(idx)  # token embeddings of shape (b, t, n_embd)
            pos_emb = self.transformer.wpe(pos)  # position embeddings of shape (t, n_embd)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])  # list [-1] to preserve the time dim
                loss = None
            return logits, loss

        def crop_block_size(self, block_size):
            assert block_size <= self.config.block_size
            self.config.block_size = block_size
            self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:block_size])
            for block in self.transformer.h:
                if hasattr(block.attn, 'bias'):
                    block.attn.bias = block.attn.bias[:, :, :block_size, :block_size]

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [
                {'params': decay_params, 'weight_decay': weight_decay},
                {'params': nodecay_params, 'weight_decay': 0.0}
            ]
            self.num_decay = (len(decay_params), sum(p.numel() for p in decay_params))
            self.num_nodecay = (len(nodecay_params), sum(p.numel() for p in nodecay_params))
            fused_available = 'fused' in inspect.signature(torch.optim.AdamW).parameters
            use_fused = fused_available and device_type == 'cuda'
            extra_args = dict(fused=True) if use_fused else dict()
            optimizer = torch.optim.AdamW(optim_groups, lr=learning_rate, betas=betas,
                                          **extra_args)
            return optimizer

        def estimate_mfu(self, fwdbwd_per_iter, dt):
            N = self.get_num_params()
            cfg = self.config
            L, H, Q, T = cfg.n_layer, cfg.n_head, cfg.n_embd // cfg.n_head, cfg.block_size
            flops_per_token = 6 * N + 12 * L * H * Q * T
            flops_per_fwdbwd = flops_per_token * T
            flops_per_iter = flops_per_fwdbwd * fwdbwd_per_iter
            flops_achieved = flops_per_iter * (1.0 / dt)  # per second
            flops_promised = 312e12  # A100 GPU bfloat16 peak flops is 312 TFLOPS
            mfu = flops_achieved / flops_promised
            return mfu

        @torch.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.config.block_size \
                    else idx[:, -self.config.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float('Inf')
                probs = F.softmax(logits, dim=-1)
                idx_next = torch.multinomial(probs, num_samples=1)
                idx = torch.cat((idx, idx_next), dim=1)
            return idx
    return GPT


def _two_gpts(flash, **config):
    """torch's GPT and zeroin's with torch's initial weights."""
    tm = _gpt_class(*LIBS["torch"], flash)(GPTConfig(**config))
    zm = _gpt_class(*LIBS["zeroin"], flash)(GPTConfig(**config))
    copy_weights(tm, zm)
    return zm, tm


@pytest.mark.parametrize("flash", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nanogpt_forward_backward_and_step(flash, dtype):
    tol = _dtype(dtype)
    zm, tm = _two_gpts(flash, bias=flash)
    assert zm.transformer.wte.weight is zm.lm_head.weight      # tied
    assert zm.get_num_params() == tm.get_num_params()
    assert zm.get_num_params(False) == tm.get_num_params(False)
    assert [n for n, _ in zm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert list(zm.state_dict()) == list(tm.state_dict())
    out = {}
    for name, m in (("torch", tm), ("zeroin", zm)):
        lib = LIBS[name][0]
        _, train, _ = _data(lib)
        x, y = _get_batch(lib, train, 16, 3, lib.tensor([0, 11, 40]))
        y[0, :5] = -1                                             # ignored targets
        opt = m.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
        logits, loss = m(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in m.named_parameters()}
        opt.step()
        out[name] = logits, loss, grads, m(x)[0], m.num_decay, m.num_nodecay
    (zl, zloss, zg, zinf, *zn), (tl, tloss, tg, tinf, *tn) = out["zeroin"], out["torch"]
    assert zn == tn
    _close(zl, tl, tol)
    _close(zloss, tloss, tol)
    for n in tg:
        _close(zg[n], tg[n], tol)
    assert zinf.shape == (3, 1, vocab_size)
    _close(zinf, tinf, tol)
    for (n, zp), tp in zip(zm.state_dict().items(), tm.state_dict().values()):
        _close(zp, tp, tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nanogpt_flash_and_manual_paths_agree(dtype):
    tol = _dtype(dtype)
    zf, tf = _two_gpts(True)
    zm = _gpt_class(*LIBS["zeroin"], False)(GPTConfig())
    zm.load_state_dict(zf.state_dict(), strict=False)     # the mask buffer stays
    x = zeroin.tensor([encode(TEXT[:16]), encode(TEXT[16:32])])
    y = zeroin.tensor([encode(TEXT[1:17]), encode(TEXT[17:33])])
    (_, lf), (_, lm) = zf(x, y), zm(x, y)
    _close(lf, lm, tol)
    lf.backward()
    lm.backward()
    for (n, pf), pm in zip(zf.named_parameters(), zm.parameters()):
        _close(pf.grad, pm.grad, tol)


def test_nanogpt_crop_generate_topk_and_mfu():
    _dtype("float32")
    torch_stream()
    res = {}
    for name, (lib, _, _) in LIBS.items():
        lib.manual_seed(1337)
        m = _gpt_class(*LIBS[name], False)(GPTConfig())
        m.crop_block_size(8)
        assert m.transformer.wpe.weight.shape == (8, 16)
        assert m.transformer.h[0].attn.bias.shape == (1, 1, 8, 8)
        m.eval()
        x = lib.tensor([encode("First Ci")], dtype=lib.long)
        out = m.generate(x, max_new_tokens=10, temperature=0.8, top_k=5)
        res[name] = (decode(out[0].tolist()), m.estimate_mfu(12, 0.5),
                     m.transformer.wpe.weight.detach().clone(), m.get_num_params())
    assert res["zeroin"][0] == res["torch"][0] and res["zeroin"][0].startswith("First Ci")
    assert res["zeroin"][1] == res["torch"][1] > 0
    np.testing.assert_array_equal(_np(res["zeroin"][2]), _np(res["torch"][2]))
    assert res["zeroin"][3] == res["torch"][3]


# --- nanoGPT: train.py (the CPU path) and sample.py --------------------------------------------

def _get_lr(it, warmup_iters=2, lr_decay_iters=6, learning_rate=1e-3, min_lr=1e-4):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))  # coeff ranges 0..1
    return min_lr + coeff * (learning_rate - min_lr)


def _train_py(lib, data_dir, out_dir, init_state, max_iters=4, grad_accum=2):
    """train.py's loop on the CPU: returns the losses, the learning rates and the model."""
    torch, nn, F = lib
    seed_offset, device, device_type, dtype = 0, "cpu", "cpu", "float32"
    block_size, batch_size, grad_clip = 8, 3, 1.0
    torch.manual_seed(1337 + seed_offset)
    torch.backends.cuda.matmul.allow_tf32 = True  # allow tf32 on matmul
    torch.backends.cudnn.allow_tf32 = True  # allow tf32 on cudnn
    ptdtype = {'float32': torch.float32, 'bfloat16': torch.bfloat16,
               'float16': torch.float16}[dtype]
    ctx = nullcontext() if device_type == 'cpu' else torch.amp.autocast(
        device_type=device_type, dtype=ptdtype)

    def get_batch(split):
        data = np.memmap(os.path.join(data_dir, f'{split}.bin'), dtype=np.uint16, mode='r')
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([torch.from_numpy((data[i:i + block_size]).astype(np.int64))
                         for i in ix])
        y = torch.stack([torch.from_numpy((data[i + 1:i + 1 + block_size]).astype(np.int64))
                         for i in ix])
        x, y = x.to(device), y.to(device)
        return x, y

    model_args = dict(n_layer=2, n_head=2, n_embd=16, block_size=block_size, bias=False,
                      vocab_size=vocab_size, dropout=0.0)
    model = _gpt_class(*lib, True)(GPTConfig(**model_args))
    model.load_state_dict({k: torch.tensor(v.numpy().copy()) for k, v in init_state.items()})
    model.to(device)
    scaler = torch.amp.GradScaler(enabled=(dtype == 'float16'))
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), device_type)
    if torch is zeroin:      # zeroin's returns the model (torch's would compile it here)
        model = torch.compile(model)
    X, Y = get_batch('train')
    losses, lrs, norms = [], [], []
    for iter_num in range(max_iters):
        lr = _get_lr(iter_num)
        for param_group in optimizer.param_groups:
            param_group['lr'] = lr
        for micro_step in range(grad_accum):
            with ctx:
                logits, loss = model(X, Y)
                loss = loss / grad_accum
            X, Y = get_batch('train')
            scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)))
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item() * grad_accum)
        lrs.append(lr)
    checkpoint = {'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                  'model_args': model_args, 'iter_num': max_iters,
                  'best_val_loss': torch.tensor(2.5), 'config': {'batch_size': batch_size}}
    torch.save(checkpoint, os.path.join(out_dir, 'ckpt.pt'))
    return losses, lrs, norms, model


def _resume(lib, out_dir, prefix):
    """train.py's init_from='resume' and sample.py: the checkpoint loaded, a torch.compile
    prefix stripped, the model sampled in eval mode."""
    torch, nn, F = lib
    device = "cpu"
    ckpt_path = os.path.join(out_dir, 'ckpt.pt')
    checkpoint = torch.load(ckpt_path, map_location=device)
    gptconf = GPTConfig(**checkpoint['model_args'])
    model = _gpt_class(*lib, True)(gptconf)
    state_dict = checkpoint['model']
    state_dict = {prefix + k: v for k, v in state_dict.items()}   # as torch.compile saves it
    unwanted_prefix = '_orig_mod.'
    for k, v in list(state_dict.items()):
        if k.startswith(unwanted_prefix):
            state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
    model.load_state_dict(state_dict)
    optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
    optimizer.load_state_dict(checkpoint['optimizer'])
    model.eval()
    torch.manual_seed(1337)
    x = torch.tensor(encode("\n"), dtype=torch.long, device=device)[None, ...]
    with torch.no_grad():
        y = model.generate(x, 12, temperature=0.8, top_k=200)
    return model, checkpoint, decode(y[0].tolist()), optimizer


def test_nanogpt_train_py_checkpoint_and_sample(tmp_path):
    """train.py's CPU path in float32 on the torch stream (batches from a uint16 memmap,
    GradScaler disabled, gradient accumulation, clipping, the cosine schedule, a checkpoint
    saved and resumed, sample.py's sampling): the same losses, norms, checkpoint and text."""
    _dtype("float32")
    torch_stream()
    ids = np.array(encode(TEXT), dtype=np.uint16)
    n = int(0.9 * len(ids))
    ids[:n].tofile(tmp_path / "train.bin")
    ids[n:].tofile(tmp_path / "val.bin")
    init = _gpt_class(*LIBS["torch"], True)(GPTConfig(block_size=8, bias=False)).state_dict()
    res = {}
    for name, lib in LIBS.items():
        out_dir = tmp_path / name
        out_dir.mkdir()
        train = _train_py(lib, str(tmp_path), str(out_dir), init)
        res[name] = train, _resume(lib, str(out_dir), "_orig_mod." if name == "zeroin" else "")
    (zl, zlr, zn, zm), (tl, tlr, tn, tm) = res["zeroin"][0], res["torch"][0]
    assert zlr == tlr and zlr[0] == pytest.approx(1e-3 / 3)
    np.testing.assert_allclose(zl, tl, **F32)
    np.testing.assert_allclose(zn, tn, **F32)
    (zr, zc, zs, zo), (tr, tc, ts, to) = res["zeroin"][1], res["torch"][1]
    assert zc['iter_num'] == tc['iter_num'] == 4 and zc['model_args'] == tc['model_args']
    assert zc['best_val_loss'].item() == tc['best_val_loss'].item() == 2.5
    for k, v in tr.state_dict().items():
        _close(zr.state_dict()[k], v, F32)
        _close(zm.state_dict()[k], tm.state_dict()[k], F32)
    assert not zr.training
    assert zs == ts and zs.startswith("\n") and len(zs) == 13
    zstate, tstate = zo.state_dict()["state"], to.state_dict()["state"]
    assert sorted(zstate) == sorted(tstate)
    for i in tstate:
        _close(zstate[i]["exp_avg_sq"], tstate[i]["exp_avg_sq"], F32)
    assert [g["lr"] for g in zo.param_groups] == [g["lr"] for g in to.param_groups]
