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
# the sources' code is kept as they write it (super(Class, self), str.format, ...):
# ruff: noqa: UP008, UP032, UP039, TRY004, SIM101, SIM102
import functools
import itertools
import random
from collections import namedtuple

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
F32 = {"rtol": 2e-5, "atol": 2e-6}


@pytest.fixture
def torch64():
    """torch in float64 for the test (zeroin's default)."""
    torch.set_default_dtype(torch.float64)


def _same(res, tol=1e-10, **tols):
    """Each zeroin result beside torch's: the same shape and values."""
    for i, (z, t) in enumerate(zip(res[zeroin], res[torch], strict=True)):
        assert np.shape(z) == np.shape(t), i
        try:
            _close(z, t, tol, **tols)
        except AssertionError as e:
            raise AssertionError(f"result {i} of {len(res[torch])}: {e}") from None


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


def _closure(optimizer, model, x, losses, calls):
    """An L-BFGS closure on the tutorial's model: 1e6 * the style losses + the content loss
    (the last of ``losses``), each value appended to ``calls``."""
    def closure():
        optimizer.zero_grad()
        model(x)
        loss = 1e6 * sum(s.loss for s in losses[:-1]) + losses[-1].loss
        loss.backward()
        calls.append(loss.item())
        return loss
    return closure


@pytest.mark.parametrize("kw", [{"line_search_fn": "strong_wolfe", "max_iter": 5},
                                {"lr": 0.5, "max_iter": 4, "history_size": 2},
                                {"line_search_fn": "strong_wolfe", "max_iter": 6, "max_eval": 7}])
def test_tutorial_losses_under_lbfgs_options_step_returns_and_state(kw, torch64):
    """The tutorial's model with the L-BFGS options learners change: ``step`` returns the
    closure's first loss, and ``n_iter`` / ``func_evals`` count as torch's."""
    rng = np.random.default_rng(5)
    style0, content0 = _images(rng, 1, 3, 16, 16), _images(rng, 1, 3, 16, 16)
    torch.manual_seed(5)
    cnns = {torch: _vgg_like(torch.nn).eval()}
    cnns[zeroin] = _copy(cnns[torch], _vgg_like(zeroin.nn).eval())
    res, calls = {}, {}
    for lib in LIBS:
        _, build, _ = _tutorial(lib)
        model, sl, cl = build(cnns[lib], [0.485, 0.456, 0.406], [0.229, 0.224, 0.225],
                              lib.tensor(style0), lib.tensor(content0))
        x = lib.tensor(content0).requires_grad_(True)
        model.requires_grad_(False)
        optimizer = lib.optim.LBFGS([x], **kw)
        calls[lib] = []
        closure = _closure(optimizer, model, x, sl + cl, calls[lib])
        returned = [optimizer.step(closure) for _ in range(3)]
        state = optimizer.state_dict()["state"][0]
        assert state["func_evals"] == len(calls[lib])
        res[lib] = [*returned, x, state["d"], state["prev_flat_grad"], state["H_diag"],
                    lib.tensor(float(state["n_iter"]))]
    assert len(calls[zeroin]) == len(calls[torch]) > 3
    _close(np.array(calls[zeroin]), np.array(calls[torch]), rtol=1e-9, atol=1e-10)
    _same(res, rtol=1e-9, atol=1e-10)


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


# --- pix2pix / CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix), written small ---------------

