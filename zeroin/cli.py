"""The ``zeroin`` command line.

    zeroin tour                      every lesson, two short training runs, one HTML page
    zeroin lesson NAME [--out DIR] [--set KEY=VALUE]
                                     one lesson of the chapter (zeroin lesson --list);
                                     figures in zeroin-out/NAME unless --out
    zeroin train DATASET [...]       train an MLP (or a CNN) with progress, curves and a
                                     checkpoint
                                     (DATASET: a built-in name or a .npz/.csv file;
                                     --test TEST_FILE for a separate test file)
    zeroin evaluate CHECKPOINT DATASET [--figure PATH]
    zeroin sweep DATASET --lr 0.001,0.01,0.1,1 [...]

tour, lesson, train, sweep and evaluate --figure take --theme dark: their figures light on
slate, for dark slides; and --context talk (or poster, paper): larger text for slides.
Each command's work lives in :mod:`zeroin.recipes`; this file parses and checks the
arguments and turns a user's mistake into one line on stderr and exit code 2 (never a
traceback).
"""
from __future__ import annotations

import argparse
import math
import os
import sys

_OPTIMIZERS = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam",
               "adamw"]
_BACKENDS = ["loky", "threading", "sequential", "dask"]
_OPTIMIZER_CLASSES = ("SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW")


def _learning_rate(s):
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.01, got {s!r}")
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"the learning rate must be a positive finite "
                                         f"number such as 0.01, got {s!r}")
    return v


def _floats(s):
    return [_learning_rate(v) for v in s.split(",")]


def _at_least_one(why=""):
    def parse(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}")
        if v < 1:                              # one rule, one message for 0 and -3
            # argparse names the option first: "argument --epochs: must be ..."
            raise argparse.ArgumentTypeError(f"must be a positive whole number{why}, got {v}")
        return v
    return parse


def _jobs(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {s!r}")
    if v == 0:
        raise argparse.ArgumentTypeError("0 runs nothing: give the number of parallel runs "
                                         "(1, 2, ...) or -1 for one per core")
    return v


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


class _Chosen(argparse.Action):
    """Store the value and remember that the user chose it (messages name defaults)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        setattr(namespace, self.dest + "_chosen", True)


class _Formatter(argparse.HelpFormatter):
    """Help that shows each option's default (unless its help already says it)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("default" in text or default is None or default is False or default == []
                or default == argparse.SUPPRESS or not action.option_strings):
            return text
        if isinstance(default, (list, tuple)):
            default = ",".join(str(v) for v in default)
        return f"{text} (default: {default})"


class _RawEpilogFormatter(_Formatter, argparse.RawDescriptionHelpFormatter):
    """As :class:`_Formatter`, with the description and epilog printed line by line."""


def _per_dataset(key):
    """`` (default: 64,32; digits: 256,128)``: the general default and each recipe's."""
    from .recipes import RECIPES, TRAIN_DEFAULTS

    def text(v):
        return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else f"{v:g}" \
            if isinstance(v, float) else str(v)
    extra = "".join(f"; {name}: {text(r[key])}" for name, r in RECIPES.items() if key in r)
    return f" (default: {text(TRAIN_DEFAULTS[key])}{extra})"


