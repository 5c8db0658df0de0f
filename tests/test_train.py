"""zeroin.fit: the chapter's loop on real problems, its stop conditions, progress and callbacks."""
import io
import json
import math
import sys

import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.data import DataLoader, TensorDataset, load_dataset, make_linear, make_xor
from zeroin.train import (Callback, History, LambdaCallback, ModelCheckpoint, StopTraining,
                          TrainingDiverged, evaluate, fit, predict)


def _weights(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


def _same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _linear_setup(lr=0.1, seed=0):
    zeroin.manual_seed(seed)
    model = nn.Linear(1, 1)
    return model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr), make_linear(200, seed=0)


# --- targets ---------------------------------------------------------------------------------

def test_linear_regression_recovers_w2_b3():
    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=40, verbose=0)
    assert abs(model.weight.item() - 2) < 0.05
    assert abs(model.bias.item() - 3) < 0.05
    assert h["loss"][-1] < h["loss"][0] / 50
    assert h.stopped_reason == "epochs" and h.epochs_run == 40


def test_xor_2_4_1_reaches_100_percent():
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    X, y = make_xor()
    h = fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.1), (X, y),
            epochs=300, batch_size=4, metrics=["accuracy"], verbose=0)
    assert h["accuracy"][-1] == 1.0
    out = predict(model, X)
    np.testing.assert_array_equal(out[:, 0] > 0, y[:, 0] == 1)


def test_two_moons_at_least_97_percent():
    d = load_dataset("moons")
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 1))
    loss_fn = nn.BCEWithLogitsLoss()
    fit(model, loss_fn, optim.Adam(model.parameters(), lr=0.01), d.train, d.val, epochs=40,
        metrics=["accuracy"], verbose=0)
    assert evaluate(model, loss_fn, d.test, ["accuracy"])["accuracy"] >= 0.97


def test_digits_mlp_at_least_97_percent_in_30_epochs():
    # The default split (data seed 0) is a hard one for MLPs: this recipe scored 96.7-97.5%
    # over training seeds 0-5 (scikit-learn's MLPClassifier: 95.8-96.9%; seeds 1-3 of the
    # split give 98%+). Dropout and the cosine schedule are what lift it past 97%.
    d = load_dataset("digits")
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=3e-3)
    h = fit(model, nn.CrossEntropyLoss(), opt, d.train, d.val, epochs=30, metrics=["accuracy"],
            scheduler=optim.lr_scheduler.CosineAnnealingLR(opt, T_max=30), verbose=0)
    assert h.epochs_run == 30
    res = evaluate(model, nn.CrossEntropyLoss(), d.test, ["accuracy"])
    assert res["accuracy"] >= 0.97, res
    assert model.training                       # evaluate restored training mode


# --- data forms ------------------------------------------------------------------------------

@pytest.mark.parametrize("form", ["tuple", "dataset", "loader", "tensors"])
def test_accepts_arrays_dataset_or_loader(form):
    model, loss_fn, opt, (X, y) = _linear_setup()
    data = {"tuple": (X, y), "dataset": TensorDataset(X, y),
            "loader": DataLoader((X, y), batch_size=50, shuffle=True),
            "tensors": (zeroin.tensor(X), zeroin.tensor(y))}[form]
    h = fit(model, loss_fn, opt, data, epochs=2, batch_size=50, verbose=0)
    assert len(h.step_loss) == 2 * 4
    assert h.step_epoch == [1] * 4 + [2] * 4


def test_rejects_unknown_data():
    model, loss_fn, opt, _ = _linear_setup()
    with pytest.raises(TypeError, match=r"fit\(train_data\).*pair \(X, y\)"):
        fit(model, loss_fn, opt, "data.csv", verbose=0)


def test_optimizer_of_another_model_is_refused_before_training_nothing():
    model, loss_fn, _, (X, y) = _linear_setup()
    before = _weights(model)
    stale = optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)   # e.g. the model was rebuilt
    with pytest.raises(ValueError, match=r"fit: the optimizer holds none of the model's 2 "
                       r"parameters.*SGD\(model\.parameters\(\), \.\.\.\)"):
        fit(model, loss_fn, stale, (X, y), epochs=3, verbose=0)
    assert _same(before, _weights(model))
    # a part of the model (a frozen layer) is a legitimate choice, and trains
    net = nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1))
    head = optim.SGD(net[2].parameters(), lr=0.1)
    first = net[0].weight.data.copy()
    h = fit(net, loss_fn, head, (X, y), epochs=3, verbose=0)
    assert h.history["loss"][-1] < h.history["loss"][0]
    np.testing.assert_array_equal(net[0].weight.data, first)


