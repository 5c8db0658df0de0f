"""Lessons 1 and 7: Bob zeroes a rifle whose sight is off (single shots, bursts, the loss).

The model: Bob aims at ``aim`` (cm, relative to the bullseye); the bad sight shifts every
shot by ``SIGHT_OFFSET``; each shot also scatters with Gaussian noise of ``NOISE`` cm. A hit
lands at ``aim + offset + noise``; its error is the distance to the bullseye (the chapter's
red line). Bob does not know the offset: he only sees where the shots land, and moves his
aim against the gradient of the squared error (the green correction arrow).
"""
from __future__ import annotations

import math

import numpy as np

import zeroin
from ._common import LessonResult, Table, count, lesson, plots_ok, whole
from ..viz.contexts import size as _fs

SIGHT_OFFSET = (-4.0, 1.5)   # cm: the sight sends shots left and a little high
NOISE = 0.4                  # cm: scatter of one shot
ETA = 0.3                    # learning rate on the squared error
SHOTS = 5                    # the chapter's five single shots
BURST = 3                    # the chapter's bursts of three


def _range(seed):
    return np.random.default_rng(seed)


def _step(aim, offset, noise, eta):
    """One round: fire len(noise) shots at ``aim``; loss = mean squared error; backprop.

    ``aim`` has shape (..., 2); ``noise`` (..., k, 2). Returns hits, errors, loss, gradient
    and correction as arrays, the gradient computed by the engine. With a leading batch of
    independent runs the total loss is the sum of the runs' losses, so one backward gives
    every run its own gradient.
    """
    a = zeroin.tensor(aim, requires_grad=True, name="aim")
    hits = a.unsqueeze(-2) + zeroin.tensor(np.asarray(offset) + noise, name="offset+noise")
    sq = (hits * hits).sum(axis=-1)               # squared error of each shot
    loss = sq.mean(axis=-1)                       # mean over the shots of this round
    loss.sum().backward()
    grad = a.grad.numpy().copy()
    return {"hits": hits.numpy().copy(), "errors": np.sqrt(sq.numpy()),
            "loss": loss.numpy().copy(), "grad": grad, "correction": -eta * grad}


def _train(aim0, offset, noise_rounds, eta):
    """Rounds of shooting and correcting; noise_rounds has shape (rounds, ..., k, 2)."""
    aim = np.array(aim0, dtype=float)
    log = []
    for noise in noise_rounds:
        r = _step(aim, offset, noise, eta)
        r["aim"] = aim.copy()
        log.append(r)
        aim = aim + r["correction"]
    return log, aim


def _rms_theory(offset, sigma, eta, batch, rounds):
    """Exact root-mean-square aim error E|aim + offset|^2 after each round.

    The aim error d obeys d' = (1 - 2 eta) d - 2 eta * mean(noise), so
    E|d_k|^2 = c^(2k) |d_0|^2 + 2 (2 eta sigma)^2 / batch * (1 - c^(2k)) / (1 - c^2).
    """
    c = 1 - 2 * eta
    d0 = float(np.sum(np.square(offset)))
    noise = _rms_limit(sigma, eta, batch) ** 2
    return [math.sqrt(c ** (2 * k) * d0 + noise * (1 - c ** (2 * k)))
            for k in range(rounds + 1)]


def _rms_limit(sigma, eta, batch):
    """The RMS aim error once settled, the noise alone: 2 (2 eta sigma)^2 / batch / (1 - c^2)
    under the square root (the limit of :func:`_rms_theory`)."""
    c = 1 - 2 * eta
    return math.sqrt(2 * (2 * eta * sigma) ** 2 / batch / (1 - c * c))


