"""Audit against the exercises of Simon Prince's *Understanding Deep Learning* (udlbook),
chapters 6, 7, 9, 11 and 12: what a learner does with zeroin instead of hand-written
derivatives (autograd) and instead of PyTorch (zeroin.nn / zeroin.optim), checked against
the book's own update formulas written out in NumPy here, against the answers the exercises
print, and against torch with the same weights (float64).

The book's conventions: column vectors (a layer is ``f = beta + Omega h``, the layout of
``nn.Linear``'s weight), losses summed over the data (``reduction='sum'``), momentum as
``m <- beta m + (1 - beta) g`` (zeroin's and torch's SGD: ``lr = alpha (1 - beta)``, see
``test_book_momentum_is_sgd_with_lr_times_one_minus_beta``)."""
import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.viz import descent_path
from _audit import np_of as _np

F64 = zeroin.float64


def _torch():
    return pytest.importorskip("torch")


# --- chapter 6: fitting ------------------------------------------------------------------

def _line_data():
    rng = np.random.default_rng(6)
    x = rng.uniform(0, 2, 12)
    return x, 0.7 + 0.5 * x + 0.1 * rng.normal(size=12)


def test_line_fit_autograd_gradient_and_descent_match_the_closed_form():
    """6.2: the least-squares line; its gradient by hand is (sum 2r, sum 2rx), r the residual."""
    x, y = _line_data()
    xt, yt = zeroin.tensor(x), zeroin.tensor(y)

    def loss(phi):
        return ((phi[0] + phi[1] * xt - yt) ** 2).sum()

    phi = zeroin.tensor([0.6, -0.2], requires_grad=True)
    loss(phi).backward()
    r = 0.6 - 0.2 * x - y
    np.testing.assert_allclose(_np(phi.grad), [2 * r.sum(), 2 * (r * x).sum()], rtol=1e-13)
    path = descent_path(loss, [0.6, -0.2], lr=0.01, steps=30)
    p, want = np.array([0.6, -0.2]), [np.array([0.6, -0.2])]
    for _ in range(30):
        r = p[0] + p[1] * x - y
        p = p - 0.01 * np.array([2 * r.sum(), 2 * (r * x).sum()])
        want.append(p)
    np.testing.assert_allclose(path.points, want, rtol=0, atol=1e-12)
    assert path.values[-1] < 0.2 * path.values[0]


def _gabor_data():
    rng = np.random.default_rng(9)
    x = rng.uniform(-15, 15, 30)
    z = 0.06 * 12.0 * x
    return x, np.sin(z) * np.exp(-z * z / 32) + 0.05 * rng.normal(size=30)


def _gabor_loss(xt, yt, lib=zeroin):
    def loss(phi):
        z = phi[0] + 0.06 * phi[1] * xt
        return ((lib.sin(z) * lib.exp(-z * z / 32) - yt) ** 2).sum()
    return loss


def _gabor_grad(phi, x, y):
    """d/dphi of sum (sin z exp(-z^2/32) - y)^2, z = phi0 + 0.06 phi1 x, by hand."""
    z = phi[0] + 0.06 * phi[1] * x
    g = np.exp(-z * z / 32)
    dz = 2 * (np.sin(z) * g - y) * (np.cos(z) - np.sin(z) * z / 16) * g
    return np.array([dz.sum(), (dz * 0.06 * x).sum()])


def test_gabor_model_gradient_matches_the_hand_derivation_and_torch():
    """6.3/6.4/9.1 differentiate the Gabor model by hand ("a lot of hassle"); autograd agrees."""
    torch = _torch()
    x, y = _gabor_data()
    for start in ([-1.5, 6.5], [2.6, 8.5], [-5.0, 25.0]):
        phi = zeroin.tensor(start, requires_grad=True)
        _gabor_loss(zeroin.tensor(x), zeroin.tensor(y))(phi).backward()
        np.testing.assert_allclose(_np(phi.grad), _gabor_grad(np.array(start), x, y),
                                   rtol=1e-11, atol=1e-13)
        tp = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        _gabor_loss(torch.tensor(x), torch.tensor(y), torch)(tp).backward()
        np.testing.assert_allclose(_np(phi.grad), tp.grad.numpy(), rtol=1e-12, atol=1e-14)


