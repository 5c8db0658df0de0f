"""Audit against Andrej Karpathy's "Neural Networks: Zero to Hero" makemore lectures, parts 1-5
(bigram, MLP, activations and BatchNorm, backprop ninja, WaveNet): each part's main code as a
learner ports the notebook (``import zeroin as torch``, ``import zeroin.nn.functional as F``),
run with ``torch`` and with ``zeroin`` on the same names and the same weights (drawn by torch's
generator and copied, since zeroin's random numbers are NumPy's), compared to float resolution
in float32 (the lectures' dtype: those tests set zeroin's default to float32) and to 1e-10 in
float64. The names are a short list written here. See docs/makemore.md."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as ZF
from _audit import np_of as _np

torch = pytest.importorskip("torch")
TF = torch.nn.functional
LIBS = ((torch, TF), (zeroin, ZF))

WORDS = ["emma", "olivia", "ava", "isabella", "sophia", "charlotte", "mia", "amelia", "harper",
         "evelyn", "abigail", "emily", "elizabeth", "mila", "ella", "avery", "sofia", "camila",
         "aria", "scarlett", "victoria", "madison", "luna", "grace", "chloe", "penelope",
         "layla", "riley", "zoey", "nora", "lily", "eleanor", "hannah", "lillian", "addison",
         "aubrey", "ellie", "stella", "natalie", "zoe", "leah", "hazel", "violet", "aurora",
         "savannah", "audrey", "brooklyn", "bella", "claire", "skylar", "quinn", "jade", "wynn",
         "xena", "kay", "fuji", "jo", "tyg"]
CHARS = sorted(set("".join(WORDS)))
STOI = {s: i + 1 for i, s in enumerate(CHARS)}
STOI["."] = 0
ITOS = {i: s for s, i in STOI.items()}
F32 = dict(rtol=1e-5, atol=1e-6)        # float32 after a few steps of training
F64 = dict(rtol=1e-10, atol=1e-12)


def _close(z, t, **tol):
    np.testing.assert_allclose(_np(z), _np(t), **(tol or F64))


@pytest.fixture(autouse=True)
def _torch_default_dtype():
    """The float64 runs set torch's default dtype too: put it back even when a test fails
    (conftest puts zeroin's back)."""
    yield
    torch.set_default_dtype(torch.float32)


def test_the_names_cover_the_alphabet():
    assert len(CHARS) == 26 and len(ITOS) == 27


# --- part 1: the bigram model ----------------------------------------------------------------

def _bigram_counts(torch):
    N = torch.zeros((27, 27), dtype=torch.int32)
    for w in WORDS:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            ix1 = STOI[ch1]
            ix2 = STOI[ch2]
            N[ix1, ix2] += 1
    return N


def _bigram_nll(torch, P):
    log_likelihood = 0.0
    n = 0
    for w in WORDS:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            prob = P[STOI[ch1], STOI[ch2]]
            logprob = torch.log(prob)
            log_likelihood += logprob
            n += 1
    nll = -log_likelihood
    return nll / n


def test_part1_counts_probabilities_and_likelihood(f32):
    out = {}
    for lib, _ in LIBS:
        N = _bigram_counts(lib)
        assert N.dtype == lib.int32 and N[0].sum().item() == len(WORDS)
        p = N[0].float()
        p = p / p.sum()
        P = (N + 1).float()
        P /= P.sum(1, keepdims=True)                    # NumPy's spelling, which torch takes
        assert tuple(P.sum(1, keepdim=True).shape) == (27, 1) and P.dtype == lib.float32
        out[lib] = N, p, P, _bigram_nll(lib, P)
    (zN, zp, zP, znll), (tN, tp, tP, tnll) = out[zeroin], out[torch]
    assert (_np(zN) == _np(tN)).all()
    for z, t in [(zp, tp), (zP, tP), (znll, tnll)]:
        _close(z, t, rtol=2e-7, atol=1e-7)
    assert znll.dtype == zeroin.float32 and 2.0 < znll.item() < 3.0
    # the broadcasting bug the lecture shows: P.sum(1) is (27,), so it divides the columns
    wrong = {}
    for lib, (N, _, _, _) in out.items():
        P = (N + 1).float()
        wrong[lib] = P / P.sum(1)
    _close(wrong[zeroin], wrong[torch], rtol=2e-7, atol=1e-7)
    assert not np.allclose(_np(wrong[zeroin]).sum(1), 1.0)


def _sample_bigram(torch, P, g, n):
    names = []
    for _ in range(n):
        out = []
        ix = 0
        while True:
            p = P[ix]
            ix = torch.multinomial(p, num_samples=1, replacement=True, generator=g).item()
            out.append(ITOS[ix])
            if ix == 0:
                break
        names.append("".join(out))
    return names


def test_part1_sampling_with_a_seeded_generator(f32):
    """The lecture's sampling loop runs and repeats with the same seed; the draws follow p
    (zeroin's numbers are NumPy's, so the names are not the video's)."""
    P = (_bigram_counts(zeroin) + 1).float()
    P /= P.sum(1, keepdims=True)
    g = zeroin.Generator().manual_seed(2147483647)
    names = _sample_bigram(zeroin, P, g, 5)
    assert names == _sample_bigram(zeroin, P, zeroin.Generator().manual_seed(2147483647), 5)
    assert all(n.endswith(".") and set(n) <= set(STOI) for n in names)
    p = zeroin.rand(3, generator=zeroin.Generator().manual_seed(2147483647))
    p = p / p.sum()
    draws = zeroin.multinomial(p, num_samples=20000, replacement=True,
                               generator=zeroin.Generator().manual_seed(2147483647))
    assert draws.dtype == zeroin.int64
    freq = np.bincount(_np(draws), minlength=3) / 20000
    np.testing.assert_allclose(freq, _np(p), atol=0.015)


def _bigram_data(torch):
    xs, ys = [], []
    for w in WORDS:
        chs = ["."] + list(w) + ["."]
        for ch1, ch2 in zip(chs, chs[1:]):
            xs.append(STOI[ch1])
            ys.append(STOI[ch2])
    return torch.tensor(xs), torch.tensor(ys)


def _bigram_net(torch, F, W0, steps):
    xs, ys = _bigram_data(torch)
    num = xs.nelement()
    W = torch.tensor(W0, requires_grad=True)
    losses = []
    for _ in range(steps):
        xenc = F.one_hot(xs, num_classes=27).float()
        logits = xenc @ W                               # log-counts
        counts = logits.exp()
        probs = counts / counts.sum(1, keepdims=True)
        loss = -probs[torch.arange(num), ys].log().mean() + 0.01 * (W**2).mean()
        losses.append(loss.item())
        W.grad = None
        loss.backward()
        W.data += -50 * W.grad
    return losses, W, probs


def test_part1_neural_bigram_trains_as_torchs(f32):
    g = torch.Generator().manual_seed(2147483647)
    W = torch.randn((27, 27), generator=g, requires_grad=True)
    zW = zeroin.randn((27, 27), generator=zeroin.Generator().manual_seed(2147483647),
                      requires_grad=True)
    assert zW.dtype == zeroin.float32 and zW.requires_grad and tuple(zW.shape) == (27, 27)
    xs, _ = _bigram_data(zeroin)
    xenc = ZF.one_hot(xs, num_classes=27).float()
    assert xenc.dtype == zeroin.float32 and tuple(xenc.shape) == (xs.nelement(), 27)
    tl, tW, tprobs = _bigram_net(torch, TF, W.detach().numpy(), 8)
    zl, zW, zprobs = _bigram_net(zeroin, ZF, W.detach().numpy(), 8)
    assert isinstance(zl[0], float) and zl[-1] < zl[0]
    np.testing.assert_allclose(zl, tl, **F32)
    _close(zW, tW, **F32)
    _close(zprobs, tprobs, **F32)
    assert zW.grad.dtype == zeroin.float32


# --- part 2: the MLP ---------------------------------------------------------------------------

def _build_dataset(torch, words, block_size=3):
    X, Y = [], []
    for w in words:
        context = [0] * block_size
        for ch in w + ".":
            ix = STOI[ch]
            X.append(context)
            Y.append(ix)
            context = context[1:] + [ix]
    return torch.tensor(X), torch.tensor(Y)


def test_part2_embedding_lookup_and_concatenation(f32):
    Ct = torch.randn((27, 2))
    for lib, F in LIBS:
        X, _ = _build_dataset(lib, WORDS)
        C = lib.tensor(Ct.numpy())
        assert X.dtype == lib.int64 and C.dtype == lib.float32
        _close(C[5], F.one_hot(lib.tensor(5), num_classes=27).float() @ C, rtol=1e-7)
        assert tuple(C[[5, 6, 7]].shape) == (3, 2)
        assert tuple(C[lib.tensor([5, 6, 7, 7, 7])].shape) == (5, 2)
        emb = C[X]
        assert tuple(emb.shape) == (X.shape[0], 3, 2)
        assert (emb[13, 2] == C[X[13, 2]]).all()
        cat = lib.cat([emb[:, 0, :], emb[:, 1, :], emb[:, 2, :]], 1)
        assert (lib.cat(lib.unbind(emb, 1), 1) == cat).all()
        assert (emb.view(-1, 6) == cat).all() and (emb.view(emb.shape[0], -1) == cat).all()
        a = lib.arange(18)
        assert tuple(a.view(3, 3, 2).shape) == (3, 3, 2)
        assert a.view(2, 9).flatten().tolist() == list(range(18))
    # the lecture's a.storage(); on zeroin only: torch's deprecation warning comes once a
    # process, and test_pytorch_parity_inplace compares it with zeroin's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # "TypedStorage is deprecated", as torch
        assert list(zeroin.arange(18).view(2, 9).storage()) == list(range(18))


def _mlp_init(g, block_size=3, n_embd=10, n_hidden=200):
    return [torch.randn(s, generator=g).numpy() for s in
            [(27, n_embd), (n_embd * block_size, n_hidden), (n_hidden,), (n_hidden, 27), (27,)]]


def _mlp_train(torch, F, arrays, Xtr, Ytr, batches, lrs):
    C, W1, b1, W2, b2 = [torch.tensor(a) for a in arrays]
    parameters = [C, W1, b1, W2, b2]
    assert sum(p.nelement() for p in parameters) == sum(p.numel() for p in parameters)
    for p in parameters:
        p.requires_grad = True
    lossi = []
    for i, ix in enumerate(batches):
        ix = torch.tensor(ix)
        emb = C[Xtr[ix]]                                  # (32, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)        # (32, 200)
        logits = h @ W2 + b2                              # (32, 27)
        loss = F.cross_entropy(logits, Ytr[ix])
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = lrs[i]
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
    return lossi, parameters


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part2_mlp_training_split_loss_and_sampling(dtype):
    import random
    words = list(WORDS)
    random.seed(42)
    random.shuffle(words)
    n1, n2 = int(0.8 * len(words)), int(0.9 * len(words))
    arrays = [a.astype(dtype) for a in _mlp_init(torch.Generator().manual_seed(2147483647))]
    Xt, _ = _build_dataset(torch, words[:n1])
    torch.manual_seed(0)
    batches = [torch.randint(0, Xt.shape[0], (32,)).numpy() for _ in range(12)]
    res = {}
    for lib, F in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
        Xtr, Ytr = _build_dataset(lib, words[:n1])
        Xdev, Ydev = _build_dataset(lib, words[n1:n2])
        lre = lib.linspace(-3, 0, 1000)
        lrs = 10**lre                                     # the learning rates tried
        assert lrs.dtype == getattr(lib, dtype)
        # (the rates near 1 make the run chaotic: float rounding grows 10x a step)
        lossi, params = _mlp_train(lib, F, arrays, Xtr, Ytr, batches, [0.1] * 12)
        C, W1, b1, W2, b2 = params

        @lib.no_grad()
        def split_loss(x, y):
            emb = C[x]
            h = lib.tanh(emb.view(-1, 30) @ W1 + b1)
            loss = F.cross_entropy(h @ W2 + b2, y)
            assert not loss.requires_grad
            return loss.item()

        emb = C[lib.tensor([[0, 0, 0]])]
        probs = F.softmax(lib.tanh(emb.view(1, -1) @ W1 + b1) @ W2 + b2, dim=1)
        res[lib] = lrs, lossi, split_loss(Xtr, Ytr), split_loss(Xdev, Ydev), probs, C
    torch.set_default_dtype(torch.float32)
    for k, (z, t) in enumerate(zip(res[zeroin], res[torch])):
        # float32: the lecture's randn init gives logits near 30, whose rounding grows with
        # each step (float64 shows the same code to 1e-10)
        tol = F64 if dtype == "float64" else F32 if k < 2 else dict(rtol=1e-3, atol=1e-5)
        _close(z, t, **tol)
    probs = res[zeroin][4]
    g = zeroin.Generator().manual_seed(2147483647 + 10)
    ix = zeroin.multinomial(probs, num_samples=1, generator=g).item()
    assert isinstance(ix, int) and 0 <= ix < 27


# --- part 3: activations, gradients, BatchNorm --------------------------------------------------

def _part3_init(g, n_embd=10, n_hidden=64, block_size=3):
    fan_in = n_embd * block_size
    return dict(C=torch.randn((27, n_embd), generator=g),
                W1=torch.randn((fan_in, n_hidden), generator=g) * (5 / 3) / (fan_in**0.5),
                W2=torch.randn((n_hidden, 27), generator=g) * 0.01,
                b2=torch.randn(27, generator=g) * 0)


def _part3_train(torch, F, init, Xtr, Ytr, batches):
    C, W1, W2, b2 = [torch.tensor(init[k].numpy()) for k in ("C", "W1", "W2", "b2")]
    n_hidden = W1.shape[1]
    bngain = torch.ones((1, n_hidden))
    bnbias = torch.zeros((1, n_hidden))
    bnmean_running = torch.zeros((1, n_hidden))
    bnstd_running = torch.ones((1, n_hidden))
    parameters = [C, W1, W2, b2, bngain, bnbias]
    for p in parameters:
        p.requires_grad = True
    lossi = []
    for ix in batches:
        Xb, Yb = Xtr[ix], Ytr[ix]
        emb = C[Xb]
        embcat = emb.view(emb.shape[0], -1)
        hpreact = embcat @ W1
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = bngain * (hpreact - bnmeani) / bnstdi + bnbias
        with torch.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = torch.tanh(hpreact)
        loss = F.cross_entropy(h @ W2 + b2, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -0.1 * p.grad
        lossi.append(loss.log10().item())
    assert not bnmean_running.requires_grad and not bnstd_running.requires_grad
    dead = (h.abs() > 0.97).float().mean().item()
    hy, hx = torch.histogram(h.detach(), 20, density=True)
    with torch.no_grad():                   # evaluation with the running statistics
        hpreact = C[Xtr].view(Xtr.shape[0], -1) @ W1
        hpreact = bngain * (hpreact - bnmean_running) / bnstd_running + bnbias
        val = F.cross_entropy(torch.tanh(hpreact) @ W2 + b2, Ytr).item()
    return [lossi, dead, hy, hx, bnmean_running, bnstd_running, val,
            h.view(-1).tolist()] + parameters


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part3_batchnorm_by_hand_with_running_statistics(dtype):
    init = _part3_init(torch.Generator().manual_seed(2147483647))
    init = {k: v.to(getattr(torch, dtype)) for k, v in init.items()}
    Xt, _ = _build_dataset(torch, WORDS)
    g = torch.Generator().manual_seed(1)
    batches = [torch.randint(0, Xt.shape[0], (32,), generator=g).numpy() for _ in range(8)]
    res = {}
    for lib, F in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
        Xtr, Ytr = _build_dataset(lib, WORDS)
        res[lib] = _part3_train(lib, F, init, Xtr, Ytr, [lib.tensor(b) for b in batches])
    torch.set_default_dtype(torch.float32)
    assert res[zeroin][2].dtype == getattr(zeroin, dtype) and 0 <= res[zeroin][1] < 1
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t, **(F32 if dtype == "float32" else F64))


def test_part3_kaiming_scale_and_the_statistics_shown():
    for lib, _ in LIBS:
        assert lib.nn.init.calculate_gain("tanh") == 5 / 3
        w = lib.nn.init.kaiming_normal_(lib.empty(200, 30), mode="fan_in", nonlinearity="tanh")
        assert 0.25 < w.std().item() < 0.36             # (5/3) / 30**0.5 = 0.304
    x = np.random.default_rng(0).standard_normal((1000, 10)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((10, 200)).astype(np.float32)
    out = {}
    for lib, _ in LIBS:
        xt, wt = lib.tensor(x), lib.tensor(w) / 10**0.5
        y = xt @ wt
        out[lib] = [xt.mean(), xt.std(), y.mean(), y.std(), -lib.tensor(1 / 27.0).log()]
        assert out[lib][3].dtype == lib.float32
    for z, t in zip(out[zeroin], out[torch]):
        _close(z, t, rtol=1e-6, atol=1e-7)


def _modules(torch):
    """The lectures' hand-written layers (part 3, and part 5's Embedding, FlattenConsecutive,
    Sequential, and BatchNorm1d over (0, 1) for 3-D input), as written there."""

    class Linear:
        def __init__(self, fan_in, fan_out, bias=True):
            self.weight = torch.randn((fan_in, fan_out)) / fan_in**0.5
            self.bias = torch.zeros(fan_out) if bias else None

        def __call__(self, x):
            self.out = x @ self.weight
            if self.bias is not None:
                self.out += self.bias
            return self.out

        def parameters(self):
            return [self.weight] + ([] if self.bias is None else [self.bias])

    class BatchNorm1d:
        def __init__(self, dim, eps=1e-5, momentum=0.1):
            self.eps, self.momentum, self.training = eps, momentum, True
            self.gamma, self.beta = torch.ones(dim), torch.zeros(dim)
            self.running_mean, self.running_var = torch.zeros(dim), torch.ones(dim)

        def __call__(self, x):
            if self.training:
                dim = 0 if x.ndim == 2 else (0, 1)
                xmean = x.mean(dim, keepdim=True)
                xvar = x.var(dim, keepdim=True)
            else:
                xmean, xvar = self.running_mean, self.running_var
            xhat = (x - xmean) / torch.sqrt(xvar + self.eps)
            self.out = self.gamma * xhat + self.beta
            if self.training:
                with torch.no_grad():
                    m = self.momentum
                    self.running_mean = (1 - m) * self.running_mean + m * xmean
                    self.running_var = (1 - m) * self.running_var + m * xvar
            return self.out

        def parameters(self):
            return [self.gamma, self.beta]

    class Tanh:
        def __call__(self, x):
            self.out = torch.tanh(x)
            return self.out

        def parameters(self):
            return []

    class Embedding:
        def __init__(self, num_embeddings, embedding_dim):
            self.weight = torch.randn((num_embeddings, embedding_dim))

        def __call__(self, IX):
            self.out = self.weight[IX]
            return self.out

        def parameters(self):
            return [self.weight]

    class FlattenConsecutive:
        def __init__(self, n):
            self.n = n

        def __call__(self, x):
            B, T, C = x.shape
            x = x.view(B, T // self.n, C * self.n)
            if x.shape[1] == 1:
                x = torch.squeeze(x, dim=1)
            self.out = x
            return self.out

        def parameters(self):
            return []

    class Sequential:
        def __init__(self, layers):
            self.layers = layers

        def __call__(self, x):
            for layer in self.layers:
                x = layer(x)
            self.out = x
            return self.out

        def parameters(self):
            return [p for layer in self.layers for p in layer.parameters()]

    return Linear, BatchNorm1d, Tanh, Embedding, FlattenConsecutive, Sequential


def _copy_params(lib, params, arrays):
    """Torch's initial weights into the zeroin layers (zeroin's random numbers differ)."""
    with lib.no_grad():
        for p, a in zip(params, arrays):
            p.copy_(lib.tensor(a))


def _deep_mlp(torch, n_embd=10, n_hidden=32, block_size=3):
    Linear, BatchNorm1d, Tanh, _, _, _ = _modules(torch)
    C = torch.randn((27, n_embd))
    layers = [Linear(n_embd * block_size, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
              Linear(n_hidden, n_hidden, bias=False), BatchNorm1d(n_hidden), Tanh(),
              Linear(n_hidden, 27, bias=False), BatchNorm1d(27)]
    return layers, [C] + [p for layer in layers for p in layer.parameters()]


def _train_deep_mlp(torch, layers, parameters, Xtr, Ytr, batches):
    Linear = type(layers[0])
    C = parameters[0]
    with torch.no_grad():
        layers[-1].gamma *= 0.1                   # last layer: less confident
        for layer in layers[:-1]:
            if isinstance(layer, Linear):
                layer.weight *= 5 / 3
    for p in parameters:
        p.requires_grad = True
    ud, lossi = [], []
    for ix in batches:
        Xb, Yb = Xtr[ix], Ytr[ix]
        x = C[Xb].view(len(ix), -1)
        for layer in layers:
            x = layer(x)
        loss = torch.nn.functional.cross_entropy(x, Yb)
        for layer in layers:
            layer.out.retain_grad()
        for p in parameters:
            p.grad = None
        loss.backward()
        lr = 0.1
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())
        with torch.no_grad():
            ud.append([((lr * p.grad).std() / p.data.std()).log10().item() for p in parameters])
    return lossi, ud


def _layer_stats(torch, layers, parameters):
    """The lecture's statistics of each Tanh's output and gradient, and of each weight's
    gradient (the plots' numbers; its print uses '%+.2f' % t.mean() and the like)."""
    Tanh = type(layers[2])
    out = []
    for layer in layers[:-1]:
        if isinstance(layer, Tanh):
            t = layer.out
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # both warn: a float of a tensor needing grad
                line = "mean %+.2f, std %.2f, saturated: %.2f%%" % (
                    t.mean(), t.std(), (t.abs() > 0.97).float().mean() * 100)
            hy, hx = torch.histogram(t, density=True)
            out += [line, hy, hx[:-1].detach(), t.grad.mean(), t.grad.std()]
    for p in parameters:
        if p.ndim == 2:
            out += [tuple(p.shape), p.grad.mean(), p.grad.std(), p.grad.std() / p.std()]
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part3_hand_written_layers_stats_and_update_ratios(dtype):
    Xt, _ = _build_dataset(torch, WORDS)
    g = torch.Generator().manual_seed(3)
    batches = [torch.randint(0, Xt.shape[0], (32,), generator=g).tolist() for _ in range(6)]
    res = {}
    for lib, _ in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
        Xtr, Ytr = _build_dataset(lib, WORDS)
        torch.manual_seed(42)
        layers, params = _deep_mlp(lib)
        if lib is torch:
            arrays = [p.numpy().copy() for p in params]
        else:
            _copy_params(lib, params, arrays)
        lossi, ud = _train_deep_mlp(lib, layers, params, Xtr, Ytr,
                                    [lib.tensor(b) for b in batches])
        assert all(isinstance(r, float) for r in ud[0]) and len(ud[0]) == 1 + 3 + 3 * 2
        res[lib] = [lossi, ud] + params + _layer_stats(lib, layers, params)
    torch.set_default_dtype(torch.float32)
    # float32: six steps through five batch-normed tanh layers carry the matmuls' last bits
    # (torch's and NumPy's kernels round apart: 3e-5 on an AMD EPYC running torch's AVX512)
    f32 = {"rtol": 1e-4, "atol": 1e-5}
    for z, t in zip(res[zeroin], res[torch]):
        if isinstance(z, (str, tuple)):
            assert z == t
        else:
            _close(z, t, **(f32 if dtype == "float32" else F64))


# --- part 4: becoming a backprop ninja ---------------------------------------------------------

def _ninja_init(g, n_embd=10, n_hidden=64, block_size=3):
    fan_in = n_embd * block_size
    return [torch.randn((27, n_embd), generator=g),
            torch.randn((fan_in, n_hidden), generator=g) * (5 / 3) / (fan_in**0.5),
            torch.randn(n_hidden, generator=g) * 0.1,
            torch.randn((n_hidden, 27), generator=g) * 0.1,
            torch.randn(27, generator=g) * 0.1,
            torch.randn((1, n_hidden)) * 0.1 + 1.0,
            torch.randn((1, n_hidden)) * 0.1]


def _ninja_forward(torch, F, parameters, Xb, Yb):
    """The lecture's forward pass, chunked into the steps its backward walks through."""
    C, W1, b1, W2, b2, bngain, bnbias = parameters
    n = Xb.shape[0]
    emb = C[Xb]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ W1 + b1
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff**2
    bnvar = 1 / (n - 1) * (bndiff2).sum(0, keepdim=True)     # Bessel's correction
    bnvar_inv = (bnvar + 1e-5)**-0.5
    bnraw = bndiff * bnvar_inv
    hpreact = bngain * bnraw + bnbias
    h = torch.tanh(hpreact)
    logits = h @ W2 + b2
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum**-1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss = -logprobs[range(n), Yb].mean()
    for p in parameters:
        p.grad = None
    v = dict(logprobs=logprobs, probs=probs, counts=counts, counts_sum=counts_sum,
             counts_sum_inv=counts_sum_inv, norm_logits=norm_logits, logit_maxes=logit_maxes,
             logits=logits, h=h, hpreact=hpreact, bnraw=bnraw, bnvar_inv=bnvar_inv,
             bnvar=bnvar, bndiff2=bndiff2, bndiff=bndiff, hprebn=hprebn, bnmeani=bnmeani,
             embcat=embcat, emb=emb)
    for t in v.values():
        t.retain_grad()
    loss.backward()
    return loss, v


def _ninja_backward(torch, F, parameters, v, Xb, Yb):
    """Exercise 1, line by line; d[name] is dloss/dname."""
    C, W1, b1, W2, b2, bngain, bnbias = parameters
    n = Xb.shape[0]
    d = {"logprobs": torch.zeros_like(v["logprobs"])}
    d["logprobs"][range(n), Yb] = -1.0 / n
    d["probs"] = (1.0 / v["probs"]) * d["logprobs"]
    d["counts_sum_inv"] = (v["counts"] * d["probs"]).sum(1, keepdim=True)
    d["counts"] = v["counts_sum_inv"] * d["probs"]
    d["counts_sum"] = (-v["counts_sum"]**-2) * d["counts_sum_inv"]
    d["counts"] += torch.ones_like(v["counts"]) * d["counts_sum"]
    d["norm_logits"] = v["counts"] * d["counts"]
    d["logits"] = d["norm_logits"].clone()
    d["logit_maxes"] = (-d["norm_logits"]).sum(1, keepdim=True)
    d["logits"] += F.one_hot(v["logits"].max(1).indices,
                             num_classes=v["logits"].shape[1]) * d["logit_maxes"]
    d["h"] = d["logits"] @ W2.T
    d["W2"] = v["h"].T @ d["logits"]
    d["b2"] = d["logits"].sum(0)
    d["hpreact"] = (1.0 - v["h"]**2) * d["h"]
    d["bngain"] = (v["bnraw"] * d["hpreact"]).sum(0, keepdim=True)
    d["bnraw"] = bngain * d["hpreact"]
    d["bnbias"] = d["hpreact"].sum(0, keepdim=True)
    d["bndiff"] = v["bnvar_inv"] * d["bnraw"]
    d["bnvar_inv"] = (v["bndiff"] * d["bnraw"]).sum(0, keepdim=True)
    d["bnvar"] = (-0.5 * (v["bnvar"] + 1e-5)**-1.5) * d["bnvar_inv"]
    d["bndiff2"] = (1.0 / (n - 1)) * torch.ones_like(v["bndiff2"]) * d["bnvar"]
    d["bndiff"] += (2 * v["bndiff"]) * d["bndiff2"]
    d["hprebn"] = d["bndiff"].clone()
    d["bnmeani"] = (-d["bndiff"]).sum(0)
    d["hprebn"] += 1.0 / n * (torch.ones_like(v["hprebn"]) * d["bnmeani"])
    d["embcat"] = d["hprebn"] @ W1.T
    d["W1"] = v["embcat"].T @ d["hprebn"]
    d["b1"] = d["hprebn"].sum(0)
    d["emb"] = d["embcat"].view(v["emb"].shape)
    d["C"] = torch.zeros_like(C)
    for k in range(Xb.shape[0]):
        for j in range(Xb.shape[1]):
            ix = Xb[k, j]                                       # a 0-d int64 tensor
            d["C"][ix] += d["emb"][k, j]
    return d


def _cmp(torch, s, dt, t):
    ex = torch.all(dt == t.grad).item()
    app = torch.allclose(dt, t.grad)
    maxdiff = (dt - t.grad).abs().max().item()
    return f"{s:15s} | exact: {str(ex):5s} | approximate: {str(app):5s}", maxdiff


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part4_manual_backward_with_cmp(dtype):
    init = [a.to(getattr(torch, dtype)).numpy() for a in _ninja_init(
        torch.Generator().manual_seed(2147483647))]
    Xt, _ = _build_dataset(torch, WORDS)
    ix = torch.randint(0, Xt.shape[0], (32,), generator=torch.Generator().manual_seed(7))
    res = {}
    for lib, F in LIBS:
        Xtr, Ytr = _build_dataset(lib, WORDS)
        Xb, Yb = Xtr[lib.tensor(ix.numpy())], Ytr[lib.tensor(ix.numpy())]
        parameters = [lib.tensor(a, requires_grad=True) for a in init]
        loss, v = _ninja_forward(lib, F, parameters, Xb, Yb)
        d = _ninja_backward(lib, F, parameters, v, Xb, Yb)
        v.update(zip(["C", "W1", "b1", "W2", "b2", "bngain", "bnbias"], parameters))
        lines = [_cmp(lib, s, d[s], v[s]) for s in d]
        assert all("approximate: True" in line for line, _ in lines), lines
        # exercise 2: the cross entropy's backward in three lines; exercise 3: BatchNorm's
        loss_fast = F.cross_entropy(v["logits"], Yb)
        dlogits = F.softmax(v["logits"], 1)
        dlogits[range(Xb.shape[0]), Yb] -= 1
        dlogits /= Xb.shape[0]
        dC = lib.zeros_like(v["C"]).index_add_(0, Xb.view(-1), d["emb"].view(-1, 10))
        res[lib] = [loss, loss_fast, dlogits, dC] + [d[s] for s in d] + [v[s].grad for s in d]
        assert _cmp(lib, "logits", dlogits, v["logits"])[1] < 1e-6
        assert _cmp(lib, "C", dC, v["C"])[1] < 1e-6
        assert all(t.dtype == getattr(lib, dtype) for t in res[lib])
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t, **(dict(rtol=1e-5, atol=1e-7) if dtype == "float32" else F64))


def _ninja_train(torch, F, init, Xtr, Ytr, batches):
    """Exercise 4: training with the manual backward pass alone, under no_grad."""
    parameters = [torch.tensor(a) for a in init]
    C, W1, b1, W2, b2, bngain, bnbias = parameters
    for p in parameters:
        p.requires_grad = True
    lossi = []
    with torch.no_grad():
        for ix in batches:
            Xb, Yb = Xtr[ix], Ytr[ix]
            n = Xb.shape[0]
            emb = C[Xb]
            embcat = emb.view(emb.shape[0], -1)
            hprebn = embcat @ W1 + b1
            bnmean = hprebn.mean(0, keepdim=True)
            bnvar = hprebn.var(0, keepdim=True, unbiased=True)
            bnvar_inv = (bnvar + 1e-5)**-0.5
            bnraw = (hprebn - bnmean) * bnvar_inv
            hpreact = bngain * bnraw + bnbias
            h = torch.tanh(hpreact)
            logits = h @ W2 + b2
            loss = F.cross_entropy(logits, Yb)
            dlogits = F.softmax(logits, 1)
            dlogits[range(n), Yb] -= 1
            dlogits /= n
            dh, dW2, db2 = dlogits @ W2.T, h.T @ dlogits, dlogits.sum(0)
            dhpreact = (1.0 - h**2) * dh
            dbngain = (bnraw * dhpreact).sum(0, keepdim=True)
            dbnbias = dhpreact.sum(0, keepdim=True)
            dhprebn = bngain * bnvar_inv / n * (n * dhpreact - dhpreact.sum(0)
                                                - n / (n - 1) * bnraw * (dhpreact * bnraw).sum(0))
            dembcat, dW1, db1 = dhprebn @ W1.T, embcat.T @ dhprebn, dhprebn.sum(0)
            demb = dembcat.view(emb.shape)
            dC = torch.zeros_like(C)
            dC.index_add_(0, Xb.view(-1), demb.view(-1, emb.shape[2]))
            grads = [dC, dW1, db1, dW2, db2, dbngain, dbnbias]
            for p, grad in zip(parameters, grads):
                p.data += -0.1 * grad
            lossi.append(loss.log10().item())
    return lossi, parameters


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part4_training_with_the_manual_backward(dtype):
    init = [a.to(getattr(torch, dtype)).numpy() for a in _ninja_init(
        torch.Generator().manual_seed(2147483647))]
    Xt, _ = _build_dataset(torch, WORDS)
    g = torch.Generator().manual_seed(5)
    batches = [torch.randint(0, Xt.shape[0], (32,), generator=g).tolist() for _ in range(6)]
    res = {}
    for lib, F in LIBS:
        Xtr, Ytr = _build_dataset(lib, WORDS)
        lossi, params = _ninja_train(lib, F, init, Xtr, Ytr, [lib.tensor(b) for b in batches])
        assert all(p.grad is None for p in params)
        res[lib] = [lossi] + params
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t, **(F32 if dtype == "float32" else F64))


# --- part 5: a WaveNet -------------------------------------------------------------------------

def _wavenet(torch, n_embd=8, n_hidden=32, vocab_size=27):
    Linear, BatchNorm1d, Tanh, Embedding, FlattenConsecutive, Sequential = _modules(torch)
    model = Sequential([
        Embedding(vocab_size, n_embd),
        FlattenConsecutive(2), Linear(n_embd * 2, n_hidden, bias=False), BatchNorm1d(n_hidden),
        Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False),
        BatchNorm1d(n_hidden), Tanh(),
        FlattenConsecutive(2), Linear(n_hidden * 2, n_hidden, bias=False),
        BatchNorm1d(n_hidden), Tanh(),
        Linear(n_hidden, vocab_size),
    ])
    return model


