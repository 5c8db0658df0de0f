"""zeroin.nn: modules, layers, the fused linear and cross-entropy ops, losses."""
import copy
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin import nn
from zeroin.nn import functional as F

from conftest import check_both, check_first, check_second, leaf, seeds


# --- linear -----------------------------------------------------------------------------

@pytest.mark.parametrize("xshape", [(4, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck_first_and_second_order(xshape, bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xshape), rng.standard_normal((2, 3)), rng.standard_normal(2)
    if bias:
        check_both(F.linear, x, w, b)
    else:
        check_both(F.linear, x, w)


def test_linear_is_one_node_and_matches_numpy():
    rng = np.random.default_rng(1)
    x, w, b = leaf(rng.standard_normal((5, 3))), leaf(rng.standard_normal((2, 3))), \
        leaf(rng.standard_normal(2))
    y = F.linear(x, w, b)
    assert y.grad_fn.name == "linear"
    assert [i is t for i, t in zip(y.grad_fn.inputs, (x, w, b))] == [True] * 3
    np.testing.assert_allclose(y.data, x.data @ w.data.T + b.data)
    g = rng.standard_normal((5, 2))
    y.backward(g)
    np.testing.assert_allclose(x.grad.data, g @ w.data)
    np.testing.assert_allclose(w.grad.data, g.T @ x.data)
    np.testing.assert_allclose(b.grad.data, g.sum(0))


@pytest.mark.parametrize("shape", [(16, 64, 128), (2, 3, 8, 128), (0, 5, 128)])
def test_linear_of_a_sequence_batch_is_its_rows_as_one_matrix(shape):
    # as PyTorch's addmm: (..., in) is one (rows, in) product, forward and the input's
    # gradient, to the bit (NumPy's matmul of a 3-D x took one product per leading index)
    rng = np.random.default_rng(3)
    x3 = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((96, 128)).astype(np.float32)
    g3 = rng.standard_normal(shape[:-1] + (96,)).astype(np.float32)
    out = {}
    for name, xs, gs in (("seq", x3, g3), ("rows", x3.reshape(-1, 128), g3.reshape(-1, 96))):
        x, wt = (zeroin.tensor(a.copy(), requires_grad=True) for a in (xs, w))   # float32
        y = F.linear(x, wt)
        y.backward(zeroin.tensor(gs))
        out[name] = [a.reshape(-1) for a in (y.data, x.grad.data, wt.grad.data)]
        assert y.dtype == x.grad.dtype == zeroin.float32
    for a, b in zip(out["seq"], out["rows"]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(out["seq"][0].reshape(g3.shape), x3 @ w.T, rtol=1e-4,
                               atol=1e-4)
    assert out["seq"][0].size == g3.size


def test_linear_skips_input_gradient_it_does_not_need():
    layer = nn.Linear(3, 2)
    x = zeroin.tensor(np.ones((4, 3)))
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad is not None


@pytest.mark.parametrize("needs", [(1, 1, 1), (0, 1, 1), (1, 0, 0), (0, 0, 1), (1, 1, 0)])
def test_linear_computes_exactly_the_gradients_that_are_needed(needs):
    rng = np.random.default_rng(2)
    arrays = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    x, w, b = (zeroin.tensor(a, requires_grad=bool(n)) for a, n in zip(arrays, needs))
    g = rng.standard_normal((4, 2))
    F.linear(x, w, b).backward(g)
    want = g @ arrays[1], g.T @ arrays[0], g.sum(axis=0)
    for t, n, expected in zip((x, w, b), needs, want):
        if n:
            np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12)
        else:
            assert t.grad is None


def test_linear_bias_and_weight_shape_errors():
    x = zeroin.tensor(np.ones((4, 3)))
    with pytest.raises(zeroin.ShapeError, match=r"bias of shape \(3,\) does not fit weight "
                       r"of shape \(2, 3\).*\(2,\)"):
        F.linear(x, zeroin.tensor(np.ones((2, 3))), zeroin.tensor(np.ones(3)))
    with pytest.raises(zeroin.ShapeError, match=r"weight must be 2-D"):
        F.linear(x, zeroin.tensor(np.ones((2, 3, 1))))
    with pytest.raises(zeroin.ShapeError, match=r"input of shape \(\) has 0 features"):
        F.linear(zeroin.tensor(1.0), zeroin.tensor(np.ones((2, 3))))


def test_linear_shape_error_names_sizes_and_fix():
    layer = nn.Linear(3, 2)
    with pytest.raises(zeroin.ShapeError, match=r"linear: input of shape \(4, 5\) has 5 "
                       r"features.*in_features=3.*Linear\(5, 2\)"):
        layer(zeroin.tensor(np.ones((4, 5))))


@pytest.mark.parametrize("shape, in_f, fix, works", [
    ((8, 1, 28, 28), 784, r"flatten each sample first: x\.flatten\(1\) \(or nn\.Flatten\(\) "
                          r"before the layer\) gives shape \(8, 784\)", lambda x: x.flatten(1)),
    ((8, 28, 28), 784, r"flatten each sample first: x\.flatten\(1\).*\(8, 784\)", lambda x: x.flatten(1)),
    ((28, 28), 784, r"for this one sample flatten it and add the batch dimension: "
                    r"x\.reshape\(1, 784\)", lambda x: x.reshape(1, 784)),
    ((100,), 1, r"a 1-D input is one sample; for one feature per sample make a column with "
                r"x\.reshape\(-1, 1\) \(or x\.unsqueeze\(1\)\)", lambda x: x.reshape(-1, 1)),
    ((2, 3456), 96, r"reshape the input to \(batch, 96\) or build the layer as "
                    r"Linear\(3456, 10\)", None),
])
def test_linear_shape_error_suggests_the_fix_for_the_beginners_mistake(shape, in_f, fix,
                                                                         works):
    """MNIST images into Linear(784, 10) unflattened, a (N,) regression input into
    Linear(1, 1): PyTorch says only 'mat1 and mat2 shapes cannot be multiplied'."""
    layer, x = nn.Linear(in_f, 10), zeroin.zeros(*shape)
    with pytest.raises(zeroin.ShapeError, match=rf"linear: input of shape {re.escape(str(shape))}"
                       rf".*in_features={in_f}; {fix}"):
        layer(x)
    if works is not None:                      # the suggested fix runs
        assert layer(works(x)).shape == (int(np.prod(shape)) // in_f, 10)


def test_linear_module_shapes_names_repr_and_default_init():
    zeroin.manual_seed(0)
    layer = nn.Linear(400, 30)
    assert layer.weight.shape == (30, 400) and layer.bias.shape == (30,)
    assert dict(layer.named_parameters()).keys() == {"weight", "bias"}
    assert repr(layer) == "Linear(in_features=400, out_features=30, bias=True)"
    bound = 1 / np.sqrt(400)   # PyTorch's default: kaiming_uniform(a=sqrt(5)) = U(-b, b)
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert np.abs(layer.bias.data).max() <= bound
    np.testing.assert_allclose(layer.weight.data.std(), bound / np.sqrt(3), rtol=0.05)
    nobias = nn.Linear(3, 2, bias=False)
    assert nobias.bias is None and len(list(nobias.parameters())) == 1


def test_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(0, 3)


# --- float32 ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss", ["mse", "ce", "bce_logits"])
def test_float32_stays_float32_through_layers_losses_and_grads(loss):
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8, dtype=np.float32), nn.ReLU(),
                          nn.Linear(8, 2, dtype=np.float32))
    x = zeroin.tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    out = model(x)
    assert out.dtype == np.float32
    if loss == "mse":
        l = F.mse_loss(out, np.zeros((6, 2)))          # float64 target is cast
    elif loss == "ce":
        l = F.cross_entropy(out, np.array([0, 1, 0, 1, 1, 0]))
    else:
        l = F.binary_cross_entropy_with_logits(out, np.ones((6, 2)))
    assert l.dtype == np.float32
    l.backward()
    assert all(p.grad.dtype == np.float32 for p in model.parameters())
    opt = zeroin.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.step()
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_module_to_float_and_double():
    m = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    m.float()
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float32)}
    assert m[1].running_mean.dtype == np.float32
    assert m[1].num_batches_tracked.dtype == np.int64
    m.double()
    assert {p.dtype for p in m.parameters()} == {np.dtype(np.float64)}


# --- losses: gradients ------------------------------------------------------------------

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_gradcheck_both_arguments_and_second_order(reduction):
    rng = np.random.default_rng(2)
    f = lambda x, t: F.mse_loss(x, t, reduction=reduction)  # noqa: E731
    check_both(f, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_gradcheck(reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 3))
    t = x + rng.choice([-1, 1], x.shape) * rng.uniform(0.2, 1, x.shape)   # away from kinks
    check_first(lambda a, b: F.l1_loss(a, b, reduction=reduction), x, t)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_gradcheck_input_and_target(reduction):
    rng = np.random.default_rng(4)
    p, t = rng.uniform(0.1, 0.9, (5, 2)), rng.uniform(0, 1, (5, 2))
    check_first(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction), p, t)
    check_second(lambda a: F.binary_cross_entropy(a, zeroin.tensor(t), reduction=reduction), p)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_gradcheck_and_second_order(reduction):
    rng = np.random.default_rng(5)
    f = lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction=reduction)  # noqa
    check_both(f, rng.standard_normal((5, 2)) * 3, rng.uniform(0, 1, (5, 2)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck_first_and_second_order(reduction):
    rng = np.random.default_rng(6)
    y = np.array([0, 2, 1, 2])
    check_both(lambda x: F.cross_entropy(x, y, reduction=reduction),
               rng.standard_normal((4, 3)) * 2)


def test_nll_loss_gradcheck_and_equals_cross_entropy_of_log_softmax():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((4, 3)), np.array([2, 0, 1, 1])
    check_first(lambda a: F.nll_loss(zeroin.log_softmax(a, axis=1), y), x)
    a = F.nll_loss(zeroin.log_softmax(zeroin.tensor(x), axis=1), y).item()
    assert a == pytest.approx(F.cross_entropy(zeroin.tensor(x), y).item(), rel=1e-12)


@settings(max_examples=25, deadline=None)
@given(seeds, st.integers(1, 6), st.integers(2, 5))
def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n(seed, n, c):
    rng = np.random.default_rng(seed)
    x = leaf(rng.standard_normal((n, c)) * 5)
    y = rng.integers(0, c, n)
    loss = F.cross_entropy(x, y)
    p = np.exp(x.data - x.data.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert loss.item() == pytest.approx(-np.log(p[np.arange(n), y]).mean(), rel=1e-10)
    loss.backward()
    expected = (p - np.eye(c)[y]) / n
    np.testing.assert_allclose(x.grad.data, expected, atol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = leaf([[1000.0, 0.0, -1000.0], [0.0, 2000.0, 0.0]])
    loss = F.cross_entropy(x, [2, 1])
    assert loss.item() == pytest.approx(2000.0 / 2)
    loss.backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0, -0.5], [0, 0, 0]], atol=1e-12)


def test_bce_with_logits_is_stable_and_bce_clamps_log():
    x = leaf([1000.0, -1000.0])
    l = F.binary_cross_entropy_with_logits(x, [0.0, 1.0], reduction="none")
    np.testing.assert_allclose(l.data, [1000.0, 1000.0])
    l.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, -1.0])
    p = leaf([0.0, 1.0])
    assert F.binary_cross_entropy(p, [1.0, 0.0]).item() == pytest.approx(100.0)


# --- losses: refusing accidental broadcasting ---------------------------------------------

def test_loss_refuses_column_against_vector_with_the_fix():
    pred, target = zeroin.tensor(np.zeros((4, 1))), np.zeros(4)
    msg = ("mse_loss: input shape (4, 1) and target shape (4,) differ; they would broadcast "
           "to (4, 4). Reshape the target with target.reshape(-1, 1) or the input with "
           "input.reshape(-1)")
    with pytest.raises(zeroin.ShapeError, match=re.escape(msg)):
        F.mse_loss(pred, target)
    with pytest.raises(zeroin.ShapeError, match=re.escape(msg)):
        nn.MSELoss()(pred, target)


@pytest.mark.parametrize("loss", [nn.MSELoss(), nn.L1Loss(), nn.BCELoss(),
                                  nn.BCEWithLogitsLoss()])
def test_every_loss_names_itself_and_both_shapes(loss):
    pred = zeroin.tensor(np.full(4, 0.5))
    with pytest.raises(zeroin.ShapeError) as e:
        loss(pred, np.zeros((4, 1)))
    text = str(e.value)
    assert text.startswith(type(loss)._fn.__name__ + ":")
    assert "input shape (4,) and target shape (4, 1) differ" in text
    assert "broadcast to (4, 4)" in text and "input.reshape(-1, 1)" in text


def test_loss_accepts_a_single_target_value():
    x = leaf([[1.0], [3.0]])
    loss = F.mse_loss(x, 2.0)
    assert loss.item() == 1.0
    loss.backward()
    np.testing.assert_allclose(x.grad.data, [[-1.0], [1.0]])


def test_loss_shape_error_for_unrelated_shapes():
    with pytest.raises(zeroin.ShapeError, match=r"input shape \(4, 2\) and target shape "
                       r"\(3,\) differ.*same shape"):
        F.mse_loss(zeroin.tensor(np.zeros((4, 2))), np.zeros(3))


