"""Every op: gradient against finite differences (float64, random shapes with broadcasting),
second order through create_graph, and the op-specific behaviour and error messages."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from conftest import (broadcast_pairs, broadcast_triples, check_both, check_first,
                      check_second, leaf,
                      nonscalar_shapes, seeds, shapes, values)

FEW = settings(max_examples=12, deadline=None)

# --- elementwise, one input -------------------------------------------------------------

UNARY = {
    "exp": (zeroin.exp, "any"),
    "log": (zeroin.log, "pos"),
    "sqrt": (zeroin.sqrt, "pos"),
    "abs": (zeroin.abs, "kink"),
    "sin": (zeroin.sin, "any"),
    "cos": (zeroin.cos, "any"),
    "tanh": (zeroin.tanh, "any"),
    "sigmoid": (zeroin.sigmoid, "any"),
    "relu": (zeroin.relu, "kink"),
    "leaky_relu": (lambda x: zeroin.leaky_relu(x, 0.1), "kink"),
    "softplus": (zeroin.softplus, "any"),
    "clip": (lambda x: zeroin.clip(x, -1.0, 1.0), "clip"),
    "clip_min_only": (lambda x: zeroin.clip(x, min=0.0), "kink"),
    "neg": (lambda x: -x, "any"),
    "pow_const_2": (lambda x: x ** 2, "any"),
    "pow_const_3": (lambda x: x ** 3, "any"),
    "pow_const_frac": (lambda x: x ** 1.5, "pos"),
    "pow_const_neg": (lambda x: x ** -2, "pos"),
    "rpow": (lambda x: 2.0 ** x, "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@FEW
@given(shape=shapes, seed=seeds)
def test_unary_gradients(name, shape, seed):
    fn, kind = UNARY[name]
    x = values(np.random.default_rng(seed), shape, kind)
    check_both(fn, x)


def test_astype_is_differentiable_between_float_dtypes():
    x = zeroin.tensor(np.array([1.5, -2.0], dtype=np.float32), requires_grad=True)
    y = x.astype(np.float64)
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [3.0, -4.0])
    check_both(lambda t: t.astype(np.float64) * 2.0, np.array([0.5, 1.0]))
    i = x.astype(np.int64)      # an integer result carries no gradient
    assert i.dtype == np.int64 and not i.requires_grad


def test_unary_values_match_numpy():
    x = np.linspace(-3, 3, 13)
    t = zeroin.tensor(x)
    np.testing.assert_allclose(zeroin.sigmoid(t).data, 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(zeroin.softplus(t).data, np.log1p(np.exp(x)))
    np.testing.assert_allclose(zeroin.relu(t).data, np.maximum(x, 0))
    np.testing.assert_allclose(zeroin.leaky_relu(t).data, np.where(x > 0, x, 0.01 * x))
    np.testing.assert_allclose(zeroin.clip(t, -1, 2).data, np.clip(x, -1, 2))


def test_floating_point_warnings_are_numpys_and_errstate_silences_them():
    # the README's list of differences: PyTorch's values, NumPy's RuntimeWarning on top
    x, s = zeroin.tensor([0.0, 1.0], requires_grad=True), zeroin.tensor(0.0, requires_grad=True)
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        y = zeroin.log(x).sum()
    with pytest.warns(RuntimeWarning, match="divide by zero"):
        y.backward()
    assert y.item() == -np.inf and x.grad.numpy().tolist() == [np.inf, 1.0]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        z = 1.0 / s + (s / s)
        z.backward()
    assert np.isnan(z.item()) and np.isnan(s.grad.item())


def test_sigmoid_and_softplus_are_stable_at_extremes():
    x = zeroin.tensor([-1000.0, 1000.0], requires_grad=True)
    s = zeroin.sigmoid(x)
    np.testing.assert_array_equal(s.data, [0.0, 1.0])
    sp = zeroin.softplus(x)
    np.testing.assert_allclose(sp.data, [0.0, 1000.0])
    (s.sum() + sp.sum()).backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data, [0.0, 1.0])


def test_kink_gradients_follow_pytorch_conventions():
    x = zeroin.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (zeroin.relu(x).sum() + zeroin.abs(x).sum()).backward()
    # relu'(0) = 0 and abs'(0) = 0, as in PyTorch
    np.testing.assert_array_equal(x.grad.data, [0 + -1, 0 + 0, 1 + 1])
    x.grad = None
    zeroin.clip(x, -1.0, 0.0).sum().backward()
    # the limits themselves pass the gradient
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0])


# --- elementwise, two inputs with broadcasting ------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, "any", "any"),
    "sub": (lambda a, b: a - b, "any", "any"),
    "mul": (lambda a, b: a * b, "any", "any"),
    "div": (lambda a, b: a / b, "any", "pos"),
    "pow": (lambda a, b: a ** b, "pos", "any"),
    "maximum": (zeroin.maximum, "any", "any"),
    "minimum": (zeroin.minimum, "any", "any"),
    "add_fn": (zeroin.add, "any", "any"),
    "sub_fn": (zeroin.sub, "any", "any"),
    "mul_fn": (zeroin.mul, "any", "any"),
    "div_fn": (zeroin.div, "any", "pos"),
    "pow_fn": (zeroin.pow, "pos", "any"),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@FEW
@given(shapes=broadcast_pairs, seed=seeds)
def test_binary_gradients_with_broadcasting(name, shapes, seed):
    fn, ka, kb = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes.input_shapes
    a, b = values(rng, sa, ka), values(rng, sb, kb)
    out = fn(leaf(a), leaf(b))
    assert out.shape == shapes.result_shape
    check_both(fn, a, b)


@FEW
@given(shapes=broadcast_triples, seed=seeds)
def test_where_gradients_with_broadcasting(shapes, seed):
    rng = np.random.default_rng(seed)
    sc, sa, sb = shapes.input_shapes
    cond = rng.random(sc) < 0.5
    a, b = values(rng, sa), values(rng, sb)
    check_both(lambda a, b: zeroin.where(cond, a, b), a, b)
    out = zeroin.where(zeroin.tensor(cond), leaf(a), leaf(b))
    np.testing.assert_array_equal(out.data, np.where(cond, a, b))


def test_where_takes_pytorchs_keyword_names():
    # the LLMs-from-scratch book's top-k filter: where(condition=, input=, other=)
    torch = pytest.importorskip("torch")
    logits = np.array([4.51, 0.89, -1.90, 6.75, 1.63, -1.62, -1.89, 6.28, 1.79])
    results = []
    for L in (zeroin, torch):
        x = L.tensor(logits, requires_grad=True)
        out = L.where(condition=x < 4.0, input=L.tensor(float("-inf")), other=x)
        out.exp().sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(),
                        L.where(condition=x < 0)[0].numpy()))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want)
    x = leaf(logits)
    check_both(lambda x: zeroin.where(condition=x.detach() > 1, input=x, other=x * x), logits)
    assert zeroin.gradcheck(lambda x: zeroin.where(condition=x.detach() > 1, input=x,
                                                   other=x * x), (x,))
    for L in (zeroin, torch):                       # one of the two values missing
        with pytest.raises(TypeError):
            L.where(L.tensor([True, False]), L.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match=r"where: give both input and other"):
        zeroin.where(condition=zeroin.tensor([True]), other=zeroin.tensor([1.0]))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_where_selects_the_gradient_on_large_arrays_and_broadcast_conditions(dtype):
    """Above 1024 elements the rule selects with a bitwise AND: an inf or NaN gradient at an
    element not taken gives exactly 0 there (PyTorch's select), the others pass unchanged."""
    rng = np.random.default_rng(0)
    cond = rng.random(64) < 0.5                         # broadcast over the 40 rows
    w = rng.standard_normal((40, 64)).astype(dtype)
    w[::3, ::5], w[1::4, ::7], w[2, :] = np.inf, np.nan, -0.0
    a = zeroin.tensor(rng.standard_normal((40, 64)).astype(dtype), requires_grad=True)
    b = zeroin.tensor(rng.standard_normal((40, 1)).astype(dtype), requires_grad=True)
    with np.errstate(invalid="ignore"):
        (zeroin.where(zeroin.tensor(cond), a, b) * zeroin.tensor(w)).sum().backward()
    want_a = np.where(cond, w, dtype(0))
    np.testing.assert_array_equal(a.grad.data, want_a)
    assert a.grad.dtype == dtype and not np.signbit(a.grad.data[:, ~cond]).any()
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(b.grad.data,
                                      np.where(~cond, w, dtype(0)).sum(1, keepdims=True))


def test_masked_scatter_gradients_match_finite_differences():
    m = zeroin.tensor(np.array([[True, False, True], [False, True, True]]))
    assert zeroin.gradcheck(lambda x, s: x.masked_scatter(m, s),
                            [leaf(_r(2, 3)), leaf(_r(5))])
    assert zeroin.gradcheck(lambda x, s: zeroin.masked_scatter(x, m, s),    # x broadcast
                            [leaf(_r(3)), leaf(_r(2, 3))])


def test_maximum_minimum_ties_share_the_gradient():
    a = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = zeroin.tensor([2.0, 2.0, 1.0], requires_grad=True)
    zeroin.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 0.5, 0.0])
    a.grad = b.grad = None
    zeroin.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.5, 0.0])


def test_pow_zero_and_one_exponents_at_zero():
    x = zeroin.tensor([0.0, 2.0], requires_grad=True)
    ((x ** 0).sum() + (x ** 1).sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])     # d(x^0)/dx = 0, not NaN


def test_gradients_at_points_without_a_derivative_are_pytorchs_finite_ones():
    # torch 2.13 gives these numbers (tests/test_pytorch_parity.py compares more cases)
    x = zeroin.tensor([[0.0, 0.0], [3.0, -4.0]], requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.0], [0.6, -0.8]])
    x.grad = None
    zeroin.nn.functional.normalize(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.data[0], [1e12, 1e12])     # 1 / eps, as torch
    c = zeroin.tensor([2.0, 2.0, 2.0], requires_grad=True)
    c.std().backward()
    np.testing.assert_array_equal(c.grad.data, [0.0, 0.0, 0.0])
    b, e = zeroin.tensor([0.0, 0.0], requires_grad=True), zeroin.tensor([0.0, 2.0], requires_grad=True)
    (b ** e).sum().backward()
    np.testing.assert_array_equal(b.grad.data, [0.0, 0.0])
    y, z = zeroin.tensor([0.0], requires_grad=True), zeroin.tensor([0.0], requires_grad=True)
    zeroin.atan2(y, z).sum().backward()
    assert y.grad.item() == 0.0 and z.grad.item() == 0.0


def test_norm_p0_counts_the_non_zeros_and_has_no_gradient():
    x = zeroin.tensor([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0]], requires_grad=True)
    n = x.norm(p=0, dim=1)
    np.testing.assert_array_equal(n.data, [2.0, 0.0])
    assert n.requires_grad
    n.sum().backward()
    assert x.grad is None                                       # as torch: no gradient
    assert zeroin.linalg.vector_norm(x, ord=0).item() == 2.0


@pytest.mark.parametrize("p", [-1, -2, -0.5])
def test_negative_order_norm_of_a_zero_is_zero_without_numpy_warnings(p):
    # linalg.norm(t, ord=-1, dim=1) with a zero in a row: 0 ** p is inf inside, the norm 0,
    # as torch's, which warns nothing; zeroin's NumPy warned "divide by zero"
    torch = pytest.importorskip("torch")
    data = [[0.0, 2.0], [1.0, -2.0], [0.0, 0.0]]
    x = zeroin.tensor(data, requires_grad=True)
    tx = torch.tensor(data, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        n = zeroin.linalg.norm(x, ord=p, dim=1)
        n.sum().backward()
    tn = torch.linalg.norm(tx, ord=p, dim=1)
    tn.sum().backward()
    np.testing.assert_allclose(n.data, tn.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)
    assert zeroin.gradcheck(lambda v: zeroin.linalg.norm(v, ord=p, dim=1),
                            [zeroin.tensor([[0.5, 2.0], [1.0, -2.0]], requires_grad=True)])


def test_pow_exponent_gradient_is_defined_for_nonpositive_base():
    # d(x**p)/dp = x**p log x; at x = 0 (p > 0) it is 0, not NaN
    x = zeroin.tensor([0.0, 2.0])
    p = zeroin.tensor([2.0, 3.0], requires_grad=True)
    (x ** p).sum().backward()
    np.testing.assert_allclose(p.grad.data, [0.0, 8 * np.log(2)])


def test_broadcast_gradient_is_reduced_to_each_input_shape():
    a = zeroin.tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = zeroin.tensor(np.ones((4, 1)), requires_grad=True)
    c = zeroin.tensor(2.0, requires_grad=True)
    ((a + b) * c).sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1) and c.grad.shape == ()
    np.testing.assert_array_equal(a.grad.data, np.full((2, 1, 3), 4 * 2.0))
    np.testing.assert_array_equal(b.grad.data, np.full((4, 1), 6 * 2.0))
    assert c.grad.item() == 2 * 4 * 3 * 2


# --- matmul -------------------------------------------------------------------------------

matmul_cases = st.sampled_from(["1d@1d", "2d@1d", "1d@2d", "2d@2d", "batched", "1d@batched",
                                "batched@1d"])


@FEW
@given(case=matmul_cases, dims=st.tuples(*[st.integers(1, 3)] * 3),
       batch=broadcast_pairs.filter(lambda s: len(s.result_shape) <= 2), seed=seeds)
def test_matmul_gradients(case, dims, batch, seed):
    n, k, m = dims
    ba, bb = batch.input_shapes
    shapes_ = {"1d@1d": ((k,), (k,)), "2d@1d": ((n, k), (k,)), "1d@2d": ((k,), (k, m)),
               "2d@2d": ((n, k), (k, m)), "batched": (ba + (n, k), bb + (k, m)),
               "1d@batched": ((k,), bb + (k, m)), "batched@1d": (ba + (n, k), (k,))}[case]
    rng = np.random.default_rng(seed)
    a, b = values(rng, shapes_[0]), values(rng, shapes_[1])
    out = zeroin.matmul(leaf(a), leaf(b))
    np.testing.assert_allclose(out.data, a @ b)
    check_both(lambda a, b: a @ b, a, b)


def test_matmul_batched_against_numpy_gradients():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((5, 4, 2))
    ta, tb = leaf(a), leaf(b)
    (ta @ tb).sum().backward()
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(ta.grad.data, (g @ np.swapaxes(b, -1, -2)).sum(1, keepdims=True))
    np.testing.assert_allclose(tb.grad.data, (np.swapaxes(a, -1, -2) @ g).sum(0))


def test_matmul_errors_name_the_shapes():
    a = zeroin.tensor(np.ones((2, 3)))
    with pytest.raises(zeroin.ShapeError) as e:
        a @ a
    assert str(e.value) == ("matmul: shapes (2, 3) and (2, 3): inner dimensions 3 and 2 differ; "
                            "the second operand transposed fits (a @ b.T)")
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4,\): inner "
                                         r"dimensions 3 and 4 differ; the first operand's last "
                                         r"dimension must equal the second's first"):
        zeroin.tensor(np.ones(3)) @ np.ones(4)
    with pytest.raises(zeroin.ShapeError, match=r"the first operand transposed fits \(a.T @ b\)"):
        zeroin.tensor(np.ones((3, 2))) @ zeroin.tensor(np.ones((3, 4)))
    with pytest.raises(zeroin.ShapeError, match=r"transposed fits \(a @ b.mT\)"):
        zeroin.tensor(np.ones((5, 2, 3))) @ zeroin.tensor(np.ones((5, 2, 3)))
    with pytest.raises(zeroin.ShapeError, match=r"matmul: shapes \(\) and \(3,\): both "
                                                r"operands need at least 1 dimension; use \*"):
        zeroin.tensor(2.0) @ zeroin.tensor(np.ones(3))
    with pytest.raises(zeroin.ShapeError, match=r"matmul: shapes \(2, 3, 4\) and \(5, 4, 2\)"):
        zeroin.tensor(np.ones((2, 3, 4))) @ zeroin.tensor(np.ones((5, 4, 2)))


# --- reductions ---------------------------------------------------------------------------

REDUCTIONS = {
    "sum": zeroin.sum, "mean": zeroin.mean, "max": zeroin.amax, "min": zeroin.amin,
    "logsumexp": zeroin.logsumexp,
}


@st.composite
def shape_and_axis(draw, allow_none=True):
    shape = draw(nonscalar_shapes)
    nd = len(shape)
    choices = [st.integers(-nd, nd - 1),
               st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True)
               .map(tuple)]
    if allow_none:
        choices.append(st.none())
    return shape, draw(st.one_of(*choices))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@FEW
@given(sa=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reduction_gradients(name, sa, keepdims, seed):
    shape, axis = sa
    fn = REDUCTIONS[name]
    x = values(np.random.default_rng(seed), shape)
    ref = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min,
           "logsumexp": lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis,
                                                                keepdims=keepdims))}[name]
    out = fn(leaf(x), axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out.data, ref(x, axis=axis, keepdims=keepdims))
    check_both(lambda t: fn(t, axis=axis, keepdims=keepdims), x)


def test_a_values_indices_pair_compared_with_labels_is_refused_with_the_fix():
    """out.max(1) == labels compared both halves of the pair with the labels: a (2, N) mask
    whose sum looked like an accuracy count (PyTorch gives False, and .sum() then fails)."""
    out, labels = zeroin.tensor([[1.0, 5.0, 2.0], [0.0, 1.0, 3.0]]), zeroin.tensor([1, 2])
    for compare in (lambda: out.max(1) == labels, lambda: labels == out.max(1),
                    lambda: out.max(1) != labels, lambda: out.sort(1) == labels,
                    lambda: out.topk(1, 1) > labels, lambda: zeroin.tensor(out.min(1))):
        with pytest.raises(TypeError, match=r"a \(values, indices\) pair from max/min\(dim\).*"
                           r"not a tensor.*predicted = out\.max\(1\)\.indices.*values, "
                           r"indices = out\.max\(1\)"):
            compare()
    assert (out.max(1).indices == labels).sum().item() == 2      # the suggested fix
    values, indices = out.max(1)                                  # unpacking, as before
    assert indices.tolist() == [1, 2] and hash(out.max(1)) is not None



