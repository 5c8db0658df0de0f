"""zeroin.viz.set_context / context: larger text for slides, read by every zeroin figure;
the text still fits (nothing off the canvas, no two texts on each other)."""
import struct

import pytest

import zeroin.viz as V
from zeroin.viz import contexts

pytest.importorskip("matplotlib")


def quad2(x):
    return (x[0] - 1) ** 2 + 3 * (x[1] + 0.5) ** 2


def bowl(x):
    return (x - 2) ** 2 + 1


@pytest.fixture(autouse=True)
def _notebook_after():
    yield
    V.set_context()                         # a failing test must not leave "poster" behind


def _png_size(data):
    return struct.unpack(">II", data[16:24])


def test_set_context_and_the_with_block_restore_what_was_before():
    assert V.get_context() == ("notebook", 1.0) and contexts.scale() == 1
    V.set_context("talk", font_scale=1.2)
    assert V.get_context() == ("talk", 1.2) and contexts.scale() == pytest.approx(1.8)
    with V.context("poster"):
        assert contexts.scale() == 2.0 and contexts.size(10) == 20
        with V.context("paper"):
            assert contexts.size(10) == pytest.approx(8)
    assert V.get_context() == ("talk", 1.2)
    V.set_context()
    assert contexts.size(9) == 9 and isinstance(contexts.size(9), int)   # untouched


@pytest.mark.parametrize("call, words", [
    (lambda: V.set_context("big"), ["set_context", "'talk'", "'big'"]),
    (lambda: V.context("talk", font_scale=0).__enter__(), ["context", "font_scale", "0"]),
    (lambda: V.set_context("talk", font_scale="2"), ["font_scale", "'2'"])])
def test_a_wrong_context_is_said_with_the_choices(call, words):
    with pytest.raises(ValueError) as e:
        call()
    assert all(w in str(e.value) for w in words), str(e.value)
    assert V.get_context() == ("notebook", 1.0)


def _sizes(fig):
    fig.draw_without_rendering()
    ax = fig.axes[0]
    return (ax.title.get_fontsize(), ax.xaxis.label.get_fontsize(),
            ax.get_xticklabels()[0].get_fontsize(),
            max(t.get_fontsize() for t in ax.texts), fig.legends[0].get_texts()[0].get_fontsize())


def test_every_size_of_a_figure_grows_by_the_context():
    """Title, axis label, tick labels, the numbers written by zeroin (fontsize=...) and
    the legend: each times 1.5 at "talk", 2 at "poster", 2.4 at "poster" * 1.2; the figure
    by the square root, so that text takes more of it."""
    base = plot_1d = _sizes(V.plot_descent(bowl, 0.2, lr=0.1, steps=6).figure)
    assert plot_1d == (14, 12, 12, 12, 10)                  # the lessons' style
    for name, scale, k in (("talk", 1, 1.5), ("poster", 1, 2.0), ("poster", 1.2, 2.4),
                           ("paper", 1, 0.8)):
        with V.context(name, font_scale=scale):
            files = V.plot_descent(bowl, 0.2, lr=0.1, steps=6)
            assert _sizes(files.figure) == pytest.approx([k * s for s in base]), name
            grow = max(k, 1) ** 0.5
            assert tuple(files.figure.get_size_inches()) == pytest.approx(
                (12.8 * grow, 7.2 * grow))
    assert _sizes(V.plot_descent(bowl, 0.2, lr=0.1, steps=6).figure) == base


def test_the_default_context_draws_the_same_bytes_after_a_talk():
    """Leaving a context leaves nothing behind: the notebook figure before and after is
    byte for byte the same, and the talk one differs."""
    def png():
        return V.plot_descent(quad2, [-2.0, 1.5], lr=0.1, steps=12).data("png")
    before = png()
    with V.context("talk"):
        talk = png()
    assert png() == before and talk != before
    assert _png_size(talk)[0] > _png_size(before)[0]


