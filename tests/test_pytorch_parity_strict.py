"""PyTorch parity, continued: calls PyTorch refuses (zeroin must not give them another
meaning) and names a PyTorch port reaches for early. Same table mechanism as
``test_pytorch_parity.py`` (each idiom runs with ``torch`` and with ``zeroin``; values,
dtypes, gradients and error types must agree); the messages are checked below the tables."""
import re
import warnings

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

from test_pytorch_parity import (A, A3, B, MASK, P, _torch_float64, catch,  # noqa: E402,F401
                                 check, grad_of, same, t, warned)

NAN = float("nan")
NANS = np.array([[3.0, NAN, 1.0, NAN], [1.0, 2.0, 3.0, 4.0], [NAN, 0.0, 0.0, 5.0]])
INFS = np.array([[1.0, NAN, np.inf], [-np.inf, -2.0, 0.5]])
TIES3 = np.array([[1.0, 2.0, 0.0], [1.0, 2.0, 0.5], [0.5, 3.0, 0.0]])

IDIOMS = {}


def table(prefix, entries):
    for key, fn in entries.items():
        IDIOMS[f"{prefix}_{key}"] = fn


_quiet = warned       # ``f(T)`` with its warnings' categories as part of the result


# --- calls PyTorch refuses ----------------------------------------------------------------

table("refused", {
    "negative_step": lambda T: catch(lambda: t(T, A)[::-1]),
    "negative_step_tuple": lambda T: catch(lambda: t(T, A)[:, ::-2]),
    "negative_step_setitem": lambda T: catch(lambda: t(T, A).__setitem__(slice(None, None, -1),
                                                                         0.0)),
    "positive_step": lambda T: t(T, A)[::2, 1::2],
    "flatten_start_after_end": lambda T: catch(lambda: t(T, A3).flatten(1, 0)),
    "flatten_same": lambda T: t(T, A3).flatten(1, 1),
    "outer_2d": lambda T: catch(lambda: T.outer(t(T, A), t(T, [1.0, 2.0]))),
    "outer_1d": lambda T: grad_of(T, lambda a, b: T.outer(a, b), A[0], B[1]),
    "where_float_cond": lambda T: catch(lambda: T.where(t(T, [1.0, 0.0]), t(T, [1.0, 2.0]),
                                                        t(T, [3.0, 4.0]))),
    "where_int_cond": lambda T: catch(lambda: T.where(T.tensor([1, 0]), t(T, [1.0, 2.0]),
                                                      t(T, [3.0, 4.0]))),
    "where_uint8_cond": _quiet(lambda T: T.where(T.tensor([1, 0], dtype=T.uint8),
                                                 t(T, [1.0, 2.0]), t(T, [3.0, 4.0]))),
    "eq_none": lambda T: (t(T, A) == None, t(T, A) != None),  # noqa: E711
    # a str, a list, a tuple, a dict or an object: Python's False / True, not elementwise
    "eq_str": lambda T: (t(T, A) == "x", t(T, A) != "x", "x" == t(T, A), "x" != t(T, A)),
    "eq_list": lambda T: (t(T, [1.0, 2.0]) == [1.0, 2.0], t(T, [1.0, 2.0]) != [1.0, 2.0],
                          [1.0, 2.0] == t(T, [1.0, 2.0]), t(T, [1.0]) == (1.0,)),
    "eq_object": lambda T: (t(T, A) == object(), t(T, A) != object(), t(T, A) == {}),
    "eq_numbers_arrays": lambda T: (t(T, [1.0, 2.0]) == 2, t(T, [1.0, 2.0]) != 2.0,
                                    t(T, [1.0, 2.0]) == True, t(T, [1.0, 2.0]) == 1j,
                                    t(T, [1.0, 2.0]) == np.float64(1.0),
                                    t(T, [1.0, 2.0]) == np.array([1.0, 3.0])),
    "uint8_index_is_a_mask": _quiet(lambda T: t(T, A)[T.tensor([1, 0, 1], dtype=T.uint8)]),
    "uint8_index_in_tuple": _quiet(lambda T: t(T, A)[T.tensor([0, 1, 1], dtype=T.uint8), 1:]),
    "int_requires_grad_": lambda T: catch(lambda: T.arange(3).requires_grad_()),
})

# nn.Embedding's asserts: PyTorch's AssertionError (zeroin's error is a ValueError too);
# F.embedding wrapped an out-of-range padding_idx round silently, F.embedding_bag too
_W34 = np.arange(12.0).reshape(3, 4)


def asserts(f):
    """Whether ``f()`` raised an AssertionError (the harness re-raises one as a failure)."""
    return isinstance(catch(f), AssertionError)


table("embedding_refused", {
    "weight_shape": lambda T: asserts(lambda: T.nn.Embedding(4, 4, _weight=t(T, _W34))),
    "bag_weight_shape": lambda T: asserts(lambda: T.nn.EmbeddingBag(3, 5, _weight=t(T, _W34))),
    "padding_idx": lambda T: asserts(lambda: T.nn.Embedding(3, 4, padding_idx=3)),
    "padding_idx_negative": lambda T: asserts(lambda: T.nn.Embedding(3, 4, padding_idx=-4)),
    "padding_idx_last": lambda T: T.nn.Embedding(3, 4, padding_idx=-3).padding_idx,
    "bag_padding_idx": lambda T: asserts(lambda: T.nn.EmbeddingBag(3, 4, padding_idx=5)),
    "pretrained_1d": lambda T: asserts(lambda: T.nn.Embedding.from_pretrained(t(T, _W34[0]))),
    "pretrained_padding_idx": lambda T: asserts(
        lambda: T.nn.Embedding.from_pretrained(t(T, _W34), padding_idx=3)),
    "F_padding_idx": lambda T: asserts(lambda: T.nn.functional.embedding(
        T.tensor([0, 2]), t(T, _W34), padding_idx=5)),
    "F_bag_padding_idx": lambda T: catch(lambda: T.nn.functional.embedding_bag(
        T.tensor([0, 2]), t(T, _W34), T.tensor([0]), padding_idx=-4)),
    "F_padding_idx_negative_grad": lambda T: grad_of(T, lambda w: T.nn.functional.embedding(
        T.tensor([0, 2, 1]), w, padding_idx=-1), _W34),
})


def test_embedding_errors_are_both_assertion_and_value_errors():
    nn = zeroin.nn
    for make in (lambda: nn.Embedding(3, 4, padding_idx=3),
                 lambda: nn.Embedding(4, 4, _weight=zeroin.zeros(3, 4)),
                 lambda: nn.Embedding.from_pretrained(zeroin.zeros(3))):
        for catches in (AssertionError, ValueError):
            with pytest.raises(catches, match=r"^Embedding.*(padding_idx must be within "
                               r"num_embeddings \(3\): -3\.\.2, got 3|_weight's shape \(3, "
                               r"4\) does not match|must be 2-D)"):
                make()


