"""The seven lessons: the chapter's numbers at the printed precision, exact values, the
explanations, the figures and the command line."""
import math
import os
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin import cli, lessons

NAMES = ["shooting", "chain-rule", "sensitivity", "solve", "descent", "learning-rate", "loss",
         "convolution"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("lessons")


@pytest.fixture(scope="module")
def results(out):
    """Every lesson, run once with its figures (the tests below only read the results)."""
    return {name: lessons.run(name, out=str(out), verbose=False) for name in NAMES}


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def _check_svg(path):
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), f"{path}: root element is {root.tag}"
    assert len(list(root.iter())) > 10, f"{path}: an almost empty SVG"
    return root


# --- the registry and the command line --------------------------------------------------

def test_registry_order_and_python_names():
    assert list(lessons.LESSONS) == NAMES
    for name, fn in lessons.LESSONS.items():
        assert getattr(lessons, name.replace("-", "_")) is fn
        assert fn.__doc__.strip()
    assert zeroin.lessons.chain_rule is lessons.LESSONS["chain-rule"]


def test_run_rejects_unknown_names():
    with pytest.raises(ValueError, match="no lesson called 'backprop'.*shooting"):
        lessons.run("backprop")


def test_a_misspelt_lesson_name_gets_the_closest_one():
    with pytest.raises(ValueError, match=r"no lesson called 'desent'; did you mean "
                       r"'descent'\? choose one of") as e:
        lessons.run("desent")
    assert "descent" in lessons.LESSONS                         # the suggestion exists
    with pytest.raises(ValueError, match=r"learnig_rate'; did you mean 'learning-rate'"):
        lessons.run("learnig_rate")
    with pytest.raises(ValueError) as e:
        lessons.run("backprop")
    assert "did you mean" not in str(e.value)                   # nothing close: no guess


def test_a_number_where_the_folder_goes_says_parameters_are_keywords():
    # solve(70): out is the first positional argument, so the 70 was a path to os
    with pytest.raises(TypeError, match=r"solve: out is the folder for the figures .*got 70; "
                       r"the lesson's parameters are keywords, e.g. solve\(target=70\)"):
        lessons.solve(70, verbose=False)


def test_a_misspelt_parameter_gets_the_closest_one_and_the_list():
    with pytest.raises(TypeError, match=r"solve\(\) got an unexpected keyword argument "
                       r"'targt'; did you mean 'target'\? its parameters \(with their "
                       r"defaults\): target=60, tol=1e-05"):
        lessons.solve(targt=70)
    with pytest.raises(TypeError, match=r"'verbos'; did you mean 'verbose'"):
        lessons.run("descent", verbos=False)


def test_a_single_learning_rate_is_a_list_of_one_as_on_the_command_line():
    r = lessons.learning_rate(etas=0.5, verbose=False, figures=False)
    assert r.etas == [0.5] and r.kinds == lessons.learning_rate(
        etas=[0.5], verbose=False, figures=False).kinds == {0.5: "smooth"}
    assert r.call() == "zeroin.lessons.learning_rate(etas=(0.5,))"
    assert r.command() == "zeroin lesson learning-rate --set etas=0.5"


def test_the_theme_is_how_a_lesson_runs_and_run_it_yourself_repeats_it():
    """theme= is a run option like out and figures: not a --set parameter, kept in the
    result and repeated by its command and call when it is dark."""
    assert "theme" not in lessons.parameters(lessons.solve)
    with pytest.raises(ValueError, match=r"solve has no parameter 'theme'"):
        lessons.settings("solve", ["theme=dark"])
    r = lessons.solve(target=70, theme="dark", verbose=False, figures=False)
    assert r.theme == "dark" and r.params == {"target": 70}
    assert r.command() == "zeroin lesson solve --set target=70 --theme dark"
    assert r.call() == "zeroin.lessons.solve(target=70, theme='dark')"
    assert "--theme dark" in r.text() and "--theme dark" in r.html()
    light = lessons.solve(verbose=False, figures=False)
    assert light.theme == "light" and light.command() == "zeroin lesson solve"
    with pytest.raises(TypeError, match=r"'them'; did you mean 'theme'"):
        lessons.solve(them="dark")


