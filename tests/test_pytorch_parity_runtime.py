"""PyTorch's runtime names that copied scripts call: mixed precision (``autocast``,
``GradScaler``), the random state and the thread count, each checked against PyTorch on
this CPU-only machine (where ``torch.amp.GradScaler("cuda")`` disables itself)."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import amp

torch = pytest.importorskip("torch")


@pytest.fixture
def fresh_warnings(monkeypatch):
    """The once-per-process warnings warn again, and are recorded."""
    monkeypatch.setattr(amp, "_warned", set())
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        yield w


def _scaler_behaviour(T, scaler):
    """What a scaler does in a training step whose gradient holds an inf."""
    p = T.nn.Parameter(T.ones(2))
    opt = T.optim.SGD([p], lr=1.0)
    loss = (p * 2).sum()
    same_loss = scaler.scale(loss) is loss
    p.grad = T.tensor([float("inf"), 1.0])
    unscaled = scaler.unscale_(opt)
    stepped = scaler.step(opt)
    updated = scaler.update()
    scaler.load_state_dict({"scale": 5.0})
    return (scaler.is_enabled(), scaler.get_scale(), scaler.state_dict(), same_loss,
            unscaled, stepped, updated, p.detach().numpy().tolist())


@pytest.mark.parametrize("make", [lambda T: T.amp.GradScaler("cuda"),
                                  lambda T: T.amp.GradScaler(),
                                  lambda T: T.amp.GradScaler("cuda", enabled=False),
                                  lambda T: T.cuda.amp.GradScaler(init_scale=8.0)],
                         ids=["cuda", "default", "disabled", "cuda.amp"])
def test_grad_scaler_does_what_pytorchs_disabled_scaler_does(make, fresh_warnings):
    ours = _scaler_behaviour(zeroin, make(zeroin))
    categories = {w.category for w in fresh_warnings}
    fresh_warnings.clear()
    theirs = _scaler_behaviour(torch, make(torch))
    assert ours == theirs == (False, 1.0, {}, True, None, None, None, [-np.inf, 0.0])
    assert categories == {w.category for w in fresh_warnings}      # User-, FutureWarning


def test_grad_scaler_step_returns_what_the_optimizer_step_returns(fresh_warnings):
    p = zeroin.nn.Parameter(zeroin.ones(2))
    opt = zeroin.optim.SGD([p], lr=0.5)
    p.grad = zeroin.ones(2)
    assert zeroin.amp.GradScaler().step(opt, lambda: 7.0) == 7.0       # closure's loss
    assert p.tolist() == [0.5, 0.5]


def test_grad_scaler_warns_once_when_enabled(fresh_warnings):
    zeroin.amp.GradScaler()
    zeroin.amp.GradScaler("cuda", enabled=False)
    zeroin.amp.GradScaler("cpu")
    messages = [str(w.message) for w in fresh_warnings]
    assert messages == ["GradScaler is enabled, but zeroin has no reduced-precision "
                        "gradients to scale. Disabling."]


def test_autocast_changes_nothing_and_says_so_once(fresh_warnings):
    x = zeroin.randn(3, 4, dtype=zeroin.float32)
    w = zeroin.randn(4, 2, dtype=zeroin.float32)
    with zeroin.autocast("cuda") as ctx:
        y = x @ w
    with zeroin.autocast(device_type="cpu", dtype=zeroin.float16):
        y16 = x @ w
    assert isinstance(ctx, zeroin.autocast)
    assert y.dtype == y16.dtype == zeroin.float32
    assert np.array_equal(y16.numpy(), (x @ w).numpy())
    assert [str(m.message) for m in fresh_warnings] == [
        "zeroin runs every op in its tensors' own dtype; autocast changes nothing (zeroin has "
        "no float16/bfloat16 autocast)"]
    assert fresh_warnings[0].filename == __file__               # points at the caller
    assert not zeroin.is_autocast_enabled() and not torch.is_autocast_enabled()


def test_autocast_disabled_is_silent_and_works_as_a_decorator(fresh_warnings):
    for T in (zeroin, torch):
        @T.autocast("cpu", enabled=False)
        def double(x):
            """Twice x."""
            return x * 2
        assert double(T.ones(2)).tolist() == [2.0, 2.0]
        assert double.__name__ == "double" and double.__doc__ == "Twice x."
        with T.amp.autocast("cpu", enabled=False):
            pass
    assert not fresh_warnings


def test_autocast_names_of_every_module(fresh_warnings):
    with zeroin.cuda.amp.autocast():
        pass
    with zeroin.amp.autocast("cuda", dtype=zeroin.float16):
        pass
    assert [w.category for w in fresh_warnings] == [FutureWarning, UserWarning]
    assert "zeroin.amp.autocast('cuda', args...)" in str(fresh_warnings[0].message)
    from zeroin.cuda.amp import GradScaler, autocast            # the import line of scripts
    assert issubclass(autocast, zeroin.amp.autocast)
    assert issubclass(GradScaler, zeroin.amp.GradScaler)


@pytest.mark.parametrize("device_type, error", [(torch.device("cpu"), ValueError),
                                                ("gpu", RuntimeError)])
def test_autocast_refuses_what_pytorch_refuses(device_type, error):
    with pytest.raises(error):
        torch.autocast(device_type)
    zdev = zeroin.device("cpu") if not isinstance(device_type, str) else device_type
    with pytest.raises(error, match="autocast" if error is ValueError else "gpu"):
        zeroin.autocast(zdev)


# --- the random state ----------------------------------------------------------------------

def _draws():
    """One of each kind of draw that uses zeroin's shared generator."""
    x = zeroin.randn(3)
    d = zeroin.nn.Dropout(0.5)(zeroin.ones(8))
    return [x.tolist(), d.tolist(), zeroin.randint(0, 100, (4,)).tolist(),
            zeroin.randperm(5).tolist(), zeroin.nn.Linear(2, 2).weight.tolist()]


