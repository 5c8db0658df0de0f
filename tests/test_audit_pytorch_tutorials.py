"""Audit against the official PyTorch tutorials a beginner reads first: "Learn the Basics"
(quickstart, tensors, datasets, build model, autograd, optimization, save and load), "What is
torch.nn really?" and the "60 Minute Blitz" (autograd, neural networks). Each page's main code
is run as a learner ports it (``import zeroin as torch``, ``zeroin.vision`` for torchvision)
with ``torch`` and with ``zeroin`` on the same data and weights (copied from torch), compared
to float resolution in float32 (the tutorials' dtype: those tests set zeroin's default to
float32) and to 1e-10 in float64. The data are made here; torchvision is not installed, so
its pieces are written out by hand on the torch side. See docs/pytorch_tutorials.md."""
import math

import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, copy_weights as _copy

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-6, atol=2e-6)


def _fashion(n, seed=0):
    """FashionMNIST-like data: (n, 1, 28, 28) float32 pixels in [0, 1], labels 0-9."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, 1, 28, 28)).astype(np.float32) / 255,
            rng.integers(0, 10, n).astype(np.int64))


# --- Learn the Basics: quickstart and optimization -------------------------------------------

def _neural_network(torch):
    nn = torch.nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10))

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits
    return NeuralNetwork


def _quickstart(torch, data, tmodel, path):
    """The quickstart page, with torch the library given: its loaders, train() and test()."""
    from_np = torch.from_numpy
    DataLoader, TensorDataset = torch.utils.data.DataLoader, torch.utils.data.TensorDataset
    training_data = TensorDataset(from_np(data[0]), from_np(data[1]))
    test_data = TensorDataset(from_np(data[2]), from_np(data[3]))
    batch_size = 64
    train_dataloader = DataLoader(training_data, batch_size=batch_size)
    test_dataloader = DataLoader(test_data, batch_size=batch_size)
    X, y = next(iter(test_dataloader))
    shapes = (tuple(X.shape), tuple(y.shape), str(y.dtype).split(".")[-1])
    device = (torch.accelerator.current_accelerator().type
              if torch.accelerator.is_available() else "cpu")
    NeuralNetwork = _neural_network(torch)
    model = NeuralNetwork().to(device)
    _copy(tmodel, model) if torch is zeroin else model.load_state_dict(tmodel.state_dict())
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    log = []

    def train(dataloader, model, loss_fn, optimizer):
        size = len(dataloader.dataset)
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss, current = loss.item(), (batch + 1) * len(X)
            log.append((loss, f"[{current:>5d}/{size:>5d}]"))

    def test(dataloader, model, loss_fn):
        size = len(dataloader.dataset)
        num_batches = len(dataloader)
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for X, y in dataloader:
                X, y = X.to(device), y.to(device)
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        test_loss /= num_batches
        correct /= size
        return test_loss, correct, f"Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f}"

    results = []
    for t in range(2):
        train(train_dataloader, model, loss_fn, optimizer)
        results.append(test(test_dataloader, model, loss_fn))
    torch.save(model.state_dict(), str(path / "model.pth"))
    model = NeuralNetwork().to(device)
    model.load_state_dict(torch.load(str(path / "model.pth"), weights_only=True))
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    model.eval()
    x, y = test_data[0][0], test_data[0][1]
    with torch.no_grad():
        x = x.to(device)
        pred = model(x)
        predicted, actual = classes[pred[0].argmax(0)], classes[y]
    return shapes, log, results, _np(pred), (predicted, actual)


def test_quickstart_train_test_save_load(f32, tmp_path):
    data = _fashion(160) + _fashion(70, seed=1)
    torch.manual_seed(0)
    tmodel = _neural_network(torch)()
    (tmp_path / "t").mkdir()
    (tmp_path / "z").mkdir()
    t = _quickstart(torch, data, tmodel, tmp_path / "t")
    z = _quickstart(zeroin, data, tmodel, tmp_path / "z")
    assert z[0] == t[0] == ((64, 1, 28, 28), (64,), "int64")
    assert [s for _, s in z[1]] == [s for _, s in t[1]]      # "[   64/  160]" ... "[  96/  160]"
    np.testing.assert_allclose([v for v, _ in z[1]], [v for v, _ in t[1]], **F32)
    for (zl, zc, zs), (tl, tc, ts) in zip(z[2], t[2]):
        assert zc == tc and isinstance(zc, float)
        np.testing.assert_allclose(zl, tl, **F32)
    np.testing.assert_allclose(z[3], t[3], **F32)            # the reloaded model's logits
    assert z[4] == t[4]                          # classes[pred[0].argmax(0)], classes[y]
    # the printed model is PyTorch's
    assert str(_neural_network(zeroin)()) == str(tmodel)


def test_optimization_train_loop_test_loop_float64():
    """The optimization page's loops (model.train / eval, no_grad), here in float64."""
    data = _fashion(96)
    torch.manual_seed(1)
    tmodel = _neural_network(torch)().double()
    zmodel = _copy(tmodel, _neural_network(zeroin)())
    out = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        learning_rate, batch_size = 1e-3, 32
        ds = lib.utils.data.TensorDataset(lib.from_numpy(data[0].astype(np.float64)),
                                          lib.from_numpy(data[1]))
        dataloader = lib.utils.data.DataLoader(ds, batch_size=batch_size)
        loss_fn = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.SGD(model.parameters(), lr=learning_rate)
        losses = []
        model.train()
        for batch, (X, y) in enumerate(dataloader):
            pred = model(X)
            loss = loss_fn(pred, y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
        model.eval()
        test_loss, correct = 0, 0
        with lib.no_grad():
            for X, y in dataloader:
                pred = model(X)
                test_loss += loss_fn(pred, y).item()
                correct += (pred.argmax(1) == y).type(lib.float).sum().item()
        out[lib] = losses + [test_loss / len(dataloader), correct / len(dataloader.dataset)]
    np.testing.assert_allclose(out[zeroin], out[torch], rtol=1e-10, atol=1e-10)


# --- Learn the Basics: tensors ----------------------------------------------------------------

def test_tensors_page_creation_attributes_operations_and_numpy_bridge():
    out = {}
    for lib in LIBS:
        data = [[1, 2], [3, 4]]
        x_data = lib.tensor(data)
        x_np = lib.from_numpy(np.array(data))
        x_ones = lib.ones_like(x_data)
        x_rand = lib.rand_like(x_data, dtype=lib.float)
        assert x_ones.dtype == lib.int64 and x_rand.dtype == lib.float32
        assert tuple(x_rand.shape) == (2, 2) and 0 <= x_rand.min() and x_rand.max() < 1
        shape = (2, 3,)
        assert [tuple(f(shape).shape) for f in (lib.rand, lib.ones, lib.zeros)] == [(2, 3)] * 3
        tensor = lib.rand(3, 4)
        assert tuple(tensor.shape) == (3, 4) and str(tensor.device) == "cpu"
        tensor = lib.ones(4, 4)
        tensor[:, 1] = 0
        first = (tensor[0], tensor[:, 0], tensor[..., -1])
        t1 = lib.cat([tensor, tensor, tensor], dim=1)
        y1 = tensor @ tensor.T
        y2 = tensor.matmul(tensor.T)
        y3 = lib.rand_like(y1)
        r3 = lib.matmul(tensor, tensor.T, out=y3)
        z1 = tensor * tensor
        z2 = tensor.mul(tensor)
        z3 = lib.rand_like(tensor)
        r5 = lib.mul(tensor, tensor, out=z3)
        assert r3 is y3 and r5 is z3
        agg = tensor.sum()
        agg_item = agg.item()
        assert isinstance(agg_item, float) and agg_item == 12.0
        tensor.add_(5)
        t = lib.ones(5)
        n = t.numpy()
        t.add_(1)                               # the array shares the memory
        assert n.tolist() == [2.0] * 5
        n2 = np.ones(5)
        t2 = lib.from_numpy(n2)
        np.add(n2, 1, out=n2)                   # and the other way round
        out[lib] = [_np(v) for v in (x_np, x_ones, *first, t1, y1, y2, y3, z1, z2, z3,
                                     tensor, t, t2)]
    for z, t in zip(out[zeroin], out[torch]):
        np.testing.assert_array_equal(z, t)
    assert out[zeroin][-1].tolist() == [2.0] * 5


# --- Learn the Basics: datasets and transforms ------------------------------------------------

def _image_files(tmp_path, n=6):
    """PNG images (gray 28x28, as FashionMNIST's) and the annotations (file, label)."""
    from PIL import Image
    rng = np.random.default_rng(3)
    annotations = []
    for i in range(n):
        name = f"img_{i}.png"
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / name)
        annotations.append((name, int(rng.integers(0, 10))))
    return annotations