def test_cross_entropy_label_errors():
    x = zeroin.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.3.*from 1 to 4.*look "
                       r"1-based.*subtract 1"):
        F.cross_entropy(x, [1, 4, 2])
    with pytest.raises(ValueError, match=r"from 0 to 7.*4 outputs"):
        F.cross_entropy(x, [0, 7, 2])
    with pytest.raises(ValueError, match=r"from -1 to 2"):
        F.cross_entropy(x, [0, -1, 2])
    with pytest.raises(TypeError, match=r"integer class labels.*float64.*astype\('int64'\)"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(zeroin.ShapeError, match=r"target of shape \(3,\), got \(3, 1\).*"
                       r"reshape\(-1\)"):
        F.cross_entropy(x, np.array([[0], [1], [2]]))
    with pytest.raises(zeroin.ShapeError, match=r"argmax"):
        F.cross_entropy(x, np.eye(4, dtype=int)[[0, 1, 2]])
    with pytest.raises(ValueError, match="reduction must be"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("call", [
    lambda T, x, t: T.nn.functional.cross_entropy(x, t),
    lambda T, x, t: T.nn.functional.nll_loss(x, t),
    lambda T, x, t: T.nn.CrossEntropyLoss(label_smoothing=0.1)(x, t),
    lambda T, x, t: T.nn.NLLLoss()(x, t),
    lambda T, x, t: T.nn.functional.cross_entropy(x, T.ones(2, 3) / 3),
], ids=["cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss", "soft_targets"])
def test_class_losses_refuse_integer_scores_as_torch(call, dtype):
    torch = pytest.importorskip("torch")
    for T in (zeroin, torch):
        x = T.tensor([[1, 0, 2], [0, 3, 1]]).to(getattr(T, dtype))
        with pytest.raises(NotImplementedError) as e:
            call(T, x, T.tensor([0, 2]))
        if T is zeroin:
            assert re.search(r"(cross_entropy|nll_loss): the input \(scores of shape \(2, 3\)"
                             r"\) must be floating point, got " + dtype + r".*input\.float\(\)",
                             str(e.value))
        got = float(call(T, x.float(), T.tensor([0, 2])))     # the fix the message names
        assert got == pytest.approx(float(call(torch, torch.tensor(
            x.numpy()).float(), torch.tensor([0, 2]))), rel=1e-6)


def test_cross_entropy_labels_are_a_constant_input_of_its_node():
    # the loss depends on the labels, so the graph shows them: a constant leaf that
    # explain lists and backward skips; they are checked in forward, with no shape prefix
    x = zeroin.tensor(np.arange(12.0).reshape(3, 4) / 10, requires_grad=True, name="x")
    y = np.array([0, 3, 1])
    loss = F.cross_entropy(x, y)
    xin, yin = loss.grad_fn.inputs
    assert xin is x and yin.grad_fn is None and not yin.requires_grad
    assert yin.numpy() is y
    loss.backward()
    p = np.exp(x.data) / np.exp(x.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, (p - np.eye(4)[y]) / 3, atol=1e-15)
    assert yin.grad is None
    assert yin.name == "labels"
    text = str(zeroin.explain(loss, x))
    assert "cross_entropy(x, labels)" in text
    assert "constants (no gradient flows into them): labels" in text
    with pytest.raises(ValueError) as e:
        F.cross_entropy(x, np.array([0, 4, 1]))
    assert str(e.value).startswith("cross_entropy: labels must be in 0..3")


@pytest.mark.parametrize("labels", [np.array([0, 3, 2], np.uint8), np.array([0, 3, 2], ">i4"),
                                    np.array([0, 9, 3, 9, 2])[::2], np.array([1, 2, 3], np.int16)])
def test_cross_entropy_label_range_check_over_integer_types(labels):
    x = zeroin.tensor(np.zeros((3, 4)))
    assert F.cross_entropy(x, labels).item() == pytest.approx(np.log(4))
    bad = labels.copy()
    bad[1] = 4
    with pytest.raises(ValueError, match=r"labels must be in 0\.\.3"):
        F.cross_entropy(x, bad)
    if bad.dtype.kind == "i":
        bad[1] = -1
        with pytest.raises(ValueError, match=r"from -1 to"):
            F.cross_entropy(x, bad)


def test_cross_entropy_float_target_hint_fits_its_shape():
    x = zeroin.tensor(np.zeros((3, 4)))
    onehot = np.eye(4)[[0, 1, 2]]
    # PyTorch: a float target of the input's shape holds class probabilities
    assert F.cross_entropy(x, onehot).item() == pytest.approx(
        F.cross_entropy(x, np.array([0, 1, 2])).item())
    column = np.array([[0.0], [3.0], [2.0]])
    with pytest.raises(TypeError, match=r"\(N, 1\).*reshape\(-1\)\.astype\('int64'\)") as e:
        F.cross_entropy(x, column)
    # the suggested fix works
    fixed = column.reshape(-1).astype("int64")
    expected = -np.log(0.25)
    np.testing.assert_allclose(F.cross_entropy(x, fixed).item(), expected)
    assert "BCEWithLogitsLoss" not in str(e.value)          # 4 classes: not a binary task


def test_cross_entropy_of_a_sequence_models_logits_says_to_flatten():
    # the LLMs-from-scratch book's calc_loss_batch without .flatten(0, 1): logits
    # (batch, tokens, vocab), targets (batch, tokens); PyTorch's RuntimeError only says
    # "Expected target size [2, 7], got [2, 5]"
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits, target = rng.normal(size=(2, 5, 7)), rng.integers(0, 7, size=(2, 5))
    with pytest.raises(RuntimeError):
        torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(target))
    for loss in (F.cross_entropy, nn.CrossEntropyLoss()):
        with pytest.raises(RuntimeError, match=r"got \(2, 5\); the classes are dimension 1.*"
                           r"cross_entropy\(logits\.flatten\(0, 1\), target\.flatten\(\)\)"):
            loss(zeroin.tensor(logits), zeroin.tensor(target))
    want = torch.nn.functional.cross_entropy(torch.tensor(logits).flatten(0, 1),
                                             torch.tensor(target).flatten())
    for fixed in (F.cross_entropy(zeroin.tensor(logits).flatten(0, 1),   # the fixes
                                  zeroin.tensor(target).flatten()),
                  F.cross_entropy(zeroin.tensor(logits).transpose(1, 2), zeroin.tensor(target))):
        np.testing.assert_allclose(fixed.item(), want.item())
    with pytest.raises(RuntimeError, match=r"got \(2, 3\)$"):    # no hint where it does not fit
        F.cross_entropy(zeroin.tensor(logits), zeroin.tensor(target[:, :3]))


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss(), nn.NLLLoss()])
def test_class_label_hints_for_a_tensor_target_are_tensor_idioms(loss):
    # ZTM 02: y_blob made float by mistake; a tensor target's fix is PyTorch's .long() /
    # argmax(dim=1), not NumPy's .astype('int64') / argmax(axis=1) (no such tensor method
    # in PyTorch); the float target is refused as PyTorch's RuntimeError
    torch = pytest.importorskip("torch")
    x = np.zeros((3, 4))
    with pytest.raises(RuntimeError):
        getattr(torch.nn, type(loss).__name__)()(torch.tensor(x), torch.tensor([0.0, 1, 2]))
    cases = [(zeroin.tensor([0.0, 1.0, 2.0]), r"convert with target\.long\(\)\)$"),
             (zeroin.tensor([[0.0], [1.0], [2.0]]), r"target\.reshape\(-1\)\.long\(\)\)"),
             (zeroin.tensor(np.eye(4)[:3].astype(np.int64)), r"target\.argmax\(dim=1\)$")]
    for target, fix in cases:
        with pytest.raises(RuntimeError, match=fix):
            loss(zeroin.tensor(x), target)
    fixed = zeroin.tensor([[0.0], [1.0], [2.0]]).reshape(-1).long()
    assert loss(zeroin.tensor(x), fixed).shape == ()
    with pytest.raises(RuntimeError, match=r"target\.astype\('int64'\)\)$"):
        loss(zeroin.tensor(x), np.array([0.0, 1.0, 2.0]))       # an array's: NumPy's words


def test_cross_entropy_binary_float_column_suggests_one_logit():
    # a binary dataset's (n, 1) float 0/1 targets against a two-output model
    x = zeroin.tensor(np.zeros((4, 2)))
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    with pytest.raises(TypeError, match=r"reshape\(-1\)\.long\(\).*one output.*"
                       r"BCEWithLogitsLoss"):
        nn.CrossEntropyLoss()(x, zeroin.tensor(y))


def test_cross_entropy_on_regression_targets_or_one_output_names_the_right_loss():
    x = zeroin.tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match=r"continuous values, a regression target.*"
                       r"nn\.MSELoss"):
        F.cross_entropy(x, np.array([0.5, 1.2, 3.7]))
    # probabilities per row are a valid (soft) target, as in PyTorch
    assert F.cross_entropy(x, np.full((3, 4), 0.25)).item() == pytest.approx(np.log(4))
    one = zeroin.tensor(np.array([[0.3], [-1.0], [2.0]]), requires_grad=True)
    # one output: log-softmax of a single logit is 0, so the loss and gradient vanish
    assert np.all(F.log_softmax(one, axis=1).data == 0)
    for target in (np.array([0, 0, 0]), np.array([[0.4], [1.3], [2.0]])):
        with pytest.raises(zeroin.ShapeError, match=r"shape \(3, 1\), one class: the loss is "
                           r"always 0.*one output per class.*BCEWithLogitsLoss.*mse_loss"):
            nn.CrossEntropyLoss()(one, target)


def test_bce_refuses_values_outside_zero_one():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        F.binary_cross_entropy(zeroin.tensor([0.5, 1.5]), [0.0, 1.0])


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_bad_class_labels_raise_pytorchs_exception_types(name):
    # a float target: RuntimeError ("expected target dtype to be Long"); a label out of
    # range: IndexError ("Target 3 is out of bounds"); so `except` clauses written for
    # PyTorch catch zeroin's (which also say what to do)
    torch = pytest.importorskip("torch")
    x = np.log(np.full((2, 3), 1 / 3))
    for target, exc in (([1.0, 2.0], RuntimeError), ([1, 3], IndexError), ([-1, 0], IndexError)):
        for lib in (torch, zeroin):
            with pytest.raises(exc):
                getattr(lib.nn.functional, name)(lib.tensor(x), lib.tensor(target))
    with pytest.raises(TypeError, match="integer class labels"):
        getattr(F, name)(zeroin.tensor(x), zeroin.tensor([1.0, 2.0]))


def test_bce_values_outside_zero_one_raise_pytorchs_runtime_error():
    # a PyTorch script's `except RuntimeError` around binary_cross_entropy must still catch it
    torch = pytest.importorskip("torch")
    nan = float("nan")
    for x, t in (([0.5, -0.1], [1.0, 0.0]), ([0.5, 0.5], [1.5, 0.0]), ([0.5], [nan]),
                 ([nan], [1.0])):
        with pytest.raises(RuntimeError, match="between 0 and 1"):
            torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(t))
        with pytest.raises(RuntimeError, match=r"binary_cross_entropy: .*\[0, 1\]"):
            F.binary_cross_entropy(zeroin.tensor(x), zeroin.tensor(t))


# --- losses against PyTorch ---------------------------------------------------------------

@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits", "cross_entropy"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_match_torch(name, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 3))
    if name == "binary_cross_entropy":
        x = rng.uniform(0.05, 0.95, (6, 3))
    t = rng.integers(0, 3, 6) if name == "cross_entropy" else rng.uniform(0, 1, (6, 3))
    xz = leaf(x)
    lz = getattr(F, name)(xz, t, reduction=reduction)
    lz.backward()
    xt = torch.tensor(x, requires_grad=True)
    lt = getattr(torch.nn.functional, name)(xt, torch.tensor(t), reduction=reduction)
    lt.backward()
    assert lz.item() == pytest.approx(lt.item(), rel=1e-10)
    np.testing.assert_allclose(xz.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-12)


# --- modules ----------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 3)
        self.act = nn.Tanh()
        self.out = nn.Linear(3, 1)
        self.scale = nn.Parameter(np.ones(1))
        self.note = "not a parameter"

    def forward(self, x):
        return self.out(self.act(self.hidden(x))) * self.scale


def test_module_registers_parameters_and_children_by_assignment():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert [n for n, _ in net.named_children()] == ["hidden", "act", "out"]
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "Tanh", "Linear"]
    assert list(net.children())[0] is net.hidden
    assert net.num_parameters() == 1 + 6 + 3 + 3 + 1
    assert isinstance(net.scale, nn.Parameter) and not isinstance(zeroin.tensor(1.0),
                                                                  nn.Parameter)
    net.out = nn.Identity()     # replacing a child removes the old parameters
    assert [n for n, _ in net.named_parameters()][-1] == "hidden.bias"
    del net.scale
    assert "scale" not in dict(net.named_parameters())


def test_shared_parameters_are_listed_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2


def test_module_call_runs_forward_and_backward_reaches_parameters():
    net = Net()
    y = net(zeroin.tensor(np.ones((4, 2))))
    assert y.shape == (4, 1)
    y.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_zero_grad_fill_zeros():
    lin = nn.Linear(2, 1)
    lin(zeroin.tensor(np.ones((1, 2)))).sum().backward()
    g = lin.weight.grad
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is g and not g.data.any()


def test_forgetting_super_init_gives_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.lin = nn.Linear(1, 1)
    with pytest.raises(zeroin.ZeroinError, match=r"Bad: .*super\(\)\.__init__\(\)"):
        Bad()