# NaN sorts as the largest value; median, max and kthvalue propagate it
table("nan", {
    "topk": lambda T: t(T, [3.0, NAN, 1.0]).topk(1),
    "topk_rows": lambda T: t(T, NANS).topk(2, dim=1),
    "topk_smallest": lambda T: t(T, NANS).topk(2, dim=1, largest=False),
    "sort": lambda T: t(T, NANS).sort(dim=1),
    "sort_descending": lambda T: t(T, NANS).sort(dim=1, descending=True),
    "sort_descending_ties": lambda T: T.tensor([2, 1, 2, 1, 3]).sort(descending=True),
    "argsort_descending": lambda T: t(T, NANS).argsort(dim=1, descending=True),
    "median": lambda T: t(T, [3.0, NAN, 1.0]).median(),
    "median_dim": lambda T: t(T, NANS).median(1),
    "median_no_nan": lambda T: t(T, A).median(0),
    "max_dim": lambda T: t(T, NANS).max(1),
    "min_dim": lambda T: t(T, NANS).min(0),
    "argmax": lambda T: (t(T, NANS).argmax(), t(T, NANS).argmax(1)),
    "amax": lambda T: t(T, NANS).amax(1),
    "topk_grad": lambda T: grad_of(T, lambda x: x.topk(2, dim=1).values, NANS),
})


# --- names a port reaches for early ----------------------------------------------------------

P3 = np.array([[0.5, 1.5, 2.0, 3.5], [1.0, 0.25, 4.0, 2.5], [3.0, 2.0, 1.0, 0.5]])
MODES = np.array([[1.0, 2.0, 2.0, 3.0, 3.0, 1.0], [5.0, 5.0, 4.0, 4.0, 0.0, 9.0]])
V3 = np.random.default_rng(7).uniform(-2, 2, (4, 3))

table("new", {
    "new_zeros": lambda T: t(T, A, dtype=T.float32).new_zeros(2, 3),
    "new_zeros_tuple": lambda T: T.arange(3).new_zeros((2,)),
    "new_zeros_size_kw": lambda T: t(T, A).new_zeros(size=(1, 2)),
    "new_ones": lambda T: T.arange(3).new_ones(2, 2, dtype=T.float64),
    "new_empty": lambda T: (t(T, A).new_empty(3).shape, t(T, A).new_empty(3).dtype),
    "new_full": lambda T: T.arange(3).new_full((2,), 2.5),
    "new_full_grad": lambda T: t(T, A).new_full((2,), 3, requires_grad=True),
    "new_tensor": lambda T: t(T, A, dtype=T.float32).new_tensor([1, 2]),
    "new_tensor_int": lambda T: T.arange(3).new_tensor([1.5, 2.5]),
})

table("keywords", {
    "sum_dtype": lambda T: T.arange(4).sum(dtype=T.float32),
    "sum_dim_dtype": lambda T: t(T, A).sum(1, dtype=T.float32),
    "mean_dtype": lambda T: T.arange(4).mean(dtype=T.float64),
    "mean_dtype_grad": lambda T: grad_of(T, lambda x: x.mean(0, dtype=T.float32), A),
    "div_floor": lambda T: grad_of(T, lambda a, b: a.div(b, rounding_mode="floor"), A, P),
    "div_trunc": lambda T: grad_of(T, lambda a, b: T.div(a, b, rounding_mode="trunc"), A, P),
    "div_floor_int": lambda T: T.tensor([-7, 7, -8, 9]).div(2, rounding_mode="floor"),
    "div_trunc_int": lambda T: T.div(T.tensor([-7, 7, -8, 9]), T.tensor([2, -2, 2, -4]),
                                     rounding_mode="trunc"),
    "div_none": lambda T: T.tensor([-7, 7]).div(2, rounding_mode=None),
    "divide_floor": lambda T: T.divide(t(T, A), 0.3, rounding_mode="floor"),
    "div_bad_mode": lambda T: catch(lambda: t(T, A).div(2, rounding_mode="round")),
    "zeros_size": lambda T: T.zeros(size=(2, 3)),
    "ones_size": lambda T: T.ones(size=[2], dtype=T.int64),
    "empty_size": lambda T: T.empty(size=(1, 2)).shape,
    "full_kw": lambda T: T.full(size=(2, 2), fill_value=1.5),
    "arange_end": lambda T: T.arange(end=3),
    "arange_kw": lambda T: T.arange(start=1, end=5, step=2),
    "arange_float_kw": lambda T: T.arange(0.0, end=1.0, step=0.25),
})

table("clamp", {
    "clamp_min": lambda T: grad_of(T, lambda x: x.clamp_min(0.5), A),
    "clamp_max": lambda T: grad_of(T, lambda x: T.clamp_max(x, -0.5), A),
    "clamp_min_int": lambda T: T.arange(4).clamp_min(2),
})

table("select", {
    "masked_select": lambda T: grad_of(T, lambda x: x.masked_select(x > 0), A),
    "masked_select_broadcast": lambda T: grad_of(
        T, lambda x: T.masked_select(x, T.tensor([True, False, True, False])), A),
    "masked_select_float_mask": lambda T: catch(lambda: t(T, A).masked_select(t(T, A))),
    "masked_scatter": lambda T: grad_of(
        T, lambda x, s: x.masked_scatter(x > 0, s), A, B),
    "masked_scatter_broadcast_mask": lambda T: grad_of(
        T, lambda x, s: x.masked_scatter(T.tensor([True, False, True, False]), s), A, B),
    "masked_scatter_broadcast_input": lambda T: grad_of(
        T, lambda x, s: T.masked_scatter(x[0], T.tensor(MASK), s), A, B),
    "masked_scatter_inf_gradient": lambda T: grad_of(
        T, lambda x, s: x.masked_scatter(x > 1, s * 0).sqrt(), P, B),
    "masked_scatter_short_source": lambda T: catch(
        lambda: t(T, A).masked_scatter(T.tensor(MASK), t(T, [1.0]))),
    "masked_scatter_other_dtype": lambda T: catch(
        lambda: t(T, A).masked_scatter(T.tensor(MASK), t(T, B).float())),
    "masked_scatter_int_mask": lambda T: catch(
        lambda: t(T, A).masked_scatter(T.tensor(MASK).long(), t(T, B))),
    "index_add": lambda T: grad_of(
        T, lambda x, s: x.index_add(0, T.tensor([2, 0, 2]), s), A, B),
    "index_add_dim1_alpha": lambda T: grad_of(
        T, lambda x, s: T.index_add(x, 1, T.tensor([3, 1]), s[:, :2], alpha=2.0), A, B),
    "index_add_": lambda T: T.zeros(3, 2).index_add_(0, T.tensor([1, 1]), T.ones(2, 2)),
    "index_add_bad_shape": lambda T: catch(
        lambda: t(T, A).index_add(0, T.tensor([0]), t(T, B))),
})

