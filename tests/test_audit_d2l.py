"""Audit against "Dive into Deep Learning" (d2l.ai, PyTorch edition), chapters 2-7:
each chapter's main code as a learner ports it (``import zeroin as torch``, ``from zeroin
import nn``, ``zeroin.nn.functional as F``), without the d2l package (its few helpers written
here, as the book's from-scratch sections do), run with ``torch`` and with ``zeroin`` on the
same data and the same weights (copied from torch): float32 (the book's dtype; the tests set
zeroin's default to it) compared to float resolution, float64 to 1e-10. The data are made
here (no download). See docs/d2l.md."""
import random

import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, close as _close, copy_weights as _copy

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-6, atol=2e-6)


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol)


# --- 2 preliminaries ---------------------------------------------------------------------------

def test_2_1_data_manipulation(f32):
    res = {}
    for lib in LIBS:
        x = lib.arange(12, dtype=lib.float32)
        assert x.numel() == 12 and tuple(x.shape) == (12,)
        X = x.reshape(3, 4)
        assert tuple(x.reshape(-1, 4).shape) == tuple(x.reshape(3, -1).shape) == (3, 4)
        assert tuple(lib.zeros((2, 3, 4)).shape) == tuple(lib.ones((2, 3, 4)).shape) == (2, 3, 4)
        assert tuple(lib.randn(3, 4).shape) == (3, 4)
        T = lib.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
        last, rows = X[-1], X[1:3]
        X[1, 2] = 17
        X[:2, :] = 12
        E = lib.exp(x)
        X = lib.arange(12, dtype=lib.float32).reshape((3, 4))
        Y = lib.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
        cat0, cat1, eq, s = lib.cat((X, Y), dim=0), lib.cat((X, Y), dim=1), X == Y, X.sum()
        a, b = lib.arange(3).reshape((3, 1)), lib.arange(2).reshape((1, 2))
        before = id(Y)
        Y = Y + X
        assert id(Y) != before
        Z = lib.zeros_like(Y)
        before = id(Z)
        Z[:] = X + Y
        assert id(Z) == before
        before = id(X)
        X += Y
        assert id(X) == before
        A = X.numpy()
        B = lib.tensor(A)
        assert type(A) is np.ndarray and type(B) is lib.Tensor
        a1 = lib.tensor([3.5])
        assert (a1.item(), float(a1), int(a1)) == (3.5, 3.5, 3)
        assert x.dtype == E.dtype == Y.dtype == lib.float32 and T.dtype == lib.int64
        res[lib] = [x, last, rows, cat0, cat1, eq, s, a + b, Z, X, B]
        res[lib, "exp"] = [E]
    _same(res, 0)
    _close(res[zeroin, "exp"][0], res[torch, "exp"][0], 2e-7)    # float32's resolution


def test_2_2_preprocessing_with_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    data_file = tmp_path / "house_tiny.csv"
    data_file.write_text("NumRooms,RoofType,Price\nNA,NA,127500\n2,NA,106000\n"
                         "4,Slate,178100\nNA,NA,140000\n")
    data = pd.read_csv(data_file)
    inputs, targets = data.iloc[:, 0:2], data.iloc[:, 2]
    inputs = pd.get_dummies(inputs, dummy_na=True)
    inputs = inputs.fillna(inputs.mean())
    res = {lib: [lib.tensor(inputs.to_numpy(dtype=float)),
                 lib.tensor(targets.to_numpy(dtype=float))] for lib in LIBS}
    assert res[zeroin][0].dtype == zeroin.float64 and res[torch][0].dtype == torch.float64
    _same(res, 0)


def test_2_3_linear_algebra(f32):
    res = {}
    for lib in LIBS:
        x = lib.tensor(3.0)
        y = lib.tensor(2.0)
        v = lib.arange(3)
        A = lib.arange(6).reshape(3, 2)
        S = lib.tensor([[1, 2, 3], [2, 0, 4], [3, 4, 5]])
        assert bool((S == S.T).all()) and len(v) == 3 and v[2] == 2
        X = lib.arange(24).reshape(2, 3, 4)
        A = lib.arange(6, dtype=lib.float32).reshape(2, 3)
        B = A.clone()
        a = 2
        assert lib.equal(A.sum(axis=[0, 1]), A.sum())
        sum_A = A.sum(axis=1, keepdims=True)
        u = lib.tensor([3.0, -4.0])
        xv, yv = lib.arange(3, dtype=lib.float32), lib.ones(3, dtype=lib.float32)
        M = lib.ones(3, 4)
        res[lib] = [x + y, x * y, x / y, x ** y, A.T, X, A + B, A * B, a + X, a * X,
                    A.sum(axis=0), A.sum(axis=1), A.sum(axis=[0, 1]), A.mean(),
                    A.sum() / A.numel(), A.mean(axis=0), A.sum(axis=0) / A.shape[0], sum_A,
                    A / sum_A, A.cumsum(axis=0), lib.dot(xv, yv), lib.sum(xv * yv),
                    lib.mv(A, xv), A @ xv, lib.mm(A, M), A @ M, lib.norm(u),
                    lib.abs(u).sum(), lib.norm(lib.ones((4, 9))), lib.ones((4, 9)).norm()]
    _same(res, 0)


