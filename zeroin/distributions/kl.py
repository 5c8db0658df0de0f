"""``kl_divergence(p, q)``: KL(p || q) in closed form, dispatched on the two types.

``register_kl(P, Q)`` adds a rule, as in PyTorch; the most specific registered pair (by
the types' method resolution order) is used.
"""
from __future__ import annotations

import math

import numpy as np

from .. import digamma, erf, grad, lgamma, linalg, softplus, where, xlogy
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .dirichlet import Dirichlet
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .gumbel import Gumbel
from .half_normal import HalfNormal
from .independent import Independent
from .laplace import Laplace
from .log_normal import LogNormal
from .lowrank_multivariate_normal import (LowRankMultivariateNormal, _lowrank_logdet,
                                          _lowrank_mahalanobis)
from .multivariate_normal import MultivariateNormal, _batch_mahalanobis
from .normal import Normal
from .one_hot_categorical import OneHotCategorical
from .pareto import Pareto
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from .utils import _sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for ``p`` a ``type_p`` and ``q``
    a ``type_q`` (or subclasses)."""
    def decorator(fn):
        _KL_REGISTRY[type_p, type_q] = fn
        return fn
    return decorator


def _lookup(tp, tq):
    matches = [(tp.__mro__.index(p), tq.__mro__.index(q), fn)
               for (p, q), fn in _KL_REGISTRY.items() if issubclass(tp, p) and issubclass(tq, q)]
    return min(matches, key=lambda m: m[:2])[2] if matches else None


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], per batch element (batch shapes broadcast).

    Differentiable wrt both distributions' parameters; ``inf`` where p puts mass that q
    does not. NotImplementedError for a pair without a registered rule.
    """
    fn = _lookup(type(p), type(q))
    if fn is None:
        pairs = ", ".join(sorted({f"({a.__name__}, {b.__name__})" for a, b in _KL_REGISTRY}))
        raise NotImplementedError(f"kl_divergence: no KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}; "
                                  f"zeroin has {pairs} (add one with @register_kl(P, Q)), or "
                                  f"estimate it by sampling: (p.log_prob(x) - "
                                  f"q.log_prob(x)).mean() for x = p.sample((n,))")
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = where(q.probs == 0, math.inf, t)        # p has mass where q has none
    t = where(p.probs == 0, 0.0, t)             # 0 log 0 = 0
    return t.sum(-1)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t1 = where(p.probs == 0, 0.0, where(q.probs == 0, math.inf, t1))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    t2 = where(p.probs == 1, 0.0, where(q.probs == 1, math.inf, t2))
    return t1 + t2


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return where((q.low > p.low) | (q.high < p.high), math.inf, result)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError(f"kl_divergence: Independent distributions with different "
                                  f"reinterpreted_batch_ndims ({p.reinterpreted_batch_ndims} "
                                  f"and {q.reinterpreted_batch_ndims}) are not supported")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: KL-divergence between two Multivariate Normals with "
                         f"different event shapes cannot be computed: {tuple(p.event_shape)} "
                         f"and {tuple(q.event_shape)}")
    k = p.event_shape[0]
    lp, lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    shape = tuple(np.broadcast_shapes(lp.shape[:-2], lq.shape[:-2])) + (k, k)
    from .. import linalg
    term2 = (linalg.solve(lq.tril().expand(shape), lp.expand(shape)) ** 2).sum((-2, -1))
    term3 = _batch_mahalanobis(lq, q.loc - p.loc)
    kl = q._half_log_det() - p._half_log_det() + 0.5 * (term2 + term3 - k)
    return kl.expand(tuple(np.broadcast_shapes(p.batch_shape, q.batch_shape)))


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return ratio - ratio.log() - 1


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    return q.concentration * (p.rate / q.rate).log() + lgamma(q.concentration) \
        - lgamma(p.concentration) + (p.concentration - q.concentration) \
        * digamma(p.concentration) + (q.rate - p.rate) * (p.concentration / p.rate)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    sp, sq = p.concentration1 + p.concentration0, q.concentration1 + q.concentration0
    t1 = lgamma(q.concentration1) + lgamma(q.concentration0) + lgamma(sp)
    t2 = lgamma(p.concentration1) + lgamma(p.concentration0) + lgamma(sq)
    t3 = (p.concentration1 - q.concentration1) * digamma(p.concentration1)
    t4 = (p.concentration0 - q.concentration0) * digamma(p.concentration0)
    return t1 - t2 + t3 + t4 + (sq - sp) * digamma(sp)


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    sp, sq = p.concentration.sum(-1), q.concentration.sum(-1)
    t1 = lgamma(sp) - lgamma(sq)
    t2 = (lgamma(p.concentration) - lgamma(q.concentration)).sum(-1)
    t4 = digamma(p.concentration) - digamma(sp).unsqueeze(-1)
    return t1 - t2 + ((p.concentration - q.concentration) * t4).sum(-1)


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    ratio = p.scale / q.scale
    gap = (p.loc - q.loc).abs()
    return -ratio.log() + gap / q.scale + ratio * (-gap / p.scale).exp() - 1


