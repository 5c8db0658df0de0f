"""Machine sweep for semantic differences from PyTorch.

Every public function of ``zeroin``, ``zeroin.nn.functional``, ``zeroin.special`` and
``zeroin.linalg``, and every Tensor method, whose name PyTorch's matching namespace also
has, is called with generic patterns (one tensor of several shapes, two broadcastable
tensors, ``dim=``, ``keepdim=True``, a positional second argument, ...) on float64 inputs,
once with positive values in (0.5, 2) and once with mixed signs. For each call the sweep
compares: which side raised; output structure (tuple, ``(values, indices)`` pair, Python
number); dtype, shape and values (NaN positions too); and the gradient of
``sum(outputs * random weights)`` with respect to the inputs.

Run ``python tests/parity_sweep.py [name-filter]`` for the full report (about a minute);
``tests/test_pytorch_parity_sweep.py`` runs a curated subset as a test.
"""
import inspect
import sys
import warnings
import zlib

import numpy as np

import zeroin
import zeroin.linalg
import zeroin.nn.functional
import zeroin.special

try:
    import torch
except ImportError:     # pragma: no cover - the test module skips without torch
    torch = None

RANDOM = {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
          "bernoulli", "bernoulli_", "multinomial", "normal", "normal_", "poisson",
          "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
          "feature_alpha_dropout", "rrelu", "rrelu_", "gumbel_softmax", "uniform_",
          "exponential_", "cauchy_", "log_normal_", "geometric_", "random_", "dropout_",
          "alpha_dropout_", "feature_dropout", "fractional_max_pool2d",
          "fractional_max_pool3d"}
# not math on tensors: global state, I/O, printing, compilation
SKIP = {"save", "load", "manual_seed", "seed", "initial_seed", "set_default_dtype",
        "set_default_tensor_type", "set_printoptions", "set_num_threads",
        "set_num_interop_threads", "set_rng_state", "get_rng_state", "use_deterministic_algorithms",
        "set_grad_enabled", "compile", "set_anomaly_enabled", "set_flush_denormal",
        "set_default_device", "set_float32_matmul_precision", "set_warn_always",
        "register_hook", "register_post_accumulate_grad_hook", "backward", "apply_",
        "map_", "tolist", "numpy", "item", "__repr__", "share_memory_", "pin_memory",
        "set_", "resize_", "resize_as_", "storage", "untyped_storage", "data_ptr",
        "enable_grad", "no_grad", "inference_mode", "is_grad_enabled", "typename",
        "from_numpy", "frombuffer", "empty", "empty_like", "empty_strided", "new_empty",
        "new_empty_strided", "detect_anomaly", "autocast"}

NAMESPACES = [("", zeroin, "torch"), ("F.", zeroin.nn.functional, "torch.nn.functional"),
              ("special.", zeroin.special, "torch.special"),
              ("linalg.", zeroin.linalg, "torch.linalg"), ("Tensor.", zeroin.Tensor, "torch.Tensor")]


def _public(mod):
    out = []
    for n in dir(mod):
        if n.startswith("_") or n in SKIP:
            continue
        try:
            f = getattr(mod, n)
        except Exception:       # noqa: BLE001
            continue
        if callable(f) and not inspect.isclass(f) and not inspect.ismodule(f):
            out.append(n)
    return out


def names(tmod_of=None):
    """``[(prefix, name)]`` swept: public callables that both libraries have."""
    out = []
    for prefix, zmod, tname in NAMESPACES:
        tmod = _torch_ns(tname)
        out += [(prefix, n) for n in _public(zmod) if hasattr(tmod, n)]
    return out


def _torch_ns(tname):
    return {"torch": torch, "torch.nn.functional": torch.nn.functional,
            "torch.special": torch.special, "torch.linalg": torch.linalg,
            "torch.Tensor": torch.Tensor}[tname]


# --- call patterns: (label, input shapes, extra positional args, keyword args) ----------

