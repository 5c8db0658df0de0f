"""PyTorch parity found by a differential audit of the Tensor API: each idiom runs with
``torch`` and with ``zeroin`` (same mechanism as ``test_pytorch_parity.py``); values,
dtypes, gradients of a weighted sum and error types must agree. Each entry was a mismatch
once: a silent wrong result, a dtype PyTorch does not give, or an error PyTorch raises that
zeroin did not."""
import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

from test_pytorch_parity import (A, P, _torch_float64, catch, grad_of, same,  # noqa: E402,F401
                                 t)

IV = np.array([[7, -7, 7, -7, 0], [3, 3, -3, -3, 5]])
DV = np.array([[2, 2, -2, -2, 3], [2, -2, 2, -2, -5]])

IDIOMS = {}


def table(prefix, entries):
    for key, fn in entries.items():
        IDIOMS[f"{prefix}_{key}"] = fn


def _int(T, a):
    return T.tensor(np.array(a, dtype=np.int64))


# narrow: a negative start counts from the end; a window past the end is refused
table("narrow", {
    "negative_start": lambda T: t(T, A).narrow(-1, -2, 2),
    "negative_start_grad": lambda T: grad_of(T, lambda x: x.narrow(0, -2, 1), A),
    "empty_at_end": lambda T: t(T, A).narrow(1, 4, 0),
    "past_the_end": lambda T: catch(lambda: t(T, A).narrow(1, 3, 2)),
    "start_out_of_range": lambda T: catch(lambda: t(T, A).narrow(1, -5, 1)),
})

# arange with a step that goes away from the end is refused (NumPy: empty)
table("arange", {
    "step_sign": lambda T: catch(lambda: T.arange(0, 5, -1)),
    "step_sign_float": lambda T: catch(lambda: T.arange(1.0, 2.0, -0.5)),
    "descending": lambda T: T.arange(1, 0, -0.3),
    "empty": lambda T: T.arange(0, 0, -1),
})

# remainder / fmod with tensor divisors (were refused), and their gradients
table("remainder", {
    "tensors_int": lambda T: T.remainder(_int(T, IV), _int(T, DV)),
    "op_tensors": lambda T: _int(T, IV) % _int(T, DV),
    "fmod_tensors": lambda T: T.fmod(_int(T, IV), _int(T, DV)),
    "float_tensors": lambda T: t(T, [[7.5, -7.5, 7.5, -7.5, 0.0]]) % t(T, [[2.0, 2, -2, -2, 3]]),
    "fmod_float": lambda T: t(T, [[7.5, -7.5, 7.5, -7.5]]).fmod(t(T, [[2.0, 2, -2, -2]])),
    "broadcast": lambda T: t(T, A) % t(T, [[1.0], [2.0], [0.5]]),
    "broadcast_bad": lambda T: catch(lambda: t(T, A) % t(T, [1.0, 2.0])),
    "int_by_float": lambda T: T.arange(5) % 1.5,
    "int32_by_int": lambda T: T.arange(5, dtype=T.int32) % 3,
    "float32_by_float64": lambda T: t(T, A, dtype=T.float32) % t(T, P),
    "number_by_tensor": lambda T: 5 % _int(T, [2, -3, 4]),
    "grad_both": lambda T: grad_of(T, lambda x, y: x % y, A, P),
    "fmod_grad_both": lambda T: grad_of(T, lambda x, y: T.fmod(x, y), A, -P),
    "grad_constant_divisor": lambda T: grad_of(T, lambda x: x % T.tensor(P), A),
})

# integer division by zero raises (NumPy gives 0); float division gives inf / NaN
table("int_zero_division", {
    "floordiv": lambda T: catch(lambda: T.arange(3) // 0),
    "floor_divide_tensor": lambda T: catch(lambda: T.floor_divide(T.arange(3), _int(T, [1, 0, 2]))),
    "div_floor": lambda T: catch(lambda: T.div(T.arange(3), 0, rounding_mode="floor")),
    "div_trunc": lambda T: catch(lambda: T.div(T.arange(3), 0, rounding_mode="trunc")),
    "remainder": lambda T: catch(lambda: T.arange(3) % 0),
    "remainder_tensor": lambda T: catch(lambda: T.arange(3) % _int(T, [1, 0, 2])),
    "fmod": lambda T: catch(lambda: T.fmod(T.arange(3), 0)),
    "true_div_is_inf": lambda T: T.arange(3) / 0,
    "float_floordiv": lambda T: t(T, [1.0, -2.0]) // 0,
    "int_by_float_zero": lambda T: T.arange(3) // 0.0,
    "float_fmod": lambda T: T.fmod(t(T, A), 0.0),
})

# masked_fill keeps the input's dtype (a float value fills an integer tensor truncated)
table("masked_fill", {
    "int_float_value": lambda T: T.arange(4).masked_fill(T.arange(4) > 1, 9.5),
    "int_float_value_inplace": lambda T: T.arange(4).masked_fill_(T.arange(4) > 1, 9.5),
    "int_float_tensor_value": lambda T: T.arange(4).masked_fill(T.arange(4) > 1, T.tensor(2.7)),
    "bool_value": lambda T: T.tensor([True, False]).masked_fill(T.tensor([False, True]), 0.5),
    "float32_int_tensor_value": lambda T: t(T, A, dtype=T.float32).masked_fill(
        t(T, A) > 0, _int(T, 2)),
    "int_inf_refused": lambda T: catch(lambda: T.arange(4).masked_fill(T.arange(4) > 1,
                                                                       float("inf"))),
    "float_grad": lambda T: grad_of(T, lambda x: x.masked_fill(x > 0, 9.5), A),
})


def _run(T, f):
    try:
        with np.errstate(all="ignore"):
            return f(T)
    except Exception as e:      # noqa: BLE001 - compared with PyTorch's behaviour
        return e


@pytest.mark.parametrize("name, f", list(IDIOMS.items()), ids=list(IDIOMS))
def test_idiom(name, f):
    rt = _run(torch, f)
    if isinstance(rt, AssertionError):
        raise rt
    rz = _run(zeroin, f)
    if isinstance(rz, Exception) and not isinstance(rt, Exception):
        raise rz
    same(rt, rz, name)


# --- the messages --------------------------------------------------------------------------

def test_integer_division_by_zero_names_the_op_and_the_fix():
    with pytest.raises(ZeroDivisionError, match=r"remainder: integer division by zero.*float"):
        zeroin.arange(3) % 0
    with pytest.raises(RuntimeError, match=r"div\(rounding_mode='floor'\)"):
        zeroin.arange(3) // zeroin.tensor([1, 0, 2])


def test_narrow_past_the_end_names_sizes():
    with pytest.raises(IndexError, match=r"narrow: start 3 \+ length 2 exceeds dimension 1 "
                                         r"of size 4"):
        zeroin.zeros(3, 4).narrow(1, 3, 2)


def test_repr_names_every_dtype_pytorch_names():
    """As PyTorch: the dtype is printed unless it is the default float, int64 or bool."""
    assert repr(zeroin.tensor([1, 2], dtype=zeroin.int32)) == "tensor([1, 2], dtype=int32)"
    assert repr(zeroin.tensor([1, 2], dtype=zeroin.uint8)) == "tensor([1, 2], dtype=uint8)"
    assert repr(zeroin.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(zeroin.tensor([True])) == "tensor([ True])"
    assert repr(zeroin.tensor([1.5], dtype=zeroin.float32)) == "tensor([1.5], dtype=float32)"
