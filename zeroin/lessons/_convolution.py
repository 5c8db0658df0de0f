"""Lesson 8: convolution, a kernel sliding over an image, and its backward pass."""
from __future__ import annotations

import numpy as np

import zeroin
from ._common import LessonResult, Table, lesson, plots_ok, whole
from ..viz.contexts import size as _fs

HADAMARD = "\u2299"     # ⊙, the element-by-element product (× would read as a matrix product)

# A 5x5 image with a bright vertical bar, and a vertical-edge kernel: small whole numbers,
# so every product can be checked by hand.
X = np.array([[0, 1, 2, 1, 0],
              [0, 1, 3, 1, 0],
              [0, 2, 3, 2, 0],
              [0, 1, 3, 1, 0],
              [0, 1, 2, 1, 0]], dtype=float)
W = np.array([[1, 0, -1],
              [1, 0, -1],
              [1, 0, -1]], dtype=float)
G = np.array([[1, 0, -1],           # dL/dy: the gradient arriving from the layers above
              [2, 1, 0],
              [0, -1, 1]], dtype=float)


def _grid(a):
    return [[float(v) for v in row] for row in np.asarray(a)]


def _grid_table(title, a, name):
    rows = [[f"{name}[{i}, :]"] + [float(v) for v in row] for i, row in enumerate(a)]
    return Table(title, ["row"] + [f"col {j}" for j in range(a.shape[1])], rows,
                 [""] + ["g"] * a.shape[1])


def correlate(x, k):
    """Valid cross-correlation written out: out[i, j] = sum(x[i:i+kh, j:j+kw] * k)."""
    kh, kw = k.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(x[i:i + kh, j:j + kw] * k)
    return out


@lesson
def convolution(out=None, *, verbose=None, figures=True, train_epochs=4, theme="light"):
    """A 3x3 kernel sliding over a 5x5 image; its gradients by the chain rule; a digits CNN."""
    whole("convolution", "train_epochs", train_epochs)
    res = LessonResult(
        "convolution", "Lesson 8 - convolution: a kernel sliding over an image",
        intro=("A convolution layer slides a small kernel of weights over the image: each "
               "output number is a window of the input multiplied element by element by the "
               "kernel, then summed, "
               "y[i, j] = sum_a sum_b x[i+a, j+b] w[a, b] (deep-learning libraries compute "
               "this cross-correlation and call it convolution). The same 9 weights are used "
               "at every position, so the layer looks for one pattern everywhere. Backward, "
               "the chain rule gives dL/dw[a, b] = sum_i sum_j x[i+a, j+b] dL/dy[i, j], the "
               "correlation of the input with the output's gradient, and dL/dx = the full "
               "convolution of dL/dy with the kernel flipped both ways."))
    x = zeroin.tensor(X.reshape(1, 1, 5, 5), requires_grad=True, name="x")
    w = zeroin.tensor(W.reshape(1, 1, 3, 3), requires_grad=True, name="w")
    y = zeroin.nn.functional.conv2d(x, w)
    y.name = "y"
    loss = (y * zeroin.tensor(G.reshape(1, 1, 3, 3))).sum()
    loss.name = "L"
    gx, gw = zeroin.grad(loss, [x, w], retain_graph=True)
    yv = y.data[0, 0]
    res.tables += [_grid_table("The input x (5x5)", X, "x"),
                   _grid_table("The kernel w (3x3)", W, "w"),
                   _grid_table("The output y = conv2d(x, w) (3x3)", yv, "y"),
                   _window_table(yv)]
    gw_formula = correlate(X, G)
    gx_formula = correlate(np.pad(G, 2), W[::-1, ::-1])
    gwv, gxv = gw.data[0, 0], gx.data[0, 0]
    res.tables += [
        _grid_table("The output's gradient dL/dy (given; L = sum(y * dL/dy))", G, "dL/dy"),
        _grid_table("dL/dw by autograd", gwv, "dL/dw"),
        _grid_table("dL/dw by the formula: correlation of x with dL/dy", gw_formula, "dL/dw"),
        _grid_table("dL/dx by autograd", gxv, "dL/dx"),
        _grid_table("dL/dx by the formula: dL/dy padded by 2, correlated with the flipped "
                    "kernel (a full convolution)", gx_formula, "dL/dx")]
    err_w = float(np.abs(gwv - gw_formula).max())
    err_x = float(np.abs(gxv - gx_formula).max())
    res.texts["explain"] = str(zeroin.explain(loss, w))
    res.values.update(x=_grid(X), w=_grid(W), y=_grid(yv), dL_dy=_grid(G), grad_w=_grid(gwv),
                      grad_w_formula=_grid(gw_formula), grad_x=_grid(gxv),
                      grad_x_formula=_grid(gx_formula), max_diff_w=err_w, max_diff_x=err_x,
                      y_center=float(yv[1, 1]))
    cnn = _digits_cnn(train_epochs)
    res.values.update(cnn_test_accuracy=cnn["accuracy"], cnn_epochs=train_epochs,
                      cnn_parameters=cnn["parameters"])
    res.notes += [
        f"y[1, 1] = {yv[1, 1]:g}: the window x[1:4, 1:4] multiplied element by element by "
        f"the kernel, summed; the kernel (+1 left, -1 right) answers 'brighter on the left "
        f"than on the right?': y is negative left of the bright bar (the window's right side "
        f"is brighter), positive right of it and 0 on it, where both sides match.",
        f"dL/dw by autograd equals the correlation of x with dL/dy (largest difference "
        f"{err_w:g}); dL/dx equals the full convolution of dL/dy with the flipped kernel "
        f"(largest difference {err_x:g}). Every input pixel gets gradient from every window "
        f"that covered it, weighted by the kernel value that touched it.",
        f"A small CNN (4 filters of 3x3, max-pooling, one linear layer: "
        f"{cnn['parameters']} weights) trained for {train_epochs} epochs on the 8x8 digits "
        f"reaches {cnn['accuracy']:.1%} test accuracy; its filters are in the figures. "
        f"`zeroin train digits --model cnn` trains a larger one.",
    ]
    if plots_ok(res, figures):
        res.figures["window"] = _draw_window(out, yv, theme=theme)
        res.figures["filters"] = _draw_filters(out, cnn, theme)
    return res


