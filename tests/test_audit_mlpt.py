"""Audit against Raschka, Liu and Mirjalili's *Machine Learning with PyTorch and Scikit-Learn*
(Packt 2022; code: rasbt/machine-learning-book), chapters 12-16, as a learner ports it
(``import zeroin as torch``, ``import zeroin.nn as nn``, ``from zeroin.utils.data import
DataLoader, TensorDataset, Dataset``). Each chapter's main code is written once and run with
``torch`` and with ``zeroin`` on data made here (scikit-learn's iris, a car table and images,
reviews and a text written here: nothing is downloaded). zeroin's generator is on PyTorch's
stream (``zeroin.random.use_torch_stream(True)``), so the book's ``torch.manual_seed(1)``
gives both libraries the same initial weights, noise, dropout masks, shuffled batches and
samples, with nothing copied. Results agree to 1e-10 in float64 and to float resolution in
float32 (PyTorch's default, the book's). See docs/mlpt.md."""
import importlib
import re
from collections import Counter, OrderedDict

import numpy as np
import pytest

import zeroin
from _audit import close, np_of as _np, torch_stream

torch = pytest.importorskip("torch")

LIBS = ("torch", "zeroin")
F32 = dict(rtol=2e-5, atol=2e-6)


def _lib(name):
    """The library and its modules as the book imports them: torch, nn, F, data, optim."""
    lib = torch if name == "torch" else zeroin
    data = importlib.import_module(lib.__name__ + ".utils.data")
    return lib, lib.nn, lib.nn.functional, data, lib.optim


@pytest.fixture(autouse=True)
def _restore():
    yield
    zeroin.random.use_torch_stream(False)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Both libraries on the torch stream with ``request.param`` as the default dtype
    (torch's goes back to float32 after the test, zeroin's to float64 in conftest)."""
    torch_stream()
    old = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, request.param))
    zeroin.set_default_dtype(getattr(zeroin, request.param))
    yield request.param
    torch.set_default_dtype(old)


def _same(z, t, tol=None):
    """zeroin's results ``z`` equal torch's ``t``: tensors of the same dtype, to 1e-10 in
    float64 and float resolution in float32 (or ``tol``), exactly for integers; lists,
    tuples and dicts item by item; Python floats to ``tol`` (1e-10 unless given)."""
    if isinstance(t, dict):
        assert z.keys() == t.keys()
        for k in t:
            _same(z[k], t[k], tol)
    elif isinstance(t, (list, tuple)):
        assert len(z) == len(t)
        for a, b in zip(z, t):
            _same(a, b, tol)
    elif isinstance(t, (str, bool, int)) or t is None:
        assert z == t
    elif isinstance(t, float):
        close(z, t, **(tol or dict(rtol=1e-10, atol=1e-10)))
    else:
        a, b = _np(z), _np(t)
        assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
        if a.dtype.kind in "biu":
            np.testing.assert_array_equal(a, b)
        else:
            close(a, b, **(tol or (F32 if a.dtype == np.float32 else {})))


def _both(run, *args, tol=None, **kw):
    """``run(name, *args, **kw)`` for torch and for zeroin, the results compared."""
    out = {name: run(name, *args, **kw) for name in LIBS}
    _same(out["zeroin"], out["torch"], tol)
    return out["zeroin"]


def _tol(dtype):
    """Python floats (``loss.item()``) of a float32 run to float resolution."""
    return F32 if dtype == "float32" else None


# --- chapter 12: parallelizing neural network training with PyTorch --------------------------

def _ch12_tensors(name):
    torch, *_ = _lib(name)
    torch.manual_seed(0)                    # the book draws its first rand(2, 3) unseeded
    a = [1, 2, 3]
    b = np.array([4, 5, 6], dtype=np.int32)
    t_a, t_b = torch.tensor(a), torch.from_numpy(b)
    out = [t_a, t_b, torch.is_tensor(a), torch.is_tensor(t_a)]
    t_ones = torch.ones(2, 3)
    out += [tuple(t_ones.shape), t_ones, torch.rand(2, 3), t_a.to(torch.int64)]
    t = torch.rand(3, 5)
    t_tr = torch.transpose(t, 0, 1)
    out += [t_tr, torch.zeros(30).reshape(5, 6), tuple(torch.squeeze(torch.zeros(1, 2, 1, 4, 1),
                                                                     2).shape)]
    torch.manual_seed(1)
    t1 = 2 * torch.rand(5, 2) - 1
    t2 = torch.normal(mean=0, std=1, size=(5, 2))
    out += [t1, t2, torch.multiply(t1, t2), torch.mean(t1, axis=0),
            torch.matmul(t1, torch.transpose(t2, 0, 1)),
            torch.matmul(torch.transpose(t1, 0, 1), t2),
            torch.linalg.norm(t1, ord=2, dim=1)]
    np.testing.assert_allclose(_np(out[-1]), np.sqrt(np.sum(np.square(t1.numpy()), axis=1)),
                               rtol=1e-6)
    torch.manual_seed(1)
    t = torch.rand(6)
    out += [[item.numpy() for item in torch.chunk(t, 3)]]
    torch.manual_seed(1)
    t = torch.rand(5)
    out += [[item.numpy() for item in torch.split(t, split_size_or_sections=[3, 2])]]
    out += [torch.cat([torch.ones(3), torch.zeros(2)], axis=0),
            torch.stack([torch.ones(3), torch.zeros(3)], axis=1)]
    return out


def test_ch12_creating_casting_reshaping_math_and_splitting_tensors_match_torch(dtype):
    out = _both(_ch12_tensors)
    assert out[1].dtype == zeroin.int32 and out[0].dtype == zeroin.int64
    assert [x.shape for x in out[-4]] == [(2,), (2,), (2,)]


def _joint_dataset(data):
    """The book's JointDataset, a subclass of the library's Dataset."""
    class JointDataset(data.Dataset):
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, idx):
            return self.x[idx], self.y[idx]
    return JointDataset


def _ch12_pipeline(name):
    torch, nn, F, data, _ = _lib(name)
    t = torch.arange(6, dtype=torch.float32)
    out = [[item for item in data.DataLoader(t)]]
    out += [[batch for batch in data.DataLoader(t, batch_size=3, drop_last=False)]]
    out += [[batch for batch in data.DataLoader(t, batch_size=4, drop_last=True)]]
    torch.manual_seed(1)
    t_x = torch.rand([4, 3], dtype=torch.float32)
    t_y = torch.arange(4)
    joint_dataset = _joint_dataset(data)(t_x, t_y)
    out += [[list(example) for example in joint_dataset]]
    joint_dataset = data.TensorDataset(t_x, t_y)
    out += [[list(example) for example in joint_dataset]]
    torch.manual_seed(1)
    data_loader = data.DataLoader(dataset=joint_dataset, batch_size=2, shuffle=True)
    out += [[list(batch) for batch in data_loader]]
    for epoch in range(2):
        out += [[list(batch) for batch in data_loader]]
    return out


def test_ch12_dataloader_joint_dataset_and_shuffled_batches_match_torch(dtype):
    out = _both(_ch12_pipeline)
    assert [b.shape for b in out[0]] == [(1,)] * 6 and len(out[2]) == 1
    assert sorted(int(i) for b in out[-1] for i in b[1]) == [0, 1, 2, 3]


def _linreg_data(torch, data):
    X_train = np.arange(10, dtype='float32').reshape((10, 1))
    y_train = np.array([1.0, 1.3, 3.1, 2.0, 5.0, 6.3, 6.6, 7.4, 8.0, 9.0], dtype='float32')
    X_train_norm = (X_train - np.mean(X_train)) / np.std(X_train)
    X_train_norm = torch.from_numpy(X_train_norm)
    y_train = torch.from_numpy(y_train).float()
    train_ds = data.TensorDataset(X_train_norm, y_train)
    batch_size = 1
    return data.DataLoader(train_ds, batch_size, shuffle=True), X_train


def _ch12_linreg_by_hand(name, num_epochs=12):
    torch, nn, F, data, optim = _lib(name)
    train_dl, X_train = _linreg_data(torch, data)
    torch.manual_seed(1)
    weight = torch.randn(1)
    weight.requires_grad_()
    bias = torch.zeros(1, requires_grad=True)

    def loss_fn(input, target):
        return (input - target).pow(2).mean()

    def model(xb):
        return xb @ weight + bias

    learning_rate = 0.001
    losses = []
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch)
            loss.backward()
            with torch.no_grad():
                weight -= weight.grad * learning_rate
                bias -= bias.grad * learning_rate
                weight.grad.zero_()
                bias.grad.zero_()
        losses.append(loss.item())
    X_test = np.linspace(0, 9, num=100, dtype='float32').reshape(-1, 1)
    X_test_norm = torch.from_numpy((X_test - np.mean(X_train)) / np.std(X_train))
    y_pred = model(X_test_norm).detach().numpy()
    return [losses, weight.item(), bias.item(), y_pred, weight.requires_grad, bias.grad]


def _ch12_linreg_nn(name, num_epochs=12):
    torch, nn, F, data, optim = _lib(name)
    train_dl, X_train = _linreg_data(torch, data)
    torch.manual_seed(1)
    model = nn.Linear(1, 1)
    loss_fn = nn.MSELoss(reduction='mean')
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    losses = []
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)[:, 0]
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        losses.append(loss.item())
    return [losses, model.weight.item(), model.bias.item(), model.weight.grad]


def test_ch12_linear_regression_by_hand_and_with_nn_linear_match_torch(f32):
    torch_stream()
    out = _both(_ch12_linreg_by_hand, tol=F32)
    assert out[0][-1] < out[0][0] and out[4] is True
    out = _both(_ch12_linreg_nn, tol=F32)
    assert out[0][-1] < out[0][0]


def test_ch12_linear_regression_with_float64_weights_is_refused_by_both():
    """The book's inputs are float32 arrays: with float64 weights (zeroin's default dtype,
    or PyTorch's after ``set_default_dtype(float64)``) ``xb @ weight`` is an error in both;
    zeroin's says to set the default dtype to float32."""
    torch_stream()
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with pytest.raises(RuntimeError, match="dtype"):
            _ch12_linreg_by_hand("torch", 1)
    finally:
        torch.set_default_dtype(old)
    with pytest.raises(TypeError, match=r"matmul: .*set_default_dtype\(zeroin.float32\)"):
        _ch12_linreg_by_hand("zeroin", 1)


