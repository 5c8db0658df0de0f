"""zeroin.nn.utils.prune against torch.nn.utils.prune: masks, state-dict keys, iterative
pruning, global pruning, remove, errors and the gradient reaching ``weight_orig``."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn.utils import prune

torch = pytest.importorskip("torch")
tprune = pytest.importorskip("torch.nn.utils.prune")


def _pair(shape=(4, 6), seed=0):
    """A zeroin Conv/Linear and torch's twin with the same distinct weights."""
    rng = np.random.default_rng(seed)
    w = rng.permutation(np.arange(1, int(np.prod(shape)) + 1)).reshape(shape) * 0.1
    w = w * rng.choice([-1.0, 1.0], size=shape)
    b = rng.standard_normal(shape[0])
    if len(shape) == 2:
        z, t = nn.Linear(shape[1], shape[0]).double(), torch.nn.Linear(shape[1], shape[0])
    else:
        z = nn.Conv2d(shape[1], shape[0], shape[2:]).double()
        t = torch.nn.Conv2d(shape[1], shape[0], shape[2:])
    t = t.double()
    z.weight.data = w.copy()
    z.bias.data = b.copy()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
        t.bias.copy_(torch.tensor(b))
    return z, t


def _same_mask(z, t, name="weight"):
    np.testing.assert_array_equal(getattr(z, name + "_mask").numpy(),
                                  getattr(t, name + "_mask").numpy())
    np.testing.assert_allclose(getattr(z, name).detach().numpy(),
                               getattr(t, name).detach().numpy())


@pytest.mark.parametrize("amount", [0, 1, 5, 0.0, 0.3, 0.5, 1.0, 24])
def test_l1_unstructured_mask_and_keys_match_torch(amount):
    z, t = _pair()
    prune.l1_unstructured(z, "weight", amount)
    tprune.l1_unstructured(t, "weight", amount)
    _same_mask(z, t)
    assert list(z.state_dict()) == list(t.state_dict())
    assert [n for n, _ in z.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in z.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert z.weight_mask.dtype == np.float64


@pytest.mark.parametrize("n", [1, 2, 3, float("inf"), -float("inf")])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("amount", [1, 0.5])
def test_ln_structured_conv_matches_torch(n, dim, amount):
    z, t = _pair((4, 3, 2, 2))
    prune.ln_structured(z, "weight", amount, n, dim)
    tprune.ln_structured(t, "weight", amount, n, dim)
    _same_mask(z, t)


def test_iterative_pruning_combines_masks_as_torch():
    z, t = _pair((6, 5))
    for mod, pr in ((z, prune), (t, tprune)):
        pr.l1_unstructured(mod, "weight", 0.2)
        pr.ln_structured(mod, "weight", 2, 2, 0)
        pr.l1_unstructured(mod, "weight", 3)
        pr.ln_structured(mod, "weight", 0.34, 1, 1)
    _same_mask(z, t)
    hooks = list(z._forward_pre_hooks.values())
    assert len(hooks) == 1 and isinstance(hooks[0], prune.PruningContainer)
    assert [type(m).__name__ for m in hooks[0]] == [
        "L1Unstructured", "LnStructured", "L1Unstructured", "LnStructured"]
    assert len(hooks[0]) == 4 and isinstance(hooks[0][1], prune.LnStructured)


def test_importance_scores_and_custom_mask_and_identity():
    z, t = _pair()
    scores = np.arange(24.0).reshape(4, 6)[::-1].copy()
    prune.l1_unstructured(z, "weight", 7, importance_scores=zeroin.tensor(scores))
    tprune.l1_unstructured(t, "weight", 7, importance_scores=torch.tensor(scores))
    _same_mask(z, t)
    mask = (np.arange(24).reshape(4, 6) % 3 != 0).astype(float)
    prune.custom_from_mask(z, "weight", zeroin.tensor(mask))
    tprune.custom_from_mask(t, "weight", torch.tensor(mask))
    _same_mask(z, t)
    prune.identity(z, "bias")
    tprune.identity(t, "bias")
    _same_mask(z, t, "bias")
    assert list(z.state_dict()) == list(t.state_dict())


def test_global_unstructured_matches_torch():
    (z1, t1), (z2, t2) = _pair((3, 4), 1), _pair((2, 5), 2)
    prune.l1_unstructured(z1, "weight", 2)
    tprune.l1_unstructured(t1, "weight", 2)
    prune.global_unstructured([(z1, "weight"), (z2, "weight"), (z2, "bias")],
                              prune.L1Unstructured, amount=0.4)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight"), (t2, "bias")],
                               tprune.L1Unstructured, amount=0.4)
    _same_mask(z1, t1)
    _same_mask(z2, t2)
    _same_mask(z2, t2, "bias")
    with pytest.raises(TypeError, match="unstructured"):
        prune.global_unstructured([(z1, "weight")], prune.LnStructured, amount=1, n=2)


