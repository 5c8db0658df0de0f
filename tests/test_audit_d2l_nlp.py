"""Audit against "Dive into Deep Learning" (d2l.ai, PyTorch edition), chapters 15 (NLP
pretraining: word2vec, GloVe-style embeddings, BERT) and 16 (NLP applications: sentiment
analysis with a BiRNN and textCNN, natural language inference with decomposable attention
and a fine-tuned BERT): each section's code as a learner ports it (``import zeroin as
torch``, ``from zeroin import nn``, ``zeroin.nn.functional as F``), the d2l helpers it calls
(``Vocab``, ``batchify``, ``TokenEmbedding``, ``MultiHeadAttention``, ``train_ch13``...)
written here as the book writes them, run on ``torch`` and on ``zeroin`` with the same
synthetic corpora (made here, no download) and the same weights (copied from torch).
zeroin's generator is on PyTorch's stream, so ``DataLoader(shuffle=True)`` batches and
dropout masks are torch's own. float32 (the book's dtype) is compared to float
resolution. See docs/d2l_nlp.md."""
import collections
import math
import random

import numpy as np
import pytest

import zeroin
from _audit import close as _close, copy_weights as _copy, np_of as _np, torch_stream

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-6, atol=2e-6)
STEPS = dict(rtol=5e-5, atol=5e-6)      # after a few optimiser steps in float32
# the book's Accumulator takes float(l.sum()) of a loss that requires grad: both warn
pytestmark = pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")

WORDS = ("the a cat dog sat ran on mat log and big small red fast slow good bad film "
         "movie plot fun dull").split()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """torch on one thread during these tests: its small LSTM and attention kernels wait
    ten times longer for a second thread on a loaded two-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tstream(f32):
    """float32 and zeroin's generator on PyTorch's stream, for this test only."""
    torch_stream()
    yield
    zeroin.random.use_torch_stream(False)


def _corpus(n_lines=40, seed=0):
    """Sentences of tokens with Zipf-like frequencies (PTB stands in)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(WORDS) + 1)
    return [list(rng.choice(WORDS, size=int(rng.integers(4, 10)), p=p / p.sum()))
            for _ in range(n_lines)]


