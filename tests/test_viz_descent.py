"""zeroin.viz.descent_path and plot_descent: gradient descent on any function, run by the
engine, against the chapter, hand-worked paths, torch.optim, and its figures."""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import lessons, optim
from zeroin.viz import DescentPath, descent_path, plot_descent


def chapter(x):
    return (x - 1) ** 2 + 0.001


def quad2(x):
    """d2l's f(x1, x2) = 0.1 x1^2 + 2 x2^2."""
    return 0.1 * x[0] ** 2 + 2 * x[1] ** 2


# --- the path ------------------------------------------------------------------------------

def test_the_chapters_first_step_and_the_lessons_whole_path():
    p = descent_path(chapter, 0.2, lr=0.1, steps=1000, tol=1e-3)
    assert p.points[1, 0] == pytest.approx(0.36, abs=1e-12)
    assert p.grads[0, 0] == pytest.approx(-1.6) and p.values[0] == pytest.approx(0.641)
    r = lessons.descent(figures=False, verbose=False)
    assert p.steps == r.steps and p.stop == "grad tol" and p.converged
    np.testing.assert_allclose(p.points[:, 0], r.xs, rtol=1e-6)
    np.testing.assert_allclose(p.grads[:, 0], r.grads, rtol=1e-5, atol=1e-7)
    assert p.scalar and isinstance(p.x, float) and p.x == pytest.approx(r.x_final)


def test_x_squared_by_hand():
    # x <- x - 0.25 * 2x = x / 2
    p = descent_path(lambda x: x ** 2, 1.0, lr=0.25, steps=6)
    n = np.arange(7)
    np.testing.assert_allclose(p.points[:, 0], 0.5 ** n)
    np.testing.assert_allclose(p.values, 0.25 ** n)
    np.testing.assert_allclose(p.grads[:, 0], 2 * 0.5 ** n)
    assert p.points.shape == (7, 1) and p.stop == "steps" and p.label == "SGD, lr = 0.25"


def test_lr_lambda_decays_the_rate_as_lambdalr():
    # step n: x <- x - 0.25 * 0.5**n * 2x = (1 - 0.5**(n+1)) x
    p = descent_path(lambda x: x ** 2, 1.0, lr=0.25, steps=5, lr_lambda=lambda n: 0.5 ** n)
    np.testing.assert_allclose(p.points[:, 0],
                               np.cumprod([1.0] + [1 - 0.5 ** (n + 1) for n in range(5)]))
    assert p.label == "SGD, lr = 0.25 * lr_lambda(n)"
    with pytest.raises(TypeError, match="lr_lambda must be a function of the step number"):
        descent_path(lambda x: x ** 2, 1.0, lr_lambda=0.5)


def test_the_2d_quadratic_by_hand():
    # x1 <- (1 - 0.2 lr) x1, x2 <- (1 - 4 lr) x2: lr = 0.4 gives 0.92 and -0.6 per step
    p = descent_path(quad2, [-5.0, -2.0], lr=0.4, steps=20)
    n = np.arange(21)[:, None]
    np.testing.assert_allclose(p.points, np.array([-5.0, -2.0]) * [0.92, -0.6] ** n,
                               atol=1e-12)
    np.testing.assert_allclose(p.grads, p.points * [0.2, 4.0], atol=1e-12)
    assert p.points.shape == (21, 2) and p.grads.shape == (21, 2) and not p.scalar


@pytest.mark.parametrize("name, kw", [("SGD", {"momentum": 0.9}),
                                      ("SGD", {"momentum": 0.5, "nesterov": True}),
                                      ("Adam", {}), ("RMSprop", {}),
                                      ("Adagrad", {})])
