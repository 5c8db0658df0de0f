"""PyTorch's ``torch.hub``: the cache folder (``get_dir``/``set_dir``, PyTorch's rules and
environment variables) and ``load(dir, name, source='local')``, which calls an entry point
of a local ``hubconf.py``. Downloading is refused: zeroin fetches nothing from the network,
and a hub checkpoint (``.pth``) is a pickle, which zeroin never loads (unpickling can run
code). Download the weights yourself and load them with ``zeroin.load`` (a PyTorch zip
checkpoint is refused with how to convert it) or ``zeroin.safetensors.load_file``."""
import importlib.util
import os
import sys
import warnings

__all__ = ["get_dir", "set_dir", "load", "list", "help", "load_state_dict_from_url",
           "download_url_to_file"]

ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
MODULE_HUBCONF = "hubconf.py"
_hub_dir = [None]

_NO_DOWNLOAD = ("zeroin does not download (no network access), and a hub checkpoint is a "
                "pickle, which zeroin never loads because unpickling runs code from the file; "
                "download it yourself, save its state_dict with PyTorch's "
                "safetensors.torch.save_file, and read it with zeroin.safetensors.load_file")


def __getattr__(name):
    """``tqdm``: tqdm's progress bar, as ``torch.hub`` re-exports it (``from torch.hub import
    tqdm``); imported here, on first use, so that ``import zeroin`` stays light."""
    if name != "tqdm":
        raise AttributeError(f"module 'zeroin.hub' has no attribute {name!r}")
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("zeroin.hub.tqdm is tqdm's progress bar: pip install tqdm") from None
    return tqdm


def _torch_home():
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, os.path.join(
        os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")))


def get_dir():
    """The hub cache folder: the one :func:`set_dir` gave, else ``$TORCH_HOME/hub``
    (``$TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch``, that to ``~/.cache``)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead",
                      stacklevel=2)
    if _hub_dir[0] is not None:
        return _hub_dir[0]
    return os.path.join(_torch_home(), "hub")


def set_dir(d):
    """Use ``d`` (``~`` expanded) as the hub cache folder."""
    _hub_dir[0] = os.path.expanduser(d)


def _local_hubconf(repo_dir):
    path = os.path.join(repo_dir, MODULE_HUBCONF)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"hub.load: no {MODULE_HUBCONF} in {repo_dir!r}")
    spec = importlib.util.spec_from_file_location("hubconf", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, repo_dir)
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(repo_dir)
    return module


def load(repo_or_dir, model, *args, source="github", trust_repo=None, force_reload=False,
         verbose=True, skip_validation=False, **kwargs):
    """``source='local'``: call entry point ``model`` of ``repo_or_dir/hubconf.py`` with
    ``*args, **kwargs``; ``source='github'`` is refused (no download)."""
    source = source.lower()
    if source not in ("github", "local"):
        raise ValueError(f'Unknown source: "{source}". Allowed values: "github" | "local".')
    if source == "github":
        raise NotImplementedError(f"hub.load({repo_or_dir!r}): {_NO_DOWNLOAD}; or clone the "
                                  f"repository and use hub.load(path, model, "
                                  f"source='local')")
    entry = getattr(_local_hubconf(repo_or_dir), model, None)
    if entry is None or not callable(entry):
        raise RuntimeError(f"Cannot find callable {model} in hubconf")
    return entry(*args, **kwargs)


def list(github, force_reload=False, skip_validation=False, trust_repo=None, verbose=True):  # noqa: A001
    """Refused: listing a GitHub repository's entry points needs a download."""
    raise NotImplementedError(f"hub.list({github!r}): {_NO_DOWNLOAD}")


def help(github, model, force_reload=False, skip_validation=False, trust_repo=None):  # noqa: A001
    """Refused: reading a GitHub repository's entry points needs a download."""
    raise NotImplementedError(f"hub.help({github!r}): {_NO_DOWNLOAD}")


def load_state_dict_from_url(url, model_dir=None, map_location=None, progress=True,
                             check_hash=False, file_name=None, weights_only=False):
    """Refused: no download and no unpickling (see the module's docstring)."""
    raise NotImplementedError(f"hub.load_state_dict_from_url({url!r}): {_NO_DOWNLOAD}")


def download_url_to_file(url, dst, hash_prefix=None, progress=True):
    """Refused: zeroin does not download."""
    raise NotImplementedError(f"hub.download_url_to_file({url!r}): zeroin does not "
                              f"download (no network access); fetch the file yourself")