def _custom_image_dataset(torch, decode_image):
    import os

    class CustomImageDataset(torch.utils.data.Dataset):
        def __init__(self, annotations, img_dir, transform=None, target_transform=None):
            self.img_labels = annotations
            self.img_dir = img_dir
            self.transform = transform
            self.target_transform = target_transform

        def __len__(self):
            return len(self.img_labels)

        def __getitem__(self, idx):
            img_path = os.path.join(self.img_dir, self.img_labels[idx][0])
            image = decode_image(img_path)
            label = self.img_labels[idx][1]
            if self.transform:
                image = self.transform(image)
            if self.target_transform:
                label = self.target_transform(label)
            return image, label
    return CustomImageDataset


def _torch_decode_image(path):
    """torchvision.io.decode_image of a gray PNG, by hand: uint8 (1, H, W)."""
    from PIL import Image
    return torch.from_numpy(np.asarray(Image.open(path)).copy()).unsqueeze(0)


def test_datasets_page_custom_dataset_decode_image_lambda_and_dataloader(tmp_path):
    from zeroin.vision.io import decode_image
    from zeroin.vision.transforms import Lambda
    annotations = _image_files(tmp_path)
    out = {}
    for lib, decode in ((torch, _torch_decode_image), (zeroin, decode_image)):
        one_hot = (Lambda if lib is zeroin else (lambda f: f))(
            lambda y: lib.zeros(10, dtype=lib.float).scatter_(0, lib.tensor(y), value=1))
        ds = _custom_image_dataset(lib, decode)(annotations, str(tmp_path),
                                                transform=lambda img: img.float() / 255,
                                                target_transform=one_hot)
        sample_idx = lib.randint(len(ds), size=(1,)).item()
        assert isinstance(sample_idx, int) and 0 <= sample_idx < len(ds) == 6
        img, label = ds[sample_idx]
        assert tuple(img.shape) == (1, 28, 28) and tuple(img.squeeze().shape) == (28, 28)
        loader = lib.utils.data.DataLoader(ds, batch_size=4, shuffle=False)
        train_features, train_labels = next(iter(loader))
        assert tuple(train_features.shape) == (4, 1, 28, 28)
        assert train_labels.dtype == lib.float32 and tuple(train_labels.shape) == (4, 10)
        raw = decode(str(tmp_path / annotations[0][0]))
        assert raw.dtype == lib.uint8
        out[lib] = [_np(raw), _np(train_features), _np(train_labels)]
    for z, t in zip(out[zeroin], out[torch]):
        np.testing.assert_array_equal(z, t)
    assert out[zeroin][2].argmax(1).tolist() == [lab for _, lab in annotations[:4]]


