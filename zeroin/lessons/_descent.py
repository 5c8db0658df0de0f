"""Lessons 5 and 6: gradient descent on y = (x - 1)^2 + 0.001, and the learning rate."""
from __future__ import annotations

import math

import zeroin

from ..viz.figures import run_style
from ..viz.figures import span as _span
from ..viz.figures import spread_labels as _spread_labels
from ._common import (LessonResult, Table, count, finite, lesson, need, plots_ok,
                      positive, show, whole)
from ..viz.contexts import size as _fs

ETA = 0.1
X0 = 0.2
X0_RIGHT = 1.8        # the mirror image of X0 across the minimum at 1
TOL = 1e-3
ETAS = (0.05, 0.1, 0.4, 0.8, 1.0, 1.1)
MAX_STEPS = 100


def f(x):
    """The chapter's curve y = (x - 1)^2 + 0.001 (x a tensor or a number)."""
    return (x - 1) ** 2 + 0.001


def value_and_grad(x):
    """y and dy/dx at the number ``x``, the derivative by backprop."""
    t = zeroin.tensor(float(x), requires_grad=True, name="x")
    y = f(t)
    y.backward()
    return y.item(), t.grad.item()


def gradient_descent(x0, eta, tol=TOL, max_steps=1000, blowup=1e6):
    """x <- x - eta * dy/dx until |dy/dx| < tol. Rows: [n, x, y, dy/dx, step]."""
    rows = []
    x = float(x0)
    for n in range(max_steps + 1):
        y, g = value_and_grad(x)
        step = -eta * g
        rows.append([n, x, y, g, step])
        if abs(g) < tol or n == max_steps or not math.isfinite(g) or abs(g) > blowup:
            break
        x = x + step
    return rows


# --- lesson 5 ----------------------------------------------------------------------------

@lesson
def descent(out=None, *, eta=ETA, x0=X0, x0_right=X0_RIGHT, tol=TOL, verbose=None,
            figures=True, theme="light"):
    """Gradient descent on y = (x-1)^2 + 0.001 with eta = 0.1 from both sides of the minimum."""
    positive("descent", "eta", eta)
    positive("descent", "tol", tol)
    for key, v in (("x0", x0), ("x0_right", x0_right)):
        finite("descent", key, v)
        need(v != 1, f"descent: {key} = {show(v)} is already the minimum; start elsewhere")
    settles = eta < 1          # each step multiplies x - 1 by 1 - 2 eta
    left = gradient_descent(x0, eta, tol)
    right = gradient_descent(x0_right, eta, tol)
    outcome = _Outcome(eta, tol, ((x0, left), (x0_right, right)))
    res = LessonResult(
        "descent", "Lesson 5 - descent: gradient descent on y = (x - 1)^2 + 0.001",
        intro=(f"x <- x - eta * dy/dx with eta = {eta:g}, the derivative dy/dx computed by "
               f"backprop, until |dy/dx| < {tol:g}. Left of the minimum the gradient is "
               f"negative, so -eta * gradient is positive and x grows; right of it the "
               f"gradient is positive and x shrinks" + outcome.sentence()))
    c = 1 - 2 * eta
    name_a, name_b = _names(x0, x0_right)
    res.tables.append(_steps_table(left, right, x0, x0_right, eta))
    # The chapter's points B and F, and its first step (grad2).
    sign_rows = []
    for label, xv in (("B", 0.1), ("F", 1.5)):
        y, g = value_and_grad(xv)
        sign_rows.append([label, xv, g, -eta * g,
                          "x grows (moves right)" if g < 0 else "x shrinks (moves left)"])
    res.tables.append(Table(
        "The gradient's sign decides the direction", ["point", "x", "dy/dx",
                                                      "step -eta * dy/dx", "so"],
        sign_rows, ["", ".6g", ".6g", ".6g", ""]))
    y0, g0 = value_and_grad(x0)
    x1 = x0 - eta * g0
    tangent_y1 = y0 + g0 * (x1 - x0)
    y1 = f(x1)
    res.tables.append(Table(
        "The first step (grad2): tangent, step and chord",
        ["quantity", "value"],
        [["x0", x0], ["y0", y0], ["slope dy/dx at x0", g0], ["step -eta * dy/dx", -eta * g0],
         ["x1 = x0 - eta * dy/dx", x1], ["tangent at x1", tangent_y1], ["y(x1)", y1],
         ["chord slope (y1 - y0) / (x1 - x0)", (y1 - y0) / (x1 - x0)]], ["", ".6g"]))
    res.values.update(
        eta=eta, x0=x0, x0_right=x0_right, tol=tol, xs=[r[1] for r in left],
        ys=[r[2] for r in left], grads=[r[3] for r in left], xs_right=[r[1] for r in right],
        grads_right=[r[3] for r in right], steps=left[-1][0], steps_right=right[-1][0],
        x_final=left[-1][1], x_final_right=right[-1][1], grad_B=sign_rows[0][2],
        grad_F=sign_rows[1][2], y0=y0, slope0=g0, x1=x1, tangent_y1=tangent_y1, y1=y1,
        contraction=c)
    res.notes += [
        f"From {_from(name_a)}: x = {', '.join(format(v, '.6g') for v in res.xs[:5])}, ... "
        f"reaches {res.x_final:.6g} after {count(res.steps, 'step')}; from {_from(name_b)}: "
        f"{', '.join(format(v, '.6g') for v in res.xs_right[:5])}, ... reaches "
        f"{res.x_final_right:.6g} after {count(res.steps_right, 'step')}.",
        f"Each step multiplies the distance to the minimum by 1 - 2 * eta = {c:g}: "
        f"x_n = 1 - {_paren(c)}^n * {_paren(1 - x0)}.",
        f"At B (x = 0.1) the gradient is {res.grad_B:g} < 0 and x moves right; at F (x = 1.5) "
        f"it is {res.grad_F:g} > 0 and x moves left: 'descent' means against the gradient.",
        "The line from step to step is a chord of the curve, not a tangent: the tangent "
        "gives the direction and, with eta, the length of the step in x; the chord only "
        "joins the two points.",
    ]
    stuck = [_from(side) for side, run in ((name_a, left), (name_b, right))
             if not abs(run[-1][3]) < tol]
    if stuck:
        res.notes.append(
            f"Not converged from {' and '.join(stuck)}: |dy/dx| is still "
            f"{max(abs(r[-1][3]) for r in (left, right)):.3g} after the last step ("
            + ("|1 - 2 * eta| >= 1: the distance to the minimum never shrinks)."
               if not settles else "too small a step for the steps allowed)."))
    res.values["converged"] = not stuck
    res.values.update(outcome=outcome.kinds, headline=outcome.headline())
    if plots_ok(res, figures):
        res.figures["grad1"] = _draw_grad1(out, res, theme)
        res.figures["grad2"] = _draw_grad2(out, res, theme)
    return res