def _sgd_run(make_opt, x, y, batches, start, lib=zeroin):
    phi = lib.tensor(start, dtype=lib.float64, requires_grad=True)
    opt, path = make_opt([phi]), [np.array(start)]
    for idx in batches:
        opt.zero_grad()
        _gabor_loss(lib.tensor(x[idx]), lib.tensor(y[idx]), lib)(phi).backward()
        opt.step()
        path.append(phi.detach().numpy().copy())
    return np.array(path)


def test_book_momentum_is_sgd_with_lr_times_one_minus_beta():
    """6.4: the book's m <- beta m + (1 - beta) g, phi <- phi - alpha m (m = 0 at first) is
    SGD(lr=alpha (1 - beta), momentum=beta) exactly; dampening=beta is not (PyTorch's
    buffer starts at the first gradient, undamped), and Nesterov's look-ahead point is what
    SGD(nesterov=True) holds."""
    torch = _torch()
    x, y = _gabor_data()
    rng = np.random.default_rng(1)
    batches = [rng.permutation(30)[:5] for _ in range(40)]
    alpha, beta, start = 0.02, 0.6, [-1.5, 6.5]
    phi, m, book, ahead, mn, look = (np.array(start), np.zeros(2), [np.array(start)],
                                     np.array(start), np.zeros(2), [np.array(start)])
    for idx in batches:
        m = beta * m + (1 - beta) * _gabor_grad(phi, x[idx], y[idx])
        phi = phi - alpha * m
        book.append(phi)
        mn = beta * mn + (1 - beta) * _gabor_grad(ahead - alpha * beta * mn, x[idx], y[idx])
        ahead = ahead - alpha * mn
        look.append(ahead - alpha * beta * mn)
    lr = alpha * (1 - beta)
    ours = _sgd_run(lambda p: optim.SGD(p, lr=lr, momentum=beta), x, y, batches, start)
    np.testing.assert_allclose(ours, book, rtol=0, atol=1e-12)
    theirs = _sgd_run(lambda p: torch.optim.SGD(p, lr=lr, momentum=beta), x, y, batches,
                      start, torch)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12)
    damp = _sgd_run(lambda p: optim.SGD(p, lr=alpha, momentum=beta, dampening=beta), x, y,
                    batches[:1], start)
    assert not np.allclose(damp[1], book[1])        # its first step is alpha g, not the book's
    nest = _sgd_run(lambda p: optim.SGD(p, lr=lr, momentum=beta, nesterov=True), x, y,
                    batches, start)
    np.testing.assert_allclose(nest, look, rtol=0, atol=1e-12)


def test_sgd_on_random_batches_with_a_step_schedule_matches_the_hand_loop():
    """6.3: SGD on 5 of the 30 points at a time (a random permutation's first five), the
    learning rate multiplied by 0.5 every 10 steps: optim.SGD with lr_scheduler.StepLR
    stepped per iteration against the hand-written loop."""
    x, y = _gabor_data()
    rng = np.random.default_rng(3)
    batches = [rng.permutation(30)[:5] for _ in range(35)]
    p, want = np.array([3.5, 6.5]), [np.array([3.5, 6.5])]
    for n, idx in enumerate(batches):
        p = p - 0.02 * 0.5 ** (n // 10) * _gabor_grad(p, x[idx], y[idx])
        want.append(p)
    phi = zeroin.tensor([3.5, 6.5], requires_grad=True)
    opt = optim.SGD([phi], lr=0.02)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
    got = [_np(phi).copy()]
    for idx in batches:
        opt.zero_grad()
        _gabor_loss(zeroin.tensor(x[idx]), zeroin.tensor(y[idx]))(phi).backward()
        opt.step()
        schedule.step()
        got.append(_np(phi).copy())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02 * 0.5 ** 3)


