"""LBFGS: limited-memory BFGS with PyTorch's semantics (``torch.optim.LBFGS``).

One ``step(closure)`` runs up to ``max_iter`` quasi-Newton iterations on all parameters
flattened into one vector ``x`` (in order), calling the closure at most ``max_eval`` times.
The direction is ``d = -H g``, ``H`` the inverse-Hessian estimate of the two-loop recursion
(Nocedal & Wright, Algorithm 7.4) over the last ``history_size`` pairs ``s = x' - x``,
``y = g' - g`` (a pair is kept only when ``y.s > 1e-10``), started from ``y.s / y.y`` times
the identity. The step length is ``lr`` (the very first one ``min(1, 1/|g|_1) * lr``), or
with ``line_search_fn="strong_wolfe"`` found by a line search (bracketing, then zooming by
cubic interpolation: minFunc's, which PyTorch ports) that stops at a point satisfying the
strong Wolfe conditions ``f(x + t d) <= f + c1 t g.d`` and ``|g(x + t d).d| <= -c2 g.d``.

Numbers computed from vectors (``g.d``, ``y.s``, ``t``...) stay NumPy scalars of the
parameters' dtype, as PyTorch's 0-d tensors do, so float32 parameters run in float32.
"""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from .._tensor import Tensor, enable_grad
from .optimizer import Optimizer, _check_number

__all__ = ["LBFGS"]

# one point of a line search: step t, loss f, flat gradient g and slope gtd = g.d there
_Trial = namedtuple("_Trial", "t f g gtd")

