"""The Tensor and the backward engine: the seed graph, dtypes, grad mode, hooks,
accumulation, released graphs, higher order, the million-op chain and error texts."""
import threading
import warnings

import numpy as np
import pytest

import zeroin
from conftest import leaf

# --- the chapter's graph --------------------------------------------------------------------


def test_seed_graph_values_and_gradients():
    w = zeroin.tensor(3.0, requires_grad=True, name="w")
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    x = 2 * w + b
    y = b + 1
    x.retain_grad()
    y.retain_grad()
    z = x * y
    assert (x.item(), y.item(), z.item()) == (10.0, 5.0, 50.0)
    z.backward()
    assert w.grad.item() == 10.0            # dz/dx * dx/dw = 5 * 2
    assert b.grad.item() == 15.0            # 5 * 1 + 10 * 1: the sum over both paths
    assert x.grad.item() == 5.0 and y.grad.item() == 10.0
    assert w.is_leaf and b.is_leaf and not z.is_leaf
    assert z.grad is None                   # not retained: a non-leaf output
    for t in (w, b, x, y, z):                # users only ever see ndarrays, even for 0-d
        assert type(t.numpy()) is np.ndarray and t.shape == ()
    for t in (w, b, x, y):
        assert type(t.grad) is zeroin.Tensor and type(t.grad.numpy()) is np.ndarray
    # the finite-difference view of the same numbers (nudging x or y by 0.1)
    assert ((x.data + 0.1) * y.data, x.data * (y.data + 0.1)) == (50.5, 51.0)


def test_seed_graph_gradients_match_finite_differences():
    def z(w, b):
        return (2 * w + b) * (b + 1)
    assert zeroin.gradcheck(z, [leaf(3.0), leaf(4.0)])


def test_chapter_solve_for_z_equals_60_by_moving_b():
    # Newton's method on z(b) - 60 with the derivative recomputed each step.
    b = zeroin.tensor(4.0, requires_grad=True)
    steps = []
    for _ in range(20):
        b.grad = None
        z = (2 * 3.0 + b) * (b + 1)
        err = z.item() - 60
        steps.append((b.item(), z.item()))
        if abs(err) < 1e-5:
            break
        z.backward()
        with zeroin.no_grad():
            b = zeroin.tensor(b.item() - err / b.grad.item(), requires_grad=True)
    assert steps[0] == (4.0, 50.0)
    assert steps[1][0] == pytest.approx(4 + 10 / 15) and steps[1][1] == pytest.approx(60.4444,
                                                                                     abs=1e-4)
    assert b.item() == pytest.approx((-7 + np.sqrt(265)) / 2, abs=1e-6)   # b^2 + 7b - 54 = 0
    assert len(steps) < 8


def test_chapter_gradient_descent_step():
    x = zeroin.tensor(0.2, requires_grad=True)
    y = (x - 1) ** 2 + 0.001
    y.backward()
    assert x.item() - 0.1 * x.grad.item() == pytest.approx(0.36)


# --- dtypes ---------------------------------------------------------------------------------

F32_OPS = {
    "add_number": lambda t: t + 1, "radd_number": lambda t: 1 + t,
    "sub_number": lambda t: t - 0.5, "rsub_number": lambda t: 0.5 - t,
    "mul_number": lambda t: t * 2.5, "rmul_number": lambda t: 2.5 * t,
    "div_number": lambda t: t / 3, "rdiv_number": lambda t: 3 / (t * t + 1),
    "pow_number": lambda t: t ** 2, "pow_frac": lambda t: (t * t + 1) ** 0.5,
    "rpow_number": lambda t: 2 ** t, "neg": lambda t: -t,
    "exp": zeroin.exp, "log": lambda t: zeroin.log(t * t + 1),
    "sqrt": lambda t: zeroin.sqrt(t * t + 1), "abs": zeroin.abs, "sin": zeroin.sin,
    "cos": zeroin.cos, "tanh": zeroin.tanh, "sigmoid": zeroin.sigmoid, "relu": zeroin.relu,
    "leaky_relu": zeroin.leaky_relu, "softplus": zeroin.softplus,
    "maximum": lambda t: zeroin.maximum(t, 0.1), "minimum": lambda t: zeroin.minimum(0.1, t),
    "where": lambda t: zeroin.where(t.data > 0, t, 0.0), "clip": lambda t: t.clip(-1, 1),
    "sum": lambda t: t.sum(axis=0), "mean": lambda t: t.mean(axis=1, keepdims=True),
    "max": lambda t: t.amax(axis=1), "min": lambda t: t.min(),
    "logsumexp": lambda t: zeroin.logsumexp(t, axis=1), "softmax": lambda t: zeroin.softmax(t, dim=1),
    "log_softmax": lambda t: zeroin.log_softmax(t, dim=1), "matmul": lambda t: t @ t.T,
    "matmul_1d": lambda t: t[0] @ t[1], "reshape": lambda t: t.reshape(3, 2),
    "transpose": lambda t: t.T, "permute": lambda t: t.permute(1, 0),
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0), "flatten": lambda t: t.flatten(),
    "broadcast_to": lambda t: t.broadcast_to((4, 2, 3)),
    "concatenate": lambda t: zeroin.concatenate([t, t], axis=1),
    "stack": lambda t: zeroin.stack([t, t], axis=-1), "index": lambda t: t[[0, 0, 1], 1:],
    "mask": lambda t: t[t > 0],
}


@pytest.mark.parametrize("name", sorted(F32_OPS))
def test_float32_stays_float32_forward_and_backward(name):
    x = zeroin.tensor(np.array([[0.5, -1.2, 2.0], [0.3, 0.7, -0.4]], dtype=np.float32),
                      requires_grad=True)
    y = F32_OPS[name](x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    # and through create_graph (second order)
    x.grad = None
    (g,) = zeroin.grad((F32_OPS[name](x) ** 2).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    if g.requires_grad:
        (gg,) = zeroin.grad(g.sum(), x, allow_unused=True)
        assert gg is None or gg.dtype == np.float32


def test_float32_scalars_stay_float32():
    x = zeroin.tensor(np.float32(0.7), requires_grad=True)
    w = zeroin.tensor(np.float32(-1.3), requires_grad=True)
    y = x * w + 2
    y = zeroin.exp(y / 3) - zeroin.log(y * y + 1) + zeroin.sqrt(y * y + 0.5) ** 1.5
    y = zeroin.tanh(y) * zeroin.sigmoid(-y) + zeroin.sin(y) - zeroin.cos(y) + abs(y) - 1 / y
    y = zeroin.relu(y) + zeroin.softplus(y) + 2.0 ** y - y ** 2
    assert y.dtype == np.float32 and type(y.numpy()) is np.ndarray
    y.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    x64 = zeroin.tensor(0.7, requires_grad=True)
    w64 = zeroin.tensor(-1.3, requires_grad=True)
    y64 = x64 * w64 + 2
    y64 = zeroin.exp(y64 / 3) - zeroin.log(y64 * y64 + 1) + zeroin.sqrt(y64 * y64 + 0.5) ** 1.5
    y64 = (zeroin.tanh(y64) * zeroin.sigmoid(-y64) + zeroin.sin(y64) - zeroin.cos(y64)
           + abs(y64) - 1 / y64)
    y64 = zeroin.relu(y64) + zeroin.softplus(y64) + 2.0 ** y64 - y64 ** 2
    y64.backward()
    assert x.grad.item() == pytest.approx(x64.grad.item(), rel=1e-5)
    assert w.grad.item() == pytest.approx(w64.grad.item(), rel=1e-5)


def test_python_numbers_do_not_change_dtype():
    x32 = zeroin.tensor(np.array([1.0, 2.0], dtype=np.float32))
    for y in (x32 + 1, 1 + x32, x32 * 0.1, x32 / 7, 7 / x32, x32 ** 3, 3.0 ** x32, -x32,
              x32 + True):
        assert y.dtype == np.float32
    i = zeroin.tensor([1, 2])
    assert i.dtype == np.int64
    assert (i + 1).dtype == np.int64 and (i * 2).dtype == np.int64
    assert (i * 0.5).dtype == np.float64          # int tensor * float: the default float
    # an explicit NumPy array follows NumPy's promotion
    assert (x32 + np.ones(2, dtype=np.float64)).dtype == np.float64


def test_default_dtype():
    assert zeroin.tensor(1.0).dtype == np.float64
    assert zeroin.tensor([1.0, 2]).dtype == np.float64
    assert zeroin.tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert zeroin.tensor([1, 2], dtype="float32").dtype == np.float32
    zeroin.set_default_dtype(np.float32)
    try:
        assert zeroin.get_default_dtype() == np.float32
        assert zeroin.tensor(1.0).dtype == np.float32
        assert zeroin.tensor([[1.5]]).dtype == np.float32
        assert zeroin.tensor(3, requires_grad=True).dtype == np.float32
    finally:
        zeroin.set_default_dtype(np.float64)
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype such as "
                                        "float32 or float64, got int64"):
        zeroin.set_default_dtype(np.int64)


def test_bad_value_errors_have_a_public_name():
    """A bad argument value (div's rounding_mode) is PyTorch's RuntimeError and a ValueError,
    and a learner's traceback names it zeroin.errors.InvalidValueError, not a private class."""
    import traceback
    with pytest.raises(ValueError) as e:
        zeroin.div(zeroin.ones(2), 2.0, rounding_mode="round")
    assert isinstance(e.value, RuntimeError) and isinstance(e.value, zeroin.ZeroinError)
    assert type(e.value) is zeroin.errors.InvalidValueError
    shown = "".join(traceback.format_exception_only(type(e.value), e.value))
    assert shown.startswith("zeroin.errors.InvalidValueError: div: rounding_mode"), shown
    assert zeroin.ops._ValueError is zeroin.errors.InvalidValueError     # the old name works


def test_integer_tensors_cannot_require_grad():
    msg = ("tensor: only floating-point tensors can require grad, got dtype int64; convert "
           "first, e.g. zeroin.tensor(data, dtype='float64', requires_grad=True)")
    with pytest.raises(TypeError) as e:
        zeroin.tensor(np.array([1, 2]), requires_grad=True)
    assert str(e.value) == msg
    # PyTorch's RuntimeError too, under zeroin's public name (a learner's traceback shows it)
    assert isinstance(e.value, RuntimeError)
    assert type(e.value) is zeroin.DtypeError and type(e.value).__module__ == "zeroin.errors"
    with pytest.raises(TypeError, match="only floating-point tensors can require grad, got "
                                        "dtype int32"):
        zeroin.tensor([1, 2], dtype="int32", requires_grad=True)
    with pytest.raises(TypeError, match="got dtype bool"):
        zeroin.tensor(np.array([True]), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_: only floating-point tensors can "
                                        "require grad, got dtype int64"):
        zeroin.tensor(np.arange(3)).requires_grad_()
    # Python ints asked to require grad become the default float (zeroin.tensor(3, ...)).
    w = zeroin.tensor(3, requires_grad=True)
    assert w.dtype == np.float64 and w.requires_grad


def test_requires_grad_true_on_a_computed_tensor_that_requires_grad_is_a_no_op_as_torch():
    # PINN inputs: torch.cat([x, t], 1).requires_grad_(True) where x and t already do
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        x = lib.linspace(0, 1, 4).view(-1, 1).requires_grad_(True)
        xt = lib.cat([x, x * 2], dim=1)
        assert xt.requires_grad_(True) is xt and not xt.is_leaf and xt.grad_fn is not None
        assert xt.requires_grad_() is xt
        (xt ** 2).sum().backward()
        np.testing.assert_allclose(np.asarray(x.grad.tolist()).ravel(),
                                   10 * np.linspace(0, 1, 4), rtol=1e-6)
        with pytest.raises(RuntimeError, match="leaf"):
            xt.requires_grad_(False)        # only turning it off is refused


def test_tensor_from_objects_is_refused():
    with pytest.raises(TypeError, match=r"tensor: cannot make a tensor from dict \(NumPy gives "
                                        r"dtype object\); pass numbers"):
        zeroin.tensor({"a": 1})
    with pytest.raises(TypeError, match=r"tensor: cannot make a tensor from str"):
        zeroin.tensor([1.0]) + "a"
    mixed = np.array([[2.0, True], [4.0, False]], dtype=object)   # pandas' .values of dummies
    with pytest.raises(TypeError, match=r"from ndarray \(NumPy gives dtype object\).*"
                                        r"a\.astype\(float\), or df\.to_numpy\(dtype=float\)"):
        zeroin.tensor(mixed)
    assert zeroin.tensor(mixed.astype(float)).tolist() == [[2.0, 1.0], [4.0, 0.0]]
    with pytest.raises(ValueError, match=r"tensor: nested lists must be rectangular .*"
                                         r"lengths 2, 1"):
        zeroin.tensor([[1.0, 2.0], [3.0]])


# --- tensor basics --------------------------------------------------------------------------

def test_tensor_attributes_and_conversions():
    a = np.array([[1.0, 2.0, 3.0]])
    t = zeroin.tensor(a, name="t")
    a[0, 0] = 9.0                                  # tensor() copies
    assert t.data[0, 0] == 1.0
    assert isinstance(t.data, np.ndarray) and np.shares_memory(t.numpy(), t.data)
    assert type(t.numpy()) is np.ndarray and t.numpy() is t.numpy()
    assert (t.shape, t.ndim, t.dtype, t.name) == ((1, 3), 2, np.float64, "t")
    assert t.grad is None and not t.requires_grad and t.is_leaf and t.grad_fn is None
    assert zeroin.tensor(2.5).item() == 2.5 and isinstance(zeroin.tensor(2.5).item(), float)
    assert float(zeroin.tensor([3.0])) == 3.0 and len(t) == 1
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    y = w * 2
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.numpy() is y.numpy()
    assert "grad_fn=<mul>" in repr(y) and "requires_grad=True" in repr(w)
    assert isinstance(zeroin.Tensor([1.0]), zeroin.Tensor)


def test_numpy_conversion_copies_only_when_asked():
    t = zeroin.tensor([1.0, 2.0])
    a = np.array(t)
    a[0] = 99.0
    assert t.data[0] == 1.0                       # np.array copies, as for arrays
    assert np.asarray(t) is t.numpy()                # asarray shares
    assert np.array(t, dtype=np.float32).dtype == np.float32
    assert np.array(t, copy=False) is t.numpy()


def test_tensor_conversion_errors():
    with pytest.raises(ValueError, match=r"item: only one-element tensors can be converted to "
                                         r"a Python number, this one has shape \(2,\)"):
        zeroin.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match=r"the truth value of a tensor with shape \(2,\) is "
                                         r"ambiguous \(PyTorch: .*\); reduce it first with "
                                         r"\.any\(\) or \.all\(\), e\.g\. `if \(a == b\)\.all\(\):`$"):
        bool(zeroin.tensor([1.0, 2.0]))     # (it said "on .data": a tensor has them itself)
    with pytest.raises(RuntimeError):                       # PyTorch's type
        bool(zeroin.tensor([1.0, 2.0]))
    # the LLMs-from-scratch book's `if idx_next == eos_id: break` with a batch of 2: a
    # RuntimeError as PyTorch's, whose fix (.any() / .all()) is a Tensor method, not .data's
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(torch.tensor([[3], [5]]) == 5)
    with pytest.raises(RuntimeError, match=r"ambiguous .*\.any\(\) or \.all\(\)") as e:
        bool(zeroin.tensor([[3], [5]]) == 5)
    assert ".data" not in str(e.value)
    assert (zeroin.tensor([[3], [5]]) == 5).any() and not (zeroin.tensor([[3], [5]]) == 5).all()
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(zeroin.tensor(1.0))