@lesson
def shooting(out=None, *, seed=1, runs=400, rounds=8, verbose=None, figures=True,
             theme="light"):
    """Bob zeroes his rifle: single shots, bursts of three, SGD against mini-batches."""
    whole("shooting", "seed", seed, least=0)
    whole("shooting", "runs", runs)
    whole("shooting", "rounds", rounds)
    rng = _range(seed)
    offset = np.array(SIGHT_OFFSET)
    res = LessonResult(
        "shooting", "Lesson 1 - shooting: zeroing a rifle by gradient steps",
        intro=(f"Bob's sight is off: every shot lands {offset[0]:+g} cm, {offset[1]:+g} cm "
               f"away from where he aims, plus a scatter of {NOISE:g} cm. He aims at the "
               f"bullseye, looks at the hit, and moves his aim against the gradient of the "
               f"squared error (eta = {ETA:g}). Error = distance from the bullseye (red); "
               f"correction = -eta * gradient (green). Seed {seed}."))

    _single_shots(res, rng, offset, seed)
    _bursts(res, rng, offset)
    final, settle = _sgd_vs_batch(res, rng, offset, runs, rounds)
    errors = res.single_errors
    res.notes += [
        f"{len(errors)} single shots: the error falls from {errors[0]:.2f} cm to "
        f"{errors[-1]:.2f} cm; "
        f"what is left is the shot's own scatter, which no aiming removes.",
        f"Each correction is -eta * gradient = -{2 * ETA:g} * the miss: Bob moves his aim "
        f"against the error, by an amount proportional to it.",
        _noise_note(res, settle, rounds),
        f"After the last correction ({rounds}), where the figure shows the aims: "
        f"{res.rms_sgd[-1]:.3f} cm for single shots, {res.rms_batch[-1]:.3f} cm for "
        f"bursts (RMS over the {runs} runs).",
    ]
    if plots_ok(res, figures):
        res.figures["target1"] = _draw_single(out, res, theme)
        res.figures["target2"] = _draw_bursts(out, res, theme)
        res.figures["smoothing"] = _draw_smoothing(out, res, final, theme)
    return res


def _rounds(first, last):
    """``round 1`` or ``rounds 4-8``."""
    return f"round {first}" if first == last else f"rounds {first}-{last}"


def _noise_note(res, settle, rounds):
    """Single shots against bursts once the aims have settled; or, when too few rounds
    leave the sight's offset still larger than the noise, that they have not settled."""
    sgd, mb = res.settled_rms_sgd, res.settled_rms_batch
    if res.settled:
        return (f"Once settled ({_rounds(settle, rounds)}), single shots leave the aim "
                f"{sgd:.3f} cm off on average, bursts of {BURST} only {mb:.3f} cm: "
                f"averaging {BURST} shots divides the gradient's noise by sqrt({BURST}) = "
                f"{math.sqrt(BURST):.3f} (measured ratio {sgd / mb:.3f}). That is why "
                f"training uses mini-batches rather than single samples.")
    return (f"Not settled after {count(rounds, 'correction')}: in {_rounds(settle, rounds)} "
            f"the aim is still {sgd:.3f} cm off on average for single shots and {mb:.3f} cm "
            f"for bursts of {BURST}, more than the noise alone leaves once settled "
            f"({res.rms_limit_sgd:.3f} cm and {res.rms_limit_batch:.3f} cm, sqrt({BURST}) = "
            f"{math.sqrt(BURST):.3f} times apart): part of the sight's "
            f"{math.hypot(*res.offset):.2f} cm offset is not corrected yet. More rounds "
            f"(rounds=8, the default) show the noise alone.")


def _single_shots(res, rng, offset, seed):
    """Five single shots, one correction after each (the chapter's target1)."""
    single_noise = rng.normal(0.0, NOISE, size=(SHOTS, 1, 2))
    single, aim_after = _train([0.0, 0.0], offset, single_noise, ETA)
    rows = []
    for k, r in enumerate(single, 1):
        h, g, c = r["hits"][0], r["grad"], r["correction"]
        rows.append([k, r["aim"][0], r["aim"][1], h[0], h[1], float(r["errors"][0]),
                     g[0], g[1], c[0], c[1]])
    res.tables.append(Table(
        "Single shots: aim, hit, error, gradient of the squared error, correction (cm)",
        ["shot", "aim x", "aim y", "hit x", "hit y", "error", "dL/daim x", "dL/daim y",
         "corr x", "corr y"], rows, ["d"] + [".3f"] * 9))
    errors = [float(r["errors"][0]) for r in single]
    res.values.update(single_errors=errors, single_hits=[r["hits"][0].tolist() for r in single],
                      single_aims=[r["aim"].tolist() for r in single],
                      single_grads=[r["grad"].tolist() for r in single],
                      single_corrections=[r["correction"].tolist() for r in single],
                      aim_after_single=aim_after.tolist(), offset=offset.tolist(),
                      noise=NOISE, eta=ETA, seed=seed)


