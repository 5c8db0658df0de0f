"""Audit against the notebooks of NYU's Deep Learning course (Canziani & LeCun,
Atcold/NYU-DLSP20, and NYU-DLSP21 where it differs): the tensor and autograd tutorials, space
stretching, spiral classification (and DLSP21's energy levels), regression, convnet vs fully
connected on permuted pixels, listening to kernels, sequence classification, echo data
(truncated BPTT), the (denoising) autoencoder, the VAE, regularisation, the Bayesian NN (MC
dropout), the truck backer-upper (BPTT through a simulator) and the transformer written by
hand. Each notebook's code is written once, as a learner ports it (``import zeroin as
torch``), and run with ``torch`` and with ``zeroin``: the same seeds on the torch stream
(``zeroin.random.use_torch_stream(True)``) give the same data, weights, dropout masks and
permutations, so outputs, losses, gradients and parameters after a few steps are compared
(float32, the notebooks' dtype, to its resolution; float64 to 1e-10). MNIST, IMDB and the
audio file are replaced by small synthetic stand-ins of the same shapes. The drawings go
into matplotlib (Agg) straight from zeroin tensors, as the notebooks' ``res/plot_lib.py``
does. See docs/nyudl.md."""
import math
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn as znn
import zeroin.nn.functional as ZF
import zeroin.optim as zoptim
import zeroin.utils.data  # noqa: F401  (zeroin.utils.data, as torch.utils.data below)
from _audit import close, np_of as _np, torch_stream
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.transforms  # noqa: E402
import torch.utils.data  # noqa: E402,F811

LIBS = {"torch": (torch, torch.nn, torch.nn.functional, torch.optim),
        "zeroin": (zeroin, znn, ZF, zoptim)}
F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture
def stream(f32):
    """zeroin in float32 on PyTorch's random stream (skips off torch's x86-64 kernels)."""
    torch_stream()
    yield
    plt.close("all")


def _both(fn, *args, tol=F32, only=None, **kwargs):
    """``fn(lib, ...)`` with torch and with zeroin; every entry of the returned dicts (or
    those named in ``only``) equal."""
    with warnings.catch_warnings():     # torch's __array_wrap__ and __array__ meet NumPy 2
        warnings.filterwarnings("ignore", "__array_wrap__ must accept", DeprecationWarning)
        warnings.filterwarnings("ignore", "__array__ implementation doesn't accept a copy",
                                DeprecationWarning)
        t = fn(LIBS["torch"], *args, **kwargs)
    with warnings.catch_warnings():     # zeroin's run warns of nothing
        warnings.simplefilter("error")
        z = fn(LIBS["zeroin"], *args, **kwargs)
    assert t.keys() == z.keys()
    for k in only or t:
        pairs = zip(z[k], t[k]) if isinstance(t[k], (list, tuple)) else [(z[k], t[k])]
        assert not isinstance(t[k], (list, tuple)) or len(t[k]) == len(z[k]), k
        for a, b in pairs:
            if isinstance(b, str):
                assert a == b, k
            else:
                close(a, b, **tol)
    return t, z


# --- 01 tensor tutorial ---------------------------------------------------------------------

def _tensor_tutorial(L):
    torch, _, _, _ = L
    out = {}
    t = torch.Tensor(2, 3, 4)
    out["shape"] = [list(t.size()), " \u00D7 ".join(map(str, t.size())), t.numel(), t.dim()]
    out["random_"] = t.random_(10).clone()
    r = torch.Tensor(t)                 # an alias of t...
    r.resize_(3, 8)
    r.zero_()                           # ...so t is zeros too ("This *is* important")
    out["t"] = t
    s = r.clone()
    s.fill_(1)
    out["clone"] = [r, s]
    v = torch.Tensor([1, 2, 3, 4])
    w = torch.Tensor([1, 0, 2, 0])
    out["ops"] = [v * w, v @ w, v.dim(), v.size()[0]]
    x = torch.Tensor(5).random_(10)
    out["x"] = [x, float(f"{x[0]}"), float(f"{x[-1]}")]
    out["slice"] = x[1:2 + 1]
    v = torch.arange(1, 4 + 1)
    out["pow"] = v.pow(2)
    m = torch.Tensor([[2, 5, 3, 7], [4, 2, 1, 9]])
    out["m"] = [m.size(0), m.size(1), m.numel(), m[0][2], m[0, 2], m[:, 1], m[:, [1]],
                m[[0], :], m[0, :]]
    v = torch.arange(1., 4 + 1)
    out["matvec"] = [m @ v, m[[0], :] @ v, m[[1], :] @ v]
    out["rand"] = [m + torch.rand(2, 4), m - torch.rand(2, 4), m * torch.rand(2, 4),
                   m / torch.rand(2, 4)]
    out["t"] = [m.t(), m.transpose(0, 1)]
    out["arange"] = [torch.arange(3., 8 + 1), torch.arange(5.7, -2.1, -3)]
    out["linspace"] = torch.linspace(3, 8, 20).view(1, -1)
    out["creation"] = [torch.zeros(3, 5), torch.ones(3, 2, 5), torch.eye(3)]
    out["hist"] = [torch.randn(1000).numpy(), torch.rand(1000).numpy()]
    out["casts"] = [m.double(), m.byte(), m.to("cpu").long()]
    m_np = m.numpy()
    m_np[0, 0] = -1                     # the tensor sees it: shared memory
    out["shared"] = m
    n_np = np.arange(5)
    n = torch.from_numpy(n_np)
    n.mul_(2)
    out["from_numpy"] = n_np.copy()
    a = torch.Tensor([[1, 2, 3, 4]])
    b = torch.Tensor([[5, 6, 7, 8]])
    out["cat"] = [torch.cat((a, b), 0), torch.cat((a, b), 1)]
    device = "cuda" if torch.cuda.is_available() else \
        "mps" if torch.backends.mps.is_available() else "cpu"
    out["device"] = torch.ones(2, 3, 5).to(device)
    return out


def test_tensor_tutorial(stream):
    torch.manual_seed(0)
    zeroin.manual_seed(0)
    _both(_tensor_tutorial, tol=dict(rtol=0, atol=0))
    plt.hist(zeroin.randn(1000).numpy(), 100)       # the notebook's histogram of draws


# --- 02 space stretching ----------------------------------------------------------------------

def _show_scatterplot(X, colors, title=""):
    """``res/plot_lib.py``'s helper, as written there (tensors in, ``.cpu().numpy()``)."""
    colors = colors.cpu().numpy()
    X = X.cpu().numpy()
    plt.figure()
    plt.axis("equal")
    sc = plt.scatter(X[:, 0], X[:, 1], c=colors, s=30)
    plt.title(title)
    plt.axis("off")
    return sc


def _plot_bases(bases, width=0.04):
    bases = bases.cpu()
    bases[2:] -= bases[:2]
    a = plt.arrow(*bases[0], *bases[2], width=width, color=(1, 0, 0), zorder=10, alpha=1.,
                  length_includes_head=True)
    b = plt.arrow(*bases[1], *bases[3], width=width, color=(0, 1, 0), zorder=10, alpha=1.,
                  length_includes_head=True)
    return a, b


