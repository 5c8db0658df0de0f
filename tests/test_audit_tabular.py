"""Audit of tabular deep learning written from scratch as blog posts and repositories write
it (entity embeddings / a hand-written fastai ``TabularModel``, Wide & Deep with an
``EmbeddingBag`` wide part, DCN v2's cross layers, TabNet's sparsemax / entmax15, ghost batch
norm, GLU blocks and prior, the FT-Transformer's feature tokenizer and ``[CLS]`` token, the
TabTransformer and SAINT's intersample attention, pinball / focal / class-weighted losses,
samplers, early stopping and ranking metrics), run with ``torch`` and with ``zeroin``
(``import zeroin as torch``, ``from zeroin import nn``, ``F``) on the same synthetic data and
weights copied from torch: outputs, losses, gradients and optimiser steps compared, float64
to 1e-10 and float32 to float resolution. See docs/tabular.md."""
import copy
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


def _table(n=48, seed=0):
    """Three categorical columns (codes 0..card-1), four numeric ones and a binary target."""
    rng = np.random.default_rng(seed)
    cards = [4, 6, 3]
    x_cat = np.stack([rng.integers(0, c, n) for c in cards], 1)
    x_num = rng.standard_normal((n, 4)) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, 0.0, -1.0]
    logit = x_num[:, 0] - 0.2 * x_num[:, 1] + (x_cat[:, 0] == 2) - 0.5 * (x_cat[:, 1] > 3)
    y = (logit + 0.3 * rng.standard_normal(n) > 0).astype(np.float32)
    return cards, x_cat, x_num, y


# --- data and entity embeddings -------------------------------------------------------------

def _tabular_model(lib, cards, emb_drop, n_num=4):
    nn = lib.nn

    class TabDataset(lib.utils.data.Dataset):
        def __init__(self, x_cat, x_num, y):
            self.x_cat = lib.from_numpy(x_cat).long()
            self.x_num = lib.tensor(x_num, dtype=lib.float32)
            self.y = lib.tensor(y, dtype=lib.float32)

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.x_cat[i], self.x_num[i], self.y[i]

    class TabularModel(nn.Module):
        def __init__(self):
            super().__init__()
            dims = [min(50, (c + 1) // 2) for c in cards]
            self.embs = nn.ModuleList([nn.Embedding(c + 1, d) for c, d in zip(cards, dims)])
            self.emb_drop = nn.Dropout(emb_drop)
            self.bn_num = nn.BatchNorm1d(n_num)
            # fastai's LinBnDrop(lin_first=True): no bias before a batch norm (its gradient
            # is rounding noise where the ReLU passes the whole batch; Adam makes it steps of lr)
            self.layers = nn.Sequential(nn.Linear(sum(dims) + n_num, 16, bias=False), nn.ReLU(),
                                        nn.BatchNorm1d(16), nn.Dropout(0.1), nn.Linear(16, 1))

        def forward(self, x_cat, x_num):
            x = lib.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embs)], 1)
            x = self.emb_drop(x)
            x = lib.cat([x, self.bn_num(x_num)], 1)
            return self.layers(x).squeeze(-1)
    return TabDataset, TabularModel


def test_entity_embeddings_dataset_dataloader_and_training(f32):
    torch_stream()
    cards, x_cat, x_num, y = _table()
    res = {}
    for lib in LIBS:
        TabDataset, TabularModel = _tabular_model(lib, cards, emb_drop=0.2)
        ds = TabDataset(x_cat, x_num, y)
        assert ds.x_cat.dtype == lib.int64 and ds.x_num.dtype == lib.float32
        lib.manual_seed(0)
        model = TabularModel()
        for emb in model.embs:
            emb.weight.data.uniform_(-0.05, 0.05)
        collate = lib.utils.data.dataloader.default_collate    # a custom collate_fn's
        dl = lib.utils.data.DataLoader(ds, batch_size=16, shuffle=True,
                                       collate_fn=lambda b, collate=collate: collate(b))
        opt = lib.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1e-2)
        loss_fn = lib.nn.BCEWithLogitsLoss()
        losses, batches = [], []
        for _ in range(2):
            model.train()
            for xc, xn, yb in dl:
                batches.append(_np(xc).copy())
                loss = loss_fn(model(xc, xn), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(loss.item())
        model.eval()
        with lib.no_grad():
            pred = lib.sigmoid(model(ds.x_cat, ds.x_num))
        res[lib] = (losses, batches, pred, model)
    for bz, bt in zip(res[zeroin][1], res[torch][1], strict=True):
        np.testing.assert_array_equal(bz, bt)                  # the same shuffled batches
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **F32)
    _close(res[zeroin][2], res[torch][2], **F32)
    _same_params(res[zeroin][3], res[torch][3], **F32)
    zbn, tbn = res[zeroin][3].bn_num, res[torch][3].bn_num
    _close(zbn.running_mean, tbn.running_mean, **F32)
    _close(zbn.running_var, tbn.running_var, **F32)
    assert int(zbn.num_batches_tracked) == int(tbn.num_batches_tracked) == 6


