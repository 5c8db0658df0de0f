"""Audit against the UvA Deep Learning course's PyTorch tutorials (Phillip Lippe's
uvadlc-notebooks): Tutorial 2 "Introduction to PyTorch", 3 "Activation Functions",
4 "Optimization and Initialization" and the plain-PyTorch parts of 6 "Transformers". Each
notebook's main code is written once, as a learner ports it (``import zeroin as torch``,
``from zeroin import nn``, ``import zeroin.nn.functional as F``, ``zeroin.utils.data``,
``zeroin.optim``), and run with ``torch`` and with ``zeroin`` on the same data (made here) and
the same weights (copied from torch), compared to float resolution in float32 (the notebooks'
dtype; those tests set zeroin's default to float32) and to 1e-10 in float64. torchvision and
PyTorch Lightning are not used: their parts are written in plain PyTorch. See docs/uvadl.md."""
import json
import math
import os
import time
from functools import partial

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
import torch.utils.data  # noqa: E402,F811  (the submodule, for LIBS)

LIBS = {"torch": (torch, torch.nn, torch.nn.functional, torch.utils.data, torch.optim),
        "zeroin": (zeroin, znn, ZF, zdata, zoptim)}
F32 = dict(rtol=2e-5, atol=2e-6)
F64 = dict(rtol=1e-10, atol=1e-12)


def _close(z, t, tol=F32):
    close(z, t, **tol)


# --- Tutorial 2: Introduction to PyTorch ------------------------------------------------------

def _basics(torch):
    out = {}
    torch.manual_seed(42)
    x = torch.Tensor(2, 3, 4)
    out["empty"] = (tuple(x.shape), str(x.dtype).split(".")[-1])
    x = torch.Tensor([[1, 2], [3, 4]])
    out["from_list"] = x
    x = torch.zeros(2, 3, 4) + torch.ones(2, 3, 4)
    dim1, dim2, dim3 = x.size()
    out["size"] = (tuple(x.shape), (dim1, dim2, dim3))
    np_arr = np.array([[1, 2], [3, 4]])
    tensor = torch.from_numpy(np_arr)
    out["numpy"] = (tensor, tensor.numpy(), str(tensor.dtype))
    x1 = torch.Tensor([[1., 2., 3.], [4., 5., 6.]])
    x2 = torch.Tensor([[.5, .5, .5], [2., 2., 2.]])
    y = x1 + x2
    x2.add_(x1)
    out["add"] = (y, x2)
    x = torch.arange(6)
    out["arange"] = (x, str(x.dtype))
    x = x.view(2, 3)
    out["view"] = x
    x = x.permute(1, 0)
    out["permute"] = x
    x = torch.arange(6).view(2, 3)
    W = torch.arange(9).view(3, 3)
    out["matmul"] = torch.matmul(x, W)
    a, b = torch.arange(24.).view(2, 3, 4), torch.arange(40.).view(2, 4, 5)
    out["bmm"] = (torch.bmm(a, b), torch.einsum("bij,bjk->bik", a, b), a @ b)
    x = torch.arange(12).view(3, 4)
    out["index"] = (x[:, 1], x[0], x[:2, -1], x[1:3, :])
    return out


def test_t2_tensor_basics(f32):
    z, t = _basics(zeroin), _basics(torch)
    assert z["empty"] == t["empty"] == ((2, 3, 4), "float32")
    for key in ("from_list", "view", "permute", "matmul"):
        np.testing.assert_array_equal(_np(z[key]), _np(t[key]))
        assert z[key].shape == t[key].shape
    assert z["size"] == t["size"]
    np.testing.assert_array_equal(z["numpy"][1], t["numpy"][1])
    assert z["numpy"][2].endswith("int64") and t["numpy"][2] == "torch.int64"
    for zz, tt in zip(z["add"] + z["bmm"] + z["index"], t["add"] + t["bmm"] + t["index"]):
        np.testing.assert_array_equal(_np(zz), _np(tt))
    assert z["arange"][1].endswith("int64") and t["arange"][1] == "torch.int64"


