"""zeroin.nn.init: the first guess of every weight."""
import math

import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn import init

SHAPE = (300, 500)          # (fan_out, fan_in): enough samples for 2% statistics
FAN_IN, FAN_OUT = 500, 300


def fresh(dtype=np.float64, shape=SHAPE):
    return zeroin.tensor(np.full(shape, np.nan, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize("fn, args, mean, std, bound", [
    (init.uniform_, (-0.5, 1.5), 0.5, 2 / math.sqrt(12), (-0.5, 1.5)),
    (init.normal_, (0.3, 0.2), 0.3, 0.2, None),
    (init.xavier_uniform_, (), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)),
     math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (init.xavier_normal_, (), 0.0, math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    (lambda t, **k: init.kaiming_uniform_(t, nonlinearity="relu", **k), (), 0.0,
     math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    (lambda t, **k: init.kaiming_normal_(t, nonlinearity="relu", **k), (), 0.0,
     math.sqrt(2 / FAN_IN), None),
    (lambda t, **k: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", **k), (),
     0.0, math.sqrt(2 / FAN_OUT), None),
    (lambda t, **k: init.kaiming_uniform_(t, a=math.sqrt(5), **k), (), 0.0,
     1 / math.sqrt(3 * FAN_IN), 1 / math.sqrt(FAN_IN)),
    (init.he_normal_, (), 0.0, math.sqrt(2 / FAN_IN), None),
    (init.he_uniform_, (), 0.0, math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_initialisers_have_the_formula_statistics(fn, args, mean, std, bound, dtype):
    t = fresh(dtype)
    data = t.numpy()
    out = fn(t, *args, rng=0)
    assert out is t and t.numpy() is data and t.dtype == dtype     # in place, dtype kept
    assert abs(t.data.mean() - mean) < 0.02 * max(std, 1e-3) * 5
    assert t.data.std() == pytest.approx(std, rel=0.02)
    if bound is not None:
        lo, hi = (-bound, bound) if not isinstance(bound, tuple) else bound
        assert t.data.min() >= lo and t.data.max() <= hi
        assert t.data.min() < lo + 0.01 * (hi - lo) and t.data.max() > hi - 0.01 * (hi - lo)


def test_constant_initialisers():
    t = fresh(np.float32, (3, 2))
    assert init.zeros_(t) is t and not t.data.any() and t.dtype == np.float32
    init.ones_(t)
    assert (t.data == 1).all()
    init.constant_(t, 0.25)
    assert (t.data == 0.25).all()
    a = np.zeros(4)
    init.constant_(a, 2.0)            # plain arrays work too
    assert (a == 2).all()


def test_seeding_rng_argument_and_manual_seed():
    a, b = fresh(shape=(4, 5)), fresh(shape=(4, 5))
    init.xavier_uniform_(a, rng=7)
    init.xavier_uniform_(b, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)
    zeroin.manual_seed(3)
    init.kaiming_normal_(a)
    zeroin.manual_seed(3)
    init.kaiming_normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    init.kaiming_normal_(b)           # the shared generator moves on
    assert not np.array_equal(a.data, b.data)


def test_models_repeat_under_manual_seed():
    zeroin.manual_seed(5)
    m1 = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    zeroin.manual_seed(5)
    m2 = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_calculate_gain_matches_pytorch_values():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        init.calculate_gain("gelu")


def test_calculate_gain_against_torch():
    torch = pytest.importorskip("torch")
    for nl, p in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                  ("leaky_relu", 0.3), ("selu", None), ("sigmoid", None)]:
        assert init.calculate_gain(nl, p) == pytest.approx(torch.nn.init.calculate_gain(nl, p))
        # the same type too: print(calculate_gain('sigmoid')) shows 1, as PyTorch's, not 1.0
        assert type(init.calculate_gain(nl, p)) is type(torch.nn.init.calculate_gain(nl, p))


def test_errors():
    with pytest.raises(ValueError, match=r"xavier_uniform_: .*at least 2 dimensions.*\(5,\)"):
        init.xavier_uniform_(fresh(shape=(5,)))
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(zeroin.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(fresh(shape=(2, 2)), mode="fan")
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(fresh(shape=(2, 2)), std=-1)


def _depth_std(initialiser, depth=10, width=256, seed=0):
    """Std of the activations after ``depth`` ReLU layers initialised by ``initialiser``."""
    rng = np.random.default_rng(seed)
    h = zeroin.tensor(rng.standard_normal((512, width)))
    with zeroin.no_grad():
        for _ in range(depth):
            layer = nn.Linear(width, width, bias=False)
            initialiser(layer.weight, rng=rng)
            h = zeroin.relu(layer(h))
    return h.data.std()


def test_he_keeps_relu_signal_while_small_or_xavier_shrink_it():
    he = _depth_std(lambda w, rng: init.kaiming_normal_(w, nonlinearity="relu", rng=rng))
    xavier = _depth_std(init.xavier_normal_)
    small = _depth_std(lambda w, rng: init.normal_(w, 0, 0.01, rng=rng))
    assert 0.3 < he < 3                     # about the input's scale after 10 layers
    assert xavier < he / 10                 # halves the second moment at each layer
    assert small < 1e-8                     # the signal vanishes


def test_zero_init_keeps_hidden_units_identical():
    """With all weights equal every hidden unit gets the same gradient: symmetry never
    breaks, so a 4-unit layer learns like a 1-unit layer."""
    rng = np.random.default_rng(0)
    x, y = zeroin.tensor(rng.standard_normal((16, 2))), rng.standard_normal((16, 1))
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    for p in model.parameters():
        init.constant_(p, 0.1)
    opt = zeroin.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(20):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    w = model[0].weight.data
    np.testing.assert_allclose(w, np.broadcast_to(w[:1], w.shape), rtol=1e-12)
    assert not np.allclose(w, 0.1)          # it did learn, just not diversely


def test_docs_activation_tables_are_what_the_script_measures(monkeypatch):
    """docs/initialisation.md's Measurement 1 (std after layers 1, 2, 5, 10) is what
    docs/initialisation.py prints now: the text quotes measured numbers, not old ones."""
    import os
    import re
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
    monkeypatch.syspath_prepend(docs)
    import initialisation as script
    with open(os.path.join(docs, "initialisation.md"), encoding="utf-8") as f:
        text = f.read()
    for name, act in (("ReLU", zeroin.relu), ("tanh", zeroin.tanh)):
        table = text.split(f"{name} layers:")[1].split("\n\n")[1]
        for scheme in script.SCHEMES:
            s = script.activation_std(scheme, act)
            row = f"| {scheme} | " + " | ".join(f"{s[i]:.3g}" for i in (0, 1, 4, 9)) + " |"
            assert row in table.splitlines(), (name, row, table)
    assert len(re.findall(r"^\| He \(Kaiming\) normal \|", text, flags=re.MULTILINE)) == 3


@pytest.mark.parametrize("fill", [
    lambda w: init.uniform_(w, -0.5, 0.5), lambda w: init.normal_(w, 0.0, 0.01),
    lambda w: init.kaiming_uniform_(w, a=math.sqrt(5)), lambda w: init.xavier_normal_(w)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_tensors_are_drawn_in_chunks_with_the_whole_draws_numbers(monkeypatch, fill,
                                                                          dtype):
    # a large tensor is filled a chunk of its entries at a time (no float64 temporary of the
    # whole): the same numbers as one draw of its shape, and the generator in the same state
    shape = (3, init._CHUNK // 2 + 5)       # 1.5 chunks and a bit
    results = []
    for chunk in (init._CHUNK, 10 * init._CHUNK):       # chunked, then one draw
        monkeypatch.setattr(init, "_CHUNK", chunk)
        zeroin.manual_seed(11)
        w = zeroin.zeros(shape, dtype=dtype)
        fill(w)
        results.append((w.numpy().copy(), zeroin.rand(3).numpy()))
    (chunked, after1), (whole, after2) = results
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(after1, after2)
    assert chunked.std() > 0


def test_strided_tensor_is_drawn_whole():
    # a view with strides has no flat view to fill in chunks: one draw, as before
    zeroin.manual_seed(2)
    w = zeroin.zeros(2 * init._CHUNK + 2)
    init.uniform_(w[::2])
    assert (w.numpy()[1::2] == 0).all() and (w.numpy()[::2] != 0).all()
