"""The torch stream (Generator(stream="torch"), random.use_torch_stream): PyTorch's CPU
random numbers bit for bit, checked against torch itself; the default stream unchanged."""

import numpy as np
import pytest

import zeroin
import zeroin.random as zr
from _audit import skip_off_torch_kernels
from zeroin._torch_rng import TorchStream, _fma32, _fma64

SEEDS = [0, 1, 42, 2147483647, 2 ** 40 + 3, -1]
# below, at and above the 16-element Box-Muller blocks, and one large draw
SIZES = [1, 2, 3, 15, 16, 17, 31, 32, 33, 100, 1000, 4099]
DTYPES = ["float32", "float64"]


@pytest.fixture
def torch():
    """torch as the oracle, where zeroin's copy of its kernels applies: x86-64 with AVX2 or
    AVX-512 (torch's float32 randn runs its AVX2 Box-Muller kernel there; other CPUs run
    other kernels, whose last bits zeroin does not claim)."""
    torch = pytest.importorskip("torch")
    skip_off_torch_kernels(torch)
    return torch


def _pair(torch, seed):
    return (zeroin.Generator(stream="torch").manual_seed(seed),
            torch.Generator().manual_seed(seed))


def _same(a, b):
    a = a.numpy() if hasattr(a, "numpy") else np.asarray(a)
    b = b.numpy() if hasattr(b, "numpy") else np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)         # every bit: no tolerance


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dt", DTYPES)
def test_rand_randn_each_size(torch, seed, dt):
    g, tg = _pair(torch, seed)
    zd, td = getattr(zeroin, dt), getattr(torch, dt)
    for n in SIZES:
        _same(zeroin.rand(n, generator=g, dtype=zd), torch.rand(n, generator=tg, dtype=td))
        _same(zeroin.randn(n, generator=g, dtype=zd), torch.randn(n, generator=tg, dtype=td))
        _same(zeroin.randn(2, n, generator=g, dtype=zd),
              torch.randn(2, n, generator=tg, dtype=td))


def test_unseeded_generators_agree(torch):
    """Both start from PyTorch's default seed, 67280421310721."""
    g, tg = zeroin.Generator(stream="torch"), torch.Generator()
    assert g.initial_seed() == tg.initial_seed()
    _same(zeroin.rand(5, generator=g, dtype=zeroin.float32), torch.rand(5, generator=tg))


@pytest.mark.parametrize("dt", DTYPES)
def test_large_draws(torch, dt):
    g, tg = _pair(torch, 5)
    zd, td = getattr(zeroin, dt), getattr(torch, dt)
    _same(zeroin.randn(300_001, generator=g, dtype=zd),
          torch.randn(300_001, generator=tg, dtype=td))
    _same(zeroin.rand(300_001, generator=g, dtype=zd),
          torch.rand(300_001, generator=tg, dtype=td))
    _same(zeroin.normal(-1.1, 0.37, (300_000,), generator=g, dtype=zd),
          torch.normal(-1.1, 0.37, (300_000,), generator=tg, dtype=td))


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_randint(torch, seed):
    g, tg = _pair(torch, seed)
    for low, high in [(0, 10), (-5, 27), (0, 2 ** 28 - 1), (0, 2 ** 28), (-2 ** 40, 2 ** 40),
                      (-2 ** 63, 2 ** 63 - 1)]:
        _same(zeroin.randint(low, high, (3, 37), generator=g),
              torch.randint(low, high, (3, 37), generator=tg))
    _same(zeroin.randint(10, (5,), generator=g), torch.randint(10, (5,), generator=tg))


@pytest.mark.parametrize("seed", SEEDS[:4])
def test_randperm(torch, seed):
    g, tg = _pair(torch, seed)
    # both sides of zeroin's switch from the swap loop to NumPy passes (256), and large n;
    # each call continues the stream where the last one left it
    for n in [0, 1, 2, 5, 100, 255, 256, 257, 5000, 60001, 5000]:
        _same(zeroin.randperm(n, generator=g), torch.randperm(n, generator=tg))
    with pytest.raises(NotImplementedError, match=r"randperm\(n=214748364\).*64 bits"):
        zeroin.randperm(2 ** 32 // 20, generator=g)    # torch's random64() algorithm: refused
    _same(zeroin.randperm(9, generator=g), torch.randperm(9, generator=tg))   # nothing drawn
    s = g.torch                                     # only the first values, words all drawn
    for n, head in [(10, 3), (300, 7), (300, 0), (3, 0)]:
        _same(s.randperm(n, head=head), torch.randperm(n, generator=tg)[:head])
    _same(zeroin.rand(3, generator=g, dtype=zeroin.float32), torch.rand(3, generator=tg))


def test_fisher_yates_passes_match_the_swap_loop():
    """The NumPy passes give the swap loop's permutation for any offsets, the extremes
    (no swap, always the last, always the next) included."""
    from zeroin._torch_rng import _fisher_yates
    rng = np.random.default_rng(0)
    cases = [rng.integers(0, np.arange(n, 1, -1)) for n in (2, 3, 4, 9, 64, 1000, 4097)
             for _ in range(5)]
    for n in (2, 3, 10, 600):
        cases += [np.zeros(n - 1, np.int64), np.arange(n - 1, 0, -1),
                  (np.arange(n - 1) < n - 2).astype(np.int64)]
    for z in cases:
        n = len(z) + 1
        r = list(range(n))
        for i, k in enumerate(z.tolist()):
            r[i], r[i + k] = r[i + k], r[i]
        np.testing.assert_array_equal(_fisher_yates(np.asarray(z, np.int64), n), r)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(27,), (5, 27)])
def test_multinomial(torch, dt, shape):
    g, tg = _pair(torch, 2147483647)
    p = np.random.default_rng(0).random(shape).astype(dt)
    p[..., 3] = 0                                          # a category never drawn
    for k, replacement in [(1, True), (1, False), (5, True), (5, False), (26, False),
                           (27, False), (40, True)]:
        _same(zeroin.multinomial(zeroin.tensor(p), k, replacement, generator=g),
              torch.multinomial(torch.from_numpy(p), k, replacement, generator=tg))


