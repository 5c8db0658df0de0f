"""Gradient descent on any function, run by the engine, and its path as a figure.

:func:`descent_path` runs the descent (zero_grad, f(x), backward, step with a
:mod:`zeroin.optim` optimizer) and returns a :class:`DescentPath`: every point, value and
gradient, and why it stopped. :func:`plot_descent` draws one or several paths: for one
coordinate over the curve of f, for two over its contour lines (matplotlib, the ``plots``
extra, imported only here).

>>> from zeroin.viz import descent_path
>>> path = descent_path(lambda x: (x - 1) ** 2 + 0.001, 0.2, lr=0.1, steps=3)
>>> path.points[:, 0].round(6).tolist()
[0.2, 0.36, 0.488, 0.5904]
>>> path.stop
'steps'
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from . import format as _fmt
from .contexts import size as _fs

__all__ = ["STOPS", "DescentPath", "descent_path", "plot_descent"]

STOPS = {
    "grad tol": "|gradient| fell below tol",
    "step tol": "the step |x_n - x_(n-1)| fell below step_tol",
    "steps": "every step allowed was taken",
    "diverged": "x or f(x) became non-finite or passed the blow-up bound",
    "not differentiable": "the gradient at the last point is NaN or infinite",
}
SHOW_ROWS = 12          # rows of the printed table before it is cut short


@dataclass(repr=False)
class DescentPath:
    """One run of :func:`descent_path`.

    ``points`` (steps+1, d), ``values`` (steps+1,) and ``grads`` (steps+1, d) hold x, f(x)
    and df/dx at every point visited (d = 1 for a scalar start); ``stop`` is one of
    :data:`STOPS`'s keys and :attr:`reason` says it in words; ``label`` names the run
    (optimizer and lr) in tables and legends."""
    f: object
    points: np.ndarray
    values: np.ndarray
    grads: np.ndarray
    lr: float
    label: str
    stop: str
    tol: float = None
    step_tol: float = None
    blowup: float = 1e6
    scalar: bool = field(default=False)

    @property
    def steps(self):
        """How many steps were taken (``len(points) - 1``)."""
        return len(self.points) - 1

    @property
    def x(self):
        """The last point, shaped like the start (a float for a scalar start)."""
        return float(self.points[-1, 0]) if self.scalar else self.points[-1].copy()

    @property
    def converged(self):
        return self.stop in ("grad tol", "step tol")

    @property
    def runs_away(self):
        """Diverged, or still heading off: |gradient| grew in each of the last three steps
        to more than twice its start (a figure's view then leaves the rest out)."""
        g = np.linalg.norm(self.grads, axis=1)
        return self.stop == "diverged" or (
            self.stop == "steps" and len(g) > 3 and bool(np.all(np.diff(g[-4:]) > 0))
            and g[-1] > 2 * g[0])

    @property
    def reason(self):
        """Why the run stopped, in words."""
        n, g = self.steps, float(np.linalg.norm(self.grads[-1]))
        at = _point(self.points[-1])
        if self.stop == "grad tol":
            return f"converged: |gradient| = {g:.3g} < tol = {self.tol:g} after {_steps(n)}"
        if self.stop == "step tol":
            step = float(np.linalg.norm(self.points[-1] - self.points[-2]))
            return (f"converged: |step| = {step:.3g} < step_tol = {self.step_tol:g} after "
                    f"{_steps(n)}")
        if self.stop == "diverged":
            return (f"diverged at step {n}: x = {at}, f(x) = {self.values[-1]:.3g} "
                    f"(non-finite or beyond {self.blowup:g}); try a smaller lr")
        if self.stop == "not differentiable":
            return (f"stopped at step {n}: the gradient at x = {at} is "
                    f"{_point(self.grads[-1])}, f is not differentiable there; start "
                    f"elsewhere or smooth f (e.g. sqrt(x**2 + 1e-12) for |x|)")
        return f"all {_steps(n)} taken; |gradient| is still {g:.3g}"

    def rows(self):
        """``[step, x..., f(x), df/dx...]`` per point, as printed."""
        return [[n, *p, v, *g] for n, (p, v, g) in
                enumerate(zip(self.points.tolist(), self.values.tolist(),
                              self.grads.tolist()))]

    def columns(self):
        d = self.points.shape[1]
        if d == 1:
            return ["step", "x", "f(x)", "df/dx"]
        return (["step"] + [f"x{i + 1}" for i in range(d)] + ["f(x)"]
                + [f"df/dx{i + 1}" for i in range(d)])

    def title(self):
        return f"Gradient descent ({self.label}): {self.reason}"

    def __repr__(self):
        cols = self.columns()
        rows = [[str(r[0])] + [_num(v) for v in r[1:]] for r in self.rows()]
        if len(rows) > SHOW_ROWS:
            rows = rows[:SHOW_ROWS - 3] + [["..."] * len(cols)] + rows[-2:]
        widths = [max(len(c), *(len(r[j]) for r in rows)) for j, c in enumerate(cols)]

        def line(cells):
            return "  ".join(c.rjust(w) for c, w in zip(cells, widths))
        table = [line(cols), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
        return "\n".join([self.title()] + table)

    __str__ = __repr__

    def plot(self, out=None, **kwargs):
        """This path drawn by :func:`plot_descent` (its ``FigureFiles``)."""
        return plot_descent(self.f, self, out=out, **kwargs)

    def _repr_html_(self):
        """The table, and the figure where matplotlib is there and x has 1 or 2 coordinates."""
        from ..lessons._common import Table, figure_html
        from . import figures as F
        d = self.points.shape[1]
        table = Table(self.title(), self.columns(), self.rows(),
                      ["d"] + [".6g"] * (2 * d + 1))
        fig = (figure_html("descent-path", self.plot())
               if d <= 2 and F.available() else "")
        return f'<div class="zeroin-descent">{table.html()}{fig}</div>'


def _steps(n):
    return _fmt.plural(n, "step")


def _num(v):
    return _fmt.number(v) if math.isfinite(v) else str(float(v))


def _point(p):
    p = np.asarray(p, dtype=float).reshape(-1)
    if p.size == 1:
        return _num(p[0])
    return "(" + ", ".join(_num(v) for v in p) + ")"


def _positive(name, key, value, why=""):
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and value > 0)
    if not ok:
        raise ValueError(f"{name}: {key} must be a finite number > 0{why}, got {value!r}")


def _check(lr, steps, tol, step_tol, blowup, optimizer):
    _positive("descent_path", "lr", lr, " (each step moves x by -lr * gradient)")
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"descent_path: steps must be a whole number >= 1, got {steps!r}")
    for key, v in (("tol", tol), ("step_tol", step_tol)):
        if v is not None:
            _positive("descent_path", key, v, " (or None: run every step)")
    _positive("descent_path", "blowup", blowup)
    if optimizer is not None and not isinstance(optimizer, type):
        raise TypeError(f"descent_path: optimizer takes a class such as zeroin.optim.Adam, "
                        f"not {type(optimizer).__name__} {optimizer!r}; its settings go as "
                        f"keywords: descent_path(f, x0, optimizer=zeroin.optim.SGD, "
                        f"momentum=0.9)")


