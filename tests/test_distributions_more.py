"""The distributions beyond Normal/Categorical/Bernoulli/Uniform against torch.distributions:
values and gradients (torch as oracle, finite differences), KL pairs, implicit
reparameterisation, shapes, sampling statistics and argument validation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from test_distributions import _close, _compare  # the shared torch helpers

_R = np.random.default_rng(2026)
_POS = _R.uniform(0.5, 3.0, (2, 3))
_LOC, _SCALE = _R.normal(size=3), _R.uniform(0.5, 2.0, (2, 1))
_XR = _R.normal(size=(2, 3)) * 2                       # real values
_XP = _R.uniform(0.1, 4.0, (2, 3))                     # positive values
_U = _R.uniform(0.02, 0.98, (2, 3))                    # probabilities for icdf
_CONC = np.array([[0.4, 1.0, 2.5], [5.0, 0.7, 1.5]])   # shapes below and above 1
_CONC4 = _R.uniform(0.3, 3.0, (2, 4))
_SIMPLEX = _R.dirichlet(np.ones(4), (3, 2))            # (3, 2, 4): sample_shape + batch + event
_P = np.array([0.05, 0.3, 0.5, 0.8, 0.97])
_COUNTS = np.array([[0.0, 3.0, 10.0, 7.0, 1.0], [2.0, 0.0, 5.0, 9.0, 10.0]])


def _tensor_like(d, a):
    lib = torch if isinstance(d, TD.Distribution) else zeroin
    return lib.tensor(np.asarray(a, dtype=np.float64))


def _spd(k, batch=(), seed=0):
    a = np.random.default_rng(seed).normal(size=batch + (k, k))
    return a @ np.swapaxes(a, -1, -2) + k * np.eye(k)


def _tril(k, batch=(), seed=0):
    a = np.tril(np.random.default_rng(seed).normal(size=batch + (k, k)), -1)
    diag = np.random.default_rng(seed + 1).uniform(0.5, 2.0, batch + (k,))
    return a + np.eye(k) * diag[..., None]


_MVN_LOC = _R.normal(size=(2, 1, 3))
_MVN_X = _R.normal(size=(5, 2, 4, 3))


def _onehot(k, idx):
    return np.eye(k)[idx]


# name: (build(lib, *params), params, value for log_prob/cdf, the calls to compare)
_CASES = {
    "Exponential": (lambda lib, r: lib.Exponential(r), (_POS,), _XP,
                    "mean mode variance stddev entropy log_prob cdf icdf"),
    "Laplace": (lambda lib, m, s: lib.Laplace(m, s), (_LOC, _SCALE), _XR,
                "mean mode variance stddev entropy log_prob cdf icdf"),
    "LogNormal": (lambda lib, m, s: lib.LogNormal(m, s), (_LOC, _SCALE), _XP,
                  "mean mode variance stddev entropy log_prob cdf icdf"),
    "Cauchy": (lambda lib, m, s: lib.Cauchy(m, s), (_LOC, _SCALE), _XR,
               "mean mode variance entropy log_prob cdf icdf"),
    "StudentT": (lambda lib, df, m, s: lib.StudentT(df, m, s),
                 (np.array([[0.5, 1.5, 3.0], [7.0, 1.0, 2.5]]), _LOC, _SCALE), _XR,
                 "mean mode variance entropy log_prob"),
    "Gamma": (lambda lib, c, r: lib.Gamma(c, r), (_CONC, _SCALE), _XP,
              "mean mode variance stddev entropy log_prob"),
    "Beta": (lambda lib, a, b: lib.Beta(a, b), (_CONC, _CONC[::-1]), _U,
             "mean mode variance entropy log_prob"),
    "Dirichlet": (lambda lib, c: lib.Dirichlet(c), (_CONC4,), _SIMPLEX,
                  "mean variance entropy log_prob"),
    "Poisson": (lambda lib, r: lib.Poisson(r), (_POS,), np.array([[0.0, 1, 4], [2, 0, 7]]),
                "mean mode variance log_prob"),
    "Binomial-probs": (lambda lib, p: lib.Binomial(10, probs=p), (_P,), _COUNTS,
                       "mean mode variance entropy log_prob"),
    "Binomial-logits": (lambda lib, lg: lib.Binomial(10, logits=lg), (_R.normal(size=5) * 3,),
                        _COUNTS, "mean mode variance entropy log_prob"),
    "Geometric-probs": (lambda lib, p: lib.Geometric(probs=p), (_P,), _COUNTS,
                        "mean mode variance entropy log_prob"),
    "Geometric-logits": (lambda lib, lg: lib.Geometric(logits=lg), (_R.normal(size=5),),
                         _COUNTS, "mean variance entropy log_prob"),
    "OneHotCategorical-probs": (lambda lib, p: lib.OneHotCategorical(probs=p), (_CONC4,),
                                _onehot(4, [[0, 3], [2, 2], [1, 0]]),
                                "mean mode variance entropy log_prob probs logits"),
    "OneHotCategorical-logits": (lambda lib, lg: lib.OneHotCategorical(logits=lg),
                                 (_R.normal(size=(2, 4)),), _onehot(4, [[0, 3], [2, 2]]),
                                 "mean variance entropy log_prob probs logits"),
    "MultivariateNormal-cov": (lambda lib, m, c: lib.MultivariateNormal(m, covariance_matrix=c),
                               (_MVN_LOC, _spd(3, (4,))), _MVN_X,
                               ("mean mode variance stddev entropy log_prob covariance_matrix "
                                "precision_matrix scale_tril")),
    "MultivariateNormal-precision": (
        lambda lib, m, c: lib.MultivariateNormal(m, precision_matrix=c),
        (_MVN_LOC, _spd(3, (4,), seed=1)), _MVN_X,
        "mean variance entropy log_prob covariance_matrix precision_matrix scale_tril"),
    "MultivariateNormal-tril": (lambda lib, m, c: lib.MultivariateNormal(m, scale_tril=c),
                                (_MVN_LOC, _tril(3, (4,))), _MVN_X,
                                ("mean variance entropy log_prob covariance_matrix "
                                 "precision_matrix scale_tril")),
    "Independent": (lambda lib, m, s: lib.Independent(lib.Normal(m, s), 1), (_LOC, _SCALE),
                    _XR, "mean mode variance entropy log_prob"),
    "RelaxedBernoulli-logits": (lambda lib, t, lg: lib.RelaxedBernoulli(t, logits=lg),
                                (np.array(0.7), _R.normal(size=3) * 2), _U, "log_prob"),
    "RelaxedBernoulli-probs": (lambda lib, t, p: lib.RelaxedBernoulli(t, probs=p),
                               (np.array(1.6), _U[0]), _U[::-1].copy(), "log_prob probs"),
    "RelaxedOneHotCategorical-logits": (
        lambda lib, t, lg: lib.RelaxedOneHotCategorical(t, logits=lg),
        (np.array(0.7), _R.normal(size=(2, 4))), _SIMPLEX, "log_prob logits"),
    "RelaxedOneHotCategorical-probs": (
        lambda lib, t, p: lib.RelaxedOneHotCategorical(t, probs=p),
        (np.array(2.5), _CONC4), _SIMPLEX, "log_prob probs"),
}


def _call(name, value):
    if name in ("log_prob", "cdf"):
        return lambda d: getattr(d, name)(_tensor_like(d, value))
    if name == "icdf":
        return lambda d: d.icdf(_tensor_like(d, _U))
    if name == "entropy":
        return lambda d: d.entropy()
    return lambda d: getattr(d, name)


@pytest.mark.parametrize("case, call", [(c, n) for c, (_, _, _, names) in _CASES.items()
                                        for n in names.split()])
def test_matches_torch(case, call):
    build, params, value, _ = _CASES[case]
    _compare(build, params, _call(call, value))


def test_gamma_cdf_and_shapes_match_torch():
    c = zeroin.tensor(_CONC)
    r, tr = zeroin.tensor(_SCALE, requires_grad=True), torch.tensor(_SCALE, requires_grad=True)
    z = D.Gamma(c, r).cdf(zeroin.tensor(_XP))
    t = TD.Gamma(torch.tensor(_CONC), tr).cdf(torch.tensor(_XP))
    _close(z, t)
    z.sum().backward()
    t.sum().backward()
    _close(r.grad, tr.grad)


def test_dirichlet_and_beta_mode_corners_match_torch():
    c = np.array([[0.5, 0.3, 0.9], [2.0, 3.0, 0.5], [1.0, 1.0, 4.0]])
    _close(D.Dirichlet(zeroin.tensor(c)).mode, TD.Dirichlet(torch.tensor(c)).mode)
    a, b = np.array([0.5, 2.0, 0.5, 3.0]), np.array([0.5, 0.5, 2.0, 3.0])
    _close(D.Beta(zeroin.tensor(a), zeroin.tensor(b)).mode,
           TD.Beta(torch.tensor(a), torch.tensor(b)).mode)


def test_binomial_total_count_broadcasts_and_enumerate_support():
    n, p = np.array([[3.0], [10.0]]), np.array([0.2, 0.6, 0.9])
    k = np.array([[0.0, 1.0, 3.0], [10.0, 4.0, 9.0]])
    z = D.Binomial(zeroin.tensor(n), zeroin.tensor(p))
    t = TD.Binomial(torch.tensor(n), torch.tensor(p))
    assert z.batch_shape == t.batch_shape == (2, 3)
    _close(z.log_prob(zeroin.tensor(k)), t.log_prob(torch.tensor(k)))
    with pytest.raises(NotImplementedError, match="same total_count"):
        z.entropy()
    z5 = D.Binomial(5, zeroin.tensor(p))
    assert np.array_equal(z5.enumerate_support().numpy(),
                          TD.Binomial(5, torch.tensor(p)).enumerate_support().numpy())


def test_onehot_enumerate_support_and_independent_shapes():
    z, t = D.OneHotCategorical(zeroin.tensor(_CONC4)), TD.OneHotCategorical(torch.tensor(_CONC4))
    assert z.batch_shape == (2,) and z.event_shape == (4,)
    assert np.array_equal(z.enumerate_support().numpy(), t.enumerate_support().numpy())
    assert np.array_equal(z.enumerate_support(False).numpy(),
                          t.enumerate_support(False).numpy())
    base = D.Normal(zeroin.zeros(5, 2, 3), 1.0)
    ind = D.Independent(base, 2)
    assert ind.batch_shape == (5,) and ind.event_shape == (2, 3) and ind.has_rsample
    assert ind.log_prob(base.sample()).shape == (5,)
    big = ind.expand((4, 5))
    assert big.batch_shape == (4, 5) and big.sample((2,)).shape == (2, 4, 5, 2, 3)
    assert big.log_prob(big.sample()).shape == (4, 5)
    assert repr(D.Independent(D.Normal(0.0, zeroin.ones(3)), 1)).startswith("Independent(Normal(")


# --- kl_divergence ---------------------------------------------------------------------

_KL = {
    "Exponential": (lambda lib, a, b: (lib.Exponential(a), lib.Exponential(b)),
                    (_POS, _POS[::-1])),
    "Gamma": (lambda lib, a, b, c, d: (lib.Gamma(a, b), lib.Gamma(c, d)),
              (_CONC, _SCALE, _POS, _POS[0])),
    "Beta": (lambda lib, a, b, c, d: (lib.Beta(a, b), lib.Beta(c, d)),
             (_CONC, _POS, _POS[::-1], _CONC[::-1])),
    "Dirichlet": (lambda lib, a, b: (lib.Dirichlet(a), lib.Dirichlet(b)),
                  (_CONC4, _CONC4[::-1])),
    "Laplace": (lambda lib, a, b, c, d: (lib.Laplace(a, b), lib.Laplace(c, d)),
                (_LOC, _SCALE, _XR, _POS)),
    "LogNormal": (lambda lib, a, b, c, d: (lib.LogNormal(a, b), lib.LogNormal(c, d)),
                  (_LOC, _SCALE, _XR, _POS)),
    "Cauchy": (lambda lib, a, b, c, d: (lib.Cauchy(a, b), lib.Cauchy(c, d)),
               (_LOC, _SCALE, _XR, _POS)),
    "Poisson": (lambda lib, a, b: (lib.Poisson(a), lib.Poisson(b)), (_POS, _POS[::-1])),
    "Geometric": (lambda lib, a, b: (lib.Geometric(a), lib.Geometric(b)), (_P, _P[::-1])),
    "Binomial": (lambda lib, a, b: (lib.Binomial(10, a), lib.Binomial(10, b)),
                 (_P, _P[::-1])),
    "OneHotCategorical": (lambda lib, a, b: (lib.OneHotCategorical(a),
                                             lib.OneHotCategorical(logits=b)),
                          (_CONC4, _XR[:, :2].repeat(2, 1))),
    "Independent": (lambda lib, a, b, c, d: (lib.Independent(lib.Normal(a, b), 1),
                                             lib.Independent(lib.Normal(c, d), 1)),
                    (_LOC, _SCALE, _XR, _POS)),
    "MultivariateNormal": (lambda lib, a, b, c, d: (
        lib.MultivariateNormal(a, covariance_matrix=b), lib.MultivariateNormal(c, scale_tril=d)),
        (_MVN_LOC, _spd(3, (4,)), _R.normal(size=3), _tril(3, seed=5))),
}


@pytest.mark.parametrize("case", sorted(_KL))
def test_kl_divergence_matches_torch(case):
    build, params = _KL[case]
    _compare(lambda lib, *ps: lib.kl_divergence(*build(lib, *ps)), params, lambda out: out)


def test_kl_divergence_gradcheck_and_refusals():
    a, b = zeroin.tensor(_CONC, requires_grad=True), zeroin.tensor(_POS, requires_grad=True)
    assert zeroin.gradcheck(lambda x, y: D.kl_divergence(D.Gamma(x, y), D.Gamma(y, x)), [a, b])
    assert zeroin.gradcheck(lambda x, y: D.kl_divergence(D.Beta(x, y), D.Beta(y, x)), [a, b])
    c = zeroin.tensor(_spd(3), requires_grad=True)
    m = zeroin.tensor(_LOC, requires_grad=True)
    assert zeroin.gradcheck(lambda m, c: D.kl_divergence(
        D.MultivariateNormal(m, covariance_matrix=(c + c.mT) / 2),
        D.MultivariateNormal(m * 0, scale_tril=zeroin.eye(3, dtype=m.dtype))), [m, c])
    with pytest.raises(NotImplementedError, match="Cauchy and q type Normal"):
        D.kl_divergence(D.Cauchy(1.0, 1.0), D.Normal(1.0, 1.0))
    with pytest.raises(NotImplementedError, match="reinterpreted_batch_ndims"):
        n = D.Normal(zeroin.zeros(2, 3), 1.0)
        D.kl_divergence(D.Independent(n, 1), D.Independent(n, 2))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.MultivariateNormal(zeroin.zeros(2), zeroin.eye(2)),
                        D.MultivariateNormal(zeroin.zeros(3), zeroin.eye(3)))
    t = torch.tensor([1.0, 0.0], dtype=torch.float64)
    z = D.kl_divergence(D.Binomial(zeroin.tensor([5.0, 3.0]), zeroin.tensor([0.5, 0.5])),
                        D.Binomial(zeroin.tensor([5.0, 2.0]), zeroin.tensor([0.3, 0.5])))
    _close(z, TD.kl_divergence(TD.Binomial(torch.tensor([5.0, 3.0]), t * 0 + 0.5),
                               TD.Binomial(torch.tensor([5.0, 2.0]),
                                           torch.tensor([0.3, 0.5], dtype=torch.float64))))


# --- shapes, dtypes, sampling ------------------------------------------------------------

_Z = zeroin.tensor
_DISTS = {   # name: build(dtype) of a distribution with batch_shape (2,)
    "Exponential": lambda dt: D.Exponential(_Z([0.5, 2.0], dtype=dt)),
    "Laplace": lambda dt: D.Laplace(_Z([0.0, 1.0], dtype=dt), 2.0),
    "LogNormal": lambda dt: D.LogNormal(_Z([0.0, 1.0], dtype=dt), 0.5),
    "Cauchy": lambda dt: D.Cauchy(_Z([0.0, 1.0], dtype=dt), 2.0),
    "StudentT": lambda dt: D.StudentT(_Z([9.0, 20.0], dtype=dt)),
    "Gamma": lambda dt: D.Gamma(_Z([0.3, 4.0], dtype=dt), 2.0),
    "Beta": lambda dt: D.Beta(_Z([0.3, 4.0], dtype=dt), 2.0),
    "Dirichlet": lambda dt: D.Dirichlet(_Z([[0.3, 4.0, 1.0], [2.0, 2.0, 2.0]], dtype=dt)),
    "Poisson": lambda dt: D.Poisson(_Z([0.5, 30.0], dtype=dt)),
    "Binomial": lambda dt: D.Binomial(_Z([5.0, 20.0], dtype=dt), _Z([0.3, 0.9], dtype=dt)),
    "Geometric": lambda dt: D.Geometric(_Z([0.2, 0.9], dtype=dt)),
    "OneHotCategorical": lambda dt: D.OneHotCategorical(logits=zeroin.zeros(2, 3, dtype=dt)),
    "MultivariateNormal": lambda dt: D.MultivariateNormal(
        zeroin.zeros(2, 3, dtype=dt), scale_tril=_Z(_tril(3), dtype=dt)),
    "Independent": lambda dt: D.Independent(D.Normal(zeroin.zeros(2, 3, dtype=dt), 1.0), 1),
    "RelaxedBernoulli": lambda dt: D.RelaxedBernoulli(0.5, _Z([0.2, 0.9], dtype=dt)),
    "RelaxedOneHotCategorical": lambda dt: D.RelaxedOneHotCategorical(
        _Z(0.5, dtype=dt), logits=zeroin.zeros(2, 3, dtype=dt)),
}


@pytest.mark.parametrize("name", sorted(_DISTS))
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("dtype", [zeroin.float64, zeroin.float32])
def test_sample_shapes_and_dtypes(name, sample_shape, dtype):
    check_sample_shapes(_DISTS[name](dtype), sample_shape, dtype,
                        has_mean=not name.startswith("Relaxed"))    # as PyTorch's


@pytest.mark.parametrize("name", sorted(_DISTS))
def test_samples_repeat_after_manual_seed(name):
    check_seeded_repeat(_DISTS[name])


_N = 40000


@pytest.mark.parametrize("name", sorted(set(_DISTS) - {"Cauchy", "RelaxedBernoulli",
                                                        "RelaxedOneHotCategorical"}))
def test_sample_mean_and_variance(name):
    check_moments(_DISTS[name](zeroin.float64), rtol=0.08)


# shared with test_distributions_extra.py

def check_sample_shapes(d, sample_shape, dtype, has_mean=True):
    """has_rsample as PyTorch's class says (an Independent or TransformedDistribution: its
    base's), draws of batch (2,) + event shape in ``dtype`` without a graph, log_prob's shape,
    ``expand((4, 2))`` keeping the type, and rsample's shape (or NotImplementedError)."""
    expected = getattr(TD, type(d).__name__).has_rsample
    if isinstance(expected, property):
        expected = getattr(TD, type(d.base_dist).__name__).has_rsample
    assert d.has_rsample == expected
    event = tuple(d.event_shape)
    x = d.sample(sample_shape)
    assert tuple(x.shape) == tuple(sample_shape) + (2,) + event and x.dtype == dtype
    assert not x.requires_grad
    lp = d.log_prob(x)
    assert lp.shape == tuple(sample_shape) + (2,) and lp.dtype == dtype
    big = d.expand((4, 2))
    assert type(big) is type(d) and big.batch_shape == (4, 2) and big.event_shape == event
    y = big.sample(sample_shape)
    assert tuple(y.shape) == tuple(sample_shape) + (4, 2) + event
    assert big.log_prob(y).shape == tuple(sample_shape) + (4, 2)
    if has_mean:
        assert big.mean.shape == (4, 2) + event
    if d.has_rsample:
        assert tuple(d.rsample(sample_shape).shape) == tuple(sample_shape) + (2,) + event
    else:
        with pytest.raises(NotImplementedError):
            d.rsample()


