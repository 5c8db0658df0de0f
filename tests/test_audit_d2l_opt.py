"""Audit against "Dive into Deep Learning" (d2l.ai, PyTorch edition), chapter 12
"Optimization Algorithms": each section's main code as a learner ports it (``import zeroin
as torch``, ``from zeroin import nn``, ``zeroin.optim``), the d2l helpers it uses
(``train_2d``, ``train_ch11``, ``train_concise_ch11``...) written here as plain code, run on
``torch`` and on ``zeroin`` with the same data and weights (copied from torch): float32 (the
book's dtype) compared to float resolution, float64 to 1e-10. zeroin's generator is put on
PyTorch's stream (``zeroin.random.use_torch_stream``), so the book's ``torch.normal`` noise
and ``DataLoader(shuffle=True)`` batches are torch's own. See docs/d2l.md."""
import math

import numpy as np
import pytest

import zeroin
from _audit import close as _close, copy_weights as _copy

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-6, atol=2e-6)


@pytest.fixture
def tstream(f32):
    """float32 and zeroin's shared generator on PyTorch's stream, for this test only."""
    zeroin.random.use_torch_stream(True)
    yield
    zeroin.random.use_torch_stream(False)


def _both(run, **tols):
    """``run(lib)`` for torch and zeroin; the results (lists of numbers or tensors) agree."""
    t, z = run(torch), run(zeroin)
    assert len(z) == len(t)
    for a, b in zip(z, t):
        _close(a, b, **(tols or F32))
    return t, z


# --- 12.1 optimization and deep learning, 12.2 convexity ---------------------------------------

def test_12_1_and_12_2_the_functions_drawn(f32):
    def run(lib):
        def f(x):
            return x * lib.cos(np.pi * x)

        def g(x):
            return f(x) + 0.2 * lib.cos(5 * np.pi * x)
        x = lib.arange(0.5, 1.5, 0.01)
        out = [f(x), g(x), lib.arange(-1.0, 2.0, 0.01) ** 3, lib.tanh(lib.arange(-2.0, 5.0,
                                                                                 0.01))]
        # the book leaves indexing out: 'ij' then, with a warning (PyTorch's warns once a
        # process, so torch is called with it here; zeroin's warning is checked below)
        x, y = lib.meshgrid(lib.linspace(-1.0, 1.0, 101), lib.linspace(-1.0, 1.0, 101),
                            indexing='ij')
        out.append(x**2 - y**2)
        f = lambda x: 0.5 * x**2                # noqa: E731 (the book's lambdas)
        g = lambda x: lib.cos(np.pi * x)        # noqa: E731
        h = lambda x: lib.exp(0.5 * x)          # noqa: E731
        x, segment = lib.arange(-2, 2, 0.01), lib.tensor([-1.5, 1])
        return out + [func(x) for func in (f, g, h)] + [func(segment) for func in (f, g, h)]
    t, z = _both(run)
    assert tuple(z[4].shape) == tuple(t[4].shape) == (101, 101) and z[5].dtype == zeroin.float32
    with pytest.warns(UserWarning, match="indexing"):
        x, y = zeroin.meshgrid(zeroin.linspace(-1.0, 1.0, 101), zeroin.linspace(-1.0, 1.0, 101))
    _close(x**2 - y**2, t[4])


# --- 12.3 gradient descent ---------------------------------------------------------------

def show_trace(lib, results, f):
    """d2l's show_trace without the figure: the curve's and the trace's values."""
    n = max(abs(min(results)), abs(max(results)))
    f_line = lib.arange(-n, n, 0.01)
    return [float(f(x)) for x in f_line[::50]] + [float(f(x)) for x in results]


def gd(eta, f_grad):
    x = 10.0
    results = [x]
    for i in range(10):
        x -= eta * f_grad(x)
        results.append(float(x))
    return results


def test_12_3_one_dimensional_gradient_descent(f32):
    def run(lib):
        def f(x):
            return x ** 2

        def f_grad(x):
            return 2 * x
        out = []
        for eta in (0.2, 0.05, 1.1):
            out += show_trace(lib, gd(eta, f_grad), f)
        return out
    t, _ = _both(run)
    assert t[-1] > 10          # eta 1.1 diverges, as the book shows


