"""What every lesson returns: its tables, sentences, figures and every number it printed."""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from ..viz import figures as _figures


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

    def html(self):
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
        return (f'<table><caption>{e(self.title)}</caption><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt(value, spec=""):
    """``value`` as printed with ``spec``: numbers with the spec, anything else with str."""
    if value is None:
        return ""
    if _is_number(value) and spec:
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)
        return format(value, spec)
    return str(value)


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
    """
    name: str
    title: str
    intro: str = ""
    tables: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    texts: dict = field(default_factory=dict)

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
        return (f"LessonResult({self.name!r}: {len(self.tables)} tables, "
                f"{len(self.figures)} figures, values {sorted(self.values)})")

    def _repr_html_(self):
        """Tables, explanations, notes and figures inline in Jupyter."""
        from ..tour import _lesson_html
        return _lesson_html(0, self)

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
            parts += [f"  {f.png}  (+ .svg)  {f.caption}" for f in self.figures.values()]
        elif self.values.get("figures_skipped"):
            parts += ["", f"Figures skipped: {self.values['figures_skipped']}"]
        return "\n".join(parts).rstrip() + "\n"


def finish(result, verbose):
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
