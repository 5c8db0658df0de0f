"""``zeroin.distributions``: PyTorch's ``torch.distributions`` for the common cases.

``Normal``, ``Categorical``, ``Bernoulli`` and ``Uniform`` with PyTorch's parameters,
shapes (``sample_shape + batch_shape + event_shape``), argument validation (on by
default) and ``kl_divergence`` between two of the same kind. Samples come from zeroin's
generator, so ``zeroin.manual_seed(0)`` repeats them; ``rsample``, ``log_prob``, ``cdf``,
``entropy`` and ``kl_divergence`` are built from zeroin ops, so gradients flow to the
parameters. Not here (yet): the other distributions, transforms and constraints.
"""
from . import kl
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Normal", "Uniform", "kl",
           "kl_divergence", "register_kl"]
