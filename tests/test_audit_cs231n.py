"""Audit against Stanford's CS231n assignments, as a learner ports them (``import zeroin as
torch``, ``import zeroin.nn as nn``, ``import zeroin.nn.functional as F``, ``zeroin.optim``,
``zeroin.utils.data``): assignment 2's "PyTorch.ipynb" (parts II-V: barebones PyTorch, the
Module API, Sequential, an open-ended CIFAR-10 model) runs on ``torch`` and on ``zeroin``
with the same made-up CIFAR-10-shaped data and the same weights, compared to float
resolution in float32 and to 1e-10 in float64; the NumPy layers of assignments 1 and 2
(affine, ReLU, SVM and softmax losses, batch and layer norm, dropout, the naive convolution
and max pooling, the two-layer and fully connected nets, the update rules) are checked
with zeroin as a teacher would, against its autograd and against the assignment's own
finite differences; assignment 3's plain-PyTorch RNN pieces, MultiHeadAttention and
PositionalEncoding against torch. No download: torchvision's part is written in plain
PyTorch. See docs/cs231n.md."""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim
import zeroin.utils.data as zdata
from _audit import close, copy_weights, np_of as _np, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
import torch.utils.data  # noqa: E402,F811  (the submodule)

F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)   # the notebook's Normalize


def _set_dtype(name):
    """Both libraries' default dtype (the notebook's ``dtype``): returns its tolerance."""
    for L in (torch, zeroin):
        L.set_default_dtype(getattr(L, name))
    return F32 if name == "float32" else F64


def _libs(L):
    if L is torch:
        return torch, torch.nn, torch.nn.functional, torch.optim, torch.utils.data
    return zeroin, znn, ZF, zoptim, zdata


# --- assignment 2, PyTorch.ipynb: data ------------------------------------------------------

def _cifar(n=40, seed=0):
    """CIFAR-10-shaped images (N, 32, 32, 3) uint8 and labels, made here."""
    rng = np.random.RandomState(seed)
    return rng.randint(0, 256, (n, 32, 32, 3)).astype(np.uint8), rng.randint(0, 10, n)


def _transform(L):
    """``T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])``: zeroin.vision's on zeroin,
    torchvision's two steps in plain PyTorch on torch (torchvision is not installed)."""
    if L is zeroin:
        import zeroin.vision.transforms as T
        return T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)])

    def transform(img):
        x = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        x = x.to(dtype=torch.get_default_dtype()).div(255)
        return (x - torch.tensor(MEAN, dtype=x.dtype)[:, None, None]) / \
            torch.tensor(STD, dtype=x.dtype)[:, None, None]
    return transform


def _loaders(L, NUM_TRAIN=24, batch_size=8):
    """The notebook's loaders, ``dset.CIFAR10`` replaced by a Dataset of made-up images."""
    imgs, labels = _cifar()
    data = _libs(L)[4]
    sampler, DataLoader = data.sampler, data.DataLoader

    class CIFAR10(data.Dataset):
        def __init__(self, train, transform=None):
            self.train, self.transform = train, transform

        def __len__(self):
            return len(labels)

        def __getitem__(self, i):
            return self.transform(imgs[i]), int(labels[i])

    transform = _transform(L)
    cifar10_train = CIFAR10(train=True, transform=transform)
    loader_train = DataLoader(cifar10_train, batch_size=batch_size,
                              sampler=sampler.SubsetRandomSampler(range(NUM_TRAIN)))
    cifar10_val = CIFAR10(train=True, transform=transform)
    loader_val = DataLoader(cifar10_val, batch_size=batch_size,
                            sampler=sampler.SubsetRandomSampler(range(NUM_TRAIN, len(labels))))
    return loader_train, loader_val


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transform_and_subset_sampler_loaders_match_torch(dtype):
    tol = _set_dtype(dtype)
    torch_stream()
    got = {}
    for L in (torch, zeroin):
        L.manual_seed(0)
        train, val = _loaders(L)
        got[L] = [(x, y) for x, y in train] + [(x, y) for x, y in val]
    assert len(got[zeroin]) == len(got[torch]) == 5
    for (zx, zy), (tx, ty) in zip(got[zeroin], got[torch]):
        assert str(zx.dtype) == dtype and tuple(zx.shape) == (8, 3, 32, 32)
        close(zx, tx, **tol)
        assert zy.dtype == zeroin.int64 and _np(zy).tolist() == _np(ty).tolist()


# --- part II: barebones PyTorch -------------------------------------------------------------

def _part2(L, dtype_name, loader_train, loader_val, log):
    """Part II's functions, as the notebook writes them (``print`` is ``log.append``)."""
    torch, nn, F, optim, data = _libs(L)
    USE_GPU = True
    dtype = getattr(torch, dtype_name)
    device = torch.device('cuda') if USE_GPU and torch.cuda.is_available() else \
        torch.device('cpu')
    print_every = 1

    def flatten(x):
        N = x.shape[0]  # read in N, C, H, W
        return x.view(N, -1)

    def two_layer_fc(x, params):
        x = flatten(x)
        w1, w2 = params
        x = F.relu(x.mm(w1))
        x = x.mm(w2)
        return x

    def three_layer_convnet(x, params):
        conv_w1, conv_b1, conv_w2, conv_b2, fc_w, fc_b = params
        x = F.relu(F.conv2d(x, conv_w1, conv_b1, padding=2))
        x = F.relu(F.conv2d(x, conv_w2, conv_b2, padding=1))
        scores = flatten(x).mm(fc_w) + fc_b
        return scores

    def random_weight(shape):
        if len(shape) == 2:  # FC weight
            fan_in = shape[0]
        else:
            fan_in = np.prod(shape[1:])  # conv weight [out_channel, in_channel, kH, kW]
        w = torch.randn(shape, device=device, dtype=dtype) * np.sqrt(2. / fan_in)
        w.requires_grad = True
        return w

    def zero_weight(shape):
        return torch.zeros(shape, device=device, dtype=dtype, requires_grad=True)

    def check_accuracy_part2(loader, model_fn, params):
        split = 'val' if loader.dataset.train else 'test'
        log.append('Checking accuracy on the %s set' % split)
        num_correct, num_samples = 0, 0
        with torch.no_grad():
            for x, y in loader:
                x = x.to(device=device, dtype=dtype)  # move to device, e.g. GPU
                y = y.to(device=device, dtype=torch.int64)
                scores = model_fn(x, params)
                _, preds = scores.max(1)
                num_correct += (preds == y).sum()
                num_samples += preds.size(0)
            acc = float(num_correct) / num_samples
            log.append('Got %d / %d correct (%.2f%%)' % (num_correct, num_samples, 100 * acc))

    def train_part2(model_fn, params, learning_rate):
        for t, (x, y) in enumerate(loader_train):
            x = x.to(device=device, dtype=dtype)
            y = y.to(device=device, dtype=torch.long)
            scores = model_fn(x, params)
            loss = F.cross_entropy(scores, y)
            loss.backward()
            with torch.no_grad():
                for w in params:
                    w -= learning_rate * w.grad
                    w.grad.zero_()
            if t % print_every == 0:
                log.append(loss.item())
                check_accuracy_part2(loader_val, model_fn, params)

    return SimpleNamespace(**{k: v for k, v in locals().items() if callable(v)})


