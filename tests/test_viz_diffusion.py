"""zeroin.viz.diffusion: q(x_t | x_0) at a few steps and a sampling loop's snapshots, drawn
in a row each; the arrays drawn are the closed form's, read back from the axes."""
import numpy as np
import pytest

import zeroin
from zeroin.viz import diffusion


def _schedule(T=1000):
    return zeroin.cumprod(1 - zeroin.linspace(1e-4, 0.02, T, dtype=zeroin.float64), dim=0)


def _plus():
    yy, xx = np.mgrid[:16, :16]
    return np.where((np.abs(xx - 8) < 2) | (np.abs(yy - 8) < 2), 1.0, -1.0)[None]


def test_noised_is_q_samples_closed_form():
    abar = _schedule()
    x0, eps = _plus(), np.random.default_rng(0).standard_normal((1, 16, 16))
    ts = [0, 10, 500, 999]
    got = diffusion.noised(zeroin.tensor(x0), abar, ts, zeroin.tensor(eps))
    t = zeroin.tensor(ts)
    want = (abar.sqrt()[t][:, None, None, None] * zeroin.tensor(x0)
            + (1 - abar)[t].sqrt()[:, None, None, None] * zeroin.tensor(eps))
    np.testing.assert_allclose(np.stack(got), want.numpy(), rtol=1e-15, atol=1e-15)
    # the signal fades: its correlation with x_0 falls with t
    corr = [np.corrcoef(g.ravel(), x0.ravel())[0, 1] for g in got]
    assert corr[0] > 0.99 and corr[-1] < 0.3 and corr == sorted(corr, reverse=True)


def test_noised_refuses_a_step_outside_the_schedule_and_mismatched_noise():
    abar, x0 = _schedule(50), _plus()
    with pytest.raises(ValueError, match=r"noised: steps \[50\] are outside the schedule's "
                                         r"0..49 \(alphas_cumprod has 50 steps\)"):
        diffusion.noised(x0, abar, [0, 50], np.zeros_like(x0))
    with pytest.raises(zeroin.errors.ShapeError, match=r"noise of shape \(16, 16\) for an "
                                                       r"image of shape \(1, 16, 16\)"):
        diffusion.noised(x0, abar, [0], np.zeros((16, 16)))


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_figure_draws_the_noised_row_and_the_samples(theme):
    pytest.importorskip("matplotlib")
    from zeroin.viz import figures
    abar = _schedule()
    x0 = _plus()
    eps = np.random.default_rng(1).standard_normal(x0.shape)
    samples = [eps * 1.5, eps * 0.5 + x0 * 0.5, x0]
    fig = diffusion.diffusion_figure(x0, abar, [0, 250, 999], eps, samples=samples,
                                     sample_ts=[999, 500, 0], theme=theme, title="DDPM")
    top, bottom = fig.zeroin_rows
    assert len(top) == 3 and len(bottom) == 3
    drawn = [ax for ax in fig.axes if ax.get_images()]
    assert len(drawn) == 6
    for ax, want in zip(drawn, top + bottom):
        np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), want)
    np.testing.assert_allclose(top[1], np.clip(np.sqrt(abar[250].item()) * x0[0] + np.sqrt(
        1 - abar[250].item()) * eps[0], -1, 1))
    assert bottom[0].max() == 1 and bottom[0].min() == -1          # clipped to [-1, 1]
    titles = [ax.get_title() for ax in drawn]
    assert titles[1] == f"t = 250\n\u0101 = {abar[250].item():.3f}" and titles[3] == "x_999"
    assert "DDPM" in fig._suptitle.get_text()
    assert figures.render(fig, ("png",))["png"][:4] == b"\x89PNG"


def test_figure_takes_colour_images_and_refuses_a_batch():
    pytest.importorskip("matplotlib")
    rgb = np.random.default_rng(2).uniform(-1, 1, (3, 8, 8))
    fig = diffusion.diffusion_figure(rgb, _schedule(), [0, 999], np.zeros_like(rgb))
    assert fig.zeroin_rows[0][0].shape == (8, 8, 3) and len(fig.zeroin_rows) == 1
    with pytest.raises(zeroin.errors.ShapeError, match=r"\(H, W\), \(1, H, W\) or \(3, H, W\), "
                                                       r"got shape \(2, 1, 8, 8\).*x\[0\]"):
        diffusion.diffusion_figure(np.zeros((2, 1, 8, 8)), _schedule(), [0], np.zeros((2, 1, 8, 8)))
    with pytest.raises(ValueError, match="2 samples but 3 sample_ts"):
        diffusion.diffusion_figure(rgb, _schedule(), [0], rgb, samples=[rgb, rgb],
                                   sample_ts=[2, 1, 0])