def _bowl(lib=zeroin):
    """6.5's loss: long in phi0, narrow in phi1."""
    def loss(p):
        return 1.0 - lib.exp(-2.0 * p[1] * p[1]) * lib.exp(-(p[0] - 0.7) ** 2 / 8.0)
    return loss


def _bowl_grad(p):
    h = np.exp(-2.0 * p[1] ** 2) * np.exp(-(p[0] - 0.7) ** 2 / 8.0)
    return np.array([h * (p[0] - 0.7) / 4.0, h * 4.0 * p[1]])


def test_adam_and_normalised_gradients_follow_the_books_formulas():
    """6.5: Adam with bias-corrected moments (betas 0.9, 0.99, a tiny epsilon) is
    optim.Adam; the normalised gradient g / sqrt(g^2) is Adam with betas (0, 0)."""
    start = np.array([-0.7, -0.9])
    p, m, v, want = start.copy(), np.zeros(2), np.zeros(2), [start.copy()]
    for t in range(1, 61):
        g = _bowl_grad(p)
        m, v = 0.9 * m + 0.1 * g, 0.99 * v + 0.01 * g * g
        p = p - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-20)
        want.append(p)
    path = descent_path(_bowl(), start, lr=0.05, steps=60, optimizer=optim.Adam,
                        betas=(0.9, 0.99), eps=1e-20)
    np.testing.assert_allclose(path.points, want, rtol=0, atol=1e-12)
    norm = descent_path(_bowl(), start, lr=0.08, steps=40, optimizer=optim.Adam,
                        betas=(0.0, 0.0), eps=1e-20)
    np.testing.assert_allclose(np.abs(np.diff(norm.points, axis=0)), 0.08, rtol=1e-9)
    # plain descent: a step that suits phi0 makes phi1 bounce from side to side
    slow = descent_path(_bowl(), start, lr=0.08, steps=40)
    fast = descent_path(_bowl(), start, lr=1.0, steps=40)
    assert np.all(np.diff(np.sign(slow.points[:, 1])) == 0)
    assert np.count_nonzero(np.diff(np.sign(fast.points[:, 1]))) >= 10


# --- chapter 7: gradients ----------------------------------------------------------------

TOY = dict(beta0=1.0, beta1=2.0, beta2=-3.0, beta3=0.4,
           omega0=0.1, omega1=-0.4, omega2=2.0, omega3=3.0)


def test_toy_model_forward_values_and_backward_pass():
    """7.1: f = beta3 + omega3 cos(beta2 + omega2 exp(beta1 + omega1 sin(beta0 + omega0 x))),
    l = (f - y)^2 at x = 2.3, y = 2: the intermediate values the exercise prints, dl/d of
    each intermediate (retain_grad) and of each parameter against the chain rule by hand."""
    torch = _torch()
    p = {k: zeroin.tensor(v, requires_grad=True) for k, v in TOY.items()}
    x, y = 2.3, 2.0
    f0 = p["beta0"] + p["omega0"] * x
    h1 = zeroin.sin(f0)
    f1 = p["beta1"] + p["omega1"] * h1
    h2 = zeroin.exp(f1)
    f2 = p["beta2"] + p["omega2"] * h2
    h3 = zeroin.cos(f2)
    f3 = p["beta3"] + p["omega3"] * h3
    loss = (f3 - y) ** 2
    inner = [f0, h1, f1, h2, f2, h3, f3]
    for t in inner:
        t.retain_grad()
    loss.backward()
    printed = [1.230, 0.942, 1.623, 5.068, 7.137, 0.657, 2.372]      # the exercise's answers
    np.testing.assert_allclose([t.item() for t in inner], printed, atol=5e-4)
    assert loss.item() == pytest.approx(0.139, abs=5e-4)
    v = [t.item() for t in inner]
    d = {"f3": 2 * (v[6] - y)}
    d["h3"] = TOY["omega3"] * d["f3"]
    d["f2"] = -np.sin(v[4]) * d["h3"]
    d["h2"] = TOY["omega2"] * d["f2"]
    d["f1"] = np.exp(v[2]) * d["h2"]
    d["h1"] = TOY["omega1"] * d["f1"]
    d["f0"] = np.cos(v[0]) * d["h1"]
    for name, t in zip(["f0", "h1", "f1", "h2", "f2", "h3", "f3"], inner):
        assert t.grad.item() == pytest.approx(d[name], rel=1e-13)
    h = {0: x, 1: v[1], 2: v[3], 3: v[5]}
    for k in range(4):
        assert p[f"beta{k}"].grad.item() == pytest.approx(d[f"f{k}"], rel=1e-13)
        assert p[f"omega{k}"].grad.item() == pytest.approx(d[f"f{k}"] * h[k], rel=1e-13)
    assert p["omega0"].grad.item() == pytest.approx(5.246, abs=5e-4)      # printed, too
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in TOY.items()}
    out = tp["beta3"] + tp["omega3"] * torch.cos(tp["beta2"] + tp["omega2"] * torch.exp(
        tp["beta1"] + tp["omega1"] * torch.sin(tp["beta0"] + tp["omega0"] * x)))
    ((out - y) ** 2).backward()
    for k in TOY:
        assert p[k].grad.item() == pytest.approx(tp[k].grad.item(), rel=1e-13)


