"""The layers, activations and losses a PyTorch tutorial reaches for early, against PyTorch
(float64): values, gradients, reprs, state_dict keys; finite differences where cheap.
Helpers from tests/test_pytorch_parity_nn.py."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from test_pytorch_parity_nn import _copy_params, check_value_and_grad, close  # noqa: E402

RNG = np.random.default_rng(7)


def _r(*shape, scale=1.0):
    return RNG.standard_normal(shape) * scale


def _fd(fn, *arrays):
    """Finite differences (zeroin.gradcheck) on float64 inputs."""
    xs = [zeroin.tensor(a, requires_grad=True) for a in arrays]
    assert zeroin.gradcheck(fn, xs)


# --- 1. distances ---------------------------------------------------------------------------

@pytest.mark.parametrize("shapes, kw", [(((4, 5), (4, 5)), {}), (((4, 5), (1, 5)), {}),
                                        (((3, 4, 2), (3, 4, 2)), dict(dim=2)),
                                        (((6,), (6,)), dict(dim=0)),
                                        (((3, 4), (3, 4)), dict(dim=-1, eps=0.5))], ids=str)
def test_cosine_similarity(shapes, kw):
    a, b = (_r(*s) for s in shapes)
    if kw.get("eps") == 0.5:
        a[0] *= 0.01            # a norm below eps: clamped (value) but the gradient flows
    check_value_and_grad(lambda x, y: F.cosine_similarity(x, y, **kw),
                         lambda x, y: TF.cosine_similarity(x, y, **kw), a, b)
    check_value_and_grad(nn.CosineSimilarity(**kw), torch.nn.CosineSimilarity(**kw), a, b)
    if "eps" not in kw:         # PyTorch's clamp passes the gradient as if unclamped
        _fd(lambda x, y: F.cosine_similarity(x, y, **kw), a, b)


@pytest.mark.parametrize("kw", [{}, dict(p=1.0), dict(p=3.0, keepdim=True),
                                dict(p=float("inf")), dict(eps=0.1)], ids=str)
def test_pairwise_distance(kw):
    a, b = _r(5, 3), _r(5, 3)
    check_value_and_grad(lambda x, y: F.pairwise_distance(x, y, **kw),
                         lambda x, y: TF.pairwise_distance(x, y, **kw), a, b)
    m = {"p": kw["p"]} if "p" in kw else {}
    check_value_and_grad(nn.PairwiseDistance(**m), torch.nn.PairwiseDistance(**m), a, b)
    if kw.get("p") != float("inf"):
        _fd(lambda x, y: F.pairwise_distance(x, y, **kw), a, b)


def test_distances_refuse_shapes_that_do_not_broadcast():
    with pytest.raises(zeroin.ShapeError, match=r"cosine_similarity: x1 of shape \(3, 4\) "
                                                r"and x2 of shape \(3, 5\)"):
        F.cosine_similarity(zeroin.zeros(3, 4), zeroin.zeros(3, 5))
    with pytest.raises(zeroin.ShapeError, match="dim 2 is out of range"):
        F.cosine_similarity(zeroin.zeros(3, 4), zeroin.zeros(3, 4), dim=2)


# --- 2. activations ---------------------------------------------------------------------------

ACTS = [("Hardswish", {}), ("Hardsigmoid", {}), ("GLU", {}), ("GLU", dict(dim=0)),
        ("Tanhshrink", {}), ("Softshrink", {}), ("Softshrink", dict(lambd=1.2)),
        ("Hardshrink", {}), ("Hardshrink", dict(lambd=0.9)),
        ("Threshold", dict(threshold=0.3, value=-2.0))]


# PyTorch's hardsigmoid gradient multiplies by 1/6 rounded to float32, also in float64
_TOL = {"Hardsigmoid": dict(rtol=1e-7), "hardsigmoid": dict(rtol=1e-7)}


@pytest.mark.parametrize("name, kw", ACTS, ids=str)
def test_activation_modules(name, kw):
    x = _r(4, 6, scale=3)
    x[np.abs(np.abs(x) - kw.get("lambd", 0.5)) < 1e-3] += 0.01     # off the kinks
    zm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(zm) == repr(tm)
    check_value_and_grad(zm, tm, x, **_TOL.get(name, {}))


@pytest.mark.parametrize("fn, kw", [("softshrink", dict(lambd=0.7)), ("hardshrink", {}),
                                    ("threshold", dict(threshold=0.1, value=5.0)),
                                    ("hardswish", {}), ("hardsigmoid", {})], ids=str)
def test_activation_functions(fn, kw):
    x = _r(3, 5, scale=2)
    check_value_and_grad(lambda a: getattr(F, fn)(a, **kw),
                         lambda a: getattr(TF, fn)(a, **kw), x, **_TOL.get(fn, {}))


@pytest.mark.parametrize("n, shape", [(1, (4, 3)), (3, (4, 3)), (3, (2, 3, 5, 2)), (1, (4,)),
                                      (1, ())], ids=str)
def test_prelu(n, shape):
    zm, tm = nn.PReLU(n, init=0.1), torch.nn.PReLU(n, init=0.1).double()
    assert repr(zm) == repr(tm) and list(zm.state_dict()) == list(tm.state_dict())
    zm.weight.data[...] = tm.weight.data.numpy()[...] = RNG.uniform(-1, 1, n)
    x = _r(*shape, scale=2)
    xz, xt = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yz, yt = zm(xz), tm(xt)
    close(yz, yt)
    w = _r(*shape)
    (yz * zeroin.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    close(xz.grad, xt.grad)
    close(zm.weight.grad, tm.weight.grad)
    _fd(lambda a, wt: F.prelu(a, wt), x, RNG.uniform(-1, 1, n))


def test_prelu_edges_match_torch_bit_for_bit():
    """At 0, -0, NaN and +-inf the value (sign of zero too) and both gradients are torch's:
    x <= 0 and NaN take the slope's side in the backward rule."""
    x = np.array([-1.0, 0.0, -0.0, 2.0, np.nan, np.inf, -np.inf])
    g = np.arange(1.0, 8.0)
    xz, wz = zeroin.tensor(x, requires_grad=True), zeroin.tensor([0.25], requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor([0.25], requires_grad=True,
                                                                 dtype=torch.float64)
    yz, yt = F.prelu(xz, wz), torch.nn.functional.prelu(xt, wt)
    yz.backward(zeroin.tensor(g))
    yt.backward(torch.tensor(g))
    for a, b in ((yz, yt), (xz.grad, xt.grad), (wz.grad, wt.grad)):
        a, b = a.detach().numpy(), b.detach().numpy()
        np.testing.assert_array_equal(a, b)
        assert (np.signbit(a) == np.signbit(b)).all(), (a, b)


def test_prelu_names_the_channel_mismatch():
    with pytest.raises(zeroin.ShapeError, match=r"prelu: weight has 3 values .* input of "
                                                r"shape \(2, 4\) has 4 channels.*PReLU\("
                                                r"num_parameters=4\)"):
        nn.PReLU(3)(zeroin.zeros(2, 4))
    with pytest.raises(zeroin.ShapeError, match=r"shape \(3,\) has no channel dimension"):
        nn.PReLU(3)(zeroin.zeros(3))         # PyTorch: a 1-D input has one channel


# --- 3. layers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, shape", [("1d", (3, 4, 5)), ("1d", (4, 5)),
                                         ("2d", (2, 4, 3, 3)), ("2d", (4, 2, 3))], ids=str)