def test_2_5_automatic_differentiation(f32):
    res = {}
    a0 = np.random.default_rng(0).standard_normal()
    for lib in LIBS:
        x = lib.arange(4.0)
        x.requires_grad_(True)
        assert x.grad is None
        y = 2 * lib.dot(x, x)
        y.backward()
        g1 = x.grad.clone()
        assert bool((x.grad == 4 * x).all())
        x.grad.zero_()
        y = x.sum()
        y.backward()
        g2 = x.grad.clone()
        x.grad.zero_()
        y = x * x
        y.backward(gradient=lib.ones(len(y)))
        g3 = x.grad.clone()
        x.grad.zero_()
        y = x * x
        u = y.detach()
        z = u * x
        z.sum().backward()
        assert bool((x.grad == u).all())
        x.grad.zero_()
        y.sum().backward()
        assert bool((x.grad == 2 * x).all())

        def f(a):
            b = a * 2
            while b.norm() < 1000:
                b = b * 2
            c = b if b.sum() > 0 else 100 * b
            return c
        a = lib.tensor(a0, dtype=lib.float32, requires_grad=True)
        d = f(a)
        d.backward()
        assert bool(a.grad == d / a)
        res[lib] = [g1, g2, g3, u, d, a.grad]
    _same(res, 0)


def test_2_6_probability_multinomial(f32):
    from zeroin.distributions.multinomial import Multinomial
    assert zeroin.distributions.multinomial.Multinomial is Multinomial
    zeroin.manual_seed(0)
    fair_probs = zeroin.ones([6]) / 6
    one = Multinomial(1, fair_probs).sample()
    assert one.dtype == zeroin.float32 and one.sum().item() == 1 and tuple(one.shape) == (6,)
    counts = Multinomial(10, fair_probs).sample((500,))
    assert tuple(counts.shape) == (500, 6) and bool((counts.sum(dim=1) == 10).all())
    cum_counts = counts.cumsum(dim=0)
    estimates = cum_counts / cum_counts.sum(dim=1, keepdims=True)
    assert np.abs(_np(estimates[-1]) - 1 / 6).max() < 0.03     # 5000 rolls: within ~4 sd
    coin = Multinomial(1, zeroin.tensor([0.5, 0.5])).sample((10000,))
    assert abs(coin.sum(0)[0].item() / 10000 - 0.5) < 0.02
    value = [1.0, 2, 3, 4, 0, 0]
    t = torch.distributions.multinomial.Multinomial(10, torch.ones([6]) / 6)
    np.testing.assert_allclose(Multinomial(10, fair_probs).log_prob(zeroin.tensor(value)).item(),
                               t.log_prob(torch.tensor(value)).item(), **F32)


# --- 3 linear regression -----------------------------------------------------------------------

def synthetic_data(lib, w, b, noise):
    """d2l's synthetic_data with the noise given (the same draws in both libraries)."""
    X, eps = (lib.tensor(v) for v in noise)
    y = lib.matmul(X, w) + b
    y += eps
    return X, y.reshape((-1, 1))


def _regression_noise(n, d, dtype):
    rng = np.random.default_rng(1)
    return rng.normal(0, 1, (n, d)).astype(dtype), rng.normal(0, 0.01, n).astype(dtype)


def data_iter(lib, batch_size, features, labels, seed):
    num_examples = len(features)
    indices = list(range(num_examples))
    random.Random(seed).shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = lib.tensor(indices[i: min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def linreg(lib, X, w, b):
    return lib.matmul(X, w) + b


def squared_loss(y_hat, y):
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(lib, params, lr, batch_size):
    with lib.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_3_2_linear_regression_from_scratch(dtype):
    npd = np.dtype(dtype)
    noise = _regression_noise(1000, 2, npd)
    w0 = torch.normal(0, 0.01, (2, 1), dtype=getattr(torch, dtype)).numpy()
    res = {}
    for lib in LIBS:
        d = getattr(lib, dtype)
        true_w, true_b = lib.tensor([2, -3.4], dtype=d), 4.2
        features, labels = synthetic_data(lib, true_w, true_b, noise)
        w = lib.tensor(w0, requires_grad=True)
        b = lib.zeros(1, requires_grad=True, dtype=d)
        losses = []
        for epoch in range(3):
            for X, y in data_iter(lib, 10, features, labels, seed=epoch):
                loss = squared_loss(linreg(lib, X, w, b), y)
                loss.sum().backward()
                sgd(lib, [w, b], 0.03, 10)
            with lib.no_grad():
                losses.append(squared_loss(linreg(lib, features, w, b), labels).mean())
        assert float(losses[-1]) < 1e-3
        res[lib] = [w, b, true_w - w.reshape(true_w.shape), lib.stack(losses)]
    _same(res, 2e-5 if dtype == "float32" else 1e-10)
    s = torch.normal(0, 0.01, (2, 1), requires_grad=True)
    z = zeroin.normal(0, 0.01, (2, 1), requires_grad=True)
    assert tuple(z.shape) == tuple(s.shape) and z.requires_grad and s.requires_grad


def _train_concise(lib, net, data, wd=None, epochs=3, lr=0.03):
    """d2l's LinearRegression + Trainer: MSELoss, SGD, a TensorDataset in order."""
    loss = lib.nn.MSELoss()
    if wd is None:
        opt = lib.optim.SGD(net.parameters(), lr)
    else:
        opt = lib.optim.SGD([{"params": net.weight, "weight_decay": wd},
                             {"params": net.bias}], lr=lr)
    ds = lib.utils.data.TensorDataset(*(lib.tensor(a) for a in data))
    train = slice(0, 800)
    tensors = tuple(a[train] for a in ds.tensors)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(*tensors), 32,
                                       shuffle=False)
    for _ in range(epochs):
        net.train()
        for X, y in loader:
            l = loss(net(X), y)
            opt.zero_grad()
            with lib.no_grad():                 # d2l's Trainer: backward under no_grad
                l.backward()
            opt.step()
    return net.weight.data, net.bias.data


@pytest.mark.parametrize("wd", [None, 3.0])
def test_3_5_concise_linear_regression_and_3_7_weight_decay(f32, wd):
    X, eps = _regression_noise(1000, 2, np.float32)
    data = (X, (X @ np.float32([2, -3.4]) + 4.2 + eps).reshape(-1, 1).astype(np.float32))
    tnet = torch.nn.LazyLinear(1)
    tnet.weight.data.normal_(0, 0.01)           # on the UninitializedParameter: no effect
    tnet.bias.data.fill_(0)
    tnet(torch.zeros(1, 2))
    znet = zeroin.nn.LazyLinear(1)
    znet.weight.data.normal_(0, 0.01)
    znet.bias.data.fill_(0)
    znet(zeroin.zeros(1, 2))
    # the first call initialises the lazy layer afresh (reset_parameters) in both
    assert tnet.bias.item() != 0 and znet.bias.item() != 0
    _copy(tnet, znet)
    res = {lib: [lib.tensor(np.asarray(v)) if lib is zeroin else v
                 for v in _train_concise(lib, net, data, wd)]
           for lib, net in ((torch, tnet), (zeroin, znet))}
    _same(res, 1e-5)
    if wd is None:
        np.testing.assert_allclose(_np(znet.weight)[0], [2, -3.4], atol=0.05)


def test_3_7_weight_decay_from_scratch():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(20, 200)), rng.normal(size=(20, 1))
    w0 = rng.normal(0, 0.01, (200, 1))
    res = {}
    for lib in LIBS:
        w = lib.tensor(w0, requires_grad=True)
        b = lib.zeros(1, requires_grad=True, dtype=lib.float64)
        Xs, ys = lib.tensor(X), lib.tensor(y)
        for _ in range(10):
            loss = squared_loss(Xs @ w + b, ys).mean() + 3 * ((w ** 2).sum() / 2)
            loss.backward()
            sgd(lib, [w, b], 0.01, 1)
        res[lib] = [w, b, w.norm()]
    _same(res)