def _side(x0):
    """Which side of the minimum at x = 1 a start is on (-1 left, +1 right)."""
    return -1 if x0 < 1 else 1


def _names(x0, x0_right):
    """What the two runs are called in tables and notes: "left" and "right" where they
    start on those sides of the minimum (the chapter's 0.2 and 1.8, or the other way
    round), else by their starts (both on one side)."""
    a, b = _side(x0), _side(x0_right)
    if a != b:
        return ("left", "right") if a < b else ("right", "left")
    return f"x0 = {x0:g}", f"x0 = {x0_right:g}"


def _from(name):
    """"the left" / "x0 = 1.5": what follows "from" for a run's name."""
    return f"the {name}" if name in ("left", "right") else name


def _start(x0, name):
    """"x0 = 0.2 (left)", or "x0 = 1.5" where the name is the start itself."""
    return f"x0 = {x0:g}" + (f" ({name})" if name in ("left", "right") else "")


def _paren(v):
    """A number for a formula: (-0.5) in parentheses where it is negative."""
    return f"({v:g})" if v < 0 else f"{v:g}"


def _steps_table(left, right, x0, x0_right, eta):
    """Both runs side by side, step by step, with the closed form of the first."""
    c = 1 - 2 * eta
    name_a, name_b = _names(x0, x0_right)
    rows = []
    for i in range(max(len(left), len(right))):
        lr = left[i] if i < len(left) else [None] * 5
        rr = right[i] if i < len(right) else [None] * 5
        exact = 1 - c ** i * (1 - x0) if i < len(left) else None
        rows.append([i, lr[1], exact, lr[2], lr[3], rr[1], rr[2], rr[3]])
    return Table(
        f"Steps from {_start(x0, name_a)} and {_start(x0_right, name_b)}, eta = {eta:g}; "
        f"exact x_n = 1 - (1 - 2 eta)^n (1 - x0)",
        ["n", f"x ({name_a})", "exact x_n", "y", "dy/dx", f"x ({name_b})", "y",
         "dy/dx"], rows, ["d", ".6g", ".6g", ".6g", ".6g", ".6g", ".6g", ".6g"])


