"""Transforms, constraints and TransformedDistribution against torch.distributions:
values and gradients (torch as oracle, finite differences), caching (the SAC policy),
shapes, seeded repeatability and argument validation."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin import distributions as D

torch = pytest.importorskip("torch")
TD = torch.distributions

from test_distributions import _close, _compare  # the shared torch helpers

_R = np.random.default_rng(7)
_LOC, _SCALE = _R.normal(size=3), _R.uniform(0.5, 2.0, (2, 1))
_XR = _R.normal(size=(2, 3)) * 2
_XP = _R.uniform(0.1, 4.0, (2, 3))
_XU = _R.uniform(0.02, 0.98, (2, 3))
_XT = _R.uniform(-0.98, 0.98, (2, 3))
_U = _R.uniform(0.02, 0.98, (2, 3))
_EXPONENT = np.array([0.5, 2.0, -1.5])


def _t(d, a):
    """``a`` as a float64 tensor of the library ``d`` belongs to."""
    lib = torch if isinstance(d, TD.Distribution) else zeroin
    return lib.tensor(np.asarray(a, dtype=np.float64))


# name: (the transforms, given the library and the extra parameter; a value in the
#        codomain; whether monotone (cdf/icdf); the extra parameter)
_TRANSFORMS = {
    "Exp": (lambda lib, p: [lib.ExpTransform()], _XP, True, None),
    "Affine": (lambda lib, p: [lib.AffineTransform(p, -0.7)], _XR, True, _LOC),
    "AffineTensorScale": (lambda lib, p: [lib.AffineTransform(1.5, p)], _XR, True, _SCALE),
    "Sigmoid": (lambda lib, p: [lib.SigmoidTransform()], _XU, True, None),
    "Tanh": (lambda lib, p: [lib.TanhTransform()], _XT, True, None),
    "Softplus": (lambda lib, p: [lib.SoftplusTransform()], _XP, True, None),
    "ExpPower": (lambda lib, p: [lib.ExpTransform(), lib.PowerTransform(p)], _XP, False,
                 _EXPONENT),
    "ExpAffineNeg": (lambda lib, p: [lib.ExpTransform(), lib.AffineTransform(0.0, -2.0)],
                     -_XP, True, None),
    "Compose": (lambda lib, p: [lib.ComposeTransform([lib.TanhTransform(),
                                                      lib.AffineTransform(2.0, 3.0)])],
                2.0 + 3.0 * _XT, True, None),
}


def _build(name):
    transforms, _, _, extra = _TRANSFORMS[name]
    if extra is None:
        return lambda lib, m, s: lib.TransformedDistribution(lib.Normal(m, s),
                                                             transforms(lib, None))
    return lambda lib, m, s, p: lib.TransformedDistribution(lib.Normal(m, s),
                                                            transforms(lib, p))


def _params(name):
    extra = _TRANSFORMS[name][3]
    return (_LOC, _SCALE) if extra is None else (_LOC, _SCALE, extra)


@pytest.mark.parametrize("name", list(_TRANSFORMS))
def test_log_prob_matches_torch(name):
    value = _TRANSFORMS[name][1]
    _compare(_build(name), _params(name), lambda d: d.log_prob(_t(d, value)))


@pytest.mark.parametrize("name", [n for n, c in _TRANSFORMS.items() if c[2]])
def test_cdf_icdf_match_torch(name):
    value = _TRANSFORMS[name][1]
    _compare(_build(name), _params(name), lambda d: d.cdf(_t(d, value)))
    _compare(_build(name), _params(name), lambda d: d.icdf(_t(d, _U)))


_ELEMENTWISE = {
    "Exp": (lambda lib: lib.ExpTransform(), _XR),
    "Sigmoid": (lambda lib: lib.SigmoidTransform(), _XR),
    "Tanh": (lambda lib: lib.TanhTransform(), _XR),
    "Softplus": (lambda lib: lib.SoftplusTransform(), _XR),
    "Power": (lambda lib: lib.PowerTransform(2.5), _XP),
    "PowerNeg": (lambda lib: lib.PowerTransform(-0.5), _XP),
    "Affine": (lambda lib: lib.AffineTransform(0.3, -1.7), _XR),
}


@pytest.mark.parametrize("name", list(_ELEMENTWISE))
def test_elementwise_transform_against_torch_and_finite_differences(name):
    make, x = _ELEMENTWISE[name]
    zt, tt = make(D), make(TD)
    zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    zy, ty = zt(zx), tt(tx)
    _close(zy, ty)
    _close(zt.inv(zy), tt.inv(ty))
    _close(zt.inv(zy), tx)
    zl, tl = zt.log_abs_det_jacobian(zx, zy), tt.log_abs_det_jacobian(tx, ty)
    _close(zl, tl)
    if tl.requires_grad:
        zl.sum().backward()
        tl.sum().backward()
        _close(zx.grad, tx.grad, rtol=1e-6)
    else:                                       # a constant (Affine with a number scale)
        assert not zl.requires_grad
    h = 1e-6                                    # log |dy/dx| by central differences
    fd = (zt(zeroin.tensor(x + h)).numpy() - zt(zeroin.tensor(x - h)).numpy()) / (2 * h)
    np.testing.assert_allclose(zl.detach().numpy(), np.log(np.abs(fd)), rtol=1e-5, atol=1e-6)
    assert zt.sign == tt.sign and zt.bijective == tt.bijective


def test_tanh_cache_gives_finite_log_prob_at_the_boundary():
    """The SAC policy: an action that rounded to exactly 1 keeps a finite log_prob through
    the cached pre-tanh value, equal to torch's."""
    x = np.array([0.2, 25.0, -30.0])
    out = []
    for lib, mod in ((zeroin, D), (torch, TD)):
        mu = lib.tensor(np.array([0.0, 20.0, -20.0]), requires_grad=True)
        d = mod.TransformedDistribution(mod.Normal(mu, 1.0), [mod.TanhTransform(cache_size=1)])
        y = d.transforms[0](lib.tensor(x))
        assert abs(float(y[1])) == 1.0
        lp = d.log_prob(y)
        assert np.isfinite(lp.detach().numpy()).all()
        lp.sum().backward()
        out.append((lp, mu.grad))
    _close(out[0][0], out[1][0])
    _close(out[0][1], out[1][1])


