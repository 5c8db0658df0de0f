"""Audit against *Deep Learning for Coders with fastai and PyTorch* (fastbook, the course's
part 1 notebooks): the chapters whose code is plain PyTorch written from scratch (4 MNIST
basics, 5 pet breeds, 8 collaborative filtering, 12 NLP from scratch, 13 convolutions, 17
foundations, 19 a Learner from scratch), as the book writes it, with ``import zeroin as
torch``, ``from zeroin import nn, tensor``, ``import zeroin.nn.functional as F``; fastai's
own helpers (``sigmoid_range``, ``store_attr``, fastai's ``Module`` without
``super().__init__()``) are written out. Each runs on torch and on zeroin with the same
synthetic data (3s and 7s as seeded 28x28 images with a class-dependent pattern) and the
same weights (drawn by torch and copied), and values, gradients and a few training steps
are compared, to 1e-10 in float64. See docs/fastbook.md; part 2 is
tests/test_audit_fastai.py."""
import math

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as ZF
from _audit import close, copy_weights, torch_stream

torch = pytest.importorskip("torch")
TF = torch.nn.functional
LIBS = ((torch, TF), (zeroin, ZF))
F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=2e-5, atol=2e-6)

_rng = np.random.default_rng(7)


def _digits(n, label):
    """``n`` uint8 28x28 "images" of a 3 (a bright top band) or a 7 (a bright left band)."""
    ims = _rng.integers(0, 90, (n, 28, 28))
    if label == 3:
        ims[:, 4:10, 6:22] += 160
    else:
        ims[:, 4:24, 6:11] += 160
    return [im.astype(np.uint8) for im in ims]


THREES, SEVENS = _digits(24, 3), _digits(24, 7)
VALID3, VALID7 = _digits(8, 3), _digits(8, 7)


@pytest.fixture(autouse=True)
def _f64():
    """float64 in both libraries (conftest puts zeroin's default back), and torch on one
    thread: its small convolutions' backward waited ~0.2 s a call for a second thread on a
    loaded two-core machine (as in test_audit_d2l_nlp.py)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(n)
    zeroin.random.use_torch_stream(False)


def _close(z, t, **tol):
    close(z, t, **(tol or F64))


def _both(fn, *args):
    """``fn(lib, F, *args)`` on torch and on zeroin: (torch's result, zeroin's result)."""
    return [fn(lib, F, *args) for lib, F in LIBS]


def _compare(tres, zres, **tol):
    assert len(tres) == len(zres)
    for t, z in zip(tres, zres):
        if isinstance(t, (list, tuple)):
            _compare(t, z, **tol)
        else:
            _close(z, t, **tol)


@pytest.fixture
def book32(f32):
    """Chapter 4's float32 (``.float() / 255`` images, ``torch.randn`` weights) in both."""
    torch.set_default_dtype(torch.float32)


def _twins(build):
    """The same model in both libraries, zeroin's weights copied from torch's."""
    torch.manual_seed(0)
    tm = build(torch, TF)
    zm = build(zeroin, ZF)
    copy_weights(tm, zm)
    return tm, zm


def sigmoid_range(x, lo, hi):
    """fastai's ``sigmoid_range``."""
    return x.sigmoid() * (hi - lo) + lo


# --- chapter 4: MNIST basics ------------------------------------------------------------

def _stacked(lib, ims):
    return lib.stack([lib.tensor(im) for im in ims]).float() / 255


def _pixel_similarity(lib, F):
    stacked_threes, stacked_sevens = _stacked(lib, THREES), _stacked(lib, SEVENS)
    mean3, mean7 = stacked_threes.mean(0), stacked_sevens.mean(0)
    a_3 = stacked_threes[1]
    dist_3_abs = (a_3 - mean3).abs().mean()
    dist_3_sqr = ((a_3 - mean3) ** 2).mean().sqrt()
    f_l1, f_mse = F.l1_loss(a_3.float(), mean7), F.mse_loss(a_3, mean7).sqrt()

    def mnist_distance(a, b):
        return (a - b).abs().mean((-1, -2))

    valid_3_tens = _stacked(lib, VALID3)
    valid_3_dist = mnist_distance(valid_3_tens, mean3)

    def is_3(x):
        return mnist_distance(x, mean3) < mnist_distance(x, mean7)

    acc_3s = is_3(valid_3_tens).float().mean()
    acc_7s = (1 - is_3(_stacked(lib, VALID7)).float()).mean()
    assert tuple(valid_3_dist.shape) == (8,) and is_3(a_3).item() is True
    return mean3, mean7, dist_3_abs, dist_3_sqr, f_l1, f_mse, valid_3_dist, acc_3s, acc_7s


def test_ch4_stack_mean_images_distances_is_3(book32):
    _compare(*_both(_pixel_similarity), **F32)


def _calculating_gradients(lib, F):
    def f(x):
        return (x ** 2).sum()

    xt = lib.tensor([3., 4., 10.]).requires_grad_()
    yt = f(xt)
    yt.backward()
    out = [yt, xt.grad.clone()]

    time = lib.arange(0, 20).float()
    speed = lib.tensor(_rng_speed).float() + 0.75 * (time - 9.5) ** 2 + 1

    def f(t, params):
        a, b, c = params
        return a * (t ** 2) + (b * t) + c

    def mse(preds, targets):
        return ((preds - targets) ** 2).mean()

    params = lib.tensor([0.4, -1.2, 0.7]).requires_grad_()
    orig_params = params.clone()
    lr = 1e-5

    def apply_step(params):
        preds = f(time, params)
        loss = mse(preds, speed)
        loss.backward()
        params.data -= lr * params.grad.data
        params.grad = None
        return preds, loss.item()

    for i in range(10):
        preds, loss = apply_step(params)
        out += [preds, lib.tensor(loss)]
    assert params.grad is None and not lib.equal(params, orig_params)
    return out + [params]


_rng_speed = np.random.default_rng(3).standard_normal(20) * 3


def test_ch4_calculating_gradients_and_the_quadratic_apply_step(book32):
    _compare(*_both(_calculating_gradients), **F32)


def _mnist_sets(lib):
    train_x = lib.cat([_stacked(lib, THREES), _stacked(lib, SEVENS)]).view(-1, 28 * 28)
    train_y = lib.tensor([1] * len(THREES) + [0] * len(SEVENS)).unsqueeze(1)
    valid_x = lib.cat([_stacked(lib, VALID3), _stacked(lib, VALID7)]).view(-1, 28 * 28)
    valid_y = lib.tensor([1] * len(VALID3) + [0] * len(VALID7)).unsqueeze(1)
    return list(zip(train_x, train_y)), list(zip(valid_x, valid_y))


def mnist_loss(predictions, targets):
    predictions = predictions.sigmoid()
    return torch_where(predictions, targets)


def torch_where(predictions, targets):
    lib = torch if isinstance(predictions, torch.Tensor) else zeroin
    return lib.where(targets == 1, 1 - predictions, predictions).mean()


