"""The rarer torch.distributions families, transforms and KL pairs against torch: values and
gradients (torch as oracle, finite differences), shapes, expand, seeded sample statistics,
constraints and argument validation."""
import math
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from test_distributions import _close, _compare  # the shared torch helpers
from test_distributions_transforms import _same_constraint, same_constraints
from test_distributions_more import _N, check_moments, check_sample_shapes, check_seeded_repeat

_R = np.random.default_rng(2027)
_LOC = _R.normal(size=3)
_POS, _POS2 = _R.uniform(0.5, 3.0, (2, 3)), _R.uniform(0.5, 3.0, (2, 3))
_XR = _R.normal(size=(2, 3)) * 2                       # real values
_XP = _R.uniform(0.1, 4.0, (2, 3))                     # positive values
_U = _R.uniform(0.02, 0.98, (2, 3))                    # probabilities (icdf, unit values)
_COUNTS = np.array([[0.0, 1.0, 4.0], [2.0, 0.0, 7.0]])
_CB_P = np.array([0.1, 0.4995, 0.5003, 0.8, 0.97])     # two inside the Taylor region
_CB_X = np.array([0.05, 0.3, 0.7, 0.5, 0.99])
_KAPPA = np.array([[0.5, 2.0, 5.0], [1.0, 4.0, 9.0]])  # both sides of 3.75 (I0's pieces)
_GP_C = np.array([-0.3, 1e-12, 0.4])                   # below, at and above 0


def _onehot(idx, k=3):
    return np.eye(k)[idx]


# name: (build(lib, *params), params, value for log_prob/cdf, the calls to compare)
_CASES = {
    "Gumbel": (lambda lib, m, s: lib.Gumbel(m, s), (_LOC, _POS), _XR,
               "mean mode variance stddev entropy log_prob cdf icdf"),
    "HalfNormal": (lambda lib, s: lib.HalfNormal(s), (_POS,), _XP,
                   "mean mode variance stddev entropy log_prob cdf icdf scale"),
    "HalfCauchy": (lambda lib, s: lib.HalfCauchy(s), (_POS,), _XP,
                   "mean mode variance entropy log_prob cdf icdf"),
    "Pareto": (lambda lib, s, a: lib.Pareto(s, a), (_POS * 0.05, _POS2 + 1.5), _XP + 0.2,
               "mean mode variance entropy log_prob cdf icdf"),
    "Pareto-heavy": (lambda lib, s, a: lib.Pareto(s, a), (_POS * 0.05, _POS2 * 0.5), _XP + 0.2,
                     "entropy log_prob"),
    "Weibull": (lambda lib, s, k: lib.Weibull(s, k), (_POS, _POS2), _XP,
                "mean variance entropy log_prob cdf icdf"),
    "Weibull-mode": (lambda lib, s, k: lib.Weibull(s, k), (_POS, _POS2 + 1.0), _XP, "mode"),
    "Chi2": (lambda lib, df: lib.Chi2(df), (_POS,), _XP,
             "mean mode variance entropy log_prob df"),
    "InverseGamma": (lambda lib, c, r: lib.InverseGamma(c, r), (_POS * 1.5, _POS2), _XP,
                     "mean mode variance entropy log_prob concentration rate"),
    "FisherSnedecor": (lambda lib, a, b: lib.FisherSnedecor(a, b), (_POS * 2, _POS2 * 3), _XP,
                       "mean mode variance log_prob"),
    "Kumaraswamy": (lambda lib, a, b: lib.Kumaraswamy(a, b), (_POS, _POS2), _U,
                    "mean variance entropy log_prob cdf icdf"),
    "ContinuousBernoulli-probs": (lambda lib, p: lib.ContinuousBernoulli(p), (_CB_P,), _CB_X,
                                  "mean variance stddev entropy log_prob cdf icdf logits"),
    "ContinuousBernoulli-logits": (lambda lib, lg: lib.ContinuousBernoulli(logits=lg),
                                   (np.r_[_XR[0], 1e-3, -3e-3],), _CB_X,
                                   "mean variance entropy log_prob cdf icdf probs"),
    "NegativeBinomial-probs": (lambda lib, n, p: lib.NegativeBinomial(n, p), (_POS, _U * 0.9),
                               _COUNTS, "mean mode variance log_prob logits"),
    "NegativeBinomial-logits": (lambda lib, n, lg: lib.NegativeBinomial(n, logits=lg),
                                (_POS, _XR), _COUNTS, "mean mode variance log_prob probs"),
    "LogisticNormal": (lambda lib, m, s: lib.LogisticNormal(m, s), (_LOC, _POS),
                       _R.dirichlet(np.ones(4), (5, 2)), "log_prob loc scale"),
    "VonMises": (lambda lib, m, k: lib.VonMises(m, k), (_LOC, _KAPPA), _XR,
                 "mean mode variance log_prob"),
    "LowRankMultivariateNormal": (
        lambda lib, m, w, d: lib.LowRankMultivariateNormal(m, w, d),
        (_R.normal(size=(2, 3)), _R.normal(size=(3, 2)), _POS), _R.normal(size=(4, 2, 3)),
        "mean mode variance stddev entropy log_prob scale_tril covariance_matrix "
        "precision_matrix"),
    "MixtureSameFamily": (
        lambda lib, w, m, s: lib.MixtureSameFamily(lib.Categorical(logits=w), lib.Normal(m, s)),
        (_R.normal(size=(2, 3)), _R.normal(size=(2, 3)), _POS), _R.normal(size=(4, 2)),
        "mean variance log_prob cdf"),
    "MixtureSameFamily-mvn": (
        lambda lib, w, m, s: lib.MixtureSameFamily(lib.Categorical(probs=w),
                                                   lib.Independent(lib.Normal(m, s), 1)),
        (_U[0], _R.normal(size=(3, 2)), _POS.T), _R.normal(size=(4, 2)),
        "mean variance log_prob"),
    "OneHotCategoricalStraightThrough": (
        lambda lib, p: lib.OneHotCategoricalStraightThrough(p), (_POS,), _onehot([0, 2]),
        "mean mode variance entropy log_prob probs"),
}


def _tensor_like(d, a):
    lib = torch if isinstance(d, TD.Distribution) else zeroin
    return lib.tensor(np.asarray(a, dtype=np.float64))


def _call(name, value):
    if name in ("log_prob", "cdf"):
        return lambda d: getattr(d, name)(_tensor_like(d, value))
    if name == "icdf":
        return lambda d: d.icdf(_tensor_like(d, _U if d.batch_shape == (2, 3) else _CB_X))
    if name == "entropy":
        return lambda d: d.entropy()
    return lambda d: getattr(d, name)


@pytest.mark.parametrize("case, call", [(c, n) for c, (_, _, _, names) in _CASES.items()
                                        for n in names.split()])
def test_matches_torch(case, call):
    build, params, value, _ = _CASES[case]
    _compare(build, params, _call(call, value))


def test_generalized_pareto_matches_torch_in_float32():
    """torch 2.13's GeneralizedPareto.log_prob fails for float64 parameters (it compares
    with a float32 zero), so the comparison is in float32 and zeroin's float64 values are
    checked by finite differences below."""
    def pair(a, lib):
        return lib.tensor(np.asarray(a, np.float32), requires_grad=True)
    x, u = _LOC + _XP * 0.3, _U
    for call in ("mean", "mode", "variance", "entropy", "log_prob", "cdf", "icdf",
                 "log_survival_function"):
        zp = [pair(a, zeroin) for a in (_LOC, _POS, _GP_C)]
        tp = [pair(a, torch) for a in (_LOC, _POS, _GP_C)]
        zd, td = D.GeneralizedPareto(*zp), TD.GeneralizedPareto(*tp)
        if call in ("log_prob", "cdf", "log_survival_function"):
            z = getattr(zd, call)(zeroin.tensor(x.astype(np.float32)))
            t = getattr(td, call)(torch.tensor(x.astype(np.float32)))
        elif call == "icdf":
            z, t = zd.icdf(zeroin.tensor(u.astype(np.float32))), td.icdf(torch.tensor(
                u.astype(np.float32)))
        else:
            z, t = (zd.entropy(), td.entropy()) if call == "entropy" else \
                (getattr(zd, call), getattr(td, call))
        assert z.dtype == zeroin.float32 and tuple(z.shape) == tuple(t.shape)
        _close(z, t, rtol=2e-6, atol=1e-6)
        if t.requires_grad:
            fin = torch.isfinite(t)
            t[fin].sum().backward()
            zeroin.where(zeroin.tensor(fin.numpy()), z, 0.0).sum().backward()
            for a, b in zip(zp, tp):
                if b.grad is not None:
                    _close(a.grad, b.grad, rtol=1e-4, atol=1e-5)