@pytest.mark.parametrize("call", [
    lambda T, x: x.max(1), lambda T, x: T.min(x, 0), lambda T, x: x.sort(1),
    lambda T, x: T.topk(x, 2, 1), lambda T, x: x.kthvalue(2, 1), lambda T, x: x.median(1),
    lambda T, x: T.nanmedian(x, 0), lambda T, x: x.mode(1), lambda T, x: T.cummax(x, 1),
    lambda T, x: x.cummin(0), lambda T, x: T.max(T.tensor(3.0), 0)])
def test_values_indices_pairs_are_typed_and_printed_as_pytorchs_return_types(call):
    torch = pytest.importorskip("torch")
    x = [[1.0, 5.0, 2.0], [0.0, 3.0, 3.0]]
    got, want = call(zeroin, zeroin.tensor(x)), call(torch, torch.tensor(x))
    name = type(want).__name__
    assert type(got).__name__ == name and type(got) is getattr(zeroin.return_types, name)
    assert isinstance(got, zeroin.ops.ValuesIndices) and len(got) == len(want) == 2
    np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
    np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    # PyTorch's layout, line for line, with zeroin for torch
    assert repr(got).replace("zeroin", "torch").splitlines() == repr(want).splitlines()
    assert type(got._replace(values=got.values)) is type(got)

def test_reductions_as_methods_and_on_scalars():
    x = zeroin.tensor([[1.0, 5.0], [3.0, 2.0]], requires_grad=True)
    assert x.sum().item() == 11 and x.mean().item() == 2.75
    np.testing.assert_array_equal(x.amax(axis=0).data, [3.0, 5.0])
    np.testing.assert_array_equal(x.amin(axis=1, keepdims=True).data, [[1.0], [2.0]])
    v, i = x.max(dim=0)         # PyTorch's max(dim): (values, indices)
    np.testing.assert_array_equal(v.data, [3.0, 5.0])
    np.testing.assert_array_equal(i.data, [1, 0])
    assert x.min(1, keepdim=True).indices.shape == (2, 1)
    assert x.sum(axis=(0, 1)).shape == () and x.mean(axis=-1, keepdims=True).shape == (2, 1)
    s = zeroin.tensor(4.0, requires_grad=True)
    for f in (zeroin.sum, zeroin.mean, zeroin.max, zeroin.min, zeroin.logsumexp):
        s.grad = None
        f(s).backward()
        assert s.grad.item() == pytest.approx(1.0)


def test_max_ties_share_the_gradient():
    x = zeroin.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    x.amax(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0.5, 0.5], [1, 0, 0]])


def test_reduction_axis_errors():
    x = zeroin.tensor(np.ones((2, 3)))
    for name in ("sum", "mean", "max", "min", "amax", "amin", "logsumexp"):
        with pytest.raises(zeroin.ShapeError) as e:
            getattr(zeroin, name)(x, axis=2)
        assert isinstance(e.value, IndexError)      # as PyTorch's dimension errors
        assert str(e.value) == (f"{name}: dimension 2 is out of range for a tensor of shape "
                                f"(2, 3) (expected a dim in [-2, 1])")
    with pytest.raises(zeroin.ShapeError, match=r"softmax: dimension -3 is out of range"):
        zeroin.softmax(x, axis=-3)


# --- softmax family -----------------------------------------------------------------------

@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@FEW
@given(sa=shape_and_axis(allow_none=False), seed=seeds)
def test_softmax_gradients(name, sa, seed):
    shape, axis = sa
    if isinstance(axis, tuple):
        axis = axis[0]
    fn = getattr(zeroin, name)
    x = values(np.random.default_rng(seed), shape)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    ref = e / e.sum(axis=axis, keepdims=True)
    out = fn(leaf(x), axis=axis)
    np.testing.assert_allclose(out.data, ref if name == "softmax" else np.log(ref))
    check_both(lambda t: fn(t, axis=axis), x)


def test_softmax_family_is_stable_on_large_inputs():
    big = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1e5]])
    x = zeroin.tensor(big, requires_grad=True)
    sm = zeroin.softmax(x, axis=1)
    lsm = zeroin.log_softmax(x, axis=1)
    lse = zeroin.logsumexp(x, axis=1)
    ref = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(sm.data[0], ref)
    np.testing.assert_allclose(sm.data[1], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(lsm.data[0], np.log(ref))
    np.testing.assert_allclose(lsm.data[1, :2], [-np.log(2)] * 2)
    np.testing.assert_allclose(lse.data, [1002 + np.log(1 + np.exp(-1) + np.exp(-2)),
                                          -1000 + np.log(2)])
    (sm[:, 0].sum() + lsm.sum() + lse.sum()).backward()
    assert np.all(np.isfinite(x.grad.data))
    assert zeroin.gradcheck(lambda t: zeroin.log_softmax(t, axis=1), [leaf(big)])
    assert zeroin.gradcheck(lambda t: zeroin.logsumexp(t, axis=1), [leaf(big)])
    with np.errstate(divide="ignore"):
        assert zeroin.logsumexp(zeroin.tensor([-np.inf, -np.inf])).item() == -np.inf


# --- shape ops ----------------------------------------------------------------------------

def _reversed_by_T(t):
    with warnings.catch_warnings():     # PyTorch's UserWarning for .T of a tensor not 2-D
        warnings.simplefilter("ignore", UserWarning)
        return t.T


@FEW
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_reshape_transpose_permute_flatten(shape, seed, data):
    x = values(np.random.default_rng(seed), shape)
    nd = len(shape)
    perm = tuple(data.draw(st.permutations(range(nd))))
    start = data.draw(st.integers(0, nd - 1))
    end = data.draw(st.integers(start, nd - 1))
    new_shape = (-1,) + tuple(reversed(shape[1:]))
    fns = {
        "reshape": lambda t: t.reshape(new_shape),
        "reshape_fn": lambda t: zeroin.reshape(t, *new_shape),
        "T": _reversed_by_T,
        "transpose": lambda t: t.transpose(0, nd - 1),
        "permute": lambda t: t.permute(*perm),
        "permute_negative": lambda t: t.permute(*[a - nd for a in perm]),
        "permute_mixed": lambda t: zeroin.permute(t, *[a - nd * (a % 2) for a in perm]),
        "flatten": lambda t: t.flatten(start, end),
        "flatten_all": zeroin.flatten,
    }
    refs = {
        "reshape": x.reshape(new_shape), "reshape_fn": x.reshape(new_shape), "T": x.T,
        "transpose": np.swapaxes(x, 0, nd - 1), "permute": x.transpose(perm),
        "permute_negative": x.transpose(perm), "permute_mixed": x.transpose(perm),
        "flatten": x.reshape(shape[:start] + (-1,) + shape[end + 1:]),
        "flatten_all": x.reshape(-1),
    }
    for name, fn in fns.items():
        np.testing.assert_array_equal(fn(leaf(x)).data, refs[name], err_msg=name)
        check_both(fn, x)


@FEW
@given(shape=shapes, seed=seeds, data=st.data())
def test_squeeze_unsqueeze(shape, seed, data):
    x = values(np.random.default_rng(seed), shape)
    ax = data.draw(st.integers(-len(shape) - 1, len(shape)))
    u = zeroin.unsqueeze(leaf(x), ax)
    assert u.shape == np.expand_dims(x, ax).shape
    check_both(lambda t: t.unsqueeze(ax), x)
    check_both(lambda t: t.unsqueeze(ax).squeeze(ax), x)
    check_both(zeroin.squeeze, x)
    assert zeroin.squeeze(leaf(x)).shape == np.squeeze(x).shape


@FEW
@given(shapes=broadcast_pairs, seed=seeds)
def test_broadcast_to(shapes, seed):
    sa, _ = shapes.input_shapes
    target = shapes.result_shape
    x = values(np.random.default_rng(seed), sa)
    out = zeroin.broadcast_to(leaf(x), target)
    np.testing.assert_array_equal(out.data, np.broadcast_to(x, target))
    check_both(lambda t: t.broadcast_to(target), x)
    check_both(lambda t: zeroin.sum_to(t.broadcast_to(target) * 2.0, sa), x)


@FEW
@given(shape=nonscalar_shapes, n=st.integers(1, 3), seed=seeds, data=st.data())
def test_concatenate_and_stack(shape, n, seed, data):
    rng = np.random.default_rng(seed)
    nd = len(shape)
    axis = data.draw(st.integers(-nd, nd - 1))
    arrays = []
    for _ in range(n):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))
        arrays.append(values(rng, tuple(s)))
    cat = zeroin.concatenate([leaf(a) for a in arrays], axis=axis)
    np.testing.assert_array_equal(cat.data, np.concatenate(arrays, axis=axis))
    check_both(lambda *ts: zeroin.concatenate(ts, axis=axis), *arrays)
    same = [values(rng, shape) for _ in range(n)]
    sax = data.draw(st.integers(-nd - 1, nd))
    st_ = zeroin.stack([leaf(a) for a in same], axis=sax)
    np.testing.assert_array_equal(st_.data, np.stack(same, axis=sax))
    check_both(lambda *ts: zeroin.stack(ts, axis=sax), *same)


def test_shape_op_errors():
    x = zeroin.tensor(np.ones((2, 3)))
    with pytest.raises(zeroin.ShapeError) as e:
        x.reshape(4)
    assert str(e.value) == ("reshape: cannot reshape a tensor of shape (2, 3) (6 elements) "
                            "into shape (4,)")
    with pytest.raises(RuntimeError) as e:       # fast.ai's x.view(-1, 1, 28, 28): the op called
        x.view(-1, 4)
    assert str(e.value) == ("view: cannot view a tensor of shape (2, 3) (6 elements) "
                            "into shape (-1, 4)")
    with pytest.raises(zeroin.ShapeError, match=r"permute: dims \(0, 0\) are not a "
                                                r"permutation of the 2 dimensions of shape"):
        x.permute(0, 0)
    with pytest.raises(zeroin.ShapeError, match=r"permute: dims \(0, 5\) are not a "
                                                r"permutation"):
        x.permute(0, 5)
    with pytest.raises(IndexError, match=r"transpose: dimension 2 is out of range"):
        x.transpose(0, 2)
    with pytest.raises(TypeError, match=r"transpose: give the two dimensions to swap"):
        x.transpose()
    assert x.squeeze(1) is x        # PyTorch: squeezing a dimension that is not 1 is a no-op
    assert x.transpose(0, 1).shape == (3, 2) and x.transpose(1, 1).shape == (2, 3)
    with pytest.raises(zeroin.ShapeError, match=r"unsqueeze: dimension 5 is out of range for "
                                                r"a result with 3 dimensions"):
        x.unsqueeze(5)
    with pytest.raises(zeroin.ShapeError, match=r"cat: sizes of tensors must match except "
                                                r"in dimension 0: entry 0 has shape \(2, 3\) "
                                                r"and entry 1 shape \(3, 2\)"):
        zeroin.concatenate([x, zeroin.tensor(np.ones((3, 2)))], axis=0)
    with pytest.raises(zeroin.ShapeError, match=r"stack: expects each tensor to be of equal "
                                                r"size, but got \(2, 3\) at entry 0 and "
                                                r"\(3, 2\) at entry 1"):
        zeroin.stack([x, zeroin.tensor(np.ones((3, 2)))])
    with pytest.raises(zeroin.ShapeError, match=r"broadcast_to: shape \(2, 3\)"):
        x.broadcast_to((3, 3))
    with pytest.raises(ValueError, match="concatenate: need at least one tensor"):
        zeroin.concatenate([])
    with pytest.raises(zeroin.ShapeError) as e:
        x + zeroin.tensor(np.ones(4))
    assert str(e.value).startswith("add: shapes (2, 3) and (4,) cannot be broadcast together")


def test_broadcast_errors_name_the_dimension_and_a_fix_in_zeroins_words():
    a, b = zeroin.tensor(np.ones(3)), zeroin.tensor(np.ones(2), requires_grad=True)
    for f, name in ((lambda: a + b, "add"), (lambda: a * b, "mul"), (lambda: a - b, "sub"),
                    (lambda: zeroin.maximum(a, b), "maximum")):
        with pytest.raises(zeroin.ShapeError) as e:
            f()
        msg = str(e.value)
        assert msg.startswith(f"{name}: shapes (3,) and (2,) cannot be broadcast together")
        assert "dimension -1 has sizes 3 vs 2" in msg and "reshape" in msg
        assert "could not be broadcast" not in msg       # NumPy's own wording is gone
    with pytest.raises(zeroin.ShapeError, match=r"add: shapes \(4, 3\) and \(4,\) cannot .*"
                       r"dimension -1 has sizes 3 vs 4 .*x\.reshape\(-1, 1\) makes a column"):
        zeroin.tensor(np.ones((4, 3))) + zeroin.tensor(np.ones(4))


# --- indexing -----------------------------------------------------------------------------

X34 = np.arange(12.0).reshape(3, 4) / 7 - 0.5
INDEXES = {
    "int": 1,
    "negative_int": -1,
    "int_pair": (2, 3),
    "slice": slice(1, None),
    "slice_step": (slice(None), slice(None, None, 2)),
    "none_ellipsis": (None, Ellipsis, 0),
    "bool_mask": X34 > 0.2,
    "bool_rows": np.array([True, False, True]),
    "int_array": np.array([2, 0]),
    "int_array_repeated": np.array([0, 2, 0, 0]),
    "int_list": [1, 1, 2],
    "int_arrays_pair": (np.array([0, 2, 2]), np.array([1, 3, 3])),
    "int_array_2d": np.array([[0, 1], [1, 1]]),
    "mixed_slice_array": (slice(0, 2), np.array([3, 0, 3])),
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_indexing_gradients(name):
    index = INDEXES[name]
    out = leaf(X34)[index]
    np.testing.assert_array_equal(out.data, X34[index])
    check_both(lambda t: t[index], X34)


def test_repeated_indices_accumulate():
    x = zeroin.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])
    x.grad = None
    w = zeroin.tensor([1.0, 2.0, 3.0, 4.0])
    (x[np.array([1, 1, 1, 2])] * w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 6.0, 4.0])


def test_indexing_with_tensors_and_masks():
    x = zeroin.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    pos = x[x > 0]
    np.testing.assert_array_equal(pos.data, [2.0, 4.0])
    (pos * pos).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 4.0, 0.0, 8.0])
    idx = zeroin.tensor(np.array([3, 3]))
    x.grad = None
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0, 2.0])


def test_basic_indexing_gives_a_view_and_advanced_indexing_a_copy():
    # PyTorch's meaning: ints and slices share memory (this test asserted a copy until
    # the audit of 2026-12-05 found x[0][1] = 5 silently lost); masks and index arrays copy
    x = zeroin.tensor([1.0, 2.0, 3.0])
    y = x[1:]
    y.data[0] = 100.0
    assert x.data[1] == 100.0
    x[0].fill_(7.0)                     # a 0-d view, not a NumPy scalar
    assert x.data[0] == 7.0
    z = x[[0, 1]]
    z.data[0] = -1.0
    w = x[x.data > 50]
    w.data[0] = -2.0
    np.testing.assert_array_equal(x.data, [7.0, 100.0, 3.0])
    m = zeroin.tensor(np.arange(12.0).reshape(3, 4))
    m[0][1] = 5.0
    m[:, 0].mul_(2)
    m.chunk(2, 1)[1].zero_()
    r = m[2]
    m.add_(1)                           # seen through the view taken before
    np.testing.assert_array_equal(m.data, [[1, 6, 1, 1], [9, 6, 1, 1], [17, 10, 1, 1]])
    np.testing.assert_array_equal(r.data, m.data[2])


def test_in_place_on_a_view_in_the_graph_changes_the_base_as_pytorch():
    """A view of a tensor in the graph changed in place (Barlow Twins' ``torch.diagonal(c)
    .add_(-1).pow_(2)``, ``y[0].mul_(2)``) changes the tensor too, and both graphs see it:
    the values and the gradient are PyTorch's."""
    torch = pytest.importorskip("torch")
    views = (lambda y: y[0], lambda y: y[:, 1], lambda y: y.diagonal(), lambda y: y[1, 0],
             lambda y: y.T)
    for view in views:
        res = {}
        for lib in (torch, zeroin):
            x = lib.tensor(np.arange(1.0, 5.0).reshape(2, 2), requires_grad=True)
            y = x * x
            v = view(y)
            w = v.mul_(2).add_(x[1, 1]).pow_(2)
            loss = (y.sin() * lib.arange(4.0).view(2, 2)).sum() + w.cos().sum()
            loss.backward()
            res[lib] = [y.detach().numpy().copy(), v.detach().numpy().copy(),
                        x.grad.numpy(), loss.item()]
            assert w is v
        for z, t in zip(res[zeroin], res[torch]):
            np.testing.assert_allclose(z, t, rtol=1e-12, atol=1e-12)
    x = zeroin.tensor(np.arange(4.0), requires_grad=True)
    y = x * 1
    keep = y.view(2, 2)                 # another view of y, which PyTorch would update too
    with pytest.raises(RuntimeError, match=r"mul_: this tensor is a view of another "
                                           r"tensor of shape \(4,\)"):
        y[1:].mul_(2)
    del keep
    with pytest.raises(RuntimeError, match="zero_: a view of a leaf tensor that requires "
                                           "grad"):
        x[0].zero_()                    # PyTorch: a view of a leaf that requires grad
    np.testing.assert_array_equal(y.data, [0, 1, 2, 3])     # nothing changed
    with zeroin.no_grad():
        x[0].fill_(5.0)                 # outside the graph: in place through the view
    assert x.data[0] == 5.0


def _masked_through_reshape(lib, x, w):
    # d2l's masked_softmax: sequence_mask(X.reshape(-1, n), ...) assigns into the view
    s = x * w
    v = s.reshape(-1)
    v[v > 3] = -1.0
    first = (v * 3).sum()           # read before the next change (views taken before a
    u = s.unsqueeze(0)              # change keep the old values in zeroin: README)
    u[0, 1, 2] = 7.0
    u.mul_(w[0, 0])
    return (s * lib.arange(8.0, dtype=lib.float64).reshape(2, 4)).sum() + first