def test_repr_like_pytorch():
    model = nn.Sequential(nn.Linear(2, 4), nn.LeakyReLU(0.1), nn.Dropout(0.2),
                          nn.Sequential(nn.Linear(4, 1), nn.Sigmoid()))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.1)\n"
        "  (2): Dropout(p=0.2, inplace=False)\n"
        "  (3): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=1, bias=True)\n"
        "    (1): Sigmoid()\n"
        "  )\n"
        ")")


def test_repr_shows_a_shared_child_each_time_and_none_ones_as_pytorch():
    # act = nn.ReLU(); nn.Sequential(l1, act, l2, act) printed only (0)...(2) before
    torch = pytest.importorskip("torch")
    reprs = []
    for lib in (nn, torch.nn):
        act, lin = lib.ReLU(), lib.Linear(2, 2)

        class Tied(lib.Module):
            def __init__(self):
                super().__init__()
                self.enc, self.dec, self.seq = lin, lin, lib.Sequential(lin, act, lin, act)
                self.register_module("extra", None)

        reprs.append(repr(Tied()))
    assert reprs[0] == reprs[1]
    assert reprs[0].count("ReLU()") == 2 and reprs[0].count("Linear(") == 4
    assert "(extra): None" in reprs[0]


def test_sequential_indexing_append_and_errors():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    assert len(seq) == 2 and isinstance(seq[-1], nn.ReLU)
    assert isinstance(seq[:1], nn.Sequential) and len(seq[:1]) == 1
    seq.append(nn.Linear(3, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight",
                                                      "2.bias"]
    with pytest.raises(TypeError, match=r"ReLU\(\)"):
        nn.Sequential(nn.Linear(2, 3), nn.ReLU)
    with pytest.raises(IndexError, match="out of range for 3 modules"):
        seq[5]


@pytest.mark.parametrize("module, op", [
    (nn.ReLU(), zeroin.relu), (nn.Sigmoid(), zeroin.sigmoid), (nn.Tanh(), zeroin.tanh),
    (nn.LeakyReLU(0.2), lambda x: zeroin.leaky_relu(x, 0.2)),
    (nn.Softmax(dim=1), lambda x: zeroin.softmax(x, axis=1)),
    (nn.LogSoftmax(dim=1), lambda x: zeroin.log_softmax(x, axis=1)),
    (nn.Softplus(), zeroin.softplus), (nn.Identity(), lambda x: x)])
def test_activation_modules_apply_their_op(module, op):
    x = zeroin.tensor(np.random.default_rng(9).standard_normal((3, 4)))
    np.testing.assert_array_equal(module(x).data, op(x).data)


@settings(max_examples=40, deadline=None)
@given(seeds, st.sampled_from([np.float16, np.float32, np.float64]),
       st.sampled_from(["C", "T", "strided", "0-d"]),
       st.sampled_from([(6, 5), (40, 64), (2, 16, 48), (600, 2)]))
def test_relu_keeps_x_unless_below_zero_and_masks_its_gradient(seed, dtype, layout, shape):
    # relu's fast path for large arrays (maximum against cached flat zeros) and its mask
    # from the output must give PyTorch's relu, x unless x < 0, exactly: NaN, -0.0 (which
    # stays -0.0, as in PyTorch), +-inf, every layout
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 4)
    a.ravel()[rng.choice(a.size, 4, replace=False)] = [np.nan, -0.0, -np.inf, np.inf]
    a = a.reshape(-1, shape[-1])
    a = a.astype(dtype)
    a = {"C": a, "T": a.T, "strided": a[::2, 1:], "0-d": a[0, 1].copy().reshape(())}[layout]
    x = zeroin.tensor(a, requires_grad=True)
    y = nn.ReLU()(x)
    want = np.where(a < 0, a.dtype.type(0), a)
    assert y.dtype == want.dtype and y.shape == want.shape
    np.testing.assert_array_equal(y.data, want)
    np.testing.assert_array_equal(np.signbit(y.data), np.signbit(want))
    g = rng.standard_normal(a.shape).astype(dtype)
    y.backward(g)
    np.testing.assert_array_equal(x.grad.data, np.where(a > 0, g, 0).astype(dtype))


def test_relu_of_integers_keeps_numpy_types():
    # a bool tensor is refused, as PyTorch refuses it (tests/test_torch_semantics.py)
    for a in (np.array([-2, 0, 3]), np.array(-1.5)):
        np.testing.assert_array_equal(zeroin.relu(zeroin.tensor(a)).data, np.maximum(a, 0))
        assert zeroin.relu(zeroin.tensor(a)).dtype == np.maximum(a, 0).dtype


def test_flatten_module():
    x = zeroin.tensor(np.zeros((2, 3, 4)))
    assert nn.Flatten()(x).shape == (2, 12)


def test_train_eval_propagates():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert model.training and model[1][0].training
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


# --- state dicts --------------------------------------------------------------------------

def test_state_dict_round_trip_and_shared_memory():
    zeroin.manual_seed(1)
    a = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    a(zeroin.tensor(np.random.default_rng(0).standard_normal((8, 2))))   # moves running stats
    sd = a.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked", "2.weight", "2.bias"]
    assert all(isinstance(v, zeroin.Tensor) and not v.requires_grad for v in sd.values())
    snap = copy.deepcopy(sd)                # a snapshot, as in PyTorch
    before = sd["0.weight"].data.copy()
    a[0].weight.data += 1                   # the dict's values share the weights' memory
    np.testing.assert_array_equal(sd["0.weight"].data, before + 1)
    np.testing.assert_array_equal(snap["0.weight"].data, before)
    sd = snap
    zeroin.manual_seed(2)
    b = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    w_obj = b[0].weight.numpy()
    assert b.load_state_dict(sd) == ([], [])
    assert b[0].weight.numpy() is w_obj       # loaded in place
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.data, sd[k].data)
    x = zeroin.tensor(np.ones((2, 2)))
    a.load_state_dict(sd)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_state_dict_values_share_memory_as_pytorchs_ema_and_from_pretrained():
    # timm's ModelEmaV2 updates the EMA model through its state_dict's values, nanoGPT's
    # from_pretrained copies weights into sd[k] under no_grad: both need PyTorch's sharing
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) for s in ((3, 2), (3,), (3,), (3,))]
    out = []
    for lib in (zeroin, torch):
        def net():
            m = lib.nn.Sequential(lib.nn.Linear(2, 3), lib.nn.BatchNorm1d(3))
            with lib.no_grad():
                for p, w in zip(list(m.parameters()) + [m[1].running_mean], ws):
                    p.copy_(lib.tensor(w))
            return m
        model, ema = net(), net()
        with lib.no_grad():
            for p in model.parameters():
                p.mul_(2.0)
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.is_floating_point():
                    e.copy_(e * 0.9 + 0.1 * m)              # ModelEmaV2's update
            sd = ema.state_dict()
            sd["0.bias"].copy_(lib.tensor(ws[1] * 5))       # from_pretrained's copy_
        shared = sd["0.weight"].data_ptr() == ema[0].weight.data_ptr()
        out.append(([p.detach().numpy().copy() for p in ema.parameters()]
                    + [ema[1].running_mean.numpy().copy()], shared))
    for z, t in zip(out[0][0], out[1][0]):
        np.testing.assert_allclose(z, t, rtol=1e-6)
    assert out[0][1] and out[1][1]


def test_load_state_dict_errors_name_the_parameter():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = model.state_dict()
    bad = dict(sd)
    del bad["1.bias"]
    with pytest.raises(KeyError, match=r"missing key\(s\) '1\.bias'") as e:
        model.load_state_dict(bad)
    assert isinstance(e.value, nn.StateDictError) and isinstance(e.value, zeroin.ZeroinError)
    assert str(e.value).startswith("load_state_dict for Sequential: missing key(s) '1.bias'.")
    bad = dict(sd, extra=np.zeros(1))
    with pytest.raises(KeyError, match=r"unexpected key\(s\) 'extra'"):
        model.load_state_dict(bad)
    bad = dict(sd)
    bad["0.weight"] = np.zeros((4, 2))
    before = model[1].weight.data.copy()
    bad["1.weight"] = np.full((1, 3), 7.0)
    with pytest.raises(zeroin.ShapeError, match=r"shape mismatch for '0\.weight'.*\(4, 2\)"
                       r".*\(3, 2\)"):
        model.load_state_dict(bad)
    np.testing.assert_array_equal(model[1].weight.data, before)   # nothing changed
    partial = {"1.bias": np.array([5.0])}
    res = model.load_state_dict(partial, strict=False)
    assert res.unexpected_keys == [] and "0.weight" in res.missing_keys
    assert model[1].bias.item() == 5.0


def test_load_state_dict_keeps_model_dtype():
    m = nn.Linear(2, 1, dtype=np.float32)
    m.load_state_dict({"weight": np.ones((1, 2)), "bias": np.zeros(1)})
    assert m.weight.dtype == np.float32 and m.weight.data.sum() == 2


# --- dropout and batch norm ---------------------------------------------------------------

def test_dropout_train_and_eval():
    x = zeroin.tensor(np.ones((200, 50)), requires_grad=True)
    d = nn.Dropout(0.3)
    zeroin.manual_seed(0)
    y = d(x)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)   # gradient is the same mask
    zeroin.manual_seed(0)
    np.testing.assert_array_equal(d(x).data, y.data)      # seeded: repeats
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_batchnorm_training_normalises_and_updates_running_stats():
    rng = np.random.default_rng(10)
    xa = rng.normal(3.0, 2.0, (16, 4))
    bn = nn.BatchNorm1d(4, momentum=0.1)
    y = bn(zeroin.tensor(xa))
    np.testing.assert_allclose(y.data.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(0, ddof=0), 1, rtol=1e-3)     # biased, as BN
    np.testing.assert_allclose(bn.running_mean.data, 0.1 * xa.mean(0))
    np.testing.assert_allclose(bn.running_var.data, 0.9 + 0.1 * xa.var(0, ddof=1))
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(zeroin.tensor(xa))
    expected = (xa - bn.running_mean.data) / np.sqrt(bn.running_var.data + 1e-5)
    np.testing.assert_allclose(y.data, expected)
    assert bn.num_batches_tracked.item() == 1
    assert bn(zeroin.tensor(xa[:1])).shape == (1, 4)     # one sample is fine in eval
    bn.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(zeroin.tensor(xa[:1]))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected input of shape \(N, 4\)"):
        bn(zeroin.tensor(np.ones((3, 5))))


def test_batchnorm_gradcheck_training_mode():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((5, 3)), rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    check_first(lambda a, g, h: F.batch_norm(a, None, None, g, h, training=True), x, w, b)
    x3 = rng.standard_normal((4, 2, 3))
    check_first(lambda a: F.batch_norm(a, None, None, training=True), x3)


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((8, 3)) * 2 + 1
    bz, bt = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3).double()
    xz, xt = leaf(x), torch.tensor(x, requires_grad=True)
    g = rng.standard_normal((8, 3))
    bz(xz).backward(g)
    bt(xt).backward(torch.tensor(g))
    np.testing.assert_allclose(xz.grad.data, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(bz.weight.grad.data, bt.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bz.running_var.data, bt.running_var.numpy(), rtol=1e-12)
    bz.eval(), bt.eval()
    np.testing.assert_allclose(bz(xz).data, bt(xt).detach().numpy(), rtol=1e-10)


# --- a network learns ---------------------------------------------------------------------

def test_xor_2_4_1_trains_to_100_percent():
    zeroin.manual_seed(0)
    x = zeroin.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    loss_fn = nn.BCEWithLogitsLoss()
    opt = zeroin.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
    pred = (model(x).data > 0).astype(float)
    assert (pred == y).all()
    assert loss.item() < 0.05 * first


def test_deepcopy_gives_an_independent_model():
    import copy
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    twin = copy.deepcopy(model)
    twin[0].weight.data += 1
    twin[1].running_mean.data += 1
    assert not np.allclose(model[0].weight.data, twin[0].weight.data)
    assert not model[1].running_mean.data.any()
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in model.named_parameters()]


@settings(max_examples=30, deadline=None)
@given(seeds, st.sampled_from(["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"]),
       st.sampled_from(REDUCTIONS), st.lists(st.integers(1, 4), min_size=0, max_size=3))
def test_elementwise_losses_equal_their_numpy_formula(seed, name, reduction, shape):
    rng = np.random.default_rng(seed)
    x, t = rng.standard_normal(shape), rng.uniform(0, 1, shape)
    el = {"mse_loss": (x - t) ** 2, "l1_loss": np.abs(x - t),
          "binary_cross_entropy_with_logits":
              -(t * np.log(1 / (1 + np.exp(-x))) + (1 - t) * np.log(1 - 1 / (1 + np.exp(-x))))}
    expected = {"mean": el[name].mean(), "sum": el[name].sum(), "none": el[name]}[reduction]
    got = getattr(F, name)(zeroin.tensor(x), t, reduction=reduction)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10, atol=1e-12)


def test_module_called_with_data_at_construction_says_build_then_call():
    x = zeroin.tensor([-1.0, 2.0])
    with pytest.raises(TypeError, match=r"ReLU\(\) takes no arguments, got \(Tensor\); a "
                       r"module is built first and then called on data: nn\.ReLU\(\)\(x\)"):
        nn.ReLU(x)
    with pytest.raises(TypeError, match=r"Tanh\(\) takes no arguments, got \(ndarray\); "
                       r"a module is built"):
        nn.Tanh(np.zeros(2))
    with pytest.raises(TypeError, match=r"Sigmoid\(\) takes no arguments, got \(dim=\)$"):
        nn.Sigmoid(dim=1)
    np.testing.assert_array_equal(nn.ReLU()(x).data, [0.0, 2.0])      # the suggested fix