class _Outcome:
    """What descent did from each start, in words: gone down to x = 1 (smoothly or jumping
    across it), still short of it after the steps allowed, jumping across it forever, or
    thrown further away every step. ``runs``: (x0, rows of gradient_descent) per side."""

    def __init__(self, eta, tol, runs):
        self.eta, self.runs = eta, runs
        self.kinds = [_verdict(rows, tol, rows[-1][0])[0] for _, rows in runs]
        # "both sides" where the starts are on the two sides of the minimum
        self.both = "both sides" if len({_side(x0) for x0, _ in runs}) == 2 else "both starts"

    def _side(self, x0, rows, kind):
        x, n, g = rows[-1][1], count(rows[-1][0], "step"), abs(rows[-1][3])
        start = f"from x0 = {x0:g}"
        if kind == "smooth" and len(rows) == 1:
            return f"{start} x starts within the tolerance"
        if kind in ("smooth", "overshoot"):
            return f"{start} x reaches {x:.6g} in {n}" + (
                ", jumping across the minimum every step" if kind == "overshoot" else "")
        if kind == "too slow":
            return (f"{start} x only gets to {x:.6g} in {n} (|dy/dx| is still {g:.3g}: too "
                    f"small a step)")
        if kind == "oscillation":
            return f"{start} x jumps between {x0:g} and {rows[1][1]:.6g} forever"
        return f"{start} every step throws x further away, to {x:.3g} after {n}"

    def sentence(self):
        """The end of the lesson's intro: what happened on both sides."""
        if set(self.kinds) <= {"smooth", "overshoot"}:
            return f": {self.both} go down to x = 1" + (
                "." if "overshoot" not in self.kinds else ", jumping across it every step.")
        why = (f". With eta = {self.eta:g} (1 or more) every step overshoots the minimum by "
               f"as much or more than it was away, so neither side settles: "
               if self.eta >= 1 else f". With eta = {self.eta:g}, ")
        sides = "; ".join(self._side(x0, rows, k) for (x0, rows), k in zip(self.runs,
                                                                           self.kinds))
        return f"{why}{sides}."

    def headline(self):
        """The same, short enough for a figure's title."""
        both = {"smooth": f"{self.both} go down to x = 1",
                "overshoot": f"{self.both} go down to x = 1",
                "too slow": "not at x = 1 after "
                            f"{count(max(r[-1][0] for _, r in self.runs), 'step')}",
                "oscillation": "x jumps across x = 1 forever",
                "divergence": "every step throws x further from 1"}
        if len(set(self.kinds)) == 1 or set(self.kinds) <= {"smooth", "overshoot"}:
            return both[self.kinds[0]]
        short = {"smooth": "reaches 1", "overshoot": "reaches 1", "too slow": "falls short",
                 "oscillation": "jumps forever", "divergence": "runs away"}
        return ", ".join(f"from {x0:g} x {short[k]}" for (x0, _), k in zip(self.runs,
                                                                         self.kinds))


SHOW = 8                 # points drawn from each side in grad1


def _why_crowded(kinds):
    """Why some points of grad1 go unnumbered, for the runs' outcomes (:class:`_Outcome`):
    near the minimum only when the runs converge."""
    if "divergence" in kinds:
        return "the first points crowd together, small beside the later ones"
    if "oscillation" in kinds:
        return "the later points land on the earlier ones: x jumps between the same two values"
    if "too slow" in kinds:
        return "each step is tiny, so the points crowd together"
    return "the later points crowd together near the minimum"