def _linear_from_scratch(lib, F, w0, b0):
    dset, valid_dset = _mnist_sets(lib)
    dl = lib.utils.data.DataLoader(dset, batch_size=16)
    valid_dl = lib.utils.data.DataLoader(valid_dset, batch_size=8)
    weights = lib.tensor(w0).requires_grad_()
    bias = lib.tensor(b0).requires_grad_()
    train_x = lib.stack([x for x, _ in dset])
    train_y = lib.stack([y for _, y in dset])
    out = [(train_x[0] * weights.T).sum() + bias]

    def linear1(xb):
        return xb @ weights + bias

    preds = linear1(train_x)
    corrects = (preds > 0.0).float() == train_y
    out += [preds, lib.tensor(corrects.float().mean().item())]
    with lib.no_grad():
        weights[0] *= 1.0001
    out.append(((linear1(train_x) > 0.0).float() == train_y).float().mean())

    def calc_grad(xb, yb, model):
        preds = model(xb)
        loss = mnist_loss(preds, yb)
        loss.backward()

    calc_grad(train_x[:4], train_y[:4], linear1)
    out += [weights.grad.mean(), bias.grad.clone()]
    weights.grad.zero_()
    bias.grad.zero_()

    def train_epoch(model, lr, params):
        for xb, yb in dl:
            calc_grad(xb, yb, model)
            for p in params:
                p.data -= p.grad * lr
                p.grad.zero_()

    def batch_accuracy(xb, yb):
        preds = xb.sigmoid()
        correct = (preds > 0.5) == yb
        return correct.float().mean()

    def validate_epoch(model):
        accs = [batch_accuracy(model(xb), yb) for xb, yb in valid_dl]
        return round(lib.stack(accs).mean().item(), 4)

    for i in range(3):
        train_epoch(linear1, 1., (weights, bias))
        out.append(lib.tensor(validate_epoch(linear1)))
    return out + [weights, bias]


def test_ch4_linear1_mnist_loss_calc_grad_train_epoch_batch_accuracy(book32):
    torch.manual_seed(1)

    def init_params(size, std=1.0):
        return (torch.randn(size) * std).requires_grad_()

    w0, b0 = init_params((28 * 28, 1)).detach().numpy(), init_params(1).detach().numpy()
    _compare(*_both(_linear_from_scratch, w0, b0), **F32)


def test_ch4_init_params_on_the_torch_stream(book32):
    res = []
    for lib, _ in LIBS:
        if lib is zeroin:
            torch_stream()

        def init_params(size, std=1.0, lib=lib):
            return (lib.randn(size) * std).requires_grad_()

        lib.manual_seed(42)
        res.append((init_params((28 * 28, 1)), init_params(1), init_params((5, 3), 0.1)))
    for z, t in zip(res[1], res[0]):
        assert z.requires_grad and z.is_leaf and z.dtype == zeroin.float32
        _close(z, t)


class BasicOptim:
    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def step(self, *args, **kwargs):
        for p in self.params:
            p.data -= p.grad.data * self.lr

    def zero_grad(self, *args, **kwargs):
        for p in self.params:
            p.grad = None


def _nn_linear_and_simple_net(lib, F, model, opt_kind):
    dset, valid_dset = _mnist_sets(lib)
    dl = lib.utils.data.DataLoader(dset, batch_size=16)
    opt = BasicOptim(model.parameters(), 0.5) if opt_kind == "basic" \
        else lib.optim.SGD(model.parameters(), 0.5)
    losses = []
    for epoch in range(2):
        for xb, yb in dl:
            loss = mnist_loss(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss)
    valid_x = lib.stack([x for x, _ in valid_dset])
    valid_y = lib.stack([y for _, y in valid_dset])
    acc = ((model(valid_x).sigmoid() > 0.5) == valid_y).float().mean()
    return losses + [acc] + list(model.parameters())


@pytest.mark.parametrize("opt_kind", ["basic", "sgd"])
def test_ch4_nn_linear_basic_optim_sgd_and_simple_net(book32, opt_kind):
    lin = _twins(lambda lib, F: lib.nn.Linear(28 * 28, 1))
    w, b = lin[1].parameters()
    assert tuple(w.shape) == (1, 784) and tuple(b.shape) == (1,)
    _compare(*[_nn_linear_and_simple_net(lib, F, m, opt_kind) for (lib, F), m in zip(LIBS, lin)],
             **F32)
    net = _twins(lambda lib, F: lib.nn.Sequential(
        lib.nn.Linear(28 * 28, 30), lib.nn.ReLU(), lib.nn.Linear(30, 1)))
    _compare(*[_nn_linear_and_simple_net(lib, F, m, opt_kind) for (lib, F), m in zip(LIBS, net)],
             **F32)


# --- chapter 5: image classification (softmax, log likelihood) ---------------------------

def _softmax_by_hand(lib, F, acts0):
    acts = lib.tensor(acts0).requires_grad_()
    out = [acts.sigmoid(), (acts[:, 0] - acts[:, 1]).sigmoid()]

    def softmax(x):
        return lib.exp(x) / lib.exp(x).sum(dim=1, keepdim=True)

    sm_acts = softmax(acts)
    out += [sm_acts, lib.softmax(acts, dim=1)]
    targ = lib.tensor([0, 1, 0, 1, 1, 0])
    idx = range(6)
    out += [sm_acts[idx, targ], -sm_acts[idx, targ],
            F.nll_loss(sm_acts, targ, reduction='none'), F.nll_loss(sm_acts, targ)]
    log_sm = lib.log(sm_acts)
    loss_func = lib.nn.CrossEntropyLoss()
    loss = loss_func(acts, targ)
    out += [log_sm, loss, F.cross_entropy(acts, targ),
            lib.nn.CrossEntropyLoss(reduction='none')(acts, targ),
            F.cross_entropy(acts, targ, reduction='none'), F.nll_loss(log_sm, targ)]
    _close(loss, F.nll_loss(log_sm, targ))
    loss.backward()
    return out + [acts.grad]


def test_ch5_softmax_by_hand_nll_log_and_cross_entropy():
    torch.manual_seed(42)
    acts0 = (torch.randn((6, 2)) * 2).numpy()
    _compare(*_both(_softmax_by_hand, acts0))


# --- chapter 8: collaborative filtering ---------------------------------------------------

N_USERS, N_MOVIES, N_FACTORS = 12, 15, 5
_r = np.random.default_rng(8)
RATINGS_X = np.stack([_r.integers(0, N_USERS, 64), _r.integers(0, N_MOVIES, 64)], 1)
RATINGS_Y = _r.integers(1, 6, 64).astype(np.float64)