def _same_list(z, t, **tols):
    assert len(z) == len(t)
    for a, b in zip(z, t, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split('.')[-1] == str(b.dtype).split('.')[-1]
        _close(a, b, **(tols or F32))


# --- d2l's helpers, as the book writes them --------------------------------------------------

class Vocab:
    """d2l.Vocab: '<unk>' and the reserved tokens, then the tokens seen min_freq times."""

    def __init__(self, tokens=(), min_freq=0, reserved_tokens=()):
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = list(sorted(set(['<unk>'] + list(reserved_tokens) + [
            token for token, freq in self.token_freqs if freq >= min_freq])))
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        if hasattr(indices, '__len__') and len(indices) > 1:
            return [self.idx_to_token[int(index)] for index in indices]
        return self.idx_to_token[indices]

    @property
    def unk(self):
        return self.token_to_idx['<unk>']


def truncate_pad(line, num_steps, padding_token):
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


class Accumulator:
    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def try_all_gpus(lib):
    devices = [lib.device(f'cuda:{i}') for i in range(lib.cuda.device_count())]
    return devices if devices else [lib.device('cpu')]


def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy_gpu(lib, net, data_iter, device=None):
    if isinstance(net, lib.nn.Module):
        net.eval()
        if not device:
            device = next(iter(net.parameters())).device
    metric = Accumulator(2)
    with lib.no_grad():
        for X, y in data_iter:
            if isinstance(X, list):
                X = [x.to(device) for x in X]
            else:
                X = X.to(device)
            y = y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_batch_ch13(net, X, y, loss, trainer, devices):
    if isinstance(X, list):
        X = [x.to(devices[0]) for x in X]
    else:
        X = X.to(devices[0])
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    pred = net(X)
    l = loss(pred, y)  # noqa: E741 (the book's name)
    l.sum().backward()
    trainer.step()
    train_loss_sum = l.sum()
    train_acc_sum = accuracy(pred, y)
    return train_loss_sum, train_acc_sum


def train_ch13(lib, net, train_iter, test_iter, loss, trainer, num_epochs, devices):
    """d2l.train_ch13 without the animator: the per-batch losses and accuracies and each
    epoch's test accuracy."""
    net = lib.nn.DataParallel(net, device_ids=devices).to(devices[0])
    out = []
    for epoch in range(num_epochs):
        metric = Accumulator(4)
        for i, (features, labels) in enumerate(train_iter):
            l, acc = train_batch_ch13(net, features, labels, loss, trainer, devices)  # noqa: E741 (the book's name)
            metric.add(l, acc, labels.shape[0], labels.numel())
            out += [float(l), acc]
        out.append(evaluate_accuracy_gpu(lib, net, test_iter))
    return out


def load_array(lib, data_arrays, batch_size, is_train=True):
    dataset = lib.utils.data.TensorDataset(*data_arrays)
    return lib.utils.data.DataLoader(dataset, batch_size, shuffle=is_train)



# --- 15.3 the dataset for word2vec, 15.4 pretraining word2vec -------------------------------

def subsample(sentences, vocab, t=1e-4):
    """The book's subsample (its t = 1e-4 is a parameter here: the toy corpus is small)."""
    sentences = [[token for token in line if vocab[token] != vocab.unk]
                 for line in sentences]
    counter = collections.Counter([token for line in sentences for token in line])
    num_tokens = sum(counter.values())

    def keep(token):
        return (random.uniform(0, 1) < math.sqrt(t / counter[token] * num_tokens))
    return ([[token for token in line if keep(token)] for line in sentences], counter)


def get_centers_and_contexts(corpus, max_window_size):
    centers, contexts = [], []
    for line in corpus:
        if len(line) < 2:
            continue
        centers += line
        for i in range(len(line)):
            window_size = random.randint(1, max_window_size)
            indices = list(range(max(0, i - window_size),
                                 min(len(line), i + 1 + window_size)))
            indices.remove(i)
            contexts.append([line[idx] for idx in indices])
    return centers, contexts


class RandomGenerator:
    def __init__(self, sampling_weights):
        self.population = list(range(1, len(sampling_weights) + 1))
        self.sampling_weights = sampling_weights
        self.candidates = []
        self.i = 0

    def draw(self):
        if self.i == len(self.candidates):
            self.candidates = random.choices(self.population, self.sampling_weights, k=10000)
            self.i = 0
        self.i += 1
        return self.candidates[self.i - 1]


def get_negatives(all_contexts, vocab, counter, K):
    sampling_weights = [counter[vocab.to_tokens(i)]**0.75 for i in range(1, len(vocab))]
    all_negatives, generator = [], RandomGenerator(sampling_weights)
    for contexts in all_contexts:
        negatives = []
        while len(negatives) < len(contexts) * K:
            neg = generator.draw()
            if neg not in contexts:
                negatives.append(neg)
        all_negatives.append(negatives)
    return all_negatives


def _ptb_pieces(max_window_size=2, num_noise_words=3):
    """load_data_ptb's Python part (no tensors), from a seeded toy corpus."""
    random.seed(0)
    sentences = _corpus()
    vocab = Vocab(sentences, min_freq=2)
    subsampled, counter = subsample(sentences, vocab, t=0.05)
    corpus = [vocab[line] for line in subsampled]
    all_centers, all_contexts = get_centers_and_contexts(corpus, max_window_size)
    all_negatives = get_negatives(all_contexts, vocab, counter, num_noise_words)
    return vocab, all_centers, all_contexts, all_negatives


def _batchify(lib):
    def batchify(data):
        max_len = max(len(c) + len(n) for _, c, n in data)
        centers, contexts_negatives, masks, labels = [], [], [], []
        for center, context, negative in data:
            cur_len = len(context) + len(negative)
            centers += [center]
            contexts_negatives += [context + negative + [0] * (max_len - cur_len)]
            masks += [[1] * cur_len + [0] * (max_len - cur_len)]
            labels += [[1] * len(context) + [0] * (max_len - len(context))]
        return (lib.tensor(centers).reshape((-1, 1)), lib.tensor(
            contexts_negatives), lib.tensor(masks), lib.tensor(labels))
    return batchify


def load_data_ptb(lib, batch_size, pieces):
    _, all_centers, all_contexts, all_negatives = pieces

    class PTBDataset(lib.utils.data.Dataset):
        def __init__(self, centers, contexts, negatives):
            assert len(centers) == len(contexts) == len(negatives)
            self.centers = centers
            self.contexts = contexts
            self.negatives = negatives

        def __getitem__(self, index):
            return (self.centers[index], self.contexts[index], self.negatives[index])

        def __len__(self):
            return len(self.centers)
    dataset = PTBDataset(all_centers, all_contexts, all_negatives)
    return lib.utils.data.DataLoader(dataset, batch_size, shuffle=True,
                                     collate_fn=_batchify(lib), num_workers=0)


def skip_gram(lib, center, contexts_and_negatives, embed_v, embed_u):
    v = embed_v(center)
    u = embed_u(contexts_and_negatives)
    pred = lib.bmm(v, u.permute(0, 2, 1))
    return pred


def _sigmoid_bce_loss(lib):
    nn = lib.nn

    class SigmoidBCELoss(nn.Module):
        # Binary cross-entropy loss with masking
        def __init__(self):
            super().__init__()

        def forward(self, inputs, target, mask=None):
            out = nn.functional.binary_cross_entropy_with_logits(
                inputs, target, weight=mask, reduction="none")
            return out.mean(dim=1)
    return SigmoidBCELoss()


def test_15_3_batchify_through_a_dataloader(tstream):
    pieces = _ptb_pieces()
    vocab, centers = pieces[:2]
    assert len(vocab) > 10 and len(centers) > 30
    x_1, x_2 = (1, [2, 2], [3, 3, 3, 3]), (1, [2, 2, 2], [3, 3])
    res = {}
    for lib in LIBS:
        batch = _batchify(lib)((x_1, x_2))
        names = ['centers', 'contexts_negatives', 'masks', 'labels']
        assert [tuple(data.shape) for data in batch] == [(2, 1), (2, 6), (2, 6), (2, 6)]
        lib.manual_seed(0)
        batches = [b for batch in load_data_ptb(lib, 8, pieces) for b in batch]
        assert len(names) == 4 and all(b.dtype == lib.int64 for b in batches)
        res[lib] = list(batch) + batches
    _same_list(res[zeroin], res[torch], rtol=0, atol=0)


def test_15_4_sigmoid_bce_loss_with_mask(f32):
    def sigmd(x):
        return -math.log(1 / (1 + math.exp(-x)))
    res = {}
    for lib in LIBS:
        loss = _sigmoid_bce_loss(lib)
        pred = lib.tensor([[1.1, -2.2, 3.3, -4.4]] * 2, requires_grad=True)
        label = lib.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
        mask = lib.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
        out = loss(pred, label, mask) * mask.shape[1] / mask.sum(axis=1)
        out.sum().backward()
        res[lib] = [out, pred.grad]
    _same_list(res[zeroin], res[torch])
    book = [(sigmd(1.1) + sigmd(2.2) + sigmd(-3.3) + sigmd(4.4)) / 4,
            (sigmd(-1.1) + sigmd(-2.2)) / 2]
    np.testing.assert_allclose(_np(res[zeroin][0]), book, rtol=1e-6)


def _train_word2vec(lib, pieces, lr=0.01, num_epochs=2):
    """15.4's net, init_weights and train (without the animator): the per-batch losses."""
    nn = lib.nn
    vocab = pieces[0]
    embed_size = 8
    lib.manual_seed(0)
    net = nn.Sequential(nn.Embedding(num_embeddings=len(vocab), embedding_dim=embed_size),
                        nn.Embedding(num_embeddings=len(vocab), embedding_dim=embed_size))
    data_iter = load_data_ptb(lib, 16, pieces)
    loss = _sigmoid_bce_loss(lib)

    def init_weights(module):
        if type(module) == nn.Embedding:  # noqa: E721 (the book's test)
            nn.init.xavier_uniform_(module.weight)
    net.apply(init_weights)
    device = try_all_gpus(lib)[0]
    net = net.to(device)
    init = [p.detach().clone() for p in net.parameters()]
    optimizer = lib.optim.Adam(net.parameters(), lr=lr)
    metric, losses = Accumulator(2), []
    for epoch in range(num_epochs):
        for i, batch in enumerate(data_iter):
            optimizer.zero_grad()
            center, context_negative, mask, label = [data.to(device) for data in batch]
            pred = skip_gram(lib, center, context_negative, net[0], net[1])
            l = (loss(pred.reshape(label.shape).float(), label.float(), mask)  # noqa: E741 (the book's name)
                 / mask.sum(axis=1) * mask.shape[1])
            l.sum().backward()
            optimizer.step()
            metric.add(l.sum(), l.numel())
            losses.append(metric[0] / metric[1])
    return net, init, losses


def get_similar_tokens(lib, query_token, k, embed, vocab):
    W = embed.weight.data
    x = W[vocab[query_token]]
    # Compute the cosine similarity. Add 1e-9 for numerical stability
    cos = lib.mv(W, x) / lib.sqrt(lib.sum(W * W, dim=1) * lib.sum(x * x) + 1e-9)
    topk = lib.topk(cos, k=k+1)[1].cpu().numpy().astype('int32')
    for i in topk[1:]:  # Remove the input words
        print(f'cosine sim={float(cos[i]):.3f}: {vocab.to_tokens(i)}')
    return cos, topk


def test_15_4_skip_gram_training_and_similar_tokens(tstream, capsys):
    pieces = _ptb_pieces()
    vocab = pieces[0]
    res, printed = {}, {}
    for lib in LIBS:
        embed = lib.nn.Embedding(num_embeddings=20, embedding_dim=4)
        assert tuple(embed.weight.shape) == (20, 4) and embed.weight.dtype == lib.float32
        x = lib.tensor([[1, 2, 3], [4, 5, 6]])
        assert tuple(embed(x).shape) == (2, 3, 4)
        assert tuple(skip_gram(lib, lib.ones((2, 1), dtype=lib.long),
                               lib.ones((2, 4), dtype=lib.long), embed, embed).shape) == (2, 1, 4)
        net, init, losses = _train_word2vec(lib, pieces)
        cos, topk = get_similar_tokens(lib, 'cat', 3, net[0], vocab)
        printed[lib] = capsys.readouterr().out.splitlines()
        res[lib] = init + list(net.parameters()) + [lib.tensor(losses), cos]
        res[lib, "topk"] = topk
    _same_list(res[zeroin][:2], res[torch][:2], rtol=0, atol=0)   # xavier_uniform_'s draws
    _same_list(res[zeroin][2:], res[torch][2:], **STEPS)
    assert res[torch][-2][-1] < res[torch][-2][0]
    assert list(res[zeroin, "topk"]) == list(res[torch, "topk"])
    assert [ln.split(': ')[1] for ln in printed[zeroin]] == \
        [ln.split(': ')[1] for ln in printed[torch]] and len(printed[torch]) == 3


# --- 15.5-15.7 GloVe-style pretrained vectors: word similarity and analogy -----------------

def _token_embedding(lib):
    class TokenEmbedding:
        """Token Embedding (the book's, reading vec.txt from a folder given here)."""
        def __init__(self, data_dir):
            self.idx_to_token, self.idx_to_vec = self._load_embedding(data_dir)
            self.unknown_idx = 0
            self.token_to_idx = {token: idx for idx, token in
                                 enumerate(self.idx_to_token)}

        def _load_embedding(self, data_dir):
            idx_to_token, idx_to_vec = ['<unk>'], []
            with open(data_dir / 'vec.txt', 'r') as f:
                for line in f:
                    elems = line.rstrip().split(' ')
                    token, elems = elems[0], [float(elem) for elem in elems[1:]]
                    # Skip header information, such as the top row in fastText
                    if len(elems) > 1:
                        idx_to_token.append(token)
                        idx_to_vec.append(elems)
            idx_to_vec = [[0] * len(idx_to_vec[0])] + idx_to_vec
            return idx_to_token, lib.tensor(idx_to_vec)

        def __getitem__(self, tokens):
            indices = [self.token_to_idx.get(token, self.unknown_idx)
                       for token in tokens]
            vecs = self.idx_to_vec[lib.tensor(indices)]
            return vecs

        def __len__(self):
            return len(self.idx_to_token)
    return TokenEmbedding


def knn(lib, W, x, k):
    # Add 1e-9 for numerical stability
    cos = lib.mv(W, x.reshape(-1,)) / (
        lib.sqrt(lib.sum(W * W, axis=1) + 1e-9) *
        lib.sqrt((x * x).sum()))
    _, topk = lib.topk(cos, k=k)
    return topk, [cos[int(i)] for i in topk]


def get_similar_tokens_glove(lib, query_token, k, embed):
    topk, cos = knn(lib, embed.idx_to_vec, embed[[query_token]], k + 1)
    out = []
    for i, c in zip(topk[1:], cos[1:]):  # Exclude the input word
        out.append((embed.idx_to_token[int(i)], float(c)))
    return out


def get_analogy(lib, token_a, token_b, token_c, embed):
    vecs = embed[[token_a, token_b, token_c]]
    x = vecs[1] - vecs[0] + vecs[2]
    topk, cos = knn(lib, embed.idx_to_vec, x, 1)
    return embed.idx_to_token[int(topk[0])]  # Remove unknown words


def _vec_txt(path, dim=6):
    """A fastText-style vec.txt (a header line, then token and values): a 'man'/'woman'
    direction added to some words, so the analogies have an answer."""
    rng = np.random.default_rng(3)
    base = {w: rng.normal(size=dim) for w in ("man", "king", "son", "boy", "chip", "baby")}
    gender = rng.normal(size=dim) * 2
    vecs = dict(base, woman=base["man"] + gender, queen=base["king"] + gender,
                daughter=base["son"] + gender, girl=base["boy"] + gender)
    vecs["chips"] = base["chip"] + 0.1 * rng.normal(size=dim)
    lines = [f"{len(vecs)} {dim}"] + [w + " " + " ".join(f"{v:.5f}" for v in vec)
                                      for w, vec in vecs.items()]
    (path / "vec.txt").write_text("\n".join(lines) + "\n")
    return path


def test_15_7_token_embedding_knn_and_analogy(f32, tmp_path):
    data_dir = _vec_txt(tmp_path)
    res = {}
    for lib in LIBS:
        glove_6b50d = _token_embedding(lib)(data_dir)
        assert len(glove_6b50d) == 12 and glove_6b50d.idx_to_vec.dtype == lib.float32
        assert glove_6b50d.token_to_idx['chip'] == 5 and glove_6b50d.idx_to_token[5] == 'chip'
        vecs = glove_6b50d[['chip', 'nonexistent', 'woman']]
        topk, cos = knn(lib, glove_6b50d.idx_to_vec, glove_6b50d[['chip']], 3)
        sims = get_similar_tokens_glove(lib, 'chip', 2, glove_6b50d)
        analogies = [get_analogy(lib, a, b, c, glove_6b50d) for a, b, c in
                     (('man', 'woman', 'son'), ('man', 'woman', 'king'),
                      ('boy', 'girl', 'man'))]
        res[lib] = [glove_6b50d.idx_to_vec, vecs, topk, lib.stack(cos)]
        res[lib, "words"] = sims, analogies
    _same_list(res[zeroin], res[torch])
    (zs, za), (ts, ta) = res[zeroin, "words"], res[torch, "words"]
    assert [w for w, _ in zs] == [w for w, _ in ts] and zs[0][0] == 'chips'
    np.testing.assert_allclose([c for _, c in zs], [c for _, c in ts], **F32)
    assert za == ta == ['daughter', 'queen', 'woman']


# --- 15.8 BERT, with d2l's TransformerEncoderBlock (11.7) ---------------------------------

def get_tokens_and_segments(tokens_a, tokens_b=None):
    """Get tokens of the BERT input sequence and their segment IDs."""
    tokens = ['<cls>'] + tokens_a + ['<sep>']
    # 0 and 1 are marking segment A and B, respectively
    segments = [0] * (len(tokens_a) + 2)
    if tokens_b is not None:
        tokens += tokens_b + ['<sep>']
        segments += [1] * (len(tokens_b) + 1)
    return tokens, segments


def _d2l_attention(lib):
    """Chapter 11's masked_softmax and TransformerEncoderBlock (MultiHeadAttention,
    PositionWiseFFN, AddNorm), which chapter 15 reuses: tests/test_audit_d2l_seq.py writes
    them out as the book does."""
    from test_audit_d2l_seq import _transformer
    from test_audit_d2l_seq import masked_softmax as book_masked_softmax

    def masked_softmax(X, valid_lens):
        return book_masked_softmax(lib, X, valid_lens)
    return masked_softmax, _transformer(lib).TransformerEncoderBlock


def _bert(lib, block="d2l"):
    """15.8's BERTEncoder, MaskLM, NextSentencePred and BERTModel; ``block="torch"`` builds
    the encoder from ``nn.TransformerEncoderLayer`` (batch_first) instead of d2l's block."""
    nn = lib.nn
    _, TransformerEncoderBlock = _d2l_attention(lib)

    class TorchBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
            super().__init__()
            self.layer = nn.TransformerEncoderLayer(num_hiddens, num_heads, ffn_num_hiddens,
                                                    dropout, batch_first=True)

        def forward(self, X, valid_lens):
            mask = lib.arange(X.shape[1])[None, :] >= valid_lens[:, None]
            return self.layer(X, src_key_padding_mask=mask)

    class BERTEncoder(nn.Module):
        """BERT encoder."""
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                     num_blks, dropout, max_len=1000, **kwargs):
            super(BERTEncoder, self).__init__(**kwargs)     # noqa: UP008 (the book's)
            self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
            self.segment_embedding = nn.Embedding(2, num_hiddens)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module(f"{i}", TransformerEncoderBlock(
                    num_hiddens, ffn_num_hiddens, num_heads, dropout, True)
                    if block == "d2l" else TorchBlock(num_hiddens, ffn_num_hiddens,
                                                      num_heads, dropout))
            # In BERT, positional embeddings are learnable, thus we create a
            # parameter of positional embeddings that are long enough
            self.pos_embedding = nn.Parameter(lib.randn(1, max_len, num_hiddens))

        def forward(self, tokens, segments, valid_lens):
            # Shape of `X` remains unchanged in the following code snippet:
            # (batch size, max sequence length, `num_hiddens`)
            X = self.token_embedding(tokens) + self.segment_embedding(segments)
            X = X + self.pos_embedding[:, :X.shape[1], :]
            for blk in self.blks:
                X = blk(X, valid_lens)
            return X

    class MaskLM(nn.Module):
        """The masked language model task of BERT."""
        def __init__(self, vocab_size, num_hiddens, **kwargs):
            super(MaskLM, self).__init__(**kwargs)          # noqa: UP008
            self.mlp = nn.Sequential(nn.LazyLinear(num_hiddens), nn.ReLU(),
                                     nn.LayerNorm(num_hiddens), nn.LazyLinear(vocab_size))

        def forward(self, X, pred_positions):
            num_pred_positions = pred_positions.shape[1]
            pred_positions = pred_positions.reshape(-1)
            batch_size = X.shape[0]
            batch_idx = lib.arange(0, batch_size)
            # Suppose that `batch_size` = 2, `num_pred_positions` = 3, then
            # `batch_idx` is `torch.tensor([0, 0, 0, 1, 1, 1])`
            batch_idx = lib.repeat_interleave(batch_idx, num_pred_positions)
            masked_X = X[batch_idx, pred_positions]
            masked_X = masked_X.reshape((batch_size, num_pred_positions, -1))
            mlm_Y_hat = self.mlp(masked_X)
            return mlm_Y_hat

    class NextSentencePred(nn.Module):
        """The next sentence prediction task of BERT."""
        def __init__(self, **kwargs):
            super(NextSentencePred, self).__init__(**kwargs)    # noqa: UP008
            self.output = nn.LazyLinear(2)

        def forward(self, X):
            # `X` shape: (batch size, `num_hiddens`)
            return self.output(X)

    class BERTModel(nn.Module):
        """The BERT model."""
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout, max_len=1000):
            super(BERTModel, self).__init__()               # noqa: UP008
            self.encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads,
                                       num_blks, dropout, max_len=max_len)
            self.hidden = nn.Sequential(nn.LazyLinear(num_hiddens), nn.Tanh())
            self.mlm = MaskLM(vocab_size, num_hiddens)
            self.nsp = NextSentencePred()

        def forward(self, tokens, segments, valid_lens=None, pred_positions=None):
            encoded_X = self.encoder(tokens, segments, valid_lens)
            if pred_positions is not None:
                mlm_Y_hat = self.mlm(encoded_X, pred_positions)
            else:
                mlm_Y_hat = None
            # The hidden layer of the MLP classifier for next sentence prediction.
            # 0 is the index of the '<cls>' token
            nsp_Y_hat = self.nsp(self.hidden(encoded_X[:, 0, :]))
            return encoded_X, mlm_Y_hat, nsp_Y_hat
    return BERTEncoder, MaskLM, NextSentencePred, BERTModel