def test_set_rng_state_repeats_the_next_draws_exactly():
    for T in (zeroin, torch):
        T.manual_seed(3)
        T.randn(7)                                  # somewhere in the middle of the stream
        state = T.get_rng_state()
        first = _draws() if T is zeroin else T.randn(5).tolist()
        T.set_rng_state(state)
        assert (_draws() if T is zeroin else T.randn(5).tolist()) == first
        assert T.initial_seed() == 3
    zeroin.manual_seed(3)
    assert _draws() != first                        # the state was mid-stream


def test_fork_rng_restores_the_generator_after_the_block():
    # reproducibility code: draws inside `with torch.random.fork_rng():` change nothing after
    for T in (zeroin, torch):
        T.manual_seed(3)
        T.randn(2)
        after = T.randn(4).tolist()
        T.manual_seed(3)
        T.randn(2)
        with T.random.fork_rng(devices=[]):
            inside = T.randn(4).tolist()
            T.rand(9)
        assert inside == after and T.randn(4).tolist() == after
        with T.random.fork_rng(enabled=False):        # not forked: the draws go on
            T.randn(3)
        assert T.randn(4).tolist() != after
    with pytest.raises(RuntimeError, match="CPU only"):
        with zeroin.random.fork_rng(devices=[0]):
            pass


def test_rng_state_is_zeroins_own_and_a_torch_state_is_refused():
    state = zeroin.get_rng_state()
    assert state["numpy"]["bit_generator"] == "PCG64"
    with pytest.raises(TypeError, match=r"set_rng_state: expected a state from "
                                        r"zeroin.get_rng_state\(\).*got Tensor.*PyTorch's"):
        zeroin.set_rng_state(zeroin.tensor([1, 2, 3], dtype=zeroin.uint8))
    g = zeroin.Generator().manual_seed(5)
    zeroin.set_rng_state(g.get_state())             # one format for both
    assert zeroin.initial_seed() == 5
    assert zeroin.randn(4).tolist() == zeroin.randn(4, generator=zeroin.Generator()
                                                    .manual_seed(5)).tolist()