def check_seeded_repeat(make):
    """The same draws after the same ``manual_seed``."""
    zeroin.manual_seed(5)
    a = make(zeroin.float64).sample((4,)).numpy()
    zeroin.manual_seed(5)
    assert np.array_equal(a, make(zeroin.float64).sample((4,)).numpy())


def check_moments(d, rtol):
    """The sample mean within 5 standard errors of ``mean`` and the sample variance within
    ``rtol`` of ``variance`` (the distributions are built with finite fourth moments)."""
    zeroin.manual_seed(1)
    x = d.sample((_N,)).numpy()
    mean, var = d.mean.detach().numpy(), d.variance.detach().numpy()
    assert np.all(np.abs(x.mean(0) - mean) <= 5 * np.sqrt(var / _N) + 1e-12)
    np.testing.assert_allclose(x.var(0), var, rtol=rtol, atol=1e-12)


def test_cauchy_and_mvn_sample_quantiles_and_covariance():
    zeroin.manual_seed(2)
    x = D.Cauchy(1.0, 2.0).sample((_N,)).numpy()
    np.testing.assert_allclose(np.quantile(x, [0.25, 0.5, 0.75]), [-1.0, 1.0, 3.0], atol=0.1)
    L = _tril(3)
    y = D.MultivariateNormal(zeroin.zeros(3), scale_tril=zeroin.tensor(L)).sample((_N,)).numpy()
    np.testing.assert_allclose(np.cov(y.T), L @ L.T, atol=0.05 * np.abs(L @ L.T).max())
    p = np.array([0.2, 0.5, 0.3])
    h = D.OneHotCategorical(zeroin.tensor(p)).sample((_N,)).numpy()
    assert np.all(h.sum(-1) == 1)
    np.testing.assert_allclose(h.mean(0), p, atol=0.01)