def test_15_8_masked_softmax_and_the_encoder_block(f32):
    rng = np.random.default_rng(0)
    scores, X = rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 100, 24))
    res = {}
    for lib in LIBS:
        masked_softmax, TransformerEncoderBlock = _d2l_attention(lib)
        S = lib.tensor(scores, dtype=lib.float32, requires_grad=True)
        with pytest.raises(RuntimeError, match="view of a leaf"):   # X[~mask] = v on S's view
            masked_softmax(S, lib.tensor([2, 3]))
        m1 = masked_softmax(S * 1, lib.tensor([2, 3]))
        m2 = masked_softmax(S * 1, lib.tensor([[1, 3], [2, 4]]))
        (m1 * lib.arange(4.0)).sum().backward()
        lib.manual_seed(1)
        blk = TransformerEncoderBlock(24, 48, 8, 0.5)
        blk.eval()
        Xt = lib.tensor(X, dtype=lib.float32, requires_grad=True)
        blk(Xt, None)                                       # makes the lazy layers
        res[lib] = [m1, m2, S.grad, blk, Xt]
    _copy(res[torch][3], res[zeroin][3])
    for lib in LIBS:
        blk, Xt = res[lib][3:]
        Y = blk(Xt, lib.tensor([3, 2]))
        (Y * Y).sum().backward()
        res[lib][3:] = [Y, Xt.grad] + [p.grad for p in blk.parameters()]
    _same_list(res[zeroin], res[torch], rtol=2e-5, atol=2e-5)


