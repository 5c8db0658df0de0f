"""Every copyable example in docs/*.md and in zeroin's docstrings runs as written, and
prints what its comments promise."""
import contextlib
import doctest
import importlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
# blocks that cannot run here, each with the reason (a marker found in the block)
SKIP = {"Client(\"tcp://HOST:8786\")": "needs a Dask scheduler at HOST (the network); "
        "the same sweep on a local Dask cluster is tests/test_commands.py's",
        "@op(CubeOp": "a template for zeroin/ops.py; test_add_an_op_recipe runs it there"}


def _md_blocks():
    """(file name, index, code) of every ```python block in docs/*.md."""
    out = []
    for name in sorted(f for f in os.listdir(DOCS) if f.endswith(".md")):
        with open(os.path.join(DOCS, name), encoding="utf-8") as f:
            blocks = re.findall(r"```python\n(.*?)```", f.read(), flags=re.DOTALL)
        out += [(name, i, textwrap.dedent(b)) for i, b in enumerate(blocks)]
    return out


def _promises(code):
    """The outputs promised by ``print(...)  # text`` lines: (text, is_approximate)."""
    found = re.findall(r"^\s*print\(.*\)\s+# (.+)$", code, flags=re.MULTILINE)
    return [(t[len("about "):], True) if t.startswith("about ") else (t, False) for t in found]


def _user_files(path):
    """The files the docs' "your own data" examples read: mydata/mytest .npz, prices.csv."""
    rng = np.random.default_rng(0)
    for name, n in (("mydata.npz", 300), ("mytest.npz", 100)):
        X = rng.normal(size=(n, 4))
        np.savez(path / name, data=X, label=(X[:, 0] + X[:, 1] > 0).astype(int))
    rows = rng.uniform(1, 5, size=(200, 2))
    lines = [f"{a:.3f},{b:.3f},{1000 * a + 300 * b:.2f}" for a, b in rows]
    (path / "prices.csv").write_text("size,rooms,price\n" + "\n".join(lines) + "\n")


@pytest.mark.parametrize("name, index, code", _md_blocks(),
                         ids=[f"{n}-{i}" for n, i, _ in _md_blocks()])
def test_docs_python_block_runs_and_prints_what_it_promises(name, index, code, tmp_path,
                                                             monkeypatch):
    for marker, reason in SKIP.items():
        if marker in code:
            pytest.skip(reason)
    if 'load_dataset("digits"' in code:
        pytest.importorskip("sklearn")          # the digits are scikit-learn's
    monkeypatch.chdir(tmp_path)
    _user_files(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, os.path.join(DOCS, name), "exec"), {"__name__": "__docs__"})
    printed = out.getvalue()
    for text, approx in _promises(code):
        if not approx:
            assert text in printed, (text, printed[-500:])
            continue
        want = re.match(r"[-\d.]+", text).group()
        tol = 2 * 10.0 ** -len(want.partition(".")[2])       # two units of the last digit
        numbers = [float(x) for x in re.findall(r"-?\d+\.\d+", printed)]
        assert any(abs(x - float(want)) <= tol for x in numbers), (text, printed[-500:])


def test_every_docs_block_is_run_or_skipped_for_a_reason():
    blocks = _md_blocks()
    assert len(blocks) >= 7
    for marker in SKIP:
        assert sum(marker in code for _, _, code in blocks) == 1, marker


def test_docs_file_examples_split_as_their_comments_say(tmp_path, monkeypatch):
    (code,) = [c for _, _, c in _md_blocks() if 'load_dataset("mydata.npz")' in c]
    monkeypatch.chdir(tmp_path)
    _user_files(tmp_path)
    scope = {}
    exec(code.split("\nd = load_dataset(\"mydata.npz\", test")[0], scope)
    d = scope["d"]
    assert [len(d.train), len(d.val), len(d.test)] == [210, 30, 60]      # 70 / 10 / 20
    d = scope["load_dataset"]("mydata.npz", test_path="mytest.npz")
    assert [len(d.train), len(d.val), len(d.test)] == [270, 30, 100]     # 90 / 10, the file


def test_add_an_op_recipe(tmp_path):
    """docs/architecture.md's steps 1 and 2 written into a copy of zeroin/ops.py give
    ``Tensor.cube``, ``zeroin.cube`` and ``ops.OPS["cube"]``, with its gradient."""
    (code,) = [c for _, _, c in _md_blocks() if "@op(CubeOp" in c]
    step1 = textwrap.dedent('''
        class CubeOp(Function):
            name = "cube"
            def forward(self, x): return x ** 3
            def backward(self, xp, g, out, x): return g * 3 * x * x
    ''')
    shutil.copytree(os.path.join(ROOT, "zeroin"), tmp_path / "zeroin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(tmp_path / "zeroin" / "ops.py", "a", encoding="utf-8") as f:
        f.write("\n" + step1 + "\n\n" + code)
    script = textwrap.dedent('''
        import zeroin
        from zeroin import ops
        x = zeroin.tensor([1.0, -2.0], requires_grad=True)
        zeroin.cube(x).sum().backward()
        assert x.cube().tolist() == [1.0, -8.0] and ops.OPS["cube"].fn is zeroin.cube
        assert x.grad.tolist() == [3.0, 12.0], x.grad
        assert zeroin.gradcheck(zeroin.cube, [zeroin.tensor([0.5, 2.0], requires_grad=True)])
        assert zeroin.cube.__doc__ == "Elementwise x ** 3."
        print("ok")
    ''')
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def _modules_with_examples():
    """zeroin's modules whose source holds a ``>>>`` example."""
    names = []
    for base, dirs, files in os.walk(os.path.join(ROOT, "zeroin")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                with open(os.path.join(base, f), encoding="utf-8") as fh:
                    if ">>>" not in fh.read():
                        continue
                rel = os.path.relpath(os.path.join(base, f), ROOT)[:-3].replace(os.sep, ".")
                names.append(rel.removesuffix(".__init__"))
    return names


@pytest.mark.parametrize("module", _modules_with_examples())
def test_docstring_examples_run(module, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # figures' example writes zeroin-out/
    mod = importlib.import_module(module)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = doctest.DocTestFinder().find(mod, module)
    out = io.StringIO()
    for t in tests:
        runner.run(t, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0, module
    assert result.failed == 0, out.getvalue()[-3000:]
