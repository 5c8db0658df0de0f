"""Audit against "Dive into Deep Learning" (d2l.ai, PyTorch edition), chapters 8 (modern CNNs),
14 (computer vision) and 20 (GANs): each section's code as a learner ports it (``import zeroin
as torch``, ``from zeroin import nn``, ``zeroin.vision`` for torchvision), with the d2l helpers
it calls written out, run with ``torch`` and with ``zeroin`` on the same data and weights
(copied from torch) in float32, the book's dtype: values, gradients and a few training steps
to float resolution. Small image sizes keep it fast. See docs/d2l_cv.md."""
import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, close as _close, copy_weights as _copy

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


def _same(res, tol=1e-10):
    """Each zeroin result beside torch's: the same shape and values."""
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, tol)


def _data(shape, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape).astype(np.float32),
            rng.integers(0, classes, shape[0]).astype(np.int64))


def layer_summary(lib, net, X_shape):
    """d2l's ``Classifier.layer_summary`` (the shape as a tuple: zeroin prints ``(1, 6, 28,
    28)`` where PyTorch prints ``torch.Size([1, 6, 28, 28])``)."""
    X = lib.randn(*X_shape)
    lines = []
    for layer in net:
        X = layer(X)
        lines.append(f"{layer.__class__.__name__} output shape:\t {tuple(X.shape)}")
    return lines


def init_cnn(lib, module):
    """d2l's ``init_cnn``: Xavier-uniform weights for the linear and convolution layers."""
    if type(module) == lib.nn.Linear or type(module) == lib.nn.Conv2d:   # noqa: E721
        lib.nn.init.xavier_uniform_(module.weight)


def _no_dropout(net):
    """Dropout's masks come from each library's own generator: set p to 0 for the steps."""
    for m in net.modules():
        if type(m).__name__ == "Dropout":
            m.p = 0.0


def _train_alike(make, X_shape, steps=2, lr=0.05, tol=2e-4, classes=10, check=None):
    """Build ``make(lib)`` in both libraries (lazy layers shaped by one call, d2l's
    ``init_cnn``), copy torch's weights into zeroin's, then compare ``layer_summary``, the
    output, and ``steps`` SGD steps of cross-entropy (the loss, the first parameter's
    gradient, every parameter after them, and the buffers)."""
    nets = {}
    for lib in LIBS:
        net = make(lib)
        net(lib.zeros(X_shape))
        net.apply(lambda m, lib=lib: init_cnn(lib, m))
        nets[lib] = net
    _copy(nets[torch], nets[zeroin])
    for tm, zm in zip(nets[torch].modules(), nets[zeroin].modules()):
        if hasattr(tm, "moving_mean"):    # the scratch BatchNorm's plain tensors
            zm.moving_mean, zm.moving_var = (zeroin.tensor(_np(tm.moving_mean)),
                                             zeroin.tensor(_np(tm.moving_var)))
    # the book's layer_summary runs on a fresh model (random input: batch norm's statistics)
    summary = {lib: layer_summary(lib, make(lib), X_shape) for lib in LIBS
               if isinstance(nets[lib], lib.nn.Sequential)}
    if summary:
        assert summary[zeroin] == summary[torch]
    X, y = _data(X_shape, classes=classes)
    res = {}
    for lib in LIBS:
        net = nets[lib]
        _no_dropout(net)
        out = [net(lib.tensor(X))]
        opt = lib.optim.SGD(net.parameters(), lr=lr)
        for _ in range(steps):
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(X)), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            out.append(loss)
            opt.step()
        out.append(next(net.parameters()).grad)
        out += [p.detach() for p in net.parameters()]
        out += [b for b in net.buffers() if b.dtype == lib.float32]
        net.eval()
        out.append(net(lib.tensor(X)))
        res[lib] = out
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, rtol=tol, atol=tol)
    return nets, summary.get(zeroin)


# --- 8 modern convolutional neural networks ----------------------------------------------------

def _alexnet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyConv2d(96, kernel_size=11, stride=4, padding=1),
        nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(384, kernel_size=3, padding=1), nn.ReLU(),
        nn.LazyConv2d(256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.LazyLinear(10))


def test_8_1_alexnet(f32):
    _, summary = _train_alike(_alexnet, (2, 1, 67, 67), steps=1, lr=0.01)
    assert summary[0] == "Conv2d output shape:\t (2, 96, 15, 15)"
    assert summary[-1] == "Linear output shape:\t (2, 10)"


def vgg_block(lib, num_convs, out_channels):
    nn = lib.nn
    layers = []
    for _ in range(num_convs):
        layers.append(nn.LazyConv2d(out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def _vgg(lib, arch=((1, 4), (1, 8), (2, 8)), num_classes=10):
    nn = lib.nn
    conv_blks = []
    for (num_convs, out_channels) in arch:
        conv_blks.append(vgg_block(lib, num_convs, out_channels))
    return nn.Sequential(
        *conv_blks, nn.Flatten(),
        nn.LazyLinear(64), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(64), nn.ReLU(), nn.Dropout(0.5),
        nn.LazyLinear(num_classes))


def test_8_2_vgg(f32):
    _, summary = _train_alike(_vgg, (2, 1, 16, 16))
    assert summary[:3] == [f"Sequential output shape:\t (2, {c}, {s}, {s})"
                           for c, s in ((4, 8), (8, 4), (8, 2))]


def nin_block(lib, out_channels, kernel_size, strides, padding):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyConv2d(out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU(),
        nn.LazyConv2d(out_channels, kernel_size=1), nn.ReLU())


def _nin(lib, num_classes=10):
    nn = lib.nn
    return nn.Sequential(
        nin_block(lib, 16, kernel_size=5, strides=2, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(lib, 32, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(lib, num_classes, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten())


def test_8_3_nin(f32):
    _, summary = _train_alike(_nin, (2, 1, 29, 29))
    assert summary[-2:] == ["AdaptiveAvgPool2d output shape:\t (2, 10, 1, 1)",
                            "Flatten output shape:\t (2, 10)"]


def _inception_class(lib):
    nn, F = lib.nn, lib.nn.functional

    class Inception(nn.Module):
        # c1--c4 are the number of output channels for each branch
        def __init__(self, c1, c2, c3, c4, **kwargs):
            super(Inception, self).__init__(**kwargs)
            # Branch 1
            self.b1_1 = nn.LazyConv2d(c1, kernel_size=1)
            # Branch 2
            self.b2_1 = nn.LazyConv2d(c2[0], kernel_size=1)
            self.b2_2 = nn.LazyConv2d(c2[1], kernel_size=3, padding=1)
            # Branch 3
            self.b3_1 = nn.LazyConv2d(c3[0], kernel_size=1)
            self.b3_2 = nn.LazyConv2d(c3[1], kernel_size=5, padding=2)
            # Branch 4
            self.b4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.b4_2 = nn.LazyConv2d(c4, kernel_size=1)

        def forward(self, x):
            b1 = F.relu(self.b1_1(x))
            b2 = F.relu(self.b2_2(F.relu(self.b2_1(x))))
            b3 = F.relu(self.b3_2(F.relu(self.b3_1(x))))
            b4 = F.relu(self.b4_2(self.b4_1(x)))
            return lib.cat((b1, b2, b3, b4), dim=1)
    return Inception


def _googlenet(lib, num_classes=10):
    nn = lib.nn
    Inception = _inception_class(lib)
    b1 = nn.Sequential(nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.LazyConv2d(8, kernel_size=1), nn.ReLU(),
                       nn.LazyConv2d(16, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(8, (8, 16), (2, 4), 4), Inception(16, (16, 24), (4, 8), 8),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(16, (8, 16), (4, 8), 8),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b5, nn.LazyLinear(num_classes))


def test_8_4_googlenet_inception(f32):
    _, summary = _train_alike(_googlenet, (2, 1, 24, 24))
    assert summary == ["Sequential output shape:\t (2, 8, 6, 6)",
                       "Sequential output shape:\t (2, 16, 3, 3)",
                       "Sequential output shape:\t (2, 56, 2, 2)",
                       "Sequential output shape:\t (2, 48)",
                       "Linear output shape:\t (2, 10)"]


def batch_norm(lib, X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # Use is_grad_enabled to determine whether we are in training mode
    if not lib.is_grad_enabled():
        # In prediction mode, use mean and variance obtained by moving average
        X_hat = (X - moving_mean) / lib.sqrt(moving_var + eps)
    else:
        assert len(X.shape) in (2, 4)
        if len(X.shape) == 2:
            # When using a fully connected layer, calculate the mean and
            # variance on the feature dimension
            mean = X.mean(dim=0)
            var = ((X - mean) ** 2).mean(dim=0)
        else:
            # When using a two-dimensional convolutional layer, calculate the
            # mean and variance on the channel dimension (axis=1). Here we
            # need to maintain the shape of X, so that the broadcasting
            # operation can be carried out later
            mean = X.mean(dim=(0, 2, 3), keepdim=True)
            var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        # In training mode, the current mean and variance are used
        X_hat = (X - mean) / lib.sqrt(var + eps)
        # Update the mean and variance using moving average
        moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
        moving_var = (1.0 - momentum) * moving_var + momentum * var
    Y = gamma * X_hat + beta  # Scale and shift
    return Y, moving_mean.data, moving_var.data


def _batchnorm_class(lib):
    nn = lib.nn

    class BatchNorm(nn.Module):
        # num_features: the number of outputs for a fully connected layer or the
        # number of output channels for a convolutional layer. num_dims: 2 for a
        # fully connected layer and 4 for a convolutional layer
        def __init__(self, num_features, num_dims):
            super().__init__()
            if num_dims == 2:
                shape = (1, num_features)
            else:
                shape = (1, num_features, 1, 1)
            # The scale parameter and the shift parameter (model parameters) are
            # initialized to 1 and 0, respectively
            self.gamma = nn.Parameter(lib.ones(shape))
            self.beta = nn.Parameter(lib.zeros(shape))
            # The variables that are not model parameters are initialized to 0 and
            # 1
            self.moving_mean = lib.zeros(shape)
            self.moving_var = lib.ones(shape)

        def forward(self, X):
            # If X is not on the main memory, copy moving_mean and moving_var to
            # the device where X is located
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            # Save the updated moving_mean and moving_var
            Y, self.moving_mean, self.moving_var = batch_norm(
                lib, X, self.gamma, self.beta, self.moving_mean,
                self.moving_var, eps=1e-5, momentum=0.1)
            return Y
    return BatchNorm


def _bn_lenet(lib, num_classes=10):
    nn, BatchNorm = lib.nn, _batchnorm_class(lib)
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), BatchNorm(6, num_dims=4),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), BatchNorm(16, num_dims=4),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), BatchNorm(120, num_dims=2),
        nn.Sigmoid(), nn.LazyLinear(84), BatchNorm(84, num_dims=2),
        nn.Sigmoid(), nn.LazyLinear(num_classes))


def _bn_lenet_concise(lib, num_classes=10):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5), nn.LazyBatchNorm2d(),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.LazyBatchNorm2d(),
        nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(), nn.LazyLinear(120), nn.LazyBatchNorm1d(),
        nn.Sigmoid(), nn.LazyLinear(84), nn.LazyBatchNorm1d(),
        nn.Sigmoid(), nn.LazyLinear(num_classes))


def test_8_5_batch_norm_from_scratch_and_concise(f32):
    X_shape = (4, 1, 16, 16)
    nets = {}
    for make in (_bn_lenet, _bn_lenet_concise):
        nets[make] = _train_alike(make, X_shape, lr=0.1)[0]
    # the moving statistics (plain tensors in the scratch module, buffers in nn's) after two
    # steps and the eval call: the scratch version's equal nn.BatchNorm2d's
    for lib in LIBS:
        concise = nets[_bn_lenet_concise][lib]
        assert type(concise[1]) is lib.nn.BatchNorm2d and type(concise[10]) is lib.nn.BatchNorm1d
    ms = {lib: [nets[_bn_lenet][lib][1].moving_mean, nets[_bn_lenet][lib][10].moving_var]
          for lib in LIBS}
    for z, t in zip(ms[zeroin], ms[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, rtol=2e-5, atol=2e-5)
    # under no_grad the scratch module uses the moving averages (the book's prediction mode)
    res = {}
    X = _data(X_shape)[0]
    for lib in LIBS:
        net = nets[_bn_lenet][lib]
        with lib.no_grad():
            assert not lib.is_grad_enabled()
            res[lib] = [net(lib.tensor(X))]
        assert lib.is_grad_enabled()
    _same(res, 2e-4)


def _residual_class(lib):
    nn, F = lib.nn, lib.nn.functional

    class Residual(nn.Module):
        """The Residual block of ResNet models."""
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1,
                                       stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1,
                                           stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)
    return Residual


def _resnet(lib, arch=((1, 8), (1, 16)), num_classes=10):
    nn, Residual = lib.nn, _residual_class(lib)

    def b1():
        return nn.Sequential(
            nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
            nn.LazyBatchNorm2d(), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1))

    def block(num_residuals, num_channels, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels))
        return nn.Sequential(*blk)

    net = nn.Sequential(b1())
    for i, b in enumerate(arch):
        net.add_module(f'b{i+2}', block(*b, first_block=(i == 0)))
    net.add_module('last', nn.Sequential(
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.LazyLinear(num_classes)))
    return net


