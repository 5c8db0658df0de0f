"""F.relu_, F.elu_, ... (in place on the tensor) and nn.init's deprecated names, against
PyTorch."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from zeroin.nn import init

torch = pytest.importorskip("torch")

X = np.array([[-2.0, -0.5, 0.0, 0.3], [1.5, -1.2, 2.5, -3.0]])

CASES = [("relu_", ()), ("elu_", (0.7,)), ("leaky_relu_", (0.2,)), ("hardtanh_", (-1.0, 2.0)),
         ("rrelu_", (0.1, 0.3)), ("celu_", (1.3,)), ("selu_", ()), ("threshold_", (0.2, -7.0))]


@pytest.mark.parametrize("name, args", CASES)
def test_inplace_activation_changes_the_tensor_and_its_gradient_is_torchs(name, args):
    x = zeroin.tensor(X, requires_grad=True)
    xt = torch.tensor(X, requires_grad=True)
    y, yt = x * 1.5, xt * 1.5
    out, out_t = getattr(F, name)(y, *args), getattr(torch.nn.functional, name)(yt, *args)
    assert out is y and out_t is yt
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-12)
    w = np.arange(8.0).reshape(2, 4) - 3
    (y * zeroin.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    # torch's celu_ backward works from the result with alpha's reciprocal in float32
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(),
                               rtol=1e-7 if name == "celu_" else 1e-10)


@pytest.mark.parametrize("name, args", [c for c in CASES if c[0] != "rrelu_"])
def test_inplace_activation_gradcheck(name, args):
    x0 = X + 0.05        # away from the kinks
    assert zeroin.gradcheck(lambda x: getattr(F, name)(x * 1.0, *args),
                            (zeroin.tensor(x0, requires_grad=True),))


def test_inplace_activation_without_grad_writes_the_same_array():
    x = zeroin.tensor(X.copy())
    arr = x.data
    F.relu_(x)
    assert np.shares_memory(x.data, arr) and (arr >= 0).all()


def test_inplace_activation_on_a_leaf_that_requires_grad_is_refused_as_in_torch():
    with pytest.raises(RuntimeError):
        torch.nn.functional.relu_(torch.tensor(X, requires_grad=True))
    with pytest.raises(RuntimeError, match="relu_.*leaf"):
        F.relu_(zeroin.tensor(X, requires_grad=True))
    with pytest.raises(TypeError, match="relu_: expected a Tensor"):
        F.relu_(X)


def test_rrelu_inplace_training_draws_slopes_in_range():
    x = zeroin.tensor(-np.ones(1000))
    F.rrelu_(x, 0.1, 0.3, True)
    assert (x.data <= -0.1).all() and (x.data >= -0.3).all() and x.data.std() > 0.01


OLD = ["uniform", "normal", "constant", "xavier_uniform", "xavier_normal", "kaiming_uniform",
       "kaiming_normal", "orthogonal", "sparse", "dirac", "eye"]
ARGS = {"constant": (0.5,), "sparse": (0.5,)}


@pytest.mark.parametrize("name", OLD)
def test_deprecated_init_names_warn_as_torch_and_fill(name):
    shape = (4, 2, 3) if name == "dirac" else (4, 3)
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        getattr(torch.nn.init, name)(torch.empty(shape), *ARGS.get(name, ()))
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        w = zeroin.zeros(*shape) + 7.0
        assert getattr(init, name)(w, *ARGS.get(name, ())) is w
    assert [(type(m.message), str(m.message)) for m in ours] == \
        [(type(m.message), str(m.message)) for m in theirs]
    assert ours[0].filename == __file__            # stacklevel: the caller's line
    assert not (w.data == 7.0).all()
    assert getattr(init, name).__name__ == name
