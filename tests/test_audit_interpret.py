"""Audit of interpretability and adversarial-example code written by hand (no Captum): the
recipes of Captum's tutorials (SmoothGrad, gradient x input, Integrated Gradients),
jacobgil's pytorch-grad-cam and utkuozbulak's pytorch-cnn-visualizations (Grad-CAM with
forward / backward / tensor hooks, guided backpropagation, Guided Grad-CAM), the PyTorch
FGSM tutorial, Madry et al.'s adversarial robustness tutorial and torchattacks (FGSM, PGD
with random start, L2 PGD, targeted attacks, adversarial training), TRADES's
``enable_grad`` inside ``no_grad``, and DeepDream / feature visualisation (``torch.roll``
jitter, a Gaussian blur by ``F.conv2d``). Each recipe runs on PyTorch and on zeroin
(``import zeroin as torch``) with the same small seeded nets (weights copied from torch),
the same synthetic 3x16x16 images and the same noise; float64 agrees to 1e-10, float32 to
float resolution, and a few gradients are checked by finite differences. The basic
saliency map and class visualisation (tests/test_audit_cs231n.py) and fastbook's CAM
(tests/test_audit_fastbook.py) are not repeated. See docs/interpret.md."""

import math

import numpy as np
import pytest
from _audit import (
    close,
    copy_weights,
    np_of,
    torch_defaults_back,  # noqa: F401  (autouse: torch's defaults back)
)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
TOL = {"float64": {"rtol": 1e-10, "atol": 1e-10}, "float32": {"rtol": 2e-5, "atol": 2e-6}}

_rng = np.random.default_rng(7)
IMAGES = _rng.uniform(0, 1, (4, 3, 16, 16))           # "photos" in [0, 1]
LABELS = np.array([1, 0, 3, 2])
NOISE = _rng.standard_normal((6, 4, 3, 16, 16))        # SmoothGrad's / PGD's draws, given


@pytest.fixture(params=["float64", "float32"])
def dt(request):
    """Both libraries' default dtype (both put back after the test: conftest, _audit);
    its name (the tolerance's key)."""
    torch.set_default_dtype(getattr(torch, request.param))
    zeroin.set_default_dtype(getattr(zeroin, request.param))
    return request.param


def _convnet(L, act="relu"):
    """A small conv net: two conv blocks (own ReLU modules, for the hooks; in place as
    torchvision's VGG has them with ``relu_inplace``), global average pooling and a
    linear head of 5 classes."""
    nn = L.nn
    Act = {"relu": nn.ReLU, "softplus": nn.Softplus,
           "relu_inplace": lambda: nn.ReLU(inplace=True)}[act]
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), Act(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), Act(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 5))


def _t(L, a):
    """A float array as a tensor of the default dtype (as a loaded image would be)."""
    return L.tensor(a, dtype=L.get_default_dtype())


def _twins(build, *args):
    """The same model in both libraries (zeroin's weights copied from torch's), keyed by
    library."""
    torch.manual_seed(0)
    tm = build(torch, *args)
    return {torch: tm, zeroin: copy_weights(tm, build(zeroin, *args))}


def _compare(res, tol):
    """Each zeroin result beside torch's: the same shape and values."""
    assert len(res[zeroin]) == len(res[torch])
    for z, t in zip(res[zeroin], res[torch]):
        assert np.shape(np_of(z)) == np.shape(np_of(t))
        close(z, t, **tol)


# --- saliency, SmoothGrad, gradient x input ---------------------------------------------------

def _saliency(L, model, n_samples=6, sigma=0.15):
    x = _t(L, IMAGES)
    y = L.tensor(LABELS)
    x.requires_grad_()
    scores = model(x)
    scores = scores.gather(1, y.view(-1, 1)).squeeze()
    scores.backward(L.ones_like(scores))
    grad = x.grad
    sal = grad.abs().max(dim=1)
    grad_x_input = (x.grad * x).sum(dim=1)
    # SmoothGrad (Captum's NoiseTunnel by hand): noisy copies one by one, and batched
    total, total_sq = L.zeros_like(x), L.zeros_like(x)
    for i in range(n_samples):
        x_noisy = (x.detach() + sigma * _t(L, NOISE[i])).requires_grad_(True)
        out = model(x_noisy)
        out[range(len(y)), y].sum().backward()
        total += x_noisy.grad
        total_sq += x_noisy.grad ** 2
    batch = (x.detach().unsqueeze(0) + sigma * _t(L, NOISE)).view(-1, 3, 16, 16)
    batch.requires_grad_()
    labels = y.repeat(n_samples)
    out = model(batch).gather(1, labels.unsqueeze(1)).sum()
    (g,) = L.autograd.grad(out, batch)
    batched = g.view(n_samples, *x.shape).mean(dim=0)
    return [scores, grad, sal.values, sal.indices, sal[0], L.max(grad.abs(), dim=1)[1],
            grad_x_input, total / n_samples, total_sq / n_samples, batched]


def test_saliency_smoothgrad_and_gradient_x_input_match_torch(dt):
    models = _twins(_convnet)
    res = {L: _saliency(L, models[L]) for L in LIBS}
    _compare(res, TOL[dt])
    z = res[zeroin]
    assert z[2].dtype == getattr(zeroin, dt) and z[3].dtype == zeroin.int64
    close(z[7], z[9], **TOL[dt])                   # the loop and the batch agree
    assert float((z[7] - z[1]).abs().max()) > 0.05 * float(z[1].abs().max())   # noise mattered