def _start(x0):
    """x0 as a float64 array of shape () or (d,)."""
    if hasattr(x0, "detach"):
        x0 = x0.detach().numpy()
    try:
        start = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"descent_path: x0 must be a number or a 1-D list of numbers, "
                        f"got {type(x0).__name__} {x0!r}") from None
    if start.ndim > 1 or start.size == 0 or not np.all(np.isfinite(start)):
        raise ValueError(f"descent_path: x0 must be a finite number or a non-empty 1-D "
                         f"list of finite numbers, got shape {start.shape}: {x0!r}")
    return start


def _value(f, x):
    """f(x), checked: a zeroin scalar tensor built from x."""
    from .._tensor import Tensor
    y = f(x)
    if not isinstance(y, Tensor):
        raise TypeError(f"descent_path: f must return a zeroin tensor computed from x with "
                        f"zeroin ops (e.g. zeroin.cos(x), not math.cos), got "
                        f"{type(y).__name__} {y!r}")
    if y.numel() != 1:
        raise ValueError(f"descent_path: f must return a scalar (shape ()), got shape "
                         f"{tuple(y.shape)} for x of shape {tuple(x.shape)}; reduce it, "
                         f"e.g. with .sum()")
    if not y.requires_grad:
        raise ValueError("descent_path: f's result does not depend on x through zeroin ops "
                         "(did f call .item(), numpy or math?); build it from x with "
                         "zeroin ops")
    return y


