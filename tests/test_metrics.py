"""zeroin.metrics against hand-computed values and scikit-learn's definitions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zeroin
from zeroin.metrics import accuracy, get_metric, mae, mse, r2


def test_accuracy_from_logits_probabilities_and_labels():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.5, 0.1], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
    y = np.array([0, 1, 1, 0])
    assert accuracy(logits, y) == 0.75
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert accuracy(zeroin.tensor(probs), zeroin.tensor(y)) == 0.75
    assert accuracy(np.array([0, 1, 2, 2]), y) == 0.5           # labels already
    onehot = np.eye(3)[y]
    assert accuracy(logits, onehot) == 0.75


def test_binary_accuracy_thresholds():
    out = np.array([[-1.0], [0.2], [0.7], [3.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    assert accuracy(out, y) == 0.75                               # logits: threshold 0
    assert accuracy(out, y, logits=False) == 0.5                  # probabilities: 0.5
    assert accuracy(out, y[:, 0]) == 0.75                         # (n,) targets also fit
    with pytest.raises(ValueError, match="do not match"):
        accuracy(out, np.zeros(3))


def test_accuracy_refuses_regression_targets_instead_of_truncating_them():
    out = np.array([[0.3], [1.7], [2.2]])
    y = np.array([[0.25], [1.9], [2.0]])        # continuous: truncation made them 0, 1, 2
    with pytest.raises(ValueError, match=r"accuracy: the targets are not class labels "
                       r"\(e\.g\. 0\.25\).*'mse', 'mae' or 'r2'"):
        accuracy(out, y)
    assert accuracy(out, np.array([[0.0], [1.0], [1.0]])) == pytest.approx(2 / 3)
    soft = np.array([[0.9, 0.1], [0.2, 0.8]])   # smoothed one-hot rows still give classes
    assert accuracy(np.array([[1.0, 0.0], [1.0, 0.0]]), soft) == 0.5


@given(seed=st.integers(0, 10_000), n=st.integers(2, 30))
@settings(max_examples=40, deadline=None)
def test_regression_metrics_match_definitions(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 1))
    p = y + rng.normal(scale=0.5, size=(n, 1))
    err = p - y
    assert mse(p, y) == pytest.approx(np.sum(err ** 2) / n)
    assert mae(zeroin.tensor(p), y) == pytest.approx(np.sum(np.abs(err)) / n)
    ss_tot = np.sum((y - y.mean()) ** 2)
    assert r2(p, y) == pytest.approx(1 - np.sum(err ** 2) / ss_tot)
    from sklearn.metrics import r2_score
    assert r2(p, y) == pytest.approx(r2_score(y, p))


def test_r2_reference_points():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2(y, y) == 1.0
    assert r2(np.full(4, y.mean()), y) == pytest.approx(0.0)
    assert r2(-y, y) < 0


def test_shape_mismatch_is_refused_not_broadcast():
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(3,\)"):
        mse(np.zeros((3, 1)), np.zeros(3))


def test_get_metric():
    assert get_metric("acc")[0] == "accuracy"
    assert get_metric(mse) == ("mse", mse)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        get_metric("f1")
