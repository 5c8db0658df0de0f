"""``zeroin.distributions``: PyTorch's ``torch.distributions`` for the common cases.

``Normal``, ``MultivariateNormal``, ``LogNormal``, ``Laplace``, ``Cauchy``, ``StudentT``,
``Uniform``, ``Exponential``, ``Gamma``, ``Beta``, ``Dirichlet``, ``Bernoulli``,
``Binomial``, ``Geometric``, ``Poisson``, ``Categorical``, ``OneHotCategorical``,
``Multinomial``, ``RelaxedBernoulli``, ``RelaxedOneHotCategorical``, ``Independent`` and
``TransformedDistribution``, with PyTorch's parameters, shapes (``sample_shape +
batch_shape + event_shape``), argument validation (on by default), ``arg_constraints`` and
``support`` (``constraints``), ``transforms`` with ``biject_to``/``transform_to``, and
``kl_divergence`` between the pairs PyTorch has in closed form (mixed ones included).
Samples come from zeroin's generator, so ``zeroin.manual_seed(0)`` repeats them;
``rsample``, ``log_prob``, ``cdf``, ``entropy`` and ``kl_divergence`` are built from
zeroin ops, so gradients flow to the parameters (Gamma, Beta, Dirichlet and StudentT draws
by implicit reparameterisation). Not here (yet): the rarer families and transforms.
"""
from . import constraints, kl, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .constraint_registry import biject_to, transform_to
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .poisson import Poisson
from .relaxed_bernoulli import RelaxedBernoulli
from .relaxed_categorical import RelaxedOneHotCategorical
from .student_t import StudentT
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                         IndependentTransform, PowerTransform, SigmoidTransform,
                         SoftmaxTransform, SoftplusTransform, StickBreakingTransform,
                         TanhTransform, Transform)
from .uniform import Uniform

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial",
           "Categorical", "Cauchy", "ComposeTransform", "Dirichlet", "Distribution",
           "ExpTransform", "Exponential", "Gamma", "Geometric", "Independent",
           "IndependentTransform", "Laplace", "LogNormal", "Multinomial",
           "MultivariateNormal", "Normal", "OneHotCategorical", "Poisson",
           "PowerTransform", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "SigmoidTransform", "SoftmaxTransform", "SoftplusTransform",
           "StickBreakingTransform", "StudentT", "TanhTransform", "Transform",
           "TransformedDistribution", "Uniform", "biject_to", "constraints", "kl",
           "kl_divergence", "register_kl", "transform_to", "transforms"]