# --- operators ------------------------------------------------------------------------------

def test_comparisons_return_tensors_without_grad():
    x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    arr = np.array([3.0, 2.0, 1.0])
    cases = {
        "lt": (x < 2, [True, False, False]), "le": (x <= 2, [True, True, False]),
        "gt": (x > 2, [False, False, True]), "ge": (x >= 2, [False, True, True]),
        "eq": (x == 2, [False, True, False]), "ne": (x != 2, [True, False, True]),
        "tensor": (x > x * 0 + 1.5, [False, True, True]),
        "ndarray_left": (arr > x, [True, False, False]),
        "number_left": (2 < x, [False, False, True]),
    }
    for name, (r, expected) in cases.items():
        assert isinstance(r, zeroin.Tensor), name
        assert r.dtype == np.bool_ and not r.requires_grad and r.grad_fn is None, name
        np.testing.assert_array_equal(r.data, expected, err_msg=name)
    assert {x: 1}[x] == 1                         # tensors stay hashable


@pytest.mark.parametrize("compare", [
    lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b,
    lambda a, b: a == b, lambda a, b: a != b, lambda a, b: a.lt(b),
    lambda a, b: (a > 0).logical_or(b > 0)])
def test_comparisons_of_shapes_that_do_not_broadcast_raise_pytorchs_error(compare):
    # the LLMs-from-scratch book's top-k filter with a batch of 2: logits (2, 5) against
    # top_logits[:, -1] (2,); NumPy's bare ValueError named neither the op nor the shapes
    torch = pytest.importorskip("torch")
    logits = np.arange(10.0).reshape(2, 5)
    with pytest.raises(RuntimeError):
        compare(torch.tensor(logits), torch.tensor(logits)[:, -1])
    with pytest.raises(RuntimeError, match=r"shapes \(2, 5\) and \(2,\) cannot be broadcast"):
        compare(zeroin.tensor(logits), zeroin.tensor(logits)[:, -1])
    keep = compare(zeroin.tensor(logits), zeroin.tensor(logits)[:, -1:])   # the fix
    want = compare(torch.tensor(logits), torch.tensor(logits)[:, -1:])
    np.testing.assert_array_equal(keep.numpy(), want.numpy())


@pytest.mark.parametrize("name", ["mT", "mH", "H", "adjoint"])
def test_matrix_transposes_of_0d_and_1d_tensors_as_pytorch(name, monkeypatch):
    """PyTorch's x.mT / .mH / .H / .adjoint() of a 0-D tensor is the tensor (conjugated for
    the last three), with a UserWarning once; .mT of a 1-D tensor raises PyTorch's error.
    zeroin raised on 0-D tensors, and .mT on a 1-D one an IndexError about transpose."""
    torch = pytest.importorskip("torch")
    from zeroin import amp
    monkeypatch.setattr(amp, "_warned", set())
    res = []
    for T in (torch, zeroin):
        x = T.tensor(2.0 + 1.0j)
        with warnings.catch_warnings(record=True) as got:
            warnings.simplefilter("always")
            for _ in range(2):                    # warned once per process
                y = x.adjoint() if name == "adjoint" else getattr(x, name)
        res.append((complex(y.item()), [str(w.message).split(" (Trig")[0] for w in got]))
    assert res[1][0] == res[0][0]
    want = {"mT": "Tensor.mT is deprecated on 0-D tensors. This function is the identity in "
                  "these cases.", "mH": "Tensor.mH is deprecated on 0-D tensors. Consider "
                                        "using x.conj().",
            "H": "Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
            "adjoint": "adjoint() is deprecated on 0-D tensors. Consider using x.conj()."}
    assert res[1][1] == [want[name]]              # PyTorch's text (torch's own is once
    assert res[0][1] in ([], [want[name]])        # per process, maybe already given)
    if name == "mT":
        msgs = []
        for T in (torch, zeroin):
            with pytest.raises(RuntimeError) as e:
                T.zeros(3).mT
            msgs.append(str(e.value).split(": ", 1)[-1] if T is zeroin else str(e.value))
        assert msgs[0] == msgs[1]
        g = zeroin.tensor(3.0, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (g.mT * 2).backward()
        assert g.grad.item() == 2.0


def test_T_of_a_tensor_that_is_not_2d_warns_once_as_pytorch(monkeypatch):
    # the LLMs-from-scratch book's keys.T (2-D attention) run on a batch (b, n, d) gives
    # (d, n, b): PyTorch warns (once per process), zeroin was silent
    torch = pytest.importorskip("torch")
    from zeroin import amp
    monkeypatch.setattr(amp, "_warned", amp._warned - {"T", "T0"})
    x = np.arange(24.0).reshape(2, 3, 4)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        out = zeroin.tensor(x, requires_grad=True).T
        zeroin.ones(3).T
        zeroin.ones(()).T
        zeroin.ones(2, 3).T                       # a matrix: no warning
    assert [w.category for w in got] == [UserWarning, UserWarning]
    assert all(w.filename == __file__ for w in got)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # PyTorch's own (once per process)
        want = torch.tensor(x).T
    for w, m in zip(got, ("The use of `x.T` on tensors of dimension other than 2",
                          "Tensor.T is deprecated on 0-D tensors")):
        assert str(w.message).startswith(m)
    assert out.shape == tuple(want.shape) == (4, 3, 2)
    np.testing.assert_array_equal(out.detach().numpy(), want.numpy())
    out.sum().backward()                          # still a permute, with its gradient
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        zeroin.ones(2, 3, 4).T
    assert again == []                            # once per process, as PyTorch's


REFLECTED = {
    "radd": (lambda c, t: c + t, lambda c, x: np.ones_like(x)),
    "rsub": (lambda c, t: c - t, lambda c, x: -np.ones_like(x)),
    "rmul": (lambda c, t: c * t, lambda c, x: c * np.ones_like(x)),
    "rdiv": (lambda c, t: c / t, lambda c, x: -c / x ** 2),
    "rpow": (lambda c, t: c ** t, lambda c, x: c ** x * np.log(c)),
}


@pytest.mark.parametrize("name", sorted(REFLECTED))
@pytest.mark.parametrize("kind", ["int", "float", "ndarray", "ndarray_scalar"])
def test_reflected_operators(name, kind):
    op, deriv = REFLECTED[name]
    xv = np.array([0.5, 1.5, 2.0])
    c = {"int": 2, "float": 2.5, "ndarray": np.array([2.0, 3.0, 4.0]),
         "ndarray_scalar": np.float64(3.0)}[kind]
    x = zeroin.tensor(xv, requires_grad=True)
    y = op(c, x)
    assert isinstance(y, zeroin.Tensor), type(y)
    np.testing.assert_allclose(y.data, op(c, xv))
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, deriv(c, xv))


def test_ndarray_matmul_and_unary_operators():
    m = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = zeroin.tensor([1.0, -1.0], requires_grad=True)
    y = m @ x
    assert isinstance(y, zeroin.Tensor)
    np.testing.assert_array_equal(y.data, [-1.0, -1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, m.sum(axis=0))
    np.testing.assert_array_equal((+x).data, x.data)
    np.testing.assert_array_equal(abs(x).data, [1.0, 1.0])
    np.testing.assert_array_equal((x @ m).data, [-2.0, -2.0])


# --- grad mode --------------------------------------------------------------------------------

def test_no_grad_and_enable_grad_as_context_managers():
    x = zeroin.tensor(2.0, requires_grad=True)
    with zeroin.no_grad():
        assert not zeroin.is_grad_enabled()
        y = x * 3
        with zeroin.enable_grad():
            assert zeroin.is_grad_enabled()
            z = x * 3
        w = x * 3
    assert zeroin.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    assert not w.requires_grad


def test_no_grad_and_enable_grad_as_decorators():
    @zeroin.no_grad()
    def frozen(t):
        assert not zeroin.is_grad_enabled()
        return t * 2

    @zeroin.enable_grad()
    def tracked(t):
        return t * 2

    x = zeroin.tensor(1.0, requires_grad=True)
    assert not frozen(x).requires_grad
    with zeroin.no_grad():
        assert tracked(x).requires_grad
        assert not zeroin.is_grad_enabled()
    assert zeroin.is_grad_enabled()
    assert frozen.__name__ == "frozen"


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(KeyError):
        with zeroin.no_grad():
            raise KeyError
    assert zeroin.is_grad_enabled()


def test_grad_mode_is_thread_local():
    x = zeroin.tensor(1.0, requires_grad=True)
    entered, main_done = threading.Event(), threading.Event()
    seen = {}

    def worker():
        seen["start"] = zeroin.is_grad_enabled()    # main thread is inside no_grad
        with zeroin.no_grad():
            entered.set()
            main_done.wait(5)
            seen["inside"] = (x * 2).requires_grad

    with zeroin.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        entered.wait(5)
    # The worker is inside its no_grad now; this thread records again.
    seen["main"] = (x * 2).requires_grad
    main_done.set()
    t.join(5)
    assert seen == {"start": True, "inside": False, "main": True}


# --- hooks, retain_grad, accumulation --------------------------------------------------------

def test_register_hook_modifies_the_gradient_and_can_be_removed():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    y = x * 3
    h = y.register_hook(lambda g: calls.append(g.data.copy()) or g * 10)
    (y * y).sum().backward()
    np.testing.assert_array_equal(calls[0], 2 * 3 * np.array([1.0, 2.0]))
    np.testing.assert_array_equal(x.grad.data, 10 * 18 * np.array([1.0, 2.0]))
    # a hook on a leaf sees and replaces what reaches .grad
    x.grad = None
    hx = x.register_hook(lambda g: g + 1)
    y = x * 3
    h2 = y.register_hook(lambda g: None)        # returning None keeps the gradient
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])
    hx.remove()
    h2.remove()
    h.remove()
    h.remove()                                   # removing twice is harmless
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="register_hook: cannot register a hook on a tensor "
                                           "that does not require grad"):
        zeroin.tensor(1.0).register_hook(print)
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: np.ones(3))
    with pytest.raises(ValueError, match=r"hook: returned a gradient of shape \(3,\) for a "
                                         r"tensor of shape \(2,\)"):
        y.sum().backward()


def test_retain_grad_keeps_non_leaf_gradients():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    s = h.sum()
    h.retain_grad()
    s.retain_grad()
    s.backward()
    np.testing.assert_array_equal(h.grad.data, [1.0, 1.0])
    assert s.grad.item() == 1.0
    assert x.retain_grad() is None               # harmless on a leaf; None, as in PyTorch
    with pytest.raises(RuntimeError, match="retain_grad: this tensor does not require grad"):
        zeroin.tensor(1.0).retain_grad()


def test_gradients_accumulate_until_cleared():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad.data.copy()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * first)
    (x * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * first + 5)
    x.grad = None                                    # clear, as optimizer.zero_grad() does
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, first)
    x.zero_grad()
    assert x.grad is None


def test_accumulation_does_not_alias_user_arrays():
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    g = np.array([1.0, 1.0])
    (x + 0).backward(gradient=g)
    (x + 0).backward(gradient=g)
    np.testing.assert_array_equal(g, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    y = x * 1
    y.retain_grad()
    (y + y).sum().backward()          # add hands the same array to both of its inputs
    np.testing.assert_array_equal(y.grad.data, [2.0, 2.0])
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])


def test_shared_subexpressions_sum_over_paths():
    x = zeroin.tensor(3.0, requires_grad=True)
    a = x * x
    y = a * a + a      # x^4 + x^2
    y.backward()
    assert x.grad.item() == 4 * 27 + 6


# --- released graphs and backward errors ------------------------------------------------------

def test_second_backward_needs_retain_graph():
    x = zeroin.tensor(2.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError) as e:
        y.backward()
    assert "backward through the graph a second time" in str(e.value)
    assert "pass retain_graph=True to the first backward" in str(e.value)
    z = x * x
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.item() == 4.0 + 4.0 + 4.0


def test_backward_on_a_non_scalar_needs_a_gradient():
    x = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError) as e:
        y.backward()
    assert str(e.value) == ("backward: output has shape (3,); backward without a gradient "
                            "works only for one-element outputs. Reduce it first (e.g. "
                            "loss.mean() or loss.sum()) or pass gradient= an array of shape "
                            "(3,)")
    y.backward(gradient=[1.0, 0.0, -1.0])
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, -2.0])
    with pytest.raises(ValueError, match=r"backward: gradient has shape \(2,\) but the output "
                                         r"has shape \(3,\); they must match"):
        (x * 2).backward(gradient=np.ones(2))
    (x[:1] * 2).backward()                       # one element, any shape: fine
    assert x.grad.data[0] == 4.0


def test_backward_on_something_without_grad():
    with pytest.raises(RuntimeError, match="backward: output 0 does not require grad and has "
                                           "no grad_fn"):
        (zeroin.tensor(1.0) * 2).backward()
    x = zeroin.tensor(1.0, requires_grad=True)
    with zeroin.no_grad():
        y = x * 2
    with pytest.raises(RuntimeError, match="computed under zeroin.no_grad"):
        y.backward()


def test_backward_on_a_leaf():
    x = zeroin.tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


# --- higher order -----------------------------------------------------------------------------

def test_second_derivative_of_cube_at_two_is_twelve():
    x = zeroin.tensor(2.0, requires_grad=True)
    (d1,) = zeroin.grad(x ** 3, x, create_graph=True)
    assert d1.item() == 12.0 and d1.requires_grad
    (d2,) = zeroin.grad(d1, x, create_graph=True)
    assert d2.item() == 12.0                      # 6x at 2
    (d3,) = zeroin.grad(d2, x)
    assert d3.item() == 6.0
    # the same through backward(create_graph=True): .grad is itself differentiable
    x2 = zeroin.tensor(2.0, requires_grad=True)
    (x2 ** 3).backward(create_graph=True)
    assert x2.grad.requires_grad
    (g2,) = zeroin.grad(x2.grad, x2)
    assert g2.item() == 12.0


def test_newtons_method_uses_the_second_derivative():
    # minimise f(x) = exp(x) - 2x + 0.1 x^4 (smooth, not quadratic); Newton: x -= f'/f''
    def f(x):
        return zeroin.exp(x) - 2 * x + 0.1 * x ** 4

    x = zeroin.tensor(-1.0, requires_grad=True)
    history = []
    for _ in range(20):
        (d1,) = zeroin.grad(f(x), x, create_graph=True)
        (d2,) = zeroin.grad(d1, x)
        assert d2.item() == pytest.approx(np.exp(x.item()) + 1.2 * x.item() ** 2)
        history.append(abs(d1.item()))
        if history[-1] < 1e-12:
            break
        x = zeroin.tensor(x.item() - d1.item() / d2.item(), requires_grad=True)
    xs = x.item()
    assert abs(np.exp(xs) - 2 + 0.4 * xs ** 3) < 1e-12
    assert len(history) <= 10
    # quadratic convergence: the error roughly squares near the end
    assert history[-2] < history[-3] ** 1.5


