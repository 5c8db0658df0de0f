"""PyTorch's semantics where zeroin shares a name: result dtypes, raise-or-promote and
edge inputs, with torch as the oracle."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.nn.functional as F
from zeroin.errors import DtypeError

torch = pytest.importorskip("torch")
TF = torch.nn.functional

_MIXES = [("float32", "float64"), ("float64", "float32"), ("float32", "float32"),
          ("float64", "float64")]
_LOSSES = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "soft_margin_loss", "multilabel_soft_margin_loss",
           "kl_div", "poisson_nll_loss", "cross_entropy"]


def _outcome(fn):
    """The result's dtype name, or 'raises' where the call refuses the dtypes."""
    try:
        return str(fn().dtype).replace("torch.", "")
    except (RuntimeError, TypeError):
        return "raises"


def _pair(da, db, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 0.9, (2, 3)).astype(da), (rng.random((2, 3)) > 0.5).astype(db)


@pytest.mark.parametrize("name", _LOSSES)
@pytest.mark.parametrize("da,db", _MIXES)
def test_loss_dtype_mixes_as_torch(name, da, db):
    """float32/float64 mixes of input and target: torch's result dtype, or its refusal
    (binary_cross_entropy wants one dtype; ..._with_logits takes the target's)."""
    a, b = _pair(da, db)
    if name == "cross_entropy":
        b = np.full((2, 3), 1 / 3, dtype=db)        # class probabilities
    want = _outcome(lambda: getattr(TF, name)(torch.tensor(a), torch.tensor(b), reduction="sum"))
    got = _outcome(lambda: getattr(F, name)(zeroin.tensor(a), zeroin.tensor(b), reduction="sum"))
    assert got == want, (name, da, db)


@pytest.mark.parametrize("kw", ["weight", "pos_weight"])
@pytest.mark.parametrize("da,db,dw", [("float32", "float32", "float64"),
                                      ("float64", "float64", "float32"),
                                      ("float32", "float64", "float64"),
                                      ("float64", "float32", "float64")])
def test_binary_loss_weights_keep_dtype_as_torch(kw, da, db, dw):
    """A weight of another dtype does not promote the binary losses (torch multiplies in
    place); the gradients come back in each operand's dtype."""
    a, b = _pair(da, db, 1)
    w = np.linspace(0.5, 2, 3).astype(dw)
    names = ["binary_cross_entropy_with_logits"] + (["binary_cross_entropy"]
                                                    if kw == "weight" else [])
    for name in names:
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        za, zb = zeroin.tensor(a, requires_grad=True), zeroin.tensor(b, requires_grad=True)
        want = _outcome(lambda: getattr(TF, name)(ta, tb, **{kw: torch.tensor(w)}))
        got = _outcome(lambda: getattr(F, name)(za, zb, **{kw: zeroin.tensor(w)}))
        assert got == want, name
        if want != "raises":
            tl = getattr(TF, name)(ta, tb, **{kw: torch.tensor(w)})
            zl = getattr(F, name)(za, zb, **{kw: zeroin.tensor(w)})
            tl.backward()
            zl.backward()
            np.testing.assert_allclose(zl.item(), tl.item(), rtol=1e-5)
            for z, t in ((za, ta), (zb, tb)):
                assert str(z.grad.dtype) == str(t.grad.dtype).replace("torch.", "")
                np.testing.assert_allclose(z.grad.numpy(), t.grad.numpy(), rtol=1e-4,
                                           atol=1e-6)


def test_binary_losses_refuse_other_targets_with_the_fix():
    x = zeroin.tensor(np.full((2, 3), 0.3, dtype="float32"))
    with pytest.raises(DtypeError, match=r"binary_cross_entropy: input \(dtype float32\) "
                       r"and target \(dtype float64\).*target.to\(input.dtype\)"):
        zeroin.nn.BCELoss()(x, zeroin.ones(2, 3, dtype=zeroin.float64))
    for t in (zeroin.ones(2, 3, dtype=zeroin.int64), zeroin.ones(2, 3, dtype=zeroin.bool)):
        for name in ("binary_cross_entropy", "binary_cross_entropy_with_logits"):
            with pytest.raises(DtypeError, match=f"{name}: the target must be floating point"
                               f".*got dtype {t.dtype}.*target.to"):
                getattr(F, name)(x, t)
            with pytest.raises(RuntimeError):
                getattr(TF, name)(torch.full((2, 3), 0.3), torch.tensor(t.numpy()))


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_weight_of_another_dtype_raises_as_torch(name):
    x = np.random.default_rng(2).random((2, 3)).astype("float32")
    w = np.ones(3)
    with pytest.raises(RuntimeError):
        getattr(TF, name)(torch.tensor(x), torch.tensor([0, 1]), weight=torch.tensor(w))
    with pytest.raises(DtypeError, match=f"{name}: weight \\(dtype float64\\) must have the "
                       "input's dtype float32.*weight.to"):
        getattr(F, name)(zeroin.tensor(x), zeroin.tensor([0, 1]), weight=zeroin.tensor(w))


@pytest.mark.parametrize("da,db,dw", [("float32", "float64", None), ("float64", "float32", None),
                                      ("float32", "float32", "float64")])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_probability_target_promotes_as_torch(da, db, dw, smoothing):
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(4, 3)).astype(da), rng.dirichlet(np.ones(3), 4).astype(db)
    kw = {} if dw is None else {"weight": np.linspace(1, 2, 3).astype(dw)}
    tx = torch.tensor(x, requires_grad=True)
    tl = TF.cross_entropy(tx, torch.tensor(t), label_smoothing=smoothing,
                          **{k: torch.tensor(v) for k, v in kw.items()})
    zx = zeroin.tensor(x, requires_grad=True)
    zl = F.cross_entropy(zx, zeroin.tensor(t), label_smoothing=smoothing,
                         **{k: zeroin.tensor(v) for k, v in kw.items()})
    tl.backward()
    zl.backward()
    assert str(zl.dtype) == str(tl.dtype).replace("torch.", "")
    assert str(zx.grad.dtype) == da
    np.testing.assert_allclose(zl.item(), tl.item(), rtol=1e-5)
    np.testing.assert_allclose(zx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)


