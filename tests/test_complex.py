"""Complex tensors against PyTorch: dtypes, values and gradients (PyTorch's convention,
z.grad = dL/dRe + i dL/dIm, checked against torch AND complex finite differences), the
parts (real, imag, conj, complex, polar, angle, sgn, view_as_real/complex, .H, vdot), and
the ops PyTorch refuses on complex (same exception type)."""
import warnings

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
Z = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))     # complex128
W = RNG.standard_normal((2, 3)) + 1j * RNG.standard_normal((2, 3))     # a fixed weight
X = RNG.standard_normal((2, 3))


def fd_grad(f, z, eps=1e-6):
    """PyTorch's complex gradient of the real scalar f(z) by central differences:
    dL/dRe + i dL/dIm, each part perturbed separately (real z: dL/dz)."""
    z = np.array(z)
    g = np.zeros(z.shape, z.dtype)
    for j in np.ndindex(z.shape):
        for step, unit in ((eps, 1), (1j * eps, 1j)) if z.dtype.kind == "c" else ((eps, 1),):
            zp, zm = z.copy(), z.copy()
            zp[j] += step
            zm[j] -= step
            g[j] += unit * (f(zp) - f(zm)) / (2 * eps)
    return g


def both_grads(fn, *arrays):
    """fn(T, *tensors) -> a real scalar, on zeroin and torch: (values, grads) of each."""
    out = {}
    for T in (zeroin, torch):
        ts = [T.tensor(a, requires_grad=True) for a in arrays]
        loss = fn(T, *ts)
        loss.backward()
        out[T.__name__] = (float(loss.detach().numpy()),
                           [None if t.grad is None else
                            np.asarray(t.grad.detach().resolve_conj().numpy()) for t in ts])
    return out["zeroin"], out["torch"]


def check(fn, *arrays, fd=True):
    (vz, gz), (vt, gt) = both_grads(fn, *arrays)
    np.testing.assert_allclose(vz, vt, rtol=1e-10, atol=1e-12)
    for i, (a, b) in enumerate(zip(gz, gt)):
        assert (a is None) == (b is None)
        if a is None:
            continue
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        if fd:
            def f(v, i=i):
                args = [zeroin.tensor(x) for x in arrays]
                args[i] = zeroin.tensor(v)
                return float(fn(zeroin, *args).numpy())
            np.testing.assert_allclose(a, fd_grad(f, arrays[i]), rtol=1e-5, atol=1e-6)


def loss(T, y):
    """A real loss that reads both parts of a complex y."""
    w = T.tensor(W[..., :y.shape[-1]] if y.ndim == 2 and y.shape == W.shape else
                 np.ones(tuple(y.shape)) * (0.3 - 0.7j))
    return (y * w).real.sum() + (y.abs() ** 2).sum() * 0.1


UNARY = ["exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "sigmoid",
         "reciprocal", "rsqrt", "square", "log1p", "expm1", "neg", "asin", "acos", "atan",
         "asinh", "acosh", "atanh", "log2", "log10", "exp2", "sinc"]


@pytest.mark.parametrize("name", UNARY)
def test_holomorphic_unary_ops_give_torch_values_and_gradients(name):
    check(lambda T, z: loss(T, getattr(T, name)(z)), Z)


@pytest.mark.parametrize("expr", [
    lambda T, a, b: a + b, lambda T, a, b: a - b, lambda T, a, b: a * b,
    lambda T, a, b: a / b, lambda T, a, b: a ** b, lambda T, a, b: a ** 2,
    lambda T, a, b: 2.5 ** a, lambda T, a, b: a * (1 + 2j), lambda T, a, b: (1 - 1j) / a,
    lambda T, a, b: a @ b.T, lambda T, a, b: T.matmul(a, b.T.conj().resolve_conj()),
    lambda T, a, b: T.where(T.tensor([[True, False, True]] * 2), a, b),
])
def test_binary_ops_of_two_complex_tensors(expr):
    check(lambda T, a, b: loss(T, expr(T, a, b)), Z, W)


