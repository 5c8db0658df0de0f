"""zeroin: backpropagation and gradient descent, real, fast and visible.

A reverse-mode automatic-differentiation engine on NumPy arrays, with neural-network
layers, optimisers, a training loop, and pictures and explanations of the chain rule.

>>> import zeroin
>>> w = zeroin.tensor(3.0, requires_grad=True, name="w")
>>> b = zeroin.tensor(4.0, requires_grad=True, name="b")
>>> z = (2 * w + b) * (b + 1)
>>> z.backward()
>>> z.item(), w.grad.item(), b.grad.item()
(50.0, 10.0, 15.0)
"""
import importlib as _importlib

from ._tensor import (Tensor, enable_grad, get_default_dtype, is_grad_enabled, no_grad,
                     set_default_dtype, set_printoptions, tensor)
from .errors import AnomalyError, DtypeError, ShapeError, ZeroinError
from .function import Function
from . import ops, _torch_ops, _memory, linalg
from . import _api_names  # noqa: F401  (adds to _tensor_api's EXPORTS)
from . import _inplace_names  # noqa: F401  (adds to _tensor_api's EXPORTS)
from . import _complex  # noqa: F401  (complex parts and .H; adds to _tensor_api's EXPORTS)
from . import _toplevel, _toplevel_data, _toplevel_misc  # noqa: F401  (torch.conv2d, torch.pi, ...)
from . import _foreach  # noqa: F401  (torch._foreach_lerp_, ...)
from .linalg import inverse, logdet, matrix_power, pinverse
from ._tensor_api import EXPORTS as _TENSOR_API
from .autograd import grad
from .anomaly import detect_anomaly, is_anomaly_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from . import functional, graph
from ._creation import (BoolTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor, arange,
                        as_tensor, asarray, bartlett_window, bernoulli, blackman_window, empty,
                        empty_like, eye, from_numpy, full, full_like, hamming_window,
                        hann_window, kaiser_window, linspace, logspace, multinomial, normal,
                        ones, ones_like, rand, rand_like, randint, randint_like, randn,
                        randn_like, randperm, zeros, zeros_like)
from .random import Generator
# PyTorch's dtype names (NumPy dtypes); zeroin.float is float32 and zeroin.int is int32, as
# in PyTorch, so these shadow the builtins inside this module only.
from .dtypes import (bool, bfloat16, cdouble, cfloat, complex64, complex128, device, double,  # noqa: A004
                     dtype, float, float16, float32, float64, half, int, int8, int16, int32, int64,
                     long, short, uint8, uint16, uint32, uint64)

# zeroin.add, zeroin.relu, ...: every op registered in zeroin.ops with export=True
globals().update({alias: info.fn for info in ops.OPS.values() if info.export
                  for alias in (info.name,) + info.aliases})
globals().update(_TENSOR_API)       # zeroin.eq, zeroin.numel, zeroin.set_grad_enabled, ...
from ._linalg_more import TORCH_NAMES as _LINALG_OLD
globals().update(_LINALG_OLD)       # zeroin.cholesky_solve, zeroin.svd (old form), zeroin.lu ...
_complex.install(globals())         # ops PyTorch refuses on complex tensors refuse them too
from . import _axis_alias
_axis_alias.install(globals())      # A.cumsum(axis=0): axis= / keepdims= as PyTorch's aliases

__version__ = "0.1.0"

_memory.keep_freed_memory()     # glibc: a step's freed arrays stay mapped for the next one

# Heavier or optional parts load on first use, so `import zeroin` stays fast.
_LAZY = {
    "nn": ("zeroin.nn", None),
    "fft": ("zeroin.fft", None),
    "stft": ("zeroin.fft", "stft"),
    "istft": ("zeroin.fft", "istft"),
    "optim": ("zeroin.optim", None),
    "data": ("zeroin.data", None),
    "vision": ("zeroin.vision", None),
    "utils": ("zeroin.utils", None),
    "func": ("zeroin.func", None),
    "vmap": ("zeroin.func", "vmap"),
    "lessons": ("zeroin.lessons", None),
    "viz": ("zeroin.viz", None),
    "explain": ("zeroin.viz.explain", "explain"),
    "Explanation": ("zeroin.viz.explain", "Explanation"),
    "draw": ("zeroin.viz.draw", "draw"),
    "figures": ("zeroin.viz.figures", None),         # old path, kept as an alias
    "fit": ("zeroin.train", "fit"),
    "History": ("zeroin.train", "History"),
    "metrics": ("zeroin.metrics", None),
    "save": ("zeroin.checkpoint", "save"),
    "load": ("zeroin.checkpoint", "load"),
    "safetensors": ("zeroin.safetensors", None),
    "manual_seed": ("zeroin.random", "manual_seed"),
    "seed": ("zeroin.random", "seed"),
    "initial_seed": ("zeroin.random", "initial_seed"),
    "default_generator": ("zeroin.random", "default_generator"),
    "get_rng_state": ("zeroin.random", "get_rng_state"),
    "set_rng_state": ("zeroin.random", "set_rng_state"),
    "use_deterministic_algorithms": ("zeroin.random", "use_deterministic_algorithms"),
    "are_deterministic_algorithms_enabled": ("zeroin.random",
                                             "are_deterministic_algorithms_enabled"),
    "is_deterministic_algorithms_warn_only_enabled": (
        "zeroin.random", "is_deterministic_algorithms_warn_only_enabled"),
    "set_num_threads": ("zeroin._threads", "set_num_threads"),
    "get_num_threads": ("zeroin._threads", "get_num_threads"),
    "replay": ("zeroin.replay", "replay"),
    "ReplayError": ("zeroin.errors", "ReplayError"),
    "cuda": ("zeroin.cuda", None),
    "amp": ("zeroin.amp", None),
    "autocast": ("zeroin.amp", "autocast"),
    "is_autocast_enabled": ("zeroin.amp", "is_autocast_enabled"),
    "get_autocast_dtype": ("zeroin.amp", "get_autocast_dtype"),
    "set_autocast_dtype": ("zeroin.amp", "set_autocast_dtype"),
    "backends": ("zeroin.backends", None),
    "TypedStorage": ("zeroin._inplace_names", "TypedStorage"),
    "UntypedStorage": ("zeroin._inplace_names", "UntypedStorage"),
    "distributions": ("zeroin.distributions", None),
    "special": ("zeroin.special", None),
    "return_types": ("zeroin.return_types", None),
    "accelerator": ("zeroin.accelerator", None),
    "GradScaler": ("zeroin.amp", "GradScaler"),
    "testing": ("zeroin.testing", None),
    "version": ("zeroin.version", None),
    "jit": ("zeroin.jit", None),
    "onnx": ("zeroin.onnx", None),
    "distributed": ("zeroin.distributed", None),
    "multiprocessing": ("zeroin.multiprocessing", None),
    "cpu": ("zeroin.cpu", None),
    "xpu": ("zeroin.xpu", None),
    "hub": ("zeroin.hub", None),
    "profiler": ("zeroin.profiler", None),
    "quasirandom": ("zeroin.quasirandom", None),
    "sparse": ("zeroin.sparse", None),
}
_LAZY.update(_toplevel.LAZY)        # torch.conv2d, torch.prelu, ...: nn.functional's own


def __getattr__(name):
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'zeroin' has no attribute {name!r}") from None
    mod = _importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