def test_embedding_from_pretrained_and_frozen(f64):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3))
    idx = np.array([[0, 4], [2, 2], [1, 3]])
    res = {}
    for lib in LIBS:
        frozen = lib.nn.Embedding.from_pretrained(lib.tensor(w))
        tuned = lib.nn.Embedding.from_pretrained(lib.tensor(w), freeze=False, padding_idx=1)
        assert not frozen.weight.requires_grad and tuned.weight.requires_grad
        out = frozen(lib.tensor(idx)) * tuned(lib.tensor(idx))
        out.pow(2).sum().backward()
        res[lib] = [out, tuned.weight.grad]
        assert frozen.weight.grad is None
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    assert not np.any(_np(res[zeroin][1])[1])                   # padding row: no gradient


def test_fastai_embedding_trunc_normal_on_weight_data(f32):
    torch_stream()
    res = {}
    for lib in LIBS:
        def trunc_normal_(x, mean=0.0, std=1.0):
            "fastai.layers' truncated normal (an approximation)"
            return x.normal_().fmod_(2).mul_(std).add_(mean)

        class Embedding(lib.nn.Embedding):
            "fastai.layers.Embedding: an embedding layer with a truncated normal init"
            def __init__(self, ni, nf, std=0.01):
                super().__init__(ni, nf)
                trunc_normal_(self.weight.data, std=std)

        def emb_sz_rule(n_cat):
            return min(600, round(1.6 * n_cat ** 0.56))

        lib.manual_seed(16)
        embs = [Embedding(c + 1, emb_sz_rule(c + 1)) for c in (3, 40, 700)]
        wide = trunc_normal_(lib.empty(400, 6), std=1.0)          # fmod keeps the sign
        res[lib] = [e.weight for e in embs] + [wide]
        assert [e.weight.shape[1] for e in embs] == [3, 13, 63]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert z.dtype == zeroin.float32
        _close(z, t, 0)                                           # the same bits
    w = _np(res[zeroin][-1])
    assert np.abs(w).max() < 2 and (w < -1).any()

def test_fmod_on_weight_data_writes_into_the_weight(f32):
    w_n = np.random.default_rng(20).standard_normal((6, 4)).astype(np.float32) * 3
    res = {}
    for lib in LIBS:
        emb = lib.nn.Embedding(6, 4)
        with lib.no_grad():
            emb.weight.copy_(lib.tensor(w_n))
        d = emb.weight.data
        assert d.fmod_(2) is d                                   # in place, returns itself
        d.fmod_(lib.tensor([1.5, 2.0, 2.5, 3.0]))                # a broadcast divisor
        res[lib] = emb.weight.detach().clone()
    _close(res[zeroin], res[torch], 0)
    assert (_np(res[zeroin]) < 0).any()                          # the dividend's sign

# --- DCN v2 and Wide & Deep -------------------------------------------------------------------