# --- reparameterised gradients -----------------------------------------------------------

def test_standard_gamma_gradient_matches_the_quantile_function():
    """dx/da of a gamma draw at fixed quantile u: against a central difference of scipy's
    inverse of P(a, x) in a, and torch's _standard_gamma_grad (a rational approximation,
    off by up to ~1e-4 relative: zeroin sums the series to float64 accuracy)."""
    sp = pytest.importorskip("scipy.special")
    from zeroin.distributions.gamma import _standard_gamma_grad
    a = np.array([0.01, 0.05, 0.3, 1.0, 2.5, 10.0, 100.0, 1e4])
    u = np.random.default_rng(3).uniform(0.01, 0.99, (4, a.size))
    x = sp.gammaincinv(a, u)
    h = 1e-6 * a
    fd = (sp.gammaincinv(a + h, u) - sp.gammaincinv(a - h, u)) / (2 * h)
    np.testing.assert_allclose(_standard_gamma_grad(a, x), fd, rtol=1e-7)
    np.testing.assert_allclose(_standard_gamma_grad(a, x),
                               torch._standard_gamma_grad(torch.tensor(a + 0 * x),
                                                          torch.tensor(x)).numpy(), rtol=1e-3)


def test_gamma_rsample_gradients():
    sp = pytest.importorskip("scipy.special")
    conc = zeroin.tensor([0.2, 1.0, 3.0, 50.0], requires_grad=True)
    rate = zeroin.tensor([1.0, 2.0, 0.5, 4.0], requires_grad=True)
    zeroin.manual_seed(4)
    x = D.Gamma(conc, rate).rsample((3,))
    x.sum().backward()
    a, r, xs = conc.detach().numpy(), rate.detach().numpy(), x.detach().numpy()
    u = sp.gammainc(a, xs * r)                  # each draw's quantile, held fixed
    h = 1e-6 * a
    dx_da = (sp.gammaincinv(a + h, u) - sp.gammaincinv(a - h, u)) / (2 * h) / r
    np.testing.assert_allclose(conc.grad.numpy(), dx_da.sum(0), rtol=1e-6)
    np.testing.assert_allclose(rate.grad.numpy(), (-xs / r).sum(0), rtol=1e-10)
    zeroin.manual_seed(4)                       # the same draws, with create_graph
    (g,) = zeroin.grad(D.Gamma(conc, rate).rsample((3,)).sum(), [conc], create_graph=True)
    np.testing.assert_allclose(g.numpy(), conc.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("build, mean_grad", [
    (lambda a, b: D.Beta(a, b), lambda a, b: (b / (a + b) ** 2, -a / (a + b) ** 2)),
    (lambda a, b: lambda s: D.Dirichlet(zeroin.stack([a, b], -1)).rsample(s)[..., 0],
     lambda a, b: (b / (a + b) ** 2, -a / (a + b) ** 2)),
], ids=["Beta", "Dirichlet"])
def test_beta_dirichlet_rsample_gradients_are_unbiased(build, mean_grad):
    """d/da of the mean of many reparameterised draws estimates d E[x] / da."""
    a, b = zeroin.tensor(0.7, requires_grad=True), zeroin.tensor(2.5, requires_grad=True)
    zeroin.manual_seed(6)
    d = build(a, b)
    x = d.rsample((_N,)) if isinstance(d, D.Distribution) else d((_N,))
    (x.mean()).backward()
    ga, gb = mean_grad(0.7, 2.5)
    np.testing.assert_allclose([a.grad.item(), b.grad.item()], [ga, gb], rtol=0.05)


def test_continuous_rsample_gradients():
    """rsample is a differentiable function of the parameters, as PyTorch's."""
    loc, scale = zeroin.tensor([0.5, -1.0], requires_grad=True), zeroin.tensor(
        [1.0, 2.0], requires_grad=True)
    for cls in (D.Laplace, D.Cauchy, D.LogNormal):
        loc.grad = scale.grad = None
        zeroin.manual_seed(3)
        x = cls(loc, scale).rsample((20,))
        x.sum().backward()
        z = x.detach().numpy()
        if cls is D.LogNormal:
            e = (np.log(z) - loc.detach().numpy()) / scale.detach().numpy()
            np.testing.assert_allclose(loc.grad.numpy(), z.sum(0), rtol=1e-10)
            np.testing.assert_allclose(scale.grad.numpy(), (z * e).sum(0), rtol=1e-10)
        else:
            e = (z - loc.detach().numpy()) / scale.detach().numpy()
            np.testing.assert_allclose(loc.grad.numpy(), [20.0, 20.0], rtol=1e-12)
            np.testing.assert_allclose(scale.grad.numpy(), e.sum(0), rtol=1e-10)
    rate = zeroin.tensor([0.5, 3.0], requires_grad=True)
    x = D.Exponential(rate).rsample((10,))
    x.sum().backward()
    np.testing.assert_allclose(rate.grad.numpy(), (-x.numpy() / rate.detach().numpy()).sum(0))
    L = zeroin.tensor(_tril(3), requires_grad=True)
    m = zeroin.zeros(3, requires_grad=True)
    zeroin.manual_seed(8)
    y = D.MultivariateNormal(m, scale_tril=L).rsample((7,))
    (y ** 2).sum().backward()
    eps = np.linalg.solve(_tril(3), y.detach().numpy().T).T      # the standard normal draws
    np.testing.assert_allclose(L.grad.numpy(), 2 * y.detach().numpy().T @ eps, rtol=1e-9)
    np.testing.assert_allclose(m.grad.numpy(), 2 * y.detach().numpy().sum(0), rtol=1e-10)
    df = zeroin.tensor(5.0, requires_grad=True)
    D.StudentT(df).rsample((10,)).abs().sum().backward()
    assert df.grad is not None and np.isfinite(df.grad.item())


def test_log_prob_and_entropy_gradcheck():
    """Finite differences agree with backward for the parameters of the gamma family and
    the multivariate normal (beyond the torch comparison)."""
    c = zeroin.tensor(_CONC, requires_grad=True)
    x = zeroin.tensor(_U)
    assert zeroin.gradcheck(lambda c: D.Beta(c, c.flip(0)).log_prob(x), [c])
    assert zeroin.gradcheck(lambda c: D.Gamma(c, 2.0).entropy(), [c])
    assert zeroin.gradcheck(lambda c: D.Dirichlet(c).entropy(), [c])
    L = zeroin.tensor(_tril(3), requires_grad=True)
    v = zeroin.tensor(_MVN_X[0, 0])
    assert zeroin.gradcheck(lambda L: D.MultivariateNormal(zeroin.zeros(3, dtype=L.dtype),
                                                           scale_tril=L, validate_args=False)
                            .log_prob(v), [L])


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize("build, match", [
    (lambda: D.Exponential(_Z([1.0, -2.0])), r"Exponential: .*parameter rate.*\[-2.\]"),
    (lambda: D.Exponential(1.0).log_prob(_Z(-1.0)), "GreaterThanEq"),
    (lambda: D.Gamma(_Z([0.0, 1.0]), 1.0), "concentration.*positive"),
    (lambda: D.Beta(1.0, 1.0).log_prob(_Z(1.5)), r"Beta: .*Interval.*1.5"),
    (lambda: D.Dirichlet(_Z(1.0)), "at least one-dimensional"),
    (lambda: D.Dirichlet(_Z([1.0, -1.0])), r"concentration.*\[-1.\]"),
    (lambda: D.Dirichlet(_Z([1.0, 1.0])).log_prob(_Z([0.5, 0.6])), "Simplex"),
    (lambda: D.Poisson(_Z(-1.0)), "Poisson: .*rate"),
    (lambda: D.Poisson(_Z(1.0)).log_prob(_Z(1.5)), "IntegerGreaterThan.*1.5"),
    (lambda: D.Binomial(_Z(2.5), _Z(0.3)), "total_count.*2.5"),
    (lambda: D.Binomial(5, _Z(0.3)).log_prob(_Z(6.0)), "upper_bound=total_count.*6"),
    (lambda: D.Binomial(5), "probs` or `logits"),
    (lambda: D.Geometric(_Z([0.0, 0.5])), r"Geometric: .*\(0, 1\]"),
    (lambda: D.OneHotCategorical(_Z([1.0, 1.0])).log_prob(_Z([1.0, 1.0])), "OneHot"),
    (lambda: D.OneHotCategorical(_Z(1.0)), "one-dimensional"),
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0]), _Z([[1.0, 2.0], [2.0, 1.0]])),
     "covariance_matrix.*PositiveDefinite"),
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0]), _Z([[1.0, 0.0], [1.0, 1.0]])),
     "PositiveDefinite"),                                   # not symmetric
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0]), scale_tril=_Z([[1.0, 2.0], [0.0, 1.0]])),
     "LowerCholesky"),
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0])), "exactly one of"),
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0]), _Z(np.eye(3))), r"\(2,\) and \(3, 3\)"),
    (lambda: D.MultivariateNormal(_Z(np.zeros((2, 2))), _Z(np.eye(2)[None].repeat(3, 0))),
     "batch shapes"),
    (lambda: D.MultivariateNormal(_Z([0.0, 0.0]), _Z(np.eye(2))).log_prob(_Z([1.0, 2, 3])),
     "broadcastable"),
    (lambda: D.Independent(D.Normal(_Z([0.0]), 1.0), 2), "reinterpreted_batch_ndims"),
    (lambda: D.StudentT(_Z(-1.0)), "StudentT: .*df"),
    (lambda: D.LogNormal(0.0, 1.0).log_prob(_Z(-1.0)), "LogNormal: .*value"),
    (lambda: D.Laplace(0.0, 0.0), "Laplace: .*scale"),
    (lambda: D.Cauchy(0.0, 1.0).log_prob(_Z(float("nan"))), "Cauchy: .*Real"),
    (lambda: D.RelaxedBernoulli(0.5, _Z([0.5, 1.5])), r"RelaxedBernoulli: .*probs.*1.5"),
    (lambda: D.RelaxedBernoulli(0.5, logits=_Z(0.0)).log_prob(_Z(2.0)), "Interval"),
    (lambda: D.RelaxedOneHotCategorical(0.5, _Z([1.0, -3.0])), "RelaxedOneHotCategorical: "),
    (lambda: D.RelaxedOneHotCategorical(0.5, _Z([1.0, 1.0])).log_prob(_Z([0.5, 0.6])),
     "Simplex"),
])
def test_invalid_arguments_raise_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_validation_off_and_independent_refuses_non_distributions():
    assert D.Exponential(-1.0, validate_args=False).rate.item() == -1
    d = D.MultivariateNormal(zeroin.zeros(2), scale_tril=_Z([[1.0, 5.0], [0.5, 2.0]]),
                             validate_args=False)           # the upper triangle is ignored
    e = D.MultivariateNormal(zeroin.zeros(2), scale_tril=_Z([[1.0, 0.0], [0.5, 2.0]]))
    v = _Z([0.3, -1.2])
    assert d.log_prob(v).item() == e.log_prob(v).item()
    with pytest.raises(TypeError, match="`loc` must be a tensor"):
        D.MultivariateNormal([0.0, 0.0], zeroin.eye(2))
    with pytest.raises(TypeError, match="Dirichlet: `concentration` must be a tensor"):
        D.Dirichlet([1.0, 2.0])
    with pytest.raises(TypeError, match="must be a distribution"):
        D.Independent(zeroin.zeros(3), 1)
    assert D.Poisson(2.0).batch_shape == () and D.Poisson(2.0).sample().shape == ()
    with pytest.raises(NotImplementedError, match="entropy"):
        D.Poisson(2.0).entropy()


