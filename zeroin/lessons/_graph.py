"""Lessons 2-4 on the chapter's graph z = x * y, x = 2w + b, y = b + 1 (w = 3, b = 4)."""
from __future__ import annotations

import math

import numpy as np

import zeroin
from ._common import LessonResult, Table, finite, lesson, need, plots_ok, positive, show
from ..viz.contexts import size as _fs

W0, B0 = 3.0, 4.0
TARGET = 60.0
TOL = 1e-5
NUDGE = 0.1


def seed_graph(w=W0, b=B0):
    """Build the chapter's graph; returns the named tensors (w, b, x, y, z).

    ``w`` and ``b`` are numbers (or arrays, to evaluate z on a grid)."""
    w = zeroin.tensor(np.asarray(w, dtype=float), requires_grad=True, name="w")
    b = zeroin.tensor(np.asarray(b, dtype=float), requires_grad=True, name="b")
    x = 2 * w + b
    x.name = "x"
    y = b + 1
    y.name = "y"
    z = x * y
    z.name = "z"
    return w, b, x, y, z


def _z(w, b):
    """z at (w, b), a forward pass of the engine."""
    with zeroin.no_grad():
        return seed_graph(w, b)[-1].item()


def _grads(w, b):
    """z, dz/dw, dz/db at (w, b), the derivatives by backprop."""
    wt, bt, _, _, z = seed_graph(w, b)
    gw, gb = zeroin.grad(z, [wt, bt])
    return z.item(), gw.item(), gb.item()


# --- lesson 2 ----------------------------------------------------------------------------

@lesson
def chain_rule(out=None, *, w=W0, b=B0, verbose=None, figures=True, theme="light"):
    """z = x*y, x = 2w + b, y = b + 1: forward values, and dz/db, dz/dw by the chain rule."""
    finite("chain-rule", "w", w)
    finite("chain-rule", "b", b)
    w, b, x, y, z = seed_graph(w, b)
    res = LessonResult(
        "chain-rule", "Lesson 2 - chain-rule: z = x * y, x = 2w + b, y = b + 1",
        intro=("w and b are the variables; x and y are intermediate results; 2 and 1 are "
               "constants. The forward pass computes x, y and z; backpropagation walks back "
               "from z and multiplies the local derivatives along every path to an input, "
               "summing over the paths."))
    res.tables.append(Table(
        f"Forward pass at w = {w.item():g}, b = {b.item():g}",
        ["node", "formula", "value"],
        [["w", "variable", w.item()], ["b", "variable", b.item()],
         ["x", "2 * w + b", x.item()], ["y", "b + 1", y.item()], ["z", "x * y", z.item()]],
        ["", "", ".6g"]))
    # Local derivatives, each from the engine on its own small piece of the graph.
    dz_dx, dz_dy = (g.item() for g in zeroin.grad(z, [x, y], retain_graph=True))
    dx_dw, dx_db = (g.item() for g in zeroin.grad(x, [w, b], retain_graph=True))
    (dy_db,) = (g.item() for g in zeroin.grad(y, [b], retain_graph=True))
    dz_dw, dz_db = (g.item() for g in zeroin.grad(z, [w, b], retain_graph=True))
    res.tables.append(Table(
        "Local derivatives (each edge of the graph)",
        ["derivative", "rule", "value"],
        [["dz/dx", "d(x*y)/dx = y", dz_dx], ["dz/dy", "d(x*y)/dy = x", dz_dy],
         ["dx/dw", "d(2w + b)/dw = 2", dx_dw], ["dx/db", "d(2w + b)/db = 1", dx_db],
         ["dy/db", "d(b + 1)/db = 1", dy_db]], ["", "", ".6g"]))
    res.tables.append(Table(
        "Gradients of z (backprop: sum over paths of products of local derivatives)",
        ["input", "paths", "sum", "dz/d(input)"],
        [["b", "z<-x<-b, z<-y<-b", f"{dz_dx:g} * {dx_db:g} + {dz_dy:g} * {dy_db:g}", dz_db],
         ["w", "z<-x<-w", f"{dz_dx:g} * {dx_dw:g}", dz_dw]], ["", "", "", ".6g"]))
    res.values.update(w=w.item(), b=b.item(), x=x.item(), y=y.item(), z=z.item(),
                      dz_dx=dz_dx, dz_dy=dz_dy, dx_dw=dx_dw, dx_db=dx_db, dy_db=dy_db,
                      dz_dw=dz_dw, dz_db=dz_db)

    explain = _optional("explain")
    if explain is not None:
        eb, ew = explain(z, b), explain(z, w)
        res.texts["explain_b"] = str(eb)
        res.texts["explain_w"] = str(ew)
        res.values.update(explain_b_value=float(eb.value), explain_w_value=float(ew.value))
    else:
        # The same sums, spelled from the engine's numbers, until zeroin.explain exists.
        res.texts["explain_b"] = (f"dz/db = dz/dx * dx/db + dz/dy * dy/db = {dz_dx:g} * "
                                  f"{dx_db:g} + {dz_dy:g} * {dy_db:g} = {dz_db:g}")
        res.texts["explain_w"] = f"dz/dw = dz/dx * dx/dw = {dz_dx:g} * {dx_dw:g} = {dz_dw:g}"
    res.notes += [
        _two_paths(dz_db, dz_dw),
        "One backward pass gives the gradient of z with respect to every node at once: "
        "that is why backprop is cheap.",
    ]
    draw = _optional("draw")
    if figures and draw is not None:
        res.figures.update(_draw_graphs(draw, out, z, w, b, res.values, theme))
    elif figures:
        res.values["figures_skipped"] = "zeroin.draw is not available yet"
    return res