def test_in_place_on_a_reshaped_tensor_in_the_graph_changes_its_base_as_pytorch():
    torch = pytest.importorskip("torch")
    a = np.arange(8.0).reshape(2, 4) / 2 + 0.1     # none at the mask's edge, x * w == 3
    out = []
    for lib in (zeroin, torch):
        x = lib.tensor(a, requires_grad=True)
        w = lib.tensor(np.full((2, 4), 1.5), requires_grad=True)
        s = x * 2
        before = s.exp()            # read before the change: keeps the old value
        v = s.view(8)
        v[0] = 100.0
        assert s[0, 0].item() == 100.0 and before[0, 0].item() == pytest.approx(np.exp(0.2))
        _masked_through_reshape(lib, x, w).backward()
        out.append((x.grad.numpy().copy(), w.grad.numpy().copy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12)
    x = zeroin.tensor(a, requires_grad=True)
    w = zeroin.tensor(np.full((2, 4), 1.5), requires_grad=True)
    f = lambda x, w: _masked_through_reshape(zeroin, x, w)
    assert zeroin.gradcheck(f, (x, w)) and zeroin.gradgradcheck(f, (x, w))
    s = x * 2
    v = s.reshape(8)
    v[0] = 5.0
    v += 1.0                        # the operator too
    assert s[0, 0].item() == 6.0 and s.grad_fn is not None
    with zeroin.no_grad():
        v[1] = 6.0                  # still one memory
    assert s[0, :2].tolist() == [6.0, 6.0]
    with pytest.raises(IndexError):
        v[8] = 0.0
    v[2] = 9.0                      # a failed assignment leaves v a view of s
    assert s[0, 2].item() == 9.0


def test_setitem_records_the_assignment_as_pytorch():
    torch = pytest.importorskip("torch")
    a = np.arange(12.0).reshape(3, 4)
    out = []
    for lib in (zeroin, torch):
        x = lib.tensor(a, requires_grad=True)
        v = lib.tensor([7.0, 8.0], requires_grad=True)
        s = x * 2
        s[s > 10] = 0.0                 # masking scores, as ported code does
        s[0, 1:3] = v * 3               # a value that requires grad gets the gradient
        (s * lib.tensor(a + 1)).sum().backward()
        buf = lib.zeros(4)
        buf[1:3] = v                    # a constant buffer joins the graph
        buf.sum().backward()
        out.append([np.asarray(t.detach().numpy()) for t in (s, x.grad, v.grad)])
        assert buf.requires_grad
    for mine, theirs in zip(*out):
        np.testing.assert_allclose(mine, theirs)
    x = zeroin.tensor(np.arange(3.0), requires_grad=True)
    y = x.exp()
    z = y * y                           # read y before the assignment below
    y[0] = 1.0
    (z.sum() + y.sum()).backward()      # z keeps the value it read (PyTorch would raise)
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * np.arange(3.0))
                               + np.exp(np.arange(3.0)) * [0, 1, 1])


def test_view_never_copies_and_stride_and_contiguity_are_pytorchs():
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    for lib in (zeroin, torch):
        x = lib.tensor(a)
        assert x.stride() == (12, 4, 1) and x.stride(1) == 4 and x.is_contiguous()
        t = x.transpose(1, 2)
        assert t.stride() == (12, 1, 4) and not t.is_contiguous()
        assert x[:, ::2].stride() == (12, 8, 1) and not x[:, ::2].is_contiguous()
        with pytest.raises(RuntimeError, match="view"):
            t.view(-1)
        assert t.contiguous().is_contiguous() and t.contiguous().view(-1).shape == (24,)
        v = x.view(6, 4)
        v[0, 0] = 100.0                 # a view shares memory
        assert float(x[0, 0, 0]) == 100.0
        assert x.contiguous() is x
    with pytest.raises(RuntimeError, match=r"view: a tensor of shape \(2, 4, 3\) laid out "
                                           r"as it is .* use \.reshape\(\.\.\.\)"):
        zeroin.tensor(a).transpose(1, 2).view(-1)
    w = zeroin.tensor(a, requires_grad=True)
    (w.transpose(1, 2).contiguous().view(-1) * zeroin.tensor(np.arange(24.0))).sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.arange(24.0).reshape(2, 4, 3)
                                  .transpose(0, 2, 1))


def test_reshape_and_view_take_the_shape_by_keyword_as_pytorchs():
    """``x.reshape(shape=...)`` (MAE's patchify), ``torch.reshape(x, shape=...)`` and
    ``x.view(size=...)``, with the gradient; the shape given twice is refused."""
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    res = {}
    for lib in (zeroin, torch):
        x = lib.tensor(a, requires_grad=True)
        r, v, f = x.reshape(shape=(4, -1)), x.view(size=[6, 4]), lib.reshape(x, shape=(24,))
        (r.sum(0).pow(2).sum() + v[1].sum() * 3 + f[5]).backward()
        res[lib] = [r, v, f, x.grad]
        with pytest.raises(TypeError):
            x.reshape(4, 6, shape=(24,))
    for z, t in zip(res[zeroin], res[torch], strict=True):
        np.testing.assert_array_equal(z.detach().numpy(), t.detach().numpy())
    with pytest.raises(TypeError, match=r"reshape: the shape is given twice \(\(4, 6\) and "
                                        r"shape=\(24,\)\); give it once"):
        zeroin.ones(24).reshape(4, 6, shape=(24,))
    with pytest.raises(TypeError, match=r"view: the shape is given twice"):
        zeroin.ones(24).view(4, 6, size=(24,))


def test_setitem_errors_name_the_assignment():
    t = zeroin.ones(3)
    with pytest.raises(zeroin.ShapeError, match=r"setitem: a value of shape \(2,\) cannot be "
                                               r"written into t\[:\] of a tensor of shape "
                                               r"\(3,\)"):
        t[:] = zeroin.ones(2)
    with pytest.raises(IndexError, match=r"setitem: index \[5\] for a tensor of shape "
                                         r"\(3,\): index 5 is out of bounds"):
        t[5] = 1.0
    np.testing.assert_array_equal(t.data, [1, 1, 1])
    y = zeroin.tensor([1.0, 2.0], requires_grad=True) * 1
    with pytest.raises(IndexError, match=r"setitem: index \[2\]"):
        y[2] = 0.0
    np.testing.assert_array_equal(y.data, [1, 2])


def test_setitem_drops_a_values_leading_ones_as_pytorch():
    # d2l's multistep prediction: preds[i] = net(x), a (1, 1) value into one element
    def put(x, w):
        y = x * 1
        y[1] = w * 3
        y[2:] = w.reshape(1, 1, 1) * w
        return (y ** 2).sum()
    x = zeroin.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    w = zeroin.tensor([[0.5]], requires_grad=True)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")     # NumPy 2.2 warned for a (1, 1) array into one place
        assert zeroin.gradcheck(put, (x, w)) and zeroin.gradgradcheck(put, (x, w))
        put(x, w).backward()
    assert not seen, [str(m.message) for m in seen]
    assert w.grad.shape == (1, 1) and w.grad.item() == pytest.approx(2 * 1.5 * 3 + 2 * 4 * 0.25 * 0.5)
    t = zeroin.zeros(2)
    with pytest.raises(zeroin.ShapeError, match=r"setitem: a value of shape \(1, 2\) cannot"):
        t[0] = zeroin.ones(1, 2)


def test_indexing_errors():
    x = zeroin.tensor(np.ones((2, 3)))
    with pytest.raises(IndexError, match=r"getitem: index \[0, 5\] for a tensor of shape "
                                         r"\(2, 3\): index 5 is out of bounds for axis 1"):
        x[0, 5]
    with pytest.raises(zeroin.ShapeError, match=r"getitem: .*shape \(2, 3\): .*boolean"):
        x[np.array([True, False, True])]


@pytest.mark.parametrize("call, bad", [
    (lambda x: x.gather(1, np.array([[0, -1], [1, 2]])), -1),
    (lambda x: x.gather(1, np.array([[0, 3], [1, 2]])), 3),
    (lambda x: x.index_select(1, np.array([-1])), -1),
    (lambda x: x.index_select(1, np.array([0, 3])), 3),
    (lambda x: x.scatter(1, np.array([[0, -1]]), 1.0), -1),
    (lambda x: x.scatter_add(1, np.array([[0, 5]]), zeroin.ones(1, 2, dtype=zeroin.float64)), 5),
], ids=["gather-neg", "gather-big", "index_select-neg", "index_select-big", "scatter-neg",
        "scatter_add-big"])
def test_index_ops_refuse_indices_out_of_range_negative_ones_too(call, bad):
    x = zeroin.arange(6.0).reshape(2, 3)
    name = call.__code__.co_names[0]
    words = (rf"{name}: index {bad} is out of range for dimension 1 of size 3 \(input shape "
             rf"\(2, 3\)\); valid indices are 0\.\.2")
    with pytest.raises(IndexError, match=words) as e:
        call(x)
    assert isinstance(e.value, RuntimeError)        # what PyTorch raises for these
    assert ("negative indices do not count" in str(e.value)) == (bad < 0)
    assert x.take_along_dim(zeroin.tensor([[-1]]), 1).tolist() == [[2.0], [5.0]]   # wraps


def test_setitem_refuses_tensors_in_the_graph():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: in-place assignment into a tensor that "
                                           "requires grad would corrupt the graph"):
        w[0] = 5.0
    with zeroin.no_grad():
        w[0] = 5.0
    assert w.data[0] == 5.0
    c = zeroin.tensor([1.0, 2.0])
    c[1] = zeroin.tensor(7.0)
    assert c.data[1] == 7.0


# --- methods ------------------------------------------------------------------------------

def test_methods_match_functions():
    x = leaf(X34)
    for name in ("exp", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "softplus",
                 "abs", "sum", "mean", "max", "min", "amax", "amin", "logsumexp", "flatten"):
        np.testing.assert_array_equal(getattr(x, name)().data, getattr(zeroin, name)(x).data,
                                      err_msg=name)
    for name in ("softmax", "log_softmax"):     # dim required, as in PyTorch
        np.testing.assert_array_equal(getattr(x, name)(1).data,
                                      getattr(zeroin, name)(x, dim=1).data, err_msg=name)
        with pytest.raises(TypeError, match=f"{name}: give the dimension"):
            getattr(x, name)()
    p = leaf(np.abs(X34) + 0.5)
    np.testing.assert_array_equal(p.log().data, zeroin.log(p).data)
    np.testing.assert_array_equal(p.sqrt().data, zeroin.sqrt(p).data)
    np.testing.assert_array_equal(x.clip(-0.2, 0.2).data, zeroin.clip(x, -0.2, 0.2).data)
    np.testing.assert_array_equal(x.maximum(0.1).data, zeroin.maximum(x, 0.1).data)
    np.testing.assert_array_equal(x.minimum(0.1).data, zeroin.minimum(x, 0.1).data)
    np.testing.assert_array_equal(x.pow(3).data, (x ** 3).data)
    np.testing.assert_array_equal(x.matmul(x.T).data, (x @ x.T).data)
    assert x.reshape(4, 3).shape == x.reshape((4, 3)).shape == (4, 3)
    assert x.transpose(1, 0).shape == x.T.shape == x.permute(1, 0).shape == (4, 3)
    assert x.unsqueeze(0).squeeze(0).shape == (3, 4)
    assert x.broadcast_to((2, 3, 4)).shape == (2, 3, 4)
    assert zeroin.cat([x, x]).shape == (6, 4)


def test_clamp_with_tensor_bounds_errors_and_in_place():
    x = zeroin.tensor([0.0, 1.0, 2.0])
    with pytest.raises(TypeError, match="both as tensors or both"):
        zeroin.clamp(x, min=zeroin.tensor([1.0, 1.0, 1.0]), max=1.5)
    with pytest.raises(RuntimeError, match="cannot be written"):
        x.clamp_(min=zeroin.ones(2, 3))
    lo = zeroin.tensor([0.5, 0.5, 0.5], requires_grad=True)
    y = zeroin.tensor([0.0, 1.0, 2.0])
    y.clamp_(min=lo)                    # recorded: the bound requires grad
    np.testing.assert_array_equal(y.data, [0.5, 1.0, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(lo.grad.data, [1.0, 0.0, 0.0])


def test_clamp_takes_a_0d_tensor_beside_a_number_as_torch():
    """clamp(x, t0, 0.5): torch reads a 0-d tensor without grad as a number (its Scalar
    overload), e.g. a registered log_std_min buffer beside a float; one that requires grad,
    or a 1-d one, is refused by both."""
    torch = pytest.importorskip("torch")
    for lib in (torch, zeroin):
        x = lib.tensor([[-1.0, 0.2, 3.0]], dtype=lib.float32)
        y = lib.clamp(x, lib.tensor(-0.5, dtype=lib.float64), 0.5)
        z = x.clamp(min=-2, max=lib.tensor(1))
        w = lib.clamp(lib.tensor([1, 5, 9]), lib.tensor(2), 6.5)
        assert str(y.dtype).endswith("float32") and str(z.dtype).endswith("float32")
        np.testing.assert_array_equal(y.numpy(), np.float32([[-0.5, 0.2, 0.5]]))
        np.testing.assert_array_equal(z.numpy(), np.float32([[-1.0, 0.2, 1.0]]))
        np.testing.assert_array_equal(w.numpy(), [2.0, 5.0, 6.5])
        for lo in (lib.tensor(-0.5, requires_grad=True), lib.tensor([-0.5])):
            with pytest.raises(TypeError):
                lib.clamp(x, lo, 0.5)


def test_argmax_argmin_and_clamp_under_their_pytorch_names():
    rng = np.random.default_rng(5)
    logits = zeroin.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    pred = logits.argmax(axis=1)
    np.testing.assert_array_equal(pred.data, np.argmax(logits.data, axis=1))
    assert pred.dtype.kind == "i" and not pred.requires_grad and pred.grad_fn is None
    np.testing.assert_array_equal(zeroin.argmin(logits, axis=0).data,
                                  np.argmin(logits.data, axis=0))
    assert logits.argmax().item() == int(np.argmax(logits.data))
    assert logits.argmax(axis=1, keepdims=True).shape == (6, 1)
    with pytest.raises(zeroin.ShapeError, match=r"argmax: dimension 2 is out of range.*\(6, "
                                                r"4\)"):
        logits.argmax(axis=2)
    # clamp is clip: same values, and the gradient is 0 where a value was clamped
    c = logits.clamp(-0.5, 0.5)
    np.testing.assert_array_equal(c.data, np.clip(logits.data, -0.5, 0.5))
    c.sum().backward()
    inside = (logits.data > -0.5) & (logits.data < 0.5)
    np.testing.assert_array_equal(logits.grad.data, inside.astype(float))


@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp", "softmax", "log_softmax",
                                  "argmax", "argmin"])
def test_pytorch_dim_and_keepdim_mean_axis_and_keepdims(name):
    rng = np.random.default_rng(6)
    x = zeroin.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    f = getattr(zeroin, name)
    for d in (0, 1, -1):
        np.testing.assert_array_equal(getattr(x, name)(dim=d).data, f(x, axis=d).data)
        np.testing.assert_array_equal(f(x, d, dim=d).data, f(x, axis=d).data)   # agree: fine
    if name not in ("softmax", "log_softmax"):
        assert f(x, dim=1, keepdim=True).shape == f(x, axis=1, keepdims=True).shape == (3, 1)
    with pytest.raises(TypeError, match=rf"{name}: got axis=0 and dim=1; dim is "
                       r"PyTorch's name for axis"):
        f(x, 0, dim=1)


def test_dim_in_cat_and_stack_and_gradients_follow():
    a = zeroin.tensor(np.ones((2, 3)), requires_grad=True)
    b = zeroin.tensor(np.zeros((2, 3)), requires_grad=True)
    assert zeroin.cat([a, b], dim=1).shape == (2, 6)
    assert zeroin.stack([a, b], dim=1).shape == (2, 2, 3)
    (a.softmax(dim=0) * zeroin.tensor(np.arange(6.0).reshape(2, 3))).sum(dim=1).mean().backward()
    g = zeroin.grad((a.softmax(axis=0) * zeroin.tensor(np.arange(6.0).reshape(2, 3)))
                    .sum(axis=1).mean(), [a])[0]
    np.testing.assert_allclose(a.grad.data, g.data)
    # max/min mean PyTorch's: with a dim, the pair (values, indices)
    v, i = a.max(dim=1)
    assert v.shape == i.shape == (2,) and i.dtype == np.int64
    assert zeroin.min(a, dim=1, keepdim=True).values.shape == (2, 1)
    assert a.max(axis=1).indices.shape == (2,)       # axis is PyTorch's alias of dim
    with pytest.raises(TypeError):
        a.max(axes=1)


# --- the registry: every registered op has a gradient check ------------------------------
# GRADCHECK maps each name in zeroin.ops.OPS to its cases: (function of float64 leaves,
# input arrays, second order?). Second order is checked wherever the rule is differentiable
# (every rule here is: masks and signs are constants). An op that has no gradient goes in
# NO_GRADIENT with the reason. A new op must add its case here (see docs/architecture.md).

def _r(*shape, kind="any", seed=0):
    return values(np.random.default_rng(seed + len(shape) * 7 + sum(shape)), shape, kind)


def _away(*shape, step=1.0, seed=0):
    """Values in [-4, 4] at least 0.1 away from the multiples of ``step`` / 2, where the
    rounding and clamping functions jump or bend."""
    rng = np.random.default_rng(seed + sum(shape))
    k = rng.integers(-8, 8, shape)
    return k * step / 2 + rng.uniform(0.1, step / 2 - 0.1, shape)


def _unit(*shape, seed=0):
    """Values inside (-0.8, 0.8), the domain of asin, acos, atanh."""
    return np.random.default_rng(seed + sum(shape)).uniform(-0.8, 0.8, shape)


def _F():
    import zeroin.nn.functional as F
    return F