def _add_training_args(p, sweep=False):
    from .recipes import TRAIN_DEFAULTS as D
    p.add_argument("dataset", help="linear, xor, moons, spirals, vertical, sine, digits, mnist "
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
    p.add_argument("--hidden", type=_ints, default=None if not sweep else [32],
                   help="hidden layer sizes, comma-separated" + (_per_dataset("hidden")
                                                                  if not sweep else ""))
    p.add_argument("--activation", default="relu",
                   choices=["relu", "tanh", "sigmoid", "leaky_relu"],
                   help="the nonlinearity after each hidden layer")
    p.add_argument("--optimizer", default=D["optimizer"] if not sweep else "sgd",
                   choices=_OPTIMIZERS, action=_Chosen,
                   help="how the weights move (momentum and nesterov: SGD with momentum 0.9)")
    p.add_argument("--batch-size", type=_at_least_one(),
                   default=None if not sweep else 32,
                   help="samples per gradient step" + (_per_dataset("batch_size")
                                                       if not sweep else ""))
    p.add_argument("--epochs", type=_at_least_one(" (0 would train nothing)"),
                   default=None if not sweep else 30,
                   help="passes over the training data" + (_per_dataset("epochs")
                                                           if not sweep else ""))
    p.set_defaults(optimizer_chosen=False)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights, shuffling and dropout")
    p.add_argument("--out", default=None,
                   help="output folder, created if missing (default: a new "
                        f"zeroin-out/{'sweep' if sweep else 'train'}-DATASET-TIME for each run)")


def _lesson_parameters_text():
    """Each lesson's parameters and defaults, for ``zeroin lesson --help``."""
    from .lessons import LESSONS
    from .lessons._common import parameters_text
    lines = ["lesson parameters for --set (defaults; a list such as etas is set as "
             "--set etas=0.2,0.5):"]
    lines += [f"  {name}: {parameters_text(fn) or '(none)'}" for name, fn in LESSONS.items()]
    return "\n".join(lines)


def build_parser():
    from .recipes import TRAIN_DEFAULTS as D
    parser = argparse.ArgumentParser(
        prog="zeroin", formatter_class=_Formatter,
        description="Backpropagation and gradient descent, real, fast and visible.\n"
                    "`zeroin COMMAND --help` explains each command's options.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    parser.commands = {}

    def command(name, help, description=None, formatter=_Formatter):
        parser.commands[name] = sub.add_parser(name, help=help, formatter_class=formatter,
                                               description=description or help)
        return parser.commands[name]

    p = command("tour", "run every lesson and two short training runs (moons, digits); "
                        "write OUT/index.html")
    p.add_argument("--out", default="zeroin-out", help="output folder")
    p.add_argument("--no-train", action="store_true", help="skip the training runs")
    _theme_flag(p, "the figures' and the page's colours")

    p = command("lesson", "run one lesson of the chapter", formatter=_RawEpilogFormatter)
    p.epilog = _lesson_parameters_text()
    p.add_argument("name", nargs="?", help="lesson name (see --list)")
    p.add_argument("--out", default=None,
                   help="folder for figures (default: zeroin-out/NAME, as the tour)")
    p.add_argument("--list", action="store_true", help="list the lessons")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="change one of the lesson's parameters (listed below), e.g. "
                        "--set target=70 or --set etas=0.2,0.5,0.9; repeat for more")
    _theme_flag(p, "the figures' colours")

    p = command("train", "train an MLP (or, with --model cnn, a CNN) on a dataset",
                "Train an MLP (or a CNN: --model cnn), print one line per epoch, then write "
                "model.npz, history.json and loss/metric curves into a folder of its own. "
                "Options left out take the dataset's recipe (for digits, one tuned on its "
                "validation part).")
    _add_training_args(p)
    p.add_argument("--lr", type=_learning_rate, default=None,
                   help="learning rate (eta): the size of each step against the gradient"
                        + _per_dataset("lr"))
    p.add_argument("--schedule", default=None, choices=["cosine", "none"],
                   help="cosine: lower the learning rate along half a cosine to 0 over "
                        "the epochs; none: keep it" + _per_dataset("schedule"))
    p.add_argument("--augment", default=D["augment"], choices=["auto", "shift", "none"],
                   help="shift: also train on copies of the images moved one pixel "
                        "(digits, mnist); auto: shift for digits, none otherwise")
    p.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2],
                   help="0 quiet; 1 one line per epoch (with a live bar on a terminal); "
                        "2 one line per epoch only")
    p.add_argument("--model", default="mlp", choices=["mlp", "cnn"],
                   help="mlp, or cnn: a small CNN for 8x8 images, LeNet-5 for 28x28 (images "
                        "as rows of H*W pixels: digits, mnist); its defaults: 20 epochs, lr "
                        "0.003 cosine-annealed, batch size 32 (--hidden, --activation, "
                        "--schedule and --augment are the MLP's)")
    _theme_flag(p, "the curves' colours")

    p = command("evaluate", "evaluate a saved checkpoint on a dataset")
    p.add_argument("checkpoint", help="a model.npz written by `zeroin train`")
    p.add_argument("dataset", help="a built-in name or a .npz/.csv file (the file trained "
                                   "on: its held-out test rows; any other file: every row)")
    p.add_argument("--batch-size", type=_at_least_one(), default=256,
                   help="samples per forward pass (memory, not results)")
    p.add_argument("--figure", default=None, metavar="PATH",
                   help="also draw the results into PATH (.png, .svg or .pdf): a classifier's "
                        "confusion matrix (counts and share of each true class), accuracy "
                        "per class and, for images, the misclassified ones; a regression's "
                        "predicted against true values")
    _theme_flag(p, "the figure's colours")

    p = command("sweep", "one training run per learning rate, in parallel")
    _add_training_args(p, sweep=True)
    p.add_argument("--lr", type=_floats, required=True,
                   help="learning rates, comma-separated, e.g. 0.001,0.01,0.1,1")
    p.add_argument("--target", type=float, default=None,
                   help="loss to reach for 'epochs to target' (default: per dataset)")
    p.add_argument("--jobs", type=_jobs, default=-1,
                   help="parallel runs (-1: one per core, -2: all but one, ...)")
    p.add_argument("--backend", default="loky", choices=_BACKENDS,
                   help="joblib backend: " + ", ".join(_BACKENDS[:-1]) + " or " + _BACKENDS[-1])
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address for --backend dask (default: a local "
                        "cluster)")
    _theme_flag(p, "the figure's colours")
    return parser


def _user_message(args, e):
    """One line saying what went wrong and where, prefixed by the command."""
    if isinstance(e, OSError) and e.strerror and e.filename and e.errno is not None:
        msg = f"{e.strerror}: {e.filename}"                  # not "[Errno 13] ..."
    else:
        msg = str(e) or type(e).__name__
    head = msg.split(":", 1)[0]
    if head in _OPTIMIZER_CLASSES and not getattr(args, "optimizer_chosen", True):
        msg = (f"the default optimizer ({args.optimizer}; choose another with --optimizer) "
               f"refused the settings: {msg}")
    # most messages already start with the operation's name ("lesson: ...")
    return f"zeroin {msg}" if msg.startswith(f"{args.command}:") else \
        f"zeroin {args.command}: {msg}"