def _iris(torch):
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    iris = load_iris()
    X, y = iris['data'], iris['target']
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1./3, random_state=1)
    X_test_norm = torch.from_numpy((X_test - np.mean(X_train)) / np.std(X_train)).float()
    X_train_norm = (X_train - np.mean(X_train)) / np.std(X_train)
    return (torch.from_numpy(X_train_norm).float(), torch.from_numpy(y_train), X_test_norm,
            torch.from_numpy(y_test))


def _iris_model(nn):
    class Model(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.layer1 = nn.Linear(input_size, hidden_size)
            self.layer2 = nn.Linear(hidden_size, output_size)

        def forward(self, x):
            x = self.layer1(x)
            x = nn.Sigmoid()(x)
            x = self.layer2(x)
            x = nn.Softmax(dim=1)(x)
            return x
    return Model


def _ch12_iris(name, num_epochs=3):
    torch, nn, F, data, optim = _lib(name)
    X_train_norm, y_train, X_test_norm, y_test = _iris(torch)
    train_ds = data.TensorDataset(X_train_norm, y_train)
    torch.manual_seed(1)
    batch_size = 2
    train_dl = data.DataLoader(train_ds, batch_size, shuffle=True)
    Model = _iris_model(nn)
    model = Model(X_train_norm.shape[1], 16, 3)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    loss_hist = [0] * num_epochs
    accuracy_hist = [0] * num_epochs
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch.long())
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_hist[epoch] += loss.item()*y_batch.size(0)
            is_correct = (torch.argmax(pred, dim=1) == y_batch).float()
            accuracy_hist[epoch] += is_correct.sum()
        loss_hist[epoch] /= len(train_dl.dataset)
        accuracy_hist[epoch] /= len(train_dl.dataset)
    pred_test = model(X_test_norm)
    correct = (torch.argmax(pred_test, dim=1) == y_test).float()
    accuracy = correct.mean()
    return model, [loss_hist, accuracy_hist, pred_test, f'Test Acc.: {accuracy:.4f}',
                   model.state_dict()]


def test_ch12_iris_mlp_training_and_test_accuracy_match_torch(f32):
    """The book's model ends in ``nn.Softmax`` and trains with ``nn.CrossEntropyLoss``,
    which applies log-softmax again: the same numbers in both, and zeroin says so once."""
    torch_stream()
    tmodel, tout = _ch12_iris("torch")
    with pytest.warns(UserWarning, match="softmaxed twice"):
        zmodel, zout = _ch12_iris("zeroin")
    _same(zout, tout, tol=F32)
    assert zout[1][0].dtype == zeroin.float32 and zout[0][-1] < zout[0][0]



def test_ch12_saving_the_whole_model_is_refused_and_its_state_dict_round_trips(f32, tmp_path):
    """``torch.save(model, path)`` pickles the model's class; zeroin writes no pickle and
    says to save ``model.state_dict()``, which the book's second way does."""
    torch_stream()
    with pytest.warns(UserWarning, match="softmaxed twice"):
        model, _ = _ch12_iris("zeroin", num_epochs=1)
    path = tmp_path / 'iris_classifier.pt'
    with pytest.raises(Exception, match=r"state_dict\(\), path\).*load_state_dict"):
        zeroin.save(model, path)
    assert not path.exists()
    path = tmp_path / 'iris_classifier_state.pt'
    zeroin.save(model.state_dict(), path)
    model_new = _iris_model(zeroin.nn)(4, 16, 3)
    model_new.load_state_dict(zeroin.load(path))
    model_new.eval()
    X_test_norm = _iris(zeroin)[2]
    np.testing.assert_array_equal(_np(model_new(X_test_norm)), _np(model(X_test_norm)))


def _ch12_activations(name):
    torch, *_ = _lib(name)
    W = np.array([[1.1, 1.2, 0.8, 0.4], [0.2, 0.4, 1.0, 0.2], [0.6, 1.5, 1.2, 0.7]])
    A = np.array([[1, 0.1, 0.4, 0.6]])
    Z = np.dot(W, A[0])
    z = np.arange(-5, 5, 0.005)
    return [torch.softmax(torch.from_numpy(Z), dim=0), torch.tanh(torch.from_numpy(z)),
            torch.sigmoid(torch.from_numpy(z)), torch.special.expit(torch.from_numpy(z)),
            torch.relu(torch.from_numpy(z))]


def test_ch12_activation_functions_match_numpy_scipy_and_torch():
    from scipy.special import expit
    out = _both(_ch12_activations)
    W = np.array([[1.1, 1.2, 0.8, 0.4], [0.2, 0.4, 1.0, 0.2], [0.6, 1.5, 1.2, 0.7]])
    Z = np.dot(W, np.array([1, 0.1, 0.4, 0.6]))
    z = np.arange(-5, 5, 0.005)
    close(out[0], np.exp(Z) / np.sum(np.exp(Z)), 1e-15)
    close(out[1], np.tanh(z), 1e-15)
    close(out[2], expit(z), 1e-15)
    close(out[3], 1.0 / (1.0 + np.exp(-z)), 1e-15)
    assert out[0].dtype == zeroin.float64


# --- chapter 13: going deeper, the mechanics of PyTorch --------------------------------------

def _ch13_graphs(name):
    torch, nn, F, data, optim = _lib(name)

    def compute_z(a, b, c):
        r1 = torch.sub(a, b)
        r2 = torch.mul(r1, 2)
        z = torch.add(r2, c)
        return z
    out = [compute_z(torch.tensor(1), torch.tensor(2), torch.tensor(3)),
           compute_z(torch.tensor([1]), torch.tensor([2]), torch.tensor([3])),
           compute_z(torch.tensor([[1]]), torch.tensor([[2]]), torch.tensor([[3]]))]
    a = torch.tensor(3.14, requires_grad=True)
    b = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0])
    out += [a.requires_grad, b.requires_grad, w.requires_grad, w.requires_grad_().requires_grad]
    a, b = torch.tensor(1, dtype=torch.float32), torch.tensor(2, dtype=torch.float32)
    out += [2 * (a * b), torch.tensor(1, dtype=torch.float32).dtype == torch.float32]
    torch.manual_seed(1)
    w = torch.empty(2, 3)
    nn.init.xavier_normal_(w)
    out += [w]

    class MyModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.w1 = torch.empty(2, 3, requires_grad=True)
            nn.init.xavier_normal_(self.w1)
            self.w2 = torch.empty(1, 2, requires_grad=True)
            nn.init.xavier_normal_(self.w2)
    m = MyModule()       # plain tensor attributes: not parameters, in both
    out += [m.w1.detach(), m.w2.detach(), m.w1.is_leaf, len(list(m.parameters()))]
    return out


def test_ch13_computation_graphs_tensors_and_xavier_init_match_torch(dtype):
    out = _both(_ch13_graphs)
    assert out[0].item() == 1 and out[0].dtype == zeroin.int64 and out[2].shape == (1, 1)


def _ch13_grads(name):
    torch, nn, F, data, optim = _lib(name)
    autograd = importlib.import_module(torch.__name__ + ".autograd")
    w = torch.tensor(1.0, requires_grad=True)
    b = torch.tensor(0.5, requires_grad=True)
    x = torch.tensor([1.4])
    y = torch.tensor([2.1])
    z = torch.add(torch.mul(w, x), b)
    loss = (y-z).pow(2).sum()
    grads = autograd.grad(loss, [w, b], retain_graph=True)
    loss.backward()
    return [w.grad, b.grad, 2 * x * ((w * x + b) - y), list(grads)]


def test_ch13_gradients_by_backward_and_autograd_grad_match_torch_and_by_hand(dtype):
    out = _both(_ch13_grads)
    close(out[0], out[2][0], 1e-6)
    _same(out[3], [out[0], out[1]])


def _xor_data(torch, data):
    dt = torch.get_default_dtype()         # the book's float32, float64 where set
    np.random.seed(1)
    torch.manual_seed(1)
    x = np.random.uniform(low=-1, high=1, size=(200, 2))
    y = np.ones(len(x))
    y[x[:, 0] * x[:, 1] < 0] = 0
    n_train = 100
    x_train = torch.tensor(x[:n_train, :], dtype=dt)
    y_train = torch.tensor(y[:n_train], dtype=dt)
    x_valid = torch.tensor(x[n_train:, :], dtype=dt)
    y_valid = torch.tensor(y[n_train:], dtype=dt)
    train_ds = data.TensorDataset(x_train, y_train)
    batch_size = 2
    torch.manual_seed(1)
    train_dl = data.DataLoader(train_ds, batch_size, shuffle=True)
    return train_dl, x_valid, y_valid


