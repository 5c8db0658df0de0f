"""Text in any script in matplotlib's pictures: a fallback font for glyphs the default lacks.

matplotlib draws text in DejaVu Sans, which has Latin, Greek, Cyrillic and math symbols but
no Chinese, Japanese or Korean: a label such as ``权重w`` came out as empty boxes, with a
warning per character. Every picture zeroin renders with matplotlib (the lessons' and the
tour's figures, :func:`zeroin.viz.plot_descent`, training curves, ``zeroin.draw``'s PNG and
PDF, TensorBoard's ``add_figure``) saves inside :func:`fallback`, which gives each text
that has characters its fonts lack an installed font that has them, appended to its font
family list (matplotlib >= 3.6 falls back glyph by glyph). Fonts are found by reading the
installed fonts' character maps, well-known CJK families first, and cached; a figure whose
text its fonts cover (all Latin text) is left untouched. When no installed font has the
characters, one warning per process says how to install one. A figure handed back
unsaved (``History.plot()``, ``recipes.sweep_figure``) gets its fonts from :func:`fit`
before it is returned, as a notebook draws it after the call.

matplotlib is imported inside the functions only.
"""
from __future__ import annotations

import contextlib
import logging
import unicodedata
import warnings

__all__ = ["PREFERRED", "fallback", "fallback_families", "fit", "missing_glyphs"]

# Asked for first, in this order (Simplified Chinese first: the chapter is Chinese).
PREFERRED = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Sans CJK KR", "Source Han Sans",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
    "PingFang SC", "Hiragino Sans GB", "Hiragino Sans", "Arial Unicode MS")
_LIKE = ("Noto Sans CJK", "Source Han Sans", "WenQuanYi", "Noto Sans", "Hiragino",
         "PingFang", "Droid Sans Fallback")

_cache = {"fonts": None, "order": None, "faces": {}, "has": {}, "fallback": {}}
_warned = []           # the characters of the one warning this process gives


def _no_glyph_needed(ch):
    """Spaces, line breaks and format characters: nothing to draw."""
    return ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def _face(path):
    """The font ``path``: a file, or (file, face index) in a collection; opened on its own
    (no fallback, so that a missing glyph reads as glyph index 0)."""
    from matplotlib import ft2font
    faces = _cache["faces"]
    if path not in faces:
        file, index = path if isinstance(path, tuple) else \
            (str(path), getattr(path, "face_index", 0))
        try:
            faces[path] = (ft2font.FT2Font(file, face_index=index) if index
                           else ft2font.FT2Font(file))
        except (OSError, RuntimeError, TypeError, ValueError):
            faces[path] = None                  # unreadable: has nothing
    return faces[path]


def _has(path, ch):
    key = (path, ch)
    if key not in _cache["has"]:
        face = _face(path)
        _cache["has"][key] = face is not None and face.get_char_index(ord(ch)) != 0
    return _cache["has"][key]


def _paths(prop):
    """The font files matplotlib renders ``prop`` with: one per family found."""
    from matplotlib import font_manager
    find = getattr(font_manager.fontManager, "_find_fonts_by_props", None)   # 3.6+, private
    if find is None:                    # a later matplotlib without it: the first family's file
        return [font_manager.findfont(prop)]
    return find(prop)


def missing_glyphs(text, prop=None):
    """The characters of ``text`` that none of the fonts of ``prop`` (a FontProperties;
    default: the current default font) has, in order, each once. ASCII text is never
    looked at (matplotlib's fonts all have it)."""
    if text.isascii():
        return ""
    from matplotlib.font_manager import FontProperties
    paths = _paths(prop if prop is not None else FontProperties())
    out = []
    for ch in dict.fromkeys(text):
        if ord(ch) > 127 and not _no_glyph_needed(ch) and not any(_has(p, ch) for p in paths):
            out.append(ch)
    return "".join(out)


def _refresh():
    """Forget what was found when fonts were added (``fontManager.addfont``) or removed."""
    from matplotlib import font_manager
    fonts = hash(tuple((e.fname, e.name) for e in font_manager.fontManager.ttflist))
    if fonts != _cache["fonts"]:
        _cache.update(fonts=fonts, order=None, fallback={})


