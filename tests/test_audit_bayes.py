"""Audit of Bayesian deep learning and uncertainty code as practitioners write it by hand in
PyTorch: Bayes by backprop (Blundell et al.'s "Weight Uncertainty in Neural Networks", as the
blog and notebook ports write it), Gal's MC dropout, deep ensembles with Gaussian NLL heads,
the last-layer Laplace approximation, temperature scaling with its ECE and reliability
numbers, and SWAG, ported with ``import zeroin as torch``, ``from zeroin import nn``,
``zeroin.nn.functional as F`` and ``zeroin.distributions as dist``. Each is run with ``torch``
and with ``zeroin`` on the same synthetic data and the same weights (copied from torch), on
PyTorch's random stream where the code samples, and the outputs, losses, gradients and a few
optimiser steps compared in float64 to 1e-10. See docs/bayes.md."""
import copy
import functools
import math

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import (
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
    torch_stream,
)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
# torch.func's transforms call torch.jit.script inside torch 2.13, which warns
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script` is deprecated:DeprecationWarning")


@pytest.fixture(autouse=True)
def _float64():
    """torch in float64 for the test (zeroin's default; ``torch_defaults_back`` puts
    torch's float32 and zeroin's NumPy stream back after it)."""
    torch.set_default_dtype(torch.float64)


def _t(lib, a, grad=False):
    t = lib.tensor(np.asarray(a))
    return t.requires_grad_(True) if grad else t


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol)


def _blobs(rng, n, d=2, classes=3):
    """``classes`` Gaussian blobs in ``d`` dimensions: inputs (float64) and integer labels."""
    y = np.arange(n) % classes
    centres = rng.standard_normal((classes, d)) * 2.0
    return centres[y] + 0.7 * rng.standard_normal((n, d)), y.astype(np.int64)


# --- Bayes by backprop -------------------------------------------------------------------------

def _bbb(lib, style):
    """Blundell et al.'s Bayesian linear layer as the blog / notebook ports write it: a
    Gaussian posterior per weight (``mu``, ``rho``), sigma = softplus(rho), the scale-mixture
    prior, and the log-probabilities (or the closed-form KL) kept for the ELBO."""
    nn, F, dist = lib.nn, lib.nn.functional, lib.distributions
    PI, S1, S2 = 0.5, math.exp(-0), math.exp(-6)

    def mixture_log_prob(w):
        comps = lib.stack([math.log(PI) + dist.Normal(0.0, S1).log_prob(w),
                           math.log(1 - PI) + dist.Normal(0.0, S2).log_prob(w)])
        return lib.logsumexp(comps, 0).sum()

    def gaussian_log_prob(x, mu, sigma):      # the blog's hand-written density
        return (-math.log(math.sqrt(2 * math.pi)) - lib.log(sigma)
                - ((x - mu) ** 2) / (2 * sigma ** 2)).sum()

    class BayesLinear(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.w_mu = nn.Parameter(lib.Tensor(n_out, n_in).uniform_(-0.2, 0.2))
            self.w_rho = nn.Parameter(lib.Tensor(n_out, n_in).uniform_(-5, -4))
            self.b_mu = nn.Parameter(lib.Tensor(n_out).uniform_(-0.2, 0.2))
            self.b_rho = nn.Parameter(lib.Tensor(n_out).uniform_(-5, -4))
            self.log_prior = self.log_variational_posterior = self.kl = 0

        def forward(self, x, sample=True):
            if not sample:
                return F.linear(x, self.w_mu, self.b_mu)
            if style == "local":                   # Kingma et al.'s local reparameterization
                act_mu = F.linear(x, self.w_mu, self.b_mu)
                act_var = F.linear(x ** 2, F.softplus(self.w_rho) ** 2,
                                   F.softplus(self.b_rho) ** 2)
                self.kl = dist.kl_divergence(
                    dist.Normal(self.w_mu, F.softplus(self.w_rho)), dist.Normal(0.0, 1.0)).sum()
                return act_mu + act_var.sqrt() * lib.randn_like(act_mu)
            if style == "blog":
                w_sigma = lib.log1p(lib.exp(self.w_rho))
                b_sigma = lib.log1p(lib.exp(self.b_rho))
                w = self.w_mu + w_sigma * lib.randn_like(w_sigma)
                b = self.b_mu + b_sigma * lib.randn_like(b_sigma)
                self.log_prior = mixture_log_prob(w) + mixture_log_prob(b)
                self.log_variational_posterior = (gaussian_log_prob(w, self.w_mu, w_sigma)
                                                  + gaussian_log_prob(b, self.b_mu, b_sigma))
            else:                                  # torch.distributions, closed-form KL
                qw = dist.Normal(self.w_mu, F.softplus(self.w_rho))
                qb = dist.Normal(self.b_mu, F.softplus(self.b_rho))
                w, b = qw.rsample(), qb.rsample()
                prior = dist.Normal(lib.zeros_like(self.w_mu), lib.ones_like(self.w_mu))
                self.kl = (dist.kl_divergence(qw, prior).sum()
                           + dist.kl_divergence(qb, dist.Normal(0.0, 1.0)).sum())
                self.log_variational_posterior = qw.log_prob(w).sum() + qb.log_prob(b).sum()
                self.log_prior = prior.log_prob(w).sum()
            return F.linear(x, w, b)

    class BayesianNetwork(nn.Module):
        def __init__(self, n_in, hidden, n_out):
            super().__init__()
            self.l1 = BayesLinear(n_in, hidden)
            self.l2 = BayesLinear(hidden, n_out)

        def forward(self, x, sample=True):
            x = F.relu(self.l1(x, sample))
            return self.l2(x, sample)

        def complexity(self):
            if style == "blog":
                return sum(m.log_variational_posterior - m.log_prior for m in (self.l1, self.l2))
            return self.l1.kl + self.l2.kl

    return BayesianNetwork


def _elbo(lib, net, x, y, samples, num_batches, task):
    """The sample-averaged ELBO of the blog's ``sample_elbo``: complexity / num_batches plus
    the summed negative log-likelihood (``nll_loss`` on log-softmax, or ``mse_loss``)."""
    F = lib.nn.functional
    total = 0
    for _ in range(samples):
        out = net(x)
        if task == "classify":
            nll = F.nll_loss(F.log_softmax(out, dim=1), y, reduction="sum")
        else:
            nll = F.mse_loss(out.squeeze(-1), y, reduction="sum")
        total = total + net.complexity() / num_batches + nll
    return total / samples


@pytest.mark.parametrize("style,task", [("blog", "classify"), ("dist", "classify"),
                                        ("blog", "regress"), ("dist", "regress"),
                                        ("local", "classify")])
def test_bayes_by_backprop_elbo_gradients_adam_steps_and_predictive(style, task):
    torch_stream()
    rng = np.random.default_rng(1)
    X, y = _blobs(rng, 24)
    if task == "regress":
        y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(24)
    n_out = 3 if task == "classify" else 1
    torch.manual_seed(1)
    tnet = _bbb(torch, style)(2, 8, n_out)
    znet = _copy(tnet, _bbb(zeroin, style)(2, 8, n_out))
    res = {}
    for lib, net in ((torch, tnet), (zeroin, znet)):
        lib.manual_seed(7)
        x, t = _t(lib, X), _t(lib, y)
        opt = lib.optim.Adam(net.parameters(), lr=0.01)
        out = []
        for _ in range(3):
            opt.zero_grad()
            loss = _elbo(lib, net, x, t, samples=2, num_batches=4, task=task)
            loss.backward()
            out += [loss, lib.as_tensor(net.l1.log_prior),
                    lib.as_tensor(net.l2.log_variational_posterior),
                    *[p.grad.clone() for p in net.parameters()]]
            opt.step()
        with lib.no_grad():
            if task == "classify":
                probs = lib.stack([F_softmax(lib, net(x)) for _ in range(10)])
            else:
                probs = lib.stack([net(x) for _ in range(10)])
            mean, var = probs.mean(0), probs.var(0)
            assert not mean.requires_grad
        res[lib] = out + [mean, var, net(x, sample=False), *net.parameters()]
    _same(res)


def F_softmax(lib, logits):
    return lib.nn.functional.softmax(logits, dim=1)


def test_scale_mixture_prior_gradient_by_finite_differences():
    """The mixture prior's log-density (``logsumexp`` of a ``stack``) differentiated by
    zeroin agrees with central differences."""
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal(6) * 0.01

    def f(w):
        dist = zeroin.distributions
        comps = zeroin.stack([math.log(0.5) + dist.Normal(0.0, 1.0).log_prob(w),
                              math.log(0.5) + dist.Normal(0.0, math.exp(-6)).log_prob(w)])
        return zeroin.logsumexp(comps, 0).sum()
    w = zeroin.tensor(w0, requires_grad=True)
    f(w).backward()
    eps = 1e-7
    fd = [(f(zeroin.tensor(w0 + eps * e)).item() - f(zeroin.tensor(w0 - eps * e)).item())
          / (2 * eps) for e in np.eye(6)]
    np.testing.assert_allclose(w.grad.numpy(), fd, rtol=1e-6)


# --- MC dropout --------------------------------------------------------------------------------

def _mc_net(lib, p=0.3):
    nn = lib.nn
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 16),
                         nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 3))


def test_mc_dropout_predictive_entropy_and_bald(f32):
    """``model.eval()`` then only the Dropout modules back in training mode, ``T`` stochastic
    passes stacked, the predictive mean, its entropy, the expected entropy and the mutual
    information (BALD); in float32 on the torch stream, so the masks are PyTorch's."""
    torch.set_default_dtype(torch.float32)
    torch_stream()
    rng = np.random.default_rng(3)
    X, _ = _blobs(rng, 20)
    X = X.astype(np.float32)
    torch.manual_seed(3)
    tnet = _mc_net(torch)
    tnet(torch.tensor(X))                       # batch norm's running statistics move
    znet = _copy(tnet, _mc_net(zeroin))
    res = {}
    for lib, model in ((torch, tnet), (zeroin, znet)):
        F = lib.nn.functional
        lib.manual_seed(11)
        x = _t(lib, X)
        model.eval()
        for m in model.modules():
            if isinstance(m, lib.nn.Dropout):
                m.train()
        assert [m.training for m in model.modules()] == [False, False, False, True, False,
                                                         False, False, True, False]
        with lib.no_grad():
            logits = lib.stack([model(x) for _ in range(8)])
        probs = logits.softmax(-1)
        mean = probs.mean(0)
        entropy = -(mean * lib.log(mean + 1e-12)).sum(-1)
        expected = -(probs * lib.log(probs + 1e-12)).sum(-1).mean(0)
        bald = entropy - expected
        _close(lib.special.entr(mean).sum(-1), -(mean * mean.log()).sum(-1), 1e-6)
        _close(lib.distributions.Categorical(probs=probs).entropy().mean(0), expected, 1e-5)
        assert bool((bald > -1e-5).all())
        # functional style: F.dropout(..., training=True) whatever the module's mode
        h = F.relu(x @ model[0].weight.T + model[0].bias)
        hd = F.dropout(h, 0.3, training=True)
        g = x.clone().requires_grad_(True)
        F.dropout(g * 2.0, p=0.5, training=True).sum().backward()
        res[lib] = [logits, mean, entropy, expected, bald, mean.argmax(-1), hd, g.grad,
                    probs.std(0)]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, rtol=2e-6, atol=2e-6)


@pytest.mark.parametrize("randomness", ["different", "same"])
def test_mc_dropout_ensemble_through_vmap_randomness(randomness, f32):
    """An ensemble of MC-dropout networks in one call: ``stack_module_state``, a meta-device
    base, ``vmap(..., randomness="different")`` (a mask per member) or ``"same"`` (one mask
    shared); PyTorch's masks on the torch stream."""
    torch.set_default_dtype(torch.float32)
    torch_stream()
    X0 = np.random.default_rng(17).standard_normal((5, 2)).astype(np.float32)
    torch.manual_seed(17)
    tms = [_mc_net(torch, 0.5)[:4] for _ in range(3)]
    zms = [_copy(m, _mc_net(zeroin, 0.5)[:4]) for m in tms]
    res = {}
    for lib, models in ((torch, tms), (zeroin, zms)):
        params, buffers = lib.func.stack_module_state(models)
        lib.manual_seed(18)
        out = lib.vmap(_fmodel(lib, models[0]), in_dims=(0, 0, None),
                       randomness=randomness)(params, buffers, _t(lib, X0))
        out.sum().backward()
        res[lib] = [out, params["0.weight"].grad, params["3.bias"].grad]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, rtol=2e-6, atol=2e-6)


# --- deep ensembles ----------------------------------------------------------------------------

def _gauss_head(lib):
    nn, F = lib.nn, lib.nn.functional

    class GaussianMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 2))

        def forward(self, x):
            mean, raw = self.body(x).chunk(2, dim=-1)
            return mean, F.softplus(raw) + 1e-6
    return GaussianMLP


def test_deep_ensemble_gaussian_nll_vmap_and_mixture_predictive():
    """Lakshminarayanan et al.'s deep ensemble of Gaussian heads (softplus variances), each
    trained by Adam on ``nn.GaussianNLLLoss``; the ensemble evaluated at once with
    ``torch.func.stack_module_state`` + ``functional_call`` + ``vmap`` and by a loop; the
    mixture's mean and variance, and its log-density by ``MixtureSameFamily``."""
    rng = np.random.default_rng(4)
    X = rng.uniform(-3, 3, (32, 1))
    Y = np.sin(X) + 0.2 * rng.standard_normal((32, 1))
    Xt = np.linspace(-4, 4, 9)[:, None]
    torch.manual_seed(4)
    tcls, zcls = _gauss_head(torch), _gauss_head(zeroin)
    tms = [tcls() for _ in range(3)]
    zms = [_copy(m, zcls()) for m in tms]
    res = {}
    for lib, models in ((torch, tms), (zeroin, zms)):
        nn, dist = lib.nn, lib.distributions
        x, t, xt = _t(lib, X), _t(lib, Y), _t(lib, Xt)
        crit = nn.GaussianNLLLoss()
        out = []
        for m in models:
            opt = lib.optim.Adam(m.parameters(), lr=0.01)
            for _ in range(3):
                opt.zero_grad()
                mean, var = m(x)
                loss = crit(mean, t, var)
                loss.backward()
                opt.step()
                out.append(loss)
        params, buffers = lib.func.stack_module_state(models)
        vm, vv = lib.vmap(_fmodel(lib, models[0]), in_dims=(0, 0, None))(params, buffers, xt)
        with lib.no_grad():
            loop = [m(xt) for m in models]
        _close(vm, lib.stack([m for m, _ in loop]), 1e-14)
        _close(vv, lib.stack([v for _, v in loop]), 1e-14)
        mu = vm.mean(0)
        var = (vv + vm ** 2).mean(0) - mu ** 2
        mix = dist.MixtureSameFamily(dist.Categorical(logits=lib.zeros(3)),
                                     dist.Normal(vm.squeeze(-1).T, vv.squeeze(-1).sqrt().T))
        lp = mix.log_prob(xt.squeeze(-1).sin())
        lp.sum().backward()
        out += [vm, vv, mu, var, lp, params["body.0.weight"].grad, mix.variance, mix.mean,
                *F_nll(lib, mu, xt.sin(), var)]
        # the ensemble trained at once: Adam on the stacked parameters, the loss through vmap
        opt = lib.optim.Adam(params.values(), lr=0.01)
        for _ in range(2):
            opt.zero_grad()
            m_, v_ = lib.vmap(_fmodel(lib, models[0]), in_dims=(0, 0, None))(params, buffers, x)
            loss = sum(crit(m_[i], t, v_[i]) for i in range(3))
            loss.backward()
            opt.step()
            out += [loss, params["body.2.bias"].clone()]
        res[lib] = out
    _same(res)


def _fmodel(lib, model):
    """The ``torch.func`` ensembling tutorial's stateless call on a meta-device copy."""
    base = copy.deepcopy(model).to("meta")

    def fmodel(params, buffers, x):
        return lib.func.functional_call(base, (params, buffers), (x,))
    return fmodel


def F_nll(lib, mean, target, var):
    """``F.gaussian_nll_loss`` with ``full=True`` per element, and with the variance one
    dimension short (PyTorch unsqueezes it)."""
    F = lib.nn.functional
    return [F.gaussian_nll_loss(mean, target, var, full=True, reduction="none"),
            F.gaussian_nll_loss(mean, target, var.squeeze(-1), reduction="sum")]


# --- the Laplace approximation -----------------------------------------------------------------

def _last_layer_loss(F, phi, t, w):
    return F.cross_entropy(phi @ w.view(3, 4).T, t, reduction="sum")


def _per_sample_loss(F, w, p, yi):
    return F.cross_entropy((p @ w.view(3, 4).T).unsqueeze(0), yi.unsqueeze(0))


def test_last_layer_laplace_hessian_fisher_cholesky_and_mvn():
    """A last-layer Laplace approximation: the Hessian of the summed cross-entropy in the
    flattened last-layer weights by ``autograd.functional.hessian`` plus the prior precision;
    the diagonal empirical Fisher from per-sample gradients (``autograd.grad`` in a loop, and
    ``func.grad`` + ``vmap``); ``linalg.cholesky``, ``cholesky_inverse`` and ``linalg.inv``;
    ``MultivariateNormal(w_map, precision_matrix=H)`` samples (torch stream) and
    ``log_prob``; the probit-approximated predictive."""
    torch_stream()
    rng = np.random.default_rng(5)
    X, y = _blobs(rng, 18)
    Phi = np.tanh(X @ rng.standard_normal((2, 4)) + 0.1)      # fixed features
    W0 = rng.standard_normal((3, 4)) * 0.5
    res = {}
    for lib in LIBS:
        F, dist = lib.nn.functional, lib.distributions
        phi, t = _t(lib, Phi), _t(lib, y)
        w_map = _t(lib, W0.reshape(-1))

        loss_fn = functools.partial(_last_layer_loss, F, phi, t)
        H = lib.autograd.functional.hessian(loss_fn, w_map) + 1.0 * lib.eye(12)
        _close(lib.func.hessian(loss_fn)(w_map) + lib.eye(12), H, 1e-12)
        _close(lib.autograd.functional.hessian(loss_fn, w_map, vectorize=True,
                                               outer_jacobian_strategy="forward-mode"),
               H - lib.eye(12), 1e-12)
        J = lib.autograd.functional.jacobian(lambda w, phi=phi: phi @ w.view(3, 4).T, w_map)
        p = lib.softmax(phi @ w_map.view(3, 4).T, -1)
        Lam = lib.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
        ggn = lib.einsum("nci,ncd,ndj->ij", J, Lam, J)
        _close(ggn + lib.eye(12), H, 1e-10)          # for softmax cross-entropy, GGN = Hessian
        fisher = lib.zeros(12)
        w = w_map.clone().requires_grad_(True)
        for i in range(len(t)):
            li = F.cross_entropy(phi[i:i + 1] @ w.view(3, 4).T, t[i:i + 1])
            (g,) = lib.autograd.grad(li, w)
            fisher += g ** 2

        per_sample = functools.partial(_per_sample_loss, F)
        G = lib.vmap(lib.func.grad(per_sample), in_dims=(None, 0, 0))(w_map, phi, t)
        _close(G.pow(2).sum(0), fisher, 1e-12)
        L = lib.linalg.cholesky(H)
        Sigma = lib.cholesky_inverse(L)
        # an indefinite Hessian: the jitter loop catching linalg.LinAlgError, and cholesky_ex
        bad, jitter = H - (lib.linalg.eigvalsh(H)[0] + 0.5) * lib.eye(12), 1e-6
        while True:
            try:
                L_bad = lib.linalg.cholesky(bad + jitter * lib.eye(12))
                break
            except lib.linalg.LinAlgError:
                jitter *= 10
        info = lib.linalg.cholesky_ex(bad).info
        assert info.item() > 0 and lib.linalg.cholesky_ex(H).info.item() == 0
        _close(Sigma, lib.linalg.inv(H), 1e-10)
        lib.manual_seed(5)
        post = dist.MultivariateNormal(w_map, precision_matrix=H)
        ws = post.sample((4,))
        lp = post.log_prob(ws)
        # predictive: the logits' covariance per input and the probit approximation
        f_mu = phi @ w_map.view(3, 4).T
        Sig = Sigma.view(3, 4, 3, 4)
        f_var = lib.einsum("nj,cjck,nk->nc", phi, Sig, phi)
        kappa = 1 / lib.sqrt(1 + math.pi / 8 * f_var)
        probit = lib.softmax(kappa * f_mu, dim=-1)
        mc = lib.softmax(lib.stack([phi @ wi.view(3, 4).T for wi in ws]), -1).mean(0)
        res[lib] = [H, fisher, G, L, Sigma, L_bad, info, jitter * lib.ones(1), post.scale_tril, post.covariance_matrix, ws, lp,
                    post.entropy(), f_var, probit, mc]
    _same(res)


# --- temperature scaling -----------------------------------------------------------------------

def _ece(lib, logits, labels, n_bins=10):
    """gpleiss/temperature_scaling's ``_ECELoss``: masks from ``linspace`` bin edges."""
    softmaxes = lib.nn.functional.softmax(logits, dim=1)
    confidences, predictions = lib.max(softmaxes, 1)
    accuracies = predictions.eq(labels)
    bounds = lib.linspace(0, 1, n_bins + 1)
    ece = lib.zeros(1)
    rows = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):  # noqa: RUF007  (gpleiss's)
        in_bin = confidences.gt(lo.item()) * confidences.le(hi.item())
        prop_in_bin = in_bin.float().mean()
        if prop_in_bin.item() > 0:
            acc_in_bin = accuracies[in_bin].float().mean()
            avg_conf = confidences[in_bin].mean()
            ece += lib.abs(avg_conf - acc_in_bin) * prop_in_bin
            rows.append((acc_in_bin.item(), avg_conf.item(), prop_in_bin.item()))
    return ece, rows


def _reliability(lib, logits, labels, n_bins=10):
    """The same numbers by ``bucketize`` and ``bincount`` / ``scatter_add_``."""
    probs = logits.softmax(-1)
    conf, pred = probs.max(-1)
    correct = (pred == labels).to(conf.dtype)
    edges = lib.linspace(0, 1, n_bins + 1)
    idx = lib.bucketize(conf, edges[1:-1], right=False)
    count = lib.bincount(idx, minlength=n_bins).float()
    acc_sum = lib.zeros(n_bins).scatter_add_(0, idx, correct)
    conf_sum = lib.zeros(n_bins).scatter_add_(0, idx, conf)
    nz = count > 0
    acc = acc_sum[nz] / count[nz]
    avg = conf_sum[nz] / count[nz]
    ece = ((acc - avg).abs() * count[nz]).sum() / len(labels)
    return ece, count, acc, avg


def _nll_closure(opt, crit, logits, labels, T):
    def closure():
        opt.zero_grad()
        loss = crit(logits / T, labels)
        loss.backward()
        return loss
    return closure


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_temperature_scaling_lbfgs_ece_and_reliability(line_search):
    """Guo et al.'s temperature scaling: one ``nn.Parameter(torch.ones(1) * 1.5)`` fitted by
    ``optim.LBFGS(lr=0.01, max_iter=50)`` with a closure on the validation NLL; ECE by masks
    (gpleiss's ``_ECELoss``) and by ``bucketize``; the reliability diagram's numbers."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 4, 200)
    logits = rng.standard_normal((200, 4)) * 2.5
    logits[np.arange(200), labels] += 2.0             # over-confident, mostly right
    res = {}
    for lib in LIBS:
        nn, optim = lib.nn, lib.optim
        lg, lb = _t(lib, logits), _t(lib, labels)
        T = nn.Parameter(lib.ones(1) * 1.5)
        crit = nn.CrossEntropyLoss()
        before = crit(lg, lb)
        ece_before, _ = _ece(lib, lg, lb)
        opt = optim.LBFGS([T], lr=0.01 if line_search is None else 1, max_iter=50,
                          line_search_fn=line_search)
        first = opt.step(_nll_closure(opt, crit, lg, lb, T))
        scaled = lg / T.detach()
        ece_after, rows = _ece(lib, scaled, lb)
        ece2, count, acc, avg = _reliability(lib, scaled, lb)
        _close(ece2, ece_after.squeeze(), 1e-7)
        conf = scaled.softmax(-1).max(-1).values
        hist = lib.histc(conf, bins=10, min=0, max=1)   # the masks' .float() proportions are float32
        res[lib] = [before, first, T, crit(scaled, lb), ece_before, ece_after, lib.tensor(rows),
                    count, acc, avg, opt.state[T]["func_evals"] * lib.ones(1), hist]
    _same(res)
    assert res[zeroin][2].item() != 1.5


# --- SWAG --------------------------------------------------------------------------------------

def _swag_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(2, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 3))


def test_swag_diagonal_and_low_rank_moments_sampling_and_update_bn():
    """SWAG by hand (Maddox et al.): SGD steps, then the running first and second moments of
    ``parameters_to_vector`` and the last K deviations; a sample written back with
    ``vector_to_parameters``, batch norm's statistics recomputed by
    ``optim.swa_utils.update_bn``, and the Bayesian model average of the predictions."""
    torch_stream()
    rng = np.random.default_rng(8)
    X, y = _blobs(rng, 40)
    torch.manual_seed(8)
    tnet = _swag_net(torch)
    znet = _copy(tnet, _swag_net(zeroin))
    res = {}
    K = 3
    for lib, model in ((torch, tnet), (zeroin, znet)):
        F, utils = lib.nn.functional, lib.nn.utils
        x, t = _t(lib, X), _t(lib, y)
        batches = [(x[i:i + 10], t[i:i + 10]) for i in range(0, 40, 10)]
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x, t), batch_size=16)
        opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        mean = lib.zeros_like(utils.parameters_to_vector(model.parameters()))
        sq_mean = lib.zeros_like(mean)
        devs, n = [], 0
        for epoch in range(4):
            for xb, yb in batches:
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
            if epoch >= 1:
                w = utils.parameters_to_vector(model.parameters()).detach()
                mean = (n * mean + w) / (n + 1)
                sq_mean = (n * sq_mean + w ** 2) / (n + 1)
                devs.append((w - mean).clone())
                devs = devs[-K:]
                n += 1
        D = lib.stack(devs, dim=1)
        var = lib.clamp(sq_mean - mean ** 2, 1e-30)
        lib.manual_seed(9)
        preds = []
        for _ in range(3):
            z1, z2 = lib.randn_like(mean), lib.randn(D.shape[1])
            diag = mean + var.sqrt() * z1
            sample = mean + var.sqrt() * z1 / math.sqrt(2) + D @ z2 / math.sqrt(2 * (K - 1))
            utils.vector_to_parameters(sample, model.parameters())
            lib.optim.swa_utils.update_bn(loader, model)      # (x, y) batches
            model.eval()
            with lib.no_grad():
                preds.append(model(x).softmax(-1))
            model.train()
        swag = lib.distributions.LowRankMultivariateNormal(
            mean, cov_factor=D / math.sqrt(2 * (K - 1)), cov_diag=var / 2 + 1e-6)   # 1e-30 variances: no density
        lp = swag.log_prob(sample)
        bn = model[1]
        res[lib] = [mean, sq_mean, var, D, diag, sample, lp, swag.rsample((2,)), swag.entropy(), bn.running_mean, bn.running_var,
                    bn.num_batches_tracked, lib.stack(preds).mean(0),
                    *model.parameters()]
    _same(res)


# --- variational inference with torch.distributions (no Pyro) ----------------------------------

def _vi_step(lib, q, X, y, prior, S):
    """The Monte Carlo ELBO of Bayesian logistic regression under ``q``: ``rsample((S,))``,
    ``Bernoulli(logits=...)``'s log-likelihood and the closed-form KL to the prior."""
    dist = lib.distributions
    w = q.rsample((S,))                                   # (S, d)
    loglik = dist.Bernoulli(logits=w @ X.T).log_prob(y).sum(-1).mean()
    return -(loglik - dist.kl_divergence(q, prior))


@pytest.mark.parametrize("family", ["mean-field", "full-rank"])
def test_bayesian_logistic_regression_vi_with_distributions(family):
    """Pyro-free VI: a mean-field ``Independent(Normal(mu, softplus(rho)), 1)`` or a full-rank
    ``MultivariateNormal(mu, scale_tril=tril(L, -1) + diag_embed(softplus(diag)))`` posterior
    over logistic-regression weights, the reparameterized ELBO with the closed-form KL to a
    ``MultivariateNormal`` / ``Independent`` prior, Adam steps (torch stream, so the noise
    is PyTorch's); then the posterior predictive by sampling."""
    torch_stream()
    rng = np.random.default_rng(10)
    X0 = rng.standard_normal((30, 3))
    y0 = (X0 @ np.array([1.5, -2.0, 0.5]) + 0.3 * rng.standard_normal(30) > 0).astype(float)
    L0 = np.tril(rng.standard_normal((3, 3)) * 0.1, -1)
    res = {}
    for lib in LIBS:
        F, dist = lib.nn.functional, lib.distributions
        X, y = _t(lib, X0), _t(lib, y0)
        mu = _t(lib, np.zeros(3), grad=True)
        rho = _t(lib, np.full(3, -1.0), grad=True)
        L = _t(lib, L0, grad=True)
        params = [mu, rho] + ([L] if family == "full-rank" else [])
        opt = lib.optim.Adam(params, lr=0.05)
        lib.manual_seed(10)
        out = []
        for _ in range(4):
            if family == "mean-field":
                q = dist.Independent(dist.Normal(mu, F.softplus(rho)), 1)
                prior = dist.Independent(dist.Normal(lib.zeros(3), lib.ones(3)), 1)
            else:
                q = dist.MultivariateNormal(
                    mu, scale_tril=lib.tril(L, -1) + lib.diag_embed(F.softplus(rho)))
                prior = dist.MultivariateNormal(lib.zeros(3), 2.0 * lib.eye(3))
            opt.zero_grad()
            loss = _vi_step(lib, q, X, y, prior, S=5)
            loss.backward()
            out += [loss, *[p.grad.clone() for p in params]]
            opt.step()
        with lib.no_grad():
            ws = q.sample((50,))
            p_pred = lib.sigmoid(ws @ X.T).mean(0)
        res[lib] = out + [q.entropy(), q.log_prob(ws), p_pred, *params]
    _same(res)


# --- the "Weight Uncertainty in Neural Networks" blog, as written --------------------------------

def _blog(lib):
    """nitarshan's Bayes-by-backprop blog post, nearly verbatim (float32, ``FloatTensor``
    prior scales, ``Normal(0, 1).sample(rho.size())``, the in-place ``outputs[i] = ...``
    of ``sample_elbo`` and ``F.nll_loss(..., size_average=False)``)."""
    nn, F = lib.nn, lib.nn.functional
    PI, SIGMA_1 = 0.5, lib.FloatTensor([math.exp(-0)])
    SIGMA_2 = lib.FloatTensor([math.exp(-6)])
    SAMPLES, CLASSES, BATCH_SIZE, NUM_BATCHES = 2, 3, 12, 5

    class Gaussian:
        def __init__(self, mu, rho):
            self.mu, self.rho = mu, rho
            self.normal = lib.distributions.Normal(0, 1)

        @property
        def sigma(self):
            return lib.log1p(lib.exp(self.rho))

        def sample(self):
            epsilon = self.normal.sample(self.rho.size())
            return self.mu + self.sigma * epsilon

        def log_prob(self, input):
            return (-math.log(math.sqrt(2 * math.pi)) - lib.log(self.sigma)
                    - ((input - self.mu) ** 2) / (2 * self.sigma ** 2)).sum()

    class ScaleMixtureGaussian:
        def __init__(self, pi, sigma1, sigma2):
            self.pi = pi
            self.gaussian1 = lib.distributions.Normal(0, sigma1)
            self.gaussian2 = lib.distributions.Normal(0, sigma2)

        def log_prob(self, input):
            prob1 = lib.exp(self.gaussian1.log_prob(input))
            prob2 = lib.exp(self.gaussian2.log_prob(input))
            return (lib.log(self.pi * prob1 + (1 - self.pi) * prob2)).sum()

    class BayesianLinear(nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.weight_mu = nn.Parameter(lib.Tensor(out_features, in_features).uniform_(-0.2, 0.2))
            self.weight_rho = nn.Parameter(lib.Tensor(out_features, in_features).uniform_(-5, -4))
            self.weight = Gaussian(self.weight_mu, self.weight_rho)
            self.bias_mu = nn.Parameter(lib.Tensor(out_features).uniform_(-0.2, 0.2))
            self.bias_rho = nn.Parameter(lib.Tensor(out_features).uniform_(-5, -4))
            self.bias = Gaussian(self.bias_mu, self.bias_rho)
            self.weight_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
            self.bias_prior = ScaleMixtureGaussian(PI, SIGMA_1, SIGMA_2)
            self.log_prior = 0
            self.log_variational_posterior = 0

        def forward(self, input, sample=False, calculate_log_probs=False):
            if self.training or sample:
                weight = self.weight.sample()
                bias = self.bias.sample()
            else:
                weight = self.weight.mu
                bias = self.bias.mu
            if self.training or calculate_log_probs:
                self.log_prior = (self.weight_prior.log_prob(weight)
                                  + self.bias_prior.log_prob(bias))
                self.log_variational_posterior = (self.weight.log_prob(weight)
                                                  + self.bias.log_prob(bias))
            else:
                self.log_prior, self.log_variational_posterior = 0, 0
            return F.linear(input, weight, bias)

    class BayesianNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = BayesianLinear(4, 16)
            self.l2 = BayesianLinear(16, CLASSES)

        def forward(self, x, sample=False):
            x = F.relu(self.l1(x, sample))
            return F.log_softmax(self.l2(x, sample), dim=1)

        def log_prior(self):
            return self.l1.log_prior + self.l2.log_prior

        def log_variational_posterior(self):
            return self.l1.log_variational_posterior + self.l2.log_variational_posterior

        def sample_elbo(self, input, target, samples=SAMPLES):
            outputs = lib.zeros(samples, BATCH_SIZE, CLASSES)
            log_priors = lib.zeros(samples)
            log_variational_posteriors = lib.zeros(samples)
            for i in range(samples):
                outputs[i] = self(input, sample=True)
                log_priors[i] = self.log_prior()
                log_variational_posteriors[i] = self.log_variational_posterior()
            log_prior = log_priors.mean()
            log_variational_posterior = log_variational_posteriors.mean()
            negative_log_likelihood = F.nll_loss(outputs.mean(0), target, size_average=False)
            loss = (log_variational_posterior - log_prior) / NUM_BATCHES \
                + negative_log_likelihood
            return loss, log_prior, log_variational_posterior, negative_log_likelihood

    return BayesianNetwork


@pytest.mark.filterwarnings("ignore:size_average and reduce args:UserWarning")
def test_weight_uncertainty_blog_as_written(f32):
    """The blog's train and test loops: SGD steps on ``sample_elbo``, then the ensemble of
    sampled networks and the posterior mean under ``no_grad`` in ``eval()``."""
    torch.set_default_dtype(torch.float32)
    torch_stream()
    rng = np.random.default_rng(12)
    X0, y0 = _blobs(rng, 12, d=4)
    torch.manual_seed(12)
    tnet = _blog(torch)()
    znet = _copy(tnet, _blog(zeroin)())
    res = {}
    for lib, net in ((torch, tnet), (zeroin, znet)):
        lib.manual_seed(13)
        data, target = _t(lib, X0.astype(np.float32)), _t(lib, y0)
        optimizer = lib.optim.Adam(net.parameters())
        out = []
        net.train()
        for _ in range(3):
            net.zero_grad()
            loss, log_prior, log_var_post, nll = net.sample_elbo(data, target)
            loss.backward()
            optimizer.step()
            out += [loss, log_prior, log_var_post, nll, net.l1.weight_rho.grad]
        net.eval()
        with lib.no_grad():
            outputs = lib.zeros(4 + 1, 12, 3)
            for i in range(4):
                outputs[i] = net(data, sample=True)
            outputs[4] = net(data, sample=False)
            output = outputs.mean(0)
            preds = outputs.max(2, keepdim=True)[1]
            pred = output.max(1, keepdim=True)[1]
            corrects = preds.eq(target.view_as(pred)).sum(dim=1).squeeze()
        res[lib] = out + [outputs, output, preds, pred, corrects, *net.parameters()]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, rtol=1e-5, atol=1e-5)


# --- Kronecker-factored Laplace, GLM predictive ------------------------------------------------

def _kfac(lib, model, x, y, prior_prec):
    """KFAC for the last linear layer from hooks: A = E[a a^T] of its inputs (forward hook)
    and G = E[g g^T] of the gradients at its outputs (full backward hook), one sample at a
    time; the posterior covariance's factors from ``linalg.eigh``."""
    F = lib.nn.functional
    last, acts, grads = model[-1], [], []
    h1 = last.register_forward_hook(lambda m, i, o: acts.append(i[0].detach()))
    h2 = last.register_full_backward_hook(lambda m, gi, go: grads.append(go[0].detach()))
    for i in range(len(y)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1], reduction="sum").backward()
    h1.remove()
    h2.remove()
    a = lib.cat([lib.cat([t, lib.ones(len(t), 1)], 1) for t in acts])   # bias as a 1
    g = lib.cat(grads)
    A, G = a.T @ a / len(y), g.T @ g
    la, Qa = lib.linalg.eigh(A)
    lg, Qg = lib.linalg.eigh(G)
    # the posterior precision G kron (n A) + prior, inverted in the eigenbasis
    inv_diag = 1 / (lib.outer(lg, la) * len(y) + prior_prec)
    return A, G, lib.kron(G, A), la, lg, Qa, Qg, inv_diag


def test_kfac_laplace_with_hooks_and_glm_predictive():
    """Kronecker-factored last-layer Laplace with forward / full backward hooks, ``kron``
    and ``linalg.eigh`` (eigenvectors up to sign); the last layer's Gauss-Newton matrix from
    per-sample Jacobians (``func.jacrev`` of ``functional_call`` on the parameter dict,
    ``vmap``ed), and the GLM predictive's logit covariance and probit probabilities."""
    rng = np.random.default_rng(14)
    X0, y0 = _blobs(rng, 10)
    torch.manual_seed(14)
    tnet = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    znet = _copy(tnet, zeroin.nn.Sequential(zeroin.nn.Linear(2, 5), zeroin.nn.Tanh(),
                                            zeroin.nn.Linear(5, 3)))
    res = {}
    for lib, model in ((torch, tnet), (zeroin, znet)):
        x, y = _t(lib, X0), _t(lib, y0)
        A, G, GA, la, lg, Qa, Qg, inv_diag = _kfac(lib, model, x, y, prior_prec=1.0)
        params = {k: v.detach() for k, v in model.named_parameters()}
        last = {k: params[k] for k in ("2.weight", "2.bias")}

        def f(p, xi, model=model, params=params, lib=lib):
            return lib.func.functional_call(model, {**params, **p}, (xi.unsqueeze(0),))[0]
        J = lib.vmap(lib.func.jacrev(f), in_dims=(None, 0))(last, x)
        Jw = lib.cat([J["2.weight"].flatten(2), J["2.bias"]], 2)    # (n, 3, 18)
        p = lib.softmax(model(x), -1).detach()
        Lam = lib.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)
        ggn = lib.einsum("nci,ncd,ndj->ij", Jw, Lam, Jw)
        Sigma = lib.linalg.inv(ggn + lib.eye(18))
        f_mu = model(x).detach()
        f_var = lib.einsum("nci,ij,ndj->ncd", Jw, Sigma, Jw)
        kappa = 1 / lib.sqrt(1 + math.pi / 8 * lib.diagonal(f_var, dim1=-2, dim2=-1))
        res[lib] = [A, G, GA, la, lg, lib.abs(Qa), lib.abs(Qg), inv_diag, Jw, ggn, Sigma,
                    f_var, lib.softmax(kappa * f_mu, -1)]
    _same(res, 1e-9)


# --- evidential deep learning ------------------------------------------------------------------

def _edl_loss(lib, alpha, y, num_classes, anneal):
    """Sensoy et al.'s evidential loss (dougbrion/pytorch-classification-uncertainty):
    the expected squared error under Dirichlet(alpha) plus the annealed KL of the
    misleading evidence to Dirichlet(1), written with ``lgamma`` / ``digamma``."""
    S = alpha.sum(1, keepdim=True)
    err = ((y - alpha / S) ** 2).sum(1, keepdim=True)
    var = (alpha * (S - alpha) / (S * S * (S + 1))).sum(1, keepdim=True)
    at = (alpha - 1) * (1 - y) + 1
    ones = lib.ones([1, num_classes])
    sa = at.sum(1, keepdim=True)
    first = lib.lgamma(sa) - lib.lgamma(at).sum(1, keepdim=True) \
        - lib.lgamma(ones.sum(1, keepdim=True)) + lib.lgamma(ones).sum(1, keepdim=True)
    second = ((at - ones) * (lib.digamma(at) - lib.digamma(sa))).sum(1, keepdim=True)
    kl = first + second
    D = lib.distributions
    _close(kl.squeeze(1), D.kl_divergence(D.Dirichlet(at), D.Dirichlet(ones.expand_as(at))),
           1e-10)
    return (err + var + anneal * kl).mean()


def test_evidential_classification_and_regression_losses_and_steps():
    """Evidential deep learning: a classifier whose ``F.softplus`` evidence parameterizes a
    Dirichlet (the loss above, its uncertainty ``K / S``, ``Dirichlet.entropy``), and Amini
    et al.'s deep evidential regression (Normal-Inverse-Gamma NLL with ``lgamma`` and its
    evidence regularizer); Adam steps on both."""
    rng = np.random.default_rng(16)
    X0, y0 = _blobs(rng, 12)
    R = rng.standard_normal((12, 1))
    torch.manual_seed(16)
    tc = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tr = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    zc = _copy(tc, zeroin.nn.Sequential(zeroin.nn.Linear(2, 8), zeroin.nn.ReLU(),
                                        zeroin.nn.Linear(8, 3)))
    zr = _copy(tr, zeroin.nn.Sequential(zeroin.nn.Linear(2, 8), zeroin.nn.Tanh(),
                                        zeroin.nn.Linear(8, 4)))
    res = {}
    for lib, clf, reg in ((torch, tc, tr), (zeroin, zc, zr)):
        F = lib.nn.functional
        x, t, yr = _t(lib, X0), _t(lib, y0), _t(lib, R)
        opt = lib.optim.Adam([*clf.parameters(), *reg.parameters()], lr=0.01)
        out = []
        for epoch in range(3):
            opt.zero_grad()
            alpha = F.softplus(clf(x)) + 1
            y = F.one_hot(t, 3).to(alpha.dtype)
            loss_c = _edl_loss(lib, alpha, y, 3, min(1.0, epoch / 10))
            gamma, lognu, logalpha, logbeta = reg(x).chunk(4, dim=-1)
            nu, a, beta = F.softplus(lognu), F.softplus(logalpha) + 1, F.softplus(logbeta)
            omega = 2 * beta * (1 + nu)
            nll = (0.5 * lib.log(math.pi / nu) - a * lib.log(omega)
                   + (a + 0.5) * lib.log(nu * (yr - gamma) ** 2 + omega)
                   + lib.lgamma(a) - lib.lgamma(a + 0.5))
            evid = (lib.abs(yr - gamma) * (2 * nu + a)).mean()
            loss = loss_c + nll.mean() + 0.01 * evid
            loss.backward()
            opt.step()
            out += [loss_c, nll, evid, clf[0].weight.grad, reg[2].bias.grad]
        with lib.no_grad():
            alpha = F.softplus(clf(x)) + 1
            u = 3 / alpha.sum(1)
            h = lib.distributions.Dirichlet(alpha).entropy()
            aleatoric = beta / (a - 1)
            epistemic = beta / (nu * (a - 1))
        res[lib] = out + [u, h, aleatoric, epistemic]
    _same(res)
