"""Rprop, ASGD and Adafactor against PyTorch: several steps, defaults, state_dict keys and
round trips (with PyTorch's own state), errors."""
import numpy as np
import pytest

import zeroin
from zeroin import optim

torch = pytest.importorskip("torch")

CONFIGS = [
    ("Rprop", dict(lr=0.05)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True, foreach=False)),
    ("Adafactor", dict(lr=0.05)),
    ("Adafactor", dict(lr=0.5, beta2_decay=-0.5, eps=(1e-20, 1e-2), d=1.5,
                       weight_decay=0.1)),
    ("Adafactor", dict(lr=0.05, maximize=True, foreach=False)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)]
SHAPES = [(3, 4), (4,), (2, 3, 4), ()]


def _loss(T, w, m):
    x = w.reshape(-1) if w.ndim != 1 else w
    return (T.tanh(x * T.tensor(m[:x.shape[0]])) ** 2).sum() + (x ** 3).sum() * 0.1


def _pair(name, kw, shape, dtype=np.float64):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal(shape).astype(dtype)
    wz = zeroin.tensor(w0, requires_grad=True)
    wt = torch.tensor(w0, requires_grad=True)
    return wz, wt, getattr(optim, name)([wz], **kw), getattr(torch.optim, name)([wt], **kw)


def _steps(wz, wt, oz, ot, n, m):
    for _ in range(n):
        for w, o, T in ((wz, oz, zeroin), (wt, ot, torch)):
            o.zero_grad()
            _loss(T, w, m).backward()
            o.step()


M = np.random.default_rng(2).standard_normal(24)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_matches_torch_for_several_steps(name, kw, shape):
    wz, wt, oz, ot = _pair(name, kw, shape)
    _steps(wz, wt, oz, ot, 8, M)
    np.testing.assert_allclose(wz.data, wt.detach().numpy(), rtol=1e-12, atol=1e-14)
    theirs = ot.state[wt]
    ours = oz.state[wz]
    assert sorted(ours) == sorted(theirs)
    for k, v in theirs.items():
        np.testing.assert_allclose(np.asarray(ours[k]), v.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=k)


@pytest.mark.parametrize("name, kw", CONFIGS[::2], ids=IDS[::2])
def test_float32_parameters_match_torch(name, kw):
    wz, wt, oz, ot = _pair(name, kw, (3, 4), np.float32)
    _steps(wz, wt, oz, ot, 5, M.astype(np.float32))
    assert wz.dtype == np.float32
    np.testing.assert_allclose(wz.data, wt.detach().numpy(), rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["Rprop", "ASGD", "Adafactor"])
