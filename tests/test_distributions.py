"""zeroin.distributions against torch.distributions: values, gradients, shapes, sampling
statistics and argument validation."""
import subprocess
import sys

import numpy as np
import pytest

import zeroin
from zeroin import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions


def _pair(a, grad=True):
    """The same float64 values as a zeroin and a torch tensor."""
    a = np.array(a, dtype=np.float64)          # a copy: torch refuses negative strides
    return (zeroin.tensor(a, requires_grad=grad),
            torch.tensor(a, requires_grad=grad))


def _close(z, t, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(z.detach().numpy() if hasattr(z, "detach") else z,
                               t.detach().numpy(), rtol=rtol, atol=atol)


def _compare(build, params, call, weights_seed=0):
    """``call(build(lib, *params))`` in zeroin and torch: equal values, and equal gradients
    of a random weighting of the result wrt every parameter."""
    zs, ts = zip(*[_pair(p) for p in params])
    z_out, t_out = call(build(D, *zs)), call(build(TD, *ts))
    assert tuple(z_out.shape) == tuple(t_out.shape)
    _close(z_out, t_out)
    if not t_out.requires_grad:                 # a constant (e.g. Exponential's mode 0)
        assert not z_out.requires_grad
        return
    w = np.random.default_rng(weights_seed).uniform(0.5, 1.5, tuple(t_out.shape))
    finite = np.isfinite(t_out.detach().numpy())
    (zeroin.where(zeroin.tensor(finite), z_out, 0.0) * zeroin.tensor(np.where(finite, w, 0.0))
     ).sum().backward()
    (t_out * torch.tensor(np.where(finite, w, 0.0))).nansum().backward()
    for z, t in zip(zs, ts):
        if t.grad is None:
            assert z.grad is None or not np.any(z.grad.numpy())
        else:
            _close(z.grad, t.grad, rtol=1e-6, atol=1e-9)


# --- values and gradients against torch --------------------------------------------------

_RNG = np.random.default_rng(7)
_LOC, _SCALE = _RNG.normal(size=3), _RNG.uniform(0.5, 2.0, (2, 1))
_X = _RNG.normal(size=(2, 3)) * 2
_U = _RNG.uniform(0.02, 0.98, (2, 3))


def _normal(lib, loc, scale):
    return lib.Normal(loc, scale)


@pytest.mark.parametrize("call", [
    lambda d: d.log_prob(d.loc.new_tensor(_X)),
    lambda d: d.cdf(d.loc.new_tensor(_X)),
    lambda d: d.icdf(d.loc.new_tensor(_U)),
    lambda d: d.entropy(),
    lambda d: d.mean, lambda d: d.mode, lambda d: d.stddev, lambda d: d.variance,
], ids=["log_prob", "cdf", "icdf", "entropy", "mean", "mode", "stddev", "variance"])
def test_normal_matches_torch(call):
    _compare(_normal, (_LOC, _SCALE), call)


def test_normal_log_prob_gradient_wrt_value_and_icdf_second_order():
    z, t = _pair(_X)
    D.Normal(0.5, 2.0).log_prob(z).sum().backward()
    TD.Normal(0.5, 2.0).log_prob(t).sum().backward()
    _close(z.grad, t.grad)
    p = zeroin.tensor(_U, requires_grad=True)
    assert zeroin.gradcheck(lambda v: D.Normal(0.3, 1.7).icdf(v), [p])
    (g,) = zeroin.grad(D.Normal(0.0, 1.0).icdf(p).sum(), [p], create_graph=True)
    g.sum().backward()     # d2/dp2 of the quantile q: sqrt(2 pi) e**(q²/2) * 2 pi q e**(q²/2)
    q = D.Normal(0.0, 1.0).icdf(zeroin.tensor(_U)).numpy()
    np.testing.assert_allclose(p.grad.numpy(), 2 * np.pi * q * np.exp(q * q), rtol=1e-7)


def test_normal_icdf_edges_and_cdf_round_trip():
    d = D.Normal(0.0, 1.0, validate_args=False)
    with np.errstate(invalid="ignore"):
        out = d.icdf(zeroin.tensor([0.0, 1.0, 1.5])).numpy()
    assert out[0] == -np.inf and out[1] == np.inf and np.isnan(out[2])
    x = zeroin.tensor(_X)
    _close(d.icdf(d.cdf(x)), torch.tensor(_X), rtol=1e-6)


def test_normal_icdf_without_scipy_matches(monkeypatch):
    from zeroin.distributions.normal import _ndtri
    p = np.array([0.0, 1e-300, 0.025, 0.5, 0.9, 1.0, 1.5, np.nan])
    with np.errstate(invalid="ignore"):
        with_scipy = _ndtri(p)
        monkeypatch.setitem(sys.modules, "scipy.special", None)     # as if not installed
        np.testing.assert_allclose(_ndtri(p), with_scipy, rtol=1e-12)
    assert _ndtri(np.float32([0.9])).dtype == np.float32


def _categorical(kind):
    return lambda lib, p: lib.Categorical(**{kind: p})


_WEIGHTS = _RNG.uniform(0.1, 2.0, (2, 4))
_SCORES = _RNG.normal(size=(2, 4)) * 2
_INDEX = np.array([[0, 3], [1, 2], [3, 3]])


@pytest.mark.parametrize("kind, param", [("probs", _WEIGHTS), ("logits", _SCORES)])
@pytest.mark.parametrize("call", [
    lambda d: d.log_prob(_index_like(d)), lambda d: d.entropy(), lambda d: d.probs,
    lambda d: d.logits, lambda d: d.perplexity(),
], ids=["log_prob", "entropy", "probs", "logits", "perplexity"])
def test_categorical_matches_torch(kind, param, call):
    _compare(_categorical(kind), (param,), call)


def _index_like(d):
    lib = torch if isinstance(d, TD.Distribution) else zeroin
    return lib.tensor(_INDEX)


def test_categorical_properties_and_zero_probabilities():
    z, t = D.Categorical(zeroin.tensor(_WEIGHTS)), TD.Categorical(torch.tensor(_WEIGHTS))
    assert z.batch_shape == (2,) and z.param_shape == (2, 4) and z.event_shape == ()
    assert np.array_equal(z.mode.numpy(), t.mode.numpy())
    assert np.isnan(z.mean.numpy()).all() and z.mean.shape == (2,)
    p = np.array([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]])
    _close(D.Categorical(zeroin.tensor(p)).entropy(), TD.Categorical(torch.tensor(p)).entropy())
    _close(D.Categorical(logits=zeroin.tensor([0.0, -np.inf])).entropy(),
           TD.Categorical(logits=torch.tensor([0.0, -np.inf])).entropy())
    assert np.array_equal(z.enumerate_support().numpy(), t.enumerate_support().numpy())