def test_saliency_checked_by_finite_differences():
    model = _twins(_convnet, "softplus")[zeroin]
    x = zeroin.tensor(IMAGES[:1]).requires_grad_()
    model(x)[0, 2].backward()
    h = 1e-6
    for idx in [(0, 0, 3, 4), (0, 2, 15, 0), (0, 1, 8, 8)]:
        xp, xm = IMAGES[:1].copy(), IMAGES[:1].copy()
        xp[idx] += h
        xm[idx] -= h
        with zeroin.no_grad():
            fd = (model(zeroin.tensor(xp))[0, 2] - model(zeroin.tensor(xm))[0, 2]).item() / (2 * h)
        assert abs(x.grad[idx].item() - fd) < 1e-7 * max(1, abs(fd))


# --- Integrated Gradients ----------------------------------------------------------------------

def _integrated_gradients(L, model, x, baseline, target, steps):
    """IG along the straight path, by hand: scaled inputs by linspace and broadcasting, one
    batched forward, ``autograd.grad`` of the unbound outputs (Captum's way); left and right
    Riemann sums and the trapezoid rule."""
    alphas = L.linspace(0, 1, steps + 1)
    path = baseline + alphas.view(-1, 1, 1, 1) * (x - baseline)
    path.requires_grad_(True)
    outputs = model(path)[:, target]
    grads = L.autograd.grad(L.unbind(outputs), path)[0]
    left = grads[:-1].mean(dim=0)
    right = grads[1:].mean(dim=0)
    trapezoid = ((grads[:-1] + grads[1:]) / 2).mean(dim=0)
    attr = [(x - baseline) * g for g in (left, right, trapezoid)]
    with L.no_grad():
        delta = model(x.unsqueeze(0))[0, target] - model(baseline.unsqueeze(0))[0, target]
    errors = [(a.sum() - delta).abs() for a in attr]
    return attr + [delta] + errors


def test_integrated_gradients_match_torch_and_complete(dt):
    models = _twins(_convnet, "softplus")
    base = IMAGES[0] * 0.1                                      # a dim baseline
    res = {}
    for L in LIBS:
        x, baseline = _t(L, IMAGES[0]), _t(L, base)
        res[L] = (_integrated_gradients(L, models[L], x, baseline, 3, 8)
                  + _integrated_gradients(L, models[L], x, baseline, 3, 64))
    _compare(res, TOL[dt])
    z = [r.item() if r.ndim == 0 else None for r in res[zeroin]]
    delta = z[3]
    assert z[10] == delta
    assert abs(delta) > 1e-3
    # completeness: the trapezoid's error falls as 1/steps^2, the Riemann sums' as 1/steps
    assert z[6] < z[4] and z[6] < z[5]
    if dt == "float64":
        assert z[13] < z[6] / 20 and z[11] < z[4] / 4 and z[13] < 1e-4 * abs(delta)


def test_integrated_gradients_of_a_linear_model_are_exact():
    # f(x) = w.x + b: IG is (x - x') * w for any number of steps
    lin = zeroin.nn.Linear(3 * 16 * 16, 2)
    model = lambda t: lin(t.reshape(t.shape[0], -1))
    x, baseline = zeroin.tensor(IMAGES[1]), zeroin.zeros(3, 16, 16)
    attr = _integrated_gradients(zeroin, model, x, baseline, 1, 3)
    w = lin.weight[1].reshape(3, 16, 16)
    close(attr[0], x.detach() * w.detach())
    assert attr[4].item() < 1e-12


# --- Grad-CAM: forward hooks with backward, full backward or tensor hooks --------------------

class ActivationsAndGradients:
    """jacobgil's pytorch-grad-cam class: activations by a forward hook, gradients by the
    chosen backward hook (``tensor``: ``output.register_hook`` in the forward hook, as
    pytorch-grad-cam does now), prepended so the first layer comes first."""

    def __init__(self, model, target_layers, how):
        self.model, self.gradients, self.activations, self.handles = model, [], [], []
        for layer in target_layers:
            self.handles.append(layer.register_forward_hook(self.save_activation))
            if how == "full":
                self.handles.append(layer.register_full_backward_hook(self.save_gradient_m))
            elif how == "old":
                self.handles.append(layer.register_backward_hook(self.save_gradient_m))
            else:
                self.handles.append(layer.register_forward_hook(self.save_gradient))

    def save_activation(self, module, input, output):
        self.activations.append(output.cpu().detach())

    def save_gradient_m(self, module, grad_input, grad_output):
        self.gradients = [grad_output[0].cpu().detach()] + self.gradients

    def save_gradient(self, module, input, output):
        if not hasattr(output, "requires_grad") or not output.requires_grad:
            return

        def _store_grad(grad):
            self.gradients = [grad.cpu().detach()] + self.gradients
        output.register_hook(_store_grad)

    def __call__(self, x):
        self.gradients, self.activations = [], []
        return self.model(x)

    def release(self):
        for handle in self.handles:
            handle.remove()