@pytest.mark.parametrize("kw", [{}, dict(affine=True),
                                dict(affine=True, track_running_stats=True, momentum=0.3),
                                dict(track_running_stats=True, eps=1e-3)], ids=str)
def test_instance_norm(kind, shape, kw):
    zm = getattr(nn, "InstanceNorm" + kind)(4, **kw)
    tm = getattr(torch.nn, "InstanceNorm" + kind)(4, **kw).double()
    assert repr(zm) == repr(tm) and list(zm.state_dict()) == list(tm.state_dict())
    if kw.get("affine"):
        zm.weight.data[...] = tm.weight.data.numpy()[...] = RNG.uniform(0.5, 2, 4)
        zm.bias.data[...] = tm.bias.data.numpy()[...] = RNG.uniform(-1, 1, 4)
    for _ in range(2):
        check_value_and_grad(zm, tm, _r(*shape, scale=2) + 1)
    for k, v in tm.state_dict().items():
        close(zm.state_dict()[k], v)
    zm.eval()
    tm.eval()
    check_value_and_grad(zm, tm, _r(*shape))


def test_instance_norm_function_and_finite_differences():
    x = _r(2, 3, 4)
    check_value_and_grad(lambda a, w, b: F.instance_norm(a, weight=w, bias=b),
                         lambda a, w, b: TF.instance_norm(a, weight=w, bias=b),
                         x, RNG.uniform(0.5, 2, 3), _r(3))
    _fd(lambda a: F.instance_norm(a), x)


@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"track_running_stats": True}], ids=str)
def test_instance_norm_of_one_spatial_element_is_refused_as_torch(kw):
    """A 1x1 feature map (a U-Net's bottleneck) normalises to 0: PyTorch refuses it whenever
    the input's own statistics are used, with or without running statistics."""
    x = _r(2, 4, 1, 1)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        torch.nn.InstanceNorm2d(4, **kw)(torch.tensor(x))
    with pytest.raises(ValueError, match=r"instance_norm: expected more than 1 spatial element"
                                         r".*\(2, 4, 1, 1\).*Drop the norm at this layer"):
        nn.InstanceNorm2d(4, **kw)(zeroin.tensor(x))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(zeroin.tensor(x[..., 0]))
    if kw.get("track_running_stats"):       # eval() with running statistics: both normalise
        check_value_and_grad(nn.InstanceNorm2d(4, **kw).eval(),
                             torch.nn.InstanceNorm2d(4, **kw).double().eval(), x)


