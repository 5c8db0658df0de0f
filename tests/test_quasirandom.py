"""zeroin.quasirandom.SobolEngine against torch.quasirandom.SobolEngine."""
import numpy as np
import pytest

import zeroin

pytest.importorskip("scipy")


class _DefaultDtype:
    def __init__(self, dtype):
        self.dtype = dtype

    def __enter__(self):
        self.old = zeroin.get_default_dtype()
        zeroin.set_default_dtype(self.dtype)

    def __exit__(self, *exc):
        zeroin.set_default_dtype(self.old)


def test_unscrambled_points_equal_torchs_across_draws_skips_and_resets():
    torch = pytest.importorskip("torch")
    for d in (1, 2, 7, 40):
        z, t = zeroin.quasirandom.SobolEngine(d), torch.quasirandom.SobolEngine(d)
        assert repr(z) == repr(t) == f"SobolEngine(dimension={d})"
        parts = []
        for n in (1, 5, 0, 100, 3):             # chunked as a training loop draws them
            a, b = z.draw(n, dtype=zeroin.float64), t.draw(n, dtype=torch.float64)
            assert tuple(a.shape) == tuple(b.shape) == (n, d)
            parts.append((a.numpy(), b.numpy()))
        z.fast_forward(10), t.fast_forward(10)
        parts.append((z.draw(7).numpy(), t.draw(7, dtype=torch.float64).numpy()))
        assert z.num_generated == t.num_generated == 126
        z.reset(), t.reset()
        parts.append((z.draw_base2(4).numpy(), t.draw_base2(4, dtype=torch.float64).numpy()))
        for a, b in parts:
            np.testing.assert_array_equal(a, b)
    assert (zeroin.quasirandom.SobolEngine.MAXDIM, zeroin.quasirandom.SobolEngine.MAXBIT) == \
        (torch.quasirandom.SobolEngine.MAXDIM, torch.quasirandom.SobolEngine.MAXBIT)


def test_draw_dtype_and_out_as_torch():
    torch = pytest.importorskip("torch")
    assert zeroin.quasirandom.SobolEngine(2).draw(3).dtype == zeroin.get_default_dtype()
    assert zeroin.quasirandom.SobolEngine(2).draw(3, dtype=zeroin.float32).dtype == np.float32
    with _DefaultDtype(zeroin.float32):
        assert zeroin.quasirandom.SobolEngine(2).draw().dtype == np.float32
    out = zeroin.empty(4, 3)
    assert zeroin.quasirandom.SobolEngine(3).draw(4, out=out) is out
    np.testing.assert_array_equal(out.numpy(), torch.quasirandom.SobolEngine(3).draw(
        4, dtype=torch.float64).numpy())
    with pytest.raises(NotImplementedError, match="float16"):
        zeroin.quasirandom.SobolEngine(2).draw(2, dtype=zeroin.float16)


def test_scrambled_points_are_balanced_seeded_and_follow_zeroins_generator():
    torch = pytest.importorskip("torch")
    e = zeroin.quasirandom.SobolEngine(3, scramble=True, seed=5)
    assert repr(e) == repr(torch.quasirandom.SobolEngine(3, scramble=True, seed=5))
    p = e.draw_base2(6).numpy()
    assert p.min() >= 0 and p.max() < 1
    # a (0, m, d)-net property of Sobol' points: each coordinate has one point per 1/64 cell
    for j in range(3):
        np.testing.assert_array_equal(np.sort(np.floor(p[:, j] * 64)), np.arange(64))
    np.testing.assert_array_equal(
        p, zeroin.quasirandom.SobolEngine(3, scramble=True, seed=5).draw(64).numpy())
    assert not np.array_equal(p, zeroin.quasirandom.SobolEngine(3).draw(64).numpy())
    zeroin.manual_seed(3)
    a = zeroin.quasirandom.SobolEngine(2, scramble=True).draw(4).numpy()
    zeroin.manual_seed(3)
    b = zeroin.quasirandom.SobolEngine(2, scramble=True).draw(4).numpy()
    np.testing.assert_array_equal(a, b)
    assert zeroin.quasirandom.SobolEngine(2, scramble=True).seed is None


def test_errors_are_torchs():
    torch = pytest.importorskip("torch")
    for d in (0, 21202):
        with pytest.raises(ValueError) as t:
            torch.quasirandom.SobolEngine(d)
        with pytest.raises(ValueError) as z:
            zeroin.quasirandom.SobolEngine(d)
        assert str(z.value) == str(t.value)
    zs, ts = zeroin.quasirandom.SobolEngine(2), torch.quasirandom.SobolEngine(2)
    zs.draw(), ts.draw()
    with pytest.raises(ValueError) as t:
        ts.draw_base2(2)
    with pytest.raises(ValueError) as z:
        zs.draw_base2(2)
    assert str(z.value) == str(t.value)
    with pytest.raises(TypeError, match="SobolEngine.draw: n must be an int, got float"):
        zs.draw(2.0)
    with pytest.raises(ValueError, match="SobolEngine.fast_forward: n must be >= 0, got -1"):
        zs.fast_forward(-1)


def test_sobol_engine_works_with_scipy_before_the_rng_keyword(monkeypatch):
    # SciPy < 1.15's qmc.Sobol takes the generator as seed=, not rng=
    from scipy.stats import qmc
    real = qmc.Sobol
    want = zeroin.quasirandom.SobolEngine(3).draw(4).numpy()

    def old_sobol(d, *, scramble=True, bits=None, seed=None, **kw):
        if kw:
            raise TypeError(f"Sobol() got an unexpected keyword argument {next(iter(kw))!r}")
        return real(d, scramble=scramble, bits=bits, rng=seed)
    monkeypatch.setattr(qmc, "Sobol", old_sobol)
    got = zeroin.quasirandom.SobolEngine(3).draw(4).numpy()
    np.testing.assert_array_equal(got, want)
    assert got[1].tolist() == [0.5, 0.5, 0.5]
