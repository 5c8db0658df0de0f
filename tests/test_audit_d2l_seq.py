"""Audit against "Dive into Deep Learning" (d2l.ai, PyTorch edition), chapters 10 (modern
RNNs) and 11 (attention mechanisms and Transformers): each section's main code as a learner
ports it (``import zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional as
F``), the d2l helpers it calls written here (``grad_clipping``, ``truncate_pad``,
``sequence_mask``, ``masked_softmax``, ``bleu``...), run on ``torch`` and on ``zeroin`` with
the same data and the same weights (copied from torch): float32 (the book's dtype) compared to
float resolution. The data are small, seeded and made here (no download). See
docs/d2l_seq.md."""
import collections
import math
from types import SimpleNamespace

import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, close as _close, copy_weights as _copy, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
TOL = 2e-5          # float32 after a few layers and steps


@pytest.fixture(autouse=True, scope="module")
def _torch_on_one_thread():
    """PyTorch on one thread for this file: its many tiny ops on OpenMP threads took 8 s
    instead of 1 s for one test on a loaded two-core machine. The count goes back after."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _same(res, tol=TOL):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(np.shape(_np(z))) == tuple(np.shape(_np(t)))
        _close(z, t, tol)


def _rng(seed=0):
    return np.random.default_rng(seed)


# --- the book's helpers and models, written once for both libraries ---------------------------

def grad_clipping(lib, net, theta):
    """d2l's grad_clipping (9.5): the global norm of all gradients at most ``theta``."""
    params = [p for p in net.parameters() if p.requires_grad]
    norm = lib.sqrt(sum(lib.sum((p.grad ** 2)) for p in params))    # noqa: UP034 (the book's)
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def truncate_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


