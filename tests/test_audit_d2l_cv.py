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
    _, summary = _train_alike(_alexnet, (2, 1, 67, 67), lr=0.01)
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
        scratch, concise = nets[_bn_lenet][lib], nets[_bn_lenet_concise][lib]
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
