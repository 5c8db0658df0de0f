"""A model's layers as a table: what each one outputs and how many parameters it holds.

``zeroin.utils.summary(model, input_size=(1, 3, 64, 64))`` is torchinfo's ``summary`` (the
table courses print after building a model): it runs one forward pass on made-up input with
hooks on every module, and prints each call's output shape and parameter count under the
model's tree, then the totals, the multiply-adds of the layers with weights and the memory
the pass would take. The forward pass runs under ``no_grad`` in eval mode (``mode=``), and
every module's train/eval flag is put back afterwards.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .._tensor import Tensor

_TITLES = {"input_size": "Input Shape", "output_size": "Output Shape", "num_params": "Param #",
           "params_percent": "Param %", "kernel_size": "Kernel Shape",
           "mult_adds": "Mult-Adds", "trainable": "Trainable"}
_ROWS = ("depth", "var_names", "ascii_only")


class LayerInfo:
    """One call of one module: its place in the tree and what went in and came out."""

    def __init__(self, module, var_name, depth, depth_index):
        self.module, self.var_name = module, var_name
        self.class_name = type(module).__name__
        self.depth, self.depth_index = depth, depth_index
        self.input_size, self.output_size = [], []
        self.output_bytes = 0
        self.is_leaf_layer = not any(True for _ in module.children())
        self.is_recursive = False
        own = list(module.parameters(recurse=False))
        every = list(module.parameters())
        self.num_params = sum(p.numel() for p in own)
        self.total_params = sum(p.numel() for p in every)
        trainable = [p.requires_grad for p in every]
        self.frozen = {"own": not any(p.requires_grad for p in own),
                       "all": not any(trainable)}
        self.trainable = ("--" if not trainable else "True" if all(trainable)
                          else "False" if not any(trainable) else "Partial")
        k = getattr(module, "kernel_size", None)
        self.kernel_size = [int(v) for v in k] if isinstance(k, (tuple, list)) else \
            None if k is None else int(k)
        self.macs = self.subtree_macs = 0

    def count_macs(self):
        """Multiply-adds of a leaf layer's weights over its output (a weight element is used
        once per output position of the batch: per sample for Linear, per pixel for conv)."""
        out = self.output_size
        if not self.is_leaf_layer or not out or not isinstance(out[0], int):
            return
        for name, p in self.module.named_parameters():
            if name in ("weight", "bias"):
                per = out[0] * (math.prod(out[2:]) if "Conv" in self.class_name else 1)
            elif "weight" in name or "bias" in name:        # RNN's weight_ih_l0 ...
                per = math.prod(out[:2])
            else:
                continue
            self.macs += per * p.numel()

    def __repr__(self):
        return f"{self.class_name}: {self.depth}-{self.depth_index}"


class ModelStatistics:
    """What :func:`summary` found: ``summary_list`` (a :class:`LayerInfo` per module call, in
    call order), ``total_params``, ``trainable_params``, ``total_mult_adds``, and the table
    as ``str()``."""

    def __init__(self, model, rows, input_bytes, depth, col_names, col_width, row_settings):
        self.summary_list = rows
        self.input_size = rows[0].input_size if rows else []
        params = list(model.parameters())
        self.total_params = sum(p.numel() for p in params)
        self.trainable_params = sum(p.numel() for p in params if p.requires_grad)
        self.total_param_bytes = sum(p.numel() * p.element_size() for p in params)
        leaves = [r for r in rows if r.is_leaf_layer]
        self.total_mult_adds = sum(r.macs for r in leaves)
        # activations and their gradients: the outputs of the layers with weights, twice
        self.total_output_bytes = 2 * sum(r.output_bytes for r in leaves if r.total_params)
        self.total_input = input_bytes
        self._fmt = (depth, tuple(col_names), col_width, tuple(row_settings))

    def __repr__(self):
        return _table(self, *self._fmt)

    __str__ = __repr__


def summary(model, input_size=None, input_data=None, *, col_names=("output_size", "num_params"),
            col_width=25, depth=3, dtypes=None, mode="eval", row_settings=("depth",),
            verbose=None, device=None, **kwargs):
    """Print (``verbose=1``) and return a :class:`ModelStatistics` table of ``model``'s layers.

    ``input_size`` is one input's shape with the batch, ``(1, 3, 64, 64)``, or a list of
    shapes for several inputs; zeroin makes the input (random floats from a fixed seed, so
    the global random state is left alone; zeros for integer ``dtypes``), of the model's
    parameter dtype unless ``dtypes`` says. Or pass ``input_data`` (a tensor, a list of
    tensors for the positional arguments, or a dict for keyword ones). ``col_names`` picks
    columns from ``input_size``, ``output_size``, ``num_params``, ``params_percent``,
    ``kernel_size``, ``mult_adds``, ``trainable``; ``depth`` how deep the tree is shown
    (deeper modules' parameters are counted in their shown ancestor); ``row_settings``
    ``depth`` (the ``: 2-1`` numbering) and ``var_names`` (each module's attribute name).
    ``verbose`` None prints outside an interactive session (where the returned table shows
    itself). Extra keyword arguments go to the model's forward. ``device`` is accepted (CPU).
    """
    bad = [c for c in col_names if c not in _TITLES]
    if bad:
        raise ValueError(f"summary: unknown col_names {bad}; choose from {list(_TITLES)}")
    bad = [r for r in row_settings if r not in _ROWS]
    if bad:
        raise ValueError(f"summary: unknown row_settings {bad}; choose from {list(_ROWS)}")
    if mode not in ("eval", "train", "same"):
        raise ValueError(f"summary: mode must be 'eval', 'train' or 'same', got {mode!r}")
    args, kw = _inputs(model, input_size, input_data, dtypes)
    if not (args or kw) and tuple(col_names) == ("output_size", "num_params"):
        col_names = ("num_params",)         # no forward pass: no shapes to show
    kw.update(kwargs)
    rows = _run(model, args, kw, mode) if args or kw else _tree_only(model)
    stats = ModelStatistics(model, rows, sum(_size(a)[1] for a in (*args, *kw.values())),
                            depth, col_names, col_width, row_settings)
    if verbose is None:
        verbose = 0 if hasattr(sys, "ps1") or "ipykernel" in sys.modules else 1
    if verbose:
        print(stats)
    return stats


def _inputs(model, input_size, input_data, dtypes):
    """The forward's positional and keyword arguments, from ``input_data`` or made."""
    if input_data is not None:
        if isinstance(input_data, dict):
            return [], dict(input_data)
        if isinstance(input_data, (list, tuple)):
            return list(input_data), {}
        return [input_data], {}
    if input_size is None:
        return [], {}
    sizes = [input_size] if all(isinstance(s, int) for s in input_size) else list(input_size)
    if any(not all(isinstance(d, int) for d in s) for s in sizes):
        raise TypeError(f"summary: input_size is one shape (1, 3, 64, 64) or a list of "
                        f"shapes, one per input; got {input_size!r}")
    params = [p for p in model.parameters() if p.dtype.kind == "f"]
    from .. import get_default_dtype
    default = params[0].dtype if params else get_default_dtype()
    dtypes = list(dtypes) if dtypes is not None else [default] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: {len(sizes)} input sizes but {len(dtypes)} dtypes")
    rng = np.random.default_rng(0)
    made = []
    for shape, dt in zip(sizes, dtypes):
        dt = np.dtype(dt)
        arr = rng.random(shape).astype(dt) if dt.kind in "fc" else np.zeros(shape, dt)
        made.append(Tensor(arr))
    return made, {}


def _run(model, args, kwargs, mode):
    """One forward pass with a pre-hook and a hook on every module: a row per call, and one
    for each container whose children are called but which is not (``model.head[0](x)``)."""
    from .. import no_grad
    names = {}
    for name, m in model.named_modules():
        names.setdefault(m, name)
    by_name = {n: m for m, n in names.items()}
    rows, listed, counters, handles, open_rows = [], set(), {}, [], {}

    def add(module, name):
        depth = name.count(".") + 1 if name else 0
        counters[depth] = counters.get(depth, 0) + 1
        row = LayerInfo(module, name.rsplit(".", 1)[-1] if name else type(module).__name__,
                        depth, counters[depth])
        row.is_recursive = module in listed
        listed.add(module)
        rows.append(row)
        return row

    def pre(module, inputs):
        name = names[module]
        parts = name.split(".") if name else []
        for i in range(1, len(parts)):          # containers not called themselves
            above = by_name.get(".".join(parts[:i]))
            if above is not None and above not in listed:
                add(above, ".".join(parts[:i]))
        row = add(module, name)
        row.input_size, _ = _size(inputs)
        open_rows.setdefault(module, []).append((row, len(rows)))

    def post(module, inputs, output):
        row, start = open_rows[module].pop()
        row.output_size, row.output_bytes = _size(output)
        row.count_macs()
        row.subtree_macs = row.macs + sum(r.macs for r in rows[start:] if r.is_leaf_layer)

    training = {m: m.training for m in names}
    try:
        for m in names:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        if mode != "same":
            model.train(mode == "train")
        with no_grad():
            model(*args, **kwargs)
    finally:
        for h in handles:
            h.remove()
        for m, flag in training.items():
            m.training = flag
    return rows


def _tree_only(model):
    """Without input: the tree of modules, with parameter counts and no shapes."""
    rows, counters = [], {}
    for name, m in model.named_modules():
        depth = name.count(".") + 1 if name else 0
        counters[depth] = counters.get(depth, 0) + 1
        rows.append(LayerInfo(m, name.rsplit(".", 1)[-1] if name else type(m).__name__,
                              depth, counters[depth]))
    return rows


def _size(x):
    """(shape as a list, bytes) of what a module took or gave: a tensor's; the first
    tensor's of a tuple or list (an LSTM's output, not its state); a dict's last value's."""
    if isinstance(x, Tensor):
        return list(x.shape), x.numel() * x.element_size()
    if isinstance(x, np.ndarray):
        return list(x.shape), x.nbytes
    if isinstance(x, dict) and x:
        return _size(list(x.values())[-1])
    if isinstance(x, (list, tuple)) and x:
        if isinstance(x[0], (Tensor, np.ndarray)):
            return _size(x[0])
        inner = [_size(v) for v in x]
        return [s for s, _ in inner], sum(b for _, b in inner)
    return [], 0


def _cell(row, col, depth, total):
    if col == "input_size":
        return str(row.input_size) if row.input_size else "--"
    if col == "output_size":
        return str(row.output_size) if row.output_size else "--"
    if col == "kernel_size":
        return str(row.kernel_size) if row.kernel_size is not None else "--"
    if col == "trainable":
        return row.trainable
    if col == "mult_adds":       # a module at the depth limit shows its subtree's
        n = row.macs if row.is_leaf_layer or row.depth < depth else row.subtree_macs
        return f"{n:,}" if n else "--"
    # a module shown with its children holds its own parameters; one at the depth limit
    # (or a leaf) holds all of its subtree's
    whole = row.is_leaf_layer or row.depth >= depth
    n = row.total_params if whole else row.num_params
    if col == "params_percent":         # torchinfo's: a repeated call says so, even empty
        return "     --" if not total else "(recursive)" if row.is_recursive else \
            f"{n / total:>7.2%}" if n else "     --"
    if row.is_recursive and row.total_params:    # counted at the module's first call
        return "(recursive)"
    frozen = row.frozen["all" if whole else "own"]
    return "--" if not n else f"({n:,})" if frozen else f"{n:,}"     # (n): nothing trains


def _label(row, settings):
    label = row.class_name
    if "var_names" in settings:
        label += f" ({row.var_name})"
    if "depth" in settings and row.depth:
        label += f": {row.depth}-{row.depth_index}"
    return label


def _name(row, settings):
    label = _label(row, settings)
    if not row.depth:
        return label
    bar, branch, last = ("|", "+ ", "+ ") if "ascii_only" in settings else ("│", "├─", "└─")
    return (branch if row.depth == 1 else (bar + "    ") * (row.depth - 1) + last) + label


def _table(stats, depth, col_names, col_width, settings):
    """The table as torchinfo prints it."""
    rows = [r for r in stats.summary_list if r.depth <= depth]
    names = [_name(r, settings) for r in rows]
    # torchinfo sizes the column by every layer, shown or deeper than ``depth``: 5 per level
    # and 1, then the label, rounded up to a multiple of 5 from 40 on
    longest = max((5 * r.depth + 1 + len(_label(r, settings)) for r in stats.summary_list),
                  default=0)
    width = 40 if longest < 40 else -(-longest // 5) * 5
    rule = "=" * (width + col_width * len(col_names))
    what = "type" + (" (var_name)" if "var_names" in settings else "") + \
        (":depth-idx" if "depth" in settings else "")

    def line(name, cells):          # each cell and a space
        return (f"{name:<{width}} " + "".join(f"{c:<{col_width}} " for c in cells)).rstrip()
    lines = [rule, line(f"Layer ({what})", [_TITLES[c] for c in col_names]), rule]
    for r, n in zip(rows, names):
        lines.append(line(n, [_cell(r, c, depth, stats.total_params) for c in col_names]))
    lines += [rule, f"Total params: {stats.total_params:,}",
              f"Trainable params: {stats.trainable_params:,}",
              f"Non-trainable params: {stats.total_params - stats.trainable_params:,}"]
    if stats.input_size or stats.total_input:
        macs = stats.total_mult_adds
        unit, scale = ("T", 1e12) if macs >= 1e12 else ("G", 1e9) if macs >= 1e9 else ("M", 1e6)
        mb = (stats.total_input, stats.total_output_bytes, stats.total_param_bytes)
        lines += [f"Total mult-adds ({unit}): {macs / scale:.2f}", rule,
                  f"Input size (MB): {mb[0] / 1e6:.2f}",
                  f"Forward/backward pass size (MB): {mb[1] / 1e6:.2f}",
                  f"Params size (MB): {mb[2] / 1e6:.2f}",
                  f"Estimated Total Size (MB): {sum(mb) / 1e6:.2f}"]
    return "\n".join(lines + [rule])