@pytest.mark.parametrize("dt", DTYPES)
def test_bernoulli(torch, dt):
    g, tg = _pair(torch, 6)
    p = np.random.default_rng(1).random((4, 7)).astype(dt)
    zp, tp = zeroin.tensor(p), torch.from_numpy(p)
    _same(zeroin.bernoulli(zp, generator=g), torch.bernoulli(tp, generator=tg))
    _same(zeroin.bernoulli(zp, 0.3, generator=g), torch.bernoulli(tp, 0.3, generator=tg))
    x, tx = zeroin.zeros(4, 7, dtype=getattr(zeroin, dt)), torch.zeros(4, 7, dtype=tp.dtype)
    _same(x.bernoulli_(0.37, generator=g), tx.bernoulli_(0.37, generator=tg))
    _same(x.bernoulli_(zp, generator=g), tx.bernoulli_(tp, generator=tg))


@pytest.mark.parametrize("dt", DTYPES)
def test_normal_forms_and_fills(torch, dt):
    g, tg = _pair(torch, 4)
    zd, td = getattr(zeroin, dt), getattr(torch, dt)
    for n in (5, 40):
        m, s = np.linspace(-1, 2, n).astype(dt), np.linspace(0.1, 3, n).astype(dt)
        zm, zs, tm, ts = zeroin.tensor(m), zeroin.tensor(s), torch.from_numpy(m), \
            torch.from_numpy(s)
        _same(zeroin.normal(zm, zs, generator=g), torch.normal(tm, ts, generator=tg))
        _same(zeroin.normal(zm, 0.7, generator=g), torch.normal(tm, 0.7, generator=tg))
        _same(zeroin.normal(0.3, zs, generator=g), torch.normal(0.3, ts, generator=tg))
        x, tx = zeroin.zeros(n, dtype=zd), torch.zeros(n, dtype=td)
        _same(x.normal_(0.7, 2.3, generator=g), tx.normal_(0.7, 2.3, generator=tg))
        _same(x.uniform_(-0.3, 0.9, generator=g), tx.uniform_(-0.3, 0.9, generator=tg))
        _same(x.exponential_(1.5, generator=g), tx.exponential_(1.5, generator=tg))


def test_interleaved_calls_carry_the_state(torch):
    """One generator through every op in turn, odd sizes leaving a cached normal."""
    g, tg = _pair(torch, 2147483647)
    p = np.random.default_rng(2).random((3, 9)).astype(np.float32)
    for _ in range(3):
        _same(zeroin.randn(3, generator=g, dtype=zeroin.float32),
              torch.randn(3, generator=tg))
        _same(zeroin.rand(7, generator=g, dtype=zeroin.float64),
              torch.rand(7, generator=tg, dtype=torch.float64))
        _same(zeroin.randn(1, generator=g, dtype=zeroin.float64),
              torch.randn(1, generator=tg, dtype=torch.float64))     # the cached sine
        _same(zeroin.randn(17, generator=g, dtype=zeroin.float32),
              torch.randn(17, generator=tg))
        _same(zeroin.randint(0, 27, (4,), generator=g), torch.randint(0, 27, (4,), generator=tg))
        _same(zeroin.multinomial(zeroin.tensor(p), 2, generator=g),
              torch.multinomial(torch.from_numpy(p), 2, generator=tg))
        _same(zeroin.randperm(6, generator=g), torch.randperm(6, generator=tg))


def test_generator_follows_the_global_switch(torch):
    """After use_torch_stream(True) a lecture's own line, Generator().manual_seed(s), is on
    the torch stream (the code runs unchanged); stream= still chooses; switched back, new
    generators are NumPy's again."""
    zr.use_torch_stream(True)
    try:
        g = zeroin.Generator().manual_seed(2147483647)
        assert g.stream == "torch"
        _same(zeroin.randn(20, generator=g, dtype=zeroin.float32),
              torch.randn(20, generator=torch.Generator().manual_seed(2147483647)))
        assert zeroin.Generator(stream="numpy").stream == "numpy"
    finally:
        zr.use_torch_stream(False)
    g = zeroin.Generator().manual_seed(5)
    assert g.stream == "numpy"
    np.testing.assert_array_equal(zeroin.rand(4, generator=g).numpy(),
                                  np.random.Generator(np.random.PCG64(5)).random(4))


@pytest.mark.parametrize("dt", DTYPES)
def test_dropout(torch, dt):
    """F.dropout / nn.Dropout in training: bernoulli_(1 - p) / (1 - p), forward and grad."""
    x = np.random.default_rng(0).standard_normal((7, 33)).astype(dt)
    zr.use_torch_stream(True)
    try:
        zeroin.manual_seed(11)
        torch.manual_seed(11)
        for p in (0.1, 0.5, 0.77):
            zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
            zy = zeroin.nn.functional.dropout(zx, p, training=True)
            ty = torch.nn.functional.dropout(tx, p, training=True)
            _same(zy.detach(), ty.detach())
            (zy * zy).sum().backward()
            (ty * ty).sum().backward()
            _same(zx.grad, tx.grad)
            _same(zeroin.nn.Dropout(p)(zeroin.tensor(x)).detach(),
                  torch.nn.Dropout(p)(torch.from_numpy(x)).detach())
        # a permuted tensor: PyTorch's empty_like keeps its strides, bernoulli_ draws in memory
        # order (batch-first nn.MultiheadAttention's output, dropout1 of TransformerEncoderLayer)
        for perm in ((1, 0, 2), (2, 0, 1)):
            zeroin.manual_seed(4)
            torch.manual_seed(4)
            _same(zeroin.nn.functional.dropout(zeroin.tensor(x.reshape(7, 3, 11)).permute(*perm),
                                               0.3),
                  torch.nn.functional.dropout(torch.tensor(x.reshape(7, 3, 11)).permute(*perm),
                                              0.3))
    finally:
        zr.use_torch_stream(False)
    g = zeroin.Generator(stream="torch")
    with pytest.raises(NotImplementedError, match="dropout of a non-contiguous .* gaps"):
        zeroin.nn.functional.dropout(zeroin.ones(4, 6)[:, ::2], 0.5, rng=g)