def _dynamic_graph(torch):
    x = torch.arange(3, dtype=torch.float32, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    a = x + 2
    b = a ** 2
    c = b + 3
    y = c.mean()
    y.backward()
    return y, x.grad


def test_t2_dynamic_graph_and_gradients():
    (zy, zg), (ty, tg) = _dynamic_graph(zeroin), _dynamic_graph(torch)
    _close(zy, ty)
    _close(zg, tg)
    assert zg.dtype == zeroin.float32
    np.testing.assert_allclose(_np(zg), [4 / 3, 2, 8 / 3], rtol=1e-6)   # 2 (x + 2) / 3


def _gpu_checks(torch):
    gpu_avail = torch.cuda.is_available()
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    x = torch.zeros(2, 3)
    x = x.to(device)
    torch.manual_seed(42)
    if torch.cuda.is_available():
        torch.cuda.manual_seed(42)
        torch.cuda.manual_seed_all(42)
    torch.cuda.manual_seed_all(42)          # does nothing without a GPU, in both
    old = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    flags = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old
    return gpu_avail, str(device), str(x.device), flags


def test_t2_gpu_checks_on_the_cpu():
    assert _gpu_checks(zeroin) == _gpu_checks(torch) == (False, "cpu", "cpu", (True, False))


def _timing(torch):
    """The notebook's CPU / GPU matmul timing; its GPU half (cuda.Event) is not guarded."""
    x = torch.randn(200, 200)
    start_time = time.time()
    _ = torch.matmul(x, x)
    end_time = time.time()
    cpu = f"CPU time: {(end_time - start_time):6.5f}s"
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    _ = torch.matmul(x, x)
    end.record()
    torch.cuda.synchronize()
    return cpu, f"GPU time: {0.001 * start.elapsed_time(end):6.5f}s"


def test_t2_gpu_timing_with_cuda_event_raises_as_pytorchs_without_cuda():
    # zeroin.cuda had no Event: an AttributeError where PyTorch without CUDA raises a
    # RuntimeError on making one
    with pytest.raises(RuntimeError):
        _timing(torch)
    with pytest.raises(RuntimeError, match=r"^cuda\.Event: zeroin runs on the CPU .*"
                                           r"time\.perf_counter\(\)"):
        _timing(zeroin)
    assert "Event" in zeroin.cuda.__all__


def _xor(torch, data):
    class XORDataset(data.Dataset):

        def __init__(self, size, std=0.1):
            super().__init__()
            self.size = size
            self.std = std
            self.generate_continuous_xor()

        def generate_continuous_xor(self):
            data = torch.randint(low=0, high=2, size=(self.size, 2), dtype=torch.float32)
            label = (data.sum(dim=1) == 1).to(torch.long)
            data += self.std * torch.randn(data.shape)
            self.data = data
            self.label = label

        def __len__(self):
            return self.size

        def __getitem__(self, idx):
            data_point = self.data[idx]
            data_label = self.label[idx]
            return data_point, data_label
    return XORDataset


def _simple_classifier(nn):
    class SimpleClassifier(nn.Module):

        def __init__(self, num_inputs, num_hidden, num_outputs):
            super().__init__()
            self.linear1 = nn.Linear(num_inputs, num_hidden)
            self.act_fn = nn.Tanh()
            self.linear2 = nn.Linear(num_hidden, num_outputs)

        def forward(self, x):
            x = self.linear1(x)
            x = self.act_fn(x)
            x = self.linear2(x)
            return x
    return SimpleClassifier


def _train_model(model, optimizer, data_loader, loss_module, num_epochs, device, log):
    model.train()
    for epoch in range(num_epochs):
        for data_inputs, data_labels in data_loader:
            data_inputs = data_inputs.to(device)
            data_labels = data_labels.to(device)
            preds = model(data_inputs)
            preds = preds.squeeze(dim=1)
            loss = loss_module(preds, data_labels.float())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            log.append(loss.item())


def _eval_model(torch, model, data_loader, device):
    model.eval()
    true_preds, num_preds = 0., 0.
    with torch.no_grad():
        for data_inputs, data_labels in data_loader:
            data_inputs, data_labels = data_inputs.to(device), data_labels.to(device)
            preds = model(data_inputs)
            preds = preds.squeeze(dim=1)
            preds = torch.sigmoid(preds)
            pred_labels = (preds >= 0.5).long()
            true_preds += (pred_labels == data_labels).sum()
            num_preds += data_labels.shape[0]
    acc = true_preds / num_preds
    return acc, f"Accuracy of the model: {100.0 * acc:4.2f}%"


def _boundary(torch, model, device):
    """visualize_classification's decision map (to_rgba('C0') / ('C1') written out)."""
    @torch.no_grad()
    def grid():
        c0 = torch.Tensor((0.12156862745098039, 0.4666666666666667, 0.7058823529411765, 1.0))
        c1 = torch.Tensor((1.0, 0.4980392156862745, 0.054901960784313725, 1.0))
        c0, c1 = c0.to(device), c1.to(device)
        x1 = torch.arange(-0.5, 1.5, step=0.05, device=device)
        x2 = torch.arange(-0.5, 1.5, step=0.05, device=device)
        xx1, xx2 = torch.meshgrid(x1, x2, indexing='ij')
        model_inputs = torch.stack([xx1, xx2], dim=-1)
        preds = model(model_inputs)
        preds = torch.sigmoid(preds)
        output_image = (1 - preds) * c0[None, None] + preds * c1[None, None]
        return output_image.cpu().numpy(), preds.requires_grad
    return grid()


def _t2_run(name, tmodel, tdata, path):
    """Tutorial 2's XOR pipeline with the library ``name``; its dataset's points and labels
    replaced by torch's (``tdata``) so that both train on the same data."""
    torch, nn, F, data, optim = LIBS[name]
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    XORDataset = _xor(torch, data)
    dataset = XORDataset(size=200)
    assert len(dataset) == 200 and dataset.data.dtype == torch.float32
    assert set(dataset.label.tolist()) <= {0, 1} and dataset.label.dtype == torch.long
    dataset.data, dataset.label = (torch.from_numpy(_np(a).copy()) for a in tdata[:2])
    assert np.array_equal(_np(dataset[0][0]), tdata[0][0]) and int(dataset[0][1]) == tdata[1][0]
    data_0 = dataset.data[dataset.label == 0]          # visualize_samples
    assert data_0.shape[0] == int((tdata[1] == 0).sum())
    data_loader = data.DataLoader(dataset, batch_size=8, shuffle=True)
    data_inputs, data_labels = next(iter(data_loader))
    assert tuple(data_inputs.shape) == (8, 2) and tuple(data_labels.shape) == (8,)
    model = _simple_classifier(nn)(num_inputs=2, num_hidden=4, num_outputs=1)
    names = [(n, tuple(p.shape)) for n, p in model.named_parameters()]
    if name == "zeroin":
        copy_weights(tmodel, model)
    else:
        model.load_state_dict(tmodel.state_dict())
    model.to(device)
    loss_module = nn.BCEWithLogitsLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    train_dataset = XORDataset(size=200)
    train_dataset.data, train_dataset.label = (torch.from_numpy(_np(a).copy()) for a in tdata[:2])
    train_data_loader = data.DataLoader(train_dataset, batch_size=32, shuffle=False)
    log = []
    _train_model(model, optimizer, train_data_loader, loss_module, 5, device, log)
    state_dict = model.state_dict()
    torch.save(state_dict, os.path.join(path, f"our_model_{name}.tar"))
    state_dict = torch.load(os.path.join(path, f"our_model_{name}.tar"))
    new_model = _simple_classifier(nn)(num_inputs=2, num_hidden=4, num_outputs=1)
    new_model.load_state_dict(state_dict)
    test_dataset = XORDataset(size=100)
    test_dataset.data, test_dataset.label = (torch.from_numpy(_np(a).copy()) for a in tdata[2:])
    test_data_loader = data.DataLoader(test_dataset, batch_size=16, shuffle=False,
                                       drop_last=False)
    acc, line = _eval_model(torch, new_model, test_data_loader, device)
    return dict(names=names, log=log, state=state_dict, acc=acc, line=line, str=str(model),
                image=_boundary(torch, new_model, device), train=model.training)


def test_t2_xor_dataset_classifier_training_save_load_eval_and_boundary(f32, tmp_path):
    torch.manual_seed(42)
    XOR = _xor(torch, torch.utils.data)
    train, test = XOR(size=200), XOR(size=100)
    tdata = [a.numpy() for a in (train.data, train.label, test.data, test.label)]
    tmodel = _simple_classifier(torch.nn)(num_inputs=2, num_hidden=4, num_outputs=1)
    z = _t2_run("zeroin", tmodel, tdata, str(tmp_path))
    t = _t2_run("torch", tmodel, tdata, str(tmp_path))
    assert z["names"] == t["names"] == [("linear1.weight", (4, 2)), ("linear1.bias", (4,)),
                                        ("linear2.weight", (1, 4)), ("linear2.bias", (1,))]
    assert z["str"] == t["str"] and z["train"] and t["train"]
    assert len(z["log"]) == len(t["log"]) == 35
    np.testing.assert_allclose(z["log"], t["log"], **F32)
    for k in t["state"]:
        _close(z["state"][k], t["state"][k])
    _close(z["acc"], t["acc"])
    assert z["line"] == t["line"] and z["line"].startswith("Accuracy of the model: ")
    _close(z["image"][0], t["image"][0])
    assert z["image"][0].shape == (40, 40, 4) and z["image"][1] is t["image"][1] is False


# --- Tutorial 3: Activation Functions ---------------------------------------------------------

def _activations(torch, nn):
    class ActivationFunction(nn.Module):

        def __init__(self):
            super().__init__()
            self.name = self.__class__.__name__
            self.config = {"name": self.name}

    class Sigmoid(ActivationFunction):
        def forward(self, x):
            return 1 / (1 + torch.exp(-x))

    class Tanh(ActivationFunction):
        def forward(self, x):
            x_exp, neg_x_exp = torch.exp(x), torch.exp(-x)
            return (x_exp - neg_x_exp) / (x_exp + neg_x_exp)

    class ReLU(ActivationFunction):
        def forward(self, x):
            return x * (x > 0).float()

    class LeakyReLU(ActivationFunction):
        def __init__(self, alpha=0.1):
            super().__init__()
            self.config["alpha"] = alpha

        def forward(self, x):
            return torch.where(x > 0, x, self.config["alpha"] * x)

    class ELU(ActivationFunction):
        def forward(self, x):
            return torch.where(x > 0, x, torch.exp(x) - 1)

    class Swish(ActivationFunction):
        def forward(self, x):
            return x * torch.sigmoid(x)

    return ActivationFunction, {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU,
                                "leakyrelu": LeakyReLU, "elu": ELU, "swish": Swish}


def _get_grads(act_fn, x):
    x = x.clone().requires_grad_()
    out = act_fn(x)
    out.sum().backward()
    return x.grad


def _t3_act_fns(torch, nn):
    _, act_fn_by_name = _activations(torch, nn)
    x = torch.linspace(-5, 5, 1000)
    out = {}
    for name, cls in act_fn_by_name.items():
        act_fn = cls()
        y = act_fn(x)
        y_grads = _get_grads(act_fn, x)
        xn, yn, gn = x.cpu().numpy(), y.cpu().numpy(), y_grads.cpu().numpy()   # vis_act_fn
        out[name] = (act_fn.name, act_fn.config, xn, yn, gn, str(act_fn))
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_t3_activation_functions_and_their_gradients(dtype):
    tol = F64 if dtype == "float64" else F32
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, dtype))
    z, t = _t3_act_fns(zeroin, znn), _t3_act_fns(torch, torch.nn)
    for name in t:
        assert z[name][:2] == t[name][:2] and z[name][5] == t[name][5]
        assert z[name][3].dtype == t[name][3].dtype == np.dtype(dtype), name
        for a, b in zip(z[name][2:5], t[name][2:5]):
            close(a, b, **tol)
    assert t["leakyrelu"][1] == {"name": "LeakyReLU", "alpha": 0.1}
    # the hand-written ones against the library's own (and the finite-difference check)
    x = zeroin.linspace(-5, 5, 100, dtype=zeroin.float64)   # not 0: a kink
    _, by_name = _activations(zeroin, znn)
    for mine, ref in (("sigmoid", ZF.sigmoid), ("tanh", ZF.tanh), ("swish", ZF.silu),
                      ("elu", ZF.elu), ("leakyrelu", partial(ZF.leaky_relu, negative_slope=0.1))):
        close(by_name[mine]()(x), ref(x))
        assert zeroin.gradcheck(by_name[mine](), (x.clone().requires_grad_(),))