def _two_paths(dz_db, dz_dw):
    """What the two gradients say: b reaches z by two paths, w by one; whether that makes
    b's the bigger one depends on the point (at the chapter's w = 3, b = 4 it does)."""
    if abs(dz_db) > abs(dz_dw):
        cmp = (f"dz/db = {dz_db:g} > dz/dw = {dz_dw:g}" if dz_db > dz_dw >= 0 else
               f"|dz/db| = {abs(dz_db):g} > |dz/dw| = {abs(dz_dw):g}")
        return (f"{cmp}: b reaches z by two paths (through x and through y), so a step in "
                f"b moves z more than the same step in w.")
    same = abs(dz_db) == abs(dz_dw)
    return (f"dz/db = {dz_db:g} and dz/dw = {dz_dw:g}: b reaches z by two paths (through x "
            f"and through y), w by one, yet here a step in " +
            ("either moves z by as much" if same else "w moves z more") +
            ": the paths' products can cancel, so two paths need not mean a bigger "
            "derivative.")


def _optional(name):
    """zeroin.explain / zeroin.draw if that module exists (they are written separately)."""
    try:
        return getattr(zeroin, name)
    except (ImportError, AttributeError):
        return None


def _draw_graphs(draw, out, z, w, b, v, theme="light"):
    import os

    from ..viz import figures as F
    g = lambda k: format(v[k] + 0.0, "g")  # noqa: E731  (+ 0.0: -0.0 prints as 0)
    f = lambda k: f"({g(k)})" if v[k] < 0 else g(k)  # noqa: E731  a factor: (-2)*1
    specs = [
        ("structure",
         "The chapter's flow1, the graph's structure: variables w and b, constants, "
         "operations, results x, y, z."),
        ("values",
         f"Forward values at w = {g('w')}, b = {g('b')}: x = {g('x')}, y = {g('y')}, "
         f"z = {g('z')} (the chapter's flow2: "
         f"the forward pass)."),
        ("paths_b",
         f"Paths from z to b with local derivatives: dz/db = {f('dz_dx')}*{f('dx_db')} + "
         f"{f('dz_dy')}*{f('dy_db')} = {g('dz_db')} "
         f"(the chapter's flow3: backward to b)."),
        ("paths_w",
         f"The path from z to w with local derivatives: dz/dw = {f('dz_dx')}*{f('dx_dw')} = "
         f"{g('dz_dw')} (the chapter's flow4: backward to w)."),
    ]
    titles = {"structure": "The graph z = x * y, x = 2w + b, y = b + 1",
              "values": f"Forward pass at w = {g('w')}, b = {g('b')}",
              "paths_b": "Backward: the paths from z to b",
              "paths_w": "Backward: the path from z to w"}
    files, frames = {}, _graph_frames(draw, z, w, b, titles, theme)
    for stem, caption in specs:
        d = frames[stem]
        name = f"chain_rule_{stem}"
        if out is None:      # in memory: the SVG now, a PNG when saved
            files[name] = F.FigureFiles(None, None, caption, svg_data=d.svg().encode(),
                                        figure=d if F.available() else None)
            continue
        data = {"svg": d.svg().encode("utf-8"), "png": d.png() if F.available() else None}
        os.makedirs(out, exist_ok=True)
        paths = {ext: F.write_bytes(os.path.join(out, f"{name}.{ext}"), b)
                 for ext, b in data.items() if b is not None}
        files[name] = F.FigureFiles(paths.get("png"), paths["svg"], caption, data["png"],
                                    data["svg"])
    return files