def _xor_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, x_valid, y_valid,
               noisy=False):
    n_train, batch_size = 100, 2
    loss_hist_train = [0] * num_epochs
    accuracy_hist_train = [0] * num_epochs
    loss_hist_valid = [0] * num_epochs
    accuracy_hist_valid = [0] * num_epochs
    for epoch in range(num_epochs):
        for x_batch, y_batch in train_dl:
            pred = (model(x_batch, True) if noisy else model(x_batch))[:, 0]
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_hist_train[epoch] += loss.item()
            is_correct = ((pred >= 0.5).float() == y_batch).float()
            accuracy_hist_train[epoch] += is_correct.mean()
        loss_hist_train[epoch] /= n_train/batch_size
        accuracy_hist_train[epoch] /= n_train/batch_size
        pred = model(x_valid)[:, 0]
        loss = loss_fn(pred, y_valid)
        loss_hist_valid[epoch] = loss.item()
        is_correct = ((pred >= 0.5).float() == y_valid).float()
        accuracy_hist_valid[epoch] += is_correct.mean()
    return loss_hist_train, loss_hist_valid, accuracy_hist_train, accuracy_hist_valid


def _xor_module(torch, nn):
    class MyModule(nn.Module):
        def __init__(self):
            super().__init__()
            l1 = nn.Linear(2, 4)
            a1 = nn.ReLU()
            l2 = nn.Linear(4, 4)
            a2 = nn.ReLU()
            l3 = nn.Linear(4, 1)
            a3 = nn.Sigmoid()
            l = [l1, a1, l2, a2, l3, a3]    # noqa: E741 (the book's name)
            self.module_list = nn.ModuleList(l)

        def forward(self, x):
            for f in self.module_list:
                x = f(x)
            return x

        def predict(self, x):
            x = torch.tensor(x, dtype=torch.get_default_dtype())     # the book: float32
            pred = self.forward(x)[:, 0]
            return (pred >= 0.5).float()
    return MyModule


def _ch13_xor(name, num_epochs=2):
    torch, nn, F, data, optim = _lib(name)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 32), nn.ReLU())
    nn.init.xavier_uniform_(model[0].weight)
    l1_penalty = 0.01 * model[2].weight.abs().sum()
    out = [model[0].weight, l1_penalty]
    train_dl, x_valid, y_valid = _xor_data(torch, data)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    torch.manual_seed(1)
    out += [_xor_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, x_valid, y_valid)]
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU(),
                          nn.Linear(4, 1), nn.Sigmoid())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.015)
    out += [_xor_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, x_valid, y_valid)]
    model = _xor_module(torch, nn)()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.015)
    out += [_xor_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, x_valid, y_valid)]
    out += [model.predict(x_valid.numpy()), repr(model)]
    return out


def test_ch13_xor_classifiers_sequential_and_module_list_train_as_torch(dtype):
    """The book's data are float32 (``dtype=torch.float32``); the float64 run writes
    ``torch.get_default_dtype()`` there instead."""
    out = _both(_ch13_xor, tol=_tol(dtype))
    assert out[-2].dtype == zeroin.float32 and "(module_list): ModuleList(" in out[-1]


def _noisy_linear(torch, nn):
    class NoisyLinear(nn.Module):
        def __init__(self, input_size, output_size, noise_stddev=0.1):
            super().__init__()
            w = torch.Tensor(input_size, output_size)
            self.w = nn.Parameter(w)
            nn.init.xavier_uniform_(self.w)
            b = torch.Tensor(output_size).fill_(0)
            self.b = nn.Parameter(b)
            self.noise_stddev = noise_stddev

        def forward(self, x, training=False):
            if training:
                noise = torch.normal(0.0, self.noise_stddev, x.shape)
                x_new = torch.add(x, noise)
            else:
                x_new = x
            return torch.add(torch.mm(x_new, self.w), self.b)
    return NoisyLinear


def _noisy_module(torch, nn):
    NoisyLinear = _noisy_linear(torch, nn)

    class MyNoisyModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1 = NoisyLinear(2, 4, 0.07)
            self.a1 = nn.ReLU()
            self.l2 = nn.Linear(4, 4)
            self.a2 = nn.ReLU()
            self.l3 = nn.Linear(4, 1)
            self.a3 = nn.Sigmoid()

        def forward(self, x, training=False):
            x = self.l1(x, training)
            x = self.a1(x)
            x = self.l2(x)
            x = self.a2(x)
            x = self.l3(x)
            x = self.a3(x)
            return x
    return MyNoisyModule


def _ch13_noisy(name, num_epochs=2):
    torch, nn, F, data, optim = _lib(name)
    torch.manual_seed(1)
    noisy_layer = _noisy_linear(torch, nn)(4, 2)
    x = torch.zeros((1, 4))
    out = [noisy_layer(x, training=True), noisy_layer(x, training=True),
           noisy_layer(x, training=False),
           [str(p.dtype).replace("torch.", "") for p in noisy_layer.parameters()]]
    train_dl, x_valid, y_valid = _xor_data(torch, data)
    torch.manual_seed(1)
    model = _noisy_module(torch, nn)()
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.015)
    torch.manual_seed(1)
    out += [_xor_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, x_valid, y_valid,
                       noisy=True), [n for n, _ in model.named_parameters()]]
    return out


def test_ch13_noisy_linear_layer_draws_torchs_noise_and_trains_as_torch(dtype):
    out = _both(_ch13_noisy, tol=_tol(dtype))
    assert not np.allclose(_np(out[0]), _np(out[1])) and out[2].abs().sum().item() == 0
    assert out[-1][:2] == ["l1.w", "l1.b"]


def _auto_mpg():
    """A table shaped as the book's auto-mpg.data after ``dropna``: MPG, Cylinders,
    Displacement, Horsepower, Weight, Acceleration, Model Year (70-82), Origin (1-3)."""
    rng = np.random.default_rng(13)
    n = 60
    cyl = rng.choice([4, 6, 8], n).astype(float)
    table = np.c_[rng.uniform(10, 45, n).round(1), cyl, cyl * rng.uniform(20, 60, n).round(0),
                  rng.uniform(50, 220, n).round(0), rng.uniform(1600, 5000, n).round(0),
                  rng.uniform(8, 25, n).round(1), rng.integers(70, 83, n).astype(float),
                  rng.integers(1, 4, n).astype(float)]
    return table


def _ch13_fuel(name, num_epochs=3):
    from sklearn.model_selection import train_test_split
    torch, nn, F, data, optim = _lib(name)
    one_hot = F.one_hot
    df = _auto_mpg()         # columns as the book's DataFrame, by position
    df_train, df_test = train_test_split(df, train_size=0.8, random_state=1)
    numeric = [1, 2, 3, 4, 5]
    df_train_norm, df_test_norm = df_train.copy(), df_test.copy()
    for col in numeric:
        mean, std = df_train[:, col].mean(), df_train[:, col].std(ddof=1)   # describe()
        df_train_norm[:, col] = (df_train_norm[:, col] - mean)/std
        df_test_norm[:, col] = (df_test_norm[:, col] - mean)/std
    boundaries = torch.tensor([73, 76, 79])
    buckets = []
    for d in (df_train_norm, df_test_norm):
        v = torch.tensor(d[:, 6])
        buckets.append(torch.bucketize(v, boundaries, right=True))
    total_origin = len(set(df_train_norm[:, 7]))
    xs = []
    for d, bucket in zip((df_train_norm, df_test_norm), buckets):
        origin_encoded = one_hot(torch.from_numpy(d[:, 7].astype(np.int64)) % total_origin)
        x_numeric = torch.tensor(np.c_[d[:, numeric], bucket.numpy()])
        xs.append(torch.cat([x_numeric, origin_encoded], 1).float())
    x_train, x_test = xs
    y_train = torch.tensor(df_train_norm[:, 0]).float()
    y_test = torch.tensor(df_test_norm[:, 0]).float()
    train_ds = data.TensorDataset(x_train, y_train)
    batch_size = 8
    torch.manual_seed(1)
    train_dl = data.DataLoader(train_ds, batch_size, shuffle=True)
    hidden_units = [8, 4]
    input_size = x_train.shape[1]
    all_layers = []
    for hidden_unit in hidden_units:
        layer = nn.Linear(input_size, hidden_unit)
        all_layers.append(layer)
        all_layers.append(nn.ReLU())
        input_size = hidden_unit
    all_layers.append(nn.Linear(hidden_units[-1], 1))
    model = nn.Sequential(*all_layers)
    loss_fn = nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    torch.manual_seed(1)
    hist = []
    for epoch in range(num_epochs):
        loss_hist_train = 0
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)[:, 0]
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_hist_train += loss.item()
        hist.append(loss_hist_train/len(train_dl))
    with torch.no_grad():
        pred = model(x_test.float())[:, 0]
        loss = loss_fn(pred, y_test)
        hist += [loss.item(), nn.L1Loss()(pred, y_test).item()]    # Test MSE, MAE
    return [buckets, x_train, hist, pred, repr(model)]


def test_ch13_fuel_efficiency_regression_with_bucketized_and_one_hot_features_matches_torch(f32):
    torch_stream()
    out = _both(_ch13_fuel, tol=F32)
    assert out[0][0].dtype == zeroin.int64 and set(_np(out[0][0])) <= {0, 1, 2, 3}
    assert out[1].shape == (48, 9) and out[1].dtype == zeroin.float32


