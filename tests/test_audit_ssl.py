"""Audit of self-supervised and contrastive learning code (SimCLR as the UvA deep learning
tutorial 17 and sthalles/SimCLR write it, MoCo v2, BYOL, SimSiam, Barlow Twins, VICReg, DINO,
CLIP's loss), written as those sources write it with ``torch = L``, ``nn = L.nn`` and
``F = L.nn.functional`` for L = PyTorch and L = zeroin, run on the same small synthetic views
(noisy copies of random 3x8x8 images or vectors) with the same weights (built by PyTorch,
copied into zeroin): the losses, accuracies, buffers (queues, centres, BatchNorm's running
statistics), EMA target networks and weights after a few optimiser steps agree, to float
resolution in float32 and to 1e-9 in float64. ResNets are a tiny conv net with a ``fc``
head; distributed gathers are left out. See docs/ssl.md."""
import copy
import math
import types

import numpy as np
import pytest

import zeroin
from _audit import close, copy_weights, np_of
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


def _dtype(dtype):
    """Both libraries' default dtype to ``dtype``; the tolerance for results after a few
    optimiser steps (the autouse fixtures put the defaults back)."""
    for L in LIBS:
        L.set_default_dtype(getattr(L, dtype))
    return dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)


def _same(res, tol):
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(np.shape(np_of(z))) == tuple(np.shape(np_of(t)))
        close(z, t, **tol)


def _views(shape, seed=0, noise=0.1):
    """Two "views" of the same random data: noisy copies (NumPy, the default dtype's)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    dt = np.float32 if torch.get_default_dtype() == torch.float32 else np.float64
    return [(x + noise * rng.standard_normal(shape)).astype(dt) for _ in range(2)]


def _tiny_resnet(L):
    """A stand-in for torchvision's resnet18(num_classes=...): conv, BN, ReLU, global
    average pooling and a ``fc`` layer the recipes replace or extend."""
    nn = L.nn

    class TinyResNet(nn.Module):
        def __init__(self, num_classes=10, zero_init_residual=False):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, num_classes)

        def forward(self, x):
            x = self.avgpool(self.relu(self.bn1(self.conv1(x))))
            return self.fc(L.flatten(x, 1))
    return TinyResNet


def _both(make):
    """``make(L)`` for PyTorch (seeded) and zeroin, the torch model's weights and buffers
    copied into zeroin's."""
    torch.manual_seed(0)
    t = make(torch)
    return {torch: t, zeroin: copy_weights(t, make(zeroin))}


# --- SimCLR, UvA deep learning tutorial 17 ------------------------------------------------

def _uva_simclr(L):
    torch, nn, F, optim = L, L.nn, L.nn.functional, L.optim

    class SimCLR(nn.Module):        # a pl.LightningModule in the tutorial
        def __init__(self, hidden_dim, lr, temperature, weight_decay, max_epochs=500):
            super().__init__()
            self.hparams = types.SimpleNamespace(hidden_dim=hidden_dim, lr=lr,
                                                 temperature=temperature,
                                                 weight_decay=weight_decay,
                                                 max_epochs=max_epochs)
            self.convnet = _tiny_resnet(L)(num_classes=4 * hidden_dim)
            self.convnet.fc = nn.Sequential(self.convnet.fc, nn.ReLU(inplace=True),
                                            nn.Linear(4 * hidden_dim, hidden_dim))

        def configure_optimizers(self):
            optimizer = optim.AdamW(self.parameters(), lr=self.hparams.lr,
                                    weight_decay=self.hparams.weight_decay)
            lr_scheduler = optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=self.hparams.max_epochs, eta_min=self.hparams.lr / 50)
            return [optimizer], [lr_scheduler]

        def info_nce_loss(self, batch, mode="train"):
            imgs, _ = batch
            imgs = torch.cat(imgs, dim=0)
            feats = self.convnet(imgs)
            cos_sim = F.cosine_similarity(feats[:, None, :], feats[None, :, :], dim=-1)
            self_mask = torch.eye(cos_sim.shape[0], dtype=torch.bool, device=cos_sim.device)
            cos_sim.masked_fill_(self_mask, -9e15)
            pos_mask = self_mask.roll(shifts=cos_sim.shape[0] // 2, dims=0)
            cos_sim = cos_sim / self.hparams.temperature
            nll = -cos_sim[pos_mask] + torch.logsumexp(cos_sim, dim=-1)
            nll = nll.mean()
            comb_sim = torch.cat([cos_sim[pos_mask][:, None],
                                  cos_sim.masked_fill(pos_mask, -9e15)], dim=-1)
            sim_argsort = comb_sim.argsort(dim=-1, descending=True).argmin(dim=-1)
            logs = {mode + "_loss": nll, mode + "_acc_top1": (sim_argsort == 0).float().mean(),
                    mode + "_acc_top5": (sim_argsort < 5).float().mean(),
                    mode + "_acc_mean_pos": 1 + sim_argsort.float().mean()}
            return nll, logs
    return SimCLR


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simclr_uva_info_nce_and_training(dtype):
    tol = _dtype(dtype)
    models = _both(lambda L: _uva_simclr(L)(hidden_dim=8, lr=5e-3, temperature=0.07,
                                            weight_decay=1e-4, max_epochs=4))
    v1, v2 = _views((6, 3, 8, 8))
    res = {}
    for L, model in models.items():
        [optimizer], [scheduler] = model.configure_optimizers()
        res[L] = []
        for _ in range(3):
            loss, logs = model.info_nce_loss(((L.tensor(v1), L.tensor(v2)), None))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            res[L] += list(logs.values()) + [scheduler.get_last_lr()[0]]
        res[L] += list(model.state_dict().values())
    _same(res, tol)


# --- SimCLR, sthalles/SimCLR --------------------------------------------------------------

def _sthalles(L, args):
    torch, nn, F = L, L.nn, L.nn.functional

    class ResNetSimCLR(nn.Module):
        def __init__(self, base_model, out_dim):
            super().__init__()
            self.backbone = _tiny_resnet(L)(num_classes=out_dim)
            dim_mlp = self.backbone.fc.in_features
            self.backbone.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(),
                                             self.backbone.fc)

        def forward(self, x):
            return self.backbone(x)

    def info_nce_loss(features):
        labels = torch.cat([torch.arange(args.batch_size) for i in range(args.n_views)], dim=0)
        labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()
        labels = labels.to(args.device)
        features = F.normalize(features, dim=1)
        similarity_matrix = torch.matmul(features, features.T)
        mask = torch.eye(labels.shape[0], dtype=torch.bool).to(args.device)
        labels = labels[~mask].view(labels.shape[0], -1)
        similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)
        positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)
        negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)
        logits = torch.cat([positives, negatives], dim=1)
        labels = torch.zeros(logits.shape[0], dtype=torch.long).to(args.device)
        logits = logits / args.temperature
        return logits, labels

    def accuracy(output, target, topk=(1,)):
        with torch.no_grad():
            maxk = max(topk)
            batch_size = target.size(0)
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            res = []
            for k in topk:
                correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
                res.append(correct_k.mul_(100.0 / batch_size))
            return res
    return ResNetSimCLR, info_nce_loss, accuracy