def test_8_6_residual_shapes_and_resnet(f32):
    for lib in LIBS:
        Residual = _residual_class(lib)
        blk = Residual(3)
        X = lib.randn(4, 3, 6, 6)
        assert tuple(blk(X).shape) == (4, 3, 6, 6)
        blk = Residual(6, use_1x1conv=True, strides=2)
        assert tuple(blk(X).shape) == (4, 6, 3, 3)
    nets, summary = _train_alike(_resnet, (2, 1, 32, 32), lr=0.1)
    assert summary == ["Sequential output shape:\t (2, 8, 8, 8)",
                       "Sequential output shape:\t (2, 8, 8, 8)",
                       "Sequential output shape:\t (2, 16, 4, 4)",
                       "Sequential output shape:\t (2, 10)"]
    assert [n for n, _ in nets[zeroin].named_children()] == ["0", "b2", "b3", "last"]


def _resnext_class(lib):
    nn, F = lib.nn, lib.nn.functional

    class ResNeXtBlock(nn.Module):
        """The ResNeXt block."""
        def __init__(self, num_channels, groups, bot_mul, use_1x1conv=False,
                     strides=1):
            super().__init__()
            bot_channels = int(round(num_channels * bot_mul))
            self.conv1 = nn.LazyConv2d(bot_channels, kernel_size=1, stride=1)
            self.conv2 = nn.LazyConv2d(bot_channels, kernel_size=3,
                                       stride=strides, padding=1,
                                       groups=bot_channels // groups)
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=1)
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()
            self.bn3 = nn.LazyBatchNorm2d()
            if use_1x1conv:
                self.conv4 = nn.LazyConv2d(num_channels, kernel_size=1,
                                           stride=strides)
                self.bn4 = nn.LazyBatchNorm2d()
            else:
                self.conv4 = None

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            if self.conv4:
                X = self.bn4(self.conv4(X))
            return F.relu(Y + X)
    return ResNeXtBlock


def test_8_6_resnext_block_grouped_conv(f32):
    blocks = {}
    for lib in LIBS:
        blk = _resnext_class(lib)(32, 16, 1)
        X = lib.randn(4, 32, 6, 6)
        assert tuple(blk(X).shape) == (4, 32, 6, 6)
        assert blk.conv2.groups == 2 and tuple(blk.conv2.weight.shape) == (32, 16, 3, 3)
        blocks[lib] = blk
    _copy(blocks[torch], blocks[zeroin])
    X = _data((4, 32, 6, 6))[0]
    res = {}
    for lib in LIBS:
        x = lib.tensor(X, requires_grad=True)
        Y = blocks[lib](x)
        (Y * Y).sum().backward()
        res[lib] = [Y, x.grad, blocks[lib].conv2.weight.grad, blocks[lib].bn2.running_var]
    _same(res, 1e-4)


def conv_block(lib, num_channels):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=3, padding=1))


def _dense_block_class(lib):
    nn = lib.nn

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, num_channels):
            super(DenseBlock, self).__init__()
            layer = []
            for i in range(num_convs):
                layer.append(conv_block(lib, num_channels))
            self.net = nn.Sequential(*layer)

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                # Concatenate input and output of each block along the channels
                X = lib.cat((X, Y), dim=1)
            return X
    return DenseBlock


def transition_block(lib, num_channels):
    nn = lib.nn
    return nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.LazyConv2d(num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))


def _densenet(lib, num_channels=8, growth_rate=4, arch=(2, 2), num_classes=10):
    nn, DenseBlock = lib.nn, _dense_block_class(lib)
    net = nn.Sequential(nn.Sequential(
        nn.LazyConv2d(8, kernel_size=7, stride=2, padding=3),
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
    for i, num_convs in enumerate(arch):
        net.add_module(f'dense_blk{i+1}', DenseBlock(num_convs, growth_rate))
        # The number of output channels in the previous dense block
        num_channels += num_convs * growth_rate
        # A transition layer that halves the number of channels is added
        # between the dense blocks
        if i != len(arch) - 1:
            num_channels //= 2
            net.add_module(f'tran_blk{i+1}', transition_block(lib, num_channels))
    net.add_module('last', nn.Sequential(
        nn.LazyBatchNorm2d(), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.LazyLinear(num_classes)))
    return net


def test_8_7_densenet(f32):
    for lib in LIBS:
        blk = _dense_block_class(lib)(2, 10)
        X = lib.randn(4, 3, 8, 8)
        Y = blk(X)
        assert tuple(Y.shape) == (4, 23, 8, 8)
        assert tuple(transition_block(lib, 10)(Y).shape) == (4, 10, 4, 4)
    _, summary = _train_alike(_densenet, (2, 1, 32, 32), lr=0.1)
    assert summary == ["Sequential output shape:\t (2, 8, 8, 8)",
                       "DenseBlock output shape:\t (2, 16, 8, 8)",
                       "Sequential output shape:\t (2, 8, 4, 4)",
                       "DenseBlock output shape:\t (2, 16, 4, 4)",
                       "Sequential output shape:\t (2, 10)"]


def _anynet(lib, arch=((1, 16, 8, 1), (2, 32, 8, 1)), stem_channels=8, num_classes=10):
    """d2l 8.8's AnyNet / RegNetX32 (its ``stem`` and ``stage`` methods as closures)."""
    nn, ResNeXtBlock = lib.nn, _resnext_class(lib)

    def stem(num_channels):
        return nn.Sequential(
            nn.LazyConv2d(num_channels, kernel_size=3, stride=2, padding=1),
            nn.LazyBatchNorm2d(), nn.ReLU())

    def stage(depth, num_channels, groups, bot_mul):
        blk = []
        for i in range(depth):
            if i == 0:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul,
                                        use_1x1conv=True, strides=2))
            else:
                blk.append(ResNeXtBlock(num_channels, groups, bot_mul))
        return nn.Sequential(*blk)

    net = nn.Sequential(stem(stem_channels))
    for i, s in enumerate(arch):
        net.add_module(f'stage{i+1}', stage(*s))
    net.add_module('head', nn.Sequential(
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.LazyLinear(num_classes)))
    return net


def test_8_8_regnet_anynet(f32):
    nets, summary = _train_alike(_anynet, (2, 3, 16, 16), lr=0.1)
    assert summary == ["Sequential output shape:\t (2, 8, 8, 8)",
                       "Sequential output shape:\t (2, 16, 4, 4)",
                       "Sequential output shape:\t (2, 32, 2, 2)",
                       "Sequential output shape:\t (2, 10)"]
    names = [n for n, _ in nets[zeroin].named_parameters()]
    assert names == [n for n, _ in nets[torch].named_parameters()]
    assert "stage2.1.conv2.weight" in names
    assert type(nets[zeroin].stage2[1].conv2) is zeroin.nn.Conv2d


# --- 14.3-14.7 bounding boxes, anchor boxes, SSD -----------------------------------------------