PADS = [("ZeroPad2d", (1,), (2, 3, 4, 5)), ("ZeroPad2d", ((1, 2, 0, 3),), (3, 4, 5)),
        ("ConstantPad1d", (2, 3.5), (2, 3, 4)), ("ConstantPad1d", ((0, 3), -1.0), (3, 4)),
        ("ConstantPad2d", ((1, 0, 2, 0), 1.0), (1, 2, 3, 3)),
        ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad1d", ((3, 1),), (3, 5)),
        ("ReflectionPad2d", ((1, 1, 2, 0),), (1, 2, 3, 4)), ("ReflectionPad2d", (2,), (2, 3, 3)),
        ("ReplicationPad1d", ((1, 3),), (2, 3, 4)), ("ReplicationPad2d", (1,), (1, 2, 3, 3)),
        ("ReplicationPad2d", ((3, 0, 1, 2),), (2, 2, 3))]


@pytest.mark.parametrize("name, args, shape", PADS, ids=str)
def test_padding_layers(name, args, shape):
    zm, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(zm) == repr(tm)
    check_value_and_grad(zm, tm, _r(*shape))


def test_reflection_pad_refuses_padding_as_wide_as_the_input():
    with pytest.raises(ValueError, match=r"ReflectionPad1d: padding \(3, 3\) must be smaller "
                                         r"than the dimension it reflects, got size 3"):
        nn.ReflectionPad1d(3)(zeroin.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"ConstantPad2d: padding must be an int or 4 ints"):
        nn.ConstantPad2d((1, 2), 0.0)


@pytest.mark.parametrize("r, shape", [(2, (2, 8, 3, 3)), (3, (9, 2, 2)), (2, (2, 1, 4, 1, 2))],
                         ids=str)
def test_pixel_shuffle_and_unshuffle(r, shape):
    zm, tm = nn.PixelShuffle(r), torch.nn.PixelShuffle(r)
    assert repr(zm) == repr(tm)
    check_value_and_grad(zm, tm, _r(*shape))
    out = tuple(tm(torch.zeros(shape)).shape)
    zu, tu = nn.PixelUnshuffle(r), torch.nn.PixelUnshuffle(r)
    assert repr(zu) == repr(tu)
    check_value_and_grad(zu, tu, _r(*out))
    x = zeroin.tensor(_r(*shape))
    assert np.array_equal(zu(zm(x)).numpy(), x.numpy())
    with pytest.raises(zeroin.ShapeError, match=r"pixel_shuffle: expected input "
                                                r"\(\*, C \* 2\*\*2, H, W\)"):
        nn.PixelShuffle(2)(zeroin.zeros(1, 3, 2, 2))


@pytest.mark.parametrize("shape, kw", [(4, {}), ((3, 4), dict(eps=1e-3)),
                                       (4, dict(elementwise_affine=False))], ids=str)
def test_rms_norm(shape, kw):
    zm, tm = nn.RMSNorm(shape, **kw), torch.nn.RMSNorm(shape, **kw).double()
    assert repr(zm) == repr(tm) and list(zm.state_dict()) == list(tm.state_dict())
    if zm.weight is not None:
        w = RNG.uniform(0.5, 2, zm.weight.shape)
        zm.weight.data[...] = w
        tm.weight.data.copy_(torch.tensor(w))
    check_value_and_grad(zm, tm, _r(2, 3, 4))
    _fd(lambda a: F.rms_norm(a, shape, eps=kw.get("eps")), _r(2, 3, 4))
    # eps None: the dtype's machine epsilon, float32 as well
    x32 = _r(2, 4).astype(np.float32) * 1e-4
    z = F.rms_norm(zeroin.tensor(x32), [4])
    np.testing.assert_allclose(z.numpy(), TF.rms_norm(torch.tensor(x32), [4]).numpy(),
                               rtol=1e-6)
    assert z.dtype == np.float32


@pytest.mark.parametrize("ns", [np.int64(4), 4, (4,), [3, 4], (np.int64(3), np.int32(4)),
                                "Size", "tensor"], ids=repr)