def test_remove_makes_pruning_permanent_as_torch():
    z, t = _pair()
    for mod, pr in ((z, prune), (t, tprune)):
        pr.l1_unstructured(mod, "weight", 0.5)
        pr.random_unstructured(mod, "bias", 1)
        pr.remove(mod, "weight")
    assert list(z.state_dict()) == list(t.state_dict())
    assert isinstance(z.weight, nn.Parameter) and z.weight.requires_grad
    np.testing.assert_array_equal(z.weight.detach().numpy(), t.weight.detach().numpy())
    assert prune.is_pruned(z) and tprune.is_pruned(t)
    prune.remove(z, "bias")
    assert not prune.is_pruned(z)
    assert not prune.is_pruned(nn.Sequential(nn.Linear(2, 2)))
    assert prune.is_pruned(nn.Sequential(prune.identity(nn.Linear(2, 2), "weight")))
    with pytest.raises(ValueError, match="has to be pruned before pruning can be removed"):
        prune.remove(z, "weight")


def test_forward_uses_mask_and_gradient_reaches_orig_masked():
    z, t = _pair()
    prune.l1_unstructured(z, "weight", 10)
    tprune.l1_unstructured(t, "weight", 10)
    x = np.random.default_rng(3).standard_normal((5, 6))
    z.weight_orig.data += 1.0               # the hook recomputes weight before forward
    with torch.no_grad():
        t.weight_orig += 1.0
    yz, yt = z(zeroin.tensor(x)), t(torch.tensor(x))
    np.testing.assert_allclose(yz.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    (yz ** 2).sum().backward()
    (yt ** 2).sum().backward()
    np.testing.assert_allclose(z.weight_orig.grad.numpy(), t.weight_orig.grad.numpy(),
                               rtol=1e-10)
    assert (z.weight_orig.grad.numpy()[z.weight_mask.numpy() == 0] == 0).all()
    assert z.weight_mask.grad is None and not z.weight_mask.requires_grad


def test_prune_method_gradcheck():
    w = zeroin.tensor(np.random.default_rng(4).standard_normal((3, 4)), requires_grad=True)
    assert zeroin.gradcheck(lambda v: prune.L1Unstructured(5).prune(v), (w,))
    assert zeroin.gradgradcheck(lambda v: prune.LnStructured(1, 2, 0).prune(v) ** 2, (w,))


def test_pruned_torch_state_dict_loads():
    z, t = _pair((3, 4), 5)
    tprune.ln_structured(t, "weight", 1, 1, 0)
    tprune.l1_unstructured(t, "weight", 2)
    prune.identity(z, "weight")
    z.load_state_dict({k: zeroin.tensor(v.numpy()) for k, v in t.state_dict().items()})
    x = np.random.default_rng(6).standard_normal((2, 4))
    np.testing.assert_allclose(z(zeroin.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-12)


def test_random_methods_prune_the_right_counts():
    zeroin.manual_seed(0)
    z, _ = _pair((5, 6))
    prune.random_unstructured(z, "weight", 0.3)
    assert (z.weight_mask.numpy() == 0).sum() == 9
    prune.random_structured(z, "weight", 2, dim=1)
    cols = (z.weight_mask.numpy() != 0).any(axis=0)
    assert cols.sum() == 4
    assert (z.weight.detach().numpy() == 0).sum() >= 9


@pytest.mark.parametrize("call, err", [
    (lambda m, p: p.l1_unstructured(m, "weight", -1), ValueError),
    (lambda m, p: p.l1_unstructured(m, "weight", 1.5), ValueError),
    (lambda m, p: p.l1_unstructured(m, "weight", "a"), TypeError),
    (lambda m, p: p.l1_unstructured(m, "weight", 25), ValueError),
    (lambda m, p: p.ln_structured(m, "bias", 1, 2, 0), ValueError),
    (lambda m, p: p.ln_structured(m, "weight", 1, 2, 2), IndexError),
    (lambda m, p: p.random_structured(m, "weight", 5, 0), ValueError),
])
def test_errors_match_torch_and_leave_the_parameter(call, err):
    z, t = _pair()
    with pytest.raises(err):
        call(t, tprune)
    with pytest.raises(err):
        call(z, prune)
    assert [n for n, _ in z.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert isinstance(z.weight, nn.Parameter) and not prune.is_pruned(z)


def test_importance_scores_shape_and_container_name_checks():
    z, _ = _pair()
    with pytest.raises(AssertionError, match="same shape"):
        prune.l1_unstructured(z, "weight", 1, importance_scores=zeroin.ones(3))
    a = prune.Identity()
    a._tensor_name = "weight"
    b = prune.Identity()
    b._tensor_name = "bias"
    c = prune.PruningContainer(a)
    with pytest.raises(ValueError, match="acting on the parameter named 'weight'"):
        c.add_pruning_method(b)
    with pytest.raises(TypeError, match="not a BasePruningMethod"):
        c.add_pruning_method(object())