@pytest.mark.parametrize("expr", [
    lambda T, x, z: x * z, lambda T, x, z: z / x, lambda T, x, z: x + z,
    lambda T, x, z: x.to(z.dtype) @ z.T, lambda T, x, z: x * (2 - 3j), lambda T, x, z: x.to(z.dtype),
])
def test_real_tensor_meeting_complex_gets_the_real_part_of_the_gradient(expr):
    """torch: a real input's gradient is the real part (no ComplexWarning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(lambda T, x, z: loss(T, expr(T, x, z)), X, Z)


@pytest.mark.parametrize("expr", [
    lambda T, z: z.sum(), lambda T, z: z.mean(0), lambda T, z: z.prod(1),
    lambda T, z: z.cumsum(1), lambda T, z: z.reshape(3, 2), lambda T, z: z.T,
    lambda T, z: z[1:, ::2], lambda T, z: z[[1, 0, 1]], lambda T, z: T.cat([z, z * 2], 1),
    lambda T, z: T.stack([z, z], 0), lambda T, z: z.flip(0), lambda T, z: z.unsqueeze(0),
    lambda T, z: T.outer(z[0], z[1]), lambda T, z: T.dot(z[0], z[1]),
    lambda T, z: T.trace(z[:, :2]), lambda T, z: T.diag(z[0]),
])
def test_reductions_shapes_and_indexing(expr):
    check(lambda T, z: loss(T, expr(T, z)), Z)


@pytest.mark.parametrize("expr", [
    lambda T, z: z.abs().sum(), lambda T, z: z.exp().abs().sum(),
    lambda T, z: z.real.sum() * 2 + (z.imag ** 2).sum(),
    lambda T, z: (z.conj() * T.tensor(W)).real.sum(), lambda T, z: T.angle(z).sum(),
    lambda T, z: z.angle().sin().sum(), lambda T, z: loss(T, T.sgn(z)),
    lambda T, z: T.view_as_real(z).pow(3).sum(), lambda T, z: loss(T, z.H),
    lambda T, z: loss(T, z.mH), lambda T, z: loss(T, T.adjoint(z)),
    lambda T, z: loss(T, z.conj_physical()), lambda T, z: loss(T, z.resolve_conj()),
    lambda T, z: T.vdot(z[0], z[1]).real + T.vdot(z[1], z[0]).imag,
    lambda T, z: (z * z).real.sum(),
])
def test_non_holomorphic_ops(expr):
    check(expr, Z)


def test_complex_and_polar_and_view_as_complex_from_real_tensors():
    check(lambda T, a, b: loss(T, T.complex(a, b)), X, X[::-1].copy())
    check(lambda T, r, t: loss(T, T.polar(r, t)), np.abs(X) + 0.5, X)
    check(lambda T, x: loss(T, T.view_as_complex(x)), RNG.standard_normal((3, 2)))


def test_angle_of_real_tensors_is_pi_or_zero_with_zero_gradient():
    x = [-1.0, 0.0, 2.0, np.nan, np.inf, -np.inf]
    a = zeroin.tensor(x, requires_grad=True)
    b = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    ya, yb = zeroin.angle(a), torch.angle(b)
    np.testing.assert_array_equal(ya.data, yb.detach().numpy())
    ya.sum().backward()
    yb.sum().backward()
    np.testing.assert_array_equal(a.grad.data, b.grad.numpy())


def test_sgn_is_zero_at_zero_with_zero_gradient():
    z = np.array([0j, 3 + 4j])
    check(lambda T, z: (T.sgn(z) * T.tensor([1 + 2j, 1 - 1j])).real.sum(), z, fd=False)


def test_complex_literals_take_the_default_float_dtypes_width():
    assert zeroin.tensor([1 + 2j]).dtype == np.complex128      # zeroin's float64 default
    old = zeroin.get_default_dtype()
    try:
        zeroin.set_default_dtype(zeroin.float32)
        for a, b in ((zeroin.tensor([1 + 2j]), torch.tensor([1 + 2j])),
                     (zeroin.tensor(1j), torch.tensor(1j)),
                     (zeroin.ones(2) * 1j, torch.ones(2) * 1j),
                     (zeroin.complex(zeroin.ones(1), zeroin.ones(1)),
                      torch.complex(torch.ones(1), torch.ones(1))),
                     (zeroin.tensor([1 + 2j]).abs(), torch.tensor([1 + 2j]).abs()),
                     (zeroin.tensor([1 + 2j]).real, torch.tensor([1 + 2j]).real)):
            assert str(a.dtype) == str(b.dtype).replace("torch.", "")
    finally:
        zeroin.set_default_dtype(old)


def test_backward_from_a_complex_output_needs_a_gradient_as_in_torch():
    for T in (zeroin, torch):
        z = T.tensor([1 + 2j], requires_grad=True)
        with pytest.raises(RuntimeError, match="real scalar outputs"):
            (z * z).sum().backward()
    z = zeroin.tensor([1 + 2j], requires_grad=True)
    (z * z).sum().backward(zeroin.tensor(1 + 0j))
    np.testing.assert_allclose(z.grad.data, [2 - 4j])       # torch: conj(2z)


def test_create_graph_second_derivative_matches_torch():
    res = {}
    for T in (zeroin, torch):
        z = T.tensor(Z, requires_grad=True)
        (g,) = T.autograd.grad(loss(T, (z * z).exp()), z, create_graph=True)
        (g2,) = T.autograd.grad((g * T.tensor(W)).real.sum(), z)
        res[T.__name__] = np.asarray(g2.detach().numpy())
    np.testing.assert_allclose(res["zeroin"], res["torch"], rtol=1e-8)


def test_gradcheck_and_gradgradcheck_take_complex_inputs():
    z = zeroin.tensor(Z, requires_grad=True)
    assert zeroin.gradcheck(lambda z: (z * z).exp() * 0.1, (z,))
    assert zeroin.gradcheck(lambda z: z.abs() + z.angle(), (z,))
    assert zeroin.gradgradcheck(lambda z: z * z * z, (z,))
    x = zeroin.tensor(X, requires_grad=True)
    assert zeroin.gradcheck(lambda x, z: x * z, (x, z))
    with pytest.raises(zeroin.GradcheckError):
        zeroin.gradcheck(lambda z: _wrong_conj(z), (z,))


class _NoConj(zeroin.autograd.Function):
    """z * z with a gradient missing PyTorch's conjugate: gradcheck must catch it."""
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return z * z

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        return g * 2 * z