# --- the million-op chain ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_chain_of_a_million_ops_differentiates_without_recursion():
    import sys
    assert sys.getrecursionlimit() < 100_000       # so recursion would fail loudly
    a, c, n = 0.99998, 2e-5, 500_000               # 2 ops per step: 1,000,000 ops
    x0 = zeroin.tensor(0.25, requires_grad=True)
    y = x0
    for _ in range(n):
        y = y * a + c
    # closed form: y_n = a^n x0 + c (1 - a^n) / (1 - a); dy_n/dx0 = a^n
    assert len(zeroin.graph.toposort([y])) == 2 * n     # one node per recorded op
    an = a ** n
    assert y.item() == pytest.approx(an * 0.25 + c * (1 - an) / (1 - a), rel=1e-9)
    y.backward()
    assert x0.grad.item() == pytest.approx(an, rel=1e-9)
    del y                                          # freeing the chain must not recurse either


def test_inplace_update_under_no_grad_keeps_the_leaf():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    before = id(w)
    with zeroin.no_grad():
        w -= 0.1 * w.grad
    assert id(w) == before and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.data, [0.8, 1.6])


def test_inplace_sub_under_no_grad_refuses_bool_and_mixes_dtypes_as_torch():
    # the usual update (float arrays of one dtype) skips the bool test's conversions: every
    # other pairing still meets PyTorch's refusal, and float32 -= float64 still casts
    torch = pytest.importorskip("torch")
    for a, b in [([1.0, 2.0], [True, False]), ([True, False], [1.0, 2.0]),
                 ([True, False], [True, True])]:
        z, t = zeroin.tensor(a), torch.tensor(a)
        with pytest.raises(RuntimeError, match="Subtraction, the `-` operator"):
            with torch.no_grad():
                t -= torch.tensor(b)
        with pytest.raises(zeroin.DtypeError, match="Subtraction, the `-` operator"):
            with zeroin.no_grad():
                z -= zeroin.tensor(b)
    for dz, dw in [("float32", "float64"), ("float64", "float32"), ("float32", "float32")]:
        w = zeroin.tensor(np.array([1.5, -2.0], dz), requires_grad=True)
        tw = torch.tensor(np.array([1.5, -2.0], dz), requires_grad=True)
        g = np.array([0.25, 3.0], dw)
        with zeroin.no_grad():
            w -= 0.1 * zeroin.tensor(g)
            w -= zeroin.tensor(g)
        with torch.no_grad():
            tw -= 0.1 * torch.tensor(g)
            tw -= torch.tensor(g)
        assert w.dtype == getattr(np, dz) and w.requires_grad and w.is_leaf
        np.testing.assert_array_equal(w.detach().numpy(), tw.detach().numpy())


def test_inplace_on_graph_tensor_is_refused_with_advice():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"in-place \+=.*zeroin.no_grad"):
        w += 1.0
    f = zeroin.tensor(np.ones(2, np.float32))
    f *= 2.5
    assert f.dtype == np.float32 and f.data.tolist() == [2.5, 2.5]
    with pytest.raises(zeroin.ShapeError, match=r"in-place \+=: shapes \(2,\) and \(3,\)"):
        f += np.ones(3)


def test_grad_zero_in_place_between_steps_matches_grad_none():
    # the hand-written loop of PyTorch tutorials: backward, update, w.grad.zero_()
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 1))
    results = []
    for clear in ("zero_", "none"):
        w = zeroin.tensor(np.zeros((3, 1)), requires_grad=True)
        b = zeroin.tensor(0.0, requires_grad=True)          # a 0-d gradient too
        for _ in range(5):
            loss = ((zeroin.tensor(X) @ w + b - y) ** 2).mean()
            loss.backward()
            with zeroin.no_grad():
                w -= 0.1 * w.grad
                b -= 0.1 * b.grad
            if clear == "zero_":
                gw = w.grad
                assert w.grad.zero_() is gw and b.grad.zero_() is b.grad
                assert np.all(w.grad.data == 0) and b.grad.item() == 0
            else:
                w.grad = b.grad = None
        results.append((w.data.copy(), b.item()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-12)
    # without any clearing the gradients would pile up, so the two runs would differ
    w = zeroin.tensor(np.zeros((3, 1)), requires_grad=True)
    for _ in range(2):
        ((zeroin.tensor(X) @ w - y) ** 2).mean().backward()
    g1 = zeroin.grad(((zeroin.tensor(X) @ w - y) ** 2).mean(), [w])[0]
    np.testing.assert_allclose(w.grad.data, 2 * g1.data)


def test_zero_in_place_on_a_tensor_that_requires_grad_is_refused_outside_no_grad():
    w = zeroin.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"zero_: this tensor requires grad.*"
                       r"w\.grad\.zero_\(\).*zeroin\.no_grad\(\)"):
        w.zero_()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])          # nothing was changed
    with zeroin.no_grad():
        assert w.zero_() is w
    np.testing.assert_array_equal(w.data, [0.0, 0.0])
    ro = np.ones(3)
    ro.flags.writeable = False
    t = zeroin.tensor(0.0)
    t.data = ro                                                 # a read-only (shared) array
    t.zero_()
    np.testing.assert_array_equal(t.data, 0.0)
    np.testing.assert_array_equal(ro, 1.0)                      # the shared array is untouched


def test_help_of_zeroin_tensor_documents_every_parameter():
    import inspect
    doc = inspect.getdoc(zeroin.tensor)
    for p in inspect.signature(zeroin.tensor).parameters:
        assert f"\n{p} :" in doc, f"zeroin.tensor's docstring does not document {p!r}"
    # what it says about dtypes is what happens
    assert zeroin.tensor([1.0]).dtype == np.float64
    assert zeroin.tensor(np.ones(1, np.float32)).dtype == np.float32
    assert zeroin.tensor(2, requires_grad=True).dtype == np.float64


# --- scalars made from Python floats ---------------------------------------------------------
# zeroin.tensor(3.0) and ops on such scalars keep the value as a Python float until .data is
# read (the fast lane for scalar graphs); nothing a user can observe may differ from 0-d arrays.

# --- the fast path and the reference engine --------------------------------------------
# ZEROIN_FAST=0 runs the reference engine only (zeroin/autograd.py, zeroin/function.py);
# by default zeroin/_fast.py takes the hot paths. The whole suite runs in both modes
# (.ci/run); this test runs a few graphs in each and compares the results bit for bit.

_BOTH_MODES_SCRIPT = r"""
import json, sys
import numpy as np
import zeroin
from zeroin import nn
F = nn.functional
out = {}

def put(name, *ts):
    out[name] = [np.asarray(t.data if isinstance(t, zeroin.Tensor) else t).tobytes().hex()
                 for t in ts]

def scalars(f, wv=1.7, bv=0.6):
    w = zeroin.tensor(wv, requires_grad=True)
    b = zeroin.tensor(bv, requires_grad=True)
    z = f(w, b)
    z.backward()
    return z, w.grad, b.grad

put("chapter", *scalars(lambda w, b: (2 * w + b) * (b + 1), 3.0, 4.0))
put("div_sub", *scalars(lambda w, b: (w - 3.5) / (b * b + 1) - 1 / (w + 10)))
put("pow", *scalars(lambda w, b: w ** 3 - b ** 2 + (w * w) ** 0.5 + 2 ** b))
put("unary", *scalars(lambda w, b: zeroin.exp(-w * 0.1) + zeroin.tanh(b) * zeroin.sin(w)
                     - zeroin.log(b * b + 1) + zeroin.sigmoid(w - b) + zeroin.relu(b - 1)
                     + zeroin.sqrt(w * w + 1) + zeroin.abs(b - 3) + zeroin.cos(b)))
put("shared", *scalars(lambda w, b: (lambda s: s * s + s / (b + 2))(w * b + w)))
put("numbers", *scalars(lambda w, b: w * 2 ** 60 + (2 ** 53 + 1) * b + b * True - 0 * w
                       + (w + 1) * (1.5 + b) - 2 / w + b * 0.0))
x0 = zeroin.tensor(1.0, requires_grad=True)
x = x0
for _ in range(500):
    x = x * 0.99998 + 2e-5
x.backward()
put("chain", x, x0.grad)

rng = np.random.default_rng(5)
xb = zeroin.tensor(rng.standard_normal((6, 5)).astype(np.float32))
y = rng.integers(0, 3, 6)
zeroin.manual_seed(0)
model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).float()
opt = zeroin.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for mode in ("plain", "hook", "retain", "create_graph", "grad"):
    opt.zero_grad()
    h = model[0](xb)
    if mode == "hook":
        h.register_hook(lambda g: g * 2)
    a = F.relu(h)
    if mode == "retain":
        a.retain_grad()
    w = model[0].weight
    loss = F.cross_entropy(model[2](a), y) + (w * w).sum() * 0.01
    params = list(model.parameters())
    if mode == "grad":
        grads = zeroin.grad(loss, params)
    else:
        loss.backward(create_graph=(mode == "create_graph"))
        grads = [p.grad for p in params]
    put("mlp_" + mode, loss, *grads)
    opt.step()
put("mlp_after_steps", *model.parameters())

# micrograd's demo step (float64): full sums and means of float64 arrays ride the float
# lane in fast mode (T10), x * x computes g * x once
zeroin.manual_seed(1)
net = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).double()
ps = list(net.parameters())
xm = zeroin.tensor(rng.standard_normal((10, 2)))
ym = zeroin.tensor(np.sign(rng.standard_normal((10, 1))))
sgd = zeroin.optim.SGD(ps, lr=0.1)
for _ in range(3):
    sgd.zero_grad()
    loss = zeroin.relu(1 - ym * net(xm)).mean() + 1e-4 * sum((p * p).sum() for p in ps)
    loss.backward()
    sgd.step()
put("moons", loss, *[p.grad for p in ps], *ps)
v = zeroin.tensor(rng.standard_normal(7), requires_grad=True)
k = zeroin.tensor(np.array(1.5), requires_grad=True)
s = v.sum()
s.data                                      # off the float lane again
r = (s * k + v.amax() * v.mean() - (v * v).sum().sqrt()) * k
r.backward()
put("reductions", r, v.grad, k.grad)

# a small float32 MLP step at batch 32: linear's product as (w @ x.T).T in fast mode (T11);
# the update by hand in NumPy (optim.SGD rounds a 300x128 weight's update once in fast mode,
# T19, the one trick that changes bits: tests/test_optim.py holds each mode to its rounding)
zeroin.manual_seed(2)
mlp = nn.Sequential(nn.Linear(300, 128), nn.ReLU(), nn.Linear(128, 10)).float()
xs = zeroin.tensor(rng.standard_normal((32, 300)).astype(np.float32))
ys = rng.integers(0, 10, 32)
for _ in range(2):
    for p in mlp.parameters():
        p.grad = None
    loss = F.cross_entropy(mlp(xs), ys)
    loss.backward()
    for p in mlp.parameters():
        p.data -= np.float32(0.1) * p.grad.data
put("mlp_batch_32", loss, *[p.grad for p in mlp.parameters()], *mlp.parameters())
wa = zeroin.tensor(rng.standard_normal((128, 300)).astype(np.float32), requires_grad=True)
wb = zeroin.tensor(rng.standard_normal((128, 256)).astype(np.float32), requires_grad=True)
loss = F.cross_entropy(zeroin.relu(xs @ wa.T) @ wb, ys)    # x @ W.T; g @ wb.T in backward
loss.backward()
put("matmul_batch_32", loss, wa.grad, wb.grad)
# SGD by hand, as the chapter writes it: w -= lr * w.grad under no_grad (fast mode: T12)
for dt in (np.float32, np.float64):
    wh = zeroin.tensor(rng.standard_normal((6, 5)).astype(dt), requires_grad=True)
    bh = zeroin.tensor(rng.standard_normal(5).astype(dt), requires_grad=True)
    xh = zeroin.tensor(rng.standard_normal((4, 6)).astype(dt))
    for _ in range(3):
        loss = ((zeroin.tanh(xh @ wh + bh) - 0.5) ** 2).mean()
        loss.backward()
        with zeroin.no_grad():
            for p in (wh, bh):
                p -= 0.05 * p.grad
                p.grad = None
    put("sgd_by_hand_" + np.dtype(dt).name, loss, wh, bh, 0.5 - wh, wh / 3, 2.0 * xh)
# a full sum's or mean's gradient handed on as a number (fast mode: T17) where the node below
# takes it (mul of same-shaped inputs, relu), and spread where it does not (a broadcast mul,
# retain_grad, a hook, the same product used twice, float32)
pa = zeroin.tensor(rng.standard_normal((4, 3)), requires_grad=True)
qa = zeroin.tensor(rng.standard_normal((4, 3)), requires_grad=True)
ca = zeroin.tensor(rng.standard_normal(3), requires_grad=True)
kept = pa * qa
kept.retain_grad()
hooked = qa * qa
hooked.register_hook(lambda g: g * 2)
twice = pa * pa
r = ((pa * pa).sum() + zeroin.relu(pa - 0.5).mean() + (pa * qa).sum() + (pa * ca).sum()
     + kept.sum() + hooked.mean() + twice.sum() + (twice * 3.0).sum() + pa.sum())
r.backward()
put("spread_numbers", r, pa.grad, qa.grad, ca.grad, kept.grad)
p32 = zeroin.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
r = (p32 * p32).sum() + zeroin.relu(p32).mean()
r.backward()
put("spread_numbers_float32", r, p32.grad)
# micrograd's demo step (benchmarks' W4): hinge loss through relu's mean, and L2 as the
# sum of each parameter's (p * p).sum()
zeroin.manual_seed(4)
net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
xm = zeroin.tensor(rng.standard_normal((20, 2)))
ym = zeroin.tensor(np.sign(rng.standard_normal((20, 1))))
sgd = zeroin.optim.SGD(net.parameters(), lr=0.05)
for _ in range(2):
    sgd.zero_grad()
    loss = zeroin.relu(1 - ym * net(xm)).mean() + 1e-4 * sum((p * p).sum()
                                                              for p in net.parameters())
    loss.backward()
    sgd.step()
put("hinge_l2", loss, *[p.grad for p in net.parameters()], *net.parameters())
# row slices' gradients written into one buffer (fast mode: T18), -0.0 where the reference
# keeps it: rows that two slices share, and no -0.0 where a third slice's zeros add 0.0
xr = zeroin.tensor(rng.standard_normal((6, 2)), requires_grad=True)
for last in (2, 3):
    yr = xr * 1.0
    parts = [yr[0:3], yr[1:3], yr[4:6]][:last] + [yr[2:4] * 2.0]
    sum(((q * -0.0).sum() if i < last else q.sum()) for i, q in enumerate(parts)).backward()
    put(f"row_slices_{last}", np.signbit(xr.grad.data), xr.grad)
    xr.grad = None
zeroin.manual_seed(6)
rec = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2).float()
xl = zeroin.tensor(rng.standard_normal((7, 3, 3)).astype(np.float32), requires_grad=True)
pk = nn.utils.rnn.pack_padded_sequence(xl, [7, 4, 2])
(rec(xl)[0].sum() + rec(pk)[0].data.sum() * 0.5).backward()
put("lstm_rows", xl.grad, *[p.grad for p in rec.parameters()])
# one weight at every step (fast mode: W_hh's product at batch 8 as (w @ x.T).T, T21; its
# gradients of the steps summed in place, T22), and the whole sequence's W_ih once
zeroin.manual_seed(7)
lstm = nn.LSTM(64, 128, batch_first=True).float()
xq = zeroin.tensor(rng.standard_normal((8, 6, 64)).astype(np.float32), requires_grad=True)
out_l, (hn, cn) = lstm(xq)
(out_l.sum() + (hn * cn).sum()).backward()
put("lstm_shared_weight", out_l, hn, cn, xq.grad, *[p.grad for p in lstm.parameters()])
# one array as the gradient of two inputs (add's (g, g) for u and v), each given more after
# (or before) it: summing in place must write into neither that array nor the other's
for order in (0, 1):
    pa, qa = (zeroin.tensor(rng.standard_normal((64, 72)), requires_grad=True)
              for _ in range(2))
    ca, da, ea = (zeroin.tensor(rng.standard_normal((64, 72))) for _ in range(3))
    u, v = pa * 1.5, qa * 0.5
    terms = [((u + v) * ca).sum(), (zeroin.relu(u) * da).sum(), (zeroin.relu(v) * ea).sum(),
             (F.linear(ea, u) * 0.5).sum(), (u * v).sum()]
    sum(terms[::-1] if order else terms).backward()
    put(f"shared_gradient_{order}", pa.grad, qa.grad)
out["fast path loaded"] = "zeroin._fast" in sys.modules
json.dump(out, sys.stdout)
"""


