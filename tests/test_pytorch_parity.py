"""PyTorch parity: everyday PyTorch idioms run through ``import zeroin as torch``.

Each idiom is a function of the module ``T`` (``torch`` or ``zeroin``), run once with each;
the results must agree in values, shapes, dtypes, ``requires_grad``, return types (tuples,
``(values, indices)`` pairs, Python numbers) and raised error types. PyTorch runs with
float64 as its default dtype here, so that dtypes compare exactly (zeroin's default is
float64: the one deliberate difference, see the README).
"""
import warnings

import numpy as np
import pytest

import zeroin

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1234)
A = RNG.uniform(-2, 2, (3, 4))          # the usual (3, 4) input
B = RNG.uniform(-2, 2, (3, 4))
P = RNG.uniform(0.3, 1.7, (3, 4))       # positive
U = RNG.uniform(-0.9, 0.9, (3, 4))      # inside (-1, 1)
A3 = RNG.uniform(-2, 2, (2, 3, 4))
W = RNG.uniform(-1, 1, (3, 4))          # weights for gradients: sum(W * y)
IDX = np.array([[0, 2], [1, 1], [3, 0]])
MASK = A > 0
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 1.0, 1.0]])


@pytest.fixture(autouse=True)
def _torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


# --- comparing results ---------------------------------------------------------------------

def _dtype_name(d):
    return str(d).replace("torch.", "")


def _builtin_error(cls):
    for c in cls.__mro__:
        if c.__module__ == "builtins":
            return c
    return Exception