_VECTORS = ("d", "prev_flat_grad")
_HISTORY = ("old_dirs", "old_stps")
_NUMBERS = ("t", "H_diag", "prev_loss")
_COUNTS = ("func_evals", "n_iter")
# PyTorch's order of the keys a step adds ('al', its work list, comes in the first step
# with a second iteration, the others at the end of the first step)
_ORDER = ("d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss")


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: between x1 and x2); the middle of the bounds when the
    cubic has no minimum (Nocedal & Wright, eq. 3.59)."""
    if bounds is None:
        bounds = (x1, x2) if x1 <= x2 else (x2, x1)
    lo, hi = bounds
    span = x1 - x2
    # a step t is a NumPy scalar where PyTorch's is a 0-d tensor, and PyTorch divides a
    # Python number by one as number * (1 / tensor): two roundings, kept for bit-parity
    slope = 3 * (f1 - f2) * (1 / span) if isinstance(span, np.generic) else \
        3 * (f1 - f2) / span
    d1 = g1 + g2 - slope
    d2_square = d1 * d1 - g1 * g2
    if not d2_square >= 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _wolfe_bracket(evaluate, start, t, c1, c2, max_ls):
    """Phase 1: lengthen the step (by interpolation, at most 10x per try) until
    ``[previous, new]`` brackets a strong Wolfe point or the new point is one.

    Returns ``(bracket, done, tries)``: ``done`` when ``bracket == [point]`` satisfies the
    conditions; ``[start, last]`` after ``max_ls`` tries without a bracket.
    """
    prev, new = start, evaluate(t)
    for tries in range(max_ls):
        if new.f > start.f + c1 * new.t * start.gtd or (tries > 1 and new.f >= prev.f):
            return [prev, new], False, tries        # too high: a minimum lies before it
        if abs(new.gtd) <= -c2 * start.gtd:
            return [new], True, tries               # both conditions hold
        if new.gtd >= 0:
            return [prev, new], False, tries        # the slope turned: a minimum between
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        t = _cubic_interpolate(prev.t, prev.f, prev.gtd, new.t, new.f, new.gtd, bounds)
        prev, new = new, evaluate(t)
    return [start, new], False, max_ls


def _away_from_ends(t, a, b, stuck):
    """Keep the zoom's next try ``t`` at least a tenth of the bracket ``[a, b]`` away from
    its ends when it lands on or next to one twice (or outside): progress is guaranteed.
    Returns ``(t, stuck)``, ``stuck`` telling whether this try was next to an end."""
    lo, hi = min(a, b), max(a, b)
    eps = 0.1 * (hi - lo)
    if not min(hi - t, t - lo) < eps:
        return t, False
    if stuck or t >= hi or t <= lo:
        return (hi - eps if abs(t - hi) < abs(t - lo) else lo + eps), False
    return t, True


def _wolfe_zoom(evaluate, bracket, start, d_norm, c1, c2, tolerance_change, max_ls, tries):
    """Phase 2: shrink ``bracket`` (two trials, changed in place) around a strong Wolfe
    point by cubic interpolation until one is found, the bracket is shorter than
    ``tolerance_change`` (in parameter change) or ``max_ls`` tries are spent.

    Returns ``(low, tries)``: the index of the bracket's lower end and the tries so far.
    """
    low = 0 if bracket[0].f <= bracket[1].f else 1
    stuck = False
    while tries < max_ls:
        a, b = bracket
        if abs(b.t - a.t) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        t, stuck = _away_from_ends(t, a.t, b.t, stuck)
        new = evaluate(t)
        tries += 1
        high = 1 - low
        if new.f > start.f + c1 * t * start.gtd or new.f >= bracket[low].f:
            bracket[high] = new                     # too high: the new upper end
            low = 0 if bracket[0].f <= bracket[1].f else 1
            continue
        done = abs(new.gtd) <= -c2 * start.gtd
        if not done and new.gtd * (bracket[high].t - bracket[low].t) >= 0:
            bracket[high] = bracket[low]            # the minimum is on the low end's side
        bracket[low] = new
        if done:
            break
    return low, tries


def _strong_wolfe(evaluate, d, start, t, max_ls, c1=1e-4, c2=0.9, tolerance_change=1e-9):
    """A step along ``d`` from ``start`` (a ``_Trial`` at t = 0) satisfying the strong Wolfe
    conditions, first trying ``t``; ``evaluate(t)`` gives the ``_Trial`` there.

    Returns the accepted trial (the lowest one seen when none satisfies them within
    ``max_ls`` tries) and the number of evaluations.
    """
    bracket, done, tries = _wolfe_bracket(evaluate, start, t, c1, c2, max_ls)
    low = 0 if bracket[0].f <= bracket[-1].f else 1
    if not done and tries < max_ls:
        low, tries = _wolfe_zoom(evaluate, bracket, start, np.abs(d).max(), c1, c2,
                                 tolerance_change, max_ls, tries)
    return bracket[low], tries + 1


def _direction(g, mem, history_size):
    """Store the last step's pair (s, y) in ``mem`` when ``y.s > 1e-10`` (dropping the
    oldest beyond ``history_size``) and return ``d = -H g`` by the two-loop recursion.
    Its coefficients alpha go to ``mem["al"]`` (PyTorch's work list of ``history_size``
    entries, None where never written), kept in the state as there."""
    y = g - mem["prev_flat_grad"]
    s = mem["d"] * mem["t"]
    ys = y.dot(s)
    dirs, stps, ro = mem["old_dirs"], mem["old_stps"], mem["ro"]
    if ys > 1e-10:
        while len(dirs) >= history_size:
            del dirs[0], stps[0], ro[0]
        dirs.append(y)
        stps.append(s)
        ro.append(1.0 / ys)
        mem["H_diag"] = ys / y.dot(y)
    q = -g
    al = mem.setdefault("al", [None] * history_size)
    al.extend([None] * (len(dirs) - len(al)))     # history_size raised after a load
    for i in range(len(dirs) - 1, -1, -1):
        al[i] = stps[i].dot(q) * ro[i]
        q -= al[i] * dirs[i]
    r = q * mem["H_diag"]
    for i in range(len(dirs)):
        be = dirs[i].dot(r) * ro[i]
        r += (al[i] - be) * stps[i]
    return r


def _in_torch_order(mem, before):
    """``mem`` with its keys in the order of PyTorch's state: those the state had before
    the step, then 'al' if new, then the others a step adds, in PyTorch's order."""
    keys = [k for k in before if k in mem] or [k for k in _COUNTS if k in mem]
    keys += [k for k in ("al", *_ORDER, *mem) if k in mem and k not in keys]
    return {k: mem[k] for k in dict.fromkeys(keys)}


def _zero_d(v):
    return np.array(v) if isinstance(v, np.generic) else v