def test_normalized_shape_takes_pytorchs_forms_numpy_integers_too(ns):
    # PyTorch's LayerNorm and RMSNorm take an int or a sequence of ints (NumPy's included);
    # zeroin's F.layer_norm / F.rms_norm take the same (PyTorch's functions: sequences only)
    x = _r(2, 3, 4)
    zs, ts = {"Size": (zeroin.Size([3, 4]), torch.Size([3, 4])),
              "tensor": (zeroin.tensor([3, 4]), torch.tensor([3, 4]))}.get(str(ns), (ns, ns))
    for zc, tc in ((nn.LayerNorm, torch.nn.LayerNorm), (nn.RMSNorm, torch.nn.RMSNorm)):
        zm, tm = zc(zs), tc(ts).double()
        shape = tuple(int(d) for d in tm.normalized_shape)   # torch keeps np.int64(4) there
        assert zm.normalized_shape == shape and zm.weight.shape == tuple(tm.weight.shape)
        assert all(type(d) is int for d in zm.normalized_shape)
        close(zm(zeroin.tensor(x)), tm(torch.tensor(x)))
    close(F.layer_norm(zeroin.tensor(x), zs), TF.layer_norm(torch.tensor(x), shape))
    close(F.rms_norm(zeroin.tensor(x), zs), TF.rms_norm(torch.tensor(x), shape))


@pytest.mark.parametrize("ns", [True, 4.0, (4.0,), (True,), np.array(4), "4"], ids=repr)
def test_normalized_shape_refuses_what_pytorch_refuses(ns):
    x = _r(2, 3, 4)
    for zf, tf in ((nn.LayerNorm, torch.nn.LayerNorm), (nn.RMSNorm, torch.nn.RMSNorm),
                   (lambda s: F.layer_norm(zeroin.tensor(x), s),
                    lambda s: TF.layer_norm(torch.tensor(x), s)),
                   (lambda s: F.rms_norm(zeroin.tensor(x), s),
                    lambda s: TF.rms_norm(torch.tensor(x), s))):
        with pytest.raises(TypeError):
            tf(ns)(torch.tensor(x)) if isinstance(tf, type) else tf(ns)
        with pytest.raises(TypeError, match="normalized_shape must be a whole number"):
            zf(ns)
    for f in (nn.LayerNorm, nn.RMSNorm, lambda s: F.layer_norm(zeroin.tensor(x), s)):
        with pytest.raises(RuntimeError, match="at least one dimension"):
            f(())


@pytest.mark.parametrize("bias, shape", [(True, (5,)), (False, (2, 3))], ids=str)
def test_bilinear(bias, shape):
    zm, tm = nn.Bilinear(3, 2, 4, bias=bias), torch.nn.Bilinear(3, 2, 4, bias=bias).double()
    assert repr(zm) == repr(tm) and list(zm.state_dict()) == list(tm.state_dict())
    bound = 1 / np.sqrt(3)
    assert np.abs(zm.weight.numpy()).max() <= bound
    _copy_params(zm, tm)
    a, b = _r(*shape, 3), _r(*shape, 2)
    check_value_and_grad(zm, tm, a, b)
    _fd(lambda x, y, w: F.bilinear(x, y, w), a, b, _r(4, 3, 2))


# --- 4. losses -----------------------------------------------------------------------------------

RED = [dict(), dict(reduction="sum"), dict(reduction="none")]
PM1 = np.array([1.0, -1.0, -1.0, 1.0, 1.0])        # targets of the +1/-1 losses


def _both_losses(name, kw, inputs, consts, fd=True):
    """The module and the functional against PyTorch's: gradients for ``inputs``;
    ``consts`` (targets) passed as they are (zeroin) and as tensors (torch)."""
    fn = {"MarginRankingLoss": "margin_ranking_loss", "TripletMarginLoss":
          "triplet_margin_loss", "CosineEmbeddingLoss": "cosine_embedding_loss",
          "HingeEmbeddingLoss": "hinge_embedding_loss", "SoftMarginLoss": "soft_margin_loss",
          "MultiLabelSoftMarginLoss": "multilabel_soft_margin_loss",
          "MultiMarginLoss": "multi_margin_loss", "GaussianNLLLoss": "gaussian_nll_loss",
          "PoissonNLLLoss": "poisson_nll_loss"}[name]
    tconst = [torch.tensor(c) if isinstance(c, np.ndarray) else c for c in consts]
    n = len(inputs)

    def zargs(a):
        return list(a[:n]) + list(consts) + list(a[n:])

    def targs(a):
        return list(a[:n]) + tconst + list(a[n:])

    def split(kw):
        if "weight" not in kw:
            return kw, kw
        return ({**kw, "weight": zeroin.tensor(kw["weight"])},
                {**kw, "weight": torch.tensor(kw["weight"])})
    zkw, tkw = split(kw)
    zm, tm = getattr(nn, name)(**zkw), getattr(torch.nn, name)(**tkw)
    assert repr(zm) == repr(tm)
    check_value_and_grad(lambda *a: zm(*zargs(a)), lambda *a: tm(*targs(a)), *inputs)
    check_value_and_grad(lambda *a: getattr(F, fn)(*zargs(a), **zkw),
                         lambda *a: getattr(TF, fn)(*targs(a), **tkw), *inputs)
    if fd:
        _fd(lambda *a: getattr(F, fn)(*zargs(a), **zkw), *inputs)