def _run_in_mode(fast):
    import json
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, ZEROIN_FAST=fast, PYTHONPATH=root, PYTHONHASHSEED="0")
    r = subprocess.run([sys.executable, "-c", _BOTH_MODES_SCRIPT], env=env, cwd=root,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_fast_path_and_reference_engine_agree_bit_for_bit():
    fast, reference = _run_in_mode("1"), _run_in_mode("0")
    assert fast.pop("fast path loaded") and not reference.pop("fast path loaded")
    assert fast.keys() == reference.keys() and len(fast) == 28
    for name in fast:
        assert fast[name] == reference[name], f"{name}: the two engines differ"


def test_python_float_scalar_data_is_an_ordinary_writable_array():
    w = zeroin.tensor(3.0, requires_grad=True)
    z = w * 2.0
    assert z.item() == 6.0 and z.shape == () and z.ndim == 0 and z.dtype == np.float64
    d = w.numpy()
    assert type(d) is np.ndarray and d.shape == () and d.dtype == np.float64
    assert d.flags.writeable and w.numpy() is d        # the same array from now on
    with zeroin.no_grad():
        w.data[...] = 5.0                           # seen by the next forward
    assert (w * 2.0).item() == 10.0
    z.backward()                                    # backward reads the value at that time
    assert w.grad.item() == 2.0
    assert type(w.grad.numpy()) is np.ndarray and w.grad.data.dtype == np.float64
    assert repr(zeroin.tensor(2.5)) == "tensor(2.5)"
    assert f"{zeroin.tensor(2.5):.2f}" == "2.50" and float(zeroin.tensor(2.5)) == 2.5


def test_set_printoptions_as_pytorch():
    x = zeroin.tensor(np.arange(12.0) / 7)
    default = repr(x)
    assert "0.14285714" in default and "..." not in default
    try:
        zeroin.set_printoptions(precision=2)
        assert repr(x).startswith("tensor([0.  , 0.14, 0.29,")
        zeroin.set_printoptions(threshold=5)            # precision 2 stays
        assert repr(x) == "tensor([0.  , 0.14, 0.29, ..., 1.29, 1.43, 1.57])"
        zeroin.set_printoptions(profile="full")
        assert "..." not in repr(zeroin.arange(2000.0))
        zeroin.set_printoptions(sci_mode=True, precision=3)
        assert repr(x[:2]) == "tensor([0.000e+00, 1.429e-01])"
        zeroin.set_printoptions(sci_mode=False)
        assert "e-" not in repr(zeroin.tensor([1e-9, 1.0]))
        with pytest.raises(ValueError, match="profile must be one of"):
            zeroin.set_printoptions(profile="long")
        with pytest.raises(ValueError, match="precision must be a number >= 0, got -1"):
            zeroin.set_printoptions(precision=-1)
    finally:
        zeroin.set_printoptions(profile="default")
    assert repr(x) == default


def test_python_float_scalars_follow_numpy_on_division_by_zero_and_overflow():
    zero = zeroin.tensor(0.0, requires_grad=True)
    with pytest.warns(RuntimeWarning):
        q = 1.0 / zero
    assert q.item() == np.inf
    with pytest.warns(RuntimeWarning):
        r = zeroin.tensor(-8.0) ** (1 / 3)          # Python would give a complex number
    assert np.isnan(r.item())
    with pytest.warns(RuntimeWarning):
        p = zero ** -1.0                            # Python raises ZeroDivisionError
    assert p.item() == np.inf
    with pytest.warns(RuntimeWarning):
        e = zeroin.ops.exp(zeroin.tensor(1000.0))   # math.exp raises OverflowError
    assert e.item() == np.inf
    # and in backward: d(sqrt(x))/dx at 0
    x = zeroin.tensor(0.0, requires_grad=True)
    y = zeroin.ops.sqrt(x)
    with pytest.warns(RuntimeWarning):
        y.backward()
    assert x.grad.item() == np.inf


def test_python_float_scalar_gradients_accumulate_in_the_same_tensor():
    w = zeroin.tensor(3.0, requires_grad=True)
    (w * w).backward()
    g = w.grad
    (w * 4.0).backward()
    assert w.grad is g and g.item() == 10.0
    held = g.data                                   # a user holding the array sees it grow
    (w * 1.0).backward()
    assert w.grad is g and held[()] == 11.0


def test_python_float_scalars_with_hooks_retain_grad_and_grad():
    w = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    x = 2 * w + b
    x.retain_grad()
    y = b + 1
    seen = []
    y.register_hook(lambda g: seen.append((type(g.numpy()), g.item(), (g * 2).requires_grad)))
    z = x * y
    z.backward()
    assert seen == [(np.ndarray, 10.0, False)]      # hooks see arrays; their ops not recorded
    assert x.grad.item() == 5.0 and type(x.grad.numpy()) is np.ndarray
    assert (w.grad.item(), b.grad.item()) == (10.0, 15.0)
    w2 = zeroin.tensor(3.0, requires_grad=True)
    b2 = zeroin.tensor(4.0, requires_grad=True)
    gw, gb = zeroin.grad((2 * w2 + b2) * (b2 + 1), [w2, b2])
    assert (gw.item(), gb.item()) == (10.0, 15.0) and type(gw.numpy()) is np.ndarray


def test_python_float_scalar_backward_checks_as_the_reference_does():
    # Tensor.backward on a float scalar skips autograd.backward (T8 in zeroin/_fast.py):
    # its errors, hooks on the output and a leaf's late requires_grad still behave the same
    w = zeroin.tensor(3.0, requires_grad=True)
    c = zeroin.tensor(2.0)
    y = w * c
    c.requires_grad_(True)          # after recording: mul computes no gradient for c
    z = y + 1
    w.register_hook(lambda g: g * 3)
    z.backward(retain_graph=True)
    assert w.grad.item() == 6.0 and c.grad is None
    z.backward()
    assert w.grad.item() == 12.0
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        zeroin.tensor(1.0).backward()
    with zeroin.detect_anomaly():
        (w * w).backward()
    assert w.grad.item() == 30.0
    w.backward()                    # a leaf output: d w / d w = 1 (times 3: the hook)
    assert w.grad.item() == 33.0


def test_python_float_scalars_mix_with_arrays_and_float32():
    w = zeroin.tensor(2.0, requires_grad=True)
    v = zeroin.tensor([1.0, 2.0, 3.0], requires_grad=True)
    s = (w * v).sum() + w
    s.backward()
    assert w.grad.item() == 7.0 and np.array_equal(v.grad.data, [2.0, 2.0, 2.0])
    h = zeroin.tensor(np.float32(2.0), requires_grad=True)
    assert (h * w).dtype == np.float64              # NumPy's promotion, as for 0-d arrays
    assert (h * 3.0).dtype == np.float32


def test_python_float_scalar_turns_into_one_array_under_threads():
    for _ in range(50):
        w = zeroin.tensor(1.5, requires_grad=True)
        got = []
        barrier = threading.Barrier(4)

        def read():
            barrier.wait(5)
            got.append(w.numpy())

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert len(got) == 4 and all(a is got[0] for a in got) and got[0][()] == 1.5


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_python_float_scalars_share_one_constant_leaf_per_number():
    # 2 * w and 2 * b use one constant node (drawn once, with two edges), so a deep chain
    # of scalar ops makes no new object per constant
    w = zeroin.tensor(1.5, requires_grad=True)
    b = zeroin.tensor(2.5, requires_grad=True)
    z = w * 2 + b * 2.0
    (c1,), (c2,) = [[i for i in t.grad_fn.inputs if i.grad_fn is None and not i.requires_grad]
                    for t in z.grad_fn.inputs]
    assert c1 is c2 and c1.item() == 2.0 and not c1.requires_grad
    z.backward()
    assert (w.grad.item(), b.grad.item()) == (2.0, 2.0) and c1.grad is None
    assert len([t for t in zeroin.graph.leaves([z]) if not t.requires_grad]) == 1
    # 0.0 and -0.0 are equal keys but not the same number
    one = zeroin.tensor(1.0)
    assert np.signbit((one * 0.0).item()) == False          # noqa: E712
    assert np.signbit((one * -0.0).item()) == True          # noqa: E712
    # taking a constant's .data gives an ordinary array and a fresh constant to later ops:
    # writing into it changes only the graphs already built with it
    d = c1.data
    d[...] = 3.0
    assert c1.item() == 3.0 and (w * 2).item() == 3.0      # 4.5 if it still used c1
    # NaN never equals itself: it must not fill the table
    from zeroin import _fast
    for _ in range(5000):
        one * float("nan")
    assert len(_fast._LANE_CONSTANTS) <= 4096


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_full_float64_reductions_ride_the_float_lane():
    # T10: a loss's sum or mean of float64 arrays is a Python float, so the loss terms
    # added after it are float-lane ops; everything else about the tensor is as before
    v = zeroin.tensor(np.arange(1.0, 5.0), requires_grad=True)
    s, m = v.sum(), v.mean()
    assert type(s._float) is float and s._array is None and type(m._float) is float
    assert s.dtype == np.float64 and s.shape == () and s.requires_grad
    assert v.float().sum()._float is None                  # float32 stays an array
    assert v.sum(axis=0, keepdims=True)._float is None     # shape (1,): an array
    loss = 0.5 * s + m * m + v.amax()
    assert type(loss._float) is float
    loss.backward()
    assert np.array_equal(v.grad.data, 0.5 + 2 * 2.5 / 4 + np.array([0, 0, 0, 1.0]))
    d = s.data                                              # off the lane, writable 0-d
    assert d.shape == () and d.flags.writeable and s._float is None and s.item() == 10.0
    # sum and mean take the float gradient as it is (float_grad), with or without an axis
    big = zeroin.tensor(np.ones(2048))                      # spread by a view, not filled
    for f, want in ((lambda v: v.sum(axis=0) * 3.0, [3.0] * 4),
                    (lambda v: v.mean(dim=-1) * 3.0, [0.75] * 4),
                    (lambda v: (big * v[0]).mean() * 3.0, [3.0, 0, 0, 0])):
        v.grad = None
        r = f(v)
        assert type(r._float) is float
        r.backward()
        assert v.grad.dtype == np.float64 and np.array_equal(v.grad.data, want)


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_numbers_times_float_arrays_share_one_read_only_constant():
    # T6: x * 0.5 and lr * p.grad on float32 and float64 arrays take a cached 0-d constant
    # of the array's dtype; the results are those of constant() (NumPy's own for the mix)
    from zeroin import _fast
    rng = np.random.default_rng(9)
    for dt in (np.float32, np.float64):
        x = zeroin.tensor(rng.standard_normal(5).astype(dt))
        for r in (x * 0.1, 0.1 * x, x - 3, 2 ** 40 + x, x / 7.0):
            assert r.dtype == dt
        assert np.array_equal((0.1 * x).data, 0.1 * x.data)
        assert np.array_equal((x - 3).data, x.data - 3)
        c = _fast._FLOAT_CONSTANTS[np.dtype(dt)][0.1]
        assert c.dtype == dt and not c.flags.writeable and c == np.asarray(0.1, dtype=dt)
        assert (x * 0.1).grad_fn is None and (0.1 * x).grad_fn is None
        w = zeroin.tensor(rng.standard_normal(5).astype(dt), requires_grad=True)
        (0.1 * w * 3).sum().backward()
        assert w.grad.dtype == dt and np.array_equal(w.grad.data, np.full(5, 0.1 * 3, dt)
                                                     if dt == np.float64 else
                                                     np.float32(0.1) * np.ones(5, dt) * 3)
    x16 = zeroin.tensor(np.ones(3, np.float16))
    assert (0.1 * x16).dtype == np.float16          # no table for float16: constant() as before


def test_numbers_with_tensors_that_record_nothing_give_numpys_result():
    # T12: t * 0.5 that records nothing (t needs no grad, or no_grad is on) goes straight to
    # NumPy with T6's constant; recorded, the number is a constant leaf of the graph
    rng = np.random.default_rng(10)
    ops = (lambda t: t * 0.1, lambda t: 0.1 * t, lambda t: t - 3, lambda t: 0.5 - t,
           lambda t: 2.0 / t, lambda t: t / 7, lambda t: t ** 2, lambda t: t + 2 ** 60)
    for dt in (np.float32, np.float64):
        a = rng.uniform(0.5, 2.0, (3, 4)).astype(dt)
        x = zeroin.tensor(a)
        w = zeroin.tensor(a.copy(), requires_grad=True)
        for f in ops:
            with zeroin.no_grad():
                r_w = f(w)
            for r in (f(x), r_w):
                assert r.grad_fn is None and not r.requires_grad and r.dtype == dt
                assert np.array_equal(r.data, f(a))
            rec = f(w)
            assert rec.grad_fn is not None and np.array_equal(rec.data, f(a))
            ins = rec.grad_fn.inputs     # t ** 2 keeps its exponent in the op, not a leaf
            assert len(ins) == 1 or any(i.grad_fn is None and not i.requires_grad for i in ins)
    with zeroin.no_grad():
        w = zeroin.tensor(np.ones((2, 3), np.float32), requires_grad=True)
        with pytest.raises(ValueError):
            w @ 2.0                     # matmul with a number: the op's own error
        w -= 0.5 * zeroin.tensor(np.full((2, 3), 2.0, np.float32))
    assert np.array_equal(w.data, np.zeros((2, 3), np.float32)) and w.grad_fn is None


def test_a_float32_loss_seeds_backward_with_a_float32_one():
    # T8 for 0-d arrays: loss.backward() of a float32 loss is backward(gradient=ones(()))
    rng = np.random.default_rng(11)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    grads = []
    for gradient in (None, np.ones((), np.float32)):
        w = zeroin.tensor(a, requires_grad=True)
        loss = (zeroin.tanh(w) * w).mean()
        assert loss.dtype == np.float32 and loss.shape == ()
        loss.backward(gradient)
        grads.append(w.grad.data)
        with pytest.raises(RuntimeError, match="second time"):
            loss.backward(gradient)
    assert grads[0].dtype == np.float32 and np.array_equal(grads[0], grads[1])
    leaf = zeroin.tensor(np.float32(2.0), requires_grad=True)
    leaf.backward()
    assert leaf.grad.dtype == np.float32 and leaf.grad.item() == 1.0


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_linear_product_is_x_times_w_transposed_to_the_bit():
    # T11: for a small float32 batch linear computes (w @ x.T).T and copies it to C order
    from zeroin import _fast
    rng = np.random.default_rng(7)
    for n in (1, 2, 5, 8, 13, 16, 32, 64, 100, 128, 129, 512):
        for o, i in ((10, 128), (128, 256), (256, 784), (784, 256), (512, 128)):
            for dt in (np.float32, np.float64):
                x = rng.standard_normal((n, i)).astype(dt)
                w = rng.standard_normal((o, i)).astype(dt)
                y = _fast.linear_product(x, w)
                assert y.flags.c_contiguous and y.dtype == dt
                assert np.array_equal(y, x @ w.T), (n, o, i, dt)
    x = rng.standard_normal((32, 784)).astype(np.float32)[:, ::2]     # not contiguous
    w = rng.standard_normal((256, 392)).astype(np.float32)
    assert np.array_equal(_fast.linear_product(x, w), x @ w.T)
    wf = w.T.copy().T       # Fortran order: the plain product, with this same array
    assert np.array_equal(_fast.linear_product(x.copy(), wf), x.copy() @ wf.T)
    assert zeroin.nn.functional._product is _fast.linear_product


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
@pytest.mark.parametrize("same", [False, True])
def test_linear_product_takes_t11_only_where_this_machines_kernels_agree(monkeypatch, same):
    # T11's (w @ x.T).T gave other last bits than x @ w.T on an AMD EPYC (OpenBLAS's Haswell
    # kernels): the fast and the reference engines differed; the first product checks
    from zeroin import _fast
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 784)).astype(np.float32)
    w = rng.standard_normal((256, 784)).astype(np.float32)
    assert _fast._same_bits() == np.array_equal((w @ x.T).T, x @ w.T)   # this machine's
    monkeypatch.setattr(_fast, "_T11", True)
    monkeypatch.setattr(_fast, "_T11_CHECKED", False)
    checks = []
    monkeypatch.setattr(_fast, "_same_bits", lambda: checks.append(1) or same)
    for _ in range(3):
        y = _fast.linear_product(x, w)
        assert y.flags.c_contiguous and np.array_equal(y, (w @ x.T).T if same else x @ w.T)
    assert checks == [1] and _fast._T11 is same and _fast._T11_CHECKED


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_linear_product_takes_t21_for_small_batches_where_that_shape_agrees(monkeypatch):
    # T21: batches of 2 to 15 rows (a recurrent layer's W_hh h) take (w @ x.T).T where
    # this shape's two forms agree to the bit, checked once per shape
    from zeroin import _fast
    rng = np.random.default_rng(21)
    w = rng.standard_normal((512, 128)).astype(np.float32)
    for n in (2, 3, 5, 8, 13, 15):
        x = rng.standard_normal((n, 128)).astype(np.float32)
        assert np.array_equal(_fast.linear_product(x, w), x @ w.T), n
    for same in (False, True):
        monkeypatch.setattr(_fast, "_T11", True)
        monkeypatch.setattr(_fast, "_T21_SHAPES", {})
        checks = []
        monkeypatch.setattr(_fast, "_same_bits_shape",
                            lambda *shape, checks=checks, same=same: checks.append(shape)
                            or _fast._T21_SHAPES.setdefault(shape, same))
        for n in (8, 8, 4, 8, 1, 16):
            x = rng.standard_normal((n, 128)).astype(np.float32)
            y = _fast.linear_product(x, w)
            assert y.flags.c_contiguous and np.array_equal(y, x @ w.T), (same, n)
        assert checks == [(8, 512, 128), (4, 512, 128)]     # once per shape in the window
    monkeypatch.setattr(_fast, "_T21_SHAPES", {})
    r = np.random.default_rng(21)
    x, w = r.standard_normal((8, 128), dtype=np.float32), \
        r.standard_normal((512, 128), dtype=np.float32)
    assert _fast._same_bits_shape(8, 512, 128) == np.array_equal((w @ x.T).T, x @ w.T)
    assert _fast._T21_SHAPES == {(8, 512, 128): np.array_equal((w @ x.T).T, x @ w.T)}


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_a_shared_weights_gradients_are_summed_in_place(monkeypatch):
    # T22: the gradient of a weight used at every step is summed into one array, not a new
    # one per step, where nothing but the backward loop holds it
    from zeroin import _fast
    sums = []
    real = _fast._owned_sum
    monkeypatch.setattr(_fast, "_owned_sum", lambda p, g: sums.append(real(p, g)) or sums[-1])
    rng = np.random.default_rng(22)
    linear = zeroin.nn.functional.linear
    w = zeroin.tensor(rng.standard_normal((72, 64)), requires_grad=True)
    xs, cs = ([rng.standard_normal((5, k)) for _ in range(4)] for k in (64, 72))
    sum((linear(zeroin.tensor(x), w) * zeroin.tensor(c)).sum()
        for x, c in zip(xs, cs)).backward()
    assert sums == [True] * 3
    np.testing.assert_allclose(w.grad.numpy(), sum(c.T @ x for x, c in zip(xs, cs)),
                               rtol=1e-12)
    sums.clear()
    wb = zeroin.tensor(rng.standard_normal((63, 64)), requires_grad=True)
    sum(linear(zeroin.tensor(x), wb).sum() for x in xs).backward()
    assert sums == []           # fewer than 64 rows: prev + gi, as before
    lstm = zeroin.nn.LSTM(16, 64).float()
    lstm(zeroin.tensor(rng.standard_normal((5, 4, 16)).astype(np.float32)))[0].sum().backward()
    assert sums.count(True) >= 4        # W_hh's 4 later steps (b_hh's and the states' too)


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
@pytest.mark.parametrize("case", ["seed", "seed_tensor", "shared", "retained", "hooked"])
def test_gradients_are_summed_in_place_only_where_nothing_else_holds_them(case):
    # T22 must not write into an array someone else sees: the caller's seed, add's one
    # array for two inputs, a retained or hooked .grad
    rng = np.random.default_rng(23)
    xv, gv, cv = (rng.standard_normal((64, 72)) for _ in range(3))
    x = zeroin.tensor(xv, requires_grad=True)
    y = x * 1.0
    z = zeroin.relu(y)          # relu's gradient (grads_fit) is the one summed in place
    seen = []
    if case in ("seed", "seed_tensor"):
        seed = gv.copy() if case == "seed" else zeroin.tensor(gv.copy())
        zeroin.autograd.backward([y, z], [seed, zeroin.tensor(cv)])
        np.testing.assert_array_equal(np.asarray(seed.data if case == "seed_tensor" else seed),
                                      gv)
        np.testing.assert_array_equal(x.grad.numpy(), gv + cv * (xv > 0))
        return
    if case == "shared":
        v = zeroin.tensor(cv, requires_grad=True)
        c, g = zeroin.tensor(cv), zeroin.tensor(gv)
        for order in (1, -1):       # add's (g, g) for y and u, then (or first) relu's each
            x.grad = v.grad = None
            y, u = x * 1.0, v * 1.0
            sum([((y + u) * g).sum(), (zeroin.relu(y) * c).sum(),
                 (zeroin.relu(u) * c).sum()][::order]).backward()
            np.testing.assert_array_equal(x.grad.numpy(), gv + cv * (xv > 0))
            np.testing.assert_array_equal(v.grad.numpy(), gv + cv * (cv > 0))
        return
    if case == "retained":
        y.retain_grad()
    else:
        y.register_hook(lambda g: seen.append((g, g.numpy().copy())))
    (y * zeroin.tensor(gv) + z).sum().backward()
    want = gv + (xv > 0)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    if case == "retained":
        np.testing.assert_array_equal(y.grad.numpy(), want)
    else:
        np.testing.assert_array_equal(seen[0][0].numpy(), seen[0][1])


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_full_sum_hands_its_number_to_an_elementwise_rule(monkeypatch):
    # T17: (x * x).sum() and relu(z).mean() in float64 give the rule below them the number
    # (no filled array); a broadcast product, a leaf and float32 still spread it
    from zeroin.ops import MeanOp, SumOp
    calls = []
    for cls in (SumOp, MeanOp):
        rule = cls.backward
        monkeypatch.setattr(cls, "backward", lambda self, *a, _rule=rule: (
            calls.append(type(self).__name__), _rule(self, *a))[1])
    rng = np.random.default_rng(17)
    x = zeroin.tensor(rng.standard_normal((5, 4)), requires_grad=True)
    c = zeroin.tensor(rng.standard_normal(4))
    ((x * x).sum() + zeroin.relu(x - 0.2).mean()).backward()
    assert calls == []
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + (x.data > 0.2) / 20)
    x.grad = None
    ((x * c).sum() + x.sum()).backward()
    assert calls == ["SumOp", "SumOp"]
    np.testing.assert_array_equal(x.grad.data, c.data + np.ones((5, 4)))
    x32 = zeroin.tensor(x.data.astype(np.float32), requires_grad=True)
    (x32 * x32).sum().backward()
    assert calls == ["SumOp"] * 3


