"""What every lesson returns: its tables, sentences, figures and every number it printed."""
from __future__ import annotations

import base64
import functools
import html
import inspect
import itertools
import math
import numbers
import os
import sys
from dataclasses import dataclass, field

from ..viz import figures as _figures


_TEX = {"\\": "\\textbackslash{}", "~": "\\textasciitilde{}", "^": "\\^{}",
        **{ch: "\\" + ch for ch in "&%$#_{}"}}


@dataclass
class Table:
    """A printed table: raw values in ``rows``, one format spec per column.

    The values stay numbers (tests compare them); ``formats`` says how they are printed,
    e.g. ``".6f"``; ``""`` prints with ``str``.
    """
    title: str
    columns: list
    rows: list
    formats: list = None

    def __post_init__(self):
        if self.formats is None:
            self.formats = [""] * len(self.columns)
        if len(self.formats) != len(self.columns):
            raise ValueError(f"Table {self.title!r}: {len(self.columns)} columns but "
                             f"{len(self.formats)} formats")

    def cell(self, i, j):
        """Row ``i``, column ``j`` as printed."""
        return fmt(self.rows[i][j], self.formats[j])

    def column(self, name):
        """The raw values of the column called ``name``."""
        j = self.columns.index(name)
        return [r[j] for r in self.rows]

    def text(self):
        cells = [[self.cell(i, j) for j in range(len(self.columns))]
                 for i in range(len(self.rows))]
        widths = [max([len(c)] + [len(r[j]) for r in cells])
                  for j, c in enumerate(self.columns)]
        numeric = [all(_is_number(r[j]) for r in self.rows) for j in range(len(widths))]

        def line(vals):
            return "  ".join(v.rjust(w) if num else v.ljust(w)
                             for v, w, num in zip(vals, widths, numeric)).rstrip()
        out = [self.title, line(self.columns), "  ".join("-" * w for w in widths)]
        out += [line(r) for r in cells]
        return "\n".join(out)

    def _aligned(self):
        """The printed cells, and per column whether it is numbers (set right)."""
        cells = [[self.cell(i, j) for j in range(len(self.columns))]
                 for i in range(len(self.rows))]
        num = [bool(self.rows) and all(_is_number(r[j]) for r in self.rows)
               for j in range(len(self.columns))]
        return cells, num

    def markdown(self):
        """The table as Markdown (a pipe table under its title in bold), for a notebook
        cell or Markdown slides; numbers as printed, set right."""
        def row(vals):
            return "| " + " | ".join(str(v).replace("|", "\\|") for v in vals) + " |"
        cells, num = self._aligned()
        rule = "|" + "|".join("---:" if n else ":---" for n in num) + "|"
        return "\n".join([f"**{self.title}**", "", row(self.columns), rule]
                         + [row(r) for r in cells])

    def latex(self):
        """The table as a LaTeX ``tabular`` (numbers set right), for beamer slides; the
        title is left to the slide (a ``\\caption`` or frame title)."""
        def tex(v):
            return "".join(_TEX.get(ch, ch) for ch in str(v))
        cells, num = self._aligned()
        out = ["\\begin{tabular}{" + "".join("r" if n else "l" for n in num) + "}",
               "\\hline", " & ".join(tex(c) for c in self.columns) + " \\\\", "\\hline"]
        out += [" & ".join(tex(c) for c in r) + " \\\\" for r in cells]
        return "\n".join(out + ["\\hline", "\\end{tabular}"])

    def html(self, max_rows=12):
        """The table as HTML; one longer than ``max_rows`` shows its first and last rows
        and keeps every row in a "show all" ``<details>`` below."""
        e = html.escape
        num = [bool(self.rows) and all(_is_number(r[j]) for r in self.rows)
               for j in range(len(self.columns))]
        head = "".join(f'<th class="{"num" if n else "txt"}">{e(str(c))}</th>'
                       for c, n in zip(self.columns, num))
        body = []
        for i, row in enumerate(self.rows):
            tds = "".join(
                f'<td class="{"num" if _is_number(v) else "txt"}">{e(self.cell(i, j))}</td>'
                for j, v in enumerate(row))
            body.append(f"<tr>{tds}</tr>")

        def table(rows, caption):
            return (f'<table><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
                    f'<tbody>{"".join(rows)}</tbody></table>')
        if len(body) <= max_rows:
            return table(body, e(self.title))
        first, last = body[:max_rows - 3], body[-2:]
        gap = (f'<tr class="gap"><td colspan="{len(self.columns)}">... '
               f'{len(body) - len(first) - len(last)} more rows ...</td></tr>')
        return (f'<div class="long-table">{table(first + [gap] + last, e(self.title))}'
                f'<details><summary>Show all {len(body)} rows</summary>'
                f'{table(body, e(self.title) + " (all rows)")}</details></div>')