def test_defaults_are_pytorchs(name):
    ours = getattr(optim, name)([zeroin.zeros(2, requires_grad=True)]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
    assert ours == theirs


@pytest.mark.parametrize("name, kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_and_torchs_state_loads(name, kw):
    wz, wt, oz, ot = _pair(name, kw, (3, 4))
    _steps(wz, wt, oz, ot, 3, M)
    sd, sd_t = oz.state_dict(), ot.state_dict()
    assert sd["state"].keys() == sd_t["state"].keys()
    assert sorted(sd["state"][0]) == sorted(sd_t["state"][0])
    assert sorted(sd["param_groups"][0]) == sorted(sd_t["param_groups"][0])
    # a fresh zeroin optimiser takes PyTorch's state (tensors as arrays) and continues
    w2 = zeroin.tensor(wt.detach().numpy().copy(), requires_grad=True)
    o2 = getattr(optim, name)([w2], **kw)
    o2.load_state_dict({"state": {k: {n: v.numpy() for n, v in st.items()}
                                  for k, st in sd_t["state"].items()},
                        "param_groups": sd_t["param_groups"]})
    w3 = zeroin.tensor(wz.data.copy(), requires_grad=True)
    o3 = getattr(optim, name)([w3], **kw)
    o3.load_state_dict(sd)
    for w, o in ((w2, o2), (w3, o3), (wz, oz)):
        for _ in range(3):
            o.zero_grad()
            _loss(zeroin, w, M).backward()
            o.step()
    for _ in range(3):
        ot.zero_grad()
        _loss(torch, wt, M).backward()
        ot.step()
    for w in (w2, w3, wz):
        np.testing.assert_allclose(w.data, wt.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_adafactor_state_of_a_matrix_is_factored_and_refused_with_the_wrong_shape():
    wz, wt, oz, ot = _pair("Adafactor", {}, (2, 3, 4))
    _steps(wz, wt, oz, ot, 1, M)
    assert oz.state[wz]["row_var"].shape == (2, 3, 1)
    assert oz.state[wz]["col_var"].shape == (2, 1, 4)
    sd = oz.state_dict()
    sd["state"][0]["row_var"] = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"Adafactor.load_state_dict: state 'row_var'.*"
                                         r"\(2, 3, 1\)"):
        optim.Adafactor([zeroin.zeros(2, 3, 4, requires_grad=True)]).load_state_dict(sd)


def test_asgd_averages_the_iterates_after_t0():
    wz, wt, oz, ot = _pair("ASGD", dict(lr=0.1, t0=3), (4,))
    seen = []
    for _ in range(7):
        oz.zero_grad()
        _loss(zeroin, wz, M).backward()
        oz.step()
        seen.append(wz.data.copy())
    # mu = 1 / max(1, t - t0) after step t: ax is the mean of the iterates from t0 + 2 on
    np.testing.assert_allclose(oz.state[wz]["ax"], np.mean(seen[4:], axis=0), rtol=1e-6)
    assert not np.allclose(oz.state[wz]["ax"], seen[-1])


@pytest.mark.parametrize("make, exc, words", [
    (lambda o, w: o.Rprop([w], etas=(1.2, 0.5)), ValueError, "eta"),
    (lambda o, w: o.Rprop([w], etas=(0.5, 1.0)), ValueError, "eta"),
    (lambda o, w: o.Rprop([w], lr=-1), ValueError, "earning rate"),
    (lambda o, w: o.ASGD([w], weight_decay=-1), ValueError, "weight_decay"),
    (lambda o, w: o.Adafactor([w], beta2_decay=0.5), ValueError, "beta2_decay"),
    (lambda o, w: o.Adafactor([w], eps=(-1.0, 1e-3)), ValueError, "eps"),
    (lambda o, w: o.Adafactor([w], eps=(None, -1.0)), ValueError, "eps"),
    (lambda o, w: o.Adafactor([w], d=0.5), ValueError, "d"),
])
def test_bad_settings_are_refused_as_in_torch(make, exc, words):
    with pytest.raises(exc):
        make(torch.optim, torch.zeros(2, requires_grad=True))
    with pytest.raises(exc, match=words):
        make(optim, zeroin.zeros(2, requires_grad=True))


# --- Muon: 2-D parameters, Newton-Schulz in bfloat16 (emulated) ----------------------------

MUON = [{}, dict(nesterov=False, adjust_lr_fn="match_rms_adamw", weight_decay=0.0, lr=0.02),
        dict(momentum=0.5, ns_steps=3, adjust_lr_fn="original", lr=0.1)]


def _muon_run(shape, kw, dtype, steps=4):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(shape).astype(dtype)
    wz, wt = zeroin.tensor(w0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    oz, ot = optim.Muon([wz], **kw), torch.optim.Muon([wt], **kw)
    for _ in range(steps):          # the same gradient array in both: the step alone
        g = np.sin(3 * wz.data.astype(np.float64) + 1).astype(dtype)
        wz.grad, wt.grad = zeroin.tensor(g), torch.tensor(g)
        oz.step()
        ot.step()
    return wz, wt, oz, ot


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", MUON, ids=range(len(MUON)))
@pytest.mark.parametrize("shape", [(4, 6), (8, 8), (9, 5)], ids=str)
def test_muon_steps_are_torchs(shape, kw, dtype):
    wz, wt, oz, ot = _muon_run(shape, kw, dtype)
    # float64: PyTorch's lerp and add_ fuse their multiply-adds, NumPy cannot (an ulp)
    tol = dict(rtol=0, atol=0) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(wz.data, wt.detach().numpy(), **tol)
    np.testing.assert_allclose(oz.state[wz]["momentum_buffer"],
                               ot.state[wt]["momentum_buffer"].numpy(), **tol)


def test_muon_on_a_larger_matrix_and_its_state_dict():
    # larger products may sum in another order than PyTorch's bfloat16 kernel: one
    # bfloat16 rounding (2**-8 relative) of the update at most
    wz, wt, oz, ot = _muon_run((64, 32), {}, np.float32)
    np.testing.assert_allclose(wz.data, wt.detach().numpy(), atol=1e-3 * 2 ** -7 * 4)
    sd, sd_t = oz.state_dict(), ot.state_dict()
    assert sorted(sd["state"][0]) == sorted(sd_t["state"][0]) == ["momentum_buffer"]
    assert sorted(sd["param_groups"][0]) == sorted(sd_t["param_groups"][0])
    assert oz.defaults == {k: v for k, v in ot.defaults.items()}
    w2 = zeroin.tensor(wt.detach().numpy().copy(), requires_grad=True)
    o2 = optim.Muon([w2])
    o2.load_state_dict({"state": {0: {"momentum_buffer":
                                      sd_t["state"][0]["momentum_buffer"].numpy()}},
                        "param_groups": sd_t["param_groups"]})
    np.testing.assert_array_equal(o2.state[w2]["momentum_buffer"],
                                  ot.state[wt]["momentum_buffer"].numpy())


def test_muon_orthogonalises_the_update():
    from zeroin.optim.optimizers_more import _newton_schulz
    g = np.random.default_rng(4).standard_normal((20, 8))
    o = _newton_schulz(g, (3.4445, -4.7750, 2.0315), 5, 1e-7).astype(np.float64)
    s = np.linalg.svd(o, compute_uv=False)
    assert (s > 0.5).all() and (s < 1.5).all()          # singular values near 1
    u, _, vt = np.linalg.svd(g, full_matrices=False)
    assert np.abs(o - u @ vt).max() < 0.5


@pytest.mark.parametrize("make, words", [
    (lambda o, T: o.Muon([T.zeros(3, requires_grad=True)]), "2D parameters"),
    (lambda o, T: o.Muon([T.zeros(2, 3, 4, requires_grad=True)]), "2D parameters"),
    (lambda o, T: o.Muon([T.zeros(2, 3, requires_grad=True)], adjust_lr_fn="x"),
     "not supported"),
    (lambda o, T: o.Muon([T.zeros(2, 3, requires_grad=True)], momentum=-1), "momentum"),
    (lambda o, T: o.Muon([T.zeros(2, 3, requires_grad=True)], lr=-1), "earning rate"),
])
def test_muon_errors_as_torch(make, words):
    with pytest.raises(ValueError):
        make(torch.optim, torch)
    with pytest.raises(ValueError, match=words):
        make(optim, zeroin)
    with pytest.raises(TypeError):
        optim.Muon([zeroin.zeros(2, 2, requires_grad=True)], maximize=True)
    with pytest.raises(TypeError):
        torch.optim.Muon([torch.zeros(2, 2, requires_grad=True)], maximize=True)
