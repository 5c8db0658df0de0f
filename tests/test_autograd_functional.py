"""zeroin.autograd.functional against torch.autograd.functional: values, structure, errors."""
import subprocess
import sys

import numpy as np
import pytest

import zeroin
import zeroin.autograd.functional as ZF

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(0)
X = RNG.uniform(-1, 1, (3,))
Y = RNG.uniform(-1, 1, (2, 3))


def zt(*arrays):
    return tuple(zeroin.tensor(a) for a in arrays)


def tt(*arrays):
    return tuple(torch.tensor(a) for a in arrays)


def same(z, t, rtol=1e-10, atol=1e-12):
    """Same nesting of tuples, same shapes, dtypes and values."""
    if isinstance(t, tuple):
        assert isinstance(z, tuple) and len(z) == len(t), (z, t)
        for a, b in zip(z, t):
            same(a, b, rtol, atol)
        return
    assert isinstance(z, zeroin.Tensor) and tuple(z.shape) == tuple(t.shape)
    assert str(z.dtype) == str(t.dtype).replace("torch.", "")
    assert z.requires_grad == t.requires_grad
    np.testing.assert_allclose(z.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


# each f is written with methods both libraries have, so one function runs on both
def f_vec(x):
    return (x * x).sin() * x.sum()


def f_two_in(x, y):
    return (y * x).tanh() @ x


def f_two_out(x):
    return x.exp(), (x * x).sum()


def f_both(x, y):
    return y @ x, (x * 2).sum() * y


def f_scalar(x):
    return (x ** 3).sum() + x[0] * x[1]


def f_scalar2(x, y):
    return ((y @ x) ** 2).sum() * x.exp().sum()


JAC_CASES = [(f_vec, (X,), False), (f_two_in, (X, Y), True), (f_two_out, (X,), False),
             (f_both, (X, Y), True), (lambda y: (y * y).sum(0), (Y,), False)]


@pytest.mark.parametrize("f, arrays, as_tuple", JAC_CASES)
@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_matches_torch(f, arrays, as_tuple, create_graph):
    zin, tin = zt(*arrays), tt(*arrays)
    if not as_tuple:
        zin, tin = zin[0], tin[0]
    same(ZF.jacobian(f, zin, create_graph=create_graph),
         TF.jacobian(f, tin, create_graph=create_graph))
    same(ZF.jacobian(f, zin, vectorize=True), TF.jacobian(f, tin, vectorize=True))


@pytest.mark.parametrize("f, arrays", [(f_scalar, (X,)), (f_scalar2, (X, Y))])
def test_hessian_matches_torch(f, arrays):
    zin, tin = zt(*arrays), tt(*arrays)
    if len(arrays) == 1:
        zin, tin = zin[0], tin[0]
    same(ZF.hessian(f, zin), TF.hessian(f, tin))
    same(ZF.hessian(f, zin, create_graph=True), TF.hessian(f, tin, create_graph=True))


@pytest.mark.parametrize("name", ["vjp", "jvp"])
@pytest.mark.parametrize("f, arrays, as_tuple", JAC_CASES)
def test_vjp_and_jvp_match_torch(name, f, arrays, as_tuple):
    zin, tin = zt(*arrays), tt(*arrays)
    if not as_tuple:
        zin, tin = zin[0], tin[0]
    tout = f(*(tin if as_tuple else (tin,)))
    like = tout if name == "vjp" else tin     # v is shaped as the outputs / the inputs
    tv = tuple(torch.tensor(RNG.uniform(-1, 1, tuple(o.shape))) for o in
               (like if isinstance(like, tuple) else (like,)))
    zv = tuple(zeroin.tensor(v.numpy()) for v in tv)
    if not isinstance(like, tuple):
        tv, zv = tv[0], zv[0]
    for cg in (False, True):
        same(getattr(ZF, name)(f, zin, zv, create_graph=cg),
             getattr(TF, name)(f, tin, tv, create_graph=cg))


@pytest.mark.parametrize("name", ["hvp", "vhp"])
@pytest.mark.parametrize("f, arrays", [(f_scalar, (X,)), (f_scalar2, (X, Y))])
def test_hvp_and_vhp_match_torch(name, f, arrays):
    vs = [RNG.uniform(-1, 1, a.shape) for a in arrays]
    zin, tin, zv, tv = zt(*arrays), tt(*arrays), zt(*vs), tt(*vs)
    if len(arrays) == 1:
        zin, tin, zv, tv = zin[0], tin[0], zv[0], tv[0]
    for cg in (False, True):
        same(getattr(ZF, name)(f, zin, zv, create_graph=cg),
             getattr(TF, name)(f, tin, tv, create_graph=cg))


def test_v_defaults_to_one_for_one_element_and_float32_stays():
    f = lambda x: (x * x).exp()    # noqa: E731
    a = np.array(0.5, dtype=np.float32)
    for name in ("vjp", "jvp", "hvp", "vhp"):
        g = (lambda x: f(x).sum()) if name in ("hvp", "vhp") else f
        same(getattr(ZF, name)(g, zeroin.tensor(a)), getattr(TF, name)(g, torch.tensor(a)),
             rtol=1e-6)
    same(ZF.hessian(lambda x: f(x).sum(), zeroin.tensor(a)),
         TF.hessian(lambda x: f(x).sum(), torch.tensor(a)), rtol=1e-6)


def test_create_graph_results_can_be_differentiated_again():
    zx = zeroin.tensor(X, requires_grad=True)
    tx = torch.tensor(X, requires_grad=True)
    zj = ZF.jacobian(f_vec, zx, create_graph=True)
    tj = TF.jacobian(f_vec, tx, create_graph=True)
    (zg,) = zeroin.grad((zj ** 2).sum(), zx)
    (tg,) = torch.autograd.grad((tj ** 2).sum(), tx)
    np.testing.assert_allclose(zg.numpy(), tg.numpy(), rtol=1e-10)
    _, zh = ZF.hvp(f_scalar, zx, zeroin.tensor(Y[0]), create_graph=True)
    _, th = TF.hvp(f_scalar, tx, torch.tensor(Y[0]), create_graph=True)
    zh.sum().backward()
    th.sum().backward()
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-10)


