"""``zeroin tour``: the chapter end to end, as one self-contained HTML page.

Runs the lessons in order, then (when the training modules are there) a short
training run on real data, and writes ``out/index.html``: every table, number and figure
on one page, the figures embedded, so it reads offline and can be mailed as one file.
"""
from __future__ import annotations

import html
import os
import sys
import time

from .lessons._common import count
from .viz import figures as F
from .viz.contexts import size as _fs

__all__ = ["run_tour", "train_demo", "train_command_line"]

# A table scrolls sideways on a phone: its caption is a block of the page's width, so it
# wraps rather than running off with the table; on a narrow screen the contents are one column.
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;max-width:1180px;
margin:0 auto;padding:24px 28px 60px;color:#1d2433;line-height:1.5;background:#fff}
h1{font-size:2em;margin:.2em 0}h2{margin-top:2.2em;border-bottom:2px solid #e3e7ef;
padding-bottom:.2em}h3{margin:1.4em 0 .4em;font-size:1.05em}
.lead{font-size:1.08em;color:#3a4458}.toc{columns:2;column-gap:40px;background:#f5f7fb;
padding:12px 28px;border-radius:8px}.toc li{margin:2px 0;break-inside:avoid}
@media (max-width:640px){.toc{columns:1}}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em;display:block;
overflow-x:auto;max-width:100%}caption{text-align:left;font-weight:600;padding:4px 0;
color:#3a4458;display:block;position:sticky;left:0}th,td{padding:3px 10px;border-bottom:1px solid #e3e7ef;white-space:nowrap}
td.txt{white-space:normal;min-width:8em}
th{background:#f5f7fb;text-align:left}th.num{text-align:right}td.num{text-align:right;
font-variant-numeric:tabular-nums;font-family:ui-monospace,Menlo,Consolas,monospace}
pre{background:#f7f7f2;border-left:4px solid #e0a100;padding:10px 14px;overflow-x:auto;
font-size:.88em}ul.notes li{margin:.3em 0}
figure{margin:1em 0 1.6em;text-align:center}figure img{max-width:100%;height:auto;
border:1px solid #e3e7ef;border-radius:6px}figcaption{color:#55607a;font-size:.92em;
margin-top:.3em}.meta{color:#6b7488;font-size:.9em}.skip{color:#9a5b00}
details{margin:-.8em 0 1.2em}summary{cursor:pointer;color:#1f5fbf;font-size:.9em}
tr.gap td{text-align:center;color:#6b7488;font-style:italic}
"""
# theme="dark": the same page light on draw(theme="dark")'s slate (after _CSS, overriding)
_CSS_DARK = """
body{color:#e2e8f0;background:#0f172a}h2{border-bottom-color:#334155}
.lead,caption{color:#cbd5e1}.toc,th{background:#1e293b}a{color:#93c5fd}
th,td{border-bottom-color:#334155}pre{background:#1e293b;border-left-color:#facc15}
figure img{border-color:#334155}figcaption,.meta,tr.gap td{color:#94a3b8}
.skip{color:#fbbf24}summary{color:#93c5fd}
"""


def _esc(s):
    return html.escape(str(s))


def _training_html(training):
    from .lessons import figure_html
    parts = ['<section id="training"><h2>Training networks on real data</h2>']
    if training.get("skipped"):
        parts.append(f'<p class="skip">Training run skipped: {_esc(training["skipped"])}</p>')
        parts.append("</section>")
        return "\n".join(parts)
    for tr in training["runs"]:
        parts.append(f'<h3 id="training-{_esc(tr["dataset"])}">{_esc(tr["heading"])}</h3>')
        if tr.get("skipped"):
            parts.append(f'<p class="skip">Skipped: {_esc(tr["skipped"])}</p>')
            continue
        parts.append(f'<p class="lead">{_esc(tr["intro"])}</p>')
        parts.append(tr["summary"].html())
        parts.append(tr["table"].html())
        parts.append('<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>"
                                                    for n in tr["notes"]) + "</ul>")
        for key, files in tr["figures"].items():
            parts.append(figure_html(key, files))
        parts.append(f'<p class="meta">Train it yourself (the same run): '
                     f'<code>{_esc(tr["command"])}</code></p>')
    parts.append("</section>")
    return "\n".join(parts)


def _page(results, training, elapsed, theme="light"):
    from . import __version__
    toc = "".join(f'<li><a href="#{_esc(r.name)}">{_esc(r.title)}</a></li>' for r in results)
    toc += '<li><a href="#training">Training networks on real data</a></li>'
    body = "\n".join(r.html() for r in results)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zeroin tour: backpropagation and gradient descent</title>
<style>{_CSS}{_CSS_DARK if theme == "dark" else ""}</style></head>
<body>
<h1>Backpropagation and gradient descent, computed live</h1>
<p class="lead">The chapter on backpropagation and gradient descent, reproduced by zeroin:
Bob zeroing his rifle, the chain rule on z = x * y with x = 2w + b and y = b + 1, which input
matters more, solving for z = 60, gradient descent on y = (x - 1)^2 + 0.001, the learning
rate, the loss of a batch, and a convolution kernel sliding over an image. Every number on
this page was computed by zeroin's engine when the page was made (derivatives by
backpropagation), and every figure was drawn from those numbers.</p>
<p>{_esc(_FIGURE_NAMES)}</p>
<ol class="toc">{toc}</ol>
{body}
{_training_html(training)}
<p class="meta">Made by <code>zeroin tour</code> (zeroin {_esc(__version__)}) in
{elapsed:.1f} s. This page is self-contained: the figures are embedded, nothing is loaded
from the network.</p>
</body></html>
"""


_FIGURE_NAMES = (
    "The chapter's figures have short names, and the captions below say which is which: "
    "target1 and target2 are Bob's target with single shots and with bursts of three; "
    "flow1 to flow4 are the computational graph of z = x * y, x = 2w + b, y = b + 1, drawn "
    "four times: flow1 its structure (variables, constants, operations), flow2 the forward "
    "pass with every node's value, flow3 the backward pass along the two paths from z to b, "
    "flow4 the one path from z to w, each edge labelled with its local derivative; grad1 "
    "is gradient descent on the curve y = (x - 1)^2 + 0.001, step by step from both sides "
    "of the minimum, and grad2 the first step close up: the tangent that sets its "
    "direction, the step of length eta times the slope, and the chord to the new point. "
    "Each lesson's figures are also written to its own folder as PNG and SVG.")

_DEMOS = {
    # dataset: (heading, what it is, the recipe's settings the tour overrides)
    "moons": ("Two moons: a boundary no straight line can draw",
              "a small multi-layer perceptron learns to separate two interleaved "
              "half-moons", {"hidden": (16, 16), "epochs": 40}),
    "digits": ("Handwritten digits: 8x8 images, ten classes",
               "a multi-layer perceptron learns to read 8x8 scans of handwritten digits "
               "(scikit-learn's bundled copy of the UCI digits)", {}),
}


def train_demo(out="zeroin-out", *, dataset="moons", epochs=None, seed=0, figures=True,
               theme="light"):
    """A small MLP trained on ``dataset`` (``moons`` or ``digits``); a dict for the page
    (its figure in ``theme``'s colours: "light", or "dark" for dark slides).

    The run is :func:`zeroin.recipes.train_mlp` with the dataset's recipe (for digits the
    one ``zeroin train digits`` uses), so the page shows what the command line gives.
    Raises ImportError when the training modules (or, for digits, scikit-learn) are
    missing.
    """
    import numpy as np

    from zeroin.recipes import recipe_for, train_mlp
    from zeroin.train import predict

    F.check_theme("train_demo", theme)
    heading, what, overrides = _DEMOS[dataset]
    settings = {**recipe_for(dataset), **overrides}
    if epochs is not None:
        settings["epochs"] = epochs
    t0 = time.perf_counter()
    with _one_blas_thread():
        model, hist, splits, test = train_mlp(
            dataset, hidden=settings["hidden"], lr=settings["lr"],
            batch_size=settings["batch_size"], epochs=settings["epochs"],
            schedule=settings["schedule"], seed=seed)
    if splits.task not in ("binary", "multiclass"):
        raise ValueError(f"tour: the training demo needs a classification dataset, "
                         f"got {dataset!r} ({splits.task})")
    seconds = time.perf_counter() - t0
    result = _demo_result(dataset, heading, what, settings, model, hist, splits, test,
                          seconds)
    result["command"] = train_command_line(dataset, settings, seed)
    if figures and F.available():
        result["figures"][f"training_{dataset}"] = _draw_training(
            out, hist, splits, model, predict, test, np, dataset, theme)
    return result


def train_command_line(dataset, settings, seed=0):
    """The ``zeroin train`` command that trains what ``settings`` describe: the dataset's
    recipe, with a flag for each setting that differs from it."""
    from zeroin.recipes import recipe_for
    recipe = recipe_for(dataset)
    words = ["zeroin", "train", dataset]
    for key in ("hidden", "lr", "batch_size", "epochs", "schedule"):
        value, default = settings[key], recipe[key]
        if key == "hidden":
            value, default = list(value), list(default)
        if value != default:
            text = ",".join(map(str, value)) if key == "hidden" else format(value, "g") \
                if isinstance(value, float) else str(value)
            words += [f"--{key.replace('_', '-')}", text]
    if seed != 0:
        words += ["--seed", str(seed)]
    return " ".join(words)


def _one_blas_thread():
    """One BLAS thread for the demo's small layers, where a second thread only waits and
    spins: the digits recipe for 8 epochs took 2.9 s at one thread against 8.7 s at two on
    a busy 2-core machine. Needs threadpoolctl (it comes with scikit-learn); else a no-op."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _demo_result(dataset, heading, what, settings, model, hist, splits, test, seconds):
    """The tables and notes of one training run, for the page."""
    from zeroin.lessons import Table

    h = hist.history
    every = max(1, len(hist.epoch) // 10)
    rows = [[e, h["loss"][i], h["accuracy"][i], h["val_loss"][i], h["val_accuracy"][i]]
            for i, e in enumerate(hist.epoch) if i % every == 0 or i == len(hist.epoch) - 1]
    table = Table(f"Training {dataset}, every {every} epoch{'s' if every > 1 else ''}",
                  ["epoch", "loss", "accuracy", "val loss", "val accuracy"], rows,
                  ["d", ".4f", ".4f", ".4f", ".4f"])
    n_params = int(sum(p.numel() for p in model.parameters()))
    sizes = [splits.in_features, *settings["hidden"], splits.out_features]
    arch = "MLP " + "-".join(str(n) for n in sizes)
    sched = "" if settings["schedule"] == "none" else f", {settings['schedule']} schedule"
    opt = f"Adam lr={settings['lr']:g}{sched}"
    n_train = f"{len(splits.train)}" + (" (with shifted copies)"
                                         if splits.info.get("augment", "none") != "none"
                                         else "")
    summary = Table(f"Result on {dataset}",
                    ["dataset", "train / val / test", "model", "parameters", "optimizer",
                     "epochs", "test loss", "test accuracy", "seconds"],
                    [[dataset, f"{n_train} / {len(splits.val)} / {len(splits.test)}",
                      arch, n_params, opt, hist.epochs_run, test["loss"],
                      test["accuracy"], seconds]],
                    ["", "", "", "d", "", "d", ".4f", ".4f", ".4f"])
    notes = [f"Test accuracy {test['accuracy']:.3f} on {len(splits.test)} held-out "
             f"{'images' if dataset == 'digits' else 'points'} after {hist.epochs_run} "
             f"epochs ({seconds:.1f} s): the lessons' loop, forward, loss, backward, a step "
             f"against the gradient, repeated."]
    if hist.stopped_reason not in (None, "epochs") and hist.message:
        notes.append(hist.message)
    same = (f" It is the recipe of 'zeroin train {dataset}'."
            if dataset == "digits" else "")
    return {"dataset": dataset, "heading": heading,
            "intro": (f"The lessons' loop at work: {what}, trained with mini-batches of "
                      f"{settings['batch_size']} and {opt}. The gradients of all {n_params} "
                      f"weights come from the same backward pass as in the lessons.{same}"),
            "table": table, "summary": summary, "notes": notes, "figures": {},
            "test_accuracy": float(test["accuracy"]), "test_loss": float(test["loss"]),
            "epochs": hist.epochs_run, "history": h, "seconds": seconds}


def _draw_training(out, hist, splits, model, predict, test, np, dataset, theme="light"):
    with F.style(theme):
        fig, (ax, ax2) = F.subplots(1, 2, figsize=(12.5, 5.8))
        from .viz.curves import plot_history
        h = hist.history
        plot_history(ax, hist, ["loss", "val_loss"], best=False, legend=False, grid=False,
                     colors=[F.COLORS["left"], F.COLORS["right"]])
        axb = ax.twinx()
        plot_history(axb, hist, ["val_accuracy"], colors=[F.COLORS["correction"]],
                     legend=False, grid=False)
        axb.set_ylim(min(0.5, min(h["val_accuracy"])), 1.01)
        axb.grid(False)
        axb.spines["right"].set_visible(True)
        ax.set_title("Learning curves")
        Xt, yt = _arrays(splits.test)
        if splits.in_features == 2:
            _boundary(ax2, splits, model, predict, Xt, yt, np)
            ax2.set_title(f"Decision boundary, test accuracy {test['accuracy']:.3f}")
            caption = "the learned boundary and the held-out test points"
        else:
            _digit_grid(fig, ax2, splits, model, predict, Xt, yt, np,
                        f"Test images and predictions (accuracy {test['accuracy']:.3f})",
                        theme=theme)
            caption = "held-out test images with the predicted digit (red: wrong)"
        F.legend_below(fig, (ax, axb, ax2), ncol=5)
        return F.save(fig, out, f"training_{dataset}",
                      f"{dataset}: loss and validation accuracy per epoch (left); {caption} "
                      f"(right).")


def _boundary(ax2, splits, model, predict, Xt, yt, np):
    X, _ = _arrays(splits.train)
    lo, hi = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 150), np.linspace(lo[1], hi[1], 150))
    score = predict(model, np.stack([gx.ravel(), gy.ravel()], axis=1))
    score = score[:, 0] if score.shape[1] == 1 else score[:, 1] - score[:, 0]
    ax2.contourf(gx, gy, (score > 0).reshape(gx.shape), levels=[-0.5, 0.5, 1.5],
                 colors=F.COLORS["regions"], alpha=0.9)
    ax2.contour(gx, gy, score.reshape(gx.shape), levels=[0], colors=F.COLORS["ink"],
                linewidths=1.2)
    labels = yt.reshape(len(yt), -1)[:, 0] if yt.ndim > 1 else yt
    for cls, color in ((0, F.COLORS["left"]), (1, F.COLORS["right"])):
        m = labels == cls
        ax2.plot(Xt[m, 0], Xt[m, 1], "o", color=color, ms=5, mec=F.COLORS["paper"], mew=0.5,
                 label=f"class {cls} (test)")
    ax2.set_xlabel("x1 (first input)")
    ax2.set_ylabel("x2 (second input)")
    ax2.grid(False)


def _digit_grid(fig, ax2, splits, model, predict, Xt, yt, np, title, rows=4, cols=6,
                theme="light"):
    """The first test images, a few mistakes first, each titled with the predicted digit;
    fewer columns, and the head on more lines, where zeroin.viz.context enlarges text."""
    big = _fs(1) != 1
    if big:
        rows, cols = max(2, int(rows / _fs(1))), max(3, int(cols / _fs(1)))
    pred = predict(model, Xt).argmax(axis=1)
    wrong = np.nonzero(pred != yt)[0]
    right = np.nonzero(pred == yt)[0]
    n = rows * cols
    show = np.concatenate([wrong[: n // 4], right])[:n]
    raw = splits.standardizer.inverse_transform(Xt[show]) if splits.standardizer else Xt[show]
    side = int(round(np.sqrt(raw.shape[1])))
    ax2.axis("off")
    # a narrow empty column on the right: a title wider than its image ("6 (is 8)") in the
    # last column would otherwise be cut off at the figure's edge
    gs = ax2.get_subplotspec().subgridspec(rows + 1, cols + 1, wspace=0.15, hspace=0.45,
                                           height_ratios=[0.7 if big else 0.5] + [1] * rows,
                                           width_ratios=[1] * cols + [0.35])
    head = fig.add_subplot(gs[0, :cols])
    head.axis("off")
    note = "above each image: the prediction (is the true label); red: wrong"
    if big:                     # the title above the head row, the note in it, both in layout
        head.set_title(title, fontsize=_fs(14), fontweight="bold")
        head.text(0.5, 0.5, note.replace(" (", "\n("), ha="center", va="center",
                  fontsize=_fs(11), color=F.COLORS["muted"])
    else:
        head.text(0.5, 0.75, title, ha="center", va="center", fontsize=_fs(14),
                  fontweight="bold")
        head.text(0.5, 0.05, note, ha="center", va="center", fontsize=_fs(11),
                  color=F.COLORS["muted"])
    for k, idx in enumerate(show):
        a = fig.add_subplot(gs[1 + k // cols, k % cols])
        F.show_image(a, raw[k].reshape(side, side), theme)
        ok = pred[idx] == yt[idx]
        t = a.set_title(f"{pred[idx]}" + ("" if ok else f" (is {yt[idx]})"),
                        fontsize=_fs(10), color=F.COLORS["curve"] if ok else F.COLORS["error"],
                        pad=2)
        if big:           # wider than its image: the layout must not shrink the images for it
            t.set_in_layout(False)
        a.set_xticks([])
        a.set_yticks([])
        a.grid(False)
        for sp in a.spines.values():
            sp.set_visible(not ok)
            sp.set_color(F.COLORS["error"])


def _arrays(ds):
    """(X, y) NumPy arrays of a TensorDataset-like dataset."""
    import numpy as np
    x, y = ds[np.arange(len(ds))][:2]
    return np.asarray(getattr(x, "data", x)), np.asarray(getattr(y, "data", y))


def run_tour(out="zeroin-out", train=True, *, verbose=True, theme="light"):
    """Run every lesson, then short training runs (moons, digits); write ``out/index.html``.

    Returns the path of the page. Each lesson's figures (PNG and SVG) are also written
    to the lesson's own folder, ``out/<lesson>/`` (the training runs' to
    ``out/train-<dataset>/``). ``train=False`` skips the training runs (``zeroin tour --no-train``).
    ``theme="dark"`` (``zeroin tour --theme dark``) draws every figure light on slate and
    gives the page a dark background, for dark slides.
    """
    from . import lessons

    F.check_theme("tour", theme)
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    say = print if verbose else (lambda *a, **k: None)
    say(f"zeroin tour: {len(lessons.LESSONS)} lessons"
        f"{f' and {len(_DEMOS)} training runs' if train else ''} -> {out}")
    results = []
    for i, (name, fn) in enumerate(lessons.LESSONS.items(), 1):
        t = time.perf_counter()
        r = fn(out=os.path.join(out, name), verbose=False, theme=theme)
        results.append(r)
        say(f"  {i}. {name:<14} {count(len(r.tables), 'table')}, "
            f"{count(len(r.figures), 'figure')} ({time.perf_counter() - t:.1f} s)  "
            f"{_headline(r)}", flush=True)
    if train:
        training = {"runs": []}
        for k, dataset in enumerate(_DEMOS, len(results) + 1):
            t = time.perf_counter()
            try:
                tr = train_demo(os.path.join(out, f"train-{dataset}"), dataset=dataset,
                                theme=theme)
                say(f"  {k}. train {dataset:<8} test accuracy {tr['test_accuracy']:.3f} "
                    f"after {tr['epochs']} epochs ({time.perf_counter() - t:.1f} s)",
                    flush=True)
            except ImportError as e:
                tr = {"dataset": dataset, "heading": _DEMOS[dataset][0],
                      "skipped": f"a module it needs is not installed ({e})"}
                say(f"  {k}. train {dataset:<8} skipped: {tr['skipped']}")
            except Exception as e:  # the page is still worth writing; say what went wrong
                tr = {"dataset": dataset, "heading": _DEMOS[dataset][0],
                      "skipped": f"the training run failed: {type(e).__name__}: {e}"}
                print(f"zeroin tour: {dataset}: {tr['skipped']}", file=sys.stderr)
            training["runs"].append(tr)
    else:
        training = {"skipped": "not requested (zeroin tour --no-train)"}
    path = os.path.join(out, "index.html")
    F.write_text(path, _page(results, training, time.perf_counter() - t0, theme))
    n_fig = sum(len(r.figures) for r in results) + sum(
        len(tr.get("figures", {})) for tr in training.get("runs", []))
    say(f"Wrote {path} ({n_fig} figures embedded, {os.path.getsize(path) // 1024} KiB, "
        f"{time.perf_counter() - t0:.1f} s). Open it in a browser: "
        f"file://{os.path.abspath(path)}")
    return path


def _headline(r):
    v = r.values
    if r.name == "shooting":
        return (f"error {v['single_errors'][0]:.2f} -> {v['single_errors'][-1]:.2f} cm; "
                f"bursts {v['noise_ratio']:.2f}x steadier")
    if r.name == "chain-rule":
        return f"z = {v['z']:g}, dz/db = {v['dz_db']:g}, dz/dw = {v['dz_dw']:g}"
    if r.name == "sensitivity":
        return (f"x+{v['nudge']:g}: z = {v['z_x_nudged']:g}; "
                f"y+{v['nudge']:g}: z = {v['z_y_nudged']:g}")
    if r.name == "solve":
        return (f"b = {v['final_b']:.6g} in {v['b_fixed_updates']} updates "
                f"(backprop each step: {v['b_exact_updates']})")
    if r.name == "descent":
        return f"x = {v['x_final']:.6g} after {count(v['steps'], 'step')}"
    if r.name == "learning-rate":
        return ", ".join(f"{e:g}: {k}" for e, k in v["kinds"].items())
    if r.name == "loss":
        return f"MSE {v['mse']:.3f}, gradient noise /{v['spread_one'] / v['spread_mse']:.2f}"
    if r.name == "convolution":
        return (f"autograd = formulas (max diff {max(v['max_diff_w'], v['max_diff_x']):.1g}); "
                f"digits CNN {v['cnn_test_accuracy']:.1%}")
    return ""
