"""Audit against Sebastian Raschka's "Build a Large Language Model (From Scratch)"
(rasbt/LLMs-from-scratch): appendix A, chapters 2-5 and the plain-PyTorch parts of chapters
6 and 7, as a learner ports them (``import zeroin as torch``, ``import zeroin.nn as nn``,
``from zeroin.utils.data import Dataset, DataLoader``). The book's code is written once and
run with ``torch`` and with ``zeroin`` on a short text written here, tokenized by the book's
own SimpleTokenizerV2 (tiktoken is not needed), with the same weights (copied from torch's
model), compared to float resolution in float32. See docs/llmfs.md."""
import functools
import re

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
from zeroin.utils import data as zdata
from _audit import close, copy_weights, np_of as _np, torch_stream

torch = pytest.importorskip("torch")
import torch.utils.data as tdata  # noqa: E402

LIBS = {"torch": (torch, torch.nn, tdata), "zeroin": (zeroin, znn, zdata)}
F32 = dict(rtol=2e-5, atol=2e-6)


@pytest.fixture(autouse=True)
def _restore():
    yield
    zeroin.random.use_torch_stream(False)




def _close(z, t, **tol):
    close(z, t, **(tol or F32))


# --- appendix A ------------------------------------------------------------------------------

def test_appendix_a_tensors(f32):
    out = {}
    for name, (torch, nn, _) in LIBS.items():
        tensor2d = torch.tensor([[1., 2.], [3., 4.]])
        assert tensor2d.dtype == torch.float32
        tensor1d = torch.tensor([1, 2, 3])
        assert tensor1d.dtype == torch.int64
        floatvec = tensor1d.to(torch.float32)
        assert floatvec.dtype == torch.float32
        t = torch.tensor([[1, 2, 3], [4, 5, 6]])
        assert t.shape == torch.Size([2, 3])
        out[name] = [t.reshape(3, 2), t.view(3, 2), t.T, t.matmul(t.T), t @ t.T, floatvec]
    for z, t in zip(out["zeroin"], out["torch"]):
        np.testing.assert_array_equal(_np(z), _np(t))
        assert _np(z).dtype == _np(t).dtype


def _autograd_a(torch):
    import importlib
    F = torch.nn.functional
    grad = importlib.import_module(torch.__name__ + ".autograd").grad
    y = torch.tensor([1.0])
    x1 = torch.tensor([1.1])
    w1 = torch.tensor([2.2], requires_grad=True)
    b = torch.tensor([0.0], requires_grad=True)
    z = x1 * w1 + b
    a = torch.sigmoid(z)
    loss = F.binary_cross_entropy(a, y)
    grad_L_w1 = grad(loss, w1, retain_graph=True)
    grad_L_b = grad(loss, b, retain_graph=True)
    loss.backward()
    return grad_L_w1[0], grad_L_b[0], w1.grad, b.grad, loss


def test_appendix_a_autograd(f32):
    tz, tt = _autograd_a(zeroin), _autograd_a(torch)
    for z, t in zip(tz, tt):
        _close(z, t)
    _close(tz[0], tz[2], rtol=0, atol=0)


def _neural_network(torch, nn):
    class NeuralNetwork(torch.nn.Module):
        def __init__(self, num_inputs, num_outputs):
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(num_inputs, 30),
                torch.nn.ReLU(),
                torch.nn.Linear(30, 20),
                torch.nn.ReLU(),
                torch.nn.Linear(20, num_outputs),
            )

        def forward(self, x):
            logits = self.layers(x)
            return logits
    return NeuralNetwork


def _toy_data(torch):
    X_train = torch.tensor([[-1.2, 3.1], [-0.9, 2.9], [-0.5, 2.6], [2.3, -1.1], [2.7, -1.5]])
    y_train = torch.tensor([0, 0, 0, 1, 1])
    X_test = torch.tensor([[-0.8, 2.8], [2.6, -1.6]])
    y_test = torch.tensor([0, 1])
    return X_train, y_train, X_test, y_test


def _toy_dataset(Dataset):
    class ToyDataset(Dataset):
        def __init__(self, X, y):
            self.features = X
            self.labels = y

        def __getitem__(self, index):
            one_x = self.features[index]
            one_y = self.labels[index]
            return one_x, one_y

        def __len__(self):
            return self.labels.shape[0]
    return ToyDataset


def compute_accuracy(torch, model, dataloader):
    model = model.eval()
    correct = 0.0
    total_examples = 0
    for idx, (features, labels) in enumerate(dataloader):
        with torch.no_grad():
            logits = model(features)
        predictions = torch.argmax(logits, dim=1)
        compare = labels == predictions
        correct += torch.sum(compare)
        total_examples += len(compare)
    return (correct / total_examples).item()


def _train_appendix_a(lib, shuffle, tmodel=None):
    torch, nn, data = lib
    F = torch.nn.functional
    torch.manual_seed(123)
    X_train, y_train, X_test, y_test = _toy_data(torch)
    ToyDataset = _toy_dataset(data.Dataset)
    train_ds, test_ds = ToyDataset(X_train, y_train), ToyDataset(X_test, y_test)
    train_loader = data.DataLoader(dataset=train_ds, batch_size=2, shuffle=shuffle,
                                   num_workers=0, drop_last=True)
    test_loader = data.DataLoader(dataset=test_ds, batch_size=2, shuffle=False, num_workers=0)
    torch.manual_seed(123)
    model = _neural_network(torch, nn)(num_inputs=2, num_outputs=2)
    if tmodel is not None:
        copy_weights(tmodel, model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for epoch in range(3):
        model.train()
        for batch_idx, (features, labels) in enumerate(train_loader):
            logits = model(features)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        model.eval()
    return model, losses, (compute_accuracy(torch, model, train_loader),
                           compute_accuracy(torch, model, test_loader))


def _check_training(z, t):
    (zm, zl, zacc), (tm, tl, tacc) = z, t
    _close(zl, tl)
    assert zacc == tacc
    num_params = sum(p.numel() for p in zm.parameters() if p.requires_grad)
    assert num_params == 752 == sum(p.numel() for p in tm.parameters() if p.requires_grad)
    for n, p in zm.state_dict().items():
        _close(p, tm.state_dict()[n])


def test_appendix_a_training_loop(f32):
    """The book's loop, with shuffle=False and torch's initial weights copied."""
    torch.manual_seed(123)
    t0 = _neural_network(torch, torch.nn)(2, 2)
    z = _train_appendix_a(LIBS["zeroin"], False, t0)
    _check_training(z, _train_appendix_a(LIBS["torch"], False))


def test_appendix_a_on_the_torch_stream(f32):
    """On the torch stream, torch.manual_seed(123) gives the book's weights and
    DataLoader(shuffle=True) its batches: the same losses with nothing copied."""
    torch_stream()
    z = _train_appendix_a(LIBS["zeroin"], True)
    _check_training(z, _train_appendix_a(LIBS["torch"], True))


def test_appendix_a_save_load_and_devices(f32, tmp_path):
    torch.manual_seed(123)
    t0 = _neural_network(torch, torch.nn)(2, 2)
    x = torch.tensor([[-0.8, 2.8], [2.6, -1.6]])
    for name, (lib, nn, _) in LIBS.items():
        model = _neural_network(lib, nn)(2, 2)
        model = t0 if lib is torch else copy_weights(t0, model)
        path = str(tmp_path / f"{name}.pth")
        lib.save(model.state_dict(), path)
        model2 = _neural_network(lib, nn)(2, 2)
        model2.load_state_dict(lib.load(path, weights_only=True))
        device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
        assert str(device) == "cpu"
        assert lib.backends.mps.is_available() is False
        model2 = model2.to(device)
        features = lib.tensor(x.numpy()).to(device)
        _close(model2(features), t0(x))


# --- chapter 2: tokenizing, sliding windows, embeddings --------------------------------------

TEXT = ("I HAD always thought Jack Gisburn rather a cheap genius--though a good fellow enough"
        "--so it was no great surprise to me to hear that, in the height of his glory, he "
        "had dropped his painting, married a rich widow, and established himself in a villa "
        "on the Riviera. (Though I rather thought it would have been Rome or Florence.) "
        '"The height of his glory"--that was what the women called it. I can hear Mrs. '
        'Gideon Thwing--his last Chicago sitter--deploring his unaccountable abdication. '
        '"Of course it\'s going to send the value of my picture \'way up; but I don\'t '
        'think of that, Mr. Rickham--the loss to Arrollo is all I think of." ')
SPLIT = r'([,.:;?_!"()\']|--|\s)'


class SimpleTokenizerV2:
    def __init__(self, vocab):
        self.str_to_int = vocab
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text):
        preprocessed = re.split(SPLIT, text)
        preprocessed = [item.strip() for item in preprocessed if item.strip()]
        preprocessed = [item if item in self.str_to_int else "<|unk|>" for item in preprocessed]
        ids = [self.str_to_int[s] for s in preprocessed]
        return ids

    def decode(self, ids):
        text = " ".join([self.int_to_str[i] for i in ids])
        text = re.sub(r'\s+([,.:;?!"()\'])', r'\1', text)
        return text