def test_rsample_gradients_flow_and_match_finite_differences():
    mu = np.array([0.3, -0.4])

    def draw(m):
        zeroin.manual_seed(3)
        d = D.TransformedDistribution(D.Normal(m, 0.8), [D.TanhTransform(cache_size=1),
                                                         D.AffineTransform(1.0, 2.0)])
        a = d.rsample((5,))
        return a, d

    m = zeroin.tensor(mu, requires_grad=True)
    a, d = draw(m)
    (a.sum() + d.log_prob(a).sum()).backward()
    h = 1e-6
    num = []
    for i in range(2):
        e = np.eye(2)[i] * h
        f = [(lambda ad: float(ad[0].sum() + ad[1].log_prob(ad[0]).sum()))(
            draw(zeroin.tensor(mu + s * e))) for s in (1, -1)]
        num.append((f[0] - f[1]) / (2 * h))
    np.testing.assert_allclose(m.grad.numpy(), num, rtol=1e-5)


def test_seeded_sampling_repeats_and_shapes():
    d = D.TransformedDistribution(D.Normal(zeroin.zeros(2, 3), 1.0), D.ExpTransform())
    zeroin.manual_seed(5)
    a = d.sample((4,))
    zeroin.manual_seed(5)
    b = d.sample((4,))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert tuple(a.shape) == (4, 2, 3) and not a.requires_grad and (a.numpy() > 0).all()
    assert d.has_rsample and tuple(d.batch_shape) == (2, 3) and tuple(d.event_shape) == ()
    e = d.expand((5, 2, 3))
    assert tuple(e.sample().shape) == (5, 2, 3) and tuple(e.batch_shape) == (5, 2, 3)


