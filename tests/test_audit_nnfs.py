"""Audit against "Neural Networks from Scratch in Python" (Kinsley & Kukiela, the NNFS book).

A learner who wrote the book's NumPy network comes to zeroin. Each check here writes the
book's hand-made backward rule or update fresh in NumPy (``_book_*``) and compares it with
zeroin's autograd and optimizers, then ports the book's chapter models to zeroin. Where the
two deliberately differ (layouts, clipping, regularisation at |w| = 0, momentum under a
decaying rate) the test pins the difference down and says so.

Book -> zeroin, in brief:
  Layer_Dense(n_in, n_out): weights (n_in, n_out)   nn.Linear(n_in, n_out): weight (n_out, n_in)
  Activation_Softmax + Loss_CategoricalCrossentropy  nn.CrossEntropyLoss on the logits
  Activation_Sigmoid + Loss_BinaryCrossentropy       nn.Sigmoid + nn.BCELoss (or BCEWithLogits)
  Loss_MeanSquaredError / Loss_MeanAbsoluteError    nn.MSELoss / nn.L1Loss
  weight_regularizer_l2=lam                         optimizer weight_decay=2*lam
  Layer_Dropout(rate)                               nn.Dropout(p=rate)
  Optimizer_*(decay=d)                              LambdaLR(opt, lambda k: 1 / (1 + d * k))
  Model.train / save_parameters / load_parameters   zeroin.fit / zeroin.save(state_dict) / load
"""
import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.checkpoint import CheckpointError
from zeroin.data import MNIST_FILES, load_dataset, make_spirals, make_vertical, write_idx
from zeroin.nn import functional as F
from zeroin.train import evaluate, fit, predict

RNG = np.random.default_rng(0)


def _t(a, grad=True):
    return zeroin.tensor(np.array(a, dtype=np.float64), requires_grad=grad)


def _onehot(y, k):
    return np.eye(k)[y]


# --- forward and backward of each layer against the book's rules ---------------------------

def test_dense_layer_is_linear_with_transposed_weights_and_book_backward():
    X, W, b = RNG.standard_normal((5, 4)), RNG.standard_normal((4, 3)), RNG.standard_normal(3)
    dvalues = RNG.standard_normal((5, 3))
    layer = nn.Linear(4, 3)
    with zeroin.no_grad():
        layer.weight.copy_(zeroin.tensor(W.T))     # the book stores (inputs, neurons)
        layer.bias.copy_(zeroin.tensor(b))
    x = _t(X)
    out = layer(x)
    np.testing.assert_allclose(out.numpy(), X @ W + b, rtol=1e-12)
    out.backward(zeroin.tensor(dvalues))
    np.testing.assert_allclose(layer.weight.grad.numpy().T, X.T @ dvalues, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.numpy(), dvalues.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), dvalues @ W.T, rtol=1e-12)


def test_relu_sigmoid_linear_backward_match_the_book():
    z = np.array([[-1.5, 0.0, 2.0], [0.3, -0.2, 0.0]])
    dv = RNG.standard_normal(z.shape)
    x = _t(z)
    F.relu(x).backward(zeroin.tensor(dv))
    np.testing.assert_array_equal(x.grad.numpy(), dv * (z > 0))     # 0 at z == 0, as the book
    x = _t(z)
    s = zeroin.sigmoid(x)
    s.backward(zeroin.tensor(dv))
    sb = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(s.numpy(), sb, rtol=1e-14)
    np.testing.assert_allclose(x.grad.numpy(), dv * sb * (1 - sb), rtol=1e-12)
    x = _t(z)                                        # Activation_Linear: nn.Identity
    nn.Identity()(x).backward(zeroin.tensor(dv))
    np.testing.assert_array_equal(x.grad.numpy(), dv)


def _book_softmax_backward(s, dvalues):
    """Per sample: the Jacobian diag(s) - s s^T times the upstream gradient."""
    return np.stack([(np.diagflat(si) - np.outer(si, si)) @ di for si, di in zip(s, dvalues)])


