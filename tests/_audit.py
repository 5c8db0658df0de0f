"""Helpers shared by the audits of books and courses (tests/test_audit_*.py), each of which
runs the book's code on PyTorch and on zeroin and compares the two. The float32 fixture
they use, ``f32``, is in conftest.py."""
import platform

import numpy as np
import pytest

import zeroin


def np_of(t):
    """A tensor of either library (or anything array-like) as a NumPy array."""
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def close(z, t, tol=1e-10, **tols):
    """zeroin's ``z`` equals torch's ``t`` to ``tol`` (relative and absolute), or to the
    ``rtol`` / ``atol`` given."""
    np.testing.assert_allclose(np_of(z), np_of(t), **(tols or dict(rtol=tol, atol=tol)))


def copy_weights(tmodel, zmodel):
    """The torch model's weights and buffers into the zeroin model (same names, same
    dtypes); returns the zeroin model."""
    state = {k: zeroin.tensor(v.detach().numpy().copy()) for k, v in tmodel.state_dict().items()}
    zmodel.load_state_dict(state)
    return zmodel


def skip_off_torch_kernels(torch):
    """Skip where zeroin's copy of torch's random kernels does not apply: torch's float32
    randn runs its AVX2 Box-Muller kernel on x86-64 with AVX2 or AVX-512; other CPUs run
    other kernels, whose last bits zeroin does not claim."""
    cap = torch.backends.cpu.get_cpu_capability()
    if platform.machine().lower() not in ("x86_64", "amd64") or cap not in ("AVX2", "AVX512"):
        pytest.skip(f"the torch stream copies torch's x86-64 AVX2 kernels; this CPU runs {cap}")


def torch_stream():
    """zeroin's shared generator on PyTorch's stream (``use_torch_stream(True)``), or skip
    where it cannot match (:func:`skip_off_torch_kernels`)."""
    skip_off_torch_kernels(pytest.importorskip("torch"))
    zeroin.random.use_torch_stream(True)


@pytest.fixture(autouse=True)
def torch_defaults_back():
    """After each test: torch's default dtype back to float32 and zeroin's stream back to
    NumPy's (conftest puts zeroin's dtype back), even when the test fails. Autouse in the
    audits that import it."""
    yield
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float32)
    zeroin.random.use_torch_stream(False)