def _grad_cam(L, model, how, x, target):
    F = L.nn.functional
    ag = ActivationsAndGradients(model, [model[1], model[4]], how)
    model.zero_grad()
    out = ag(x)
    one_hot = L.zeros_like(out)
    one_hot.scatter_(1, target.view(-1, 1), 1.0)
    out.backward(gradient=one_hot)
    cams = []
    for act, grad in zip(ag.activations, ag.gradients):
        weights = F.adaptive_avg_pool2d(grad, 1)
        close(weights, grad.mean(dim=(2, 3), keepdim=True), rtol=1e-6, atol=1e-7)
        cam = F.relu((weights * act).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
        flat = cam.view(cam.size(0), -1)
        lo, hi = flat.min(dim=1, keepdim=True)[0], flat.max(dim=1, keepdim=True)[0]
        cams.append(((flat - lo) / (hi - lo + 1e-7)).view_as(cam))
    ag.release()
    assert not model[1]._forward_hooks and not model[4]._backward_hooks
    ag.activations, ag.gradients = [], []
    model(x).sum().backward()                       # after release: nothing is recorded
    assert ag.activations == [] and ag.gradients == []
    return [out, *cams]


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
@pytest.mark.parametrize("how", ["tensor", "full", "old"])
def test_grad_cam_with_each_kind_of_hook_matches_torch(dt, how):
    models = _twins(_convnet)
    res = {}
    for L in LIBS:
        x = _t(L, IMAGES).requires_grad_(how == "old")
        res[L] = _grad_cam(L, models[L], how, x, L.tensor(LABELS))
    _compare(res, TOL[dt])
    cams = res[zeroin][1:]
    assert all(tuple(c.shape) == (4, 1, 16, 16) for c in cams)
    assert all(float(c.max()) > 0.99 and float(c.min()) == 0 for c in cams)


# --- guided backpropagation and Guided Grad-CAM ---------------------------------------------

class GuidedBackprop:
    """utkuozbulak's pytorch-cnn-visualizations: the deprecated backward hook on each ReLU
    zeroes the negative gradients and the positions the forward zeroed (the outputs kept
    by a forward hook); one on the first layer keeps the input's gradient."""

    def __init__(self, model):
        self.model, self.gradients, self.forward_relu_outputs = model, None, []
        self.model.eval()
        self.update_relus()
        self.hook_layers()

    def hook_layers(self):
        def hook_function(module, grad_in, grad_out):
            self.gradients = grad_in[0]
        first_layer = next(iter(self.model._modules.items()))[1]
        first_layer.register_backward_hook(hook_function)

    def update_relus(self):
        def relu_backward_hook_function(module, grad_in, grad_out):
            corresponding_forward_output = self.forward_relu_outputs[-1]
            corresponding_forward_output[corresponding_forward_output > 0] = 1
            modified_grad_out = corresponding_forward_output * self.lib.clamp(grad_in[0],
                                                                              min=0.0)
            del self.forward_relu_outputs[-1]
            return (modified_grad_out,)

        def relu_forward_hook_function(module, ten_in, ten_out):
            self.forward_relu_outputs.append(ten_out)

        self.lib = torch if isinstance(self.model, torch.nn.Module) else zeroin
        for module in self.model._modules.values():
            if isinstance(module, self.lib.nn.ReLU):
                module.register_backward_hook(relu_backward_hook_function)
                module.register_forward_hook(relu_forward_hook_function)

    def generate_gradients(self, input_image, target_class):
        model_output = self.model(input_image)
        self.model.zero_grad()
        one_hot_output = self.lib.FloatTensor(1, model_output.size()[-1]).zero_()
        one_hot_output[0][target_class] = 1
        model_output.backward(gradient=one_hot_output.type_as(model_output))
        return self.gradients.data.numpy()[0]


def _guided_relu_function(L):
    """jacobgil's GuidedBackpropReLU (an autograd.Function with ``addcmul``) and the
    module that swaps it in for every ``nn.ReLU``, through ``_modules``."""

    class GuidedBackpropReLU(L.autograd.Function):
        @staticmethod
        def forward(self, input_img):    # noqa: PLW0211 - jacobgil's names
            positive_mask = (input_img > 0).type_as(input_img)
            output = L.addcmul(L.zeros(input_img.size()).type_as(input_img), input_img,
                               positive_mask)
            self.save_for_backward(input_img, output)
            return output

        @staticmethod
        def backward(self, grad_output):    # noqa: PLW0211
            input_img, _output = self.saved_tensors
            positive_mask_1 = (input_img > 0).type_as(grad_output)
            positive_mask_2 = (grad_output > 0).type_as(grad_output)
            zeros = L.zeros(input_img.size()).type_as(input_img)
            return L.addcmul(zeros, L.addcmul(zeros, grad_output, positive_mask_1),
                             positive_mask_2)

    class GuidedBackpropReLUasModule(L.nn.Module):
        def forward(self, input_img):
            return GuidedBackpropReLU.apply(input_img)

    def replace_all_layer_type_recursive(model, old_layer_type, new_layer):
        for name, layer in model._modules.items():
            if isinstance(layer, old_layer_type):
                model._modules[name] = new_layer
            replace_all_layer_type_recursive(layer, old_layer_type, new_layer)

    return GuidedBackpropReLUasModule, replace_all_layer_type_recursive


def _guided(L, model, fresh, x, target):
    """Guided backprop three ways (the clamping full backward hook returning a tuple,
    jacobgil's Function, utkuozbulak's class on ``fresh``, a copy of ``model``: a module
    keeps the kind of its first backward hook) and Guided Grad-CAM."""
    def relu_hook_function(module, grad_in, grad_out):
        if isinstance(module, L.nn.ReLU):
            return (L.clamp(grad_in[0], min=0.),)
    handles = [m.register_full_backward_hook(relu_hook_function)
               for m in model.modules() if isinstance(m, L.nn.ReLU)]
    xg = x.clone().requires_grad_(True)
    model(xg)[0, target].backward()
    for h in handles:
        h.remove()
    guided_hook = xg.grad
    cams = _grad_cam(L, model, "full", x, L.tensor([target]))
    GuidedReLU, replace = _guided_relu_function(L)
    guided_model = L.nn.Sequential(*model)                 # the same layers, then swapped
    replace(guided_model, L.nn.ReLU, GuidedReLU())
    assert sum(isinstance(m, L.nn.ReLU) for m in guided_model.modules()) == 0
    xf = x.clone().requires_grad_(True)
    guided_model(xf)[0, target].backward()
    old = GuidedBackprop(fresh).generate_gradients(
        x.clone().requires_grad_(True), target)
    plain = x.clone().requires_grad_(True)
    model(plain)[0, target].backward()                     # the original ReLUs are unhooked
    gg = [c * guided_hook for c in cams[1:]]
    img = gg[0][0].detach().numpy()
    img = img - np.mean(img)
    img = img / (np.std(img) + 1e-5)
    deprocessed = np.clip(img * 0.1 + 0.5, 0, 1)
    return [guided_hook, xf.grad, old, plain.grad, *cams, *gg, deprocessed]


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
def test_guided_backprop_three_ways_and_guided_grad_cam_match_torch(dt):
    models, fresh = _twins(_convnet), _twins(_convnet)
    res = {L: _guided(L, models[L], fresh[L], _t(L, IMAGES[2:3]), 3) for L in LIBS}
    _compare(res, TOL[dt])
    z = res[zeroin]
    close(z[0], z[1], **TOL[dt])
    close(z[0], z[2][None], **TOL[dt])
    assert float(z[0].min()) < 0 and float((z[0] - z[3]).abs().max()) > 0   # not plain


@pytest.mark.filterwarnings("ignore:Using a non-full backward hook")
def test_guided_backprop_class_and_tensor_hook_grad_cam_on_inplace_relus_match_torch():
    # utkuozbulak's class runs on VGG's in-place ReLUs; so does Grad-CAM with tensor hooks
    # (a full backward hook on an in-place ReLU: PyTorch raises, see docs/interpret.md)
    torch.set_default_dtype(torch.float64)
    models, fresh = _twins(_convnet, "relu_inplace"), _twins(_convnet, "relu_inplace")
    res = {}
    for L in LIBS:
        x = _t(L, IMAGES[:2])
        res[L] = [GuidedBackprop(fresh[L]).generate_gradients(
            x[:1].clone().requires_grad_(True), 3),
            *_grad_cam(L, models[L], "tensor", x, L.tensor([3, 1]))]
    _compare(res, TOL["float64"])
    assert np.abs(res[zeroin][0]).max() > 0


# --- hook order and removal ------------------------------------------------------------------

W43 = np.random.default_rng(43).standard_normal((4, 3))


def _hook_order(L):
    """Every kind of hook on one block, some prepended, one removed: the order they ran in
    and what each saw."""
    nn, log = L.nn, []
    block = nn.Sequential(nn.Linear(3, 4), nn.Tanh())
    lin = block[0]
    lin.weight = nn.Parameter(L.tensor(W43, dtype=L.float64))
    lin.bias = nn.Parameter(L.zeros(4, dtype=L.float64))

    def tag(name, ret=None):
        def hook(*args):
            log.append(name)
            return ret(*args) if ret else None
        return hook
    hs = [lin.register_forward_pre_hook(tag("pre1")),
          lin.register_forward_pre_hook(tag("pre0"), prepend=True),
          lin.register_forward_pre_hook(tag("pre_kw", lambda m, a, kw: ((2 * a[0],), kw)),
                                        with_kwargs=True),
          lin.register_forward_hook(tag("fwd1")),
          lin.register_forward_hook(tag("fwd0"), prepend=True),
          lin.register_forward_hook(tag("gone")),
          lin.register_full_backward_pre_hook(tag("bpre", lambda m, go: (go[0] * 3,))),
          lin.register_full_backward_hook(tag("bwd1")),
          lin.register_full_backward_hook(tag("bwd0"), prepend=True),
          block.register_forward_hook(tag("outer"))]
    hs[5].remove()
    hs[5].remove()                                   # twice: a no-op, as in PyTorch
    x = L.tensor([[0.5, -1.0, 2.0]], dtype=L.float64, requires_grad=True)
    y = block(x)
    y.register_hook(tag("t1", lambda g: g * 10))
    y.register_hook(tag("t2", lambda g: g + 1))
    y.sum().backward()
    out = [list(log), y, x.grad]
    for h in hs:
        h.remove()
    log.clear()
    block(x).sum().backward()
    return out + [list(log), x.grad]


def test_hook_order_prepend_kwargs_and_removal_match_torch():
    tres, zres = _hook_order(torch), _hook_order(zeroin)
    assert zres[0] == tres[0] and zres[3] == tres[3] == []
    assert tres[0] == ["pre0", "pre1", "pre_kw", "fwd0", "fwd1", "outer", "t1", "t2",
                       "bpre", "bwd0", "bwd1"]
    for z, t in zip(zres[1:], tres[1:]):
        if not isinstance(t, list):
            close(z, t)


# --- adversarial examples: FGSM, PGD, L2 PGD, targeted, TRADES, adversarial training ----------

def _bn_net(L):
    """A small conv net with batch norm, so that train() and eval() differ."""
    nn = L.nn
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 8 * 8, 5))