def same(rt, rz, where="result"):
    """Assert that zeroin's result ``rz`` matches PyTorch's ``rt``."""
    if isinstance(rt, BaseException):
        assert isinstance(rz, BaseException), f"{where}: PyTorch raised {rt!r}, zeroin gave {rz!r}"
        want = _builtin_error(type(rt))
        assert isinstance(rz, want), f"{where}: PyTorch raised {want.__name__}, zeroin {rz!r}"
        return
    assert not isinstance(rz, BaseException), f"{where}: zeroin raised {rz!r}"
    if isinstance(rt, torch.Tensor):
        assert isinstance(rz, zeroin.Tensor), f"{where}: expected a Tensor, got {type(rz)}"
        assert tuple(rz.shape) == tuple(rt.shape), f"{where}: shape {rz.shape} != {rt.shape}"
        assert _dtype_name(rz.dtype) == _dtype_name(rt.dtype), \
            f"{where}: dtype {rz.dtype} != {rt.dtype}"
        assert rz.requires_grad == rt.requires_grad, f"{where}: requires_grad differs"
        np.testing.assert_allclose(np.asarray(rz.numpy()), rt.detach().numpy(force=True), rtol=1e-6,
                                   atol=1e-9, err_msg=where)
    elif isinstance(rt, torch.Size):
        assert isinstance(rz, tuple) and tuple(rz) == tuple(rt), f"{where}: {rz} != {rt}"
    elif isinstance(rt, tuple):
        assert isinstance(rz, tuple), f"{where}: expected a tuple, got {type(rz)}"
        assert len(rz) == len(rt), f"{where}: length {len(rz)} != {len(rt)}"
        if type(rt).__module__ == "torch.return_types":
            for f in ("values", "indices"):
                if hasattr(rt, f):
                    same(getattr(rt, f), getattr(rz, f), f"{where}.{f}")
        for i, (a, b) in enumerate(zip(rt, rz)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(rt, list):
        assert isinstance(rz, list) and len(rz) == len(rt), f"{where}: {rz!r} != {rt!r}"
        for i, (a, b) in enumerate(zip(rt, rz)):
            same(a, b, f"{where}[{i}]")
    elif isinstance(rt, torch.dtype):
        assert _dtype_name(rz) == _dtype_name(rt), f"{where}: {rz} != {rt}"
    elif isinstance(rt, torch.device):
        assert str(rz) == str(rt), f"{where}: {rz} != {rt}"
    elif isinstance(rt, np.ndarray):
        assert isinstance(rz, np.ndarray), f"{where}: expected an ndarray, got {type(rz)}"
        assert rz.dtype == rt.dtype and rz.shape == rt.shape, where
        np.testing.assert_allclose(rz, rt, rtol=1e-6, atol=1e-9, err_msg=where)
    elif rt is None or isinstance(rt, (bool, str)):
        assert rz == rt and type(rz) is type(rt), f"{where}: {rz!r} != {rt!r}"
    elif isinstance(rt, (int, float)):
        assert type(rz) is type(rt), f"{where}: {type(rz).__name__} != {type(rt).__name__}"
        assert rz == pytest.approx(rt, rel=1e-6, abs=1e-9), f"{where}: {rz} != {rt}"
    else:
        raise AssertionError(f"{where}: no rule to compare {type(rt)}")


def warned(f):
    """``f(T)`` with the categories of the warnings it gave (part of the result)."""
    def run(T):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            r = f(T)
        return r, tuple(sorted({x.category.__name__ for x in w}))
    return run


def check(name, rt, rz):
    """zeroin's result ``rz`` of idiom ``name`` against PyTorch's ``rt`` (either may be
    an exception): an AssertionError of the idiom itself is raised, and so is zeroin's
    error where PyTorch gave a result (its traceback shows where); else :func:`same`."""
    if isinstance(rt, AssertionError):
        raise rt
    if isinstance(rz, Exception) and not isinstance(rt, Exception):
        raise rz
    same(rt, rz, name)


def run_quiet(T, f):
    """``f(T)``, or the exception it raised, with NumPy's floating-point warnings off."""
    try:
        with np.errstate(all="ignore"):
            return f(T)
    except Exception as e:      # noqa: BLE001 - compared with PyTorch's behaviour
        return e


def catch(f):
    """The exception ``f()`` raises (idioms that must fail return it)."""
    try:
        f()
    except Exception as e:      # noqa: BLE001 - the type is what is compared
        return e
    raise AssertionError("expected an error")


def t(T, a, grad=False, dtype=None):
    return T.tensor(np.array(a), requires_grad=grad, dtype=dtype)


def weights(shape):
    """Fixed random weights of ``shape``: the gradient of sum(w * y) tests every element."""
    return np.random.default_rng(len(shape) + 7 * sum(shape)).uniform(-1, 1, shape)


def grad_of(T, f, *arrays):
    """f(*leaves) and the gradient of sum(w * f) with respect to each leaf."""
    xs = [t(T, a, grad=True) for a in arrays]
    y = f(*xs)
    if isinstance(y, T.Tensor) and y.requires_grad:
        (y * T.tensor(weights(tuple(y.shape)))).sum().backward()
    return (y,) + tuple(x.grad for x in xs)


# --- the idioms ----------------------------------------------------------------------------

IDIOMS = {}
PENDING = {         # idiom name -> why zeroin differs (strict xfail: fails if it starts passing)
}


def idiom(f=None, *, name=None):
    def reg(g):
        IDIOMS[name or g.__name__] = g
        return g
    return reg(f) if f is not None else reg


def table(prefix, entries, idioms=IDIOMS):
    """Add ``entries`` to ``idioms`` (this file's, or another file's dict) as
    ``<prefix>_<key>``."""
    for key, fn in entries.items():
        idioms[f"{prefix}_{key}"] = fn


def int_tensor(T, a):
    """``a`` as an int64 tensor of library ``T``."""
    return T.tensor(np.array(a, dtype=np.int64))


# creation and dtypes
table("create", {
    "zeros": lambda T: T.zeros(2, 3),
    "zeros_tuple": lambda T: T.zeros((2, 3)),
    "zeros_list_dtype": lambda T: T.zeros([2, 3], dtype=T.int64),
    "ones": lambda T: T.ones(2, 3, dtype=T.float32),
    "ones_grad": lambda T: T.ones(3, requires_grad=True),
    "full_float": lambda T: T.full((2, 3), 1.5),
    "full_int": lambda T: T.full((2,), 3),
    "full_bool": lambda T: T.full((2,), True),
    "empty": lambda T: (T.empty(2, 3).shape, T.empty(2, 3).dtype),
    "eye": lambda T: T.eye(3),
    "eye_rect": lambda T: T.eye(2, 3),
    "arange": lambda T: T.arange(5),
    "arange_step": lambda T: T.arange(1, 7, 2),
    "arange_float": lambda T: T.arange(0.0, 1.0, 0.25),
    "arange_dtype": lambda T: T.arange(4, dtype=T.float32),
    "linspace": lambda T: T.linspace(0, 1, 5),
    "logspace": lambda T: T.logspace(0, 2, 3),
    "zeros_like": lambda T: T.zeros_like(t(T, A)),
    "ones_like_int": lambda T: T.ones_like(T.arange(3)),
    "full_like": lambda T: T.full_like(t(T, A), 7.0),
    "empty_like": lambda T: T.empty_like(t(T, A)).shape,
    "zeros_like_dtype": lambda T: T.zeros_like(t(T, A), dtype=T.float32),
    "rand": lambda T: (T.rand(2, 3).shape, T.rand(2, 3).dtype,
                       bool(((T.rand(50) >= 0) & (T.rand(50) < 1)).all())),
    "randn": lambda T: (T.randn(4, 5).shape, T.randn(4, 5, dtype=T.float32).dtype),
    # d2l's autograd chapter: a scalar leaf, randn(size=(), requires_grad=True)
    "randn_size_kw": lambda T: (T.randn(size=(), requires_grad=True).shape,
                                T.randn(size=(), requires_grad=True).requires_grad,
                                T.randn(size=[2, 3], dtype=T.float32).dtype),
    "rand_size_kw": lambda T: (T.rand(size=(2, 3)).shape, T.rand(size=(4,)).dtype),
    "randn_size_twice": lambda T: catch(lambda: T.randn(2, size=(3,))),
    "randint": lambda T: (T.randint(0, 10, (3, 4)).shape, T.randint(0, 10, (3, 4)).dtype,
                          bool(((T.randint(2, 5, (50,)) >= 2) &
                                (T.randint(2, 5, (50,)) < 5)).all())),
    "randint_high": lambda T: T.randint(5, (3,)).shape,
    # low= / high= by keyword (torch.randint(low=0, high=10, size=(3,)))
    "randint_keywords": lambda T: (T.randint(low=2, high=5, size=(50,)).dtype,
                                   bool(((T.randint(low=2, high=5, size=(50,)) >= 2) &
                                         (T.randint(2, high=5, size=(50,)) < 5)).all()),
                                   T.randint(high=5, size=(2, 3)).shape),
    "randperm": lambda T: T.randperm(6).sort().values,
    "normal_size": lambda T: T.normal(0.0, 1.0, size=(2, 3)).shape,
    "normal_tensor": lambda T: T.normal(T.zeros(3), T.ones(3)).shape,
    "rand_like": lambda T: T.rand_like(t(T, A)).dtype,
    "randn_like": lambda T: T.randn_like(t(T, A)).shape,
    "from_numpy": lambda T: T.from_numpy(np.arange(3, dtype=np.int32)),
    "from_numpy_shares": lambda T: _shares(T),
    "as_tensor": lambda T: T.as_tensor([1.0, 2.0]),
    "as_tensor_dtype": lambda T: T.as_tensor(np.arange(3), dtype=T.float32),
    "tensor_dtype": lambda T: T.tensor([1, 2], dtype=T.float32),
    "tensor_int": lambda T: T.tensor([1, 2]),
    "tensor_bool": lambda T: T.tensor([True, False]),
    "tensor_device": lambda T: T.tensor([1.0], device="cpu"),
    "Tensor_list": lambda T: T.Tensor([1, 2]),
    "Tensor_sizes": lambda T: (T.Tensor(2, 3).shape, T.Tensor(4).shape, T.Tensor(2, 3).dtype),
    "FloatTensor": lambda T: T.FloatTensor([1, 2]),
    "LongTensor": lambda T: T.LongTensor([1, 2]),
    # no arguments: an empty (0,) tensor (zeroin's FloatTensor() was a 0-d zero, Tensor()
    # raised TypeError), the start of out = torch.cat([out, x]) loops
    "Tensor_empty": lambda T: (T.Tensor(), T.Tensor().shape, T.Tensor().dtype),
    "FloatTensor_empty": lambda T: (T.FloatTensor(), T.FloatTensor().shape),
    "LongTensor_empty": lambda T: (T.LongTensor(), T.LongTensor().dtype),
    "BoolTensor_empty": lambda T: T.BoolTensor().shape,
    # size= by keyword: a new tensor of that shape (zeroin raised TypeError); values unset
    # in PyTorch, so only shapes and dtypes compare
    "Tensor_size_kw": lambda T: [(x.shape, x.dtype) for x in (
        T.Tensor(size=(2, 3)), T.Tensor(size=[4]), T.Tensor(size=()),
        T.Tensor(size=T.Size([2, 1])), T.FloatTensor(size=(2, 3)), T.LongTensor(size=[3]),
        T.BoolTensor(size=(1,)))],
    "Tensor_size_int": lambda T: catch(lambda: T.Tensor(size=2)),
    "Tensor_size_none": lambda T: catch(lambda: T.Tensor(size=None)),
    "Tensor_size_floats": lambda T: catch(lambda: T.Tensor(size=(2.0,))),
    "Tensor_size_negative": lambda T: catch(lambda: T.Tensor(size=(-1,))),
    "Tensor_size_and_data": lambda T: catch(lambda: T.Tensor([1.0], size=(1,))),
    "Tensor_size_and_grad": lambda T: catch(lambda: T.Tensor(size=(1,), requires_grad=True)),
    "FloatTensor_size_and_sizes": lambda T: catch(lambda: T.FloatTensor(2, size=(2,))),
    # a Size is sizes, a tuple data: the old VAE's eps = torch.FloatTensor(std.size()).normal_()
    # (zeroin made the data [3., 2.])
    "Tensor_of_a_Size": lambda T: [(x.shape, x.dtype) for x in (
        T.FloatTensor(T.ones(3, 2).size()), T.Tensor(T.ones(3, 2).shape), T.Tensor((3, 2)),
        T.LongTensor(T.Size([2])), T.DoubleTensor(T.Size([])), T.FloatTensor((3, 2)))],
    "is_tensor": lambda T: (T.is_tensor(t(T, A)), T.is_tensor(A)),
    "numel_fn": lambda T: T.numel(t(T, A)),
})


def _shares(T):
    a = np.zeros(3)
    x = T.from_numpy(a)
    a[0] = 5.0
    return x


table("dtype", {
    "names": lambda T: [T.float32, T.float, T.float64, T.double, T.float16, T.half,
                        T.int32, T.int, T.int64, T.long, T.bool, T.uint8],
    "float_is_float32": lambda T: T.float is T.float32 or T.float == T.float32,
    "compare": lambda T: (t(T, A).dtype == T.float64, T.arange(3).dtype == T.int64),
    "is_floating_point": lambda T: (t(T, A).is_floating_point(), T.arange(3).is_floating_point()),
    "default": lambda T: T.get_default_dtype(),
})
table("device", {
    "cpu": lambda T: T.device("cpu"),
    "pick": lambda T: T.device("cuda" if T.cuda.is_available() else "cpu"),
    "cuda_available": lambda T: T.cuda.is_available(),
    "mps_available": lambda T: T.backends.mps.is_available(),
    "mps_built": lambda T: T.backends.mps.is_built(),
    "cudnn_settings": lambda T: [getattr(T.backends.cudnn, k) for k in (
        "enabled", "deterministic", "benchmark", "allow_tf32", "benchmark_limit")],
    "cudnn_available": lambda T: (T.backends.cudnn.is_available(), T.backends.cudnn.version()),
    # nanoGPT's train.py sets the first and picks its dtype with is_bf16_supported
    "cuda_matmul_settings": lambda T: [getattr(T.backends.cuda.matmul, k) for k in (
        "allow_tf32", "allow_fp16_reduced_precision_reduction",
        "allow_bf16_reduced_precision_reduction")],
    "cuda_built": lambda T: T.backends.cuda.is_built(),
    "bf16_supported": lambda T: (T.cuda.is_bf16_supported(), T.cuda.is_bf16_supported(False)),
    "tensor_device": lambda T: t(T, A).device,
    "is_cuda": lambda T: t(T, A).is_cuda,
    "to_device": lambda T: t(T, A).to(T.device("cpu")),
    "to_cpu_str": lambda T: t(T, A).to("cpu"),
    "tensor_cpu": lambda T: t(T, A).cpu(),
})

# conversions
table("convert", {
    "to_float32": lambda T: t(T, A).to(T.float32),
    "to_kw": lambda T: t(T, A).to(dtype=T.float32),
    "to_device_dtype": lambda T: t(T, A).to("cpu", T.float32),
    "to_like": lambda T: t(T, A).to(T.arange(3)),
    "float": lambda T: T.arange(3).float(),
    "double": lambda T: T.arange(3).double(),
    "long": lambda T: t(T, A).long(),
    "int": lambda T: t(T, A).int(),
    "bool": lambda T: t(T, A).bool(),
    "half": lambda T: T.arange(3).half(),
    "type": lambda T: t(T, A).type(T.int64),
    "type_as": lambda T: T.arange(3).type_as(t(T, A)),
    "numpy": lambda T: t(T, A).numpy(),
    "item_float": lambda T: t(T, 2.5).item(),
    "item_int": lambda T: T.arange(3)[1].item(),
    "item_bool": lambda T: (t(T, A) > 0).any().item(),
    "tolist": lambda T: t(T, A).tolist(),
    "tolist_int": lambda T: T.arange(4).reshape(2, 2).tolist(),
    "float_of": lambda T: float(t(T, [2.5])),
    "int_of": lambda T: int(T.arange(3)[2]),
    "grad_float": lambda T: grad_of(T, lambda x: x.float().double() * 2, A),
})

# shape and size
table("shape", {
    "size": lambda T: t(T, A3).size(),
    "size_dim": lambda T: (t(T, A3).size(0), t(T, A3).size(-1), t(T, A3).size(dim=1)),
    "shape": lambda T: t(T, A3).shape,
    "shape_index": lambda T: t(T, A3).shape[1],
    "numel": lambda T: t(T, A3).numel(),
    "dim": lambda T: (t(T, A3).dim(), t(T, A3).ndim, t(T, A3).ndimension()),
    "len": lambda T: len(t(T, A3)),
    "size_error": lambda T: catch(lambda: t(T, A3).size(3)),
    "nelement": lambda T: t(T, A).nelement(),
})

# movement (values and gradients)
MOVE = {
    "t": lambda T, x: x.t(),
    "T": lambda T, x: x.T,
    "mT": lambda T, x: x.reshape(2, 2, 3).mT,
    "transpose_swap": lambda T, x: x.transpose(0, 1),
    "transpose_neg": lambda T, x: x.transpose(-1, -2),
    "transpose_fn": lambda T, x: T.transpose(x, 0, 1),
    "transpose_3d": lambda T, x: x.reshape(2, 3, 2).transpose(0, 2),
    "permute": lambda T, x: x.reshape(2, 3, 2).permute(2, 0, 1),
    "permute_tuple": lambda T, x: x.reshape(2, 3, 2).permute((1, 2, 0)),
    "permute_fn": lambda T, x: T.permute(x.reshape(2, 3, 2), (1, 0, 2)),
    "swapaxes": lambda T, x: x.swapaxes(0, 1),
    "view": lambda T, x: x.view(-1),
    "view_2d": lambda T, x: x.view(2, -1),
    "view_tuple": lambda T, x: x.view((6, 2)),
    "view_as": lambda T, x: x.view_as(T.zeros(4, 3)),
    "reshape": lambda T, x: x.reshape(4, 3),
    "reshape_fn": lambda T, x: T.reshape(x, (2, 6)),
    "reshape_as": lambda T, x: x.reshape_as(T.zeros(6, 2)),
    "expand": lambda T, x: x[:1].expand(3, 4),
    "expand_neg": lambda T, x: x[:, :1].expand(-1, 5),
    "expand_new_dim": lambda T, x: x[0].expand(2, 4),
    "expand_as": lambda T, x: x[:1].expand_as(T.zeros(5, 4)),
    "repeat": lambda T, x: x.repeat(2, 3),
    "repeat_new_dims": lambda T, x: x[0].repeat(2, 1, 2),
    "tile": lambda T, x: x.tile((2,)),
    "tile_fn": lambda T, x: T.tile(x, (2, 1)),
    "repeat_interleave": lambda T, x: x.repeat_interleave(2, dim=0),
    "flatten": lambda T, x: x.flatten(),
    "flatten_start": lambda T, x: x.reshape(2, 3, 2).flatten(1),
    "flatten_fn": lambda T, x: T.flatten(x.reshape(2, 3, 2), start_dim=0, end_dim=1),
    "unflatten": lambda T, x: x.unflatten(1, (2, 2)),
    "unflatten_neg": lambda T, x: x.unflatten(-1, (2, -1)),
    "squeeze_all": lambda T, x: x.reshape(1, 3, 1, 4).squeeze(),
    "squeeze_dim": lambda T, x: x.reshape(3, 1, 4).squeeze(1),
    "squeeze_kw": lambda T, x: x.reshape(3, 1, 4).squeeze(dim=1),
    "squeeze_noop": lambda T, x: x.squeeze(0),
    "squeeze_scalar": lambda T, x: x.sum().squeeze(0),
    "squeeze_tuple": lambda T, x: x.reshape(1, 3, 1, 4).squeeze((0, 2)),
    "squeeze_fn": lambda T, x: T.squeeze(x.reshape(1, 12), 0),
    "unsqueeze": lambda T, x: x.unsqueeze(0),
    "unsqueeze_kw": lambda T, x: x.unsqueeze(dim=-1),
    "unsqueeze_fn": lambda T, x: T.unsqueeze(x, 1),
    "none_index": lambda T, x: x[None, :, None],
    "contiguous": lambda T, x: x.t().contiguous(),
    "clone": lambda T, x: x.clone(),
    "flip": lambda T, x: x.flip(0),
    "flip_dims": lambda T, x: T.flip(x, dims=(0, 1)),
    "fliplr": lambda T, x: T.fliplr(x),
    "rot90": lambda T, x: T.rot90(x),
    "rot90_k2": lambda T, x: x.rot90(2),
    "rot90_k3_dims": lambda T, x: T.rot90(x, 3, (1, 0)),
    "rot90_negative_k": lambda T, x: T.rot90(x, -1, [0, 1]),
    "rot90_k4": lambda T, x: T.rot90(x, 4),
    "rot90_3d": lambda T, x: T.rot90(x.reshape(3, 2, 2), 1, (1, -1)),
    "roll": lambda T, x: x.roll(1, 0),
    "roll_flat": lambda T, x: T.roll(x, 2),
    "roll_dims": lambda T, x: T.roll(x, shifts=(1, -1), dims=(0, 1)),
    "tril": lambda T, x: x.tril(),
    "triu": lambda T, x: T.triu(x, diagonal=1),
    "tril_neg": lambda T, x: T.tril(x, -1),
    "narrow": lambda T, x: x.narrow(1, 1, 2),
    "select": lambda T, x: x.select(1, 2),
    "diag": lambda T, x: T.diag(x[:, :3]),
    "diagonal": lambda T, x: x.diagonal(),
    "index_select": lambda T, x: x.index_select(1, T.tensor([0, 2])),
    "index_select_fn": lambda T, x: T.index_select(x, 0, T.tensor([2, 0, 2])),
    "gather": lambda T, x: x.gather(1, T.tensor(IDX)),
    "gather_fn": lambda T, x: T.gather(x, 1, T.tensor(IDX)),
    "take_along_dim": lambda T, x: T.take_along_dim(x, T.tensor(IDX), dim=1),
    "take_along_dim_method": lambda T, x: x.take_along_dim(x.argmax(1, keepdim=True), 1),
    "scatter": lambda T, x: T.zeros(3, 5).scatter(1, T.tensor(IDX), x[:, :2]),
    "scatter_self": lambda T, x: x.scatter(1, T.tensor([[0], [1], [2]]), x[:, 3:]),
    "scatter_add": lambda T, x: T.zeros(3, 5).scatter_add(1, T.tensor(IDX), x[:, :2]),
    "masked_fill": lambda T, x: x.masked_fill(T.tensor(MASK), 0.0),
    "masked_fill_inf": lambda T, x: x.masked_fill(T.tensor(MASK), float("-inf")).softmax(-1),
    "where_method": lambda T, x: x.where(T.tensor(MASK), T.zeros(3, 4)),
    "where_fn": lambda T, x: T.where(T.tensor(MASK), x, -x),
    "where_scalar": lambda T, x: T.where(x > 0, x, 0.0),
    "cat_dim": lambda T, x: T.cat([x, x * 2], dim=1),
    "cat_neg": lambda T, x: T.cat((x, x), -1),
    "cat_default": lambda T, x: T.cat([x, x]),
    "concat": lambda T, x: T.concat([x, x], dim=0),
    "stack_dim": lambda T, x: T.stack([x, x * 2], dim=1),
    "stack_default": lambda T, x: T.stack([x, x]),
    "hstack": lambda T, x: T.hstack([x, x]),
    "vstack": lambda T, x: T.vstack([x, x]),
    "split_size": lambda T, x: T.split(x, 2, dim=1)[1],
    "split_sizes": lambda T, x: x.split([1, 3], dim=1)[1],
    "chunk": lambda T, x: x.chunk(2, dim=1)[0],
    "chunk_fn": lambda T, x: T.chunk(x, 3)[2],
    "unbind": lambda T, x: x.unbind(1)[2],
    "pad": lambda T, x: T.nn.functional.pad(x, (1, 2)),
    "pad_2d": lambda T, x: T.nn.functional.pad(x, (1, 1, 2, 0), value=0.5),
    "pad_reflect": lambda T, x: T.nn.functional.pad(x[None], (2, 1), mode="reflect")[0],
    "pad_replicate": lambda T, x: T.nn.functional.pad(x[None], (1, 2), mode="replicate")[0],
    "index_int": lambda T, x: x[1],
    "index_neg": lambda T, x: x[-1, 1:],
    "index_step": lambda T, x: x[::2, 1::2],
    "index_list": lambda T, x: x[[0, 2, 2]],
    "index_tensor": lambda T, x: x[T.tensor([2, 0])],
    "index_mask": lambda T, x: x[x > 0],
    "index_pair": lambda T, x: x[T.tensor([0, 1]), T.tensor([3, 2])],
    "index_ellipsis": lambda T, x: x[..., 1],
}
for _k, _f in MOVE.items():
    IDIOMS[f"move_{_k}"] = (lambda f: lambda T: grad_of(T, lambda x: f(T, x), A))(_f)


def _list_result(f):
    return lambda T: list(f(T, t(T, A)))


table("movement_lists", {
    "split": _list_result(lambda T, x: T.split(x, 3, dim=1)),
    "split_method": _list_result(lambda T, x: x.split(2)),
    "chunk": _list_result(lambda T, x: x.chunk(3, 0)),
    "unbind": _list_result(lambda T, x: T.unbind(x)),
    "split_is_tuple": lambda T: type(T.split(t(T, A), 2)).__name__,
})

# reductions: values and gradients
REDUCE = {
    "sum": lambda T, x: x.sum(),
    "sum_dim": lambda T, x: x.sum(1),
    "sum_dim_kw": lambda T, x: x.sum(dim=0, keepdim=True),
    "sum_dims": lambda T, x: T.sum(x, (0, 1)),
    "mean": lambda T, x: x.mean(),
    "mean_dim": lambda T, x: x.mean(dim=-1),
    "std": lambda T, x: x.std(),
    "std_dim": lambda T, x: x.std(dim=1),
    "std_unbiased_false": lambda T, x: x.std(1, unbiased=False),
    "std_correction": lambda T, x: T.std(x, dim=0, correction=0, keepdim=True),
    "var": lambda T, x: x.var(),
    "var_dim": lambda T, x: x.var(0),
    "var_keepdim": lambda T, x: T.var(x, dim=1, keepdim=True),
    "norm": lambda T, x: x.norm(),
    "norm_dim": lambda T, x: x.norm(dim=1),
    "norm_p1": lambda T, x: x.norm(p=1, dim=0),
    "norm_fn": lambda T, x: T.norm(x),
    "linalg_norm": lambda T, x: T.linalg.norm(x, dim=1),
    "prod": lambda T, x: x.prod(),
    "prod_dim": lambda T, x: x.prod(1),
    "prod_fn": lambda T, x: T.prod(x, dim=0, keepdim=True),
    "cumsum": lambda T, x: x.cumsum(1),
    "cumsum_fn": lambda T, x: T.cumsum(x, dim=0),
    "cumprod": lambda T, x: x.cumprod(dim=1),
    "logsumexp": lambda T, x: x.logsumexp(1),
    "logsumexp_fn": lambda T, x: T.logsumexp(x, dim=0),
    "amax": lambda T, x: x.amax(1),
    "amin": lambda T, x: T.amin(x, dim=0),
    "max_all": lambda T, x: x.max(),
    "min_all": lambda T, x: T.min(x),
    "max_dim_values": lambda T, x: T.max(x, 1)[0],
    "max_dim_kw_values": lambda T, x: x.max(dim=0).values,
    "min_dim_values": lambda T, x: x.min(1, keepdim=True).values,
    "maximum": lambda T, x: T.maximum(x, x.flip(0)),
    "max_pair": lambda T, x: T.max(x, x.flip(0)),
    "min_pair": lambda T, x: T.min(x, x.flip(0)),
    "softmax": lambda T, x: x.softmax(1),
    "softmax_fn": lambda T, x: T.softmax(x, dim=0),
    "softmax_F": lambda T, x: T.nn.functional.softmax(x, dim=1),
    "log_softmax": lambda T, x: T.nn.functional.log_softmax(x, dim=-1),
    "softmax_0d": lambda T, x: x.sum().softmax(0),
    "log_softmax_0d": lambda T, x: T.log_softmax(x.sum(), dim=0),
    "sort_values": lambda T, x: x.sort(dim=1).values,
    "sort_desc": lambda T, x: T.sort(x, 0, descending=True)[0],
    "topk_values": lambda T, x: x.topk(2, dim=1).values,
    "median": lambda T, x: x.median(),
}
for _k, _f in REDUCE.items():
    IDIOMS[f"reduce_{_k}"] = (lambda f: lambda T: grad_of(T, lambda x: f(T, x), A))(_f)


# NumPy's axis= / keepdims= for dim= / keepdim=: PyTorch's parser takes them for every
# built-in op (d2l's A.cumsum(axis=0), y_hat.argmax(axis=1)); its Python-written split refuses
table("axis_alias", {
    "cumsum": lambda T: grad_of(T, lambda x: x.cumsum(axis=0), A),
    "cumsum_fn": lambda T: grad_of(T, lambda x: T.cumsum(x, axis=1), A),
    "cumprod": lambda T: grad_of(T, lambda x: x.cumprod(axis=1), A),
    "argmax": lambda T: t(T, A).argmax(axis=1),
    "median_keepdims": lambda T: T.median(t(T, A), axis=0, keepdims=True),
    "sort": lambda T: t(T, A).sort(axis=0, descending=True),
    "gather": lambda T: t(T, A).gather(axis=1, index=int_tensor(T, [[0], [2], [1]])),
    "index_select": lambda T: T.index_select(t(T, A), axis=1, index=int_tensor(T, [3, 0])),
    "unbind": lambda T: T.unbind(t(T, A), axis=1),
    "var_mean": lambda T: T.var_mean(t(T, A), axis=1, keepdims=True),
    "count_nonzero": lambda T: T.count_nonzero(t(T, A) > 0, axis=0),
    "dim_and_axis": lambda T: catch(lambda: T.cumsum(t(T, A), dim=0, axis=0)),
    "split_refuses": lambda T: catch(lambda: T.split(t(T, A), 2, axis=0)),
})


table("max_min", {
    "max_dim_pair": lambda T: T.max(t(T, A), 1),
    "max_unpack": lambda T: (lambda v, i: (v, i))(*t(T, A).max(1)),
    "max_predicted": lambda T: T.max(t(T, A), 1)[1],
    "max_kw": lambda T: t(T, A).max(dim=1, keepdim=True),
    "min_dim_pair": lambda T: T.min(t(T, A), 0),
    "max_indices_attr": lambda T: t(T, A).max(1).indices,
    "argmax": lambda T: (t(T, A).argmax(), t(T, A).argmax(1), t(T, A).argmax(dim=0)),
    "argmax_keepdim": lambda T: T.argmax(t(T, A), dim=1, keepdim=True),
    "argmin": lambda T: t(T, A).argmin(dim=1),
    "sort": lambda T: T.sort(t(T, A), 1),
    "argsort": lambda T: t(T, A).argsort(dim=1, descending=True),
    "topk": lambda T: t(T, A).topk(2),
    "max_int": lambda T: T.arange(6).reshape(2, 3).max(1),
    "median_dim": lambda T: t(T, A).median(1),
    "mode_sum_bool": lambda T: (t(T, A) > 0).sum(),
    "mean_int_fails": lambda T: catch(lambda: T.arange(3).mean()),
    "max_ties_grad": lambda T: grad_of(T, lambda x: x.max(1).values, TIES),
    "min_ties_grad": lambda T: grad_of(T, lambda x: T.min(x, 0, keepdim=True)[0], TIES),
    "amax_ties_grad": lambda T: grad_of(T, lambda x: x.amax(1), TIES),
    "max_all_ties_grad": lambda T: grad_of(T, lambda x: x.max(), TIES),
})

# comparisons and logic
table("compare", {
    "eq": lambda T: t(T, A).eq(t(T, A)),
    "eq_scalar": lambda T: T.arange(4).eq(2),
    "ne": lambda T: t(T, A).ne(0.5),
    "lt": lambda T: t(T, A).lt(t(T, B)),
    "le": lambda T: t(T, A).le(0),
    "gt": lambda T: t(T, A).gt(t(T, B)),
    "ge": lambda T: t(T, A).ge(0),
    "op_eq": lambda T: T.arange(4) == 2,
    "equal": lambda T: (T.equal(t(T, A), t(T, A)), T.equal(t(T, A), t(T, B))),
    "allclose": lambda T: T.allclose(t(T, A), t(T, A) + 1e-9),
    "isclose": lambda T: T.isclose(t(T, A), t(T, B)),
    "eq_sum_item": lambda T: (T.arange(6) % 2).eq(T.zeros(6, dtype=T.int64)).sum().item(),
    "all": lambda T: (t(T, A) > -3).all(),
    "any_dim": lambda T: (t(T, A) > 1).any(dim=1),
    "all_fn": lambda T: T.all(t(T, A) > 0, dim=0),
    "logical_and": lambda T: T.logical_and(t(T, A) > 0, t(T, B) > 0),
    "logical_or": lambda T: (t(T, A) > 0).logical_or(t(T, B) > 0),
    "logical_not": lambda T: T.logical_not(t(T, A) > 0),
    "logical_xor": lambda T: T.logical_xor(t(T, A) > 0, t(T, B) > 0),
    "bool_ops": lambda T: ((t(T, A) > 0) & (t(T, B) > 0), (t(T, A) > 0) | ~(t(T, B) > 0)),
    "isnan": lambda T: T.isnan(T.tensor([1.0, float("nan")])),
    "isinf": lambda T: T.isinf(T.tensor([1.0, float("inf")])),
    "isfinite": lambda T: T.isfinite(T.tensor([1.0, float("inf")])),
    "nonzero": lambda T: T.nonzero(t(T, A) > 0),
    "count_nonzero": lambda T: T.count_nonzero(t(T, A) > 0),
    "unique": lambda T: T.unique(T.tensor([3, 1, 3, 2])),
    "argwhere": lambda T: T.argwhere(t(T, A) > 1),
    "sign_int_eq": lambda T: (T.arange(5) > 2).long(),
})

# arithmetic methods, values and gradients
ARITH = {
    "add": lambda T, x, y: x.add(y),
    "add_alpha": lambda T, x, y: x.add(y, alpha=2),
    "add_fn": lambda T, x, y: T.add(x, y),
    "sub": lambda T, x, y: x.sub(y),
    "sub_fn_alpha": lambda T, x, y: T.sub(x, y, alpha=0.5),
    "mul": lambda T, x, y: x.mul(y),
    "mul_scalar": lambda T, x, y: x.mul(3.0),
    "div": lambda T, x, y: x.div(y + 3),
    "true_divide": lambda T, x, y: T.true_divide(x, 2.0),
    "pow": lambda T, x, y: x.pow(2),
    "pow_tensor": lambda T, x, y: (x + 3).pow(y),
    "pow_fn": lambda T, x, y: T.pow(x, 3),
    "rpow": lambda T, x, y: 2 ** x,
    "matmul": lambda T, x, y: x.matmul(y.t()),
    "mm": lambda T, x, y: x.mm(y.t()),
    "mm_fn": lambda T, x, y: T.mm(x, y.T),
    "bmm": lambda T, x, y: T.bmm(x.reshape(2, 3, 2), y.reshape(2, 2, 3)),
    "matmul_op": lambda T, x, y: x @ y.T,
    "mv": lambda T, x, y: T.mv(x, y[0]),
    "dot": lambda T, x, y: T.dot(x[0], y[0]),
    "outer": lambda T, x, y: T.outer(x[0], y[1]),
    "neg": lambda T, x, y: x.neg(),
    "abs": lambda T, x, y: x.abs(),
    "maximum": lambda T, x, y: T.maximum(x, y),
    "minimum": lambda T, x, y: x.minimum(y),
    "clamp": lambda T, x, y: x.clamp(-1, 1),
    "clamp_min": lambda T, x, y: x.clamp(min=0),
    "clamp_fn": lambda T, x, y: T.clamp(x, max=0.5),
    "clip": lambda T, x, y: x.clip(-0.5, 0.5),
    "addmm": lambda T, x, y: T.addmm(x[:, :3], x, y.t()),
    "lerp": lambda T, x, y: T.lerp(x, y, 0.3),
    "einsum_mm": lambda T, x, y: T.einsum("ij,kj->ik", x, y),
    "einsum_trace": lambda T, x, y: T.einsum("ii->", x[:, :3]),
    "einsum_batch": lambda T, x, y: T.einsum("bij,bjk->bik", x.reshape(2, 3, 2), y.reshape(2, 2, 3)),
    "einsum_outer": lambda T, x, y: T.einsum("i,j->ij", x[0], y[0]),
    "einsum_sum": lambda T, x, y: T.einsum("ij->j", x),
    "einsum_ellipsis": lambda T, x, y: T.einsum("...ij,...kj->...ik", x.reshape(2, 3, 2),
                                                y.reshape(2, 3, 2)),
    "einsum_ellipsis_implicit": lambda T, x, y: T.einsum("...i,i", x, y[0]),
    "einsum_diag": lambda T, x, y: T.einsum("ii->i", x[:, :3]),
    "einsum_diag_mix": lambda T, x, y: T.einsum("ii,ij->j", x[:, :3], y),
    "einsum_list": lambda T, x, y: T.einsum("ij,ij->i", [x, y]),
    "atan2": lambda T, x, y: T.atan2(x, y),
    "atan2_method": lambda T, x, y: x.atan2(y),
    "fmod": lambda T, x, y: T.fmod(x, 1.5),
    "remainder": lambda T, x, y: x.remainder(1.5),
    "mod": lambda T, x, y: x % 1.5,
}
for _k, _f in ARITH.items():
    IDIOMS[f"arith_{_k}"] = (lambda f: lambda T: grad_of(T, lambda x, y: f(T, x, y), A, B))(_f)

# elementwise math, values and gradients (inputs inside each op's domain)
UNARY = {
    "exp": A, "log": P, "sqrt": P, "sin": A, "cos": A, "tanh": A, "sigmoid": A, "relu": A,
    "ceil": A, "floor": A, "trunc": A, "round": A, "sign": A, "tan": U, "asin": U,
    "acos": U, "atan": A, "log2": P, "log10": P, "log1p": P, "exp2": A, "expm1": A,
    "rsqrt": P, "square": A, "reciprocal": P, "erf": A, "sinh": A, "cosh": A, "frac": A,
    "neg": A, "abs": A, "sgn": A, "erfc": A, "logit": RNG.uniform(0.1, 0.9, (3, 4)),
    "asinh": A, "atanh": U, "acosh": P + 1, "deg2rad": A, "positive": A,
}
for _k, _a in UNARY.items():
    IDIOMS[f"unary_{_k}"] = (lambda k, a: lambda T: grad_of(T, getattr(T, k), a))(_k, _a)
    IDIOMS[f"unary_method_{_k}"] = (lambda k, a: lambda T: grad_of(
        T, lambda x: getattr(x, k)(), a))(_k, _a)
IDIOMS["unary_round_decimals"] = lambda T: T.round(t(T, A), decimals=2)
IDIOMS["unary_sign_zero"] = lambda T: T.sign(T.tensor([-2.0, 0.0, 3.0]))
IDIOMS["unary_round_half_even"] = lambda T: T.round(T.tensor([0.5, 1.5, 2.5, -0.5]))

# activations (functional forms), values and gradients
ACT = {
    "relu": lambda F, x: F.relu(x),
    "relu6": lambda F, x: F.relu6(x * 4),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "elu": lambda F, x: F.elu(x),
    "elu_alpha": lambda F, x: F.elu(x, alpha=0.5),
    "celu": lambda F, x: F.celu(x, alpha=1.5),
    "selu": lambda F, x: F.selu(x),
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "softsign": lambda F, x: F.softsign(x),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_beta": lambda F, x: F.softplus(x, beta=2.0),
    "hardtanh": lambda F, x: F.hardtanh(x),
    "hardtanh_range": lambda F, x: F.hardtanh(x, -0.5, 0.5),
    "hardswish": lambda F, x: F.hardswish(x * 2),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x * 2),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "sigmoid": lambda F, x: F.sigmoid(x),
    "tanh": lambda F, x: F.tanh(x),
    "softmin": lambda F, x: F.softmin(x, dim=1),
    "normalize": lambda F, x: F.normalize(x, dim=1),
    "glu": lambda F, x: F.glu(x, dim=1),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
}
for _k, _f in ACT.items():
    IDIOMS[f"act_{_k}"] = (lambda f: lambda T: grad_of(
        T, lambda x: f(T.nn.functional, x), A))(_f)