IMGS = 96


def _fashion_images(n=IMGS, seed=0):
    """FashionMNIST-like (28, 28) uint8 images and labels."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n)


def _torch_transform(img):
    """torchvision's Compose([ToTensor(), Normalize((0.5,), (0.5,))]) in plain torch."""
    x = torch.from_numpy(img).float().div(255).unsqueeze(0)
    return (x - 0.5) / 0.5


class _ImageSet:
    """FashionMNIST-like dataset: (image, label), the image through ``transform``."""

    def __init__(self, imgs, labels, transform):
        self.imgs, self.labels, self.transform = imgs, labels, transform

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, idx):
        return self.transform(self.imgs[idx]), int(self.labels[idx])


def test_t3_transforms_compose_to_tensor_normalize(f32):
    from zeroin.vision import transforms
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    imgs, _ = _fashion_images(4)
    for img in imgs:
        z = transform(img)
        assert z.shape == (1, 28, 28) and z.dtype == zeroin.float32
        _close(z, _torch_transform(img))
    assert float(transform(np.full((28, 28), 255, np.uint8)).max()) == 1.0


def _base_network(nn, container="sequential"):
    class BaseNetwork(nn.Module):

        def __init__(self, act_fn, input_size=784, num_classes=10,
                     hidden_sizes=[512, 256, 256, 128]):
            super().__init__()
            layers = []
            layer_sizes = [input_size] + hidden_sizes
            for layer_index in range(1, len(layer_sizes)):
                layers += [nn.Linear(layer_sizes[layer_index - 1], layer_sizes[layer_index]),
                           act_fn]
            layers += [nn.Linear(layer_sizes[-1], num_classes)]
            if container == "sequential":
                self.layers = nn.Sequential(*layers)
                self.config = {"act_fn": act_fn.config, "input_size": input_size,
                               "num_classes": num_classes, "hidden_sizes": hidden_sizes}
            else:
                self.layers = nn.ModuleList(layers)
                self.config = {"act_fn": act_fn.__class__.__name__, "input_size": input_size,
                               "num_classes": num_classes, "hidden_sizes": hidden_sizes}

        def forward(self, x):
            x = x.view(x.size(0), -1)
            if container == "sequential":
                return self.layers(x)
            for layer in self.layers:
                x = layer(x)
            return x
    return BaseNetwork


HIDDEN = [32, 16, 16]


def _t3_loaders(name):
    torch, nn, F, data, optim = LIBS[name]
    imgs, labels = _fashion_images()
    if name == "zeroin":
        from zeroin.vision import transforms
        transform = transforms.Compose([transforms.ToTensor(),
                                        transforms.Normalize((0.5,), (0.5,))])
    else:
        transform = _torch_transform
    train_dataset = _ImageSet(imgs, labels, transform)
    train_set, val_set = data.random_split(train_dataset, [80, 16])
    assert len(train_set) == 80 and len(val_set) == 16
    return train_dataset, data.DataLoader(train_dataset, batch_size=32, shuffle=False,
                                          drop_last=False)