@register_kl(LogNormal, LogNormal)
def _kl_lognormal_lognormal(p, q):
    return _kl_normal_normal(p, q)              # KL is unchanged by the same exp of both


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if (p.total_count.data < q.total_count.data).any():
        raise NotImplementedError("kl_divergence: KL between Binomials where q.total_count > "
                                  "p.total_count is not implemented (as in PyTorch)")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return where(p.total_count > q.total_count, math.inf, kl)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    return ((p.scale + q.scale) ** 2 + (p.loc - q.loc) ** 2).log() \
        - (4 * p.scale * q.scale).log()


# --- mixed pairs (PyTorch's closed forms; inf where p has mass outside q's support) ------

_EULER_GAMMA = 0.57721566490153286060


def _infinite_like(t):
    """inf in the shape of ``t`` (no gradient): KL is infinite for every parameter."""
    return t.new_full(tuple(t.shape), math.inf).detach()


def _x_log_x(t):
    return xlogy(t, t)                          # 0 at t = 0


_CB = ContinuousBernoulli
for _p, _qs in ((Exponential, (Beta, _CB, Pareto, Uniform)),
                (Gamma, (Beta, _CB, Pareto, Uniform)),
                (Laplace, (Beta, _CB, Exponential, Gamma, Pareto, Uniform)),
                (Normal, (Beta, _CB, Exponential, Gamma, Pareto, Uniform)),
                (Gumbel, (Beta, _CB, Exponential, Gamma, Pareto, Uniform)),
                (Pareto, (Beta, _CB, Uniform)), (Beta, (Pareto,)), (_CB, (Pareto,)),
                (Poisson, (Bernoulli, Binomial))):
    _param = {Exponential: "rate", Gamma: "concentration", Laplace: "loc", Normal: "loc",
              Poisson: "rate", Gumbel: "loc", Pareto: "scale", Beta: "concentration1",
              _CB: "probs"}[_p]
    for _q in _qs:     # p's support reaches outside q's (a negative value, or above 1)
        register_kl(_p, _q)(lambda p, q, _param=_param: _infinite_like(getattr(p, _param)))
