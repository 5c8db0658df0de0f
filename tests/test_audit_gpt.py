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


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(z, t, tol):
    np.testing.assert_allclose(_np(z), _np(t), **tol)


@pytest.fixture(autouse=True)
def _restore():
    """Put torch's default dtype and zeroin's stream back even when a test fails (conftest
    puts zeroin's dtype back)."""
    yield
    torch.set_default_dtype(torch.float32)
    zeroin.random.use_torch_stream(False)


def _dtype(name):
    d = torch.float64 if name == "float64" else torch.float32
    torch.set_default_dtype(d)
    zeroin.set_default_dtype(zeroin.float64 if name == "float64" else zeroin.float32)
    return F64 if name == "float64" else F32


def _copy(zmodel, tmodel):
    """torch's weights into zeroin's model (the same names and shapes)."""
    zmodel.load_state_dict({k: zeroin.tensor(v.detach().numpy().copy())
                            for k, v in tmodel.state_dict().items()})


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
    zeroin.random.use_torch_stream(True)
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
            _copy(model, first)
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
        _copy(zl, tl)
    (zw, zo), (tw, to) = zf(), tf()
    _close(zw, tw, tol)
    _close(zo, to, tol)
    assert zo.shape == (4, 8, 16)
    np.testing.assert_array_equal(np.triu(_np(zw)[0], 1), 0)