def _draw_grad1(out, res, theme="light"):
    import numpy as np

    from ..viz import figures as F
    keys = [("xs", "left", f"from x0 = {res.x0:g}"),
            ("xs_right", "right", f"from x0 = {res.x0_right:g}")]
    px = {key: np.array(res.values[key][:SHOW]) for key, *_ in keys}
    xlo, xhi = _span([1.0, *px["xs"], *px["xs_right"]], 0.1, 0.3)   # the curve covers every point
    xs = np.linspace(xlo, xhi, 300)
    ylo, yhi = _span([*f(xs), 0.001], 0.05, 0.02)
    with F.style(theme):
        series = [(key, F.COLORS[role], label) for key, role, label in keys]
        fig, ax = F.subplots(figsize=(8, 5.5))
        ax.plot(xs, f(xs), color=F.COLORS["curve"], label="y = (x - 1)^2 + 0.001")
        # Step numbers go below and outside the curve, where nothing else is drawn (down-left
        # of a point left of the minimum, down-right of one right of it, also when a run
        # jumps across); where points crowd, only those apart are numbered.
        groups = []
        for key, color, label in series:
            ax.plot(px[key], f(px[key]), "o-", color=color, lw=1.5, ms=7, label=label,
                    zorder=3)
            groups.append([((a - xlo) / (xhi - xlo) + _side(a) * 0.02,
                            (f(a) - ylo) / (yhi - ylo) - 0.035) for a in px[key]])
        numbered = {}
        for (key, color, _), n in zip(series, _spread_labels(groups, 0.025, 0.045)):
            numbered[key] = n
            for i, a in enumerate(px[key][:n]):
                ax.annotate(str(i), (a, f(a)), textcoords="offset points",
                            xytext=(9 * _side(a), -11), ha="center", va="center", fontsize=_fs(10),
                            color=color)
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(ylo, yhi)
        ax.axvline(1, color=F.COLORS["muted"], ls=":", lw=1)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"Gradient descent, eta = {res.eta:g}: {res.headline}")
        ax.legend(loc="upper center")
        shown = max(len(v) for v in px.values())
        if all(numbered[k] == len(px[k]) for k in px):
            which = "numbered by step"
        else:
            names = _names(res.x0, res.x0_right)
            which = "numbered by step " + " and ".join(
                f"0-{numbered[k] - 1} {where}" if numbered[k] > 1 else f"0 {where}"
                for k, where in zip(("xs", "xs_right"),
                                    (f"on the {n}" if n in ("left", "right") else f"from {n}"
                                     for n in names)))
            which += f" ({_why_crowded(res.outcome)})"
        res.values["grad1_numbered"] = numbered
        first = "the first" if shown == SHOW else "all"
        where = "each side of the minimum" if _side(res.x0) != _side(res.x0_right) else \
            f"x0 = {res.x0:g} and from x0 = {res.x0_right:g}"
        return F.save(fig, out, "descent_grad1",
                      f"The chapter's grad1: {first} {shown} points of gradient descent "
                      f"from {where}, {which}; the lines between them are chords.")


def _draw_grad2(out, res, theme="light"):
    import numpy as np

    from ..viz import figures as F
    x0, x1, y0, y1, g0 = res.x0, res.x1, res.y0, res.y1, res.slope0
    xlo, xhi = min(x0, x1), max(x0, x1)
    pad = max(0.12, 0.15 * (xhi - xlo))
    xlo, xhi = xlo - pad, xhi + pad
    xs = np.linspace(xlo, xhi, 200)
    # Every mark stays inside: the curve, A, x1, the end of the step along the tangent.
    ylo, yhi = _span([*f(xs), y0, y1, res.tangent_y1], 0.05, 0.02)
    with F.style(theme):
        fig, ax = F.subplots(figsize=(8, 5.5))
        ax.plot(xs, f(xs), color=F.COLORS["curve"], label="y = (x - 1)^2 + 0.001")
        tx = np.array([xlo, xhi])
        ax.plot(tx, y0 + g0 * (tx - x0), color=F.COLORS["tangent"], lw=2,
                label=f"tangent at A, slope {g0:g}")
        ax.plot([x0, x1], [y0, res.tangent_y1], color=F.COLORS["correction"], lw=4,
                label=f"step along the tangent: x1 = x0 - eta * ({g0:g}) = {x1:g}")
        ax.plot([x0, x1], [y0, y1], color=F.COLORS["error"], lw=2, ls="--",
                label="chord from A to the new point")
        ax.plot([x1, x1], [res.tangent_y1, y1], color=F.COLORS["muted"], ls=":", lw=2,
                label=f"at x1 the curve is {y1 - res.tangent_y1:.4g} above the tangent")
        ax.plot([x0], [y0], "o", color=F.COLORS["ink"], ms=8, zorder=4)
        ax.plot([x1], [y1], "o", color=F.COLORS["error"], ms=8, zorder=4)
        a_label = ax.annotate("A", (x0, y0), xytext=(0, 0), textcoords="offset points",
                              fontsize=_fs(13))                # placed below, once drawn
        x1_label = ax.annotate(f"x1 = {x1:g}", (x1, y1), xytext=(0, 0),
                               textcoords="offset points", fontsize=_fs(11))
        ax.set_xlim(xlo, xhi)
        ax.set_ylim(ylo, yhi)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title("The first step: tangent, step and chord")
        # The legend in the upper corner where the curve is lower (the step's far end for
        # a step that does not cross the minimum); the labels where nothing is drawn.
        high_left = f(xlo) > f(xhi)
        legend = ax.legend(loc="upper right" if high_left else "upper left", fontsize=_fs(9))
        _place_grad2_labels(fig, legend, a_label, x1_label, x0, x1)
        return F.save(fig, out, "descent_grad2",
                      "The chapter's grad2, the first step close up: the tangent at A fixes "
                      "the direction, eta times its slope the length; the chord (red) only "
                      "joins the two points.")