def _mnist_like(n=96, seed=5):
    """uint8 digits (n, 28, 28) and labels, as ``MNIST(...).data`` / ``.targets``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    """A folder as torchvision's MNIST root: ``MNIST/raw`` holds the four gzipped IDX files,
    96 made-up training digits and 40 test digits."""
    import gzip
    raw = tmp_path_factory.mktemp("mnist") / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, (images, labels) in (("train", _mnist_like()), ("t10k", _mnist_like(40, 6))):
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels.astype(np.uint8))):
            head = bytes([0, 0, 8, arr.ndim]) + np.array(arr.shape, ">i4").tobytes()
            with gzip.open(raw / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(head + arr.tobytes())
    return raw.parent.parent


def _mnist(name, root, train):
    """The book's ``torchvision.datasets.MNIST(root=image_path, train=train,
    transform=transforms.Compose([transforms.ToTensor()]), download=True)``: zeroin's
    ``zeroin.vision.datasets.MNIST`` reads the files; torch's side (torchvision is not
    installed) is a Dataset over the same digits."""
    torch, nn, F, data, optim = _lib(name)
    if name == "zeroin":
        from zeroin.vision import datasets, transforms
        transform = transforms.Compose([transforms.ToTensor()])
        return datasets.MNIST(root=root, train=train, transform=transform, download=True)
    images, labels = _mnist_like() if train else _mnist_like(40, 6)

    class MNIST(data.Dataset):
        def __init__(self):
            self.data, self.targets = torch.from_numpy(images), torch.from_numpy(labels)

        def __len__(self):
            return len(self.data)

        def __getitem__(self, i):
            return self.data[i].unsqueeze(0) / 255., int(self.targets[i])     # ToTensor()
    return MNIST()


def _ch13_mnist_mlp(name, root, num_epochs=2):
    torch, nn, F, data, optim = _lib(name)
    mnist_train_dataset = _mnist(name, root, True)
    mnist_test_dataset = _mnist(name, root, False)
    batch_size = 32
    torch.manual_seed(1)
    train_dl = data.DataLoader(mnist_train_dataset, batch_size, shuffle=True)
    hidden_units = [32, 16]
    image_size = mnist_train_dataset[0][0].shape
    input_size = image_size[0] * image_size[1] * image_size[2]
    all_layers = [nn.Flatten()]
    for hidden_unit in hidden_units:
        layer = nn.Linear(input_size, hidden_unit)
        all_layers.append(layer)
        all_layers.append(nn.ReLU())
        input_size = hidden_unit
    all_layers.append(nn.Linear(hidden_units[-1], 10))
    model = nn.Sequential(*all_layers)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    torch.manual_seed(1)
    hist = []
    for epoch in range(num_epochs):
        accuracy_hist_train = 0
        for x_batch, y_batch in train_dl:
            pred = model(x_batch)
            loss = loss_fn(pred, y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            is_correct = (torch.argmax(pred, dim=1) == y_batch).float()
            accuracy_hist_train += is_correct.sum()
        accuracy_hist_train /= len(train_dl.dataset)
        hist.append(f'Epoch {epoch}  Accuracy {accuracy_hist_train:.4f}')
    pred = model(mnist_test_dataset.data / 255.)
    is_correct = (torch.argmax(pred, dim=1) == mnist_test_dataset.targets).float()
    hist.append(f'Test accuracy: {is_correct.mean():.4f}')
    return [input_size, hist, pred, loss.item()]


def test_ch13_mnist_mlp_on_vision_datasets_mnist_trains_as_torch(dtype, mnist_root):
    out = _both(_ch13_mnist_mlp, mnist_root, tol=_tol(dtype))
    assert out[2].shape == (40, 10) and out[2].dtype == getattr(zeroin, dtype)


# --- chapter 14: classifying images with deep convolutional neural networks ------------------

def _conv1d(x, w, p=0, s=1):
    w_rot = np.array(w[::-1])
    x_padded = np.array(x)
    if p > 0:
        zero_pad = np.zeros(shape=p)
        x_padded = np.concatenate([zero_pad, x_padded, zero_pad])
    res = []
    for i in range(0, int((len(x_padded) - len(w_rot))) + 1, s):
        res.append(np.sum(x_padded[i:i+w_rot.shape[0]] * w_rot))
    return np.array(res)


def _conv2d(X, W, p=(0, 0), s=(1, 1)):
    W_rot = np.array(W)[::-1, ::-1]
    X_orig = np.array(X)
    n1 = X_orig.shape[0] + 2*p[0]
    n2 = X_orig.shape[1] + 2*p[1]
    X_padded = np.zeros(shape=(n1, n2))
    X_padded[p[0]:p[0]+X_orig.shape[0], p[1]:p[1]+X_orig.shape[1]] = X_orig
    res = []
    for i in range(0, int((X_padded.shape[0] - W_rot.shape[0])/s[0])+1, s[0]):
        res.append([])
        for j in range(0, int((X_padded.shape[1] - W_rot.shape[1])/s[1])+1, s[1]):
            X_sub = X_padded[i:i+W_rot.shape[0], j:j+W_rot.shape[1]]
            res[-1].append(np.sum(X_sub * W_rot))
    return np.array(res)


def test_ch14_convolutions_by_hand_equal_numpy_scipy_and_conv_layers_with_flipped_kernels():
    """The book's convolutions rotate the kernel; PyTorch's layers (and zeroin's) compute
    cross-correlations, so the layers give the book's numbers with the kernel flipped."""
    import scipy.signal
    x, w = [1, 3, 2, 4, 5, 6, 1, 3], [1, 0, 3, 1, 2]
    X = [[1, 3, 2, 4], [5, 6, 1, 3], [1, 2, 0, 2], [3, 4, 3, 2]]
    W = [[1, 0, 3], [1, 2, 1], [0, 1, 1]]
    np.testing.assert_array_equal(_conv1d(x, w, p=2, s=1), np.convolve(x, w, mode='same'))
    np.testing.assert_array_equal(_conv2d(X, W, p=(1, 1), s=(1, 1)),
                                  scipy.signal.convolve2d(X, W, mode='same'))
    out = {}
    for name in LIBS:
        torch, nn, F, *_ = _lib(name)
        xt = torch.tensor(x, dtype=torch.float64).reshape(1, 1, -1)
        Xt = torch.tensor(X, dtype=torch.float64).reshape(1, 1, 4, 4)
        w_rot = torch.tensor(w[::-1], dtype=torch.float64).reshape(1, 1, -1)
        W_rot = torch.tensor(np.array(W)[::-1, ::-1].copy(), dtype=torch.float64)
        out[name] = [F.conv1d(xt, w_rot, padding=2),
                     F.conv2d(Xt, W_rot.reshape(1, 1, 3, 3), padding=1),
                     F.conv1d(xt, w_rot, padding=2, stride=2)]
    _same(out["zeroin"], out["torch"])
    np.testing.assert_array_equal(_np(out["zeroin"][0]).ravel(), _conv1d(x, w, p=2))
    np.testing.assert_array_equal(_np(out["zeroin"][1])[0, 0], _conv2d(X, W, p=(1, 1)))
    np.testing.assert_array_equal(_np(out["zeroin"][2]).ravel(), _conv1d(x, w, p=2, s=2))


def _ch14_losses(name):
    torch, nn, F, *_ = _lib(name)
    loss_func = nn.BCELoss()
    loss = loss_func(torch.tensor([0.9]), torch.tensor([1.0]))
    l2_lambda = 0.001
    torch.manual_seed(1)
    conv_layer = nn.Conv2d(in_channels=3, out_channels=5, kernel_size=5)
    out = [loss + l2_lambda * sum([(p**2).sum() for p in conv_layer.parameters()])]
    linear_layer = nn.Linear(10, 16)
    out += [loss + l2_lambda * sum([(p**2).sum() for p in linear_layer.parameters()])]
    logits = torch.tensor([0.8])
    probas = torch.sigmoid(logits)
    target = torch.tensor([1.0])
    out += [f'BCE (w Probas): {nn.BCELoss()(probas, target):.4f}',
            f'BCE (w Logits): {nn.BCEWithLogitsLoss()(logits, target):.4f}']
    logits = torch.tensor([[1.5, 0.8, 2.1]])
    probas = torch.softmax(logits, dim=1)
    target = torch.tensor([2])
    out += [f'CCE (w Logits): {nn.CrossEntropyLoss()(logits, target):.4f}',
            f'CCE (w Probas): {nn.NLLLoss()(torch.log(probas), target):.4f}']
    return out


def test_ch14_l2_penalty_and_classification_losses_match_torch(dtype):
    out = _both(_ch14_losses)
    assert out[2:] == ['BCE (w Probas): 0.3711', 'BCE (w Logits): 0.3711',
                       'CCE (w Logits): 0.5996', 'CCE (w Probas): 0.5996']


def _mnist_cnn(nn):
    model = nn.Sequential()
    model.add_module('conv1', nn.Conv2d(in_channels=1, out_channels=32, kernel_size=5, padding=2))
    model.add_module('relu1', nn.ReLU())
    model.add_module('pool1', nn.MaxPool2d(kernel_size=2))
    model.add_module('conv2', nn.Conv2d(in_channels=32, out_channels=64, kernel_size=5,
                                        padding=2))
    model.add_module('relu2', nn.ReLU())
    model.add_module('pool2', nn.MaxPool2d(kernel_size=2))
    return model


def _cnn_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, valid_dl, binary):
    """The book's train() of chapter 14 (``binary``: the smile classifier's lines, whose
    ``y_batch.float()`` is ``y_batch.to(dt)``: float64 targets in the float64 run, as
    ``BCELoss`` wants in PyTorch)."""
    device = torch.device("cpu")
    dt = torch.get_default_dtype()
    hist = [[0] * num_epochs for _ in range(4)]
    for epoch in range(num_epochs):
        model.train()
        for x_batch, y_batch in train_dl:
            x_batch = x_batch.to(device)
            y_batch = y_batch.to(device)
            pred = model(x_batch)[:, 0] if binary else model(x_batch)
            loss = loss_fn(pred, y_batch.to(dt) if binary else y_batch)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            hist[0][epoch] += loss.item()*y_batch.size(0)
            is_correct = (((pred >= 0.5).float() if binary else torch.argmax(pred, dim=1))
                          == y_batch).float()
            hist[2][epoch] += is_correct.sum().cpu()
        hist[0][epoch] /= len(train_dl.dataset)
        hist[2][epoch] /= len(train_dl.dataset)
        model.eval()
        with torch.no_grad():
            for x_batch, y_batch in valid_dl:
                pred = model(x_batch)[:, 0] if binary else model(x_batch)
                loss = loss_fn(pred, y_batch.to(dt) if binary else y_batch)
                hist[1][epoch] += loss.item()*y_batch.size(0)
                is_correct = (((pred >= 0.5).float() if binary else torch.argmax(pred, dim=1))
                              == y_batch).float()
                hist[3][epoch] += is_correct.sum().cpu()
        hist[1][epoch] /= len(valid_dl.dataset)
        hist[3][epoch] /= len(valid_dl.dataset)
    return hist