def count(n, word):
    """``1 step``, ``2 steps``: ``n`` and ``word``, plural unless ``n`` is 1."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def need(ok, message):
    """Check a lesson's parameter at the start of the lesson: a ValueError saying
    ``message`` (which names the lesson, the parameter, its value and the allowed range)
    unless ``ok``. The command line prints it as one line and exits with code 2."""
    if not ok:
        raise ValueError(message)


def positive(lesson_name, key, value):
    """``value`` is a finite number > 0, else a ValueError naming ``key``."""
    need(_finite(value) and value > 0,
         f"{lesson_name}: {key} must be > 0, got {show(value)}")


def whole(lesson_name, key, value, least=1):
    """``value`` is a whole number >= ``least``, else a ValueError naming ``key``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least
    need(ok, f"{lesson_name}: {key} must be a whole number >= {least}, got {show(value)}")


def finite(lesson_name, key, value):
    """``value`` is a finite number, else a ValueError naming ``key``."""
    need(_finite(value), f"{lesson_name}: {key} must be a finite number, got {show(value)}")


def show(v):
    """A parameter's value in a message: ``0``, ``0.25``, ``1e-09``; repr for the rest."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return format(float(v), "g") if not isinstance(v, numbers.Integral) else str(int(v))
    return repr(v)


def _finite(v):
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)
            and math.isfinite(v))


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(value, spec=""):
    """``value`` as printed with ``spec``: numbers with the spec, anything else with str."""
    if value is None:
        return ""
    if _is_number(value) and spec:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        if isinstance(value, float) and value == 0:
            value = 0.0                 # -0.0 (0 * -1) prints as 0, not -0
        return format(value, spec)
    return str(value)


_displays = itertools.count(1)        # numbers each notebook display of a result

_NOTEBOOK_CSS = (
    ".zeroin-lesson table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}"
    ".zeroin-lesson caption{text-align:left;font-weight:600;padding:4px 0}"
    ".zeroin-lesson th,.zeroin-lesson td{padding:2px 9px;border-bottom:1px solid #e3e7ef}"
    ".zeroin-lesson td.num,.zeroin-lesson th.num{text-align:right;"
    "font-variant-numeric:tabular-nums}.zeroin-lesson td.txt,.zeroin-lesson th.txt"
    "{text-align:left}.zeroin-lesson figure{margin:1em 0;text-align:center}"
    ".zeroin-lesson figcaption{color:#55607a;font-size:.9em}"
    ".zeroin-lesson tr.gap td{text-align:center;font-style:italic;color:#6b7488}")


@dataclass
class LessonResult:
    """The outcome of one lesson.

    Attributes
    ----------
    name, title, intro : str
        The lesson's command-line name, heading and opening paragraph.
    tables : list of Table
        Everything printed in table form, with the raw numbers.
    notes : list of str
        The conclusions, said in words.
    figures : dict of str -> FigureFiles
        Each figure's PNG and SVG path and caption (empty without matplotlib).
    values : dict
        Every number the lesson printed, by name; also readable as attributes
        (``result.final_b`` is ``result.values["final_b"]``).
    texts : dict of str -> str
        Longer printed texts, e.g. the chain-rule explanations.
    params : dict
        The lesson's parameters that were changed from their defaults (``target=70``);
        :meth:`command` and :meth:`call` repeat them.
    theme : str
        The figures' colours: ``"light"`` (dark on white) or ``"dark"`` (for dark slides).
    """
    name: str
    title: str
    intro: str = ""
    tables: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    theme: str = "light"

    def __getattr__(self, key):
        values = self.__dict__.get("values")
        if values is not None and key in values:
            return values[key]
        raise AttributeError(f"{type(self).__name__} of lesson "
                             f"{self.__dict__.get('name')!r} has no value {key!r}")

    def __getitem__(self, key):
        return self.values[key]

    def table(self, title_start):
        """The table whose title starts with ``title_start``."""
        for t in self.tables:
            if t.title.startswith(title_start):
                return t
        raise KeyError(f"lesson {self.name!r} has no table titled {title_start!r}...; "
                       f"tables: {[t.title for t in self.tables]}")

    def __repr__(self):
        return (f"LessonResult({self.name!r}: {count(len(self.tables), 'table')}, "
                f"{count(len(self.figures), 'figure')}, values {sorted(self.values)})")

    def _repr_html_(self):
        """Tables, explanations, notes and figures inline in Jupyter (with a little style
        of its own, so that numbers line up in any notebook front end)."""
        html_ = self.html(suffix=f"-{next(_displays)}")   # ids unique in a notebook
        return f'<div class="zeroin-lesson"><style>{_NOTEBOOK_CSS}</style>{html_}</div>'

    def html(self, suffix=""):
        """The lesson as one self-contained HTML ``<section>``: tables, explanations,
        notes and the figures embedded as data URIs (as on the tour page). Its ids are
        the lesson's name (``solve``, ``fig-solve``) followed by ``suffix``."""
        e = html.escape
        parts = [f'<section id="{e(self.name + suffix)}"><h2>{e(self.title)}</h2>']
        if self.intro:
            parts.append(f'<p class="lead">{e(self.intro)}</p>')
        parts += [t.html() for t in self.tables]
        parts += [f'<pre data-text="{e(key)}">{e(text.rstrip())}</pre>'
                  for key, text in self.texts.items()]
        if self.notes:
            parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>"
                                                        for n in self.notes) + "</ul>")
        parts += [figure_html(key, files, suffix) for key, files in self.figures.items()]
        if not self.figures and self.values.get("figures_skipped"):
            parts.append(f'<p class="skip">Figures skipped: '
                         f'{e(self.values["figures_skipped"])}</p>')
        parts.append(f'<p class="meta">Run it yourself: <code>{e(self.command())}</code> '
                     f'or <code>{e(self.call())}</code></p>')
        parts.append("</section>")
        return "\n".join(parts)

    def command(self):
        """The command line that reproduces this result: ``zeroin lesson solve --set
        target=70``."""
        sets = "".join(f" --set {k}={_cli_value(v)}" for k, v in self.params.items())
        theme = "" if self.theme == "light" else f" --theme {self.theme}"
        return f"zeroin lesson {self.name}{sets}{theme}"

    def call(self):
        """The Python call that reproduces this result: ``zeroin.lessons.solve(target=70)``."""
        given = {**self.params, **({} if self.theme == "light" else {"theme": self.theme})}
        args = ", ".join(f"{k}={v!r}" for k, v in given.items())
        return f"zeroin.lessons.{self.name.replace('-', '_')}({args})"

    def save(self, out):
        """Write every figure into the folder ``out`` as PNG and SVG (the lesson keeps
        them in memory when run with ``out=None``); returns the paths written."""
        if isinstance(out, bytes) or not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"LessonResult.save: out is the folder to write the figures "
                            f"into (a str or os.PathLike, e.g. 'figures'), got "
                            f"{type(out).__name__} {out!r}; a lesson's settings go to the "
                            f"lesson itself, e.g. {self.call()}")
        written = []
        for key, f in self.figures.items():
            stem = os.path.splitext(os.path.basename(f.svg or f.png or key))[0]
            for ext in ("png", "svg"):
                data = f.data(ext)
                if data is None:
                    continue
                path = os.path.join(out, f"{stem}.{ext}")
                os.makedirs(out, exist_ok=True)
                _figures.write_bytes(path, data)
                setattr(f, ext, path)
                written.append(path)
        return written

    def text(self):
        """Everything the lesson prints."""
        bar = "=" * max(20, len(self.title) + 4)
        parts = [bar, f"  {self.title}", bar]
        if self.intro:
            parts += [self.intro, ""]
        for t in self.tables:
            parts += [t.text(), ""]
        for txt in self.texts.values():
            parts += [txt, ""]
        parts += [f"* {n}" for n in self.notes]
        if self.figures:
            parts += ["", "Figures:"]
            parts += [f"  {_where(key, f)}  {f.caption}" for key, f in self.figures.items()]
        elif self.values.get("figures_skipped"):
            parts += ["", f"Figures skipped: {self.values['figures_skipped']}"]
        if self.params or self.theme != "light":     # the command that repeats them
            parts += ["", f"Run it yourself: {self.command()}  or  {self.call()}"]
        return "\n".join(parts).rstrip() + "\n"


