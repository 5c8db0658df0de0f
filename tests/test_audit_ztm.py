"""Audit against "Zero to Mastery: Learn PyTorch for Deep Learning" (Daniel Bourke,
learnpytorch.io), notebooks 00-04: each notebook's main code as a learner ports it
(``import zeroin as torch``, ``from zeroin import nn``, ``zeroin.vision`` for torchvision), run
with ``torch`` and with ``zeroin`` on the same data and the same weights (copied from torch),
compared to float resolution in float32 (the course's dtype; zeroin's default is float64, so
those tests set zeroin's default to float32) and to 1e-10 in float64. The data are made here:
circles and blobs like sklearn's, a FashionMNIST-like set of IDX files, an ImageFolder tree of
JPEGs written with Pillow. torchvision is not installed: its pipelines are written out by
hand on the torch side. See docs/ztm.md."""
import os
import pathlib
import random
from timeit import default_timer as timer

import numpy as np
import pytest

import zeroin
from _audit import np_of as _np, close as _close, copy_weights as _copy
from _audit import torch_defaults_back  # noqa: F401  (autouse: torch's defaults back)

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)


F32 = dict(rtol=2e-6, atol=2e-6)


# --- 00 fundamentals --------------------------------------------------------------------------

def test_00_creation_dtypes_and_the_float_default():
    for lib in LIBS:
        assert _np(lib.arange(0, 10, 2)).tolist() == [0, 2, 4, 6, 8]
        assert lib.arange(1, 11).dtype == lib.int64
        assert _np(lib.zeros_like(input=lib.arange(1, 11))).tolist() == [0] * 10
        random_image_size_tensor = lib.rand(size=(224, 224, 3))
        assert tuple(random_image_size_tensor.shape) == (224, 224, 3)
        assert random_image_size_tensor.ndim == 3
        float_32_tensor = lib.tensor([3.0, 6.0, 9.0], dtype=None, device=None,
                                     requires_grad=False)
        float_16_tensor = float_32_tensor.type(lib.float16)
        assert float_16_tensor.dtype == lib.half and str(float_32_tensor.device) == "cpu"
        assert (float_16_tensor * lib.tensor([3, 6, 9], dtype=lib.int32)).dtype == lib.float16
        assert lib.tensor([3.0], dtype=lib.float32).dtype == lib.float == lib.float32
    # the one difference the notebook shows: a float tensor is float64 by default in zeroin
    assert torch.rand(3, 4).dtype == torch.float32 and zeroin.rand(3, 4).dtype == zeroin.float64
    assert zeroin.tensor([3.0, 6.0]).dtype == zeroin.float64


def test_00_matmul_rules_and_the_shape_error_the_notebook_shows():
    a = [[1, 2], [3, 4], [5, 6]]
    b = [[7, 10], [8, 11], [9, 12]]
    out = {}
    for lib in LIBS:
        tensor_A = lib.tensor(a, dtype=lib.float32)
        tensor_B = lib.tensor(b, dtype=lib.float32)
        out[lib] = lib.matmul(tensor_A, tensor_B.T), lib.mm(tensor_A, tensor_B.T), \
            tensor_A @ tensor_B.T
        assert tuple((lib.rand(3, 2) @ lib.rand(2, 3)).shape) == (3, 3)
        assert tuple((lib.rand(2, 3) @ lib.rand(3, 2)).shape) == (2, 2)
    for z, t in zip(out[zeroin], out[torch]):
        _close(z, t, 0)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                           r"\(3x2 and 3x2\)"):
        torch.mm(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))
    for fn in (zeroin.mm, zeroin.matmul):
        with pytest.raises(zeroin.errors.ShapeError,
                           match=r"\(3, 2\) and \(3, 2\).*2 and 3 differ.*transposed fits"):
            fn(zeroin.tensor(a, dtype=zeroin.float32), zeroin.tensor(b, dtype=zeroin.float32))


def test_00_linear_layer_on_tensor_A_as_the_notebook(f32):
    tlin = torch.manual_seed(42) and torch.nn.Linear(in_features=2, out_features=6)
    zlin = _copy(tlin, zeroin.nn.Linear(in_features=2, out_features=6))
    x = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    np.testing.assert_allclose(_np(zlin(zeroin.tensor(x))), _np(tlin(torch.tensor(x))), **F32)
    with pytest.raises(zeroin.errors.ShapeError, match=r"in_features=2.*Linear\(3, 6\)"):
        zlin(zeroin.rand(3, 3))


def test_00_aggregation_and_positional_min_max():
    for lib in LIBS:
        x = lib.arange(0, 100, 10)
        assert (x.min().item(), lib.max(x).item(), x.sum().item()) == (0, 90, 450)
        assert lib.mean(x.type(lib.float32)).item() == 45.0
        assert (x.argmax().item(), lib.argmin(x).item()) == (9, 0)
        assert x.type(lib.float16).dtype == lib.float16
        with pytest.raises(RuntimeError if lib is torch else zeroin.errors.DtypeError):
            x.mean()                            # an int64 tensor has no mean: .float() first
    with pytest.raises(zeroin.errors.DtypeError, match=r"mean:.*int64.*x\.float\(\)\.mean\(\)"):
        zeroin.arange(0, 100, 10).mean()


def test_00_reshape_view_stack_squeeze_unsqueeze_permute_and_indexing():
    res = {}
    for lib in LIBS:
        x = lib.arange(1.0, 8.0)
        x_reshaped = x.reshape(1, 7)
        z = x.view(1, 7)
        z[:, 0] = 5                             # a view: x changes too
        x_stacked = lib.stack([x, x, x, x], dim=0)
        x_squeezed = x_reshaped.squeeze()
        x_unsqueezed = x_squeezed.unsqueeze(dim=0)
        x_original = lib.tensor(np.random.default_rng(0).random((224, 224, 3)))
        x_permuted = x_original.permute(2, 0, 1)
        x_original[0, 0, 0] = 728218            # permute is a view as well
        y = lib.arange(1, 10).reshape(1, 3, 3)
        idx = [y[0], y[0][0], y[0][0][0], y[:, 0], y[:, :, 1], y[:, 1, 1], y[0, 0, :],
               y[:, :, 2], y[0, 2, 2], y[:, 2, 2]]
        res[lib] = [x, x_reshaped, x_stacked, x_squeezed, x_unsqueezed, x_permuted,
                    lib.stack([x, x], dim=1), lib.hstack([x, x]), lib.vstack([x, x])] + idx
        assert x[0].item() == 5 and x_permuted[0, 0, 0].item() == 728218
        assert tuple(x_permuted.shape) == (3, 224, 224)
    for z, t in zip(res[zeroin], res[torch]):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, 0)


def test_00_numpy_interop_keeps_float64_one_way_and_float32_the_other():
    for lib in LIBS:
        array = np.arange(1.0, 8.0)
        tensor = lib.from_numpy(array)
        assert tensor.dtype == lib.float64
        array = array + 1                       # a new array: the tensor keeps its values
        assert _np(tensor).tolist() == [1.0, 2, 3, 4, 5, 6, 7]
        ones = lib.ones(7)
        numpy_tensor = ones.numpy()
        ones = ones + 1
        assert numpy_tensor.tolist() == [1.0] * 7
        assert lib.from_numpy(array).type(lib.float32).dtype == lib.float32
    assert torch.ones(7).numpy().dtype == np.float32 and zeroin.ones(7).numpy().dtype == np.float64


def test_00_reproducibility_with_manual_seed():
    for lib in LIBS:
        random_tensor_A, random_tensor_B = lib.rand(3, 4), lib.rand(3, 4)
        assert not bool((random_tensor_A == random_tensor_B).all())
        RANDOM_SEED = 42
        lib.manual_seed(seed=RANDOM_SEED)
        random_tensor_C = lib.rand(3, 4)
        lib.random.manual_seed(seed=RANDOM_SEED)
        random_tensor_D = lib.rand(3, 4)
        assert bool((random_tensor_C == random_tensor_D).all())
    # the same seed, not the same numbers: zeroin draws from NumPy's generator
    torch.manual_seed(42)
    zeroin.manual_seed(42)
    assert not np.allclose(torch.rand(3).numpy(), zeroin.rand(3).numpy())


def test_00_device_agnostic_code_runs_on_the_cpu():
    for lib in LIBS:
        device = "cuda" if lib.cuda.is_available() else "cpu"
        if lib is zeroin:
            assert device == "cpu" and lib.cuda.device_count() == 0
        tensor = lib.tensor([1, 2, 3])
        tensor_on_gpu = tensor.to(device)
        assert str(tensor_on_gpu.device) == device
        tensor_back_on_cpu = tensor_on_gpu.cpu().numpy()
        assert tensor_back_on_cpu.tolist() == [1, 2, 3]
    with pytest.raises(Exception, match="(?i)cuda"):
        zeroin.tensor([1.0]).to("cuda")


# --- 01 workflow ------------------------------------------------------------------------------