GRADCHECK = {
    "add": [(lambda a, b: a + b, [_r(2, 3), _r(3)], True),
            (lambda a: 2.0 + a, [_r(3)], True)],
    "sub": [(lambda a, b: a - b, [_r(2, 3), _r(3)], True),
            (lambda a: 1.0 - a, [_r(3)], True)],
    "mul": [(lambda a, b: a * b, [_r(2, 3), _r(2, 1)], True)],
    "div": [(lambda a, b: a / b, [_r(2, 3), _r(3, kind="pos")], True),
            (lambda a: 1.0 / a, [_r(3, kind="pos")], True),
            (lambda a, b: a.div(b, rounding_mode="floor"), [_away(2, 3), np.ones(3)], True),
            (lambda a: zeroin.div(a, 2.0, rounding_mode="trunc"), [_away(3, step=2.0)],
             True)],
    "neg": [(lambda a: -a, [_r(2, 3)], True)],
    "pow": [(lambda a, b: a ** b, [_r(2, 3, kind="pos"), _r(3)], True),
            (lambda a: a ** 3, [_r(2, 3)], True),
            (lambda a: 2.0 ** a, [_r(3)], True)],
    "matmul": [(lambda a, b: a @ b, [_r(2, 3), _r(3, 4)], True),
               (lambda a, b: a @ b, [_r(2, 2, 3), _r(3)], True)],
    "exp": [(zeroin.exp, [_r(2, 3)], True)],
    "log": [(zeroin.log, [_r(2, 3, kind="pos")], True)],
    "sqrt": [(zeroin.sqrt, [_r(2, 3, kind="pos")], True)],
    "abs": [(zeroin.abs, [_r(2, 3, kind="kink")], True)],
    "sin": [(zeroin.sin, [_r(2, 3)], True)],
    "cos": [(zeroin.cos, [_r(2, 3)], True)],
    "tanh": [(zeroin.tanh, [_r(2, 3)], True)],
    "sigmoid": [(zeroin.sigmoid, [_r(2, 3)], True)],
    "relu": [(zeroin.relu, [_r(2, 3, kind="kink")], True)],
    "softplus": [(zeroin.softplus, [_r(2, 3)], True)],
    "leaky_relu": [(lambda x: zeroin.leaky_relu(x, 0.1), [_r(2, 3, kind="kink")], True)],
    "maximum": [(zeroin.maximum, [_r(2, 3), _r(3, seed=1)], True)],
    "minimum": [(zeroin.minimum, [_r(2, 3), _r(3, seed=1)], True)],
    "where": [(lambda a, b: zeroin.where(np.array([True, False, True]), a, b),
               [_r(2, 3), _r(3)], True)],
    "clip": [(lambda x: zeroin.clip(x, -1.0, 1.0), [_r(2, 3, kind="clip")], True),
             # tensor bounds, one broadcast; (1, 1) has min > max (the result is max)
             (lambda x, lo, hi: zeroin.clamp(x, lo, hi),
              [np.array([[-1.5, 0.2, 1.4], [0.7, -0.3, 2.0]]),
               np.array([[-1.0, -0.5, 1.6], [0.1, 0.5, -1.0]]), np.array([1.0, 0.0, 1.8])],
              True),
             (lambda x, lo: x.clip(min=lo), [_r(2, 3, kind="clip"), np.array([0.5, -0.5, 0.0])],
              True)],
    "astype": [(lambda x: x.astype(np.float64) * x, [_r(3)], True)],
    "sum": [(lambda x: x.sum(axis=1), [_r(2, 3)], True)],
    "mean": [(lambda x: x.mean(axis=0, keepdims=True), [_r(2, 3)], True)],
    "max": [(lambda x: x.max(axis=1).values, [_r(2, 3)], True),
            (lambda x: x.max(), [_r(2, 3)], True)],
    "min": [(lambda x: x.min(), [_r(2, 3)], True),
            (lambda x: zeroin.min(x, 0).values, [_r(2, 3)], True)],
    "amax": [(lambda x: x.amax(dim=(0, 1)), [_r(2, 3)], True)],
    "amin": [(lambda x: x.amin(1, keepdim=True), [_r(2, 3)], True)],
    "logsumexp": [(lambda x: x.logsumexp(axis=1), [_r(2, 3)], True)],
    "softmax": [(lambda x: x.softmax(axis=1), [_r(2, 3)], True)],
    "log_softmax": [(lambda x: x.log_softmax(axis=0), [_r(2, 3)], True)],
    "reshape": [(lambda x: x.reshape(3, 2), [_r(2, 3)], True)],
    "view": [(lambda x: x.view(3, 2), [_r(2, 3)], True)],
    "squeeze": [(lambda x: x.squeeze(1), [_r(2, 1, 3)], True)],
    "unsqueeze": [(lambda x: x.unsqueeze(0), [_r(2, 3)], True)],
    "flatten": [(lambda x: x.flatten(), [_r(2, 3)], True)],
    "transpose": [(lambda x: x.transpose(0, 1), [_r(2, 3)], True),
                  (lambda x: x.transpose(-1, 0), [_r(2, 3, 2)], True)],
    "permute": [(lambda x: x.permute(2, 0, 1), [_r(2, 3, 2)], True)],
    "swapaxes": [(lambda x: x.swapaxes(0, 2), [_r(2, 3, 2)], True)],
    "broadcast_to": [(lambda x: x.broadcast_to((2, 3)), [_r(3)], True)],
    "sum_to": [(lambda x: x.sum_to((3,)), [_r(2, 3)], True)],
    "concatenate": [(lambda a, b: zeroin.concatenate([a, b], axis=1), [_r(2, 3), _r(2, 1)],
                     True)],
    "stack": [(lambda a, b: zeroin.stack([a, b], axis=1), [_r(2, 3), _r(2, 3, seed=1)],
               True)],
    "getitem": [(lambda x: x[1:, [0, 2, 0]], [_r(3, 3)], True)],
    "index_add": [(lambda g: zeroin.ops.index_add(g, np.array([0, 2, 0]), (4,)), [_r(3)],
                   True)],
    "index_put": [(lambda x, v: zeroin.ops.index_put(x, (slice(1, 3), 0), v), [_r(3, 2), _r(2)],
                   True),
                  (lambda x, v: zeroin.ops.index_put(x, np.array([0, 2]), v), [_r(3, 2), _r(2)],
                   True)],
    # zeroin.nn.functional
    "linear": [(lambda x, w, b: _F().linear(x, w, b), [_r(4, 3), _r(2, 3), _r(2)], True),
               (lambda x, w: _F().linear(x, w), [_r(2, 4, 3), _r(2, 3)], True)],
    "alpha_dropout": [(lambda x: (zeroin.manual_seed(3), _F().alpha_dropout(x, 0.4, True))[1],
                       [_r(4, 5)], True)],
    "dropout": [(lambda x: _F().dropout(x, 0.4, rng=np.random.default_rng(3)), [_r(4, 5)],
                 True)],
    # zeroin.nn.rnn: an LSTM step's two equations (gates i, f, g, o side by side)
    "lstm_c": [(lambda g, c: zeroin.nn.rnn.lstm_c(g, c), [_r(3, 8), _r(3, 2)], True),
               (lambda g, c: zeroin.nn.rnn.lstm_c(g, c), [_r(2, 3, 4), _r(2, 3, 1)], False)],
    "lstm_h": [(lambda g, c: zeroin.nn.rnn.lstm_h(g, c), [_r(3, 8), _r(3, 2)], True),
               (lambda g, c: zeroin.nn.rnn.lstm_h(g, c), [_r(2, 3, 4), _r(2, 3, 1)], False)],
    # zeroin.nn.rnn: a GRU step (gates r, z, n of the input and of the state, side by side)
    "gru_h": [(lambda gx, gh, h: zeroin.nn.rnn.gru_h(gx, gh, h),
               [_r(3, 6), _r(3, 6, seed=1), _r(3, 2, seed=2)], True),
              (lambda gx, gh, h: zeroin.nn.rnn.gru_h(gx, gh, h),
               [_r(2, 3, 3), _r(2, 3, 3, seed=1), _r(2, 3, 1, seed=2)], False)],
    "mse_loss": [(lambda x, t: _F().mse_loss(x, t), [_r(4, 2), _r(4, 2, seed=1)], True)],
    "l1_loss": [(lambda x, t: _F().l1_loss(x, t, reduction="sum"),
                 [_r(4, 2, kind="kink"), np.zeros((4, 2))], True)],
    "binary_cross_entropy": [(lambda x, t: _F().binary_cross_entropy(x, t),
                              [np.random.default_rng(2).uniform(0.1, 0.9, (4,)),
                               np.random.default_rng(3).uniform(0, 1, (4,))], True)],
    "binary_cross_entropy_with_logits": [
        (lambda x, t: _F().binary_cross_entropy_with_logits(x, t, reduction="none"),
         [_r(4), np.random.default_rng(3).uniform(0, 1, (4,))], True)],
    "cross_entropy": [(lambda x: _F().cross_entropy(x, np.array([0, 2, 1, 2])), [_r(4, 3)],
                       True)],
    # fused norms (more cases, against torch, in test_nn.py)
    "layer_norm": [(lambda x, w, b: _F().layer_norm(x, (3, 4), w, b), [_r(2, 3, 4), _r(3, 4),
                                                                        _r(3, 4)], True),
                   (lambda x: _F().layer_norm(x, 4, eps=0.1), [_r(3, 4)], True)],
    "group_norm": [(lambda x, w, b: _F().group_norm(x, 2, w, b), [_r(2, 4, 3), _r(4), _r(4)],
                    True),
                   (lambda x: _F().group_norm(x, 3), [_r(2, 6, 2, 2)], True)],
    # second order refused, as in PyTorch (test_functional.py checks the message)
    "ctc_loss": [(lambda x: _F().ctc_loss(x, np.array([[1, 1], [2, 0]]), (4, 3), (2, 1),
                                          reduction="none"), [_r(4, 2, 3)], False),
                 (lambda x: _F().ctc_loss(x.log_softmax(2), np.array([1, 1, 2]), (4, 3), (2, 1),
                                          blank=0), [_r(4, 2, 3)], False)],
    # zeroin.nn.functional: convolution and pooling (more cases in test_conv.py)
    "conv1d": [(lambda x, w, b: _F().conv1d(x, w, b, stride=2, padding=1), [_r(2, 2, 5),
                _r(3, 2, 3), _r(3)], True)],
    "conv2d": [(lambda x, w, b: _F().conv2d(x, w, b, padding=1, groups=2),
                [_r(2, 4, 4, 3), _r(2, 2, 3, 2), _r(2)], True)],
    "conv_transpose1d": [(lambda x, w: _F().conv_transpose1d(x, w, stride=2), [_r(2, 2, 3),
                          _r(2, 3, 2)], True)],
    "conv_transpose2d": [(lambda x, w, b: _F().conv_transpose2d(x, w, b, stride=2, padding=1,
                                                               output_padding=1),
                          [_r(1, 2, 3, 2), _r(2, 3, 3, 3), _r(3)], True)],
    "max_pool1d": [(lambda x: _F().max_pool1d(x, 2), [_r(2, 2, 6)], True)],
    "max_pool2d": [(lambda x: _F().max_pool2d(x, 3, 2, 1), [_r(2, 2, 5, 4)], True)],
    "adaptive_max_pool2d": [(lambda x: _F().adaptive_max_pool2d(x, (2, 3)), [_r(1, 2, 5, 5)],
                             True)],
    "avg_pool1d": [(lambda x: _F().avg_pool1d(x, 3, 2, 1), [_r(2, 2, 6)], True)],
    "avg_pool2d": [(lambda x: _F().avg_pool2d(x, 2, ceil_mode=True), [_r(2, 2, 5, 3)], True)],
    "adaptive_avg_pool1d": [(lambda x: _F().adaptive_avg_pool1d(x, 3), [_r(2, 2, 7)], True)],
    "adaptive_avg_pool2d": [(lambda x: _F().adaptive_avg_pool2d(x, (2, 3)), [_r(1, 2, 5, 4)],
                             True)],
    "unfold": [(lambda x: _F().unfold(x, 2, padding=1), [_r(1, 2, 3, 3)], True)],
    "fold": [(lambda c: _F().fold(c, (3, 3), 2), [_r(1, 8, 4)], True)],
    "interpolate": [(lambda x: _F().interpolate(x, scale_factor=2), [_r(1, 2, 2, 3)], True),
                    (lambda x: _F().interpolate(x, size=(3, 5), mode="bilinear",
                                                align_corners=False), [_r(1, 1, 2, 3)], True),
                    (lambda x: _F().interpolate(x, size=(4, 5), mode="bicubic",
                                                align_corners=False), [_r(1, 1, 2, 3)], True),
                    (lambda x: _F().interpolate(x, size=(3, 2, 4), mode="trilinear",
                                                align_corners=False), [_r(1, 1, 2, 3, 2)], True)],
    "conv3d": [(lambda x, w, b: _F().conv3d(x, w, b, padding=(1, 0, 1), groups=2),
                [_r(1, 4, 3, 3, 2), _r(2, 2, 2, 2, 2), _r(2)], True)],
    "conv_transpose3d": [(lambda x, w, b: _F().conv_transpose3d(x, w, b, stride=2, padding=1,
                                                               output_padding=1),
                          [_r(1, 2, 2, 2, 2), _r(2, 2, 3, 2, 3), _r(2)], True)],
    "max_pool3d": [(lambda x: _F().max_pool3d(x, 3, 2, 1), [_r(1, 2, 4, 5, 3)], True)],
    "avg_pool3d": [(lambda x: _F().avg_pool3d(x, 2, ceil_mode=True), [_r(1, 2, 3, 5, 3)], True)],
    "adaptive_avg_pool3d": [(lambda x: _F().adaptive_avg_pool3d(x, (2, 3, 2)),
                             [_r(1, 2, 3, 5, 4)], True)],
    "adaptive_max_pool3d": [(lambda x: _F().adaptive_max_pool3d(x, (2, 3, 2)),
                             [_r(1, 2, 3, 5, 4)], True)],
    "dropout2d": [(lambda x: (zeroin.manual_seed(3), _F().dropout2d(x, 0.5))[1],
                   [_r(4, 3, 2, 2)], True)],
    # zeroin._torch_ops: PyTorch's other elementwise functions, activations, reductions
    "ceil": [(zeroin.ceil, [_away(2, 3)], True)],
    "floor": [(zeroin.floor, [_away(2, 3)], True)],
    "trunc": [(zeroin.trunc, [_away(2, 3)], True)],
    "round": [(zeroin.round, [_away(2, 3)], True),
              (lambda x: zeroin.round(x * 10, decimals=1), [_away(3) / 100], True)],
    "sign": [(zeroin.sign, [_r(2, 3, kind="kink")], True)],
    "frac": [(zeroin.frac, [_away(2, 3)], True)],
    "tan": [(zeroin.tan, [_unit(2, 3)], True)],
    "asin": [(zeroin.asin, [_unit(2, 3)], True)],
    "acos": [(zeroin.acos, [_unit(2, 3)], True)],
    "atan": [(zeroin.atan, [_r(2, 3)], True)],
    "sinh": [(zeroin.sinh, [_r(2, 3)], True)],
    "cosh": [(zeroin.cosh, [_r(2, 3)], True)],
    "asinh": [(zeroin.asinh, [_r(2, 3)], True)],
    "acosh": [(zeroin.acosh, [_r(2, 3, kind="pos") + 1], True)],
    "atanh": [(zeroin.atanh, [_unit(2, 3)], True)],
    "log2": [(zeroin.log2, [_r(2, 3, kind="pos")], True)],
    "log10": [(zeroin.log10, [_r(2, 3, kind="pos")], True)],
    "log1p": [(zeroin.log1p, [_r(2, 3, kind="pos")], True)],
    "exp2": [(zeroin.exp2, [_r(2, 3)], True)],
    "expm1": [(zeroin.expm1, [_r(2, 3)], True)],
    "rsqrt": [(zeroin.rsqrt, [_r(2, 3, kind="pos")], True)],
    "square": [(zeroin.square, [_r(2, 3)], True)],
    "reciprocal": [(zeroin.reciprocal, [_r(2, 3, kind="pos")], True)],
    "erf": [(zeroin.erf, [_r(2, 3)], True)],
    "erfc": [(zeroin.erfc, [_r(2, 3)], True)],
    "erfinv": [(zeroin.erfinv, [_unit(2, 3)], True)],
    "erfcx": [(zeroin.special.erfcx, [_r(2, 3)], True)],
    "ndtr": [(zeroin.special.ndtr, [_r(2, 3)], True)],
    "log_ndtr": [(zeroin.special.log_ndtr, [_r(2, 3) * 3], True)],
    "ndtri": [(zeroin.special.ndtri, [_unit(2, 3) * 0.6 + 0.5], True)],
    "i0": [(zeroin.i0, [_r(2, 3)], True), (lambda x: x.i0(), [_r(3)], True)],
    "i0e": [(zeroin.special.i0e, [_r(2, 3, kind="kink")], True)],      # |x| bends at 0
    "i1": [(zeroin.special.i1, [_r(2, 3)], True),
           (zeroin.special.i1, [np.array([0.0, 1e-9, -2.0])], True)],  # the 0 limit
    "i1e": [(zeroin.special.i1e, [_r(2, 3, kind="kink")], True)],
    "igamma": [(lambda x: zeroin.igamma(zeroin.tensor([[0.5, 2.0, 7.5]]), x),
                [_r(2, 3, kind="pos") * 3], True)],
    "igammac": [(lambda x: zeroin.tensor([[1.5], [3.0]]).igammac(x),
                 [_r(2, 3, kind="pos") * 3], True)],
    "mvlgamma": [(lambda x: zeroin.mvlgamma(x, 3), [_r(2, 3, kind="pos") + 1.2], True)],
    "lgamma": [(zeroin.lgamma, [_r(2, 3, kind="pos")], True),
               (zeroin.lgamma, [_away(2, 3)], True)],          # off the poles, negative too
    "digamma": [(zeroin.digamma, [_r(2, 3, kind="pos")], True),
                (zeroin.digamma, [_away(2, 3)], True)],
    "polygamma": [(lambda x: zeroin.polygamma(1, x), [_r(2, 3, kind="pos")], True),
                  (lambda x: zeroin.polygamma(2, x),
                   [np.array([[-0.5, -1.5, -2.3], [-3.6, -0.7, -4.5]])], True),
                  (lambda x: x.polygamma(3), [_r(2, 3, kind="pos")], True)],
    "logit": [(zeroin.logit, [_unit(2, 3) * 0.5 + 0.5], True),
              (lambda x: zeroin.logit(x, eps=0.2), [_unit(2, 3) * 0.5 + 0.5], True)],
    "logaddexp": [(zeroin.logaddexp, [_r(2, 3), _r(3, seed=1)], True),
                  (lambda a: zeroin.logaddexp(a, 30.0), [_r(2, 3)], True)],
    "logaddexp2": [(zeroin.logaddexp2, [_r(2, 3), _r(2, 1, seed=1)], True)],
    "hypot": [(zeroin.hypot, [_r(2, 3, kind="kink"), _r(3, seed=1)], True)],
    "xlogy": [(zeroin.xlogy, [_r(2, 3), _r(3, kind="pos")], True),
              (zeroin.xlogy, [np.array([0.0, 1.5, 0.0]), np.array([0.5, 2.0, 1.5])], True)],
    "xlog1py": [(zeroin.special.xlog1py, [_r(2, 3), _r(3, kind="pos") - 0.5], True)],
    "deg2rad": [(zeroin.deg2rad, [_r(2, 3)], True)],
    "rad2deg": [(zeroin.rad2deg, [_r(2, 3)], True)],
    "copysign": [(zeroin.copysign, [_r(2, 3, kind="kink"), _r(3, seed=2)], True),
                 (lambda a: a.copysign(-1.0), [_r(2, 3, kind="kink")], True)],
    "nextafter": [(zeroin.nextafter, [_r(2, 3), _r(3, seed=2)], True)],
    "tensor_unfold": [(lambda x: x.unfold(1, 2, 1), [_r(2, 4)], True),
                      (lambda x: x.unfold(0, 2, 3), [_r(6, 2)], True)],
    "sinc": [(zeroin.sinc, [_r(2, 3)], True),
             # at 0 the rule is the constant 0 (PyTorch's): first order only there
             (zeroin.sinc, [np.array([0.0, 0.5, -1.5])], False)],
    "atan2": [(zeroin.atan2, [_r(2, 3), _r(3, kind="kink")], True)],
    "lerp": [(lambda a, b, w: zeroin.lerp(a, b, w), [_r(2, 3), _r(3, seed=1), _r(2, 1, seed=2)],
              True),
             (lambda a, b: zeroin.lerp(a, b, 0.7), [_r(2, 3), _r(2, 3, seed=1)], True)],
    "remainder": [(lambda x: x % 1.5, [_away(2, 3, step=1.5)], True),
                  (lambda x, y: x % y, [_away(2, 3, step=1.5), np.full((2, 3), 1.5)], True)],
    "fmod": [(lambda x: zeroin.fmod(x, 1.5), [_away(2, 3, step=1.5)], True),
             (zeroin.fmod, [_away(2, 3, step=1.5), np.full((1, 3), -1.5)], True)],
    "hardtanh": [(lambda x: _F().hardtanh(x, -0.5, 0.5), [_away(2, 3, step=0.5)], True)],
    "relu6": [(lambda x: _F().relu6(x * 4), [_away(2, 3, step=1.5)], True)],
    "elu": [(lambda x: _F().elu(x, 0.7), [_r(2, 3, kind="kink")], True)],
    "celu": [(lambda x: _F().celu(x, 1.5), [_r(2, 3, kind="kink")], True)],
    "selu": [(_F().selu, [_r(2, 3, kind="kink")], True)],
    "gelu": [(_F().gelu, [_r(2, 3)], True),
             (lambda x: _F().gelu(x, approximate="tanh"), [_r(2, 3)], True)],
    "silu": [(_F().silu, [_r(2, 3)], True)],
    "mish": [(_F().mish, [_r(2, 3)], True)],
    "softsign": [(_F().softsign, [_r(2, 3, kind="kink")], True)],
    "hardswish": [(lambda x: _F().hardswish(x * 2), [_away(2, 3, step=1.5)], True)],
    "hardsigmoid": [(lambda x: _F().hardsigmoid(x * 2), [_away(2, 3, step=1.5)], True)],
    "logsigmoid": [(_F().logsigmoid, [_r(2, 3)], True)],
    "var": [(lambda x: x.var(1), [_r(3, 4)], True),
            (lambda x: zeroin.var(x, dim=[]), [_r(3, 4)], True),
            (lambda x: zeroin.var(x, unbiased=False), [_r(3, 4)], True)],
    "std": [(lambda x: x.std(dim=0, keepdim=True), [_r(3, 4)], True),
            (lambda x: x.std(), [_r(3, 4)], True),
            (lambda x: x.std(dim=(), keepdim=True), [_r(3, 4)], True)],
    "prod": [(lambda x: x.prod(1), [_r(3, 4)], True),
             (lambda x: x.prod(), [np.array([[1.5, 0.0], [2.0, -1.0]])], False)],
    "cumsum": [(lambda x: x.cumsum(1), [_r(3, 4)], True)],
    "cumprod": [(lambda x: x.cumprod(0), [_r(3, 4, kind="kink")], True),
                # zeros: one, two in a row, two apart, the last; in each direction
                (lambda x: x.cumprod(1), [np.array([[2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 1.5, 2.0],
                                                    [0.5, 0.0, 2.0, 0.0], [1.5, -2.0, 3.0, 0.0]])],
                 True),
                (lambda x: zeroin.cumprod(x, dim=0), [np.array([[2.0, 0.0], [0.0, 1.5],
                                                                 [3.0, 0.0]])], True)],
    "norm": [(lambda x: x.norm(dim=1), [_r(3, 4)], True),
             (lambda x: x.norm(p=1), [_r(3, 4, kind="kink")], True),
             (lambda x: x.norm(p=3, dim=0), [_r(3, 4, kind="kink")], True),
             (lambda x: x.norm(p=0.5, dim=1, keepdim=True), [_r(3, 4, kind="kink")], True),
             (lambda x: x.norm(p=float("inf"), dim=1), [_r(3, 4)], True),
             (lambda x: zeroin.linalg.vector_norm(x, ord=-float("inf")), [_r(3, 4)], True)],
    "clone": [(lambda x: x.clone() * x, [_r(2, 3)], True)],
    # movement and indexing
    "flip": [(lambda x: x.flip((0, 1)), [_r(2, 3)], True)],
    "fliplr": [(zeroin.fliplr, [_r(2, 3)], True)],
    "rot90": [(lambda x: zeroin.rot90(x, 1, (0, 2)), [_r(2, 3, 2)], True),
              (lambda x: x.rot90(-1), [_r(2, 3)], True)],
    "flipud": [(zeroin.flipud, [_r(2, 3)], True)],
    "roll": [(lambda x: x.roll(1, 0), [_r(3, 4)], True),
             (lambda x: zeroin.roll(x, 5), [_r(3, 4)], True)],
    "tril": [(lambda x: x.tril(-1), [_r(3, 4)], True)],
    "diagonal": [(lambda x: x.diagonal(1, 2, 0), [_r(3, 2, 4)], True),
                 (lambda x: x.diagonal() * x.diagonal(-1).sum(), [_r(3, 4)], True)],
    "diag_embed": [(lambda x: zeroin.diag_embed(x, -1, 0, 2), [_r(2, 3)], True)],
    "select_scatter": [(lambda x, s: x.select_scatter(s, 0, -1), [_r(2, 3), _r(3, seed=1)], True)],
    "slice_scatter": [(lambda x, s: zeroin.slice_scatter(x, s, 1, 1, None, 2),
                       [_r(2, 4), _r(2, 2, seed=1)], True)],
    "diagonal_scatter": [(lambda x, s: zeroin.diagonal_scatter(x, s, 1),
                          [_r(3, 4), _r(3, seed=1)], True)],
    "triu": [(lambda x: zeroin.triu(x, 1), [_r(3, 4)], True)],
    "repeat": [(lambda x: x.repeat(2, 1, 3), [_r(2, 3)], True)],
    "tile": [(lambda x: x.tile((2,)), [_r(2, 3)], True)],
    "expand": [(lambda x: x.expand(2, -1, 3), [_r(4, 1)], True)],
    "unflatten": [(lambda x: x.unflatten(1, (2, 2)), [_r(3, 4)], True)],
    "gather": [(lambda x: x.gather(1, np.array([[0, 3, 3], [1, 1, 0], [2, 0, 1]])),
                [_r(3, 4)], True)],
    "take_along_dim": [(lambda x: zeroin.take_along_dim(x, np.array([[0], [2], [3]]), 1),
                        [_r(3, 4)], True)],
    "index_select": [(lambda x: x.index_select(0, np.array([2, 0, 2])), [_r(3, 4)], True)],
    "narrow": [(lambda x: x.narrow(1, 1, 2), [_r(3, 4)], True)],
    "select": [(lambda x: x.select(1, 2), [_r(3, 4)], True)],
    "scatter": [(lambda x, s: x.scatter(1, np.array([[0], [3], [1]]), s), [_r(3, 4), _r(3, 2)],
                 True)],
    "scatter_add": [(lambda x, s: x.scatter_add(0, np.array([[0, 1], [0, 2]]), s),
                     [_r(3, 2), _r(2, 2)], True)],
    "masked_fill": [(lambda x: x.masked_fill(np.array([True, False, True]), 0.5), [_r(2, 3)],
                     True)],
    "pad": [(lambda x: _F().pad(x, (1, 2, 0, 1), value=0.3), [_r(2, 3)], True),
            (lambda x: _F().pad(x, (2, 1), mode="reflect"), [_r(2, 4)], True),
            (lambda x: _F().pad(x, (1, 1), mode="replicate"), [_r(2, 3)], True)],
    "einsum": [(lambda a, b: zeroin.einsum("ij,kj->ik", a, b), [_r(2, 3), _r(4, 3)], True),
               (lambda a: zeroin.einsum("ijk->j", a), [_r(2, 3, 2)], True),
               (lambda a, b: zeroin.einsum("ii,ij->j", a, b), [_r(3, 3), _r(3, 2)], True),
               (lambda a, b: zeroin.einsum("...ij,jk", a, b), [_r(2, 2, 3), _r(3, 2)], True),
               (lambda a, b: zeroin.einsum("bij,bjk->bik", a, b), [_r(2, 2, 3), _r(2, 3, 2)],
                True)],
    "sort": [(lambda x: x.sort(dim=1, descending=True).values, [_r(3, 4)], True)],
    "topk": [(lambda x: x.topk(2).values, [_r(3, 4)], True)],
    "median": [(lambda x: x.median(1).values, [_r(3, 5)], True),
               (lambda x: x.median(), [_r(3, 5)], True)],
    "msort": [(zeroin.msort, [_r(3, 4)], True)],
    "kthvalue": [(lambda x: x.kthvalue(2, dim=0).values, [_r(3, 4)], True)],
    # distinct values: the mode is the smallest (a tie would break under the perturbation)
    "mode": [(lambda x: x.mode(1).values, [_r(3, 4)], True)],
    "cummax": [(lambda x: x.cummax(1).values, [_r(3, 4)], True)],
    "cummin": [(lambda x: zeroin.cummin(x, 0).values, [_r(3, 4)], True)],
    "pdist": [(zeroin.pdist, [_r(4, 3)], True),
              (lambda x: zeroin.pdist(x, 3), [_r(4, 3)], True),
              (lambda x: _F().pdist(x, 0.5), [_r(3, 2)], True),
              (lambda x: zeroin.pdist(x, float("inf")), [_r(4, 3)], False)],
    "rrelu": [(lambda x: _F().rrelu(x, 0.1, 0.3), [_r(2, 3, kind="kink")], True),
              (lambda x: (zeroin.manual_seed(3), _F().rrelu(x, training=True))[1],
               [_r(2, 3, kind="kink")], True)],
    "logcumsumexp": [(lambda x: x.logcumsumexp(1), [_r(3, 4)], True),
                     (lambda x: zeroin.logcumsumexp(x * 20, 0), [_r(4, 2)], True)],
    "movedim": [(lambda x: x.movedim(0, 2), [_r(2, 3, 2)], True)],
    "nansum": [(lambda x: x.nansum(1), [np.array([[1.5, np.nan, -2.0], [0.5, 1.0, np.nan]])],
                True)],
    # zeroin.linalg (more cases, against torch, in test_linalg.py)
    "inv": [(lambda a: zeroin.linalg.inv(a), [_r(2, 3, 3) + 3 * np.eye(3)], True)],
    "solve": [(lambda a, b: zeroin.linalg.solve(a, b), [_r(3, 3) + 3 * np.eye(3), _r(3, 2)],
               True)],
    "det": [(lambda a: zeroin.linalg.det(a), [_r(2, 3, 3) + 3 * np.eye(3)], True)],
    "slogdet": [(lambda a: zeroin.linalg.slogdet(a).logabsdet, [_r(3, 3) + 3 * np.eye(3)],
                 True)],
    "svd": [(lambda a: (lambda u, s, v: (u * s[..., None, :]) @ v + u[..., :1] * v[..., :1, :1])(
        *zeroin.linalg.svd(a, full_matrices=False)), [_r(2, 4, 3)], True)],
    "svdvals": [(lambda a: zeroin.linalg.svdvals(a), [_r(4, 3)], True)],
    "pinv": [(lambda a: zeroin.linalg.pinv(a), [_r(2, 3, 4)], True)],
    "cholesky": [(lambda a: zeroin.linalg.cholesky((a + a.mT) / 2),
                  [_r(3, 3) @ _r(3, 3).T + 3 * np.eye(3)], True)],
    "qr": [(lambda a: (lambda q, r: q * q[..., :1, :] + r[..., :1, :])(*zeroin.linalg.qr(a)),
            [_r(4, 3)], True)],
    "eigh": [(lambda a: (lambda l, q: q * q * np.arange(3.0) + l)(
        *zeroin.linalg.eigh((a + a.mT) / 2)), [_r(3, 3)], True)],
    "eigvalsh": [(lambda a: zeroin.linalg.eigvalsh((a + a.mT) / 2), [_r(3, 3)], True)],
    # a loss on |V| (the eigenvectors' phases are arbitrary); no double backward
    "eig": [(lambda a: (lambda l, v: v.abs() * 2 + l.real * l.imag)(*zeroin.linalg.eig(a)),
             [_r(3, 3)], False),
            (lambda a: zeroin.linalg.eig(a).eigenvalues, [_r(4, 4)], False)],
    "solve_triangular": [(lambda a, b: zeroin.linalg.solve_triangular(a, b, upper=True),
                          [_r(3, 3) + 3 * np.eye(3), _r(3, 2)], True)],
    "lu_factor_ex": [(lambda a: zeroin.linalg.lu_factor_ex(a).LU, [_r(2, 3, 3)], True),
                     (lambda a: zeroin.linalg.lu_factor_ex(a).LU, [_r(3, 4)], True)],
    "matrix_exp": [(lambda a: zeroin.linalg.matrix_exp(a), [_r(2, 3, 3)], True)],
    "entr": [(lambda x: zeroin.special.entr(x), [np.abs(_r(2, 3)) + 0.1], True)],
    "quantile": [(lambda x: x.quantile(0.3, dim=1), [_r(3, 4)], True),
                 (lambda x: zeroin.quantile(x, np.array([0.2, 0.9])), [_r(3, 4)], True)],
    "nanquantile": [(lambda x: x.nanquantile(0.3, dim=1), [_r(3, 4)], True),
                    (lambda x: zeroin.nanquantile(x, np.array([0.2, 0.9])), [_r(3, 4)], True)],
}

