"""A diffusion model's two processes as a teacher draws them: one image noised by
q(x_t | x_0) at a few steps t (the signal fading under one fixed noise draw), and a
sampling loop's x_t from x_T down to x_0. matplotlib is imported inside the functions (the
``plots`` extra); see docs/diffusion.md.
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .contexts import size as _fs

__all__ = ["noised", "diffusion_figure"]


def _array(x):
    x = x.detach().cpu().numpy() if hasattr(x, "detach") else x
    return np.asarray(x, dtype=np.float64)


def noised(image, alphas_cumprod, ts, noise):
    """``sqrt(a_t) * image + sqrt(1 - a_t) * noise`` with ``a_t = alphas_cumprod[t]`` for
    each t in ``ts``: q(x_t | x_0)'s closed form, the same ``noise`` at every t. Tensors or
    arrays in; a list of float64 arrays out."""
    x0, eps = _array(image), _array(noise)
    abar = _array(alphas_cumprod).reshape(-1)
    if eps.shape != x0.shape:
        raise ShapeError(f"noised: noise of shape {eps.shape} for an image of shape "
                         f"{x0.shape}; draw it with the image's shape (randn_like(image))")
    bad = [t for t in ts if not 0 <= int(t) < len(abar)]
    if bad:
        raise ValueError(f"noised: steps {bad} are outside the schedule's 0..{len(abar) - 1} "
                         f"(alphas_cumprod has {len(abar)} steps)")
    return [np.sqrt(abar[int(t)]) * x0 + np.sqrt(1 - abar[int(t)]) * eps for t in ts]


def _as_picture(x):
    """An image in [-1, 1] of shape (H, W), (1, H, W) or (3, H, W) as imshow's (H, W) or
    (H, W, 3), clipped to [-1, 1] (a sample outside it is drawn at the edge)."""
    x = np.clip(_array(x), -1, 1)
    if x.ndim == 3 and x.shape[0] in (1, 3):
        x = x[0] if x.shape[0] == 1 else np.moveaxis(x, 0, -1)
    if x.ndim != 2 and not (x.ndim == 3 and x.shape[-1] == 3):
        raise ShapeError(f"diffusion_figure: an image must be (H, W), (1, H, W) or "
                         f"(3, H, W), got shape {np.shape(x)}; take one from a batch: x[0]")
    return x


def _row(fig, axes, pictures, titles, F):
    for ax, pic, title in zip(axes, pictures, titles):
        ax.axis("off")
        if pic.ndim == 2:
            F.show_image(ax, pic, vmin=-1, vmax=1)
        else:
            ax.imshow((pic + 1) / 2, interpolation="nearest")
        ax.set_title(title, fontsize=_fs(10), pad=3)


def diffusion_figure(image, alphas_cumprod, ts, noise, samples=None, sample_ts=None,
                     theme="light", title=""):
    """A figure: on top ``image`` noised at the steps ``ts`` (:func:`noised`), each titled
    with t and alphas_cumprod[t]; with ``samples`` (a sampling loop's x_t, x_T first) a
    second row from x_T to x_0, titled with ``sample_ts``. Images in [-1, 1], (H, W),
    (1, H, W) or (3, H, W). The arrays drawn are ``fig.zeroin_rows``; save it with
    :func:`zeroin.viz.figures.save` (atomic)."""
    from . import figures as F
    if not F.available():
        raise ImportError(f"diffusion_figure: {F.PLOTS_HINT}")
    abar = _array(alphas_cumprod).reshape(-1)
    rows = [[_as_picture(x) for x in noised(image, abar, ts, noise)]]
    labels = [[f"t = {int(t)}\n\u0101 = {abar[int(t)]:.3f}" for t in ts]]
    if samples is not None:
        sample_ts = list(range(len(samples)))[::-1] if sample_ts is None else list(sample_ts)
        if len(sample_ts) != len(samples):
            raise ValueError(f"diffusion_figure: {len(samples)} samples but {len(sample_ts)} "
                             f"sample_ts; give one step per snapshot")
        rows.append([_as_picture(x) for x in samples])
        labels.append([f"x_{int(t)}" for t in sample_ts])
    cols = max(len(r) for r in rows)
    with F.style(theme):
        fig, axes = F.subplots(len(rows), cols, figsize=(1.3 * cols + 0.4, 1.7 * len(rows)
                                                         + 0.4), squeeze=False)
        for ax in axes.ravel():
            ax.axis("off")
        for k, (pics, names) in enumerate(zip(rows, labels)):
            _row(fig, axes[k], pics, names, F)
        heads = ["forward: q(x_t | x_0)"] + (["sampling: x_T \u2192 x_0"] if len(rows) > 1
                                             else [])
        fig.suptitle((title + "\n" if title else "") + "   |   ".join(heads),
                     fontsize=_fs(12))
    fig.zeroin_rows = rows
    return fig