def test_stick_breaking_shapes_and_log_prob_match_torch():
    x = _R.normal(size=(2, 3))
    zx, tx = zeroin.tensor(x), torch.tensor(x)
    zt, tt = D.StickBreakingTransform(), TD.StickBreakingTransform()
    zy, ty = zt(zx), tt(tx)
    _close(zy, ty)
    _close(zt.inv(zy), tx)
    _close(zt.log_abs_det_jacobian(zx, zy), tt.log_abs_det_jacobian(tx, ty))

    def build(lib, m, s):
        return lib.TransformedDistribution(lib.Normal(m, s), lib.StickBreakingTransform())
    loc, scale = _R.normal(size=(2, 3)), _R.uniform(0.5, 2.0, (2, 3))
    zd = build(D, zeroin.tensor(loc), zeroin.tensor(scale))
    assert (tuple(zd.batch_shape), tuple(zd.event_shape)) == ((2,), (4,))
    assert tuple(zd.sample((5,)).shape) == (5, 2, 4)
    _compare(build, (loc, scale), lambda d: d.log_prob(d.transforms[0](_t(d, x))))


def test_affine_event_dim_and_softmax():
    def build(lib, m, s):
        return lib.TransformedDistribution(lib.Independent(lib.Normal(m, s), 1),
                                           lib.AffineTransform(m, s, event_dim=1))
    loc, scale = _R.normal(size=(2, 3)), _R.uniform(0.5, 2.0, (2, 3))
    _compare(build, (loc, scale), lambda d: d.log_prob(_t(d, _XR)))
    x = _R.normal(size=(2, 4))
    _close(D.SoftmaxTransform()(zeroin.tensor(x)), TD.SoftmaxTransform()(torch.tensor(x)))


def test_domains_codomains_and_inverse_match_torch():
    for name in ["ExpTransform", "SigmoidTransform", "TanhTransform", "SoftplusTransform",
                 "AbsTransform", "StickBreakingTransform", "SoftmaxTransform"]:
        z, t = getattr(D, name)(), getattr(TD, name)()
        for zc, tc in ((z.domain, t.domain), (z.codomain, t.codomain),
                       (z.inv.domain, t.inv.domain)):
            assert repr(zc) == repr(tc) and zc.event_dim == tc.event_dim, name
    c = D.ComposeTransform([D.ExpTransform(), D.StickBreakingTransform()])
    tc = TD.ComposeTransform([TD.ExpTransform(), TD.StickBreakingTransform()])
    assert c.domain.event_dim == tc.domain.event_dim == 1
    assert repr(c.codomain) == repr(tc.codomain)
    inv = D.ExpTransform().inv
    assert inv.inv.sign == 1 and float(inv(zeroin.tensor(np.e))) == pytest.approx(1.0)


def test_abs_transform_has_no_log_det_and_cache_size_is_checked():
    t = D.AbsTransform()
    y = t(zeroin.tensor([-2.0, 3.0]))
    np.testing.assert_array_equal(y.numpy(), [2.0, 3.0])
    with pytest.raises(NotImplementedError, match="AbsTransform"):
        t.log_abs_det_jacobian(zeroin.tensor([-2.0]), y)
    with pytest.raises(ValueError, match="cache_size"):
        D.ExpTransform(cache_size=2)


def test_transformed_distribution_validation():
    d = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.ExpTransform()])
    with pytest.raises(ValueError, match="GreaterThan"):
        d.log_prob(zeroin.tensor([-1.0]))
    with pytest.raises(ValueError, match="transforms must be"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [lambda x: x])
    with pytest.raises(TypeError, match="base_distribution"):
        D.TransformedDistribution(torch.distributions.Normal(0.0, 1.0), [D.ExpTransform()])
    sb = D.TransformedDistribution(D.Normal(zeroin.zeros(2, 3), 1.0),
                                   D.StickBreakingTransform())
    with pytest.raises(ValueError, match=r"Simplex.*\[ 0.5  0.5  0.5 -0.5\]"):
        sb.log_prob(zeroin.tensor([[0.5, 0.5, 0.5, -0.5], [0.25, 0.25, 0.25, 0.25]]))
    with pytest.raises(ValueError, match="at least 1 dims"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), D.StickBreakingTransform())
    assert repr(d.support) == repr(TD.TransformedDistribution(
        TD.Normal(0.0, 1.0), [TD.ExpTransform()]).support)


