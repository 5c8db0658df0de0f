"""`zeroin train`, `zeroin evaluate` and `zeroin sweep`, through the real command line parser."""
import json

import numpy as np
import pytest

import zeroin
from zeroin.cli import main
from zeroin.commands import build_mlp, make_optimizer, sweep, sweep_table

pytest.importorskip("matplotlib")
pytest.importorskip("joblib")

PNG = b"\x89PNG\r\n\x1a\n"


def test_train_then_evaluate_rebuilds_the_model(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["train", "moons", "--hidden", "16,8", "--epochs", "8", "--lr", "0.02",
               "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "epoch 8/8" in text
    test_line = next(line for line in text.splitlines() if line.startswith("test "))
    acc = float(test_line.split("accuracy")[1].split()[0])
    assert acc >= 0.9
    for name in ("model.npz", "loss.png", "accuracy.png", "history.json"):
        assert (out / name).exists(), name
    assert (out / "loss.png").read_bytes()[:8] == PNG
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["history"]["loss"]) == 8 and "accuracy" in hist["test"]

    ck = zeroin.load(out / "model.npz")
    assert ck["meta"]["architecture"] == {"in_features": 2, "hidden": [16, 8],
                                          "out_features": 1, "activation": "relu"}
    assert set(ck["optimizer"]) == {"state", "param_groups"}

    assert main(["evaluate", str(out / "model.npz"), "moons"]) == 0
    ev = capsys.readouterr().out
    assert "2-16-8-1" in ev
    assert f"accuracy {acc:.4f}" in ev                  # the same test accuracy as training


def test_train_digits_keeps_the_standardizer_for_evaluate(tmp_path, capsys):
    out = tmp_path / "digits"
    assert main(["train", "digits", "--hidden", "32", "--epochs", "3", "--out", str(out),
                 "--verbose", "0"]) == 0
    trained = capsys.readouterr().out
    ck = zeroin.load(out / "model.npz")
    assert ck["meta"]["standardizer"]["mean"].shape == (64,)
    assert main(["evaluate", str(out / "model.npz"), "digits"]) == 0
    test_line = next(line for line in trained.splitlines() if line.startswith("test "))
    acc_train = test_line.split("accuracy ")[1].split()[0]
    assert f"accuracy {acc_train}" in capsys.readouterr().out


def test_train_regression_prints_r2(tmp_path, capsys):
    assert main(["train", "linear", "--hidden", "8", "--epochs", "30", "--out",
                 str(tmp_path), "--verbose", "0"]) == 0
    text = capsys.readouterr().out
    r2 = float(text.split(" r2 ")[1].split()[0])
    assert r2 > 0.95
    assert (tmp_path / "r2.png").exists()


def test_divergent_training_fails_clearly_and_keeps_the_old_checkpoint(tmp_path, capsys):
    assert main(["train", "linear", "--hidden", "8", "--epochs", "3", "--optimizer", "sgd",
                 "--lr", "0.05", "--out", str(tmp_path), "--verbose", "0"]) == 0
    before = (tmp_path / "model.npz").read_bytes()
    capsys.readouterr()
    rc = main(["train", "linear", "--hidden", "8", "--epochs", "3", "--optimizer", "sgd",
               "--lr", "100", "--out", str(tmp_path), "--verbose", "0"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "diverged at epoch 1, step" in err and "smaller learning rate" in err
    assert "no checkpoint was written" in err
    assert (tmp_path / "model.npz").read_bytes() == before


def test_evaluate_errors_are_clear(tmp_path, capsys):
    out = tmp_path / "m"
    assert main(["train", "xor", "--hidden", "4", "--epochs", "1", "--out", str(out),
                 "--verbose", "0"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out / "model.npz"), "digits"]) == 2
    assert "2 inputs" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes((out / "model.npz").read_bytes()[:100])
    assert main(["evaluate", str(bad), "xor"]) == 2
    assert "bad.npz" in capsys.readouterr().err
    zeroin.save({"w": np.ones(2)}, tmp_path / "other.npz")
    assert main(["evaluate", str(tmp_path / "other.npz"), "xor"]) == 2
    assert "no architecture" in capsys.readouterr().err


def test_checkpoint_for_another_architecture_names_the_parameter(tmp_path):
    zeroin.save({"model": build_mlp(2, [4], 1).state_dict()}, tmp_path / "a.npz")
    state = zeroin.load(tmp_path / "a.npz")["model"]
    with pytest.raises(ValueError, match=r"'0\.weight'.*\(4, 2\).*\(5, 2\)"):
        build_mlp(2, [5], 1).load_state_dict(state)
    with pytest.raises(KeyError, match=r"missing key\(s\) '4\.weight'"):
        build_mlp(2, [4, 3], 1).load_state_dict(state)


def test_train_on_an_mnist_folder(tmp_path, capsys):
    from zeroin.data import MNIST_FILES, write_idx
    rng = np.random.default_rng(0)
    labels = {"train": rng.integers(0, 10, 200), "test": rng.integers(0, 10, 50)}
    for part in ("train", "test"):
        imgs = np.zeros((len(labels[part]), 28, 28), np.uint8)
        for i, c in enumerate(labels[part]):           # digit c lights up row block c
            imgs[i, 2 * c:2 * c + 2, :] = 255
        write_idx(tmp_path / MNIST_FILES[f"{part}_images"], imgs)
        write_idx(tmp_path / MNIST_FILES[f"{part}_labels"], labels[part].astype(np.uint8))
    out = tmp_path / "out"
    assert main(["train", f"mnist:{tmp_path}", "--hidden", "16", "--epochs", "5", "--out",
                 str(out), "--verbose", "0"]) == 0
    assert "accuracy 1.0000" in capsys.readouterr().out
    assert main(["evaluate", str(out / "model.npz"), f"mnist:{tmp_path}"]) == 0


def test_make_optimizer_names():
    params = build_mlp(2, [3], 1).parameters()
    opt = make_optimizer("nesterov", params, 0.1)
    assert type(opt).__name__ == "SGD" and opt.param_groups[0]["nesterov"]
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", params, 0.1)
    with pytest.raises(ValueError, match="unknown activation"):
        build_mlp(2, [3], 1, "swish")


# --- sweep -----------------------------------------------------------------------------------

def _summary(results):
    return [(r["lr"], r["losses"], r["diverged"], r["epochs_to_target"]) for r in results]


def test_sweep_learning_rate_decides_training_time():
    res = sweep("linear", [0.001, 0.1, 100.0], hidden=[8], epochs=15, backend="sequential",
                target=0.05)
    slow, good, wild = res
    assert good["epochs_to_target"] is not None and slow["epochs_to_target"] is None
    assert good["final_loss"] < slow["final_loss"]
    assert wild["diverged"] and not good["diverged"]
    assert "smaller learning rate" in wild["message"]
    table = sweep_table(res)
    assert table.splitlines()[0].split()[:2] == ["lr", "final"]
    assert "yes (epoch 1)" in table


def test_sweep_is_the_same_in_parallel_processes():
    seq = sweep("xor", [0.01, 0.3], hidden=[4], epochs=4, backend="sequential")
    par = sweep("xor", [0.01, 0.3], hidden=[4], epochs=4, jobs=2)
    assert _summary(par) == _summary(seq)
    thr = sweep("xor", [0.01, 0.3], hidden=[4], epochs=4, jobs=2, backend="threading")
    assert _summary(thr) == _summary(seq)


def test_sweep_command_writes_table_figure_and_json(tmp_path, capsys):
    rc = main(["sweep", "xor", "--lr", "0.01,0.5,1000", "--hidden", "4", "--epochs", "4",
               "--jobs", "1", "--backend", "sequential", "--out", str(tmp_path)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "epochs to target" in text and "lr=1000: training diverged" in text
    assert (tmp_path / "sweep.png").read_bytes()[:8] == PNG
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert [r["lr"] for r in data["runs"]] == [0.01, 0.5, 1000.0]
    assert data["runs"][2]["diverged"] is True


def test_sweep_rejects_bad_input(capsys):
    with pytest.raises(ValueError, match="positive"):
        sweep("xor", [0.1, -1.0])
    assert main(["sweep", "xor", "--lr", "0.1", "--scheduler", "tcp://x:1"]) == 2
    assert "--backend dask" in capsys.readouterr().err


def test_sweep_on_dask_local_cluster():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("dask.distributed")
    import joblib
    seq = sweep("xor", [0.01, 0.3], hidden=[4], epochs=3, backend="sequential")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        via_address = sweep("xor", [0.01, 0.3], hidden=[4], epochs=3, backend="dask",
                            scheduler=cluster.scheduler_address)
        # the one line from the docs: the same call, run by whatever cluster is current
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            via_context = sweep("xor", [0.01, 0.3], hidden=[4], epochs=3)
    assert _summary(via_address) == _summary(seq)
    assert _summary(via_context) == _summary(seq)