def _wrong_conj(z):
    return _NoConj.apply(z)


def test_real_and_imag_can_be_assigned_as_in_torch():
    for T in (zeroin, torch):
        z = T.tensor([1 + 2j, 3 - 1j])
        z.real = T.tensor([5.0, 6.0])
        z.imag = T.tensor([0.5, 0.25])
        assert np.allclose(z.numpy(), [5 + 0.5j, 6 + 0.25j])
        with pytest.raises(RuntimeError):
            T.tensor([1.0]).imag


@pytest.mark.parametrize("call", [
    lambda T, z: T.view_as_real(z.real), lambda T, z: T.view_as_complex(T.ones(3)),
    lambda T, z: T.view_as_complex(T.ones(3, 2, dtype=T.int64)),
    lambda T, z: T.complex(T.ones(2, dtype=T.float32), T.ones(2, dtype=T.float64)),
    lambda T, z: T.complex(T.ones(2, dtype=T.int64), T.ones(2, dtype=T.int64)),
    lambda T, z: T.vdot(z, z), lambda T, z: z[0].mH, lambda T, z: z[0].H,
    lambda T, z: T.adjoint(z[0]),
])
def test_bad_inputs_raise_torch_exception_types(call):
    errors = []
    for T in (zeroin, torch):
        with pytest.raises(Exception) as e:
            call(T, T.tensor(Z))
        errors.append(type(e.value))
    assert issubclass(errors[0], errors[1]) or errors[0] is errors[1], errors


