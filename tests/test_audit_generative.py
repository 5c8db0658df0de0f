"""Audit of deep generative models as Stanford CS236's homeworks and the common from-scratch
repositories write them (karpathy/pytorch-made, PixelCNN masked convolutions, the RealNVP /
Glow ports, WGAN-GP, energy-based models and score matching, IWAE), ported with ``import
zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional as F``: each is run with
``torch`` and with ``zeroin`` on the same synthetic data (two moons, Gaussian mixtures, tiny
1x8x8 binary images) and the same weights (copied from torch), and the values, gradients
(double and triple backward included) and a few optimiser steps compared in float64 to
1e-10; some gradients also by finite differences. See docs/generative.md."""
import warnings

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import np_of as _np
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


@pytest.fixture(autouse=True)
def _float64():
    """torch in float64 for the test (zeroin's default; ``torch_defaults_back`` puts
    torch's float32 and zeroin's NumPy stream back after it)."""
    torch.set_default_dtype(torch.float64)


def _t(lib, a, grad=False):
    t = lib.tensor(np.array(a, dtype=np.float64))
    return t.requires_grad_(True) if grad else t


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol)


def _moons(rng, n, noise=0.05):
    """Two interleaving half circles (sklearn's make_moons, written out)."""
    a = rng.uniform(0, np.pi, n)
    up = rng.random(n) < 0.5
    x = np.where(up, np.cos(a), 1 - np.cos(a))
    y = np.where(up, np.sin(a), 0.5 - np.sin(a))
    return np.stack([x, y], 1) + noise * rng.normal(size=(n, 2))


def _binary_images(rng, n):
    """Tiny 1x8x8 binary "images": a random bar or box each."""
    img = np.zeros((n, 1, 8, 8))
    for i in range(n):
        r, c = rng.integers(0, 5, 2)
        h, w = rng.integers(2, 4, 2)
        img[i, 0, r:r + h, c:c + w] = 1
    flip = rng.random(img.shape) < 0.05
    return np.abs(img - flip)


def _fd(f, a, idx, eps=1e-6):
    """Central differences of the scalar ``f(a)`` in the entries ``idx`` of ``a``."""
    out = []
    for j in idx:
        p, m = a.copy(), a.copy()
        p.flat[j] += eps
        m.flat[j] -= eps
        out.append((f(p) - f(m)) / (2 * eps))
    return np.array(out)


# --- normalizing flows: RealNVP coupling on two moons --------------------------------------------

def _realnvp(lib):
    """RealNVP for 2-D data as the CS236 / tutorial ports write it: alternating binary masks,
    ``s = scale * tanh(...)``, log-determinant ``s.sum(dim=1)``, a ``Normal(0, 1)`` base."""
    nn = lib.nn

    class CouplingLayer(nn.Module):
        def __init__(self, dim, hidden, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s_net = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.2),
                                       nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                       nn.Linear(hidden, dim))
            self.t_net = nn.Sequential(nn.Linear(dim, hidden), nn.LeakyReLU(0.2),
                                       nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
                                       nn.Linear(hidden, dim))
            self.scale = nn.Parameter(lib.ones(1, dim))

        def forward(self, x):
            x_m = x * self.mask
            s = self.scale * lib.tanh(self.s_net(x_m)) * (1 - self.mask)
            t = self.t_net(x_m) * (1 - self.mask)
            z = x_m + (1 - self.mask) * (x * lib.exp(s) + t)
            return z, s.sum(dim=1)

        def inverse(self, z):
            z_m = z * self.mask
            s = self.scale * lib.tanh(self.s_net(z_m)) * (1 - self.mask)
            t = self.t_net(z_m) * (1 - self.mask)
            x = z_m + (1 - self.mask) * (z - t) * lib.exp(-s)
            return x, -s.sum(dim=1)

    class RealNVP(nn.Module):
        def __init__(self, dim=2, hidden=16, n_layers=4):
            super().__init__()
            masks = [lib.tensor([i % 2, (i + 1) % 2], dtype=lib.get_default_dtype())
                     for i in range(n_layers)]
            self.layers = nn.ModuleList([CouplingLayer(dim, hidden, m) for m in masks])
            self.prior = lib.distributions.Normal(lib.zeros(dim), lib.ones(dim))

        def forward(self, x):
            log_det = lib.zeros(x.shape[0])
            for layer in self.layers:
                x, ld = layer(x)
                log_det = log_det + ld
            return x, log_det

        def inverse(self, z):
            for layer in reversed(self.layers):
                z, _ = layer.inverse(z)
            return z

        def log_prob(self, x):
            z, log_det = self(x)
            return self.prior.log_prob(z).sum(1) + log_det

    return RealNVP


def test_realnvp_log_likelihood_inverse_and_adam_steps():
    rng = np.random.default_rng(0)
    data = [_moons(rng, 32) for _ in range(4)]
    z_given = rng.normal(size=(8, 2))
    torch.manual_seed(0)
    tmodel = _realnvp(torch)()
    with torch.no_grad():     # a nonzero scale so the coupling layers do work
        for p in tmodel.parameters():
            p.add_(0.3 * torch.randn_like(p))
    models = {zeroin: _copy(tmodel, _realnvp(zeroin)()), torch: tmodel}
    res = {}
    for lib in LIBS:
        model = models[lib]
        x = _t(lib, data[0])
        z, log_det = model(x)
        back = model.inverse(z)
        _close(back, data[0], 1e-12)                   # forward then inverse gives the input
        nll = -model.log_prob(x).mean()
        nll.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for batch in data:
            opt.zero_grad(set_to_none=True)
            loss = -model.log_prob(_t(lib, batch)).mean()
            loss.backward()
            opt.step()
            losses.append(loss)
        with lib.no_grad():
            samples = model.inverse(_t(lib, z_given))
        res[lib] = [z, log_det, nll, *grads, lib.stack(losses), samples,
                    *model.parameters()]
    _same(res)


def test_realnvp_log_det_is_the_jacobians_and_gradient_by_finite_differences():
    """``s.sum(dim=1)`` is log|det J| of the flow (J from ``torch.autograd.functional``),
    and the NLL's gradient in the data matches central differences."""
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    tmodel = _realnvp(torch)(n_layers=2)
    with torch.no_grad():
        for p in tmodel.parameters():
            p.add_(0.3 * torch.randn_like(p))
    zmodel = _copy(tmodel, _realnvp(zeroin)(n_layers=2))
    x0 = _moons(rng, 3)
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        for row in x0:
            J = lib.autograd.functional.jacobian(
                lambda v, model=model: model(v.unsqueeze(0))[0][0], _t(lib, row))
            _, ld = model(_t(lib, row).unsqueeze(0))
            _close(lib.linalg.slogdet(J)[1], ld[0], 1e-10)
    x = _t(zeroin, x0, grad=True)
    (-zmodel.log_prob(x).sum()).backward()

    def f(a):
        with zeroin.no_grad():
            return -zmodel.log_prob(_t(zeroin, a)).sum().item()
    _close(_np(x.grad).ravel(), _fd(f, x0, range(6)), rtol=1e-6, atol=1e-8)


# --- Glow: actnorm, invertible 1x1 convolution (plain and LU), affine coupling ----------------