def _space_stretching(L):
    torch, nn, _, _ = L
    out = {}
    torch.manual_seed(2)
    X = torch.randn(1000, 2)
    colors = X[:, 0]
    sc = _show_scatterplot(X, colors, title="X")
    out["scatter"] = [sc.get_offsets(), sc.get_array()]
    OI = torch.cat((torch.zeros(2, 2), torch.eye(2)))
    W = torch.randn(2, 2)
    Y = X @ W.t()
    U, S, V = torch.svd(W)
    title = "y = Wx, singular values : [{:.3f}, {:.3f}]".format(S[0], S[1])
    sc = _show_scatterplot(Y, colors, title=title)
    new_OI = OI @ W.t()
    _plot_bases(new_OI)                         # bases.cpu() is new_OI: its rows 2, 3 change
    out["svd"] = [Y, S, U @ torch.diag(S) @ V.t(), new_OI, sc.get_offsets()]
    model = nn.Sequential(nn.Linear(2, 2, bias=False))
    with torch.no_grad():
        Y = model(X)
        _show_scatterplot(Y, colors)
        arrows = _plot_bases(model(OI))
    out["linear"] = [Y, arrows[0].get_xy(), arrows[1].get_xy()]
    z = torch.linspace(-10, 10, 101)
    line, = plt.plot(z.numpy(), torch.tanh(z).numpy())
    out["tanh"] = line.get_ydata()
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Tanh())
    for s in range(1, 6):
        W = s * torch.eye(2)
        model[0].weight.data.copy_(W)
        Y = model(X).data
        _show_scatterplot(Y, colors, title=f"f(x), s={s}")
        _plot_bases(OI, width=0.01)
        out[f"tanh s={s}"] = Y
    models = [nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2)) for _ in range(5)]
    with torch.no_grad():
        out["relu nets"] = [m(X) for m in models]
    NL = nn.Tanh()                                  # 02b: deeper random nets, one shared NL
    deep = nn.Sequential(nn.Linear(2, 5), NL, nn.Linear(5, 5), NL, nn.Linear(5, 5), NL,
                         nn.Linear(5, 5), NL, nn.Linear(5, 2))
    Y = deep(X).detach()
    out["deep"] = [Y, _show_scatterplot(Y, colors, title="f(x)").get_offsets()]
    return out


def test_space_stretching_draws_zeroin_tensors(stream):
    """A random linear map and tanh on a 2-D cloud: the same draws, maps and pictures;
    ``plot_bases``' ``bases[2:] -= bases[:2]`` writes into the caller's tensor in both."""
    t, z = _both(_space_stretching)
    assert not np.allclose(_np(t["svd"][3])[2:], _np(t["svd"][3])[:2] * 0)   # not trivial
    # zeroin tensors go straight into matplotlib as torch's do
    torch_stream()
    zeroin.manual_seed(2)
    X = zeroin.randn(1000, 2)
    sc = plt.scatter(X[:, 0], X[:, 1], c=X[:, 0])
    np.testing.assert_array_equal(sc.get_offsets(), _np(X))
    ln, = plt.plot(X[:5, 0], X[:5, 1])
    np.testing.assert_array_equal(ln.get_xdata(), _np(X[:5, 0]))


# --- 03 autograd tutorial -------------------------------------------------------------------

