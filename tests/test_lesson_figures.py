"""The lesson figures' geometry: every mark inside the axes, labels that do not overlap,
captions and legends that say what is drawn, for the chapter's values and for others."""
import pytest

from zeroin import lessons

pytest.importorskip("matplotlib")


def _inside(ax, xs, ys):
    """True when every (x, y) lies within the axes' limits."""
    (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
    return all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in zip(xs, ys))


def _boxes_overlap(a, b):
    return not (a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0)


# --- descent (lesson 5) -------------------------------------------------------------------

DESCENT_CASES = [{}, {"eta": 0.3, "x0": -0.5, "x0_right": 2.5},   # notebook 05, cell 5
                 {"eta": 0.45, "x0": -1.0, "x0_right": 3.0}]


@pytest.mark.parametrize("kw", DESCENT_CASES)
def test_descent_grad1_curve_runs_under_every_point_and_labels_do_not_overlap(kw):
    r = lessons.descent(verbose=False, **kw)
    fig = r.figures["grad1"].figure
    ax = fig.axes[0]
    curve, left, right = ax.lines[:3]
    cx = curve.get_xdata()
    for line, key in ((left, "xs"), (right, "xs_right")):
        px, py = line.get_xdata(), line.get_ydata()
        assert len(px) == min(8, len(r.values[key]))
        assert cx.min() < px.min() and px.max() < cx.max()       # on the drawn curve
        assert _inside(ax, px, py)
    assert _inside(ax, cx, curve.get_ydata())
    fig.draw_without_rendering()
    labels = [t for t in ax.texts if t.get_text().isdigit()]
    boxes = [t.get_window_extent() for t in labels]
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            assert not _boxes_overlap(boxes[i], boxes[j]), (labels[i].get_text(),
                                                            labels[j].get_text())
    # each side numbers steps 0..n-1, and the caption says so
    caption = r.figures["grad1"].caption
    for line, key, side in ((left, "xs", "left"), (right, "xs_right", "right")):
        nums = sorted(int(t.get_text()) for t in labels if t.get_color() == line.get_color())
        n = r.grad1_numbered[key]
        assert nums == list(range(n)) and n >= 2
        if n < len(line.get_xdata()):
            assert f"0-{n - 1} on the {side}" in caption
    if r.grad1_numbered == {"xs": len(left.get_xdata()), "xs_right": len(right.get_xdata())}:
        assert "numbered by step;" in caption


@pytest.mark.parametrize("eta, kind, intro, title", [
    (0.1, "smooth", "x shrinks: both sides go down to x = 1.", "both sides go down to x = 1"),
    (0.7, "overshoot", "both sides go down to x = 1, jumping across it every step.",
     "both sides go down to x = 1"),
    (0.001, "too slow", "from x0 = 0.2 x only gets to 0.891948 in 1000 steps (|dy/dx| is "
     "still 0.216: too small a step); from x0 = 1.8 x only gets to 1.10805 in 1000 steps",
     "not at x = 1 after 1000 steps"),
    (1.0, "oscillation", "from x0 = 0.2 x jumps between 0.2 and 1.8 forever",
     "x jumps across x = 1 forever"),
    (1.1, "divergence", "from x0 = 0.2 every step throws x further away, to -5.79e+05 "
     "after 74 steps", "every step throws x further from 1"),
])
def test_descent_says_what_happened_in_the_text_and_the_title(eta, kind, intro, title):
    r = lessons.descent(eta=eta, verbose=False)
    assert r.outcome == [kind, kind] and intro in r.intro
    assert ("go down to x = 1" in r.intro) == (kind in ("smooth", "overshoot"))
    fig = r.figures["grad1"].figure
    ax = fig.axes[0]
    assert ax.get_title() == f"Gradient descent, eta = {eta:g}: {title}"
    fig.draw_without_rendering()
    box = ax.title.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width                 # the title fits