def test_use_deterministic_algorithms_boilerplate_runs_as_in_pytorch():
    # the reproducibility recipe of PyTorch's docs: zeroin records the switch (its ops
    # are deterministic anyway) and refuses what PyTorch refuses
    try:
        for T in (zeroin, torch):
            T.use_deterministic_algorithms(True, warn_only=True)
            assert T.are_deterministic_algorithms_enabled() is True
            assert T.is_deterministic_algorithms_warn_only_enabled() is True
            assert T.use_deterministic_algorithms(False) is None
            assert T.are_deterministic_algorithms_enabled() is False
            assert T.is_deterministic_algorithms_warn_only_enabled() is False
            for bad in ((1,), (True, 1)):
                with pytest.raises(TypeError):
                    T.use_deterministic_algorithms(bad[0], **(
                        {"warn_only": bad[1]} if len(bad) > 1 else {}))
        with pytest.raises(TypeError, match=r"use_deterministic_algorithms: mode must be "
                                            r"True or False, got int 1"):
            zeroin.use_deterministic_algorithms(1)
    finally:
        torch.use_deterministic_algorithms(False)
        zeroin.use_deterministic_algorithms(False)


def test_manual_seed_returns_the_default_generator_as_pytorch():
    for T in (torch, zeroin):
        g = T.manual_seed(3)
        assert g is T.default_generator and g.initial_seed() == 3
        state = g.get_state()
        a = T.randn(4).tolist()
        g.set_state(state)                          # the generator's state is the shared one
        assert T.randn(4).tolist() == a
        assert T.randn(2, generator=g).shape == (2,)
        g.manual_seed(7)                            # and seeding it seeds the shared stream
        assert T.initial_seed() == 7
    zeroin.manual_seed(0)       # the same draws as before it was a Generator: NumPy's PCG64(0)
    assert zeroin.randn(3).tolist() == np.random.default_rng(0).standard_normal(3).tolist()


def test_seed_and_initial_seed():
    zeroin.manual_seed(-1)                          # as PyTorch: taken modulo 2**64
    assert zeroin.initial_seed() == torch.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    s = zeroin.seed()
    assert isinstance(s, int) and 0 <= s < 2 ** 64 and zeroin.initial_seed() == s
    a = zeroin.randn(4).tolist()
    zeroin.manual_seed(s)
    assert zeroin.randn(4).tolist() == a            # the seed returned repeats the draws
    assert zeroin.seed() != s
    with pytest.raises(TypeError, match="manual_seed: the seed must be a whole number"):
        zeroin.manual_seed(1.5)


def test_initial_seed_at_import_is_the_seed_the_stream_started_from():
    import subprocess
    import sys
    code = ("import zeroin; a = zeroin.randn(3).tolist(); s = zeroin.initial_seed(); "
            "zeroin.manual_seed(s); print(a == zeroin.randn(3).tolist(), s)")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.split() for _ in range(2)]
    assert runs[0][0] == runs[1][0] == "True"
    assert runs[0][1] != runs[1][1]                 # a fresh seed each process


# --- threads -------------------------------------------------------------------------------

@pytest.fixture
def blas_threads():
    """Puts the BLAS thread count back after the test."""
    from zeroin import _threads
    before = zeroin.get_num_threads()
    yield _threads
    _threads._requested = None
    tc = _threads._threadpoolctl()
    if tc is not None:
        tc.threadpool_limits(limits=before, user_api="blas")


def test_set_num_threads_sets_numpys_blas_threads(blas_threads):
    tc = pytest.importorskip("threadpoolctl")
    if not any(i["user_api"] == "blas" for i in tc.threadpool_info()):
        pytest.skip("NumPy's BLAS is not one threadpoolctl controls")
    zeroin.set_num_threads(1)
    assert zeroin.get_num_threads() == 1
    assert {i["num_threads"] for i in tc.threadpool_info() if i["user_api"] == "blas"} == {1}


def test_without_threadpoolctl_the_request_is_recorded(blas_threads, monkeypatch):
    import os
    monkeypatch.setattr(blas_threads, "_threadpoolctl", lambda: None)
    assert zeroin.get_num_threads() == os.cpu_count()
    zeroin.set_num_threads(3)
    assert zeroin.get_num_threads() == 3


