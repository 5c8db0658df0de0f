"""Benchmark zeroin against hand-written NumPy, PyTorch eager and micrograd, fairly.

    python benchmarks/run.py [--quick] [--only W3,W4] [--threads N] [--rounds R] [--json OUT]

Every (implementation, workload) runs in its own fresh process: import, build, warm up,
time, print one JSON line. Libraries never share a process, so NumPy's BLAS threads and
torch's OpenMP threads cannot fight over the cores. Every child gets the same thread count
(OMP/OPENBLAS/MKL_NUM_THREADS and torch.set_num_threads; default: the cores this process
may use). A workload runs in rounds; the order alternates (round 0: zeroin, numpy, torch;
round 1: torch, numpy, zeroin; ...). zeroin's time over X's in the same round is one
paired ratio; the table shows the median and the min-max range over rounds.

Child mode (one measurement, for checking a single workload):

    python benchmarks/run.py --child "W3 ops b=128" zeroin [--quick]

Not part of the test suite. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import workloads as W  # noqa: E402  (light: NumPy only)

ALL = ["W1", "W2", "W3", "W4", "W5", "W6", "MEM", "IMPORT", "TOUR", "NOTEBOOKS"]
# set by some machines to dodge bugs of old OpenBLAS builds; they slow a current NumPy
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "ZEROIN_BENCH_THREADS")
W6_FILE = os.path.join(HERE, "w6_lenet.py")


class Unavailable(Exception):
    """An implementation that cannot run here (library or feature missing)."""


@dataclass
class Case:
    """One row of the table: a workload at one size, over several implementations."""
    key: str                    # row name, e.g. "W3 ops b=128"
    workload: str               # W1 ... W6, MEM
    kind: str                   # "step": timed iterations; "once": one timed run per process
    impls: tuple                # zeroin first
    unit: str = "ms"            # "us", "ms" or "s" per iteration (per run for "once")
    n: dict = field(default_factory=dict)    # iterations per block, by impl ("*": default)
    blocks: int = 5             # timed blocks per process; the process reports their median
    rounds: int | None = None   # None: --rounds
    params: dict = field(default_factory=dict)
    rtol: float | None = None   # the implementations' losses must agree to this
    skip: str | None = None     # why the whole case cannot run


def _impls(*names):
    return tuple(n for n in names if n in ("zeroin", "numpy") or W.have(n))


def cases(quick):
    """Every row, in order. The parent and its children build the same list."""
    blocks = 3 if quick else 5
    out = [Case("W1 tiny graph", "W1", "step", _impls("zeroin", "numpy", "torch", "micrograd"),
                "us", n={"*": 2000 if quick else 10000}, blocks=blocks)]
    for n in [10**4, 10**5] + ([] if quick else [10**6]):
        out.append(Case(f"W2 chain N={n:.0e}", "W2", "once", _impls("zeroin", "numpy", "torch"),
                        "s", params=dict(n=n), rounds=2 if n >= 10**6 else None))
    for variant in W.W3_VARIANTS:
        for batch, n in ((32, 100), (128, 50), (1024, 10)):
            out.append(Case(f"W3 {variant} b={batch}", "W3", "step",
                            _impls("zeroin", "numpy", "torch"), "ms",
                            n={"*": n // 2 if quick else n}, blocks=blocks,
                            params=dict(variant=variant, batch=batch), rtol=1e-4))
    out.append(Case("W4 moons step", "W4", "step",
                    _impls("zeroin", "numpy", "torch", "micrograd"), "ms",
                    n={"*": 50 if quick else 200, "micrograd": 1},
                    blocks=blocks, rtol=1e-8))
    out.append(Case("W4 moons step, replayed", "W4", "step", ("zeroin", "numpy"), "ms",
                    n={"*": 50 if quick else 200}, blocks=blocks, rtol=1e-8,
                    params=dict(replay=True)))
    out.append(Case("W5 digits to 97%", "W5", "once", _impls("zeroin", "numpy", "torch"), "s",
                    skip=None if W.have("sklearn") else "scikit-learn is not installed"))
    out.append(Case("W6 LeNet-5 step", "W6", "step", _impls("zeroin", "numpy", "torch"), "ms",
                    n={"*": 5 if quick else 20}, blocks=blocks, rtol=1e-3,
                    skip=None if os.path.exists(W6_FILE) else
                    "benchmarks/w6_lenet.py not found (zeroin's convolution work has not landed)"))
    steps = 1000 if quick else 10000
    for variant in W.W3_VARIANTS:
        out.append(Case(f"MEM W3 {variant} RSS step 100 -> {steps}", "MEM", "mem", ("zeroin",),
                        params=dict(variant=variant, steps=steps), rounds=1))
    return out


# --- child processes ----------------------------------------------------------------------

def _w6_step(impl):
    if impl == "zeroin":
        import zeroin
        if not (hasattr(zeroin.nn, "Conv2d") or hasattr(zeroin.nn.functional, "conv2d")):
            raise Unavailable("this zeroin has no convolution (nn.Conv2d)")
    import w6_lenet
    return w6_lenet.make_step(impl, batch=64, threads=W.threads())


def _build(case, impl):
    """(step or None, run(n) -> seconds) for a step case."""
    p = case.params
    if case.workload == "W1":
        return None, W.w1(impl)
    step = {"W3": lambda: W.w3(impl, p["variant"], p["batch"]), "W4": lambda: W.w4(impl, p.get("replay", False)),
            "W6": lambda: _w6_step(impl)}[case.workload]()
    return step, W.timed(step)


def child_step(case, impl):
    """Build, then time ``blocks`` blocks of n iterations; peak RSS from the built model on."""
    step, run = _build(case, impl)
    base = W.rss()
    reset = W.reset_peak_rss()
    losses = [W.as_float(step()) for _ in range(2)] if step else []   # also warm-up
    n = case.n.get(impl, case.n["*"])
    if n >= 5 or step is None:
        run(max(1, n // 5))
    # single-iteration blocks (micrograd's W4 step takes ~1.5 s) stop at 3
    times = [run(n) / n for _ in range(case.blocks if n > 1 else min(case.blocks, 3))]
    peak = W.peak_rss() - base if reset else None
    return dict(t=statistics.median(times), best=min(times), blocks=times, n=n,
                losses=losses, peak=peak, rss_base=base)


def child_once(case, impl):
    """W2 (one chain; its peak memory) or W5 (one training run to the target accuracy)."""
    if case.workload == "W5":
        t, epochs, acc = W.w5(impl)
        return dict(t=t, epochs=epochs, acc=acc)
    import gc
    if impl == "torch":
        W.torch_mod()                   # the import is not part of the chain's memory
    elif impl == "zeroin":
        import zeroin  # noqa: F401
    gc.collect()
    base = W.rss()
    reset = W.reset_peak_rss()
    fwd, bwd, g = W.w2_chain(impl, case.params["n"])
    peak = W.peak_rss() - base if reset else None
    return dict(t=fwd + bwd, fwd=fwd, bwd=bwd, grad=g, peak=peak)


def child_mem(case, impl):
    r1, r2 = W.w3_steps_rss(case.params["variant"], case.params["steps"])
    return dict(rss_100=r1, rss_end=r2)


def child_env(_case=None, _impl=None):
    """Versions and the BLAS in use, as a child sees them."""
    import numpy as np
    np.ones((64, 64)) @ np.ones((64, 64))          # load the BLAS's thread pool
    env = dict(python=platform.python_version(), numpy=np.__version__, threads=W.threads())
    try:
        from threadpoolctl import threadpool_info
        env["blas"] = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads",
                                              "version")} for i in threadpool_info()]
    except ImportError:
        pass
    if W.have("torch"):
        torch = W.torch_mod()
        env["torch"] = torch.__version__
        env["torch_threads"] = torch.get_num_threads()
    return env


CHILD = dict(step=child_step, once=child_once, mem=child_mem)


def child(argv):
    """``--child KEY IMPL [--quick]``: run one measurement, print one JSON line."""
    quick = "--quick" in argv
    key, impl = [a for a in argv if a != "--quick"][:2]
    if key == "env":
        res = child_env()
    else:
        case = next((c for c in cases(quick) if c.key == key), None)
        if case is None:
            raise SystemExit(f"--child: no case {key!r}; cases: {[c.key for c in cases(quick)]}")
        try:
            res = CHILD[case.kind](case, impl)
        except Unavailable as e:
            res = dict(skip=str(e))
        except ImportError as e:         # an optional library; zeroin's own must import
            if impl == "zeroin":
                raise
            res = dict(skip=f"{impl}: {e}")
    print(json.dumps(res))


# --- the parent ---------------------------------------------------------------------------

def child_environ(threads):
    """The children's environment: the thread count everywhere, no OpenBLAS overrides."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    env.update({v: str(threads) for v in THREAD_VARS})
    return env


