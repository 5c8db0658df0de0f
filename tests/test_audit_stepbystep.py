"""Audit against "Deep Learning with PyTorch Step-by-Step" (D. V. Godoy): each chapter's
workflow written once for a library ``T`` (torch or zeroin) and run on both with the same
data and copied weights, in float64; results must agree to 1e-10. Our own code, not the
book's: gradient descent by hand (Ch. 0), autograd and optimisers (1), data pipeline and
checkpoints (2), a StepByStep-style trainer (2.1-6: hooks, LR range test, schedulers,
clipping), binary and multiclass classification (3-5), batch norm and residuals (7),
recurrent layers (8), attention and transformers (9-10)."""
import copy
from importlib import import_module

import numpy as np
import pytest

import zeroin
from zeroin.gradcheck import gradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(2024)
X1 = RNG.random((60, 1))
Y1 = 1 + 2 * X1 + 0.1 * RNG.standard_normal((60, 1))
X2 = RNG.standard_normal((48, 2))
Y2 = (X2[:, :1] - 0.5 * X2[:, 1:] + 0.3 * RNG.standard_normal((48, 1)) > 0).astype(float)
IMG = RNG.random((24, 1, 6, 6))
LAB = (IMG[:, 0, :, :3].mean((1, 2)) > IMG[:, 0, :, 3:].mean((1, 2))).astype(int) \
    + (IMG[:, 0, 0, 0] > 0.8)
SEQ = RNG.standard_normal((3, 4, 2))


def _same(a, b, path="out"):
    """Nested lists / dicts / numbers equal to 1e-10 (strings and bools exactly)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and sorted(a) == sorted(b), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{path}: {a!r} vs {b!r}"
        for i, (u, v) in enumerate(zip(a, b)):
            _same(u, v, f"{path}[{i}]")
    elif isinstance(a, (str, bool, type(None))):
        assert a == b, f"{path}: {a!r} vs {b!r}"
    else:
        np.testing.assert_allclose(np.asarray(b, float), np.asarray(a, float), rtol=1e-10,
                                   atol=1e-10, err_msg=path)


def _both(fn):
    want, got = fn(torch), fn(zeroin)
    _same(want, got)
    return got


def _data(T):
    return import_module(T.__name__ + ".utils.data")


def _fill(T, module, seed, scale=0.5):
    """Copy the same numbers into a module's parameters in both libraries."""
    r = np.random.default_rng(seed)
    with T.no_grad():
        for p in module.parameters():
            p.copy_(T.as_tensor(r.standard_normal(tuple(p.shape)) * scale))
    return module


# ---- Chapter 0: gradient descent by hand ------------------------------------------------

def _hand_descent(x, y, lr, batches, epochs=4):
    """b, w updated with the hand-derived MSE gradients, numpy only."""
    b, w, losses = 0.5, -0.3, []
    for _ in range(epochs):
        for idx in batches:
            err = b + w * x[idx] - y[idx]
            losses.append(float((err ** 2).mean()))
            b, w = b - lr * 2 * err.mean(), w - lr * 2 * (x[idx] * err).mean()
    return losses + [b, w]


def _autograd_descent(x, y, lr, batches, epochs=4):
    b = zeroin.tensor(0.5, requires_grad=True)
    w = zeroin.tensor(-0.3, requires_grad=True)
    xt, yt, losses = zeroin.as_tensor(x), zeroin.as_tensor(y), []
    for _ in range(epochs):
        for idx in batches:
            loss = ((b + w * xt[idx] - yt[idx]) ** 2).mean()
            loss.backward()
            losses.append(loss.item())
            with zeroin.no_grad():
                b -= lr * b.grad
                w -= lr * w.grad
            b.grad.zero_()
            w.grad.zero_()
    return losses + [b.item(), w.item()]


@pytest.mark.parametrize("batch", [60, 16, 1])      # batch, mini-batch, stochastic
@pytest.mark.parametrize("scaled", [False, True])
def test_ch0_gradient_descent_by_hand_matches_autograd(batch, scaled):
    x = (X1 - X1.mean()) / X1.std() if scaled else X1
    order = np.random.default_rng(batch).permutation(60)
    batches = [order[i:i + batch] for i in range(0, 60, batch)][:6]
    _same(_hand_descent(x, Y1, 0.1, batches), _autograd_descent(x, Y1, 0.1, batches))


