"""PyTorch parity found by a differential audit of the Tensor API: each idiom runs with
``torch`` and with ``zeroin`` (same mechanism as ``test_pytorch_parity.py``); values,
dtypes, gradients of a weighted sum and error types must agree. Each entry was a mismatch
once: a silent wrong result, a dtype PyTorch does not give, or an error PyTorch raises that
zeroin did not."""
import operator
import warnings

import functools

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

from test_pytorch_parity import (A, catch, check, grad_of, int_tensor, P,  # noqa: E402,F401
                                 run_quiet, same, t, _torch_float64, warned)
from test_pytorch_parity import table as _table  # noqa: E402

IV = np.array([[7, -7, 7, -7, 0], [3, 3, -3, -3, 5]])
DV = np.array([[2, 2, -2, -2, 3], [2, -2, 2, -2, -5]])

IDIOMS = {}
table = functools.partial(_table, idioms=IDIOMS)
_int = int_tensor


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
    # a 0/1 float mask (T.tril(T.ones(T, T)) passed as it is) is refused with a RuntimeError
    "float_mask_refused": lambda T: catch(lambda: t(T, A).masked_fill(T.ones(3, 4), 0.0)),
    "int_mask_refused_inplace": lambda T: catch(lambda: t(T, A).masked_fill_(_int(T, 1), 0.0)),
})

_warned = warned      # ``f(T)`` with its warnings' categories as part of the result


# a list index holding sequences, tensors, slices, None or ... is a tuple, with a warning
# (PyTorch's rule, which it deprecates); a plain list is one index array
table("list_index", {
    "of_lists": _warned(lambda T: t(T, A)[[[0, 1], [1, 2]]]),
    "of_tensors": _warned(lambda T: t(T, A)[[T.tensor([0, 2]), T.tensor([1, 3])]]),
    "with_slice": _warned(lambda T: t(T, A)[[slice(None), 1]]),
    "with_none": _warned(lambda T: t(T, A)[[None, 1]]),
    "plain": _warned(lambda T: t(T, A)[[2, 0, 2]]),
    "bools": _warned(lambda T: t(T, A)[[True, False, True]]),
    "empty": _warned(lambda T: t(T, A)[[]]),
    "set_of_lists": _warned(lambda T: _set(t(T, A), [[0, 1], [1, 2]], 0.0)),
    "set_empty": _warned(lambda T: _set(t(T, A), [], 0.0)),
    "grad_of_lists": _warned(lambda T: grad_of(T, lambda x: x[[[0, 2], [1, 1]]], A)),
})


def _set(x, index, value):
    x[index] = value
    return x


def _alias(op, x, v):
    """``y = x; y op= v``: in place, so ``x`` sees it (and ``y is x``)."""
    y = x
    y = op(y, v)
    return x, y is x


# x **= v, //=, %=, &=, |=, ^= are in place (they built a new tensor: aliases kept the old)
table("inplace_operator", {
    "pow": lambda T: _alias(operator.ipow, t(T, A), 2),
    "pow_int": lambda T: _alias(operator.ipow, T.arange(4), 2),
    "floordiv": lambda T: _alias(operator.ifloordiv, T.arange(-3, 4), 2),
    "floordiv_float": lambda T: _alias(operator.ifloordiv, t(T, A), 0.5),
    "floordiv_zero": lambda T: catch(lambda: _alias(operator.ifloordiv, T.arange(3), 0)),
    "mod": lambda T: _alias(operator.imod, T.arange(-3, 4), 3),
    "mod_tensor": lambda T: _alias(operator.imod, t(T, A), t(T, P)),
    "mod_zero": lambda T: catch(lambda: _alias(operator.imod, T.arange(3), _int(T, [1, 0, 1]))),
    "and": lambda T: _alias(operator.iand, T.tensor([True, True]), T.tensor([True, False])),
    "or": lambda T: _alias(operator.ior, T.arange(4), 8),
    "xor": lambda T: _alias(operator.ixor, T.arange(4), T.arange(4)),
    "pow_on_view": lambda T: (lambda x: (operator.ipow(x[0], 2), x)[1])(t(T, A)),
    "pow_grad": lambda T: grad_of(T, lambda x: operator.ipow(x * 1, 2), A),
    "mod_grad": lambda T: grad_of(T, lambda x, y: operator.imod(x * 1, y), A, P),
})