def run_child(env, key, impl, quick, timeout=1800):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", key, impl]
    out = subprocess.run(cmd + (["--quick"] if quick else []), capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=ROOT)
    if out.returncode:
        raise RuntimeError(f"child {key!r} {impl} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_case(case, rounds, env, quick):
    """Run the case's rounds, the order alternating; returns {impl: [result per round]}."""
    impls = list(case.impls)
    runs = {k: [] for k in impls}
    skipped = {}
    for r in range(min(case.rounds, rounds) if case.rounds else rounds):
        for k in impls if r % 2 == 0 else impls[::-1]:
            if k in skipped:
                continue
            try:
                res = run_child(env, case.key, k, quick)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print(f"  {case.key}: {k} FAILED:\n{e}", file=sys.stderr, flush=True)
                res = dict(skip="FAILED: " + str(e).strip().splitlines()[-1])
            if "skip" in res:
                skipped[k] = res["skip"]
                if k == "zeroin":           # nothing to compare with
                    break
                continue
            runs[k].append(res)
        if "zeroin" in skipped:
            break
        print(f"  {case.key}: round {r + 1}: " + ", ".join(
            f"{k} {_progress(v[-1], case.unit)}" for k, v in runs.items() if v),
            file=sys.stderr, flush=True)
    return {k: v for k, v in runs.items() if v}, skipped


SCALE = dict(us=1e6, ms=1e3, s=1.0)


def _progress(res, unit):
    if "rss_end" in res:
        return f"RSS {res['rss_100'] / 2**20:.1f} -> {res['rss_end'] / 2**20:.1f} MB"
    t = res.get("t")
    return "-" if t is None else f"{t * SCALE[unit]:.3g} {unit}"


def _spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return dict(median=statistics.median(values), min=min(values), max=max(values),
                rounds=values)


def _close(a, b, rtol):
    return len(a) == len(b) and all(abs(x - y) <= rtol + rtol * abs(y) for x, y in zip(a, b))


def summarise(case, runs, skipped):
    """Medians over rounds, paired ratios per round, and the correctness checks."""
    row = dict(workload=case.workload, unit=case.unit, impls={}, ratios={}, peak_ratios={},
               skipped=skipped, problems=[])
    for k, rs in runs.items():
        ts = [r["t"] for r in rs if r.get("t") is not None]
        peaks = [r["peak"] for r in rs if r.get("peak") is not None]
        row["impls"][k] = dict(t=statistics.median(ts) if ts else None,
                               peak_mb=statistics.median(peaks) / 2**20 if peaks else None,
                               runs=rs)
    z = runs.get("zeroin", [])
    for k, rs in runs.items():
        if k == "zeroin":
            continue
        pairs = list(zip(z, rs))
        row["ratios"][k] = _spread([a["t"] / b["t"] for a, b in pairs
                                    if a.get("t") is not None and b.get("t")])
        row["peak_ratios"][k] = _spread([a["peak"] / b["peak"] for a, b in pairs
                                         if a.get("peak") is not None and b.get("peak")])
    ref = "numpy" if "numpy" in runs else "zeroin"
    if case.rtol is not None and ref in runs:
        for k, rs in runs.items():
            if not _close(rs[0]["losses"], runs[ref][0]["losses"], case.rtol):
                row["problems"].append(f"{k} losses {rs[0]['losses']} differ from {ref}'s "
                                       f"{runs[ref][0]['losses']}")
    if case.workload == "W2":
        n, expect = case.params["n"], 0.99998 ** case.params["n"]
        for r in z:
            if abs(r["grad"] - expect) > 1e-9 * n * expect:
                row["problems"].append(f"zeroin gradient {r['grad']} != 0.99998**{n}")
    row["problems"] += [f"{k}: {why}" for k, why in skipped.items() if why.startswith("FAILED")]
    if case.workload == "W5" and any(r["t"] is None for rs in runs.values() for r in rs):
        row["problems"].append("an implementation did not reach 97% (see runs)")
    return row


def bench_import(env, quick):
    """`import zeroin` in a fresh interpreter: NumPy's import and zeroin's own, best of runs."""
    code = ("import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
            "import zeroin; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)")
    # as after `pip install`, which writes the bytecode: without it (PYTHONDONTWRITEBYTECODE,
    # a read-only checkout) every import compiles zeroin's sources again, ~25 ms here
    subprocess.run([sys.executable, "-m", "compileall", "-q", "zeroin"], cwd=ROOT, check=True,
                   env=env)
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = []
    for _ in range(5 if quick else 9):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True, env=env)
        runs.append(tuple(map(float, out.stdout.split())))
    return dict(workload="IMPORT", total_s=min(a + b for a, b in runs),
                numpy_s=min(a for a, _ in runs), zeroin_own_s=min(b for _, b in runs))