def _collab_models(lib, F):
    nn = lib.nn

    class DotProduct(nn.Module):
        def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
            super().__init__()
            self.user_factors = nn.Embedding(n_users, n_factors)
            self.movie_factors = nn.Embedding(n_movies, n_factors)
            self.y_range = y_range

        def forward(self, x):
            users = self.user_factors(x[:, 0])
            movies = self.movie_factors(x[:, 1])
            return sigmoid_range((users * movies).sum(dim=1), *self.y_range)

    class DotProductBias(nn.Module):
        def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
            super().__init__()
            self.user_factors = nn.Embedding(n_users, n_factors)
            self.user_bias = nn.Embedding(n_users, 1)
            self.movie_factors = nn.Embedding(n_movies, n_factors)
            self.movie_bias = nn.Embedding(n_movies, 1)
            self.y_range = y_range

        def forward(self, x):
            users = self.user_factors(x[:, 0])
            movies = self.movie_factors(x[:, 1])
            res = (users * movies).sum(dim=1, keepdim=True)
            res += self.user_bias(x[:, 0]) + self.movie_bias(x[:, 1])
            return sigmoid_range(res, *self.y_range)

    def create_params(size):
        return nn.Parameter(lib.zeros(*size).normal_(0, 0.01))

    class DotProductBias2(nn.Module):
        def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
            super().__init__()
            self.user_factors = create_params([n_users, n_factors])
            self.user_bias = create_params([n_users])
            self.movie_factors = create_params([n_movies, n_factors])
            self.movie_bias = create_params([n_movies])
            self.y_range = y_range

        def forward(self, x):
            users = self.user_factors[x[:, 0]]
            movies = self.movie_factors[x[:, 1]]
            res = (users * movies).sum(dim=1)
            res += self.user_bias[x[:, 0]] + self.movie_bias[x[:, 1]]
            return sigmoid_range(res, *self.y_range)

    class CollabNN(nn.Module):
        def __init__(self, user_sz, item_sz, y_range=(0, 5.5), n_act=20):
            super().__init__()
            self.user_factors = nn.Embedding(*user_sz)
            self.item_factors = nn.Embedding(*item_sz)
            self.layers = nn.Sequential(
                nn.Linear(user_sz[1] + item_sz[1], n_act),
                nn.ReLU(),
                nn.Linear(n_act, 1))
            self.y_range = y_range

        def forward(self, x):
            embs = self.user_factors(x[:, 0]), self.item_factors(x[:, 1])
            x = self.layers(lib.cat(embs, dim=1))
            return sigmoid_range(x, *self.y_range)

    return [DotProduct(N_USERS, N_MOVIES, N_FACTORS),
            DotProductBias(N_USERS, N_MOVIES, N_FACTORS),
            DotProductBias2(N_USERS, N_MOVIES, N_FACTORS),
            CollabNN((N_USERS, N_FACTORS), (N_MOVIES, 4))]


def _collab_fit(lib, F, model, wd):
    x, y = lib.tensor(RATINGS_X), lib.tensor(RATINGS_Y)
    opt = lib.optim.SGD(model.parameters(), lr=0.5)
    out = []
    for step in range(4):
        s = slice(16 * step, 16 * step + 16)
        loss = F.mse_loss(model(x[s]).view(-1), y[s].view(-1))       # MSELossFlat
        loss_with_wd = loss + wd * sum((p ** 2).sum() for p in model.parameters())
        opt.zero_grad()
        loss_with_wd.backward()
        opt.step()
        out += [loss_with_wd] + [p.grad for p in model.parameters()]
    return out + list(model.parameters())


def test_ch8_dot_product_bias_create_params_weight_decay_collab_nn():
    torch.manual_seed(0)
    tms = _collab_models(torch, TF)
    zms = _collab_models(zeroin, ZF)
    for tm, zm in zip(tms, zms):
        copy_weights(tm, zm)
        for wd in (0., 0.1):
            _compare(_collab_fit(torch, TF, tm, wd), _collab_fit(zeroin, ZF, zm, wd))
    for tm, zm in ((tms[1], zms[1]), (tms[2], zms[2])):
        res = []
        for lib, m in ((torch, tm), (zeroin, zm)):
            mb = m.movie_bias.weight if isinstance(m.movie_bias, lib.nn.Module) else m.movie_bias
            movie_bias = mb.squeeze()
            mf = m.movie_factors.weight if isinstance(m.movie_factors, lib.nn.Module) \
                else m.movie_factors
            distances = lib.nn.CosineSimilarity(dim=1)(mf, mf[3][None])
            res.append([movie_bias.argsort()[:5], movie_bias.argsort(descending=True)[:5],
                        distances, distances.argsort(descending=True)[1]])
        _compare(*res)
    assert zeroin.equal(zms[2].movie_bias.squeeze().argsort(),
                        zeroin.tensor(np.argsort(zms[2].movie_bias.detach().numpy())))


def test_ch8_embedding_is_a_one_hot_matrix_product(book32):
    torch.manual_seed(8)
    uf = torch.randn(N_USERS, N_FACTORS).numpy()
    res = []
    for lib, _ in LIBS:
        def one_hot(x, c, lib=lib):          # fastai's, as the book calls it
            res = lib.zeros(c, dtype=lib.uint8)
            res[x] = 1
            return res

        user_factors = lib.tensor(uf)
        one_hot_3 = one_hot(3, N_USERS).float()
        emb = lib.nn.Embedding(N_USERS, N_FACTORS)
        with lib.no_grad():
            emb.weight.copy_(user_factors)
        lookup = emb(lib.tensor([3]))[0]
        res.append([user_factors.t() @ one_hot_3, user_factors[3], lookup])
    _compare(*res, **F32)
    _close(res[1][0], res[1][1], **F32)


def test_ch8_create_params_normal_on_the_torch_stream():
    res = []
    for lib, _ in LIBS:
        if lib is zeroin:
            torch_stream()
        lib.manual_seed(0)
        p = lib.nn.Parameter(lib.zeros(*[N_USERS, N_FACTORS]).normal_(0, 0.01))
        assert isinstance(p, lib.nn.Parameter) and p.requires_grad
        res.append(p)
    _close(res[1], res[0])


# --- chapter 12: a language model from scratch --------------------------------------------

VOCAB = 10
BS, SL, NH = 4, 6, 12
NUMS = np.random.default_rng(12).integers(0, VOCAB, 4 * BS * SL + 1).tolist()


