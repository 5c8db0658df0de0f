"""The README's Python examples run as written and print what their comments promise."""
import contextlib
import io
import os
import re

import pytest

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.DOTALL)


def _block(marker):
    found = [b for b in _blocks() if marker in b]
    assert len(found) == 1, f"README: expected one python block containing {marker!r}"
    return found[0]


def _run(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    scope = {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        exec(compile(code, README, "exec"), scope)
    return scope, out.getvalue()


def test_quick_start_runs_and_prints_the_chapter_gradients(tmp_path, monkeypatch):
    scope, out = _run(_block("zeroin.explain(z, b)"), tmp_path, monkeypatch)
    assert scope["w"].grad.item() == 10 and scope["b"].grad.item() == 15
    assert "dz/db = dz/dx * dx/db + dz/dy * dy/db = 5 * 1 + 10 * 1 = 15" in out
    assert "dz/dw = dz/dx * dx/dw = 5 * 2 = 10" in out
    assert (tmp_path / "paths-to-b.svg").stat().st_size > 0


def test_training_example_runs_with_the_loss_that_fits_the_dataset(tmp_path, monkeypatch):
    # moons is binary: (n, 1) float targets; CrossEntropyLoss with 2 outputs raised here
    code = _block("load_dataset(").replace("metrics=[\"accuracy\"])",
                                            "metrics=[\"accuracy\"], verbose=0)")
    scope, _ = _run(code, tmp_path, monkeypatch)
    d, history = scope["d"], scope["history"]
    assert d.task == "binary"
    assert scope["model"][-1].out_features == d.out_features
    acc = history.history["val_accuracy"][-1]
    assert acc > 0.8, f"README training example reaches only {acc:.3f} validation accuracy"


def test_replay_example_runs_as_written_and_prints_its_losses(tmp_path, monkeypatch):
    code = _block("zeroin.replay(")
    scope, out = _run(code, tmp_path, monkeypatch)
    promised = re.findall(r"# (loss \d\.\d+)", code)
    assert len(promised) == 2 and out.splitlines() == promised
    assert scope["loss_fn"]().grad_fn.name == "replay"


def test_every_comment_promising_output_is_printed(tmp_path, monkeypatch):
    # "print(...)  # text": the text is what the line prints (or, "... text", its end)
    for code in _blocks():
        promised = [m.group(1).removeprefix("... ")
                    for m in re.finditer(r"^print\(.*\)\s+# (.+)$", code, flags=re.MULTILINE)]
        if not promised:
            continue
        _, out = _run(code, tmp_path, monkeypatch)
        for text in promised:
            assert text in out, (text, out[-500:])


@pytest.mark.parametrize("block", range(len(_blocks())))
def test_every_python_block_compiles(block):
    compile(_blocks()[block], README, "exec")


def test_your_own_function_example_prints_the_halving_path_and_writes_the_figure(
        tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    scope, out = _run(_block("descent_path(lambda x: x ** 2"), tmp_path, monkeypatch)
    lines = out.splitlines()
    assert lines[0] == "[1.0, 0.5, 0.25, 0.125, 0.0625]"
    assert lines[1] == "figures/descent.png"
    assert (tmp_path / "figures" / "descent.png").stat().st_size > 0
    assert scope["files"].caption.startswith("Gradient descent: SGD, lr = 0.4")