def test_transforms_page_fashion_mnist_to_tensor_and_one_hot_target(f32, tmp_path):
    """datasets.FashionMNIST(..., transform=ToTensor(), target_transform=Lambda(one-hot)) on
    IDX files in torchvision's layout; the torch side is torchvision's arithmetic by hand."""
    from zeroin.data.mnist import write_idx
    from zeroin.vision import datasets
    from zeroin.vision.transforms import Lambda, ToTensor
    rng = np.random.default_rng(12)
    raw = tmp_path / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    images = rng.integers(0, 256, (20, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 20).astype(np.uint8)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    ds = datasets.FashionMNIST(
        root=str(tmp_path / "data"), train=True, download=True, transform=ToTensor(),
        target_transform=Lambda(lambda y: zeroin.zeros(10, dtype=zeroin.float).scatter_(
            0, zeroin.tensor(y), value=1)))
    img, target = ds[3]
    assert ds.classes[9] == "Ankle boot" and len(ds) == 20
    X, Y = next(iter(zeroin.utils.data.DataLoader(ds, batch_size=8)))
    tX = torch.from_numpy(images[:8]).float().div(255).unsqueeze(1)
    tY = torch.stack([torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(int(y)),
                                                                   value=1)
                      for y in labels[:8]])
    assert img.dtype == zeroin.float32 and tuple(img.shape) == (1, 28, 28)
    np.testing.assert_array_equal(_np(target), _np(tY[3]))
    np.testing.assert_array_equal(_np(X), _np(tX))
    np.testing.assert_array_equal(_np(Y), _np(tY))