def _place_grad2_labels(fig, legend, a_label, x1_label, x0, x1):
    """A and x1 where they touch no line, marker or the legend and stay inside: A below
    the curve on its outer side (away from the minimum), where the curve and the tangent
    both rise; x1 ahead of the step, or else anywhere around it that is free."""
    from ..viz.figures import place
    out = 1 if x0 > 1 else -1                     # which side of the minimum A is on
    ahead = 1 if x1 >= x0 else -1                 # which way the step goes
    fig.draw_without_rendering()                  # settle the layout first
    taken = [legend.get_window_extent()]
    taken.append(place(a_label, [(10 * out, -10), (0, -14), (-10 * out, -12),
                                   (10 * out, 10), (0, 14), (-10 * out, 12)], taken))
    place(x1_label, [(8 * ahead, 6), (8 * ahead, -8), (-8 * ahead, 8), (0, 12),
                       (-8 * ahead, -10), (0, -14),       # near the edge (a far start):
                       (0, 24), (-8 * ahead, -24), (8 * ahead, -24), (-40 * ahead, -10)],
          taken)


def _is_positive(v):
    try:
        return math.isfinite(v) and v > 0
    except TypeError:
        return False


# --- lesson 6 ----------------------------------------------------------------------------

def _verdict(rows, tol, max_steps):
    """Say in words what the run did, from its gradients only."""
    gs = [r[3] for r in rows]
    ratios = [b / a for a, b in zip(gs, gs[1:]) if a != 0]
    ratio = ratios[-1] if ratios else float("nan")
    flips = sum(1 for a, b in zip(gs, gs[1:]) if a * b < 0)
    alternating = len(gs) > 2 and flips == len(gs) - 1
    steps = rows[-1][0]
    if abs(gs[-1]) < tol:
        if alternating:
            return "overshoot", ratio, (f"converges in {count(steps, 'step')}, but "
                                         f"overshoots: x jumps across the minimum every step")
        return "smooth", ratio, f"converges smoothly in {count(steps, 'step')}"
    if abs(abs(ratio) - 1) < 1e-9:
        return "oscillation", ratio, (f"never converges: x jumps between "
                                      f"{rows[-2][1]:.6g} and {rows[-1][1]:.6g} forever "
                                      f"(|gradient| stays {abs(gs[-1]):.6g})")
    if abs(ratio) > 1:
        return "divergence", ratio, (f"diverges: every step throws x further away, "
                                     f"|gradient| grows x{abs(ratio):.6g} per step, "
                                     f"{abs(gs[-1]):.3g} after {count(steps, 'step')}")
    return "too slow", ratio, (f"not converged after {count(max_steps, 'step')} (too small "
                               f"a step)")