def _train_wavenet(torch, F, model, Xtr, Ytr, batches):
    with torch.no_grad():
        model.layers[-1].weight *= 0.1                # last layer less confident
    parameters = model.parameters()
    for p in parameters:
        p.requires_grad = True
    lossi = []
    for ix in batches:
        Xb, Yb = Xtr[ix], Ytr[ix]
        logits = model(Xb)
        loss = F.cross_entropy(logits, Yb)
        for p in parameters:
            p.grad = None
        loss.backward()
        for p in parameters:
            p.data += -0.1 * p.grad
        lossi.append(loss.log10().item())
    shapes = [(layer.__class__.__name__, tuple(layer.out.shape)) for layer in model.layers]
    for layer in model.layers:
        layer.training = False

    @torch.no_grad()
    def split_loss(x, y):
        return F.cross_entropy(model(x), y).item()

    running = [model.layers[3].running_mean, model.layers[3].running_var]
    return [lossi, split_loss(Xtr, Ytr), shapes] + running + parameters


def _wavenet_batches(seed, n=5):
    """Part 5's minibatch indices, drawn by torch (the same for both libraries)."""
    Xt, _ = _build_dataset(torch, WORDS, block_size=8)
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, Xt.shape[0], (32,), generator=g).tolist() for _ in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part5_wavenet_from_hand_written_layers(dtype):
    batches = _wavenet_batches(seed=11)
    res = {}
    for lib, F in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
        Xtr, Ytr = _build_dataset(lib, WORDS, block_size=8)
        torch.manual_seed(42)
        model = _wavenet(lib)
        if lib is torch:
            arrays = [p.numpy().copy() for p in model.parameters()]
        else:
            _copy_params(lib, model.parameters(), arrays)
        assert sum(p.nelement() for p in model.parameters()) == 8 * 27 + 3 * 32 * 2 + (
            16 + 64 + 64) * 32 + 32 * 27 + 27
        res[lib] = _train_wavenet(lib, F, model, Xtr, Ytr, [lib.tensor(b) for b in batches])
    torch.set_default_dtype(torch.float32)
    assert res[zeroin][2] == res[torch][2]
    assert res[zeroin][2][:3] == [("Embedding", (32, 8, 8)), ("FlattenConsecutive", (32, 4, 16)),
                                  ("Linear", (32, 4, 32))]
    assert tuple(res[zeroin][3].shape) == (1, 1, 32)      # BatchNorm1d over (0, 1)
    for z, t in zip(res[zeroin], res[torch]):
        if not isinstance(z, list) or not isinstance(z[0], tuple):
            _close(z, t, **(F32 if dtype == "float32" else F64))