@pytest.mark.filterwarnings("ignore::FutureWarning")       # torch.cuda.amp's, in both
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simclr_sthalles_info_nce_and_training(dtype):
    tol = _dtype(dtype)
    args = types.SimpleNamespace(batch_size=4, n_views=2, temperature=0.07, device="cpu",
                                 out_dim=8, lr=3e-3, weight_decay=1e-4, fp16_precision=False)
    models = _both(lambda L: _sthalles(L, args)[0](base_model="resnet18", out_dim=args.out_dim))
    v1, v2 = _views((4, 3, 8, 8), seed=1)
    res = {}
    for L, model in models.items():
        _, info_nce_loss, accuracy = _sthalles(L, args)
        optimizer = L.optim.Adam(model.parameters(), args.lr, weight_decay=args.weight_decay)
        scheduler = L.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=3, eta_min=0,
                                                           last_epoch=-1)
        criterion = L.nn.CrossEntropyLoss().to(args.device)
        scaler = L.cuda.amp.GradScaler(enabled=args.fp16_precision)
        res[L] = []
        for _ in range(3):
            images = L.cat([L.tensor(v1), L.tensor(v2)], dim=0).to(args.device)
            with L.cuda.amp.autocast(enabled=args.fp16_precision):
                features = model(images)
                logits, labels = info_nce_loss(features)
                loss = criterion(logits, labels)
            optimizer.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            top1, top5 = accuracy(logits, labels, topk=(1, 5))
            scheduler.step()
            res[L] += [logits, loss, top1, top5, scheduler.get_last_lr()[0]]
        res[L] += list(model.state_dict().values())
    assert tuple(res[zeroin][0].shape) == (8, 7)      # 1 positive, 2 * 4 - 2 negatives
    _same(res, tol)


# --- MoCo v2 (facebookresearch/moco, moco/builder.py) ---------------------------------------

def _moco(L, update):
    torch, nn = L, L.nn

    class MoCo(nn.Module):
        def __init__(self, base_encoder, dim=128, K=65536, m=0.999, T=0.07, mlp=False):
            super().__init__()
            self.K, self.m, self.T = K, m, T
            self.encoder_q = base_encoder(num_classes=dim)
            self.encoder_k = base_encoder(num_classes=dim)
            if mlp:
                dim_mlp = self.encoder_q.fc.weight.shape[1]
                self.encoder_q.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(),
                                                  self.encoder_q.fc)
                self.encoder_k.fc = nn.Sequential(nn.Linear(dim_mlp, dim_mlp), nn.ReLU(),
                                                  self.encoder_k.fc)
            for param_q, param_k in zip(self.encoder_q.parameters(),
                                        self.encoder_k.parameters()):
                param_k.data.copy_(param_q.data)
                param_k.requires_grad = False
            self.register_buffer("queue", torch.randn(dim, K))
            self.queue = nn.functional.normalize(self.queue, dim=0)
            self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))

        @torch.no_grad()
        def _momentum_update_key_encoder(self):
            for param_q, param_k in zip(self.encoder_q.parameters(),
                                        self.encoder_k.parameters()):
                if update == "v2":
                    param_k.data = param_k.data * self.m + param_q.data * (1. - self.m)
                else:       # MoCo v3's
                    param_k.data.mul_(self.m).add_(param_q.data, alpha=1 - self.m)

        @torch.no_grad()
        def _dequeue_and_enqueue(self, keys):
            batch_size = keys.shape[0]
            ptr = int(self.queue_ptr)
            assert self.K % batch_size == 0
            self.queue[:, ptr:ptr + batch_size] = keys.T
            ptr = (ptr + batch_size) % self.K
            self.queue_ptr[0] = ptr

        def forward(self, im_q, im_k):
            q = self.encoder_q(im_q)
            q = nn.functional.normalize(q, dim=1)
            with torch.no_grad():
                self._momentum_update_key_encoder()
                k = self.encoder_k(im_k)
                k = nn.functional.normalize(k, dim=1)
            l_pos = torch.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
            l_neg = torch.einsum("nc,ck->nk", [q, self.queue.clone().detach()])
            logits = torch.cat([l_pos, l_neg], dim=1)
            logits /= self.T
            labels = torch.zeros(logits.shape[0], dtype=torch.long)
            self._dequeue_and_enqueue(k)
            return logits, labels
    return MoCo