def _is_count(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def _bad_state(key, want, v):
    what = f"{type(v).__name__} of shape {v.shape}" if isinstance(v, np.ndarray) else \
        f"{type(v).__name__} {v!r}"[:80]
    return ValueError(f"LBFGS.load_state_dict: state {key!r} must be {want}, got {what}; "
                      f"was it saved by another optimizer or for other parameters? Load "
                      f"the state_dict() of an LBFGS over the same parameters")


def _flat_size(values):
    """The length of the flat (real) vector of these parameter arrays: two numbers per
    complex element (its view_as_real pair, as PyTorch's)."""
    return sum(w.size * (2 if w.dtype.kind == "c" else 1) for w in values)


def _loaded_number(key, v, dtype):
    """A saved number (a one-element array after np.savez) as a scalar of ``dtype``;
    ``dtype`` int for the counts."""
    if isinstance(v, np.ndarray) and v.size == 1:
        v = v.reshape(())[()]
    ok = _is_count(v) if dtype is int else \
        isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
    if not ok:
        raise _bad_state(key, "an integer" if dtype is int else "a number", v)
    return int(v) if dtype is int else dtype.type(v)


def _loaded_vector(key, v, size, dtype):
    if not isinstance(v, np.ndarray) or v.shape != (size,):
        raise _bad_state(key, f"a vector of {size} values (all the parameters' values, "
                              f"flattened)", v)
    return v.astype(dtype)


def _loaded_list(key, v):
    """A saved list; np.savez of it gives a stacked array (rows: its items)."""
    if isinstance(v, np.ndarray) and v.ndim >= 1:
        return [] if v.size == 0 else list(v)
    if not isinstance(v, (list, tuple)):
        raise _bad_state(key, "a list", v)
    return list(v)


class LBFGS(Optimizer):
    """Limited-memory BFGS, as ``torch.optim.LBFGS``: ``step(closure)`` re-evaluates the
    loss through ``closure`` (zero the gradients, compute the loss, call backward, return
    the loss) as often as it needs and returns the first loss.

    ``max_iter`` iterations and ``max_eval`` closure calls (default ``max_iter * 5 // 4``)
    at most per step; it stops early when ``max|g| <= tolerance_grad``, or when the step,
    the slope ``g.d`` or the change of the loss is below ``tolerance_change``.
    ``line_search_fn``: None (step ``lr``) or ``"strong_wolfe"``. One parameter group only;
    the state (one vector over all parameters) is kept on the first parameter, as in
    PyTorch. A step that raises (from the closure, say) leaves the parameters and the
    state as they were before it.
    """

    needs_closure = True        # zeroin.fit hands step() a closure over the batch

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-07,
                 tolerance_change=1e-09, history_size=100, line_search_fn=None):
        if max_eval is None and _is_count(max_iter):
            max_eval = max_iter * 5 // 4
        super().__init__(params, {"lr": lr, "max_iter": max_iter, "max_eval": max_eval,
                                  "tolerance_grad": tolerance_grad,
                                  "tolerance_change": tolerance_change,
                                  "history_size": history_size,
                                  "line_search_fn": line_search_fn})

    @property
    def _params(self):
        """The one group's parameter list, PyTorch's attribute: PINN code reads the
        counters as ``opt.state[opt._params[0]]["n_iter"]``."""
        return self.param_groups[0]["params"]

    def add_param_group(self, group):
        """As :meth:`Optimizer.add_param_group`, refusing a second group."""
        if self.param_groups:
            raise ValueError("LBFGS: supports one parameter group only (as PyTorch: its "
                             "state is one vector over all the parameters), got a second; "
                             "pass all the parameters in one list, e.g. "
                             "LBFGS(model.parameters()), without per-group settings")
        super().add_param_group(group)

    def _check(self, group):
        super()._check(group)
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if not _is_count(v) or v < 1:
                raise ValueError(f"LBFGS: {key} must be an integer >= 1, got {v!r}")
        for key in ("tolerance_grad", "tolerance_change"):
            _check_number("LBFGS", key, group[key], lo=0.0)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe' (the "
                             f"only line search PyTorch offers), got "
                             f"{group['line_search_fn']!r}")

    # --- state -------------------------------------------------------------------------
    def _state_dict(self):
        """As :meth:`Optimizer.state_dict`, the numbers PyTorch keeps as 0-d tensors
        (``H_diag``, ``ro``'s and ``al``'s entries) as 0-d arrays."""
        out = super()._state_dict()
        for st in out["state"].values():
            for k in ("H_diag", "ro", "al"):
                if k in st:
                    st[k] = ([_zero_d(v) for v in st[k]] if isinstance(st[k], list)
                             else _zero_d(st[k]))
        return out

    def _loaded_state(self, k, p, st, group):
        """The saved state as :meth:`step` keeps it: counts as ints, vectors (and lists of
        them) of all the parameters' values, numbers as scalars of their dtype."""
        if k != 0:
            raise ValueError(f"LBFGS.load_state_dict: the saved state is for parameter {k}; "
                             f"LBFGS keeps its state on parameter 0 only. Load the "
                             f"state_dict() of an LBFGS")
        if not st:
            return {}
        keys = _COUNTS + _VECTORS + _HISTORY + _NUMBERS + ("ro",)
        unknown = sorted(set(st) - set(keys) - {"al"})
        if unknown or not set(_COUNTS) <= set(st):
            raise ValueError(f"LBFGS.load_state_dict: the state of parameter 0 has "
                             f"{sorted(st)}; an LBFGS state has {list(_COUNTS)} and after "
                             f"its first iteration {list(keys[2:])} (and after a second "
                             f"'al'). Load the state_dict() of an LBFGS")
        ns = {key: _loaded_number(key, st[key], int) for key in _COUNTS}
        if len(st) == len(_COUNTS):
            return ns
        for key in keys[2:]:
            if key not in st:
                raise ValueError(f"LBFGS.load_state_dict: the state of parameter 0 lacks "
                                 f"{key!r} (it has {sorted(st)}). Load the state_dict() of "
                                 f"an LBFGS")
        values = [q.numpy() for q in group["params"]]
        size, dtype = _flat_size(values), np.result_type(*[w.real.dtype for w in values])
        for key in _VECTORS:
            ns[key] = _loaded_vector(key, st[key], size, dtype)
        for key in _HISTORY:
            ns[key] = [_loaded_vector(f"{key}[{i}]", v, size, dtype)
                       for i, v in enumerate(_loaded_list(key, st[key]))]
        ns["ro"] = [_loaded_number(f"ro[{i}]", v, dtype)
                    for i, v in enumerate(_loaded_list("ro", st["ro"]))]
        if not len(ns["ro"]) == len(ns["old_dirs"]) == len(ns["old_stps"]):
            raise _bad_state("ro", f"as long as old_dirs ({len(ns['old_dirs'])}) and "
                                   f"old_stps ({len(ns['old_stps'])})", st["ro"])
        for key in _NUMBERS:
            ns[key] = _loaded_number(key, st[key], dtype)
        ns["prev_loss"] = float(ns["prev_loss"])
        if "al" in st:      # work values (None: never written), overwritten before use
            ns["al"] = [None if v is None else _loaded_number(f"al[{i}]", v, dtype)
                        for i, v in enumerate(_loaded_list("al", st["al"]))]
        return {k: ns[k] for k in st}     # the saved order (PyTorch's)

    # --- the flat vector ---------------------------------------------------------------
    def _flat_grad(self):
        """All gradients as one new real vector (zeros for a parameter without one); a
        complex parameter's as its (real, imag) pairs, as PyTorch's view_as_real."""
        parts = []
        for i, p in enumerate(self.param_groups[0]["params"]):
            w, g = p.numpy(), p.grad
            if g is None:
                parts.append(np.zeros(w.size * (1 + (w.dtype.kind == "c")), w.real.dtype))
                continue
            g = g.numpy()
            if g.shape != w.shape:
                label = f" {p.name!r}" if getattr(p, "name", None) else ""
                raise ValueError(f"LBFGS.step: parameter{label} (index {i}) has shape "
                                 f"{w.shape} but its gradient has shape {g.shape}; the "
                                 f"step was undone. Does the closure replace it (p.data = "
                                 f"...) after backward? Replace it before, or not at all")
            parts.append(np.stack([g.real, g.imag], -1).reshape(-1) if g.dtype.kind == "c"
                         else g.reshape(-1))
        return np.concatenate(parts)

    def _add(self, t, d):
        """x <- x + t d, each parameter in place."""
        at = 0
        for p in self.param_groups[0]["params"]:
            w = p.numpy()
            if w.dtype.kind == "c":     # (real, imag) pairs
                step = (t * d[at:at + 2 * w.size]).reshape(w.shape + (2,))
                w += step[..., 0] + 1j * step[..., 1]
                at += 2 * w.size
                continue
            w += (t * d[at:at + w.size]).reshape(w.shape)
            at += w.size

    def _set(self, x):
        for p, v in zip(self.param_groups[0]["params"], x):
            np.copyto(p.numpy(), v)

    def _evaluate(self, closure):
        """Call the closure with gradients recorded: (its result, the loss as a float,
        the flat gradient)."""
        with enable_grad():
            out = closure()
        try:
            loss = float(out.detach() if isinstance(out, Tensor) else out)
        except (TypeError, ValueError):
            what = f"a tensor of shape {out.shape}" if isinstance(out, Tensor) else \
                f"{type(out).__name__} {out!r}"[:80]
            raise TypeError(f"LBFGS.step: the closure must return the loss (a one-element "
                            f"tensor or a number), got {what}; end it with "
                            f"`return loss`") from None
        return out, loss, self._flat_grad()

    def _trial(self, closure, x, t, d):
        """The loss and gradient at x + t d; the parameters are set back to ``x``."""
        self._add(t, d)
        _, loss, g = self._evaluate(closure)
        self._set(x)
        return _Trial(t, loss, g, g.dot(d))

    # --- the step ----------------------------------------------------------------------
    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; returns the closure's first result."""
        if closure is None or not callable(closure):
            raise TypeError(f"LBFGS.step: needs a closure (got {closure!r}), because "
                            f"LBFGS evaluates the loss several times per step. Pass a "
                            f"function that zeroes the gradients, computes the loss, calls "
                            f"backward and returns the loss: def closure(): "
                            f"opt.zero_grad(); loss = loss_fn(model(x), y); "
                            f"loss.backward(); return loss; then opt.step(closure)")
        if len(self.param_groups) != 1:     # param_groups edited by hand
            raise ValueError(f"LBFGS.step: supports one parameter group only, this "
                             f"optimizer has {len(self.param_groups)}")
        params = self.param_groups[0]["params"]
        before = [p.numpy().copy() for p in params]
        keys = list(self.state.get(params[0]) or ())
        mem = self._memory(_flat_size(before))
        try:
            out = self._minimise(closure, self.param_groups[0], mem)
        except BaseException:
            self._set(before)           # all or nothing: the state is still untouched
            raise
        self.state[params[0]] = _in_torch_order(mem, keys)
        return out

    def _memory(self, size):
        """A working copy of the state (its lists copied; arrays are never changed in
        place); afresh when the parameters' total size changed (``p.data = ...``)."""
        state = self.state.get(self.param_groups[0]["params"][0]) or {}
        mem = {k: (list(v) if isinstance(v, list) else v) for k, v in state.items()}
        if "d" in mem and mem["d"].size != size:
            mem = {"func_evals": mem["func_evals"]}
        mem.setdefault("func_evals", 0)
        mem.setdefault("n_iter", 0)
        return mem

    def _minimise(self, closure, group, mem):
        """The iterations of one step, updating the parameters and ``mem``."""
        lr = group["lr"]
        tol_change = group["tolerance_change"]
        out, loss, g = self._evaluate(closure)
        evals = 1
        mem["func_evals"] += 1
        if np.abs(g).max() <= group["tolerance_grad"]:
            return out
        for n_iter in range(1, group["max_iter"] + 1):
            mem["n_iter"] += 1
            first = mem["n_iter"] == 1
            if first:
                d = -g
                mem.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                d = _direction(g, mem, group["history_size"])
            mem.update(d=d, prev_flat_grad=g, prev_loss=loss)
            if first:
                with np.errstate(divide="ignore"):
                    t = min(1.0, 1.0 / np.abs(g).sum()) * lr
            else:
                t = lr
            mem["t"] = t
            gtd = g.dot(d)
            if gtd > -tol_change:
                break                   # not a descent direction any more
            last = n_iter == group["max_iter"]
            loss, g, t, spent = self._advance(closure, group, mem, gtd, last,
                                              group["max_eval"] - evals)
            mem["t"] = t
            evals += spent
            mem["func_evals"] += spent
            if last or evals >= group["max_eval"]:
                break
            if np.abs(g).max() <= group["tolerance_grad"]:
                break
            if np.abs(d * t).max() <= tol_change or abs(loss - mem["prev_loss"]) < tol_change:
                break                   # no progress
        return out

    def _advance(self, closure, group, mem, gtd, last, max_ls):
        """Move along ``mem["d"]``: by ``mem["t"]``, or as the line search decides.

        Returns ``(loss, gradient, step, closure calls)`` at the new point; a fixed step
        in the last iteration is not evaluated (PyTorch's rule: the loss and gradient stay
        those before it).
        """
        d, t, loss, g = mem["d"], mem["t"], mem["prev_loss"], mem["prev_flat_grad"]
        if group["line_search_fn"] == "strong_wolfe":
            x = [p.numpy().copy() for p in group["params"]]
            # tolerance_change of the search is PyTorch's default 1e-9, not the group's
            best, spent = _strong_wolfe(lambda s: self._trial(closure, x, s, d), d,
                                        _Trial(0, loss, g, gtd), t, max_ls)
            self._add(best.t, d)
            return best.f, best.g, best.t, spent
        self._add(t, d)
        if last:
            return loss, g, t, 0
        _, loss, g = self._evaluate(closure)
        return loss, g, t, 1