def _linear_regression_model(lib):
    class LinearRegressionModel(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = lib.nn.Parameter(lib.randn(1, requires_grad=True, dtype=lib.float))
            self.bias = lib.nn.Parameter(lib.randn(1, requires_grad=True, dtype=lib.float))

        def forward(self, x):
            return self.weights * x + self.bias
    return LinearRegressionModel


def _linear_regression_model_v2(lib):
    class LinearRegressionModelV2(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear_layer = lib.nn.Linear(in_features=1, out_features=1)

        def forward(self, x):
            return self.linear_layer(x)
    return LinearRegressionModelV2


def _workflow_data(lib):
    weight, bias = 0.7, 0.3
    start, end, step = 0, 1, 0.02
    X = lib.arange(start, end, step).unsqueeze(dim=1)
    y = weight * X + bias
    train_split = int(0.8 * len(X))
    return X[:train_split], y[:train_split], X[train_split:], y[train_split:]


def _fit_01(lib, model, data, epochs):
    X_train, y_train, X_test, y_test = data
    loss_fn = lib.nn.L1Loss()
    optimizer = lib.optim.SGD(params=model.parameters(), lr=0.01)
    epoch_count, train_loss_values, test_loss_values = [], [], []
    for epoch in range(epochs):
        model.train()
        y_pred = model(X_train)
        loss = loss_fn(y_pred, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with lib.inference_mode():
            test_pred = model(X_test)
            test_loss = loss_fn(test_pred, y_test)
        assert not test_pred.requires_grad
        if epoch % 10 == 0:
            epoch_count.append(epoch)
            train_loss_values.append(loss.detach().numpy())
            test_loss_values.append(test_loss.detach().numpy())
    return epoch_count, train_loss_values, test_loss_values


def test_01_parameter_model_l1_sgd_loop_curves_and_state_dict_files(f32, tmp_path):
    torch.manual_seed(42)
    tmodel = _linear_regression_model(torch)()
    assert [round(v.item(), 4) for v in tmodel.state_dict().values()] == [0.3367, 0.1288]
    zmodel = _copy(tmodel, _linear_regression_model(zeroin)())
    assert list(zmodel.state_dict()) == ["weights", "bias"]
    assert zmodel.weights.dtype == zeroin.float32 and zmodel.weights.requires_grad
    tcurve = _fit_01(torch, tmodel, _workflow_data(torch), 100)
    zcurve = _fit_01(zeroin, zmodel, _workflow_data(zeroin), 100)
    assert zcurve[0] == tcurve[0] == list(range(0, 100, 10))
    for z, t in zip(zcurve[1:], tcurve[1:]):
        np.testing.assert_allclose(np.array(z), np.array(t), rtol=1e-5, atol=1e-6)
    curves = zeroin.tensor(zcurve[1]), torch.tensor(np.array(tcurve[1]))  # plt.plot's input
    assert curves[0].dtype == zeroin.float32 and curves[1].dtype == torch.float32
    np.testing.assert_allclose(_np(curves[0]), _np(curves[1]), rtol=1e-5)
    losses = [zeroin.tensor(0.5, dtype=zeroin.float32)] * 2       # torch.tensor(loss_values)
    assert zeroin.tensor(losses).dtype == zeroin.float32
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(_np(zmodel.state_dict()[k]), v.numpy(), rtol=1e-5)
    # saving and loading: torch.save(obj=..., f=...) with pathlib paths
    MODEL_PATH = pathlib.Path(tmp_path) / "models"
    MODEL_PATH.mkdir(parents=True, exist_ok=True)
    MODEL_SAVE_PATH = MODEL_PATH / "01_pytorch_workflow_model_0.pth"
    zeroin.save(obj=zmodel.state_dict(), f=MODEL_SAVE_PATH)
    loaded_model_0 = _linear_regression_model(zeroin)()
    loaded_model_0.load_state_dict(zeroin.load(f=MODEL_SAVE_PATH))
    loaded_model_0.eval()
    X_test = _workflow_data(zeroin)[2]
    with zeroin.inference_mode():
        assert bool((loaded_model_0(X_test) == zmodel(X_test)).all())
    torch_file = tmp_path / "from_torch.pth"
    torch.save(obj=tmodel.state_dict(), f=torch_file)
    with pytest.raises(Exception, match=r"torch\.save"):
        zeroin.load(f=torch_file)                 # a pickle: refused, with the way out


def test_01_linear_layer_version_float64_and_the_device_lines():
    torch.manual_seed(42)
    tmodel = _linear_regression_model_v2(torch)().double()
    zmodel = _copy(tmodel, _linear_regression_model_v2(zeroin)())
    assert list(zmodel.state_dict()) == ["linear_layer.weight", "linear_layer.bias"]
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        device = "cuda" if lib.cuda.is_available() else "cpu"
        model.to(device)
        assert str(next(model.parameters()).device) == "cpu"
    tdata = [t.double() for t in _workflow_data(torch)]
    zdata = [zeroin.tensor(t.numpy()) for t in tdata]
    tcurve = _fit_01(torch, tmodel, tdata, 300)
    zcurve = _fit_01(zeroin, zmodel, zdata, 300)
    np.testing.assert_allclose(np.array(zcurve[1]), np.array(tcurve[1]), rtol=1e-10)
    np.testing.assert_allclose(np.array(zcurve[2]), np.array(tcurve[2]), rtol=1e-10)
    _close(zmodel.linear_layer.weight, tmodel.linear_layer.weight)
    assert abs(zmodel.linear_layer.weight.item() - 0.7) < 0.1     # it learns


# --- 02 classification ------------------------------------------------------------------------

def _circles(n=400, noise=0.03, factor=0.8, seed=42):
    """sklearn's make_circles: two rings (outer label 0, inner 1), shuffled, with noise."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    lin_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    lin_in = np.linspace(0, 2 * np.pi, n - n_out, endpoint=False)
    X = np.vstack([np.c_[np.cos(lin_out), np.sin(lin_out)],
                   factor * np.c_[np.cos(lin_in), np.sin(lin_in)]])
    y = np.r_[np.zeros(n_out), np.ones(n - n_out)]
    perm = rng.permutation(n)
    return X[perm] + rng.normal(scale=noise, size=(n, 2)), y[perm]


def _blobs(n=400, centers=4, std=1.5, seed=42):
    """sklearn's make_blobs: ``centers`` Gaussian clusters drawn in the box [-10, 10]^2."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-10, 10, (centers, 2))
    y = rng.permutation(np.arange(n) % centers)
    return c[y] + rng.normal(scale=std, size=(n, 2)), y


def accuracy_fn(y_true, y_pred):
    correct = (torch if isinstance(y_true, torch.Tensor) else zeroin).eq(y_true, y_pred)
    return correct.sum().item() / len(y_pred) * 100


def _circle_models(lib, kind):
    nn = lib.nn

    class CircleModelV0(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_1 = nn.Linear(in_features=2, out_features=5)
            self.layer_2 = nn.Linear(in_features=5, out_features=1)

        def forward(self, x):
            return self.layer_2(self.layer_1(x))

    class CircleModelV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_1 = nn.Linear(in_features=2, out_features=10)
            self.layer_2 = nn.Linear(in_features=10, out_features=10)
            self.layer_3 = nn.Linear(in_features=10, out_features=1)
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.layer_3(self.relu(self.layer_2(self.relu(self.layer_1(x)))))
    if kind == "sequential":
        return nn.Sequential(nn.Linear(in_features=2, out_features=5),
                             nn.Linear(in_features=5, out_features=1))
    return {"V0": CircleModelV0, "V2": CircleModelV2}[kind]()


def _fit_02(lib, model, X_train, y_train, X_test, y_test, epochs, lr=0.1):
    loss_fn = lib.nn.BCEWithLogitsLoss()
    optimizer = lib.optim.SGD(params=model.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        model.train()
        y_logits = model(X_train).squeeze()
        y_pred = lib.round(lib.sigmoid(y_logits))
        loss = loss_fn(y_logits, y_train)
        acc = accuracy_fn(y_true=y_train, y_pred=y_pred)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with lib.inference_mode():
            test_logits = model(X_test).squeeze()
            test_pred = lib.round(lib.sigmoid(test_logits))
            test_loss = loss_fn(test_logits, y_test)
            test_acc = accuracy_fn(y_true=y_test, y_pred=test_pred)
        history.append((loss.item(), acc, test_loss.item(), test_acc))
    return history


def _split(lib, X, y, dtype):
    X, y = lib.from_numpy(X).type(dtype), lib.from_numpy(y).type(dtype)
    n = int(0.8 * len(X))
    return X[:n], y[:n], X[n:], y[n:]


@pytest.mark.parametrize("kind", ["V0", "sequential"])
def test_02_circle_model_v0_bce_with_logits_float32(f32, kind):
    X, y = _circles()
    torch.manual_seed(42)
    tmodel = _circle_models(torch, kind)
    zmodel = _copy(tmodel, _circle_models(zeroin, kind))
    th = _fit_02(torch, tmodel, *_split(torch, X, y, torch.float), 100)
    zh = _fit_02(zeroin, zmodel, *_split(zeroin, X, y, zeroin.float), 100)
    np.testing.assert_allclose(np.array(zh), np.array(th), rtol=1e-5, atol=1e-6)
    X_train, y_train = _split(zeroin, X, y, zeroin.float)[:2]
    with pytest.raises(zeroin.errors.ShapeError, match=r"\(320, 1\).*\(320,\)"):
        zeroin.nn.BCEWithLogitsLoss()(zmodel(X_train), y_train)    # the squeeze forgotten


def test_02_circle_model_v2_relu_float64():
    X, y = _circles()
    torch.manual_seed(42)
    tmodel = _circle_models(torch, "V2").double()
    zmodel = _copy(tmodel, _circle_models(zeroin, "V2"))
    th = _fit_02(torch, tmodel, *_split(torch, X, y, torch.double), 1000)
    zh = _fit_02(zeroin, zmodel, *_split(zeroin, X, y, zeroin.double), 1000)
    np.testing.assert_allclose(np.array(zh), np.array(th), rtol=1e-10, atol=1e-10)
    assert zh[-1][1] > 80 > 60 > zh[0][1]       # the non-linear model learns the rings
    with zeroin.inference_mode():
        logits = zmodel(_split(zeroin, X, y, zeroin.double)[2]).squeeze()
    assert _np(zeroin.round(zeroin.sigmoid(logits))).tolist() == _np(logits > 0).tolist()


def _blob_model(lib, input_features=2, output_features=4, hidden_units=8):
    nn = lib.nn

    class BlobModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear_layer_stack = nn.Sequential(
                nn.Linear(in_features=input_features, out_features=hidden_units), nn.ReLU(),
                nn.Linear(in_features=hidden_units, out_features=hidden_units), nn.ReLU(),
                nn.Linear(in_features=hidden_units, out_features=output_features))

        def forward(self, x):
            return self.linear_layer_stack(x)
    return BlobModel()


def _fit_blobs(lib, model, X, y, epochs, double=False):
    n = int(0.8 * len(X))
    X_blob = lib.from_numpy(X).type(lib.double if double else lib.float)
    y_blob = lib.from_numpy(y).type(lib.LongTensor)
    X_train, y_train, X_test, y_test = X_blob[:n], y_blob[:n], X_blob[n:], y_blob[n:]
    loss_fn = lib.nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
    history = []
    for epoch in range(epochs):
        model.train()
        y_logits = model(X_train)
        y_pred = lib.softmax(y_logits, dim=1).argmax(dim=1)
        loss = loss_fn(y_logits, y_train)
        acc = accuracy_fn(y_true=y_train, y_pred=y_pred)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with lib.inference_mode():
            test_logits = model(X_test)
            test_pred = lib.softmax(test_logits, dim=1).argmax(dim=1)
            history.append((loss.item(), acc, loss_fn(test_logits, y_test).item(),
                            accuracy_fn(y_true=y_test, y_pred=test_pred)))
    return history, test_pred


@pytest.mark.parametrize("double", [False, True])
def test_02_multiclass_blobs_cross_entropy_softmax_argmax(f32, double):
    X, y = _blobs()
    torch.manual_seed(42)
    tmodel = _blob_model(torch).to(torch.float64 if double else torch.float32)
    zmodel = _copy(tmodel, _blob_model(zeroin).to(zeroin.float64 if double else zeroin.float32))
    th, tpred = _fit_blobs(torch, tmodel, X, y, 100, double)
    zh, zpred = _fit_blobs(zeroin, zmodel, X, y, 100, double)
    # in float32 the run bounces near epoch 40 and magnifies rounding (1e-4 there, the same
    # in torch against its own float64 run): float resolution for the first 30 epochs
    if double:
        np.testing.assert_allclose(np.array(zh), np.array(th), rtol=1e-9, atol=1e-9)
    else:
        np.testing.assert_allclose(np.array(zh[:30]), np.array(th[:30]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(np.array(zh), np.array(th), rtol=1e-3, atol=1e-3)
    assert _np(zpred).tolist() == _np(tpred).tolist() and zpred.dtype == zeroin.int64
    assert zh[-1][3] > 90                       # the blobs are separable


# --- 03 computer vision -----------------------------------------------------------------------

CLASS_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def _fashion_files(root, n_train=96, n_test=32):
    """FashionMNIST-like IDX files in torchvision's layout: each class a bright shape."""
    from zeroin.data.mnist import write_idx
    rng = np.random.default_rng(3)
    raw = pathlib.Path(root) / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 8, 4:24] += 150
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
        out[split] = images, labels
    return out


def _fashion_models(lib, kind, input_shape=784, hidden_units=10, output_shape=10):
    nn = lib.nn

    class FashionMNISTModelV0(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_stack = nn.Sequential(
                nn.Flatten(), nn.Linear(in_features=input_shape, out_features=hidden_units),
                nn.Linear(in_features=hidden_units, out_features=output_shape))

        def forward(self, x):
            return self.layer_stack(x)

    class FashionMNISTModelV1(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_stack = nn.Sequential(
                nn.Flatten(), nn.Linear(in_features=input_shape, out_features=hidden_units),
                nn.ReLU(), nn.Linear(in_features=hidden_units, out_features=output_shape),
                nn.ReLU())

        def forward(self, x):
            return self.layer_stack(x)

    class FashionMNISTModelV2(nn.Module):
        """TinyVGG, the course's CNN."""
        def __init__(self, input_shape=1):
            super().__init__()
            self.block_1 = nn.Sequential(
                nn.Conv2d(in_channels=input_shape, out_channels=hidden_units, kernel_size=3,
                          stride=1, padding=1), nn.ReLU(),
                nn.Conv2d(in_channels=hidden_units, out_channels=hidden_units, kernel_size=3,
                          stride=1, padding=1), nn.ReLU(),
                nn.MaxPool2d(kernel_size=2, stride=2))
            self.block_2 = nn.Sequential(
                nn.Conv2d(hidden_units, hidden_units, 3, padding=1), nn.ReLU(),
                nn.Conv2d(hidden_units, hidden_units, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2))
            self.classifier = nn.Sequential(
                nn.Flatten(),
                nn.Linear(in_features=hidden_units * 7 * 7, out_features=output_shape))

        def forward(self, x):
            return self.classifier(self.block_2(self.block_1(x)))
    return {"V0": FashionMNISTModelV0, "V1": FashionMNISTModelV1,
            "V2": FashionMNISTModelV2}[kind]()


def train_step(lib, model, data_loader, loss_fn, optimizer, accuracy_fn, device):
    train_loss, train_acc = 0, 0
    model.to(device)
    for batch, (X, y) in enumerate(data_loader):
        X, y = X.to(device), y.to(device)
        y_pred = model(X)
        loss = loss_fn(y_pred, y)
        train_loss += loss
        train_acc += accuracy_fn(y_true=y, y_pred=y_pred.argmax(dim=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train_loss /= len(data_loader)
    train_acc /= len(data_loader)
    return f"Train loss: {train_loss:.5f} | Train accuracy: {train_acc:.2f}%", train_loss


def test_step(lib, data_loader, model, loss_fn, accuracy_fn, device):
    test_loss, test_acc = 0, 0
    model.to(device)
    model.eval()
    with lib.inference_mode():
        for X, y in data_loader:
            X, y = X.to(device), y.to(device)
            test_pred = model(X)
            test_loss += loss_fn(test_pred, y)
            test_acc += accuracy_fn(y_true=y, y_pred=test_pred.argmax(dim=1))
        test_loss /= len(data_loader)
        test_acc /= len(data_loader)
    return test_loss.item(), test_acc


test_step.__test__ = False                      # the course's name, not a pytest test


def eval_model(lib, model, data_loader, loss_fn, accuracy_fn):
    loss, acc = 0, 0
    model.eval()
    with lib.inference_mode():
        for X, y in data_loader:
            y_pred = model(X)
            loss += loss_fn(y_pred, y)
            acc += accuracy_fn(y_true=y, y_pred=y_pred.argmax(dim=1))
        loss /= len(data_loader)
        acc /= len(data_loader)
    return {"model_name": model.__class__.__name__, "model_loss": loss.item(),
            "model_acc": acc}


def print_train_time(start, end, device=None):
    total_time = end - start
    return f"Train time on {device}: {total_time:.3f} seconds", total_time


def make_predictions(lib, model, data, device="cpu"):
    pred_probs = []
    model.eval()
    with lib.inference_mode():
        for sample in data:
            sample = lib.unsqueeze(sample, dim=0).to(device)
            pred_logit = model(sample)
            pred_prob = lib.softmax(pred_logit.squeeze(), dim=0)
            pred_probs.append(pred_prob.cpu())
    return lib.stack(pred_probs)


def _loaders(tmp_path):
    """zeroin: FashionMNIST read by zeroin.vision with ToTensor; torch: the same pixels as
    torchvision's ToTensor makes them (float32 of the uint8, / 255) in a TensorDataset."""
    from zeroin.utils.data import DataLoader
    from zeroin.vision import datasets, transforms
    files = _fashion_files(tmp_path)
    train_data = datasets.FashionMNIST(root=tmp_path, train=True, download=True,
                                       transform=transforms.ToTensor(), target_transform=None)
    test_data = datasets.FashionMNIST(root=tmp_path, train=False, download=True,
                                      transform=transforms.ToTensor())
    tsets = [torch.utils.data.TensorDataset(
        torch.from_numpy(img).float().div(255).unsqueeze(1), torch.from_numpy(lab).long())
        for img, lab in (files["train"], files["t10k"])]
    z = [DataLoader(train_data, batch_size=32, shuffle=False),
         DataLoader(test_data, batch_size=32, shuffle=False)]
    t = [torch.utils.data.DataLoader(s, batch_size=32, shuffle=False) for s in tsets]
    return train_data, test_data, z, t


def test_03_fashion_mnist_dataset_and_dataloader(f32, tmp_path):
    from zeroin.utils.data import DataLoader
    train_data, test_data, (ztrain, _), (ttrain, _) = _loaders(tmp_path)
    image, label = train_data[0]
    assert tuple(image.shape) == (1, 28, 28) and image.dtype == zeroin.float32
    assert train_data.classes == CLASS_NAMES and train_data.class_to_idx["Ankle boot"] == 9
    assert len(train_data.data) == len(train_data.targets) == 96 and len(test_data) == 32
    assert isinstance(label, int) and CLASS_NAMES[label] == train_data.classes[label]
    assert (len(ztrain), len(ttrain)) == (3, 3)
    for (zX, zy), (tX, ty) in zip(ztrain, ttrain):
        np.testing.assert_array_equal(_np(zX), _np(tX))     # ToTensor as torchvision's
        assert _np(zy).tolist() == _np(ty).tolist()
    zeroin.manual_seed(42)
    shuffled = DataLoader(train_data, batch_size=32, shuffle=True)
    train_features_batch, train_labels_batch = next(iter(shuffled))
    assert tuple(train_features_batch.shape) == (32, 1, 28, 28)
    assert tuple(train_labels_batch.shape) == (32,)
    labels = np.concatenate([_np(y) for _, y in shuffled])
    assert sorted(labels.tolist()) == sorted(train_data.targets.tolist())
    assert labels.tolist() != train_data.targets.tolist()
    # plt.imshow(image.squeeze(), cmap="gray") wants (H, W)
    assert tuple(image.squeeze().shape) == (28, 28)


@pytest.mark.parametrize("kind", ["V0", "V1", "V2"])
def test_03_models_train_step_test_step_eval_model(f32, tmp_path, kind):
    train_data, test_data, (ztrain, ztest), (ttrain, ttest) = _loaders(tmp_path)
    torch.manual_seed(42)
    tmodel = _fashion_models(torch, kind)
    zmodel = _copy(tmodel, _fashion_models(zeroin, kind))
    res = {}
    train_time_start = timer()
    for lib, model, (train, test) in ((torch, tmodel, (ttrain, ttest)),
                                      (zeroin, zmodel, (ztrain, ztest))):
        device = "cuda" if lib.cuda.is_available() else "cpu"
        loss_fn = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.SGD(params=model.parameters(), lr=0.1)
        out = []
        for epoch in range(2):
            line, train_loss = train_step(lib, model, train, loss_fn, optimizer, accuracy_fn,
                                          device)
            out.append((train_loss.item(),) + test_step(lib, test, model, loss_fn,
                                                        accuracy_fn, device))
        res[lib] = out, eval_model(lib, model, test, loss_fn, accuracy_fn), line
    msg, total = print_train_time(train_time_start, timer(), device="cpu")
    assert msg.startswith("Train time on cpu: ") and total > 0
    np.testing.assert_allclose(np.array(res[zeroin][0]), np.array(res[torch][0]), rtol=1e-4)
    zres, tres = res[zeroin][1], res[torch][1]
    assert zres["model_name"] == tres["model_name"] == f"FashionMNISTModel{kind}"
    assert zres["model_acc"] == tres["model_acc"]
    np.testing.assert_allclose(zres["model_loss"], tres["model_loss"], rtol=1e-4)
    assert res[zeroin][2].startswith("Train loss: ") and res[zeroin][2].endswith("%")
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(_np(zmodel.state_dict()[k]), v.numpy(), rtol=1e-3,
                                   atol=1e-5)


def test_03_predictions_and_a_confusion_matrix_by_hand(f32, tmp_path):
    train_data, test_data, (ztrain, ztest), (ttrain, ttest) = _loaders(tmp_path)
    torch.manual_seed(42)
    tmodel = _fashion_models(torch, "V2")
    zmodel = _copy(tmodel, _fashion_models(zeroin, "V2"))
    random.seed(42)
    picks = random.sample(range(len(test_data)), k=9)
    test_samples = [test_data[i][0] for i in picks]
    tsamples = [torch.from_numpy(_np(s)) for s in test_samples]
    zprobs = make_predictions(zeroin, zmodel, test_samples)
    tprobs = make_predictions(torch, tmodel, tsamples)
    np.testing.assert_allclose(_np(zprobs), _np(tprobs), **F32)
    assert _np(zprobs.argmax(dim=1)).tolist() == _np(tprobs.argmax(dim=1)).tolist()
    mats = {}
    for lib, model, loader in ((torch, tmodel, ttest), (zeroin, zmodel, ztest)):
        y_preds, y_true = [], []
        model.eval()
        with lib.inference_mode():
            for X, y in loader:
                y_preds.append(lib.softmax(model(X), dim=1).argmax(dim=1).cpu())
                y_true.append(y)
        y_pred_tensor, y_true_tensor = lib.cat(y_preds), lib.cat(y_true)
        confmat = lib.zeros(10, 10, dtype=lib.long)
        for t, p in zip(y_true_tensor, y_pred_tensor):
            confmat[t, p] += 1
        by_bincount = lib.bincount(y_true_tensor * 10 + y_pred_tensor, minlength=100)
        assert _np(by_bincount.reshape(10, 10)).tolist() == _np(confmat).tolist()
        mats[lib] = _np(confmat)
    np.testing.assert_array_equal(mats[zeroin], mats[torch])
    assert mats[zeroin].sum() == 32


# --- 04 custom datasets -----------------------------------------------------------------------

def _image_tree(root):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(4)
    for split, n in (("train", 4), ("test", 2)):
        for c, name in enumerate(("pizza", "steak", "sushi")):
            folder = pathlib.Path(root) / "pizza_steak_sushi" / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                arr = rng.integers(0, 256, (40 + 3 * i, 50, 3), dtype=np.uint8)
                arr[..., c] = 255 - arr[..., c] // 4
                Image.fromarray(arr).save(folder / f"{i}.jpg", quality=90)
    return pathlib.Path(root) / "pizza_steak_sushi"


def find_classes(directory):
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any classes in {directory}.")
    class_to_idx = {cls_name: i for i, cls_name in enumerate(classes)}
    return classes, class_to_idx


def _custom_dataset(lib):
    from PIL import Image

    class ImageFolderCustom(lib.utils.data.Dataset):
        def __init__(self, targ_dir, transform=None):
            self.paths = sorted(pathlib.Path(targ_dir).glob("*/*.jpg"))
            self.transform = transform
            self.classes, self.class_to_idx = find_classes(targ_dir)

        def load_image(self, index):
            return Image.open(self.paths[index])

        def __len__(self):
            return len(self.paths)

        def __getitem__(self, index):
            img = self.load_image(index)
            class_idx = self.class_to_idx[self.paths[index].parent.name]
            if self.transform:
                return self.transform(img), class_idx
            return img, class_idx
    return ImageFolderCustom


def _torch_resize_to_tensor(img, flip=False):
    """torchvision's Resize((64, 64)) + ToTensor on a PIL image, written out."""
    from PIL import Image
    img = img.resize((64, 64), Image.Resampling.BILINEAR)
    if flip:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)


def test_04_image_folder_and_the_custom_dataset_agree(f32, tmp_path):
    from zeroin.vision import datasets, transforms
    image_path = _image_tree(tmp_path)
    train_dir, test_dir = image_path / "train", image_path / "test"
    data_transform = transforms.Compose([transforms.Resize(size=(64, 64)),
                                         transforms.RandomHorizontalFlip(p=0.5),
                                         transforms.ToTensor()])
    no_flip = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()])
    train_data = datasets.ImageFolder(root=train_dir, transform=data_transform,
                                      target_transform=None)
    custom = _custom_dataset(zeroin)(targ_dir=train_dir, transform=no_flip)
    tcustom = _custom_dataset(torch)(targ_dir=train_dir, transform=_torch_resize_to_tensor)
    assert train_data.classes == custom.classes == ["pizza", "steak", "sushi"]
    assert train_data.class_to_idx == custom.class_to_idx == {"pizza": 0, "steak": 1,
                                                              "sushi": 2}
    assert len(train_data) == len(custom) == len(tcustom) == 12
    assert len(datasets.ImageFolder(root=test_dir)) == 6
    zeroin.manual_seed(0)
    flips = set()
    for i in range(len(custom)):
        img, label = custom[i]
        timg, tlabel = tcustom[i]
        assert label == tlabel == train_data[i][1] and isinstance(label, int)
        np.testing.assert_array_equal(_np(img), _np(timg))   # Resize + ToTensor exactly
        aug = _np(train_data[i][0])
        flipped = np.array_equal(aug, _np(_torch_resize_to_tensor(custom.load_image(i),
                                                                  flip=True)))
        assert flipped or np.array_equal(aug, _np(img))
        flips.add(flipped)
        assert tuple(img.shape) == (3, 64, 64) and img.dtype == zeroin.float32
        assert tuple(img.permute(1, 2, 0).shape) == (64, 64, 3)   # for plt.imshow
    assert flips == {True, False}
    with pytest.raises(FileNotFoundError, match="Couldn't find any classes"):
        find_classes(tmp_path / "pizza_steak_sushi" / "train" / "pizza")


def test_04_dataloader_with_num_workers_cpu_count_and_matplotlib(f32, tmp_path):
    from zeroin.utils.data import DataLoader
    from zeroin.vision import datasets, transforms
    train_dir = _image_tree(tmp_path) / "train"
    simple = transforms.Compose([transforms.Resize((64, 64)), transforms.ToTensor()])
    train_data = datasets.ImageFolder(root=train_dir, transform=simple)
    NUM_WORKERS = os.cpu_count()
    loaders = [DataLoader(dataset=train_data, batch_size=4, num_workers=w, shuffle=False)
               for w in (NUM_WORKERS, 0)]
    for (a, ya), (b, yb) in zip(*loaders):
        assert tuple(a.shape) == (4, 3, 64, 64)
        np.testing.assert_array_equal(_np(a), _np(b))
        assert _np(ya).tolist() == _np(yb).tolist()
    img, label = next(iter(DataLoader(train_data, batch_size=1, num_workers=NUM_WORKERS,
                                      shuffle=True)))
    assert tuple(img.shape) == (1, 3, 64, 64) and tuple(label.shape) == (1,)
    with pytest.raises(Exception, match="num_workers"):
        DataLoader(train_data, batch_size=1, num_workers=-1)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig = plt.figure()
    shown = plt.imshow(img[0].permute(1, 2, 0))
    assert shown.get_array().shape == (64, 64, 3)
    plt.close(fig)


def test_04_trivial_augment_wide_in_the_course_pipeline(f32, tmp_path):
    from zeroin.vision import datasets, transforms
    train_dir = _image_tree(tmp_path) / "train"
    train_transform_trivial = transforms.Compose([
        transforms.Resize(size=(64, 64)),
        transforms.TrivialAugmentWide(num_magnitude_bins=31),
        transforms.ToTensor()])
    plain = datasets.ImageFolder(train_dir, transform=transforms.Compose(
        [transforms.Resize((64, 64)), transforms.ToTensor()]))
    aug = datasets.ImageFolder(root=train_dir, transform=train_transform_trivial)
    changed = 0
    for seed in range(12):
        zeroin.manual_seed(seed)
        x = _np(aug[seed % len(aug)][0])
        zeroin.manual_seed(seed)
        np.testing.assert_array_equal(_np(aug[seed % len(aug)][0]), x)   # seeded: repeats
        assert x.shape == (3, 64, 64) and x.min() >= 0 and x.max() <= 1
        changed += not np.array_equal(x, _np(plain[seed % len(aug)][0]))
    assert changed >= 6                        # Identity is 1 op in 14


def _tiny_vgg(lib, input_shape=3, hidden_units=10, output_shape=3):
    nn = lib.nn

    class TinyVGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_block_1 = nn.Sequential(
                nn.Conv2d(input_shape, hidden_units, kernel_size=3, stride=1, padding=0),
                nn.ReLU(), nn.Conv2d(hidden_units, hidden_units, 3, 1, 0), nn.ReLU(),
                nn.MaxPool2d(kernel_size=2, stride=2))
            self.conv_block_2 = nn.Sequential(
                nn.Conv2d(hidden_units, hidden_units, 3, padding=0), nn.ReLU(),
                nn.Conv2d(hidden_units, hidden_units, 3, padding=0), nn.ReLU(),
                nn.MaxPool2d(2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(in_features=hidden_units * 13 * 13,
                                        out_features=output_shape))

        def forward(self, x):
            return self.classifier(self.conv_block_2(self.conv_block_1(x)))
    return TinyVGG()


def test_04_tiny_vgg_forward_a_batch_and_the_parameter_count(f32):
    torch.manual_seed(42)
    tmodel = _tiny_vgg(torch)
    zmodel = _copy(tmodel, _tiny_vgg(zeroin))
    x = np.random.default_rng(5).random((4, 3, 64, 64)).astype(np.float32)
    np.testing.assert_allclose(_np(zmodel(zeroin.tensor(x))), _np(tmodel(torch.tensor(x))),
                               rtol=1e-4, atol=1e-6)
    single = zmodel(zeroin.tensor(x[0]).unsqueeze(dim=0))
    assert tuple(single.shape) == (1, 3)
    # torchinfo.summary(model, input_size=[1, 3, 64, 64]) is zeroin.utils.summary
    count = {lib: sum(p.numel() for p in m.parameters())
             for lib, m in ((torch, tmodel), (zeroin, zmodel))}
    assert count[zeroin] == count[torch] == 8083
    table = zeroin.utils.summary(zmodel, input_size=[1, 3, 64, 64], verbose=0)
    assert table.total_params == 8083 and "Total params: 8,083" in str(table)
    assert table.summary_list[-1].output_size == [1, 3]
    assert "Conv2d(3, 10, kernel_size=(3, 3), stride=(1, 1))" in repr(zmodel)


# --- 05 going modular: data_setup.py, engine.py, model_builder.py, utils.py, train.py ---------

def create_dataloaders(lib, datasets, train_dir, test_dir, transform, batch_size,
                       num_workers=os.cpu_count(), shuffle=True):
    """data_setup.create_dataloaders (``shuffle`` is the course's True; False to compare)."""
    train_data = datasets.ImageFolder(train_dir, transform=transform)
    test_data = datasets.ImageFolder(test_dir, transform=transform)
    class_names = train_data.classes
    train_dataloader = lib.utils.data.DataLoader(train_data, batch_size=batch_size,
                                                 shuffle=shuffle, num_workers=num_workers,
                                                 pin_memory=True)
    test_dataloader = lib.utils.data.DataLoader(test_data, batch_size=batch_size,
                                                shuffle=shuffle, num_workers=num_workers,
                                                pin_memory=True)
    return train_dataloader, test_dataloader, class_names


class _TorchImageFolder:
    """torchvision's ImageFolder for the torch side (torchvision is not installed): the same
    sorted classes and files, the pipeline written out by hand."""

    def __init__(self, root, transform=None):
        from PIL import Image
        self.classes, self.class_to_idx = find_classes(root)
        self.samples = [(p, self.class_to_idx[p.parent.name])
                        for p in sorted(pathlib.Path(root).glob("*/*.jpg"))]
        self.transform, self._open = transform, Image.open

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        img = self._open(self.samples[i][0]).convert("RGB")
        return (self.transform(img) if self.transform else img), self.samples[i][1]


class _TorchDatasets:
    ImageFolder = _TorchImageFolder


def engine_train_step(lib, model, dataloader, loss_fn, optimizer, device):
    model.train()
    train_loss, train_acc = 0, 0
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        y_pred = model(X)
        loss = loss_fn(y_pred, y)
        train_loss += loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        y_pred_class = lib.argmax(lib.softmax(y_pred, dim=1), dim=1)
        train_acc += (y_pred_class == y).sum().item() / len(y_pred)
    return train_loss / len(dataloader), train_acc / len(dataloader)


def engine_test_step(lib, model, dataloader, loss_fn, device):
    model.eval()
    test_loss, test_acc = 0, 0
    with lib.inference_mode():
        for batch, (X, y) in enumerate(dataloader):
            X, y = X.to(device), y.to(device)
            test_pred_logits = model(X)
            loss = loss_fn(test_pred_logits, y)
            test_loss += loss.item()
            test_pred_labels = test_pred_logits.argmax(dim=1)
            test_acc += ((test_pred_labels == y).sum().item() / len(test_pred_labels))
    return test_loss / len(dataloader), test_acc / len(dataloader)


def engine_train(lib, model, train_dataloader, test_dataloader, optimizer, loss_fn, epochs,
                 device, writer=None):
    """engine.train; with ``writer``, notebook 07's version that logs to TensorBoard."""
    from tqdm.auto import tqdm
    results = {"train_loss": [], "train_acc": [], "test_loss": [], "test_acc": []}
    for epoch in tqdm(range(epochs), disable=True):
        train_loss, train_acc = engine_train_step(lib, model=model,
                                                  dataloader=train_dataloader,
                                                  loss_fn=loss_fn, optimizer=optimizer,
                                                  device=device)
        test_loss, test_acc = engine_test_step(lib, model=model, dataloader=test_dataloader,
                                               loss_fn=loss_fn, device=device)
        line = (f"Epoch: {epoch+1} | train_loss: {train_loss:.4f} | "
                f"train_acc: {train_acc:.4f} | test_loss: {test_loss:.4f} | "
                f"test_acc: {test_acc:.4f}")
        for k, v in zip(results, (train_loss, train_acc, test_loss, test_acc)):
            results[k].append(v)
        if writer:
            writer.add_scalars(main_tag="Loss", tag_scalar_dict={"train_loss": train_loss,
                                                                 "test_loss": test_loss},
                               global_step=epoch)
            writer.add_scalars(main_tag="Accuracy", tag_scalar_dict={"train_acc": train_acc,
                                                                     "test_acc": test_acc},
                               global_step=epoch)
            writer.close()
    assert line.startswith(f"Epoch: {epochs} | train_loss: ")
    return results


engine_test_step.__test__ = False


def save_model(lib, model, target_dir, model_name):
    """utils.save_model."""
    target_dir_path = pathlib.Path(target_dir)
    target_dir_path.mkdir(parents=True, exist_ok=True)
    assert model_name.endswith(".pth") or model_name.endswith(".pt"), \
        "model_name should end with '.pt' or '.pth'"
    model_save_path = target_dir_path / model_name
    lib.save(obj=model.state_dict(), f=model_save_path)
    return model_save_path


def _05_setup(lib, image_path, shuffle):
    if lib is zeroin:
        from zeroin.vision import datasets, transforms
        data_transform = transforms.Compose([transforms.Resize((64, 64)),
                                             transforms.ToTensor()])
    else:
        datasets, data_transform = _TorchDatasets, _torch_resize_to_tensor
    return create_dataloaders(lib, datasets, train_dir=image_path / "train",
                              test_dir=image_path / "test", transform=data_transform,
                              batch_size=4, shuffle=shuffle)


_NO_PIN = pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")


@_NO_PIN
def test_05_going_modular_train_py_against_torch(f32, tmp_path):
    """train.py: create_dataloaders, TinyVGG, CrossEntropyLoss, Adam(lr=0.001),
    engine.train for 3 epochs; the same weights and batches give the same results."""
    image_path = _image_tree(tmp_path / "data")
    torch.manual_seed(42)
    tmodel = _tiny_vgg(torch, hidden_units=10, output_shape=3)
    zmodel = _copy(tmodel, _tiny_vgg(zeroin, hidden_units=10, output_shape=3))
    results = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        train_dataloader, test_dataloader, class_names = _05_setup(lib, image_path, False)
        assert class_names == ["pizza", "steak", "sushi"] and len(train_dataloader) == 3
        device = "cuda" if lib.cuda.is_available() else "cpu"
        model = model.to(device)
        loss_fn = lib.nn.CrossEntropyLoss()
        optimizer = lib.optim.Adam(model.parameters(), lr=0.001)
        results[lib] = engine_train(lib, model=model, train_dataloader=train_dataloader,
                                    test_dataloader=test_dataloader, loss_fn=loss_fn,
                                    optimizer=optimizer, epochs=3, device=device)
    for k in results[torch]:
        assert all(type(v) is float for v in results[zeroin][k])     # pandas-ready
        np.testing.assert_allclose(results[zeroin][k], results[torch][k], rtol=1e-4,
                                   atol=1e-6)
    for k, v in tmodel.state_dict().items():
        np.testing.assert_allclose(_np(zmodel.state_dict()[k]), v.numpy(), rtol=1e-3,
                                   atol=1e-5)
    path = save_model(zeroin, zmodel, target_dir=tmp_path / "models",
                      model_name="05_going_modular_script_mode_tinyvgg_model.pth")
    loaded = _tiny_vgg(zeroin)
    loaded.load_state_dict(zeroin.load(f=path))
    x = zeroin.rand(2, 3, 64, 64)
    np.testing.assert_array_equal(_np(loaded.eval()(x)), _np(zmodel.eval()(x)))
    with pytest.raises(AssertionError, match="should end with"):
        save_model(zeroin, zmodel, target_dir=tmp_path / "models", model_name="tinyvgg")


@_NO_PIN
def test_05_create_dataloaders_as_the_course_shuffles(f32, tmp_path):
    """create_dataloaders as written (shuffle=True, num_workers=os.cpu_count(),
    pin_memory=True): every image once an epoch, seeded orders repeat."""
    image_path = _image_tree(tmp_path / "data")
    zeroin.manual_seed(42)
    train_dataloader, test_dataloader, class_names = _05_setup(zeroin, image_path, True)
    labels = [_np(y).tolist() for _, y in train_dataloader]
    assert sorted(sum(labels, [])) == [0] * 4 + [1] * 4 + [2] * 4
    zeroin.manual_seed(42)
    again = _05_setup(zeroin, image_path, True)[0]
    assert [_np(y).tolist() for _, y in again] == labels
    with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no "
                                         "accelerator is found"):    # torch's warning
        img, label = next(iter(test_dataloader))
    assert tuple(img.shape) == (4, 3, 64, 64) and img.dtype == zeroin.float32
    assert label.dtype == zeroin.int64


# --- 06 transfer learning: torchvision.models.efficientnet_b0 without its weights -----------

class _TorchTwin(torch.nn.Module):
    """A torch module with zeroin's torchvision-like module's children and forward
    (torchvision is not installed): EfficientNet, MBConv, SqueezeExcitation."""

    def __init__(self, zmodule):
        super().__init__()
        self.kind = type(zmodule).__name__
        self.use_res_connect = getattr(zmodule, "use_res_connect", False)
        for name, child in zmodule.named_children():
            self.add_module(name, _torch_twin(child))

    def forward(self, x):
        if self.kind == "EfficientNet":
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))
        if self.kind == "SqueezeExcitation":
            return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))\
                * x
        assert self.kind == "MBConv" and not self.stochastic_depth.p
        result = self.block(x)
        return result + x if self.use_res_connect else result


class _TorchIdentityDepth(torch.nn.Identity):
    def __init__(self, p):
        super().__init__()
        self.p = p


def _torch_twin(m):
    tnn, kind = torch.nn, type(m).__name__
    if kind == "Conv2d":
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding,
                          groups=m.groups, bias=m.bias is not None)
    if kind == "BatchNorm2d":
        return tnn.BatchNorm2d(m.num_features, eps=m.eps, momentum=m.momentum)
    if kind == "Linear":
        return tnn.Linear(m.in_features, m.out_features)
    if kind in ("Sequential", "Conv2dNormActivation"):
        return tnn.Sequential(*[_torch_twin(c) for c in m.children()])
    if kind == "StochasticDepth":
        return _TorchIdentityDepth(m.p)
    simple = {"SiLU": tnn.SiLU, "Sigmoid": tnn.Sigmoid, "Dropout": lambda: tnn.Dropout(m.p),
              "AdaptiveAvgPool2d": lambda: tnn.AdaptiveAvgPool2d(1)}
    return simple[kind]() if kind in simple else _TorchTwin(m)


def test_06_efficientnet_b0_as_torchvisions_table_in_the_notebook():
    """efficientnet_b0 was missing from zeroin.vision.models: the notebook's torchinfo
    table (var_names, 60 wide) gives each MBConv's parameters and each stage's shapes."""
    from zeroin.vision import models
    model = models.efficientnet_b0()
    stats = zeroin.utils.summary(model=model, input_size=(1, 3, 224, 224),
                                 col_names=["input_size", "output_size", "num_params",
                                            "trainable"],
                                 col_width=20, row_settings=["var_names"], verbose=0)
    table = str(stats).splitlines()
    assert stats.total_params == 5288548 and table[1].index("Input Shape") == 61
    mbconv = [int(line.split()[-2].replace(",", "")) for line in table if "MBConv" in line]
    assert mbconv == [1448, 6004, 10710, 15350, 31290, 37130, 102900, 102900, 126004,
                      208572, 208572, 262492, 587952, 587952, 587952, 717232]
    shapes = [line.split("]")[1].strip() + "]" for line in table if "Sequential (" in line]
    assert shapes[1:8] == ["[1, 16, 112, 112]", "[1, 24, 56, 56]", "[1, 40, 28, 28]",
                           "[1, 80, 14, 14]", "[1, 112, 14, 14]", "[1, 192, 7, 7]",
                           "[1, 320, 7, 7]"]
    counts = {f"b{i}": sum(p.numel() for p in getattr(models, f"efficientnet_b{i}")()
                           .parameters()) for i in (1, 2, 6)}
    assert counts == {"b1": 7794184, "b2": 9109994, "b6": 43040704}
    assert model.classifier[1].in_features == 1280 and model.classifier[0].p == 0.2
    assert models.efficientnet_b2().classifier[1].in_features == 1408
    assert [len(s) for s in list(model.features)[1:8]] == [1, 2, 2, 3, 3, 4, 1]
    depth = [b.stochastic_depth.p for s in list(model.features)[1:8] for b in s]
    np.testing.assert_allclose(depth, 0.2 * np.arange(16) / 16)
    # torchvision's init: kaiming_normal_(fan_out) convs, uniform(+-1/sqrt(out)) linear
    w = _np(model.features[8][0].weight)
    assert abs(w.std() / np.sqrt(2 / 1280) - 1) < 0.02 and abs(w.mean()) < 1e-3
    head = _np(model.classifier[1].weight)
    assert 0.99 / np.sqrt(1000) < np.abs(head).max() <= 1 / np.sqrt(1000)
    assert not _np(model.classifier[1].bias).any()
    with pytest.raises(NotImplementedError, match=r"(?s)efficientnet_b0\(weights=EfficientNet_"
                       r"B0_Weights.IMAGENET1K_V1\).*no pretrained weights.*safetensors"):
        models.efficientnet_b0(weights=models.EfficientNet_B0_Weights.DEFAULT)


def test_06_efficientnet_forward_and_backward_match_torch():
    """In float64, so that the comparison through 16 blocks of batch norm is tight."""
    from zeroin.vision import models
    zmodel = models.efficientnet_b0(num_classes=3, stochastic_depth_prob=0.0)
    torch.manual_seed(0)
    tmodel = _torch_twin(zmodel).double()
    _copy(tmodel, zmodel)
    x = np.random.default_rng(6).random((2, 3, 64, 64))
    for mode in ("eval", "train"):
        getattr(tmodel, mode)(), getattr(zmodel, mode)()
        tmodel.classifier[0].p = zmodel.classifier[0].p = 0.0
        ty, zy = tmodel(torch.tensor(x)), zmodel(zeroin.tensor(x))
        _close(zy, ty, 1e-9)
    ty.square().sum().backward()
    zy.square().sum().backward()
    tgrads = dict(tmodel.named_parameters())
    for name, p in zmodel.named_parameters():
        _close(p.grad, tgrads[name].grad, rtol=1e-7, atol=1e-9)
    for name, b in tmodel.named_buffers():                  # BatchNorm's running stats
        _close(zmodel.get_buffer(name), b, 1e-9)


def test_06_stochastic_depth_drops_whole_samples_in_training():
    from zeroin.vision._efficientnet import StochasticDepth
    sd = StochasticDepth(0.5, "row")
    x = zeroin.ones(4000, 3)
    zeroin.manual_seed(0)
    y = _np(sd(x))
    assert set(np.unique(y)) == {0.0, 2.0} and (y == y[:, :1]).all()   # a row at a time
    assert abs((y[:, 0] == 0).mean() - 0.5) < 0.05
    assert _np(sd.eval()(x)).tolist() == _np(x).tolist()
    whole = _np(StochasticDepth(0.5, "batch")(x))
    assert len(np.unique(whole)) == 1
    with pytest.raises(ValueError, match="mode must be 'row' or 'batch'"):
        StochasticDepth(0.5, "col")


def _torch_preset(img, crop, resize):
    """torchvision's ImageClassification preset on a PIL image, written out."""
    from PIL import Image
    w, h = img.size
    if w <= h:
        size = (resize, int(resize * h / w))
    else:
        size = (int(resize * w / h), resize)
    img = img.resize(size, Image.Resampling.BICUBIC)
    top, left = int(round((size[1] - crop) / 2.0)), int(round((size[0] - crop) / 2.0))
    img = img.crop((left, top, left + crop, top + crop))
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255
    mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
    return (x - mean) / std


def _manual_transforms_torch(img):
    from PIL import Image
    img = img.resize((224, 224), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float().div(255)
    return (x - torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)) / \
        torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)


@_NO_PIN
def test_06_manual_and_auto_transforms(f32, tmp_path):
    """manual_transforms (Resize((224, 224)), ToTensor, Normalize) in create_dataloaders, and
    weights.transforms(), which needs no download: resize 256 bicubic, crop 224."""
    from PIL import Image
    from zeroin.vision import datasets, models, transforms
    image_path = _image_tree(tmp_path / "data")
    manual_transforms = transforms.Compose([
        transforms.Resize((224, 224)), transforms.ToTensor(),
        transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    zloaders = create_dataloaders(zeroin, datasets, image_path / "train", image_path / "test",
                                  manual_transforms, batch_size=32, num_workers=0,
                                  shuffle=False)
    tloaders = create_dataloaders(torch, _TorchDatasets, image_path / "train",
                                  image_path / "test", _manual_transforms_torch,
                                  batch_size=32, num_workers=0, shuffle=False)
    for z, t in zip(zloaders[:2], tloaders[:2]):
        (zX, zy), (tX, ty) = next(iter(z)), next(iter(t))
        assert tuple(zX.shape) == (len(zy), 3, 224, 224) and zX.dtype == zeroin.float32
        np.testing.assert_allclose(_np(zX), _np(tX), rtol=1e-6, atol=1e-6)
        assert _np(zy).tolist() == _np(ty).tolist()
    weights = models.EfficientNet_B0_Weights.DEFAULT
    auto_transforms = weights.transforms()
    assert repr(auto_transforms) == (
        "ImageClassification(\n    crop_size=[224]\n    resize_size=[256]\n"
        "    mean=[0.485, 0.456, 0.406]\n    std=[0.229, 0.224, 0.225]\n"
        "    interpolation=InterpolationMode.BICUBIC\n)")
    img = Image.open(sorted((image_path / "test").glob("*/*.jpg"))[0])
    for crop, resize, w in ((224, 256, weights), (288, 288, models.EfficientNet_B2_Weights
                                                  .DEFAULT)):
        out = w.transforms()(img)
        assert tuple(out.shape) == (3, crop, crop) and out.dtype == zeroin.float32
        np.testing.assert_allclose(_np(out), _np(_torch_preset(img, crop, resize)),
                                   rtol=1e-6, atol=1e-6)
    b1 = models.EfficientNet_B1_Weights
    assert b1.DEFAULT is b1.IMAGENET1K_V2 and b1.DEFAULT.transforms().resize_size == [255]


def _create_effnet(models, nn, variant, out_features, dropout, in_features):
    """Notebooks 06 and 07: the model with its features frozen and a new head."""
    model = getattr(models, f"efficientnet_{variant}")()      # weights=... needs a download
    for param in model.features.parameters():
        param.requires_grad = False
    zeroin.manual_seed(42)
    zeroin.cuda.manual_seed(42)
    model.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                     nn.Linear(in_features=in_features,
                                               out_features=out_features, bias=True))
    model.name = f"effnet{variant}"
    return model


@_NO_PIN
def test_06_freeze_the_features_and_train_a_new_head(f32, tmp_path):
    from zeroin import nn
    from zeroin.vision import datasets, models
    image_path = _image_tree(tmp_path / "data")
    model = _create_effnet(models, nn, "b0", out_features=3, dropout=0.2, in_features=1280)
    stats = zeroin.utils.summary(model, input_size=(32, 3, 64, 64), verbose=0,
                                 col_names=["input_size", "output_size", "num_params",
                                            "trainable"], col_width=20,
                                 row_settings=["var_names"])
    assert (stats.total_params, stats.trainable_params) == (4011391, 3843)
    frozen = {k: _np(v).copy() for k, v in model.features.state_dict().items()
              if "running" not in k and "num_batches" not in k}
    loaders = create_dataloaders(zeroin, datasets, image_path / "train", image_path / "test",
                                 models.EfficientNet_B0_Weights.DEFAULT.transforms(),
                                 batch_size=4, num_workers=0)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = zeroin.optim.Adam(model.parameters(), lr=0.001)
    head = _np(model.classifier[1].weight).copy()
    results = engine_train(zeroin, model, loaders[0], loaders[1], optimizer, loss_fn,
                           epochs=1, device="cpu")
    assert all(len(v) == 1 and np.isfinite(v[0]) for v in results.values())
    for k, v in model.features.state_dict().items():
        if k in frozen:
            np.testing.assert_array_equal(_np(v), frozen[k], err_msg=k)
    assert all(p.grad is None for p in model.features.parameters())
    assert not np.array_equal(_np(model.classifier[1].weight), head)
    assert model.name == "effnetb0"


def pred_and_plot_image(lib, model, class_names, image_path, image_size=(224, 224),
                        transform=None, device="cpu"):
    """going_modular's predictions.pred_and_plot_image (notebook 06)."""
    import matplotlib.pyplot as plt
    from PIL import Image
    from zeroin.vision import transforms
    img = Image.open(image_path)
    if transform is not None:
        image_transform = transform
    else:
        image_transform = transforms.Compose([
            transforms.Resize(image_size), transforms.ToTensor(),
            transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    model.to(device)
    model.eval()
    with lib.inference_mode():
        transformed_image = image_transform(img).unsqueeze(dim=0)
        target_image_pred = model(transformed_image.to(device))
    target_image_pred_probs = lib.softmax(target_image_pred, dim=1)
    target_image_pred_label = lib.argmax(target_image_pred_probs, dim=1)
    fig = plt.figure()
    plt.imshow(img)
    plt.title(f"Pred: {class_names[target_image_pred_label]} | "
              f"Prob: {target_image_pred_probs.max():.3f}")
    plt.axis(False)
    title = fig.axes[0].get_title()
    plt.close(fig)
    return title, target_image_pred_probs


def test_06_pred_and_plot_image_on_random_test_images(f32, tmp_path):
    pytest.importorskip("matplotlib").use("Agg")
    from zeroin import nn
    from zeroin.vision import models
    test_dir = _image_tree(tmp_path / "data") / "test"
    model = _create_effnet(models, nn, "b0", out_features=3, dropout=0.2, in_features=1280)
    test_image_path_list = list(pathlib.Path(test_dir).glob("*/*.jpg"))
    random.seed(42)
    for image_path in random.sample(population=test_image_path_list, k=2):
        title, probs = pred_and_plot_image(zeroin, model=model,
                                           class_names=["pizza", "steak", "sushi"],
                                           image_path=image_path, image_size=(64, 64))
        label = int(_np(probs).argmax())
        assert title == (f"Pred: {['pizza', 'steak', 'sushi'][label]} | "
                         f"Prob: {_np(probs).max():.3f}")


# --- 07 experiment tracking: SummaryWriter, add_scalars, add_graph ---------------------------

def create_writer(lib, experiment_name, model_name, extra=None, root="runs"):
    """Notebook 07's create_writer (``root`` is the course's "runs", under tmp_path here)."""
    from datetime import datetime
    timestamp = datetime.now().strftime("%Y-%m-%d")
    if extra:
        log_dir = os.path.join(root, timestamp, experiment_name, model_name, extra)
    else:
        log_dir = os.path.join(root, timestamp, experiment_name, model_name)
    return lib.utils.tensorboard.SummaryWriter(log_dir=log_dir)


def _scalars(log_dir):
    """{run/tag: [(step, value)]} of every event file under log_dir, read by tensorboard."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = {}
    for path in sorted(pathlib.Path(log_dir).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(path.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            run = path.parent.relative_to(log_dir).as_posix()
            # sorted by step: a run folder holds one file per writer, read in name order,
            # and the names end in a process-wide counter (torch's too) whose ".10" sorts
            # before ".9" (the order depended on how many writers earlier tests made)
            out[f"{run}/{tag}"] = sorted((e.step, e.value) for e in acc.Scalars(tag))
    return out


@_NO_PIN
@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")   # torch's add_graph
def test_07_experiments_logged_as_torchs_summary_writer(f32, tmp_path):
    pytest.importorskip("tensorboard")
    import torch.utils.tensorboard  # noqa: F401
    import zeroin.utils.tensorboard  # noqa: F401
    from zeroin import nn
    from zeroin.vision import models
    image_path = _image_tree(tmp_path / "data")
    torch.manual_seed(42)
    tmodel = _tiny_vgg(torch)
    zmodel = _copy(tmodel, _tiny_vgg(zeroin))
    logs = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        train_dataloader, test_dataloader, _ = _05_setup(lib, image_path, False)
        root = tmp_path / lib.__name__ / "runs"
        writer = create_writer(lib, experiment_name="data_10_percent", model_name="tinyvgg",
                               extra="2_epochs", root=str(root))
        optimizer = lib.optim.Adam(params=model.parameters(), lr=0.001)
        results = engine_train(lib, model, train_dataloader, test_dataloader, optimizer,
                               lib.nn.CrossEntropyLoss(), epochs=2, device="cpu",
                               writer=writer)
        writer.add_graph(model=model, input_to_model=lib.randn(32, 3, 64, 64))
        writer.close()
        logs[lib] = _scalars(next(root.iterdir()))
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        acc = EventAccumulator(str(next(root.iterdir()) / "data_10_percent" / "tinyvgg" /
                                   "2_epochs"))
        acc.Reload()
        ops = {node.op.split("::")[-1] for node in acc.Graph().node}    # aten:: or zeroin::
        assert {"IO Node", "max_pool2d", "relu", "linear"} <= ops, ops
        assert "_convolution" in ops or "conv2d" in ops
    assert sorted(logs[zeroin]) == sorted(logs[torch]) == [
        f"data_10_percent/tinyvgg/2_epochs/{main}_{name}/{main}" for main, name in (
            ("Accuracy", "test_acc"), ("Accuracy", "train_acc"), ("Loss", "test_loss"),
            ("Loss", "train_loss"))]
    for tag, values in logs[torch].items():
        assert [s for s, _ in logs[zeroin][tag]] == [s for s, _ in values] == [0, 1]
        np.testing.assert_allclose([v for _, v in logs[zeroin][tag]],
                                   [v for _, v in values], rtol=1e-4, err_msg=tag)
    logged = logs[zeroin]["data_10_percent/tinyvgg/2_epochs/Loss_train_loss/Loss"]
    assert np.float32(results["train_loss"]).tolist() == [v for _, v in logged]   # float32
    # the course's experiment loop: effnetb0 and effnetb2 with frozen features
    for model_name, width, dropout in (("effnetb0", 1280, 0.2), ("effnetb2", 1408, 0.3)):
        model = _create_effnet(models, nn, model_name[-2:], 3, dropout, width)
        assert model.name == model_name
        assert sum(p.numel() for p in model.parameters() if p.requires_grad) == width * 3 + 3
        save_model(zeroin, model, target_dir=tmp_path / "models",
                   model_name=f"07_{model_name}_data_10_percent_5_epochs.pth")
    assert len(list((tmp_path / "models").glob("07_*.pth"))) == 2


# --- 08 paper replicating: ViT from nn layers ---------------------------------------------

def _vit_classes(lib):
    nn = lib.nn

    class PatchEmbedding(nn.Module):
        def __init__(self, in_channels=3, patch_size=16, embedding_dim=768):
            super().__init__()
            self.patch_size = patch_size
            self.patcher = nn.Conv2d(in_channels=in_channels, out_channels=embedding_dim,
                                     kernel_size=patch_size, stride=patch_size, padding=0)
            self.flatten = nn.Flatten(start_dim=2, end_dim=3)

        def forward(self, x):
            image_resolution = x.shape[-1]
            assert image_resolution % self.patch_size == 0, \
                f"Input image size must be divisble by patch size, image shape: " \
                f"{image_resolution}, patch size: {self.patch_size}"
            return self.flatten(self.patcher(x)).permute(0, 2, 1)

    class MultiheadSelfAttentionBlock(nn.Module):
        def __init__(self, embedding_dim=768, num_heads=12, attn_dropout=0):
            super().__init__()
            self.layer_norm = nn.LayerNorm(normalized_shape=embedding_dim)
            self.multihead_attn = nn.MultiheadAttention(embed_dim=embedding_dim,
                                                        num_heads=num_heads,
                                                        dropout=attn_dropout,
                                                        batch_first=True)

        def forward(self, x):
            x = self.layer_norm(x)
            attn_output, _ = self.multihead_attn(query=x, key=x, value=x,
                                                 need_weights=False)
            return attn_output

    class MLPBlock(nn.Module):
        def __init__(self, embedding_dim=768, mlp_size=3072, dropout=0.1):
            super().__init__()
            self.layer_norm = nn.LayerNorm(normalized_shape=embedding_dim)
            self.mlp = nn.Sequential(
                nn.Linear(in_features=embedding_dim, out_features=mlp_size), nn.GELU(),
                nn.Dropout(p=dropout), nn.Linear(in_features=mlp_size,
                                                 out_features=embedding_dim),
                nn.Dropout(p=dropout))

        def forward(self, x):
            return self.mlp(self.layer_norm(x))

    class TransformerEncoderBlock(nn.Module):
        def __init__(self, embedding_dim=768, num_heads=12, mlp_size=3072, mlp_dropout=0.1,
                     attn_dropout=0):
            super().__init__()
            self.msa_block = MultiheadSelfAttentionBlock(embedding_dim=embedding_dim,
                                                         num_heads=num_heads,
                                                         attn_dropout=attn_dropout)
            self.mlp_block = MLPBlock(embedding_dim=embedding_dim, mlp_size=mlp_size,
                                      dropout=mlp_dropout)

        def forward(self, x):
            x = self.msa_block(x) + x
            return self.mlp_block(x) + x

    class ViT(nn.Module):
        def __init__(self, img_size=224, in_channels=3, patch_size=16,
                     num_transformer_layers=12, embedding_dim=768, mlp_size=3072,
                     num_heads=12, attn_dropout=0, mlp_dropout=0.1, embedding_dropout=0.1,
                     num_classes=1000):
            super().__init__()
            assert img_size % patch_size == 0, \
                f"Image size must be divisible by patch size, image size: {img_size}, " \
                f"patch size: {patch_size}."
            self.num_patches = (img_size * img_size) // patch_size**2
            self.class_embedding = nn.Parameter(data=lib.randn(1, 1, embedding_dim),
                                                requires_grad=True)
            self.position_embedding = nn.Parameter(
                data=lib.randn(1, self.num_patches + 1, embedding_dim), requires_grad=True)
            self.embedding_dropout = nn.Dropout(p=embedding_dropout)
            self.patch_embedding = PatchEmbedding(in_channels=in_channels,
                                                  patch_size=patch_size,
                                                  embedding_dim=embedding_dim)
            self.transformer_encoder = nn.Sequential(*[TransformerEncoderBlock(
                embedding_dim=embedding_dim, num_heads=num_heads, mlp_size=mlp_size,
                mlp_dropout=mlp_dropout) for _ in range(num_transformer_layers)])
            self.classifier = nn.Sequential(
                nn.LayerNorm(normalized_shape=embedding_dim),
                nn.Linear(in_features=embedding_dim, out_features=num_classes))

        def forward(self, x):
            batch_size = x.shape[0]
            class_token = self.class_embedding.expand(batch_size, -1, -1)
            x = self.patch_embedding(x)
            x = lib.cat((class_token, x), dim=1)
            x = self.position_embedding + x
            x = self.embedding_dropout(x)
            x = self.transformer_encoder(x)
            return self.classifier(x[:, 0])
    return PatchEmbedding, TransformerEncoderBlock, ViT


SMALL_VIT = dict(img_size=32, patch_size=8, num_transformer_layers=2, embedding_dim=48,
                 mlp_size=96, num_heads=4, num_classes=3)


def test_08_vit_base_parameter_count_and_the_patch_shapes(f32):
    """ViT-Base as the notebook builds it: 85,800,963 parameters for 3 classes (its
    torchinfo table), the patch embedding's shapes, the divisibility assertion."""
    counts = {}
    for lib in LIBS:
        PatchEmbedding, _, ViT = _vit_classes(lib)
        lib.manual_seed(42)
        vit = ViT(num_classes=3)
        counts[lib] = sum(p.numel() for p in vit.parameters())
        patchify = PatchEmbedding(in_channels=3, patch_size=16, embedding_dim=768)
        image = lib.rand(3, 224, 224)
        patch_embedded_image = patchify(image.unsqueeze(0))
        assert tuple(patch_embedded_image.shape) == (1, 196, 768)
        with pytest.raises(AssertionError, match="divisble by patch size"):
            patchify(lib.rand(1, 3, 250, 250))
        class_token = lib.nn.Parameter(lib.ones(1, 1, 768), requires_grad=True)
        with_token = lib.cat((class_token, patch_embedded_image), dim=1)
        assert tuple(with_token.shape) == (1, 197, 768)
        image_permuted = image.permute(1, 2, 0)
        assert tuple(image_permuted[:16, :, :].shape) == (16, 224, 3)   # the top row
    assert counts[zeroin] == counts[torch] == 85800963


def test_08_small_vit_forward_backward_and_adam_with_weight_decay_match_torch(f32):
    _, _, tViT = _vit_classes(torch)
    _, _, zViT = _vit_classes(zeroin)
    torch.manual_seed(42)
    tvit = tViT(**SMALL_VIT)
    zvit = _copy(tvit, zViT(**SMALL_VIT))
    x = np.random.default_rng(8).random((4, 3, 32, 32)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    tvit.eval(), zvit.eval()
    np.testing.assert_allclose(_np(zvit(zeroin.tensor(x))), _np(tvit(torch.tensor(x))),
                               rtol=1e-4, atol=1e-5)
    for m in (tvit, zvit):                    # train mode without dropout's random draws
        m.train()
        for d in m.modules():
            if type(d).__name__ == "Dropout":
                d.p = 0.0
    topt = torch.optim.Adam(params=tvit.parameters(), lr=3e-3, betas=(0.9, 0.999),
                            weight_decay=0.3)
    zopt = zeroin.optim.Adam(params=zvit.parameters(), lr=3e-3, betas=(0.9, 0.999),
                             weight_decay=0.3)
    for _ in range(3):
        for lib, m, opt in ((torch, tvit, topt), (zeroin, zvit, zopt)):
            loss = lib.nn.CrossEntropyLoss()(m(lib.tensor(x)), lib.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
    for k, v in tvit.state_dict().items():
        z, t = _np(zvit.state_dict()[k]), v.numpy()
        if k.endswith("in_proj_bias"):
            # the key bias's gradient is 0 (a constant added to a row of scores before the
            # softmax) plus rounding, which Adam scales up to +-lr steps of either sign
            assert np.abs(z[48:96]).max() <= 3 * 3e-3 * 1.001
            z, t = np.delete(z, np.s_[48:96]), np.delete(t, np.s_[48:96])
        np.testing.assert_allclose(z, t, rtol=1e-4, atol=2e-5, err_msg=k)


def test_08_our_encoder_block_equals_torchs_transformer_encoder_layer(f32):
    """The notebook's point: TransformerEncoderBlock is nn.TransformerEncoderLayer(...,
    activation="gelu", batch_first=True, norm_first=True); here in zeroin, weights mapped
    from one to the other, and the layer against torch's."""
    _, ZBlock, _ = _vit_classes(zeroin)
    kw = dict(d_model=48, nhead=4, dim_feedforward=96, dropout=0.1, activation="gelu",
              batch_first=True, norm_first=True)
    torch.manual_seed(0)
    tlayer = torch.nn.TransformerEncoderLayer(**kw)
    zlayer = _copy(tlayer, zeroin.nn.TransformerEncoderLayer(**kw))
    block = ZBlock(embedding_dim=48, num_heads=4, mlp_size=96, mlp_dropout=0.1)
    s = {k: zeroin.tensor(v.numpy().copy()) for k, v in tlayer.state_dict().items()}
    block.load_state_dict({
        "msa_block.layer_norm.weight": s["norm1.weight"],
        "msa_block.layer_norm.bias": s["norm1.bias"],
        **{f"msa_block.multihead_attn.{k}": s[f"self_attn.{k}"] for k in (
            "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")},
        "mlp_block.layer_norm.weight": s["norm2.weight"],
        "mlp_block.layer_norm.bias": s["norm2.bias"],
        "mlp_block.mlp.0.weight": s["linear1.weight"], "mlp_block.mlp.0.bias": s["linear1.bias"],
        "mlp_block.mlp.3.weight": s["linear2.weight"], "mlp_block.mlp.3.bias": s["linear2.bias"]})
    x = np.random.default_rng(9).random((2, 17, 48)).astype(np.float32)
    for m in (tlayer, zlayer, block):
        m.eval()
    tout = tlayer(torch.tensor(x))
    np.testing.assert_allclose(_np(zlayer(zeroin.tensor(x))), _np(tout), rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(_np(block(zeroin.tensor(x))), _np(tout), rtol=1e-4, atol=1e-5)
    encoder = zeroin.nn.TransformerEncoder(encoder_layer=zlayer, num_layers=12)
    assert len(encoder.layers) == 12


def test_04_predict_on_a_custom_image_read_with_read_image(f32, tmp_path):
    """Notebook 04's custom image: torchvision.io.read_image (uint8), the two errors the
    notebook shows (uint8 input; no batch dimension), then / 255, Resize, unsqueeze."""
    from PIL import Image
    from zeroin.vision import io, transforms
    custom_image_path = tmp_path / "04-pizza-dad.jpeg"
    arr = np.random.default_rng(10).integers(0, 256, (90, 70, 3), dtype=np.uint8)
    Image.fromarray(arr).save(custom_image_path, quality=95)
    custom_image_uint8 = io.read_image(str(custom_image_path))
    assert custom_image_uint8.dtype == zeroin.uint8
    assert tuple(custom_image_uint8.shape) == (3, 90, 70)
    np.testing.assert_array_equal(_np(custom_image_uint8),
                                  np.asarray(Image.open(custom_image_path)).transpose(2, 0, 1))
    torch.manual_seed(42)
    tmodel = _tiny_vgg(torch)
    model_1 = _copy(tmodel, _tiny_vgg(zeroin))
    model_1.eval()
    with pytest.raises(zeroin.errors.DtypeError, match=r"uint8.*x\.to\(zeroin\.float32\) / 255"):
        model_1(custom_image_uint8)
    custom_image = io.read_image(str(custom_image_path)).type(zeroin.float32) / 255.
    custom_image_transform = transforms.Compose([transforms.Resize((64, 64))])
    custom_image_transformed = custom_image_transform(custom_image)
    tresized = torch.nn.functional.interpolate(
        torch.from_numpy(_np(custom_image)).unsqueeze(0), size=(64, 64), mode="bilinear",
        antialias=True, align_corners=False)[0]            # torchvision's tensor Resize
    np.testing.assert_allclose(_np(custom_image_transformed), _np(tresized), atol=2e-7)
    with pytest.raises(zeroin.errors.ShapeError, match=r"add the batch dimension"):
        model_1(custom_image_transformed)                    # (3, 64, 64): no batch
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        tmodel(tresized)
    with zeroin.inference_mode():
        custom_image_pred = model_1(custom_image_transformed.unsqueeze(dim=0))
    tpred = tmodel(tresized.unsqueeze(0))
    np.testing.assert_allclose(_np(custom_image_pred), _np(tpred), rtol=1e-4, atol=1e-6)
    custom_image_pred_probs = zeroin.softmax(custom_image_pred, dim=1)
    custom_image_pred_label = zeroin.argmax(custom_image_pred_probs, dim=1)
    class_names = ["pizza", "steak", "sushi"]
    assert class_names[custom_image_pred_label.cpu()] == class_names[int(tpred.argmax())]


# --- helper_functions.py (02, 04-06): matplotlib given zeroin tensors -------------------------

def plot_decision_boundary(lib, model, X, y):
    """helper_functions.plot_decision_boundary; returns the grid's predictions."""
    import matplotlib.pyplot as plt
    model.to("cpu")
    X, y = X.to("cpu"), y.to("cpu")
    x_min, x_max = X[:, 0].min() - 0.1, X[:, 0].max() + 0.1
    y_min, y_max = X[:, 1].min() - 0.1, X[:, 1].max() + 0.1
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, 101), np.linspace(y_min, y_max, 101))
    X_to_pred_on = lib.from_numpy(np.column_stack((xx.ravel(), yy.ravel()))).float()
    model.eval()
    with lib.inference_mode():
        y_logits = model(X_to_pred_on)
    if len(lib.unique(y)) > 2:
        y_pred = lib.softmax(y_logits, dim=1).argmax(dim=1)
    else:
        y_pred = lib.round(lib.sigmoid(y_logits))
    y_pred = y_pred.reshape(xx.shape).detach().numpy()
    plt.contourf(xx, yy, y_pred, cmap=plt.cm.RdYlBu, alpha=0.7)
    plt.scatter(X[:, 0], X[:, 1], c=y, s=40, cmap=plt.cm.RdYlBu)
    plt.xlim(xx.min(), xx.max())
    plt.ylim(yy.min(), yy.max())
    return y_pred


def plot_loss_curves(results):
    import matplotlib.pyplot as plt
    epochs = range(len(results["train_loss"]))
    plt.figure(figsize=(15, 7))
    plt.subplot(1, 2, 1)
    plt.plot(epochs, results["train_loss"], label="train_loss")
    plt.plot(epochs, results["test_loss"], label="test_loss")
    plt.title("Loss")
    plt.legend()
    plt.subplot(1, 2, 2)
    plt.plot(epochs, results["train_acc"], label="train_accuracy")
    plt.plot(epochs, results["test_acc"], label="test_accuracy")
    plt.legend()
    return plt.gcf()


# torch's Tensor.__array_wrap__ takes one argument, which NumPy 2 deprecates
# (np.linspace of 0-d tensors); zeroin's takes three, checked below
@pytest.mark.filterwarnings("ignore:__array_wrap__ must accept context:DeprecationWarning")
def test_helper_functions_plot_with_zeroin_tensors(f32):
    import warnings
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt
    X, y = _blobs(n=80)
    torch.manual_seed(42)
    tmodel = _blob_model(torch)
    zmodel = _copy(tmodel, _blob_model(zeroin))
    grids = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        fig = plt.figure()
        with warnings.catch_warnings():
            if lib is zeroin:
                warnings.simplefilter("error", DeprecationWarning)
            grids[lib] = plot_decision_boundary(lib, model, lib.from_numpy(X).float(),
                                                lib.from_numpy(y))
        xlim = fig.axes[0].get_xlim()
        plt.close(fig)
        assert xlim == pytest.approx((X[:, 0].min() - 0.1, X[:, 0].max() + 0.1), abs=1e-5)
    assert grids[zeroin].shape == (101, 101) and grids[zeroin].dtype == np.int64
    assert (grids[zeroin] == grids[torch]).mean() > 0.999        # float32 ties aside
    binary = {}
    for lib, model in ((torch, torch.nn.Linear(2, 1)), (zeroin, zeroin.nn.Linear(2, 1))):
        if lib is zeroin:
            _copy(binary["model"], model)
        binary["model"] = model
        fig = plt.figure()
        binary[lib] = plot_decision_boundary(lib, model, lib.from_numpy(X).float(),
                                             lib.from_numpy((y > 1).astype(np.float32)))
        plt.close(fig)
    assert set(np.unique(binary[zeroin]).tolist()) <= {0.0, 1.0}
    assert (binary[zeroin].squeeze() == binary[torch].squeeze()).mean() > 0.999
    results = {"train_loss": [zeroin.tensor(1.0).item(), 0.5], "test_loss": [1.2, 0.7],
               "train_acc": [0.3, 0.6], "test_acc": [0.25, 0.5]}
    fig = plot_loss_curves(results)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "Loss"
    plt.close(fig)


def test_08_torchvisions_vit_b_16_without_weights_is_the_notebooks_vit():
    """vit_b_16 was missing from zeroin.vision.models: 86,567,656 parameters, 85,800,963
    with the notebook's new head (its torchinfo table); a small VisionTransformer equals the
    notebook's ViT run in torch with the weights mapped (float64; LayerNorm eps 1e-6)."""
    from zeroin.vision import models
    pretrained_vit = models.vit_b_16()
    assert sum(p.numel() for p in pretrained_vit.parameters()) == 86567656
    assert not _np(pretrained_vit.heads.head.weight).any()        # torchvision zeroes it
    for parameter in pretrained_vit.parameters():
        parameter.requires_grad = False
    zeroin.manual_seed(42)
    pretrained_vit.heads = zeroin.nn.Linear(in_features=768, out_features=3)
    assert sum(p.numel() for p in pretrained_vit.parameters()) == 85800963
    assert sum(p.numel() for p in pretrained_vit.parameters() if p.requires_grad) == 2307
    assert len(pretrained_vit.state_dict()) == 152
    assert repr(models.ViT_B_16_Weights.DEFAULT.transforms()).endswith(
        "interpolation=InterpolationMode.BILINEAR\n)")
    with pytest.raises(NotImplementedError, match=r"vit_b_16\(weights=ViT_B_16_Weights"):
        models.vit_b_16(weights=models.ViT_B_16_Weights.DEFAULT)
    torch.set_default_dtype(torch.float64)
    _, _, tViT = _vit_classes(torch)
    torch.manual_seed(0)
    tvit = tViT(**SMALL_VIT).eval()
    for m in tvit.modules():
        if isinstance(m, torch.nn.LayerNorm):
            m.eps = 1e-6
    zvit = models.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4,
                                    hidden_dim=48, mlp_dim=96, num_classes=3).eval()
    names = {"class_embedding": "class_token", "position_embedding": "encoder.pos_embedding",
             "patch_embedding.patcher": "conv_proj", "classifier.0": "encoder.ln",
             "classifier.1": "heads.head", "msa_block.layer_norm": "ln_1",
             "msa_block.multihead_attn": "self_attention", "mlp_block.layer_norm": "ln_2",
             "mlp_block.mlp": "mlp", "transformer_encoder.": "encoder.layers.encoder_layer_"}
    state = {}
    for k, v in tvit.state_dict().items():
        for a, b in names.items():
            k = k.replace(a, b)
        state[k] = zeroin.tensor(v.numpy().copy())
    zvit.load_state_dict(state)
    x = np.random.default_rng(11).random((2, 3, 32, 32))
    zout, tout = zvit(zeroin.tensor(x)), tvit(torch.tensor(x))
    _close(zout, tout, 1e-9)
    zout.square().sum().backward()
    tout.square().sum().backward()
    zgrads = dict(zvit.named_parameters())
    for k, v in tvit.named_parameters():
        for a, b in names.items():
            k = k.replace(a, b)
        _close(zgrads[k].grad, v.grad, rtol=1e-7, atol=1e-10)
    with pytest.raises(ValueError, match=r"expected images \(N, 3, 32, 32\), got shape "
                                         r"\(2, 3, 64, 64\)"):
        zvit(zeroin.rand(2, 3, 64, 64))
