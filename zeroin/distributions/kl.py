"""``kl_divergence(p, q)``: KL(p || q) in closed form, dispatched on the two types.

``register_kl(P, Q)`` adds a rule, as in PyTorch; the most specific registered pair (by
the types' method resolution order) is used.
"""
from __future__ import annotations

import math

from .. import softplus, where
from .bernoulli import Bernoulli
from .categorical import Categorical
from .normal import Normal
from .uniform import Uniform

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
        raise NotImplementedError(f"kl_divergence: no KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}; "
                                  f"zeroin has (Normal, Normal), (Categorical, Categorical), "
                                  f"(Bernoulli, Bernoulli) and (Uniform, Uniform) (add one "
                                  f"with @register_kl(P, Q)), or estimate it by sampling: "
                                  f"(p.log_prob(x) - q.log_prob(x)).mean() for x = "
                                  f"p.sample((n,))")
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