def test_history_epoch_loss_is_mean_of_step_losses():
    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=3, batch_size=50, verbose=0)
    steps = np.array(h.step_loss).reshape(3, 4)
    np.testing.assert_allclose(h["loss"], steps.mean(1))          # equal batch sizes
    assert len(h["time"]) == 3 and all(t >= 0 for t in h["time"])
    json.dumps(h.to_dict())                                       # plain data


# --- stop conditions ---------------------------------------------------------------------------

def test_epsilon_stops_when_loss_is_small():
    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=200, epsilon=0.05, verbose=0)
    assert h.stopped_reason == "epsilon"
    assert h["loss"][-1] < 0.05 <= h["loss"][-2]
    assert h.epochs_run < 200 and "epsilon" in h.message


def test_patience_stops_and_restores_best_weights():
    model, loss_fn, opt, (X, y) = _linear_setup(lr=0.05)
    snapshots = {}
    # validation targets that training moves away from after a while: val_loss has a minimum
    Xv = np.linspace(-1, 1, 20)[:, None]
    yv = 1.0 * Xv + 1.5
    h = fit(model, loss_fn, opt, (X, y), val_data=(Xv, yv), epochs=100, patience=3,
            callbacks=[lambda hist, e: snapshots.__setitem__(e, _weights(model))], verbose=0)
    assert h.stopped_reason == "patience"
    best = h.best_epoch
    assert h["val_loss"][best - 1] == min(h["val_loss"])
    assert h.epochs_run == best + 3
    assert _same(_weights(model), snapshots[best])
    assert f"restored the weights of epoch {best}" in h.message


def _diverge_at(epoch, lr=1e4):
    """A callback that sets a huge learning rate at the end of ``epoch``."""
    def cb(history, e):
        if e == epoch:
            for g in history.optimizer.param_groups:
                g["lr"] = lr
    return cb


def test_divergence_stops_names_epoch_and_step_and_restores_last_good_epoch():
    model, loss_fn, opt, data = _linear_setup()
    snaps = {}
    h = fit(model, loss_fn, opt, data, epochs=20, verbose=0,
            callbacks=[lambda hist, e: snaps.__setitem__(e, _weights(model)), _diverge_at(2)])
    assert h.diverged and h.stopped_reason == "diverged"
    assert h.epochs_run == 2
    assert "diverged at epoch 3, step " in h.message and "smaller learning rate" in h.message
    assert "lr=10000" in h.message
    assert _same(_weights(model), snaps[2])
    assert all(math.isfinite(v) for v in h.step_loss)


def test_history_says_why_a_value_is_missing():
    """eta too large: the loss blows up in the first epoch, nothing is recorded, and
    history["loss"] (a learner's plot) says so instead of a bare KeyError: 'loss'."""
    model, loss_fn, opt, data = _linear_setup(lr=1e4)
    h = fit(model, loss_fn, opt, data, epochs=3, verbose=0)
    assert h.diverged and h.epochs_run == 0 and h.history == {}
    with pytest.raises(KeyError, match="'loss': no epoch has finished, so nothing is recorded "
                                       "yet: training diverged at epoch 1") as e:
        h.history["loss"]
    assert "smaller learning rate" in str(e.value)
    with pytest.raises(KeyError, match="no epoch has finished"):
        h["val_loss"]
    assert h.history.get("loss") is None and "loss" not in h
    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=1, verbose=0)
    with pytest.raises(KeyError, match=r"'val_loss' is not recorded; recorded are loss, .*; "
                                       r"validation values need val_data= in fit"):
        h.history["val_loss"]
    assert json.loads(json.dumps(h.to_dict()))["history"].keys() == h.history.keys()


def test_nan_loss_is_divergence():
    model, loss_fn, opt, data = _linear_setup()
    calls = []

    def nan_on_step_7(out, target):
        calls.append(1)
        loss = loss_fn(out, target)
        return loss * float("nan") if len(calls) == 7 else loss

    init = _weights(model)
    h = fit(model, nan_on_step_7, opt, data, epochs=5, batch_size=50, verbose=0)
    assert h.diverged and "epoch 2, step 3" in h.message and "NaN" in h.message
    assert h.epochs_run == 1 and not _same(_weights(model), init)