def test_generalized_pareto_support_and_float64_gradients():
    loc, scale = zeroin.tensor(_LOC, requires_grad=True), zeroin.tensor(_POS,
                                                                        requires_grad=True)
    conc = zeroin.tensor(_GP_C[[0, 2, 2]], requires_grad=True)
    x = zeroin.tensor(_LOC + _XP * 0.3)
    assert zeroin.gradcheck(lambda a, b, c: D.GeneralizedPareto(a, b, c).log_prob(x),
                            [loc, scale, conc])
    u = zeroin.tensor(_U)
    assert zeroin.gradcheck(lambda a, b, c: D.GeneralizedPareto(a, b, c).icdf(u),
                            [loc, scale, conc])
    d = D.GeneralizedPareto(zeroin.tensor(_LOC), zeroin.tensor(_POS), zeroin.tensor(_GP_C))
    t = TD.GeneralizedPareto(torch.tensor(_LOC), torch.tensor(_POS), torch.tensor(_GP_C))
    _same_constraint(d.support, t.support)
    with pytest.raises(ValueError, match="GeneralizedPareto"):
        d.log_prob(zeroin.tensor(_LOC - 0.1))       # below loc
    x = np.tile(_LOC + 0.1, (2, 1))
    x[:, 0] = _LOC[0] + _POS[:, 0] / 0.3 + 1.0      # concentration -0.3: above the top
    with pytest.raises(ValueError, match="GeneralizedPareto"):
        d.log_prob(zeroin.tensor(x))
    lax = D.GeneralizedPareto(zeroin.tensor(_LOC), zeroin.tensor(_POS), zeroin.tensor(_GP_C),
                              validate_args=False)
    with np.errstate(invalid="ignore"):
        lp = lax.log_prob(zeroin.tensor(x)).numpy()  # NaN beyond the top, as PyTorch
    assert np.isnan(lp[:, 0]).all() and np.isfinite(lp[:, 1:]).all()


def test_kumaraswamy_mode_is_the_density_maximum():
    """PyTorch 2.13's Kumaraswamy.mode is NaN wherever concentration0 > 1 (a wrong
    formula); zeroin's is ((a - 1) / (a b - 1))^(1/a), the argmax of the density."""
    a = np.array([2.0, 3.5, 1.0, 1.5, 0.5, 1.0])
    b = np.array([3.0, 1.2, 2.0, 1.0, 2.0, 1.0])
    mode = D.Kumaraswamy(zeroin.tensor(a), zeroin.tensor(b)).mode.numpy()
    grid = np.linspace(1e-6, 1 - 1e-6, 200001)
    for i in range(4):
        pdf = a[i] * b[i] * grid ** (a[i] - 1) * (1 - grid ** a[i]) ** (b[i] - 1)
        assert abs(mode[i] - grid[np.argmax(pdf)]) < 1e-4
    assert np.isnan(mode[4:]).all()                  # a < 1; the uniform a = b = 1
    ca = zeroin.tensor(a[:2], requires_grad=True)
    assert zeroin.gradcheck(lambda x: D.Kumaraswamy(x, zeroin.tensor(b[:2])).mode, [ca])