def test_part2_shape_checks_run_as_printed(f32):
    for L in (torch, zeroin):
        nb = _part2(L, "float32", None, None, [])
        x = L.arange(12).view(2, 1, 3, 2)
        assert _np(nb.flatten(x)).tolist() == [list(range(6)), list(range(6, 12))]
        x = L.zeros((64, 50), dtype=L.float32)
        w1, w2 = L.zeros((50, 42), dtype=L.float32), L.zeros((42, 10), dtype=L.float32)
        assert tuple(nb.two_layer_fc(x, [w1, w2]).size()) == (64, 10)
        x = L.zeros((64, 3, 32, 32), dtype=L.float32)
        params = [L.zeros((6, 3, 5, 5), dtype=L.float32), L.zeros((6,)),
                  L.zeros((9, 6, 3, 3), dtype=L.float32), L.zeros((9,)),
                  L.zeros((9 * 32 * 32, 10)), L.zeros(10)]
        assert tuple(nb.three_layer_convnet(x, params).size()) == (64, 10)
        w = nb.random_weight((3, 5))
        assert w.requires_grad and w.dtype == L.float32 and nb.random_weight((2, 3, 4, 4)).is_leaf
        z = nb.zero_weight((3,))
        assert z.requires_grad and _np(z).tolist() == [0, 0, 0]


def _train_part2(L, dtype, model, lr, torch_params=None):
    """The notebook's ``train_part2`` run on ``L`` from ``torch.manual_seed(0)``: the
    weights made by its own ``random_weight`` / ``zero_weight`` (PyTorch's numbers on the
    torch stream), zeroin's then set to torch's (``torch_params``)."""
    L.manual_seed(0)
    log = []
    nb = _part2(L, dtype, *_loaders(L), log)
    if model == "two_layer_fc":
        params = [nb.random_weight((3 * 32 * 32, 20)), nb.random_weight((20, 10))]
    else:
        params = [nb.random_weight((6, 3, 5, 5)), nb.zero_weight((6,)),
                  nb.random_weight((4, 6, 3, 3)), nb.zero_weight((4,)),
                  nb.random_weight((4 * 32 * 32, 10)), nb.zero_weight((10,))]
    for z, t in zip(params, torch_params or ()):
        assert str(z.dtype) == dtype and z.requires_grad and z.is_leaf
        close(z, t, **F32)              # the same numbers before the copy (the stream)
        z.data[...] = t
    init = [_np(p).copy() for p in params]
    nb.train_part2(getattr(nb, model), params, lr)
    return log, params, init


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("model, lr", [("two_layer_fc", 1e-2), ("three_layer_convnet", 3e-3)])
def test_part2_train_matches_torch(dtype, model, lr):
    tol = _set_dtype(dtype)
    torch_stream()
    tlog, tp, init = _train_part2(torch, dtype, model, lr)
    zlog, zp, _ = _train_part2(zeroin, dtype, model, lr, init)
    assert len(zlog) == len(tlog) == 9
    for a, b in zip(zlog, tlog):
        if isinstance(b, str):
            assert a == b       # 'Checking accuracy on the val set', 'Got 2 / 16 correct ...'
        else:
            close(a, b, **tol)
    for a, b in zip(zp, tp):
        close(a, b, **tol)


# --- parts III-V: the Module API, Sequential, an open-ended model ---------------------------

def _part34(L, dtype_name, loader_train, loader_val, log):
    """Parts III-IV's classes and functions, as the notebook writes them."""
    torch, nn, F, optim, data = _libs(L)
    dtype, device, print_every = getattr(torch, dtype_name), torch.device('cpu'), 1

    def flatten(x):
        N = x.shape[0]
        return x.view(N, -1)

    class Flatten(nn.Module):
        def forward(self, x):
            return flatten(x)

    class TwoLayerFC(nn.Module):
        def __init__(self, input_size, hidden_size, num_classes):
            super().__init__()
            self.fc1 = nn.Linear(input_size, hidden_size)
            nn.init.kaiming_normal_(self.fc1.weight)
            self.fc2 = nn.Linear(hidden_size, num_classes)
            nn.init.kaiming_normal_(self.fc2.weight)

        def forward(self, x):
            x = flatten(x)
            scores = self.fc2(F.relu(self.fc1(x)))
            return scores

    class ThreeLayerConvNet(nn.Module):
        def __init__(self, in_channel, channel_1, channel_2, num_classes):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channel, channel_1, 5, padding=2, bias=True)
            nn.init.kaiming_normal_(self.conv1.weight)
            nn.init.zeros_(self.conv1.bias)
            self.conv2 = nn.Conv2d(channel_1, channel_2, (3, 3), padding=1)
            nn.init.kaiming_normal_(self.conv2.weight)
            nn.init.zeros_(self.conv2.bias)
            self.fc = nn.Linear(channel_2 * 32 * 32, num_classes)
            nn.init.kaiming_normal_(self.fc.weight)
            nn.init.zeros_(self.fc.bias)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            return self.fc(flatten(x))

    def check_accuracy_part34(loader, model):
        num_correct = 0
        num_samples = 0
        model.eval()  # set model to evaluation mode
        with torch.no_grad():
            for x, y in loader:
                x = x.to(device=device, dtype=dtype)
                y = y.to(device=device, dtype=torch.long)
                scores = model(x)
                _, preds = scores.max(1)
                num_correct += (preds == y).sum()
                num_samples += preds.size(0)
            acc = float(num_correct) / num_samples
            log.append('Got %d / %d correct (%.2f)' % (num_correct, num_samples, 100 * acc))
        return acc

    def train_part34(model, optimizer, epochs=1):
        model = model.to(device=device)  # move the model parameters to CPU/GPU
        for e in range(epochs):
            for t, (x, y) in enumerate(loader_train):
                model.train()  # put model to training mode
                x = x.to(device=device, dtype=dtype)
                y = y.to(device=device, dtype=torch.long)
                scores = model(x)
                loss = F.cross_entropy(scores, y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if t % print_every == 0:
                    log.append(('Epoch %d, Iteration %d' % (e, t), loss.item()))
                    check_accuracy_part34(loader_val, model)

    return SimpleNamespace(**{k: v for k, v in locals().items() if callable(v)})


def test_part3_shape_checks_run_as_printed(f32):
    for L in (torch, zeroin):
        nb = _part34(L, "float32", None, None, [])
        x = L.zeros((64, 50), dtype=L.float32)
        assert tuple(nb.TwoLayerFC(50, 42, 10)(x).size()) == (64, 10)
        x = L.zeros((64, 3, 32, 32), dtype=L.float32)
        model = nb.ThreeLayerConvNet(in_channel=3, channel_1=12, channel_2=8, num_classes=10)
        assert tuple(model(x).size()) == (64, 10)
        assert _np(model.conv2.bias).tolist() == [0] * 8


def _models(L, nb, name):
    """The notebook's models and optimizers of parts III-V (small sizes)."""
    torch, nn, F, optim, data = _libs(L)
    if name == "TwoLayerFC":
        model = nb.TwoLayerFC(3 * 32 * 32, 20, 10)
        return model, optim.SGD(model.parameters(), lr=1e-2)
    if name == "ThreeLayerConvNet":
        model = nb.ThreeLayerConvNet(3, 6, 4, 10)
        return model, optim.SGD(model.parameters(), lr=3e-3)
    if name == "Sequential":
        model = nn.Sequential(nb.Flatten(), nn.Linear(3 * 32 * 32, 20), nn.ReLU(),
                              nn.Linear(20, 10))
        return model, optim.SGD(model.parameters(), lr=1e-2, momentum=0.9, nesterov=True)
    if name == "SequentialConv":
        model = nn.Sequential(nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(),
                              nn.Conv2d(6, 4, 3, padding=1), nn.ReLU(), nb.Flatten(),
                              nn.Linear(4 * 32 * 32, 10))
        return model, optim.SGD(model.parameters(), lr=3e-3, momentum=0.9, nesterov=True)
    # part V, open-ended; no bias before BatchNorm: its gradient is 0 up to rounding,
    # which Adam's g / sqrt(v) turns into steps of +-lr, different in each library
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
        nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Dropout(0.25), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(16, 10))
    return model, optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)