def _bert_inputs(lib):
    tokens = lib.randint(0, 1000, (2, 8))
    segments = lib.tensor([[0, 0, 0, 0, 1, 1, 1, 1], [0, 0, 0, 1, 1, 1, 1, 1]])
    mlm_positions = lib.tensor([[1, 5, 2], [6, 1, 5]])
    return tokens, segments, mlm_positions


@pytest.mark.parametrize("block", ["d2l", "torch"])
def test_15_8_bert_encoder_mask_lm_next_sentence(tstream, block):
    vocab_size, num_hiddens, ffn_num_hiddens, num_heads = 1000, 32, 64, 4
    res = {}
    for lib in LIBS:
        BERTEncoder, MaskLM, NextSentencePred, _ = _bert(lib, block)
        lib.manual_seed(0)
        encoder = BERTEncoder(vocab_size, num_hiddens, ffn_num_hiddens, num_heads, 2, 0.2)
        tokens, segments, mlm_positions = _bert_inputs(lib)
        encoded_X = encoder(tokens, segments, lib.tensor([8, 6]))      # makes the lazy ones
        mlm, nsp = MaskLM(vocab_size, num_hiddens), NextSentencePred()
        mlm(encoded_X, mlm_positions)
        nsp(encoded_X.flatten(start_dim=1))
        res[lib] = [encoder, mlm, nsp, tokens, encoded_X.shape]
    assert tuple(res[zeroin][4]) == tuple(res[torch][4]) == (2, 8, num_hiddens)
    assert res[zeroin][2].output.in_features == res[torch][2].output.in_features == 8 * 32
    for i in range(3):
        _copy(res[torch][i], res[zeroin][i])
    token_ids = _np(res[torch][3])              # torch.randint's draws, for both
    for lib in LIBS:
        encoder, mlm, nsp = res[lib][:3]
        _, segments, mlm_positions = _bert_inputs(lib)
        tokens = lib.tensor(token_ids)
        lib.manual_seed(1)                         # the same dropout masks (train mode)
        encoded_X = encoder(tokens, segments, lib.tensor([8, 6]))
        mlm_Y_hat = mlm(encoded_X, mlm_positions)
        mlm_Y = lib.tensor([[7, 8, 9], [10, 20, 30]])
        loss = lib.nn.CrossEntropyLoss(reduction='none')
        mlm_l = loss(mlm_Y_hat.reshape((-1, vocab_size)), mlm_Y.reshape(-1))
        nsp_Y_hat = nsp(encoded_X.flatten(start_dim=1))
        nsp_l = loss(nsp_Y_hat, lib.tensor([0, 1]))
        (mlm_l.sum() + nsp_l.sum()).backward()
        assert tuple(mlm_Y_hat.shape) == (2, 3, vocab_size) and tuple(nsp_l.shape) == (2,)
        params = [m.named_parameters() for m in (encoder, mlm, nsp)]
        res[lib] = [encoded_X, mlm_Y_hat, mlm_l, nsp_Y_hat, nsp_l] + [
            p.grad for named in params for _, p in named]
    _same_list(res[zeroin], res[torch], rtol=2e-5, atol=2e-5)


# --- 15.9 the pretraining data, 15.10 pretraining BERT ---------------------------------------

def _bert_examples(vocab, n=12, max_len=16, seed=0):
    """(token_ids, pred_positions, mlm_pred_label_ids, segments, is_next) as 15.9's
    _get_nsp_data_from_paragraph and _get_mlm_data_from_paragraph give them."""
    rnd = random.Random(seed)
    words = [w for w in WORDS if w in vocab.token_to_idx]
    examples = []
    for _ in range(n):
        a = rnd.choices(words, k=rnd.randint(2, 5))
        b = rnd.choices(words, k=rnd.randint(2, 5))
        tokens, segments = get_tokens_and_segments(a, b)
        positions = sorted(rnd.sample(range(1, len(tokens) - 1), max(1, round(len(tokens)
                                                                          * 0.15))))
        labels = [vocab[tokens[p]] for p in positions]
        for p in positions:
            tokens[p] = '<mask>'
        examples.append((vocab[tokens], positions, labels, segments, rnd.random() < 0.5))
    return examples


