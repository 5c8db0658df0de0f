"""PyTorch parity where values and gradients are delicate: kinks and ties, zeros, NaN and
infinite inputs, extreme logits, empty and one-element reductions, float32 accumulation.

Each case is ``f(T, *leaves)`` on exact inputs. It runs with ``torch`` and with ``zeroin``
in float64 and in float32; the values, the gradients of ``sum(w * y)`` for the first output
``y`` (NaN and infinities where PyTorch has them) and the categories of the warnings must
agree. NumPy's RuntimeWarnings (``log(0)``, ``1 / 0``) are left out: zeroin gives them where
PyTorch is silent, a deliberate difference listed in the README.
"""
import builtins
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import zeroin

torch = pytest.importorskip("torch")

from test_pytorch_parity import _torch_float64, weights  # noqa: E402,F401

NAN, INF = float("nan"), float("inf")
TOL = {"float64": dict(rtol=1e-9, atol=1e-12), "float32": dict(rtol=2e-5, atol=1e-6)}


def _array(v):
    return np.array(v.detach().numpy() if hasattr(v, "detach") else v)


def outcome(T, f, arrays, dtype):
    """``f``'s outputs, the leaves' gradients and the warnings' categories, or the type of
    the exception it raised."""
    dt = getattr(T, dtype)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            xs = [T.tensor(np.array(a), dtype=dt, requires_grad=True) for a in arrays]
            ys = f(T, *xs)
            ys = tuple(ys) if isinstance(ys, tuple) else (ys,)
            values = [_array(y) for y in ys]
            if ys[0].requires_grad:
                w = T.tensor(weights(tuple(ys[0].shape)) + 2, dtype=dt)   # in [1, 3]
                (ys[0] * w).sum().backward()
            grads = [None if x.grad is None else _array(x.grad) for x in xs]
        except Exception as e:      # noqa: BLE001 - compared with PyTorch's
            return type(e)
    kinds = sorted({w.category.__name__ for w in seen
                    if not issubclass(w.category, RuntimeWarning)})
    return values, grads, kinds


def agree(rt, rz, dtype, where, rtol=None):
    """zeroin's outcome ``rz`` against PyTorch's ``rt`` (``rtol`` to loosen float64's)."""
    if isinstance(rt, type) or isinstance(rz, type):
        assert isinstance(rt, type) and isinstance(rz, type), f"{where}: {rt} vs {rz}"
        return
    (vt, gt, wt), (vz, gz, wz) = rt, rz
    assert wz == wt, f"{where}: warnings {wz}, PyTorch {wt}"
    for kind, ts, zs in (("value", vt, vz), ("grad", gt, gz)):
        for i, (a, b) in enumerate(zip(ts, zs)):
            at = f"{where}: {kind} {i}"
            assert (a is None) == (b is None), at
            if a is None:
                continue
            assert a.shape == b.shape and a.dtype == b.dtype, f"{at}: {b.dtype}{b.shape} " \
                                                              f"vs {a.dtype}{a.shape}"
            if a.dtype.kind in "biu":
                np.testing.assert_array_equal(b, a, err_msg=at)
            else:
                tol = dict(TOL[dtype], rtol=builtins.max(rtol or 0, TOL[dtype]["rtol"]))
                np.testing.assert_allclose(b, a, err_msg=at, **tol)


def F(T):
    return T.nn.functional