def _adjust_learning_rate(optimizer, epoch, lr, epochs):
    """main_moco.py's cosine schedule (--cos)."""
    lr *= 0.5 * (1. + math.cos(math.pi * epoch / epochs))
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr


@pytest.mark.parametrize("update", ["v2", "v3"])
def test_moco_queue_momentum_encoder_and_training(update):
    tol = _dtype("float64")
    models = _both(lambda L: _moco(L, update)(_tiny_resnet(L), dim=8, K=12, m=0.9, T=0.2,
                                              mlp=True))
    assert list(models[zeroin].state_dict()) == list(models[torch].state_dict())
    v1, v2 = _views((4, 3, 8, 8), seed=2)
    res = {}
    for L, model in models.items():
        criterion = L.nn.CrossEntropyLoss()
        optimizer = L.optim.SGD(model.parameters(), 0.03, momentum=0.9, weight_decay=1e-4)
        res[L] = []
        for epoch in range(4):      # 4 batches of 4 keys: the queue of 12 wraps around
            _adjust_learning_rate(optimizer, epoch, 0.03, 4)
            output, target = model(im_q=L.tensor(v1 + epoch), im_k=L.tensor(v2 + epoch))
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            res[L] += [output, loss, model.queue.clone(), int(model.queue_ptr)]
        assert not any(p.requires_grad for p in model.encoder_k.parameters())
        assert model.queue_ptr.dtype == L.int64
        res[L] += list(model.state_dict().values())
    _same(res, tol)


# --- BYOL (lucidrains/byol-pytorch) and SimSiam (facebookresearch/simsiam) -------------------

def _byol(L):
    torch, nn, F = L, L.nn, L.nn.functional

    def loss_fn(x, y):
        x = F.normalize(x, dim=-1, p=2)
        y = F.normalize(y, dim=-1, p=2)
        return 2 - 2 * (x * y).sum(dim=-1)

    class EMA:
        def __init__(self, beta):
            self.beta = beta

        def update_average(self, old, new):
            if old is None:
                return new
            return old * self.beta + (1 - self.beta) * new

    def update_moving_average(ema_updater, ma_model, current_model):
        for current_params, ma_params in zip(current_model.parameters(), ma_model.parameters()):
            old_weight, up_weight = ma_params.data, current_params.data
            ma_params.data = ema_updater.update_average(old_weight, up_weight)

    def set_requires_grad(model, val):
        for p in model.parameters():
            p.requires_grad = val

    def MLP(dim, projection_size, hidden_size=4096):
        return nn.Sequential(nn.Linear(dim, hidden_size), nn.BatchNorm1d(hidden_size),
                             nn.ReLU(inplace=True), nn.Linear(hidden_size, projection_size))

    class BYOL(nn.Module):
        def __init__(self, net, dim, projection_size=8, projection_hidden_size=16,
                     moving_average_decay=0.99):
            super().__init__()
            self.online_encoder = nn.Sequential(net, MLP(dim, projection_size,
                                                         projection_hidden_size))
            self.target_encoder = None
            self.target_ema_updater = EMA(moving_average_decay)
            self.online_predictor = MLP(projection_size, projection_size,
                                        projection_hidden_size)

        def _get_target_encoder(self):
            if self.target_encoder is None:
                self.target_encoder = copy.deepcopy(self.online_encoder)
                set_requires_grad(self.target_encoder, False)
            return self.target_encoder

        def update_moving_average(self):
            update_moving_average(self.target_ema_updater, self.target_encoder,
                                  self.online_encoder)

        def forward(self, image_one, image_two):
            images = torch.cat((image_one, image_two), dim=0)
            online_projections = self.online_encoder(images)
            online_predictions = self.online_predictor(online_projections)
            online_pred_one, online_pred_two = online_predictions.chunk(2, dim=0)
            with torch.no_grad():
                target_encoder = self._get_target_encoder()
                target_projections = target_encoder(images).detach()
                target_proj_one, target_proj_two = target_projections.chunk(2, dim=0)
            loss_one = loss_fn(online_pred_one, target_proj_two.detach())
            loss_two = loss_fn(online_pred_two, target_proj_one.detach())
            loss = loss_one + loss_two
            return loss.mean()
    return BYOL