def test_dcn_v2_cross_network_and_wide_and_deep(f64):
    cards, x_cat, x_num, y = _table(32, seed=2)
    offs = np.array((0, *np.cumsum(cards)[:-1]))
    flat = (x_cat + offs).ravel()                               # one bag of 3 ids a row
    offsets = np.arange(0, flat.size, 3)
    psw = np.random.default_rng(2).uniform(0.5, 1.5, flat.size)

    def make(lib):
        nn = lib.nn

        class CrossLayerV2(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.W = nn.Linear(d, d)

            def forward(self, x0, x):
                return x0 * self.W(x) + x

        class WideDeepDCN(nn.Module):
            def __init__(self, dim=4, n_cross=2):
                super().__init__()
                self.wide = nn.EmbeddingBag(sum(cards), 1, mode="sum")
                self.embs = nn.ModuleList([nn.Embedding(c, dim) for c in cards])
                d = dim * len(cards) + 4
                self.cross = nn.ModuleList([CrossLayerV2(d) for _ in range(n_cross)])
                self.deep = nn.Sequential(nn.Linear(d, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
                self.head = nn.Linear(d + 8, 1)

            def forward(self, x_cat, x_num, flat, offsets, psw):
                x0 = lib.cat([e(x_cat[:, i]) for i, e in enumerate(self.embs)] + [x_num], 1)
                x = x0
                for layer in self.cross:
                    x = layer(x0, x)
                deep = self.head(lib.cat([x, self.deep(x0)], dim=1))
                wide = self.wide(flat, offsets, per_sample_weights=psw)
                return (deep + wide).squeeze(1)
        return WideDeepDCN()
    torch.manual_seed(3)
    tm = make(torch)
    zm = _copy(tm, make(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        args = (lib.tensor(x_cat), lib.tensor(x_num), lib.tensor(flat), lib.tensor(offsets),
                lib.tensor(psw))
        yb = lib.tensor(y.astype(float))
        opt = lib.optim.Adam([{"params": m.wide.parameters(), "lr": 0.1},
                              {"params": [p for n, p in m.named_parameters()
                                          if not n.startswith("wide")]}], lr=1e-2)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.binary_cross_entropy_with_logits(m(*args), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = losses
    np.testing.assert_allclose(res[zeroin], res[torch], rtol=1e-10)
    _same_grads(zm, tm)
    _same_params(zm, tm)


# --- TabNet -----------------------------------------------------------------------------------

def _sparsemax_fn(lib):
    """Sparsemax (Martins & Astudillo 2016) as TabNet's repositories write it: the forward by
    sorting, the backward as a custom autograd Function."""

    class SparsemaxFunction(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input, dim=-1):
            ctx.dim = dim
            max_val, _ = input.max(dim=dim, keepdim=True)
            input = input - max_val                            # numerical stability
            tau, supp_size = SparsemaxFunction._threshold_and_support(input, dim=dim)
            output = lib.clamp(input - tau, min=0)
            ctx.save_for_backward(supp_size, output)
            return output

        @staticmethod
        def backward(ctx, grad_output):
            supp_size, output = ctx.saved_tensors
            dim = ctx.dim
            grad_input = grad_output.clone()
            grad_input[output == 0] = 0
            v_hat = grad_input.sum(dim=dim) / supp_size.to(output.dtype).squeeze()
            v_hat = v_hat.unsqueeze(dim)
            grad_input = lib.where(output != 0, grad_input - v_hat, grad_input)
            return grad_input, None

        @staticmethod
        def _threshold_and_support(input, dim=-1):
            input_srt, _ = lib.sort(input, descending=True, dim=dim)
            input_cumsum = input_srt.cumsum(dim) - 1
            d = input.size(dim)
            rhos = lib.arange(1, d + 1, device=input.device, dtype=input.dtype)
            view = [1] * input.dim()
            view[0] = -1
            rhos = rhos.view(view).transpose(0, dim)
            support = rhos * input_srt > input_cumsum
            support_size = support.sum(dim=dim).unsqueeze(dim)
            tau = input_cumsum.gather(dim, support_size - 1)
            tau /= support_size.to(input.dtype)
            return tau, support_size
    return SparsemaxFunction


def _entmax15_fn(lib):
    """Exact 1.5-entmax by sorting (pytorch-tabnet's ``Entmax15Function``)."""

    class Entmax15Function(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input, dim=-1):
            ctx.dim = dim
            max_val, _ = input.max(dim=dim, keepdim=True)
            input = (input - max_val) / 2
            tau_star, _ = Entmax15Function._threshold_and_support(input, dim)
            output = lib.clamp(input - tau_star, min=0) ** 2
            ctx.save_for_backward(output)
            return output

        @staticmethod
        def backward(ctx, grad_output):
            (Y,) = ctx.saved_tensors
            gppr = Y.sqrt()
            dX = grad_output * gppr
            q = (dX.sum(ctx.dim) / gppr.sum(ctx.dim)).unsqueeze(ctx.dim)
            dX -= q * gppr
            return dX, None

        @staticmethod
        def _threshold_and_support(input, dim=-1):
            Xsrt, _ = lib.sort(input, descending=True, dim=dim)
            view = [1] * input.dim()
            view[0] = -1
            rho = lib.arange(1, input.size(dim) + 1, dtype=input.dtype).view(view)
            rho = rho.transpose(0, dim)
            mean = Xsrt.cumsum(dim) / rho
            mean_sq = (Xsrt ** 2).cumsum(dim) / rho
            ss = rho * (mean_sq - mean ** 2)
            delta_nz = lib.clamp((1 - ss) / rho, 0)
            tau = mean - lib.sqrt(delta_nz)
            support_size = (tau <= Xsrt).sum(dim).unsqueeze(dim)
            return tau.gather(dim, support_size - 1), support_size
    return Entmax15Function

def _entmax15_bisect(lib, x, n_iter=40):
    """1.5-entmax by bisection on the threshold (Peters et al. 2019), plain autograd."""
    x = x / 2
    max_val, _ = x.max(dim=-1, keepdim=True)
    lo, hi = max_val - 1, max_val - (1 / x.shape[-1]) ** 0.5
    for _ in range(n_iter):
        tau = (lo + hi) / 2
        p = lib.clamp(x - tau, min=0) ** 2
        big = (p.sum(-1, keepdim=True) >= 1).to(x.dtype)
        lo, hi = big * tau + (1 - big) * lo, big * hi + (1 - big) * tau
    p = lib.clamp(x - (lo + hi) / 2, min=0) ** 2
    return p / p.sum(-1, keepdim=True)


def test_sparsemax_forward_custom_backward_and_entmax15(f64):
    rng = np.random.default_rng(4)
    z_n = rng.standard_normal((6, 7)) * 2
    z_n[0, :3] = 1.5                                              # ties in the sort
    g_n = rng.standard_normal((6, 7))
    res = {}
    for lib in LIBS:
        Sparsemax = _sparsemax_fn(lib)
        z = lib.tensor(z_n, requires_grad=True)
        p = Sparsemax.apply(z, -1)
        (p * lib.tensor(g_n)).sum().backward()
        zt = lib.tensor(z_n.T.copy(), requires_grad=True)       # along dim 0
        p0 = Sparsemax.apply(zt, 0)
        (p0 * lib.tensor(g_n.T.copy())).sum().backward()
        z2 = lib.tensor(z_n, requires_grad=True)
        q = _entmax15_bisect(lib, z2)
        (q * lib.tensor(g_n)).sum().backward()
        z3 = lib.tensor(z_n.T.copy(), requires_grad=True)
        e = _entmax15_fn(lib).apply(z3, 0)
        (e * lib.tensor(g_n.T.copy())).sum().backward()
        res[lib] = [p, z.grad, p0, zt.grad, q, z2.grad, e, z3.grad]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)
    p = _np(res[zeroin][0])
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    assert (p == 0).any() and (p >= 0).all()
    _close(res[zeroin][6].T, res[zeroin][4], 1e-9)               # exact == bisection
    for lib in LIBS:                                             # as the repos check them
        x = lib.tensor(z_n[1:4], requires_grad=True)
        S, E = _sparsemax_fn(lib), _entmax15_fn(lib)
        assert lib.autograd.gradcheck(lambda t, S=S: S.apply(t, -1), (x,))
        assert lib.autograd.gradcheck(lambda t, E=E: E.apply(t, 0), (x,))
    # the custom backward is sparsemax's Jacobian: finite differences on zeroin
    Sparsemax = _sparsemax_fn(zeroin)
    num = np.zeros_like(z_n)
    for i, j in np.ndindex(*z_n.shape):
        e = np.zeros_like(z_n)
        e[i, j] = 1e-6
        f = [(_np(Sparsemax.apply(zeroin.tensor(z_n + s * e))) * g_n).sum() for s in (1, -1)]
        num[i, j] = (f[0] - f[1]) / 2e-6
    np.testing.assert_allclose(_np(res[zeroin][1]), num, atol=1e-7)


def _tabnet(lib, n_d=4, n_a=4, n_steps=3, gamma=1.3, vbs=8, n_in=6):
    nn, F = lib.nn, lib.nn.functional
    Sparsemax = _sparsemax_fn(lib)

    class GBN(nn.Module):
        """Ghost batch norm: batch norm on virtual batches of ``vbs`` rows."""

        def __init__(self, d, vbs, momentum=0.02):
            super().__init__()
            self.vbs, self.bn = vbs, nn.BatchNorm1d(d, momentum=momentum)

        def forward(self, x):
            chunks = x.chunk(int(np.ceil(x.shape[0] / self.vbs)), 0)
            return lib.cat([self.bn(x_) for x_ in chunks], dim=0)

    class GLULayer(nn.Module):
        def __init__(self, d_in, d_out, glu_fn):
            super().__init__()
            self.d_out, self.glu_fn = d_out, glu_fn
            self.fc = nn.Linear(d_in, 2 * d_out, bias=False)
            self.bn = GBN(2 * d_out, vbs)

        def forward(self, x):
            x = self.bn(self.fc(x))
            if self.glu_fn:
                return F.glu(x, dim=-1)
            return x[:, : self.d_out] * lib.sigmoid(x[:, self.d_out:])

    class FeatTransformer(nn.Module):
        def __init__(self, shared, d_out):
            super().__init__()
            self.shared = shared
            self.spec = nn.ModuleList([GLULayer(d_out, d_out, False) for _ in range(2)])

        def forward(self, x):
            scale = math.sqrt(0.5)
            x = self.shared[0](x)
            x = (x + self.shared[1](x)) * scale
            for layer in self.spec:
                x = (x + layer(x)) * scale
            return x

    class AttentiveTransformer(nn.Module):
        def __init__(self, d_in, d_out):
            super().__init__()
            self.fc = nn.Linear(d_in, d_out, bias=False)
            self.bn = GBN(d_out, vbs)

        def forward(self, priors, x):
            return Sparsemax.apply(self.bn(self.fc(x)) * priors, -1)

    class TabNet(nn.Module):
        def __init__(self):
            super().__init__()
            d = n_d + n_a
            self.initial_bn = nn.BatchNorm1d(n_in, momentum=0.01)
            shared = nn.ModuleList([GLULayer(n_in, d, True), GLULayer(d, d, True)])
            self.initial_splitter = FeatTransformer(shared, d)
            self.feat = nn.ModuleList([FeatTransformer(shared, d) for _ in range(n_steps)])
            self.att = nn.ModuleList([AttentiveTransformer(n_a, n_in) for _ in range(n_steps)])
            self.final = nn.Linear(n_d, 1, bias=False)

        def forward(self, x, eps=1e-15):
            x = self.initial_bn(x)
            prior = lib.ones(x.shape, dtype=x.dtype)
            M_loss, res = 0, 0
            att = self.initial_splitter(x)[:, n_d:]
            for step in range(n_steps):
                M = self.att[step](prior, att)
                M_loss = M_loss + lib.mean(lib.sum(lib.mul(M, lib.log(M + eps)), dim=1))
                prior = lib.mul(gamma - M, prior)
                out = self.feat[step](lib.mul(M, x))
                res = lib.add(res, F.relu(out[:, :n_d]))
                att = out[:, n_d:]
            return self.final(res).squeeze(1), M_loss / n_steps
    return TabNet()


def test_tabnet_ghost_batch_norm_glu_prior_and_sparsity_loss(f64):
    rng = np.random.default_rng(5)
    x_n = rng.standard_normal((20, 6)) * [1, 2, 0.5, 1, 3, 1]   # 20 rows: chunks of 7, 7, 6
    y_n = x_n[:, 0] - x_n[:, 4] + 0.1 * rng.standard_normal(20)
    torch.manual_seed(6)
    tm = _tabnet(torch)
    zm = _copy(tm, _tabnet(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        x, y = lib.tensor(x_n), lib.tensor(y_n)
        opt = lib.optim.Adam(m.parameters(), lr=2e-2)
        losses = []
        m.train()
        for _ in range(3):
            opt.zero_grad()
            out, M_loss = m(x)
            loss = lib.nn.functional.mse_loss(out, y) - 1e-3 * M_loss
            loss.backward()
            opt.step()
            losses.append((loss.item(), M_loss.item()))
        m.eval()
        with lib.no_grad():
            ev = m(x[:5])[0]
        res[lib] = (losses, ev)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    _close(res[zeroin][1], res[torch][1])
    _same_grads(zm, tm)
    _same_params(zm, tm)
    for (k, bz), bt in zip(zm.named_buffers(), tm.buffers(), strict=True):
        _close(bz, bt)


def _unsupervised_loss(lib, y_pred, embedded_x, obf_vars, eps=1e-9):
    """pytorch-tabnet's pretraining loss: the reconstruction error of the masked features,
    each scaled by its batch variance (zero variances replaced in place by boolean masks)."""
    errors = y_pred - embedded_x
    reconstruction_errors = lib.mul(errors, obf_vars) ** 2
    batch_means = lib.mean(embedded_x, dim=0)
    batch_means[batch_means == 0] = 1
    batch_stds = lib.std(embedded_x, dim=0) ** 2
    batch_stds[batch_stds == 0] = batch_means[batch_stds == 0]
    features_loss = lib.matmul(reconstruction_errors, 1 / batch_stds)
    nb_reconstructed_variables = lib.sum(obf_vars, dim=1)
    features_loss = features_loss / (nb_reconstructed_variables + eps)
    return lib.mean(features_loss)


def test_tabnet_pretraining_obfuscation_and_reconstruction_loss(f64):
    torch_stream()
    rng = np.random.default_rng(17)
    x_n = rng.standard_normal((12, 5))
    x_n[:, 2] = 0.0                                              # a constant column
    x_n[:, 4] = 3.0
    torch.manual_seed(18)
    tdec = torch.nn.Linear(5, 5)
    zdec = _copy(tdec, zeroin.nn.Linear(5, 5))
    res = {}
    for lib, dec in ((torch, tdec), (zeroin, zdec)):
        lib.manual_seed(19)
        x = lib.tensor(x_n)
        obf_vars = lib.bernoulli(0.3 * lib.ones(x.shape))       # RandomObfuscator
        masked_input = lib.mul(1 - obf_vars, x)
        loss = _unsupervised_loss(lib, dec(masked_input), x, obf_vars)
        loss.backward()
        res[lib] = [obf_vars, loss, dec.weight.grad, dec.bias.grad]
    assert 0 < float(_np(res[zeroin][0]).mean()) < 1
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t)

# --- FT-Transformer ---------------------------------------------------------------------------

def _ft_transformer(lib, n_num=3, cards=(4, 5), d=8, n_layers=2):
    """rtdl's FT-Transformer, its tokenizer and ``[CLS]`` token written out."""
    nn = lib.nn

    def _init_rsqrt_uniform(x, d):
        s = 1 / math.sqrt(d)
        return nn.init.uniform_(x, -s, s)

    class NumericalFeatureTokenizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(lib.empty(n_num, d))
            self.bias = nn.Parameter(lib.empty(n_num, d))
            for w in (self.weight, self.bias):
                _init_rsqrt_uniform(w, d)

        def forward(self, x):
            return x[..., None] * self.weight + self.bias

    class CategoricalFeatureTokenizer(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("category_offsets",
                                 lib.tensor([0] + list(cards[:-1])).cumsum(0))
            self.embeddings = nn.Embedding(sum(cards), d)
            self.bias = nn.Parameter(lib.empty(len(cards), d))
            nn.init.kaiming_uniform_(self.bias, a=math.sqrt(5))

        def forward(self, x):
            return self.embeddings(x + self.category_offsets[None]) + self.bias[None]

    class FTTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.num_tok = NumericalFeatureTokenizer()
            self.cat_tok = CategoricalFeatureTokenizer()
            self.cls = nn.Parameter(lib.empty(d))
            _init_rsqrt_uniform(self.cls, d)
            layer = nn.TransformerEncoderLayer(d, nhead=2, dim_feedforward=16, dropout=0.0,
                                               activation="gelu", batch_first=True,
                                               norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.head = nn.Sequential(nn.LayerNorm(d), nn.ReLU(), nn.Linear(d, 3))

        def forward(self, x_num, x_cat):
            x = lib.cat([self.num_tok(x_num), self.cat_tok(x_cat)], dim=1)
            cls = self.cls.view(1, 1, -1).expand(len(x), -1, -1)
            x = self.encoder(lib.cat([cls, x], dim=1))
            return self.head(x[:, 0])
    return FTTransformer()


def test_ft_transformer_tokenizer_cls_and_prenorm_encoder(f64):
    rng = np.random.default_rng(7)
    x_num_n = rng.standard_normal((10, 3))
    x_cat_n = np.stack([rng.integers(0, 4, 10), rng.integers(0, 5, 10)], 1)
    y_n = rng.integers(0, 3, 10)
    torch.manual_seed(8)
    tm = _ft_transformer(torch)
    zm = _copy(tm, _ft_transformer(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        x_num, x_cat, y = lib.tensor(x_num_n), lib.tensor(x_cat_n), lib.tensor(y_n)
        no_decay = [p for n, p in m.named_parameters()
                    if n.endswith("bias") or "norm" in n or "tok" in n or n == "cls"]
        decay = [p for n, p in m.named_parameters() if all(p is not q for q in no_decay)]
        opt = lib.optim.AdamW([{"params": decay, "weight_decay": 1e-5},
                               {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            logits = m(x_num, x_cat)
            loss = lib.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = (losses, logits)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    _close(res[zeroin][1], res[torch][1])
    _same_grads(zm, tm)
    _same_params(zm, tm)


def test_ft_transformer_in_float32(f32):
    rng = np.random.default_rng(23)
    x_num_n = rng.standard_normal((10, 3)).astype(np.float32)
    x_cat_n = np.stack([rng.integers(0, 4, 10), rng.integers(0, 5, 10)], 1)
    y_n = rng.integers(0, 3, 10)
    torch.manual_seed(24)
    tm = _ft_transformer(torch)
    zm = _copy(tm, _ft_transformer(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        opt = lib.optim.AdamW(m.parameters(), lr=1e-3)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            logits = m(lib.tensor(x_num_n), lib.tensor(x_cat_n))
            loss = lib.nn.functional.cross_entropy(logits, lib.tensor(y_n))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert logits.dtype == lib.float32
        res[lib] = (losses, logits)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], **F32)
    _close(res[zeroin][1], res[torch][1], **F32)
    # the key bias (in_proj_bias[d:2d]) has an exact gradient of zero (softmax ignores a
    # shift shared by a query's logits): both give rounding noise, which Adam turns into
    # steps of size lr, different in the two; everything else agrees
    pz, pt = dict(zm.named_parameters()), dict(tm.named_parameters())
    assert pz.keys() == pt.keys()
    for k, t in pt.items():
        keep = np.r_[:8, 16:24] if k.endswith("in_proj_bias") else slice(None)
        _close(_np(pz[k])[keep], _np(t)[keep], **F32)

def test_ft_transformer_init_on_the_torch_stream(f64):
    torch_stream()
    res = {}
    for lib in LIBS:
        lib.manual_seed(9)
        m = _ft_transformer(lib)
        lib.nn.init.trunc_normal_(m.cls, std=0.02)              # the timm-style [CLS] init
        res[lib] = m.state_dict()
    assert res[zeroin].keys() == res[torch].keys()
    for k, t in res[torch].items():
        _close(res[zeroin][k], t)


def _tab_transformer(lib, categories=(4, 5, 3), n_cont=2, dim=8, heads=2, special=2):
    """lucidrains' TabTransformer written without einops (``view`` / ``transpose`` for
    ``rearrange``), with SAINT's intersample attention over the rows of the batch."""
    nn, F = lib.nn, lib.nn.functional

    class Attention(nn.Module):
        def __init__(self, d, dim_head=4):
            super().__init__()
            self.scale, self.heads = dim_head ** -0.5, heads
            self.to_qkv = nn.Linear(d, dim_head * heads * 3, bias=False)
            self.to_out = nn.Linear(dim_head * heads, d)

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = self.to_qkv(x).chunk(3, dim=-1)
            q, k, v = (t.view(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v))
            sim = lib.einsum("b h i d, b h j d -> b h i j", q, k) * self.scale
            attn = sim.softmax(dim=-1)
            out = lib.einsum("b h i j, b h j d -> b h i d", attn, v)
            return self.to_out(out.transpose(1, 2).reshape(b, n, -1)), attn

    class TabTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            offset = F.pad(lib.tensor(list(categories)), (1, 0), value=special)
            self.register_buffer("categories_offset", offset.cumsum(dim=-1)[:-1])
            self.embeds = nn.Embedding(sum(categories) + special, dim)
            self.attn, self.ff = Attention(dim), nn.Sequential(
                nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.row_attn = Attention(dim * len(categories), dim_head=8)   # SAINT's
            self.norm = nn.LayerNorm(n_cont)
            self.mlp = nn.Sequential(nn.Linear(dim * len(categories) + n_cont, 16), nn.SELU(),
                                     nn.Linear(16, 1))

        def forward(self, x_categ, x_cont):
            x_categ = x_categ.clone()
            x_categ += self.categories_offset
            x = self.embeds(x_categ)
            a, attn = self.attn(x)
            x = x + a
            x = x + self.ff(x)
            b, n, d = x.shape
            r, _ = self.row_attn(x.reshape(1, b, n * d))               # attention across rows
            x = x + r.reshape(b, n, d)
            flat = x.flatten(1)
            return self.mlp(lib.cat((flat, self.norm(x_cont)), dim=-1)).squeeze(-1), attn
    return TabTransformer()


def test_tab_transformer_einsum_attention_and_saint_intersample(f64):
    rng = np.random.default_rng(21)
    x_cat_n = np.stack([rng.integers(0, c, 12) for c in (4, 5, 3)], 1)
    x_cont_n, y_n = rng.standard_normal((12, 2)), rng.standard_normal(12)
    torch.manual_seed(22)
    tm = _tab_transformer(torch)
    zm = _copy(tm, _tab_transformer(zeroin))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        assert _np(m.categories_offset).tolist() == [2, 6, 11]
        opt = lib.optim.RAdam(m.parameters(), lr=1e-2)
        x_cat = lib.tensor(x_cat_n)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            out, attn = m(x_cat, lib.tensor(x_cont_n))
            loss = lib.nn.functional.mse_loss(out, lib.tensor(y_n))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert _np(x_cat).tolist() == x_cat_n.tolist()                # the input untouched
        res[lib] = (losses, attn)
    np.testing.assert_allclose(res[zeroin][0], res[torch][0], rtol=1e-10)
    _close(res[zeroin][1], res[torch][1])
    _same_grads(zm, tm)
    _same_params(zm, tm)

# --- losses, samplers, early stopping and metrics --------------------------------------------

def _pinball(lib, preds, target, quantiles):
    """The quantile loss for several quantiles at once: (B, 1) targets against (B, Q)."""
    q = lib.tensor(quantiles).view(1, -1)
    e = target - preds
    return lib.max((q - 1) * e, q * e).mean()


def _focal(lib, logits, targets, alpha=0.25, gamma=2.0):
    bce = lib.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    pt = lib.exp(-bce)
    at = alpha * targets + (1 - alpha) * (1 - targets)
    return (at * (1 - pt) ** gamma * bce).mean()


def test_pinball_and_focal_losses(f64):
    rng = np.random.default_rng(10)
    x_n, y_n = rng.standard_normal((30, 4)), rng.standard_normal((30, 1)) * 2
    lab_n = (rng.random(30) < 0.2).astype(float)
    quantiles = [0.1, 0.5, 0.9]
    torch.manual_seed(11)
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    zm = _copy(tm, zeroin.nn.Sequential(zeroin.nn.Linear(4, 8), zeroin.nn.ReLU(),
                                        zeroin.nn.Linear(8, 4)))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        x, y, lab = lib.tensor(x_n), lib.tensor(y_n), lib.tensor(lab_n)
        opt = lib.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, nesterov=True)
        losses = []
        for _ in range(3):
            out = m(x)
            pin, foc = _pinball(lib, out[:, :3], y, quantiles), _focal(lib, out[:, 3], lab)
            opt.zero_grad()
            (pin + foc).backward()
            opt.step()
            losses.append((pin.item(), foc.item()))
        res[lib] = losses
    np.testing.assert_allclose(res[zeroin], res[torch], rtol=1e-10)
    _same_grads(zm, tm)
    _same_params(zm, tm)
    # torch.max of two tensors splits the gradient at a tie (e == 0) as PyTorch does
    res = {}
    for lib in LIBS:
        p = lib.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
        _pinball(lib, p, lib.tensor([[1.0]]), quantiles).backward()
        res[lib] = p.grad
    _close(res[zeroin], res[torch])


def test_class_weighted_cross_entropy_and_bce_pos_weight(f32):
    rng = np.random.default_rng(12)
    logits_n = rng.standard_normal((16, 3)).astype(np.float32)
    y_n = rng.integers(0, 3, 16)
    y_n[:2] = -100                                                # ignored rows
    b_n = rng.standard_normal((16, 2)).astype(np.float32)
    t_n = (rng.random((16, 2)) < 0.3).astype(np.float32)
    counts = np.bincount(y_n[y_n >= 0], minlength=3)
    res = {}
    for lib in LIBS:
        class_weights = lib.tensor(len(y_n) / (3 * counts), dtype=lib.float32)
        pos_weight = lib.tensor((1 - t_n.mean(0)) / t_n.mean(0), dtype=lib.float32)
        logits = lib.tensor(logits_n, requires_grad=True)
        b = lib.tensor(b_n, requires_grad=True)
        ce = lib.nn.CrossEntropyLoss(weight=class_weights, label_smoothing=0.1)
        ce_sum = lib.nn.CrossEntropyLoss(weight=class_weights, label_smoothing=0.1,
                                         reduction="sum")
        bce = lib.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        l1, l2 = ce(logits, lib.tensor(y_n)), ce_sum(logits, lib.tensor(y_n))
        l3 = bce(b, lib.tensor(t_n))
        (l1 + 0.1 * l2 + l3).backward()
        res[lib] = [l1, l2, l3, logits.grad, b.grad]
        assert all(r.dtype == lib.float32 for r in res[lib])
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, **F32)


def test_weighted_random_sampler_balances_classes_on_the_torch_stream():
    torch_stream()
    y = np.array([0] * 20 + [1] * 4)
    weights = 1.0 / np.bincount(y)[y]
    res = {}
    for lib in LIBS:
        lib.manual_seed(13)
        ds = lib.utils.data.TensorDataset(lib.arange(24), lib.tensor(y))
        sampler = lib.utils.data.WeightedRandomSampler(lib.tensor(weights), num_samples=24,
                                                       replacement=True)
        dl = lib.utils.data.DataLoader(ds, batch_size=8, sampler=sampler)
        res[lib] = np.concatenate([_np(i) for i, _ in dl])
    np.testing.assert_array_equal(res[zeroin], res[torch])


def _auc(lib, scores, labels):
    """ROC AUC by ranking (Mann-Whitney U), no ties among the scores."""
    ranks = lib.empty_like(scores)
    ranks[scores.argsort()] = lib.arange(1, len(scores) + 1, dtype=scores.dtype)
    n_pos = labels.sum()
    n_neg = len(labels) - n_pos
    return (ranks[labels == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def test_early_stopping_state_dict_deepcopy_and_metrics(f64):
    rng = np.random.default_rng(14)
    x_n = rng.standard_normal((40, 5))
    y_n = (x_n[:, 0] + 0.5 * x_n[:, 1] + rng.standard_normal(40) > 0).astype(float)
    torch.manual_seed(15)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 16, bias=False), torch.nn.BatchNorm1d(16),
                             torch.nn.ReLU(), torch.nn.Linear(16, 1))
    zm = _copy(tm, zeroin.nn.Sequential(zeroin.nn.Linear(5, 16, bias=False),
                                        zeroin.nn.BatchNorm1d(16),
                                        zeroin.nn.ReLU(), zeroin.nn.Linear(16, 1)))
    res = {}
    for lib, m in ((torch, tm), (zeroin, zm)):
        xtr, ytr = lib.tensor(x_n[:28]), lib.tensor(y_n[:28])
        xva, yva = lib.tensor(x_n[28:]), lib.tensor(y_n[28:])
        opt = lib.optim.Adam(m.parameters(), lr=0.1)
        best, best_state, bad, patience, history = float("inf"), None, 0, 3, []
        for epoch in range(30):
            m.train()
            opt.zero_grad()
            lib.nn.functional.binary_cross_entropy_with_logits(m(xtr).squeeze(1), ytr).backward()
            opt.step()
            m.eval()
            with lib.no_grad():
                val = lib.nn.functional.binary_cross_entropy_with_logits(
                    m(xva).squeeze(1), yva).item()
            history.append(val)
            if val < best - 1e-4:
                best, bad = val, 0
                best_state = copy.deepcopy(m.state_dict())
            else:
                bad += 1
                if bad >= patience:
                    break
        last = {k: v.clone() for k, v in m.state_dict().items()}
        m.load_state_dict(best_state)
        with lib.no_grad():
            s = m(xva).squeeze(1)
        acc = ((s > 0).float() == yva).float().mean()
        res[lib] = (history, epoch, s, _auc(lib, s, yva), acc, last, m.state_dict())
    hz, ht = res[zeroin], res[torch]
    np.testing.assert_allclose(hz[0], ht[0], rtol=1e-10)
    assert hz[1] == ht[1] < 29                                     # stopped early, the same epoch
    for z, t in zip(hz[2:5], ht[2:5]):
        _close(z, t)
    sk = pytest.importorskip("sklearn.metrics")
    np.testing.assert_allclose(float(hz[3]), sk.roc_auc_score(y_n[28:], _np(hz[2])), rtol=1e-12)
    for k in ht[6]:
        _close(hz[6][k], ht[6][k])
        _close(hz[5][k], ht[5][k])
    assert not np.allclose(_np(hz[5]["0.weight"]), _np(hz[6]["0.weight"]))  # the best, restored