def _cyclegan(torch):
    """networks.py, image_pool.py and the models' training steps, for the library ``torch``."""
    nn, init, lr_scheduler = torch.nn, torch.nn.init, torch.optim.lr_scheduler

    def init_weights(net, init_type='normal', init_gain=0.02):
        def init_func(m):
            classname = m.__class__.__name__
            if hasattr(m, 'weight') and (classname.find('Conv') != -1
                                         or classname.find('Linear') != -1):
                if init_type == 'normal':
                    init.normal_(m.weight.data, 0.0, init_gain)
                elif init_type == 'xavier':
                    init.xavier_normal_(m.weight.data, gain=init_gain)
                elif init_type == 'kaiming':
                    init.kaiming_normal_(m.weight.data, a=0, mode='fan_in')
                if hasattr(m, 'bias') and m.bias is not None:
                    init.constant_(m.bias.data, 0.0)
            elif classname.find('BatchNorm2d') != -1:
                init.normal_(m.weight.data, 1.0, init_gain)
                init.constant_(m.bias.data, 0.0)
        net.apply(init_func)

    def get_scheduler(optimizer, epoch_count=1, n_epochs=2, n_epochs_decay=3):
        def lambda_rule(epoch):
            lr_l = 1.0 - max(0, epoch + epoch_count - n_epochs) / float(n_epochs_decay + 1)
            return lr_l
        return lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda_rule)

    class ResnetBlock(nn.Module):
        def __init__(self, dim, norm_layer, use_bias):
            super(ResnetBlock, self).__init__()
            conv_block = [nn.ReflectionPad2d(1),
                          nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                          norm_layer(dim), nn.ReLU(True), nn.ReflectionPad2d(1),
                          nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=use_bias),
                          norm_layer(dim)]
            self.conv_block = nn.Sequential(*conv_block)

        def forward(self, x):
            out = x + self.conv_block(x)
            return out

    class ResnetGenerator(nn.Module):
        def __init__(self, input_nc, output_nc, ngf=4, norm_layer=nn.BatchNorm2d, n_blocks=1):
            super(ResnetGenerator, self).__init__()
            if type(norm_layer) == functools.partial:
                use_bias = norm_layer.func == nn.InstanceNorm2d
            else:
                use_bias = norm_layer == nn.InstanceNorm2d
            model = [nn.ReflectionPad2d(3),
                     nn.Conv2d(input_nc, ngf, kernel_size=7, padding=0, bias=use_bias),
                     norm_layer(ngf), nn.ReLU(True)]
            n_downsampling = 2
            for i in range(n_downsampling):
                mult = 2 ** i
                model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2,
                                    padding=1, bias=use_bias),
                          norm_layer(ngf * mult * 2), nn.ReLU(True)]
            mult = 2 ** n_downsampling
            for i in range(n_blocks):
                model += [ResnetBlock(ngf * mult, norm_layer=norm_layer, use_bias=use_bias)]
            for i in range(n_downsampling):
                mult = 2 ** (n_downsampling - i)
                model += [nn.ConvTranspose2d(ngf * mult, int(ngf * mult / 2), kernel_size=3,
                                             stride=2, padding=1, output_padding=1,
                                             bias=use_bias),
                          norm_layer(int(ngf * mult / 2)), nn.ReLU(True)]
            model += [nn.ReflectionPad2d(3)]
            model += [nn.Conv2d(ngf, output_nc, kernel_size=7, padding=0)]
            model += [nn.Tanh()]
            self.model = nn.Sequential(*model)

        def forward(self, input):
            return self.model(input)

    class UnetSkipConnectionBlock(nn.Module):
        def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                     innermost=False, norm_layer=nn.BatchNorm2d, use_dropout=False):
            super(UnetSkipConnectionBlock, self).__init__()
            self.outermost = outermost
            if type(norm_layer) == functools.partial:
                use_bias = norm_layer.func == nn.InstanceNorm2d
            else:
                use_bias = norm_layer == nn.InstanceNorm2d
            if input_nc is None:
                input_nc = outer_nc
            downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1,
                                 bias=use_bias)
            downrelu = nn.LeakyReLU(0.2, True)
            downnorm = norm_layer(inner_nc)
            uprelu = nn.ReLU(True)
            upnorm = norm_layer(outer_nc)
            if outermost:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                            padding=1)
                down = [downconv]
                up = [uprelu, upconv, nn.Tanh()]
                model = down + [submodule] + up
            elif innermost:
                upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2,
                                            padding=1, bias=use_bias)
                down = [downrelu, downconv]
                up = [uprelu, upconv, upnorm]
                model = down + up
            else:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                            padding=1, bias=use_bias)
                down = [downrelu, downconv, downnorm]
                up = [uprelu, upconv, upnorm]
                if use_dropout:
                    model = down + [submodule] + up + [nn.Dropout(0.5)]
                else:
                    model = down + [submodule] + up
            self.model = nn.Sequential(*model)

        def forward(self, x):
            if self.outermost:
                return self.model(x)
            else:
                return torch.cat([x, self.model(x)], 1)

    class UnetGenerator(nn.Module):
        """The repository's, with 4 downsamplings (16x16 to 1x1) instead of 8."""
        def __init__(self, input_nc, output_nc, ngf=4, norm_layer=nn.BatchNorm2d,
                     use_dropout=False):
            super(UnetGenerator, self).__init__()
            unet_block = UnetSkipConnectionBlock(ngf * 4, ngf * 4, input_nc=None, submodule=None,
                                                 norm_layer=norm_layer, innermost=True)
            unet_block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, input_nc=None,
                                                 submodule=unet_block, norm_layer=norm_layer,
                                                 use_dropout=use_dropout)
            unet_block = UnetSkipConnectionBlock(ngf, ngf * 2, input_nc=None,
                                                 submodule=unet_block, norm_layer=norm_layer)
            self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc,
                                                 submodule=unet_block, outermost=True,
                                                 norm_layer=norm_layer)

        def forward(self, input):
            return self.model(input)

    class NLayerDiscriminator(nn.Module):
        def __init__(self, input_nc, ndf=4, n_layers=2, norm_layer=nn.BatchNorm2d):
            super(NLayerDiscriminator, self).__init__()
            if type(norm_layer) == functools.partial:
                use_bias = norm_layer.func == nn.InstanceNorm2d
            else:
                use_bias = norm_layer == nn.InstanceNorm2d
            kw = 4
            padw = 1
            sequence = [nn.Conv2d(input_nc, ndf, kernel_size=kw, stride=2, padding=padw),
                        nn.LeakyReLU(0.2, True)]
            nf_mult = 1
            nf_mult_prev = 1
            for n in range(1, n_layers):
                nf_mult_prev = nf_mult
                nf_mult = min(2 ** n, 8)
                sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw,
                                       stride=2, padding=padw, bias=use_bias),
                             norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
            nf_mult_prev = nf_mult
            nf_mult = min(2 ** n_layers, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kernel_size=kw, stride=1,
                                   padding=padw, bias=use_bias),
                         norm_layer(ndf * nf_mult), nn.LeakyReLU(0.2, True)]
            sequence += [nn.Conv2d(ndf * nf_mult, 1, kernel_size=kw, stride=1, padding=padw)]
            self.model = nn.Sequential(*sequence)

        def forward(self, input):
            return self.model(input)

    class GANLoss(nn.Module):
        def __init__(self, gan_mode, target_real_label=1.0, target_fake_label=0.0):
            super(GANLoss, self).__init__()
            self.register_buffer('real_label', torch.tensor(target_real_label))
            self.register_buffer('fake_label', torch.tensor(target_fake_label))
            self.gan_mode = gan_mode
            if gan_mode == 'lsgan':
                self.loss = nn.MSELoss()
            elif gan_mode == 'vanilla':
                self.loss = nn.BCEWithLogitsLoss()
            elif gan_mode in ['wgangp']:
                self.loss = None

        def get_target_tensor(self, prediction, target_is_real):
            if target_is_real:
                target_tensor = self.real_label
            else:
                target_tensor = self.fake_label
            return target_tensor.expand_as(prediction)

        def __call__(self, prediction, target_is_real):
            if self.gan_mode in ['lsgan', 'vanilla']:
                target_tensor = self.get_target_tensor(prediction, target_is_real)
                loss = self.loss(prediction, target_tensor)
            elif self.gan_mode == 'wgangp':
                loss = -prediction.mean() if target_is_real else prediction.mean()
            return loss

    class ImagePool():
        def __init__(self, pool_size):
            self.pool_size = pool_size
            if self.pool_size > 0:
                self.num_imgs = 0
                self.images = []

        def query(self, images):
            if self.pool_size == 0:
                return images
            return_images = []
            for image in images:
                image = torch.unsqueeze(image.data, 0)
                if self.num_imgs < self.pool_size:
                    self.num_imgs = self.num_imgs + 1
                    self.images.append(image)
                    return_images.append(image)
                else:
                    p = random.uniform(0, 1)
                    if p > 0.5:
                        random_id = random.randint(0, self.pool_size - 1)
                        tmp = self.images[random_id].clone()
                        self.images[random_id] = image
                        return_images.append(tmp)
                    else:
                        return_images.append(image)
            return_images = torch.cat(return_images, 0)
            return return_images

    def set_requires_grad(nets, requires_grad=False):
        if not isinstance(nets, list):
            nets = [nets]
        for net in nets:
            if net is not None:
                for param in net.parameters():
                    param.requires_grad = requires_grad

    return {"init_weights": init_weights, "get_scheduler": get_scheduler, "GANLoss": GANLoss,
            "ResnetGenerator": ResnetGenerator, "UnetGenerator": UnetGenerator,
            "NLayerDiscriminator": NLayerDiscriminator, "ImagePool": ImagePool,
            "set_requires_grad": set_requires_grad}