def test_byol_ema_target_and_training():
    tol = _dtype("float64")
    models = _both(lambda L: _byol(L)(_tiny_resnet(L)(num_classes=8), dim=8))
    v1, v2 = _views((4, 3, 8, 8), seed=3)
    res = {}
    for L, learner in models.items():
        # SGD: under Adam a Linear's bias before BatchNorm (its gradient is 0 but for rounding)
        # moves by lr * g / (|g| + eps), rounding noise made visible (as in PyTorch alone)
        opt = L.optim.SGD(learner.parameters(), lr=0.05, momentum=0.9)
        res[L] = []
        for _ in range(3):
            loss = learner(L.tensor(v1), L.tensor(v2))
            opt.zero_grad()
            loss.backward()
            opt.step()
            learner.update_moving_average()
            res[L] += [loss]
        target = learner.target_encoder
        assert not any(p.requires_grad for p in target.parameters())
        assert target.requires_grad_(False) is target       # the nn.Module form, too
        assert target[0].fc.weight is not learner.online_encoder[0].fc.weight
        res[L] += list(learner.state_dict().values())       # the target's included
    assert len(res[zeroin]) == len(res[torch]) > 40
    _same(res, tol)


def _simsiam(L):
    nn = L.nn

    class SimSiam(nn.Module):
        def __init__(self, base_encoder, dim=2048, pred_dim=512):
            super().__init__()
            self.encoder = base_encoder(num_classes=dim, zero_init_residual=True)
            prev_dim = self.encoder.fc.weight.shape[1]
            self.encoder.fc = nn.Sequential(nn.Linear(prev_dim, prev_dim, bias=False),
                                            nn.BatchNorm1d(prev_dim), nn.ReLU(inplace=True),
                                            nn.Linear(prev_dim, prev_dim, bias=False),
                                            nn.BatchNorm1d(prev_dim), nn.ReLU(inplace=True),
                                            self.encoder.fc,
                                            nn.BatchNorm1d(dim, affine=False))
            self.encoder.fc[6].bias.requires_grad = False
            self.predictor = nn.Sequential(nn.Linear(dim, pred_dim, bias=False),
                                           nn.BatchNorm1d(pred_dim), nn.ReLU(inplace=True),
                                           nn.Linear(pred_dim, dim))

        def forward(self, x1, x2):
            z1 = self.encoder(x1)
            z2 = self.encoder(x2)
            p1 = self.predictor(z1)
            p2 = self.predictor(z2)
            return p1, p2, z1.detach(), z2.detach()
    return SimSiam


def test_simsiam_stop_gradient_fix_lr_groups_and_training():
    tol = _dtype("float64")
    models = _both(lambda L: _simsiam(L)(_tiny_resnet(L), dim=8, pred_dim=4))
    v1, v2 = _views((6, 3, 8, 8), seed=4)
    init_lr = 0.05 * 6 / 256 * 100
    res = {}
    for L, model in models.items():
        criterion = L.nn.CosineSimilarity(dim=1)
        optim_params = [{"params": model.encoder.parameters(), "fix_lr": False},
                        {"params": model.predictor.parameters(), "fix_lr": True}]
        optimizer = L.optim.SGD(optim_params, init_lr, momentum=0.9, weight_decay=1e-4)
        res[L] = []
        for epoch in range(3):
            cur_lr = init_lr * 0.5 * (1. + math.cos(math.pi * epoch / 3))
            for param_group in optimizer.param_groups:
                if "fix_lr" in param_group and param_group["fix_lr"]:
                    param_group["lr"] = init_lr
                else:
                    param_group["lr"] = cur_lr
            p1, p2, z1, z2 = model(x1=L.tensor(v1), x2=L.tensor(v2))
            loss = -(criterion(p1, z2).mean() + criterion(p2, z1).mean()) * 0.5
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            res[L] += [loss, -L.nn.functional.cosine_similarity(p1, z2.detach(), dim=-1).mean()]
        assert model.encoder.fc[6].bias.grad is None
        res[L] += list(model.state_dict().values())
    _same(res, tol)


# --- Barlow Twins and VICReg (facebookresearch/barlowtwins, facebookresearch/vicreg) ---------

def off_diagonal(x):
    """Both repositories' helper: a flattened view of the off-diagonal elements."""
    n, m = x.shape
    assert n == m
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def _barlow(L):
    torch, nn = L, L.nn

    class BarlowTwins(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.args = args
            self.backbone = _tiny_resnet(L)(zero_init_residual=True)
            self.backbone.fc = nn.Identity()
            sizes = [8] + list(map(int, args.projector.split("-")))
            layers = []
            for i in range(len(sizes) - 2):
                layers.append(nn.Linear(sizes[i], sizes[i + 1], bias=False))
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
                layers.append(nn.ReLU(inplace=True))
            layers.append(nn.Linear(sizes[-2], sizes[-1], bias=False))
            self.projector = nn.Sequential(*layers)
            self.bn = nn.BatchNorm1d(sizes[-1], affine=False)

        def forward(self, y1, y2):
            z1 = self.projector(self.backbone(y1))
            z2 = self.projector(self.backbone(y2))
            c = self.bn(z1).T @ self.bn(z2)
            c.div_(self.args.batch_size)
            on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
            off_diag = off_diagonal(c).pow_(2).sum()
            loss = on_diag + self.args.lambd * off_diag
            return loss
    return BarlowTwins


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_barlow_twins_cross_correlation_in_place_and_training(dtype):
    """``torch.diagonal(c).add_(-1).pow_(2)`` changes a view of ``c`` in place while the
    graph is recorded (zeroin refused it before)."""
    tol = _dtype(dtype)
    args = types.SimpleNamespace(projector="16-16-8", batch_size=6, lambd=0.0051)
    models = _both(lambda L: _barlow(L)(args))
    v1, v2 = _views((6, 3, 8, 8), seed=5)
    res = {}
    for L, model in models.items():
        optimizer = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-6)
        warmup = L.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 2))
        res[L] = []
        for _ in range(3):
            loss = model.forward(L.tensor(v1), L.tensor(v2))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            warmup.step()
            res[L] += [loss, optimizer.param_groups[0]["lr"]]
        res[L] += list(model.state_dict().values())
    _same(res, tol)