def test_relaxed_samples_approach_the_discrete_ones_and_carry_gradients():
    """At a low temperature relaxed draws are nearly 0/1 (one-hot), with the discrete
    distribution's frequencies; rsample reaches logits and temperature."""
    p = np.array([0.2, 0.5, 0.3])
    zeroin.manual_seed(9)
    h = D.RelaxedOneHotCategorical(0.05, zeroin.tensor(p)).sample((_N,)).numpy()
    np.testing.assert_allclose(h.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.bincount(h.argmax(-1), minlength=3) / _N, p, atol=0.01)
    assert np.mean(h.max(-1) > 0.95) > 0.8
    b = D.RelaxedBernoulli(0.05, zeroin.tensor([0.1, 0.7])).sample((_N,)).numpy()
    np.testing.assert_allclose((b > 0.5).mean(0), [0.1, 0.7], atol=0.01)
    assert b.min() > 0 and b.max() < 1
    t = zeroin.tensor(0.8, requires_grad=True)
    lg = zeroin.tensor([0.3, -0.2, 1.0], requires_grad=True)
    zeroin.manual_seed(10)
    y = D.RelaxedOneHotCategorical(t, logits=lg).rsample((4,))
    (y[..., 0] * 3 + y[..., 2]).sum().backward()
    assert np.all(np.isfinite(lg.grad.numpy())) and lg.grad.numpy().any() and t.grad.item() != 0
    assert zeroin.gradcheck(lambda t, lg: D.RelaxedBernoulli(t, logits=lg).log_prob(
        zeroin.tensor([0.2, 0.9, 0.5])), [t, lg])


