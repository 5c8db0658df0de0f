"""F.linear_cross_entropy and nn.LinearCrossEntropyLoss against PyTorch 2.13's (reference
path): values and gradients for class indices and probabilities, K-dimensional loss,
bias, weight, ignore_index, label smoothing, state dict and errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
import zeroin.nn.functional as F

torch = pytest.importorskip("torch")
if not hasattr(torch.nn, "LinearCrossEntropyLoss"):
    pytest.skip("PyTorch without LinearCrossEntropyLoss", allow_module_level=True)

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("out_features", [(), (3,), (2, 3)])
@pytest.mark.parametrize("kw", [{}, dict(reduction="sum", label_smoothing=0.2),
                                dict(reduction="none", ignore_index=1),
                                dict(weight="w", ignore_index=2)])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("probs", [False, True])
def test_functional_matches_torch(out_features, kw, bias, probs):
    if probs and "ignore_index" in kw:
        return
    n, c, d = 4, 5, 6
    x0 = RNG.standard_normal((n, d))
    w0 = RNG.standard_normal((c, *out_features, d))
    b0 = RNG.standard_normal((c, *out_features))
    if probs:
        t0 = RNG.random((n, c, *out_features))
        t0 /= t0.sum(1, keepdims=True)
    else:
        t0 = RNG.integers(0, c, (n, *out_features))
    kw = dict(kw)
    wt = kw.pop("weight", None)
    args = []
    for T in (zeroin, torch):
        x, w = T.tensor(x0, requires_grad=True), T.tensor(w0, requires_grad=True)
        b = T.tensor(b0, requires_grad=True) if bias else None
        extra = dict(weight=T.tensor(np.arange(1.0, c + 1))) if wt else {}
        loss = T.nn.functional.linear_cross_entropy(x, w, T.tensor(t0), linear_bias=b,
                                                    **kw, **extra)
        loss.sum().backward() if loss.ndim else loss.backward()
        args.append((loss, x, w, b))
    (lz, *pz), (lt, *pt) = args
    np.testing.assert_allclose(lz.data, lt.detach().numpy(), rtol=1e-12)
    for a, b in zip(pz, pt):
        if b is not None:
            np.testing.assert_allclose(a.grad.data, b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_gradcheck_and_unbatched():
    w = zeroin.tensor(RNG.standard_normal((5, 6)), requires_grad=True)
    x = zeroin.tensor(RNG.standard_normal((3, 6)), requires_grad=True)
    t = zeroin.tensor([0, 4, 2])
    assert zeroin.gradcheck(lambda x, w: F.linear_cross_entropy(x, w, t, label_smoothing=0.1),
                            (x, w))
    one = F.linear_cross_entropy(x[0], w, zeroin.tensor(0))
    one_t = torch.nn.functional.linear_cross_entropy(torch.tensor(x.data[0]),
                                                     torch.tensor(w.data), torch.tensor(0))
    np.testing.assert_allclose(one.item(), one_t.item(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{}, dict(out_features=(2,), bias=True, reduction="sum"),
                                dict(weight=True, ignore_index=0, label_smoothing=0.1)])
def test_module_loads_torchs_state_and_matches(kw):
    kw = dict(kw)
    weight = kw.pop("weight", None)
    torch.manual_seed(0)
    mt = torch.nn.LinearCrossEntropyLoss(
        6, 4, **kw, weight=torch.arange(1.0, 5.0) if weight else None).double()
    m = nn.LinearCrossEntropyLoss(6, 4, **kw,
                                  weight=zeroin.arange(1.0, 5.0) if weight else None)
    assert repr(m) == repr(mt)
    assert list(m.state_dict()) == list(mt.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in mt.state_dict().items()})
    x0 = RNG.standard_normal((5, 6))
    t0 = RNG.integers(0, 4, (5, *kw.get("out_features", ())))
    lz, lt = m(zeroin.tensor(x0), zeroin.tensor(t0)), mt(torch.tensor(x0), torch.tensor(t0))
    np.testing.assert_allclose(lz.data, lt.detach().numpy(), rtol=1e-12)
    lz.backward()
    lt.backward()
    np.testing.assert_allclose(m.linear.weight.grad.data, mt.linear.weight.grad.numpy(),
                               rtol=1e-10, atol=1e-14)


def test_errors_as_torch():
    tf, zf = torch.nn.functional.linear_cross_entropy, F.linear_cross_entropy
    cases = [((2, 3, 5), (4, 5), [0, 1]), ((2, 5), (5,), [0, 1]), ((2, 5), (4, 6), [0, 1]),
             ((5,), (4, 2, 5), 0)]
    for xs, ws, t in cases:
        with pytest.raises(RuntimeError) as theirs:
            tf(torch.zeros(xs), torch.zeros(ws), torch.tensor(t))
        with pytest.raises(RuntimeError) as ours:
            zf(zeroin.zeros(*xs), zeroin.zeros(*ws), zeroin.tensor(t))
        assert str(ours.value) == str(theirs.value)
    for T, f in ((torch, tf), (zeroin, zf)):
        with pytest.raises(RuntimeError, match="expected linear_bias shape"):
            f(T.zeros(2, 5), T.zeros(4, 5), T.tensor([0, 1]), linear_bias=T.zeros(3))
        with pytest.raises(RuntimeError, match="ignore_index cannot be specified"):
            f(T.zeros(2, 5), T.zeros(4, 5), T.zeros(2, 4), ignore_index=1)
        with pytest.raises(RuntimeError, match=r"expected weight shape to be \(4,\)"):
            T.nn.LinearCrossEntropyLoss(5, 4, weight=T.ones(3))
        with pytest.raises(RuntimeError, match="label_smoothing to be in range"):
            T.nn.LinearCrossEntropyLoss(5, 4, label_smoothing=1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction,scale", [("mean", 1.0), ("mean", 2.5), ("sum", 0.3)])
def test_cross_entropy_gradient_bits_with_the_number_as_a_cached_constant(dtype, reduction,
                                                                           scale):
    # the rule scales the softmax by g (/ N) as a 0-d constant of the logits' dtype (T6's):
    # the same bits as with the Python float, and torch's gradient
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 4)).astype(dtype)
    y = rng.integers(0, 4, 5)
    w = zeroin.tensor(x, requires_grad=True)
    (F.cross_entropy(w, y, reduction=reduction) * scale).backward()
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / np.add.reduce(e, axis=1, keepdims=True)
    s = scale * (1.0 / 5) if reduction == "mean" else scale
    want = p * s
    want[np.arange(5), y] -= s
    assert w.grad.dtype == dtype
    assert w.grad.numpy().tobytes() == want.tobytes()
    tw = torch.tensor(x, requires_grad=True)
    (torch.nn.functional.cross_entropy(tw, torch.tensor(y), reduction=reduction)
     * scale).backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)