def test_fma32_paths_agree():
    """uniform_(-3, 7)'s sums (a fifth of them exact float32 midpoints) through the
    all-elements path and, in chunks of 20, through the gathered one: the same values."""
    x = TorchStream(0).unit(4000, np.float32)
    b, c = np.float32(10), np.float32(-3)
    whole = _fma32(x, b, c)
    chunks = np.concatenate([_fma32(x[i:i + 20], b, c) for i in range(0, 4000, 20)])
    np.testing.assert_array_equal(whole, chunks)
    s = x.astype(np.float64) * 10 - 3
    assert ((s.view(np.int64) & 0x1FFFFFFF) == 0x10000000).mean() > 0.1


_FEATURE_CASES = [("dropout1d", (4, 6, 5)), ("dropout1d", (6, 5)), ("dropout2d", (3, 5, 4, 4)),
                  ("dropout2d", (5, 4, 4)), ("dropout3d", (2, 3, 2, 2, 2)),
                  ("dropout3d", (3, 2, 2, 2)), ("alpha_dropout", (7, 33)),
                  ("feature_alpha_dropout", (4, 6, 3))]


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input")
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name,shape", _FEATURE_CASES)
def test_feature_and_alpha_dropout(shared_torch, dt, name, shape):
    """dropout1d/2d/3d (one bernoulli_ per channel of a fresh (N, C, 1, ...) tensor, the
    unbatched forms as a batch of one), alpha_dropout and feature_alpha_dropout (noise,
    b = (noise - 1) * alpha a + alpha a p, x * noise * a + b, each step in the dtype):
    PyTorch's values and gradients; p = 1 draws nothing."""
    torch = shared_torch
    x = np.random.default_rng(0).standard_normal(shape).astype(dt)
    kw = {"training": True} if "alpha" in name else {}
    _seed_both(torch, 3)
    for p in (0.2, 0.5, 0.9, 1.0):
        zx, tx = zeroin.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        zy = getattr(zeroin.nn.functional, name)(zx, p, **kw)
        ty = getattr(torch.nn.functional, name)(tx, p, **kw)
        _same(zy.detach(), ty.detach())
        (zy * zy).sum().backward()
        (ty * ty).sum().backward()
        _same(zx.grad, tx.grad)
        _same_next_draws(torch)


def test_feature_dropout_modules_and_toplevel(shared_torch):
    torch = shared_torch
    x = np.random.default_rng(1).standard_normal((4, 5, 3, 3)).astype(np.float32)
    _seed_both(torch, 5)
    _same(zeroin.feature_dropout(zeroin.tensor(x), 0.4, True),
          torch.feature_dropout(torch.from_numpy(x), 0.4, True))
    for cls, arr in [("Dropout2d", x), ("Dropout3d", x[:, :, None]), ("Dropout1d", x[..., 0]),
                     ("AlphaDropout", x), ("FeatureAlphaDropout", x)]:
        _same(getattr(zeroin.nn, cls)(0.3)(zeroin.tensor(arr)).detach(),
              getattr(torch.nn, cls)(0.3)(torch.from_numpy(arr)).detach())
    _same_next_draws(torch)
    _same(zeroin.nn.functional.alpha_dropout(zeroin.tensor(x).permute(0, 2, 3, 1), 0.5, True),
          torch.nn.functional.alpha_dropout(torch.from_numpy(x).permute(0, 2, 3, 1), 0.5, True))
    with pytest.raises(NotImplementedError, match="alpha_dropout of a non-contiguous"):
        zeroin.nn.functional.alpha_dropout(zeroin.ones(4, 6)[:, ::2], 0.5, training=True)
    with pytest.raises(NotImplementedError, match="dropout2d of a float16"):
        zeroin.nn.functional.dropout2d(zeroin.ones(2, 3, 4, 4, dtype=zeroin.float16), 0.5)


def _bigram_counts():
    """A hand-made 27 x 27 count table ('.' is 0), mostly sparse like real bigrams."""
    i, j = np.meshgrid(np.arange(27), np.arange(27), indexing="ij")
    counts = ((i * 7 + j * 3) % 11) * ((i + 2 * j) % 4 == 0) + 3 * (j == 0) + (i == j)
    return counts.astype(np.float32)


def test_makemore_bigram_sampling(torch):
    """makemore's loop: torch.multinomial(p, 1, replacement=True, generator=g).item()."""
    counts = _bigram_counts()
    names = {}
    for lib, make in (("zeroin", lambda: zeroin.Generator(stream="torch")),
                      ("torch", torch.Generator)):
        mod = zeroin if lib == "zeroin" else torch
        g = make().manual_seed(2147483647)
        P = mod.tensor(counts + 1)
        P = P / P.sum(1, keepdim=True)
        out = []
        for _ in range(20):
            ix, name = 0, []
            while True:
                ix = mod.multinomial(P[ix], num_samples=1, replacement=True,
                                     generator=g).item()
                name.append(ix)
                if ix == 0:
                    break
            out.append(name)
        names[lib] = out
    assert names["zeroin"] == names["torch"]
    assert sum(map(len, names["torch"])) > 40      # the loop really sampled


def test_global_switch_and_init(torch):
    zr.use_torch_stream(True)
    old = zeroin.get_default_dtype()
    try:
        zeroin.set_default_dtype(zeroin.float32)
        assert zr.torch_stream_enabled()
        zeroin.manual_seed(42)
        torch.manual_seed(42)
        _same(zeroin.randn(20), torch.randn(20))
        lin, tlin = zeroin.nn.Linear(5, 3), torch.nn.Linear(5, 3)     # kaiming_uniform_
        _same(lin.weight.detach(), tlin.weight.detach())
        _same(lin.bias.detach(), tlin.bias.detach())
        _same(zeroin.randint(0, 100, (8,)), torch.randint(0, 100, (8,)))
        w, tw = zeroin.empty(4, 6), torch.empty(4, 6)
        zeroin.nn.init.xavier_normal_(w)
        torch.nn.init.xavier_normal_(tw)
        _same(w, tw)
        with pytest.raises(NotImplementedError, match="^rrelu: not available on the "):
            zeroin.nn.functional.rrelu(zeroin.ones(1, 2, 3, 3), training=True)
    finally:
        zr.use_torch_stream(False)
        zeroin.set_default_dtype(old)
    assert not zr.torch_stream_enabled()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gumbel_softmax_on_torch_stream(torch, dtype):
    """F.gumbel_softmax draws PyTorch's noise (-exponential_().log()): the same soft sample
    to softmax's rounding, the same one-hot (straight-through) sample, the same gradient,
    and the stream goes on in step."""
    zr.use_torch_stream(True)
    try:
        _gumbel_softmax_pairs(torch, dtype)
    finally:
        zr.use_torch_stream(False)


