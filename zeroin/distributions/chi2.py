"""``Chi2(df)``: the sum of ``df`` squared standard normals, Gamma(df / 2, 1 / 2)."""
from __future__ import annotations

from . import constraints
from .distribution import POSITIVE
from .gamma import Gamma

__all__ = ["Chi2"]


class Chi2(Gamma):
    """The chi-squared distribution with ``df`` > 0 degrees of freedom: exactly
    ``Gamma(0.5 * df, 0.5)`` (a subclass, as in PyTorch), with ``df`` checked by name."""

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        super().__init__(0.5 * df, 0.5, validate_args=False)
        if validate_args is None:
            del self.__dict__["_validate_args"]     # back to the class default
        else:
            self._validate_args = validate_args
        if self._validate_args:
            self._refuse("parameter df", self.df, POSITIVE)

    @property
    def df(self):
        """2 * concentration."""
        return self.concentration * 2

    def __repr__(self):
        df = self.df
        return f"Chi2(df: {df.item() if df.numel() == 1 else df.size()})"