def _families():
    """Installed families to try, in order, each as (name, its regular face): PREFERRED,
    then others like them, then the rest by name. matplotlib's Last Resort font (a box
    for every character) is none."""
    from matplotlib import font_manager
    if _cache["order"] is None:
        faces = {}
        for e in font_manager.fontManager.ttflist:
            if e.name.startswith("Last Resort"):
                continue
            weight = font_manager.weight_dict.get(e.weight, e.weight)
            rank = (e.style != "normal", abs(int(weight) - 400))
            if e.name not in faces or rank < faces[e.name][0]:
                faces[e.name] = (rank, (e.fname, getattr(e, "index", 0)))
        first = [n for n in PREFERRED if n in faces]
        like = sorted(n for n in faces if n.startswith(_LIKE) and n not in first)
        rest = sorted(set(faces) - set(first) - set(like))
        _cache["order"] = [(n, faces[n][1]) for n in first + like + rest]
    return _cache["order"]


def fallback_families(chars):
    """``(families, still_missing)``: installed font families that together have the
    characters ``chars`` (each family adds some; the first that fits is preferred), and
    the characters none of them has. Each family is judged by its regular face."""
    _refresh()
    if chars not in _cache["fallback"]:
        left, found = list(chars), []
        for name, face in _families():
            if not left:
                break
            have = [ch for ch in left if _has(face, ch)]
            if have:
                found.append(name)
                left = [ch for ch in left if ch not in have]
        _cache["fallback"][chars] = (found, "".join(left))
    return _cache["fallback"][chars]


def _texts(fig):
    """The texts of ``fig``, tick labels included (formatted now, as drawing would)."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text
    for axis in fig.findobj(Axis):
        axis.get_ticklabels(which="both")
    return fig.findobj(lambda a: isinstance(a, Text) and a.get_visible())


def _fit(fig):
    """Give each text of ``fig`` fallback fonts for the glyphs its fonts lack; return
    (the characters no installed font has, whether a fallback was given)."""
    lacking, given = {}, False
    for text in _texts(fig):
        s = text.get_text()
        if not s or s.isascii() or text.get_usetex() or _is_math(text, s):
            continue                # TeX and $math$ draw with their own fonts
        prop = text.get_fontproperties()
        chars = missing_glyphs(s, prop)
        if not chars:
            continue
        extra, left = fallback_families(chars)
        if extra:
            text.set_fontfamily(list(prop.get_family()) + extra)
            given = True
        lacking.update(dict.fromkeys(left))
    return "".join(lacking), given


def _is_math(text, s):
    """Whether matplotlib draws ``s`` as $math$ (its private test where it has one, else
    an even number of unescaped dollar signs, as its mathtext parser reads them)."""
    test = getattr(text, "_preprocess_math", None)     # private to matplotlib
    if test is not None:
        return bool(test(s)[1])
    dollars = s.count("$") - s.count(r"\$")
    return dollars > 0 and dollars % 2 == 0


def _user_level():
    """The stack level of the first caller outside zeroin (and contextlib)."""
    import os
    import sys
    inside = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
              contextlib.__file__)
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def _warn(chars):
    if _warned:
        return
    _warned.append(chars)
    warnings.warn(
        f"No installed font has the characters {chars!r}, so PNG and PDF pictures (and "
        f"the lessons' SVG figures, whose text is drawn as outlines) show them as empty "
        f"boxes. Install a font that has them: on Debian/Ubuntu `sudo apt install "
        f"fonts-noto-cjk`, with conda `conda install -c conda-forge font-ttf-noto-cjk` (or "
        f"any font with these characters), then delete matplotlib's font cache (the "
        f"fontlist-*.json files in matplotlib.get_cachedir()) and restart Python. "
        f"zeroin.draw's SVG is fine as it is: the browser draws its text with its own "
        f"fonts. (Said once per process.)", UserWarning, stacklevel=_user_level())


def fit(fig):
    """Give ``fig``'s texts the fallback fonts they need for good, and return ``fig``: for a
    figure handed back to the user (``History.plot()``), which Jupyter draws after the
    call, outside :func:`fallback`. Warns once, as :func:`fallback`, when no font has
    some characters."""
    chars, _ = _fit(fig)
    if chars:
        _warn(chars)
    return fig


@contextlib.contextmanager
def fallback(fig):
    """Draw or save ``fig`` inside this block: each text whose characters its fonts
    lack gets an installed font that has them as a fallback; when none has them, one
    warning per process (with how to install one) replaces matplotlib's warning per
    glyph."""
    chars, given = _fit(fig)
    with contextlib.ExitStack() as stack:
        if given:       # a bold label in a family without bold: its regular face, quietly
            log = logging.getLogger("matplotlib.font_manager")
            stack.callback(log.setLevel, log.level)
            log.setLevel(logging.ERROR)
        if chars:
            _warn(chars)
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font",
                                    category=UserWarning)
        yield fig