def _patterns():
    pats = []
    for s in [(), (5,), (3, 4), (2, 3, 4)]:
        pats.append((f"x{s}", [s], (), {}))
    pats += [("x(3,4),y(4,)", [(3, 4), (4,)], (), {}),
             ("x(2,3,4),y(3,1)", [(2, 3, 4), (3, 1)], (), {}),
             ("x,y,z(3,4)", [(3, 4), (3, 4), (3, 4)], (), {}),
             ("sq(4,4)", ["sq4"], (), {}), ("sq(2,3,3)", ["sq23"], (), {})]
    for s in [(3, 4), (2, 3, 4)]:
        for d in (0, 1, -1):
            pats.append((f"x{s},dim={d}", [s], (), {"dim": d}))
        pats.append((f"x{s},dim=1,keepdim", [s], (), {"dim": 1, "keepdim": True}))
        pats.append((f"x{s},1", [s], (1,), {}))
        pats.append((f"x{s},0", [s], (0,), {}))
        pats.append((f"x{s},-1", [s], (-1,), {}))
        pats.append((f"x{s},1,True", [s], (1, True), {}))
    pats += [("x(3,4),0.5", [(3, 4)], (0.5,), {}), ("x(3,4),2", [(3, 4)], (2,), {}),
             ("x(3,4),0,1", [(3, 4)], (0, 1), {}), ("x(2,3,4),0,2", [(2, 3, 4)], (0, 2), {}),
             ("x(3,4),y(3,4),1", [(3, 4), (3, 4)], (1,), {}),
             ("x(3,4),y(3,4),dim=0", [(3, 4), (3, 4)], (), {"dim": 0}),
             ("x(3,4),y(3,4),0.5", [(3, 4), (3, 4)], (0.5,), {}),
             ("x(3,4),y(4,5)", [(3, 4), (4, 5)], (), {}),
             ("x(3,4),y(4,)mv", [(3, 4), (4,)], (), {}),
             ("x(2,3,4),y(2,4,5)", [(2, 3, 4), (2, 4, 5)], (), {}),
             ("x(3,4),[1,0]", [(3, 4)], ([1, 0],), {}),
             ("x(3,4),dim=(0,1)", [(3, 4)], (), {"dim": (0, 1)}),
             ("x(3,4),(4,3)", [(3, 4)], ((4, 3),), {}),
             ("x(3,4),-1,12", [(3, 4)], (-1,), {}),
             ("x(2,3,4),(1,0,2)", [(2, 3, 4)], ((1, 0, 2),), {}),
             ("x(3,4),[x]", "list", (), {}),
             ("x(3,4),[x],1", "list", (1,), {}),
             ("x(1,3,8),3", [(1, 3, 8)], (3,), {}),
             ("x(1,2,6,6),2", [(1, 2, 6, 6)], (2,), {}),
             ("x(3,4),idx", [(3, 4), "idx"], (), {}),
             ("x(3,4),1,idx", [(3, 4)], (1, "idx"), {}),
             ("x(3,4),mask", [(3, 4), "mask"], (), {}),
             ("x(3,4),target", [(3, 4), "target"], (), {})]
    return pats


PATTERNS = _patterns()


def _array(rng, shape, kind):
    if shape == "sq4" or shape == "sq23":
        n, b = (4, ()) if shape == "sq4" else (3, (2,))
        m = rng.uniform(-1, 1, b + (n, n))
        return m @ np.swapaxes(m, -1, -2) / n + np.eye(n)
    lo, hi = (0.5, 2.0) if kind == "pos" else (-2.0, 2.0)
    return rng.uniform(lo, hi, shape)


def _build(T, pattern, kind, grad):
    """The arguments of one call, made with module ``T``; also the leaf tensors."""
    label, shapes, extra, kw = pattern
    rng = np.random.default_rng(zlib.crc32(label.encode()))
    leaves = []

    def tensor(a, g=grad):
        x = T.tensor(a, requires_grad=g)
        leaves.append(x)
        return x

    if shapes == "list":
        args = [[tensor(_array(rng, (3, 4), kind)), tensor(_array(rng, (3, 4), kind))]]
    else:
        args = []
        for s in shapes:
            if s == "idx":
                args.append(T.tensor(np.array([[0, 2, 1, 3], [1, 0, 0, 2], [3, 3, 1, 0]])))
            elif s == "mask":
                args.append(T.tensor(rng.uniform(-1, 1, (3, 4)) > 0))
            elif s == "target":
                args.append(T.tensor(np.array([0, 3, 1])))
            else:
                args.append(tensor(_array(rng, s, kind)))
    for e in extra:
        args.append(T.tensor(np.array([[0, 2], [1, 1], [3, 0]])) if e == "idx" else e)
    return args, dict(kw), leaves


# --- running and comparing ------------------------------------------------------------------

def _call(T, prefix, name, pattern, kind, grad):
    args, kw, leaves = _build(T, pattern, kind, grad)
    if prefix == "Tensor.":
        if not args or not isinstance(args[0], T.Tensor):
            return NotApplicable(), leaves, args
        f = getattr(args[0], name)
        call_args = args[1:]
    else:
        mod = {"": T, "F.": T.nn.functional, "special.": T.special, "linalg.": T.linalg}[prefix]
        f = getattr(mod, name)
        call_args = args
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            out = f(*call_args, **kw)
    except Exception as e:      # noqa: BLE001 - compared with the other library
        return e, leaves, args
    return out, leaves, args