def _window_table(yv):
    rows = []
    for i in range(3):
        for j in range(3):
            win = X[i:i + 3, j:j + 3]
            terms = " + ".join(f"{a:g}*{b:g}" for a, b in zip(win.ravel(), W.ravel()) if b)
            rows.append([f"y[{i}, {j}]", f"x[{i}:{i + 3}, {j}:{j + 3}]", terms, float(yv[i, j])])
    return Table("The sliding window: each output is one window multiplied element by "
                 "element by the kernel, summed (the kernel's zero column left out)",
                 ["output", "window", "products", "value"],
                 rows, ["", "", "", "g"])


def _digits_cnn(epochs, seed=0):
    """A tiny CNN on scikit-learn's digits: conv 4@3x3 - ReLU - max-pool 2 - linear."""
    from .. import nn, optim
    from ..data import load_dataset
    from ..train import evaluate, fit
    d = load_dataset("digits", seed=0, standardize=False)
    scale = lambda part: (part.arrays[0].reshape(-1, 1, 8, 8) / 16.0, part.arrays[1])  # noqa: E731
    train, test = scale(d.train), scale(d.test)
    zeroin.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64, 10))
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02), train,
        epochs=epochs, batch_size=32, verbose=0)
    acc = evaluate(model, nn.CrossEntropyLoss(), test, ["accuracy"])["accuracy"]
    image = test[0][:1]
    with zeroin.no_grad():
        maps = model[1](model[0](zeroin.tensor(image))).data[0]
    return {"accuracy": float(acc), "parameters": model.num_parameters(),
            "filters": model[0].weight.data[:, 0].copy(), "image": image[0, 0], "maps": maps,
            "label": int(test[1][0])}


def _numbers(ax, a, fmt="{:g}", highlight=None, cmap=None):
    from ..viz.figures import COLORS, show_image
    lim = dict(vmin=min(a.min(), 0), vmax=max(a.max(), 1))
    if cmap is None:
        show_image(ax, a, **lim)
    else:
        ax.imshow(a, cmap=cmap, **lim)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=_fs(11),
                color=COLORS["error"] if highlight and highlight(i, j) else COLORS["ink"],
                bbox=dict(facecolor=COLORS["paper"], alpha=0.7, lw=0, pad=1))
    _frame(ax)