def _label(optimizer, lr, opt_kwargs, lr_lambda=None):
    extra = "".join(f", {k} = {v:g}" if isinstance(v, float) else f", {k} = {v}"
                    for k, v in opt_kwargs.items())
    sched = "" if lr_lambda is None else \
        f" * {getattr(lr_lambda, '__name__', 'lr_lambda').replace('<lambda>', 'lr_lambda')}(n)"
    return f"{optimizer.__name__}{extra}, lr = {lr:g}{sched}"


def _scheduler(opt, lr_lambda):
    """LambdaLR on ``opt`` for ``lr_lambda`` (checked: callable), or None."""
    if lr_lambda is None:
        return None
    if not callable(lr_lambda):
        raise TypeError(f"descent_path: lr_lambda must be a function of the step number n "
                        f"(0, 1, ...) giving the factor on lr, as for torch.optim.lr_scheduler"
                        f".LambdaLR, e.g. lambda n: 0.9 ** n; got {lr_lambda!r}")
    from ..optim.lr_scheduler import LambdaLR
    return LambdaLR(opt, lr_lambda)


def descent_path(f, x0, *, lr=0.1, steps=50, optimizer=None, tol=None, step_tol=None,
                 blowup=1e6, label=None, lr_lambda=None, **opt_kwargs):
    """Run gradient descent on ``f`` from ``x0`` with zeroin's autograd; the path.

    ``f`` takes a float64 tensor of x0's shape (``()`` for a number, ``(d,)`` for a list)
    and returns a scalar tensor. Each step is ``zero_grad``, ``f(x)``, ``backward``,
    ``step`` with ``optimizer(params, lr=lr, **opt_kwargs)`` (default
    :class:`zeroin.optim.SGD`: x <- x - lr * gradient). It stops after ``steps`` steps,
    when ``|gradient|`` falls below ``tol`` or ``|step|`` below ``step_tol``, when x or f(x) becomes
    non-finite or ``|x|`` passes ``blowup`` (diverged), or at a NaN or infinite gradient
    (not differentiable there), quietly: :attr:`DescentPath.reason` says which.
    ``lr_lambda``: step n (0, 1, ...) uses ``lr * lr_lambda(n)``, a decaying rate as
    ``torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)`` stepped after each step."""
    import zeroin

    from .. import optim
    _check(lr, steps, tol, step_tol, blowup, optimizer)
    if not callable(f):
        raise TypeError(f"descent_path: f must be a function of a tensor, got {f!r}")
    start = _start(x0)
    optimizer = optimizer or optim.SGD
    x = zeroin.tensor(start, requires_grad=True)
    opt = optimizer([x], lr=lr, **opt_kwargs)
    sched = _scheduler(opt, lr_lambda)
    points, values, grads, stop = [], [], [], "steps"
    with np.errstate(all="ignore"):
        for n in range(steps + 1):
            opt.zero_grad()
            y = _value(f, x)
            y.backward()
            points.append(x.detach().numpy().astype(np.float64).reshape(-1))
            values.append(float(y.item()))
            grads.append(np.zeros_like(points[-1]) if x.grad is None else
                         x.grad.numpy().astype(np.float64).reshape(-1))
            stop = _stopped(points, values[-1], grads[-1], tol, step_tol, blowup)
            if stop or n == steps:
                break
            opt.step()
            if sched is not None:
                sched.step()
    return DescentPath(f, np.array(points), np.array(values), np.array(grads), float(lr),
                       label or _label(optimizer, lr, opt_kwargs, lr_lambda), stop or "steps",
                       tol, step_tol, blowup, start.ndim == 0)


