"""The chapter, runnable: eight lessons on backpropagation and gradient descent.

Each lesson returns a :class:`LessonResult` holding its tables, every number it printed and
its figures (PNG and SVG). Every number is computed live by the engine; derivatives come
from ``backward``/``zeroin.grad``.

Defaults suit a notebook and a script alike: ``out=None`` writes no files (the figures stay
in memory, shown inline by the result's HTML; ``result.save(DIR)`` writes them later), and
``verbose=None`` prints the lesson's text except inside a Jupyter kernel, where the result
shows itself as HTML. ``zeroin lesson NAME --out DIR`` and ``zeroin tour`` write files.

>>> import zeroin
>>> r = zeroin.lessons.solve(out="zeroin-out")          # doctest: +SKIP
>>> r.final_b                                           # doctest: +SKIP
4.6394...

From the command line: ``zeroin lesson NAME [--out DIR] [--set KEY=VALUE ...]`` (the
lesson's parameters, e.g. ``--set target=70``; ``--theme dark`` for dark slides) and
``zeroin lesson --list``.
"""
from __future__ import annotations

from ._common import LessonResult, Table, figure_html, in_notebook, parameters, parse_settings
from ._convolution import convolution
from ._descent import descent, learning_rate
from ._graph import chain_rule, sensitivity, solve
from ._shooting import loss, shooting

__all__ = ["LESSONS", "run", "lookup", "parameters", "settings", "LessonResult", "Table",
           "shooting", "chain_rule",
           "sensitivity", "solve", "descent", "learning_rate", "loss", "convolution",
           "figure_html", "in_notebook"]

LESSONS = {
    "shooting": shooting,
    "chain-rule": chain_rule,
    "sensitivity": sensitivity,
    "solve": solve,
    "descent": descent,
    "learning-rate": learning_rate,
    "loss": loss,
    "convolution": convolution,
}


def lookup(name):
    """The lesson function called ``name`` (``chain-rule`` or ``chain_rule``); a ValueError
    with the closest name for a misspelt one."""
    key = str(name).strip().lower().replace("_", "-")
    if key not in LESSONS:
        import difflib
        close = difflib.get_close_matches(key, LESSONS, n=1)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"lesson: no lesson called {name!r}; {guess}choose one of "
                         f"{', '.join(LESSONS)} (zeroin lesson --list)")
    return LESSONS[key]


def settings(name, pairs):
    """``zeroin lesson NAME --set KEY=VALUE ...`` as keyword arguments for the lesson."""
    fn = lookup(name)
    return parse_settings(fn, fn.__name__.replace("_", "-"), pairs)


def run(name, out=None, **kwargs):
    """Run the lesson called ``name`` (``chain-rule`` or ``chain_rule``); return its result.

    ``out``: folder for the figures (``None``: keep them in memory); ``kwargs``: the
    lesson's parameters (:func:`parameters` lists them), and ``theme="dark"`` for figures
    on a dark slide (``verbose``, ``figures`` as for the lesson itself)."""
    return lookup(name)(out=out, **kwargs)
