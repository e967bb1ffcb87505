"""Softmax, log-sum-exp, sigmoid and every loss at extreme logits, with every floating-point
warning turned into an error: the values stay finite and probabilities sum to 1."""

import numpy as np
import pytest

from nnctl.core.activations import ACTIVATIONS, sigmoid, softmax
from nnctl.core.losses import LOSSES, logsumexp

EXTREMES = [1e3, -1e3, 1e30, -1e30]
DTYPES = [np.float32, np.float64]


def _rows(value: float, dtype) -> np.ndarray:
    """Rows with the extreme value in each position, mixed signs, and all-equal rows."""
    return np.array([[value, 0.0, -value], [0.0, value, 0.0], [-value, -value, value],
                     [value, value, value], [0.0, 0.0, 0.0]], dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", EXTREMES)
def test_softmax_and_logsumexp(value, dtype):
    Z = _rows(value, dtype)
    with np.errstate(all="raise"):
        P = softmax(Z)
        lse = logsumexp(Z)
    assert np.isfinite(P).all() and np.isfinite(lse).all()
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(P[3], [1 / 3] * 3, rtol=1e-6)  # all-equal rows share evenly
    assert lse[0] == pytest.approx(abs(value), rel=1e-6)  # the largest logit dominates


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", EXTREMES)
def test_sigmoid_and_every_activation(value, dtype):
    Z = _rows(value, dtype)
    with np.errstate(all="raise"):
        A = sigmoid(Z)
        for activation in ACTIVATIONS.values():
            out = activation.forward(Z)
            assert np.isfinite(activation.derivative(Z, out)).all()
    assert ((A >= 0) & (A <= 1)).all()
    assert A[0, 0] == pytest.approx(1.0 if value > 0 else 0.0, abs=1e-30)


def _targets(loss_name: str, n_out: int, n_rows: int) -> np.ndarray:
    loss = LOSSES[loss_name]
    y = np.arange(n_rows) % 2 if loss.task == "classification" else np.ones((n_rows, n_out))
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("value", EXTREMES)
@pytest.mark.parametrize("name,n_out", [("mse", 3), ("mae", 3), ("softmax_cross_entropy", 3), ("hinge", 3),
                                        ("hinge", 1), ("binary_cross_entropy", 1)])
def test_every_loss_value_delta_and_probabilities(name, n_out, value, dtype):
    loss = LOSSES[name]
    Z = _rows(value, dtype)[:, :n_out]
    T = loss.encode(_targets(name, n_out, len(Z)), n_out, dtype)
    weights = np.linspace(0.5, 2.0, len(Z))
    with np.errstate(all="raise"):
        for w in (None, weights):
            assert np.isfinite(loss.value(Z, T, w))
            assert np.isfinite(loss.delta(Z, T, w)).all()
        if loss.probabilities is not None:
            P = loss.probabilities(Z)
            np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    if name == "softmax_cross_entropy" and abs(value) == 1e3:
        # the true class 0 of row 0 has logit +value: loss ~0; when it is -value: ~2 value
        row = loss.samples(Z[:1], T[:1])[0]
        assert row == pytest.approx(0.0 if value > 0 else 2 * abs(value), abs=1e-3)