@pytest.mark.parametrize("eta, why", [
    (0.1, "the later points crowd together near the minimum"),
    (0.001, "each step is tiny, so the points crowd together"),
    (1.0, "the later points land on the earlier ones"),
    (5.0, "the first points crowd together, small beside the later ones"),
])
def test_descent_grad1_caption_says_why_points_go_unnumbered(eta, why):
    """Only converging runs crowd near the minimum; an oscillating or diverging one
    (a learner's eta = 1 or 5) must not be captioned so."""
    r = lessons.descent(eta=eta, verbose=False)
    caption = r.figures["grad1"].caption
    assert f"({why}" in caption, caption
    assert ("near the minimum" in caption) == ("near the minimum" in why)


def test_descent_says_each_side_when_they_differ():
    r = lessons.descent(eta=0.001, x0=0.9999, verbose=False, figures=False)
    assert r.outcome == ["smooth", "too slow"]
    assert "from x0 = 0.9999 x starts within the tolerance; from x0 = 1.8 x only" in r.intro
    assert r.headline == "from 0.9999 x reaches 1, from 1.8 x falls short"


def test_descent_names_each_run_by_where_it_starts():
    """Starts given the other way round keep their true sides; two starts on one side of
    the minimum are named by their values, and nothing calls them left and right."""
    r = lessons.descent(x0=1.8, x0_right=0.2, verbose=False)
    t = r.table("Steps from")
    assert t.title.startswith("Steps from x0 = 1.8 (right) and x0 = 0.2 (left)")
    assert t.columns[1] == "x (right)" and t.columns[5] == "x (left)"
    assert r.notes[0].startswith("From the right: x = 1.8, 1.64")
    assert "x_n = 1 - 0.8^n * (-0.8)." in r.notes[1]
    fig = r.figures["grad1"].figure
    ax = fig.axes[0]
    first = next(line for line in ax.lines[1:] if line.get_label() == "from x0 = 1.8")
    numbers = [t for t in ax.texts if t.get_color() == first.get_color()]
    assert numbers and all(t.xyann[0] > 0 for t in numbers)      # outward: to the right
    assert "from each side of the minimum" in r.figures["grad1"].caption

    r = lessons.descent(x0=1.5, x0_right=1.8, eta=0.3, verbose=False)
    runs = " ".join([r.headline, r.figures["grad1"].caption, r.notes[0],
                     r.table("Steps from").title, *r.table("Steps from").columns])
    assert "left" not in runs and "right" not in runs and "both sides" not in r.intro
    assert r.table("Steps from").columns[1] == "x (x0 = 1.5)"
    assert r.notes[0].startswith("From x0 = 1.5: x = 1.5, 1.2")
    assert r.headline == "both starts go down to x = 1"
    assert "from x0 = 1.5 and from x0 = 1.8" in r.figures["grad1"].caption


@pytest.mark.parametrize("eta", [0.1, 0.9, 1.05])
def test_descent_grad1_numbers_each_point_outward_from_the_minimum(eta):
    """A run that jumps across x = 1 has its numbers down-left of the points left of the
    minimum and down-right of those right of it, as a run that stays on one side does."""
    r = lessons.descent(eta=eta, verbose=False)
    ax = r.figures["grad1"].figure.axes[0]
    numbers = [t for t in ax.texts if t.get_text().isdigit()]
    assert len(numbers) >= 4
    for t in numbers:
        assert (t.xyann[0] > 0) == (t.xy[0] > 1), (t.get_text(), t.xy, t.xyann)


@pytest.mark.parametrize("kw", DESCENT_CASES + [{"x0": 1.8}])
def test_descent_grad2_shows_the_whole_step(kw):
    r = lessons.descent(verbose=False, **kw)
    ax = r.figures["grad2"].figure.axes[0]
    assert _inside(ax, [r.x0, r.x1, r.x1, r.x1], [r.y0, r.y1, r.tangent_y1, r.y1])
    for line in ax.lines[2:]:                 # the step, the chord, the dotted gap, A, x1
        assert _inside(ax, line.get_xdata(), line.get_ydata())
    assert ax.get_xlim()[0] < ax.get_xlim()[1]


@pytest.mark.parametrize("kw", DESCENT_CASES + [
    {"x0": 1.8}, {"x0": -3.0}, {"x0": 5.0}, {"eta": 0.7}, {"x0": 1.8, "eta": 0.7},
    {"x0": 1.05}, {"x0": -50.0}, {"x0": 60.0}, {"x0": -500.0}])