# --- 4 softmax regression ----------------------------------------------------------------------

def softmax(X):
    X_exp = X.exp()
    partition = X_exp.sum(1, keepdims=True)
    return X_exp / partition


def cross_entropy(lib, y_hat, y):
    return -lib.log(y_hat[list(range(len(y_hat))), y]).mean()


def accuracy(lib, Y_hat, Y, averaged=True):
    Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
    preds = Y_hat.argmax(axis=1).type(Y.dtype)
    compare = (preds == Y.reshape(-1)).type(lib.float32)
    return compare.mean() if averaged else compare


def _images(n=64, seed=3):
    """A Fashion-MNIST-like batch: (n, 1, 28, 28) float32 in [0, 1) and labels 0-9."""
    rng = np.random.default_rng(seed)
    return rng.random((n, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


def test_4_4_softmax_regression_from_scratch(f32):
    X_img, y_img = _images()
    W0 = torch.normal(0, 0.01, size=(784, 10)).numpy()
    res = {}
    for lib in LIBS:
        X = lib.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
        sums = [X.sum(0, keepdims=True), X.sum(1, keepdims=True)]
        P = softmax(lib.tensor(np.random.default_rng(0).random((2, 5), dtype=np.float32)))
        y = lib.tensor([0, 2])
        y_hat = lib.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        picked = y_hat[[0, 1], y]
        ce, acc = cross_entropy(lib, y_hat, y), accuracy(lib, y_hat, y)
        W = lib.tensor(W0, requires_grad=True)
        b = lib.zeros(10, requires_grad=True)
        images, labels = lib.tensor(X_img), lib.tensor(y_img)
        for _ in range(5):
            Y_hat = softmax(lib.matmul(images.reshape((-1, W.shape[0])), W) + b)
            loss = cross_entropy(lib, Y_hat, labels)
            loss.backward()
            sgd(lib, [W, b], 0.1, 1)
        preds = Y_hat.argmax(axis=1)
        wrong = preds.type(labels.dtype) != labels
        res[lib] = sums + [P, P.sum(1), picked, ce, acc, W, b, loss,
                           accuracy(lib, Y_hat, labels, averaged=False), labels[wrong]]
        assert acc.dtype == lib.float32 and preds.dtype == lib.int64
    _same(res, 2e-6)


def test_4_5_concise_softmax_regression(f32):
    X_img, y_img = _images()
    tnet = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(10))
    tnet(torch.tensor(X_img))
    znet = zeroin.nn.Sequential(zeroin.nn.Flatten(), zeroin.nn.LazyLinear(10))
    znet(zeroin.tensor(X_img))
    _copy(tnet, znet)
    res = {}
    for lib, net in ((torch, tnet), (zeroin, znet)):
        F = lib.nn.functional
        opt = lib.optim.SGD(net.parameters(), 0.1)
        X, Y = lib.tensor(X_img), lib.tensor(y_img)
        for averaged in (True, False, True, True):
            Y_hat = net(X)
            Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
            loss = F.cross_entropy(Y_hat, Y.reshape((-1,)),
                                   reduction="mean" if averaged else "none")
            opt.zero_grad()
            (loss if averaged else loss.mean()).backward()
            opt.step()
        seq = net(X.reshape(4, 16, 1, 28, 28).reshape(-1, 1, 28, 28)).reshape(4, 16, 10)
        res[lib] = [loss, net[1].weight, net[1].bias, seq, accuracy(lib, seq, Y.reshape(4, 16))]
    _same(res, 2e-6)


# --- 5 multilayer perceptrons ------------------------------------------------------------------

def test_5_1_activations_and_their_gradients(f32):
    """relu, sigmoid and tanh over the book's arange(-8.0, 8.0, 0.1): its 81st value is
    4.4e-16 in PyTorch (a fused multiply-add), where relu's gradient is 1."""
    res = {}
    for lib in LIBS:
        x = lib.arange(-8.0, 8.0, 0.1, requires_grad=True)
        out = []
        for i, fn in enumerate((lib.relu, lib.sigmoid, lib.tanh)):
            y = fn(x)
            if i:
                x.grad.data.zero_()
            y.backward(lib.ones_like(x), retain_graph=True)
            out += [y, x.grad.clone()]
        assert x.grad.dtype == lib.float32
        res[lib] = [x] + out
    assert res[zeroin][2][80].item() == 1.0
    _same(res, 2e-7)


def relu(lib, X):
    a = lib.zeros_like(X)
    return lib.max(X, a)


def test_5_2_mlp_from_scratch_relu_by_torch_max(f32):
    X_img, y_img = _images(32)
    gen = torch.Generator().manual_seed(0)
    params0 = [torch.randn(784, 256, generator=gen) * 0.01, torch.zeros(256),
               torch.randn(256, 10, generator=gen) * 0.01, torch.zeros(10)]
    res = {}
    for lib in LIBS:
        nn = lib.nn
        W1, b1, W2, b2 = (nn.Parameter(lib.tensor(p.numpy())) for p in params0)
        X = lib.tensor(X_img).reshape((-1, 784))
        H = relu(lib, lib.matmul(X, W1) + b1)
        out = lib.matmul(H, W2) + b2
        loss = lib.nn.functional.cross_entropy(out, lib.tensor(y_img))
        loss.backward()
        Xt = lib.tensor([[-1.0, 0.0, 2.0]], requires_grad=True)
        relu(lib, Xt).sum().backward()               # the tie at 0: half the gradient
        res[lib] = [out, loss, W1.grad, b1.grad, W2.grad, Xt.grad]
    _same(res, 2e-6)
    assert res[zeroin][-1].tolist() == [[0.0, 0.5, 1.0]]


def dropout_layer(lib, X, dropout):
    assert 0 <= dropout <= 1
    if dropout == 1:
        return lib.zeros_like(X)
    mask = (lib.rand(X.shape) > dropout).float()
    return mask * X / (1.0 - dropout)


def test_5_6_dropout(f32):
    for lib in LIBS:
        X = lib.arange(16, dtype=lib.float32).reshape((2, 8))
        assert lib.equal(dropout_layer(lib, X, 0), X)
        assert lib.equal(dropout_layer(lib, X, 1), lib.zeros_like(X))
        lib.manual_seed(0)
        half = dropout_layer(lib, X, 0.5)
        assert bool(((half == 0) | (half == 2 * X)).all()) and half.dtype == lib.float32
        d = lib.nn.Dropout(0.5)
        kept = d(X)
        assert bool(((kept == 0) | (kept == 2 * X)).all())
        assert 0 < int((kept == 0).sum()) < 15
        d.eval()
        assert lib.equal(d(X), X)
        big = lib.nn.Dropout(0.3)(lib.ones(100000))
        assert abs(float((big == 0).float().mean()) - 0.3) < 0.01


def test_5_4_numerical_stability_and_5_7_kaggle_log_rmse(f32):
    rng = np.random.default_rng(4)
    Ms = rng.normal(0, 1, (101, 4, 4)).astype(np.float32)
    preds, labels = rng.uniform(-5, 3e5, (20, 1)), rng.uniform(1e4, 3e5, (20, 1))
    res = {}
    for lib in LIBS:
        x = lib.arange(-8.0, 8.0, 0.1, requires_grad=True)
        y = lib.sigmoid(x)
        y.backward(lib.ones_like(x))
        M = lib.tensor(Ms[0])
        for i in range(100):
            M = M @ lib.tensor(Ms[i + 1])
        clipped = lib.clamp(lib.tensor(preds, dtype=lib.float32), 1, float("inf"))
        rmse = lib.sqrt(lib.nn.MSELoss()(lib.log(clipped),
                                         lib.log(lib.tensor(labels, dtype=lib.float32))))
        res[lib] = [x.grad, M / M.abs().max(), clipped, rmse,
                    lib.clamp(lib.tensor([-1.0, 2.0]), min=0), lib.clamp(x, -0.5, 0.5)]
    _same(res, 2e-5)


def test_5_init_functions(f32):
    for lib in LIBS:
        nn = lib.nn
        lin = nn.Linear(300, 200)
        lib.manual_seed(0)
        nn.init.normal_(lin.weight, mean=0, std=0.01)
        nn.init.zeros_(lin.bias)
        assert abs(lin.weight.std().item() - 0.01) < 3e-4 and not bool(lin.bias.any())
        nn.init.xavier_uniform_(lin.weight)
        bound = (6 / (300 + 200)) ** 0.5
        assert lin.weight.abs().max().item() <= bound
        assert abs(lin.weight.abs().max().item() - bound) < 1e-3
        nn.init.constant_(lin.weight, 42)
        assert bool((lin.weight == 42).all()) and lin.weight.requires_grad
        nn.init.uniform_(lin.weight, -10, 10)
        assert -10 <= lin.weight.min().item() and lin.weight.max().item() <= 10


# --- 6 builders' guide -------------------------------------------------------------------------

def _modules(lib):
    """Section 6.1's modules, written once for both libraries."""
    nn, F = lib.nn, lib.nn.functional

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.LazyLinear(256)
            self.out = nn.LazyLinear(10)

        def forward(self, X):
            return self.out(F.relu(self.hidden(X)))

    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    class FixedHiddenMLP(nn.Module):
        def __init__(self, rand_weight):
            super().__init__()
            self.rand_weight = rand_weight          # a constant: not a parameter
            self.linear = nn.LazyLinear(20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(X @ self.rand_weight + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    class NestMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(32),
                                     nn.ReLU())
            self.linear = nn.LazyLinear(16)

        def forward(self, X):
            return self.linear(self.net(X))
    return MLP, MySequential, FixedHiddenMLP, NestMLP


def test_6_1_layers_and_modules(f32):
    rng = np.random.default_rng(5)
    X0, R = rng.random((2, 20), dtype=np.float32), rng.random((20, 20), dtype=np.float32)
    nets = {}
    for lib in LIBS:
        nn = lib.nn
        MLP, MySequential, FixedHiddenMLP, NestMLP = _modules(lib)
        X = lib.tensor(X0)
        nets[lib] = [nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10)), MLP(),
                     MySequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10)),
                     FixedHiddenMLP(lib.tensor(R)),
                     nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMLP(lib.tensor(R)))]
        for net in nets[lib]:
            net(X)                                      # the dry run: lazy shapes
    for tnet, znet in zip(nets[torch], nets[zeroin]):
        _copy(tnet, znet)
        assert [n for n, _ in znet.named_parameters()] == \
            [n for n, _ in tnet.named_parameters()]
    res = {lib: [net(lib.tensor(X0)) for net in nets[lib]] for lib in LIBS}
    assert tuple(res[zeroin][0].shape) == (2, 10) and res[zeroin][3].ndim == 0
    _same(res, 2e-6)