table("act_top", {
    "torch_relu": lambda T: grad_of(T, T.relu, A),
    "torch_sigmoid": lambda T: grad_of(T, T.sigmoid, A),
    "torch_selu": lambda T: grad_of(T, T.selu, A),
    "torch_celu": lambda T: grad_of(T, T.celu, A),
    "x_relu": lambda T: grad_of(T, lambda x: x.relu(), A),
})

# in-place
def _inplace_leaf(T, op):
    x = t(T, A, grad=True)
    with T.no_grad():
        r = op(T, x)
    return x, r is x, x.requires_grad


INPLACE = {
    "add_": lambda T, x: x.add_(1.0),
    "add_tensor_alpha": lambda T, x: x.add_(T.ones(3, 4), alpha=-0.1),
    "sub_": lambda T, x: x.sub_(T.ones(3, 4) * 0.5),
    "mul_": lambda T, x: x.mul_(2),
    "div_": lambda T, x: x.div_(4),
    "zero_": lambda T, x: x.zero_(),
    "fill_": lambda T, x: x.fill_(3.0),
    "copy_": lambda T, x: x.copy_(T.ones(3, 4)),
    "copy_broadcast": lambda T, x: x.copy_(T.ones(4)),
    "clamp_": lambda T, x: x.clamp_(-1, 1),
    "clamp_min_": lambda T, x: x.clamp_(min=0),
    "iadd": lambda T, x: x.__iadd__(1),
    "masked_fill_": lambda T, x: x.masked_fill_(T.tensor(MASK), 0.0),
    "setitem": lambda T, x: x.__setitem__(0, 5.0),
    "abs_": lambda T, x: x.abs_(),
    "neg_": lambda T, x: x.neg_(),
    "exp_": lambda T, x: x.exp_(),
    "pow_": lambda T, x: x.pow_(2),
    "sqrt_": lambda T, x: x.abs_().sqrt_(),
    "addcmul_": lambda T, x: x.addcmul_(T.ones(3, 4), T.ones(3, 4), value=0.5),
    "lerp_": lambda T, x: x.lerp_(T.zeros(3, 4), 0.5),
}
for _k, _f in INPLACE.items():
    IDIOMS[f"inplace_{_k}"] = (lambda f: lambda T: _inplace_leaf(T, f))(_f)