def test_descent_grad2_labels_touch_no_line_and_stay_inside(kw):
    """A and x1 are placed from the geometry: for a start right of the minimum, far away
    or a step across it too, each label is inside the axes, clear of every drawn line and
    marker, of the legend and of the other label."""
    r = lessons.descent(verbose=False, **kw)
    fig = r.figures["grad2"].figure
    ax = fig.axes[0]
    fig.draw_without_rendering()
    labels = {t.get_text().split(" ")[0]: t.get_window_extent() for t in ax.texts}
    assert set(labels) == {"A", "x1"}
    legend = ax.get_legend().get_window_extent()
    for name, box in labels.items():
        assert ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1, name
        assert ax.bbox.y0 <= box.y0 and box.y1 <= ax.bbox.y1, name
        assert not _boxes_overlap(box, legend), name
        for line in ax.lines:
            path = line.get_transform().transform_path(line.get_path())
            if len(path.vertices) > 1:
                assert not path.intersects_bbox(box, filled=False), (name, line.get_label())
            else:                               # a marker: A or the new point
                (x, y), = path.vertices
                assert not (box.x0 - 5 < x < box.x1 + 5 and box.y0 - 5 < y < box.y1 + 5)
    assert not _boxes_overlap(labels["A"], labels["x1"])


def _texts_off_the_canvas(fig):
    """Every text of ``fig`` (titles, axis and tick labels, annotations, legends) whose box
    leaves the figure, measured as the PNG is written: at its dpi, after the lessons' save
    has settled the layout."""
    import matplotlib

    from zeroin.viz import figures as F
    F.render(fig, ("png",))
    with F.style():
        fig.set_dpi(matplotlib.rcParams["savefig.dpi"])
        fig.draw_without_rendering()
        r = fig._get_renderer()
        boxes = [(a.get_title() or a.get_label(), a.get_tightbbox(r)) for a in fig.axes]
        boxes += [(t.get_text(), t.get_window_extent(r)) for a in fig.axes for t in a.texts
                  if t.get_visible() and t.get_text().strip()]
        boxes += [("legend", leg.get_window_extent(r)) for leg in fig.legends]
    w, h = fig.bbox.width, fig.bbox.height
    return [name for name, b in boxes
            if b is not None and (b.x0 < -1 or b.y0 < -1 or b.x1 > w + 1 or b.y1 > h + 1)]


@pytest.mark.parametrize("name, kw", [
    ("descent", {"x0": -50.0, "x0_right": 60.0}), ("descent", {"eta": 1.5}),
    ("descent", {"x0": 1000.0, "eta": 0.9}), ("descent", {"eta": 0.001}),
    ("learning-rate", {"etas": (0.001, 2.5)}), ("learning-rate", {"x0": -100.0}),
    ("solve", {"target": 176.0}), ("solve", {"target": -4.0}),
    ("sensitivity", {"nudge": 5.0}), ("shooting", {"rounds": 30, "runs": 5})])
def test_no_text_leaves_the_canvas_for_extreme_settings(name, kw):
    """A far start, a huge or tiny step, a far target: every title, label and annotation is
    still on the picture (x1 = -39.8 ran off grad2's right edge from x0 = -50)."""
    r = lessons.run(name, verbose=False, **kw)
    for key, f in r.figures.items():
        if hasattr(f.figure, "savefig"):
            assert _texts_off_the_canvas(f.figure) == [], (key, kw)