def _gumbel_softmax_pairs(torch, dtype):
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-13, "atol": 1e-15}
    x = np.random.default_rng(0).standard_normal((3, 5, 6)).astype(dtype)
    w = np.random.default_rng(1).standard_normal((3, 5, 6)).astype(dtype)
    for tau, hard, dim in ((1.0, False, -1), (0.7, True, 1), (0.5, True, -1)):
        res = {}
        for lib in (zeroin, torch):
            lib.manual_seed(3)
            logits = lib.tensor(x, requires_grad=True)
            y = lib.nn.functional.gumbel_softmax(logits, tau=tau, hard=hard, dim=dim)
            (y * lib.tensor(w)).sum().backward()
            res[lib] = y.detach().numpy(), logits.grad.numpy()
            res[lib, "next"] = lib.rand(3, dtype=lib.float32)
        np.testing.assert_allclose(res[zeroin][0], res[torch][0], **tol)
        np.testing.assert_allclose(res[zeroin][1], res[torch][1], **tol)
        if hard:
            _same(res[zeroin][0], res[torch][0])
        _same(res[zeroin, "next"], res[torch, "next"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(64, 4), (4, 64), (1, 64), (16, 16), (8, 2, 3)])
def test_orthogonal_init_on_torch_stream(torch, dtype, shape):
    """init.orthogonal_ (CleanRL's layer_init) draws PyTorch's normal_ numbers and takes
    their QR in the tensor's dtype, so the weights are torch's to LAPACK's rounding (NumPy's
    and torch's QR differ in the last bits), and the stream goes on in step."""
    g, tg = _pair(torch, 7)
    w = zeroin.empty(*shape, dtype=getattr(zeroin, dtype))
    tw = torch.empty(*shape, dtype=getattr(torch, dtype))
    zeroin.nn.init.orthogonal_(w, gain=2 ** 0.5, generator=g)
    torch.nn.init.orthogonal_(tw, gain=2 ** 0.5, generator=tg)
    assert w.dtype == getattr(zeroin, dtype)
    tol = 1e-13 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=0, atol=tol)
    _same(zeroin.randn(5, generator=g, dtype=w.dtype), torch.randn(5, generator=tg, dtype=tw.dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", [{"std": 0.02}, {}, {"a": 0.5, "b": 3.0},   # normal_ rounds
                                {"mean": 0.3, "std": 2.0, "a": -0.1, "b": 0.4},
                                {"a": 1.0, "b": 3.0}])                      # uniform_ rounds
@pytest.mark.parametrize("shape", [(3, 4), (40, 37)])
def test_trunc_normal_init_on_torch_stream(torch, dtype, kw, shape):
    """init.trunc_normal_ (a [CLS] token's or a ViT's weights) gives torch's numbers: the
    normal_ draws redrawn whole until none is outside [a, b], or, where [a, b] holds 30% of
    the mass or less, torch's uniform_ proposals and accept draws; the stream goes on in
    step."""
    g, tg = _pair(torch, 8)
    w = zeroin.empty(*shape, dtype=getattr(zeroin, dtype))
    tw = torch.empty(*shape, dtype=getattr(torch, dtype))
    assert zeroin.nn.init.trunc_normal_(w, generator=g, **kw) is w
    torch.nn.init.trunc_normal_(tw, generator=tg, **kw)
    _same(w, tw)
    _same(zeroin.randn(5, generator=g, dtype=w.dtype), torch.randn(5, generator=tg, dtype=tw.dtype))

def test_default_stream_unchanged():
    """The default stream is still NumPy's PCG64 seeded with the seed itself."""
    zeroin.manual_seed(0)
    want = np.random.Generator(np.random.PCG64(0)).random(3)
    np.testing.assert_array_equal(zeroin.rand(3, dtype=zeroin.float64).numpy(), want)
    g = zeroin.Generator().manual_seed(5)
    assert g.stream == "numpy"
    np.testing.assert_array_equal(zeroin.randn(4, generator=g, dtype=zeroin.float64).numpy(),
                                  np.random.Generator(np.random.PCG64(5)).standard_normal(4))


