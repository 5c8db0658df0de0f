"""zeroin.fft against torch.fft: values, dtypes, gradients (PyTorch's, edge bins of
rfft/irfft/hfft included) and complex finite differences; errors of the same type."""
import warnings

import numpy as np
import pytest

import zeroin
import zeroin.fft
from test_complex import fd_grad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4))
Z = RNG.standard_normal((3, 4)) + 1j * RNG.standard_normal((3, 4))
Z5 = RNG.standard_normal((2, 5)) + 1j * RNG.standard_normal((2, 5))


def _weight(shape, dtype_kind):
    r = np.random.default_rng(sum(shape) + 11)
    w = r.standard_normal(shape)
    return w + 1j * r.standard_normal(shape) if dtype_kind == "c" else w


def _loss(T, y):
    """A real loss reading every output element (both parts of a complex one)."""
    w = T.tensor(_weight(tuple(y.shape), "c" if y.is_complex() else "f"))
    return (y * w).real.sum() if y.is_complex() else (y * w).sum()


def _numpy(t):
    return np.asarray(t.detach().resolve_conj().numpy())


CASES = [
    ("fft", Z, {}), ("fft", X, {}), ("fft", Z, {"n": 6}), ("fft", Z, {"n": 3, "dim": 0}),
    ("fft", Z, {"norm": "ortho"}), ("fft", Z, {"norm": "forward"}),
    ("ifft", Z, {}), ("ifft", Z, {"n": 2, "norm": "ortho"}),
    ("fft2", Z, {}), ("ifft2", Z, {"s": (2, 6)}), ("fftn", X, {"s": (5,)}),
    ("fftn", Z, {"dim": (0,), "norm": "forward"}), ("ifftn", Z, {}),
    ("rfft", X, {}), ("rfft", X, {"n": 7}), ("rfft", X, {"n": 2, "dim": 0, "norm": "ortho"}),
    ("irfft", Z, {}), ("irfft", Z, {"n": 7}), ("irfft", Z5, {"n": 4, "norm": "forward"}),
    ("irfft", Z5, {"norm": "ortho"}), ("irfft", Z, {"dim": 0}),
    ("rfft2", X, {}), ("irfft2", Z, {}), ("irfft2", Z, {"s": (4, 5)}),
    ("rfftn", X, {"norm": "forward"}), ("irfftn", Z5, {"s": (3, 9)}),
    ("hfft", Z, {}), ("hfft", Z5, {"n": 9, "norm": "ortho"}), ("hfft", Z, {"norm": "forward"}),
    ("ihfft", X, {}), ("ihfft", X, {"n": 5, "norm": "forward"}),
    ("hfft2", Z, {}), ("hfft2", Z5, {"s": (3, 8), "norm": "ortho"}),
    ("hfft2", Z, {"norm": "forward"}), ("hfftn", Z, {}), ("hfftn", Z5, {"s": (9,)}),
    ("hfftn", Z, {"dim": (0,), "norm": "ortho"}), ("hfftn", Z5, {"s": (3, 7), "dim": (1, 0)}),
    ("ihfft2", X, {}), ("ihfft2", X, {"s": (3, 5), "norm": "forward"}),
    ("ihfftn", X, {}), ("ihfftn", X, {"dim": (0,), "norm": "ortho"}),
    ("ihfftn", X, {"s": (4, 3), "dim": (1, 0)}),
]