table("reduce", {
    "nansum": lambda T: grad_of(T, lambda x: x.nansum(), NANS),
    "nansum_dim": lambda T: grad_of(T, lambda x: T.nansum(x, dim=1, keepdim=True), NANS),
    "nansum_int": lambda T: T.nansum(T.tensor([1, 2])),
    "var_mean": lambda T: T.var_mean(t(T, A)),
    "var_mean_dim": lambda T: grad_of(T, lambda x: T.stack(T.var_mean(x, 1)), A),
    "std_mean": lambda T: T.std_mean(t(T, A), dim=0, keepdim=True),
    "std_mean_correction": lambda T: T.std_mean(t(T, A), 1, correction=0),
    "quantile": lambda T: grad_of(T, lambda x: T.quantile(x, 0.3), A),
    "quantile_dim": lambda T: grad_of(T, lambda x: x.quantile(0.75, dim=1), A),
    "quantile_q_tensor": lambda T: grad_of(
        T, lambda x: T.quantile(x, T.tensor([0.1, 0.5, 1.0]), dim=0, keepdim=True), A),
    "quantile_all_keepdim": lambda T: T.quantile(t(T, A), T.tensor([0.2, 0.4]), keepdim=True),
    "quantile_nan": lambda T: T.quantile(t(T, NANS), 0.5, dim=1),
    "quantile_modes": lambda T: [T.quantile(t(T, A), 0.4, dim=1, interpolation=m)
                                 for m in ("lower", "higher", "midpoint", "nearest")],
    "quantile_bad_q": lambda T: catch(lambda: T.quantile(t(T, A), 1.5)),
    "quantile_int": lambda T: catch(lambda: T.quantile(T.arange(4), 0.5)),
    "nanquantile": lambda T: grad_of(T, lambda x: T.nanquantile(x, 0.3, dim=1), NANS),
    "nanquantile_q_tensor": lambda T: grad_of(
        T, lambda x: x.nanquantile(T.tensor([0.1, 0.5, 1.0]), dim=0, keepdim=True), NANS),
    "nanquantile_all": lambda T: T.nanquantile(t(T, NANS), T.tensor([0.2, 0.4]), keepdim=True),
    "nanquantile_modes": lambda T: [T.nanquantile(t(T, NANS), 0.4, dim=1, interpolation=m)
                                    for m in ("lower", "higher", "midpoint", "nearest")],
    "nanquantile_nan_line": lambda T: T.nanquantile(
        t(T, np.array([[NAN, NAN, NAN], [2.0, NAN, 1.0]])), 0.5, dim=1),
    "nanquantile_no_nan": lambda T: grad_of(T, lambda x: x.nanquantile(0.75, dim=1), A),
    "nanquantile_bad_q": lambda T: catch(lambda: T.nanquantile(t(T, A), -0.1)),
    "heaviside": lambda T: T.heaviside(t(T, np.array([-1.0, 0.0, 2.0, NAN, -0.0])),
                                       t(T, np.array([0.5]))),
    "heaviside_int": lambda T: T.tensor([-1, 0, 3]).heaviside(T.tensor([7])),
    "heaviside_dtypes": lambda T: catch(lambda: T.heaviside(t(T, A), T.tensor([1]))),
    "heaviside_number": lambda T: catch(lambda: T.heaviside(t(T, A), 0.5)),
    "kthvalue": lambda T: grad_of(T, lambda x: x.kthvalue(2, dim=1).values, A),
    "kthvalue_pair": lambda T: T.kthvalue(t(T, A), 3, 0, keepdim=True),
    "kthvalue_nan": lambda T: t(T, NANS).kthvalue(3, 1),
    "kthvalue_out_of_range": lambda T: catch(lambda: t(T, A).kthvalue(5)),
    "msort": lambda T: grad_of(T, lambda x: T.msort(x), A),
    "mode": lambda T: T.mode(t(T, MODES)),
    "mode_dim0": lambda T: t(T, MODES).mode(0, keepdim=True),
    "mode_int": lambda T: T.tensor([[1, 2, 2, 3], [5, 5, 4, 4]]).mode(1),
    "mode_grad": lambda T: grad_of(T, lambda x: x.mode(1).values, MODES),
    "cummax": lambda T: T.cummax(t(T, [1.0, 3.0, 3.0, 2.0, 5.0]), 0),
    "cummax_nan": lambda T: t(T, [3.0, NAN, 1.0, NAN, 7.0]).cummax(0),
    "cummin_nan": lambda T: t(T, [3.0, 1.0, NAN, 5.0, 4.0]).cummin(dim=0),
    "cummax_grad": lambda T: grad_of(T, lambda x: x.cummax(1).values, A),
    "cummin_grad": lambda T: grad_of(T, lambda x: T.cummin(x, 0)[0], TIES3),
    "logcumsumexp": lambda T: grad_of(T, lambda x: x.logcumsumexp(1), A),
    "logcumsumexp_dim0": lambda T: grad_of(T, lambda x: T.logcumsumexp(x, dim=0), A),
    "logcumsumexp_wide": lambda T: T.logcumsumexp(t(T, [-1000.0, 0.0, 1000.0]), 0),
    "trace": lambda T: grad_of(T, lambda x: x.trace(), A),
    "trace_int": lambda T: T.arange(9).reshape(3, 3).trace(),
    "trace_3d": lambda T: catch(lambda: T.trace(t(T, A3))),
})

table("shape", {
    "movedim": lambda T: grad_of(T, lambda x: x.reshape(2, 3, 2).movedim(0, -1), A),
    "movedim_tuple": lambda T: T.movedim(t(T, A3), (0, 1), (2, 0)),
    "moveaxis": lambda T: T.moveaxis(t(T, A3), -1, 0),
    "diff": lambda T: grad_of(T, lambda x: x.diff(), A),
    "diff_n_dim": lambda T: grad_of(T, lambda x: T.diff(x, n=2, dim=0), A),
    "diff_prepend": lambda T: T.diff(t(T, A), dim=1, prepend=t(T, B)[:, :1],
                                     append=t(T, B)[:, :2]),
    "diff_int": lambda T: T.diff(T.tensor([1, 3, 6, 10]), n=2),
    "diff_too_far": lambda T: T.diff(T.tensor([1, 3]), n=3),
    "diff_bool": lambda T: T.diff(T.tensor([True, False, False])),
    "cross": lambda T: grad_of(T, lambda a, b: T.cross(a, b, dim=1), V3, V3[::-1] * 2),
    "cross_method_dim0": lambda T: t(T, V3.T).cross(t(T, V3.T[:, ::-1]), dim=0),
    "cross_default": _quiet(lambda T: T.cross(t(T, V3[:3]), t(T, V3[1:]))),
    "cross_bad": lambda T: catch(lambda: T.cross(t(T, A), t(T, B), dim=1)),
    "tensordot": lambda T: grad_of(T, lambda a, b: T.tensordot(a, b, dims=1), A, B.T),
    "tensordot_2": lambda T: T.tensordot(t(T, A3), t(T, A3[0].reshape(3, 4, 1)), 2),
    "tensordot_lists": lambda T: grad_of(
        T, lambda a, b: T.tensordot(a.reshape(2, 3, 2), b.reshape(2, 3, 2),
                                    dims=([1, 0], [1, 0])), A, B),
    "tensordot_dims_0": lambda T: T.tensordot(t(T, A), t(T, B), dims=([0], [0])),
    "tensor_split": lambda T: T.tensor_split(T.arange(7), 3),
    "tensor_split_indices": lambda T: T.arange(7).tensor_split([1, 5]),
    "tensor_split_dim": lambda T: grad_of(T, lambda x: T.tensor_split(x, 3, dim=1)[0], A),
    "tensor_split_past_end": lambda T: T.tensor_split(T.arange(5), (2, 9)),
    "nan_to_num": lambda T: grad_of(T, lambda x: T.nan_to_num(x), INFS),
    "nan_to_num_values": lambda T: T.nan_to_num(t(T, INFS), nan=1.0, posinf=2.0,
                                                neginf=-3.0),
    "nan_to_num_float32": lambda T: t(T, INFS, dtype=T.float32).nan_to_num(),
})