def test_optimizers_follow_torch_optim(name, kw):
    torch = pytest.importorskip("torch")

    def rosen(x):
        return (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2
    p = descent_path(rosen, [-1.0, 1.5], lr=0.01, steps=40, optimizer=getattr(optim, name),
                     **kw)
    x = torch.tensor([-1.0, 1.5], dtype=torch.float64, requires_grad=True)
    opt = getattr(torch.optim, name)([x], lr=0.01, **kw)
    want = [x.detach().numpy().copy()]
    for _ in range(40):
        opt.zero_grad()
        rosen(x).backward()
        opt.step()
        want.append(x.detach().numpy().copy())
    np.testing.assert_allclose(p.points, np.array(want), rtol=1e-10, atol=1e-12)
    assert p.label.startswith(name)


def test_gradients_are_the_engines_and_match_finite_differences():
    c = 0.15 * np.pi
    p = descent_path(lambda x: x * zeroin.cos(c * x), 10.0, lr=0.3, steps=5)
    h = 1e-6
    for x, g in zip(p.points[:, 0], p.grads[:, 0]):
        fd = ((x + h) * np.cos(c * (x + h)) - (x - h) * np.cos(c * (x - h))) / (2 * h)
        assert g == pytest.approx(fd, rel=1e-6, abs=1e-8)
    t = zeroin.tensor(p.points[2, 0], requires_grad=True)
    assert zeroin.gradcheck(lambda x: x * zeroin.cos(c * x), [t])


# --- why it stops ----------------------------------------------------------------------------

def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn()


@pytest.mark.parametrize("f, x0, kw, stop, words", [
    (lambda x: x ** 2, 1.0, {"lr": 0.25, "tol": 1e-3}, "grad tol", "|gradient| ="),
    (lambda x: x ** 2, 1.0, {"lr": 0.25, "step_tol": 1e-2}, "step tol", "|step| ="),
    (lambda x: x ** 2, 1.0, {"lr": 0.01, "steps": 5}, "steps", "all 5 steps taken"),
    (lambda x: x ** 4, 3.0, {"lr": 0.5}, "diverged", "try a smaller lr"),
    (lambda x: zeroin.exp(x ** 2), 3.0, {"lr": 1.0}, "diverged", "f(x) = inf"),
    (lambda x: x ** 2, 1.0, {"lr": 1.5, "blowup": 100.0}, "diverged", "beyond 100"),
    (lambda x: (x ** 2) ** 0.5, 0.0, {}, "not differentiable", "at x = 0 is nan"),
    (lambda x: x ** 0.5 + x, 0.0, {}, "not differentiable", "at x = 0 is inf"),
])
def test_stop_reasons_without_warnings(f, x0, kw, stop, words):
    p = _quiet(lambda: descent_path(f, x0, **kw))
    assert p.stop == stop and words in p.reason, p.reason
    assert p.converged == (stop in ("grad tol", "step tol"))
    if stop == "grad tol":
        assert np.abs(p.grads[-1]).max() < 1e-3 <= np.abs(p.grads[-2]).max()
    if stop == "step tol":
        assert abs(p.points[-1, 0] - p.points[-2, 0]) < 1e-2
    if stop == "diverged":
        assert p.steps < 50 and p.runs_away
    if stop == "not differentiable":
        assert p.steps == 0 and "not differentiable there" in p.reason


def test_a_one_element_result_is_a_scalar_as_for_torchs_backward():
    p = descent_path(lambda x: x * x, [1.0], lr=0.25, steps=2)
    np.testing.assert_allclose(p.points[:, 0], [1.0, 0.5, 0.25])
    assert not p.scalar and p.x.tolist() == [0.25]


def test_a_one_element_list_start_is_drawn_with_vectors_of_one():
    pytest.importorskip("matplotlib")
    files = plot_descent(lambda x: (x[0] - 1) ** 2, [0.2], lrs=0.1, steps=3)
    curve = files.figure.axes[0].lines[0]
    np.testing.assert_allclose(curve.get_ydata(), (curve.get_xdata() - 1) ** 2)


def test_a_start_within_tol_takes_no_step():
    p = descent_path(lambda x: x ** 2, 1e-6, tol=1e-3)
    assert p.steps == 0 and p.stop == "grad tol"


# --- printed ---------------------------------------------------------------------------------

def test_prints_as_a_table_cut_short_when_long():
    text = repr(descent_path(chapter, 0.2, lr=0.1, steps=3))
    lines = text.splitlines()
    assert lines[0] == "Gradient descent (SGD, lr = 0.1): all 3 steps taken; |gradient| is " \
                       "still 0.819"
    assert lines[1].split() == ["step", "x", "f(x)", "df/dx"]
    assert lines[3].split() == ["0", "0.2", "0.641", "-1.6"]
    assert lines[4].split() == ["1", "0.36", "0.4106", "-1.28"]
    long = str(descent_path(quad2, [-5.0, -2.0], lr=0.4, steps=40)).splitlines()
    assert long[1].split() == ["step", "x1", "x2", "f(x)", "df/dx1", "df/dx2"]
    assert len(long) == 3 + 12 and long[-3].split() == ["..."] * 6
    assert long[-1].split()[0] == "40"


def test_html_has_the_table_and_the_figure():
    pytest.importorskip("matplotlib")
    html = descent_path(chapter, 0.2, steps=3)._repr_html_()
    assert "<table>" in html and "0.36" in html and "data:image/svg+xml" in html


# --- figures ---------------------------------------------------------------------------------

def _texts(ax):
    return {t.get_text(): t for t in ax.texts}


def test_1d_figure_curve_points_arrows_legend_and_files(tmp_path):
    pytest.importorskip("matplotlib")
    files = plot_descent(chapter, 0.2, lrs=[0.1, 0.4], steps=8, out=str(tmp_path))
    assert files.png == str(tmp_path / "descent.png")
    assert (tmp_path / "descent.png").stat().st_size > 0
    assert (tmp_path / "descent.svg").read_text().startswith("<?xml")
    from matplotlib.image import imread
    assert imread(tmp_path / "descent.png").shape[:2] == (1080, 1920)    # 16:9 slide
    fig = plot_descent(chapter, 0.2, lrs=[0.1, 0.4], steps=8).figure
    (ax,) = fig.axes
    curve, *marks = ax.lines
    assert len(curve.get_xdata()) == 400
    np.testing.assert_allclose(curve.get_ydata(), chapter(curve.get_xdata()))
    assert [len(m.get_xdata()) for m in marks] == [9, 9]
    assert marks[0].get_marker() != marks[1].get_marker()
    assert marks[0].get_color() != marks[1].get_color()
    arrows = [t for t in ax.texts if t.get_text() == ""]
    assert len(arrows) == 16
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["SGD, lr = 0.1", "SGD, lr = 0.4"]
    lo, hi = ax.get_xlim()
    p = descent_path(chapter, 0.2, lr=0.4, steps=8)
    assert lo < 0.2 and hi > p.points.max()         # the view covers every point


def test_1d_numbers_stand_apart_and_text_is_big_enough():
    pytest.importorskip("matplotlib")
    files = plot_descent(chapter, 0.2, lrs=[0.1, 0.4, 1.1], steps=12)
    fig = files.figure
    ax = fig.axes[0]
    fig.draw_without_rendering()
    numbers = [t for t in ax.texts if t.get_text()]
    assert numbers and len(numbers) == sum(len(n) for n in files.numbered)
    assert files.numbered[0][:2] == [0, 2]           # crowded ones skipped, later kept
    boxes = [t.get_window_extent() for t in numbers]
    for i, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[i + 1:])
    assert all(t.get_fontsize() >= 12 for t in numbers)
    # at 150 dpi and 12.8 inches wide, 10 points are 21 px of 1920: legible on a slide
    assert all(t.get_fontsize() >= 10 for t in fig.legends[0].get_texts())


