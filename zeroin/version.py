"""``torch.version`` on zeroin: the package's version and the build facts PyTorch code reads
(``if torch.version.cuda:``). zeroin is a CPU-only NumPy build, so every accelerator is None."""
from . import __version__ as _v

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu"]

__version__ = _v
debug = False
cuda = None
hip = None
rocm = None
xpu = None
git_version = "Unknown"     # zeroin does not record its commit at build time