# sums and products of uint8 are int64, as of every integer dtype (NumPy: uint64)
table("uint8_reduce", {
    "sum": lambda T: T.tensor([200, 100], dtype=T.uint8).sum(),
    "sum_dim": lambda T: T.tensor([[200, 100]], dtype=T.uint8).sum(1),
    "prod": lambda T: T.tensor([200, 100], dtype=T.uint8).prod(),
    "cumsum": lambda T: T.tensor([200, 100], dtype=T.uint8).cumsum(0),
    "cumprod": lambda T: T.tensor([200, 100], dtype=T.uint8).cumprod(0),
})

# sum(dtype=...) sums in the dtype asked for (uint8 wraps, int32 stays int32); without it
# bool and int32 sum to int64
table("sum_dtype", {
    "uint8_as_uint8": lambda T: T.tensor([200, 100], dtype=T.uint8).sum(dtype=T.uint8),
    "uint8_dim_as_int16": lambda T: T.tensor([[200, 100]], dtype=T.uint8).sum(1, dtype=T.int16),
    "int32_as_int32": lambda T: T.tensor([7, -2], dtype=T.int32).sum(dtype=T.int32),
    "int32": lambda T: T.tensor([7, -2], dtype=T.int32).sum(),
    "bool": lambda T: T.tensor([True, False, True]).sum(),
    "int_as_float64": lambda T: T.tensor([1, 2]).sum(dtype=T.float64),
    "float64_as_float32": lambda T: t(T, A).sum(0, dtype=T.float32),
    "grad_as_float32": lambda T: grad_of(T, lambda x: x.sum(dtype=T.float32) * 2, A),
})

# calling conventions PyTorch has: dims one by one, repeat_interleave(counts), addcmul
table("call", {
    "flip_dims_one_by_one": lambda T: t(T, A).flip(0, 1),
    "flip_dims_keyword": lambda T: T.flip(t(T, A), dims=(1,)),
    "flip_grad": lambda T: grad_of(T, lambda x: x.flip(1, 0), A),
    "tile_dims_one_by_one": lambda T: t(T, [1.0, 2.0]).tile(2, 2),
    "tile_dims_keyword": lambda T: T.tile(t(T, A), dims=(1, 2)),
    "repeat_interleave_counts": lambda T: T.repeat_interleave(_int(T, [1, 2, 0, 3])),
    "repeat_interleave_counts_2d": lambda T: catch(
        lambda: T.repeat_interleave(_int(T, [[1, 2]]))),
    "addcmul": lambda T: T.addcmul(t(T, A), t(T, A[::-1].copy()), t(T, P), value=0.5),
    "addcmul_method": lambda T: t(T, A).addcmul(t(T, P), t(T, P)),
    "addcdiv": lambda T: T.addcdiv(t(T, A), t(T, A), t(T, P), value=-2),
    "addcdiv_method": lambda T: t(T, A).addcdiv(t(T, A), t(T, P)),
    "addcmul_grad": lambda T: grad_of(T, lambda x, y, z: T.addcmul(x, y, z, value=-2), A, A * 2, P),
    "addcdiv_grad": lambda T: grad_of(T, lambda x, y, z: x.addcdiv(y, z, value=3), A, A * 2, P),
})


_run = run_quiet


@pytest.mark.parametrize("name, f", list(IDIOMS.items()), ids=list(IDIOMS))
def test_idiom(name, f):
    check(name, _run(torch, f), _run(zeroin, f))


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
    assert repr(zeroin.tensor([True])) == "tensor([True])"
    assert repr(zeroin.tensor([1.5], dtype=zeroin.float32)) == "tensor([1.5], dtype=float32)"