def _t3_stats(name, tnet_state, act_name):
    """visualize_gradients, visualize_activations (a layer walk under no_grad and a forward
    hook), a few SGD-momentum steps and measure_number_dead_neurons."""
    torch, nn, F, data, optim = LIBS[name]
    ActivationFunction, by_name = _activations(torch, nn)
    net = _base_network(nn)(act_fn=by_name[act_name](), hidden_sizes=HIDDEN)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tnet_state.items()})
    train_set, train_loader = _t3_loaders(name)
    net.eval()
    small_loader = data.DataLoader(train_set, batch_size=64, shuffle=False)
    imgs, labels = next(iter(small_loader))
    net.zero_grad()
    preds = net(imgs)
    loss = F.cross_entropy(preds, labels)
    loss.backward()
    grads = {name: params.grad.data.view(-1).cpu().clone().numpy()
             for name, params in net.named_parameters() if "weight" in name}
    net.zero_grad()
    cleared = [p.grad for p in net.parameters()]
    activations, hooked = {}, []
    handle = net.layers[0].register_forward_hook(lambda m, i, o: hooked.append(o.detach()))
    with torch.no_grad():
        feats = imgs.view(imgs.size(0), -1)
        for layer_index, layer in enumerate(net.layers[:-1]):
            feats = layer(feats)
            activations[layer_index] = feats.view(-1).cpu().numpy()
        net(imgs)
    handle.remove()
    optimizer = optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    loss_module = nn.CrossEntropyLoss()
    net.train()
    losses, true_preds, count = [], 0., 0
    for imgs, labels in train_loader:
        optimizer.zero_grad()
        preds = net(imgs)
        loss = loss_module(preds, labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        true_preds += (preds.argmax(dim=-1) == labels).sum().item()
        count += labels.shape[0]
    dead = _dead_neurons(torch, nn, ActivationFunction, net, train_loader)
    return dict(grads=grads, cleared=cleared, act=activations, hooked=hooked[0], losses=losses,
                acc=true_preds / count, dead=dead, config=json.dumps(net.config),
                state={k: _np(v) for k, v in net.state_dict().items()})


def _dead_neurons(torch, nn, ActivationFunction, net, train_loader):
    @torch.no_grad()
    def measure_number_dead_neurons(net):
        neurons_dead = [torch.ones(layer.weight.shape[0], dtype=torch.bool)
                        for layer in net.layers[:-1] if isinstance(layer, nn.Linear)]
        net.eval()
        for imgs, labels in train_loader:
            layer_index = 0
            imgs = imgs.view(imgs.size(0), -1)
            for layer in net.layers[:-1]:
                imgs = layer(imgs)
                if isinstance(layer, ActivationFunction):
                    neurons_dead[layer_index] = torch.logical_and(neurons_dead[layer_index],
                                                                  (imgs == 0).all(dim=0))
                    layer_index += 1
        number_neurons_dead = [t.sum().item() for t in neurons_dead]
        return number_neurons_dead, ", ".join(
            [f"{(100.0 * num_dead / tens.shape[0]):4.2f}%"
             for tens, num_dead in zip(neurons_dead, number_neurons_dead)])
    return measure_number_dead_neurons(net)


@pytest.mark.parametrize("act_name", ["relu", "tanh"])
def test_t3_gradients_activations_training_and_dead_neurons(f32, act_name, tmp_path):
    torch.manual_seed(42)
    _, by_name = _activations(torch, torch.nn)
    tnet = _base_network(torch.nn)(act_fn=by_name[act_name](), hidden_sizes=HIDDEN)
    with torch.no_grad():          # a few dead ReLUs: the first layer's bias pushed down
        tnet.layers[0].bias[:8] -= 50
    state = {k: v.numpy() for k, v in tnet.state_dict().items()}
    z, t = _t3_stats("zeroin", state, act_name), _t3_stats("torch", state, act_name)
    assert sorted(z["grads"]) == sorted(t["grads"]) == [f"layers.{i}.weight" for i in (0, 2, 4, 6)]
    for k in t["grads"]:
        _close(z["grads"][k], t["grads"][k])
    assert all(g is None for g in z["cleared"] + t["cleared"])   # zero_grad: set_to_none
    assert sorted(z["act"]) == sorted(t["act"]) == list(range(6))
    for k in t["act"]:
        _close(z["act"][k], t["act"][k])
    _close(z["hooked"], t["hooked"])
    np.testing.assert_allclose(z["losses"], t["losses"], **F32)
    assert z["acc"] == t["acc"]
    assert z["dead"] == t["dead"] and z["config"] == t["config"]
    if act_name == "relu":
        assert z["dead"][0][0] >= 8
    for k in t["state"]:
        _close(z["state"][k], t["state"][k])
    # save_model / load_model: the config as JSON and the state dict through torch.save
    path = tmp_path / "model.tar"
    _, zby = _activations(zeroin, znn)
    znet = _base_network(znn)(act_fn=zby[act_name](), hidden_sizes=HIDDEN)
    zeroin.save(znet.state_dict(), str(path))
    net = _base_network(znn)(act_fn=zby[json.loads(z["config"])["act_fn"]["name"].lower()](),
                             hidden_sizes=HIDDEN)
    net.load_state_dict(zeroin.load(str(path), map_location=zeroin.device("cpu")))
    for (k, a), b in zip(net.state_dict().items(), znet.state_dict().values()):
        np.testing.assert_array_equal(_np(a), _np(b))


# --- Tutorial 4: Optimization and Initialization ----------------------------------------------

def _inits(torch):
    def const_init(model, fill=0.0):
        for name, param in model.named_parameters():
            param.data.fill_(fill)

    def const_variance_init(model, std=0.01):
        for name, param in model.named_parameters():
            param.data.normal_(std=std)

    def equal_var_init(model):
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.data.fill_(0)
            else:
                param.data.normal_(std=1.0 / math.sqrt(param.shape[1]))

    def xavier_init(model):
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.data.fill_(0)
            else:
                bound = math.sqrt(6) / math.sqrt(param.shape[0] + param.shape[1])
                param.data.uniform_(-bound, bound)

    def kaiming_init(model):
        for name, param in model.named_parameters():
            if name.endswith(".bias"):
                param.data.fill_(0)
            elif name.startswith("layers.0"):
                param.data.normal_(0, 1 / math.sqrt(param.shape[1]))
            else:
                param.data.normal_(0, math.sqrt(2) / math.sqrt(param.shape[1]))
    return dict(const=const_init, const_variance=const_variance_init, equal_var=equal_var_init,
                xavier=xavier_init, kaiming=kaiming_init)


def _t4_tables(name, init_name, act, n_in=256, hidden=(128, 128, 128, 128)):
    """Weight, gradient and activation variances per layer (visualize_weight_distribution,
    visualize_gradients and visualize_activations with print_variance=True) after ``init``."""
    torch, nn, F, data, optim = LIBS[name]
    torch.manual_seed(42)           # zeroin on the torch stream: PyTorch's draws (the test)
    act_fn = {"tanh": nn.Tanh, "relu": nn.ReLU, "identity": nn.Identity}[act]()
    model = _base_network(nn, "modulelist")(act_fn, input_size=n_in, hidden_sizes=list(hidden))
    _inits(torch)[init_name](model)
    weights = {}
    for pname, param in model.named_parameters():
        if pname.endswith(".bias"):
            continue
        weights[f"Layer {pname.split('.')[1]}"] = param.detach().view(-1).cpu().numpy()
    imgs = torch.from_numpy(np.random.default_rng(0).standard_normal((512, n_in)).astype(
        np.float32))
    labels = torch.from_numpy(np.random.default_rng(1).integers(0, 10, 512))
    model.train()
    model.zero_grad()
    preds = model(imgs)
    loss = F.cross_entropy(preds, labels)
    loss.backward()
    grads = {n: p.grad.view(-1).cpu().clone().numpy()
             for n, p in model.named_parameters() if "weight" in n}
    model.zero_grad()
    model.eval()
    feats, activations = imgs.view(imgs.shape[0], -1), {}
    with torch.no_grad():
        for layer_index, layer in enumerate(model.layers):
            feats = layer(feats)
            if isinstance(layer, nn.Linear):
                activations[f"Layer {layer_index}"] = feats.view(-1).detach().cpu().numpy()
    return ({k: np.var(v) for k, v in weights.items()}, {k: np.var(v) for k, v in grads.items()},
            {k: np.var(v) for k, v in activations.items()})


@pytest.mark.parametrize("init_name,act", [("const", "tanh"), ("const_variance", "tanh"),
                                           ("equal_var", "identity"), ("xavier", "tanh"),
                                           ("kaiming", "relu")])
def test_t4_initialisation_variance_tables(f32, init_name, act):
    """The variance tables: on zeroin's torch stream ``param.data.normal_`` / ``uniform_``
    draw PyTorch's numbers, so the tables agree with torch's to float resolution. Constant
    init gives one value per layer; equal variance keeps the activations' variance about 1
    through the identity network; Xavier's weights have variance 2 / (fan_in + fan_out);
    Kaiming keeps ReLU's activations from shrinking."""
    torch_stream()
    z, t = _t4_tables("zeroin", init_name, act), _t4_tables("torch", init_name, act)
    for zt, tt in zip(z, t):
        assert list(zt) == list(tt)
        for k in tt:
            np.testing.assert_allclose(zt[k], tt[k], rtol=1e-4, atol=1e-12, err_msg=k)
    wvar, gvar, avar = z
    if init_name == "const":
        assert all(v == 0 for v in wvar.values())
    if init_name == "const_variance":
        np.testing.assert_allclose(list(wvar.values()), 1e-4, rtol=0.15)
        assert avar["Layer 2"] < 0.05 * avar["Layer 0"]      # vanishing (to the biases)
    if init_name == "equal_var":
        np.testing.assert_allclose(list(avar.values()), 1, rtol=0.2)
    if init_name == "xavier":
        np.testing.assert_allclose(wvar["Layer 0"], 2 / (256 + 128), rtol=0.05)
    if init_name == "kaiming":
        assert 0.3 < avar["Layer 8"] / avar["Layer 0"] < 3


def _optimizers(torch):
    class OptimizerTemplate:

        def __init__(self, params, lr):
            self.params = list(params)
            self.lr = lr

        def zero_grad(self):
            for p in self.params:
                if p.grad is not None:
                    p.grad.detach_()
                    p.grad.zero_()

        @torch.no_grad()
        def step(self):
            for p in self.params:
                if p.grad is None:
                    continue
                self.update_param(p)

        def update_param(self, p):
            raise NotImplementedError

    class SGD(OptimizerTemplate):
        def __init__(self, params, lr):
            super().__init__(params, lr)

        def update_param(self, p):
            p_update = -self.lr * p.grad
            p.add_(p_update)

    class SGDMomentum(OptimizerTemplate):
        def __init__(self, params, lr, momentum=0.0):
            super().__init__(params, lr)
            self.momentum = momentum
            self.param_momentum = {p: torch.zeros_like(p.data) for p in self.params}

        def update_param(self, p):
            self.param_momentum[p] = ((1 - self.momentum) * p.grad
                                      + self.momentum * self.param_momentum[p])
            p_update = -self.lr * self.param_momentum[p]
            p.add_(p_update)

    class Adam(OptimizerTemplate):
        def __init__(self, params, lr, beta1=0.9, beta2=0.999, eps=1e-8):
            super().__init__(params, lr)
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.param_step = {p: 0 for p in self.params}
            self.param_momentum = {p: torch.zeros_like(p.data) for p in self.params}
            self.param_2nd_momentum = {p: torch.zeros_like(p.data) for p in self.params}

        def update_param(self, p):
            self.param_step[p] += 1
            self.param_momentum[p] = ((1 - self.beta1) * p.grad
                                      + self.beta1 * self.param_momentum[p])
            self.param_2nd_momentum[p] = ((1 - self.beta2) * (p.grad) ** 2
                                          + self.beta2 * self.param_2nd_momentum[p])
            bias_correction_1 = 1 - self.beta1 ** self.param_step[p]
            bias_correction_2 = 1 - self.beta2 ** self.param_step[p]
            p_2nd_mom = self.param_2nd_momentum[p] / bias_correction_2
            p_mom = self.param_momentum[p] / bias_correction_1
            p_lr = self.lr / (torch.sqrt(p_2nd_mom) + self.eps)
            p_update = -p_lr * p_mom
            p.add_(p_update)
    return dict(SGD=SGD, SGDMomentum=SGDMomentum, Adam=Adam)


def _curves(torch, nn):
    def pathological_curve_loss(w1, w2):
        x1_loss = torch.tanh(w1) ** 2 + 0.01 * torch.abs(w1)
        x2_loss = torch.sigmoid(w2)
        return x1_loss + x2_loss

    def bivar_gaussian(w1, w2, x_mean=0.0, y_mean=0.0, x_sig=1.0, y_sig=1.0):
        norm = 1 / (2 * np.pi * x_sig * y_sig)
        x_exp = (-1 * (w1 - x_mean) ** 2) / (2 * x_sig ** 2)
        y_exp = (-1 * (w2 - y_mean) ** 2) / (2 * y_sig ** 2)
        return norm * torch.exp(x_exp + y_exp)

    def comb_func(w1, w2):
        z = -bivar_gaussian(w1, w2, x_mean=1.0, y_mean=-0.5, x_sig=0.2, y_sig=0.2)
        z -= bivar_gaussian(w1, w2, x_mean=-1.0, y_mean=0.5, x_sig=0.2, y_sig=0.2)
        z -= bivar_gaussian(w1, w2, x_mean=-0.5, y_mean=-0.8, x_sig=0.2, y_sig=0.2)
        return z

    def log_comb_func(w1, w2):          # the steep optima on a log scale
        return torch.log(comb_func(w1, w2) + 5.0)

    def train_curve(optimizer_func, curve_func=pathological_curve_loss, num_updates=100,
                    init=[5, 5], dtype=None):
        weights = nn.Parameter(torch.FloatTensor(init) if dtype is None
                               else torch.tensor(init, dtype=dtype), requires_grad=True)
        optimizer = optimizer_func([weights])
        list_points = []
        for _ in range(num_updates):
            loss = curve_func(weights[0], weights[1])
            list_points.append(torch.cat([weights.data.detach(),
                                          loss.unsqueeze(dim=0).detach()], dim=0))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        points = torch.stack(list_points, dim=0).numpy()
        return points
    return pathological_curve_loss, comb_func, log_comb_func, train_curve


def _trajectories(name, dtype=None):
    torch, nn, F, data, optim = LIBS[name]
    opts = _optimizers(torch)
    path, comb, log_comb, train_curve = _curves(torch, nn)
    d = None if dtype is None else getattr(torch, dtype)
    out = {}
    for key, make in (("SGD", lambda p: opts["SGD"](p, lr=10)),
                      ("SGDMom", lambda p: opts["SGDMomentum"](p, lr=10, momentum=0.9)),
                      ("Adam", lambda p: opts["Adam"](p, lr=1)),
                      ("optim.Adam", lambda p: optim.Adam(p, lr=1))):
        out["path " + key] = train_curve(make, dtype=d)
    for key, make in (("SGD", lambda p: opts["SGD"](p, lr=.5)),
                      ("SGDMom", lambda p: opts["SGDMomentum"](p, lr=1, momentum=0.9)),
                      ("Adam", lambda p: opts["Adam"](p, lr=.2))):
        out["steep " + key] = train_curve(make, comb, init=[0, 0], dtype=d)
    out["log steep Adam"] = train_curve(lambda p: opts["Adam"](p, lr=.05), log_comb,
                                        init=[-0.8, 0.3], num_updates=50, dtype=d)
    x = torch.arange(-5, 5, 10 / 100.)                           # plot_curve
    xx, yy = torch.meshgrid(x, x, indexing="xy")
    out["surface"] = path(xx, yy).numpy()
    return out


# SGD at lr=10 on tanh(w1)**2 is chaotic in w1: each step multiplies a difference by up to
# ~3, so the last-bit differences of zeroin's NumPy tanh / exp from PyTorch's SLEEF kernels
# grow to the curve's scale. Those trajectories are compared over the steps before that
# (measured: float64 agrees to 1e-10 for 24 steps; float32 to 1e-5 for 18 steps of SGD, 30
# of SGD-momentum, 73 of SGD on the steep optima); w2, the loss's smooth direction, all along.
CHAOS = {None: {"path SGD": 15, "path SGDMom": 25, "steep SGD": 60}, "float64": {"path SGD": 20}}


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_t4_hand_written_optimizers_on_the_pathological_and_steep_curves(dtype):
    """train_curve's trajectories (weights and loss per step) agree with torch's: float32
    (torch.FloatTensor, the notebook's) to float resolution, float64 to 1e-10."""
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, dtype or "float32"))
    z, t = _trajectories("zeroin", dtype), _trajectories("torch", dtype)
    tol = F64 if dtype else dict(rtol=1e-5, atol=1e-5)
    for k in t:
        assert z[k].dtype == t[k].dtype == np.dtype(dtype or "float32"), k
        n = CHAOS[dtype].get(k, len(t[k]))
        close(z[k][:n], t[k][:n], **tol)
        if k.startswith("path"):
            close(z[k][:, 1], t[k][:, 1], **tol)
    assert z["path SGD"].shape == (100, 3)
    close(z["path Adam"], z["path optim.Adam"], **tol)         # the same Adam as optim's
    assert np.abs(z["path SGD"][:, 0]).max() < 10 and z["path SGD"][-1, 1] < -6   # bouncing
    assert abs(z["path Adam"][-1, 0]) < 0.01                   # Adam finds w1 = 0