def _random_inplace(T):
    x = T.zeros(1000)
    x.uniform_(-2, 3)
    y = T.zeros(2000)
    y.normal_(1.0, 0.5)
    z = T.empty(3).uniform_()
    return (bool((x >= -2).all() and (x < 3).all()), abs(float(x.mean()) - 0.5) < 0.2,
            abs(float(y.mean()) - 1.0) < 0.1, abs(float(y.std()) - 0.5) < 0.1, z.shape)


def _iadd_accumulates(T):
    # the loss-accumulation idiom: a plain zeros tensor += terms that require grad
    w = t(T, A, grad=True)
    total = T.zeros(())
    for k in (1.0, 2.0, 3.0):
        total += (w * k).pow(2).sum()
    total.backward()
    return total, total.is_leaf, w.grad


def _iadd_alias(T):
    # x op= v changes the tensor itself: every reference sees it, as in PyTorch
    x = t(T, A, grad=True)
    y = x * 2
    alias = y
    y += 1
    y *= t(T, B)
    alias.sum().backward()
    return alias is y, alias, x.grad


def _iadd_on_index(T):
    x = t(T, A, grad=True)
    h = x * 1
    h[0] += 5
    h[:, 1] -= x[:, 2]
    h.sum().backward()
    return h, x.grad


def _iadd_int_with_grad(T):
    x = T.zeros(3, 4, dtype=T.int64)
    x += t(T, A, grad=True)


table("inplace_rules", {
    "rot90_same_dims": lambda T: catch(lambda: T.rot90(t(T, A), 1, (0, 0))),
    "rot90_1d": lambda T: catch(lambda: T.rot90(T.ones(3))),
    "rot90_three_dims": lambda T: catch(lambda: T.rot90(t(T, A), 1, (0, 1, 1))),
    "rot90_dim_out_of_range": lambda T: catch(lambda: T.rot90(t(T, A), 1, (0, 5))),
    "iadd_accumulates": _iadd_accumulates,
    "iadd_alias": _iadd_alias,
    "iadd_on_index": _iadd_on_index,
    "isub_on_leaf_refused": lambda T: catch(lambda: t(T, A, grad=True).__isub__(0.1)),
    "iadd_int_with_grad_refused": lambda T: catch(lambda: _iadd_int_with_grad(T)),
    "iadd_wider_refused": lambda T: catch(lambda: T.zeros(4).__iadd__(t(T, A, grad=True))),
    "random": _random_inplace,
    "leaf_requires_grad_fails": lambda T: catch(lambda: t(T, A, grad=True).add_(1)),
    "nonleaf_ok": lambda T: _nonleaf_inplace(T),
    "nonleaf_input_not_saved_ok": lambda T: _input_not_saved_modified(T),
    "grad_zero_": lambda T: _grad_zero(T),
    "returns_self_chain": lambda T: T.zeros(3).add_(1).mul_(2),
    "int_true_div_fails": lambda T: catch(lambda: T.arange(3).div_(2)),
})


def _nonleaf_inplace(T):
    x = t(T, A, grad=True)
    y = x * 2
    y.add_(1)
    y.mul_(3)
    y.sum().backward()
    return y, x.grad


def _input_not_saved_modified(T):
    x = t(T, A, grad=True)
    y = x * 1
    z = y + 1                   # add saves nothing: both libraries allow the change
    y.mul_(2)
    (z.sum() + y.sum()).backward()
    return z, y, x.grad


def test_bfloat16_is_a_name_no_tensor_can_hold():
    # NumPy has no bfloat16: the name exists for autocast(dtype=torch.bfloat16) code, which
    # runs (autocast changes nothing in zeroin); making such a tensor says why it cannot
    with zeroin.autocast(device_type="cpu", dtype=zeroin.bfloat16, enabled=False):
        y = zeroin.ones(2) * 2
    assert y.dtype == zeroin.get_default_dtype()
    for make in (lambda: zeroin.zeros(2, dtype=zeroin.bfloat16),
                 lambda: zeroin.ones(2).to(zeroin.bfloat16),
                 lambda: zeroin.tensor([1.0], dtype=torch.bfloat16)):
        with pytest.raises(TypeError, match="bfloat16 is not supported: NumPy has no "
                                            "bfloat16 type"):
            make()


def test_in_place_on_an_input_an_op_saved_gives_the_gradient_of_the_values_used():
    # PyTorch raises at backward (its version counter); zeroin's earlier op keeps the value
    # it read, so the gradient is the true one of the computation as it ran (README lists it)
    x = zeroin.tensor(A, requires_grad=True)
    y = x * 2
    z = y * y                   # mul read y = 2x
    y.mul_(3)                   # y = 6x from here on
    (z.sum() + y.sum()).backward()
    np.testing.assert_allclose(x.grad.data, 8 * A + 6)     # d/dx (4x^2 + 6x)
    torch = pytest.importorskip("torch")
    tx = torch.tensor(A, requires_grad=True)
    ty = tx * 2
    tz = ty * ty
    ty.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tz.sum().backward()


