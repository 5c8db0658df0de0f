"""The torch stream (Generator(stream="torch"), random.use_torch_stream): PyTorch's CPU
random numbers bit for bit, checked against torch itself; the default stream unchanged."""
import platform

import numpy as np
import pytest

import zeroin
import zeroin.random as zr
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
    cap = torch.backends.cpu.get_cpu_capability()
    if platform.machine().lower() not in ("x86_64", "amd64") or cap not in ("AVX2", "AVX512"):
        pytest.skip(f"the torch stream copies torch's x86-64 AVX2 kernels; this CPU runs {cap}")
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
    for n in [0, 1, 2, 5, 100, 5000]:
        _same(zeroin.randperm(n, generator=g), torch.randperm(n, generator=tg))


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
    finally:
        zr.use_torch_stream(False)
    g = zeroin.Generator(stream="torch")
    with pytest.raises(NotImplementedError, match="dropout of a non-contiguous"):
        zeroin.nn.functional.dropout(zeroin.ones(4, 5).t(), 0.5, rng=g)


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
        with pytest.raises(NotImplementedError, match="dropout2d: not available on the torch"):
            zeroin.nn.functional.dropout2d(zeroin.ones(1, 2, 3, 3), 0.5, training=True)
    finally:
        zr.use_torch_stream(False)
        zeroin.set_default_dtype(old)
    assert not zr.torch_stream_enabled()


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
    with pytest.raises(NotImplementedError, match="orthogonal_"):
        zeroin.nn.init.orthogonal_(zeroin.empty(3, 3), generator=g)
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


def _loader_draws(lib, D):
    """Iterating loaders on the torch stream: the order of each pass and the next draw."""
    lib.manual_seed(42)
    plain = D.DataLoader(D.TensorDataset(lib.arange(6)), batch_size=4)
    it = iter(plain)                        # draws the iterator's base seed, even unused
    after_iter = lib.rand(2, dtype=lib.float64).tolist()
    first = next(it)[0].tolist()
    shuffled = D.DataLoader(D.TensorDataset(lib.arange(10)), batch_size=3, shuffle=True,
                            drop_last=True)
    passes = [[b[0].tolist() for b in shuffled] for _ in range(2)]
    g = lib.Generator().manual_seed(5)
    own = D.DataLoader(D.TensorDataset(lib.arange(10)), batch_size=4, shuffle=True, generator=g)
    own_passes = [[b[0].tolist() for b in own] for _ in range(2)]
    return after_iter, first, passes, own_passes, lib.rand(3, dtype=lib.float64).tolist()


def test_dataloader_iterators_and_shuffles_are_pytorchs(torch):
    """A DataLoader on the torch stream draws as PyTorch's: each iterator its base seed
    (random64() % 2**63, shuffled or not: before, later draws went out of step) and, with
    shuffle=True, RandomSampler's seed and randperm (before: refused), so a tutorial's
    batches and everything drawn after them are PyTorch's."""
    zr.use_torch_stream(True)
    try:
        z = _loader_draws(zeroin, zeroin.utils.data)
    finally:
        zr.use_torch_stream(False)
    assert z == _loader_draws(torch, torch.utils.data)


def _sampler_draws(lib, D):
    lib.manual_seed(7)
    g = lib.Generator().manual_seed(11)
    out = [list(D.RandomSampler(range(10), replacement=True, num_samples=40)),
           list(D.RandomSampler(range(5), num_samples=13)),
           list(D.RandomSampler(range(6), generator=g)),
           list(D.RandomSampler(range(6), generator=g)),
           [int(i) for i in D.SubsetRandomSampler([5, 6, 7, 8, 9])],
           [int(i) for i in D.SubsetRandomSampler([1, 2, 3], generator=g)]]
    for lengths, gen in (([7, 3], None), ([0.7, 0.3], lib.Generator().manual_seed(42)),
                         ([4, 4, 2], g)):
        out.append([[int(i) for i in part.indices]
                    for part in D.random_split(list(range(10)), lengths, generator=gen)])
    return out, lib.rand(2, dtype=lib.float64).tolist()


def test_samplers_and_random_split_are_pytorchs(torch):
    """RandomSampler (with and without replacement, a num_samples beyond the data, its own
    generator), SubsetRandomSampler and random_split draw PyTorch's indices on the torch
    stream (before: refused)."""
    zr.use_torch_stream(True)
    try:
        z = _sampler_draws(zeroin, zeroin.utils.data)
    finally:
        zr.use_torch_stream(False)
    assert z == _sampler_draws(torch, torch.utils.data)