def test_12_3_local_minima_and_newton(f32):
    def run(lib):
        c = lib.tensor(0.15 * np.pi)

        def f(x):
            return x * lib.cos(c * x)

        def f_grad(x):
            return lib.cos(c * x) - c * x * lib.sin(c * x)

        def f_hess(x):
            return - 2 * c * lib.sin(c * x) - x * c**2 * lib.cos(c * x)

        def newton(eta=1, f_grad=f_grad, f_hess=f_hess):
            x = 10.0
            results = [x]
            for i in range(10):
                x -= eta * f_grad(x) / f_hess(x)
                results.append(float(x))
            return results
        c2 = lib.tensor(0.5)
        out = show_trace(lib, gd(2, f_grad), f)
        out += show_trace(lib, newton(f_grad=lambda x: c2 * lib.sinh(c2 * x),
                                      f_hess=lambda x: c2**2 * lib.cosh(c2 * x)),
                          lambda x: lib.cosh(c2 * x))
        return out + show_trace(lib, newton(), f) + show_trace(lib, newton(0.5), f)
    _both(run, rtol=1e-5, atol=1e-5)   # float32 steps through cos/sin, ten in a row


def train_2d(trainer, steps=20, f_grad=None):
    x1, x2, s1, s2 = -5, -2, 0, 0
    results = [(x1, x2)]
    for i in range(steps):
        if f_grad:
            x1, x2, s1, s2 = trainer(x1, x2, s1, s2, f_grad)
        else:
            x1, x2, s1, s2 = trainer(x1, x2, s1, s2)
        results.append((x1, x2))
    return results


def show_trace_2d(lib, f, results):
    """d2l's show_trace_2d without the figure: the contour grid's values and the trace."""
    x1, x2 = lib.meshgrid(lib.arange(-5.5, 1.0, 0.1), lib.arange(-3.0, 1.0, 0.1),
                          indexing='ij')
    return [f(x1, x2), lib.tensor([[float(a), float(b)] for a, b in results])]


def _f_2d(x1, x2):
    return x1 ** 2 + 2 * x2 ** 2


def _f_2d_grad(x1, x2):
    return (2 * x1, 4 * x2)


def test_12_3_two_dimensional_and_preconditioned(f32):
    eta = 0.1

    def gd_2d(x1, x2, s1, s2, f_grad):
        g1, g2 = f_grad(x1, x2)
        return (x1 - eta * g1, x2 - eta * g2, 0, 0)

    def precond_2d(x1, x2, s1, s2, f_grad):      # the gradient over the Hessian's diagonal
        g1, g2 = f_grad(x1, x2)
        return (x1 - 0.5 * g1 / 2, x2 - 0.5 * g2 / 4, 0, 0)

    def run(lib):
        return (show_trace_2d(lib, _f_2d, train_2d(gd_2d, f_grad=_f_2d_grad))
                + show_trace_2d(lib, _f_2d, train_2d(precond_2d, f_grad=_f_2d_grad)))
    t, z = _both(run)
    assert tuple(z[0].shape) == tuple(t[0].shape) == (65, 40)


def test_12_3_the_same_paths_through_descent_path():
    """zeroin.viz.descent_path runs the book's descents through autograd and
    optim.SGD: the same points as the hand-written derivative (float64)."""
    from zeroin.viz import descent_path
    for eta in (0.2, 0.05, 1.1):
        path = descent_path(lambda x: x ** 2, 10.0, lr=eta, steps=10)
        _close(path.points[:, 0], gd(eta, lambda x: 2 * x))
    c = 0.15 * np.pi
    path = descent_path(lambda x: x * zeroin.cos(c * x), 10.0, lr=2, steps=10)
    _close(path.points[:, 0],
           gd(2, lambda x: math.cos(c * x) - c * x * math.sin(c * x)), 1e-9)
    path = descent_path(lambda x: _f_2d(x[0], x[1]), [-5, -2], lr=0.1, steps=20)
    by_hand = train_2d(lambda x1, x2, s1, s2, g: (x1 - 0.1 * g(x1, x2)[0],
                                                  x2 - 0.1 * g(x1, x2)[1], 0, 0),
                       f_grad=_f_2d_grad)
    _close(path.points, np.array(by_hand))


# --- 12.4 stochastic gradient descent ------------------------------------------------------

def test_12_4_sgd_with_noise_and_learning_rate_functions(tstream):
    setups = [("constant", 50), ("exponential", 1000), ("polynomial", 50)]

    def run(lib):
        lib.manual_seed(0)
        state = {"t": 1}

        def constant_lr():
            return 1

        def exponential_lr():
            state["t"] += 1
            return math.exp(-0.1 * state["t"])

        def polynomial_lr():
            state["t"] += 1
            return (1 + 0.1 * state["t"]) ** (-0.5)
        lrs = dict(constant=constant_lr, exponential=exponential_lr,
                   polynomial=polynomial_lr)
        out = []
        for name, steps in setups:
            state["t"], lr = 1, lrs[name]

            def sgd(x1, x2, s1, s2, f_grad):
                g1, g2 = f_grad(x1, x2)
                g1 += lib.normal(0.0, 1, (1,)).item()
                g2 += lib.normal(0.0, 1, (1,)).item()
                eta_t = 0.1 * lr()
                return (x1 - eta_t * g1, x2 - eta_t * g2, 0, 0)
            out += show_trace_2d(lib, _f_2d, train_2d(sgd, steps=steps, f_grad=_f_2d_grad))
        return out
    _both(run)