def _graph_frames(draw, z, w, b, titles, theme):
    """The four pictures as one build-up (as :func:`zeroin.viz.backward_steps`): the graph
    is laid out once, for its fullest picture (the paths to b), and the structure, the
    values and the path to w show less on that layout, so that all four have one size and
    no node moves from one to the next."""
    import copy

    from ..viz.draw import _GRAD, _label_spots
    from ..viz.steps import _frame, _same_size
    base = draw(z, wrt=b, title=titles["paths_b"], theme=theme)
    to_w = draw(z, wrt=w, theme=theme)                 # its highlights and edge numbers

    def less(keep, values):     # base's nodes with only the lines ``keep`` says (the
        lean = draw(z, grads=False, values=values)     # rest blank), lean's tooltips
        tips = {n.key: n.tip for n in lean._nodes}
        edge_tips = {(e["src"], e["dst"]): e.get("tip") for e in lean._edges}
        nodes = []
        for n in base._nodes:
            m = copy.copy(n)
            m.hl, m.wrt, m.tip = False, False, tips[n.key]
            m.lines = [ln if j == 0 or keep(ln) else ("", ln[1], ln[2])
                       for j, ln in enumerate(n.lines)]
            nodes.append(m)
        edges = [dict(e, highlight=False, label="", tip=edge_tips[(e["src"], e["dst"])])
                 for e in base._edges]
        return nodes, edges
    frames = {"structure": _frame(base, *less(lambda ln: False, False), None),
              "values": _frame(base, *less(lambda ln: ln[2] != _GRAD, True), None),
              "paths_b": _frame(base, base._nodes, base._edges, base.caption),
              "paths_w": _frame(base, to_w._nodes, to_w._edges, to_w.caption)}
    boxes = [(x - n.w / 2, y - n.h / 2, x + n.w / 2, y + n.h / 2)
             for n in base._nodes for x, y in [base.pos[n.key]]]
    frames["paths_w"]._spots = _label_spots(to_w._edges, base.routes, boxes,
                                            base.rankdir == "TB")[0]
    for stem, d in frames.items():
        d.title = titles[stem]
    return dict(zip(frames, _same_size(list(frames.values()))))


# --- lesson 3 ----------------------------------------------------------------------------

