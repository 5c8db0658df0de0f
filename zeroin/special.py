"""``zeroin.special``: PyTorch's ``torch.special`` names for the functions zeroin has.

Each is the same function as the top-level one (``special.expit`` is ``zeroin.sigmoid``,
``special.xlogy`` is ``zeroin.xlogy``, ``gammainc`` is ``zeroin.igamma``, ``multigammaln`` is
``zeroin.mvlgamma``); ``xlog1py``, ``erfcx``, ``ndtr``, ``log_ndtr``, ``ndtri``, ``i0e``,
``i1``, ``i1e`` live only here, as in PyTorch, with ``entr``, the Bessel and Airy functions,
``zeta`` and the orthogonal polynomials (:mod:`zeroin._special_more`).
"""
from __future__ import annotations

from . import ops as _ops
from ._torch_ops import (digamma, erf, erfc, erfcx, erfinv, exp2, expm1, i0, i0e, i1, i1e,
                         igamma, igammac, lgamma, log1p, log_ndtr, logit, mvlgamma, ndtr, ndtri,
                         polygamma, round, sinc, xlog1py, xlogy)
from ._special_more import *  # noqa: F403
from ._special_more import __all__ as _more

expit = _ops.sigmoid
logsumexp = _ops.logsumexp
softmax = _ops.softmax
log_softmax = _ops.log_softmax
gammaln = lgamma
psi = digamma
gammainc = igamma
gammaincc = igammac
multigammaln = mvlgamma

__all__ = ["digamma", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc",
           "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p", "log_ndtr", "log_softmax",
           "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
           "sinc", "softmax", "xlog1py", "xlogy"] + _more