class NotApplicable:
    pass


def _flat(out, path="out"):
    """[(path, leaf)] of a result, and a structure signature."""
    if isinstance(out, (tuple, list)):
        fields = getattr(out, "_fields", None) or getattr(type(out), "__match_args__", None)
        kind = f"named{tuple(fields)}" if fields else type(out).__name__
        if type(out).__name__ in ("Size",):
            return [(path, tuple(out))], "size"
        items, sig = [], []
        for i, o in enumerate(out):
            it, s = _flat(o, f"{path}[{i}]")
            items += it
            sig.append(s)
        return items, f"{kind}({','.join(sig)})"
    if _is_tensor(out):
        return [(path, out)], "T"
    if isinstance(out, (bool, int, float, complex)):
        return [(path, out)], type(out).__name__
    if out is None:
        return [], "None"
    if isinstance(out, zeroin.dtype) or (torch is not None and isinstance(out, torch.dtype)):
        return [], "dtype:" + str(out).replace("torch.", "")
    return [(path, out)], "other:" + type(out).__name__


def _is_tensor(x):
    return isinstance(x, zeroin.Tensor) or (torch is not None and isinstance(x, torch.Tensor))


def _np(x):
    if isinstance(x, zeroin.Tensor):
        return np.asarray(x.detach().numpy())
    return x.detach().numpy(force=True)


def _dt(x):
    return str(x.dtype).replace("torch.", "")


def _close(a, b, rtol=1e-10):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return bool(np.allclose(a, b, rtol=rtol, atol=rtol / 100, equal_nan=True))
    return bool(np.array_equal(a, b))


def _weights(shape, i):
    return np.random.default_rng(1000 + i + 7 * len(shape)).uniform(-1, 1, shape)


def _grads(T, out, leaves):
    """Gradients of sum(outputs * weights) w.r.t. the leaves, or a reason there are none."""
    items, _ = _flat(out)
    loss = None
    leaves = [x for x in leaves if x.requires_grad]
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for i, (_, o) in enumerate(items):
                if _is_tensor(o) and o.is_floating_point() and o.requires_grad:
                    term = (o * T.tensor(_weights(tuple(o.shape), i))).sum()
                    loss = term if loss is None else loss + term
            if loss is None:
                return None
            gs = T.autograd.grad(loss, leaves, allow_unused=True)
    except Exception as e:      # noqa: BLE001
        return e
    return [None if g is None else _np(g) for g in gs]


def compare(prefix, name, pattern, kind):
    """One call with both libraries: a list of difference strings (empty when they agree)."""
    inplace = name.endswith("_") and not name.endswith("__")
    rand = name in RANDOM
    grad = not inplace and not rand
    rt, lt, at = _call(torch, prefix, name, pattern, kind, grad)
    rz, lz, az = _call(zeroin, prefix, name, pattern, kind, grad)
    if isinstance(rt, NotApplicable):
        return None
    if isinstance(rt, Exception) and isinstance(rz, Exception):
        return []
    if isinstance(rt, Exception):
        return [f"torch raises {type(rt).__name__}: {_short(rt)}; zeroin returns {_desc(rz)}"]
    if isinstance(rz, Exception):
        return [f"zeroin raises {type(rz).__name__}: {_short(rz)}; torch returns {_desc(rt)}"]
    diffs = _compare_results(rt, rz, values=not rand)
    if inplace and not rand and not diffs:
        for i, (a, b) in enumerate(zip(lt, lz)):
            if not _close(_np(a), _np(b)):
                diffs.append(f"input {i} after the in-place call differs")
    if grad and not diffs:
        gt, gz = _grads(torch, rt, lt), _grads(zeroin, rz, lz)
        diffs += _compare_grads(gt, gz)
    return diffs


def _compare_results(rt, rz, values=True):
    it, st = _flat(rt)
    iz, sz = _flat(rz)
    if st != sz:
        return [f"structure {sz} != torch {st}"]
    diffs = []
    for (p, a), (_, b) in zip(it, iz):
        if _is_tensor(a):
            if tuple(a.shape) != tuple(b.shape):
                diffs.append(f"{p}: shape {tuple(b.shape)} != torch {tuple(a.shape)}")
            elif _dt(a) != _dt(b):
                diffs.append(f"{p}: dtype {_dt(b)} != torch {_dt(a)}")
            elif values and not _close(_np(a), _np(b)):
                diffs.append(f"{p}: values differ (max |d| {_maxdiff(_np(a), _np(b))})")
            elif values and a.requires_grad != b.requires_grad:
                diffs.append(f"{p}: requires_grad {b.requires_grad} != torch {a.requires_grad}")
        elif isinstance(a, (bool, int, float, complex)):
            if type(a) is not type(b) or (values and not _close(a, b)):
                diffs.append(f"{p}: {b!r} != torch {a!r}")
    return diffs