@lesson
def learning_rate(out=None, *, etas=ETAS, x0=X0, tol=TOL, max_steps=MAX_STEPS,
                  verbose=None, figures=True, theme="light"):
    """The same descent for several learning rates: slow, fast, oscillating, diverging."""
    need(len(etas) > 0, "learning-rate: etas must name at least one learning rate")
    for eta in etas:
        need(_is_positive(eta), f"learning-rate: each eta must be > 0, got {show(eta)}")
    finite("learning-rate", "x0", x0)
    need(x0 != 1, f"learning-rate: x0 = {show(x0)} is already the minimum; start elsewhere")
    positive("learning-rate", "tol", tol)
    whole("learning-rate", "max_steps", max_steps)
    res = LessonResult(
        "learning-rate", "Lesson 6 - learning-rate: how big a step?",
        intro=(f"Gradient descent on y = (x - 1)^2 + 0.001 from x0 = {x0:g} for eta in "
               f"{', '.join(format(e, 'g') for e in etas)}; at most {count(max_steps, 'step')}, "
               f"converged when |dy/dx| < {tol:g}. The ratio of successive gradients tells "
               f"the story: below 1 in size it converges, negative means it overshoots, 1 in "
               f"size never settles, above 1 blows up."))
    rows = []
    runs = {}
    for eta in etas:
        traj = gradient_descent(x0, eta, tol, max_steps)
        kind, ratio, words = _verdict(traj, tol, max_steps)
        converged = abs(traj[-1][3]) < tol
        runs[eta] = {"rows": traj, "kind": kind, "ratio": ratio, "words": words,
                     "steps": traj[-1][0] if converged else None, "converged": converged}
        rows.append([eta, ratio, traj[-1][0] if converged else "never", traj[-1][1],
                     abs(traj[-1][3]), words])
    res.tables.append(Table(
        "Learning rates compared",
        ["eta", "gradient ratio per step", "steps to converge", "last x", "last |dy/dx|",
         "what happens"], rows, [".6g", ".6g", "", ".6g", ".6g", ""]))
    res.values.update(etas=list(etas), x0=x0, tol=tol, max_steps=max_steps,
                      steps={e: r["steps"] for e, r in runs.items()},
                      ratios={e: r["ratio"] for e, r in runs.items()},
                      kinds={e: r["kind"] for e, r in runs.items()},
                      verdicts={e: r["words"] for e, r in runs.items()},
                      trajectories={e: [r[1] for r in runs[e]["rows"]] for e in runs})
    conv = [e for e in etas if runs[e]["converged"]]
    best = min(conv, key=lambda e: runs[e]["steps"]) if conv else None
    res.notes += [f"eta = {e:g}: {runs[e]['words']}." for e in etas]
    # The limits come from the curvature y'' (by backprop through the backward pass):
    # each step multiplies x - 1 by 1 - eta * y''.
    t = zeroin.tensor(float(x0), requires_grad=True)
    (g,) = zeroin.grad(f(t), t, create_graph=True)
    (curv,) = zeroin.grad(g, t)
    curv = curv.item()
    res.values.update(curvature=curv, eta_one_step=1 / curv, eta_limit=2 / curv)
    if best is not None:
        res.notes.append(f"Fastest here: eta = {best:g} "
                         f"({count(runs[best]['steps'], 'step')}). "
                         f"Too small wastes steps, too large overshoots, and past a limit "
                         f"training blows up.")
    res.notes.append(f"The limits come from the curvature: y'' = {curv:g} (a second "
                     f"backward pass), and each step multiplies the distance to the minimum "
                     f"by 1 - eta * y''. eta = 1/y'' = {1 / curv:g} lands on the minimum in "
                     f"one step; above 1/y'' every step overshoots; at eta = 2/y'' = "
                     f"{2 / curv:g} it oscillates forever, and beyond it diverges.")
    res.values["fastest_eta"] = best
    if plots_ok(res, figures):
        res.figures["learning_rate"] = _draw_lr(out, res, runs, theme)
    return res


def _draw_lr(out, res, runs, theme="light"):
    from ..viz import figures as F
    with F.style(theme):
        fig, (ax, ax2) = F.subplots(1, 2, figsize=(13, 5.8))
        for i, (eta, r) in enumerate(runs.items()):
            color, marker, ls = run_style(i)
            xs = [row[1] for row in r["rows"]]
            n = min(len(xs), 16)
            ax.plot(range(n), xs[:n], marker=marker, ls=ls, color=color, ms=5, lw=1.5,
                    label=f"eta = {eta:g} ({r['kind']})")
        # x: the start and the minimum always in view; a diverging run may leave it
        kept = [row[1] for r in runs.values() if r["kind"] != "divergence"
                for row in r["rows"][:16]]
        lo, hi = _span([res.x0, 1.0, *kept], 0.08, 0.2)
        ylo, yhi = min(-1.5, lo), max(4.8, hi)
        ax.set_ylim(ylo, yhi)
        off = _mark_off_view(ax, runs, ylo, yhi, F)
        res.values["lr_off_view"] = off
        ax.axhline(1, color=F.COLORS["muted"], ls=":", lw=1)
        ax.set_xlabel("step")
        ax.set_ylabel("x")
        ax.set_title("x per step (minimum at x = 1)", pad=10)     # clear of the triangles
        _draw_gradients(ax2, res, runs, F)
        F.legend_below(fig, (ax, ax2), ncol=4)
        return F.save(fig, out, "learning_rate",
                      "Learning rates compared: " + "; ".join(
                          f"eta = {e:g}: {r['kind']}" for e, r in runs.items()) + "."
                      + _off_view_caption(off) + _zeros_caption(runs))