# --- in-place arithmetic that does not fit the tensor's dtype ------------------------------

@pytest.fixture
def torch_default():
    """Put torch's default dtype back after a test that changes it."""
    old = torch.get_default_dtype()
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.parametrize("symbol,value", [("/", 2), ("/", "int_tensor"), ("+", 0.5),
                                          ("*", "f32_tensor")])
def test_inplace_int_refusal_names_torchs_result_dtype(torch_default, default, symbol, value):
    """``int_tensor /= 2`` raises as in PyTorch, naming the result dtype PyTorch computes
    (the default float dtype for ``/ 2``, float32 for a float32 operand) and the fix."""
    import operator
    iop = {"/": operator.itruediv, "+": operator.iadd, "*": operator.imul}[symbol]
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, default))
    mk = {"int_tensor": lambda lib: lib.tensor([2, 4]),
          "f32_tensor": lambda lib: lib.tensor([1.5, 2.0], dtype=lib.float32)}
    operands = [mk[value](lib) if isinstance(value, str) else value for lib in (torch, zeroin)]
    with pytest.raises(RuntimeError) as t_err:
        iop(torch.tensor([1, 2]), operands[0])
    want = {"Float": "float32", "Double": "float64"}[
        str(t_err.value).split("result type ")[1].split()[0]]
    z = zeroin.tensor([1, 2])
    with pytest.raises(RuntimeError, match=f"in-place \\{symbol}=: result type {want} .*"
                       f"output type int64.*t = t \\{symbol} v.*t.to\\(zeroin.{want}\\)"):
        iop(z, operands[1])
    assert z.tolist() == [1, 2]         # untouched


# --- softshrink ---------------------------------------------------------------------------

def test_softshrink_sign_of_zero_depends_on_torchs_length_so_zeroin_keeps_plus_zero():
    """Review notes said softshrink loses torch's signed zero: torch's -0.0 for x in
    [-lambd, 0] comes only from its kernel's scalar tail (one value gives -0.0; 64, a
    multiple of every vector width, +0.0: with AVX512 15 give -0.0 and 16 +0.0), so zeroin
    keeps +0.0 everywhere (README) and matches torch's values and gradient."""
    signs = {n: np.signbit(TF.softshrink(torch.full((n,), -0.3)).numpy())
             for n in (1, 64)}
    assert signs[1].all() and not signs[64].any()
    x = np.array([-0.9, -0.5, -0.3, -0.0, 0.0, 0.3, 0.5, 0.9, np.inf, -np.inf, np.nan],
                 dtype="float32")
    tx = torch.tensor(x, requires_grad=True)
    zx = zeroin.tensor(x, requires_grad=True)
    ty, zy = TF.softshrink(tx, 0.5), F.softshrink(zx, 0.5)
    np.testing.assert_array_equal(zy.numpy(), ty.detach().numpy())
    assert not np.signbit(zy.numpy()[np.abs(x) <= 0.5]).any()
    assert zy.dtype == zeroin.float32
    keep = np.isfinite(x)
    (ty[torch.tensor(keep)].sum()).backward()
    (zy[zeroin.tensor(keep)].sum()).backward()
    np.testing.assert_array_equal(zx.grad.numpy(), tx.grad.numpy())


def test_softshrink_gradcheck_away_from_the_kinks():
    x = zeroin.tensor([-1.3, -0.2, 0.1, 0.7, 2.0], requires_grad=True)
    assert zeroin.gradcheck(lambda t: F.softshrink(t, 0.5), (x,))


@pytest.mark.parametrize("name", ["softshrink", "hardshrink"])
def test_shrinks_refuse_integer_input_as_torch(name):
    for dtype in ("int64", "bool"):
        with pytest.raises(NotImplementedError):
            getattr(TF, name)(torch.tensor(np.array([1, 0], dtype=dtype)), 0.5)
        with pytest.raises(NotImplementedError, match=f"{name}: not implemented for dtype "
                           f"{dtype}.*x.float"):
            getattr(F, name)(zeroin.tensor(np.array([1, 0], dtype=dtype)), 0.5)


# --- F.pad's modes -------------------------------------------------------------------------

_PAD_CASES = [((3,), (1, 1)), ((1, 3), (1, 1)), ((1, 3), (2, 2)), ((1, 3), (3, 0)),
              ((1, 3), (1, 1, 1, 1)), ((1, 3), (1,)), ((1, 3), (1, 1, 1)), ((2, 1, 3), (2, 2)),
              ((2, 1, 3), (3, 3)), ((2, 1, 3), (1, 1, 1, 1)), ((2, 2, 3), (1, 1, 2, 2)),
              ((1, 1, 2, 2), (1, 1, 1, 1)), ((1, 1, 2, 2), (2, 2, 2, 2)),
              ((1, 1, 2, 2, 2), (1, 1, 1, 1, 1, 1)), ((1, 1, 1, 2, 2, 2), (1, 1)),
              ((1, 1, 1, 2, 2, 2), (1, 1, 1, 1)), ((1, 4), (-1, -1)), ((1, 4), (-1, 2)),
              ((1, 0), (1, 1)), ((0, 3), (1, 1)), ((0, 2, 3), (1, 1)), ((0, 2, 3), (1, 1, 1, 1)),
              ((2, 0, 3), (1, 1)), ((2, 3, 0), (0, 0)), ((1, 3), (4, 4)), ((2, 1, 3), (0, 3)),
              ((1, 3), (0, 0)), ((), (1, 1)), ((2, 3, 4), (1, 1, 1, 1, 1, 1)),
              ((1, 2, 3, 4, 5), (1, 1)), ((2, 3), (1, 1, 1, 1, 1, 1)),
              ((1, 3), (-3, 1)), ((2, 2, 3), (1, 1, -2, -2))]


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", _PAD_CASES)
def test_pad_modes_take_and_refuse_what_torch_does(mode, shape, pad):
    """The number of pad values per input ndim, the sizes each mode can pad from, empty
    dimensions and crops to nothing: zeroin's result equals torch's, or both raise."""
    a = np.arange(float(np.prod(shape))).reshape(shape)
    if mode == "circular" and pad == (-3, 1):
        # torch crops to nothing, then "wraps" uninitialised memory: zeroin refuses
        with pytest.raises(ValueError, match="circular padding .* wraps around at most once"):
            F.pad(zeroin.tensor(a), pad, mode=mode)
        return
    try:
        want = TF.pad(torch.tensor(a), pad, mode=mode).numpy()
    except (RuntimeError, NotImplementedError):
        with pytest.raises((RuntimeError, NotImplementedError, ValueError), match="pad"):
            F.pad(zeroin.tensor(a), pad, mode=mode)
        return
    np.testing.assert_array_equal(F.pad(zeroin.tensor(a), pad, mode=mode).numpy(), want)