def _compare_step(name, tstate, which):
    """The hand-written optimizers against the library's own on a small MLP, 4 steps."""
    torch, nn, F, data, optim = LIBS[name]
    model = _base_network(nn, "modulelist")(nn.Tanh(), input_size=6, hidden_sizes=[5, 4])
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tstate.items()})
    opts = _optimizers(torch)
    mine = {"SGD": lambda p: opts["SGD"](p, lr=0.1),
            "SGDMomentum": lambda p: opts["SGDMomentum"](p, lr=0.1, momentum=0.9),
            "Adam": lambda p: opts["Adam"](p, lr=0.01)}[which](model.parameters())
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((8, 6)))
    y = torch.from_numpy(np.random.default_rng(3).integers(0, 10, 8))
    for _ in range(4):
        mine.zero_grad()
        F.cross_entropy(model(x), y).backward()
        mine.step()
    return {k: _np(v) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("which", ["SGD", "SGDMomentum", "Adam"])
def test_t4_optimizer_template_on_a_network_float64(which):
    torch.set_default_dtype(torch.float64)
    tmodel = _base_network(torch.nn, "modulelist")(torch.nn.Tanh(), input_size=6,
                                                   hidden_sizes=[5, 4])
    tstate = {k: v.numpy() for k, v in tmodel.state_dict().items()}
    z, t = _compare_step("zeroin", tstate, which), _compare_step("torch", tstate, which)
    for k in t:
        close(z[k], t[k], **F64)
        assert not np.array_equal(z[k], tstate[k]) or k.endswith("bias"), k


# --- Tutorial 6: Transformers (the plain-PyTorch parts) ---------------------------------------

def _transformer(torch, nn, F, optim):
    def scaled_dot_product(q, k, v, mask=None):
        d_k = q.size()[-1]
        attn_logits = torch.matmul(q, k.transpose(-2, -1))
        attn_logits = attn_logits / math.sqrt(d_k)
        if mask is not None:
            attn_logits = attn_logits.masked_fill(mask == 0, -9e15)
        attention = F.softmax(attn_logits, dim=-1)
        values = torch.matmul(attention, v)
        return values, attention

    def expand_mask(mask):
        assert mask.ndim >= 2, "Mask must be at least 2-dimensional with seq_length x seq_length"
        if mask.ndim == 3:
            mask = mask.unsqueeze(1)
        while mask.ndim < 4:
            mask = mask.unsqueeze(0)
        return mask

    class MultiheadAttention(nn.Module):

        def __init__(self, input_dim, embed_dim, num_heads):
            super().__init__()
            assert embed_dim % num_heads == 0, "Embedding dimension must be 0 modulo heads."
            self.embed_dim = embed_dim
            self.num_heads = num_heads
            self.head_dim = embed_dim // num_heads
            self.qkv_proj = nn.Linear(input_dim, 3 * embed_dim)
            self.o_proj = nn.Linear(embed_dim, embed_dim)
            self._reset_parameters()

        def _reset_parameters(self):
            nn.init.xavier_uniform_(self.qkv_proj.weight)
            self.qkv_proj.bias.data.fill_(0)
            nn.init.xavier_uniform_(self.o_proj.weight)
            self.o_proj.bias.data.fill_(0)

        def forward(self, x, mask=None, return_attention=False):
            batch_size, seq_length, _ = x.size()
            if mask is not None:
                mask = expand_mask(mask)
            qkv = self.qkv_proj(x)
            qkv = qkv.reshape(batch_size, seq_length, self.num_heads, 3 * self.head_dim)
            qkv = qkv.permute(0, 2, 1, 3)
            q, k, v = qkv.chunk(3, dim=-1)
            values, attention = scaled_dot_product(q, k, v, mask=mask)
            values = values.permute(0, 2, 1, 3)
            values = values.reshape(batch_size, seq_length, self.embed_dim)
            o = self.o_proj(values)
            if return_attention:
                return o, attention
            return o

    class EncoderBlock(nn.Module):

        def __init__(self, input_dim, num_heads, dim_feedforward, dropout=0.0):
            super().__init__()
            self.self_attn = MultiheadAttention(input_dim, input_dim, num_heads)
            self.linear_net = nn.Sequential(
                nn.Linear(input_dim, dim_feedforward), nn.Dropout(dropout),
                nn.ReLU(inplace=True), nn.Linear(dim_feedforward, input_dim))
            self.norm1 = nn.LayerNorm(input_dim)
            self.norm2 = nn.LayerNorm(input_dim)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x, mask=None):
            attn_out = self.self_attn(x, mask=mask)
            x = x + self.dropout(attn_out)
            x = self.norm1(x)
            linear_out = self.linear_net(x)
            x = x + self.dropout(linear_out)
            x = self.norm2(x)
            return x

    class TransformerEncoder(nn.Module):

        def __init__(self, num_layers, **block_args):
            super().__init__()
            self.layers = nn.ModuleList([EncoderBlock(**block_args) for _ in range(num_layers)])

        def forward(self, x, mask=None):
            for layer in self.layers:
                x = layer(x, mask=mask)
            return x

        def get_attention_maps(self, x, mask=None):
            attention_maps = []
            for layer in self.layers:
                _, attn_map = layer.self_attn(x, mask=mask, return_attention=True)
                attention_maps.append(attn_map)
                x = layer(x)
            return attention_maps

    class PositionalEncoding(nn.Module):

        def __init__(self, d_model, max_len=5000):
            super().__init__()
            pe = torch.zeros(max_len, d_model)
            position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2).float()
                                 * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = torch.sin(position * div_term)
            pe[:, 1::2] = torch.cos(position * div_term)
            pe = pe.unsqueeze(0)
            self.register_buffer('pe', pe, persistent=False)

        def forward(self, x):
            x = x + self.pe[:, :x.size(1)]
            return x

    class CosineWarmupScheduler(optim.lr_scheduler._LRScheduler):

        def __init__(self, optimizer, warmup, max_iters):
            self.warmup = warmup
            self.max_num_iters = max_iters
            super().__init__(optimizer)

        def get_lr(self):
            lr_factor = self.get_lr_factor(epoch=self.last_epoch)
            return [base_lr * lr_factor for base_lr in self.base_lrs]

        def get_lr_factor(self, epoch):
            lr_factor = 0.5 * (1 + np.cos(np.pi * epoch / self.max_num_iters))
            if epoch <= self.warmup:
                lr_factor *= epoch * 1.0 / self.warmup
            return lr_factor
    return dict(scaled_dot_product=scaled_dot_product, MultiheadAttention=MultiheadAttention,
                TransformerEncoder=TransformerEncoder, PositionalEncoding=PositionalEncoding,
                CosineWarmupScheduler=CosineWarmupScheduler)