# --- Learn the Basics: build the model, autograd, save and load -------------------------------

def test_build_model_page_softmax_layers_and_named_parameters(f32):
    torch.manual_seed(2)
    tmodel = _neural_network(torch)()
    zmodel = _copy(tmodel, _neural_network(zeroin)())
    X = np.random.default_rng(5).random((1, 28, 28), dtype=np.float32)
    out = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        nn = lib.nn
        logits = model(lib.from_numpy(X))
        pred_probab = nn.Softmax(dim=1)(logits)
        y_pred = pred_probab.argmax(1)
        input_image = lib.from_numpy(np.stack([X[0]] * 3))
        flat_image = nn.Flatten()(input_image)
        layer1 = nn.Linear(in_features=28 * 28, out_features=20)
        with lib.no_grad():
            layer1.weight.copy_(model.linear_relu_stack[0].weight[:20])
            layer1.bias.copy_(model.linear_relu_stack[0].bias[:20])
        hidden1 = nn.ReLU()(layer1(flat_image))
        seq_modules = nn.Sequential(nn.Flatten(), layer1, nn.ReLU(), model.linear_relu_stack[4])
        seq_modules[3] = nn.Linear(20, 10)
        named = [(name, tuple(param.size()), _np(param[:2]))
                 for name, param in model.named_parameters()]
        out[lib] = (_np(pred_probab), int(y_pred), tuple(flat_image.size()), _np(hidden1),
                    named, str(model), str(seq_modules), tuple(seq_modules(input_image).shape))
    z, t = out[zeroin], out[torch]
    np.testing.assert_allclose(z[0], t[0], **F32)
    np.testing.assert_allclose(z[3], t[3], **F32)
    assert z[1] == t[1] and z[2] == t[2] == (3, 784) and z[5:] == t[5:]
    assert [(n, s) for n, s, _ in z[4]] == [(n, s) for n, s, _ in t[4]]
    for (_, _, zv), (_, _, tv) in zip(z[4], t[4]):
        np.testing.assert_array_equal(zv, tv)