@pytest.mark.parametrize("kw", RED + [dict(margin=0.5)], ids=str)
def test_margin_ranking_loss(kw):
    _both_losses("MarginRankingLoss", kw, [_r(5), _r(5)], [PM1])


@pytest.mark.parametrize("kw", RED + [dict(margin=0.5), dict(margin=2.0, reduction="sum")],
                         ids=str)
def test_hinge_embedding_loss(kw):
    _both_losses("HingeEmbeddingLoss", kw, [np.abs(_r(5)) + 0.1], [PM1])


@pytest.mark.parametrize("kw", RED, ids=str)
def test_soft_margin_loss(kw):
    _both_losses("SoftMarginLoss", kw, [_r(5, scale=2)], [PM1])


@pytest.mark.parametrize("kw", RED + [dict(weight=np.array([0.5, 2.0, 1.0]))], ids=str)
def test_multilabel_soft_margin_loss(kw):
    _both_losses("MultiLabelSoftMarginLoss", kw, [_r(4, 3, scale=2)],
                 [RNG.integers(0, 2, (4, 3)).astype(float)])


@pytest.mark.parametrize("kw", RED + [dict(p=2, margin=0.7),
                                      dict(weight=np.array([0.5, 2.0, 1.0, 3.0]))], ids=str)
def test_multi_margin_loss(kw):
    _both_losses("MultiMarginLoss", kw, [_r(5, 4)], [np.array([0, 3, 1, 1, 2])])
    check_value_and_grad(lambda x: F.multi_margin_loss(x, np.array(2), **_kwz(kw)),
                         lambda x: TF.multi_margin_loss(x, torch.tensor(2), **_kwt(kw)),
                         _r(4))


def _kwz(kw):
    return {**kw, "weight": zeroin.tensor(kw["weight"])} if "weight" in kw else kw


def _kwt(kw):
    return {**kw, "weight": torch.tensor(kw["weight"])} if "weight" in kw else kw


@pytest.mark.parametrize("kw", RED + [dict(margin=0.3), dict(p=1.0, eps=1e-3),
                                      dict(swap=True), dict(swap=True, p=3.0, margin=2.0)],
                         ids=str)
def test_triplet_margin_loss(kw):
    _both_losses("TripletMarginLoss", kw, [_r(5, 3), _r(5, 3), _r(5, 3)], [])
    check_value_and_grad(lambda *a: F.triplet_margin_loss(*a, **kw),
                         lambda *a: TF.triplet_margin_loss(*a, **kw), _r(3), _r(3), _r(3))


@pytest.mark.parametrize("kw", RED + [dict(margin=0.2), dict(margin=-0.5, reduction="sum")],
                         ids=str)
def test_cosine_embedding_loss(kw):
    _both_losses("CosineEmbeddingLoss", kw, [_r(5, 3), _r(5, 3)], [PM1])
    check_value_and_grad(lambda a, b: F.cosine_embedding_loss(a, b, np.array(-1.0), **kw),
                         lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(-1.0), **kw),
                         _r(3), _r(3))


@pytest.mark.parametrize("vshape", [(4, 3), (4,), (4, 1), (1, 3)], ids=str)
@pytest.mark.parametrize("kw", RED + [dict(full=True), dict(eps=0.05, reduction="sum")],
                         ids=str)
def test_gaussian_nll_loss(kw, vshape):
    var = RNG.uniform(0.01, 2, vshape)
    var.reshape(-1)[0] = 0.02                       # below eps=0.05: clamped
    # input, target and var all get gradients
    _both_losses("GaussianNLLLoss", kw, [_r(4, 3), _r(4, 3), var], [], fd="eps" not in kw)


def test_gaussian_nll_loss_refuses_a_var_that_does_not_fit():
    with pytest.raises(zeroin.ShapeError, match=r"gaussian_nll_loss: var of shape \(4, 2\) "
                                                r"does not fit input of shape \(4, 3\)"):
        F.gaussian_nll_loss(zeroin.zeros(4, 3), zeroin.zeros(4, 3), zeroin.ones(4, 2))
    with pytest.raises(ValueError, match="var has negative entries"):
        F.gaussian_nll_loss(zeroin.zeros(4, 3), zeroin.zeros(4, 3), -zeroin.ones(4, 3))
    with pytest.raises(zeroin.ShapeError, match=r"input shape \(4,\) and target shape "
                                                r"\(4, 1\) differ"):
        F.gaussian_nll_loss(zeroin.zeros(4), zeroin.zeros(4, 1), zeroin.ones(4))


@pytest.mark.parametrize("kw", RED + [dict(log_input=False), dict(full=True),
                                      dict(log_input=False, full=True, eps=0.1)], ids=str)
def test_poisson_nll_loss(kw):
    x = _r(4, 3) if kw.get("log_input", True) else RNG.uniform(0.1, 3, (4, 3))
    counts = RNG.integers(0, 6, (4, 3)).astype(float)
    _both_losses("PoissonNLLLoss", kw, [x], [counts])