def test_t6_scaled_dot_product_and_masking():
    """The notebook's q, k, v (seq_len 3, d_k 2; float32) and a mask over the last key."""
    torch.manual_seed(42)
    q, k, v = torch.randn(3, 2), torch.randn(3, 2), torch.randn(3, 2)
    mask = torch.tensor([[1, 1, 0]] * 3)
    out = {}
    for name in LIBS:
        lib, nn, F, data, optim = LIBS[name]
        sdp = _transformer(lib, nn, F, optim)["scaled_dot_product"]
        args = [a if name == "torch" else zeroin.tensor(a.numpy()) for a in (q, k, v, mask)]
        out[name] = sdp(*args[:3]) + sdp(*args[:3], mask=args[3])
    for zz, tt in zip(out["zeroin"], out["torch"]):
        assert zz.dtype == zeroin.float32
        _close(zz, tt)
    assert float(out["zeroin"][3][:, 2].abs().max()) == 0.0       # masked: no attention


def _positional(name, dtype):
    torch, nn, F, data, optim = LIBS[name]
    PositionalEncoding = _transformer(torch, nn, F, optim)["PositionalEncoding"]
    encod_block = PositionalEncoding(d_model=48, max_len=96)
    pe = encod_block.pe.squeeze().T.cpu().numpy()
    x = torch.zeros(2, 10, 48, dtype=getattr(torch, dtype))
    return pe, encod_block(x), list(encod_block.state_dict()), [n for n, _ in
                                                                  encod_block.named_buffers()]