def _timed_run(cmd, env, problems, what):
    """(seconds, stdout) of ``cmd``, or None when it failed or hung (the reason added to
    ``problems``, which the report prints and which make the exit status 1)."""
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                             check=True, timeout=1800)
    except subprocess.CalledProcessError as e:
        problems.append(f"{what} failed: {e.stderr.strip()[-1500:]}")
        return None
    except subprocess.TimeoutExpired:
        problems.append(f"{what} did not finish in 1800 s")
        return None
    return time.perf_counter() - t0, out.stdout


def bench_tour(env, quick):
    """``zeroin tour`` (every lesson and both training runs) as a user starts it, in a fresh
    process each run: issue 3's "finishes in under a minute on 2 cores" (a target here, not
    a timed assertion in the tests)."""
    runs, problems = [], []
    for _ in range(1 if quick else 3):
        with tempfile.TemporaryDirectory() as out:
            r = _timed_run([sys.executable, "-m", "zeroin", "tour", "--out", out], env,
                           problems, "zeroin tour")
        if r is None:
            break
        runs.append(r[0])
    return dict(workload="TOUR", runs=runs, problems=problems,
                median_s=statistics.median(runs) if runs else None)


_NOTEBOOK = """import sys, tempfile, time, nbclient, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
with tempfile.TemporaryDirectory() as out:
    t0 = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": out}}).execute()
    print(time.perf_counter() - t0)"""