@lesson
def sensitivity(out=None, *, nudge=NUDGE, verbose=None, figures=True, theme="light"):
    """Which input matters more? Nudge x and y by 0.1 and compare with dz/dx and dz/dy."""
    positive("sensitivity", "nudge", nudge)
    _, _, x0, y0, z0 = seed_graph()
    res = LessonResult(
        "sensitivity", "Lesson 3 - sensitivity: which input moves z more?",
        intro=(f"z = x * y = {x0.item():g} * {y0.item():g} = {z0.item():g}. x is the larger "
               f"factor, but which small change matters more? Nudge each input by {nudge:g} "
               f"and compare the change of z with the gradient, computed by backprop."))
    x = zeroin.tensor(x0.item(), requires_grad=True, name="x")
    y = zeroin.tensor(y0.item(), requires_grad=True, name="y")
    z = x * y
    gx, gy = (g.item() for g in zeroin.grad(z, [x, y]))
    with zeroin.no_grad():
        zx = ((x + nudge) * y).item()
        zy = (x * (y + nudge)).item()
    _, gw, gb = _grads(W0, B0)
    zw = _z(W0 + nudge, B0)
    zb = _z(W0, B0 + nudge)
    z0v = z0.item()
    rows = []
    for name, val, g, znew in (("x", x0.item(), gx, zx), ("y", y0.item(), gy, zy),
                               ("w", W0, gw, zw), ("b", B0, gb, zb)):
        dz = znew - z0v
        rows.append([name, val, f"{name} + {nudge:g}", znew, dz, g, g * nudge,
                     dz - g * nudge])
    res.tables.append(Table(
        f"Nudging one input by {nudge:g} (the others fixed)",
        ["input", "value", "nudge", "z after", "change of z", "dz/d(input)",
         f"gradient * {nudge:g}", "difference"], rows,
        ["", ".6g", "", ".6g", ".6g", ".6g", ".6g", ".6g"]))
    res.values.update(x=x0.item(), y=y0.item(), w=W0, b=B0)
    res.values.update(z=z0v, z_x_nudged=zx, z_y_nudged=zy, z_w_nudged=zw, z_b_nudged=zb,
                      dz_dx=gx, dz_dy=gy, dz_dw=gw, dz_db=gb, nudge=nudge,
                      b_second_order=zb - z0v - gb * nudge)
    bigger = "y" if zy > zx else "x"
    res.notes += [
        f"{zx:g} < {zy:g}: the small change of {bigger} moves z more, although x = "
        f"{x0.item():g} is bigger than y = {y0.item():g}. The gradient says so without "
        f"trying: dz/dx = y = {gx:g} < dz/dy = x = {gy:g}.",
        f"change of z = gradient * nudge exactly for x, y and w (z is linear in each of "
        f"them); for b it is off by {zb - z0v - gb * nudge:.2g}, the second-order term "
        f"(z is quadratic in b).",
        f"Among the variables, b matters more than w: dz/db = {gb:g} > dz/dw = {gw:g}.",
    ]
    if plots_ok(res, figures):
        res.figures["sensitivity"] = _draw_sensitivity(out, res, theme)
    return res


def _draw_sensitivity(out, res, theme="light"):
    from ..viz import figures as F
    names = ["x", "y", "w", "b"]
    values = [res.x, res.y, res.w, res.b]
    new_z = [res.z_x_nudged, res.z_y_nudged, res.z_w_nudged, res.z_b_nudged]
    grads = [res.dz_dx, res.dz_dy, res.dz_dw, res.dz_db]
    dz = [zn - res.z for zn in new_z]
    pred = [g * res.nudge for g in grads]
    with F.style(theme):
        fig, ax = F.subplots(figsize=(8.5, 5.4))
        i = np.arange(4)
        ax.bar(i - 0.2, dz, 0.4, color=F.COLORS["left"],
               label=f"measured: z(input + {res.nudge:g}) - z")
        ax.bar(i + 0.2, pred, 0.4, color=F.COLORS["tangent"],
               label=f"predicted: dz/d(input) * {res.nudge:g}")
        # Each bar is labelled with its own height; the new z is under the axis.
        for k in i:
            ax.text(k - 0.2, dz[k], f"{dz[k]:.4g}", ha="center", va="bottom", fontsize=_fs(10))
            ax.text(k + 0.2, pred[k], f"{grads[k]:g}*{res.nudge:g}\n= {pred[k]:.4g}",
                    ha="center", va="bottom", fontsize=_fs(9))
        ax.set_xticks(i, [f"{n}: {v:g} -> {v + res.nudge:g}\nz = {zn:.4g}"
                          for n, v, zn in zip(names, values, new_z)])
        ax.set_ylim(0, max(dz + pred) * 1.25)
        ax.set_ylabel(f"change of z (from z = {res.z:g})")
        ax.set_title(f"Nudging each input by {res.nudge:g}: the change of z")
        F.legend_below(fig, [ax])
        return F.save(fig, out, "sensitivity",
                      f"Each input nudged by {res.nudge:g}: the change of z it causes (blue) "
                      f"and the gradient's prediction (yellow); under each pair, the input's "
                      f"move and the new z.")


