"""Every optimiser against torch 2.13, table-driven: constructor defaults, ``param_groups``
keys, ``repr`` (byte for byte), errors for bad settings, ``state_dict()`` layout, loading
torch's state dict and stepping on as torch does, and the hook APIs."""
import copy
import importlib
import warnings

import numpy as np
import pytest

import zeroin
from zeroin import optim

torch = pytest.importorskip("torch")

# (optimizer, keyword arguments): defaults and a few non-default settings of each
CASES = [
    ("SGD", {}), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("SGD", dict(lr=0.1, momentum=0.5, dampening=0.1, maximize=True, foreach=False)),
    ("Adagrad", {}), ("Adagrad", dict(lr_decay=0.1, initial_accumulator_value=0.5)),
    ("Adadelta", {}), ("Adadelta", dict(rho=0.5, weight_decay=0.1)),
    ("RMSprop", {}), ("RMSprop", dict(momentum=0.9, centered=True)),
    ("Adam", {}), ("Adam", dict(amsgrad=True, weight_decay=0.1, betas=(0.8, 0.99))),
    ("Adam", dict(decoupled_weight_decay=True, weight_decay=0.1, fused=True)),
    ("Adam", dict(betas=[0.8, 0.99], lr=1, eps=1e-6)), ("NAdam", dict(betas=(0, 0.9))),
    ("Rprop", dict(etas=[0.4, 1.5], step_sizes=[1e-5, 10])),
    ("Muon", dict(ns_coefficients=[3, -4, 2], momentum=0.9)),
    ("Adafactor", dict(eps=[1e-30, 1e-3])),
    ("AdamW", {}), ("AdamW", dict(amsgrad=True, maximize=True)),
    ("NAdam", {}), ("NAdam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
    ("RAdam", {}), ("RAdam", dict(decoupled_weight_decay=True, weight_decay=0.1)),
    ("Adamax", {}), ("Adamax", dict(weight_decay=0.1)),
    ("Rprop", {}), ("Rprop", dict(etas=(0.4, 1.5), step_sizes=(1e-5, 10))),
    ("ASGD", {}), ("ASGD", dict(t0=1, lambd=1e-3)),
    ("Adafactor", {}), ("Adafactor", dict(weight_decay=0.1, d=2.0)),
    ("Muon", {}), ("Muon", dict(nesterov=False, adjust_lr_fn="match_rms_adamw")),
    ("LBFGS", {}), ("LBFGS", dict(history_size=5, line_search_fn="strong_wolfe")),
]
IDS = [f"{n}-{'-'.join(kw) or 'defaults'}" for n, kw in CASES]
W = [np.random.default_rng(0).standard_normal((3, 2)),
     np.random.default_rng(1).standard_normal(2)]


def _params(lib, name):
    ws = W[:1] if name == "Muon" else W
    if lib is torch:
        return [torch.tensor(w, requires_grad=True) for w in ws]
    return [zeroin.tensor(w, requires_grad=True) for w in ws]


def _make(lib, name, kw):
    ps = _params(lib, name)
    return ps, getattr(lib.optim, name)(ps, **kw)


def _steps(lib, ps, opt, k):
    def closure():
        opt.zero_grad()
        loss = sum((p * p * p).sum() + (p * p).sum() for p in ps)
        loss.backward()
        return loss
    for _ in range(k):
        opt.step(closure)


def _layout(v):
    if isinstance(v, (torch.Tensor, np.ndarray)):
        return ("tensor", str(v.dtype).replace("torch.", ""), tuple(v.shape))
    return (type(v).__name__,)


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_defaults_groups_and_repr_equal_torchs(name, kw):
    _, to = _make(torch, name, kw)
    _, zo = _make(zeroin, name, kw)
    assert list(zo.defaults.items()) == list(to.defaults.items())
    assert [type(v) for v in zo.defaults.values()] == [type(v) for v in to.defaults.values()]
    assert list(zo.param_groups[0]) == list(to.param_groups[0])
    assert repr(zo) == repr(to)


def test_sgd_prints_as_torch():
    # the audit's case: foreach, differentiable and fused shown, dampening an int 0
    text = repr(optim.SGD([zeroin.zeros(2, requires_grad=True)], lr=0.1))
    assert "    dampening: 0\n    differentiable: False\n    foreach: None\n" \
           "    fused: None\n" in text


# (optimizer, keyword arguments): settings both refuse, with torch's exception type; for a
# ValueError zeroin's message starts with torch's
BAD = [
    ("SGD", dict(lr=-0.1)), ("SGD", dict(lr="0.1")), ("SGD", dict(momentum=-1)),
    ("SGD", dict(weight_decay=-1)), ("SGD", dict(nesterov=True)),
    ("SGD", dict(momentum=0.9, nesterov=True, dampening=0.1)),
    ("SGD", dict(fused=True, foreach=True)), ("SGD", dict(fused=True, differentiable=True)),
    ("SGD", dict(lr=0.1, fancy=True)),
    ("Adam", dict(lr=-1)), ("Adam", dict(lr="x")), ("Adam", dict(eps=-1)),
    ("Adam", dict(betas=(1.0, 0.9))), ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(weight_decay=-1)), ("Adam", dict(fused=True, foreach=True)),
    ("Adam", dict(betas=(0, 0.9))), ("AdamW", dict(betas=[0.9, 1])),
    ("AdamW", dict(weight_decay=-1)), ("AdamW", dict(betas=(0.9, 1.0))),
    ("Adagrad", dict(lr_decay=-1)), ("Adagrad", dict(initial_accumulator_value=-1)),
    ("Adagrad", dict(eps=-1)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1)),
    ("RMSprop", dict(alpha=-1)), ("RMSprop", dict(momentum=-1)), ("RMSprop", dict(eps=-1)),
    ("NAdam", dict(momentum_decay=-1)), ("NAdam", dict(betas=(-0.1, 0.9))),
    ("RAdam", dict(eps=-1)), ("Adamax", dict(betas=(0.9, 1.0))), ("Adamax", dict(lr=-2)),
    ("Rprop", dict(lr=-1)), ("Rprop", dict(etas=(1.2, 0.5))), ("ASGD", dict(lr=-1)),
    ("ASGD", dict(weight_decay=-1)), ("Adafactor", dict(lr=-1)),
    ("Adafactor", dict(beta2_decay=0.5)), ("Adafactor", dict(eps=(-1.0, 1e-3))),
    ("Adafactor", dict(eps=(None, -1.0))), ("Adafactor", dict(d=0.5)),
    ("Adafactor", dict(weight_decay=-1)), ("Muon", dict(lr=-1)), ("Muon", dict(momentum=-1)),
    ("Muon", dict(weight_decay=-1)), ("Muon", dict(adjust_lr_fn="x")), ("LBFGS", dict(lr=-1)),
]