class Vocab:
    """d2l's Vocab, cut down: tokens by frequency after the reserved ones."""
    def __init__(self, tokens, reserved_tokens=()):
        counter = collections.Counter(tokens)
        self.idx_to_token = ['<unk>'] + list(reserved_tokens) + sorted(
            (t for t in counter if t not in reserved_tokens), key=lambda t: (-counter[t], t))
        self.token_to_idx = {t: i for i, t in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        return [self.idx_to_token[int(i)] for i in indices]


def bleu(pred_seq, label_seq, k):
    """d2l's BLEU (10.7)."""
    pred_tokens, label_tokens = pred_seq.split(' '), label_seq.split(' ')
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    score = math.exp(min(0, 1 - len_label / len_pred))
    for n in range(1, min(k, len_pred) + 1):
        num_matches, label_subs = 0, collections.defaultdict(int)
        for i in range(len_label - n + 1):
            label_subs[' '.join(label_tokens[i: i + n])] += 1
        for i in range(len_pred - n + 1):
            if label_subs[' '.join(pred_tokens[i: i + n])] > 0:
                num_matches += 1
                label_subs[' '.join(pred_tokens[i: i + n])] -= 1
        score *= math.pow(num_matches / (len_pred - n + 1), math.pow(0.5, n))
    return score


def _rnn_scratch(lib):
    """10.1 LSTMScratch and 10.2 GRUScratch, with 9.5's output layer (RNNLMScratch)."""
    nn, F = lib.nn, lib.nn.functional

    def init_weight(*shape, sigma=0.01):
        return nn.Parameter(lib.randn(*shape) * sigma)

    class LSTMScratch(nn.Module):
        def __init__(self, num_inputs, num_hiddens):
            super().__init__()
            self.num_hiddens = num_hiddens
            triple = lambda: (init_weight(num_inputs, num_hiddens),      # noqa: E731
                              init_weight(num_hiddens, num_hiddens),
                              nn.Parameter(lib.zeros(num_hiddens)))
            self.W_xi, self.W_hi, self.b_i = triple()
            self.W_xf, self.W_hf, self.b_f = triple()
            self.W_xo, self.W_ho, self.b_o = triple()
            self.W_xc, self.W_hc, self.b_c = triple()

        def forward(self, inputs, H_C=None):
            if H_C is None:
                H = lib.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
                C = lib.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
            else:
                H, C = H_C
            outputs = []
            for X in inputs:
                I = lib.sigmoid(lib.matmul(X, self.W_xi) + lib.matmul(H, self.W_hi) + self.b_i)  # noqa: E741
                F_ = lib.sigmoid(lib.matmul(X, self.W_xf) + lib.matmul(H, self.W_hf) + self.b_f)
                O = lib.sigmoid(lib.matmul(X, self.W_xo) + lib.matmul(H, self.W_ho) + self.b_o)  # noqa: E741
                C_tilde = lib.tanh(lib.matmul(X, self.W_xc) + lib.matmul(H, self.W_hc) + self.b_c)
                C = F_ * C + I * C_tilde
                H = O * lib.tanh(C)
                outputs.append(H)
            return outputs, (H, C)

    class GRUScratch(nn.Module):
        def __init__(self, num_inputs, num_hiddens):
            super().__init__()
            self.num_hiddens = num_hiddens
            triple = lambda: (init_weight(num_inputs, num_hiddens),      # noqa: E731
                              init_weight(num_hiddens, num_hiddens),
                              nn.Parameter(lib.zeros(num_hiddens)))
            self.W_xz, self.W_hz, self.b_z = triple()
            self.W_xr, self.W_hr, self.b_r = triple()
            self.W_xh, self.W_hh, self.b_h = triple()

        def forward(self, inputs, H=None):
            if H is None:
                H = lib.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
            outputs = []
            for X in inputs:
                Z = lib.sigmoid(lib.matmul(X, self.W_xz) + lib.matmul(H, self.W_hz) + self.b_z)
                R = lib.sigmoid(lib.matmul(X, self.W_xr) + lib.matmul(H, self.W_hr) + self.b_r)
                H_tilde = lib.tanh(lib.matmul(X, self.W_xh) + lib.matmul(R * H, self.W_hh)
                                   + self.b_h)
                H = Z * H + (1 - Z) * H_tilde
                outputs.append(H)
            return outputs, H

    class RNNLMScratch(nn.Module):
        def __init__(self, rnn, vocab_size):
            super().__init__()
            self.rnn, self.vocab_size = rnn, vocab_size
            self.W_hq = init_weight(rnn.num_hiddens, vocab_size)
            self.b_q = nn.Parameter(lib.zeros(vocab_size))

        def one_hot(self, X):
            return F.one_hot(X.T, self.vocab_size).type(lib.float32)

        def output_layer(self, rnn_outputs):
            outputs = [lib.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs]
            return lib.stack(outputs, 1)

        def forward(self, X, state=None):
            rnn_outputs, _ = self.rnn(self.one_hot(X), state)
            return self.output_layer(rnn_outputs)

    class BiRNNScratch(nn.Module):
        def __init__(self, make_rnn):
            super().__init__()
            self.f_rnn, self.b_rnn = make_rnn(), make_rnn()
            self.num_hiddens = 2 * self.f_rnn.num_hiddens

        def forward(self, inputs, Hs=None):
            f_H, b_H = Hs if Hs is not None else (None, None)
            f_outputs, f_H = self.f_rnn(inputs, f_H)
            b_outputs, b_H = self.b_rnn(reversed(inputs), b_H)
            outputs = [lib.cat((f, b), -1) for f, b in zip(f_outputs, reversed(b_outputs))]
            return outputs, (f_H, b_H)
    return SimpleNamespace(LSTMScratch=LSTMScratch, GRUScratch=GRUScratch,
                           RNNLMScratch=RNNLMScratch, BiRNNScratch=BiRNNScratch)


def sequence_mask(lib, X, valid_len, value=0):
    """d2l 10.7's sequence_mask: entries past each row's valid length set to ``value``."""
    maxlen = X.size(1)
    mask = lib.arange((maxlen), dtype=lib.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def masked_softmax(lib, X, valid_lens):
    """d2l 11.3's masked_softmax, 1-D or 2-D ``valid_lens``."""
    if valid_lens is None:
        return lib.nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = lib.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(lib, X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return lib.nn.functional.softmax(X.reshape(shape), dim=-1)


def transpose_qkv(X, num_heads):
    X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)
    X = X.permute(0, 2, 1, 3)
    return X.reshape(-1, X.shape[2], X.shape[3])


def transpose_output(X, num_heads):
    X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
    X = X.permute(0, 2, 1, 3)
    return X.reshape(X.shape[0], X.shape[1], -1)


def _attention(lib):
    """11.2-11.6: NWKernelRegression, AdditiveAttention, DotProductAttention,
    MultiHeadAttention and PositionalEncoding."""
    nn = lib.nn

    class NWKernelRegression(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(lib.rand((1,), requires_grad=True))

        def forward(self, queries, keys, values):
            queries = queries.repeat_interleave(keys.shape[1]).reshape((-1, keys.shape[1]))
            self.attention_weights = nn.functional.softmax(
                -((queries - keys) * self.w) ** 2 / 2, dim=1)
            return lib.bmm(self.attention_weights.unsqueeze(1), values.unsqueeze(-1)).reshape(-1)

    class AdditiveAttention(nn.Module):
        def __init__(self, num_hiddens, dropout):
            super().__init__()
            self.W_k = nn.LazyLinear(num_hiddens, bias=False)
            self.W_q = nn.LazyLinear(num_hiddens, bias=False)
            self.w_v = nn.LazyLinear(1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            queries, keys = self.W_q(queries), self.W_k(keys)
            features = queries.unsqueeze(2) + keys.unsqueeze(1)
            features = lib.tanh(features)
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = masked_softmax(lib, scores, valid_lens)
            return lib.bmm(self.dropout(self.attention_weights), values)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            scores = lib.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = masked_softmax(lib, scores, valid_lens)
            return lib.bmm(self.dropout(self.attention_weights), values)

    class MultiHeadAttention(nn.Module):
        def __init__(self, num_hiddens, num_heads, dropout, bias=False):
            super().__init__()
            self.num_heads = num_heads
            self.attention = DotProductAttention(dropout)
            self.W_q = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_k = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_v = nn.LazyLinear(num_hiddens, bias=bias)
            self.W_o = nn.LazyLinear(num_hiddens, bias=bias)

        def forward(self, queries, keys, values, valid_lens):
            queries = transpose_qkv(self.W_q(queries), self.num_heads)
            keys = transpose_qkv(self.W_k(keys), self.num_heads)
            values = transpose_qkv(self.W_v(values), self.num_heads)
            if valid_lens is not None:
                valid_lens = lib.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0)
            output = self.attention(queries, keys, values, valid_lens)
            output_concat = transpose_output(output, self.num_heads)
            return self.W_o(output_concat)

    class PositionalEncoding(nn.Module):
        def __init__(self, num_hiddens, dropout, max_len=1000):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.P = lib.zeros((1, max_len, num_hiddens))
            X = lib.arange(max_len, dtype=lib.float32).reshape(-1, 1) / lib.pow(
                10000, lib.arange(0, num_hiddens, 2, dtype=lib.float32) / num_hiddens)
            self.P[:, :, 0::2] = lib.sin(X)
            self.P[:, :, 1::2] = lib.cos(X)

        def forward(self, X):
            X = X + self.P[:, :X.shape[1], :].to(X.device)
            return self.dropout(X)
    return SimpleNamespace(NWKernelRegression=NWKernelRegression,
                           AdditiveAttention=AdditiveAttention,
                           DotProductAttention=DotProductAttention,
                           MultiHeadAttention=MultiHeadAttention,
                           PositionalEncoding=PositionalEncoding)


def _seq2seq(lib):
    """10.6-10.7's encoder-decoder, 11.4's Bahdanau decoder and the training pieces."""
    nn = lib.nn
    att = _attention(lib)

    def init_seq2seq(module):
        if type(module) == nn.Linear:                       # noqa: E721
            nn.init.xavier_uniform_(module.weight)
        if type(module) == nn.GRU:                          # noqa: E721
            for param in module._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(module._parameters[param])

    class Seq2SeqEncoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)
            self.apply(init_seq2seq)

        def forward(self, X, *args):
            X = self.embedding(X)
            X = X.permute(1, 0, 2)
            output, state = self.rnn(X)
            return output, state

    class Seq2SeqDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                              dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)
            self.apply(init_seq2seq)

        def init_state(self, enc_outputs, *args):
            return enc_outputs[1]

        def forward(self, X, state):
            X = self.embedding(X).permute(1, 0, 2)
            context = state[-1].repeat(X.shape[0], 1, 1)
            X_and_context = lib.cat((X, context), 2)
            output, state = self.rnn(X_and_context, state)
            output = self.dense(output).permute(1, 0, 2)
            return output, state

    class Seq2SeqAttentionDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.attention = att.AdditiveAttention(num_hiddens, dropout)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                              dropout=dropout)
            self.dense = nn.LazyLinear(vocab_size)
            self.apply(init_seq2seq)

        def init_state(self, enc_outputs, enc_valid_lens):
            outputs, hidden_state = enc_outputs
            return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

        def forward(self, X, state):
            enc_outputs, hidden_state, enc_valid_lens = state
            X = self.embedding(X).permute(1, 0, 2)
            outputs, self._attention_weights = [], []
            for x in X:
                query = lib.unsqueeze(hidden_state[-1], dim=1)
                context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
                x = lib.cat((context, lib.unsqueeze(x, dim=1)), dim=-1)
                out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
                outputs.append(out)
                self._attention_weights.append(self.attention.attention_weights)
            outputs = self.dense(lib.cat(outputs, dim=0))
            return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

        @property
        def attention_weights(self):
            return self._attention_weights

    class EncoderDecoder(nn.Module):
        def __init__(self, encoder, decoder):
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

        def forward(self, enc_X, dec_X, *args):
            enc_all_outputs = self.encoder(enc_X, *args)
            dec_state = self.decoder.init_state(enc_all_outputs, *args)
            return self.decoder(dec_X, dec_state)[0]

    class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
        """The second edition's loss: cross-entropy per token, padding weighted 0."""
        def forward(self, pred, label, valid_len):
            weights = lib.ones_like(label)
            weights = sequence_mask(lib, weights, valid_len)
            self.reduction = 'none'
            unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
            return (unweighted_loss * weights).mean(dim=1)

    return SimpleNamespace(Seq2SeqEncoder=Seq2SeqEncoder, Seq2SeqDecoder=Seq2SeqDecoder,
                           Seq2SeqAttentionDecoder=Seq2SeqAttentionDecoder,
                           EncoderDecoder=EncoderDecoder,
                           MaskedSoftmaxCELoss=MaskedSoftmaxCELoss, init_seq2seq=init_seq2seq)


