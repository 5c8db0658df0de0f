"""Audit of everyday time-series and recommender code as blog posts and course notebooks
write it (sliding windows, an LSTM forecaster, locuslab's TCN, causal convolutions, N-BEATS,
DeepAR's likelihoods; matrix factorisation, NCF / NeuMF, BPR, EmbeddingBag, factorisation
machines, DLRM's interactions, negative sampling, hit rate / NDCG), run with ``torch`` and
with ``zeroin`` (``import zeroin as torch``, ``from zeroin import nn``, ``F``) on the same
synthetic data and weights copied from torch: outputs, losses, gradients and optimiser steps
compared, float64 to 1e-10 and float32 to float resolution. See docs/tsrec.md."""
import itertools
import math

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import np_of as _np
from _audit import (
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
    torch_stream,
)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = {"rtol": 2e-5, "atol": 2e-6}


@pytest.fixture
def f64():
    """Both libraries in float64 (checks to 1e-10); the audits' fixture puts torch back."""
    torch.set_default_dtype(torch.float64)
    yield


def _series(n=120, seed=0):
    """A noisy sine, the series the blog posts forecast."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(0.2 * t) + 0.5 * np.sin(0.05 * t) + 0.1 * rng.standard_normal(n)


def _grads(model):
    return {k: _np(p.grad) for k, p in model.named_parameters() if p.grad is not None}


def _same_grads(zm, tm, tol=1e-10, **tols):
    gz, gt = _grads(zm), _grads(tm)
    assert gz.keys() == gt.keys() and gz
    for k in gt:
        _close(gz[k], gt[k], tol, **tols)


def _same_params(zm, tm, tol=1e-10, **tols):
    pz, pt = dict(zm.named_parameters()), dict(tm.named_parameters())
    assert pz.keys() == pt.keys()
    for k, t in pt.items():
        _close(pz[k], t, tol, **tols)


# --- time series -----------------------------------------------------------------------------

def test_sliding_windows_unfold_indexing_and_scaling(f64):
    s, w, h = _series(40), 8, 2
    res = {}
    for lib in LIBS:
        x = lib.tensor(s, requires_grad=True)
        win = x.unfold(0, w + h, 1)                          # (n - w - h + 1, w + h)
        X, Y = win[:, :w], win[:, w:]
        idx = lib.stack([x[i:i + w] for i in range(len(s) - w - h + 1)])
        strided = x.unfold(0, 5, 3)                          # step > 1 drops the tail
        lo = X.min(dim=1, keepdim=True).values
        hi = X.max(dim=1, keepdim=True).values
        Xmm = (X - lo) / (hi - lo)
        mu, sd = X.mean(dim=1, keepdim=True), X.std(dim=1, keepdim=True)
        Xst = (X - mu) / (sd + 1e-8)
        loss = (Xmm * Y[:, :1]).sum() + (Xst ** 3).mean() + strided.pow(2).sum()
        loss.backward()
        assert lib.equal(idx, X)
        res[lib] = [win, X, Y, strided, Xmm, Xst, loss, x.grad]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t)
    with pytest.raises(Exception, match="unfold"):
        zeroin.arange(5.0).unfold(0, 6, 1)
    with pytest.raises(RuntimeError):
        torch.arange(5.0).unfold(0, 6, 1)


def _lstm_forecaster(lib):
    nn = lib.nn

    class LSTMForecaster(nn.Module):
        def __init__(self, n_in=1, hidden=16, layers=2, horizon=1):
            super().__init__()
            self.lstm = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True)
            self.fc = nn.Linear(hidden, horizon)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.fc(out[:, -1, :])
    return LSTMForecaster()


def test_lstm_forecaster_clip_plateau_and_autoregressive_rollout(f64):
    s = _series(60)
    w = 10
    Xn = np.stack([s[i:i + w] for i in range(len(s) - w)])[:, :, None]
    Yn = s[w:][:, None]
    torch.manual_seed(0)
    tm = _lstm_forecaster(torch)
    zm = _copy(tm, _lstm_forecaster(zeroin))
    out = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        X, Y = lib.tensor(Xn), lib.tensor(Yn)
        opt = lib.optim.Adam(m.parameters(), lr=0.01)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5,
                                                           patience=1)
        losses, norms, lrs = [], [], []
        for epoch in range(6):
            m.train()
            for i in range(0, len(X), 16):
                opt.zero_grad()
                loss = lib.nn.MSELoss()(m(X[i:i + 16]), Y[i:i + 16])
                loss.backward()
                norms.append(float(lib.nn.utils.clip_grad_norm_(m.parameters(), 0.5)))
                opt.step()
                losses.append(loss.item())
            m.eval()
            with lib.no_grad():
                val = lib.nn.functional.mse_loss(m(X[-8:]), Y[-8:])
            sched.step(1.0 if epoch >= 2 else val)            # a plateau from epoch 2
            lrs.append(opt.param_groups[0]["lr"])
        # autoregressive rollout: each prediction fed back as the next input
        with lib.no_grad():
            window = X[-1:].clone()
            preds = []
            for _ in range(5):
                y = m(window)
                preds.append(y)
                window = lib.cat([window[:, 1:, :], y.unsqueeze(-1)], dim=1)
            preds = lib.cat(preds, dim=1)
        assert not preds.requires_grad
        out[lib] = (losses, norms, lrs, preds)
    np.testing.assert_allclose(out[zeroin][0], out[torch][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out[zeroin][1], out[torch][1], rtol=1e-10)
    assert out[zeroin][2] == out[torch][2] and out[torch][2][-1] < 0.01
    _close(out[zeroin][3], out[torch][3])
    _same_params(zm, tm, 1e-9)


def _seq2seq(lib):
    nn = lib.nn

    class Seq2Seq(nn.Module):
        """An LSTM encoder and an LSTMCell decoder, teacher forced or rolled out."""
        def __init__(self, hidden=12):
            super().__init__()
            self.enc = nn.LSTM(1, hidden, batch_first=True)
            self.dec = nn.LSTMCell(1, hidden)
            self.out = nn.Linear(hidden, 1)

        def forward(self, x, horizon, target=None, tf_ratio=1.0):
            _, (h, c) = self.enc(x)
            h, c = h[0], c[0]
            inp = x[:, -1, :]
            outs = []
            for t in range(horizon):
                h, c = self.dec(inp, (h, c))
                y = self.out(h)
                outs.append(y)
                inp = target[:, t, :] if target is not None and t % 2 == 0 else y
            return lib.stack(outs, dim=1)
    return Seq2Seq()


def test_seq2seq_teacher_forcing_and_float32_rollout(f32):
    s = _series(50).astype(np.float32)
    Xn = np.stack([s[i:i + 12] for i in range(0, 30, 2)])[:, :, None]
    Yn = np.stack([s[i + 12:i + 16] for i in range(0, 30, 2)])[:, :, None]
    torch.manual_seed(1)
    tm = _seq2seq(torch)
    zm = _copy(tm, _seq2seq(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        X, Y = lib.tensor(Xn), lib.tensor(Yn)
        opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.l1_loss(m(X, 4, target=Y), Y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with lib.no_grad():
            roll = m(X, 4)
        assert roll.dtype == lib.float32
        res[lib] = (losses, roll)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **F32)
    _close(res[zeroin][1], res[torch][1], **F32)
    _same_params(zm, tm, **F32)


def _tcn(lib, parametrizations):
    """locuslab/TCN's TemporalConvNet, as its tcn.py writes it."""
    nn = lib.nn
    weight_norm = (nn.utils.parametrizations.weight_norm if parametrizations
                   else nn.utils.weight_norm)

    class Chomp1d(nn.Module):
        def __init__(self, chomp_size):
            super().__init__()
            self.chomp_size = chomp_size

        def forward(self, x):
            return x[:, :, :-self.chomp_size].contiguous()

    class TemporalBlock(nn.Module):
        def __init__(self, n_inputs, n_outputs, kernel_size, stride, dilation, padding,
                     dropout=0.2):
            super().__init__()
            self.conv1 = weight_norm(nn.Conv1d(n_inputs, n_outputs, kernel_size, stride=stride,
                                               padding=padding, dilation=dilation))
            self.chomp1 = Chomp1d(padding)
            self.relu1 = nn.ReLU()
            self.dropout1 = nn.Dropout(dropout)
            self.conv2 = weight_norm(nn.Conv1d(n_outputs, n_outputs, kernel_size, stride=stride,
                                               padding=padding, dilation=dilation))
            self.chomp2 = Chomp1d(padding)
            self.relu2 = nn.ReLU()
            self.dropout2 = nn.Dropout(dropout)
            self.net = nn.Sequential(self.conv1, self.chomp1, self.relu1, self.dropout1,
                                     self.conv2, self.chomp2, self.relu2, self.dropout2)
            self.downsample = nn.Conv1d(n_inputs, n_outputs, 1) if n_inputs != n_outputs else None
            self.relu = nn.ReLU()
            self.init_weights()

        def init_weights(self):
            self.conv1.weight.data.normal_(0, 0.01)
            self.conv2.weight.data.normal_(0, 0.01)
            if self.downsample is not None:
                self.downsample.weight.data.normal_(0, 0.01)

        def forward(self, x):
            out = self.net(x)
            res = x if self.downsample is None else self.downsample(x)
            return self.relu(out + res)

    class TemporalConvNet(nn.Module):
        def __init__(self, num_inputs, num_channels, kernel_size=2, dropout=0.2):
            super().__init__()
            layers = []
            for i in range(len(num_channels)):
                dilation_size = 2 ** i
                in_channels = num_inputs if i == 0 else num_channels[i - 1]
                layers += [TemporalBlock(in_channels, num_channels[i], kernel_size, stride=1,
                                         dilation=dilation_size,
                                         padding=(kernel_size - 1) * dilation_size,
                                         dropout=dropout)]
            self.network = nn.Sequential(*layers)

        def forward(self, x):
            return self.network(x)

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.tcn = TemporalConvNet(1, [6, 6, 4], kernel_size=3, dropout=0.0)
            self.linear = nn.Linear(4, 1)
            self.linear.weight.data.normal_(0, 0.01)

        def forward(self, x):
            return self.linear(self.tcn(x)[:, :, -1])
    return TCN()


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
@pytest.mark.parametrize("parametrizations", [False, True], ids=["weight_norm", "parametrizations"])
def test_tcn_weight_norm_chomp_downsample(f64, parametrizations):
    s = _series(80)
    Xn = np.stack([s[i:i + 24] for i in range(0, 48, 3)])[:, None, :]
    Yn = s[24:72:3][:, None]
    torch.manual_seed(0)
    tm = _tcn(torch, parametrizations)
    zm = _copy(tm, _tcn(zeroin, parametrizations))
    assert list(zm.state_dict()) == list(tm.state_dict())
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        X, Y = lib.tensor(Xn), lib.tensor(Yn)
        feats = m.tcn(X)
        assert tuple(feats.shape) == (len(Xn), 4, 24)        # the chomp keeps the length
        opt = lib.optim.Adam(m.parameters(), lr=0.002)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(m(X), Y)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
        res[lib] = (feats, losses)
    _close(res[zeroin][0], res[torch][0])
    np.testing.assert_allclose(res[zeroin][1], res[torch][1], rtol=1e-10)
    _same_grads(zm, tm)
    _same_params(zm, tm)
    # causality: the last step's features do not see a change to the future
    Xz = zeroin.tensor(Xn)
    a = zm.tcn(Xz)[:, :, :12]
    Xz2 = Xz.clone()
    Xz2[:, :, 12:] += 1.0
    _close(zm.tcn(Xz2)[:, :, :12], a, 0)