def _stopped(points, value, grad, tol, step_tol, blowup):
    """Why to stop at the last point, or None to go on."""
    p = points[-1]
    if not (np.all(np.isfinite(p)) and math.isfinite(value)) or np.abs(p).max() > blowup:
        return "diverged"
    if not np.all(np.isfinite(grad)):
        return "not differentiable"
    if tol is not None and np.linalg.norm(grad) < tol:
        return "grad tol"
    if step_tol is not None and len(points) > 1 and \
            np.linalg.norm(p - points[-2]) < step_tol:
        return "step tol"
    return None


# --- figures ------------------------------------------------------------------------------

def _runs(f, paths_or_x0, lrs, optimizers, lr, steps, tol, opt_kwargs):
    """The paths to draw: given, or run from x0 for each lr and each optimizer (a class or
    ``(class, {settings})``; a dict labels them by its keys)."""
    if isinstance(paths_or_x0, DescentPath):
        return [paths_or_x0]
    if isinstance(paths_or_x0, (list, tuple)) and paths_or_x0 and all(
            isinstance(p, DescentPath) for p in paths_or_x0):
        return list(paths_or_x0)
    if isinstance(lrs, numbers.Real):
        lrs = [lrs]
    if "optimizer" in opt_kwargs:       # descent_path's keyword: one optimizer
        if optimizers is not None:
            raise ValueError("plot_descent: give optimizer= (one) or optimizers= (a list or "
                             "dict of them), not both")
        optimizers, opt_kwargs = [opt_kwargs["optimizer"]], {
            k: v for k, v in opt_kwargs.items() if k != "optimizer"}
    named = optimizers.items() if isinstance(optimizers, dict) else \
        [(None, o) for o in (optimizers if optimizers is not None else [None])]
    rates = lrs if lrs is not None else [lr]
    runs = []
    for name, opt in named:
        cls, kw = opt if isinstance(opt, tuple) else (opt, {})
        own = [kw["lr"]] if "lr" in kw else None    # (optim.Adam, {"lr": 0.05}): its own rate
        if own and lrs is not None:
            raise ValueError(f"plot_descent: {getattr(cls, '__name__', cls)}'s settings give "
                             f"lr={kw['lr']!r} and lrs={list(lrs)!r} gives the rates too; "
                             f"give each optimizer its lr in its settings, or the rates in "
                             f"lrs, not both")
        kw = {k: v for k, v in kw.items() if k != "lr"}
        for rate in own or rates:
            label = None if name is None else (
                f"{name}, lr = {rate:g}" if len(own or rates) > 1 else str(name))
            runs.append(descent_path(f, paths_or_x0, lr=rate, steps=steps, tol=tol,
                                     optimizer=cls, label=label, **{**opt_kwargs, **kw}))
    if not runs:
        raise ValueError("plot_descent: lrs and optimizers must not be empty")
    return runs


def _grid_values(f, axes, scalar):
    """f at every point of the grid spanned by ``axes`` (one array per coordinate; x of
    shape () where ``scalar``), by the engine without gradients; NaN where not finite."""
    import zeroin
    shape = tuple(len(a) for a in axes)
    out = np.empty(shape)
    with zeroin.no_grad(), np.errstate(all="ignore"):
        for idx in np.ndindex(*shape):
            p = np.array([a[i] for a, i in zip(axes, idx)])
            out[idx] = float(f(zeroin.tensor(p[0] if scalar else p)).item())
    out[~np.isfinite(out)] = np.nan
    return out


def _view(paths, lims):
    """Per coordinate ``(lo, hi)``: every point of the paths that did not diverge and the
    starts, with a margin; a path that runs away counts while it stays within three times that
    size of its start (it is clipped beyond). ``lims`` (one ``(lo, hi)`` or None per
    coordinate) wins where given."""
    from .figures import span
    kept = [p.points[np.all(np.isfinite(p.points), axis=1)] for p in paths
            if not p.runs_away] + [p.points[:1] for p in paths]
    base = np.vstack(kept)
    size = max(float(np.ptp(base, axis=0).max()), 1.0)
    for p in paths:
        if p.runs_away:
            near = [q for q in p.points if np.all(np.isfinite(q))
                    and np.abs(q - p.points[0]).max() <= 3 * size]
            kept.append(np.array(near).reshape(-1, base.shape[1]))
    pts = np.vstack(kept)
    view = []
    for j, lim in enumerate(lims):
        lo, hi = pts[:, j].min(), pts[:, j].max()
        view.append(lim or span([lo, hi], 0.12, max(0.05 * (hi - lo), 0.1 * max(abs(lo),
                                                                          abs(hi), 1))))
    return view


