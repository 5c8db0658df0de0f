"""Audit of neural style transfer and image-to-image GANs as learners port them (``import
zeroin as torch``, ``from zeroin import nn``, ``zeroin.nn.functional as F``, ``import
zeroin.optim as optim``): PyTorch's "Neural Transfer Using PyTorch" tutorial (content and
style losses inside a rebuilt ``nn.Sequential``, L-BFGS on the image), Johnson's fast neural
style (pytorch/examples ``fast_neural_style``: ``TransformerNet``, a VGG feature extractor
returning a ``namedtuple``, Adam) and junyanz's pix2pix / CycleGAN (U-Net and ResNet
generators, PatchGAN, ``GANLoss``, ``ImagePool``, ``LambdaLR``), written small (16x16
images, a few channels, random weights: no download). Each is run with ``torch`` and with
``zeroin`` on the same synthetic images and the same weights (copied from torch), and the
outputs, losses, gradients and a few optimiser steps compared: float64 to 1e-10, float32 to
float resolution. See docs/style.md."""
import copy
import functools
import itertools
import random
from collections import namedtuple

import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)
from _audit import torch_stream

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-5, atol=2e-6)


@pytest.fixture
def torch64():
    """torch in float64 for the test (zeroin's default)."""
    torch.set_default_dtype(torch.float64)


def _same(res, tol=1e-10, **tols):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol, **tols)


def _images(rng, *shape, dtype=np.float64):
    return rng.uniform(0, 1, size=shape).astype(dtype)


# --- PyTorch's "Neural Transfer Using PyTorch" tutorial, as written --------------------------

def _tutorial(torch):
    """The tutorial's code, verbatim but for the library it is given (``torch``)."""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim

    class ContentLoss(nn.Module):
        def __init__(self, target,):
            super(ContentLoss, self).__init__()
            self.target = target.detach()

        def forward(self, input):
            self.loss = F.mse_loss(input, self.target)
            return input

    def gram_matrix(input):
        a, b, c, d = input.size()
        features = input.view(a * b, c * d)
        G = torch.mm(features, features.t())
        return G.div(a * b * c * d)

    class StyleLoss(nn.Module):
        def __init__(self, target_feature):
            super(StyleLoss, self).__init__()
            self.target = gram_matrix(target_feature).detach()

        def forward(self, input):
            G = gram_matrix(input)
            self.loss = F.mse_loss(G, self.target)
            return input

    class Normalization(nn.Module):
        def __init__(self, mean, std):
            super(Normalization, self).__init__()
            self.mean = torch.tensor(mean).view(-1, 1, 1)
            self.std = torch.tensor(std).view(-1, 1, 1)

        def forward(self, img):
            return (img - self.mean) / self.std

    def get_style_model_and_losses(cnn, normalization_mean, normalization_std, style_img,
                                   content_img, content_layers=("conv_4",),
                                   style_layers=("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")):
        normalization = Normalization(normalization_mean, normalization_std)
        content_losses = []
        style_losses = []
        model = nn.Sequential(normalization)
        i = 0
        for layer in cnn.children():
            if isinstance(layer, nn.Conv2d):
                i += 1
                name = 'conv_{}'.format(i)
            elif isinstance(layer, nn.ReLU):
                name = 'relu_{}'.format(i)
                layer = nn.ReLU(inplace=False)
            elif isinstance(layer, nn.MaxPool2d):
                name = 'pool_{}'.format(i)
            elif isinstance(layer, nn.BatchNorm2d):
                name = 'bn_{}'.format(i)
            else:
                raise RuntimeError('Unrecognized layer: {}'.format(layer.__class__.__name__))
            model.add_module(name, layer)
            if name in content_layers:
                target = model(content_img).detach()
                content_loss = ContentLoss(target)
                model.add_module("content_loss_{}".format(i), content_loss)
                content_losses.append(content_loss)
            if name in style_layers:
                target_feature = model(style_img).detach()
                style_loss = StyleLoss(target_feature)
                model.add_module("style_loss_{}".format(i), style_loss)
                style_losses.append(style_loss)
        for i in range(len(model) - 1, -1, -1):
            if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
                break
        model = model[:(i + 1)]
        return model, style_losses, content_losses

    def run_style_transfer(cnn, normalization_mean, normalization_std, content_img, style_img,
                           input_img, num_steps=300, style_weight=1000000, content_weight=1,
                           trace=None):
        model, style_losses, content_losses = get_style_model_and_losses(
            cnn, normalization_mean, normalization_std, style_img, content_img)
        input_img.requires_grad_(True)
        model.eval()
        model.requires_grad_(False)
        optimizer = optim.LBFGS([input_img])
        run = [0]
        while run[0] <= num_steps:
            def closure():
                with torch.no_grad():
                    input_img.clamp_(0, 1)
                optimizer.zero_grad()
                model(input_img)
                style_score = 0
                content_score = 0
                for sl in style_losses:
                    style_score += sl.loss
                for cl in content_losses:
                    content_score += cl.loss
                style_score *= style_weight
                content_score *= content_weight
                loss = style_score + content_score
                loss.backward()
                run[0] += 1
                trace.append((style_score.item(), content_score.item()))
                return style_score + content_score
            optimizer.step(closure)
        with torch.no_grad():
            input_img.clamp_(0, 1)
        return input_img, model

    return gram_matrix, get_style_model_and_losses, run_style_transfer