def _vocab():
    preprocessed = re.split(SPLIT, TEXT)
    preprocessed = [item.strip() for item in preprocessed if item.strip()]
    all_tokens = sorted(list(set(preprocessed)))
    all_tokens.extend(["<|endoftext|>", "<|unk|>"])
    return {token: integer for integer, token in enumerate(all_tokens)}


VOCAB = _vocab()
TOKENIZER = SimpleTokenizerV2(VOCAB)
EOT = VOCAB["<|endoftext|>"]


def test_tokenizer():
    ids = TOKENIZER.encode("Hello, do you like tea? <|endoftext|> In the sunlit terraces")
    assert ids[0] == VOCAB["<|unk|>"] and ids[1] == VOCAB[","]
    assert TOKENIZER.decode(TOKENIZER.encode("I think of that, Mr. Rickham.")) == \
        "I think of that, Mr. Rickham."


def _gpt_dataset(torch, Dataset):
    class GPTDatasetV1(Dataset):
        def __init__(self, txt, tokenizer, max_length, stride):
            self.input_ids = []
            self.target_ids = []
            token_ids = tokenizer.encode(txt)
            for i in range(0, len(token_ids) - max_length, stride):
                input_chunk = token_ids[i:i + max_length]
                target_chunk = token_ids[i + 1: i + max_length + 1]
                self.input_ids.append(torch.tensor(input_chunk))
                self.target_ids.append(torch.tensor(target_chunk))

        def __len__(self):
            return len(self.input_ids)

        def __getitem__(self, idx):
            return self.input_ids[idx], self.target_ids[idx]
    return GPTDatasetV1


def create_dataloader_v1(lib, txt, batch_size=4, max_length=256, stride=128, shuffle=True,
                         drop_last=True, num_workers=0):
    torch, _, data = lib
    dataset = _gpt_dataset(torch, data.Dataset)(txt, TOKENIZER, max_length, stride)
    dataloader = data.DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                                 drop_last=drop_last, num_workers=num_workers)
    return dataloader


def test_chapter2_embedding_is_a_lookup(f32):
    """The small Embedding(6, 3) example and the bonus notebook's one-hot @ Linear."""
    torch_stream()
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        input_ids = lib.tensor([2, 3, 5, 1])
        lib.manual_seed(123)
        embedding_layer = lib.nn.Embedding(6, 3)
        onehot = lib.nn.functional.one_hot(input_ids)
        linear = lib.nn.Linear(6, 3, bias=False)
        linear.weight = lib.nn.Parameter(embedding_layer.weight.T)
        out[name] = (embedding_layer.weight, embedding_layer(lib.tensor([3])),
                     embedding_layer(input_ids), onehot, linear(onehot.float()))
    for z, t in zip(out["zeroin"], out["torch"]):
        _close(z, t)
    _close(out["zeroin"][2], out["zeroin"][4], rtol=0, atol=0)


def test_chapter2_dataloader_and_embeddings(f32):
    torch_stream()
    out = {}
    for name, lib in LIBS.items():
        torch, nn, _ = lib
        torch.manual_seed(123)
        dataloader = create_dataloader_v1(lib, TEXT, batch_size=8, max_length=4, stride=4,
                                          shuffle=True)
        data_iter = iter(dataloader)
        inputs, targets = next(data_iter)
        assert inputs.shape == torch.Size([8, 4]) and inputs.dtype == torch.int64
        vocab_size, output_dim, context_length = len(VOCAB), 16, 4
        token_embedding_layer = torch.nn.Embedding(vocab_size, output_dim)
        token_embeddings = token_embedding_layer(inputs)
        pos_embedding_layer = torch.nn.Embedding(context_length, output_dim)
        pos_embeddings = pos_embedding_layer(torch.arange(context_length))
        input_embeddings = token_embeddings + pos_embeddings
        assert input_embeddings.shape == torch.Size([8, 4, 16])
        out[name] = (inputs, targets, next(data_iter)[0], input_embeddings, len(dataloader))
    for z, t in zip(out["zeroin"], out["torch"]):
        np.testing.assert_array_equal(_np(z), _np(t))


# --- chapter 3: attention --------------------------------------------------------------------

INPUTS = [[0.43, 0.15, 0.89], [0.55, 0.87, 0.66], [0.57, 0.85, 0.64],
          [0.22, 0.58, 0.33], [0.77, 0.25, 0.10], [0.05, 0.80, 0.55]]


def _simplified_attention(torch):
    inputs = torch.tensor(INPUTS)
    query = inputs[1]
    attn_scores_2 = torch.empty(inputs.shape[0])
    for i, x_i in enumerate(inputs):
        attn_scores_2[i] = torch.dot(x_i, query)
    attn_weights_2_tmp = attn_scores_2 / attn_scores_2.sum()

    def softmax_naive(x):
        return torch.exp(x) / torch.exp(x).sum(dim=0)
    attn_weights_2_naive = softmax_naive(attn_scores_2)
    attn_weights_2 = torch.softmax(attn_scores_2, dim=0)
    context_vec_2 = torch.zeros(query.shape)
    for i, x_i in enumerate(inputs):
        context_vec_2 += attn_weights_2[i] * x_i
    attn_scores = torch.empty(6, 6)
    for i, x_i in enumerate(inputs):
        for j, x_j in enumerate(inputs):
            attn_scores[i, j] = torch.dot(x_i, x_j)
    attn_scores2 = inputs @ inputs.T
    attn_weights = torch.softmax(attn_scores2, dim=-1)
    row_sums = attn_weights.sum(dim=-1)
    all_context_vecs = attn_weights @ inputs
    return (attn_scores_2, attn_weights_2_tmp, attn_weights_2_naive, attn_weights_2,
            context_vec_2, attn_scores, attn_scores2, attn_weights, row_sums, all_context_vecs)


def test_chapter3_simplified_attention(f32):
    for z, t in zip(_simplified_attention(zeroin), _simplified_attention(torch)):
        _close(z, t)


def _self_attention(torch, nn):
    class SelfAttention_v1(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.W_query = nn.Parameter(torch.rand(d_in, d_out))
            self.W_key = nn.Parameter(torch.rand(d_in, d_out))
            self.W_value = nn.Parameter(torch.rand(d_in, d_out))

        def forward(self, x):
            keys = x @ self.W_key
            queries = x @ self.W_query
            values = x @ self.W_value
            attn_scores = queries @ keys.T
            attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
            context_vec = attn_weights @ values
            return context_vec

    class SelfAttention_v2(nn.Module):
        def __init__(self, d_in, d_out, qkv_bias=False):
            super().__init__()
            self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)

        def forward(self, x):
            keys = self.W_key(x)
            queries = self.W_query(x)
            values = self.W_value(x)
            attn_scores = queries @ keys.T
            attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
            context_vec = attn_weights @ values
            return context_vec
    return SelfAttention_v1, SelfAttention_v2


