"""Accuracy of zeroin's own special functions (lgamma, digamma, polygamma, erf family, ndtr
family, Bessel I0/I1, incomplete gamma): NumPy-only numerics, checked against ``math.lgamma``
and, where installed, mpmath at 30-60 digits; gradients against finite differences."""
import math

import numpy as np
import pytest

import zeroin

GRID = np.concatenate([np.linspace(1e-3, 40, 4001), np.geomspace(1e-300, 1e300, 601)])
NEG = np.linspace(-30, 0, 3001)[:-1] + 3.7e-3                   # off the poles


def _rel(got, want):
    return np.max(np.abs(got - want) / np.abs(want))


def test_lgamma_matches_math_lgamma_on_a_wide_grid():
    want = np.array([math.lgamma(v) for v in GRID])
    got = zeroin.lgamma(zeroin.tensor(GRID)).numpy()
    # relative, except near the roots 1 and 2, where math.lgamma itself is only ~1e-16
    # absolute (the strict relative check there is against mpmath, below)
    assert np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-2)) < 1e-13
    want = np.array([math.lgamma(v) for v in NEG])               # near lgamma's negative
    got = zeroin.lgamma(zeroin.tensor(NEG)).numpy()              # roots: absolute error
    assert np.max(np.abs(got - want) / np.maximum(1, np.abs(want))) < 1e-13


@pytest.mark.parametrize("name, n", [("lgamma", None), ("digamma", 0), ("trigamma", 1),
                                     ("polygamma2", 2), ("polygamma3", 3)])
def test_against_mpmath_to_about_1e14(name, n):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    ref = (lambda v: mp.log(abs(mp.gamma(v)))) if n is None else (lambda v: mp.psi(n, v))
    f = zeroin.lgamma if n is None else (lambda x: zeroin.polygamma(n, x))
    for xs, tol in ((GRID[::5], 1e-14), (NEG[::5], None)):
        want = np.array([float(ref(mp.mpf(float(v)))) for v in xs])
        got = f(zeroin.tensor(xs)).numpy()
        ok = np.isfinite(want) & (np.abs(want) > 1e-290)        # not subnormal
        if tol:                                                  # relative, x > 0
            assert _rel(got[ok], want[ok]) < tol
        else:               # x < 0: relative to max(1, |f|) (the roots); sin(pi x) near poles
            err = np.abs(got[ok] - want[ok]) / np.maximum(1, np.abs(want[ok]))
            assert np.max(err) < (1e-11 if n == 1 else 1e-12)


def test_digamma_is_accurate_at_its_positive_root():
    x0 = 1.4616321449683622                                     # psi(x0) ~ 1e-16
    xs = x0 + np.array([-1e-8, -1e-12, 0.0, 1e-12, 1e-8, 0.2])
    got = zeroin.digamma(zeroin.tensor(xs)).numpy()
    want = 0.9676722454476212 * (xs - x0) - 0.44276316898359211 * (xs - x0) ** 2 \
        + 9.549995429965697e-17 * -0.9676722454476212
    np.testing.assert_allclose(got[:5], want[:5], rtol=1e-9)


def test_gradients_are_the_next_polygamma():
    x = zeroin.tensor([0.3, 2.5, -1.5, 12.0], requires_grad=True)
    (g,) = zeroin.autograd.grad(zeroin.lgamma(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), zeroin.digamma(x).detach().numpy())
    (g2,) = zeroin.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_array_equal(g2.numpy(), zeroin.polygamma(1, x).detach().numpy())
    (g3,) = zeroin.autograd.grad(g2.sum(), x)
    np.testing.assert_array_equal(g3.numpy(), zeroin.polygamma(2, x).detach().numpy())
    assert zeroin.lgamma(x).grad_fn.name() == "LgammaBackward0"
    assert zeroin.digamma(x).grad_fn.name() == "DigammaBackward0"
    assert x.polygamma(1).grad_fn.name() == "PolygammaBackward0"


