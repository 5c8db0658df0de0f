"""The command line when things go wrong: a late Ctrl-C, a user's mistake (one line, exit
status 2), and commands that reproduce what a page or a lesson shows."""
import json
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
                          "accuracy.png, model.npz to")
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

    def save_and_press_ctrl_c(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)    # what a Ctrl-C calls
        return real(*args, **kwargs)
    monkeypatch.setattr(recipes, "save_checkpoint", save_and_press_ctrl_c)
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 130
    assert "interrupted while the model was saved" in capsys.readouterr().err
    assert zeroin.load(out / "model.npz")["meta"]["test"]["accuracy"] > 0
    assert (out / "history.json").exists() and not (out / "loss.png").exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # put back


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
