"""``zeroin.autograd.functional``: PyTorch's ``torch.autograd.functional`` on zeroin.

``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp`` and ``vhp`` with PyTorch's signatures,
results and errors, built on :func:`zeroin.grad` (reverse mode). ``func`` takes the inputs
as separate arguments (a tensor or a tuple of tensors) and returns a tensor or a tuple.
``jvp`` and ``hvp`` use the double-backward trick, as PyTorch's do. ``vectorize=True`` is
accepted and computes the same values row by row; so does ``strategy="forward-mode"``
(zeroin has no forward mode here: with ``vectorize=True``, as PyTorch asks, it gives the
reverse-mode values, as ``zeroin.func.jacfwd`` does; PyTorch's refusals otherwise).
(``zeroin.functional`` is zeroin's older one-tensor API with its own signatures.)
"""
from __future__ import annotations

import numpy as np

from .. import ops
from ..autograd import grad
from .._tensor import Tensor, _leaf, enable_grad, is_grad_enabled
from .._tensor_api import set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    """(was it a tuple, the tensors as a tuple), refusing anything but tensors."""
    is_tuple = isinstance(inp, tuple)
    inp = inp if is_tuple else (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(el)}.")
    return is_tuple, inp


def _unpack(res, to_unpack):
    """Undo :func:`_as_tuple` on results (``to_unpack``: a bool, or two for nested)."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _preprocess(inputs, create_graph, need_graph):
    """New tensor objects for the inputs: connected to their graph only with create_graph."""
    if create_graph:
        return tuple(t.view_as(t) if t.requires_grad else
                     t.detach().requires_grad_(need_graph) for t in inputs)
    return tuple(t.detach().requires_grad_(need_graph) for t in inputs)


def _postprocess(res, create_graph):
    """Detach results (nested tuples too) unless the caller asked for a graph."""
    if create_graph:
        return res
    return tuple(_postprocess(r, False) if isinstance(r, tuple) else r.detach() for r in res)


def _validate_v(v, other, is_other_tuple):
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            prepend = f"Entry {i} in " if is_other_tuple else ""
            raise RuntimeError(f"{prepend}v has invalid size: should be {b.size()!r} but got "
                               f"{a.size()!r}.")


def _check_outputs(outputs, strict):
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not "
                                   f"require gradients. The outputs must be computed in a "
                                   f"differentiable manner from the input when running in "
                                   f"strict mode.")


def _grad(outputs, inputs, grad_outputs=None, create_graph=False, retain_graph=None):
    """:func:`zeroin.grad` that skips outputs without a graph and gives None for unused
    inputs (PyTorch's ``_autograd_grad``)."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad([o for o, _ in pairs], list(inputs), [g for _, g in pairs],
                retain_graph=retain_graph, create_graph=create_graph, allow_unused=True)


_ZERO_MSG = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads, refs, strict, create_graph, stage):
    """None (no path) becomes zeros shaped as ``refs``; strict mode refuses it instead."""
    res = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(_ZERO_MSG[stage].format(i=i))
            g = _zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               f"create_graph=True.")
        res.append(g)
    return tuple(res)


def _zeros_like(t, requires_grad=False):
    z = _leaf(np.zeros(t.shape, dtype=t.dtype))
    return z.requires_grad_() if requires_grad else z


def _v_or_one(v, inputs, is_inputs_tuple, create_graph, fn_name):
    """``v`` checked against the inputs, or None where the input has one element."""
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _preprocess(v, create_graph, need_graph=False)
        _validate_v(v, inputs, is_inputs_tuple)
    elif len(inputs) != 1 or inputs[0].nelement() != 1:
        raise RuntimeError("The vector v can only be None if the input to the user-provided "
                           "function is a single Tensor with a single element.")
    return v