@pytest.mark.parametrize("name, kw", BAD, ids=[f"{n}-{kw}" for n, kw in BAD])
def test_bad_settings_raise_torchs_error(name, kw):
    with pytest.raises(Exception) as t:
        _make(torch, name, kw)
    with pytest.raises(Exception) as z:
        _make(zeroin, name, kw)
    assert z.type is t.type
    if t.type is not TypeError:         # torch's TypeErrors are Python's comparison errors
        assert str(z.value).startswith(str(t.value))


def test_tensor_lr():
    # a one-element tensor lr is taken (as its number, unlike torch, which keeps the
    # tensor); a longer one is refused with torch's message
    z = optim.SGD([zeroin.zeros(2, requires_grad=True)], lr=zeroin.tensor(0.5))
    assert z.param_groups[0]["lr"] == 0.5
    with pytest.raises(ValueError, match=r"^Tensor lr must be 1-element"):
        optim.Adam([zeroin.zeros(2, requires_grad=True)], lr=zeroin.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^Tensor lr must be 1-element"):
        torch.optim.Adam([torch.zeros(2, requires_grad=True)], lr=torch.tensor([0.1, 0.2]))


@pytest.mark.parametrize("flag", ["differentiable"])
def test_differentiable_is_refused_clearly(flag):
    # torch records the step for autograd; zeroin's optimisers update p.data outside it
    for name in ("SGD", "Adam", "Adagrad", "RMSprop", "Rprop", "ASGD"):
        with pytest.raises(NotImplementedError, match=rf"{name}: differentiable=True is not "
                                                      rf"supported"):
            _make(zeroin, name, {flag: True})


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_state_dict_layout_equals_torchs(name, kw):
    tp, to = _make(torch, name, kw)
    zp, zo = _make(zeroin, name, kw)
    _steps(torch, tp, to, 2)
    _steps(zeroin, zp, zo, 2)
    ts, zs = to.state_dict(), zo.state_dict()
    assert list(zs) == list(ts)
    assert zs["param_groups"] == ts["param_groups"]
    assert list(zs["state"]) == list(ts["state"])
    for i, st in ts["state"].items():
        assert list(zs["state"][i]) == list(st)         # LBFGS's work list 'al' included
        assert {k: _layout(v) for k, v in zs["state"][i].items()} == \
            {k: _layout(v) for k, v in st.items()}


def _numpy(sd):
    """torch's state dict with its tensors (also those in lists: LBFGS's history) as NumPy
    arrays (as saved to .npz or safetensors and read back)."""
    sd = copy.deepcopy(sd)

    def plain(v):
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v.detach().numpy() if isinstance(v, torch.Tensor) else v
    for st in sd["state"].values():
        for k, v in st.items():
            st[k] = plain(v)
    return sd


@pytest.mark.parametrize("name, kw", CASES, ids=IDS)
def test_torchs_state_dict_loads_and_the_next_steps_equal_torchs(name, kw):
    tp, to = _make(torch, name, kw)
    _steps(torch, tp, to, 3)
    zp = [zeroin.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tp]
    zo = getattr(optim, name)(zp, **kw)
    zo.load_state_dict(_numpy(to.state_dict()))
    _steps(torch, tp, to, 3)
    _steps(zeroin, zp, zo, 3)
    for a, b in zip(zp, tp):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert zo.state_dict()["param_groups"] == to.state_dict()["param_groups"]


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_load_state_dict_refuses_a_mismatched_one_with_torchs_error(lib):
    ps, opt = _make(lib, "Adam", {})
    sd = opt.state_dict()
    two = lib.optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}])
    with pytest.raises(ValueError, match=r"^loaded state dict has a different number of "
                                         r"parameter groups"):
        two.load_state_dict(sd)
    one = lib.optim.Adam(ps[:1])
    with pytest.raises(ValueError, match=r"^loaded state dict contains a parameter group "
                                         r"that doesn't match the size of optimizer's group"):
        one.load_state_dict(sd)


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_add_param_group_refuses_as_torch(lib):
    ps, opt = _make(lib, "SGD", dict(lr=0.1))
    new = _params(lib, "SGD")[0]
    with pytest.raises(TypeError, match=r"^param_group must be a dict, but got <class 'list'>"):
        opt.add_param_group([new])
    with pytest.raises(TypeError, match=r"^optimizer parameters need to be organized in "
                                        r"ordered collections"):
        opt.add_param_group({"params": {new}})
    with pytest.raises(ValueError, match=r"^some parameters appear in more than one"):
        opt.add_param_group({"params": [ps[0]]})
    with pytest.raises(ValueError, match=r"^can't optimize a non-leaf Tensor"):
        opt.add_param_group({"params": [new * 2]})
    opt.add_param_group({"params": [new], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5
    assert opt.param_groups[1]["momentum"] == 0 and opt.param_groups[1]["fused"] is None


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_as_torch(set_to_none):
    grads = []
    for lib in (torch, zeroin):
        ps, opt = _make(lib, "SGD", {})
        _steps(lib, ps, opt, 1)
        opt.zero_grad(set_to_none=set_to_none)
        grads.append([None if p.grad is None else p.grad.numpy().tolist() for p in ps])
    assert grads[0] == grads[1]
    assert (grads[1][0] is None) == set_to_none


def _hook_log(lib):
    """What the hooks see, in the order they run."""
    hooks = importlib.import_module(lib.__name__ + ".optim.optimizer")
    log = []
    ps, opt = _make(lib, "SGD", dict(lr=0.1, momentum=0.9))
    handles = [
        hooks.register_optimizer_step_pre_hook(lambda o, a, k: log.append(("gpre", len(a)))),
        hooks.register_optimizer_step_post_hook(lambda o, a, k: log.append(("gpost", len(a))))]
    opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", len(a), a[0] is o, k)))
    opt.register_step_post_hook(lambda o, a, k: log.append("post"))
    opt.register_state_dict_pre_hook(lambda o: log.append("sd-pre"))
    opt.register_state_dict_pre_hook(lambda o: log.append("sd-pre first"), prepend=True)
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: log.append(("load-pre", sorted(sd))))
    opt.register_load_state_dict_post_hook(lambda o: log.append("load-post"))
    _steps(lib, ps, opt, 1)                   # SGD's step with a closure runs hooks once
    opt.step()
    sd = opt.state_dict()
    log.append(sorted(sd))
    del sd["extra"]
    opt.load_state_dict(sd)
    for h in handles:
        h.remove()
    opt.step()
    swap = opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": lambda: 7.0}))
    log.append(opt.step())
    swap.remove()
    bad = opt.register_step_pre_hook(lambda o, a, k: 1)
    try:
        opt.step()
    except RuntimeError as e:
        log.append(str(e).split(" must return")[1])
    bad.remove()
    return log


def test_hooks_run_as_torchs():
    z = _hook_log(zeroin)
    assert z == _hook_log(torch)
    assert z[:4] == [("gpre", 2), ("pre", 2, True, {}), "post", ("gpost", 2)]


# --- learning-rate schedulers ---------------------------------------------------------

SCHEDULERS = [
    ("StepLR", dict(step_size=2)), ("MultiStepLR", dict(milestones=[1, 3])),
    ("ExponentialLR", dict(gamma=0.9)), ("CosineAnnealingLR", dict(T_max=4)),
    ("LinearLR", {}), ("ConstantLR", {}), ("PolynomialLR", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=2)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=10)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2)),
]