def _train_part34(L, dtype, name, torch_init=None):
    """The notebook's ``train_part34`` for two epochs from ``torch.manual_seed(0)``: the
    model made by its own code (PyTorch's numbers on the torch stream), zeroin's then
    loaded with torch's initial state (``torch_init``)."""
    L.manual_seed(0)
    log = []
    nb = _part34(L, dtype, *_loaders(L), log)
    model, optimizer = _models(L, nb, name)
    if torch_init is not None:
        state = model.state_dict()
        assert list(state) == list(torch_init)
        for k, t in torch_init.items():
            close(state[k], t, **F32)       # the same initial weights (the torch stream)
        model.load_state_dict({k: zeroin.tensor(_np(t)) for k, t in torch_init.items()})
    init = {k: v.detach().clone() for k, v in model.state_dict().items()}
    nb.train_part34(model, optimizer, epochs=2)
    return log, model, init


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["TwoLayerFC", "ThreeLayerConvNet", "Sequential",
                                  "SequentialConv", "PartV"])
def test_parts3_to_5_train_part34_matches_torch(dtype, name):
    tol = _set_dtype(dtype)
    torch_stream()
    tlog, tmodel, init = _train_part34(torch, dtype, name)
    zlog, zmodel, _ = _train_part34(zeroin, dtype, name, init)
    assert len(zlog) == len(tlog) == 12
    for a, b in zip(zlog, tlog):
        if isinstance(b, str):
            assert a == b                       # 'Got 3 / 16 correct (18.75)'
        else:
            assert a[0] == b[0]
            close(a[1], b[1], **tol)
    tstate = tmodel.state_dict()
    for k, v in zmodel.state_dict().items():    # weights, BatchNorm's running statistics
        close(v, tstate[k], **tol)
    assert not zmodel.training


# --- assignments 1 and 2: the NumPy layers, checked with zeroin as a teacher would ---------
# gradient_check.py and layers.py as the assignments write them; each hand-written backward
# is compared with zeroin's autograd of the same forward written with zeroin ops, and with
# the assignment's own centred differences.

def eval_numerical_gradient(f, x, verbose=False, h=0.00001):
    """The gradient of the scalar f at x by centred differences (gradient_check.py)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h  # increment by h
        fxph = f(x)  # evalute f(x + h)
        x[ix] = oldval - h
        fxmh = f(x)  # evaluate f(x - h)
        x[ix] = oldval  # restore
        grad[ix] = (fxph - fxmh) / (2 * h)  # the slope
        it.iternext()
    return grad


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """The gradient of sum(f(x) * df) at x by centred differences (gradient_check.py)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=['multi_index'], op_flags=['readwrite'])
    while not it.finished:
        ix = it.multi_index
        oldval = x[ix]
        x[ix] = oldval + h
        pos = f(x).copy()
        x[ix] = oldval - h
        neg = f(x).copy()
        x[ix] = oldval
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    """returns relative error"""
    return np.max(np.abs(x - y) / (np.maximum(1e-8, np.abs(x) + np.abs(y))))


def autograd_of(forward, arrays, dout=None):
    """The teacher's check: ``forward`` written with zeroin ops on tensors of ``arrays``;
    the gradients of ``sum(out * dout)`` (of ``out`` itself when a loss) by autograd."""
    ts = [zeroin.tensor(a, requires_grad=True) for a in arrays]
    out = forward(*ts)
    grads = zeroin.autograd.grad(out, ts, None if dout is None else zeroin.tensor(dout))
    return _np(out), [_np(g) for g in grads]


def _check(hand, forward_z, arrays, dout, hand_out=None, num=True):
    """The hand-written gradients ``hand`` equal zeroin's autograd to 1e-10 and the
    centred differences to 1e-6 in the assignment's rel_error (their f of each input)."""
    out, grads = autograd_of(forward_z, arrays, dout)
    if hand_out is not None:
        close(out, hand_out, **F64)
    for i, (h, g) in enumerate(zip(hand, grads)):
        close(h, g, **F64)
        if num:
            def f(a, i=i):
                xs = list(arrays)
                xs[i] = a
                return _np(forward_z(*[zeroin.tensor(x) for x in xs]))
            n = eval_numerical_gradient_array(f, arrays[i].copy(), dout) if dout is not None \
                else eval_numerical_gradient(lambda a: float(f(a)), arrays[i].copy())
            assert rel_error(h, n) < 1e-6, (i, rel_error(h, n))


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1).dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    out = np.maximum(0, x)
    return out, x


def relu_backward(dout, cache):
    x = cache
    return dout * (x > 0)


def svm_loss(x, y):
    N = x.shape[0]
    correct_class_scores = x[np.arange(N), y]
    margins = np.maximum(0, x - correct_class_scores[:, np.newaxis] + 1.0)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N
    num_pos = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[np.arange(N), y] -= num_pos
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    shifted_logits = x - np.max(x, axis=1, keepdims=True)
    Z = np.sum(np.exp(shifted_logits), axis=1, keepdims=True)
    log_probs = shifted_logits - np.log(Z)
    probs = np.exp(log_probs)
    N = x.shape[0]
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx


