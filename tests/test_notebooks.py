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


def test_start_here_install_lines_work_from_where_they_run():
    """zeroin is installed from a clone (README's set-up): `pip install "zeroin[plots]"`
    "from PyPI" finds no such package, and a `%pip install -e ".[plots]"` typed in a cell
    runs in notebooks/, where "." has no pyproject.toml."""
    import re
    nb = _read(ROOT / "notebooks" / "00-start-here.ipynb")
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    lines = [ln.strip() for ln in text.splitlines() if re.match(r"\s*%?pip install", ln)]
    assert lines, "the start-here notebook says how to install"
    for line in lines:
        target = re.search(r'pip install (?:-e )?"?([^"\s\[]*)', line).group(1)
        assert target not in ("zeroin", "") and "PyPI" not in line, line
        where = ROOT / "notebooks" if line.startswith("%pip") else ROOT
        assert (where / target / "pyproject.toml").is_file(), line


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


def test_start_here_loss_plot_has_a_title_and_labels_and_fits_a_slide(monkeypatch):
    """The start-here notebook's loss plot, run on a short real history: titled, both axes
    named, 16:9, every text inside the figure."""
    matplotlib = pytest.importorskip("matplotlib")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib.use("Agg")
    import zeroin
    from zeroin import nn, optim
    from zeroin.data import load_dataset

    (cell,) = [c.source for c in _read(ROOT / "notebooks" / "00-start-here.ipynb").cells
               if c.cell_type == "code" and "plt.subplots" in c.source]
    data = load_dataset("moons", seed=0)
    zeroin.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    history = zeroin.fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters()),
                         data.train, data.val, epochs=2, verbose=0)
    scope = {"history": history}
    exec(cell.replace("plt.show()", ""), scope)
    fig, ax = scope["fig"], scope["ax"]
    try:
        assert ax.get_title() and ax.get_xlabel() == "epoch" and ax.get_ylabel()
        w, h = fig.get_size_inches()
        assert abs(w / h - 16 / 9) < 0.01, (w, h)
        fig.canvas.draw()
        r = fig.canvas.get_renderer()
        box = ax.get_tightbbox(r)
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width + 1 \
            and box.y1 <= fig.bbox.height + 1, box
    finally:
        scope["plt"].close(fig)


def test_start_here_training_with_too_large_an_lr_says_why_it_stopped(capsys):
    """A learner's lr = 100 in the start-here notebook: the loss blows up before an epoch
    ends; the cell prints why (fit runs quietly there, verbose=0)."""
    (cell,) = [c.source for c in _read(ROOT / "notebooks" / "00-start-here.ipynb").cells
               if c.cell_type == "code" and "zeroin.fit(" in c.source]
    assert "hidden, lr, epochs = 16, 0.01, 30" in cell
    scope = {}
    exec("import zeroin\n" + cell.replace("16, 0.01, 30", "16, 100.0, 30"), scope)
    out = capsys.readouterr().out
    assert scope["history"].diverged and "after 0 epochs" in out
    assert "training diverged at epoch 1" in out and "try a smaller learning rate" in out