def _transformer(lib):
    """11.7's Transformer and 11.8's ViT."""
    nn = lib.nn
    att = _attention(lib)

    class PositionWiseFFN(nn.Module):
        def __init__(self, ffn_num_hiddens, ffn_num_outputs):
            super().__init__()
            self.dense1 = nn.LazyLinear(ffn_num_hiddens)
            self.relu = nn.ReLU()
            self.dense2 = nn.LazyLinear(ffn_num_outputs)

        def forward(self, X):
            return self.dense2(self.relu(self.dense1(X)))

    class AddNorm(nn.Module):
        def __init__(self, norm_shape, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.ln = nn.LayerNorm(norm_shape)

        def forward(self, X, Y):
            return self.ln(self.dropout(Y) + X)

    class TransformerEncoderBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias=False):
            super().__init__()
            self.attention = att.MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
            self.addnorm1 = AddNorm(num_hiddens, dropout)
            self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
            self.addnorm2 = AddNorm(num_hiddens, dropout)

        def forward(self, X, valid_lens):
            Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
            return self.addnorm2(Y, self.ffn(Y))

    class TransformerEncoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout, use_bias=False):
            super().__init__()
            self.num_hiddens = num_hiddens
            self.embedding = nn.Embedding(vocab_size, num_hiddens)
            self.pos_encoding = att.PositionalEncoding(num_hiddens, dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module("block" + str(i), TransformerEncoderBlock(
                    num_hiddens, ffn_num_hiddens, num_heads, dropout, use_bias))

        def forward(self, X, valid_lens):
            X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
            self.attention_weights = [None] * len(self.blks)
            for i, blk in enumerate(self.blks):
                X = blk(X, valid_lens)
                self.attention_weights[i] = blk.attention.attention.attention_weights
            return X

    class TransformerDecoderBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i):
            super().__init__()
            self.i = i
            self.attention1 = att.MultiHeadAttention(num_hiddens, num_heads, dropout)
            self.addnorm1 = AddNorm(num_hiddens, dropout)
            self.attention2 = att.MultiHeadAttention(num_hiddens, num_heads, dropout)
            self.addnorm2 = AddNorm(num_hiddens, dropout)
            self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
            self.addnorm3 = AddNorm(num_hiddens, dropout)

        def forward(self, X, state):
            enc_outputs, enc_valid_lens = state[0], state[1]
            if state[2][self.i] is None:
                key_values = X
            else:
                key_values = lib.cat((state[2][self.i], X), dim=1)
            state[2][self.i] = key_values
            if self.training:
                batch_size, num_steps, _ = X.shape
                dec_valid_lens = lib.arange(1, num_steps + 1, device=X.device).repeat(
                    batch_size, 1)
            else:
                dec_valid_lens = None
            X2 = self.attention1(X, key_values, key_values, dec_valid_lens)
            Y = self.addnorm1(X, X2)
            Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
            Z = self.addnorm2(Y, Y2)
            return self.addnorm3(Z, self.ffn(Z)), state

    class TransformerDecoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout):
            super().__init__()
            self.num_hiddens, self.num_blks = num_hiddens, num_blks
            self.embedding = nn.Embedding(vocab_size, num_hiddens)
            self.pos_encoding = att.PositionalEncoding(num_hiddens, dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module("block" + str(i), TransformerDecoderBlock(
                    num_hiddens, ffn_num_hiddens, num_heads, dropout, i))
            self.dense = nn.LazyLinear(vocab_size)

        def init_state(self, enc_outputs, enc_valid_lens):
            return [enc_outputs, enc_valid_lens, [None] * self.num_blks]

        def forward(self, X, state):
            X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
            self._attention_weights = [[None] * len(self.blks) for _ in range(2)]
            for i, blk in enumerate(self.blks):
                X, state = blk(X, state)
                self._attention_weights[0][i] = blk.attention1.attention.attention_weights
                self._attention_weights[1][i] = blk.attention2.attention.attention_weights
            return self.dense(X), state

        @property
        def attention_weights(self):
            return self._attention_weights

    class PatchEmbedding(nn.Module):
        def __init__(self, img_size=96, patch_size=16, num_hiddens=512):
            super().__init__()

            def _make_tuple(x):
                if not isinstance(x, (list, tuple)):
                    return (x, x)
                return x
            img_size, patch_size = _make_tuple(img_size), _make_tuple(patch_size)
            self.num_patches = (img_size[0] // patch_size[0]) * (img_size[1] // patch_size[1])
            self.conv = nn.LazyConv2d(num_hiddens, kernel_size=patch_size, stride=patch_size)

        def forward(self, X):
            return self.conv(X).flatten(2).transpose(1, 2)

    class ViTMLP(nn.Module):
        def __init__(self, mlp_num_hiddens, mlp_num_outputs, dropout=0.5):
            super().__init__()
            self.dense1 = nn.LazyLinear(mlp_num_hiddens)
            self.gelu = nn.GELU()
            self.dropout1 = nn.Dropout(dropout)
            self.dense2 = nn.LazyLinear(mlp_num_outputs)
            self.dropout2 = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout2(self.dense2(self.dropout1(self.gelu(self.dense1(x)))))

    class ViTBlock(nn.Module):
        def __init__(self, num_hiddens, norm_shape, mlp_num_hiddens, num_heads, dropout,
                     use_bias=False):
            super().__init__()
            self.ln1 = nn.LayerNorm(norm_shape)
            self.attention = att.MultiHeadAttention(num_hiddens, num_heads, dropout, use_bias)
            self.ln2 = nn.LayerNorm(norm_shape)
            self.mlp = ViTMLP(mlp_num_hiddens, num_hiddens, dropout)

        def forward(self, X, valid_lens=None):
            X = X + self.attention(*([self.ln1(X)] * 3), valid_lens)
            return X + self.mlp(self.ln2(X))

    class ViT(nn.Module):
        def __init__(self, img_size, patch_size, num_hiddens, mlp_num_hiddens, num_heads,
                     num_blks, emb_dropout, blk_dropout, use_bias=False, num_classes=10):
            super().__init__()
            self.patch_embedding = PatchEmbedding(img_size, patch_size, num_hiddens)
            self.cls_token = nn.Parameter(lib.zeros(1, 1, num_hiddens))
            num_steps = self.patch_embedding.num_patches + 1
            self.pos_embedding = nn.Parameter(lib.randn(1, num_steps, num_hiddens))
            self.dropout = nn.Dropout(emb_dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module(f"{i}", ViTBlock(num_hiddens, num_hiddens,
                                                      mlp_num_hiddens, num_heads,
                                                      blk_dropout, use_bias))
            self.head = nn.Sequential(nn.LayerNorm(num_hiddens),
                                      nn.Linear(num_hiddens, num_classes))

        def forward(self, X):
            X = self.patch_embedding(X)
            X = lib.cat((self.cls_token.expand(X.shape[0], -1, -1), X), 1)
            X = self.dropout(X + self.pos_embedding)
            for blk in self.blks:
                X = blk(X)
            return self.head(X[:, 0])
    return SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


def _tokens(batch=3, steps=5, vocab=7, seed=0):
    return _rng(seed).integers(0, vocab, (batch, steps))


def _train_lm(lib, model, X0, Y0, steps=3, lr=1.0, theta=1.0):
    """A few steps of d2l's RNN LM training: cross-entropy over all tokens, the gradients
    clipped to ``theta``, plain SGD."""
    F = lib.nn.functional
    X, Y = lib.tensor(X0), lib.tensor(Y0)
    opt = lib.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        Y_hat = model(X)
        loss = F.cross_entropy(Y_hat.reshape((-1, Y_hat.shape[-1])), Y.reshape((-1,)))
        opt.zero_grad()
        loss.backward()
        grad_clipping(lib, model, theta)
        opt.step()
        losses.append(loss)
    return losses


def predict(lib, model, prefix, num_preds):
    """d2l 1.0's RNNLM.predict on token ids: warm up on the prefix passing the state
    (``(H, C)`` for an LSTM), then ``int(Y.argmax(axis=2).reshape(1))`` step by step."""
    state, outputs = None, [prefix[0]]
    for i in range(len(prefix) + num_preds - 1):
        X = lib.tensor([[outputs[-1]]])
        embs = model.one_hot(X)
        rnn_outputs, state = model.rnn(embs, state)
        if i < len(prefix) - 1:
            outputs.append(prefix[i + 1])
        else:
            Y = model.output_layer(rnn_outputs)
            outputs.append(int(Y.argmax(axis=2).reshape(1)))
    return outputs


def _rnnlm(lib):
    """d2l's concise RNNLM: a LazyLinear head on the RNN's outputs, ``swapaxes``."""
    nn, F = lib.nn, lib.nn.functional

    class RNNLM(nn.Module):
        def __init__(self, rnn, vocab_size):
            super().__init__()
            self.rnn, self.vocab_size = rnn, vocab_size
            self.linear = nn.LazyLinear(vocab_size)

        def one_hot(self, X):
            return F.one_hot(X.T, self.vocab_size).type(lib.float32)

        def output_layer(self, hiddens):
            return self.linear(hiddens).swapaxes(0, 1)

        def forward(self, X, state=None):
            rnn_outputs, _ = self.rnn(self.one_hot(X), state)
            return self.output_layer(rnn_outputs)
    return RNNLM


@pytest.mark.parametrize("cell", ["LSTMScratch", "GRUScratch"])
def test_10_1_and_10_2_lstm_and_gru_from_scratch(f32, cell):
    X0, Y0 = _tokens(), _tokens(seed=1)
    models, res = {}, {}
    for lib in LIBS:
        book = _rnn_scratch(lib)
        lib.manual_seed(0)
        models[lib] = book.RNNLMScratch(getattr(book, cell)(7, 4), 7)
        for p in models[lib].parameters():          # sigma 0.01 trains too slowly to see
            with lib.no_grad():
                p.mul_(30)
    _copy(models[torch], models[zeroin])
    for lib, model in models.items():
        rnn_outputs, state = model.rnn(model.one_hot(lib.tensor(X0)))
        assert len(rnn_outputs) == 5 and tuple(rnn_outputs[0].shape) == (3, 4)
        first = model(lib.tensor(X0))
        losses = _train_lm(lib, model, X0, Y0, theta=0.5)
        res[lib] = [first, *state] if isinstance(state, tuple) else [first, state]
        res[lib] += [lib.tensor(predict(lib, model, [1, 2, 3], 8))] + losses
        res[lib] += [p.grad for p in model.parameters()] + list(model.parameters())
    _same(res)
    assert float(res[zeroin][-1].detach().abs().sum()) > 0


def test_10_1_to_10_4_concise_deep_and_bidirectional(f32):
    """nn.LSTM / nn.GRU as d2l's concise RNN LM (LazyLinear head, ``swapaxes``), two layers
    with dropout (eval mode: no draw), bidirectional shapes, and 10.4's BiRNNScratch."""
    X0, Y0 = _tokens(), _tokens(seed=1)
    nets, res = {}, {}
    for lib in LIBS:
        nn, RNNLM = lib.nn, _rnnlm(lib)
        nets[lib] = [RNNLM(nn.LSTM(7, 5), 7), RNNLM(nn.GRU(7, 5), 7),
                     RNNLM(nn.GRU(7, 5, 2, dropout=0.5), 7),
                     RNNLM(nn.LSTM(7, 5, num_layers=2, bidirectional=True), 7)]
        for net in nets[lib]:
            net(lib.tensor(X0))
    for t, z in zip(nets[torch], nets[zeroin]):
        _copy(t, z)
    for lib in LIBS:
        nn = lib.nn
        out = []
        for i, net in enumerate(nets[lib]):
            if i == 2:
                net.eval()                          # dropout between layers only in train
            out += _train_lm(lib, net, X0, Y0, steps=2, lr=0.5)
            out += [p.grad for p in net.parameters()] + [net(lib.tensor(X0))]
            out.append(lib.tensor(predict(lib, net, [1, 2, 3], 8)))
        bi = nets[lib][3].rnn
        output, (H, C) = bi(lib.ones(5, 3, 7))
        assert tuple(output.shape) == (5, 3, 10) and tuple(H.shape) == tuple(C.shape) == (4, 3, 5)
        gru = nn.GRU(7, 5, bidirectional=True)
        assert tuple(gru(lib.ones(5, 3, 7))[1].shape) == (2, 3, 5)
        res[lib] = out + [output, H, C]
    _same(res)
    res = {}
    for lib in LIBS:
        book = _rnn_scratch(lib)
        lib.manual_seed(0)
        res[lib] = book.BiRNNScratch(lambda book=book: book.GRUScratch(7, 4))
    _copy(res[torch], res[zeroin])
    inputs = _rng(2).standard_normal((5, 3, 7)).astype(np.float32)
    for lib in LIBS:
        outputs, (f_H, b_H) = res[lib](lib.tensor(inputs))
        assert len(outputs) == 5 and tuple(outputs[0].shape) == (3, 8)
        res[lib] = outputs + [f_H, b_H]
    _same(res)
    # reversed(inputs) is inputs.flip(0): the backward RNN's last state sees step 0 last
    _close(res[zeroin][-1], _np(res[zeroin][0])[:, 4:])


# --- 10.5-10.7 machine translation, encoder-decoder, seq2seq ------------------------------------

RAW = ("go .\tva !\nhi .\tsalut !\nrun !\tcours !\nwho ?\tqui ?\nwow !\tça alors !\n"
       "i lost .\tj'ai perdu .\ni'm ok .\tje vais bien .\nhe ran .\til a couru .\n")


def _nmt(lib, num_steps=5):
    """10.5's pipeline on a few sentence pairs: tokenize, Vocab, build_array_nmt."""
    source, target = [], []
    for line in RAW.strip().split('\n'):
        src, tgt = line.split('\t')
        source.append(src.split(' '))
        target.append(tgt.split(' '))
    reserved = ['<pad>', '<bos>', '<eos>']
    src_vocab = Vocab([t for line in source for t in line], reserved)
    tgt_vocab = Vocab([t for line in target for t in line], reserved)

    def build_array_nmt(lines, vocab, num_steps):
        lines = [vocab[line] for line in lines]
        lines = [line + [vocab['<eos>']] for line in lines]
        array = lib.tensor([truncate_pad(line, num_steps, vocab['<pad>']) for line in lines])
        valid_len = (array != vocab['<pad>']).type(lib.int32).sum(1)
        return array, valid_len
    src_array, src_valid_len = build_array_nmt(source, src_vocab, num_steps)
    tgt_array, tgt_valid_len = build_array_nmt(target, tgt_vocab, num_steps)
    return src_vocab, tgt_vocab, (src_array, src_valid_len, tgt_array, tgt_valid_len)


def test_10_5_data_pipeline_sequence_mask_and_bleu(f32):
    res = {}
    for lib in LIBS:
        arrays = _nmt(lib)[2]
        assert arrays[1].dtype == lib.int64 and arrays[0].dtype == lib.int64   # sum of int32
        X = lib.tensor([[1, 2, 3], [4, 5, 6]])
        X1 = sequence_mask(lib, X, lib.tensor([1, 2]))
        Y = lib.ones(2, 3, 4)
        Y2 = sequence_mask(lib, Y, lib.tensor([1, 2]), value=-1)
        res[lib] = list(arrays) + [X1, X, Y2]
    _same(res, 0)
    assert truncate_pad([1, 2, 3], 5, 0) == [1, 2, 3, 0, 0]
    assert truncate_pad([1] * 7, 5, 0) == [1] * 5
    assert bleu('il a couru .', 'il a couru .', k=2) == 1.0
    assert bleu("c'est ok .", "je vais bien .", k=2) == 0.0
    assert abs(bleu('il a couru', 'il a couru .', k=2) - math.exp(1 - 4 / 3)) < 1e-12
    assert abs(bleu('il a', 'il a couru .', k=2) - math.exp(1 - 4 / 2)) < 1e-12
    assert abs(bleu('il couru .', 'il a couru .', k=2)
               - math.exp(1 - 4 / 3) * 1 * (1 / 2) ** 0.25) < 1e-12
    # sequence_mask writes into a tensor of the graph: the masked entries get no gradient
    for lib in LIBS:
        W = lib.tensor(_rng(3).standard_normal((2, 3)).astype(np.float32), requires_grad=True)
        M = sequence_mask(lib, W * 2, lib.tensor([1, 2]), value=-1e6)
        (lib.softmax(M, dim=-1) * lib.arange(3.0)).sum().backward()
        res[lib] = [M, W.grad]
    _same(res)
    assert float(res[zeroin][1][0, 1:].abs().sum()) == 0


def _seq2seq_nets(lib, attention=False, emb=8, hid=16, layers=2, dropout=0.0):
    s2s = _seq2seq(lib)
    src_vocab, tgt_vocab, arrays = _nmt(lib)
    Dec = s2s.Seq2SeqAttentionDecoder if attention else s2s.Seq2SeqDecoder
    encoder = s2s.Seq2SeqEncoder(len(src_vocab), emb, hid, layers, dropout)
    decoder = Dec(len(tgt_vocab), emb, hid, layers, dropout)
    net = s2s.EncoderDecoder(encoder, decoder)
    X, X_valid_len, Y, _ = arrays
    net(X, Y, X_valid_len)                                  # the dry run: lazy shapes
    return s2s, src_vocab, tgt_vocab, arrays, net


def train_seq2seq(lib, s2s, net, arrays, tgt_vocab, lr=0.01, steps=3, batch_size=4):
    """d2l's train_seq2seq (second edition) for a few batches: Adam, the masked loss summed,
    grad_clipping(net, 1), teacher forcing with ``<bos>`` prepended."""
    optimizer = lib.optim.Adam(net.parameters(), lr=lr)
    loss = s2s.MaskedSoftmaxCELoss()
    net.train()
    out = []
    for step in range(steps):
        i = slice(step * batch_size % 8, step * batch_size % 8 + batch_size)
        optimizer.zero_grad()
        X, X_valid_len, Y, Y_valid_len = [x[i] for x in arrays]
        bos = lib.tensor([tgt_vocab['<bos>']] * Y.shape[0]).reshape(-1, 1)
        dec_input = lib.cat([bos, Y[:, :-1]], 1)             # teacher forcing
        Y_hat = net(X, dec_input, X_valid_len)
        l = loss(Y_hat, Y, Y_valid_len)                     # noqa: E741
        l.sum().backward()
        grad_clipping(lib, net, 1)
        num_tokens = Y_valid_len.sum()
        optimizer.step()
        out += [l, num_tokens, Y_hat]
    return out + [p.grad for p in net.parameters()] + list(net.parameters())


def predict_seq2seq(lib, net, src_sentence, src_vocab, tgt_vocab, num_steps,
                    save_attention_weights=False):
    """d2l's predict_seq2seq: greedy decoding, ``argmax(dim=2)``, until ``<eos>``."""
    net.eval()
    src_tokens = src_vocab[src_sentence.lower().split(' ')] + [src_vocab['<eos>']]
    enc_valid_len = lib.tensor([len(src_tokens)])
    src_tokens = truncate_pad(src_tokens, num_steps, src_vocab['<pad>'])
    enc_X = lib.unsqueeze(lib.tensor(src_tokens, dtype=lib.long), dim=0)
    enc_outputs = net.encoder(enc_X, enc_valid_len)
    dec_state = net.decoder.init_state(enc_outputs, enc_valid_len)
    dec_X = lib.unsqueeze(lib.tensor([tgt_vocab['<bos>']], dtype=lib.long), dim=0)
    output_seq, attention_weight_seq = [], []
    for _ in range(num_steps):
        Y, dec_state = net.decoder(dec_X, dec_state)
        dec_X = Y.argmax(dim=2)
        pred = dec_X.squeeze(dim=0).type(lib.int32).item()
        if save_attention_weights:
            attention_weight_seq.append(net.decoder.attention_weights)
        if pred == tgt_vocab['<eos>']:
            break
        output_seq.append(pred)
    return ' '.join(tgt_vocab.to_tokens(output_seq)), attention_weight_seq


@pytest.mark.parametrize("attention", [False, True], ids=["seq2seq", "bahdanau"])
def test_10_7_and_11_4_seq2seq_training_and_greedy_prediction(f32, attention):
    nets = {lib: _seq2seq_nets(lib, attention) for lib in LIBS}
    _copy(nets[torch][-1], nets[zeroin][-1])
    res, preds = {}, {}
    for lib, (s2s, src_vocab, tgt_vocab, arrays, net) in nets.items():
        X, X_valid_len, Y, _ = arrays
        enc_out, state = net.encoder(X[:2])
        assert tuple(enc_out.shape) == (5, 2, 16) and tuple(state.shape) == (2, 2, 16)
        first = net(X, Y, X_valid_len)
        assert tuple(first.shape) == (8, 5, len(tgt_vocab))
        res[lib] = [first, enc_out, state] + train_seq2seq(lib, s2s, net, arrays, tgt_vocab)
        preds[lib] = [predict_seq2seq(lib, net, eng, src_vocab, tgt_vocab, 5, attention)
                      for eng in ['go .', 'i lost .', "i'm ok ."]]
    _same(res)
    for (pz, wz), (pt, wt) in zip(preds[zeroin], preds[torch]):
        assert pz == pt
        assert [bleu(pz, 'va !', k=2) if pz else 0] == [bleu(pt, 'va !', k=2) if pt else 0]
        if attention:
            assert len(wz) == len(wt) and len(wz) > 0
            for az, at in zip(wz, wt):
                _same({zeroin: az, torch: at})
            # 11.4's heatmap input: each step's weights for the one sentence, concatenated
            heat = {lib: lib.cat([step[0][0][0] for step in w], 0).reshape(
                (1, 1, -1, 5))[:, :, :, :3].cpu() for lib, w in ((zeroin, wz), (torch, wt))}
            assert tuple(heat[zeroin].shape) == (1, 1, len(wz), 3)
            _same({zeroin: [heat[zeroin]], torch: [heat[torch]]})


# --- 11.1-11.3 attention pooling, scoring functions -------------------------------------------

def test_11_2_nadaraya_watson_fixed_and_learned(f32):
    rng = _rng(4)
    x0 = np.sort(rng.random(20).astype(np.float32) * 5)
    noise = rng.normal(0.0, 0.5, 20).astype(np.float32)
    w0 = rng.random(1).astype(np.float32)
    res = {}
    for lib in LIBS:
        nn, att = lib.nn, _attention(lib)
        x_train, idx = lib.sort(lib.tensor(x0[::-1].copy()))
        assert bool((idx == lib.arange(19, -1, -1)).all())

        def f(x, lib=lib):
            return 2 * lib.sin(x) + x ** 0.8
        n_train = len(x_train)
        y_train = f(x_train) + lib.tensor(noise)
        x_test = lib.arange(0, 5, 0.1)
        X_repeat = x_test.repeat_interleave(n_train).reshape((-1, n_train))
        attention_weights = nn.functional.softmax(-(X_repeat - x_train) ** 2 / 2, dim=1)
        y_hat = lib.matmul(attention_weights, y_train)
        # d2l 1.0's form: a kernel on the distances, normalised over the training points
        dists = x_train.reshape((-1, 1)) - x_test.reshape((1, -1))
        k = lib.exp(-dists ** 2 / 2).type(lib.float32)
        y_hat2 = y_train @ (k / k.sum(0))
        weights = lib.ones((2, 10)) * 0.1
        values = lib.arange(20.0).reshape((2, 10))
        pooled = lib.bmm(weights.unsqueeze(1), values.unsqueeze(-1))
        assert tuple(lib.bmm(lib.ones((2, 1, 4)), lib.ones((2, 4, 6))).shape) == (2, 1, 6)
        X_tile = x_train.repeat((n_train, 1))
        Y_tile = y_train.repeat((n_train, 1))
        keys = X_tile[(1 - lib.eye(n_train)).type(lib.bool)].reshape((n_train, -1))
        values = Y_tile[(1 - lib.eye(n_train)).type(lib.bool)].reshape((n_train, -1))
        net = att.NWKernelRegression()
        with lib.no_grad():
            net.w.copy_(lib.tensor(w0))
        loss = nn.MSELoss(reduction='none')
        trainer = lib.optim.SGD(net.parameters(), lr=0.5)
        out = []
        for _ in range(5):
            trainer.zero_grad()
            l = loss(net(x_train, keys, values), y_train)           # noqa: E741
            l.sum().backward()
            trainer.step()
            out += [l.sum(), net.w.grad.clone(), net.w.detach().clone()]
        keys_test = x_train.repeat((len(x_test), 1))
        values_test = y_train.repeat((len(x_test), 1))
        res[lib] = [y_train, attention_weights, y_hat, y_hat2, pooled, keys, values] + out + [
            net(x_test, keys_test, values_test), net.attention_weights]
    _same(res)
    assert abs(float(res[zeroin][9]) - float(res[zeroin][-3])) > 1e-3     # w moved


def test_11_3_masked_softmax_and_scoring_functions(f32):
    rng = _rng(5)
    S, Q, Kd = (rng.random((2, 2, 4)).astype(np.float32),
                rng.normal(0, 1, (2, 1, 20)).astype(np.float32),
                rng.normal(0, 1, (2, 10, 2)).astype(np.float32))
    res, nets = {}, {}
    for lib in LIBS:
        att = _attention(lib)
        m0 = masked_softmax(lib, lib.tensor(S), lib.tensor([2, 3]))   # the book's call
        s = lib.tensor(S, requires_grad=True)
        with pytest.raises(RuntimeError, match="view"):     # X[~mask] = value on a leaf's view
            masked_softmax(lib, s, lib.tensor([2, 3]))
        m1 = masked_softmax(lib, s * 1, lib.tensor([2, 3]))
        m2 = masked_softmax(lib, s * 1, lib.tensor([[1, 3], [2, 4]]))
        (m1 * lib.arange(4.0)).sum().backward()
        queries, keys = lib.tensor(Q), lib.ones((2, 10, 2))
        values = lib.arange(40, dtype=lib.float32).reshape(1, 10, 4).repeat(2, 1, 1)
        valid_lens = lib.tensor([2, 6])
        additive = att.AdditiveAttention(num_hiddens=8, dropout=0.1)
        additive.eval()
        additive(queries, keys, values, valid_lens)
        dot = att.DotProductAttention(dropout=0.5)
        dot.eval()
        nets[lib] = additive
        res[lib] = [m0, m1, m2, s.grad, masked_softmax(lib, s, None), values,
                    dot(lib.tensor(Kd[:, :1]), lib.tensor(Kd), values, valid_lens),
                    dot.attention_weights]
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        queries, keys = lib.tensor(Q, requires_grad=True), lib.tensor(Kd)
        values = lib.arange(40, dtype=lib.float32).reshape(1, 10, 4).repeat(2, 1, 1)
        out = nets[lib](queries, keys, values, lib.tensor([2, 6]))
        assert tuple(out.shape) == (2, 1, 4)
        out.sum().backward()
        res[lib] += [out, nets[lib].attention_weights, queries.grad,
                     nets[lib].W_q.weight.grad, nets[lib].w_v.weight.grad]
    _same(res)
    w = _np(res[zeroin][-4])
    assert np.all(w[0, 0, 2:] == 0) and np.all(w[1, 0, 6:] == 0)


# --- 11.5-11.7 multi-head attention, positional encoding, the Transformer ----------------------

def test_11_5_and_11_6_multihead_attention_and_positional_encoding(f32):
    rng = _rng(6)
    Xq, Yk = (rng.standard_normal((2, 4, 100)).astype(np.float32),
              rng.standard_normal((2, 6, 100)).astype(np.float32))
    nets, res = {}, {}
    for lib in LIBS:
        att = _attention(lib)
        nets[lib] = att.MultiHeadAttention(100, 5, 0.5)
        nets[lib].eval()
        nets[lib](lib.tensor(Xq), lib.tensor(Yk), lib.tensor(Yk), lib.tensor([3, 2]))
        pos = att.PositionalEncoding(32, 0)
        pos.eval()
        X = pos(lib.zeros((1, 60, 32)))
        P = pos.P[:, :X.shape[1], :]
        res[lib] = [X, P, transpose_qkv(lib.tensor(Xq), 5),
                    transpose_output(transpose_qkv(lib.tensor(Xq), 5), 5)]
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        X = lib.tensor(Xq, requires_grad=True)
        Y = lib.tensor(Yk)
        out = nets[lib](X, Y, Y, lib.tensor([3, 2]))
        assert tuple(out.shape) == (2, 4, 100)
        (out ** 2).mean().backward()
        res[lib] += [out, nets[lib].attention.attention_weights, X.grad,
                     nets[lib].W_q.weight.grad, nets[lib].W_o.weight.grad]
    _same(res)
    assert tuple(res[zeroin][2].shape) == (10, 4, 20)
    _close(res[zeroin][3], Xq, 0)                                   # the two reshapes undo


def _transformer_nets(lib, vocab=9, hid=16, ffn=24, heads=4, blks=2, dropout=0.0):
    tr, s2s = _transformer(lib), _seq2seq(lib)
    encoder = tr.TransformerEncoder(vocab, hid, ffn, heads, blks, dropout)
    decoder = tr.TransformerDecoder(vocab, hid, ffn, heads, blks, dropout)
    net = s2s.EncoderDecoder(encoder, decoder)
    return tr, s2s, net


def test_11_7_transformer_blocks_training_and_attention_weights(f32):
    rng = _rng(7)
    X0 = rng.standard_normal((2, 100, 24)).astype(np.float32)
    src, tgt = rng.integers(3, 9, (4, 6)), rng.integers(3, 9, (4, 6))
    src_valid, tgt_valid = np.array([6, 4, 5, 3]), np.array([5, 6, 3, 4])
    blocks, nets, res = {}, {}, {}
    for lib in LIBS:
        tr, s2s, net = _transformer_nets(lib)
        ffn = tr.PositionWiseFFN(4, 8)
        add_norm = tr.AddNorm(4, 0.5)
        add_norm.eval()
        ln, bn = lib.nn.LayerNorm(2), lib.nn.BatchNorm1d(2)
        Xn = lib.tensor([[1, 2], [2, 3]], dtype=lib.float32)
        enc_blk = tr.TransformerEncoderBlock(24, 48, 8, 0.5)
        enc_blk.eval()
        enc_blk(lib.tensor(X0), lib.tensor([3, 2]))
        dec_blk = tr.TransformerDecoderBlock(24, 48, 8, 0.5, 0)
        dec_blk.eval()
        dec_blk(lib.tensor(X0), [enc_blk(lib.tensor(X0), lib.tensor([3, 2])),
                                 lib.tensor([3, 2]), [None]])
        blocks[lib] = [ffn, add_norm, enc_blk, dec_blk]
        net(lib.tensor(src), lib.tensor(tgt), lib.tensor(src_valid))       # lazy shapes
        nets[lib] = (s2s, net)
        res[lib] = [ln(Xn), bn(Xn)]
        ffn(lib.ones((2, 3, 4)))
    for t, z in zip(blocks[torch], blocks[zeroin]):
        _copy(t, z)
    _copy(nets[torch][1], nets[zeroin][1])
    for lib in LIBS:
        ffn, add_norm, enc_blk, dec_blk = blocks[lib]
        X = lib.tensor(X0)
        valid_lens = lib.tensor([3, 2])
        enc_out = enc_blk(X, valid_lens)
        state = [enc_out, valid_lens, [None]]
        res[lib] += [ffn(lib.ones((2, 3, 4)))[0], add_norm(lib.ones((2, 3, 4)),
                                                         lib.ones((2, 3, 4))),
                     enc_out, dec_blk(X, state)[0], state[2][0]]
        s2s, net = nets[lib]
        res[lib] += _train_transformer(lib, s2s, net, src, tgt, src_valid, tgt_valid)
    _same(res)


def _train_transformer(lib, s2s, net, src, tgt, src_valid, tgt_valid, steps=3):
    """A few training steps of the Transformer (Adam, the masked loss, grad_clipping), then
    greedy decoding of one sentence with the attention weights reshaped as the book does."""
    X, Y, X_valid_len, Y_valid_len = (lib.tensor(a) for a in (src, tgt, src_valid, tgt_valid))
    optimizer = lib.optim.Adam(net.parameters(), lr=0.005)
    loss = s2s.MaskedSoftmaxCELoss()
    net.train()
    out = []
    for _ in range(steps):
        optimizer.zero_grad()
        bos = lib.tensor([1] * Y.shape[0]).reshape(-1, 1)
        Y_hat = net(X, lib.cat([bos, Y[:, :-1]], 1), X_valid_len)
        l = loss(Y_hat, Y, Y_valid_len)                         # noqa: E741
        l.sum().backward()
        grad_clipping(lib, net, 1)
        optimizer.step()
        out += [l, Y_hat]
    out += [p.grad for p in net.parameters()] + list(net.parameters())
    net.eval()
    enc_X, enc_valid = X[:1], X_valid_len[:1]
    enc_outputs = net.encoder(enc_X, enc_valid)
    dec_state = net.decoder.init_state(enc_outputs, enc_valid)
    dec_X, preds, weight_seq = lib.tensor([[1]]), [], []
    for _ in range(6):
        Y_step, dec_state = net.decoder(dec_X, dec_state)
        dec_X = Y_step.argmax(dim=2)
        preds.append(dec_X.squeeze(dim=0).type(lib.int32).item())
        weight_seq.append(net.decoder.attention_weights)
    num_blks, num_heads, num_steps = 2, 4, 6
    enc_attention_weights = lib.cat(net.encoder.attention_weights, 0).reshape(
        (num_blks, num_heads, -1, num_steps))
    assert tuple(enc_attention_weights.shape) == (2, 4, 6, 6)
    # the decoder's weights, each step's rows padded with zeros to num_steps (the book's
    # pandas fillna), then torch.tensor(...).reshape and the unpacking of a permute
    rows = [head[0].tolist() for step in weight_seq for attn in step for blk in attn
            for head in blk]
    filled = lib.tensor([r + [0.0] * (num_steps - len(r)) for r in rows])
    dec_attention_weights = filled.reshape((-1, 2, num_blks, num_heads, num_steps))
    dec_self, dec_inter = dec_attention_weights.permute(1, 2, 3, 0, 4)
    assert tuple(dec_self.shape) == (num_blks, num_heads, 6, num_steps)
    return out + [lib.tensor(preds), enc_attention_weights, dec_self, dec_inter]


# --- 11.8 Vision Transformer --------------------------------------------------------------------

def test_11_8_vision_transformer(f32):
    rng = _rng(8)
    imgs = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    labels = rng.integers(0, 10, 4)
    nets, res = {}, {}
    for lib in LIBS:
        tr = _transformer(lib)
        patch_emb = tr.PatchEmbedding(16, 4, 12)
        assert tuple(patch_emb(lib.zeros(2, 3, 16, 16)).shape) == (2, 16, 12)
        blk = tr.ViTBlock(24, 24, 48, 8, 0.5)
        blk.eval()
        assert tuple(blk(lib.ones((2, 100, 24))).shape) == (2, 100, 24)
        net = tr.ViT(16, 4, 12, 24, 4, 2, 0.0, 0.0)
        net(lib.tensor(imgs))
        assert type(net.patch_embedding.conv) is lib.nn.Conv2d
        nets[lib] = net
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        net = nets[lib]
        opt = lib.optim.SGD(net.parameters(), lr=0.1)
        out = [net(lib.tensor(imgs))]
        for _ in range(3):
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(imgs)), lib.tensor(labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
            out += [loss]
        res[lib] = out + [net.cls_token.grad, net.pos_embedding.grad,
                          net.patch_embedding.conv.weight.grad, net.cls_token]
    _same(res)
    assert float(res[zeroin][-1].detach().abs().sum()) > 0          # cls_token learned


def test_10_4_reversed_of_a_tensor_is_its_flip_along_dim_0():
    """BiRNNScratch's ``reversed(inputs)``: PyTorch's Tensor.__reversed__ gives ``flip(0)``,
    a tensor with a gradient (0-d: the tensor itself), not a Python iterator."""
    A = _rng(9).standard_normal((4, 2, 3))
    res = {}
    for lib in LIBS:
        x = lib.tensor(A, requires_grad=True)
        r = reversed(x)
        assert isinstance(r, lib.Tensor) and r.requires_grad
        (r * lib.arange(24.0).reshape(4, 2, 3)).sum().backward()
        s = lib.tensor(2.5)
        assert reversed(s) is s
        res[lib] = [r, x.grad, reversed(lib.arange(5))]
    _same(res, 0)


# --- the book's training with dropout on, on PyTorch's random stream ----------------------------

@pytest.mark.parametrize("model", ["seq2seq", "bahdanau", "transformer", "vit"])
def test_training_with_dropout_and_the_books_init_on_torchs_stream(f32, model):
    """With zeroin's generator on PyTorch's stream, ``torch.manual_seed(0)`` gives the book's
    own initial weights (``nn.GRU``, ``nn.Embedding``, lazy layers, ``xavier_uniform_``,
    ``torch.randn``) and dropout masks, so training in train mode with dropout on is the
    same as PyTorch's without copying a weight."""
    torch_stream()
    rng = _rng(10)
    imgs, labels = rng.standard_normal((4, 3, 16, 16)).astype(np.float32), rng.integers(0, 10, 4)
    src, tgt = rng.integers(3, 9, (4, 6)), rng.integers(3, 9, (4, 6))
    src_valid, tgt_valid = np.array([6, 4, 5, 3]), np.array([5, 6, 3, 4])
    res = {}
    for lib in LIBS:
        lib.manual_seed(0)
        if model == "vit":
            net = _transformer(lib).ViT(16, 4, 12, 24, 4, 2, 0.1, 0.1)
            net(lib.tensor(imgs))
            opt = lib.optim.SGD(net.parameters(), lr=0.1)
            out = []
            for _ in range(3):
                loss = lib.nn.functional.cross_entropy(net(lib.tensor(imgs)),
                                                       lib.tensor(labels))
                opt.zero_grad()
                loss.backward()
                opt.step()
                out.append(loss)
            res[lib] = out + list(net.parameters())
        elif model == "transformer":
            _, s2s, net = _transformer_nets(lib, dropout=0.2)
            net(lib.tensor(src), lib.tensor(tgt), lib.tensor(src_valid))
            res[lib] = _train_transformer(lib, s2s, net, src, tgt, src_valid, tgt_valid)
        else:
            s2s, _, tgt_vocab, arrays, net = _seq2seq_nets(lib, model == "bahdanau",
                                                           dropout=0.2)
            res[lib] = train_seq2seq(lib, s2s, net, arrays, tgt_vocab)
    _same(res)


def test_11_3_masked_softmax_writes_into_reshaped_scores_without_a_heap_scan(f32, monkeypatch):
    """``X.reshape(-1, n)[~mask] = -1e6`` on the scores (a product, or AdditiveAttention's
    ``w_v(features).squeeze(-1)``): the reshape (and the squeeze) is its input's only reader,
    so the in-place write re-points it with no scan of the heap (gc.get_referrers, ~60 ms a
    call under pytest, two per attention call: 4 s of 4.1 in a Transformer's steps); a
    second reader of the scores still means a scan. Gradients as torch's."""
    from zeroin import _tensor_api
    scans = []
    real = _tensor_api.gc.get_referrers
    monkeypatch.setattr(_tensor_api.gc, "get_referrers",
                        lambda *objs: scans.append(len(objs)) or real(*objs))
    rng = _rng(11)
    Q0, K0 = rng.standard_normal((2, 3, 4)).astype(np.float32), \
        rng.standard_normal((2, 5, 4)).astype(np.float32)
    res = {}
    for lib in LIBS:
        Q, K = lib.tensor(Q0, requires_grad=True), lib.tensor(K0, requires_grad=True)
        scores = lib.bmm(Q, K.transpose(1, 2)) / 2
        w1 = masked_softmax(lib, scores, lib.tensor([2, 4]))
        features = lib.tanh(Q.unsqueeze(2) + K.unsqueeze(1))    # AdditiveAttention's
        scores3 = (features @ lib.ones(4, 1)).squeeze(-1)       # w_v(features).squeeze(-1)
        w3 = masked_softmax(lib, scores3, lib.tensor([3, 1]))
        if lib is zeroin:
            assert scans == []
        scores2 = lib.bmm(Q, K.transpose(1, 2))
        other = scores2 * 3                 # a second reader: the scan must find it
        w2 = masked_softmax(lib, scores2, lib.tensor([[1, 2, 3], [5, 4, 3]]))
        if lib is zeroin:
            assert scans
        scans.clear()
        ((w1 * lib.arange(5.0)).sum() + (w2 ** 2).sum() + other.sum()
         + (w3 * lib.arange(5.0)).sum()).backward()
        res[lib] = [w1, w2, w3, scores, scores2, Q.grad, K.grad]
    _same(res)


# --- the first edition's (d2l 1.0) forms: MTFraEng arrays, Seq2Seq, predict_step --------------

def _seq2seq_v1(lib):
    """d2l 1.0's Seq2SeqEncoder / Decoder (``X.t().type(torch.int64 / int32)``, ``swapaxes``),
    its Seq2Seq loss (a pad mask on ``F.cross_entropy(..., reduction='none')``) and
    predict_step, and 10.3's StackedRNNScratch on GRUScratch."""
    nn, F = lib.nn, lib.nn.functional
    init_seq2seq = _seq2seq(lib).init_seq2seq

    class Seq2SeqEncoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)
            self.apply(init_seq2seq)

        def forward(self, X, *args):
            embs = self.embedding(X.t().type(lib.int64))
            outputs, state = self.rnn(embs)
            return outputs, state

    class Seq2SeqDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                              dropout=dropout)
            self.dense = nn.LazyLinear(vocab_size)
            self.apply(init_seq2seq)

        def init_state(self, enc_all_outputs, *args):
            return enc_all_outputs

        def forward(self, X, state):
            embs = self.embedding(X.t().type(lib.int32))
            enc_output, hidden_state = state
            context = enc_output[-1]
            context = context.repeat(embs.shape[0], 1, 1)
            embs_and_context = lib.cat((embs, context), -1)
            outputs, hidden_state = self.rnn(embs_and_context, hidden_state)
            outputs = self.dense(outputs).swapaxes(0, 1)
            return outputs, [enc_output, hidden_state]

    class Seq2Seq(nn.Module):
        def __init__(self, encoder, decoder, tgt_pad):
            super().__init__()
            self.encoder, self.decoder, self.tgt_pad = encoder, decoder, tgt_pad

        def forward(self, enc_X, dec_X, *args):
            enc_all_outputs = self.encoder(enc_X, *args)
            dec_state = self.decoder.init_state(enc_all_outputs, *args)
            return self.decoder(dec_X, dec_state)[0]

        def loss(self, Y_hat, Y):
            Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
            l = F.cross_entropy(Y_hat, Y.reshape((-1,)), reduction='none')   # noqa: E741
            mask = (Y.reshape(-1) != self.tgt_pad).type(lib.float32)
            return (l * mask).sum() / mask.sum()

        def predict_step(self, batch, num_steps):
            src, tgt, src_valid_len, _ = batch
            enc_all_outputs = self.encoder(src, src_valid_len)
            dec_state = self.decoder.init_state(enc_all_outputs, src_valid_len)
            outputs = [tgt[:, (0)].unsqueeze(1), ]
            for _ in range(num_steps):
                Y, dec_state = self.decoder(outputs[-1], dec_state)
                outputs.append(Y.argmax(2))
            return lib.cat(outputs[1:], 1)

    class StackedRNNScratch(nn.Module):
        def __init__(self, num_inputs, num_hiddens, num_layers):
            super().__init__()
            self.num_layers, self.num_hiddens = num_layers, num_hiddens
            book = _rnn_scratch(lib)
            self.rnns = nn.Sequential(*[book.GRUScratch(
                num_inputs if i == 0 else num_hiddens, num_hiddens) for i in range(num_layers)])

        def forward(self, inputs, Hs=None):
            outputs = inputs
            if Hs is None:
                Hs = [None] * self.num_layers
            for i in range(self.num_layers):
                outputs, Hs[i] = self.rnns[i](outputs, Hs[i])
                outputs = lib.stack(outputs, 0)
            return outputs, Hs
    return SimpleNamespace(Seq2SeqEncoder=Seq2SeqEncoder, Seq2SeqDecoder=Seq2SeqDecoder,
                           Seq2Seq=Seq2Seq, StackedRNNScratch=StackedRNNScratch)


def _build_arrays_v1(lib, num_steps=6):
    """MTFraEng._build_arrays: pad or trim, ``<bos>`` on targets, the valid lengths."""
    pairs = [line.split('\t') for line in RAW.strip().split('\n')]
    src = [s.split(' ') + ['<eos>'] for s, _ in pairs]
    tgt = [t.split(' ') + ['<eos>'] for _, t in pairs]

    def _build_array(sentences, is_tgt=False):
        def pad_or_trim(seq, t):
            return seq[:t] if len(seq) > t else seq + ['<pad>'] * (t - len(seq))
        sentences = [pad_or_trim(s, num_steps) for s in sentences]
        if is_tgt:
            sentences = [['<bos>'] + s for s in sentences]
        vocab = Vocab([t for s in sentences for t in s], ['<pad>', '<bos>', '<eos>'])
        array = lib.tensor([vocab[s] for s in sentences])
        valid_len = (array != vocab['<pad>']).type(lib.int32).sum(1)
        return array, vocab, valid_len
    src_array, src_vocab, src_valid_len = _build_array(src)
    tgt_array, tgt_vocab, _ = _build_array(tgt, True)
    return ((src_array, tgt_array[:, :-1], src_valid_len, tgt_array[:, 1:]), src_vocab,
            tgt_vocab)


def test_10_3_stacked_rnn_and_10_7_first_edition_seq2seq(f32):
    res, nets = {}, {}
    for lib in LIBS:
        v1 = _seq2seq_v1(lib)
        arrays, src_vocab, tgt_vocab = _build_arrays_v1(lib)
        assert tuple(arrays[1].shape) == tuple(arrays[3].shape) == (8, 6)
        net = v1.Seq2Seq(v1.Seq2SeqEncoder(len(src_vocab), 8, 16, 2),
                         v1.Seq2SeqDecoder(len(tgt_vocab), 8, 16, 2), tgt_vocab['<pad>'])
        net(*arrays[:3])
        stacked = v1.StackedRNNScratch(5, 4, 2)
        nets[lib] = (net, stacked, arrays, tgt_vocab)
    _copy(nets[torch][0], nets[zeroin][0])
    _copy(nets[torch][1], nets[zeroin][1])
    inputs = _rng(12).standard_normal((6, 3, 5)).astype(np.float32)
    for lib, (net, stacked, arrays, tgt_vocab) in nets.items():
        outputs, Hs = stacked(lib.tensor(inputs))
        assert tuple(outputs.shape) == (6, 3, 4) and len(Hs) == 2
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(*arrays), 4,
                                           shuffle=False)
        optim = lib.optim.Adam(net.parameters(), lr=0.01)
        out = [outputs, *Hs]
        for batch in loader:
            loss = net.loss(net(*batch[:-1]), batch[-1])
            optim.zero_grad()
            with lib.no_grad():
                loss.backward()
                grad_clipping(lib, net, 1)
                optim.step()
            out.append(loss)
        net.eval()
        preds = net.predict_step(arrays, 6)
        assert preds.dtype == lib.int64 and tuple(preds.shape) == (8, 6)
        res[lib] = out + [preds] + list(net.parameters())
        res[lib, "bleu"] = [bleu(' '.join(tgt_vocab.to_tokens(p)), ' '.join(tgt_vocab.to_tokens(
            t)), k=2) for p, t in zip(preds.tolist(), arrays[3].tolist())]
    _same(res)
    assert res[zeroin, "bleu"] == res[torch, "bleu"]