def _norm(lib, kind):
    """The repository's ``get_norm_layer``."""
    if kind == 'batch':
        return functools.partial(lib.nn.BatchNorm2d, affine=True, track_running_stats=True)
    return functools.partial(lib.nn.InstanceNorm2d, affine=False, track_running_stats=False)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_init_weights_by_apply_matches_torch_on_its_stream(dtype, f32):
    torch_stream()
    torch.set_default_dtype(getattr(torch, dtype))
    zeroin.set_default_dtype(getattr(zeroin, dtype))
    nets = {}
    for lib in LIBS:
        c = _cyclegan(lib)
        lib.manual_seed(5)
        G = c["UnetGenerator"](3, 3, norm_layer=_norm(lib, 'batch'))
        D = c["NLayerDiscriminator"](6, norm_layer=_norm(lib, 'batch'))
        for net in (G, D):
            c["init_weights"](net, 'normal', 0.02)
        c["init_weights"](G, 'xavier', 0.02)
        nets[lib] = [*G.state_dict().values(), *D.state_dict().values()]
    bn = [t for t in nets[torch] if t.ndim == 1 and float(t.float().mean()) > 0.9]
    assert bn and all(abs(float(t.float().std())) < 0.1 for t in bn)
    _same({lib: nets[lib] for lib in LIBS}, 0)