del _p, _qs, _q, _param, _CB


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    mean = p.concentration1 / (p.concentration1 + p.concentration0)
    return -p.entropy() - q.rate.log() + q.rate * mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    a, b = p.concentration1, p.concentration0
    t2 = lgamma(q.concentration) - q.concentration * q.rate.log()
    t3 = (q.concentration - 1) * (digamma(a) - digamma(a + b))
    return -p.entropy() + t2 - t3 + q.rate * a / (a + b)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    a, b = p.concentration1, p.concentration0
    mean, var_normal = a / (a + b), q.scale ** 2
    t2 = 0.5 * (var_normal * 2 * math.pi).log()
    t3 = (mean * (1 - mean) / (a + b + 1) + mean ** 2) * 0.5
    return -p.entropy() + t2 + (t3 - q.loc * mean + q.loc ** 2 * 0.5) / var_normal


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return where((q.low > 0.0) | (q.high < 1.0), math.inf, result)


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + lgamma(q.concentration)
            + q.concentration * _EULER_GAMMA - (1 + _EULER_GAMMA))


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    var_normal, rate_sqr = q.scale ** 2, p.rate ** 2
    t1 = 0.5 * (rate_sqr * var_normal * 2 * math.pi).log()
    return t1 - 1 + (rate_sqr.reciprocal() - q.loc / p.rate + q.loc ** 2 * 0.5) / var_normal


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    k, var_normal, beta_sqr = p.concentration, q.scale ** 2, p.rate ** 2
    t1 = 0.5 * (beta_sqr * var_normal * 2 * math.pi).log() - k - lgamma(k)
    t2 = 0.5 * (k ** 2 + k) / beta_sqr
    t3 = q.loc * k / p.rate
    return t1 + (k - 1) * digamma(k) + (t2 - t3 + 0.5 * q.loc ** 2) / var_normal


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    var_normal = q.scale ** 2
    ratio = p.scale ** 2 / var_normal
    t1 = 0.5 * (2 * ratio / math.pi).log()
    t = 0.5 * p.loc ** 2 - p.loc * q.loc + 0.5 * q.loc ** 2
    return -t1 + ratio + t / var_normal - 1


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    loc_diff, scale_ratio = p.loc - q.loc, p.scale / q.scale
    z = loc_diff / p.scale
    t2 = math.sqrt(2 / math.pi) * p.scale * (-0.5 * z ** 2).exp()
    t3 = loc_diff * erf(math.sqrt(0.5) * z)
    return -scale_ratio.log() + (t2 + t3) / q.scale - 0.5 * (1 + math.log(0.5 * math.pi))


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    t2 = (q.concentration1 - 1) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    t3 = (q.concentration0 - 1) * (_x_log_x(1 - p.high) - _x_log_x(1 - p.low) + width) / width
    t4 = lgamma(q.concentration1) + lgamma(q.concentration0) - lgamma(
        q.concentration1 + q.concentration0)
    result = t3 + t4 - width.log() - t2
    return where((p.high > 1.0) | (p.low < 0.0), math.inf, result)


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    result = q.rate * (p.high + p.low) / 2 - ((p.high - p.low) * q.rate).log()
    return where(p.low < 0.0, math.inf, result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    t2 = lgamma(q.concentration) - q.concentration * q.rate.log()
    t3 = (1 - q.concentration) * (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    result = -width.log() + t2 + t3 + q.rate * (p.high + p.low) / 2
    return where(p.low < 0.0, math.inf, result)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    width = p.high - p.low
    t1 = (math.sqrt(math.pi * 2) * q.scale / width).log()
    return t1 + 0.5 * (width ** 2 / 12 + ((p.high + p.low - 2 * q.loc) / 2) ** 2) / q.scale ** 2


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms or p.event_shape != q.event_shape:
        raise NotImplementedError("kl_divergence: two TransformedDistributions need the "
                                  "same transforms and event_shape (then KL is that of the "
                                  "base distributions)")
    return kl_divergence(p.base_dist, q.base_dist)


# --- the rarer families ------------------------------------------------------------------

@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """The Bregman divergence of the log normaliser F: F(q) - F(p) - <q - p, dF/dp> over
    the natural parameters (p's detached, as PyTorch)."""
    if type(p) is not type(q):
        raise NotImplementedError("kl_divergence: the cross KL-divergence between different "
                                  "exponential families cannot be computed using Bregman "
                                  "divergences")
    p_nparams = [t.detach().requires_grad_() for t in p._natural_params]
    q_nparams = q._natural_params
    lg_normal = p._log_normalizer(*p_nparams)
    gradients = grad(lg_normal.sum(), p_nparams, create_graph=True)
    result = q._log_normalizer(*q_nparams) - lg_normal
    batch = tuple(result.shape)
    for pnp, qnp, g in zip(p_nparams, q_nparams, gradients):   # per batch element
        result = result - ((qnp - pnp) * g).reshape(batch + (-1,)).sum(-1)
    return result


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_continuous_bernoulli_continuous_bernoulli(p, q):
    t1 = p.mean * (p.logits - q.logits)
    t2 = p._cont_bern_log_norm() + (-p.probs).log1p()
    return t1 + t2 - q._cont_bern_log_norm() - (-q.probs).log1p()


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    ct1, ct2, ct3 = p.scale / q.scale, q.loc / q.scale, p.loc / q.scale
    t3 = (ct2 + lgamma(1 + ct1) - ct3).exp()
    return -ct1.log() - ct2 + ct3 + ct1 * _EULER_GAMMA + t3 - (1 + _EULER_GAMMA)


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    scale_ratio, alpha_ratio = p.scale / q.scale, q.alpha / p.alpha
    result = q.alpha * scale_ratio.log() - alpha_ratio.log() + alpha_ratio - 1
    return where(p.scale < q.scale, math.inf, result)


def _trace_xxt(x):
    """trace(X X^T) over the last two dims."""
    return (x ** 2).sum((-2, -1))


def _solve_tril(L, b):
    """L^-1 b for L lower triangular, batch dims broadcast."""
    batch = tuple(np.broadcast_shapes(L.shape[:-2], b.shape[:-2]))
    return linalg.solve(L.tril().expand(batch + tuple(L.shape[-2:])),
                        b.expand(batch + tuple(b.shape[-2:])))


def _check_event_shapes(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(f"kl_divergence: KL-divergence between two (Low Rank) Multivariate "
                         f"Normals with different event shapes cannot be computed: "
                         f"{tuple(p.event_shape)} and {tuple(q.event_shape)}")


def _lowrank_q_terms(p, q):
    """For q low-rank: its log-determinant, the Mahalanobis term of the means and A =
    C^-1 W^T D^-1 (so that Sigma_q^-1 = D^-1 - A^T A)."""
    W, D, C = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag, q._capacitance_tril
    term3 = _lowrank_mahalanobis(W, D, q.loc - p.loc, C)
    return _lowrank_logdet(D, C), term3, _solve_tril(C, W.mT / D.unsqueeze(-2))


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    _check_event_shapes(p, q)
    q_logdet, term3, A = _lowrank_q_terms(p, q)
    term1 = q_logdet - _lowrank_logdet(p._unbroadcasted_cov_diag, p._capacitance_tril)
    pW, pD, qD = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag, \
        q._unbroadcasted_cov_diag
    term2 = (pD / qD).sum(-1) + _trace_xxt(pW * qD.rsqrt().unsqueeze(-1)) \
        - _trace_xxt(A * pD.sqrt().unsqueeze(-2)) - _trace_xxt(A @ pW)
    return 0.5 * (term1 + term2 + term3 - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    _check_event_shapes(p, q)
    q_logdet, term3, A = _lowrank_q_terms(p, q)
    L = p._unbroadcasted_scale_tril
    term1 = q_logdet - 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    term2 = _trace_xxt(L * q._unbroadcasted_cov_diag.rsqrt().unsqueeze(-1)) \
        - _trace_xxt(A @ L)
    return 0.5 * (term1 + term2 + term3 - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    _check_event_shapes(p, q)
    L = q._unbroadcasted_scale_tril
    term1 = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1) \
        - _lowrank_logdet(p._unbroadcasted_cov_diag, p._capacitance_tril)
    term3 = _batch_mahalanobis(L, q.loc - p.loc)
    term2 = _trace_xxt(_solve_tril(L, p._unbroadcasted_cov_factor)) \
        + _trace_xxt(_solve_tril(L, p._unbroadcasted_cov_diag.sqrt().diag_embed()))
    return 0.5 * (term1 + term2 + term3 - p.event_shape[0])


@register_kl(Beta, ContinuousBernoulli)
@register_kl(Uniform, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    result = -p.entropy() - p.mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()
    if isinstance(p, Uniform):                  # p's mass outside [0, 1]
        result = where((p.high > 1) | (p.low < 0), math.inf, result)
    return result


@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    t2 = 0.5 * (math.log(2.0 * math.pi) + (q.loc / q.scale).square()) + q.scale.log()
    t3 = (p.variance + p.mean.square() - 2.0 * q.loc * p.mean) / (2.0 * q.scale.square())
    return -p.entropy() + t2 + t3


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return where((q.low > 0) | (q.high < 1), math.inf, result)


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    scale_rate_prod, loc_scale_ratio = p.rate * q.scale, q.loc / q.scale
    t2 = loc_scale_ratio.exp() * scale_rate_prod / (scale_rate_prod + 1)
    return scale_rate_prod.log() - 1 - loc_scale_ratio + t2 + scale_rate_prod.reciprocal()


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    c = p.concentration
    beta_scale_prod, loc_scale_ratio = p.rate * q.scale, q.loc / q.scale
    t1 = (c - 1) * digamma(c) - lgamma(c) - c
    t2 = beta_scale_prod.log() + c / beta_scale_prod
    t3 = loc_scale_ratio.exp() * (1 + beta_scale_prod.reciprocal()).pow(-c) - loc_scale_ratio
    return t1 + t2 + t3


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    param_ratio = p.scale / q.scale
    t1 = (param_ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * param_ratio * 0.5).pow(2) / 3
    t3 = ((p.loc + p.scale * _EULER_GAMMA - q.loc) / q.scale).pow(2) * 0.5
    return -t1 + t2 + t3 - (_EULER_GAMMA + 1)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    mean_scale_ratio, loc_scale_ratio = p.loc / q.scale, q.loc / q.scale
    var_scale_sqr_ratio = (p.scale / q.scale).pow(2)
    t3 = (-mean_scale_ratio + 0.5 * var_scale_sqr_ratio + loc_scale_ratio).exp()
    return -0.5 * var_scale_sqr_ratio.log() + mean_scale_ratio - loc_scale_ratio + t3 \
        - 0.5 * (1 + math.log(2 * math.pi))


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    alpha = where(p.alpha <= 1, 2.0, p.alpha)  # inf below: no division by 0 on the way
    scale_rate_prod = p.scale * q.rate
    result = (alpha / scale_rate_prod).log() - alpha.reciprocal() \
        + alpha * scale_rate_prod / (alpha - 1) - 1
    return where(p.alpha <= 1, math.inf, result)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    alpha = where(p.alpha <= 1, 2.0, p.alpha)
    common_term = p.scale.log() + alpha.reciprocal()
    t2 = lgamma(q.concentration) - q.concentration * q.rate.log()
    t4 = q.rate * alpha * p.scale / (alpha - 1)
    result = alpha.log() - common_term + t2 + (1 - q.concentration) * common_term + t4 - 1
    return where(p.alpha <= 1, math.inf, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    alpha = where(p.alpha <= 2, 3.0, p.alpha)
    var_normal = 2 * q.scale.pow(2)
    common_term = p.scale / (alpha - 1)
    t1 = (math.sqrt(2 * math.pi) * q.scale * alpha / p.scale).log()
    t3 = alpha * common_term.pow(2) / (alpha - 2)
    t4 = (alpha * common_term - q.loc).pow(2)
    result = t1 - alpha.reciprocal() + (t3 + t4) / var_normal - 1
    return where(p.alpha <= 2, math.inf, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    common_term = q.scale / (p.high - p.low)
    high_loc_diff, low_loc_diff = (p.high - q.loc) / q.scale, (p.low - q.loc) / q.scale
    t1 = common_term.log() + 0.5 * (high_loc_diff + low_loc_diff)
    return t1 - common_term * ((-high_loc_diff).exp() - (-low_loc_diff).exp())


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    t1 = (q.alpha * q.scale.pow(q.alpha) * width).log()
    t2 = (_x_log_x(p.high) - _x_log_x(p.low) - width) / width
    return where(p.low < q.scale, math.inf, t2 * (q.alpha + 1) - t1)