def bench_notebooks(env, quick):
    """Each notebook in notebooks/ top to bottom in a fresh Jupyter kernel, as a teacher
    runs it (the tests check that they run, not how long they take)."""
    if any(importlib.util.find_spec(m) is None for m in ("nbclient", "nbformat", "ipykernel")):
        return dict(workload="NOTEBOOKS", skip="nbclient, nbformat or ipykernel is not "
                    "installed (pip install -e '.[test]')", seconds={}, problems=[])
    env = dict(env, MPLBACKEND="module://matplotlib_inline.backend_inline",
               PYTHONPATH=os.pathsep.join([ROOT] + [p for p in env.get(
                   "PYTHONPATH", "").split(os.pathsep) if p]))
    seconds, problems = {}, []
    for path in sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb"))):
        name = os.path.basename(path)
        r = _timed_run([sys.executable, "-c", _NOTEBOOK, path], env, problems, name)
        if r is not None:
            seconds[name] = float(r[1].split()[-1])
    return dict(workload="NOTEBOOKS", seconds=seconds, problems=problems)


# --- report ---------------------------------------------------------------------------------

# (row, other implementation, limit on the median paired ratio zeroin/other): issue 15's
# and the convolution issue's targets
TIME_TARGETS = [("W3 ops b=128", "torch", 0.90), ("W3 ops b=128", "numpy", 1.0),
                ("W3 nn b=128", "torch", 0.90), ("W3 nn b=128", "numpy", 1.0)] + [
    (f"W3 {v} b={b}", "numpy", 1.05) for v in W.W3_VARIANTS for b in (32, 1024)] + [
    ("W4 moons step", "numpy", 2.5), ("W4 moons step, replayed", "numpy", 2.5),
    ("W1 tiny graph", "micrograd", 0.8),
    ("W2 chain N=1e+05", "torch", 0.5), ("W6 LeNet-5 step", "numpy", 1.15),
    ("W6 LeNet-5 step", "torch", 2.0)]