def _autograd_tutorial(L):
    torch, _, _, _ = L
    out = {}
    x = torch.tensor([[1, 2], [3, 4]], requires_grad=True, dtype=torch.float32)
    y = x - 2
    assert y.grad_fn is not None and y.grad_fn.next_functions[0][0].variable is x
    z = y * y * 3
    a = z.mean()
    a.backward()
    out["x.grad"] = x.grad
    torch.manual_seed(3)
    x = torch.randn(3, requires_grad=True)
    y = x * 2
    i = 0
    while y.data.norm() < 1000:
        y = y * 2
        i += 1
    y.backward(torch.FloatTensor([0.1, 1.0, 0.0001]))
    out["loop"] = [x.grad, i]
    assert x.requires_grad and (x ** 2).requires_grad
    with torch.no_grad():
        assert not (x ** 2).requires_grad
    n = 3                       # the "Inference" cells: each teaches an error
    with pytest.raises(RuntimeError, match="floating"):
        torch.arange(1, n + 1, requires_grad=True)          # integers cannot require grad
    w = torch.ones(n, requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype"):
        w @ torch.arange(1, n + 1)                          # float @ long
    x = torch.arange(1., n + 1, requires_grad=True)
    (w @ x).backward()
    out["dot"] = [x.grad, w.grad]
    with torch.no_grad():
        z = w @ torch.arange(1., n + 1)
        with pytest.raises(RuntimeError):
            z.backward()                        # "does not require grad"

    class MyAdd(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x1, x2):
            ctx.save_for_backward(x1, x2)
            return x1 + x2

        @staticmethod
        def backward(ctx, grad_output):
            x1, x2 = ctx.saved_tensors
            return grad_output * torch.ones_like(x1), grad_output * torch.ones_like(x2)

    class MySplit(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.clone(), x.clone()

        @staticmethod
        def backward(ctx, grad_x1, grad_x2):
            return grad_x1 + grad_x2

    class MyMax(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            maximum = x.detach().numpy().max()          # non-torch code inside
            argmax = x.detach().eq(maximum).float()
            ctx.save_for_backward(argmax)
            return torch.tensor(maximum)

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.saved_tensors[0]

    x1 = torch.randn(3, requires_grad=True)
    x2 = torch.randn(3, requires_grad=True)
    y = MyAdd.apply(x1, x2)
    y.mean().backward()
    out["MyAdd"] = [y, x1.grad, x2.grad]
    x = torch.randn(4, requires_grad=True)
    a, b = MySplit.apply(x)
    (a + b * 3).mean().backward()
    out["MySplit"] = x.grad
    x = torch.randn(5, requires_grad=True)
    y = MyMax.apply(x)
    y.backward()
    out["MyMax"] = [y, x.grad]
    return out


def test_autograd_tutorial(stream):
    _both(_autograd_tutorial, tol=dict(rtol=1e-6, atol=1e-7))


# --- 04 spiral classification (DLSP20 and DLSP21) ----------------------------------------

def _spirals20(torch, N=60, C=3):
    """DLSP20's loop: one point at a time, ``torch.FloatTensor((math.sin(...), ...))``."""
    X = torch.zeros(N * C, 2)
    y = torch.zeros(N * C, dtype=torch.long)
    for c in range(C):
        index = 0
        t = torch.linspace(0, 1, N)
        inner_var = torch.linspace((2 * math.pi / C) * c, (2 * math.pi / C) * (2 + c), N) + \
            torch.randn(N) * 0.2
        for ix in range(N * c, N * (c + 1)):
            X[ix] = t[index] * torch.FloatTensor((math.sin(inner_var[index]),
                                                   math.cos(inner_var[index])))
            y[ix] = c
            index += 1
    return X, y


def _spirals21(torch, N=100, K=5):
    t = torch.linspace(0, 1, N)
    a = 0.8 * t + 0.2
    X, y = list(), list()
    for k in range(K):
        θ = (2 * t + k) * 2 * math.pi / K + 0.2 * torch.randn(N)
        X.append(torch.stack((a * θ.sin(), a * θ.cos()), dim=1))
        y.append(torch.zeros(N, dtype=torch.long).fill_(k))
    return torch.cat(X), torch.cat(y)


def _acc(torch, s, y):
    score, predicted = torch.max(s, 1)
    return (y == predicted).sum().float() / len(y)


def _plot_model(torch, X, y, model):
    """plot_lib's ``plot_model``: a NumPy grid through the model, ``np.argmax`` of the
    output tensor, then ``plot_data``'s scatter of tensors coloured by the label tensor."""
    mesh = np.arange(-1.1, 1.1, 0.05)
    xx, yy = np.meshgrid(mesh, mesh)
    with torch.no_grad():
        data = torch.from_numpy(np.vstack((xx.reshape(-1), yy.reshape(-1))).T).float()
        Z = model(data).detach()
    Z = np.argmax(Z, axis=1).reshape(xx.shape)
    plt.contourf(xx, yy, Z, cmap=plt.cm.Spectral, alpha=0.3)
    X, y = X.cpu(), y.cpu()
    sc = plt.scatter(X.numpy()[:, 0], X.numpy()[:, 1], c=y, s=20, cmap=plt.cm.Spectral)
    return np.asarray(Z), sc.get_array()


def _spiral(L, version, hidden):
    torch, nn, _, optim = L
    torch.manual_seed(12345)
    X, y = _spirals20(torch) if version == 20 else _spirals21(torch)
    K = int(y.max()) + 1
    layers = [nn.Linear(2, 100), nn.ReLU(), nn.Linear(100, K)] if hidden else \
        [nn.Linear(2, 100), nn.Linear(100, K)]
    model = nn.Sequential(*layers)
    C = nn.CrossEntropyLoss(reduction="none")
    optimiser = optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)
    losses, accs = [], []
    for t in range(15):
        s = model(X)
        L_ = C(s, y).mean()
        optimiser.zero_grad()
        L_.backward()
        optimiser.step()
        losses.append(L_.item())
        accs.append(float(f"{_acc(torch, s, y):.3f}"))
    out = {"X": X, "y": y, "losses": losses, "acc": accs,
           "params": list(model.parameters()), "plot": _plot_model(torch, X, y, model)}
    if version == 21:                            # the energy levels over a grid
        mesh = torch.arange(-1.5, 1.5, 0.1)
        xx, yy = torch.meshgrid(mesh, mesh, indexing="ij")
        grid = torch.stack((xx.reshape(-1), yy.reshape(-1)), dim=1)
        with torch.no_grad():
            s = model(grid)
        F = [C(s, torch.LongTensor(1).fill_(k).expand(s.size(0))).reshape(xx.shape)
             for k in range(K)]
        levels = plt.contourf(xx, yy, -s[:, 0].reshape(xx.shape))
        out["energy"] = F + [-s[:, k].reshape(xx.shape) for k in range(K)]
        out["levels"] = levels.levels
    return out


@pytest.mark.parametrize("version,hidden", [(20, False), (20, True), (21, True)])
def test_spiral_classification(stream, version, hidden):
    t, _ = _both(_spiral, version, hidden, tol=dict(rtol=1e-4, atol=1e-5))
    assert t["losses"][-1] < t["losses"][0]


def test_spiral_meshgrid_without_indexing_warns_as_torch():
    """DLSP21 calls ``torch.meshgrid(mesh, mesh)``: zeroin warns as PyTorch does and
    indexes 'ij'. (PyTorch warns once a process: calling it here would take that warning
    from tests/test_pytorch_parity_strict.py's meshgrid idiom.)"""
    m = [0.0, 0.5, 1.0]
    with pytest.warns(UserWarning, match="indexing"):
        zx, zy = zeroin.meshgrid(zeroin.tensor(m), zeroin.tensor(m))
    tx, ty = torch.meshgrid(torch.tensor(m), torch.tensor(m), indexing="ij")
    close(zx, tx)
    close(zy, ty)


# --- 05 regression ----------------------------------------------------------------------------

def _regression(L):
    torch, nn, _, optim = L
    torch.manual_seed(12345)
    X = torch.unsqueeze(torch.linspace(-1, 1, 100), dim=1)
    y = X.pow(3) + 0.3 * torch.rand(X.size())
    out = {"y": y, "shapes": [tuple(X.size()), tuple(y.size())]}
    sc = plt.scatter(X.numpy(), y.numpy())
    model = nn.Sequential(nn.Linear(1, 100), nn.Linear(100, 1))
    criterion = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=1e-2, weight_decay=1e-5)
    printed = []
    for t in range(20):
        y_pred = model(X)
        loss = criterion(y_pred, y)
        printed.append("[EPOCH]: %i, [LOSS or MSE]: %.6f" % (t, loss.item()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert float(printed[-1].split()[-1]) < float(printed[0].split()[-1])
    out["printed"] = [float(p.split()[-1]) for p in printed]
    out["fit"] = [y_pred, *model.parameters()]
    ln, = plt.plot(X.data.numpy(), y_pred.data.numpy(), "r-", lw=5)
    out["plots"] = [sc.get_offsets(), ln.get_ydata()]
    models, y_pretrain = list(), list()
    for mod in range(3):
        model = nn.Sequential(nn.Linear(1, 100), nn.ReLU(), nn.Linear(100, 1))
        models.append(model)
        optimizer = optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-5)
        for t in range(10):
            y_pred = model(X)
            if t == 0:
                y_pretrain.append(y_pred)               # with its graph, as the notebook
            loss = criterion(y_pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    X_new = torch.unsqueeze(torch.linspace(-2, 2, 100), dim=1)
    out["before"] = [plt.plot(X_new.data.numpy(), y.data.numpy(), "r-", lw=1)[0].get_ydata()
                     for y in y_pretrain]
    after = []
    for model in models:
        with torch.no_grad():
            y_pred = model(X_new)
        after.append(plt.plot(X_new.data.numpy(), y_pred.data.numpy(), "r-", lw=1)[0]
                     .get_ydata())
    out["after"] = after
    y_combo = torch.stack([torch.from_numpy(a) for a in after])
    out["ensemble"] = [y_combo.var(dim=0).numpy(), y_combo.mean(dim=0).numpy()]
    return out


def test_regression(stream):
    _both(_regression, tol=dict(rtol=1e-4, atol=1e-5))


# --- 06 convnet vs fully connected on permuted pixels --------------------------------------

def _convnet(L):
    torch, nn, F, optim = L

    class FC2Layer(nn.Module):
        def __init__(self, input_size, n_hidden, output_size):
            super().__init__()
            self.input_size = input_size
            self.network = nn.Sequential(
                nn.Linear(input_size, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_hidden),
                nn.ReLU(), nn.Linear(n_hidden, output_size), nn.LogSoftmax(dim=1))

        def forward(self, x):
            return self.network(x.view(-1, self.input_size))

    class CNN(nn.Module):
        def __init__(self, input_size, n_feature, output_size):
            super().__init__()
            self.n_feature = n_feature
            self.conv1 = nn.Conv2d(in_channels=1, out_channels=n_feature, kernel_size=5)
            self.conv2 = nn.Conv2d(n_feature, n_feature, kernel_size=5)
            self.fc1 = nn.Linear(n_feature * 4 * 4, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), kernel_size=2)
            x = F.max_pool2d(F.relu(self.conv2(x)), kernel_size=2)
            x = x.view(-1, self.n_feature * 4 * 4)
            return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)

    data_ = torch.utils.data
    torch.manual_seed(6)
    images = (torch.rand(96, 1, 28, 28) - 0.1307) / 0.3081      # MNIST's shapes, normalised
    labels = torch.randint(0, 10, (96,))
    train_loader = data_.DataLoader(data_.TensorDataset(images[:64], labels[:64]),
                                    batch_size=16, shuffle=True)
    test_loader = data_.DataLoader(data_.TensorDataset(images[64:], labels[64:]),
                                   batch_size=16, shuffle=True)
    accuracy_list, printed = [], []

    def train(epoch, model, perm=torch.arange(0, 784).long()):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data = data.view(-1, 28 * 28)[:, perm].view(-1, 1, 28, 28)
            optimizer.zero_grad()
            loss = F.nll_loss(model(data), target)
            loss.backward()
            optimizer.step()
            printed.append("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
        return loss

    def test(model, perm=torch.arange(0, 784).long()):
        model.eval()
        test_loss, correct = 0, 0
        for data, target in test_loader:
            data = data.view(-1, 28 * 28)[:, perm].view(-1, 1, 28, 28)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.data.max(1, keepdim=True)[1]
            correct += pred.eq(target.data.view_as(pred)).cpu().sum().item()
        accuracy_list.append(100. * correct / len(test_loader.dataset))
        return test_loss / len(test_loader.dataset), output

    out = {}
    perm = torch.randperm(784)
    for name, make, p in (("fc", lambda: FC2Layer(784, 8, 10), None),
                          ("cnn", lambda: CNN(784, 6, 10), None),
                          ("cnn scrambled", lambda: CNN(784, 6, 10), perm),
                          ("fc scrambled", lambda: FC2Layer(784, 8, 10), perm)):
        model = make()
        optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
        n_params = sum(p.nelement() for p in list(model.parameters()))
        loss = train(0, model) if p is None else train(0, model, p)
        test_loss, output = test(model) if p is None else test(model, p)
        out[name] = [n_params, loss, test_loss, output, *model.parameters()]
    out["printed"] = [float(s.split()[-1]) for s in printed]
    out["accuracy"] = accuracy_list
    bars = plt.bar(("NN image", "CNN image", "CNN scrambled", "NN scrambled"), accuracy_list,
                   width=0.4)
    out["bars"] = [b.get_height() for b in bars]
    image, _ = train_loader.dataset.__getitem__(0)
    image_perm = image.view(-1, 28 * 28).clone()[:, perm].view(-1, 1, 28, 28)
    out["imshow"] = [plt.imshow(image.squeeze().numpy()).get_array(),
                     plt.imshow(image_perm.squeeze().numpy()).get_array()]
    assert "conv1" in dir(model) or "network" in dir(model)
    return out


def test_convnet_vs_fc_on_permuted_pixels(stream):
    _both(_convnet, tol=dict(rtol=1e-4, atol=1e-5))


# --- 07 listening to kernels ----------------------------------------------------------------

def _kernels(L):
    """The notebook's melody tones a^(i) and their convolution with the signal x(t), which
    it computes with ``np.convolve(x, a, mode='same')``: here also as a 1-D convolution
    layer (a cross-correlation: the kernel flipped) and as ``F.conv1d(padding='same')``."""
    torch, nn, F, _ = L
    sampling_rate = 8000
    dt = 1 / sampling_rate
    tt = np.arange(401) * dt                                  # an odd kernel length
    A = {f"a^({i + 1})": np.sin(2 * np.pi * f * tt) for i, f in enumerate((1661, 1244, 830, 932))}
    rng = np.random.RandomState(7)
    x = np.concatenate([np.sin(2 * np.pi * f * np.arange(1200) * dt) for f in (1661, 830)])
    x = (x + 0.1 * rng.randn(x.size)).astype(np.float32)
    convs = [np.convolve(x, a, mode="same") for a in A.values()]
    kernels = torch.Tensor(np.stack([a[::-1] for a in A.values()])).float()
    conv = nn.Conv1d(in_channels=1, out_channels=4, kernel_size=401, padding=200, bias=False)
    conv.weight.data = kernels.view(4, 1, -1)
    with torch.no_grad():
        y = conv(torch.Tensor(x).view(1, 1, -1))
        y2 = F.conv1d(torch.from_numpy(x)[None, None], kernels[:, None], padding="same")
    line = plt.plot(np.arange(x.size) * dt, y[0, 2].numpy())[0]
    return {"y": y, "y2": y2, "np": np.stack(convs).astype(np.float32)[None],
            "line": line.get_ydata(),
            "sizes": [list(conv.weight.size()), list(nn.Conv1d(2, 16, 3).weight.size()),
                      list(nn.Conv2d(20, 16, (3, 5)).weight.size())]}


def test_listening_to_kernels(stream):
    t, z = _both(_kernels, tol=dict(rtol=1e-4, atol=1e-4))
    close(z["y"], z["np"], rtol=1e-4, atol=1e-3)        # NumPy's convolution, the notebook's
    close(z["y2"], z["np"], rtol=1e-4, atol=1e-3)


def test_a_float64_array_through_torch_Tensor_stays_float64():
    """``torch.Tensor(np.sin(...))`` is float32 in PyTorch; zeroin's ``Tensor(array)`` keeps
    the array's dtype (README), so a float32 layer refuses it, naming the fix."""
    conv = znn.Conv1d(1, 1, 3).float()
    with pytest.raises(zeroin.DtypeError, match=r"float64.*float32|float32.*float64"):
        conv(zeroin.Tensor(np.sin(np.arange(9.0))).view(1, 1, -1))
    assert conv(zeroin.Tensor(np.sin(np.arange(9.0))).float().view(1, 1, -1)).shape == (1, 1, 7)


# --- 08 sequence classification -----------------------------------------------------------

def _sequences(rng, batch, length=9, symbols=8, classes=4):
    """One-hot sequences of 7 or 8 symbols, pre-padded with zero rows to ``length``, the
    class set by the symbols at two positions (the notebook's temporal-order task, EASY)."""
    x = np.zeros((batch, length, symbols), np.float32)
    y = np.zeros((batch, classes), np.float32)
    for b in range(batch):
        n, cls = rng.integers(7, 9), rng.integers(classes)
        seq = rng.integers(2, 6, n)
        seq[1], seq[4] = cls // 2, cls % 2
        x[b, length - n + np.arange(n), seq] = 1
        y[b, cls] = 1
    return x, y


def _decode_x_batch(x):
    """The generator's ``decode_x_batch``: each sequence without its padding rows."""
    return [[int(i) for i in np.argmax(s[np.sum(s, axis=1) > 0], axis=1)] for s in x]


def _seq_classification(L, cell, dtype):
    torch, nn, F, optim = L
    dtype = getattr(torch, dtype)

    class Simple(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True) if cell == "lstm" \
                else nn.RNN(input_size, hidden_size, nonlinearity="relu", batch_first=True)
            self.linear = nn.Linear(hidden_size, output_size)

        def forward(self, x):
            x, _ = self.rnn(x)
            return self.linear(x)

        def get_states_across_time(self, x):
            h_c, h_list, c_list = None, [], []
            with torch.no_grad():
                for t in range(x.size(1)):
                    h_c = self.rnn(x[:, [t], :], h_c)[1]
                    h_list.append(h_c[0])
                    c_list.append(h_c[1])
                return torch.cat(h_list), torch.cat(c_list)

    torch.manual_seed(1)
    model = Simple(8, 4, 4).to(dtype)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.RMSprop(model.parameters(), lr=0.001)
    rng = np.random.default_rng(8)
    model.train()
    num_correct, losses = 0, []
    for batch_idx in range(3):
        optimizer.zero_grad()
        data, target = _sequences(rng, 16)
        data, target = torch.from_numpy(data).to(dtype), torch.from_numpy(target).long()
        output = model(data)
        data_decoded = _decode_x_batch(data.numpy())
        sequence_end = torch.tensor([len(sequence) for sequence in data_decoded]) - 1
        output = output[torch.arange(data.shape[0]).long(), sequence_end, :]
        target = target.argmax(dim=1)
        loss = criterion(output, target)
        loss.backward()
        if batch_idx == 0:
            grads = [p.grad.clone() for p in model.parameters()]
        optimizer.step()
        y_pred = output.argmax(dim=1)
        num_correct += (y_pred == target).sum().item()
        losses.append(loss.item())
    labels = ["QRSU"[y.item()] for y in y_pred]
    out = {"losses": losses, "correct": num_correct, "grads": grads,
           "params": list(model.parameters()), "labels": [ord(c) for c in labels]}
    if cell == "lstm":                                  # plot_lib's plot_state, colours
        h, c = model.get_states_across_time(data)
        states = torch.sigmoid(c[:, 0, 0])
        out["states"] = [h, c, [int((v * 100) / 5) for v in states]]
        out["colourbar"] = [float(f"{v:.2f}") for v in torch.linspace(-2.5, 2.5, 20)]
    return out


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_sequence_classification(stream, cell):
    """RMSprop's first steps are about ``lr * sign(g)`` (its average of g^2 starts at 0), so
    in float32 a gradient near 0 follows rounding: float32 compares the losses and the
    first gradients, float64 everything after the steps to 1e-10."""
    _both(_seq_classification, cell, "float32", tol=dict(rtol=1e-4, atol=1e-6),
          only=("losses", "correct", "grads"))
    _both(_seq_classification, cell, "float64", tol=dict(rtol=1e-10, atol=1e-10))


# --- 09 echo data: truncated BPTT -----------------------------------------------------------

def _echo(L, dtype):
    torch, nn, _, optim = L

    class SimpleRNN(nn.Module):
        def __init__(self, input_size, rnn_hidden_size, output_size):
            super().__init__()
            self.rnn_hidden_size = rnn_hidden_size
            self.rnn = nn.RNN(input_size=input_size, hidden_size=rnn_hidden_size,
                              num_layers=1, nonlinearity="relu", batch_first=True)
            self.linear = nn.Linear(in_features=rnn_hidden_size, out_features=1)

        def forward(self, x, hidden):
            x, hidden = self.rnn(x, hidden)
            return self.linear(x), hidden

        def init_hidden(self, batch_size):
            weight = next(self.parameters()).data
            return weight.new(1, batch_size, self.rnn_hidden_size).zero_()

    torch.manual_seed(1)
    rng = np.random.default_rng(9)
    x = rng.choice(2, size=(5, 200))
    y = np.roll(x, 3, axis=1)
    y[:, :3] = 0
    chunks = zip(np.split(x[..., None], 10, axis=1), np.split(y[..., None], 10, axis=1))
    model = SimpleRNN(input_size=1, rnn_hidden_size=4, output_size=1).to(dtype)
    hidden = model.init_hidden(5)
    criterion = nn.BCEWithLogitsLoss()
    optimizer = optim.RMSprop(model.parameters(), lr=0.01)
    model.train()
    correct, losses = 0, []
    for data, target in chunks:
        data = torch.from_numpy(data).to(dtype)
        target = torch.from_numpy(target).to(dtype)
        optimizer.zero_grad()
        logits, hidden = model(data, hidden.detach())
        loss = criterion(logits, target)
        loss.backward()
        optimizer.step()
        pred = torch.sigmoid(logits) > 0.5
        correct += (pred == target.byte()).int().sum().item()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        my_input = torch.empty(1, 100, 1).random_(2).to(dtype)
        my_out, _ = model(my_input, model.init_hidden(1))
    return {"losses": losses, "correct": correct, "hidden": hidden,
            "params": list(model.parameters()), "echo": [my_input, my_out,
                                                         (my_out > 0).view(1, -1)]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_echo_data_truncated_bptt(stream, dtype):
    """Hidden state carried across chunks and detached (``hidden.detach()``); the initial
    state from ``next(self.parameters()).data.new(...)``; float64 to 1e-10."""
    def run(L):
        return _echo(L, getattr(L[0], dtype))
    _both(run, tol=F64 if dtype == "float64" else dict(rtol=1e-4, atol=1e-6))


# --- 10 autoencoder (denoising) -------------------------------------------------------------

def _autoencoder(L):
    torch, nn, _, optim = L
    d = 50

    class Autoencoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(28 * 28, d), nn.Tanh())
            self.decoder = nn.Sequential(nn.Linear(d, 28 * 28), nn.Tanh())

        def forward(self, y):
            return self.decoder(self.encoder(y))

    torch.manual_seed(10)
    images = torch.rand(64, 1, 28, 28) * 2 - 1          # ToTensor + Normalize((0.5,), (0.5,))
    model = Autoencoder()
    criterion = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    do = nn.Dropout()
    losses = []
    for b in range(2):
        img = images[32 * b:32 * (b + 1)]
        img = img.view(img.size(0), -1)
        noise = do(torch.ones(img.shape))
        img_bad = img * noise
        output = model(img_bad)
        loss = criterion(output, img.data)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(f"{loss.item():.4f}")
    kernels = model.encoder[0].weight.detach().view(-1, 28, 28)
    corrupted = ((img_bad.data.cpu()[0].view(28, 28) / 4 + 0.5) * 255).byte().numpy()
    mask = 2 - noise.cpu()[0].view(28, 28).byte().numpy()
    return {"noise": noise, "output": output, "losses": [float(s) for s in losses],
            "params": list(model.parameters()), "kernels": kernels,
            "inpaint": [corrupted, mask]}


def test_denoising_autoencoder(stream):
    """Dropout of ``torch.ones`` as the noise mask (the same mask on the torch stream)."""
    _both(_autoencoder, tol=dict(rtol=1e-4, atol=1e-5))


def test_autoencoder_display_needs_detach_not_data_arithmetic():
    """``to_img(out.cpu().data)`` computes ``0.5 * (y + 1)`` on ``.data``, a NumPy array in
    zeroin, whose arithmetic gives a plain array without ``view(n, 28, 28)``: write
    ``to_img(out.detach())`` (docs/nyudl.md). With it the images are torch's."""
    def to_img(y):
        y = 0.5 * (y + 1)
        return y.view(y.size(0), 28, 28)
    out = np.random.default_rng(0).uniform(-1, 1, (4, 784))
    z = zeroin.tensor(out, requires_grad=True) * 1.0
    with pytest.raises(TypeError):
        to_img(z.cpu().data)
    close(to_img(z.detach()), to_img(torch.tensor(out).cpu().data))


# --- 11 VAE ---------------------------------------------------------------------------------

def _vae(L):
    torch, nn, _, optim = L
    d = 20

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(784, d ** 2), nn.ReLU(),
                                         nn.Linear(d ** 2, d * 2))
            self.decoder = nn.Sequential(nn.Linear(d, d ** 2), nn.ReLU(),
                                         nn.Linear(d ** 2, 784), nn.Sigmoid())

        def reparameterise(self, mu, logvar):
            if self.training:
                std = logvar.mul(0.5).exp_()
                eps = std.data.new(std.size()).normal_()
                return eps.mul(std).add_(mu)
            return mu

        def forward(self, y):
            mu_logvar = self.encoder(y.view(-1, 784)).view(-1, 2, d)
            mu, logvar = mu_logvar[:, 0, :], mu_logvar[:, 1, :]
            return self.decoder(self.reparameterise(mu, logvar)), mu, logvar

    def loss_function(ỹ, y, mu, logvar):
        BCE = nn.functional.binary_cross_entropy(ỹ, y.view(-1, 784), reduction="sum")
        KLD = 0.5 * torch.sum(logvar.exp() - logvar - 1 + mu.pow(2))
        return BCE + KLD

    torch.manual_seed(1)
    images = torch.rand(48, 1, 28, 28)
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    train_loss = 0
    for b in range(2):
        y = images[24 * b:24 * (b + 1)]
        ỹ, mu, logvar = model(y)
        loss = loss_function(ỹ, y, mu, logvar)
        train_loss += loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    grads = [p.grad for p in model.parameters()]
    with torch.no_grad():
        model.eval()
        ỹ, mu, logvar = model(images)
        test_loss = loss_function(ỹ, images, mu, logvar).item()
    sample = model.decoder(torch.randn((16, d)))
    A, B = 1, 14
    pair = model.decoder(torch.stack((mu[A].data, mu[B].data), 0))
    N = 16
    inter = torch.Tensor(N, 28, 28)
    for i in range(N):
        inter[i] = i / (N - 1) * images[B].data + (1 - i / (N - 1)) * images[A].data
    im = plt.imshow(inter[9].view(28, 28))
    return {"train_loss": train_loss, "grads": grads, "params": list(model.parameters()),
            "test_loss": test_loss, "eval": [ỹ, mu, logvar], "sample": sample.detach(),
            "pair": pair.detach(), "inter": inter, "imshow": im.get_array()}


def test_vae_reparameterisation_kl_and_summed_bce(stream):
    _both(_vae, tol=dict(rtol=1e-4, atol=1e-5))


# --- 12 regularisation: dropout, weight decay, L1 (and batch norm) -------------------------

def _regularisation(L, toggle, path):
    """The notebook's bag-of-embeddings classifier on IMDB-shaped batches (80 tokens, a
    1002-word vocabulary, float labels), with its toggles: none, L1 on fc1 added to the
    loss, weight decay (L2), dropout; its validation pass, weight histogram and best-model
    save (``torch.save(model.state_dict(), ...)``)."""
    torch, nn, F, optim = L
    max_len, num_words = 80, 1000

    class FeedforwardNeuralNetModel(nn.Module):
        def __init__(self, input_dim, embedding_dim, hidden_dim, output_dim):
            super().__init__()
            self.embedding = nn.Embedding(input_dim, embedding_dim)
            self.fc1 = nn.Linear(embedding_dim * embedding_dim, hidden_dim)
            self.fc2 = nn.Linear(hidden_dim, output_dim)

        def forward(self, x):
            embedded = self.embedding(x).view(-1, embedding_dim * embedding_dim)
            out = torch.relu(self.fc1(embedded))
            if toggle == "dropout":
                out = torch.dropout(out, 0.8, self.training)
            return torch.sigmoid(self.fc2(out))

    torch.manual_seed(1337)
    embedding_dim = max_len
    model = FeedforwardNeuralNetModel(num_words + 2, embedding_dim, 32, 1)
    criterion = nn.BCELoss()
    optimizer = optim.Adam(model.parameters(), lr=1e-3,
                           weight_decay=0.005 if toggle == "L2" else 0)
    samples_all = torch.randint(0, num_words + 2, (48, max_len))
    labels_all = torch.randint(0, 2, (48,)).float()
    history = []
    for i in range(2):
        model.train()
        samples = samples_all[16 * i:16 * (i + 1)].view(-1, max_len)
        labels = labels_all[16 * i:16 * (i + 1)].view(-1, 1)
        optimizer.zero_grad()
        outputs = model(samples)
        loss = criterion(outputs, labels)
        if toggle == "L1":
            fc1_params = torch.cat([x.view(-1) for x in model.fc1.parameters()])
            loss += 0.001 * torch.norm(fc1_params, 1)
        loss.backward()
        optimizer.step()
        train_loss = loss.data.item()
        model.eval()
        samples, labels = samples_all[32:].view(-1, max_len), labels_all[32:].view(-1)
        outputs = model(samples)
        val_loss = criterion(outputs.view(-1, 1), labels.view(-1, 1))
        predicted = outputs.ge(0.5).view(-1)
        correct = (predicted.type(torch.FloatTensor).cpu() ==
                   labels.type(torch.FloatTensor)).sum().item()
        history.append([train_loss, val_loss.data.item(), round(100. * correct / 16, 2)])
        torch.save(model.state_dict(), path)
    weights = torch.Tensor()
    for param_group in list(model.parameters()):
        weights = torch.cat((param_group.view(-1), weights))
    counts = plt.hist(weights.detach().numpy().reshape(-1), 49, range=(-.5, .5))[0]
    return {"history": history, "params": list(model.parameters()), "hist": counts}


@pytest.mark.parametrize("toggle", ["none", "L1", "L2", "dropout"])
def test_regularisation_toggles(stream, tmp_path, toggle):
    t, z = _both(lambda L: _regularisation(L, toggle, str(tmp_path / L[0].__name__)),
                 tol=dict(rtol=1e-4, atol=1e-5))
    saved = zeroin.load(str(tmp_path / "zeroin"))        # the best model, read back
    close(saved["fc2.weight"], z["params"][-2], rtol=0, atol=0)


def _batchnorm_net(L, dtype):
    torch, nn, F, optim = L

    class Net(nn.Module):
        def __init__(self, vocab, emb, hidden, p):
            super().__init__()
            self.embedding = nn.Embedding(vocab, emb)
            self.fc1 = nn.Linear(emb, hidden)
            self.bn = nn.BatchNorm1d(hidden)
            self.dropout = nn.Dropout(p=p)
            self.fc2 = nn.Linear(hidden, 2)

        def forward(self, x):
            h = self.embedding(x).mean(dim=1)
            return self.fc2(self.dropout(F.relu(self.bn(self.fc1(h)))))

    torch.manual_seed(12)
    tokens = torch.randint(0, 100, (32, 12))
    labels = torch.randint(0, 2, (32,))
    model = Net(100, 16, 24, 0.5).to(dtype)
    optimizer = optim.SGD(model.parameters(), lr=0.1, weight_decay=1e-3)
    losses = []
    for step in range(4):
        model.train()
        l1 = sum(p.abs().sum() for p in model.fc1.parameters())
        loss = F.cross_entropy(model(tokens), labels) + 1e-4 * l1
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        ev = model(tokens)
    do = nn.Dropout(p=0.5)
    x = torch.ones(4, 6, dtype=dtype)
    return {"losses": losses, "eval": ev, "params": list(model.parameters()),
            "running": [model.bn.running_mean, model.bn.running_var],
            "dropout": [do(x), do.eval()(x)]}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batch_norm_dropout_and_penalties(stream, dtype):
    def run(L):
        return _batchnorm_net(L, getattr(L[0], dtype))
    _both(run, tol=F64 if dtype == "float64" else dict(rtol=1e-4, atol=1e-6))


# --- 13 Bayesian NN: MC dropout at test time -----------------------------------------------

def _bayesian(L):
    torch, nn, _, optim = L
    torch.manual_seed(13)
    x = (torch.rand(20) - 0.5) * 12
    y = x * torch.sin(x)
    net = nn.Sequential(nn.Dropout(p=0.05), nn.Linear(1, 20), nn.ReLU(), nn.Dropout(p=0.05),
                        nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 1))
    criterion = nn.MSELoss()
    optimiser = optim.SGD(net.parameters(), lr=0.01, weight_decay=0.00001)
    for epoch in range(30):
        y_hat = net(x.view(-1, 1))
        loss = criterion(y_hat, y.view(-1, 1))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    xx = torch.linspace(-15, 15, 200)
    net.eval()
    with torch.no_grad():
        det = net(xx.view(-1, 1)).squeeze()
        plt.plot(xx.numpy(), det.numpy(), "C1")
    net.train()
    y_hat = list()
    with torch.no_grad():
        for t in range(20):
            y_hat.append(net(xx.view(-1, 1)).squeeze())
    y_hat = torch.stack(y_hat)
    mean, std = y_hat.mean(0), y_hat.std(0)
    band = plt.fill_between(xx.numpy(), (mean + std).numpy(), (mean - std).numpy(), color="C2")
    return {"loss": loss, "eval": det, "mc": [mean, std], "band": band.get_paths()[0].vertices}