def box_corner_to_center(lib, boxes):
    """Convert from (upper-left, lower-right) to (center, width, height)."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    cx = (x1 + x2) / 2
    cy = (y1 + y2) / 2
    w = x2 - x1
    h = y2 - y1
    boxes = lib.stack((cx, cy, w, h), axis=-1)
    return boxes


def box_center_to_corner(lib, boxes):
    """Convert from (center, width, height) to (upper-left, lower-right)."""
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    x1 = cx - 0.5 * w
    y1 = cy - 0.5 * h
    x2 = cx + 0.5 * w
    y2 = cy + 0.5 * h
    boxes = lib.stack((x1, y1, x2, y2), axis=-1)
    return boxes


def multibox_prior(lib, data, sizes, ratios):
    """Generate anchor boxes with different shapes centered on each pixel."""
    in_height, in_width = data.shape[-2:]
    device, num_sizes, num_ratios = data.device, len(sizes), len(ratios)
    boxes_per_pixel = (num_sizes + num_ratios - 1)
    size_tensor = lib.tensor(sizes, device=device)
    ratio_tensor = lib.tensor(ratios, device=device)
    # Offsets are required to move the anchor to the center of a pixel. Since
    # a pixel has a height=1 and width=1, we choose to offset our centers by 0.5
    offset_h, offset_w = 0.5, 0.5
    steps_h = 1.0 / in_height  # Scaled steps in y axis
    steps_w = 1.0 / in_width  # Scaled steps in x axis
    # Generate all center points for the anchor boxes
    center_h = (lib.arange(in_height, device=device) + offset_h) * steps_h
    center_w = (lib.arange(in_width, device=device) + offset_w) * steps_w
    shift_y, shift_x = lib.meshgrid(center_h, center_w, indexing='ij')
    shift_y, shift_x = shift_y.reshape(-1), shift_x.reshape(-1)
    # Generate `boxes_per_pixel` number of heights and widths that are later
    # used to create anchor box corner coordinates (xmin, xmax, ymin, ymax)
    w = lib.cat((size_tensor * lib.sqrt(ratio_tensor[0]),
                 sizes[0] * lib.sqrt(ratio_tensor[1:])))\
        * in_height / in_width  # Handle rectangular inputs
    h = lib.cat((size_tensor / lib.sqrt(ratio_tensor[0]),
                 sizes[0] / lib.sqrt(ratio_tensor[1:])))
    # Divide by 2 to get half height and half width
    anchor_manipulations = lib.stack((-w, -h, w, h)).T.repeat(
        in_height * in_width, 1) / 2
    # Each center point will have `boxes_per_pixel` number of anchor boxes, so
    # generate a grid of all anchor box centers with `boxes_per_pixel` repeats
    out_grid = lib.stack([shift_x, shift_y, shift_x, shift_y],
                         dim=1).repeat_interleave(boxes_per_pixel, dim=0)
    output = out_grid + anchor_manipulations
    return output.unsqueeze(0)


def box_iou(lib, boxes1, boxes2):
    """Compute pairwise IoU across two lists of anchor or bounding boxes."""
    def box_area(boxes):
        return ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    # Shape of `boxes1`, `boxes2`, `areas1`, `areas2`: (no. of boxes1, 4),
    # (no. of boxes2, 4), (no. of boxes1,), (no. of boxes2,)
    areas1 = box_area(boxes1)
    areas2 = box_area(boxes2)
    # Shape of `inter_upperlefts`, `inter_lowerrights`, `inters`: (no. of
    # boxes1, no. of boxes2, 2)
    inter_upperlefts = lib.max(boxes1[:, None, :2], boxes2[:, :2])
    inter_lowerrights = lib.min(boxes1[:, None, 2:], boxes2[:, 2:])
    inters = (inter_lowerrights - inter_upperlefts).clamp(min=0)
    # Shape of `inter_areas` and `union_areas`: (no. of boxes1, no. of boxes2)
    inter_areas = inters[:, :, 0] * inters[:, :, 1]
    union_areas = areas1[:, None] + areas2 - inter_areas
    return inter_areas / union_areas


def assign_anchor_to_bbox(lib, ground_truth, anchors, device, iou_threshold=0.5):
    """Assign closest ground-truth bounding boxes to anchor boxes."""
    num_anchors, num_gt_boxes = anchors.shape[0], ground_truth.shape[0]
    # Element x_ij in the i-th row and j-th column is the IoU of the anchor
    # box i and the ground-truth bounding box j
    jaccard = box_iou(lib, anchors, ground_truth)
    # Initialize the tensor to hold the assigned ground-truth bounding box for
    # each anchor
    anchors_bbox_map = lib.full((num_anchors,), -1, dtype=lib.long,
                                device=device)
    # Assign ground-truth bounding boxes according to the threshold
    max_ious, indices = lib.max(jaccard, dim=1)
    anc_i = lib.nonzero(max_ious >= iou_threshold).reshape(-1)
    box_j = indices[max_ious >= iou_threshold]
    anchors_bbox_map[anc_i] = box_j
    col_discard = lib.full((num_anchors,), -1)
    row_discard = lib.full((num_gt_boxes,), -1)
    for _ in range(num_gt_boxes):
        max_idx = lib.argmax(jaccard)  # Find the largest IoU
        box_idx = (max_idx % num_gt_boxes).long()
        anc_idx = (max_idx / num_gt_boxes).long()
        anchors_bbox_map[anc_idx] = box_idx
        jaccard[:, box_idx] = col_discard
        jaccard[anc_idx, :] = row_discard
    return anchors_bbox_map


def offset_boxes(lib, anchors, assigned_bb, eps=1e-6):
    """Transform for anchor box offsets."""
    c_anc = box_corner_to_center(lib, anchors)
    c_assigned_bb = box_corner_to_center(lib, assigned_bb)
    offset_xy = 10 * (c_assigned_bb[:, :2] - c_anc[:, :2]) / c_anc[:, 2:]
    offset_wh = 5 * lib.log(eps + c_assigned_bb[:, 2:] / c_anc[:, 2:])
    offset = lib.cat([offset_xy, offset_wh], axis=1)
    return offset


def multibox_target(lib, anchors, labels):
    """Label anchor boxes using ground-truth bounding boxes."""
    batch_size, anchors = labels.shape[0], anchors.squeeze(0)
    batch_offset, batch_mask, batch_class_labels = [], [], []
    device, num_anchors = anchors.device, anchors.shape[0]
    for i in range(batch_size):
        label = labels[i, :, :]
        anchors_bbox_map = assign_anchor_to_bbox(lib, label[:, 1:], anchors, device)
        bbox_mask = ((anchors_bbox_map >= 0).float().unsqueeze(-1)).repeat(1, 4)
        # Initialize class labels and assigned bounding box coordinates with
        # zeros
        class_labels = lib.zeros(num_anchors, dtype=lib.long, device=device)
        assigned_bb = lib.zeros((num_anchors, 4), dtype=lib.float32, device=device)
        # Label classes of anchor boxes using their assigned ground-truth
        # bounding boxes. If an anchor box is not assigned any, we label its
        # class as background (the value remains zero)
        indices_true = lib.nonzero(anchors_bbox_map >= 0)
        bb_idx = anchors_bbox_map[indices_true]
        class_labels[indices_true] = label[bb_idx, 0].long() + 1
        assigned_bb[indices_true] = label[bb_idx, 1:]
        # Offset transformation
        offset = offset_boxes(lib, anchors, assigned_bb) * bbox_mask
        batch_offset.append(offset.reshape(-1))
        batch_mask.append(bbox_mask.reshape(-1))
        batch_class_labels.append(class_labels)
    bbox_offset = lib.stack(batch_offset)
    bbox_mask = lib.stack(batch_mask)
    class_labels = lib.stack(batch_class_labels)
    return (bbox_offset, bbox_mask, class_labels)


def offset_inverse(lib, anchors, offset_preds):
    """Predict bounding boxes based on anchor boxes with predicted offsets."""
    anc = box_corner_to_center(lib, anchors)
    pred_bbox_xy = (offset_preds[:, :2] * anc[:, 2:] / 10) + anc[:, :2]
    pred_bbox_wh = lib.exp(offset_preds[:, 2:] / 5) * anc[:, 2:]
    pred_bbox = lib.cat((pred_bbox_xy, pred_bbox_wh), axis=1)
    predicted_bbox = box_center_to_corner(lib, pred_bbox)
    return predicted_bbox


def nms(lib, boxes, scores, iou_threshold):
    """Sort confidence scores of predicted bounding boxes."""
    B = lib.argsort(scores, dim=-1, descending=True)
    keep = []  # Indices of predicted bounding boxes that will be kept
    while B.numel() > 0:
        i = B[0]
        keep.append(i)
        if B.numel() == 1:
            break
        iou = box_iou(lib, boxes[i, :].reshape(-1, 4),
                      boxes[B[1:], :].reshape(-1, 4)).reshape(-1)
        inds = lib.nonzero(iou <= iou_threshold).reshape(-1)
        B = B[inds + 1]
    return lib.tensor(keep, device=boxes.device)


def multibox_detection(lib, cls_probs, offset_preds, anchors, nms_threshold=0.5,
                       pos_threshold=0.009999999):
    """Predict bounding boxes using non-maximum suppression."""
    device, batch_size = cls_probs.device, cls_probs.shape[0]
    anchors = anchors.squeeze(0)
    num_classes, num_anchors = cls_probs.shape[1], cls_probs.shape[2]  # noqa: F841
    out = []
    for i in range(batch_size):
        cls_prob, offset_pred = cls_probs[i], offset_preds[i].reshape(-1, 4)
        conf, class_id = lib.max(cls_prob[1:], 0)
        predicted_bb = offset_inverse(lib, anchors, offset_pred)
        keep = nms(lib, predicted_bb, conf, nms_threshold)
        # Find all non-`keep` indices and set the class to background
        all_idx = lib.arange(num_anchors, dtype=lib.long, device=device)
        combined = lib.cat((keep, all_idx))
        uniques, counts = combined.unique(return_counts=True)
        non_keep = uniques[counts == 1]
        all_id_sorted = lib.cat((keep, non_keep))
        class_id[non_keep] = -1
        class_id = class_id[all_id_sorted]
        conf, predicted_bb = conf[all_id_sorted], predicted_bb[all_id_sorted]
        # Here `pos_threshold` is a threshold for positive (non-background)
        # predictions
        below_min_idx = (conf < pos_threshold)
        class_id[below_min_idx] = -1
        conf[below_min_idx] = 1 - conf[below_min_idx]
        pred_info = lib.cat((class_id.unsqueeze(1),
                             conf.unsqueeze(1),
                             predicted_bb), dim=1)
        out.append(pred_info)
    return lib.stack(out)


def test_14_3_bounding_boxes(f32):
    res = {}
    for lib in LIBS:
        dog_bbox, cat_bbox = [60.0, 45.0, 378.0, 516.0], [400.0, 112.0, 655.0, 493.0]
        boxes = lib.tensor((dog_bbox, cat_bbox))
        centers = box_corner_to_center(lib, boxes)
        assert bool((box_center_to_corner(lib, centers) == boxes).all())
        res[lib] = [centers]
    _same(res, 0)
    np.testing.assert_array_equal(_np(res[zeroin][0]),
                                  [[219, 280.5, 318, 471], [527.5, 302.5, 255, 381]])


def test_14_4_anchor_boxes_prior_iou_and_labels(f32):
    res = {}
    for lib in LIBS:
        h, w = 561, 728
        X = lib.rand(size=(1, 3, h, w))
        Y = multibox_prior(lib, X, sizes=[0.75, 0.5, 0.25], ratios=[1, 2, 0.5])
        assert tuple(Y.shape) == (1, 2042040, 4)
        boxes = Y.reshape(h, w, 5, 4)
        first = boxes[250, 250, 0, :]
        Y = multibox_prior(lib, lib.zeros((1, 3, 3, 5)), sizes=[0.75, 0.5, 0.25],
                           ratios=[1, 2, 0.5])
        ground_truth = lib.tensor([[0, 0.1, 0.08, 0.52, 0.92],
                                   [1, 0.55, 0.2, 0.9, 0.88]])
        anchors = lib.tensor([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4],
                              [0.63, 0.05, 0.88, 0.98], [0.66, 0.45, 0.8, 0.8],
                              [0.57, 0.3, 0.92, 0.9]])
        iou = box_iou(lib, anchors, ground_truth[:, 1:])
        amap = assign_anchor_to_bbox(lib, ground_truth[:, 1:], anchors, anchors.device)
        labels = multibox_target(lib, anchors.unsqueeze(dim=0),
                                 ground_truth.unsqueeze(dim=0))
        assert labels[2].dtype == lib.int64 and labels[1].dtype == lib.float32
        res[lib] = [first, Y, iou, amap, *labels]
    _same(res, 2e-7)
    # the book's printed values
    np.testing.assert_allclose(_np(res[zeroin][0]), [0.06, 0.07, 0.63, 0.82], atol=5e-3)
    np.testing.assert_array_equal(_np(res[zeroin][3]), [-1, 0, 1, -1, 1])
    np.testing.assert_array_equal(_np(res[zeroin][6]), [[0, 1, 2, 0, 2]])


def test_14_4_nms_and_multibox_detection(f32):
    res = {}
    for lib in LIBS:
        anchors = lib.tensor([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                              [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]])
        offset_preds = lib.tensor([0] * anchors.numel())
        cls_probs = lib.tensor([[0] * 4,  # Predicted background likelihood
                                [0.9, 0.8, 0.7, 0.1],  # Predicted dog likelihood
                                [0.1, 0.2, 0.3, 0.9]])  # Predicted cat likelihood
        output = multibox_detection(lib, cls_probs.unsqueeze(dim=0),
                                    offset_preds.unsqueeze(dim=0),
                                    anchors.unsqueeze(dim=0),
                                    nms_threshold=0.5)
        assert output.dtype == lib.float32
        kept = [i for i in output[0].detach().numpy() if i[0] != -1]
        assert len(kept) == 2
        keep = nms(lib, anchors, cls_probs[1], 0.5)
        res[lib] = [output, keep]
    _same(res, 0)
    np.testing.assert_allclose(_np(res[zeroin][0])[0, :, :2],
                               [[0, 0.9], [1, 0.9], [-1, 0.8], [-1, 0.7]], atol=1e-7)
    np.testing.assert_array_equal(_np(res[zeroin][1]), [0, 3])


def _ssd(lib):
    """d2l 14.7's TinySSD and its pieces, on ``lib``."""
    nn = lib.nn

    def cls_predictor(num_inputs, num_anchors, num_classes):
        return nn.Conv2d(num_inputs, num_anchors * (num_classes + 1),
                         kernel_size=3, padding=1)

    def bbox_predictor(num_inputs, num_anchors):
        return nn.Conv2d(num_inputs, num_anchors * 4, kernel_size=3, padding=1)

    def flatten_pred(pred):
        return lib.flatten(pred.permute(0, 2, 3, 1), start_dim=1)

    def concat_preds(preds):
        return lib.cat([flatten_pred(p) for p in preds], dim=1)

    def down_sample_blk(in_channels, out_channels):
        blk = []
        for _ in range(2):
            blk.append(nn.Conv2d(in_channels, out_channels,
                                 kernel_size=3, padding=1))
            blk.append(nn.BatchNorm2d(out_channels))
            blk.append(nn.ReLU())
            in_channels = out_channels
        blk.append(nn.MaxPool2d(2))
        return nn.Sequential(*blk)

    def base_net():
        blk = []
        num_filters = [3, 16, 32, 64]
        for i in range(len(num_filters) - 1):
            blk.append(down_sample_blk(num_filters[i], num_filters[i+1]))
        return nn.Sequential(*blk)

    def get_blk(i):
        if i == 0:
            blk = base_net()
        elif i == 1:
            blk = down_sample_blk(64, 128)
        elif i == 4:
            blk = nn.AdaptiveMaxPool2d((1, 1))
        else:
            blk = down_sample_blk(128, 128)
        return blk

    def blk_forward(X, blk, size, ratio, cls_predictor, bbox_predictor):
        Y = blk(X)
        anchors = multibox_prior(lib, Y, sizes=size, ratios=ratio)
        cls_preds = cls_predictor(Y)
        bbox_preds = bbox_predictor(Y)
        return (Y, anchors, cls_preds, bbox_preds)

    sizes = [[0.2, 0.272], [0.37, 0.447], [0.54, 0.619], [0.71, 0.79],
             [0.88, 0.961]]
    ratios = [[1, 2, 0.5]] * 5
    num_anchors = len(sizes[0]) + len(ratios[0]) - 1

    class TinySSD(nn.Module):
        def __init__(self, num_classes, **kwargs):
            super(TinySSD, self).__init__(**kwargs)
            self.num_classes = num_classes
            idx_to_in_channels = [64, 128, 128, 128, 128]
            for i in range(5):
                # Equivalent to the assignment statement `self.blk_i = get_blk(i)`
                setattr(self, f'blk_{i}', get_blk(i))
                setattr(self, f'cls_{i}', cls_predictor(idx_to_in_channels[i],
                                                        num_anchors, num_classes))
                setattr(self, f'bbox_{i}', bbox_predictor(idx_to_in_channels[i],
                                                          num_anchors))

        def forward(self, X):
            anchors, cls_preds, bbox_preds = [None] * 5, [None] * 5, [None] * 5
            for i in range(5):
                # Here `getattr(self, 'blk_%d' % i)` accesses `self.blk_i`
                X, anchors[i], cls_preds[i], bbox_preds[i] = blk_forward(
                    X, getattr(self, f'blk_{i}'), sizes[i], ratios[i],
                    getattr(self, f'cls_{i}'), getattr(self, f'bbox_{i}'))
            anchors = lib.cat(anchors, dim=1)
            cls_preds = concat_preds(cls_preds)
            cls_preds = cls_preds.reshape(
                cls_preds.shape[0], -1, self.num_classes + 1)
            bbox_preds = concat_preds(bbox_preds)
            return anchors, cls_preds, bbox_preds

    return dict(cls_predictor=cls_predictor, bbox_predictor=bbox_predictor,
                concat_preds=concat_preds, down_sample_blk=down_sample_blk,
                base_net=base_net, TinySSD=TinySSD)