def _vgg_like(nn, batch_norm=False):
    """A VGG-like ``features`` stack (``ReLU(inplace=True)`` as torchvision's), 5 convs."""
    layers, c_in = [], 3
    for c_out in (4, "M", 6, 6, "M", 8, 8):
        if c_out == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1))
        layers += [nn.BatchNorm2d(c_out)] if batch_norm else []
        layers.append(nn.ReLU(inplace=True))
        c_in = c_out
    return nn.Sequential(*layers)


def test_tutorial_model_rebuild_losses_and_gradient(torch64):
    rng = np.random.default_rng(0)
    style0, content0 = _images(rng, 1, 3, 16, 16), _images(rng, 1, 3, 16, 16)
    torch.manual_seed(0)
    cnns = {torch: _vgg_like(torch.nn, batch_norm=True).eval()}
    cnns[zeroin] = _copy(cnns[torch], _vgg_like(zeroin.nn, batch_norm=True).eval())
    res = {}
    for lib in LIBS:
        gram_matrix, build, _ = _tutorial(lib)
        mean = lib.tensor([0.485, 0.456, 0.406])
        std = lib.tensor([0.229, 0.224, 0.225])
        with pytest.warns(UserWarning, match="copy construct"):
            model, sl, cl = build(cnns[lib], mean, std, lib.tensor(style0), lib.tensor(content0))
        names = [n for n, _ in model.named_children()]
        assert names[0] == "0" and names[-1] == "style_loss_5" and "content_loss_4" in names
        assert "pool_3" in names and "bn_1" in names and len(sl) == 5 and len(cl) == 1
        assert not any(m.inplace for m in model.modules() if isinstance(m, lib.nn.ReLU))
        assert type(model) is lib.nn.Sequential and len(model) == len(names)
        x = lib.tensor(content0 * 0.5 + 0.25).requires_grad_(True)
        model.requires_grad_(False)
        model(x)
        loss = 1e6 * sum(s.loss for s in sl) + cl[0].loss
        loss.backward()
        res[lib] = [loss, *[s.loss for s in sl], cl[0].loss, x.grad, gram_matrix(x.detach())]
    assert res[torch][3].item() > 0
    _same(res)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_tutorial_lbfgs_style_transfer_runs_as_torchs(dtype, f32):
    rng = np.random.default_rng(1)
    dt = getattr(np, dtype)
    style0, content0 = _images(rng, 1, 3, 16, 16, dtype=dt), _images(rng, 1, 3, 16, 16, dtype=dt)
    torch.set_default_dtype(getattr(torch, dtype))
    zeroin.set_default_dtype(getattr(zeroin, dtype))
    torch.manual_seed(1)
    cnns = {torch: _vgg_like(torch.nn).eval()}
    cnns[zeroin] = _copy(cnns[torch], _vgg_like(zeroin.nn).eval())
    res, traces = {}, {}
    for lib in LIBS:
        _, _, run_style_transfer = _tutorial(lib)
        mean = [0.485, 0.456, 0.406]                         # lists: no copy-construct warning
        std = [0.229, 0.224, 0.225]
        content_img, style_img = lib.tensor(content0), lib.tensor(style0)
        input_img = content_img.clone()
        traces[lib] = []
        out, model = run_style_transfer(cnns[lib], mean, std, content_img, style_img, input_img,
                                        num_steps=3, trace=traces[lib])
        assert out is input_img and out.dtype == getattr(lib, dtype)
        assert not any(p.requires_grad for p in model.parameters())
        res[lib] = [out, out.grad]
    assert len(traces[zeroin]) == len(traces[torch]) > 3
    assert traces[torch][-1][0] < traces[torch][0][0]        # the style loss went down
    if dtype == "float64":
        _close(np.array(traces[zeroin]), np.array(traces[torch]), rtol=1e-9, atol=1e-10)
        _same(res, rtol=1e-9, atol=1e-10)
    else:   # 20 L-BFGS iterations amplify float32's rounding (torch's own runs differ by
        # 1e-2 by the last): the first iterations to float resolution, then both descend
        _close(np.array(traces[zeroin][:2]), np.array(traces[torch][:2]), **F32)
        assert traces[zeroin][-1][0] < 0.1 * traces[zeroin][0][0]
        assert traces[torch][-1][0] < 0.1 * traces[torch][0][0]