def test_state_round_trip():
    g = zeroin.Generator(stream="torch").manual_seed(7)
    zeroin.randn(3, generator=g)                          # leaves a cached normal
    state = g.get_state()
    assert state["torch"]["normal_cache"] is not None and state["initial_seed"] == 7
    a = [zeroin.randn(5, generator=g).numpy(), zeroin.randint(0, 9, (4,), generator=g).numpy()]
    g.manual_seed(1)
    g.set_state(state)
    b = [zeroin.randn(5, generator=g).numpy(), zeroin.randint(0, 9, (4,), generator=g).numpy()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert g.initial_seed() == 7
    with pytest.raises(TypeError, match="torch stream, this one is on the numpy"):
        zeroin.Generator().set_state(state)
    with pytest.raises(TypeError, match="numpy stream, this one is on the torch"):
        g.set_state(zeroin.Generator().get_state())


def test_shared_state_round_trip_on_torch_stream():
    zr.use_torch_stream(True)
    try:
        zeroin.manual_seed(3)
        zeroin.randn(1)
        state = zeroin.get_rng_state()
        a = zeroin.rand(6).numpy()
        zeroin.set_rng_state(state)
        np.testing.assert_array_equal(zeroin.rand(6).numpy(), a)
        with zeroin.random.fork_rng():
            zeroin.rand(100)
        b = zeroin.rand(2).numpy()
        zeroin.set_rng_state(state)
        zeroin.rand(6)
        np.testing.assert_array_equal(zeroin.rand(2).numpy(), b)
    finally:
        zr.use_torch_stream(False)


def test_refusals_name_the_op():
    g = zeroin.Generator(stream="torch")
    with pytest.raises(NotImplementedError, match=r"randn\(dtype=complex128\): not available"):
        zeroin.randn(3, generator=g, dtype=zeroin.complex128)
    with pytest.raises(NotImplementedError, match="float16"):
        zeroin.rand(3, generator=g, dtype=zeroin.float16)
    with pytest.raises(NotImplementedError, match="log_normal_"):
        zeroin.zeros(3).log_normal_(generator=g)
    with pytest.raises(NotImplementedError, match="non-contiguous"):
        zeroin.zeros(4, 5).t().normal_(generator=g)
    with pytest.raises(NotImplementedError, match="poisson"):
        zeroin.poisson(zeroin.ones(3), generator=g)
    with pytest.raises(NotImplementedError, match="normal_ of a float16"):
        zeroin.nn.init.trunc_normal_(zeroin.empty(3, 3, dtype=zeroin.float16), generator=g)
    with pytest.raises(ValueError, match="stream must be 'numpy'"):
        zeroin.Generator(stream="mt19937")
    with pytest.raises(TypeError, match="True or False"):
        zr.use_torch_stream("yes")


def test_seeding_matches_mt19937_init_genrand():
    """The stream's first word is std::mt19937's (C++ spec: 10000th output of seed 5489 is
    4123659995); torch keeps the seed's low 32 bits."""
    s = TorchStream(5489)
    assert int(s.u32(10000)[-1]) == 4123659995
    a, b = TorchStream(2 ** 32 + 5), TorchStream(5)
    np.testing.assert_array_equal(a.u32(700), b.u32(700))
    from zeroin._torch_rng import _mt_key           # NumPy's legacy seeding is the same
    for seed in (0, 1, 5489, 2 ** 32 - 1, 2 ** 40 + 3):
        state = TorchStream(seed).get_state()
        np.testing.assert_array_equal(state["key"], _mt_key(seed))
        assert state["pos"] == 624


def test_exact_fma_helpers():
    """The emulated fma rounds once: checked against exact rational arithmetic."""
    from fractions import Fraction
    rng = np.random.default_rng(3)
    a, b, c = rng.standard_normal((3, 2000))
    got64 = _fma64(a, b, c)
    got32 = _fma32(a.astype(np.float32), b.astype(np.float32), c.astype(np.float32))
    for i in range(0, 2000, 7):
        exact = Fraction(a[i]) * Fraction(b[i]) + Fraction(c[i])
        assert got64[i] == float(exact)               # float(Fraction) rounds correctly
        e32 = Fraction(float(np.float32(a[i]))) * Fraction(float(np.float32(b[i]))) + \
            Fraction(float(np.float32(c[i])))
        # round-to-nearest float32 of the exact value: the float32 neighbours of it
        f = np.float32(float(e32))
        lo, hi = (np.nextafter(f, np.float32(-np.inf)), f) if Fraction(float(f)) > e32 \
            else (f, np.nextafter(f, np.float32(np.inf)))
        best = min((lo, hi), key=lambda v: (abs(Fraction(float(v)) - e32),
                                            int(np.float32(v).view(np.int32)) & 1))
        assert got32[i] == best


def test_fma32_where_the_float64_sum_lands_on_a_float32_midpoint():
    """a * b + c whose float64 sum is a tie of two float32 values while the exact sum is
    not: the fast path must round those (and float32 subnormals) from the exact sum."""
    t = 2.0 ** -24
    a = np.array([t * (1 + 2 ** -18), -t * (1 + 2 ** -18), t * (1 + 2 ** -18), 2.0 ** -130,
                  3.0], np.float32)
    b = np.array([1 - 2 ** -18, 1 - 2 ** -18, -(1 - 2 ** -18), 0.75, 0.5], np.float32)
    c = np.array([1 + 2 ** -23, -(1 + 2 ** -23), 1.0, 2.0 ** -149, 0.25], np.float32)
    want = np.array([1 + 2 ** -23, -(1 + 2 ** -23), 1 - 2 ** -24, 0.75 * 2.0 ** -130 +
                     2.0 ** -149, 1.75], np.float32)
    naive = (a.astype(np.float64) * b + c).astype(np.float32)
    assert (naive[:2] != want[:2]).all()            # rounding twice goes wrong here
    np.testing.assert_array_equal(_fma32(a, b, c), want)


@pytest.mark.parametrize("dt", DTYPES)
def test_embedding_init_on_the_stream(torch, dt):
    """nn.Embedding / EmbeddingBag draw init.normal_ as PyTorch's reset_parameters (they
    refused the torch stream before): the GPT lecture's `torch.manual_seed(1337)` then
    `nn.Embedding(65, 65)` gives the video's table."""
    zr.use_torch_stream(True)
    old, told = zeroin.get_default_dtype(), torch.get_default_dtype()
    try:
        zeroin.set_default_dtype(getattr(zeroin, dt))
        torch.set_default_dtype(getattr(torch, dt))
        zeroin.manual_seed(1337)
        torch.manual_seed(1337)
        for args in ((65, 65), (7, 3, 2)):
            _same(zeroin.nn.Embedding(*args).weight.detach(),
                  torch.nn.Embedding(*args).weight.detach())
        _same(zeroin.nn.EmbeddingBag(6, 4).weight.detach(),
              torch.nn.EmbeddingBag(6, 4).weight.detach())
        _same(zeroin.randn(3), torch.randn(3))           # the same number of draws used
    finally:
        zr.use_torch_stream(False)
        zeroin.set_default_dtype(old)
        torch.set_default_dtype(told)


# --- data shuffling: DataLoader, samplers, random_split (torch.utils.data's draws) -------------

@pytest.fixture
def shared_torch(torch):
    """The shared generator on the torch stream for one test."""
    zr.use_torch_stream(True)
    yield torch
    zr.use_torch_stream(False)


def _seed_both(torch, seed):
    zeroin.manual_seed(seed)
    torch.manual_seed(seed)


def _same_next_draws(torch):
    """The shared streams are in the same state (the next draws agree)."""
    _same(zeroin.rand(3, dtype=zeroin.float32), torch.rand(3))


@pytest.mark.parametrize("dt", ["int64", "int32", "int16", "int8", "uint8", "bool",
                                "float32", "float64"])
def test_random_(torch, dt):
    """random_() (uniform_int: a word modulo the top + 1), random_(to), random_(from, to),
    random_(from, None) and int64's full range."""
    g, tg = _pair(torch, 3)
    x = zeroin.zeros(2, 9, dtype=getattr(zeroin, dt))
    tx = torch.zeros(2, 9, dtype=getattr(torch, dt))
    _same(x.random_(generator=g), tx.random_(generator=tg))
    if dt != "bool":
        _same(x.random_(5, generator=g), tx.random_(5, generator=tg))
        _same(x.random_(2, 100, generator=g), tx.random_(2, 100, generator=tg))
        _same(x.random_(0, None, generator=g), tx.random_(0, None, generator=tg))
    if dt == "int64":
        _same(x.random_(-2 ** 63, None, generator=g), tx.random_(-2 ** 63, None, generator=tg))
        _same(x.random_(-7, 2 ** 40, generator=g), tx.random_(-7, 2 ** 40, generator=tg))
    with pytest.raises(NotImplementedError, match="random_ of a non-contiguous"):
        zeroin.zeros(3, 4, dtype=zeroin.int64).t().random_(generator=g)


def _loaders(torch, n, bs, drop_last, seed, given):
    x = np.arange(n, dtype=np.float32)
    _seed_both(torch, seed)
    zg = zeroin.Generator().manual_seed(seed + 1) if given else None
    tg = torch.Generator().manual_seed(seed + 1) if given else None
    zl = zeroin.utils.data.DataLoader(zeroin.utils.data.TensorDataset(x), batch_size=bs,
                                      shuffle=True, drop_last=drop_last, generator=zg)
    tl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x)),
                                     batch_size=bs, shuffle=True, drop_last=drop_last,
                                     generator=tg)
    return zl, tl