def test_weibull_mode_below_concentration_one_and_von_mises_variance_without_warnings():
    """PyTorch's Weibull mode formula gives NaN for concentration < 1 (a number where 1 /
    concentration is an even integer); zeroin gives NaN there, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = D.Weibull(zeroin.tensor([1.0, 2.0, 1.0]), zeroin.tensor([0.7, 2.0, 1.0])).mode
        v = D.VonMises(zeroin.tensor([0.0, 0.0]), zeroin.tensor([0.5, 9.0])).variance
        p = D.Pareto(zeroin.tensor([1.0, 1.0]), zeroin.tensor([0.5, 1.0]))
        mean, var = p.mean, p.variance
    _close(m, TD.Weibull(torch.tensor([1.0, 2.0, 1.0]), torch.tensor([0.7, 2.0, 1.0])).mode)
    assert np.isfinite(v.numpy()).all()
    assert np.isinf(mean.numpy()).all() and np.isinf(var.numpy()).all()
    t = TD.Pareto(torch.tensor(_POS * 0.05), torch.tensor(_POS2 * 0.5))   # alpha 0.25 .. 1.5
    z = D.Pareto(zeroin.tensor(_POS * 0.05), zeroin.tensor(_POS2 * 0.5))
    _close(z.mean, t.mean)
    _close(z.variance, t.variance)


# --- kl_divergence ---------------------------------------------------------------------

_ALPHA = np.array([[0.5, 1.5, 2.5], [3.0, 4.0, 0.8]])    # Pareto shapes on both sides of 1, 2


def _spd(k, seed=0):
    a = np.random.default_rng(seed).normal(size=(k, k))
    return a @ a.T + k * np.eye(k)


_KL = {
    "Gumbel-Gumbel": (lambda lib, a, b, c, d: (lib.Gumbel(a, b), lib.Gumbel(c, d)),
                      (_LOC, _POS, _XR, _POS2)),
    "HalfNormal-HalfNormal": (lambda lib, a, b: (lib.HalfNormal(a), lib.HalfNormal(b)),
                              (_POS, _POS2)),
    "Pareto-Pareto": (lambda lib, a, b, c, d: (lib.Pareto(a, b), lib.Pareto(c, d)),
                      (_POS, _POS2, _POS2, _POS)),
    "ContinuousBernoulli-ContinuousBernoulli": (
        lambda lib, a, b: (lib.ContinuousBernoulli(a), lib.ContinuousBernoulli(logits=b)),
        (_CB_P, _CB_X * 4 - 2)),
    "Beta-ContinuousBernoulli": (lambda lib, a, b, c: (lib.Beta(a, b),
                                                       lib.ContinuousBernoulli(c)),
                                 (_POS, _POS2, _U)),
    "Uniform-ContinuousBernoulli": (
        lambda lib, a, b, c: (lib.Uniform(a, a + b), lib.ContinuousBernoulli(c)),
        (_U * 0.5, _U * 0.4, _U[::-1])),
    "ContinuousBernoulli-Exponential": (
        lambda lib, a, b: (lib.ContinuousBernoulli(a), lib.Exponential(b)), (_U, _POS)),
    "ContinuousBernoulli-Normal": (
        lambda lib, a, b, c: (lib.ContinuousBernoulli(a), lib.Normal(b, c)), (_U, _LOC, _POS)),
    "ContinuousBernoulli-Uniform": (
        lambda lib, a, b, c: (lib.ContinuousBernoulli(a), lib.Uniform(b - 1.5, c + 1)),
        (_U, _U, _POS)),
    "Exponential-Gumbel": (lambda lib, a, b, c: (lib.Exponential(a), lib.Gumbel(b, c)),
                           (_POS, _LOC, _POS2)),
    "Gamma-Gumbel": (lambda lib, a, b, c, d: (lib.Gamma(a, b), lib.Gumbel(c, d)),
                     (_POS, _POS2, _LOC, _POS)),
    "Gumbel-Normal": (lambda lib, a, b, c, d: (lib.Gumbel(a, b), lib.Normal(c, d)),
                      (_LOC, _POS, _XR, _POS2)),
    "Normal-Gumbel": (lambda lib, a, b, c, d: (lib.Normal(a, b), lib.Gumbel(c, d)),
                      (_LOC, _POS, _XR, _POS2)),
    "Pareto-Exponential": (lambda lib, a, b, c: (lib.Pareto(a, b), lib.Exponential(c)),
                           (_POS, _ALPHA, _POS2)),
    "Pareto-Gamma": (lambda lib, a, b, c, d: (lib.Pareto(a, b), lib.Gamma(c, d)),
                     (_POS, _ALPHA, _POS2, _POS)),
    "Pareto-Normal": (lambda lib, a, b, c, d: (lib.Pareto(a, b), lib.Normal(c, d)),
                      (_POS, _ALPHA, _XR, _POS2)),
    "Uniform-Gumbel": (lambda lib, a, b, c, d: (lib.Uniform(a, a + b), lib.Gumbel(c, d)),
                       (_XR, _POS, _LOC, _POS2)),
    "Uniform-Pareto": (lambda lib, a, b, c, d: (lib.Uniform(a, a + b), lib.Pareto(c, d)),
                       (_POS, _POS2, _U * 2, _POS)),
    "LowRank-LowRank": (
        lambda lib, a, b, c, d, e, f: (lib.LowRankMultivariateNormal(a, b, c),
                                       lib.LowRankMultivariateNormal(d, e, f)),
        (_XR, _R.normal(size=(3, 2)), _POS, _LOC, _R.normal(size=(2, 3, 1)), _POS2)),
    "MultivariateNormal-LowRank": (
        lambda lib, a, b, d, e, f: (lib.MultivariateNormal(a, covariance_matrix=b),
                                    lib.LowRankMultivariateNormal(d, e, f)),
        (_XR, _spd(3), _LOC, _R.normal(size=(2, 3, 2)), _POS2)),
    "LowRank-MultivariateNormal": (
        lambda lib, d, e, f, a, b: (lib.LowRankMultivariateNormal(d, e, f),
                                    lib.MultivariateNormal(a, scale_tril=b)),
        (_LOC, _R.normal(size=(2, 3, 2)), _POS2, _XR, np.linalg.cholesky(_spd(3, 4)))),
    "InverseGamma-InverseGamma": (lambda lib, a, b, c, d: (lib.InverseGamma(a, b),
                                                           lib.InverseGamma(c, d)),
                                  (_POS, _POS2, _POS2, _POS)),
    "Chi2-Chi2": (lambda lib, a, b: (lib.Chi2(a), lib.Chi2(b)), (_POS, _POS2)),
    "Chi2-Gamma": (lambda lib, a, b, c: (lib.Chi2(a), lib.Gamma(b, c)), (_POS, _POS2, _POS)),
}
_INFINITE = [("Gumbel", "Beta"), ("Gumbel", "ContinuousBernoulli"), ("Gumbel", "Exponential"),
             ("Gumbel", "Gamma"), ("Gumbel", "Pareto"), ("Gumbel", "Uniform"),
             ("Exponential", "ContinuousBernoulli"), ("Exponential", "Pareto"),
             ("Gamma", "ContinuousBernoulli"), ("Gamma", "Pareto"),
             ("Laplace", "ContinuousBernoulli"), ("Laplace", "Pareto"),
             ("Normal", "ContinuousBernoulli"), ("Normal", "Pareto"), ("Pareto", "Beta"),
             ("Pareto", "ContinuousBernoulli"), ("Pareto", "Uniform"), ("Beta", "Pareto"),
             ("ContinuousBernoulli", "Pareto")]
_ARGS = {"Gumbel": (_LOC, _POS), "Beta": (_POS, _POS2), "ContinuousBernoulli": (_U,),
         "Exponential": (_POS,), "Gamma": (_POS, _POS2), "Pareto": (_POS, _POS2),
         "Uniform": (_XR, _XR + 1), "Laplace": (_LOC, _POS), "Normal": (_LOC, _POS)}


@pytest.mark.parametrize("case", sorted(_KL))
def test_kl_divergence_matches_torch(case):
    build, params = _KL[case]
    _compare(lambda lib, *ps: lib.kl_divergence(*build(lib, *ps)), params, lambda out: out)


@pytest.mark.parametrize("p, q", _INFINITE)
def test_kl_divergence_infinite_pairs_match_torch(p, q):
    def make(lib, name):
        return getattr(lib, name)(*[(zeroin if lib is D else torch).tensor(a)
                                    for a in _ARGS[name]])
    z, t = D.kl_divergence(make(D, p), make(D, q)), TD.kl_divergence(make(TD, p), make(TD, q))
    _close(z, t)
    assert np.isinf(z.numpy()).all()


def test_kl_gradcheck_and_boundaries():
    a, b = zeroin.tensor(_POS, requires_grad=True), zeroin.tensor(_POS2, requires_grad=True)
    assert zeroin.gradcheck(lambda x, y: D.kl_divergence(D.Gumbel(x, y), D.Gumbel(y, x)),
                            [a, b])
    assert zeroin.gradcheck(lambda x, y: D.kl_divergence(D.Pareto(x, y + 2),
                                                         D.Normal(y, x)), [a, b])
    w = zeroin.tensor(_R.normal(size=(3, 2)), requires_grad=True)
    assert zeroin.gradcheck(lambda x, w: D.kl_divergence(
        D.LowRankMultivariateNormal(x[0], w, x[1]),
        D.LowRankMultivariateNormal(x[1] * 0, w * 0.5, x[0])), [a, w])
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(D.LowRankMultivariateNormal(zeroin.zeros(2), zeroin.ones(2, 1),
                                                    zeroin.ones(2)),
                        D.MultivariateNormal(zeroin.zeros(3), zeroin.eye(3)))
    # ContinuousBernoulli against Uniform(0, 1): finite (PyTorch 2.13 says inf there)
    cb, u01 = D.ContinuousBernoulli(zeroin.tensor(_CB_P)), D.Uniform(0.0, 1.0)
    _close(D.kl_divergence(cb, u01), -cb.entropy())
    grid = zeroin.tensor((np.arange(20000) + 0.5)[:, None] / 20000)   # midpoint rule
    _close(D.kl_divergence(u01, cb), -cb.log_prob(grid).mean(0), rtol=1e-6)
    u = D.Uniform(zeroin.tensor([-0.1, 0.2]), zeroin.tensor([0.5, 1.2]))
    assert np.isinf(D.kl_divergence(u, D.ContinuousBernoulli(0.3)).numpy()).all()
    assert np.isinf(D.kl_divergence(D.ContinuousBernoulli(0.3),
                                    D.Uniform(zeroin.tensor([0.1, -1.0]),
                                              zeroin.tensor([2.0, 0.9]))).numpy()).all()
    with pytest.raises(NotImplementedError):     # different transforms
        D.kl_divergence(D.Weibull(1.0, 2.0), D.Weibull(1.0, 3.0))


# --- transforms and constraints --------------------------------------------------------

def _float64(lib, v):
    m = torch if lib is TD else zeroin
    return m.tensor(v, dtype=m.float64)


# name: (build(lib), input, bijective)
_TRANSFORMS = {
    "LowerCholesky": (lambda lib: lib.LowerCholeskyTransform(), _R.normal(size=(2, 3, 3)),
                      False),
    "PositiveDefinite": (lambda lib: lib.PositiveDefiniteTransform(),
                         _R.normal(size=(2, 3, 3)), False),
    "CorrCholesky": (lambda lib: lib.CorrCholeskyTransform(), _R.normal(size=(2, 6)) * 2, True),
    "Reshape": (lambda lib: lib.ReshapeTransform((2, 3), (3, 2)), _R.normal(size=(4, 2, 3)),
                True),
    "Cat-last": (lambda lib: lib.CatTransform([lib.ExpTransform(), lib.AffineTransform(1.0, 2.0),
                                               lib.SigmoidTransform()], dim=-1,
                                              lengths=[1, 2, 1]), _R.normal(size=(3, 4)), True),
    "Cat-first": (lambda lib: lib.CatTransform([lib.ExpTransform(), lib.TanhTransform()], dim=0,
                                               lengths=[2, 1]), _R.normal(size=(3, 4)), True),
    "Cat-event": (lambda lib: lib.CatTransform([lib.IndependentTransform(lib.ExpTransform(), 1),
                                                lib.SoftplusTransform()], dim=0),
                   _R.normal(size=(2, 3)), True),
    "Stack": (lambda lib: lib.StackTransform([lib.ExpTransform(), lib.SoftplusTransform(),
                                              lib.TanhTransform()], dim=1),
              _R.normal(size=(2, 3)), True),
    "Stack-last": (lambda lib: lib.StackTransform([lib.ExpTransform(), lib.SigmoidTransform()],
                                                  dim=-1), _R.normal(size=(3, 2)), True),
    "CumulativeDistribution": (lambda lib: lib.CumulativeDistributionTransform(
        lib.Normal(_float64(lib, 0.3), _float64(lib, 1.7))), _R.normal(size=(2, 3)), True),
}


@pytest.mark.parametrize("name", list(_TRANSFORMS))
def test_transform_matches_torch(name):
    build, x, bijective = _TRANSFORMS[name]
    zt, tt = build(D), build(TD)
    zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zy, ty = zt(zx), tt(tx)
    _close(zy, ty)
    _close(zt.inv(zy.detach()), tt.inv(ty.detach()), atol=1e-7)
    assert zt.bijective == tt.bijective
    for a, b in ((zt.domain, tt.domain), (zt.codomain, tt.codomain)):
        assert a.event_dim == b.event_dim and type(a).__name__ == type(b).__name__
    assert tuple(zt.forward_shape(zeroin.Size(x.shape))) == tuple(tt.forward_shape(x.shape))
    assert tuple(zt.inverse_shape(zeroin.Size(zy.shape))) == tuple(tt.inverse_shape(ty.shape))
    try:
        expected = tt.codomain.check(ty.detach()).numpy()
    except RuntimeError:                         # torch cannot cat mixed event dims either
        with pytest.raises(ValueError):
            zt.codomain.check(zy.detach())
    else:
        np.testing.assert_array_equal(zt.codomain.check(zy.detach()).numpy(), expected)
    w = _R.uniform(0.5, 1.5, tuple(ty.shape))
    (zy * zeroin.tensor(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    _close(zx.grad, tx.grad)
    if bijective:
        zx2, tx2 = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        zl = zt.log_abs_det_jacobian(zx2, zt(zx2))
        tl = tt.log_abs_det_jacobian(tx2, tt(tx2))
        _close(zl, tl)
        assert zl.requires_grad == tl.requires_grad
        if tl.requires_grad:                     # not Reshape's zeros
            zl.sum().backward()
            tl.sum().backward()
            _close(zx2.grad, tx2.grad)


def test_corr_cholesky_log_det_and_inverse_by_finite_differences():
    """The log-Jacobian is log |det dy/dx| over the D(D-1)/2 free entries of y (its strict
    lower triangle), checked against a finite-difference Jacobian; gradcheck of the map."""
    t, x = D.CorrCholeskyTransform(), _R.normal(size=6) * 0.8
    y = t(zeroin.tensor(x))
    rows, cols = np.tril_indices(4, -1)

    def free(v):
        return t(zeroin.tensor(v)).numpy()[rows, cols]
    h = 1e-6
    jac = np.stack([(free(x + h * e) - free(x - h * e)) / (2 * h) for e in np.eye(6)], 1)
    np.testing.assert_allclose(t.log_abs_det_jacobian(zeroin.tensor(x), y).item(),
                               np.log(abs(np.linalg.det(jac))), rtol=1e-6)
    corr = (y @ y.mT).numpy()
    np.testing.assert_allclose(np.diag(corr), 1.0, rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(corr) > 0)
    xv = zeroin.tensor(x, requires_grad=True)
    assert zeroin.gradcheck(lambda v: t(v), [xv])
    with pytest.raises(ValueError, match="lower triangle"):
        t.forward_shape(zeroin.Size([2, 5]))


def test_transform_errors_and_equality():
    with pytest.raises(ValueError, match="different numbers of elements"):
        D.ReshapeTransform((2, 3), (4,))
    r = D.ReshapeTransform((2, 3), (6,))
    with pytest.raises(ValueError, match="shape mismatch"):
        r.forward_shape(zeroin.Size([5, 3, 2]))
    assert r == D.ReshapeTransform((2, 3), (6,)) and r != D.ReshapeTransform((3, 2), (6,))
    with pytest.raises(ValueError, match="lengths"):
        D.CatTransform([D.ExpTransform()], lengths=[1, 2])
    with pytest.raises(ValueError, match="must equal length 3"):
        D.CatTransform([D.ExpTransform(), D.ExpTransform()], 0, [1, 2])(zeroin.zeros(4))
    with pytest.raises(ValueError, match="len\\(transforms\\) 2"):
        D.StackTransform([D.ExpTransform()] * 2, dim=0)(zeroin.zeros(3))
    with pytest.raises(TypeError, match="Transform"):
        D.StackTransform([D.ExpTransform(), "exp"])
    c = D.CatTransform([D.ExpTransform(), D.TanhTransform()], 0, [1, 1], cache_size=1)
    x = zeroin.tensor([0.3, 40.0])
    y = c(x)
    assert y[1].item() == 1.0 and c.inv(y) is x              # the cache, as PyTorch
    assert D.identity_transform is D.transforms.identity_transform
    assert D.identity_transform(x) is x


def test_new_constraints_check_like_torch():
    _C, _TC = D.constraints, TD.constraints
    t = TD.CorrCholeskyTransform()(torch.tensor(_R.normal(size=(3, 3))))
    bad = t.clone()
    bad[1, 2, 1] += 0.1
    for v in (t, bad, t.abs()):
        np.testing.assert_array_equal(_C.corr_cholesky.check(zeroin.tensor(v.numpy())).numpy(),
                                      _TC.corr_cholesky.check(v).numpy())
    v = np.array([[-1.0, 0.5, 2.0], [1.0, 1.5, -0.5]])
    for zc, tc in ((_C.cat([_C.positive, _C.unit_interval], 1, [2, 1]),
                    _TC.cat([_TC.positive, _TC.unit_interval], 1, [2, 1])),
                   (_C.stack([_C.real, _C.positive, _C.unit_interval], -1),
                    _TC.stack([_TC.real, _TC.positive, _TC.unit_interval], -1)),
                   (_C.MixtureSameFamilyConstraint(_C.positive),
                    _TC.MixtureSameFamilyConstraint(_TC.positive))):
        np.testing.assert_array_equal(zc.check(zeroin.tensor(v)).numpy(),
                                      tc.check(torch.tensor(v)).numpy())
        assert zc.event_dim == tc.event_dim and zc.is_discrete == tc.is_discrete
    assert repr(_C.MixtureSameFamilyConstraint(_C.positive)) == repr(
        _TC.MixtureSameFamilyConstraint(_TC.positive))


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_biject_to_and_transform_to_for_the_matrix_and_piecewise_constraints(registry):
    _C, _TC = D.constraints, TD.constraints
    zr, tr = getattr(D, registry), getattr(TD, registry)
    cases = [("lower_cholesky", _R.normal(size=(2, 3, 3))),
             ("positive_definite", _R.normal(size=(2, 3, 3))),
             ("corr_cholesky", _R.normal(size=(2, 3)))]
    for name, x in cases:
        zc, tc = getattr(_C, name), getattr(_TC, name)
        try:
            tt = tr(tc)
        except NotImplementedError:              # biject_to has no bijection onto them
            with pytest.raises(NotImplementedError, match="Cannot transform"):
                zr(zc)
            continue
        zt = zr(zc)
        assert type(zt).__name__ == type(tt).__name__
        zy = zt(zeroin.tensor(x))
        _close(zy, tt(torch.tensor(x)))
        assert zc.check(zy).numpy().all()
    zc = _C.cat([_C.positive, _C.interval(-1.0, 2.0)], -1, [2, 1])
    tc = _TC.cat([_TC.positive, _TC.interval(-1.0, 2.0)], -1, [2, 1])
    x = _R.normal(size=(4, 3))
    zt, tt = zr(zc), tr(tc)
    assert type(zt).__name__ == type(tt).__name__ == "CatTransform"
    _close(zt(zeroin.tensor(x)), tt(torch.tensor(x)))
    zc = _C.stack([_C.simplex, _C.real_vector], 0)
    tc = _TC.stack([_TC.simplex, _TC.real_vector], 0)
    x = _R.normal(size=(2, 3))
    if registry == "transform_to":               # softmax keeps the shape; stick-breaking not
        _close(zr(zc)(zeroin.tensor(x)), tr(tc)(torch.tensor(x)))
    assert type(zr(zc)).__name__ == "StackTransform"


# --- shapes, expand, sampling ----------------------------------------------------------

_Z = zeroin.tensor
_DISTS = {   # name: build(dtype) of a distribution with batch_shape (2,)
    "Gumbel": lambda dt: D.Gumbel(_Z([0.0, 1.0], dtype=dt), 2.0),
    "HalfNormal": lambda dt: D.HalfNormal(_Z([0.5, 2.0], dtype=dt)),
    "HalfCauchy": lambda dt: D.HalfCauchy(_Z([0.5, 2.0], dtype=dt)),
    "Pareto": lambda dt: D.Pareto(_Z([1.0, 2.0], dtype=dt), _Z([5.0, 9.0], dtype=dt)),
    "Weibull": lambda dt: D.Weibull(_Z([1.0, 2.0], dtype=dt), _Z([0.8, 3.0], dtype=dt)),
    "Chi2": lambda dt: D.Chi2(_Z([1.5, 8.0], dtype=dt)),
    "InverseGamma": lambda dt: D.InverseGamma(_Z([5.0, 9.0], dtype=dt), 2.0),
    "FisherSnedecor": lambda dt: D.FisherSnedecor(_Z([5.0, 12.0], dtype=dt),
                                                  _Z([10.0, 20.0], dtype=dt)),
    "Kumaraswamy": lambda dt: D.Kumaraswamy(_Z([0.5, 3.0], dtype=dt), _Z([2.0, 0.7], dtype=dt)),
    "ContinuousBernoulli": lambda dt: D.ContinuousBernoulli(_Z([0.2, 0.5], dtype=dt)),
    "NegativeBinomial": lambda dt: D.NegativeBinomial(_Z([3.0, 10.5], dtype=dt),
                                                      _Z([0.3, 0.6], dtype=dt)),
    "GeneralizedPareto": lambda dt: D.GeneralizedPareto(_Z([0.0, 1.0], dtype=dt), 2.0,
                                                        _Z([-0.4, 0.1], dtype=dt)),
    "LogisticNormal": lambda dt: D.LogisticNormal(_Z([[0.0, 1.0], [-1.0, 0.5]], dtype=dt), 0.7),
    "OneHotCategoricalStraightThrough": lambda dt: D.OneHotCategoricalStraightThrough(
        logits=_Z([[0.0, 1.0, -1.0], [2.0, 0.0, 0.0]], dtype=dt)),
    "LowRankMultivariateNormal": lambda dt: D.LowRankMultivariateNormal(
        zeroin.zeros(2, 3, dtype=dt), _Z([[1.0], [0.5], [-1.0]], dtype=dt),
        _Z([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]], dtype=dt)),
    "MixtureSameFamily": lambda dt: D.MixtureSameFamily(
        D.Categorical(logits=_Z([[0.0, 1.0, 0.5], [1.0, 0.0, 0.0]], dtype=dt)),
        D.Normal(_Z([[-2.0, 0.0, 3.0], [1.0, 2.0, 5.0]], dtype=dt), 0.8)),
    "VonMises": lambda dt: D.VonMises(_Z([0.5, -2.5], dtype=dt), _Z([0.5, 6.0], dtype=dt)),
}


@pytest.mark.parametrize("name", sorted(_DISTS))
@pytest.mark.parametrize("sample_shape", [(), (5,), (2, 3)])
@pytest.mark.parametrize("dtype", [zeroin.float64, zeroin.float32])
def test_sample_shapes_dtypes_and_expand(name, sample_shape, dtype):
    check_sample_shapes(_DISTS[name](dtype), sample_shape, dtype,
                        has_mean=name != "LogisticNormal")      # no mean in PyTorch either


@pytest.mark.parametrize("name", sorted(_DISTS))
def test_samples_repeat_after_manual_seed(name):
    check_seeded_repeat(_DISTS[name])


@pytest.mark.parametrize("name", sorted(set(_DISTS) - {"HalfCauchy", "LogisticNormal",
                                                        "VonMises"}))
def test_sample_mean_and_variance(name):
    check_moments(_DISTS[name](zeroin.float64), rtol=0.1)


def test_sample_distributions_where_moments_do_not_tell():
    zeroin.manual_seed(3)
    h = D.HalfCauchy(2.0).sample((_N,)).numpy()
    assert h.min() >= 0 and abs(np.median(h) - 2.0) < 0.06      # median = scale
    v = D.VonMises(_Z([0.5, -2.5]), _Z([0.5, 6.0])).sample((_N,)).numpy()
    assert v.min() >= -math.pi and v.max() < math.pi
    r = np.exp(1j * v).mean(0)                   # circular mean and 1 - mean resultant length
    np.testing.assert_allclose(np.angle(r), [0.5, -2.5], atol=0.03)
    np.testing.assert_allclose(1 - np.abs(r), D.VonMises(_Z([0.5, -2.5]), _Z([0.5, 6.0]))
                               .variance.numpy(), atol=0.01)
    ln = D.LogisticNormal(_Z([0.0, 1.0]), 0.5)
    s = ln.sample((_N,)).numpy()
    assert s.shape == (_N, 3)
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    base = np.log(s[:, :-1] / (1 - np.cumsum(s, -1)[:, :-1])) + np.log([2.0, 1.0])
    np.testing.assert_allclose(base.mean(0), [0.0, 1.0], atol=0.02)
    np.testing.assert_allclose(base.std(0), [0.5, 0.5], rtol=0.02)
    lr = _DISTS["LowRankMultivariateNormal"](zeroin.float64)
    y = lr.sample((_N,)).numpy()[:, 0]
    cov = lr.covariance_matrix.numpy()[0]
    np.testing.assert_allclose(np.cov(y.T), cov, atol=0.05 * np.abs(cov).max())
    st = D.OneHotCategoricalStraightThrough(_Z([0.2, 0.5, 0.3]))
    np.testing.assert_allclose(st.sample((_N,)).numpy().mean(0), [0.2, 0.5, 0.3], atol=0.01)


# --- gradients by finite differences -----------------------------------------------------

def _seeded(fn):
    """fn with zeroin's generator reset on each call, so a draw is a function of the
    parameters only (what finite differences need)."""
    def call(*args):
        zeroin.manual_seed(11)
        return fn(*args)
    return call


_GRADCHECK = {   # name: (fn of the parameter tensors, parameters)
    "Gumbel": (lambda a, b: D.Gumbel(a, b), (_LOC, _POS)),
    "HalfNormal": (lambda a: D.HalfNormal(a), (_POS,)),
    "HalfCauchy": (lambda a: D.HalfCauchy(a), (_POS,)),
    "Pareto": (lambda a, b: D.Pareto(a, b), (_POS, _POS2)),
    "Weibull": (lambda a, b: D.Weibull(a, b), (_POS, _POS2)),
    "Kumaraswamy": (lambda a, b: D.Kumaraswamy(a, b), (_POS, _POS2)),
    "ContinuousBernoulli": (lambda p: D.ContinuousBernoulli(p), (_CB_P[[0, 3, 4]],)),
    "LogisticNormal": (lambda a, b: D.LogisticNormal(a, b), (_LOC, _POS)),
    "LowRankMultivariateNormal": (lambda m, w, d: D.LowRankMultivariateNormal(m, w, d),
                                  (_XR, _R.normal(size=(3, 2)), _POS)),
    "GeneralizedPareto": (lambda a, b, c: D.GeneralizedPareto(a, b, c),
                          (_LOC, _POS, _GP_C[[0, 2, 2]])),
}


@pytest.mark.parametrize("name", sorted(_GRADCHECK))
def test_rsample_and_log_prob_gradcheck(name):
    fn, params = _GRADCHECK[name]
    ps = [zeroin.tensor(p, requires_grad=True) for p in params]
    assert zeroin.gradcheck(_seeded(lambda *a: fn(*a).rsample((3,))), ps)
    with zeroin.no_grad():
        x = _seeded(lambda *a: fn(*a).sample((2,)))(*ps)
    assert zeroin.gradcheck(lambda *a: fn(*a).log_prob(x), ps)
    if name not in ("LogisticNormal",):
        assert zeroin.gradcheck(lambda *a: fn(*a).entropy(), ps)


def _gamma_quantile(conc, rate, q):
    """The q-quantile of Gamma(conc, rate), by bisection on torch's float64 cdf."""
    g, lo, hi = TD.Gamma(torch.tensor(conc, dtype=torch.float64), rate), 1e-12, 1e3
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if g.cdf(torch.tensor(mid, dtype=torch.float64)).item() < q \
            else (lo, mid)
    return (lo + hi) / 2