def _bursts(res, rng, offset):
    """Five bursts of three, one correction per burst (the chapter's target2)."""
    burst_noise = rng.normal(0.0, NOISE, size=(SHOTS, BURST, 2))
    bursts, aim_after_b = _train([0.0, 0.0], offset, burst_noise, ETA)
    rows = []
    for k, r in enumerate(bursts, 1):
        mean_hit = r["hits"].mean(axis=0)
        rows.append([k, r["aim"][0], r["aim"][1], mean_hit[0], mean_hit[1],
                     float(r["errors"].mean()), float(r["loss"]), r["grad"][0], r["grad"][1],
                     r["correction"][0], r["correction"][1]])
    res.tables.append(Table(
        f"Bursts of {BURST}: loss = mean squared error of the burst (mean error = the "
        f"chapter's sum of misses / {BURST})",
        ["burst", "aim x", "aim y", "mean hit x", "mean hit y", "mean error", "loss (MSE)",
         "dL/daim x", "dL/daim y", "corr x", "corr y"], rows, ["d"] + [".3f"] * 10))
    res.values.update(
        burst_hits=[r["hits"].tolist() for r in bursts],
        burst_mean_errors=[float(r["errors"].mean()) for r in bursts],
        burst_losses=[float(r["loss"]) for r in bursts],
        burst_grads=[r["grad"].tolist() for r in bursts],
        burst_aims=[r["aim"].tolist() for r in bursts], aim_after_bursts=aim_after_b.tolist())