def _grad_zero(T):
    x = t(T, A, grad=True)
    (x * 2).sum().backward()
    x.grad.zero_()
    (x * 3).sum().backward()
    return x.grad


# autograd
def _grad_assign(T, value):
    p = t(T, A, grad=True)
    p.grad = value(T)
    return p.grad


def _data_update(T):
    p = t(T, A, grad=True)
    (p * p).sum().backward()
    p.data -= 0.1 * p.grad
    return p, p.is_leaf


def _data_methods(T):
    p = t(T, A, grad=True)
    p.data.copy_(T.ones(3, 4))
    q = t(T, A, grad=True)
    q.data.zero_()
    r = t(T, B, grad=True)
    r.data.mul_(2).add_(1)
    s = t(T, B, grad=True)
    s.data = T.zeros(3, 4)
    return p, q, r, s


def _data_idioms(T):
    """The in-place .data idioms of tutorials and optimisers written by hand."""
    w = t(T, A, grad=True)
    (w * w).sum().backward()
    w.grad.data.zero_()
    m = t(T, B, grad=True)
    m.data.fill_(0)
    a = t(T, A, grad=True)
    a.data.add_(t(T, B), alpha=-0.1)
    a.data.sub_(t(T, B), alpha=2)
    a.data.mul_(0.9).div_(2)
    b = t(T, A, grad=True)
    b.data.clamp_(-1, 1)
    c = t(T, A, grad=True)
    c.data[0].zero_()
    c.data[:, 1].fill_(5)
    return w.grad, m, a, b, c, c.data.numpy(), a.data.sum().item()


def _data_random(T):
    """normal_ / uniform_ on .data: in place, with the requested statistics."""
    w = T.zeros(200, 300, requires_grad=True)
    w.data.normal_(0, 0.02)
    n_ok = abs(w.mean().item()) < 1e-3 and abs(w.std().item() - 0.02) < 1e-3
    u = T.zeros(200, 300, requires_grad=True)
    u.data.uniform_(-0.5, 0.5)
    u_ok = bool(((u >= -0.5) & (u < 0.5)).all()) and abs(u.std().item() - 0.2887) < 5e-3
    return w.shape, w.requires_grad, n_ok, u_ok


def _retain_grad(T):
    x = t(T, A, grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    return y.grad, x.grad, y.is_leaf


def _backward_gradient(T):
    x = t(T, A, grad=True)
    y = x * x
    y.backward(gradient=T.ones(3, 4))
    y2 = x * 3
    y2.backward(T.tensor(W))
    return x.grad


def _autograd_grad(T):
    x = t(T, A, grad=True)
    y = (x ** 3).sum()
    (g,) = T.autograd.grad(y, x, create_graph=True)
    (h,) = T.autograd.grad(g.sum(), x)
    return g, h


def _modes(T):
    x = t(T, A, grad=True)
    with T.no_grad():
        a = x * 2
    with T.set_grad_enabled(False):
        b = x * 2
    with T.set_grad_enabled(True):
        c = x * 2
    with T.inference_mode():
        d = x * 2
    with T.enable_grad():
        e = x * 2
    T.set_grad_enabled(False)
    f = x * 2
    T.set_grad_enabled(True)
    return (a.requires_grad, b.requires_grad, c.requires_grad, d.requires_grad,
            e.requires_grad, f.requires_grad, T.is_grad_enabled())


def _no_grad_decorator(T):
    @T.no_grad()
    def f(x):
        return x * 2

    @T.inference_mode()
    def g(x):
        return x * 2
    x = t(T, A, grad=True)
    return f(x).requires_grad, g(x).requires_grad


class _CustomExp:
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class _CustomScale:
    @staticmethod
    def forward(ctx, x, w, k):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return x * w * k

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        gx = g * w * ctx.k if ctx.needs_input_grad[0] else None
        gw = g * x * ctx.k if ctx.needs_input_grad[1] else None
        return gx, gw, None


def _custom(T, body):
    return type(body.__name__, (T.autograd.Function,), dict(vars(body)))


def _custom_function(T):
    Exp = _custom(T, _CustomExp)
    x = t(T, A, grad=True)
    y = Exp.apply(x)
    (y * T.tensor(W)).sum().backward()
    return y, x.grad


def _custom_function_twice(T):
    Scale = _custom(T, _CustomScale)
    a = t(T, A, grad=True)
    b = t(T, B, grad=True)
    w = t(T, W)
    y1 = Scale.apply(a, w, 2.0)
    y2 = Scale.apply(b, w, 3.0)
    y1.sum().backward()
    return a.grad, b.grad, y2.requires_grad


def _custom_function_second_order(T):
    Exp = _custom(T, _CustomExp)
    x = t(T, A, grad=True)
    (g,) = T.autograd.grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = T.autograd.grad((g * T.tensor(W)).sum(), x)
    return g, h


def _custom_needs_input_grad(T):
    seen = []

    class Probe(T.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            seen.append(ctx.needs_input_grad)
            return x * w

        @staticmethod
        def backward(ctx, g):
            return g, g
    Probe.apply(t(T, A, grad=True), t(T, B))
    return seen


table("autograd", {
    "grad_assign_tensor": lambda T: _grad_assign(T, lambda T: T.ones(3, 4)),
    "grad_assign_none": lambda T: _grad_assign(T, lambda T: None),
    "grad_assign_scalar_fails": lambda T: catch(lambda: _grad_assign(T, lambda T: 0)),
    "grad_assign_shape_fails": lambda T: catch(lambda: _grad_assign(T, lambda T: T.ones(4))),
    "data_update": _data_update,
    "data_methods": _data_methods,
    "data_idioms": _data_idioms,
    "data_random": _data_random,
    "data_is_detached": lambda T: (t(T, A, grad=True).data.requires_grad,),
    "retain_grad": _retain_grad,
    "backward_gradient": _backward_gradient,
    "backward_nonscalar_fails": lambda T: catch(lambda: (t(T, A, grad=True) * 2).backward()),
    "autograd_grad": _autograd_grad,
    "modes": _modes,
    "no_grad_decorator": _no_grad_decorator,
    "requires_grad_": lambda T: (t(T, A).requires_grad_(), t(T, A).requires_grad_(False)),
    "requires_grad_int_fails": lambda T: catch(lambda: T.arange(3).requires_grad_()),
    "detach": lambda T: (t(T, A, grad=True) * 2).detach(),
    "detach_shares": lambda T: _detach_shares(T),
    "is_leaf": lambda T: (t(T, A, grad=True).is_leaf, (t(T, A, grad=True) * 2).is_leaf,
                          t(T, A).is_leaf),
    "grad_fn_none": lambda T: t(T, A, grad=True).grad_fn is None,
    "custom_function": _custom_function,
    "custom_function_twice": _custom_function_twice,
    "custom_function_second_order": _custom_function_second_order,
    "custom_needs_input_grad": _custom_needs_input_grad,
    "accumulate": lambda T: _accumulate(T),
    "clone_grad": lambda T: grad_of(T, lambda x: x.clone() * x, A),
    "zero_grad_none": lambda T: _zero_grad_none(T),
})


def _detach_shares(T):
    x = t(T, A, grad=True)
    d = x.detach()
    d.zero_()
    return x


def _accumulate(T):
    x = t(T, A, grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    return x.grad


def _zero_grad_none(T):
    x = t(T, A, grad=True)
    (x * 2).sum().backward()
    x.grad = None
    (x * 3).sum().backward()
    return x.grad


# errors
table("errors", {
    "index_out_of_range": lambda T: catch(lambda: t(T, A)[5]),
    "index_too_many": lambda T: catch(lambda: t(T, A)[0, 0, 0]),
    "index_tensor_out_of_range": lambda T: catch(lambda: t(T, A)[T.tensor([0, 7])]),
    "matmul_shapes": lambda T: catch(lambda: t(T, A) @ t(T, A)),
    "add_shapes": lambda T: catch(lambda: t(T, A) + t(T, A3[:, :2])),
    "cat_shapes": lambda T: catch(lambda: T.cat([t(T, A), t(T, A[:, :2])])),
    "view_numel": lambda T: catch(lambda: t(T, A).view(5, 2)),
    "item_many": lambda T: catch(lambda: t(T, A).item()),
    "bool_many": lambda T: catch(lambda: bool(t(T, A))),
    "transpose_dim": lambda T: catch(lambda: t(T, A).transpose(0, 2)),
    "squeeze_dim": lambda T: catch(lambda: t(T, A).squeeze(3)),
    "iter_0d": lambda T: catch(lambda: list(t(T, 1.0))),
    "len_0d": lambda T: catch(lambda: len(t(T, 1.0))),
    "backward_twice": lambda T: _backward_twice(T),
    "requires_grad_nonleaf": lambda T: catch(lambda: (t(T, A, grad=True) * 2)
                                             .requires_grad_(False)),
})


def _backward_twice(T):
    x = t(T, A, grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    return catch(y.backward)


# iteration, printing and the like
table("misc", {
    "iterate": lambda T: [r for r in t(T, A)],
    "zip_rows": lambda T: [a + b for a, b in zip(t(T, A), t(T, B))],
    "sum_python": lambda T: sum(t(T, A)),
    "index_assign_no_grad": lambda T: _setitem(T),
    "mask_assign": lambda T: _mask_assign(T),
    # a value with leading 1s into one element: d2l's preds[i] = net(x) of shape (1, 1)
    "assign_leading_ones": lambda T: _assign_leading_ones(T),
    "assign_leading_ones_grad": lambda T: grad_of(T, _put_leading_ones, A[0], A[1, :1][None]),
    "assign_leading_ones_wrong": lambda T: catch(lambda: T.zeros(3).__setitem__(0, T.ones(1, 2))),
    "manual_seed": lambda T: type(T.manual_seed(0)).__name__ in ("Generator",),
    "bincount": lambda T: T.bincount(T.tensor([0, 1, 1, 3])),
    "histc": lambda T: T.histc(t(T, A), bins=4, min=-2, max=2),
    "clamp_int": lambda T: T.arange(6).clamp(1, 4),
    "floordiv": lambda T: t(T, A) // 1.0,
    "int_arith": lambda T: (T.arange(6) * 2 + 1, T.arange(6) // 4, T.arange(6) / 2),
    "scalar_tensor_ops": lambda T: t(T, 2.0) * 3 + 1,
    "sum_int_dtype": lambda T: T.arange(6).sum(),
    "mean_dtype_float32": lambda T: T.arange(6, dtype=T.float32).mean(),
    "float32_promote": lambda T: T.ones(2, dtype=T.float32) + T.ones(2, dtype=T.float64),
    "float32_times_python": lambda T: T.ones(2, dtype=T.float32) * 2.5,
    "int_times_float": lambda T: T.arange(3) * 1.5,
    "int_plus_bool": lambda T: T.arange(3) + T.tensor([True, False, True]),
    "one_hot": lambda T: T.nn.functional.one_hot(T.tensor([0, 2, 1]), num_classes=3),
    "numel_empty": lambda T: T.zeros(0, 3).numel(),
})


def _setitem(T):
    x = t(T, A)
    x[0] = 0.0
    x[:, 1] = T.ones(3)
    return x


def _assign_leading_ones(T):
    x = T.zeros(3)
    x[0] = T.ones(1, 1)
    x[1:] = T.full((1, 1, 2), 2.0)
    return x


def _put_leading_ones(x, w):
    y = x * 1
    y[2] = w * 3
    return y ** 2


def _mask_assign(T):
    x = t(T, A)
    x[x < 0] = 0
    return x


# whole snippets, as tutorials write them
def _linear_regression(T):
    T.manual_seed(0)
    X = T.tensor(A)                     # (3, 4)
    y = X @ T.tensor([1.0, -2.0, 0.5, 3.0]) + 0.3
    w = T.zeros(4, requires_grad=True)
    b = T.zeros(1, requires_grad=True)
    for _ in range(50):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with T.no_grad():
            w -= 0.05 * w.grad
            b -= 0.05 * b.grad
            w.grad.zero_()
            b.grad.zero_()
    return w, b, loss.item()


def _micrograd_style(T):
    a = T.tensor([-4.0], requires_grad=True)
    b = T.tensor([2.0], requires_grad=True)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    return g, a.grad, b.grad


def _classifier_eval(T):
    logits = T.tensor(A)
    target = T.tensor([1, 0, 3])
    _, predicted = T.max(logits, 1)
    correct = (predicted == target).sum().item()
    probs = T.softmax(logits, dim=1)
    conf, pred2 = probs.max(dim=1)
    return predicted, correct, conf, pred2, (predicted == target).float().mean()


def _attention(T):
    q = T.tensor(A3)
    k = T.tensor(A3 * 0.5)
    scores = q @ k.transpose(-2, -1) / q.size(-1) ** 0.5
    mask = T.triu(T.ones(3, 3, dtype=T.bool), diagonal=1)
    scores = scores.masked_fill(mask, float("-inf"))
    return T.softmax(scores, dim=-1) @ k


def _batch_stats(T):
    x = T.tensor(A3)
    mean = x.mean(dim=(0, 2), keepdim=True)
    var = x.var(dim=(0, 2), keepdim=True, unbiased=False)
    return (x - mean) / T.sqrt(var + 1e-5), x.view(x.size(0), -1).shape, x.flatten(1).size(1)


table("snippet", {
    "linear_regression": _linear_regression,
    "micrograd_style": _micrograd_style,
    "classifier_eval": _classifier_eval,
    "attention": _attention,
    "batch_stats": _batch_stats,
})


# gradients at points where a function is not differentiable: PyTorch's conventions
ZROWS = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]])      # a zero row, a row with a zero
EDGE = {
    "norm_zero": (lambda T, x: x.norm(), np.zeros(3)),
    "norm_zero_row": (lambda T, x: x.norm(dim=1), ZROWS),
    "norm_fn_p3": (lambda T, x: T.norm(x, p=3, dim=1), ZROWS),
    "norm_p3_all_zero": (lambda T, x: T.norm(x, p=3), np.zeros(3)),
    "norm_p1": (lambda T, x: x.norm(p=1, dim=1), ZROWS),
    "norm_p_half": (lambda T, x: x.norm(p=0.5, dim=1), ZROWS),
    "norm_p_1_5": (lambda T, x: x.norm(p=1.5, dim=1, keepdim=True), ZROWS),
    "norm_inf": (lambda T, x: x.norm(p=float("inf"), dim=1), ZROWS),
    "norm_neg_inf": (lambda T, x: x.norm(p=-float("inf"), dim=1), ZROWS),
    "norm_inf_ties": (lambda T, x: x.norm(p=float("inf")), TIES),
    "norm_p0": (lambda T, x: x.norm(p=0, dim=1), ZROWS),
    "norm_p0_all": (lambda T, x: T.norm(x, p=0), ZROWS),
    "vector_norm_zero_row": (lambda T, x: T.linalg.vector_norm(x, dim=1), ZROWS),
    "vector_norm_ord0": (lambda T, x: T.linalg.vector_norm(x, ord=0), ZROWS),
    "linalg_norm_zero_row": (lambda T, x: T.linalg.norm(x, dim=1), ZROWS),
    "std_constant": (lambda T, x: x.std(), np.array([2.0, 2.0, 2.0])),
    "std_constant_row": (lambda T, x: x.std(dim=1), np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])),
    "std_one_biased": (lambda T, x: x.std(unbiased=False), np.array([2.0])),
    "std_correction0_row": (lambda T, x: T.std(x, dim=1, correction=0), ZROWS),
    "pow_abs_self": (lambda T, x: x.abs() ** x, np.array([0.0, 2.0, -1.5])),
    "normalize_zero_row": (lambda T, x: T.nn.functional.normalize(x, dim=1), ZROWS),
    "normalize_p1_zero_row": (lambda T, x: T.nn.functional.normalize(x, p=1, dim=1), ZROWS),
    "cumprod_one_zero": (lambda T, x: T.cumprod(x, 0), np.array([2.0, 0.0, 3.0])),
    "cumprod_zeros_dim1": (lambda T, x: x.cumprod(dim=1),
                           np.array([[2.0, 0.0, 3.0, 0.0], [0.0, 1.5, -2.0, 4.0],
                                     [1.0, 2.0, 3.0, 0.0]])),
    "cumprod_zeros_dim0": (lambda T, x: x.cumprod(0),
                           np.array([[2.0, 0.0, 3.0], [0.0, 0.0, -2.0], [0.5, 2.0, 0.0]])),
    "softplus_threshold": (lambda T, x: T.nn.functional.softplus(x, beta=2, threshold=1), A),
    "softplus_threshold_beta1": (lambda T, x: T.nn.functional.softplus(x * 10, threshold=5), A),
    "softplus_module": (lambda T, x: T.nn.Softplus(beta=0.5, threshold=0.4)(x), A),
    "cumprod_zeros_3d": (lambda T, x: T.cumprod(x, dim=-2),
                         np.where(A3 > 1, 0.0, A3)),
}
for _k, (_f, _a) in EDGE.items():
    IDIOMS[f"edge_{_k}"] = (lambda f, a: lambda T: grad_of(T, lambda x: f(T, x), a))(_f, _a)