def test_implicit_reparameterisation_of_the_gamma_based_families():
    """InverseGamma, Chi2 and FisherSnedecor draw through Gamma's implicit
    reparameterisation: d(draw)/d(parameter) at a fixed quantile, checked against finite
    differences of the quantile function (the draw keeps its cdf level)."""
    c = zeroin.tensor([2.5, 4.0], dtype=zeroin.float64, requires_grad=True)
    zeroin.manual_seed(4)
    x = D.InverseGamma(c, 1.5).rsample()
    x.sum().backward()
    u = TD.InverseGamma(torch.tensor([2.5, 4.0], dtype=torch.float64), 1.5).cdf(
        torch.tensor(x.detach().numpy())).numpy()
    h = 1e-6
    for i, ci in enumerate([2.5, 4.0]):     # x = 1 / g, g at quantile 1 - u of Gamma(c, 1.5)
        fd = (1 / _gamma_quantile(ci + h, 1.5, 1 - u[i])
              - 1 / _gamma_quantile(ci - h, 1.5, 1 - u[i])) / (2 * h)
        np.testing.assert_allclose(c.grad.numpy()[i], fd, rtol=1e-4)
    df1 = zeroin.tensor([3.0, 7.0], requires_grad=True)
    df2 = zeroin.tensor([5.0, 9.0], requires_grad=True)
    zeroin.manual_seed(4)
    D.FisherSnedecor(df1, df2).rsample((10,)).sum().backward()
    assert np.isfinite(df1.grad.numpy()).all() and np.isfinite(df2.grad.numpy()).all()
    df = zeroin.tensor([3.0], requires_grad=True)
    zeroin.manual_seed(4)
    D.Chi2(df).rsample().sum().backward()
    assert df.grad.item() != 0