def test_special_names_are_the_top_level_functions():
    assert zeroin.special.gammaln is zeroin.lgamma
    assert zeroin.special.psi is zeroin.special.digamma is zeroin.digamma
    assert zeroin.special.polygamma is zeroin.polygamma


def test_erfinv_against_mpmath_and_erf():
    xs = np.concatenate([np.linspace(-1, 1, 4001)[1:-1], 1 - np.geomspace(1e-16, 0.5, 200),
                         -np.geomspace(1e-300, 1e-3, 50)])
    xs = xs[xs != 0]
    got = zeroin.erfinv(zeroin.tensor(xs)).numpy()
    back = np.array([math.erf(v) for v in got])
    inner = np.abs(xs) < 0.9                  # erf's round trip resolves x only there
    assert np.max(np.abs(back[inner] - xs[inner]) / np.abs(xs[inner])) < 1e-15 * 4
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 30
    want = np.array([float(mp.erfinv(mp.mpf(float(v)))) for v in xs])
    assert _rel(got, want) < 1e-14


# --- erf family, normal distribution, Bessel I0/I1, incomplete gamma ----------------------

WIDE = np.concatenate([np.linspace(-30, 30, 1201), np.geomspace(1e-300, 700, 300),
                       -np.geomspace(1e-300, 700, 300)])


def _mp_ref(f, xs, dps=40):
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = dps
    return np.array([float(f(mp, mp.mpf(float(v)))) for v in xs])


def _rel_ok(got, want, tiny=1e-300):
    ok = np.isfinite(want) & (np.abs(want) > tiny)
    return np.max(np.abs(got[ok] - want[ok]) / np.abs(want[ok]))


@pytest.mark.parametrize("name, ref, xs", [
    ("erf", lambda mp, v: mp.erf(v), WIDE),
    ("erfc", lambda mp, v: mp.erfc(v), WIDE),
    ("erfcx", lambda mp, v: mp.erfc(v) * mp.exp(v * v), WIDE[WIDE > -26]),
    ("ndtr", lambda mp, v: mp.erfc(-v / mp.sqrt(2)) / 2, WIDE[WIDE > -37]),
    ("log_ndtr", lambda mp, v: mp.log(mp.erfc(-v / mp.sqrt(2)) / 2), WIDE[WIDE < 8]),
    ("i0", lambda mp, v: mp.besseli(0, v), WIDE),
    ("i1", lambda mp, v: mp.besseli(1, v), WIDE),
    ("i0e", lambda mp, v: mp.besseli(0, v) * mp.exp(-abs(v)), WIDE),
    ("i1e", lambda mp, v: mp.besseli(1, v) * mp.exp(-abs(v)), WIDE),
])
def test_against_mpmath_over_wide_ranges(name, ref, xs):
    f = getattr(zeroin.special, name)
    got = f(zeroin.tensor(xs)).numpy()
    # ndtr's -x / sqrt(2) rounds: ~x^2 eps relative in the left tail
    assert _rel_ok(got, _mp_ref(ref, xs)) < {"ndtr": 2e-13, "log_ndtr": 2e-14}.get(name, 5e-15)


def test_log_ndtr_far_left_tail_and_erfcx_far_right():
    xs = -np.geomspace(1e3, 1e150, 50)              # log_ndtr ~ -x^2/2 - log(-x sqrt(2 pi)) + ...
    want = -xs ** 2 / 2 - np.log(-xs * math.sqrt(2 * math.pi)) + np.log1p(-1 / xs ** 2)
    np.testing.assert_allclose(zeroin.special.log_ndtr(zeroin.tensor(xs)).numpy(), want,
                               rtol=1e-15)
    big = np.geomspace(1e8, 1e300, 40)                           # erfcx ~ 1 / (sqrt(pi) x)
    np.testing.assert_allclose(zeroin.special.erfcx(zeroin.tensor(big)).numpy(),
                               1 / (math.sqrt(math.pi) * big), rtol=1e-15)
    assert zeroin.erfc(zeroin.tensor(10.0)).item() == pytest.approx(2.088487583762545e-45,
                                                                    rel=1e-15)