def test_x_times_x_computes_its_product_once():
    # d(x*x)/dx = 2 g x: the rule makes one product, (g + g) * x, for the first operand
    from zeroin.ops import MulOp
    op = MulOp()
    op.needs_input_grad = (True, True)
    a, b, g = np.arange(3.0), np.arange(3.0), np.ones(3)
    ga, gb = op.backward(zeroin.function.NP, g, a * a, a, a)   # the whole 2 g x on one
    assert gb is None and np.array_equal(ga, 2 * a)
    ga, gb = op.backward(zeroin.function.NP, g, a * b, a, b)   # equal values, two arrays
    assert ga is not gb
    x = zeroin.tensor([0.1, -3.0, 7.5], requires_grad=True)
    (x * x).sum().backward()
    assert np.array_equal(x.grad.data, 2 * x.data)          # g*x + g*x = 2x exactly


def test_plain_array_backward_matches_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 4))
    y = rng.integers(0, 3, 5)
    w = rng.standard_normal((3, 4))
    F = zeroin.nn.functional

    def f(wv):
        return F.cross_entropy(F.relu(F.linear(zeroin.tensor(x), zeroin.tensor(wv))) * 2.0,
                               y).item()

    wt = zeroin.tensor(w, requires_grad=True)
    F.cross_entropy(F.relu(F.linear(zeroin.tensor(x), wt)) * 2.0, y).backward()
    eps, num = 1e-6, np.zeros_like(w)
    for i in np.ndindex(*w.shape):
        d = np.zeros_like(w)
        d[i] = eps
        num[i] = (f(w + d) - f(w - d)) / (2 * eps)
    np.testing.assert_allclose(wt.grad.data, num, rtol=1e-5, atol=1e-8)


def _grads_fit_cases():
    """(op class, input arrays, g) for each op that declares ``grads_fit`` (T14)."""
    rng = np.random.default_rng(7)
    F = zeroin.nn.functional
    for dt in (np.float64, np.float32):
        def r(*shape, dt=dt):
            return rng.standard_normal(shape).astype(dt)
        for xs in ((5, 4), (4,), (2, 3, 4)):
            for bias in (False, True):
                ins = (r(*xs), r(3, 4)) + ((r(3),) if bias else ())
                yield F.LinearOp, ins, r(*xs[:-1], 3)
        for xs in ((6,), (2, 3, 4)):
            yield zeroin.ops.ReLUOp, (r(*xs),), r(*xs)
        for cls in (zeroin.ops.SumOp, zeroin.ops.MeanOp):
            for xs, axis, keep in (((5, 4), None, False), ((2, 3, 4), (0, 2), False),
                                   ((2, 3, 4), 1, True), ((0, 3), None, False),
                                   ((40, 40), None, False), ((), None, False)):
                fn = object.__new__(cls)
                fn.axis, fn.keepdims = axis, keep
                if cls is zeroin.ops.SumOp:
                    fn.dtype = None
                x = r(*xs)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)    # the empty mean
                    out = fn.forward(x)
                g = np.asarray(rng.standard_normal(np.shape(out))).astype(dt)
                yield fn, (x,), g
                if dt is np.float64 and axis is None:   # the float lane's float g
                    yield fn, (x,), float(g)


def test_ops_declaring_grads_fit_return_their_inputs_shapes_and_dtypes():
    # the fast path trusts grads_fit and skips fitting those gradients: hold the ops to it
    linear = zeroin.nn.functional.LinearOp        # nn's ops imported first
    from zeroin.profiler import _op_classes         # every Function subclass, as profiling
    declared = {c for c in _op_classes() if c.grads_fit}
    assert declared == {linear, zeroin.ops.ReLUOp, zeroin.ops.SumOp, zeroin.ops.MeanOp}
    for cls, ins, g in _grads_fit_cases():
        fn = object.__new__(cls) if isinstance(cls, type) else cls
        fn.needs_input_grad = (True,) * len(ins)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = fn.forward(*ins)
        if type(g) is float:
            out = float(out)
        else:
            assert np.shape(out) == g.shape and np.asarray(out).dtype == g.dtype
        res = fn.backward(zeroin.ops.NP, g, out, *ins)
        res = res if isinstance(res, tuple) else (res,)
        for gi, a in zip(res, ins):
            assert type(gi) is np.ndarray and gi.shape == a.shape and gi.dtype == a.dtype


def test_ops_declaring_backward_into_give_backwards_bits_in_g_itself():
    # T15: the fast path lets such an op write its gradient into g: same bits, same array
    from zeroin.profiler import _op_classes
    declared = {c for c in _op_classes() if c.backward_into is not None}
    assert declared == {zeroin.ops.ReLUOp}
    rng = np.random.default_rng(9)
    for dt in (np.float64, np.float32):
        for shape in ((7,), (3, 4, 5), (0, 2)):
            x = rng.standard_normal(shape).astype(dt)
            x.flat[:2] = (0.0, np.nan) if x.size else ()
            fn = object.__new__(zeroin.ops.ReLUOp)
            fn.needs_input_grad = (True,)
            out = fn.forward(x)
            g = rng.standard_normal(shape).astype(dt)
            want = fn.backward(zeroin.ops.NP, g, out, x)
            got = fn.backward_into(g, out, x)
            assert got is g and got.dtype == want.dtype
            np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_an_mlps_relus_write_into_their_gradients(monkeypatch):
    # T15 is taken where it pays: the gradient a layer's backward hands to its relu
    rule = zeroin.ops.ReLUOp.__dict__["backward_into"].__func__
    calls = []
    monkeypatch.setattr(zeroin.ops.ReLUOp, "backward_into",
                        staticmethod(lambda g, out, x: calls.append(1) or rule(g, out, x)))
    rng = np.random.default_rng(11)
    F = zeroin.nn.functional
    w1, w2 = (zeroin.tensor(rng.standard_normal(s), requires_grad=True)
              for s in ((5, 3), (2, 5)))
    x = zeroin.tensor(rng.standard_normal((4, 3)))
    F.cross_entropy(F.linear(F.relu(F.linear(x, w1)), w2), zeroin.tensor([0, 1, 1, 0])).backward()
    assert calls == [1]
    xv, w1v, w2v = x.numpy(), w1.detach().numpy(), w2.detach().numpy()
    h = np.maximum(xv @ w1v.T, 0)
    z = h @ w2v.T
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(4), [0, 1, 1, 0]] -= 1
    np.testing.assert_allclose(w1.grad.numpy(), ((p / 4 @ w2v) * (h > 0)).T @ xv, rtol=1e-12)