# --- constraints -------------------------------------------------------------------------

_C = D.constraints
_TC = TD.constraints
_VALUES = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0, np.nan, 3.0, 0.25]])
_CASES = [("real", ()), ("positive", ()), ("nonnegative", ()), ("unit_interval", ()),
          ("interval", (-1.0, 1.0)), ("greater_than", (0.5,)), ("greater_than_eq", (0.5,)),
          ("less_than", (1.0,)), ("half_open_interval", (0.0, 1.0)),
          ("integer_interval", (0, 2)), ("nonnegative_integer", ()), ("boolean", ()),
          ("positive_integer", ())]


@pytest.mark.parametrize("name,args", _CASES)
def test_scalar_constraints_check_like_torch(name, args):
    z, t = getattr(_C, name), getattr(_TC, name)
    if args:
        z, t = z(*args), t(*args)
    np.testing.assert_array_equal(z.check(zeroin.tensor(_VALUES)).numpy(),
                                  t.check(torch.tensor(_VALUES)).numpy())
    assert repr(z) == repr(t) and z.is_discrete == t.is_discrete
    assert z.event_dim == t.event_dim


def test_event_constraints_check_like_torch():
    simplex = np.array([[0.2, 0.3, 0.5], [0.5, 0.6, -0.1], [0.2, 0.2, 0.2]])
    spd = np.array([[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]],
                    [[0.0, 0.0], [0.0, 1.0]]])     # all symmetric: torch checks only that
    # when one is not (its check returns the symmetry alone there); zeroin checks both
    assert not _C.positive_definite.check(zeroin.tensor([[1.0, 0.0], [0.3, 1.0]])).item()
    chol = np.array([[[2.0, 0.0], [0.5, 1.0]], [[1.0, 0.0], [2.0, -1.0]],
                     [[1.0, 0.2], [0.3, 1.0]]])
    for name, v in (("simplex", simplex), ("real_vector", _VALUES), ("one_hot", np.eye(3)),
                    ("positive_definite", spd), ("lower_cholesky", chol),
                    ("lower_triangular", chol)):
        z, t = getattr(_C, name), getattr(_TC, name)
        np.testing.assert_array_equal(z.check(zeroin.tensor(v)).numpy(),
                                      t.check(torch.tensor(v)).numpy(), err_msg=name)
        assert z.event_dim == t.event_dim, name
    z, t = _C.independent(_C.positive, 1), _TC.independent(_TC.positive, 1)
    np.testing.assert_array_equal(z.check(zeroin.tensor(_XR)).numpy(),
                                  t.check(torch.tensor(_XR)).numpy())
    assert z.event_dim == 1


def _same_constraint(z, t):
    assert type(z).__name__ == type(t).__name__, (z, t)
    assert z.event_dim == t.event_dim and z.is_discrete == t.is_discrete, (z, t)
    for bound in ("lower_bound", "upper_bound"):
        if hasattr(t, bound):
            b = getattr(z, bound)
            np.testing.assert_allclose(b.numpy() if hasattr(b, "numpy") else b,
                                       np.asarray(getattr(t, bound)))
    if hasattr(t, "base_constraint"):
        assert z.reinterpreted_batch_ndims == t.reinterpreted_batch_ndims
        _same_constraint(z.base_constraint, t.base_constraint)