def _lm_models(lib, F):
    nn = lib.nn

    class LMModel1(nn.Module):
        def __init__(self, vocab_sz, n_hidden):
            super().__init__()
            self.i_h = nn.Embedding(vocab_sz, n_hidden)
            self.h_h = nn.Linear(n_hidden, n_hidden)
            self.h_o = nn.Linear(n_hidden, vocab_sz)

        def forward(self, x):
            h = F.relu(self.h_h(self.i_h(x[:, 0])))
            h = h + self.i_h(x[:, 1])
            h = F.relu(self.h_h(h))
            h = h + self.i_h(x[:, 2])
            h = F.relu(self.h_h(h))
            return self.h_o(h)

    class LMModel2(LMModel1):
        def forward(self, x):
            h = 0
            for i in range(3):
                h = h + self.i_h(x[:, i])
                h = F.relu(self.h_h(h))
            return self.h_o(h)

    class LMModel3(LMModel1):
        def __init__(self, vocab_sz, n_hidden):
            super().__init__(vocab_sz, n_hidden)
            self.h = 0

        def forward(self, x):
            for i in range(3):
                self.h = self.h + self.i_h(x[:, i])
                self.h = F.relu(self.h_h(self.h))
            out = self.h_o(self.h)
            self.h = self.h.detach()
            return out

        def reset(self):
            self.h = 0

    class LMModel4(LMModel3):
        def forward(self, x):
            outs = []
            for i in range(SL):
                self.h = self.h + self.i_h(x[:, i])
                self.h = F.relu(self.h_h(self.h))
                outs.append(self.h_o(self.h))
            self.h = self.h.detach()
            return lib.stack(outs, dim=1)

    class LMModel5(nn.Module):
        def __init__(self, vocab_sz, n_hidden, n_layers):
            super().__init__()
            self.i_h = nn.Embedding(vocab_sz, n_hidden)
            self.rnn = nn.RNN(n_hidden, n_hidden, n_layers, batch_first=True)
            self.h_o = nn.Linear(n_hidden, vocab_sz)
            self.h = lib.zeros(n_layers, BS, n_hidden)

        def forward(self, x):
            res, h = self.rnn(self.i_h(x), self.h)
            self.h = h.detach()
            return self.h_o(res)

        def reset(self):
            self.h.zero_()

    class LMModel6(nn.Module):
        def __init__(self, vocab_sz, n_hidden, n_layers):
            super().__init__()
            self.i_h = nn.Embedding(vocab_sz, n_hidden)
            self.rnn = nn.LSTM(n_hidden, n_hidden, n_layers, batch_first=True)
            self.h_o = nn.Linear(n_hidden, vocab_sz)
            self.h = [lib.zeros(n_layers, BS, n_hidden) for _ in range(2)]

        def forward(self, x):
            res, h = self.rnn(self.i_h(x), self.h)
            self.h = [h_.detach() for h_ in h]
            return self.h_o(res)

        def reset(self):
            for h in self.h:
                h.zero_()

    class LMModel7(nn.Module):
        def __init__(self, vocab_sz, n_hidden, n_layers, p):
            super().__init__()
            self.i_h = nn.Embedding(vocab_sz, n_hidden)
            self.rnn = nn.LSTM(n_hidden, n_hidden, n_layers, batch_first=True)
            self.drop = nn.Dropout(p)
            self.h_o = nn.Linear(n_hidden, vocab_sz)
            self.h_o.weight = self.i_h.weight
            self.h = [lib.zeros(n_layers, BS, n_hidden) for _ in range(2)]

        def forward(self, x):
            raw, h = self.rnn(self.i_h(x), self.h)
            out = self.drop(raw)
            self.h = tuple(h_.detach() for h_ in h)
            return self.h_o(out), raw, out

        def reset(self):
            for h in self.h:
                h.zero_()

    return [LMModel1(VOCAB, NH), LMModel2(VOCAB, NH), LMModel3(VOCAB, NH),
            LMModel4(VOCAB, NH), LMModel5(VOCAB, NH, 2), LMModel6(VOCAB, NH, 2),
            LMModel7(VOCAB, NH, 2, 0.3)]


def group_chunks(ds, bs):
    """The book's ``group_chunks``: batch ``k`` holds chunks ``k, k + m, k + 2m...``, so
    each row of a batch continues the same row of the batch before."""
    m = len(ds) // bs
    new_ds = []
    for i in range(m):
        new_ds += [ds[i + m * j] for j in range(bs)]
    return new_ds


def _lm_batches(lib, n_in):
    if n_in == 3:
        seqs = [(NUMS[i:i + 3], NUMS[i + 3]) for i in range(0, len(NUMS) - 4, 3)]
    else:
        seqs = [(NUMS[i:i + SL], NUMS[i + 1:i + SL + 1]) for i in range(0, len(NUMS) - SL - 1, SL)]
    seqs = group_chunks(seqs, BS)
    return [(lib.tensor([x for x, _ in seqs[k:k + BS]]), lib.tensor([y for _, y in seqs[k:k + BS]]))
            for k in range(0, len(seqs) - BS + 1, BS)]


def _lm_fit(lib, F, model, k, alpha=2., beta=1.):
    def loss_func(inp, targ):
        return F.cross_entropy(inp.view(-1, VOCAB), targ.view(-1))

    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    lib.manual_seed(5)
    out = []
    for epoch in range(2):
        if hasattr(model, "reset"):
            model.reset()
        for xb, yb in _lm_batches(lib, 3 if k < 3 else SL):
            pred = model(xb)
            if k == 6:
                pred, raw, drop_out = pred
                loss = loss_func(pred, yb)
                loss = loss + alpha * drop_out.pow(2).mean()                    # AR
                loss = loss + beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()   # TAR
            else:
                loss = F.cross_entropy(pred, yb) if k < 3 else loss_func(pred, yb)
            loss.backward()
            out += [loss] + [p.grad.clone() for p in model.parameters()]
            opt.step()
            opt.zero_grad()
    return out + list(model.parameters())


@pytest.mark.parametrize("k", range(7))
def test_ch12_lm_models_1_to_7_truncated_bptt_lstm_ar_tar_weight_tying(k):
    if k == 6:
        torch_stream()          # LMModel7's dropout draws torch's numbers
    torch.manual_seed(0)
    tm = _lm_models(torch, TF)[k]
    zm = copy_weights(tm, _lm_models(zeroin, ZF)[k])
    if k == 6:
        assert zm.h_o.weight is zm.i_h.weight
        assert len(list(zm.parameters())) == len(list(tm.parameters()))
    _compare(_lm_fit(torch, TF, tm, k), _lm_fit(zeroin, ZF, zm, k))
    if k == 6:
        assert zm.h_o.weight is zm.i_h.weight and isinstance(zm.h, tuple)
        tm.eval(), zm.eval()
        xb = _lm_batches(zeroin, SL)[0][0]
        _compare(tm(torch.tensor(xb.numpy())), zm(xb))


# --- chapter 13: convolutions --------------------------------------------------------------

def _kernels(lib, F):
    im3_t = lib.tensor(THREES[0])
    top_edge = lib.tensor([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]).float()

    def apply_kernel(row, col, kernel):
        return (im3_t[row - 1:row + 2, col - 1:col + 2] * kernel).sum()

    rng = range(1, 27)
    top_edge3 = lib.tensor([[apply_kernel(i, j, top_edge) for j in rng] for i in rng])
    left_edge = lib.tensor([[-1, 1, 0], [-1, 1, 0], [-1, 1, 0]]).float()
    diag1_edge = lib.tensor([[0, -1, 1], [-1, 1, 0], [1, 0, 0]]).float()
    diag2_edge = lib.tensor([[1, -1, 0], [0, 1, -1], [0, 0, 1]]).float()
    edge_kernels = lib.stack([left_edge, top_edge, diag1_edge, diag2_edge])
    assert tuple(edge_kernels.shape) == (4, 3, 3)
    edge_kernels = edge_kernels.unsqueeze(1)
    xb = _stacked(lib, THREES[:4] + SEVENS[:4]).unsqueeze(1)
    batch_features = F.conv2d(xb, edge_kernels)
    assert tuple(batch_features.shape) == (8, 4, 26, 26)
    assert top_edge3.dtype == lib.float32
    return [apply_kernel(5, 7, top_edge), top_edge3, batch_features,
            F.conv2d(xb, edge_kernels, stride=2, padding=1)]