PEAK_TARGETS = [("W3 ops b=128", "torch", 1.0), ("W3 nn b=128", "torch", 1.0),
                ("W6 LeNet-5 step", "torch", 1.5)]
MEM_LIMIT = 0.05                # "flat": RSS within 5% from step 100 to the last
TOUR_LIMIT = 60.0               # seconds for `zeroin tour` (issue 3)
NOTEBOOK_LIMIT = 90.0           # seconds for each notebook, top to bottom


def _fmt_ratio(s):
    if not s:
        return "-"
    f = (lambda x: f"{x:.2f}") if s["max"] >= 0.1 else (lambda x: f"{x:.2g}")
    return f"{f(s['median'])} ({f(s['min'])}-{f(s['max'])})"


def _status(s, limit):
    if not s:
        return "not measured"
    return "met" if s["median"] <= limit else "NOT met"


def targets(results):
    """Rows of (target, measured, status) for the rows that were run."""
    rows = []
    for kind, table_ in (("ratios", TIME_TARGETS), ("peak_ratios", PEAK_TARGETS)):
        for key, other, limit in table_:
            if key not in results:
                continue
            row = results[key]
            s = row[kind].get(other)
            skip = row.get("skip") or row["skipped"].get("zeroin") or row["skipped"].get(other)
            status = (f"skipped: {skip}" if skip and not skip.startswith("FAILED") else
                      "INVALID: " + "; ".join(row["problems"]) if row.get("problems") else
                      _status(s, limit))
            what = "peak memory " if kind == "peak_ratios" else ""
            rows.append((f"{key}: {what}zeroin/{other} <= {limit}", _fmt_ratio(s), status))
    for key, row in results.items():
        if row.get("workload") == "MEM":
            g = _mem_growth(row)
            rows.append((f"{key}: flat (within {MEM_LIMIT:.0%})", f"{g:+.2%}",
                         "met" if abs(g) <= MEM_LIMIT else "NOT met"))
        elif row.get("workload") == "TOUR" and row["runs"]:
            t = row["median_s"]
            rows.append((f"TOUR zeroin tour: seconds <= {TOUR_LIMIT:.0f}",
                         f"{t:.1f} ({min(row['runs']):.1f}-{max(row['runs']):.1f})",
                         "met" if t <= TOUR_LIMIT else "NOT met"))
        elif row.get("workload") == "NOTEBOOKS" and row["seconds"]:
            name, t = max(row["seconds"].items(), key=lambda kv: kv[1])
            rows.append((f"NOTEBOOKS each: seconds <= {NOTEBOOK_LIMIT:.0f}",
                         f"{t:.1f} (slowest, {name})",
                         "met" if t <= NOTEBOOK_LIMIT else "NOT met"))
    return rows


