"""Text in any script in zeroin's pictures: a fallback font for characters DejaVu Sans lacks
(Chinese names and titles), one warning when no font has them, and widths that fit them.

No CJK font is installed here: the tests build a tiny TrueType font with fontTools (a
filled square per character) and register it with matplotlib for the test's duration."""
import contextlib

import pytest

import zeroin
from zeroin.viz.format import cells

pytest.importorskip("matplotlib")
pytest.importorskip("fontTools")

CHINESE = "权重链式法则偏置学习率乘以梯度损失函数别的标题"


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