NO_GRADIENT = {
    "argmax": "returns integer indices, a step function of the input",
    "argmin": "returns integer indices, a step function of the input",
    "heaviside": "a step function of the input; as PyTorch's, its result requires grad and "
                 "a backward through it raises: not implemented",
}


def _registered_ops():
    import zeroin.nn  # noqa: F401  (registers the ops defined in zeroin.nn)
    import zeroin.special  # noqa: F401  (and those only zeroin.special has: entr)
    return zeroin.ops.OPS


def test_every_registered_op_has_a_gradient_check_case():
    ops = _registered_ops()
    missing = sorted(set(ops) - set(GRADCHECK) - set(NO_GRADIENT))
    assert not missing, f"ops without a gradient-check case in GRADCHECK: {missing}"
    stale = sorted((set(GRADCHECK) | set(NO_GRADIENT)) - set(ops))
    assert not stale, f"cases for ops that are not registered: {stale}"
    for name in NO_GRADIENT:
        assert ops[name].cls in (None, zeroin.function.NoDerivativeOp), \
            f"{name} records a Function but is listed as having no gradient"


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_registered_op_gradients(name):
    info = _registered_ops()[name]
    classes = info.cls if isinstance(info.cls, tuple) else (info.cls,)
    for fn, arrays, second in GRADCHECK[name]:
        out = fn(*[leaf(a) for a in arrays])
        recorded = {type(t.grad_fn) for t in zeroin.graph.toposort([out])}
        assert recorded & set(classes), f"the {name} case never records {classes}"
        check_first(fn, *arrays)
        if second:
            check_second(fn, *arrays)


@given(n=st.integers(1, 600), k=st.integers(1, 40), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from(["float64", "float32", "float16"]))
@settings(max_examples=40, deadline=None)
def test_a_bias_gradient_is_the_column_sum_to_the_bit(n, k, seed, dtype):
    # sum_to_array takes (n, k) -> (k,) with one np.add.reduce: NumPy's g.sum(axis=0) exactly
    from zeroin.function import sum_to_array
    g = np.random.default_rng(seed).standard_normal((n, k)).astype(dtype)
    for shape, want in (((k,), g.sum(axis=0)), ((1, k), g.sum(axis=0, keepdims=True)),
                        ((n, 1), g.sum(axis=1, keepdims=True)), ((), g.sum())):
        got = sum_to_array(g, shape)
        assert got.shape == shape and got.dtype == want.dtype
        assert got.tobytes() == want.tobytes()