def test_straight_through_and_log_prob_value_gradients():
    logits = zeroin.tensor([[0.2, -1.0, 0.7]], requires_grad=True)
    d = D.OneHotCategoricalStraightThrough(logits=logits)
    zeroin.manual_seed(0)
    s = d.rsample((4,))
    assert set(np.unique(s.detach().numpy())) <= {0.0, 1.0}
    w = zeroin.tensor([1.0, 2.0, 3.0])
    (s * w).sum().backward()
    p = d.probs.detach().numpy()[0]
    np.testing.assert_allclose(logits.grad.numpy()[0], 4 * p * (w.numpy() - p @ w.numpy()))
    for build in (lambda lib: lib.Gumbel(0.5, 2.0), lambda lib: lib.VonMises(0.3, 2.0),
                  lambda lib: lib.Kumaraswamy(2.0, 3.0)):
        z, t = zeroin.tensor(_U, requires_grad=True), torch.tensor(_U, requires_grad=True)
        build(D).log_prob(z).sum().backward()
        build(TD).log_prob(t).sum().backward()
        _close(z.grad, t.grad, rtol=1e-5, atol=1e-6)     # torch's float32 parameters


# --- constraints, validation, the rest -------------------------------------------------

_P3 = np.array([0.2, 0.3, 0.5])
_FAMILIES = {   # name: arguments (numbers or arrays), as for torch
    "Gumbel": (0.0, 1.0), "HalfNormal": (1.0,), "HalfCauchy": (1.0,), "Pareto": (1.0, 2.0),
    "Weibull": (1.0, 2.0), "Chi2": (3.0,), "InverseGamma": (2.0, 1.0),
    "FisherSnedecor": (2.0, 5.0), "Kumaraswamy": (2.0, 3.0), "ContinuousBernoulli": (0.3,),
    "NegativeBinomial": (3.0, 0.4), "GeneralizedPareto": (0.0, 1.0, -0.5),
    "LogisticNormal": (np.zeros(2), np.ones(2)), "VonMises": (0.0, 1.0),
    "OneHotCategoricalStraightThrough": (_P3,),
    "LowRankMultivariateNormal": (np.zeros(2), np.ones((2, 1)), np.ones(2)),
    "LKJCholesky": (3, 2.0), "Wishart": (4.0, np.eye(3)),
}