def test_ch13_apply_kernel_by_hand_and_f_conv2d_edge_kernels(book32):
    tres, zres = _both(_kernels)
    _compare(tres, zres, **F32)
    _close(zres[2][:, 1:2, :, :], ZF.conv2d(_stacked(zeroin, THREES[:4] + SEVENS[:4])
                                           .unsqueeze(1), zeroin.tensor(
                                               [[[[-1., -1, -1], [0, 0, 0], [1, 1, 1]]]])),
           **F32)


def _simple_cnn(lib, F, bn):
    nn = lib.nn

    def conv(ni, nf, ks=3, act=True):
        layers = [nn.Conv2d(ni, nf, stride=2, kernel_size=ks, padding=ks // 2)]
        if bn:
            layers.append(nn.BatchNorm2d(nf))
        if act:
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    return nn.Sequential(conv(1, 4), conv(4, 8), conv(8, 16), conv(16, 32),
                         conv(32, 2, act=False), nn.Flatten())


def _cnn_fit(lib, F, model, n_epochs=2, bs=16):
    """The simple CNN on 3s and 7s with 1cycle (``OneCycleLR``, momentum cycled) and
    fastai's ``ActivationStats`` (mean, std, fraction near zero per layer) from forward
    hooks."""
    x = lib.cat([_stacked(lib, THREES), _stacked(lib, SEVENS)]).unsqueeze(1).double()
    y = lib.tensor([1] * len(THREES) + [0] * len(SEVENS))
    perm = np.random.default_rng(13).permutation(len(y))
    x, y = x[lib.tensor(perm)], y[lib.tensor(perm)]
    stats, hists = [[] for _ in model[:-1]], [[] for _ in model[:-1]]

    def hook(i):
        def fn(m, inp, o):
            stats[i].append(lib.tensor([o.mean().item(), o.std().item(),
                                        (o <= 0.05).long().sum().item() / o.numel()]))
            hists[i].append(o.float().histc(40, 0, 10))
        return fn

    hooks = [m.register_forward_hook(hook(i)) for i, m in enumerate(model[:-1])]
    opt = lib.optim.SGD(model.parameters(), lr=0.06, momentum=0.9)
    n = len(y) // bs
    sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.06, epochs=n_epochs,
                                              steps_per_epoch=n)
    out = []
    for epoch in range(n_epochs):
        model.train()
        for k in range(n):
            loss = F.cross_entropy(model(x[k * bs:(k + 1) * bs]), y[k * bs:(k + 1) * bs])
            opt.zero_grad()
            loss.backward()
            out += [loss] + [p.grad.clone() for p in model.parameters()]
            opt.step()
            sched.step()
            out += [lib.tensor(sched.get_last_lr()), lib.tensor(opt.param_groups[0]["momentum"])]
        model.eval()
        with lib.no_grad():
            out.append((model(x).argmax(dim=1) == y).float().mean())
    for h in hooks:
        h.remove()
    model(x[:2])
    assert len(stats[0]) == n_epochs * (n + 1)
    return out + [lib.stack(s) for s in stats] + [lib.stack(h) for h in hists] + \
        list(model.state_dict().values())


@pytest.mark.parametrize("bn", [False, True])
def test_ch13_simple_cnn_batchnorm_activation_stats_one_cycle(bn):
    tm, zm = _twins(lambda lib, F: _simple_cnn(lib, F, bn))
    _compare(_cnn_fit(torch, TF, tm), _cnn_fit(zeroin, ZF, zm))


# --- chapter 17: a neural net from the foundations ----------------------------------------

A_NP, B_NP = _r.random((5, 7)), _r.random((7, 3))


def _foundations_matmul(lib, F):
    a, b = lib.tensor(A_NP), lib.tensor(B_NP)

    def matmul(a, b):
        ar, ac = a.shape
        br, bc = b.shape
        assert ac == br
        c = lib.zeros(ar, bc)
        for i in range(ar):
            for j in range(bc):
                for k in range(ac):
                    c[i, j] += a[i, k] * b[k, j]
        return c

    def matmul_elem(a, b):
        c = lib.zeros(a.shape[0], b.shape[1])
        for i in range(a.shape[0]):
            for j in range(b.shape[1]):
                c[i, j] = (a[i] * b[:, j]).sum()
        return c

    def matmul_bcast(a, b):
        c = lib.zeros(a.shape[0], b.shape[1])
        for i in range(a.shape[0]):
            c[i] = (a[i].unsqueeze(-1) * b).sum(dim=0)
        return c

    c = lib.tensor([10., 20, 30])
    m = lib.tensor([[1., 2, 3], [4, 5, 6], [7, 8, 9]])
    return [matmul(a, b), matmul_elem(a, b), matmul_bcast(a, b),
            lib.einsum('ik,kj->ij', a, b), a @ b, m + c, c.expand_as(m), c.unsqueeze(1) + m,
            c[None, :] * c[:, None], lib.einsum('ik,kj->ikj', a, b).sum(1),
            lib.einsum('bi,bj->bij', a, a), lib.einsum('ii->i', m)]


def test_ch17_matmul_loops_broadcasting_einsum():
    _compare(*_both(_foundations_matmul))


def _ch17_weights(n_in=20, nh=10):
    torch.manual_seed(17)
    x, y = torch.randn(32, n_in), torch.randn(32)
    w1, b1 = torch.randn(n_in, nh) * math.sqrt(2 / n_in), torch.zeros(nh)
    w2, b2 = torch.randn(nh, 1) * math.sqrt(2 / nh), torch.zeros(1)
    return [t.numpy() for t in (x, y, w1, b1, w2, b2)]


def lin(x, w, b):
    return x @ w + b


def relu(x):
    return x.clamp_min(0.)


def mse(output, targ):
    return (output.squeeze(-1) - targ).pow(2).mean()


def _forward_backward_by_hand(lib, F, arrays):
    x, y, w1, b1, w2, b2 = [lib.tensor(a) for a in arrays]

    def mse_grad(inp, targ):
        inp.g = 2. * (inp.squeeze() - targ).unsqueeze(-1) / inp.shape[0]

    def relu_grad(inp, out):
        inp.g = (inp > 0).float().to(inp.dtype) * out.g

    def lin_grad(inp, out, w, b):
        inp.g = out.g @ w.t()
        w.g = inp.t() @ out.g
        b.g = out.g.sum(0)

    def forward_and_backward(inp, targ):
        l1 = inp @ w1 + b1
        l2 = relu(l1)
        out = l2 @ w2 + b2
        loss = mse(out, targ)
        mse_grad(out, targ)
        lin_grad(l2, out, w2, b2)
        relu_grad(l1, l2)
        lin_grad(inp, l1, w1, b1)
        return loss

    loss = forward_and_backward(x, y)
    grads = [w1.g, b1.g, w2.g, b2.g, x.g]
    # the final check against autograd
    xt2 = x.clone().requires_grad_(True)
    ws = [w.clone().requires_grad_(True) for w in (w1, b1, w2, b2)]
    loss2 = mse(lin(relu(lin(xt2, ws[0], ws[1])), ws[2], ws[3]), y)
    loss2.backward()
    auto = [w.grad for w in ws] + [xt2.grad]
    for g, a in zip(grads, auto):
        assert lib.allclose(g, a)
    return [loss] + grads + auto


def test_ch17_forward_backward_by_hand_storing_g_and_the_autograd_check():
    arrays = _ch17_weights()
    _compare(*_both(_forward_backward_by_hand, arrays))
    x, w = torch.randn(40, 20), [torch.randn(20, 20) * math.sqrt(2 / 20) for _ in range(12)]
    res = []
    for lib, _ in LIBS:
        xs = lib.tensor(x.numpy())
        for wi in w:
            xs = relu(xs @ lib.tensor(wi.numpy()))
        res.append([xs.mean(), xs.std()])
    _compare(*res)


class LayerFunction:
    def __call__(self, *args):
        self.args = args
        self.out = self.forward(*args)
        return self.out

    def forward(self):
        raise Exception('not implemented')

    def bwd(self):
        raise Exception('not implemented')

    def backward(self):
        self.bwd(self.out, *self.args)


class Relu(LayerFunction):
    def forward(self, inp):
        return inp.clamp_min(0.)

    def bwd(self, out, inp):
        inp.g = (inp > 0).double() * out.g


class Lin(LayerFunction):
    def __init__(self, w, b):
        self.w, self.b = w, b

    def forward(self, inp):
        return inp @ self.w + self.b

    def bwd(self, out, inp):
        inp.g = out.g @ self.w.t()
        self.w.g = inp.t() @ self.out.g
        self.b.g = out.g.sum(0)


class Mse(LayerFunction):
    def forward(self, inp, targ):
        return (inp.squeeze() - targ).pow(2).mean()

    def bwd(self, out, inp, targ):
        inp.g = 2 * (inp.squeeze() - targ).unsqueeze(-1) / targ.shape[0]


class Model:
    def __init__(self, w1, b1, w2, b2):
        self.layers = [Lin(w1, b1), Relu(), Lin(w2, b2)]
        self.loss = Mse()

    def __call__(self, x, targ):
        for lay in self.layers:
            x = lay(x)
        return self.loss(x, targ)

    def backward(self):
        self.loss.backward()
        for lay in reversed(self.layers):
            lay.backward()


def _layer_function_model(lib, F, arrays):
    x, y, w1, b1, w2, b2 = [lib.tensor(a) for a in arrays]
    model = Model(w1, b1, w2, b2)
    loss = model(x, y)
    model.backward()

    class MyRelu(lib.autograd.Function):
        @staticmethod
        def forward(ctx, i):
            result = i.clamp_min(0.)
            ctx.save_for_backward(i)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            i, = ctx.saved_tensors
            return grad_output * (i > 0).float()

    nn = lib.nn

    class LinearLayer(nn.Module):
        def __init__(self, w, b):
            super().__init__()
            self.weight = nn.Parameter(w.t().clone())
            self.bias = nn.Parameter(b.clone())

        def forward(self, x):
            return x @ self.weight.t() + self.bias

    class TorchModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = LinearLayer(w1, b1), LinearLayer(w2, b2)
            self.loss = mse

        def forward(self, x, targ):
            return self.loss(self.l2(MyRelu.apply(self.l1(x))), targ)

    tm = TorchModel()
    assert [n for n, _ in tm.named_parameters()] == ["l1.weight", "l1.bias", "l2.weight",
                                                    "l2.bias"]
    seen = []
    handle = tm.l2.register_full_backward_hook(lambda m, gi, go: seen.append(go[0]))
    loss2 = tm(x, y)
    loss2.backward()
    handle.remove()
    tm(x, y).backward()             # the hook removed: nothing more recorded
    assert len(seen) == 1
    return [loss, w1.g, b1.g, w2.g, b2.g, x.g, loss2, seen[0], model.layers[-1].out.g] + \
        [p.grad / 2 for p in tm.parameters()]


def test_ch17_layer_function_classes_my_relu_function_and_nn_module():
    arrays = _ch17_weights()
    tres, zres = _both(_layer_function_model, arrays)
    _compare(tres, zres)
    _close(zres[-4], zres[1].T)                     # nn.Module's grads = the hand-written .g
    _close(zres[-2], zres[3].T)
    _close(zres[7], zres[8])                        # the hook's grad_output = the hand's out.g


# --- chapter 18: CAM and Grad-CAM with hooks ----------------------------------------------

class Hook:
    def __init__(self, m):
        self.hook = m.register_forward_hook(self.hook_func)

    def hook_func(self, m, i, o):
        self.stored = o.detach().clone()

    def __enter__(self, *args):
        return self

    def __exit__(self, *args):
        self.hook.remove()


class HookBwd:
    def __init__(self, m, full):
        register = m.register_full_backward_hook if full else m.register_backward_hook
        self.hook = register(self.hook_func)

    def hook_func(self, m, gi, go):
        self.stored = go[0].detach().clone()

    def __enter__(self, *args):
        return self

    def __exit__(self, *args):
        self.hook.remove()


def _cam(lib, F, model, full):
    x = _stacked(lib, THREES[:1]).unsqueeze(1).double()
    cls = 1
    with HookBwd(model[0], full) as hookg:
        with Hook(model[0]) as hook:
            output = model.eval()(x)
            act = hook.stored
        output[0, cls].backward()
        grad = hookg.stored
    cam_map = lib.einsum('ck,kij->cij', model[1][-1].weight, act[0])
    w = grad[0].mean(dim=[1, 2], keepdim=True)
    grad_cam = (w * act[0]).sum(0)
    return [output, act, grad, cam_map, grad_cam]


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("full", [False, True])
def test_ch18_cam_and_grad_cam_with_forward_and_backward_hooks(full):
    def build(lib, F):
        nn = lib.nn
        body = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU())
        head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))
        return nn.Sequential(body, head)

    tm, zm = _twins(build)
    tres, zres = _cam(torch, TF, tm, full), _cam(zeroin, ZF, zm, full)
    _compare(tres, zres)
    assert tuple(zres[3].shape) == (2, 7, 7)