def _fgsm_tutorial(L, model, images, labels, epsilon=0.05):
    """The PyTorch FGSM tutorial's test loop, one image at a time: log-softmax outputs,
    ``F.nll_loss``, ``data.grad.data``, ``fgsm_attack``, the tutorial's ``denorm`` and the
    normalisation (written out) before the second forward."""
    F = L.nn.functional
    mean, std = L.tensor([0.5, 0.4, 0.3]), L.tensor([0.2, 0.25, 0.3])

    def fgsm_attack(image, epsilon, data_grad):
        sign_data_grad = data_grad.sign()
        perturbed_image = image + epsilon * sign_data_grad
        perturbed_image = L.clamp(perturbed_image, 0, 1)
        return perturbed_image

    def denorm(batch):
        return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)

    net = lambda x: F.log_softmax(model(x), dim=1)      # the tutorial's Net
    correct, adv_examples, out = 0, [], []
    for data, target in zip(images, labels):
        data, target = ((data - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)).unsqueeze(0), \
            target.view(1)
        data.requires_grad = True
        output = net(data)
        init_pred = output.max(1, keepdim=True)[1]
        loss = F.nll_loss(output, target)
        model.zero_grad()
        loss.backward()
        data_grad = data.grad.data
        perturbed_data = fgsm_attack(denorm(data), epsilon, data_grad)
        output = net((perturbed_data - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1))
        final_pred = output.max(1, keepdim=True)[1]
        if final_pred.item() == target.item():
            correct += 1
        adv_examples.append((init_pred.item(), final_pred.item(),
                             perturbed_data.squeeze().detach().cpu().numpy()))
        out += [loss, data.grad, output]
    return out + [correct] + [a[2] for a in adv_examples]