@pytest.mark.parametrize("name", list(_FAMILIES))
def test_arg_constraints_and_support_match_torch(name):
    z, t = same_constraints(name, _FAMILIES[name])
    assert z.batch_shape == t.batch_shape and z.event_shape == t.event_shape
    assert repr(z).split("(")[0] == repr(t).split("(")[0]


def test_mixture_support_and_shapes_match_torch():
    mix = (lambda lib, m: lib.MixtureSameFamily(lib.Categorical(logits=m.new_zeros(3)),
                                                lib.Gamma(m.exp(), m.exp())))
    m = _R.normal(size=(2, 3))
    z, t = mix(D, zeroin.tensor(m)), mix(TD, torch.tensor(m))
    assert z.support.base_constraint.lower_bound == t.support.base_constraint.lower_bound
    assert type(z.support).__name__ == type(t.support).__name__
    assert z.batch_shape == t.batch_shape == (2,)
    with pytest.raises(ValueError, match="MixtureSameFamily"):
        z.log_prob(zeroin.tensor([1.0, -1.0]))   # -1 is outside every Gamma's support
    with pytest.raises(ValueError):
        t.log_prob(torch.tensor([1.0, -1.0], dtype=torch.float64))
    assert np.isfinite(z.cdf(zeroin.tensor([1.0, 2.0])).numpy()).all()
    assert "MixtureSameFamily(\n  Categorical(" in repr(z)
    big = z.expand((4, 2))
    assert big.batch_shape == (4, 2) and big.component_distribution.batch_shape == (4, 2, 3)


def _refused(build, args_z, args_t, match):
    with pytest.raises(ValueError, match=match):
        build(D, *args_z)
    with pytest.raises(ValueError):
        build(TD, *args_t)


@pytest.mark.parametrize("name, args, match", [
    ("Gumbel", (0.0, -1.0), "parameter scale"), ("HalfNormal", (-1.0,), "parameter scale"),
    ("HalfCauchy", (0.0,), "parameter scale"), ("Pareto", (1.0, -2.0), "parameter alpha"),
    ("Weibull", (-1.0, 2.0), "parameter scale"), ("Chi2", (-3.0,), "parameter df"),
    ("InverseGamma", (2.0, -1.0), "parameter rate"),
    ("FisherSnedecor", (0.0, 5.0), "parameter df1"),
    ("Kumaraswamy", (2.0, -3.0), "parameter concentration0"),
    ("NegativeBinomial", (3.0, 1.0), "parameter probs"),
    ("NegativeBinomial", (-3.0, 0.5), "parameter total_count"),
    ("GeneralizedPareto", (0.0, -1.0, 0.5), "parameter scale"),
    ("LogisticNormal", (0.0, -1.0), "parameter scale"),
    ("VonMises", (0.0, -1.0), "parameter concentration"),
    ("ContinuousBernoulli", (1.5,), "parameter probs"),
])
def test_invalid_parameters_are_refused_like_torch(name, args, match):
    zargs = [zeroin.tensor([a], dtype=zeroin.float64) for a in args]
    targs = [torch.tensor([a], dtype=torch.float64) for a in args]
    with pytest.raises(ValueError, match=match):
        getattr(D, name)(*zargs)
    with pytest.raises(ValueError):
        getattr(TD, name)(*targs, validate_args=True)
    getattr(D, name)(*zargs, validate_args=False)     # no check when asked


@pytest.mark.parametrize("name, args, value", [
    ("HalfNormal", (1.0,), -0.5), ("Pareto", (2.0, 3.0), 1.5), ("Weibull", (1.0, 2.0), 0.0),
    ("Kumaraswamy", (2.0, 3.0), 1.5), ("ContinuousBernoulli", (0.3,), -0.1),
    ("NegativeBinomial", (3.0, 0.4), 1.5), ("InverseGamma", (2.0, 1.0), -1.0),
    ("FisherSnedecor", (2.0, 3.0), 0.0), ("GeneralizedPareto", (0.0, 1.0, -0.5), 2.5),
])
def test_values_outside_the_support_are_refused_like_torch(name, args, value):
    z = getattr(D, name)(*[zeroin.tensor(a, dtype=zeroin.float64) for a in args])
    t = getattr(TD, name)(*[torch.tensor(a, dtype=torch.float64) for a in args])
    with pytest.raises(ValueError, match=name):
        z.log_prob(zeroin.tensor([value], dtype=zeroin.float64))
    with pytest.raises(ValueError):
        t.log_prob(torch.tensor([value], dtype=torch.float64))


def test_constructor_errors():
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.NegativeBinomial(3.0)
    with pytest.raises(ValueError, match="either `probs` or `logits`"):
        D.ContinuousBernoulli(0.3, 0.2)
    z3, z2 = zeroin.zeros(3), zeroin.zeros(2)
    with pytest.raises(ValueError, match="cov_factor must be a batch of matrices"):
        D.LowRankMultivariateNormal(z3, zeroin.ones(2, 1), zeroin.ones(3))
    with pytest.raises(ValueError, match="cov_diag must be a batch of vectors"):
        D.LowRankMultivariateNormal(z3, zeroin.ones(3, 1), zeroin.ones(2))
    with pytest.raises(ValueError, match="incompatible batch shapes"):
        D.LowRankMultivariateNormal(zeroin.zeros(4, 3), zeroin.ones(2, 3, 1), zeroin.ones(3))
    with pytest.raises(TypeError, match="must be a tensor"):
        D.LowRankMultivariateNormal([0.0, 0.0], zeroin.ones(2, 1), zeroin.ones(2))
    with pytest.raises(ValueError, match="needs to be a Categorical"):
        D.MixtureSameFamily(D.Normal(z2, 1.0), D.Normal(z2, 1.0))
    with pytest.raises(ValueError, match="has 3 components"):
        D.MixtureSameFamily(D.Categorical(logits=z3), D.Normal(z2, 1.0))
    with pytest.raises(ValueError, match="not compatible"):
        D.MixtureSameFamily(D.Categorical(logits=zeroin.zeros(4, 2)),
                            D.Normal(zeroin.zeros(3, 2), 1.0))
    for build in (lambda lib, z, o: lib.LowRankMultivariateNormal(z, o, o[..., 0]),):
        with pytest.raises(ValueError):
            build(TD, torch.zeros(3), torch.ones(2, 1))
        with pytest.raises(ValueError):
            build(D, z3, zeroin.ones(2, 1))


