"""``zeroin.special``: PyTorch's ``torch.special`` names for the functions zeroin has.

Each is the same function as the top-level one (``special.expit`` is ``zeroin.sigmoid``,
``special.xlogy`` is ``zeroin.xlogy``); ``xlog1py`` lives only here, as in PyTorch.
"""
from __future__ import annotations

from . import ops as _ops
from ._torch_ops import (digamma, erf, erfc, erfinv, exp2, expm1, lgamma, log1p, logit, polygamma,
                         round, xlog1py, xlogy)

expit = _ops.sigmoid
logsumexp = _ops.logsumexp
softmax = _ops.softmax
log_softmax = _ops.log_softmax
gammaln = lgamma
psi = digamma

__all__ = ["digamma", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p",
           "log_softmax", "logit", "logsumexp", "polygamma", "psi", "round", "softmax",
           "xlog1py", "xlogy"]