def _causal_masks(torch, sa_v2, inputs):
    queries = sa_v2.W_query(inputs)
    keys = sa_v2.W_key(inputs)
    attn_scores = queries @ keys.T
    attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
    context_length = attn_scores.shape[0]
    mask_simple = torch.tril(torch.ones(context_length, context_length))
    masked_simple = attn_weights * mask_simple
    row_sums = masked_simple.sum(dim=-1, keepdim=True)
    masked_simple_norm = masked_simple / row_sums
    mask = torch.triu(torch.ones(context_length, context_length), diagonal=1)
    masked = attn_scores.masked_fill(mask.bool(), -torch.inf)
    attn_weights2 = torch.softmax(masked / keys.shape[-1]**0.5, dim=1)
    return masked_simple_norm, masked, attn_weights2


def _weights_by_hand(torch, inputs):
    x_2 = inputs[1]
    d_in = inputs.shape[1]
    d_out = 2
    torch.manual_seed(123)
    W_query = torch.nn.Parameter(torch.rand(d_in, d_out), requires_grad=False)
    W_key = torch.nn.Parameter(torch.rand(d_in, d_out), requires_grad=False)
    W_value = torch.nn.Parameter(torch.rand(d_in, d_out), requires_grad=False)
    assert not W_query.requires_grad and isinstance(W_query, torch.nn.Parameter)
    query_2 = x_2 @ W_query
    keys = inputs @ W_key
    values = inputs @ W_value
    keys_2 = keys[1]
    attn_score_22 = query_2.dot(keys_2)
    attn_scores_2 = query_2 @ keys.T
    d_k = keys.shape[-1]
    attn_weights_2 = torch.softmax(attn_scores_2 / d_k**0.5, dim=-1)
    context_vec_2 = attn_weights_2 @ values
    return W_query, attn_score_22, attn_scores_2, attn_weights_2, context_vec_2


def test_chapter3_self_attention_and_masks(f32):
    torch_stream()
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        inputs = lib.tensor(INPUTS)
        v1, v2 = _self_attention(lib, nn)
        lib.manual_seed(123)
        sa_v1 = v1(3, 2)
        first_v1 = sa_v1(inputs)
        lib.manual_seed(789)
        sa_v2 = v2(3, 2)
        sa_v1.W_query.data = sa_v2.W_query.weight.T
        sa_v1.W_key.data = sa_v2.W_key.weight.T
        sa_v1.W_value.data = sa_v2.W_value.weight.T
        out[name] = (first_v1, sa_v2(inputs), sa_v1(inputs)) + \
            _causal_masks(lib, sa_v2, inputs) + _weights_by_hand(lib, inputs)
    for z, t in zip(out["zeroin"], out["torch"]):
        _close(z, t)
    assert np.isneginf(_np(out["zeroin"][4])[0, 1])
    _close(out["zeroin"][1], out["zeroin"][2])


def test_chapter3_dropout_scaling(f32):
    torch_stream()
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        lib.manual_seed(123)
        dropout = lib.nn.Dropout(0.5)
        example = lib.ones(6, 6)
        out[name] = dropout(example)
    np.testing.assert_array_equal(_np(out["zeroin"]), _np(out["torch"]))
    assert set(np.unique(_np(out["zeroin"]))) == {0.0, 2.0}


def _attention_classes(torch, nn):
    class CausalAttention(nn.Module):
        def __init__(self, d_in, d_out, context_length, dropout, qkv_bias=False):
            super().__init__()
            self.d_out = d_out
            self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer(
                "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

        def forward(self, x):
            b, num_tokens, d_in = x.shape
            keys = self.W_key(x)
            queries = self.W_query(x)
            values = self.W_value(x)
            attn_scores = queries @ keys.transpose(1, 2)
            attn_scores.masked_fill_(self.mask.bool()[:num_tokens, :num_tokens], -torch.inf)
            attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
            attn_weights = self.dropout(attn_weights)
            context_vec = attn_weights @ values
            return context_vec

    class MultiHeadAttentionWrapper(nn.Module):
        def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
            super().__init__()
            self.heads = nn.ModuleList(
                [CausalAttention(d_in, d_out, context_length, dropout, qkv_bias)
                 for _ in range(num_heads)])

        def forward(self, x):
            return torch.cat([head(x) for head in self.heads], dim=-1)

    class MultiHeadAttention(nn.Module):
        def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False):
            super().__init__()
            assert (d_out % num_heads == 0), "d_out must be divisible by num_heads"
            self.d_out = d_out
            self.num_heads = num_heads
            self.head_dim = d_out // num_heads
            self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
            self.out_proj = nn.Linear(d_out, d_out)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer(
                "mask", torch.triu(torch.ones(context_length, context_length), diagonal=1))

        def forward(self, x):
            b, num_tokens, d_in = x.shape
            keys = self.W_key(x)
            queries = self.W_query(x)
            values = self.W_value(x)
            keys = keys.view(b, num_tokens, self.num_heads, self.head_dim)
            values = values.view(b, num_tokens, self.num_heads, self.head_dim)
            queries = queries.view(b, num_tokens, self.num_heads, self.head_dim)
            keys = keys.transpose(1, 2)
            queries = queries.transpose(1, 2)
            values = values.transpose(1, 2)
            attn_scores = queries @ keys.transpose(2, 3)
            mask_bool = self.mask.bool()[:num_tokens, :num_tokens]
            attn_scores.masked_fill_(mask_bool, -torch.inf)
            attn_weights = torch.softmax(attn_scores / keys.shape[-1]**0.5, dim=-1)
            attn_weights = self.dropout(attn_weights)
            context_vec = (attn_weights @ values).transpose(1, 2)
            context_vec = context_vec.contiguous().view(b, num_tokens, self.d_out)
            context_vec = self.out_proj(context_vec)
            return context_vec
    return CausalAttention, MultiHeadAttentionWrapper, MultiHeadAttention


def _attention_run(lib):
    torch, nn, _ = lib
    CA, MHAW, MHA = _attention_classes(torch, nn)
    inputs = torch.tensor(INPUTS)
    batch = torch.stack((inputs, inputs), dim=0)
    assert batch.shape == torch.Size([2, 6, 3])
    torch.manual_seed(123)
    ca = CA(3, 2, batch.shape[1], 0.0)
    torch.manual_seed(123)
    mhaw = MHAW(3, 2, batch.shape[1], 0.0, num_heads=2)
    torch.manual_seed(123)
    mha = MHA(3, 2, batch.shape[1], 0.0, num_heads=2)
    a = torch.tensor([[[[0.2745, 0.6584, 0.2775, 0.8573], [0.8993, 0.0390, 0.9268, 0.7388],
                        [0.7179, 0.7058, 0.9156, 0.4340]],
                       [[0.0772, 0.3565, 0.1479, 0.5331], [0.4066, 0.2318, 0.4545, 0.9737],
                        [0.4606, 0.5159, 0.4220, 0.5786]]]])
    first_head = a[0, 0, :, :]
    first_res = first_head @ first_head.T
    mha.train()
    context_vecs = mha(batch)
    context_vecs.sum().backward()
    grads = [p.grad for p in mha.parameters()]
    return (ca(batch), mhaw(batch), context_vecs, a @ a.transpose(2, 3), first_res,
            *grads), (ca, mhaw, mha)


def test_chapter3_multi_head_attention(f32):
    torch_stream()
    (zo, zm), (to, tm) = _attention_run(LIBS["zeroin"]), _attention_run(LIBS["torch"])
    for z, t in zip(zo, to):
        _close(z, t)
    for z, t in zip(zm, tm):
        assert list(z.state_dict()) == list(t.state_dict())
        for k, v in z.state_dict().items():
            np.testing.assert_array_equal(_np(v), _np(t.state_dict()[k]))


# --- chapter 4: the GPT model ----------------------------------------------------------------