def test_14_7_ssd_pieces_shapes(f32):
    for lib in LIBS:
        s = _ssd(lib)
        Y1 = s["cls_predictor"](8, 5, 10)(lib.zeros((2, 8, 20, 20)))
        Y2 = s["cls_predictor"](16, 3, 10)(lib.zeros((2, 16, 10, 10)))
        assert (tuple(Y1.shape), tuple(Y2.shape)) == ((2, 55, 20, 20), (2, 33, 10, 10))
        assert tuple(s["concat_preds"]([Y1, Y2]).shape) == (2, 25300)
        assert tuple(s["down_sample_blk"](3, 10)(lib.zeros((2, 3, 20, 20))).shape) == \
            (2, 10, 10, 10)
        assert tuple(s["base_net"]()(lib.zeros((2, 3, 256, 256))).shape) == (2, 64, 32, 32)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")   # torch's, at
def test_14_7_tiny_ssd_forward_loss_and_training_step(f32):                  # float(l.sum())
    rng = np.random.default_rng(3)
    X = rng.random((2, 3, 64, 64)).astype(np.float32)
    lo = rng.uniform(0.05, 0.45, (2, 1, 2))
    Y = np.concatenate([np.zeros((2, 1, 1)), lo, lo + rng.uniform(0.2, 0.5, (2, 1, 2))],
                       axis=2).astype(np.float32)        # one object (class 0) per image
    nets = {lib: _ssd(lib)["TinySSD"](num_classes=1) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    res = {}
    for lib in LIBS:
        nn, net = lib.nn, nets[lib]
        cls_loss = nn.CrossEntropyLoss(reduction='none')
        bbox_loss = nn.L1Loss(reduction='none')

        def calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks):
            batch_size, num_classes = cls_preds.shape[0], cls_preds.shape[2]
            cls = cls_loss(cls_preds.reshape(-1, num_classes),
                           cls_labels.reshape(-1)).reshape(batch_size, -1).mean(dim=1)
            bbox = bbox_loss(bbox_preds * bbox_masks,
                             bbox_labels * bbox_masks).mean(dim=1)
            return cls + bbox

        def cls_eval(cls_preds, cls_labels):
            # Because the class prediction results are on the final dimension,
            # `argmax` needs to specify this dimension
            return float((cls_preds.argmax(dim=-1).type(
                cls_labels.dtype) == cls_labels).sum())

        def bbox_eval(bbox_preds, bbox_labels, bbox_masks):
            return float((lib.abs((bbox_labels - bbox_preds) * bbox_masks)).sum())

        # the book's shape check, on a model of its own (zeros through batch norm in training
        # mode give rounding noise normalised to order one in its running statistics)
        anchors, cls_preds, bbox_preds = _ssd(lib)["TinySSD"](1)(lib.zeros((2, 3, 64, 64)))
        assert tuple(anchors.shape) == (1, 344, 4)
        assert tuple(cls_preds.shape) == (2, 344, 2) and tuple(bbox_preds.shape) == (2, 1376)
        trainer = lib.optim.SGD(net.parameters(), lr=0.2, weight_decay=5e-4)
        out = []
        for _ in range(2):
            trainer.zero_grad()
            anchors, cls_preds, bbox_preds = net(lib.tensor(X))
            bbox_labels, bbox_masks, cls_labels = multibox_target(lib, anchors, lib.tensor(Y))
            l = calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks)  # noqa: E741
            l.mean().backward()
            trainer.step()
            out += [l, cls_eval(cls_preds, cls_labels),
                    bbox_eval(bbox_preds, bbox_labels, bbox_masks)]
        net.eval()
        anchors, cls_preds, bbox_preds = net(lib.tensor(X))
        cls_probs = lib.nn.functional.softmax(cls_preds, dim=2).permute(0, 2, 1)
        output = multibox_detection(lib, cls_probs, bbox_preds, anchors)
        out += [bbox_labels, bbox_masks, cls_labels, net.blk_0[0][0].weight.grad,
                net.bbox_4.weight, net.blk_1[1].running_var, cls_preds, output[:, :5]]
        res[lib] = out
    assert res[zeroin][1] == res[torch][1] and res[zeroin][4] == res[torch][4]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        if isinstance(t, float):
            np.testing.assert_allclose(z, t, rtol=1e-5)
        else:
            _close(z, t, rtol=2e-4, atol=2e-4)


# --- torchvision.ops (14.4's box_iou / nms, 14.8's roi_pool) as zeroin.vision.ops -------------

def test_vision_ops_holds_torchvisions_layers():
    from zeroin.vision import ops
    for name in ("Conv2dNormActivation", "SqueezeExcitation", "StochasticDepth", "Permute",
                 "MLP"):
        assert name in ops.__all__
    cna = ops.Conv2dNormActivation(3, 8, kernel_size=3)
    assert [type(m).__name__ for m in cna] == ["Conv2d", "BatchNorm2d", "ReLU"]
    assert tuple(ops.Permute([0, 2, 3, 1])(zeroin.zeros(1, 2, 3, 4)).shape) == (1, 3, 4, 2)


def _random_boxes(rng, n, scale=10.0):
    xy = rng.uniform(0, scale, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.5, scale / 2, (n, 2))], 1)


def test_vision_ops_boxes_match_the_books_torch_code():
    from zeroin.vision import ops
    rng = np.random.default_rng(5)
    b1, b2 = _random_boxes(rng, 7), _random_boxes(rng, 5)
    b1[3], G = b2[1], rng.standard_normal((7, 5))         # one pair the same box
    res = {}
    for lib in LIBS:
        t1 = lib.tensor(b1, requires_grad=True)
        t2 = lib.tensor(b2, requires_grad=True)
        iou = ops.box_iou(t1, t2) if lib is zeroin else box_iou(lib, t1, t2)
        (iou * lib.tensor(G)).sum().backward()
        conv = [(ops.box_convert(lib.tensor(b1), "xyxy", "cxcywh") if lib is zeroin else
                 box_corner_to_center(lib, lib.tensor(b1))),
                (ops.box_convert(lib.tensor(b1), "cxcywh", "xyxy") if lib is zeroin else
                 box_center_to_corner(lib, lib.tensor(b1)))]
        res[lib] = [iou, t1.grad, t2.grad, *conv]
    _same(res)
    z = zeroin.tensor(b1)
    _close(ops.box_convert(ops.box_convert(z, "xyxy", "xywh"), "xywh", "xyxy"), z)
    np.testing.assert_allclose(_np(ops.box_convert(z, "xyxy", "xywh"))[:, 2:],
                               b1[:, 2:] - b1[:, :2])
    np.testing.assert_allclose(_np(ops.box_area(z)), (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1]))
    np.testing.assert_allclose(_np(ops.box_iou(zeroin.tensor([[0., 0, 2, 2]]),
                                               zeroin.tensor([[1., 1, 3, 3], [4, 4, 5, 5]]))),
                               [[1 / 7, 0]])
    with pytest.raises(ValueError, match=r"box_iou: boxes2 should have shape \(N, 4\)"):
        ops.box_iou(z, z[:, :3])
    with pytest.raises(ValueError, match="box_convert: unsupported formats"):
        ops.box_convert(z, "xyxy", "yxyx")


