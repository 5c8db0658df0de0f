"""The notebooks in notebooks/: stored without outputs, one per lesson, and each runs top to
bottom in a fresh Jupyter kernel without an error, quietly and without writing files."""
import os
import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from zeroin import lessons  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT = 120       # seconds per cell


def _read(path):
    return nbformat.read(str(path), as_version=4)


def test_there_is_a_start_here_notebook_and_one_per_lesson():
    names = [p.stem for p in NOTEBOOKS]
    assert any("start-here" in n for n in names), names
    for lesson in lessons.LESSONS:      # named NN-<lesson>.ipynb
        assert [n for n in names if n.split("-", 1)[-1] == lesson] != [], (lesson, names)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: stored with outputs; clear them before committing")
            assert not cell.metadata.get("execution"), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    # The kernel imports this checkout's zeroin, and runs in an empty folder so that any
    # file a notebook writes shows up.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = _read(path)
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    # raises CellExecutionError, with the traceback, on any error; how long each notebook
    # takes is a target of benchmarks/run.py (NOTEBOOKS), not an assertion here
    client.execute()
    assert list(tmp_path.iterdir()) == [], f"{path.name} wrote files"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    for c in code:
        if c.source.strip().startswith("lessons.") and "\n" not in c.source.strip():
            # a lesson run alone in a cell: quiet, its rich result is the output
            kinds = [o.output_type for o in c.outputs]
            assert kinds == ["execute_result"], (path.name, c.source, kinds)
            html = c.outputs[0].data["text/html"]
            assert '<section id="' in html and "data:image/" in html