def _compare_grads(gt, gz):
    if gt is None and gz is None:
        return []
    if isinstance(gt, Exception) or isinstance(gz, Exception) or gt is None or gz is None:
        if isinstance(gt, Exception) and isinstance(gz, Exception):
            return []
        if isinstance(gt, Exception) and gz is not None:
            return []     # zeroin differentiates what torch does not (floor_divide...)
        return [f"grad: zeroin {_desc(gz)}, torch {_desc(gt)}"]
    diffs = []
    for i, (a, b) in enumerate(zip(gt, gz)):
        if a is None and b is None:
            continue
        if a is None or b is None:
            a0 = a if a is not None else np.zeros_like(b)
            b0 = b if b is not None else np.zeros_like(a)
            if not _close(a0, b0):
                diffs.append(f"grad {i}: zeroin {'None' if b is None else 'set'}, torch "
                             f"{'None' if a is None else 'set'}")
        elif not _close(a, b, rtol=1e-8):
            diffs.append(f"grad {i} differs (max |d| {_maxdiff(a, b)})")
    return diffs


def _maxdiff(a, b):
    try:
        return f"{np.nanmax(np.abs(np.asarray(a, float) - np.asarray(b, float))):.3g}"
    except Exception:       # noqa: BLE001
        return "?"


def _short(e):
    return str(e).split("\n")[0][:110]


def _desc(r):
    if isinstance(r, Exception):
        return f"{type(r).__name__}: {_short(r)}"
    if isinstance(r, list):
        return f"list[{len(r)}]"
    items, sig = _flat(r)
    return sig[:60]


def sweep(selected=None, kinds=("pos", "mixed")):
    """``(n_names, n_calls, {(prefix+name, pattern label, kind): [differences]})``."""
    old = torch.get_default_dtype(), torch.is_warn_always_enabled()
    torch.set_default_dtype(torch.float64)
    torch.set_warn_always(True)     # else PyTorch's warn-once notices are used up here
    try:
        return _sweep(selected, kinds)
    finally:
        torch.set_default_dtype(old[0])
        torch.set_warn_always(old[1])


def _sweep(selected, kinds):
    found, n_calls, swept = {}, 0, 0
    for prefix, name in names():
        full = prefix + name
        if selected is not None and full not in selected:
            continue
        swept += 1
        for pattern in PATTERNS:
            for kind in kinds:
                d = compare(prefix, name, pattern, kind)
                if d is None:
                    continue
                n_calls += 1
                if d:
                    found[(full, pattern[0], kind)] = d
    return swept, n_calls, found


def main(argv):
    import time
    flt = argv[1] if len(argv) > 1 else None
    sel = None
    if flt:
        sel = {p + n for p, n in names() if flt in p + n}
    t0 = time.time()
    swept, calls, found = sweep(sel)
    by_name = {}
    for (full, label, kind), d in found.items():
        by_name.setdefault(full, []).append((label, kind, d))
    for full in sorted(by_name):
        print(f"== {full}")
        for label, kind, d in by_name[full]:
            print(f"   {label} [{kind}]: {'; '.join(d)}")
    kinds = {}
    for (full, _, _), ds in found.items():
        for d in ds:
            kinds.setdefault(kind_of(d), set()).add(full)
    for k, ns in sorted(kinds.items()):
        print(f"{k}: {len(ns)} names")
    print(f"\n{swept} names, {calls} calls, {len(found)} differing calls in "
          f"{len(by_name)} names, {time.time() - t0:.1f} s")


def kind_of(diff):
    """The kind of one difference, for the summary."""
    if diff.startswith("torch raises TypeError"):
        return "zeroin accepts an argument type PyTorch refuses"
    if diff.startswith("torch raises"):
        return "zeroin accepts a call PyTorch refuses (other)"
    if diff.startswith("zeroin raises"):
        return "zeroin refuses a call PyTorch accepts"
    for k in ("structure", "dtype", "shape", "requires_grad", "values", "grad", "input"):
        if k in diff:
            return k
    return "other"


if __name__ == "__main__":
    main(sys.argv)