def test_6_2_parameter_management_and_initialisation(f32):
    X0 = np.random.default_rng(6).random((2, 4), dtype=np.float32)
    nets, out = {}, {}
    for lib in LIBS:
        nn = lib.nn
        nets[lib] = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
        nets[lib](lib.tensor(X0))
    _copy(nets[torch], nets[zeroin])
    for lib in LIBS:
        nn, net = lib.nn, nets[lib]
        sd = net[2].state_dict()
        assert list(sd) == ["weight", "bias"] and type(net[2].bias) is nn.Parameter
        assert net[2].weight.grad == None             # noqa: E711 (the book's comparison)
        names = [(name, tuple(param.shape)) for name, param in net.named_parameters()]
        assert names == [("0.weight", (8, 4)), ("0.bias", (8,)), ("2.weight", (1, 8)),
                         ("2.bias", (1,))]

        def init_constant(module):
            if type(module) == nn.Linear:               # noqa: E721 (the book's test)
                nn.init.constant_(module.weight, 1)
                nn.init.zeros_(module.bias)

        def mask_small(module):
            if type(module) == nn.Linear:               # noqa: E721
                module.weight.data *= module.weight.data.abs() >= 0.3
        net.apply(mask_small)
        masked = net[0].weight.detach().clone()
        net[0].weight.data[:] += 1
        net[0].weight.data[0, 0] = 42
        edited = net[0].weight.detach().clone()
        net.apply(init_constant)
        out[lib] = [sd["weight"], net[2].bias.data, masked, edited, net[0].weight,
                    net[0].bias, net(lib.tensor(X0))]
    out = {lib: [lib.tensor(np.asarray(v)) if lib is zeroin else v for v in vs]
           for lib, vs in out.items()}
    _same(out, 2e-6)
    assert (_np(out[zeroin][2]) == 0).sum() > 5          # some weights masked to 0