# --- lesson 4 ----------------------------------------------------------------------------

def _iterate(w, b, factors, split, recompute, tol, max_updates, target):
    """Move (w, b) until z = target. ``split`` is the share of dz given to (w, b); each
    share is divided by its factor dz/dw, dz/db (fixed, or recomputed by backprop)."""
    rows = []
    fw, fb = factors
    for k in range(max_updates + 1):
        z, gw, gb = _grads(w, b)
        dz = target - z
        if recompute:
            fw, fb = gw, gb
        rows.append([k, w, b, z, dz, fw if split[0] else None, fb if split[1] else None])
        if abs(dz) < tol or k == max_updates:
            break
        if split[0]:
            w = w + split[0] * dz / fw
        if split[1]:
            b = b + split[1] * dz / fb
    return rows


def _quadratic(f):
    """Coefficients (a, b, c) of a quadratic f(t) = a t^2 + b t + c, from three values."""
    c = f(0.0)
    p, m = f(1.0), f(-1.0)
    return (p + m) / 2 - c, (p - m) / 2, c


def _quadratic_root(f, near):
    """The root of the quadratic f nearest to ``near``."""
    a, bq, c = _quadratic(f)
    if a == 0:
        return -c / bq
    disc = math.sqrt(bq * bq - 4 * a * c)
    roots = [(-bq + disc) / (2 * a), (-bq - disc) / (2 * a)]
    return min(roots, key=lambda t: abs(t - near))