def test_load_state_dict_given_a_path_says_to_read_the_file_first(tmp_path):
    src, dst = nn.Linear(2, 3), nn.Linear(2, 3)
    path = tmp_path / "m.npz"
    assert zeroin.save(src.state_dict(), path) is None      # as PyTorch's
    for given in (str(path), path):
        with pytest.raises(TypeError, match=r"expected a dict of arrays, got \w+; read the "
                           r"file first: model\.load_state_dict\(zeroin\.load\(.*m\.npz'\)\)"):
            dst.load_state_dict(given)
    dst.load_state_dict(zeroin.load(path))                       # the suggested fix
    np.testing.assert_array_equal(dst.weight.data, src.weight.data)
    with pytest.raises(TypeError, match=r"got list$"):
        dst.load_state_dict([1, 2])


# --- bad inputs to layers and losses: the error names the problem and the fix ----------------

def _x(*shape):
    return zeroin.tensor(np.zeros(shape))


NN_ERRORS = [
    (lambda: nn.BCEWithLogitsLoss()(_x(3), [0.0, 1.0, 2.0]), ValueError,
     r"binary_cross_entropy_with_logits: targets must be in \[0, 1\].*from 0 to 2.*"
     r"CrossEntropyLoss"),
    (lambda: nn.BCELoss()(_x(3) + 0.5, [0.0, -1.0, 1.0]), ValueError,
     r"binary_cross_entropy: targets must be in \[0, 1\]"),
    (lambda: F.binary_cross_entropy_with_logits(_x(2), [0.0, float("nan")]), ValueError,
     r"targets must be in \[0, 1\].*nan"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=[2.0])(_x(2), [0.0, 3.0]), ValueError,
     r"targets must be in \[0, 1\]"),
    (lambda: nn.BCEWithLogitsLoss()(_x(4), np.zeros((4, 1))), zeroin.ShapeError,
     r"input shape \(4,\) and target shape \(4, 1\) differ"),
    (lambda: F.binary_cross_entropy_with_logits(_x(3, 1), np.ones((3, 1)), weight=np.ones(3)),
     zeroin.ShapeError, r"binary_cross_entropy_with_logits: weight of shape \(3,\) against the "
     r"input of shape \(3, 1\) would broadcast to \(3, 3\).*weight\.reshape\(3, 1\)"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones(3))(_x(3, 1), np.ones((3, 1))),
     zeroin.ShapeError, r"pos_weight of shape \(3,\) against the input of shape \(3, 1\)"),
    (lambda: nn.BCELoss(weight=np.ones(3))(_x(3, 1) + 0.5, np.ones((3, 1))), zeroin.ShapeError,
     r"binary_cross_entropy: weight of shape \(3,\) against the input of shape \(3, 1\)"),
    (lambda: F.binary_cross_entropy(_x(3, 2) + 0.5, np.ones((3, 2)), weight=np.ones(4)),
     zeroin.ShapeError, r"binary_cross_entropy: weight of shape \(4,\) does not broadcast to "
     r"the input's shape \(3, 2\)"),
    (lambda: nn.CrossEntropyLoss()(_x(3, 4), [0, 4, 1]), ValueError, r"labels must be in 0\.\.3"),
    (lambda: nn.CrossEntropyLoss(ignore_index=-1)(_x(3, 4), [0, -1, 9]), ValueError,
     r"labels must be in 0\.\.3"),
    (lambda: nn.CrossEntropyLoss(weight=[1.0, 2.0])(_x(3, 4), [0, 1, 2]), ValueError,
     r"weight must hold one number per class, shape \(4,\)"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), ValueError,
     r"label_smoothing must be in \[0, 1\]"),
    (lambda: nn.CrossEntropyLoss()(_x(3, 4, 5), np.zeros((3, 4), int)), zeroin.ShapeError,
     r"needs a target of shape \(3, 5\)"),
    (lambda: F.cross_entropy(_x(2, 3), np.array([[0.5, 0.6, -0.1], [1, 0, 0]])), ValueError,
     r"class probabilities, which must be in \[0, 1\]"),
    (lambda: nn.NLLLoss()(_x(3, 4), [0.5, 1.0, 2.0]), TypeError, r"integer class labels"),
    (lambda: nn.NLLLoss()(_x(3, 4), [0, 1]), zeroin.ShapeError, r"target of shape \(3,\)"),
    (lambda: nn.MSELoss(reduction="avg"), ValueError,
     r"reduction must be one of 'mean', 'sum', 'none'"),
    (lambda: nn.KLDivLoss(reduction="batch"), ValueError, r"'batchmean'"),
    (lambda: nn.KLDivLoss()(_x(2, 2), [[0.5, -0.5], [1.0, 0.0]]), ValueError,
     r"probabilities \(>= 0\).*log_target=True"),
    (lambda: nn.HuberLoss(delta=0), ValueError, r"delta must be > 0"),
    (lambda: nn.SmoothL1Loss(beta=-1), ValueError, r"beta must be >= 0"),
    (lambda: nn.HuberLoss()(_x(3), np.zeros(4)), zeroin.ShapeError,
     r"huber_loss: input shape \(3,\)"),
    (lambda: nn.MSELoss()(zeroin.tensor([1, 2]), [1.0, 2.0]), NotImplementedError,
     (r"mse_loss: not implemented for input of dtype int64 with a target of dtype list.*"
      r"input\.float\(\)")),
    (lambda: nn.BCELoss()(zeroin.tensor([1, 0]), zeroin.tensor([1.0, 0.0])), TypeError,
     r"binary_cross_entropy: input must be floating point"),
    (lambda: nn.Linear(2, 3)(zeroin.tensor(np.zeros((4, 2), np.float32))), TypeError,
     r"Linear: input has dtype float32 but the layer's parameters are float64.*model\.to\("
     r"zeroin\.float32\).*x\.to\(zeroin\.float64\).*"
     r"zeroin\.set_default_dtype\(zeroin\.float32\) first"),
    (lambda: nn.Linear(2, 3, dtype=np.float32)(_x(4, 2)), TypeError,
     r"parameters are float32.*model\.double\(\)"),
    (lambda: nn.LayerNorm(3)(zeroin.tensor(np.zeros((2, 3), np.float32))), TypeError,
     r"LayerNorm: input has dtype float32"),
    (lambda: nn.LayerNorm(4)(_x(2, 3)), zeroin.ShapeError,
     r"normalized_shape \(4,\) must equal the last"),
    (lambda: nn.GroupNorm(4, 6), ValueError,
     r"num_channels \(6\) must be divisible by num_groups \(4\)"),
    (lambda: nn.GroupNorm(2, 6)(_x(2, 4)), ValueError, r"expected input \(N, 6, \.\.\.\)"),
    (lambda: nn.Embedding(5, 2)(np.array([0, 5])), IndexError,
     r"indices from 0 to 5 for 5 embeddings.*index 5 needs num_embeddings >= 6 .*"
     r"nn\.Embedding\(6, 2\)"),
    (lambda: nn.Embedding(5, 2)(np.array([0, -1])), IndexError,
     r"embedding: index -1 is out of range.*valid indices are 0\.\.4.*negative indices"),
    (lambda: F.embedding(np.array([-5]), _x(5, 2)), IndexError,
     r"embedding: index -5 is out of range"),
    (lambda: nn.Embedding(5, 2)(np.array([0.0, 1.0])), TypeError,
     r"indices must be integers.*long"),
    (lambda: nn.Embedding(5, 2, padding_idx=7), ValueError, r"padding_idx must be within"),
    (lambda: nn.Embedding(4, 2, padding_idx=1.5), TypeError,
     r"Embedding: padding_idx must be a whole number \(a row index in 0\.\.3\) or None, got 1\.5"),
    (lambda: nn.Unflatten(1, (2, 4))(_x(3, 6)), ValueError,
     r"size 6 cannot be split into \(2, 4\)"),
    (lambda: nn.GELU(approximate="fast"), ValueError, r"approximate must be 'none' or 'tanh'"),
    (lambda: nn.Hardtanh(1.0, -1.0), ValueError, r"min_val \(1\.0\) must be <= max_val"),
    (lambda: nn.Linear(2, 2).to("cuda"), RuntimeError, r"Linear\.to: zeroin runs on the CPU only"),
    (lambda: nn.Linear(2, 2, device="cuda:0"), RuntimeError, r"Linear: zeroin runs on the CPU"),
    (lambda: nn.Sequential(nn.Linear(1, 1)).get_submodule("0.x"), AttributeError,
     r"no submodule 'x'"),
    (lambda: nn.Linear(2, 2).to(np.int64), TypeError, r"must be floating point"),
    (lambda: nn.ModuleList([nn.ReLU]), TypeError, r"a class, not an instance: add \(\)"),
    (lambda: nn.ModuleList([nn.ReLU()])(1), NotImplementedError, r"loop over its modules"),
    (lambda: nn.ParameterList([1.0]), TypeError, r"item 0 is a float, not a Tensor"),
    (lambda: nn.Linear(2, 2).register_forward_hook(3), TypeError, r"hook must be callable"),
    (lambda: nn.init.trunc_normal_(_x(3), a=1, b=-1), ValueError, r"need a < b"),
    (lambda: nn.init.orthogonal_(_x(3)), ValueError, r"2 or more dimensions"),
    (lambda: nn.init.calculate_gain("leaky_relu", "x"), ValueError, r"not a valid number"),
    (lambda: nn.init.kaiming_normal_(_x(3, 3), mode="fan"), ValueError, r"'fan_in' or 'fan_out'"),
    # the data given to a loss's constructor (PyTorch raises on the tensor's truth value)
    (lambda: nn.MSELoss(_x(4), _x(4)), TypeError,
     r"MSELoss: size_average must be None or a bool, got a tensor of shape \(4,\); the "
     r"prediction and target go to the built module.*loss_fn = nn\.MSELoss\(\); loss = "
     r"loss_fn\(output, target\)"),
    (lambda: nn.CrossEntropyLoss(_x(4, 3), zeroin.tensor([0, 1, 2, 1])), TypeError,
     r"CrossEntropyLoss: size_average .* tensor of shape \(4,\).*nn\.CrossEntropyLoss\(\)"),
    (lambda: nn.BCEWithLogitsLoss(_x(4), _x(4), _x(4)), TypeError,
     r"BCEWithLogitsLoss: size_average must be None or a bool"),
    (lambda: nn.L1Loss(reduce=np.ones(2)), TypeError, r"L1Loss: reduce must be None or a bool"),
]


@pytest.mark.parametrize("make, exc, words", NN_ERRORS, ids=[w[:40] for _, _, w in NN_ERRORS])
def test_bad_inputs_are_refused_with_the_fix(make, exc, words):
    with pytest.raises(exc, match=words):
        make()


def test_loss_flags_still_take_bools():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert nn.MSELoss(True, False).reduction == "none"       # PyTorch's legacy mapping
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        assert nn.CrossEntropyLoss(None, False).reduction == "sum"


def test_integer_input_to_a_layer_is_converted_and_the_fix_works():
    lin = nn.Linear(2, 3)
    assert lin(zeroin.tensor([[1, 2]])).dtype == np.float64
    x32 = zeroin.tensor(np.ones((4, 2), np.float32))
    assert lin.float()(x32).dtype == np.float32                # the suggested fix
    assert lin.to(zeroin.tensor(np.zeros(1)))(x32.astype(np.float64)).dtype == np.float64


def test_hooks_can_be_removed_and_see_module_inputs():
    lin = nn.Linear(2, 1)
    seen = []
    with lin.register_forward_hook(lambda m, a, o: seen.append(a[0].shape)):
        lin(_x(3, 2))
    lin(_x(5, 2))
    assert seen == [(3, 2)]
    pre = lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 0,))
    x = zeroin.tensor(np.ones((3, 2)), requires_grad=True)
    lin(x).sum().backward()
    assert np.all(x.grad.data == 0) and np.all(lin.weight.grad.data == 0)
    pre.remove()
    lin.zero_grad()
    lin(x).sum().backward()
    assert np.all(lin.weight.grad.data == 3)


