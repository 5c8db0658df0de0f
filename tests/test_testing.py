"""zeroin.testing against torch.testing: assert_close's pass/fail decisions, exception
types and messages on a table of cases; make_tensor's ranges, dtypes and errors;
the deprecated assert_allclose."""
import math
import re
import warnings

import numpy as np
import pytest

import zeroin
from zeroin.testing import assert_close, assert_allclose, make_tensor

torch = pytest.importorskip("torch")

_T = ("T",)     # marks an array that becomes a tensor on both sides


def T(*values, dtype="float64"):
    """An array standing for a tensor in the case table (zeroin.tensor / torch.tensor)."""
    return (_T, np.array(values if len(values) != 1 else values[0], dtype=dtype))


def _build(x, lib):
    if isinstance(x, tuple) and len(x) == 2 and x[0] is _T:
        return zeroin.tensor(x[1]) if lib == "z" else torch.from_numpy(x[1].copy())
    if isinstance(x, list):
        return [_build(v, lib) for v in x]
    if isinstance(x, tuple):
        return tuple(_build(v, lib) for v in x)
    if isinstance(x, dict):
        return {k: _build(v, lib) for k, v in x.items()}
    return x


CASES = [
    (T(1.0, 2.0, 3.0), T(1.0, 2.0, 3.0), {}),
    (T(1.0, 2.0, 3.0), T(1.0, 2.5, 3.0), {}),
    (T(1.0, 2.0, 3.0), T(1.0, 2.0 + 1e-8, 3.0), {}),
    (T(1.0, 2.0, 3.0, dtype="float32"), T(1.0, 2.00001, 3.0, dtype="float32"), {}),
    (T(1.0, 2.0, 3.0, dtype="float32"), T(1.0, 2.0001, 3.0, dtype="float32"), {}),
    (T(1.0, 2.0, dtype="float16"), T(1.0, 2.001, dtype="float16"), {}),
    (T(1.0, 2.0, dtype="float16"), T(1.0, 2.01, dtype="float16"), {}),
    (T(1.0, 2.0, 3.0), T(1.1, 2.0, 3.5), dict(rtol=0.01, atol=0.01)),
    (T(1.0, 2.0, 3.0), T(1.1, 2.0, 3.5), dict(rtol=0.2, atol=0.0)),
    (T(1.0, 2.0, 3.0), T(1.1, 2.0, 3.5), dict(rtol=0.0, atol=0.0)),
    (T(1.0, 2.0), T(1.0, 2.0), dict(rtol=1e-3)),
    (T(1.0, 2.0), T(1.0, 2.0), dict(atol=1e-3)),
    (T([[1.0, 2.0], [3.0, 4.0]]), T([[1.0, 2.0], [3.5, 0.0]]), {}),
    (T([[0.0, 2.0], [3.0, 4.0]]), T([[1.0, 2.0], [3.0, 0.0]]), {}),
    (T(1.0, math.nan), T(1.0, math.nan), {}),
    (T(1.0, math.nan), T(1.0, math.nan), dict(equal_nan=True)),
    (T(1.0, math.nan), T(1.0, 2.0), {}),
    (T(1.0, math.inf), T(1.0, math.inf), {}),
    (T(1.0, math.inf), T(1.0, -math.inf), {}),
    (T(1.0, 2.0), T(1.0, 2.0, 3.0), {}),
    (T([1.0, 2.0]), T([[1.0, 2.0]]), {}),
    (T(1.0, 2.0, dtype="float32"), T(1.0, 2.0), {}),
    (T(1.0, 2.0, dtype="float32"), T(1.0, 2.0), dict(check_dtype=False)),
    (T(1, 2, 3, dtype="int64"), T(1, 2, 4, dtype="int64"), {}),
    (T(1, 2, 3, dtype="int32"), T(1, 2, 3, dtype="int64"), {}),
    (T(1, 2, 3, dtype="int32"), T(1, 2, 3, dtype="int64"), dict(check_dtype=False)),
    (T(1, 2, 3, dtype="int64"), T(1.0, 2.0, 3.0000001, dtype="float32"),
     dict(check_dtype=False)),
    (T(True, False, dtype="bool"), T(True, True, dtype="bool"), {}),
    (T(1 + 1j, 2j, dtype="complex128"), T(1 + 1j, 2.5j, dtype="complex128"), {}),
    (T(2.0), T(2.5), {}),
    (T(2.0), T(0.0), {}),
    (T(3, dtype="int64"), T(4, dtype="int64"), {}),
    (1.0, 1.0, {}), (1.0, 1.0 + 1e-9, {}), (1.0, 1.5, {}), (1, 2, {}), (1, 1.0, {}),
    (1, 1.0, dict(check_dtype=False)), (2.0, 0.0, {}), (math.nan, math.nan, {}),
    (math.nan, math.nan, dict(equal_nan=True)), (1 + 2j, 1 + 2.5j, {}),
    (True, True, {}), (True, False, {}), (None, None, {}), (None, 1.0, {}),
    (np.float32(1.0), np.float32(1.5), {}), (np.float64(1.0), 1.0, {}),
    ("a", "a", {}), (1.0, T(1.0), {}),
    ([T(1.0, 2.0), 3.0], [T(1.0, 2.0), 3.0], {}),
    ([T(1.0, 2.0), 3.0], [T(1.0, 2.5), 3.0], {}),
    ([T(1.0, 2.0), 3.0], [T(1.0, 2.0), 3.5], {}),
    ((1.0, [2.0, 3.0]), (1.0, [2.0, 3.5]), {}),
    ([1.0, 2.0], [1.0], {}),
    ({"a": T(1.0), "b": 2.0}, {"a": T(1.0), "b": 2.5}, {}),
    ({"a": T(1.0), "b": 2.0}, {"a": T(1.0), "c": 2.0}, {}),
    ({"b": [T(1.0, 2.0)], "a": 1}, {"a": 1, "b": [T(1.0, 3.0)]}, {}),
    ([T(1.0, 2.0), 3.0], [T(1.0, 2.5), "x"], {}),
    (T(1.0, 2.0), T(1.0, 2.5), dict(msg="custom message")),
    ([T(1.0, 2.0)], [T(1.0, 2.5)], dict(msg=lambda m: "prefix\n" + m)),
    (T(1.0, 2.0), T(1.0, 2.0), dict(check_stride=True, check_device=False,
                                    check_layout=False)),
]