def test_bayesian_nn_mc_dropout(stream):
    t, z = _both(_bayesian, tol=dict(rtol=1e-4, atol=1e-5))
    assert float(_np(z["mc"][1]).max()) > 0            # train mode at test time: a spread


# --- 14 truck backer-upper: BPTT through a differentiable simulator -------------------------

def _expert_data(episodes=3, max_steps=60):
    """The notebook's ``Truck`` kinematics in NumPy (speed s = -0.1, L = 1, d = 4, the box
    [0, 40] x [-10, 10]) with random steering: rows (ϕ, x, y, θ0, x_trailer, y_trailer, θ1)
    and the next states, as its "expert data set" cell builds them."""
    rng = np.random.RandomState(14)
    s, L, d = -0.1, 1.0, 4.0
    inputs, outputs = [], []
    for _ in range(episodes):
        θ0 = rng.random_sample() * 2 * np.pi
        θ1 = (rng.random_sample() - 0.5) * np.pi / 2 + θ0
        x, y = (rng.random_sample() * .75 + 0.25) * 40, (rng.random_sample() - 0.5) * 20
        for _ in range(max_steps):
            state = (x, y, θ0, x - d * np.cos(θ1), y - d * np.sin(θ1), θ1)
            ϕ = (rng.random_sample() - 0.5) * np.pi / 2
            x, y = x + s * np.cos(θ0), y + s * np.sin(θ0)
            θ0, θ1 = θ0 + s / L * np.tan(ϕ), θ1 + s / d * np.sin(θ0 - θ1)
            inputs.append((ϕ, *state))
            outputs.append((x, y, θ0, x - d * np.cos(θ1), y - d * np.sin(θ1), θ1))
    return inputs, outputs