@given(n=st.integers(1, 3000), scale=st.floats(-8, 8), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from(["float64", "float32", "float16"]))
@settings(max_examples=60, deadline=None)
def test_sum_and_mean_equal_numpys_to_the_bit(n, scale, seed, dtype):
    # SumOp and a float64 full MeanOp skip NumPy's Python wrappers (np.add.reduce, then
    # one division): the values must be NumPy's exactly, whatever the size and scale
    x = (np.random.default_rng(seed).standard_normal(n) * 2.0 ** scale).astype(dtype)
    t = zeroin.tensor(x)
    for got, want in ((t.sum(), x.sum()), (t.mean(), x.mean()),
                      (t.reshape(-1, 1).mean(axis=0), x.reshape(-1, 1).mean(axis=0)),
                      (t.reshape(1, -1).sum(1, keepdims=True), x.reshape(1, -1).sum(1, keepdims=True))):
        assert got.dtype == want.dtype and np.asarray(got.data).tobytes() == np.asarray(want).tobytes()


# --- type promotion -------------------------------------------------------------------------

PROMOTION_DTYPES = ["bool", "uint8", "int8", "int32", "int64", "float16", "float32", "float64"]


def test_elementwise_ops_promote_dtypes_as_pytorch():
    # NumPy widens int64 with float32 to float64 and lets 0-d arrays decide; PyTorch keeps
    # float32 (a float32 model stays float32 after `x * mask.long()` or `x + tensor(1)`)
    torch = pytest.importorskip("torch")
    ops = {"add": lambda L, a, b: a + b, "mul": lambda L, a, b: a * b,
           "maximum": lambda L, a, b: L.maximum(a, b),
           "where": lambda L, a, b: L.where(L.tensor(np.array([True, False])), a, b)}
    checked = 0
    for da in PROMOTION_DTYPES:
        for db in PROMOTION_DTYPES:
            for shape_a, shape_b in (((2,), (2,)), ((), (2,)), ((2,), ())):
                for name, f in ops.items():
                    if name == "add" and da == db == "bool":
                        continue
                    res = []
                    for L in (zeroin, torch):
                        a = L.ones(shape_a, dtype=getattr(L, da))
                        b = L.ones(shape_b, dtype=getattr(L, db))
                        res.append(str(f(L, a, b).dtype).replace("torch.", ""))
                    assert res[0] == res[1], (name, da, shape_a, db, shape_b, res)
                    checked += 1
    assert checked > 500
    assert zeroin.promote_types(zeroin.int64, zeroin.float32) == zeroin.float32
    assert zeroin.result_type(zeroin.tensor(2), zeroin.ones(2, dtype=zeroin.float16)) == \
        zeroin.float16


def test_promotion_keeps_gradients_and_layers_accept_the_result():
    w = zeroin.tensor(0.5, requires_grad=True)                  # float64, 0-d
    x = zeroin.ones(3, dtype=zeroin.float32, requires_grad=True)
    y = x * w                                                   # float32, as PyTorch
    assert y.dtype == zeroin.float32
    (y * zeroin.tensor([1, 2, 3])).sum().backward()             # int64 meets float32
    assert w.grad.dtype == zeroin.float64 and w.grad.item() == 6.0
    assert x.grad.dtype == zeroin.float32
    np.testing.assert_array_equal(x.grad.data, [0.5, 1.0, 1.5])
    emb = zeroin.ones(2, 3, dtype=zeroin.float32)
    mask = zeroin.tensor([[1, 0, 1], [1, 1, 0]])
    lin = zeroin.nn.Linear(3, 2, dtype=zeroin.float32)
    assert lin(emb * mask).dtype == zeroin.float32              # refused as float64 before
    assert ((emb * mask).sum(1) / mask.sum(1)).dtype == zeroin.float32


def test_integer_to_float_ops_give_the_default_dtype_as_pytorch(f32):
    # int / int, sqrt(int), sin(int) are PyTorch's default dtype (float32 here), NumPy's
    # float64: CS231n's positional encoding -torch.arange(0, D, 2) / D met a float32 model
    torch = pytest.importorskip("torch")
    cases = {"div": lambda L, a: -a / 8, "rdiv": lambda L, a: 8 / (a + 1),
             "true_divide": lambda L, a: L.true_divide(a, a + 1), "div_method": lambda L, a:
             a.div(3), "bool": lambda L, a: (a > 2) / 2, "sqrt": lambda L, a: L.sqrt(a),
             "exp": lambda L, a: a.exp(), "sin": lambda L, a: L.sin(a),
             "sigmoid": lambda L, a: L.sigmoid(a), "tanh": lambda L, a: a.tanh(),
             "log1p": lambda L, a: L.log1p(a), "pow": lambda L, a: L.pow(10000, -a / 8),
             "logit": lambda L, a: L.logit(a, eps=0.1), "atan2": lambda L, a: L.atan2(a, a + 1),
             "pow_float": lambda L, a: a ** 0.5, "pow_2.0": lambda L, a: L.pow(a, 2.0),
             # these keep integers
             "abs": lambda L, a: L.abs(-a),
             "floor_div": lambda L, a: a.div(3, rounding_mode="floor"),
             "relu": lambda L, a: L.relu(a), "square": lambda L, a: L.square(a),
             "pow_int": lambda L, a: a ** 2,
             "float64": lambda L, a: a / L.tensor([2.0], dtype=L.float64)}
    for name, f in cases.items():
        z, t = f(zeroin, zeroin.arange(0, 8, 2)), f(torch, torch.arange(0, 8, 2))
        assert str(z.dtype) == str(t.dtype).replace("torch.", ""), (name, z.dtype, t.dtype)
        np.testing.assert_allclose(z.numpy(), t.numpy(), rtol=1e-6, err_msg=name)
    zeroin.set_default_dtype(zeroin.float64)
    assert (zeroin.arange(4) / 2).dtype == zeroin.sqrt(zeroin.arange(4)).dtype == zeroin.float64


def test_cat_and_stack_promote_as_pytorch():
    torch = pytest.importorskip("torch")
    for f in (lambda L, ts: L.cat(ts), lambda L, ts: L.stack(ts)):
        for das in (("float32", "int64"), ("int64", "bool"), ("float64", "float32"),
                    ("int32", "int64", "float16"), ("uint8", "int8")):
            got = [str(f(L, [L.ones(2, dtype=getattr(L, d)) for d in das]).dtype)
                   .replace("torch.", "") for L in (zeroin, torch)]
            assert got[0] == got[1], (das, got)
    w = zeroin.ones(2, dtype=zeroin.float32, requires_grad=True)
    zeroin.cat([w, zeroin.tensor([1, 2])]).sum().backward()
    assert w.grad.dtype == zeroin.float32


def test_cat_and_stack_of_transposed_tensors_are_contiguous_as_pytorch():
    """torch.cat / stack (and a DataLoader's batch) are contiguous whatever the inputs'
    layout; NumPy's keep a transposed one, and the batch's view(n, -1) then failed."""
    torch = pytest.importorskip("torch")
    for L in (zeroin, torch):
        a = L.arange(12.0).reshape(3, 4).t()
        outs = [L.cat([a, a]), L.cat([a, a], 1), L.stack([a, a]), L.stack([a, a], 2),
                L.hstack([a, a]), L.vstack([a, a]), L.dstack([a, a])]
        assert [(o.is_contiguous(), o.stride()) for o in outs] == \
            [(True, (3, 1)), (True, (6, 1)), (True, (12, 3, 1)), (True, (6, 2, 1)),
             (True, (6, 1)), (True, (3, 1)), (True, (6, 2, 1))], L
        assert L.stack([a, a]).view(2, -1).tolist() == [a.reshape(-1).tolist()] * 2


@pytest.mark.parametrize("name", ["cat", "stack"])
def test_cat_and_stack_refuse_tensors_not_in_a_list(name):
    """cat(a, b) read b as the dimension, cat(t) split t into its rows; PyTorch refuses
    both (TypeError), and the fix is one list."""
    f, a = getattr(zeroin, name), zeroin.ones(2, 3)
    with pytest.raises(TypeError) as e:
        f(a, zeroin.ones(2, 3))
    assert (f"{name}: expects a list or tuple of tensors, got a single tensor of shape (2, 3) "
            "(the second one was taken as the dimension)" in str(e.value)
            and f"zeroin.{name}([a, b], dim=0)" in str(e.value)), str(e.value)
    with pytest.raises(TypeError, match=rf"{name}: expects a list.*shape \(2, 3\); put"):
        f(a)
    assert f((a, a)).shape == ((4, 3) if name == "cat" else (2, 2, 3))
    assert f(t for t in (a, a)).shape == f([a, a]).shape     # any iterable of tensors


@pytest.mark.parametrize("name, f, shapes", [
    ("select_scatter", lambda x, s: zeroin.select_scatter(x, s, 1, -1), [(3, 4), (3,)]),
    ("slice_scatter", lambda x, s: x.slice_scatter(s, 1, 1, None, 2), [(3, 4), (3, 2)]),
    ("diagonal_scatter", lambda x, s: zeroin.diagonal_scatter(x, s, -1, 1, 0), [(4, 3), (2,)]),
    ("diagonal_scatter_3d", lambda x, s: x.diagonal_scatter(s, 1, -1, 0), [(4, 2, 3), (2, 3)]),
    ("addbmm", lambda i, a, b: zeroin.addbmm(i, a, b, beta=0.5, alpha=-2), [(2, 4), (3, 2, 5), (3, 5, 4)]),
    ("addr", lambda i, a, b: i.addr(a, b, alpha=3), [(3, 1), (3,), (4,)]),
])
def test_scatter_into_and_add_products_match_finite_differences(name, f, shapes):
    rng = np.random.default_rng(len(name))
    xs = [zeroin.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert zeroin.gradcheck(f, xs)
    assert zeroin.gradgradcheck(f, xs)


def test_scatter_into_writes_a_copy_and_only_the_region():
    x = zeroin.zeros(3, 4)
    y = zeroin.select_scatter(x, zeroin.ones(4), 0, 1)
    assert x.sum().item() == 0 and y.numpy()[1].tolist() == [1, 1, 1, 1] and y.sum().item() == 4
    d = zeroin.diagonal_scatter(x, zeroin.tensor([1.0, 2.0, 3.0]), 1)
    assert d.numpy()[[0, 1, 2], [1, 2, 3]].tolist() == [1, 2, 3] and d.sum().item() == 6
    s = x.slice_scatter(zeroin.ones(3, 2), dim=1, start=0, step=2)
    assert s.numpy()[:, ::2].all() and not s.numpy()[:, 1::2].any()
    with pytest.raises(ValueError, match=r"select_scatter: src has shape \(3,\) but the part of "
                                         r"input it replaces .* has shape \(4,\)"):
        zeroin.select_scatter(x, zeroin.ones(3), 0, 1)
    with pytest.raises(IndexError, match=r"select_scatter: index 3 is out of range"):
        zeroin.select_scatter(x, zeroin.ones(4), 0, 3)
    with pytest.raises(ValueError, match="slice step must be positive"):
        zeroin.slice_scatter(x, x, 0, None, None, -1)


def test_asarray_shares_memory_and_copies_only_when_asked():
    a = np.arange(4.0)
    t = zeroin.asarray(a)
    a[0] = 7.0
    assert t[0].item() == 7.0 and np.shares_memory(t.numpy(), a)
    c = zeroin.asarray(a, copy=True)
    a[1] = 5.0
    assert c[1].item() == 1.0
    x = zeroin.ones(2, requires_grad=True)
    assert zeroin.asarray(x) is x
    assert zeroin.asarray(x, copy=True).grad_fn is not None         # recorded, as clone
    assert not zeroin.asarray(x, requires_grad=False).requires_grad
    with pytest.raises(ValueError, match="asarray: copy=False, but a list"):
        zeroin.asarray([1.0], copy=False)
    with pytest.raises(ValueError, match="asarray: copy=False, but a NumPy array of dtype"):
        zeroin.asarray(a, dtype=zeroin.float32, copy=False)


# --- PyTorch parity found by tests/parity_sweep.py -----------------------------------------

def test_frexp_mantissa_has_torchs_gradient_and_the_exponent_none():
    torch = pytest.importorskip("torch")
    a = np.array([1.5, -3.0, 0.0, 0.3, 1e-30, -7.25])
    zx, tx = zeroin.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    (zm, ze), (tm, te) = zeroin.frexp(zx), torch.frexp(tx)
    assert (zm.requires_grad, ze.requires_grad) == (tm.requires_grad, te.requires_grad) \
        == (True, False)
    assert ze.dtype == np.int32 and ze.tolist() == te.tolist()
    w = np.arange(1.0, 7.0)
    (zm * zeroin.tensor(w)).sum().backward()
    (tm * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(zx.grad.data, tx.grad.numpy())   # 2 ** -e: exact
    # PyTorch makes 2 ** e in float32 (inf / 0 past |x| ~ 1e38 in float64: README)
    x = zeroin.tensor([1e-300, 1e300], requires_grad=True)
    x.frexp()[0].sum().backward()
    assert x.grad.tolist() == [2.0 ** 996, 2.0 ** -997]
    check_first(lambda x: x.frexp().mantissa, np.array([1.5, -3.0, 0.3, -7.25]))


@pytest.mark.parametrize("call", ["unique", "unique_inverse", "unique_dim",
                                  "unique_consecutive", "heaviside", "heaviside_values"])
def test_outputs_without_a_derivative_require_grad_and_refuse_backward_as_torchs(call):
    # PyTorch records unique's / unique_consecutive's values and heaviside's result (the
    # int64 inverse and counts are not) and raises "not implemented" in backward; zeroin
    # made them constants, so backward through them silently gave other leaves gradients
    torch = pytest.importorskip("torch")
    a = np.array([[2.0, -1.0, 2.0], [0.0, 2.0, 2.0]])
    f = {"unique": lambda T, x, v: (T.unique(x),),
         "unique_inverse": lambda T, x, v: T.unique(x, return_inverse=True, return_counts=True),
         "unique_dim": lambda T, x, v: T.unique(x, dim=1, return_counts=True),
         "unique_consecutive": lambda T, x, v: T.unique_consecutive(x, return_counts=True),
         "heaviside": lambda T, x, v: (T.heaviside(x, v.detach()),),
         "heaviside_values": lambda T, x, v: (T.heaviside(x.detach(), v),)}[call]
    results = []
    for T in (torch, zeroin):
        x = T.tensor(a, requires_grad=True)
        v = T.tensor([0.5], dtype=T.float64, requires_grad=True)
        out = f(T, x, v)
        results.append([(o.requires_grad, o.grad_fn is not None, o.tolist()) for o in out])
        with pytest.raises(RuntimeError, match="not implemented"):     # NotImplementedError
            (out[0] * 2).sum().backward()
    assert results[0] == results[1]
    with pytest.raises(NotImplementedError, match=r"the derivative for 'unique' is not "
                                                  r"implemented \(as in PyTorch\); .*detach"):
        zeroin.unique(zeroin.tensor(a, requires_grad=True)).sum().backward()


def test_isin_refuses_bool_tensors_as_torch():
    torch = pytest.importorskip("torch")
    calls = [lambda T: T.isin(T.tensor([True, False]), T.tensor([True])),
             lambda T: T.isin(T.tensor([1, 0, 2]), T.tensor([True])),
             lambda T: T.isin(T.tensor([True, False]), T.tensor([1, 2])),
             lambda T: T.isin(T.tensor([1, 0]), True)]
    for f in calls:
        with pytest.raises(RuntimeError, match="Bool"):
            f(torch)
        with pytest.raises(RuntimeError, match=r"isin: (test_)?elements is a bool (tensor|value)"
                                               r".*isin\(x\.long\(\), y\.long\(\)\)"):
            f(zeroin)
    for T in (torch, zeroin):   # integers and floats still compare by value
        assert T.isin(T.tensor([1, 2, 3]), T.tensor([3.0, 1.0])).tolist() == [True, False, True]


def test_cdist_isclose_allclose_refuse_the_operands_torch_refuses():
    # cdist takes only floating tensors of one dtype; isclose/allclose only two tensors of
    # one dtype (a Python number for other stays zeroin's convenience); NumPy promoted
    torch = pytest.importorskip("torch")
    f32, f64 = np.array([[1.0, 2.0]], np.float32), np.array([[1.0, 2.5]])
    bad = [(lambda T: T.cdist(T.tensor([[1, 2]]), T.tensor([[0.0, 0.0]])), r"cdist: x1 has "
            r"dtype int64; .*floating-point.*x1\.double\(\)"),
           (lambda T: T.cdist(T.tensor([[1.0, 2.0]]), T.tensor([[0, 0]])), r"cdist: x2 has"),
           (lambda T: T.cdist(T.tensor(f32), T.tensor(f64)), r"cdist: .*float32 and float64"),
           (lambda T: T.isclose(T.tensor([1, 2]), T.tensor([1.0, 2.1])), r"isclose: input has "
            r"dtype int64 and other float64; .*isclose\(input, other\.to\(input\.dtype\)\)"),
           (lambda T: T.isclose(T.tensor(f32), T.tensor(f64)), r"isclose: .*float32.*float64"),
           (lambda T: T.isclose(T.tensor([True]), T.tensor([1])), r"isclose: .*bool.*int64"),
           (lambda T: T.allclose(T.tensor([1, 2]), T.tensor([1.0, 2.0])), r"allclose: .*int64"),
           (lambda T: T.tensor(f32).allclose(T.tensor(f64)), r"allclose: .*float32.*"
            r"set_default_dtype\(zeroin\.float32\)")]    # fast.ai's test_close of float32 data
    for f, msg in bad:
        with pytest.raises(RuntimeError):
            f(torch)
        with pytest.raises(RuntimeError, match=msg):
            f(zeroin)
    for f in (lambda T: T.isclose(T.tensor([1, 2]), T.tensor([1, 3])).tolist(),
              lambda T: T.allclose(T.tensor(f32), T.tensor(f32 + 1e-7)),
              lambda T: T.cdist(T.tensor(f32), T.tensor(f32 * 2)).tolist()):
        assert f(zeroin) == f(torch)


def test_topk_gives_equal_values_in_index_order():
    # PyTorch's CPU topk leaves ties in its selection algorithm's order (README); the
    # values agree, and zeroin's indices of equal values are increasing
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3, 3, 2, 3, 1], [0, 0, 0, 0, 0, 0]])
    for k in (1, 2, 3, 4, 6):
        for largest in (True, False):
            z = zeroin.topk(zeroin.tensor(a), k, largest=largest)
            t = torch.topk(torch.tensor(a), k, largest=largest)
            np.testing.assert_array_equal(z.values.numpy(), t.values.numpy())
            idx = z.indices.numpy()
            np.testing.assert_array_equal(np.take_along_axis(a, idx, 1), z.values.numpy())
            same = z.values.numpy()[:, 1:] == z.values.numpy()[:, :-1]
            assert (np.diff(idx, axis=1)[same] > 0).all()