table("grids", {
    "meshgrid_ij": lambda T: T.meshgrid(T.arange(2), T.arange(3), indexing="ij"),
    "meshgrid_xy": lambda T: T.meshgrid(T.arange(2), T.arange(3), T.arange(4), indexing="xy"),
    "meshgrid_list": lambda T: T.meshgrid([T.arange(2), T.arange(3)], indexing="xy"),
    "meshgrid_default": _quiet(lambda T: T.meshgrid(T.arange(2), T.arange(3))),
    "meshgrid_grad": lambda T: grad_of(T, lambda a, b: T.stack(T.meshgrid(a, b, indexing="ij")),
                                       A[0, :3], B[1]),
    "tril_indices": lambda T: T.tril_indices(3, 4),
    "triu_indices": lambda T: T.triu_indices(4, 3, 1),
    "tril_indices_neg": lambda T: T.tril_indices(3, 3, -1),
    "cdist": lambda T: grad_of(T, lambda a, b: T.cdist(a, b), A, B[:2]),
    "cdist_zero_distance": lambda T: grad_of(T, lambda a, b: T.cdist(a, b), A, A[:2]),
    "cdist_p1": lambda T: grad_of(T, lambda a, b: T.cdist(a, b, p=1), A, B),
    "cdist_pinf": lambda T: grad_of(T, lambda a, b: T.cdist(a, b, p=float("inf")), A, B),
    "cdist_p3_batched": lambda T: grad_of(T, lambda a, b: T.cdist(a, b, p=3.0),
                                          A3, A3[:, :2] * 0.5),
})

table("dtypes", {
    "promote_types": lambda T: [T.promote_types(a, b) for a, b in (
        (T.int32, T.float32), (T.int64, T.float16), (T.uint8, T.int8), (T.bool, T.int32),
        (T.float32, T.float64), (T.complex64, T.float64), (T.bool, T.bool))],
    "result_type": lambda T: [T.result_type(a, b) for a, b in (
        (T.tensor([1], dtype=T.int32), 2.5), (t(T, A, dtype=T.float32), 2.5),
        (T.tensor([1], dtype=T.int32), T.tensor([1])), (T.tensor([1]), T.tensor(1.0)),
        (t(T, A, dtype=T.float32), T.tensor(1.0)), (T.tensor([1], dtype=T.uint8), 300),
        (2, 3.0), (T.tensor(True), 2), (T.tensor([True]), T.tensor(2)),
        (t(T, A, dtype=T.float32), 1j))],
})


# --- lines of PyTorch's beginner tutorials (scripts in the "first hour" audit) ---------------

CLASSES = ("plane", "car", "bird", "cat")


def _walk_back(T):
    """The blitz tutorial's ``loss.grad_fn.next_functions[0][0]...``: what each input is."""
    x = T.tensor([1.0, 2.0], requires_grad=True)
    w = T.tensor([3.0, 4.0], requires_grad=True)
    h = x * w + 1.0
    loss = (h * 2.0).sum()
    mul2 = loss.grad_fn.next_functions[0][0]
    add = mul2.next_functions[0][0]
    mul = add.next_functions[0][0]
    leaves = [f for f, _ in mul.next_functions]
    return (len(loss.grad_fn.next_functions), [n for _, n in mul2.next_functions],
            mul2.next_functions[1][0] is None, add is h.grad_fn, mul.next_functions[0][1],
            [type(f).__name__ for f in leaves], leaves[0].variable is x,
            leaves[1].variable is w, T.tensor(1.0).grad_fn is None)


table("tutorial", {
    "index_label": lambda T: [CLASSES[T.tensor([2, 0, 3])[j]] for j in range(3)],
    "index_int_tensor": lambda T: [list(range(T.tensor(3))), [1, 2, 3][T.tensor([1])],
                                   "abc"[T.tensor(2, dtype=T.uint8)], [5, 6][T.tensor(True)]],
    "index_float_refused": lambda T: catch(lambda: CLASSES[T.tensor(1.0)]),
    "index_many_refused": lambda T: catch(lambda: CLASSES[T.tensor([1, 2])]),
    "index_numpy_array": lambda T: (np.arange(10)[T.tensor(3)].item(),
                                    np.arange(10)[T.tensor([1, 2])].tolist()),
    "next_functions": _walk_back,
    "out_matmul_mul": lambda T: _out(T, lambda x, o: T.matmul(x, x.T, out=o), (3, 3)) + _out(
        T, lambda x, o: T.mul(x, x, out=o), (3, 3)),
    "out_add_sub_div_cat_stack": lambda T: [_out(T, f, (3, 3)) for f in (
        lambda x, o: T.add(x, 1.5, alpha=2, out=o), lambda x, o: T.sub(x, x * 3, out=o),
        lambda x, o: T.div(x, 4, rounding_mode="floor", out=o))] + [
        _out(T, lambda x, o: T.cat([x, x], dim=1, out=o), (3, 6)),
        _out(T, lambda x, o: T.stack([x, x], out=o), (2, 3, 3))],
    "out_float64_into_float32": lambda T: _out(T, lambda x, o: T.mul(x, 2, out=o), (3, 3),
                                               T.float32),
    "out_float_into_int_refused": lambda T: catch(
        lambda: T.mul(t(T, A3[0, :3, :3]), 2, out=T.zeros(3, 3, dtype=T.int64))),
    "out_input_requires_grad_refused": lambda T: catch(
        lambda: T.mul(t(T, A, grad=True), 2, out=T.zeros(3, 4))),
    "out_requires_grad_refused": lambda T: catch(
        lambda: T.mul(t(T, A), 2, out=T.zeros(3, 4, requires_grad=True))),
    "out_under_no_grad": lambda T: _no_grad_out(T),
    "out_creation": lambda T: [
        _out(T, lambda x, o: T.zeros(3, 3, out=o), (3, 3), T.int64),
        _out(T, lambda x, o: T.ones(2, 2, out=o), (2, 2)),
        _out(T, lambda x, o: T.full((3, 3), 7.0, out=o), (3, 3), T.float32),
        _out(T, lambda x, o: T.eye(3, out=o), (3, 3)),
        _out(T, lambda x, o: T.arange(9, out=o), (9,)),
        _out(T, lambda x, o: T.linspace(0, 1, 5, out=o), (5,), T.float32)],
    "out_creation_resized": lambda T: _out(T, lambda x, o: T.zeros(2, 5, out=o), (3,),
                                                resized=True),
    "like_takes_no_out": lambda T: [catch(lambda: getattr(T, f)(t(T, A), out=t(T, A))) for f in (
        "zeros_like", "ones_like", "empty_like", "rand_like", "randn_like")],
    "empty_pin_memory": lambda T: T.empty(2, 3, pin_memory=False).shape,
})