def _sgd_vs_batch(res, rng, offset, runs, rounds):
    """Many seeded runs of single shots (SGD) against bursts (mini-batches); returns where
    the aims end and the round from which they count as settled."""
    rms = {}
    final = {}
    for batch in (1, BURST):
        noise = rng.normal(0.0, NOISE, size=(rounds, runs, batch, 2))
        log, aim_end = _train(np.zeros((runs, 2)), offset, noise, ETA)
        aims = [r["aim"] for r in log] + [aim_end]
        rms[batch] = [float(np.sqrt(np.mean(np.sum((a + offset) ** 2, axis=-1))))
                      for a in aims]
        final[batch] = aim_end + offset
    theory = {b: _rms_theory(offset, NOISE, ETA, b, rounds) for b in (1, BURST)}
    rows = [[k, rms[1][k], theory[1][k], rms[BURST][k], theory[BURST][k]]
            for k in range(rounds + 1)]
    res.tables.append(Table(
        f"Aim error |aim + offset| (RMS over {runs} seeded runs) after each correction: "
        f"single shots (SGD) vs bursts of {BURST} (mini-batch)",
        ["round", "SGD measured", "SGD exact", f"batch {BURST} measured",
         f"batch {BURST} exact"], rows, ["d", ".3f", ".3f", ".3f", ".3f"]))
    # Settled from the first round of the second half (never round 0, the start) at which
    # what is left of the offset adds at most 25% to the noise's own RMS (exactly).
    limit = {b: _rms_limit(NOISE, ETA, b) for b in (1, BURST)}
    first = max(1, rounds // 2)
    settle = next((k for k in range(first, rounds + 1)
                   if all(theory[b][k] <= 1.25 * limit[b] for b in (1, BURST))), None)
    settled = settle is not None
    settle = settle if settled else first
    sgd_tail = float(np.sqrt(np.mean(np.square(rms[1][settle:]))))
    mb_tail = float(np.sqrt(np.mean(np.square(rms[BURST][settle:]))))
    res.values.update(rms_sgd=rms[1], rms_batch=rms[BURST], rms_sgd_exact=theory[1],
                      rms_batch_exact=theory[BURST], runs=runs, rounds=rounds,
                      settled_rms_sgd=sgd_tail, settled_rms_batch=mb_tail,
                      noise_ratio=sgd_tail / mb_tail, settle_round=settle, settled=settled,
                      rms_limit_sgd=limit[1], rms_limit_batch=limit[BURST])
    return final, settle


# --- figures -----------------------------------------------------------------------------

def _target(ax, radius=5.5, bullseye=True):
    """Bob's target (rings in the theme's colours: inside :func:`figures.style`)."""
    from matplotlib.patches import Circle

    from ..viz.figures import COLORS
    for r in range(int(math.ceil(radius)), 0, -1):
        ax.add_patch(Circle((0, 0), r, facecolor=COLORS["ring"] if r % 2 else COLORS["paper"],
                            edgecolor=COLORS["ring_line"], linewidth=0.8, zorder=0))
    if bullseye:
        ax.add_patch(Circle((0, 0), 0.25, facecolor=COLORS["bullseye"], zorder=1))
    else:
        ax.plot([0], [0], "+", color=COLORS["ink"], ms=14, mew=2, zorder=6)
    ax.set_aspect("equal")
    ax.set_xlim(-radius - 0.5, radius + 0.5)
    ax.set_ylim(-radius - 0.5, radius + 0.5)
    ax.grid(False)
    ax.set_xlabel("cm")
    ax.set_ylabel("cm")


def _arrow(ax, start, delta, color, width=2.0, side=0.0):
    """An arrow from ``start`` by ``delta``, shifted ``side`` cm to its left (so that it
    can run beside a line along the same direction)."""
    n = math.hypot(delta[0], delta[1]) or 1.0
    sx, sy = -delta[1] / n * side, delta[0] / n * side
    start = (start[0] + sx, start[1] + sy)
    ax.annotate("", xy=(start[0] + delta[0], start[1] + delta[1]), xytext=tuple(start),
                arrowprops=dict(arrowstyle="-|>", color=color, lw=width,
                                shrinkA=0, shrinkB=0, mutation_scale=16), zorder=4)


def _draw_single(out, res, theme="light"):
    from ..viz import figures as F
    with F.style(theme):
        fig, ax = F.subplots(figsize=(6.5, 7.1))
        _target(ax)
        hits = np.array(res.single_hits)
        for k, (h, c) in enumerate(zip(hits, res.single_corrections), 1):
            ax.plot([h[0], 0], [h[1], 0], color=F.COLORS["error"], lw=2, zorder=2,
                    label="error (miss)" if k == 1 else None)
            _arrow(ax, h, c, F.COLORS["correction"], side=0.12)
            ax.plot(*h, "o", color=F.COLORS["curve"], ms=11, zorder=5)
            ax.text(h[0], h[1], str(k), color=F.COLORS["paper"], ha="center", va="center",
                    fontsize=_fs(8), fontweight="bold", zorder=6,      # on the marker's colour
                    bbox=dict(boxstyle="circle,pad=0.05", fc=F.COLORS["curve"], lw=0))
        ax.plot([], [], color=F.COLORS["correction"], label="correction = -eta * gradient")
        F.legend_below(fig, [ax])
        ax.set_title(f"{len(hits)} single shots converge on the bullseye")
        return F.save(fig, out, "shooting_target1",
                      f"The chapter's target1: {len(hits)} single shots; each miss (red) "
                      f"gives a correction (green).")


def _draw_bursts(out, res, theme="light"):
    from ..viz import figures as F
    with F.style(theme):
        fig, ax = F.subplots(figsize=(6.5, 7.1))
        _target(ax)
        for k, (hits, g) in enumerate(zip(res.burst_hits, res.burst_grads), 1):
            hits = np.array(hits)
            color = F.COLORS["series"][(k - 1) % len(F.COLORS["series"])]
            for h in hits:
                ax.plot([h[0], 0], [h[1], 0], color=F.COLORS["error"], lw=0.8, alpha=0.6,
                        zorder=2)
            ax.plot(hits[:, 0], hits[:, 1], "o", color=color, ms=8, zorder=5,
                    label=f"burst {k}")
            m = hits.mean(axis=0)
            ax.plot(*m, "X", color=color, ms=11, mec=F.COLORS["ink"], zorder=6)
            _arrow(ax, m, -res.eta * np.array(g), F.COLORS["correction"], side=0.12)
        # what the marks mean, beside the bursts' colours
        ax.plot([], [], "X", color=F.COLORS["paper"], ms=11, mec=F.COLORS["ink"],
                label="mean hit")
        ax.plot([], [], color=F.COLORS["error"], lw=0.8, label="miss (error)")
        ax.plot([], [], color=F.COLORS["correction"], lw=2, label="correction")
        F.legend_below(fig, [ax], ncol=4)
        ax.set_title(f"Bursts of {BURST}: loss = mean over the burst")
        return F.save(fig, out, "shooting_target2",
                      f"The chapter's target2: bursts of {BURST} (X = mean hit, red = each "
                      f"shot's miss), one correction (green) per burst from the mean "
                      f"squared error.")


def _draw_smoothing(out, res, final, theme="light"):
    from matplotlib.ticker import MaxNLocator

    from ..viz import figures as F
    with F.style(theme):
        fig, (ax, ax2) = F.subplots(1, 2, figsize=(12, 5.9))
        k = np.arange(res.rounds + 1)
        for label, meas, exact, color in (
                ("single shots (SGD)", res.rms_sgd, res.rms_sgd_exact, F.COLORS["right"]),
                (f"bursts of {BURST} (mini-batch)", res.rms_batch, res.rms_batch_exact,
                 F.COLORS["left"])):
            ax.plot(k, exact, "-", color=color, alpha=0.5 if theme == "light" else 0.75,
                    label=f"{label}, exact")           # on slate, half as faint reads dim
            ax.plot(k, meas, "o", color=color, label=f"{label}, {res.runs} runs")
        ax.set_yscale("log")
        F.plain_log_ticks(ax.yaxis)
        ax.set_ylim(*F.log_tick_span([*res.rms_sgd, *res.rms_batch, *res.rms_sgd_exact,
                                      *res.rms_batch_exact]))
        ax.set_xlabel("correction")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))      # corrections are counted
        ax.set_ylabel("RMS aim error (cm)")
        ax.set_title("How far the aim is off")
        # every run's end in view: after few rounds the aims are still far from the centre
        reach = max(1.6, 1.05 * max(float(np.abs(p).max()) for p in final.values()))
        _target(ax2, radius=max(2, math.ceil(reach)), bullseye=False)
        ax2.set_xlim(-reach, reach)
        ax2.set_ylim(-reach, reach)
        for b, color, label, rms in ((1, F.COLORS["right"], "SGD", res.rms_sgd[-1]),
                                     (BURST, F.COLORS["left"], f"batch {BURST}",
                                      res.rms_batch[-1])):
            p = final[b]
            ax2.plot(p[:, 0], p[:, 1], ".", color=color, alpha=0.55, ms=5,
                     label=f"{label}, after correction {res.rounds}: RMS {rms:.3f} cm")
        F.legend_below(fig, (ax, ax2), ncol=3)
        ax2.set_title(f"Where the aim ends ({res.runs} runs)")
        return F.save(fig, out, "shooting_smoothing", (
            f"Bursts smooth the noise: mini-batches of {BURST} leave the aim about "
            f"sqrt({BURST}) times closer than single shots." if res.settled else
            f"After {count(res.rounds, 'correction')} the aims have not settled: what is "
            f"left of the sight's offset, not the noise, still decides how far off they "
            f"are; with more rounds, mini-batches of {BURST} end about sqrt({BURST}) times "
            f"closer than single shots."))