def test_ch0_learning_rate_and_loss_surface():
    full = [np.arange(60)]
    # the MSE in w has curvature 2 mean(x^2): past lr = 1 / mean(x^2) the steps grow
    lr_max = 1 / (X1 ** 2).mean()
    slow = _autograd_descent(X1, Y1, 0.2 * lr_max, full, epochs=8)[:8]
    wild = _autograd_descent(X1, Y1, 1.5 * lr_max, full, epochs=8)[:8]
    assert slow[-1] < slow[0] and wild[-1] > 10 * wild[0]
    _same(_hand_descent(X1, Y1, 1.5 * lr_max, full, epochs=8),
          _autograd_descent(X1, Y1, 1.5 * lr_max, full, epochs=8))
    bs, ws = np.meshgrid(np.linspace(-1, 3, 7), np.linspace(0, 4, 5))
    want = ((bs[..., None] + ws[..., None] * X1[:, 0] - Y1[:, 0]) ** 2).mean(-1)
    bt, wt = zeroin.as_tensor(bs), zeroin.as_tensor(ws)
    surf = ((bt.unsqueeze(-1) + wt.unsqueeze(-1) * zeroin.as_tensor(X1[:, 0])
             - zeroin.as_tensor(Y1[:, 0])) ** 2).mean(dim=-1)
    np.testing.assert_allclose(surf.numpy(), want, rtol=1e-12)


# ---- Chapter 1: autograd, optimiser, loss, model ----------------------------------------