def test_divergence_puts_a_per_step_schedule_back_with_the_weights():
    # the schedule stepped through the bad epoch's batches; it goes back with the weights
    # and the optimizer, so that its position and the optimizer's lr agree afterwards
    model, loss_fn, opt, data = _linear_setup()
    sched = optim.lr_scheduler.LambdaLR(opt, lambda s: 0.9 ** s)
    calls = []

    def nan_on_step_7(out, target):
        calls.append(1)
        loss = loss_fn(out, target)
        return loss * float("nan") if len(calls) == 7 else loss

    h = fit(model, nan_on_step_7, opt, data, epochs=5, batch_size=50, verbose=0,
            scheduler=sched, scheduler_interval="step")
    assert h.diverged and h.epochs_run == 1
    assert sched.last_epoch == 4                    # epoch 1's four batches, not six
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0] == pytest.approx(0.1 * 0.9 ** 4)


def test_restore_best_puts_the_schedule_back_to_the_best_epoch():
    model, loss_fn, opt, data = _linear_setup()
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    X, y = data
    h = fit(model, loss_fn, opt, data, val_data=(X, y + 5.0 * np.sin(7 * X)), epochs=30,
            patience=2, scheduler=sched, verbose=0)
    assert h.stopped_reason == "patience" and h.best_epoch < h.stopped_epoch
    assert sched.last_epoch == h.best_epoch
    assert opt.param_groups[0]["lr"] == sched.get_last_lr()[0] == 0.1 * 0.5 ** h.best_epoch


def test_divergence_in_first_epoch_returns_initial_weights_and_can_raise():
    model, loss_fn, opt, data = _linear_setup(lr=50.0)
    init = _weights(model)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+.*smaller learning rate"):
        fit(model, loss_fn, opt, data, epochs=5, verbose=0, on_divergence="raise")
    assert _same(_weights(model), init)


def test_divergence_does_not_overwrite_saved_checkpoint(tmp_path):
    model, loss_fn, opt, data = _linear_setup()
    path = tmp_path / "best.npz"
    snaps = {}
    h = fit(model, loss_fn, opt, data, val_data=data, epochs=20, verbose=0,
            callbacks=[ModelCheckpoint(path, monitor="loss"),
                       lambda hist, e: snaps.__setitem__(e, _weights(model)), _diverge_at(3)])
    assert h.diverged
    saved = zeroin.load(path)
    assert saved["epoch"] == 3
    assert _same(saved["model"], snaps[3])
    assert "optimizer" in saved and saved["meta"] == {}


def test_model_checkpoint_resumes_a_killed_run_exactly(tmp_path):
    # the checkpoint holds model, optimizer, scheduler and RNG state: a run stopped after
    # epoch 2 and resumed in fresh objects gives the uninterrupted run's losses and weights
    def build():
        model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))
        opt = optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
        return model, opt, optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)

    d = load_dataset("moons")
    path = tmp_path / "last.npz"

    def run(model, opt, sched, epochs):
        return fit(model, nn.BCEWithLogitsLoss(), opt, d.train, epochs=epochs, verbose=0,
                   scheduler=sched, callbacks=[ModelCheckpoint(path, save_best_only=False)])

    zeroin.manual_seed(0)
    model, opt, sched = build()
    full = run(model, opt, sched, 4)
    zeroin.manual_seed(0)
    first = run(*build(), 2)
    zeroin.manual_seed(123)                       # another process: other draws
    m2, o2, s2 = build()
    ck = zeroin.load(path)
    assert ck["epoch"] == 2 and "scheduler" in ck
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["optimizer"])
    s2.load_state_dict(ck["scheduler"])
    zeroin.set_rng_state(ck["rng_state"])
    second = run(m2, o2, s2, 2)
    assert first.step_loss + second.step_loss == full.step_loss
    assert _same(_weights(m2), _weights(model))
    assert o2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


# --- seeds -------------------------------------------------------------------------------------

def _run(seed):
    zeroin.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
    d = load_dataset("moons")
    h = fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.01), d.train,
            epochs=3, verbose=0, seed=seed + 100)
    return h.step_loss, _weights(model)