@lesson
def solve(out=None, *, target=TARGET, tol=TOL, verbose=None, figures=True, theme="light"):
    """Make z reach 60 by moving b (fixed and recomputed dz/db), then w and b together."""
    finite("solve", "target", target)
    positive("solve", "tol", tol)
    target = float(target)
    z0, gw0, gb0 = _grads(W0, B0)
    need(abs(target - z0) >= tol, f"solve: target {show(target)} is where z starts (b = "
                                  f"{B0:g}); pick another target")
    # The chapter's fixed factor multiplies b's error by 1 - (dz/db at the root) / (dz/db
    # at the start) each update: targets whose root keeps that within 0.8 in size settle
    # within the 100 updates (further out it crawls, or overshoots more and more).
    lo, hi = _z(W0, B0 - 0.8 * gb0 / 2), _z(W0, B0 + 0.8 * gb0 / 2)
    need(lo <= target <= hi, f"solve: target must be between {lo:g} and {hi:g} (where the "
                             f"chapter's fixed-factor steps settle), got {show(target)}")
    res = LessonResult(
        "solve", f"Lesson 4 - solve: make z reach {target:g} by backprop",
        intro=(f"z = (2w + b)(b + 1) = {z0:g} at w = {W0:g}, b = {B0:g}. To reach "
               f"{target:g}, move b by delta_b = dz / (dz/db), where dz = {target:g} - z is "
               f"the error. The chapter keeps dz/db = {gb0:g} fixed; the exact method "
               f"recomputes it by backprop after every step (Newton's method). Stop when "
               f"|dz| < {tol:g}."))
    _solve_runs(res, (gw0, gb0), tol, target)
    b_fixed = res.values["b_fixed_rows"]
    b_exact = res.values["b_exact_rows"]
    # The exact answer for b alone: z(b) - target is a quadratic in b; its coefficients
    # are read off the engine's forward pass, and its root is written in closed form.
    qa, qb, qc = _quadratic(lambda v: _z(W0, v) - target)
    disc = qb * qb - 4 * qa * qc
    closed = (-qb + math.sqrt(disc)) / (2 * qa)
    root = _quadratic_root(lambda t: _z(W0, B0 + t) - target, 0.0) + B0
    # For w and b with fixed factors every step has the same direction: the exact end is
    # where that straight line meets z = target.
    dw, db = 0.5 / gw0, 0.5 / gb0
    t_line = _quadratic_root(lambda t: _z(W0 + dw * t, B0 + db * t) - target,
                             target - z0)
    line_end = (W0 + dw * t_line, B0 + db * t_line)
    _, _, gb_root = _grads(W0, root)
    res.values.update(
        w0=W0, b0=B0, z0=z0, dz_dw0=gw0, dz_db0=gb0, target=target, tol=tol,
        final_b=b_fixed[-1][2], final_b_exact=b_exact[-1][2], b_root=root,
        b_root_closed=closed, quadratic=(qa, qb, qc), wb_line_end=line_end,
        dz_db_at_root=gb_root,
        b_fixed_ratio=_error_ratio(b_fixed, root),
        b_fixed_ratio_exact=1 - gb_root / gb0)
    res.tables.append(_ends_table(res, root, line_end))
    res.notes += [
        f"Exact root for b alone: (2w + b)(b + 1) = {target:g} at w = {W0:g} is "
        f"b^2 + {qb:g}b {'+' if qc >= 0 else '-'} {abs(qc):g} = 0, so b = (-{qb:g} + "
        f"sqrt({disc:g})) / 2 = {closed:.9f}; the chapter's iteration approaches the same "
        f"number.",
        f"The chapter's fixed factor needs {res.b_fixed_updates} updates (final b "
        f"{res.final_b:.6g}); each step multiplies the error by about "
        f"{res.b_fixed_ratio:.4f} (exact: 1 - (dz/db at the root) / {gb0:g} = 1 - "
        f"{gb_root:.4f} / {gb0:g} = {res.b_fixed_ratio_exact:.4f}; negative: it overshoots "
        f"and comes back).",
        f"Recomputing dz/db by backprop every step needs only {res.b_exact_updates} updates: "
        f"the error is squared at each step (Newton's method).",
        f"Moving w and b together, the error split evenly: many (w, b) give z = {target:g}, "
        f"so where you land depends on the path: ({res.wb_fixed_final[0]:.6g}, "
        f"{res.wb_fixed_final[1]:.6g}) with fixed factors, ({res.wb_exact_final[0]:.6g}, "
        f"{res.wb_exact_final[1]:.6g}) with recomputed ones.",
    ]
    same = all(abs(p[3] - q[3]) < 1e-9 for p, q in zip(b_fixed, res.wb_fixed_rows))
    if same and len(b_fixed) == len(res.wb_fixed_rows):
        la, lb, lc = _quadratic(lambda t: _z(W0 + dw * t, B0 + db * t))
        slope = "" if format(lb, "g") == "1" else format(lb, "g") + " "   # fitted: 1.0000001
        res.notes.append(f"With fixed factors, moving w and b together gives exactly the "
                         f"same z at every step as moving b alone: along both straight "
                         f"lines z = {lc:g} + {slope}t + t^2 / {1 / la:g}, where t is the "
                         f"planned change of z.")
    if plots_ok(res, figures):
        res.figures["solve"] = _draw_solve(out, res, theme)
    return res


_SOLVE_RUNS = {
    "b_fixed": ("b alone, dz/db fixed at the start (the chapter's method)", (0.0, 1.0), False),
    "b_exact": ("b alone, dz/db recomputed by backprop every step (exact method)",
                (0.0, 1.0), True),
    "wb_fixed": ("w and b together, error split evenly, factors fixed", (0.5, 0.5), False),
    "wb_exact": ("w and b together, error split evenly, factors recomputed", (0.5, 0.5),
                 True),
}


