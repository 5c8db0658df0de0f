"""Helpers shared by the audits of books and courses (tests/test_audit_*.py), each of which
runs the book's code on PyTorch and on zeroin and compares the two. The float32 fixture
they use, ``f32``, is in conftest.py."""
import numpy as np

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
