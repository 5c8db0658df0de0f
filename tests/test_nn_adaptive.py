"""nn.AdaptiveLogSoftmaxWithLoss against PyTorch's: with PyTorch's weights loaded, the same
output, loss, gradients, log_prob and predict; its parameter names and errors."""
import numpy as np
import pytest

import zeroin
from zeroin import nn

torch = pytest.importorskip("torch")


def _pair(in_features=16, n_classes=10, cutoffs=(3, 6), **kw):
    torch.manual_seed(0)
    mt = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), **kw)
    mt.double()
    m = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, **kw)
    assert list(m.state_dict()) == list(mt.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in mt.state_dict().items()})
    return m, mt


@pytest.mark.parametrize("kw", [{}, dict(div_value=2.0, head_bias=True),
                                dict(in_features=64, n_classes=20, cutoffs=(2, 5, 12))])
def test_forward_loss_and_gradients_match_torch(kw):
    m, mt = _pair(**kw)
    assert repr(m) == repr(mt)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((7, m.in_features))
    t0 = np.array([0, 9, 4, 2, 6, 3, 8]) % m.n_classes
    x, xt = zeroin.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    out, loss = m(x, zeroin.tensor(t0))
    out_t, loss_t = mt(xt, torch.tensor(t0))
    assert type(m(x, zeroin.tensor(t0))).__name__ == "_ASMoutput"
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)
    (loss + (out * zeroin.tensor(np.arange(7.0))).sum()).backward()
    (loss_t + (out_t * torch.tensor(np.arange(7.0))).sum()).backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    tp = dict(mt.named_parameters())
    for name, p in m.named_parameters():
        if tp[name].grad is None:           # a cluster no target is in
            assert p.grad is None, name
            continue
        np.testing.assert_allclose(p.grad.data, tp[name].grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=name)
    lp, lp_t = m.log_prob(zeroin.tensor(x0)), mt.log_prob(torch.tensor(x0))
    np.testing.assert_allclose(lp.data, lp_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(np.exp(lp.data).sum(1), 1.0)
    np.testing.assert_array_equal(m.predict(zeroin.tensor(x0 * 3)).data,
                                  mt.predict(torch.tensor(x0 * 3)).numpy())
    # the output is log_prob at the targets
    np.testing.assert_allclose(out.data, lp.data[np.arange(7), t0], rtol=1e-12)


def test_gradcheck_and_an_unbatched_sample():
    m, mt = _pair()
    x0 = np.random.default_rng(1).standard_normal((4, 16))
    t = zeroin.tensor([1, 5, 9, 3])
    assert zeroin.gradcheck(lambda x: m(x, t).loss, (zeroin.tensor(x0, requires_grad=True),))
    out, loss = m(zeroin.tensor(x0[0]), zeroin.tensor(7))
    out_t, loss_t = mt(torch.tensor(x0[0]), torch.tensor(7))
    assert out.shape == tuple(out_t.shape) == ()
    np.testing.assert_allclose(out.item(), out_t.item(), rtol=1e-12)
    np.testing.assert_allclose(loss.item(), loss_t.item(), rtol=1e-12)


def test_predict_with_rows_in_the_shortlist_and_in_clusters():
    m, mt = _pair()
    x0 = np.random.default_rng(2).standard_normal((50, 16)) * 4
    got = m.predict(zeroin.tensor(x0)).data
    np.testing.assert_array_equal(got, mt.predict(torch.tensor(x0)).numpy())
    assert (got < 3).any() and (got >= 3).any()
    np.testing.assert_array_equal(got, m.log_prob(zeroin.tensor(x0)).data.argmax(1))


@pytest.mark.parametrize("args", [(8, 10, []), (8, 10, [3, 3]), (8, 10, [6, 3]),
                                  (8, 10, [0, 3]), (8, 10, [3, 10]), (8, 10, [2.5])])
def test_bad_cutoffs_are_refused_as_in_torch(args):
    with pytest.raises(ValueError):
        torch.nn.AdaptiveLogSoftmaxWithLoss(*args)
    with pytest.raises(ValueError, match="cutoffs should be a sequence"):
        nn.AdaptiveLogSoftmaxWithLoss(*args)


def test_bad_inputs_are_refused_as_in_torch():
    m, mt = _pair()
    for x, t in [(np.zeros((3, 16)), [1, 2]), (np.zeros((3, 2, 16)), [1, 2, 3]),
                 (np.zeros((3, 16)), 1), (np.zeros((3, 16)), [[1], [2], [3]]),
                 (np.zeros((2, 16)), [1, 10]), (np.zeros((2, 16)), [-1, 1])]:
        with pytest.raises(RuntimeError):
            mt(torch.tensor(x), torch.tensor(t))
        with pytest.raises(RuntimeError):
            m(zeroin.tensor(x), zeroin.tensor(t))


def test_a_projection_of_no_features_is_refused():
    with pytest.raises(ValueError, match=r"cluster 1's projection would have .* = 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6])