def _ch1(T):
    nn = T.nn

    class Manual(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.Parameter(T.tensor([0.5], dtype=T.float64))
            self.w = nn.Parameter(T.tensor([-0.3], dtype=T.float64))

        def forward(self, x):
            return self.b + self.w * x

    out = []
    for model in (Manual(), nn.Sequential(nn.Linear(1, 1)).double()):
        if isinstance(model, nn.Sequential):
            with T.no_grad():
                model[0].weight.fill_(-0.3)
                model[0].bias.fill_(0.5)
        opt, loss_fn = T.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(reduction="mean")
        for _ in range(5):
            model.train()
            loss = loss_fn(model(T.as_tensor(X1)), T.as_tensor(Y1))
            loss.backward()
            opt.step()
            opt.zero_grad()
            out.append(loss.detach().cpu().numpy().item())
        out.append({k: v.tolist() for k, v in model.state_dict().items()})
    return out


def test_ch1_manual_module_and_sequential_train_alike():
    got = _both(_ch1)
    assert got[5]["b"] == got[11]["0.bias"] and got[5]["w"] == [got[11]["0.weight"][0][0]]


# ---- Chapter 2: data pipeline and checkpoints -------------------------------------------

def test_ch2_dataset_split_loader_shapes():
    def run(T):
        D = _data(T)
        ds = D.TensorDataset(T.as_tensor(X1), T.as_tensor(Y1))
        tr, va = D.random_split(ds, [48, 12], generator=T.Generator().manual_seed(42))
        a, b = D.random_split(ds, [0.8, 0.2])
        loader = D.DataLoader(tr, batch_size=16, shuffle=True)
        xb, yb = next(iter(loader))
        return [len(tr), len(va), len(a), len(b), len(loader), list(xb.shape), list(yb.shape),
                list(ds[0][0].shape), len(D.DataLoader(va, batch_size=16))]
    _both(run)


def test_ch2_loader_sampler_holds_the_generator_so_reseeding_repeats_the_order():
    """A trainer's set_seed reseeds ``loader.sampler.generator``; before the fix zeroin's
    sampler held the NumPy generator behind it, which has no manual_seed, so the usual
    ``try: ... except AttributeError`` skipped the reseed and runs did not repeat."""
    def run(T):
        D = _data(T)
        g = T.Generator()
        loader = D.DataLoader(D.TensorDataset(T.arange(20.0)), batch_size=5, shuffle=True,
                              generator=g)
        orders = []
        for _ in range(2):
            loader.sampler.generator.manual_seed(7)
            orders.append([xb.tolist() for (xb,) in loader])
        return [loader.sampler.generator is g, orders[0] == orders[1],
                sorted(sum(orders[0], [])) == list(range(20))]
    assert _both(run) == [True, True, True]


def test_ch4_index_split_with_a_tensor_of_lengths():
    """The book's helper scales a tensor of split sizes and hands it to random_split
    (before the fix zeroin refused a tensor of lengths)."""
    def run(T):
        D, out = _data(T), []
        for splits in ([80, 20], [0.8, 0.2], [3, 1]):
            idx = T.arange(50)
            sizes = (50 / T.as_tensor(splits).sum() * T.as_tensor(splits)).long()
            sizes[0] += 50 - sizes.sum()
            parts = D.random_split(idx, sizes, generator=T.Generator().manual_seed(13))
            train_idx = idx[T.as_tensor(parts[0].indices)]
            sampler = D.SubsetRandomSampler(train_idx, generator=T.Generator().manual_seed(1))
            out.append([[len(p) for p in parts], sorted(int(i) for i in sampler),
                        sorted(int(i) for p in parts for i in p) == list(range(50))])
        return [[o[0], len(o[1]), o[1] == sorted(set(o[1])), o[2]] for o in out]
    assert _both(run)[2] == [[38, 12], 38, True, True]


def _fit_linear(T, model, opt, epochs, order):
    D = _data(T)
    loader = D.DataLoader(D.TensorDataset(T.as_tensor(X1), T.as_tensor(Y1)), batch_size=16,
                          sampler=order)
    losses = []
    for _ in range(epochs):
        for xb, yb in loader:
            loss = T.nn.functional.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(loss.item())
    return losses


def test_ch2_float32_pipeline_as_the_book_writes_it():
    """The book's data are float32 (``as_tensor(x).float()``) and so is PyTorch's default;
    zeroin gets there with set_default_dtype (README), and trains alike to float32 rounding."""
    def run(T):
        old = T.get_default_dtype()
        T.set_default_dtype(T.float32)
        try:
            D = _data(T)
            loader = D.DataLoader(D.TensorDataset(T.as_tensor(X1).float(),
                                                  T.as_tensor(Y1).float()),
                                  batch_size=16, sampler=list(range(60)))
            model = T.nn.Sequential(T.nn.Linear(1, 1))
            with T.no_grad():
                model[0].weight.fill_(0.3)
                model[0].bias.fill_(-0.2)
            opt, losses = T.optim.SGD(model.parameters(), lr=0.1), []
            for _ in range(10):
                batch = []
                for xb, yb in loader:
                    loss = T.nn.MSELoss()(model(xb), yb)
                    loss.backward()
                    opt.step()
                    opt.zero_grad()
                    batch.append(loss.item())
                losses.append(np.mean(batch))
            model.eval()
            pred = model(T.as_tensor(X1[:3]).float()).detach().cpu().numpy()
            return losses, pred, str(model[0].weight.dtype).split(".")[-1]
        finally:
            T.set_default_dtype(old)
    (want, pred_t, dt_t), (got, pred_z, dt_z) = run(torch), run(zeroin)
    assert dt_t == dt_z == "float32" and pred_z.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(pred_z, pred_t, rtol=1e-5)
    assert zeroin.get_default_dtype() == zeroin.float64


def test_ch2_checkpoint_resume_equals_one_run(tmp_path):
    order = RNG.permutation(60).tolist()

    def run(T):
        make = lambda: _fill(T, T.nn.Linear(1, 1).double(), 3)   # noqa: E731
        one = make()
        opt = T.optim.Adam(one.parameters(), lr=0.05)
        straight = _fit_linear(T, one, opt, 4, order)
        first = make()
        opt = T.optim.Adam(first.parameters(), lr=0.05)
        part = _fit_linear(T, first, opt, 2, order)
        path = str(tmp_path / f"{T.__name__}.pth")
        T.save({"epoch": 2, "model_state_dict": first.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "loss": part}, path)
        ck = T.load(path)
        second = _fill(T, T.nn.Linear(1, 1).double(), 9)
        opt2 = T.optim.Adam(second.parameters(), lr=0.5)
        second.load_state_dict(ck["model_state_dict"])
        opt2.load_state_dict(ck["optimizer_state_dict"])
        second.train()
        resumed = ck["loss"] + _fit_linear(T, second, opt2, 2, order)
        return [straight, resumed, ck["epoch"]]
    got = _both(run)
    _same(got[0], got[1])


# ---- Chapters 2.1-6: a StepByStep-style trainer -----------------------------------------

class _Trainer:
    """Mini-batch training with validation, per-batch or per-epoch LR schedulers,
    gradient clipping, forward hooks and an LR range test, for ``T`` = torch or zeroin."""

    def __init__(self, T, model, loss_fn, optimizer):
        self.T, self.model, self.loss_fn, self.opt = T, model, loss_fn, optimizer
        self.losses, self.val_losses, self.lrs = [], [], []
        self.scheduler, self.per_batch, self.clip = None, False, None
        self.seen, self.handles = {}, []

    def set_scheduler(self, scheduler):
        S = self.T.optim.lr_scheduler
        assert scheduler.optimizer is self.opt
        self.scheduler = scheduler
        self.per_batch = isinstance(scheduler, (S.CyclicLR, S.OneCycleLR,
                                                S.CosineAnnealingWarmRestarts))

    def _step(self, x, y, train):
        self.model.train(train)
        loss = self.loss_fn(self.model(x), y)
        if train:
            loss.backward()
            if self.clip:
                self.clip()
            self.opt.step()
            self.opt.zero_grad()
        return loss.item()

    def _epoch(self, loader, train, epoch):
        losses = []
        for i, (x, y) in enumerate(loader):
            losses.append(self._step(x, y, train))
            if train and self.scheduler is not None and self.per_batch:
                S = self.T.optim.lr_scheduler
                if isinstance(self.scheduler, S.CosineAnnealingWarmRestarts):
                    self.scheduler.step(epoch + i / len(loader))
                else:
                    self.scheduler.step()
                self.lrs.append([g["lr"] for g in self.opt.state_dict()["param_groups"]])
        return float(np.mean(losses))

    def train(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            self.losses.append(self._epoch(train_loader, True, epoch))
            with self.T.no_grad():
                self.val_losses.append(self._epoch(val_loader, False, epoch))
            if self.scheduler is not None and not self.per_batch:
                S = self.T.optim.lr_scheduler
                if isinstance(self.scheduler, S.ReduceLROnPlateau):
                    self.scheduler.step(self.val_losses[-1])
                else:
                    self.scheduler.step()
                self.lrs.append([g["lr"] for g in self.opt.state_dict()["param_groups"]])

    def hook(self, names):
        where = {m: n for n, m in self.model.named_modules()}

        def keep(layer, inputs, output):
            self.seen.setdefault(where[layer], []).append(output.detach().cpu().numpy())
        self.handles += [m.register_forward_hook(keep) for n, m in self.model.named_modules()
                         if n in names]

    def unhook(self):
        for h in self.handles:
            h.remove()
        self.handles = []

    def correct(self, x, y, threshold=0.5):
        self.model.eval()
        yhat = self.model(x)
        self.model.train()
        if yhat.shape[1] > 1:
            _, predicted = self.T.max(yhat, 1)
            classes = yhat.shape[1]
        else:
            predicted = (self.T.sigmoid(yhat) > threshold).long()
            classes = 2
        return self.T.tensor([[(predicted[y == c] == c).sum().item(), (y == c).sum().item()]
                              for c in range(classes)])

    def lr_range_test(self, loader, end_lr, num_iter, alpha=0.05):
        saved = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()))
        start = self.opt.state_dict()["param_groups"][0]["lr"]
        factor = (np.log(end_lr) - np.log(start)) / num_iter
        sched = self.T.optim.lr_scheduler.LambdaLR(self.opt, lambda i: np.exp(factor) ** i)
        track, it = {"lr": [], "loss": []}, 0
        while it < num_iter:
            for x, y in loader:
                loss = self.loss_fn(self.model(x), y)
                loss.backward()
                track["lr"].append(sched.get_last_lr()[0])
                prev = track["loss"][-1] if track["loss"] else loss.item()
                track["loss"].append(alpha * loss.item() + (1 - alpha) * prev)
                it += 1
                if it == num_iter:
                    break
                self.opt.step()
                sched.step()
                self.opt.zero_grad()
        self.opt.load_state_dict(saved[1])
        self.model.load_state_dict(saved[0])
        return track


