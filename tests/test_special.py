"""Accuracy of zeroin's own special functions (lgamma, digamma, polygamma, erfinv): NumPy-only
numerics, checked against ``math.lgamma`` and, where installed, mpmath at 30 digits."""
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