def _mem_growth(row):
    r = row["impls"]["zeroin"]["runs"][0]
    return r["rss_end"] / r["rss_100"] - 1


COLS = ("zeroin", "numpy", "torch", "micrograd")


def table(results):
    """The main table: median time per implementation and paired ratios (median, range)."""
    lines = ["| workload | " + " | ".join(COLS) + " | zeroin/numpy | zeroin/torch | "
             "zeroin/micrograd |", "|" + "---|" * 8]
    for key, row in results.items():
        if row.get("workload") in ("MEM", "IMPORT", "TOUR", "NOTEBOOKS"):
            continue
        name = f"{key} ({row['unit']})"
        if row.get("skip") or "zeroin" not in row["impls"]:
            why = row.get("skip") or row["skipped"].get("zeroin", "no result")
            lines.append(f"| {name} | skipped: {why} |")
            continue
        t = [row["impls"].get(k, {}).get("t") for k in COLS]
        cells = [f"{x * SCALE[row['unit']]:.3g}" if x is not None else "-" for x in t]
        lines.append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(
            _fmt_ratio(row["ratios"].get(k)) for k in COLS[1:]) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def memory_table(results):
    """Peak RSS of a process's steps above its RSS once built (median over rounds)."""
    lines = ["| workload | peak MB: zeroin | numpy | torch | zeroin/torch |",
             "|---|---|---|---|---|"]
    for key, row in results.items():
        if row.get("workload") not in ("W2", "W3", "W4", "W6") or "zeroin" not in row.get(
                "impls", {}):
            continue
        mb = [row["impls"].get(k, {}).get("peak_mb") for k in COLS[:3]]
        lines.append(f"| {key} | " + " | ".join("-" if m is None else f"{m:.1f}" for m in mb)
                     + f" | {_fmt_ratio(row['peak_ratios'].get('torch'))} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def extras(results):
    lines = []
    for key, row in results.items():
        w = row.get("workload")
        if w == "W5" and "impls" in row:
            lines.append(f"{key}: " + ", ".join(
                f"{k} {v['runs'][0]['epochs']} epochs, acc {v['runs'][0]['acc']:.3f}"
                for k, v in row["impls"].items()))
        elif w == "MEM":
            r = row["impls"]["zeroin"]["runs"][0]
            lines.append(f"{key}: {r['rss_100'] / 2**20:.1f} MB -> {r['rss_end'] / 2**20:.1f} "
                         f"MB ({_mem_growth(row):+.2%})")
        elif w == "IMPORT":
            lines.append(f"IMPORT import zeroin: {row['total_s']:.3f} s = numpy "
                         f"{row['numpy_s']:.3f} s + zeroin's own {row['zeroin_own_s']:.3f} s")
        elif w == "TOUR":
            lines.append("TOUR zeroin tour: " + ", ".join(f"{t:.1f} s" for t in row["runs"]))
        elif w == "NOTEBOOKS":
            lines.append("NOTEBOOKS: " + (row.get("skip") or ", ".join(
                f"{k} {t:.1f} s" for k, t in row["seconds"].items())))
        for p in row.get("problems", []):
            lines.append(f"PROBLEM {key}: {p}")
        for k, why in row.get("skipped", {}).items():
            if k != "zeroin" and not why.startswith("FAILED"):
                lines.append(f"{key}: {k} skipped: {why}")
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------

def _git_commit():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment(env, threads):
    info = run_child(env, "env", "-", False)
    info.update(date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit=_git_commit(),
                cpu=_cpu_name(), cores=W.cores(), threads=threads, loadavg=os.getloadavg(),
                blas_env="removed " + ",".join(v for v in BLAS_VARS if v in os.environ)
                if any(v in os.environ for v in BLAS_VARS) else "unchanged")
    return info


def select(only, quick):
    """The chosen cases (by workload name or a prefix of the row name) and the extra
    one-off rows wanted (IMPORT, TOUR, NOTEBOOKS)."""
    all_cases = cases(quick)
    chosen, extra = [], []
    for item in [w.strip() for w in only.split(",") if w.strip()]:
        if item.upper() in ("IMPORT", "TOUR", "NOTEBOOKS"):
            extra.append(item.upper())
            continue
        hit = [c for c in all_cases if c.workload == item.upper()
               or c.key.lower().startswith(item.lower())]
        if not hit:
            raise SystemExit(f"--only: nothing matches {item!r}; workloads: {ALL}, rows: "
                             f"{[c.key for c in all_cases]}")
        chosen += [c for c in hit if c not in chosen]
    return chosen, extra


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="3 rounds, fewer iterations, W2 up to N=1e5, 1,000 memory steps")
    ap.add_argument("--only", default=",".join(ALL),
                    help="comma-separated workloads (" + ",".join(ALL) + ") or row-name "
                    "prefixes, e.g. 'W3 nn'")
    ap.add_argument("--threads", type=int, default=W.cores(),
                    help="threads for NumPy's BLAS and torch in every child (default: cores)")
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds per workload (default 5, --quick 3)")
    ap.add_argument("--json", metavar="OUT", default=None,
                    help="write all results here (default benchmarks/results/<time>.json)")
    args = ap.parse_args(argv)
    if args.threads < 1 or (args.rounds is not None and args.rounds < 1):
        ap.error("--threads and --rounds must be at least 1")
    args.rounds = args.rounds or (3 if args.quick else 5)
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child(argv[1:])
    args = parse_args(argv)
    chosen, extra = select(args.only, args.quick)
    env = child_environ(args.threads)
    info = environment(env, args.threads)
    blas = (info.get("blas") or [{}])[0]
    print(f"# zeroin benchmarks{' (--quick)' if args.quick else ''}  {info['date']}  commit "
          f"{info['commit']}\n# {info['cpu']}, {info['cores']} cores, threads {args.threads}, "
          f"rounds {args.rounds}, load {info['loadavg'][0]:.2f}\n# python {info['python']}  "
          f"numpy {info['numpy']} ({blas.get('internal_api')} {blas.get('architecture')})  "
          f"torch {info.get('torch', '-')}", flush=True)
    results, t0 = {}, time.perf_counter()
    for case in chosen:
        t = time.perf_counter()
        if case.skip:
            print(f"  {case.key}: skipped: {case.skip}", file=sys.stderr, flush=True)
            results[case.key] = dict(workload=case.workload, unit=case.unit, skip=case.skip,
                                     impls={}, ratios={}, peak_ratios={}, skipped={})
            continue
        runs, skipped = run_case(case, args.rounds, env, args.quick)
        results[case.key] = summarise(case, runs, skipped)
        results[case.key]["seconds"] = time.perf_counter() - t
    if "IMPORT" in extra:
        results["IMPORT"] = bench_import(env, args.quick)
    if "TOUR" in extra:
        results["TOUR"] = bench_tour(env, args.quick)
    if "NOTEBOOKS" in extra:
        results["NOTEBOOKS"] = bench_notebooks(env, args.quick)
    info["loadavg_end"] = os.getloadavg()
    seconds = time.perf_counter() - t0
    print("\n\n".join(t for t in (table(results), memory_table(results), extras(results)) if t))
    rows = targets(results)
    print("\n| target | measured: median (range) over rounds | status |\n|---|---|---|\n"
          + "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows))
    path = args.json or os.path.join(HERE, "results",
                                     time.strftime("%Y%m%d-%H%M%S") + ".json")
    from zeroin._io import atomic_open
    with atomic_open(path, "w") as f:
        json.dump(dict(env=info, args=vars(args), seconds=seconds, results=results,
                       targets=rows), f, indent=1)
    print(f"took {seconds:.0f} s; wrote {os.path.relpath(path)}")
    return 1 if any(r.get("problems") for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
