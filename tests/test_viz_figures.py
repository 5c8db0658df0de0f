"""zeroin.viz.figures' image helper: every figure that shows an image whose ink is its high
values (MNIST, the digits) draws it in one grey map, ink dark on white (light theme) and
bright on slate (dark theme), read here from the rendered pixels."""
import numpy as np
import pytest

pytest.importorskip("matplotlib")


def _ink_minus_paper(fig, ax):
    """Rendered luminance at ``ax``'s image's ink pixels (its top values) minus that at its
    background (its lowest values), read from the Agg canvas at each pixel's centre."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3] / 255.0
    lum = rgb @ [0.2126, 0.7152, 0.0722]
    (image,) = ax.get_images()
    data = np.asarray(image.get_array(), dtype=float)
    lo, hi = data.min(), data.max()
    assert hi > lo
    rows, cols = np.indices(data.shape)
    xy = ax.transData.transform(np.c_[cols.ravel(), rows.ravel()])
    seen = lum[np.round(lum.shape[0] - xy[:, 1] - 0.5).astype(int),
               np.round(xy[:, 0] - 0.5).astype(int)]
    v = data.ravel()
    ink, paper = v >= lo + 0.8 * (hi - lo), v <= lo + 0.1 * (hi - lo)
    assert ink.any() and paper.any()
    return float(seen[ink].mean() - seen[paper].mean())


def _check(fig, axes, theme):
    diffs = [_ink_minus_paper(fig, ax) for ax in axes]
    assert diffs
    if theme == "light":
        assert all(d < -0.6 for d in diffs), diffs          # ink dark on white
    else:
        assert all(d > 0.6 for d in diffs), diffs           # ink bright on slate


def _digit(seed):
    """An 8x8 'digit': zeros with a bright stroke (ink is the high values, as MNIST)."""
    img = np.zeros((8, 8))
    img[1:7, 3 + seed % 2] = 16.0
    img[1, 2:6] = 12.0
    return img


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_image_cmap_and_show_image_read_ink_the_same_in_both_themes(theme):
    from zeroin.viz import figures as F
    with F.style(theme):
        fig, ax = F.subplots()
        im = F.show_image(ax, _digit(0))
        assert im.get_cmap().name == F.image_cmap(theme) == F.image_cmap()
        assert im.get_interpolation() == "nearest"
        # no grid over the pixels (the theme's lines would cross their centres)
        assert not any(g.get_visible() for g in ax.get_xgridlines() + ax.get_ygridlines())
    assert F.image_cmap() == F.image_cmap("light")           # the palette is back
    _check(fig, [ax], theme)
    with pytest.raises(ValueError, match="image_cmap: theme must be 'light' or 'dark'"):
        F.image_cmap("blue")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_evaluation_figures_misclassified_digits(theme):
    from zeroin.viz import evaluation
    from zeroin.viz import figures as F
    images = np.stack([_digit(i).ravel() for i in range(6)])
    y, pred = np.array([0, 1, 2, 0, 1, 2]), np.array([0, 2, 2, 1, 1, 0])
    with F.style(theme):
        fig = evaluation.classifier_figure(y, pred, images=images, image_shape=(8, 8))
    shown = [ax for ax in fig.axes if ax.get_images() and ax.get_title().count("\u2192")]
    assert len(shown) == 3
    _check(fig, shown, theme)
    if theme == "dark":
        from conftest import low_contrast
        # its per-class bars and lines (the matrix's numbers are inked for their cell, which
        # low_contrast, measuring texts against the slate, cannot see)
        assert [x for x in low_contrast(fig) if not x[0].startswith("text")] == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_convolution_lessons_digit_and_feature_maps(theme):
    from zeroin import lessons
    from zeroin.viz import figures as F
    r = lessons.convolution(None, verbose=False, train_epochs=1, theme=theme)
    fig = r.figures["filters"].figure
    grey = [ax for ax in fig.axes if ax.get_images()
            and ax.get_images()[0].get_cmap().name == F.image_cmap(theme)]
    assert len(grey) == 5 and grey[0].get_title().startswith("a test digit")   # + 4 maps
    _check(fig, grey[:1], theme)               # the digit; the maps: bright where they fire


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_tours_digit_grid(theme, tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    from zeroin import tour
    made, save = [], tour.F.save
    monkeypatch.setattr(tour.F, "save",
                        lambda fig, *a, **k: made.append(fig) or save(fig, *a, **k))
    tour.train_demo(str(tmp_path), dataset="digits", epochs=1, theme=theme)
    (fig,) = made
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) >= 6
    _check(fig, shown, theme)


def test_low_contrast_measures_filled_shapes_by_their_face():
    """tests/conftest.py's low_contrast skipped patches, bars and fill_between: a slate bar
    on the dark slide's slate read as fine. Now each filled shape's face is measured (or its
    edge, where a drawn edge reads and the face does not); the axes' own background, the
    legend's frame and filled contours (regions behind the data) are not."""
    from conftest import low_contrast
    from zeroin.viz import figures as F
    with F.style("dark"):
        fig, ax = F.subplots()
        ax.bar([0, 1], [1, 2], color=["#1e293b", F.COLORS["curve"]], label="bars")
        ax.fill_between([0, 1], [0, 0], [1, 1], color="#334155", label="band")
        ax.axvspan(1.5, 2, color=F.COLORS["left"], alpha=0.1, label="span")
        ax.bar([2], [1], color="#1e293b", edgecolor=F.COLORS["ink"], lw=2, label="outlined")
        ax.contourf([[0, 1], [1, 2]], colors=F.COLORS["regions"])
        ax.legend()
    flagged = low_contrast(fig)
    assert [what.split()[-1] for what, _ in flagged] == ["'_nolegend_'", "'span'",
                                                          "'band'"], flagged
    assert all(r < 3 for _, r in flagged)
    with F.style("dark"):
        fig, ax = F.subplots()
        ax.bar([0, 1], [1, 2], color=F.COLORS["curve"])
        ax.fill_between([0, 1], [0, 0], [1, 1], color=F.COLORS["right"], alpha=0.8)
    assert low_contrast(fig) == []