def test_affine_relu_svm_softmax_backward_checked_with_zeroin():
    rng = np.random.RandomState(231)
    x, w, b = rng.randn(4, 2, 3), rng.randn(6, 5), rng.randn(5)
    dout = rng.randn(4, 5)
    out, cache = affine_forward(x, w, b)
    _check(affine_backward(dout, cache), lambda x, w, b: x.reshape(4, -1) @ w + b,
           [x, w, b], dout, out)
    x = rng.randn(10, 10)
    out, cache = relu_forward(x)
    _check([relu_backward(dout := rng.randn(10, 10), cache)], ZF.relu, [x], dout, out)
    x, y = 0.001 * rng.randn(50, 10), rng.randint(10, size=50)
    for hand, loss in ((svm_loss, lambda x: ZF.multi_margin_loss(x, zeroin.tensor(y)) * 10),
                       (softmax_loss, lambda x: ZF.cross_entropy(x, zeroin.tensor(y)))):
        value, dx = hand(x, y)
        _check([dx], loss, [x], None, value)
    # the assignment's sanity checks: svm ~ 9 (C - 1), softmax ~ log(10) at small scores
    assert abs(svm_loss(x, y)[0] - 9) < 0.01 and abs(softmax_loss(x, y)[0] - np.log(10)) < 0.01
    # torch's multi_margin_loss is zeroin's: svm_loss is it times the number of classes
    close(ZF.multi_margin_loss(zeroin.tensor(x), zeroin.tensor(y)),
          torch.nn.functional.multi_margin_loss(torch.tensor(x), torch.tensor(y)), **F64)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    cache = None
    if mode == "train":
        sample_mean = x.mean(axis=0)
        sample_var = x.var(axis=0)
        x_hat = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_hat + beta
        cache = (x, x_hat, sample_mean, sample_var, gamma, eps)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    else:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """The staged backward, through the computational graph."""
    x, x_hat, mu, var, gamma, eps = cache
    N = x.shape[0]
    dbeta, dgamma = dout.sum(axis=0), np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    xmu, ivar = x - mu, 1. / np.sqrt(var + eps)
    divar = np.sum(dx_hat * xmu, axis=0)
    dxmu1 = dx_hat * ivar
    dsqrtvar = -1. / (np.sqrt(var + eps) ** 2) * divar
    dvar = 0.5 * 1. / np.sqrt(var + eps) * dsqrtvar
    dsq = 1. / N * np.ones_like(x) * dvar
    dx1 = dxmu1 + 2 * xmu * dsq
    dmu = -np.sum(dx1, axis=0)
    dx = dx1 + 1. / N * np.ones_like(x) * dmu
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The simplified backward, one line for dx."""
    x, x_hat, mu, var, gamma, eps = cache
    N = x.shape[0]
    dx_hat = dout * gamma
    dx = (1. / N) / np.sqrt(var + eps) * (N * dx_hat - dx_hat.sum(axis=0)
                                          - x_hat * np.sum(dx_hat * x_hat, axis=0))
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x_hat, var, gamma, eps)


def layernorm_backward(dout, cache):
    x_hat, var, gamma, eps = cache
    D = x_hat.shape[1]
    dx_hat = dout * gamma
    dx = (1. / D) / np.sqrt(var + eps) * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)
                                          - x_hat * np.sum(dx_hat * x_hat, axis=1, keepdims=True))
    return dx, np.sum(dout * x_hat, axis=0), dout.sum(axis=0)


def test_batchnorm_train_mode_running_stats_and_layernorm_checked_with_zeroin():
    rng = np.random.RandomState(231)
    N, D = 8, 5
    x, gamma, beta = 5 * rng.randn(N, D) + 12, rng.randn(D), rng.randn(D)
    dout = rng.randn(N, D)
    bn_param = {"mode": "train", "running_mean": rng.randn(D), "running_var": rng.rand(D)}
    rm0, rv0 = bn_param["running_mean"].copy(), bn_param["running_var"].copy()
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    for backward in (batchnorm_backward, batchnorm_backward_alt):
        _check(backward(dout, cache), lambda x, g, b: ZF.batch_norm(
            x, None, None, g, b, training=True, eps=1e-5), [x, gamma, beta], dout, out)
    # running stats: the assignment's momentum is PyTorch's 1 - momentum, and its running
    # variance the biased batch variance where PyTorch's (and zeroin's) is unbiased
    rm, rv = {}, {}
    for L in (zeroin, torch):
        rm[L], rv[L] = L.tensor(rm0), L.tensor(rv0)
        L.nn.functional.batch_norm(L.tensor(x), rm[L], rv[L], training=True, momentum=0.1)
    close(rm[zeroin], bn_param["running_mean"], **F64)
    close(rv[zeroin], 0.9 * rv0 + 0.1 * x.var(axis=0) * N / (N - 1), **F64)
    assert np.abs(_np(rv[zeroin]) - bn_param["running_var"]).max() > 1e-3
    close(rm[zeroin], rm[torch], **F64)
    close(rv[zeroin], rv[torch], **F64)
    bn_param["mode"] = "test"           # test mode uses the running statistics
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    close(ZF.batch_norm(zeroin.tensor(x), zeroin.tensor(bn_param["running_mean"]),
                        zeroin.tensor(bn_param["running_var"]), zeroin.tensor(gamma),
                        zeroin.tensor(beta), training=False), out, **F64)
    out, cache = layernorm_forward(x, gamma, beta, {})
    _check(layernorm_backward(dout, cache), lambda x, g, b: ZF.layer_norm(
        x, (D,), g, b, eps=1e-5), [x, gamma, beta], dout, out)


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta,
                                   bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C),
                                               cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    xg = x.reshape(N, G, C // G, H, W)
    mu, var = xg.mean(axis=(2, 3, 4), keepdims=True), xg.var(axis=(2, 3, 4), keepdims=True)
    x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(N, C, H, W)
    return gamma * x_hat + beta, (x_hat, var, gamma, G, eps)


def spatial_groupnorm_backward(dout, cache):
    x_hat, var, gamma, G, eps = cache
    N, C, H, W = dout.shape
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3), keepdims=True)
    dbeta = np.sum(dout, axis=(0, 2, 3), keepdims=True)
    dx_hat, xh = (dout * gamma).reshape(N, G, -1), x_hat.reshape(N, G, -1)
    M = xh.shape[2]
    dx = (1. / M) / np.sqrt(var.reshape(N, G, 1) + eps) * (
        M * dx_hat - dx_hat.sum(axis=2, keepdims=True)
        - xh * np.sum(dx_hat * xh, axis=2, keepdims=True))
    return dx.reshape(N, C, H, W), dgamma, dbeta


def test_spatial_batchnorm_and_groupnorm_checked_with_zeroin():
    rng = np.random.RandomState(231)
    N, C, H, W, G = 2, 6, 4, 5, 2
    x, dout = 4 * rng.randn(N, C, H, W) + 10, rng.randn(N, C, H, W)
    gamma, beta = rng.randn(C), rng.randn(C)
    out, cache = spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    _check(spatial_batchnorm_backward(dout, cache), lambda x, g, b: ZF.batch_norm(
        x, None, None, g, b, training=True), [x, gamma, beta], dout, out)
    gamma, beta = rng.randn(1, C, 1, 1), rng.randn(1, C, 1, 1)
    out, cache = spatial_groupnorm_forward(x, gamma, beta, G, {"eps": 1e-5})
    _check(spatial_groupnorm_backward(dout, cache), lambda x, g, b: ZF.group_norm(
        x, G, g.reshape(-1), b.reshape(-1), eps=1e-5), [x, gamma, beta], dout, out)


def dropout_forward(x, dropout_param):
    """Inverted dropout; ``p`` is the probability of keeping a unit (the assignment's)."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout


def test_inverted_dropout_checked_with_zeroin_and_its_p_is_the_keep_probability():
    rng = np.random.RandomState(231)
    x, dout = rng.randn(10, 10) + 10, rng.randn(10, 10)
    dropout_param = {"mode": "train", "p": 0.2, "seed": 123}
    out, cache = dropout_forward(x, dropout_param)
    mask = cache[1]
    _check([dropout_backward(dout, cache)], lambda x: x * zeroin.tensor(mask), [x], dout, out)
    # F.dropout's p is the probability of dropping: the assignment's p = 0.2 is p=0.8 there
    zeroin.manual_seed(0)
    z = _np(ZF.dropout(zeroin.ones(400, 400), p=1 - 0.2, training=True))
    np.testing.assert_allclose(np.unique(z), [0.0, 5.0], rtol=1e-15)
    assert abs((z > 0).mean() - 0.2) < 0.01
    assert abs(z.mean() - 1) < 0.05
    close(ZF.dropout(zeroin.tensor(x), 0.8, training=False), x, **F64)


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    window = x_pad[n, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    _, _, HH, WW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dx_pad, dw, db = np.zeros_like(x_pad), np.zeros_like(w), dout.sum(axis=(0, 2, 3))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    hs, ws = i * stride, j * stride
                    dw[f] += x_pad[n, :, hs:hs + HH, ws:ws + WW] * dout[n, f, i, j]
                    dx_pad[n, :, hs:hs + HH, ws:ws + WW] += w[f] * dout[n, f, i, j]
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H_out, W_out = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    window = x[n, c, i * stride:i * stride + ph, j * stride:j * stride + pw]
                    m = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, i * stride + m[0], j * stride + m[1]] += dout[n, c, i, j]
    return dx


def test_naive_conv_and_max_pool_checked_with_zeroin():
    rng = np.random.RandomState(231)
    x, w, b = rng.randn(2, 3, 5, 5), rng.randn(3, 3, 3, 3), rng.randn(3)
    for conv_param in ({"stride": 1, "pad": 1}, {"stride": 2, "pad": 1}, {"stride": 1, "pad": 0}):
        out, cache = conv_forward_naive(x, w, b, conv_param)
        dout = rng.randn(*out.shape)
        _check(conv_backward_naive(dout, cache), lambda x, w, b: ZF.conv2d(
            x, w, b, stride=conv_param["stride"], padding=conv_param["pad"]),
            [x, w, b], dout, out)
    x = rng.randn(3, 2, 8, 8)
    pool_param = {"pool_width": 2, "pool_height": 2, "stride": 2}
    out, cache = max_pool_forward_naive(x, pool_param)
    dout = rng.randn(*out.shape)
    _check([max_pool_backward_naive(dout, cache)],
           lambda x: ZF.max_pool2d(x, kernel_size=2, stride=2), [x], dout, out)


class FullyConnectedNet:
    """fc_net.py's net without normalization or dropout: {affine - relu} x (L - 1) -
    affine - softmax, with the L2 penalty 0.5 * reg * sum(W * W). TwoLayerNet is
    ``FullyConnectedNet([hidden_dim])``."""

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, reg=0.0,
                 weight_scale=1e-2, dtype=np.float64):
        self.reg, self.num_layers, self.params = reg, 1 + len(hidden_dims), {}
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = weight_scale * np.random.randn(dims[i], dims[i + 1])
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1])
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        caches, h = [], X
        for i in range(1, self.num_layers):
            h, c1 = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            h, c2 = relu_forward(h)
            caches.append((c1, c2))
        L = self.num_layers
        scores, cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, cache)
        for i in range(L - 1, 0, -1):
            c1, c2 = caches[i - 1]
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(relu_backward(dh, c2), c1)
        for i in range(1, L + 1):
            W = self.params[f"W{i}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{i}"] += self.reg * W
        return loss, grads