# --- the fast paths found by benchmarks/ops.py (same values as the plain NumPy forms) ------

_SCATTER_INDICES = {
    "rows, repeated": ((50, 8), lambda r: r.integers(-50, 50, (6, 40))),
    "gather's pair": ((6, 30), lambda r: (np.arange(6)[:, None], r.integers(0, 30, (6, 50)))),
    "columns": ((6, 30), lambda r: (slice(None), r.integers(0, 30, 90))),
    "mask": ((6, 30), lambda r: r.random((6, 30)) > 0.5),
    "last axis": ((3, 4, 20), lambda r: (Ellipsis, r.integers(0, 20, 70))),
    "sparse": ((5000,), lambda r: r.integers(0, 5000, 20)),
    "middle axis (pad)": ((3, 9, 4), lambda r: (slice(None), np.r_[1, 0:9, 7, 6])),
    "rows repeated 20x": ((4, 5), lambda r: r.integers(0, 4, 80)),
    "index_add's rows (1-12 each)": ((256, 3), lambda r: r.integers(0, 256, 1024)),
    "columns, once each": ((4, 30), lambda r: (slice(None), r.permutation(30)[:20])),
    "1-D": ((30,), lambda r: r.integers(-30, 30, 100)),
    "1-D, flat positions of 2-D": ((200,), lambda r: r.integers(-200, 200, (7, 30))),
}


@pytest.mark.parametrize("case", list(_SCATTER_INDICES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64])
def test_scatter_array_is_np_add_at(case, dtype):
    # indexing's backward through flat positions adds the same terms in the same order
    from zeroin.function import scatter_array
    rng = np.random.default_rng(0)
    shape, make = _SCATTER_INDICES[case]
    index = make(rng)
    g = (rng.standard_normal(np.zeros(shape)[index].shape) * 100).astype(dtype)
    g.reshape(-1)[::7] = -0.0
    want = np.zeros(shape, dtype)
    np.add.at(want, index, g)
    got = scatter_array(g, index, shape)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))    # -0.0 too
    with pytest.raises(IndexError):
        scatter_array(np.ones((1, 8), dtype), np.array([50]), (50, 8))


def test_gather_family_gradients_against_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    w = rng.standard_normal((20, 6)).astype(np.float32)
    rows = rng.integers(0, 20, (5, 30))          # repeated rows: the gradients add up
    cols = rng.integers(0, 6, (20, 9))
    mask = rng.random((20, 6)) > 0.4
    ops = [lambda T, x: T.nn.functional.embedding(T.tensor(rows), x),
           lambda T, x: x.gather(1, T.tensor(cols)),
           lambda T, x: x.index_select(0, T.tensor(rows[0])),
           lambda T, x: x[T.tensor(rows)],
           lambda T, x: x[T.tensor(mask)],
           lambda T, x: T.nn.functional.pad(x[None], (3, 2), mode="reflect")[0],
           lambda T, x: T.nn.functional.pad(x[None], (2, 3), mode="replicate")[0],
           lambda T, x: x.repeat_interleave(3, dim=1),
           lambda T, x: x.index_select(1, T.tensor(cols[0]))]
    c = rng.standard_normal(200)     # weights: a gradient other than ones
    for f in ops:
        grads = []
        for T in (zeroin, torch):
            x = T.tensor(w, requires_grad=True)
            out = f(T, x)
            (out * T.tensor(c[:out.shape[-1]].astype(np.float32))).sum().backward()
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5, atol=1e-5)
        assert zeroin.gradcheck(lambda x: f(zeroin, x) * 1.5, [leaf(w.astype(np.float64))])


@pytest.mark.parametrize("c", [3, 4, 5, -3, -4, 7, 3.0])
def test_pow_whole_exponent_on_negative_bases(c):
    # |x| ** c with the sign put back (x * x * x for 3, as PyTorch): the values of x ** c
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = np.concatenate([rng.standard_normal(500) * 3, [0.0, -0.0, np.inf, -np.inf, np.nan]])
    a = a.astype(np.float32)
    with np.errstate(all="ignore"):
        want = a.astype(np.float64) ** c
    z = zeroin.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    with np.errstate(all="ignore"):             # 0 ** -3, inf * 0 (NumPy warns)
        zo, to = z ** c, t ** c
    np.testing.assert_allclose(zo.detach().numpy(), want, rtol=3e-7)
    np.testing.assert_allclose(zo.detach().numpy(), to.detach().numpy(), rtol=3e-7)
    np.testing.assert_array_equal(np.signbit(zo.detach().numpy()), np.signbit(to.detach().numpy()))
    if c == 3:
        np.testing.assert_array_equal(zo.detach().numpy(), to.detach().numpy())
    w = np.where(np.isfinite(a), a, 1)
    with np.errstate(all="ignore"):
        (zo[:500] * zeroin.tensor(w[:500])).sum().backward()
    (to[:500] * torch.tensor(w[:500])).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    x = rng.standard_normal(7) + np.sign(rng.standard_normal(7))     # away from 0
    assert zeroin.gradgradcheck(lambda v: v ** c, [leaf(x)])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_where_bits_is_np_where(dtype):
    from zeroin.ops import _where_bits
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal((40, 60)).astype(dtype) for _ in range(2))
    a[0, :4] = b[1, :4] = [np.nan, np.inf, -np.inf, -0.0]
    keep = rng.random((40, 60)) > 0.5
    cases = [(keep, a, b), (keep, b, a[::-1]), (keep[:, :1], a, b), (keep[:5], a[:5], b[:5]),
             (keep, a[:1], np.asarray(b[0, 0])), (keep[:, :1], a[:1], b[:, :1]), (True, a, b)]
    for k, x, y in cases:
        want = np.where(k, x, y)
        got = _where_bits(k, x, y)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("name, kw", [("leaky_relu", {"negative_slope": 0.1}), ("elu", {}),
                                      ("selu", {}), ("celu", {"alpha": 0.7})])
def test_piecewise_activations_on_large_arrays_against_torch(name, kw):
    # 64 x 64 takes the bit-mask select (np.where below 1024 elements)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    a = (rng.standard_normal((64, 64)) * 3).astype(np.float32)
    a[0, :2] = [0.0, -np.inf]      # not -0.0: elu gives 0.0 there, PyTorch -0.0 (as before)
    w = rng.standard_normal((64, 64)).astype(np.float32)
    res = []
    for T in (zeroin, torch):
        x = T.tensor(a, requires_grad=True)
        out = getattr(T.nn.functional, name)(x, **kw)
        (out * T.tensor(w)).sum().backward()
        res.append((out.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.signbit(res[0][0]), np.signbit(res[1][0]))
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-5, atol=1e-6)   # elu: via out
    f = getattr(zeroin.nn.functional, name)
    x = rng.standard_normal((40, 30)) + 0.01       # 1200 elements, away from the kink at 0
    assert zeroin.gradcheck(lambda v: f(v, **kw), [leaf(x[np.abs(x) > 0.05][:1100])])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_array_close_to_logaddexp(dtype):
    from zeroin.ops import softplus_array
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.standard_normal(4000) * 30, [0.0, -0.0, np.inf, -np.inf, np.nan,
                                                           -100.0, 100.0, 1e-8, -1e-8]])
    a = a.astype(dtype)
    with np.errstate(invalid="ignore"):     # NaN in
        exact = np.logaddexp(0, a.astype(np.longdouble))
    got = softplus_array(a)
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(a))
    ok = np.isfinite(exact)
    np.testing.assert_array_equal(got[~ok & ~np.isnan(a)], exact[~ok & ~np.isnan(a)])
    err = np.abs(got[ok] - exact[ok]) / np.spacing(np.abs(got[ok]).astype(dtype))
    assert err.max() <= 3