def test_ndtri_and_erfinv_against_mpmath_into_the_tails():
    ps = np.concatenate([np.linspace(0, 1, 2001)[1:-1], np.geomspace(1e-300, 0.5, 300),
                         1 - np.geomspace(1e-16, 0.5, 100)])
    want = _mp_ref(lambda mp, p: -mp.sqrt(2) * mp.erfinv(1 - 2 * p) if p > 1e-30 else
                   mp.findroot(lambda y: mp.log(mp.ncdf(y)) - mp.log(p), -30), ps, dps=60)
    assert _rel_ok(zeroin.special.ndtri(zeroin.tensor(ps)).numpy(), want) < 5e-15
    np.testing.assert_array_equal(zeroin.special.ndtri(zeroin.tensor(
        [0.0, 1.0, -0.5, 1.5, np.nan, 0.5])).numpy(), [-np.inf, np.inf, np.nan, np.nan, np.nan, 0])


@pytest.mark.parametrize("upper", [False, True])
def test_gammainc_against_mpmath(upper):
    a, x = np.meshgrid(np.geomspace(0.05, 1e3, 25), np.geomspace(1e-3, 2e3, 30))
    a, x = a.ravel(), x.ravel()
    f = zeroin.special.gammaincc if upper else zeroin.special.gammainc
    got = f(zeroin.tensor(a), zeroin.tensor(x)).numpy()
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 40
    lim = (lambda v: (v, mp.inf)) if upper else (lambda v: (0, v))
    want = np.array([float(mp.gammainc(mp.mpf(p), *lim(mp.mpf(q)), regularized=True))
                     for p, q in zip(a, x)])
    assert _rel_ok(got, want) < 1e-11


def test_gammainc_edges_follow_pytorch():
    inf, nan = np.inf, np.nan
    v = [0.0, -1.0, 1.0, inf, nan, 0.5]
    a, x = (zeroin.tensor(np.array(m)) for m in np.meshgrid(v, v, indexing="ij"))
    want = [[nan, nan, 1, 1, nan, 1], [nan] * 6, [0, nan, 1 - math.exp(-1), 1, nan,
            1 - math.exp(-0.5)], [0, nan, 0, nan, 0, 0], [0, nan, nan, 1, nan, nan],
            [0, nan, math.erf(1), 1, nan, math.erf(0.5 ** 0.5)]]
    np.testing.assert_allclose(zeroin.igamma(a, x).numpy(), want, rtol=1e-15)
    np.testing.assert_allclose(zeroin.igammac(a, x).numpy(), 1 - np.array(want), rtol=1e-15,
                               atol=1e-16)


@pytest.mark.parametrize("name", ["erfcx", "ndtr", "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e",
                                  "erfc"])
def test_gradients_match_finite_differences(name):
    f = getattr(zeroin.special, name)
    # moderate values: the check differences a weighted sum, so one large term would
    # swamp the others (large arguments are checked against PyTorch's gradients)
    xs = [0.1, 0.45, 0.9] if name == "ndtri" else [-2.5, -0.7, 0.0, 0.2, 1.3, 3.0]
    if name in ("i0e", "i1e"):
        xs = [v for v in xs if v != 0.0] + [1e-3]               # |x| is not smooth at 0 (i0e)
    x = zeroin.tensor(xs, requires_grad=True)
    assert zeroin.gradcheck(f, [x], rtol=1e-6, atol=1e-9)
    y = f(x)
    (g,) = zeroin.autograd.grad(y.sum(), x, create_graph=True)  # rules are differentiable
    assert zeroin.gradcheck(lambda v: zeroin.autograd.grad(f(v).sum(), v, create_graph=True)[0],
                            [x], rtol=1e-5, atol=1e-8)


def test_bessel_gradients_at_zero_are_the_limits():
    x = zeroin.tensor([0.0, 0.0, 0.0, 0.0], requires_grad=True)
    s = zeroin.special
    (s.i0(x[0:1]) + s.i0e(x[1:2]) + s.i1(x[2:3]) + s.i1e(x[3:4])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.5, 0.5])