table("edge", {
    "pow_zero_zero": lambda T: grad_of(T, lambda x, e: x ** e, np.array([0.0, 1.0, 0.0]),
                                       np.array([0.0, 0.0, 2.0])),
    "atan2_origin": lambda T: grad_of(T, T.atan2, np.array([0.0, -0.0, 1.0, 0.0]),
                                      np.array([0.0, 0.0, 1.0, -1.0])),
})


def _second_order(T, f, *arrays):
    """The gradient of sum(w * f) with create_graph, then the gradient of sum(w' * that)."""
    xs = [t(T, a, grad=True) for a in arrays]
    y = f(*xs)
    gs = T.autograd.grad((y * T.tensor(weights(tuple(y.shape)))).sum(), xs, create_graph=True)
    sum((g * T.tensor(weights(tuple(g.shape)) + 2)).sum() for g in gs).backward()
    return tuple(gs) + tuple(x.grad for x in xs)


table("edge_second_order", {
    "norm": lambda T: _second_order(T, lambda x: x.norm(dim=1), ZROWS + [[0, 0, 1], [0, 0, 0]]),
    "norm_p3": lambda T: _second_order(T, lambda x: x.norm(p=3, dim=1), ZROWS + 0.5),
    "std": lambda T: _second_order(T, lambda x: x.std(dim=1), A),
    "pow": lambda T: _second_order(T, lambda x, e: (x + 3) ** e, A, B),
    "atan2": lambda T: _second_order(T, T.atan2, A, B),
    "normalize": lambda T: _second_order(T, lambda x: T.nn.functional.normalize(x, dim=1), A),
    "cumprod_zeros": lambda T: _second_order(T, lambda x: x.cumprod(1),
                                             np.array([[2.0, 0.0, 3.0, 0.5], [0.0, 1.5, 0.0, 4.0]])),
})


# clamp with tensor bounds: the gradient goes to whichever operand the result is
LO = np.array([[-1.0, 0.5, 0.0, 2.0], [0.0, -0.5, 1.0, 0.0], [1.0, 0.0, -1.0, 0.3]])
HI = np.array([[1.0, 1.5, -0.5, 1.0], [0.5, 0.5, 2.0, 1.0], [2.0, 0.2, 0.0, 0.1]])
table("clamp_tensor", {
    "min": lambda T: grad_of(T, lambda x, lo: T.clamp(x, min=lo), A, LO),
    "max_method": lambda T: grad_of(T, lambda x, hi: x.clamp(max=hi), A, HI),
    "both": lambda T: grad_of(T, lambda x, lo, hi: T.clamp(x, lo, hi), A, LO, HI),
    "clip": lambda T: grad_of(T, lambda x, lo, hi: x.clip(lo, hi), A, LO, HI),
    "broadcast": lambda T: grad_of(T, lambda x, lo: x.clamp(min=lo), A, LO[0]),
    "broadcast_up": lambda T: grad_of(T, lambda x, lo: x.clamp(min=lo), A[0], LO),
    "constant_bound": lambda T: grad_of(T, lambda x: x.clamp(T.tensor(LO), T.tensor(HI)), A),
    "mixed_fails": lambda T: catch(lambda: T.clamp(t(T, A), min=t(T, LO), max=1.0)),
    "inplace": lambda T: grad_of(T, lambda x, lo: (x * 1).clamp_(min=lo), A, LO),
    "inplace_no_grad": lambda T: _inplace_leaf(T, lambda T, x: x.clamp_(T.tensor(LO), T.tensor(HI))),
})


# unique with its extra outputs: a tuple (values, inverse?, counts?)
V = np.array([3, 1, 3, 2, 1, 1])
V2 = np.array([[1, 2], [1, 2], [0, 1], [1, 2]])
table("unique", {
    "counts": lambda T: T.unique(T.tensor(V), return_counts=True),
    "inverse": lambda T: T.unique(T.tensor(V), return_inverse=True),
    "both": lambda T: T.unique(T.tensor(V), return_inverse=True, return_counts=True),
    "method": lambda T: T.tensor(V).unique(return_counts=True),
    "unsorted": lambda T: T.unique(T.tensor(V), sorted=False, return_counts=True),
    "float_2d_inverse": lambda T: T.unique(T.tensor(V2 * 0.5), return_inverse=True),
    "dim": lambda T: T.unique(T.tensor(V2), dim=0, return_inverse=True, return_counts=True),
    "dim_method": lambda T: T.tensor(V2).unique(dim=1, return_counts=True),
})


# reductions over dim=() or dim=[]: over every dimension, as with no dim
for _d in ((), []):
    _s = "tuple" if isinstance(_d, tuple) else "list"
    table(f"reduce_empty_{_s}", {
        "sum": lambda T, d=_d: grad_of(T, lambda x: x.sum(d), A),
        "sum_keepdim": lambda T, d=_d: grad_of(T, lambda x: T.sum(x, dim=d, keepdim=True), A),
        "mean": lambda T, d=_d: grad_of(T, lambda x: x.mean(dim=d), A),
        "amax": lambda T, d=_d: grad_of(T, lambda x: x.amax(d), A),
        "amin": lambda T, d=_d: grad_of(T, lambda x: T.amin(x, dim=d, keepdim=True), A),
        # values only: torch 2.13's gradient of std/var over dim=() is inf (it divides by
        # n - 1 with n = 1); zeroin's is that of std/var over every dim (GRADCHECK)
        "std": lambda T, d=_d: t(T, A).std(dim=d),
        "var": lambda T, d=_d: T.var(t(T, A), d, keepdim=True),
        "norm": lambda T, d=_d: grad_of(T, lambda x: x.norm(dim=d), A),
        "norm_p1": lambda T, d=_d: grad_of(T, lambda x: T.norm(x, p=1, dim=d), A),
        "vector_norm": lambda T, d=_d: grad_of(T, lambda x: T.linalg.vector_norm(x, dim=d), A),
        "linalg_norm_fails": lambda T, d=_d: catch(lambda: T.linalg.norm(t(T, A), dim=d)),
        "logsumexp_fails": lambda T, d=_d: catch(lambda: T.logsumexp(t(T, A), dim=d)),
        "logsumexp_keepdim": lambda T, d=_d: grad_of(
            T, lambda x: T.logsumexp(x, dim=d, keepdim=True), A),
        "prod_fails": lambda T, d=_d: catch(lambda: T.prod(t(T, A), dim=d)),
        "max_fails": lambda T, d=_d: catch(lambda: T.max(t(T, A), dim=d)),
    })


# softmax without dim: F.* pick PyTorch's legacy dimension and warn; the others need dim
def _implicit_dim(T, name, a):
    import warnings
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        y = grad_of(T, getattr(T.nn.functional, name), a)
    return y, [(w.category.__name__, str(w.message), w.filename == __file__) for w in seen]


for _name in ("softmax", "log_softmax", "softmin"):
    for _a, _s in ((A[0], "1d"), (A, "2d"), (A3, "3d"), (A3.reshape(2, 3, 2, 2), "4d")):
        IDIOMS[f"implicit_dim_{_name}_{_s}"] = \
            (lambda n, a: lambda T: _implicit_dim(T, n, a))(_name, _a)
