"""zeroin._foreach_* (torch._foreach_*: EMA and optimiser code) against PyTorch: values,
in place, operands (number, list of numbers, list of tensors, tensor), gradients, errors."""
import numpy as np
import pytest

import zeroin
from zeroin._foreach import _BINARY, _UNARY

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
A = [RNG.uniform(0.2, 0.9, (2, 3)), RNG.uniform(0.2, 0.9, 4)]
B = [RNG.uniform(0.2, 0.9, (2, 3)), RNG.uniform(0.2, 0.9, 4)]


def _lists(lib, *arrays):
    return [[lib.tensor(a.copy()) for a in arr] for arr in arrays]


def _same(z, t):
    assert len(z) == len(t)
    for a, b in zip(z, t):
        np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", _UNARY)
def test_unary_and_in_place_match_torch(name):
    (za,), (ta,) = _lists(zeroin, A), _lists(torch, A)
    _same(getattr(zeroin, f"_foreach_{name}")(za), getattr(torch, f"_foreach_{name}")(ta))
    assert getattr(zeroin, f"_foreach_{name}_")(za) is za
    getattr(torch, f"_foreach_{name}_")(ta)
    _same(za, ta)


@pytest.mark.parametrize("name, kind", [
    (n, k) for n in _BINARY for k in ("number", "numbers", "tensors", "tensor")
    if not (k == "tensor" and n in ("maximum", "minimum", "clamp_min", "clamp_max"))])
def test_binary_and_in_place_match_torch(name, kind):     # of maximum, minimum, clamp_*)
    out = []
    for lib in (zeroin, torch):
        a, b = _lists(lib, A, B)
        other = {"number": 0.7, "numbers": [0.7, 1.3], "tensors": b,
                 "tensor": lib.tensor(0.6, dtype=lib.float64)}[kind]
        kw = {"alpha": 2.0} if name in ("add", "sub") and kind == "tensors" else {}
        res = getattr(lib, f"_foreach_{name}")(a, other, **kw)
        getattr(lib, f"_foreach_{name}_")(a, other, **kw)
        out.append((res, a))
    _same(out[0][0], out[1][0])
    _same(out[0][1], out[1][1])


def test_lerp_addcmul_addcdiv_copy_zero_norm_max_clone_pow_match_torch():
    out = []
    for lib in (zeroin, torch):
        a, b, c = _lists(lib, A, B, A)
        res = [lib._foreach_lerp(a, b, 0.25), lib._foreach_lerp(a, b, [0.1, 0.9]),
               lib._foreach_addcmul(a, b, c, value=2.0), lib._foreach_addcdiv(a, b, c, [0.5, 3]),
               lib._foreach_addcmul(a, b, c, lib.tensor([0.5, 3.0], dtype=lib.float64)),
               lib._foreach_norm(a), lib._foreach_norm(a, 1), lib._foreach_max(a),
               lib._foreach_clone(a), lib._foreach_pow(2.0, a)]
        lib._foreach_lerp_(a, b, 0.1)                 # the EMA update
        lib._foreach_addcdiv_(a, b, c, value=-0.5)
        lib._foreach_addcmul_(b, c, c, [1.0, 2.0])
        lib._foreach_copy_(c, b)
        res.append(a + b + c)
        lib._foreach_zero_(b)
        res.append(b)
        out.append(res)
    for z, t in zip(*out):
        _same(z, t)


def test_out_of_place_ones_are_differentiable():
    grads = []
    for lib in (zeroin, torch):
        a, b = ([lib.tensor(x.copy(), requires_grad=True) for x in arr] for arr in (A, B))
        y = lib._foreach_lerp(lib._foreach_mul(lib._foreach_sigmoid(a), b), b, 0.3)
        sum(t.sum() for t in lib._foreach_norm(y)).backward()
        grads.append([t.grad for t in a + b])
    _same(*grads)
    x = zeroin.tensor(A[1], requires_grad=True)
    y = zeroin.tensor(B[1], requires_grad=True)
    assert zeroin.gradcheck(lambda p, q: zeroin._foreach_addcdiv([p], [q], [p], 0.5)[0] *
                            zeroin._foreach_norm([q])[0], (x, y))


def test_errors_are_pytorchs():
    for lib in (zeroin, torch):
        with pytest.raises(RuntimeError, match="at least one tensor"):
            lib._foreach_add([], 1.0)
        with pytest.raises(RuntimeError, match="same number of tensors, got 2 and 1"):
            lib._foreach_add(_lists(lib, A)[0], [lib.ones(2)])
        with pytest.raises(RuntimeError, match="in-place|in place"):
            lib._foreach_mul_([lib.ones(2, requires_grad=True)], 2.0)