def test_containers_register_and_renumber():
    ml = nn.ModuleList([nn.Linear(1, 1), nn.ReLU(), nn.Linear(1, 2)])
    del ml[1]
    assert [k for k, _ in ml.named_children()] == ["0", "1"] and len(ml) == 2
    assert list(ml.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ml.insert(0, nn.Tanh())
    assert isinstance(ml[0], nn.Tanh) and isinstance(ml[-1], nn.Linear)
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.Linear(1, 3)
    assert list(md) == ["a", "b"] and md.pop("a") is not None and "a" not in md
    pl = nn.ParameterList([zeroin.zeros(2), nn.Parameter(zeroin.ones(3))])
    assert all(p.requires_grad for p in pl) and len(list(pl.parameters())) == 2


# --- composed functions: gradients against finite differences, first and second order -------

_R = np.random.default_rng(5)
_P = _R.dirichlet(np.ones(4), 3)
COMPOSED = [
    ("erf", lambda x: F.erf(x), (5,)),
    ("gelu", lambda x: F.gelu(x), (5,)),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), (5,)),
    ("silu", F.silu, (5,)), ("elu", lambda x: F.elu(x, 0.7), (6,)),
    ("celu", lambda x: F.celu(x, 2.0), (6,)), ("selu", F.selu, (6,)), ("mish", F.mish, (5,)),
    ("logsigmoid", F.logsigmoid, (5,)), ("softsign", F.softsign, (5,)),
    ("layer_norm", lambda x: F.layer_norm(x, (4,)), (3, 4)),
    ("layer_norm_affine", lambda x, w, b: F.layer_norm(x, 4, w, b), (3, 4), (4,), (4,)),
    ("group_norm", lambda x, w: F.group_norm(x, 2, w), (2, 4, 3), (4,)),
    ("embedding", lambda w: F.embedding(np.array([[0, 2], [2, 1]]), w), (3, 2)),
    ("huber", lambda x: F.huber_loss(x, np.linspace(-2, 2, 6), delta=0.5), (6,)),
    ("smooth_l1", lambda x: F.smooth_l1_loss(x, np.zeros(6), beta=0.3), (6,)),
    ("kl_div", lambda x: F.kl_div(F.log_softmax(x, 1), _P, reduction="batchmean"), (3, 4)),
    ("ce_weighted_smoothed", lambda x: F.cross_entropy(
        x, np.array([0, 3, 1]), weight=zeroin.tensor([1.0, 2.0, 0.5, 1.0]),
        label_smoothing=0.2, ignore_index=1), (3, 4)),
    ("ce_kdim", lambda x: F.cross_entropy(x, np.array([[0, 2], [1, 1]]), reduction="sum"),
     (2, 3, 2)),
    ("ce_soft", lambda x: F.cross_entropy(x, _P), (3, 4)),
    ("nll_weighted", lambda x: F.nll_loss(x, np.array([0, 3, 1]),
                                          weight=zeroin.tensor([1.0, 2.0, 0.5, 1.0])), (3, 4)),
    ("bce_pos_weight", lambda x: F.binary_cross_entropy_with_logits(
        x, _P, pos_weight=zeroin.tensor([1.0, 2.0, 3.0, 0.5])), (3, 4)),
]


@pytest.mark.parametrize("name, fn, shapes", [(c[0], c[1], c[2:]) for c in COMPOSED],
                         ids=[c[0] for c in COMPOSED])
def test_composed_functions_gradcheck(name, fn, shapes):
    rng = np.random.default_rng(3)
    arrays = [rng.uniform(-2, 2, s) for s in shapes]
    if name in ("huber", "smooth_l1", "elu", "celu", "selu"):   # keep clear of the kinks
        arrays[0] = np.where(np.abs(arrays[0]) < 0.1, arrays[0] + 0.3, arrays[0])
        if name == "huber":
            arrays[0] = np.linspace(-2, 2, 6) + np.array([0.1, -0.9, 0.2, -0.2, 0.8, 1.5])
        if name == "smooth_l1":
            arrays[0] = np.array([-1.0, -0.2, -0.05, 0.1, 0.25, 2.0])
    check_both(fn, *arrays)


def test_predict_casts_float_data_to_the_model_dtype():
    from zeroin.train import predict
    model = nn.Linear(2, 1)
    out = predict(model, np.ones((3, 2), np.float32))
    assert out.dtype == np.float64 and out.shape == (3, 1)


# --- recurrent layers -------------------------------------------------------------------
# Values and gradients against PyTorch are in test_pytorch_parity_nn.py; here: shapes,
# finite differences, dropout, errors, and one small learning run.