def test_seed_makes_runs_identical():
    a_loss, a_w = _run(1)
    b_loss, b_w = _run(1)
    c_loss, _ = _run(2)
    assert a_loss == b_loss and _same(a_w, b_w)
    assert a_loss != c_loss


# --- callbacks -----------------------------------------------------------------------------------

def test_callback_hooks_order_and_stop_by_return():
    events = []

    class Recorder(Callback):
        def on_train_begin(self, history):
            events.append("begin")

        def on_epoch_begin(self, history, epoch):
            events.append(f"e{epoch}")

        def on_step_end(self, history, step, loss):
            events.append("s")

        def on_epoch_end(self, history, epoch):
            events.append(f"/e{epoch}")
            return StopTraining if epoch == 2 else None

        def on_train_end(self, history):
            events.append("end")

    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=10, batch_size=100, callbacks=[Recorder()],
            verbose=0)
    assert events == ["begin", "e1", "s", "s", "/e1", "e2", "s", "s", "/e2", "end"]
    assert h.stopped_reason == "callback" and h.epochs_run == 2


def test_callback_raising_stop_training_mid_epoch():
    def stop_at_5(history, step, loss):
        if step == 5:
            raise StopTraining("enough for a demo")

    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, epochs=10, batch_size=50,
            callbacks=[LambdaCallback(on_step_end=stop_at_5)], verbose=0)
    assert len(h.step_loss) == 5 and h.stopped_reason == "callback"
    assert h.message == "enough for a demo"
    with pytest.raises(TypeError, match="unknown hook"):
        LambdaCallback(on_batch=print)


def test_live_plot_writes_the_curves_every_n_epochs_and_after_the_last(tmp_path):
    pytest.importorskip("matplotlib")
    from zeroin.train import LivePlot
    path = tmp_path / "live" / "loss.png"
    path.parent.mkdir()
    seen = []

    class Watch(Callback):            # after LivePlot: what the file holds at each epoch
        def on_epoch_end(self, history, epoch):
            seen.append(path.stat().st_size if path.exists() else 0)

    live = LivePlot(every=2, path=path, figsize=(6.4, 3.6), dpi=50)
    model, loss_fn, opt, data = _linear_setup()
    fit(model, loss_fn, opt, data, epochs=5, callbacks=[live, Watch()], verbose=0)
    assert live.draws == 3 and seen[0] == 0 and seen[1] > 0 and seen[2] == seen[1]
    from matplotlib.image import imread
    assert imread(path).shape[:2] == (180, 320)      # figsize * dpi, the last epoch drawn
    assert sorted(p.name for p in path.parent.iterdir()) == ["loss.png"]   # no temp file left


def test_live_plot_updates_one_jupyter_output_in_place(monkeypatch):
    pytest.importorskip("matplotlib")
    display_mod = pytest.importorskip("IPython.display")
    import IPython
    from zeroin.train import LivePlot
    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def display(obj, display_id=False):
        calls.append(("display", obj))
        return Handle() if display_id else None

    monkeypatch.setattr(IPython, "get_ipython", lambda: type("Shell", (), {"kernel": 1})())
    monkeypatch.setattr(display_mod, "display", display)
    live = LivePlot()
    model, loss_fn, opt, data = _linear_setup()
    fit(model, loss_fn, opt, data, epochs=3, callbacks=[live], verbose=0)
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert all(c[1].data[:8] == b"\x89PNG\r\n\x1a\n" for c in calls)


def test_live_plot_says_when_it_would_draw_nothing():
    from zeroin.train import LivePlot
    with pytest.warns(UserWarning, match=r"LivePlot: not in a Jupyter kernel and no path="):
        LivePlot()
    with pytest.raises(ValueError, match=r"LivePlot: every must be a whole number .* got 0"):
        LivePlot(every=0, path="x.png")


# --- progress ------------------------------------------------------------------------------------