# UvA DL tutorials 5, 7, 9, 11: the calls around their code that PyTorch refuses or that
# NumPy would read otherwise (each was accepted silently, or refused with another type)
table("uva", {
    "roll_shifts_for_one_dim": lambda T: catch(lambda: T.roll(t(T, A), shifts=(1, 1), dims=0)),
    "roll_one_shift_two_dims": lambda T: catch(lambda: T.roll(t(T, A), shifts=(1,),
                                                              dims=(0, 1))),
    "roll_int_shift_two_dims": lambda T: catch(lambda: T.roll(t(T, A), shifts=1, dims=(0, 1))),
    "roll_two_shifts_no_dims": lambda T: catch(lambda: T.roll(t(T, A), shifts=(1, 2))),
    "roll_no_shifts": lambda T: catch(lambda: T.roll(t(T, A), shifts=(), dims=())),
    "roll_float_shift": lambda T: catch(lambda: T.roll(t(T, A), shifts=1.5, dims=0)),
    "roll_still_rolls": lambda T: [grad_of(T, lambda x: T.roll(x, shifts=[1, -2], dims=[0, 1]),
                                           A), T.roll(t(T, A), shifts=(1,)),
                                   t(T, A).roll(2, 1), T.roll(t(T, A), -5)],
    "cdist_unknown_compute_mode": lambda T: catch(lambda: T.cdist(t(T, A), t(T, B),
                                                                  compute_mode="mm")),
    "cdist_compute_mode_none": lambda T: catch(lambda: T.cdist(t(T, A), t(T, B),
                                                               compute_mode=None)),
    "cdist_compute_modes": lambda T: [T.cdist(t(T, A), t(T, B), compute_mode=m) for m in (
        "use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
        "donot_use_mm_for_euclid_dist")],
    "cdist_negative_p": lambda T: catch(lambda: T.cdist(t(T, A), t(T, B), p=-1)),
    "meshgrid_unknown_indexing": lambda T: catch(lambda: T.meshgrid(t(T, A[0]), t(T, B[0]),
                                                                    indexing="yx")),
    "gelu_unknown_approximate": lambda T: [
        catch(lambda: T.nn.GELU(approximate="tan")(t(T, A))),
        catch(lambda: T.nn.functional.gelu(t(T, A), approximate="tan"))],
    "max_pool_padding_over_half": lambda T: catch(
        lambda: T.nn.MaxPool2d(3, stride=1, padding=2)(t(T, A3[None]))),
    "conv_transpose_output_padding": lambda T: catch(
        lambda: T.nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=2)(
            t(T, A3[None]))),
    "einsum_subscript_sizes_differ": lambda T: catch(
        lambda: T.einsum("bijh,bjhc->bihc", T.ones(1, 4, 4, 2), T.ones(1, 3, 2, 5))),
    "einsum_subscripts_for_dims": lambda T: catch(lambda: T.einsum("ij,jk->ik", t(T, A),
                                                                   t(T, B[0]))),
    "einsum_repeated_letter_sizes": lambda T: catch(lambda: T.einsum("ii->i", t(T, A))),
    "einsum_too_few_operands": lambda T: catch(lambda: T.einsum("bhc,hc->bh", t(T, A3))),
    "einsum_size_one_broadcasts": lambda T: T.einsum("ij,jk->ik", t(T, A[:, :1]), t(T, B)),
    "expand_minus_one_new_dim": lambda T: catch(lambda: t(T, A[0]).expand(-1, 4)),
    # tutorial 11's dequantization draws rand_like(z) after z.to(float32); on the int32
    # image itself PyTorch has no kernel (NotImplementedError)
    "rand_like_int_image": lambda T: [catch(lambda: T.rand_like(t(T, A).to(T.int32))),
                                      catch(lambda: T.randn(2, dtype=T.int64)),
                                      catch(lambda: T.rand(2, dtype=T.bool))],
    "normal_parameters_do_not_broadcast": lambda T: catch(
        lambda: T.distributions.Normal(t(T, A[0]), t(T, A[:, 0]))),
    "grad_switches_decorate_without_the_call": lambda T: _bare_decorators(T),
    # tutorial 7's attn_logits.new_zeros(...).fill_(-9e15) in float16 (or -1e9 masks):
    # PyTorch refuses a value past the dtype's range, NumPy made it -inf silently
    "fill_past_the_dtype": lambda T: [catch(lambda: f(T)) for f in _PAST_DTYPE],
    "fill_within_the_dtype": lambda T: [
        T.ones(2, dtype=T.uint8).fill_(-1), T.ones(2, dtype=T.int32).fill_(-2.7),
        T.ones(2, dtype=T.int64).fill_(-2 ** 63), T.ones(2, dtype=T.float16).fill_(65504.0),
        T.ones(2, dtype=T.float32).fill_(float("inf")), T.ones(2, dtype=T.bool).fill_(5),
        T.ones(2, dtype=T.uint8).new_full((2,), -255), T.full((2,), -9e15),
        T.ones(2, dtype=T.float16).masked_fill(T.tensor([True, False]), -6e4)],
})

_PAST_DTYPE = [
    lambda T: T.ones(1, 2, 2, dtype=T.float16).new_zeros((1, 2, 2, 2)).fill_(-9e15),
    lambda T: T.ones(2, dtype=T.float16).masked_fill(T.tensor([True, False]), -1e9),
    lambda T: T.ones(2, dtype=T.float16).masked_fill_(T.tensor([True, False]), -1e9),
    lambda T: T.ones(2, dtype=T.float32).fill_(1e39),
    lambda T: T.full((2,), 70000.0, dtype=T.float16),
    lambda T: T.ones(2, dtype=T.float16).new_full((2,), 1e6),
    lambda T: T.full_like(T.ones(2, dtype=T.int8), 200),
    lambda T: T.ones(2, dtype=T.int8).fill_(300),
    lambda T: T.ones(2, dtype=T.int32).fill_(float("nan")),
    lambda T: T.ones(2, dtype=T.uint8).fill_(-256),
    lambda T: T.ones(2, dtype=T.uint8).fill_(-0.5),
    lambda T: T.ones(2, dtype=T.int64).masked_fill(T.tensor([True, False]), float("-inf")),
    lambda T: T.full((2,), 2 ** 63)]


def _bare_decorators(T):
    """``@T.no_grad`` / ``@T.enable_grad`` / ``@T.inference_mode`` without the call (tutorial
    11 writes ``@torch.no_grad()`` above its sampler; newer code drops the parentheses)."""
    x = t(T, A, grad=True)

    @T.no_grad
    def off(x):
        return (x * 2).requires_grad, T.is_grad_enabled()

    @T.enable_grad
    def on(x):
        return (x * 2).requires_grad

    @T.inference_mode
    def infer(x):
        return (x * 2).requires_grad, T.is_inference_mode_enabled()

    with T.no_grad():
        back_on = on(x)
    return [off(x), back_on, infer(x), T.is_grad_enabled(), off.__name__,
            T.inference_mode(False)(infer)(x)]