def test_without_create_graph_inputs_stay_untouched_and_results_are_detached():
    zx = zeroin.tensor(X, requires_grad=True)
    out, g = ZF.vjp(f_vec, zx, zeroin.ones(3, dtype="float64"))
    assert not out.requires_grad and not g.requires_grad and zx.grad is None
    assert ZF.jacobian(f_vec, zx).grad_fn is None


def test_unused_inputs_get_zeros_and_strict_refuses_them():
    f = lambda x, y: x * 2      # noqa: E731   linear in x, independent of y
    zin, tin = zt(X, X), tt(X, X)
    same(ZF.jacobian(f, zin), TF.jacobian(f, tin))
    same(ZF.vjp(f, zin, zeroin.tensor(X)), TF.vjp(f, tin, torch.tensor(X)))
    same(ZF.jvp(f, zin, zin), TF.jvp(f, tin, tin))
    g = lambda x, y: (x * 2).sum()      # noqa: E731
    same(ZF.hessian(g, zin), TF.hessian(g, tin))
    same(ZF.hvp(g, zin, zin), TF.hvp(g, tin, tin))
    same(ZF.vhp(g, zin, zin), TF.vhp(g, tin, tin))
    for name, args, fn in [("jacobian", (), f), ("vjp", (X,), f), ("jvp", (X, X), f),
                           ("hessian", (), g), ("hvp", (X, X), g), ("vhp", (X, X), g)]:
        with pytest.raises(RuntimeError) as t_err:
            getattr(TF, name)(fn, tin, *[tt(*args) if len(args) > 1 else tt(*args)[0]
                                         for _ in args[:1]], strict=True)
        with pytest.raises(RuntimeError) as z_err:
            getattr(ZF, name)(fn, zin, *[zt(*args) if len(args) > 1 else zt(*args)[0]
                                         for _ in args[:1]], strict=True)
        assert str(z_err.value) == str(t_err.value), name


def _errors(call):
    """(type, message) of what call(module) raises, for torch's module and zeroin's."""
    out = []
    for mod, make in ((TF, torch.tensor), (ZF, zeroin.tensor)):
        with pytest.raises(Exception) as e:
            call(mod, make)
        out.append((type(e.value), str(e.value)))
    return out


