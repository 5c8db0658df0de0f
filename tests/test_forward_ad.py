"""zeroin.autograd.forward_ad (dual tensors, tangents by the double-vjp trick): tangents
against torch's forward AD and central finite differences, on a table of functions;
levels, errors and reverse mode through a dual, side by side with torch."""
import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

X = np.array([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4]])
V = np.array([[1.0, 0.5, -2.0], [0.25, -1.0, 3.0]])
Y = np.array([[0.9, 0.1, -0.6], [-0.3, 1.1, 0.4]])
W = np.array([[0.5, -1.0], [2.0, 0.25], [-0.7, 1.3]])


def functional(T):
    return zeroin.nn.functional if T is zeroin else torch.nn.functional


FUNCTIONS = {
    "sin*2": lambda T, x: x.sin() * 2,
    "exp": lambda T, x: x.exp(),
    "sum of squares": lambda T, x: (x * x).sum(),
    "matmul": lambda T, x: x @ T.tensor(W),
    "softmax": lambda T, x: functional(T).softmax(x, dim=-1),
    "log_softmax": lambda T, x: functional(T).log_softmax(x, dim=0),
    "tanh pow": lambda T, x: x.tanh().pow(3),
    "where": lambda T, x: T.where(x > 0, x, x * 0.1),
    "relu": lambda T, x: functional(T).relu(x),
    "mean": lambda T, x: x.mean(0),
    "cat": lambda T, x: T.cat([x, x * 2]),
    "index": lambda T, x: x[0, 1:],
    "reshape T": lambda T, x: x.reshape(3, 2).T,
    "softsign": lambda T, x: x / (1 + x.abs()),
    "sigmoid": lambda T, x: T.sigmoid(x),
    "norm": lambda T, x: T.linalg.norm(x),
}


def tangent_of(T, f, x, v):
    fwAD = T.autograd.forward_ad
    with fwAD.dual_level():
        d = fwAD.make_dual(T.tensor(x), T.tensor(v))
        out = fwAD.unpack_dual(f(T, d))
    return out.primal.detach().numpy().copy(), out.tangent.detach().numpy().copy()


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tangents_match_torch_and_finite_differences(name):
    f = FUNCTIONS[name]
    zp, zt = tangent_of(zeroin, f, X, V)
    tp, tt = tangent_of(torch, f, X, V)
    np.testing.assert_allclose(zp, tp, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(zt, tt, rtol=1e-10, atol=1e-12)
    eps = 1e-6
    plus = f(zeroin, zeroin.tensor(X + eps * V)).numpy()
    minus = f(zeroin, zeroin.tensor(X - eps * V)).numpy()
    np.testing.assert_allclose(zt, (plus - minus) / (2 * eps), rtol=1e-6, atol=1e-7)


def two_duals(T):
    fwAD = T.autograd.forward_ad
    w = T.tensor(W, requires_grad=True)
    with fwAD.dual_level():
        x = fwAD.make_dual(T.tensor(X), T.tensor(V))
        y = fwAD.make_dual(T.tensor(Y), T.tensor(-V))
        out = (x * y + y.exp()) @ w
        p, t = fwAD.unpack_dual(out)
        loss = p.sum()
    loss.backward()                     # reverse mode through the primal, to w
    g = w.grad.numpy().copy()
    (gt,) = T.autograd.grad(t.sum(), w)  # reverse over forward: the tangent's gradient
    return p.detach().numpy(), t.detach().numpy(), g, gt.numpy(), p.requires_grad, \
        t.requires_grad


def test_two_duals_and_reverse_mode_through_the_primal_as_torch():
    z, t = two_duals(zeroin), two_duals(torch)
    for a, b in zip(z[:4], t[:4]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert z[4:] == t[4:] == (True, True)


def levels_and_errors(T):
    fwAD = T.autograd.forward_ad
    x, v = T.tensor([1.0, 2.0]), T.tensor([1.0, 0.0])
    out = []
    for call in (lambda: fwAD.make_dual(x, v),):
        with pytest.raises(RuntimeError) as e:
            call()
        out.append(e.type)
    with fwAD.dual_level() as level:
        out.append(level)
        for call in (lambda: fwAD.make_dual(x, T.ones(3)),
                     lambda: fwAD.make_dual(T.tensor([1, 2]), T.tensor([1, 2]))):
            with pytest.raises(Exception) as e:
                call()
            out.append(e.type)
        with pytest.raises(RuntimeError, match="Nested"):
            fwAD.enter_dual_level()
        d = fwAD.make_dual(x, v)
        out.append(fwAD.unpack_dual(d).tangent is v)
        out.append(fwAD.unpack_dual(x).tangent is None)
        out.append(fwAD.unpack_dual(d > 1).tangent is None)
        out.append(fwAD.unpack_dual(d.argmax()).tangent is None)
        out.append(fwAD.unpack_dual(d.round()).tangent.tolist())
        p = fwAD.unpack_dual(d * 3).primal
        out.append((p.requires_grad, fwAD.unpack_dual(p).tangent is None))
    out.append(fwAD.unpack_dual(d).tangent is None)
    level = fwAD.enter_dual_level()
    fwAD.exit_dual_level(level=level)
    u = fwAD.unpack_dual(x)
    out.append((isinstance(u, tuple), u._fields, type(u).__name__))
    return out


def test_levels_and_errors_match_torch():
    assert levels_and_errors(zeroin) == levels_and_errors(torch)