def _loaders(T, x, y, batch=8, n_val=8):
    D = _data(T)
    ds = D.TensorDataset(T.as_tensor(x), T.as_tensor(y))
    n = len(x)
    order = np.random.default_rng(5).permutation(n - n_val).tolist()
    train = D.DataLoader(D.Subset(ds, list(range(n - n_val))), batch_size=batch, sampler=order)
    return train, D.DataLoader(D.Subset(ds, list(range(n - n_val, n))), batch_size=batch)


def test_ch3_binary_classifier_with_pos_weight_trains_alike():
    def run(T):
        nn = T.nn
        model = _fill(T, nn.Sequential(nn.Linear(2, 1)).double(), 1)
        y = T.as_tensor(Y2)
        # int / int is float32 in torch, float64 in zeroin (README): divide as doubles
        pos_weight = ((y == 0).sum().double() / (y == 1).sum().double()).view(1,)
        trainer = _Trainer(T, model, nn.BCEWithLogitsLoss(pos_weight=pos_weight),
                           T.optim.SGD(model.parameters(), lr=0.1))
        train, val = _loaders(T, X2, Y2)
        trainer.train(train, val, 4)
        probs = T.sigmoid(model(T.as_tensor(X2[:5]))).detach().cpu().numpy()
        sig = nn.Sequential(*model, nn.Sigmoid())
        bce = nn.BCELoss(reduction="none")(sig(T.as_tensor(X2[:5])), y[:5])
        return [trainer.losses, trainer.val_losses, probs.tolist(), bce.tolist(),
                trainer.correct(T.as_tensor(X2), y.long().squeeze(1)).tolist()]
    got = _both(run)
    assert got[0][-1] < got[0][0] and sum(c[1] for c in got[4]) == len(Y2)