# --- chapter 19: a fastai Learner from scratch ---------------------------------------------

_r19 = np.random.default_rng(19)
Y19 = _r19.integers(0, 3, 40)
# 16x16 RGB "photos" (HWC uint8, as PIL gives them) whose colour depends on the class
IMS19 = (_r19.integers(0, 120, (40, 16, 16, 3))
         + 100 * (np.arange(3)[None, None, None, :] == Y19[:, None, None, None])).astype(np.uint8)


class CancelFitException(Exception):
    pass


def _learner_from_scratch(lib, F, weights, cbs_kind):
    """Chapter 19's code, run with ``lib``; ``weights`` (torch's, as arrays) replace the
    book's random init after it ran."""
    Tensor, nn = lib.Tensor, lib.nn

    class Dataset:
        def __init__(self, idxs):
            self.idxs = idxs

        def __len__(self):
            return len(self.idxs)

        def __getitem__(self, i):
            i = self.idxs[i]
            return lib.tensor(IMS19[i]).float() / 255, lib.tensor(Y19[i])

    def collate(idxs, ds):
        xb, yb = zip(*[ds[i] for i in idxs])
        return lib.stack(xb), lib.stack(yb)

    class DataLoader:
        def __init__(self, ds, bs=8, shuffle=False):
            self.ds, self.bs, self.shuffle = ds, bs, shuffle

        def __len__(self):
            return (len(self.ds) - 1) // self.bs + 1

        def __iter__(self):
            idxs = list(range(len(self.ds)))
            chunks = [idxs[n:n + self.bs] for n in range(0, len(self.ds), self.bs)]
            yield from (collate(c, self.ds) for c in chunks)

    class DataLoaders:
        def __init__(self, *dls):
            self.train, self.valid = dls

    dls = DataLoaders(DataLoader(Dataset(range(32))), DataLoader(Dataset(range(32, 40))))
    xb, yb = next(iter(dls.train))
    assert tuple(xb.shape) == (8, 16, 16, 3) and xb.dtype == lib.float32
    stats = [xb.mean((0, 1, 2)), xb.std((0, 1, 2))]

    class Normalize:
        def __init__(self, stats):
            self.stats = stats

        def __call__(self, x):
            if x.device != self.stats[0].device:
                self.stats = [s.to(x.device) for s in self.stats]
            return (x - self.stats[0]) / self.stats[1]

    norm = Normalize(stats)

    def tfm_x(x):
        return norm(x).permute((0, 3, 1, 2))

    t = tfm_x(xb)
    out = stats + [t.mean((0, 2, 3)), t.std((0, 2, 3))]

    class Parameter(Tensor):
        def __new__(self, x):
            return Tensor._make_subclass(Parameter, x, True)

        def __init__(self, *args, **kwargs):
            self.requires_grad_()

    class Module:
        def __init__(self):
            self.hook, self.params, self.children, self._training = None, [], [], False

        def register_parameters(self, *ps):
            self.params += ps

        def register_modules(self, *ms):
            self.children += ms

        @property
        def training(self):
            return self._training

        @training.setter
        def training(self, v):
            self._training = v
            for m in self.children:
                m.training = v

        def parameters(self):
            return self.params + sum([m.parameters() for m in self.children], [])

        def __setattr__(self, k, v):
            super().__setattr__(k, v)
            if isinstance(v, Parameter):
                self.register_parameters(v)
            if isinstance(v, Module):
                self.register_modules(v)

        def __call__(self, *args, **kwargs):
            res = self.forward(*args, **kwargs)
            if self.hook is not None:
                self.hook(res, args)
            return res

    class ConvLayer(Module):
        def __init__(self, ni, nf, stride=1, bias=True, act=True):
            super().__init__()
            self.w = Parameter(lib.zeros(nf, ni, 3, 3))
            self.b = Parameter(lib.zeros(nf)) if bias else None
            self.act, self.stride = act, stride
            init = nn.init.kaiming_normal_ if act else nn.init.xavier_normal_
            init(self.w)

        def forward(self, x):
            x = F.conv2d(x, self.w, self.b, stride=self.stride, padding=1)
            if self.act:
                x = F.relu(x)
            return x

    class Linear(Module):
        def __init__(self, ni, nf):
            super().__init__()
            self.w = Parameter(lib.zeros(nf, ni))
            self.b = Parameter(lib.zeros(nf))
            nn.init.xavier_normal_(self.w)

        def forward(self, x):
            return x @ self.w.t() + self.b

    class Sequential(Module):
        def __init__(self, *layers):
            super().__init__()
            self.layers = layers
            self.register_modules(*layers)

        def forward(self, x):
            for lay in self.layers:
                x = lay(x)
            return x

    class AdaptivePool(Module):
        def forward(self, x):
            return x.mean((2, 3))

    def simple_cnn():
        return Sequential(ConvLayer(3, 8, stride=2), ConvLayer(8, 16, stride=2),
                          ConvLayer(16, 3, act=False), AdaptivePool())

    m = simple_cnn()
    assert len(m.parameters()) == 6 and all(isinstance(p, Parameter) for p in m.parameters())
    assert all(p.requires_grad and p.is_leaf for p in m.parameters())
    lin = Linear(4, 2)
    assert [tuple(p.shape) for p in lin.parameters()] == [(2, 4), (2,)]
    for p, w in zip(m.parameters(), weights):
        p.data.copy_(lib.tensor(w))
    rec = []
    m.layers[0].hook = lambda res, args: rec.append(res.mean())

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    def log_softmax(x):
        return x - x.logsumexp(-1, keepdim=True)

    def logsumexp(x):
        m = x.max(-1)[0]
        return m + (x - m[:, None]).exp().sum(-1).log()

    def cross_entropy(preds, yb):
        return nll(log_softmax(preds), yb).mean()

    preds = m(tfm_x(xb))
    out += [cross_entropy(preds, yb), logsumexp(preds), F.cross_entropy(preds, yb),
            (preds - logsumexp(preds)[:, None]).exp().sum(-1)]

    class SGD:
        def __init__(self, params, lr, wd=0.):
            self.params, self.lr, self.wd = params, lr, wd

        def step(self):
            for p in self.params:
                p.data -= (p.grad.data + p.data * self.wd) * self.lr
                p.grad.data.zero_()

    class Learner:
        def __init__(self, model, dls, loss_func, lr, cbs, opt_func=SGD):
            self.model, self.dls, self.loss_func = model, dls, loss_func
            self.lr, self.cbs, self.opt_func = lr, cbs, opt_func
            for cb in cbs:
                cb.learner = self

        def one_batch(self):
            self('before_batch')
            xb, yb = self.batch
            self.preds = self.model(xb)
            self.loss = self.loss_func(self.preds, yb)
            if self.model.training:
                self.loss.backward()
                self.opt.step()
            self('after_batch')

        def one_epoch(self, train):
            self.model.training = train
            self('before_epoch')
            dl = self.dls.train if train else self.dls.valid
            for self.num, self.batch in enumerate(dl):
                self.one_batch()
            self('after_epoch')

        def fit(self, n_epochs):
            self('before_fit')
            self.opt = self.opt_func(self.model.parameters(), self.lr)
            self.n_epochs = n_epochs
            try:
                for self.epoch in range(n_epochs):
                    self.one_epoch(True)
                    self.one_epoch(False)
            except CancelFitException:
                pass
            self('after_fit')

        def __call__(self, name):
            for cb in self.cbs:
                getattr(cb, name, lambda: None)()

    class Callback:
        def __getattr__(self, k):           # fastcore's GetAttr with _default='learner'
            if k == "learner":
                raise AttributeError(k)
            return getattr(self.learner, k)

    class SetupLearnerCB(Callback):
        def before_batch(self):
            xb, yb = self.batch
            self.learner.batch = tfm_x(xb), yb

    class TrackResults(Callback):
        def before_fit(self):
            self.epochs = []

        def before_epoch(self):
            self.accs, self.losses, self.ns = [], [], []

        def after_epoch(self):
            n = sum(self.ns)
            self.epochs.append(lib.tensor([sum(self.losses).item() / n,
                                           sum(self.accs).item() / n]))

        def after_batch(self):
            xb, yb = self.batch
            acc = (self.preds.argmax(dim=1) == yb).float().sum()
            self.accs.append(acc)
            n = len(xb)
            self.losses.append(self.loss * n)
            self.ns.append(n)

    class LRFinder(Callback):
        def before_fit(self):
            self.losses, self.lrs = [], []
            self.learner.lr = 0.05

        def before_batch(self):
            if not self.model.training:
                return
            self.opt.lr *= 1.2

        def after_batch(self):
            if not self.model.training:
                return
            if self.opt.lr > 10 or lib.isnan(self.loss):
                raise CancelFitException
            self.losses.append(self.loss.item())
            self.lrs.append(self.opt.lr)

    class OneCycle(Callback):
        def __init__(self, base_lr):
            self.base_lr = base_lr

        def before_fit(self):
            self.lrs = []

        def before_batch(self):
            if not self.model.training:
                return
            n = len(self.dls.train)
            bn = self.epoch * n + self.num
            mn = self.n_epochs * n
            pct = bn / mn
            pct_start, div_start = 0.25, 10
            if pct < pct_start:
                pct /= pct_start
                lr = (1 - pct) * self.base_lr / div_start + pct * self.base_lr
            else:
                pct = (pct - pct_start) / (1 - pct_start)
                lr = (1 - pct) * self.base_lr
            self.opt.lr = lr
            self.lrs.append(lr)

    track = TrackResults()
    sched = LRFinder() if cbs_kind == "lr_find" else OneCycle(0.1)
    learn = Learner(m, dls, cross_entropy, lr=0.1, cbs=[SetupLearnerCB(), track, sched])
    learn.fit(3 if cbs_kind == "one_cycle" else 40)
    assert sched.lrs and len(rec) > len(sched.lrs)
    if cbs_kind == "lr_find":
        assert sched.lrs[-1] <= 10 < sched.lrs[-1] * 1.2 and learn.epoch < 39
    return out + track.epochs + [lib.tensor(sched.lrs)] + m.parameters() + [rec[-1]] + \
        ([lib.tensor(sched.losses)] if cbs_kind == "lr_find" else [])