def test_figsize_makes_the_text_larger_on_a_slide(tmp_path):
    pytest.importorskip("matplotlib")
    big = plot_descent(chapter, 0.2, lr=0.1, steps=6).figure
    small = plot_descent(chapter, 0.2, lr=0.1, steps=6, figsize=(8, 4.5), out=tmp_path,
                         name="slide")
    with open(small.png, "rb") as f:
        head = f.read(24)
    assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == \
        (1200, 675)                                   # 8 x 4.5 inches at 150 dpi
    fig = plot_descent(chapter, 0.2, lr=0.1, steps=6, figsize=(8, 4.5)).figure
    assert tuple(fig.get_size_inches()) == (8, 4.5)
    assert tuple(big.get_size_inches()) == (12.8, 7.2)  # the default is unchanged
    for g in (big, fig):
        g.draw_without_rendering()
    share = [max(t.get_window_extent().height for t in g.axes[0].texts if t.get_text())
             / g.bbox.height for g in (big, fig)]
    assert share[1] > 1.5 * share[0]                  # the numbers take more of the slide
    ax = fig.axes[0]
    boxes = [t.get_window_extent() for t in ax.texts if t.get_text()]
    assert all(fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1)
               for b in boxes)


def test_dark_theme_draws_every_mark_readable_on_a_dark_slide(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.colors import to_hex
    from matplotlib.image import imread
    from conftest import low_contrast
    from zeroin.viz import figures
    colours = dict(figures.COLORS)
    for f, x0, lrs in ((chapter, 0.2, [0.1, 0.5, 1.05]),
                       (quad2, [2.0, 1.0], [0.1 * k for k in range(1, 9)])):   # 8 series
        light = plot_descent(f, x0, lrs=lrs, steps=12).figure
        dark = plot_descent(f, x0, lrs=lrs, steps=12, theme="dark").figure
        assert to_hex(light.get_facecolor()) == "#ffffff"
        assert to_hex(dark.get_facecolor()) == to_hex(dark.axes[0].get_facecolor()) == \
            "#0f172a"                                # draw(theme="dark")'s slate
        assert low_contrast(dark) == []              # lines, markers, contours, texts
    assert figures.COLORS == colours                 # the light palette is back after it
    files = plot_descent(chapter, 0.2, lr=0.1, steps=4, theme="dark", out=tmp_path,
                         name="dark")
    corner = imread(files.png)[2, 2, :3]             # saved with its own background
    assert to_hex(corner) == "#0f172a"
    with pytest.raises(ValueError, match=r"plot_descent: theme must be 'light' or 'dark', "
                                         r"got 'black'"):
        plot_descent(chapter, 0.2, theme="black")


def test_a_diverging_path_is_clipped_with_a_note(tmp_path):
    pytest.importorskip("matplotlib")
    files = plot_descent(chapter, 0.2, lrs=[0.1, 1.1], steps=12)
    assert files.off_view == {"SGD, lr = 0.1": None, "SGD, lr = 1.1": 7}
    assert "Clipped to the view: SGD, lr = 1.1 from step 7" in files.caption
    ax = files.figure.axes[0]
    lo, hi = ax.get_xlim()
    converging = descent_path(chapter, 0.2, lr=0.1, steps=12).points[:, 0]
    assert lo < converging.min() and hi > converging.max() and hi < 4
    edge = [m for m in ax.lines if m.get_marker() in (">", "<", "^", "v")]
    assert len(edge) == 1 and edge[0].get_xdata()[0] == pytest.approx(hi)


def test_optimizers_as_a_dict_are_labelled_by_its_keys():
    pytest.importorskip("matplotlib")
    runs = {"plain": optim.SGD, "heavy ball": (optim.SGD, {"momentum": 0.5})}
    files = plot_descent(quad2, [-5.0, -2.0], optimizers=runs, lr=0.4, steps=5)
    labels = [t.get_text() for t in files.figure.legends[0].get_texts()]
    assert labels == ["plain", "heavy ball", "start", "end",
                      "lowest f on a grid"]   # quad2's minimum, found on a grid
    files = plot_descent(quad2, [-5.0, -2.0], optimizers=runs, lrs=[0.1, 0.4], steps=5)
    labels = [t.get_text() for t in files.figure.legends[0].get_texts()]
    assert labels[:4] == ["plain, lr = 0.1", "plain, lr = 0.4", "heavy ball, lr = 0.1",
                          "heavy ball, lr = 0.4"]
    ax = files.figure.axes[0]
    want = descent_path(quad2, [-5.0, -2.0], lr=0.4, steps=5, optimizer=optim.SGD, momentum=0.5)
    assert any(np.allclose(ln.get_xydata(), want.points) for ln in ax.lines
               if len(ln.get_xdata()) == 6)


def test_2d_figure_contours_paths_start_and_end():
    pytest.importorskip("matplotlib")
    runs = [optim.SGD, (optim.SGD, {"momentum": 0.5}), optim.Adam]
    files = plot_descent(quad2, [-5.0, -2.0], optimizers=runs, lr=0.4, steps=20)
    ax = files.figure.axes[0]
    assert ax.get_xlabel() == "x1" and ax.get_ylabel() == "x2"
    assert len(ax.collections) >= 1 and ax.collections[0].get_paths()     # contour lines
    labels = [t.get_text() for t in files.figure.legends[0].get_texts()]
    assert labels == ["SGD, lr = 0.4", "SGD, momentum = 0.5, lr = 0.4", "Adam, lr = 0.4",
                      "start", "end", "lowest f on a grid"]
    paths = [ln for ln in ax.lines if len(ln.get_xdata()) == 21]
    assert len(paths) == 3 and len({ln.get_marker() for ln in paths}) == 3
    want = descent_path(quad2, [-5.0, -2.0], lr=0.4, steps=20, optimizer=optim.Adam)
    np.testing.assert_allclose(paths[2].get_xydata(), want.points)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    for ln in paths:
        xy = ln.get_xydata()
        assert x0 < xy[:, 0].min() and xy[:, 0].max() < x1
        assert y0 < xy[:, 1].min() and xy[:, 1].max() < y1
    assert len([ln for ln in ax.lines if ln.get_marker() == "*"]) == 3
    assert files.caption.startswith("Gradient descent: SGD, lr = 0.4: all 20 steps taken")


def test_axes_named_as_the_book_names_its_parameters():
    # Understanding Deep Learning draws its Gabor model's loss over "offset phi0" and
    # "frequency phi1": the names belong in the figure that is saved, not set afterwards
    pytest.importorskip("matplotlib")
    files = plot_descent(quad2, [-5.0, -2.0], lr=0.4, steps=5, xlabel=r"offset $\phi_0$",
                         ylabel=r"frequency $\phi_1$")
    ax = files.figure.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == (r"offset $\phi_0$", r"frequency $\phi_1$")
    plain = plot_descent(quad2, [-5.0, -2.0], lr=0.4, steps=5)
    assert files.svg_data != plain.svg_data
    one = descent_path(chapter, 0.2, lr=0.1, steps=3).plot(xlabel="w", ylabel="loss")
    assert (one.figure.axes[0].get_xlabel(), one.figure.axes[0].get_ylabel()) == ("w", "loss")


def test_each_optimizer_its_own_learning_rate_and_optimizer_as_descent_path_takes_it():
    # the book's figure 6.9: plain descent at 0.08 beside Adam at 0.05; a settings dict with
    # "lr" was a TypeError (descent_path got lr twice), and so was descent_path's optimizer=
    pytest.importorskip("matplotlib")
    runs = {"GD": (optim.SGD, {"lr": 0.08}), "Adam": (optim.Adam, {"lr": 0.05})}
    files = plot_descent(quad2, [-5.0, -2.0], optimizers=runs, steps=10)
    paths = [ln for ln in files.figure.axes[0].lines if len(ln.get_xdata()) == 11]
    for ln, (cls, lr) in zip(paths, [(optim.SGD, 0.08), (optim.Adam, 0.05)]):
        want = descent_path(quad2, [-5.0, -2.0], lr=lr, steps=10, optimizer=cls)
        np.testing.assert_allclose(ln.get_xydata(), want.points)
    one = plot_descent(quad2, [-5.0, -2.0], lr=0.05, steps=10, optimizer=optim.SGD,
                       momentum=0.5)
    want = descent_path(quad2, [-5.0, -2.0], lr=0.05, steps=10, momentum=0.5)
    got = [ln for ln in one.figure.axes[0].lines if len(ln.get_xdata()) == 11]
    np.testing.assert_allclose(got[0].get_xydata(), want.points)
    with pytest.raises(ValueError, match=r"plot_descent: Adam's settings give lr=0\.05 and "
                       r"lrs=\[0\.1, 0\.2\] gives the rates too"):
        plot_descent(quad2, [-5.0, -2.0], lrs=[0.1, 0.2], optimizers=[(optim.Adam, {"lr": 0.05})])
    with pytest.raises(ValueError, match=r"optimizer= \(one\) or optimizers="):
        plot_descent(quad2, [-5.0, -2.0], optimizer=optim.SGD, optimizers=[optim.Adam])


def test_plot_takes_paths_and_a_path_plots_itself(tmp_path):
    pytest.importorskip("matplotlib")
    a = descent_path(chapter, 0.2, lr=0.1, steps=5)
    b = descent_path(chapter, 1.8, lr=0.3, steps=5, label="from the right")
    written = plot_descent(chapter, [a, b], out=str(tmp_path), name="two")
    assert written.png == str(tmp_path / "two.png") and (tmp_path / "two.svg").exists()
    files = plot_descent(chapter, [a, b])
    assert files.png is None and files.svg_data.startswith(b"<?xml")
    html = files._repr_html_()                     # inline in Jupyter, with the caption
    assert "data:image/svg+xml" in html and "from the right: all 5 steps taken" in html
    assert [t.get_text() for t in files.figure.legends[0].get_texts()] == [
        "SGD, lr = 0.1", "from the right"]
    one = a.plot(xlim=(-1, 3))
    assert one.figure.axes[0].get_xlim() == (-1, 3)
    assert one.figure.axes[0].get_title() == "Gradient descent on chapter, SGD, lr = 0.1"


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, exc, words", [
    (lambda: descent_path(lambda x: x * 2, [1.0, 2.0]), ValueError,
     r"f must return a scalar \(shape \(\)\), got shape \(2,\).*\.sum\(\)"),
    (lambda: descent_path(lambda x: float(x.item()) ** 2, 1.0), TypeError,
     "f must return a zeroin tensor"),
    (lambda: descent_path(lambda x: zeroin.tensor(x.item()) ** 2, 1.0), ValueError,
     "does not depend on x"),
    (lambda: descent_path(chapter, 0.2, lr=-0.1), ValueError,
     r"descent_path: lr must be a finite number > 0 .*got -0.1"),
    (lambda: descent_path(chapter, 0.2, lr=0), ValueError, "lr must be"),
    (lambda: descent_path(chapter, 0.2, lr=float("nan")), ValueError, "lr must be"),
    (lambda: descent_path(chapter, 0.2, steps=0), ValueError, "steps must be a whole"),
    (lambda: descent_path(chapter, 0.2, tol=-1), ValueError, "tol must be"),
    (lambda: descent_path(chapter, [[0.2]]), ValueError, "1-D list"),
    (lambda: descent_path(chapter, "a"), TypeError, "x0 must be a number"),
    (lambda: descent_path(chapter, 0.2, optimizer=optim.SGD([zeroin.zeros(1,
                                                                           requires_grad=True)],
                                                              lr=0.1)),
     TypeError, "optimizer takes a class"),
    (lambda: plot_descent(lambda x: (x ** 2).sum(), [1.0, 2.0, 3.0]), ValueError,
     "x has 3 coordinates.*2-D slice.*descent_path alone"),
    (lambda: plot_descent(chapter, 0.2, lrs=[0.1, -1.0]), ValueError, "lr must be"),
    (lambda: plot_descent(chapter, 0.2, figsize=8), ValueError,
     r"plot_descent: figsize must be \(width, height\) in inches.*got 8"),
    (lambda: plot_descent(chapter, 0.2, figsize=(8, 0)), ValueError, "figsize must be"),
])
def test_errors_name_the_function_and_the_fix(call, exc, words):
    with pytest.raises(exc, match=words):
        call()