def _outputs(func, inputs, strict, op):
    """``func(*inputs)`` as (whether it was a tuple, a tuple of tensors), checked."""
    is_outputs_tuple, outputs = _as_tuple(
        func(*inputs), "outputs of the user-provided function", op)
    _check_outputs(outputs, strict)
    return is_outputs_tuple, outputs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), v^T J)``: the vector-Jacobian product, shaped as the inputs.

    ``v`` matches the outputs; it may be None when ``func`` returns one one-element tensor.
    Inputs the outputs do not depend on get zeros (``strict=True``: an error).
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _outputs(func, inputs, strict, "vjp")
        if v is not None:
            _, v = _as_tuple(v, "v", "vjp")
            v = _preprocess(v, create_graph, need_graph=False)
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].nelement() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "back")
    return (_unpack(_postprocess(outputs, create_graph), is_outputs_tuple),
            _unpack(_postprocess(res, create_graph), is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), J v)``: the Jacobian-vector product, shaped as the outputs.

    ``v`` matches the inputs (None for one one-element input). Computed as PyTorch does,
    by the double-backward trick: two reverse passes, no forward mode.
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        v = _v_or_one(v, inputs, is_inputs_tuple, create_graph, "jvp")
        is_outputs_tuple, outputs = _outputs(func, inputs, strict, "jvp")
        # backward is linear in its seed: u -> J^T u; its gradient with respect to u is J v
        seeds = tuple(_zeros_like(out, requires_grad=True) for out in outputs)
        grad_inputs = _grad(outputs, inputs, seeds, create_graph=True)
        if strict:
            for i, g in enumerate(grad_inputs):
                if g is None:
                    raise RuntimeError(_ZERO_MSG["back"].format(i=i))
                if not g.requires_grad:
                    raise RuntimeError(f"The gradient with respect to input {i} is "
                                       f"independent of the inputs of the user-provided "
                                       f"function. This is not allowed in strict mode.")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(grad_inputs, seeds, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_unpack(_postprocess(outputs, create_graph), is_outputs_tuple),
            _unpack(_postprocess(res, create_graph), is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape``.

    A tensor for one input and one output; a tuple over inputs (or outputs), and a tuple
    of tuples ``J[i][j]`` (output i, input j) when both are tuples. ``vectorize`` changes
    nothing here (the rows are computed one by one either way); ``strategy="forward-mode"``
    gives the same values (reverse mode), with PyTorch's conditions.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or '
                             '"reverse-mode". Hint: If your function has more outputs than '
                             'inputs, "forward-mode" tends to be more performant. Otherwise, '
                             'prefer to use "reverse-mode".')
    if strategy == "forward-mode":        # PyTorch's refusals; then reverse mode's values
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either '
                'set `strict=False` or `strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or "
                                      "forward-over-reverse Hessian is only implemented for "
                                      "`vectorize=True`.")
    if strict and vectorize:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _preprocess(inputs, create_graph, need_graph=True)
        is_outputs_tuple, outputs = _outputs(func, inputs, strict, "jacobian")
        jac = tuple(_jacobian_rows(i, out, inputs, create_graph, strict)
                    for i, out in enumerate(outputs))
        jac = _postprocess(jac, create_graph)
    return _unpack(jac, (is_outputs_tuple, is_inputs_tuple))