def test_softmax_forward_is_stable_and_backward_is_the_book_jacobian():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    e = np.exp(z - z.max(axis=1, keepdims=True))    # the book subtracts the row maximum
    s_book = e / e.sum(axis=1, keepdims=True)
    dv = RNG.standard_normal(z.shape)
    x = _t(z)
    s = F.softmax(x, dim=1)
    np.testing.assert_allclose(s.numpy(), s_book, rtol=1e-14)
    s.backward(zeroin.tensor(dv))
    np.testing.assert_allclose(x.grad.numpy(), _book_softmax_backward(s_book, dv),
                               rtol=1e-10, atol=1e-15)


# --- losses ----------------------------------------------------------------------------------

def test_categorical_cross_entropy_on_probabilities_and_its_backward():
    p = F.softmax(_t(RNG.standard_normal((6, 3))), dim=1).detach().numpy()
    y = np.array([0, 2, 1, 1, 0, 2])
    probs = _t(p)
    loss = F.nll_loss(zeroin.log(probs), zeroin.tensor(y))   # the book's loss on softmax outputs
    n = len(y)
    np.testing.assert_allclose(loss.item(), np.mean(-np.log(p[np.arange(n), y])), rtol=1e-14)
    loss.backward()
    np.testing.assert_allclose(probs.grad.numpy(), -_onehot(y, 3) / p / n, rtol=1e-12)
    # the book clips probabilities to [1e-7, 1 - 1e-7]; zeroin, as PyTorch, does not
    with np.errstate(divide="ignore"):
        zero = F.nll_loss(zeroin.log(zeroin.tensor([[1.0, 0.0]])), zeroin.tensor([1]))
    assert zero.item() == np.inf and -np.log(1e-7) < 17


@pytest.mark.parametrize("target", ["labels", "one-hot"])
def test_softmax_cross_entropy_combined_gradient_is_softmax_minus_target_over_n(target):
    z, y = RNG.standard_normal((8, 4)), RNG.integers(0, 4, 8)
    tgt = zeroin.tensor(y if target == "labels" else _onehot(y, 4))
    logits = _t(z)
    loss = nn.CrossEntropyLoss()(logits, tgt)
    loss.backward()
    e = np.exp(z - z.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(loss.item(), np.mean(-np.log(s[np.arange(8), y])), rtol=1e-13)
    np.testing.assert_allclose(logits.grad.numpy(), (s - _onehot(y, 4)) / 8, rtol=1e-10,
                               atol=1e-16)
    zeroin.gradcheck(lambda a: nn.CrossEntropyLoss()(a, tgt), [_t(z)])


def test_binary_cross_entropy_matches_the_book_and_pytorch_clamp():
    p = 1 / (1 + np.exp(-RNG.standard_normal((5, 2))))
    y = RNG.integers(0, 2, (5, 2)).astype(np.float64)
    probs = _t(p)
    loss = nn.BCELoss()(probs, zeroin.tensor(y))
    per_sample = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=-1)
    np.testing.assert_allclose(loss.item(), per_sample.mean(), rtol=1e-13)
    loss.backward()
    book = -(y / p - (1 - y) / (1 - p)) / p.shape[1] / p.shape[0]
    np.testing.assert_allclose(probs.grad.numpy(), book, rtol=1e-12)
    # a confident wrong answer: the book clips p to 1 - 1e-7 (loss 16.1), PyTorch's and
    # zeroin's BCELoss clamp the log at -100
    wrong = nn.BCELoss()(zeroin.tensor([[1.0]]), zeroin.tensor([[0.0]]))
    assert wrong.item() == 100.0
    with pytest.raises(ValueError, match="binary_cross_entropy"):
        nn.BCELoss()(probs, zeroin.tensor(y[:, 0]))   # (5, 2) vs (5,): no silent broadcast