@pytest.mark.parametrize("call", [
    lambda: F.margin_ranking_loss(zeroin.zeros(4), zeroin.zeros(4, 1), zeroin.ones(4)),
    lambda: F.soft_margin_loss(zeroin.zeros(4), zeroin.ones(4, 1)),
    lambda: F.hinge_embedding_loss(zeroin.zeros(4, 1), zeroin.ones(4)),
    lambda: F.triplet_margin_loss(zeroin.zeros(4, 3), zeroin.zeros(4, 3), zeroin.zeros(1, 3)),
    lambda: F.cosine_embedding_loss(zeroin.zeros(4, 3), zeroin.zeros(4, 3), zeroin.ones(4, 1)),
    lambda: F.multilabel_soft_margin_loss(zeroin.zeros(4, 3), zeroin.ones(4, 1))])
def test_new_losses_refuse_shapes_that_would_broadcast(call):
    with pytest.raises(zeroin.ShapeError, match=r"\(4, 1\)|\(1, 3\)"):
        call()


# --- reprs ---------------------------------------------------------------------------------

#: the required arguments of the classes that have some (the rest are built with none)
REPR_ARGS = {
    "AdaptiveAvgPool1d": (3,), "AdaptiveAvgPool2d": (3,), "AdaptiveMaxPool1d": (3,),
    "AdaptiveMaxPool2d": (3,), "AvgPool1d": (2,), "AvgPool2d": (2,), "BatchNorm1d": (4,),
    "BatchNorm2d": (4,), "Bilinear": (2, 3, 4), "ConstantPad1d": (1, 0.5),
    "ConstantPad2d": (1, 0.5), "Conv1d": (2, 3, 3), "Conv2d": (2, 3, 3),
    "ConvTranspose1d": (2, 3, 3), "ConvTranspose2d": (2, 3, 3), "Embedding": (5, 3),
    "GRU": (3, 4), "GRUCell": (3, 4), "GroupNorm": (2, 4), "InstanceNorm1d": (4,),
    "InstanceNorm2d": (4,), "LSTM": (3, 4), "LSTMCell": (3, 4), "LayerNorm": (4,),
    "Linear": (2, 3), "MaxPool1d": (2,), "MaxPool2d": (2,), "MultiheadAttention": (8, 2),
    "PixelShuffle": (2,), "PixelUnshuffle": (2,), "RMSNorm": (4,), "RNN": (3, 4),
    "RNNCell": (3, 4), "ReflectionPad1d": (1,), "ReflectionPad2d": (1,),
    "ReplicationPad1d": (1,), "ReplicationPad2d": (1,), "Threshold": (0.1, 20.0),
    "TransformerEncoderLayer": (8, 2), "TransformerDecoderLayer": (8, 2),
    "TransformerEncoder": lambda T: (T.nn.TransformerEncoderLayer(8, 2), 2),
    "TransformerDecoder": lambda T: (T.nn.TransformerDecoderLayer(8, 2), 2),
    "Unflatten": (1, (2, 2)), "ZeroPad2d": (1,), "ZeroPad1d": (1,), "CircularPad1d": (1,),
    "CircularPad2d": (1,), "ChannelShuffle": (2,), "EmbeddingBag": (5, 3), "Unfold": (2,),
    "Fold": ((4, 5), 2), "LocalResponseNorm": (2,), "MaxUnpool1d": (2,), "MaxUnpool2d": (2,),
    "AdaptiveAvgPool3d": (3,), "AdaptiveMaxPool3d": (3,), "AvgPool3d": (2,), "MaxPool3d": (2,),
    "BatchNorm3d": (4,), "InstanceNorm3d": (4,), "Conv3d": (2, 3, 3),
    "ConvTranspose3d": (2, 3, 3), "LPPool1d": (2, 3), "LPPool2d": (2, 3), "LPPool3d": (2, 3),
    "LazyLinear": (3,), "LazyConv1d": (3, 3), "LazyConv2d": (3, 3), "LazyConv3d": (3, 3),
    "LazyConvTranspose1d": (3, 3), "LazyConvTranspose2d": (3, 3),
    "LazyConvTranspose3d": (3, 3), "ZeroPad3d": (1,), "ConstantPad3d": (1, 0.5),
    "ReflectionPad3d": (1,), "ReplicationPad3d": (1,), "CircularPad3d": (1,),
    "MaxUnpool3d": (2,), "CrossMapLRN2d": (3,), "SyncBatchNorm": (4,),
    "AdaptiveLogSoftmaxWithLoss": (16, 10, [3, 6]), "FractionalMaxPool2d": (2, None, 0.5),
    "FractionalMaxPool3d": (2, 3), "LinearCrossEntropyLoss": (5, 4),
    "DataParallel": lambda T: (T.nn.Linear(2, 1),)}