def _mark_off_view(ax, runs, ylo, yhi, F):
    """A triangle on the edge of the x panel for each drawn point beyond its range (a
    diverging run), pointing the way it went; returns {eta: first step off the view}."""
    off = {}
    for i, (eta, r) in enumerate(runs.items()):
        color = run_style(i)[0]
        for step, x in enumerate(row[1] for row in r["rows"][:16]):
            if ylo <= x <= yhi:
                continue
            up = x > yhi
            ax.plot([step], [yhi if up else ylo], "^" if up else "v", color=color, ms=9,
                    mec=F.COLORS["ink"], mew=0.6, clip_on=False, zorder=5)
            off.setdefault(eta, step)
    return off


def _off_view_caption(off):
    if not off:
        return ""
    which = ", ".join(f"eta = {e:g} from step {n}" for e, n in off.items())
    return (f" In the left panel, points beyond its range ({which}) are marked by "
            f"triangles on its edge.")


def _first_zero(r):
    """The step at which the run's gradient is exactly 0, or None."""
    return next((row[0] for row in r["rows"] if row[3] == 0), None)


def _zeros_caption(runs):
    zeros = [(e, _first_zero(r)) for e, r in runs.items() if _first_zero(r) is not None]
    return "".join(f" With eta = {e:g} the gradient is exactly 0 at step {n}, which a log "
                   f"axis cannot show: it is marked at the bottom of the right panel."
                   for e, n in zeros)


def _draw_gradients(ax2, res, runs, F):
    """|dy/dx| per step on a log axis. A gradient of exactly 0 (eta = 1/y'') has no place
    on it: the axis then gets a floor one decade below its lowest value, ticked "0" and
    set off by a break line, and the zero is marked there with a triangle."""
    import math
    positive = [abs(row[3]) for r in runs.values() for row in r["rows"] if row[3] != 0]
    low, top = min(positive + [res.tol]), max(positive + [res.tol])
    decade = math.floor(math.log10(low))
    floor = 10.0 ** (decade - 1)
    any_zero = False
    for i, (eta, r) in enumerate(runs.items()):
        color, marker, ls = run_style(i)
        steps = [row[0] for row in r["rows"] if row[3] != 0]
        gs = [abs(row[3]) for row in r["rows"] if row[3] != 0]
        ax2.semilogy(steps, gs, marker=marker, ls=ls, markevery=max(1, len(steps) // 25),
                     color=color, lw=1.8, ms=4, label=f"eta = {eta:g} ({r['kind']})")
        zero = _first_zero(r)
        if zero is None:
            continue
        any_zero = True
        if steps:
            ax2.plot([steps[-1], zero], [gs[-1], floor], ":", color=color, lw=1.8)
        ax2.plot([zero], [floor], "v", color=color, ms=11, mec=F.COLORS["ink"], mew=0.8,
                 zorder=4, label="gradient exactly 0 (drawn at the 0 below the break)")
        ax2.annotate(f"eta = {eta:g}: exactly 0 at step {zero}", (zero, floor),
                     textcoords="offset points", xytext=(10, 6), fontsize=_fs(10), color=color)
    ax2.axhline(res.tol, color=F.COLORS["muted"], ls=":", label=f"tolerance {res.tol:g}")
    if any_zero:
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
        ax2.set_ylim(floor / 2, top * 2.5)
        ticks = [floor] + [10.0 ** k for k in range(decade, math.ceil(math.log10(top)) + 1)]
        ax2.yaxis.set_major_locator(FixedLocator(ticks))
        ax2.yaxis.set_minor_locator(NullLocator())
        ax2.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: "0" if v == floor else f"$10^{{{round(math.log10(v))}}}$"))
        ax2.axhline(floor * 10 ** 0.5, color=F.COLORS["ink"], lw=0.8, ls=(0, (6, 3)))
    ax2.set_xlabel("step")
    ax2.set_ylabel("|dy/dx|")
    ax2.set_title("|gradient| per step")