def test_causal_conv_by_left_padding(f64):
    rng = np.random.default_rng(3)
    xn = rng.standard_normal((2, 3, 16))

    def make(lib):
        nn, F = lib.nn, lib.nn.functional

        class CausalConv1d(nn.Conv1d):
            def __init__(self, cin, cout, k, dilation=1):
                super().__init__(cin, cout, k, dilation=dilation)
                self.left = (k - 1) * dilation

            def forward(self, x):
                return super().forward(F.pad(x, (self.left, 0)))
        return nn.Sequential(CausalConv1d(3, 4, 3), nn.Tanh(), CausalConv1d(4, 2, 2, dilation=4))
    torch.manual_seed(2)
    tm = make(torch)
    zm = _copy(tm, make(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        x = lib.tensor(xn, requires_grad=True)
        y = m(x)
        (y[:, :, -1] ** 2).sum().backward()
        res[lib] = (y, x.grad)
    assert tuple(res[zeroin][0].shape) == (2, 2, 16)
    for z, t in zip(res[zeroin], res[torch]):
        _close(z, t)
    assert not np.any(_np(res[zeroin][1])[:, :, :16 - 1 - 2 - 4])    # receptive field 7


def _nbeats(lib, backcast=12, forecast=4):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, kind, units=16, thetas=None):
            super().__init__()
            self.kind = kind
            self.fc = nn.Sequential(nn.Linear(backcast, units), nn.ReLU(),
                                    nn.Linear(units, units), nn.ReLU())
            p = 3 if kind == "trend" else (thetas or 8)
            self.theta_b = nn.Linear(units, p, bias=False)
            self.theta_f = nn.Linear(units, p, bias=False)
            if kind == "generic":
                self.backcast_fc, self.forecast_fc = nn.Linear(p, backcast), nn.Linear(p, forecast)
            b_ls = lib.arange(0, backcast) / backcast
            f_ls = lib.arange(0, forecast) / forecast
            self.register_buffer("Tb", lib.stack([b_ls ** i for i in range(p)]))
            self.register_buffer("Tf", lib.stack([f_ls ** i for i in range(p)]))

        def forward(self, x):
            h = self.fc(x)
            tb, tf = self.theta_b(h), self.theta_f(h)
            if self.kind == "generic":
                return self.backcast_fc(tb), self.forecast_fc(tf)
            return tb @ self.Tb, tf @ self.Tf           # trend: a polynomial basis

    class NBeats(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block("trend"), Block("generic"), Block("generic")])

        def forward(self, x):
            forecast = lib.zeros(x.shape[0], forecast_len)
            for block in self.blocks:
                b, f = block(x)
                x = x - b
                forecast = forecast + f
            return x, forecast
    forecast_len = forecast
    return NBeats()


