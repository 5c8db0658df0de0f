"""PyTorch's CPU random numbers, bit for bit (the ``stream="torch"`` generators).

The engine is ``at::mt19937`` seeded as ``torch.manual_seed`` seeds it (the low 32 bits of
the 64-bit seed through MT19937's ``init_genrand``); NumPy's MT19937 bit generator runs the
same recurrence, so the 32-bit words come from C in bulk. Each op then turns the words into
values as ATen does (``core/TransformationHelper.h``, ``core/DistributionsHelper.h``,
``native/cpu/DistributionTemplates.h``, ``cpu/MultinomialKernel.cpp``, ``randperm_cpu``),
checked against torch 2.13 on x86-64 (tests/test_random_torch.py). ``random64()`` is two
words, the first the high half. Ops without such a path refuse the torch stream (see
:func:`refuse`) rather than give other numbers.
"""
from __future__ import annotations

import math

import numpy as np

_MASK32 = 0xFFFFFFFF
_F32 = np.float32


def refuse(op):
    """The error for an op that has no bit-exact PyTorch path."""
    return NotImplementedError(
        f"{op}: not available on the torch stream (a Generator(stream='torch') or "
        f"zeroin.random.use_torch_stream(True)): zeroin has no bit-exact copy of PyTorch's "
        f"numbers for it. Pass a NumPy-stream generator (zeroin.Generator(stream='numpy')), "
        f"or switch the shared one back with zeroin.random.use_torch_stream(False)")


def _mt_key(seed):
    """MT19937's init_genrand of the seed's low 32 bits (at::mt19937's constructor)."""
    key = np.empty(624, np.uint32)
    x = seed & _MASK32
    for j in range(624):
        key[j] = x
        x = (1812433253 * (x ^ (x >> 30)) + j + 1) & _MASK32
    return key