def _grid_minimum(f, view, scalar):
    """Where f is lowest on a grid 3, 9, then 27 times the view's size around its centre
    (the first where that point is inside the grid, not on its edge), refined on a finer
    grid around it; None when f keeps falling past the widest grid's edge (no minimum in
    reach) or is nowhere finite."""
    centre = [(lo + hi) / 2 for lo, hi in view]
    for times in (3, 9, 27):
        half = [times * (hi - lo) / 2 for lo, hi in view]
        axes = [np.linspace(c - h, c + h, 31) for c, h in zip(centre, half)]
        z = _grid_values(f, axes, scalar)
        if not np.isfinite(z).any():
            return None
        idx = np.unravel_index(np.nanargmin(z), z.shape)
        if all(0 < i < len(a) - 1 for i, a in zip(idx, axes)):
            break
    else:
        return None
    for _ in range(2):                  # each pass a tenth of the last one's step
        step = [a[1] - a[0] for a in axes]
        axes = [np.linspace(a[i] - s, a[i] + s, 21) for a, i, s in zip(axes, idx, step)]
        z = _grid_values(f, axes, scalar)
        idx = np.unravel_index(np.nanargmin(z), z.shape)
    return np.array([a[i] for a, i in zip(axes, idx)])


def _minimum(f, paths, view, minimum, lims):
    """``(point or None, view)``: the minimum to mark (given; found on a grid for a 2-D
    view when ``minimum`` is None; none when False) and the view widened to show it,
    with a margin, where ``lims`` leaves the coordinate free."""
    d = len(view)
    if minimum is False or (minimum is None and d == 1):
        return None, view
    if minimum is None:
        point = _grid_minimum(f, view, paths[0].scalar)
    else:
        try:
            point = np.asarray(minimum, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            point = None
        if point is None or point.shape != (d,) or not np.all(np.isfinite(point)):
            raise ValueError(f"plot_descent: minimum must be {d} finite number"
                             f"{'s' if d > 1 else ''} (where f is lowest), None to look for "
                             f"it on a grid (2-D) or False for none, got {minimum!r}")
    if point is None:
        return None, view
    point = _Minimum(point, found=minimum is None)
    wide = []
    for (lo, hi), m, lim in zip(view, point, lims):
        pad = 0.08 * (max(hi, m) - min(lo, m))
        inside = lim is not None or lo <= m <= hi
        wide.append((lo, hi) if inside else (min(lo, m - pad), max(hi, m + pad)))
    return point, wide


class _Minimum(np.ndarray):
    """The minimum's coordinates; ``found`` when looked for on a grid (not given)."""

    def __new__(cls, point, found):
        out = np.asarray(point, dtype=float).view(cls)
        out.found = found
        return out

    def __array_finalize__(self, obj):
        self.found = getattr(obj, "found", False)


def _mark_minimum(ax, point, value, F):
    """An X where f is lowest (on the curve in 1-D), under the paths' marks."""
    xy = (point[0], value) if len(point) == 1 else tuple(point)
    ax.plot(*xy, "X", ms=15, color=F.COLORS["ink"], mec=F.COLORS["paper"], mew=1.2,
            ls="none", zorder=3.5, label="minimum")


def _ink():
    """The theme's text colour (marker edges), from the lessons' palette."""
    from .figures import COLORS
    return COLORS["ink"]


def _off_view(ax, xy, box, color):
    """A triangle on the edge of the view where the path (display data ``xy``) first leaves
    ``box`` = ((xlo, xhi), (ylo, yhi)), pointing the way it went; that step or None."""
    (xlo, xhi), (ylo, yhi) = box
    for step, (a, b) in enumerate(xy):
        if xlo <= a <= xhi and ylo <= b <= yhi:
            continue
        a, b = (a, b) if np.isfinite(a) and np.isfinite(b) else xy[max(step - 1, 0)]
        marker = (">" if a > xhi else "<" if a < xlo else "^" if b > yhi else "v")
        ax.plot([min(max(a, xlo), xhi)], [min(max(b, ylo), yhi)], marker, color=color,
                ms=12, mec=_ink(), mew=0.8, clip_on=False, zorder=6)
        return step
    return None


def _draw_1d(ax, f, paths, view, ylim, F):
    """The curve over the view, each path's points on it, joined by arrows, numbered where
    they stand apart; returns {label: first step off the view} and the numbered steps."""
    (xlo, xhi), = view
    xs = np.linspace(xlo, xhi, 400)
    ys = _grid_values(f, [xs], paths[0].scalar)
    inside = [v for p in paths for q, v in zip(p.points[:, 0], p.values)
              if xlo <= q <= xhi and math.isfinite(v)]
    ylo, yhi = ylim or F.span([*ys[np.isfinite(ys)], *inside], 0.06, 1e-3)
    ax.plot(xs, ys, color=F.COLORS["curve"], lw=2, label="f(x)", zorder=1)
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(ylo, yhi)
    off, groups, offsets = {}, [], []
    for i, p in enumerate(paths):
        color, marker, ls = F.run_style(i)
        px, py = p.points[:, 0], p.values
        ax.plot(px, py, marker=marker, ls="none", color=color, ms=8, mec=F.COLORS["paper"],
                mew=0.6, zorder=4)
        for a in range(p.steps):
            ax.annotate("", (px[a + 1], py[a + 1]), (px[a], py[a]), zorder=3,
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.5,
                                    "ls": ls, "shrinkA": 5, "shrinkB": 5,
                                    "mutation_scale": 14})
        off[p.label] = _off_view(ax, list(zip(px, py)), ((xlo, xhi), (ylo, yhi)), color)
        # a number on the lower side of the curve, square to it (axes fractions, ~2:1)
        sx, sy = 1 / (xhi - xlo), 0.55 / (yhi - ylo)
        normal = [np.array([g * sy, -sx]) / (math.hypot(g * sy, sx) or 1)
                  for g in p.grads[:, 0]]
        offsets.append([(16 * u, 16 * v) for u, v in normal])
        groups.append([((a - xlo) * sx + 0.028 * u, (b - ylo) * sy / 0.55 + 0.05 * v)
                       if math.isfinite(b) and xlo <= a <= xhi and ylo <= b <= yhi else None
                       for a, b, (u, v) in zip(px, py, normal)])
    numbered = _free_labels(groups, 0.03, 0.05)
    for i, (p, steps) in enumerate(zip(paths, numbered)):
        for a in steps:
            ax.annotate(str(a), (p.points[a, 0], p.values[a]), textcoords="offset points",
                        xytext=offsets[i][a], ha="center", va="center", fontsize=_fs(12),
                        color=F.run_style(i)[0], zorder=5)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    return off, numbered