def _ch14_mnist_cnn(name, root, num_epochs=1):
    torch, nn, F, data, optim = _lib(name)
    torch.manual_seed(1)
    model = _mnist_cnn(nn)
    x = torch.ones((4, 1, 28, 28))
    shapes = [tuple(model(x).shape)]
    model.add_module('flatten', nn.Flatten())
    shapes.append(tuple(model(x).shape))
    model.add_module('fc1', nn.Linear(3136, 1024))
    model.add_module('relu3', nn.ReLU())
    model.add_module('dropout', nn.Dropout(p=0.5))
    model.add_module('fc2', nn.Linear(1024, 10))
    mnist_dataset = _mnist(name, root, True)
    mnist_valid_dataset = data.Subset(mnist_dataset, torch.arange(4))
    mnist_train_dataset = data.Subset(mnist_dataset, torch.arange(4, 12))   # the book: to the end
    batch_size = 4
    torch.manual_seed(1)
    train_dl = data.DataLoader(mnist_train_dataset, batch_size, shuffle=True)
    valid_dl = data.DataLoader(mnist_valid_dataset, batch_size, shuffle=False)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    torch.manual_seed(1)
    hist = _cnn_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, valid_dl, False)
    mnist_test_dataset = _mnist(name, root, False)
    model_cpu = model.cpu()
    pred = model_cpu(mnist_test_dataset.data.unsqueeze(1) / 255.)
    is_correct = (torch.argmax(pred, dim=1) == mnist_test_dataset.targets).float()
    img = mnist_test_dataset[0][0][0, :, :]
    y_pred = torch.argmax(model(img.unsqueeze(0).unsqueeze(1)))
    return [shapes, hist, pred, f'Test accuracy: {is_correct.mean():.4f}', y_pred.item(),
            repr(model), dict(model.state_dict())]


def _adam_states_agree(z, t, dtype):
    """Weights after a few Adam steps in float32: a step moves a weight by about ``lr``
    whatever its gradient's size, so where a gradient is at rounding level the two runs
    may step apart; a tenth of ``lr`` (1e-3) bounds that, a wrong update is ``lr`` away,
    and all but a few weights in a hundred agree to float resolution. In float64: 1e-10."""
    if dtype == "float64":
        return _same(z, t)
    _same(z, t, tol=dict(rtol=1e-3, atol=1e-4))
    for k in t:
        apart = ~np.isclose(_np(z[k]), _np(t[k]), **F32)
        assert apart.sum() <= 1 + apart.size // 100, (k, apart.sum(), apart.size)


def test_ch14_mnist_cnn_built_with_add_module_trains_as_torch(dtype, mnist_root):
    out = {name: _ch14_mnist_cnn(name, mnist_root) for name in LIBS}
    _adam_states_agree(out["zeroin"].pop(), out["torch"].pop(), dtype)
    _same(out["zeroin"], out["torch"], tol=dict(rtol=1e-4, atol=1e-5) if dtype == "float32"
          else None)
    out = out["zeroin"]
    assert out[0] == [(4, 64, 7, 7), (4, 3136)]


def _smile_cnn(nn):
    model = nn.Sequential()
    model.add_module('conv1', nn.Conv2d(in_channels=3, out_channels=32, kernel_size=3, padding=1))
    model.add_module('relu1', nn.ReLU())
    model.add_module('pool1', nn.MaxPool2d(kernel_size=2))
    model.add_module('dropout1', nn.Dropout(p=0.5))
    model.add_module('conv2', nn.Conv2d(in_channels=32, out_channels=64, kernel_size=3,
                                        padding=1))
    model.add_module('relu2', nn.ReLU())
    model.add_module('pool2', nn.MaxPool2d(kernel_size=2))
    model.add_module('dropout2', nn.Dropout(p=0.5))
    model.add_module('conv3', nn.Conv2d(in_channels=64, out_channels=128, kernel_size=3,
                                        padding=1))
    model.add_module('relu3', nn.ReLU())
    model.add_module('pool3', nn.MaxPool2d(kernel_size=2))
    model.add_module('conv4', nn.Conv2d(in_channels=128, out_channels=256, kernel_size=3,
                                        padding=1))
    model.add_module('relu4', nn.ReLU())
    return model


def _ch14_smile(name, num_epochs=1):
    torch, nn, F, data, optim = _lib(name)
    rng = np.random.default_rng(8)
    dt = str(torch.get_default_dtype()).replace("torch.", "")
    images = rng.random((12, 3, 64, 64)).astype(dt)    # ToTensor()'s crops, default dtype
    smiles = rng.integers(0, 2, 12)                            # attr[18]
    torch.manual_seed(1)
    model = _smile_cnn(nn)
    x = torch.ones((4, 3, 64, 64))
    shapes = [tuple(model(x).shape)]
    model.add_module('pool4', nn.AvgPool2d(kernel_size=8))
    model.add_module('flatten', nn.Flatten())
    shapes.append(tuple(model(x).shape))
    model.add_module('fc', nn.Linear(256, 1))
    model.add_module('sigmoid', nn.Sigmoid())
    shapes.append(tuple(model(x).shape))
    dataset = data.TensorDataset(torch.from_numpy(images), torch.from_numpy(smiles))
    celeba_train_dataset = data.Subset(dataset, torch.arange(8))
    celeba_valid_dataset = data.Subset(dataset, torch.arange(8, 12))
    torch.manual_seed(1)
    train_dl = data.DataLoader(celeba_train_dataset, 4, shuffle=True)
    valid_dl = data.DataLoader(celeba_valid_dataset, 4, shuffle=False)
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    torch.manual_seed(1)
    hist = _cnn_train(torch, model, loss_fn, optimizer, num_epochs, train_dl, valid_dl, True)
    x_batch, y_batch = next(iter(valid_dl))
    pred = model(x_batch)[:, 0] * 100
    labels = [f"GT: {'Smile' if y_batch[j] == 1 else 'Not Smile':s}\nPr(Smile)={pred[j]:.0f}%"
              for j in range(4)]
    return [shapes, hist, pred, labels, dict(model.state_dict())]


def test_ch14_smile_cnn_with_global_average_pooling_trains_as_torch(dtype):
    out = {name: _ch14_smile(name) for name in LIBS}
    _adam_states_agree(out["zeroin"].pop(), out["torch"].pop(), dtype)
    _same(out["zeroin"], out["torch"], tol=dict(rtol=1e-4, atol=1e-5) if dtype == "float32"
          else None)
    out = out["zeroin"]
    assert out[0] == [(4, 256, 8, 8), (4, 256), (4, 1)]



