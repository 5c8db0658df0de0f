"""Old name of :mod:`zeroin.recipes` (kept so ``zeroin.commands`` imports keep working)."""
import sys

from . import recipes as _recipes

sys.modules[__name__] = _recipes
