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

import zeroin
from _audit import close, copy_weights, np_of

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
TOL = {"float64": dict(rtol=1e-10, atol=1e-10), "float32": dict(rtol=2e-5, atol=2e-6)}

_rng = np.random.default_rng(7)
IMAGES = _rng.uniform(0, 1, (4, 3, 16, 16))           # "photos" in [0, 1]
LABELS = np.array([1, 0, 3, 2])
NOISE = _rng.standard_normal((6, 4, 3, 16, 16))        # SmoothGrad's / PGD's draws, given


@pytest.fixture(params=["float64", "float32"])
def dt(request):
    """Both libraries' default dtype; yields its name (the tolerance's key)."""
    torch.set_default_dtype(getattr(torch, request.param))
    zeroin.set_default_dtype(getattr(zeroin, request.param))
    yield request.param
    torch.set_default_dtype(torch.float32)


def _convnet(L, act="relu"):
    """A small conv net: two conv blocks (own ReLU modules, for the hooks), global
    average pooling and a linear head of 5 classes."""
    nn = L.nn
    Act = {"relu": nn.ReLU, "softplus": nn.Softplus}[act]
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
    model = lambda t: lin(t.reshape(t.shape[0], -1))    # noqa: E731 - one line
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