def _fc_loss_zeroin(params, X, y, reg):
    """The same loss with zeroin ops, its gradients by autograd."""
    P = {k: zeroin.tensor(v, requires_grad=True) for k, v in params.items()}
    h, L = zeroin.tensor(X).reshape(X.shape[0], -1), len(params) // 2
    for i in range(1, L):
        h = ZF.relu(h @ P[f"W{i}"] + P[f"b{i}"])
    loss = ZF.cross_entropy(h @ P[f"W{L}"] + P[f"b{L}"], zeroin.tensor(y))
    loss = loss + sum(0.5 * reg * (P[f"W{i}"] * P[f"W{i}"]).sum() for i in range(1, L + 1))
    loss.backward()
    return loss.item(), {k: _np(p.grad) for k, p in P.items()}


@pytest.mark.parametrize("hidden_dims", [[10], [8, 6]])
def test_two_layer_and_fully_connected_net_losses_checked_with_zeroin(hidden_dims):
    np.random.seed(231)
    N, D, C = 4, 15, 5
    X, y = np.random.randn(N, D), np.random.randint(C, size=N)
    for reg in (0.0, 3.14):
        model = FullyConnectedNet(hidden_dims, input_dim=D, num_classes=C, reg=reg,
                                  weight_scale=5e-2)
        loss, grads = model.loss(X, y)
        zloss, zgrads = _fc_loss_zeroin(model.params, X, y, reg)
        close(zloss, loss, **F64)
        for name in sorted(grads):      # the notebook's check, f changing model.params
            f = lambda _: model.loss(X, y)[0]       # noqa: E731
            grad_num = eval_numerical_gradient(f, model.params[name], verbose=False, h=1e-5)
            assert rel_error(grad_num, grads[name]) < 1e-6, (name, reg)
            close(grads[name], zgrads[name], **F64)


# optim.py's update rules, as the assignment writes them (t incremented before use)

def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    config["cache"] = config["decay_rate"] * config["cache"] + \
        (1 - config["decay_rate"]) * dw ** 2
    next_w = w - config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return next_w, config


