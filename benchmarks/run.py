"""Run zeroin's benchmarks side by side with hand-written NumPy, PyTorch and micrograd.

    python benchmarks/run.py [--quick] [--only W1,W3]

Prints a table of zeroin/limit (NumPy), zeroin/torch and zeroin/micrograd ratios, all
measured in this one run, and writes the numbers to benchmarks/results/<time>.json.
Implementations are repeated; the best repeat counts (the machine may be shared, and the
best is the least disturbed). Each repeat times zeroin back to back with each other
implementation; the "paired" column is the median over repeats of zeroin's time over the
other's in the same pair, which a slow stretch of a shared machine disturbs less. Not part
of the test suite.

OpenBLAS: when OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE is set (some machines set them to
work around old OpenBLAS bugs; they slow a current NumPy), this script re-runs itself
without both, in its own process only, and records the kernel in use (threadpoolctl).
"""
from __future__ import annotations

import os
import sys

_BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if any(v in os.environ for v in _BLAS_VARS) and "ZEROIN_BENCH_REEXEC" not in os.environ:
    env = {k: v for k, v in os.environ.items() if k not in _BLAS_VARS}
    env["ZEROIN_BENCH_REEXEC"] = "unset " + " ".join(v for v in _BLAS_VARS if v in os.environ)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

# --threads N: the same thread count for NumPy's BLAS and torch (set before NumPy loads)
if "--threads" in sys.argv[:-1]:
    _n = sys.argv[sys.argv.index("--threads") + 1]
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
               "ZEROIN_BENCH_THREADS"):
        os.environ[_v] = _n

import argparse          # noqa: E402
import json              # noqa: E402
import platform          # noqa: E402
import statistics        # noqa: E402
import subprocess        # noqa: E402
import time              # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import numpy as np       # noqa: E402

import workloads as W    # noqa: E402

ALL = ["W1", "W2", "W3", "W4", "W5", "MEM", "IMPORT"]


# --- measuring ---------------------------------------------------------------------------

