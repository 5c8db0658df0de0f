"""zeroin._memory: glibc keeps a step's freed arrays mapped (fewer page faults a step)."""
import json
import subprocess
import sys

import pytest

import zeroin._memory as memory

# a step's pattern: six 2 MB arrays made, filled, then all freed; page faults per step
PROBE = """
import json, os, resource, numpy as np
import zeroin, zeroin._memory as m
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():
    arrays = [np.ones(1 << 19, np.float32) for _ in range(6)]
    del arrays
step()
f0 = faults()
for _ in range(20):
    step()
print(json.dumps({"mb": m.applied_mb, "faults": (faults() - f0) / 20}))
"""


def _probe(env_value, **extra):
    import os
    env = {k: v for k, v in os.environ.items()
           if k not in memory.USER_VARS and k != "GLIBC_TUNABLES"}
    env.update(ZEROIN_KEEP_FREED_MB=env_value, **extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt only")
def test_freed_arrays_stay_mapped_unless_switched_off():
    on = _probe("")
    if on["mb"] == 0:
        pytest.skip("not glibc: nothing applied")
    assert on["mb"] == memory.DEFAULT_MB
    off = _probe("0")
    assert off["mb"] == 0
    assert on["faults"] < 100 < off["faults"]       # 12 MB a step is 3,072 pages
    assert _probe("", MALLOC_TOP_PAD_="0")["mb"] == 0        # the user's tuning wins
    assert _probe("", GLIBC_TUNABLES="glibc.malloc.top_pad=0")["mb"] == 0


def test_bad_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("ZEROIN_KEEP_FREED_MB", "lots")
    with pytest.raises(ValueError, match="ZEROIN_KEEP_FREED_MB.*'lots'"):
        memory.keep_freed_memory()
    assert memory.keep_freed_memory(0) == 0