def test_ch4_balancing_weights_and_channel_statistics():
    def run(T):
        D = _data(T)
        y = T.as_tensor(LAB)
        classes, counts = y.unique(return_counts=True)
        weights = (1.0 / counts.double())[y]
        g = T.Generator()
        sampler = D.WeightedRandomSampler(weights, num_samples=len(weights), generator=g)
        g.manual_seed(3)
        first = list(sampler)
        sampler.generator.manual_seed(3)
        loader = D.DataLoader(D.TensorDataset(T.as_tensor(IMG), y), batch_size=8)
        stats = []
        for x, _ in loader:                 # per-batch sums of per-image means and stds
            n, c, h, w = x.size()
            flat = x.reshape(n, c, -1)
            stats.append(T.stack([T.tensor([n] * c).double(), flat.mean(axis=2).sum(axis=0),
                                  flat.std(axis=2).sum(axis=0)], axis=0))
        total, means, stds = T.stack(stats, axis=0).sum(axis=0)
        x = T.as_tensor(IMG)
        norm = (x - (means / total).view(-1, 1, 1)) / (stds / total).view(-1, 1, 1)
        return [classes.tolist(), counts.tolist(), weights.tolist(), len(first),
                first == list(sampler), norm[:2].tolist(), x.flip(-1)[0, 0, 0].tolist()]
    got = _both(run)
    assert got[4] is True


def test_ch5_cnn_multiclass_hooks_and_correct():
    def run(T):
        nn = T.nn
        model = nn.Sequential()
        model.add_module("conv1", nn.Conv2d(1, 2, kernel_size=3))
        model.add_module("relu1", nn.ReLU())
        model.add_module("maxp1", nn.MaxPool2d(kernel_size=2))
        model.add_module("flatten", nn.Flatten())
        model.add_module("drop", nn.Dropout(p=0.3))
        model.add_module("fc", nn.Linear(8, 3))
        model = _fill(T, model.double(), 2)
        model.drop.p = 0.0                  # dropout's masks are library-specific
        trainer = _Trainer(T, model, nn.CrossEntropyLoss(),
                           T.optim.Adam(model.parameters(), lr=0.01))
        train, val = _loaders(T, IMG, LAB)
        trainer.train(train, val, 3)
        trainer.hook(["conv1", "fc"])
        with T.no_grad():
            for x, _ in val:
                model.eval()
                model(x)
        trainer.unhook()
        model(T.as_tensor(IMG[:2]))
        logp = nn.LogSoftmax(dim=-1)(model(T.as_tensor(IMG[:4])))
        return [trainer.losses, trainer.val_losses,
                {k: [a.tolist() for a in v] for k, v in trainer.seen.items()},
                trainer.correct(T.as_tensor(IMG), T.as_tensor(LAB)).tolist(),
                nn.NLLLoss()(logp, T.as_tensor(LAB[:4])).item(),
                nn.Softmax(dim=-1)(model(T.as_tensor(IMG[:2]))).tolist()]
    got = _both(run)
    assert len(got[2]["conv1"]) == 1 and np.shape(got[2]["conv1"][0]) == (8, 2, 4, 4)