@pytest.mark.parametrize("target", [60.0, 100.0, 176.0, 20.0])
def test_solve_contour_labels_do_not_overlap(target):
    """The (w, b) plane's contours are spaced as the way to the target (60: z = 50, 55 | 65,
    70), so that far targets' labels do not pile up (176 drew z = 181 on z = 186)."""
    r = lessons.solve(target=target, verbose=False)
    fig = r.figures["solve"].figure
    fig.draw_without_rendering()
    boxes = [t.get_window_extent() for t in fig.axes[1].texts]
    assert len(boxes) >= 2
    assert not any(_boxes_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


# --- learning rate (lesson 6) -------------------------------------------------------------

def test_learning_rate_runs_differ_in_grey_too():
    """Six runs in six colours cannot be told apart on a black-and-white printout (or by
    a colour-blind reader): each run also has its own marker and dash pattern."""
    r = lessons.learning_rate(verbose=False)
    for ax in r.figures["learning_rate"].figure.axes[:2]:
        runs = [ln for ln in ax.lines if ln.get_label().startswith("eta = ")
                and "exactly 0" not in ln.get_label()]
        assert len(runs) == 6
        styles = {(ln.get_marker(), ln.get_linestyle()) for ln in runs}
        assert len(styles) == 6 and len({m for m, _ in styles}) == 6

def test_a_gradient_of_exactly_zero_is_marked_on_the_log_panel():
    r = lessons.learning_rate(etas=(0.2, 0.5, 0.9, 1.05), x0=3.0, max_steps=40,
                              verbose=False)                        # notebook 06, cell 5
    assert r.steps[0.5] == 1 and r.kinds[0.5] == "smooth"
    assert "eta = 0.5: converges smoothly in 1 step." in r.notes
    assert "(1 step)." in r.text() and "1 steps" not in r.text()
    files = r.figures["learning_rate"]
    ax, ax2 = files.figure.axes[:2]
    assert _inside(ax, [0], [3.0])                                   # the start, in view
    zeros = [ln for ln in ax2.lines if ln.get_marker() == "v"]
    assert len(zeros) == 1 and list(zeros[0].get_xdata()) == [1]   # a point at step 1
    floor = zeros[0].get_ydata()[0]
    lo, hi = ax2.get_ylim()
    positive = [y for ln in ax2.lines if ln.get_marker() == "o" for y in ln.get_ydata()]
    assert lo < floor < min(positive) and max(positive) < hi
    fig = files.figure
    fig.draw_without_rendering()
    ticks = {t.get_text(): t.get_position()[1] for t in ax2.get_yticklabels()}
    assert ticks["0"] == floor                                       # the floor says 0
    assert any("exactly 0 at step 1" in t.get_text() for t in ax2.texts)
    assert "exactly 0 at step 1" in files.caption


def test_without_zeros_the_log_panel_is_plain():
    r = lessons.learning_rate(verbose=False)
    ax2 = r.figures["learning_rate"].figure.axes[1]
    assert not [ln for ln in ax2.lines if ln.get_marker() == "v"]
    assert "exactly 0" not in r.figures["learning_rate"].caption


def test_counts_are_singular_for_one():
    r = lessons.sensitivity(verbose=False, figures=False)
    assert repr(r).startswith("LessonResult('sensitivity': 1 table, 0 figures,")
    d = lessons.descent(eta=0.5, verbose=False, figures=False)
    assert "after 1 step;" in d.notes[0]


# --- legends, colour bars and the figures of train and sweep ------------------------------

@pytest.fixture(scope="module")
def shown():
    """The lessons whose figures the tests below look at, figures kept in memory."""
    return {name: lessons.run(name, verbose=False)
            for name in ("shooting", "loss", "convolution")}


def _legend_texts(fig):
    return [t.get_text() for leg in fig.legends + [a.get_legend() for a in fig.axes]
            if leg is not None for t in leg.get_texts()]


def test_legends_fit_inside_their_figures(shown):
    for r in shown.values():
        for key, f in r.figures.items():
            fig = f.figure
            fig.draw_without_rendering()
            for leg in fig.legends:
                box = leg.get_window_extent()
                assert box.x0 >= -1 and box.x1 <= fig.bbox.width + 1, (r.name, key)


def test_every_mark_of_the_shooting_targets_is_in_a_legend(shown):
    texts = _legend_texts(shown["shooting"].figures["target2"].figure)
    assert {"mean hit", "miss (error)", "correction"} <= set(texts)
    assert "miss (error) of a shot" in _legend_texts(shown["loss"].figures["loss"].figure)


def test_smoothing_axis_labels_both_ends_and_numbers_agree_with_the_text(shown):
    r = shown["shooting"]
    fig = r.figures["smoothing"].figure
    ax = fig.axes[0]
    fig.draw_without_rendering()
    lo, hi = ax.get_ylim()
    labelled = [t.get_position()[1] for t in ax.get_yticklabels()
                if t.get_text() and lo <= t.get_position()[1] <= hi]
    data = r.rms_sgd + r.rms_batch
    assert min(labelled) <= min(data) and max(data) <= max(labelled)   # 4.27 under a label
    for rms in (r.rms_sgd[-1], r.rms_batch[-1]):
        assert any(f"RMS {rms:.3f} cm" in t for t in _legend_texts(fig))
        assert f"{rms:.3f} cm" in r.notes[-1]


def test_the_shooting_aims_stay_in_view_after_one_round():
    r = lessons.shooting(rounds=1, runs=50, verbose=False)
    files = r.figures["smoothing"]
    ax, ax2 = files.figure.axes[:2]
    for line in ax2.lines:
        assert _inside(ax2, line.get_xdata(), line.get_ydata())
    assert [t for t in ax.get_xticks() if t != int(t)] == []          # whole corrections
    assert "have not settled" in files.caption and "leave the aim" not in files.caption


def test_convolution_panels_are_framed_apart_and_filters_have_colour_bars(shown):
    fig = shown["convolution"].figures["window"].figure
    signs = [t.get_text() for a in fig.axes for t in a.texts if not a.axison]
    # the element-by-element product is the Hadamard sign, never x (a matrix product)
    assert signs == ["\u2299", "="]
    caption = shown["convolution"].figures["window"].caption
    assert "\u2299" in caption and "element by element" in caption
    every_text = [caption, *shown["convolution"].notes, shown["convolution"].intro,
                  *(t.get_text() for a in fig.axes for t in [*a.texts, a.title, a.xaxis.label])]
    assert not any("\u00d7" in t or " times the kernel" in t for t in every_text)
    images = [a for a in fig.axes if a.images]
    # the frames (the window, the output y[1, 2] = 9, itself the reddest cell) have a white
    # halo, so red on red still shows, and are not cut in half at the panel's edge
    frames = [p for a in images for p in a.patches if not p.get_fill()]
    assert len(frames) == 2
    for p in frames:
        halo = [e for e in p.get_path_effects() if getattr(e, "_gc", {}).get("foreground")]
        assert halo and halo[0]._gc["foreground"] == "#ffffff" and not p.get_clip_on()
    assert len(images) == 3 and all(
        all(sp.get_visible() for sp in a.spines.values()) for a in images)
    fig = shown["convolution"].figures["filters"].figure
    bars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert [b.get_ylabel() for b in bars] == ["weight", "after ReLU"]


def test_convolution_frames_with_their_halo_stay_on_the_canvas(shown):
    """The output's frame (y[1, 2], the panel's right column) with its white halo is drawn
    whole: its right side ran 1 px past the PNG's edge, so the halo there was cut off."""
    import matplotlib

    from zeroin.viz import figures as F
    fig = shown["convolution"].figures["window"].figure
    F.render(fig, ("png",))
    with F.style():
        fig.set_dpi(matplotlib.rcParams["savefig.dpi"])
        fig.draw_without_rendering()
        r = fig._get_renderer()
        frames = [p for a in fig.axes for p in a.patches if not p.get_fill()]
        assert len(frames) == 2
        for p in frames:
            halo = max([p.get_linewidth()] + [e._gc.get("linewidth", 0)
                                              for e in p.get_path_effects()])
            pad = halo / 2 * fig.dpi / 72                      # half the stroke, in pixels
            b = p.get_window_extent(r)
            assert (b.x0 - pad >= 0 and b.y0 - pad >= 0 and b.x1 + pad <= fig.bbox.width
                    and b.y1 + pad <= fig.bbox.height), (b, pad, fig.bbox)


def test_train_and_sweep_figures_are_slide_ready(tmp_path, capsys):
    import struct

    from zeroin.cli import main
    assert main(["train", "xor", "--hidden", "4", "--epochs", "2", "--verbose", "0",
                 "--out", str(tmp_path / "t")]) == 0
    for name in ("loss", "accuracy"):
        head = (tmp_path / "t" / f"{name}.png").read_bytes()[16:24]
        assert struct.unpack(">II", head) == (900, 600)          # 6 x 4 in at 150 dpi
        assert (tmp_path / "t" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    from zeroin.recipes import sweep_figure
    runs = [{"lr": lr, "losses": [0.7, 0.5 * k, 0.4 * k], "diverged": False}
            for k, lr in ((1, 0.01), (0.6, 0.6))]
    fig = sweep_figure(runs, target=0.1)
    ax = fig.axes[0]
    fig.draw_without_rendering()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and all("10^" not in t and "times" not in t and "\\" not in t
                          for t in labels)
    lo, hi = ax.get_ylim()
    values = [float(t) for t in labels if lo <= float(t) <= hi]
    assert min(values) <= 0.1 and max(values) >= 0.7


@pytest.mark.parametrize("etas", [(0.3, 1.05), (0.05, 0.1, 0.4, 0.8, 1.0, 1.1), (0.1, 0.4)])
def test_learning_rate_marks_points_that_leave_the_x_panel(etas):
    """A diverging run's points beyond the left panel's range are not lost silently: each
    has a triangle on the edge it left by, and the caption says which run from which step."""
    r = lessons.learning_rate(etas=etas, verbose=False)
    ax = r.figures["learning_rate"].figure.axes[0]
    lo, hi = ax.get_ylim()
    marks = [line for line in ax.lines if line.get_marker() in ("^", "v")]
    beyond = {eta: [i for i, x in enumerate(r.trajectories[eta][:16]) if not lo <= x <= hi]
              for eta in etas}
    assert len(marks) == sum(len(v) for v in beyond.values())
    for m in marks:
        (step,), (y,) = m.get_xdata(), m.get_ydata()
        assert y == (hi if m.get_marker() == "^" else lo)
        assert any(step in v for v in beyond.values())
    off = r.values["lr_off_view"]
    assert off == {e: v[0] for e, v in beyond.items() if v}
    caption = r.figures["learning_rate"].caption
    assert ("triangles" in caption) == bool(off)
    for e, n in off.items():
        assert f"eta = {e:g} from step {n}" in caption


# --- dark slides (theme="dark") -------------------------------------------------------------

def _png_size(data):
    """(width, height) from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture(scope="module")
def dark():
    """Every lesson with theme="dark", its figures kept in memory."""
    return {name: lessons.run(name, verbose=False, theme="dark") for name in lessons.LESSONS}


def test_every_lesson_figure_reads_on_a_light_page():
    """Each lesson's figures in the default light theme: every line, marker, contour, text
    and filled shape at WCAG contrast >= 3 against the white paper (a projector washes
    out less); matplotlib's orange (2.5), cyan, pink and olive and the tangent's yellow
    (2.3) were under it."""
    from conftest import low_contrast
    plots = 0
    for name in lessons.LESSONS:
        for key, f in lessons.run(name, verbose=False).figures.items():
            if hasattr(f.figure, "savefig"):
                plots += 1
                assert low_contrast(f.figure) == [], (name, key)
    assert plots >= 10


def test_every_lesson_figure_reads_on_a_dark_slide(dark, tmp_path):
    """Each lesson's figures in dark: slate behind, and every line, marker, contour and text
    at WCAG contrast >= 3 against it; the saved PNGs (the graphs' too) are slate."""
    from conftest import low_contrast
    from matplotlib.colors import to_hex
    from matplotlib.image import imread
    from zeroin.viz import figures
    plots = 0
    for name, r in dark.items():
        assert r.theme == "dark" and r.figures, name
        for key, f in r.figures.items():
            if hasattr(f.figure, "savefig"):
                plots += 1
                assert to_hex(f.figure.get_facecolor()) == "#0f172a", (name, key)
                assert low_contrast(f.figure) == [], (name, key)
            else:                                   # a graph drawn by zeroin.draw
                assert f.figure.theme == "dark", (name, key)
        for path in r.save(str(tmp_path / name)):
            if path.endswith(".png"):
                assert to_hex(imread(path)[2, 2, :3]) == "#0f172a", path
    assert plots == 11
    assert figures.COLORS["paper"] == "#ffffff"         # the light palette is back


def test_light_lesson_figures_keep_their_colours(shown):
    """The default theme draws as before: a few artists' colours against their old
    hard-coded values (target rings, marker edges, the image panels' numbers and frames)."""
    from matplotlib.colors import to_hex
    from matplotlib.patches import Circle
    target = shown["shooting"].figures["target2"].figure
    rings = [p for p in target.axes[0].patches if isinstance(p, Circle)]
    assert {to_hex(p.get_facecolor()) for p in rings[:-1]} == {"#f4f1e8", "#ffffff"}
    assert {to_hex(p.get_edgecolor()) for p in rings[:-1]} == {"#555555"}
    assert to_hex(rings[-1].get_facecolor()) == "#222222"            # the bullseye
    means = [ln for ln in target.axes[0].lines if ln.get_marker() == "X"]
    assert means and {to_hex(ln.get_markeredgecolor()) for ln in means} == {"#000000"}
    assert to_hex(target.get_facecolor()) == "#ffffff"
    window = shown["convolution"].figures["window"].figure
    numbers = [t for a in window.axes for t in a.texts if t.get_bbox_patch() is not None]
    assert {to_hex(t.get_color()) for t in numbers} == {"#000000", "#d62728"}  # tab:red
    assert {to_hex(t.get_bbox_patch().get_facecolor()[:3]) for t in numbers} == {"#ffffff"}
    framed = [a for a in window.axes if a.images]
    assert {to_hex(sp.get_edgecolor()) for a in framed for sp in a.spines.values()} == \
        {"#6b7280"}
    assert framed[0].images[0].get_cmap().name == "Greys"
    ideal = [ln for ln in shown["loss"].figures["loss"].figure.axes[0].lines
             if ln.get_label() == "ideal aim"]
    assert to_hex(ideal[0].get_color()) == "#000000"


def test_no_colour_is_hard_coded_in_the_lessons():
    """The lessons take every colour from the theme's palette (figures.COLORS)."""
    import glob
    import os
    import re
    folder = os.path.dirname(lessons.__file__)
    for path in glob.glob(os.path.join(folder, "*.py")):
        with open(path, encoding="utf-8") as f:
            code = f.read()
        found = re.findall(r'''["']#[0-9a-fA-F]{3,8}["']''', code) + re.findall(
            r'''\b(?:colou?rs?|mfc|mec|fc|ec|facecolor|edgecolor|foreground)=["'][^"']*["']''',
            code) + re.findall(r'''set_color\(["'][^"']*["']''', code)
        assert found == [], (os.path.basename(path), found)


def test_the_chain_rule_graphs_are_one_build_up(dark):
    """The four graph pictures share one layout and one size (1274x528 to 1796x716
    before), so that on slides one follows the other without a jump."""
    for r in (dark["chain-rule"], lessons.chain_rule(verbose=False),
              lessons.chain_rule(w=1, b=-2, verbose=False)):
        drawings = [f.figure for f in r.figures.values()]
        assert len(drawings) == 4
        assert len({(d.width, d.height) for d in drawings}) == 1
        assert all(d.pos == drawings[0].pos for d in drawings)
        sizes = {_png_size(f.data("png")) for f in r.figures.values()}
        assert len(sizes) == 1, sizes
    structure, values, to_b, to_w = (f.data("svg").decode() for f in r.figures.values())
    assert "grad" not in structure and "grad" not in values and "= -2" in values
    assert "The graph z = x * y" in structure and "Backward: the path from z to w" in to_w


def test_a_bad_theme_is_said_by_the_lesson():
    with pytest.raises(ValueError, match=r"solve: theme must be 'light' or 'dark', got 'blue'"):
        lessons.solve(theme="blue", verbose=False)
    with pytest.raises(ValueError, match=r"chain-rule: theme must be 'light' or 'dark'"):
        lessons.run("chain-rule", theme="Dark", verbose=False)