def _pair(build):
    """``build(lib)`` for both libraries, torch's weights (and buffers) copied into zeroin's."""
    nets = {lib: build(lib) for lib in LIBS}
    for tm, zm in zip(nets[torch], nets[zeroin]):
        _copy(tm, zm)
    return nets


@pytest.mark.parametrize("gan_mode, norm, dropout", [("vanilla", "batch", False),
                                                     ("lsgan", "instance", False),
                                                     ("vanilla", "batch", True)])
def test_pix2pix_unet_patchgan_alternating_steps(gan_mode, norm, dropout, torch64):
    """pix2pix's ``optimize_parameters``; with ``use_dropout`` (pix2pix's default) the masks
    are drawn from torch's stream on both sides."""
    if dropout:
        torch_stream()
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    A0, B0 = rng.uniform(-1, 1, (2, 2 - dropout, 3, 16, 16))

    def build(lib):
        c = _cyclegan(lib)
        G = c["UnetGenerator"](3, 3, norm_layer=_norm(lib, norm), use_dropout=dropout)
        D = c["NLayerDiscriminator"](6, norm_layer=_norm(lib, norm))
        return G, D
    nets = _pair(build)
    res, noisy = {}, None
    for lib in LIBS:
        c, (netG, netD) = _cyclegan(lib), nets[lib]
        criterionGAN, criterionL1 = c["GANLoss"](gan_mode), lib.nn.L1Loss()
        assert [n for n, _ in criterionGAN.named_buffers()] == ["real_label", "fake_label"]
        optimizer_G = lib.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        optimizer_D = lib.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        schedulers = [c["get_scheduler"](o) for o in (optimizer_G, optimizer_D)]
        real_A, real_B = lib.tensor(A0), lib.tensor(B0)
        lib.manual_seed(0)
        out = []
        for epoch in range(3):
            fake_B = netG(real_A)
            c["set_requires_grad"](netD, True)
            optimizer_D.zero_grad()
            fake_AB = lib.cat((real_A, fake_B), 1)
            pred_fake = netD(fake_AB.detach())
            loss_D_fake = criterionGAN(pred_fake, False)
            real_AB = lib.cat((real_A, real_B), 1)
            pred_real = netD(real_AB)
            loss_D_real = criterionGAN(pred_real, True)
            loss_D = (loss_D_fake + loss_D_real) * 0.5
            loss_D.backward()
            optimizer_D.step()
            c["set_requires_grad"](netD, False)
            optimizer_G.zero_grad()
            d_grads = [p.grad.clone() for p in netD.parameters()]
            fake_AB = lib.cat((real_A, fake_B), 1)
            pred_fake = netD(fake_AB)
            loss_G_GAN = criterionGAN(pred_fake, True)
            loss_G_L1 = criterionL1(fake_B, real_B) * 100.0
            loss_G = loss_G_GAN + loss_G_L1
            loss_G.backward()
            assert all(bool((p.grad == g).all()) for p, g in zip(netD.parameters(), d_grads))
            grads = [p.grad.clone() for p in netG.parameters()]
            optimizer_G.step()
            for scheduler in schedulers:
                scheduler.step()
            out += [loss_D, loss_G_GAN, loss_G_L1, pred_fake, fake_B, *grads,
                    lib.tensor(optimizer_G.param_groups[0]['lr'])]
        netG.eval()
        noisy = noisy if lib is zeroin else [_noisy(netG), _noisy(netD)]
        res[lib] = out + [netG(real_A)] + _state(netG, noisy[0]) + _state(netD, noisy[1])
    # only the biases just before an InstanceNorm (in both nets) are left out
    assert sum(map(len, noisy)) == (0 if norm == "batch" else 7)
    _same(res)


