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
        assert np.shape(z) == np.shape(t)
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


# --- Johnson's fast neural style (pytorch/examples fast_neural_style), channels scaled down --

def _fast_style(torch, w=4, n_res=2):
    """transformer_net.py, vgg.py and utils.py of the example, for the library ``torch``."""

    class ConvLayer(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride):
            super(ConvLayer, self).__init__()
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            out = self.reflection_pad(x)
            out = self.conv2d(out)
            return out

    class ResidualBlock(torch.nn.Module):
        def __init__(self, channels):
            super(ResidualBlock, self).__init__()
            self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
            self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
            self.relu = torch.nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            out = out + residual
            return out

    class UpsampleConvLayer(torch.nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
            super(UpsampleConvLayer, self).__init__()
            self.upsample = upsample
            reflection_padding = kernel_size // 2
            self.reflection_pad = torch.nn.ReflectionPad2d(reflection_padding)
            self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

        def forward(self, x):
            x_in = x
            if self.upsample:
                x_in = torch.nn.functional.interpolate(x_in, mode='nearest',
                                                       scale_factor=self.upsample)
            out = self.reflection_pad(x_in)
            out = self.conv2d(out)
            return out

    class TransformerNet(torch.nn.Module):
        def __init__(self):
            super(TransformerNet, self).__init__()
            self.conv1 = ConvLayer(3, w, kernel_size=9, stride=1)
            self.in1 = torch.nn.InstanceNorm2d(w, affine=True)
            self.conv2 = ConvLayer(w, 2 * w, kernel_size=3, stride=2)
            self.in2 = torch.nn.InstanceNorm2d(2 * w, affine=True)
            self.conv3 = ConvLayer(2 * w, 4 * w, kernel_size=3, stride=2)
            self.in3 = torch.nn.InstanceNorm2d(4 * w, affine=True)
            self.res = torch.nn.Sequential(*[ResidualBlock(4 * w) for _ in range(n_res)])
            self.deconv1 = UpsampleConvLayer(4 * w, 2 * w, kernel_size=3, stride=1, upsample=2)
            self.in4 = torch.nn.InstanceNorm2d(2 * w, affine=True)
            self.deconv2 = UpsampleConvLayer(2 * w, w, kernel_size=3, stride=1, upsample=2)
            self.in5 = torch.nn.InstanceNorm2d(w, affine=True)
            self.deconv3 = ConvLayer(w, 3, kernel_size=9, stride=1)
            self.relu = torch.nn.ReLU()

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.relu(self.in3(self.conv3(y)))
            y = self.res(y)
            y = self.relu(self.in4(self.deconv1(y)))
            y = self.relu(self.in5(self.deconv2(y)))
            y = self.deconv3(y)
            return y

    class Vgg16(torch.nn.Module):
        def __init__(self, features, requires_grad=False):
            super(Vgg16, self).__init__()
            self.slice1 = torch.nn.Sequential()
            self.slice2 = torch.nn.Sequential()
            self.slice3 = torch.nn.Sequential()
            for x in range(2):
                self.slice1.add_module(str(x), features[x])
            for x in range(2, 5):
                self.slice2.add_module(str(x), features[x])
            for x in range(5, len(features)):
                self.slice3.add_module(str(x), features[x])
            if not requires_grad:
                for param in self.parameters():
                    param.requires_grad = False

        def forward(self, X):
            h = self.slice1(X)
            h_relu1_2 = h
            h = self.slice2(h)
            h_relu2_2 = h
            h = self.slice3(h)
            h_relu3_3 = h
            vgg_outputs = namedtuple("VggOutputs", ['relu1_2', 'relu2_2', 'relu3_3'])
            out = vgg_outputs(h_relu1_2, h_relu2_2, h_relu3_3)
            return out

    def gram_matrix(y):
        (b, ch, h, w) = y.size()
        features = y.view(b, ch, w * h)
        features_t = features.transpose(1, 2)
        gram = features.bmm(features_t) / (ch * h * w)
        return gram

    def normalize_batch(batch):
        mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
        std = batch.new_tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
        batch = batch.div_(255.0)
        return (batch - mean) / std

    return TransformerNet, Vgg16, gram_matrix, normalize_batch


def _train_fast_style(lib, transformer, vgg, style0, batches, tv_weight=1e-4):
    """The example's training loop (its ``train``), plus a total variation term."""
    _, _, gram_matrix, normalize_batch = _fast_style(lib)
    optimizer = lib.optim.Adam(transformer.parameters(), 1e-3)
    mse_loss = lib.nn.MSELoss()
    style = lib.tensor(style0).mul(255).repeat(2, 1, 1, 1)
    features_style = vgg(normalize_batch(style))
    gram_style = [gram_matrix(y) for y in features_style]
    out = []
    transformer.train()
    agg_content_loss = agg_style_loss = 0.
    for x0 in batches:
        x = lib.tensor(x0) * 255
        n_batch = len(x)
        optimizer.zero_grad()
        y = transformer(x)
        tv = (lib.sum(lib.abs(y[:, :, :, :-1] - y[:, :, :, 1:]))
              + lib.sum(lib.abs(y[:, :, :-1, :] - y[:, :, 1:, :])))
        y = normalize_batch(y)
        x = normalize_batch(x)
        features_y = vgg(y)
        features_x = vgg(x)
        content_loss = 1e5 * mse_loss(features_y.relu2_2, features_x.relu2_2)
        style_loss = 0.
        for ft_y, gm_s in zip(features_y, gram_style):
            gm_y = gram_matrix(ft_y)
            style_loss += mse_loss(gm_y, gm_s[:n_batch, :, :])
        style_loss *= 1e10
        total_loss = content_loss + style_loss + tv_weight * tv
        total_loss.backward()
        optimizer.step()
        agg_content_loss += content_loss.item()
        agg_style_loss += style_loss.item()
        out += [total_loss, tv]
    assert all(p.grad is None for p in vgg.parameters())
    return out + [agg_content_loss, agg_style_loss, *features_style, *gram_style]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fast_neural_style_transformer_vgg_gram_and_adam_steps(dtype, f32):
    rng = np.random.default_rng(2)
    dt = getattr(np, dtype)
    torch.set_default_dtype(getattr(torch, dtype))
    zeroin.set_default_dtype(getattr(zeroin, dtype))
    torch.manual_seed(2)
    style0 = _images(rng, 1, 3, 16, 16, dtype=dt)
    batches = [_images(rng, 2, 3, 16, 16, dtype=dt) for _ in range(2)]
    nets = {}
    for lib in LIBS:
        TransformerNet, Vgg16, _, _ = _fast_style(lib)
        nets[lib] = TransformerNet(), Vgg16(_vgg_like(lib.nn)[:8])
    for tm, zm in zip(nets[torch], nets[zeroin]):
        _copy(tm, zm)
    res = {}
    for lib in LIBS:
        transformer, vgg = nets[lib]
        assert not any(p.requires_grad for p in vgg.parameters())
        feats = vgg(lib.tensor(batches[0]))
        assert type(feats).__name__ == "VggOutputs" and feats._fields[1] == "relu2_2"
        res[lib] = _train_fast_style(lib, transformer, vgg, style0, batches)
        # a conv bias just before an InstanceNorm, and a residual block's last InstanceNorm
        # bias (a per-channel shift that the next convolution and InstanceNorm remove), have
        # zero gradient up to rounding, which Adam scales up: their steps are noise in both
        # libraries, so they are left out
        res[lib] += [transformer(lib.tensor(batches[0]))] + [
            p for n, p in transformer.named_parameters()
            if not (n.endswith("conv2d.bias") and not n.startswith("deconv3")
                    or n.startswith("res.") and n.endswith("in2.bias"))]
    if dtype == "float64":
        _same(res, 1e-9)
    else:       # the style loss (1e10 times a difference of grams) to float resolution
        _same(res, rtol=1e-4, atol=1e-4)