def test_pad_mode_refusals_name_the_rule_and_the_fix():
    with pytest.raises(NotImplementedError, match=r"pad: 2 pad values with mode='reflect' "
                       r"are not supported for a 1-D input \(shape \(3,\)\).*unsqueeze\(0\)"):
        F.pad(zeroin.ones(3), (1, 1), mode="reflect")
    with pytest.raises(NotImplementedError, match="6 pad values .* 3-D input.*give 2 or 4"):
        F.pad(zeroin.ones(2, 3, 4), (1,) * 6, mode="replicate")
    with pytest.raises(ValueError, match=r"mode='reflect' needs non-empty dimensions.*"
                       r"\(2, 0, 3\)"):
        F.pad(zeroin.ones(2, 0, 3), (1, 1), mode="reflect")


# --- zeroin.tensor of NumPy scalars and 0-d arrays ---------------------------------------

@pytest.mark.parametrize("default", ["float32", "float64"])
def test_tensor_of_numpy_scalars_keeps_their_dtype_as_torch(torch_default, default):
    values = [np.float16(1.5), np.float32(1.5), np.float64(1.5), np.int8(3), np.int32(3),
              np.uint8(3), np.bool_(True), np.complex64(1 + 1j),
              np.array(1.5, dtype=np.float16), np.array(1.5, dtype=np.float32),
              np.array(1.5), np.array(3, dtype=np.int8), np.array(True),
              [np.float16(1.5)], [np.int8(1), np.int8(2)], [np.float32(1), 2], 1.5, [1, 2.5]]
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, default))
    for v in values:
        for make in ("tensor", "as_tensor"):
            want = str(getattr(torch, make)(v).dtype).replace("torch.", "")
            got = getattr(zeroin, make)(v)
            assert str(got.dtype) == want, (make, repr(v))
            assert got.shape == np.shape(v)


# --- a learner's first hour of ops on edge inputs ----------------------------------------

_EDGE = {
    "f32": np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype=np.float32),
    "i64": np.array([[1, -2, 3], [0, 4, -1]], dtype=np.int64),
    "bool": np.array([[True, False, True], [False, False, True]]),
    "u8": np.array([[1, 2, 3], [200, 4, 5]], dtype=np.uint8),
    "empty": np.zeros((0, 3), dtype=np.float32),
    "empty_i": np.zeros((0, 3), dtype=np.int64),
    "0d": np.array(2.5, dtype=np.float32),
    "0d_i": np.array(3, dtype=np.int64),
}
_SWEEP = {
    "sum": lambda L, x: x.sum(), "sum_dim": lambda L, x: x.sum(dim=1),
    "sum_keep": lambda L, x: x.sum(-1, keepdim=True), "mean": lambda L, x: x.mean(),
    "mean_dim": lambda L, x: x.mean(0), "max": lambda L, x: x.max(),
    "max_dim": lambda L, x: x.max(dim=1)[0], "max_idx": lambda L, x: x.max(1)[1],
    "max_keep": lambda L, x: x.max(-1, keepdim=True)[0], "min_dim": lambda L, x: x.min(0).values,
    "argmax": lambda L, x: x.argmax(), "argmax_dim": lambda L, x: x.argmax(dim=1),
    "argmax_keep": lambda L, x: x.argmax(dim=-1, keepdim=True),
    "argmin": lambda L, x: x.argmin(0), "amax": lambda L, x: x.amax(dim=-1),
    "prod": lambda L, x: x.prod(1), "std": lambda L, x: x.std(), "var": lambda L, x: x.var(1),
    "logsumexp": lambda L, x: x.logsumexp(-1), "topk": lambda L, x: x.topk(1)[0],
    "topk_idx": lambda L, x: x.topk(1)[1], "topk_dim": lambda L, x: x.topk(2, dim=0)[0],
    "sort": lambda L, x: x.sort()[0], "sort_idx": lambda L, x: x.sort(dim=0, descending=True)[1],
    "argsort": lambda L, x: x.argsort(dim=-1), "cumsum": lambda L, x: x.cumsum(0),
    "cumsum_neg": lambda L, x: x.cumsum(dim=-1), "cumprod": lambda L, x: x.cumprod(1),
    "gather": lambda L, x: x.gather(1, L.tensor([[0], [2]])),
    "scatter_add": lambda L, x: x.scatter_add(1, L.tensor([[0], [1]]), x[:, :1]),
    "where": lambda L, x: L.where(x > 0, x, 0),
    "where_t": lambda L, x: L.where(x > 0, x, L.zeros_like(x)),
    "clamp": lambda L, x: x.clamp(0, 2), "clamp_float": lambda L, x: x.clamp(min=0.5),
    "clamp_tensor": lambda L, x: L.clamp(x, max=L.tensor(1.0)),
    "clamp_tensors": lambda L, x: L.clamp(x, min=L.zeros(3, dtype=L.float32),
                                          max=L.tensor(2.0, dtype=L.float64)),
    "masked_fill": lambda L, x: x.masked_fill(x > 1, 0.5),
    "masked_fill_int": lambda L, x: x.masked_fill(x > 1, 9),
    "view": lambda L, x: x.view(-1), "reshape": lambda L, x: x.reshape(3, -1),
    "permute": lambda L, x: x.permute(-1, -2), "transpose": lambda L, x: x.transpose(0, 1),
    "t": lambda L, x: x.t(), "expand": lambda L, x: x[:1].expand(4, -1),
    "expand_0d": lambda L, x: x.expand(2, 2), "repeat": lambda L, x: x.repeat(1, 2, 1),
    "cat": lambda L, x: L.cat([x, x], dim=-1), "cat_mixed": lambda L, x: L.cat([x, x.double()]),
    "stack": lambda L, x: L.stack([x, x], dim=-1),
    "one_hot": lambda L, x: L.nn.functional.one_hot(x),
    "one_hot_n": lambda L, x: L.nn.functional.one_hot(x, 5),
    "softmax": lambda L, x: L.softmax(x, dim=1),
    "log_softmax": lambda L, x: L.nn.functional.log_softmax(x, dim=-1),
    "squeeze": lambda L, x: x.squeeze(0), "unsqueeze": lambda L, x: x.unsqueeze(-1),
    "flatten": lambda L, x: x.flatten(1), "div": lambda L, x: x / 2,
    "floordiv": lambda L, x: x // 2, "mod": lambda L, x: x % 2, "sqrt": lambda L, x: x.sqrt(),
    "exp": lambda L, x: x.exp(), "norm": lambda L, x: x.norm(),
    "lerp": lambda L, x: L.lerp(x, x * 2, 0.5), "index_select": lambda L, x: x.index_select(
        -1, L.tensor([0, 2])), "dropout_eval": lambda L, x: L.nn.functional.dropout(
        x, 0.5, training=False), "dropout_p1": lambda L, x: L.nn.functional.dropout(x, 1.0),
    "median": lambda L, x: x.median(dim=-1)[0],
    "bincount": lambda L, x: L.bincount(x.flatten()),
    "mean_dtype": lambda L, x: x.mean(dtype=L.float32),
    "sum_dtype": lambda L, x: x.sum(dtype=L.float64), "nonzero": lambda L, x: x.nonzero(),
    "unique": lambda L, x: L.unique(x),
    "cosine_similarity": lambda L, x: L.nn.functional.cosine_similarity(x, x, dim=-1),
    "dropout_train": lambda L, x: L.nn.functional.dropout(x, 0.5) * 0,
}
def _sweep_outcome(lib, name, key):
    try:
        r = _SWEEP[name](lib, lib.tensor(_EDGE[key]))
    except (RuntimeError, TypeError, ValueError, IndexError, NotImplementedError) as e:
        return "raises", type(e).__name__
    return str(r.dtype).replace("torch.", ""), np.asarray(r.detach().numpy())


