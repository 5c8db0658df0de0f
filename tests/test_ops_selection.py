"""topk, median and kthvalue on long lines: a selection (np.partition) in place of the stable
argsort, with the same indices to the bit (ties in index order, NaN the largest, -0.0 equal
to 0.0), values and gradients against torch and finite differences."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin import _torch_ops as T

from conftest import check_both, leaf


def _line_data(rng, dtype, shape, kind):
    if kind == "ties":
        a = rng.integers(-3, 3, shape).astype(float)
    elif kind == "zeros":
        a = np.where(rng.random(shape) < 0.4, 0.0, rng.standard_normal(shape))
    else:
        a = rng.standard_normal(shape)
    if dtype.startswith("float"):
        a = a.astype(dtype)
        m = rng.random(shape)
        a[m < 0.04] = np.nan
        a[(m > 0.04) & (m < 0.07)] = np.inf
        a[(m > 0.07) & (m < 0.09)] = -np.inf
        a[(m > 0.09) & (m < 0.15)] = -0.0
        a[(m > 0.15) & (m < 0.17)] = -np.nan            # a NaN with its sign bit set
        return a
    if dtype == "bool":
        return a > 0
    return (np.abs(a) if dtype.startswith("uint") else a).astype(dtype)


@given(seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from(["float32", "float64", "float16", "int64", "int32", "int8",
                              "uint8", "bool"]),
       kind=st.sampled_from(["ties", "zeros", "continuous"]),
       n=st.integers(64, 300), lead=st.integers(1, 3), d=st.integers(0, 2))
@settings(max_examples=60, deadline=None)
def test_selection_gives_the_stable_argsorts_indices(seed, dtype, kind, n, lead, d):
    rng = np.random.default_rng(seed)
    shape = [lead, 2, 3]
    shape[d] = n
    a = _line_data(rng, dtype, tuple(shape), kind)
    for k in sorted({1, 2, n // 2, int(rng.integers(1, n // 2 + 1))}):
        for largest in (True, False):
            want = np.take(T._argsort(a, d, largest), range(k), axis=d)
            assert np.array_equal(T._stable_first(a, d, k, largest), want)
    for k in (1, n, int(rng.integers(1, n + 1))):
        assert np.array_equal(T._stable_kth(a, d, k), np.take(T._argsort(a, d), [k - 1], d))
    order = np.argsort(a, axis=d, kind="stable")            # the median's definition
    nans = np.isnan(a).sum(axis=d, keepdims=True) if dtype.startswith("float") else 0
    pos = np.broadcast_to(np.where(nans > 0, n - nans, (n - 1) // 2),
                          order.shape[:d] + (1,) + order.shape[d + 1:])
    assert np.array_equal(T._median_index(a, d), np.take_along_axis(order, pos, d))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("call", [
    lambda T_, x: T_.topk(x, 10, 1), lambda T_, x: T_.topk(x, 7, 0, largest=False),
    lambda T_, x: x.median(1), lambda T_, x: x.median(0, keepdim=True),
    lambda T_, x: x.kthvalue(40, 1), lambda T_, x: x.kthvalue(3, 0),
], ids=["topk", "topk_smallest_dim0", "median", "median_dim0", "kthvalue", "kthvalue_dim0"])
def test_selection_ops_on_long_lines_match_torch(call, dtype):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(3).standard_normal((70, 130)).astype(dtype)  # no ties
    z, t = zeroin.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    zr, tr = call(zeroin, z), call(torch, t)
    np.testing.assert_array_equal(zr.values.numpy(), tr.values.detach().numpy())
    np.testing.assert_array_equal(zr.indices.numpy(), tr.indices.numpy())
    g = np.random.default_rng(4).standard_normal(tuple(tr.values.shape)).astype(dtype)
    zr.values.backward(zeroin.tensor(g))
    tr.values.backward(torch.tensor(g))
    np.testing.assert_array_equal(z.grad.numpy(), t.grad.numpy())


def test_selection_ops_on_long_lines_keep_nan_and_tie_rules_of_torch_values():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(5).integers(0, 4, (3, 100)).astype(np.float32)
    a[0, [7, 50]] = np.nan
    z, t = zeroin.tensor(a), torch.tensor(a)
    for f in (lambda T_, x: T_.topk(x, 20, 1), lambda T_, x: T_.topk(x, 20, 1, largest=False),
              lambda T_, x: x.median(1), lambda T_, x: x.kthvalue(60, 1)):
        np.testing.assert_array_equal(f(zeroin, z).values.numpy(), f(torch, t).values.numpy())
    assert zeroin.median(z, 1).indices.tolist()[0] == 7         # the first NaN, as torch
    assert torch.median(t, 1).indices.tolist()[0] == 7


@pytest.mark.parametrize("fn", [lambda x: x.topk(5, 1).values,
                                lambda x: x.T.topk(4, 0, largest=False).values,
                                lambda x: x.median(1).values, lambda x: x.median(),
                                lambda x: x.kthvalue(30, 1).values])
def test_selection_ops_on_long_lines_gradcheck(fn):
    a = np.random.default_rng(6).permutation(3 * 80).reshape(3, 80) / 7.0   # distinct
    check_both(fn, a)
    assert fn(leaf(a)).requires_grad