def _pad_bert_inputs(lib, examples, max_len, vocab):
    max_num_mlm_preds = round(max_len * 0.15)
    all_token_ids, all_segments, valid_lens, = [], [], []
    all_pred_positions, all_mlm_weights, all_mlm_labels = [], [], []
    nsp_labels = []
    for (token_ids, pred_positions, mlm_pred_label_ids, segments,
         is_next) in examples:
        all_token_ids.append(lib.tensor(token_ids + [vocab['<pad>']] * (
            max_len - len(token_ids)), dtype=lib.long))
        all_segments.append(lib.tensor(segments + [0] * (
            max_len - len(segments)), dtype=lib.long))
        # `valid_lens` excludes count of '<pad>' tokens
        valid_lens.append(lib.tensor(len(token_ids), dtype=lib.float32))
        all_pred_positions.append(lib.tensor(pred_positions + [0] * (
            max_num_mlm_preds - len(pred_positions)), dtype=lib.long))
        # Predictions of padded tokens will be filtered out in the loss via
        # multiplication of 0 weights
        all_mlm_weights.append(
            lib.tensor([1.0] * len(mlm_pred_label_ids) + [0.0] * (
                max_num_mlm_preds - len(pred_positions)),
                dtype=lib.float32))
        all_mlm_labels.append(lib.tensor(mlm_pred_label_ids + [0] * (
            max_num_mlm_preds - len(mlm_pred_label_ids)), dtype=lib.long))
        nsp_labels.append(lib.tensor(is_next, dtype=lib.long))
    return (all_token_ids, all_segments, valid_lens, all_pred_positions,
            all_mlm_weights, all_mlm_labels, nsp_labels)


def _wiki_iter(lib, examples, max_len, vocab, batch_size):
    class _WikiTextDataset(lib.utils.data.Dataset):
        def __init__(self):
            (self.all_token_ids, self.all_segments, self.valid_lens,
             self.all_pred_positions, self.all_mlm_weights,
             self.all_mlm_labels, self.nsp_labels) = _pad_bert_inputs(
                lib, examples, max_len, vocab)

        def __getitem__(self, idx):
            return (self.all_token_ids[idx], self.all_segments[idx],
                    self.valid_lens[idx], self.all_pred_positions[idx],
                    self.all_mlm_weights[idx], self.all_mlm_labels[idx],
                    self.nsp_labels[idx])

        def __len__(self):
            return len(self.all_token_ids)
    return lib.utils.data.DataLoader(_WikiTextDataset(), batch_size, shuffle=True)


def _get_batch_loss_bert(net, loss, vocab_size, tokens_X, segments_X, valid_lens_x,
                         pred_positions_X, mlm_weights_X, mlm_Y, nsp_y):
    # Forward pass
    _, mlm_Y_hat, nsp_Y_hat = net(tokens_X, segments_X,
                                  valid_lens_x.reshape(-1),
                                  pred_positions_X)
    # Compute masked language model loss
    mlm_l = loss(mlm_Y_hat.reshape(-1, vocab_size), mlm_Y.reshape(-1)) *\
        mlm_weights_X.reshape(-1, 1)
    mlm_l = mlm_l.sum() / (mlm_weights_X.sum() + 1e-8)
    # Compute next sentence prediction loss
    nsp_l = loss(nsp_Y_hat, nsp_y)
    l = mlm_l + nsp_l  # noqa: E741 (the book's name)
    return mlm_l, nsp_l, l


def train_bert(lib, train_iter, net, loss, vocab_size, devices, num_steps):
    """The book's train_bert without the timer and animator: (mlm_l, nsp_l) each step."""
    net(*next(iter(train_iter))[:4])
    net = lib.nn.DataParallel(net, device_ids=devices).to(devices[0])
    trainer = lib.optim.Adam(net.parameters(), lr=0.01)
    step, out = 0, []
    num_steps_reached = False
    while step < num_steps and not num_steps_reached:
        for tokens_X, segments_X, valid_lens_x, pred_positions_X,\
                mlm_weights_X, mlm_Y, nsp_y in train_iter:
            tokens_X = tokens_X.to(devices[0])
            segments_X = segments_X.to(devices[0])
            valid_lens_x = valid_lens_x.to(devices[0])
            pred_positions_X = pred_positions_X.to(devices[0])
            mlm_weights_X = mlm_weights_X.to(devices[0])
            mlm_Y, nsp_y = mlm_Y.to(devices[0]), nsp_y.to(devices[0])
            trainer.zero_grad()
            mlm_l, nsp_l, l = _get_batch_loss_bert(  # noqa: E741 (the book's name)
                net, loss, vocab_size, tokens_X, segments_X, valid_lens_x,
                pred_positions_X, mlm_weights_X, mlm_Y, nsp_y)
            l.backward()
            trainer.step()
            out += [float(mlm_l), float(nsp_l)]
            step += 1
            if step == num_steps:
                num_steps_reached = True
                break
    return out