@pytest.mark.parametrize("n", [0, -1, 1.5, "2"])
def test_set_num_threads_refuses_what_pytorch_refuses(n, blas_threads):
    with pytest.raises(RuntimeError) as theirs:
        torch.set_num_threads(n)
    with pytest.raises(Exception) as ours:
        zeroin.set_num_threads(n)
    assert isinstance(ours.value, type(theirs.value))
    assert str(ours.value).startswith(str(theirs.value).split(",")[0])


def test_cuda_memory_calls_do_what_pytorchs_without_a_gpu():
    # fast.ai's clean_mem(): gc.collect(); torch.cuda.empty_cache()
    for name in ("empty_cache", "memory_allocated", "max_memory_allocated", "memory_reserved"):
        want = getattr(torch.cuda, name)()
        assert getattr(zeroin.cuda, name)() == want and type(getattr(zeroin.cuda, name)()) is type(want)
    assert zeroin.cuda.memory_allocated("cuda:0") == 0


@pytest.mark.parametrize("name", ["current_device", "get_device_name", "get_device_properties",
                                  "get_device_capability"])
def test_cuda_device_queries_raise_as_pytorchs_without_a_gpu(name):
    # ZTM's fundamentals check the GPU (torch.cuda.get_device_name(0) was an AttributeError)
    with pytest.raises(AssertionError):
        getattr(torch.cuda, name)()
    with pytest.raises(AssertionError, match=rf"^cuda\.{name}: zeroin runs on the CPU") as e:
        getattr(zeroin.cuda, name)()
    assert isinstance(e.value, RuntimeError) and "is_available()" in str(e.value)
    assert zeroin.cuda.is_initialized() is torch.cuda.is_initialized() is False


@pytest.mark.parametrize("move", [lambda T: T.ones(2).cuda(), lambda T: T.ones(2).to("cuda"),
                                  lambda T: T.ones(2).to(device="cuda:0"),
                                  lambda T: T.tensor([1.0], device="cuda"),
                                  lambda T: T.zeros(2, device="xpu"),
                                  lambda T: T.nn.Linear(1, 1).cuda()],
                         ids=["cuda()", "to", "to_device", "tensor", "xpu", "module"])
def test_moving_to_cuda_raises_pytorchs_assertion_error_and_says_why(move):
    """DLWPT ch3's ``points.cuda()`` / ``device='cuda'``: PyTorch without CUDA raises
    AssertionError; zeroin's error is that and a RuntimeError, and names the fix."""
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError):
        move(torch)
    with pytest.raises(AssertionError, match="zeroin runs on the CPU .* only") as e:
        move(zeroin)
    assert isinstance(e.value, RuntimeError)


def _dtype_name(d):
    return str(d).rsplit(".", 1)[-1]


def test_autocast_dtype_defaults_and_setter_as_pytorch(monkeypatch, fresh_warnings):
    monkeypatch.setattr(amp, "_LOWER", {})
    for device in ("cpu", "cuda"):
        assert _dtype_name(zeroin.get_autocast_dtype(device)) == \
            _dtype_name(torch.get_autocast_dtype(device))
        with zeroin.autocast(device) as z, torch.autocast(device) as t:
            assert _dtype_name(z.fast_dtype) == _dtype_name(t.fast_dtype)
    before = torch.get_autocast_dtype("cpu")
    try:
        torch.set_autocast_dtype("cpu", torch.float16)
        zeroin.set_autocast_dtype("cpu", zeroin.float16)
        assert zeroin.get_autocast_dtype("cpu") == zeroin.float16
        assert _dtype_name(zeroin.get_autocast_dtype("cpu")) == \
            _dtype_name(torch.get_autocast_dtype("cpu"))
        zeroin.set_autocast_dtype("cpu", zeroin.bfloat16)
        assert zeroin.get_autocast_dtype("cpu") is zeroin.bfloat16
    finally:
        torch.set_autocast_dtype("cpu", before)
    for bad, error in ((1, TypeError), ("gpu", RuntimeError)):
        with pytest.raises(error):
            torch.get_autocast_dtype(bad)
        with pytest.raises(error, match="device_type" if error is TypeError else "gpu"):
            zeroin.get_autocast_dtype(bad)