def adam(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    mt = config["m"] / (1 - config["beta1"] ** config["t"])
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * (dw ** 2)
    vt = config["v"] / (1 - config["beta2"] ** config["t"])
    next_w = w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"])
    return next_w, config


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("rule", ["sgd_momentum", "rmsprop", "adam"])
def test_update_rules_equal_zeroin_optim(rule, dtype):
    # 20 steps on 0.5 * sum(a * (w - c)**2) (dw = a * (w - c)); the assignment's config
    # names are the optimizers' arguments: momentum, alpha=decay_rate, betas, eps
    rng = np.random.RandomState(0)
    w0, a, c = (rng.randn(4, 5).astype(dtype) for _ in range(3))
    a = np.abs(a)
    config = {"learning_rate": 1e-1}
    make = {"sgd_momentum": lambda L, p: L.optim.SGD(p, lr=1e-1, momentum=0.9),
            "rmsprop": lambda L, p: L.optim.RMSprop(p, lr=1e-1, alpha=0.99, eps=1e-8),
            "adam": lambda L, p: L.optim.Adam(p, lr=1e-1, betas=(0.9, 0.999), eps=1e-8)}
    w, ws = w0.copy(), {}
    for _ in range(20):
        w, config = globals()[rule](w, a * (w - c), config)
    for L in (zeroin, torch):
        p = L.tensor(w0.copy(), requires_grad=True)
        opt = make[rule](L, [p])
        for _ in range(20):
            opt.zero_grad()
            (0.5 * (L.tensor(a) * (p - L.tensor(c)) ** 2).sum()).backward()
            opt.step()
        ws[L] = p
    tol = F32 if dtype == "float32" else F64
    assert w.dtype == ws[zeroin].dtype == np.dtype(dtype)
    close(ws[zeroin], w, **tol)
    close(ws[zeroin], ws[torch], **tol)
    if rule == "adam":
        assert config["t"] == 20


# --- assignment 3: the plain-PyTorch RNN pieces and the Transformer's layers ---------------

def _rnn(L):
    """rnn_layers_pytorch.py's functions, written with torch ops (autograd's backward)."""
    torch = L

    def rnn_step_forward(x, prev_h, Wx, Wh, b):
        return torch.tanh(x.mm(Wx) + prev_h.mm(Wh) + b)

    def rnn_forward(x, h0, Wx, Wh, b):
        N, T, D = x.shape
        h, prev_h = [], h0
        for t in range(T):
            prev_h = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
            h.append(prev_h)
        return torch.stack(h, dim=1)

    def word_embedding_forward(x, W):
        return W[x]

    def temporal_affine_forward(x, w, b):
        N, T, D = x.shape
        M = b.shape[0]
        return x.reshape(N * T, D).mm(w).reshape(N, T, M) + b

    def temporal_softmax_loss(x, y, mask):
        N, T, V = x.shape
        x_flat, y_flat, mask_flat = x.reshape(N * T, V), y.reshape(N * T), mask.reshape(N * T)
        loss = torch.nn.functional.cross_entropy(x_flat, y_flat, reduction='none')
        return torch.sum(torch.mul(loss, mask_flat)) / N

    return SimpleNamespace(**{k: v for k, v in locals().items() if callable(v)})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rnn_captioning_pieces_values_and_gradients_match_torch(dtype):
    tol = _set_dtype(dtype)
    rng = np.random.RandomState(231)
    N, T, H, V, W = 3, 4, 6, 7, 8
    arrays = dict(x=rng.randn(N, T, W), h0=rng.randn(N, H), Wx=rng.randn(W, H) * 0.3,
                  Wh=rng.randn(H, H) * 0.3, b=rng.randn(H), W_embed=rng.randn(V, W),
                  w_out=rng.randn(H, V), b_out=rng.randn(V))
    captions = rng.randint(V, size=(N, T))
    res = {}
    for L in (torch, zeroin):
        f = _rnn(L)
        P = {k: L.tensor(v.astype(dtype), requires_grad=True) for k, v in arrays.items()}
        words = L.from_numpy(captions)              # a LongTensor
        mask = words != 0                           # the NULL token is 0
        emb = f.word_embedding_forward(words, P["W_embed"])
        h = f.rnn_forward(P["x"] + emb, P["h0"], P["Wx"], P["Wh"], P["b"])
        step = f.rnn_step_forward(P["x"][:, 0], P["h0"], P["Wx"], P["Wh"], P["b"])
        scores = f.temporal_affine_forward(h, P["w_out"], P["b_out"])
        loss = f.temporal_softmax_loss(scores, words, mask)
        loss.backward()
        res[L] = [loss, step, h, scores] + [P[k].grad for k in arrays]
    for z, t in zip(res[zeroin], res[torch]):
        assert str(z.dtype) == dtype
        close(z, t, **tol)


def _transformer(L):
    """transformer_layers.py's MultiHeadAttention and PositionalEncoding."""
    torch, nn, F = L, L.nn, L.nn.functional

    class MultiHeadAttention(nn.Module):
        def __init__(self, embed_dim, num_heads, dropout=0.1):
            super().__init__()
            assert embed_dim % num_heads == 0
            self.key = nn.Linear(embed_dim, embed_dim)
            self.query = nn.Linear(embed_dim, embed_dim)
            self.value = nn.Linear(embed_dim, embed_dim)
            self.proj = nn.Linear(embed_dim, embed_dim)
            self.attn_drop = nn.Dropout(dropout)
            self.n_head = num_heads
            self.emd_dim = embed_dim
            self.head_dim = self.emd_dim // self.n_head

        def forward(self, query, key, value, attn_mask=None):
            N, S, E = query.shape
            N, T, E = value.shape
            output = torch.empty((N, S, E))
            H = self.n_head
            q = self.query(query).view(N, S, H, E // H).transpose(1, 2)
            k = self.key(key).view(N, T, H, E // H).transpose(1, 2)
            v = self.value(value).view(N, T, H, E // H).transpose(1, 2)
            scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim)
            if attn_mask is not None:
                scores = scores.masked_fill(attn_mask == 0, float('-inf'))
            attn = self.attn_drop(F.softmax(scores, dim=-1))
            output = torch.matmul(attn, v).transpose(1, 2).reshape(N, S, E)
            return self.proj(output)

    class PositionalEncoding(nn.Module):
        def __init__(self, embed_dim, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            assert embed_dim % 2 == 0
            pe = torch.zeros(1, max_len, embed_dim)
            i = torch.arange(max_len)[:, None]
            pows = torch.pow(10000, -torch.arange(0, embed_dim, 2) / embed_dim)
            pe[0, :, 0::2] = torch.sin(i * pows)
            pe[0, :, 1::2] = torch.cos(i * pows)
            self.register_buffer('pe', pe)

        def forward(self, x):
            N, S, D = x.shape
            output = torch.empty((N, S, D))
            output = x + self.pe[:, :S]
            output = self.dropout(output)
            return output

    return MultiHeadAttention, PositionalEncoding


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_multihead_attention_and_positional_encoding_match_torch(dtype):
    # the notebook's checks: torch.manual_seed(231), dropout on (train mode), a causal mask;
    # PyTorch's numbers on the torch stream, weights then copied from torch
    tol = _set_dtype(dtype)
    torch_stream()
    N, S, T, D = 2, 4, 5, 8
    res = {}
    for L in (torch, zeroin):
        MultiHeadAttention, PositionalEncoding = _transformer(L)
        L.manual_seed(231)
        attn = MultiHeadAttention(D, num_heads=2)
        if L is zeroin:
            copy_weights(res[torch][0], attn)
        data = [L.randn(N, S, D, requires_grad=True), L.randn(N, T, D, requires_grad=True)]
        mask = L.randn(S, T) < 0.5
        mask[:, 0] = True
        causal = L.tril(L.ones(S, S))
        out = (attn(data[0], data[1], data[1], attn_mask=mask),
               attn(data[0], data[0], data[0], attn_mask=causal))
        pos_encoder = PositionalEncoding(D, max_len=5000)
        pe = pos_encoder(data[0])
        pos_encoder.eval()
        (out[0].sum() + (out[1] * out[1]).sum() + (pe * pe).sum()).backward()
        res[L] = (attn, list(out) + [pe, pos_encoder(data[0]), pos_encoder.pe] +
                  [d.grad for d in data] + [p.grad for p in attn.parameters()])
    assert res[zeroin][1][4].dtype == res[zeroin][1][0].dtype == getattr(zeroin, dtype)
    for z, t in zip(res[zeroin][1], res[torch][1]):
        close(z, t, **tol)
    assert _np(res[zeroin][1][2] == 0).sum() > 0        # dropout hit


def test_saliency_map_with_data_abs_max_dim_matches_torch(f32):
    # NetworkVisualization: scores.gather(1, y.view(-1, 1)).squeeze(), backward of ones,
    # saliency = X.grad.data.abs().max(dim=1)[0] (a small convnet for the SqueezeNet)
    rng = np.random.RandomState(0)
    X, y = rng.randn(3, 3, 8, 8).astype(np.float32), np.array([1, 0, 2])
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3))
    zmodel = copy_weights(tmodel, znn.Sequential(znn.Conv2d(3, 4, 3), znn.ReLU(),
                                                 znn.Flatten(), znn.Linear(4 * 6 * 6, 3)))
    res = {}
    for L, model in ((torch, tmodel), (zeroin, zmodel)):
        X_var = L.tensor(X)
        X_var.requires_grad_()
        scores = model(X_var).gather(1, L.LongTensor(y).view(-1, 1)).squeeze()
        scores.backward(L.ones_like(scores))
        saliency = X_var.grad.data.abs().max(dim=1)[0]
        saliency2, _ = L.max(X_var.grad.abs(), dim=1)
        res[L] = (saliency, saliency2, X_var.grad.data.abs().max(dim=1)[1])
    for z, t in zip(res[zeroin], res[torch]):
        assert tuple(z.shape) == (3, 8, 8)
        close(z, t, **F32)


def _visualization(L, dtype="FloatTensor"):
    """NetworkVisualization's class visualization step and StyleTransfer's and GANs'
    losses, as the notebooks write them (the jitter offsets fixed)."""
    torch, nn, dtype = L, L.nn, getattr(L, dtype)
    from scipy.ndimage import gaussian_filter1d

    def jitter(X, ox, oy):
        if ox != 0:
            X = torch.cat([X[:, :, :, -ox:], X[:, :, :, :-ox]], dim=3)
        if oy != 0:
            X = torch.cat([X[:, :, -oy:], X[:, :, :-oy]], dim=2)
        return X

    def blur_image(X, sigma=1):
        X_np = X.cpu().clone().numpy()
        X_np = gaussian_filter1d(X_np, sigma, axis=2)
        X_np = gaussian_filter1d(X_np, sigma, axis=3)
        X.copy_(torch.Tensor(X_np).type_as(X))
        return X

    def class_visualization_step(img, model, target_y, l2_reg=1e-3, learning_rate=25):
        img.data.copy_(jitter(img.data, 1, 2))
        scores = model(img)
        target_score = scores[0, target_y] - l2_reg * torch.sum(img * img)
        target_score.backward()
        img.data += learning_rate * img.grad.data / img.grad.data.norm()
        img.grad.data.zero_()
        img.data.copy_(jitter(img.data, -1, -2))
        for c in range(3):
            img.data[:, c].clamp_(min=-1.5, max=1.5)
        blur_image(img.data, sigma=0.5)

    def make_fooling_image(X, target_y, model):
        X_fooling = X.clone()
        X_fooling = X_fooling.requires_grad_()
        learning_rate = 1
        for i in range(100):
            scores = model(X_fooling)
            _, idx = scores.data.max(1)
            if idx[0] == target_y:
                break
            target_score = scores[0, target_y]
            target_score.backward()
            im_grad = X_fooling.grad.data
            X_fooling.data += learning_rate * (im_grad / im_grad.norm())
            X_fooling.grad.data.zero_()
        return X_fooling, i

    def extract_features(x, cnn):
        features, prev_feat = [], x
        for i, module in enumerate(cnn._modules.values()):
            next_feat = module(prev_feat)
            features.append(next_feat)
            prev_feat = next_feat
        return features

    def gram_matrix(features, normalize=True):
        N, C, H, W = features.size()
        features = features.view(N, C, H * W)
        gram = torch.bmm(features, features.permute(0, 2, 1))
        if normalize:
            gram /= (H * W * C)
        return gram

    def tv_loss(img, tv_weight):
        h = torch.sum((img[:, :, 1:, :] - img[:, :, :-1, :]) ** 2)
        w = torch.sum((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2)
        return tv_weight * (h + w)

    def bce_loss(input, target):
        bce = nn.BCEWithLogitsLoss()
        return bce(input.squeeze(), target)

    def discriminator_loss(logits_real, logits_fake):
        true_labels = torch.ones(logits_real.size(0)).type(dtype)
        return bce_loss(logits_real, true_labels) + bce_loss(logits_fake, 1 - true_labels)

    def ls_discriminator_loss(scores_real, scores_fake):
        return 0.5 * torch.mean((scores_real - 1) ** 2) + 0.5 * torch.mean(scores_fake ** 2)

    return SimpleNamespace(**{k: v for k, v in locals().items() if callable(v)})


def test_class_visualization_style_and_gan_losses_match_torch(f32):
    pytest.importorskip("scipy")
    rng = np.random.RandomState(0)
    img0, feats = rng.randn(1, 3, 8, 8).astype(np.float32), rng.randn(2, 4, 3, 5)
    logits = rng.randn(2, 6, 1).astype(np.float32)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    zmodel = copy_weights(tmodel, znn.Sequential(znn.Conv2d(3, 4, 3), znn.ReLU(),
                                                 znn.Flatten(), znn.Linear(4 * 6 * 6, 5)))
    res = {}
    for L, model in ((torch, tmodel), (zeroin, zmodel)):
        nb = _visualization(L)
        for p in model.parameters():
            p.requires_grad = False
        img = L.tensor(img0).type(L.FloatTensor).requires_grad_()
        for _ in range(3):
            nb.class_visualization_step(img, model, target_y=2)
        fooling, steps = nb.make_fooling_image(L.tensor(img0), 4, model)
        f = L.tensor(feats.astype(np.float32), requires_grad=True)
        lr, lf = (L.tensor(a, requires_grad=True) for a in logits)
        img_var = L.tensor(img0).clone().requires_grad_(True)
        conv_feats = nb.extract_features(img_var, model)[:2]
        losses = (nb.gram_matrix(f).square().sum() + nb.tv_loss(f, 0.5),
                  nb.gram_matrix(conv_feats[1]).sum() + nb.tv_loss(img_var, 1.0),
                  nb.discriminator_loss(lr, lf), nb.ls_discriminator_loss(lr, lf))
        sum(losses).backward()
        res[L] = [img, fooling, steps, *losses, f.grad, lr.grad, lf.grad, img_var.grad]
    assert 0 < res[zeroin][2] == res[torch][2] < 99        # the fooling loop's steps
    for z, t in zip(res[zeroin], res[torch]):
        assert isinstance(z, int) or z.dtype == zeroin.float32
        close(z, t, **F32)


def _gan(L, dtype_name, batch_size=4, noise_dim=8):
    """GANs-PyTorch's DCGAN pieces, small: the notebook's Flatten / Unflatten modules,
    ``initialize_weights`` applied with ``model.apply``, one discriminator and one
    generator step with ``optim.Adam(lr=1e-3, betas=(0.5, 0.999))``."""
    torch, nn, optim, dtype = L, L.nn, L.optim, getattr(L, dtype_name)

    class Flatten(nn.Module):
        def forward(self, x):
            N, C, H, W = x.size()  # read in N, C, H, W
            return x.view(N, -1)

    class Unflatten(nn.Module):
        def __init__(self, N=-1, C=128, H=7, W=7):
            super(Unflatten, self).__init__()
            self.N, self.C, self.H, self.W = N, C, H, W

        def forward(self, x):
            return x.view(self.N, self.C, self.H, self.W)

    def initialize_weights(m):
        if isinstance(m, nn.Linear) or isinstance(m, nn.ConvTranspose2d):
            nn.init.xavier_uniform_(m.weight.data)

    D = nn.Sequential(Unflatten(batch_size, 1, 28, 28), nn.Conv2d(1, 4, 5, 1),
                      nn.LeakyReLU(0.01), nn.MaxPool2d(2, 2), Flatten(),
                      nn.Linear(4 * 12 * 12, 1)).type(dtype)
    G = nn.Sequential(nn.Linear(noise_dim, 32), nn.ReLU(), nn.BatchNorm1d(32),
                      nn.Linear(32, 7 * 7 * 4), nn.ReLU(), nn.BatchNorm1d(7 * 7 * 4),
                      Unflatten(-1, 4, 7, 7), nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1),
                      nn.ReLU(), nn.BatchNorm2d(2),
                      nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1), nn.Tanh(),
                      Flatten()).type(dtype)
    D.apply(initialize_weights)
    G.apply(initialize_weights)
    D_solver = optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))
    G_solver = optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999))
    nb = _visualization(L, dtype_name)
    out = [np.sum([np.prod(p.size()) for p in G.parameters()])]      # count_params
    x = torch.rand(batch_size, 1, 28, 28)
    for _ in range(2):
        D_solver.zero_grad()
        logits_real = D(2 * (x.type(dtype) - 0.5)).type(dtype)
        g_fake_seed = (torch.rand(batch_size, noise_dim) * 2 - 1).type(dtype)
        fake_images = G(g_fake_seed).detach()
        logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
        d_total_error = nb.discriminator_loss(logits_real, logits_fake)
        d_total_error.backward()
        D_solver.step()
        G_solver.zero_grad()
        fake_images = G(g_fake_seed)
        gen_logits_fake = D(fake_images.view(batch_size, 1, 28, 28))
        g_error = nb.bce_loss(gen_logits_fake, torch.ones(batch_size).type(dtype))
        g_error.backward()
        G_solver.step()
        out += [d_total_error.item(), g_error.item(), fake_images.data.cpu().numpy()]
    return out + [p.detach() for p in list(D.parameters()) + list(G.parameters())]