@pytest.mark.parametrize("make", [
    lambda m: m.tensor([True, True]), lambda m: m.tensor([True, False]),
    lambda m: m.tensor([[True], [True]]), lambda m: m.tensor([False, False]),
    lambda m: m.tensor(True), lambda m: m.ones(3, 4) == m.ones(3, 4),
    lambda m: m.tensor([], dtype=m.int64), lambda m: m.zeros(0, 3, dtype=m.int64),
    lambda m: m.zeros(2, 0, dtype=m.bool), lambda m: m.zeros(0, 3, dtype=m.float64),
    lambda m: m.zeros(0, dtype=m.float32), lambda m: m.tensor([1, 2])[m.tensor([1, 2]) > 5],
    lambda m: m.zeros(0, 3, dtype=m.float64, requires_grad=True)])
def test_repr_of_bool_and_empty_tensors_is_pytorchs(make):
    """The ZTM course prints ``tensor_A == tensor_B`` after reseeding (all True: NumPy padded
    each to `` True``) and empty selections (``tensor([])`` hid their shape and dtype)."""
    expected = repr(make(torch)).replace("torch.", "")
    zeroin.set_default_dtype(str(torch.get_default_dtype())[6:])    # for the dtype= notes
    try:
        assert repr(make(zeroin)) == expected
    finally:
        zeroin.set_default_dtype(zeroin.float64)


@pytest.mark.parametrize("call", [lambda T, x: x.std(), lambda T, x: x.var(dim=0),
                                  lambda T, x: T.std(x), lambda T, x: T.var_mean(x),
                                  lambda T, x: T.std_mean(x, dim=0)])