class _Poissonish(D.ExponentialFamily):
    """A user's exponential family (Poisson's natural parameter and log normaliser) to
    exercise the Bregman entropy and KL."""
    _mean_carrier_measure = 0.0

    def __init__(self, rate):
        self.rate = rate
        super().__init__(rate.shape)

    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()


def test_exponential_family_bregman_entropy_and_kl():
    p = D.ContinuousBernoulli(zeroin.tensor(_CB_P))
    t = TD.ContinuousBernoulli(torch.tensor(_CB_P))
    _close(D.ExponentialFamily.entropy(p), TD.ExponentialFamily.entropy(t))
    _close(D.ExponentialFamily.entropy(p), p.entropy(), rtol=1e-6, atol=1e-7)
    q = D.ContinuousBernoulli(zeroin.tensor(_CB_P[::-1].copy()))
    tq = TD.ContinuousBernoulli(torch.tensor(_CB_P[::-1].copy()))
    bregman = D.kl._kl_expfamily_expfamily(p, q)
    _close(bregman, TD.kl._kl_expfamily_expfamily(t, tq))
    _close(bregman, D.kl_divergence(p, q), rtol=1e-5, atol=1e-6)
    a, b = zeroin.tensor([1.5, 4.0]), zeroin.tensor([2.0, 0.5], requires_grad=True)
    kl = D.kl_divergence(_Poissonish(a), _Poissonish(b))        # the Bregman fallback
    _close(kl, D.kl_divergence(D.Poisson(a), D.Poisson(b.detach())))
    kl.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), 1 - a.numpy() / b.detach().numpy())
    assert isinstance(p, D.ExponentialFamily)
    with pytest.raises(NotImplementedError, match="different exponential families"):
        D.kl._kl_expfamily_expfamily(p, _Poissonish(a))
    with pytest.raises(NotImplementedError, match="_natural_params"):
        D.ExponentialFamily(()).entropy()


def test_reprs_and_param_properties():
    assert repr(D.Gumbel(0.0, 1.0)) == "Gumbel(loc: 0.0, scale: 1.0)"
    assert repr(D.HalfNormal(zeroin.ones(3))) == "HalfNormal(scale: (3,))"
    assert repr(D.Chi2(zeroin.tensor(3.0))) == "Chi2(df: 3.0)"
    cb = D.ContinuousBernoulli(logits=zeroin.zeros(2))
    assert cb.param_shape == (2,) and repr(cb) == "ContinuousBernoulli(logits: (2,))"
    nb = D.NegativeBinomial(zeroin.tensor([2.0, 3.0], dtype=zeroin.float64),
                            logits=zeroin.zeros(2, dtype=zeroin.float32))
    assert nb.param_shape == (2,) and nb.total_count.dtype == zeroin.float32
    assert "LowRankMultivariateNormal(loc: (2,), cov_factor: (2, 1)" in repr(
        D.LowRankMultivariateNormal(zeroin.zeros(2), zeroin.ones(2, 1), zeroin.ones(2)))
    ig = D.InverseGamma(zeroin.tensor([2.0]), 3.0)
    assert isinstance(ig.base_dist, D.Gamma) and isinstance(ig.transforms[0],
                                                            D.PowerTransform)
    g = D.Gumbel(0.0, 1.0)
    assert isinstance(g.base_dist, D.Uniform) and len(g.transforms) == 4
    assert isinstance(D.Chi2(3.0), D.Gamma) and D.Chi2(3.0).batch_shape == ()


_EXPFAM = {   # the families PyTorch derives from ExponentialFamily: two members each
    "Normal": (lambda lib, a, b: lib.Normal(a, b), (_LOC, _POS), (_XR, _POS2)),
    "Gamma": (lambda lib, a, b: lib.Gamma(a, b), (_POS, _POS2), (_POS2, _POS)),
    "Exponential": (lambda lib, a: lib.Exponential(a), (_POS,), (_POS2,)),
    "Bernoulli": (lambda lib, p: lib.Bernoulli(p), (_U,), (_U[::-1].copy(),)),
    "Beta": (lambda lib, a, b: lib.Beta(a, b), (_POS, _POS2), (_POS2, _POS)),
    "Dirichlet": (lambda lib, c: lib.Dirichlet(c), (_POS,), (_POS2,)),
    "Poisson": (lambda lib, r: lib.Poisson(r), (_POS,), (_POS2,)),
}


@pytest.mark.parametrize("name", sorted(_EXPFAM))
def test_families_are_exponential_families_like_torch(name):
    """The Bregman entropy and KL from ``_natural_params`` / ``_log_normalizer`` equal
    torch's and (where there is one) the closed form."""
    build, pa, qa = _EXPFAM[name]
    zp, tp = build(D, *map(zeroin.tensor, pa)), build(TD, *map(torch.tensor, pa))
    zq, tq = build(D, *map(zeroin.tensor, qa)), build(TD, *map(torch.tensor, qa))
    assert isinstance(zp, D.ExponentialFamily) == isinstance(tp, TD.ExponentialFamily) is True
    for a, b in zip(zp._natural_params, tp._natural_params):
        _close(a, b)
    _close(D.kl._kl_expfamily_expfamily(zp, zq), TD.kl._kl_expfamily_expfamily(tp, tq))
    _close(D.kl._kl_expfamily_expfamily(zp, zq), D.kl_divergence(zp, zq), rtol=1e-6,
           atol=1e-8)
    if name in ("Beta", "Dirichlet", "Poisson"):   # no carrier measure in PyTorch either
        with pytest.raises(NotImplementedError, match="entropy"):
            D.ExponentialFamily.entropy(zp)
    else:
        _close(D.ExponentialFamily.entropy(zp), TD.ExponentialFamily.entropy(tp))
        _close(D.ExponentialFamily.entropy(zp), zp.entropy(), rtol=1e-6, atol=1e-8)


# --- Wishart and LKJCholesky -----------------------------------------------------------

_WDF = np.array([4.5, 7.0])
_WCOV = _spd(3, 7) * 0.5 + np.zeros((2, 1, 1)) + np.eye(3) * np.array([0.0, 1.0])[:, None, None]


def _wishart(lib, df, m, kw):
    return lib.Wishart(df, **{kw: m})


@pytest.mark.parametrize("kw", ["covariance_matrix", "precision_matrix", "scale_tril"])
@pytest.mark.parametrize("call", ["mean", "mode", "variance", "entropy", "log_prob",
                                  "covariance_matrix", "precision_matrix", "scale_tril"])
def test_wishart_matches_torch(kw, call):
    m = np.linalg.cholesky(_WCOV) if kw == "scale_tril" else _WCOV
    x = np.linalg.cholesky(_spd(3, 9))
    x = np.stack([x @ x.T, _spd(3, 10)])[:, None]                   # (2, 1, 3, 3): broadcasts
    fn = (lambda d: d.log_prob(_tensor_like(d, x))) if call == "log_prob" else \
        (lambda d: d.entropy()) if call == "entropy" else (lambda d: getattr(d, call))
    _compare(lambda lib, df, m: _wishart(lib, df, m, kw), (_WDF, m), fn)