@pytest.mark.parametrize("dtype", ["FloatTensor", "DoubleTensor"])
def test_dcgan_steps_match_torch(dtype):
    # PyTorch's numbers on the torch stream (torch.rand, xavier_uniform_, the layers' init).
    # In float32 the first step agrees; the second does not to float resolution: with a
    # batch of 4, a unit that ReLU leaves alive for one sample only gets BatchNorm's output
    # whatever its input, a gradient 0 up to rounding that Adam turns into +-lr; in float64
    # that leaves differences of a few 1e-12 (hence atol=1e-10 there).
    tol = _set_dtype("float32" if dtype == "FloatTensor" else "float64")
    torch_stream()
    res = {}
    for L in (torch, zeroin):
        L.manual_seed(231)
        res[L] = _gan(L, dtype)
    assert res[zeroin][0] == res[torch][0] == 7379
    assert res[zeroin][3].dtype == (np.float32 if tol is F32 else np.float64)   # the images
    for z, t in list(zip(res[zeroin], res[torch]))[1:4 if tol is F32 else None]:
        close(z, t, **(tol if tol is F32 else dict(rtol=1e-10, atol=1e-10)))


def _simclr(L):
    """Self-supervised learning's SimCLR losses (simclr/contrastive_loss.py), the naive
    loop and the vectorized one."""
    torch = L

    def sim(z_i, z_j):
        return torch.dot(z_i, z_j) / (torch.linalg.norm(z_i) * torch.linalg.norm(z_j))

    def simclr_loss_naive(out_left, out_right, tau):
        N = out_left.shape[0]
        out = torch.cat([out_left, out_right], dim=0)  # [2*N, D]
        total_loss = 0
        for k in range(N):
            z_k, z_k_N = out[k], out[k + N]
            num = torch.exp(sim(z_k, z_k_N) / tau)
            den_k = sum(torch.exp(sim(z_k, out[i]) / tau) for i in range(2 * N) if i != k)
            den_kN = sum(torch.exp(sim(z_k_N, out[i]) / tau) for i in range(2 * N)
                         if i != k + N)
            total_loss += -torch.log(num / den_k) - torch.log(num / den_kN)
        return total_loss / (2 * N)

    def sim_positive_pairs(out_left, out_right):
        return torch.sum(out_left * out_right, dim=1, keepdim=True) / (
            torch.linalg.norm(out_left, dim=1, keepdim=True)
            * torch.linalg.norm(out_right, dim=1, keepdim=True))

    def compute_sim_matrix(out):
        out_norm = out / out.norm(dim=1, keepdim=True)
        return torch.mm(out_norm, out_norm.t())

    def simclr_loss_vectorized(out_left, out_right, tau, device='cuda'):
        N = out_left.shape[0]
        out = torch.cat([out_left, out_right], dim=0)  # [2*N, D]
        sim_matrix = compute_sim_matrix(out)  # [2*N, 2*N]
        exponential = torch.exp(sim_matrix / tau).to(device)
        mask = (torch.ones_like(exponential, device=device)
                - torch.eye(2 * N, device=device)).to(device).bool()
        exponential = exponential.masked_select(mask).view(2 * N, -1)  # [2*N, 2*N-1]
        denom = torch.sum(exponential, dim=1, keepdim=True)
        sim_pos = torch.cat([sim_positive_pairs(out_left, out_right)] * 2, dim=0)
        numerator = torch.exp(sim_pos / tau)
        return torch.mean(-torch.log(numerator / denom))

    return simclr_loss_naive, simclr_loss_vectorized


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_simclr_losses_match_torch(dtype):
    tol = _set_dtype(dtype)
    rng = np.random.RandomState(0)
    left, right = rng.randn(4, 6).astype(dtype), rng.randn(4, 6).astype(dtype)
    res = {}
    for L in (torch, zeroin):
        naive, vectorized = _simclr(L)
        res[L] = []
        for loss_fn in (naive, lambda a, b, tau: vectorized(a, b, tau, device='cpu')):
            a, b = L.tensor(left, requires_grad=True), L.tensor(right, requires_grad=True)
            loss = loss_fn(a, b, 0.5)
            loss.backward()
            res[L] += [loss, a.grad, b.grad]
    close(res[zeroin][0], res[zeroin][3], **tol)            # naive = vectorized
    for z, t in zip(res[zeroin], res[torch]):
        assert str(z.dtype) == dtype
        close(z, t, **tol)