def test_explain_writes_out_the_toy_models_chain_rule():
    """7.1's backward pass in words: zeroin.explain names every intermediate, its value,
    and dl/domega0 as the product of the eight local derivatives."""
    p = {k: zeroin.tensor(v, requires_grad=True, name=k) for k, v in TOY.items()}
    f = p["beta0"] + p["omega0"] * 2.3
    for k, fn in ((1, zeroin.sin), (2, zeroin.exp), (3, zeroin.cos)):
        f.name = f"f{k - 1}"
        h = fn(f)
        h.name = f"h{k}"
        f = p[f"beta{k}"] + p[f"omega{k}"] * h
    f.name = "f3"
    loss = (f - 2.0) ** 2
    loss.name = "l"
    loss.backward()
    text = str(zeroin.explain(loss, p["omega0"]))
    for line in ("f0 = beta0 + 2.3 * omega0 = 1.23", "h1 = sin(f0) = 0.942489",
                 "h2 = exp(f1) = 5.0683", "h3 = cos(f2) = 0.657421", "l = (f3 - 2)**2 = 0.138581",
                 "l <- f3 <- h3 <- f2 <- h2 <- f1 <- h1 <- f0 <- omega0"):
        assert line in text, line
    product = text.rsplit("=", 2)[1]
    factors = [float(v.strip(" ()")) for v in product.split("*")]
    assert len(factors) == 8
    assert np.prod(factors) == pytest.approx(p["omega0"].grad.item(), rel=1e-5)
    assert text.rstrip().endswith("= 5.24607")


def _udl_net(K, D, sigma=None, seed=0):
    """7.2/7.3's network: weights drawn in the exercise's order (first, last, their biases,
    then the hidden layers), as an nn.Sequential of Linear and ReLU with those weights."""
    np.random.seed(seed)
    W, b = [None] * (K + 1), [None] * (K + 1)
    s = 1.0 if sigma is None else np.sqrt(sigma)
    W[0], W[-1] = np.random.normal(size=(D, 1)) * s, np.random.normal(size=(1, D)) * s
    b[0], b[-1] = [np.random.normal(size=(n, 1)) if sigma is None else np.zeros((n, 1))
                   for n in (D, 1)]
    for k in range(1, K):
        W[k] = np.random.normal(size=(D, D)) * s
        b[k] = np.random.normal(size=(D, 1)) if sigma is None else np.zeros((D, 1))
    layers = []
    for k in range(K + 1):
        lin = nn.Linear(W[k].shape[1], W[k].shape[0])
        with zeroin.no_grad():
            lin.weight.copy_(zeroin.tensor(W[k]))
            lin.bias.copy_(zeroin.tensor(b[k][:, 0]))
        layers += [lin, nn.ReLU()] if k < K else [lin]
    return W, b, nn.Sequential(*layers)