def figure_html(key, files, suffix=""):
    """One figure as an HTML ``<figure>`` with the image embedded (SVG preferred); its id
    is ``fig-KEY`` followed by ``suffix``."""
    e = html.escape
    return (f'<figure id="fig-{e(key + suffix)}"><img src="{_data_uri(files)}" '
            f'alt="{e(files.caption or key)}" data-figure="{e(key)}" '
            f'style="max-width:100%;height:auto">'
            f'<figcaption>{e(files.caption)}</figcaption></figure>')


def _data_uri(files):
    """The figure as a data: URI (SVG preferred; PNG if there is no SVG)."""
    for kind, mime in (("svg", "image/svg+xml"), ("png", "image/png")):
        data = files.data(kind)
        if data is not None:
            return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    raise ValueError(f"figure {files.caption!r}: no PNG or SVG, in memory or on disk")


def _where(key, f):
    if f.png and f.svg:
        return f"{f.png}  (+ .svg)"
    return f.png or f.svg or f"{key} (in memory; result.save(DIR) writes PNG and SVG)"


def in_notebook():
    """True inside a Jupyter (IPython) kernel, where a result shows itself as HTML."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def finish(result, verbose):
    """Print the lesson's text when asked; ``verbose=None``: unless in a notebook."""
    if verbose is None:
        verbose = not in_notebook()
    if verbose:
        print(result.text(), end="", flush=True)
    return result