@pytest.mark.parametrize("key", list(_EDGE))
@pytest.mark.parametrize("name", list(_SWEEP))
def test_first_hour_ops_on_edge_inputs_as_torch(f32, torch_default, name, key):
    """Result dtype, shape and values, or a refusal, as torch (float32 default in both):
    int, bool, uint8, empty and 0-d inputs of ~70 calls a learner makes early."""
    torch.set_default_dtype(torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want, got = _sweep_outcome(torch, name, key), _sweep_outcome(zeroin, name, key)
    assert (want[0] == "raises") == (got[0] == "raises"), (want, got)
    if want[0] != "raises":
        assert got[0] == want[0]
        assert got[1].shape == want[1].shape
        np.testing.assert_allclose(got[1].astype(np.float64), want[1].astype(np.float64),
                                   rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("default", ["float32", "float64"])
def test_integer_clamp_and_logsumexp_take_the_default_float_dtype(torch_default, default):
    """int_tensor.clamp(min=0.5) and int_tensor.logsumexp(...) give torch's default float
    dtype (zeroin gave NumPy's: float64, or float16 for bool); tensor bounds promote by
    torch's rules; gradients come back in the input's dtype."""
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, default))
    for a in (np.array([1, -2, 3]), np.array([True, False]), np.array([1, 200], np.uint8)):
        for f in (lambda L, x: x.clamp(min=0.5), lambda L, x: x.logsumexp(0),
                  lambda L, x: x.clamp(max=L.tensor(1.5))):
            want, got = f(torch, torch.tensor(a)), f(zeroin, zeroin.tensor(a))
            assert str(got.dtype) == str(want.dtype).replace("torch.", "")
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    x = zeroin.tensor([0.2, 1.7, 3.0], dtype=zeroin.float32, requires_grad=True)
    hi = zeroin.tensor(2.0, dtype=zeroin.float64, requires_grad=True)
    y = zeroin.clamp(x, max=hi)
    assert y.dtype == zeroin.float32            # a 0-d bound does not widen x, as torch
    y.sum().backward()
    assert x.grad.dtype == zeroin.float32 and hi.grad.dtype == zeroin.float64
    np.testing.assert_array_equal(x.grad.numpy(), [1, 1, 0])
    assert hi.grad.item() == 1


def test_refusals_of_the_sweep_name_the_op_and_the_fix():
    b = zeroin.tensor([True, False, True])
    with pytest.raises(RuntimeError, match=r"argmax\(\): bool tensors .*x.int\(\)"):
        b.argmax()
    assert b.max(0)[1].item() == 0 and b.max(0)[0].dtype == zeroin.bool   # max(dim) works
    with pytest.raises(RuntimeError, match=r"topk: bool tensors .*x.int\(\).topk"):
        b.topk(1)
    with pytest.raises(RuntimeError, match=r"norm: expected a floating point .* int64 .*"
                       r"x.float\(\).norm\(\)"):
        zeroin.tensor([3, 4]).norm()
    with pytest.raises(TypeError, match=r"one_hot: expects int64 class labels .* int32.*"
                       r"labels.long\(\)"):
        zeroin.nn.functional.one_hot(zeroin.tensor([0, 2], dtype=zeroin.int32))
    with pytest.raises(NotImplementedError, match=r"lerp: .* int64.*lerp\(x.float\(\)"):
        zeroin.lerp(zeroin.tensor([1, 2]), zeroin.tensor([3, 4]), 0.5)