def test_std_and_var_of_integers_are_refused_under_their_own_name(call):
    """ZTM's fundamentals: the mean of an int tensor fails, and so do std and var (as
    PyTorch's RuntimeError); zeroin's message named ``mean`` and offered x.float().mean()."""
    e = catch(lambda: call(torch, torch.arange(4)))
    with pytest.raises(type(e)) as z:
        call(zeroin, zeroin.arange(4))
    msg = str(z.value)
    assert not msg.startswith("mean:") and "int64" in msg and "float()" in msg
    assert msg.split(":")[0] in ("std", "var", "var_mean", "std_mean")
    assert call(zeroin, zeroin.arange(4).float()) is not None      # the fix works


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge", "logical_and"])
def test_comparisons_of_shapes_that_do_not_broadcast_name_the_op(name):
    """``torch.eq(y_true, y_pred)`` of mismatched shapes (ZTM's accuracy_fn): PyTorch's
    RuntimeError, with the op and the shapes; it was NumPy's bare ValueError."""
    a, b = np.array([1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    e = catch(lambda: getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    for f in (lambda: getattr(zeroin, name)(zeroin.tensor(a), zeroin.tensor(b)),
              lambda: getattr(zeroin.tensor(a), name)(zeroin.tensor(b))):
        with pytest.raises(type(e), match=rf"^{name}: shapes \(2,\) and \(3,\) cannot be "
                                          rf"broadcast together"):
            f()
    with pytest.raises(RuntimeError, match=r"^lt: shapes \(2,\) and \(3,\)"):
        zeroin.tensor(a) < zeroin.tensor(b)
    with pytest.raises(RuntimeError, match=r"^eq: shapes \(2,\) and \(3,\)"):
        zeroin.tensor(a) == zeroin.tensor(b)
    # shapes that broadcast still do, as PyTorch's
    same(torch.tensor(a) <= torch.tensor(b[:, None]), zeroin.tensor(a) <= zeroin.tensor(b[:, None]))


def test_T_of_other_than_two_dimensions_warns_once_as_pytorch():
    """PyTorch deprecates ``x.T`` on 0-D, 1-D and 3-D+ tensors with a UserWarning, once per
    process (ZTM's fundamentals transpose matrices with ``.T``); zeroin was silent."""
    from zeroin import amp
    amp._warned.difference_update({"T", "T0"})
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        assert zeroin.ones(2, 3).T.shape == (3, 2)                  # a matrix: no warning
        assert not w
        assert zeroin.ones(2, 3, 4).T.shape == (4, 3, 2)
        assert zeroin.ones(3).T.shape == (3,)                       # once per process
        assert zeroin.tensor(2.0).T.shape == ()
        assert zeroin.tensor(2.0).T.shape == ()
    assert [x.category for x in w] == [UserWarning, UserWarning]
    assert str(w[0].message).startswith("The use of `x.T` on tensors of dimension other "
                                        "than 2 to reverse their shape is deprecated")
    assert w[0].filename == __file__                                # the user's line
    assert str(w[1].message) == ("Tensor.T is deprecated on 0-D tensors. This function is "
                                 "the identity in these cases.")
    x = zeroin.ones(2, 3, 4, requires_grad=True)
    same(torch.ones(2, 3, 4).permute(2, 1, 0), x.T.detach())
    (x.T * zeroin.arange(24.0).reshape(4, 3, 2)).sum().backward()  # still differentiable
    assert x.grad[1, 2, 3].item() == 3 * 6 + 2 * 2 + 1


@pytest.mark.parametrize("spec", [".2f", ">30", ".3e"])
def test_a_format_spec_for_a_tensor_of_several_numbers_is_refused_as_pytorch(spec):
    """``f"{probs:.3f}"`` of a vector: PyTorch's TypeError; zeroin ignored the spec and
    printed the tensor. A 0-d tensor formats as its number in both; no spec prints it."""
    a = np.array([0.25, 0.75])
    with pytest.raises(TypeError) as theirs:
        format(torch.tensor(a), spec)
    with pytest.raises(type(theirs.value), match=r"^unsupported format string passed to "
                                                 r"Tensor\.__format__: a tensor of shape "
                                                 r"\(2,\) is not a number"):
        format(zeroin.tensor(a), spec)
    assert format(zeroin.tensor(0.25), spec) == format(torch.tensor(0.25), spec)
    assert format(zeroin.tensor(a), "") == str(zeroin.tensor(a))    # (NumPy's digits)
    assert format(torch.tensor(a), "") == str(torch.tensor(a))
    assert [f"{v:{spec}}" for v in zeroin.tensor(a).tolist()] == \
        [format(0.25, spec), format(0.75, spec)]                  # the fix it names


_ORDERINGS = [("<", operator.lt), ("<=", operator.le), (">", operator.gt), (">=", operator.ge)]


@pytest.mark.parametrize("symbol, cmp", _ORDERINGS, ids=[s for s, _ in _ORDERINGS])
@pytest.mark.parametrize("other", ["x", None, object()], ids=["str", "None", "object"])
def test_ordering_a_tensor_with_a_str_or_object_is_torchs_type_error(symbol, cmp, other):
    """t < 'x' raises PyTorch's TypeError, word for word (NumPy's UFuncTypeError before);
    == and != stay False / True, as in PyTorch."""
    messages = []
    for T in (torch, zeroin):
        with pytest.raises(TypeError) as e:
            cmp(T.tensor([1.0, 2.0]), other)
        assert type(e.value) is TypeError
        messages.append(str(e.value))
        assert (T.tensor([1.0]) == other) is False and (T.tensor([1.0]) != other) is True
    assert messages[1] == messages[0] == (f"'{symbol}' not supported between instances of "
                                          f"'Tensor' and '{type(other).__name__}'")


_SEQ_OPS = [("+", operator.add), ("-", operator.sub), ("*", operator.mul),
            ("/", operator.truediv), ("//", operator.floordiv), ("%", operator.mod),
            ("**", operator.pow), ("@", operator.matmul), ("<", operator.lt),
            (">=", operator.ge)]


@pytest.mark.parametrize("symbol, fn", _SEQ_OPS, ids=[s for s, _ in _SEQ_OPS])
@pytest.mark.parametrize("seq", [[1.0, 2.0], (1.0, 2.0)], ids=["list", "tuple"])
def test_a_list_operand_is_torchs_type_error_naming_the_fix(symbol, fn, seq):
    """t + [1, 2] (either side, and a tuple) is a TypeError in PyTorch; zeroin's names the
    operator, the types and the fix (NumPy would broadcast the list silently)."""
    for left in (True, False):
        if symbol in ("<", ">=") and not left:
            continue        # [1, 2] < t is t > [1, 2] reflected: the same check
        for T in (torch, zeroin):
            t = T.tensor([3.0, 4.0])
            with pytest.raises(TypeError) as e:
                fn(t, seq) if left else fn(seq, t)
        names = ["Tensor", type(seq).__name__][::1 if left or symbol in "+*" else -1]
        start = (f"'{symbol}' not supported between instances of" if symbol in ("<", ">=")
                 else f"unsupported operand type(s) for {symbol}:")
        assert str(e.value).startswith(start), str(e.value)
        assert f"'{names[0]}' and '{names[1]}'" in str(e.value), str(e.value)
        assert f"zeroin.tensor({seq!r})" in str(e.value)
    assert (zeroin.tensor([3.0, 4.0]) + zeroin.tensor(seq)).tolist() == [4.0, 6.0]


@pytest.mark.parametrize("call", [
    lambda T, x, a, b: x.add_(-0.1, a), lambda T, x, a, b: x.sub_(0.1, a),
    lambda T, x, a, b: x.add_(T.tensor(0.5, dtype=T.float64), a),
    lambda T, x, a, b: x.data.add_(-0.1, a.data), lambda T, x, a, b: x.data.sub_(0.1, a.data),
    lambda T, x, a, b: x.addcmul_(0.5, a, b), lambda T, x, a, b: x.addcdiv_(-0.5, a, b),
    lambda T, x, a, b: x.data.addcmul_(0.5, a.data, b.data),
    lambda T, x, a, b: x.data.addcdiv_(-0.5, a.data, b.data),
    lambda T, x, a, b: x.data.addcdiv_(a.data, b.data, value=-0.5),
    lambda T, x, a, b: T.addcdiv(x, 0.5, a, b), lambda T, x, a, b: x.addcmul(0.5, a, b),
    lambda T, x, a, b: x.add_(a, alpha=T.tensor(0.5, dtype=T.float64)),
    lambda T, x, a, b: x.add_(0.1, a.data)])     # old Adam's exp_avg.add_(1 - beta1, grad)
def test_the_deprecated_number_first_overloads_as_torch(call):
    """Pre-1.5 optimisers and samplers: ``p.data.add_(-lr, d_p)``, ``exp_avg_sq.addcmul_(1 -
    beta2, g, g)``, ``p.data.addcdiv_(-step_size, exp_avg, denom)``. PyTorch warns and
    runs them; zeroin's ``addcdiv_`` read the number as ``tensor1`` (a wrong result), and
    ``add_`` / ``sub_`` raised."""
    out = {}
    for T in (torch, zeroin):
        x = T.tensor([0.5, -2.0, 3.0], dtype=T.float64)
        a = T.tensor([1.0, 2.0, 3.0], dtype=T.float64)
        b = T.tensor([2.0, 2.0, 4.0], dtype=T.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = call(T, x, a, b)
        out[T] = (np.asarray(r), x.numpy().copy())
    for z, want in zip(out[zeroin], out[torch]):
        np.testing.assert_allclose(z, want, rtol=1e-15, atol=0)


def test_a_number_first_overload_warns_and_a_stray_positional_value_is_refused():
    x, a = zeroin.zeros(3), zeroin.ones(3)
    with pytest.warns(UserWarning, match="deprecated"):
        x.add_(0.5, a)
    with pytest.warns(UserWarning, match="deprecated"):
        x.data.addcdiv_(0.5, a.data, a.data)
    with pytest.raises(TypeError, match="value"):
        x.addcmul_(a, a, 0.5)               # PyTorch: value is a keyword