def test_barlow_twins_loss_and_gradient_against_finite_differences():
    """The in-place loss on the cross-correlation matrix, on zeroin alone: its gradient
    against central differences of the same code."""
    rng = np.random.default_rng(6)
    z1, z2 = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))

    def loss(a, b):
        c = a.T @ b
        c.div_(5)
        return zeroin.diagonal(c).add_(-1).pow_(2).sum() + 0.1 * off_diagonal(c).pow_(2).sum()
    a = zeroin.tensor(z1, requires_grad=True)
    loss(a, zeroin.tensor(z2)).backward()
    eps, fd = 1e-6, np.zeros_like(z1)
    for i in np.ndindex(z1.shape):
        d = np.zeros_like(z1)
        d[i] = eps
        fd[i] = (loss(zeroin.tensor(z1 + d), zeroin.tensor(z2)).item()
                 - loss(zeroin.tensor(z1 - d), zeroin.tensor(z2)).item()) / (2 * eps)
    np.testing.assert_allclose(a.grad.numpy(), fd, rtol=1e-6, atol=1e-7)


def _vicreg(L):
    torch, nn, F = L, L.nn, L.nn.functional

    def Projector(args, embedding):
        mlp_spec = f"{embedding}-{args.mlp}"
        layers = []
        f = list(map(int, mlp_spec.split("-")))
        for i in range(len(f) - 2):
            layers.append(nn.Linear(f[i], f[i + 1]))
            layers.append(nn.BatchNorm1d(f[i + 1]))
            layers.append(nn.ReLU(True))
        layers.append(nn.Linear(f[-2], f[-1], bias=False))
        return nn.Sequential(*layers)

    class VICReg(nn.Module):
        def __init__(self, args):
            super().__init__()
            self.args = args
            self.num_features = int(args.mlp.split("-")[-1])
            self.backbone, self.embedding = _tiny_resnet(L)(num_classes=8), 8
            self.projector = Projector(args, self.embedding)

        def forward(self, x, y):
            x = self.projector(self.backbone(x))
            y = self.projector(self.backbone(y))
            repr_loss = F.mse_loss(x, y)
            x = x - x.mean(dim=0)
            y = y - y.mean(dim=0)
            std_x = torch.sqrt(x.var(dim=0) + 0.0001)
            std_y = torch.sqrt(y.var(dim=0) + 0.0001)
            std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
            cov_x = (x.T @ x) / (self.args.batch_size - 1)
            cov_y = (y.T @ y) / (self.args.batch_size - 1)
            cov_loss = off_diagonal(cov_x).pow_(2).sum().div(
                self.num_features) + off_diagonal(cov_y).pow_(2).sum().div(self.num_features)
            loss = (self.args.sim_coeff * repr_loss + self.args.std_coeff * std_loss
                    + self.args.cov_coeff * cov_loss)
            return loss
    return VICReg


def test_vicreg_variance_invariance_covariance_and_training():
    tol = _dtype("float64")
    args = types.SimpleNamespace(mlp="16-16-8", batch_size=6, sim_coeff=25.0, std_coeff=25.0,
                                 cov_coeff=1.0)
    models = _both(lambda L: _vicreg(L)(args))
    v1, v2 = _views((6, 3, 8, 8), seed=7)
    res = {}
    for L, model in models.items():
        optimizer = L.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        res[L] = []
        for _ in range(3):
            loss = model.forward(L.tensor(v1), L.tensor(v2))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            res[L] += [loss]
        res[L] += list(model.state_dict().values())
    _same(res, tol)


# --- DINO (facebookresearch/dino) ---------------------------------------------------------------