def test_autograd_page_grad_fn_no_grad_detach_and_jacobian_products():
    rng = np.random.default_rng(6)
    w0, b0 = rng.standard_normal((5, 3)), rng.standard_normal(3)
    out = {}
    for lib in LIBS:
        x = lib.ones(5, dtype=lib.float64)
        y = lib.zeros(3, dtype=lib.float64)
        w = lib.tensor(w0, requires_grad=True)
        b = lib.tensor(b0, requires_grad=True)
        z = lib.matmul(x, w) + b
        loss = lib.nn.functional.binary_cross_entropy_with_logits(z, y)
        assert z.grad_fn is not None and loss.grad_fn is not None
        assert loss.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
        loss.backward()
        z = lib.matmul(x, w) + b
        assert z.requires_grad
        with lib.no_grad():
            z = lib.matmul(x, w) + b
        assert not z.requires_grad
        z = lib.matmul(x, w) + b
        z_det = z.detach()
        assert not z_det.requires_grad
        inp = lib.eye(4, 5, dtype=lib.float64, requires_grad=True)
        out_ = (inp + 1).pow(2).t()
        out_.backward(lib.ones_like(out_), retain_graph=True)
        first = _np(inp.grad).copy()
        out_.backward(lib.ones_like(out_), retain_graph=True)
        second = _np(inp.grad).copy()
        inp.grad.zero_()
        out_.backward(lib.ones_like(out_), retain_graph=True)
        out[lib] = [_np(w.grad), _np(b.grad), first, second, _np(inp.grad)]
    for zv, tv in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(zv, tv, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(out[zeroin][3], 2 * out[zeroin][2])    # accumulated


def test_save_load_page_whole_model_is_refused_with_the_state_dict_way(f32, tmp_path):
    """torch.save(model, 'model.pth') pickles the class; zeroin refuses it and says what to do
    (the page's state_dict way runs unchanged, test_quickstart_train_test_save_load)."""
    from zeroin.vision import models
    with pytest.raises(NotImplementedError, match=r"(?s)vgg16\(weights='IMAGENET1K_V1'\).*"
                                                  r"safetensors"):
        models.vgg16(weights='IMAGENET1K_V1')
    # the page's state_dict round trip; resnet18 stands in for vgg16, whose 138M parameters
    # take seconds to make (tests/test_vision.py builds one)
    model = models.resnet18()
    zeroin.save(model.state_dict(), str(tmp_path / "model_weights.pth"))
    model2 = models.resnet18()
    keys = model2.load_state_dict(zeroin.load(str(tmp_path / "model_weights.pth"),
                                              weights_only=True))
    assert repr(keys) == repr(torch.nn.Linear(1, 1).load_state_dict(
        torch.nn.Linear(1, 1).state_dict())) == "<All keys matched successfully>"
    model.eval()
    model2.eval()
    x = zeroin.rand(1, 3, 32, 32)
    np.testing.assert_array_equal(_np(model2(x)), _np(model(x)))
    model = _neural_network(zeroin)()
    with pytest.raises(zeroin.checkpoint.CheckpointError,
                       match=r"NeuralNetwork.*no pickle.*zeroin.save\(model.state_dict\(\), "
                             r"path\).*model.load_state_dict\(zeroin.load\(path\)\)"):
        zeroin.save(model, str(tmp_path / "model.pth"))
    # a file torch.save wrote is refused with the line that converts it
    torch.save(torch.nn.Linear(2, 1).state_dict(), str(tmp_path / "t.pth"))
    with pytest.raises(zeroin.checkpoint.CheckpointError,
                       match=r"(?s)PyTorch \(pickle\).*np\.savez"):
        zeroin.load(str(tmp_path / "t.pth"), weights_only=True)


# --- What is torch.nn really? -----------------------------------------------------------------

def _mnist(n=192, seed=7):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n),
            rng.random((n // 2, 784), dtype=np.float32), rng.integers(0, 10, n // 2))


def _from_scratch(torch, arrays, w0):
    """MNIST from scratch: hand-made log_softmax, nll, accuracy and the manual update."""
    x_train, y_train, x_valid, y_valid = map(torch.tensor, arrays)
    n, c = x_train.shape
    weights = torch.tensor(w0) / math.sqrt(784)
    weights.requires_grad_()
    bias = torch.zeros(10, requires_grad=True)

    def log_softmax(x):
        return x - x.exp().sum(-1).log().unsqueeze(-1)

    def model(xb):
        return log_softmax(xb @ weights + bias)

    def nll(input, target):
        return -input[range(target.shape[0]), target].mean()

    def accuracy(out, yb):
        preds = torch.argmax(out, dim=1)
        return (preds == yb).float().mean()
    bs, lr, epochs, loss_func = 64, 0.5, 2, nll
    xb, yb = x_train[0:bs], y_train[0:bs]
    first = [loss_func(model(xb), yb).item(), accuracy(model(xb), yb).item()]
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            pred = model(xb)
            loss = loss_func(pred, yb)
            loss.backward()
            with torch.no_grad():
                weights -= weights.grad * lr
                bias -= bias.grad * lr
                weights.grad.zero_()
                bias.grad.zero_()
    ce = torch.nn.functional.cross_entropy(xb @ weights + bias, yb)
    return first + [loss_func(model(xb), yb).item(), accuracy(model(xb), yb).item(),
                    ce.item()], _np(weights), _np(bias)


def test_nn_really_from_scratch(f32):
    arrays = _mnist()
    w0 = np.random.default_rng(8).standard_normal((784, 10)).astype(np.float32)
    z, t = _from_scratch(zeroin, arrays, w0), _from_scratch(torch, arrays, w0)
    for zv, tv in zip(z, t):
        np.testing.assert_allclose(zv, tv, rtol=1e-5, atol=1e-5)
    assert z[0][1] == t[0][1] and z[0][3] == t[0][3]          # the accuracies: counts / 64
    np.testing.assert_allclose(z[0][2], z[0][4], rtol=1e-5)    # nll(log_softmax) == F.cross_entropy


def _refactors(torch, arrays, w0):
    """nn.Module with nn.Parameter, then nn.Linear and optim: the manual fit and opt.step()."""
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim
    x_train, y_train, _, _ = map(torch.tensor, arrays)
    n, bs, lr, epochs = len(x_train), 64, 0.5, 1

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(torch.tensor(w0) / math.sqrt(784))
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    class Mnist_Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(784, 10)
            with torch.no_grad():
                self.lin.weight.copy_(torch.tensor(w0).T / math.sqrt(784))
                self.lin.bias.zero_()

        def forward(self, xb):
            return self.lin(xb)
    losses = []
    for Model, use_optim in ((Mnist_Logistic, False), (Mnist_Linear, False),
                             (Mnist_Linear, True)):
        model = Model()
        opt = optim.SGD(model.parameters(), lr=lr)
        for epoch in range(epochs):
            for i in range((n - 1) // bs + 1):
                xb, yb = x_train[i * bs: i * bs + bs], y_train[i * bs: i * bs + bs]
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                if use_optim:
                    opt.step()
                    opt.zero_grad()
                else:
                    with torch.no_grad():
                        for p in model.parameters():
                            p -= p.grad * lr
                        model.zero_grad()
        losses.append(F.cross_entropy(model(x_train[:bs]), y_train[:bs]).item())
    return losses


def test_nn_really_module_parameter_linear_and_optim_refactors(f32):
    arrays = _mnist()
    w0 = np.random.default_rng(9).standard_normal((784, 10)).astype(np.float32)
    z, t = _refactors(zeroin, arrays, w0), _refactors(torch, arrays, w0)
    np.testing.assert_allclose(z, t, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(z, [t[0]] * 3, rtol=1e-5)       # the three are the same model


def _cnn_models(torch):
    nn, F = torch.nn, torch.nn.functional

    class Mnist_CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1)
            self.conv3 = nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1)

        def forward(self, xb):
            xb = xb.view(-1, 1, 28, 28)
            xb = F.relu(self.conv1(xb))
            xb = F.relu(self.conv2(xb))
            xb = F.relu(self.conv3(xb))
            xb = F.avg_pool2d(xb, 4)
            return xb.view(-1, xb.size(1))

    class Lambda(nn.Module):
        def __init__(self, func):
            super().__init__()
            self.func = func

        def forward(self, x):
            return self.func(x)

    def convs():
        return [nn.Conv2d(1, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 16, kernel_size=3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(16, 10, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    seq = nn.Sequential(Lambda(lambda x: x.view(-1, 1, 28, 28)), *convs(), nn.AvgPool2d(4),
                        Lambda(lambda x: x.view(x.size(0), -1)))
    adaptive = nn.Sequential(*convs(), nn.AdaptiveAvgPool2d(1),
                             Lambda(lambda x: x.view(x.size(0), -1)))
    return Mnist_CNN(), seq, adaptive


def _fit_with_loaders(torch, arrays, tmodels):
    """TensorDataset, DataLoader, get_data, loss_batch, fit, WrappedDataLoader, torch.device."""
    TensorDataset, DataLoader = torch.utils.data.TensorDataset, torch.utils.data.DataLoader
    F, optim = torch.nn.functional, torch.optim
    x_train, y_train, x_valid, y_valid = map(torch.tensor, arrays)
    train_ds, valid_ds = TensorDataset(x_train, y_train), TensorDataset(x_valid, y_valid)
    bs, loss_func = 64, F.cross_entropy
    dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    history = []

    def get_data(train_ds, valid_ds, bs):
        return (DataLoader(train_ds, batch_size=bs, shuffle=False),
                DataLoader(valid_ds, batch_size=bs * 2))

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)
            model.eval()
            with torch.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb)
                                     for xb, yb in valid_dl])
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            history.append(val_loss)

    class WrappedDataLoader:
        def __init__(self, dl, func):
            self.dl = dl
            self.func = func

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for b in self.dl:
                yield (self.func(*b))

    def preprocess(x, y):
        return x.view(-1, 1, 28, 28).to(dev), y.to(dev)
    models = _cnn_models(torch)
    for i, (model, tmodel) in enumerate(zip(models, tmodels)):
        _copy(tmodel, model) if torch is zeroin else model.load_state_dict(tmodel.state_dict())
        train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
        if i == 2:
            train_dl = WrappedDataLoader(train_dl, preprocess)
            valid_dl = WrappedDataLoader(valid_dl, preprocess)
            model.to(dev)
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        fit(1, model, loss_func, opt, train_dl, valid_dl)
    return history, str(dev), [len(valid_dl), len(valid_dl.dl.dataset)]


def test_nn_really_cnn_sequential_lambda_adaptive_pool_wrapped_loader(f32):
    arrays = _mnist()
    torch.manual_seed(3)
    tmodels = _cnn_models(torch)
    z = _fit_with_loaders(zeroin, arrays, tmodels)
    t = _fit_with_loaders(torch, arrays, tmodels)
    np.testing.assert_allclose(z[0], t[0], rtol=1e-5, atol=1e-5)
    assert z[1:] == t[1:] == ("cpu", [1, 96])


# --- 60 Minute Blitz: neural networks ---------------------------------------------------------

def _lenet(torch):
    nn, F = torch.nn, torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, input):
            c1 = F.relu(self.conv1(input))
            s2 = F.max_pool2d(c1, (2, 2))
            c3 = F.relu(self.conv2(s2))
            s4 = F.max_pool2d(c3, 2)
            s4 = torch.flatten(s4, 1)
            f5 = F.relu(self.fc1(s4))
            f6 = F.relu(self.fc2(f5))
            output = self.fc3(f6)
            return output
    return Net()