# --- nn.init and dropout on integer tensors and empty ones --------------------------------

@pytest.mark.parametrize("dtype", ["int64", "bool", "int32"])
def test_deterministic_inits_fill_integer_tensors_as_torch(dtype):
    """zeros_, ones_, constant_ (truncated toward 0), eye_ and dirac_ fill integer and bool
    tensors as PyTorch's do (zeroin refused them); the random ones refuse them, as there."""
    calls = [("zeros_", (3,), ()), ("ones_", (3,), ()), ("constant_", (3,), (2.5,)),
             ("constant_", (3,), (-2.7,)), ("eye_", (2, 3), ()), ("dirac_", (2, 2, 3), ())]
    for name, shape, args in calls:
        t = getattr(torch.nn.init, name)(torch.zeros(shape, dtype=getattr(torch, dtype)),
                                         *args)
        z = getattr(zeroin.nn.init, name)(zeroin.zeros(shape, dtype=getattr(zeroin, dtype)),
                                          *args)
        assert str(z.dtype) == dtype
        np.testing.assert_array_equal(z.numpy(), t.numpy())
    for name in ("uniform_", "normal_", "kaiming_uniform_", "xavier_normal_"):
        with pytest.raises((RuntimeError, NotImplementedError)):
            getattr(torch.nn.init, name)(torch.zeros(2, 3, dtype=getattr(torch, dtype)))
        with pytest.raises(TypeError, match=f"{name}: can only fill floating-point"):
            getattr(zeroin.nn.init, name)(zeroin.zeros(2, 3, dtype=getattr(zeroin, dtype)))


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(0, 3), (4, 0), (0,)])
def test_kaiming_of_an_empty_tensor_warns_as_torch(name, shape):
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        getattr(torch.nn.init, name)(torch.empty(shape))
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        z = getattr(zeroin.nn.init, name)(zeroin.empty(shape))
    assert z.shape == shape


@pytest.mark.parametrize("dtype", ["int64", "bool", "uint8"])
def test_dropout_of_integer_tensors_refuses_while_training_as_torch(dtype):
    a = np.array([1, 0, 1], dtype=dtype)
    for p in (0.0, 1.0):        # nothing scaled: both give the input's dtype
        t = TF.dropout(torch.tensor(a), p)
        z = F.dropout(zeroin.tensor(a), p)
        assert str(z.dtype) == dtype
        np.testing.assert_array_equal(z.numpy(), t.numpy())
    np.testing.assert_array_equal(F.dropout(zeroin.tensor(a), 0.5, training=False).numpy(), a)
    with pytest.raises(RuntimeError):
        TF.dropout(torch.tensor(a), 0.5)
    with pytest.raises(RuntimeError, match=f"dropout: result type float can't be cast to "
                       f"the input's dtype {dtype}.*1/\\(1-p\\) = 2.*x.float\\(\\)"):
        F.dropout(zeroin.tensor(a), 0.5)


# --- creation: full's fill values ----------------------------------------------------------

@pytest.mark.parametrize("default", ["float32", "float64"])
def test_full_dtype_follows_the_fill_value_as_torch(torch_default, default):
    """full((2,), 1j) is complex64 under a float32 default (complex128 under float64), and a
    NumPy scalar fill converts without NumPy's overflow warning (it compared np.float32 with
    float64's max)."""
    for lib in (torch, zeroin):
        lib.set_default_dtype(getattr(lib, default))
    for v in (1j, np.float32(1.5), np.float64(2.5), np.int64(3), True, 1, 1.5):
        want = torch.full((2,), v)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = zeroin.full((2,), v)
        assert str(got.dtype) == str(want.dtype).replace("torch.", ""), repr(v)
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    with pytest.raises(RuntimeError):
        torch.full((2,), np.float64(1e6), dtype=torch.float16)
    with pytest.raises(ValueError, match="full: the value 1e\\+06 cannot be converted to "
                       "float16 without overflow"):
        zeroin.full((2,), np.float64(1e6), dtype=zeroin.float16)