_SCHEDULERS = {
    "StepLR": lambda S, o: S.StepLR(o, step_size=2, gamma=0.5),
    "ReduceLROnPlateau": lambda S, o: S.ReduceLROnPlateau(o, mode="max", patience=0, factor=0.5),
    "CyclicLR": lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                         mode="triangular2"),
    "OneCycleLR": lambda S, o: S.OneCycleLR(o, max_lr=0.1, total_steps=20),
    "CosineAnnealingWarmRestarts": lambda S, o: S.CosineAnnealingWarmRestarts(
        o, T_0=2, T_mult=2, eta_min=0.001),
}


@pytest.mark.parametrize("name", sorted(_SCHEDULERS))
def test_ch6_schedulers_per_batch_or_epoch_and_clipping(name):
    def run(T):
        nn = T.nn
        model = _fill(T, nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).double(), 4)
        opt = T.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        trainer = _Trainer(T, model, nn.BCEWithLogitsLoss(), opt)
        trainer.set_scheduler(_SCHEDULERS[name](T.optim.lr_scheduler, opt))
        trainer.clip = lambda: nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        train, val = _loaders(T, X2, Y2)
        trainer.train(train, val, 4)
        return [trainer.losses, trainer.val_losses, trainer.lrs, trainer.per_batch]
    got = _both(run)
    assert len({lr[0] for lr in got[2]}) > 1


def test_ch6_lr_range_test_restores_and_gradient_hooks():
    def run(T):
        nn = T.nn
        model = _fill(T, nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)).double(), 6)
        opt = T.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
        trainer = _Trainer(T, model, nn.BCEWithLogitsLoss(), opt)
        before = copy.deepcopy(model.state_dict())
        train, _ = _loaders(T, X2, Y2)
        track = trainer.lr_range_test(train, end_lr=1.0, num_iter=12)
        restored = all(bool((before[k] == v).all()) for k, v in model.state_dict().items())
        grads, handles = {}, []
        for name, p in model[0].named_parameters():
            grads[name] = []
            handles.append(p.register_hook(lambda g, name=name: grads[name].append(g.tolist())))
            handles.append(p.register_hook(lambda g: T.clamp(g, -0.01, 0.01)))
        loss = nn.BCEWithLogitsLoss()(model(T.as_tensor(X2)), T.as_tensor(Y2))
        loss.backward()
        clamped = [p.grad.tolist() for p in model[0].parameters()]
        for h in handles:
            h.remove()
        nn.utils.clip_grad_value_(model.parameters(), clip_value=0.005)
        return [track, restored, opt.state_dict()["param_groups"][0]["lr"], grads, clamped,
                [p.grad.tolist() for p in model.parameters()]]
    got = _both(run)
    assert got[1] is True and got[2] == 1e-3 and got[0]["lr"][-1] > 0.5


def test_ch3_ch5_losses_pass_gradcheck():
    x = zeroin.tensor(X2[:6], requires_grad=True)
    pw = zeroin.tensor([1.7])
    assert gradcheck(lambda t: zeroin.nn.BCEWithLogitsLoss(pos_weight=pw)(t[:, :1] - t[:, 1:],
                                                                         zeroin.tensor(Y2[:6])),
                     (x,))
    conv = _fill(zeroin, zeroin.nn.Conv2d(1, 2, 3).double(), 8)
    img = zeroin.tensor(IMG[:2], requires_grad=True)
    assert gradcheck(lambda t: zeroin.nn.functional.cross_entropy(
        zeroin.nn.functional.max_pool2d(conv(t), 2).flatten(1)[:, :3],
        zeroin.as_tensor(LAB[:2])), (img,))


