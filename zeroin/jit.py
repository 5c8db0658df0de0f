"""PyTorch's ``torch.jit`` names, so that TorchScript-decorated code runs eagerly: zeroin
has no compiler, so ``script``/``trace`` give back the function or module itself (as
``zeroin.compile`` does), the decorators return what they decorate, ``fork`` runs now.
``save``/``load`` are refused: a TorchScript archive holds compiled code zeroin cannot run
or write (use ``zeroin.save`` or ``zeroin.safetensors`` for weights)."""
import warnings
from typing import Final  # noqa: F401  (torch.jit.Final is typing.Final)

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "Final", "annotate", "fork", "wait", "Future", "save", "load",
           "freeze", "optimize_for_inference", "script_method", "interface", "ScriptModule",
           "ScriptFunction", "Attribute"]

_NO_ARCHIVE = ("a TorchScript archive holds compiled TorchScript code, which zeroin (an "
               "eager NumPy engine) can neither write nor run; save the weights with "
               "zeroin.save(model.state_dict(), path) or zeroin.safetensors.save_file, and "
               "build the model in Python to load them")


def _deprecated(name, instead="zeroin.compile"):
    """PyTorch 2.13 deprecates TorchScript and warns on these calls; so does zeroin."""
    warnings.warn(f"`jit.{name}` is deprecated (PyTorch deprecates TorchScript); zeroin runs "
                  f"the code eagerly: drop the call, or use `{instead}`", DeprecationWarning,
                  stacklevel=3)


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """``torch.jit.script``: ``obj`` itself, run eagerly (no TorchScript compiler)."""
    if not callable(obj) and not isinstance(obj, type):
        raise TypeError(f"jit.script: expected a Module, a function or a class, got "
                        f"{type(obj).__name__}")
    _deprecated("script")
    return obj


def _args(example_inputs, op):
    if example_inputs is None:
        raise TypeError(f"{op}: example_inputs is None; give the input(s) to run once, a "
                        f"tensor or a tuple of them")
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) \
        else (example_inputs,)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """``torch.jit.trace``: runs ``func`` once on the example inputs (so a wrong shape
    fails here, as when tracing) and returns ``func`` itself, which runs eagerly."""
    _deprecated("trace")
    if example_kwarg_inputs is not None:
        if not isinstance(example_kwarg_inputs, dict):
            raise TypeError("jit.trace: example_kwarg_inputs must be a dict")
        func(**example_kwarg_inputs)
    else:
        func(*_args(example_inputs, "jit.trace"))
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-5, strict=True, _force_outplace=False, _module_class=None,
                 _compilation_unit=None, example_inputs_is_kwarg=False, _store_inputs=True):
    """``torch.jit.trace_module``: runs each named method on its example inputs
    (``inputs = {"forward": x, ...}``) and returns ``mod`` itself."""
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    _deprecated("trace_module")
    for name, example in inputs.items():
        method = mod if name == "forward" else getattr(mod, name)
        if example_inputs_is_kwarg:
            method(**example)
        else:
            method(*_args(example, "jit.trace_module"))
    return mod


def ignore(drop=False, **kwargs):
    """``@torch.jit.ignore`` or ``@torch.jit.ignore(drop=True)``: the function unchanged."""
    if callable(drop):
        return drop
    if drop:
        warnings.warn("ignore(True) has been deprecated. TorchScript will now drop the "
                      "function call on compilation. Use jit.unused now.", FutureWarning,
                      stacklevel=2)
    return lambda fn: fn


def unused(fn):
    """``@torch.jit.unused``: the function unchanged."""
    return fn


def export(fn):
    """``@torch.jit.export``: the method unchanged."""
    return fn


script_method = export


def interface(obj):
    """``@torch.jit.interface``: the class unchanged."""
    return obj


def is_scripting():
    """False: zeroin code always runs eagerly, never inside TorchScript."""
    return False


def is_tracing():
    """False: zeroin never traces."""
    return False


def annotate(the_type, the_value):
    """``torch.jit.annotate``: ``the_value`` (the type is for the TorchScript compiler)."""
    return the_value


def Attribute(value, type):  # noqa: N802, A002
    """``torch.jit.Attribute``: ``value`` (the type is for the TorchScript compiler)."""
    return value


class Future:
    """The result of :func:`fork`, computed already: ``wait()``/``value()`` give it."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    value = wait

    def done(self):
        return True


def fork(func, *args, **kwargs):
    """``torch.jit.fork``: calls ``func(*args, **kwargs)`` now (as PyTorch outside
    TorchScript) and returns a finished :class:`Future`."""
    _deprecated("fork")
    return Future(func(*args, **kwargs))


def wait(future):
    """``torch.jit.wait``: the value of a :func:`fork`'s future."""
    _deprecated("wait")
    return future.wait()


def freeze(mod, preserved_attrs=None, optimize_numerics=True):
    """``torch.jit.freeze``: ``mod`` itself (nothing is compiled, so nothing to fold)."""
    _deprecated("freeze")
    return mod


def optimize_for_inference(mod, other_methods=None):
    """``torch.jit.optimize_for_inference``: ``mod`` itself."""
    return mod


def save(m, f, _extra_files=None):
    """Refused: zeroin cannot write a TorchScript archive (see the module's docstring)."""
    raise NotImplementedError(f"jit.save: {_NO_ARCHIVE}")


def load(f, map_location=None, _extra_files=None, _restore_shapes=False):
    """Refused: zeroin cannot run a TorchScript archive (see the module's docstring)."""
    raise NotImplementedError(f"jit.load: {_NO_ARCHIVE}")


def __getattr__(name):
    if name in ("ScriptModule", "ScriptFunction"):
        return _script_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _script_classes():
    """``ScriptModule``/``ScriptFunction`` for ``isinstance`` checks: nothing zeroin makes
    is one, as nothing is compiled (``ScriptModule`` is a Module, as PyTorch's)."""
    from .nn import Module
    classes = {"ScriptModule": type("ScriptModule", (Module,), {"__module__": __name__}),
               "ScriptFunction": type("ScriptFunction", (), {"__module__": __name__})}
    globals().update(classes)
    return classes
