"""optim.swa_utils against PyTorch's: the averaged weights (SWA and EMA, with and without
buffers) along the same training path, update_bn's statistics, SWALR's learning rates."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.optim import swa_utils

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 3))
Y = RNG.normal(size=(24, 1))


def _models(batchnorm=False):
    """The same small network in both libraries, float64, equal weights."""
    def build(N):
        layers = [N.Linear(3, 4)] + ([N.BatchNorm1d(4)] if batchnorm else []) \
            + [N.Tanh(), N.Linear(4, 1)]
        return N.Sequential(*layers).double()
    mt = build(torch.nn)
    mz = build(nn)
    mz.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    return mz, mt


def _train(T, model, averaged, steps=6, lr=0.1, batch=8):
    opt = T.optim.SGD(model.parameters(), lr=lr)
    for s in range(steps):
        i = slice((s * batch) % len(X), (s * batch) % len(X) + batch)
        x, y = T.tensor(X[i]), T.tensor(Y[i])
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()
        averaged.update_parameters(model)


def _same_state(az, at, rtol=1e-12, skip=()):
    sz, st = az.state_dict(), at.state_dict()
    assert list(sz) == list(st)
    for k in st:
        if k in skip:
            continue
        np.testing.assert_allclose(np.asarray(sz[k].numpy(), dtype=float),
                                   st[k].numpy().astype(float), rtol=rtol, atol=1e-14,
                                   err_msg=k)


@pytest.mark.parametrize("how", ["swa", "ema_multi", "ema_single", "custom"])
@pytest.mark.parametrize("use_buffers", [False, True])
def test_averaged_weights_follow_pytorchs(how, use_buffers):
    mz, mt = _models(batchnorm=True)

    def make(T, mod, m):
        kw = {"use_buffers": use_buffers}
        if how == "ema_multi":
            kw["multi_avg_fn"] = mod.get_ema_multi_avg_fn(0.9)
        elif how == "ema_single":
            kw["avg_fn"] = mod.get_ema_avg_fn(0.8)
        elif how == "custom":
            kw["avg_fn"] = lambda a, c, n: 0.5 * a + 0.5 * c
        return mod.AveragedModel(m, **kw)
    az = make(zeroin, swa_utils, mz)
    at = make(torch, torch.optim.swa_utils, mt)
    _train(zeroin, mz, az)
    _train(torch, mt, at)
    assert int(az.n_averaged) == 6
    # an int64 buffer times a Python float is float32 in PyTorch, float64 in zeroin (README):
    # EMA's truncated count can then land one apart
    _same_state(az, at, skip=("module.1.num_batches_tracked",) if how == "ema_single" else ())
    x = X[:5]
    with zeroin.no_grad(), torch.no_grad():
        az.eval()
        at.eval()
        np.testing.assert_allclose(az(zeroin.tensor(x)).numpy(),
                                   at(torch.tensor(x)).numpy(), rtol=1e-12)


def test_swa_is_the_mean_of_the_snapshots():
    mz, _ = _models()
    az = swa_utils.AveragedModel(mz)
    snaps = []
    opt = optim.SGD(mz.parameters(), lr=0.2)
    for s in range(5):
        opt.zero_grad()
        ((mz(zeroin.tensor(X)) - zeroin.tensor(Y)) ** 2).mean().backward()
        opt.step()
        az.update_parameters(mz)
        snaps.append(mz[0].weight.detach().numpy().copy())
    np.testing.assert_allclose(az.module[0].weight.numpy(), np.mean(snaps, axis=0),
                               rtol=1e-13)
    assert not az.module[0].weight is mz[0].weight


def test_a_pytorch_averaged_state_dict_loads():
    mz, mt = _models(batchnorm=True)
    at = torch.optim.swa_utils.AveragedModel(mt)
    _train(torch, mt, at, steps=3)
    az = swa_utils.AveragedModel(mz)
    az.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in at.state_dict().items()})
    assert int(az.n_averaged) == 3
    _same_state(az, at)


def _loader(T, tuples):
    xs = [T.tensor(X[i:i + 6]) for i in range(0, 24, 6)]
    return [(x, x.sum(1)) for x in xs] if tuples else xs


@pytest.mark.parametrize("tuples", [False, True])
def test_update_bn_recomputes_the_statistics_as_pytorch(tuples):
    mz, mt = _models(batchnorm=True)
    mz.eval()
    mt.eval()
    swa_utils.update_bn(_loader(zeroin, tuples), mz)
    torch.optim.swa_utils.update_bn(_loader(torch, tuples), mt)
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(mz.state_dict()[k].numpy(), mt.state_dict()[k].numpy(),
                                   rtol=1e-12, err_msg=k)
    # the plain mean over the four batches, not a momentum average
    h = np.asarray([mz[0](zeroin.tensor(X[i:i + 6])).detach().numpy().mean(0)
                    for i in range(0, 24, 6)])
    np.testing.assert_allclose(mz[1].running_mean.numpy(), h.mean(0), rtol=1e-12)
    assert mz[1].momentum == 0.1 and not mz.training


def test_update_bn_without_batchnorm_reads_nothing():
    def loader():
        raise AssertionError("update_bn read the loader")
        yield
    swa_utils.update_bn(loader(), nn.Linear(2, 2))


def _lrs(T, sched_cls, kw, steps, groups=1, before=None):
    ps = [T.nn.Parameter(T.zeros(2, dtype=T.float64)) for _ in range(groups)]
    opt = T.optim.SGD([{"params": [p], "lr": 0.5 * (i + 1)} for i, p in enumerate(ps)],
                      lr=1.0)
    out = []
    first = None
    if before is not None:
        first = before[0](opt, **before[1])
        for _ in range(3):
            opt.step()
            first.step()
    s = sched_cls(opt, **kw)
    out.append([g["lr"] for g in opt.param_groups])
    for _ in range(steps):
        opt.step()
        s.step()
        out.append(s.get_last_lr())
    return np.array(out, dtype=float), s


@pytest.mark.parametrize("kw", [
    {"swa_lr": 0.05},
    {"swa_lr": 0.05, "anneal_strategy": "linear", "anneal_epochs": 3},
    {"swa_lr": 0.05, "anneal_epochs": 0},
    {"swa_lr": [0.05, 0.2], "anneal_epochs": 4},
])
def test_swalr_learning_rates_are_pytorchs(kw):
    groups = 2 if isinstance(kw["swa_lr"], list) else 1
    got, _ = _lrs(zeroin, swa_utils.SWALR, kw, 14, groups)
    want, _ = _lrs(torch, torch.optim.swa_utils.SWALR, kw, 14, groups)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(got[-1], np.broadcast_to(kw["swa_lr"], got[-1].shape))


def test_swalr_takes_over_from_another_schedule_and_round_trips():
    kw = {"swa_lr": 0.01, "anneal_epochs": 5}
    before_z = (optim.lr_scheduler.CosineAnnealingLR, {"T_max": 10})
    before_t = (torch.optim.lr_scheduler.CosineAnnealingLR, {"T_max": 10})
    got, sz = _lrs(zeroin, swa_utils.SWALR, kw, 8, before=before_z)
    want, _ = _lrs(torch, torch.optim.swa_utils.SWALR, kw, 8, before=before_t)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    state = sz.state_dict()
    assert state["_anneal_strategy"] == "cos" and state["anneal_epochs"] == 5
    p = nn.Parameter(zeroin.zeros(2))
    s2 = swa_utils.SWALR(optim.SGD([p], lr=1.0), swa_lr=0.3, anneal_strategy="linear")
    s2.load_state_dict(state)
    assert s2._anneal_strategy == "cos" and s2.anneal_func(0.5) == pytest.approx(0.5)


@pytest.mark.parametrize("make, exc, words", [
    (lambda m: m.get_ema_multi_avg_fn(1.5), ValueError, "Invalid decay value"),
    (lambda m: m.get_ema_avg_fn(-0.1), ValueError, "Invalid decay value"),
    (lambda m: m.AveragedModel(_net(m), avg_fn=m.get_swa_avg_fn(),
                               multi_avg_fn=m.get_swa_multi_avg_fn()),
     AssertionError, "Only one of avg_fn and multi_avg_fn"),
    (lambda m: m.SWALR(_opt(m), swa_lr=0.1, anneal_strategy="step"), ValueError,
     "anneal_strategy must be one of"),
    (lambda m: m.SWALR(_opt(m), swa_lr=0.1, anneal_epochs=-1), ValueError,
     "anneal_epochs must be equal or greater than 0"),
    (lambda m: m.SWALR(_opt(m), swa_lr=[0.1, 0.2]), ValueError, "swa_lr"),
])
def test_bad_settings_are_refused_as_pytorch(make, exc, words):
    for mod in (torch.optim.swa_utils, swa_utils):
        with pytest.raises(exc, match=words):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make(mod)


def _lib(mod):
    return torch if mod is torch.optim.swa_utils else zeroin


def _net(mod):
    return _lib(mod).nn.Linear(2, 1)


def _opt(mod):
    return _lib(mod).optim.SGD(_net(mod).parameters(), lr=1.0)


def test_swa_utils_is_reachable_as_in_pytorch():
    assert zeroin.optim.swa_utils.AveragedModel is swa_utils.AveragedModel
    assert set(torch.optim.swa_utils.__all__) <= set(dir(swa_utils))