def _noisy(net):
    """The names of the parameters (of torch's net, after a step) whose gradient is zero up
    to rounding: a bias just before an InstanceNorm, which removes it. Adam scales such a
    gradient up to ``lr``, so their steps are rounding noise in both libraries."""
    return {n for n, p in net.named_parameters()
            if p.grad is not None and float(p.grad.abs().max()) < 1e-12}


def _state(net, skip):
    """The net's state dict values but for the names in ``skip``."""
    return [v for n, v in net.state_dict().items() if n not in skip]


@pytest.mark.parametrize("gan_mode", ["lsgan", "vanilla"])
def test_cyclegan_resnet_generators_image_pool_identity_and_cycle_steps(gan_mode, torch64):
    rng = np.random.default_rng(4)
    torch.manual_seed(4)
    batches = rng.uniform(-1, 1, (3, 2, 1, 3, 16, 16))           # 3 steps of (A, B), batch 1

    def build(lib):
        c, norm = _cyclegan(lib), _norm(lib, "instance")
        return (c["ResnetGenerator"](3, 3, norm_layer=norm),
                c["ResnetGenerator"](3, 3, norm_layer=norm),
                c["NLayerDiscriminator"](3, norm_layer=norm),
                c["NLayerDiscriminator"](3, norm_layer=norm))
    nets = _pair(build)
    res, noisy = {}, None
    for lib in LIBS:
        c = _cyclegan(lib)
        netG_A, netG_B, netD_A, netD_B = nets[lib]
        criterionGAN, criterionCycle, criterionIdt = (c["GANLoss"](gan_mode), lib.nn.L1Loss(),
                                                      lib.nn.L1Loss())
        fake_A_pool, fake_B_pool = c["ImagePool"](2), c["ImagePool"](2)
        optimizer_G = lib.optim.Adam(itertools.chain(netG_A.parameters(), netG_B.parameters()),
                                     lr=2e-4, betas=(0.5, 0.999))
        optimizer_D = lib.optim.Adam(itertools.chain(netD_A.parameters(), netD_B.parameters()),
                                     lr=2e-4, betas=(0.5, 0.999))
        scheduler = c["get_scheduler"](optimizer_G)
        lambda_idt, lambda_A, lambda_B = 0.5, 10.0, 10.0
        random.seed(0)                                          # the pool's draws
        out = []
        for A0, B0 in batches:
            real_A, real_B = lib.tensor(A0), lib.tensor(B0)
            fake_B = netG_A(real_A)
            rec_A = netG_B(fake_B)
            fake_A = netG_B(real_B)
            rec_B = netG_A(fake_A)
            c["set_requires_grad"]([netD_A, netD_B], False)
            optimizer_G.zero_grad()
            idt_A = netG_A(real_B)
            loss_idt_A = criterionIdt(idt_A, real_B) * lambda_B * lambda_idt
            idt_B = netG_B(real_A)
            loss_idt_B = criterionIdt(idt_B, real_A) * lambda_A * lambda_idt
            loss_G_A = criterionGAN(netD_A(fake_B), True)
            loss_G_B = criterionGAN(netD_B(fake_A), True)
            loss_cycle_A = criterionCycle(rec_A, real_A) * lambda_A
            loss_cycle_B = criterionCycle(rec_B, real_B) * lambda_B
            loss_G = (loss_G_A + loss_G_B + loss_cycle_A + loss_cycle_B + loss_idt_A
                      + loss_idt_B)
            loss_G.backward()
            optimizer_G.step()
            c["set_requires_grad"]([netD_A, netD_B], True)
            optimizer_D.zero_grad()
            losses_D = []
            for netD, real, fake, pool in ((netD_A, real_B, fake_B, fake_B_pool),
                                           (netD_B, real_A, fake_A, fake_A_pool)):
                fake = pool.query(fake)
                assert not fake.requires_grad
                pred_real = netD(real)
                loss_D_real = criterionGAN(pred_real, True)
                pred_fake = netD(fake.detach())
                loss_D_fake = criterionGAN(pred_fake, False)
                loss_D = (loss_D_real + loss_D_fake) * 0.5
                loss_D.backward()
                losses_D += [loss_D, fake]
            optimizer_D.step()
            scheduler.step()
            out += [loss_G, loss_idt_A, loss_G_B, loss_cycle_A, *losses_D, rec_B,
                    lib.tensor(scheduler.get_last_lr()[0])]
        noisy = noisy if lib is zeroin else [_noisy(n) for n in nets[lib]]
        res[lib] = out + [v for net, skip in zip(nets[lib], noisy) for v in _state(net, skip)]
        res[lib] += [lib.cat(fake_B_pool.images), lib.cat(fake_A_pool.images)]
    # left out: the 7 biases just before an InstanceNorm in each generator, 2 in each critic
    assert [len(n) for n in noisy] == [7, 7, 2, 2]
    assert all(n.endswith("bias") for skip in noisy for n in skip)
    _same(res)