def _out(T, f, shape, dtype=None, resized=False):
    """``f(x, out=o)`` with ``o`` a tensor of ``shape``: the result, what ``o`` now holds,
    whether they are one tensor and (unless ``o`` is to be resized: PyTorch cannot resize a
    tensor whose memory NumPy holds) whether ``o`` kept its memory."""
    x = t(T, A3[0, :3, :3])
    o = T.full(shape, -1.0, dtype=dtype or T.float64)
    before = None if resized else o.numpy()
    r = f(x, o)
    return r, o, r is o, resized or np.shares_memory(before, o.numpy())


def _no_grad_out(T):
    with T.no_grad():
        return _out(T, lambda x, o: T.mul(x.requires_grad_(), 2, out=o), (3, 3))


# --- running them ----------------------------------------------------------------------------

def _run(T, f):
    try:
        return f(T)
    except Exception as e:      # noqa: BLE001 - compared with PyTorch's behaviour
        return e


@pytest.mark.parametrize("name", sorted(IDIOMS))
def test_idiom(name):
    f = IDIOMS[name]
    torch.manual_seed(0)
    zeroin.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rt = f(torch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rz = _run(zeroin, f)
    check(name, rt, rz)


# --- the messages name the fix -------------------------------------------------------------

def test_uva_refusals_name_the_sizes_and_the_fix():
    x = zeroin.tensor(A)
    with pytest.raises(RuntimeError, match=r"roll: shifts and dimensions must align: 2 shifts "
                                           r"\(1, 1\) for 1 dims \(0,\); give one shift per dim"):
        zeroin.roll(x, shifts=(1, 1), dims=0)
    with pytest.raises(TypeError, match=r"roll: shifts must be an int or a tuple of ints, got "
                                        r"1\.5"):
        x.roll(1.5, 0)
    with pytest.raises(ValueError, match=r"cdist: 'mm' is not a valid value for compute_mode; "
                                         r"use one of 'use_mm_for_euclid_dist_if_necessary'"):
        zeroin.cdist(x, x, compute_mode="mm")
    with pytest.raises(RuntimeError, match=r"einsum: in 'bijh,bjhc->bihc' subscript 'j' has "
                                           r"size 3 in operand 1 \(shape \(1, 3, 2, 5\)\) but 4 "
                                           r"in operand 0"):
        zeroin.einsum("bijh,bjhc->bihc", zeroin.ones(1, 4, 4, 2), zeroin.ones(1, 3, 2, 5))
    with pytest.raises(RuntimeError, match=r"einsum: 'ij,jk->ik' gives operand 1 2 subscripts "
                                           r"\('jk'\) but it has 1 dimensions"):
        zeroin.einsum("ij,jk->ik", x, x[0])
    with pytest.raises(RuntimeError, match=r"fill_: the value -9e\+15 cannot be converted to "
                                           r"float16 without overflow \(float16 holds -65504 to "
                                           r"65504\); convert the tensor first"):
        zeroin.ones(2, dtype=zeroin.float16).fill_(-9e15)
    with pytest.raises(RuntimeError, match=r"expand: -1 \(keep the size\) cannot be used for "
                                           r"the new leading dimension.*x\.expand\(2, -1\)"):
        x[0].expand(-1, 4)


def test_refusals_name_the_operation_and_the_fix():
    x = zeroin.tensor(A)
    with pytest.raises(ValueError, match=r"step must be greater than zero, got the slice "
                                         r"::-1 .*use x\.flip\(dim\)"):
        x[::-1]
    with pytest.raises(ValueError, match=r"the slice 1:3:-1 "):
        x[0, 1:3:-1]
    with pytest.raises(RuntimeError, match=r"flatten: start_dim 1 comes after end_dim 0 for a "
                                           r"tensor of shape \(2, 3, 4\).*flatten\(0, 1\)"):
        zeroin.tensor(A3).flatten(1, 0)
    with pytest.raises(RuntimeError, match=r"outer: input must be 1-D, got shape \(3, 4\); "
                                           r"flatten it first"):
        zeroin.outer(x, zeroin.ones(2))
    with pytest.raises(RuntimeError, match=r"where: expected condition to be a bool tensor, "
                                           r"got dtype float64 .*where\(cond != 0, a, b\)"):
        zeroin.where(zeroin.tensor([1.0, 0.0]), 1.0, 2.0)
    with pytest.warns(UserWarning, match=r"uint8 tensor treats it as a mask .*mask\.bool\(\)"):
        x[zeroin.tensor([1, 0, 1], dtype=zeroin.uint8)]
    with pytest.warns(UserWarning, match=r"where: a uint8 condition is deprecated"):
        zeroin.where(zeroin.tensor([1, 0], dtype=zeroin.uint8), 1.0, 2.0)


def test_a_float_tensor_as_an_index_says_how_to_convert():
    with pytest.raises(TypeError, match=r"only integer tensors of a single element can be "
                                        r"converted to an index; this one has shape \(\) and "
                                        r"dtype float64 \(use int\(t\)"):
        CLASSES[zeroin.tensor(1.0)]
    with pytest.raises(TypeError, match=r"this one has shape \(2,\) and dtype int64"):
        CLASSES[zeroin.tensor([1, 2])]


def test_out_refusals_name_the_op_and_the_fix():
    x = zeroin.tensor(A, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"matmul\(\): functions with out=\.\.\. arguments "
                                           r"don't support automatic differentiation, and an "
                                           r"input requires grad; write y = matmul\(\.\.\.\).*"
                                           r"zeroin\.no_grad\(\)"):
        zeroin.matmul(x, x.T, out=zeroin.zeros(3, 3))
    with pytest.raises(RuntimeError, match=r"result type float64 can't be cast to the desired "
                                           r"output type int64; give an out of dtype float64"):
        zeroin.mul(x.detach(), 2, out=zeroin.zeros(3, 4, dtype=zeroin.int64))
    with pytest.raises(TypeError, match=r"add: out must be a tensor, got ndarray"):
        zeroin.add(x.detach(), 1, out=np.zeros((3, 4)))
    with pytest.warns(UserWarning, match=r"mul: an output with one or more elements was "
                                         r"resized since it had shape \(2,\), which does not "
                                         r"match the required output shape \(3, 4\)"):
        zeroin.mul(x.detach(), 2, out=zeroin.zeros(2))


def test_random_like_functions_use_their_generator():
    x = zeroin.ones(2, 3)
    for f, extra in ((zeroin.rand_like, ()), (zeroin.randn_like, ()),
                     (zeroin.randint_like, (100,))):
        a, b = (f(x, *extra, generator=zeroin.Generator().manual_seed(7)) for _ in range(2))
        c = f(x, *extra, generator=zeroin.Generator().manual_seed(8))
        assert a.tolist() == b.tolist() != c.tolist()


def test_uint8_index_warning_points_at_the_callers_line():
    x = zeroin.tensor(A)
    with pytest.warns(UserWarning) as w:
        x[zeroin.tensor([1, 0, 1], dtype=zeroin.uint8), 0]
    assert w[0].filename == __file__


def test_comparing_with_none_is_a_python_bool():
    x = zeroin.tensor(A)
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert x not in [None]          # `in` compares with ==
    for other in ("x", [1.0], (1.0,), object()):        # PyTorch's False / True too
        assert (x == other) is False and (x != other) is True
        assert (other == x) is False and (other != x) is True
    assert x not in ["x", "y"] and x in ["x", x]


def test_errors_of_the_new_names_say_what_to_do():
    x = zeroin.tensor(A)
    with pytest.raises(RuntimeError, match=r"div: rounding_mode must be None, 'floor' or "
                                           r"'trunc', got 'round'"):
        x.div(2, rounding_mode="round")
    with pytest.raises(TypeError, match=r"zeros: got the size twice"):
        zeroin.zeros(2, size=(2,))
    with pytest.raises(TypeError, match=r"arange: give the end, as arange\(5\)"):
        zeroin.arange()
    with pytest.raises(RuntimeError, match=r"masked_select: expected a bool tensor for mask, "
                                           r"got dtype float64; .*mask\.bool\(\)"):
        x.masked_select(x)
    with pytest.raises(RuntimeError, match=r"index_add: source of shape \(3, 4\) does not fit: "
                                           r"with 1 indices along dim 0 .*shape \(1, 4\)"):
        x.index_add(0, zeroin.tensor([0]), x)
    with pytest.raises(RuntimeError, match=r"kthvalue: k=5 is out of range for a dimension of "
                                           r"size 4 \(k counts from 1"):
        x.kthvalue(5)
    with pytest.raises(RuntimeError, match=r"quantile: q must be a number or a 1-D tensor of "
                                           r"values in \[0, 1\], got 1.5"):
        x.quantile(1.5)
    with pytest.raises(RuntimeError, match=r"trace: expects a matrix \(2-D\), got shape "
                                           r"\(2, 3, 4\)"):
        zeroin.tensor(A3).trace()
    with pytest.raises(RuntimeError, match=r"cross: dimension 1 of shape \(3, 4\) must have "
                                           r"size 3"):
        x.cross(x, dim=1)
    with pytest.raises(RuntimeError, match=r"tensordot: cannot contract dims \[1\] of shape "
                                           r"\(3, 4\) with dims \[0\] of shape \(3, 4\)"):
        zeroin.tensordot(x, x, 1)
    with pytest.warns(UserWarning, match=r"meshgrid: .*pass indexing='ij'"):
        zeroin.meshgrid(zeroin.arange(2), zeroin.arange(3))


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int16",
                                   "int8", "uint8", "bool", "complex64", "complex128"])