def test_t6_positional_encoding_buffer_not_persistent(f32):
    (zpe, zx, zsd, zbuf), (tpe, tx, tsd, tbuf) = (_positional(n, "float32") for n in LIBS)
    assert zpe.shape == tpe.shape == (48, 96) and zpe.dtype == tpe.dtype == np.float32
    _close(zpe, tpe, dict(rtol=1e-5, atol=1e-5))       # sin / cos of arguments up to 95
    _close(zx, tx, dict(rtol=1e-5, atol=1e-5))
    assert zsd == tsd == [] and zbuf == tbuf == ["pe"]


def test_t6_cosine_warmup_scheduler():
    out = {}
    for name in LIBS:
        torch, nn, F, data, optim = LIBS[name]
        CosineWarmupScheduler = _transformer(torch, nn, F, optim)["CosineWarmupScheduler"]
        p = nn.Parameter(torch.empty(4, 4))
        optimizer = optim.Adam([p], lr=1e-3)
        lr_scheduler = CosineWarmupScheduler(optimizer=optimizer, warmup=100, max_iters=2000)
        epochs = list(range(2000))
        factors = [lr_scheduler.get_lr_factor(e) for e in epochs]
        lrs = [optimizer.param_groups[0]["lr"]]
        for _ in range(150):
            optimizer.step()
            lr_scheduler.step()
            lrs.append(optimizer.param_groups[0]["lr"])
        out[name] = (factors, lrs, lr_scheduler.last_epoch, lr_scheduler.base_lrs,
                     lr_scheduler.get_last_lr())
    z, t = out["zeroin"], out["torch"]
    np.testing.assert_allclose(z[0], t[0], rtol=1e-15)
    np.testing.assert_allclose(z[1], t[1], rtol=1e-15)
    assert z[2:4] == t[2:4] == (150, [1e-3]) and z[4] == t[4]
    assert t[1][0] == 0 and abs(t[1][100] - 1e-3 * t[0][100]) < 1e-15 and max(t[1]) < 1e-3


def _reverse_dataset(torch, data):
    class ReverseDataset(data.Dataset):

        def __init__(self, num_categories, seq_len, size):
            super().__init__()
            self.num_categories = num_categories
            self.seq_len = seq_len
            self.size = size
            self.data = torch.randint(self.num_categories, size=(self.size, self.seq_len))

        def __len__(self):
            return self.size

        def __getitem__(self, idx):
            inp_data = self.data[idx]
            labels = torch.flip(inp_data, dims=(0,))
            return inp_data, labels
    return ReverseDataset


