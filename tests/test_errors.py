"""A catalogue of bad inputs across zeroin: each raises a clear error, before any work is
lost, of the right type and with the words that matter (the operation, the offending value,
shape or path, and the fix). The CLI cases end with one line on stderr and exit code 2,
never a traceback.

Each case is ``(id, call, exception type, regex)``; ``call`` gets pytest's ``tmp_path``.
"""
import re

import numpy as np
import pytest

import zeroin
from zeroin import nn, optim
from zeroin.checkpoint import CheckpointError
from zeroin.data import (DataLoader, Standardizer, TensorDataset, load_dataset, shift_images,
                         train_val_test_split)


# --- small builders --------------------------------------------------------------------------

def _t(*shape, value=1.0):
    return zeroin.tensor(np.full(shape, value))


def _linear_fit(**kwargs):
    """fit() on a 1-1 linear model with y = 2x + 3; kwargs override its arguments."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1))
    args = {"model": nn.Linear(1, 1), "loss_fn": nn.MSELoss(), "train_data": (X, 2 * X + 3),
            "epochs": 2, "verbose": 0}
    args["optimizer"] = optim.SGD(args["model"].parameters(), lr=0.1)
    args.update(kwargs)
    if "model" in kwargs and "optimizer" not in kwargs:
        args["optimizer"] = optim.SGD(kwargs["model"].parameters(), lr=0.1)
    return zeroin.fit(**args)


def _with_bad(where, part, row, value=np.nan):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 1))
    y = 2 * X + 3
    arrays = {"inputs": X, "targets": y}
    arrays[part] = arrays[part].copy()
    arrays[part][row] = value
    data = (arrays["inputs"], arrays["targets"])
    good = (X, y)
    return (lambda: _linear_fit(train_data=data)) if where == "train" else \
        (lambda: _linear_fit(train_data=good, val_data=data))


def _sched(cls, **kw):
    return cls(optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1), **kw)


def _write(tmp, name, content):
    path = tmp / name
    path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    return path


def _csv(tmp, rows):
    lines = ["a,b,label"] + [f"{i},{i * 2},{i % 2}" for i in range(rows)]
    return _write(tmp, f"rows{rows}.csv", "\n".join(lines) + "\n")


def _object_npz(tmp):
    path = tmp / "objects.npz"
    np.savez(path, things=np.array([{"a": 1}, None], dtype=object))
    return path


# --- the catalogue of library errors ----------------------------------------------------------

NAN_CASES = [
    (f"fit-{where}-{part}-{'nan' if np.isnan(v) else 'inf'}",
     lambda tmp, w=where, p=part, r=row, v=v: _with_bad(w, p, r, v)(),
     ValueError, rf"{part} of {where}_data hold {'NaN' if np.isnan(v) else 'Inf'} in row {row}.*"
                 rf"not a divergence.*nothing was trained")
    for where, part, row, v in [("train", "inputs", 3, np.nan), ("train", "targets", 0, np.nan),
                                ("train", "inputs", 39, np.inf), ("val", "inputs", 7, np.nan),
                                ("val", "targets", 12, -np.inf), ("train", "targets", 5, np.inf)]
]

FIT_CASES = [
    ("fit-scheduler-class", lambda tmp: _linear_fit(scheduler=optim.lr_scheduler.StepLR),
     TypeError, r"fit: scheduler .* got the class StepLR; pass StepLR\(optimizer"),
    ("fit-scheduler-other-optimizer",
     lambda tmp: _linear_fit(scheduler=_sched(optim.lr_scheduler.StepLR, step_size=1)),
     ValueError, r"fit: the scheduler StepLR was built on another optimizer.*never change"),
    ("fit-scheduler-number", lambda tmp: _linear_fit(scheduler=0.9),
     TypeError, r"fit: scheduler must have a step\(\) method"),
    ("fit-optimizer-of-another-model",
     lambda tmp: _linear_fit(optimizer=optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)),
     ValueError, r"fit: the optimizer holds none of the model's 2 parameters"),
    ("fit-negative-epochs", lambda tmp: _linear_fit(epochs=-1),
     ValueError, r"fit: epochs must be a whole number >= 0, got -1"),
    ("fit-float-epochs", lambda tmp: _linear_fit(epochs=2.5),
     ValueError, r"fit: epochs must be a whole number"),
    ("fit-on-divergence", lambda tmp: _linear_fit(on_divergence="warn"),
     ValueError, r"on_divergence must be 'stop' or 'raise', got 'warn'"),
    ("fit-loss-not-scalar", lambda tmp: _linear_fit(loss_fn=nn.MSELoss(reduction="none")),
     ValueError, r"fit: loss_fn must return a one-element tensor.*reduction='mean'"),
    ("fit-empty-data",
     lambda tmp: _linear_fit(train_data=(np.ones((0, 1)), np.ones((0, 1)))),
     ValueError, r"fit: the training data gave no batches"),
    ("fit-unknown-data", lambda tmp: _linear_fit(train_data="moons.csv"),
     (TypeError, ValueError), r"fit\(train_data\)"),
    ("lambda-callback-unknown-hook",
     lambda tmp: _train().LambdaCallback(on_epoch_finish=print),
     TypeError, r"LambdaCallback: unknown hook 'on_epoch_finish'"),
]

CHECKPOINT_CASES = [
    *[(f"load-{n}-byte-file", lambda tmp, n=n: zeroin.load(_write(tmp, "t.npz", b"PK\x03"[:n])),
       CheckpointError, rf"t\.npz is {n} byte\(s\) long.*empty or truncated")
      for n in (0, 1, 2, 3)],
    ("load-object-arrays", lambda tmp: zeroin.load(_object_npz(tmp)),
     CheckpointError, r"objects\.npz holds 'things', an array of Python objects.*never "
                      r"unpickles"),
    ("load-npy-file", lambda tmp: zeroin.load(_write(tmp, "w.npy", b"\x93NUMPY\x01\x00v")),
     CheckpointError, r"w\.npy is a single-array \.npy file"),
    ("load-text-file", lambda tmp: zeroin.load(_write(tmp, "notes.npz", "hello")),
     CheckpointError, r"notes\.npz is not an \.npz checkpoint.*zeroin\.save"),
    ("load-missing", lambda tmp: zeroin.load(tmp / "gone.npz"),
     FileNotFoundError, r"load: no checkpoint at .*gone\.npz"),
    ("load-folder", lambda tmp: zeroin.load(tmp),
     FileNotFoundError, r"load: no checkpoint at .*it is a folder"),
    ("load-cut-zip",
     lambda tmp: zeroin.load(_write(tmp, "cut.npz", b"PK\x03\x04" + b"\x00" * 40)),
     CheckpointError, r"cut\.npz is not a readable checkpoint \(truncated or corrupted"),
    ("load-map-location-cuda", lambda tmp: zeroin.load(tmp / "x.npz", map_location="cuda:0"),
     ValueError, r"map_location='cuda:0'.*CPU.*map_location='cpu'"),
    # makemore part 1: F.one_hot(xs, num_classes=27).float() @ W, W = randn(27, 27) (float64)
    ("matmul-float32-float64-default",
     lambda tmp: nn.functional.one_hot(zeroin.tensor([1, 2]), 27).float() @ zeroin.randn(27, 27),
     zeroin.errors.DtypeError, r"matmul: .*float32 and float64.*x\.float\(\).*zeroin's default "
     r"dtype is float64 \(PyTorch's is float32\).*set_default_dtype\(zeroin\.float32\)"),
    # makemore part 2: X = torch.Tensor(X) (floats, where torch.tensor gives int64), C[X]
    ("getitem-float-index", lambda tmp: zeroin.randn(27, 2)[zeroin.Tensor([[0, 5, 13]])],
     IndexError, r"getitem: index \[<float64 array \(1, 3\)>\] for a tensor of shape "
     r"\(27, 2\).*must hold integers.*idx\.long\(\)"),
    ("setitem-float-index",
     lambda tmp: zeroin.zeros(27, 2).__setitem__(zeroin.tensor([1.0]), 1.0),
     IndexError, r"setitem: index .* of shape \(27, 2\).*idx\.long\(\)"),
    ("save-module", lambda tmp: zeroin.save(nn.Linear(2, 2), tmp / "m.npz"),
     CheckpointError, r"save: cannot store <root> of type Linear.*model\.state_dict\(\)"),
    ("save-object", lambda tmp: zeroin.save({"f": print}, tmp / "m.npz"),
     CheckpointError, r"save: cannot store f of type builtin_function_or_method"),
    ("save-object-array",
     lambda tmp: zeroin.save({"a": np.array([None, 1], dtype=object)}, tmp / "m.npz"),
     CheckpointError, r"save: a is an array of dtype object.*without pickle"),
    ("save-bad-key", lambda tmp: zeroin.save({(1, 2): np.ones(2)}, tmp / "m.npz"),
     CheckpointError, r"key \(1, 2\) of type tuple; keys must be strings or integers"),
    ("save-onto-folder", lambda tmp: zeroin.save({}, tmp),
     IsADirectoryError, r"save: cannot write .*: it is a folder"),
    ("save-under-a-file",
     lambda tmp: zeroin.save({}, _write(tmp, "f.txt", "x") / "m.npz"),
     (NotADirectoryError, FileExistsError), r"save: cannot write .*f\.txt/m\.npz"),
    ("load-state-dict-shape",
     lambda tmp: nn.Linear(2, 2).load_state_dict({"weight": np.ones((3, 3)),
                                                 "bias": np.ones(2)}),
     ValueError, r"shape mismatch for 'weight'.*\(3, 3\).*\(2, 2\)"),
    ("load-state-dict-missing",
     lambda tmp: nn.Linear(2, 2).load_state_dict({"weight": np.ones((2, 2))}),
     KeyError, r"missing key\(s\) 'bias'"),
]

DATA_CASES = [
    ("csv-too-small", lambda tmp: load_dataset(_csv(tmp, 3)),
     ValueError, r"rows3\.csv has 3 row\(s\), too few to split.*validation part would be "
                 r"empty.*at least 10 rows"),
    ("csv-two-rows", lambda tmp: load_dataset(_csv(tmp, 2), val=0.0),
     ValueError, r"rows2\.csv has 2 row\(s\).*test part would be empty"),
    ("data-unknown-name", lambda tmp: load_dataset("moonz"),
     ValueError, r"load_dataset: unknown dataset 'moonz'.*choose one of .*moons"),
    ("data-missing-file", lambda tmp: load_dataset(str(tmp / "nope.csv")),
     FileNotFoundError, r"load_dataset: no such data file: .*nope\.csv"),
    ("tensordataset-lengths", lambda tmp: TensorDataset(np.ones((3, 2)), np.ones(4)),
     ValueError, r"TensorDataset: every array needs the same number of samples.*\(3, 2\), "
                 r"\(4,\)"),
    # fit's (X, y) of two lengths names fit's argument (it said TensorDataset)
    ("fit-xy-lengths", lambda tmp: _linear_fit(train_data=(np.ones((40, 1)), np.ones((30, 1)))),
     ValueError, r"^fit\(train_data\): the arrays of \(X, y\) need the same number of samples \(rows\): "
                 r"got shapes \(40, 1\), \(30, 1\); take X and y from the same rows"),
    ("dataloader-batch-size", lambda tmp: DataLoader((np.ones((3, 2)), np.ones(3)),
                                                     batch_size=0),
     ValueError, r"DataLoader: batch_size must be a whole number >= 1, got 0"),
    ("split-fractions", lambda tmp: train_val_test_split(np.ones((10, 2)), val=0.6, test=0.6),
     ValueError, r"val \+ test < 1; got val=0\.6, test=0\.6"),
    ("standardizer-unfitted", lambda tmp: Standardizer().transform(np.ones((2, 2))),
     RuntimeError, r"Standardizer\.transform: call fit\(X_train\) first"),
    ("shift-images-shape", lambda tmp: shift_images(np.ones((2, 10)), np.ones(2), (3, 3)),
     ValueError, r"shift_images: .*3x3 image per row, shape \(n, 9\); got \(2, 10\)"),
]

RECIPE_CASES = [
    ("build-mlp-hidden", lambda tmp: _recipes().build_mlp(2, [0], 1),
     ValueError, r"build_mlp: hidden sizes must be >= 1, got \[0\]"),
    ("build-mlp-activation", lambda tmp: _recipes().build_mlp(2, [3], 1, "swish"),
     ValueError, r"unknown activation 'swish'; choose one of relu"),
    ("make-optimizer-name",
     lambda tmp: _recipes().make_optimizer("lbfgs", nn.Linear(1, 1).parameters(), 0.1),
     ValueError, r"unknown optimizer 'lbfgs'; choose one of sgd"),
    ("train-mlp-schedule", lambda tmp: _recipes().train_mlp("xor", schedule="step"),
     ValueError, r"train: schedule must be one of cosine, none, got 'step'"),
    ("train-mlp-augment-tabular", lambda tmp: _recipes().train_mlp("moons", augment="shift"),
     ValueError, r"augment='shift' moves images.*digits and mnist only, not 'moons'"),
    ("run-folder-is-a-file",
     lambda tmp: _recipes().run_folder("train", "xor", _write(tmp, "taken", "x")),
     ValueError, r"--out .*taken is an existing file, but --out names a folder"),
    ("sweep-jobs-zero", lambda tmp: _recipes().sweep("xor", [0.1], jobs=0),
     ValueError, r"sweep: jobs=0 runs nothing"),
    ("sweep-lr-negative", lambda tmp: _recipes().sweep("xor", [0.1, -1]),
     ValueError, r"sweep: learning rates must be positive numbers, got \[0\.1, -1\.0\]"),
    ("metric-unknown", lambda tmp: zeroin.metrics.get_metric("precision"),
     ValueError, r"unknown metric 'precision'; choose one of"),
    # fit's and evaluate's metrics= name the call they came through
    ("fit-metric-unknown", lambda tmp: _linear_fit(metrics=["f1"]),
     ValueError, r"^fit: unknown metric 'f1' in metrics=; choose one of acc, accuracy"),
    ("evaluate-metric-unknown", lambda tmp: zeroin.train.evaluate(
        nn.Linear(1, 1), nn.MSELoss(), (np.zeros((4, 1)), np.zeros((4, 1))), metrics="f1"),
     ValueError, r"^evaluate: unknown metric 'f1' in metrics=; choose one of"),
]


def _train():
    import zeroin.train
    return zeroin.train


def _recipes():
    from zeroin import recipes
    return recipes


ENGINE_CASES = [       # messages the engine, nn and optim give already; kept from regressing
    ("matmul-inner", lambda tmp: _t(2, 3) @ _t(2, 3),
     ValueError, r"matmul: .*\(2, 3\) and \(2, 3\)"),
    ("add-broadcast", lambda tmp: _t(3) + _t(4),
     ValueError, r"add.*\(3,\).*\(4,\)"),
    ("reshape-size", lambda tmp: _t(2, 3).reshape(4),
     ValueError, r"reshape: .*\(2, 3\).*\(4,\)"),
    ("backward-no-grad", lambda tmp: _t(3).sum().backward(),
     RuntimeError, r"backward: .*does not require grad"),
    ("linear-features", lambda tmp: nn.Linear(3, 2)(_t(4, 5)),
     ValueError, r"linear: input of shape \(4, 5\) has 5 features.*in_features=3"),
    ("linear-zero", lambda tmp: nn.Linear(0, 3),
     ValueError, r"Linear: in_features must be a positive integer, got 0"),
    ("sequential-class", lambda tmp: nn.Sequential(3),
     TypeError, r"Sequential: item 0 is an int, not a Module$"),
    ("modulelist-int", lambda tmp: nn.ModuleList([nn.ReLU(), 1]),
     TypeError, r"ModuleList: item '?1'? is an int, not a Module"),
    ("sgd-ndarray", lambda tmp: zeroin.optim.SGD([np.zeros(2)], lr=0.1),
     TypeError, r"SGD: .* is an ndarray, not a Tensor"),
    ("clamp-mixed", lambda tmp: zeroin.clamp(zeroin.ones(2), min=0, max=zeroin.ones(2)),
     TypeError, r"clip: min is an int and max a Tensor; as in PyTorch"),
    ("add-module-int", lambda tmp: nn.Module().add_module("fc", 3),
     TypeError, r"add_module: 'fc' is an int, not a Module"),
    ("dropout-p", lambda tmp: nn.Dropout(1.5),
     ValueError, r"Dropout: .*p must be between 0 and 1, got 1\.5"),
    ("cross-entropy-labels",
     lambda tmp: nn.CrossEntropyLoss()(_t(4, 3), zeroin.tensor(np.array([0, 1, 2, 3]))),
     ValueError, r"cross_entropy: labels must be in 0\.\.2 for 3 classes"),
    ("cross-entropy-float-target",
     lambda tmp: nn.CrossEntropyLoss()(_t(2, 3), zeroin.tensor(np.array([0.5, 1.0]))),
     TypeError, r"cross_entropy: target must hold integer class labels"),
    ("mse-shapes", lambda tmp: nn.MSELoss()(_t(4, 2), _t(4, 1)),
     ValueError, r"mse_loss: input shape \(4, 2\) and target shape \(4, 1\) differ"),
    ("bce-shapes", lambda tmp: nn.BCEWithLogitsLoss()(_t(4, 1), _t(4, 2)),
     ValueError, r"binary_cross_entropy_with_logits: input shape \(4, 1\) and target shape "
                 r"\(4, 2\)"),
    ("sgd-negative-lr", lambda tmp: optim.SGD(nn.Linear(1, 1).parameters(), lr=-1),
     ValueError, r"SGD: .*lr.*-1"),
    ("adam-beta", lambda tmp: optim.Adam(nn.Linear(1, 1).parameters(), betas=(1.5, 0.9)),
     ValueError, r"Adam: beta1 .*1\.5"),
    ("sgd-empty-params", lambda tmp: optim.SGD([], lr=0.1),
     ValueError, r"SGD: got an empty parameter list.*generator can only be used once"),
    ("steplr-step-size", lambda tmp: _sched(optim.lr_scheduler.StepLR, step_size=0),
     ValueError, r"StepLR: step_size must be a positive integer, got 0"),
    ("steplr-not-optimizer", lambda tmp: optim.lr_scheduler.StepLR(nn.Linear(1, 1), 1),
     TypeError, r"StepLR: expected an optimizer, got Linear"),
    ("cosine-tmax", lambda tmp: _sched(optim.lr_scheduler.CosineAnnealingLR, T_max=0),
     ValueError, r"CosineAnnealingLR: T_max must be > 0, got 0"),
    ("accuracy-shapes", lambda tmp: zeroin.metrics.accuracy(np.ones((3, 2)), np.ones(4)),
     ValueError, r"accuracy: 3 predictions of shape \(3, 2\) do not match targets of shape"),
]

RAW_CASES = [          # used to surface as NumPy's or Python's own errors, without the op or a fix
    ("chunk-zero", lambda tmp: zeroin.ones(4).chunk(0),
     ValueError, r"chunk: chunks must be a whole number >= 1, got 0"),
    ("argmax-empty", lambda tmp: zeroin.ones(0).argmax(),
     IndexError, r"argmax: the tensor of shape \(0,\) is empty.*numel\(\)"),
    ("argmin-empty-dim", lambda tmp: zeroin.ones(2, 0).argmin(dim=1),
     IndexError, r"argmin: dimension 1 of the tensor of shape \(2, 0\) is empty"),
    ("embedding-padding-float", lambda tmp: nn.Embedding(4, 2, padding_idx=1.5),
     TypeError, r"Embedding: padding_idx must be a whole number"),
    ("collate-number-and-text",
     lambda tmp: list(DataLoader([(np.zeros(2), 1), (np.zeros(2), "a")], batch_size=2)),
     TypeError, r"default_collate: sample 1 is str \('a'\)"),
    ("copy-shape", lambda tmp: zeroin.ones(3).copy_(zeroin.ones(2)),
     ValueError, r"copy_: the source of shape \(2,\) cannot be broadcast to the tensor's shape "
                 r"\(3,\); give a source of shape \(3,\)"),
    ("bool-sub", lambda tmp: zeroin.tensor([True]) - zeroin.tensor([True]),
     TypeError, r"sub: Subtraction, the `-` operator, with two bool tensors is not supported.*"
                r"`\^`.*invert a mask, use the `~` or `logical_not\(\)`"),
    ("bool-neg", lambda tmp: -zeroin.tensor([True]),
     TypeError, r"neg: Negation, the `-` operator, on a bool tensor is not supported.*`~`"),
    ("cat-dim", lambda tmp: zeroin.cat([zeroin.ones(2), zeroin.ones(2)], dim=1),
     IndexError, r"cat: dimension 1 is out of range for tensors of shape \(2,\) \(expected a "
                 r"dim in \[-1, 0\]\); to put 1-D tensors side by side as columns use "
                 r"stack\(tensors, dim=1\)"),
    ("stack-dim", lambda tmp: zeroin.stack([zeroin.ones(2), zeroin.ones(2)], dim=2),
     IndexError, r"stack: dimension 2 is out of range for tensors of shape \(2,\) stacked into "
                 r"2 dimensions \(expected a dim in \[-2, 1\]\)"),
    ("type-unknown", lambda tmp: zeroin.ones(2).type("torch.FooTensor"),
     TypeError, r"type: 'torch.FooTensor' is not a tensor type.*FloatTensor"),
    # a list of layers (not "a class instead of an instance"): unpack it
    ("sequential-list", lambda tmp: nn.Sequential([nn.Linear(2, 2), nn.ReLU()]),
     TypeError, r"Sequential: item 0 is a list, not a Module; pass the layers one by one: "
                r"Sequential\(\*layers\)$"),
    ("sequential-a-class", lambda tmp: nn.Sequential(nn.Linear(2, 2), nn.ReLU),
     TypeError, r"Sequential: item 1 is the class ReLU, not a Module; .*ReLU\(\)"),
    # flat 8x8 digits into a CNN: the hint's shape fits them (it said 28 x 28)
    ("conv2d-flat-digits", lambda tmp: nn.Conv2d(1, 4, 3)(_t(10, 64)),
     zeroin.errors.ShapeError, r"conv2d: .*got shape \(10, 64\).*x\.reshape\(-1, 1, 8, 8\)"),
]


def test_type_takes_the_legacy_tensor_types():
    y = zeroin.tensor([1, 2])
    for t, dt in ((zeroin.FloatTensor, np.float32), (zeroin.LongTensor, np.int64),
                  (zeroin.DoubleTensor, np.float64), ("torch.FloatTensor", np.float32),
                  ("zeroin.BoolTensor", np.bool_), (zeroin.float64, np.float64),
                  ("torch.LongTensor", np.int64), ("zeroin.ComplexFloatTensor", np.complex64),
                  ("float32", np.float32)):
        assert y.type(t).dtype == dt, t
        assert y.type(y.type(t).type()).dtype == dt, t      # its own name back
    # no CUDA: PyTorch's without it refuses a cuda type (it used to give a CPU tensor)
    for cuda in ("torch.cuda.FloatTensor", "zeroin.cuda.LongTensor"):
        with pytest.raises(RuntimeError, match="type: zeroin runs on the CPU"):
            y.type(cuda)
    # a string that names no tensor type is refused as one (not taken for a device)
    for bad, words in (("torch.float32", "is not a tensor type"),
                       ("numpy.FloatTensor", "is not a tensor type"), ("cpu", "is not a dtype")):
        with pytest.raises(TypeError, match=rf"type: '{bad}' {words}"):
            y.type(bad)

CASES = NAN_CASES + FIT_CASES + CHECKPOINT_CASES + DATA_CASES + RECIPE_CASES + ENGINE_CASES + \
    RAW_CASES


@pytest.mark.parametrize("call, kind, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_library_error(call, kind, words, tmp_path):
    with pytest.raises(kind) as e:
        call(tmp_path)
    assert re.search(words, str(e.value), re.S), str(e.value)


# --- the command line: one line on stderr, exit code 2, no traceback ----------------------------

CLI_CASES = [
    ("lr-inf", ["train", "xor", "--lr", "inf"], r"--lr: the learning rate must be a positive "
                                                r"finite number.*'inf'"),
    ("lr-nan", ["train", "xor", "--lr", "nan"], r"positive finite number.*'nan'"),
    ("lr-negative", ["train", "xor", "--lr", "-0.1"], r"positive finite number.*'-0\.1'"),
    ("lr-zero", ["train", "xor", "--lr", "0"], r"positive finite number.*'0'"),
    ("lr-word", ["train", "xor", "--lr", "fast"], r"expected a number such as 0\.01"),
    ("sweep-lr-inf", ["sweep", "xor", "--lr", "0.1,inf"], r"positive finite.*'inf'"),
    ("jobs-zero", ["sweep", "xor", "--lr", "0.1", "--jobs", "0"],
     r"--jobs: 0 runs nothing.*-1 for one per core"),
    ("epochs-zero", ["train", "xor", "--epochs", "0"],
     r"argument --epochs: must be a positive whole number \(0 would train nothing\), got 0"),
    ("batch-size-zero", ["train", "xor", "--batch-size", "0"], r"argument --batch-size: must be a positive whole number, got 0"),
    ("hidden-zero", ["train", "xor", "--hidden", "8,0"], r"layer sizes must be positive"),
    ("unknown-optimizer", ["train", "xor", "--optimizer", "lbfgs"], r"invalid choice: 'lbfgs'"),
    ("out-is-a-file", ["train", "xor", "--out", "{file}"],
     r"zeroin train: --out .*existing\.txt is an existing file, but --out names a folder"),
    ("out-under-a-file", ["train", "xor", "--out", "{file}/run"],
     r"zeroin train: cannot create the output folder .*existing\.txt is a file"),
    ("lesson-out-is-a-file", ["lesson", "shooting", "--out", "{file}"],
     r"zeroin lesson: --out .*existing\.txt is an existing file"),
    ("tour-out-is-a-file", ["tour", "--no-train", "--out", "{file}"],
     r"zeroin tour: --out .*existing\.txt is an existing file"),
    ("out-cannot-be-created", ["train", "xor", "--out", "/proc/zeroin-test-out"],
     r"zeroin train: cannot (create|write) the output folder /proc/zeroin-test-out: .*--out"),
    ("csv-too-small", ["train", "{csv}"],
     r"zeroin train: load_dataset: .*rows3\.csv has 3 row\(s\), too few to split"),
    ("missing-data-file", ["train", "{tmp}/none.csv"], r"no such data file: .*none\.csv"),
    ("unknown-dataset", ["train", "moonz"], r"unknown dataset 'moonz'"),
    ("evaluate-missing", ["evaluate", "{tmp}/model.npz", "xor"],
     r"zeroin evaluate: load: no checkpoint at .*model\.npz"),
    ("evaluate-folder", ["evaluate", "{tmp}", "xor"], r"it is a folder; name the file in it"),
    ("evaluate-text-file", ["evaluate", "{text}", "xor"], r"notes\.txt is not an \.npz"),
    ("evaluate-tiny-file", ["evaluate", "{tiny}", "xor"],
     r"tiny\.npz is 2 byte\(s\) long.*empty or truncated"),
    ("sweep-scheduler-without-dask", ["sweep", "xor", "--lr", "0.1", "--scheduler", "x:1",
                                      "--out", "{tmp}/s"], r"--scheduler is for --backend dask"),
]


@pytest.mark.parametrize("argv, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_error(argv, words, tmp_path, capsys, monkeypatch):
    from zeroin.cli import main
    monkeypatch.chdir(tmp_path)
    names = {"tmp": str(tmp_path), "file": str(_write(tmp_path, "existing.txt", "x")),
             "csv": str(_csv(tmp_path, 3)), "tiny": str(_write(tmp_path, "tiny.npz", b"PK")),
             "text": str(_write(tmp_path, "notes.txt", "some notes"))}
    argv = [a.format(**names) for a in argv]
    try:
        rc = main(argv)
    except SystemExit as e:                    # argparse: usage line and the error, code 2
        rc = e.code
    out, err = capsys.readouterr()
    assert rc == 2
    assert re.search(words, err, re.S), err
    assert "Traceback" not in err and "epoch " not in out   # said before any training
    assert not (tmp_path / "zeroin-out").exists()           # and nothing written


def test_default_optimizer_is_named_as_the_default():
    import argparse

    from zeroin.cli import _user_message
    args = argparse.Namespace(command="train", optimizer="adam", optimizer_chosen=False)
    msg = _user_message(args, ValueError("Adam: weight_decay must be >= 0, got -1"))
    assert msg.startswith("zeroin train: the default optimizer (adam; choose another with "
                          "--optimizer) refused the settings: Adam:")
    args.optimizer_chosen = True
    assert _user_message(args, ValueError("Adam: x")) == "zeroin train: Adam: x"


def test_os_errors_name_the_file_not_errno():
    import argparse

    from zeroin.cli import _user_message
    err = PermissionError(13, "Permission denied", "/data/out/model.npz")
    msg = _user_message(argparse.Namespace(command="train"), err)
    assert msg == "zeroin train: Permission denied: /data/out/model.npz"


def test_catalogue_size():
    assert len(CASES) + len(CLI_CASES) >= 60


class _ForeignTensor:
    """Another library's tensor (as PyTorch's after a stray ``import torch``): an array-like
    whose class is also called Tensor."""
    def __array__(self, dtype=None, copy=None):
        return np.ones((2, 3))


_ForeignTensor.__name__ = "Tensor"
_ForeignTensor.__module__ = "otherlib._tensor"


@pytest.mark.parametrize("call", [
    lambda x: nn.functional.cross_entropy(x, zeroin.tensor([0, 1])),
    lambda x: nn.utils.rnn.pad_sequence([x])], ids=["cross_entropy", "pad_sequence"])
def test_another_librarys_tensor_is_named_with_its_package(call):
    """Not 'must be a Tensor or array, got Tensor': the package, and the conversion."""
    with pytest.raises(TypeError, match=r"must be a Tensor or array, got otherlib\.Tensor, "
                                        r"another library's array: convert it.*otherlib "
                                        r"imported where zeroin was meant"):
        call(_ForeignTensor())
    with pytest.raises(TypeError, match=r"must be a Tensor or array, got dict$"):
        call({})


@pytest.mark.parametrize("call, words", [
    (lambda: zeroin.cat([zeroin.ones(2, 3), zeroin.ones(2, 4)]),
     r"^cat: sizes of tensors must match except in dimension 0: entry 0 has shape \(2, 3\) "
     r"and entry 1 shape \(2, 4\), which differ in dimension 1 \(3 against 4\); to join "
     r"along dimension 1 use cat\(tensors, dim=1\)$"),
    (lambda: zeroin.cat([zeroin.ones(2, 3), zeroin.ones(5, 4)], dim=1),
     r"differ in dimension 0 \(2 against 5\)$"),
    (lambda: zeroin.cat([zeroin.ones(2, 3), zeroin.ones(2, 3), zeroin.ones(2, 2, 1)], -1),
     r"^cat: tensors must have the same number of dimensions: got 2 \(shape \(2, 3\), entry "
     r"0\) and 3 \(shape \(2, 2, 1\), entry 2\); add the missing one first"),
    (lambda: zeroin.stack([zeroin.ones(2, 3), zeroin.ones(2, 4)]),
     r"^stack: expects each tensor to be of equal size, but got \(2, 3\) at entry 0 and "
     r"\(2, 4\) at entry 1; .*use cat"),
    (lambda: zeroin.vstack([zeroin.ones(2, 3), zeroin.ones(2, 4)]), r"dim=1\)$")])
def test_cat_and_stack_say_which_tensor_and_dimension_do_not_fit(call, words):
    """The message was NumPy's ('concatenate: ... all the input array dimensions except for
    the concatenation axis must match exactly ...'): it now says PyTorch's rule, the entry,
    the dimension and the call that joins them."""
    with pytest.raises(zeroin.errors.ShapeError, match=words):
        call()