def _truck(L, steps=25):
    """The notebook's emulator, trained one sample at a time in ``torch.randperm`` order
    on the normalised expert data, then (the exercise it leaves) a controller trained by
    backpropagating through ``steps`` emulator steps to the last state's distance to
    the dock; float64 throughout."""
    torch, nn, _, optim = L
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(14)
    inputs, outputs = _expert_data()
    emulator = nn.Sequential(nn.Linear(1 + 6, 45), nn.ReLU(), nn.Linear(45, 6))
    optimiser_e = optim.SGD(emulator.parameters(), lr=0.005)
    criterion = nn.MSELoss()
    tensor_inputs, tensor_outputs = torch.Tensor(inputs), torch.Tensor(outputs)
    mean, std = tensor_inputs.mean(0), tensor_inputs.std(0)
    tensor_inputs = (tensor_inputs - mean) / std
    tensor_outputs = (tensor_outputs - mean[1:]) / std[1:]
    test_size = int(len(tensor_inputs) * 0.8)
    train_inputs, train_outputs = tensor_inputs[:test_size], tensor_outputs[:test_size]
    printed = []
    for cnt, i in enumerate(torch.randperm(len(train_inputs))):
        loss = criterion(emulator(train_inputs[i]), train_outputs[i])
        optimiser_e.zero_grad()
        loss.backward()
        optimiser_e.step()
        if cnt % 40 == 0:
            printed.append(f"{cnt + 1:4d} / {len(train_inputs)}, {loss.item():.10f}")
    total_loss = 0
    with torch.no_grad():
        for idx, ϕ_state in enumerate(tensor_inputs[test_size:]):
            total_loss += criterion(emulator(ϕ_state), tensor_outputs[test_size + idx]).item()
    for p in emulator.parameters():
        p.requires_grad_(False)
    controller = nn.Sequential(nn.Linear(6, 25), nn.Tanh(), nn.Linear(25, 1))
    optimiser_c = optim.SGD(controller.parameters(), lr=1e-3)
    losses = []
    for it in range(3):
        state = tensor_inputs[0, 1:]
        for t in range(steps):
            ϕ = controller(state).clamp(-1, 1)
            state = emulator(torch.cat((ϕ, state)))
        x, y = state[0] * std[1] + mean[1], state[1] * std[2] + mean[2]
        loss = x ** 2 + y ** 2
        optimiser_c.zero_grad()
        loss.backward()
        grads = [p.grad.clone() for p in controller.parameters()]
        optimiser_c.step()
        losses.append(loss.item())
    xy = tensor_inputs[:60, 1:3] * std[1:3] + mean[1:3]
    line = plt.plot(xy[:, 0], xy[:, 1])[0]                     # a trajectory, drawn
    return {"printed": [float(p.split(", ")[1]) for p in printed], "test": total_loss,
            "emulator": list(emulator.parameters()), "losses": losses, "grads": grads,
            "controller": list(controller.parameters()), "path": line.get_xydata()}