def _bernoulli(kind):
    return lambda lib, p: lib.Bernoulli(**{kind: p})


_P = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
_BITS = np.array([[1.0, 0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0, 1.0]])


@pytest.mark.parametrize("kind, param", [("probs", _P), ("logits", np.log(_P / (1 - _P)))])
@pytest.mark.parametrize("call", [
    lambda d: d.log_prob(d.probs.new_tensor(_BITS)), lambda d: d.entropy(),
    lambda d: d.mean, lambda d: d.variance, lambda d: d.probs, lambda d: d.logits,
], ids=["log_prob", "entropy", "mean", "variance", "probs", "logits"])
def test_bernoulli_matches_torch(kind, param, call):
    _compare(_bernoulli(kind), (param,), call)


def test_bernoulli_extreme_logits_stay_finite_and_mode():
    big = np.array([-800.0, -30.0, 30.0, 800.0])
    z = D.Bernoulli(logits=zeroin.tensor(big)).log_prob(zeroin.tensor([1.0, 1.0, 0.0, 0.0]))
    t = TD.Bernoulli(logits=torch.tensor(big)).log_prob(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    _close(z, t)
    assert np.isfinite(z.numpy()).all()
    m = D.Bernoulli(zeroin.tensor([0.2, 0.5, 0.7])).mode.numpy()
    assert m[0] == 0 and np.isnan(m[1]) and m[2] == 1


_LOW, _HIGH = np.array([-1.0, 0.0, 2.0]), np.array([[1.0, 0.5, 5.0], [0.0, 3.0, 2.5]])
_INSIDE = np.array([[0.5, 0.25, 4.0], [-0.5, 2.9, 2.2]])


@pytest.mark.parametrize("call", [
    lambda d: d.log_prob(d.low.new_tensor(_INSIDE)), lambda d: d.cdf(d.low.new_tensor(_INSIDE)),
    lambda d: d.icdf(d.low.new_tensor(_U)), lambda d: d.entropy(), lambda d: d.mean,
    lambda d: d.stddev, lambda d: d.variance,
], ids=["log_prob", "cdf", "icdf", "entropy", "mean", "stddev", "variance"])
def test_uniform_matches_torch(call):
    _compare(lambda lib, lo, hi: lib.Uniform(lo, hi), (_LOW, _HIGH), call)


def test_uniform_outside_support_without_validation_is_minus_inf():
    v = [2.0, 0.5, 1.0, 0.0, -0.1]
    z = D.Uniform(0.0, 1.0, validate_args=False).log_prob(zeroin.tensor(v))
    t = TD.Uniform(0.0, 1.0, validate_args=False).log_prob(torch.tensor(v))
    assert np.array_equal(z.numpy(), t.numpy().astype(np.float64))
    assert np.isnan(D.Uniform(0.0, 1.0).mode.numpy())


# --- kl_divergence ---------------------------------------------------------------------

_KL_CASES = {
    "normal": (lambda lib, a, b, c, d: lib.kl_divergence(lib.Normal(a, b), lib.Normal(c, d)),
               (_LOC, _SCALE, _RNG.normal(size=(2, 1)), _RNG.uniform(0.5, 2, 3))),
    "categorical-probs": (lambda lib, a, b: lib.kl_divergence(lib.Categorical(a),
                                                             lib.Categorical(b)),
                          (_WEIGHTS, _RNG.uniform(0.1, 2.0, 4))),
    "categorical-logits": (lambda lib, a, b: lib.kl_divergence(
        lib.Categorical(logits=a), lib.Categorical(logits=b)), (_SCORES, _SCORES[::-1])),
    "bernoulli": (lambda lib, a, b: lib.kl_divergence(lib.Bernoulli(a), lib.Bernoulli(b)),
                  (_P, _P[::-1])),
    "bernoulli-logits": (lambda lib, a, b: lib.kl_divergence(
        lib.Bernoulli(logits=a), lib.Bernoulli(logits=b)), (_SCORES[0], _SCORES[1])),
    "uniform": (lambda lib, a, b, c, d: lib.kl_divergence(lib.Uniform(a, b), lib.Uniform(c, d)),
                (_LOW, _LOW + 1, _LOW - 1, _HIGH + 2)),
}


@pytest.mark.parametrize("case", sorted(_KL_CASES))
def test_kl_divergence_matches_torch(case):
    fn, params = _KL_CASES[case]
    _compare(lambda lib, *ps: fn(lib, *ps), params, lambda out: out)


@pytest.mark.parametrize("p, q", [
    ("Categorical", ([[0.0, 1.0], [0.5, 0.5], [0.2, 0.8]], [[0.5, 0.5], [0.0, 1.0], [0.2, 0.8]])),
    ("Bernoulli", ([0.0, 1.0, 0.5, 0.0, 1.0], [0.5, 1.0, 0.0, 1.0, 0.0])),
], ids=["categorical", "bernoulli"])
def test_kl_divergence_edges_match_torch(p, q):
    a, b = q
    z = D.kl_divergence(getattr(D, p)(zeroin.tensor(a)), getattr(D, p)(zeroin.tensor(b)))
    t = TD.kl_divergence(getattr(TD, p)(torch.tensor(a, dtype=torch.float64)),
                         getattr(TD, p)(torch.tensor(b, dtype=torch.float64)))
    _close(z, t)


def test_kl_divergence_uniform_edge_and_gradcheck():
    assert D.kl_divergence(D.Uniform(-1.0, 1.0), D.Uniform(0.0, 2.0)).item() == np.inf
    mu, s = zeroin.tensor([0.3, -1.0], requires_grad=True), zeroin.tensor([0.7, 1.4],
                                                                            requires_grad=True)
    assert zeroin.gradcheck(lambda m, v: D.kl_divergence(D.Normal(m, v), D.Normal(0.0, 1.0)),
                            [mu, s])
    lg = zeroin.tensor(_SCORES, requires_grad=True)
    assert zeroin.gradcheck(lambda x: D.kl_divergence(D.Categorical(logits=x),
                                                      D.Categorical(logits=x.flip(0))), [lg])


def test_kl_divergence_refuses_other_pairs_and_registers_new_ones():
    with pytest.raises(NotImplementedError, match="Normal and q type Cauchy"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Cauchy(0.0, 1.0))

    class Wide(D.Normal):
        pass
    assert D.kl_divergence(Wide(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 0   # via Normal's
    from zeroin.distributions.kl import kl_divergence, register_kl
    assert kl_divergence is D.kl_divergence
    register_kl(Wide, D.Uniform)(lambda p, q: zeroin.tensor(42.0))
    try:
        assert D.kl_divergence(Wide(0.0, 1.0), D.Uniform(0.0, 1.0)).item() == 42
    finally:
        del D.kl._KL_REGISTRY[Wide, D.Uniform]
    assert D.kl_divergence(Wide(0.0, 1.0), D.Uniform(0.0, 1.0)).item() == np.inf  # Normal's


# --- shapes, dtypes and sampling -------------------------------------------------------

_DISTS = {
    "normal": (lambda: D.Normal(zeroin.zeros(2), 1.0), np.float64),
    "categorical": (lambda: D.Categorical(logits=zeroin.zeros(2, 3)), np.int64),
    "bernoulli": (lambda: D.Bernoulli(zeroin.full((2,), 0.3)), np.float64),
    "uniform": (lambda: D.Uniform(zeroin.zeros(2), 1.0), np.float64),
}


@pytest.mark.parametrize("name", sorted(_DISTS))
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
def test_sample_shapes_and_dtypes(name, sample_shape):
    build, dtype = _DISTS[name]
    d = build()
    x = d.sample(sample_shape)
    assert tuple(x.shape) == tuple(sample_shape) + (2,) and x.dtype == dtype
    assert not x.requires_grad
    assert tuple(d.expand((4, 2)).sample(sample_shape).shape) == tuple(sample_shape) + (4, 2)
    assert d.log_prob(x).shape == x.shape
    if d.has_rsample:
        assert tuple(d.rsample(sample_shape).shape) == tuple(sample_shape) + (2,)
    else:
        with pytest.raises(NotImplementedError):
            d.rsample()
    with pytest.raises(TypeError, match="sample_shape"):
        d.sample(5)


def test_categorical_samples_follow_their_own_batch_row():
    probs = zeroin.tensor([[[1.0, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 0, 1]]])   # batch (2, 2)
    x = D.Categorical(probs).sample((3,))
    assert x.shape == (3, 2, 2)
    assert np.array_equal(x.numpy(), np.broadcast_to([[0, 2], [1, 2]], (3, 2, 2)))
    b = D.Bernoulli(zeroin.tensor([0.0, 1.0])).expand((3, 2)).sample((4,))
    assert np.array_equal(b.numpy(), np.broadcast_to([0.0, 1.0], (4, 3, 2)))


def test_parameters_broadcast_and_keep_dtype_as_torch():
    d = D.Normal(zeroin.zeros(3, dtype=zeroin.float32), 1.0)
    assert d.batch_shape == (3,) and d.scale.dtype == np.float32
    assert d.sample().dtype == np.float32 and d.rsample((2,)).dtype == np.float32
    for dist in (d, D.Categorical(logits=zeroin.zeros(2, 3, dtype=zeroin.float32)),
                 D.Bernoulli(zeroin.full((2,), 0.3, dtype=zeroin.float32)),
                 D.Uniform(zeroin.zeros(2, dtype=zeroin.float32), 1.0)):
        assert dist.log_prob(dist.sample()).dtype == np.float32
        assert dist.entropy().dtype == np.float32
    assert D.Normal(0.0, 1.0).batch_shape == () and D.Normal(0.0, 1.0).sample().shape == ()
    assert D.Uniform(zeroin.zeros(2, 1), zeroin.ones(3)).batch_shape == (2, 3)
    assert repr(D.Normal(0.0, 1.0)) == "Normal(loc: 0.0, scale: 1.0)"
    with pytest.raises(ValueError, match="numbers or tensors"):
        D.Normal(0.0, [1.0, 2.0])


def test_rsample_is_differentiable():
    loc = zeroin.tensor([0.5, -1.0], requires_grad=True)
    scale = zeroin.tensor([1.0, 2.0], requires_grad=True)
    zeroin.manual_seed(3)
    x = D.Normal(loc, scale).rsample((50,))
    (x ** 2).sum().backward()
    eps = (x.detach().numpy() - loc.detach().numpy()) / scale.detach().numpy()
    np.testing.assert_allclose(loc.grad.numpy(), (2 * x.numpy()).sum(0), rtol=1e-10)
    np.testing.assert_allclose(scale.grad.numpy(), (2 * x.numpy() * eps).sum(0), rtol=1e-10)
    lo, hi = zeroin.tensor(1.0, requires_grad=True), zeroin.tensor(3.0, requires_grad=True)
    y = D.Uniform(lo, hi).rsample((40,))
    y.sum().backward()
    u = (y.numpy() - 1.0) / 2.0
    np.testing.assert_allclose([lo.grad.item(), hi.grad.item()], [(1 - u).sum(), u.sum()])


def test_samples_repeat_after_manual_seed():
    for build, _ in _DISTS.values():
        zeroin.manual_seed(11)
        a = build().sample((4,)).numpy()
        zeroin.manual_seed(11)
        assert np.array_equal(a, build().sample((4,)).numpy())


_N = 20000


def test_sample_statistics():
    zeroin.manual_seed(0)
    x = D.Normal(zeroin.tensor([1.5, -3.0]), zeroin.tensor([2.0, 0.5])).sample((_N,)).numpy()
    np.testing.assert_allclose(x.mean(0), [1.5, -3.0], atol=5 * 2.0 / np.sqrt(_N))
    np.testing.assert_allclose(x.std(0), [2.0, 0.5], rtol=0.03)
    p = np.array([0.1, 0.2, 0.7])
    c = D.Categorical(zeroin.tensor(p)).sample((_N,)).numpy()
    np.testing.assert_allclose(np.bincount(c, minlength=3) / _N, p, atol=0.015)
    b = D.Bernoulli(zeroin.tensor([0.1, 0.6])).sample((_N,)).numpy()
    np.testing.assert_allclose(b.mean(0), [0.1, 0.6], atol=0.02)
    u = D.Uniform(-1.0, 3.0).sample((_N,)).numpy()
    assert u.min() >= -1 and u.max() < 3
    np.testing.assert_allclose([u.mean(), u.std()], [1.0, 4 / np.sqrt(12)], atol=0.04)


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("build, match", [
    (lambda: D.Normal(0.0, -1.0), "scale"),
    (lambda: D.Normal(zeroin.tensor([0.0, np.nan]), 1.0), "loc"),
    (lambda: D.Categorical(zeroin.tensor([-1.0, 2.0])), "Simplex"),
    (lambda: D.Categorical(zeroin.tensor(1.0)), "one-dimensional"),
    (lambda: D.Categorical(zeroin.ones(2), logits=zeroin.ones(2)), "not both"),
    (lambda: D.Bernoulli(), "not both"),
    (lambda: D.Bernoulli(zeroin.tensor([0.0, 1.5])), "1.5"),
    (lambda: D.Uniform(1.0, 0.0), "low < high"),
    (lambda: D.Normal(0.0, 1.0).log_prob(zeroin.tensor(np.nan)), "value"),
    (lambda: D.Normal(0.0, 1.0).log_prob(0.5), "must be a tensor"),
    (lambda: D.Normal(zeroin.zeros(3), 1.0).log_prob(zeroin.zeros(2)), "broadcastable"),
    (lambda: D.Categorical(zeroin.ones(2)).log_prob(zeroin.tensor(2)), "upper_bound=1"),
    (lambda: D.Categorical(zeroin.ones(2)).log_prob(zeroin.tensor(0.5)), "0.5"),
    (lambda: D.Bernoulli(0.3).log_prob(zeroin.tensor(0.5)), "Boolean"),
    (lambda: D.Uniform(0.0, 1.0).log_prob(zeroin.tensor(2.0)), "Interval"),
    (lambda: D.Uniform(0.0, 1.0).cdf(zeroin.tensor(-1.0)), "Interval"),
    (lambda: D.Uniform(zeroin.zeros(3), 1.0).log_prob(zeroin.tensor(2.0)),
     r"shape \(\)\) of Uniform.*invalid values \[2. 2. 2.\]"),
])
def test_invalid_arguments_raise_value_error_as_torch(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_validation_can_be_turned_off():
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1
    assert D.Bernoulli(0.3, validate_args=False).log_prob(zeroin.tensor(1.0)).item() < 0
    D.Distribution.set_default_validate_args(False)
    try:
        assert D.Uniform(0.0, 1.0).log_prob(zeroin.tensor(2.0)).item() == -np.inf
        with pytest.raises(ValueError, match="scale"):
            D.Normal(0.0, -1.0, validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="True or False"):
        D.Distribution.set_default_validate_args("no")


def test_import_zeroin_does_not_load_distributions():
    code = ("import sys, zeroin; assert 'zeroin.distributions' not in sys.modules; "
            "zeroin.distributions.Normal; import zeroin.distributions.kl")
    subprocess.run([sys.executable, "-c", code], check=True,
                   cwd=str(__import__("pathlib").Path(__file__).parent.parent))