def test_nbeats_trend_and_generic_blocks(f64):
    s = _series(70)
    Xn = np.stack([s[i:i + 12] for i in range(0, 50, 2)])
    Yn = np.stack([s[i + 12:i + 16] for i in range(0, 50, 2)])
    torch.manual_seed(4)
    tm = _nbeats(torch)
    zm = _copy(tm, _nbeats(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        X, Y = lib.tensor(Xn), lib.tensor(Yn)
        opt = lib.optim.Adam(m.parameters(), lr=1e-3)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            resid, fc = m(X)
            loss = lib.nn.functional.mse_loss(fc, Y) + 0.1 * resid.abs().mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = (resid, fc, losses)
    _close(res[zeroin][0], res[torch][0])
    _close(res[zeroin][1], res[torch][1])
    np.testing.assert_allclose(res[zeroin][2], res[torch][2], rtol=1e-10)
    _same_grads(zm, tm)


def _deepar(lib, likelihood):
    nn, F = lib.nn, lib.nn.functional
    D = lib.distributions

    class DeepAR(nn.Module):
        """An LSTM whose step emits a likelihood's parameters (Gaussian or NegBin)."""
        def __init__(self, hidden=10):
            super().__init__()
            self.rnn = nn.LSTM(2, hidden, batch_first=True)
            self.p1, self.p2 = nn.Linear(hidden, 1), nn.Linear(hidden, 1)

        def forward(self, x, covariate):
            h, _ = self.rnn(lib.cat([x, covariate], dim=-1))
            a, b = self.p1(h).squeeze(-1), self.p2(h).squeeze(-1)
            if likelihood == "normal":
                return D.Normal(a, F.softplus(b) + 1e-6)
            return D.NegativeBinomial(total_count=F.softplus(a) + 1e-3, logits=b)
    return DeepAR()


@pytest.mark.parametrize("likelihood", ["normal", "negbin"])
def test_deepar_gaussian_and_negative_binomial_likelihoods(f64, likelihood):
    rng = np.random.default_rng(5)
    s = _series(41)
    y = (s - s.min()) * 3 if likelihood == "normal" else rng.poisson(2 + 2 * (s - s.min()))
    yn = np.stack([y[i:i + 17] for i in range(0, 24, 3)]).astype(float)
    cov = np.broadcast_to(np.sin(np.arange(16) / 3.0), (len(yn), 16))[..., None].copy()
    torch.manual_seed(6)
    tm = _deepar(torch, likelihood)
    zm = _copy(tm, _deepar(zeroin, likelihood))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        Y = lib.tensor(yn)
        x, target = Y[:, :-1].unsqueeze(-1), Y[:, 1:]          # teacher forcing: y_{t-1} in
        opt = lib.optim.Adam(m.parameters(), lr=0.01)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            dist = m(x, lib.tensor(cov))
            loss = -dist.log_prob(target).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        with lib.no_grad():
            d = m(x, lib.tensor(cov))
            stats = [d.mean, d.variance, d.log_prob(target)]
        res[lib] = (losses, stats)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    for z, t in zip(res[zeroin][1], res[torch][1]):
        _close(z, t)
    _same_grads(zm, tm)
    _same_params(zm, tm)


def test_deepar_ancestral_sampling_on_the_torch_stream(f64):
    torch_stream()
    torch.manual_seed(7)
    tm = _deepar(torch, "normal")
    zm = _copy(tm, _deepar(zeroin, "normal"))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        lib.manual_seed(11)
        x = lib.ones(3, 1, 1) * 0.5
        with lib.no_grad():
            samples = []
            for t in range(6):
                cov = lib.full((3, x.shape[1], 1), math.sin(t / 3.0))
                y = m(x, cov).sample()[:, -1:]
                samples.append(y)
                x = lib.cat([x, y.unsqueeze(-1)], dim=1)
        res[lib] = lib.cat(samples, dim=1)
    _close(res[zeroin], res[torch])


# --- recommenders ------------------------------------------------------------------------------

def _interactions(n_users=12, n_items=15, n=60, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.integers(0, n_users, n)
    i = rng.integers(0, n_items, n)
    r = rng.integers(1, 6, n).astype(float)
    return u, i, r


def _mf(lib, n_users=12, n_items=15, k=5):
    nn = lib.nn

    class MatrixFactorization(nn.Module):
        def __init__(self):
            super().__init__()
            self.user_factors = nn.Embedding(n_users, k)
            self.item_factors = nn.Embedding(n_items, k)
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(n_items, 1)

        def forward(self, user, item):
            u, i = self.user_factors(user), self.item_factors(item)
            dot = (u * i).sum(1)
            return dot + self.user_bias(user).squeeze() + self.item_bias(item).squeeze()
    return MatrixFactorization()


@pytest.mark.parametrize("opt_kind", ["sgd_wd", "adam"])
def test_matrix_factorisation_with_biases(f64, opt_kind):
    un, itn, rn = _interactions()
    torch.manual_seed(8)
    tm = _mf(torch)
    zm = _copy(tm, _mf(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        users, items, ratings = lib.tensor(un), lib.tensor(itn), lib.tensor(rn)
        opt = (lib.optim.SGD(m.parameters(), lr=0.05, weight_decay=1e-3) if opt_kind == "sgd_wd"
               else lib.optim.Adam(m.parameters(), lr=0.01, weight_decay=1e-4))
        loss_fn = lib.nn.MSELoss()
        losses = []
        for epoch in range(3):
            for b in range(0, len(un), 20):
                opt.zero_grad()
                pred = m(users[b:b + 20], items[b:b + 20])
                loss = loss_fn(pred, ratings[b:b + 20])
                loss.backward()
                opt.step()
                losses.append(loss.item())
        res[lib] = losses
    np.testing.assert_allclose(res[zeroin], res[torch], rtol=1e-10)
    _same_grads(zm, tm)
    _same_params(zm, tm)


def _neumf(lib, n_users=12, n_items=15, k=4, layers=(16, 8)):
    nn = lib.nn

    class NeuMF(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed_user_GMF = nn.Embedding(n_users, k)
            self.embed_item_GMF = nn.Embedding(n_items, k)
            self.embed_user_MLP = nn.Embedding(n_users, layers[0] // 2)
            self.embed_item_MLP = nn.Embedding(n_items, layers[0] // 2)
            mlp = []
            for a, b in itertools.pairwise(layers):
                mlp += [nn.Dropout(p=0.0), nn.Linear(a, b), nn.ReLU()]
            self.MLP_layers = nn.Sequential(*mlp)
            self.predict_layer = nn.Linear(k + layers[-1], 1)
            nn.init.normal_(self.embed_user_GMF.weight, std=0.01)
            nn.init.normal_(self.embed_item_GMF.weight, std=0.01)
            nn.init.xavier_uniform_(self.predict_layer.weight)
            nn.init.kaiming_uniform_(self.MLP_layers[1].weight, a=1, nonlinearity="sigmoid")

        def forward(self, user, item):
            output_GMF = self.embed_user_GMF(user) * self.embed_item_GMF(item)
            interaction = lib.cat((self.embed_user_MLP(user), self.embed_item_MLP(item)), -1)
            output_MLP = self.MLP_layers(interaction)
            concat = lib.cat((output_GMF, output_MLP), -1)
            return self.predict_layer(concat).view(-1)
    return NeuMF()


def test_ncf_neumf_bce_with_logits(f32):
    un, itn, _ = _interactions(seed=1)
    labels = (np.random.default_rng(2).random(len(un)) < 0.4).astype(np.float32)
    torch.manual_seed(9)
    tm = _neumf(torch)
    zm = _copy(tm, _neumf(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        u, i, y = lib.tensor(un), lib.tensor(itn), lib.tensor(labels)
        opt = lib.optim.Adam(m.parameters(), lr=0.01)
        loss_function = lib.nn.BCEWithLogitsLoss()
        losses = []
        for _ in range(4):
            opt.zero_grad()
            prediction = m(u, i)
            loss = loss_function(prediction, y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = (losses, lib.sigmoid(m(u, i)))
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **F32)
    _close(res[zeroin][1], res[torch][1], **F32)
    _same_grads(zm, tm, **F32)


def test_bpr_loss_with_sampled_negatives_on_the_torch_stream(f64):
    torch_stream()
    n_users, n_items = 10, 20
    rng = np.random.default_rng(3)
    pos_n = rng.integers(0, n_items, (n_users, 3))
    popularity = np.bincount(pos_n.ravel(), minlength=n_items) + 1.0
    torch.manual_seed(10)
    U0, I0 = torch.randn(n_users, 6) * 0.1, torch.randn(n_items, 6) * 0.1
    res = {}
    for lib in LIBS:
        lib.manual_seed(12)
        U = lib.nn.Parameter(lib.tensor(U0.numpy()))
        V = lib.nn.Parameter(lib.tensor(I0.numpy()))
        opt = lib.optim.Adam([U, V], lr=0.05)
        losses, negs = [], []
        for _ in range(3):
            users = lib.randint(0, n_users, (16,))
            pos = lib.tensor(pos_n)[users, lib.randint(0, 3, (16,))]
            neg = lib.multinomial(lib.tensor(popularity) ** 0.75, 16, replacement=True)
            negs.append(neg)
            u = U[users]
            pos_scores, neg_scores = (u * V[pos]).sum(dim=1), (u * V[neg]).sum(dim=1)
            loss = -lib.nn.functional.logsigmoid(pos_scores - neg_scores).mean()
            loss = loss + 1e-4 * (u.norm(dim=1).pow(2).sum() + V[pos].pow(2).sum()) / 16
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = (losses, lib.stack(negs), U.grad, V.grad, U, V)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    for z, t in zip(res[zeroin][1:], res[torch][1:]):
        _close(z, t)


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_offsets_per_sample_weights_and_padding(f64, mode):
    rng = np.random.default_rng(4)
    flat = rng.integers(0, 10, 11)
    flat[3] = 0                                              # the padding index inside a bag
    offsets = np.array([0, 3, 3, 7])                         # bag 1 is empty
    wts = rng.uniform(0.5, 2.0, 11)
    gw_n = rng.standard_normal((4, 4))
    torch.manual_seed(13)
    tb = torch.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=0)
    zb = _copy(tb, zeroin.nn.EmbeddingBag(10, 4, mode=mode, padding_idx=0))
    res = {}
    for lib, bag in ((torch, tb), (zeroin, zb)):
        inp, off = lib.tensor(flat), lib.tensor(offsets)
        psw = lib.tensor(wts, requires_grad=True) if mode == "sum" else None
        out = bag(inp, off, per_sample_weights=psw)
        out2d = bag(lib.tensor(flat[:10].reshape(2, 5)))     # 2-D input: one bag a row
        last = lib.nn.functional.embedding_bag(inp, bag.weight, lib.tensor([0, 3, 7, 11]),
                                               mode=mode, include_last_offset=True)
        gw = lib.tensor(gw_n)
        ((out * gw).sum() + out2d.pow(2).sum() + last.sum()).backward()
        res[lib] = [out, out2d, last, bag.weight.grad] + ([psw.grad] if psw is not None else [])
        f = lib.nn.functional.embedding_bag(inp, bag.weight, off, mode=mode)
        res[lib].append(f)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t)
    if mode == "mean":
        with pytest.raises(Exception, match="per_sample_weights"):
            zb(zeroin.tensor(flat), zeroin.tensor(offsets), per_sample_weights=zeroin.tensor(wts))


def test_factorisation_machine_and_dlrm_interactions(f64):
    rng = np.random.default_rng(5)
    field_dims = [4, 5, 3]
    xn = np.stack([rng.integers(0, d, 24) for d in field_dims], 1)
    offs = np.array((0, *np.cumsum(field_dims)[:-1]))
    yn = (rng.random(24) < 0.5).astype(float)
    dense_n = rng.standard_normal((24, 3))

    def make(lib):
        nn = lib.nn

        class FM(nn.Module):
            def __init__(self, k=4):
                super().__init__()
                self.embedding = nn.Embedding(sum(field_dims), k)
                self.fc = nn.Embedding(sum(field_dims), 1)
                self.bias = nn.Parameter(lib.zeros((1,)))
                self.register_buffer("offsets", lib.tensor(offs))
                self.bottom = nn.Linear(3, k)                 # DLRM's dense feature tower
                self.top = nn.Linear(6 + 4 + 1, 1)

            def forward(self, x, dense):
                x = x + self.offsets.unsqueeze(0)
                e = self.embedding(x)                         # (B, fields, k)
                square_of_sum = lib.sum(e, dim=1) ** 2
                sum_of_square = lib.sum(e ** 2, dim=1)
                fm = 0.5 * lib.sum(square_of_sum - sum_of_square, dim=1, keepdim=True)
                linear = lib.sum(self.fc(x), dim=1) + self.bias
                d = lib.relu(self.bottom(dense))
                T = lib.cat([d.unsqueeze(1), e], dim=1)       # (B, 4, k)
                Z = lib.bmm(T, lib.transpose(T, 1, 2))
                li, lj = lib.triu_indices(T.shape[1], T.shape[1], offset=1)
                Zflat = Z[:, li, lj]
                return self.top(lib.cat([d, Zflat, linear], dim=1)).squeeze(1) + fm.squeeze(1)
        return FM()
    torch.manual_seed(14)
    tm = make(torch)
    zm = _copy(tm, make(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        x, dense, y = lib.tensor(xn), lib.tensor(dense_n), lib.tensor(yn)
        opt = lib.optim.Adagrad(m.parameters(), lr=0.05)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.binary_cross_entropy_with_logits(m(x, dense), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = losses
    np.testing.assert_allclose(res[zeroin], res[torch], rtol=1e-10)
    _same_grads(zm, tm)
    _same_params(zm, tm)


def test_embedding_padding_idx_and_max_norm(f64):
    idx_n = np.array([[0, 2, 5, 2], [5, 0, 1, 3]])
    torch.manual_seed(15)
    res = {}
    w0 = torch.randn(6, 3) * 2
    for lib in LIBS:
        emb = lib.nn.Embedding(6, 3, padding_idx=0, max_norm=1.5)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(w0.numpy()))
        out = emb(lib.tensor(idx_n))
        (out * lib.arange(1.0, 4.0)).pow(2).sum().backward()
        opt = lib.optim.SGD(emb.parameters(), lr=0.1)
        opt.step()
        out2 = emb(lib.tensor(idx_n))
        res[lib] = [out, emb.weight.grad, emb.weight.detach().clone(), out2,
                    lib.nn.functional.embedding(lib.tensor([4, 4]), emb.weight, max_norm=1.0,
                                                norm_type=1.0)]
        res[lib].append(emb.weight.detach().clone())       # F.embedding renormed row 4
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    assert not np.any(_np(res[zeroin][1])[0])                # no gradient for padding_idx


def test_hit_rate_and_ndcg_with_topk(f64):
    rng = np.random.default_rng(6)
    scores_n = rng.standard_normal((8, 20))
    target_n = rng.integers(0, 20, 8)
    res = {}
    for lib in LIBS:
        scores, target = lib.tensor(scores_n), lib.tensor(target_n)
        _, topk = lib.topk(scores, k=10, dim=1)
        hits = (topk == target.unsqueeze(1))
        hr = hits.any(dim=1).float().mean()
        rank = hits.float().argmax(dim=1)
        ndcg = (hits.any(dim=1).float() / lib.log2(rank.float() + 2)).mean()
        # the NCF repo's per-user loop: item in list, list.index
        hr_loop, ndcg_loop = [], []
        for row, item in zip(topk.tolist(), target.tolist()):
            hr_loop.append(1 if item in row else 0)
            ndcg_loop.append(1 / np.log2(row.index(item) + 2) if item in row else 0)
        res[lib] = [topk, hr, ndcg, lib.tensor(hr_loop), lib.tensor(ndcg_loop)]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    _close(res[zeroin][2], np.mean(res[zeroin][4].tolist()), 1e-7)   # float32's mean


def _sasrec(lib, item_num=20, maxlen=6, hidden=8, blocks=2, heads=2):
    """pmixer/SASRec.pytorch's model (dropout 0 so that both libraries agree)."""
    nn = lib.nn
    class PointWiseFeedForward(nn.Module):
        def __init__(self, hidden_units, dropout_rate):
            super().__init__()
            self.conv1 = nn.Conv1d(hidden_units, hidden_units, kernel_size=1)
            self.dropout1 = nn.Dropout(p=dropout_rate)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv1d(hidden_units, hidden_units, kernel_size=1)
            self.dropout2 = nn.Dropout(p=dropout_rate)
        def forward(self, inputs):
            outputs = self.dropout2(self.conv2(self.relu(self.dropout1(self.conv1(inputs.transpose(-1, -2))))))
            outputs = outputs.transpose(-1, -2)
            outputs += inputs
            return outputs
    class SASRec(nn.Module):
        def __init__(self):
            super().__init__()
            self.item_emb = nn.Embedding(item_num + 1, hidden, padding_idx=0)
            self.pos_emb = nn.Embedding(maxlen + 1, hidden, padding_idx=0)
            self.emb_dropout = nn.Dropout(p=0.0)
            self.attention_layernorms = nn.ModuleList()
            self.attention_layers = nn.ModuleList()
            self.forward_layernorms = nn.ModuleList()
            self.forward_layers = nn.ModuleList()
            self.last_layernorm = nn.LayerNorm(hidden, eps=1e-8)
            for _ in range(blocks):
                self.attention_layernorms.append(nn.LayerNorm(hidden, eps=1e-8))
                self.attention_layers.append(nn.MultiheadAttention(hidden, heads, 0.0))
                self.forward_layernorms.append(nn.LayerNorm(hidden, eps=1e-8))
                self.forward_layers.append(PointWiseFeedForward(hidden, 0.0))
        def log2feats(self, log_seqs):
            seqs = self.item_emb(lib.LongTensor(log_seqs))
            seqs *= self.item_emb.embedding_dim ** 0.5
            poss = np.tile(np.arange(1, log_seqs.shape[1] + 1), [log_seqs.shape[0], 1])
            poss *= (log_seqs != 0)
            seqs += self.pos_emb(lib.LongTensor(poss))
            seqs = self.emb_dropout(seqs)
            tl = seqs.shape[1]
            attention_mask = ~lib.tril(lib.ones((tl, tl), dtype=lib.bool))
            for i in range(len(self.attention_layers)):
                seqs = lib.transpose(seqs, 0, 1)
                Q = self.attention_layernorms[i](seqs)
                mha_outputs, _ = self.attention_layers[i](Q, seqs, seqs, attn_mask=attention_mask)
                seqs = Q + mha_outputs
                seqs = lib.transpose(seqs, 0, 1)
                seqs = self.forward_layernorms[i](seqs)
                seqs = self.forward_layers[i](seqs)
            return self.last_layernorm(seqs)
        def forward(self, user_ids, log_seqs, pos_seqs, neg_seqs):
            log_feats = self.log2feats(log_seqs)
            pos_embs = self.item_emb(lib.LongTensor(pos_seqs))
            neg_embs = self.item_emb(lib.LongTensor(neg_seqs))
            return (log_feats * pos_embs).sum(dim=-1), (log_feats * neg_embs).sum(dim=-1)
        def predict(self, user_ids, log_seqs, item_indices):
            log_feats = self.log2feats(log_seqs)
            final_feat = log_feats[:, -1, :]
            item_embs = self.item_emb(lib.LongTensor(item_indices))
            return item_embs.matmul(final_feat.unsqueeze(-1)).squeeze(-1)
    m = SASRec()
    for name, param in m.named_parameters():
        try:
            lib.nn.init.xavier_normal_(param.data)
        except ValueError:                                   # the 1-D biases and norms
            pass
    m.pos_emb.weight.data[0, :] = 0
    m.item_emb.weight.data[0, :] = 0
    return m


def test_sasrec_blocks_timeline_mask_numpy_indices_and_l2_emb(f64):
    rng = np.random.default_rng(0)
    seq = rng.integers(1, 21, (4, 7))
    seq[0, :3] = 0
    seq[2, :1] = 0                                           # left padding, as the sampler's
    log_seqs, pos = seq[:, :-1], seq[:, 1:]
    neg = rng.integers(1, 21, pos.shape)
    torch.manual_seed(0)
    tm = _sasrec(torch)
    zm = _copy(tm, _sasrec(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        bce = lib.nn.BCEWithLogitsLoss()
        adam = lib.optim.Adam(m.parameters(), lr=0.001, betas=(0.9, 0.98))
        losses = []
        for _ in range(3):
            pos_logits, neg_logits = m(None, log_seqs, pos, neg)
            pos_labels, neg_labels = lib.ones(pos_logits.shape), lib.zeros(neg_logits.shape)
            adam.zero_grad()
            indices = np.where(pos != 0)
            loss = bce(pos_logits[indices], pos_labels[indices])
            loss += bce(neg_logits[indices], neg_labels[indices])
            for param in m.item_emb.parameters():
                loss += 0.01 * lib.norm(param)
            loss.backward()
            adam.step()
            losses.append(loss.item())
        m.eval()
        with lib.no_grad():
            pred = -m.predict(None, log_seqs, np.arange(1, 21))
        res[lib] = (losses, pred, pred.argsort().argsort()[:, 0])
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    _close(res[zeroin][1], res[torch][1])
    _close(res[zeroin][2], res[torch][2], 0)
    _same_grads(zm, tm)


def _gru4rec(lib, n_items=15, hidden=8):
    """GRU4Rec (hungthanhpham94's port): an item embedding, a GRU, tanh logits."""
    nn = lib.nn
    class GRU4Rec(nn.Module):
        def __init__(self):
            super().__init__()
            self.look_up = nn.Embedding(n_items, hidden)
            self.gru = nn.GRU(hidden, hidden, num_layers=1)
            self.h2o = nn.Linear(hidden, n_items)
            self.final_activation = nn.Tanh()
        def forward(self, input, hidden):
            embedded = self.look_up(input).unsqueeze(0)
            output, hidden = self.gru(embedded, hidden)
            output = output.view(-1, output.size(-1))
            logit = self.final_activation(self.h2o(output))
            return logit, hidden
        def init_hidden(self, B):
            return lib.zeros(1, B, hidden)
    return GRU4Rec()
def _top1(lib, logit):
    diag = lib.diag(logit).expand_as(logit).t()
    return lib.sigmoid(logit - diag).mean() + lib.sigmoid(logit ** 2).mean()
def _bpr_max(lib, logit):
    diff = logit.diag().view(-1, 1).expand_as(logit) - logit
    return -lib.mean(lib.nn.functional.logsigmoid(diff))

def test_gru4rec_session_parallel_hidden_reset_top1_and_bpr(f64):
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 15, (6, 4)), rng.integers(0, 15, (6, 4))
    resets = [[], [1], [0, 3], [], [2], [1]]                 # sessions that end at step t
    torch.manual_seed(0)
    tm = _gru4rec(torch)
    zm = _copy(tm, _gru4rec(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        opt = lib.optim.Adagrad(m.parameters(), lr=0.05)
        hidden, losses = m.init_hidden(4), []
        for t in range(6):
            hidden = hidden.detach()
            mask = np.array(resets[t], dtype=int)
            if len(mask) != 0:
                hidden[:, mask, :] = 0
            inp, tgt = lib.LongTensor(inputs[t]), lib.LongTensor(targets[t])
            logit, hidden = m(inp, hidden)
            logit_sampled = logit[:, tgt.view(-1)]
            loss = (_top1(lib, logit_sampled) + _bpr_max(lib, logit_sampled)
                    + lib.nn.functional.cross_entropy(logit_sampled, lib.arange(4)))
            opt.zero_grad()
            loss.backward()
            lib.nn.utils.clip_grad_norm_(m.parameters(), 5)
            opt.step()
            losses.append(loss.item())
        res[lib] = (losses, hidden)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    _close(res[zeroin][1], res[torch][1])
    _same_params(zm, tm)


def _dlrm(lib, ln_emb=(5, 7, 4), m_spa=3, ln_bot=(4, 6, 3), ln_top=(9, 4, 1)):
    """facebookresearch/dlrm's DLRM_Net: NumPy-initialised MLPs and EmbeddingBags assigned
    through ``.data``, the bmm interaction with its ``li`` / ``lj`` lists, BCELoss on a clamp."""
    nn = lib.nn
    rs = np.random.RandomState(0)
    class DLRM_Net(nn.Module):
        def create_mlp(self, ln, sigmoid_layer):
            layers = nn.ModuleList()
            for i in range(ln.size - 1):
                n, m = ln[i], ln[i + 1]
                LL = nn.Linear(int(n), int(m), bias=True)
                mean = 0.0
                std_dev = np.sqrt(2 / (m + n))
                W = rs.normal(mean, std_dev, size=(m, n)).astype(np.float32)
                std_dev = np.sqrt(1 / m)
                bt = rs.normal(mean, std_dev, size=m).astype(np.float32)
                LL.weight.data = lib.tensor(W, requires_grad=True)
                LL.bias.data = lib.tensor(bt, requires_grad=True)
                layers.append(LL)
                layers.append(nn.Sigmoid() if i == sigmoid_layer else nn.ReLU())
            return lib.nn.Sequential(*layers)
        def create_emb(self, m, ln):
            emb_l = nn.ModuleList()
            for i in range(ln.size):
                n = ln[i]
                EE = nn.EmbeddingBag(n, m, mode="sum", sparse=False)
                W = rs.uniform(low=-np.sqrt(1 / n), high=np.sqrt(1 / n), size=(n, m)).astype(np.float32)
                EE.weight.data = lib.tensor(W, requires_grad=True)
                emb_l.append(EE)
            return emb_l
        def __init__(self):
            super().__init__()
            self.emb_l = self.create_emb(m_spa, np.array(ln_emb))
            self.bot_l = self.create_mlp(np.array(ln_bot), -1)
            self.top_l = self.create_mlp(np.array(ln_top), 1)
            self.loss_fn = lib.nn.BCELoss(reduction="mean")
        def apply_emb(self, lS_o, lS_i, emb_l):
            ly = []
            for k, sparse_index_group_batch in enumerate(lS_i):
                sparse_offset_group_batch = lS_o[k]
                E = emb_l[k]
                V = E(sparse_index_group_batch, sparse_offset_group_batch, per_sample_weights=None)
                ly.append(V)
            return ly
        def interact_features(self, x, ly):
            (batch_size, d) = x.shape
            T = lib.cat([x] + ly, dim=1).view((batch_size, -1, d))
            Z = lib.bmm(T, lib.transpose(T, 1, 2))
            _, ni, nj = Z.shape
            offset = 0
            li = lib.tensor([i for i in range(ni) for j in range(i + offset)])
            lj = lib.tensor([j for i in range(nj) for j in range(i + offset)])
            Zflat = Z[:, li, lj]
            return lib.cat([x] + [Zflat], dim=1)
        def forward(self, dense_x, lS_o, lS_i):
            x = self.bot_l(dense_x)
            ly = self.apply_emb(lS_o, lS_i, self.emb_l)
            z = self.interact_features(x, ly)
            p = self.top_l(z)
            return lib.clamp(p, min=0.0, max=1.0)
    return DLRM_Net()

def test_dlrm_as_the_repo_writes_it(f32):
    rng = np.random.default_rng(1)
    B = 6
    dense = rng.random((B, 4)).astype(np.float32)
    lS_i, lS_o = [], []
    for n in (5, 7, 4):
        lens = rng.integers(1, 4, B)
        lS_o.append(np.concatenate([[0], np.cumsum(lens)[:-1]]))
        lS_i.append(rng.integers(0, n, lens.sum()))
    y = (rng.random((B, 1)) < 0.5).astype(np.float32)
    res = {}
    for lib in LIBS:
        m = _dlrm(lib)                                       # the same NumPy seed: same weights
        assert len(list(m.parameters())) == 11 and m.emb_l[0].weight.requires_grad
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        losses = []
        for _ in range(3):
            Z = m(lib.tensor(dense), [lib.tensor(o) for o in lS_o], [lib.tensor(i) for i in lS_i])
            E = m.loss_fn(Z, lib.tensor(y))
            opt.zero_grad()
            E.backward()
            opt.step()
            losses.append(E.item())
        res[lib] = (losses, Z, [p.detach().clone() for p in m.parameters()])
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **F32)
    _close(res[zeroin][1], res[torch][1], **F32)
    for z, t in zip(res[zeroin][2], res[torch][2], strict=True):
        _close(z, t, **F32)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_is_embedding_then_bag_sum(f64, mode):
    """``scale_grad_by_freq`` divides each row's gradient by its index's count in the batch.
    torch 2.13's CPU ``embedding_bag`` divides by the wrong count when a once-seen index
    sorts after a repeated one (pytorch/pytorch#190063, fixed by #190264), so the oracle is
    torch's ``F.embedding(..., scale_grad_by_freq=True)`` summed (or averaged) per bag."""
    flat, offsets = [1, 1, 2, 1, 3, 0, 2], [0, 4]
    bag_of = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    w0 = np.random.default_rng(7).standard_normal((6, 3))
    gout = np.random.default_rng(8).standard_normal((2, 3))
    w = torch.tensor(w0, requires_grad=True)
    rows = torch.nn.functional.embedding(torch.tensor(flat), w, scale_grad_by_freq=True)
    want = torch.zeros(2, 3).index_add(0, bag_of, rows)
    if mode == "mean":
        want = want / torch.tensor([[4.0], [3.0]])
    (want * torch.tensor(gout)).sum().backward()
    wz = zeroin.tensor(w0, requires_grad=True)
    got = zeroin.nn.functional.embedding_bag(zeroin.tensor(flat), wz, zeroin.tensor(offsets),
                                             mode=mode, scale_grad_by_freq=True)
    (got * zeroin.tensor(gout)).sum().backward()
    _close(got, want)
    _close(wz.grad, w.grad)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")
def test_tcn_in_float32_with_sgd(f32):
    s = _series(80).astype(np.float32)
    Xn = np.stack([s[i:i + 24] for i in range(0, 48, 3)])[:, None, :]
    Yn = s[24:72:3][:, None]
    torch.manual_seed(1)
    tm = _tcn(torch, False)
    zm = _copy(tm, _tcn(zeroin, False))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        X, Y = lib.tensor(Xn), lib.tensor(Yn)
        opt = lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(m(X), Y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert m.tcn(X).dtype == lib.float32
        res[lib] = losses
    np.testing.assert_allclose(res[zeroin], res[torch], **F32)
    _same_grads(zm, tm, **F32)
    _same_params(zm, tm, **F32)