@pytest.mark.parametrize("name,a,kw", CASES)
def test_values_dtypes_and_gradients_match_torch(name, a, kw):
    za = zeroin.tensor(a, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    zy = getattr(zeroin.fft, name)(za, **kw)
    ty = getattr(torch.fft, name)(ta, **kw)
    assert str(zy.dtype) == str(ty.dtype).replace("torch.", "")
    np.testing.assert_allclose(zy.data, _numpy(ty), rtol=1e-10, atol=1e-12)
    _loss(zeroin, zy).backward()
    _loss(torch, ty).backward()
    np.testing.assert_allclose(za.grad.data, _numpy(ta.grad), rtol=1e-9, atol=1e-12)
    # complex finite differences (dL/dRe + i dL/dIm) agree with PyTorch's rule, edge bins
    # of the c2r transforms (irfft, hfft) included
    fd = fd_grad(lambda v: float(_loss(zeroin, getattr(zeroin.fft, name)(
        zeroin.tensor(v), **kw)).data), a)
    np.testing.assert_allclose(za.grad.data, fd, rtol=1e-5, atol=1e-6)


def test_float32_in_complex64_out_and_integers_take_the_default_dtype():
    x = RNG.standard_normal(8).astype(np.float32)
    assert zeroin.fft.fft(zeroin.tensor(x)).dtype == np.complex64
    assert zeroin.fft.rfft(zeroin.tensor(x)).dtype == np.complex64
    assert zeroin.fft.irfft(zeroin.fft.rfft(zeroin.tensor(x))).dtype == np.float32
    assert zeroin.fft.fft(zeroin.tensor([1, 2, 3])).dtype == np.complex128   # float64 default
    old = zeroin.get_default_dtype()
    try:
        zeroin.set_default_dtype(zeroin.float32)
        assert zeroin.fft.fft(zeroin.tensor([1, 2, 3])).dtype == np.complex64
        assert zeroin.fft.fftfreq(5).dtype == np.float32
    finally:
        zeroin.set_default_dtype(old)


def test_roundtrips():
    x = zeroin.tensor(X)
    np.testing.assert_allclose(zeroin.fft.irfft(zeroin.fft.rfft(x), n=4).data, X, atol=1e-12)
    np.testing.assert_allclose(zeroin.fft.ifftn(zeroin.fft.fftn(x)).data, X, atol=1e-12)
    np.testing.assert_allclose(zeroin.fft.irfftn(zeroin.fft.rfftn(x), s=X.shape).data, X,
                               atol=1e-12)


def test_gradcheck_through_the_transforms():
    z = zeroin.tensor(Z, requires_grad=True)
    x = zeroin.tensor(X, requires_grad=True)
    assert zeroin.gradcheck(lambda z: zeroin.fft.fft2(z, norm="ortho"), (z,))
    assert zeroin.gradcheck(lambda x: zeroin.fft.rfft(x, n=6), (x,))
    assert zeroin.gradgradcheck(lambda z: zeroin.fft.ifft(z * z), (z,))


def test_second_derivative_through_irfft_matches_torch():
    res = []
    for T in (zeroin, torch):
        z = T.tensor(Z5, requires_grad=True)
        y = T.fft.irfft(z * z, n=7)
        (g,) = T.autograd.grad((y * y).sum(), z, create_graph=True)
        (g2,) = T.autograd.grad(_loss(T, g), z)
        res.append(_numpy(g2))
    np.testing.assert_allclose(res[0], res[1], rtol=1e-9)


@pytest.mark.parametrize("name,kw", [("fftfreq", {}), ("fftfreq", {"d": 0.5}),
                                     ("rfftfreq", {}), ("rfftfreq", {"d": 2.0})])
@pytest.mark.parametrize("n", [1, 5, 6])
def test_frequencies(name, kw, n):
    a = getattr(zeroin.fft, name)(n, dtype=zeroin.float64, **kw)
    b = getattr(torch.fft, name)(n, dtype=torch.float64, **kw)
    np.testing.assert_allclose(a.data, b.numpy())


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1), -1])
def test_shifts_match_torch_and_carry_gradients(dim):
    for name in ("fftshift", "ifftshift"):
        za = zeroin.tensor(RNG.standard_normal((3, 5)), requires_grad=True)
        ta = torch.tensor(za.data, requires_grad=True)
        zy, ty = getattr(zeroin.fft, name)(za, dim), getattr(torch.fft, name)(ta, dim)
        np.testing.assert_array_equal(zy.data, ty.detach().numpy())
        _loss(zeroin, zy).backward()
        _loss(torch, ty).backward()
        np.testing.assert_array_equal(za.grad.data, ta.grad.numpy())


@pytest.mark.parametrize("call", [
    lambda T: T.fft.fft(T.tensor(X), norm="bad"), lambda T: T.fft.fft(T.tensor(X), n=0),
    lambda T: T.fft.rfft(T.tensor(Z)), lambda T: T.fft.ihfft(T.tensor(Z)),
    lambda T: T.fft.fft(T.tensor(X), dim=3), lambda T: T.fft.irfft(T.tensor(Z), n=0),
    lambda T: T.fft.fftn(T.tensor(X[0]), s=(2, 2)),
    lambda T: T.fft.fftn(T.tensor(X), s=(2,), dim=(0, 0)),
    lambda T: T.fft.irfft(T.tensor(Z[:, :1])),
    lambda T: T.fft.ihfft2(T.tensor(Z)), lambda T: T.fft.ihfftn(T.tensor(Z)),
    lambda T: T.fft.hfft2(T.tensor(Z[0])), lambda T: T.fft.hfftn(T.tensor(Z), s=(2, 2, 2)),
])
def test_errors_have_torchs_types(call):
    with pytest.raises(Exception) as et:
        call(torch)
    with pytest.raises(et.type):
        call(zeroin)