def test_mse_and_mae_and_their_book_gradients():
    pred, y = RNG.standard_normal((6, 2)), RNG.standard_normal((6, 2))
    n, k = pred.shape
    a = _t(pred)
    loss = nn.MSELoss()(a, zeroin.tensor(y))
    np.testing.assert_allclose(loss.item(), np.mean(np.mean((y - pred) ** 2, axis=-1)))
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), -2 * (y - pred) / k / n, rtol=1e-12)
    a = _t(pred)
    loss = nn.L1Loss()(a, zeroin.tensor(y))
    np.testing.assert_allclose(loss.item(), np.mean(np.abs(y - pred)), rtol=1e-13)
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), -np.sign(y - pred) / k / n, rtol=1e-12)
    with pytest.raises(ValueError, match="mse_loss: input shape \\(6, 1\\) and target "
                                         "shape \\(6,\\) differ"):
        nn.MSELoss()(_t(pred[:, :1]), zeroin.tensor(y[:, 0]))


def test_l1_l2_regularisation_gradients_and_weight_decay():
    w = np.array([[0.5, -0.25, 0.0], [2.0, -1.0, 0.125]])
    l1, l2 = 0.01, 5e-4
    t = _t(w)
    (l1 * t.abs().sum() + l2 * (t * t).sum()).backward()
    dl1 = np.where(w < 0, -1.0, 1.0)        # the book's dL1: +1 at w == 0
    np.testing.assert_allclose(t.grad.numpy(), l1 * np.sign(w) + 2 * l2 * w, rtol=1e-14)
    book = l1 * dl1 + 2 * l2 * w
    differs = t.grad.numpy() != book
    assert differs.tolist() == (w == 0).tolist()       # only at w == 0 (autograd: |w|' = 0)
    # the book's L2 term lam * sum(w^2) is weight_decay = 2 * lam on the plain loss
    for opt_cls in (optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam):
        a, b = _t(w), _t(w)
        oa, ob = opt_cls([a], lr=0.01), opt_cls([b], lr=0.01, weight_decay=2 * l2)
        for _ in range(5):
            for p, o, pen in ((a, oa, l2), (b, ob, 0.0)):
                o.zero_grad()
                ((p ** 3).sum() + pen * (p * p).sum()).backward()
                o.step()
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12,
                                   atol=1e-15, err_msg=opt_cls.__name__)


def test_dropout_rate_is_the_drop_probability_and_scales_the_kept():
    zeroin.manual_seed(0)
    x = _t(np.full((200, 50), 3.0))
    layer = nn.Dropout(0.1)                    # the book's Layer_Dropout(0.1): drop 10 %
    out = layer(x)
    kept = out.numpy() != 0
    assert abs(1 - kept.mean() - 0.1) < 0.01
    np.testing.assert_allclose(out.numpy()[kept], 3.0 / 0.9, rtol=1e-14)
    dv = RNG.standard_normal(x.shape)
    out.backward(zeroin.tensor(dv))
    np.testing.assert_allclose(x.grad.numpy(), dv * kept / 0.9, rtol=1e-14)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())


def test_accuracy_as_the_book_computes_it():
    out = RNG.standard_normal((10, 3))
    y = RNG.integers(0, 3, 10)
    book = np.mean(np.argmax(out, axis=1) == y)
    assert zeroin.metrics.accuracy(out, y) == book
    assert zeroin.metrics.accuracy(out, _onehot(y, 3)) == book
    p, yb = RNG.uniform(size=(10, 1)), RNG.integers(0, 2, (10, 1))
    assert zeroin.metrics.accuracy(p, yb, logits=False) == np.mean((p > 0.5) == yb)