def test_type_without_argument_is_pytorchs_legacy_type_name(dtype):
    x = zeroin.zeros(2, dtype=getattr(zeroin, dtype))
    name = torch.zeros(2, dtype=getattr(torch, dtype)).type()
    assert x.type() == name.replace("torch.", "zeroin.")
    assert x.type(x.type()).dtype == x.dtype                 # accepted back
    assert zeroin.ones(2, dtype=zeroin.float32 if dtype != "float32" else zeroin.int64) \
        .type(x.type()).dtype == x.dtype


def _inplace_sub(T, x, y):
    x = x.clone()
    x -= y
    return x


BOOL_SUBTRACTIONS = {
    "number_minus_mask": lambda T, b, i, f: 1 - b, "mask_minus_number": lambda T, b, i, f: b - 1,
    "float_minus_mask": lambda T, b, i, f: 1.5 - b, "ints_minus_mask": lambda T, b, i, f: i - b,
    "mask_minus_floats": lambda T, b, i, f: b - f, "sub_method": lambda T, b, i, f: b.sub(1),
    "sub_alpha": lambda T, b, i, f: T.sub(f, b, alpha=2),
    "sub_inplace": lambda T, b, i, f: b.clone().sub_(1),
    "minus_equals_on_mask": lambda T, b, i, f: _inplace_sub(T, b, 1),
    "minus_equals_a_mask": lambda T, b, i, f: _inplace_sub(T, f, b),
    "two_masks": lambda T, b, i, f: b - b, "mask_minus_true": lambda T, b, i, f: b - True,
    "floats_minus_true": lambda T, b, i, f: f - True, "true_minus_ints": lambda T, b, i, f: True - i,
    "negation": lambda T, b, i, f: -b, "neg": lambda T, b, i, f: b.neg()}


@pytest.mark.parametrize("case", BOOL_SUBTRACTIONS)
def test_subtracting_with_a_bool_tensor_is_refused_as_pytorch_refuses(case):
    results = []
    for T in (torch, zeroin):
        args = (T.tensor([True, False]), T.tensor([1, 2]), T.tensor([1.0, 2.0]))
        with pytest.raises(RuntimeError) as e:
            BOOL_SUBTRACTIONS[case](T, *args)
        results.append(e)
    theirs, ours = results
    assert isinstance(ours.value, zeroin.DtypeError) and isinstance(ours.value, TypeError)
    assert str(ours.value).startswith(("sub: ", "neg: "))
    assert str(theirs.value).rstrip(".") in str(ours.value)        # PyTorch's words, and more
    if "with a bool tensor" in str(ours.value):
        assert "convert the mask first (mask.long() or mask.float())" in str(ours.value)


def test_bool_tensors_still_add_and_invert_as_in_pytorch():
    for T in (torch, zeroin):
        b, f = T.tensor([True, False]), T.tensor([1.0, 2.0])
        assert (b + 1).tolist() == [2, 1] and (f + True).tolist() == [2.0, 3.0]
        assert (~b).tolist() == [False, True] and (b ^ b).tolist() == [False, False]