def test_12_4_the_same_through_descent_path(tstream):
    """descent_path with lr_lambda (the book's lr()) and the noise as a linear term of f
    (its gradient is the noise): the book's noisy paths, float64, to 1e-10."""
    from zeroin.viz import descent_path
    decays = {"constant": lambda n: 1, "exponential": lambda n: math.exp(-0.1 * (n + 2)),
              "polynomial": lambda n: (1 + 0.1 * (n + 2)) ** (-0.5)}
    for name, lr in decays.items():
        zeroin.manual_seed(0)
        draw = lambda: zeroin.normal(0.0, 1, (1,))          # noqa: E731, the book's draw
        path = descent_path(lambda x: _f_2d(x[0], x[1]) + (zeroin.cat([draw(), draw()])
                                                           * x).sum(),
                            [-5, -2], lr=0.1, steps=50, lr_lambda=lr)
        torch.manual_seed(0)
        state = {"n": 0}

        def sgd(x1, x2, s1, s2, f_grad):
            g1, g2 = f_grad(x1, x2)
            g1 += torch.normal(0.0, 1, (1,)).item()
            g2 += torch.normal(0.0, 1, (1,)).item()
            eta_t, state["n"] = 0.1 * lr(state["n"]), state["n"] + 1
            return (x1 - eta_t * g1, x2 - eta_t * g2, 0, 0)
        _close(path.points, np.array(train_2d(sgd, steps=50, f_grad=_f_2d_grad)))


# --- 12.5 minibatch SGD on airfoil-like data -------------------------------------------------

