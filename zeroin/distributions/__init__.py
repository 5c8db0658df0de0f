"""``zeroin.distributions``: PyTorch's ``torch.distributions``.

``Normal``, ``MultivariateNormal``, ``LowRankMultivariateNormal``, ``LogNormal``,
``Laplace``, ``Cauchy``, ``StudentT``, ``Uniform``, ``Exponential``, ``Gamma``, ``Chi2``,
``InverseGamma``, ``Beta``, ``Kumaraswamy``, ``Dirichlet``, ``Gumbel``, ``HalfNormal``,
``HalfCauchy``, ``Pareto``, ``GeneralizedPareto``, ``Weibull``, ``FisherSnedecor``,
``VonMises``, ``LogisticNormal``, ``Bernoulli``, ``ContinuousBernoulli``, ``Binomial``,
``NegativeBinomial``, ``Geometric``, ``Poisson``, ``Categorical``, ``OneHotCategorical``
(and its ``StraightThrough`` variant), ``Multinomial``, ``RelaxedBernoulli``,
``RelaxedOneHotCategorical``, ``MixtureSameFamily``, ``Independent``,
``TransformedDistribution`` and the ``ExponentialFamily`` base, with PyTorch's parameters,
shapes (``sample_shape + batch_shape + event_shape``), argument validation (on by default),
``arg_constraints`` and ``support`` (``constraints``), ``transforms`` with
``biject_to``/``transform_to``, and ``kl_divergence`` between the pairs PyTorch has in
closed form (mixed ones included), and ``Wishart`` and ``LKJCholesky`` over matrices.
Samples come from zeroin's generator, so ``zeroin.manual_seed(0)`` repeats them;
``rsample``, ``log_prob``, ``cdf``, ``entropy`` and ``kl_divergence`` are built from zeroin
ops, so gradients flow to the parameters (Gamma, Beta, Dirichlet and StudentT draws by
implicit reparameterisation).
"""
from . import constraints, kl, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .chi2 import Chi2
from .constraint_registry import biject_to, transform_to
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .fishersnedecor import FisherSnedecor
from .gamma import Gamma
from .generalized_pareto import GeneralizedPareto
from .geometric import Geometric
from .gumbel import Gumbel
from .half_normal import HalfCauchy, HalfNormal
from .independent import Independent
from .inverse_gamma import InverseGamma
from .kl import kl_divergence, register_kl
from .kumaraswamy import Kumaraswamy
from .lkj_cholesky import LKJCholesky
from .laplace import Laplace
from .log_normal import LogNormal
from .logistic_normal import LogisticNormal
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .mixture_same_family import MixtureSameFamily
from .multinomial import Multinomial
from .multivariate_normal import MultivariateNormal
from .negative_binomial import NegativeBinomial
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .pareto import Pareto
from .poisson import Poisson
from .relaxed_bernoulli import RelaxedBernoulli
from .relaxed_categorical import RelaxedOneHotCategorical
from .student_t import StudentT
from .transformed_distribution import TransformedDistribution
from .transforms import (AbsTransform, AffineTransform, CatTransform, ComposeTransform,
                         CorrCholeskyTransform, CumulativeDistributionTransform, ExpTransform,
                         IndependentTransform, LowerCholeskyTransform,
                         PositiveDefiniteTransform, PowerTransform, ReshapeTransform,
                         SigmoidTransform, SoftmaxTransform, SoftplusTransform, StackTransform,
                         StickBreakingTransform, TanhTransform, Transform, identity_transform)
from .uniform import Uniform
from .von_mises import VonMises
from .weibull import Weibull
from .wishart import Wishart

__all__ = ["AbsTransform", "AffineTransform", "Bernoulli", "Beta", "Binomial", "CatTransform",
           "Categorical", "Cauchy", "Chi2", "ComposeTransform", "ContinuousBernoulli",
           "CorrCholeskyTransform", "CumulativeDistributionTransform", "Dirichlet", "Distribution",
           "ExpTransform", "Exponential", "ExponentialFamily", "FisherSnedecor", "Gamma",
           "GeneralizedPareto", "Geometric", "Gumbel", "HalfCauchy", "HalfNormal", "Independent",
           "IndependentTransform", "InverseGamma", "Kumaraswamy", "LKJCholesky", "Laplace",
           "LogNormal", "LogisticNormal", "LowRankMultivariateNormal", "LowerCholeskyTransform",
           "MixtureSameFamily", "Multinomial", "MultivariateNormal", "NegativeBinomial", "Normal",
           "OneHotCategorical", "OneHotCategoricalStraightThrough", "Pareto", "Poisson",
           "PositiveDefiniteTransform", "PowerTransform", "RelaxedBernoulli",
           "RelaxedOneHotCategorical", "ReshapeTransform", "SigmoidTransform", "SoftmaxTransform",
           "SoftplusTransform", "StackTransform", "StickBreakingTransform", "StudentT",
           "TanhTransform", "Transform", "TransformedDistribution", "Uniform", "VonMises",
           "Weibull", "Wishart", "biject_to", "constraints", "identity_transform", "kl",
           "kl_divergence", "register_kl", "transform_to", "transforms"]