def _free_labels(groups, min_dx, min_dy):
    """Which steps to number: per group of label positions (axes fractions, in step order,
    None where not drawn), each step whose label keeps ``min_dx`` across or ``min_dy`` up
    from every label placed before it."""
    placed, chosen = [], []
    for points in groups:
        chosen.append([])
        for step, xy in enumerate(points):
            if xy is None or any(abs(xy[0] - a) < min_dx and abs(xy[1] - b) < min_dy
                                 for a, b in placed):
                continue
            placed.append(xy)
            chosen[-1].append(step)
    return chosen


def _draw_2d(ax, f, paths, view, F):
    """Contour lines of f over the view and each path on top, start and end marked;
    returns {label: first step off the view}."""
    (xlo, xhi), (ylo, yhi) = view
    a, b = np.linspace(xlo, xhi, 70), np.linspace(ylo, yhi, 60)
    z = _grid_values(f, [a, b], False).T
    finite = z[np.isfinite(z)]
    if finite.size:
        levels = np.unique(np.quantile(finite, np.linspace(0.02, 0.98, 16)))
        if len(levels) > 1:
            ax.contour(a, b, z, levels=levels, colors=F.COLORS["muted"], linewidths=1,
                       alpha=0.7, zorder=1)
    off = {}
    for i, p in enumerate(paths):
        color, marker, ls = F.run_style(i)
        pts = p.points
        ax.plot(pts[:, 0], pts[:, 1], marker=marker, ls=ls, color=color, ms=6, lw=2,
                markevery=max(1, p.steps // 30), zorder=3)
        ax.plot(*pts[0], "o", ms=15, mfc="none", mec=color, mew=2.5, zorder=4)
        if np.all(np.isfinite(pts[-1])):
            ax.plot(*pts[-1], "*", ms=17, color=color, mec=F.COLORS["ink"], mew=0.8, zorder=5)
        off[p.label] = _off_view(ax, [tuple(q) for q in pts], view, color)
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(ylo, yhi)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return off


def _legend(fig, ax, paths, two_d, F, minimum=None):
    """Below the axes, so it never covers a path: one entry per path, then start and end
    (and the minimum where it is marked)."""
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=c, marker=m, ls=ls, ms=8, lw=2)
               for c, m, ls in (F.run_style(i) for i in range(len(paths)))]
    labels = [p.label for p in paths]
    ink = F.COLORS["ink"]
    if two_d:
        handles += [Line2D([], [], marker="o", ms=13, mfc="none", mec=ink, mew=2, ls="none"),
                    Line2D([], [], marker="*", ms=15, color=ink, ls="none")]
        labels += ["start", "end"]
    if minimum is not None:
        handles.append(Line2D([], [], marker="X", ms=13, color=ink, mec=F.COLORS["paper"],
                              ls="none"))
        labels.append("lowest f on a grid" if minimum.found else "minimum")
    from .contexts import legend_columns
    ncol = legend_columns(fig, labels, min(len(labels), 3 if len(paths) > 2 else 4))
    return fig.legend(handles, labels, loc="outside lower center", ncol=ncol)