def _solve_runs(res, factors, tol, target):
    """The four ways to reach the target, each a table and its rows, updates and end."""
    cols = ["update", "w", "b", "z", f"dz = {target:g} - z", "dz/dw used", "dz/db used"]
    f6 = ["d", ".6g", ".6g", ".6g", ".6g", ".6g", ".6g"]
    for key, (title, split, recompute) in _SOLVE_RUNS.items():
        rows = _iterate(W0, B0, factors, split, recompute, tol, 100, target)
        res.tables.append(Table(title, cols, rows, f6))
        res.values[f"{key}_rows"] = rows
        res.values[f"{key}_updates"] = rows[-1][0]
        res.values[f"{key}_final"] = (rows[-1][1], rows[-1][2], rows[-1][3])


def _error_ratio(rows, root):
    """How much one update of b multiplies its error b - root: measured at the third
    update (at the last one, for a run that ends sooner)."""
    k = min(3, len(rows) - 1)
    before = rows[k - 1][2] - root
    return (rows[k][2] - root) / before if k >= 1 and before != 0 else float("nan")


def _ends_table(res, root, line_end):
    """Where each of the four methods of lesson 4 ends, against the exact answer."""
    b_fixed, b_exact = res.b_fixed_rows, res.b_exact_rows
    return Table(
        "Where each method ends",
        ["method", "updates", "w", "b", "z", "exact answer", "off by"],
        [["b, fixed dz/db", res.b_fixed_updates, b_fixed[-1][1], b_fixed[-1][2],
          b_fixed[-1][3], root, b_fixed[-1][2] - root],
         ["b, recomputed dz/db", res.b_exact_updates, b_exact[-1][1], b_exact[-1][2],
          b_exact[-1][3], root, b_exact[-1][2] - root],
         ["w and b, fixed", res.wb_fixed_updates, *res.wb_fixed_final, line_end[1],
          res.wb_fixed_final[1] - line_end[1]],
         ["w and b, recomputed", res.wb_exact_updates, *res.wb_exact_final,
          "no closed form", "-"]],
        ["", "d", ".6g", ".6g", ".6g", ".6g", ".6g"])


# How each method is drawn: colour, line, marker, filled; fixed factors are hollow and
# large, recomputed ones filled and small, so that coinciding points stay visible.
_SOLVE_STYLE = {
    "b_fixed": ("right", "-", "o", False, 11), "b_exact": ("left", "-", "s", True, 6),
    "wb_fixed": ("accent", "--", "D", False, 11), "wb_exact": ("correction", "--", "^", True, 6),
}
_SHIFT = 0.07   # on the error plot, w-and-b points are drawn this far right of b's


def _solve_line(ax, F, xs, ys, key, label):
    color, ls, marker, filled, ms = _SOLVE_STYLE[key]
    color = F.COLORS[color]
    ax.plot(xs, ys, ls=ls, marker=marker, ms=ms, color=color, lw=1.6 if filled else 2.4,
            mfc=color if filled else F.COLORS["paper"], mew=2, label=label,
            zorder=4 if filled else 3)


def _draw_solve(out, res, theme="light"):
    from ..viz import figures as F
    labels = {"b_fixed": f"b alone, fixed dz/db = {res.dz_db0:g} (the chapter)",
              "b_exact": "b alone, dz/db by backprop each step",
              "wb_fixed": "w and b, fixed factors",
              "wb_exact": "w and b, factors by backprop each step"}
    with F.style(theme):
        fig, (ax, ax2) = F.subplots(1, 2, figsize=(12, 5.8))
        for key, label in labels.items():
            rows = res.values[f"{key}_rows"]
            shift = _SHIFT if key.startswith("wb") else -_SHIFT
            _solve_line(ax, F, [r[0] + shift for r in rows],
                        [max(abs(r[4]), 1e-17) for r in rows], key, label)
        ax.set_yscale("log")
        ax.axhline(res.tol, color=F.COLORS["muted"], ls=":", label=f"tolerance {res.tol:g}")
        ax.set_xlabel(f"update (w-and-b points drawn {_SHIFT:g} to the right, where they "
                      f"would hide b's)", fontsize=_fs(10))
        ax.set_ylabel(f"|dz| = |{res.target:g} - z|")
        ax.set_title(f"How fast z reaches {res.target:g}")
        _solve_plane(ax2, F, res, labels)
        F.legend_below(fig, (ax, ax2), ncol=3)
        return F.save(fig, out, "solve",
                      f"Left: the error |{res.target:g} - z| per update for the four "
                      "methods (log scale); moving w and b with fixed factors gives exactly "
                      "the errors of moving b alone, so those points sit side by side. "
                      f"Right: each method's path in the (w, b) plane to the line "
                      f"z = {res.target:g}.")