@pytest.mark.parametrize("case", ["shared", "retained", "hooked", "seed", "twice"])
def test_relu_writes_into_its_gradient_only_when_nothing_else_holds_it(case):
    # T15 must not change a gradient someone else sees: add's (g, g) for two inputs, a
    # retained or hooked output's .grad, the caller's seed, a relu used twice
    rng = np.random.default_rng(10)
    xv, vv, gv = (rng.standard_normal((4, 3)) for _ in range(3))
    seen = []
    x = zeroin.tensor(xv, requires_grad=True)
    v = zeroin.tensor(vv, requires_grad=True)
    y = zeroin.relu(x)
    if case == "shared":
        out = y + zeroin.relu(v)
    elif case == "twice":
        out = y * 2.0 + y
    else:
        out = y
        if case == "retained":
            y.retain_grad()
        if case == "hooked":
            y.register_hook(lambda g: seen.append(g.numpy().copy()))
    seed = zeroin.tensor(gv.copy())
    out.backward(seed)
    mask = xv > 0
    want = gv * mask * (3.0 if case == "twice" else 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), want)
    np.testing.assert_array_equal(seed.numpy(), gv)                 # the seed untouched
    if case == "shared":
        np.testing.assert_array_equal(v.grad.numpy(), gv * (vv > 0))
    if case == "retained":
        np.testing.assert_array_equal(y.grad.numpy(), gv)
    if case == "hooked":
        np.testing.assert_array_equal(seen[0], gv)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_and_relu_gradients_match_torch_for_batched_inputs(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 4), (5, 4), (5,)))
    ours = [zeroin.tensor(v, requires_grad=True) for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    for lib, (xt, wt, bt) in ((zeroin, ours), (torch, theirs)):
        F = lib.nn.functional
        h = F.relu(F.linear(xt, wt, bt))
        (F.linear(h, wt.T) * xt).sum().backward()     # wt used twice; x's grad too
    tol = 1e-5 if dtype == "float32" else 1e-12
    for a, t in zip(ours, theirs):
        assert a.grad.dtype == a.dtype and a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=tol, atol=tol)
    if dtype == "float64":
        F = zeroin.nn.functional
        assert zeroin.gradcheck(lambda x, w, b: F.relu(F.linear(x, w, b)).sum(),
                                [zeroin.tensor(v, requires_grad=True) for v in (x, w, b)])


# --- architecture: where things live ---------------------------------------------------

import ast  # noqa: E402
import pathlib  # noqa: E402
import re  # noqa: E402

PKG = pathlib.Path(zeroin.__file__).parent


def test_tensor_storage_is_private_to_tensor_and_fast_path():
    # a Tensor's value lives in _array / _float; everyone else reads .data or .item()
    pattern = re.compile(r"\._(array|float|d|v)\b")
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        if path.relative_to(PKG).as_posix() in ("_tensor.py", "_fast.py"):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line.split("#")[0]):
                offenders.append(f"{path.relative_to(PKG)}:{n}: {line.strip()}")
    assert not offenders, "tensor storage read outside _tensor.py/_fast.py:\n" + \
        "\n".join(offenders)


ENGINE_LAYERS = ["errors", "anomaly", "_tensor", "graph", "function", "_fast", "ops",
                 "autograd"]