def _patch_instance_norm_state_dict(state_dict, module, keys, i=0):
    """BaseModel.__patch_instance_norm_state_dict: drop an old checkpoint's running
    statistics of an InstanceNorm that keeps none."""
    key = keys[i]
    if i + 1 == len(keys):
        if module.__class__.__name__.startswith('InstanceNorm') and \
                (key == 'running_mean' or key == 'running_var'):
            if getattr(module, key) is None:
                state_dict.pop('.'.join(keys))
        if module.__class__.__name__.startswith('InstanceNorm') and \
           (key == 'num_batches_tracked'):
            state_dict.pop('.'.join(keys))
    else:
        _patch_instance_norm_state_dict(state_dict, getattr(module, key), keys, i + 1)


def _tensor2im(torch, input_image, imtype=np.uint8):
    """util.tensor2im."""
    if not isinstance(input_image, np.ndarray):
        if isinstance(input_image, torch.Tensor):
            image_tensor = input_image.data
        else:
            return input_image
        image_numpy = image_tensor[0].cpu().float().numpy()
        if image_numpy.shape[0] == 1:
            image_numpy = np.tile(image_numpy, (3, 1, 1))
        image_numpy = (np.transpose(image_numpy, (1, 2, 0)) + 1) / 2.0 * 255.0
    else:
        image_numpy = input_image
    return image_numpy.astype(imtype)