def _blitz_nn(torch, tnet, arrays):
    net = _lenet(torch)
    _copy(tnet, net) if torch is zeroin else net.load_state_dict(tnet.state_dict())
    params = list(net.parameters())
    info = [str(net), len(params), tuple(params[0].size())]
    input, grad_out, target = map(torch.from_numpy, arrays)
    out = net(input)
    net.zero_grad()
    out.backward(grad_out)
    grads = [_np(p.grad) for p in net.parameters()]
    output = net(input)
    target = target.view(1, -1)
    criterion = torch.nn.MSELoss()
    loss = criterion(output, target)
    info += [loss.grad_fn.name(), loss.grad_fn.next_functions[0][0].name()]
    net.zero_grad()
    info.append(net.conv1.bias.grad)
    loss.backward()
    bias_grad = _np(net.conv1.bias.grad)
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    return info, [_np(out), *grads, bias_grad, loss.item(), *(_np(p) for p in net.parameters())]


def test_blitz_neural_networks_lenet(f32):
    rng = np.random.default_rng(10)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in ((1, 1, 32, 32), (1, 10), (10,))]
    torch.manual_seed(4)
    tnet = _lenet(torch)
    (zi, zv), (ti, tv) = _blitz_nn(zeroin, tnet, arrays), _blitz_nn(torch, tnet, arrays)
    assert zi == ti
    assert zi[1:] == [10, (6, 1, 5, 5), "MseLossBackward0", "AddmmBackward0", None]
    for z, t in zip(zv, tv):
        np.testing.assert_allclose(z, t, rtol=1e-5, atol=1e-6)