@pytest.mark.parametrize("name", ["talk", "poster"])
def test_descent_figures_fit_at_talk_and_poster(name):
    from conftest import text_problems
    with V.context(name):
        for f, x0 in ((bowl, 0.2), (quad2, [-2.0, 1.5])):
            fig = V.plot_descent(f, x0, lrs=[0.05, 0.1, 0.4], steps=12).figure
            assert text_problems(fig) == [], (name, f.__name__)


@pytest.mark.parametrize("name", ["talk", "poster"])
def test_every_lesson_figure_fits_at_talk_and_poster(name):
    """Every matplotlib figure of every lesson: its text larger, and still all on the
    canvas with no text on another (titles wrap, legends take fewer columns)."""
    from conftest import text_problems

    from zeroin import lessons
    checked = 0
    with V.context(name):
        for lesson in lessons.LESSONS:
            r = lessons.run(lesson, verbose=False)
            for key, f in r.figures.items():
                if hasattr(f.figure, "savefig"):
                    assert text_problems(f.figure) == [], (lesson, key)
                    checked += 1
    assert checked == 11


def test_the_checker_sees_clipped_and_overlapping_text():
    """text_problems is not blind: two labels on each other and one off the edge."""
    from conftest import text_problems

    from zeroin.viz import figures as F
    with F.style():
        fig, ax = F.subplots()
        ax.text(0.5, 0.5, "one label", transform=ax.transAxes)
        ax.text(0.52, 0.5, "another label", transform=ax.transAxes)
        ax.text(1.3, 0.5, "off the edge", transform=ax.transAxes)
    problems = text_problems(fig)
    assert any("overlap" in p and "one label" in p for p in problems)
    assert any("off the canvas" in p and "off the edge" in p for p in problems)


def test_long_titles_wrap_and_wide_legends_take_fewer_columns_only_when_enlarged():
    from zeroin.viz import figures as F
    title = "A title much wider than its axes once the text is twice its size on a poster"

    def made():
        with F.style():
            fig, ax = F.subplots(figsize=(5, 4))
            for i in range(4):
                ax.plot([0, 1], [i, i], label=f"a rather long legend entry {i}")
            ax.set_title(title)
            leg = F.legend_below(fig, [ax], ncol=4)
            F.render(fig, ("png",))
        return fig, ax, leg
    fig, ax, leg = made()
    assert ax.get_title() == title and leg._ncols == 4
    with V.context("poster"):
        fig, ax, leg = made()
        from conftest import text_problems
        assert "\n" in ax.get_title() and ax.get_title().split() == title.split()
        assert leg._ncols < 4
        assert text_problems(fig) == []


@pytest.mark.parametrize("name", ["talk", "poster"])
def test_an_equal_aspect_axes_title_stays_on_the_canvas_above_a_legend_below(name):
    """Constrained layout sizes its margins from an equal-aspect axes' box before the
    aspect shrinks it: with the legend under the plot, the shooting lesson's targets had
    their titles past the top edge at talk (0.9 px on matplotlib 3.11, 3.6 px on 3.10).
    Measured as the PNG is written, with no slack."""
    from conftest import drawn_texts

    from zeroin import lessons
    with V.context(name):
        r = lessons.run("shooting", verbose=False)
        for key in ("target1", "target2"):
            fig = r.figures[key].figure
            titles = {ax.get_title() for ax in fig.axes}
            tops = [(s, box.y1) for s, box in drawn_texts(fig) if s in titles]
            assert len(tops) == len(titles)
            for s, top in tops:
                assert top <= fig.bbox.height, (key, s, top, fig.bbox.height)