def compare(impls, n, reps, n_for=None):
    """Seconds per iteration of each implementation (one is "zeroin"), and zeroin's ratio to
    each other one.

    Every repeat times zeroin back to back with each other implementation in turn (which
    of the two goes first alternates): the pair runs under the same load, so the "paired"
    ratio, the median over repeats of zeroin's time over the other's, is the steady one on
    a shared machine. The best-repeat ratio divides zeroin's best time in those pairs by
    the other's best, both over ``reps`` runs.
    """
    n_for = n_for or {}
    others = [k for k in impls if k != "zeroin"]
    times = {k: [] for k in impls}
    zeroin_in = {k: [] for k in others}          # zeroin's times, in its pairs with k
    for k, f in impls.items():                   # warm up (imports, caches, BLAS)
        f(max(1, n_for.get(k, n) // 10))
    if "torch" in impls:
        time.sleep(0.3)

    def timed(k):
        m = n_for.get(k, n)
        t = impls[k](m) / m
        if k == "torch":
            time.sleep(0.3)     # let its spinning threads go idle (KMP_BLOCKTIME 200 ms)
        return t

    for r in range(reps):
        for j, k in enumerate(others[r % len(others):] + others[:r % len(others)]):
            # torch's OpenMP threads keep spinning for a while after its call and take a
            # core from BLAS: after torch comes a pause, and the order alternates
            if (r + j) % 2:
                tz, tk = timed("zeroin"), timed(k)
            else:
                tk, tz = timed(k), timed("zeroin")
            times["zeroin"].append(tz)
            zeroin_in[k].append(tz)
            times[k].append(tk)
    out = {k: {"best": min(v), "median": statistics.median(v), "n": n_for.get(k, n),
               "reps": reps} for k, v in times.items()}
    for k in others:
        out[k]["zeroin_best"] = min(zeroin_in[k])
        out[k]["paired"] = statistics.median([z / o for z, o in zip(zeroin_in[k], times[k])])
    return out


def child(args):
    """Run in a fresh process: print one JSON line."""
    kind = args[0]
    if kind == "w2":
        impl, n = args[1], int(args[2])
        import gc
        if impl == "torch":
            W.torch_mod()                   # the import is not part of the chain's memory
        else:
            import zeroin  # noqa: F401
        gc.collect()
        r0 = W.rss()
        fwd, bwd, g = W.w2_chain(impl, n)
        print(json.dumps(dict(fwd=fwd, bwd=bwd, grad=g, peak=W.peak_rss() - r0)))
    elif kind == "mem":
        r1, r2 = W.w3_steps_rss(int(args[1]))
        print(json.dumps(dict(rss_100=r1, rss_end=r2)))
    else:
        raise SystemExit(f"unknown child {kind}")


def run_child(*args, timeout=900):
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", *map(str, args)],
                         capture_output=True, text=True, timeout=timeout, env=os.environ)
    if out.returncode:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- workloads ---------------------------------------------------------------------------

def bench_w1(quick):
    W.w1_check()
    res = compare(W.w1(), 2000 if quick else 10000, 5 if quick else 15)
    return {"W1 tiny graph (us/iter)": scale(res, 1e6)}


def bench_w2(quick):
    sizes = [10**4, 10**5] + ([] if quick else [10**6])
    reps = 2 if quick else 3
    out = {}
    for n in sizes:
        runs = {impl: [] for impl in W.w2_impls()}
        for _ in range(1 if n >= 10**6 else reps):
            for impl in runs:
                runs[impl].append(run_child("w2", impl, n))
        row = {}
        for impl, rs in runs.items():
            best = min(rs, key=lambda r: r["fwd"] + r["bwd"])
            row[impl] = dict(best=best["fwd"] + best["bwd"], fwd=best["fwd"], bwd=best["bwd"],
                             us_per_step=(best["fwd"] + best["bwd"]) / n * 1e6,
                             peak_mb=max(r["peak"] for r in rs) / 2**20, grad=best["grad"],
                             reps=len(rs))
        g = row["zeroin"]["grad"]
        expect = 0.99998 ** n
        if abs(g - expect) > 1e-9 * n * expect:
            raise AssertionError(f"W2: zeroin gradient {g} != 0.99998**{n} = {expect}")
        out[f"W2 chain N={n:.0e} (s total)"] = row
    return out


def bench_w3(quick):
    out = {}
    for batch in (32, 128, 1024):
        impls, losses = W.w3(batch)
        check_losses(f"W3 batch {batch}", losses, rtol=1e-4)
        n = {32: 100, 128: 50, 1024: 10}[batch] // (2 if quick else 1)
        out[f"W3 MLP step b={batch} (ms)"] = scale(compare(impls, n, 3 if quick else 15), 1e3)
    return out


def bench_w4(quick):
    impls, losses = W.w4()
    check_losses("W4", losses, rtol=1e-8)
    res = compare(impls, 50 if quick else 200, 3 if quick else 7, n_for={"micrograd": 1})
    return {"W4 moons step (ms)": scale(res, 1e3)}


def bench_w5(quick):
    if not W.have("sklearn"):
        return {"W5 digits to 97% (s)": {"skipped": "scikit-learn not installed"}}
    res = W.w5()
    row = {k: dict(best=t, epochs=e, acc=a) if t is not None else
           dict(best=None, epochs=e, acc=a, note="target not reached") for k, (t, e, a) in
           res.items()}
    return {"W5 digits to 97% (s)": row}


def bench_mem(quick):
    steps = 1000 if quick else 10000
    r = run_child("mem", steps, timeout=3000)
    growth = r["rss_end"] / r["rss_100"] - 1
    return {f"MEM RSS step 100 -> {steps}": {"zeroin": dict(
        best=growth, rss_100_mb=r["rss_100"] / 2**20, rss_end_mb=r["rss_end"] / 2**20)}}


def bench_import(quick):
    code = ("import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter(); "
            "import zeroin; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)")
    # as after `pip install`, which writes the bytecode: without it (PYTHONDONTWRITEBYTECODE,
    # a read-only checkout) every import compiles zeroin's sources again, ~25 ms here
    subprocess.run([sys.executable, "-m", "compileall", "-q", "zeroin"], cwd=ROOT, check=True)
    runs = []
    for _ in range(5 if quick else 9):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=ROOT, check=True)
        runs.append(tuple(map(float, out.stdout.split())))
    total = min(a + b for a, b in runs)
    own = min(b for _, b in runs)
    return {"IMPORT import zeroin (s)": {"zeroin": dict(best=total, numpy_s=min(
        a for a, _ in runs), zeroin_own_s=own)}}


BENCH = dict(W1=bench_w1, W2=bench_w2, W3=bench_w3, W4=bench_w4, W5=bench_w5, MEM=bench_mem,
             IMPORT=bench_import)


def scale(res, f):
    for v in res.values():
        for k in ("best", "median", "zeroin_best"):
            if k in v:
                v[k] *= f
    return res


def check_losses(name, losses, rtol):
    """Same weights and data: every implementation must compute the same losses."""
    ref = losses["numpy"]
    for k, v in losses.items():
        if not np.allclose(v, ref, rtol=rtol, atol=rtol):
            raise AssertionError(f"{name}: {k} losses {v} differ from NumPy's {ref}")


# --- report ------------------------------------------------------------------------------

TARGETS = {
    "W1": ("micrograd", 1.0), "W3 MLP step b=128": ("numpy", 1.10),
    "W4": ("torch", 1.0),
}


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