# --- lesson 7 ----------------------------------------------------------------------------

@lesson
def loss(out=None, *, seed=1, samples=2000, verbose=None, figures=True, theme="light"):
    """One sample's error against the mean squared error over a burst of three shots."""
    whole("loss", "seed", seed, least=0)
    whole("loss", "samples", samples)
    rng = _range(seed)
    offset = np.array(SIGHT_OFFSET)
    res = LessonResult(
        "loss", "Lesson 7 - loss: one sample's error against the batch's mean squared error",
        intro=(f"Bob aims at the bullseye and fires a burst of {BURST}. Each shot alone gives "
               f"an error and a gradient; the burst's loss is the mean squared error "
               f"MSE = (1/{BURST}) * sum |miss_i|^2, and its gradient is the mean of the "
               f"shots' gradients. The chapter's loss, the sum of the misses divided by "
               f"{BURST}, is shown beside it."))
    noise = rng.normal(0.0, NOISE, size=(BURST, 2))
    aim = zeroin.tensor([0.0, 0.0], requires_grad=True, name="aim")
    hits = aim + zeroin.tensor(offset + noise, name="offset+noise")
    sq = (hits * hits).sum(axis=-1)
    per_shot = [zeroin.grad(sq[i], aim, retain_graph=True)[0].numpy().copy()
                for i in range(BURST)]
    mse = sq.mean()
    mae = zeroin.sqrt(sq).mean()
    (g_batch,) = zeroin.grad(mse, aim, retain_graph=True)
    g_batch = g_batch.numpy().copy()
    true_grad = 2 * offset                # the gradient without noise: aim 0, miss = offset
    rows = []
    hit_arr = hits.numpy()
    for i in range(BURST):
        rows.append([f"shot {i + 1}", hit_arr[i, 0], hit_arr[i, 1],
                     float(np.sqrt(sq.numpy()[i])), float(sq.numpy()[i]),
                     per_shot[i][0], per_shot[i][1],
                     float(np.linalg.norm(per_shot[i] - true_grad))])
    rows.append(["burst (mean)", float(hit_arr[:, 0].mean()), float(hit_arr[:, 1].mean()),
                 float(mae.item()), float(mse.item()), g_batch[0], g_batch[1],
                 float(np.linalg.norm(g_batch - true_grad))])
    res.tables.append(Table(
        "One burst: each shot's error and gradient, and the batch's (last row: "
        "mean error, MSE and the gradient of the MSE)",
        ["sample", "hit x", "hit y", "error |miss|", "squared error", "grad x", "grad y",
         "noise |grad - 2*offset|"], rows, ["", ".3f", ".3f", ".3f", ".3f", ".3f", ".3f", ".3f"]))

    # Over many bursts: how much a single shot's gradient wanders compared with the batch's.
    aims = zeroin.tensor(np.zeros((samples, 2)), requires_grad=True, name="aims")
    n = rng.normal(0.0, NOISE, size=(samples, BURST, 2))
    hh = aims.unsqueeze(1) + zeroin.tensor(offset + n)
    sq_many = (hh * hh).sum(axis=-1)
    (g_one,) = zeroin.grad(sq_many[:, 0].sum(), aims, retain_graph=True)
    (g_mse,) = zeroin.grad(sq_many.mean(axis=1).sum(), aims)
    spread_one = float(np.sqrt(np.mean(np.sum((g_one.numpy() - 2 * offset) ** 2, axis=1))))
    spread_mse = float(np.sqrt(np.mean(np.sum((g_mse.numpy() - 2 * offset) ** 2, axis=1))))
    exact_one = 2 * NOISE * math.sqrt(2)
    exact_mse = exact_one / math.sqrt(BURST)
    res.tables.append(Table(
        f"Spread of the gradient around its true value 2 * offset, over {samples} bursts",
        ["gradient of", "RMS spread (measured)", "exact"],
        [["one shot's squared error", spread_one, exact_one],
         [f"the MSE of a burst of {BURST}", spread_mse, exact_mse]],
        ["", ".3f", ".3f"]))
    res.values.update(
        hits=hit_arr.tolist(), errors=np.sqrt(sq.numpy()).tolist(),
        squared_errors=sq.numpy().tolist(), mse=float(mse.item()), mean_error=float(mae.item()),
        per_shot_grads=[g.tolist() for g in per_shot], batch_grad=g_batch.tolist(),
        spread_one=spread_one, spread_mse=spread_mse, spread_one_exact=exact_one,
        spread_mse_exact=exact_mse, samples=samples, offset=offset.tolist(), eta=ETA,
        grad_noise_single=[r[-1] for r in rows[:BURST]], grad_noise_batch=rows[-1][-1],
        true_grad=true_grad.tolist(), seed=seed)
    res.notes += [
        f"The MSE of the burst is {mse.item():.3f} (the mean of the squared errors); the "
        f"chapter's mean error (sum of misses / {BURST}) is {mae.item():.3f}.",
        f"The batch gradient ({g_batch[0]:.3f}, {g_batch[1]:.3f}) is the mean of the three "
        f"shots' gradients and equals 2 * the mean miss: the loss of a batch is the mean of "
        f"the samples' losses, so its gradient is the mean of their gradients.",
        f"A single shot's gradient wanders {spread_one:.3f} around the truth, the burst's "
        f"only {spread_mse:.3f}: averaging {BURST} samples divides the noise by "
        f"sqrt({BURST}). In this one burst the shots' gradients are off by "
        f"{', '.join(format(r[-1], '.3f') for r in rows[:BURST])} and the burst's by "
        f"{rows[-1][-1]:.3f}: one burst can be unlucky, the average over many is not.",
    ]
    if plots_ok(res, figures):
        res.figures["loss"] = _draw_loss(out, res, theme)
    return res


