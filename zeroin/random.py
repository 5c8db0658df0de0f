"""One seeded random generator shared by initialisers, dropout and data shuffling."""
from __future__ import annotations

import numbers

import numpy as np

from .anomaly import not_replayable

__all__ = ["manual_seed", "get_rng", "Generator"]

_rng = np.random.default_rng()
_DEFAULT_SEED = 67280421310721      # torch.Generator().initial_seed()
_U64 = (1 << 64) - 1


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
    ``seed()`` picks a fresh random seed. The draws are NumPy's (PCG64), not PyTorch's.
    """

    def __init__(self, device="cpu"):
        from .dtypes import as_device
        self.device = as_device(device, "Generator")
        self._initial = _DEFAULT_SEED
        self.numpy = np.random.default_rng(_DEFAULT_SEED)   # the NumPy Generator behind it

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns this generator."""
        self._initial = _seed_value("Generator.manual_seed", seed)
        # reseed in place: a DataLoader or sampler holding this generator follows
        self.numpy.bit_generator.state = np.random.PCG64(self._initial).state
        return self

    def initial_seed(self):
        """The seed the stream started from."""
        return self._initial

    def seed(self):
        """Restart from a fresh nondeterministic seed, and return it."""
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0])
        self.manual_seed(seed)
        return seed

    def get_state(self):
        """The stream's state (NumPy's bit generator state, a dict), for set_state."""
        return {"initial_seed": self._initial, "numpy": self.numpy.bit_generator.state}

    def set_state(self, state):
        """Go back to a state from :meth:`get_state`."""
        self.numpy.bit_generator.state = state["numpy"]
        self._initial = state["initial_seed"]
        return self

    def __repr__(self):
        return f"<zeroin.Generator initial_seed={self._initial}>"


def manual_seed(seed):
    """Seed zeroin's generator so that initialisation, dropout and shuffling repeat exactly."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng(rng=None):
    """The NumPy Generator for ``rng``: a :class:`Generator`, a NumPy Generator or an int
    seed; None gives zeroin's shared generator."""
    not_replayable("it draws random numbers")
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