def test_cli_list_subprocess():
    r = subprocess.run([sys.executable, "-m", "zeroin", "lesson", "--list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = [line.split()[0] for line in r.stdout.splitlines() if line.strip()]
    assert listed == NAMES


def test_cli_lesson_writes_figures_and_prints_table(tmp_path, capsys):
    assert cli.main(["lesson", "sensitivity", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "50.5" in printed and "51" in printed and "dz/d(input)" in printed
    assert (tmp_path / "sensitivity.png").exists() and (tmp_path / "sensitivity.svg").exists()
    assert cli.main(["lesson", "chain_rule", "--out", str(tmp_path)]) == 0
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db" in capsys.readouterr().out
    assert cli.main(["lesson", "nope", "--out", str(tmp_path)]) == 2
    assert "no lesson called 'nope'" in capsys.readouterr().err


def test_printed_text_is_the_result(tmp_path, capsys):
    r = lessons.descent(out=str(tmp_path), figures=False)
    assert capsys.readouterr().out == r.text()
    for t in r.tables:
        assert t.text() in r.text()


def test_without_matplotlib_the_tables_still_print(tmp_path, monkeypatch, capsys):
    from zeroin.viz import figures
    monkeypatch.setattr(figures, "available", lambda: False)
    r = lessons.learning_rate(out=str(tmp_path / "none"))
    assert r.figures == {}
    assert "zeroin[plots]" in capsys.readouterr().out
    assert not (tmp_path / "none").exists()


# --- figures ------------------------------------------------------------------------------

def test_every_lesson_writes_valid_png_and_svg(results, out):
    expected = {"shooting": 3, "chain-rule": 4, "sensitivity": 1, "solve": 1, "descent": 2,
                "learning-rate": 1, "loss": 1, "convolution": 2}
    for name, r in results.items():
        assert len(r.figures) == expected[name], (name, list(r.figures))
        for f in r.figures.values():
            w, h = _png_size(f.png)
            assert w >= 300 and h >= 150
            _check_svg(f.svg)
            assert f.caption
            assert str(out) in f.png and str(out) in f.svg


def test_figures_are_reproducible(results, tmp_path):
    again = lessons.sensitivity(out=str(tmp_path), verbose=False)
    first = results["sensitivity"].figures["sensitivity"].svg
    with open(first, "rb") as a, open(again.figures["sensitivity"].svg, "rb") as b:
        assert a.read() == b.read()


# --- 1 shooting ---------------------------------------------------------------------------

def test_shooting_gradients_are_the_misses(results):
    r = results["shooting"]
    assert len(r.single_hits) == 5 and len(r.burst_hits) == 5
    assert all(len(b) == 3 for b in r.burst_hits)
    for hit, g, c in zip(r.single_hits, r.single_grads, r.single_corrections):
        # loss = |hit|^2, so d loss / d aim = 2 * hit; correction = -eta * gradient
        np.testing.assert_allclose(g, 2 * np.array(hit), rtol=1e-12)
        np.testing.assert_allclose(c, -r.eta * np.array(g), rtol=1e-12)
    for hits, g, loss, err in zip(r.burst_hits, r.burst_grads, r.burst_losses,
                                  r.burst_mean_errors):
        hits = np.array(hits)
        np.testing.assert_allclose(g, 2 * hits.mean(axis=0), rtol=1e-12)
        assert loss == pytest.approx(np.mean(np.sum(hits ** 2, axis=1)), rel=1e-12)
        assert err == pytest.approx(np.mean(np.linalg.norm(hits, axis=1)), rel=1e-12)
    # aims follow the corrections
    for a0, a1, c in zip(r.single_aims, r.single_aims[1:], r.single_corrections):
        np.testing.assert_allclose(np.array(a0) + c, a1, atol=1e-12)


def test_shooting_converges_on_the_bullseye(results):
    r = results["shooting"]
    assert r.single_errors[0] > 3 * r.single_errors[-1]
    assert r.single_errors[-1] < 3 * r.noise
    # Bob's aim ends near the one that cancels the sight's offset
    assert np.linalg.norm(np.array(r.aim_after_single) + r.offset) < 4 * r.noise
    assert np.linalg.norm(np.array(r.aim_after_bursts) + r.offset) < 3 * r.noise


def test_shooting_bursts_smooth_the_noise(results):
    r = results["shooting"]
    # Monte Carlo against the exact recursion E|d_k|^2 (400 runs: a few % of noise)
    for meas, exact in ((r.rms_sgd, r.rms_sgd_exact), (r.rms_batch, r.rms_batch_exact)):
        np.testing.assert_allclose(meas, exact, rtol=0.12)
    assert r.rms_sgd_exact[-1] / r.rms_batch_exact[-1] == pytest.approx(math.sqrt(3),
                                                                        rel=1e-3)
    assert 1.45 < r.noise_ratio < 2.05
    assert r.settled_rms_batch < r.settled_rms_sgd


def test_shooting_says_how_far_it_settled_for_few_rounds(results):
    """Round 0 is the start, before any correction: never part of the settled range; with
    too few rounds for the offset to die out, the lesson says so instead of comparing."""
    assert "Once settled (rounds 4-8)" in results["shooting"].text()
    assert results["shooting"].settled and results["shooting"].settle_round == 4
    for rounds in (1, 2, 3):
        r = lessons.shooting(rounds=rounds, runs=50, verbose=False, figures=False)
        text = r.text()
        assert not r.settled and "Once settled" not in text and "rounds 0-" not in text
        span = "round 1" if rounds == 1 else f"rounds 1-{rounds}"
        assert f"Not settled after {rounds} correction" in text and f"in {span} " in text
        assert r.settled_rms_sgd == pytest.approx(
            math.sqrt(np.mean(np.square(r.rms_sgd[1:]))))
    r = lessons.shooting(rounds=5, runs=50, verbose=False, figures=False)
    assert r.settled and "Once settled (rounds 4-5)" in r.text()


def test_shooting_is_seeded(tmp_path):
    a = lessons.shooting(out=str(tmp_path), seed=3, runs=50, verbose=False, figures=False)
    b = lessons.shooting(out=str(tmp_path), seed=3, runs=50, verbose=False, figures=False)
    c = lessons.shooting(out=str(tmp_path), seed=4, runs=50, verbose=False, figures=False)
    assert a.values == b.values and a.text() == b.text()
    assert a.single_hits != c.single_hits


# --- 2 chain rule -------------------------------------------------------------------------

def test_chain_rule_numbers(results):
    r = results["chain-rule"]
    fwd = r.table("Forward pass")
    printed = {row[0]: fwd.cell(i, 2) for i, row in enumerate(fwd.rows)}
    assert printed == {"w": "3", "b": "4", "x": "10", "y": "5", "z": "50"}
    assert (r.dz_dx, r.dz_dy, r.dx_dw, r.dx_db, r.dy_db) == (5, 10, 2, 1, 1)
    assert (r.dz_db, r.dz_dw) == (15, 10)
    # exact: z = (2w + b)(b + 1) -> dz/db = 2b + 2w + 1, dz/dw = 2(b + 1)
    assert r.dz_db == 2 * r.b + 2 * r.w + 1
    assert r.dz_dw == 2 * (r.b + 1)
    grads = r.table("Gradients")
    assert grads.cell(0, 3) == "15" and grads.cell(1, 3) == "10"


def test_chain_rule_explanations(results):
    r = results["chain-rule"]
    eb, ew = r.texts["explain_b"], r.texts["explain_w"]
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15" in eb
    assert "dz/dw = dz/dx * dx/dw = 5 * 2 = 10" in ew
    assert r.explain_b_value == 15 and r.explain_w_value == 10
    assert eb in r.text() and ew in r.text()


def test_chain_rule_figures_are_the_graph(results):
    figs = results["chain-rule"].figures
    assert list(figs) == ["chain_rule_structure", "chain_rule_values", "chain_rule_paths_b",
                          "chain_rule_paths_w"]
    text = {k: "".join(_check_svg(f.svg).itertext()) for k, f in figs.items()}
    assert "= 50" not in text["chain_rule_structure"]
    assert "= 50" in text["chain_rule_values"] and "= 10" in text["chain_rule_values"]
    assert "15" in text["chain_rule_paths_b"] and "15" not in text["chain_rule_values"]
    assert "10" in text["chain_rule_paths_w"]


@settings(max_examples=25, deadline=None)
@given(w=st.floats(-50, 50), b=st.floats(-50, 50))
def test_chain_rule_at_any_point_is_the_exact_derivative(w, b):
    """A teacher's own w and b: every number in the lesson is the engine's, equal to the
    closed form, and the note says which gradient is bigger there."""
    r = lessons.chain_rule(w=w, b=b, verbose=False, figures=False)
    x, y = 2 * w + b, b + 1
    assert (r.x, r.y, r.z) == (pytest.approx(x), pytest.approx(y), pytest.approx(x * y))
    assert r.dz_db == pytest.approx(2 * b + 2 * w + 1) and r.dz_dw == pytest.approx(2 * y)
    assert r.explain_b_value == pytest.approx(r.dz_db)
    bigger_b = abs(r.dz_db) > abs(r.dz_dw)
    assert ("a step in b moves z more" in r.notes[0]) == bigger_b
    assert ("a step in w moves z more" in r.notes[0]) == (abs(r.dz_dw) > abs(r.dz_db))


def test_chain_rule_with_negative_factors_reads_as_written_by_hand():
    """At w = 1, b = -2: y = -1, so z = 0 * -1 is -0.0, printed 0, and the sums put a
    negative factor in parentheses: (-1) * 1 + 0 * 1 = -1."""
    r = lessons.chain_rule(w=1, b=-2, verbose=False, figures=False)
    fwd = r.table("Forward pass")
    assert [fwd.cell(i, 2) for i in range(5)] == ["1", "-2", "0", "-1", "0"]
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = (-1) * 1 + 0 * 1 = -1" in r.texts["explain_b"]
    assert "dz/dw = dz/dx * dx/dw = (-1) * 2 = -2" in r.texts["explain_w"]


def test_chain_rule_figure_captions_with_negative_factors():
    """The figures' captions write a negative factor as the explanation does, (-2)*1, not
    -2*1 + -7*1; flow4's title and caption say 'the path' (there is one)."""
    r = lessons.chain_rule(w=-2, b=-3, verbose=False)
    caps = {k: f.caption for k, f in r.figures.items()}
    assert "dz/db = (-2)*1 + (-7)*1 = -9 " in caps["chain_rule_paths_b"]
    assert "The path from z to w with local derivatives: dz/dw = (-2)*2 = -4 " in \
        caps["chain_rule_paths_w"]
    assert "the path from z to w" in r.figures["chain_rule_paths_w"].svg_data.decode()


def test_chain_rule_takes_w_and_b_from_the_command_line(tmp_path):
    from zeroin.cli import main
    assert main(["lesson", "chain-rule", "--set", "w=1", "--set", "b=2", "--out",
                 str(tmp_path)]) == 0
    svg = (tmp_path / "chain_rule_values.svg").read_text()
    assert "w = 1, b = 2" in svg and "= 12" in svg             # x = 4, y = 3, z = 12
    with pytest.raises(ValueError, match="chain-rule: w must be a finite number, got nan"):
        lessons.chain_rule(w=float("nan"), verbose=False)


# --- 3 sensitivity ------------------------------------------------------------------------

def test_sensitivity(results):
    r = results["sensitivity"]
    t = r.table("Nudging")
    assert t.cell(0, 3) == "50.5" and t.cell(1, 3) == "51"          # the chapter's values
    assert (r.dz_dx, r.dz_dy) == (5, 10)
    # exact: z is bilinear in x and y, so the change is exactly the gradient times the nudge
    assert r.z_x_nudged == pytest.approx((10 + r.nudge) * 5, abs=1e-12)
    assert r.z_y_nudged - r.z == pytest.approx(r.dz_dy * r.nudge, abs=1e-12)
    # z is quadratic in b with d2z/db2 = 2: the remainder is nudge^2
    assert r.b_second_order == pytest.approx(r.nudge ** 2, abs=1e-12)
    assert r.z_y_nudged > r.z_x_nudged
    assert "y moves z more" in r.text() or "change of y moves z more" in r.text()


# --- 4 solve ------------------------------------------------------------------------------

ROOT = (-7 + math.sqrt(265)) / 2


def test_solve_chapter_method(results):
    r = results["solve"]
    t = r.table("b alone, dz/db fixed")
    bs = [t.cell(i, 2) for i in range(len(t.rows))]
    zs = [t.cell(i, 3) for i in range(len(t.rows))]
    assert bs[:3] == ["4", "4.66667", "4.63704"]
    assert zs[:3] == ["50", "60.4444", "59.9614"]
    assert r.b_fixed_updates == 6 and f"{r.final_b:.6f}" == "4.639410"
    assert all(v == 15 for v in t.column("dz/db used"))
    # every printed row is a true forward pass
    for _, w, b, z, dz, _, _ in r.b_fixed_rows + r.b_exact_rows + r.wb_fixed_rows:
        assert z == pytest.approx((2 * w + b) * (b + 1), rel=1e-14)
        assert dz == pytest.approx(60 - z, abs=1e-12)
    assert abs(r.b_fixed_rows[-1][4]) < 1e-5 <= abs(r.b_fixed_rows[-2][4])


def test_solve_against_the_exact_root(results):
    r = results["solve"]
    assert r.b_root == pytest.approx(ROOT, abs=1e-12)
    assert r.final_b == pytest.approx(ROOT, abs=1e-5 / 15)
    assert r.final_b_exact == pytest.approx(ROOT, abs=1e-9)
    # fixed factor: linear convergence with factor 1 - f'(root)/15, f'(b) = 2b + 7
    c = 1 - (2 * ROOT + 7) / 15
    assert r.b_fixed_ratio_exact == pytest.approx(c, rel=1e-9)
    errs = [row[2] - ROOT for row in r.b_fixed_rows]
    assert errs[5] / errs[4] == pytest.approx(c, rel=1e-3)
    # recomputed by backprop: Newton, e_{k+1} = e_k^2 * f''/(2 f') = e_k^2 / (2b + 7)
    assert r.b_exact_updates == 3
    e = [row[2] - ROOT for row in r.b_exact_rows]
    assert e[2] / e[1] ** 2 == pytest.approx(1 / math.sqrt(265), rel=0.01)
    assert e[3] / e[2] ** 2 == pytest.approx(1 / math.sqrt(265), rel=0.01)
    assert [row[6] for row in r.b_exact_rows[:2]] == pytest.approx([15, 2 * (4 + 2 / 3) + 7])


def test_solve_w_and_b_together(results):
    r = results["solve"]
    # fixed factors: steps along (1/20, 1/30) per unit of dz; z = 60 where
    # t^2 + 225 t - 2250 = 0 on that line
    t = (-225 + math.sqrt(225 ** 2 + 4 * 2250)) / 2
    w_end, b_end = 3 + t / 20, 4 + t / 30
    assert r.wb_line_end[0] == pytest.approx(w_end, abs=1e-12)
    w, b, z = r.wb_fixed_final
    assert (w, b) == pytest.approx((w_end, b_end), abs=1e-6)
    first = r.wb_fixed_rows[1]
    assert (first[1], first[2]) == pytest.approx((3.5, 4 + 1 / 3))
    w, b, z = r.wb_exact_final
    assert abs(z - 60) < 1e-5 and r.wb_exact_updates <= 4
    assert (2 * w + b) * (b + 1) == pytest.approx(60, abs=1e-5)
    text = r.text()
    assert "(-7 + sqrt(265)) / 2" in text and f"{ROOT:.9f}" in text
    # z = 50 + t + t^2 / 225 on both lines (t^2 + 225 t - 2250 above), not "+ 1 t"
    assert "lines z = 50 + t + t^2 / 225, where t" in text


def test_solve_other_targets(tmp_path):
    r = lessons.solve(out=str(tmp_path), target=70, verbose=False, figures=False)
    assert r.b_root == pytest.approx((-7 + math.sqrt(305)) / 2, abs=1e-12)
    assert r.final_b == pytest.approx(r.b_root, abs=1e-6)
    assert "(-7 + sqrt(305)) / 2" in r.text() and "dz = 70 - z" in r.text()


# --- 5 descent ----------------------------------------------------------------------------

def test_descent_chapter_values(results):
    r = results["descent"]
    t = r.table("Steps from")
    assert [t.cell(i, 1) for i in range(4)] == ["0.2", "0.36", "0.488", "0.5904"]
    assert r.grad_B == pytest.approx(-1.8) and r.grad_F == pytest.approx(1.0)
    assert r.x1 == pytest.approx(0.36) and r.y0 == pytest.approx(0.641)
    assert r.tangent_y1 == pytest.approx(0.641 - 1.6 * 0.16)
    assert r.y1 == pytest.approx(0.64 ** 2 + 0.001)


def test_descent_closed_form_and_both_sides(results):
    r = results["descent"]
    n = np.arange(len(r.xs))
    np.testing.assert_allclose(r.xs, 1 - 0.8 ** n * 0.8, atol=1e-14)
    np.testing.assert_allclose(r.xs_right, 2 - np.array(r.xs), atol=1e-14)
    np.testing.assert_allclose(r.grads, 2 * (np.array(r.xs) - 1), atol=1e-14)
    assert all(g < 0 for g in r.grads) and all(g > 0 for g in r.grads_right)
    # steps until |gradient| = 1.6 * 0.8^n < tol
    expected = math.ceil(math.log(r.tol / 1.6) / math.log(0.8))
    assert r.steps == r.steps_right == expected
    assert abs(r.grads[-1]) < r.tol <= abs(r.grads[-2])


def test_descent_gradient_matches_finite_differences():
    from zeroin.lessons._descent import f, value_and_grad
    for x in (0.1, 0.2, 1.5, 3.0):
        h = 1e-6
        assert value_and_grad(x)[1] == pytest.approx((f(x + h) - f(x - h)) / (2 * h),
                                                     rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(eta=st.floats(0.01, 0.9), x0=st.floats(-3.0, 3.0))
def test_descent_follows_the_closed_form_for_any_eta_and_start(eta, x0):
    from zeroin.lessons._descent import gradient_descent
    rows = gradient_descent(x0, eta, tol=1e-6, max_steps=40)
    c = 1 - 2 * eta
    for n, x, _, g, step in rows:
        assert x == pytest.approx(1 - c ** n * (1 - x0), abs=1e-9)
        assert g == pytest.approx(2 * (x - 1), abs=1e-9)
        assert step == pytest.approx(-eta * g, abs=1e-12)


# --- 6 learning rate ----------------------------------------------------------------------

def test_learning_rate(results):
    r = results["learning-rate"]
    assert r.etas == [0.05, 0.1, 0.4, 0.8, 1.0, 1.1]
    for eta in r.etas:
        assert r.ratios[eta] == pytest.approx(1 - 2 * eta, abs=1e-9)
        c = abs(1 - 2 * eta)
        if c < 1:
            assert r.steps[eta] == math.ceil(math.log(r.tol / 1.6) / math.log(c))
        else:
            assert r.steps[eta] is None
    assert r.kinds == {0.05: "smooth", 0.1: "smooth", 0.4: "smooth", 0.8: "overshoot",
                       1.0: "oscillation", 1.1: "divergence"}
    assert "jumps between 1.8 and 0.2 forever" in r.verdicts[1.0]
    assert "diverges" in r.verdicts[1.1]
    assert r.fastest_eta == 0.4
    assert r.curvature == pytest.approx(2.0) and r.eta_limit == pytest.approx(1.0)
    assert r.eta_one_step == pytest.approx(0.5)
    row = r.table("Learning rates")
    assert row.cell(4, 2) == "never" and row.cell(1, 2) == "34"


# --- 7 loss -------------------------------------------------------------------------------

def test_loss_batch_against_single_samples(results):
    r = results["loss"]
    hits = np.array(r.hits)
    sq = np.sum(hits ** 2, axis=1)
    assert r.mse == pytest.approx(sq.mean(), rel=1e-12)
    assert r.mean_error == pytest.approx(np.sqrt(sq).mean(), rel=1e-12)
    np.testing.assert_allclose(r.per_shot_grads, 2 * hits, rtol=1e-12)
    np.testing.assert_allclose(r.batch_grad, np.mean(r.per_shot_grads, axis=0), rtol=1e-12)
    # the spread of a gradient over many bursts: 2 * sigma * sqrt(2), divided by sqrt(3)
    assert r.spread_one == pytest.approx(r.spread_one_exact, rel=0.08)
    assert r.spread_mse == pytest.approx(r.spread_mse_exact, rel=0.08)
    assert r.spread_mse_exact * math.sqrt(3) == pytest.approx(r.spread_one_exact)
    t = r.table("One burst")
    assert t.cell(3, 4) == f"{sq.mean():.3f}"


# --- defaults: quiet in a notebook, no files unless asked --------------------------------

def test_out_none_writes_nothing_and_keeps_the_figures_in_memory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    r = lessons.sensitivity()
    assert list(tmp_path.iterdir()) == []                        # no zeroin-out/ appears
    f = r.figures["sensitivity"]
    assert f.png is None and f.svg is None
    assert f.png_data is None and b"<svg" in f.svg_data      # a PNG is made when saved
    assert "in memory; result.save(DIR)" in capsys.readouterr().out
    written = r.save(str(tmp_path / "later"))
    assert sorted(written) == [str(tmp_path / "later" / "sensitivity.png"),
                               str(tmp_path / "later" / "sensitivity.svg")]
    assert (tmp_path / "later" / "sensitivity.svg").read_bytes() == f.svg_data
    assert f.svg == str(tmp_path / "later" / "sensitivity.svg")  # the result now points there
    assert (tmp_path / "later" / "sensitivity.png").read_bytes().startswith(b"\x89PNG")
    graph = lessons.chain_rule(verbose=False)
    assert sorted(os.path.basename(p) for p in graph.save(str(tmp_path / "g"))) == sorted(
        f"chain_rule_{k}.{e}" for k in ("structure", "values", "paths_b", "paths_w")
        for e in ("png", "svg"))
    assert sorted(tmp_path.iterdir()) == [tmp_path / "g", tmp_path / "later"]


def test_in_a_notebook_a_lesson_prints_nothing_unless_asked(monkeypatch, capsys):
    from zeroin.lessons import _common
    monkeypatch.setattr(_common, "in_notebook", lambda: True)
    r = lessons.descent(figures=False)
    assert capsys.readouterr().out == ""
    lessons.descent(figures=False, verbose=True)
    assert capsys.readouterr().out == r.text()
    monkeypatch.setattr(_common, "in_notebook", lambda: False)
    lessons.descent(figures=False)
    assert capsys.readouterr().out == r.text()


def test_in_notebook_is_false_outside_a_kernel():
    assert lessons.in_notebook() is False


def test_result_html_embeds_tables_notes_and_figures(results):
    import base64
    import re
    r = results["solve"]
    page = r.html()
    assert page.startswith('<section id="solve">')
    shown = r._repr_html_()                     # the same, with ids unique per display
    assert page in re.sub(r'id="([a-z-]+)-\d+"', r'id="\1"', shown) and page not in shown
    assert "<caption>Where each method ends</caption>" in page
    assert all(__import__("html").escape(n) in page for n in r.notes)
    uris = re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert [base64.b64decode(u) for u in uris] == [r.figures["solve"].svg_data]


def test_long_tables_get_a_show_all():
    t = lessons.Table("t", ["n", "v"], [[i, i / 7] for i in range(30)], ["d", ".4f"])
    page = t.html()
    assert "<details><summary>Show all 30 rows</summary>" in page
    preview = page[:page.index("<details>")]
    assert ">0.1429</td>" in preview and ">4.1429</td>" in preview      # first and last
    assert ">2.0000</td>" not in preview and ">2.0000</td>" in page   # row 14: in the full
    short = lessons.Table("t", ["n"], [[i] for i in range(12)], ["d"]).html()
    assert "<details>" not in short


def test_tables_as_markdown_and_latex_for_slides():
    r = lessons.solve(verbose=False, figures=False)
    t = r.table("b alone, dz/db fixed")
    md = t.markdown().splitlines()
    assert md[0] == f"**{t.title}**" and md[1] == ""
    assert md[2] == "| update | w | b | z | dz = 60 - z | dz/dw used | dz/db used |"
    assert md[3] == "|---:|---:|---:|---:|---:|:---|---:|"     # numbers set right
    assert md[5] == "| 1 | 3 | 4.66667 | 60.4444 | -0.444444 |  | 15 |"   # x1 = 4 + 10/15
    assert len(md) == 4 + len(t.rows)
    tex = t.latex().splitlines()
    assert tex[0] == "\\begin{tabular}{rrrrrlr}" and tex[-1] == "\\end{tabular}"
    assert "1 & 3 & 4.66667 & 60.4444 & -0.444444 &  & 15 \\\\" in tex
    odd = lessons.Table("a_b", ["x|y", "50% & $"], [["a\\b{c}", 1.5]], ["", ".1f"])
    assert odd.markdown().splitlines()[2] == "| x\\|y | 50% & $ |"
    assert "50\\% \\& \\$" in odd.latex()
    assert "a\\textbackslash{}b\\{c\\} & 1.5 \\\\" in odd.latex()


def _data_points(ax):
    """Display coordinates of every plotted point and bar corner of ``ax`` inside it."""
    pts = [ax.transData.transform(line.get_xydata()) for line in ax.lines
           if line.get_visible() and len(line.get_xydata())]
    pts += [c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections
            if len(c.get_offsets()) and hasattr(c, "get_sizes") and len(c.get_sizes())]
    for p in ax.patches:
        if p.__class__.__name__ == "Rectangle" and p.get_height() and p.get_width():
            box = p.get_window_extent()
            pts.append(np.array([[box.x0, box.y1], [box.x1, box.y1], [(box.x0 + box.x1) / 2,
                                                                       box.y1]]))
    pts = np.concatenate(pts) if pts else np.zeros((0, 2))
    pts = pts[np.isfinite(pts).all(axis=1)]
    box = ax.get_window_extent()
    inside = ((pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0)
              & (pts[:, 1] <= box.y1))
    return pts[inside]


@pytest.mark.parametrize("name", ["shooting", "sensitivity", "solve", "descent",
                                  "learning-rate", "loss"])
def test_no_legend_covers_data(name):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    r = lessons.run(name, verbose=False)
    for key, f in r.figures.items():
        fig = f.figure
        FigureCanvasAgg(fig).draw()
        legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
        assert legends, (name, key)
        for leg in legends:
            box = leg.get_window_extent()
            for ax in fig.axes:
                if leg in fig.legends:        # a figure legend sits outside every plot
                    assert not box.overlaps(ax.get_window_extent()), (name, key)
                pts = _data_points(ax)
                hit = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                       & (pts[:, 1] < box.y1))
                assert not hit.any(), (name, key, leg.get_texts()[0].get_text(), pts[hit][:3])


@pytest.mark.parametrize("name", ["solve", "descent", "sensitivity"])
def test_labels_do_not_sit_on_curves(name):
    """Step numbers, point names and contour labels keep clear of every plotted line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    r = lessons.run(name, verbose=False)
    checked = 0
    for key, f in r.figures.items():
        fig = f.figure
        FigureCanvasAgg(fig).draw()
        for ax in fig.axes:
            curves = []
            for line in ax.lines:            # the lines, sampled densely between vertices
                xy = ax.transData.transform(line.get_xydata())
                for a, b in zip(xy, xy[1:]):
                    curves.append(a + np.linspace(0, 1, 30)[:, None] * (b - a))
            pts = np.concatenate(curves) if curves else np.zeros((0, 2))
            for text in ax.texts:
                box = text.get_window_extent().expanded(0.9, 0.9)
                inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                          & (pts[:, 1] < box.y1))
                assert not inside.any(), (name, key, text.get_text())
                checked += 1
    assert checked >= 4, checked


def test_solve_figure_shows_all_four_methods_apart():
    """Where two methods give the same errors, their points are drawn side by side; where
    two series still share a point (the same first steps), a small filled marker sits
    inside a large hollow one, so both stay visible."""
    r = lessons.solve(verbose=False)
    fig = r.figures["solve"].figure
    for ax in fig.axes[:2]:
        series = [ln for ln in ax.lines if ln.get_label().startswith(("b alone", "w and b"))]
        assert len(series) == 4
        assert len({(ln.get_marker(), ln.get_markerfacecolor()) for ln in series}) == 4
    left = [ln for ln in fig.axes[0].lines if ln.get_label().startswith(("b alone", "w and b"))]
    for i, a in enumerate(left):
        for b in left[i + 1:]:
            pa, pb = {tuple(p) for p in a.get_xydata()}, {tuple(p) for p in b.get_xydata()}
            if pa & pb:
                white = "#ffffff"                   # the light palette's paper
                hollow, filled = sorted((a, b), key=lambda ln: ln.get_markerfacecolor() != white)
                assert hollow.get_markerfacecolor() == white, (a.get_label(), b.get_label())
                assert filled.get_markerfacecolor() != white
                assert hollow.get_markersize() > 1.5 * filled.get_markersize()
    b_f, wb_f = left[0].get_xydata(), left[2].get_xydata()     # same errors, side by side
    assert np.allclose(b_f[:, 1], wb_f[:, 1]) and np.all(wb_f[:, 0] - b_f[:, 0] > 0.1)
    # ... although moving w and b with fixed factors gives exactly b's errors
    assert [row[4] for row in r.b_fixed_rows] == pytest.approx(
        [row[4] for row in r.wb_fixed_rows], abs=1e-9)


def test_sensitivity_bars_are_labelled_with_their_own_heights():
    r = lessons.sensitivity(verbose=False)
    ax = r.figures["sensitivity"].figure.axes[0]
    bars = [p for p in ax.patches if p.__class__.__name__ == "Rectangle" and p.get_height()]
    assert len(bars) == 8
    for bar in bars:
        x = bar.get_x() + bar.get_width() / 2
        (label,) = [t for t in ax.texts if abs(t.get_position()[0] - x) < 1e-9]
        assert label.get_position()[1] == bar.get_height()          # on top of its bar
        shown = float(label.get_text().split("=")[-1])               # "1.51" or "15*0.1\n= 1.5"
        assert shown == pytest.approx(bar.get_height(), rel=1e-3), label.get_text()
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert ticks[0] == "x: 10 -> 10.1\nz = 50.5" and ticks[1].endswith("z = 51")