def plots_ok(result, make_figures):
    """Whether to draw; records why not in ``result.values['figures_skipped']``."""
    if not make_figures:
        return False
    if not _figures.available():
        result.values["figures_skipped"] = _figures.PLOTS_HINT
        return False
    return True


# --- the lessons' parameters -------------------------------------------------------------

RUN_OPTIONS = ("out", "verbose", "figures", "theme")   # how a lesson runs, not what it computes


def parameters(fn):
    """The lesson function's own parameters and their defaults (``{"target": 60.0, ...}``)."""
    fn = inspect.unwrap(fn)
    return {n: p.default for n, p in inspect.signature(fn).parameters.items()
            if p.kind is p.KEYWORD_ONLY and n not in RUN_OPTIONS}


def lesson(fn):
    """Decorate a lesson function: its result records the parameters given that differ
    from the defaults (``result.params``), so that its "Run it yourself" line repeats them.
    The decorator prints (``verbose``); the lesson function only builds the result (its
    ``verbose`` stays in its signature for the documentation). ``theme`` ("light" or
    "dark", for dark slides) is checked here and kept in ``result.theme``."""
    defaults = parameters(fn)

    @functools.wraps(fn)
    def run(out=None, *, verbose=None, **kwargs):
        _check_call(fn, out, kwargs)
        theme = _figures.check_theme(fn.__name__.replace("_", "-"),
                                     kwargs.get("theme", "light"))
        kwargs = {k: _one_or_more(_plain(v), defaults.get(k)) for k, v in kwargs.items()}
        res = fn(out, **kwargs)
        res.params = {k: v for k, v in kwargs.items()
                      if k in defaults and _differs(v, defaults[k])}
        res.theme = theme
        return finish(res, verbose)
    return run


def _check_call(fn, out, kwargs):
    """A learner's slips in a lesson call, said in words (a TypeError, as Python's own):
    a number where the folder goes (``solve(70)``), a misspelt parameter (``targt=70``)."""
    name, defaults = fn.__name__, parameters(fn)
    if out is not None and not isinstance(out, (str, os.PathLike)):
        first = next(iter(defaults), None)
        hint = (f"; the lesson's parameters are keywords, e.g. {name}({first}={out!r})"
                if first else "")
        raise TypeError(f"{name}: out is the folder for the figures (a path, or None to keep "
                        f"them in memory), got {out!r}{hint}")
    for key in kwargs:
        if key not in defaults and key not in RUN_OPTIONS:
            import difflib
            close = difflib.get_close_matches(key, list(defaults) + list(RUN_OPTIONS), n=1)
            guess = f"did you mean {close[0]!r}? " if close else ""
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}; {guess}"
                            f"its parameters (with their defaults): "
                            f"{parameters_text(fn) or 'none'}; and out, verbose, figures, "
                            f"theme")