def test_15_9_and_15_10_pretraining_bert(tstream):
    vocab = Vocab(_corpus(), reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
    max_len, examples = 16, _bert_examples(vocab)
    res, nets = {}, {}
    for lib in LIBS:
        lib.manual_seed(0)
        train_iter = _wiki_iter(lib, examples, max_len, vocab, 4)
        batch = next(iter(train_iter))
        assert [str(b.dtype).split('.')[-1] for b in batch] == \
            ['int64', 'int64', 'float32', 'int64', 'float32', 'int64', 'int64']
        net = _bert(lib)[3](len(vocab), num_hiddens=32, ffn_num_hiddens=64, num_heads=2,
                            num_blks=2, dropout=0.2, max_len=max_len)
        net(*batch[:4])                                     # makes the lazy layers
        nets[lib], res[lib] = net, list(batch)
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        lib.manual_seed(1)
        train_iter = _wiki_iter(lib, examples, max_len, vocab, 4)
        losses = train_bert(lib, train_iter, nets[lib], lib.nn.CrossEntropyLoss(), len(vocab),
                            try_all_gpus(lib), 6)
        nets[lib].eval()
        tokens, segments = get_tokens_and_segments(['a', 'cat', 'sat'], ['the', 'dog'])
        token_ids = lib.tensor(vocab[tokens], device=try_all_gpus(lib)[0]).unsqueeze(0)
        segments = lib.tensor(segments).unsqueeze(0)
        valid_len = lib.tensor(len(tokens)).unsqueeze(0)
        encoded_X, _, _ = nets[lib](token_ids, segments, valid_len)     # get_bert_encoding
        res[lib] += [lib.tensor(losses), encoded_X[:, 0, :], encoded_X[:, 1, :]]
    _same_list(res[zeroin], res[torch], **STEPS)
    assert res[torch][-3][-2] < res[torch][-3][0]       # the MLM loss falls


# --- 16.1 the sentiment data, 16.2 BiRNN, 16.3 textCNN ---------------------------------------

POSITIVE, NEGATIVE = ("good", "fun", "fast", "big"), ("bad", "dull", "slow", "small")


def _imdb(n=32, seed=0):
    """(reviews, labels): 1 where the review has more words of POSITIVE than NEGATIVE."""
    rng = np.random.default_rng(seed)
    reviews, labels = [], []
    for i in range(n):
        words = list(rng.choice(WORDS, size=int(rng.integers(5, 14))))
        words += list(rng.choice(POSITIVE if i % 2 else NEGATIVE, size=2))
        rng.shuffle(words)
        reviews.append(" ".join(words))
        labels.append(int(sum(w in POSITIVE for w in words) > sum(w in NEGATIVE for w in words)))
    return reviews, labels


def load_data_imdb(lib, batch_size, num_steps=12):
    train_data, test_data = _imdb(), _imdb(16, seed=1)
    train_tokens = [line.split() for line in train_data[0]]     # d2l.tokenize(..., 'word')
    test_tokens = [line.split() for line in test_data[0]]
    vocab = Vocab(train_tokens, min_freq=1, reserved_tokens=['<pad>'])
    train_features = lib.tensor([truncate_pad(
        vocab[line], num_steps, vocab['<pad>']) for line in train_tokens])
    test_features = lib.tensor([truncate_pad(
        vocab[line], num_steps, vocab['<pad>']) for line in test_tokens])
    train_iter = load_array(lib, (train_features, lib.tensor(train_data[1])), batch_size)
    test_iter = load_array(lib, (test_features, lib.tensor(test_data[1])), batch_size,
                           is_train=False)
    return train_iter, test_iter, vocab


def _birnn(lib, vocab_size, embed_size, num_hiddens, num_layers):
    nn = lib.nn

    class BiRNN(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens,
                     num_layers, **kwargs):
            super(BiRNN, self).__init__(**kwargs)       # noqa: UP008 (the book's)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            # Set `bidirectional` to True to get a bidirectional RNN
            self.encoder = nn.LSTM(embed_size, num_hiddens, num_layers=num_layers,
                                   bidirectional=True)
            self.decoder = nn.Linear(4 * num_hiddens, 2)

        def forward(self, inputs):
            # The shape of `inputs` is (batch size, no. of time steps). Because
            # LSTM requires its input's first dimension to be the temporal
            # dimension, the input is transposed before obtaining token
            # representations. The output shape is (no. of time steps, batch size,
            # word vector dimension)
            embeddings = self.embedding(inputs.T)
            self.encoder.flatten_parameters()
            # Returns hidden states of the last hidden layer at different time
            # steps. The shape of `outputs` is (no. of time steps, batch size,
            # 2 * no. of hidden units)
            outputs, _ = self.encoder(embeddings)
            # Concatenate the hidden states at the initial and final time steps as
            # the input of the fully connected layer. Its shape is (batch size,
            # 4 * no. of hidden units)
            encoding = lib.cat((outputs[0], outputs[-1]), dim=1)
            outs = self.decoder(encoding)
            return outs

    def init_weights(module):
        if type(module) == nn.Linear:                   # noqa: E721 (the book's test)
            nn.init.xavier_uniform_(module.weight)
        if type(module) == nn.LSTM:                     # noqa: E721
            for param in module._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(module._parameters[param])
    net = BiRNN(vocab_size, embed_size, num_hiddens, num_layers)
    net.apply(init_weights)
    return net


def _text_cnn(lib, vocab_size, embed_size, kernel_sizes, nums_channels):
    nn = lib.nn

    class TextCNN(nn.Module):
        def __init__(self, vocab_size, embed_size, kernel_sizes, num_channels,
                     **kwargs):
            super(TextCNN, self).__init__(**kwargs)     # noqa: UP008 (the book's)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            # The embedding layer not to be trained
            self.constant_embedding = nn.Embedding(vocab_size, embed_size)
            self.dropout = nn.Dropout(0.5)
            self.decoder = nn.Linear(sum(num_channels), 2)
            # The adaptive average pooling layer has no parameters
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.relu = nn.ReLU()
            # Create multiple one-dimensional convolutional layers
            self.convs = nn.ModuleList()
            for c, k in zip(num_channels, kernel_sizes):
                self.convs.append(nn.Conv1d(2 * embed_size, c, k))

        def forward(self, inputs):
            # Concatenate two embedding layer outputs with shape (batch size, no.
            # of tokens, token vector dimension) along vectors
            embeddings = lib.cat((
                self.embedding(inputs), self.constant_embedding(inputs)), dim=2)
            # Per the input format of one-dimensional convolutional layers,
            # rearrange the tensor so that the second dimension stores channels
            embeddings = embeddings.permute(0, 2, 1)
            # For each one-dimensional convolutional layer, after max-over-time
            # pooling, a tensor of shape (batch size, no. of channels, 1) is
            # obtained. Remove the last dimension and concatenate along channels
            encoding = lib.cat([
                lib.squeeze(self.relu(self.pool(conv(embeddings))), dim=-1)
                for conv in self.convs], dim=1)
            outputs = self.decoder(self.dropout(encoding))
            return outputs

    def init_weights(module):
        if type(module) in (nn.Linear, nn.Conv1d):
            nn.init.xavier_uniform_(module.weight)
    net = TextCNN(vocab_size, embed_size, kernel_sizes, nums_channels)
    net.apply(init_weights)
    return net


def predict_sentiment(lib, net, vocab, sequence):
    """Predict the sentiment of a text sequence."""
    sequence = lib.tensor(vocab[sequence.split()], device=try_all_gpus(lib)[0])
    label = lib.argmax(net(sequence.reshape(1, -1)), dim=1)
    return 'positive' if label == 1 else 'negative'


def _sentiment_run(lib, build, tmp_path, frozen):
    """16.2 / 16.3's recipe: the data, the net (torch's weights copied into zeroin's), the
    pretrained embeddings copied in and frozen, train_ch13, predict_sentiment."""
    lib.manual_seed(0)
    train_iter, test_iter, vocab = load_data_imdb(lib, 8)
    net = build(lib, len(vocab))
    if lib is torch:
        _sentiment_run.init = {k: v.clone() for k, v in net.state_dict().items()}
    else:
        _copy_state(_sentiment_run.init, net)
    glove_embedding = _token_embedding(lib)(_vec_txt(tmp_path, dim=8))
    embeds = glove_embedding[vocab.idx_to_token]
    assert tuple(embeds.shape) == (len(vocab), 8)
    for name in frozen:
        getattr(net, name).weight.data.copy_(embeds)
    getattr(net, frozen[-1]).weight.requires_grad = False
    frozen_before = getattr(net, frozen[-1]).weight.detach().clone()
    lr, num_epochs, devices = 0.01, 2, try_all_gpus(lib)
    trainer = lib.optim.Adam(net.parameters(), lr=lr)
    loss = lib.nn.CrossEntropyLoss(reduction="none")
    lib.manual_seed(1)
    out = train_ch13(lib, net, train_iter, test_iter, loss, trainer, num_epochs, devices)
    frozen_after = getattr(net, frozen[-1]).weight.detach()
    assert bool((frozen_after == frozen_before).all())
    assert getattr(net, frozen[-1]).weight.grad is None
    words = [predict_sentiment(lib, net, vocab, s) for s in
             ('this movie is so good fun', 'this movie is so bad dull')]
    return out, [p.detach() for p in net.parameters()], words


def test_16_2_birnn_sentiment(tstream, tmp_path):
    def build(lib, vocab_size):
        return _birnn(lib, vocab_size, 8, 6, 2)
    (t, tp, tw), (z, zp, zw) = (_sentiment_run(lib, build, tmp_path, ["embedding"])
                                for lib in LIBS)
    np.testing.assert_allclose(z, t, **STEPS)
    _same_list(zp, tp, **STEPS)
    assert zw == tw


def test_16_3_corr1d_and_textcnn_sentiment(tstream, tmp_path):
    def corr1d(X, K):
        w = K.shape[0]
        Y = lib.zeros((X.shape[0] - w + 1))
        for i in range(Y.shape[0]):
            Y[i] = (X[i: i + w] * K).sum()
        return Y

    def corr1d_multi_in(X, K):
        # First, iterate through the 0th dimension (channel dimension) of `X` and
        # `K`. Then, add them together
        return sum(corr1d(x, k) for x, k in zip(X, K))
    res = {}
    for lib in LIBS:
        X, K = lib.tensor([0, 1, 2, 3, 4, 5, 6]), lib.tensor([1, 2])
        Xm = lib.tensor([[0, 1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 6, 7, 8]])
        Km = lib.tensor([[1, 2], [3, 4], [-1, -3]])
        res[lib] = [corr1d(X, K), corr1d_multi_in(Xm, Km)]
    _same_list(res[zeroin], res[torch], rtol=0, atol=0)
    np.testing.assert_array_equal(_np(res[zeroin][1]), [2, 8, 14, 20, 26, 32])   # the book's

    def build(lib, vocab_size):
        return _text_cnn(lib, vocab_size, 8, [3, 4, 5], [4, 4, 4])
    (t, tp, tw), (z, zp, zw) = (_sentiment_run(lib, build, tmp_path,
                                               ["embedding", "constant_embedding"])
                                for lib in LIBS)
    np.testing.assert_allclose(z, t, **STEPS)
    _same_list(zp, tp, **STEPS)
    assert zw == tw


# --- 16.4 the SNLI data, 16.5 decomposable attention -------------------------------------------

def _snli(n=24, seed=0):
    """(premises, hypotheses, labels) of the toy NLI data: 0 entailment (the hypothesis is
    the premise's first words), 1 contradiction (a NEGATIVE word where the premise has a
    POSITIVE one), 2 neutral (other words)."""
    rng = np.random.default_rng(seed)
    premises, hypotheses, labels = [], [], []
    for i in range(n):
        p = list(rng.choice(WORDS, size=int(rng.integers(4, 8)))) + [POSITIVE[i % 4]]
        label = i % 3
        h = (p[:3] if label == 0 else [NEGATIVE[i % 4]] + p[1:3] if label == 1 else
             list(rng.choice(WORDS, size=3)))
        premises.append(" ".join(p))
        hypotheses.append(" ".join(h))
        labels.append(label)
    return premises, hypotheses, labels


def _snli_dataset(lib, dataset, num_steps, vocab=None):
    class SNLIDataset(lib.utils.data.Dataset):
        """A customized dataset to load the SNLI dataset."""
        def __init__(self, dataset, num_steps, vocab=None):
            self.num_steps = num_steps
            all_premise_tokens = [line.split() for line in dataset[0]]
            all_hypothesis_tokens = [line.split() for line in dataset[1]]
            if vocab is None:
                self.vocab = Vocab(all_premise_tokens + all_hypothesis_tokens,
                                   min_freq=1, reserved_tokens=['<pad>'])
            else:
                self.vocab = vocab
            self.premises = self._pad(all_premise_tokens)
            self.hypotheses = self._pad(all_hypothesis_tokens)
            self.labels = lib.tensor(dataset[2])

        def _pad(self, lines):
            return lib.tensor([truncate_pad(
                self.vocab[line], self.num_steps, self.vocab['<pad>'])
                for line in lines])

        def __getitem__(self, idx):
            return (self.premises[idx], self.hypotheses[idx]), self.labels[idx]

        def __len__(self):
            return len(self.premises)
    return SNLIDataset(dataset, num_steps, vocab)


def load_data_snli(lib, batch_size, num_steps=10):
    train_set = _snli_dataset(lib, _snli(), num_steps)
    test_set = _snli_dataset(lib, _snli(12, seed=1), num_steps, train_set.vocab)
    train_iter = lib.utils.data.DataLoader(train_set, batch_size, shuffle=True)
    test_iter = lib.utils.data.DataLoader(test_set, batch_size, shuffle=False)
    return train_iter, test_iter, train_set.vocab


def _decomposable_attention(lib, vocab, embed_size, num_hiddens):
    nn, F = lib.nn, lib.nn.functional

    def mlp(num_inputs, num_hiddens, flatten):
        net = []
        net.append(nn.Dropout(0.2))
        net.append(nn.Linear(num_inputs, num_hiddens))
        net.append(nn.ReLU())
        if flatten:
            net.append(nn.Flatten(start_dim=1))
        net.append(nn.Dropout(0.2))
        net.append(nn.Linear(num_hiddens, num_hiddens))
        net.append(nn.ReLU())
        if flatten:
            net.append(nn.Flatten(start_dim=1))
        return nn.Sequential(*net)

    class Attend(nn.Module):
        def __init__(self, num_inputs, num_hiddens, **kwargs):
            super(Attend, self).__init__(**kwargs)      # noqa: UP008 (the book's)
            self.f = mlp(num_inputs, num_hiddens, flatten=False)

        def forward(self, A, B):
            # Shape of `A`/`B`: (`batch_size`, no. of tokens in sequence A/B,
            # `embed_size`)
            f_A = self.f(A)
            f_B = self.f(B)
            # Shape of `e`: (`batch_size`, no. of tokens in sequence A,
            # no. of tokens in sequence B)
            e = lib.bmm(f_A, f_B.permute(0, 2, 1))
            # Shape of `beta`: (`batch_size`, no. of tokens in sequence A,
            # `embed_size`), where sequence B is softly aligned with each token
            # (axis 1 of `beta`) in sequence A
            beta = lib.bmm(F.softmax(e, dim=-1), B)
            # Shape of `alpha`: (`batch_size`, no. of tokens in sequence B,
            # `embed_size`), where sequence A is softly aligned with each token
            # (axis 1 of `alpha`) in sequence B
            alpha = lib.bmm(F.softmax(e.permute(0, 2, 1), dim=-1), A)
            return beta, alpha

    class Compare(nn.Module):
        def __init__(self, num_inputs, num_hiddens, **kwargs):
            super(Compare, self).__init__(**kwargs)     # noqa: UP008
            self.g = mlp(num_inputs, num_hiddens, flatten=False)

        def forward(self, A, B, beta, alpha):
            V_A = self.g(lib.cat([A, beta], dim=2))
            V_B = self.g(lib.cat([B, alpha], dim=2))
            return V_A, V_B

    class Aggregate(nn.Module):
        def __init__(self, num_inputs, num_hiddens, num_outputs, **kwargs):
            super(Aggregate, self).__init__(**kwargs)   # noqa: UP008
            self.h = mlp(num_inputs, num_hiddens, flatten=True)
            self.linear = nn.Linear(num_hiddens, num_outputs)

        def forward(self, V_A, V_B):
            # Sum up both sets of comparison vectors
            V_A = V_A.sum(dim=1)
            V_B = V_B.sum(dim=1)
            # Feed the concatenation of both summarization results into an MLP
            Y_hat = self.linear(self.h(lib.cat([V_A, V_B], dim=1)))
            return Y_hat

    class DecomposableAttention(nn.Module):
        def __init__(self, vocab, embed_size, num_hiddens, num_inputs_attend=100,
                     num_inputs_compare=200, num_inputs_agg=400, **kwargs):
            super(DecomposableAttention, self).__init__(**kwargs)   # noqa: UP008
            self.embedding = nn.Embedding(len(vocab), embed_size)
            self.attend = Attend(num_inputs_attend, num_hiddens)
            self.compare = Compare(num_inputs_compare, num_hiddens)
            # There are 3 possible outputs: entailment, contradiction, and neutral
            self.aggregate = Aggregate(num_inputs_agg, num_hiddens, num_outputs=3)

        def forward(self, X):
            premises, hypotheses = X
            A = self.embedding(premises)
            B = self.embedding(hypotheses)
            beta, alpha = self.attend(A, B)
            V_A, V_B = self.compare(A, B, beta, alpha)
            Y_hat = self.aggregate(V_A, V_B)
            return Y_hat
    return DecomposableAttention(vocab, embed_size, num_hiddens, embed_size,
                                 2 * embed_size, 2 * num_hiddens)


def predict_snli(lib, net, vocab, premise, hypothesis):
    """Predict the logical relationship between the premise and hypothesis."""
    net.eval()
    premise = lib.tensor(vocab[premise], device=try_all_gpus(lib)[0])
    hypothesis = lib.tensor(vocab[hypothesis], device=try_all_gpus(lib)[0])
    label = lib.argmax(net([premise.reshape((1, -1)),
                            hypothesis.reshape((1, -1))]), dim=1)
    return 'entailment' if label == 0 else 'contradiction' if label == 1 \
        else 'neutral'


def test_16_5_decomposable_attention(tstream, tmp_path):
    init, res = {}, {}
    for lib in LIBS:
        lib.manual_seed(0)
        train_iter, test_iter, vocab = load_data_snli(lib, 8)
        (premises, hypotheses), _ = next(iter(train_iter))
        assert tuple(premises.shape) == tuple(hypotheses.shape) == (8, 10)
        embed_size, num_hiddens, devices = 8, 12, try_all_gpus(lib)
        net = _decomposable_attention(lib, vocab, embed_size, num_hiddens)
        glove_embedding = _token_embedding(lib)(_vec_txt(tmp_path, dim=8))
        embeds = glove_embedding[vocab.idx_to_token]
        net.embedding.weight.data.copy_(embeds)
        if lib is torch:
            init = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            _copy_state(init, net)
        lr, num_epochs = 0.001, 2
        trainer = lib.optim.Adam(net.parameters(), lr=lr)
        loss = lib.nn.CrossEntropyLoss(reduction="none")
        lib.manual_seed(1)
        out = train_ch13(lib, net, train_iter, test_iter, loss, trainer, num_epochs, devices)
        pred = predict_snli(lib, net, vocab, ['a', 'cat', 'sat', 'good'], ['bad', 'cat'])
        res[lib] = [out, [p.detach() for p in net.parameters()], pred]
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **STEPS)
    _same_list(res[zeroin][1], res[torch][1], **STEPS)
    assert res[zeroin][2] == res[torch][2]


