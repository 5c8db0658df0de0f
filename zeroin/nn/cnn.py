"""Ready-made convolutional networks: a small CNN for 8x8 digits and LeNet-5 for 28x28 MNIST,
and :func:`train_cnn`, the recipe behind ``zeroin train DATASET --model cnn``.

Both networks take images (N, 1, H, W) or flat rows (N, H*W) (reshaped to images first),
so they train on the same arrays as an MLP.

>>> from zeroin.nn.cnn import build_cnn
>>> model = build_cnn((1, 8, 8), 10)
"""
from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ..random import get_rng
from .activation import ReLU
from .conv import Conv2d
from .layers import Dropout, Flatten, Linear, Sequential
from .module import Module
from .pooling import BatchNorm2d, MaxPool2d

__all__ = ["SmallCNN", "LeNet5", "RandomShift", "build_cnn", "image_shape", "train_cnn",
           "train_cnn_command", "CNN_EPOCHS", "CNN_LR"]

CNN_EPOCHS = 20         # the recipe's defaults (Adam, cosine-annealed learning rate)
CNN_LR = 0.003


class RandomShift(Module):
    """Data augmentation: in training, move each image by up to ``max_shift`` pixels in
    each direction (zeros come in at the edges); identity in evaluation. The input carries
    no gradient (it is data)."""

    def __init__(self, max_shift=1):
        super().__init__()
        self.max_shift = int(max_shift)

    def forward(self, x):
        s = self.max_shift
        if not self.training or s == 0:
            return x
        a = x.data if isinstance(x, Tensor) else np.asarray(x)
        n, c, h, w = a.shape
        p = np.pad(a, ((0, 0), (0, 0), (s, s), (s, s)))
        rng = get_rng()
        dy, dx = rng.integers(0, 2 * s + 1, n), rng.integers(0, 2 * s + 1, n)
        rows = (dy[:, None] + np.arange(h))[:, None, :, None]
        cols = (dx[:, None] + np.arange(w))[:, None, None, :]
        return Tensor(p[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                        rows, cols])

    def extra_repr(self):
        return f"max_shift={self.max_shift}"


class _ImageNet(Module):
    """``features`` then ``classifier``; flat rows are reshaped to ``image_shape`` first."""

    def __init__(self, image_shape, features, classifier):
        super().__init__()
        self.image_shape = tuple(int(v) for v in image_shape)
        self.features, self.classifier = features, classifier

    def forward(self, x):
        if x.ndim == 2:
            n = math.prod(self.image_shape)
            if x.shape[1] != n:
                raise ValueError(f"{type(self).__name__}: flat input rows of {x.shape[1]} "
                                 f"values do not make {self.image_shape} images ({n} values)")
            x = x.reshape((-1,) + self.image_shape)
        return self.classifier(self.features(x))

    def extra_repr(self):
        return f"image_shape={self.image_shape}"