# --- 60 Minute Blitz: autograd ----------------------------------------------------------------

def test_blitz_autograd_external_grad_and_requires_grad():
    for lib in LIBS:
        a = lib.tensor([2., 3.], requires_grad=True)
        b = lib.tensor([6., 4.], requires_grad=True)
        Q = 3*a**3 - b**2
        external_grad = lib.tensor([1., 1.])
        Q.backward(gradient=external_grad)
        assert (9*a**2 == a.grad).tolist() == [True, True]
        assert (-2*b == b.grad).tolist() == [True, True]
        x = lib.rand(5, 5)
        y = lib.rand(5, 5)
        z = lib.rand((5, 5), requires_grad=True)
        assert not (x + y).requires_grad and (x + z).requires_grad
    # Q.backward() without the gradient: PyTorch's "grad can be implicitly created only for
    # scalar outputs"; zeroin's says the shape and both fixes
    with pytest.raises(RuntimeError, match=r"backward: output has shape \(2,\).*loss\.sum\(\).*"
                                           r"gradient="):
        zeroin.tensor([2., 3.], requires_grad=True).mul(2).backward()


def _torch_resnet18():
    """torchvision.models.resnet18(), written out (torchvision is not installed): its layers,
    names and forward."""
    nn = torch.nn

    def conv(i, o, k, s):
        return nn.Conv2d(i, o, kernel_size=k, stride=s, padding=k // 2, bias=False)

    class BasicBlock(nn.Module):
        def __init__(self, i, o, s):
            super().__init__()
            self.conv1, self.bn1 = conv(i, o, 3, s), nn.BatchNorm2d(o)
            self.relu = nn.ReLU(inplace=True)
            self.conv2, self.bn2 = conv(o, o, 3, 1), nn.BatchNorm2d(o)
            self.downsample = (nn.Sequential(conv(i, o, 1, s), nn.BatchNorm2d(o))
                               if s != 1 or i != o else None)

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = conv(3, 64, 7, 2), nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            for k, (i, o, s) in enumerate([(64, 64, 1), (64, 128, 2), (128, 256, 2),
                                           (256, 512, 2)]):
                setattr(self, f"layer{k + 1}",
                        nn.Sequential(BasicBlock(i, o, s), BasicBlock(o, o, 1)))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))
    return ResNet()