def test_6_2_tied_parameters(f32):
    X0 = np.random.default_rng(7).random((2, 4), dtype=np.float32)
    nets = {}
    for lib in LIBS:
        nn = lib.nn
        shared = nn.LazyLinear(8)
        nets[lib] = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), shared, nn.ReLU(), shared,
                                  nn.ReLU(), nn.LazyLinear(1))
        nets[lib](lib.tensor(X0))
    _copy(nets[torch], nets[zeroin])
    res = {}
    for lib in LIBS:
        net = nets[lib]
        assert bool((net[2].weight.data[0] == net[4].weight.data[0]).all())
        net[2].weight.data[0, 0] = 100
        assert bool((net[2].weight.data[0] == net[4].weight.data[0]).all())
        assert len(list(net.parameters())) == 6
        y = net(lib.tensor(X0)).sum()
        y.backward()
        res[lib] = [y, net[2].weight.grad, net[4].weight.grad]   # the two uses' gradients
    _same(res, 2e-6)


def test_6_4_lazy_initialisation_and_apply_init(f32):
    X0 = np.random.default_rng(8).random((2, 20), dtype=np.float32)
    for lib in LIBS:
        nn = lib.nn
        net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
        assert type(net[0].weight).__name__ == "UninitializedParameter"
        assert isinstance(net[0].weight, nn.parameter.UninitializedParameter)
        assert "LazyLinear(in_features=0, out_features=256" in repr(net)
        net(lib.tensor(X0))
        assert tuple(net[0].weight.shape) == (256, 20) and type(net[0]) is nn.Linear

        def init_normal(module):
            if type(module) == nn.Linear:               # noqa: E721
                nn.init.normal_(module.weight, mean=0, std=0.01)
                nn.init.zeros_(module.bias)

        def apply_init(net, inputs, init=None):         # d2l.Module.apply_init
            net(*inputs)
            if init is not None:
                net.apply(init)
        net2 = nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))
        apply_init(net2, [lib.tensor(X0)], init_normal)
        assert tuple(net2[2].weight.shape) == (10, 64) and not bool(net2[2].bias.any())
        assert "Linear(in_features=64, out_features=10, bias=True)" in repr(net2)