def _glow(lib):
    """rosinality/glow-pytorch's blocks (its LU layer with ``torch.linalg.lu`` in place of
    ``scipy.linalg.lu``), as the Glow ports write them."""
    nn, F = lib.nn, lib.nn.functional

    def logabs(x):
        return lib.log(lib.abs(x))

    class ActNorm(nn.Module):
        def __init__(self, in_channel):
            super().__init__()
            self.loc = nn.Parameter(lib.zeros(1, in_channel, 1, 1))
            self.scale = nn.Parameter(lib.ones(1, in_channel, 1, 1))
            self.register_buffer("initialized", lib.tensor(0, dtype=lib.uint8))

        def initialize(self, input):
            with lib.no_grad():
                flatten = input.permute(1, 0, 2, 3).contiguous().view(input.shape[1], -1)
                mean = flatten.mean(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
                std = flatten.std(1).unsqueeze(1).unsqueeze(2).unsqueeze(3).permute(1, 0, 2, 3)
                self.loc.data.copy_(-mean)
                self.scale.data.copy_(1 / (std + 1e-6))

        def forward(self, input):
            _, _, height, width = input.shape
            if self.initialized.item() == 0:
                self.initialize(input)
                self.initialized.fill_(1)
            logdet = height * width * lib.sum(logabs(self.scale))
            return self.scale * (input + self.loc), logdet

        def reverse(self, output):
            return output / self.scale - self.loc

    class InvConv2d(nn.Module):
        def __init__(self, weight):
            super().__init__()
            self.weight = nn.Parameter(weight.unsqueeze(2).unsqueeze(3))

        def forward(self, input):
            _, _, height, width = input.shape
            out = F.conv2d(input, self.weight)
            logdet = height * width * lib.slogdet(self.weight.squeeze().double())[1].to(
                input.dtype)                    # rosinality's .float(), in the input's dtype
            return out, logdet

        def reverse(self, output):
            return F.conv2d(output, self.weight.squeeze().inverse().unsqueeze(2).unsqueeze(3))

    class InvConv2dLU(nn.Module):
        def __init__(self, q):
            super().__init__()
            w_p, w_l, w_u = lib.linalg.lu(q)
            w_s = lib.diag(w_u)
            w_u = lib.triu(w_u, 1)
            u_mask = lib.triu(lib.ones_like(w_u), 1)
            l_mask = u_mask.T
            self.register_buffer("w_p", w_p)
            self.register_buffer("u_mask", u_mask)
            self.register_buffer("l_mask", l_mask)
            self.register_buffer("s_sign", lib.sign(w_s))
            self.register_buffer("l_eye", lib.eye(l_mask.shape[0]))
            self.w_l = nn.Parameter(w_l)
            self.w_s = nn.Parameter(logabs(w_s))
            self.w_u = nn.Parameter(w_u)

        def forward(self, input):
            _, _, height, width = input.shape
            weight = self.calc_weight()
            out = F.conv2d(input, weight)
            logdet = height * width * lib.sum(self.w_s)
            return out, logdet

        def calc_weight(self):
            weight = (self.w_p @ (self.w_l * self.l_mask + self.l_eye)
                      @ ((self.w_u * self.u_mask) + lib.diag(self.s_sign * lib.exp(self.w_s))))
            return weight.unsqueeze(2).unsqueeze(3)

        def reverse(self, output):
            weight = self.calc_weight()
            return F.conv2d(output, weight.squeeze().inverse().unsqueeze(2).unsqueeze(3))

    class ZeroConv2d(nn.Module):
        def __init__(self, in_channel, out_channel):
            super().__init__()
            self.conv = nn.Conv2d(in_channel, out_channel, 3, padding=0)
            self.scale = nn.Parameter(lib.zeros(1, out_channel, 1, 1))

        def forward(self, input):
            out = F.pad(input, [1, 1, 1, 1], value=1)
            out = self.conv(out)
            return out * lib.exp(self.scale * 3)

    class AffineCoupling(nn.Module):
        def __init__(self, in_channel, filter_size=8):
            super().__init__()
            self.net = nn.Sequential(
                nn.Conv2d(in_channel // 2, filter_size, 3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(filter_size, filter_size, 1), nn.ReLU(inplace=True),
                ZeroConv2d(filter_size, in_channel))

        def forward(self, input):
            in_a, in_b = input.chunk(2, 1)
            log_s, t = self.net(in_a).chunk(2, 1)
            s = F.sigmoid(log_s + 2)
            out_b = (in_b + t) * s
            logdet = lib.sum(lib.log(s).view(input.shape[0], -1), 1)
            return lib.cat([in_a, out_b], 1), logdet

        def reverse(self, output):
            out_a, out_b = output.chunk(2, 1)
            log_s, t = self.net(out_a).chunk(2, 1)
            s = F.sigmoid(log_s + 2)
            return lib.cat([out_a, out_b / s - t], 1)

    class Flow(nn.Module):
        def __init__(self, in_channel, q, lu=True):
            super().__init__()
            self.actnorm = ActNorm(in_channel)
            self.invconv = InvConv2dLU(q) if lu else InvConv2d(q)
            self.coupling = AffineCoupling(in_channel)

        def forward(self, input):
            out, logdet = self.actnorm(input)
            out, det1 = self.invconv(out)
            out, det2 = self.coupling(out)
            return out, logdet + det1 + det2

        def reverse(self, output):
            input = self.coupling.reverse(output)
            input = self.invconv.reverse(input)
            return self.actnorm.reverse(input)

    def squeeze(x):
        b, c, h, w = x.shape
        x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).contiguous()
        return x.view(b, c * 4, h // 2, w // 2)

    return Flow, squeeze


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lu", [True, False])
def test_glow_flow_step_actnorm_init_invconv_and_coupling(lu, dtype, f32):
    """A Glow step on squeezed 1x8x8 images, float64 to 1e-10 and float32 (the ports'
    dtype) to float resolution."""
    if dtype == "float64":
        zeroin.set_default_dtype(zeroin.float64)
    torch.set_default_dtype(getattr(torch, dtype))
    tol = 1e-10 if dtype == "float64" else 2e-5
    rng = np.random.default_rng(2)
    imgs = _binary_images(rng, 6) + rng.uniform(0, 1, (6, 1, 8, 8))      # dequantised
    q0 = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    imgs, q0 = imgs.astype(dtype), q0.astype(dtype)
    torch.manual_seed(2)
    tflow = _glow(torch)[0](4, torch.tensor(q0), lu=lu)
    with torch.no_grad():     # ZeroConv2d starts at zero: move it so the coupling works
        for p in tflow.coupling.parameters():
            p.add_(0.1 * torch.randn_like(p))
    zflow = _glow(zeroin)[0](4, zeroin.tensor(q0), lu=lu)
    _copy(tflow, zflow)
    res = {}
    for lib, flow in ((torch, tflow), (zeroin, zflow)):
        squeeze = _glow(lib)[1]
        x = squeeze(lib.tensor(imgs))
        out, logdet = flow(x)                        # the first call initialises actnorm
        assert flow.actnorm.initialized.item() == 1
        an, _ = flow.actnorm(x)
        back = flow.reverse(out)
        _close(back, x, 1e-12 if dtype == "float64" else 1e-5)
        assert out.dtype == logdet.dtype == getattr(lib, dtype)
        prior = lib.distributions.Normal(lib.zeros_like(out), lib.ones_like(out))
        log_p = prior.log_prob(out).view(out.shape[0], -1).sum(1) + logdet
        loss = -(log_p - np.log(256.0) * 64).mean() / (64 * np.log(2.0))     # bits per dim
        loss.backward()
        grads = [p.grad for p in flow.parameters()]
        res[lib] = [out, logdet, an, loss, *grads, *flow.parameters()]
        if lu:
            w = flow.invconv.calc_weight().squeeze()
            res[lib] += [w, lib.linalg.slogdet(w)[1]]
            _close(lib.linalg.slogdet(w)[1], flow.invconv.w_s.sum(), tol / 10)
    _same(res, tol)
    # actnorm's data-dependent init: zero mean and unit (unbiased) std per channel
    a = _np(res[zeroin][2]).transpose(1, 0, 2, 3).reshape(4, -1)
    _close(a.mean(1), np.zeros(4), tol)
    _close(a.std(1, ddof=1), np.ones(4), 1e-5)


def test_slogdet_inverse_and_lu_gradients_against_torch_and_finite_differences():
    """The pieces a 1x1 invertible convolution differentiates: ``torch.slogdet`` /
    ``torch.linalg.slogdet`` (a negative determinant included), ``inverse``,
    ``torch.linalg.lu``, ``lu_factor``, ``torch.lu`` and ``torch.lu_unpack``, first and second
    order."""
    rng = np.random.default_rng(3)
    a0 = rng.normal(size=(4, 4))
    if np.linalg.det(a0) > 0:
        a0[[0, 1]] = a0[[1, 0]]
    v0 = rng.normal(size=(4, 4))
    res = {}
    for lib in LIBS:
        a = _t(lib, a0, grad=True)
        sign, logabsdet = lib.slogdet(a)
        s2, l2 = lib.linalg.slogdet(a)
        inv = a.inverse()
        P, L, U = lib.linalg.lu(a)
        LU, piv = lib.linalg.lu_factor(a)
        P2, L2, U2 = lib.lu_unpack(LU, piv)
        with warnings.catch_warnings():         # torch.lu is deprecated in PyTorch
            warnings.simplefilter("ignore")
            LU3, piv3 = lib.lu(a)
        out = (logabsdet + (inv * _t(lib, v0)).sum() + (L * U).sum() + (L2 ** 2).sum()
               + U2.sum() + l2 + (LU3 ** 3).sum())
        g, = lib.autograd.grad(out, a, create_graph=True)
        gg, = lib.autograd.grad((g * _t(lib, v0)).sum(), a)
        res[lib] = [sign, logabsdet, s2, l2, inv, P, L, U, LU, piv, P2, L2, U2, LU3, piv3, out,
                    g, gg]
    _same(res)
    _close(res[zeroin][5] @ res[zeroin][6] @ res[zeroin][7], a0, 1e-12)

    a = _t(zeroin, a0, grad=True)
    zeroin.slogdet(a)[1].backward()
    _close(_np(a.grad).ravel(), _fd(lambda m: np.linalg.slogdet(m)[1], a0, range(16)),
           rtol=1e-6, atol=1e-8)


# --- MADE and PixelCNN: masked layers -------------------------------------------------------------

def _made(lib):
    """karpathy/pytorch-made's ``MaskedLinear`` and ``MADE`` (masks from NumPy's
    ``RandomState``, or an order from ``torch.randperm``)."""
    nn, F = lib.nn, lib.nn.functional

    class MaskedLinear(nn.Linear):
        def __init__(self, in_features, out_features, bias=True):
            super().__init__(in_features, out_features, bias)
            self.register_buffer("mask", lib.ones(out_features, in_features))

        def set_mask(self, mask):
            self.mask.data.copy_(lib.from_numpy(mask.astype(np.uint8).T))

        def forward(self, input):
            return F.linear(input, self.mask * self.weight, self.bias)

    class MADE(nn.Module):
        def __init__(self, nin, hidden_sizes, nout, num_masks=1, order=None):
            super().__init__()
            self.nin, self.nout, self.hidden_sizes = nin, nout, hidden_sizes
            self.net = []
            hs = [nin] + hidden_sizes + [nout]
            for h0, h1 in zip(hs, hs[1:]):  # noqa: RUF007 (karpathy's)
                self.net.extend([MaskedLinear(h0, h1), nn.ReLU()])
            self.net.pop()
            self.net = nn.Sequential(*self.net)
            self.order, self.num_masks, self.seed, self.m = order, num_masks, 0, {}
            self.update_masks()

        def update_masks(self):
            if self.m and self.num_masks == 1:
                return
            L = len(self.hidden_sizes)
            rng = np.random.RandomState(self.seed)
            self.seed = (self.seed + 1) % self.num_masks
            self.m[-1] = rng.permutation(self.nin) if self.order is None else self.order
            for l in range(L):
                self.m[l] = rng.randint(self.m[l - 1].min(), self.nin - 1,
                                        size=self.hidden_sizes[l])
            masks = [self.m[l - 1][:, None] <= self.m[l][None, :] for l in range(L)]
            masks.append(self.m[L - 1][:, None] < self.m[-1][None, :])
            if self.nout > self.nin:        # several outputs a dimension (MAF: mu, alpha)
                k = int(self.nout / self.nin)
                masks[-1] = np.concatenate([masks[-1]] * k, axis=1)
            layers = [l for l in self.net.modules() if isinstance(l, MaskedLinear)]
            for l, m in zip(layers, masks):
                l.set_mask(m)

        def forward(self, x):
            return self.net(x)

    return MADE


@pytest.mark.parametrize("order", ["numpy", "randperm"])
def test_made_nll_autoregressive_property_training_and_sampling(order):
    rng = np.random.default_rng(4)
    data = [_binary_images(rng, 16).reshape(16, 64) for _ in range(3)]
    u = rng.random((5, 64))
    if order == "randperm":
        from _audit import torch_stream
        torch_stream()
        orders = {}
        for lib in LIBS:
            lib.manual_seed(0)
            orders[lib] = lib.randperm(64).numpy()
        np.testing.assert_array_equal(orders[zeroin], orders[torch])
        order_of = orders[zeroin]
    else:
        order_of = None
    torch.manual_seed(4)
    tmade = _made(torch)(64, [48, 48], 64, num_masks=2 if order == "numpy" else 1,
                         order=order_of)
    zmade = _copy(tmade, _made(zeroin)(64, [48, 48], 64,
                                       num_masks=2 if order == "numpy" else 1, order=order_of))
    res = {}
    for lib, model in ((torch, tmade), (zeroin, zmade)):
        F = lib.nn.functional
        m_out = model.m[-1]
        # the autoregressive property: output d depends on input k only if m[k] < m[d]
        x = _t(lib, data[0][:1], grad=True)
        logits = model(x)
        for d in (0, 17, 63):
            g, = lib.autograd.grad(logits[0, d], x, retain_graph=True)
            depends = _np(g)[0] != 0
            assert not (depends & (m_out >= m_out[d])).any()
        opt = lib.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        losses = []
        for batch in data:      # connectivity-agnostic training: a new mask each step
            xb = _t(lib, batch)
            logits = model(xb)
            loss = F.binary_cross_entropy_with_logits(logits, xb, reduction="sum") / xb.shape[0]
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.update_masks()
            losses.append(loss)
        # the sampling loop: one dimension at a time, in the order of m[-1]
        with lib.no_grad():     # on the torch stream: torch.bernoulli's own draws
            xs = lib.zeros(5, 64)
            lib.manual_seed(1)
            for i in np.argsort(model.m[-1]):
                p = lib.sigmoid(model(xs)[:, i])
                xs[:, i] = (lib.bernoulli(p) if order == "randperm" else
                            (_t(lib, u[:, i]) < p).float().to(xs.dtype))
        assert 0 < xs.sum().item() < xs.numel()
        res[lib] = [lib.stack(losses), xs, *model.parameters(), *model.buffers()]
    _same(res)


def _pixelcnn(lib, fm=8, buffer_style=False):
    """The minimal PixelCNN of the CS236 / jzbontar ports: ``MaskedConv2d`` of type A then B
    (``self.weight.data *= self.mask`` in forward, or the mask applied in ``F.conv2d``),
    ``BatchNorm2d``, ``ReLU(True)``, a 1x1 conv to 2 logits per pixel (binary images)."""
    nn, F = lib.nn, lib.nn.functional

    class MaskedConv2d(nn.Conv2d):
        def __init__(self, mask_type, *args, **kwargs):
            super().__init__(*args, **kwargs)
            assert mask_type in {"A", "B"}
            self.register_buffer("mask", self.weight.data.clone())
            _, _, kH, kW = self.weight.size()
            self.mask.fill_(1)
            self.mask[:, :, kH // 2, kW // 2 + (mask_type == "B"):] = 0
            self.mask[:, :, kH // 2 + 1:] = 0

        def forward(self, x):
            if buffer_style:
                return F.conv2d(x, self.weight * self.mask, self.bias, self.stride,
                                self.padding)
            self.weight.data *= self.mask
            return super(MaskedConv2d, self).forward(x)  # noqa: UP008

    return nn.Sequential(
        MaskedConv2d("A", 1, fm, 5, 1, 2, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        MaskedConv2d("B", fm, fm, 3, 1, 1, bias=False), nn.BatchNorm2d(fm), nn.ReLU(True),
        nn.Conv2d(fm, 2, 1))


@pytest.mark.parametrize("buffer_style", [False, True])
def test_pixelcnn_masked_convolutions_causality_training_and_sampling(buffer_style):
    if buffer_style:
        from _audit import torch_stream
        torch_stream()
    rng = np.random.default_rng(5)
    data = [_binary_images(rng, 8) for _ in range(3)]
    u = rng.random((3, 8, 8))
    torch.manual_seed(5)
    tnet = _pixelcnn(torch, buffer_style=buffer_style)
    znet = _copy(tnet, _pixelcnn(zeroin, buffer_style=buffer_style))
    res = {}
    for lib, net in ((torch, tnet), (zeroin, znet)):
        F = lib.nn.functional
        # causality: the logits at pixel (i, j) see only the pixels before it in raster order
        net.eval()
        x = _t(lib, data[0][:1], grad=True)
        out = net(x)
        for i, j in ((0, 0), (3, 4), (7, 7)):
            g, = lib.autograd.grad(out[0, 1, i, j], x, retain_graph=True)
            seen = np.flatnonzero(_np(g)[0, 0].ravel() != 0)
            assert seen.size == 0 or seen.max() < i * 8 + j
            if (i, j) == (3, 4):
                assert seen.size > 0
        net.train()
        opt = lib.optim.Adam(net.parameters(), lr=1e-3)
        losses = []
        for batch in data:
            xb = _t(lib, batch)
            loss = F.cross_entropy(net(xb), xb[:, 0].long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss)
        net.eval()
        with lib.no_grad():     # buffer_style: torch.multinomial on the torch stream
            sample = lib.zeros(3, 1, 8, 8)
            lib.manual_seed(2)
            for i in range(8):
                for j in range(8):
                    probs = F.softmax(net(sample)[:, :, i, j], dim=1)
                    sample[:, :, i, j] = (lib.multinomial(probs, 1).to(sample.dtype)
                                          if buffer_style else
                                          (_t(lib, u[:, i, j]) < probs[:, 1]).unsqueeze(1).to(
                                              sample.dtype))
        assert 0 < sample.sum().item() < sample.numel()
        res[lib] = [lib.stack(losses), sample, *net.parameters(), *net.buffers()]
    _same(res)


# --- GANs: a DCGAN step and WGAN-GP's gradient penalty (double backward through conv) ------------

def _gan(lib, norm="layer"):
    """A tiny DCGAN-shaped generator (``ConvTranspose2d`` to 1x8x8, ``tanh``) and critic
    (``Conv2d`` (a padded stride-1 one first), ``LeakyReLU(0.2)``, ``LayerNorm`` or
    ``InstanceNorm2d`` as WGAN-GP's critics use in place of batch norm, ``AvgPool2d``, a
    ``Linear`` head)."""
    nn = lib.nn
    G = nn.Sequential(nn.Linear(4, 16 * 2 * 2), nn.ReLU(), nn.Unflatten(1, (16, 2, 2)),
                      nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False), nn.BatchNorm2d(8),
                      nn.ReLU(True),
                      nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Tanh())
    normal = {"layer": lambda: nn.LayerNorm([8, 8, 8]),
              "instance": lambda: nn.InstanceNorm2d(8, affine=True),
              "none": nn.Identity}[norm]
    # no bias before a norm (its gradient is rounding noise, which Adam would amplify)
    D = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1, bias=norm == "none"), normal(),
                      nn.LeakyReLU(0.2, inplace=True),
                      nn.Conv2d(8, 16, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(16 * 2 * 2, 1))
    return G, D


def compute_gradient_penalty(lib, D, real_samples, fake_samples, alpha):
    """eriklindernoren/PyTorch-GAN's WGAN-GP penalty (its ``alpha`` drawn by the caller)."""
    interpolates = (alpha * real_samples + ((1 - alpha) * fake_samples)).requires_grad_(True)
    d_interpolates = D(interpolates)
    gradients = lib.autograd.grad(outputs=d_interpolates, inputs=interpolates,
                                  grad_outputs=lib.ones_like(d_interpolates),
                                  create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def _gan_models(norm, seed):
    torch.manual_seed(seed)
    tG, tD = _gan(torch, norm)
    zG, zD = _gan(zeroin, norm)
    with torch.no_grad():       # a trained-looking affine norm, not the identity
        for p in tD[1].parameters():
            p.add_(0.2 * torch.randn_like(p))
    return {torch: (tG, tD), zeroin: (_copy(tG, zG), _copy(tD, zD))}


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_wgan_gp_penalty_double_backward_and_training_steps(norm):
    rng = np.random.default_rng(6)
    reals = [_binary_images(rng, 6) * 2 - 1 for _ in range(4)]
    zs = [rng.normal(size=(6, 4)) for _ in range(4)]
    alphas = [rng.random((6, 1, 1, 1)) for _ in range(4)]
    models = _gan_models(norm, 6)
    res = {}
    for lib in LIBS:
        G, D = models[lib]
        opt_G = lib.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.9))
        opt_D = lib.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
        out = []
        for i in range(4):
            real, z = _t(lib, reals[i]), _t(lib, zs[i])
            opt_D.zero_grad(set_to_none=True)
            fake = G(z)
            gp = compute_gradient_penalty(lib, D, real, fake.detach(), _t(lib, alphas[i]))
            d_loss = -lib.mean(D(real)) + lib.mean(D(fake.detach())) + 10 * gp
            d_loss.backward()
            if i == 0:
                out += [gp, d_loss] + [p.grad for p in D.parameters()]
                assert all(p.grad is None for p in G.parameters())
            opt_D.step()
            if i % 2 == 1:          # n_critic = 2
                opt_G.zero_grad(set_to_none=True)
                g_loss = -lib.mean(D(G(z)))
                g_loss.backward()
                opt_G.step()
                out.append(g_loss)
        res[lib] = out + [*G.parameters(), *D.parameters(), *G.buffers()]
    _same(res)


def test_gradient_penalty_gradient_by_finite_differences():
    """The penalty's gradient in a few critic weights (the double backward through conv,
    layer norm and leaky ReLU) against central differences of zeroin's own penalty."""
    rng = np.random.default_rng(7)
    real, fake = _binary_images(rng, 4) * 2 - 1, rng.uniform(-1, 1, (4, 1, 8, 8))
    alpha = rng.random((4, 1, 1, 1))
    D = _gan_models("layer", 7)[zeroin][1]
    gp = compute_gradient_penalty(zeroin, D, _t(zeroin, real), _t(zeroin, fake),
                                  _t(zeroin, alpha))
    gp.backward()
    for p in (D[0].weight, D[1].weight, D[3].weight, D[7].weight):
        w0 = _np(p).copy()

        def f(a, p=p):
            p.data.copy_(a)
            with zeroin.enable_grad():
                return compute_gradient_penalty(zeroin, D, _t(zeroin, real), _t(zeroin, fake),
                                                _t(zeroin, alpha)).item()
        fd = _fd(f, w0, range(0, w0.size, max(1, w0.size // 5)))
        p.data.copy_(w0)
        _close(_np(p.grad).ravel()[::max(1, w0.size // 5)][:len(fd)], fd, rtol=1e-5,
               atol=1e-8)


@pytest.mark.parametrize("which", ["spectral_norm", "parametrizations"])
def test_spectral_norm_critic_with_copied_state_and_gradient_penalty(which):
    """SNGAN's critic: ``nn.utils.spectral_norm`` (or ``nn.utils.parametrizations.
    spectral_norm``) on conv and linear layers, its ``u``/``v`` copied from PyTorch; the
    power iteration in training mode, the penalty's double backward through it, a step."""
    rng = np.random.default_rng(19)
    x0 = rng.normal(size=(3, 2, 6, 6))

    def critic(lib):
        sn = (lib.nn.utils.spectral_norm if which == "spectral_norm"
              else lib.nn.utils.parametrizations.spectral_norm)
        return lib.nn.Sequential(sn(lib.nn.Conv2d(2, 4, 3, padding=1)), lib.nn.LeakyReLU(0.1),
                                 lib.nn.Flatten(), sn(lib.nn.Linear(144, 1)))
    torch.manual_seed(19)
    tD = critic(torch)
    Ds = {torch: tD, zeroin: _copy(tD, critic(zeroin))}
    res = {}
    for lib in LIBS:
        D = Ds[lib]
        opt = lib.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
        x = _t(lib, x0, grad=True)
        d = D(x)
        g = lib.autograd.grad(d, x, lib.ones_like(d), create_graph=True)[0]
        gp = ((g.view(3, -1).norm(2, dim=1) - 1) ** 2).mean()
        (gp - d.mean()).backward()
        grads = [p.grad.clone() for p in D.parameters()]
        opt.step()
        res[lib] = [d, gp, *grads, *D.parameters(), *D.buffers(), D(x)]
    _same(res)


def test_dcgan_step_bce_with_logits_detach_two_optimisers():
    rng = np.random.default_rng(8)
    real0, z0 = _binary_images(rng, 6) * 2 - 1, rng.normal(size=(6, 4))
    models = _gan_models("none", 8)
    res = {}
    for lib in LIBS:
        G, D = models[lib]
        criterion = lib.nn.BCEWithLogitsLoss()
        opt_D = lib.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        opt_G = lib.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        real, z = _t(lib, real0), _t(lib, z0)
        out = []
        for _ in range(2):
            D.zero_grad(set_to_none=True)
            fake = G(z)
            label = lib.full((6, 1), 1.0)
            err_real = criterion(D(real), label)
            err_real.backward()
            label.fill_(0.0)
            err_fake = criterion(D(fake.detach()), label)
            err_fake.backward()
            opt_D.step()
            G.zero_grad(set_to_none=True)
            label.fill_(1.0)
            err_G = criterion(D(fake), label)
            err_G.backward()
            opt_G.step()
            out += [err_real, err_fake, err_G]
        res[lib] = out + [*G.parameters(), *D.parameters(), *G.buffers()]
    _same(res)


# --- energy-based models and score matching ---------------------------------------------------

def _energy_net(lib, act="silu"):
    nn = lib.nn
    A = {"silu": nn.SiLU, "softplus": nn.Softplus, "elu": nn.ELU}[act]
    return nn.Sequential(nn.Linear(2, 16), A(), nn.Linear(16, 16), A(), nn.Linear(16, 1))


def _mixture(rng, n):
    """A mixture of 4 Gaussians in 2-D."""
    centers = np.array([[1.5, 0], [-1.5, 0], [0, 1.5], [0, -1.5]])
    return centers[rng.integers(0, 4, n)] + 0.2 * rng.normal(size=(n, 2))


def langevin(lib, model, x, noises, step_size=0.01):
    """Unadjusted Langevin dynamics on the energy: ``x.requires_grad_()``,
    ``torch.autograd.grad(energy.sum(), x)``, ``x = x - step * grad + noise``."""
    x = x.clone().detach()
    for noise in noises:
        x.requires_grad_()
        energy = model(x)
        grad = lib.autograd.grad(energy.sum(), x)[0]
        x = (x - step_size * grad + np.sqrt(2 * step_size) * _t(lib, noise)).detach()
    return x


def test_ebm_langevin_sampling_and_contrastive_divergence_steps():
    rng = np.random.default_rng(9)
    batches = [_mixture(rng, 16) for _ in range(3)]
    starts = [rng.uniform(-2, 2, (16, 2)) for _ in range(3)]
    noises = [rng.normal(size=(5, 16, 2)) for _ in range(3)]
    torch.manual_seed(9)
    tnet = _energy_net(torch)
    nets = {torch: tnet, zeroin: _copy(tnet, _energy_net(zeroin))}
    res = {}
    for lib in LIBS:
        net = nets[lib]
        opt = lib.optim.Adam(net.parameters(), lr=1e-3)
        out = []
        for pos, start, noise in zip(batches, starts, noises):
            neg = langevin(lib, net, _t(lib, start), noise)
            assert not neg.requires_grad
            e_pos, e_neg = net(_t(lib, pos)), net(neg)
            loss = e_pos.mean() - e_neg.mean() + 0.1 * (e_pos ** 2 + e_neg ** 2).mean()
            opt.zero_grad()
            loss.backward()
            out += [neg, loss] + [p.grad.clone() for p in net.parameters()]
            opt.step()
        res[lib] = out + list(net.parameters())
    _same(res)


def test_uvadl_style_sampler_with_data_and_grad_in_place():
    """The UvA DL tutorial 8 sampler: parameters frozen with ``requires_grad = False``,
    ``inp.requires_grad = True``, ``noise.normal_`` replaced by given noise added with
    ``inp.data.add_(noise.data)``, ``(-model(inp)).sum().backward()``,
    ``inp.grad.data.clamp_(-0.03, 0.03)``, ``inp.data.add_(-step * inp.grad.data)``,
    ``inp.grad.detach_(); inp.grad.zero_()``, ``inp.data.clamp_(min=-1.0, max=1.0)``."""
    rng = np.random.default_rng(10)
    start, noises = rng.uniform(-1, 1, (8, 2)), 0.005 * rng.normal(size=(6, 8, 2))
    torch.manual_seed(10)
    tnet = _energy_net(torch, "elu")
    nets = {torch: tnet, zeroin: _copy(tnet, _energy_net(zeroin, "elu"))}
    res = {}
    for lib in LIBS:
        model = nets[lib]
        is_training = model.training
        model.eval()
        for p in model.parameters():
            p.requires_grad = False
        inp = _t(lib, start)
        inp.requires_grad = True
        had_gradients_enabled = lib.is_grad_enabled()
        lib.set_grad_enabled(True)
        for noise in noises:
            inp.data.add_(_t(lib, noise).data)
            inp.data.clamp_(min=-1.0, max=1.0)
            out = -model(inp)
            out.sum().backward()
            inp.grad.data.clamp_(-0.03, 0.03)
            inp.data.add_(-10 * inp.grad.data)
            inp.grad.detach_()
            inp.grad.zero_()
            inp.data.clamp_(min=-1.0, max=1.0)
        for p in model.parameters():
            p.requires_grad = True
        model.train(is_training)
        lib.set_grad_enabled(had_gradients_enabled)
        assert all(p.grad is None for p in model.parameters())
        res[lib] = [inp]
    _same(res)


def test_denoising_score_matching_steps():
    """Denoising score matching (Vincent; Song's NCSN loss at one sigma):
    ``((score(x + sigma * eps) + eps / sigma) ** 2).sum(dim=1).mean() / 2``."""
    rng = np.random.default_rng(11)
    data = [_mixture(rng, 16) for _ in range(3)]
    eps = [rng.normal(size=(16, 2)) for _ in range(3)]
    torch.manual_seed(11)

    def score_net(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(2, 16), nn.Softplus(), nn.Linear(16, 16), nn.Softplus(),
                             nn.Linear(16, 2))
    tnet = score_net(torch)
    nets = {torch: tnet, zeroin: _copy(tnet, score_net(zeroin))}
    res = {}
    for lib in LIBS:
        net, sigma = nets[lib], 0.3
        opt = lib.optim.Adam(net.parameters(), lr=1e-3)
        losses = []
        for x, e in zip(data, eps):
            x, e = _t(lib, x), _t(lib, e)
            perturbed = x + sigma * e
            target = -(perturbed - x) / sigma ** 2
            loss = 0.5 * ((net(perturbed) - target) ** 2).sum(dim=-1).mean() * sigma ** 2
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss)
        res[lib] = [lib.stack(losses), *net.parameters()]
    _same(res)


def sliced_score_matching(lib, energy_net, samples, vectors):
    """Song et al.'s sliced score matching on an energy model (``ssm_loss`` of
    ermongroup/sliced_score_matching): the score by one ``grad`` with ``create_graph``, the
    Hessian-vector product by a second, and the loss's ``backward()`` a third-order pass."""
    samples = samples.requires_grad_(True)
    logp = -energy_net(samples).sum()
    grad1 = lib.autograd.grad(logp, samples, create_graph=True)[0]
    gradv = lib.sum(grad1 * vectors)
    loss1 = lib.sum(grad1 * vectors, dim=-1) ** 2 * 0.5
    grad2 = lib.autograd.grad(gradv, samples, create_graph=True)[0]
    loss2 = lib.sum(vectors * grad2, dim=-1)
    return (loss1 + loss2).mean()


@pytest.mark.parametrize("act", ["silu", "softplus", "elu"])
def test_sliced_score_matching_hvp_third_order_and_steps(act):
    rng = np.random.default_rng(12)
    data = [_mixture(rng, 12) for _ in range(3)]
    vs = [rng.normal(size=(12, 2)) for _ in range(3)]
    torch.manual_seed(12)
    tnet = _energy_net(torch, act)
    nets = {torch: tnet, zeroin: _copy(tnet, _energy_net(zeroin, act))}
    res = {}
    for lib in LIBS:
        net = nets[lib]
        opt = lib.optim.Adam(net.parameters(), lr=1e-3)
        out = []
        for i, (x, v) in enumerate(zip(data, vs)):
            loss = sliced_score_matching(lib, net, _t(lib, x), _t(lib, v))
            opt.zero_grad()
            loss.backward()
            if i == 0:      # the energy's last bias leaves the score alone: no gradient
                assert net[4].bias.grad is None
                out += [loss] + [p.grad.clone() for p in list(net.parameters())[:-1]]
            opt.step()
            out.append(loss)
        res[lib] = out + list(net.parameters())
    _same(res)


def test_sliced_score_matching_gradient_by_finite_differences():
    rng = np.random.default_rng(13)
    x0, v0 = _mixture(rng, 6), rng.normal(size=(6, 2))
    net = _energy_net(zeroin, "softplus")
    loss = sliced_score_matching(zeroin, net, _t(zeroin, x0), _t(zeroin, v0))
    loss.backward()
    for p in (net[0].weight, net[2].bias, net[4].weight):
        w0 = _np(p).copy()

        def f(a, p=p):
            p.data.copy_(a)
            with zeroin.enable_grad():
                return sliced_score_matching(zeroin, net, _t(zeroin, x0), _t(zeroin, v0)).item()
        idx = range(min(6, w0.size))
        fd = _fd(f, w0, idx)
        p.data.copy_(w0)
        _close(_np(p.grad).ravel()[:len(fd)], fd, rtol=1e-5, atol=1e-8)


# --- VAEs: CS236's utilities, the IWAE bound, torch.distributions ---------------------------------

def _cs236_utils(lib):
    """CS236 HW2's ``utils.py`` helpers, as the homework writes them."""
    F = lib.nn.functional
    bce = lib.nn.BCEWithLogitsLoss(reduction="none")

    def gaussian_parameters(h, dim=-1):
        m, h = lib.split(h, h.size(dim) // 2, dim=dim)
        v = F.softplus(h) + 1e-8
        return m, v

    def sample_gaussian(m, v, eps):
        return m + eps * lib.sqrt(v)

    def log_normal(x, m, v):
        return (-0.5 * (lib.log(2 * np.pi * v) + (x - m) ** 2 / v)).sum(-1)

    def kl_normal(qm, qv, pm, pv):
        element_wise = 0.5 * (lib.log(pv) - lib.log(qv) + qv / pv + (qm - pm).pow(2) / pv - 1)
        return element_wise.sum(-1)

    def log_bernoulli_with_logits(x, logits):
        return -bce(input=logits, target=x).sum(-1)

    def duplicate(x, rep):
        return x.expand(rep, *x.shape).reshape(-1, *x.shape[1:])

    def log_sum_exp(x, dim=0):
        max_x = lib.max(x, dim)[0]
        new_x = x - max_x.unsqueeze(dim).expand_as(x)
        return max_x + (new_x.exp().sum(dim)).log()

    def log_mean_exp(x, dim):
        return log_sum_exp(x, dim) - np.log(x.size(dim))

    return {"gaussian_parameters": gaussian_parameters, "sample_gaussian": sample_gaussian,
            "log_normal": log_normal, "kl_normal": kl_normal, "duplicate": duplicate,
            "log_bernoulli_with_logits": log_bernoulli_with_logits,
            "log_mean_exp": log_mean_exp}


def _vae_nets(lib, x_dim=64, z_dim=3, h=24):
    nn = lib.nn
    enc = nn.Sequential(nn.Linear(x_dim, h), nn.ELU(), nn.Linear(h, 2 * z_dim))
    dec = nn.Sequential(nn.Linear(z_dim, h), nn.ELU(), nn.Linear(h, x_dim))
    return nn.ModuleDict({"enc": enc, "dec": dec})


def _vae_bounds(lib, vae, x, eps, iw):
    """CS236's ``negative_elbo_bound`` and ``negative_iwae_bound`` (log-mean-exp by hand and
    by ``torch.logsumexp``), plus the textbook VAE loss (``mu + torch.exp(0.5 * logvar) *
    eps``, ``F.binary_cross_entropy_with_logits(..., reduction="sum")``, the analytic KL)."""
    u, F = _cs236_utils(lib), lib.nn.functional
    m, v = u["gaussian_parameters"](vae["enc"](x))
    pm, pv = lib.zeros_like(m), lib.ones_like(v)
    z = u["sample_gaussian"](m, v, eps[:x.shape[0]])
    rec = -u["log_bernoulli_with_logits"](x, vae["dec"](z))
    kl = u["kl_normal"](m, v, pm, pv)
    nelbo = (rec + kl).mean()
    m_rep, v_rep, x_rep = (u["duplicate"](t, iw) for t in (m, v, x))
    z = u["sample_gaussian"](m_rep, v_rep, eps)
    log_w = (u["log_bernoulli_with_logits"](x_rep, vae["dec"](z))
             + u["log_normal"](z, pm[:1], pv[:1])
             - u["log_normal"](z, m_rep, v_rep)).reshape(iw, -1)
    niwae = -u["log_mean_exp"](log_w, 0).mean()
    niwae2 = -(lib.logsumexp(log_w, dim=0) - np.log(iw)).mean()
    mu, logvar = vae["enc"](x).chunk(2, dim=1)
    z = mu + lib.exp(0.5 * logvar) * eps[:x.shape[0]]
    bce = F.binary_cross_entropy_with_logits(vae["dec"](z), x, reduction="sum")
    kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return nelbo, niwae, niwae2, (bce + kld) / x.shape[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_vae_elbo_iwae_bounds_gradients_and_steps(dtype, f32):
    if dtype == "float64":
        zeroin.set_default_dtype(zeroin.float64)
    torch.set_default_dtype(getattr(torch, dtype))
    tol = 1e-10 if dtype == "float64" else 1e-5
    rng = np.random.default_rng(14)
    data = [_binary_images(rng, 8).reshape(8, 64) for _ in range(3)]
    iw = 5
    eps = [rng.normal(size=(iw * 8, 3)) for _ in range(3)]
    torch.manual_seed(14)
    tvae = _vae_nets(torch)
    vaes = {torch: tvae, zeroin: _copy(tvae, _vae_nets(zeroin))}
    res = {}
    for lib in LIBS:
        vae = vaes[lib]
        cast = (lambda a, lib=lib: _t(lib, a).to(getattr(lib, dtype)))
        bounds = _vae_bounds(lib, vae, cast(data[0]), cast(eps[0]), iw)
        grads = []
        for b in bounds:
            grads += lib.autograd.grad(b, list(vae.parameters()), retain_graph=True)
        opt = lib.optim.Adam(vae.parameters(), lr=1e-3)
        losses = []
        for x, e in zip(data, eps):
            niwae = _vae_bounds(lib, vae, cast(x), cast(e), iw)[1]
            opt.zero_grad()
            niwae.backward()
            opt.step()
            losses.append(niwae)
        assert bounds[0].dtype == getattr(lib, dtype)
        res[lib] = [*bounds, *grads, lib.stack(losses), *vae.parameters()]
    _same(res, tol)
    nelbo, niwae, niwae2, _ = (b.item() for b in res[zeroin][:4])
    assert niwae <= nelbo + 1e-6 and abs(niwae - niwae2) < 10 * tol     # IWAE is tighter


def test_vae_with_torch_distributions_gaussian_decoder_rsample_and_kl():
    """The ``torch.distributions`` way: ``Independent(Normal(mu, std), 1)`` posterior,
    ``rsample()`` (on the torch stream, so the noise is PyTorch's), ``kl_divergence``
    against the ``Normal(0, 1)`` prior, a Gaussian decoder with a learned log-std on two
    moons, and the same with ``Bernoulli(logits=...)`` on binary images; the analytic KL
    checked against ``kl_divergence``."""
    from _audit import torch_stream
    torch_stream()
    rng = np.random.default_rng(15)
    moons = _moons(rng, 16)
    imgs = _binary_images(rng, 4).reshape(4, 64)
    res = {}
    torch.manual_seed(15)
    tnets = (_vae_nets(torch, 2, 2, 16), _vae_nets(torch, 64, 3, 16), torch.nn.Parameter(
        torch.zeros(2)))
    znets = (_copy(tnets[0], _vae_nets(zeroin, 2, 2, 16)),
             _copy(tnets[1], _vae_nets(zeroin, 64, 3, 16)), zeroin.nn.Parameter(zeroin.zeros(2)))
    for lib, (gauss, bern, log_sigma) in ((torch, tnets), (zeroin, znets)):
        D = lib.distributions
        lib.manual_seed(0)
        out = []
        for vae, x, kind in ((gauss, _t(lib, moons), "gauss"), (bern, _t(lib, imgs), "bern")):
            mu, logvar = vae["enc"](x).chunk(2, dim=-1)
            q = D.Independent(D.Normal(mu, lib.exp(0.5 * logvar)), 1)
            prior = D.Independent(D.Normal(lib.zeros_like(mu), lib.ones_like(mu)), 1)
            z = q.rsample()
            zs = q.rsample((3,))
            if kind == "gauss":
                px = D.Independent(D.Normal(vae["dec"](z), log_sigma.exp()), 1)
            else:
                px = D.Independent(D.Bernoulli(logits=vae["dec"](z)), 1)
            kl = D.kl_divergence(q, prior)
            _close(kl, -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1), 1e-12)
            elbo = px.log_prob(x) - kl
            mc_kl = q.log_prob(zs) - prior.log_prob(zs)
            loss = -elbo.mean() + 0.1 * mc_kl.mean()
            loss.backward()
            out += [z, zs, kl, elbo, mc_kl, loss, q.entropy(), q.mean, q.stddev,
                    *[p.grad for p in vae.parameters()]]
        res[lib] = out + [log_sigma.grad]
    _same(res)


# --- planar flows, MAF, a continuous flow's trace -------------------------------------------

def _planar(lib):
    """Rezende & Mohamed's planar flow with the invertibility fix of ``u`` (as the
    normalizing-flow tutorials write it)."""
    nn, F = lib.nn, lib.nn.functional

    class PlanarFlow(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.u = nn.Parameter(lib.randn(1, dim) * 0.5)
            self.w = nn.Parameter(lib.randn(1, dim) * 0.5)
            self.b = nn.Parameter(lib.randn(1) * 0.5)

        def forward(self, z):
            wu = (self.w * self.u).sum()
            u_hat = self.u + (-1 + F.softplus(wu) - wu) * self.w / (self.w ** 2).sum()
            lin = z @ self.w.t() + self.b
            f = z + u_hat * lib.tanh(lin)
            psi = (1 - lib.tanh(lin) ** 2) * self.w
            logdet = lib.log(lib.abs(1 + psi @ u_hat.t()) + 1e-8).squeeze(1)
            return f, logdet

    return PlanarFlow


def _u1(lib, z):
    """Rezende & Mohamed's test energy U1 (a ring split in two)."""
    z1 = z[:, 0]
    r = lib.norm(z, dim=1)
    return (0.5 * ((r - 2) / 0.4) ** 2
            - lib.log(lib.exp(-0.5 * ((z1 - 2) / 0.6) ** 2)
                      + lib.exp(-0.5 * ((z1 + 2) / 0.6) ** 2)))


def test_planar_flows_reverse_kl_to_an_energy():
    rng = np.random.default_rng(16)
    z0s = [rng.normal(size=(32, 2)) for _ in range(3)]
    torch.manual_seed(16)
    tflows = torch.nn.ModuleList([_planar(torch)(2) for _ in range(4)])
    flows = {torch: tflows,
             zeroin: _copy(tflows, zeroin.nn.ModuleList([_planar(zeroin)(2) for _ in range(4)]))}
    res = {}
    for lib in LIBS:
        base = lib.distributions.Normal(0.0, 1.0)
        opt = lib.optim.RMSprop(flows[lib].parameters(), lr=1e-3, momentum=0.9)
        out = []
        for z0 in z0s:
            z = _t(lib, z0)
            log_q = base.log_prob(z).sum(1)
            for flow in flows[lib]:
                z, logdet = flow(z)
                log_q = log_q - logdet
            loss = (log_q + _u1(lib, z)).mean()
            opt.zero_grad()
            loss.backward()
            out += [z, log_q, loss] + [p.grad.clone() for p in flows[lib].parameters()]
            opt.step()
        res[lib] = out + list(flows[lib].parameters())
    _same(res)


def test_maf_gaussian_made_density_and_inverse_sampling():
    """A masked autoregressive flow layer (MAF) on 3-D data: karpathy's MADE with ``nout =
    2 * nin`` (its masks repeated) gives ``mu, alpha = made(x).chunk(2, dim=1)``;
    ``u = (x - mu) * torch.exp(-alpha)``, log-det ``-alpha.sum(1)`` (the Jacobian is
    triangular and its log-determinant that sum), the ``Normal(0, 1)`` base, sampling by
    the inverse one dimension at a time (which gives back the noise)."""
    rng = np.random.default_rng(17)
    x0 = _moons(rng, 16)
    x0 = np.concatenate([x0, 0.5 * x0[:, :1] + 0.1 * rng.normal(size=(16, 1))], 1)
    u0 = rng.normal(size=(4, 3))
    torch.manual_seed(17)
    tmade = _made(torch)(3, [16, 16], 6, order=np.arange(3))
    mades = {torch: tmade, zeroin: _copy(tmade, _made(zeroin)(3, [16, 16], 6,
                                                              order=np.arange(3)))}
    res = {}
    for lib in LIBS:
        made = mades[lib]

        def to_noise(x, made=made, lib=lib):
            mu, alpha = made(x).chunk(2, dim=1)
            return (x - mu) * lib.exp(-alpha), -alpha.sum(1)
        x = _t(lib, x0, grad=True)
        u, log_det = to_noise(x)
        log_p = lib.distributions.Normal(0.0, 1.0).log_prob(u).sum(1) + log_det
        (-log_p.mean()).backward()
        J = lib.autograd.functional.jacobian(lambda v, f=to_noise: f(v[None])[0][0],
                                             x.detach()[0])
        assert np.allclose(np.triu(_np(J), 1), 0) and not np.allclose(np.tril(_np(J), -1), 0)
        _close(lib.log(lib.abs(lib.diagonal(J))).sum(), log_det[0], 1e-12)
        with lib.no_grad():
            xs = lib.zeros(4, 3)
            uu = _t(lib, u0)
            for i in range(3):
                mu, alpha = made(xs).chunk(2, dim=1)
                xs[:, i] = mu[:, i] + uu[:, i] * lib.exp(alpha[:, i])
            _close(to_noise(xs)[0], u0, 1e-12)
        res[lib] = [u, log_p, x.grad, xs, *[p.grad for p in made.parameters()]]
    _same(res)


def test_continuous_flow_trace_exact_and_hutchinson():
    """FFJORD's divergence of the dynamics ``f``: exact (one ``grad`` a dimension, with
    ``create_graph``) and Hutchinson's ``e^T (df/dx) e`` with a given ``e``; a few Euler
    steps of ``d log p = -tr(df/dx) dt`` and the loss's backward through them."""
    rng = np.random.default_rng(18)
    x0, e0 = _moons(rng, 12), rng.normal(size=(12, 2))
    torch.manual_seed(18)

    def odefunc(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Softplus(),
                             nn.Linear(16, 2))
    tf = odefunc(torch)
    fs = {torch: tf, zeroin: _copy(tf, odefunc(zeroin))}
    res = {}
    for lib in LIBS:
        f, e = fs[lib], _t(lib, e0)
        z = _t(lib, x0)
        delta_logp_exact = delta_logp_hutch = lib.zeros(12)
        for _ in range(3):
            z = z.requires_grad_(True) if not z.requires_grad else z
            dz = f(z)
            exact = sum(lib.autograd.grad(dz[:, i].sum(), z, create_graph=True)[0][:, i]
                        for i in range(2))
            e_dzdx = lib.autograd.grad(dz, z, e, create_graph=True)[0]
            hutch = (e_dzdx * e).sum(1)
            delta_logp_exact = delta_logp_exact - 0.1 * exact
            delta_logp_hutch = delta_logp_hutch - 0.1 * hutch
            z = z + 0.1 * dz
        logp_x = lib.distributions.Normal(0.0, 1.0).log_prob(z).sum(1) - delta_logp_exact
        loss = -logp_x.mean() + 0.01 * (delta_logp_hutch ** 2).mean()
        loss.backward()
        res[lib] = [z, delta_logp_exact, delta_logp_hutch, loss, *[p.grad for p in f.parameters()]]
    _same(res)


def test_residual_flow_log_det_exact_by_vmap_jacrev_and_by_power_series():
    """An invertible residual block ``x + g(x)`` (i-ResNet): the exact log-det by
    ``torch.linalg.slogdet(torch.func.vmap(torch.func.jacrev(block))(x))`` and the
    i-ResNet power series with Hutchinson's vector (vector-Jacobian products with
    ``create_graph=True``), each backpropagated to the weights."""
    rng = np.random.default_rng(20)
    x0, v0 = _moons(rng, 6), rng.normal(size=(6, 2))
    torch.manual_seed(20)

    def g_net(lib):
        nn = lib.nn
        return nn.Sequential(nn.Linear(2, 8), nn.ELU(), nn.Linear(8, 2))
    tg = g_net(torch)
    gs = {torch: tg, zeroin: _copy(tg, g_net(zeroin))}
    res = {}
    for lib in LIBS:
        g_net_ = gs[lib]
        J = lib.func.vmap(lib.func.jacrev(lambda x, g=g_net_: x + 0.3 * g(x)))(_t(lib, x0))
        exact = lib.linalg.slogdet(J)[1]
        exact.sum().backward()
        assert g_net_[2].bias.grad is None          # the Jacobian does not see the last bias
        grads = [p.grad.clone() for p in list(g_net_.parameters())[:-1]]
        g_net_.zero_grad()
        x, v = _t(lib, x0, grad=True), _t(lib, v0)
        g = 0.3 * g_net_(x)
        w, series = v, 0
        for k in range(1, 8):
            w = lib.autograd.grad(g, x, w, retain_graph=True, create_graph=True)[0]
            series = series + (-1) ** (k + 1) * (w * v).sum(1) / k
        loss = -(lib.distributions.Normal(0.0, 1.0).log_prob(x + g).sum(1) + series).mean()
        loss.backward()
        res[lib] = [J, exact, *grads, series, loss, x.grad,
                    *[p.grad for p in g_net_.parameters()]]
    _same(res)


def test_cs236_gmvae_mixture_prior_and_nonsaturating_gan_losses():
    """CS236 HW2's GMVAE (a learned mixture-of-Gaussians prior ``nn.Parameter(torch.randn(1,
    2 * k, z_dim) / np.sqrt(k * z_dim))``, ``gaussian_parameters(..., dim=1)``,
    ``expand``, ``log_normal_mixture`` with ``unsqueeze(1)`` and ``log_mean_exp``, the
    Monte-Carlo KL) and HW3's non-saturating GAN losses with ``F.logsigmoid``."""
    rng = np.random.default_rng(21)
    x0, eps0 = _binary_images(rng, 6).reshape(6, 64), rng.normal(size=(6, 3))
    k = 4
    torch.manual_seed(21)
    tvae = _vae_nets(torch)
    tprior = torch.nn.Parameter(torch.randn(1, 2 * k, 3) / np.sqrt(k * 3))
    models = {torch: (tvae, tprior),
              zeroin: (_copy(tvae, _vae_nets(zeroin)),
                       zeroin.nn.Parameter(_t(zeroin, _np(tprior))))}
    res = {}
    for lib in LIBS:
        vae, z_pre = models[lib]
        u, F = _cs236_utils(lib), lib.nn.functional

        def log_normal_mixture(z, m, v, u=u):
            return u["log_mean_exp"](u["log_normal"](z.unsqueeze(1), m, v), 1)
        x = _t(lib, x0)
        prior = u["gaussian_parameters"](z_pre, dim=1)
        m, v = u["gaussian_parameters"](vae["enc"](x))
        z = u["sample_gaussian"](m, v, _t(lib, eps0))
        pm = prior[0].expand(x.shape[0], *prior[0].shape[1:])
        pv = prior[1].expand(x.shape[0], *prior[1].shape[1:])
        kl = u["log_normal"](z, m, v) - log_normal_mixture(z, pm, pv)
        rec = -u["log_bernoulli_with_logits"](x, vae["dec"](z))
        nelbo = (kl + rec).mean()
        nelbo.backward(retain_graph=True)
        d_real, d_fake = vae["dec"](z.detach())[:, :1], vae["dec"](-z)[:, :1]
        d_loss = -F.logsigmoid(d_real).mean() - F.logsigmoid(-d_fake).mean()
        g_loss = -F.logsigmoid(d_fake).mean()
        gd = lib.autograd.grad(d_loss, list(vae["dec"].parameters()), retain_graph=True)
        gg = lib.autograd.grad(g_loss, list(vae["enc"].parameters()))
        res[lib] = [kl, rec, nelbo, z_pre.grad, *[p.grad for p in vae.parameters()],
                    d_loss, g_loss, *gd, *gg]
    _same(res)


def _old_optimisers(lib):
    """Optimisers written as PyTorch 1.0's ``adam.py`` and the SGLD samplers of EBM / Bayesian
    repos wrote them, with the deprecated number-first overloads (``add_(1 - beta1, grad)``,
    ``addcmul_(1 - beta2, grad, grad)``, ``p.data.addcdiv_(-step_size, exp_avg, denom)``,
    ``p.data.add_(-lr, d_p)``); ExtraAdam-style GAN code subclasses such an Adam."""
    import math

    class OldAdam(lib.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = 0
                        state["exp_avg"] = lib.zeros_like(p.data)
                        state["exp_avg_sq"] = lib.zeros_like(p.data)
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    beta1, beta2 = group["betas"]
                    state["step"] += 1
                    exp_avg.mul_(beta1).add_(1 - beta1, grad)
                    exp_avg_sq.mul_(beta2).addcmul_(1 - beta2, grad, grad)
                    denom = exp_avg_sq.sqrt().add_(group["eps"])
                    bias_correction1 = 1 - beta1 ** state["step"]
                    bias_correction2 = 1 - beta2 ** state["step"]
                    step_size = group["lr"] * math.sqrt(bias_correction2) / bias_correction1
                    p.data.addcdiv_(-step_size, exp_avg, denom)

    class SGLD(lib.optim.Optimizer):
        def __init__(self, params, lr=1e-2):
            super().__init__(params, {"lr": lr})

        def step(self, noises):
            for group in self.param_groups:
                for p, noise in zip(group["params"], noises):
                    p.data.add_(-group["lr"], p.grad.data)
                    p.data.add_(math.sqrt(2 * group["lr"]), noise)

    return OldAdam, SGLD


def test_pre_1_5_style_adam_and_sgld_with_the_deprecated_overloads():
    rng = np.random.default_rng(22)
    batches = [_mixture(rng, 16) for _ in range(3)]
    noise = [[rng.normal(size=s) for s in ((16, 2), (16,), (16, 16), (16,), (1, 16), (1,))]
             for _ in range(3)]
    torch.manual_seed(22)
    tnet, tnet2 = _energy_net(torch), _energy_net(torch)
    nets = {torch: (tnet, tnet2),
            zeroin: (_copy(tnet, _energy_net(zeroin)), _copy(tnet2, _energy_net(zeroin)))}
    res = {}
    for lib in LIBS:
        OldAdam, SGLD = _old_optimisers(lib)
        net, net2 = nets[lib]
        adam, sgld = OldAdam(net.parameters(), lr=1e-2), SGLD(net2.parameters(), lr=1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # PyTorch's deprecation warnings
            for x, n in zip(batches, noise):
                for model, opt in ((net, adam), (net2, sgld)):
                    opt.zero_grad()
                    e = model(_t(lib, x))
                    (e.mean() + 0.1 * (e ** 2).mean()).backward()
                    opt.step(*([[_t(lib, a) for a in n]] if opt is sgld else []))
        res[lib] = [*net.parameters(), *net2.parameters()]
    _same(res)


@pytest.mark.parametrize("style", ["data.new", "FloatTensor"])
def test_the_old_vae_examples_reparameterize(style):
    """PyTorch 0.3's VAE example: ``std = logvar.mul(0.5).exp_()``,
    ``eps = Variable(std.data.new(std.size()).normal_())`` (or the older
    ``torch.FloatTensor(std.size()).normal_()``), ``eps.mul(std).add_(mu)``, and its
    ``KLD``; on the torch stream, so ``normal_`` draws PyTorch's numbers."""
    from _audit import torch_stream
    torch_stream()
    rng = np.random.default_rng(23)
    l0, m0 = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    res = {}
    for lib in LIBS:
        Variable = lib.autograd.Variable
        logvar, mu = _t(lib, l0, grad=True), _t(lib, m0, grad=True)
        lib.manual_seed(0)
        std = logvar.mul(0.5).exp_()
        if style == "data.new":
            eps = Variable(std.data.new(std.size()).normal_())
        else:
            eps = Variable(lib.FloatTensor(std.size()).normal_())
        z = eps.mul(std).add_(mu)
        KLD = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        (z.pow(2).sum() + KLD).backward()
        res[lib] = [eps, z, KLD, logvar.grad, mu.grad]
    _same(res)


def _searchsorted(lib, bin_locations, inputs, eps=1e-6):
    bin_locations[..., -1] += eps
    return lib.sum(inputs[..., None] >= bin_locations, dim=-1) - 1
def _rq_spline(lib, inputs, uw, uh, ud, min_w=1e-3, min_h=1e-3, min_d=1e-3):
    """nflows' ``rational_quadratic_spline`` on [0, 1] (no tails), as it is written."""
    F = lib.nn.functional
    left, right, bottom, top = 0.0, 1.0, 0.0, 1.0
    num_bins = uw.shape[-1]
    widths = F.softmax(uw, dim=-1)
    widths = min_w + (1 - min_w * num_bins) * widths
    cumwidths = lib.cumsum(widths, dim=-1)
    cumwidths = F.pad(cumwidths, pad=(1, 0), mode="constant", value=0.0)
    cumwidths = (right - left) * cumwidths + left
    cumwidths[..., 0] = left
    cumwidths[..., -1] = right
    widths = cumwidths[..., 1:] - cumwidths[..., :-1]
    derivatives = min_d + F.softplus(ud)
    heights = F.softmax(uh, dim=-1)
    heights = min_h + (1 - min_h * num_bins) * heights
    cumheights = lib.cumsum(heights, dim=-1)
    cumheights = F.pad(cumheights, pad=(1, 0), mode="constant", value=0.0)
    cumheights = (top - bottom) * cumheights + bottom
    cumheights[..., 0] = bottom
    cumheights[..., -1] = top
    heights = cumheights[..., 1:] - cumheights[..., :-1]
    bin_idx = _searchsorted(lib, cumwidths.detach().clone(), inputs)[..., None]
    input_cumwidths = cumwidths.gather(-1, bin_idx)[..., 0]
    input_bin_widths = widths.gather(-1, bin_idx)[..., 0]
    input_cumheights = cumheights.gather(-1, bin_idx)[..., 0]
    delta = heights / widths
    input_delta = delta.gather(-1, bin_idx)[..., 0]
    input_derivatives = derivatives.gather(-1, bin_idx)[..., 0]
    input_derivatives_plus_one = derivatives[..., 1:].gather(-1, bin_idx)[..., 0]
    input_heights = heights.gather(-1, bin_idx)[..., 0]
    theta = (inputs - input_cumwidths) / input_bin_widths
    theta_one_minus_theta = theta * (1 - theta)
    numerator = input_heights * (input_delta * theta.pow(2)
                                 + input_derivatives * theta_one_minus_theta)
    denominator = input_delta + ((input_derivatives + input_derivatives_plus_one
                                  - 2 * input_delta) * theta_one_minus_theta)
    outputs = input_cumheights + numerator / denominator
    derivative_numerator = input_delta.pow(2) * (input_derivatives_plus_one * theta.pow(2)
                                                 + 2 * input_delta * theta_one_minus_theta
                                                 + input_derivatives * (1 - theta).pow(2))
    logabsdet = lib.log(derivative_numerator) - 2 * lib.log(denominator)
    return outputs, logabsdet


def test_neural_spline_flow_rational_quadratic_transform():
    """nflows' rational-quadratic spline (Durkan et al.): ``F.softmax`` widths and heights,
    ``torch.cumsum``, ``F.pad(..., pad=(1, 0), mode="constant", value=0.0)``, in-place
    ``cumwidths[..., 0] = left`` on a recorded tensor, the bin search by comparison,
    ``gather``; values, log-determinants and gradients, and log dy/dx (from a
    ``create_graph`` gradient) equal to the log-determinant."""
    rng = np.random.default_rng(24)
    x0 = rng.uniform(0.01, 0.99, (6,))
    uw0, uh0, ud0 = rng.normal(size=(6, 5)), rng.normal(size=(6, 5)), rng.normal(size=(6, 6))
    res = {}
    for lib in LIBS:
        x = _t(lib, x0, grad=True)
        uw, uh, ud = (_t(lib, a, grad=True) for a in (uw0, uh0, ud0))
        y, lad = _rq_spline(lib, x, uw, uh, ud)
        (y.sum() + lad.sum()).backward()
        dydx = lib.autograd.grad(_rq_spline(lib, x, uw, uh, ud)[0].sum(), x,
                                 create_graph=True)[0]
        _close(lib.log(dydx), lad, 1e-12)
        res[lib] = [y, lad, x.grad, uw.grad, uh.grad, ud.grad, dydx]
    _same(res)