def test_wrap_titles_uses_matplotlibs_public_api_only(monkeypatch):
    """wrap_titles read Figure._get_renderer, Axes._left_title / _right_title and
    Figure._suptitle: now the public draw_without_rendering, get_window_extent,
    get_children and get_suptitle. The centre, left and right titles, the axis labels and
    a subfigure's suptitle still wrap to fit their room, words kept, with the private
    renderer getter gone."""
    from matplotlib.figure import Figure

    from zeroin.viz import figures as F
    long = "A title much wider than its axes once the text is twice its size on a poster"

    import ast
    import inspect
    import sys
    private = Figure._get_renderer

    def from_zeroin_refused(self, *args, **kwargs):       # matplotlib's own calls go on
        if sys._getframe(1).f_globals.get("__name__", "").startswith("zeroin"):
            raise AssertionError("zeroin called Figure._get_renderer")
        return private(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "_get_renderer", from_zeroin_refused)
    with V.context("poster"), F.style():
        for loc in ("left", "center", "right"):
            fig, axes = F.subplots(1, 2, figsize=(9, 5))
            axes[0].set_title(f"{loc} {long}", loc=loc)
            axes[1].set_xlabel("x " + long)
            contexts.wrap_titles(fig)
            wrapped = [axes[0].get_title(loc=loc), axes[1].get_xlabel()]
            assert all("\n" in t for t in wrapped), wrapped
            assert [t.split()[1:] for t in wrapped] == [long.split()] * 2
            fig.draw_without_rendering()
            title = [t for t in axes[0].get_children()
                     if getattr(t, "get_text", lambda: "")() == wrapped[0]]
            for t, ax in ((title[0], axes[0]), (axes[1].xaxis.label, axes[1])):
                assert t.get_window_extent().width <= ax.bbox.width
        sub = Figure(figsize=(10, 7), layout="constrained")
        left, _ = sub.subfigures(1, 2)
        left.subplots()
        left.suptitle("sub " + long)
        contexts.wrap_titles(sub)
        assert "\n" in left.get_suptitle() and left.get_suptitle().split()[1:] == long.split()
    for f in (contexts.wrap_titles, contexts._wrap_pass, contexts._titles):
        read = {n.attr for n in ast.walk(ast.parse(inspect.getsource(f)))
                if isinstance(n, ast.Attribute) and n.attr.startswith("_")}
        assert read <= {"_zeroin_wrapped"}, (f.__name__, read)        # zeroin's own mark


@pytest.mark.parametrize("dataset", ["moons", "digits"])
def test_the_tours_training_figure_fits_at_talk_and_poster(dataset, tmp_path, monkeypatch):
    from conftest import text_problems

    from zeroin import tour
    if dataset == "digits":
        pytest.importorskip("sklearn")
    made, save = [], tour.F.save
    monkeypatch.setattr(tour.F, "save",
                        lambda fig, *a, **k: made.append(fig) or save(fig, *a, **k))
    for name in ("talk", "poster"):
        with V.context(name):
            tour.train_demo(str(tmp_path / name), dataset=dataset, epochs=1)
            assert text_problems(made[-1]) == [], name
    assert len(made) == 2


def test_one_epoch_is_ticked_as_epoch_1():
    """A one-epoch curve had ticks 0.945 ... 1.05 on its epoch axis."""
    from zeroin.viz.curves import history_figure

    class H:
        history = {"loss": [0.5], "val_loss": [0.6]}
        epoch, best_epoch, monitor = [1], None, None
    fig = history_figure(H())
    fig.draw_without_rendering()
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1"]