def _draw_loss(out, res, theme="light"):
    from ..viz import figures as F
    with F.style(theme):
        fig, (ax, ax2) = F.subplots(1, 2, figsize=(12.5, 6.4),
                                    gridspec_kw={"width_ratios": [1, 1.15]})
        _target(ax)
        hits = np.array(res.hits)
        ideal = -np.array(res.offset)
        # A full step (eta = 0.5 on a squared error) moves the aim by the whole miss: the
        # arrow ends where that sample alone says Bob should aim.
        for i, (h, g) in enumerate(zip(hits, res.per_shot_grads)):
            color = F.COLORS["series"][i]
            ax.plot([h[0], 0], [h[1], 0], color=F.COLORS["error"], lw=1, zorder=2,
                    label="miss (error) of a shot" if i == 0 else None)
            ax.plot(*h, "o", color=color, ms=10, zorder=5, label=f"shot {i + 1}")
            _arrow(ax, (0, 0), -0.5 * np.array(g), color, width=1.2)
        _arrow(ax, (0, 0), -0.5 * np.array(res.batch_grad), F.COLORS["correction"],
               width=3.2)
        ax.plot(*ideal, "*", color=F.COLORS["ink"], ms=16, zorder=6, label="ideal aim")
        ax.plot([], [], color=F.COLORS["correction"], lw=3.2, label="step from the MSE")
        ax.set_title("Where each shot, and the burst, says to aim")
        # The loss as a function of a sideways aim shift d: each shot's squared error has
        # its own minimum; the MSE is their mean, with its minimum at the mean.
        d = np.linspace(ideal[0] - 2.5, ideal[0] + 2.5, 201)
        aim = zeroin.tensor(np.stack([d, np.zeros_like(d)], axis=1))
        miss = aim.unsqueeze(1) + zeroin.tensor(hits)
        per = (miss * miss).sum(axis=-1).numpy()
        for i in range(len(hits)):
            ax2.plot(d, per[:, i], color=F.COLORS["series"][i], lw=1.5,
                     label=f"shot {i + 1}: squared error")
        ax2.plot(d, per.mean(axis=1), color=F.COLORS["correction"], lw=3.5,
                 label=f"MSE of the burst (at 0 shift: {res.mse:.2f})")
        ax2.axvline(ideal[0], color=F.COLORS["ink"], ls=":", lw=1.2, label="ideal shift")
        ax2.set_xlabel("aim shift to the right (cm)")
        ax2.set_ylabel("loss (cm^2)")
        ax2.set_ylim(0, float(per.max()) * 0.6)
        ax2.set_title("Loss against the aim: one shot vs the burst")
        F.legend_below(fig, (ax, ax2), ncol=4, fontsize=_fs(9))
        return F.save(fig, out, "loss_burst",
                      "Left: full corrections from each shot (thin) and from the burst's MSE "
                      "(thick green). Right: each shot's squared error and their mean, the "
                      "MSE, as the aim moves sideways.")