@pytest.mark.filterwarnings("ignore:To copy construct from a tensor")   # the book's
def test_vision_ops_nms_matches_the_books_nms():                      # torch.tensor(keep)
    from zeroin.vision import ops
    rng = np.random.default_rng(6)
    for n, thr in ((30, 0.5), (40, 0.3), (12, 0.0)):
        boxes, scores = _random_boxes(rng, n), rng.permutation(n) / n + 0.01
        want = nms(torch, torch.tensor(boxes), torch.tensor(scores), thr)
        got = ops.nms(zeroin.tensor(boxes), zeroin.tensor(scores), thr)
        assert got.dtype == zeroin.int64
        np.testing.assert_array_equal(_np(got), _np(want))
        assert 1 < len(got) < n
    idxs = rng.integers(0, 3, n)
    got = _np(ops.batched_nms(zeroin.tensor(boxes), zeroin.tensor(scores),
                              zeroin.tensor(idxs), 0.0))
    for k in range(3):   # within a class, the book's nms; across classes, by score
        mine = np.flatnonzero(idxs == k)
        kept = mine[_np(nms(torch, torch.tensor(boxes[mine]), torch.tensor(scores[mine]), 0.0))]
        np.testing.assert_array_equal(got[idxs[got] == k], kept)
    assert (np.diff(scores[got]) < 0).all()
    with pytest.raises(ValueError, match=r"nms: scores should be a tensor \(12,\), one per box"):
        ops.nms(zeroin.tensor(boxes), zeroin.tensor(scores[:5]), 0.5)


def _roi_align_loops(x, rois, ph, pw, scale, sampling_ratio, aligned):
    """torchvision's CPU roi_align kernel transcribed point by point (float64), the
    oracle for zeroin's vectorised one."""
    n, c, H, W = x.shape
    out = np.zeros((len(rois), c, ph, pw))
    off = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois):
        sw, sh, ew, eh = x1 * scale - off, y1 * scale - off, x2 * scale - off, y2 * scale - off
        rw, rh = ew - sw, eh - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rh / ph))
        gw = sampling_ratio if sampling_ratio > 0 else int(np.ceil(rw / pw))
        count = max(gh * gw, 1)
        for i in range(ph):
            for j in range(pw):
                acc = np.zeros(c)
                for iy in range(gh):
                    y = sh + i * bh + (iy + 0.5) * bh / gh
                    for ix in range(gw):
                        xx = sw + j * bw + (ix + 0.5) * bw / gw
                        if y < -1.0 or y > H or xx < -1.0 or xx > W:
                            continue
                        yv, xv = max(y, 0.0), max(xx, 0.0)
                        yl, xl = int(yv), int(xv)
                        if yl >= H - 1:
                            yh = yl = H - 1
                            yv = float(yl)
                        else:
                            yh = yl + 1
                        if xl >= W - 1:
                            xh = xl = W - 1
                            xv = float(xl)
                        else:
                            xh = xl + 1
                        ly, lx = yv - yl, xv - xl
                        f = x[int(b)]
                        acc += ((1 - ly) * (1 - lx) * f[:, yl, xl] + (1 - ly) * lx * f[:, yl, xh]
                                + ly * (1 - lx) * f[:, yh, xl] + ly * lx * f[:, yh, xh])
                out[k, :, i, j] = acc / count
    return out


def test_14_8_roi_pool_and_roi_align():
    from zeroin.vision import ops
    # the book's example and its printed result (torchvision's)
    X = zeroin.arange(16.).reshape(1, 1, 4, 4)
    rois = zeroin.Tensor([[0, 0, 0, 20, 20], [0, 0, 10, 30, 30]])
    out = ops.roi_pool(X, rois, output_size=(2, 2), spatial_scale=0.1)
    np.testing.assert_array_equal(_np(out), [[[[5, 6], [9, 10]]], [[[9, 11], [13, 15]]]])
    assert out.dtype == X.dtype
    # roi_pool's values and gradient: the bins' maxima by hand in torch (distinct values)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 9, 11))
    boxes = np.array([[0, 0.0, 0.0, 40, 30], [1, 12, 5, 70, 60], [1, 100, 80, 130, 99],
                      [0, 33, 21, 35, 22], [1, 60, 64, 88, 76]])      # the last: the bottom edge
    xt = torch.tensor(x, requires_grad=True)
    want = []
    for b, *box in boxes:
        x1, y1, x2, y2 = (int(np.floor(v * 0.125 + 0.5)) for v in box)
        bh, bw = max(y2 - y1 + 1, 1) / 3, max(x2 - x1 + 1, 1) / 2
        rows = []
        for i in range(3):
            hs, he = (min(max(f + y1, 0), 9) for f in (int(np.floor(i * bh)),
                                                        int(np.ceil((i + 1) * bh))))
            cols = []
            for j in range(2):
                ws, we = (min(max(f + x1, 0), 11) for f in (int(np.floor(j * bw)),
                                                             int(np.ceil((j + 1) * bw))))
                cols.append(xt[int(b), :, hs:he, ws:we].amax(dim=(1, 2)) if he > hs and we > ws
                            else xt.new_zeros(3))
            rows.append(torch.stack(cols, -1))
        want.append(torch.stack(rows, -2))
    want = torch.stack(want)
    g = rng.standard_normal(want.shape)
    (want * torch.tensor(g)).sum().backward()
    xz = zeroin.tensor(x, requires_grad=True)
    got = ops.RoIPool((3, 2), 0.125)(xz, zeroin.tensor(boxes))
    (got * zeroin.tensor(g)).sum().backward()
    _close(got, want, 0)
    _close(xz.grad, xt.grad, 1e-12)
    assert float(np.abs(_np(got[2])).max()) == 0.0           # a box off the map: empty bins
    # roi_align against the kernel's loops, for each sampling mode, and its gradient
    for kw in (dict(sampling_ratio=-1, aligned=False), dict(sampling_ratio=2, aligned=True),
               dict(sampling_ratio=-1, aligned=True)):
        got = ops.roi_align(zeroin.tensor(x), zeroin.tensor(boxes), (3, 2), 0.125, **kw)
        _close(got, _roi_align_loops(x, boxes, 3, 2, 0.125, kw["sampling_ratio"],
                                     kw["aligned"]), 1e-12)
    per_image = [zeroin.tensor(boxes[boxes[:, 0] == i, 1:]) for i in range(2)]
    order = np.argsort(boxes[:, 0], kind="stable")
    _close(ops.roi_align(zeroin.tensor(x), per_image, 2, 0.125),
           _np(ops.roi_align(zeroin.tensor(x), zeroin.tensor(boxes), 2, 0.125))[order], 0)
    assert zeroin.autograd.gradcheck(
        lambda t: ops.RoIAlign(2, 0.125, 2, aligned=True)(t, zeroin.tensor(boxes[[0, 1, 4]])),
        (zeroin.tensor(x[:, :1], requires_grad=True),))
    with pytest.raises(ValueError, match=r"roi_align: boxes should be a tensor \(K, 5\)"):
        ops.roi_align(zeroin.tensor(x), zeroin.tensor(boxes[:, 1:]), 2)


# --- 14.1-14.2 image augmentation and fine-tuning ----------------------------------------------

def _image(seed=0, h=20, w=30):
    from PIL import Image
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8))


