"""Text in any script in zeroin's pictures: a fallback font for characters DejaVu Sans lacks
(Chinese names and titles), one warning when no font has them, and widths that fit them.

No CJK font is installed here: the tests build a tiny TrueType font with fontTools (a
filled square per character) and register it with matplotlib for the test's duration."""
import contextlib
import hashlib
import re
import warnings

import pytest

import zeroin
from zeroin.viz import fonts
from zeroin.viz.format import cells

pytest.importorskip("matplotlib")
pytest.importorskip("fontTools")

CHINESE = "权重链式法则偏置学习率乘以梯度损失函数别的标题"
MISSING = "Glyph .* missing from font"


def _build_font(path, family, chars):
    """A TrueType font ``family`` with a filled square (1 em wide) for each of ``chars``."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    names = [".notdef", "space"] + [f"uni{ord(c):04X}" for c in chars]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({32: "space", **{ord(c): f"uni{ord(c):04X}" for c in chars}})
    glyphs = {}
    for n in names:
        pen = TTGlyphPen(None)
        if n != "space":
            pen.moveTo((100, -80))
            pen.lineTo((100, 800))
            pen.lineTo((900, 800))
            pen.lineTo((900, -80))
            pen.closePath()
        glyphs[n] = pen.glyph()
    fb.setupGlyf(glyphs)
    fb.setupHorizontalMetrics({n: (500 if n == "space" else 1000, 100) for n in names})
    fb.setupHorizontalHeader(ascent=880, descent=-120)
    fb.setupNameTable({"familyName": family, "styleName": "Regular",
                       "psName": family.replace(" ", "") + "-Regular"})
    fb.setupOS2(sTypoAscender=880, sTypoDescender=-120, usWinAscent=880, usWinDescent=120)
    fb.setupPost()
    fb.save(str(path))
    return str(path)


@contextlib.contextmanager
def _installed(tmp_path, *families):
    """Fonts ``(family, chars)`` registered with matplotlib inside the block, then removed."""
    from matplotlib import font_manager as fm
    paths = [_build_font(tmp_path / f"font{i}.ttf", fam, chars)
             for i, (fam, chars) in enumerate(families)]
    for p in paths:
        fm.fontManager.addfont(p)
    try:
        yield [fam for fam, _ in families]
    finally:
        fm.fontManager.ttflist[:] = [e for e in fm.fontManager.ttflist if e.fname not in paths]
        fm.fontManager._findfont_cached.cache_clear()


@pytest.fixture
def cjk(tmp_path):
    with _installed(tmp_path, ("Zeroin Test CJK", CHINESE)) as names:
        yield names[0]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    """Each test starts as a fresh process would: no warning given yet."""
    monkeypatch.setattr(fonts, "_warned", [])


def _no_cjk_font_installed():
    found, _ = fonts.fallback_families("权")
    if found:
        pytest.skip(f"a CJK font is installed here ({found[0]})")


def _chain(title="链式法则"):
    w = zeroin.tensor(3.0, requires_grad=True, name="权重w")
    b = zeroin.tensor(4.0, requires_grad=True, name="偏置")
    z = (2 * w + b) * (b + 1)
    z.name = "损失函数"
    return zeroin.draw(z, wrt=b, title=title)


def _bar_figure(title="链式法则"):
    from zeroin.viz import figures as F
    with F.style():
        fig, ax = F.subplots()
        ax.bar(["权重", "偏置", "x"], [1, 2, 3], label="损失")
        ax.set_title(title)
        ax.set_ylabel("value")
        ax.legend()
    return fig, ax


def _missing(record):
    return [w for w in record if re.search(MISSING, str(w.message))]


def _ours(record):
    return [w for w in record if "No installed font has" in str(w.message)]


# --- with a font that has the characters ----------------------------------------------

def test_draw_png_and_pdf_take_the_characters_from_the_installed_font(cjk):
    d = _chain()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        png, pdf = d.png(), d.pdf()
    assert png.startswith(b"\x89PNG")
    assert not _missing(record) and not _ours(record)
    embedded = set(re.findall(rb"/BaseFont /\w+\+(\S+)", pdf))
    assert b"ZeroinTestCJK-Regular" in embedded          # the Chinese from the test font
    assert b"DejaVuSans" in embedded or b"DejaVuSans-Bold" in embedded   # the rest as before
    assert not any(b"LastResort" in e for e in embedded)


def test_figure_texts_fall_back_per_text_and_latin_texts_keep_their_font(cjk):
    from matplotlib import font_manager as fm

    from zeroin.viz import figures as F
    fig, ax = _bar_figure()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        data = F.render(fig, ("svg", "png"))
    assert not _missing(record) and not _ours(record)
    assert ax.title.get_fontfamily() == ["sans-serif", cjk]
    assert ax.get_legend().get_texts()[0].get_fontfamily() == ["sans-serif", cjk]
    labels = {t.get_text(): t for t in ax.get_xticklabels()}
    assert labels["权重"].get_fontfamily()[-1] == cjk
    assert labels["x"].get_fontfamily() == ["sans-serif"]        # Latin: untouched
    assert ax.yaxis.label.get_fontfamily() == ["sans-serif"]
    used = [str(p) for p in fm.fontManager._find_fonts_by_props(ax.title.get_fontproperties())]
    assert any(p.endswith("font0.ttf") for p in used)
    assert b"ZeroinTestCJK-Regular" in data["svg"]          # the outlines of its glyphs
    assert b"LastResort" not in data["svg"]


def test_every_matplotlib_picture_zeroin_writes_falls_back(cjk, tmp_path):
    from zeroin.train import save_figure
    from zeroin.utils.tensorboard import _figure_to_image
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        files = zeroin.viz.plot_descent(lambda x: (x - 1) ** 2, 3.0, steps=5,
                                        title="链式法则", out=tmp_path / "d")
        save_figure(_bar_figure()[0], tmp_path / "bars.png")
        image = _figure_to_image(_bar_figure()[0], close=False)
    assert not _missing(record) and not _ours(record)
    assert b"ZeroinTestCJK-Regular" in files.data("svg")
    assert (tmp_path / "bars.png").stat().st_size > 0 and image.shape[0] == 3


def test_figures_handed_back_unsaved_already_have_their_fallback(cjk):
    # a notebook draws History.plot()'s and sweep_figure's figures after the call, outside
    # fonts.fallback: their texts must carry the fallback font themselves
    from zeroin.recipes import sweep_figure
    from zeroin.train import History
    h = History()
    h.history["loss"] = [0.9, 0.5, 0.3]
    h.epoch = [1, 2, 3]
    runs = [{"lr": 0.1, "losses": [0.7, 0.5, 0.4], "diverged": False}]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for fig in (h.plot(title="损失函数"), sweep_figure(runs, title="学习率")):
            ax = fig.axes[0]
            title = fig._suptitle if fig._suptitle is not None else ax.title
            assert title.get_fontfamily()[-1] == cjk
            assert ax.xaxis.label.get_fontfamily() == ["sans-serif"]     # Latin: untouched
            fig.canvas.draw()                   # as Jupyter's inline backend draws it
    assert not _missing(record) and not _ours(record)


def test_the_preferred_family_is_chosen_when_several_fit(tmp_path):
    with _installed(tmp_path, ("Aaa Zeroin Test", CHINESE), ("Noto Sans CJK SC", CHINESE)):
        assert fonts.fallback_families("权重") == (["Noto Sans CJK SC"], "")


def test_two_fonts_can_share_a_text(tmp_path):
    with _installed(tmp_path, ("Zeroin Test A", "权重"), ("Zeroin Test B", "偏置")):
        found, left = fonts.fallback_families("权重偏置")
        assert sorted(found) == ["Zeroin Test A", "Zeroin Test B"] and left == ""
        assert fonts.fallback_families("权重偏置鸭") == (found, "鸭")


def test_latin_pictures_are_byte_for_byte_what_they_were(cjk, monkeypatch):
    """Greek, accents and math symbols are in DejaVu Sans: with a CJK font installed, the
    pictures are exactly those drawn without the fallback machinery."""
    from zeroin import lessons

    def pictures():
        les = lessons.descent(verbose=False).figures["grad1"]
        desc = zeroin.viz.plot_descent(lambda x: x[0] ** 2 + 3 * x[1] ** 2, [2.0, 1.0],
                                       lr=0.1, steps=8, title="\u03b1 \u03b2 \u2202 \u00e9")
        b = zeroin.tensor(4.0, requires_grad=True, name="\u03b2\u00e9")
        d = zeroin.draw(b * b + 1, wrt=b, title="\u2202z/\u2202\u03b2")
        return [hashlib.sha256(x).hexdigest() for x in
                (les.data("svg"), les.data("png"), desc.data("svg"), d.png())]

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ours = pictures()
    assert not _missing(record) and not _ours(record)
    monkeypatch.setattr(fonts, "fallback", contextlib.nullcontext)
    assert pictures() == ours


def test_latin_text_never_reads_a_font(monkeypatch):
    from zeroin.viz import figures as F

    def boom(*a):
        raise AssertionError("read fonts for Latin text")
    monkeypatch.setattr(fonts, "_has", boom)
    monkeypatch.setattr(fonts, "_families", boom)
    assert fonts.missing_glyphs("plain ascii") == ""
    fig, ax = F.subplots()
    ax.set_title("loss per epoch")
    F.render(fig, ("png",))


# --- without one ------------------------------------------------------------------------

def test_without_a_font_one_warning_says_how_to_fix_it():
    _no_cjk_font_installed()
    from zeroin.viz import figures as F
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _chain().png()
        _chain("别的标题").pdf()
        F.render(_bar_figure()[0], ("png",))
    assert not _missing(record)                       # not one warning per glyph
    (w,) = _ours(record)
    text = str(w.message)
    assert w.category is UserWarning and w.filename == __file__
    for part in ("权重", "链式法则", "boxes", "apt install fonts-noto-cjk",
                 "conda install -c conda-forge font-ttf-noto-cjk", "get_cachedir",
                 "zeroin.draw's SVG", "browser"):
        assert part in text, part
    assert fonts.missing_glyphs("权重 w é α") == "权重"


def test_without_a_font_the_svg_of_draw_is_unaffected():
    _no_cjk_font_installed()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        svg = _chain().svg()
    assert not record and "权重w" in svg and "链式法则" in svg


# --- widths ------------------------------------------------------------------------------

def test_cells_count_wide_characters_twice():
    assert cells("loss") == 4
    assert cells("权重w") == 5
    assert cells("ＡＢ") == 4                                     # full-width forms
    assert cells("\u03b1\u03b2\u2202\u00e9") == 4                 # ambiguous or narrow: one
    assert cells("") == 0


@pytest.mark.parametrize("name", ["权重", "学习率乘以梯度", "w权重2", "\u03b1\u00e9\u2202x"])
def test_draw_boxes_are_wider_than_their_text(cjk, name):
    """The node's width estimate covers the text as matplotlib measures it (the test
    font's characters are 1 em wide, as real CJK fonts' are), and not by much more."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from zeroin.viz import draw as D
    t = zeroin.tensor(3.0, requires_grad=True, name=name)
    d = zeroin.draw(t * 2)
    node = next(n for n in d._nodes if n.lines[0][0] == name)
    fig = Figure(dpi=100)              # one layout pixel is 1/100 inch: size 13 px
    text = fig.text(0, 0, name, fontsize=D._FS * 0.72, fontweight="bold",
                    family=["DejaVu Sans", cjk])
    width = text.get_window_extent(FigureCanvasAgg(fig).get_renderer()).width
    assert width <= D._text_w(name, D._FS, True) <= 1.45 * width
    assert node.w >= width + 2 * D._PAD
    assert D._text_w("loss", 13) == 4 * 13 * 0.6                 # Latin: as it always was



def test_fonts_are_found_without_matplotlibs_private_lookup(cjk, monkeypatch):
    """``_find_fonts_by_props`` is private to matplotlib: without it (a later version) the
    missing characters are still found (the default family's file, by ``findfont``)."""
    from matplotlib import font_manager as fm
    monkeypatch.delattr(fm.FontManager, "_find_fonts_by_props")
    assert fonts.missing_glyphs("权重 w é α") == "权重"
    assert fonts.missing_glyphs("w é α ∂") == ""


def test_math_labels_are_found_without_matplotlibs_private_test(monkeypatch):
    """``Text._preprocess_math`` is private to matplotlib: without it $math$ is still told
    apart from plain text (by its dollar signs)."""
    from matplotlib.text import Text
    monkeypatch.delattr(Text, "_preprocess_math")
    t = Text(text="x")
    assert fonts._is_math(t, "权重 $\\alpha$") and not fonts._is_math(t, "权重 w")
    assert not fonts._is_math(t, "权重 costs \\$5")