def _outcome(lib, actual, expected, kwargs):
    fn = assert_close if lib == "z" else torch.testing.assert_close
    try:
        fn(_build(actual, lib), _build(expected, lib), **kwargs)
    except Exception as e:      # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None, None


@pytest.mark.parametrize("actual, expected, kwargs", CASES)
def test_assert_close_decisions_and_messages_match_torch(actual, expected, kwargs):
    ztype, zmsg = _outcome("z", actual, expected, kwargs)
    ttype, tmsg = _outcome("t", actual, expected, kwargs)
    assert ztype is ttype, (zmsg, tmsg)
    if ttype is TypeError:          # the messages name each library's classes
        assert "No comparison pair" in zmsg and "No comparison pair" in tmsg
        return
    if tmsg is not None:
        tmsg = tmsg.replace("torch.Size", "zeroin.Size").replace("torch.", "zeroin.")
    assert zmsg == tmsg


def test_numpy_arrays_and_subclasses():
    a = np.array([1.0, 2.0])
    assert_close(a, a.copy())
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 2"):
        assert_close(a, np.array([1.0, 3.0]))
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(zeroin.tensor(a), a)       # torch: a tensor and an array never pair
    with pytest.raises(TypeError):
        torch.testing.assert_close(torch.tensor(a), a)
    p = zeroin.nn.Parameter(zeroin.tensor(a))
    assert_close(p, zeroin.tensor(a))           # a Parameter is a tensor subclass
    with pytest.raises(TypeError, match="No comparison pair"):
        assert_close(p, zeroin.tensor(a), allow_subclasses=False)
    with pytest.raises(TypeError):
        torch.testing.assert_close(torch.nn.Parameter(torch.tensor(a)), torch.tensor(a),
                                   allow_subclasses=False)
    assert_close(zeroin.tensor(a, requires_grad=True) * 1, zeroin.tensor(a))