table("implicit_dim", {
    "softmax_fn_fails": lambda T: catch(lambda: T.softmax(t(T, A))),
    "softmax_method_fails": lambda T: catch(lambda: t(T, A).softmax()),
    "log_softmax_fn_fails": lambda T: catch(lambda: T.log_softmax(t(T, A))),
    "log_softmax_method_fails": lambda T: catch(lambda: t(T, A).log_softmax()),
    "F_softmax_dim_none": lambda T: _implicit_dim(T, "softmax", A3)[1],
    "F_softmax_dtype": lambda T: T.nn.functional.softmax(t(T, A), dim=1, dtype=T.float32),
    "module_softmax": lambda T: _implicit_module(T, T.nn.Softmax(), A3),
    "module_log_softmax": lambda T: _implicit_module(T, T.nn.LogSoftmax(), A),
    "module_softmin_dim": lambda T: _implicit_module(T, T.nn.Softmin(dim=-1), A3),
})

# integer or bool input: PyTorch's NotImplementedError (zeroin gave floats), unless dtype=
# names the float type to compute in (torch.softmax(x, dim, dtype), x.softmax(dim, dtype))
table("softmax_int", {
    "fn": lambda T: catch(lambda: T.softmax(int_tensor(T, IDX), 1)),
    "method": lambda T: catch(lambda: int_tensor(T, IDX).softmax(dim=0)),
    "log_fn": lambda T: catch(lambda: T.log_softmax(int_tensor(T, IDX), 1)),
    "log_method": lambda T: catch(lambda: int_tensor(T, IDX).log_softmax(-1)),
    "F": lambda T: catch(lambda: T.nn.functional.softmax(int_tensor(T, IDX), dim=1)),
    "F_log": lambda T: catch(lambda: T.nn.functional.log_softmax(int_tensor(T, IDX), dim=1)),
    "F_softmin": lambda T: catch(lambda: T.nn.functional.softmin(int_tensor(T, IDX), dim=1)),
    "module": lambda T: catch(lambda: T.nn.Softmax(dim=1)(int_tensor(T, IDX))),
    "special": lambda T: catch(lambda: T.special.log_softmax(int_tensor(T, IDX), 0)),
    "bool": lambda T: catch(lambda: T.softmax(T.tensor(MASK), 1)),
    "int_dtype": lambda T: catch(lambda: T.softmax(int_tensor(T, IDX), 1, dtype=T.int64)),
    "empty": lambda T: T.softmax(T.tensor([], dtype=T.int64), 0),
    "dtype_fn": lambda T: T.softmax(int_tensor(T, IDX), 1, T.float32),
    "dtype_method": lambda T: int_tensor(T, IDX).softmax(0, dtype=T.float64),
    "dtype_log_fn": lambda T: T.log_softmax(int_tensor(T, IDX), dim=1, dtype=T.float32),
    "dtype_log_method": lambda T: int_tensor(T, IDX).log_softmax(1, T.float64),
    "dtype_F_log": lambda T: T.nn.functional.log_softmax(int_tensor(T, IDX), 1, dtype=T.float32),
    "dtype_special": lambda T: T.special.softmax(int_tensor(T, IDX), 0, dtype=T.float32),
    "dtype_float_grad": lambda T: grad_of(T, lambda x: T.softmax(x, 1, dtype=T.float32), A),
    "dtype_log_float_grad": lambda T: grad_of(T, lambda x: x.log_softmax(0, T.float32), A),
})


# regression losses of integer input: PyTorch's l1 / mse / smooth_l1 promote it to a float
# target's dtype; an integer target, and huber_loss, raise (zeroin refused them all)
def _int_loss(T, name, a, target_dtype=None, **kw):
    f = getattr(T.nn.functional, name)
    return grad_of(T, lambda tg: f(a(T), tg if target_dtype is None else tg.to(target_dtype),
                                   **kw), B[0])


def _I4(T):
    return int_tensor(T, [1, -2, 0, 3])


def _int_loss_idiom(name, **kw):
    return lambda T: _int_loss(T, name, _I4, **kw)


def _int_target_idiom(name):
    return lambda T: catch(lambda: getattr(T.nn.functional, name)(_I4(T), _I4(T) + 1))


table("int_loss", {
    **{f"{n}_{r}": _int_loss_idiom(n, reduction=r)
       for n in ("l1_loss", "mse_loss", "smooth_l1_loss") for r in ("mean", "sum", "none")},
    "mse_int32_float32": lambda T: _int_loss(
        T, "mse_loss", lambda T: _I4(T).to(T.int32), T.float32),
    "l1_int64_float32": lambda T: _int_loss(T, "l1_loss", _I4, T.float32),
    "smooth_l1_beta": lambda T: _int_loss(T, "smooth_l1_loss", _I4, beta=0.5),
    "mse_bool": lambda T: _int_loss(T, "mse_loss", lambda T: T.tensor(MASK[0])),
    "smooth_l1_bool": lambda T: _int_loss(T, "smooth_l1_loss", lambda T: T.tensor(MASK[0])),
    "l1_bool": lambda T: catch(lambda: _int_loss(T, "l1_loss", lambda T: T.tensor(MASK[0]))),
    "huber": lambda T: catch(lambda: _int_loss(T, "huber_loss", _I4)),
    "huber_bool": lambda T: catch(lambda: _int_loss(T, "huber_loss", lambda T: T.tensor(
        MASK[0]))),
    **{f"{n}_int_target": _int_target_idiom(n)
       for n in ("l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss")},
    "module_mse": lambda T: T.nn.MSELoss()(_I4(T), t(T, B[0])),
    # two integer tensors: PyTorch's l1_loss is |input - target| in their dtype (wrapping
    # around), summed to int64; only its mean raises (zeroin raised for all three)
    **{f"l1_int_int_{r}_{d}": (lambda r, d: lambda T: T.nn.functional.l1_loss(
        T.tensor([1, 5, -128, 0]).to(getattr(T, d)), T.tensor([3, 2, 2, 0]).to(getattr(T, d)),
        reduction=r))(r, d) for r in ("none", "sum") for d in ("int64", "int32", "int8",
                                                             "uint8")},
    "l1_int64_int32_sum": lambda T: T.nn.functional.l1_loss(
        _I4(T), _I4(T).to(T.int32) * 3, reduction="sum"),
    "l1_module_int_sum": lambda T: T.nn.L1Loss(reduction="sum")(_I4(T), _I4(T) * 2),
    "l1_int_bool_sum": lambda T: catch(lambda: T.nn.functional.l1_loss(
        _I4(T), T.tensor(MASK[0]), reduction="sum")),
})


# f-strings of tensors, as tutorials print predictions and losses
table("format", {
    "int_0d": lambda T: f"{T.tensor(5)}",
    "float_0d": lambda T: f"{T.tensor(2.5)}",
    "bool_0d": lambda T: f"{T.tensor(True)}",
    "grad_0d": lambda T: f"{T.tensor(1.5, requires_grad=True) * 2}",
    "argmax_item": lambda T: " ".join(f"{p}" for p in T.tensor(A).argmax(1)),
    "spec_0d": lambda T: f"{T.tensor(2.5):.3f}",
    "vector": lambda T: f"{T.tensor([1, 2])}",
    "parameter_0d": lambda T: f"{T.nn.Parameter(T.tensor(1.5))}".splitlines()[0],
})


def _grad_outputs_shape(T):
    x = t(T, A, grad=True)
    return T.autograd.grad(x * 2, x, grad_outputs=T.ones(3))


# nn.Parameter keeps complex data, and any dtype when frozen, as PyTorch's
table("parameter", {
    "complex": lambda T: grad_of(T, lambda z: (T.nn.Parameter(z).abs() ** 2).sum(),
                                 np.array([1 + 2j, 3 - 1j])),
    "complex_value": lambda T: T.nn.Parameter(T.tensor(np.array([1 + 2j, 3 - 1j]))),
    "int_frozen": lambda T: T.nn.Parameter(int_tensor(T, [1, 2]), requires_grad=False),
    "bool_frozen": lambda T: T.nn.Parameter(T.tensor([True, False]), requires_grad=False),
})


# a first hour's mistakes: PyTorch raises RuntimeError, so `except RuntimeError` must catch
table("mistake", {
    "embedding_float_indices": lambda T: catch(
        lambda: T.nn.Embedding(5, 2)(T.tensor([1.0, 2.0]))),
    "one_hot_float_labels": lambda T: catch(
        lambda: T.nn.functional.one_hot(T.tensor([1.0, 2.0]))),
    "one_hot_negative": lambda T: catch(lambda: T.nn.functional.one_hot(int_tensor(T, [-1]))),
    "one_hot_too_big": lambda T: catch(
        lambda: T.nn.functional.one_hot(int_tensor(T, [3]), 2)),
    "backward_gradient_shape": lambda T: catch(
        lambda: (t(T, A, grad=True) * 2).backward(T.ones(3))),
    "grad_outputs_shape": lambda T: catch(lambda: _grad_outputs_shape(T)),
})


# torch.tensor(a_tensor), as in many Datasets' __getitem__: PyTorch warns (and copies)
table("copy_construct", {
    "tensor_of_tensor_warns": warned(lambda T: T.tensor(t(T, A, grad=True))),
    "tensor_of_tensor_dtype": warned(lambda T: T.tensor(t(T, A), dtype=T.float32)),
    "list_of_0d_tensors_silent": warned(lambda T: T.tensor([T.tensor(1.0), T.tensor(2.0)])),
    "as_tensor_silent": warned(lambda T: T.as_tensor(t(T, A))),
})


def test_copy_construct_warning_points_at_the_callers_line():
    with pytest.warns(UserWarning, match=r"sourceTensor.detach\(\).clone\(\)") as seen:
        zeroin.tensor(zeroin.ones(2))
    assert seen[0].filename == __file__


def test_float_of_a_tensor_that_requires_grad_warns_once_as_pytorch(monkeypatch):
    # PyTorch 2.13: float(loss) warns (once per process, only with grad mode on); int(),
    # .item() and float() under no_grad stay silent
    monkeypatch.setattr(zeroin._tensor, "_float_warned", False)
    x = zeroin.tensor(A, requires_grad=True).sum()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with zeroin.no_grad():
            float(x)
        int(x), x.item(), float(x.detach())
        assert seen == []
        float(x)
        float(x)
    assert [str(w.message) for w in seen] == [
        "Converting a tensor with requires_grad=True to a scalar may lead to unexpected "
        "behavior.\nConsider using tensor.detach() first."]
    assert seen[0].category is UserWarning and seen[0].filename == __file__


def _implicit_module(T, m, a):
    import warnings
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        y = m(t(T, a))
    return y, [(w.category.__name__, str(w.message)) for w in seen]     # (torch points
    # the module's warning at its own code, zeroin at the caller's line)


# --- running them ------------------------------------------------------------------------

def _run(T, f):
    try:
        return f(T)
    except Exception as e:      # noqa: BLE001 - compared with PyTorch's behaviour
        return e


def _params():
    for name, f in IDIOMS.items():
        marks = [pytest.mark.xfail(strict=True, reason=PENDING[name])] if name in PENDING \
            else []
        yield pytest.param(name, f, id=name, marks=marks)


@pytest.mark.parametrize("name, f", list(_params()))
def test_idiom(name, f):
    torch.manual_seed(0)
    zeroin.manual_seed(0)
    rt = f(torch)
    check(name, rt, _run(zeroin, f))


def test_every_pending_idiom_exists():
    assert set(PENDING) <= set(IDIOMS)


# --- zeroin-only checks of the same promises -----------------------------------------------

def test_moving_to_a_gpu_says_zeroin_runs_on_the_cpu():
    with pytest.raises(RuntimeError, match="CPU"):
        zeroin.tensor(A).to("cuda")
    assert zeroin.device("cuda").type == "cuda"     # device-agnostic code may build one


def test_in_place_after_an_op_that_saved_its_output_gives_the_right_gradient():
    # PyTorch refuses this at backward (exp saved the output that add_ changed); zeroin
    # keeps the value exp produced for exp's backward, so the gradient is simply right
    x = zeroin.tensor(A, requires_grad=True)
    y = x.exp()
    y.add_(1)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(A) + 1) * np.exp(A))


def test_in_place_on_a_tensor_an_earlier_op_used_leaves_that_op_intact():
    # refused until 2026-12-05; now the earlier op keeps the value it read
    x = zeroin.tensor(A, requires_grad=True)
    y = x * 2
    z = y * y                           # mul needs y's value at this point for its backward
    y.mul_(3)
    np.testing.assert_allclose(y.numpy(), 6 * A)
    z.sum().backward()                  # the graph is intact
    np.testing.assert_allclose(x.grad.numpy(), 8 * A)