def test_module_loads_on_first_use():
    import subprocess
    import sys
    code = ("import sys, zeroin; assert 'zeroin.fft' not in sys.modules; "
            "zeroin.fft.fft(zeroin.ones(4)); assert 'zeroin.fft' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


STFT_CASES = [dict(n_fft=8), dict(n_fft=8, hop_length=3, win_length=6),
              dict(n_fft=9, center=False), dict(n_fft=8, normalized=True, pad_mode="constant"),
              dict(n_fft=8, onesided=False), dict(n_fft=6, hop_length=6)]


@pytest.mark.parametrize("kw", STFT_CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_stft_and_istft_values_and_gradients_match_torch(kw, batched):
    x = RNG.standard_normal((2, 40) if batched else (40,))
    win = np.hanning(kw.get("win_length", kw["n_fft"]) + 2)[1:-1]     # no zeros
    res = []
    for T in (zeroin, torch):
        a = T.tensor(x, requires_grad=True)
        s = T.stft(a, window=T.tensor(win), return_complex=True, **kw)
        (s * T.tensor(_weight(tuple(s.shape), "c"))).real.sum().backward()
        b = T.tensor(s.detach().numpy(), requires_grad=True)
        ikw = {k: v for k, v in kw.items() if k != "pad_mode"}
        with warnings.catch_warnings():     # padded to length: both warn (torch only once)
            warnings.simplefilter("ignore")
            y = T.istft(b, window=T.tensor(win), length=40, **ikw)
        (y * T.tensor(x)).sum().backward()
        res.append([_numpy(v) for v in (s, a.grad, y, b.grad)])
    for z, t in zip(*res):
        assert z.dtype == t.dtype
        np.testing.assert_allclose(z, t, rtol=1e-9, atol=1e-12)
    if kw.get("hop_length", 2) < kw["n_fft"] // 2 and kw.get("center", True):
        # enough overlap and every sample in a frame: a perfect inverse
        np.testing.assert_allclose(res[0][2], x, atol=1e-10)


def test_stft_gradient_against_finite_differences():
    x = RNG.standard_normal(16)
    w = zeroin.tensor(np.hanning(8))
    f = lambda v: float(_loss(zeroin, zeroin.stft(zeroin.tensor(v), 8, window=w,  # noqa: E731
                                                  return_complex=True)).data)
    a = zeroin.tensor(x, requires_grad=True)
    _loss(zeroin, zeroin.stft(a, 8, window=w, return_complex=True)).backward()
    np.testing.assert_allclose(a.grad.data, fd_grad(f, x), rtol=1e-5, atol=1e-7)
    assert np.allclose(zeroin.tensor(x).stft(8, window=w, return_complex=True).data,
                       zeroin.stft(zeroin.tensor(x), 8, window=w, return_complex=True).data)


@pytest.mark.parametrize("call", [
    lambda T: T.stft(T.tensor(X[0]), 4),                          # return_complex missing
    lambda T: T.stft(T.tensor(X[0]), 4, hop_length=0, return_complex=True),
    lambda T: T.stft(T.tensor(X[0]), 30, center=False, return_complex=True),
    lambda T: T.stft(T.tensor(X[0]), 4, win_length=6, return_complex=True),
    lambda T: T.istft(T.tensor(X), 4),                            # real input
    lambda T: T.istft(T.stft(T.tensor(X[0]), 4, window=T.hann_window(4, dtype=T.float64),
                             return_complex=True), 4, return_complex=True),
    lambda T: T.istft(T.stft(T.ones(20, dtype=T.float64), 8, hop_length=8, return_complex=True,
                             window=T.hann_window(8, dtype=T.float64)), 8, hop_length=8,
                      window=T.hann_window(8, dtype=T.float64)),
])
def test_stft_errors_have_torchs_types(call):
    with warnings.catch_warnings():       # torch's and zeroin's window warnings
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as et:
            call(torch)
        with pytest.raises(et.type):
            call(zeroin)


def test_stft_warns_as_torch_without_a_window_and_for_return_complex_false():
    shapes = []
    with pytest.warns(UserWarning, match="window was not provided"):   # torch: once only
        zeroin.stft(zeroin.tensor(X[0]), 4, return_complex=True)
    w = zeroin.ones(9)
    with pytest.warns(UserWarning, match="padded with zeros"):         # torch: once only
        zeroin.istft(zeroin.stft(zeroin.tensor(RNG.standard_normal(12)), 9, window=w,
                                 hop_length=2, center=False, return_complex=True),
                     9, hop_length=2, window=w, center=False, length=14)
    for T in (zeroin, torch):
        with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
            r = T.stft(T.tensor(X[0]), 4, window=T.ones(4, dtype=T.float64),
                       return_complex=False)
        shapes.append((tuple(r.shape), str(r.dtype).replace("torch.", "")))
    assert shapes[0] == shapes[1]