def test_cdist_and_floor_division_follow_pytorch():
    torch = pytest.importorskip("torch")
    a, b = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[0.0, 1.0], [2.0, 1.0]])
    for p in (0.5, 1.0, 2.0, 3.0, float("inf")):
        za, zb = zeroin.tensor(a, requires_grad=True), zeroin.tensor(b, requires_grad=True)
        ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
        zeroin.cdist(za, zb, p=p).sum().backward()
        torch.cdist(ta, tb, p=p).sum().backward()
        np.testing.assert_allclose(za.grad.data, ta.grad.numpy(), atol=1e-12, err_msg=str(p))
        np.testing.assert_allclose(zb.grad.data, tb.grad.numpy(), atol=1e-12, err_msg=str(p))
    for L in (zeroin, torch):
        assert str((L.ones(2, dtype=L.float32) // L.tensor(2.0)).dtype).endswith("float32")
        assert str(L.div(L.arange(3), L.ones(3, dtype=L.float32),
                         rounding_mode="floor").dtype).endswith("float32")
    with pytest.raises(Exception, match="bernoulli"):
        zeroin.zeros(4).bernoulli_(1.5)


PRODUCTS = {
    "matmul": lambda T, a, b: a @ b, "mm": lambda T, a, b: T.mm(a, b),
    "bmm": lambda T, a, b: T.bmm(a[None], b[None]), "mv": lambda T, a, b: T.mv(a, b[:, 0]),
    "dot": lambda T, a, b: T.dot(a[0], b[:, 0]), "einsum": lambda T, a, b: T.einsum("ij,jk", a, b),
    "tensordot": lambda T, a, b: T.tensordot(a, b, 1), "inner": lambda T, a, b: T.inner(a, b.T),
    "addmm": lambda T, a, b: T.addmm(T.zeros(2, 2, dtype=a.dtype), a, b),
    "linear": lambda T, a, b: T.nn.functional.linear(a, b.T),
    "int_matmul": lambda T, a, b: a.long() @ b,
}


@pytest.mark.parametrize("case", PRODUCTS)
def test_products_of_two_dtypes_are_refused_as_pytorch_refuses(case):
    # NumPy would compute float32 @ float64 in float64, silently and slowly
    for T in (torch, zeroin):
        a, b = T.ones(2, 3, dtype=T.float32), T.ones(3, 2, dtype=T.float64)
        with pytest.raises(RuntimeError) as e:
            PRODUCTS[case](T, a, b)
        if T is zeroin:
            assert isinstance(e.value, zeroin.DtypeError), e.value
            name = {"int_matmul": "matmul", "inner": "tensordot", "addmm": "mm"}.get(case, case)
            assert re.match(rf"{name}: expected all operands to have the same dtype, got "
                            r"(float32|int64) and float64.*a\.to\(b\.dtype\)", str(e.value)), \
                str(e.value)
        if case != "int_matmul":    # the same products in one dtype work in both
            assert PRODUCTS[case](T, a.double(), b).dtype == T.float64


def test_linear_names_its_bias_of_another_dtype():
    x, w = zeroin.ones(2, 3), zeroin.ones(4, 3)
    with pytest.raises(zeroin.DtypeError, match=r"linear: .*got float64 and float32 "
                                                r"\(operands 0 and 2\)"):
        zeroin.nn.functional.linear(x, w, zeroin.ones(4, dtype=zeroin.float32))
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.ones(2, 3, dtype=torch.float64),
                                   torch.ones(4, 3, dtype=torch.float64),
                                   torch.ones(4, dtype=torch.float32))


def test_outer_and_kron_promote_as_pytorch():
    for T in (torch, zeroin):
        a, b = T.ones(2, dtype=T.float32), T.ones(3, dtype=T.float64)
        assert T.outer(a, b).dtype == T.float64 and T.kron(a, b).dtype == T.float64


def test_tensordot_refuses_more_dims_than_the_operands_have():
    # (5,) and (5,) with the default dims=2: PyTorch refuses; zeroin summed something
    for T in (torch, zeroin):
        with pytest.raises(RuntimeError):
            T.tensordot(T.ones(5), T.ones(5))
        assert T.tensordot(T.ones(5), T.ones(5), 1).item() == 5
        assert T.tensordot(T.ones(2, 3), T.ones(2, 3)).item() == 6
    with pytest.raises(zeroin.ShapeError, match=r"tensordot: dims=2 must be between 0 and .*"
                                                r"\(5,\) and \(5,\).*dims=1"):
        zeroin.tensordot(zeroin.ones(5), zeroin.ones(5))
    with pytest.raises(zeroin.ShapeError, match=r"dims=-1"):
        zeroin.tensordot(zeroin.ones(5), zeroin.ones(5), -1)


def test_tensor_split_takes_negative_indices_as_python_slices_and_refuses_floats():
    # tensor_split(x, [-2]) is x[:-2], x[-2:] in PyTorch; zeroin cut at 0
    for T in (torch, zeroin):
        x = T.arange(6)
        for idx in ([-2], [4, 2], [1, 10], [-10, 3], [], [0, 0]):
            got = [p.tolist() for p in T.tensor_split(x, idx)]
            want = [x.tolist()[a:b] for a, b in zip([None] + idx, idx + [None])]
            assert got == want, (T.__name__, idx, got)
        assert [p.tolist() for p in T.tensor_split(x, T.tensor([-2]))] == [[0, 1, 2, 3], [4, 5]]
        with pytest.raises(TypeError):
            T.tensor_split(x, [1.5])
        with pytest.raises(TypeError):
            T.tensor_split(x, 2.5)
    with pytest.raises(TypeError, match=r"tensor_split: indices_or_sections must be an int.*"
                                        r"got float64"):
        zeroin.tensor_split(zeroin.arange(6), zeroin.tensor([1.5, 3.0]))


def test_linspace_gives_pytorchs_values_bit_for_bit_in_float32_and_to_one_ulp_in_float64():
    # PyTorch fills the second half from the end (end - step * (steps - 1 - i)), with a
    # fused multiply-add; np.linspace's start + i * step differed in ~a quarter of them
    rng = np.random.default_rng(7)
    differ = {np.float32: 0, np.float64: 0}
    total = 0
    for k in range(400):
        a, b = (float(v) for v in rng.normal(0, 10.0 ** int(rng.integers(-3, 4)), 2))
        if k % 3 == 0:
            a, b = float(rng.integers(-50, 50)), float(rng.integers(-50, 50))
        n = int(rng.integers(2, 200))
        for dt in (np.float32, np.float64):
            want = torch.linspace(a, b, n, dtype=getattr(torch, np.dtype(dt).name)).numpy()
            got = zeroin.linspace(a, b, n, dtype=getattr(zeroin, np.dtype(dt).name)).numpy()
            assert got.dtype == dt and got[0] == want[0] and got[-1] == want[-1]
            np.testing.assert_array_max_ulp(got, want, maxulp=0 if dt is np.float32 else 1)
            differ[dt] += int((got != want).sum())
        total += n
    assert differ[np.float32] == 0 and differ[np.float64] <= total // 10000
    for steps in (0, 1, 2, 7):         # the short ones and a plain call, default dtype
        np.testing.assert_array_equal(zeroin.linspace(-1, 3, steps).numpy(),
                                      torch.linspace(-1, 3, steps, dtype=torch.float64))


@pytest.mark.parametrize("name", ["linspace", "logspace"])
def test_linspace_and_logspace_refuse_ends_that_are_not_0d_as_pytorch(name):
    # NumPy would give a (steps, 2) table of ranges, another function
    for T in (torch, zeroin):
        with pytest.raises(RuntimeError):
            getattr(T, name)(T.tensor([0.0, 1.0]), 2.0, 3)
        got = getattr(T, name)(T.tensor(0.0), T.tensor(1.0), 3)     # 0-d tensors are fine
        np.testing.assert_allclose(np.asarray(got.tolist()),
                                   [0.0, 0.5, 1.0] if name == "linspace" else
                                   [1.0, 10 ** 0.5, 10.0])
    with pytest.raises(zeroin.ShapeError, match=rf"{name}: start must be a number or a 0-d "
                                                r"tensor, got shape \(2,\)"):
        getattr(zeroin, name)(zeroin.tensor([0.0, 1.0]), 2.0, 3)