def _reverse_run(name, tdata, tstate, steps=6):
    """ReversePredictor (TransformerPredictor's input_net, positional encoding, encoder,
    output_net) trained a few steps with Adam and the cosine warm-up, as Lightning's loop
    runs it: loss, accuracy, learning rates and the attention maps."""
    torch, nn, F, data, optim = LIBS[name]
    T = _transformer(torch, nn, F, optim)
    num_classes, model_dim = 10, 32
    dataset = partial(_reverse_dataset(torch, data), num_classes, 16)
    train = dataset(64)
    assert train.data.dtype == torch.int64 and int(train.data.max()) < 10
    train.data = torch.from_numpy(tdata.copy())
    inp, lab = train[0]
    assert lab.tolist() == inp.tolist()[::-1]
    train_loader = data.DataLoader(train, batch_size=16, shuffle=False, drop_last=True,
                                   pin_memory=True)
    model = nn.ModuleDict(dict(
        input_net=nn.Sequential(nn.Dropout(0.0), nn.Linear(num_classes, model_dim)),
        positional_encoding=T["PositionalEncoding"](d_model=model_dim),
        transformer=T["TransformerEncoder"](num_layers=1, input_dim=model_dim,
                                            dim_feedforward=2 * model_dim, num_heads=1,
                                            dropout=0.0),
        output_net=nn.Sequential(nn.Linear(model_dim, model_dim), nn.LayerNorm(model_dim),
                                 nn.ReLU(inplace=True), nn.Dropout(0.0),
                                 nn.Linear(model_dim, num_classes))))
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tstate.items()})

    def forward(x, mask=None, add_positional_encoding=True):
        x = model["input_net"](x)
        if add_positional_encoding:
            x = model["positional_encoding"](x)
        x = model["transformer"](x, mask=mask)
        return model["output_net"](x)
    optimizer = optim.Adam(model.parameters(), lr=5e-4)
    lr_scheduler = T["CosineWarmupScheduler"](optimizer, warmup=3, max_iters=steps)
    log = []
    model.train()
    with pytest.warns(UserWarning, match="pin_memory"):       # no GPU: both say so
        for inp_data, labels in train_loader:
            inp_data = F.one_hot(inp_data, num_classes=num_classes).float()
            preds = forward(inp_data, add_positional_encoding=True)
            loss = F.cross_entropy(preds.view(-1, preds.size(-1)), labels.view(-1))
            acc = (preds.argmax(dim=-1) == labels).float().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            lr_scheduler.step()
            log.append((loss.item(), acc.item(), optimizer.param_groups[0]["lr"]))
    inp_data = F.one_hot(train.data[:2], num_classes=num_classes).float()
    inp_data = model["positional_encoding"](model["input_net"](inp_data))
    attn_maps = model["transformer"].get_attention_maps(inp_data)
    return log, [m.detach().cpu().numpy() for m in attn_maps], {
        k: _np(v) for k, v in model.state_dict().items()}


def test_t6_reverse_task_training_steps_agree(f32):
    torch.manual_seed(42)
    tdata = _reverse_dataset(torch, torch.utils.data)(10, 16, 64).data.numpy()
    nn, T = torch.nn, _transformer(torch, torch.nn, torch.nn.functional, torch.optim)
    tmodel = nn.ModuleDict(dict(
        input_net=nn.Sequential(nn.Dropout(0.0), nn.Linear(10, 32)),
        transformer=T["TransformerEncoder"](num_layers=1, input_dim=32, dim_feedforward=64,
                                            num_heads=1, dropout=0.0),
        output_net=nn.Sequential(nn.Linear(32, 32), nn.LayerNorm(32), nn.ReLU(inplace=True),
                                 nn.Dropout(0.0), nn.Linear(32, 10))))
    tstate = {k: v.numpy() for k, v in tmodel.state_dict().items()}
    (zlog, zmaps, zstate), (tlog, tmaps, tstate2) = (_reverse_run(n, tdata, tstate)
                                                     for n in LIBS)
    assert len(zlog) == len(tlog) == 4 and tlog[0][2] > 0
    np.testing.assert_allclose(zlog, tlog, rtol=1e-5, atol=1e-6)
    assert [m.shape for m in zmaps] == [m.shape for m in tmaps] == [(2, 1, 16, 16)]
    _close(zmaps[0], tmaps[0], dict(rtol=1e-4, atol=1e-6))
    # The key projection's bias has no gradient but rounding noise (softmax ignores a shift
    # common to all keys), which Adam turns into steps of +-lr of either sign: compared apart
    kb = "transformer.layers.0.self_attn.qkv_proj.bias"
    assert np.abs(zstate[kb][32:64]).max() <= 4 * 5e-4
    zstate[kb][32:64] = tstate2[kb][32:64] = 0
    for k in tstate2:
        _close(zstate[k], tstate2[k], dict(rtol=1e-4, atol=1e-6))


def test_t6_multihead_attention_xavier_init_and_masked_batch(f32):
    """MultiheadAttention's own init (xavier_uniform_, bias.data.fill_(0)) and a padded batch
    through expand_mask: with zeroin on the torch stream, its xavier_uniform_ draws PyTorch's
    weights, so the module needs no copying."""
    torch_stream()
    out = {}
    for name in LIBS:
        torch, nn, F, data, optim = LIBS[name]
        torch.manual_seed(42)
        mha = _transformer(torch, nn, F, optim)["MultiheadAttention"](8, 12, num_heads=3)
        x = torch.randn(2, 5, 8)
        mask = torch.ones(2, 5, 5)
        mask[1, :, 3:] = 0
        o, attn = mha(x, mask=mask, return_attention=True)
        o.sum().backward()
        out[name] = (mha.qkv_proj.weight, mha.qkv_proj.bias, o, attn, mha.qkv_proj.weight.grad)
    for zz, tt in zip(out["zeroin"], out["torch"]):
        _close(zz, tt, dict(rtol=1e-5, atol=1e-6))
    assert out["zeroin"][1].abs().max().item() == 0
    bound = math.sqrt(6 / (8 + 36))
    assert 0.9 * bound < out["zeroin"][0].abs().max().item() <= bound
    assert out["zeroin"][3][1, :, :, 3:].abs().max().item() == 0


def _t2_seeded(name):
    """Tutorial 2 as written, from torch.manual_seed(42): the XOR data, the classifier's own
    initial weights, the shuffled loader's batches, training and evaluation."""
    torch, nn, F, data, optim = LIBS[name]
    torch.manual_seed(42)
    XORDataset = _xor(torch, data)
    dataset = XORDataset(size=200)
    data_loader = data.DataLoader(dataset, batch_size=8, shuffle=True)
    data_inputs, data_labels = next(iter(data_loader))
    model = _simple_classifier(nn)(num_inputs=2, num_hidden=4, num_outputs=1)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    train_data_loader = data.DataLoader(dataset, batch_size=32, shuffle=True)
    log = []
    _train_model(model, optimizer, train_data_loader, nn.BCEWithLogitsLoss(), 20, "cpu", log)
    test_dataset = XORDataset(size=100)
    test_loader = data.DataLoader(test_dataset, batch_size=32, shuffle=False, drop_last=False)
    acc, line = _eval_model(torch, model, test_loader, "cpu")
    return (dataset.data, dataset.label, data_inputs, data_labels, log, test_dataset.data,
            acc, line, torch.rand(3))


def test_t2_from_manual_seed_on_the_torch_stream(f32):
    """With zeroin.random.use_torch_stream(True), the notebook's own draws (randint and randn
    for the data, nn.Linear's initial weights, the shuffled DataLoader's batches) are
    PyTorch's: data, batches, losses and the accuracy line agree with no copying at all."""
    torch_stream()
    z, t = _t2_seeded("zeroin"), _t2_seeded("torch")
    for k in (0, 1, 2, 3, 5):
        np.testing.assert_array_equal(_np(z[k]), _np(t[k]))
    assert len(z[4]) == len(t[4]) == 140
    np.testing.assert_allclose(z[4], t[4], **F32)
    _close(z[6], t[6])
    assert z[7] == t[7]
    np.testing.assert_array_equal(_np(z[8]), _np(t[8]))        # the streams still in step