def _madry(L, model, X, y, U, epsilon=0.1, alpha=0.02, num_iter=5):
    """Madry, Kolter and Madry's tutorial (chapter 4): ``delta`` a leaf updated through
    ``delta.data``, random start ``rand_like`` (``U`` given here) rescaled in place, the L2
    step normalised by ``norms``, and targeted PGD."""
    nn = L.nn

    def fgsm(model, X, y, epsilon):
        delta = L.zeros_like(X, requires_grad=True)
        loss = nn.CrossEntropyLoss()(model(X + delta), y)
        loss.backward()
        return epsilon * delta.grad.detach().sign()

    def pgd_linf(model, X, y, epsilon, alpha, num_iter, randomize=False):
        if randomize:
            delta = L.tensor(U, dtype=X.dtype, requires_grad=True)     # rand_like(X)
            delta.data = delta.data * 2 * epsilon - epsilon
        else:
            delta = L.zeros_like(X, requires_grad=True)
        for t in range(num_iter):
            loss = nn.CrossEntropyLoss()(model(X + delta), y)
            loss.backward()
            delta.data = (delta + alpha * delta.grad.detach().sign()).clamp(-epsilon, epsilon)
            delta.grad.zero_()
        return delta.detach()

    def norms(Z):
        return Z.view(Z.shape[0], -1).norm(dim=1)[:, None, None, None]

    def pgd_l2(model, X, y, epsilon, alpha, num_iter):
        delta = L.zeros_like(X, requires_grad=True)
        for t in range(num_iter):
            loss = nn.CrossEntropyLoss()(model(X + delta), y)
            loss.backward()
            delta.data += alpha * delta.grad.detach() / norms(delta.grad.detach())
            delta.data = L.min(L.max(delta.detach(), -X), 1 - X)      # clip X+delta to [0,1]
            delta.data *= epsilon / norms(delta.detach()).clamp(min=epsilon)
            delta.grad.zero_()
        return delta.detach()

    def pgd_linf_targ(model, X, y, epsilon, alpha, num_iter, y_targ):
        delta = L.zeros_like(X, requires_grad=True)
        for t in range(num_iter):
            yp = model(X + delta)
            loss = (yp[:, y_targ] - yp.gather(1, y[:, None])[:, 0]).sum()
            loss.backward()
            delta.data = (delta + alpha * delta.grad.detach().sign()).clamp(-epsilon, epsilon)
            delta.grad.zero_()
        return delta.detach()

    deltas = [fgsm(model, X, y, epsilon), pgd_linf(model, X, y, epsilon, alpha, num_iter),
              pgd_linf(model, X, y, epsilon, alpha, num_iter, randomize=True),
              pgd_l2(model, X, y, 2.0, 0.5, num_iter),
              pgd_linf_targ(model, X, y, epsilon, alpha, num_iter, 4)]
    with L.no_grad():
        errs = [(model(X + d).max(dim=1)[1] != y).sum().item() for d in deltas]
        losses = [nn.CrossEntropyLoss()(model(X + d), y).item() for d in [0 * X, *deltas]]
        margin = [(model(X + d)[:, 4] - model(X + d).gather(1, y[:, None])[:, 0]).sum()
                  for d in (0 * X, deltas[4])]
    return deltas + [norms(deltas[3]).flatten(), errs, losses, margin]