def _blitz_resnet(torch, model, arrays):
    """The blitz autograd page: one training step of resnet18, then frozen and a new head."""
    nn, optim = torch.nn, torch.optim
    data, labels = map(torch.from_numpy, arrays)
    prediction = model(data)
    loss = (prediction - labels).sum()
    loss.backward()
    optim_ = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    optim_.step()
    optim_.zero_grad()
    stepped = [_np(prediction), loss.item(), _np(model.conv1.weight), _np(model.fc.bias),
               _np(model.layer1[0].bn1.running_mean)]
    for param in model.parameters():
        param.requires_grad = False
    model.fc = nn.Linear(512, 10)
    with torch.no_grad():
        model.fc.weight.copy_(torch.from_numpy(arrays[0].reshape(-1)[:5120].reshape(10, 512)))
        model.fc.bias.zero_()
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    prediction = model(data)
    (prediction - labels[:, :10]).sum().backward()
    frozen = [p.grad is None for p in model.parameters()]
    optimizer.step()
    names = [n for n, _ in model.named_parameters()]
    return stepped + [_np(prediction), _np(model.fc.weight)], frozen, names


@pytest.fixture
def torch64():
    """torch with float64 as its default (zeroin's), for a deep float64 comparison."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def test_blitz_autograd_resnet18_step_frozen_parameters_and_new_head(torch64):
    """In float64: batch norm over a 2 x 2 map (layer4, batch 1) makes float32 gradients
    differ by 1e-4 between any two implementations."""
    from zeroin.vision.models import resnet18
    torch.manual_seed(5)
    tmodel = _torch_resnet18()
    zmodel = resnet18()
    assert str(zmodel) == str(tmodel)
    assert [(k, tuple(v.shape)) for k, v in zmodel.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tmodel.state_dict().items()]
    _copy(tmodel, zmodel)
    rng = np.random.default_rng(11)
    arrays = [rng.random((1, 3, 64, 64)), rng.random((1, 1000))]
    (zv, zf, zn), (tv, tf, tn) = _blitz_resnet(zeroin, zmodel, arrays), \
        _blitz_resnet(torch, tmodel, arrays)
    for z, t in zip(zv, tv):
        np.testing.assert_allclose(z, t, rtol=1e-10, atol=1e-10)
    assert zf == tf and zn == tn and sum(not f for f in zf) == 2     # only the new head