def test_verbose_0_prints_nothing(capsys):
    model, loss_fn, opt, data = _linear_setup()
    fit(model, loss_fn, opt, data, epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


def test_one_line_per_epoch_when_not_a_terminal():
    model, loss_fn, opt, data = _linear_setup()
    buf = io.StringIO()
    fit(model, loss_fn, opt, data, val_data=data, epochs=4, metrics=["r2"], file=buf)
    lines = buf.getvalue().strip().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("epoch 1/4") and "loss" in lines[0] and "val_r2" in lines[0]


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_tqdm_bar_with_live_loss_on_a_terminal():
    pytest.importorskip("tqdm")
    model, loss_fn, opt, data = _linear_setup()
    buf = _FakeTTY()
    fit(model, loss_fn, opt, data, epochs=3, file=buf)
    out = buf.getvalue()
    assert "\r" in out and "loss" in out and "step" in out      # a redrawn bar
    # and one line per epoch stays on the screen once each epoch's bar is cleared
    epoch_lines = [seg for line in out.splitlines() for seg in line.split("\r")
                   if seg.startswith("epoch ") and seg.rstrip().endswith("s")
                   and "it/s" not in seg and "step/s" not in seg]
    assert [seg.split()[1] for seg in epoch_lines] == ["1/3", "2/3", "3/3"]


def test_falls_back_to_lines_without_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    model, loss_fn, opt, data = _linear_setup()
    buf = _FakeTTY()
    fit(model, loss_fn, opt, data, epochs=2, file=buf)
    assert buf.getvalue().count("epoch ") == 2


def test_divergence_message_is_printed():
    model, loss_fn, opt, data = _linear_setup(lr=50.0)
    buf = io.StringIO()
    fit(model, loss_fn, opt, data, epochs=3, file=buf)
    assert "training diverged at epoch 1" in buf.getvalue()


# --- schedulers, clipping, history helpers --------------------------------------------------------

def test_scheduler_steps_once_per_epoch():
    model, loss_fn, opt, data = _linear_setup(lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    h = fit(model, loss_fn, opt, data, epochs=5, scheduler=sched, verbose=0)
    np.testing.assert_allclose(h["lr"], [0.1, 0.1, 0.05, 0.05, 0.025])


def test_reduce_lr_on_plateau_gets_the_monitored_loss():
    # fit passes the epoch's monitored loss to ReduceLROnPlateau.step; an absolute
    # threshold larger than any loss counts every epoch after the first as bad, so
    # patience=0 halves the lr each time
    model, loss_fn, opt, data = _linear_setup(lr=0.1)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=0,
                                                 threshold_mode="abs", threshold=1e9)
    h = fit(model, loss_fn, opt, data, epochs=4, scheduler=sched, verbose=0)
    np.testing.assert_allclose(h["lr"], [0.1, 0.1, 0.05, 0.025])
    assert sched.best == h["loss"][0]
    rising = optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    with pytest.raises(ValueError, match=r"mode='max'.*monitored loss.*mode='min'"):
        fit(model, loss_fn, opt, data, epochs=1, scheduler=rising, verbose=0)


def test_reduce_lr_on_plateau_follows_val_loss_as_by_hand():
    model, loss_fn, opt, data = _linear_setup(lr=0.5)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    val = make_linear(50, seed=1)
    h = fit(model, loss_fn, opt, data, val, epochs=6, scheduler=sched, verbose=0)
    _, _, ref_opt, _ = _linear_setup(lr=0.5)
    ref = optim.lr_scheduler.ReduceLROnPlateau(ref_opt, factor=0.5, patience=1)
    lrs = []
    for v in h["val_loss"]:
        lrs.append(ref_opt.param_groups[0]["lr"])
        ref.step(v)
    assert h["lr"] == lrs and opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]


def _one_cycle_lrs(steps_per_epoch, epochs, max_lr):
    """OneCycleLR's lr at the end of each epoch, stepped once per batch by hand."""
    model = nn.Linear(1, 1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, epochs=epochs,
                                          steps_per_epoch=steps_per_epoch)
    lrs = []
    for _ in range(epochs):
        for _ in range(steps_per_epoch):
            opt.step()
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def test_one_cycle_and_cyclic_lr_step_after_every_batch():
    # PyTorch steps OneCycleLR and CyclicLR per batch; per epoch, one cycle over
    # epochs * steps_per_epoch steps would barely leave its starting lr
    model, loss_fn, opt, data = _linear_setup(lr=0.1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = DataLoader(TensorDataset(*data), batch_size=32, shuffle=True)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, epochs=4,
                                          steps_per_epoch=len(loader))
    h = fit(model, loss_fn, opt, loader, epochs=4, scheduler=sched, verbose=0)
    assert sched.last_epoch == 4 * len(loader) == len(h.step_loss)
    np.testing.assert_allclose(h["lr"], _one_cycle_lrs(len(loader), 4, 0.2), rtol=1e-12)
    assert max(h["lr"]) > 0.15
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    cyc = optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3)
    fit(model, loss_fn, opt, loader, epochs=2, scheduler=cyc, verbose=0)
    assert cyc.last_epoch == 2 * len(loader)


