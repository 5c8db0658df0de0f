"""One seeded random generator shared by initialisers, dropout and data shuffling."""
from __future__ import annotations

import contextlib
import numbers
import sys

import numpy as np

from ._torch_rng import TorchStream, refuse
from .anomaly import not_replayable

__all__ = ["manual_seed", "get_rng", "Generator", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "default_generator", "fork_rng", "use_torch_stream",
           "torch_stream_enabled"]

_DEFAULT_SEED = 67280421310721      # torch.Generator().initial_seed()
_U64 = (1 << 64) - 1


def _fresh_seed():
    """A nondeterministic 64-bit seed (from the operating system's entropy)."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])


# zeroin's shared stream; it starts from a fresh seed, recorded for initial_seed() (as
# PyTorch's default generator does), and is reseeded and restored in place, never replaced
_rng = np.random.default_rng()


def _seed_value(op, seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{op}: the seed must be a whole number, got {seed!r}")
    return int(seed) & _U64            # as PyTorch: -1 is 2**64 - 1


class Generator:
    """PyTorch's ``torch.Generator``: a stream of random numbers of its own, for any
    ``generator=`` argument (DataLoader, random_split, samplers, randn, multinomial...).

    >>> g = Generator().manual_seed(42)          # manual_seed returns the generator
    >>> g.initial_seed()
    42

    Without a seed it starts from PyTorch's default, 67280421310721 (so it repeats too);
    ``seed()`` picks a fresh random seed. The draws are NumPy's (PCG64), not PyTorch's,
    unless ``stream="torch"`` (the default after :func:`use_torch_stream`, so that a
    lecture's ``Generator().manual_seed(2147483647)`` runs unchanged): then ``rand``,
    ``randn``, ``randint``, ``randperm``, ``normal``, ``multinomial``, ``bernoulli``, the
    ``uniform_`` / ``normal_`` / ``exponential_`` / ``bernoulli_`` / ``random_`` fills,
    ``nn.init``'s uniform and normal ones, every dropout and data shuffling (``DataLoader``'s
    batches, the samplers, ``random_split``, drawn in torch.utils.data's order) give
    PyTorch's CPU numbers bit for bit, float32 and float64; every other random op refuses
    such a generator (NotImplementedError naming the op; the list: docs/random.md).

    >>> g = Generator(stream="torch").manual_seed(2147483647)   # makemore's generator
    """

    def __init__(self, device="cpu", *, stream=None):
        from .dtypes import as_device
        self.device = as_device(device, "Generator")
        self._initial = _DEFAULT_SEED
        self.numpy = np.random.default_rng(_DEFAULT_SEED)   # the NumPy Generator behind it
        if stream is None:      # the shared generator's: "numpy" unless use_torch_stream()
            stream = "torch" if _shared_on_torch() else "numpy"
        self.torch = _torch_engine("Generator", stream, _DEFAULT_SEED)

    @property
    def stream(self):
        """``"torch"`` (PyTorch's CPU numbers) or ``"numpy"`` (NumPy's PCG64, the default)."""
        return "numpy" if self.torch is None else "torch"

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns this generator."""
        self._initial = _seed_value("Generator.manual_seed", seed)
        # reseed in place: a DataLoader or sampler holding this generator follows
        self.numpy.bit_generator.state = np.random.PCG64(self._initial).state
        if self.torch is not None:
            self.torch.reseed(self._initial)
        return self

    def initial_seed(self):
        """The seed the stream started from."""
        return self._initial

    def seed(self):
        """Restart from a fresh nondeterministic seed, and return it."""
        seed = _fresh_seed()
        self.manual_seed(seed)
        return seed

    def get_state(self):
        """The stream's state, for set_state: a dict of the initial seed and NumPy's bit
        generator state; on the torch stream also ``"torch"``: mt19937's 624 words
        (``key``), the position in them (``pos``) and the cached second normal
        (``normal_cache``, a float or None). Not PyTorch's byte tensor."""
        return _state(self)

    def set_state(self, state):
        """Go back to a state from :meth:`get_state`."""
        _restore("Generator.set_state", state, self)
        return self

    def __repr__(self):
        extra = "" if self.torch is None else " stream='torch'"
        return f"<zeroin.Generator initial_seed={self._initial}{extra}>"


def _shared_on_torch():
    """Whether the shared generator exists and is on the torch stream (False while it is
    being made, at import)."""
    shared = globals().get("default_generator")
    return shared is not None and shared.torch is not None


def _torch_engine(op, stream, seed):
    if stream not in ("numpy", "torch"):
        raise ValueError(f"{op}: stream must be 'numpy' (NumPy's PCG64, zeroin's default) or "
                         f"'torch' (PyTorch's CPU numbers, bit for bit), got {stream!r}")
    return TorchStream(seed) if stream == "torch" else None


def _state(gen):
    state = {"initial_seed": gen._initial, "numpy": gen.numpy.bit_generator.state}
    if gen.torch is not None:
        state["torch"] = gen.torch.get_state()
    return state


def _restore(op, state, gen):
    """Put ``state`` (from get_state / get_rng_state) into generator ``gen``."""
    _check_state(op, state, gen.numpy)
    if ("torch" in state) != (gen.torch is not None):
        raise TypeError(f"{op}: the state is from a generator on the "
                        f"{'torch' if 'torch' in state else 'numpy'} stream, this one is on "
                        f"the {gen.stream} stream; restore it into a generator of the same "
                        f"kind")
    gen.numpy.bit_generator.state = state["numpy"]
    if gen.torch is not None:
        gen.torch.set_state(state["torch"])
    gen._initial = state["initial_seed"]


def _check_state(op, state, rng):
    if not (isinstance(state, dict) and isinstance(state.get("numpy"), dict)
            and state["numpy"].get("bit_generator") == type(rng.bit_generator).__name__
            and "initial_seed" in state):
        raise TypeError(f"{op}: expected a state from zeroin.get_rng_state() or "
                        f"Generator.get_state() (a dict holding NumPy's "
                        f"{type(rng.bit_generator).__name__} state), got "
                        f"{type(state).__name__}; PyTorch's byte-tensor states do not apply "
                        f"(zeroin's random numbers are NumPy's)")


# the shared stream as a Generator: PyTorch's torch.default_generator
default_generator = Generator()
default_generator.numpy = _rng
default_generator.manual_seed(_fresh_seed())


def manual_seed(seed):
    """Seed zeroin's generator so that initialisation, dropout and shuffling repeat exactly;
    returns :data:`default_generator`, as ``torch.manual_seed`` returns its generator."""
    return default_generator.manual_seed(_seed_value("manual_seed", seed))


def seed():
    """Seed zeroin's generator from a fresh nondeterministic seed, and return the seed."""
    s = _fresh_seed()
    manual_seed(s)
    return s


def initial_seed():
    """The seed zeroin's generator started from: the last :func:`manual_seed` or
    :func:`seed`, else the one picked at import."""
    return default_generator._initial


def get_rng_state():
    """The state of zeroin's generator, for :func:`set_rng_state`: a dict holding NumPy's
    PCG64 bit-generator state (not PyTorch's byte tensor; zeroin's draws are NumPy's).
    Restoring it repeats the next draws exactly."""
    return default_generator.get_state()


def set_rng_state(new_state):
    """Go back to a state from :func:`get_rng_state`."""
    _restore("set_rng_state", new_state, default_generator)


def use_torch_stream(enabled=True):
    """Put zeroin's shared generator (``manual_seed``, ``default_generator``, every draw
    without a ``generator=``) on PyTorch's CPU stream, or back on NumPy's (False); a
    ``Generator()`` made after it, without ``stream=``, is on the same stream. It
    restarts from its initial seed, so ``use_torch_stream(); manual_seed(42)`` then
    ``randn(3)`` gives ``torch.manual_seed(42); torch.randn(3)``. The ops without a
    bit-exact copy (``RandomChoice``, ``rrelu``, ``trunc_normal_``...) then refuse to draw
    (docs/random.md lists them); the transforms draw as torchvision's and shuffling as
    PyTorch's (``DataLoader(shuffle=True)`` gives ``torch.manual_seed``'s batches)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"use_torch_stream: enabled must be True or False, got {enabled!r}")
    default_generator.torch = TorchStream(default_generator._initial) if enabled else None
    if not enabled:
        _rng.bit_generator.state = np.random.PCG64(default_generator._initial).state


def torch_stream_enabled():
    """Whether zeroin's shared generator is on PyTorch's stream (:func:`use_torch_stream`)."""
    return default_generator.torch is not None


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices",
             device_type=None):
    """Run the block on a fork of zeroin's generator: its state is restored on leaving, so
    draws inside change no draw after it (PyTorch's ``torch.random.fork_rng``). There are
    no device generators to fork: ``devices`` may only be None or empty."""
    if devices is not None and len(list(devices)):
        raise RuntimeError(f"{_caller}: zeroin runs on the CPU only, so there are no device "
                           f"generators to fork; leave {_devices_kw} out (or pass [])")
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """PyTorch's switch to deterministic kernels, so that reproducibility boilerplate runs.

    zeroin is deterministic whatever it says (NumPy on the CPU, every sum in one fixed
    order): once seeded, the same run gives the same bits. The setting is only recorded
    for :func:`are_deterministic_algorithms_enabled`; non-bool arguments are refused as
    PyTorch refuses them.
    """
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if not isinstance(value, bool):
            raise TypeError(f"use_deterministic_algorithms: {name} must be True or False, "
                            f"got {type(value).__name__} {value!r}")
    _deterministic.update(mode=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled():
    """The ``mode`` last given to :func:`use_deterministic_algorithms` (default False)."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` last given to :func:`use_deterministic_algorithms`."""
    return _deterministic["warn_only"]


_draw_hooks = []    # called on every draw: zeroin.func.vmap(randomness="error") refuses them


def torch_stream(generator=None):
    """The PyTorch stream behind ``generator`` (None: the shared generator), or None where
    it draws NumPy's numbers; an op with a bit-exact PyTorch path asks this first."""
    gen = default_generator if generator is None else generator
    if not isinstance(gen, Generator) or gen.torch is None:
        return None
    not_replayable("it draws random numbers")
    for hook in _draw_hooks:
        hook()
    return gen.torch


def on_torch_stream(generator=None):
    """Whether ``generator`` (None: the shared generator) draws PyTorch's numbers; no draw."""
    gen = default_generator if generator is None else generator
    return isinstance(gen, Generator) and gen.torch is not None


def get_rng(rng=None, op=None):
    """The NumPy Generator for ``rng``: a :class:`Generator`, a NumPy Generator or an int
    seed; None gives zeroin's shared generator. A generator on the torch stream is refused
    (NotImplementedError naming ``op``, else the calling function)."""
    gen = default_generator if rng is None else rng
    if isinstance(gen, Generator) and gen.torch is not None:
        code = sys._getframe(1).f_code
        raise refuse(op or getattr(code, "co_qualname", code.co_name))
    not_replayable("it draws random numbers")
    for hook in _draw_hooks:
        hook()
    if rng is None:
        return _rng
    if isinstance(rng, Generator):
        return rng.numpy
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (numbers.Integral, np.random.SeedSequence, np.random.BitGenerator)) \
            and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"generator: expected a zeroin.Generator (zeroin.Generator()."
                    f"manual_seed(0)), a NumPy Generator or an int seed, got "
                    f"{type(rng).__name__}")