def test_14_1_image_augmentation(f32):
    pytest.importorskip("PIL")
    import zeroin.vision as torchvision
    from zeroin.vision import transforms
    img = _image()
    a = np.asarray(img)

    def apply(img, aug, num_rows=2, num_cols=4):
        return [aug(img) for _ in range(num_rows * num_cols)]    # (the book then plots them)

    # ToTensor: (C, H, W) in [0, 1], the default dtype, as torch computes it from the array
    t = transforms.ToTensor()(img)
    assert t.dtype == zeroin.float32
    _close(t, torch.tensor(a).permute(2, 0, 1).float() / 255, 0)
    # flips, on the PIL image and on the tensor
    assert np.array_equal(np.asarray(torchvision.transforms.RandomHorizontalFlip(p=1)(img)),
                          a[:, ::-1])
    assert np.array_equal(np.asarray(transforms.RandomVerticalFlip(p=1)(img)), a[::-1])
    _close(transforms.RandomHorizontalFlip(p=1)(t), torch.tensor(_np(t)).flip(-1), 0)
    zeroin.manual_seed(0)
    outs = apply(img, transforms.Compose([transforms.RandomHorizontalFlip(),
                                          transforms.ToTensor()]))
    flipped = [bool((o == t.flip(-1)).all()) for o in outs]
    assert all(f or bool((o == t).all()) for o, f in zip(outs, flipped))
    assert 0 < sum(flipped) < 8                          # (seeded) both occur, as with p=0.5
    # RandomResizedCrop: the shape asked for; on a one-colour image every crop is that colour
    shape_aug = torchvision.transforms.RandomResizedCrop((16, 16), scale=(0.1, 1), ratio=(0.5, 2))
    assert all(o.size == (16, 16) for o in apply(img, shape_aug))
    assert all(tuple(o.shape) == (3, 16, 16) for o in apply(t, shape_aug))
    flat = zeroin.full((3, 20, 30), 0.25)
    assert all(bool((o - 0.25).abs().max() < 1e-6) for o in apply(flat, shape_aug))
    # ColorJitter(brightness=0.5): each output one factor in [0.5, 1.5] times the image
    for o in apply(t * 0.5, torchvision.transforms.ColorJitter(
            brightness=0.5, contrast=0, saturation=0, hue=0)):
        ratio = _np(o) / np.maximum(_np(t * 0.5), 1e-3)
        keep = _np(t * 0.5) > 0.05
        assert 0.5 - 1e-6 <= ratio[keep].min() and ratio[keep].max() <= 1.5 + 1e-6
        assert ratio[keep].max() - ratio[keep].min() < 1e-3
    color_aug = torchvision.transforms.ColorJitter(
        brightness=0.5, contrast=0.5, saturation=0.5, hue=0.5)
    augs = torchvision.transforms.Compose([
        torchvision.transforms.RandomHorizontalFlip(), color_aug, shape_aug])
    assert all(o.size == (16, 16) for o in apply(img, augs))
    # Normalize, as the fine-tuning section uses it, against torch's arithmetic
    normalize = torchvision.transforms.Normalize(
        [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    tt = torch.tensor(_np(t))
    _close(normalize(t), (tt - torch.tensor([0.485, 0.456, 0.406])[:, None, None])
           / torch.tensor([0.229, 0.224, 0.225])[:, None, None], 2e-7)
    test_augs = torchvision.transforms.Compose([
        torchvision.transforms.Resize([32, 32]),
        torchvision.transforms.CenterCrop(24),
        torchvision.transforms.ToTensor(),
        normalize])
    assert tuple(test_augs(img).shape) == (3, 24, 24)


def _small_fc_net(lib):
    """A model with a body and an ``fc`` head, the names the fine-tuning section relies on."""
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.pool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(4, 10)

        def forward(self, X):
            return self.fc(self.pool(lib.relu(self.conv(X))).flatten(1))
    return Net()


def test_14_2_fine_tuning_param_groups_and_resnet18(f32, tmp_path):
    pytest.importorskip("PIL")
    import zeroin.vision as torchvision
    # the parameter groups: the head at ten times the rate, weight decay on both (torch's SGD)
    nets = {}
    for lib in LIBS:
        net = _small_fc_net(lib)
        net.fc = lib.nn.Linear(net.fc.in_features, 2)
        lib.nn.init.xavier_uniform_(net.fc.weight)
        nets[lib] = net
    _copy(nets[torch], nets[zeroin])
    X, y = _data((4, 3, 8, 8), classes=2)
    res = {}
    for lib in LIBS:
        net, learning_rate = nets[lib], 5e-5 * 100
        loss = lib.nn.CrossEntropyLoss(reduction="none")
        params_1x = [param for name, param in net.named_parameters()
                     if name not in ["fc.weight", "fc.bias"]]
        trainer = lib.optim.SGD([{'params': params_1x},
                                 {'params': net.fc.parameters(),
                                  'lr': learning_rate * 10}],
                                lr=learning_rate, weight_decay=0.001)
        assert [g["lr"] for g in trainer.param_groups] == [learning_rate, learning_rate * 10]
        for _ in range(2):
            trainer.zero_grad()
            l = loss(net(lib.tensor(X)), lib.tensor(y))  # noqa: E741
            l.sum().backward()
            trainer.step()
        res[lib] = [l, net.conv.weight, net.fc.weight, net.fc.bias]
    _same(res, 2e-6)
    # torchvision.models.resnet18 with a new head; one step's update by hand per group
    finetune_net = torchvision.models.resnet18()
    assert finetune_net.fc.in_features == 512
    finetune_net.fc = zeroin.nn.Linear(finetune_net.fc.in_features, 2)
    zeroin.nn.init.xavier_uniform_(finetune_net.fc.weight)
    params_1x = [param for name, param in finetune_net.named_parameters()
                 if name not in ["fc.weight", "fc.bias"]]
    assert len(params_1x) == len(list(finetune_net.parameters())) - 2
    trainer = zeroin.optim.SGD([{'params': params_1x},
                                {'params': finetune_net.fc.parameters(), 'lr': 0.05}],
                               lr=0.005, weight_decay=0.001)
    # images through ImageFolder and the book's train_augs (small sizes)
    for cls in ("hotdog", "not-hotdog"):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for i in range(2):
            _image(len(cls) * 10 + i, 40, 48).save(tmp_path / "train" / cls / f"{i}.png")
    normalize = torchvision.transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    train_augs = torchvision.transforms.Compose([
        torchvision.transforms.RandomResizedCrop(16),
        torchvision.transforms.RandomHorizontalFlip(),
        torchvision.transforms.ToTensor(), normalize])
    train_iter = zeroin.utils.data.DataLoader(torchvision.datasets.ImageFolder(
        str(tmp_path / "train"), transform=train_augs), batch_size=4, shuffle=True)
    features, labels = next(iter(train_iter))
    assert tuple(features.shape) == (4, 3, 16, 16) and sorted(labels.tolist()) == [0, 0, 1, 1]
    before = [p.detach().clone() for p in finetune_net.parameters()]
    l = zeroin.nn.CrossEntropyLoss(reduction="none")(finetune_net(features), labels)  # noqa: E741
    assert tuple(l.shape) == (4,)
    trainer.zero_grad()
    l.sum().backward()
    trainer.step()
    after = dict(zip(finetune_net.parameters(), before))
    for group, lr in zip(trainer.param_groups, (0.005, 0.05)):
        for p in group["params"][:6]:
            p0 = _np(after[p])
            np.testing.assert_allclose(_np(p), p0 - lr * (_np(p.grad) + 0.001 * p0),
                                       rtol=1e-5, atol=1e-7)
    with pytest.raises(Exception, match="safetensors"), pytest.warns(UserWarning):
        torchvision.models.resnet18(pretrained=True)     # no download: how to convert them


# --- 14.9-14.12 semantic segmentation, transposed convolution, FCN, style transfer -------------

VOC_COLORMAP = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]


def voc_colormap2label(lib):
    """Build the mapping from RGB to class indices for VOC labels."""
    colormap2label = lib.zeros(256 ** 3, dtype=lib.long)
    for i, colormap in enumerate(VOC_COLORMAP):
        colormap2label[
            (colormap[0] * 256 + colormap[1]) * 256 + colormap[2]] = i
    return colormap2label


def voc_label_indices(colormap, colormap2label):
    """Map any RGB values in VOC labels to their class indices."""
    colormap = colormap.permute(1, 2, 0).numpy().astype('int32')
    idx = ((colormap[:, :, 0] * 256 + colormap[:, :, 1]) * 256
           + colormap[:, :, 2])
    return colormap2label[idx]


def test_14_9_voc_label_indices_and_random_crop():
    from zeroin.vision import transforms
    rng = np.random.default_rng(8)
    classes = rng.integers(0, len(VOC_COLORMAP), (6, 9))
    label_img = np.asarray(VOC_COLORMAP)[classes].transpose(2, 0, 1)     # (3, H, W) as read
    res = {lib: [voc_label_indices(lib.tensor(label_img), voc_colormap2label(lib))]
           for lib in LIBS}
    _same(res, 0)
    np.testing.assert_array_equal(_np(res[zeroin][0]), classes)
    feature, label = zeroin.tensor(rng.random((3, 6, 9))), zeroin.tensor(label_img)

    def voc_rand_crop(feature, label, height, width):
        """Randomly crop both feature and label images."""
        rect = transforms.RandomCrop.get_params(feature, (height, width))
        feature = transforms.functional.crop(feature, *rect)
        label = transforms.functional.crop(label, *rect)
        return feature, label, rect
    zeroin.manual_seed(0)
    corners = set()
    for _ in range(30):
        f, lab, (i, j, h, w) = voc_rand_crop(feature, label, 4, 5)
        assert (h, w) == (4, 5) and 0 <= i <= 2 and 0 <= j <= 4
        assert tuple(f.shape) == (3, 4, 5) and tuple(lab.shape) == (3, 4, 5)
        _close(f, _np(feature)[:, i:i + 4, j:j + 5], 0)
        _close(lab, label_img[:, i:i + 4, j:j + 5], 0)
        corners.add((i, j))
    assert {i for i, _ in corners} == {0, 1, 2} and {j for _, j in corners} == set(range(5))


def bilinear_kernel(lib, in_channels, out_channels, kernel_size):
    factor = (kernel_size + 1) // 2
    if kernel_size % 2 == 1:
        center = factor - 1
    else:
        center = factor - 0.5
    og = (lib.arange(kernel_size).reshape(-1, 1),
          lib.arange(kernel_size).reshape(1, -1))
    filt = (1 - lib.abs(og[0] - center) / factor) * \
           (1 - lib.abs(og[1] - center) / factor)
    weight = lib.zeros((in_channels, out_channels,
                        kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


def test_14_10_transposed_convolution(f32):
    res = {}
    for lib in LIBS:
        nn = lib.nn

        def trans_conv(X, K):
            h, w = K.shape
            Y = lib.zeros((X.shape[0] + h - 1, X.shape[1] + w - 1))
            for i in range(X.shape[0]):
                for j in range(X.shape[1]):
                    Y[i: i + h, j: j + w] += X[i, j] * K
            return Y
        X = lib.tensor([[0.0, 1.0], [2.0, 3.0]])
        K = lib.tensor([[0.0, 1.0], [2.0, 3.0]])
        Y = trans_conv(X, K)
        X, K = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)
        tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False)
        tconv.weight.data = K
        Y1 = tconv(X)
        tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, padding=1, bias=False)
        tconv.weight.data = K
        Y2 = tconv(X)
        tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, bias=False)
        tconv.weight.data = K
        Y3 = tconv(X)
        X = lib.tensor(_data((1, 10, 16, 16))[0])
        conv = nn.Conv2d(10, 20, kernel_size=5, padding=2, stride=3)
        tconv = nn.ConvTranspose2d(20, 10, kernel_size=5, padding=2, stride=3)
        assert tuple(tconv(conv(X)).shape) == tuple(X.shape)
        X = lib.arange(9.0).reshape(3, 3)
        K = lib.tensor([[1.0, 2.0], [3.0, 4.0]])

        def kernel2matrix(K):
            k, W = lib.zeros(5), lib.zeros((4, 9))
            k[:2], k[3:5] = K[0, :], K[1, :]
            W[0, :5], W[1, 1:6], W[2, 3:8], W[3, 4:] = k, k, k, k
            return W
        W = kernel2matrix(K)
        Z = lib.nn.functional.conv2d(X.reshape(1, 1, 3, 3), K.reshape(1, 1, 2, 2))
        res[lib] = [Y, Y1, Y2, Y3, W, Z, lib.matmul(W, X.reshape(-1)).reshape(2, 2)]
        assert bool((Z.reshape(2, 2) == res[lib][-1]).all())
        Zt = lib.nn.functional.conv_transpose2d(Z, K.reshape(1, 1, 2, 2))
        assert bool((Zt.reshape(3, 3) == lib.matmul(W.T, Z.reshape(-1)).reshape(3, 3)).all())
    _same(res, 0)


def test_14_11_fcn_bilinear_kernel_head_and_loss(f32):
    import zeroin.vision as torchvision
    # the bilinear kernel doubles an image as bilinear upsampling does
    res = {}
    img = _data((1, 3, 6, 8))[0]
    for lib in LIBS:
        nn = lib.nn
        conv_trans = nn.ConvTranspose2d(3, 3, kernel_size=4, padding=1, stride=2,
                                        bias=False)
        conv_trans.weight.data.copy_(bilinear_kernel(lib, 3, 3, 4))
        Y = conv_trans(lib.tensor(img))
        res[lib] = [bilinear_kernel(lib, 3, 3, 4), Y, bilinear_kernel(lib, 2, 2, 5)]
    _same(res, 1e-6)
    assert tuple(res[zeroin][1].shape) == (1, 3, 12, 16)
    # the FCN on resnet18's body (zeroin.vision's: torchvision is not installed here)
    pretrained_net = torchvision.models.resnet18()
    assert [type(m).__name__ for m in list(pretrained_net.children())[-3:]] == \
        ["Sequential", "AdaptiveAvgPool2d", "Linear"]
    net = zeroin.nn.Sequential(*list(pretrained_net.children())[:-2])
    X = zeroin.rand(size=(1, 3, 64, 96))
    assert tuple(net(X).shape) == (1, 512, 2, 3)
    num_classes = 21
    net.add_module('final_conv', zeroin.nn.Conv2d(512, num_classes, kernel_size=1))
    net.add_module('transpose_conv', zeroin.nn.ConvTranspose2d(num_classes, num_classes,
                                                               kernel_size=64, padding=16,
                                                               stride=32))
    W = bilinear_kernel(zeroin, num_classes, num_classes, 64)
    net.transpose_conv.weight.data.copy_(W)
    assert tuple(net(X).shape) == (1, 21, 64, 96)
    # the head, the loss and two training steps against torch
    heads = {lib: lib.nn.Sequential(
        lib.nn.Conv2d(512, num_classes, kernel_size=1),
        lib.nn.ConvTranspose2d(num_classes, num_classes, kernel_size=64, padding=16,
                               stride=32)) for lib in LIBS}
    heads[torch][1].weight.data.copy_(bilinear_kernel(torch, num_classes, num_classes, 64))
    _copy(heads[torch], heads[zeroin])
    rng = np.random.default_rng(9)
    feats = rng.standard_normal((2, 512, 2, 3)).astype(np.float32)
    targets = rng.integers(0, num_classes, (2, 64, 96))
    res = {}
    for lib in LIBS:
        F, head = lib.nn.functional, heads[lib]

        def loss(inputs, targets):
            return F.cross_entropy(inputs, targets, reduction='none').mean(1).mean(1)
        trainer = lib.optim.SGD(head.parameters(), lr=0.001, weight_decay=1e-3)
        out = []
        for _ in range(2):
            trainer.zero_grad()
            l = loss(head(lib.tensor(feats)), lib.tensor(targets))  # noqa: E741
            l.sum().backward()
            trainer.step()
            out += [l, head[0].weight.grad, head[1].weight.grad]
        pred = head(lib.tensor(feats)).argmax(dim=1)
        colormap = lib.tensor(VOC_COLORMAP * 5)[:num_classes]
        res[lib] = out + [head[1].weight, pred, colormap[pred.long(), :]]
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, rtol=1e-4, atol=1e-6)


