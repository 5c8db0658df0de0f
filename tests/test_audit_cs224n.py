"""Audit against Stanford's CS224n assignments (2023-2024), as a student ports them
(``import zeroin as torch``, ``import zeroin.nn as nn``, ``from zeroin.nn import functional
as F``): A1's co-occurrence matrix and SVD reduction; A2's NumPy word2vec (naive softmax and
negative-sampling losses and gradients, ``gradcheck_naive``, ``sgd``), checked as a teacher
would against zeroin's autograd of the same loss and by finite differences; A3's neural
dependency parser (``ParserModel``, its training loop with Adam and CrossEntropyLoss); A4's
NMT seq2seq with attention (bidirectional LSTM encoder over packed sequences, LSTMCell decoder,
multiplicative attention, the masked log-likelihood, clipping, Adam, beam search) and the
char CNN / minGPT pieces, each run on ``torch`` and on ``zeroin`` with the same made-up data
and the same weights (float32 to float resolution, float64 to ~1e-10). See docs/cs224n.md."""
import random
from collections import namedtuple

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim
from _audit import close, copy_weights, np_of as _np, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")

F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)


def _set_dtype(name):
    for L in (torch, zeroin):
        L.set_default_dtype(getattr(L, name))
    return F32 if name == "float32" else F64


def _libs(L):
    return (torch, torch.nn, torch.nn.functional, torch.optim) if L is torch else \
        (zeroin, znn, ZF, zoptim)


# --- A1: co-occurrence matrix and SVD ------------------------------------------------------

def _corpus():
    return [["<START>"] + s.split() + ["<END>"] for s in
            ("all that glitters is not gold", "all is well that ends well",
             "the gold is not all that glitters")]


def compute_co_occurrence_matrix(corpus, window_size=4):
    words = sorted({w for s in corpus for w in s})
    word2ind = {w: i for i, w in enumerate(words)}
    M = np.zeros((len(words), len(words)))
    for s in corpus:
        for i, w in enumerate(s):
            for j in range(max(0, i - window_size), min(len(s), i + window_size + 1)):
                if j != i:
                    M[word2ind[w], word2ind[s[j]]] += 1
    return M, word2ind


@pytest.mark.parametrize("k", [2])
def test_a1_svd_reduction(k):
    """``reduce_to_k_dim`` (the notebook uses sklearn's TruncatedSVD; here the SVD itself):
    zeroin.linalg.svd and torch.svd_lowrank's rank-k projections equal torch's."""
    M, _ = compute_co_occurrence_matrix(_corpus())
    assert M.sum() > 0 and (M == M.T).all()
    for L in (torch, zeroin):
        U, S, Vh = L.linalg.svd(L.from_numpy(M), full_matrices=False)
        red = (U[:, :k] * S[:k]).numpy()
        if L is torch:
            ref = red
        else:   # the same subspace: equal up to each column's sign
            signs = np.sign((red * ref).sum(0))
            close(red * signs, ref, 1e-10)
    zU, zS, zV = zeroin.svd_lowrank(zeroin.from_numpy(M), q=M.shape[0], niter=4)
    tS = torch.linalg.svdvals(torch.from_numpy(M))
    close(zS[:k], tS[:k], 1e-8)
    assert zU.shape == (M.shape[0], M.shape[0]) and zV.shape == (M.shape[1], M.shape[0])


# --- A2: word2vec in NumPy, checked with zeroin ----------------------------------------------