@pytest.mark.parametrize("loc_shape, mat_shape", [
    ((3,), (3, 3)), ((2, 1, 3), (4, 3, 3)), ((1, 3), (5, 3, 3)), ((2, 4, 3), (3, 3)),
    ((4, 1, 2), (1, 3, 2, 2)),
])
@pytest.mark.parametrize("kind", ["covariance_matrix", "precision_matrix", "scale_tril"])
def test_multivariate_normal_batch_shapes_broadcast_as_torch(loc_shape, mat_shape, kind):
    k, batch = mat_shape[-1], mat_shape[:-2]
    m = _tril(k, batch, seed=3) if kind == "scale_tril" else _spd(k, batch, seed=3)
    loc = np.random.default_rng(4).normal(size=loc_shape)
    z = D.MultivariateNormal(zeroin.tensor(loc), **{kind: zeroin.tensor(m)})
    t = TD.MultivariateNormal(torch.tensor(loc), **{kind: torch.tensor(m)})
    assert z.batch_shape == t.batch_shape and z.event_shape == t.event_shape
    x = np.random.default_rng(5).normal(size=(2,) + tuple(t.batch_shape) + (k,))
    _close(z.log_prob(zeroin.tensor(x)), t.log_prob(torch.tensor(x)))
    _close(z.entropy(), t.entropy())
    for name in ("covariance_matrix", "precision_matrix", "scale_tril", "variance"):
        _close(getattr(z, name), getattr(t, name))
    assert z.rsample((3,)).shape == (3,) + tuple(t.batch_shape) + (k,)
    wide = z.expand((6,) + tuple(z.batch_shape))
    assert wide.log_prob(wide.sample()).shape == (6,) + tuple(z.batch_shape)