F_REFUSED = ["relu", "relu6", "gelu", "leaky_relu", "hardtanh", "elu", "selu", "celu", "mish",
             "softplus", "hardshrink", "softshrink", "hardsigmoid", "hardswish", "logsigmoid",
             "softmax", "log_softmax", "softmin", "glu", "threshold", "rrelu", "prelu",
             "mse_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy", "layer_norm",
             "kl_div"]


def _refusal_calls():
    from zeroin._complex import REFUSED
    two = {"lt", "le", "gt", "ge", "less", "less_equal", "greater", "greater_equal",
           "maximum", "minimum", "fmax", "fmin", "fmod", "remainder", "floor_divide", "atan2",
           "arctan2", "copysign", "xlogy", "heaviside"}
    for name in sorted(REFUSED):
        if name.startswith("__") or name.endswith("_") or name in F_REFUSED:
            continue        # operators and in-place forms: below; F's: further below
        if name in two:
            yield name, lambda T, z, n=name: getattr(T, n)(z, z)
        elif name in ("clamp", "clip", "clamp_min", "clamp_max"):
            yield name, lambda T, z, n=name: getattr(T, n)(z, 0)
        elif name in ("softmax", "log_softmax", "cummax", "cummin"):
            yield name, lambda T, z, n=name: getattr(T, n)(z, 0)
        elif name == "bucketize":
            yield name, lambda T, z: T.bucketize(z, z[0])
        elif name in ("topk", "kthvalue"):
            yield name, lambda T, z, n=name: getattr(T, n)(z, 1)
        else:
            yield name, lambda T, z, n=name: getattr(T, n)(z)


@pytest.mark.parametrize("name,call", list(_refusal_calls()))
def test_ops_torch_refuses_on_complex_refuse_with_its_exception_type(name, call):
    z = zeroin.tensor(Z)
    if not hasattr(torch, name) or not hasattr(zeroin, name):
        pytest.skip(f"{name} is not in both")
    with pytest.raises(Exception) as et:
        call(torch, torch.tensor(Z))
    with pytest.raises(et.type, match="complex"):
        call(zeroin, z)
    with np.errstate(all="ignore"):                 # real: still works (logit of < 0)
        call(zeroin, z.real)


@pytest.mark.parametrize("name", ["relu", "softmax", "log_softmax"])
def test_top_level_activations_refuse_complex_too(name):
    with pytest.raises(Exception) as et:
        _f_call(torch, name, torch.tensor(Z))
    with pytest.raises(et.type, match="complex"):
        _f_call(zeroin, name, zeroin.tensor(Z))


@pytest.mark.parametrize("method", ["__lt__", "__le__", "__gt__", "__ge__", "relu", "max",
                                    "argmax", "sort", "floor", "sign"])
def test_tensor_methods_refuse_complex_too(method):
    with pytest.raises(Exception) as et:
        getattr(torch.tensor(Z), method)(*([torch.tensor(Z)] if method[:2] == "__" else []))
    with pytest.raises(et.type, match="complex"):
        getattr(zeroin.tensor(Z), method)(*([zeroin.tensor(Z)] if method[:2] == "__" else []))


def test_is_conj_is_false_and_conj_of_real_is_itself():
    x = zeroin.tensor([1.0, 2.0])
    assert x.conj() is x and x.resolve_conj() is x and not zeroin.tensor([1j]).conj().is_conj()


