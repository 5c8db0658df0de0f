"""zeroin.viz.curves: the one plotter behind History.plot, the train command and the tour."""
import pytest

from zeroin.viz import curves


class _H:
    def __init__(self, history, best_epoch=None, monitor=None):
        self.history, self.best_epoch, self.monitor = history, best_epoch, monitor
        self.epoch = list(range(1, len(history["loss"]) + 1))


def test_labels_and_default_panels():
    assert curves.curve_label("val_loss") == "validation loss"
    assert curves.curve_label("accuracy") == "training accuracy"
    h = _H({"loss": [1.0], "lr": [0.1], "val_loss": [2.0], "accuracy": [0.5]})
    assert curves.default_panels(h) == [["loss", "val_loss"], ["accuracy", "val_accuracy"]]


def test_plot_history_log_axis_best_epoch_and_skipped_keys():
    pytest.importorskip("matplotlib")
    wide = _H({"loss": [100.0, 10.0, 1.0, 0.5], "val_loss": [90.0, 12.0, 1.5, 1.6]},
              best_epoch=3, monitor="val_loss")
    fig = curves.history_figure(wide)
    ax, = fig.axes
    assert ax.get_yscale() == "log"                      # spans a factor of 200
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["training loss", "validation loss", "lowest val loss (epoch 3)"]
    assert [ln.get_linestyle() for ln in ax.get_lines()[:2]] == ["-", "--"]
    narrow = _H({"loss": [2.0, 1.5, 1.2]})
    ax2, = curves.history_figure(narrow, keys=["loss", "val_loss"]).axes[:1]
    assert ax2.get_yscale() == "linear"


def test_an_empty_history_says_why_its_panel_is_empty():
    """eta too large: fit stops before the first epoch ends; history.plot() says so in
    the panel instead of drawing empty axes."""
    pytest.importorskip("matplotlib")
    h = _H({"loss": []})
    h.message = "training diverged at epoch 1, step 2: try a smaller learning rate"
    ax, = curves.history_figure(h).axes
    (text,) = [t.get_text() for t in ax.texts]
    assert text.startswith("No epoch finished, so there is no curve: training diverged")
    assert "smaller learning rate" in text.replace("\n", " ")
    assert len(curves.history_figure(_H({"loss": [1.0]})).axes[0].texts) == 0



def test_history_plot_dark_theme_reads_on_a_dark_slide(tmp_path):
    pytest.importorskip("matplotlib")
    import zeroin
    from matplotlib.colors import to_hex
    from matplotlib.image import imread
    from conftest import low_contrast
    from zeroin import nn, optim
    from zeroin.train import History, LivePlot
    h = _H({"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.7, 0.6], "accuracy": [0.5, 0.7, 0.8],
            "val_accuracy": [0.4, 0.6, 0.7]}, best_epoch=3, monitor="val_loss")
    dark = curves.history_figure(h, theme="dark")
    assert to_hex(dark.get_facecolor()) == "#0f172a" and low_contrast(dark) == []
    assert to_hex(curves.history_figure(h).get_facecolor()) == "#ffffff"   # as before
    empty = History()
    empty.message = "the loss blew up at once"
    note = curves.history_figure(empty, theme="dark")
    assert low_contrast(note) == [] and "blew up" in note.axes[0].texts[0].get_text()
    zeroin.manual_seed(0)
    model = nn.Linear(1, 1)
    x = zeroin.randn(16, 1)
    path = tmp_path / "live.png"
    zeroin.fit(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1), (x, 2 * x),
               epochs=2, verbose=0, callbacks=[LivePlot(path=path, theme="dark")])
    assert to_hex(imread(path)[2, 2, :3]) == "#0f172a"
    with pytest.raises(ValueError, match=r"History.plot: theme must be 'light' or 'dark'"):
        curves.history_figure(h, theme="night")
    with pytest.raises(ValueError, match=r"LivePlot: theme must be 'light' or 'dark'"):
        LivePlot(path=path, theme="night")