def _airfoil():
    """A 1500 x 6 float32 table standing for the airfoil data (5 features, 1 target),
    standardised as get_data_ch11 does."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 5)).astype(np.float32)
    y = X @ np.array([0.5, -1.0, 0.3, 0.8, -0.2], np.float32) + 0.1 * rng.normal(size=1500)
    data = np.concatenate([X, y[:, None].astype(np.float32)], 1)
    return ((data - data.mean(axis=0)) / data.std(axis=0)).astype(np.float32)


def get_data_ch11(lib, batch_size=10, n=1500):
    data = lib.from_numpy(_airfoil())
    dataset = lib.utils.data.TensorDataset(data[:n, :-1], data[:n, -1])
    lib.manual_seed(0)
    return lib.utils.data.DataLoader(dataset, batch_size, shuffle=True), data.shape[1] - 1


def evaluate_loss(net, data_iter, loss):
    total, count = 0.0, 0
    for X, y in data_iter:
        out = net(X)
        y = y.reshape(out.shape)
        l = loss(out, y)
        total, count = total + float(l.sum().detach()), count + l.numel()
    return total / count


def train_ch11(lib, trainer_fn, states, hyperparams, data_iter, feature_dim, num_epochs=2):
    w = lib.normal(mean=0.0, std=0.01, size=(feature_dim, 1), requires_grad=True)
    b = lib.zeros((1), requires_grad=True)

    def net(X):
        return lib.matmul(X, w) + b

    def loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2
    n, losses = 0, []
    for _ in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y).mean()
            l.backward()
            trainer_fn([w, b], states, hyperparams)
            n += X.shape[0]
            if n % 200 == 0:
                losses.append(evaluate_loss(net, data_iter, loss))
    return losses


def train_concise_ch11(lib, trainer_fn, hyperparams, data_iter, num_epochs=2):
    with torch.random.fork_rng():           # leaves the shuffling's stream alone
        torch.manual_seed(2)
        tnet = torch.nn.Sequential(torch.nn.Linear(5, 1))
        torch.nn.init.normal_(tnet[0].weight, std=0.01)
    net = lib.nn.Sequential(lib.nn.Linear(5, 1))

    def init_weights(module):
        if type(module) == lib.nn.Linear:
            lib.nn.init.normal_(module.weight, std=0.01)
    net.apply(init_weights)                         # runs; the weights come from torch
    if lib is zeroin:
        _copy(tnet, net)
    else:
        net = tnet
    optimizer = trainer_fn(net.parameters(), **hyperparams)
    loss = lib.nn.MSELoss(reduction='none')
    n, losses = 0, []
    for _ in range(num_epochs):
        for X, y in data_iter:
            optimizer.zero_grad()
            out = net(X)
            y = y.reshape(out.shape)
            l = loss(out, y)
            l.mean().backward()
            optimizer.step()
            n += X.shape[0]
            if n % 200 == 0:
                losses.append(evaluate_loss(net, data_iter, loss) / 2)
    return losses


def test_12_5_vectorization_and_caches(tstream):
    def run(lib):
        lib.manual_seed(0)
        A = lib.zeros(32, 32)
        B = lib.randn(32, 32)
        C = lib.randn(32, 32)
        out = []
        for i in range(32):                 # element by element
            for j in range(32):
                A[i, j] = lib.dot(B[i, :], C[:, j])
        out.append(A.clone())
        for j in range(32):                 # column by column
            A[:, j] = lib.mv(B, C[:, j])
        out.append(A.clone())
        out.append(lib.mm(B, C))            # at once
        for j in range(0, 32, 8):           # in blocks of 8 columns
            A[:, j:j + 8] = lib.mm(B, C[:, j:j + 8])
        return out + [A]
    _both(run, rtol=1e-5, atol=1e-5)        # float32 sums in the BLAS's own order


def _sgd(lib):
    def sgd(params, states, hyperparams):
        for p in params:
            p.data.sub_(hyperparams['lr'] * p.grad)
            p.grad.data.zero_()
    return sgd


def _losses_agree(fn, tol=2e-5):
    t, z = fn(torch), fn(zeroin)
    assert len(t) == len(z) > 0
    np.testing.assert_allclose(z, t, rtol=tol, atol=tol)
    return t


def test_12_5_minibatch_sgd_from_scratch_and_concise(tstream):
    def scratch(lib):
        data_iter, dim = get_data_ch11(lib, 10)
        return train_ch11(lib, _sgd(lib), None, {'lr': 0.05}, data_iter, dim)

    def concise(lib):
        data_iter, _ = get_data_ch11(lib, 10)
        return train_concise_ch11(lib, lib.optim.SGD, {'lr': 0.01}, data_iter)
    t = _losses_agree(scratch)
    assert t[-1] < t[0]
    _losses_agree(concise)


# --- 12.6-12.10 momentum, Adagrad, RMSProp, Adadelta, Adam, Yogi -------------------------------

def test_12_6_momentum_on_the_ill_conditioned_problem():
    def gd_2d(x1, x2, s1, s2):
        return (x1 - 0.4 * 0.2 * x1, x2 - 0.4 * 4 * x2, 0, 0)

    def momentum_2d(x1, x2, v1, v2):
        v1 = 0.5 * v1 + 0.2 * x1
        v2 = 0.5 * v2 + 4 * x2
        return x1 - 0.6 * v1, x2 - 0.6 * v2, v1, v2
    for trainer, opts in ((gd_2d, {}), (momentum_2d, {"momentum": 0.5})):
        from zeroin.viz import descent_path
        lr = 0.4 if not opts else 0.6
        path = descent_path(lambda x: 0.1 * x[0] ** 2 + 2 * x[1] ** 2, [-5, -2], lr=lr,
                            steps=20, **opts)
        _close(path.points, np.array(train_2d(trainer)))


def _states(lib, dim, n):
    """n zero states per parameter, as init_*_states: (feature_dim, 1) and (1,)."""
    make = [(lib.zeros((dim, 1)), lib.zeros(1)) for _ in range(n)]
    return list(zip(*make)) if n > 1 else list(make[0])


def sgd_momentum(lib):
    def step(params, states, hyperparams):
        for p, v in zip(params, states):
            with lib.no_grad():
                v[:] = hyperparams['momentum'] * v + p.grad
                p[:] -= hyperparams['lr'] * v
            p.grad.data.zero_()
    return step


def adagrad(lib):
    def step(params, states, hyperparams):
        eps = 1e-6
        for p, s in zip(params, states):
            with lib.no_grad():
                s[:] += lib.square(p.grad)
                p[:] -= hyperparams['lr'] * p.grad / lib.sqrt(s + eps)
            p.grad.data.zero_()
    return step


def rmsprop(lib):
    def step(params, states, hyperparams):
        gamma, eps = hyperparams['gamma'], 1e-6
        for p, s in zip(params, states):
            with lib.no_grad():
                s[:] = gamma * s + (1 - gamma) * lib.square(p.grad)
                p[:] -= hyperparams['lr'] * p.grad / lib.sqrt(s + eps)
            p.grad.data.zero_()
    return step


def adadelta(lib):
    def step(params, states, hyperparams):
        rho, eps = hyperparams['rho'], 1e-5
        for p, (s, delta) in zip(params, states):
            with lib.no_grad():
                s[:] = rho * s + (1 - rho) * lib.square(p.grad)
                g = (lib.sqrt(delta + eps) / lib.sqrt(s + eps)) * p.grad
                p[:] -= g
                delta[:] = rho * delta + (1 - rho) * g * g
            p.grad.data.zero_()
    return step


def adam(lib, yogi=False):
    def step(params, states, hyperparams):
        beta1, beta2, eps = 0.9, 0.999, (1e-3 if yogi else 1e-6)
        for p, (v, s) in zip(params, states):
            with lib.no_grad():
                v[:] = beta1 * v + (1 - beta1) * p.grad
                if yogi:
                    s[:] = s + (1 - beta2) * lib.sign(
                        lib.square(p.grad) - s) * lib.square(p.grad)
                else:
                    s[:] = beta2 * s + (1 - beta2) * lib.square(p.grad)
                v_bias_corr = v / (1 - beta1 ** hyperparams['t'])
                s_bias_corr = s / (1 - beta2 ** hyperparams['t'])
                p[:] -= hyperparams['lr'] * v_bias_corr / (lib.sqrt(s_bias_corr) + eps)
            p.grad.data.zero_()
        hyperparams['t'] += 1
    return step


SCRATCH = [   # (trainer, states per parameter, hyperparams)
    (sgd_momentum, 1, {'lr': 0.02, 'momentum': 0.5}),
    (adagrad, 1, {'lr': 0.1}),
    (rmsprop, 1, {'lr': 0.01, 'gamma': 0.9}),
    (adadelta, 2, {'rho': 0.9}),
    (adam, 2, {'lr': 0.01, 't': 1}),
    (lambda lib: adam(lib, yogi=True), 2, {'lr': 0.01, 't': 1}),
]


@pytest.mark.parametrize("k", range(len(SCRATCH)),
                         ids=["momentum", "adagrad", "rmsprop", "adadelta", "adam", "yogi"])
def test_12_6_to_12_10_from_scratch(tstream, k):
    trainer, n, hyper = SCRATCH[k]

    def run(lib):
        data_iter, dim = get_data_ch11(lib, 10)
        return train_ch11(lib, trainer(lib), _states(lib, dim, n), dict(hyper), data_iter,
                          dim)
    _losses_agree(run)


CONCISE = [("SGD", {'lr': 0.005, 'momentum': 0.9}), ("Adagrad", {'lr': 0.1}),
           ("RMSprop", {'lr': 0.01, 'alpha': 0.9}), ("Adadelta", {'rho': 0.9}),
           ("Adam", {'lr': 0.01})]


@pytest.mark.parametrize("name,hyper", CONCISE, ids=[c[0] for c in CONCISE])
def test_12_6_to_12_10_concise(tstream, name, hyper):
    def run(lib):
        data_iter, _ = get_data_ch11(lib, 10)
        return train_concise_ch11(lib, getattr(lib.optim, name), hyper, data_iter)
    _losses_agree(run)


# --- 12.11 learning-rate scheduling ------------------------------------------------------------

def net_fn(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def try_gpu(lib, i=0):
    if lib.cuda.device_count() >= i + 1:
        return lib.device(f'cuda:{i}')
    return lib.device('cpu')


def accuracy(y_hat, y):
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy_gpu(lib, net, data_iter):
    net.eval()
    device = next(iter(net.parameters())).device
    right, total = 0.0, 0
    with lib.no_grad():
        for X, y in data_iter:
            X, y = X.to(device), y.to(device)
            right, total = right + accuracy(net(X), y), total + y.numel()
    return right / total


def train(lib, net, train_iter, test_iter, num_epochs, loss, trainer, device,
          scheduler=None):
    """d2l 12.11's train, returning per epoch (train loss, train acc, test acc, lr)."""
    lr_scheduler = lib.optim.lr_scheduler
    net.to(device)
    out = []
    for epoch in range(num_epochs):
        l_sum, acc_sum, n = 0.0, 0.0, 0
        for i, (X, y) in enumerate(train_iter):
            net.train()
            trainer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            trainer.step()
            with lib.no_grad():
                l_sum += float(l * X.shape[0])
                acc_sum, n = acc_sum + accuracy(y_hat, y), n + X.shape[0]
        test_acc = evaluate_accuracy_gpu(lib, net, test_iter)
        out.append((l_sum / n, acc_sum / n, test_acc, trainer.param_groups[0]['lr']))
        if scheduler:
            if scheduler.__module__ == lr_scheduler.__name__:
                scheduler.step()            # a built-in scheduler
            else:
                for param_group in trainer.param_groups:
                    param_group['lr'] = scheduler(epoch)
    return out