def test_lstm_gradients_match_finite_differences():
    # two bidirectional layers with a projection: every parameter, the input, h_0 and c_0
    zeroin.manual_seed(0)
    m = nn.LSTM(2, 2, num_layers=2, bidirectional=True, proj_size=1)
    names = [n for n, _ in m.named_parameters()]
    rng = np.random.default_rng(3)

    def run(x, h0, c0, *params):               # gradcheck's float64 copies are the weights
        out, (h, c) = zeroin.func.functional_call(m, dict(zip(names, params)), (x, (h0, c0)))
        return zeroin.cat([out.reshape(-1), h.reshape(-1), c.reshape(-1)])

    ins = [leaf(rng.standard_normal(s)) for s in ((3, 2, 2), (4, 2, 1), (4, 2, 2))]
    params = list(m.parameters())
    assert zeroin.gradcheck(run, ins + params)
    # not vacuous: the weights passed in are the ones the layer computes with
    assert not np.allclose(run(*ins, *params).data,
                           run(*ins, *[leaf(p.data * 1.5) for p in params]).data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_step_ops_equal_the_gates_written_with_ops_to_the_bit(dtype):
    # lstm_c / lstm_h compute the same formulas in the same order as sigmoid, tanh, * and
    # +: two steps (c feeds the next step, h the next product), values and every gradient
    from zeroin.nn.rnn import lstm_c, lstm_h
    rng = np.random.default_rng(1)

    def leaf_(shape, scale=1.0):
        return zeroin.tensor((rng.standard_normal(shape) * scale).astype(dtype),
                             requires_grad=True)
    w, g1, g2, c0 = leaf_((8, 2)), leaf_((3, 8), 3.0), leaf_((3, 8), 3.0), leaf_((3, 2))
    weight = zeroin.tensor(rng.standard_normal((3, 2)).astype(dtype))

    def with_ops(gates, c):
        i, f, g, o = gates.chunk(4, -1)
        c = zeroin.sigmoid(f) * c + zeroin.sigmoid(i) * zeroin.tanh(g)
        return zeroin.sigmoid(o) * zeroin.tanh(c), c

    def with_step_ops(gates, c):
        c = lstm_c(gates, c)
        return lstm_h(gates, c), c

    results = []
    for step in (with_ops, with_step_ops):
        for t in (w, g1, g2, c0):
            t.grad = None
        h, c = step(g1, c0)
        h, c = step(g2 + h @ w.T, c)
        ((h + c) * weight).sum().backward()
        results.append([a.data.copy() for a in (h, c, w.grad, g1.grad, g2.grad, c0.grad)])
    for a, b in zip(*results):
        assert a.dtype == dtype and a.tobytes() == b.tobytes()


def test_gru_gradients_match_finite_differences():
    # two bidirectional layers: every parameter, the input and h_0
    zeroin.manual_seed(0)
    m = nn.GRU(2, 2, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    rng = np.random.default_rng(3)

    def run(x, h0, *params):
        out, h = zeroin.func.functional_call(m, dict(zip(names, params)), (x, h0))
        return zeroin.cat([out.reshape(-1), h.reshape(-1)])

    ins = [leaf(rng.standard_normal(s)) for s in ((3, 2, 2), (4, 2, 2))]
    params = list(m.parameters())
    assert zeroin.gradcheck(run, ins + params)
    assert not np.allclose(run(*ins, *params).data,
                           run(*ins, *[leaf(p.data * 1.5) for p in params]).data)


@pytest.mark.parametrize("kind, kw", [("RNN", dict(nonlinearity="relu")), ("GRU", {}),
                                      ("LSTM", dict(proj_size=1))], ids=str)
def test_recurrent_gradients_with_dropout_and_batch_first_match_finite_differences(kind, kw):
    # two bidirectional layers, batch_first, dropout between them (the same mask in every
    # evaluation: the seed is set in the function), 5 steps: the one input projection per
    # layer and direction, its rows per step, and the dropped rows of the second layer
    m = getattr(nn, kind)(2, 2, num_layers=2, bidirectional=True, batch_first=True,
                          dropout=0.5, **kw)
    rng = np.random.default_rng(5)

    def run(m, x):
        zeroin.manual_seed(9)
        out, h = m(x)
        return zeroin.cat([out.reshape(-1)] + [s.reshape(-1) for s in
                                               (h if kind == "LSTM" else (h,))])
    x = rng.standard_normal((3, 5, 2))
    assert _gradcheck_module(m, [x], run)
    m.eval()
    assert not np.allclose(run(m, leaf(x)).data, (m.train(), run(m, leaf(x)).data)[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gru_step_op_equals_the_equations_written_with_ops_to_the_bit(dtype):
    # gru_h computes the same formulas in the same order as chunk, sigmoid, tanh, *, + and
    # -: two steps (h feeds the next step's product and its gate), values and gradients
    from zeroin.nn.rnn import gru_h
    rng = np.random.default_rng(1)

    def leaf_(shape, scale=1.0):
        return zeroin.tensor((rng.standard_normal(shape) * scale).astype(dtype),
                             requires_grad=True)
    w, b, g1, g2 = leaf_((6, 2)), leaf_((6,)), leaf_((3, 6), 3.0), leaf_((3, 6), 3.0)
    h0 = leaf_((3, 2))
    weight = zeroin.tensor(rng.standard_normal((3, 2)).astype(dtype))

    def with_ops(gx, h):
        x_r, x_z, x_n = gx.chunk(3, -1)
        h_r, h_z, h_n = nn.functional.linear(h, w, b).chunk(3, -1)
        r, z = zeroin.sigmoid(x_r + h_r), zeroin.sigmoid(x_z + h_z)
        n = zeroin.tanh(x_n + r * h_n)
        return (1 - z) * n + z * h

    def with_step_op(gx, h):
        return gru_h(gx, nn.functional.linear(h, w, b), h)

    results = []
    for step in (with_ops, with_step_op):
        for t in (w, b, g1, g2, h0):
            t.grad = None
        h1 = step(g1, h0)
        h2 = step(g2, h1)
        ((h1 + h2) * weight).sum().backward()
        results.append([a.data.copy() for a in (h1, h2, w.grad, b.grad, g1.grad, g2.grad,
                                                h0.grad)])
    for a, b_ in zip(*results):
        assert a.dtype == dtype and a.tobytes() == b_.tobytes()


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_shapes_names_and_unbatched_input(kind):
    m = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, batch_first=True)
    assert [n for n, _ in m.named_parameters()][:5] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse"]
    gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[kind]
    assert m.weight_ih_l1.shape == (gates * 3, 6) and m.weight_hh_l1_reverse.shape == (gates * 3, 3)
    x = np.random.default_rng(0).standard_normal((2, 4, 2))          # (batch, seq, features)
    out, h = m(x)
    h = h[0] if kind == "LSTM" else h
    assert out.shape == (2, 4, 6) and h.shape == (4, 2, 3)           # h_n is never batch-first
    # the forward direction's last output is its h_n; the reverse's is at time 0
    np.testing.assert_allclose(out.data[:, -1, :3], h.data[2])
    np.testing.assert_allclose(out.data[:, 0, 3:], h.data[3])
    # an unbatched (seq, features) input gives the batch-of-one results without the batch
    # dimension, whatever batch_first says
    one, h1 = m(x[1])
    h1 = h1[0] if kind == "LSTM" else h1
    assert one.shape == (4, 6) and h1.shape == (4, 3)
    np.testing.assert_allclose(one.data, out.data[1], rtol=1e-12)
    np.testing.assert_allclose(h1.data, h.data[:, 1], rtol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_recurrent_batch_first_output_is_a_transposed_view_as_pytorchs(kind, bidirectional):
    """A batch_first output is (seq, batch, hidden) in memory, as PyTorch's, so dropout after
    it (fastbook's LMModel7) draws PyTorch's mask in that order on the torch stream."""
    torch = pytest.importorskip("torch")
    from _audit import torch_stream
    layers = [getattr(lib.nn, kind)(3, 4, num_layers=2, batch_first=True,
                                    bidirectional=bidirectional).double()
              for lib in (torch, zeroin)]
    layers[1].load_state_dict({k: zeroin.tensor(v.detach().numpy())
                               for k, v in layers[0].state_dict().items()})
    x = np.random.default_rng(1).standard_normal((2, 5, 3))
    t_out, z_out = (m(lib.tensor(x))[0] for lib, m in zip((torch, zeroin), layers))
    np.testing.assert_allclose(z_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    assert z_out.numpy().strides == t_out.detach().numpy().strides
    torch_stream()
    try:
        drops = []
        for lib, out in ((torch, t_out), (zeroin, z_out)):
            lib.manual_seed(3)
            drops.append(lib.nn.functional.dropout(out, 0.5).detach().numpy())
        np.testing.assert_allclose(drops[1], drops[0], rtol=1e-12)
    finally:
        zeroin.random.use_torch_stream(False)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
def test_recurrent_cells_step_like_a_one_step_layer(kind):
    zeroin.manual_seed(1)
    cell = getattr(nn, kind)(2, 3)
    layer = getattr(nn, kind.replace("Cell", ""))(2, 3)
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((4, 2))
    h = cell(x)
    out, hn = layer(x[None])
    h, hn = (h[0], hn[0]) if kind == "LSTMCell" else (h, hn)
    np.testing.assert_allclose(h.data, out.data[0], rtol=1e-12)
    single = cell(x[0])                                    # one unbatched sample
    single = single[0] if kind == "LSTMCell" else single
    assert single.shape == (3,)
    np.testing.assert_allclose(single.data, h.data[0], rtol=1e-12)


@pytest.mark.parametrize("kind, kw", [("LSTM", dict(num_layers=2, proj_size=4,
                                                    bidirectional=True)),
                                      ("GRU", dict(bias=False)), ("RNNCell", {}),
                                      ("LSTMCell", {}), ("GRUCell", {})], ids=str)
def test_recurrent_reset_parameters_is_pytorchs_uniform(kind, kw):
    # layers and cells: every parameter redrawn from U(-1/sqrt(hidden), 1/sqrt(hidden))
    m = getattr(nn, kind)(3, 16, **kw)
    for p in m.parameters():
        p.data[...] = 7.0
    m.reset_parameters(rng=np.random.default_rng(0))
    vals = np.concatenate([p.data.ravel() for p in m.parameters()])
    assert 0.24 < np.abs(vals).max() <= 0.25 and vals.size > 300
    assert abs(vals.mean()) < 0.02 and abs(vals.var() / (0.25 ** 2 / 3) - 1) < 0.15
    m.reset_parameters(rng=np.random.default_rng(0))       # the same draws again
    np.testing.assert_array_equal(np.concatenate([p.data.ravel() for p in m.parameters()]),
                                  vals)


def test_recurrent_dropout_is_between_layers_and_in_training_only():
    zeroin.manual_seed(2)
    m = nn.GRU(2, 3, num_layers=2, dropout=1.0)       # drops all of layer 0's output
    x = leaf(np.random.default_rng(2).standard_normal((4, 2, 2)))
    out, h = m(x)
    # the last layer sees only zeros, so nothing reaches back to x through its output...
    out.sum().backward(retain_graph=True)
    assert not x.grad.data.any() and out.data.any()   # ...and its own output is not dropped
    x.grad = None
    h[0].sum().backward()                             # layer 0's h_n still depends on x
    assert x.grad.data.any()
    m.eval()
    ref = nn.GRU(2, 3, num_layers=2)
    ref.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(m(x)[0].data, ref(x)[0].data)    # no dropout in eval
    with pytest.warns(UserWarning, match="dropout=0.5 applies between stacked layers only"):
        nn.LSTM(2, 3, dropout=0.5)


def _raises(exc, fn, *parts):
    with pytest.raises(exc) as e:
        fn()
    for p in parts:
        assert p in str(e.value), str(e.value)


def test_recurrent_errors_name_the_layer_the_shapes_and_the_fix():
    x = np.zeros((3, 2, 2))
    lstm, gru = nn.LSTM(2, 3, num_layers=2), nn.GRU(2, 3)
    _raises(zeroin.ShapeError, lambda: lstm(np.zeros((3, 2, 5))), "LSTM: input of shape "
            "(3, 2, 5) has 5 features", "input_size=2", "nn.LSTM(5, 3, ...)")
    _raises(zeroin.ShapeError, lambda: gru(np.zeros((3, 2, 2, 1))), "GRU: expected a 3-D input",
            "(seq_len, batch, input_size)", "2-D input (seq_len, input_size)", "(3, 2, 2, 1)")
    _raises(zeroin.ShapeError, lambda: lstm(x, (np.zeros((2, 4, 3)), np.zeros((2, 2, 3)))),
            "LSTM: h_0 must have shape (2, 2, 3)", "got (2, 4, 3)")
    _raises(zeroin.ShapeError, lambda: lstm(x, (np.zeros((2, 2, 3)), np.zeros((2, 2, 4)))),
            "LSTM: c_0 must have shape (2, 2, 3)", "got (2, 2, 4)")
    # a 2-D input is one unbatched sequence, so hx is 2-D too, whatever batch_first says
    _raises(zeroin.ShapeError, lambda: nn.GRU(2, 3, batch_first=True)(
        np.zeros((3, 2)), np.zeros((1, 3, 3))), "GRU: hx must have shape (1, 3)",
            "one unbatched sequence", "whatever batch_first says", "(batch, seq_len, input_size)")
    # the batch read from the wrong axis: the fix is batch_first
    _raises(zeroin.ShapeError, lambda: gru(np.zeros((4, 3, 2)), np.zeros((1, 4, 3))),
            "hx must have shape (1, 3, 3)", "build the layer with batch_first=True")
    _raises(TypeError, lambda: lstm(x, np.zeros((2, 2, 3))), "LSTM: hx must be the pair")
    # a state carried over from a bigger batch (truncated backpropagation through time)
    _raises(zeroin.ShapeError, lambda: lstm(x, (np.zeros((2, 5, 3)), np.zeros((2, 5, 3)))),
            "h_0 must have shape (2, 2, 3)", "got (2, 5, 3)", "batch of 5 sequences",
            "this batch of 2", "drop_last=True")
    packed = nn.utils.rnn.pack_sequence([zeroin.ones(3, 2), zeroin.ones(2, 2)])
    _raises(zeroin.ShapeError, lambda: gru(packed, np.zeros((1, 3, 3))), "GRU: hx must have "
            "shape (1, 2, 3)", "for a PackedSequence of 2 sequences, got (1, 3, 3)",
            "one state per packed sequence")
    _raises(TypeError, lambda: gru(x.astype(np.float32)), "GRU: input has dtype float32",
            "float64", ".to(zeroin.float32)", ".to(zeroin.float64)", "set_default_dtype")
    _raises(zeroin.ShapeError, lambda: nn.RNNCell(2, 3)(np.zeros((3, 2, 2))), "RNNCell",
            "(3, 2, 2)", "use nn.RNN")
    _raises(zeroin.ShapeError, lambda: nn.GRUCell(2, 3)(np.zeros((4, 2)), np.zeros((3, 3))),
            "GRUCell: h must have shape (4, 3)", "got (3, 3)")
    _raises(ValueError, lambda: nn.LSTM(2, 3, proj_size=3), "proj_size (3) must be smaller")
    _raises(ValueError, lambda: nn.RNN(2, 3, nonlinearity="sigmoid"), "'tanh' or 'relu'")
    _raises(ValueError, lambda: nn.GRU(2, 0), "GRU: hidden_size must be a positive integer")
    R = nn.utils.rnn
    _raises(ValueError, lambda: R.pack_padded_sequence(zeroin.tensor(x), [1, 3]),
            "not in decreasing order", "enforce_sorted=False")
    _raises(ValueError, lambda: R.pack_padded_sequence(zeroin.tensor(x), [3, 4]),
            "between 1 and the padded length 3")
    _raises(zeroin.ShapeError, lambda: R.pad_sequence([zeroin.ones(2, 3), zeroin.ones(2, 4)]),
            "(L_i, 3)", "sequence 1 has shape (2, 4)")


def test_packed_input_stops_each_sequence_at_its_own_length():
    zeroin.manual_seed(3)
    m = nn.LSTM(2, 3, bidirectional=True)
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 3)]
    packed = nn.utils.rnn.pack_sequence([zeroin.tensor(s) for s in seqs], enforce_sorted=False)
    out, (h, c) = m(packed)
    padded, lengths = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    assert lengths.numpy().tolist() == [2, 4, 3] and padded.shape == (3, 4, 6)
    for b, s in enumerate(seqs):                     # each alone, unbatched, unpadded
        o1, (h1, c1) = m(s)
        np.testing.assert_allclose(padded.data[b, :len(s)], o1.data, rtol=1e-12)
        assert not padded.data[b, len(s):].any()
        np.testing.assert_allclose(h.data[:, b], h1.data, rtol=1e-12)
        np.testing.assert_allclose(c.data[:, b], c1.data, rtol=1e-12)


def test_packed_gradients_match_finite_differences():
    # unsorted lengths over 8 steps (the packed data is cut by halving), two of them equal;
    # both directions, LSTM's (h, c) with a projection: the input, h_0, c_0, every parameter
    zeroin.manual_seed(4)
    m = nn.LSTM(2, 2, bidirectional=True, proj_size=1)
    R, lengths = nn.utils.rnn, [3, 10, 6, 3]
    rng = np.random.default_rng(4)

    def run(m, x, h0, c0):
        out, (h, c) = m(R.pack_padded_sequence(x, lengths, enforce_sorted=False), (h0, c0))
        return zeroin.cat([out.data.reshape(-1), h.reshape(-1), c.reshape(-1)])

    ins = [rng.standard_normal(s) for s in ((10, 4, 2), (2, 4, 1), (2, 4, 2))]
    assert _gradcheck_module(m, ins, run)


def test_packed_sequence_runs_on_contiguous_blocks(monkeypatch):
    # step t of a PackedSequence is rows offset_t : offset_t + batch_sizes[t] of its data;
    # indexing each step out of the whole data scattered T data-sized gradients (T * T work)
    from zeroin.function import NP, scatter_array
    sizes = []

    def counting(g, index, shape):
        if shape[-1] == 3:              # the data's (and the padded input's) slices
            sizes.append(int(np.prod(shape)))
        return scatter_array(g, index, shape)
    monkeypatch.setattr(NP, "scatter", staticmethod(counting))
    lengths = np.arange(64, 0, -1) % 50 + 5                      # 5..54, unsorted
    x = leaf(np.random.default_rng(0).standard_normal((54, 64, 3)))
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    out, (h, c) = nn.LSTM(3, 2, bidirectional=True)(packed)
    (out.data.sum() + h.sum() + c.sum()).backward()
    total = int(lengths.sum())
    assert x.grad is not None and sum(sizes) <= 16 * total * 3 + x.data.size, (
        sum(sizes), total * 3)
    with pytest.raises(zeroin.ShapeError, match=r"batch_sizes must be positive, non-increasing "
                       r"and sum to its data's 4 rows, got \[1, 3\]"):
        nn.GRU(3, 2)(nn.utils.rnn.PackedSequence(zeroin.zeros(4, 3), zeroin.tensor([1, 3])))


def test_packed_sequence_moves_and_casts_like_a_tensor():
    R = nn.utils.rnn
    p = R.pack_sequence([leaf(np.ones((1, 2))), leaf(np.ones((3, 2)))], enforce_sorted=False)
    assert p.to("cpu") is p and p.cpu() is p and p.double() is p and p.is_cuda is False
    q = p.float()
    assert isinstance(q, R.PackedSequence) and q.data.dtype == np.float32
    assert q.batch_sizes is p.batch_sizes and q.sorted_indices is p.sorted_indices
    assert q.unsorted_indices is p.unsorted_indices
    assert p.to(zeroin.float32).data.dtype == np.float32 and p.long().data.dtype == np.int64
    x = leaf(np.ones((3, 2)))
    R.pack_sequence([x]).float().data.sum().backward()     # the cast is differentiable
    np.testing.assert_array_equal(x.grad.data, np.ones((3, 2)))
    _raises(RuntimeError, lambda: p.cuda(), "CPU", "device='cpu'")


def test_pack_sequence_errors_name_pack_sequence():
    R, one, three = nn.utils.rnn, zeroin.ones(1, 2), zeroin.ones(3, 2)
    _raises(ValueError, lambda: R.pack_sequence([one, three]), "pack_sequence: the "
            "sequences' lengths [1, 3] are not in decreasing order", "enforce_sorted=False")
    _raises(ValueError, lambda: R.pack_sequence([three, zeroin.ones(0, 2)], False),
            "pack_sequence: sequence 1 is empty (shape (0, 2))")
    _raises(ValueError, lambda: R.pack_sequence([]), "pack_sequence: got no sequences")
    _raises(zeroin.ShapeError, lambda: R.pack_sequence([three, zeroin.ones(2, 3)]),
            "pack_sequence: every sequence must have shape (L_i, 2)", "sequence 1 has shape "
            "(2, 3)")


def test_invert_permutation():
    R = nn.utils.rnn
    assert R.invert_permutation(None) is None
    assert R.invert_permutation([2, 0, 3, 1]).numpy().tolist() == [1, 3, 0, 2]
    out = R.invert_permutation(zeroin.tensor(np.array([1, 0], dtype=np.int32)))
    assert out.dtype == np.int32 and out.numpy().tolist() == [1, 0]
    assert R.invert_permutation([]).numpy().tolist() == []
    for bad in ([0, 0], [1, 2], [[0, 1]], [0.0, 1.0]):
        _raises(ValueError, lambda: R.invert_permutation(bad), "invert_permutation",
                "permutation of 0..n-1", repr(np.asarray(bad).tolist()))


def test_pack_padded_sequence_names_batch_first_when_lengths_fit_the_other_axis():
    R, x = nn.utils.rnn, zeroin.zeros(4, 3, 2)
    _raises(zeroin.ShapeError, lambda: R.pack_padded_sequence(x, [4, 3, 2, 1]),
            "one integer per sequence of the batch (3)", "read as (T, N, *)",
            "pass batch_first=True")
    _raises(zeroin.ShapeError, lambda: R.pack_padded_sequence(x, [3, 2, 1], batch_first=True),
            "batch (4)", "read as (N, T, *)", "pass batch_first=False")
    with pytest.raises(zeroin.ShapeError) as e:     # no hint when neither axis fits
        R.pack_padded_sequence(x, [2, 1])
    assert "batch_first" not in str(e.value)


def test_pad_sequence_shapes_and_sides():
    a, b = zeroin.tensor([[1.0], [2.0]]), zeroin.tensor([[3.0]])
    R = nn.utils.rnn
    assert R.pad_sequence([a, b]).data[:, :, 0].tolist() == [[1, 3], [2, 0]]
    assert R.pad_sequence([a, b], batch_first=True, padding_value=-1,
                          padding_side="left").data[:, :, 0].tolist() == [[1, 2], [-1, 3]]


def test_unpad_and_unpack_sequence_invert_pad_and_pack():
    R, rng = nn.utils.rnn, np.random.default_rng(5)
    seqs = [leaf(rng.standard_normal((k, 2))) for k in (3, 5, 1, 5)]
    for got in (R.unpad_sequence(R.pad_sequence(seqs, True), [3, 5, 1, 5], True),
                R.unpad_sequence(R.pad_sequence(seqs), zeroin.tensor([3, 5, 1, 5])),
                R.unpack_sequence(R.pack_sequence(seqs, enforce_sorted=False))):
        assert [g.shape for g in got] == [s.shape for s in seqs]
        for g, s in zip(got, seqs):
            np.testing.assert_array_equal(g.data, s.data)
    padded = R.pad_sequence(seqs)
    R.unpad_sequence(padded, [3, 5, 1, 5])
    assert padded.shape == (5, 4, 2)                # left as it is (PyTorch's transposes it)
    # finite differences through the cut (the padding gets no gradient)
    assert zeroin.gradcheck(lambda x: zeroin.cat([s.reshape(-1) for s in R.unpad_sequence(
        x, [2, 5, 1, 3] * 3, batch_first=True)]), [leaf(rng.standard_normal((12, 5, 2)))])
    _raises(ValueError, lambda: R.unpad_sequence(padded, [3, 6, 1, 5]),
            "unpad_sequence: every length must be between 0 and the padded length 5",
            "[3, 6, 1, 5]")
    _raises(zeroin.ShapeError, lambda: R.unpad_sequence(padded, [3, 5]),
            "unpad_sequence: lengths must hold one integer per sequence of the batch (4)")
    _raises(zeroin.ShapeError, lambda: R.unpad_sequence(zeroin.ones(3), [3]),
            "unpad_sequence: padded_sequences must be (T, N, *)", "(3,)")
    _raises(TypeError, lambda: R.unpack_sequence(padded), "unpack_sequence: expected a "
            "PackedSequence, got Tensor")


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_layer_learns_a_running_sum(kind):
    # target at each step: the sum of the last three inputs, so the state must remember
    zeroin.manual_seed(0)
    rng = np.random.default_rng(0)
    rnn, head = getattr(nn, kind)(1, 8, batch_first=True), nn.Linear(8, 1)
    opt = zeroin.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=0.03)
    losses = []
    for _ in range(200):
        x = rng.uniform(-1, 1, (16, 8, 1))
        y = x.copy()
        y[:, 1:] += x[:, :-1]
        y[:, 2:] += x[:, :-2]
        loss = F.mse_loss(head(rnn(x)[0]), zeroin.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start, end = np.mean(losses[:5]), np.mean(losses[-10:])
    assert end < 0.1 * start, f"{kind}: loss {start:.3f} -> {end:.4f}"


def _run_training_md_example(marker):
    """Run the one ```python block of docs/training.md that contains ``marker``."""
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "training.md")
    with open(path, encoding="utf-8") as f:
        (code,) = [b for b in re.findall(r"```python\n(.*?)```", f.read(), flags=re.DOTALL)
                   if marker in b]
    scope = {"__name__": "__docs__"}
    exec(compile(code, path, "exec"), scope)
    return scope


def test_docs_training_sequence_example_runs_as_written(capsys):
    scope = _run_training_md_example("nn.LSTM(")
    first, last = map(float, re.findall(r"loss (\d+\.\d+)", capsys.readouterr().out))
    assert first > 0.2 and last < 0.02 and last < 0.1 * first, (first, last)
    assert isinstance(scope["model"].lstm, nn.LSTM)


# --- attention ----------------------------------------------------------------------------

def _gradcheck_module(m, inputs, call):
    """zeroin.gradcheck over the inputs and every parameter of ``m``: ``call(m, *inputs)``
    returns a tensor; the parameters are swapped for gradcheck's float64 copies."""
    names = [n for n, _ in m.named_parameters()]

    class Call(nn.Module):                      # functional_call swaps a module's tensors
        def __init__(self):
            super().__init__()
            self.m = m

        def forward(self, *xs):
            return call(self.m, *xs)

    def fn(*args):
        swap = {"m." + n: p for n, p in zip(names, args[len(inputs):])}
        return zeroin.func.functional_call(Call(), swap, args[:len(inputs)])
    leaves = [zeroin.tensor(a, requires_grad=True) for a in inputs] + \
        [zeroin.tensor(p.data.copy(), requires_grad=True) for _, p in m.named_parameters()]
    return zeroin.gradcheck(fn, leaves, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kw", [dict(), dict(kdim=3, vdim=2, add_bias_kv=True,
                                             add_zero_attn=True, batch_first=True)], ids=str)