@pytest.mark.parametrize("cbs_kind", ["one_cycle", "lr_find"])
def test_ch19_learner_from_scratch_parameter_subclass_callbacks(book32, cbs_kind):
    torch.manual_seed(19)
    weights = [torch.randn(8, 3, 3, 3) * 0.3, torch.zeros(8), torch.randn(16, 8, 3, 3) * 0.15,
               torch.zeros(16), torch.randn(3, 16, 3, 3) * 0.1, torch.zeros(3)]
    weights = [w.numpy() for w in weights]
    _compare(*_both(_learner_from_scratch, weights, cbs_kind), rtol=2e-5, atol=2e-5)


def test_ch19_make_subclass_refuses_what_torch_refuses():
    class P(zeroin.Tensor):
        pass

    with pytest.raises(TypeError, match="must be a Tensor"):
        zeroin.Tensor._make_subclass(P, [1., 2.])
    with pytest.raises(TypeError, match="does not inherit from Tensor"):
        zeroin.Tensor._make_subclass(int, zeroin.ones(2))
    with pytest.raises(RuntimeError, match="only floating-point"):
        zeroin.Tensor._make_subclass(P, zeroin.tensor([1, 2]), True)
    x = zeroin.ones(3, requires_grad=True) * 2
    p = zeroin.Tensor._make_subclass(P, x)
    assert type(p) is P and p.is_leaf and not p.requires_grad and p.grad_fn is None
    p.data[0] = 5.
    assert x[0].item() == 5.                        # shares the memory, as torch's
    tp = torch.Tensor._make_subclass(torch.Tensor, torch.ones(3) * 2)
    assert tp.is_leaf and not tp.requires_grad
    for lib in (torch, zeroin):                     # prints under its own name, as torch's
        class Q(lib.Tensor):
            pass

        q = lib.Tensor._make_subclass(Q, lib.ones(2, 2), True)
        assert repr(q) == "Q([[1., 1.],\n   [1., 1.]], requires_grad=True)"
        assert repr(lib.ones(2)) == "tensor([1., 1.])"