@pytest.mark.parametrize("expr", [
    lambda T, z: z.var(), lambda T, z: z.var(1), lambda T, z: z.std(0),
    lambda T, z: z.norm(), lambda T, z: T.linalg.norm(z), lambda T, z: T.linalg.vector_norm(z, 1),
    lambda T, z: T.dist(z, z * 2), lambda T, z: T.logsumexp(z, 1),
    lambda T, z: T.lerp(z, z * 1j, 0.3), lambda T, z: T.diff(z),
    lambda T, z: T.kron(z[:2, :2], z[:, 1:]), lambda T, z: T.inner(z, z),
    lambda T, z: T.cross(z, z.flip(0), dim=1), lambda T, z: T.cumprod(z, 1),
    lambda T, z: T.einsum("ij,kj->ik", z, z), lambda T, z: T.tensordot(z, z, ([1], [1])),
    lambda T, z: z.gather(1, T.tensor([[0, 1], [2, 1]])),
    lambda T, z: z.masked_fill(T.tensor([[True, False, True]] * 2), 0),
    lambda T, z: T.nn.functional.pad(z, (1, 1)), lambda T, z: T.nn.functional.linear(z, z),
    lambda T, z: T.addcmul(z, z, z, value=0.5), lambda T, z: T.trapezoid(z),
    lambda T, z: T.diag_embed(z), lambda T, z: T.mv(z.T, z[:, 0]), lambda T, z: z.roll(1, 1),
    lambda T, z: z.repeat(2, 1), lambda T, z: z[0].expand(3, 3), lambda T, z: z.split(2, 1)[1],
])
def test_more_ops_give_torch_values_dtypes_and_gradients(expr):
    def real_loss(T, z):
        y = expr(T, z)
        return loss(T, y) if y.is_complex() else (y * 0.7).sum()
    check(real_loss, Z)


def test_linear_algebra_not_yet_complex_is_refused_clearly():
    with pytest.raises(zeroin.DtypeError, match="complex"):
        zeroin.linalg.ldl_factor(zeroin.tensor(Z[:, :2]))


def _f_call(F, name, z):
    if name == "prelu":
        return F.prelu(z, z.real[0, :1])
    if name == "threshold":
        return F.threshold(z, 0.0, 0.0)
    if name in ("softmax", "log_softmax", "softmin"):
        return getattr(F, name)(z, dim=0)
    if name == "kl_div":
        return F.kl_div(z, z, reduction="sum")
    if name.endswith("loss") or name == "binary_cross_entropy":
        return getattr(F, name)(z, z)
    if name == "layer_norm":
        return F.layer_norm(z, (3,))
    return getattr(F, name)(z)


@pytest.mark.parametrize("name", F_REFUSED)
def test_functional_activations_and_losses_torch_refuses_on_complex_refuse(name):
    import zeroin.nn.functional as F
    with pytest.raises(Exception) as et:
        _f_call(torch.nn.functional, name, torch.tensor(Z))
    with pytest.raises(et.type, match="complex"):
        _f_call(F, name, zeroin.tensor(Z))


@pytest.mark.parametrize("name", ["silu", "softsign", "tanhshrink", "sigmoid", "tanh"])
def test_functional_activations_on_complex_give_torch_values_and_gradients(name):
    import zeroin.nn.functional as F     # noqa: F401  (zeroin.nn loads on first use)
    if name == "silu":      # PyTorch computes it but refuses its gradient
        np.testing.assert_allclose(zeroin.nn.functional.silu(zeroin.tensor(Z)).data,
                                   torch.nn.functional.silu(torch.tensor(Z)).numpy())
        return
    check(lambda T, z: loss(T, getattr(T.nn.functional, name)(z)), Z)


# --- training with complex parameters ---------------------------------------------------------

OPTIMISERS = [
    ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.1)), ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1)),
    ("AdamW", dict(lr=0.1)), ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict()), ("Adamax", dict(lr=0.1)), ("NAdam", dict(lr=0.1)),
    ("RAdam", dict(lr=0.1)), ("ASGD", dict(lr=0.1)), ("Rprop", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, maximize=True)), ("LBFGS", dict(lr=0.1)),
]