_positive = st.floats(0.05, 50.0)


@settings(max_examples=25, deadline=None)
@given(a=_positive, b=_positive, c=_positive, d=_positive, u=st.floats(0.001, 0.999))
def test_gamma_family_values_match_torch_across_parameters(a, b, c, d, u):
    """log_prob, entropy and KL of Gamma, Beta and Dirichlet for concentrations from 0.05
    (densities unbounded at 0) to 50, against torch."""
    z, t = zeroin.tensor, lambda v: torch.tensor(v, dtype=torch.float64)
    _close(D.Gamma(a, b).log_prob(z(u * 10)), TD.Gamma(t(a), t(b)).log_prob(t(u * 10)))
    _close(D.Beta(a, b).log_prob(z(u)), TD.Beta(t(a), t(b)).log_prob(t(u)))
    _close(D.Beta(a, b).entropy(), TD.Beta(t(a), t(b)).entropy())
    _close(D.Gamma(a, b).entropy(), TD.Gamma(t(a), t(b)).entropy())
    _close(D.kl_divergence(D.Gamma(a, b), D.Gamma(c, d)),
           TD.kl_divergence(TD.Gamma(t(a), t(b)), TD.Gamma(t(c), t(d))))
    _close(D.kl_divergence(D.Beta(a, b), D.Beta(c, d)),
           TD.kl_divergence(TD.Beta(t(a), t(b)), TD.Beta(t(c), t(d))))
    conc = [a, b, c]
    _close(D.Dirichlet(z(conc)).entropy(), TD.Dirichlet(t(conc)).entropy())
    v = [u / 2, u / 2, 1 - u]
    _close(D.Dirichlet(z(conc)).log_prob(z(v)), TD.Dirichlet(t(conc)).log_prob(t(v)))