def test_make_tensor_ranges_dtypes_and_flags():
    zeroin.manual_seed(0)
    ranges = {"bool": (0, 1), "uint8": (0, 9), "int8": (-9, 9), "int64": (-9, 9),
              "float16": (-9, 9), "float32": (-9, 9), "float64": (-9, 9)}
    for name, (lo, hi) in ranges.items():
        t = make_tensor(200, dtype=getattr(zeroin, name), device="cpu")
        tt = torch.testing.make_tensor(200, dtype=getattr(torch, name), device="cpu")
        assert t.dtype == np.dtype(name) and str(tt.dtype) == f"torch.{name}"
        v = t.numpy().astype(float)
        assert lo <= v.min() and v.max() <= hi
        assert v.max() - v.min() > (hi - lo) / 2          # the range is used
    t = make_tensor((2, 3), dtype=zeroin.complex128, device="cpu", low=-1, high=1)
    assert t.shape == (2, 3) and np.abs(t.numpy().real).max() <= 1
    t = make_tensor([4, 5], dtype=zeroin.float32, device="cpu", requires_grad=True,
                    noncontiguous=True)
    assert t.shape == (4, 5) and t.requires_grad and t.is_leaf
    z = make_tensor(500, dtype=zeroin.int8, device="cpu", low=-1, high=1, exclude_zero=True)
    assert set(np.unique(z.numpy())) <= {-1, 1}
    small = make_tensor(50, dtype=zeroin.float64, device="cpu", low=-1e-320, high=1e-320,
                        exclude_zero=True)
    assert (small.numpy() != 0).all()
    big = make_tensor(5, dtype=zeroin.float32, device="cpu", low=-1e50, high=1e50)
    assert np.isfinite(big.numpy()).all()


@pytest.mark.parametrize("kwargs, err", [
    (dict(dtype="int64", requires_grad=True), ValueError),
    (dict(dtype="float32", low=2, high=1), ValueError),
    (dict(dtype="float32", low=math.nan), ValueError),
    (dict(dtype="uint8", low=-5, high=-1), ValueError),
    (dict(dtype="float32", noncontiguous=True, memory_format="x"), ValueError),
])
def test_make_tensor_errors_match_torch(kwargs, err):
    kz, kt = dict(kwargs), dict(kwargs)
    kz["dtype"], kt["dtype"] = getattr(zeroin, kwargs["dtype"]), getattr(torch, kwargs["dtype"])
    if kt.get("memory_format"):
        kt["memory_format"] = torch.contiguous_format
    with pytest.raises(err) as ez:
        make_tensor(3, device="cpu", **kz)
    with pytest.raises(err) as et:
        torch.testing.make_tensor(3, device="cpu", **kt)
    first = re.sub(r"(torch|zeroin)\.", "", str(et.value)).split(",")[0]
    assert re.sub(r"(torch|zeroin)\.", "", str(ez.value)).split(",")[0] == first


def test_make_tensor_low_equal_high_warns_and_bad_dtype():
    with pytest.warns(FutureWarning, match="low==high"):
        make_tensor(2, dtype=zeroin.float32, device="cpu", low=1, high=1)
    with pytest.raises(TypeError, match="not supported by torch.testing.make_tensor"):
        make_tensor(2, dtype=zeroin.bfloat16, device="cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        make_tensor(2, dtype=zeroin.float32, device="cuda")


def test_assert_allclose_is_deprecated_and_looser():
    with pytest.warns(FutureWarning, match="assert_allclose"):
        assert_allclose(zeroin.tensor([1.0, math.nan]), [1.0 + 1e-6, math.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        with pytest.raises(AssertionError) as ez:
            assert_allclose(zeroin.tensor([1.0, 2.0]), [1.0, 2.1])
        with pytest.raises(AssertionError) as et:
            torch.testing.assert_allclose(torch.tensor([1.0, 2.0], dtype=torch.float64),
                                          [1.0, 2.1])
        assert str(ez.value) == str(et.value)
        with pytest.raises(AssertionError, match="^boom$"):
            assert_allclose(1.0, 2.0, msg="boom")


def test_zeroin_testing_is_lazy_and_a_module():
    import importlib
    import subprocess
    import sys
    code = "import sys, zeroin; print('zeroin.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert zeroin.testing is importlib.import_module("zeroin.testing")


@pytest.mark.parametrize("actual, expected", [(True, 1), (1, True), (False, 0.0),
                                              (True, np.float32(1.0)), (np.int64(1), True)])
def test_python_bool_against_a_number_raises_runtime_error_as_torch(actual, expected):
    """PyTorch's number comparison fails on a Python bool with RuntimeError (an np.bool_
    or a tensor with a bool: TypeError, no pair); zeroin's error is the same type."""
    with pytest.raises(RuntimeError) as t:
        torch.testing.assert_close(actual, expected)
    with pytest.raises(RuntimeError, match="a bool with a number"):
        assert_close(actual, expected)
    assert t.type is RuntimeError
    for a, e in ((np.bool_(True), 1), (True, zeroin.tensor(1))):
        with pytest.raises(TypeError, match="No comparison pair"):
            assert_close(a, e)