KINK = [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 6.0, 2.0]
CASES = {
    # kinks: the gradient at the boundary itself (clamp's bounds pass it, relu's 0 not)
    "relu": (lambda T, x: T.relu(x), [KINK]),
    "leaky_relu": (lambda T, x: F(T).leaky_relu(x, 0.1), [KINK + [NAN]]),
    "hardtanh": (lambda T, x: F(T).hardtanh(x, -0.5, 0.5), [KINK]),
    "relu6": (lambda T, x: F(T).relu6(x), [KINK]),
    "abs": (lambda T, x: x.abs(), [KINK + [-0.0]]),
    "clamp": (lambda T, x: x.clamp(-1, 1), [KINK + [NAN]]),
    "clamp_min": (lambda T, x: T.clamp(x, min=0.0), [KINK]),
    "clip_max": (lambda T, x: x.clip(max=0.5), [KINK]),
    "clamp_inverted": (lambda T, x: x.clamp(1, -1), [KINK]),
    "clamp_tensor_at_bounds": (lambda T, x, lo, hi: T.clamp(x, lo, hi),
                               [[0.0, 1.0, 2.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0, 1.0],
                                [0.0, 1.0, 2.0, 1.0, 1.0]]),
    "hinge_at_zero": (lambda T, f, y: T.relu(1 - y * f),
                      [[1.0, -1.0, 0.5, 2.0], [1.0, -1.0, 1.0, 1.0]]),
    "hinge_clamp_at_zero": (lambda T, f, y: (1 - y * f).clamp(min=0),
                            [[1.0, -1.0, 0.5, 2.0], [1.0, -1.0, 1.0, 1.0]]),
    "softshrink": (lambda T, x: F(T).softshrink(x, 0.5), [[-0.5, 0.5, 0.0, -4.0, 4.0]]),
    "hardshrink": (lambda T, x: F(T).hardshrink(x, 0.5), [[-0.5, 0.5, 0.0, -4.0, 4.0]]),
    "threshold": (lambda T, x: F(T).threshold(x, 0.5, -1.0), [[-0.5, 0.5, 0.0, -4.0, 4.0]]),
    "hardswish": (lambda T, x: F(T).hardswish(x), [[-3.0, 3.0, 0.0, -4.0, 4.0]]),
    "elu_at_0": (lambda T, x: F(T).elu(x), [[0.0, -1.0, 1.0]]),
    "softplus_at_threshold": (lambda T, x: F(T).softplus(x, threshold=2),
                              [[2.0, 1.9, 2.1, 0.0]]),
    "smooth_l1_at_beta": (lambda T, a, b: F(T).smooth_l1_loss(a, b, reduction="none"),
                          [[0.0, 1.0, 2.0, 0.5, -1.0], [1.0, 0.0, 2.0, 0.0, 0.0]]),
    "smooth_l1_beta_half": (lambda T, a, b: F(T).smooth_l1_loss(a, b, reduction="none",
                                                                beta=0.5),
                            [[0.0, 1.0, 2.0, 0.5, -0.5], [1.0, 0.0, 2.0, 0.0, 0.0]]),
    "smooth_l1_beta_0": (lambda T, a, b: F(T).smooth_l1_loss(a, b, beta=0.0),
                         [[0.0, 1.0, 2.0, 0.5], [1.0, 0.0, 2.0, 0.5]]),
    "huber_at_delta": (lambda T, a, b: F(T).huber_loss(a, b, reduction="none", delta=0.5),
                       [[0.0, 1.0, 2.0, 0.5, -0.5], [1.0, 0.0, 2.0, 0.0, 0.0]]),
    "l1_at_0": (lambda T, a, b: F(T).l1_loss(a, b, reduction="none"),
                [[0.0, 1.0, 2.0], [0.0, 0.0, 2.0]]),
    "hinge_embedding_at_margin": (lambda T, x, y: F(T).hinge_embedding_loss(
        x, y, reduction="none"), [[1.0, 0.5, 2.0, 1.0], [-1.0, -1.0, 1.0, -1.0]]),
    "margin_ranking_at_0": (lambda T, a, b, y: F(T).margin_ranking_loss(
        a, b, y, reduction="none"), [[1.0, 0.0, 2.0], [1.0, 0.0, 1.0], [1.0, 1.0, -1.0]]),
    "multi_margin_at_0": (lambda T, x: F(T).multi_margin_loss(x, T.tensor([0, 1]),
                                                             reduction="none"),
                          [[[1.0, 0.0, 2.0], [1.0, 0.0, 1.0]]]),
    "multi_margin_p2_at_0": (lambda T, x: F(T).multi_margin_loss(x, T.tensor([0, 1]), p=2),
                             [[[1.0, 0.0, 2.0], [1.0, 0.0, 1.0]]]),
    "cosine_embedding_at_margin": (lambda T, a, b: F(T).cosine_embedding_loss(
        a, b, T.tensor([1, -1]), reduction="none"), [[[1.0, 0.0], [1.0, 0.0]],
                                                     [[1.0, 0.0], [0.0, 1.0]]]),
    # ties: amax/amin (and their full forms) share, max(dim)/min(dim) pick one index
    "max_all_ties": (lambda T, x: x.max(), [[1.0, 3.0, 3.0, 0.0]]),
    "min_all_ties": (lambda T, x: T.min(x), [[1.0, 0.0, 3.0, 0.0]]),
    "amax_dim_ties": (lambda T, x: x.amax(1), [[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]]]),
    "amin_dim_ties": (lambda T, x: x.amin(0), [[[1.0, 3.0, 3.0, 0.0], [1.0, 3.0, 2.0, 0.0]]]),
    "amax_dims_ties": (lambda T, x: x.amax((0, 1)), [[[1.0, 3.0, 3.0], [3.0, 2.0, 2.0]]]),
    "amax_nan": (lambda T, x: x.amax(), [[1.0, NAN, 3.0]]),
    "amax_dim_nan": (lambda T, x: x.amax(1), [[[1.0, NAN, 3.0], [1.0, 2.0, 2.0]]]),
    "max_dim_ties": (lambda T, x: x.max(1), [[[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]]]),
    "min_dim_ties": (lambda T, x: x.min(1), [[[1.0, 0.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]]]),
    "max_dim0_keepdim": (lambda T, x: T.max(x, 0, keepdim=True),
                         [[[1.0, 3.0, 3.0, 0.0], [1.0, 3.0, 2.0, 2.0]]]),
    "max_dim_nans": (lambda T, x: x.max(0), [[1.0, NAN, 3.0, NAN]]),
    "min_dim_nans": (lambda T, x: x.min(0), [[1.0, NAN, 3.0, NAN]]),
    "max_all_inf": (lambda T, x: x.max(), [[1.0, INF, 3.0, INF]]),
    # max(), min() and median() of all values share the gradient among the elements equal
    # to the result, the NaNs where it is NaN (PyTorch's evenly_distribute_backward)
    "max_all_nans": (lambda T, x: x.max(), [[1.0, NAN, 3.0, NAN]]),
    "min_all_nans": (lambda T, x: x.min(), [[1.0, NAN, 3.0, NAN]]),
    "median_all_ties": (lambda T, x: x.median(), [[3.0, 1.0, 3.0, 1.0, 2.0, 2.0]]),
    "median_all_ties_2d": (lambda T, x: T.median(x), [[[2.0, 1.0], [2.0, 3.0]]]),
    "median_all_nans": (lambda T, x: x.median(), [[1.0, NAN, 3.0, NAN]]),
    "nanmedian_all_ties": (lambda T, x: x.nanmedian(), [[2.0, NAN, 1.0, 2.0]]),
    "nanmedian_all_nan": (lambda T, x: T.nanmedian(x), [[NAN, NAN]]),
    "sort_ties": (lambda T, x: x.sort(), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "sort_descending_ties": (lambda T, x: x.sort(descending=True), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "sort_stable_ties": (lambda T, x: x.sort(stable=True, descending=True),
                         [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "topk_ties": (lambda T, x: x.topk(2), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "topk_smallest_ties": (lambda T, x: x.topk(2, largest=False), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "kthvalue_ties": (lambda T, x: x.kthvalue(2), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "kthvalue_ties_4": (lambda T, x: x.kthvalue(4), [[3.0, 1.0, 3.0, 1.0, 2.0]]),
    "median_dim_ties": (lambda T, x: x.median(0), [[3.0, 1.0, 3.0, 1.0, 2.0, 2.0]]),
    "median_dim_nan": (lambda T, x: x.median(0), [[1.0, NAN, 3.0, NAN]]),
    "cummax_ties": (lambda T, x: x.cummax(0), [[1.0, 3.0, 3.0, 2.0, 3.0]]),
    "cummin_ties": (lambda T, x: x.cummin(0), [[3.0, 1.0, 1.0, 2.0, 1.0]]),
    "maximum_ties": (lambda T, a, b: T.maximum(a, b), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    "minimum_ties": (lambda T, a, b: T.minimum(a, b), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    "max_of_two_ties": (lambda T, a, b: T.max(a, b), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]]),
    "fmax_nan": (lambda T, a, b: T.fmax(a, b), [[1.0, NAN, 3.0], [1.0, 0.0, NAN]]),
    "maximum_nan": (lambda T, a, b: T.maximum(a, b), [[1.0, NAN, 3.0], [1.0, 0.0, NAN]]),
    "minimum_nan": (lambda T, a, b: T.minimum(a, b), [[1.0, NAN, 3.0], [1.0, 0.0, NAN]]),
    # zeros: norms, roots and powers
    "norm_at_0": (lambda T, x: x.norm(), [[0.0, 0.0, 0.0]]),
    "norm_dim_at_0": (lambda T, x: x.norm(dim=1), [[[0.0, 0.0], [3.0, 4.0]]]),
    "vector_norm_at_0": (lambda T, x: T.linalg.vector_norm(x), [[0.0, 0.0, 0.0]]),
    "matrix_norm_at_0": (lambda T, x: T.linalg.matrix_norm(x), [[[0.0, 0.0], [0.0, 0.0]]]),
    "dist_at_0": (lambda T, a, b: T.dist(a, b), [[1.0, 2.0], [1.0, 2.0]]),
    "cdist_at_0": (lambda T, a, b: T.cdist(a, b), [[[1.0, 2.0]], [[1.0, 2.0]]]),
    "pairwise_distance_at_0": (lambda T, a, b: F(T).pairwise_distance(a, b),
                               [[[1.0, 2.0]], [[1.0, 2.0]]]),
    "cosine_similarity_at_0": (lambda T, a, b: F(T).cosine_similarity(a, b),
                               [[[0.0, 0.0]], [[1.0, 2.0]]]),
    "normalize_at_0": (lambda T, a: F(T).normalize(a, dim=1), [[[0.0, 0.0], [1.0, 0.0]]]),
    "sqrt_at_0": (lambda T, x: x.sqrt(), [[0.0, 1.0, -1.0, 4.0, -0.0]]),
    "rsqrt_at_0": (lambda T, x: x.rsqrt(), [[0.0, 1.0, -1.0, 4.0]]),
    "pow_0": (lambda T, x: x ** 0, [[0.0, 1.0, -1.0]]),
    "pow_half": (lambda T, x: x ** 0.5, [[0.0, 1.0, -1.0]]),
    "pow_1": (lambda T, x: x ** 1, [[0.0, 1.0, -1.0]]),
    "pow_2": (lambda T, x: x ** 2, [[0.0, 1.0, -1.0]]),
    "pow_3": (lambda T, x: T.pow(x, 3), [[0.0, 1.0, -1.0]]),
    "pow_minus_1": (lambda T, x: x ** -1, [[0.0, 1.0, -1.0]]),
    "pow_minus_half": (lambda T, x: x ** -0.5, [[0.0, 1.0, -1.0]]),
    "pow_1_5": (lambda T, x: x ** 1.5, [[0.0, 1.0, -1.0]]),
    "square_at_0": (lambda T, x: x.square(), [[0.0, 1.0, -1.0]]),
    "x_times_x_at_0": (lambda T, x: x * x, [[0.0, 1.0, -1.0]]),
    # the exponent's gradient: 0 at 0 ** p for p >= 0, -inf for p < 0, NaN for a base < 0
    "pow_tensors_at_0": (lambda T, x, p: x ** p,
                         [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, -2.0, -2.0, -1.0],
                          [0.0, 0.5, 1.0, 2.0, -1.0, 3.0, 0.0, 0.5, 2.0, 3.0]]),
    "pow_number_base_0": (lambda T, p: 0.0 ** p, [[0.0, 0.5, 1.0, 2.0, -1.0]]),
    "pow_number_base_2": (lambda T, p: 2.0 ** p, [[0.0, 0.5, 1.0, 2.0, -1.0]]),
    "pow_number_base_negative": (lambda T, p: (-2.0) ** p, [[0.0, 0.5, 1.0, 2.0, -1.0]]),
    "pow_fn_number_base_0": (lambda T, p: T.pow(0.0, p), [[0.0, 0.5, 1.0, 2.0, -1.0]]),
    # steps: gradient 0
    "sign": (lambda T, x: x.sign(), [[0.0, 1.0, -1.0, -0.0]]),
    "round": (lambda T, x: x.round(), [[0.5, 1.5, -0.5, 2.4]]),
    "round_decimals": (lambda T, x: x.round(decimals=1), [[0.25, 1.55, -0.5]]),
    "floor": (lambda T, x: x.floor(), [[0.5, 1.0, -0.5]]),
    "ceil": (lambda T, x: x.ceil(), [[0.5, 1.0, -0.5]]),
    "trunc": (lambda T, x: x.trunc(), [[0.5, 1.0, -0.5]]),
    "frac": (lambda T, x: x.frac(), [[0.5, 1.0, -0.5]]),
    # where and masked_fill: the unselected branch's NaN gradient comes through (0 * NaN)
    "where_sqrt_negative": (lambda T, x: T.where(x > 0, x.sqrt(), T.zeros_like(x)),
                            [[-1.0, 0.0, 4.0]]),
    "where_log_0": (lambda T, x: T.where(x > 0, x.log(), x), [[-1.0, 0.0, 4.0]]),
    "where_reciprocal_0": (lambda T, x: T.where(x != 0, 1 / x, x), [[-1.0, 0.0, 4.0]]),
    "where_number": (lambda T, x: T.where(x > 0, x, 0.0), [[-1.0, 0.0, 4.0]]),
    "masked_fill": (lambda T, x: x.masked_fill(x < 0, 0.0), [[-1.0, 0.0, 4.0]]),
    "masked_fill_log": (lambda T, x: x.log().masked_fill(x <= 0, 0.0), [[-1.0, 0.0, 4.0]]),
    "masked_fill_minus_inf": (lambda T, x: x.masked_fill(x < 0, -INF).softmax(0),
                              [[-1.0, 0.0, 4.0]]),
}


def _masked_rows(T, x):
    """softmax of a -inf-masked row: the second row is fully masked, so NaN there."""
    return x.masked_fill(T.tensor([[True, False, True], [True, True, True]]), -INF).softmax(-1)


def _attention_by_hand(T, q, k, v):
    """Attention written out, its fully masked query zeroed after the softmax."""
    s = (q @ k.transpose(-2, -1)).masked_fill(~T.tensor(ATTEND), -INF).softmax(-1)
    return s.masked_fill(s.isnan(), 0.0) @ v


ROWS = [[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]]
ATTEND = [[True, False, True], [False, False, False], [True, True, True]]  # query 1: no key
QKV = [(np.arange(24.0).reshape(2, 3, 4) % 7 / 3 - 1).tolist(),
       (np.arange(24.0).reshape(2, 3, 4) % 5 / 2 - 1).tolist(),
       (np.arange(24.0).reshape(2, 3, 4) % 3 - 1.0).tolist()]
CASES.update({
    # an inf or NaN gradient arriving where a mask dropped the input: PyTorch's rules select,
    # so the input's gradient there is 0 (sqrt at 0 sends inf; the dead softmax row NaN)
    "masked_row_nan_to_num": (lambda T, x: _masked_rows(T, x).nan_to_num(0.0), ROWS),
    "masked_row_masked_fill": (lambda T, x: _masked_rows(T, x).masked_fill(
        T.tensor([[False] * 3, [True] * 3]), 0.0), ROWS),
    "masked_row_where": (lambda T, x: (lambda p: T.where(p.isnan(), T.zeros_like(p), p))(
        _masked_rows(T, x)), ROWS),
    "masked_row_where_number": (lambda T, x: (lambda p: T.where(p.isnan(), 0.0, p))(
        _masked_rows(T, x)), ROWS),
    "attention_by_hand_masked_row": (_attention_by_hand, QKV),
    "sdpa_bool_masked_row": (lambda T, q, k, v: F(T).scaled_dot_product_attention(
        q, k, v, attn_mask=T.tensor(ATTEND)), QKV),
    "sdpa_float_masked_row": (lambda T, q, k, v: F(T).scaled_dot_product_attention(
        q, k, v, attn_mask=T.where(T.tensor(ATTEND), 0.0, -INF).to(q.dtype)), QKV),
    "where_inf_gradient_unselected": (lambda T, x, y: T.where(x > 0, x, y).sqrt(),
                                      [[-1.0, 0.0, 4.0], [0.0, 0.0, 1.0]]),
    "nan_to_num_inf_gradient": (lambda T, x: T.nan_to_num(x, 0.0, 0.0, 0.0).sqrt(),
                                [[NAN, INF, 4.0, -INF]]),
    "clamp_min_sqrt": (lambda T, x: x.clamp(min=0).sqrt(), [[-1.0, 0.0, 4.0]]),
    "clamp_max_log": (lambda T, x: (1 - x.clamp(max=1)).log(), [[2.0, 1.0, 0.0]]),
    "clamp_tensor_sqrt": (lambda T, x, lo: T.clamp(x, min=lo).sqrt(),
                          [[-1.0, 0.0, 4.0], [0.0, 0.0, 0.0]]),
    "clamp_tensors_sqrt": (lambda T, x, lo, hi: (T.clamp(x, lo, hi) - lo).sqrt(),
                           [[-1.0, 0.0, 4.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]),
    "hardtanh_sqrt": (lambda T, x: (F(T).hardtanh(x) + 1).sqrt(), [[-2.0, 0.0, 4.0]]),
    "relu6_sqrt": (lambda T, x: F(T).relu6(x).sqrt(), [[-2.0, 0.0, 4.0]]),
    "threshold_sqrt": (lambda T, x: F(T).threshold(x, 0.5, 0.0).sqrt(), [[-2.0, 0.0, 4.0]]),
    "hardshrink_sqrt": (lambda T, x: F(T).hardshrink(x, 0.5).abs().sqrt(), [[-2.0, 0.0, 4.0]]),
    "softshrink_sqrt": (lambda T, x: F(T).softshrink(x, 0.5).abs().sqrt(), [[-2.0, 0.0, 4.0]]),
    "hardshrink_nan": (lambda T, x: F(T).hardshrink(x, 0.5), [[NAN, 0.2, -3.0]]),
    "softshrink_nan": (lambda T, x: F(T).softshrink(x, 0.5), [[NAN, 0.2, -3.0]]),
    "maximum_sqrt": (lambda T, x: T.maximum(x, T.zeros_like(x)).sqrt(), [[-1.0, 0.0, 4.0]]),
    "minimum_sqrt": (lambda T, x, y: T.minimum(x, y).sqrt(), [[-1.0, 0.0, 4.0], [0.0, 0.0, 1.0]]),
    "setitem_sqrt": (lambda T, x: (lambda y: (y.__setitem__(x.detach() < 0, 0.0), y.sqrt())[1])(
        x * 1), [[-1.0, 0.0, 4.0]]),
    "index_put_sqrt": (lambda T, x: x.index_put((T.tensor([0]),), T.tensor(0.0, dtype=x.dtype))
                       .sqrt(), [[-1.0, 0.0, 4.0]]),
    "index_fill_sqrt": (lambda T, x: x.index_fill(0, T.tensor([0]), 0.0).sqrt(),
                        [[-1.0, 0.0, 4.0]]),
    "scatter_sqrt": (lambda T, x: x.scatter(0, T.tensor([0]), 0.0).sqrt(), [[-1.0, 0.0, 4.0]]),
    "index_select_sqrt": (lambda T, x: x.index_select(0, T.tensor([2])).sqrt(),
                          [[-1.0, 0.0, 4.0]]),
    "gather_sqrt": (lambda T, x: x.gather(0, T.tensor([2, 2])).sqrt(), [[-1.0, 0.0, 4.0]]),
    "triu_sqrt": (lambda T, x: x.triu(1).sqrt(), [[[-1.0, 4.0], [-2.0, 1.0]]]),
    "tril_sqrt": (lambda T, x: T.tril(x).sqrt(), [[[1.0, -4.0], [2.0, 1.0]]]),
    "hardsigmoid_sqrt": (lambda T, x: F(T).hardsigmoid(x).sqrt(), [[-4.0, 0.0, 4.0]]),
    "hardswish_sqrt": (lambda T, x: F(T).hardswish(x).sqrt(), [[-4.0, 0.0, 4.0]]),
    # nansum's rule is a multiply in PyTorch: an inf gradient gives NaN at the NaN element
    "nansum_inf_gradient": (lambda T, x: T.nansum(x) * INF, [[NAN, 1.0, 2.0]]),
})


LOGITS = [[1e4, -1e4, 0.0], [-INF, 0.0, 1.0], [-INF, -INF, -INF], [INF, 0.0, 1.0],
          [-1e4, -1e4, -1e4]]
FINITE = [[1e4, -1e4, 0.0], [-INF, 0.0, 1.0], [-1e4, -1e4, -1e4]]   # a -inf, no full row
BIG = [-1000.0, -100.0, -30.0, 0.0, 30.0, 100.0, 1000.0]
CASES.update({
    # extreme logits, -inf entries and a fully masked row
    "softmax": (lambda T, x: x.softmax(1), [LOGITS]),
    "softmax_dim0": (lambda T, x: x.softmax(0), [LOGITS]),
    "log_softmax": (lambda T, x: x.log_softmax(1), [LOGITS]),
    "log_softmax_finite_rows": (lambda T, x: x.log_softmax(1), [FINITE]),
    "softmin": (lambda T, x: F(T).softmin(x, 1), [LOGITS]),
    "logsumexp": (lambda T, x: x.logsumexp(1), [LOGITS]),
    "logsumexp_dims": (lambda T, x: x.logsumexp((0, 1)), [FINITE]),
    "logsumexp_inf": (lambda T, x: T.logsumexp(x, 0), [[INF, INF, 1.0]]),
    "cross_entropy": (lambda T, x: F(T).cross_entropy(x, T.tensor([0, 2, 2])), [FINITE]),
    "cross_entropy_masked_row": (lambda T, x: F(T).cross_entropy(
        x, T.tensor([0, 2, 2, 1, 1]), reduction="none"), [LOGITS]),
    "cross_entropy_target_at_minus_inf": (lambda T, x: F(T).cross_entropy(
        x, T.tensor([0]), reduction="none"), [[[-INF, 0.0, 1.0]]]),
    "cross_entropy_smoothing": (lambda T, x: F(T).cross_entropy(
        x, T.tensor([0, 2, 2]), label_smoothing=0.1), [FINITE]),
    "cross_entropy_smoothing_minus_inf": (lambda T, x: F(T).cross_entropy(
        x, T.tensor([1]), label_smoothing=0.1), [[[-INF, 0.0, 1.0]]]),
    "cross_entropy_probabilities": (lambda T, x: F(T).cross_entropy(
        x, T.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]], dtype=x.dtype)),
        [FINITE]),
    "cross_entropy_all_ignored": (lambda T, x: F(T).cross_entropy(x, T.tensor([-100, -100])),
                                  [[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]),
    "nll_loss": (lambda T, x: F(T).nll_loss(x, T.tensor([0, 2, 2])), [FINITE]),
    # saturating functions at +-1000
    "sigmoid": (lambda T, x: x.sigmoid(), [BIG]),
    "tanh": (lambda T, x: x.tanh(), [BIG]),
    "softplus": (lambda T, x: F(T).softplus(x), [BIG]),
    "softplus_beta": (lambda T, x: F(T).softplus(x, beta=2.0), [BIG]),
    "logsigmoid": (lambda T, x: F(T).logsigmoid(x), [BIG]),
    "log1p": (lambda T, x: x.log1p(), [[-1.0, 1000.0, 1e-20, 0.0, -2.0]]),
    "expm1": (lambda T, x: x.expm1(), [BIG]),
    "exp": (lambda T, x: x.exp(), [BIG]),
    "silu": (lambda T, x: F(T).silu(x), [BIG]),
    "mish": (lambda T, x: F(T).mish(x), [BIG]),
    "gelu": (lambda T, x: F(T).gelu(x), [BIG]),
    "gelu_tanh": (lambda T, x: F(T).gelu(x, approximate="tanh"), [BIG]),
    "elu": (lambda T, x: F(T).elu(x), [BIG]),
    "selu": (lambda T, x: F(T).selu(x), [BIG]),
    "softsign": (lambda T, x: F(T).softsign(x), [BIG]),
    "erf": (lambda T, x: T.erf(x), [BIG]),
    "erfc": (lambda T, x: T.erfc(x), [BIG]),
    "sinh": (lambda T, x: x.sinh(), [BIG]),
    "cosh": (lambda T, x: x.cosh(), [BIG]),
    "atanh_at_1": (lambda T, x: x.atanh(), [[-1.0, 1.0, 0.0, 2.0]]),
    "asin_at_1": (lambda T, x: x.asin(), [[-1.0, 1.0, 0.0, 2.0]]),
    "acos_at_1": (lambda T, x: x.acos(), [[-1.0, 1.0, 0.0, 2.0]]),
    "acosh_at_1": (lambda T, x: x.acosh(), [[1.0, 0.0, 2.0]]),
    # log(0), division by 0, overflow
    "log_at_0": (lambda T, x: x.log(), [[0.0, -0.0, -1.0, INF]]),
    "log2_at_0": (lambda T, x: x.log2(), [[0.0, -1.0]]),
    "log10_at_0": (lambda T, x: x.log10(), [[0.0, -1.0]]),
    "reciprocal_at_0": (lambda T, x: x.reciprocal(), [[0.0, -0.0]]),
    "div_by_0": (lambda T, a, b: a / b, [[1.0, 0.0, -1.0, 0.0], [0.0, 0.0, 0.0, -0.0]]),
    "number_div_by_0": (lambda T, a: 1.0 / a, [[0.0, -0.0, 2.0]]),
    "div_by_number_0": (lambda T, a: a / 0.0, [[0.0, 1.0, 2.0]]),
    "exp_overflow": (lambda T, x: (x * 1000).exp(), [[1.0, -1.0, 0.0]]),
    # probabilities exactly 0 and 1: the logs clamped at -100, the input's gradient at
    # p (1 - p) = 1e-12 (PyTorch's 1e-12 is a float32, hence rtol), the target's -logit(p)
    "bce_at_0_and_1": (lambda T, p, y: F(T).binary_cross_entropy(p, y, reduction="none"),
                       [[0.0, 1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 0.0, 0.0]], 1e-8),
    "bce_mean_at_0_and_1": (lambda T, p, y: F(T).binary_cross_entropy(p, y),
                            [[0.0, 1.0, 0.0, 1.0, 0.5], [0.0, 1.0, 1.0, 0.0, 0.0]], 1e-8),
    "bce_logits_1000": (lambda T, x, y: F(T).binary_cross_entropy_with_logits(
        x, y, reduction="none"), [[1000.0, -1000.0, 1000.0, -1000.0, 0.0],
                                  [1.0, 0.0, 0.0, 1.0, 0.5]]),
    "bce_logits_pos_weight_1000": (lambda T, x, y: F(T).binary_cross_entropy_with_logits(
        x, y, pos_weight=T.tensor([2.0], dtype=x.dtype), reduction="none"),
        [[1000.0, -1000.0, 1000.0, -1000.0, 0.0], [1.0, 0.0, 0.0, 1.0, 0.5]]),
    "bce_logits_inf": (lambda T, x, y: F(T).binary_cross_entropy_with_logits(
        x, y, reduction="none"), [[INF, -INF], [1.0, 0.0]]),
    "kl_div_zero_target": (lambda T, x: F(T).kl_div(x.log_softmax(0), T.tensor(
        [0.0, 0.5, 0.0, 0.5], dtype=x.dtype), reduction="sum"), [[-1.0, -2.0, 3.0, 0.0]]),
    "kl_div_zero_target_minus_inf": (lambda T, x: F(T).kl_div(x, T.tensor(
        [0.0, 0.5, 0.0, 0.5], dtype=x.dtype), reduction="none"), [[-INF, -2.0, 3.0, 0.0]]),
    "kl_div_target_grad": (lambda T, x, y: F(T).kl_div(x, y, reduction="sum"),
                           [[-1.0, -2.0, 3.0, 0.0], [0.2, 0.5, 0.1, 0.2]]),
    "kl_div_log_target": (lambda T, x, y: F(T).kl_div(x, y, reduction="none",
                                                      log_target=True),
                          [[-1.0, -2.0, -INF, 0.0], [-INF, -0.5, -INF, 0.0]]),
    "gaussian_nll": (lambda T, m, y, v: F(T).gaussian_nll_loss(m, y, v, reduction="none"),
                     [[0.0, 1.0, 2.0], [0.0, 1.0, 3.0], [0.0, 1e-8, 1.0]]),
    "gaussian_nll_full": (lambda T, m, y, v: F(T).gaussian_nll_loss(m, y, v, full=True),
                          [[0.0, 1.0, 2.0], [0.0, 1.0, 3.0], [0.0, 1e-8, 1.0]]),
    "poisson_nll_1000": (lambda T, x, y: F(T).poisson_nll_loss(x, y, reduction="none"),
                         [[0.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]]),
    "poisson_nll_rates_at_0": (lambda T, x, y: F(T).poisson_nll_loss(
        x, y, log_input=False, reduction="none"), [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]),
    "mse_large": (lambda T, a, b: F(T).mse_loss(a, b), [[1e20, -1e20, 3e19], [0.0, 0.0, 0.0]]),
    "mse_sum_large": (lambda T, a, b: F(T).mse_loss(a, b, reduction="sum"),
                      [[1e19, 3e18], [0.0, 0.0]]),
    "l1_large": (lambda T, a, b: F(T).l1_loss(a, b), [[3e38, 3e38, 1e38], [-1.0, 0.0, 0.0]]),
})

EMPTY, EMPTY_ROWS = np.zeros(0), np.zeros((0, 3))
CASES.update({
    # one element with Bessel's correction: NaN, and PyTorch's UserWarning
    "var_one": (lambda T, x: x.var(), [[2.0]]),
    "std_one": (lambda T, x: x.std(), [[2.0]]),
    "var_one_per_row": (lambda T, x: x.var(1), [[[2.0], [3.0]]]),
    "std_one_per_column": (lambda T, x: x.std(0), [[[2.0, 3.0]]]),
    "var_correction_0": (lambda T, x: T.var(x, correction=0), [[2.0]]),
    "var_correction_n": (lambda T, x: T.var(x, correction=2), [[2.0, 2.0]]),
    "std_correction_above_n": (lambda T, x: T.std(x, correction=3), [[2.0, 3.0]]),
    "var_fractional_correction": (lambda T, x: T.var(x, correction=1.5), [[2.0, 3.0]]),
    "var_mean_one": (lambda T, x: T.var_mean(x), [[2.0]]),
    "std_mean_one": (lambda T, x: T.std_mean(x), [[2.0]]),
    "std_constant": (lambda T, x: x.std(), [[2.0, 2.0, 2.0]]),
    # empty tensors and empty reduced dimensions
    "sum_empty": (lambda T, x: x.sum(), [EMPTY]),
    "sum_empty_dim": (lambda T, x: x.sum(0), [EMPTY_ROWS]),
    "mean_empty": (lambda T, x: x.mean(), [EMPTY]),
    "mean_empty_dim": (lambda T, x: x.mean(0), [EMPTY_ROWS]),
    "mean_over_nonempty_dim_of_empty": (lambda T, x: x.mean(1), [EMPTY_ROWS]),
    "var_empty": (lambda T, x: x.var(), [EMPTY]),
    "var_empty_dim": (lambda T, x: x.var(0), [EMPTY_ROWS]),
    "std_empty_dim": (lambda T, x: x.std(0), [EMPTY_ROWS]),
    "prod_empty": (lambda T, x: x.prod(), [EMPTY]),
    "prod_empty_dim": (lambda T, x: x.prod(0), [EMPTY_ROWS]),
    "amax_empty_fails": (lambda T, x: x.amax(), [EMPTY]),
    "max_empty_fails": (lambda T, x: x.max(), [EMPTY]),
    "amax_over_nonempty_dim_of_empty": (lambda T, x: x.amax(1), [EMPTY_ROWS]),
    "norm_empty": (lambda T, x: x.norm(), [EMPTY]),
    "cumsum_empty": (lambda T, x: x.cumsum(0), [EMPTY]),
    "logsumexp_empty_dim": (lambda T, x: x.logsumexp(0), [EMPTY_ROWS]),
    "logsumexp_empty": (lambda T, x: T.logsumexp(x, 0), [EMPTY]),
    "softmax_empty_dim": (lambda T, x: x.softmax(0), [EMPTY_ROWS]),
    "log_softmax_empty": (lambda T, x: x.log_softmax(1), [EMPTY_ROWS]),
    "mse_empty": (lambda T, a, b: F(T).mse_loss(a, b), [EMPTY, EMPTY]),
    "l1_empty": (lambda T, a, b: F(T).l1_loss(a, b), [EMPTY, EMPTY]),
    "cross_entropy_empty": (lambda T, x: F(T).cross_entropy(x, T.zeros(0, dtype=T.int64)),
                            [EMPTY_ROWS]),
    "nanmean_all_nan": (lambda T, x: x.nanmean(), [[NAN, NAN]]),
})

_R = np.random.default_rng(0)
MANY = _R.uniform(-1, 1, 100000) + 1000         # float32 sums must accumulate well
NEAR_1 = _R.uniform(0.99, 1.01, 3000)
CASES.update({
    # reductions: float32 accumulation, products and cumulative products through zeros
    "sum_many": (lambda T, x: x.sum(), [MANY]),
    "mean_many": (lambda T, x: x.mean(), [MANY]),
    "sum_rows": (lambda T, x: x.sum(1), [MANY.reshape(100, 1000)]),
    "mean_columns": (lambda T, x: x.mean(0), [MANY.reshape(100, 1000)]),
    "var_many": (lambda T, x: x.var(), [MANY]),
    "std_columns": (lambda T, x: x.std(0), [MANY.reshape(1000, 100)]),
    "cumsum_many": (lambda T, x: x.cumsum(0), [MANY[:1000]]),
    "norm_huge": (lambda T, x: T.linalg.vector_norm(x), [[3e30, 4e30]]),
    "logsumexp_many": (lambda T, x: x.logsumexp(0), [(MANY - 1000) * 100]),
    "cross_entropy_many": (lambda T, x: F(T).cross_entropy(x, T.zeros(1000, dtype=T.int64)),
                           [((MANY - 1000) * 30).reshape(1000, 100)]),
    "prod_near_1": (lambda T, x: x.prod(), [NEAR_1]),
    "prod_one_zero": (lambda T, x: x.prod(), [[2.0, 0.0, 3.0, 4.0]]),
    "prod_two_zeros": (lambda T, x: x.prod(), [[2.0, 0.0, 3.0, 0.0]]),
    "prod_dim_zeros": (lambda T, x: x.prod(1), [[[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.0, 2.0],
                                                 [1.0, 2.0, 3.0, 4.0]]]),
    "prod_dim0_zeros": (lambda T, x: x.prod(0, keepdim=True),
                        [[[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.0, 2.0], [1.0, 2.0, 0.0, 4.0]]]),
    "prod_nan_and_zero": (lambda T, x: x.prod(), [[2.0, NAN, 0.0]]),
    "prod_inf_and_zero": (lambda T, x: x.prod(), [[2.0, INF, 0.0]]),
    "prod_inf": (lambda T, x: x.prod(), [[2.0, INF, 3.0]]),
    "cumprod_zeros": (lambda T, x: x.cumprod(0), [[2.0, 0.0, 3.0, 0.0, 5.0]]),
    "cumprod_zero_first": (lambda T, x: x.cumprod(0), [[0.0, 2.0, 3.0]]),
    "cumprod_zero_last": (lambda T, x: x.cumprod(0), [[2.0, 3.0, 0.0]]),
    "cumprod_inf": (lambda T, x: x.cumprod(0), [[2.0, INF, 3.0]]),
    "cumprod_nan_and_zero": (lambda T, x: x.cumprod(0), [[2.0, NAN, 0.0]]),
    "logcumsumexp_minus_inf": (lambda T, x: x.logcumsumexp(0), [[0.0, -INF, 30.0, -30.0]]),
})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(CASES))
def test_delicate_point_matches_pytorch(name, dtype):
    f, arrays, *rtol = CASES[name]
    agree(outcome(torch, f, arrays, dtype), outcome(zeroin, f, arrays, dtype), dtype, name,
          *rtol)


# Python-float scalars: the fast path's float lane runs the rules on Python floats, whose
# power leaves the reals ((-2.0) ** -0.5 is complex) and whose division by 0 raises
SCALARS = {
    "pow_half_negative": (lambda x: x ** 0.5, [-2.0]),
    "pow_minus_1_at_0": (lambda x: x ** -1.0, [0.0]),
    "pow_tensors_negative": (lambda x, p: x ** p, [-2.0, 0.5]),
    "pow_tensors_negative_int": (lambda x, p: x ** p, [-2.0, 2.0]),
    "pow_tensors_at_0": (lambda x, p: x ** p, [0.0, -1.0]),
    "pow_tensors_0_0": (lambda x, p: x ** p, [0.0, 0.0]),
    "pow_number_base_0": (lambda p: 0.0 ** p, [-1.0]),
    "sqrt_at_0": (lambda x: x.sqrt(), [0.0]),
    "log_at_0": (lambda x: x.log(), [0.0]),
    "reciprocal_at_0": (lambda x: 1 / x, [0.0]),
    "div_0_by_0": (lambda x, y: x / y, [0.0, 0.0]),
    "exp_overflow": (lambda x: x.exp(), [800.0]),
}


@pytest.mark.parametrize("name", list(SCALARS))
def test_float_scalars_give_pytorchs_values_and_gradients(name):
    f, vals = SCALARS[name]
    out = {}
    for T in (torch, zeroin):
        xs = [T.tensor(v, requires_grad=True) for v in vals]
        with np.errstate(all="ignore"):
            y = f(*xs)
            y.backward()
        out[T] = [y.item()] + [x.grad.item() for x in xs]
    np.testing.assert_allclose(out[zeroin], out[torch], rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("loss", [
    lambda T, x: x.mean(),
    lambda T, x: F(T).mse_loss(x, x.detach()),
    lambda T, x: F(T).smooth_l1_loss(x, x.detach()),
    lambda T, x: F(T).binary_cross_entropy(x, x.detach()),
    lambda T, x: F(T).cross_entropy(x.reshape(0, 2), T.zeros(0, dtype=T.int64)),
], ids=["mean", "mse", "smooth_l1", "bce", "cross_entropy"])
def test_the_mean_of_nothing_is_nan_with_an_empty_gradient(loss):
    """``loss.backward()`` itself (a scalar loss seeded with 1.0: the fast path's float)."""
    for T in (torch, zeroin):
        x = T.zeros(0, requires_grad=True)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = loss(T, x)
            y.backward()
        assert np.isnan(y.item()) and tuple(x.grad.shape) == (0,), T.__name__


# --- deliberate differences (README): each checked, with PyTorch's behaviour beside it --------

def test_a_nan_gradient_where_relu_dropped_the_input_stays_nan_unlike_pytorch():
    """relu alone multiplies by its mask (a select costs its rule 5-60%); where, masked_fill,
    clamp and the others select, as PyTorch."""
    grads = {}
    for T in (torch, zeroin):       # sqrt's gradient at relu's 0 is inf: 0 * inf
        x = T.tensor([-1.0, 0.0, 4.0], requires_grad=True)
        with np.errstate(all="ignore"):
            T.relu(x).sqrt().sum().backward()
        grads[T] = x.grad.numpy()
    assert np.isnan(grads[zeroin][:2]).all() and (grads[torch][:2] == 0).all()
    assert grads[zeroin][2] == grads[torch][2] == 0.25
    x = zeroin.tensor([-1.0, 0.0, 4.0], requires_grad=True)  # the README's advice: where
    with np.errstate(divide="ignore"):
        zeroin.where(x > 0, x, 0.0).sqrt().sum().backward()
    assert x.grad.numpy().tolist() == grads[torch].tolist()


def test_a_nan_gradient_at_an_unselected_element_gives_0_as_in_pytorch():
    grads = {}
    for T in (torch, zeroin):       # a fully masked row: logsumexp's gradient is NaN
        x = T.tensor([1.0, 2.0], requires_grad=True)
        with np.errstate(all="ignore"):
            T.where(T.tensor([True, True]), -INF, x).logsumexp(0).backward()
        grads[T] = x.grad.numpy()
    assert (grads[zeroin] == 0).all() and (grads[torch] == 0).all()


def test_nan_inputs_of_relu_abs_and_sign_differ_from_pytorch_as_the_readme_says():
    out = {}
    for T in (torch, zeroin):
        x = T.tensor([NAN], requires_grad=True)
        (T.relu(x).sum() + x.abs().sum()).backward()     # relu + abs: 0 + 1 or 1 + 0
        out[T] = (x.grad.item(), x.detach().sign().item())
    assert out[torch] == (1.0, 0.0)
    assert np.isnan(out[zeroin][0]) and np.isnan(out[zeroin][1])


def test_kl_div_target_gradient_at_a_zero_target_is_0_not_nan():
    grads = {}
    for T in (torch, zeroin):
        x = T.tensor([-1.0, -2.0], requires_grad=True)
        y = T.tensor([0.0, 1.0], requires_grad=True)
        T.nn.functional.kl_div(x, y, reduction="sum").backward()
        grads[T] = y.grad.numpy()
    assert np.isnan(grads[torch][0]) and grads[zeroin][0] == 0
    assert grads[zeroin][1] == pytest.approx(grads[torch][1])       # log 1 + 1 - (-2) = 3


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_soft_margin_loss_is_stable_where_pytorchs_overflows(dtype):
    x, y = [0.0, 1000.0, -1000.0], [1.0, -1.0, 1.0]
    res = {}
    for T in (torch, zeroin):
        xt = T.tensor(x, dtype=getattr(T, dtype), requires_grad=True)
        loss = T.nn.functional.soft_margin_loss(xt, T.tensor(y, dtype=getattr(T, dtype)))
        loss.backward()
        res[T] = loss.item(), xt.grad.numpy()
    assert res[torch][0] == INF
    assert res[zeroin][0] == pytest.approx((np.log(2) + 2000) / 3, rel=1e-6)
    np.testing.assert_allclose(res[zeroin][1], [-0.5 / 3, 1 / 3, -1 / 3], rtol=1e-6)


# random inputs drawn from a few values, so that ties, zeros and bounds come up often
FEW = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
OPS = {
    "maximum": lambda T, a, b: T.maximum(a, b),
    "minimum": lambda T, a, b: T.minimum(a, b),
    "clamp": lambda T, a, b: a.clamp(-1.0, 0.5) * b,
    "relu_abs": lambda T, a, b: T.relu(a) + b.abs(),
    "amax": lambda T, a, b: (a * b).amax(1),
    "amin_all": lambda T, a, b: T.amin(a - b),
    "max_dim": lambda T, a, b: (a + b).max(0).values,
    "max_all": lambda T, a, b: (a + b).max(),
    "median_all": lambda T, a, b: (a * b).median(),
    "sort": lambda T, a, b: (a - b).sort(1).values,
    "prod": lambda T, a, b: (a * b).prod(1),
    "cumprod": lambda T, a, b: (a + b).cumprod(1),
    "pow": lambda T, a, b: a.abs() ** b,
    "norm": lambda T, a, b: (a * b).norm(dim=1),
    "smooth_l1": lambda T, a, b: F(T).smooth_l1_loss(a, b, reduction="none", beta=0.5),
}


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(OPS)), a=hnp.arrays(np.float64, (3, 4), elements=FEW),
       b=hnp.arrays(np.float64, (3, 4), elements=FEW))
def test_ties_zeros_and_bounds_match_pytorch(name, a, b):
    f = OPS[name]
    agree(outcome(torch, f, [a, b], "float64"), outcome(zeroin, f, [a, b], "float64"),
          "float64", name)


@pytest.mark.parametrize("name", ["relu", "elu", "selu", "celu", "relu6", "hardtanh",
                                  "leaky_relu"])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n", [6, 3000, 2 ** 18 + 6], ids=["small", "large", "chunked"])
def test_activations_keep_the_sign_of_zero_as_torch(name, dtype, n):
    """relu(-0.0) and elu(-0.0) are -0.0 in PyTorch (x is kept unless below 0): zeroin's
    too, on every path (a small array, a large contiguous one, past one chunk of relu's
    cached zeros, a strided view), with NaN and +-inf passing as torch's."""
    import torch.nn.functional as TF
    from zeroin.nn import functional as F
    a = np.resize(np.array([-0.0, 0.0, -1.5, 2.0, np.nan, -np.inf, np.inf, -1e-3]), n)
    a = a.astype(dtype)
    for view in (a, a[::3]):
        z = getattr(F, name)(zeroin.tensor(view)).numpy()
        t = getattr(TF, name)(torch.tensor(view)).numpy()
        assert z.dtype == t.dtype      # float16: torch computes in float32 (selu: 1 ulp)
        np.testing.assert_allclose(z, t, rtol=1e-3 if dtype == "float16" else 0, atol=0)
        bad = np.flatnonzero(np.signbit(z) != np.signbit(t))
        assert not bad.size, (name, view[bad[:4]], z[bad[:4]], t[bad[:4]])
    if name == "relu":
        z = zeroin.tensor(a.copy())
        assert np.signbit(zeroin.relu_(z).numpy()[0]) and np.signbit(z.relu().numpy()[0])


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("n", [9, 3000], ids=["small", "large"])
@pytest.mark.parametrize("bounds", [(0.0, None), (None, 0.0), (-0.0, None), (None, -0.0),
                                    (0.0, 0.0), (-0.0, 0.0), (-1.0, -0.0)], ids=str)
def test_clamp_keeps_x_at_a_tie_as_torch(bounds, n, dtype):
    """PyTorch's clamp keeps x where it equals a bound (clamp(-0.0, min=0) is -0.0,
    clamp(0.0, min=-0.0) is 0.0); NumPy's one-bound clip returned the bound in float32 and
    float64. Number bounds, tensor bounds, clamp_min/clamp_max and .data's clamp_."""
    lo, hi = bounds
    a = np.resize(np.array([-0.0, 0.0, -1.5, 2.0, np.nan, -np.inf, np.inf, -1e-3]), n)
    a = a.astype(dtype)
    t = torch.clamp(torch.tensor(a), min=lo, max=hi).numpy()
    zs = [zeroin.clamp(zeroin.tensor(a), min=lo, max=hi).numpy()]
    tb = [None if v is None else zeroin.full(a.shape, v, dtype=getattr(zeroin, dtype))
          for v in bounds]
    zs.append(zeroin.clamp(zeroin.tensor(a), min=tb[0], max=tb[1]).numpy())
    if hi is None:
        zs.append(zeroin.tensor(a).clamp_min(lo).numpy())
    if lo is None:
        zs.append(zeroin.tensor(a).clamp_max(hi).numpy())
    d = zeroin.tensor(a.copy()).data
    zs.append(np.asarray(d.clamp_(lo, hi)))
    for z in zs:
        assert z.dtype == t.dtype
        np.testing.assert_array_equal(z, t)
        np.testing.assert_array_equal(np.signbit(z[~np.isnan(z)]), np.signbit(t[~np.isnan(t)]))


def test_clamp_with_one_bound_keeps_integer_and_promoting_results():
    """The tie-keeping clip leaves integer clamps and int-by-float promotion as they were
    (PyTorch: an int tensor clamped at 1.5 is float32 ... float64 here, README)."""
    x = zeroin.tensor([1, 2, 3])
    assert zeroin.clamp(x, min=2).dtype == zeroin.int64
    assert zeroin.clamp(x, min=2).tolist() == [2, 2, 3]
    assert zeroin.clamp(x, max=1.5).tolist() == [1.0, 1.5, 1.5]


def test_threshold_second_derivative_matches_torch_and_gradgradcheck():
    """F.threshold's backward (g where x > threshold) is itself differentiable: the second
    derivative of threshold(x * x) is 2 where x * x > threshold, else 0, as torch's."""
    import torch.nn.functional as TF
    from zeroin.nn import functional as F
    from zeroin.gradcheck import gradgradcheck
    a = np.array([-1.3, 0.4, 2.0, 0.7, -0.2])
    zx = zeroin.tensor(a, requires_grad=True)
    assert gradgradcheck(lambda v: F.threshold(v * v * v, 0.2, -2.0), (zx,))
    tx = torch.tensor(a, requires_grad=True)
    (tg,) = torch.autograd.grad(TF.threshold(tx * tx, 0.3, -2.0).sum(), tx, create_graph=True)
    (zg,) = zeroin.autograd.grad(F.threshold(zx * zx, 0.3, -2.0).sum(), zx, create_graph=True)
    np.testing.assert_allclose(zg.detach().numpy(), tg.detach().numpy(), rtol=1e-15)
    np.testing.assert_allclose(zeroin.autograd.grad(zg.sum(), zx)[0].numpy(),
                               torch.autograd.grad(tg.sum(), tx)[0].numpy(), rtol=1e-15)


def test_softshrink_zeros_are_positive_as_torchs_vector_loop():
    """PyTorch's softshrink gives -0.0 for x in [-lambd, 0] only in its kernel's scalar
    tail (the length decides, README); zeroin gives +0.0 everywhere, as torch's vector loop
    does on a length that is a multiple of every vector width."""
    import torch.nn.functional as TF
    from zeroin.nn import functional as F
    a = np.resize(np.array([-0.3, -0.0, 0.0, 0.2, -0.5, 0.5, 1.0, -1.0]), 64)
    for dtype in ("float32", "float64"):
        t = TF.softshrink(torch.tensor(a.astype(dtype))).numpy()
        for n in (64, 5):
            z = F.softshrink(zeroin.tensor(a[:n].astype(dtype))).numpy()
            np.testing.assert_array_equal(z, t[:n])
            assert not np.signbit(z[z == 0]).any()
            np.testing.assert_array_equal(np.signbit(z), np.signbit(t[:n]))


def test_threshold_passes_nan_and_its_gradient_as_torch():
    """F.threshold puts ``value`` where x <= threshold: NaN is not, so it passes, with its
    gradient (zeroin put the value there)."""
    import torch.nn.functional as TF
    from zeroin.nn import functional as F
    a = np.array([np.nan, -1.0, 0.5, 0.2, 3.0])
    tx = torch.tensor(a, requires_grad=True)
    zx = zeroin.tensor(a, requires_grad=True)
    ty, zy = TF.threshold(tx, 0.5, -2.0), F.threshold(zx, 0.5, -2.0)
    np.testing.assert_array_equal(zy.numpy(), ty.detach().numpy())
    ty.sum().backward()
    zy.sum().backward()
    np.testing.assert_array_equal(zx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("args", [(0, 1000, 0.1), (-3, 7.7, 0.1), (0, 10, 1 / 3),
                                  (0.1, 2.3, 0.01), (5, -5, -0.3), (-1e3, 1e3, 0.37)], ids=str)
def test_float_arange_is_start_plus_i_step_as_torch(dtype, args):
    """Each element is PyTorch's, bit for bit: start + i * step as one fused multiply-add,
    and in the kernel's vector blocks from each block's start; NumPy's arange steps by a
    rounded delta, 407 ulps off at (-1e3, 1e3, 0.37) in float64, and start + i * step
    rounded twice was an ulp off in about a fifth of the values."""
    z = zeroin.arange(*args, dtype=getattr(zeroin, dtype)).numpy()
    t = torch.arange(*args, dtype=getattr(torch, dtype)).numpy()
    assert z.dtype == t.dtype and z.shape == t.shape
    np.testing.assert_array_equal(z, t)


def test_arange_fma_is_the_exactly_rounded_product_plus_sum():
    """The emulated fused multiply-add arange uses: x * y + z rounded once, checked with
    exact fractions, cancellation (z = -x * y to float64) included."""
    from fractions import Fraction
    from zeroin._creation import _fma
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000) * 10.0 ** rng.integers(-6, 6, 3000)
    y = rng.integers(0, 1 << 20, 3000).astype(np.float64)
    z = rng.standard_normal(3000) * 10.0 ** rng.integers(-6, 6, 3000)
    z[:1000] = -x[:1000] * y[:1000]
    exact = [float(Fraction(a) * Fraction(b) + Fraction(c)) for a, b, c in zip(x, y, z)]
    np.testing.assert_array_equal(_fma(x, y, z), exact)
    assert (x * y + z != exact).sum() > 100         # rounding twice differs


def test_arange_over_threads_parts_as_torch():
    """From 32768 values on, PyTorch's threads each fill a part; with the same count."""
    if torch.get_num_threads() != zeroin.get_num_threads():
        pytest.skip("torch and zeroin count threads differently here")
    for dt in ("float32", "float64"):
        z = zeroin.arange(0, 1e4, 0.3, dtype=getattr(zeroin, dt)).numpy()
        np.testing.assert_array_equal(z, torch.arange(0, 1e4, 0.3,
                                                      dtype=getattr(torch, dt)).numpy())


@pytest.mark.parametrize("args", [(0, np.inf, 0.1), (np.nan, 1, 0.5), (0, np.nan, 1.0)],
                         ids=str)
def test_arange_refuses_a_range_without_finite_ends_as_torch(args):
    with pytest.raises(RuntimeError, match="unsupported range"):
        torch.arange(*args)
    with pytest.raises(RuntimeError, match=r"arange: unsupported range: .*ends must be finite"):
        zeroin.arange(*args)


@pytest.mark.parametrize("dt", ["float32", "float16", "complex64", "float64"])
@pytest.mark.parametrize("shape,dim", [((1000,), 0), ((7, 300), 1), ((300, 256), 0)], ids=str)
def test_cumsum_cumprod_accumulate_as_torchs_cpu_kernel(dt, shape, dim):
    """PyTorch's CPU cumsum / cumprod keep the running value in double for float32 and
    complex64 (float for float16) and round each output once: values and gradients equal
    PyTorch's bit for bit (a diffusion schedule's float32 alphas_cumprod over 1000 steps
    was 10 ulps off). complex cumprod's gradient divides by the conjugate in another order:
    to 2 ulps there."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0.98, 1.0, shape)
    if dt == "complex64":
        x = x + 1j * rng.uniform(-0.01, 0.01, shape)
    x, g = x.astype(dt), rng.uniform(-1, 1, shape).astype(dt)
    for name in ("cumsum", "cumprod"):
        xt = torch.tensor(x, requires_grad=True)
        xz = zeroin.tensor(x, requires_grad=True)
        yt, yz = getattr(xt, name)(dim), getattr(xz, name)(dim)
        yt.backward(torch.tensor(g))
        yz.backward(zeroin.tensor(g))
        assert yz.dtype == np.dtype(dt)
        np.testing.assert_array_equal(yz.detach().numpy(), yt.detach().numpy(), err_msg=name)
        if dt == "complex64" and name == "cumprod":
            np.testing.assert_allclose(xz.grad.numpy(), xt.grad.numpy(), rtol=3e-7, atol=0)
        else:
            np.testing.assert_array_equal(xz.grad.numpy(), xt.grad.numpy(), err_msg=name)


@pytest.mark.parametrize("dt", ["float32", "float64", "float16"])
@pytest.mark.parametrize("w", [0.005, 0.3, 0.5, 0.7, 1.0, 3.0, -2.0, "tensor"], ids=str)
def test_lerp_is_torchs_fused_kernel(dt, w):
    """PyTorch's CPU lerp is one fused multiply-add from the nearer end (weight - 1 times
    end - start, plus end, from |w| = 1/2 on): values equal to the bit, lerp(a, b, 1) is b,
    the EMA's ``lerp_`` and classifier-free guidance's ``lerp(uncond, cond, 3)`` too (the
    naive start + w (end - start) was an ulp off in a third of the elements). float64 is
    not fused (an emulated fma costs 15-35x): an ulp of the operands (|x| < 8) there."""
    rng = np.random.default_rng(0)
    for size in (1, 7, 17, 100):
        a = rng.standard_normal(size).astype(dt)
        b = rng.standard_normal((3, size)).astype(dt)
        ws = rng.uniform(-1, 2, size).astype(dt) if w == "tensor" else w
        got = {}
        for lib in (torch, zeroin):
            weight = lib.tensor(ws) if w == "tensor" else ws
            out = lib.lerp(lib.tensor(a), lib.tensor(b), weight)
            inplace = lib.tensor(b).lerp_(lib.tensor(a), weight)
            got[lib] = (out.numpy(), inplace.numpy())
        for z, t in zip(got[zeroin], got[torch]):
            assert z.dtype == t.dtype and z.shape == t.shape
            if dt == "float64":
                np.testing.assert_allclose(z, t, rtol=0, atol=4e-16 * 8)
            else:
                np.testing.assert_array_equal(z, t)
        if w == 1.0:
            np.testing.assert_array_equal(got[zeroin][0], np.broadcast_to(b, (3, size)))


def test_lerp_gradients_and_dtype_refusals_as_torch():
    rng = np.random.default_rng(1)
    a, b, w, g = (rng.standard_normal(s) for s in ((2, 3), (3,), (2, 1), (2, 3)))
    grads = []
    for lib in (torch, zeroin):
        ts = [lib.tensor(v, requires_grad=True) for v in (a, b, w)]
        lib.lerp(*ts).backward(lib.tensor(g))
        s, e = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        lib.lerp(s, e, 0.7).backward(lib.tensor(g))
        grads.append([t.grad.numpy() for t in ts + [s, e]])
    for z, t in zip(*grads):
        np.testing.assert_allclose(z, t, rtol=1e-15, atol=1e-15)
    x32, x64 = np.ones(3, np.float32), np.zeros(3)
    with pytest.raises(RuntimeError, match="expected dtype"):
        torch.lerp(torch.tensor(x32), torch.tensor(x64), 0.5)
    with pytest.raises(TypeError, match=r"lerp: end has dtype float64 but input has float32; "
                                        r".*end.to\(input.dtype\)"):
        zeroin.lerp(zeroin.tensor(x32), zeroin.tensor(x64), 0.5)
    with pytest.raises(TypeError, match=r"lerp: end has dtype float64"):
        zeroin.tensor(x32).lerp_(zeroin.tensor(x64), 0.5)
    with pytest.raises(TypeError, match=r"lerp: weight has dtype float64 but input"):
        zeroin.lerp(zeroin.tensor(x32), zeroin.tensor(x32), zeroin.tensor(x64))
    # a 0-d weight of another dtype is taken, as PyTorch takes it
    for lib in (torch, zeroin):
        out = lib.lerp(lib.tensor(x32), lib.tensor(x32 * 3), lib.tensor(0.5, dtype=lib.float64))
        assert out.dtype == lib.float32 and out.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("call, values", [
    ("std()", [3.0]), ("var()", [3.0]), ("var(correction=2)", [3.0]),
    ("std(dim=0)", [[3.0]]), ("var(correction=2)", [3.0, 5.0])])
def test_std_var_without_degrees_of_freedom_warn_once_as_pytorch(call, values):
    """One element (or correction >= n): PyTorch's one UserWarning and its NaN or inf, not
    a second NumPy RuntimeWarning for the division by zero behind it."""
    def run(T):
        x = T.tensor(values, dtype=T.float64, requires_grad=True)
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            y = eval("x." + call)
        return y, [(w.category, str(w.message)) for w in got]
    (zy, zw), (ty, tw) = run(zeroin), run(torch)
    np.testing.assert_array_equal(_array(zy), _array(ty))
    assert len(zw) == len(tw) == 1 and zw[0][0] is tw[0][0] is UserWarning
    assert tw[0][1].startswith(zw[0][1]) and "degrees of freedom is <= 0" in zw[0][1]