def _frame(ax):
    """An image panel: no ticks or grid, a thin frame on all four sides."""
    from ..viz.figures import COLORS
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for sp in ax.spines.values():
        sp.set_visible(True)
        sp.set_linewidth(0.8)
        sp.set_color(COLORS["frame"])


def _sign(ax, text):
    """A panel that holds only an operator sign (⊙, =) between two others."""
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=_fs(26), fontweight="bold",
            transform=ax.transAxes)


def _frame_patch(Rectangle, corner, size, F):
    """A red square frame with a white halo: it stands out on a black input cell and on
    the output's own red (y = 9 is the reddest cell of its colour map)."""
    from matplotlib import patheffects
    return Rectangle(corner, size, size, fill=False, lw=3, ec=F.COLORS["error"],
                     clip_on=False,
                     path_effects=[patheffects.withStroke(linewidth=7,
                                                          foreground=F.COLORS["paper"])])


def _draw_window(out, yv, at=(1, 2), theme="light"):
    from matplotlib.patches import Rectangle

    from ..viz import figures as F
    i0, j0 = at
    with F.style(theme):
        fig, panels = F.subplots(1, 5, figsize=(12, 4), width_ratios=[5, 0.8, 3, 0.8, 3])
        # Room at the edges for the frames' halo (7 pt wide): the output's frame sits on the
        # right edge of the figure, and the layout counts a frame without its stroke.
        fig.get_layout_engine().set(w_pad=0.1, h_pad=0.1)
        axes = panels[::2]
        _sign(panels[1], HADAMARD)
        _sign(panels[3], "=")
        _numbers(axes[0], X, highlight=lambda i, j: i0 <= i < i0 + 3 and j0 <= j < j0 + 3)
        axes[0].add_patch(_frame_patch(Rectangle, (j0 - 0.5, i0 - 0.5), 3, F))
        axes[0].set_title("input x: the window")
        _numbers(axes[1], W, cmap="coolwarm")
        axes[1].set_title("kernel w")
        axes[1].set_xlabel(f"{HADAMARD}: multiply element by element, then sum", fontsize=_fs(11))
        _numbers(axes[2], yv, highlight=lambda i, j: (i, j) == at, cmap="coolwarm")
        axes[2].add_patch(_frame_patch(Rectangle, (j0 - 0.5, i0 - 0.5), 1, F))
        axes[2].set_title(f"output y: y[{i0}, {j0}] = {yv[i0, j0]:g}")
        return F.save(fig, out, "convolution_window",
                      f"The kernel over the window x[{i0}:{i0 + 3}, {j0}:{j0 + 3}] gives one "
                      f"output number: window {HADAMARD} kernel (multiplied element by "
                      f"element, not a matrix product), summed; sliding it over every "
                      f"position gives the 3x3 output.")


def _draw_filters(out, cnn, theme="light"):
    from ..viz import figures as F
    k = len(cnn["filters"])
    with F.style(theme):
        fig, axes = F.subplots(2, k + 1, figsize=(2.2 * (k + 1), 4.6))
        F.show_image(axes[0, 0], cnn["image"])
        axes[0, 0].set_title(f"a test digit ({cnn['label']})", fontsize=_fs(10))
        axes[1, 0].axis("off")
        lim = float(np.abs(cnn["filters"]).max())          # one scale, so one colour bar
        top = float(cnn["maps"].max()) or 1.0
        for f in range(k):
            weights = axes[0, f + 1].imshow(cnn["filters"][f], cmap="coolwarm", vmin=-lim,
                                            vmax=lim)
            axes[0, f + 1].set_title(f"filter {f}", fontsize=_fs(10))
            maps = F.show_image(axes[1, f + 1], cnn["maps"][f], vmin=0, vmax=top)
            axes[1, f + 1].set_title(f"feature map {f}", fontsize=_fs(10))
        for ax in axes.ravel():
            _frame(ax)
        fig.colorbar(weights, ax=axes[0, 1:], shrink=0.9, label="weight")
        fig.colorbar(maps, ax=axes[1, 1:], shrink=0.9, label="after ReLU")
        return F.save(fig, out, "convolution_filters",
                      f"The 4 learned 3x3 filters of the digits CNN (red positive, blue "
                      f"negative) and what each one sees in a test digit (after ReLU); test "
                      f"accuracy {cnn['accuracy']:.1%}.")