def plot_descent(f, paths_or_x0, *, lrs=None, optimizers=None, lr=0.1, steps=50, tol=None,
                 xlim=None, ylim=None, xlabel=None, ylabel=None, title=None, out=None,
                 name="descent", figsize=(12.8, 7.2), theme="light", minimum=None,
                 **opt_kwargs):
    """Gradient-descent paths on ``f`` as a figure (16:9), saved as PNG and SVG.

    ``paths_or_x0``: a :class:`DescentPath`, a list of them, or a start x0 from which
    :func:`descent_path` runs once per learning rate in ``lrs`` (default ``[lr]``) and per
    optimizer in ``optimizers`` (a class, or ``(class, {settings})`` such as
    ``(zeroin.optim.SGD, {"momentum": 0.9})``, with its own ``"lr"`` if it needs another
    learning rate than ``lr``; a dict ``{label: optimizer}`` names them). One coordinate:
    the curve of f with the
    points numbered by step and joined by arrows; two: contour lines of f with the paths on
    top, start and end marked. The view covers the paths with a margin (``xlim``/``ylim``
    set it: x and f(x), or x1 and x2; ``xlabel``/``ylabel`` name them, e.g. the book's
    ``"offset $\\phi_0$"``); a diverging path is clipped, marked by a triangle
    where it leaves and named in the caption. Other keywords go to :func:`descent_path`
    (``optimizer=`` for one, ``step_tol``, ``blowup``, ``lr_lambda``, the optimizer's
    settings such as ``momentum=0.9``).
    ``figsize``: the figure's (width, height) in inches, as matplotlib's; text keeps its
    size in points, so a smaller figure has larger text on a slide ((8, 4.5): a 16:9
    slide's figure read from the back of a room; (8, 6) for 4:3).
    ``theme``: ``"light"`` (dark on white) or ``"dark"`` (light on slate, as
    ``draw(theme="dark")``, for dark slides).
    ``minimum``: where f is lowest (a number, or (x1, x2)), marked with an X and kept in
    view even where the paths stop short of it; None (the default) looks for it on a grid
    around a 2-D view (three times its size); False marks none.
    ``out``: folder for ``NAME.png``/``.svg`` (None: kept in memory). Returns
    :class:`zeroin.viz.figures.FigureFiles` with ``numbered`` (per path, the steps
    numbered in a 1-D figure) and ``off_view`` ({label: first step clipped, or None})."""
    from . import figures as F
    _check_figsize(figsize)
    F.check_theme("plot_descent", theme)
    paths = _runs(f, paths_or_x0, lrs, optimizers, lr, steps, tol, opt_kwargs)
    d = paths[0].points.shape[1]
    if any(p.points.shape[1] != d for p in paths):
        raise ValueError(f"plot_descent: the paths have different numbers of coordinates "
                         f"({sorted({p.points.shape[1] for p in paths})}); draw each alone")
    if d > 2:
        raise ValueError(f"plot_descent: x has {d} coordinates, a picture shows 1 or 2; "
                         f"plot a 2-D slice (a function of two coordinates, the others "
                         f"fixed) or use descent_path alone for the numbers")
    if not F.available():
        raise ImportError(f"plot_descent: {F.PLOTS_HINT}")
    lims = [xlim] if d == 1 else [xlim, ylim]
    point, view = _minimum(f, paths, _view(paths, lims), minimum, lims)
    with F.style(theme):
        fig, ax = F.subplots(figsize=figsize)
        if d == 1:
            off, numbered = _draw_1d(ax, f, paths, view, ylim, F)
        else:
            off, numbered = _draw_2d(ax, f, paths, view, F), None
        if point is not None:
            _mark_minimum(ax, point, _grid_values(f, [point[:1]], paths[0].scalar)[0]
                          if d == 1 else None, F)
        if xlabel is not None:
            ax.set_xlabel(xlabel)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
        name_f = getattr(f, "__name__", "f")
        ax.set_title(title or f"Gradient descent on {'f' if name_f == '<lambda>' else name_f}"
                     + (f", {paths[0].label}" if len(paths) == 1 else ""))
        _legend(fig, ax, paths, d == 2, F, point)
        files = F.save(fig, out, name, _caption(paths, off, numbered, point))
        files.numbered, files.off_view, files.minimum = numbered, off, point
        return files