def _dino(L):
    torch, nn, F = L, L.nn, L.nn.functional

    class DINOLoss(nn.Module):
        def __init__(self, out_dim, ncrops, warmup_teacher_temp, teacher_temp,
                     warmup_teacher_temp_epochs, nepochs, student_temp=0.1,
                     center_momentum=0.9):
            super().__init__()
            self.student_temp = student_temp
            self.center_momentum = center_momentum
            self.ncrops = ncrops
            self.register_buffer("center", torch.zeros(1, out_dim))
            self.teacher_temp_schedule = np.concatenate((
                np.linspace(warmup_teacher_temp, teacher_temp, warmup_teacher_temp_epochs),
                np.ones(nepochs - warmup_teacher_temp_epochs) * teacher_temp))

        def forward(self, student_output, teacher_output, epoch):
            student_out = student_output / self.student_temp
            student_out = student_out.chunk(self.ncrops)
            temp = self.teacher_temp_schedule[epoch]
            teacher_out = F.softmax((teacher_output - self.center) / temp, dim=-1)
            teacher_out = teacher_out.detach().chunk(2)
            total_loss = 0
            n_loss_terms = 0
            for iq, q in enumerate(teacher_out):
                for v in range(len(student_out)):
                    if v == iq:
                        continue
                    loss = torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1)
                    total_loss += loss.mean()
                    n_loss_terms += 1
            total_loss /= n_loss_terms
            self.update_center(teacher_output)
            return total_loss

        @torch.no_grad()
        def update_center(self, teacher_output):
            batch_center = torch.sum(teacher_output, dim=0, keepdim=True)
            batch_center = batch_center / len(teacher_output)
            self.center = self.center * self.center_momentum + batch_center * (
                1 - self.center_momentum)

    class DINOHead(nn.Module):
        def __init__(self, in_dim, out_dim, hidden_dim=16, bottleneck_dim=8):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(),
                                     nn.Linear(hidden_dim, bottleneck_dim))
            self.last_layer = nn.utils.weight_norm(nn.Linear(bottleneck_dim, out_dim,
                                                             bias=False))
            self.last_layer.weight_g.data.fill_(1)
            self.last_layer.weight_g.requires_grad = False

        def forward(self, x):
            x = self.mlp(x)
            x = nn.functional.normalize(x, dim=-1, p=2)
            return self.last_layer(x)

    class MultiCropWrapper(nn.Module):
        def __init__(self, backbone, head):
            super().__init__()
            backbone.fc = nn.Identity()
            self.backbone, self.head = backbone, head

        def forward(self, x):
            if not isinstance(x, list):
                x = [x]
            idx_crops = torch.cumsum(torch.unique_consecutive(
                torch.tensor([inp.shape[-1] for inp in x]), return_counts=True)[1], 0)
            start_idx, output = 0, torch.empty(0).to(x[0].device)
            for end_idx in idx_crops:
                _out = self.backbone(torch.cat(x[start_idx: end_idx]))
                output = torch.cat((output, _out))
                start_idx = end_idx
            return self.head(output)

    def clip_gradients(model, clip):
        norms = []
        for name, p in model.named_parameters():
            if p.grad is not None:
                param_norm = p.grad.data.norm(2)
                norms.append(param_norm.item())
                clip_coef = clip / (param_norm + 1e-6)
                if clip_coef < 1:
                    p.grad.data.mul_(clip_coef)
        return norms

    def cancel_gradients_last_layer(epoch, model, freeze_last_layer):
        if epoch >= freeze_last_layer:
            return
        for n, p in model.named_parameters():
            if "last_layer" in n:
                p.grad = None

    def make():
        return MultiCropWrapper(_tiny_resnet(L)(), DINOHead(8, 6))
    return DINOLoss, make, clip_gradients, cancel_gradients_last_layer


@pytest.mark.filterwarnings("ignore::FutureWarning")    # nn.utils.weight_norm's, in both
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dino_multicrop_centering_teacher_ema_and_training(dtype):
    """The teacher temperature is a NumPy float64 (``teacher_temp_schedule[epoch]``): in
    float32 the outputs stay float32, as PyTorch's."""
    tol = _dtype(dtype)
    students = _both(lambda L: _dino(L)[1]())
    rng = np.random.default_rng(8)
    glob = [rng.standard_normal((3, 3, 8, 8)).astype(dtype) for _ in range(2)]
    local = [rng.standard_normal((3, 3, 4, 4)).astype(dtype) for _ in range(2)]
    momentum_schedule = np.linspace(0.9, 1.0, 3)
    res = {}
    for L, student in students.items():
        DINOLoss, _, clip_gradients, cancel_gradients_last_layer = _dino(L)
        teacher = _dino(L)[1]()      # main_dino.py builds it anew (weight_norm's
        teacher.load_state_dict(student.state_dict())   # weight defeats copy.deepcopy)
        for p in teacher.parameters():
            p.requires_grad = False
        dino_loss = DINOLoss(6, 4, 0.04, 0.07, 2, 3)
        params = [p for p in student.parameters() if p.requires_grad]
        optimizer = L.optim.AdamW(params, lr=1e-2)
        res[L] = []
        for it in range(3):
            images = [L.tensor(a + np.float32(0.1 * it)) for a in glob + local]
            teacher_output = teacher(images[:2])
            student_output = student(images)
            loss = dino_loss(student_output, teacher_output, it)
            optimizer.zero_grad()
            loss.backward()
            res[L] += [clip_gradients(student, 0.3)]
            cancel_gradients_last_layer(it, student, 1)
            optimizer.step()
            with L.no_grad():
                m = momentum_schedule[it]
                for param_q, param_k in zip(student.parameters(), teacher.parameters()):
                    param_k.data.mul_(m).add_((1 - m) * param_q.detach().data)
            res[L] += [loss, dino_loss.center.clone(), student_output, teacher_output]
        assert tuple(student_output.shape) == (12, 6) and loss.dtype == getattr(L, dtype)
        assert dino_loss.center.dtype == getattr(L, dtype)
        res[L] += list(student.state_dict().values()) + list(teacher.state_dict().values())
    _same(res, tol)