def test_pow_of_a_float_array_does_not_go_through_zeroins_abs(monkeypatch):
    """ops._pow_number took |c| with zeroin's abs op (the module's name shadows the builtin):
    a tensor made and an op recorded for a number, ~3 us each x ** 3."""
    from zeroin import ops

    def refuse(*a, **k):
        raise AssertionError("zeroin.ops.abs called")
    monkeypatch.setattr(ops, "abs", refuse)
    x = np.array([-1.5, 0.5, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(ops._pow_number(x, 3), x * x * x)
    np.testing.assert_allclose(ops._pow_number(x, 5), x ** 5, rtol=1e-6)
    assert ops._fill_scalar("full", 2.5, np.float32) == 2.5


_BOOL_REFUSED = {
    "abs": lambda m, x: m.abs(x), "abs_method": lambda m, x: x.abs(),
    "round": lambda m, x: m.round(x), "round_decimals": lambda m, x: m.round(x, decimals=1),
    "relu": lambda m, x: m.relu(x), "F.relu": lambda m, x: m.nn.functional.relu(x),
    "floor": lambda m, x: m.floor(x), "ceil": lambda m, x: m.ceil(x),
    "trunc": lambda m, x: m.trunc(x), "frac": lambda m, x: m.frac(x),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x),
    "relu6": lambda m, x: m.nn.functional.relu6(x),
    "matmul": lambda m, x: x @ x, "matmul_fn": lambda m, x: m.matmul(x, x),
    "mm": lambda m, x: m.mm(x, x), "bmm": lambda m, x: m.bmm(x[None], x[None]),
    "mv": lambda m, x: m.mv(x, x[0]), "dot": lambda m, x: m.dot(x[0], x[0]),
    "inner": lambda m, x: m.inner(x[0], x[0]), "tensordot": lambda m, x: m.tensordot(x, x, 1),
}


@pytest.mark.parametrize("name", sorted(_BOOL_REFUSED))
def test_bool_tensors_refused_where_torch_has_no_bool_kernel(name):
    """abs, round, relu, matmul... of a bool tensor: torch raises, so zeroin does (NumPy
    computed them), with an error naming the op, the dtype and the fix."""
    f = _BOOL_REFUSED[name]
    b = [[True, False], [False, True]]
    with pytest.raises((RuntimeError, NotImplementedError)):
        f(torch, torch.tensor(b))
    with pytest.raises(DtypeError, match=r"bool.*\.float\(\)"):
        f(zeroin, zeroin.tensor(b))


@pytest.mark.parametrize("name", ["abs", "round", "relu", "floor", "matmul", "tensordot"])
def test_the_bool_refusals_leave_integer_tensors_computing_as_torch(name):
    x = [[1, -2], [0, 3]]
    t, z = _BOOL_REFUSED[name](torch, torch.tensor(x)), _BOOL_REFUSED[name](
        zeroin, zeroin.tensor(x))
    assert str(z.dtype) == str(t.dtype).replace("torch.", "")
    np.testing.assert_array_equal(z.numpy(), t.numpy())


def test_round_with_decimals_refuses_integer_tensors_as_torch():
    with pytest.raises(NotImplementedError):
        torch.round(torch.tensor([1, 2]), decimals=1)
    with pytest.raises(DtypeError, match=r"round: decimals=1.*int64.*float\(\)"):
        zeroin.round(zeroin.tensor([1, 2]), decimals=1)
    assert zeroin.round(zeroin.tensor([1, 2]), decimals=0).tolist() == [1, 2]


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16"])
@pytest.mark.parametrize("name", ["sqrt", "exp", "log1p", "sin", "erf"])
def test_float_ops_of_small_integer_tensors_give_the_default_dtype(name, dtype):
    """sqrt(mask): PyTorch's default float dtype (zeroin's is float64), not NumPy's float16
    for bool and int8, at either default."""
    x = [1, 0, 1]
    for default in (zeroin.float64, zeroin.float32):
        zeroin.set_default_dtype(default)
        try:
            z = getattr(zeroin, name)(zeroin.tensor(x).to(getattr(zeroin, dtype)))
        finally:
            zeroin.set_default_dtype(zeroin.float64)
        t = getattr(torch, name)(torch.tensor(x).to(getattr(torch, dtype)))
        assert z.dtype == default
        np.testing.assert_allclose(z.numpy(), t.double().numpy(), rtol=1e-6)


def test_bool_tensor_to_an_integer_power_is_int64_as_torch():
    t, z = torch.tensor([True, False]) ** 2, zeroin.tensor([True, False]) ** 2
    assert str(t.dtype) == "torch.int64" and z.dtype == zeroin.int64
    assert z.tolist() == t.tolist()


@pytest.mark.parametrize("make", [lambda: 3.0, lambda: True, lambda: 1 + 2j])
def test_Tensor_of_a_python_number_refuses_as_torch(make):
    """torch.Tensor(3.0) raises (data must be a sequence); zeroin made a 0-d tensor."""
    with pytest.raises(TypeError):
        torch.Tensor(make())
    with pytest.raises(TypeError, match=r"Tensor: data must be a sequence.*zeroin\.tensor\("):
        zeroin.Tensor(make())


@pytest.mark.parametrize("value", [np.float64(3.0), np.float32(3.5), np.int64(3), np.bool_(True),
                                   np.array(3), np.array(2.5)])
def test_Tensor_keeps_numpy_scalars_as_0d_tensors_of_their_dtype(value):
    """README's difference: zeroin.Tensor(a) keeps a NumPy value's dtype, scalars too (the
    data pipeline's Tensor(array[i])); torch.Tensor refuses a NumPy float or bool scalar and
    takes a NumPy integer as a size."""
    z = zeroin.Tensor(value)
    assert z.shape == () and z.dtype == np.asarray(value).dtype and z.item() == value
    assert tuple(zeroin.Tensor(3).shape) == tuple(torch.Tensor(3).shape) == (3,)


def test_deepcopy_of_a_tensor_does_not_go_through_Tensor_of_a_number():
    import copy
    t = zeroin.tensor([1.0, 2.0], requires_grad=True)
    c = copy.deepcopy(t)
    assert c.tolist() == [1.0, 2.0] and c.requires_grad and c is not t


@pytest.mark.parametrize("wdtype", ["float64", "int64", "bool"])
def test_multi_margin_loss_refuses_a_weight_of_another_dtype_as_torch(wdtype):
    """torch wants the weight in the input's dtype; zeroin cast it silently."""
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    y = [0, 2, 3]
    with pytest.raises(RuntimeError, match="expected scalar type"):
        TF.multi_margin_loss(torch.tensor(x), torch.tensor(y),
                             weight=torch.ones(4, dtype=getattr(torch, wdtype)))
    with pytest.raises(DtypeError, match=rf"multi_margin_loss: weight \(dtype {wdtype}\).*"
                                         r"float32.*weight\.to\(input\.dtype\)"):
        F.multi_margin_loss(zeroin.tensor(x), zeroin.tensor(y),
                            weight=zeroin.ones(4, dtype=getattr(zeroin, wdtype)))
    w = np.array([1.0, 2.0, 0.5, 3.0], "float32")
    t = TF.multi_margin_loss(torch.tensor(x), torch.tensor(y), weight=torch.tensor(w))
    z = F.multi_margin_loss(zeroin.tensor(x), zeroin.tensor(y), weight=zeroin.tensor(w))
    assert z.dtype == zeroin.float32
    np.testing.assert_allclose(z.item(), t.item(), rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (5,), (1, 4), (4, 1), ()])