def _gap(paths, minimum):
    """How far the nearest path's end stays from ``minimum`` (0 within 0.1% of the view)."""
    ends = [p.points[-1] for p in paths if np.all(np.isfinite(p.points[-1]))]
    if not ends:
        return 0.0
    gap = min(float(np.linalg.norm(e - minimum)) for e in ends)
    size = max(float(np.ptp(np.vstack([p.points for p in paths]), axis=0).max()), 1e-12)
    return gap if gap > 1e-3 * size else 0.0


def _check_figsize(figsize):
    try:
        ok = len(figsize) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
            and v > 0 for v in figsize)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"plot_descent: figsize must be (width, height) in inches, two "
                         f"positive numbers such as (8, 4.5) for a 16:9 slide, got "
                         f"{figsize!r}")


def _caption(paths, off, numbered, minimum=None):
    text = "Gradient descent: " + "; ".join(f"{p.label}: {p.reason}" for p in paths) + "."
    if minimum is not None:
        where = ", ".join(f"{v:.3g}" if minimum.found else f"{v:.4g}" for v in minimum)
        what = "where f is lowest on a grid, near" if minimum.found else "the minimum, at"
        end = "the path ends" if len(paths) == 1 else "the nearest end is"
        gap = _gap(paths, minimum)
        text += f" The X marks {what} ({where})" + (
            f"; {end} {gap:.3g} from it." if gap > 0 else ".")
    if numbered is not None and any(len(n) < p.steps + 1 for p, n in zip(paths, numbered)):
        text += (" Points are numbered by step where the numbers stand apart (crowded "
                 "ones are left unnumbered).")
    gone = [f"{label} from step {s}" for label, s in off.items() if s is not None]
    if gone:
        text += (f" Clipped to the view: {'; '.join(gone)} (a triangle on the edge marks "
                 f"where it leaves).")
    return text