@pytest.mark.parametrize("dt", ["float64"], indirect=True)
def test_fgsm_tutorial_and_madry_attacks_match_torch(dt):
    models = _twins(_bn_net)
    res = {}
    for L in LIBS:
        model = models[L].eval()
        X, y = _t(L, IMAGES), L.tensor(LABELS)
        res[L] = _fgsm_tutorial(L, model, X, y) + _madry(L, model, X, y, (NOISE[0] > 0) * 0.7)
    _compare(res, TOL[dt])
    z = res[zeroin]
    l2 = z[-4].numpy()
    assert np.all(l2 <= 2.0 + 1e-12) and l2.max() > 1.0          # projected onto the ball
    linf = [z[i] for i in (-9, -8, -7, -5)]
    assert all(abs(float(d.abs().max()) - 0.1) < 1e-15 for d in linf)
    losses, margin = z[-2], z[-1]
    assert min(losses[1:5]) > losses[0] + 0.1 and float(margin[1]) > float(margin[0]) + 0.1


def _torchattacks(L, model, images, labels, start, eps=8 / 255, alpha=2 / 255, steps=4):
    """torchattacks' PGD (random start given as ``start`` in [-1, 1], ``autograd.grad``,
    projection by ``clamp``) and PGDL2 (per-sample norms, ``factor`` capped at 1), and the
    advertorch-style projection ``max(min(x_adv, x + eps), x - eps)``."""
    loss = L.nn.CrossEntropyLoss()
    images = images.clone().detach()
    adv_images = images + start * eps                 # .uniform_(-eps, eps)
    adv_images = L.clamp(adv_images, min=0, max=1).detach()
    for _ in range(steps):
        adv_images.requires_grad = True
        cost = loss(model(adv_images), labels)
        grad = L.autograd.grad(cost, adv_images, retain_graph=False, create_graph=False)[0]
        adv_images = adv_images.detach() + alpha * grad.sign()
        delta = L.clamp(adv_images - images, min=-eps, max=eps)
        adv_images = L.clamp(images + delta, min=0, max=1).detach()
    x_adv = L.clamp(images + start * eps, 0, 1)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_()
        (grad,) = L.autograd.grad(loss(model(x_adv), labels), [x_adv])
        x_adv = x_adv.detach() + alpha * grad.sign()
        x_adv = L.max(L.min(x_adv, images + eps), images - eps)
        x_adv = L.clamp(x_adv, 0, 1)
    batch_size, eps_l2, alpha_l2 = len(images), 0.5, 0.2
    adv_l2 = images.clone().detach()
    for _ in range(steps):
        adv_l2.requires_grad = True
        cost = loss(model(adv_l2), labels)
        grad = L.autograd.grad(cost, adv_l2, retain_graph=False, create_graph=False)[0]
        grad_norms = L.norm(grad.view(batch_size, -1), p=2, dim=1) + 1e-10
        grad = grad / grad_norms.view(batch_size, 1, 1, 1)
        adv_l2 = adv_l2.detach() + alpha_l2 * grad
        delta = adv_l2 - images
        delta_norms = L.norm(delta.view(batch_size, -1), p=2, dim=1)
        factor = eps_l2 / delta_norms
        factor = L.min(factor, L.ones_like(delta_norms))
        delta = delta * factor.view(-1, 1, 1, 1)
        adv_l2 = L.clamp(images + delta, min=0, max=1).detach()
    return [adv_images, x_adv, adv_l2, (adv_l2 - images).view(batch_size, -1).norm(dim=1)]


def _trades(L, model, x_natural, y, noise, optimizer, step_size=0.01, epsilon=0.05,
            perturb_steps=3, beta=6.0):
    """TRADES's ``trades_loss``: the attack under ``enable_grad`` (the caller may be in
    ``no_grad``), ``KLDivLoss(size_average=False)``, ``Variable``, then one step."""
    F = L.nn.functional
    criterion_kl = L.nn.KLDivLoss(size_average=False)
    model.eval()
    batch_size = len(x_natural)
    x_adv = x_natural.detach() + 0.001 * noise.detach()        # torch.randn(...), given
    with L.no_grad():                                           # as an eval loop calls it
        for _ in range(perturb_steps):
            x_adv.requires_grad_()
            with L.enable_grad():
                loss_kl = criterion_kl(F.log_softmax(model(x_adv), dim=1),
                                       F.softmax(model(x_natural), dim=1))
            assert not L.is_grad_enabled()
            grad = L.autograd.grad(loss_kl, [x_adv])[0]
            x_adv = x_adv.detach() + step_size * L.sign(grad.detach())
            x_adv = L.min(L.max(x_adv, x_natural - epsilon), x_natural + epsilon)
            x_adv = L.clamp(x_adv, 0.0, 1.0)
    model.train()
    x_adv = L.autograd.Variable(L.clamp(x_adv, 0.0, 1.0), requires_grad=False)
    optimizer.zero_grad()
    logits = model(x_natural)
    loss_natural = F.cross_entropy(logits, y)
    loss_robust = (1.0 / batch_size) * criterion_kl(F.log_softmax(model(x_adv), dim=1),
                                                    F.softmax(model(x_natural), dim=1))
    loss = loss_natural + beta * loss_robust
    loss.backward()
    optimizer.step()
    return [x_adv, loss_kl, loss_natural, loss_robust]