# --- CLIP's contrastive loss (openai/CLIP model.py; the training loss as open_clip's) --------

def _clip(L):
    torch, nn, F = L, L.nn, L.nn.functional

    class CLIP(nn.Module):
        def __init__(self, embed_dim, image_dim, text_dim):
            super().__init__()
            self.visual = nn.Linear(image_dim, embed_dim)
            self.text_projection = nn.Parameter(torch.empty(text_dim, embed_dim))
            nn.init.normal_(self.text_projection, std=text_dim ** -0.5)
            self.logit_scale = nn.Parameter(torch.ones([]) * np.log(1 / 0.07))

        def encode_image(self, image):
            return self.visual(image)

        def encode_text(self, text):
            return text @ self.text_projection

        def forward(self, image, text):
            image_features = self.encode_image(image)
            text_features = self.encode_text(text)
            image_features = image_features / image_features.norm(dim=1, keepdim=True)
            text_features = text_features / text_features.norm(dim=1, keepdim=True)
            logit_scale = self.logit_scale.exp()
            logits_per_image = logit_scale * image_features @ text_features.t()
            logits_per_text = logits_per_image.t()
            return logits_per_image, logits_per_text

    def clip_loss(logits_per_image, logits_per_text):
        labels = torch.arange(logits_per_image.shape[0], dtype=torch.long)
        return (F.cross_entropy(logits_per_image, labels)
                + F.cross_entropy(logits_per_text, labels)) / 2
    return CLIP, clip_loss


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_symmetric_loss_learned_temperature_and_training(dtype):
    tol = _dtype(dtype)
    models = _both(lambda L: _clip(L)[0](embed_dim=4, image_dim=6, text_dim=5))
    image, text = _views((5, 6), seed=9)[0], _views((5, 5), seed=10)[1]
    res, total = {}, 4
    for L, model in models.items():
        assert model.logit_scale.dtype == getattr(L, dtype) and model.logit_scale.dim() == 0
        clip_loss = _clip(L)[1]
        optimizer = L.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.2)
        sched = L.optim.lr_scheduler.LambdaLR(
            optimizer, lambda s: (s + 1) / 2 if s < 2 else 0.5 * (1 + math.cos(
                math.pi * (s - 2) / (total - 2))))
        res[L] = []
        for _ in range(total):
            logits_per_image, logits_per_text = model(L.tensor(image), L.tensor(text))
            loss = clip_loss(logits_per_image, logits_per_text)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sched.step()
            with L.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            res[L] += [logits_per_image, loss, model.logit_scale.grad, sched.get_last_lr()[0]]
        res[L] += list(model.state_dict().values())
    _same(res, tol)


# --- evaluation: MoCo's linear protocol (main_lincls.py) and the kNN monitor ---------------

def _knn_predict(L, feature, feature_bank, feature_labels, classes, knn_k, knn_t):
    """The kNN monitor of MoCo's CIFAR-10 demo and SimSiam ports."""
    torch = L
    sim_matrix = torch.mm(feature, feature_bank)
    sim_weight, sim_indices = sim_matrix.topk(k=knn_k, dim=-1)
    sim_labels = torch.gather(feature_labels.expand(feature.size(0), -1), dim=-1,
                              index=sim_indices)
    sim_weight = (sim_weight / knn_t).exp()
    one_hot_label = torch.zeros(feature.size(0) * knn_k, classes, device=sim_labels.device)
    one_hot_label = one_hot_label.scatter(dim=-1, index=sim_labels.view(-1, 1), value=1.0)
    pred_scores = torch.sum(one_hot_label.view(feature.size(0), -1, classes)
                            * sim_weight.unsqueeze(dim=-1), dim=1)
    return pred_scores, pred_scores.argsort(dim=-1, descending=True)


def test_moco_linear_eval_checkpoint_surgery_and_knn_monitor():
    tol = _dtype("float64")
    pretrained = _both(lambda L: _moco(L, "v2")(_tiny_resnet(L), dim=8, K=12, m=0.9))
    rng = np.random.default_rng(11)
    bank, bank_labels = rng.standard_normal((3, 4, 3, 8, 8)), rng.integers(0, 3, 12)
    query, target = rng.standard_normal((5, 3, 8, 8)), [0, 1, 2, 0, 1]
    res = {}
    for L, moco in pretrained.items():
        torch, nn, F = L, L.nn, L.nn.functional
        L.manual_seed(0)
        model = _tiny_resnet(L)(num_classes=3)
        for name, param in model.named_parameters():
            if name not in ["fc.weight", "fc.bias"]:
                param.requires_grad = False
        model.fc.weight.data.normal_(mean=0.0, std=0.01)
        model.fc.bias.data.zero_()
        state_dict = {"module." + k: v for k, v in moco.state_dict().items()}
        for k in list(state_dict.keys()):
            if k.startswith("module.encoder_q") and not k.startswith("module.encoder_q.fc"):
                state_dict[k[len("module.encoder_q."):]] = state_dict[k]
            del state_dict[k]
        msg = model.load_state_dict(state_dict, strict=False)
        assert set(msg.missing_keys) == {"fc.weight", "fc.bias"} and not msg.unexpected_keys
        parameters = list(filter(lambda p: p.requires_grad, model.parameters()))
        assert len(parameters) == 2
        assert bool((model.conv1.weight == moco.encoder_q.conv1.weight).all())
        model.fc = nn.Identity()
        model.eval()
        with torch.no_grad():
            feature_bank = [F.normalize(model(L.tensor(b)), dim=1) for b in bank]
            feature_bank = torch.cat(feature_bank, dim=0).t().contiguous()
            feature_labels = torch.tensor(bank_labels.tolist(), device=feature_bank.device)
            feature = F.normalize(model(L.tensor(query)), dim=1)
            scores, pred_labels = _knn_predict(L, feature, feature_bank, feature_labels, 3,
                                               knn_k=4, knn_t=0.1)
        top1 = (pred_labels[:, 0] == torch.tensor(target)).float().sum().item()
        res[L] = [feature_bank, scores, pred_labels[:, 0], top1]
    _same(res, tol)