def _scheduler(lib, name, kw):
    ps, opt = _make(lib, "SGD", dict(lr=0.1, momentum=0.9))
    return ps, opt, getattr(lib.optim.lr_scheduler, name)(opt, **kw)


@pytest.mark.parametrize("name, kw", SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_scheduler_state_dict_and_last_lr_equal_torchs(name, kw):
    runs = []
    for lib in (torch, zeroin):
        ps, opt, s = _scheduler(lib, name, kw)
        lrs = []
        for _ in range(5):
            _steps(lib, ps, opt, 1)
            s.step()
            lrs.append(s.get_last_lr())
        runs.append((lrs, s.state_dict()))
    (tl, ts), (zl, zs) = runs
    np.testing.assert_allclose(zl, tl, rtol=1e-12)
    assert sorted(zs) == sorted(ts)


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_scheduler_stepped_before_the_optimizer_warns(lib):
    _, _, s = _scheduler(lib, "StepLR", dict(step_size=2))
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        s.step()


def test_chained_schedulers_equal_torchs():
    out = []
    for lib in (torch, zeroin):
        ps, opt = _make(lib, "SGD", dict(lr=1.0))
        sched = lib.optim.lr_scheduler
        chain = sched.ChainedScheduler([sched.ExponentialLR(opt, gamma=0.9),
                                        sched.StepLR(opt, step_size=2, gamma=0.5)])
        lrs = []
        for _ in range(5):
            _steps(lib, ps, opt, 1)
            chain.step()
            lrs.append(chain.get_last_lr())
        out.append(lrs)
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


def _other_scheduler(lib, name):
    ps, opt = _make(lib, "SGD", dict(lr=0.1, momentum=0.9))
    sched = lib.optim.lr_scheduler
    return ps, opt, {
        "ReduceLROnPlateau": lambda: sched.ReduceLROnPlateau(opt),
        "LambdaLR": lambda: sched.LambdaLR(opt, lambda e: 0.9 ** e),
        "MultiplicativeLR": lambda: sched.MultiplicativeLR(opt, lambda e: 0.9),
        "SequentialLR": lambda: sched.SequentialLR(
            opt, [sched.ConstantLR(opt), sched.ExponentialLR(opt, 0.9)], [2]),
        "ChainedScheduler": lambda: sched.ChainedScheduler(
            [sched.ConstantLR(opt), sched.ExponentialLR(opt, 0.9)]),
        "SWALR": lambda: lib.optim.swa_utils.SWALR(opt, swa_lr=0.05),
    }[name]()


@pytest.mark.parametrize("name", ["ReduceLROnPlateau", "LambdaLR", "MultiplicativeLR",
                                  "SequentialLR", "ChainedScheduler", "SWALR"])
def test_more_schedulers_state_dict_keys_equal_torchs(name):
    out = []
    for lib in (torch, zeroin):
        ps, opt, s = _other_scheduler(lib, name)
        for _ in range(3):
            _steps(lib, ps, opt, 1)
            s.step(1.0) if name == "ReduceLROnPlateau" else s.step()
        sd = s.state_dict()
        out.append((s.get_last_lr(), sorted(sd), sd.get("lr_lambdas")))
    np.testing.assert_allclose(out[1][0], out[0][0], rtol=1e-12)
    assert out[1][1:] == out[0][1:]


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_a_users_get_lr_called_directly_does_not_warn_as_torch(lib):
    # the UvA DL tutorial 6's CosineWarmupScheduler(optim.lr_scheduler._LRScheduler)
    # defines get_lr; PyTorch warns only in its own schedulers' get_lr (zeroin warned here)
    class Warmup(lib.optim.lr_scheduler._LRScheduler):
        def __init__(self, optimizer, warmup):
            self.warmup = warmup
            super().__init__(optimizer)

        def get_lr(self):
            return [b * min(1.0, self.last_epoch / self.warmup) for b in self.base_lrs]

    class Halved(lib.optim.lr_scheduler.StepLR):     # inherits PyTorch's own get_lr
        pass

    ps, opt, s = _scheduler(lib, "StepLR", dict(step_size=2))
    w = Warmup(opt, 4)
    _steps(lib, ps, opt, 1)
    w.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert w.get_lr() == pytest.approx([b / 4 for b in w.base_lrs])
    h = Halved(opt, step_size=2)
    with pytest.warns(UserWarning, match="get_last_lr"):
        h.get_lr()


def test_old_lr_scheduler_name_is_a_subclass_as_torchs_not_an_alias():
    def shape(lib):
        sched = lib.optim.lr_scheduler
        s = _scheduler(lib, "StepLR", {"step_size": 2})[2]
        return (sched._LRScheduler is sched.LRScheduler,
                issubclass(sched._LRScheduler, sched.LRScheduler),
                [c.__name__ for c in sched._LRScheduler.__mro__],
                isinstance(s, sched._LRScheduler), isinstance(s, sched.LRScheduler))
    assert shape(zeroin) == shape(torch) == (
        False, True, ["_LRScheduler", "LRScheduler", "object"], False, True)


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_step_with_an_epoch_warns_it_is_deprecated_as_torch(lib):
    # zeroin was silent; SequentialLR restarting its next scheduler stays silent in both
    ps, opt, s = _scheduler(lib, "StepLR", dict(step_size=2, gamma=0.5))
    _steps(lib, ps, opt, 1)
    with pytest.warns(UserWarning, match=r"^The epoch parameter in `scheduler.step\(\)` was "
                                         r"not necessary and is being deprecated") as rec:
        s.step(3)
    assert rec[0].filename == __file__
    assert s.last_epoch == 3 and s.get_last_lr() == pytest.approx([0.05])
    sched = lib.optim.lr_scheduler
    seq = sched.SequentialLR(opt, [sched.ConstantLR(opt), sched.ExponentialLR(opt, 0.9)], [2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            _steps(lib, ps, opt, 1)
            seq.step()


@pytest.mark.parametrize("lib", [torch, zeroin], ids=["torch", "zeroin"])
def test_get_lr_outside_step_warns_as_torch(lib):
    ps, opt, s = _scheduler(lib, "StepLR", dict(step_size=2))
    _steps(lib, ps, opt, 1)
    s.step()
    with pytest.warns(UserWarning, match=r"^To get the last learning rate computed by the "
                                         r"scheduler, please use `get_last_lr\(\)`\.$"):
        s.get_lr()


def test_multistep_milestones_are_a_counter_through_save_and_load(tmp_path):
    """MultiStepLR.state_dict()['milestones'] is a collections.Counter, as torch's, and
    zeroin.save / zeroin.load give it back as one (torch.save / torch.load do)."""
    import collections
    for lib in (torch, zeroin):
        _, opt, s = _scheduler(lib, "MultiStepLR", dict(milestones=[3, 5, 5]))
        sd = s.state_dict()
        assert type(sd["milestones"]) is collections.Counter, lib
        assert sd["milestones"] == collections.Counter({3: 1, 5: 2})
    zeroin.save(sd, tmp_path / "sched.pt")
    back = zeroin.load(tmp_path / "sched.pt")
    assert type(back["milestones"]) is collections.Counter
    assert back == sd and list(back["milestones"].items()) == list(sd["milestones"].items())
    _, _, s2 = _scheduler(zeroin, "MultiStepLR", dict(milestones=[1]))
    s2.load_state_dict(back)
    assert type(s2.milestones) is collections.Counter and s2.milestones == sd["milestones"]


def test_state_dict_param_groups_are_new_dicts_and_state_a_snapshot():
    """As PyTorch's: ``param_groups`` in a state dict are new dicts (changing one leaves the
    optimizer alone) with parameter indices. zeroin's ``state`` is a snapshot and
    ``load_state_dict`` copies the arrays (PyTorch's ``state`` holds the optimizer's own
    tensors, and its load keeps the given ones): README, differences."""
    for lib in (torch, zeroin):
        ps, opt = _make(lib, "SGD", dict(lr=0.1, momentum=0.9))
        _steps(lib, ps, opt, 1)
        sd = opt.state_dict()
        assert sd["param_groups"][0] is not opt.param_groups[0]
        assert sd["param_groups"][0]["params"] == list(range(len(ps)))
        sd["param_groups"][0]["lr"] = 5.0
        assert opt.param_groups[0]["lr"] == 0.1
        own = sd["state"][0]["momentum_buffer"] is opt.state[ps[0]]["momentum_buffer"]
        assert own == (lib is torch)
    buf = opt.state[ps[0]]["momentum_buffer"].copy()
    sd = opt.state_dict()
    ps2, opt2 = _make(zeroin, "SGD", dict(lr=0.1, momentum=0.9))
    opt2.load_state_dict(sd)
    sd["state"][0]["momentum_buffer"][...] = 7.0
    np.testing.assert_array_equal(opt2.state[ps2[0]]["momentum_buffer"], buf)