_P3 = np.array([0.2, 0.3, 0.5])
_FAMILIES = {
    "Normal": (0.0, 1.0), "LogNormal": (0.0, 1.0), "Laplace": (0.0, 1.0),
    "Cauchy": (0.0, 1.0), "StudentT": (3.0, 0.0, 1.0), "Uniform": (0.0, 2.0),
    "Exponential": (1.5,), "Gamma": (2.0, 1.5), "Beta": (2.0, 1.5),
    "Dirichlet": (_P3,), "Bernoulli": (0.3,), "Binomial": (5.0, 0.3), "Geometric": (0.3,),
    "Poisson": (2.0,), "Categorical": (_P3,), "OneHotCategorical": (_P3,),
    "RelaxedBernoulli": (0.5, 0.3), "RelaxedOneHotCategorical": (0.5, _P3),
    "MultivariateNormal": (np.zeros(2), np.eye(2)),
}


def same_constraints(name, args):
    """Family ``name`` built from ``args`` in both libraries: the same arg_constraints and
    support (a dependent one as dependent); returns the two distributions."""
    z = getattr(D, name)(*[zeroin.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    t = getattr(TD, name)(*[torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args])
    assert set(z.arg_constraints) == set(t.arg_constraints)
    for key, c in t.arg_constraints.items():
        if type(c).__name__ == "_Dependent":
            assert _C.is_dependent(z.arg_constraints[key])
        else:
            _same_constraint(z.arg_constraints[key], c)
    _same_constraint(z.support, t.support)
    return z, t


@pytest.mark.parametrize("name", list(_FAMILIES))
def test_arg_constraints_and_support_match_torch(name):
    same_constraints(name, _FAMILIES[name])
    ind = D.Independent(D.Normal(zeroin.zeros(2, 3), 1.0), 2)
    _same_constraint(ind.support, TD.Independent(TD.Normal(torch.zeros(2, 3), 1.0), 2).support)
    with pytest.raises(ValueError, match="dependent"):
        _C.dependent.check(zeroin.tensor(1.0))


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_biject_to_and_transform_to_match_torch(registry):
    zr, tr = getattr(D, registry), getattr(TD, registry)
    x = _R.normal(size=(2, 3))
    for name, args in [("real", ()), ("positive", ()), ("nonnegative", ()),
                       ("greater_than", (2.0,)), ("greater_than_eq", (-1.0,)),
                       ("less_than", (1.0,)), ("unit_interval", ()), ("interval", (-1.0, 3.0)),
                       ("half_open_interval", (0.0, 1.0)), ("simplex", ()),
                       ("real_vector", ())]:
        zc, tc = getattr(_C, name), getattr(_TC, name)
        if args:
            zc, tc = zc(*args), tc(*args)
        zt, tt = zr(zc), tr(tc)
        assert type(zt).__name__ == type(tt).__name__, name
        zx = zeroin.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        zy, ty = zt(zx), tt(tx)
        _close(zy, ty)
        assert zc.check(zy).numpy().all(), name
        if tt.bijective:
            _close(zt.inv(zy), tx)
            zl, tl = zt.log_abs_det_jacobian(zx, zy), tt.log_abs_det_jacobian(tx, ty)
            _close(zl, tl)
            if tl.requires_grad:
                zl.sum().backward()
                tl.sum().backward()
                _close(zx.grad, tx.grad)
    with pytest.raises(NotImplementedError, match="Cannot transform"):
        zr(_C.boolean)


@settings(max_examples=40, deadline=None)
@given(x=st.floats(-40.0, 40.0), name=st.sampled_from(["Tanh", "Sigmoid", "Softplus", "Exp"]))
def test_log_det_is_stable_across_inputs(x, name):
    """log |dy/dx| for large |x| (where tanh and sigmoid saturate) equals torch's."""
    zt, tt = _ELEMENTWISE[name][0](D), _ELEMENTWISE[name][0](TD)
    zx, tx = zeroin.tensor([x]), torch.tensor([x], dtype=torch.float64)
    _close(zt.log_abs_det_jacobian(zx, zt(zx)), tt.log_abs_det_jacobian(tx, tt(tx)))