def test_deep_network_backprop_matches_the_books_backward_pass_and_torch():
    """7.2: K = 5 hidden layers of 6; output 1.907 at x = 1.2 (the exercise's answer); the
    gradients of the summed squared error against the book's backward pass (eqs. 7.13-7.24)
    in column vectors, and against torch with the same weights."""
    torch = _torch()
    K, D = 5, 6
    W, b, net = _udl_net(K, D)
    x = zeroin.tensor([[1.2]])
    out = net(x)
    assert out.item() == pytest.approx(1.907, abs=5e-4)
    loss = nn.MSELoss(reduction="sum")(out, zeroin.tensor([[20.0]]))
    loss.backward()
    h, f = [np.array([[1.2]])], []
    for k in range(K + 1):
        f.append(b[k] + W[k] @ h[-1])
        h.append(np.maximum(f[-1], 0))
    df = 2 * (f[K] - 20.0)
    for k in range(K, -1, -1):
        lin = net[2 * k]
        np.testing.assert_allclose(_np(lin.bias.grad), df[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(_np(lin.weight.grad), df @ h[k].T, rtol=1e-12, atol=1e-12)
        df = (f[k - 1] > 0) * (W[k].T @ df) if k else None
    tnet = torch.nn.Sequential(*[torch.nn.Linear(m.in_features, m.out_features).double()
                                 if isinstance(m, nn.Linear) else torch.nn.ReLU()
                                 for m in net])
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    torch.nn.MSELoss(reduction="sum")(tnet(torch.tensor([[1.2]], dtype=torch.float64)),
                                      torch.tensor([[20.0]], dtype=torch.float64)).backward()
    for (name, p), tp in zip(net.named_parameters(), tnet.parameters()):
        np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-12, err_msg=name)


def _layer_stds(K, D, sigma, n=200):
    """Std of each hidden layer's activations (forward hooks) and of dl/df at each hidden
    layer (hooks on the pre-activations' gradients) for one batch of inputs."""
    _, _, net = _udl_net(K, D, sigma)
    acts, grads = [], {}
    for k in range(K):
        net[2 * k + 1].register_forward_hook(
            lambda mod, inp, out: acts.append(float(out.detach().std(correction=0))))
    pre = []
    net[0].register_forward_hook(lambda mod, inp, out: pre.append(out))
    rng = np.random.default_rng(3)
    x = zeroin.tensor(rng.normal(size=(n, 1)))
    h = x
    for k, m in enumerate(net):
        h = m(h)
        if isinstance(m, nn.Linear) and k < 2 * K:
            h.register_hook(lambda g, k=k: grads.__setitem__(k // 2, float(g.std(correction=0))))
    (h ** 2).sum().backward()
    return np.array(acts), np.array([grads[k] for k in range(K)])


def test_initialisation_variance_explodes_unless_scaled_by_two_over_fan_in():
    """7.3: 50 layers of 80 ReLUs: with sigma^2 = 1 the activations' variance grows about
    80 / 2 = 40 times per layer (the std 6 times) and so do the gradients on the way back;
    with He's 2 / D both keep their size."""
    acts, grads = _layer_stds(50, 80, 1.0)
    assert acts[-1] / acts[0] > 1e30 and grads[0] / grads[-1] > 1e30
    acts, grads = _layer_stds(50, 80, 2.0 / 80)
    assert 0.1 < acts[-1] / acts[1] < 10 and 0.1 < grads[1] / grads[-1] < 10
    w = zeroin.empty(80, 80)
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert float(w.std()) == pytest.approx(np.sqrt(2 / 80), rel=0.05)


# --- chapter 9: regularisation -----------------------------------------------------------

def test_l2_penalty_by_autograd_and_weight_decay_is_twice_lambda():
    """9.1: L + lambda ((phi0)^2 + (phi1 - 12.5)^2) by autograd against the hand gradient;
    optim.SGD's weight_decay=w adds w phi to the gradient: the penalty lambda |phi|^2 is
    weight_decay = 2 lambda (PyTorch's meaning too)."""
    x, y = _gabor_data()
    lam, centre = 0.2, np.array([0.0, 12.5])
    data = _gabor_loss(zeroin.tensor(x), zeroin.tensor(y))
    c = zeroin.tensor(centre)
    path = descent_path(lambda p: data(p) + lam * ((p - c) ** 2).sum(), [2.6, 8.5],
                        lr=0.05, steps=25)
    p, want = np.array([2.6, 8.5]), [np.array([2.6, 8.5])]
    for _ in range(25):
        p = p - 0.05 * (_gabor_grad(p, x, y) + 2 * lam * (p - centre))
        want.append(p)
    np.testing.assert_allclose(path.points, want, rtol=0, atol=1e-11)
    decayed = descent_path(data, [2.6, 8.5], lr=0.05, steps=25, weight_decay=2 * lam)
    penalised = descent_path(lambda p: data(p) + lam * (p ** 2).sum(), [2.6, 8.5],
                             lr=0.05, steps=25)
    np.testing.assert_allclose(decayed.points, penalised.points, rtol=0, atol=1e-11)


def test_implicit_regularisation_term_by_double_backward():
    """9.2: the modified loss L + (alpha / 4) |dL/dphi|^2 differentiated through the
    gradient (create_graph=True), against torch and finite differences."""
    torch = _torch()

    def loss(p, lib):
        width = lib.exp(-2.0 * p[0] * p[0])
        return 1.0 - lib.exp(-0.5 * p[1] * p[1] / (width * width))

    def modified(p, lib=zeroin, alpha=0.1):
        g, = lib.autograd.grad(loss(p, lib), p, create_graph=True)
        return loss(p, lib) + alpha / 4 * (g * g).sum()

    for start in ([-0.7, -0.75], [0.2, 0.1]):
        p = zeroin.tensor(start, requires_grad=True)
        modified(p).backward()
        tp = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        modified(tp, torch).backward()
        np.testing.assert_allclose(_np(p.grad), tp.grad.numpy(), rtol=1e-12, atol=1e-15)
        assert zeroin.gradcheck(modified, (zeroin.tensor(start, requires_grad=True),))


# --- chapter 11: residual networks and batch norm ----------------------------------------

def _residual(lib_nn, batch_norm, n_in=40, n_out=10, hidden=100, blocks=5):
    """11.2/11.3's residual MLP, a ``lib_nn.Module``: linear, then residual branches
    relu -> (batch norm) -> linear added back, then the output layer; ``variances`` as the
    exercise prints them (the variance over the batch, averaged over the units)."""

    class Residual(lib_nn.Module):
        def __init__(self):
            super().__init__()
            self.first = lib_nn.Linear(n_in, hidden)
            self.branches = lib_nn.ModuleList(lib_nn.Linear(hidden, hidden)
                                              for _ in range(blocks))
            self.norms = lib_nn.ModuleList(lib_nn.BatchNorm1d(hidden) if batch_norm
                                           else lib_nn.Identity() for _ in range(blocks))
            self.last = lib_nn.Linear(hidden, n_out)
            self.variances = []

        def forward(self, x):
            f = self.first(x)
            self.variances = [float(np.var(_np(f), axis=0).mean())]
            for norm, lin in zip(self.norms, self.branches):
                f = f + lin(norm(f).relu())
                self.variances.append(float(np.var(_np(f), axis=0).mean()))
            return self.last(f)

    return Residual()


def _he_init(lib_nn):
    def init(m):
        if isinstance(m, lib_nn.Linear):
            lib_nn.init.kaiming_uniform_(m.weight)
            m.bias.data.fill_(0.0)
    return init


def test_residual_network_with_batch_norm_against_torch_and_variance_growth():
    """11.2/11.3: He-initialised residual MLP, one SGD step (lr 0.05, momentum 0.9) on a
    batch of 200 under cross entropy: outputs, variances, parameters after the step and
    batch norm's running statistics as torch's. Without batch norm the variance about
    doubles per residual block (x1.6-1.8 here); with it, it grows by a roughly constant
    amount per block (about 0.7 here)."""
    torch = _torch()
    rng = np.random.default_rng(11)
    x, labels = rng.normal(size=(200, 40)), rng.integers(0, 10, 200)
    for bn in (False, True):
        zeroin.manual_seed(0)
        ours = _residual(nn, bn).double()
        ours.apply(_he_init(nn))
        theirs = _residual(torch.nn, bn).double()
        theirs.load_state_dict({k: torch.tensor(v.numpy().copy())
                                for k, v in ours.state_dict().items()})
        opt = optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
        topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
        loss = nn.CrossEntropyLoss()(ours(zeroin.tensor(x)), zeroin.tensor(labels))
        tloss = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(labels))
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-12)
        np.testing.assert_allclose(ours.variances, theirs.variances, rtol=1e-10)
        loss.backward()
        tloss.backward()
        opt.step()
        topt.step()
        for (name, v), tv in zip(ours.state_dict().items(), theirs.state_dict().values()):
            np.testing.assert_allclose(v.numpy(), tv.numpy(), rtol=1e-10, atol=1e-13,
                                       err_msg=name)
        ratios = np.array(ours.variances[1:]) / np.array(ours.variances[:-1])
        if bn:
            steps = np.diff(ours.variances)
            assert np.all((steps > 0.5) & (steps < 2.5)), ours.variances
        else:
            assert np.all(ratios > 1.5), ours.variances


# --- chapter 12: self-attention ----------------------------------------------------------

def _attention_inputs():
    np.random.seed(3)
    X = np.hstack([np.random.normal(size=(4, 1)) for _ in range(3)])   # D = 4, N = 3
    np.random.seed(0)
    Wq, Wk, Wv = (np.random.normal(size=(4, 4)) for _ in range(3))
    bq, bk, bv = (np.random.normal(size=(4, 1)) for _ in range(3))
    return X, (Wq, Wk, Wv, bq, bk, bv)


def test_self_attention_in_the_books_columns_and_as_scaled_dot_product_attention():
    """12.1: X' = V softmax(K^T Q) with the inputs in columns (softmax over each column:
    dim=0) gives the answers the exercise prints; F.scaled_dot_product_attention on the
    rows is the same with scale=1 and the book's 1/sqrt(D) by default; permuting the
    inputs permutes the outputs."""
    X, (Wq, Wk, Wv, bq, bk, bv) = _attention_inputs()
    Xt = zeroin.tensor(X, requires_grad=True)
    Q, K, V = (zeroin.tensor(b) + zeroin.tensor(W) @ Xt
               for W, b in ((Wq, bq), (Wk, bk), (Wv, bv)))
    out = V @ zeroin.softmax(K.T @ Q, dim=0)
    printed = [[0.94744244, -0.24348429, -0.91310441, -0.44522983],
               [1.64201168, -0.08470004, 4.02764044, 2.18690791],
               [1.61949281, -0.06641533, 3.96863308, 2.15858316]]
    np.testing.assert_allclose(_np(out).T, printed, atol=5e-8)
    sdpa = nn.functional.scaled_dot_product_attention
    rows = sdpa(Q.T, K.T, V.T, scale=1.0)
    np.testing.assert_allclose(_np(rows).T, _np(out), rtol=1e-13)
    scaled = sdpa(Q.T, K.T, V.T).T
    want = _np(V) @ _softmax_cols(_np(K).T @ _np(Q) / 2.0)
    np.testing.assert_allclose(_np(scaled), want, rtol=1e-12)
    perm = [2, 0, 1]
    Xp = zeroin.tensor(X[:, perm])
    Qp, Kp, Vp = (zeroin.tensor(b) + zeroin.tensor(W) @ Xp
                  for W, b in ((Wq, bq), (Wk, bk), (Wv, bv)))
    np.testing.assert_allclose(_np(sdpa(Qp.T, Kp.T, Vp.T).T), _np(scaled)[:, perm],
                               rtol=1e-12)
    out.sum().backward()
    assert Xt.grad is not None and np.all(np.isfinite(_np(Xt.grad)))
    assert zeroin.gradcheck(lambda x: sdpa(x.T @ zeroin.tensor(Wq.T), x.T @ zeroin.tensor(
        Wk.T), x.T @ zeroin.tensor(Wv.T)), (zeroin.tensor(X, requires_grad=True),))


def _softmax_cols(a):
    e = np.exp(a - a.max(axis=0))
    return e / e.sum(axis=0)


def test_multihead_attention_reproduces_the_books_two_heads():
    """12.2: two heads of size D/H = 4 on N = 6 inputs of D = 8, then Omega_c: the exercise's
    printed answer, by nn.MultiheadAttention with the heads' weights stacked into
    in_proj_weight (queries of every head, then keys, then values) and out_proj = Omega_c,
    and as torch's with the same weights."""
    torch = _torch()
    np.random.seed(3)
    X = np.random.normal(size=(8, 6))
    np.random.seed(0)
    heads = [[np.random.normal(size=s) for s in [(4, 8)] * 3 + [(4, 1)] * 3] for _ in range(2)]
    omega_c = np.random.normal(size=(8, 8))
    weight = np.concatenate([h[i] for i in range(3) for h in heads])
    bias = np.concatenate([h[i][:, 0] for i in range(3, 6) for h in heads])
    mha = nn.MultiheadAttention(8, 2)
    state = {"in_proj_weight": weight, "in_proj_bias": bias,
             "out_proj.weight": omega_c, "out_proj.bias": np.zeros(8)}
    mha.load_state_dict({k: zeroin.tensor(v) for k, v in state.items()})
    out, attn = mha(zeroin.tensor(X.T), zeroin.tensor(X.T), zeroin.tensor(X.T))
    printed = [[-21.207, -5.373, -20.933, -9.179, -11.319, -17.812],
               [-1.995, 7.906, -10.516, 3.452, 9.863, -7.24],
               [5.479, 1.115, 9.244, 0.453, 5.656, 7.089],
               [-7.413, -7.416, 0.363, -5.573, -6.736, -0.848],
               [-11.261, -9.937, -4.848, -8.915, -13.378, -5.761],
               [3.548, 10.036, -2.244, 1.604, 12.113, -2.557],
               [4.888, -5.814, 2.407, 3.228, -4.232, 3.71],
               [1.248, 18.894, -6.409, 3.224, 19.717, -5.629]]
    np.testing.assert_allclose(_np(out).T, printed, atol=5e-4)
    tm = torch.nn.MultiheadAttention(8, 2).double()
    tm.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    tx = torch.tensor(X.T)
    tout, tattn = tm(tx, tx, tx)
    np.testing.assert_allclose(_np(out), tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_np(attn), tattn.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_transformer_layer_is_the_books_post_norm_layer():
    """12.4's transformer layer: X <- LayerNorm(X + MhSa(X)), then each row
    x <- LayerNorm(x + mlp(x)), which is nn.TransformerEncoderLayer's default order
    (norm_first=False), checked against those formulas in NumPy with the layer's weights."""
    zeroin.manual_seed(12)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0)
    layer.eval()
    X = np.random.default_rng(12).normal(size=(6, 8))
    s = {k: v.numpy() for k, v in layer.state_dict().items()}

    def norm(a, g, b):
        return (a - a.mean(1, keepdims=True)) / np.sqrt(a.var(1, keepdims=True) + 1e-5) * g + b

    q, k, v = np.split(X @ s["self_attn.in_proj_weight"].T + s["self_attn.in_proj_bias"], 3, 1)
    heads = [_softmax_cols((q[:, h] @ k[:, h].T / 2.0).T).T @ v[:, h]
             for h in (slice(0, 4), slice(4, 8))]
    sa = np.hstack(heads) @ s["self_attn.out_proj.weight"].T + s["self_attn.out_proj.bias"]
    X1 = norm(X + sa, s["norm1.weight"], s["norm1.bias"])
    mlp = np.maximum(X1 @ s["linear1.weight"].T + s["linear1.bias"], 0) @ \
        s["linear2.weight"].T + s["linear2.bias"]
    want = norm(X1 + mlp, s["norm2.weight"], s["norm2.bias"])
    np.testing.assert_allclose(_np(layer(zeroin.tensor(X))), want, rtol=1e-12, atol=1e-12)