def _zeroin_imports(path):
    """(line, module) for each `from . import x` / `from .x import ...` in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.append((node.lineno, node.module.split(".")[0]))
            else:
                found += [(node.lineno, a.name) for a in node.names]
    return found


def test_engine_modules_import_only_the_layers_below_them():
    # errors -> anomaly -> _tensor -> graph -> function -> _fast -> ops -> autograd; the one
    # edge upwards is Tensor.backward's `from . import autograd` at the end of _tensor.py
    for i, name in enumerate(ENGINE_LAYERS):
        for line, mod in _zeroin_imports(PKG / f"{name}.py"):
            if mod in ENGINE_LAYERS and ENGINE_LAYERS.index(mod) >= i:
                assert (name, mod) == ("_tensor", "autograd"), \
                    f"zeroin/{name}.py:{line} imports the higher layer {mod}"


def test_engine_functions_are_short():
    limits = {name: 80 for name in ENGINE_LAYERS if name != "_fast"}
    for name, limit in limits.items():
        for node in ast.walk(ast.parse((PKG / f"{name}.py").read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                assert n <= limit, f"zeroin/{name}.py: {node.name} has {n} lines (> {limit})"


def test_dir_of_zeroin_lists_only_what_resolves():
    import importlib.util
    for name in dir(zeroin):
        if name == "viz" and importlib.util.find_spec("zeroin.viz") is None:
            continue        # the visualisation package is being built elsewhere
        getattr(zeroin, name)
    assert "annotations" not in dir(zeroin) and "importlib" not in dir(zeroin)


def test_op_methods_and_exports_come_from_the_registry():
    import zeroin.nn  # noqa: F401
    for name, info in zeroin.ops.OPS.items():
        for m in info.methods:
            assert hasattr(zeroin.Tensor, m), (name, m)
        if info.export:
            assert getattr(zeroin, name) is info.fn
        else:
            assert getattr(zeroin, name, None) is not info.fn
    assert zeroin.Tensor.__mul__ is zeroin.ops.mul and zeroin.cat is zeroin.concatenate
    assert isinstance(zeroin.tensor(2.0) - 3.0, zeroin.Tensor)
    assert (3.0 - zeroin.tensor(2.0)).item() == 1.0         # __rsub__ swaps the operands


def test_ragged_nested_lists_get_an_error_naming_the_row_lengths():
    with pytest.raises(ValueError, match=r"tensor: nested lists must be rectangular .* the "
                       r"rows have lengths 2, 1; pad or trim"):
        zeroin.tensor([[1, 2], [3]])
    with pytest.raises(ValueError, match=r"the rows have lengths 2, a number"):
        zeroin.tensor([[1.0, 2.0], 3.0])
    with pytest.raises(ValueError, match=r"the lists at depth 2 have lengths 1, 2, 1, 1"):
        zeroin.tensor([[[1], [2, 3]], [[1], [2]]])
    with pytest.raises(ValueError) as e:
        zeroin.tensor([[1, 2], [3]], requires_grad=True)
    assert "inhomogeneous" not in str(e.value)          # not NumPy's wording


def test_a_list_of_tensors_is_refused_or_warned_as_pytorch_does():
    """tensor([a, b]) copied the values off the graph: PyTorch refuses items of several
    elements and warns for a one-element item that requires grad; stack keeps the graph."""
    import warnings
    a = zeroin.ones(2, requires_grad=True)
    for make in (zeroin.tensor, zeroin.Tensor):
        with pytest.raises(ValueError, match=r"tensor: item 1 of the list is a tensor of shape "
                           r"\(2,\), not a number; join tensors with zeroin\.stack\(items\)"):
            make([1.0, a])
    s = (a * 3).sum()
    with pytest.warns(UserWarning, match=r"tensor: item 0 of the list requires grad, but only "
                      r"its value is copied.*zeroin\.stack\(items\)") as w:
        t = zeroin.tensor([s, 2.0])
    assert len(w) == 1 and w[0].filename == __file__          # points at the caller's line
    assert t.tolist() == [6.0, 2.0] and not t.requires_grad
    zeroin.stack([s, s]).sum().backward()                        # the fix keeps the graph
    assert a.grad.tolist() == [6.0, 6.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # no grad: silent, as PyTorch
        assert zeroin.tensor([zeroin.tensor(1.0), zeroin.tensor([2.0])[0]]).tolist() == [1, 2]
        assert zeroin.tensor([zeroin.ones(1), zeroin.ones(1, 1)]).shape == (2,)  # as PyTorch


def test_a_list_of_float32_tensors_or_numpy_floats_stays_float32_as_pytorch():
    """torch.tensor(loss_values) of float32 losses is float32: a list's float dtype is the
    widest of its items' (tensors, NumPy scalars and arrays), Python floats counting as
    the default dtype."""
    torch = pytest.importorskip("torch")
    f32 = np.float32(1.5)
    cases = [lambda m: [m.tensor(2.5, dtype=m.float32), m.tensor(1.0, dtype=m.float32)],
             lambda m: [f32, f32], lambda m: [f32, 2], lambda m: [[f32], [f32]],
             lambda m: [f32, 2.0], lambda m: [np.float64(1.0), 2.0],
             lambda m: [m.tensor(1.0, dtype=m.float16), 2],
             lambda m: [m.tensor(1, dtype=m.int32), 5.0],
             lambda m: [m.tensor(1, dtype=m.int32), 5], lambda m: [1.0, 2.0],
             lambda m: [[1.0], [f32]], lambda m: [[f32], [np.float64(1.0)]],
             lambda m: [[2.0, 3.0], [np.float16(1.0), 1]], lambda m: [[1.0, 2.0]] * 3]
    for default in (np.float64, np.float32):
        zeroin.set_default_dtype(default)
        torch.set_default_dtype({np.float64: torch.float64, np.float32: torch.float32}[default])
        try:
            for make in cases:
                want = str(torch.tensor(make(torch)).dtype).replace("torch.", "")
                assert str(zeroin.tensor(make(zeroin)).dtype) == want, (default, make(zeroin))
        finally:
            torch.set_default_dtype(torch.float32)
            zeroin.set_default_dtype(np.float64)
    assert zeroin.Tensor([f32]).dtype == np.float64         # the legacy Tensor: the default


# --- .data: a view with PyTorch's in-place methods ------------------------------------------

def test_data_is_a_shared_view_whose_results_are_plain_arrays():
    p = zeroin.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
    store = p.numpy()
    assert type(store) is np.ndarray and np.shares_memory(p.data, store)
    assert type(p.data * 2) is np.ndarray and type(np.exp(p.data)) is np.ndarray
    assert type(p.data.sum()) is np.float64 and type(np.zeros_like(p.data)) is np.ndarray
    assert type(np.concatenate([p.data, p.data])) is np.ndarray
    assert repr(p.data) == repr(store) and not p.data.requires_grad
    p.data -= 1.0                                  # in place, in the same array
    assert p.numpy() is store and store[0, 0] == 0.0
    p.data[1].zero_()                              # a row keeps the methods and the memory
    assert store[1].tolist() == [0.0, 0.0]
    p.data.mul_(2).add_(zeroin.ones(2, 2), alpha=3)
    assert p.numpy() is store and store.tolist() == [[3.0, -3.0], [3.0, 3.0]]
    q = zeroin.zeros(2, 2)
    q.data = p.data                                # replaces: now shares p's memory
    assert np.shares_memory(q.numpy(), store) and type(q.numpy()) is np.ndarray
    assert p.data.numpy() is not store and type(p.data.numpy()) is np.ndarray
    c = p.data.clone()
    assert isinstance(c, np.ndarray) and not np.shares_memory(c, store)
    c.zero_()                                      # its own memory
    assert store.tolist() == [[3.0, -3.0], [3.0, 3.0]] and type(c + 1) is np.ndarray
    d = p.detach()
    assert type(d.numpy()) is np.ndarray and d.numpy() is store


def test_data_methods_check_shapes_and_repeat_under_manual_seed():
    p = zeroin.zeros(2, 3)
    with pytest.raises(zeroin.ShapeError, match=r"copy_: .*\(4,\).*\(2, 3\)"):
        p.data.copy_(np.ones(4))
    with pytest.raises(zeroin.ShapeError, match="add_"):
        p.data.add_(np.ones(4))
    with pytest.raises(ValueError, match="clamp_"):
        p.data.clamp_()
    zeroin.manual_seed(3)
    first = p.data.normal_(0, 0.02).copy(), p.data.uniform_(-1, 1).copy()
    zeroin.manual_seed(3)
    again = p.data.normal_(0, 0.02).copy(), p.data.uniform_(-1, 1).copy()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert np.array_equal(p.numpy(), first[1])


def test_data_norm_as_the_old_autograd_tutorial_uses_it():
    # the 60-minute blitz: y = x * 2; while y.data.norm() < 1000: y = y * 2
    x = zeroin.tensor([[3.0, -4.0], [6.0, 8.0]], requires_grad=True)
    y = x * 2
    steps = 0
    while y.data.norm() < 1000:
        y = y * 2
        steps += 1
    a = x.numpy()
    assert steps == 6 and isinstance(y.data.norm(), np.floating)
    assert np.isclose(x.data.norm(), np.linalg.norm(a))
    np.testing.assert_allclose(x.data.norm(dim=1), np.linalg.norm(a, axis=1))
    np.testing.assert_allclose(x.data.norm(1, dim=0, keepdim=True), [[9.0, 12.0]])
    assert type(x.data.norm(dim=1)) is np.ndarray


def test_data_sign_as_the_fgsm_tutorial_uses_it():
    # the FGSM tutorial: data_grad = data.grad.data; image + epsilon * data_grad.sign()
    torch = pytest.importorskip("torch")
    a = np.array([[0.2, 0.9, 0.5], [0.0, 0.4, 1.0]])
    out = []
    for lib in (zeroin, torch):
        x = lib.tensor(a, requires_grad=True)
        (x * lib.tensor([[1.0, -2.0, 0.0], [-1.0, 3.0, 2.0]])).sum().backward()
        sign_data_grad = x.grad.data.sign()
        out.append(lib.clamp(x + 0.25 * sign_data_grad, 0, 1).detach().numpy())
    np.testing.assert_array_equal(out[0], out[1])
    z = zeroin.tensor([-2.0, 0.0, 3.0])
    assert type(z.data.sign()) is np.ndarray and z.data.sign().tolist() == [-1, 0, 1]


def test_data_std_and_var_are_pytorchs_as_makemore_uses_them():
    # makemore part 3: ((lr * p.grad).std() / p.data.std()).log10().item(), n - 1 as torch's
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    out = []
    for lib in (zeroin, torch):
        p = lib.tensor(a, requires_grad=True)
        (p ** 3).sum().backward()
        d = p.data
        out.append([float(((0.1 * p.grad).std() / d.std()).log10().item()), float(d.std()),
                    float(d.var()), np.asarray(d.std(0)), np.asarray(d.var(1, keepdim=True)),
                    np.asarray(d.std(dim=0, unbiased=False)), float(d.var(correction=0))])
    for z, t in zip(*out):
        np.testing.assert_allclose(z, t, rtol=1e-6)
    d = zeroin.tensor(a).data
    assert isinstance(d.std(), np.floating) and type(d.std(0)) is np.ndarray
    np.testing.assert_allclose(d.std(ddof=0), a.std(), rtol=1e-6)         # NumPy's ddof=
    np.testing.assert_allclose(d.var(axis=1, ddof=0), a.var(axis=1), rtol=1e-6)


def test_data_abs_as_d2l_custom_init_uses_it():
    # d2l's builder's guide: m.weight.data *= m.weight.data.abs() >= 5, in place
    torch = pytest.importorskip("torch")
    a = np.array([[-7.0, 2.0, 5.0], [-4.9, 0.0, 9.5]], dtype=np.float32)
    out = []
    for lib in (zeroin, torch):
        w = lib.nn.Parameter(lib.tensor(a))
        w.data *= w.data.abs() >= 5
        out.append(w.detach().numpy().copy())
    np.testing.assert_array_equal(out[0], out[1])
    z = zeroin.tensor([-2.0, 0.0, 3.0])
    r = z.data.abs()        # new memory with .data's methods, as clone()
    assert isinstance(r, np.ndarray) and r.tolist() == [2.0, 0.0, 3.0]
    r.zero_()
    assert z.tolist() == [-2.0, 0.0, 3.0]


def _d2l_batch_norm(lib, X, gamma, beta, moving_mean, moving_var, eps, momentum):
    # d2l's batch norm from scratch, as printed (it returns the moving stats' .data)
    if not lib.is_grad_enabled():
        X_hat = (X - moving_mean) / lib.sqrt(moving_var + eps)
    else:
        mean = X.mean(dim=(0, 2, 3), keepdim=True)
        var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        X_hat = (X - mean) / lib.sqrt(var + eps)
        moving_mean = momentum * moving_mean + (1.0 - momentum) * mean
        moving_var = momentum * moving_var + (1.0 - momentum) * var
    return gamma * X_hat + beta, moving_mean.data, moving_var.data


def test_data_of_data_and_device_as_d2l_batch_norm_uses_them():
    # the moving stats become t.data; the next call reads .device and .data of that again
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(2, 3, 2, 2)) for _ in range(3)]
    out = []
    for lib in (zeroin, torch):
        gamma = lib.ones((1, 3, 1, 1), dtype=lib.float64, requires_grad=True)
        mm, mv = lib.zeros((1, 3, 1, 1), dtype=lib.float64), lib.ones((1, 3, 1, 1), dtype=lib.float64)
        res = []
        for i, a in enumerate(xs):
            X = lib.tensor(a)
            assert not (mm.device != X.device)
            with lib.set_grad_enabled(i < 2):
                Y, mm, mv = _d2l_batch_norm(lib, X, gamma, 0.0, mm, mv, 1e-5, 0.9)
            res += [Y.detach().numpy().copy(), mm.numpy().copy(), mv.numpy().copy()]
        out.append(res)
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    d = zeroin.zeros(2).data
    assert d.data is d and d.device == zeroin.device("cpu")


def test_data_size_is_numpys_count_and_pytorchs_size_method():
    # old code: torch.randn(content_img.data.size()), images.data.size(0)
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        x = lib.zeros(2, 3)
        assert tuple(x.data.size()) == (2, 3) and x.data.size(0) == 2 and x.data.size(-1) == 3
        assert tuple(lib.randn(x.data.size()).shape) == (2, 3)
        with pytest.raises(IndexError):
            x.data.size(2)
    x = zeroin.zeros(2, 3)
    assert x.data.size == 6 and x.data[0].size == 3 and np.zeros(x.data.size).shape == (6,)
    assert repr(x.data.size()) == "zeroin.Size([2, 3])" and type(x.data.size + 1) is int


def test_data_new_and_view_as_are_pytorchs():
    """The VAE's ``std.data.new(std.size()).normal_()``, the echo notebook's
    ``next(self.parameters()).data.new(1, b, h).zero_()`` and the convnet notebook's
    ``pred.eq(target.data.view_as(pred))`` raised AttributeError on ``t.data``."""
    w = zeroin.ones(3, 4, requires_grad=True)
    h = w.data.new(1, 5, 2).zero_()
    assert isinstance(h, zeroin.Tensor) and h.shape == (1, 5, 2) and h.dtype == w.dtype
    assert not h.requires_grad and not np.shares_memory(h.numpy(), w.detach().numpy())
    e = w.data.new(w.size())
    assert e.shape == (3, 4) and isinstance(e, zeroin.Tensor)
    assert w.data.new([1, 2]).tolist() == [1.0, 2.0]
    target = zeroin.tensor([3, 1, 4])
    pred = zeroin.tensor([[3], [0], [4]])
    v = target.data.view_as(pred)
    assert v.shape == (3, 1) and np.shares_memory(v, target.numpy())
    assert pred.eq(v).sum().item() == 2
    with pytest.raises(RuntimeError):
        zeroin.zeros(6).data.view_as(zeroin.zeros(2, 4))     # 6 elements into 8


def test_a_tensor_method_on_data_says_to_call_it_on_the_tensor():
    x = zeroin.tensor([1.0, 2.0])
    with pytest.raises(AttributeError, match=r"'DataArray' object has no attribute 'softmax': "
                                             r"in zeroin t\.data is a NumPy array .*"
                                             r"t\.detach\(\)\.softmax\(\.\.\.\)"):
        x.data.softmax(0)
    with pytest.raises(AttributeError, match=r"^'DataArray' object has no attribute 'nope'$"):
        x.data.nope
    assert not hasattr(x.data, "softmax") and hasattr(x.data, "sum")


def test_data_unsqueeze_scatter_and_index_fill_as_pytorchs():
    """The Annotated Transformer's label smoothing on ``.data``: ``true_dist =
    x.data.clone()``, ``true_dist.scatter_(1, target.data.unsqueeze(1), confidence)``,
    ``true_dist.index_fill_(0, mask.squeeze(), 0.0)`` (AttributeError before)."""
    torch = pytest.importorskip("torch")
    res = []
    for T in (zeroin, torch):
        x = T.tensor([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]],
                     dtype=T.float64, requires_grad=True)
        target = T.tensor([2, 0, 3])
        idx = target.data.unsqueeze(1)
        assert tuple(idx.shape) == (3, 1)
        true_dist = x.data.clone()
        true_dist.fill_(0.25)
        r1 = true_dist.scatter_(1, idx, 0.9)
        r2 = true_dist.index_fill_(0, T.nonzero(target.data == 0).squeeze(), 0.0)
        assert r1 is true_dist and r2 is true_dist                   # in place, returns self
        w = x.data
        w.scatter_(1, idx, T.tensor([[5.0], [6.0], [7.0]], dtype=T.float64))   # into x
        w.index_fill_(1, T.tensor([1]), -1.0)
        res.append((true_dist.numpy(), x.detach().numpy()))
    for z, t in zip(*res):
        np.testing.assert_array_equal(z, t)
    d = zeroin.zeros(2, 3).data
    v = d.unsqueeze(0)
    v[0, 1, 2] = 4.0                                                  # a view: shares memory
    assert d[1, 2] == 4.0 and type(v) is type(d)
    with pytest.raises(IndexError, match="index_fill"):
        d.index_fill_(0, zeroin.tensor([5]), 1.0)


@pytest.mark.parametrize("call", [
    lambda T, t: np.abs(t), lambda T, t: np.exp(t), lambda T, t: np.sign(t - np.ones(2)),
    lambda T, t: np.add.reduce(t), lambda T, t: np.add.accumulate(t, axis=1),
    lambda T, t: np.modf(t)[1], lambda T, t: np.abs(T.tensor(-2.5, dtype=T.float64))])
def test_numpy_ufuncs_of_a_tensor_give_tensors_of_numpys_values(call):
    # CS231n's rel_error(x, y) = np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + ...))
    # met with x.grad: PyTorch wraps NumPy's values in a tensor
    import warnings
    torch = pytest.importorskip("torch")
    x = np.array([[1.5, -2.0], [3.25, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)    # torch's __array_wrap__
        want = call(torch, torch.tensor(x))
    got = call(zeroin, zeroin.tensor(x))
    assert isinstance(got, zeroin.Tensor) and not got.requires_grad
    assert got.shape == tuple(want.shape) and str(got.dtype) == str(want.dtype).split(".")[1]
    assert np.array_equal(got.numpy(), want.numpy())


def test_numpy_ufunc_of_a_tensor_that_requires_grad_is_refused_as_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match=r"numpy"):
        np.abs(torch.ones(2, requires_grad=True))
    g = zeroin.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^np\.absolute: NumPy cannot follow a tensor that "
                       r"requires grad .* or np\.absolute of t\.detach\(\)"):
        np.abs(g)
    with pytest.raises(RuntimeError, match=r"^np\.add\.reduce: "):
        np.add.reduce(g)
    with zeroin.no_grad():                                      # as PyTorch's: the values
        assert np.abs(g).tolist() == [1.0, 2.0]
    assert np.abs(g.detach()).tolist() == [1.0, 2.0]
    assert (np.maximum(0.0, g) * 2).sum().requires_grad         # arithmetic keeps the graph
    with pytest.raises(TypeError):
        np.abs(np.ones(2), out=zeroin.zeros(2))


def test_numpy_ufunc_refusal_names_zeroins_function_of_the_same_name():
    # a learner's f = lambda x: np.sin(x) in descent_path: the hint named t.abs() and
    # zeroin.exp(t) whatever the function; zeroin.sin is the one that keeps the graph
    g = zeroin.tensor([1.0, -2.0], requires_grad=True)
    for fn, name in ((np.sin, "sin"), (np.tanh, "tanh"), (np.absolute, "absolute")):
        with pytest.raises(RuntimeError, match=rf"^np\.{name}: .*; use zeroin\.{name}\(\.\.\.\) "
                                               rf"to keep it, or np\.{name} of t\.detach\(\)"):
            fn(g)
        assert np.allclose(getattr(zeroin, name)(g).detach().numpy(), fn(g.detach().numpy()))
    with pytest.raises(RuntimeError, match=r"^np\.add\.reduce: .*use zeroin's function"):
        np.add.reduce(g)                         # no zeroin.add.reduce: the general hint


@pytest.mark.parametrize("call", [
    lambda t: np.sum(t), lambda t: np.sum(t, axis=0, keepdims=True), lambda t: np.mean(t),
    lambda t: np.mean(t, axis=1), lambda t: np.std(t), lambda t: np.std(t, ddof=1),
    lambda t: np.var(t, axis=0), lambda t: np.max(t, axis=1), lambda t: np.amin(t),
    lambda t: np.prod(t), lambda t: np.any(t > 3), lambda t: np.all(t > -3)])
def test_numpy_reductions_of_a_tensor_give_numpys_values(call):
    # a learner's 7.3 (Understanding Deep Learning): np.std(h) of each layer's activations;
    # NumPy handed the tensor's own std its dtype=, out= and ddof=: a TypeError
    x = np.array([[1.5, -2.0], [3.25, 4.0]])
    got = call(zeroin.tensor(x))
    assert isinstance(got, zeroin.Tensor) and not got.requires_grad
    want = np.asarray(call(x))
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want)        # NumPy's std: ddof=0


@pytest.mark.parametrize("call, hint", [
    (lambda w, x: np.sum((w * x - 1.0) ** 2), r"t\.sum\(dim=\.\.\.\)"),
    (lambda w, x: np.std(w), r"t\.std\(dim=\.\.\., correction=0\) \(NumPy's ddof=0"),
    (lambda w, x: np.dot(w, x) + 1.0, r"w @ x or zeroin\.dot"),
    (lambda w, x: np.clip(w, 0, None), r"t\.clamp\(min, max\)"),
    (lambda w, x: np.concatenate([x, w]), r"zeroin\.cat"),
    (lambda w, x: np.einsum("i,i->", w, x), r"zeroin\.einsum")])
def test_numpy_functions_of_a_tensor_that_requires_grad_are_refused(call, hint):
    # np.dot(W, h) + b returned an array plus a tensor: b trained and W never did, silently;
    # np.sum(...) of a loss failed with NumPy's "unexpected keyword argument 'out'"
    w = zeroin.tensor([1.0, -2.0], requires_grad=True)
    x = zeroin.tensor([0.5, 3.0])
    name = r"np\.(sum|std|dot|clip|concatenate|einsum)"
    with pytest.raises(RuntimeError, match=rf"^{name}: NumPy cannot follow a tensor that "
                       rf"requires grad .*; use {hint}.* or {name} of t\.detach\(\)"):
        call(w, x)
    with zeroin.no_grad():
        np.testing.assert_allclose(np.asarray(call(w, x)), call(w.detach().numpy(), x.numpy()))
    assert np.allclose(w, [1.0, -2.0]) and np.array_equal(np.argmax(w), 0)   # values: read


def test_data_cpu_is_a_detached_tensor_sharing_the_memory():
    # CS231n's GAN notebook: imgs_numpy = fake_images.data.cpu().numpy(); its class
    # visualisation's blur: X_np = X.cpu().clone().numpy() of an image's .data
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        x = lib.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 2
        got = y.data.cpu()
        assert isinstance(got, lib.Tensor) and not got.requires_grad
        assert got.numpy().tolist() == [[2.0, -4.0], [6.0, 8.0]]
        got.numpy()[0, 0] = 7.0                     # the same memory as y
        assert y[0, 0].item() == 7.0
        blurred = x.data.cpu().clone().numpy()
        blurred[0, 0] = 0.0                          # a copy
        assert x[0, 0].item() == 1.0
        shown = y.data.clone().cpu().numpy()        # class visualisation: img.data.clone().cpu()
        shown[0, 1] = 0.0
        assert y[0, 1].item() == -4.0 and shown.tolist() == [[7.0, 0.0], [6.0, 8.0]]


def test_data_detach_is_a_detached_tensor_sharing_the_memory():
    # UvA DL tutorial 4's train_curve: torch.cat([weights.data.detach(),
    # loss.unsqueeze(dim=0).detach()], dim=0) raised AttributeError on zeroin's .data
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        w = lib.nn.Parameter(lib.tensor([5.0, 5.0]))
        loss = (w ** 2).sum()
        got = w.data.detach()
        assert isinstance(got, lib.Tensor) and not got.requires_grad
        point = lib.cat([got, loss.unsqueeze(dim=0).detach()], dim=0)
        assert point.tolist() == [5.0, 5.0, 50.0] and not point.requires_grad
        got.numpy()[0] = 1.0                        # the same memory as w
        assert w[0].item() == 1.0


def test_data_view_with_a_shape_is_pytorchs_view_sharing_the_memory():
    # UvA DL tutorials 3 and 4: grads = {name: params.grad.data.view(-1).cpu().clone()
    # .numpy() ...}; NumPy's view took -1 as a dtype and raised TypeError
    torch = pytest.importorskip("torch")
    for lib in (zeroin, torch):
        lin = lib.nn.Linear(3, 2)
        lin(lib.ones(4, 3)).sum().backward()
        got = lin.weight.grad.data.view(-1).cpu().clone().numpy()
        assert got.tolist() == [4.0] * 6
        for args in ((3, 2), ((3, 2),), ([6],), (-1, 3)):
            assert tuple(lin.weight.data.view(*args).shape) == \
                tuple(lin.weight.detach().reshape(*args).shape)
        lin.weight.data.view(-1)[0] = 9.0                # the same memory
        assert lin.weight[0, 0].item() == 9.0
        with pytest.raises(RuntimeError):
            lin.weight.data.view(4)                      # 6 elements
        with pytest.raises(RuntimeError):
            lin.weight.data.T.view(-1)                   # needs a copy
    w = zeroin.ones(2, 3).data
    assert w.view(np.int64).dtype == np.int64 and type(w.view(np.ndarray)) is np.ndarray


def test_data_max_with_a_dim_is_pytorchs_values_and_indices():
    # the old MNIST examples: pred = output.data.max(1, keepdim=True)[1] and
    # _, predicted = torch.max(outputs.data, 1) / outputs.data.max(1): NumPy's maxima there
    # were silently wrong (the second row's maxima taken as indices)
    torch = pytest.importorskip("torch")
    x = [[1.0, 5.0, 3.0], [7.0, 2.0, 7.5], [0.0, -1.0, -2.0]]
    out, ref = zeroin.tensor(x, requires_grad=True) * 1, torch.tensor(x, requires_grad=True) * 1
    for name in ("max", "min"):
        for args, kw in (((1,), {}), ((0,), {}), ((1, True), {}), ((1,), {"keepdim": True}),
                         ((), {"dim": -1}), ((), {"dim": 0, "keepdim": True})):
            got, want = getattr(out.data, name)(*args, **kw), getattr(ref.data, name)(*args, **kw)
            assert isinstance(got, getattr(zeroin.return_types, name))
            assert not got.values.requires_grad
            np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
            np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
            assert got.indices.dtype == zeroin.int64
        _, pred = getattr(out.data, name)(1)
        assert (pred == zeroin.tensor([1, 2, 0] if name == "max" else [0, 1, 2])).sum() == 3
        with pytest.raises(TypeError, match=rf"t\.data\.{name}: PyTorch's dim=/keepdim= and "
                                            rf"NumPy's arguments cannot be mixed"):
            getattr(out.data, name)(dim=1, keepdims=True)
    d = out.data                                   # NumPy's calls stay NumPy's
    assert d.max() == 7.5 and d.min() == -2.0
    np.testing.assert_array_equal(d.max(1, keepdims=True), [[5.0], [7.5], [0.0]])
    np.testing.assert_array_equal(d.min(axis=0), [0.0, -1.0, -2.0])
    np.testing.assert_array_equal(np.max(d, 1), [5.0, 7.5, 0.0])
    np.testing.assert_array_equal(d.max((0, 1)), 7.5)
    assert type(d.max(axis=1)) is np.ndarray
    assert zeroin.max(out.data, 1, keepdim=True)[1].tolist() == [[1], [2], [0]]


def test_data_views_never_become_storage():
    from zeroin import nn, optim
    p = nn.Parameter(zeroin.randn(3, 2))
    assert type(p.numpy()) is np.ndarray
    q = nn.Parameter(p.data)                       # from the view: a plain array again
    assert type(q.numpy()) is np.ndarray and type(p.detach().numpy()) is np.ndarray
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (p * p).sum().backward()
    opt.step()
    assert all(type(v) is np.ndarray for v in opt.state[p].values() if hasattr(v, "shape"))
    p.data = p.data.astype(np.float32)             # another array: stored as a plain one
    assert type(p.numpy()) is np.ndarray and p.dtype == np.float32


# --- broadcast_array: the backward rules' np.broadcast_to -----------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None)
@given(src=st.lists(st.sampled_from([1, 2, 3]), max_size=3),
       extra=st.lists(st.integers(0, 4), max_size=3),
       dtype=st.sampled_from([np.float32, np.float64, np.int64]))
@pytest.mark.parametrize("big", [False, True])
def test_broadcast_array_equals_numpy(src, extra, dtype, big):
    """Same values, shape and dtype as np.broadcast_to; read-only and sharing memory, but a
    one-element g spread over at most 1024 elements is a fresh writable array; the same
    error when the shapes do not broadcast."""
    from zeroin.function import broadcast_array
    g = np.arange(1, int(np.prod(src)) + 1, dtype=dtype).reshape(src)
    shape = tuple(extra) + tuple(n if n != 1 else k for n, k in zip(src, [5, 1, 2]))
    if big:
        shape = (2000,) + shape
    try:
        want = np.broadcast_to(g, shape)
    except ValueError:
        with pytest.raises(ValueError):
            broadcast_array(g, shape)
        return
    got = broadcast_array(g, shape)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    if g.size == 1 and got.size <= 1024:
        assert got.flags.writeable and not np.shares_memory(got, g) and got.base is None
    else:
        assert not got.flags.writeable and np.shares_memory(got, g) == (got.size > 0)


def test_broadcast_array_takes_numpy_scalars_and_refuses_more_dims():
    from zeroin.function import broadcast_array
    got = broadcast_array(np.float32(2.5), (2, 3))
    assert got.dtype == np.float32 and (got == 2.5).all()
    for n in (3, 2000):             # a Python float is a float64, filled or a view
        got = broadcast_array(0.1, (n, 1))
        assert got.dtype == np.float64 and got.shape == (n, 1) and (got == 0.1).all()
        assert got.flags.writeable == (n <= 1024)
    with pytest.raises(ValueError):
        broadcast_array(np.ones((1, 1, 1)), (3, 3))


def test_shape_and_size_are_a_size_as_pytorchs():
    torch = pytest.importorskip("torch")
    z, t = zeroin.ones(2, 3), torch.ones(2, 3)
    for zs, ts in [(z.shape, t.shape), (z.size(), t.size()), (zeroin.tensor(1.0).shape, torch.tensor(1.0).shape)]:
        assert isinstance(zs, zeroin.Size) and isinstance(zs, tuple)
        assert zs == tuple(ts) and zs.numel() == ts.numel()
        assert repr(zs) == repr(ts).replace("torch", "zeroin")
    s, ts = z.shape, t.shape
    for f in (lambda a: a[1:], lambda a: a + (4,), lambda a: (4,) + a, lambda a: a * 2):
        assert isinstance(f(s), zeroin.Size) and isinstance(f(ts), torch.Size) and f(s) == tuple(f(ts))
    assert s[0] == 2 and type(s[0]) is int
    # printed and formatted as the tuple, so messages read "(2, 3)" as NumPy's shapes do
    assert str(s) == f"{s}" == "(2, 3)" and str(zeroin.ones(5).shape) == "(5,)"


def test_a_tensor_takes_attributes_of_its_own_as_pytorchs():
    # fast.ai's 03_backprop keeps hand-written gradients on the tensors: inp.g = out.g @ w.t()
    torch = pytest.importorskip("torch")
    import copy
    for lib in (zeroin, torch):
        w = lib.ones(2, 3)
        w.g = lib.full((2, 3), 2.0)
        p = lib.nn.Parameter(lib.ones(2))
        p.note = "bias"
        assert (w.g == 2).all() and p.note == "bias"
        assert vars(w).keys() == {"g"}
        assert copy.deepcopy(w).g is not w.g and (copy.deepcopy(w).g == 2).all()
        assert not hasattr(w.clone(), "g") and not hasattr(w + 1, "g")
        assert w.requires_grad_().g is w.g      # in place: the same tensor
        with pytest.raises(AttributeError, match="'g'"):
            lib.ones(1).g


def test_the_tensors_of_a_graph_stay_small():
    # CPython's cyclic collector walks every tensor of a live graph, and its time goes with
    # their size: name, retain_grad's flag and a view's base live in the instance dict,
    # made only when one is set (W2's chain of 2e5 scalar ops: 80 -> 50 ms a collection)
    import sys

    class SevenSlots:       # the budget: value, float, grad, requires_grad, grad_fn, hooks, read
        __slots__ = ("__dict__", "__weakref__", "a", "b", "c", "d", "e", "f", "g")

    assert sys.getsizeof(zeroin.tensor(3.0) * 2) <= sys.getsizeof(SevenSlots())
    w = zeroin.tensor(3.0, requires_grad=True)
    x = zeroin.tensor([1.0, 2.0], requires_grad=True)
    made = [w, x, w * 2 + 1, x * 2, (x * x).sum(), x.detach(), zeroin.ones(2),
            zeroin.zeros(2, name=None), zeroin.tensor([1.0], name=None), zeroin.Tensor([1.0]),
            zeroin.nn.Parameter(zeroin.ones(2)), zeroin.nn.Linear(2, 3)(x).relu()]
    for t in made:
        assert vars(t) == {}, t
    for view in (x[0], x.reshape(2, 1)):        # a view knows its base (in-place checks)
        assert vars(view).keys() == {"_view_of"} and view._view_of is x
    b = zeroin.tensor(4.0, requires_grad=True, name="b")
    assert b.name == "b" and b.detach().name == "b" and w.name is None
    assert zeroin.ones(2, name="o").name == "o" and zeroin.Tensor([1.0], name="t").name == "t"
    h = w * b
    assert not h.retains_grad
    h.retain_grad()
    (h * 2).backward()
    assert h.retains_grad and h.grad.item() == 2.0 and vars(w * b) == {}


def test_numpy_print_options_leave_tensors_alone():
    # Raschka's notebooks start with np.set_printoptions(precision=3); PyTorch's tensors
    # still print their own way (tanh(-5) was shown as -1.)
    x = zeroin.tensor([-0.99990920, 0.14285714, 1e-9])
    default = repr(x)
    with np.printoptions(precision=3, suppress=True, linewidth=20, sign="+",
                         floatmode="fixed"):
        assert repr(x) == default
        assert np.array2string(np.array([0.14285714])) == "[+0.143]"    # NumPy's own, set
    assert default == "tensor([-9.9990920e-01,  1.4285714e-01,  1.0000000e-09])"


def test_row_slices_gradients_keep_the_references_signed_zeros():
    # the rows of x * 1.0 taken by slices: where every slice so far wrote a row its -0.0
    # stays, a slice that misses a row adds its zeros there (-0.0 + 0.0 = 0.0), and a
    # gradient from another op (y * 2) joins them (T18 writes the slices into one buffer)
    rng = np.random.default_rng(12)
    x = zeroin.tensor(rng.standard_normal((6, 2)), requires_grad=True)
    for slices, signed in (([(0, 3), (1, 3)], [1, 2]), ([(0, 3), (1, 3), (4, 6)], []),
                           ([(1, 3), (1, 3)], [1, 2]), ([(2, 3)], [2])):
        y = x * 1.0
        sum((y[a:b] * -0.0).sum() for a, b in slices).backward()
        assert np.flatnonzero(np.signbit(x.grad.numpy()).any(1)).tolist() == signed, slices
        assert not x.grad.numpy().any()
        x.grad = None
    y = x * 1.0
    g = [rng.standard_normal((2, 2)), rng.standard_normal((6, 2)), rng.standard_normal((3, 2))]
    ((y[0:2] * zeroin.tensor(g[0])).sum() + (y * zeroin.tensor(g[1])).sum()
     + (y[3:] * zeroin.tensor(g[2])).sum()).backward()
    want = g[1].copy()
    want[:2] += g[0]
    want[3:] += g[2]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-15)


def test_a_recurrent_layers_step_slices_scatter_nothing_in_the_fast_path(monkeypatch):
    # T18: each step's rows of the one input projection (gates 4 * 3 = 12 wide) have their
    # gradient written into one buffer; the reference scatters each into zeros
    from zeroin.function import NP, scatter_array
    calls = []

    def counting(g, index, shape):
        calls.append(shape[-1])
        return scatter_array(g, index, shape)
    monkeypatch.setattr(NP, "scatter", staticmethod(counting))
    x = zeroin.tensor(np.random.default_rng(13).standard_normal((20, 2, 5)), requires_grad=True)
    zeroin.nn.LSTM(5, 3)(x)[0].sum().backward()
    assert x.grad is not None
    assert (calls.count(12) == 0) == zeroin._tensor.FAST, calls.count(12)


def _special_values(rng, n, dtype):
    """n random values of dtype with zeros of both signs, infinities and NaNs among them."""
    a = rng.standard_normal(n).astype(dtype)
    a[rng.integers(0, n, 64)] = rng.choice(np.array([0.0, -0.0, np.inf, -np.inf, np.nan],
                                                    dtype), 64)
    return a


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("symbol", ["-=", "+="])
def test_inplace_add_and_sub_of_large_arrays_keep_numpys_bits(monkeypatch, dtype, symbol):
    # T20: t -= u and t += u under no_grad (the update of SGD by hand) of a large float
    # array go to BLAS's axpy with alpha -1 or +1; the product is exact, so the one rounding
    # is NumPy's subtraction's (or addition's): the same bits, signed zeros included. The
    # reference (ZEROIN_FAST=0) runs NumPy's ufunc: the test holds both engines to it.
    from zeroin import _tensor_api
    rng = np.random.default_rng(20)
    n = 1 << 15
    w, g = _special_values(rng, n, dtype), _special_values(rng, n, dtype)
    want = w - g if symbol == "-=" else w + g
    calls = []
    if _tensor_api._axpy is not None:
        real = _tensor_api._axpy

        def spy(d, alpha, v):
            calls.append(alpha)
            return real(d, alpha, v)
        monkeypatch.setattr(_tensor_api, "_axpy", spy)
        # the operators bound the module's name when they were made: rebind them here
        monkeypatch.setattr(zeroin.Tensor, "__isub__", _tensor_api._operator(
            np.subtract, "-", zeroin.ops.sub))
        monkeypatch.setattr(zeroin.Tensor, "__iadd__", _tensor_api._operator(
            np.add, "+", zeroin.ops.add))
    p = zeroin.tensor(w.reshape(128, -1), requires_grad=True)
    with zeroin.no_grad():
        if symbol == "-=":
            p -= zeroin.tensor(g.reshape(128, -1))
        else:
            p += zeroin.tensor(g.reshape(128, -1))
    got = p.detach().numpy().reshape(-1)
    assert got.tobytes() == want.tobytes() or (
        np.array_equal(np.isnan(got), np.isnan(want)) and      # NaN payloads aside
        np.array_equal(got[~np.isnan(want)].view(np.uint8), want[~np.isnan(want)].view(np.uint8)))
    if zeroin._tensor.FAST:
        assert calls == [-1.0 if symbol == "-=" else 1.0]


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_inplace_blas_path_leaves_other_operands_to_numpy():
    # T20 is tried only for a Tensor operand of one dtype, shape and layout; everything
    # else (a view with strides, p -= p, mixed dtypes, small arrays) is NumPy's as before
    rng = np.random.default_rng(21)
    n = 1 << 15
    w = rng.standard_normal((64, n // 64)).astype(np.float32)
    cases = {
        "small": (w[:1].copy(), w[1:2].copy()),
        "float64 operand": (w.copy(), w.astype(np.float64)),
        "strided view": (np.repeat(w, 2, axis=1)[:, ::2], w.copy()),
        "itself": (w.copy(), None),
    }
    for why, (a, b) in cases.items():
        t = zeroin.tensor(a) if why != "strided view" else zeroin.tensor(np.repeat(w, 2, 1))[:, ::2]
        u = t if b is None else zeroin.tensor(b)
        ref = t.numpy().copy()
        with zeroin.no_grad():
            t -= u
        expect = (ref - (ref if b is None else b)).astype(np.float32)
        assert t.dtype == zeroin.float32 and np.array_equal(t.numpy(), expect), why


@pytest.mark.skipif(not zeroin._tensor.FAST, reason="a trick of the fast path (ZEROIN_FAST=0)")
def test_sgds_blas_update_takes_only_large_contiguous_same_dtype_pairs():
    # T19: axpy updates w in place and says so, or leaves w untouched and returns False
    from zeroin import _fast
    rng = np.random.default_rng(19)
    n = _fast._AXPY_MIN
    w, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
    if _fast._AXPY is None:
        _fast._AXPY = _fast._load_axpy()
    if np.dtype(np.float32) not in _fast._AXPY:
        assert not _fast.axpy(w.copy(), -0.5, g)        # no such BLAS: NumPy does it
        pytest.skip("NumPy's BLAS here has no scipy_cblas_saxpy64_")
    big = w.copy()
    assert _fast.axpy(big, -0.5, g) and np.array_equal(big, w - np.float32(0.5) * g)
    refused = {
        "too small": (w[:n - 1].copy(), g[:n - 1]),
        "float64 gradient": (w.copy(), g.astype(np.float64)),
        "float16": (w.astype(np.float16), g.astype(np.float16)),
        "another shape": (w.copy(), g.reshape(2, -1)),
        "strided": (np.repeat(w, 2)[::2], g),
        "read-only": (np.frombuffer(w.tobytes(), np.float32), g),
        "a subclass": (w.copy().view(np.matrix)[0], g.reshape(1, -1)),
    }
    for why, (a, b) in refused.items():
        before = a.copy()
        assert not _fast.axpy(a, -0.5, b), why
        assert np.array_equal(a, before), why
    same = w.copy()
    assert not _fast.axpy(same, -0.5, same)             # g is w: overlapping memory
    assert not _fast.axpy(w.copy(), 0.0, g)             # alpha 0: BLAS would skip a NaN