def test_multi_margin_loss_refuses_a_weight_of_another_shape_as_torch(shape):
    x, y = np.zeros((3, 4), "float32"), [0, 2, 3]
    with pytest.raises((RuntimeError, ValueError)):
        TF.multi_margin_loss(torch.tensor(x), torch.tensor(y), weight=torch.ones(shape))
    with pytest.raises(zeroin.errors.ShapeError, match=r"one number per class, shape \(4,\)"):
        F.multi_margin_loss(zeroin.tensor(x), zeroin.tensor(y),
                            weight=zeroin.ones(shape, dtype=zeroin.float32))


def test_in_checks_the_elements_as_torch():
    """``v in t`` is PyTorch's ``(t == v).any()``; zeroin iterated over the rows and asked
    each ``row == v`` its truth value, which raised for a 2-D tensor."""
    a = [[1.0, 2.0, 3.0], [4.0, 5.0, float("nan")]]
    t, z = torch.tensor(a), zeroin.tensor(a)
    for v in (2.0, 2, 7, True, float("nan"), np.float32(5.0)):
        assert (v in z) == (v in t)
    assert (torch.tensor(4.0) in t) and (zeroin.tensor(4.0) in z)
    assert (torch.tensor([1.0, 0.0, 0.0]) in t) and (zeroin.tensor([1.0, 0.0, 0.0]) in z)
    for bad in ("a", [2.0], None):
        with pytest.raises(RuntimeError):
            bad in t  # noqa: B015
        with pytest.raises(DtypeError, match="__contains__ only supports a Tensor or a number"):
            bad in z  # noqa: B015


_FLOAT_ONLY = ["elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "hardswish",
               "hardsigmoid", "logsigmoid", "leaky_relu", "glu"]


@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool"])
@pytest.mark.parametrize("name", _FLOAT_ONLY)
def test_float_only_activations_refuse_integer_input_as_torch(name, dtype):
    """torch has only floating-point kernels for these (NotImplementedError); zeroin gave
    float64 results (float32 for some) of integer input."""
    x = [[1, 0], [2, 1]]
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor(x).to(getattr(torch, dtype)))
    with pytest.raises(NotImplementedError, match=rf"{name}: not implemented for dtype "
                                                  rf"{dtype}.*x\.float\(\)"):
        getattr(F, name)(zeroin.tensor(x).to(getattr(zeroin, dtype)))
    a = np.array([[0.5, -1.5], [2.0, 0.25]])
    np.testing.assert_allclose(getattr(F, name)(zeroin.tensor(a)).numpy(),
                               getattr(TF, name)(torch.tensor(a)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int64", "int8", "uint8"])
@pytest.mark.parametrize("th, value", [(0, 5.7), (-0.5, 9), (0.9, 9), (-5.7, 9), (1, 100)])
def test_threshold_of_integer_tensors_keeps_their_dtype_as_torch(dtype, th, value):
    """torch casts threshold and value to the input's integer dtype (toward 0); zeroin made
    float32 of an int64 input; an overflowing threshold or value is refused by both."""
    x = [1, 3, 0, 2] if dtype == "uint8" else [1, -3, 0, 2]
    xt, xz = torch.tensor(x).to(getattr(torch, dtype)), zeroin.tensor(x).to(getattr(zeroin, dtype))
    try:
        t = TF.threshold(xt, th, value)
    except RuntimeError:
        with pytest.raises(zeroin.errors.InvalidValueError, match="without overflow"):
            F.threshold(xz, th, value)
        return
    z = F.threshold(xz, th, value)
    assert str(z.dtype) == dtype == str(t.dtype).replace("torch.", "")
    assert z.tolist() == t.tolist()


def test_threshold_and_linear_refuse_bool_tensors_as_torch():
    b = [[True, False]]
    with pytest.raises(NotImplementedError):
        TF.threshold(torch.tensor(b), 0, 1)
    with pytest.raises(DtypeError, match="threshold: not implemented for bool"):
        F.threshold(zeroin.tensor(b), 0, 1)
    with pytest.raises(NotImplementedError):
        TF.linear(torch.tensor(b), torch.tensor(b))
    with pytest.raises(DtypeError, match="linear: not implemented for bool"):
        F.linear(zeroin.tensor(b), zeroin.tensor(b))


@pytest.mark.parametrize("call", [
    lambda m, x: m.nn.functional.prelu(x, m.tensor([0.25], dtype=m.float32)),
    lambda m, x: m.nn.functional.rrelu(x),
    lambda m, x: m.nn.functional.rrelu(x, training=True),
    lambda m, x: m.rrelu(x)])
@pytest.mark.parametrize("dtype", ["int64", "int8", "bool"])
def test_prelu_and_rrelu_refuse_integer_input_as_torch(call, dtype):
    """torch has only floating-point kernels; zeroin's rrelu gave [1, 0, 3] of [1, -2, 3]
    (the slope times -2, truncated to an integer), and prelu a float64 result."""
    x = [1, -2, 3] if dtype != "bool" else [True, False, True]
    with pytest.raises((NotImplementedError, RuntimeError)):
        call(torch, torch.tensor(x).to(getattr(torch, dtype)))
    with pytest.raises(NotImplementedError, match=r"(prelu|rrelu): not implemented for dtype"):
        call(zeroin, zeroin.tensor(x).to(getattr(zeroin, dtype)))
    a = zeroin.tensor([0.5, -2.0, 3.0], dtype=zeroin.float32)
    z = call(zeroin, a).tolist()          # a float input computes (training: random slopes)
    assert z[0] == 0.5 and z[2] == 3.0 and -2.0 / 3 <= z[1] <= -0.25


def test_prelu_refuses_a_weight_of_another_dtype_as_torch():
    with pytest.raises(RuntimeError, match="Type promoting"):
        TF.prelu(torch.tensor([1.0, -2.0]), torch.tensor([0.25], dtype=torch.float64))
    with pytest.raises(DtypeError, match="prelu: expected all operands to have the same"):
        F.prelu(zeroin.tensor([1.0, -2.0], dtype=zeroin.float32), zeroin.tensor([0.25]))


def test_softsign_refuses_bool_and_computes_integers_as_torch():
    with pytest.raises(NotImplementedError):
        TF.softsign(torch.tensor([True, False]))
    with pytest.raises(DtypeError, match="softsign: not implemented for bool"):
        F.softsign(zeroin.tensor([True, False]))
    np.testing.assert_allclose(F.softsign(zeroin.tensor([1, -2, 0])).tolist(),
                               TF.softsign(torch.tensor([1, -2, 0])).tolist(), rtol=1e-7)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int64"])
@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (0.0, 100.0), (2.0, 7.0)])
def test_hardtanh_of_integer_tensors_as_torch(dtype, lo, hi):
    """An unsigned tensor with a negative limit is refused by torch; zeroin clamped it."""
    x = [1, 200, 0, 9] if dtype == "uint8" else [1, -100, 0, 9]
    xt, xz = torch.tensor(x).to(getattr(torch, dtype)), zeroin.tensor(x).to(getattr(zeroin, dtype))
    try:
        t = TF.hardtanh(xt, lo, hi)
    except RuntimeError:
        with pytest.raises(DtypeError, match="hardtanh: cannot clamp an unsigned tensor"):
            F.hardtanh(xz, lo, hi)
        return
    z = F.hardtanh(xz, lo, hi)
    assert str(z.dtype) == str(t.dtype).replace("torch.", "") and z.tolist() == t.tolist()