def test_scheduler_interval_step_and_its_checks():
    model, loss_fn, opt, data = _linear_setup(lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)   # 200 rows: 7 batches
    h = fit(model, loss_fn, opt, data, epochs=3, scheduler=sched, scheduler_interval="step",
            verbose=0)
    np.testing.assert_allclose(h["lr"], [0.05, 0.025, 0.0125])
    with pytest.raises(ValueError, match="scheduler_interval must be"):
        fit(model, loss_fn, opt, data, scheduler=sched, scheduler_interval="batch", verbose=0)
    plateau = optim.lr_scheduler.ReduceLROnPlateau(opt)
    with pytest.raises(ValueError, match="ReduceLROnPlateau.*scheduler_interval='epoch'"):
        fit(model, loss_fn, opt, data, scheduler=plateau, scheduler_interval="step", verbose=0)


def test_one_cycle_too_short_for_the_run_is_refused_before_training():
    model, loss_fn, opt, data = _linear_setup(lr=0.1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, epochs=5, steps_per_epoch=1)
    before = _weights(model)
    with pytest.raises(ValueError, match=r"5 of its total_steps=5 left.*up to 35 times.*"
                                         r"steps_per_epoch=7"):
        fit(model, loss_fn, opt, data, epochs=5, scheduler=sched, verbose=0)
    assert _same(before, _weights(model)) and sched.last_epoch == 0
    # a resumed schedule has only its remaining steps: 3 epochs of 7 fit in 35 - 14
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.2, epochs=5, steps_per_epoch=7)
    with pytest.warns(UserWarning, match="before optimizer.step"):    # resumed by hand
        for _ in range(14):
            sched.step()
    fit(model, loss_fn, opt, data, epochs=3, scheduler=sched, verbose=0)
    assert sched.last_epoch == 35
    with pytest.raises(ValueError, match=r"0 of its total_steps=35 left"):
        fit(model, loss_fn, opt, data, epochs=1, scheduler=sched, verbose=0)


def test_clip_grad_norm_limits_each_step():
    model, loss_fn, opt, data = _linear_setup(lr=1.0)
    before = np.concatenate([p.data.ravel() for p in model.parameters()])
    fit(model, loss_fn, opt, data, epochs=1, batch_size=200, clip_grad_norm=0.01, verbose=0)
    after = np.concatenate([p.data.ravel() for p in model.parameters()])
    assert np.linalg.norm(after - before) <= 0.01 + 1e-9          # one step of lr * clip


def test_history_helpers_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss_fn, opt, data = _linear_setup()
    h = fit(model, loss_fn, opt, data, val_data=data, epochs=5, metrics=["mae"], verbose=0)
    assert isinstance(h, History) and "val_mae" in h and h.epoch == [1, 2, 3, 4, 5]
    assert h.epochs_to(h["loss"][2]) <= 3 and h.epochs_to(-1.0) is None
    fig = h.plot(path=tmp_path / "curves.png")
    assert len(fig.axes) == 2
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "History(epochs=5" in repr(h)


def test_evaluate_and_predict_do_not_record_graph():
    model, loss_fn, opt, (X, y) = _linear_setup()
    res = evaluate(model, loss_fn, (X, y), ["mse", "r2"])
    out = predict(model, X, batch_size=64)
    assert out.shape == (200, 1)
    assert res["loss"] == pytest.approx(np.mean((out - y) ** 2))
    assert res["mse"] == pytest.approx(res["loss"])
    assert all(p.grad is None for p in model.parameters())