def _lstm_cell_and_dropout_by_hand(lib, F, p=0.4):
    nn = lib.nn

    class LSTMCell(nn.Module):
        def __init__(self, ni, nh):
            super().__init__()
            self.ih = nn.Linear(ni, 4 * nh)
            self.hh = nn.Linear(nh, 4 * nh)

        def forward(self, input, state):
            h, c = state
            gates = (self.ih(input) + self.hh(h)).chunk(4, 1)
            ingate, forgetgate, outgate = map(lib.sigmoid, gates[:3])
            cellgate = gates[3].tanh()
            c = (forgetgate * c) + (ingate * cellgate)
            h = outgate * c.tanh()
            return h, (h, c)

    class Dropout(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training:
                return x
            mask = x.new(*x.shape).bernoulli_(1 - p)
            return x * mask.div_(1 - p)

    return LSTMCell(5, NH), Dropout(p)


def test_ch12_lstm_cell_and_dropout_from_scratch():
    torch_stream()          # the book's Dropout draws bernoulli_: torch's numbers
    torch.manual_seed(0)
    tcell, tdrop = _lstm_cell_and_dropout_by_hand(torch, TF)
    zcell, zdrop = _lstm_cell_and_dropout_by_hand(zeroin, ZF)
    copy_weights(tcell, zcell)
    res = []
    for lib, cell, drop in ((torch, tcell, tdrop), (zeroin, zcell, zdrop)):
        lib.manual_seed(3)
        xs = lib.tensor(np.random.default_rng(4).standard_normal((SL, BS, 5)))
        state = (lib.zeros(BS, NH), lib.zeros(BS, NH))
        outs = []
        for x in xs:
            h, state = cell(x, state)
            outs.append(drop(h))
        loss = lib.stack(outs).pow(2).mean()
        loss.backward()
        drop.eval()
        assert drop(h) is h
        res.append([loss, lib.stack(outs), state[1]] + [p.grad for p in cell.parameters()])
    _compare(*res)
    assert (res[1][1] == 0).float().mean().item() > 0.2


def test_ch19_kaiming_and_xavier_init_of_the_subclass_on_the_torch_stream(book32):
    res = []
    for lib, _ in LIBS:
        if lib is zeroin:
            torch_stream()

        class Parameter(lib.Tensor):
            def __new__(self, x, lib=lib):
                return lib.Tensor._make_subclass(Parameter, x, True)

            def __init__(self, *args, **kwargs):
                self.requires_grad_()

        lib.manual_seed(19)
        w = Parameter(lib.zeros(8, 3, 3, 3))
        lib.nn.init.kaiming_normal_(w)
        v = Parameter(lib.zeros(3, 16))
        lib.nn.init.xavier_normal_(v)
        assert type(w) is Parameter and w.requires_grad and w.is_leaf
        res.append([w, v, lib.randn(3)])
    _compare(*res, rtol=0, atol=0)