def test_ch14_celeba_augmentation_functions_on_a_pil_image_as_torchvision():
    """The book's five augmentation panels on a made-up 218 x 178 face (CelebA's size):
    ``center_crop(img, [0.7*218, 0.7*178])`` crops as torchvision's (its top-left corner
    rounded, then Pillow rounds the box's far corner: 153 x 125 pixels)."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision import transforms
    rng = np.random.default_rng(14)
    arr = rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    img_cropped = transforms.functional.crop(img, 50, 20, 128, 128)
    np.testing.assert_array_equal(np.asarray(img_cropped), arr[50:178, 20:148])
    img_flipped = transforms.functional.hflip(img)
    np.testing.assert_array_equal(np.asarray(img_flipped), arr[:, ::-1])
    assert transforms.functional.adjust_contrast(img, contrast_factor=2).size == (178, 218)
    assert transforms.functional.adjust_brightness(img, brightness_factor=1.3).size == \
        (178, 218)
    img_center_crop = transforms.functional.center_crop(img, [0.7*218, 0.7*178])
    top, left = int(round((218 - 0.7*218) / 2.0)), int(round((178 - 0.7*178) / 2.0))
    assert (top, left) == (33, 27) and img_center_crop.size == (125, 153)
    np.testing.assert_array_equal(np.asarray(img_center_crop), arr[33:186, 27:152])
    img_resized = transforms.functional.resize(img_center_crop, size=(218, 178))
    assert img_resized.size == (178, 218)
    assert np.array_equal(np.asarray(transforms.CenterCrop([0.7*218, 0.7*178])(img)),
                          np.asarray(img_center_crop))
    # whole-pixel sizes: every kind of image, the same pixels
    want = arr[20:198, :]
    for im in (img, arr, zeroin.tensor(np.moveaxis(arr, -1, 0))):
        got = transforms.functional.center_crop(im, [178, 178])
        got = np.moveaxis(_np(got), 0, -1) if isinstance(got, zeroin.Tensor) else np.asarray(got)
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match=r"center_crop: .*whole pixels.*152\.6"):
        transforms.functional.center_crop(zeroin.tensor(np.moveaxis(arr, -1, 0)),
                                          [0.7*218, 0.7*178])



def test_ch14_random_crop_and_flip_draw_torchvisions_numbers_on_the_torch_stream(f32):
    """The book's augmentation cell after ``torch.manual_seed(1)``: ``RandomCrop([178, 178])``
    then ``RandomHorizontalFlip()`` then ``resize(size=(128, 128))`` on three 218 x 178 faces.
    On the torch stream zeroin draws as torchvision's (``torch.randint(0, h - th + 1,
    size=(1,))`` for the top, then the left; ``torch.rand(1) < p`` to flip), so the crops are
    the ones PyTorch's run gives; torchvision is not installed, so torch's side draws those
    numbers itself."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision import transforms
    torch_stream()
    rng = np.random.default_rng(15)
    arrs = [rng.integers(0, 256, (218, 178, 3), dtype=np.uint8) for _ in range(3)]
    torch.manual_seed(1)
    want = []
    for arr in arrs:
        i = torch.randint(0, 218 - 178 + 1, size=(1,)).item()
        j = torch.randint(0, 178 - 178 + 1, size=(1,)).item()
        crop = arr[i:i + 178, j:j + 178]
        want.append(crop[:, ::-1] if torch.rand(1) < 0.5 else crop)
    zeroin.manual_seed(1)
    for arr, w in zip(arrs, want):
        img = Image.fromarray(arr)
        img_cropped = transforms.Compose([transforms.RandomCrop([178, 178])])(img)
        img_flip = transforms.Compose([transforms.RandomHorizontalFlip()])(img_cropped)
        np.testing.assert_array_equal(np.asarray(img_flip), w)
        img_resized = transforms.functional.resize(img_flip, size=(128, 128))
        assert img_resized.size == (128, 128)
    assert len({np.asarray(w)[0, 0, 0] for w in want}) > 1
    zeroin.manual_seed(1)              # and a tensor image: the same draws, flipped by -1
    t = transforms.RandomVerticalFlip(p=0.5)(zeroin.tensor(np.moveaxis(arrs[0], -1, 0)))
    torch.manual_seed(1)
    flip = torch.rand(1) < 0.5
    np.testing.assert_array_equal(_np(t), np.moveaxis(arrs[0][::-1] if flip else arrs[0], -1, 0))



CELEBA_ATTRS = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs "
                "Big_Lips Big_Nose Black_Hair Blond_Hair Blurry Brown_Hair Bushy_Eyebrows "
                "Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup High_Cheekbones "
                "Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin "
                "Pointy_Nose Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair "
                "Wavy_Hair Wearing_Earrings Wearing_Hat Wearing_Lipstick Wearing_Necklace "
                "Wearing_Necktie Young").split()


@pytest.fixture
def celeba_root(tmp_path):
    """torchvision's CelebA folder with 7 made-up faces (218 x 178): root/celeba holds
    img_align_celeba/*.jpg and the tables as published (a count line, then the header,
    then rows; attributes -1/1; partitions 0 train, 1 valid, 2 test)."""
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(12)
    folder = tmp_path / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i:06d}.jpg" for i in range(1, 8)]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(
            folder / "img_align_celeba" / name)
    attr = rng.choice([-1, 1], (7, 40))
    rows = [f"{n} " + " ".join(f"{v:2d}" for v in a) for n, a in zip(names, attr)]
    (folder / "list_attr_celeba.txt").write_text("7\n" + " ".join(CELEBA_ATTRS) + " \n"
                                                 + "\n".join(rows) + "\n")
    part = [0, 0, 0, 0, 1, 1, 2]
    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(names, part)))
    (folder / "identity_CelebA.txt").write_text(
        "".join(f"{n} {100 + i}\n" for i, n in enumerate(names)))
    bbox = rng.integers(0, 100, (7, 4))
    (folder / "list_bbox_celeba.txt").write_text(
        "7\nimage_id x_1 y_1 width height\n"
        + "".join(f"{n}  {' '.join(map(str, b))}\n" for n, b in zip(names, bbox)))
    return tmp_path, names, (attr + 1) // 2, part, bbox


def test_ch12_and_ch14_celeba_dataset_reads_torchvisions_folder(celeba_root, f32):
    """The book's ``torchvision.datasets.CelebA(image_path, split='train',
    target_type='attr', download=False)``: PIL faces with the 40 attributes as 0/1
    (``attributes[31]``: Smiling), the splits' sizes, and chapter 14's pipeline with
    ``target_transform=get_smile``, ``Subset`` and ``DataLoader``."""
    from itertools import islice
    from PIL import Image
    from zeroin.vision import datasets, transforms
    image_path, names, attr, part, bbox = celeba_root
    celeba_dataset = datasets.CelebA(image_path, split='train', target_type='attr',
                                     download=False)
    assert isinstance(celeba_dataset, zeroin.utils.data.Dataset) and len(celeba_dataset) == 4
    image, attributes = next(iter(celeba_dataset))
    assert isinstance(image, Image.Image) and image.size == (178, 218) and image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), np.asarray(Image.open(
        image_path / "celeba" / "img_align_celeba" / names[0])))
    assert attributes.dtype == zeroin.int64 and attributes.shape == (40,)
    for i, (image, attributes) in islice(enumerate(celeba_dataset), 18):
        np.testing.assert_array_equal(_np(attributes), attr[i])
        assert attributes[31].item() == attr[i, 31]
    assert celeba_dataset.attr_names[31] == "Smiling" and len(celeba_dataset.attr_names) == 40
    sizes = [len(datasets.CelebA(image_path, split=s, target_type='attr', download=True))
             for s in ('train', 'valid', 'test', 'all')]
    assert sizes == [4, 2, 1, 7]
    test_set = datasets.CelebA(image_path, split='test', target_type=['identity', 'bbox'])
    image, (identity, box) = test_set[0]
    assert identity.item() == 106 and box.tolist() == bbox[6].tolist()
    get_smile = lambda attr: attr[31]     # noqa: E731 (Smiling)
    transform = transforms.Compose([transforms.CenterCrop([178, 178]),
                                    transforms.Resize([64, 64]), transforms.ToTensor()])
    celeba_valid_dataset = datasets.CelebA(image_path, split='valid', target_type='attr',
                                           download=False, transform=transform,
                                           target_transform=get_smile)
    celeba_valid_dataset = zeroin.utils.data.Subset(celeba_valid_dataset, zeroin.arange(2))
    img_batch, label_batch = next(iter(zeroin.utils.data.DataLoader(celeba_valid_dataset,
                                                                    batch_size=2)))
    assert img_batch.shape == (2, 3, 64, 64) and img_batch.dtype == zeroin.float32
    assert label_batch.dtype == zeroin.int64 and label_batch.tolist() == attr[4:6, 31].tolist()
    with pytest.raises(FileNotFoundError, match=r"CelebA: .*list_eval_partition.txt.*celeba"):
        datasets.CelebA(image_path / "elsewhere", split='train')
    from zeroin.data import DownloadError
    with pytest.raises(DownloadError, match=r"CelebA\(download=True\): zeroin cannot download "
                                            r".*list_eval_partition.txt.*celeba"):
        datasets.CelebA(image_path / "elsewhere", split='train', download=True)
    with pytest.raises(ValueError, match="split"):
        datasets.CelebA(image_path, split='validation')