def test_manual_seed_repeats_every_random_function():
    def draw():
        return [zeroin.randn(3).numpy(), zeroin.rand(2).numpy(), zeroin.randint(0, 9, (4,)).numpy(),
                zeroin.randperm(5).numpy(), zeroin.normal(0.0, 1.0, size=(2,)).numpy(),
                zeroin.randn_like(zeroin.zeros(2)).numpy()]
    zeroin.manual_seed(7)
    first = draw()
    zeroin.manual_seed(7)
    for a, b in zip(first, draw()):
        np.testing.assert_array_equal(a, b)


def test_one_function_instance_called_twice_gives_each_call_its_gradient():
    class Square(zeroin.Function):      # zeroin's own op style: one instance, two calls
        def forward(self, x):
            return x * x

        def backward(self, xp, g, out, x):
            return 2 * g * x

    f = Square()
    a = zeroin.tensor(3.0, requires_grad=True)
    b = zeroin.tensor(4.0, requires_grad=True)
    ya, yb = f(a), f(b)
    ya.backward()
    assert a.grad.item() == 6.0 and b.grad is None
    yb.backward()
    assert b.grad.item() == 8.0


def test_custom_function_with_two_outputs_and_a_non_differentiable_one():
    class SplitSign(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            pos, neg = x.relu(), (-x).relu()
            idx = (x > 0).long()
            ctx.mark_non_differentiable(idx)
            return pos, neg, idx

        @staticmethod
        def backward(ctx, gpos, gneg, gidx):
            (x,) = ctx.saved_tensors
            return gpos * (x > 0).double() - gneg * (x < 0).double()

    x = zeroin.tensor(A, requires_grad=True)
    pos, neg, idx = SplitSign.apply(x)
    assert not idx.requires_grad and idx.dtype == np.int64
    (2 * pos + 3 * neg).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(A > 0, 2.0, -3.0))


def test_custom_function_errors_say_what_to_do():
    class Bad(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, 3)     # not a tensor

    with pytest.raises(TypeError, match="save_for_backward: argument 1 is an int"):
        Bad.apply(zeroin.tensor(A, requires_grad=True), 1)

    class TooMany(zeroin.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="TooMany.backward: returned 2 gradients, but "
                                           "forward took 1 arguments"):
        TooMany.apply(zeroin.tensor(A, requires_grad=True)).sum().backward()
    with pytest.raises(RuntimeError, match=r"call TooMany.apply\(...\)"):
        TooMany(zeroin.tensor(A))


def test_custom_function_backward_must_return_one_gradient_per_argument():
    # forward(ctx, x, k) with backward returning only grad_x: PyTorch raises, not pads
    torch = pytest.importorskip("torch")
    for lib in (torch, zeroin):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                ctx.k = k
                return x * k

            @staticmethod
            def backward(ctx, g):
                return g * ctx.k

        class Extra(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2, None, None          # trailing Nones are dropped

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match=r"Scale.*returned .*(1 gradients, but forward "
                                               r"took 2|expected 2, got 1)"):
            Scale.apply(x, 3.0).sum().backward()
        Extra.apply(x).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]


def test_creation_errors_name_the_fix():
    with pytest.raises(TypeError, match=r"randint: give the size"):
        zeroin.randint(10)
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray"):
        zeroin.from_numpy([1, 2])
    with pytest.raises(TypeError, match="zeros: size must be integers"):
        zeroin.zeros(2.5)
    with pytest.raises(RuntimeError, match="CPU"):
        zeroin.zeros(2, device="cuda")
    with pytest.raises(TypeError, match="is not a dtype"):
        zeroin.zeros(2, dtype="floaty")
    assert zeroin.zeros(2, dtype=torch.float32).dtype == np.float32    # torch dtypes too


def test_grad_assignment_and_data_update_rules():
    p = zeroin.tensor(A, requires_grad=True)
    with pytest.raises(TypeError, match="grad: assigned grad expected to be a Tensor"):
        p.grad = 0
    p.grad = np.ones((3, 4))                 # an array is wrapped
    assert isinstance(p.grad, zeroin.Tensor)
    p.data = zeroin.zeros(3, 4)              # a tensor's values are taken
    assert type(p.numpy()) is np.ndarray and p.requires_grad and p.is_leaf
    q = zeroin.tensor(A, requires_grad=True)
    (q * q).sum().backward()
    q.data -= 0.5 * q.grad                   # in place, no graph
    np.testing.assert_allclose(q.numpy(), A - 0.5 * 2 * A)
    assert q.grad_fn is None


# --- Generator, multinomial, bernoulli --------------------------------------------------------

def test_generator_api_is_torchs():
    for T in (zeroin, torch):
        g = T.Generator()
        assert g.initial_seed() == 67280421310721
        assert g.manual_seed(42) is g and g.initial_seed() == 42
        assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1
        s = g.seed()
        assert isinstance(s, int) and g.initial_seed() == s
    with pytest.raises(TypeError, match=r"Generator\.manual_seed: the seed must be a whole "
                                        r"number, got 1\.5"):
        zeroin.Generator().manual_seed(1.5)
    g1, g2 = zeroin.Generator().manual_seed(3), zeroin.Generator().manual_seed(3)
    for f in (lambda g: zeroin.randn(4, generator=g), lambda g: zeroin.rand(2, generator=g),
              lambda g: zeroin.randint(0, 9, (4,), generator=g),
              lambda g: zeroin.randperm(6, generator=g),
              lambda g: zeroin.normal(0.0, 1.0, size=(3,), generator=g),
              lambda g: zeroin.zeros(3).normal_(generator=g),
              lambda g: zeroin.zeros(3).uniform_(generator=g),
              lambda g: zeroin.nn.init.normal_(zeroin.zeros(3), generator=g),
              lambda g: zeroin.multinomial(zeroin.ones(5), 3, generator=g),
              lambda g: zeroin.bernoulli(zeroin.full((6,), 0.5), generator=g)):
        a, b = f(g1), f(g2)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    zeroin.manual_seed(0)
    shared = zeroin.randn(3).numpy()
    zeroin.manual_seed(0)
    zeroin.randn(3, generator=zeroin.Generator().manual_seed(0))   # its own stream
    np.testing.assert_array_equal(zeroin.randn(3).numpy(), shared)
    with pytest.raises(TypeError, match=r"generator: expected a zeroin\.Generator"):
        zeroin.randn(2, generator="seed")


@pytest.mark.parametrize("shape, n, replacement", [((4,), 3, False), ((2, 5), 5, False),
                                                   ((3,), 7, True), ((0, 2), 1, False),
                                                   ((2, 3), 1, True)])
def test_multinomial_shapes_and_dtypes_are_torchs(shape, n, replacement):
    w = np.random.default_rng(0).uniform(0.1, 1, shape)
    got = zeroin.multinomial(zeroin.tensor(w), n, replacement)
    want = torch.multinomial(torch.tensor(w), n, replacement)
    assert got.shape == tuple(want.shape) and got.dtype == np.int64 and not got.requires_grad
    assert zeroin.tensor(w).multinomial(n, replacement).shape == got.shape
    if not replacement and got.numel():
        assert all(len(set(r)) == n for r in got.numpy().reshape(-1, n))


def test_multinomial_draws_in_proportion_to_the_weights():
    g = zeroin.Generator().manual_seed(0)
    w = zeroin.tensor([1.0, 2.0, 7.0])                  # weights, not summing to 1
    draws = zeroin.multinomial(w, 20000, replacement=True, generator=g).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, [0.1, 0.2, 0.7],
                               atol=0.015)
    rows = zeroin.multinomial(w.expand(20000, 3), 2, generator=g).numpy()
    np.testing.assert_allclose(np.bincount(rows[:, 0], minlength=3) / 20000, [0.1, 0.2, 0.7],
                               atol=0.015)
    # the second draw without replacement: P(second = 0) = sum_j p_j * p_0 / (1 - p_j)
    p = np.array([0.1, 0.2, 0.7])
    second = sum(p[j] * p[0] / (1 - p[j]) for j in (1, 2))
    assert abs(np.mean(rows[:, 1] == 0) - second) < 0.015
    assert zeroin.multinomial(zeroin.tensor([0.0, 1.0, 0.0]), 2)[0].item() == 1   # zeros last
    assert set(zeroin.multinomial(zeroin.tensor([0.0, 1.0, 0.0]), 50, True).tolist()) == {1}


@pytest.mark.parametrize("w, n, kw", [
    (np.ones((2, 2, 2)), 1, {}), (np.array([0.2, 0.8]), 0, {}), (np.array([0.2, 0.8]), 3, {}),
    (np.array([-1.0, 2.0]), 1, {}), (np.zeros(2), 1, {}), (np.array([1, 2]), 1, {}),
    (np.array([np.nan, 1.0]), 1, {}), (np.array([np.inf, 1.0]), 1, {}), (np.array(0.5), 1, {}),
    (np.ones(0), 1, {}), (np.array([0.0, 1.0, 0.0]), 3, {"replacement": True}),
])
def test_multinomial_refuses_what_torch_refuses(w, n, kw):
    try:
        torch.multinomial(torch.tensor(w), n, **kw)
    except RuntimeError as e:
        with pytest.raises(RuntimeError, match="multinomial: ") as mine:
            zeroin.multinomial(zeroin.tensor(w), n, **kw)
        words = str(e).split(",")[0].split("(")[0].strip()[:30]
        assert words.lower() in str(mine.value).lower() or "floating-point" in str(mine.value)
    else:
        zeroin.multinomial(zeroin.tensor(w), n, **kw)


def test_bernoulli_shapes_dtypes_rates_and_errors_are_torchs():
    g = zeroin.Generator().manual_seed(1)
    for dt, tdt in ((np.float32, torch.float32), (np.float64, torch.float64)):
        p = np.full((200, 100), 0.3, dt)
        got, want = zeroin.bernoulli(zeroin.tensor(p), generator=g), torch.bernoulli(torch.tensor(p))
        assert got.shape == tuple(want.shape) and got.dtype == dt and want.dtype == tdt
        assert set(np.unique(got.numpy())) <= {0.0, 1.0} and abs(got.numpy().mean() - 0.3) < 0.01
    x = zeroin.zeros(20000, dtype=zeroin.float64)
    assert abs(x.bernoulli(0.8, generator=g).numpy().mean() - 0.8) < 0.01
    assert x.bernoulli_(0.25, generator=g) is x and abs(x.numpy().mean() - 0.25) < 0.01
    assert zeroin.bernoulli(zeroin.tensor([0.0, 1.0])).tolist() == [0.0, 1.0]
    for bad in ([1.5], [-0.1], [np.nan]):
        with pytest.raises(RuntimeError):
            torch.bernoulli(torch.tensor(bad))
        with pytest.raises(RuntimeError, match=r"bernoulli: probabilities must be in \[0, 1\]"):
            zeroin.bernoulli(zeroin.tensor(bad))
    with pytest.raises(TypeError, match=r"bernoulli: expects floating-point probabilities"):
        zeroin.bernoulli(zeroin.tensor([1, 0]))


@pytest.mark.parametrize("idiom", [
    lambda T: T.zeros(2, 3).scatter_(1, T.tensor([0, 1]), 1.0),     # labels not unsqueezed
    lambda T: T.zeros(2, 3).scatter(1, T.tensor([0, 1]), T.ones(2)),
    lambda T: T.zeros(2, 3).scatter_add(1, T.tensor([0, 1]), T.ones(2)),
    lambda T: T.zeros(2, 3).scatter_(1, T.tensor([[0.0], [1.0]]), 1.0),
    lambda T: T.zeros(2, 3).gather(1, T.tensor([[0.0]])),
    lambda T: T.zeros(2, 3).index_select(0, T.tensor([0.0])),
    lambda T: T.take_along_dim(T.zeros(2, 3), T.tensor([[0.0]]), 1),
    lambda T: T.zeros(2, 3).index_add(0, T.tensor([0.0]), T.ones(1, 3))])
def test_scatter_and_gather_refuse_a_misshapen_or_float_index_with_pytorchs_error(idiom):
    """DLWPT ch4's one-hot ``scatter_(1, target.unsqueeze(1), 1.0)`` without the unsqueeze
    crashed inside zeroin (IndexError: list assignment index out of range); a float index
    raised a TypeError where PyTorch raises RuntimeError."""
    rt, rz = catch(lambda: idiom(torch)), catch(lambda: idiom(zeroin))
    same(rt, rz)
    assert type(rt) is RuntimeError and "index" in str(rz) and str(rz).split(":")[0] in (
        "scatter", "scatter_add", "gather", "index_select", "take_along_dim", "index_add")