@pytest.mark.parametrize("n", [1, 7, 60, 1000, 60001])
@pytest.mark.parametrize("given", [False, True])
def test_dataloader_shuffle_batches(shared_torch, n, given):
    """The same batches in the same order, two epochs in a row, with and without a
    generator; afterwards the shared streams agree (the iterator's base seed drawn too)."""
    torch = shared_torch
    for seed, bs, drop_last in [(0, 32, False), (42, 5, True), (2 ** 40 + 3, 1, False)]:
        zl, tl = _loaders(torch, n, bs, drop_last, seed, given)
        for _ in range(2):
            assert [b[0].numpy().tolist() for b in zl] == [b[0].tolist() for b in tl]
        _same_next_draws(torch)


def test_dataloader_iterators_made_and_dropped(shared_torch):
    """Each iter() draws a base seed at once and the sampler's seed at the first batch:
    iterators dropped before or after their first batch move the stream as PyTorch's."""
    torch = shared_torch
    zl, tl = _loaders(torch, 50, 8, False, 7, False)
    iter(zl), iter(tl)                                      # made, never started
    next(iter(zl)), next(iter(tl))                          # one batch, then dropped
    zi, ti = iter(zl), iter(tl)
    zeroin.randn(4), torch.randn(4)                         # a draw between iter and next
    assert [b[0].numpy().tolist() for b in zi] == [b[0].tolist() for b in ti]
    _same_next_draws(torch)
    for shuffle in (False, True):                           # no shuffle: the base seed only
        x = np.zeros((6, 2), np.float32)
        zb = list(zeroin.utils.data.DataLoader(x, batch_size=4, shuffle=shuffle))
        tb = list(torch.utils.data.DataLoader(torch.from_numpy(x), batch_size=4,
                                              shuffle=shuffle))
        assert len(zb) == len(tb) == 2
        _same_next_draws(torch)


@pytest.mark.parametrize("given", [False, True])
def test_random_sampler(shared_torch, given):
    torch = shared_torch
    tud = torch.utils.data
    _seed_both(torch, 11)
    zg = zeroin.Generator().manual_seed(5) if given else None
    tg = torch.Generator().manual_seed(5) if given else None
    for n, kw in [(7, {}), (60, dict(replacement=True)), (60, dict(num_samples=150)),
                  (60, dict(num_samples=120)), (60, dict(num_samples=7)),
                  (2 ** 28 + 5, dict(replacement=True, num_samples=70)),
                  (1000, dict(replacement=True, num_samples=64))]:
        z = zeroin.utils.data.RandomSampler(range(n), generator=zg, **kw)
        t = tud.RandomSampler(range(n), generator=tg, **kw)
        for _ in range(2):
            assert list(z) == list(t)
    _same_next_draws(torch)


def test_subset_and_weighted_samplers(shared_torch):
    torch = shared_torch
    tud, zud = torch.utils.data, zeroin.utils.data
    _seed_both(torch, 3)
    idx = [5, 9, 2, 40, 41, 17, 8]
    w = np.random.default_rng(0).random(30)
    w[4] = 0
    for gen in (None, 1):
        zg = None if gen is None else zeroin.Generator().manual_seed(gen)
        tg = None if gen is None else torch.Generator().manual_seed(gen)
        z, t = zud.SubsetRandomSampler(idx, generator=zg), tud.SubsetRandomSampler(idx, tg)
        assert list(z) == list(t) and list(z) == list(t)
        for k, rep in [(1, True), (10, True), (100, True), (1, False), (29, False)]:
            z = zud.WeightedRandomSampler(w.tolist(), k, rep, generator=zg)
            t = tud.WeightedRandomSampler(w.tolist(), k, rep, generator=tg)
            assert list(z) == list(t)
    _same_next_draws(torch)


def test_random_split(shared_torch):
    torch = shared_torch
    _seed_both(torch, 0)
    g, tg = zeroin.Generator().manual_seed(42), torch.Generator().manual_seed(42)
    for n, lengths in [(10, [3, 7]), (30, [0.3, 0.3, 0.4]), (1000, [0.8, 0.2]),
                       (60001, [50000, 10001]), (7, [0.5, 0.5])]:
        for zgen, tgen in ((None, None), (g, tg)):
            z = zeroin.utils.data.random_split(range(n), lengths, generator=zgen)
            t = torch.utils.data.random_split(range(n), lengths, generator=tgen)
            assert [list(map(int, s.indices)) for s in z] == [list(s.indices) for s in t]
    _same_next_draws(torch)


def test_shuffling_follows_the_generator_given():
    """A NumPy-stream generator (or int seed) given to a loader keeps NumPy's draws on the
    torch stream, and the shared torch stream is untouched by the sampler's order."""
    zr.use_torch_stream(True)
    try:
        x = np.arange(20.0)
        a = [b[0].numpy().tolist() for b in zeroin.utils.data.DataLoader(
            x[:, None], batch_size=20, shuffle=True,
            generator=zeroin.Generator(stream="numpy").manual_seed(3))]
    finally:
        zr.use_torch_stream(False)
    b = [b[0].numpy().tolist() for b in zeroin.utils.data.DataLoader(
        x[:, None], batch_size=20, shuffle=True, generator=zeroin.Generator().manual_seed(3))]
    assert a == b


