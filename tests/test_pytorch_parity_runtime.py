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