def test_wishart_sampling_kl_and_errors():
    w = D.Wishart(zeroin.tensor(_WDF), covariance_matrix=zeroin.tensor(_WCOV))
    zeroin.manual_seed(0)
    s = w.sample((_N,)).numpy()
    assert s.shape == (_N, 2, 3, 3) and np.allclose(s, np.swapaxes(s, -1, -2))
    mean, var = w.mean.numpy(), w.variance.numpy()
    assert np.all(np.abs(s.mean(0) - mean) <= 5 * np.sqrt(var / _N))
    np.testing.assert_allclose(s.var(0), var, rtol=0.1)
    big = w.expand((4, 2))
    assert big.batch_shape == (4, 2) and big.sample((3,)).shape == (3, 4, 2, 3, 3)
    assert big.log_prob(big.sample()).shape == (4, 2)
    # rsample: gradients reach df and the scale (finite differences at a fixed seed)
    df, L = zeroin.tensor(_WDF, requires_grad=True), zeroin.tensor(np.linalg.cholesky(_WCOV),
                                                                   requires_grad=True)
    assert zeroin.gradcheck(_seeded(lambda b: D.Wishart(df.detach(), scale_tril=b.tril())
                                    .rsample()), [L])
    zeroin.manual_seed(2)           # df: through the chi-square draws (implicit, see above)
    D.Wishart(df, scale_tril=L.detach()).rsample((5,)).sum().backward()
    assert np.isfinite(df.grad.numpy()).all() and (df.grad.numpy() != 0).all()
    # KL by the exponential family's Bregman divergence: per batch element (torch 2.13
    # mixes the batch elements of the df term), checked against one element at a time
    # and a Monte Carlo estimate
    q = D.Wishart(zeroin.tensor(_WDF[::-1].copy()), scale_tril=zeroin.tensor(
        np.linalg.cholesky(_WCOV[::-1].copy())))
    kl = D.kl_divergence(w, q)
    for i in range(2):
        t = TD.kl_divergence(TD.Wishart(torch.tensor(_WDF[i]),
                                        covariance_matrix=torch.tensor(_WCOV[i])),
                             TD.Wishart(torch.tensor(_WDF[::-1][i]),
                                        scale_tril=torch.tensor(np.linalg.cholesky(
                                            _WCOV[::-1][i]))))
        _close(kl[i], t)
    x = w.sample((_N,))
    np.testing.assert_allclose(kl.numpy(), (w.log_prob(x) - q.log_prob(x)).mean(0).numpy(),
                               rtol=0.03)
    _close(D.ExponentialFamily.entropy(w), w.entropy())
    with pytest.raises(ValueError, match="expected to be greater than ndim - 1 = 2"):
        D.Wishart(2.0, covariance_matrix=zeroin.eye(3))
    with pytest.raises(ValueError):
        TD.Wishart(2.0, covariance_matrix=torch.eye(3))
    with pytest.warns(UserWarning, match="Low df values"):
        D.Wishart(2.5, covariance_matrix=zeroin.eye(3))
    with pytest.raises(ValueError, match="exactly one of"):
        D.Wishart(4.0)
    with pytest.raises(ValueError, match="covariance_matrix"):
        D.Wishart(4.0, covariance_matrix=zeroin.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Wishart"):
        w.log_prob(zeroin.tensor(-np.eye(3)))
    assert w.support is D.constraints.positive_definite
    _same_constraint(w.arg_constraints["df"], TD.Wishart(
        torch.tensor(_WDF), covariance_matrix=torch.tensor(_WCOV)).arg_constraints["df"])


def test_lkj_cholesky_matches_torch_and_samples_its_law():
    c = np.array([0.5, 1.0, 3.0])
    t = TD.LKJCholesky(4, torch.tensor(c))
    torch.manual_seed(0)
    x = t.sample((5,))
    _compare(lambda lib, c: lib.LKJCholesky(4, c), (c,), lambda d: d.log_prob(
        _tensor_like(d, x.numpy())))
    z = D.LKJCholesky(4, zeroin.tensor(c))
    assert z.batch_shape == t.batch_shape and z.event_shape == t.event_shape == (4, 4)
    _same_constraint(z.support, t.support)
    zeroin.manual_seed(0)
    s = z.sample((_N,))
    assert D.constraints.corr_cholesky.check(s).numpy().all()
    corr = (s @ s.mT).numpy()
    # every off-diagonal correlation of LKJ(eta) in dim d is 2 Beta(a, a) - 1 with a = eta +
    # (d - 2) / 2: variance 1 / (2 a + 1) (PyTorch 2.13's sampler is off from the third row)
    a = c + 1.0
    for i, j in ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)):
        np.testing.assert_allclose(corr[:, :, i, j].var(0), 1 / (2 * a + 1), rtol=0.05)
        np.testing.assert_allclose(corr[:, :, i, j].mean(0), 0.0, atol=0.02)
    # and the distribution of one entry follows that Beta (its quartiles), for eta = 1
    q = np.quantile((corr[:, 1, 3, 2] + 1) / 2, [0.25, 0.5, 0.75])
    stats = pytest.importorskip("scipy.stats")
    np.testing.assert_allclose(q, stats.beta(2.0, 2.0).ppf([0.25, 0.5, 0.75]), atol=0.01)
    big = z.expand((2, 3))
    assert big.sample().shape == (2, 3, 4, 4) and big.log_prob(big.sample()).shape == (2, 3)
    with pytest.raises(ValueError, match="dim to be an integer greater"):
        D.LKJCholesky(1)
    with pytest.raises(ValueError, match="concentration"):
        D.LKJCholesky(3, zeroin.tensor([-1.0]))
    with pytest.raises(ValueError, match="LKJCholesky"):
        z.log_prob(zeroin.tensor(np.eye(4) * 2))
    with pytest.raises(NotImplementedError):
        z.rsample()


def test_inverse_gamma_and_chi2_cdf_match_torch():
    """Their cdf is Gamma's regularised incomplete gamma function: differentiable wrt rate
    and value, not concentration (as in PyTorch)."""
    for build, conc in ((lambda lib, c, r: lib.InverseGamma(c, r), _POS * 1.5),
                        (lambda lib, c, r: lib.Chi2(c), _POS)):
        zr, tr = zeroin.tensor(_POS2, requires_grad=True), torch.tensor(_POS2,
                                                                        requires_grad=True)
        zx, tx = zeroin.tensor(_XP, requires_grad=True), torch.tensor(_XP, requires_grad=True)
        z = build(D, zeroin.tensor(conc), zr).cdf(zx)
        t = build(TD, torch.tensor(conc), tr).cdf(tx)
        _close(z, t)
        z.sum().backward()
        t.sum().backward()
        _close(zx.grad, tx.grad)
        if tr.grad is not None:
            _close(zr.grad, tr.grad)
    c = zeroin.tensor([2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="igamma"):
        D.InverseGamma(c, 1.0).cdf(zeroin.tensor([0.5])).sum().backward()


def test_matrix_shape_constraints_check_like_torch():
    _C, _TC = D.constraints, TD.constraints
    sym = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]],
                    [[0.0, 0.0], [0.0, 1.0]]])          # PD, indefinite, PSD
    for name in ("square", "symmetric", "positive_semidefinite", "positive_definite"):
        z, t = getattr(_C, name), getattr(_TC, name)
        for v in (sym, np.ones((2, 2, 3)), np.array([[[1.0, 0.3], [0.0, 1.0]]])):
            np.testing.assert_array_equal(z.check(zeroin.tensor(v)).numpy(),
                                          t.check(torch.tensor(v)).numpy(), err_msg=name)
        assert z.event_dim == t.event_dim == 2 and repr(z) == repr(t)
    # a batch mixing a non-symmetric matrix with symmetric ones: each judged on both
    mixed = np.array([[[1.0, 0.3], [0.0, 1.0]], [[1.0, 0.0], [0.0, -1.0]]])
    assert not _C.positive_semidefinite.check(zeroin.tensor(mixed)).numpy().any()
    x = zeroin.tensor(_R.normal(size=(2, 3, 3)))
    assert type(D.transform_to(_C.positive_semidefinite)).__name__ == type(
        TD.transform_to(_TC.positive_semidefinite)).__name__
    assert _C.positive_semidefinite.check(D.transform_to(_C.positive_semidefinite)(x)).numpy().all()


def test_reshape_transform_inside_a_transformed_distribution():
    x = np.arange(24, dtype=np.float64).reshape(4, 2, 3) / 10 + 0.1
    out = []
    for lib, m in ((D, zeroin), (TD, torch)):
        loc = m.tensor(np.zeros((4, 6)), requires_grad=True)
        d = lib.TransformedDistribution(lib.Normal(loc, 1.0), [lib.ReshapeTransform((6,), (2, 3)),
                                                               lib.ExpTransform()])
        assert d.batch_shape == (4,) and d.event_shape == (2, 3)
        assert tuple(d.sample((5,)).shape) == (5, 4, 2, 3)
        lp = d.log_prob(m.tensor(x))
        lp.sum().backward()
        out.append((lp, loc.grad))
    _close(out[0][0], out[1][0])
    _close(out[0][1], out[1][1])
