"""``ExponentialFamily``: the base of densities exp(<t(x), theta> - F(theta) + k(x))."""
from __future__ import annotations

from .. import grad
from .distribution import Distribution

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    """Base class for an exponential family: a subclass gives its natural parameters
    theta (``_natural_params``), the log normaliser F (``_log_normalizer(*theta)``, built
    from zeroin ops) and the expected carrier measure E[k(x)] (``_mean_carrier_measure``);
    then ``entropy`` is F(theta) - <theta, dF/dtheta> - E[k(x)] (a Bregman divergence, as
    PyTorch: the gradient of F by autograd) and ``kl_divergence`` between two members of
    the same family works without a closed form of its own."""

    @property
    def _natural_params(self):
        raise NotImplementedError(f"{type(self).__name__}._natural_params is not "
                                  f"implemented (the natural parameters, a tuple)")

    def _log_normalizer(self, *natural_params):
        raise NotImplementedError(f"{type(self).__name__}._log_normalizer is not "
                                  f"implemented (F of the natural parameters)")

    @property
    def _mean_carrier_measure(self):
        raise NotImplementedError(f"{type(self).__name__}._mean_carrier_measure is not "
                                  f"implemented (E[k(x)], a number), so neither is its "
                                  f"entropy (as in PyTorch)")

    def entropy(self):
        """F(theta) - sum theta dF/dtheta - E[k(x)]; like PyTorch, the natural parameters
        are detached first, so no gradient reaches the distribution's parameters."""
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = grad(lg_normal.sum(), nparams, create_graph=True)
        result = lg_normal - self._mean_carrier_measure
        for p, g in zip(nparams, gradients):
            result = result - (p * g).reshape(tuple(self._batch_shape) + (-1,)).sum(-1)
        return result