def test_mlp_two_epochs_same_losses(shared_torch):
    """A small MLP, 2 epochs of DataLoader(shuffle=True, batch_size=32) on 200 samples,
    PyTorch's weights copied in: every step's loss agrees with torch's to float32."""
    torch = shared_torch
    from tests._audit import copy_weights
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 1)) + 0.1 * rng.standard_normal((200, 1))).astype(
        np.float32)
    tm = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    zm = zeroin.nn.Sequential(zeroin.nn.Linear(5, 16, dtype=zeroin.float32), zeroin.nn.Tanh(),
                              zeroin.nn.Linear(16, 1, dtype=zeroin.float32))
    copy_weights(tm, zm)
    losses = []
    for lib, model, data in [(torch, tm, (torch.from_numpy(x), torch.from_numpy(y))),
                             (zeroin, zm, (zeroin.tensor(x), zeroin.tensor(y)))]:
        lib.manual_seed(0)
        loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(*data),
                                           batch_size=32, shuffle=True)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        out = []
        for _ in range(2):
            for xb, yb in loader:
                loss = lib.nn.functional.mse_loss(model(xb), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                out.append(loss.item())
        losses.append(out)
    assert len(losses[0]) == 14
    np.testing.assert_allclose(losses[1], losses[0], rtol=2e-6, atol=1e-7)
    # the order matters: the same run with another shuffle gives other losses
    assert not np.allclose(losses[0][7:], losses[0][:7])


def test_the_flips_grayscale_and_solarize_draw_torchs_float32_rand_whatever_the_default(torch):
    """torchvision's ``torch.rand(1) < p`` is a float32 draw under torch's default dtype;
    zeroin's default is float64, and its transforms still draw torch's float32 numbers."""
    from zeroin.vision import transforms as T
    img = zeroin.tensor(np.arange(48, dtype=np.float32).reshape(3, 4, 4))
    zr.use_torch_stream(True)
    try:
        for t, done in ((T.RandomHorizontalFlip(0.5), lambda o: bool((o != img.numpy()).any())),
                        (T.RandomVerticalFlip(0.5), lambda o: bool((o != img.numpy()).any())),
                        (T.RandomGrayscale(0.5), lambda o: bool((o[0] == o[1]).all())),
                        (T.RandomSolarize(0.5, 0.5), lambda o: bool((o < 0).any()))):
            assert zeroin.get_default_dtype() == zeroin.float64
            zeroin.manual_seed(3)
            got = [done(t(img).numpy()) for _ in range(16)]
            torch.manual_seed(3)
            want = [bool(torch.rand(1) < 0.5) for _ in range(16)]
            assert got == want and 0 < sum(got) < 16, type(t).__name__
    finally:
        zr.use_torch_stream(False)


# --- torchvision's random transforms: its documented call sequence, run on torch ----------

def _tv_resized_crop(torch, height, width, scale, ratio, erase=False):
    """torchvision's RandomResizedCrop.get_params (RandomErasing's box when ``erase``: h
    and w swapped, strictly inside, and no fallback), on torch's generator."""
    import math
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if erase:
            h, w = w, h
        if (h < height and w < width) if erase else (0 < w <= width and 0 < h <= height):
            v = torch.empty([3, h, w], dtype=torch.float32).normal_() if erase else None
            i = torch.randint(0, height - h + 1, size=(1,)).item()
            j = torch.randint(0, width - w + 1, size=(1,)).item()
            return (i, j, h, w) if v is None else (i, j, h, w, v)
    if erase:
        return None
    in_ratio = width / height
    if in_ratio < min(ratio):
        w, h = width, int(round(width / min(ratio)))
    elif in_ratio > max(ratio):
        h, w = height, int(round(height * max(ratio)))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def test_random_resized_crop_and_erasing_boxes(shared_torch):
    """RandomResizedCrop's and RandomErasing's boxes from torchvision's draws (uniform_ of
    the scale, of the log ratio, randint of the corner; erasing's normal_ values), the
    fallback central crop included; the streams stay in step."""
    torch = shared_torch
    from zeroin.vision import transforms as T
    cases = [((32, 32), (0.08, 1.0), (3 / 4, 4 / 3)), ((224, 300), (0.5, 1.0), (0.3, 3.3)),
             ((7, 50), (0.08, 1.0), (3 / 4, 4 / 3)), ((20, 20), (0.9, 1.0), (5.0, 6.0))]
    for seed in range(12):
        _seed_both(torch, seed)
        for (h, w), scale, ratio in cases:
            img = zeroin.zeros(3, h, w, dtype=zeroin.float32)
            for _ in range(8):
                assert T.RandomResizedCrop.get_params(img, scale, ratio) == \
                    _tv_resized_crop(torch, h, w, scale, ratio)
                got = T.RandomErasing.get_params(img, (0.02, 0.33), (0.3, 3.3), None)
                want = _tv_resized_crop(torch, h, w, (0.02, 0.33), (0.3, 3.3), erase=True)
                if want is None:
                    assert got[:4] == (0, 0, h, w)
                else:
                    assert got[:4] == want[:4]
                    _same(got[4], want[4])
        _same_next_draws(torch)
    _seed_both(torch, 1)
    out = T.RandomResizedCrop(8)(zeroin.ones(3, 40, 30, dtype=zeroin.float32))
    assert out.shape == (3, 8, 8)
    assert T.RandomResizedCrop.get_params(out, (0.08, 1.0), (3 / 4, 4 / 3)) is not None
    torch.manual_seed(1)
    _tv_resized_crop(torch, 40, 30, (0.08, 1.0), (3 / 4, 4 / 3))
    _tv_resized_crop(torch, 8, 8, (0.08, 1.0), (3 / 4, 4 / 3))
    _same_next_draws(torch)


def test_rotation_blur_apply_jitter_trivialaugment_draws(shared_torch):
    """RandomRotation's angle and GaussianBlur's sigma (float32 uniform_), RandomApply's
    p < torch.rand(1), RandomErasing's torch.rand(1) < p, ColorJitter's randperm(4) and
    factors, TrivialAugmentWide's randint draws of op, magnitude bin and sign."""
    torch = shared_torch
    from zeroin.vision import transforms as T
    _seed_both(torch, 4)
    for _ in range(20):
        assert T.RandomRotation.get_params((-30.0, 45.0)) == \
            float(torch.empty(1).uniform_(-30.0, 45.0).item())
        assert T.GaussianBlur.get_params(0.1, 2.0) == torch.empty(1).uniform_(0.1, 2.0).item()
    img = zeroin.tensor(np.arange(48, dtype=np.float32).reshape(3, 4, 4))
    applied = [bool((T.RandomApply([T.Lambda(lambda x: x + 1)], p=0.7)(img) != img).any())
               for _ in range(30)]
    assert applied == [not bool(0.7 < torch.rand(1)) for _ in range(30)]
    assert 0 < sum(applied) < 30
    big = zeroin.tensor(np.arange(3 * 12 * 10, dtype=np.float32).reshape(3, 12, 10))
    for _ in range(30):
        got = T.RandomErasing(p=0.7, value="random")(big).numpy()
        want = big.numpy().copy()
        if torch.rand(1) < 0.7:
            box = _tv_resized_crop(torch, 12, 10, (0.02, 0.33), (0.3, 3.3), erase=True)
            if box is not None:
                i, j, h, w, v = box
                want[:, i:i + h, j:j + w] = v.numpy()
        _same(got, want)
    _same_next_draws(torch)
    cj = T.ColorJitter(0.4, 0.3, 0.2, 0.1)
    for _ in range(10):
        fn_idx, *factors = T.ColorJitter.get_params(cj.brightness, cj.contrast,
                                                    cj.saturation, cj.hue)
        _same(fn_idx, torch.randperm(4))
        assert factors == [float(torch.empty(1).uniform_(lo, hi))
                           for lo, hi in (cj.brightness, cj.contrast, cj.saturation, cj.hue)]
    ta = T.TrivialAugmentWide()
    bins = 31
    lin = lambda hi: torch.linspace(0.0, hi, bins)  # noqa: E731
    space = [("Identity", torch.tensor(0.0), False), ("ShearX", lin(0.99), True),
             ("ShearY", lin(0.99), True), ("TranslateX", lin(32.0), True),
             ("TranslateY", lin(32.0), True), ("Rotate", lin(135.0), True),
             ("Brightness", lin(0.99), True), ("Color", lin(0.99), True),
             ("Contrast", lin(0.99), True), ("Sharpness", lin(0.99), True),
             ("Posterize", 8 - (torch.arange(bins) / ((bins - 1) / 6)).round().int(), False),
             ("Solarize", torch.linspace(255.0, 0.0, bins), False),
             ("AutoContrast", torch.tensor(0.0), False), ("Equalize", torch.tensor(0.0), False)]
    for _ in range(60):
        name, mags, signed = space[int(torch.randint(len(space), (1,)).item())]
        mag = float(mags[torch.randint(len(mags), (1,), dtype=torch.long)].item()) \
            if mags.ndim > 0 else 0.0
        if signed and torch.randint(2, (1,)):
            mag *= -1.0
        got = ta.get_params()
        assert got == (name, mag)
    _same_next_draws(torch)


def test_python_random_transforms_refuse_the_torch_stream(shared_torch):
    """torchvision draws RandomChoice and RandomOrder with Python's random module: no
    torch-stream numbers to copy, so they refuse it and say why."""
    from zeroin.vision import transforms as T
    img = zeroin.ones(3, 4, 4)
    for t in (T.RandomChoice([T.Lambda(lambda x: x)]), T.RandomOrder([T.Lambda(lambda x: x)])):
        with pytest.raises(NotImplementedError, match="Python's random module"):
            t(img)


@pytest.mark.parametrize("make, name", [
    (lambda D, t: D.Gamma(t([2.0]), t([1.0])), "Gamma.rsample"),
    (lambda D, t: D.Chi2(t([3.0])), "Chi2.rsample"),
    (lambda D, t: D.Beta(t([2.0]), t([1.0])), "Beta.rsample"),
    (lambda D, t: D.Dirichlet(t([1.0, 2.0])), "Dirichlet.rsample"),
    (lambda D, t: D.Poisson(t([3.0])), "Poisson.sample"),
    (lambda D, t: D.StudentT(t(3.0)), "StudentT.rsample")])
def test_distributions_that_refuse_the_torch_stream_name_themselves(make, name):
    """The refusal named the private helper (``_draw: not available ...``); it names the
    distribution's method the user called."""
    from zeroin import distributions as D
    zr.use_torch_stream(True)
    try:
        with pytest.raises(NotImplementedError, match=rf"^{name}: not available on the torch"):
            make(D, zeroin.tensor).sample((2,))
    finally:
        zr.use_torch_stream(False)


_STREAM_DISTRIBUTIONS = [
    (lambda M, T: M.Exponential(T([0.5, 2.0])), 0),
    (lambda M, T: M.Laplace(T([0.5, -1.0]), T([2.0, 0.3])), 0),
    (lambda M, T: M.RelaxedBernoulli(T(0.7), logits=T([0.3, -1.2])), 1),
    (lambda M, T: M.RelaxedOneHotCategorical(T(0.5), logits=T([0.3, -1.2, 2.0])), 1)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("make, ulps", _STREAM_DISTRIBUTIONS)
def test_distributions_sampling_through_uniform_and_exponential_follow_torch(
        shared_torch, dt, make, ulps):
    """They drew NumPy's numbers through _draw and so refused the torch stream; now their
    uniform_/exponential_ draws are PyTorch's: the samples are torch's, to the bit where
    the transform is exact (Exponential, Laplace), to a few ulps of torch's log and
    sigmoid (the relaxed ones)."""
    torch = shared_torch
    _seed_both(torch, 7)
    z = make(zeroin.distributions, lambda v: zeroin.tensor(v, dtype=getattr(zeroin, dt)))
    t = make(torch.distributions, lambda v: torch.tensor(v, dtype=getattr(torch, dt)))
    a, b = z.rsample((5,)), t.rsample((5,))
    assert a.dtype == np.dtype(dt) and a.shape == tuple(b.shape)
    if ulps == 0:
        _same(a, b)
    else:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=8 * np.finfo(dt).eps, atol=0)
    _same_next_draws(torch)