#: base classes PyTorch's users do not build
REPR_SKIP = {"RNNBase", "RNNCellBase"}
#: and the settings that are not the defaults
REPR_CALLS = [
    "ReLU(inplace=True)", "ReLU6(inplace=True)", "LeakyReLU(0.2, inplace=True)",
    "ELU(alpha=0.5, inplace=True)", "CELU(inplace=True)", "SELU(inplace=True)",
    "SiLU(inplace=True)", "Mish(inplace=True)", "Hardswish(inplace=True)",
    "Hardsigmoid(inplace=True)", "Hardtanh(-2.0, 2.0, inplace=True)",
    "Threshold(0.1, 20.0, inplace=True)", "GELU('tanh')", "Softmax(dim=1)",
    "Softplus(beta=2.0, threshold=10.0)", "Dropout(0.1, inplace=True)",
    "Dropout2d(0.2, inplace=True)", "Dropout3d(0.2, inplace=True)",
    "LinearCrossEntropyLoss(5, 4, out_features=(2, 3), bias=True, ignore_index=1)",
    "SyncBatchNorm(4, affine=False, track_running_stats=False)",
    "LazyInstanceNorm2d(affine=False, track_running_stats=False)",
    "Conv2d(2, 4, 3, stride=2, padding=1, groups=2, bias=False)",
    "Conv2d(2, 4, (3, 5), padding='same', padding_mode='reflect', dilation=2)",
    "ConvTranspose2d(2, 4, 3, stride=2, output_padding=1)", "Linear(2, 3, bias=False)",
    "BatchNorm1d(4, affine=False, track_running_stats=False, momentum=None)",
    "LayerNorm((2, 3), elementwise_affine=False)", "GroupNorm(2, 4, affine=False)",
    "Embedding(5, 3, padding_idx=0)", "RNN(3, 4, nonlinearity='relu')",
    "EmbeddingBag(5, 3, max_norm=1.0, mode='max', padding_idx=0)", "RReLU(0.1, 0.3, True)",
    "Unfold((2, 3), dilation=2, padding=1, stride=2)", "Fold((4, 5), 2, stride=1)",
    "LocalResponseNorm(3, alpha=0.2, beta=0.5, k=2.0)", "MaxUnpool1d(2, stride=1, padding=0)",
    "MaxUnpool2d((2, 3), stride=(1, 2), padding=1)",
    "LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True)",
    "GRU(3, 4, bias=False, dropout=0.5, num_layers=2)", "RNNCell(3, 4, nonlinearity='relu')",
    "MaxPool2d(2, stride=1, ceil_mode=True)", "AvgPool1d(3, 1, 1)", "AvgPool2d(3, 1, 1)",
    "Upsample(scale_factor=2, mode='bilinear')", "Upsample(scale_factor=(2, 3))",
    "Upsample(size=(4, 4))", "MSELoss(reduction='sum')",
    "Conv3d(2, 4, (3, 1, 2), stride=(2, 1, 1), padding=1, groups=2, bias=False)",
    "ConvTranspose3d(2, 4, 3, stride=2, output_padding=1)",
    "MaxPool3d(2, stride=1, ceil_mode=True)", "AvgPool3d(3, 1, 1)",
    "LPPool2d(1.5, (2, 3), stride=1, ceil_mode=True)",
    "AdaptiveMaxPool3d((2, None, 3), return_indices=True)",
    "Upsample(scale_factor=2, mode='trilinear')",
    "InstanceNorm3d(4, affine=True)",
    "CrossEntropyLoss(label_smoothing=0.1)", "Flatten(0, -1)",
    "ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU()])",
    "Sequential(nn.ReLU(), nn.ReLU())", "ModuleDict({'a': nn.ReLU()})",
    "ParameterList([nn.Parameter(T.ones(2, 3, dtype=T.float32)), "
    "nn.Parameter(T.ones((), dtype=T.float32))])",
    "ParameterDict({'w': nn.Parameter(T.ones(2, dtype=T.float32))})"]
#: deliberate differences: a layer whose dtype is not the default dtype adds ``dtype=``
#: (zeroin's default, float64, is not PyTorch's), and ParameterList / ParameterDict name
#: dtypes ``zeroin.float32`` where PyTorch writes ``torch.float32``


def _shared_module_classes():
    return sorted(name for name in dir(nn)
                  if isinstance(getattr(nn, name), type)
                  and issubclass(getattr(nn, name), nn.Module)
                  and isinstance(getattr(torch.nn, name, None), type)
                  and name not in REPR_SKIP)


def _build(T, name):
    args = REPR_ARGS.get(name, ())
    return getattr(T.nn, name)(*(args(T) if callable(args) else args))