# --- Multinomial -------------------------------------------------------------------------

_MN_P = _R.uniform(0.1, 2.0, (2, 4))                   # unnormalised weights
_MN_X = np.array([[[1.0, 0.0, 3.0, 2.0], [0.0, 6.0, 0.0, 0.0]],
                  [[2.0, 2.0, 1.0, 1.0], [1.0, 1.0, 1.0, 3.0]]])


@pytest.mark.parametrize("which", ["probs", "logits"])
def test_multinomial_matches_torch(which):
    def build(lib, p):
        return lib.Multinomial(6, **{which: p})
    for call in (lambda d: d.log_prob(_tensor_like(d, _MN_X)), lambda d: d.entropy(),
                 lambda d: d.mean, lambda d: d.variance):
        _compare(build, (_MN_P,), call)
    z = build(D, zeroin.tensor(_MN_P))
    assert (tuple(z.batch_shape), tuple(z.event_shape)) == ((2,), (4,))
    t = build(TD, torch.tensor(_MN_P)).support
    assert type(z.support).__name__ == type(t).__name__
    assert (z.support.upper_bound, z.support.event_dim) == (t.upper_bound, t.event_dim)


def test_multinomial_log_prob_with_minus_inf_logits_matches_torch():
    logits = np.array([0.5, -np.inf, 1.0])
    x = np.array([[2.0, 0.0, 1.0], [0.0, 0.0, 3.0]])
    _close(D.Multinomial(3, logits=zeroin.tensor(logits)).log_prob(zeroin.tensor(x)),
           TD.Multinomial(3, logits=torch.tensor(logits)).log_prob(torch.tensor(x)))


def test_multinomial_sampling_shapes_totals_seed_and_frequencies():
    p = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    d = D.Multinomial(10, zeroin.tensor(p))
    zeroin.manual_seed(11)
    a = d.sample((4000,))
    zeroin.manual_seed(11)
    np.testing.assert_array_equal(a.numpy(), d.sample((4000,)).numpy())
    assert tuple(a.shape) == (4000, 2, 3) and a.dtype == np.float64 and not a.requires_grad
    assert (a.numpy().sum(-1) == 10).all() and (a.numpy() % 1 == 0).all()
    # mean counts 10 p; each count's sd is at most sqrt(10 / 4) / sqrt(4000) < 0.03
    np.testing.assert_allclose(a.numpy().mean(0), 10 * p, atol=0.15)
    e = d.expand((5, 2))
    assert tuple(e.sample((3,)).shape) == (3, 5, 2, 3)
    assert tuple(D.Multinomial(0, zeroin.tensor(p)).sample().shape) == (2, 3)


def test_multinomial_validation():
    p = zeroin.tensor([0.2, 0.8])
    with pytest.raises(NotImplementedError, match="one Python int"):
        D.Multinomial(zeroin.tensor(3.0), p)
    with pytest.raises(NotImplementedError, match="one Python int"):
        D.Multinomial(2.5, p)
    with pytest.raises(ValueError, match="total_count must be >= 0"):
        D.Multinomial(-1, p)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.Multinomial(3)
    with pytest.raises(ValueError, match="Simplex"):
        D.Multinomial(3, zeroin.tensor([-0.2, 0.8]))
    with pytest.raises(ValueError, match="Multinomial"):
        D.Multinomial(3, p).log_prob(zeroin.tensor([2.0, 2.0]))
    with pytest.raises(ValueError, match="Multinomial"):
        D.Multinomial(3, p).log_prob(zeroin.tensor([-1.0, 2.0]))
    batch = D.Multinomial(3, zeroin.tensor([[0.2, 0.8], [0.5, 0.5]]))
    with pytest.raises(ValueError, match=r"invalid values \[2\. 2\.\]"):   # the bad row
        batch.log_prob(zeroin.tensor([[2.0, 2.0], [1.0, 1.0]]))