def test_6_5_custom_layers(f32):
    X0 = np.random.default_rng(9).random((4, 8), dtype=np.float32)
    W0 = np.random.default_rng(10).standard_normal((8, 3)).astype(np.float32)
    res = {}
    for lib in LIBS:
        nn, F = lib.nn, lib.nn.functional

        class CenteredLayer(nn.Module):
            def forward(self, X):
                return X - X.mean()

        class MyLinear(nn.Module):
            def __init__(self, in_units, units):
                super().__init__()
                self.weight = nn.Parameter(lib.randn(in_units, units))
                self.bias = nn.Parameter(lib.randn(units,))

            def forward(self, X):
                linear = lib.matmul(X, self.weight.data) + self.bias.data
                return F.relu(linear)
        layer = CenteredLayer()
        centred = layer(lib.tensor([1.0, 2, 3, 4, 5]))
        lin = MyLinear(8, 3)
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(W0))
            lin.bias.fill_(0.1)
        assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"]
        Y = nn.Sequential(lin, CenteredLayer())(lib.tensor(X0))
        assert abs(Y.mean().item()) < 1e-6 and not Y.requires_grad   # .data: no graph
        res[lib] = [centred, lin(lib.tensor(X0)), Y]
    _same(res, 2e-6)


def test_6_6_file_io(f32, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X0 = np.random.default_rng(11).random((2, 20), dtype=np.float32)
    res = {}
    for lib in LIBS:
        nn, F = lib.nn, lib.nn.functional
        x = lib.arange(4)
        lib.save(x, f"x-file-{lib.__name__}")
        x2 = lib.load(f"x-file-{lib.__name__}")
        y = lib.zeros(4)
        lib.save([x, y], f"x-files-{lib.__name__}")
        x3, y3 = lib.load(f"x-files-{lib.__name__}")
        lib.save({"x": x, "y": y}, f"mydict-{lib.__name__}")
        mydict2 = lib.load(f"mydict-{lib.__name__}")
        assert sorted(mydict2) == ["x", "y"] and x2.dtype == lib.int64

        class MLP(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.LazyLinear(256)
                self.output = nn.LazyLinear(10)

            def forward(self, x):
                return self.output(F.relu(self.hidden(x)))
        net = MLP()
        X = lib.tensor(X0)
        Y = net(X)
        lib.save(net.state_dict(), f"mlp.params-{lib.__name__}")
        clone = MLP()
        clone.load_state_dict(lib.load(f"mlp.params-{lib.__name__}"))
        clone.eval()
        Y_clone = clone(X)
        assert bool((Y_clone == Y).all())
        assert "Linear(in_features=20, out_features=256" in repr(clone)
        res[lib] = [x2, x3, y3, mydict2["x"], mydict2["y"]]
    _same(res, 0)
    with pytest.raises(Exception, match=r"(?s)torch\.save.*zeroin"):
        zeroin.load("x-file-torch")             # PyTorch's pickle: refused, with the way out


def test_6_7_gpus_fall_back_to_the_cpu(f32):
    for lib in LIBS:
        def cpu():
            return lib.device("cpu")

        def gpu(i=0):
            return lib.device(f"cuda:{i}")

        def num_gpus():
            return lib.cuda.device_count()

        def try_gpu(i=0):
            return gpu(i) if num_gpus() >= i + 1 else cpu()

        def try_all_gpus():
            return [gpu(i) for i in range(num_gpus())]
        assert [str(d) for d in (cpu(), gpu(), gpu(1))] == ["cpu", "cuda:0", "cuda:1"]
        assert num_gpus() == 0 and try_all_gpus() == [] and str(try_gpu(10)) == "cpu"
        x = lib.tensor([1, 2, 3])
        X = lib.ones(2, 3, device=try_gpu())
        assert str(x.device) == str(X.device) == "cpu"
        net = lib.nn.Sequential(lib.nn.LazyLinear(1))
        net = net.to(device=try_gpu())
        net(X)
        assert str(net[0].weight.data.device) == "cpu"
        with pytest.raises(RuntimeError):
            X.cuda(1)
    with pytest.raises(RuntimeError, match=r"cuda.*CPU.*device='cpu'"):
        zeroin.ones(2, 3).cuda(1)


# --- 7 convolutional neural networks -----------------------------------------------------------

def corr2d(lib, X, K):
    h, w = K.shape
    Y = lib.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def corr2d_multi_in(lib, X, K):
    return sum(corr2d(lib, x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(lib, X, K):
    return lib.stack([corr2d_multi_in(lib, X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(lib, X, K):
    c_i, h, w = X.shape
    c_o = K.shape[0]
    X = X.reshape((c_i, h * w))
    K = K.reshape((c_o, c_i))
    Y = lib.matmul(K, X)
    return Y.reshape((c_o, h, w))


def pool2d(lib, X, pool_size, mode="max"):
    p_h, p_w = pool_size
    Y = lib.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            patch = X[i: i + p_h, j: j + p_w]
            Y[i, j] = patch.max() if mode == "max" else patch.mean()
    return Y


def test_7_2_cross_correlation_and_learning_a_kernel(f32):
    k0 = torch.rand((1, 2)).numpy()
    res = {}
    for lib in LIBS:
        nn = lib.nn
        X = lib.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        K = lib.tensor([[0.0, 1.0], [2.0, 3.0]])
        out = [corr2d(lib, X, K)]

        class Conv2D(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = nn.Parameter(lib.rand(kernel_size))
                self.bias = nn.Parameter(lib.zeros(1))

            def forward(self, x):
                return corr2d(lib, x, self.weight) + self.bias
        X = lib.ones((6, 8))
        X[:, 2:6] = 0
        K = lib.tensor([[1.0, -1.0]])
        Y = corr2d(lib, X, K)
        conv = Conv2D((1, 2))
        assert tuple(conv.weight.shape) == (1, 2)
        with lib.no_grad():
            conv.weight.copy_(lib.tensor(k0))
        for i in range(5):                      # the module by hand learns, too
            loss = ((conv(X) - Y) ** 2).sum()
            conv.zero_grad()
            loss.backward()
            with lib.no_grad():
                for p in conv.parameters():
                    p -= 0.01 * p.grad
        out += [Y, corr2d(lib, X.t(), K), loss, conv.weight, conv.bias]
        conv2d = nn.LazyConv2d(1, kernel_size=(1, 2), bias=False)
        X, Y = X.reshape((1, 1, 6, 8)), Y.reshape((1, 1, 6, 7))
        conv2d(X)
        with lib.no_grad():
            conv2d.weight.copy_(lib.tensor(k0).reshape(1, 1, 1, 2))
        lr = 3e-2
        for i in range(10):
            Y_hat = conv2d(X)
            loss = (Y_hat - Y) ** 2
            conv2d.zero_grad()
            loss.sum().backward()
            conv2d.weight.data[:] -= lr * conv2d.weight.grad
        assert f"{loss.sum():.3f}" == f"{loss.sum().item():.3f}"
        out += [loss.sum(), lib.tensor(np.asarray(conv2d.weight.data)).reshape((1, 2))]
        res[lib] = out
    _same(res, 2e-6)


def test_7_3_padding_and_stride_shapes(f32):
    def comp_conv2d(conv2d, X):
        X = X.reshape((1, 1) + X.shape)
        Y = conv2d(X)
        return Y.reshape(Y.shape[2:])
    shapes = {}
    for lib in LIBS:
        nn = lib.nn
        X = lib.rand(size=(8, 8))
        shapes[lib] = [tuple(comp_conv2d(c, X).shape) for c in (
            nn.LazyConv2d(1, kernel_size=3, padding=1),
            nn.LazyConv2d(1, kernel_size=(5, 3), padding=(2, 1)),
            nn.LazyConv2d(1, kernel_size=3, padding=1, stride=2),
            nn.LazyConv2d(1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)))]
    assert shapes[zeroin] == shapes[torch] == [(8, 8), (8, 8), (4, 4), (2, 2)]


def test_7_4_multiple_channels_and_1x1(f32):
    rng = np.random.default_rng(12)
    X3, K1 = rng.normal(0, 1, (3, 3, 3)), rng.normal(0, 1, (2, 3, 1, 1))
    res = {}
    for lib in LIBS:
        X = lib.tensor([[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
                        [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]])
        K = lib.tensor([[[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [3.0, 4.0]]])
        one = corr2d_multi_in(lib, X, K)
        K = lib.stack((K, K + 1, K + 2), 0)
        many = corr2d_multi_in_out(lib, X, K)
        X, K = lib.tensor(X3, dtype=lib.float32), lib.tensor(K1, dtype=lib.float32)
        Y1, Y2 = corr2d_multi_in_out_1x1(lib, X, K), corr2d_multi_in_out(lib, X, K)
        assert float(lib.abs(Y1 - Y2).sum()) < 1e-5
        res[lib] = [one, many, Y1, Y2, lib.nn.functional.conv2d(X[None], K)[0]]
    assert tuple(res[zeroin][1].shape) == (3, 2, 2)
    _same(res, 2e-6)


def test_7_5_pooling(f32):
    res = {}
    for lib in LIBS:
        nn = lib.nn
        X = lib.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
        out = [pool2d(lib, X, (2, 2)), pool2d(lib, X, (2, 2), "avg")]
        for mode in ("max", "avg"):             # a tie of 4s: max's gradient is shared
            T = lib.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 4.0], [6.0, 7.0, 8.0]],
                           requires_grad=True)
            pool2d(lib, T, (2, 2), mode).sum().backward()
            out.append(T.grad)
        X = lib.arange(16, dtype=lib.float32).reshape((1, 1, 4, 4))
        out += [nn.MaxPool2d(3)(X), nn.MaxPool2d(3, padding=1, stride=2)(X),
                nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X)]
        X = lib.cat((X, X + 1), 1)
        out += [nn.MaxPool2d(3, padding=1, stride=2)(X), nn.AvgPool2d(2, stride=2)(X)]
        res[lib] = out
    _same(res, 0)


def _lenet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(),
        nn.LazyLinear(84), nn.Sigmoid(),
        nn.LazyLinear(10))


def test_7_6_lenet_layer_summary_and_a_training_step(f32, capsys):
    X_img, y_img = _images(16)
    nets = {}
    for lib in LIBS:
        nn = lib.nn

        def init_cnn(module):
            if type(module) == nn.Linear or type(module) == nn.Conv2d:   # noqa: E721
                nn.init.xavier_uniform_(module.weight)
        nets[lib] = _lenet(lib)
        nets[lib](lib.randn(1, 1, 28, 28))
        nets[lib].apply(init_cnn)
    _copy(nets[torch], nets[zeroin])
    summary = {}
    for lib in LIBS:
        X = lib.randn(*(1, 1, 28, 28))
        for layer in nets[lib]:
            X = layer(X)
            print(layer.__class__.__name__, "output shape:\t", tuple(X.shape))
        summary[lib] = capsys.readouterr().out
    assert summary[zeroin] == summary[torch]
    assert "Conv2d output shape:\t (1, 6, 28, 28)\n" in summary[zeroin]
    assert "Linear output shape:\t (1, 10)\n" in summary[zeroin]
    res = {}
    for lib in LIBS:
        net = nets[lib]
        opt = lib.optim.SGD(net.parameters(), lr=0.1)
        for _ in range(2):
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(X_img)), lib.tensor(y_img))
            opt.zero_grad()
            loss.backward()
            opt.step()
        res[lib] = [loss, net[0].weight.grad, net[0].weight, net[11].weight,
                    net(lib.tensor(X_img))]
    _same(res, 1e-5)


# --- the book's framework (d2l.HyperParameters, Module, DataModule, Trainer), written out ------

def _framework(lib):
    """d2l 3.2's classes without plotting, on ``lib``: save_hyperparameters through inspect,
    Module(nn.Module, HyperParameters), the Trainer's fit_epoch (backward under no_grad)."""
    import inspect
    nn = lib.nn

    class HyperParameters:
        def save_hyperparameters(self, ignore=()):
            frame = inspect.currentframe().f_back
            _, _, _, local_vars = inspect.getargvalues(frame)
            self.hparams = {k: v for k, v in local_vars.items()
                            if k not in set(ignore) | {"self"} and not k.startswith("_")}
            for k, v in self.hparams.items():
                setattr(self, k, v)

    class Module(nn.Module, HyperParameters):
        def __init__(self):
            super().__init__()
            self.save_hyperparameters()

        def loss(self, y_hat, y):
            raise NotImplementedError

        def forward(self, X):
            assert hasattr(self, "net"), "Neural network is defined"
            return self.net(X)

        def training_step(self, batch):
            loss = self.loss(self(*batch[:-1]), batch[-1])
            self.last = loss.to(lib.device("cpu")).detach().numpy()   # d2l's plot()
            return loss

        def configure_optimizers(self):
            return lib.optim.SGD(self.parameters(), self.lr)

    class DataModule(HyperParameters):
        def get_tensorloader(self, tensors, train, indices=slice(0, None)):
            tensors = tuple(a[indices] for a in tensors)
            dataset = lib.utils.data.TensorDataset(*tensors)
            return lib.utils.data.DataLoader(dataset, self.batch_size, shuffle=False)

        def train_dataloader(self):
            return self.get_dataloader(train=True)

    class Trainer(HyperParameters):
        def __init__(self, max_epochs, gradient_clip_val=0):
            self.save_hyperparameters()

        def fit(self, model, data):
            self.train_dataloader = data.train_dataloader()
            self.num_train_batches = len(self.train_dataloader)
            self.model, self.optim = model, model.configure_optimizers()
            for self.epoch in range(self.max_epochs):
                self.model.train()
                for batch in self.train_dataloader:
                    loss = self.model.training_step(batch)
                    self.optim.zero_grad()
                    with lib.no_grad():
                        loss.backward()
                        self.optim.step()
    return Module, DataModule, Trainer


def _softmax_model(lib):
    """d2l 4.5's SoftmaxRegression and a Data module over given arrays, on ``lib``."""
    Module, DataModule, Trainer = _framework(lib)
    nn, F = lib.nn, lib.nn.functional

    class Data(DataModule):
        def __init__(self, X, y, num_train=64, batch_size=16):
            self.save_hyperparameters()

        def get_dataloader(self, train):
            i = slice(0, self.num_train) if train else slice(self.num_train, None)
            return self.get_tensorloader([lib.tensor(self.X), lib.tensor(self.y)], train, i)

    class SoftmaxRegression(Module):
        def __init__(self, num_outputs, lr):
            super().__init__()
            self.save_hyperparameters()
            self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_outputs))

        def loss(self, Y_hat, Y, averaged=True):
            Y_hat = Y_hat.reshape((-1, Y_hat.shape[-1]))
            return F.cross_entropy(Y_hat, Y.reshape((-1,)),
                                   reduction="mean" if averaged else "none")
    return SoftmaxRegression, Data, Trainer


def test_3_2_framework_trains_softmax_regression_as_torch(f32):
    X_img, y_img = _images(96)
    res, nets = {}, {}
    for lib in LIBS:
        SoftmaxRegression, Data, Trainer = _softmax_model(lib)
        model = SoftmaxRegression(num_outputs=10, lr=0.1)
        model(lib.tensor(X_img[:1]))
        assert (model.hparams["num_outputs"], model.hparams["lr"], model.lr) == (10, 0.1, 0.1)
        nets[lib] = (model, Data(X_img, y_img), Trainer(max_epochs=3))
    _copy(nets[torch][0], nets[zeroin][0])
    for lib, (model, data, trainer) in nets.items():
        trainer.fit(model, data)
        assert trainer.num_train_batches == 4 and trainer.epoch == 2
        res[lib] = [lib.tensor(model.last), model.net[1].weight, model.net[1].bias]
    _same(res, 2e-6)