def test_whole_network_gradients_equal_the_books_backward_chain():
    """Dense -> ReLU -> Dense -> softmax + CCE with L2 on the first layer: the book's
    backward, layer by layer in NumPy, against one loss.backward()."""
    X, y = make_spirals(60, seed=3)
    W1, b1 = RNG.standard_normal((2, 16)), RNG.standard_normal(16) * 0.1
    W2, b2 = RNG.standard_normal((16, 3)), RNG.standard_normal(3) * 0.1
    lam = 5e-4
    z1 = X @ W1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    s = e / e.sum(axis=1, keepdims=True)
    book_loss = np.mean(-np.log(s[np.arange(len(y)), y])) + lam * ((W1 ** 2).sum()
                                                                   + (b1 ** 2).sum())
    dz2 = (s - _onehot(y, 3)) / len(y)
    dW2, db2, da1 = a1.T @ dz2, dz2.sum(axis=0), dz2 @ W2.T
    dz1 = da1 * (z1 > 0)
    dW1, db1 = X.T @ dz1 + 2 * lam * W1, dz1.sum(axis=0) + 2 * lam * b1

    fc1, fc2 = nn.Linear(2, 16), nn.Linear(16, 3)
    with zeroin.no_grad():
        for layer, W, b in ((fc1, W1, b1), (fc2, W2, b2)):
            layer.weight.copy_(zeroin.tensor(W.T))
            layer.bias.copy_(zeroin.tensor(b))
    model = nn.Sequential(fc1, nn.ReLU(), fc2)
    penalty = sum((p * p).sum() for p in fc1.parameters())
    loss = nn.CrossEntropyLoss()(model(zeroin.tensor(X)), zeroin.tensor(y)) + lam * penalty
    loss.backward()
    np.testing.assert_allclose(loss.item(), book_loss, rtol=1e-13)
    for got, want in ((fc1.weight.grad.numpy().T, dW1), (fc1.bias.grad.numpy(), db1),
                      (fc2.weight.grad.numpy().T, dW2), (fc2.bias.grad.numpy(), db2)):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-15)


# --- optimizers: zeroin against PyTorch, and the book's updates in NumPy ---------------------

def _book_step(kind, w, g, st, lr, decay, it, **hp):
    """One update of the book's optimizer ``kind`` (written here from its formulas)."""
    clr = lr / (1 + decay * it)
    if kind == "sgd":
        st["v"] = hp.get("momentum", 0.0) * st.get("v", 0) - clr * g
        return w + st["v"]
    eps = hp["eps"]
    if kind == "adagrad":
        st["c"] = st.get("c", 0) + g ** 2
        return w - clr * g / (np.sqrt(st["c"]) + eps)
    if kind == "rmsprop":
        st["c"] = hp["rho"] * st.get("c", 0) + (1 - hp["rho"]) * g ** 2
        return w - clr * g / (np.sqrt(st["c"]) + eps)
    b1, b2 = hp["betas"]
    st["m"] = b1 * st.get("m", 0) + (1 - b1) * g
    st["c"] = b2 * st.get("c", 0) + (1 - b2) * g ** 2
    m_hat, c_hat = st["m"] / (1 - b1 ** (it + 1)), st["c"] / (1 - b2 ** (it + 1))
    return w - clr * m_hat / (np.sqrt(c_hat) + eps)


def _grad(w):
    """Gradient of a fixed non-quadratic loss, by zeroin's autograd."""
    t = _t(w)
    ((t ** 2).sum() + (t.sin() * 3).sum() + (t ** 4).sum() * 0.1).backward()
    return t.grad.numpy()


BOOK_OPTIMIZERS = [
    ("sgd", optim.SGD, dict(momentum=0.9), {}),
    ("adagrad", optim.Adagrad, dict(eps=1e-7), {}),
    ("rmsprop", optim.RMSprop, dict(eps=1e-7, alpha=0.9), dict(rho=0.9)),
    ("adam", optim.Adam, dict(eps=1e-7, betas=(0.9, 0.999)), {}),
]