class TorchStream:
    """The state of one PyTorch CPU generator: mt19937 plus the cached second normal of
    ``normal_distribution<double>`` (PyTorch's ``next_double_normal_sample``)."""

    def __init__(self, seed):
        self.mt = np.random.MT19937()
        self.reseed(seed)

    def reseed(self, seed):
        # pos 624: the first draw twists the whole state, as torch's left_ = 1 does;
        # NumPy's legacy seeding is init_genrand in C (80 us -> 1 us), the same state
        if hasattr(self.mt, "_legacy_seeding"):
            self.mt._legacy_seeding(seed & _MASK32)
        else:
            self.mt.state = {"bit_generator": "MT19937",
                             "state": {"key": _mt_key(seed), "pos": 624}}
        self.normal_cache = None

    def get_state(self):
        s = self.mt.state["state"]
        return {"key": np.array(s["key"], np.uint32), "pos": int(s["pos"]),
                "normal_cache": self.normal_cache}

    def set_state(self, state):
        self.mt.state = {"bit_generator": "MT19937",
                         "state": {"key": np.asarray(state["key"], np.uint32),
                                   "pos": int(state["pos"])}}
        self.normal_cache = state["normal_cache"]

    # --- raw words ------------------------------------------------------------------
    def u32(self, n):
        """``n`` draws of ``generator->random()``."""
        return self.mt.random_raw(int(n)).astype(np.uint32) if n else np.zeros(0, np.uint32)

    def u64(self, n):
        """``n`` draws of ``random64()``: (first word << 32) | second word."""
        w = self.mt.random_raw(2 * int(n)).reshape(-1, 2)
        return (w[:, 0] << np.uint64(32)) | w[:, 1]

    def unit(self, n, dtype):
        """``uniform_real_distribution<T>(0, 1)``: float32 from the low 24 bits of one word,
        float64 from the low 53 bits of random64()."""
        if np.dtype(dtype) == np.float32:
            return (self.u32(n) & np.uint32(0xFFFFFF)).astype(_F32) * _F32(2.0 ** -24)
        return (self.u64(n) & np.uint64((1 << 53) - 1)).astype(np.float64) * 2.0 ** -53

    # --- ops ------------------------------------------------------------------------
    def uniform(self, n, dtype, low=0.0, high=1.0):
        """``uniform_(low, high)``: ``fma(x, to - from, from)`` in the dtype, a value that
        rounds up to ``to`` giving ``from`` (DistributionTemplates.h, uniform_kernel)."""
        t = np.dtype(dtype).type
        lo, hi = t(low), t(high)
        x = self.unit(n, dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            v = (_fma32 if t is _F32 else _fma64)(x, hi - lo, lo)
        v[v == hi] = lo
        return v

    def normal(self, n, dtype, mean=0.0, std=1.0):
        """``normal_(mean, std)`` of a contiguous tensor of ``n`` elements: Box-Muller on
        blocks of 16 from 16 elements on (the last block redrawn), else one
        ``normal_distribution<double>`` per element."""
        if n < 16:
            return self._normal_serial(n, mean, std).astype(dtype)
        d = self.unit(n, dtype)
        out = np.empty(n, dtype)
        full = n // 16 * 16
        fill = _fill16_f32 if np.dtype(dtype) == np.float32 else _fill16_f64
        out[:full] = fill(d[:full].reshape(-1, 16), mean, std).ravel()
        if n % 16:
            out[n - 16:] = fill(self.unit(16, dtype).reshape(1, 16), mean, std).ravel()
        return out

    def _normal_serial(self, n, mean, std):
        """``n`` draws of ``normal_distribution<double>``, its cached sine included."""
        first = [] if self.normal_cache is None or n == 0 else [self.normal_cache]
        if first:
            self.normal_cache = None
        pairs = -(-(n - len(first)) // 2)
        u = self.unit(2 * pairs, np.float64).reshape(-1, 2)
        r = np.sqrt(-2.0 * _libm(math.log1p, -u[:, 1]))
        theta = 2.0 * np.pi * u[:, 0]
        z = np.concatenate([first, np.stack([r * _libm(math.cos, theta),
                                             r * _libm(math.sin, theta)], 1).ravel()])
        if len(z) > n:                         # the last pair's sine waits for the next call
            self.normal_cache = float(z[n])
        return _fma64(z[:n], std, mean)

    def randint(self, n, low, high):
        """``randint(low, high)``: a word (random64() from a range of 2 ** 28 on) modulo
        the range, plus low."""
        span = high - low
        if span >= 1 << 28:
            v = self.u64(n) % np.uint64(span)
        else:
            v = (self.u32(n) % np.uint32(span)).astype(np.uint64)
        return (v + np.uint64(low & ((1 << 64) - 1))).view(np.int64)

    def random_(self, n, dtype, low, high, default):
        """``random_`` of ``n`` elements of ``dtype`` on [low, high]: without arguments
        (``default``) a word modulo high + 1 (random64() for int64 and float64, as
        ``uniform_int``), the full int64 range as random64() itself, else ``randint``."""
        if default:
            wide = np.dtype(dtype) in (np.int64, np.float64)
            v = self.u64(n) % np.uint64(high + 1) if wide else self.u32(n) % np.uint32(high + 1)
            return v.astype(np.int64)
        if high - low + 1 == 1 << 64:
            return self.u64(n).view(np.int64)
        return self.randint(n, low, high + 1)

    def seed64(self):
        """``torch.empty((), dtype=torch.int64).random_(generator=...)``: the seed that
        PyTorch's DataLoader iterator and RandomSampler draw."""
        return int(self.random_(1, np.int64, 0, (1 << 63) - 1, True)[0])

    def randperm(self, n, op="randperm", head=None):
        """randperm_cpu: Fisher-Yates from the front, swap i with i + random() % (n - i);
        ``head``: only the first ``head`` values (all n - 1 words are drawn still)."""
        if n >= (1 << 32) // 20:
            raise refuse(f"{op}(n={n}) (n >= 2**32 / 20, where PyTorch draws 64 bits)")
        z = self.u32(max(n - 1, 0)) % np.arange(n, 1, -1, dtype=np.uint32)
        if head == 0:
            return np.zeros(0, np.int64)
        if n < _SWAPS_IN_PYTHON:
            r = list(range(n))
            for i, k in enumerate(z.tolist()):
                r[i], r[i + k] = r[i + k], r[i]
            return np.array(r[:head], np.int64)
        return _fisher_yates(z.astype(np.int64), n)[:head]

    def bernoulli(self, p, shape):
        """1.0 where a uniform draw < p: a float p (or float64 probabilities) compares a
        float64 draw, float32/float16 probabilities a float32 one, element by element."""
        p = np.asarray(p)
        dt = np.float32 if p.dtype.kind == "f" and p.dtype.itemsize < 8 else np.float64
        n = int(np.prod(shape))
        return (self.unit(n, dt).reshape(shape) < np.broadcast_to(p, shape).astype(dt))

    def exponential(self, n, dtype, lambd=1.0):
        """``exponential_(lambd)``: ``-1 / lambd * log1p(-u)`` in float64, u from random64()."""
        u = self.unit(n, np.float64)
        return ((-1.0 / lambd) * _libm(math.log1p, -u)).astype(dtype)

    def multinomial(self, rows, num_samples, replacement):
        """Indices for each row of ``rows`` (float32 or float64): one sample, or none
        repeated, by argmax / topk of p / q with q ~ Exp(1) (exponential_ over all rows);
        several with replacement by a search of the row's normalised cumulative sum."""
        if not replacement or num_samples == 1:
            q = self.exponential(rows.size, rows.dtype).reshape(rows.shape)
            with np.errstate(divide="ignore", invalid="ignore"):
                keys = rows / q
            if num_samples == 1:
                return np.argmax(keys, axis=1)[:, None]
            return np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        out = np.empty((len(rows), num_samples), np.int64)
        for i, row in enumerate(rows):
            cum = np.cumsum(row, dtype=row.dtype)         # one running sum, in the dtype
            cum = cum / cum[-1]
            cum[-1] = 1
            u = self.unit(num_samples, np.float64)
            out[i] = np.searchsorted(cum.astype(np.float64), u, side="left")
        return out


_SWAPS_IN_PYTHON = 256      # below it the swap loop beats the NumPy passes (measured)


def _fisher_yates(z, n):
    """The permutation of n >= 1 after the swaps (i, i + z[i]), i = 0 .. n - 2, in NumPy
    passes: step i fixes position i to what position t = i + z[i] holds, and moves there
    what position i holds then (its "carry"). Position p holds p until the first step
    aimed at it, then each such step's carry in turn; carry[p] is the carry of the last
    step before p aimed at p (else p), a chain followed by pointer doubling."""
    idx = np.arange(n, dtype=np.int64)
    t = idx.copy()
    t[:n - 1] += z
    target, order = np.divmod(np.sort(t * n + idx), n)     # by target, then by step
    own = t == idx                                          # z[i] == 0: step i aims at i
    count = np.bincount(t, minlength=n)
    last = np.cumsum(count) - 1 - own                       # last step before p aimed at p
    carry = np.where(count > own, order[last], idx)
    while True:
        nxt = carry[carry]
        if np.array_equal(nxt, carry):
            break
        carry = nxt
    held = target.copy()                # what each step's target holds when it comes
    held[1:] = np.where(target[1:] == target[:-1], carry[order[:-1]], target[1:])
    out = np.empty(n, np.int64)
    out[order] = held
    return out


def _libm(fn, x):
    """``fn`` (from ``math``: the C library's log, log1p, cos, sin, which ATen's float64
    kernels call) on each value; NumPy's own SIMD versions differ in the last bit."""
    x = np.asarray(x, np.float64)
    return np.fromiter(map(fn, x.ravel().tolist()), np.float64, x.size).reshape(x.shape)


# --- exact fused multiply-add (PyTorch's kernels fuse where the compiler did) ------------------

def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_odd(s, err):
    """s nudged one step toward err where err != 0 and s is even: round-to-odd, so that
    rounding it once more is correct rounding of the exact sum."""
    s = np.array(s, np.float64, copy=True)
    fix = (err != 0) & ((s.view(np.int64) & 1) == 0) & np.isfinite(s)
    s[fix] = np.nextafter(s[fix], np.where(err[fix] > 0, np.inf, -np.inf))
    return s


def _fma32(a, b, c):
    """float32 fma(a, b, c): the product is exact in float64, and the float64 sum rounds
    to float32 as the exact sum does except where it lands on a midpoint of two float32
    values (or in their subnormal range): only those are rounded to odd first. Where the
    first 1024 sums show many of them (uniform_'s sums are often exact midpoints), all
    are, without the gathers; either way the same values."""
    p = np.asarray(a, np.float64) * np.asarray(b, np.float64)
    c = np.asarray(c, np.float64) + np.zeros_like(p)
    s = p + c
    if np.count_nonzero(_risky(s.ravel()[:1024])) > 32:
        return _round_odd(*_two_sum(p, c)).astype(_F32)
    risky = _risky(s)
    if risky.any():
        s[risky] = _round_odd(*_two_sum(p[risky], c[risky]))
    return s.astype(_F32)


def _risky(s):
    """Where rounding float64 ``s`` to float32 may differ from rounding the exact sum."""
    return ((s.view(np.int64) & 0x1FFFFFFF) == 0x10000000) | (np.abs(s) < 2.0 ** -125)


def _split(a):
    t = a * 134217729.0                         # 2 ** 27 + 1 (Veltkamp)
    hi = t - (t - a)
    return hi, a - hi


def _fma64(a, b, c):
    """float64 fma(a, b, c) (Boldo and Melquiond's emulation by rounding to odd); a
    standard normal (b = 1, c = 0) is returned as it is."""
    a = np.asarray(a, np.float64)
    if np.ndim(b) == 0 and b == 1.0 and c == 0.0:
        return a
    b = np.broadcast_to(np.asarray(b, np.float64), a.shape)
    uh = a * b
    (ah, al), (bh, bl) = _split(a), _split(b)
    ul = ((ah * bh - uh) + ah * bl + al * bh) + al * bl      # a * b = uh + ul exactly
    th, tl = _two_sum(np.full_like(a, c), ul)
    vh, vl = _two_sum(uh, th)
    w, we = _two_sum(tl, vl)
    return vh + _round_odd(w, we)


# --- Box-Muller on blocks of 16 (NormalFill16) -----------------------------------------------

def _fill16_f64(d, mean, std):
    """The scalar NormalFill16<double>: radius * cos / sin, each fma'd with std and mean."""
    radius = np.sqrt(-2.0 * _libm(math.log, 1.0 - d[:, :8]))
    theta = 2.0 * np.pi * d[:, 8:]
    return np.concatenate([_fma64(radius * _libm(math.cos, theta), std, mean),
                           _fma64(radius * _libm(math.sin, theta), std, mean)], 1)


def _fill16_f32(d, mean, std):
    """NormalFill16<float> of the AVX2 kernel: avx_mathfun's log256_ps and sincos256_ps
    (Cephes polynomials), float32 step by step, with the multiply-adds GCC fused."""
    u1, u2 = _F32(1) - d[:, :8], d[:, 8:]
    radius = np.sqrt(_F32(-2) * _log256(u1))
    sin, cos = _sincos256(_F32(2.0 * np.pi) * u2)
    return np.concatenate([_fma32(radius * cos, _F32(std), _F32(mean)),
                           _fma32(radius * sin, _F32(std), _F32(mean))], 1)


_LOG_P = [7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1,
          1.4249322787E-1, -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1,
          3.3333331174E-1]


def _log256(x):
    """log256_ps for x in (0, 1] (no NaN or denormal inputs reach it here)."""
    xi = x.view(np.int32)
    e = ((xi >> 23) - 0x7F).astype(_F32) + _F32(1)
    x = ((xi & ~0x7F800000) | _F32(0.5).view(np.int32)).view(_F32)   # mantissa in [0.5, 1)
    small = x < _F32(0.707106781186547524)
    tmp = np.where(small, x, _F32(0))
    x = x - _F32(1)
    e = e - np.where(small, _F32(1), _F32(0))
    x = x + tmp
    z = x * x
    y = np.full_like(x, _F32(_LOG_P[0]))
    for p in _LOG_P[1:]:
        y = _fma32(y, x, _F32(p))
    y = y * x
    y = _fma32(y, z, e * _F32(-2.12194440e-4))
    y = _fma32(-z, _F32(0.5), y)
    return _fma32(e, _F32(0.693359375), x + y)


def _sincos256(x):
    """sincos256_ps for x >= 0: (sin, cos)."""
    y = x * _F32(1.27323954473516)                          # 4 / pi
    j = (y.astype(np.int32) + 1) & ~1
    y = j.astype(_F32)
    x = _fma32(y, _F32(-0.78515625), x)
    x = _fma32(y, _F32(-2.4187564849853515625e-4), x)
    x = _fma32(y, _F32(-3.77489497744594108e-8), x)
    sign_sin = (j & 4) << 29
    sign_cos = (~(j - 2) & 4) << 29
    poly = (j & 2) == 0
    z = x * x
    c = _fma32(np.full_like(x, _F32(2.443315711809948E-005)), z, _F32(-1.388731625493765E-003))
    c = _fma32(c, z, _F32(4.166664568298827E-002))
    c = _fma32(c * z, z, -(z * _F32(0.5))) + _F32(1)
    s = _fma32(np.full_like(x, _F32(-1.9515295891E-4)), z, _F32(8.3321608736E-3))
    s = _fma32(s, z, _F32(-1.6666654611E-1))
    s = _fma32(s * z, x, x)
    sin = np.where(poly, s, c).view(np.int32) ^ sign_sin
    cos = np.where(poly, c, s).view(np.int32) ^ sign_cos
    return sin.view(_F32), cos.view(_F32)


def torch_fill(stream, name, arr, *args, **kwargs):
    """The values of the in-place fill ``name`` (uniform_, normal_, exponential_) of
    ``arr`` on the torch stream: float32 / float64, C-contiguous (PyTorch walks another
    layout in its own order)."""
    if arr.dtype not in (np.float32, np.float64):
        raise refuse(f"{name} of a {arr.dtype} tensor")
    if not arr.flags.c_contiguous:
        raise refuse(f"{name} of a non-contiguous tensor (call .contiguous() first)")
    draw = {"uniform_": TorchStream.uniform, "normal_": TorchStream.normal,
            "exponential_": TorchStream.exponential}[name]
    return draw(stream, arr.size, arr.dtype, *args, **kwargs).reshape(arr.shape)
