"""Seeing the chain rule: explanations, graph drawings and figures.

- :mod:`zeroin.viz.explain` - d output / d input spelled out as a sum over paths
  (:func:`zeroin.explain`).
- :mod:`zeroin.viz.draw` - pictures of the graph as SVG, PNG or DOT (:func:`zeroin.draw`),
  laid out by :mod:`zeroin.viz.layout`.
- :func:`zeroin.viz.module_calls` - record which module ran which op, so that a drawing
  frames each layer's ops (``zeroin.draw(y, modules=calls)``) or draws each layer as one
  node (``collapse=True``); :mod:`zeroin.viz.groups` holds it.
- :mod:`zeroin.viz.format` - how numbers and arrays are written, everywhere.
- :mod:`zeroin.viz.figures` and :mod:`zeroin.viz.curves` - matplotlib helpers (optional
  ``plots`` extra) for the lessons, the tour and training curves.

The functions are ``zeroin.explain`` and ``zeroin.draw``; here ``zeroin.viz.explain`` and
``zeroin.viz.draw`` are the modules that hold them.
"""
from __future__ import annotations

from .draw import Drawing
from .explain import Explanation
from .groups import module_calls

__all__ = ["Drawing", "Explanation", "module_calls"]