def _solve_plane(ax2, F, res, labels):
    """The (w, b) plane: every point of the z = target line solves the problem; each method
    walks its own path to it. Contour labels sit at the right edge, away from the paths."""
    pts = np.array([r[1:3] for k in labels for r in res.values[f"{k}_rows"]])
    (w_lo, b_lo), (w_hi, b_hi) = pts.min(axis=0), pts.max(axis=0)
    pad = 0.2 * max(w_hi - w_lo, b_hi - b_lo, 0.1)
    ws = np.linspace(w_lo - pad, w_hi + 2.5 * pad, 81)
    bs = np.linspace(b_lo - pad, b_hi + pad, 91)
    W, B = np.meshgrid(ws, bs)
    with zeroin.no_grad():
        Z = seed_graph(W, B)[-1].numpy()
    d = (res.target - res.z0) / 2        # spaced as the way there (60: 50, 55 | 65, 70)
    levels = sorted({lv for lv in (res.z0, res.z0 + d, res.target + d, res.target + 2 * d)
                     if Z.min() < lv < Z.max() and lv != res.target})   # contour: increasing
    cs = ax2.contour(W, B, Z, levels=levels, colors=F.COLORS["muted"], linewidths=0.8)
    w_lab, b_lab, room = ws[-1] - 0.6 * pad, bs[0] + 0.25 * pad, 0
    if _fs(1) != 1:     # larger text (zeroin.viz.context): half a label more from the edges
        half = 3.6 * _fs(9) / 72 / (0.4 * ax2.figure.get_figwidth())    # of the axes' width
        room = half * (bs[-1] - bs[0])
        w_lab, b_lab = w_lab - half * (ws[-1] - ws[0]), b_lab + room
    spots = []
    for lv in cs.levels:      # at the right edge, or else along the bottom edge
        b = _b_on_level(w_lab, lv)
        spots.append((w_lab, b) if bs[0] + room < b < bs[-1] - room
                     else (_w_on_level(b_lab, lv), b_lab))
    spots = [(w, b) for w, b in spots if ws[0] < w < ws[-1] and bs[0] < b < bs[-1]]
    if spots:
        ax2.clabel(cs, fmt="z = %g", fontsize=_fs(9), manual=spots)
    ax2.contour(W, B, Z, levels=[res.target], colors=F.COLORS["error"], linewidths=2.5)
    ax2.plot([], [], color=F.COLORS["error"], lw=2.5, label=f"z = {res.target:g}")
    for key, label in labels.items():
        rows = res.values[f"{key}_rows"]
        _solve_line(ax2, F, [r[1] for r in rows], [r[2] for r in rows], key, label)
    ax2.set_xlabel("w")
    ax2.set_ylabel("b")
    ax2.set_title("The paths in the (w, b) plane")


def _b_on_level(w, level):
    """The b > -1 where z(w, b) = (2w + b)(b + 1) equals ``level``."""
    p = 2 * w + 1
    return (-p + math.sqrt(max(p * p - 4 * (2 * w - level), 0.0))) / 2


def _w_on_level(b, level):
    """The w where z(w, b) equals ``level``."""
    return (level / (b + 1) - b) / 2
