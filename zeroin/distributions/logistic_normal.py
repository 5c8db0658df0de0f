"""``LogisticNormal(loc, scale)``: a Normal vector mapped onto the simplex by stick-breaking."""
from __future__ import annotations

import numpy as np

from . import constraints
from .distribution import POSITIVE, REAL, _Check
from .normal import Normal
from .transformed_distribution import _TransformedFamily
from .transforms import StickBreakingTransform

__all__ = ["LogisticNormal"]

_SIMPLEX = _Check("Simplex() (each row >= 0, summing to 1)",
                  lambda a, d: ((a >= 0).all(-1, keepdims=True)
                                & (np.abs(a.sum(-1, keepdims=True) - 1) < 1e-6)),
                  "a logistic-normal draw lies on the simplex")


class LogisticNormal(_TransformedFamily):
    """X on the K-simplex with log(X_i / (1 - X_1 - ... - X_i)) - log(K - i) ~
    Normal(``loc``, ``scale``) for i < K: a Normal over the last dim (K - 1 entries)
    through ``StickBreakingTransform``; event_shape is ``(K,)``."""

    has_rsample = True
    _checks = {"loc": REAL, "scale": POSITIVE}
    _support = _SIMPLEX
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.simplex

    def __init__(self, loc, scale, validate_args=None):
        base = Normal(loc, scale, validate_args=False)
        if not base.batch_shape:
            base = base.expand([1])
        super().__init__(base, StickBreakingTransform(), validate_args)

    loc = property(lambda self: self.base_dist.base_dist.loc, doc="The base Normal's loc.")
    scale = property(lambda self: self.base_dist.base_dist.scale,
                     doc="The base Normal's scale.")
