"""torch.nn.attention's kernel switches in zeroin: SDPBackend, sdpa_kernel and the
backends.cuda.*_sdp flags, against PyTorch's CPU build (which kernels run, which raise)."""
import warnings

import numpy as np
import pytest

import zeroin
from zeroin.nn.attention import SDPBackend, sdpa_kernel

torch = pytest.importorskip("torch")
from torch.nn import attention as tattention  # noqa: E402

FLAGS = ("math", "flash", "mem_efficient", "cudnn")


def _flags(lib):
    return {f: getattr(lib.backends.cuda, f"{f}_sdp_enabled")() for f in FLAGS}


def _attend(lib, q):
    try:
        return lib.nn.functional.scaled_dot_product_attention(q, q, q).detach().numpy()
    except RuntimeError as e:     # PyTorch: "No viable backend ..." or "No available kernel"
        assert lib is torch or "No viable backend" in str(e)
        return "refused"


def test_sdpbackend_members_are_pytorchs():
    assert [(m.name, int(m)) for m in SDPBackend] == \
        [(n, int(m)) for n, m in tattention.SDPBackend.__members__.items()]
    assert str(SDPBackend.MATH) == str(tattention.SDPBackend.MATH) == "SDPBackend.MATH"
    assert repr(SDPBackend.FLASH_ATTENTION) == repr(tattention.SDPBackend.FLASH_ATTENTION)


@pytest.mark.parametrize("names", [["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"],
                                   ["CUDNN_ATTENTION"], ["OVERRIDEABLE"], ["ERROR"], [],
                                   ["EFFICIENT_ATTENTION", "MATH"], "MATH", "EFFICIENT_ATTENTION"])
def test_sdpa_kernel_runs_or_refuses_as_pytorch_on_the_cpu(names):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 8))
    results = {}
    for lib, enum in ((zeroin, SDPBackend), (torch, tattention.SDPBackend)):
        chosen = getattr(enum, names) if isinstance(names, str) else \
            [getattr(enum, n) for n in names]
        before = _flags(lib)
        with (sdpa_kernel if lib is zeroin else tattention.sdpa_kernel)(chosen) as got:
            assert got == {}
            results[lib.__name__] = (_flags(lib), _attend(lib, lib.tensor(x)))
        assert _flags(lib) == before            # put back after the block
    (zf, zout), (tf, tout) = results["zeroin"], results["torch"]
    assert zf == tf
    if isinstance(tout, str) or isinstance(zout, str):
        assert zout == tout
    else:
        np.testing.assert_allclose(zout, tout, rtol=1e-12, atol=1e-12)


def test_sdpa_kernel_puts_the_switches_back_after_an_error_and_names_the_fix():
    q = zeroin.ones(1, 2, 4)
    with pytest.raises(KeyError), sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
        with pytest.raises(RuntimeError, match=r"sdpa_kernel\(\[SDPBackend.MATH\]\)"):
            zeroin.nn.functional.scaled_dot_product_attention(q, q, q)
        raise KeyError("inside the block")
    assert _flags(zeroin) == dict.fromkeys(FLAGS, True)
    assert zeroin.nn.functional.scaled_dot_product_attention(q, q, q).shape == (1, 2, 4)


@pytest.mark.parametrize("bad", ["math", (SDPBackend.MATH,), [SDPBackend.MATH, "flash"]])
def test_sdpa_kernel_refuses_what_is_not_a_backend(bad):
    """PyTorch asserts on a str or a tuple (and takes ["math"] silently, turning every
    kernel off); zeroin refuses all three, naming the call and the fix."""
    with pytest.raises(AssertionError, match=r"sdpa_kernel.*SDPBackend.MATH"):
        with sdpa_kernel(bad):
            pass
    assert _flags(zeroin) == dict.fromkeys(FLAGS, True)


def test_backends_cuda_switches_and_deprecated_sdp_kernel_as_pytorch():
    q = np.random.default_rng(1).standard_normal((2, 3, 5, 4))   # 4-D: flash takes it
    for lib in (zeroin, torch):
        cuda = lib.backends.cuda
        cuda.enable_math_sdp(False)
        try:
            assert not isinstance(_attend(lib, lib.tensor(q)), str)   # flash still on
            cuda.enable_flash_sdp(False)
            assert isinstance(_attend(lib, lib.tensor(q)), str)
        finally:
            cuda.enable_math_sdp(True)
            cuda.enable_flash_sdp(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with cuda.sdp_kernel(enable_flash=False, enable_cudnn=False):
                inside = _flags(lib)
        assert [w.category for w in caught] == [FutureWarning]
        assert inside == {"math": True, "flash": False, "mem_efficient": True, "cudnn": False}
        assert _flags(lib) == dict.fromkeys(FLAGS, True)


def test_multihead_attention_under_the_math_kernel_equals_pytorchs():
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    zm = zeroin.nn.MultiheadAttention(8, 2, batch_first=True)
    zm.load_state_dict({k: zeroin.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 5, 8))
    with sdpa_kernel(SDPBackend.MATH), tattention.sdpa_kernel(tattention.SDPBackend.MATH):
        zo, _ = zm(*(zeroin.tensor(x),) * 3)
        to, _ = tm(*(torch.tensor(x),) * 3)
    np.testing.assert_allclose(zo.detach().numpy(), to.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")    # PyTorch says why flash is not used
@pytest.mark.parametrize("case", ["4-D", "3-D", "5-D", "dropout", "value features", "batch 1",
                                  "mask", "causal", "gqa", "keys"])
def test_flash_alone_takes_what_pytorchs_cpu_flash_kernel_takes(case):
    """Math off, flash on: PyTorch's CPU flash kernel runs 4-D inputs of one batch size,
    value's features as query's and no dropout, and refuses the rest; zeroin's one kernel
    runs and refuses the same calls."""
    rng = np.random.default_rng(3)
    shapes = {"3-D": [(3, 4, 8)] * 3, "5-D": [(2, 2, 3, 4, 8)] * 3,
              "value features": [(2, 3, 4, 8), (2, 3, 4, 8), (2, 3, 4, 6)],
              "batch 1": [(2, 3, 4, 8), (1, 3, 4, 8), (1, 3, 4, 8)],
              "gqa": [(2, 4, 4, 8), (2, 2, 4, 8), (2, 2, 4, 8)],
              "keys": [(2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)]}.get(case, [(2, 3, 4, 8)] * 3)
    arrays = [rng.standard_normal(s) for s in shapes]
    kwargs = {"dropout": {"dropout_p": 0.5}, "causal": {"is_causal": True},
              "gqa": {"enable_gqa": True},
              "mask": {"attn_mask": np.tril(np.ones((4, 4), bool))}}.get(case, {})
    outs = []
    for lib, ctx in ((zeroin, sdpa_kernel([SDPBackend.FLASH_ATTENTION])),
                     (torch, tattention.sdpa_kernel([tattention.SDPBackend.FLASH_ATTENTION]))):
        kw = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        with ctx:
            try:
                out = lib.nn.functional.scaled_dot_product_attention(
                    *(lib.tensor(a) for a in arrays), **kw)
                outs.append(out.numpy() if case != "dropout" else "ran")
            except RuntimeError as e:
                assert lib is torch or "flash kernel" in str(e)
                outs.append("refused")
    if isinstance(outs[1], str):
        assert outs[0] == outs[1]
    else:
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-10, atol=1e-12)
