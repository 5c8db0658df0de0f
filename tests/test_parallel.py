"""One-process parallelism names torch scripts use: nn.DataParallel,
nn.parallel.DistributedDataParallel, zeroin.distributed, zeroin.multiprocessing,
zeroin.cpu, zeroin.hub and zeroin.utils.model_zoo, each against torch."""
import multiprocessing
import os
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import distributed as dist
from zeroin import nn


def _model(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 1))


def _same_run(tw, zw):
    """Forward and backward through both wrappers match; gradients land on the modules."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((6, 3))
    tout, zout = tw(torch.tensor(x)), zw(zeroin.tensor(x))
    np.testing.assert_allclose(zout.data, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    tout.pow(2).sum().backward()
    zout.pow(2).sum().backward()
    for (k, p), (k2, q) in zip(tw.module.named_parameters(), zw.module.named_parameters()):
        assert k == k2
        np.testing.assert_allclose(q.grad.data, p.grad.numpy(), rtol=1e-10, atol=1e-12)


def _wrapped_pair(torch, wrap_t, wrap_z):
    tm, zm = _model(torch).double(), _model(zeroin).double()
    zm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    return wrap_t(tm), wrap_z(zm)


def test_data_parallel_wraps_and_calls_the_module():
    torch = pytest.importorskip("torch")
    tw, zw = _wrapped_pair(torch, torch.nn.DataParallel, nn.DataParallel)
    assert repr(zw) == repr(tw) and zw.device_ids == tw.device_ids == []
    assert list(zw.state_dict()) == list(tw.state_dict())
    assert all(k.startswith("module.") for k in zw.state_dict())
    _same_run(tw, zw)
    plain = _model(zeroin).double()
    plain.load_state_dict({k[len("module."):]: v for k, v in zw.state_dict().items()})
    zw.module.load_state_dict(plain.state_dict())
    assert nn.parallel.DataParallel is nn.DataParallel
    y = nn.parallel.data_parallel(zw.module, zeroin.ones(2, 3))
    np.testing.assert_array_equal(y.data, zw.module(zeroin.ones(2, 3)).data)


def test_ddp_refuses_without_a_process_group_as_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError) as t_err:
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1))
    with pytest.raises(ValueError) as z_err:
        nn.parallel.DistributedDataParallel(nn.Linear(1, 1))
    assert str(z_err.value) == str(t_err.value)


@pytest.fixture
def groups(tmp_path):
    """A one-process default group in torch (gloo, file rendezvous) and in zeroin."""
    torch = pytest.importorskip("torch")
    if not torch.distributed.is_available():
        pytest.skip("this torch has no torch.distributed")
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/rdv",
                                         world_size=1, rank=0)
    dist.init_process_group("gloo", world_size=1, rank=0)
    yield torch
    torch.distributed.destroy_process_group()
    dist.destroy_process_group()


def test_ddp_in_one_process_as_torch(groups):
    torch = groups
    DDP = nn.parallel.DistributedDataParallel
    tw, zw = _wrapped_pair(torch, torch.nn.parallel.DistributedDataParallel, DDP)
    assert repr(zw) == repr(tw) and list(zw.state_dict()) == list(tw.state_dict())
    assert zw.device_ids is None and tw.device_ids is None
    _same_run(tw, zw)
    with zw.no_sync(), tw.no_sync():
        assert zw.require_backward_grad_sync is tw.require_backward_grad_sync is False
        _same_run(tw, zw)         # gradients accumulate as torch's
    assert zw.require_backward_grad_sync is True
    with zw.join():
        zw(zeroin.ones(2, 3))
    frozen = nn.Linear(1, 1).requires_grad_(False)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        DDP(frozen)
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1).requires_grad_(False))


def test_distributed_without_a_group_as_torch():
    torch = pytest.importorskip("torch")
    tdist = torch.distributed
    assert dist.is_available() is False and dist.is_initialized() is tdist.is_initialized()
    assert dist.is_torchelastic_launched() is tdist.is_torchelastic_launched()
    calls = [lambda d, lib: d.get_rank(), lambda d, lib: d.get_world_size(),
             lambda d, lib: d.barrier(), lambda d, lib: d.all_reduce(lib.ones(1)),
             lambda d, lib: d.get_backend()]
    for call in calls:
        with pytest.raises(ValueError) as t_err:
            call(tdist, torch)
        with pytest.raises(ValueError) as z_err:
            call(dist, zeroin)
        assert str(z_err.value) == str(t_err.value)


def test_distributed_collectives_over_one_process(groups):
    torch = groups
    tdist = torch.distributed
    for d, lib in ((tdist, torch), (dist, zeroin)):
        assert d.is_initialized() and d.get_rank() == 0 and d.get_world_size() == 1
        assert d.get_backend() == "gloo"
        t = lib.tensor([1.0, -2.0])
        for op in (d.ReduceOp.SUM, d.ReduceOp.MAX, d.ReduceOp.AVG):
            assert d.all_reduce(t, op=op) is None and t.tolist() == [1.0, -2.0]
        assert d.broadcast(t, 0) is None and t.tolist() == [1.0, -2.0]
        out = [lib.zeros(2)]
        d.all_gather(out, t)
        assert out[0].tolist() == [1.0, -2.0]
        objs = [None]
        d.all_gather_object(objs, {"rank": 0})
        assert objs == [{"rank": 0}]
        assert d.barrier(async_op=True).wait()
        with pytest.raises(ValueError, match="twice"):
            d.init_process_group("gloo", world_size=1, rank=0)


def test_distributed_sampler_reads_the_group_as_torch(groups):
    torch = groups
    from torch.utils.data.distributed import DistributedSampler as TS

    from zeroin.data.distributed import DistributedSampler as ZS
    t, z = TS(range(10), seed=5), ZS(range(10), seed=5)
    assert (z.num_replicas, z.rank) == (t.num_replicas, t.rank) == (1, 0)
    assert list(z) == list(t)


def test_distributed_refuses_more_than_one_process(monkeypatch):
    with pytest.raises(RuntimeError, match="one process.*world_size=2"):
        dist.init_process_group("gloo", world_size=2, rank=0)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(RuntimeError, match="world_size=4, rank=1"):
        dist.init_process_group()
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    dist.init_process_group()
    try:
        assert dist.is_initialized() and dist.get_backend() == "gloo"
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def _write_rank(i, folder):
    with open(os.path.join(folder, f"rank{i}"), "w") as f:
        f.write(str(i))


def _fail(i):
    raise ValueError(f"boom in {i}")


def test_multiprocessing_reexports_and_strategies():
    torch = pytest.importorskip("torch")
    import zeroin.multiprocessing as zmp
    for name in ("Process", "Queue", "Pool", "get_context", "cpu_count", "Manager"):
        assert getattr(zmp, name) is not None and hasattr(torch.multiprocessing, name)
    assert zmp.Process is multiprocessing.Process
    assert zmp.get_all_sharing_strategies() == torch.multiprocessing.get_all_sharing_strategies()
    assert zmp.get_sharing_strategy() == torch.multiprocessing.get_sharing_strategy()
    zmp.set_sharing_strategy("file_system")
    assert zmp.get_sharing_strategy() == "file_system"
    zmp.set_sharing_strategy("file_descriptor")
    with pytest.raises(ValueError, match="file_system"):
        zmp.set_sharing_strategy("shm")


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_spawn_runs_each_rank_and_raises_a_failure(tmp_path):
    torch = pytest.importorskip("torch")
    import zeroin.multiprocessing as zmp
    for lib in (torch, zeroin):
        with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
            assert lib.multiprocessing.spawn(_write_rank, args=(str(tmp_path),), nprocs=2,
                                             start_method="fork") is None
    assert sorted(os.listdir(tmp_path)) == ["rank0", "rank1"]
    ctx = zmp.start_processes(_write_rank, args=(str(tmp_path),), join=False,
                              start_method="fork")
    assert ctx.join() and len(ctx.pids()) == 1
    with pytest.raises(zmp.ProcessRaisedException, match="boom in 0") as err:
        zmp.start_processes(_fail, start_method="fork")
    assert err.value.error_index == 0 and "Process 0 terminated" in str(err.value)


def test_cpu_as_torch():
    torch = pytest.importorskip("torch")
    zc, tc = zeroin.cpu, torch.cpu
    assert (zc.is_available(), zc.device_count(), zc.current_device()) == \
        (tc.is_available(), tc.device_count(), tc.current_device())
    for c in (zc, tc):
        assert c.synchronize() is None and c.set_device("cpu") is None
        s = c.Stream()
        assert s.wait_stream(s) is None and s.record_event() is None
        with c.stream(s):
            pass
        assert c.Event().query() is True
    s = zc.Stream()
    with zc.stream(s):
        assert zc.current_stream() is s
    assert zc.current_stream() is not s


@pytest.fixture
def hub_env(monkeypatch):
    torch = pytest.importorskip("torch")
    for k in ("TORCH_HOME", "XDG_CACHE_HOME", "TORCH_HUB"):
        monkeypatch.delenv(k, raising=False)
    yield torch
    zeroin.hub._hub_dir[0] = None


def test_hub_dir_as_torch(hub_env, monkeypatch, tmp_path):
    torch = hub_env
    assert zeroin.hub.get_dir() == torch.hub.get_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert zeroin.hub.get_dir() == torch.hub.get_dir() == str(tmp_path / "cache/torch/hub")
    monkeypatch.setenv("TORCH_HOME", "~/th")
    assert zeroin.hub.get_dir() == torch.hub.get_dir()
    zeroin.hub.set_dir("~/elsewhere")
    assert zeroin.hub.get_dir() == os.path.expanduser("~/elsewhere")
    monkeypatch.setenv("TORCH_HUB", "x")
    with pytest.warns(UserWarning, match="TORCH_HUB is deprecated"):
        zeroin.hub.get_dir()


def test_hub_loads_a_local_hubconf_and_refuses_downloads(hub_env, tmp_path):
    torch = hub_env
    (tmp_path / "hubconf.py").write_text(
        "dependencies = []\n\ndef tiny(n, scale=1):\n    return [scale * i for i in range(n)]\n")
    for lib in (torch, zeroin):
        assert lib.hub.load(str(tmp_path), "tiny", 3, scale=2, source="local") == [0, 2, 4]
        with pytest.raises(RuntimeError, match="Cannot find callable nope in hubconf"):
            lib.hub.load(str(tmp_path), "nope", source="local")
        with pytest.raises(ValueError, match="Unknown source"):
            lib.hub.load(str(tmp_path), "tiny", source="gitlab")
    for call in (lambda: zeroin.hub.load("pytorch/vision", "resnet18"),
                 lambda: zeroin.hub.list("pytorch/vision"),
                 lambda: zeroin.hub.load_state_dict_from_url("https://example.com/w.pth"),
                 lambda: zeroin.utils.model_zoo.load_url("https://example.com/w.pth")):
        with pytest.raises(NotImplementedError, match="does not download.*safetensors"):
            call()
    assert zeroin.utils.model_zoo.load_url is zeroin.hub.load_state_dict_from_url


def test_new_namespaces_stay_out_of_import_zeroin():
    import subprocess
    import sys
    code = ("import sys, zeroin; mods = ('zeroin.jit', 'zeroin.distributed', 'zeroin.hub', "
            "'zeroin.multiprocessing', 'zeroin.cpu', 'zeroin.utils.benchmark'); "
            "print([m for m in mods if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.dirname(
                             os.path.dirname(zeroin.__file__))}, check=True)
    assert out.stdout.strip() == "[]"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert zeroin.distributed is dist and zeroin.cpu.device_count() == 1


def test_hub_tqdm_is_tqdms_progress_bar_imported_on_first_use():
    import subprocess
    import sys
    tqdm = pytest.importorskip("tqdm")
    from zeroin.hub import tqdm as hub_tqdm
    assert hub_tqdm is tqdm.tqdm is pytest.importorskip("torch").hub.tqdm
    code = "import sys, zeroin, zeroin.hub; print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(AttributeError, match="zeroin.hub' has no attribute 'nope'"):
        zeroin.hub.nope


def test_xpu_says_no_device_as_torch_without_one():
    """The examples pick their device with torch.xpu.is_available() (mnist_forward_forward)."""
    torch = pytest.importorskip("torch")
    assert zeroin.xpu.is_available() is torch.xpu.is_available() is False
    assert zeroin.xpu.device_count() == torch.xpu.device_count() == 0
    assert zeroin.xpu.is_initialized() is False
    for name in ("manual_seed", "manual_seed_all"):
        assert getattr(zeroin.xpu, name)(0) is None and getattr(torch.xpu, name)(0) is None
    assert zeroin.xpu.synchronize() is None and zeroin.xpu.empty_cache() is None
    assert "xpu" in dir(zeroin)