# --- SwAV (facebookresearch/swav, main_swav.py) ------------------------------------------------

def _swav(L, args):
    torch, nn = L, L.nn

    class SwAVModel(nn.Module):     # resnet50's projection head and prototypes, tiny
        def __init__(self, output_dim=4, hidden_mlp=8, nmb_prototypes=5):
            super().__init__()
            self.backbone = _tiny_resnet(L)()
            self.backbone.fc = nn.Identity()
            self.projection_head = nn.Sequential(nn.Linear(8, hidden_mlp),
                                                 nn.BatchNorm1d(hidden_mlp), nn.ReLU(inplace=True),
                                                 nn.Linear(hidden_mlp, output_dim))
            self.l2norm = True
            self.prototypes = nn.Linear(output_dim, nmb_prototypes, bias=False)

        def forward(self, inputs):
            x = self.projection_head(self.backbone(torch.cat(inputs)))
            if self.l2norm:
                x = nn.functional.normalize(x, dim=1, p=2)
            return x, self.prototypes(x)

    @torch.no_grad()
    def distributed_sinkhorn(out):
        Q = torch.exp(out / args.epsilon).t()
        B = Q.shape[1] * args.world_size
        K = Q.shape[0]
        sum_Q = torch.sum(Q)
        Q /= sum_Q
        for it in range(args.sinkhorn_iterations):
            sum_of_rows = torch.sum(Q, dim=1, keepdim=True)
            Q /= sum_of_rows
            Q /= K
            Q /= torch.sum(Q, dim=0, keepdim=True)
            Q /= B
        Q *= B
        return Q.t()

    def train_step(model, optimizer, inputs, queue, iteration):
        bs = inputs[0].size(0)
        with torch.no_grad():       # normalize the prototypes
            w = model.prototypes.weight.data.clone()
            w = nn.functional.normalize(w, dim=1, p=2)
            model.prototypes.weight.copy_(w)
        embedding, output = model(inputs)
        embedding = embedding.detach()
        loss = 0
        for i, crop_id in enumerate(args.crops_for_assign):
            with torch.no_grad():
                out = output[bs * crop_id: bs * (crop_id + 1)].detach()
                if queue is not None:
                    out = torch.cat((torch.mm(queue[i], model.prototypes.weight.t()), out))
                    queue[i, bs:] = queue[i, :-bs].clone()
                    queue[i, :bs] = embedding[crop_id * bs: (crop_id + 1) * bs]
                q = distributed_sinkhorn(out)[-bs:]
            subloss = 0
            for v in np.delete(np.arange(np.sum(args.nmb_crops)), crop_id):
                x = output[bs * v: bs * (v + 1)] / args.temperature
                subloss -= torch.mean(torch.sum(q * nn.functional.log_softmax(x, dim=1), dim=1))
            loss += subloss / (np.sum(args.nmb_crops) - 1)
        loss /= len(args.crops_for_assign)
        optimizer.zero_grad()
        loss.backward()
        if iteration < args.freeze_prototypes_niters:
            for name, p in model.named_parameters():
                if "prototypes" in name:
                    p.grad = None
        optimizer.step()
        return loss
    return SwAVModel, train_step


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_swav_sinkhorn_queue_prototypes_and_training(dtype):
    tol = _dtype(dtype)
    args = types.SimpleNamespace(epsilon=0.05, world_size=1, sinkhorn_iterations=3,
                                 crops_for_assign=[0, 1], nmb_crops=[2, 1], temperature=0.1,
                                 freeze_prototypes_niters=1)
    models = _both(lambda L: _swav(L, args)[0]())
    rng = np.random.default_rng(12)
    crops = [rng.standard_normal((4, 3, 8, 8)).astype(dtype) for _ in range(3)]
    res = {}
    for L, model in models.items():
        train_step = _swav(L, args)[1]
        queue = L.zeros(len(args.crops_for_assign), 8, 4)
        optimizer = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6)
        res[L] = []
        for it in range(3):
            loss = train_step(model, optimizer, [L.tensor(c) for c in crops], queue, it)
            assert loss.dtype == getattr(L, dtype)
            res[L] += [loss, queue.clone()]
        res[L] += list(model.state_dict().values())
    _same(res, tol)
