"""The ``zeroin`` command line.

    zeroin tour                      every lesson, a short training run, one HTML page
    zeroin lesson NAME [--out DIR]   one lesson of the chapter (zeroin lesson --list)
    zeroin train DATASET [...]       train an MLP (or --model cnn) with progress, curves
                                     and a checkpoint
                                     (DATASET: a built-in name or a .npz/.csv file;
                                     --test TEST_FILE for a separate test file)
    zeroin evaluate CHECKPOINT DATASET
    zeroin sweep DATASET --lr 0.001,0.01,0.1,1 [...]

Each command's work lives in its own module; this file only parses arguments.
"""
from __future__ import annotations

import argparse
import sys


def _floats(s):
    try:
        return [float(v) for v in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as "
                                         f"0.01,0.1,1, got {s!r}")


def _ints(s):
    parts = [v.strip() for v in s.split(",")]
    try:
        values = [int(v) for v in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers such as "
                                         f"64,32, got {s!r}")
    if any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {s!r}")
    return values


def _add_training_args(p, sweep=False):
    p.add_argument("dataset", help="linear, xor, moons, spirals, sine, digits, mnist "
                                   "(or mnist:DIR for IDX files in DIR), or your own .npz "
                                   "(arrays data and label, or X and y) or .csv file (label "
                                   "in the last column)")
    p.add_argument("--test", default=None, metavar="TEST_FILE",
                   help="a separate test file; DATASET is then split into train and "
                        "validation only")
    p.add_argument("--task", default=None, choices=["classification", "regression"],
                   help="for files: override the guess (whole-number labels with few "
                        "distinct values are classes)")
    p.add_argument("--label-column", default=None,
                   help="for .csv files: the label column's header name or index "
                        "(default: the last column)")
    p.add_argument("--hidden", type=_ints, default=[64, 32] if not sweep else [32],
                   help="hidden layer sizes, e.g. 64,32")
    p.add_argument("--activation", default="relu",
                   choices=["relu", "tanh", "sigmoid", "leaky_relu"])
    p.add_argument("--optimizer", default="adam" if not sweep else "sgd",
                   choices=["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop",
                            "adam", "adamw"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=None if not sweep else 30,
                   help="passes over the training data (default 50 for the MLP, 20 for "
                        "--model cnn)" if not sweep else None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default ./zeroin-out/...)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="zeroin",
        description="Backpropagation and gradient descent, real, fast and visible.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("tour", help="run every lesson and a short training run; write "
                                    "zeroin-out/index.html")
    p.add_argument("--out", default="zeroin-out", help="output folder (default ./zeroin-out)")
    p.add_argument("--no-train", action="store_true", help="skip the training run")

    p = sub.add_parser("lesson", help="run one lesson of the chapter")
    p.add_argument("name", nargs="?", help="lesson name (see --list)")
    p.add_argument("--out", default="zeroin-out", help="folder for figures (default "
                                                      "./zeroin-out)")
    p.add_argument("--list", action="store_true", help="list the lessons")

    p = sub.add_parser("train", help="train an MLP (or a CNN) on a dataset")
    _add_training_args(p)
    p.add_argument("--lr", type=float, default=None, help="learning rate (eta; default 0.01 "
                                                          "for the MLP, 0.003 for --model cnn)")
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="mlp (--hidden, --activation) or cnn: a small CNN for 8x8 images, "
                        "LeNet-5 for 28x28 (images as rows of H*W pixels, e.g. digits, mnist)")
    p.add_argument("--verbose", type=int, default=1)

    p = sub.add_parser("evaluate", help="evaluate a saved checkpoint on a dataset")
    p.add_argument("checkpoint")
    p.add_argument("dataset", help="a built-in name or a .npz/.csv file (the file trained "
                                   "on: its held-out test rows; any other file: every row)")
    p.add_argument("--batch-size", type=int, default=256)

    p = sub.add_parser("sweep", help="one training run per learning rate, in parallel")
    _add_training_args(p, sweep=True)
    p.add_argument("--lr", type=_floats, required=True,
                   help="learning rates, comma-separated, e.g. 0.001,0.01,0.1,1")
    p.add_argument("--target", type=float, default=None,
                   help="loss to reach for 'epochs to target' (default: per dataset)")
    p.add_argument("--jobs", type=int, default=-1, help="parallel runs (-1: all cores)")
    p.add_argument("--backend", default="loky",
                   help="joblib backend: loky (default), threading, sequential or dask")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address for --backend dask (default: a local "
                        "cluster)")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__
        print(f"zeroin {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "tour":
            from .tour import run_tour
            run_tour(out=args.out, train=not args.no_train)
        elif args.command == "lesson":
            from . import lessons
            if args.list or not args.name:
                for name, fn in lessons.LESSONS.items():
                    doc = (fn.__doc__ or "").strip().splitlines()
                    print(f"  {name:<14} {doc[0] if doc else ''}")
                return 0
            lessons.run(args.name, out=args.out)
        elif args.command == "train":
            cnn = getattr(args, "model", "mlp") == "cnn"
            if args.epochs is None:
                args.epochs = 20 if cnn else 50
            if args.lr is None:
                args.lr = 0.003 if cnn else 0.01
            if cnn:
                from .nn.cnn import train_cnn_command
                train_cnn_command(args)
            else:
                from .commands import train_command
                train_command(args)
        elif args.command == "evaluate":
            from .commands import evaluate_command
            evaluate_command(args)
        elif args.command == "sweep":
            from .commands import sweep_command
            sweep_command(args)
    except BrokenPipeError:         # output piped into `head` and closed early
        sys.stdout = None
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        msg = str(e)
        # most messages already start with the operation's name ("lesson: ...")
        print(f"zeroin {msg}" if msg.startswith(f"{args.command}:")
              else f"zeroin {args.command}: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