def _style_transfer(lib, net, X0, content_img, style_img, num_epochs=4, lr=0.3,
                    lr_decay_epoch=2):
    """d2l 14.12 on ``lib``; ``net`` is a small VGG-like stack in place of the book's layers
    of the pretrained VGG-19."""
    nn = lib.nn
    style_layers, content_layers = [0, 2, 5], [7]

    def extract_features(X, content_layers, style_layers):
        contents = []
        styles = []
        for i in range(len(net)):
            X = net[i](X)
            if i in style_layers:
                styles.append(X)
            if i in content_layers:
                contents.append(X)
        return contents, styles

    def get_contents(image_shape, device):
        contents_Y, _ = extract_features(content_img, content_layers, style_layers)
        return content_img, contents_Y

    def get_styles(image_shape, device):
        _, styles_Y = extract_features(style_img, content_layers, style_layers)
        return style_img, styles_Y

    def content_loss(Y_hat, Y):
        # We detach the target content from the tree used to dynamically compute
        # the gradient: this is a stated value, not a variable. Otherwise the loss
        # will throw an error.
        return lib.square(Y_hat - Y.detach()).mean()

    def gram(X):
        num_channels, n = X.shape[1], X.numel() // X.shape[1]
        X = X.reshape((num_channels, n))
        return lib.matmul(X, X.T) / (num_channels * n)

    def style_loss(Y_hat, gram_Y):
        return lib.square(gram(Y_hat) - gram_Y.detach()).mean()

    def tv_loss(Y_hat):
        return 0.5 * (lib.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean() +
                      lib.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean())

    content_weight, style_weight, tv_weight = 1, 1e4, 10

    def compute_loss(X, contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram):
        # Calculate the content, style, and total variance losses respectively
        contents_l = [content_loss(Y_hat, Y) * content_weight for Y_hat, Y in zip(
            contents_Y_hat, contents_Y)]
        styles_l = [style_loss(Y_hat, Y) * style_weight for Y_hat, Y in zip(
            styles_Y_hat, styles_Y_gram)]
        tv_l = tv_loss(X) * tv_weight
        # Add up all the losses
        l = sum(styles_l + contents_l + [tv_l])  # noqa: E741
        return contents_l, styles_l, tv_l, l

    class SynthesizedImage(nn.Module):
        def __init__(self, img_shape, **kwargs):
            super(SynthesizedImage, self).__init__(**kwargs)  # noqa: UP008
            self.weight = nn.Parameter(lib.rand(*img_shape))

        def forward(self):
            return self.weight

    def get_inits(X, device, lr, styles_Y):
        gen_img = SynthesizedImage(X.shape).to(device)
        gen_img.weight.data.copy_(X.data)
        trainer = lib.optim.Adam(gen_img.parameters(), lr=lr)
        styles_Y_gram = [gram(Y) for Y in styles_Y]
        return gen_img(), styles_Y_gram, trainer

    def train(X, contents_Y, styles_Y, device, lr, num_epochs, lr_decay_epoch):
        X, styles_Y_gram, trainer = get_inits(X, device, lr, styles_Y)
        scheduler = lib.optim.lr_scheduler.StepLR(trainer, lr_decay_epoch, 0.8)
        history = []
        for epoch in range(num_epochs):
            trainer.zero_grad()
            contents_Y_hat, styles_Y_hat = extract_features(
                X, content_layers, style_layers)
            contents_l, styles_l, tv_l, l = compute_loss(  # noqa: E741
                X, contents_Y_hat, styles_Y_hat, contents_Y, styles_Y_gram)
            l.backward()
            trainer.step()
            scheduler.step()
            history += [l.detach(), sum(contents_l).detach(), sum(styles_l).detach(),
                        tv_l.detach()]
        return X, history, trainer.param_groups[0]["lr"], gram(styles_Y[0])

    device, image_shape = "cpu", tuple(content_img.shape[-2:])
    _, contents_Y = get_contents(image_shape, device)
    _, styles_Y = get_styles(image_shape, device)
    return train(X0, contents_Y, styles_Y, device, lr, num_epochs, lr_decay_epoch)


def test_14_12_neural_style_transfer():
    """In float64 (as the DCGAN's steps below): Adam's first steps are +-lr for every pixel
    whose gradient is not ~0, so in float32 a last-bit difference in a near-zero gradient
    becomes a difference of up to lr (0.3) in that pixel."""
    pytest.importorskip("PIL")
    torch.set_default_dtype(torch.float64)
    try:
        _style_transfer_test()
    finally:
        torch.set_default_dtype(torch.float32)


def _style_transfer_test():
    import zeroin.vision as torchvision
    rgb_mean = zeroin.tensor([0.485, 0.456, 0.406])
    rgb_std = zeroin.tensor([0.229, 0.224, 0.225])

    def preprocess(img, image_shape):
        transforms = torchvision.transforms.Compose([
            torchvision.transforms.Resize(image_shape),
            torchvision.transforms.ToTensor(),
            torchvision.transforms.Normalize(mean=rgb_mean, std=rgb_std)])
        return transforms(img).unsqueeze(0)

    def postprocess(img):
        img = img[0].to(rgb_std.device)
        img = zeroin.clamp(img.permute(1, 2, 0) * rgb_std + rgb_mean, 0, 1)
        return torchvision.transforms.ToPILImage()(img.permute(2, 0, 1))

    image_shape = (12, 16)
    content = preprocess(_image(1, 24, 32), image_shape)
    style = preprocess(_image(2, 30, 30), image_shape)
    assert tuple(content.shape) == (1, 3, 12, 16) and content.dtype == zeroin.float64
    back = np.asarray(postprocess(content))
    assert back.shape == (12, 16, 3) and back.dtype == np.uint8
    nets = {}
    for lib in LIBS:
        nn = lib.nn
        nets[lib] = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1), nn.ReLU())
    _copy(nets[torch], nets[zeroin])
    res = {}
    for lib in LIBS:
        c, s = lib.tensor(_np(content)), lib.tensor(_np(style))
        X, history, lr, gram_s = _style_transfer(lib, nets[lib], c.clone(), c, s)
        res[lib] = [X.detach(), *history, gram_s]
        res[lib, "lr"] = lr
    assert res[zeroin, "lr"] == pytest.approx(res[torch, "lr"]) == pytest.approx(0.3 * 0.8 ** 2)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, 1e-9)
    assert float(res[zeroin][13]) < float(res[zeroin][1])        # the loss went down


# --- 20 generative adversarial networks ---------------------------------------------------------

def update_D(lib, X, Z, net_D, net_G, loss, trainer_D):
    """Update discriminator."""
    batch_size = X.shape[0]
    ones = lib.ones((batch_size,), device=X.device)
    zeros = lib.zeros((batch_size,), device=X.device)
    trainer_D.zero_grad()
    real_Y = net_D(X)
    fake_X = net_G(Z)
    # Do not need to compute gradient for `net_G`, detach it from
    # computing gradients.
    fake_Y = net_D(fake_X.detach())
    loss_D = (loss(real_Y, ones.reshape(real_Y.shape)) +
              loss(fake_Y, zeros.reshape(fake_Y.shape))) / 2
    loss_D.backward()
    trainer_D.step()
    return loss_D


def update_G(lib, Z, net_D, net_G, loss, trainer_G):
    """Update generator."""
    batch_size = Z.shape[0]
    ones = lib.ones((batch_size,), device=Z.device)
    trainer_G.zero_grad()
    # We could reuse `fake_X` from `update_D` to save computation
    fake_X = net_G(Z)
    # Recomputing `fake_Y` is needed since `net_D` is changed
    fake_Y = net_D(fake_X)
    loss_G = loss(fake_Y, ones.reshape(fake_Y.shape))
    loss_G.backward()
    trainer_G.step()
    return loss_G


def _gan_train(lib, net_D, net_G, batches, latents, lr_D, lr_G, **trainer_hp):
    """d2l 20.1's ``train`` without the plots: one epoch over the given batches and
    latent draws (the weights were set by ``nn.init.normal_(w, 0, 0.02)`` in torch and
    copied); returns the losses, the parameters and a generated batch."""
    loss = lib.nn.BCEWithLogitsLoss(reduction='sum')
    trainer_D = lib.optim.Adam(net_D.parameters(), lr=lr_D, **trainer_hp)
    trainer_G = lib.optim.Adam(net_G.parameters(), lr=lr_G, **trainer_hp)
    out = []
    for X, Z in zip(batches, latents):
        X, Z = lib.tensor(X), lib.tensor(Z)
        out += [update_D(lib, X, Z, net_D, net_G, loss, trainer_D),
                update_G(lib, Z, net_D, net_G, loss, trainer_G)]
    fake_X = net_G(lib.tensor(latents[0])).detach().numpy()
    return out + [p.detach() for p in net_D.parameters()] + \
        [p.detach() for p in net_G.parameters()] + [fake_X]


def _init_and_copy(nets):
    """The book's ``nn.init.normal_(w, 0, 0.02)`` on every parameter, in torch; zeroin's
    the same by copying (each library draws from its own generator)."""
    for w in nets[torch].parameters():
        torch.nn.init.normal_(w, 0, 0.02)
    zeroin.manual_seed(0)
    for w in nets[zeroin].parameters():
        zeroin.nn.init.normal_(w, 0, 0.02)
    big = max(nets[zeroin].parameters(), key=lambda w: w.numel())
    assert big.numel() < 1000 or abs(float(big.detach().std()) - 0.02) < 0.002
    _copy(nets[torch], nets[zeroin])


def test_20_1_gan_on_gaussian_data(f32):
    rng = np.random.default_rng(10)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    A = np.array([[1, 2], [-0.1, 0.5]], np.float32)
    b = np.array([1, 2], np.float32)
    res = {}
    for lib in LIBS:
        data = lib.matmul(lib.tensor(X), lib.tensor(A)) + lib.tensor(b)
        res[lib] = [data, lib.matmul(lib.tensor(A).T, lib.tensor(A))]   # the covariance
    _same(res, 1e-6)
    data = _np(res[zeroin][0])
    batches = [data[i:i + 8] for i in range(0, 32, 8)]
    latents = [rng.standard_normal((8, 2)).astype(np.float32) for _ in batches]
    nets_D, nets_G = {}, {}
    for lib in LIBS:
        nn = lib.nn
        nets_G[lib] = nn.Sequential(nn.Linear(2, 2))
        nets_D[lib] = nn.Sequential(
            nn.Linear(2, 5), nn.Tanh(),
            nn.Linear(5, 3), nn.Tanh(),
            nn.Linear(3, 1))
    _init_and_copy(nets_D)
    _init_and_copy(nets_G)
    res = {lib: _gan_train(lib, nets_D[lib], nets_G[lib], batches, latents, 0.05, 0.005)
           for lib in LIBS}
    _same(res, 2e-5)


