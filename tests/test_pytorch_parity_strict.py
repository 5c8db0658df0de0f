"""PyTorch parity, continued: calls PyTorch refuses (zeroin must not give them another
meaning) and names a PyTorch port reaches for early. Same table mechanism as
``test_pytorch_parity.py`` (each idiom runs with ``torch`` and with ``zeroin``; values,
dtypes, gradients and error types must agree); the messages are checked below the tables."""
import warnings

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

from test_pytorch_parity import A, A3, B, catch, grad_of, same, t  # noqa: E402

NAN = float("nan")
NANS = np.array([[3.0, NAN, 1.0, NAN], [1.0, 2.0, 3.0, 4.0], [NAN, 0.0, 0.0, 5.0]])

IDIOMS = {}


def table(prefix, entries):
    for key, fn in entries.items():
        IDIOMS[f"{prefix}_{key}"] = fn


def _quiet(f):
    """``f()`` with its warnings recorded (their categories are part of the result)."""
    def run(T):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = f(T)
        return r, tuple(sorted({x.category.__name__ for x in w}))
    return run


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
    "uint8_index_is_a_mask": _quiet(lambda T: t(T, A)[T.tensor([1, 0, 1], dtype=T.uint8)]),
    "uint8_index_in_tuple": _quiet(lambda T: t(T, A)[T.tensor([0, 1, 1], dtype=T.uint8), 1:]),
    "int_requires_grad_": lambda T: catch(lambda: T.arange(3).requires_grad_()),
})

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
    if isinstance(rt, AssertionError):
        raise rt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rz = _run(zeroin, f)
    if isinstance(rz, Exception) and not isinstance(rt, Exception):
        raise rz
    same(rt, rz, name)


# --- the messages name the fix -------------------------------------------------------------

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


def test_uint8_index_warning_points_at_the_callers_line():
    x = zeroin.tensor(A)
    with pytest.warns(UserWarning) as w:
        x[zeroin.tensor([1, 0, 1], dtype=zeroin.uint8), 0]
    assert w[0].filename == __file__


def test_comparing_with_none_is_a_python_bool():
    x = zeroin.tensor(A)
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert x not in [None]          # `in` compares with ==
