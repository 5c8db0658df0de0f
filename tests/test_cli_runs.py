"""The command line when things go wrong: a late Ctrl-C, a user's mistake (one line, exit
status 2), and commands that reproduce what a page or a lesson shows."""
import json
import os
import signal

import pytest

import zeroin
from zeroin import recipes
from zeroin.cli import main

pytest.importorskip("matplotlib")

TRAIN = ["train", "moons", "--hidden", "8", "--epochs", "2", "--verbose", "0"]


# --- Ctrl-C after the last epoch ------------------------------------------------------------

def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_ctrl_c_during_the_test_evaluation_still_saves_model_history_and_figures(
        tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(recipes, "evaluate_split", _interrupt)
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("zeroin train: interrupted during the test evaluation, after "
                          "training had stopped (2 epochs): wrote history.json, loss.png, "
                          "loss.svg, accuracy.png, accuracy.svg, model.npz to")
    assert "the test metrics were not measured (zeroin evaluate" in err
    for name in ("model.npz", "history.json", "loss.png", "accuracy.png"):
        assert (out / name).exists(), name
    assert json.loads((out / "history.json").read_text())["test"] is None
    ck = zeroin.load(out / "model.npz")                   # a complete, loadable checkpoint
    assert ck["meta"]["architecture"]["hidden"] == [8]
    monkeypatch.undo()
    assert main(["evaluate", str(out / "model.npz"), "moons"]) == 0


def test_ctrl_c_while_the_figures_are_drawn_keeps_model_and_history(tmp_path, capsys,
                                                                    monkeypatch):
    from zeroin.viz import curves
    monkeypatch.setattr(curves, "plot_history", _interrupt)
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted while the figures were drawn" in err
    assert "wrote history.json, model.npz to" in err
    assert (out / "model.npz").exists() and (out / "history.json").exists()
    assert not (out / "loss.png").exists()
    assert json.loads((out / "history.json").read_text())["test"]["accuracy"] > 0


def test_ctrl_c_while_the_model_is_written_waits_for_it(tmp_path, capsys, monkeypatch):
    real = recipes.save_checkpoint
    before = signal.getsignal(signal.SIGINT)    # Python's, or SIG_IGN in a background job

    def save_and_press_ctrl_c(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)    # what a Ctrl-C calls
        return real(*args, **kwargs)
    monkeypatch.setattr(recipes, "save_checkpoint", save_and_press_ctrl_c)
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 130
    assert "interrupted while the model was saved" in capsys.readouterr().err
    assert zeroin.load(out / "model.npz")["meta"]["test"]["accuracy"] > 0
    assert (out / "history.json").exists() and not (out / "loss.png").exists()
    assert signal.getsignal(signal.SIGINT) is before       # put back


def test_ctrl_c_during_an_epoch_is_still_a_finished_run(tmp_path, capsys, monkeypatch):
    from zeroin.train import TrainingLoop
    real, calls = TrainingLoop.train_epoch, []

    def second_epoch_interrupted(self, epoch):
        calls.append(epoch)
        if epoch == 2:
            raise KeyboardInterrupt
        return real(self, epoch)
    monkeypatch.setattr(TrainingLoop, "train_epoch", second_epoch_interrupted)
    out = tmp_path / "run"
    assert main([*TRAIN[:-2], "--verbose", "2", "--out", str(out)]) == 0
    assert "stopped: interrupted during epoch 2" in capsys.readouterr().out
    assert (out / "model.npz").exists() and (out / "loss.png").exists()


CNN = ["train", "digits", "--model", "cnn", "--epochs", "1", "--verbose", "0"]


def test_cnn_ctrl_c_during_the_test_evaluation_still_saves_model_history_and_figures(
        tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(recipes, "evaluate_split", _interrupt)
    out = tmp_path / "run"
    assert main([*CNN, "--out", str(out)]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("zeroin train: interrupted during the test evaluation, after "
                          "training had stopped (1 epoch): wrote history.json, loss.png, "
                          "loss.svg, accuracy.png, accuracy.svg, model.npz to")
    assert f"(zeroin evaluate {out / 'model.npz'} digits measures them)" in err
    assert json.loads((out / "history.json").read_text())["test"] is None
    assert zeroin.load(out / "model.npz")["meta"]["kind"] == "zeroin-cnn"
    monkeypatch.undo()
    assert main(["evaluate", str(out / "model.npz"), "digits"]) == 0


def test_cnn_ctrl_c_while_the_figures_are_drawn_keeps_model_and_history(tmp_path, capsys,
                                                                        monkeypatch):
    pytest.importorskip("sklearn")
    from zeroin.viz import curves
    monkeypatch.setattr(curves, "plot_history", _interrupt)
    out = tmp_path / "run"
    assert main([*CNN, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "interrupted while the figures were drawn" in err
    assert "wrote history.json, model.npz to" in err and "no figures drawn" in err
    assert not (out / "loss.png").exists()
    assert zeroin.load(out / "model.npz")["meta"]["test"]["accuracy"] > 0


def test_cnn_ctrl_c_while_the_model_is_written_waits_for_it(tmp_path, capsys, monkeypatch):
    pytest.importorskip("sklearn")
    before = signal.getsignal(signal.SIGINT)    # Python's, or SIG_IGN in a background job
    from zeroin.nn import cnn
    real = cnn._save

    def save_and_press_ctrl_c(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)    # what a Ctrl-C calls
        return real(*args, **kwargs)
    monkeypatch.setattr(cnn, "_save", save_and_press_ctrl_c)
    out = tmp_path / "run"
    assert main([*CNN, "--out", str(out)]) == 130
    assert "interrupted while the model was saved" in capsys.readouterr().err
    assert zeroin.load(out / "model.npz")["meta"]["test"]["accuracy"] > 0
    assert (out / "history.json").exists() and not (out / "loss.png").exists()
    assert signal.getsignal(signal.SIGINT) is before       # put back


def test_cnn_run_says_what_it_wrote(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert main([*CNN, "--out", str(tmp_path / "run")]) == 0
    assert ("wrote history.json, loss.png, loss.svg, accuracy.png, accuracy.svg, model.npz "
            f"to {tmp_path / 'run'}") in capsys.readouterr().out


# --- "Run it yourself" lines reproduce what is shown ----------------------------------------

def test_the_tours_train_command_reproduces_the_tours_run(tmp_path, capsys):
    from zeroin.tour import train_demo
    shown = train_demo(str(tmp_path / "tour"), dataset="moons", figures=False)
    assert shown["command"] == "zeroin train moons --hidden 16,16 --epochs 40"
    words = shown["command"].split()
    assert words[:2] == ["zeroin", "train"]
    assert main([*words[1:], "--verbose", "0", "--out", str(tmp_path / "cli")]) == 0
    printed = capsys.readouterr().out
    assert "MLP [16, 16] (relu), 337 parameters" in printed
    hist = json.loads((tmp_path / "cli" / "history.json").read_text())
    assert hist["epoch"][-1] == shown["epochs"] == 40
    assert hist["test"]["loss"] == pytest.approx(shown["test_loss"], rel=1e-9)
    assert hist["test"]["accuracy"] == pytest.approx(shown["test_accuracy"])


def test_a_lesson_with_changed_parameters_says_the_command_that_repeats_it(tmp_path, capsys):
    from zeroin import lessons
    r = lessons.solve(target=70, verbose=False, figures=False)
    assert r.params == {"target": 70}
    assert r.command() == "zeroin lesson solve --set target=70"
    assert r.call() == "zeroin.lessons.solve(target=70)"
    assert "<code>zeroin lesson solve --set target=70</code>" in r.html()
    assert lessons.solve(verbose=False, figures=False).command() == "zeroin lesson solve"
    lr = lessons.learning_rate(etas=(0.2, 0.5, 0.9, 1.05), x0=3.0, max_steps=40,
                               verbose=False, figures=False)
    cmd = lr.command()
    assert cmd == ("zeroin lesson learning-rate --set etas=0.2,0.5,0.9,1.05 --set x0=3 "
                   "--set max_steps=40")
    # the command line gives the same numbers
    assert main([*cmd.split()[1:], "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert lr.table("Learning rates").text() in printed and "from x0 = 3" in printed
    again = lessons.run("learning-rate", verbose=False, figures=False,
                        **lessons.settings("learning-rate", cmd.split()[4::2]))
    assert again.values == lr.values and again.command() == cmd


@pytest.mark.parametrize("args, message", [
    (["--set", "target"], "--set takes KEY=VALUE"),
    (["--set", "eta=0.3"], "solve has no parameter 'eta'; its parameters (with their "
                           "defaults): target=60, tol=1e-05"),
    (["--set", "target=seventy"], "target must be a number such as 60, got 'seventy'"),
])
def test_lesson_set_mistakes_are_one_line(args, message, capsys):
    assert main(["lesson", "solve", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_lesson_help_lists_every_lessons_parameters(capsys):
    from zeroin import lessons
    with pytest.raises(SystemExit):
        main(["lesson", "--help"])
    text = capsys.readouterr().out
    for name, fn in lessons.LESSONS.items():
        line = next(x for x in text.splitlines() if x.strip().startswith(f"{name}:"))
        assert all(f"{k}=" in line for k in lessons.parameters(fn))


def test_lesson_parameter_listings_keep_a_list_default_whole(capsys):
    """The listing separates parameters by commas, so a list default is in parentheses:
    split at the top-level commas, every piece is one parameter with its whole default."""
    import re
    from zeroin import lessons
    with pytest.raises(SystemExit):
        main(["lesson", "--help"])
    line = next(x for x in capsys.readouterr().out.splitlines()
                if x.strip().startswith("learning-rate:"))
    listed = line.split(":", 1)[1].strip()
    assert listed == "etas=(0.05, 0.1, 0.4, 0.8, 1, 1.1), x0=0.2, tol=0.001, max_steps=100"
    pieces = re.split(r",\s*(?![^()]*\))", listed)
    assert [p.split("=")[0] for p in pieces] == list(lessons.parameters(lessons.learning_rate))
    assert main(["lesson", "learning-rate", "--set", "bogus=1"]) == 2
    assert f"its parameters (with their defaults): {listed}\n" in capsys.readouterr().err
    # what the listing shows can be given back, as can the --set form
    for text in ("(0.2, 0.5)", "[0.2,0.5]", "0.2,0.5"):
        assert lessons.settings("learning-rate", [f"etas={text}"]) == {"etas": (0.2, 0.5)}
    assert main(["lesson", "chain-rule", "--set", "bogus=1"]) == 2
    assert "(with their defaults): w=3, b=4\n" in capsys.readouterr().err


def test_a_lesson_without_parameters_lists_none(capsys, monkeypatch):
    """(chain-rule, which had none, now takes w and b: a lesson with no parameters.)"""
    from zeroin import lessons

    def bare(out=None, *, verbose=None, figures=True):
        """A lesson with no parameters."""
    monkeypatch.setitem(lessons.LESSONS, "bare", bare)
    assert main(["lesson", "bare", "--set", "bogus=1"]) == 2
    assert "(with their defaults): none\n" in capsys.readouterr().err


# --- a user's mistakes: one line (or the command's usage), exit status 2 ------------------

@pytest.mark.parametrize("argv, message", [
    (["lesson", "solve", "--out", ""], "zeroin lesson: --out is empty: give a folder name"),
    (["lesson", "solve", "--out", "/proc/zeroin-forbidden"],
     "zeroin lesson: cannot create the output folder /proc/zeroin-forbidden ("),
    (["tour", "--out", "/proc/zeroin-forbidden"], "cannot create the output folder"),
    (["lesson", "--list", "extra"], "--list lists every lesson and takes nothing else "
                                    "(got 'extra')"),
    (["train", "moons", "--epochs", "-3"], "argument --epochs: must be a positive whole number (0 would "
                                           "train nothing), got -3"),
    (["train", "moons", "--epochs", "0"], "argument --epochs: must be a positive whole number (0 would "
                                          "train nothing), got 0"),
    (["lesson", "--set", "target=1"], "zeroin lesson: give the lesson's name for 'target=1'"),
    (["lesson", "--out", "x"], "zeroin lesson: give the lesson's name for '--out x'"),
    (["sweep", "moons", "--lr", "0.1", "--backend", "foo"],
     "invalid choice: 'foo' (choose from 'loky', 'threading', 'sequential', 'dask')"),
])
def test_mistakes_are_said_in_one_clear_line(argv, message, capsys):
    try:
        rc = main(argv)
    except SystemExit as e:             # argparse's own errors: usage, then one line
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2 and message in err and "Traceback" not in err and "Errno" not in err
    assert out == ""                    # nothing started: no run header for a bad backend
    assert err.strip().splitlines()[-1].count(message[:20]) == 1


def test_an_unknown_option_shows_the_commands_own_usage(capsys):
    for argv, usage in ((["tour", "--bogus"], "usage: zeroin tour "),
                        (["lesson", "solve", "extra"], "usage: zeroin lesson ")):
        with pytest.raises(SystemExit) as e:
            main(argv)
        err = capsys.readouterr().err
        assert e.value.code == 2 and err.startswith(usage)
        assert f"unrecognized arguments: {argv[-1]}" in err


def test_sweep_help_lists_the_backends_it_accepts(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "loky, threading, sequential or dask" in " ".join(capsys.readouterr().out.split())


def test_a_lesson_writes_into_its_own_folder_by_default(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["lesson", "solve"]) == 0
    assert main(["lesson", "chain_rule"]) == 0
    assert main(["lesson", "sensitivity", "--out", "mine"]) == 0       # --out stays exact
    capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "zeroin-out").iterdir()) == ["chain-rule",
                                                                         "solve"]
    assert (tmp_path / "zeroin-out" / "solve" / "solve.png").exists()
    assert (tmp_path / "zeroin-out" / "chain-rule" / "chain_rule_values.svg").exists()
    assert (tmp_path / "mine" / "sensitivity.png").exists()


def test_showing_a_lesson_twice_in_a_notebook_gives_unique_ids():
    import re

    from zeroin import lessons
    a, b = lessons.solve(verbose=False), lessons.solve(target=70, verbose=False)
    ids = re.findall(r'id="([^"]+)"', a._repr_html_() + b._repr_html_() + a._repr_html_())
    assert len(ids) == 6 and len(set(ids)) == 6
    assert 'id="solve"' in a.html() and 'id="fig-solve"' in a.html()   # the tour's anchors


@pytest.mark.parametrize("args, message", [
    (["descent", "--set", "eta=0"], "zeroin lesson: descent: eta must be > 0, got 0"),
    (["descent", "--set", "x0=1"], "descent: x0 = 1 is already the minimum; start elsewhere"),
    (["descent", "--set", "tol=-1"], "descent: tol must be > 0, got -1"),
    (["solve", "--set", "target=50"], "solve: target 50 is where z starts (b = 4); pick "
                                      "another target"),
    (["solve", "--set", "target=-1e9"], "solve: target must be between -4 and 176"),
    (["solve", "--set", "target=300"], "solve: target must be between -4 and 176"),
    (["solve", "--set", "tol=-1"], "solve: tol must be > 0, got -1"),
    (["sensitivity", "--set", "nudge=0"], "sensitivity: nudge must be > 0, got 0"),
    (["learning-rate", "--set", "etas=0.1,0"], "learning-rate: each eta must be > 0, got 0"),
    (["learning-rate", "--set", "x0=1"], "learning-rate: x0 = 1 is already the minimum"),
])
def test_lesson_parameters_out_of_range_are_one_line(args, message, capsys, tmp_path):
    assert main(["lesson", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_lessons_check_their_parameters_from_python_too():
    from zeroin import lessons
    for fn, kw in ((lessons.descent, {"eta": 0}), (lessons.solve, {"target": 50.0}),
                   (lessons.shooting, {"rounds": 0}), (lessons.loss, {"samples": 0}),
                   (lessons.convolution, {"train_epochs": 0}),
                   (lessons.learning_rate, {"etas": ()})):
        with pytest.raises(ValueError, match=f"{fn.__name__.replace('_', '-')}: "):
            fn(verbose=False, figures=False, **kw)


def test_descent_with_too_large_a_step_does_not_claim_to_converge():
    from zeroin import lessons
    r = lessons.descent(eta=1.5, verbose=False, figures=False)
    assert not r.converged and "go down to x = 1" not in r.intro
    assert any(n.startswith("Not converged") for n in r.notes)
    assert lessons.descent(verbose=False, figures=False).converged


@pytest.mark.parametrize("target", [-4.0, 20.0, 50.001, 176.0])
def test_solve_runs_across_its_whole_range(target):
    from zeroin import lessons
    r = lessons.solve(target=target, verbose=False, figures=True)
    assert abs(r.b_fixed_final[2] - target) < 1e-5 and abs(r.final_b - r.b_root) < 1e-4


def test_numpy_values_are_repeated_as_typed_and_the_text_says_the_command():
    import numpy as np
    from zeroin import lessons
    r = lessons.solve(target=np.float64(65), verbose=False, figures=False)
    assert r.command() == "zeroin lesson solve --set target=65"
    assert r.call() == "zeroin.lessons.solve(target=65.0)"
    assert "Run it yourself: zeroin lesson solve --set target=65" in r.text()
    lr = lessons.learning_rate(etas=np.array([.1, .5]), verbose=False, figures=False)
    assert lr.command() == "zeroin lesson learning-rate --set etas=0.1,0.5"
    assert "Run it yourself" not in lessons.solve(verbose=False, figures=False).text()


def test_tour_counts_with_the_lessons_count():
    from zeroin import tour
    assert not hasattr(tour, "_count")


def test_a_lesson_that_refuses_its_settings_leaves_no_empty_folder(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["lesson", "chain-rule", "--set", "v=5"]) == 2        # no such parameter
    assert main(["lesson", "solve", "--set", "target=50"]) == 2       # out of range
    assert main(["lesson", "solve", "--set", "target=50", "--out", "a/b/c"]) == 2
    assert sorted(os.listdir(tmp_path)) == []
    (tmp_path / "mine").mkdir()                     # a folder the teacher made stays
    assert main(["lesson", "solve", "--set", "target=50", "--out", "mine"]) == 2
    assert sorted(os.listdir(tmp_path)) == ["mine"]
    err = capsys.readouterr().err
    assert "chain-rule has no parameter 'v'" in err and "Traceback" not in err
    assert main(["lesson", "solve", "--set", "target=70", "--out", "a/b"]) == 0
    assert (tmp_path / "a" / "b" / "solve.png").exists()