def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def naiveSoftmaxLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset):
    y_hat = softmax(outsideVectors @ centerWordVec)
    loss = -np.log(y_hat[outsideWordIdx])
    y = np.zeros_like(y_hat)
    y[outsideWordIdx] = 1
    gradCenterVec = outsideVectors.T @ (y_hat - y)
    gradOutsideVecs = np.outer(y_hat - y, centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs


class _Dataset:
    def __init__(self, n):
        self.n = n

    def sampleTokenIdx(self):
        return random.randint(0, self.n - 1)


def getNegativeSamples(outsideWordIdx, dataset, K):
    negSampleWordIndices = [None] * K
    for k in range(K):
        newidx = dataset.sampleTokenIdx()
        while newidx == outsideWordIdx:
            newidx = dataset.sampleTokenIdx()
        negSampleWordIndices[k] = newidx
    return negSampleWordIndices


def negSamplingLossAndGradient(centerWordVec, outsideWordIdx, outsideVectors, dataset, K=10):
    negSampleWordIndices = getNegativeSamples(outsideWordIdx, dataset, K)
    indices = [outsideWordIdx] + negSampleWordIndices
    u_o, u_k = outsideVectors[outsideWordIdx], outsideVectors[negSampleWordIndices]
    s_o, s_k = sigmoid(u_o @ centerWordVec), sigmoid(-u_k @ centerWordVec)
    loss = -np.log(s_o) - np.log(s_k).sum()
    gradCenterVec = (s_o - 1) * u_o + ((1 - s_k)[:, None] * u_k).sum(0)
    gradOutsideVecs = np.zeros_like(outsideVectors)
    gradOutsideVecs[outsideWordIdx] += (s_o - 1) * centerWordVec
    np.add.at(gradOutsideVecs, negSampleWordIndices, (1 - s_k)[:, None] * centerWordVec)
    return loss, gradCenterVec, gradOutsideVecs, indices


def _zeroin_losses(v_c, o, U, neg=None):
    """The teacher's checker: the same losses written with zeroin ops, differentiated."""
    vc = zeroin.tensor(v_c, requires_grad=True)
    Ut = zeroin.tensor(U, requires_grad=True)
    if neg is None:
        loss = -ZF.log_softmax(Ut @ vc, dim=0)[o]
    else:
        loss = -ZF.logsigmoid(Ut[o] @ vc) - ZF.logsigmoid(-(Ut[neg] @ vc)).sum()
    loss.backward()
    return loss.item(), vc.grad.numpy(), Ut.grad.numpy()


def gradcheck_naive(f, x, gradientText=""):
    rndstate = random.getstate()
    random.setstate(rndstate)
    fx, grad = f(x)
    h = 1e-4
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        x[ix] += h
        random.setstate(rndstate)
        fxh, _ = f(x)
        x[ix] -= 2 * h
        random.setstate(rndstate)
        fxnh, _ = f(x)
        x[ix] += h
        numgrad = (fxh - fxnh) / 2 / h
        reldiff = abs(numgrad - grad[ix]) / max(1, abs(numgrad), abs(grad[ix]))
        assert reldiff <= 1e-5, f"{gradientText} {ix}: {grad[ix]} vs {numgrad}"
        it.iternext()


def test_a2_word2vec_against_zeroin_autograd():
    rng = np.random.RandomState(0)
    v_c, U = rng.randn(3), rng.randn(5, 3)
    close(sigmoid(np.array([0., 1.])), zeroin.sigmoid(zeroin.tensor([0., 1.])))
    close(softmax(np.array([1001., 1002.])), ZF.softmax(zeroin.tensor([1001., 1002.]), dim=0))
    loss, gc, go = naiveSoftmaxLossAndGradient(v_c, 2, U, None)
    zl, zgc, zgo = _zeroin_losses(v_c, 2, U)
    close(loss, zl), close(gc, zgc), close(go, zgo)
    random.seed(31415)
    loss, gc, go, idx = negSamplingLossAndGradient(v_c, 2, U, _Dataset(5), K=6)
    assert len(set(idx[1:])) < 6   # repeated negatives: their gradients must add up
    zl, zgc, zgo = _zeroin_losses(v_c, 2, U, idx[1:])
    close(loss, zl), close(gc, zgc), close(go, zgo)


def test_a2_gradcheck_naive_and_sgd():
    """The assignment's own checks (finite differences with the random state restored) on
    the hand-written gradients, then ``sgd``'s loop on a quadratic; a wrong gradient fails."""
    rng = np.random.RandomState(1)
    U, ds = rng.randn(5, 3), _Dataset(5)
    random.seed(0)

    def f(v):
        loss, g, _, _ = negSamplingLossAndGradient(v, 1, U, ds, K=4)
        return loss, g
    gradcheck_naive(f, rng.randn(3), "negSamplingLossAndGradient gradCenterVec")
    with pytest.raises(AssertionError):
        gradcheck_naive(lambda v: (f(v)[0], 2 * f(v)[1]), rng.randn(3))

    def sgd(f, x0, step, iterations, ANNEAL_EVERY=20):
        x = x0
        for it in range(1, iterations + 1):
            loss, grad = f(x)
            x -= step * grad
            if it % ANNEAL_EVERY == 0:
                step *= 0.5
        return x
    x = sgd(lambda x: (np.sum(x ** 2), 2 * x), np.array([1.0, -2.0]), 0.01, 100)
    z = zeroin.tensor([1.0, -2.0], requires_grad=True)
    opt, sched = zoptim.SGD([z], lr=0.01), None
    sched = zoptim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    for _ in range(100):
        opt.zero_grad()
        (z ** 2).sum().backward()
        opt.step()
        sched.step()
    close(z, x, 1e-12)


# --- A3: the neural dependency parser --------------------------------------------------------

def _parser_model(L, embeddings, n_features=6, hidden_size=8, n_classes=3, dropout_prob=0.5,
                  linear=False):
    torch_, nn, F, _ = _libs(L)

    class ParserModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.n_features, self.n_classes = n_features, n_classes
            self.embed_size, self.hidden_size = embeddings.shape[1], hidden_size
            self.embeddings = nn.Parameter(torch_.tensor(embeddings))
            if linear:   # the older handout: nn.Linear layers, initialised with xavier
                self.embed_to_hidden = nn.Linear(n_features * self.embed_size, hidden_size)
                nn.init.xavier_uniform_(self.embed_to_hidden.weight)
                self.hidden_to_logits = nn.Linear(hidden_size, n_classes)
                nn.init.xavier_uniform_(self.hidden_to_logits.weight)
            else:
                self.embed_to_hidden_weight = nn.Parameter(
                    torch_.empty(n_features * self.embed_size, hidden_size))
                nn.init.xavier_uniform_(self.embed_to_hidden_weight)
                self.embed_to_hidden_bias = nn.Parameter(torch_.empty(hidden_size))
                nn.init.uniform_(self.embed_to_hidden_bias)
                self.hidden_to_logits_weight = nn.Parameter(torch_.empty(hidden_size, n_classes))
                nn.init.xavier_uniform_(self.hidden_to_logits_weight)
                self.hidden_to_logits_bias = nn.Parameter(torch_.empty(n_classes))
                nn.init.uniform_(self.hidden_to_logits_bias)
            self.dropout = nn.Dropout(dropout_prob)

        def embedding_lookup(self, w):
            return self.embeddings[w].view(w.shape[0], -1)

        def forward(self, w):
            x = self.embedding_lookup(w)
            if linear:
                return self.hidden_to_logits(self.dropout(F.relu(self.embed_to_hidden(x))))
            h = F.relu(torch_.matmul(x, self.embed_to_hidden_weight) + self.embed_to_hidden_bias)
            return torch_.matmul(self.dropout(h), self.hidden_to_logits_weight) \
                + self.hidden_to_logits_bias
    return ParserModel()


def _parser_data(n=20, n_words=12, n_features=6, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randint(0, n_words, (n, n_features)).astype(np.int32)
    y = np.eye(3)[rng.randint(0, 3, n)]          # one-hot, as the parser's minibatches
    return x, y, rng.randn(n_words, 4).astype(np.float32)


def _train_parser(L, model, x_all, y_all, lr=0.01, batch_size=8, epochs=2):
    torch_, nn, F, optim = _libs(L)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_func = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        model.train()
        for i in range(0, len(x_all), batch_size):
            optimizer.zero_grad()
            train_x = torch_.from_numpy(x_all[i:i + batch_size]).long()
            train_y = torch_.from_numpy(y_all[i:i + batch_size].nonzero()[1]).long()
            logits = model(train_x)
            loss = loss_func(logits, train_y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
        with torch_.no_grad():
            pred = model(torch_.from_numpy(x_all).long())
            pred_np = pred.detach().numpy()
            acc = (pred.argmax(-1).numpy() == y_all.argmax(1)).mean()
    return losses, pred_np, acc


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("linear", [False, True])
def test_a3_parser_trains_as_torch(dtype, linear):
    """Dropout off (p=0) so both libraries see the same network; losses, predictions and
    the trained parameters agree. The embeddings stay float32 (``torch.tensor(embeddings)``
    of the float32 word vectors), as in the assignment."""
    tol = _set_dtype(dtype)
    x, y, emb = _parser_data()
    emb = emb.astype(dtype)
    tm = _parser_model(torch, emb, dropout_prob=0.0, linear=linear)
    zm = copy_weights(tm, _parser_model(zeroin, emb, dropout_prob=0.0, linear=linear))
    tl, tp, ta = _train_parser(torch, tm, x, y)
    zl, zp, za = _train_parser(zeroin, zm, x, y)
    close(zl, tl, **tol)
    # after Adam's steps (each about lr, whatever the gradient's size) float32's rounding
    # shows a little more: float32 to 1e-4 relative there, float64 still to 1e-10
    trained = dict(rtol=1e-4, atol=2e-5) if dtype == "float32" else tol
    close(zp, tp, **trained)
    assert za == ta
    for (n, tp_), (m, zp_) in zip(tm.named_parameters(), zm.named_parameters()):
        assert n == m
        close(zp_, tp_, **trained)


def test_a3_parser_dropout_on_torch_stream():
    """With dropout on, zeroin's torch stream gives torch's masks: the same losses."""
    torch_stream()
    _set_dtype("float32")
    x, y, emb = _parser_data()
    res = []
    for L in (torch, zeroin):
        L.manual_seed(0)
        res.append(_train_parser(L, _parser_model(L, emb), x, y, epochs=1))
    close(res[1][0], res[0][0], **F32)


# --- A4: NMT with attention ------------------------------------------------------------------

Hypothesis = namedtuple("Hypothesis", ["value", "score"])
PAD, START, END = 0, 1, 2


def _nmt(L, src_vocab=9, tgt_vocab=10, embed_size=4, hidden_size=5, dropout_rate=0.0,
         cnn=True):
    torch_, nn, F, _ = _libs(L)
    pack, unpack = nn.utils.rnn.pack_padded_sequence, nn.utils.rnn.pad_packed_sequence

    class NMT(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden_size, self.tgt_vocab = hidden_size, tgt_vocab
            self.source = nn.Embedding(src_vocab, embed_size, padding_idx=PAD)
            self.target = nn.Embedding(tgt_vocab, embed_size, padding_idx=PAD)
            self.cnn = cnn
            if cnn:   # 2023-2024: a 1D convolution after the source embeddings
                self.post_embed_cnn = nn.Conv1d(embed_size, embed_size, kernel_size=2,
                                                padding="same")
            self.encoder = nn.LSTM(embed_size, hidden_size, bidirectional=True)
            self.decoder = nn.LSTMCell(embed_size + hidden_size, hidden_size)
            self.h_projection = nn.Linear(2 * hidden_size, hidden_size, bias=False)
            self.c_projection = nn.Linear(2 * hidden_size, hidden_size, bias=False)
            self.att_projection = nn.Linear(2 * hidden_size, hidden_size, bias=False)
            self.combined_output_projection = nn.Linear(3 * hidden_size, hidden_size,
                                                        bias=False)
            self.target_vocab_projection = nn.Linear(hidden_size, tgt_vocab, bias=False)
            self.dropout = nn.Dropout(dropout_rate)

        @property
        def device(self):
            return self.source.weight.device

        def forward(self, source_padded, source_lengths, target_padded):
            enc_hiddens, dec_init_state = self.encode(source_padded, source_lengths)
            enc_masks = self.generate_sent_masks(enc_hiddens, source_lengths)
            combined_outputs = self.decode(enc_hiddens, enc_masks, dec_init_state,
                                           target_padded)
            P = F.log_softmax(self.target_vocab_projection(combined_outputs), dim=-1)
            target_masks = (target_padded != PAD).float()
            target_gold_words_log_prob = torch_.gather(
                P, index=target_padded[1:].unsqueeze(-1), dim=-1).squeeze(-1) \
                * target_masks[1:]
            return target_gold_words_log_prob.sum(dim=0)

        def encode(self, source_padded, source_lengths, enforce_sorted=True):
            X = self.source(source_padded)
            if self.cnn:
                X = self.post_embed_cnn(X.permute(1, 2, 0)).permute(2, 0, 1)
            enc_hiddens, (last_hidden, last_cell) = self.encoder(
                pack(X, source_lengths, enforce_sorted=enforce_sorted))
            enc_hiddens, _ = unpack(enc_hiddens, batch_first=True)
            init_decoder_hidden = self.h_projection(torch_.cat((last_hidden[0], last_hidden[1]), 1))
            init_decoder_cell = self.c_projection(torch_.cat((last_cell[0], last_cell[1]), 1))
            return enc_hiddens, (init_decoder_hidden, init_decoder_cell)

        def decode(self, enc_hiddens, enc_masks, dec_init_state, target_padded):
            target_padded = target_padded[:-1]
            dec_state = dec_init_state
            batch_size = enc_hiddens.size(0)
            o_prev = torch_.zeros(batch_size, self.hidden_size, device=self.device)
            combined_outputs = []
            enc_hiddens_proj = self.att_projection(enc_hiddens)
            Y = self.target(target_padded)
            for Y_t in torch_.split(Y, 1):
                Y_t = Y_t.squeeze(0)
                Ybar_t = torch_.cat((Y_t, o_prev), dim=1)
                dec_state, o_t, e_t = self.step(Ybar_t, dec_state, enc_hiddens,
                                                enc_hiddens_proj, enc_masks)
                combined_outputs.append(o_t)
                o_prev = o_t
            return torch_.stack(combined_outputs, dim=0)

        def step(self, Ybar_t, dec_state, enc_hiddens, enc_hiddens_proj, enc_masks):
            dec_state = self.decoder(Ybar_t, dec_state)
            dec_hidden, dec_cell = dec_state
            e_t = torch_.bmm(enc_hiddens_proj, dec_hidden.unsqueeze(2)).squeeze(2)
            if enc_masks is not None:
                e_t.data.masked_fill_(enc_masks.bool(), -float("inf"))
            alpha_t = F.softmax(e_t, dim=1)
            a_t = torch_.bmm(alpha_t.unsqueeze(1), enc_hiddens).squeeze(1)
            U_t = torch_.cat((a_t, dec_hidden), dim=1)
            V_t = self.combined_output_projection(U_t)
            O_t = self.dropout(torch_.tanh(V_t))
            return dec_state, O_t, e_t

        def generate_sent_masks(self, enc_hiddens, source_lengths):
            enc_masks = torch_.zeros(enc_hiddens.size(0), enc_hiddens.size(1),
                                     dtype=torch_.float)
            for e_id, src_len in enumerate(source_lengths):
                enc_masks[e_id, src_len:] = 1
            return enc_masks.to(self.device)

        def beam_search(self, src_sent, beam_size=3, max_decoding_time_step=6, floor_div=True):
            src_sents_var = torch_.t(torch_.tensor([src_sent], dtype=torch_.long))
            src_encodings, dec_init_vec = self.encode(src_sents_var, [len(src_sent)])
            src_encodings_att_linear = self.att_projection(src_encodings)
            h_tm1 = dec_init_vec
            att_tm1 = torch_.zeros(1, self.hidden_size, device=self.device)
            hypotheses = [[START]]
            hyp_scores = torch_.zeros(len(hypotheses), dtype=torch_.float, device=self.device)
            completed_hypotheses = []
            t = 0
            while len(completed_hypotheses) < beam_size and t < max_decoding_time_step:
                t += 1
                hyp_num = len(hypotheses)
                exp_src_encodings = src_encodings.expand(
                    hyp_num, src_encodings.size(1), src_encodings.size(2))
                exp_att = src_encodings_att_linear.expand(
                    hyp_num, src_encodings_att_linear.size(1), src_encodings_att_linear.size(2))
                y_tm1 = torch_.tensor([hyp[-1] for hyp in hypotheses], dtype=torch_.long)
                x = torch_.cat([self.target(y_tm1), att_tm1], dim=-1)
                (h_t, cell_t), att_t, _ = self.step(x, h_tm1, exp_src_encodings, exp_att,
                                                    enc_masks=None)
                log_p_t = F.log_softmax(self.target_vocab_projection(att_t), dim=-1)
                live_hyp_num = beam_size - len(completed_hypotheses)
                scores = (hyp_scores.unsqueeze(1).expand_as(log_p_t) + log_p_t).view(-1)
                top_scores, top_pos = torch_.topk(scores, k=live_hyp_num)
                if floor_div:
                    prev_hyp_ids = torch_.div(top_pos, self.tgt_vocab, rounding_mode="floor")
                else:
                    prev_hyp_ids = top_pos // self.tgt_vocab
                hyp_word_ids = top_pos % self.tgt_vocab
                new_hypotheses, live_hyp_ids, new_hyp_scores = [], [], []
                for prev_hyp_id, hyp_word_id, cand in zip(prev_hyp_ids, hyp_word_ids,
                                                          top_scores):
                    prev_hyp_id, hyp_word_id = prev_hyp_id.item(), hyp_word_id.item()
                    new_hyp_sent = hypotheses[prev_hyp_id] + [hyp_word_id]
                    if hyp_word_id == END:
                        completed_hypotheses.append(Hypothesis(new_hyp_sent[1:-1], cand.item()))
                    else:
                        new_hypotheses.append(new_hyp_sent)
                        live_hyp_ids.append(prev_hyp_id)
                        new_hyp_scores.append(cand.item())
                if len(completed_hypotheses) == beam_size:
                    break
                live_hyp_ids = torch_.tensor(live_hyp_ids, dtype=torch_.long)
                h_tm1 = (h_t[live_hyp_ids], cell_t[live_hyp_ids])
                att_tm1 = att_t[live_hyp_ids]
                hypotheses = new_hypotheses
                hyp_scores = torch_.tensor(new_hyp_scores, dtype=torch_.float)
            if len(completed_hypotheses) == 0:
                completed_hypotheses.append(Hypothesis(hypotheses[0][1:], hyp_scores[0].item()))
            completed_hypotheses.sort(key=lambda hyp: hyp.score, reverse=True)
            return completed_hypotheses
    return NMT()


def _pad_sents(sents, pad=PAD):
    n = max(len(s) for s in sents)
    return [s + [pad] * (n - len(s)) for s in sents]


def _nmt_batch(seed=0, b=3):
    rng = np.random.RandomState(seed)
    src = [list(rng.randint(3, 9, n)) for n in sorted(rng.randint(2, 6, b), reverse=True)]
    tgt = [[START] + list(rng.randint(3, 10, n)) + [END] for n in rng.randint(1, 4, b)]
    return src, tgt


def _nmt_train(L, model, steps=3, lr=1e-2, clip_grad=0.5, uniform_init=0.1):
    torch_, nn, F, optim = _libs(L)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    out = []
    model.train()
    for i in range(steps):
        src, tgt = _nmt_batch(seed=i)
        source_padded = torch_.t(torch_.tensor(_pad_sents(src), dtype=torch_.long))
        target_padded = torch_.tensor(_pad_sents(tgt), dtype=torch_.long).t()
        optimizer.zero_grad()
        example_losses = -model(source_padded, [len(s) for s in src], target_padded)
        loss = example_losses.sum() / len(src)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        grads = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
        optimizer.step()
        lr = optimizer.param_groups[0]["lr"] * 0.5
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        out.append((loss.item(), float(grad_norm), grads))
    return out


def _nmt_pair(seed, bound, **kw):
    """torch's NMT model with every parameter drawn uniform in (-bound, bound) after
    ``torch.manual_seed(seed)`` (run.py's init), and zeroin's with its weights."""
    torch.manual_seed(seed)
    tm = _nmt(torch, **kw)
    for p in tm.parameters():
        p.data.uniform_(-bound, bound)
    return tm, copy_weights(tm, _nmt(zeroin, **kw))


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cnn", [True, False])
def test_a4_nmt_trains_as_torch(dtype, cnn):
    tol = _set_dtype(dtype)
    tm, zm = _nmt_pair(0, 0.1, cnn=cnn)
    for (tl, tn, tg), (zl, zn, zg) in zip(_nmt_train(torch, tm), _nmt_train(zeroin, zm)):
        close(zl, tl, **tol), close(zn, tn, **tol)
        assert tg.keys() == zg.keys()
        for k in tg:
            close(zg[k], tg[k], **tol)
    for (n, tp), (m, zp) in zip(tm.named_parameters(), zm.named_parameters()):
        assert n == m
        close(zp, tp, **tol)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_a4_unsorted_lengths_and_uniform_init():
    """``enforce_sorted=False`` encodes an unsorted batch as torch does; ``p.data.uniform_``
    (the training script's init) fills every parameter within the bounds."""
    _set_dtype("float64")
    tm = _nmt(torch)
    zm = copy_weights(tm, _nmt(zeroin))
    lengths = [2, 4, 3]
    src = np.random.RandomState(3).randint(3, 9, (4, 3))
    for j, n in enumerate(lengths):
        src[n:, j] = PAD
    te, (th, tc) = tm.encode(torch.from_numpy(src), lengths, enforce_sorted=False)
    ze, (zh, zc) = zm.encode(zeroin.from_numpy(src), lengths, enforce_sorted=False)
    close(ze, te), close(zh, th), close(zc, tc)
    for p in zm.parameters():
        p.data.uniform_(-0.1, 0.1)
        assert np.abs(p.numpy()).max() <= 0.1 and p.numpy().std() > 0


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("floor_div", [True, False])
def test_a4_beam_search_as_torch(dtype, floor_div):
    tol = _set_dtype(dtype)
    tm, zm = _nmt_pair(1, 1.0)
    for m, L in ((tm, torch), (zm, zeroin)):
        m.eval()
        with L.no_grad():
            hyps = m.beam_search([3, 5, 4, 7], floor_div=floor_div)
        if L is torch:
            ref = hyps
    assert [h.value for h in hyps] == [h.value for h in ref] and len(ref) > 0
    close([h.score for h in hyps], [h.score for h in ref], **tol)


def test_data_masked_fill_():
    """``e_t.data.masked_fill_(mask, -inf)`` (A4's step): in place, on the tensor's memory,
    outside the graph, as PyTorch's."""
    for L in (torch, zeroin):
        e = L.tensor([[1.0, 2.0, 3.0]], requires_grad=True) * 1
        out = e.data.masked_fill_(L.tensor([[False, True, True]]), -float("inf"))
        assert out is not None and _np(e)[0, 0] == 1.0 and np.isinf(_np(e)[0, 1:]).all()
        p = L.softmax(e, dim=1)
        p[0, 0].backward()
        if L is torch:
            ref = p
    close(p, ref)
    z = zeroin.zeros(2, 3)
    with pytest.raises(Exception, match="masked_fill_.*shape"):
        z.data.masked_fill_(zeroin.tensor([True, False]), 1.0)
    with pytest.raises(Exception, match="masked_fill_.*bool"):
        z.data.masked_fill_(zeroin.ones(3), 1.0)
    mask = [[True, False, True], [False, True, False]]
    for L in (torch, zeroin):       # a value with dimensions: refused (NumPy would cycle it)
        with pytest.raises(RuntimeError, match="masked_fill_.*0-d|0-dimensional"):
            L.zeros(2, 3).data.masked_fill_(L.tensor(mask), L.tensor([1.0, 2.0]))
    z.data.masked_fill_(zeroin.tensor(mask), zeroin.tensor(2.5))        # a 0-d tensor value
    assert z.data.tolist() == [[2.5, 0.0, 2.5], [0.0, 2.5, 0.0]]


# --- A4/A5 extras: the char CNN, minGPT's attention ---------------------------------------

def _char_cnn(L, e_char=3, f=4, k=3, word=4):
    torch_, nn, F, _ = _libs(L)

    class Highway(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj, self.gate = nn.Linear(word, word), nn.Linear(word, word)

        def forward(self, x):
            x_proj = F.relu(self.proj(x))
            x_gate = torch_.sigmoid(self.gate(x))
            return x_gate * x_proj + (1 - x_gate) * x

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(11, e_char, padding_idx=0)
            self.conv1d = nn.Conv1d(e_char, f, kernel_size=k, padding=1)
            self.highway = Highway()

        def forward(self, x):   # (sent_len, batch, max_word_len)
            s, b, m = x.shape
            e = self.emb(x.view(s * b, m)).permute(0, 2, 1)
            x_conv_out = torch_.max(F.relu(self.conv1d(e)), dim=2)[0]
            return self.highway(x_conv_out).view(s, b, -1)
    return CNN()


def precompute_rotary_emb(L, dim, max_positions):
    """A4 (2024)'s RoPE cache: (max_positions, dim / 2, 2) of cosines and sines."""
    theta = 1.0 / (10000 ** (L.arange(0, dim, 2)[: dim // 2].float() / dim))
    freqs = L.outer(L.arange(max_positions).float(), theta)
    return L.stack((L.cos(freqs), L.sin(freqs)), dim=-1)


def apply_rotary_emb(L, x, rope_cache):
    """Rotate each pair of ``x``'s last dimension, written with complex numbers."""
    T = x.shape[-2]
    x_c = L.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    r_c = L.view_as_complex(rope_cache[:T].contiguous())
    return L.view_as_real(x_c * r_c).flatten(-2)


def _gpt_attention(L, n_embd=8, n_head=2, block_size=6, rope=False):
    torch_, nn, F, _ = _libs(L)

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.key, self.query = nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)
            self.value, self.proj = nn.Linear(n_embd, n_embd), nn.Linear(n_embd, n_embd)
            self.attn_drop, self.resid_drop = nn.Dropout(0.0), nn.Dropout(0.0)
            self.register_buffer("mask", torch_.tril(torch_.ones(block_size, block_size))
                                 .view(1, 1, block_size, block_size))
            self.n_head = n_head
            if rope:
                self.register_buffer("rope_cache",
                                     precompute_rotary_emb(torch_, n_embd // n_head, block_size))

        def forward(self, x):
            B, T, C = x.size()
            k = self.key(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = self.query(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = self.value(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if rope:
                q = apply_rotary_emb(torch_, q, self.rope_cache)
                k = apply_rotary_emb(torch_, k, self.rope_cache)
            att = (q @ k.transpose(-2, -1)) * (1.0 / np.sqrt(k.size(-1)))
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, -1e10)
            att = self.attn_drop(F.softmax(att, dim=-1))
            y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_drop(self.proj(y))

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_emb = nn.Embedding(12, n_embd)
            self.pos_emb = nn.Parameter(torch_.zeros(1, block_size, n_embd))
            self.attn, self.ln = CausalSelfAttention(), nn.LayerNorm(n_embd)
            self.head = nn.Linear(n_embd, 12, bias=False)
            self.block_size = block_size

        def forward(self, idx, targets=None):
            t = idx.size(1)
            x = self.tok_emb(idx) + self.pos_emb[:, :t, :]
            logits = self.head(self.ln(x + self.attn(x)))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=0)
            return logits, loss
    return Tiny()


def _span_corruption(doc, block_size=6, mask_char=11, pad=0, rng=None):
    """A5's CharCorruptionDataset in miniature: prefix + MASK + suffix + MASK + masked span,
    padded; x = all but the last, y = all but the first."""
    cut = rng.randint(1, len(doc) - 1)
    span = rng.randint(1, len(doc) - cut)
    s = doc[:cut] + [mask_char] + doc[cut + span:] + [mask_char] + doc[cut:cut + span]
    s = (s + [pad] * (block_size + 1))[:block_size + 1]
    return s[:-1], s[1:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a5_extras_as_torch(dtype):
    tol = _set_dtype(dtype)
    torch.manual_seed(2)
    tc, tg = _char_cnn(torch), _gpt_attention(torch)
    zc, zg = copy_weights(tc, _char_cnn(zeroin)), copy_weights(tg, _gpt_attention(zeroin))
    chars = np.random.RandomState(0).randint(0, 11, (2, 3, 5))
    for m, L in ((tc, torch), (zc, zeroin)):
        out = m(L.from_numpy(chars).long())
        out.pow(2).sum().backward()
        if L is torch:
            ref = out
    close(out, ref, **tol)
    for (n, tp), (_, zp) in zip(tc.named_parameters(), zc.named_parameters()):
        close(zp.grad, tp.grad, **tol)
    rng = np.random.RandomState(4)
    pairs = [_span_corruption([3, 4, 5, 6], rng=rng) for _ in range(3)]
    x, y = (np.array([p[i] for p in pairs]) for i in (0, 1))
    assert (y == 0).any()   # padding the loss must ignore
    for m, L in ((tg, torch), (zg, zeroin)):
        logits, loss = m(L.tensor(x), L.tensor(y))
        loss.backward()
        if L is torch:
            ref = loss, logits
    close(loss, ref[0], **tol), close(logits, ref[1], **tol)
    for (n, tp), (_, zp) in zip(tg.named_parameters(), zg.named_parameters()):
        close(zp.grad, tp.grad, **tol)


def configure_optimizers(L, model, learning_rate=3e-3, weight_decay=0.1, betas=(0.9, 0.95)):
    """minGPT's trainer: weight decay on Linear weights only, AdamW on two groups."""
    nn = _libs(L)[1]
    decay, no_decay = set(), set()
    for mn, m in model.named_modules():
        for pn, p in m.named_parameters():
            fpn = "%s.%s" % (mn, pn) if mn else pn
            if pn.endswith("bias"):
                no_decay.add(fpn)
            elif pn.endswith("weight") and isinstance(m, nn.Linear):
                decay.add(fpn)
            elif pn.endswith("weight") and isinstance(m, (nn.LayerNorm, nn.Embedding)):
                no_decay.add(fpn)
    no_decay.add("pos_emb")
    param_dict = {pn: p for pn, p in model.named_parameters()}
    assert len(decay & no_decay) == 0 and len(param_dict.keys() - (decay | no_decay)) == 0
    optim_groups = [
        {"params": [param_dict[pn] for pn in sorted(decay)], "weight_decay": weight_decay},
        {"params": [param_dict[pn] for pn in sorted(no_decay)], "weight_decay": 0.0}]
    return L.optim.AdamW(optim_groups, lr=learning_rate, betas=betas)


def _gpt_train(L, model, xs, ys, learning_rate=3e-3, warmup_tokens=10, final_tokens=60):
    optimizer, tokens, losses = configure_optimizers(L, model, learning_rate), 0, []
    model.train()
    for x, y in zip(xs, ys):
        x, y = L.from_numpy(x).long(), L.from_numpy(y).long()
        logits, loss = model(x, y)
        model.zero_grad()
        loss.backward()
        L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        tokens += (y >= 0).sum()
        if tokens < warmup_tokens:
            lr_mult = float(tokens) / float(max(1, warmup_tokens))
        else:
            progress = float(tokens - warmup_tokens) / float(max(1, final_tokens - warmup_tokens))
            lr_mult = max(0.1, 0.5 * (1.0 + np.cos(np.pi * progress)))
        for param_group in optimizer.param_groups:
            param_group["lr"] = learning_rate * lr_mult
        losses.append(loss.item())
    return losses


def _gpt_sample(L, model, x, steps):
    """A5's ``sample`` (greedy: ``sample=False``) under ``torch.no_grad()``."""
    model.eval()
    with L.no_grad():
        for _ in range(steps):
            x_cond = x if x.size(1) <= model.block_size else x[:, -model.block_size:]
            logits, _ = model(x_cond)
            probs = _libs(L)[2].softmax(logits[:, -1, :] / 1.0, dim=-1)
            _, ix = L.topk(probs, k=1, dim=-1)
            x = L.cat((x, ix), dim=1)
    return x


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a5_rope_pretrain_finetune_as_torch(dtype):
    """RoPE (A4 2024) through view_as_complex, minGPT's AdamW groups, clipping, warm-up and
    cosine decay on the span-corruption toy; then greedy sampling past the block size."""
    tol = _set_dtype(dtype)
    torch.manual_seed(3)
    tg = _gpt_attention(torch, rope=True)
    zg = copy_weights(tg, _gpt_attention(zeroin, rope=True))
    close(zg.attn.rope_cache, tg.attn.rope_cache, **tol)
    rng = np.random.RandomState(5)
    batches = [[_span_corruption(list(rng.randint(3, 11, 4)), rng=rng) for _ in range(4)]
               for _ in range(4)]
    xs, ys = ([np.array([p[i] for p in b]) for b in batches] for i in (0, 1))
    tl, zl = _gpt_train(torch, tg, xs, ys), _gpt_train(zeroin, zg, xs, ys)
    trained = dict(rtol=1e-4, atol=2e-5) if dtype == "float32" else tol
    close(zl, tl, **trained)
    for (n, tp), (m, zp) in zip(tg.named_parameters(), zg.named_parameters()):
        assert n == m
        close(zp, tp, **trained)
    start = np.array([[3, 4, 11]])
    ts = _gpt_sample(torch, tg, torch.from_numpy(start), 5)
    zs = _gpt_sample(zeroin, zg, zeroin.from_numpy(start), 5)
    assert zs.shape == (1, 8) and (zs.numpy() == ts.numpy()).all()


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_a4_nmt_on_torch_stream_nothing_copied():
    """run.py as written: ``torch.manual_seed``, the layers' own initialisation,
    ``p.data.uniform_(-0.1, 0.1)`` and dropout 0.3 draw PyTorch's numbers on zeroin's torch
    stream; the training steps agree with no weight copied."""
    torch_stream()
    _set_dtype("float32")
    runs = []
    for L in (torch, zeroin):
        L.manual_seed(0)
        model = _nmt(L, dropout_rate=0.3)
        for p in model.parameters():
            p.data.uniform_(-0.1, 0.1)
        runs.append((model, _nmt_train(L, model, steps=2)))
    (tm, tr), (zm, zr) = runs
    for (tl, tn, _), (zl, zn, _) in zip(tr, zr):
        close(zl, tl, **F32), close(zn, tn, **F32)
    for (n, tp), (_, zp) in zip(tm.named_parameters(), zm.named_parameters()):
        close(zp, tp, rtol=1e-4, atol=2e-5)
