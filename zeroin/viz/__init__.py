"""Seeing the chain rule: explanations, graph drawings and figures.

- :mod:`zeroin.viz.explain` - d output / d input spelled out as a sum over paths
  (:func:`zeroin.explain`).
- :mod:`zeroin.viz.draw` - pictures of the graph as SVG, PNG or DOT (:func:`zeroin.draw`),
  laid out by :mod:`zeroin.viz.layout`.
- :func:`zeroin.viz.backward_steps` - the forward pass, then the backward pass one node at
  a time: one drawing per step with the same layout, for a slide build-up
  (:mod:`zeroin.viz.steps`).
- :func:`zeroin.viz.module_calls` - record which module ran which op, so that a drawing
  frames each layer's ops (``zeroin.draw(y, modules=calls)``) or draws each layer as one
  node (``collapse=True``); :mod:`zeroin.viz.groups` holds it.
- :func:`zeroin.viz.descent_path` - gradient descent on any function of one or more
  coordinates, run by the engine with a :mod:`zeroin.optim` optimizer: the points, values,
  gradients and why it stopped (a :class:`DescentPath`, printed as a table);
  :func:`zeroin.viz.plot_descent` draws paths over the curve (1-D) or the contour lines
  (2-D) of f: learning rates or optimizers compared. :mod:`zeroin.viz.descent` holds them.
- :func:`zeroin.viz.set_context` (``"paper"``, ``"notebook"``, ``"talk"``, ``"poster"``,
  times ``font_scale``) and ``with zeroin.viz.context("talk"):`` - the text size of every
  zeroin figure, for slides and projectors (:mod:`zeroin.viz.contexts` holds them).
- :mod:`zeroin.viz.format` - how numbers and arrays are written, everywhere.
- :mod:`zeroin.viz.diffusion` - a diffusion model's forward noising and sampling rows.
- :mod:`zeroin.viz.figures` and :mod:`zeroin.viz.curves` - matplotlib helpers (optional
  ``plots`` extra) for the lessons, the tour and training curves;
  :mod:`zeroin.viz.fonts` gives every matplotlib picture a fallback font for text in
  any script (Chinese names and titles).

The functions are ``zeroin.explain`` and ``zeroin.draw``; here ``zeroin.viz.explain`` and
``zeroin.viz.draw`` are the modules that hold them.
"""
from __future__ import annotations

from .contexts import context, get_context, set_context
from .descent import DescentPath, descent_path, plot_descent
from .draw import Drawing
from .explain import Explanation
from .groups import module_calls
from .steps import DrawingSteps, backward_steps

__all__ = ["DescentPath", "Drawing", "DrawingSteps", "Explanation", "backward_steps",
           "context", "descent_path", "get_context", "module_calls", "plot_descent",
           "set_context"]