def test_cli_context_flag_enlarges_the_figures_and_is_reset(tmp_path, capsys):
    from zeroin.cli import main
    sizes = {}
    for name in ("notebook", "poster"):
        out = tmp_path / name
        assert main(["train", "xor", "--hidden", "4", "--epochs", "2", "--verbose", "0",
                     "--out", str(out), "--context", name]) == 0
        sizes[name] = _png_size((out / "loss.png").read_bytes())
        assert V.get_context() == ("notebook", 1.0)          # the flag lasts the command
    assert sizes["notebook"] == (900, 600)
    assert sizes["poster"] == (int(900 * 2 ** 0.5), int(600 * 2 ** 0.5))   # 6 x 4 in, grown
    assert main(["lesson", "sensitivity", "--out", str(tmp_path / "l"), "--context",
                 "talk"]) == 0
    png = next((tmp_path / "l").glob("*.png")).read_bytes()
    with pytest.raises(SystemExit):
        main(["tour", "--context", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    assert _png_size(png)[0] > 0


# --- zeroin.draw: node text, labels, captions and titles grow; the boxes grow with them ---

def _draw_sizes(d):
    return sorted({s["size"] for s in d._scene() if s["kind"] == "text"})


def _smallest_on_slide(d, frame=(1920, 1080)):
    return min(_draw_sizes(d)) * min(frame[0] / d.width, frame[1] / d.height)


def test_draw_text_grows_and_reads_larger_on_a_slide():
    """Every text of zeroin.draw (node text, op symbols, edge numbers, titles) is 1.5
    times larger at "talk"; gaps between ranks do not grow as much, so that the picture
    fitted to a 1920 x 1080 slide shows larger text than at "notebook"."""
    from conftest import chapter_graph
    w, b, _, _, z = chapter_graph()
    base = zeroin_draw(z, wrt=b, title="The chain rule")
    with V.context("talk"):
        talk = zeroin_draw(z, wrt=b, title="The chain rule")
    assert _draw_sizes(talk) == pytest.approx([1.5 * s for s in _draw_sizes(base)])
    assert _smallest_on_slide(talk) > 1.1 * _smallest_on_slide(base)
    widths = {n.key: n.w for n in base._nodes}
    assert all(n.w > widths[n.key] for n in talk._nodes)
    assert talk.svg(id_prefix="t") == talk.svg(id_prefix="t")   # drawn in its own scale,
    with V.context("poster"):                                    # whatever the context now
        assert talk.svg(id_prefix="t") != base.svg(id_prefix="t")
        assert _draw_sizes(talk) == pytest.approx([1.5 * s for s in _draw_sizes(base)])


def zeroin_draw(*a, **k):
    import zeroin
    return zeroin.draw(*a, **k)


@pytest.mark.parametrize("name", ["talk", "poster"])
def test_draw_geometry_holds_at_talk_and_poster(name):
    """At larger text: nodes never overlap, edge numbers cover no node, no other number
    and no other edge, module frames hold their nodes and never overlap."""
    import zeroin
    from test_draw import _boxes, _hit, _labels_over_other_edges
    from test_viz_groups import _check_geometry, _mlp
    from zeroin import nn
    with V.context(name):
        a = zeroin.tensor(123456789.0, requires_grad=True, name="a")
        t = zeroin.tensor(1e-9, requires_grad=True, name="tiny")
        p = a * zeroin.tensor(-2345678.0, requires_grad=True, name="b")
        out = (p * a + t * a) * p
        zeroin.manual_seed(0)
        mlp = nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1))
        y = mlp(zeroin.tensor([[0.5, -1.0]])).sum()
        for d in (zeroin.draw(out, wrt=a), zeroin.draw(out, wrt=t, rankdir="TB"),
                  zeroin.draw(y, model=mlp, wrt=mlp[0].weight)):
            labels, nodes = _boxes(d)
            for i, box in enumerate(nodes):
                assert not any(_hit(box, o) for o in nodes[i + 1:])
            for i, lab in enumerate(labels):
                assert not any(_hit(lab, n) for n in nodes)
                assert not any(_hit(lab, o) for o in labels[:i])
                assert 0 <= lab[0] and lab[2] <= d.width and lab[3] <= d.height
            assert _labels_over_other_edges(d) == []
        net, calls, loss = _mlp()
        for kw in ({}, {"collapse": True}, {"direction": "TB"}):
            _check_geometry(zeroin.draw(loss, modules=calls, **kw))


def test_backward_steps_frames_share_one_size_at_talk():
    import zeroin
    from conftest import chapter_graph
    w, b, _, _, z = chapter_graph()
    with V.context("talk"):
        steps = list(zeroin.viz.backward_steps(z))
    base = list(zeroin.viz.backward_steps(z))
    assert len({(d.width, d.height) for d in steps}) == 1
    assert steps[0].height > base[0].height
    assert _draw_sizes(steps[-1]) == pytest.approx([1.5 * s for s in _draw_sizes(base[-1])])