# --- progress lines fit the terminal -------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 120])
def test_epoch_lines_fit_80_and_120_columns(columns, monkeypatch):
    import os
    import shutil
    monkeypatch.setattr(shutil, "get_terminal_size",
                        lambda fallback=(80, 24): os.terminal_size((columns, 24)))
    zeroin.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(64, 3))
    y = X @ np.ones((3, 2))
    model = nn.Linear(3, 2)
    buf = _FakeTTY()
    fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05), (X, y), (X, y),
        epochs=12, metrics=["r2", "mae"], verbose=2, file=buf)
    lines = buf.getvalue().splitlines()
    assert len(lines) == 12
    assert all(len(line) < columns for line in lines), max(map(len, lines))
    assert all(line.startswith("epoch ") and "loss" in line for line in lines)
    if columns == 120:                    # room for every number, full names
        assert "val_r2" in lines[0] and "val_mae" in lines[0] and lines[0].endswith("s")


# --- checks before training ----------------------------------------------------------------

def test_nan_in_data_is_a_data_error_before_any_step():
    model, loss_fn, opt, (X, y) = _linear_setup()
    before = _weights(model)
    Xb = X.copy()
    Xb[17, 0] = np.nan
    with pytest.raises(ValueError, match=r"inputs of train_data hold NaN in row 17.*not a "
                                         r"divergence"):
        fit(model, loss_fn, opt, (Xb, y), epochs=2, verbose=0)
    yb = y.copy()
    yb[[5, 9]] = np.inf
    with pytest.raises(ValueError, match=r"targets of val_data hold Inf in row 5, the first "
                                         r"of 2"):
        fit(model, loss_fn, opt, (X, y), (X, yb), epochs=2, verbose=0)
    loader = DataLoader(TensorDataset(Xb, y), batch_size=8)
    with pytest.raises(ValueError, match="row 17"):
        fit(model, loss_fn, opt, loader, epochs=2, verbose=0)
    assert _same(before, _weights(model))              # nothing was trained


def test_nan_in_a_plain_dataset_is_caught_at_its_batch():
    class Plain(zeroin.data.Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, i):
            return np.array([np.inf if i == 11 else 1.0]), np.array([1.0])

    model, loss_fn, opt, _ = _linear_setup()
    with pytest.raises(ValueError, match=r"inputs of train_data hold Inf in row 3 of the batch "
                                         r"of epoch 1, step 2"):
        fit(model, loss_fn, opt, Plain(), batch_size=8, shuffle=False, epochs=1, verbose=0)


def test_scheduler_class_or_of_another_optimizer_is_refused():
    model, loss_fn, opt, data = _linear_setup()
    with pytest.raises(TypeError, match=r"got the class StepLR; pass StepLR\(optimizer"):
        fit(model, loss_fn, opt, data, scheduler=optim.lr_scheduler.StepLR, verbose=0)
    other = optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(other, step_size=1)
    with pytest.raises(ValueError, match="built on another optimizer"):
        fit(model, loss_fn, opt, data, scheduler=sched, verbose=0)
    with pytest.raises(TypeError, match="step"):
        fit(model, loss_fn, opt, data, scheduler=0.5, verbose=0)


def test_data_is_cast_to_the_models_dtype():
    zeroin.manual_seed(0)
    X, y = make_linear(100, seed=0)
    model = nn.Linear(1, 1)
    h = fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1),
            (X.astype(np.float32), y.astype(np.float32)), epochs=20, verbose=0)
    assert model.weight.data.dtype == np.float64 and h["loss"][-1] < 0.1
    res = evaluate(model, nn.MSELoss(), (X.astype(np.float32), y.astype(np.float32)))
    assert res["loss"] < 0.1


def test_training_loop_pieces_are_named():
    from zeroin.train import TrainingLoop
    model, loss_fn, opt, data = _linear_setup()
    loop = TrainingLoop(model, loss_fn, opt, data, epochs=50, epsilon=0.05, verbose=0)
    assert [c.__name__ for c in loop.stop_conditions] == ["epsilon_reached",
                                                          "patience_exhausted"]
    h = loop.run()
    assert h.stopped_reason == "epsilon" and h.epochs_run < 50


def test_nan_in_plain_validation_data_is_refused_before_training():
    class Plain(zeroin.data.Dataset):
        def __len__(self):
            return 30

        def __getitem__(self, i):
            return np.array([1.0]), np.array([np.nan if i == 21 else 1.0])

    model, loss_fn, opt, data = _linear_setup()
    before = _weights(model)
    with pytest.raises(ValueError, match=r"targets of val_data hold NaN in row 21"):
        fit(model, loss_fn, opt, data, DataLoader(Plain(), batch_size=8), epochs=2,
            verbose=0)
    assert _same(before, _weights(model))