def _copy_state(state, net):
    """A state dict of torch tensors (copied before training) into a zeroin net."""
    net.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in state.items()})


# --- 16.6 / 16.7 fine-tuning BERT for natural language inference ----------------------------

def _snli_bert_dataset(lib, dataset, max_len, vocab):
    class SNLIBERTDataset(lib.utils.data.Dataset):
        def __init__(self, dataset, max_len, vocab=None):
            all_premise_hypothesis_tokens = [[
                p_tokens, h_tokens] for p_tokens, h_tokens in zip(
                *[[s.lower().split() for s in sentences] for sentences in dataset[:2]])]
            self.labels = lib.tensor(dataset[2])
            self.vocab = vocab
            self.max_len = max_len
            (self.all_token_ids, self.all_segments,
             self.valid_lens) = self._preprocess(all_premise_hypothesis_tokens)

        def _preprocess(self, all_premise_hypothesis_tokens):
            out = list(map(self._mp_worker, all_premise_hypothesis_tokens))  # (no Pool)
            all_token_ids = [
                token_ids for token_ids, segments, valid_len in out]
            all_segments = [segments for token_ids, segments, valid_len in out]
            valid_lens = [valid_len for token_ids, segments, valid_len in out]
            return (lib.tensor(all_token_ids, dtype=lib.long),
                    lib.tensor(all_segments, dtype=lib.long),
                    lib.tensor(valid_lens))

        def _mp_worker(self, premise_hypothesis_tokens):
            p_tokens, h_tokens = premise_hypothesis_tokens
            self._truncate_pair_of_tokens(p_tokens, h_tokens)
            tokens, segments = get_tokens_and_segments(p_tokens, h_tokens)
            token_ids = self.vocab[tokens] + [self.vocab['<pad>']] \
                * (self.max_len - len(tokens))
            segments = segments + [0] * (self.max_len - len(segments))
            valid_len = len(tokens)
            return token_ids, segments, valid_len

        def _truncate_pair_of_tokens(self, p_tokens, h_tokens):
            # Reserve slots for '<CLS>', '<SEP>', and '<SEP>' tokens for the BERT
            # input
            while len(p_tokens) + len(h_tokens) > self.max_len - 3:
                if len(p_tokens) > len(h_tokens):
                    p_tokens.pop()
                else:
                    h_tokens.pop()

        def __getitem__(self, idx):
            return (self.all_token_ids[idx], self.all_segments[idx],
                    self.valid_lens[idx]), self.labels[idx]

        def __len__(self):
            return len(self.all_token_ids)
    return SNLIBERTDataset(dataset, max_len, vocab)