# ---- Chapter 7: batch norm, residual blocks, frozen layers ------------------------------

def test_ch7_batchnorm_running_stats_and_residual_block():
    x4 = RNG.standard_normal((4, 2, 5, 5))

    def run(T):
        nn = T.nn
        bn = nn.BatchNorm1d(2, affine=False, momentum=None).double()
        for k in range(3):
            bn(T.as_tensor(X2[8 * k:8 * k + 8]))
        stats = [bn.running_mean.tolist(), bn.running_var.tolist(),
                 bn.num_batches_tracked.item(), list(bn.state_dict())]
        bn.eval()
        stats.append(bn(T.as_tensor(X2[:3])).tolist())

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(2, 2, 3, padding=1, bias=False)
                self.bn = nn.BatchNorm2d(2, momentum=0.2)
                self.relu = nn.ReLU()

            def forward(self, x):
                return self.relu(self.bn(self.conv(x)) + x)

        block = _fill(T, Block().double(), 10)
        x = T.as_tensor(x4).requires_grad_()
        out = nn.AdaptiveAvgPool2d((1, 1))(block(x)).flatten(1)
        out.sum().backward()
        for p in block.conv.parameters():
            p.requires_grad = False
        trainable = [n for n, p in block.named_parameters() if p.requires_grad]
        return stats + [out.tolist(), x.grad.tolist(), block.bn.running_var.tolist(), trainable]
    _both(run)


# ---- Chapter 8: recurrent layers and packed sequences -----------------------------------

@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_ch8_recurrent_layers(kind):
    def run(T):
        nn, U = T.nn, T.nn.utils.rnn
        layer = _fill(T, getattr(nn, kind)(input_size=2, hidden_size=3, num_layers=2,
                                           batch_first=True, bidirectional=True).double(), 11)
        x = T.as_tensor(SEQ).requires_grad_()
        out, hidden = layer(x)
        hidden = hidden[0] if kind == "LSTM" else hidden
        (out.sum() + hidden.sum()).backward()
        seqs = [x.detach()[0], x.detach()[1, :2], x.detach()[2, :3]]
        padded = U.pad_sequence(seqs, batch_first=True)
        packed = U.pack_padded_sequence(padded, [4, 2, 3], batch_first=True,
                                        enforce_sorted=False)
        pout, _ = layer(packed)
        unpacked, lengths = U.pad_packed_sequence(pout, batch_first=True)
        cell = _fill(T, getattr(nn, kind + "Cell")(2, 3).double(), 12)
        h = cell(T.as_tensor(SEQ[:, 0]))
        return [out.tolist(), hidden.tolist(), x.grad.tolist(), packed.batch_sizes.tolist(),
                unpacked.tolist(), lengths.tolist(),
                (h[0] if isinstance(h, tuple) else h).tolist()]
    _both(run)


# ---- Chapters 9-10: attention and transformers ------------------------------------------

def test_ch9_ch10_attention_and_transformer():
    src = RNG.standard_normal((2, 3, 4))

    def run(T):
        nn, F = T.nn, T.nn.functional
        q, k = T.as_tensor(SEQ[:, :1]), T.as_tensor(SEQ)
        mask = T.tensor([[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]).unsqueeze(1)
        scores = T.bmm(q, k.permute(0, 2, 1)).masked_fill(mask == 0, -1e9)
        alphas = F.softmax(scores / np.sqrt(2), dim=-1)
        mha = _fill(T, nn.MultiheadAttention(2, 1, batch_first=True).double(), 13)
        att, weights = mha(q, k, k, key_padding_mask=(mask == 0).squeeze(1))
        layer = nn.TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0,
                                           batch_first=True)
        enc = _fill(T, nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(4),
                                             enable_nested_tensor=False).double(), 14)
        full = _fill(T, nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1,
                                       num_decoder_layers=1, dim_feedforward=8, dropout=0.0,
                                       batch_first=True).double(), 15)
        s = T.as_tensor(src)
        causal = nn.Transformer.generate_square_subsequent_mask(2).double()
        emb = nn.Embedding.from_pretrained(T.as_tensor(np.arange(12.).reshape(3, 4)))
        patches = T.as_tensor(IMG[:2]).unfold(2, 3, 3).unfold(3, 3, 3)
        return [alphas.tolist(), T.bmm(alphas, k).tolist(), att.tolist(), weights.tolist(),
                enc(s).tolist(), full(s, s[:, :2], tgt_mask=causal).tolist(), causal.tolist(),
                emb(T.tensor([[2, 0]])).tolist(), emb.weight.requires_grad, patches.tolist()]
    _both(run)