def test_truck_backer_upper_emulator_and_controller_bptt(stream):
    t, _ = _both(_truck, tol=F64)
    assert t["printed"][-1] < t["printed"][0] and t["losses"][-1] < t["losses"][0]


# --- DLSP21 17 optimal control: planning by backpropagation through the kinematics ---------

def _tricycle(torch):
    def f(x, u, t=None):
        """The notebook's kinematic model: states (x, y, θ, s), controls (ϕ, a), written into
        a zeros tensor element by element (the graph goes through the assignments)."""
        L = 1
        x, y, θ, s = x
        ϕ, a = u
        f = torch.zeros(4)
        f[0] = s * torch.cos(θ)
        f[1] = s * torch.sin(θ)
        f[2] = s / L * torch.tan(ϕ)
        f[3] = a
        return f
    return f


def _plot_τ(torch, ax, τ, car=False):
    """The notebook's ``plot_τ`` and ``draw_car``: tensors as line data, ticks, and the
    rectangles' corners and rotation angles."""
    line = ax.plot(τ[:, 0], τ[:, 1], "o-")[0]
    ax.set_xticks(torch.arange(-1, 7 + 1, 1))
    if car:
        for x, y, θ in τ[:, :3]:
            rect = matplotlib.patches.Rectangle(
                (x, y - 0.4 / 2), 1.0, 0.4, alpha=0.8, fill=False, ec="grey",
                transform=matplotlib.transforms.Affine2D().rotate_around(*(x, y), θ) +
                ax.transData)
            ax.add_patch(rect)
    return line.get_xydata()