def _adversarial_training(L, model, X, y, start):
    """Madry's ``epoch_adversarial`` with ``opt`` for a few batches: the attack in eval
    mode, the update in train mode (batch norm's statistics move); then TRADES."""
    nn = L.nn
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    out, total_loss, total_err = [], 0.0, 0.0
    for i in range(3):
        Xb, yb = X[i:i + 2], y[i:i + 2]
        model.eval()
        adv = _torchattacks(L, model, Xb, yb, start[i:i + 2], steps=2)[0]
        model.train()
        yp = model(adv)
        loss = nn.CrossEntropyLoss()(yp, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        total_err += (yp.max(dim=1)[1] != yb).sum().item()
        total_loss += loss.item() * Xb.shape[0]
        out.append(loss)
    out += _trades(L, model, X, y, start, opt)
    model.eval()
    return out + [total_err, total_loss] + [p.detach() for p in model.parameters()] + \
        [b for b in model.buffers()]


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
@pytest.mark.parametrize("dt", ["float64"], indirect=True)
def test_torchattacks_pgd_trades_and_adversarial_training_match_torch(dt):
    models = _twins(_bn_net)
    start = np.clip(NOISE[1], -1, 1)
    res = {}
    for L in LIBS:
        X, y, s = _t(L, IMAGES), L.tensor(LABELS), _t(L, start)
        res[L] = _torchattacks(L, models[L].eval(), X, y, s) + \
            _adversarial_training(L, models[L], X, y, s)
    _compare(res, TOL[dt])
    z = res[zeroin]
    close(z[0], z[1])                                # the two L-inf projections agree
    assert float((z[0] - _t(zeroin, IMAGES)).abs().max()) <= 8 / 255 + 1e-15
    assert float(z[3].max()) <= 0.5 + 1e-12 and float(z[3].max()) > 0.4
    bn = models[zeroin][1]
    assert bn.num_batches_tracked.item() == 3 + 3        # 3 batches, TRADES's 3 forwards


# --- DeepDream and feature visualisation -----------------------------------------------------

def _cascade_gaussian_smoothing(L, kernel_size, sigma, num_of_channels=3):
    """gordicaleksa's pytorch-deepdream CascadeGaussianSmoothing: three Gaussian kernels
    built on ``torch.meshgrid``, a reflect pad, a depthwise ``F.conv2d`` each."""
    F = L.nn.functional
    sigmas = [[c * sigma, c * sigma] for c in [0.5, 1.0, 2.0]]
    pad = int(kernel_size / 2)
    kernel_size = [kernel_size, kernel_size]
    meshgrids = L.meshgrid([L.arange(size, dtype=L.float64) for size in kernel_size],
                           indexing="ij")
    kernels = []
    for sig in sigmas:
        kernel = L.ones_like(meshgrids[0])
        for size_1d, std_1d, grid in zip(kernel_size, sig, meshgrids):
            mean = (size_1d - 1) / 2
            kernel *= 1 / (std_1d * math.sqrt(2 * math.pi)) * L.exp(
                -((grid - mean) / std_1d) ** 2 / 2)
        kernel = kernel / L.sum(kernel)
        kernels.append(kernel.view(1, 1, *kernel.shape).repeat(num_of_channels, 1, 1, 1))

    def smooth(x):
        x = F.pad(x, [pad, pad, pad, pad], mode="reflect")
        grads = [F.conv2d(x, weight=k.type_as(x), groups=x.shape[1]) for k in kernels]
        return sum(grads) / 3
    return smooth


def _deep_dream(L, model, img, shifts, lr=0.09, iterations=3):
    """pytorch-deepdream's gradient ascent: the MSE of two layers' activations (kept by
    forward hooks) against zeros, ``torch.roll`` jitter under ``no_grad``, the smoothed
    gradient normalised, ``input_tensor.data +=``, bounds by ``max(min(...))``; two octaves
    by ``F.interpolate``."""
    F, acts = L.nn.functional, []
    hs = [model[i].register_forward_hook(lambda m, i, o: acts.append(o)) for i in (1, 4)]
    lower = L.tensor([-0.5, -0.4, -0.3]).view(1, 3, 1, 1).type_as(img)
    upper = L.tensor([1.5, 1.4, 1.3]).view(1, 3, 1, 1).type_as(img)

    def roll(tensor, h_shift, w_shift, should_undo=False):
        if should_undo:
            h_shift, w_shift = -h_shift, -w_shift
        with L.no_grad():
            rolled = L.roll(tensor, shifts=(h_shift, w_shift), dims=(2, 3))
            rolled.requires_grad = True
            return rolled

    out = []
    small = F.interpolate(img, scale_factor=0.5, mode="bilinear", align_corners=False)
    for octave, base in enumerate((small, img)):
        input_tensor = base.clone().requires_grad_(True)
        for it in range(iterations):
            h, w = shifts[octave * iterations + it]
            input_tensor = roll(input_tensor, h, w)
            acts.clear()
            model(input_tensor)
            losses = [L.nn.MSELoss(reduction="mean")(a, L.zeros_like(a)) for a in acts]
            loss = L.mean(L.stack(losses))
            loss.backward()
            grad = input_tensor.grad.data
            smooth_grad = _cascade_gaussian_smoothing(L, 5, ((it + 1) / iterations) * 2.0
                                                      + 0.5)(grad)
            smooth_grad = smooth_grad - L.mean(smooth_grad)
            smooth_grad = smooth_grad / L.std(smooth_grad)
            input_tensor.data += lr * smooth_grad
            input_tensor.grad.data.zero_()
            input_tensor.data = L.max(L.min(input_tensor, upper), lower)
            input_tensor = roll(input_tensor, h, w, should_undo=True)
            out += [loss, smooth_grad]
        out.append(input_tensor.detach())
    for h in hs:
        h.remove()
    return out + [F.interpolate(out[-1 - 2 * iterations - 1], size=img.shape[-2:],
                                mode="bilinear", align_corners=False)]


def _feature_visualisation(L, model, img, channel=2, steps=4):
    """Channel visualisation with an optimiser on the input: ``Adam([img])``, the activation
    from a forward hook, an L2 penalty, a 3x3 Gaussian blur by ``F.conv2d(groups=3)``
    every other step under ``no_grad`` and ``img.data.clamp_(0, 1)``."""
    F, store = L.nn.functional, {}
    handle = model[3].register_forward_hook(lambda m, i, o: store.update(act=o))
    g1 = L.tensor([1.0, 2.0, 1.0]).type_as(img)
    kernel = (g1[:, None] * g1[None, :] / 16).expand(3, 1, 3, 3)
    img = img.clone().requires_grad_()
    opt = L.optim.Adam([img], lr=0.05, weight_decay=1e-6)
    out = []
    for step in range(steps):
        opt.zero_grad()
        model(img)
        loss = -store["act"][0, channel].mean() + 1e-3 * (img ** 2).sum()
        loss.backward()
        opt.step()
        if step % 2 == 1:
            with L.no_grad():
                img.copy_(F.conv2d(F.pad(img, (1, 1, 1, 1), mode="reflect"), kernel, groups=3))
        img.data.clamp_(0, 1)
        out += [loss, img.grad.clone(), img.detach().clone()]
    handle.remove()
    return out


def test_deep_dream_and_feature_visualisation_match_torch(dt):
    models = _twins(_convnet)
    shifts = [(1, -2), (0, 3), (-3, 1), (2, 2), (-1, 0), (3, -3)]
    res = {}
    for L in LIBS:
        for p in models[L].parameters():
            p.requires_grad_(False)
        img = _t(L, IMAGES[3:4])
        res[L] = _deep_dream(L, models[L], img, shifts) + \
            _feature_visualisation(L, models[L], img)
    tol = TOL[dt]
    _compare(res, tol)
    z = res[zeroin]
    dreamed, start = z[13].numpy(), IMAGES[3:4]
    assert np.abs(dreamed - start).max() > 0.1 and dreamed.min() >= -0.5
    losses = [z[i].item() for i in (0, 2, 4)]
    assert losses[2] > losses[0]                       # the ascent raised the activations


# --- layer attributions and occlusion ---------------------------------------------------------

def _layer_ig_and_occlusion(L, model, x, target, steps=16, k=4):
    """Layer Integrated Gradients as Captum computes it, by hand: a forward hook that
    replaces the layer's output by points on the path from its baseline output (the
    baseline image's activation) to its own, kept with ``requires_grad_``,
    ``autograd.grad`` with respect to them; and occlusion under ``no_grad``: each k x k
    patch set to the baseline by slice assignment, the score drops as a map."""
    layer, store = model[3], {}
    with L.no_grad():
        base_act = layer(model[:3](L.zeros_like(x)))
        act = layer(model[:3](x))
    alphas = L.linspace(0, 1, steps + 1).view(-1, 1, 1, 1)

    def hook(module, inputs, output):
        scaled = base_act + alphas * (act - base_act)
        scaled.requires_grad_()
        store["scaled"] = scaled
        return scaled
    handle = layer.register_forward_hook(hook)
    outputs = model(x.expand(steps + 1, -1, -1, -1))[:, target]
    handle.remove()
    (grads,) = L.autograd.grad(outputs.sum(), store["scaled"])
    layer_attr = (act - base_act)[0] * ((grads[:-1] + grads[1:]) / 2).mean(dim=0)
    with L.no_grad():
        delta = model(x)[0, target] - model(L.zeros_like(x))[0, target]
        score = model(x)[0, target]
        heat = L.zeros(x.shape[2] // k, x.shape[3] // k)
        for i in range(0, x.shape[2], k):
            for j in range(0, x.shape[3], k):
                occluded = x.clone()
                occluded[:, :, i:i + k, j:j + k] = 0
                heat[i // k, j // k] = score - model(occluded)[0, target]
    return [layer_attr, layer_attr.sum(), delta, heat, grads]


def test_layer_integrated_gradients_and_occlusion_match_torch(dt):
    models = _twins(_convnet, "softplus")
    res = {L: _layer_ig_and_occlusion(L, models[L], _t(L, IMAGES[1:2]), 2) for L in LIBS}
    _compare(res, TOL[dt])
    z = res[zeroin]
    assert tuple(z[0].shape) == (6, 8, 8) and tuple(z[3].shape) == (4, 4)
    # completeness at the layer: the attributions sum to the change of the output
    assert abs(z[1].item() - z[2].item()) < (1e-5 if dt == "float64" else 1e-3) * abs(z[2].item())