@pytest.mark.parametrize("name", ["softplus", "mish", "logsigmoid"])
def test_softplus_family_against_torch(name):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    a = (rng.standard_normal((64, 64)) * 8).astype(np.float32)
    res = []
    for T in (zeroin, torch):
        x = T.tensor(a, requires_grad=True)
        out = getattr(T.nn.functional, name)(x)
        (out * out).sum().backward()
        res.append((out.detach().numpy(), x.grad.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-5, atol=1e-6)
    f = getattr(zeroin.nn.functional, name)
    assert zeroin.gradgradcheck(f, [leaf(rng.standard_normal(9) * 4)])


def test_scatter_with_many_repeats_against_torch():
    # the last write of a position wins; every source element gets its position's gradient
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    idx = rng.integers(0, 12, (6, 30))
    src = rng.standard_normal((6, 30))
    x0 = rng.standard_normal((6, 12))
    c = rng.standard_normal((6, 12))
    res = []
    for T in (zeroin, torch):
        x, s = T.tensor(x0, requires_grad=True), T.tensor(src, requires_grad=True)
        out = x.scatter(1, T.tensor(idx), s)
        (out * T.tensor(c)).sum().backward()
        res.append([out.detach().numpy(), x.grad.numpy(), s.grad.numpy()])
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_against_torch_and_second_order(approximate):
    # the exact form's backward reuses the forward's Phi(x) (erf once per step)
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    for dtype, tol in ((np.float32, 1e-6), (np.float64, 1e-13)):
        a = (rng.standard_normal((64, 40)) * 3).astype(dtype)
        c = rng.standard_normal((64, 40)).astype(dtype)
        res = []
        for T in (zeroin, torch):
            x = T.tensor(a, requires_grad=True)
            out = T.nn.functional.gelu(x, approximate=approximate)
            (out * T.tensor(c)).sum().backward()
            res.append((out.detach().numpy(), x.grad.numpy()))
        np.testing.assert_allclose(res[0][0], res[1][0], rtol=tol, atol=tol)
        np.testing.assert_allclose(res[0][1], res[1][1], rtol=10 * tol, atol=10 * tol)
    f = lambda v: zeroin.nn.functional.gelu(v, approximate=approximate)  # noqa: E731
    assert zeroin.gradgradcheck(f, [leaf(rng.standard_normal(8) * 2)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_in_place_steps_give_the_formulas_bits(dtype):
    # forward 0.5 * (1 + erf(x / sqrt 2)) and backward g * (cdf + x * pdf), computed in
    # place: the bits of the formulas written out; the 0-d case takes the formulas
    rng = np.random.default_rng(10)
    a = (rng.standard_normal((32, 48)) * 2).astype(dtype)
    a[0, :4] = [0.0, -0.0, 40.0, -40.0]
    g = rng.standard_normal(a.shape).astype(dtype)
    erf = zeroin._torch_ops._erf_np
    cdf = 0.5 * (1 + erf(a / math.sqrt(2)))
    pdf = np.exp(-0.5 * a * a) * (1 / math.sqrt(2 * math.pi))
    for x, gx in ((a, g), (a[3, 5], g[3, 5])):
        t = zeroin.tensor(x, requires_grad=True)
        out = zeroin.nn.functional.gelu(t)
        out.backward(zeroin.tensor(gx))
        want = (a * cdf, g * (cdf + a * pdf))
        if not np.ndim(x):
            want = tuple(w[3, 5] for w in want)
        for got, w in zip((out.detach().numpy(), t.grad.numpy()), want):
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, w)


def test_where_family_on_large_arrays_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    a, b = (rng.standard_normal((48, 64)).astype(np.float32) for _ in range(2))
    m = rng.random((48, 64)) > 0.5
    c = rng.standard_normal((48, 64)).astype(np.float32)
    ops = [lambda T, x, y: T.where(T.tensor(m), x, y),
           lambda T, x, y: T.where(T.tensor(m[:1]), x, y[:1]),
           lambda T, x, y: x.masked_fill(T.tensor(m), -2.5),
           lambda T, x, y: T.nn.functional.smooth_l1_loss(x, y, reduction="none", beta=0.7)]
    for f in ops:
        res = []
        for T in (zeroin, torch):
            x, y = T.tensor(a, requires_grad=True), T.tensor(b, requires_grad=True)
            out = f(T, x, y)
            (out * T.tensor(c)).sum().backward()
            res.append([out.detach().numpy(), x.grad.numpy(),
                        None if y.grad is None else y.grad.numpy()])
        assert (res[0][2] is None) == (res[1][2] is None)
        for u, v in zip(*[r if r[2] is not None else r[:2] for r in res]):
            np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


def test_where_and_masked_fill_with_a_broadcast_mask_keep_pytorchs_layout():
    # The Annotated Transformer's scores.masked_fill(mask == 0, -1e9), mask (B, 1, 1, T):
    # the bit-mask select had permuted its result ((400, 10, 1, 40) for (8, 4, 10, 10)), so
    # softmax and dropout (drawn in memory order on the torch stream) saw another layout;
    # PyTorch's masked_fill is a contiguous clone filled, its where keeps the input's layout
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    s = rng.standard_normal((8, 4, 10, 10)).astype(np.float32)
    keep = rng.random((8, 1, 1, 10)) > 0.2
    t = rng.standard_normal((8, 10, 4, 10)).astype(np.float32)   # (B, T, H, T), as (B, H, T, T)
    ops = [lambda T, x: x.masked_fill(T.tensor(keep) == 0, -1e9),
           lambda T, x: T.where(T.tensor(keep), x, -1e9),
           lambda T, x: T.where(T.tensor(keep), -1e9, x)]
    for f in ops:
        for make in (lambda T: T.tensor(s), lambda T: T.tensor(t).transpose(1, 2)):
            got, want = (f(T, make(T)) for T in (zeroin, torch))
            assert got.stride() == want.stride()
            np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_advanced_indexing_after_a_slice_is_contiguous_as_pytorchs():
    # x[:, idx] and index_select(1, idx): NumPy's copy comes out transposed, PyTorch's is
    # C-contiguous, so torchattacks-style x[:, idx].view(n, -1) raised here alone
    torch = pytest.importorskip("torch")
    a = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4)
    calls = [lambda T, x: x[:, [0, 2]], lambda T, x: x[:, :, [1, 3]],
             lambda T, x: x.index_select(1, T.tensor([0, 2])),
             lambda T, x: x.index_select(2, T.tensor([3, 0])), lambda T, x: x[:, [0, 2], [1, 3]],
             lambda T, x: x[:, [[0, 1], [1, 2]]], lambda T, x: x[:, 1:3][:, [1]],
             lambda T, x: x[:, 1:3]]                  # a basic slice stays a strided view
    for f in calls:
        got, want = (f(T, T.tensor(a, requires_grad=True)) for T in (zeroin, torch))
        assert got.is_contiguous() == want.is_contiguous()
        assert [s for s, n in zip(got.stride(), got.shape) if n > 1] == \
            [s for s, n in zip(want.stride(), want.shape) if n > 1]     # size 1: any stride
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
    x = zeroin.tensor(a, requires_grad=True)
    x[:, [0, 2]].view(2, -1).sum().backward()          # and its view and gradient work
    np.testing.assert_array_equal(x.grad.numpy()[:, :, 0], [[1, 0, 1], [1, 0, 1]])
    y = zeroin.tensor(a)
    v = y[:, 1:3]
    v[:, 0] = -1.0                                     # the basic slice still writes into y
    assert (y.numpy()[:, 1] == -1).all()


@pytest.mark.parametrize("spec, shapes", [
    ("bij,bjk->bik", [(8, 32, 24), (8, 24, 40)]),
    ("bhqd,bhkd->bhqk", [(2, 4, 32, 16), (2, 4, 32, 16)]),
    ("ij,jk,kl->il", [(64, 70), (70, 8), (8, 5)]),
    ("bii->bi", [(4, 40, 40)]),
])
def test_einsum_large_operands_against_torch(spec, shapes):
    # two or more operands of 4096+ elements take np.einsum's optimize=True (BLAS) path
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(10)
    xs = [rng.standard_normal(s) for s in shapes]
    res = []
    for T in (zeroin, torch):
        ts = [T.tensor(x, requires_grad=True) for x in xs]
        out = T.einsum(spec, *ts)
        (out * out).sum().backward()
        res.append([out.detach().numpy()] + [t.grad.numpy() for t in ts])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_pow_gradient_at_zero_is_inf_or_nan_as_torchs_in_a_shared_scalar_graph():
    # The fast engine's float lane once raised Python's ZeroDivisionError for 0.0 ** -0.5
    # where x feeds two ops (x.abs() ** 0.5 + x); NumPy's and torch's answer is inf
    torch = pytest.importorskip("torch")
    for f in (lambda x: x.abs() ** 0.5 + x, lambda x: x ** 0.5 + x,
              lambda x: x ** -1.0 + x, lambda x: x.abs() ** x.detach() + x + 1):
        x = zeroin.tensor(0.0, dtype=zeroin.float64, requires_grad=True)
        with np.errstate(all="ignore"):
            f(x).backward()
        t = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
        f(t).backward()
        np.testing.assert_equal(x.grad.item(), t.grad.item())


def test_masked_fill_with_a_mask_that_does_not_broadcast_names_itself_and_the_shapes():
    # CS231n's MultiHeadAttention: scores (N, H, S, T).masked_fill(attn_mask == 0, -inf)
    # with a mask made for another length
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        scores = lib.zeros(2, 2, 4, 4)
        with pytest.raises(RuntimeError):
            scores.masked_fill(lib.tril(lib.ones(5, 5)) == 0, float("-inf"))
    with pytest.raises(zeroin.ShapeError, match=r"^masked_fill: the mask and the input of shapes "
                                         r"\(5, 5\) and \(2, 2, 4, 4\) cannot be broadcast"):
        zeroin.zeros(2, 2, 4, 4).masked_fill(zeroin.tril(zeroin.ones(5, 5)) == 0, -1.0)
    causal = zeroin.zeros(2, 2, 4, 4).masked_fill(zeroin.tril(zeroin.ones(4, 4)) == 0, -1.0)
    assert causal.shape == (2, 2, 4, 4) and causal[1, 1].tolist()[0] == [0.0, -1.0, -1.0, -1.0]


def test_masked_fill_takes_one_value_not_a_tensor_of_values():
    """PyTorch's masked_fill (and masked_fill_) take a number or a 0-d tensor; a tensor of
    values broadcast would fill something torch refuses."""
    torch = pytest.importorskip("torch")
    mask = [[True, False, True], [False, True, False]]
    for lib in (zeroin, torch):
        for value in ([1.0, 2.0, 3.0], [[5.0]]):
            with pytest.raises(RuntimeError, match="0-d|0-dimensional"):
                lib.zeros(2, 3).masked_fill(lib.tensor(mask), lib.tensor(value))
            with pytest.raises(RuntimeError, match="0-d|0-dimensional"):
                lib.zeros(2, 3).masked_fill_(lib.tensor(mask), lib.tensor(value))
    with pytest.raises(zeroin.ShapeError, match=r"shape \(3,\).*zeroin.where\(mask, values"):
        zeroin.zeros(2, 3).masked_fill(zeroin.tensor(mask), zeroin.tensor([1.0, 2.0, 3.0]))
    w = zeroin.tensor(2.5, requires_grad=True)         # a 0-d value keeps its gradient
    out = zeroin.zeros(2, 3).masked_fill(zeroin.tensor(mask), w)
    out.sum().backward()
    assert out.tolist() == [[2.5, 0.0, 2.5], [0.0, 2.5, 0.0]] and w.grad.item() == 3.0


def test_softmax_of_integers_is_refused_with_the_fix_and_dtype_computes_in_it():
    labels = zeroin.tensor([[0, 2], [1, 1]])
    for f in (zeroin.softmax, zeroin.log_softmax, zeroin.nn.functional.softmin):
        with pytest.raises(NotImplementedError, match=r"^(log_)?soft(max|min): not implemented "
                           r"for integer or bool input \(int64\).*x\.float\(\), or pass "
                           r"dtype=zeroin\.float32"):
            f(labels, 1)
    y = zeroin.softmax(labels, 1, zeroin.float32)
    assert y.dtype == zeroin.float32 and np.allclose(y.sum(1).numpy(), 1.0)
    x = np.random.default_rng(3).normal(size=(2, 3)).astype(np.float32)
    assert zeroin.gradcheck(lambda a: zeroin.log_softmax(a, 1, dtype=zeroin.float64),
                            (zeroin.tensor(x.astype(np.float64), requires_grad=True),))


def test_relu_against_a_cached_zero_keeps_torchs_bits_and_gradient():
    # relu compares float arrays with a 0-d zero of their dtype, not the Python 0: the same
    # bits (NaN, inf, and -0.0 kept, as PyTorch's relu), dtypes and 0-d results as
    # "x unless x < 0" (np.maximum(x, 0) for int64), and x > 0
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for dt in (np.float32, np.float64, np.int64):
        for shape in [(), (3,), (4, 8), (100, 16), (2, 3, 5)]:
            x = np.asarray(rng.standard_normal(shape) * 3).astype(dt)
            if dt != np.int64 and x.size > 3:
                f = x.reshape(-1)
                f[::3], f[1::5] = -0.0, 0.0
                f[2] = np.nan
            y = zeroin.relu(zeroin.tensor(x))
            want = np.maximum(x, 0) if dt == np.int64 else np.where(x < 0, dt(0), x)
            assert y.dtype == want.dtype and y.shape == want.shape
            assert y.numpy().tobytes() == np.asarray(want).tobytes()
            if dt == np.int64:
                continue
            x[np.isnan(x)] = 1.5            # torch's gradient at NaN is not zeroin's
            w = zeroin.tensor(x, requires_grad=True)
            g = rng.standard_normal(shape).astype(dt)
            zeroin.relu(w).backward(zeroin.tensor(g))
            tw = torch.tensor(x, requires_grad=True)
            torch.relu(tw).backward(torch.tensor(g))
            assert w.grad.dtype == w.dtype
            np.testing.assert_array_equal(w.grad.numpy(), tw.grad.numpy())
    w = zeroin.tensor(np.linspace(-1, 1, 6).reshape(2, 3) + 0.05, requires_grad=True)
    assert zeroin.gradcheck(lambda t: zeroin.relu(t) * t, (w,))


# --- scatter_reduce's sum / mean / amax / amin as one op (ScatterReduceOp) ----------------

def _scatter_case(rng, dtype, ties):
    x = rng.standard_normal((6, 9))
    s = rng.standard_normal((5, 12))
    if ties:                                # few distinct values: ties among self and src
        x, s = np.round(x), np.round(s)
    idx = rng.integers(0, 9, (4, 10))       # smaller than src: some src elements unused
    return x.astype(dtype), s.astype(dtype), idx


def _scatter_composed(x, s, idx, reduce, include_self):
    """The table formulation scatter_reduce used before ScatterReduceOp (prod's still)."""
    from zeroin import _api_names as A, ops as O
    tgt, spos = A._scatter_targets(x, s, idx, 1)
    counts = np.bincount(tgt, minlength=x.numel())
    own = np.full(x.numel(), include_self) | (counts == 0)
    table = A._reduce_table(x, s, tgt, spos, own, counts)
    pad = {"amax": -np.inf, "amin": np.inf}.get(reduce, 0)
    fn = {"amax": O.amax, "amin": O.amin}.get(reduce, O.sum)
    out = A._reduce_rows(x, s, table, fn, pad)
    if reduce == "mean":
        out = out / zeroin.tensor((own + counts).astype(x.dtype).reshape(x.shape))
    return out


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("ties", [True, False])
def test_scatter_reduce_one_op_as_the_composed_table(reduce, include_self, ties):
    # the same values and gradients, bitwise (sums add in the table's row order)
    rng = np.random.default_rng(3)
    xa, sa, idx = _scatter_case(rng, np.float32, ties)
    g = rng.standard_normal(xa.shape).astype(np.float32)
    res = []
    for f in (lambda x, s: x.scatter_reduce(1, zeroin.tensor(idx), s, reduce,
                                            include_self=include_self),
              lambda x, s: _scatter_composed(x, s, idx, reduce, include_self)):
        x, s = zeroin.tensor(xa, requires_grad=True), zeroin.tensor(sa, requires_grad=True)
        out = f(x, s)
        out.backward(zeroin.tensor(g))
        res.append((out.detach().numpy(), x.grad.numpy(), s.grad.numpy()))
    assert zeroin.tensor(xa, requires_grad=True).scatter_reduce(
        1, zeroin.tensor(idx), zeroin.tensor(sa), "amax").grad_fn.name == "scatter_reduce"
    # amax/amin leaving self out: PyTorch's rule (the op's) counts a self equal to the result
    # in the share, which the table (self not in its row) cannot: values only there
    n = 1 if ties and not include_self and reduce in ("amax", "amin") else 3
    for a, b in list(zip(*res))[:n]:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_one_op_against_torch(reduce, include_self):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    # ties too: PyTorch also counts an excluded self equal to the result (its src then
    # gets half the gradient, the other half goes nowhere), and so does zeroin
    for dim, ties in ((1, True), (0, False), (1, False)):
        xa, sa, idx = _scatter_case(rng, np.float32, ties)
        if dim == 0:
            idx = rng.integers(0, 6, (4, 9))
        sa = sa[:idx.shape[0], :idx.shape[1]]       # torch's backward refuses a larger src
        g = rng.standard_normal(xa.shape).astype(np.float32)
        got, want = [], []
        for T, acc in ((zeroin, got), (torch, want)):
            x, s = T.tensor(xa, requires_grad=True), T.tensor(sa, requires_grad=True)
            out = x.scatter_reduce(dim, T.tensor(idx), s, reduce, include_self=include_self)
            out.backward(T.tensor(g))
            acc += [out.detach().numpy(), x.grad.numpy(), s.grad.numpy()]
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reduce", ["sum", "mean", "amax", "amin"])
def test_scatter_reduce_one_op_finite_differences_and_double_backward(reduce):
    rng = np.random.default_rng(5)
    xa, sa, idx = _scatter_case(rng, np.float64, False)
    i = zeroin.tensor(idx)
    for include_self in (True, False):
        def f(x, s):
            return x.scatter_reduce(1, i, s, reduce, include_self=include_self) ** 2
        args = (zeroin.tensor(xa, requires_grad=True), zeroin.tensor(sa, requires_grad=True))
        assert zeroin.gradcheck(f, args)
        assert zeroin.gradgradcheck(f, args)


def test_scatter_reduce_one_op_integers_and_nan():
    torch = pytest.importorskip("torch")
    xa = np.array([[3, -1, 4, 1], [5, 9, -2, 6]])
    sa = np.array([[2, 7, 1, 8], [-8, 2, 8, 1]])
    idx = np.array([[0, 0, 3, 3], [1, 2, 1, 0]])
    for reduce in ("sum", "mean", "amax", "amin"):
        for inc in (True, False):
            got = zeroin.tensor(xa).scatter_reduce(1, zeroin.tensor(idx), zeroin.tensor(sa),
                                                   reduce, include_self=inc)
            want = torch.tensor(xa).scatter_reduce(1, torch.tensor(idx), torch.tensor(sa),
                                                   reduce, include_self=inc)
            assert got.dtype == zeroin.int64
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    x = zeroin.tensor([1.0, np.nan, 2.0])
    out = x.scatter_reduce(0, zeroin.tensor([0, 0]), zeroin.tensor([np.nan, 5.0]), "amax")
    np.testing.assert_array_equal(out.numpy(), [np.nan, np.nan, 2.0])


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_gather_and_scatters_through_flat_positions_as_the_index_tuple(dim):
    # gather / scatter_add / scatter index one flat array: the tuple's values, bitwise
    from zeroin._torch_ops import _along
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 5, 6)).astype(np.float32)
    shape = [3, 4, 5]
    shape[dim] = 9
    idx = rng.integers(0, x.shape[dim], shape)
    d = dim % 3
    g = rng.standard_normal(shape).astype(np.float32)
    t = zeroin.tensor(x, requires_grad=True)
    out = t.gather(dim, zeroin.tensor(idx))
    out.backward(zeroin.tensor(g))
    np.testing.assert_array_equal(out.numpy(), x[_along(idx, d)])
    want = np.zeros_like(x)
    np.add.at(want, _along(idx, d), g)
    np.testing.assert_array_equal(t.grad.numpy(), want)
    s = zeroin.tensor(g, requires_grad=True)
    added = zeroin.tensor(x).scatter_add(dim, zeroin.tensor(idx), s)
    np.testing.assert_array_equal(added.numpy(), x + want)
    added.backward(zeroin.tensor(x))
    np.testing.assert_array_equal(s.grad.numpy(), x[_along(idx, d)])
    put = zeroin.tensor(x).scatter(dim, zeroin.tensor(idx), s)
    last = x.copy()
    for p in np.ndindex(*shape):            # the last write wins, as PyTorch
        q = list(p)
        q[d] = idx[p]
        last[tuple(q)] = g[p]
    np.testing.assert_array_equal(put.numpy(), last)


def test_silu_backward_reuses_the_forward_sigmoid(monkeypatch):
    # the same values as recomputing sigmoid(x), against torch, and second order
    torch = pytest.importorskip("torch")
    from zeroin.function import NP, sigmoid_array
    rng = np.random.default_rng(10)
    calls = []
    monkeypatch.setattr(NP, "sigmoid", staticmethod(lambda x: calls.append(1) or
                                                    sigmoid_array(x)))
    for dtype, tol in ((np.float32, 1e-6), (np.float64, 1e-14)):
        a = (rng.standard_normal((64, 40)) * 4).astype(dtype)
        c = rng.standard_normal((64, 40)).astype(dtype)
        res = []
        for T in (zeroin, torch):
            x = T.tensor(a, requires_grad=True)
            out = T.nn.functional.silu(x)
            (out * T.tensor(c)).sum().backward()
            res.append((out.detach().numpy(), x.grad.numpy()))
        s = sigmoid_array(a)
        np.testing.assert_array_equal(res[0][1], c * (s * (1 + a * (1 - s))))
        np.testing.assert_allclose(res[0][0], res[1][0], rtol=tol, atol=tol)
        np.testing.assert_allclose(res[0][1], res[1][1], rtol=10 * tol, atol=10 * tol)
    assert not calls                        # no second sigmoid in a plain backward
    f = zeroin.nn.functional.silu
    assert zeroin.gradcheck(f, [leaf(rng.standard_normal(8) * 3)])
    assert zeroin.gradgradcheck(f, [leaf(rng.standard_normal(8) * 3)])


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_scatter_reduce_one_op_3d_against_torch(dim):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    xa = rng.standard_normal((3, 4, 5))
    shape = [2, 3, 4]
    shape[dim] = 7
    idx = rng.integers(0, xa.shape[dim], shape)
    sa = rng.standard_normal(shape)
    g = rng.standard_normal(xa.shape)
    for reduce in ("sum", "amin"):
        got, want = [], []
        for T, acc in ((zeroin, got), (torch, want)):
            x, s = T.tensor(xa, requires_grad=True), T.tensor(sa, requires_grad=True)
            out = x.scatter_reduce(dim, T.tensor(idx), s, reduce)
            out.backward(T.tensor(g))
            acc += [out.detach().numpy(), x.grad.numpy(), s.grad.numpy()]
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sigmoid_array_one_exp_as_the_two_exp_form(dtype):
    # max(e**-|x|, x >= 0) / (1 + e**-|x|) is exp(min(x, 0)) / (1 + exp(-|x|)), bitwise
    from zeroin.function import sigmoid_array
    rng = np.random.default_rng(12)
    x = (rng.standard_normal(5000) * 20).astype(dtype)
    x[:9] = [np.inf, -np.inf, 0.0, -0.0, 1e-30, -1e-30, 88.0, -100.0, 3.0]
    want = np.exp(np.minimum(x, 0)) / (1 + np.exp(-np.abs(x)))
    for a in (x, x.reshape(50, 100)[:, ::3], x[:1].reshape(())):
        got = sigmoid_array(a)
        w = want[:a.size].reshape(a.shape) if a.ndim != 2 else want.reshape(50, 100)[:, ::3]
        assert got.dtype == x.dtype
        bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x.itemsize]
        np.testing.assert_array_equal(np.asarray(got).view(bits), np.asarray(w).view(bits))
    assert np.isnan(sigmoid_array(np.array([np.nan, 1.0], dtype))[0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
def test_cumsum_by_slices_is_np_cumsum(dtype):
    # the slice-by-slice loop (axes with 128+ contiguous elements behind) adds the same
    # numbers in the same order as NumPy's accumulate (in PyTorch's accumulation dtype,
    # float64 for float32): the same bits
    from zeroin._torch_ops import _CUM_ACC, _cumsum_array
    acc = _CUM_ACC.get(np.dtype(dtype), dtype)
    rng = np.random.default_rng(13)
    for shape, axis in (((40, 300), 0), ((40, 300), -2), ((3, 7, 130), 1), ((5, 4, 200), 0),
                        ((6, 500), 1), ((30, 64), 0), ((1, 300), 0)):
        x = rng.standard_normal(shape).astype(dtype)
        for a in (x, np.flip(x, axis), x[..., ::2]):
            got, want = _cumsum_array(a, axis), np.cumsum(a, axis=axis, dtype=acc)
            assert got.dtype == dtype
            want = want.astype(dtype)
            np.testing.assert_array_equal(got, want)


def test_cumsum_along_a_leading_dim_against_torch_and_finite_differences():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    a = rng.standard_normal((6, 4, 160)).astype(np.float32)
    c = rng.standard_normal((6, 4, 160)).astype(np.float32)
    for dim in (0, 1, -1):
        res = []
        for T in (zeroin, torch):
            x = T.tensor(a, requires_grad=True)
            out = x.cumsum(dim)
            (out * T.tensor(c)).sum().backward()
            res.append((out.detach().numpy(), x.grad.numpy()))
        np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-5, atol=1e-5)
    x = leaf(rng.standard_normal((3, 130)))
    assert zeroin.gradcheck(lambda v: v.cumsum(0) ** 2, [x])
    assert zeroin.gradgradcheck(lambda v: v.cumsum(0) ** 2, [x])


@pytest.mark.parametrize("read", ["reshape", "view", "flatten", "squeeze", "unsqueeze",
                                  "getitem"])
def test_sole_reader_mark_makes_no_reference_cycle(read):
    """reshape / view / flatten / squeeze / unsqueeze / getitem mark their input's one
    reader (so an in-place write needs no heap scan) by a weak reference: the op holds its
    input, so a strong mark made a cycle that left each step's graph to the cyclic
    collector (LeNet-5's step peaked at 87 MB instead of 20)."""
    import gc
    import weakref
    calls = {"reshape": lambda t: t.reshape(-1), "view": lambda t: t.view(3, 2),
             "flatten": lambda t: t.flatten(), "squeeze": lambda t: t.squeeze(0),
             "unsqueeze": lambda t: t.unsqueeze(0), "getitem": lambda t: t[0]}
    gc.disable()
    try:
        w = zeroin.ones(1, 2, 3, requires_grad=True)
        x = w * 2
        y = calls[read](x)
        gone = weakref.ref(x)
        del x, y
        assert gone() is None
    finally:
        gc.enable()
    x = w * 2                               # and the graph still runs backward
    y = calls[read](x)
    y.sum().backward()
    assert np.array_equal(w.grad.numpy(), np.full((1, 2, 3), 2.0))