CFG = {"vocab_size": len(VOCAB), "context_length": 8, "emb_dim": 12, "n_heads": 3,
       "n_layers": 2, "drop_rate": 0.1, "qkv_bias": False}


def _gpt_classes(torch, nn):
    MultiHeadAttention = _attention_classes(torch, nn)[2]

    class LayerNorm(nn.Module):
        def __init__(self, emb_dim):
            super().__init__()
            self.eps = 1e-5
            self.scale = nn.Parameter(torch.ones(emb_dim))
            self.shift = nn.Parameter(torch.zeros(emb_dim))

        def forward(self, x):
            mean = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, keepdim=True, unbiased=False)
            norm_x = (x - mean) / torch.sqrt(var + self.eps)
            return self.scale * norm_x + self.shift

    class GELU(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, x):
            return 0.5 * x * (1 + torch.tanh(
                torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))

    class FeedForward(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.layers = nn.Sequential(
                nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
                GELU(),
                nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
            )

        def forward(self, x):
            return self.layers(x)

    class TransformerBlock(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.att = MultiHeadAttention(
                d_in=cfg["emb_dim"], d_out=cfg["emb_dim"], context_length=cfg["context_length"],
                num_heads=cfg["n_heads"], dropout=cfg["drop_rate"], qkv_bias=cfg["qkv_bias"])
            self.ff = FeedForward(cfg)
            self.norm1 = LayerNorm(cfg["emb_dim"])
            self.norm2 = LayerNorm(cfg["emb_dim"])
            self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

        def forward(self, x):
            shortcut = x
            x = self.norm1(x)
            x = self.att(x)
            x = self.drop_shortcut(x)
            x = x + shortcut
            shortcut = x
            x = self.norm2(x)
            x = self.ff(x)
            x = self.drop_shortcut(x)
            x = x + shortcut
            return x

    class GPTModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
            self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
            self.drop_emb = nn.Dropout(cfg["drop_rate"])
            self.trf_blocks = nn.Sequential(
                *[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
            self.final_norm = LayerNorm(cfg["emb_dim"])
            self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

        def forward(self, in_idx):
            batch_size, seq_len = in_idx.shape
            tok_embeds = self.tok_emb(in_idx)
            pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))
            x = tok_embeds + pos_embeds
            x = self.drop_emb(x)
            x = self.trf_blocks(x)
            x = self.final_norm(x)
            logits = self.out_head(x)
            return logits
    return LayerNorm, GELU, FeedForward, TransformerBlock, GPTModel


def _dummy_gpt(torch, nn):
    class DummyTransformerBlock(nn.Module):
        def __init__(self, cfg):
            super().__init__()

        def forward(self, x):
            return x

    class DummyLayerNorm(nn.Module):
        def __init__(self, normalized_shape, eps=1e-5):
            super().__init__()

        def forward(self, x):
            return x

    class DummyGPTModel(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
            self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
            self.drop_emb = nn.Dropout(cfg["drop_rate"])
            self.trf_blocks = nn.Sequential(
                *[DummyTransformerBlock(cfg) for _ in range(cfg["n_layers"])])
            self.final_norm = DummyLayerNorm(cfg["emb_dim"])
            self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

        def forward(self, in_idx):
            batch_size, seq_len = in_idx.shape
            tok_embeds = self.tok_emb(in_idx)
            pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))
            x = self.drop_emb(tok_embeds + pos_embeds)
            x = self.trf_blocks(x)
            x = self.final_norm(x)
            return self.out_head(x)
    return DummyGPTModel


def _batch(torch):
    txt1, txt2 = "I HAD always thought Jack", "the loss to Arrollo is"
    batch = [torch.tensor(TOKENIZER.encode(txt1)), torch.tensor(TOKENIZER.encode(txt2))]
    return torch.stack(batch, dim=0)


def test_chapter4_dummy_model_layer_norm_and_gelu(f32):
    torch_stream()
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        lib.manual_seed(123)
        model = _dummy_gpt(lib, nn)(CFG)
        logits = model(_batch(lib))
        lib.manual_seed(123)
        batch_example = lib.randn(2, 5)
        layer = nn.Sequential(nn.Linear(5, 6), nn.ReLU())
        out_ = layer(batch_example)
        mean, var = out_.mean(dim=-1, keepdim=True), out_.var(dim=-1, keepdim=True)
        lib.set_printoptions(sci_mode=False)
        LayerNorm, GELU, FeedForward, _, _ = _gpt_classes(lib, nn)
        ln = LayerNorm(emb_dim=5)
        out_ln = ln(batch_example)
        x = lib.linspace(-3, 3, 100)
        gelu, relu = GELU(), nn.ReLU()
        ffn = FeedForward({"emb_dim": 12})
        out[name] = (logits, out_, mean, var, out_ln, out_ln.mean(dim=-1, keepdim=True),
                     out_ln.var(dim=-1, unbiased=False, keepdim=True), gelu(x), relu(x),
                     ffn(lib.rand(2, 3, 12)), nn.GELU(approximate="tanh")(x))
    torch.set_printoptions(profile="default")
    zeroin.set_printoptions(profile="default")
    for z, t in zip(out["zeroin"], out["torch"]):
        _close(z, t)
    _close(out["zeroin"][7], out["zeroin"][-1])


def _deep_network(torch, nn, GELU):
    class ExampleDeepNeuralNetwork(nn.Module):
        def __init__(self, layer_sizes, use_shortcut):
            super().__init__()
            self.use_shortcut = use_shortcut
            self.layers = nn.ModuleList([
                nn.Sequential(nn.Linear(layer_sizes[i], layer_sizes[i + 1]), GELU())
                for i in range(len(layer_sizes) - 1)])

        def forward(self, x):
            for layer in self.layers:
                layer_output = layer(x)
                if self.use_shortcut and x.shape == layer_output.shape:
                    x = x + layer_output
                else:
                    x = layer_output
            return x
    return ExampleDeepNeuralNetwork


def print_gradients(torch, nn, model, x):
    output = model(x)
    target = torch.tensor([[0.]])
    loss = nn.MSELoss()
    loss = loss(output, target)
    loss.backward()
    grads = {}
    for name, param in model.named_parameters():
        if 'weight' in name:
            grads[name] = param.grad.abs().mean().item()
            print(f"{name} has gradient mean of {param.grad.abs().mean().item()}")
    return grads


def test_chapter4_shortcut_gradients(f32):
    torch_stream()
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        GELU = _gpt_classes(lib, nn)[1]
        layer_sizes = [3, 3, 3, 3, 3, 1]
        sample_input = lib.tensor([[1., 0., -1.]])
        res = []
        for shortcut in (False, True):
            lib.manual_seed(123)
            model = _deep_network(lib, nn, GELU)(layer_sizes, use_shortcut=shortcut)
            res.append(print_gradients(lib, nn, model, sample_input))
        out[name] = res
    for z, t in zip(out["zeroin"], out["torch"]):
        assert list(z) == list(t) == [f"layers.{i}.0.weight" for i in range(5)]
        _close(list(z.values()), list(t.values()))
    no_short, short = out["zeroin"]
    assert short["layers.0.0.weight"] > 100 * no_short["layers.0.0.weight"]


def generate_text_simple(torch, model, idx, max_new_tokens, context_size):
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def _gpt(lib, tmodel=None, cfg=CFG):
    torch, nn, _ = lib
    torch.manual_seed(123)
    model = _gpt_classes(torch, nn)[4](cfg)
    return model if tmodel is None else copy_weights(tmodel, model)


def test_chapter4_gpt_model_and_generation(f32):
    tmodel = _gpt(LIBS["torch"])
    out = {}
    for name, lib in LIBS.items():
        torch, nn, _ = lib
        model = tmodel if torch is not zeroin else _gpt(lib, tmodel)
        batch = _batch(torch)
        model.eval()
        logits = model(batch)
        assert logits.shape == torch.Size([2, 5, len(VOCAB)])
        total_params = sum(p.numel() for p in model.parameters())
        assert model.out_head.weight.shape == torch.Size([len(VOCAB), 12])
        assert model.tok_emb.weight.shape == torch.Size([len(VOCAB), 12])
        TransformerBlock = _gpt_classes(torch, nn)[3]
        torch.manual_seed(123)
        block = TransformerBlock(CFG)
        x = torch.rand(2, 4, 12)
        assert block(x).shape == x.shape
        encoded = TOKENIZER.encode("Jack Gisburn rather a")
        encoded_tensor = torch.tensor(encoded).unsqueeze(0)
        assert encoded_tensor.shape == torch.Size([1, 4])
        out_ids = generate_text_simple(torch, model, encoded_tensor, max_new_tokens=6,
                                       context_size=CFG["context_length"])
        decoded_text = TOKENIZER.decode(out_ids.squeeze(0).tolist())
        out[name] = logits, total_params, out_ids.squeeze(0).tolist(), decoded_text
    (zl, zn, zi, zt), (tl, tn, ti, tt) = out["zeroin"], out["torch"]
    _close(zl, tl)
    assert zn == tn and zi == ti and zt == tt and len(zi) == 10


def test_chapter4_gpt_init_on_the_torch_stream(f32):
    """torch.manual_seed(123) then GPTModel(cfg): PyTorch's initial weights."""
    torch_stream()
    z, t = _gpt(LIBS["zeroin"]), _gpt(LIBS["torch"])
    for k, v in z.state_dict().items():
        np.testing.assert_array_equal(_np(v), _np(t.state_dict()[k]))


# --- chapter 5: pretraining ------------------------------------------------------------------

def calc_loss_batch(torch, input_batch, target_batch, model, device):
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target_batch.flatten())
    return loss