class SmallCNN(_ImageNet):
    """For small images such as 8x8 digits: random shifts of 1 pixel (training only) -
    conv 3x3 (``channels[0]``) - BatchNorm - ReLU - conv 3x3 (``channels[1]``) - BatchNorm
    - ReLU - max-pool 2 - dropout 0.3 - Linear(hidden) - ReLU - Linear(num_classes)."""

    def __init__(self, image_shape=(1, 8, 8), num_classes=10, channels=(32, 64), hidden=128,
                 shift=1):
        c, h, w = image_shape
        a, b = channels
        features = Sequential(RandomShift(shift), Conv2d(c, a, 3, padding=1), BatchNorm2d(a),
                              ReLU(), Conv2d(a, b, 3, padding=1), BatchNorm2d(b), ReLU(),
                              MaxPool2d(2), Flatten())
        classifier = Sequential(Dropout(0.3), Linear(b * (h // 2) * (w // 2), hidden), ReLU(),
                                Linear(hidden, num_classes))
        super().__init__(image_shape, features, classifier)


class LeNet5(_ImageNet):
    """LeNet-5 (ReLU and max-pooling): conv 6@5x5 pad 2 - pool - conv 16@5x5 - pool -
    120 - 84 - ``num_classes``, for 1x28x28 images."""

    def __init__(self, image_shape=(1, 28, 28), num_classes=10):
        c, h, w = image_shape
        features = Sequential(Conv2d(c, 6, 5, padding=2), ReLU(), MaxPool2d(2),
                              Conv2d(6, 16, 5), ReLU(), MaxPool2d(2), Flatten())
        flat = 16 * ((h // 2 - 4) // 2) * ((w // 2 - 4) // 2)
        classifier = Sequential(Linear(flat, 120), ReLU(), Linear(120, 84), ReLU(),
                                Linear(84, num_classes))
        super().__init__(image_shape, features, classifier)


def image_shape(in_features):
    """(1, s, s) for square single-channel images of ``in_features`` pixels."""
    s = math.isqrt(int(in_features))
    if s * s != in_features:
        raise ValueError(f"build_cnn: {in_features} input features are not a square image; "
                         f"the CNN needs images (1 x s x s pixels per row), e.g. digits (8x8) "
                         f"or MNIST (28x28); use --model mlp for other data")
    return (1, s, s)


def build_cnn(shape, num_classes):
    """A CNN for ``shape`` (1, H, W) images (or a flat feature count): LeNet-5 for images
    of 28x28 or larger, else :class:`SmallCNN`."""
    shape = image_shape(shape) if isinstance(shape, int) else tuple(shape)
    if shape[1] >= 28 and shape[2] >= 28:
        return LeNet5(shape, num_classes)
    return SmallCNN(shape, num_classes)


# --- the training recipe ----------------------------------------------------------------

def _pixel_scaler(splits):
    """Scale pixels by the training images' largest value (digits: 16, MNIST: 1), kept as
    a Standardizer (mean 0) so a checkpoint records it; per-pixel standardising would give
    every position its own scale, which a convolution's shared weights do not expect."""
    from ..data import Standardizer
    X = splits.train.arrays[0]
    top = float(np.abs(X).max()) if X.size else 1.0
    scaler = Standardizer(mean=np.zeros(X.shape[1:]), std=np.full(X.shape[1:], top or 1.0))
    for part in (splits.train, splits.val, splits.test):
        a = part.arrays
        part.arrays = (scaler.transform(a[0]).astype(np.float32),) + tuple(a[1:])
    splits.standardizer = scaler
    return splits


def train_cnn(dataset, optimizer="adam", lr=CNN_LR, batch_size=32, epochs=CNN_EPOCHS, seed=0,
              verbose=0, out=None, data_seed=0, file=None, announce=None, theme="light"):
    """Train :func:`build_cnn`'s network (float32) on an image dataset (digits, mnist,
    mnist:DIR or a file of square images, one per row; pixels divided by the training
    images' largest value) with a cosine-annealed learning rate; returns
    ``(model, history, splits, test_metrics)``. With ``out``: ``model.npz`` (weights,
    optimizer state, pixel scale and architecture) and ``history.json`` first, then the
    curves (``theme="dark"``: light on slate); a late Ctrl-C is handled as in
    :func:`zeroin.recipes.finish_run`."""
    from .. import random as zr
    from ..recipes import finish_run, loss_for_task, make_optimizer, metrics_for_task
    from ..data import load_dataset
    from ..optim.lr_scheduler import CosineAnnealingLR
    from ..train import fit
    from ..viz.figures import check_theme
    check_theme("train", theme)             # before training, not after it
    d = _pixel_scaler(load_dataset(dataset, seed=data_seed, standardize=False))
    if d.task != "multiclass":
        raise ValueError(f"train_cnn: {dataset} is a {d.task} dataset; the CNN classifies "
                         f"images into classes")
    shape = image_shape(d.in_features)
    if announce is not None:
        announce(d)
    zr.manual_seed(seed)
    model = build_cnn(shape, d.out_features).float()   # float32: half the memory traffic
    opt = make_optimizer(optimizer, model.parameters(), lr)
    loss_fn, metrics = loss_for_task(d.task), metrics_for_task(d.task)
    history = fit(model, loss_fn, opt, d.train, d.val if len(d.val) else None, epochs=epochs,
                  batch_size=batch_size, metrics=metrics, verbose=verbose, file=file,
                  scheduler=CosineAnnealingLR(opt, epochs))
    info = {"optimizer": optimizer, "lr": lr, "batch_size": batch_size, "epochs": epochs,
            "seed": seed, "epochs_run": history.epochs_run}

    def save_model(path, test):
        return _save(path, model, opt, d, shape, info, test)
    test = finish_run(model, loss_fn, metrics, d.test, history, out, dataset,
                      str(dataset).split(":")[0], save_model, theme=theme)
    return model, history, d, test


def _save(path, model, opt, d, shape, train_info, test):
    from pathlib import Path

    from .. import __version__
    from ..checkpoint import _save as save
    meta = {"kind": "zeroin-cnn",
            "architecture": {"model": "cnn", "class": type(model).__name__,
                             "image_shape": list(shape), "in_features": d.in_features,
                             "out_features": d.out_features},
            "task": d.task, "dataset": d.name, "data_seed": d.seed, "train": train_info,
            "test": test, "standardizer": d.standardizer.state_dict(),
            "zeroin_version": __version__}
    Path(path).absolute().parent.mkdir(parents=True, exist_ok=True)    # save needs it
    return save({"model": model.state_dict(), "optimizer": opt.state_dict(), "meta": meta},
                path)


def train_cnn_command(args):
    """``zeroin train DATASET --model cnn``: options left out take the CNN's defaults."""
    from ..recipes import format_metrics, run_folder
    for key, value in (("epochs", CNN_EPOCHS), ("lr", CNN_LR), ("batch_size", 32)):
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    out = run_folder("train", args.dataset, args.out)

    def announce(d):
        print(f"training a CNN ({'LeNet-5' if image_shape(d.in_features)[1] >= 28 else 'small'}"
              f") on {args.dataset} with {args.optimizer}, lr={args.lr:g} (cosine-annealed), "
              f"batch size {args.batch_size}, {args.epochs} epochs, seed {args.seed}",
              flush=True)
    model, history, d, test = train_cnn(
        args.dataset, optimizer=args.optimizer, lr=args.lr, batch_size=args.batch_size,
        epochs=args.epochs, seed=args.seed, verbose=getattr(args, "verbose", 1), out=out,
        announce=announce, theme=getattr(args, "theme", "light"))
    print(f"{d.name}: {len(d.train)} training, {len(d.val)} validation, {len(d.test)} test "
          f"samples; {model.num_parameters()} parameters")
    print("test  " + format_metrics(test))
    print(f"wrote {', '.join(p.name for p in history.files)} to {out}")
    if history.diverged:
        raise RuntimeError(f"training diverged; no checkpoint was written to {out}")
    return test