def table(results):
    cols = ["zeroin", "numpy", "torch", "micrograd"]
    lines = ["| workload | " + " | ".join(cols) + " | zeroin/limit | zeroin/torch | "
             "zeroin/micrograd | paired: limit / torch / micrograd |", "|" + "---|" * 9]
    for name, row in results.items():
        if "skipped" in row:
            lines.append(f"| {name} | skipped: {row['skipped']} |")
            continue
        if name.startswith("MEM"):
            lines.append(f"| {name} | {row['zeroin']['best'] * 100:+.2f}% (target within "
                         f"5%) |")
            continue
        if name.startswith("IMPORT"):
            v = row["zeroin"]
            lines.append(f"| {name} | {v['best']:.3f} (numpy {v['numpy_s']:.3f} + zeroin "
                         f"{v['zeroin_own_s']:.3f}) |")
            continue
        best = {k: row[k]["best"] if k in row else None for k in cols}

        def ratio(k):
            if best.get(k) and best["zeroin"] is not None:
                # zeroin's best in its pairs with k: as many runs on each side
                r = row[k].get("zeroin_best", best["zeroin"]) / best[k]
                return f"{r:.2f}" if r >= 0.1 else f"{r:.2g}"
            return "-"
        def paired(k):
            r = row.get(k, {}).get("paired")
            return f"{r:.2f}" if r is not None else "-"
        lines.append(f"| {name} | " + " | ".join(fmt(best[k]) for k in cols) + " | "
                     + " | ".join(ratio(k) for k in ("numpy", "torch", "micrograd")) + " | "
                     + " / ".join(paired(k) for k in ("numpy", "torch", "micrograd")) + " |")
    return "\n".join(lines)


def extras(results):
    lines = []
    for name, row in results.items():
        if name.startswith("W2"):
            lines.append(name + ": " + ", ".join(
                f"{k} fwd {v['fwd']:.3f} s + bwd {v['bwd']:.3f} s = {v['us_per_step']:.1f} "
                f"us/step, peak {v['peak_mb']:.0f} MB" for k, v in row.items()))
        elif name.startswith("W5"):
            lines.append(name + ": " + ", ".join(
                f"{k} {v['epochs']} epochs, acc {v['acc']:.3f}" for k, v in row.items()
                if isinstance(v, dict)))
        elif name.startswith("MEM"):
            v = row["zeroin"]
            lines.append(f"{name}: {v['rss_100_mb']:.1f} MB -> {v['rss_end_mb']:.1f} MB "
                         f"({v['best'] * 100:+.2f}%)")
        elif name.startswith("IMPORT"):
            v = row["zeroin"]
            lines.append(f"{name}: {v['best']:.3f} s in all = numpy {v['numpy_s']:.3f} s + "
                         f"zeroin's own {v['zeroin_own_s']:.3f} s")
    return "\n".join(lines)


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def environment():
    env = dict(python=platform.python_version(), numpy=np.__version__,
               cpus=W.cores(), threads=os.environ.get("ZEROIN_BENCH_THREADS", "all cores"),
               machine=platform.machine(), processor=_cpu_name(),
               loadavg=os.getloadavg(), blas_env=os.environ.get("ZEROIN_BENCH_REEXEC",
                                                               "unchanged"))
    try:
        from threadpoolctl import threadpool_info
        env["blas"] = [{k: i.get(k) for k in ("internal_api", "architecture", "num_threads",
                                              "version")} for i in threadpool_info()]
    except Exception:
        pass
    if W.have("torch"):
        env["torch"] = W.torch_mod().__version__
    return env


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and sizes")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for NumPy's BLAS and torch (default: all cores)")
    ap.add_argument("--only", default=",".join(ALL),
                    help="comma-separated workloads: " + ",".join(ALL))
    args = ap.parse_args()
    chosen = [w.strip().upper() for w in args.only.split(",") if w.strip()]
    bad = [w for w in chosen if w not in BENCH]
    if bad:
        ap.error(f"unknown workload(s) {bad}; choose from {ALL}")
    env = environment()
    print(f"# zeroin benchmarks  python {env['python']}  numpy {env['numpy']}  "
          f"torch {env.get('torch', '-')}  cpus {env['cpus']}  threads {env['threads']}  "
          f"load {env['loadavg'][0]:.1f}  "
          f"blas {env.get('blas', [{}])[0].get('architecture')}", flush=True)
    results = {}
    t0 = time.perf_counter()
    for w in chosen:
        t = time.perf_counter()
        results.update(BENCH[w](args.quick))
        print(f"  {w} done in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    env["loadavg_end"] = os.getloadavg()
    print(table(results))
    print(extras(results))
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    path = os.path.join(HERE, "results", time.strftime("%Y%m%d-%H%M%S") + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(dict(env=env, quick=args.quick, seconds=time.perf_counter() - t0,
                       results=results), f, indent=1, default=float)
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.relpath(path, ROOT)}")


if __name__ == "__main__":
    main()