def test_every_shared_module_class_has_pytorchs_repr():
    names = _shared_module_classes()
    assert len(names) > 90
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # Transformer's nested-tensor notice
        differ = {name: (repr(_build(zeroin, name)), repr(_build(torch, name)))
                  for name in names}
    assert {k: v for k, v in differ.items() if v[0] != v[1]} == {}


@pytest.mark.parametrize("call", REPR_CALLS)
def test_module_reprs_with_settings_are_pytorchs(call):
    def build(T):
        return eval(f"nn.{call}", {"nn": T.nn, "T": T})   # noqa: S307 (a fixed table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # GRU's dropout with 2 layers
        ours, theirs = repr(build(zeroin)), repr(build(torch))
    if call.startswith("Parameter"):
        theirs = theirs.replace("torch.", "zeroin.")
    assert ours == theirs


def test_cosine_similarity_of_a_zero_vector_has_pytorchs_finite_gradient():
    a0, b0 = np.zeros((2, 3)), np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    za, zb = zeroin.tensor(a0, requires_grad=True), zeroin.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    zeroin.nn.functional.cosine_similarity(za, zb).sum().backward()
    torch.nn.functional.cosine_similarity(ta, tb).sum().backward()
    np.testing.assert_allclose(za.grad.data, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(zb.grad.data, tb.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "int64", "bool",
                                   "float32"])
def test_embedding_takes_long_or_int_indices_as_torch(dtype):
    """PyTorch's embedding takes int64 or int32 indices only (uint8 is refused, as are
    int8, int16, bool and floats): zeroin's, as a DtypeError naming the fix."""
    idx = np.array([1, 0, 1])
    zi, ti = (zeroin.tensor(idx, dtype=getattr(zeroin, dtype)),
              torch.tensor(idx, dtype=getattr(torch, dtype)))
    zm, tm = nn.Embedding(3, 2), torch.nn.Embedding(3, 2).double()
    if dtype in ("int32", "int64"):
        assert zm(zi).shape == tuple(tm(ti).shape) == (3, 2)
        return
    with pytest.raises(RuntimeError, match="Long, Int"):
        tm(ti)
    with pytest.raises(zeroin.DtypeError, match=rf"embedding: indices must be .*got dtype "
                                                rf"{dtype}; convert with \.long\(\)"):
        zm(zi)


@pytest.mark.parametrize("norm_first,heads,train,grad,mask_kind", [
    (False, 4, False, False, "right"),      # PyTorch's nested-tensor path: pads are 0
    (False, 4, False, False, "float"),      # the same with an additive 0 / -inf mask
    (False, 4, False, False, "middle"),     # not right-padded: the ordinary path
    (False, 4, False, True, "right"),       # recording gradients: the ordinary path
    (False, 4, True, False, "right"),       # training: the ordinary path
    (True, 4, False, False, "right"),       # norm_first: PyTorch turns nesting off
    (False, 1, False, False, "right"),      # odd head count: likewise
])
def test_transformer_encoder_nested_tensor_padding_as_pytorch(norm_first, heads, train, grad,
                                                              mask_kind):
    """TransformerEncoder(enable_nested_tensor=True) in eval mode without gradients returns
    0 at padded positions (then ``norm``), as PyTorch's nested-tensor path does; everywhere
    else the padded positions hold what the layers computed, as in PyTorch."""
    d, n, s = 8, 3, 5
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # nested-tensor notices
        tm = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(d, heads, 16, dropout=0.0, batch_first=True,
                                             norm_first=norm_first), 2,
            norm=torch.nn.LayerNorm(d)).double()
    zm = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, heads, 16, dropout=0.0,
                                                          batch_first=True,
                                                          norm_first=norm_first), 2,
                               norm=nn.LayerNorm(d))
    with torch.no_grad():
        tm.norm.bias.normal_()                  # LayerNorm(0) = bias shows in the pads
    zm.load_state_dict({k: zeroin.tensor(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    tm.train(train)
    zm.train(train)
    x = np.random.default_rng(1).standard_normal((n, s, d))
    pad = np.zeros((n, s), bool)
    pad[1, 3:] = pad[2, 1:] = True
    if mask_kind == "middle":
        pad[1, 0] = True
    masks = {lib: lib.tensor(pad) for lib in (torch, zeroin)}
    if mask_kind == "float":
        masks = {lib: lib.zeros(n, s, dtype=lib.float64).masked_fill(
            m, float("-inf")) for lib, m in masks.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # nested tensors are a prototype in PyTorch
        with torch.set_grad_enabled(grad):
            t = tm(torch.tensor(x), src_key_padding_mask=masks[torch])
    with zeroin.set_grad_enabled(grad):
        z = zm(zeroin.tensor(x), src_key_padding_mask=masks[zeroin])
    close(z.detach(), t.detach())
    bias_at_pads = np.allclose(t.detach().numpy()[1, 3:], tm.norm.bias.detach().numpy())
    assert bias_at_pads == (not (norm_first or heads == 1 or train or grad
                                 or mask_kind == "middle"))
