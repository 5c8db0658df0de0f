"""Audit against fast.ai's "Practical Deep Learning for Coders" part 2 (From Deep Learning
Foundations to Stable Diffusion, 2022-23), notebooks 01-14: each notebook's main code as a
learner ports it (``import zeroin as torch``, ``from zeroin import nn``, ``import
zeroin.nn.functional as F``), without fastcore / fastai / datasets / torcheval (the few helpers
are written here), run with ``torch`` and with ``zeroin`` on the same MNIST-like data and the
same weights (drawn by torch and copied), compared to 1e-10 in float64 and to float resolution
in float32. See docs/fastai.md."""
import math
import random
from collections.abc import Mapping
from functools import partial
from operator import attrgetter

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as ZF
from _audit import close, copy_weights

torch = pytest.importorskip("torch")
TF = torch.nn.functional
LIBS = ((torch, TF), (zeroin, ZF))
F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=1e-5, atol=1e-6)

_rng = np.random.default_rng(42)
Y_NP = _rng.integers(0, 10, 256)
# an MNIST-like set: 28x28 images in [0, 1) whose bright band depends on the label
X_NP = (_rng.random((256, 28, 28)) * 0.3
        + (np.arange(28)[None, :, None] // 3 == Y_NP[:, None, None]) * 0.7).reshape(256, 784)


@pytest.fixture(autouse=True)
def _f64():
    """float64 in both libraries (conftest puts zeroin's default back)."""
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def _close(z, t, **tol):
    close(z, t, **(tol or F64))


def _data(lib, n=256):
    return lib.tensor(X_NP[:n]), lib.tensor(Y_NP[:n])


def _twins(build):
    """The same model in both libraries, zeroin's weights copied from torch's."""
    tm = build(torch, TF)
    zm = build(zeroin, ZF)
    copy_weights(tm, zm)
    return tm, zm


# --- 01_matmul ----------------------------------------------------------------------------

def _lcg(seed_a, n):
    """The notebook's Wichmann-Hill ``rand()``."""
    a, x = divmod(seed_a, 30268)
    a, y = divmod(a, 30306)
    a, z = divmod(a, 30322)
    x, y, z = int(x) + 1, int(y) + 1, int(z) + 1
    out = []
    for _ in range(n):
        x, y, z = (171 * x) % 30269, (172 * y) % 30307, (170 * z) % 30323
        out.append((x / 30269 + y / 30307 + z / 30323) % 1.0)
    return out


def _matmuls(lib):
    a = lib.tensor(X_NP[:5, :20])
    b = lib.tensor(np.array(_lcg(457428938475, 200)).reshape(20, 10))
    (ar, ac), (br, bc) = a.shape, b.shape
    assert ac == br
    loops, elem, bcast = lib.zeros(ar, bc), lib.zeros(ar, bc), lib.zeros(ar, bc)
    for i in range(ar):
        for j in range(bc):
            for k in range(ac):
                loops[i, j] += a[i, k] * b[k, j]
            elem[i, j] = (a[i, :] * b[:, j]).sum()
        bcast[i] = (a[i, :, None] * b).sum(dim=0)
    return a, b, (loops, elem, bcast, lib.einsum("ik,kj->ij", a, b), lib.matmul(a, b), a @ b)


def test_01_matmul_loops_broadcasting_einsum():
    for lib, _ in LIBS:
        a, b, outs = _matmuls(lib)
        for o in outs:
            assert lib.allclose(o, outs[-1], rtol=1e-5, atol=1e-8)     # test_close
        img = lib.tensor(X_NP[0]).reshape(28, 28)
        assert img[20, 15].item() == float(X_NP[0, 20 * 28 + 15])
        assert (b.min().item() >= 0) and (b.max().item() < 1)
    for zt, tt in zip(_matmuls(zeroin)[2], _matmuls(torch)[2]):
        _close(zt, tt)


def test_01_manual_seed_randn_on_the_torch_stream():
    zeroin.random.use_torch_stream(True)
    try:
        zeroin.manual_seed(1)
        w = zeroin.randn(784, 10)
    finally:
        zeroin.random.use_torch_stream(False)
    torch.manual_seed(1)
    _close(w, torch.randn(784, 10))                 # both float64 here


# --- 02_meanshift -------------------------------------------------------------------------

def _meanshift(lib, data, bs=None):
    def gaussian(d, bw):
        return lib.exp(-0.5 * ((d / bw)) ** 2) / (bw * math.sqrt(2 * math.pi))

    def tri(d, i):
        return (-d + i).clamp_min(0) / i

    X = data.clone()
    for it in range(3):
        if bs is None:
            for i, x in enumerate(X):
                dist = ((x - X) ** 2).sum(1).sqrt()
                weight = gaussian(dist, 2.5) if it else tri(dist, 8)
                X[i] = (weight[:, None] * X).sum(0) / weight.sum()
        else:
            for i in range(0, len(X), bs):
                s = slice(i, min(i + bs, len(X)))
                weight = gaussian((X[None] - X[s, None]).norm(dim=2), 2.5)
                X[s] = lib.einsum("ij,jk->ik", weight, X) / weight.sum(1, keepdim=True)
    return X


def test_02_meanshift_loop_and_batched():
    torch.manual_seed(0)
    centroids = torch.rand(4, 2) * 70 - 35
    data = torch.cat([torch.distributions.MultivariateNormal(
        c, torch.diag(torch.tensor([5., 5.]))).sample((25,)) for c in centroids])
    zdata = zeroin.tensor(data.numpy())
    _close(_meanshift(zeroin, zdata), _meanshift(torch, data))
    _close(_meanshift(zeroin, zdata, bs=16), _meanshift(torch, data, bs=16))
    d = zdata[None] - zdata[:, None]
    _close(d.norm(dim=2), ((d ** 2).sum(2)).sqrt())
    zm = zeroin.distributions.multivariate_normal.MultivariateNormal(
        zeroin.tensor([1., 2.]), zeroin.diag(zeroin.tensor([5., 5.])))
    assert tuple(zm.sample((7,)).shape) == (7, 2)


# --- 03_backprop --------------------------------------------------------------------------

def _weights():
    torch.manual_seed(0)
    return [torch.randn(784, 50) * 0.05, torch.zeros(50), torch.randn(50, 1) * 0.1,
            torch.zeros(1)]


def _hand_backward(lib, ws):
    w1, b1, w2, b2 = ws
    inp, targ = _data(lib, 64)
    targ = targ.float()

    def lin(x, w, b):
        return x @ w + b

    def lin_grad(inp, out, w, b):
        inp.g = out.g @ w.t()
        w.g = inp.t() @ out.g
        b.g = out.g.sum(0)

    l1 = lin(inp, w1, b1)
    l2 = l1.clamp_min(0.)
    out = lin(l2, w2, b2)
    diff = out[:, 0] - targ
    loss = diff.pow(2).mean()
    out.g = 2. * diff[:, None] / inp.shape[0]
    lin_grad(l2, out, w2, b2)
    l1.g = (l1 > 0).float() * l2.g
    lin_grad(inp, l1, w1, b1)
    return loss, [w.g for w in ws] + [inp.g]


def _autograd(lib, ws):
    ws = [w.clone().requires_grad_(True) for w in ws]
    inp, targ = _data(lib, 64)
    inp.requires_grad_()
    w1, b1, w2, b2 = ws
    out = (inp @ w1 + b1).relu() @ w2 + b2
    loss = ((out.squeeze(-1) - targ) ** 2).mean()
    loss.backward()
    return [w.grad for w in ws] + [inp.grad]


def test_03_hand_written_backward_with_g_matches_autograd():
    tw = _weights()
    zw = [zeroin.tensor(w.numpy()) for w in tw]
    tl, tg = _hand_backward(torch, tw)
    zl, zg = _hand_backward(zeroin, zw)
    _close(zl, tl)
    for z, t, za in zip(zg, tg, _autograd(zeroin, zw)):
        _close(z, t)
        _close(za, z)


class _Module:
    """03's ``Module`` with ``__call__`` storing args and out, ``backward`` calling ``bwd``."""

    def __call__(self, *args):
        self.args = args
        self.out = self.forward(*args)
        return self.out

    def backward(self):
        self.bwd(self.out, *self.args)


def test_03_module_classes_with_call():
    class Relu(_Module):
        def forward(self, inp):
            return inp.clamp_min(0.)

        def bwd(self, out, inp):
            inp.g = (inp > 0).float() * out.g

    class Lin(_Module):
        def __init__(self, w, b):
            self.w, self.b = w, b

        def forward(self, inp):
            return inp @ self.w + self.b

        def bwd(self, out, inp):
            inp.g = out.g @ self.w.t()
            self.w.g = inp.t() @ out.g
            self.b.g = out.g.sum(0)

    class Mse(_Module):
        def forward(self, inp, targ):
            return (inp.squeeze() - targ).pow(2).mean()

        def bwd(self, out, inp, targ):
            inp.g = 2 * (inp.squeeze() - targ).unsqueeze(-1) / targ.shape[0]

    res = {}
    for lib, _ in LIBS:
        ws = [lib.tensor(w.numpy()) for w in _weights()]
        layers = [Lin(ws[0], ws[1]), Relu(), Lin(ws[2], ws[3])]
        x, y = _data(lib, 64)
        for lay in layers:
            x = lay(x)
        loss = Mse()
        loss(x, y.float())
        loss.backward()
        for lay in reversed(layers):
            lay.backward()
        res[lib] = [w.g for w in ws]
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)


# --- 04_minibatch_training ----------------------------------------------------------------

def _mlp(lib, F):
    return lib.nn.Sequential(lib.nn.Linear(784, 50), lib.nn.ReLU(), lib.nn.Linear(50, 10))


def _accuracy(out, yb):
    return (out.argmax(dim=1) == yb).float().mean()


def _fit_by_hand(lib, F, model, x_train, y_train, bs=64, lr=0.5, epochs=2):
    n = len(x_train)
    for epoch in range(epochs):
        for i in range(0, n, bs):
            s = slice(i, min(n, i + bs))
            xb, yb = x_train[s], y_train[s]
            preds = model(xb)
            loss = F.cross_entropy(preds, yb)
            loss.backward()
            with lib.no_grad():
                for p in model.parameters():
                    p -= p.grad * lr
                model.zero_grad()
    return loss, _accuracy(preds, yb), f"{loss:.2f}, {_accuracy(preds, yb):.2f}"


def test_04_loss_functions_by_hand():
    for lib, F in LIBS:
        x = lib.tensor(X_NP[:8, :10]) * 5
        y = lib.tensor(Y_NP[:8])

        def log_softmax(x):
            return x - x.exp().sum(-1, keepdim=True).log()

        def logsumexp(x):
            m = x.max(-1)[0]
            return m + (x - m[:, None]).exp().sum(-1).log()

        sm = log_softmax(x)
        nll = -sm[range(y.shape[0]), y].mean()
        assert lib.allclose(logsumexp(x), x.logsumexp(-1))
        assert lib.allclose(nll, F.nll_loss(F.log_softmax(x, -1), y))
        assert lib.allclose(nll, F.cross_entropy(x, y))


def test_04_fit_by_slices_matches_torch():
    tm, zm = _twins(_mlp)
    tr = _fit_by_hand(torch, TF, tm, *_data(torch))
    zr = _fit_by_hand(zeroin, ZF, zm, *_data(zeroin))
    _close(zr[0], tr[0])
    _close(zr[1], tr[1])
    assert zr[2] == tr[2]
    for zp, tp in zip(zm.parameters(), tm.parameters()):
        _close(zp, tp)


class _Dataset:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def _collate(b, lib):
    xs, ys = zip(*b)
    return lib.stack(xs), lib.stack(ys)


def test_04_dataset_samplers_and_dataloader():
    out = {}
    for lib, F in LIBS:
        D = lib.utils.data
        ds = _Dataset(*_data(lib, 40))
        assert len(ds[[4, 6, 7]][0]) == 3
        samp = D.BatchSampler(D.SequentialSampler(ds), 8, drop_last=False)
        dl = D.DataLoader(ds, batch_sampler=samp, collate_fn=partial(_collate, lib=lib))
        xb, yb = next(iter(dl))
        assert tuple(xb.shape) == (8, 784) and tuple(yb.shape) == (8,)
        dl2 = D.DataLoader(ds, 8, sampler=D.SequentialSampler(ds),
                           collate_fn=partial(_collate, lib=lib))
        xb2, yb2 = next(iter(dl2))
        assert bool((xb2 == xb).all())
        rs = list(D.BatchSampler(D.RandomSampler(ds), 8, drop_last=True))
        assert sorted(i for b in rs for i in b) == list(range(40))
        dl3 = D.DataLoader(ds, batch_size=16, shuffle=True, drop_last=True, num_workers=2)
        assert [len(b[0]) for b in dl3] == [16, 16]
        out[lib] = [b for b in D.DataLoader(ds, batch_size=16)]   # default_collate
    for (zx, zy), (tx, ty) in zip(out[zeroin], out[torch]):
        _close(zx, tx)
        _close(zy, ty)


# --- 05 / 07: device helpers, unfold, the cnn ---------------------------------------------

def _to_device(lib, x, device="cpu"):
    if isinstance(x, lib.Tensor):
        return x.to(device)
    if isinstance(x, Mapping):
        return {k: v.to(device) for k, v in x.items()}
    return type(x)(_to_device(lib, o, device) for o in x)


def test_05_collate_dict_and_to_device():
    for lib, F in LIBS:
        def_device = ("mps" if lib.backends.mps.is_available()
                      else "cuda" if lib.cuda.is_available() else "cpu")
        assert def_device == "cpu"
        b = lib.utils.data.default_collate([{"image": lib.ones(2), "label": 1},
                                            {"image": lib.zeros(2), "label": 3}])
        b = _to_device(lib, b)
        assert b["label"].tolist() == [1, 3] and tuple(b["image"].shape) == (2, 2)
        t = _to_device(lib, (lib.ones(1), [lib.ones(2)]))
        assert isinstance(t, tuple) and isinstance(t[1], list)


def test_07_unfold_matmul_is_conv2d():
    res = {}
    for lib, F in LIBS:
        xb = lib.tensor(X_NP[:16]).view(-1, 28, 28).float()        # the notebook's float32
        left = lib.tensor([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]).float()
        top = lib.tensor([[-1, -1, -1], [0, 0, 0], [1, 1, 1]]).float()
        inp_unf = F.unfold(xb[0][None, None, :, :], (3, 3))[0]
        out = (left.view(-1) @ inp_unf).view(26, 26)
        edge_kernels = lib.stack([left, top])
        conv = F.conv2d(xb[:, None], edge_kernels[:, None])
        assert lib.allclose(out, conv[0, 0], atol=1e-6)
        assert conv.dtype == lib.float32
        res[lib] = conv
    _close(res[zeroin], res[torch], **F32)


def _conv(lib, ni, nf, ks=3, stride=2, act=True):
    res = lib.nn.Conv2d(ni, nf, stride=stride, kernel_size=ks, padding=ks // 2)
    return lib.nn.Sequential(res, lib.nn.ReLU()) if act else res


def _cnn(lib, F):
    c = partial(_conv, lib)
    return lib.nn.Sequential(c(1, 4), c(4, 8), c(8, 16), c(16, 16), c(16, 10, act=False),
                             lib.nn.Flatten())


def test_07_stride2_cnn_trains_the_same():
    tm, zm = _twins(_cnn)
    res = {}
    for lib, F, m in ((torch, TF, tm), (zeroin, ZF, zm)):
        x, y = _data(lib, 64)
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(2):
            loss = F.cross_entropy(m(x.view(-1, 1, 28, 28)), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
        res[lib] = [loss] + list(m.parameters())
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)


# --- 08_autoencoder -----------------------------------------------------------------------

def _autoencoder(lib, F):
    nn = lib.nn

    def deconv(ni, nf, ks=3, act=True):
        layers = [nn.UpsamplingNearest2d(scale_factor=2),
                  nn.Conv2d(ni, nf, stride=1, kernel_size=ks, padding=ks // 2)]
        if act:
            layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    c = partial(_conv, lib)
    return nn.Sequential(nn.ZeroPad2d(2), c(1, 2), c(2, 4), deconv(4, 2), deconv(2, 1, act=False),
                         nn.ZeroPad2d(-2), nn.Sigmoid())


def _conv_transpose_ae(lib, F):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                         nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),
                         nn.Sigmoid())


@pytest.mark.parametrize("build", [_autoencoder, _conv_transpose_ae])
def test_08_autoencoder_with_adamw(build):
    tm, zm = _twins(build)
    res = {}
    for lib, F, m in ((torch, TF, tm), (zeroin, ZF, zm)):
        x = _data(lib, 32)[0].view(-1, 1, 28, 28)
        opt = lib.optim.AdamW(m.parameters(), lr=0.01)
        for _ in range(3):
            out = m(x)
            loss = F.mse_loss(out, x)
            loss.backward()
            opt.step()
            opt.zero_grad()
        assert tuple(out.shape) == (32, 1, 28, 28)
        res[lib] = [loss] + list(m.parameters())
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)


# --- 09_learner ---------------------------------------------------------------------------

class CancelFitException(Exception):
    pass


class CancelBatchException(Exception):
    pass


class CancelEpochException(Exception):
    pass


_CANCEL = dict(fit=CancelFitException, batch=CancelBatchException, epoch=CancelEpochException)


class with_cbs:
    def __init__(self, nm):
        self.nm = nm

    def __call__(self, f):
        def _f(o, *args, **kwargs):
            try:
                o.callback(f"before_{self.nm}")
                f(o, *args, **kwargs)
                o.callback(f"after_{self.nm}")
            except _CANCEL[self.nm]:
                pass
            finally:
                o.callback(f"cleanup_{self.nm}")
        return _f


class DataLoaders:
    def __init__(self, *dls):
        self.train, self.valid = dls[:2]


class Learner:
    """09's Learner: the training steps are callbacks (``TrainCB``) or methods (subclasses)."""

    def __init__(self, lib, model, dls, loss_func, lr=0.1, cbs=(), opt_func=None):
        self.lib, self.model, self.dls, self.loss_func, self.lr = lib, model, dls, loss_func, lr
        self.cbs, self.opt_func = list(cbs), opt_func or lib.optim.SGD

    @with_cbs("batch")
    def _one_batch(self):
        self.predict()
        self.callback("after_predict")
        self.get_loss()
        self.callback("after_loss")
        if self.training:
            self.backward()
            self.callback("after_backward")
            self.step()
            self.callback("after_step")
            self.zero_grad()

    @with_cbs("epoch")
    def _one_epoch(self):
        for self.iter, self.batch in enumerate(self.dl):
            self._one_batch()

    def one_epoch(self, training):
        self.model.train(training)
        self.dl = self.dls.train if training else self.dls.valid
        self._one_epoch()

    @with_cbs("fit")
    def _fit(self, train, valid):
        for self.epoch in self.epochs:
            if train:
                self.one_epoch(True)
            if valid:
                self.lib.no_grad()(self.one_epoch)(False)

    def fit(self, n_epochs=1, train=True, valid=True, cbs=None, lr=None):
        cbs = list(cbs or [])
        self.cbs += cbs
        try:
            self.n_epochs = n_epochs
            self.epochs = range(n_epochs)
            self.opt = self.opt_func(self.model.parameters(), self.lr if lr is None else lr)
            self._fit(train, valid)
        finally:
            for cb in cbs:
                self.cbs.remove(cb)

    def __getattr__(self, name):
        if name in ("predict", "get_loss", "backward", "step", "zero_grad"):
            return partial(self.callback, name)
        raise AttributeError(name)

    def callback(self, method_nm):
        for cb in sorted(self.cbs, key=attrgetter("order")):
            method = getattr(cb, method_nm, None)
            if method is not None:
                method(self)

    @property
    def training(self):
        return self.model.training


class Callback:
    order = 0


class TrainCB(Callback):
    def predict(self, learn):
        learn.preds = learn.model(learn.batch[0])

    def get_loss(self, learn):
        learn.loss = learn.loss_func(learn.preds, learn.batch[1])

    def backward(self, learn):
        learn.loss.backward()

    def step(self, learn):
        learn.opt.step()

    def zero_grad(self, learn):
        learn.opt.zero_grad()


class DeviceCB(Callback):
    def before_batch(self, learn):
        learn.batch = _to_device(learn.lib, learn.batch)


class MetricsCB(Callback):
    """torcheval's ``Mean`` written by hand: the batch-size weighted mean of loss and accuracy."""

    def before_epoch(self, learn):
        self.tot = {"loss": 0., "acc": 0.}
        self.n = 0

    def after_batch(self, learn):
        n = len(learn.batch[0])
        with learn.lib.no_grad():
            self.tot["loss"] += learn.loss.item() * n
            self.tot["acc"] += _accuracy(learn.preds, learn.batch[1]).item() * n
        self.n += n

    def after_epoch(self, learn):
        learn.log = getattr(learn, "log", []) + [
            (learn.epoch, learn.training, self.tot["loss"] / self.n, self.tot["acc"] / self.n)]


class SingleBatchCB(Callback):
    order = 1

    def after_batch(self, learn):
        raise CancelFitException()


class MomentumLearner(Learner):
    def __init__(self, lib, model, dls, loss_func, lr, mom=0.85, cbs=()):
        self.mom = mom
        super().__init__(lib, model, dls, loss_func, lr, cbs)

    def predict(self):
        self.preds = self.model(self.batch[0])

    def get_loss(self):
        self.loss = self.loss_func(self.preds, self.batch[1])

    def backward(self):
        self.loss.backward()

    def step(self):
        self.opt.step()

    def zero_grad(self):
        with self.lib.no_grad():
            for p in self.model.parameters():
                p.grad *= self.mom


def _dls(lib):
    D = lib.utils.data
    x, y = _data(lib)
    train = D.DataLoader(D.TensorDataset(x[:192], y[:192]), batch_size=64)
    valid = D.DataLoader(D.TensorDataset(x[192:], y[192:]), batch_size=128)
    return DataLoaders(train, valid)


def _run_learners(lib, F, m1, m2):
    learn = Learner(lib, m1, _dls(lib), F.cross_entropy, lr=0.2,
                    cbs=[TrainCB(), DeviceCB(), MetricsCB()])
    learn.fit(2)
    learn.fit(1, cbs=[SingleBatchCB()])          # cancelled after one batch: cleaned up
    mlearn = MomentumLearner(lib, m2, _dls(lib), F.cross_entropy, lr=0.1,
                             cbs=[DeviceCB(), MetricsCB()])
    mlearn.fit(2)
    return learn, mlearn


def test_09_learner_with_callbacks():
    t1, z1 = _twins(_mlp)
    t2, z2 = _twins(_mlp)
    tl, tml = _run_learners(torch, TF, t1, t2)
    zl, zml = _run_learners(zeroin, ZF, z1, z2)
    assert len(zl.cbs) == 3 and zl.iter == tl.iter == 0
    assert [r[:2] for r in zl.log] == [r[:2] for r in tl.log]
    for zlearn, tlearn in ((zl, tl), (zml, tml)):
        np.testing.assert_allclose([r[2:] for r in zlearn.log], [r[2:] for r in tlearn.log],
                                   **F64)
        for zp, tp in zip(zlearn.model.parameters(), tlearn.model.parameters()):
            _close(zp, tp)
    assert zl.model.training is tl.model.training is True      # cancelled in training
    assert zml.model.training is tml.model.training is False   # the last epoch evaluated


# --- 10_activations -----------------------------------------------------------------------

class GeneralRelu:
    """10's GeneralRelu; an ``nn.Module`` subclass made per library."""

    @staticmethod
    def make(lib, F):
        class _GeneralRelu(lib.nn.Module):
            def __init__(self, leak=None, sub=None, maxv=None):
                super().__init__()
                self.leak, self.sub, self.maxv = leak, sub, maxv

            def forward(self, x):
                x = F.leaky_relu(x, self.leak) if self.leak is not None else F.relu(x)
                if self.sub is not None:
                    x -= self.sub
                if self.maxv is not None:
                    x.clamp_max_(self.maxv)
                return x
        return _GeneralRelu


class Hook:
    def __init__(self, m, f):
        self.hook = m.register_forward_hook(partial(f, self))

    def remove(self):
        self.hook.remove()

    def __del__(self):
        self.remove()


class Hooks(list):
    def __init__(self, ms, f):
        super().__init__([Hook(m, f) for m in ms])

    def __enter__(self, *args):
        return self

    def __exit__(self, *args):
        self.remove()

    def __del__(self):
        self.remove()

    def __delitem__(self, i):
        self[i].remove()
        super().__delitem__(i)

    def remove(self):
        for h in self:
            h.remove()


def _to_cpu(lib, x):
    res = x.detach().cpu()
    return res.float() if res.dtype == lib.float16 else res


def _append_stats(lib, hook, mod, inp, outp):
    if not hasattr(hook, "stats"):
        hook.stats = ([], [], [])
    acts = _to_cpu(lib, outp)
    hook.stats[0].append(acts.mean())
    hook.stats[1].append(acts.std())
    hook.stats[2].append(acts.abs().histc(40, 0, 10))


def _act_cnn(lib, F, leak=0.1, bn=True):
    nn = lib.nn
    GR = GeneralRelu.make(lib, F)
    act = partial(GR, leak=leak, sub=0.4, maxv=6.)

    def conv(ni, nf, ks=3, stride=2, act=act, norm=None, bias=None):
        if bias is None:
            bias = not isinstance(norm, type) or not issubclass(
                norm, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d))
        layers = [nn.Conv2d(ni, nf, stride=stride, kernel_size=ks, padding=ks // 2, bias=bias)]
        if norm:
            layers.append(norm(nf))
        if act:
            layers.append(act())
        return nn.Sequential(*layers)

    return nn.Sequential(conv(1, 8, norm=nn.BatchNorm2d if bn else None), conv(8, 16), conv(16, 16),
                         conv(16, 10, act=None), nn.Flatten())


def _hooked_run(lib, F, model):
    x, y = _data(lib, 64)
    x = x.view(-1, 1, 28, 28)
    opt = lib.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    with Hooks(model, partial(_append_stats, lib)) as hooks:
        for i in range(3):
            loss = F.cross_entropy(model(x[i * 16:(i + 1) * 16]), y[i * 16:(i + 1) * 16])
            loss.backward()
            opt.step()
            opt.zero_grad()
        hist = [lib.stack(h.stats[2]).t().float().log1p() for h in hooks]
        h1 = lib.stack(hooks[0].stats[2]).t().float()
        mins = h1[0] / h1.sum(0)
        del hooks[0]
        assert len(hooks) == 4
    return [lib.stack(h.stats[0]) for h in hooks] + hist + [mins, loss]


def test_10_hooks_histc_and_general_relu():
    tm, zm = _twins(_act_cnn)
    zr, tr = _hooked_run(zeroin, ZF, zm), _hooked_run(torch, TF, tm)
    assert len(zr) == len(tr) == 11
    for z, t in zip(zr, tr):                        # .float() histograms: float32
        assert z.dtype == zeroin.float64 if t.dtype == torch.float64 else zeroin.float32
        _close(z, t, **(F64 if t.dtype == torch.float64 else F32))
    x = torch.tensor([-3., -0.5, 0.2, 9.])          # leak, sub and maxv all act
    zg, tg = GeneralRelu.make(zeroin, ZF)(0.1, 0.4, 6.), GeneralRelu.make(torch, TF)(0.1, 0.4, 6.)
    _close(zg(zeroin.tensor(x.numpy())), tg(x))
    m = zeroin.nn.Linear(2, 2)                       # a removed hook stops
    calls = []
    h = m.register_forward_hook(lambda *a: calls.append(1))
    m(zeroin.ones(1, 2))
    h.remove()
    m(zeroin.ones(1, 2))
    assert calls == [1]


# --- 11_initializing ----------------------------------------------------------------------

def _norms(lib, F):
    nn = lib.nn

    class BatchNorm(nn.Module):
        def __init__(self, nf, mom=0.1, eps=1e-5):
            super().__init__()
            self.mom, self.eps = mom, eps
            self.mults = nn.Parameter(lib.ones(nf, 1, 1))
            self.adds = nn.Parameter(lib.zeros(nf, 1, 1))
            self.register_buffer("vars", lib.ones(1, nf, 1, 1))
            self.register_buffer("means", lib.zeros(1, nf, 1, 1))

        def update_stats(self, x):
            m = x.mean((0, 2, 3), keepdim=True)
            v = x.var((0, 2, 3), keepdim=True)
            self.means.lerp_(m, self.mom)
            self.vars.lerp_(v, self.mom)
            return m, v

        def forward(self, x):
            if self.training:
                with lib.no_grad():
                    m, v = self.update_stats(x)
            else:
                m, v = self.means, self.vars
            x = (x - m) / (v + self.eps).sqrt()
            return x * self.mults + self.adds

    class LayerNorm(nn.Module):
        def __init__(self, dummy, eps=1e-5):
            super().__init__()
            self.eps = eps
            self.mult = nn.Parameter(lib.tensor(1.))
            self.add = nn.Parameter(lib.tensor(0.))

        def forward(self, x):
            m = x.mean((1, 2, 3), keepdim=True)
            v = x.var((1, 2, 3), keepdim=True)
            x = (x - m) / ((v + self.eps).sqrt())
            return x * self.mult + self.add

    return BatchNorm, LayerNorm


def _lsuv(lib, F, model, xb):
    """11's LSUV: rescale each conv until the next GeneralRelu's output has mean 0, std 1."""
    GR = model[0][-1].__class__

    def _lsuv_stats(hook, mod, inp, outp):
        acts = _to_cpu(lib, outp)
        hook.mean = acts.mean()
        hook.std = acts.std()

    convs = [m for m in model.modules() if isinstance(m, lib.nn.Conv2d)]
    relus = [m for m in model.modules() if isinstance(m, GR)]
    for m, m_in in zip(relus, convs):
        h = Hook(m, _lsuv_stats)
        with lib.no_grad():
            for h.n in range(20):
                if model(xb) is None or (abs(h.std - 1) < 1e-3 and abs(h.mean) < 1e-3):
                    break
                m_in.bias -= h.mean
                m_in.weight.data /= h.std
        h.remove()
    return [h.mean, h.std]


def _init_run(lib, F, model):
    x, y = _data(lib, 64)
    x = x.view(-1, 1, 28, 28)
    xmean, xstd = x.mean(), x.std()
    x = (x - xmean) / xstd
    lsuv = _lsuv(lib, F, model, x[:16])
    BatchNorm, LayerNorm = _norms(lib, F)
    out = []
    for norm in (BatchNorm, LayerNorm, lib.nn.BatchNorm2d):
        n = norm(8)
        h = model[0][0](x)
        for _ in range(2):
            o = n(h)
        n.eval()
        out += [o, n(h)] + [b for b in n.buffers()]
        o.sum().backward()
    return lsuv + out + [p.grad for p in model[0][0].parameters()]


def test_11_kaiming_lsuv_batchnorm_layernorm_by_hand():
    def build(lib, F):
        m = _act_cnn(lib, F, bn=False)

        def init_weights(m, leaky=0.):
            if isinstance(m, (lib.nn.Conv1d, lib.nn.Conv2d, lib.nn.Conv3d, lib.nn.Linear)):
                lib.nn.init.kaiming_normal_(m.weight, a=leaky)
        if lib is torch:
            torch.manual_seed(0)
            m.apply(partial(init_weights, leaky=0.1))
            assert 0.4 < m[1][0].weight.std().item() * math.sqrt(8 * 9) / math.sqrt(2 / 1.01) < 2
        return m

    tm, zm = _twins(build)
    zr, tr = _init_run(zeroin, ZF, zm), _init_run(torch, TF, tm)
    assert len(zr) == len(tr)
    for z, t in zip(zr, tr):
        _close(z, t, rtol=1e-9, atol=1e-10)
    assert abs(zr[1].item() - 1) < 1e-3


# --- 12_accel_sgd -------------------------------------------------------------------------

class SGD:
    def __init__(self, lib, params, lr, wd=0., mom=0.9, sqr_mom=0.99, eps=1e-5):
        self.lib, self.params, self.lr, self.wd = lib, list(params), lr, wd
        self.mom, self.sqr_mom, self.eps, self.beta1, self.beta2 = mom, sqr_mom, eps, mom, sqr_mom
        self.i = 0

    def step(self):
        with self.lib.no_grad():
            for p in self.params:
                self.reg_step(p)
                self.opt_step(p)
        self.i += 1

    def opt_step(self, p):
        p -= p.grad * self.lr

    def reg_step(self, p):
        if self.wd != 0:
            p *= 1 - self.lr * self.wd

    def zero_grad(self):
        for p in self.params:
            p.grad.data.zero_()


class Momentum(SGD):
    def opt_step(self, p):
        if not hasattr(p, "grad_avg"):
            p.grad_avg = self.lib.zeros_like(p.grad)
        p.grad_avg = p.grad_avg * self.mom + p.grad * (1 - self.mom)
        p -= self.lr * p.grad_avg


class RMSProp(SGD):
    def opt_step(self, p):
        if not hasattr(p, "sqr_avg"):
            p.sqr_avg = p.grad ** 2
        p.sqr_avg = p.sqr_avg * self.sqr_mom + p.grad ** 2 * (1 - self.sqr_mom)
        p -= self.lr * p.grad / (p.sqr_avg.sqrt() + self.eps)


class Adam(SGD):
    def opt_step(self, p):
        if not hasattr(p, "avg"):
            p.avg = self.lib.zeros_like(p.grad.data)
        if not hasattr(p, "sqr_avg"):
            p.sqr_avg = self.lib.zeros_like(p.grad.data)
        p.avg = self.beta1 * p.avg + (1 - self.beta1) * p.grad
        unbias_avg = p.avg / (1 - (self.beta1 ** (self.i + 1)))
        p.sqr_avg = self.beta2 * p.sqr_avg + (1 - self.beta2) * (p.grad ** 2)
        unbias_sqr_avg = p.sqr_avg / (1 - (self.beta2 ** (self.i + 1)))
        p -= self.lr * unbias_avg / (unbias_sqr_avg + self.eps).sqrt()


def _opt_run(lib, F, model, opt):
    x, y = _data(lib, 96)
    for i in range(3):
        loss = F.cross_entropy(model(x[i * 32:(i + 1) * 32]), y[i * 32:(i + 1) * 32])
        loss.backward()
        opt.step()
        opt.zero_grad()
    return [loss] + list(model.parameters())


@pytest.mark.parametrize("opt", [SGD, Momentum, RMSProp, Adam])
def test_12_optimizers_by_hand(opt):
    tm, zm = _twins(_mlp)
    kw = dict(lr=0.01 if opt in (RMSProp, Adam) else 0.2, wd=1e-2)
    tr = _opt_run(torch, TF, tm, opt(torch, tm.parameters(), **kw))
    zr = _opt_run(zeroin, ZF, zm, opt(zeroin, zm.parameters(), **kw))
    for z, t in zip(zr, tr):
        _close(z, t)


def _scheds(lib):
    m = lib.nn.Linear(3, 2)
    sched = lib.optim.lr_scheduler
    out = []
    opt = lib.optim.SGD(m.parameters(), lr=0.06)
    s = sched.CosineAnnealingLR(opt, 100)
    for _ in range(105):
        opt.step()
        s.step()
        out.append([s.optimizer.param_groups[0]["lr"], s.get_last_lr()[0]])
    opt = lib.optim.Adam(m.parameters(), lr=6e-2)
    s = sched.OneCycleLR(opt, max_lr=6e-2, total_steps=30)
    for _ in range(30):
        opt.step()
        s.step() if _ < 29 else None
        pg = opt.param_groups[0]
        out.append([pg["lr"], pg["betas"][0], s.get_last_lr()[0]])
    return out


def test_12_schedulers_and_recorder_values():
    z, t = _scheds(zeroin), _scheds(torch)
    assert len(z) == len(t) == 135
    for a, b in zip(z, t):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


# --- 13_resnet ----------------------------------------------------------------------------

def _resnet(lib, F):
    nn = lib.nn
    GR = GeneralRelu.make(lib, F)
    act_gr = partial(GR, leak=0.1, sub=0.4)

    def conv(ni, nf, ks=3, stride=2, act=act_gr, norm=None):
        layers = [nn.Conv2d(ni, nf, stride=stride, kernel_size=ks, padding=ks // 2,
                            bias=norm is None)]
        if norm:
            layers.append(norm(nf))
        if act:
            layers.append(act())
        return nn.Sequential(*layers)

    class ResBlock(nn.Module):
        def __init__(self, ni, nf, stride=1, ks=3, act=act_gr, norm=nn.BatchNorm2d):
            super().__init__()
            self.convs = nn.Sequential(conv(ni, nf, 3, 1, act, norm),
                                       conv(nf, nf, 3, stride, None, norm))
            self.idconv = nn.Identity() if ni == nf else conv(ni, nf, ks=1, stride=1, act=None)
            self.stride = stride
            self.act = act()

        def forward(self, x):
            pooled = x if self.stride == 1 else F.avg_pool2d(x, 2, ceil_mode=True)
            return self.act(self.convs(x) + self.idconv(pooled))

    return nn.Sequential(ResBlock(1, 8), ResBlock(8, 16, stride=2), ResBlock(16, 16, stride=2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10, bias=False),
                         nn.BatchNorm1d(10))


def test_13_resblock_identity_avg_pool():
    tm, zm = _twins(_resnet)
    res = {}
    for lib, F, m in ((torch, TF, tm), (zeroin, ZF, zm)):
        x, y = _data(lib, 16)
        x = x.view(-1, 1, 28, 28)
        opt = lib.optim.AdamW(m.parameters(), lr=0.01)
        for _ in range(2):
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad()
        shapes = []
        hooks = Hooks(m, lambda h, mod, inp, outp: shapes.append(
            (mod.__class__.__name__, tuple(inp[0].shape), tuple(outp.shape),
             sum(o.numel() for o in mod.parameters()))))
        m.eval()
        with lib.no_grad():
            out = m(x)
        hooks.remove()
        res[lib] = [loss, out] + list(m.state_dict().values())
        res[lib, "s"] = shapes
    assert res[zeroin, "s"] == res[torch, "s"]
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)


# --- 14_augment ---------------------------------------------------------------------------

def _rand_erase1(lib, x, pct, xm, xs, mn, mx, rnd):
    szx = int(pct * x.shape[-2])
    szy = int(pct * x.shape[-1])
    stx = int(rnd.random() * (1 - pct) * x.shape[-2])
    sty = int(rnd.random() * (1 - pct) * x.shape[-1])
    lib.nn.init.normal_(x[:, :, stx:stx + szx, sty:sty + szy], mean=xm, std=xs)
    x.clamp_(mn, mx)


def _rand_copy1(x, pct, rnd):
    szx = int(pct * x.shape[-2])
    szy = int(pct * x.shape[-1])
    stx1, sty1, stx2, sty2 = (int(rnd.random() * (1 - pct) * x.shape[-1]) for _ in range(4))
    x[:, :, stx1:stx1 + szx, sty1:sty1 + szy] = x[:, :, stx2:stx2 + szx, sty2:sty2 + szy]


def test_14_random_erase_and_copy_by_hand():
    res = {}
    for lib, F in LIBS:
        x = _data(lib, 16)[0].view(-1, 1, 28, 28)
        xm, xs, mn, mx = x.mean(), x.std(), x.min(), x.max()
        lib.manual_seed(0)
        _rand_erase1(lib, x, 0.2, xm, xs, mn, mx, random.Random(1))
        changed = (x != _data(lib, 16)[0].view(-1, 1, 28, 28))
        assert 0 < changed.float().sum().item() <= 16 * 5 * 5
        assert changed[:, :, 0:1].sum().item() == 0 or changed[:, :, 27:].sum().item() == 0
        assert x.min() >= mn and x.max() <= mx
        y = _data(lib, 16)[0].view(-1, 1, 28, 28)
        _rand_copy1(y, 0.2, random.Random(2))
        res[lib] = [changed, y]
        idx = lib.randint(0, 28, (8,))
        r = lib.rand(8)
        assert idx.dtype == lib.int64 and 0 <= idx.min() and idx.max() < 28
        assert r.dtype == lib.float64 and 0 <= r.min() and r.max() < 1
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)


def test_14_tta_with_hflip():
    import zeroin.vision.transforms.functional as ZTF
    x = _data(torch, 4)[0].view(-1, 1, 28, 28)     # torchvision's hflip is this flip
    zx = zeroin.tensor(x.numpy()).requires_grad_()
    _close(ZTF.hflip(zx), torch.flip(x, dims=(-1,)))
    _close(ZTF.vflip(zx), torch.flip(x, dims=(-2,)))
    (ZTF.hflip(zx) * zeroin.arange(28.)).sum().backward()
    _close(zx.grad[0, 0, 0], torch.arange(27., -1, -1))
    img = X_NP[0].reshape(28, 28)                   # a NumPy image flips too
    np.testing.assert_array_equal(ZTF.hflip(img), img[:, ::-1])