@pytest.mark.parametrize("eq, n", [("ij->i", 1), ("ij->j", 1), ("ij->", 1), ("ii->", 1),
                                   ("ii", 1), ("ii->i", 1), ("ij", 1), ("ji", 1),
                                   ("i,i->i", 2), ("i,j->ij", 2), ("ij,k->k", 2),
                                   ("i,i->", 2), ("ij,jk->ik", 2), ("ij,j->i", 2),
                                   ("...,...->", 2)])
def test_einsum_of_bool_tensors_as_torch(eq, n):
    """A letter summed within one bool operand counts its Trues (int64); summed between two
    bool operands it is refused (torch's bmm has no bool kernel). zeroin gave bool results
    (any(), not the count) for both."""
    m = np.array([[True, False], [True, True]])
    v = np.array([True, False])
    ops_ = [m, v] if eq in ("ij,k->k", "ij,j->i") else [m, m] if eq == "ij,jk->ik" \
        else [m] if n == 1 else [v, v]
    try:
        t = torch.einsum(eq, *map(torch.tensor, ops_))
    except NotImplementedError:
        with pytest.raises(NotImplementedError, match="einsum: .* bool operands"):
            zeroin.einsum(eq, *map(zeroin.tensor, ops_))
        return
    z = zeroin.einsum(eq, *map(zeroin.tensor, ops_))
    assert str(z.dtype) == str(t.dtype).replace("torch.", "") and z.tolist() == t.tolist()


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int16", "int32"])
@pytest.mark.parametrize("x", [[-1], [1, -3], [-255], [-256], [300], [128], [-129],
                               [70000], [[1, -1], [2, -200]], [1.5, 2.7], [1.5, -2.7]])
def test_tensor_of_numbers_past_an_integer_dtype_as_torch(dtype, x):
    """torch wraps a negative whole number into an unsigned dtype down to -max (uint8: -1 is
    255) and refuses what does not fit; zeroin raised NumPy's OverflowError for both."""
    try:
        t = torch.tensor(x, dtype=getattr(torch, dtype))
    except RuntimeError:
        with pytest.raises(zeroin.errors.InvalidValueError, match="without overflow"):
            zeroin.tensor(x, dtype=getattr(zeroin, dtype))
        return
    z = zeroin.tensor(x, dtype=getattr(zeroin, dtype))
    assert str(z.dtype) == dtype and z.tolist() == t.tolist()


def test_Tensor_of_a_tensor_aliases_it_and_resize_keeps_the_memory_as_torch():
    """NYU's tensor tutorial: ``r = torch.Tensor(t); r.resize_(3, 8); r.zero_()`` zeroes
    ``t`` ("this *is* important": clone to get a copy). zeroin's Tensor(t) copied, and
    resize_ always took new memory."""
    out = {}
    for lib in (torch, zeroin):
        t = lib.arange(24.0).view(2, 3, 4)
        r = lib.Tensor(t)
        assert r is not t and tuple(r.shape) == (2, 3, 4)
        r.resize_(3, 8)
        r.zero_()
        s = r.clone()
        s.fill_(1)
        small = lib.arange(6.0)
        lib.Tensor(small).resize_(2, 2).fill_(-1)       # fewer elements: the same memory
        w = lib.ones(2, requires_grad=True)
        a = lib.Tensor(w)
        (a * 3).sum().backward()
        out[lib.__name__] = (t.tolist(), tuple(t.shape), r.tolist(), small.tolist(),
                             a.requires_grad, w.grad.tolist())
    assert out["zeroin"] == out["torch"]
    assert out["zeroin"][0] == np.zeros((2, 3, 4)).tolist()
    grow = zeroin.arange(3.0)               # more elements: new memory (PyTorch grows the
    zeroin.Tensor(grow).resize_(2, 3).fill_(7)      # storage both share; NumPy cannot)
    assert grow.tolist() == [0.0, 1.0, 2.0]


def test_numpy_force_keyword_as_pytorchs():
    """``t.numpy(force=True)`` (PyTorch's detach-first form) gives the values, sharing the
    memory as PyTorch's does for a CPU tensor; ``force`` is keyword-only and a bool."""
    for lib in (torch, zeroin):
        t = lib.tensor([1.0, 2.0], requires_grad=True)
        a = t.numpy(force=True)
        assert isinstance(a, np.ndarray) and a.tolist() == [1.0, 2.0]
        assert np.shares_memory(a, t.detach().numpy())
        assert t.detach().numpy(force=False).tolist() == [1.0, 2.0]
        assert t.data.numpy(force=True).tolist() == [1.0, 2.0]
        with pytest.raises(TypeError, match="positional"):
            t.detach().numpy(True)
        with pytest.raises(TypeError, match="'force' must be bool, not int"):
            t.detach().numpy(force=1)