def test_ch14_read_image_gives_a_uint8_channels_first_tensor(tmp_path):
    """The book's tip: ``read_image('example-image.png')`` (torchvision.io), its shape
    (C, H, W), channels, dtype uint8 and ``img[:, 100:102, 100:102]``."""
    Image = pytest.importorskip("PIL.Image")
    from zeroin.vision.io import read_image
    arr = np.random.default_rng(9).integers(0, 256, (120, 130, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / 'example-image.png')
    img = read_image(str(tmp_path / 'example-image.png'))
    assert img.shape == (3, 120, 130) and img.shape[0] == 3 and img.dtype == zeroin.uint8
    np.testing.assert_array_equal(_np(img[:, 100:102, 100:102]),
                                  np.moveaxis(arr[100:102, 100:102], -1, 0))


def test_the_books_import_paths_exist():
    """Where the book imports from: the same modules under zeroin."""
    from zeroin.distributions.categorical import Categorical
    from zeroin.nn.functional import one_hot
    from zeroin.utils.data import DataLoader, Dataset, Subset, TensorDataset
    from zeroin.utils.data.dataset import random_split
    assert issubclass(TensorDataset, Dataset) and issubclass(Subset, Dataset)
    assert callable(DataLoader) and callable(random_split)
    assert one_hot(zeroin.tensor([2]), 3).tolist() == [[0, 0, 1]]
    assert Categorical(logits=zeroin.tensor([0.0, 0.0])).probs.tolist() == [0.5, 0.5]


# --- chapter 15: modeling sequential data using recurrent neural networks --------------------

def _ch15_rnn_by_hand(name):
    torch, nn, F, data, optim = _lib(name)
    torch.manual_seed(1)
    rnn_layer = nn.RNN(input_size=5, hidden_size=2, num_layers=1, batch_first=True)
    w_xh = rnn_layer.weight_ih_l0
    w_hh = rnn_layer.weight_hh_l0
    b_xh = rnn_layer.bias_ih_l0
    b_hh = rnn_layer.bias_hh_l0
    shapes = [tuple(p.shape) for p in (w_xh, w_hh, b_xh, b_hh)]
    x_seq = torch.tensor([[1.0]*5, [2.0]*5, [3.0]*5]).float()
    output, hn = rnn_layer(torch.reshape(x_seq, (1, 3, 5)))
    out_man = []
    for t in range(3):
        xt = torch.reshape(x_seq[t], (1, 5))
        ht = torch.matmul(xt, torch.transpose(w_xh, 0, 1)) + b_xh
        if t > 0:
            prev_h = out_man[t-1]
        else:
            prev_h = torch.zeros((ht.shape))
        ot = ht + torch.matmul(prev_h, torch.transpose(w_hh, 0, 1)) + b_hh
        ot = torch.tanh(ot)
        out_man.append(ot)
    return [shapes, output, hn, [o.detach().numpy() for o in out_man],
            [output[:, t].detach().numpy() for t in range(3)]]


def test_ch15_rnn_layer_and_its_forward_by_hand_match_torch(f32):
    torch_stream()
    out = _both(_ch15_rnn_by_hand)
    assert out[0] == [(2, 5), (2, 2), (2,), (2,)]
    for by_hand, layer in zip(out[3], out[4]):
        np.testing.assert_allclose(by_hand, layer, rtol=1e-6, atol=1e-7)


def _ch15_layers(name):
    torch, nn, F, data, optim = _lib(name)
    torch.manual_seed(1)
    embedding = nn.Embedding(num_embeddings=10, embedding_dim=3, padding_idx=0)
    text_encoded_input = torch.LongTensor([[1, 2, 4, 5], [4, 3, 2, 0]])
    out = [embedding(text_encoded_input), text_encoded_input.dtype == torch.int64]

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            self.rnn = nn.RNN(input_size, hidden_size, num_layers=2, batch_first=True)
            self.fc = nn.Linear(hidden_size, 1)

        def forward(self, x):
            _, hidden = self.rnn(x)
            out = hidden[-1, :, :]
            out = self.fc(out)
            return out
    model = RNN(64, 32)
    return out + [repr(model), model(torch.randn(5, 3, 64))]


def test_ch15_embedding_with_padding_idx_and_two_layer_rnn_match_torch(dtype):
    out = _both(_ch15_layers)
    assert not _np(out[0])[1, 3].any() and out[-1].shape == (5, 1)


REVIEWS = [("pos", "This movie was great, I loved it :)"),
           ("neg", "Terrible <br /> plot; the acting was bad."),
           ("pos", "A fine film: great acting, great music!"),
           ("neg", "Boring. I fell asleep :-("),
           ("pos", "Loved the story and the music"),
           ("neg", "Bad, bad, bad movie."),
           ("pos", "An example of a great movie"),
           ("neg", "The plot was boring and the music terrible")]


def _tokenizer(text):
    text = re.sub('<[^>]*>', '', text)
    emoticons = re.findall(r'(?::|;|=)(?:-)?(?:\)|\(|D|P)', text.lower())
    text = re.sub(r'[\W]+', ' ', text.lower()) + ' '.join(emoticons).replace('-', '')
    return text.split()


def _vocab():
    """torchtext's ``vocab(ordered_dict)`` with ``<pad>`` 0, ``<unk>`` 1 and default index 1,
    as a dict (torchtext is not needed)."""
    token_counts = Counter()
    for label, line in REVIEWS:
        token_counts.update(_tokenizer(line))
    sorted_by_freq_tuples = sorted(token_counts.items(), key=lambda x: x[1], reverse=True)
    ordered_dict = OrderedDict(sorted_by_freq_tuples)
    vocab = {"<pad>": 0, "<unk>": 1}
    vocab.update({tok: i + 2 for i, tok in enumerate(ordered_dict)})
    return vocab


def _sentiment_model(torch, nn, bidirectional):
    class RNN(nn.Module):
        def __init__(self, vocab_size, embed_dim, rnn_hidden_size, fc_hidden_size):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.rnn = nn.LSTM(embed_dim, rnn_hidden_size, batch_first=True,
                               bidirectional=bidirectional)
            self.fc1 = nn.Linear(rnn_hidden_size * (2 if bidirectional else 1), fc_hidden_size)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(fc_hidden_size, 1)
            self.sigmoid = nn.Sigmoid()

        def forward(self, text, lengths):
            out = self.embedding(text)
            out = nn.utils.rnn.pack_padded_sequence(out, lengths.cpu().numpy(),
                                                    enforce_sorted=False, batch_first=True)
            out, (hidden, cell) = self.rnn(out)
            if bidirectional:
                out = torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)
            else:
                out = hidden[-1, :, :]
            out = self.fc1(out)
            out = self.relu(out)
            out = self.fc2(out)
            out = self.sigmoid(out)
            return out
    return RNN


def _ch15_sentiment(name, bidirectional, num_epochs=2):
    torch, nn, F, data, optim = _lib(name)
    vocab = _vocab()
    device = 'cpu'
    text_pipeline = lambda x: [vocab.get(token, 1) for token in _tokenizer(x)]   # noqa: E731
    label_pipeline = lambda x: 1. if x == 'pos' else 0.                           # noqa: E731

    def collate_batch(batch):
        label_list, text_list, lengths = [], [], []
        for _label, _text in batch:
            label_list.append(label_pipeline(_label))
            processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
            text_list.append(processed_text)
            lengths.append(processed_text.size(0))
        label_list = torch.tensor(label_list)
        lengths = torch.tensor(lengths)
        padded_text_list = nn.utils.rnn.pad_sequence(text_list, batch_first=True)
        return padded_text_list.to(device), label_list.to(device), lengths.to(device)
    torch.manual_seed(1)
    train_dataset, valid_dataset = data.random_split(list(REVIEWS), [6, 2])
    dataloader = data.DataLoader(train_dataset, batch_size=4, shuffle=False,
                                 collate_fn=collate_batch)
    first = list(next(iter(dataloader)))
    train_dl = data.DataLoader(train_dataset, batch_size=3, shuffle=True,
                               collate_fn=collate_batch)
    valid_dl = data.DataLoader(valid_dataset, batch_size=3, shuffle=False,
                               collate_fn=collate_batch)
    torch.manual_seed(1)
    model = _sentiment_model(torch, nn, bidirectional)(len(vocab), 20, 16, 16)
    model = model.to(device)
    loss_fn = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

    def run(dataloader, train):
        model.train() if train else model.eval()
        total_acc, total_loss = 0, 0
        with torch.set_grad_enabled(train):
            for text_batch, label_batch, lengths in dataloader:
                if train:
                    optimizer.zero_grad()
                pred = model(text_batch, lengths)[:, 0]
                loss = loss_fn(pred, label_batch)
                if train:
                    loss.backward()
                    optimizer.step()
                total_acc += ((pred >= 0.5).float() == label_batch).float().sum().item()
                total_loss += loss.item()*label_batch.size(0)
        return total_acc/len(dataloader.dataset), total_loss/len(dataloader.dataset)
    torch.manual_seed(1)
    hist = [(run(train_dl, True), run(valid_dl, False)) for epoch in range(num_epochs)]
    return [first, [list(b) for b in train_dl], hist, dict(model.state_dict())]


@pytest.mark.parametrize("bidirectional", [False, True])
def test_ch15_sentiment_lstm_with_packed_padded_reviews_trains_as_torch(f32, bidirectional):
    torch_stream()
    out = _both(_ch15_sentiment, bidirectional, tol=F32)
    text_batch, label_batch, length_batch = out[0]
    assert text_batch.dtype == zeroin.int64 and text_batch.shape[0] == 4
    assert (text_batch[:, -1] == 0).any() and label_batch.dtype == zeroin.float32
    emb = _np(out[3]["embedding.weight"])
    assert not emb[0].any() and emb[1:].any()        # padding_idx=0: its row stays zero


TEXT = ("THE MYSTERIOUS ISLAND. Are we rising again? No. On the contrary. Are we descending? "
        "Worse than that, captain! we are falling! The balloon, caught in a whirlwind, was "
        "carried along with great speed over the sea.")


def _char_model(torch, nn):
    class RNN(nn.Module):
        def __init__(self, vocab_size, embed_dim, rnn_hidden_size):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim)
            self.rnn_hidden_size = rnn_hidden_size
            self.rnn = nn.LSTM(embed_dim, rnn_hidden_size, batch_first=True)
            self.fc = nn.Linear(rnn_hidden_size, vocab_size)

        def forward(self, x, hidden, cell):
            out = self.embedding(x).unsqueeze(1)
            out, (hidden, cell) = self.rnn(out, (hidden, cell))
            out = self.fc(out).reshape(out.size(0), -1)
            return out, hidden, cell

        def init_hidden(self, batch_size):
            hidden = torch.zeros(1, batch_size, self.rnn_hidden_size)
            cell = torch.zeros(1, batch_size, self.rnn_hidden_size)
            return hidden.to('cpu'), cell.to('cpu')
    return RNN


