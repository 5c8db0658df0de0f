"""The fresh-process runner that char_lstm.py and gpt_step.py share: a child times one
implementation's step (:func:`time_steps`); the parent runs every implementation in its own
fresh process, in turn, round after round, and prints each measurement and the median of
the per-round ratios to the first implementation (:func:`compare`)."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time


def time_steps(step, repeats, n):
    """Median seconds per call of ``step()`` over ``repeats`` timings of ``n`` calls: (wall,
    CPU). At one thread CPU time is the less noisy on a shared machine."""
    times, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        times.append((time.perf_counter() - t0) / n)
        cpu.append((time.process_time() - c0) / n)
    return statistics.median(times), statistics.median(cpu)


def add_arguments(ap):
    """--rounds, --threads, --impl NAME=PATH (repeatable) and --torch."""
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--impl", action="append", default=[],
                    help="NAME=PATH: a zeroin checkout, put first on PYTHONPATH")
    ap.add_argument("--torch", action="store_true")


def compare(script, args, child_args, label, decimals=1):
    """``args.rounds`` rounds of every ``--impl`` (and torch with ``--torch``), each run as
    ``python script --child *child_args(lib)`` in a fresh process whose last line is a JSON
    object with ``median_s``, ``cpu_s`` and ``value``; prints each run and then, per
    implementation, the medians and the per-round ratios to the first."""
    n = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, MKL_NUM_THREADS=n)
    impls = [(name, os.path.abspath(p)) for name, p in (i.split("=", 1) for i in args.impl)]
    impls += [("torch", None)] if args.torch else []
    res, cpu = {name: [] for name, _ in impls}, {name: [] for name, _ in impls}
    for r in range(args.rounds):
        for name, path in impls:
            e = dict(env, PYTHONPATH=path) if path else env
            lib = "torch" if path is None else "zeroin"
            out = subprocess.run([sys.executable, script, "--child", *child_args(lib)], env=e,
                                 capture_output=True, text=True, check=True).stdout
            d = json.loads(out.strip().splitlines()[-1])
            res[name].append(d["median_s"])
            cpu[name].append(d["cpu_s"])
            print(f"{label} round {r} {name:6s} {d['median_s'] * 1e3:9.{decimals}f} ms wall "
                  f"{d['cpu_s'] * 1e3:9.{decimals}f} ms cpu  value {d['value']:.6f}  load "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
    first = impls[0][0]
    for name in res:
        for kind, d in (("wall", res), ("cpu", cpu)):
            ratios = [x / y for x, y in zip(d[name], d[first])]
            print(f"{label} threads={args.threads} {name:6s} {kind:4s} median "
                  f"{statistics.median(d[name]) * 1e3:9.{decimals}f} ms  / {first}: median "
                  f"ratio {statistics.median(ratios):.3f} (min {min(ratios):.3f} max "
                  f"{max(ratios):.3f})")