def calc_loss_loader(torch, data_loader, model, device, num_batches=None):
    total_loss = 0.
    if len(data_loader) == 0:
        return float("nan")
    elif num_batches is None:
        num_batches = len(data_loader)
    else:
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            loss = calc_loss_batch(torch, input_batch, target_batch, model, device)
            total_loss += loss.item()
        else:
            break
    return total_loss / num_batches


def evaluate_model(torch, model, train_loader, val_loader, device, eval_iter):
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(torch, train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(torch, val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


def text_to_token_ids(torch, text, tokenizer):
    encoded = tokenizer.encode(text)
    encoded_tensor = torch.tensor(encoded).unsqueeze(0)
    return encoded_tensor


def token_ids_to_text(token_ids, tokenizer):
    flat = token_ids.squeeze(0)
    return tokenizer.decode(flat.tolist())


def generate_and_print_sample(torch, model, tokenizer, device, start_context):
    model.eval()
    context_size = model.pos_emb.weight.shape[0]
    encoded = text_to_token_ids(torch, start_context, tokenizer).to(device)
    with torch.no_grad():
        token_ids = generate_text_simple(torch, model=model, idx=encoded, max_new_tokens=5,
                                         context_size=context_size)
    decoded_text = token_ids_to_text(token_ids, tokenizer)
    print(decoded_text.replace("\n", " "))
    model.train()
    return decoded_text


def train_model_simple(torch, model, train_loader, val_loader, optimizer, device, num_epochs,
                       eval_freq, eval_iter, start_context, tokenizer):
    train_losses, val_losses, track_tokens_seen = [], [], []
    tokens_seen, global_step = 0, -1
    samples = []
    for epoch in range(num_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch(torch, input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            tokens_seen += input_batch.numel()
            global_step += 1
            if global_step % eval_freq == 0:
                train_loss, val_loss = evaluate_model(
                    torch, model, train_loader, val_loader, device, eval_iter)
                train_losses.append(train_loss)
                val_losses.append(val_loss)
                track_tokens_seen.append(tokens_seen)
                print(f"Ep {epoch+1} (Step {global_step:06d}): "
                      f"Train loss {train_loss:.3f}, Val loss {val_loss:.3f}")
        samples.append(generate_and_print_sample(torch, model, tokenizer, device, start_context))
    return train_losses, val_losses, track_tokens_seen, samples


def _pretrain(lib, tmodel=None, num_epochs=2):
    torch, nn, _ = lib
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    train_ratio = 0.80
    split_idx = int(train_ratio * len(TEXT))
    train_data, val_data = TEXT[:split_idx], TEXT[split_idx:]
    torch.manual_seed(123)
    train_loader = create_dataloader_v1(lib, train_data, batch_size=2, max_length=8,
                                        stride=8, drop_last=True, shuffle=True)
    val_loader = create_dataloader_v1(lib, val_data, batch_size=2, max_length=8,
                                      stride=8, drop_last=False, shuffle=False)
    torch.manual_seed(123)
    model = _gpt(lib, tmodel)
    model.to(device)
    with torch.no_grad():
        first = (calc_loss_loader(torch, train_loader, model, device),
                 calc_loss_loader(torch, val_loader, model, device))
    perplexity = torch.exp(torch.tensor(first[0]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.0004, weight_decay=0.1)
    run = train_model_simple(torch, model, train_loader, val_loader, optimizer, device,
                             num_epochs=num_epochs, eval_freq=2, eval_iter=1,
                             start_context="Jack Gisburn rather a", tokenizer=TOKENIZER)
    return model, optimizer, first, perplexity, run


def test_chapter5_pretraining_on_the_torch_stream(f32):
    """The book's run as printed: on the torch stream torch.manual_seed(123) gives the same
    batches (shuffle=True), initial weights and dropout masks, so nothing is copied."""
    torch_stream()
    zm, _, zfirst, zppl, zrun = _pretrain(LIBS["zeroin"])
    tm, _, tfirst, tppl, trun = _pretrain(LIBS["torch"])
    _close(zfirst, tfirst)
    _close(zppl, tppl)
    for z, t in zip(zrun[:2], trun[:2]):
        _close(z, t, rtol=1e-4, atol=1e-5)
    assert zrun[2] == trun[2] and len(zrun[0]) >= 3
    assert zrun[3] == trun[3]
    for k, v in zm.state_dict().items():
        _close(v, tm.state_dict()[k], rtol=1e-4, atol=1e-5)


def _loss_by_hand(torch, model):
    inputs = _batch(torch)[:, :3]
    targets = _batch(torch)[:, 1:4]
    with torch.no_grad():
        logits = model(inputs)
    probas = torch.softmax(logits, dim=-1)
    token_ids = torch.argmax(probas, dim=-1, keepdim=True)
    text = token_ids_to_text(token_ids[0].flatten(), TOKENIZER)
    text_idx = 0
    target_probas_1 = probas[text_idx, [0, 1, 2], targets[text_idx]]
    text_idx = 1
    target_probas_2 = probas[text_idx, [0, 1, 2], targets[text_idx]]
    log_probas = torch.log(torch.cat((target_probas_1, target_probas_2)))
    avg_log_probas = torch.mean(log_probas)
    neg_avg_log_probas = avg_log_probas * -1
    logits_flat = logits.flatten(0, 1)
    targets_flat = targets.flatten()
    loss = torch.nn.functional.cross_entropy(logits_flat, targets_flat)
    perplexity = torch.exp(loss)
    return token_ids, text, log_probas, neg_avg_log_probas, loss, perplexity


def test_chapter5_loss_by_hand(f32):
    tmodel = _gpt(LIBS["torch"]).eval()
    z, t = _loss_by_hand(zeroin, _gpt(LIBS["zeroin"], tmodel).eval()), _loss_by_hand(torch,
                                                                                    tmodel)
    assert z[1] == t[1]
    for a, b in zip(z[:1] + z[2:], t[:1] + t[2:]):
        _close(a, b)
    _close(z[3], z[4])


def _sampling(torch):
    vocab = {"closer": 0, "every": 1, "effort": 2, "forward": 3, "inches": 4, "moves": 5,
             "pizza": 6, "toward": 7, "you": 8}
    inverse_vocab = {v: k for k, v in vocab.items()}
    next_token_logits = torch.tensor(
        [4.51, 0.89, -1.90, 6.75, 1.63, -1.62, -1.89, 6.28, 1.79])
    probas = torch.softmax(next_token_logits, dim=0)
    next_token_id = torch.argmax(probas).item()
    torch.manual_seed(123)
    next_token_id2 = torch.multinomial(probas, num_samples=1).item()

    def print_sampled_tokens(probas):
        torch.manual_seed(123)
        sample = [torch.multinomial(probas, num_samples=1).item() for i in range(1_000)]
        sampled_ids = torch.bincount(torch.tensor(sample), minlength=len(probas))
        for i, freq in enumerate(sampled_ids):
            print(f"{freq} x {inverse_vocab[i]}")
        return sampled_ids

    def softmax_with_temperature(logits, temperature):
        scaled_logits = logits / temperature
        return torch.softmax(scaled_logits, dim=0)
    counts = print_sampled_tokens(probas)
    temperatures = [1, 0.1, 5]
    scaled = [softmax_with_temperature(next_token_logits, T) for T in temperatures]
    counts5 = print_sampled_tokens(scaled[2])
    top_k = 3
    top_logits, top_pos = torch.topk(next_token_logits, top_k)
    new_logits = torch.where(condition=next_token_logits < top_logits[-1],
                             input=torch.tensor(float("-inf")), other=next_token_logits)
    topk_probas = torch.softmax(new_logits, dim=0)
    return (next_token_id, next_token_id2, counts, counts5, *scaled, top_logits, top_pos,
            new_logits, topk_probas)


def test_chapter5_temperature_multinomial_and_top_k(f32):
    """multinomial draws PyTorch's samples bit for bit on the torch stream: the book's
    bincount tables come out exactly."""
    torch_stream()
    z, t = _sampling(zeroin), _sampling(torch)
    assert z[:2] == t[:2] == (3, 3)
    np.testing.assert_array_equal(_np(z[2]), _np(t[2]))
    np.testing.assert_array_equal(_np(z[3]), _np(t[3]))
    assert _np(z[2]).dtype == np.int64 and _np(z[2]).sum() == 1000
    for a, b in zip(z[4:], t[4:]):
        _close(a, b)


def generate(torch, model, idx, max_new_tokens, context_size, temperature=0.0, top_k=None,
             eos_id=None):
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]
        with torch.no_grad():
            logits = model(idx_cond)
        logits = logits[:, -1, :]
        if top_k is not None:
            top_logits, _ = torch.topk(logits, top_k)
            min_val = top_logits[:, -1]
            logits = torch.where(logits < min_val, torch.tensor(float("-inf")).to(logits.device),
                                 logits)
        if temperature > 0.0:
            logits = logits / temperature
            probs = torch.softmax(logits, dim=-1)
            idx_next = torch.multinomial(probs, num_samples=1)
        else:
            idx_next = torch.argmax(logits, dim=-1, keepdim=True)
        if idx_next == eos_id:
            break
        idx = torch.cat((idx, idx_next), dim=1)
    return idx


def test_chapter5_generate(f32):
    torch_stream()
    tmodel = _gpt(LIBS["torch"])
    out = {}
    for name, lib in LIBS.items():
        torch = lib[0]
        model = tmodel if torch is not zeroin else _gpt(lib, tmodel)
        model.eval()
        idx = text_to_token_ids(torch, "Jack Gisburn rather a", TOKENIZER)
        torch.manual_seed(123)
        sampled = generate(torch, model, idx, max_new_tokens=15, context_size=8, top_k=25,
                           temperature=1.4)
        greedy = generate(torch, model, idx, max_new_tokens=15, context_size=8)
        stop = greedy[0, 4].item()      # the first generated token as the end of text
        stopped = generate(torch, model, idx, max_new_tokens=15, context_size=8, eos_id=stop)
        out[name] = [token_ids_to_text(t, TOKENIZER) for t in (sampled, greedy, stopped)]
    assert out["zeroin"] == out["torch"]
    assert out["zeroin"][2] == "Jack Gisburn rather a"


def test_chapter5_save_and_load_model_and_optimizer(f32, tmp_path):
    torch_stream()
    res = {}
    for name, lib in LIBS.items():
        torch = lib[0]
        model, optimizer, *_ = _pretrain(lib, num_epochs=1)
        path = str(tmp_path / f"model_and_optimizer_{name}.pth")
        torch.save({"model_state_dict": model.state_dict(),
                    "optimizer_state_dict": optimizer.state_dict()}, path)
        checkpoint = torch.load(path, weights_only=True)
        model2 = _gpt_classes(torch, lib[1])[4](CFG)
        model2.load_state_dict(checkpoint["model_state_dict"])
        optimizer2 = torch.optim.AdamW(model2.parameters(), lr=5e-4, weight_decay=0.1)
        optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
        assert optimizer2.param_groups[0]["lr"] == 0.0004
        model2.train()
        torch.manual_seed(7)
        batch = _batch(torch)
        loss = calc_loss_batch(torch, batch[:, :-1], batch[:, 1:], model2, "cpu")
        optimizer2.zero_grad()
        loss.backward()
        optimizer2.step()
        res[name] = loss.item(), model2.state_dict()
    _close(res["zeroin"][0], res["torch"][0], rtol=1e-4, atol=1e-5)
    for k, v in res["zeroin"][1].items():
        _close(v, res["torch"][1][k], rtol=1e-4, atol=1e-5)


def _made_up_params(cfg, seed=0):
    """A params dict shaped as the book's load_gpt2_params_from_tf_ckpt returns (float32)."""
    rng = np.random.default_rng(seed)
    d, v, c = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"]

    def w(*shape):
        return rng.normal(0, 0.2, shape).astype(np.float32)
    blocks = [{"attn": {"c_attn": {"w": w(d, 3 * d), "b": w(3 * d)},
                        "c_proj": {"w": w(d, d), "b": w(d)}},
               "mlp": {"c_fc": {"w": w(d, 4 * d), "b": w(4 * d)},
                       "c_proj": {"w": w(4 * d, d), "b": w(d)}},
               "ln_1": {"g": 1 + w(d), "b": w(d)}, "ln_2": {"g": 1 + w(d), "b": w(d)}}
              for _ in range(cfg["n_layers"])]
    return {"wte": w(v, d), "wpe": w(c, d), "blocks": blocks, "g": 1 + w(d), "b": w(d)}


def _load_weights_into_gpt(torch, gpt, params):
    def assign(left, right):
        if left.shape != right.shape:
            raise ValueError(f"Shape mismatch. Left: {left.shape}, Right: {right.shape}")
        return torch.nn.Parameter(torch.tensor(right))

    gpt.pos_emb.weight = assign(gpt.pos_emb.weight, params['wpe'])
    gpt.tok_emb.weight = assign(gpt.tok_emb.weight, params['wte'])
    for b in range(len(params["blocks"])):
        blk, att, p = gpt.trf_blocks[b], gpt.trf_blocks[b].att, params["blocks"][b]
        q_w, k_w, v_w = np.split(p["attn"]["c_attn"]["w"], 3, axis=-1)
        att.W_query.weight = assign(att.W_query.weight, q_w.T)
        att.W_key.weight = assign(att.W_key.weight, k_w.T)
        att.W_value.weight = assign(att.W_value.weight, v_w.T)
        q_b, k_b, v_b = np.split(p["attn"]["c_attn"]["b"], 3, axis=-1)
        att.W_query.bias = assign(att.W_query.bias, q_b)
        att.W_key.bias = assign(att.W_key.bias, k_b)
        att.W_value.bias = assign(att.W_value.bias, v_b)
        att.out_proj.weight = assign(att.out_proj.weight, p["attn"]["c_proj"]["w"].T)
        att.out_proj.bias = assign(att.out_proj.bias, p["attn"]["c_proj"]["b"])
        blk.ff.layers[0].weight = assign(blk.ff.layers[0].weight, p["mlp"]["c_fc"]["w"].T)
        blk.ff.layers[0].bias = assign(blk.ff.layers[0].bias, p["mlp"]["c_fc"]["b"])
        blk.ff.layers[2].weight = assign(blk.ff.layers[2].weight, p["mlp"]["c_proj"]["w"].T)
        blk.ff.layers[2].bias = assign(blk.ff.layers[2].bias, p["mlp"]["c_proj"]["b"])
        blk.norm1.scale = assign(blk.norm1.scale, p["ln_1"]["g"])
        blk.norm1.shift = assign(blk.norm1.shift, p["ln_1"]["b"])
        blk.norm2.scale = assign(blk.norm2.scale, p["ln_2"]["g"])
        blk.norm2.shift = assign(blk.norm2.shift, p["ln_2"]["b"])
    gpt.final_norm.scale = assign(gpt.final_norm.scale, params["g"])
    gpt.final_norm.shift = assign(gpt.final_norm.shift, params["b"])
    gpt.out_head.weight = assign(gpt.out_head.weight, params["wte"])


def test_chapter5_load_weights_into_gpt(f32):
    cfg = dict(CFG, qkv_bias=True)
    params = _made_up_params(cfg)
    out = {}
    for name, lib in LIBS.items():
        torch, nn, _ = lib
        torch.manual_seed(123)
        gpt = _gpt_classes(torch, nn)[4](cfg)
        _load_weights_into_gpt(torch, gpt, params)
        gpt.eval()
        assert all(p.dtype == torch.float32 and p.requires_grad for p in gpt.parameters())
        n_params = 2 * 12 * len(VOCAB) + 8 * 12 + 2 * 12 + 2 * 1884    # out_head untied
        assert sum(p.numel() for p in gpt.parameters()) == n_params
        idx = text_to_token_ids(torch, "Jack Gisburn rather a", TOKENIZER)
        torch.manual_seed(123)
        ids = generate(torch, gpt, idx, max_new_tokens=6, context_size=8, top_k=10,
                       temperature=1.5)
        with pytest.raises(ValueError, match="Shape mismatch"):
            _load_weights_into_gpt(torch, gpt, dict(params, wpe=params["wpe"][:3]))
        out[name] = gpt(idx), gpt.state_dict(), ids.tolist()
    _close(out["zeroin"][0], out["torch"][0])
    for k, v in out["zeroin"][1].items():
        np.testing.assert_array_equal(_np(v), _np(out["torch"][1][k]))
    np.testing.assert_array_equal(_np(out["zeroin"][1]["out_head.weight"]), params["wte"])


# --- chapters 6 and 7: fine-tuning (the plain-PyTorch parts) ---------------------------------

MESSAGES = [("I HAD always thought Jack Gisburn rather a cheap genius", 0),
            ("the loss to Arrollo is all I think of", 1), ("Of course it's going to send", 0),
            ("Mrs. Gideon Thwing--his last Chicago sitter", 1), ("a rich widow", 0),
            ("I can hear Mrs. Gideon Thwing", 1), ("he had dropped his painting", 0),
            ("the value of my picture 'way up", 1)]


def _spam_dataset(torch, Dataset):
    class SpamDataset(Dataset):
        def __init__(self, data, tokenizer, max_length=None, pad_token_id=EOT):
            self.data = data
            self.encoded_texts = [tokenizer.encode(text) for text, _ in data]
            if max_length is None:
                self.max_length = max(len(t) for t in self.encoded_texts)
            else:
                self.max_length = max_length
                self.encoded_texts = [t[:self.max_length] for t in self.encoded_texts]
            self.encoded_texts = [t + [pad_token_id] * (self.max_length - len(t))
                                  for t in self.encoded_texts]

        def __getitem__(self, index):
            encoded = self.encoded_texts[index]
            label = self.data[index][1]
            return (torch.tensor(encoded, dtype=torch.long),
                    torch.tensor(label, dtype=torch.long))

        def __len__(self):
            return len(self.data)
    return SpamDataset


def calc_accuracy_loader(torch, data_loader, model, device, num_batches=None):
    model.eval()
    correct_predictions, num_examples = 0, 0
    if num_batches is None:
        num_batches = len(data_loader)
    else:
        num_batches = min(num_batches, len(data_loader))
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i < num_batches:
            input_batch, target_batch = input_batch.to(device), target_batch.to(device)
            with torch.no_grad():
                logits = model(input_batch)[:, -1, :]
            predicted_labels = torch.argmax(logits, dim=-1)
            num_examples += predicted_labels.shape[0]
            correct_predictions += (predicted_labels == target_batch).sum().item()
        else:
            break
    return correct_predictions / num_examples


def calc_loss_batch_cls(torch, input_batch, target_batch, model, device):
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)[:, -1, :]
    loss = torch.nn.functional.cross_entropy(logits, target_batch)
    return loss


def _classifier(lib, tmodel=None):
    torch, nn, data = lib
    device = torch.device("cpu")
    model = _gpt(lib)
    for param in model.parameters():
        param.requires_grad = False
    torch.manual_seed(123)
    num_classes = 2
    model.out_head = torch.nn.Linear(in_features=CFG["emb_dim"], out_features=num_classes)
    for param in model.trf_blocks[-1].parameters():
        param.requires_grad = True
    for param in model.final_norm.parameters():
        param.requires_grad = True
    if tmodel is not None:
        copy_weights(tmodel, model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    dataset = _spam_dataset(torch, data.Dataset)(MESSAGES, TOKENIZER, max_length=8)
    torch.manual_seed(123)
    train_loader = data.DataLoader(dataset, batch_size=4, shuffle=True, num_workers=0,
                                   drop_last=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.1)
    losses, examples_seen = [], 0
    for epoch in range(3):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            loss = calc_loss_batch_cls(torch, input_batch, target_batch, model, device)
            loss.backward()
            optimizer.step()
            examples_seen += input_batch.shape[0]
            losses.append(loss.item())
    acc = calc_accuracy_loader(torch, train_loader, model, device)
    return model, trainable, losses, examples_seen, acc


def test_chapter6_classification_fine_tuning(f32):
    """Freezing, a new out_head, the last token's logits, calc_accuracy_loader; on the torch
    stream with the same new head, batches and dropout as PyTorch's."""
    torch_stream()
    tm, tn, tl, te, ta = _classifier(LIBS["torch"])
    zm, zn, zl, ze, za = _classifier(LIBS["zeroin"])
    assert zn == tn == 1848 + 2 * 12 + (2 * 12 + 2) and ze == te == 24
    _close(zl, tl, rtol=1e-4, atol=1e-5)
    assert za == ta
    tsd = tm.state_dict()
    for k, v in zm.state_dict().items():
        _close(v, tsd[k], rtol=1e-4, atol=1e-5)
    frozen = [n for n, p in zm.named_parameters() if not p.requires_grad]
    assert "tok_emb.weight" in frozen and "trf_blocks.0.att.W_query.weight" in frozen
    torch.manual_seed(123)
    np.testing.assert_array_equal(_np(zm.tok_emb.weight), _np(_gpt(LIBS["torch"]).tok_emb.weight))


def custom_collate_fn(torch, batch, pad_token_id=50256, ignore_index=-100,
                      allowed_max_length=None, device="cpu"):
    batch_max_length = max(len(item) + 1 for item in batch)
    inputs_lst, targets_lst = [], []
    for item in batch:
        new_item = item.copy()
        new_item += [pad_token_id]
        padded = new_item + [pad_token_id] * (batch_max_length - len(new_item))
        inputs = torch.tensor(padded[:-1])
        targets = torch.tensor(padded[1:])
        mask = targets == pad_token_id
        indices = torch.nonzero(mask).squeeze()
        if indices.numel() > 1:
            targets[indices[1:]] = ignore_index
        if allowed_max_length is not None:
            inputs = inputs[:allowed_max_length]
            targets = targets[:allowed_max_length]
        inputs_lst.append(inputs)
        targets_lst.append(targets)
    inputs_tensor = torch.stack(inputs_lst).to(device)
    targets_tensor = torch.stack(targets_lst).to(device)
    return inputs_tensor, targets_tensor


def test_chapter7_collate_and_ignore_index(f32):
    out = {}
    for name, (lib, nn, _) in LIBS.items():
        batch = ([0, 1, 2, 3, 4], [5, 6], [7, 8, 9])
        inputs, targets = custom_collate_fn(lib, batch)
        short = custom_collate_fn(lib, batch, allowed_max_length=3)
        one = custom_collate_fn(lib, ([0, 1, 2, 3, 4],))      # one pad: squeeze() gives 0-d
        logits_1 = lib.tensor([[-1.0, 1.0], [-0.5, 1.5]])
        targets_1 = lib.tensor([0, 1])
        loss_1 = lib.nn.functional.cross_entropy(logits_1, targets_1)
        logits_2 = lib.tensor([[-1.0, 1.0], [-0.5, 1.5], [-0.5, 1.5]])
        targets_3 = lib.tensor([0, 1, -100])
        loss_3 = lib.nn.functional.cross_entropy(logits_2, targets_3)
        out[name] = (inputs, targets, *short, *one, loss_1, loss_3)
    for z, t in zip(out["zeroin"], out["torch"]):
        np.testing.assert_array_equal(_np(z), _np(t))
        assert _np(z).dtype == _np(t).dtype
    assert out["zeroin"][1].tolist()[1] == [6, 50256, -100, -100, -100]
    _close(out["zeroin"][-1], out["zeroin"][-2], rtol=0, atol=0)


def _instruction_run(lib, tmodel):
    torch, nn, data = lib
    entries = [{"instruction": "Rewrite", "input": "a rich widow", "output": "a cheap genius"},
               {"instruction": "Name", "input": "", "output": "Jack Gisburn"},
               {"instruction": "Rewrite", "input": "the height of his glory",
                "output": "the loss to Arrollo"},
               {"instruction": "Name", "input": "his last Chicago sitter",
                "output": "Mrs. Gideon Thwing"}]

    def format_input(entry):
        text = f"Rewrite: {entry['instruction']}"
        return text + (f" {entry['input']}" if entry["input"] else "")

    class InstructionDataset(data.Dataset):
        def __init__(self, data_, tokenizer):
            self.data = data_
            self.encoded_texts = [tokenizer.encode(format_input(e) + " " + e["output"])
                                  for e in data_]

        def __getitem__(self, index):
            return self.encoded_texts[index]

        def __len__(self):
            return len(self.data)
    device = "cpu"
    customized_collate_fn = functools.partial(
        lambda *a, **k: custom_collate_fn(torch, *a, **k), device=device,
        allowed_max_length=CFG["context_length"], pad_token_id=EOT)
    torch.manual_seed(123)
    train_loader = data.DataLoader(InstructionDataset(entries, TOKENIZER), batch_size=2,
                                   collate_fn=customized_collate_fn, shuffle=True,
                                   drop_last=True, num_workers=0)
    model = _gpt(lib, tmodel)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.00005, weight_decay=0.1)
    losses = []
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        loss = calc_loss_batch(torch, inputs, targets, model, device)
        loss.backward()
        optimizer.step()
        losses.append((loss.item(), inputs.tolist(), targets.tolist()))
    return losses


def test_chapter7_instruction_fine_tuning_step(f32):
    torch_stream()
    tmodel = _gpt(LIBS["torch"])
    z, t = _instruction_run(LIBS["zeroin"], tmodel), _instruction_run(LIBS["torch"], None)
    assert [b[1:] for b in z] == [b[1:] for b in t] and len(z) == 2
    assert any(-100 in row for b in z for row in b[2])
    _close([b[0] for b in z], [b[0] for b in t], rtol=1e-4, atol=1e-5)


# --- appendices D and E: warmup, cosine decay, clipping; LoRA --------------------------------

def find_highest_gradient(model):
    max_grad = None
    for param in model.parameters():
        if param.grad is not None:
            grad_values = param.grad.data.flatten()
            max_grad_param = grad_values.max()
            if max_grad is None or max_grad_param > max_grad:
                max_grad = max_grad_param
    return max_grad


def _train_appendix_d(torch, model, train_loader, n_epochs=2):
    import math
    initial_lr, peak_lr, min_lr = 0.0001, 0.01, 0.1 * 0.0001
    total_training_steps = len(train_loader) * n_epochs
    warmup_steps = int(0.2 * total_training_steps)
    lr_increment = (peak_lr - initial_lr) / warmup_steps
    optimizer = torch.optim.AdamW(model.parameters(), weight_decay=0.1)
    global_step, track_lrs, losses, highest = -1, [], [], []
    for epoch in range(n_epochs):
        model.train()
        for input_batch, target_batch in train_loader:
            optimizer.zero_grad()
            global_step += 1
            if global_step < warmup_steps:
                lr = initial_lr + global_step * lr_increment
            else:
                progress = ((global_step - warmup_steps) /
                            (total_training_steps - warmup_steps))
                lr = min_lr + (peak_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            track_lrs.append(optimizer.param_groups[0]["lr"])
            loss = calc_loss_batch(torch, input_batch, target_batch, model, "cpu")
            loss.backward()
            highest.append(find_highest_gradient(model).item())
            if global_step > warmup_steps:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            losses.append(loss.item())
    return track_lrs, losses, highest


def _lora_classes(torch):
    import math

    class LoRALayer(torch.nn.Module):
        def __init__(self, in_dim, out_dim, rank, alpha):
            super().__init__()
            self.A = torch.nn.Parameter(torch.empty(in_dim, rank))
            torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            self.B = torch.nn.Parameter(torch.zeros(rank, out_dim))
            self.alpha = alpha

        def forward(self, x):
            x = self.alpha * (x @ self.A @ self.B)
            return x

    class LinearWithLoRA(torch.nn.Module):
        def __init__(self, linear, rank, alpha):
            super().__init__()
            self.linear = linear
            self.lora = LoRALayer(linear.in_features, linear.out_features, rank, alpha)

        def forward(self, x):
            return self.linear(x) + self.lora(x)

    def replace_linear_with_lora(model, rank, alpha):
        for name, module in model.named_children():
            if isinstance(module, torch.nn.Linear):
                setattr(model, name, LinearWithLoRA(module, rank, alpha))
            else:
                replace_linear_with_lora(module, rank, alpha)
    return replace_linear_with_lora


def _appendices_d_e(lib):
    torch = lib[0]
    torch.manual_seed(123)
    train_loader = create_dataloader_v1(lib, TEXT, batch_size=4, max_length=8, stride=8)
    model = _gpt(lib)
    run = _train_appendix_d(torch, model, train_loader)
    for param in model.parameters():
        param.requires_grad = False
    torch.manual_seed(123)
    _lora_classes(torch)(model, rank=4, alpha=8)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    x = _batch(torch)
    model.eval()
    before = model(x)
    for p in model.parameters():
        if p.requires_grad and p.shape[0] == 4:   # the B matrices, zeros at first
            with torch.no_grad():
                p.fill_(0.01)
    return run, trainable, names, before, model(x), model.state_dict()


def test_appendices_d_and_e(f32):
    """Appendix D's warmup, cosine decay and clipping loop; appendix E's LoRA layers
    (kaiming_uniform_(A, a=sqrt(5)) on the torch stream, replace_linear_with_lora through
    named_children and setattr)."""
    torch_stream()
    z, t = _appendices_d_e(LIBS["zeroin"]), _appendices_d_e(LIBS["torch"])
    assert z[0][0] == t[0][0]
    for a, b in zip(z[0][1:], t[0][1:]):
        _close(a, b, rtol=1e-4, atol=1e-5)
    assert z[1] == t[1] and z[2] == t[2]
    assert "trf_blocks.0.att.W_query.lora.A" in z[2]
    for a, b in zip(z[3:5], t[3:5]):
        _close(a, b, rtol=1e-4, atol=1e-5)
    for k, v in z[5].items():
        _close(v, t[5][k], rtol=1e-4, atol=1e-5)