def test_igamma_gradient_is_only_x():
    a = zeroin.tensor([0.5, 2.0, 7.5])
    x = zeroin.tensor([0.3, 2.5, 6.0], requires_grad=True)
    assert zeroin.gradcheck(lambda v: zeroin.igamma(a, v), [x], rtol=1e-6, atol=1e-10)
    assert zeroin.gradcheck(lambda v: zeroin.igammac(a, v), [x], rtol=1e-6, atol=1e-10)
    assert zeroin.gradgradcheck(lambda v: zeroin.igamma(a, v), [x])     # the rule is ops
    a.requires_grad_()
    y = zeroin.special.gammainc(a, x).sum()
    with pytest.raises(NotImplementedError, match="igamma: input.*second argument"):
        y.backward()


def test_mvlgamma_is_the_sum_of_lgammas_and_checks_p():
    x = zeroin.tensor([1.6, 2.5, 9.0], requires_grad=True)
    want = 3 * 2 / 4 * math.log(math.pi) + sum(
        np.array([math.lgamma(v - i / 2) for v in (1.6, 2.5, 9.0)]) for i in range(3))
    np.testing.assert_allclose(zeroin.mvlgamma(x, 3).numpy(), want, rtol=1e-14)
    assert zeroin.special.multigammaln is zeroin.mvlgamma
    assert zeroin.gradcheck(lambda v: v.mvlgamma(3), [x], rtol=1e-6, atol=1e-9)
    with pytest.raises(RuntimeError, match="p has to be greater than or equal to 1"):
        zeroin.mvlgamma(x, 0)
    with pytest.raises(TypeError, match="p must be an int"):
        zeroin.mvlgamma(x, 2.0)


def test_erfinv_is_vectorised():
    """erfinv used np.vectorize(math.erf): 1e6 elements took seconds. Now whole-array
    NumPy (a bound loose enough for a busy machine, tight enough to catch a Python loop)."""
    import time
    x = zeroin.tensor(np.random.default_rng(0).uniform(-1, 1, 200_000))
    t = time.perf_counter()
    zeroin.erfinv(x)
    assert time.perf_counter() - t < 0.4


def test_erf_cephes_has_scipys_values():
    # the whole-array Cephes erf (zeroin.erf and gelu's forward on float arrays) gives
    # scipy.special.erf's bits in float32 and its values to 1 ulp in float64
    special = pytest.importorskip("scipy.special")
    from zeroin._special_math import erf_cephes
    rng = np.random.default_rng(12)
    bits = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[~np.isnan(x)]                         # (signalling NaNs warn in any float cast)
    for x in (x, np.linspace(-7, 7, 1_000_001, dtype=np.float32),
              np.array([0.0, -0.0, 1.0, -1.0, np.nextafter(1, 2, dtype=np.float32), np.inf,
                        -np.inf, np.nan, 3e38, -1e-40], np.float32)):
        with np.errstate(all="raise", under="ignore"):      # no overflow warnings
            got = erf_cephes(x)
        np.testing.assert_array_equal(got.view(np.uint32), special.erf(x).view(np.uint32))
    x = np.concatenate([rng.standard_normal(200_000) * s for s in (1e-5, 1, 3, 100)])
    got, want = erf_cephes(x), special.erf(x)
    assert got.dtype == np.float64
    np.testing.assert_array_max_ulp(got, want, maxulp=1)
    got = zeroin.erf(zeroin.tensor(x[:1000].reshape(20, 50).astype(np.float32))).numpy()
    assert np.array_equal(got, special.erf(x[:1000].reshape(20, 50).astype(np.float32)))
    v = x[400_000:404_000].reshape(40, 100).astype(np.float32)     # (scale 3)
    for view in (v.T, v[::2, ::-3], np.asfortranarray(v)):     # any layout
        np.testing.assert_array_equal(erf_cephes(view), special.erf(view))
