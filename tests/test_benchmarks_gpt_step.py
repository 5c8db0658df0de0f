"""benchmarks/gpt_step.py at a tiny size: its child mode prints one JSON line, and zeroin's
nanoGPT step (weight tying, AdamW with decay groups) follows torch's from the same weights.
The timings themselves are run by hand, never here."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpt_step.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpt_step", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_tiny_steps_follow_torch():
    mod = _module()
    losses, threads = {}, torch.get_num_threads()
    try:
        for lib in ("zeroin", "torch"):
            step, where = mod._build(lib, "tiny")        # (sets torch's threads)
            assert Path(where).parent.name == lib
            losses[lib] = [step() for _ in range(3)]
    finally:
        torch.set_num_threads(threads)
    assert losses["zeroin"][0] > losses["zeroin"][-1]       # AdamW steps lower the loss
    np.testing.assert_allclose(losses["zeroin"], losses["torch"], rtol=2e-5)


def test_child_mode_prints_one_json_line():
    root = str(SCRIPT.parents[1])
    env = dict(os.environ, PYTHONPATH=root, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, str(SCRIPT), "--child", "zeroin", "--size", "tiny",
                          "--repeats", "1", "--steps", "1"], env=env, capture_output=True,
                         text=True, check=True, timeout=120).stdout
    d = json.loads(out.strip().splitlines()[-1])
    assert d["lib"] == "zeroin" and d["size"] == "tiny"
    assert Path(d["file"]).parent == Path(root) / "zeroin"
    assert d["median_s"] > 0 and d["cpu_s"] >= 0 and np.isfinite(d["value"])