def test_missing_matplotlib_names_the_extra(monkeypatch):
    from zeroin.viz import figures
    monkeypatch.setattr(figures, "available", lambda: False)
    with pytest.raises(ImportError, match=r"plot_descent: .*pip install 'zeroin\[plots\]'"):
        plot_descent(chapter, 0.2)


def test_import_stays_light():
    code = ("import sys, zeroin, zeroin.viz; zeroin.viz.descent_path(lambda x: x * x, 1.0); "
            "print(sorted(m for m in ('matplotlib', 'scipy', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_result_is_a_descent_path():
    assert isinstance(descent_path(chapter, 0.2, steps=1), DescentPath)


# --- the minimum: kept in view and marked, even where the paths stop short of it ----------

def shifted(x):
    return (x[0] - 1) ** 2 + 3 * (x[1] + 0.5) ** 2


def bowl(x):
    return (x - 2) ** 2 + 1


def _minimum_marks(ax):
    return [ln for ln in ax.lines if ln.get_marker() == "X"]


def test_a_2d_path_that_stops_short_still_shows_where_it_was_heading():
    """The minimum is (1, -0.5); eight small steps from (-5, 2) end near (-3.3, 0.4).
    The view used to stop at the paths (x1 up to about -3): now it reaches the minimum,
    found on a grid and marked with an X, and the caption says how far the path ends."""
    pytest.importorskip("matplotlib")
    files = plot_descent(shifted, [-5.0, 2.0], lr=0.02, steps=8)
    np.testing.assert_allclose(files.minimum, [1.0, -0.5], atol=0.01)
    ax = files.figure.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < -5 and x1 > 1.05 and y0 < -0.55 and y1 >= 2.0       # the paths and it
    (mark,) = _minimum_marks(ax)
    np.testing.assert_allclose(mark.get_xydata()[0], files.minimum)
    path = descent_path(shifted, [-5.0, 2.0], lr=0.02, steps=8)
    gap = np.linalg.norm(path.points[-1] - [1.0, -0.5])
    assert "lowest on a grid, near (0.99" in files.caption or \
        "lowest on a grid, near (1" in files.caption, files.caption
    said = float(files.caption.split("the path ends ")[1].split()[0])
    assert said == pytest.approx(gap, rel=0.01)
    legend = [t.get_text() for t in files.figure.legends[0].get_texts()]
    assert legend[-1] == "lowest f on a grid"


def test_a_given_minimum_widens_a_1d_view_and_false_marks_none():
    pytest.importorskip("matplotlib")
    files = plot_descent(bowl, -1.0, lr=0.05, steps=3, minimum=2.0)
    ax = files.figure.axes[0]
    assert ax.get_xlim()[1] > 2.0
    (mark,) = _minimum_marks(ax)
    assert tuple(mark.get_xydata()[0]) == (2.0, 1.0)                  # on the curve: f(2)
    assert "the minimum, at (2)" in files.caption
    assert [t.get_text() for t in files.figure.legends[0].get_texts()][-1] == "minimum"
    plain = plot_descent(bowl, -1.0, lr=0.05, steps=3)               # 1-D: none by default
    assert plain.minimum is None and not _minimum_marks(plain.figure.axes[0])
    assert plain.figure.axes[0].get_xlim()[1] < 0
    off = plot_descent(shifted, [-5.0, 2.0], lr=0.02, steps=8, minimum=False)
    assert off.minimum is None and off.figure.axes[0].get_xlim()[1] < -2.5
    assert "X marks" not in off.caption


def test_no_minimum_in_reach_marks_nothing():
    """A plane falls for ever: the lowest grid point is always on the grid's edge."""
    pytest.importorskip("matplotlib")
    files = plot_descent(lambda x: x[0] + 2 * x[1], [0.0, 0.0], lr=0.1, steps=4)
    assert files.minimum is None and not _minimum_marks(files.figure.axes[0])


def test_xlim_wins_over_the_minimum():
    pytest.importorskip("matplotlib")
    files = plot_descent(shifted, [-5.0, 2.0], lr=0.02, steps=8, xlim=(-6, -2))
    assert files.figure.axes[0].get_xlim() == (-6, -2)
    assert files.figure.axes[0].get_ylim()[0] < -0.5                  # y is still free


@pytest.mark.parametrize("minimum", [(1.0, 2.0, 3.0), "here", (np.nan, 0.0)])
def test_a_bad_minimum_is_said(minimum):
    with pytest.raises(ValueError, match=r"plot_descent: minimum must be 2 finite numbers"):
        plot_descent(shifted, [-5.0, 2.0], lr=0.02, steps=2, minimum=minimum)