def _jacobian_rows(i, out, inputs, create_graph, strict):
    """d out / d input for each input: one backward pass per element of ``out``."""
    rows = tuple([] for _ in inputs)
    n = out.nelement()
    for j in range(n):
        seed = np.zeros(n, dtype=out.dtype)
        seed[j] = 1
        seed = _leaf(seed.reshape(out.shape))
        vj = _grad((out,), inputs, (seed,), retain_graph=True, create_graph=create_graph)
        for k, (g, inp) in enumerate(zip(vj, inputs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"Output {i} of the user-provided function is "
                                       f"independent of input {k}. This is not allowed in "
                                       f"strict mode.")
                g = _zeros_like(inp)
            elif strict and create_graph and not g.requires_grad:
                raise RuntimeError(f"The jacobian of the user-provided function is "
                                   f"independent of input {i}. This is not allowed in "
                                   f"strict mode when create_graph=True.")
            rows[k].append(g)
    return tuple(_stack(r, out.shape + inp.shape, inp) for r, inp in zip(rows, inputs))


def _stack(rows, shape, inp):
    if not rows:            # an output without elements
        return _leaf(np.zeros(shape, dtype=inp.dtype))
    return ops.stack(rows).reshape(shape)


def _single_output(func, fn_name, strict):
    """``func`` checked to return one one-element tensor (for hessian, hvp and vhp)."""
    def checked(*inp):
        out = func(*inp)
        is_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", fn_name)
        _check_outputs(t_out, strict)
        if is_tuple:
            raise RuntimeError(f"The function given to {fn_name} should return a single "
                               f"Tensor")
        if out.nelement() != 1:
            raise RuntimeError(f"The Tensor returned by the function given to {fn_name} "
                               f"should contain a single element")
        return out
    return checked


def _check_jacobian(jac, strict, what="jacobian"):
    if not strict:
        return
    for i, g in enumerate(jac):
        if g is None or not g.requires_grad:
            if what == "hessian":
                raise RuntimeError(f"The hessian of the user-provided function with respect "
                                   f"to input {i} is independent of the input. This is not "
                                   f"allowed in strict mode. You should ensure that your "
                                   f"function is thrice differentiable and that the hessian "
                                   f"depends on the inputs.")
            raise RuntimeError(f"While computing the hessian, found that the jacobian of the "
                               f"user-provided function with respect to input {i} is "
                               f"independent of the input. This is not allowed in strict "
                               f"mode. You should ensure that your function is twice "
                               f"differentiable and that the jacobian depends on the inputs "
                               f"(this would be violated by a linear function for example).")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of scalar ``func`` at ``inputs``: shape ``input.shape + input.shape``;
    for a tuple of inputs a tuple of tuples ``H[i][j]``."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or '
                             '"reverse-mode".')
    single = _single_output(func, "hessian", strict)

    def jac_func(*inp):
        jac = jacobian(lambda *x: single(*x).squeeze(), inp, create_graph=True)
        _check_jacobian(jac, strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(res, (is_inputs_tuple, is_inputs_tuple))


def _gradient_first(func, inputs, v, create_graph, strict, op):
    """What vhp and hvp start from (grad mode on): the inputs and ``v`` checked, the
    scalar output, and its gradient recorded so that it can be differentiated again."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", op)
    inputs = _preprocess(inputs, create_graph, need_graph=True)
    v = _v_or_one(v, inputs, is_inputs_tuple, create_graph, op)
    outputs = (_single_output(func, op, strict)(*inputs),)
    jac = _grad(outputs, inputs, create_graph=True)
    _check_jacobian(jac, strict)
    return is_inputs_tuple, inputs, v, outputs, jac


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), v^T H)`` for scalar ``func``: shaped as the inputs."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _gradient_first(
            func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back")
    return (_postprocess(outputs, create_graph)[0],
            _unpack(_postprocess(res, create_graph), is_inputs_tuple))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(*inputs), H v)`` for scalar ``func``, by the double-backward trick (for a
    twice-differentiable ``func`` H is symmetric, so this equals :func:`vhp`)."""
    with enable_grad():
        is_inputs_tuple, inputs, v, outputs, jac = _gradient_first(
            func, inputs, v, create_graph, strict, "hvp")
        seeds = tuple(_zeros_like(inp, requires_grad=True) for inp in inputs)
        double_back = _grad(jac, inputs, seeds, create_graph=True)
        _check_jacobian(jac, strict, "hessian")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        res = _grad(double_back, seeds, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back_trick")
    return (_postprocess(outputs, create_graph)[0],
            _unpack(_postprocess(res, create_graph), is_inputs_tuple))