def _one_or_more(v, default):
    """A single number for a parameter that takes several (``etas=0.5``) as a tuple of one,
    as ``--set etas=0.5`` reads it."""
    if isinstance(default, tuple) and isinstance(v, numbers.Real) and not isinstance(v, bool):
        return (v,)
    return v


def _plain(v):
    """NumPy numbers and arrays as Python numbers and tuples (``np.float64(65)`` -> 65.0),
    so that "Run it yourself" repeats them as typed."""
    if hasattr(v, "tolist") and not isinstance(v, (str, bytes)):
        v = v.tolist()
    if isinstance(v, list):
        return tuple(_plain(x) for x in v)
    return v


def _differs(value, default):
    if isinstance(default, (tuple, list)):
        return tuple(value) != tuple(default)
    return value != default


def _cli_value(v):
    """``v`` as ``--set`` reads it back: ``70``, ``0.3``, ``0.2,0.5``."""
    if isinstance(v, (tuple, list)):
        return ",".join(_cli_value(x) for x in v)
    if isinstance(v, float):
        text = repr(v)
        return text[:-2] if text.endswith(".0") else text
    return str(v)


def parameters_text(fn):
    """The lesson's parameters and defaults on one line, ``target=60, tol=1e-05``; a list
    keeps its commas inside parentheses, ``etas=(0.05, 0.1), x0=0.2``, so that every
    parameter reads whole ("" for a lesson without any)."""
    def value(v):
        if isinstance(v, (tuple, list)):
            return "(" + ", ".join(_cli_value(x) for x in v) + ")"
        return _cli_value(v)
    return ", ".join(f"{k}={value(v)}" for k, v in parameters(fn).items())


def parse_settings(fn, name, pairs):
    """``["target=70", "tol=1e-6"]`` for the lesson ``fn`` as keyword arguments, each of
    its default's type (whole numbers, numbers, or comma-separated numbers); a ValueError
    says what is wrong and lists the lesson's parameters."""
    defaults = parameters(fn)
    known = parameters_text(fn) or "none"
    settings, given = {}, {}
    for pair in pairs or ():
        key, eq, text = str(pair).partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise ValueError(f"lesson: --set takes KEY=VALUE, e.g. --set target=70; got "
                             f"{pair!r}")
        if key not in defaults:
            raise ValueError(f"lesson: {name} has no parameter {key!r}; its parameters "
                             f"(with their defaults): {known}")
        if key in given:               # the last one silently winning hides a typo
            raise ValueError(f"lesson: --set {key} is given twice ({given[key]!r} and "
                             f"{pair!r}); give each parameter once (a list is one value: "
                             f"--set etas=0.2,0.5)")
        given[key] = str(pair)
        settings[key] = _parse_value(key, text.strip(), defaults[key])
    return settings


def _parse_value(key, text, default):
    example = _cli_value(default)

    def number(t, whole):
        try:
            v = int(t) if whole else float(t)
        except ValueError:
            kind = "a whole number" if whole else "a number"
            raise ValueError(f"lesson: {key} must be {kind}"
                             f"{' or comma-separated numbers' if ',' in example else ''}"
                             f" such as {example}, got {t!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"lesson: {key} must be a finite number, got {t!r}")
        if whole and v < (0 if key == "seed" else 1):
            raise ValueError(f"lesson: {key} must be at least {0 if key == 'seed' else 1}, "
                             f"got {v}")
        return v
    if isinstance(default, (tuple, list)):
        if text[:1] + text[-1:] in ("()", "[]"):      # as listed: etas=(0.2, 0.5)
            text = text[1:-1]
        return tuple(number(t.strip(), isinstance(default[0], int)) for t in text.split(","))
    return number(text, isinstance(default, int) and not isinstance(default, bool))