def test_multihead_attention_gradcheck(kw):
    rng = np.random.default_rng(5)
    m = nn.MultiheadAttention(4, 2, **kw)
    for p in m.parameters():
        p.data[...] = rng.standard_normal(p.shape) * 0.5
    bf = kw.get("batch_first", False)
    q = rng.standard_normal((2, 3, 4) if bf else (3, 2, 4))
    k = rng.standard_normal((2, 4, kw.get("kdim", 4)) if bf else (4, 2, kw.get("kdim", 4)))
    v = rng.standard_normal((2, 4, kw.get("vdim", 4)) if bf else (4, 2, kw.get("vdim", 4)))
    kpm = np.array([[False, False, False, True], [False, True, False, False]])
    am = rng.standard_normal((3, 4))

    def call(m, q, k, v):
        out, w = m(q, k, v, key_padding_mask=kpm, attn_mask=am)
        return zeroin.cat([out.reshape(-1), w.reshape(-1)])
    assert _gradcheck_module(m, [q, k, v], call)


def test_scaled_dot_product_attention_gradcheck_with_a_fully_masked_query():
    rng = np.random.default_rng(6)
    mask = rng.random((3, 4)) > 0.3
    mask[1] = False                    # query 1 sees nothing: zeros, zero gradients
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    q, k, v = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 4, 5)), \
        rng.standard_normal((2, 4, 2))
    assert zeroin.gradcheck(f, [zeroin.tensor(a, requires_grad=True) for a in (q, k, v)])
    qt = zeroin.tensor(q, requires_grad=True)
    out = f(qt, k, v)
    out.sum().backward()
    assert not out.data[:, 1].any() and not qt.grad.data[:, 1].any()
    assert np.isfinite(qt.grad.data).all()


@pytest.mark.parametrize("make", [
    lambda T: T.nn.MultiheadAttention(embed_dim=6, num_heads=4, batch_first=True),
    lambda T: T.nn.TransformerEncoderLayer(d_model=8, nhead=3, batch_first=True),
    lambda T: T.nn.MultiheadAttention(8, 2, batch_first=True)(*[T.ones(1, 3, 4)] * 3),
    lambda T: T.nn.MultiheadAttention(8, 2, batch_first=True, kdim=5)(
        T.ones(1, 3, 8), T.ones(1, 3, 4), T.ones(1, 3, 8))])
def test_attention_sizes_pytorch_asserts_raise_an_assertion_error_too(make):
    # ZTM's ViT: heads that do not divide embed_dim, patches of the wrong embedding size;
    # PyTorch raises AssertionError, zeroin a ValueError (ShapeError) that is one as well
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError):
        make(torch)
    with pytest.raises(AssertionError) as e:
        make(zeroin)
    assert isinstance(e.value, ValueError) and str(e.value).startswith("MultiheadAttention: ")


def test_attention_errors_name_the_layer_shapes_and_fix():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads "
                                         r"\(3\).*\[1, 2, 5, 10\]"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(4, 2)
    x = np.zeros((3, 2, 4))
    with pytest.raises(zeroin.ShapeError, match=r"attn_mask of shape \(3, 4\) should have "
                                                r"shape \(3, 3\) or \(4, 3, 3\)"):
        m(x, x, x, attn_mask=np.zeros((3, 4), dtype=bool))
    with pytest.raises(zeroin.ShapeError, match=r"key_padding_mask of shape \(3, 2\) should "
                                                r"have shape \(2, 3\)"):
        m(x, x, x, key_padding_mask=np.zeros((3, 2), dtype=bool))
    with pytest.raises(zeroin.ShapeError, match=r"query of shape \(3, 2, 5\) has 5 features"):
        m(np.zeros((3, 2, 5)), x, x)
    with pytest.raises(zeroin.ShapeError, match="different batch sizes.*batch_first=False"):
        m(x, np.zeros((3, 5, 4)), np.zeros((3, 5, 4)))
    with pytest.raises(RuntimeError, match="generate_square_subsequent_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(TypeError, match="key_padding_mask must be boolean"):
        m(x, x, x, key_padding_mask=np.zeros((2, 3), dtype=np.int64))
    q = np.zeros((2, 4, 3, 5))
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match="not both.*tril"):
        sdpa(q, q, q, attn_mask=np.ones((3, 3), dtype=bool), is_causal=True)
    with pytest.raises(zeroin.ShapeError, match=r"attn_mask of shape \(3, 4\) does not "
                                                r"broadcast.*\(2, 4, 3, 3\)"):
        sdpa(q, q, q, attn_mask=np.ones((3, 4), dtype=bool))
    with pytest.raises(zeroin.ShapeError, match="enable_gqa=True"):
        sdpa(q, q[:, :2], q[:, :2])
    with pytest.raises(TypeError, match="key has dtype float32 but query has float64"):
        sdpa(q, q.astype(np.float32), q)


def test_transformer_errors_name_the_layer_and_fix():
    with pytest.raises(RuntimeError, match="TransformerEncoderLayer: activation should be "
                                           "'relu' or 'gelu'.*'tanh'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
    with pytest.raises(TypeError, match=r"TransformerEncoder: the first argument must be a "
                                        r"layer instance.*TransformerEncoderLayer"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer, 2)
    with pytest.raises(ValueError, match=r"embed_dim \(6\) must be divisible by num_heads"):
        nn.TransformerEncoderLayer(6, 4)
    t = nn.Transformer(4, 2, 1, 1, 8)
    with pytest.raises(RuntimeError, match="same batch size"):
        t(np.zeros((5, 2, 4)), np.zeros((3, 3, 4)))
    layer = nn.TransformerEncoderLayer(4, 2, 8, batch_first=True)
    with pytest.raises(zeroin.ShapeError, match=r"key_padding_mask of shape \(5, 2\) should "
                                                r"have shape \(2, 5\).*batch_first=True"):
        layer(np.zeros((2, 5, 4)), src_key_padding_mask=np.zeros((5, 2), dtype=bool))


def test_transformer_encoder_learns_to_reverse_a_sequence():
    """One attention layer with learned positions learns to output its input reversed:
    each position must attend to its mirror position."""
    zeroin.manual_seed(0)
    rng = np.random.default_rng(0)
    vocab, length, d = 6, 5, 16
    embed, head = nn.Embedding(vocab, d), nn.Linear(d, vocab)
    pos = nn.Parameter(rng.standard_normal((length, 1, d)) * 0.5)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, 32, dropout=0.0), 1)
    params = list(embed.parameters()) + [pos] + list(enc.parameters()) + list(head.parameters())
    opt = zeroin.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(120):
        x = rng.integers(0, vocab, (length, 16))            # (seq, batch): batch_first=False
        logits = head(enc(embed(x) + pos))
        loss = F.cross_entropy(logits.reshape(-1, vocab), x[::-1].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    start, end = np.mean(losses[:5]), np.mean(losses[-5:])
    assert end < 0.25 * start, (start, end)


def test_docs_training_transformer_example_runs_as_written(capsys):
    scope = _run_training_md_example("TransformerEncoderLayer(")
    out = capsys.readouterr().out
    first, last = map(float, re.findall(r"loss (\d+\.\d+)", out))
    assert first > 1.0 and last < 0.05, (first, last)
    x, logits = scope["x"], scope["logits"]
    assert (logits.data.argmax(-1) == np.sort(x, axis=1)).mean() > 0.95
    assert isinstance(scope["model"].encoder.layers[0], nn.TransformerEncoderLayer)


def test_multihead_attention_dropout_only_in_training_and_float32_stays_float32():
    zeroin.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dropout=0.5).float()
    x = np.random.default_rng(0).standard_normal((6, 3, 4)).astype(np.float32)
    out, w = m(x, x, x, average_attn_weights=False)
    assert out.dtype == w.dtype == np.float32
    assert (w.data == 0).mean() > 0.3                       # dropped, the rest scaled by 2
    m.eval()
    out, w = m(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(w.data.sum(-1), 1, rtol=1e-5)


def test_recurrent_backward_scatters_each_step_into_a_block_not_the_whole_input(monkeypatch):
    # x[t] for every t would scatter T input-sized gradients (T * T work: 4.6 s for T = 2000
    # before); halving the time axis first scatters about log2(T) input-sized ones
    from zeroin.function import NP, scatter_array
    sizes = []

    def counting(g, index, shape):
        if shape[-1] == 3:              # the input's slices (hidden 2, gates 8)
            sizes.append(int(np.prod(shape)))
        return scatter_array(g, index, shape)
    monkeypatch.setattr(NP, "scatter", staticmethod(counting))
    x = zeroin.tensor(np.random.default_rng(0).standard_normal((64, 2, 3)), requires_grad=True)
    nn.LSTM(3, 2)(x)[0].sum().backward()
    assert x.grad is not None and sum(sizes) <= 16 * x.data.size, (sum(sizes), x.data.size)


@pytest.mark.parametrize("call, expected", [
    (lambda x: F.relu(x, inplace=True), lambda a: np.maximum(a, 0)),
    (lambda x: F.relu(x, True), lambda a: np.maximum(a, 0)),
    (lambda x: F.leaky_relu(x, 0.2, True), lambda a: np.where(a > 0, a, 0.2 * a)),
    (lambda x: F.hardswish(x, inplace=True), lambda a: a * np.clip(a + 3, 0, 6) / 6),
    (lambda x: F.hardsigmoid(x, True), lambda a: np.clip(a + 3, 0, 6) / 6),
    (lambda x: F.dropout(x, 0.5, False, True), lambda a: a),
])
def test_functional_activations_take_pytorchs_inplace_flag(call, expected):
    # PyTorch code passes inplace=True (keyword or positional); zeroin accepts it and
    # returns a new tensor with the same values, its gradient intact (README: differences)
    a = np.array([[-2.0, -0.5, 0.0], [0.5, 2.0, 4.0]])
    x = zeroin.tensor(a, requires_grad=True)
    y = call(x)
    assert np.allclose(y.numpy(), expected(a)) and np.array_equal(x.numpy(), a)
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_dropout_takes_inplace_fourth_and_rng_as_before():
    x = zeroin.ones(1000)
    a = F.dropout(x, 0.5, True, False, rng=np.random.default_rng(7))
    b = F.dropout(x, 0.5, True, np.random.default_rng(7))    # rng in the old 4th place
    c = F.dropout(x, 0.5, True, inplace=True, rng=np.random.default_rng(7))
    assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(a.numpy(), c.numpy())
    assert 300 < int((a.numpy() == 0).sum()) < 700 and set(np.unique(a.numpy())) == {0.0, 2.0}


@pytest.mark.parametrize("feature", [False, True])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.7])
def test_alpha_dropout_keeps_selu_statistics(feature, p):
    """SELU-normalised input (mean 0, variance 1) keeps both in training."""
    zeroin.manual_seed(3)
    x = F.selu(zeroin.tensor(np.random.default_rng(1).standard_normal((400, 250, 8))))
    x = (x - x.mean()) / x.std()                     # exactly 0 / 1 on this sample
    f = F.feature_alpha_dropout if feature else F.alpha_dropout
    y = f(x, p, True).numpy()
    tol = 0.02 if feature else 0.006                 # 1e5 channels vs 8e5 elements drawn
    assert abs(y.mean()) < tol and abs(y.var() - 1) < 2 * tol
    dropped = np.isclose(y, y.min())                 # the dropped value is shared
    assert abs(dropped.mean() - p) < 0.01
    if feature:                                      # one draw per (sample, channel)
        assert (dropped.all(axis=2) | ~dropped.any(axis=2)).all()