def _get_scheduler(lr_scheduler, optimizer, lr_policy):
    """networks.get_scheduler's other policies (small step sizes)."""
    if lr_policy == 'step':
        scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    elif lr_policy == 'plateau':
        scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode='min', factor=0.2,
                                                   threshold=0.01, patience=1)
    elif lr_policy == 'cosine':
        scheduler = lr_scheduler.CosineAnnealingLR(optimizer, T_max=4, eta_min=0)
    return scheduler


def test_cyclegan_schedulers_checkpoint_patch_and_tensor2im(torch64, tmp_path):
    """get_scheduler's other policies, load_networks with an old checkpoint's instance-norm
    statistics (``torch.save`` / ``torch.load``, ``del state_dict._metadata``) and
    tensor2im."""
    torch.manual_seed(6)
    nets = _pair(lambda lib: [lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3),
                                                lib.nn.InstanceNorm2d(4), lib.nn.Tanh())])
    res = {}
    for lib in LIBS:
        net, lrs = nets[lib][0], []
        for policy in ("step", "plateau", "cosine"):
            optimizer = lib.optim.Adam(net.parameters(), lr=2e-4, betas=(0.5, 0.999))
            scheduler = _get_scheduler(lib.optim.lr_scheduler, optimizer, policy)
            for epoch in range(6):
                optimizer.step()
                if policy == 'plateau':
                    scheduler.step(1.0 / (1 + min(epoch, 2)))
                else:
                    scheduler.step()
                lrs.append(optimizer.param_groups[0]['lr'])
        path = str(tmp_path / f"latest_net_G_{lib.__name__}.pth")
        lib.save(net.cpu().state_dict(), path)
        state_dict = lib.load(path, map_location=str(lib.device('cpu')))
        if hasattr(state_dict, '_metadata'):
            del state_dict._metadata
        state_dict['1.running_mean'] = lib.zeros(4)              # an old checkpoint's
        state_dict['1.running_var'] = lib.ones(4)
        for key in list(state_dict.keys()):
            _patch_instance_norm_state_dict(state_dict, net, key.split('.'))
        assert sorted(state_dict) == ['0.bias', '0.weight']
        net.load_state_dict(state_dict)
        with lib.no_grad():
            fake = net(lib.tensor(np.linspace(-1, 1, 2 * 3 * 36).reshape(2, 3, 6, 6)))
        im = _tensor2im(lib, fake[:, :1])
        assert im.dtype == np.uint8 and im.shape == (4, 4, 3)
        res[lib] = [np.array(lrs), fake, im]
    _same(res)


def test_a_norm_on_the_unets_1x1_bottleneck_is_refused_as_by_torch(torch64):
    """A U-Net written with an InstanceNorm after the innermost down-convolution (pix2pix
    leaves it out) normalises a 1x1 map to 0; zeroin refused it only with running
    statistics and otherwise returned zeros silently. Now it raises, as PyTorch does."""
    x0 = np.random.default_rng(7).uniform(-1, 1, (1, 3, 16, 16))
    for lib in LIBS:
        c = _cyclegan(lib)
        norm = _norm(lib, "instance")
        net = c["UnetGenerator"](3, 3, norm_layer=norm)
        inner = net.model.model[1].model[3].model[3].model
        inner.insert(2, norm(16))                     # after the innermost Conv2d: 1x1
        with pytest.raises(ValueError, match="more than 1 spatial element"):
            net(lib.tensor(x0))