@pytest.mark.parametrize("call", [
    lambda m, T: m.vjp(f_vec, T(X)),                                 # v needed
    lambda m, T: m.jvp(f_vec, T(X)),
    lambda m, T: m.hvp(f_scalar, T(X)),
    lambda m, T: m.vjp(f_vec, T(X), T(Y)),                           # v of the wrong size
    lambda m, T: m.jvp(f_two_in, (T(X), T(Y)), (T(X), T(X))),
    lambda m, T: m.jvp(f_two_in, (T(X), T(Y)), (T(X),)),
    lambda m, T: m.vjp(f_vec, T(X), (T(X), T(X))),
    lambda m, T: m.jacobian(f_vec, [T(X)]),                          # a list, not a tuple
    lambda m, T: m.jacobian(f_vec, (T(X), X)),
    lambda m, T: m.jacobian(lambda x: [x], T(X)),
    lambda m, T: m.hessian(f_vec, T(X)),                             # not one element
    lambda m, T: m.hessian(f_two_out, T(X)),
    lambda m, T: m.hvp(f_two_out, T(X), T(X)),
    lambda m, T: m.vhp(f_vec, T(X), T(X)),
    lambda m, T: m.jacobian(f_vec, T(X), strategy="sideways"),
    lambda m, T: m.jacobian(f_vec, T(X), strict=True, vectorize=True),
    lambda m, T: m.jacobian(lambda x: T(X), T(X), strict=True),      # output has no graph
])
def test_errors_match_torch(call):
    (t_type, t_msg), (z_type, z_msg) = _errors(call)
    assert z_type is t_type
    assert z_msg == t_msg.replace("torch.Size", "zeroin.Size")


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_forward_mode_gives_torchs_values_with_vectorize():
    """``strategy="forward-mode"`` (and the Hessian's ``outer_jacobian_strategy``) with
    ``vectorize=True``, as PyTorch asks: the same Jacobians and Hessians (zeroin computes
    them in reverse mode). For a tuple of inputs PyTorch's forward mode returns lists
    where its reverse mode returns tuples; zeroin's are tuples in both."""
    def tuples(v):
        return tuple(tuples(a) for a in v) if isinstance(v, (list, tuple)) else v
    two = (X, Y[0])
    for f, z_in, t_in in ((f_vec, zeroin.tensor(X), torch.tensor(X)),
                          (f_two_out, zeroin.tensor(X), torch.tensor(X)),
                          (f_both, zt(*two), tt(*two))):
        same(ZF.jacobian(f, z_in, vectorize=True, strategy="forward-mode"),
             tuples(TF.jacobian(f, t_in, vectorize=True, strategy="forward-mode")))
    z = ZF.hessian(f_scalar, zeroin.tensor(X), vectorize=True,
                   outer_jacobian_strategy="forward-mode")
    t = TF.hessian(f_scalar, torch.tensor(X), vectorize=True,
                   outer_jacobian_strategy="forward-mode")
    np.testing.assert_allclose(z.numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kw", [{}, {"vectorize": True, "create_graph": True},
                                {"vectorize": True, "strict": True}, {"create_graph": True}])
def test_forward_mode_refusals_match_torch(kw):
    (t_type, t_msg), (z_type, z_msg) = _errors(
        lambda m, T: m.jacobian(f_vec, T(X), strategy="forward-mode", **kw))
    assert z_type is t_type and z_msg == t_msg.replace("isonly", "is only")   # torch's typo


def test_import_zeroin_does_not_load_it_and_both_spellings_reach_it():
    code = ("import sys, zeroin; assert 'zeroin.autograd.functional' not in sys.modules; "
            "import zeroin.autograd.functional as F; from zeroin.autograd import functional; "
            "assert zeroin.autograd.functional is F is functional; "
            "assert zeroin.functional is not F")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_grad_keeps_a_grad_outputs_tensor_in_the_graph():
    # the double-backward trick: with create_graph the result depends on grad_outputs
    zx, tx = zeroin.tensor(X, requires_grad=True), torch.tensor(X, requires_grad=True)
    zu, tu = zeroin.zeros(3, dtype="float64", requires_grad=True), \
        torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (zg,) = zeroin.grad(f_vec(zx), zx, zu, create_graph=True)
    (tg,) = torch.autograd.grad(f_vec(tx), tx, tu, create_graph=True)
    (zd,) = zeroin.grad(zg.sum(), zu)
    (td,) = torch.autograd.grad(tg.sum(), tu)
    np.testing.assert_allclose(zd.numpy(), td.numpy(), rtol=1e-12)