class SquareRootScheduler:
    def __init__(self, lr=0.1):
        self.lr = lr

    def __call__(self, num_update):
        return self.lr * pow(num_update + 1.0, -0.5)


class FactorScheduler:
    def __init__(self, factor=1, stop_factor_lr=1e-7, base_lr=0.1):
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.base_lr = base_lr

    def __call__(self, num_update):
        self.base_lr = max(self.stop_factor_lr, self.base_lr * self.factor)
        return self.base_lr


class CosineScheduler:
    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0,
                 warmup_begin_lr=0):
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.warmup_steps = warmup_steps
        self.warmup_begin_lr = warmup_begin_lr
        self.max_steps = self.max_update - self.warmup_steps

    def get_warmup_lr(self, epoch):
        increase = (self.base_lr_orig - self.warmup_begin_lr) \
            * float(epoch) / float(self.warmup_steps)
        return self.warmup_begin_lr + increase

    def __call__(self, epoch):
        if epoch < self.warmup_steps:
            return self.get_warmup_lr(epoch)
        if epoch <= self.max_update:
            self.base_lr = self.final_lr + (
                self.base_lr_orig - self.final_lr) * (1 + math.cos(
                    math.pi * (epoch - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr


def _fashion_like(lib, n=48, seed=0):
    """A tiny made-up FashionMNIST: (n, 1, 28, 28) float32 images, 10 classes."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    X = rng.normal(size=(n, 1, 28, 28)).astype(np.float32) * 0.5
    X[np.arange(n), 0, y * 2, :] += 2.0                # a bright row per class
    data = lib.utils.data
    ds = data.TensorDataset(lib.from_numpy(X), lib.from_numpy(y))
    return data.DataLoader(ds, 16, shuffle=True), data.DataLoader(ds, 16, shuffle=False)


def _schedulers(lib, trainer):
    return {"none": None, "multistep": lib.optim.lr_scheduler.MultiStepLR(
                trainer, milestones=[1, 2], gamma=0.5),
            "sqrt": SquareRootScheduler(lr=0.1), "factor": FactorScheduler(0.9, 1e-2, 0.3),
            "cosine": CosineScheduler(2, warmup_steps=1, base_lr=0.3, final_lr=0.01)}


@pytest.mark.parametrize("which", ["none", "multistep", "sqrt", "factor", "cosine"])
def test_12_11_lenet_with_schedulers(tstream, which):
    def run(lib):
        torch.manual_seed(5)
        tnet = net_fn(torch)
        net = _copy(tnet, net_fn(zeroin)) if lib is zeroin else tnet
        lib.manual_seed(0)
        train_iter, test_iter = _fashion_like(lib)
        trainer = lib.optim.SGD(net.parameters(), lr=0.3)
        trainer.param_groups[0]["lr"] = 0.1 if which == "sqrt" else 0.3
        res = train(lib, net, train_iter, test_iter, 3, lib.nn.CrossEntropyLoss(), trainer,
                    try_gpu(lib), _schedulers(lib, trainer)[which])
        return [v for row in res for v in row]
    t, z = run(torch), run(zeroin)
    np.testing.assert_allclose(z, t, rtol=1e-4, atol=1e-5)


def test_12_11_lr_sequences(f32):
    num_epochs = 30

    def get_lr(trainer, scheduler):
        lr = scheduler.get_last_lr()[0]
        trainer.step()
        scheduler.step()
        return lr

    def run(lib):
        lr_scheduler = lib.optim.lr_scheduler
        seqs = []
        for make in (lambda tr: lr_scheduler.MultiStepLR(tr, milestones=[15, 30], gamma=0.5),
                     lambda tr: lr_scheduler.CosineAnnealingLR(tr, T_max=20, eta_min=0.01),
                     lambda tr: lr_scheduler.StepLR(tr, step_size=10, gamma=0.5),
                     lambda tr: lr_scheduler.ExponentialLR(tr, gamma=0.9)):
            trainer = lib.optim.SGD(lib.nn.Linear(2, 1).parameters(), lr=0.5)
            scheduler = make(trainer)
            assert scheduler.__module__ == lr_scheduler.__name__
            seqs.append(lib.tensor([get_lr(trainer, scheduler) for t in range(num_epochs)]))
        for s in (SquareRootScheduler(lr=0.1), FactorScheduler(0.9, 1e-2, 2.0),
                  CosineScheduler(max_update=20, base_lr=0.3, final_lr=0.01),
                  CosineScheduler(20, warmup_steps=5, base_lr=0.3, final_lr=0.01)):
            seqs.append(lib.tensor([s(t) for t in range(num_epochs)]))
        return [lib.arange(num_epochs)] + seqs
    _both(run, tol=1e-12)


# --- 9.5 / 9.6 RNN from scratch and concise (the book's first edition code) --------------------

TEXT = ("the time machine by h g wells the time traveller for so it will be convenient to "
        "speak of him was expounding a recondite matter to us ")


def _corpus():
    vocab = sorted(set(TEXT))
    return [vocab.index(c) for c in TEXT], vocab


def seq_data_iter_sequential(lib, corpus, batch_size, num_steps):
    num_tokens = ((len(corpus) - 1) // batch_size) * batch_size
    Xs = lib.tensor(corpus[0: num_tokens])
    Ys = lib.tensor(corpus[1: num_tokens + 1])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


class RNNModelScratch:
    def __init__(self, lib, vocab_size, num_hiddens, device):
        self.lib, self.vocab_size, self.num_hiddens = lib, vocab_size, num_hiddens

        def normal(shape):
            return lib.randn(size=shape, device=device) * 0.01
        self.params = [normal((vocab_size, num_hiddens)), normal((num_hiddens, num_hiddens)),
                       lib.zeros(num_hiddens, device=device),
                       normal((num_hiddens, vocab_size)), lib.zeros(vocab_size, device=device)]
        for param in self.params:
            param.requires_grad_(True)

    def __call__(self, X, state):
        X = self.lib.nn.functional.one_hot(X.T, self.vocab_size).type(self.lib.float32)
        return self.rnn(X, state, self.params)

    def rnn(self, inputs, state, params):
        lib = self.lib
        W_xh, W_hh, b_h, W_hq, b_q = params
        H, = state
        outputs = []
        for X in inputs:
            H = lib.tanh(lib.mm(X, W_xh) + lib.mm(H, W_hh) + b_h)
            Y = lib.mm(H, W_hq) + b_q
            outputs.append(Y)
        return lib.cat(outputs, dim=0), (H,)

    def begin_state(self, batch_size, device):
        return (self.lib.zeros((batch_size, self.num_hiddens), device=device), )


def _rnn_model(lib, vocab_size, num_hiddens):
    nn, F = lib.nn, lib.nn.functional

    class RNNModel(nn.Module):
        def __init__(self, rnn_layer, vocab_size, **kwargs):
            super(RNNModel, self).__init__(**kwargs)
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            self.num_directions = 1
            self.linear = nn.Linear(self.num_hiddens, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(lib.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, device, batch_size=1):
            return lib.zeros((self.num_directions * self.rnn.num_layers, batch_size,
                              self.num_hiddens), device=device)
    return RNNModel(nn.RNN(vocab_size, num_hiddens), vocab_size)


def grad_clipping(lib, net, theta):
    if isinstance(net, lib.nn.Module):
        params = [p for p in net.parameters() if p.requires_grad]
    else:
        params = net.params
    norm = lib.sqrt(sum(lib.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm


def train_epoch_ch8(lib, net, train_iter, loss, updater, device):
    state, total, count = None, 0.0, 0
    for X, Y in train_iter:
        if state is None:
            state = net.begin_state(batch_size=X.shape[0], device=device)
        elif isinstance(net, lib.nn.Module) and not isinstance(state, tuple):
            state.detach_()
        else:
            for s in state:
                s.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, lib.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            grad_clipping(lib, net, 1)
            updater.step()
        else:
            l.backward()
            grad_clipping(lib, net, 1)
            updater(batch_size=1)
        total, count = total + float(l.detach() * y.numel()), count + y.numel()
    return math.exp(total / count)


def predict_ch8(lib, prefix, num_preds, net, vocab, device):
    state = net.begin_state(batch_size=1, device=device)
    outputs = [vocab.index(prefix[0])]

    def get_input():
        return lib.tensor([outputs[-1]], device=device).reshape((1, 1))
    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab.index(y))
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return ''.join([vocab[i] for i in outputs])


@pytest.mark.parametrize("concise", [False, True], ids=["scratch", "concise"])
def test_9_5_and_9_6_rnn_training_with_gradient_clipping(tstream, concise):
    corpus, vocab = _corpus()

    def run(lib):
        device = try_gpu(lib)
        lib.manual_seed(0)
        if concise:
            with torch.random.fork_rng():
                torch.manual_seed(3)
                tnet = _rnn_model(torch, len(vocab), 16)
            net = tnet if lib is torch else _copy(tnet, _rnn_model(zeroin, len(vocab), 16))
            updater = lib.optim.SGD(net.parameters(), 1.0)
        else:
            net = RNNModelScratch(lib, len(vocab), 16, device)

            def updater(batch_size):
                with lib.no_grad():
                    for param in net.params:
                        param -= 1.0 * param.grad / batch_size
                        param.grad.zero_()
        ppl = [train_epoch_ch8(lib, net, seq_data_iter_sequential(lib, corpus, 2, 5),
                               lib.nn.CrossEntropyLoss(), updater, device) for _ in range(8)]
        return ppl, predict_ch8(lib, "time ", 10, net, vocab, device)
    (t, tp), (z, zp) = run(torch), run(zeroin)
    np.testing.assert_allclose(z, t, rtol=2e-5)
    assert zp == tp and t[-1] < t[0]


def _rnn_lm_scratch(lib, vocab_size, num_hiddens, sigma=0.01):
    """The second edition's RNNScratch and RNNLMScratch (9.5) as one nn.Module."""
    nn, F = lib.nn, lib.nn.functional

    class RNNLMScratch(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_hiddens, self.vocab_size = num_hiddens, vocab_size
            self.W_xh = nn.Parameter(lib.randn(vocab_size, num_hiddens) * sigma)
            self.W_hh = nn.Parameter(lib.randn(num_hiddens, num_hiddens) * sigma)
            self.b_h = nn.Parameter(lib.zeros(num_hiddens))
            self.W_hq = nn.Parameter(lib.randn(num_hiddens, vocab_size) * sigma)
            self.b_q = nn.Parameter(lib.zeros(vocab_size))

        def rnn(self, inputs, state=None):
            if state is None:
                state = lib.zeros((inputs.shape[1], self.num_hiddens), device=inputs.device)
            else:
                state, = state
            outputs = []
            for X in inputs:
                state = lib.tanh(lib.matmul(X, self.W_xh) + lib.matmul(state, self.W_hh)
                                 + self.b_h)
                outputs.append(state)
            return outputs, state

        def one_hot(self, X):
            return F.one_hot(X.T, self.vocab_size).type(lib.float32)

        def output_layer(self, rnn_outputs):
            outputs = [lib.matmul(H, self.W_hq) + self.b_q for H in rnn_outputs]
            return lib.stack(outputs, 1)

        def forward(self, X, state=None):
            rnn_outputs, _ = self.rnn(self.one_hot(X), state)
            return self.output_layer(rnn_outputs)

        def loss(self, Y_hat, Y):
            return F.cross_entropy(Y_hat.reshape((-1, Y_hat.shape[-1])), Y.reshape((-1,)))

        def predict(self, prefix, num_preds, vocab, device=None):
            state, outputs = None, [vocab.index(prefix[0])]
            for i in range(len(prefix) + num_preds - 1):
                X = lib.tensor([[outputs[-1]]], device=device)
                rnn_outputs, state = self.rnn(self.one_hot(X), state)
                if i < len(prefix) - 1:
                    outputs.append(vocab.index(prefix[i + 1]))
                else:
                    Y = self.output_layer(rnn_outputs)
                    outputs.append(int(Y.argmax(axis=2).reshape(1)))
            return ''.join([vocab[i] for i in outputs])
    return RNNLMScratch()


def test_9_5_second_edition_rnn_lm_scratch(tstream):
    corpus, vocab = _corpus()

    def run(lib):
        lib.manual_seed(0)
        model = _rnn_lm_scratch(lib, len(vocab), 16)
        outputs, state = model.rnn(model.one_hot(lib.tensor([[0, 1, 2]] * 2)))
        assert len(outputs) == 3 and state.shape == (2, 16)      # check_len, check_shape
        optim = lib.optim.SGD(model.parameters(), lr=1.0)
        ppl = []
        for _ in range(4):
            for X, Y in seq_data_iter_sequential(lib, corpus, 2, 5):
                l = model.loss(model(X), Y)
                optim.zero_grad()
                with lib.no_grad():
                    ppl.append(float(lib.exp(l)))
                l.backward()
                params = [p for p in model.parameters() if p.requires_grad]
                norm = lib.sqrt(sum(lib.sum((p.grad ** 2)) for p in params))
                if norm > 1:
                    for param in params:
                        param.grad[:] *= 1 / norm
                optim.step()
        return ppl, model.predict("time ", 10, vocab)
    (t, tp), (z, zp) = run(torch), run(zeroin)
    np.testing.assert_allclose(z, t, rtol=2e-5)
    assert zp == tp and t[-1] < t[0]