def _dcgan_blocks(lib):
    nn = lib.nn

    class G_block(nn.Module):
        def __init__(self, out_channels, in_channels=3, kernel_size=4, strides=2,
                     padding=1, **kwargs):
            super(G_block, self).__init__(**kwargs)  # noqa: UP008
            self.conv2d_trans = nn.ConvTranspose2d(in_channels, out_channels,
                                                   kernel_size, strides, padding, bias=False)
            self.batch_norm = nn.BatchNorm2d(out_channels)
            self.activation = nn.ReLU()

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d_trans(X)))

    class D_block(nn.Module):
        def __init__(self, out_channels, in_channels=3, kernel_size=4, strides=2,
                     padding=1, alpha=0.2, **kwargs):
            super(D_block, self).__init__(**kwargs)  # noqa: UP008
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size,
                                    strides, padding, bias=False)
            self.batch_norm = nn.BatchNorm2d(out_channels)
            self.activation = nn.LeakyReLU(alpha, inplace=True)

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d(X)))
    return G_block, D_block


def _dcgan(lib, n_G=8, n_D=8, latent_dim=100):
    nn = lib.nn
    G_block, D_block = _dcgan_blocks(lib)
    net_G = nn.Sequential(
        G_block(in_channels=latent_dim, out_channels=n_G*8,
                strides=1, padding=0),                  # Output: (n_G * 8, 4, 4)
        G_block(in_channels=n_G*8, out_channels=n_G*4),  # Output: (n_G * 4, 8, 8)
        G_block(in_channels=n_G*4, out_channels=n_G*2),  # Output: (n_G * 2, 16, 16)
        G_block(in_channels=n_G*2, out_channels=n_G),    # Output: (n_G, 32, 32)
        nn.ConvTranspose2d(in_channels=n_G, out_channels=3,
                           kernel_size=4, stride=2, padding=1, bias=False),
        nn.Tanh())  # Output: (3, 64, 64)
    net_D = nn.Sequential(
        D_block(n_D),  # Output: (n_D, 32, 32)
        D_block(in_channels=n_D, out_channels=n_D*2),  # Output: (n_D * 2, 16, 16)
        D_block(in_channels=n_D*2, out_channels=n_D*4),  # Output: (n_D * 4, 8, 8)
        D_block(in_channels=n_D*4, out_channels=n_D*8),  # Output: (n_D * 8, 4, 4)
        nn.Conv2d(in_channels=n_D*8, out_channels=1,
                  kernel_size=4, bias=False))  # Output: (1, 1, 1)
    return net_G, net_D


def test_20_2_dcgan_blocks_and_training_steps():
    """In float64: in float32 Adam's first steps (+-lr wherever a gradient is not ~1e-8)
    turn the two libraries' last-bit differences in near-zero gradients into a fraction of
    a step for a few weights; float64 keeps them apart from noise."""
    torch.set_default_dtype(torch.float64)
    try:
        _dcgan_steps()
    finally:
        torch.set_default_dtype(torch.float32)


def _dcgan_steps():
    for lib in LIBS:
        G_block, D_block = _dcgan_blocks(lib)
        x = lib.zeros((2, 3, 16, 16))
        assert tuple(G_block(20)(x).shape) == (2, 20, 32, 32)
        x = lib.zeros((2, 3, 1, 1))
        assert tuple(G_block(20, strides=1, padding=0)(x).shape) == (2, 20, 4, 4)
        alphas = [0, .2, .4, .6, .8, 1]
        x = lib.arange(-2, 1, 0.1)
        Y = [lib.nn.LeakyReLU(alpha)(x).detach().numpy() for alpha in alphas]
        np.testing.assert_allclose(Y[1], np.where(_np(x) > 0, _np(x), 0.2 * _np(x)), rtol=1e-6)
        x = lib.zeros((2, 3, 16, 16))
        assert tuple(D_block(20)(x).shape) == (2, 20, 8, 8)
        net_G, net_D = _dcgan(lib)
        assert tuple(net_G(lib.zeros((1, 100, 1, 1))).shape) == (1, 3, 64, 64)
        assert tuple(net_D(lib.zeros((1, 3, 64, 64))).shape) == (1, 1, 1, 1)
    nets = {lib: _dcgan(lib) for lib in LIBS}
    _init_and_copy({lib: nets[lib][1] for lib in LIBS})
    _init_and_copy({lib: nets[lib][0] for lib in LIBS})
    rng = np.random.default_rng(11)
    batches = [np.tanh(rng.standard_normal((2, 3, 64, 64))) for _ in range(2)]
    latents = [rng.standard_normal((2, 100, 1, 1)) for _ in batches]
    res = {lib: _gan_train(lib, nets[lib][1], nets[lib][0], batches, latents, 0.005, 0.005,
                           betas=[0.5, 0.999]) for lib in LIBS}
    _same(res, 1e-9)
    assert res[zeroin][-1].dtype == np.float64
    buffers = {lib: [b for b in nets[lib][1].buffers() if b.dtype == lib.float64]
               for lib in LIBS}
    assert len(buffers[zeroin]) == 8
    _same(buffers, 1e-9)


def test_14_5_14_6_multiscale_anchors_and_banana_dataset(f32, tmp_path):
    pytest.importorskip("PIL")
    import csv

    import zeroin.vision as torchvision
    # 14.5 display_anchors: anchors on a feature map, scaled to the image
    h, w = 40, 60
    res = {}
    for lib in LIBS:
        fmap = lib.zeros((1, 10, 2, 3))
        anchors = multibox_prior(lib, fmap, sizes=[0.15], ratios=[1, 2, 0.5])
        bbox_scale = lib.tensor((w, h, w, h))
        res[lib] = [anchors[0] * bbox_scale]
    _same(res, 2e-6)
    # 14.6 read_data_bananas on a small synthetic copy: a CSV and PNGs read by read_image
    rng = np.random.default_rng(12)
    root = tmp_path / "banana-detection" / "bananas_train"
    (root / "images").mkdir(parents=True)
    rows = []
    for k in range(3):
        _image(20 + k, 16, 16).save(root / "images" / f"{k}.png")
        x0, y0 = rng.integers(0, 8, 2)
        rows.append((f"{k}.png", 0, x0, y0, x0 + 6, y0 + 5))
    with open(root / "label.csv", "w", newline="") as f:
        csv.writer(f).writerows([("img_name", "label", "xmin", "ymin", "xmax", "ymax"), *rows])

    def read_data_bananas(is_train=True):
        """Read the banana detection dataset images and labels."""
        data_dir = tmp_path / "banana-detection"
        csv_fname = data_dir / ('bananas_train' if is_train else 'bananas_val') / 'label.csv'
        with open(csv_fname) as f:        # the book: pd.read_csv(...).set_index('img_name')
            csv_data = [(r.pop('img_name'), [int(v) for v in r.values()])
                        for r in csv.DictReader(f)]
        images, targets = [], []
        for img_name, target in csv_data:          # the book: csv_data.iterrows()
            images.append(torchvision.io.read_image(
                str(data_dir / ('bananas_train' if is_train else 'bananas_val') / 'images'
                    / f'{img_name}')))
            # Here `target` contains (class, upper-left x, upper-left y,
            # lower-right x, lower-right y), where all the images have the same
            # banana class (index 0)
            targets.append(list(target))
        return images, zeroin.tensor(targets).unsqueeze(1) / 256

    class BananasDataset(zeroin.utils.data.Dataset):
        """A customized dataset to load the banana detection dataset."""
        def __init__(self, is_train):
            self.features, self.labels = read_data_bananas(is_train)

        def __getitem__(self, idx):
            return (self.features[idx].float(), self.labels[idx])

        def __len__(self):
            return len(self.features)

    train_iter = zeroin.utils.data.DataLoader(BananasDataset(is_train=True), 2, shuffle=True)
    batch = next(iter(train_iter))
    assert tuple(batch[0].shape) == (2, 3, 16, 16) and tuple(batch[1].shape) == (2, 1, 5)
    assert batch[0].dtype == zeroin.float32 and float(batch[0].max()) > 1   # 0..255 floats
    ds = BananasDataset(True)
    img0 = np.asarray(_image(20, 16, 16)).transpose(2, 0, 1)
    assert ds.features[0].dtype == zeroin.uint8 and ds.labels.dtype == zeroin.float32
    assert (torch.tensor([[0, 1, 2]]) / 256).dtype == torch.float32      # as in torch
    np.testing.assert_array_equal(_np(ds.features[0]), img0)
    np.testing.assert_allclose(_np(ds.labels[:, 0]), np.asarray([r[1:] for r in rows]) / 256)


def test_14_1_train_batch_ch13_through_data_parallel(f32):
    """d2l's ``train_batch_ch13`` / ``train_ch13``'s step: the net wrapped in
    ``nn.DataParallel(net, device_ids=devices).to(devices[0])`` on the CPU devices that
    ``try_all_gpus`` falls back to."""
    def accuracy(lib, y_hat, y):
        y_hat = y_hat.argmax(axis=1)
        cmp = y_hat.type(y.dtype) == y
        return float(cmp.type(y.dtype).sum())

    def train_batch_ch13(lib, net, X, y, loss, trainer, devices):
        """Train for a minibatch with multiple GPUs (defined in Chapter 13)."""
        if isinstance(X, list):
            # Required for BERT fine-tuning (to be covered later)
            X = [x.to(devices[0]) for x in X]
        else:
            X = X.to(devices[0])
        y = y.to(devices[0])
        net.train()
        trainer.zero_grad()
        pred = net(X)
        l = loss(pred, y)  # noqa: E741
        l.sum().backward()
        trainer.step()
        train_loss_sum = l.sum()
        train_acc_sum = accuracy(lib, pred, y)
        return train_loss_sum, train_acc_sum

    nets = {lib: _small_fc_net(lib) for lib in LIBS}
    _copy(nets[torch], nets[zeroin])
    X, y = _data((8, 3, 8, 8))
    res = {}
    for lib in LIBS:
        nn = lib.nn

        def init_weights(m):
            if type(m) in [nn.Linear, nn.Conv2d]:
                assert m.weight.requires_grad
        devices = [lib.device(f'cuda:{i}') for i in range(lib.cuda.device_count())]
        devices = devices if devices else [lib.device('cpu')]
        net = nn.DataParallel(nets[lib], device_ids=devices).to(devices[0])
        net.apply(init_weights)
        trainer = lib.optim.Adam(net.parameters(), lr=0.001)
        loss = nn.CrossEntropyLoss(reduction="none")
        out = []
        for _ in range(2):
            out += list(train_batch_ch13(lib, net, lib.tensor(X), lib.tensor(y), loss,
                                         trainer, devices))
        res[lib] = [lib.tensor(v) if isinstance(v, float) else v for v in out] + \
            [net.module.fc.weight]
    _same(res, 1e-5)