def _optimise(T, name, kw, steps=4):
    p = T.nn.Parameter(T.tensor(Z.copy()))
    q = T.nn.Parameter(T.tensor(X.copy()))          # a real one beside it
    opt = getattr(T.optim, name)([p, q], **kw)

    def closure():
        opt.zero_grad()
        y = (p * T.tensor(W)).real.sum() + (p.abs() ** 2).sum() * 0.3 + (p.abs() ** 3).sum() \
            * 0.1 + (q * p.imag).sum() + (q ** 2).sum()
        y.backward()
        return y
    for _ in range(steps):
        opt.step(closure)
    return p.detach().numpy(), q.detach().numpy(), opt


@pytest.mark.parametrize("name,kw", OPTIMISERS)
def test_optimisers_step_complex_parameters_as_torch(name, kw):
    """PyTorch steps a complex parameter as its view_as_real pairs (Adam's second moment is
    Re(g)^2 and Im(g)^2): four steps' values match, and the state stays complex."""
    pz, qz, opt = _optimise(zeroin, name, kw)
    pt, qt, _ = _optimise(torch, name, kw)
    np.testing.assert_allclose(pz, pt, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(qz, qt, rtol=1e-9, atol=1e-12)
    assert pz.dtype == np.complex128 and not np.allclose(pz.imag, Z.imag)
    for v in opt.state[opt.param_groups[0]["params"][0]].values():
        if isinstance(v, np.ndarray) and v.shape == Z.shape:
            assert v.dtype == np.complex128


@pytest.mark.parametrize("name", ["Adafactor", "Muon"])
def test_optimisers_torch_refuses_on_complex_refuse(name):
    p = torch.nn.Parameter(torch.tensor(Z))
    p.abs().sum().backward()
    with pytest.raises(RuntimeError, match="complex"):
        getattr(torch.optim, name)([p]).step()
    with pytest.raises(RuntimeError, match="does not support complex"):
        getattr(zeroin.optim, name)([zeroin.nn.Parameter(zeroin.tensor(Z))])


def test_parameter_keeps_a_complex_dtype_and_linear_takes_one():
    p = zeroin.nn.Parameter(zeroin.tensor(Z))
    assert p.dtype == np.complex128 and np.array_equal(p.data, Z)      # not cast to real
    for T in (zeroin, torch):
        lin = T.nn.Linear(3, 2, dtype=T.complex64)
        assert str(lin.weight.dtype).endswith("complex64") and lin.bias.dtype == lin.weight.dtype
        w = lin.weight.detach().numpy()
        assert np.abs(w.real).max() <= 3 ** -0.5 and np.abs(w.imag).max() <= 3 ** -0.5
        assert np.abs(w.imag).max() > 0
    lin = zeroin.nn.Linear(3, 2, dtype=zeroin.complex64)
    y = lin(zeroin.tensor(Z.astype(np.complex64)))
    assert y.dtype == np.complex64
    y.abs().sum().backward()
    assert lin.weight.grad.dtype == np.complex64
    with pytest.raises(TypeError, match="complex"):
        zeroin.nn.Conv1d(1, 1, 3, dtype=zeroin.complex64)


def test_a_complex_model_loads_its_own_state_dict():
    lin = zeroin.nn.Linear(3, 2, dtype=zeroin.complex64)
    other = zeroin.nn.Linear(3, 2, dtype=zeroin.complex64)
    other.load_state_dict(lin.state_dict())         # was refused: "expected numbers"
    assert other.weight.dtype == np.complex64
    assert np.array_equal(other.weight.data, lin.weight.data)
    assert np.array_equal(other.bias.data, lin.bias.data)
    t_lin = torch.nn.Linear(3, 2, dtype=torch.complex64)     # as PyTorch's round trip
    assert not t_lin.load_state_dict(torch.nn.Linear(3, 2, dtype=torch.complex64).state_dict()
                                     ).missing_keys
    with pytest.raises(TypeError, match="imaginary part"):  # PyTorch warns and drops it
        zeroin.nn.Linear(3, 2).load_state_dict(lin.state_dict())


@pytest.mark.parametrize("name,args", [
    ("normal_", (1.0, 2.0)), ("uniform_", (-1.0, 3.0)), ("xavier_uniform_", ()),
    ("xavier_normal_", ()), ("kaiming_uniform_", ()), ("kaiming_normal_", ()),
    ("zeros_", ()), ("ones_", ()), ("constant_", (0.5,)), ("eye_", ()),
])
def test_init_fills_complex_tensors_as_torch(name, args):
    """Both parts drawn (normal: each part N(mean, std^2 / 2)): moments compared with
    torch's on a large tensor (the random streams differ)."""
    zeroin.manual_seed(0)
    torch.manual_seed(0)
    z = getattr(zeroin.nn.init, name)(zeroin.empty(300, 400, dtype=zeroin.complex128), *args)
    t = getattr(torch.nn.init, name)(torch.empty(300, 400, dtype=torch.complex128), *args)
    assert z.dtype == np.complex128
    a, b = z.numpy(), t.numpy()
    for part in (np.real, np.imag):
        np.testing.assert_allclose(part(a).mean(), part(b).mean(), atol=0.02)
        np.testing.assert_allclose(part(a).std(), part(b).std(), rtol=0.02, atol=1e-12)
        np.testing.assert_allclose(part(a).min(), part(b).min(), rtol=0.2, atol=1e-12)


@pytest.mark.parametrize("name", ["trunc_normal_", "orthogonal_"])
def test_init_torch_refuses_on_complex_refuses(name):
    with pytest.raises(NotImplementedError):
        getattr(torch.nn.init, name)(torch.empty(3, 3, dtype=torch.complex64))
    with pytest.raises(NotImplementedError, match="complex"):
        getattr(zeroin.nn.init, name)(zeroin.empty(3, 3, dtype=zeroin.complex64))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_l1_loss_of_complex_is_the_modulus_as_torch(reduction):
    check(lambda T, a, b: (T.nn.functional.l1_loss(a, b, reduction=reduction)
                           * (T.tensor(X) if reduction == "none" else 1)).sum(), Z, W)
    y = zeroin.nn.functional.l1_loss(zeroin.tensor(Z.astype(np.complex64)),
                                     zeroin.tensor(W.astype(np.complex64)))
    assert y.dtype == np.float32


def test_complex_casts_compare_save_and_print_as_torch():
    for T in (zeroin, torch):
        x = T.tensor(X, requires_grad=True)
        y = x.cfloat()
        assert str(y.dtype).endswith("complex64") and str(x.cdouble().dtype).endswith("128")
        (y * T.tensor((1 - 2j) * np.ones(X.shape), dtype=T.complex64)).real.sum().backward()
        np.testing.assert_allclose(np.asarray(x.grad.numpy()), np.ones(X.shape))
    za, ta = zeroin.tensor(Z), torch.tensor(Z)
    for other in (Z + 1e-9j, Z * 1.01, Z + 1e-6):
        np.testing.assert_array_equal(zeroin.isclose(za, zeroin.tensor(other)).numpy(),
                                      torch.isclose(ta, torch.tensor(other)).numpy())
        assert zeroin.allclose(za, zeroin.tensor(other)) == torch.allclose(ta,
                                                                          torch.tensor(other))
    zeroin.testing.assert_close(za, zeroin.tensor(Z + 1e-9j))
    with pytest.raises(AssertionError):
        zeroin.testing.assert_close(za, zeroin.tensor(Z + 1e-3j))
    # printing: the default dtype's complex (complex128 under float64) prints no dtype
    assert "dtype" not in repr(za) and "dtype=complex64" in repr(za.cfloat())
    assert "j" in repr(za)


def test_save_load_and_safetensors_keep_complex(tmp_path):
    z = zeroin.tensor(Z.astype(np.complex64))
    zeroin.save({"z": z}, tmp_path / "a.pt")
    back = zeroin.load(tmp_path / "a.pt")["z"]
    assert back.dtype == np.complex64 and np.array_equal(back.numpy(), z.numpy())
    from safetensors.torch import load_file
    import zeroin.safetensors as zs
    zs.save_file({"z": z}, tmp_path / "z.safetensors")        # PyTorch's C64
    np.testing.assert_array_equal(load_file(tmp_path / "z.safetensors")["z"].numpy(), z.numpy())
    with pytest.raises(zs.SafetensorError, match="complex128"):
        zs.save_file({"z": zeroin.tensor(Z)}, tmp_path / "c128.safetensors")


@pytest.mark.parametrize("expr", [lambda x: x * 1j, lambda x: 1j * x, lambda x: x + 1j,
                                  lambda x: 1j - x, lambda x: x.double() * 1j,
                                  lambda x: x.cfloat() * (2 + 1j)])
def test_a_complex_number_keeps_a_0d_float_tensors_width_as_torch(expr):
    z, t = expr(zeroin.tensor(np.float32(1.5))), expr(torch.tensor(1.5))
    assert str(z.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_allclose(z.numpy(), t.numpy())


def test_cdist_refuses_complex_as_torch():
    with pytest.raises(RuntimeError):
        torch.cdist(torch.tensor(Z), torch.tensor(W))
    with pytest.raises(RuntimeError, match="complex128"):
        zeroin.cdist(zeroin.tensor(Z), zeroin.tensor(W))


def test_gradient_clipping_and_optimiser_state_of_complex_parameters(tmp_path):
    norms = {}
    for T in (zeroin, torch):
        p, q = T.nn.Parameter(T.tensor(Z)), T.nn.Parameter(T.tensor(X))
        ((p * p).abs().sum() + (q * p.real).sum()).backward()
        n = T.nn.utils.clip_grad_norm_([p, q], 1.0)
        norms[T.__name__] = (str(n.dtype).replace("torch.", ""), float(n), p.grad.numpy().copy())
        with pytest.raises(NotImplementedError, match="clamp"):
            T.nn.utils.clip_grad_value_([p], 0.5)
    assert norms["zeroin"][:1] == norms["torch"][:1] == ("float64",)
    np.testing.assert_allclose(norms["zeroin"][1], norms["torch"][1])
    np.testing.assert_allclose(norms["zeroin"][2], norms["torch"][2])
    # an optimiser's complex state survives save / load and the next step matches torch's
    out = {}
    for T in (zeroin, torch):
        p = T.nn.Parameter(T.tensor(Z))
        opt = T.optim.Adam([p], lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            (p.abs() ** 3).sum().backward()
            opt.step()
        T.save(opt.state_dict(), tmp_path / f"{T.__name__}.pt")
        opt = T.optim.Adam([p], lr=0.1)
        opt.load_state_dict(T.load(tmp_path / f"{T.__name__}.pt"))
        opt.zero_grad()
        (p.abs() ** 3).sum().backward()
        opt.step()
        out[T.__name__] = p.detach().numpy()
    np.testing.assert_allclose(out["zeroin"], out["torch"], rtol=1e-10)


@pytest.mark.parametrize("fn", ["randn", "rand"])
def test_random_complex_tensors_draw_both_parts_as_torch(fn):
    """randn: each part N(0, 1/2) (E|z|^2 = 1); rand: each part U[0, 1)."""
    z = getattr(zeroin, fn)(200, 300, dtype=zeroin.complex64).numpy()
    t = getattr(torch, fn)(200, 300, dtype=torch.complex64).numpy()
    assert z.dtype == t.dtype == np.complex64
    for part in (np.real, np.imag):
        np.testing.assert_allclose(part(z).std(), part(t).std(), rtol=0.03)
        np.testing.assert_allclose(part(z).mean(), part(t).mean(), atol=0.02)
    assert getattr(zeroin, fn + "_like")(zeroin.tensor(Z)).dtype == np.complex128