def test_ch6_optimizer_state_momentum_and_adam_moments():
    grads = RNG.standard_normal((3, 2))

    def run(T):
        w = T.tensor(np.array([1.0, 2.0]), requires_grad=True)
        sgd, adam = T.optim.SGD([w], lr=0.1, momentum=0.9), T.optim.Adam([w], lr=0.1)
        for g in grads:
            w.grad = T.tensor(g)
            sgd.step()
            adam.step()
        s, a = sgd.state_dict(), adam.state_dict()
        return [w.tolist(), sorted(s["state"][0]), s["state"][0]["momentum_buffer"].tolist(),
                sorted(a["state"][0]), float(a["state"][0]["step"]),
                a["state"][0]["exp_avg"].tolist(), a["state"][0]["exp_avg_sq"].tolist(),
                list(a["param_groups"][0]["betas"]), a["param_groups"][0]["params"]]
    _both(run)


def test_ch8_rnn_cell_by_hand_equals_the_layer():
    def run(T):
        nn = T.nn
        cell = _fill(T, nn.RNNCell(2, 3).double(), 16, scale=1.0)
        state = cell.state_dict()
        x_in, x_h = nn.Linear(2, 3).double(), nn.Linear(3, 3).double()
        x_in.weight, x_in.bias = nn.Parameter(state["weight_ih"]), nn.Parameter(state["bias_ih"])
        x_h.weight, x_h.bias = nn.Parameter(state["weight_hh"]), nn.Parameter(state["bias_hh"])
        x = T.as_tensor(SEQ[0])
        h, h_cell, by_hand, by_cell = (T.zeros(1, 3, dtype=T.float64),) * 2 + ([], [])
        for t in range(4):
            h = T.tanh(x_in(x[t:t + 1]) + x_h(h))
            h_cell = cell(x[t:t + 1], h_cell)
            by_hand.append(h.tolist())
            by_cell.append(h_cell.tolist())
        layer = nn.RNN(2, 3).double()
        layer.load_state_dict({f"{k}_l0": v for k, v in state.items()})
        out, _ = layer(x.unsqueeze(1))
        return [list(state), by_hand, by_cell, out.squeeze(1).tolist(), list(layer.state_dict())]
    got = _both(run)
    _same(got[1], got[2])
    _same([h[0] for h in got[1]], got[3])


def test_ch9_encoder_decoder_stores_outputs_in_place():
    """Decoder outputs written into a preallocated tensor slice by slice (in the graph), fed
    back as the next input: gradients reach the encoder through the stored slices."""
    def run(T):
        nn = T.nn
        enc = _fill(T, nn.GRU(2, 3, batch_first=True).double(), 17)
        dec = _fill(T, nn.GRU(2, 3, batch_first=True).double(), 18)
        head = _fill(T, nn.Linear(3, 2).double(), 19)
        x = T.as_tensor(SEQ)
        states, _ = enc(x[:, :2])
        hidden = states[:, -1:].permute(1, 0, 2)
        step_in = x[:, 1:2]
        outputs = T.zeros(3, 2, 2, dtype=T.float64)
        for i in range(2):
            out, hidden = dec(step_in, hidden)
            pred = head(out[:, -1:])
            outputs[:, i:i + 1, :] = pred
            step_in = x[:, 2 + i:3 + i] if i == 0 else pred      # teacher forcing, then not
        loss = nn.MSELoss()(outputs, x[:, 2:])
        loss.backward()
        return [outputs.tolist(), loss.item(), enc.weight_hh_l0.grad.tolist(),
                head.weight.grad.tolist()]
    _both(run)