# --- mixed kl_divergence pairs -----------------------------------------------------------

_KP = _R.uniform(0.5, 3.0, (2, 3))                     # positive parameters
_KQ = _R.uniform(0.5, 3.0, 3)
_KR = _R.normal(size=(2, 1))                           # real parameters
# inside [0, 1]; of the full batch shape (torch's masked assignment needs it)
_LOW = np.array([[0.1, 0.3, 0.05], [0.2, 0.02, 0.5]])
_HIGH = np.array([[0.6, 0.9, 0.95], [0.3, 0.99, 0.7]])
_FAM = {
    "Bernoulli": (lambda lib, p: lib.Bernoulli(p), (np.array([0.0, 0.3, 1.0]),)),
    "Poisson": (lambda lib, r: lib.Poisson(r), (_KQ,)),
    "Binomial": (lambda lib, p: lib.Binomial(4, p), (np.array([0.2, 0.5, 0.9]),)),
    "Beta": (lambda lib, a, b: lib.Beta(a, b), (_KP, _KQ)),
    "Exponential": (lambda lib, r: lib.Exponential(r), (_KQ,)),
    "Gamma": (lambda lib, k, r: lib.Gamma(k, r), (_KQ, _KP)),
    "Normal": (lambda lib, m, s: lib.Normal(m, s), (_KR, _KQ)),
    "Laplace": (lambda lib, m, s: lib.Laplace(m, s), (_KR, _KP)),
    "Uniform": (lambda lib, lo, hi: lib.Uniform(lo, hi), (_LOW, _HIGH)),
}
_MIXED = ["Bernoulli Poisson", "Beta Exponential", "Beta Gamma", "Beta Normal",
          "Beta Uniform", "Exponential Beta", "Exponential Gamma", "Exponential Normal",
          "Exponential Uniform", "Gamma Beta", "Gamma Exponential", "Gamma Normal",
          "Gamma Uniform", "Laplace Beta", "Laplace Exponential", "Laplace Gamma",
          "Laplace Normal", "Laplace Uniform", "Normal Beta", "Normal Exponential",
          "Normal Gamma", "Normal Laplace", "Normal Uniform", "Poisson Bernoulli",
          "Poisson Binomial", "Uniform Beta", "Uniform Exponential", "Uniform Gamma",
          "Uniform Normal"]


@pytest.mark.parametrize("pair", _MIXED)
def test_mixed_kl_pairs_match_torch(pair):
    """Every mixed pair torch registers between families zeroin has: values (inf where
    p's support reaches outside q's) and gradients wrt both sides' parameters."""
    (bp, pp), (bq, pq) = (_FAM[n] for n in pair.split())

    def build(lib, *params):
        return bp(lib, *params[:len(pp)]), bq(lib, *params[len(pp):])

    def kl(pq_):
        lib = TD if isinstance(pq_[0], TD.Distribution) else D
        return lib.kl_divergence(*pq_)
    _compare(build, pp + pq, kl)


def test_mixed_kl_support_edges_and_finite_differences():
    """Uniform p reaching below 0 or above 1 gives inf against Beta/Gamma/Exponential, as
    torch; the gradient of a finite pair matches central differences."""
    lo, hi = np.array([-0.2, 0.2]), np.array([0.5, 1.4])
    for q in (D.Beta(2.0, 3.0), D.Gamma(2.0, 3.0), D.Exponential(2.0)):
        kl = D.kl_divergence(D.Uniform(zeroin.tensor(lo), zeroin.tensor(hi)), q).numpy()
        assert np.isinf(kl[0]) and (np.isinf(kl[1]) == isinstance(q, D.Beta))
    # the edges themselves, low = 0 and high = 1 (x log x at 0), equal torch's values
    # (the gradient there is NaN in both: d(x log x)/dx is log 0)
    t64 = lambda v: torch.tensor(v, dtype=torch.float64)   # noqa: E731
    for zq, tq in ((D.Beta(2.0, 3.0), TD.Beta(t64(2.0), t64(3.0))),
                   (D.Gamma(2.0, 3.0), TD.Gamma(t64(2.0), t64(3.0)))):
        _close(D.kl_divergence(D.Uniform(zeroin.tensor([0.0, 0.5]), zeroin.tensor([1.0, 1.0])),
                               zq),
               TD.kl_divergence(TD.Uniform(t64([0.0, 0.5]), t64([1.0, 1.0])), tq))
    a = np.array([1.5, 0.7])

    def f(a_):
        return D.kl_divergence(D.Beta(zeroin.tensor(a_), 2.0), D.Normal(0.3, 1.2))
    x = zeroin.tensor(a, requires_grad=True)
    D.kl_divergence(D.Beta(x, 2.0), D.Normal(0.3, 1.2)).sum().backward()
    h = 1e-6
    num = [(f(a + h * e).sum().item() - f(a - h * e).sum().item()) / (2 * h) for e in np.eye(2)]
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6)


def test_kl_of_transformed_distributions():
    def build(lib, m1, s1, m2, s2):
        t = [lib.ExpTransform(), lib.AffineTransform(1.0, 2.0)]
        return (lib.TransformedDistribution(lib.Normal(m1, s1), t),
                lib.TransformedDistribution(lib.Normal(m2, s2), list(t)))
    _compare(build, (_KR, _KQ, _R.normal(size=3), _KP),
             lambda pq: (TD if isinstance(pq[0], TD.Distribution) else D).kl_divergence(*pq))
    p = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.ExpTransform()])
    q = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.SigmoidTransform()])
    with pytest.raises(NotImplementedError, match="same transforms"):
        D.kl_divergence(p, q)
    assert D.AffineTransform(1.0, 2.0) == D.AffineTransform(1.0, 2.0) != D.AffineTransform(1.0, 3.0)