def _ch15_char_lm(name, num_epochs=3, seq_length=12):
    torch, nn, F, data, optim = _lib(name)
    Categorical = importlib.import_module(
        torch.__name__ + ".distributions.categorical").Categorical
    chars_sorted = sorted(set(TEXT))
    char2int = {ch: i for i, ch in enumerate(chars_sorted)}
    char_array = np.array(chars_sorted)
    text_encoded = np.array([char2int[ch] for ch in TEXT], dtype=np.int32)
    chunk_size = seq_length + 1
    text_chunks = np.array([text_encoded[i:i+chunk_size]      # the book: a list (torch warns)
                            for i in range(len(text_encoded)-chunk_size+1)])

    class TextDataset(data.Dataset):
        def __init__(self, text_chunks):
            self.text_chunks = text_chunks

        def __len__(self):
            return len(self.text_chunks)

        def __getitem__(self, idx):
            text_chunk = self.text_chunks[idx]
            return text_chunk[:-1].long(), text_chunk[1:].long()
    seq_dataset = TextDataset(torch.tensor(text_chunks))
    seq, target = seq_dataset[0]
    out = [''.join(char_array[seq]), ''.join(char_array[target])]
    batch_size = 16
    torch.manual_seed(1)
    seq_dl = data.DataLoader(seq_dataset, batch_size=batch_size, shuffle=True, drop_last=True)
    torch.manual_seed(1)
    model = _char_model(torch, nn)(len(char_array), 32, 48)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    torch.manual_seed(1)
    losses = []
    for epoch in range(num_epochs):
        hidden, cell = model.init_hidden(batch_size)
        seq_batch, target_batch = next(iter(seq_dl))
        optimizer.zero_grad()
        loss = 0
        for c in range(seq_length):
            pred, hidden, cell = model(seq_batch[:, c], hidden, cell)
            loss += loss_fn(pred, target_batch[:, c])
        loss.backward()
        optimizer.step()
        losses.append(loss.item()/seq_length)
    out.append(losses)
    for logits in ([[1.0, 1.0, 1.0]], [[1.0, 1.0, 3.0]]):
        torch.manual_seed(1)
        logits = torch.tensor(logits)
        m = Categorical(logits=logits)
        out += [nn.functional.softmax(logits, dim=1).numpy()[0], m.sample((10,)).numpy()]

    def sample(model, starting_str, len_generated_text=40, scale_factor=1.0):
        encoded_input = torch.tensor([char2int[s] for s in starting_str])
        encoded_input = torch.reshape(encoded_input, (1, -1))
        generated_str = starting_str
        model.eval()
        hidden, cell = model.init_hidden(1)
        for c in range(len(starting_str)-1):
            _, hidden, cell = model(encoded_input[:, c].view(1), hidden, cell)
        last_char = encoded_input[:, -1]
        for i in range(len_generated_text):
            logits, hidden, cell = model(last_char.view(1), hidden, cell)
            logits = torch.squeeze(logits, 0)
            scaled_logits = logits * scale_factor
            m = Categorical(logits=scaled_logits)
            last_char = m.sample()
            generated_str += str(char_array[last_char])
        return generated_str
    for scale_factor in (1.0, 2.0, 0.5):
        torch.manual_seed(1)
        model.to('cpu')
        out.append(sample(model, starting_str='The island', scale_factor=scale_factor))
    return out + [dict(model.state_dict())]


def test_ch15_character_language_model_trains_and_samples_as_torch(f32):
    """Training steps, ``Categorical(logits=...).sample((10,))`` and the sampled text (its
    draws from the torch stream) equal PyTorch's."""
    torch_stream()
    out = _both(_ch15_char_lm, tol=F32)
    assert out[0] == TEXT[:12] and out[1] == TEXT[1:13]
    assert out[-4].startswith('The island') and len(out[-4]) == 50



# --- chapter 16: transformers, self-attention from scratch -----------------------------------

def _ch16_self_attention(name):
    torch, nn, F, data, optim = _lib(name)
    sentence = torch.tensor([0, 7, 1, 2, 5, 6, 4, 3])
    torch.manual_seed(123)
    embed = torch.nn.Embedding(10, 16)
    embedded_sentence = embed(sentence).detach()
    omega = torch.empty(8, 8)
    for i, x_i in enumerate(embedded_sentence):
        for j, x_j in enumerate(embedded_sentence):
            omega[i, j] = torch.dot(x_i, x_j)
    omega_mat = embedded_sentence.matmul(embedded_sentence.T)
    out = [embedded_sentence, omega, torch.allclose(omega_mat, omega)]
    attention_weights = F.softmax(omega, dim=1)
    out += [attention_weights, attention_weights.sum(dim=1)]
    x_2 = embedded_sentence[1, :]
    context_vec_2 = torch.zeros(x_2.shape)
    for j in range(8):
        x_j = embedded_sentence[j, :]
        context_vec_2 += attention_weights[1, j] * x_j
    context_vectors = torch.matmul(attention_weights, embedded_sentence)
    out += [context_vec_2, context_vectors, torch.allclose(context_vec_2, context_vectors[1])]
    torch.manual_seed(123)
    d = embedded_sentence.shape[1]
    U_query, U_key, U_value = torch.rand(d, d), torch.rand(d, d), torch.rand(d, d)
    x_2 = embedded_sentence[1]
    query_2 = U_query.matmul(x_2)
    key_2 = U_key.matmul(x_2)
    value_2 = U_value.matmul(x_2)
    keys = U_key.matmul(embedded_sentence.T).T
    values = U_value.matmul(embedded_sentence.T).T
    out += [torch.allclose(key_2, keys[1]), torch.allclose(value_2, values[1]),
            U_query @ x_2, query_2]
    omega_23 = query_2.dot(keys[2])
    omega_2 = query_2.matmul(keys.T)
    attention_weights_2 = F.softmax(omega_2 / d**0.5, dim=0)
    out += [omega_23, omega_2, attention_weights_2, attention_weights_2.matmul(values)]
    torch.manual_seed(123)
    one_U_query = torch.rand(d, d)
    h = 8
    multihead_U_query = torch.rand(h, d, d)
    multihead_U_key = torch.rand(h, d, d)
    multihead_U_value = torch.rand(h, d, d)
    multihead_query_2 = multihead_U_query.matmul(x_2)
    multihead_key_2 = multihead_U_key.matmul(x_2)
    stacked_inputs = embedded_sentence.T.repeat(8, 1, 1)
    multihead_keys = torch.bmm(multihead_U_key, stacked_inputs)
    multihead_keys = multihead_keys.permute(0, 2, 1)
    multihead_values = torch.matmul(multihead_U_value, stacked_inputs)
    multihead_values = multihead_values.permute(0, 2, 1)
    out += [one_U_query, multihead_query_2, multihead_key_2[2], tuple(stacked_inputs.shape),
            multihead_keys, multihead_keys[2, 1], multihead_values]
    multihead_z_2 = torch.rand(8, 16)
    linear = torch.nn.Linear(8*16, 16)
    context_vector_2 = linear(multihead_z_2.flatten())
    return out + [context_vector_2, torch.stack([query_2, key_2, value_2])]


def test_ch16_self_attention_and_multi_head_projections_from_scratch_match_torch(dtype):
    out = _both(_ch16_self_attention)
    assert out[2] is True and out[7] is True and out[8] is True and out[9] is True
    assert out[19] == (8, 16, 8) and out[-2].shape == (16,)


def _ch16_finetune_loop(name, NUM_EPOCHS=2):
    """Chapter 16's manual fine-tuning loop with its dataset of dicts, a small classifier in
    place of DistilBERT (``transformers`` is not needed): outputs ``{'loss', 'logits'}``."""
    torch, nn, F, data, optim = _lib(name)
    torch.backends.cudnn.deterministic = True
    torch.manual_seed(123)
    DEVICE = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    rng = np.random.default_rng(16)
    encodings = {'input_ids': rng.integers(1, 30, (20, 7)).tolist(),
                 'attention_mask': (rng.random((20, 7)) < 0.8).astype(int).tolist()}
    labels = rng.integers(0, 2, 20)

    class IMDbDataset(data.Dataset):
        def __init__(self, encodings, labels):
            self.encodings = encodings
            self.labels = labels

        def __getitem__(self, idx):
            item = {key: torch.tensor(val[idx]) for key, val in self.encodings.items()}
            item['labels'] = torch.tensor(self.labels[idx])
            return item

        def __len__(self):
            return len(self.labels)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.head = nn.Embedding(30, 8), nn.Linear(8, 2)

        def forward(self, input_ids, attention_mask, labels=None):
            mask = attention_mask.unsqueeze(-1).float()
            pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
            logits = self.head(pooled)
            loss = None if labels is None else F.cross_entropy(logits, labels)
            return {'loss': loss, 'logits': logits}
    train_dataset = IMDbDataset(encodings, labels)
    train_loader = data.DataLoader(train_dataset, batch_size=8, shuffle=True)
    model = Classifier()
    model.to(DEVICE)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=5e-2)

    def compute_accuracy(model, data_loader, device):
        with torch.no_grad():
            correct_pred, num_examples = 0, 0
            for batch_idx, batch in enumerate(data_loader):
                input_ids = batch['input_ids'].to(device)
                attention_mask = batch['attention_mask'].to(device)
                labels = batch['labels'].to(device)
                outputs = model(input_ids, attention_mask=attention_mask)
                logits = outputs['logits']
                predicted_labels = torch.argmax(logits, 1)
                num_examples += labels.size(0)
                correct_pred += (predicted_labels == labels).sum()
            return correct_pred.float()/num_examples * 100
    log = []
    for epoch in range(NUM_EPOCHS):
        model.train()
        for batch_idx, batch in enumerate(train_loader):
            input_ids = batch['input_ids'].to(DEVICE)
            attention_mask = batch['attention_mask'].to(DEVICE)
            labels = batch['labels'].to(DEVICE)
            outputs = model(input_ids, attention_mask=attention_mask, labels=labels)
            loss = outputs['loss']
            optim.zero_grad()
            loss.backward()
            optim.step()
            log.append(loss.item())
        model.eval()
        with torch.set_grad_enabled(False):
            log.append(f'Training accuracy: {compute_accuracy(model, train_loader, DEVICE):.2f}%')
    return [sorted(batch), log, str(DEVICE)]


def test_ch16_fine_tuning_loop_with_dict_batches_matches_torch(dtype):
    out = _both(_ch16_finetune_loop, tol=_tol(dtype))
    assert out[0] == ['attention_mask', 'input_ids', 'labels'] and out[2] == 'cpu'
