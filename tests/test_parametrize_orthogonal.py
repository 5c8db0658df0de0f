"""nn.utils.parametrizations.orthogonal against PyTorch's: the three maps, with and
without trivialization, tall, square, wide and batched weights; values, state dict keys,
gradients (and finite differences), assignment and errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.nn.utils import parametrizations as ZP

torch = pytest.importorskip("torch")
TP = torch.nn.utils.parametrizations

MAPS = ["matrix_exp", "cayley", "householder"]
SHAPES = [(5, 5), (6, 3), (3, 6)]


def _linears(shape, seed=0):
    torch.manual_seed(seed)
    lt = torch.nn.Linear(shape[1], shape[0]).double()
    lz = nn.Linear(shape[1], shape[0])
    lz.load_state_dict({k: v.detach().numpy() for k, v in lt.state_dict().items()})
    return lz, lt


def _orthonormal(w):
    q = w if w.shape[-2] >= w.shape[-1] else np.swapaxes(w, -1, -2)
    np.testing.assert_allclose(np.swapaxes(q, -1, -2) @ q,
                               np.broadcast_to(np.eye(q.shape[-1]),
                                               q.shape[:-2] + (q.shape[-1],) * 2),
                               atol=1e-12)


@pytest.mark.parametrize("triv", [True, False])
@pytest.mark.parametrize("mp", MAPS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_values_gradients_and_state_dicts_match_torch(shape, mp, triv):
    lz, lt = _linears(shape)
    TP.orthogonal(lt, orthogonal_map=mp, use_trivialization=triv)
    assert ZP.orthogonal(lz, orthogonal_map=mp, use_trivialization=triv) is lz
    assert list(lz.state_dict()) == list(lt.state_dict())
    assert type(lz).__name__ == type(lt).__name__ == "ParametrizedLinear"
    if triv and shape[0] == shape[1] or (mp == "householder" and not triv):
        # deterministic initial values: PyTorch's QR or geqrf
        np.testing.assert_allclose(lz.weight.data, lt.weight.detach().numpy(), atol=1e-12)
    if triv or mp == "householder":
        _orthonormal(lz.weight.data)
    step = 0.3 * np.random.default_rng(1).standard_normal(shape)
    np.fill_diagonal(step, 0)       # householder reads the signs of the diagonal
    with torch.no_grad():       # move away from the initial point, in both
        lt.parametrizations.weight.original.add_(torch.tensor(step))
    lz.load_state_dict({k: v.detach().numpy() for k, v in lt.state_dict().items()})
    _orthonormal(lz.weight.data)
    np.testing.assert_allclose(lz.weight.data, lt.weight.detach().numpy(), atol=1e-12)
    x = np.random.default_rng(0).standard_normal((4, shape[1]))
    yz, yt = lz(zeroin.tensor(x)), lt(torch.tensor(x))
    (yz ** 2).sum().backward()
    (yt ** 2).sum().backward()
    np.testing.assert_allclose(lz.parametrizations.weight.original.grad.data,
                               lt.parametrizations.weight.original.grad.numpy(), atol=1e-12)
    orth = lz.parametrizations.weight[0]
    x0 = lz.parametrizations.weight.original.detach().numpy().copy()
    k = min(shape)
    x0[np.arange(k), np.arange(k)] *= 1.5       # householder's signs: away from the jumps
    assert zeroin.gradcheck(lambda a: orth(a), (zeroin.tensor(x0, requires_grad=True),))


@pytest.mark.parametrize("mp", MAPS)
def test_a_batch_of_matrices(mp):
    w0 = np.random.default_rng(2).standard_normal((2, 4, 3))
    mz, mt = nn.Module(), torch.nn.Module()
    mz.weight = nn.Parameter(zeroin.tensor(w0))
    mt.weight = torch.nn.Parameter(torch.tensor(w0))
    TP.orthogonal(mt, orthogonal_map=mp, use_trivialization=False)
    ZP.orthogonal(mz, orthogonal_map=mp, use_trivialization=False)
    step = 0.2 * np.random.default_rng(6).standard_normal(w0.shape)
    step[:, np.arange(3), np.arange(3)] = 0     # householder reads the diagonal's signs
    with torch.no_grad():
        mt.parametrizations.weight.original.add_(torch.tensor(step))
    mz.load_state_dict({k: v.detach().numpy() for k, v in mt.state_dict().items()})
    np.testing.assert_allclose(mz.weight.data, mt.weight.detach().numpy(), atol=1e-12)
    _orthonormal(mz.weight.data)


def test_assigning_a_weight_goes_through_right_inverse():
    lz, lt = _linears((4, 4))
    ZP.orthogonal(lz)
    TP.orthogonal(lt)
    q0 = np.linalg.qr(np.random.default_rng(3).standard_normal((4, 4)))[0]
    lz.weight = zeroin.tensor(q0)          # orthogonal: kept as it is
    with torch.no_grad():
        lt.weight = torch.tensor(q0)
    np.testing.assert_allclose(lz.weight.data, q0, atol=1e-12)
    np.testing.assert_allclose(lz.parametrizations.weight[0].base.data,
                               lt.parametrizations.weight[0].base.numpy(), atol=1e-12)
    a = np.arange(16.0).reshape(4, 4) + np.eye(4)
    lz.weight = zeroin.tensor(a)            # not orthogonal: its QR's Q, diag(R) >= 0
    q, r = np.linalg.qr(a)
    np.testing.assert_allclose(lz.weight.data, q * np.sign(np.diag(r)), atol=1e-12)
    with pytest.raises(ValueError, match=r"Expected a matrix or batch of matrices of shape "
                                         r"\(4, 4\)"):
        lz.weight = zeroin.zeros(3, 4)
    le = nn.Linear(4, 4)
    ZP.orthogonal(le, orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        le.weight = zeroin.tensor(q0)


def test_errors_are_torchs():
    for T, P in ((torch, TP), (zeroin, ZP)):
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
            P.orthogonal(T.nn.Linear(2, 2), "w")
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a "
                                             "tensor of 1 dimensions"):
            P.orthogonal(T.nn.Linear(2, 2), "bias")
        with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
            P.orthogonal(T.nn.Linear(2, 2), orthogonal_map="qr")


def test_default_map_and_a_training_step_stays_orthogonal():
    lz = ZP.orthogonal(nn.Linear(3, 6))
    assert lz.parametrizations.weight[0].orthogonal_map == "householder"
    assert ZP.orthogonal(nn.Linear(3, 3)).parametrizations.weight[0].orthogonal_map == \
        "matrix_exp"
    opt = zeroin.optim.SGD(lz.parameters(), lr=0.5)
    for _ in range(3):
        opt.zero_grad()
        (lz(zeroin.ones(2, 3)) ** 2).sum().backward()
        opt.step()
    _orthonormal(lz.weight.data)


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0])
def test_the_matrix_exp_behind_the_map_matches_torch_and_its_gradient(scale):
    a0 = np.random.default_rng(4).standard_normal((2, 4, 4)) * scale
    a, at = zeroin.tensor(a0, requires_grad=True), torch.tensor(a0, requires_grad=True)
    e, et = zeroin.linalg.matrix_exp(a), torch.linalg.matrix_exp(at)
    np.testing.assert_allclose(e.data, et.detach().numpy(), rtol=1e-11,
                               atol=1e-13 * np.abs(et.detach().numpy()).max())
    w = np.random.default_rng(5).standard_normal(a0.shape)
    (e * zeroin.tensor(w)).sum().backward()
    (et * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(a.grad.data, at.grad.numpy(), rtol=1e-9,
                               atol=1e-12 * np.abs(at.grad.numpy()).max())