def test_part5_flatten_consecutive_is_the_explicit_concatenation():
    e = np.random.default_rng(0).standard_normal((4, 8, 10))
    for lib, _ in LIBS:
        et = lib.tensor(e)
        explicit = lib.cat([et[:, ::2, :], et[:, 1::2, :]], dim=2)
        assert tuple(explicit.shape) == (4, 4, 20)
        assert (et.view(4, 4, 20) == explicit).all().item() is True
        x = lib.randn(32, 4, 80) @ lib.randn(80, 200) + lib.randn(200)
        assert tuple(x.shape) == (32, 4, 200)
        assert tuple(lib.squeeze(lib.randn(4, 1, 3), dim=1).shape) == (4, 3)
        assert tuple(lib.randn(32, 4, 68).mean((0, 1), keepdim=True).shape) == (1, 1, 68)


def _nn_wavenet(torch, n_embd=8, n_hidden=32, vocab_size=27):
    """Part 5's model from the library's own modules: nn.BatchNorm1d normalises dim 1 of
    (N, C, L), so the 3-D activations (B, T, C) are transposed around it."""
    nn = torch.nn

    class FlattenConsecutive(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            B, T, C = x.shape
            x = x.view(B, T // self.n, C * self.n)
            return torch.squeeze(x, dim=1) if x.shape[1] == 1 else x

    class BatchNormLast(nn.BatchNorm1d):
        def forward(self, x):
            if x.ndim == 3:
                # (contiguous: both libraries refuse to view the transposed result)
                return super().forward(x.transpose(1, 2)).transpose(1, 2).contiguous()
            return super().forward(x)

    def block(fan_in):
        return [FlattenConsecutive(2), nn.Linear(fan_in, n_hidden, bias=False),
                BatchNormLast(n_hidden), nn.Tanh()]

    return nn.Sequential(nn.Embedding(vocab_size, n_embd), *block(n_embd * 2),
                         *block(n_hidden * 2), *block(n_hidden * 2),
                         nn.Linear(n_hidden, vocab_size))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_part5_wavenet_from_nn_modules(dtype):
    batches = _wavenet_batches(seed=13)
    res = {}
    for lib, F in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
        Xtr, Ytr = _build_dataset(lib, WORDS, block_size=8)
        torch.manual_seed(42)
        model = _nn_wavenet(lib)
        if lib is torch:
            state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
        else:
            model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        lossi = []
        for b in batches:
            ix = lib.tensor(b)
            loss = F.cross_entropy(model(Xtr[ix]), Ytr[ix])
            opt.zero_grad()
            loss.backward()
            opt.step()
            lossi.append(loss.item())
        model.eval()
        with lib.no_grad():
            split = F.cross_entropy(model(Xtr), Ytr).item()
            probs = F.softmax(model(lib.tensor([[0] * 8])), dim=1)
        res[lib] = [lossi, split, probs] + list(model.state_dict().values())
    torch.set_default_dtype(torch.float32)
    assert len(res[zeroin]) == len(res[torch])
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t, **(F32 if dtype == "float32" else F64))