def test_alpha_dropout_gradient_eval_and_edges():
    zeroin.manual_seed(0)
    x = zeroin.tensor(np.random.default_rng(0).standard_normal((50, 40)), requires_grad=True)
    y = F.alpha_dropout(x, 0.3, True)
    y.sum().backward()
    a = (0.7 + 1.7580993408473766 ** 2 * 0.7 * 0.3) ** -0.5
    kept = x.grad.numpy() != 0
    np.testing.assert_allclose(x.grad.numpy()[kept], a, rtol=1e-14)
    np.testing.assert_allclose(y.detach().numpy()[kept], a * x.detach().numpy()[kept]
                               - a * 0.3 * -1.7580993408473766, rtol=1e-12)
    for m in (nn.AlphaDropout(0.4), nn.FeatureAlphaDropout(0.4)):
        m.eval()
        assert m(x) is x
    assert F.alpha_dropout(x, 0.5) is x                  # PyTorch's default: training=False
    assert F.alpha_dropout(x, 0.0, True) is x
    assert not F.alpha_dropout(x, 1.0, True).detach().numpy().any()
    with pytest.raises(ValueError, match="alpha_dropout: dropout probability has to be "
                                         "between 0 and 1, but got 1.5"):
        F.alpha_dropout(x, 1.5, True)
    with pytest.raises(ValueError, match="AlphaDropout: dropout probability"):
        nn.AlphaDropout(-0.1)
    with pytest.raises(RuntimeError, match="feature_alpha_dropout: feature dropout requires "
                                           "at least 2 dimensions"):
        F.feature_alpha_dropout(zeroin.ones(5), 0.5, True)
    assert repr(nn.FeatureAlphaDropout()) == "FeatureAlphaDropout(p=0.5, inplace=False)"
    g = zeroin.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    zeroin.manual_seed(5)
    assert zeroin.gradcheck(lambda v: (zeroin.manual_seed(5), F.alpha_dropout(v, 0.4, True))[1],
                            [g])


def test_softplus_with_beta_0_has_torchs_value_and_gradient():
    # log(1 + e^(0 x)) / 0 = inf, and PyTorch's rule gives the gradient sigmoid(beta x) =
    # 1/2 (zeroin's chain rule through / beta gave NaN); NaN where x is not finite
    torch = pytest.importorskip("torch")
    a = np.array([-1.0, 0.0, 2.0, 30.0, np.inf, -np.inf, np.nan])
    got = []
    for T in (torch, zeroin):
        x = T.tensor(a, requires_grad=True)
        with np.errstate(all="ignore"):
            y = T.nn.functional.softplus(x, beta=0)
            (y * T.tensor(np.arange(1.0, 8.0))).sum().backward()
        got.append((y.detach().numpy(), x.grad.numpy()[:4]))
    np.testing.assert_array_equal(got[0][0], got[1][0])
    np.testing.assert_array_equal(got[0][1], got[1][1])
    for beta in (-1.0, 0.5, 2.0):    # other betas: unchanged, as PyTorch's
        zx, tx = zeroin.tensor(a[:4], requires_grad=True), torch.tensor(a[:4], requires_grad=True)
        F.softplus(zx, beta).sum().backward()
        torch.nn.functional.softplus(tx, beta).sum().backward()
        np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.2, "ignore_index": 1},
                                {"reduction": "none"}, {"reduction": "sum", "weight": True}])
def test_cross_entropy_over_spatial_dims_against_torch(kw):
    # log_softmax over the class dimension in place, before the rows are made
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 5, 3, 4))
    y = rng.integers(0, 5, (2, 3, 4))
    w = rng.random(5) + 0.5
    c = rng.standard_normal((2, 3, 4))       # for 'none': a gradient other than ones
    res = []
    for T in (zeroin, torch):
        args = dict(kw, weight=T.tensor(w)) if kw.get("weight") else kw
        xt = T.tensor(x, requires_grad=True)
        out = T.nn.functional.cross_entropy(xt, T.tensor(y), **args)
        (out * T.tensor(c) if out.ndim else out).sum().backward()
        res.append((out.detach().numpy(), xt.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10, atol=1e-12)
    args = dict(kw, weight=zeroin.tensor(w)) if kw.get("weight") else kw
    assert zeroin.gradcheck(lambda t: F.cross_entropy(t, zeroin.tensor(y), **args), [leaf(x)])


_AFFINE_SHAPES = [  # CS231n keeps gamma as (1, C, 1, 1) / (1, D): PyTorch refuses both
    ("group_norm", lambda T, w, b: T.nn.functional.group_norm(
        T.arange(108.).reshape(2, 6, 3, 3) % 7, 3, w, b), (1, 6, 1, 1), (6,),
     r"weight must have shape \(6,\) \(one value per channel\), got \(1, 6, 1, 1\); "
     r"pass weight\.reshape\(6\)"),
    ("group_norm", lambda T, w, b: T.nn.functional.group_norm(T.ones(2, 6, 3), 3, w, b),
     (2, 3), (6,), r"weight must have shape \(6,\) .*got \(2, 3\)"),
    ("group_norm", lambda T, w, b: T.nn.functional.group_norm(T.ones(2, 6, 3), 3, w, b),
     (3,), (6,), r"weight must have shape \(6,\) .*got \(3,\)$"),
    ("layer_norm", lambda T, w, b: T.nn.functional.layer_norm(T.arange(10.).reshape(2, 5),
                                                             (5,), w, b),
     (1, 5), (5,), r"weight must have shape \(5,\) \(normalized_shape\), got \(1, 5\)"),
    ("layer_norm", lambda T, w, b: T.nn.functional.layer_norm(T.arange(5.), (5,), w, b),
     (), (5,), r"weight must have shape \(5,\) .*got \(\)"),
    ("rms_norm", lambda T, w, b: T.nn.functional.rms_norm(T.arange(10.).reshape(2, 5), (5,),
                                                         w),
     (1, 5), (5,), r"weight must have shape \(5,\) .*got \(1, 5\)"),
]


@pytest.mark.parametrize("role, op, call, bad, good, match", [
    (role,) + case for role in ("weight", "bias") for case in _AFFINE_SHAPES
    if role == "weight" or case[0] != "rms_norm"])          # rms_norm has no bias
def test_norm_weight_and_bias_of_another_shape_are_refused_as_torch(role, op, call, bad, good,
                                                                    match):
    torch = pytest.importorskip("torch")

    def run(T, shape):
        w = T.linspace(0.5, 2.0, math.prod(shape)).reshape(shape)
        return call(T, w, None) if role == "weight" else call(T, None, w)
    with pytest.raises(zeroin.ShapeError, match=f"^{op}: " + match.replace("weight", role)):
        run(zeroin, bad)
    with pytest.raises(RuntimeError):
        run(torch, bad)
    assert np.allclose(run(zeroin, good).numpy(), run(torch, good).numpy(), atol=1e-5)


def test_cs231n_float32_input_to_a_default_dtype_model_says_why_as_a_runtime_error():
    # CS231n's test_TwoLayerFC: x = zeros((64, 50), dtype=torch.float32) into a model made
    # without dtype: float32 in PyTorch, float64 (the default) in zeroin
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):           # PyTorch's type, for a model of float64
        torch.nn.Linear(50, 42).double()(torch.zeros(64, 50))
    with pytest.raises(RuntimeError, match=r"^Linear: input has dtype float32 but the layer's "
                       r"parameters are float64; .*; zeroin's default dtype is float64 "
                       r"\(PyTorch's is float32\).*set_default_dtype"):
        nn.Linear(50, 42)(zeroin.zeros((64, 50), dtype=zeroin.float32))
    with pytest.raises(TypeError) as e:         # still a TypeError; other pairs: no note
        nn.Linear(50, 42)(zeroin.zeros((64, 50), dtype=zeroin.float16))
    assert "default dtype" not in str(e.value)
    assert nn.Linear(50, 42).float()(zeroin.zeros((64, 50), dtype=zeroin.float32)).shape == \
        (64, 42)


def test_linear_checks_its_input_dtype_only_on_a_mismatch():
    # Linear.forward leaves the dtype check to F.linear; the layer's conversion (integer
    # input) and message (another float dtype) run only when F.linear refuses
    lin = nn.Linear(2, 3)
    ints = zeroin.tensor([[1, 2], [3, 4]])
    np.testing.assert_array_equal(lin(ints).numpy(), lin(ints.double()).numpy())
    with pytest.raises(TypeError, match="Linear: input has dtype float32") as e:
        lin(zeroin.tensor(np.zeros((1, 2), np.float32)))
    assert e.value.__context__ is None      # not raised while handling F.linear's error
    lin.bias = nn.Parameter(zeroin.zeros(3, dtype=zeroin.float32))
    with pytest.raises(zeroin.DtypeError, match="linear: expected all operands to have the "
                                                "same dtype, got float64 and float32"):
        lin(zeroin.ones(1, 2))


def test_regression_losses_of_integer_input_promote_to_the_float_targets_dtype():
    x = zeroin.tensor([1, -2, 0, 3])
    target = zeroin.tensor([0.5, -1.0, 0.25, 3.5], requires_grad=True)
    for f in (F.l1_loss, F.mse_loss, F.smooth_l1_loss):
        y = f(x, target, reduction="none")
        assert y.dtype == zeroin.float64
        np.testing.assert_allclose(y.detach().numpy(), f(x.double(), target.detach(),
                                                         reduction="none").numpy())
        assert zeroin.gradcheck(lambda tg, f=f: f(x, tg), (target,))
    assert F.mse_loss(x.int(), target.detach().float()).dtype == zeroin.float32
    with pytest.raises(NotImplementedError, match=r"huber_loss: not implemented for input of "
                       r"dtype int64 with a target of dtype float64.*input\.float\(\)"):
        F.huber_loss(x, target)


# --- a loss fed the output of the squashing it applies itself --------------------------------

def test_losses_warn_when_the_input_was_already_squashed():
    # the NNFS book's model ends in softmax (or sigmoid); CrossEntropyLoss (BCEWithLogitsLoss)
    # applies it again, and nll_loss of probabilities misses the log
    import warnings
    x = zeroin.randn(4, 3, requires_grad=True)
    y = zeroin.tensor([0, 1, 2, 0])
    one = zeroin.ones(4, 1)
    cases = [(lambda: nn.CrossEntropyLoss()(nn.Softmax(dim=1)(x), y), "cross_entropy"),
             (lambda: F.cross_entropy(x.softmax(1), y.numpy()), "cross_entropy"),
             (lambda: F.nll_loss(F.softmax(x, dim=1), y), "nll_loss"),
             (lambda: nn.BCEWithLogitsLoss()(nn.Sigmoid()(x[:, :1]), one),
              "binary_cross_entropy_with_logits")]
    for call, op in cases:
        with pytest.warns(UserWarning, match=f"^{op}: the input comes straight from"):
            loss = call()
        assert np.isfinite(loss.item())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.CrossEntropyLoss()(x, y)
        F.nll_loss(F.log_softmax(x, dim=1), y)
        F.nll_loss(F.softmax(x, dim=1).log(), y)
        nn.BCELoss()(zeroin.sigmoid(x[:, :1]), one)
        nn.BCEWithLogitsLoss()(x[:, :1], one)
        with zeroin.no_grad():                   # nothing recorded: nothing to go on
            nn.CrossEntropyLoss()(nn.Softmax(dim=1)(x), y)