def test_fit_refuses_a_list_x_y_that_would_be_read_as_two_samples():
    # a list means samples (PyTorch's DataLoader); [X, y] used to be zeroin's (X, y)
    x, y = np.random.default_rng(0).random((10, 2)), np.zeros((10, 1))
    model = zeroin.nn.Linear(2, 1)
    opt = zeroin.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"fit\(train_data\): got a list of 2 arrays of 10 "
                                        r"rows.*Pass a tuple \(X, y\)"):
        zeroin.fit(model, zeroin.nn.MSELoss(), opt, [x, y], epochs=1, verbose=0)
    zeroin.fit(model, zeroin.nn.MSELoss(), opt, (x, y), epochs=1, verbose=0)


def test_fit_drives_lbfgs_with_a_closure_and_matches_the_loop_by_hand():
    """An optimizer that needs a closure (LBFGS) gets one over the batch: fit's weights
    equal those of the PyTorch-style loop written by hand, bit for bit, and the loss it
    logs is the batch's loss before the step, as for SGD."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.01 * rng.standard_normal((64, 1))

    def make():
        zeroin.manual_seed(0)
        model = nn.Linear(3, 1, dtype=np.float64)
        return model, optim.LBFGS(model.parameters(), lr=1, max_iter=5,
                                  line_search_fn="strong_wolfe")

    model, opt = make()
    h = fit(model, nn.MSELoss(), opt, (X, y), epochs=3, batch_size=64, shuffle=False,
            verbose=0)
    ref, ropt = make()
    xt, yt = zeroin.tensor(X), zeroin.tensor(y)
    first = []
    for _ in range(3):
        def closure():
            ropt.zero_grad()
            loss = nn.MSELoss()(ref(xt), yt)
            loss.backward()
            return loss
        first.append(ropt.step(closure).item())
    np.testing.assert_array_equal(model.weight.numpy(), ref.weight.numpy())
    np.testing.assert_array_equal(model.bias.numpy(), ref.bias.numpy())
    assert h["loss"] == pytest.approx(first, rel=1e-12)
    assert h["loss"][-1] < 1e-3 < h["loss"][0]


# --- a model ending in a sigmoid, trained with BCELoss (NNFS's binary classifier) --------------

def test_accuracy_reads_bce_outputs_as_probabilities():
    # outputs in (0, 1) thresholded at 0 (logits) call every sample class 1: accuracy 0.5
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([[0.0], [0.0], [1.0], [1.0]])
    model = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid())
    with zeroin.no_grad():
        model[0].weight.fill_(3.0)
        model[0].bias.fill_(0.0)
    probs = predict(model, X)
    assert probs.min() > 0 and np.array_equal(probs > 0.5, y > 0.5)
    for loss_fn in (nn.BCELoss(), zeroin.nn.functional.binary_cross_entropy):
        assert evaluate(model, loss_fn, (X, y), ["accuracy"])["accuracy"] == 1.0
        h = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), (X, y), (X, y),
                epochs=1, batch_size=4, metrics=["accuracy", "mse"], verbose=0)
        assert h["accuracy"] == [1.0] and h["val_accuracy"] == [1.0]
    # logits with BCEWithLogitsLoss keep threshold 0
    logit_model = model[0]
    assert evaluate(logit_model, nn.BCEWithLogitsLoss(), (X, y), ["accuracy"])["accuracy"] == 1.0


@pytest.mark.parametrize("bs", [None, 0, 2.5, True])
def test_fit_batch_size_must_be_a_count(bs):
    X, y = make_linear(10, seed=0)
    model = nn.Linear(1, 1)
    with pytest.raises(ValueError, match=r"fit\(train_data\): batch_size must be a whole "
                                         r"number >= 1.*batch_size=10"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (X, y), (X, y),
            batch_size=bs, verbose=0)


def test_fit_batch_size_none_with_a_train_loader_names_the_validation_batch():
    X, y = make_linear(10, seed=0)
    model = nn.Linear(1, 1)
    loader = DataLoader(TensorDataset(X, y), batch_size=5)
    with pytest.raises(ValueError, match=r"fit\(val_data\): batch_size must be a whole number"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), loader, (X, y),
            batch_size=None, verbose=0)
    with pytest.raises(ValueError, match=r"batch_size=len\(X\)"):
        fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (), batch_size=None,
            verbose=0)