def _bert_classifier(lib, bert):
    nn = lib.nn

    class BERTClassifier(nn.Module):
        def __init__(self, bert):
            super(BERTClassifier, self).__init__()     # noqa: UP008 (the book's)
            self.encoder = bert.encoder
            self.hidden = bert.hidden
            self.output = nn.Linear(256, 3)

        def forward(self, inputs):
            tokens_X, segments_X, valid_lens_x = inputs
            encoded_X = self.encoder(tokens_X, segments_X, valid_lens_x)
            return self.output(self.hidden(encoded_X[:, 0, :]))
    return BERTClassifier(bert)


def test_16_7_fine_tuning_bert_with_frozen_layers(tstream):
    vocab = Vocab(_corpus(), reserved_tokens=['<pad>', '<mask>', '<cls>', '<sep>'])
    max_len, init, res = 16, {}, {}
    for lib in LIBS:
        lib.manual_seed(0)
        bert = _bert(lib)[3](len(vocab), num_hiddens=256, ffn_num_hiddens=64, num_heads=4,
                             num_blks=2, dropout=0.1, max_len=max_len)
        train_set = _snli_bert_dataset(lib, _snli(16), max_len, vocab)
        test_set = _snli_bert_dataset(lib, _snli(8, seed=1), max_len, vocab)
        assert train_set.valid_lens.dtype == lib.int64
        train_iter = lib.utils.data.DataLoader(train_set, 8, shuffle=True)
        test_iter = lib.utils.data.DataLoader(test_set, 8)
        bert(*next(iter(train_iter))[0], lib.tensor([[1, 2]] * 8))     # the lazy layers
        net = _bert_classifier(lib, bert)
        if lib is torch:
            init = {k: v.clone() for k, v in net.state_dict().items()}
        else:
            _copy_state(init, net)
        # freeze the embeddings and the first block: only the rest is fine-tuned
        for name, param in net.named_parameters():
            if name.startswith(('encoder.token_embedding', 'encoder.segment_embedding',
                                'encoder.pos_embedding', 'encoder.blks.0')):
                param.requires_grad = False
        frozen = [p.detach().clone() for p in net.parameters() if not p.requires_grad]
        assert len(frozen) == 3 + 16        # 3 embeddings, block 0's 16 tensors
        lr, num_epochs = 1e-4, 2
        trainer = lib.optim.Adam(net.parameters(), lr=lr)
        loss = lib.nn.CrossEntropyLoss(reduction='none')
        lib.manual_seed(1)
        out = train_ch13(lib, net, train_iter, test_iter, loss, trainer, num_epochs,
                         try_all_gpus(lib))
        still = [p.detach() for p in net.parameters() if not p.requires_grad]
        assert all(bool((a == b).all()) for a, b in zip(frozen, still))
        assert all(p.grad is None for p in net.parameters() if not p.requires_grad)
        res[lib] = [out, [p.detach() for p in net.parameters()]]
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **STEPS)
    # W_k's bias adds q.b to a query's every score, which softmax ignores: its gradient is
    # float32 noise (zero in exact arithmetic), which Adam scales up to steps of lr
    names = list(init)
    k_bias = names.index('encoder.blks.1.attention.W_k.bias')
    _same_list([p for i, p in enumerate(res[zeroin][1]) if i != k_bias],
               [p for i, p in enumerate(res[torch][1]) if i != k_bias], **STEPS)
    changed = [not np.array_equal(_np(p), init[k].numpy()) for k, p in
               zip(init, res[torch][1], strict=True)]
    assert sum(changed) == len(changed) - 19