def _optimal_control(L, cost_name):
    torch, nn, _, optim = L
    f = _tricycle(torch)
    x = torch.tensor((0, 0, 0, 1), dtype=torch.float32)          # manual driving: an S
    u = torch.zeros(10, 2)
    u[:5, 0] = 0.2
    u[5:, 0] = -0.2
    trajectory = [x.clone()]
    for t in range(10):
        x += f(x, u[t]) * 1
        trajectory.append(x.clone())
    out = {"manual": _plot_τ(torch, plt.gca(), torch.stack(trajectory), car=True)}
    stems = plt.stem(np.arange(10) + 0.9, u[:, 0], "C1", markerfmt="C1o", basefmt="none")
    out["stem"] = stems.markerline.get_ydata()

    def cost_f(state, target):
        x_x, x_y = target
        dists = (state[:, 0] - x_x).pow(2) + (state[:, 1] - x_y).pow(2)
        if cost_name == "vanilla":
            return (state[-1][0] - x_x).pow(2) + (state[-1][1] - x_y).pow(2)
        if cost_name == "speed":
            return (state[-1][0] - x_x).pow(2) + (state[-1][1] - x_y).pow(2) + \
                (state[-1][-1]).pow(2)
        if cost_name == "distances":
            return dists.pow(0.5).mean()
        return -1 * torch.logsumexp(-1 * dists, dim=0)

    T, costs = 6, []
    u = nn.Parameter(torch.zeros(T, 2))
    optimizer = optim.SGD((u,), lr=0.005)
    for epoch in range(8):
        x = [torch.tensor((0, 0, 0, 1), dtype=torch.float32)]
        for t in range(1, T + 1):
            x.append(x[-1] + f(x[-1], u[t - 1]) * 1)
        x_t = torch.stack(x)
        τ = torch.stack(x).detach()
        cost = cost_f(x_t, (5, 1))
        costs.append(cost.item())
        optimizer.zero_grad()
        cost.backward()
        optimizer.step()
    assert costs[-1] < costs[0]
    out.update(costs=costs, u=u.data, path=_plot_τ(torch, plt.gca(), τ, car=True))
    return out