@pytest.mark.parametrize("kind,cls,kw,book_kw", BOOK_OPTIMIZERS)
def test_book_optimizers_equal_zeroin_with_lambda_lr_decay(kind, cls, kw, book_kw):
    """Epsilon sits outside the square root in the book, in PyTorch and in zeroin alike, so
    each book optimizer is zeroin's with the book's hyper-parameters; its ``decay`` is a
    per-step LambdaLR (Adagrad's own ``lr_decay`` is the same schedule). Only SGD with
    momentum parts ways under decay: the book keeps ``v = m v - lr_k g`` (the rate inside
    the velocity), PyTorch ``b = m b + g; w -= lr_k b``."""
    lr, decay, w0 = 0.05, 1e-2, RNG.standard_normal((3, 2))
    for d in (0.0, decay):
        wb, st, wz = w0.copy(), {}, _t(w0)
        opt = cls([wz], lr=lr, **kw)
        sched = optim.lr_scheduler.LambdaLR(opt, lambda k, d=d: 1 / (1 + d * k))
        for it in range(30):
            g = _grad(wb)
            wb = _book_step(kind, wb, g, st, lr, d, it, **kw, **book_kw)
            opt.zero_grad()
            wz.grad = zeroin.tensor(_grad(wz.detach().numpy()))
            opt.step()
            sched.step()
        same = np.allclose(wz.detach().numpy(), wb, rtol=1e-9, atol=1e-12)
        assert same == (d == 0 or kind != "sgd"), (kind, d)
    if kind == "adagrad":
        a = _t(w0)
        opt = optim.Adagrad([a], lr=lr, lr_decay=decay, eps=1e-7)
        for _ in range(30):
            opt.zero_grad()
            a.grad = zeroin.tensor(_grad(a.detach().numpy()))
            opt.step()
        np.testing.assert_allclose(a.detach().numpy(), wz.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)), ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-7, momentum=0.5, centered=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=1e-3)),
    ("Adagrad", dict(lr=0.1, weight_decay=1e-3, initial_accumulator_value=0.1)),
    ("Adam", dict(lr=0.02, weight_decay=1e-3)), ("Adam", dict(lr=0.02, amsgrad=True))])
def test_optimizers_train_the_spiral_net_as_pytorch(name, kw):
    torch = pytest.importorskip("torch")
    X, y = make_spirals(90, seed=1)
    w1, b1 = RNG.standard_normal((8, 2)), RNG.standard_normal(8) * 0.1
    w2, b2 = RNG.standard_normal((3, 8)) * 0.5, np.zeros(3)
    zp = [_t(a) for a in (w1, b1, w2, b2)]
    tp = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    zo, to = getattr(optim, name)(zp, **kw), getattr(torch.optim, name)(tp, **kw)
    zx, tx, zy, ty = zeroin.tensor(X), torch.tensor(X), zeroin.tensor(y), torch.tensor(y)
    for _ in range(15):
        for params, o, x, t, lib in ((zp, zo, zx, zy, F), (tp, to, tx, ty, torch.nn.functional)):
            o.zero_grad()
            h = lib.relu(lib.linear(x, params[0], params[1]))
            lib.cross_entropy(lib.linear(h, params[2], params[3]), t).backward()
            o.step()
    for a, b in zip(zp, tp):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-9,
                                   atol=1e-12)


# --- the chapters' models, ported ------------------------------------------------------------

def _spiral_net(out=3, dropout=None):
    layers = [nn.Linear(2, 64), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return nn.Sequential(*layers, nn.Linear(64, out))


def _train_full_batch(model, loss_fn, opt, X, y, steps, sched=None):
    x, t = zeroin.tensor(X), zeroin.tensor(y)
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return loss.item()


def test_chapter_10_spiral_classifier_with_each_optimizer():
    # close to nnfs's spiral_data(100, 3): arms of 1.6 turns, 0.5 rad of angular noise
    X, y = make_spirals(300, noise=0.5, turns=1.6, seed=0)
    first = None
    for make, least in ((lambda p: optim.SGD(p, lr=1.0, momentum=0.9), 0.8),
                        (lambda p: optim.Adagrad(p, lr=0.5), 0.65),
                        (lambda p: optim.RMSprop(p, lr=0.02, alpha=0.999, eps=1e-7), 0.6),
                        (lambda p: optim.Adam(p, lr=0.05, eps=1e-7), 0.9)):
        zeroin.manual_seed(0)
        model = _spiral_net()
        opt = make(model.parameters())
        sched = optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / (1 + 1e-3 * k))
        first = first or nn.CrossEntropyLoss()(model(zeroin.tensor(X)), zeroin.tensor(y)).item()
        loss = _train_full_batch(model, nn.CrossEntropyLoss(), opt, X, y, 300, sched)
        acc = zeroin.metrics.accuracy(predict(model, X), y)
        assert loss < 0.75 * first and acc > least, (type(opt).__name__, loss, acc)


