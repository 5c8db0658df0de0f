"""zeroin.utils.benchmark: Timer runs the statement as torch's Timer does (counted, never
timed) and Measurement's statistics and repr equal torch's for the same raw times."""
import numpy as np
import pytest

import zeroin
from zeroin.utils import benchmark

SPECS = [dict(stmt="x + 1", setup="pass"),
         dict(stmt="y = x * 2\ny.sum()", setup="x = torch.ones(3)\nw = 2", label="mul",
              sub_label="small", description="ones(3)", num_threads=2),
         dict(stmt="f(x)", setup="x = 1", sub_label="call", env="py3")]
RAW = [[2.5e-4], [1e-3, 1.2e-3, 0.9e-3], [3e-6 * (1 + 0.01 * i) for i in range(12)],
       [1.0, 1.1, 2.0, 3.5, 1.05, 0.97], [5e-9 * i for i in range(1, 8)]]


def _pair(torch, spec, raw, number):
    from torch.utils.benchmark.utils import common
    t = common.Measurement(number, list(raw), common.TaskSpec(**spec))
    z = benchmark.Measurement(number, list(raw), benchmark.TaskSpec(**spec))
    return t, z


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("raw", RAW)
def test_measurement_statistics_and_repr_as_torch(spec, raw):
    torch = pytest.importorskip("torch")
    t, z = _pair(torch, spec, raw, 100)
    np.testing.assert_allclose(z.times, t.times, rtol=1e-15)
    for name in ("mean", "median", "iqr"):
        np.testing.assert_allclose(getattr(z, name), getattr(t, name), rtol=1e-12, atol=1e-20)
    assert (z.title, z.as_row_name, z.number_per_run, z.stmt, z.label) == \
        (t.title, t.as_row_name, t.number_per_run, t.stmt, t.label)
    assert z.has_warnings == t.has_warnings and z.meets_confidence() == t.meets_confidence()
    assert repr(z).splitlines()[1:] == repr(t).splitlines()[1:]
    assert repr(z).splitlines()[0].startswith("<zeroin.utils.benchmark.Measurement object")


def test_merge_as_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.benchmark.utils import common
    pairs = [_pair(torch, SPECS[0], RAW[1], 10), _pair(torch, SPECS[0], RAW[0], 100),
             _pair(torch, SPECS[2], RAW[2], 1)]
    tm = common.Measurement.merge([t for t, _ in pairs])
    zm = benchmark.Measurement.merge([z for _, z in pairs])
    assert [m.number_per_run for m in zm] == [m.number_per_run for m in tm] == [1, 1]
    for a, b in zip(zm, tm):
        np.testing.assert_allclose(a.times, b.times, rtol=1e-15)


def _counting(lib, **kw):
    calls = {"stmt": 0, "setup": 0}
    timer = lib.utils.benchmark.Timer("calls['stmt'] += 1", setup="calls['setup'] += 1",
                                      globals={"calls": calls}, **kw)
    return timer, calls


def test_timeit_runs_the_statement_as_torch():
    torch = pytest.importorskip("torch")
    import torch.utils.benchmark  # noqa: F401
    for number in (1, 7, 350):
        (tt, tc), (zt, zc) = _counting(torch), _counting(zeroin)
        tmeas, zmeas = tt.timeit(number), zt.timeit(number)
        assert zc == tc and zc["stmt"] == number + max(number // 100, 2)
        assert zmeas.number_per_run == tmeas.number_per_run == number
        assert len(zmeas.raw_times) == len(tmeas.raw_times) == 1
        assert zmeas.times == [zmeas.raw_times[0] / number] and zmeas.raw_times[0] > 0


def test_blocked_and_adaptive_autorange_structure():
    zt, calls = _counting(zeroin, label="count")
    seen = []
    m = zt.blocked_autorange(callback=lambda n, t: seen.append((n, t)), min_run_time=0.01)
    n = m.number_per_run
    assert n >= 1 and str(n).strip("0") == "1"            # a power of ten, as torch's
    assert sum(m.raw_times) >= 0.01 and [s[1] for s in seen] == m.raw_times
    assert calls["stmt"] >= n * len(m.raw_times) and m.label == "count"
    m = zt.adaptive_autorange(threshold=10.0, min_run_time=0.001, max_run_time=0.2)
    assert len(m.raw_times) >= 4 or sum(m.raw_times) > 0.2
    assert np.isfinite([m.mean, m.median, m.iqr]).all()


def test_timer_globals_setup_and_errors_as_torch():
    torch = pytest.importorskip("torch")
    import torch.utils.benchmark  # noqa: F401
    out = {}
    zeroin.utils.benchmark.Timer("out['y'] = torch.ones(2) * k", setup="k = 3",
                                 globals={"out": out}).timeit(1)
    assert isinstance(out["y"], zeroin.Tensor) and out["y"].tolist() == [3.0, 3.0]
    g = {"a": 1}
    zeroin.utils.benchmark.Timer("a", globals=g).timeit(1)
    assert g == {"a": 1}                    # copied, as torch's
    for lib in (torch, zeroin):
        with pytest.raises(ValueError, match="Currently only a `str` stmt"):
            lib.utils.benchmark.Timer(lambda: 1)
        with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
            lib.utils.benchmark.Timer("pass", global_setup="int x = 1;")
    with pytest.raises(ValueError, match="only Python statements"):
        benchmark.Timer("pass", language="cpp")
    m = benchmark.Timer("\n    a = 1\n    b = 2\n").timeit(2)
    assert m.stmt == "a = 1\nb = 2"          # dedented as torch's