def _lesson_out(args):
    """``--out`` as given, else ``zeroin-out/<lesson>`` (each lesson in its own folder, as
    the tour writes them); checks the name and the lesson's parameters first."""
    from . import lessons
    if args.list and (args.name or args.set):
        extra = " ".join(([args.name] if args.name else []) + args.set)
        raise ValueError(f"lesson: --list lists every lesson and takes nothing else (got "
                         f"{extra!r}); run `zeroin lesson NAME` for one")
    if not args.name and (args.set or args.out is not None):
        given = " ".join(args.set + ([f"--out {args.out}"] if args.out is not None else []))
        raise ValueError(f"lesson: give the lesson's name for {given!r}: zeroin lesson NAME "
                         f"... (zeroin lesson --list names them)")
    if args.list or not args.name:
        return None
    fn = lessons.lookup(args.name)
    name = fn.__name__.replace("_", "-")
    return args.out if args.out is not None else os.path.join("zeroin-out", name)


def _prepare_out(out):
    """Check and create a lesson's or the tour's output folder now, before any work."""
    from .recipes import check_out_folder
    if not str(out).strip():
        raise ValueError("--out is empty: give a folder name, e.g. --out figures")
    check_out_folder(out)
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise OSError(f"cannot create the output folder {out} ({e.strerror or e}); "
                      f"choose another with --out") from None


def _new_folders(out):
    """The folders ``out`` and its parents that do not exist yet, deepest first."""
    new, path = [], os.path.abspath(out)
    while path and not os.path.exists(path) and path != os.path.dirname(path):
        new.append(path)
        path = os.path.dirname(path)
    return new


def _theme_flag(p, what):
    p.add_argument("--theme", choices=("light", "dark"), default="light",
                   help=f"{what}: light (dark on white, the default) or dark (light on "
                        f"slate, for dark slides)")
    p.add_argument("--context", choices=("paper", "notebook", "talk", "poster"),
                   default="notebook",
                   help="the figures' text size, as zeroin.viz.set_context: notebook (the "
                        "default), paper (smaller), talk (1.5 times, for slides) or poster "
                        "(2 times, for a projector)")


def _run(args):
    """Run the command; a lesson or tour that fails removes the output folders it made
    while they are still empty (a mistyped --set leaves nothing behind)."""
    if args.command == "lesson":
        args.out = _lesson_out(args)
        if args.name:                      # --set mistakes are said before any folder
            from . import lessons
            args.params = lessons.settings(args.name, args.set)
    made = []
    if args.command in ("tour", "lesson") and args.out is not None:
        made = _new_folders(args.out)
        _prepare_out(args.out)
    from .viz.contexts import context
    try:
        with context(getattr(args, "context", "notebook")):   # the figures' text size
            _run_command(args)
    except BaseException:
        for path in made:
            try:
                os.rmdir(path)             # only while empty
            except OSError:
                break
        raise


def _run_command(args):
    if args.command == "tour":
        from .tour import run_tour
        run_tour(out=args.out, train=not args.no_train, theme=args.theme)
    elif args.command == "lesson":
        from . import lessons
        if args.list or not args.name:
            for name, fn in lessons.LESSONS.items():
                doc = (fn.__doc__ or "").strip().splitlines()
                print(f"  {name:<14} {doc[0] if doc else ''}")
            return
        lessons.run(args.name, out=args.out, verbose=True, theme=args.theme,  # a command
                    **args.params)                                         # prints
    else:
        from . import recipes
        if args.command == "train" and getattr(args, "model", "mlp") == "cnn":
            from .nn.cnn import train_cnn_command
            return train_cnn_command(args)
        if args.command == "train":           # options left out: the dataset's recipe
            for key, value in recipes.recipe_for(args.dataset).items():
                if getattr(args, key, None) is None:
                    setattr(args, key, list(value) if key == "hidden" else value)
        getattr(recipes, f"{args.command}_command")(args)


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:                  # said by the command's own parser, with its usage
        (parser.commands.get(args.command) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}")
    if args.version:
        from . import __version__
        print(f"zeroin {__version__}")
        return 0
    if args.command is None:       # as argparse for a missing argument (and git): usage, 2
        parser.print_help(sys.stderr)
        print("\nzeroin: error: a COMMAND is required (e.g. `zeroin tour`); "
              "`zeroin --help` shows this help and exits 0", file=sys.stderr)
        return 2
    try:
        _run(args)
    except BrokenPipeError:         # output piped into `head` and closed early
        sys.stdout = None
        return 0
    except KeyboardInterrupt as e:        # a message says what was still saved
        print(f"zeroin {args.command}: {e}" if str(e) else "interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError, RuntimeError, ImportError, KeyError) as e:
        print(_user_message(args, e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