@pytest.mark.parametrize("cost_name", ["vanilla", "speed", "distances", "softmin"])
def test_optimal_control_plans_by_backprop_through_the_kinematics(stream, cost_name):
    """DLSP21's tricycle: ``f[0] = s * torch.cos(θ)`` into ``torch.zeros(4)`` carries the
    gradient to the controls ``u`` (an ``nn.Parameter`` in ``SGD((u,), ...)``)."""
    _both(_optimal_control, cost_name, tol=dict(rtol=1e-5, atol=1e-6))


# --- 15 transformer: multi-head attention by hand ----------------------------------------

def _transformer(L):
    torch, nn, f, optim = L
    nn_Softargmax = nn.Softmax

    class MultiHeadAttention(nn.Module):
        def __init__(self, d_model, num_heads, p, d_input=None):
            super().__init__()
            self.num_heads, self.d_model = num_heads, d_model
            d_xq = d_xk = d_xv = d_model
            assert d_model % self.num_heads == 0
            self.d_k = d_model // self.num_heads
            self.W_q = nn.Linear(d_xq, d_model, bias=False)
            self.W_k = nn.Linear(d_xk, d_model, bias=False)
            self.W_v = nn.Linear(d_xv, d_model, bias=False)
            self.W_h = nn.Linear(d_model, d_model)

        def scaled_dot_product_attention(self, Q, K, V):
            Q = Q / np.sqrt(self.d_k)
            scores = torch.matmul(Q, K.transpose(2, 3))
            A = nn_Softargmax(dim=-1)(scores)
            return torch.matmul(A, V), A

        def split_heads(self, x, batch_size):
            return x.view(batch_size, -1, self.num_heads, self.d_k).transpose(1, 2)

        def group_heads(self, x, batch_size):
            return x.transpose(1, 2).contiguous().view(batch_size, -1,
                                                      self.num_heads * self.d_k)

        def forward(self, X_q, X_k, X_v):
            batch_size, seq_length, dim = X_q.size()
            Q = self.split_heads(self.W_q(X_q), batch_size)
            K = self.split_heads(self.W_k(X_k), batch_size)
            V = self.split_heads(self.W_v(X_v), batch_size)
            H_cat, A = self.scaled_dot_product_attention(Q, K, V)
            return self.W_h(self.group_heads(H_cat, batch_size)), A

    class CNN(nn.Module):
        def __init__(self, d_model, hidden_dim, p):
            super().__init__()
            self.k1convL1 = nn.Linear(d_model, hidden_dim)
            self.k1convL2 = nn.Linear(hidden_dim, d_model)
            self.activation = nn.ReLU()

        def forward(self, x):
            return self.k1convL2(self.activation(self.k1convL1(x)))

    class EncoderLayer(nn.Module):
        def __init__(self, d_model, num_heads, conv_hidden_dim, p=0.1):
            super().__init__()
            self.mha = MultiHeadAttention(d_model, num_heads, p)
            self.cnn = CNN(d_model, conv_hidden_dim, p)
            self.layernorm1 = nn.LayerNorm(normalized_shape=d_model, eps=1e-6)
            self.layernorm2 = nn.LayerNorm(normalized_shape=d_model, eps=1e-6)

        def forward(self, x):
            attn_output, _ = self.mha(x, x, x)
            out1 = self.layernorm1(x + attn_output)
            return self.layernorm2(out1 + self.cnn(out1))

    def create_sinusoidal_embeddings(nb_p, dim, E):
        theta = np.array([[p / np.power(10000, 2 * (j // 2) / dim) for j in range(dim)]
                          for p in range(nb_p)])
        with torch.no_grad():           # the notebook's bare assignment is refused by both
            E[:, 0::2] = torch.FloatTensor(np.sin(theta[:, 0::2]))
            E[:, 1::2] = torch.FloatTensor(np.cos(theta[:, 1::2]))
        E.detach_()
        E.requires_grad = False

    class Classifier(nn.Module):
        def __init__(self, num_layers, d_model, num_heads, hidden, vocab, max_pos):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, d_model, padding_idx=1)
            self.position_embeddings = nn.Embedding(max_pos, d_model)
            create_sinusoidal_embeddings(max_pos, d_model, self.position_embeddings.weight)
            self.LayerNorm = nn.LayerNorm(d_model, eps=1e-12)
            self.enc_layers = nn.ModuleList()
            for _ in range(num_layers):
                self.enc_layers.append(EncoderLayer(d_model, num_heads, hidden))
            self.dense = nn.Linear(d_model, 2)

        def forward(self, input_ids):
            position_ids = torch.arange(input_ids.size(1), dtype=torch.long,
                                        device=input_ids.device)
            position_ids = position_ids.unsqueeze(0).expand_as(input_ids)
            x = self.LayerNorm(self.word_embeddings(input_ids) +
                               self.position_embeddings(position_ids))
            for layer in self.enc_layers:
                x = layer(x)
            x, _ = torch.max(x, dim=1)
            return self.dense(x)

    temp_mha = MultiHeadAttention(d_model=512, num_heads=8, p=0)
    test_K = torch.tensor([[10, 0, 0], [0, 10, 0], [0, 0, 10], [0, 0, 10]]).float()[None, None]
    test_V = torch.tensor([[1, 0, 0], [10, 0, 0], [100, 5, 0], [1000, 6, 0]]).float()[None, None]
    test_Q = torch.tensor([[0, 0, 10], [0, 10, 0], [10, 10, 0]]).float()[None, None]
    H, A = temp_mha.scaled_dot_product_attention(test_Q, test_K, test_V)
    out = {"sanity": [A.squeeze(), H.squeeze()]}
    torch.manual_seed(15)
    model = Classifier(2, 8, 2, 16, 50, 30)
    optimizer = optim.AdamW(model.parameters(), lr=0.001)
    x = torch.randint(0, 50, (6, 10))
    y = torch.randint(0, 2, (6,))
    model.train()
    for step in range(2):
        o = model(x)
        loss = f.cross_entropy(o, y)
        model.zero_grad()
        loss.backward()
        optimizer.step()
    out["train"] = [o, loss, *[p for p in model.parameters() if p.requires_grad]]
    out["acc"] = (o.argmax(1) == y).cpu().numpy().mean()
    out["pos"] = model.position_embeddings.weight
    out["printed"] = str(model)                     # the notebook prints the model
    assert not model.position_embeddings.weight.requires_grad
    return out


def test_transformer_by_hand(stream):
    t, z = _both(_transformer, tol=dict(rtol=1e-4, atol=1e-5))
    # the notebook's printed sanity check
    np.testing.assert_allclose(_np(z["sanity"][0])[1], [3.7266e-06, 9.9999e-01, 3.7266e-06,
                                                        3.7266e-06], rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(_np(z["sanity"][1])[0], [549.9979, 5.5, 0], rtol=1e-5)


def test_transformer_sinusoid_into_a_parameter_is_refused_by_both():
    """The notebook writes ``E[:, 0::2] = ...`` into an embedding's weight outside no_grad;
    today's PyTorch refuses it (a leaf that requires grad), and so does zeroin."""
    for lib, nn in ((torch, torch.nn), (zeroin, znn)):
        E = nn.Embedding(4, 6).weight
        with pytest.raises(RuntimeError, match="leaf"):
            E[:, 0::2] = lib.zeros(4, 3, dtype=E.dtype)
