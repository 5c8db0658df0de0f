"""zeroin.profiler and zeroin.autograd.profiler: every op's forward and backward rule timed
(counts, nesting, self and total times), the table, the Chrome trace, schedules; the
names, counts and schedule decisions side by side with torch.profiler."""
import json
import os
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import profiler
from zeroin.anomaly import anomaly
from zeroin.ops import MulOp, SubOp

torch = pytest.importorskip("torch")


def step(T, x, w):
    """A tiny graph whose backward nodes PyTorch names as zeroin does."""
    y = (x * w).exp()
    loss = y.sum()
    loss.backward()
    return loss


def data(T):
    x = T.tensor([[0.1, 0.2], [0.3, -0.4]], dtype=T.float64, requires_grad=True)
    w = T.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=T.float64, requires_grad=True)
    return x, w


def test_backward_nodes_are_counted_as_torch_and_gradients_are_unchanged():
    out = {}
    for T in (zeroin, torch):
        x, w = data(T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.profiler.profile() as prof:
                for _ in range(3):
                    with T.profiler.record_function("my_step"):
                        step(T, x, w)
        counts = {e.key: e.count for e in prof.key_averages()}
        out[T] = ({k: v for k, v in counts.items() if k.endswith("Backward0") and
                   ":" not in k or k == "my_step"}, x.grad.detach().numpy().copy())
    z, t = out[zeroin], out[torch]
    assert z[0] == t[0] == {"my_step": 3, "MulBackward0": 3, "ExpBackward0": 3,
                            "SumBackward0": 3}
    np.testing.assert_allclose(z[1], t[1], rtol=1e-12)


@pytest.mark.parametrize("fast", [True, False])
def test_each_forward_and_rule_is_one_event_nested_in_its_range(fast, monkeypatch):
    if not fast:
        monkeypatch.setattr(zeroin.autograd, "_fast", None)
    a = zeroin.tensor(2.0, requires_grad=True)
    with profiler.profile() as prof:
        with profiler.record_function("outer"):
            loss = (a * 3.0 - 1.0).exp()        # float-lane scalars: still each one timed
            loss.backward()
    assert a.grad.item() == pytest.approx(3 * np.exp(5.0))
    names = [e.name for e in prof.events()]
    assert sorted(names) == sorted(["outer", "zeroin::mul", "zeroin::sub", "zeroin::exp",
                                    "ExpBackward0", "SubBackward0", "MulBackward0"])
    outer = prof.events()[0]
    assert outer.name == "outer" and outer.cpu_parent is None
    assert {e.name for e in outer.cpu_children} == set(names) - {"outer"}
    inside = sum(e.cpu_time_total for e in outer.cpu_children)
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total - inside,
                                                      abs=1e-3)
    for e in prof.events():
        assert 0 <= e.self_cpu_time_total <= e.cpu_time_total
        assert e.time_range.start <= e.time_range.end
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3)
    rows = table.splitlines()
    assert "Self CPU %" in rows[1] and "# of Calls" in rows[1]
    assert len(rows) == 3 + 3 + 2 and rows[-1].startswith("Self CPU time total: ")


def test_profiling_is_free_and_undone_after_the_block_even_on_error():
    forward, backward = SubOp.__dict__["forward"], MulOp.__dict__["backward"]
    with pytest.raises(ValueError):
        with profiler.profile():
            assert anomaly.enabled and SubOp.__dict__["forward"] is not forward
            raise ValueError
    assert SubOp.__dict__["forward"] is forward and MulOp.__dict__["backward"] is backward
    assert not anomaly.enabled
    with profiler.profile():
        with pytest.raises(RuntimeError, match="already recording"):
            profiler.profile().__enter__()
    with profiler.record_function("nothing recorded"):     # no profile: a no-op
        zeroin.ones(2).exp()


def test_table_sort_and_errors_match_torch():
    for T in (zeroin, torch):
        x, w = data(T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.profiler.profile() as prof:
                step(T, x, w)
        ka = prof.key_averages()
        header = ka.table(sort_by="count").splitlines()[1].split()
        assert header[:4] == ["Name", "Self", "CPU", "%"]
        with pytest.raises(AttributeError):
            ka.table(sort_by="no_such_column")
        rows = sorted(ka, key=lambda e: e.cpu_time_total, reverse=True)
        assert ka.table(sort_by="cpu_time_total", row_limit=1).splitlines()[3].split()[0] \
            == rows[0].key[:55].split()[0]


def test_chrome_trace_is_json_with_every_event_and_written_atomically(tmp_path):
    x, w = data(zeroin)
    with profiler.profile() as prof:
        step(zeroin, x, w)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())["traceEvents"]
    assert sorted(e["name"] for e in trace) == sorted(e.name for e in prof.events())
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace)
    assert os.listdir(tmp_path) == ["trace.json"]
    (tmp_path / "sub").mkdir()
    with pytest.raises(OSError):
        prof.export_chrome_trace(str(tmp_path / "sub"))     # a folder: refused, kept
    assert (tmp_path / "sub").is_dir()


def test_schedule_decisions_and_trace_ready_steps_match_torch(tmp_path):
    seen = {}
    for T in (zeroin, torch):
        s = T.profiler.schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
        actions = [s(i).name for i in range(14)]
        ready = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.profiler.profile(schedule=s, on_trace_ready=lambda p: ready.append(
                    (p.step_num, {e.key: e.count for e in p.key_averages()
                                  if e.key in ("ProfilerStep*", "MulBackward0")}))) as p:
                for _ in range(12):
                    x, w = data(T)
                    step(T, x, w)
                    p.step()
        seen[T] = actions, ready
    assert seen[zeroin] == seen[torch]
    with pytest.raises(AssertionError, match="Invalid profiler schedule"):
        profiler.schedule(wait=0, warmup=0, active=0)
    with pytest.warns(UserWarning, match="warmup"):
        profiler.schedule(wait=0, warmup=0, active=1)


def test_tensorboard_trace_handler_writes_a_named_trace(tmp_path):
    with profiler.profile(on_trace_ready=profiler.tensorboard_trace_handler(
            str(tmp_path / "tb"), worker_name="w0")):
        zeroin.tensor([1.0], requires_grad=True).exp().sum().backward()
    (name,) = os.listdir(tmp_path / "tb")
    assert name.startswith("w0.") and name.endswith(".pt.trace.json")
    events = json.loads((tmp_path / "tb" / name).read_text())["traceEvents"]
    assert {e["name"] for e in events} >= {"zeroin::exp", "ExpBackward0"}


def test_autograd_profiler_profile_as_torch():
    out = {}
    for T in (zeroin, torch):
        x, w = data(T)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with T.autograd.profiler.profile(enabled=False) as off:
                step(T, x, w)
            with T.autograd.profiler.profile() as prof:
                with T.autograd.profiler.record_function("block"):
                    step(T, x, w)
        names = [e.name for e in prof.function_events]
        out[T] = (off is None,
                  names.count("block"), names.count("ExpBackward0"),
                  "Self CPU time total" in prof.table(sort_by="cpu_time_total"),
                  prof.self_cpu_time_total > 0)
    assert out[zeroin] == out[torch] == (True, 1, 1, True, True)