def test_chapter_15_l2_and_dropout_with_validation_via_fit():
    X, y = make_spirals(300, seed=0)
    Xv, yv = make_spirals(150, seed=1)
    zeroin.manual_seed(0)
    model = _spiral_net(dropout=0.1)
    # the book regularises the first layer only (weights and biases, lam = 5e-4)
    opt = optim.Adam([{"params": model[0].parameters(), "weight_decay": 2 * 5e-4},
                      {"params": model[3].parameters()}], lr=0.05, eps=1e-7)
    h = fit(model, nn.CrossEntropyLoss(), opt, (X, y), (Xv, yv), epochs=300, batch_size=300,
            metrics=["accuracy"], verbose=0, seed=0)
    assert h["accuracy"][-1] > 0.9 and h["val_accuracy"][-1] > 0.9, h
    model.eval()
    np.testing.assert_array_equal(predict(model, Xv), predict(model, Xv))   # no dropout


def test_chapter_16_binary_logistic_regression_sigmoid_bce():
    X, y = make_vertical(200, classes=2, noise=0.1, seed=0)
    y = y.reshape(-1, 1).astype(np.float64)     # the book reshapes to one column, so does zeroin
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1), nn.Sigmoid())
    opt = optim.Adam(model.parameters(), lr=0.01, eps=1e-7)
    h = fit(model, nn.BCELoss(), opt, (X, y), (X, y), epochs=20, batch_size=50,
            metrics=["accuracy"], verbose=0)
    book_acc = np.mean((predict(model, X) > 0.5) == y)
    assert book_acc > 0.95 and h["val_accuracy"][-1] == book_acc


def test_chapter_17_regression_on_the_book_sine():
    X = np.arange(100).reshape(-1, 1) / 100     # nnfs's sine_data: x in [0, 1), sin(2 pi x)
    y = np.sin(2 * np.pi * X)
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 1))      # Activation_Linear: nothing after the layer
    opt = optim.Adam(model.parameters(), lr=0.005, eps=1e-7)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda k: 1 / (1 + 1e-3 * k))
    loss = _train_full_batch(model, nn.MSELoss(), opt, X, y, 250, sched)
    pred = predict(model, X)
    book_acc = np.mean(np.abs(pred - y) < np.std(y) / 25)    # the book's precision, 10x looser
    assert loss < 1e-3 and zeroin.metrics.mse(pred, y) < 1e-3
    assert book_acc > 0.9


def test_chapter_21_save_and_load_parameters(tmp_path):
    X, _ = make_spirals(30, seed=0)
    zeroin.manual_seed(0)
    model = _spiral_net()
    path = tmp_path / "spiral.params"
    zeroin.save(model.state_dict(), path)
    assert not path.read_bytes().startswith(b"\x80")           # no pickle
    zeroin.manual_seed(1)
    other = _spiral_net()
    assert not np.array_equal(predict(other, X), predict(model, X))
    other.load_state_dict(zeroin.load(path))
    np.testing.assert_array_equal(predict(other, X), predict(model, X))
    # the book's model.save pickles the whole object; zeroin says what to do instead
    with pytest.raises(CheckpointError, match=r"model.state_dict\(\).*load_state_dict"):
        zeroin.save(model, tmp_path / "whole.model")
    y = make_spirals(30, seed=0)[1]
    assert evaluate(other, nn.CrossEntropyLoss(), (X, y)) == evaluate(model, nn.CrossEntropyLoss(),
                                                                      (X, y))


def test_chapter_19_fashion_mnist_idx_files_load_as_mnist(tmp_path):
    # Fashion-MNIST ships MNIST's four IDX file names; the book normalises to [-1, 1]
    rng = np.random.default_rng(0)
    sizes = {"train": 50, "test": 20}
    for key, name in MNIST_FILES.items():
        n = sizes[key.split("_")[0]]
        arr = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) if key.endswith("images")
               else (np.arange(n) % 10).astype(np.uint8))
        write_idx(tmp_path / name, arr)
    d = load_dataset(f"mnist:{tmp_path}", val=0.2)
    assert (len(d.train), len(d.val), len(d.test)) == (40, 10, 20)
    X, y = d.test.arrays
    assert X.shape == (20, 784) and 0 <= X.min() and X.max() <= 1 and y.tolist()[:3] == [0, 1, 2]
    assert (d.in_features, d.out_features, d.task) == (784, 10, "multiclass")
