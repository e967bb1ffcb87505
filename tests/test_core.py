"""The core's math on values worked out by hand and on extreme inputs."""

import warnings

import numpy as np
import pytest

from nnctl.core.activations import ACTIVATIONS, sigmoid, softmax
from nnctl.core.losses import LOSSES, logsumexp
from nnctl.core.metrics import confusion_matrix, mean_squared_error, r2_score
from nnctl.core.model import Layer, forward, glorot_uniform, he_uniform, init_network, parameter_count
from nnctl.core.regularizers import penalty, penalty_gradient
from nnctl.core.training import Settings, fit, gradients, parameters


def _hand_network():
    """2 inputs -> 2 sigmoid units -> 1 identity output (MSE)."""
    return [
        Layer(W=np.array([[0.5, -0.5], [0.3, 0.2]]), b=np.zeros(2), activation="sigmoid"),
        Layer(W=np.array([[1.0], [-1.0]]), b=np.array([0.5]), activation="identity"),
    ]


def test_one_training_step_worked_by_hand():
    # x = [1, 0], target y = 1, learning rate 0.1.
    # Forward:  z1 = x W1 + b1 = [0.5, -0.5];  a1 = sigmoid(z1) = [0.6224593, 0.3775407]
    #           z2 = a1 W2 + b2 = 0.6224593 - 0.3775407 + 0.5 = 0.7449187
    # Loss:     L = (z2 - y)^2 = 0.0650665
    # Backward: dL/dz2 = 2 (z2 - y) = -0.5101627
    #           dW2 = a1^T dz2 = [-0.3175555, -0.1926072];  db2 = -0.5101627
    #           dz1 = dz2 W2^T * a1 (1 - a1) = [-0.5101627, 0.5101627] * 0.2350037 = [-0.1198901, 0.1198901]
    #           dW1 = x^T dz1 = [[-0.1198901, 0.1198901], [0, 0]]
    # Update:   W2 <- W2 - 0.1 dW2 = [1.0317556, -0.9807393];  b2 <- 0.5 + 0.0510163 = 0.5510163
    layers = _hand_network()
    X, y = np.array([[1.0, 0.0]]), np.array([[1.0]])
    inputs, sums = forward(layers, X)
    np.testing.assert_allclose(inputs[1], [[0.6224593, 0.3775407]], atol=1e-7)
    np.testing.assert_allclose(sums[1], [[0.7449187]], atol=1e-7)
    mse = LOSSES["mse"]
    assert mse.value(sums[1], y) == pytest.approx(0.0650665, abs=1e-7)
    dW1, db1, dW2, db2 = gradients(layers, mse, X, y, 0.0, 0.0)
    np.testing.assert_allclose(dW2, [[-0.3175555], [-0.1926072]], atol=1e-7)
    np.testing.assert_allclose(db2, [-0.5101627], atol=1e-7)
    np.testing.assert_allclose(dW1, [[-0.1198901, 0.1198901], [0.0, 0.0]], atol=1e-7)
    np.testing.assert_allclose(db1, [-0.1198901, 0.1198901], atol=1e-7)

    fit(layers, X, y, Settings("mse", learning_rate=0.1, epochs=1, batch_size=None), np.random.default_rng(0))
    np.testing.assert_allclose(layers[1].W, [[1.0317556], [-0.9807393]], atol=1e-7)
    np.testing.assert_allclose(layers[1].b, [0.5510163], atol=1e-7)
    np.testing.assert_allclose(layers[0].W, [[0.5119890, -0.5119890], [0.3, 0.2]], atol=1e-7)


def test_softmax_cross_entropy_is_minus_log_of_the_true_class_share():
    Z = np.array([[3.2, 5.1, -1.7]])  # the lecture's cat scores
    T = np.array([[1.0, 0.0, 0.0]])
    expected = -np.log(np.exp(3.2) / np.exp(Z).sum())
    assert LOSSES["softmax_cross_entropy"].value(Z, T) == pytest.approx(expected)
    assert expected == pytest.approx(2.0404, abs=1e-4)


def test_multiclass_hinge_matches_the_lecture_example():
    # scores (cat, car, frog) = (3.2, 5.1, -1.7), true class cat:
    # max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0
    Z, T = np.array([[3.2, 5.1, -1.7]]), np.array([[1.0, 0.0, 0.0]])
    assert LOSSES["hinge"].value(Z, T) == pytest.approx(2.9)
    np.testing.assert_allclose(LOSSES["hinge"].delta(Z, T), [[-1.0, 1.0, 0.0]])


def test_binary_hinge_and_cross_entropy_values():
    Z, T = np.array([[0.5], [-2.0]]), np.array([[1.0], [1.0]])
    assert LOSSES["hinge"].value(Z, T) == pytest.approx((0.5 + 3.0) / 2)
    p = 1 / (1 + np.exp(-Z))
    assert LOSSES["binary_cross_entropy"].value(Z, T) == pytest.approx(float(-np.log(p).mean()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,n_out", [(name, 3) for name in sorted(LOSSES) if name != "binary_cross_entropy"]
                         + [("binary_cross_entropy", 1), ("hinge", 1)])
def test_extreme_logits_give_finite_losses_and_gradients(name, n_out, dtype):
    loss = LOSSES[name]
    for value in (1000.0, -1000.0):
        Z = np.full((4, n_out), value, dtype=dtype)
        Z[:, 0] = -value
        y = np.array([0, 1, 0, 1]) if loss.task == "classification" else np.ones((4, n_out))
        T = loss.encode(y, n_out, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(all="raise", under="ignore"):
                assert np.isfinite(loss.value(Z, T))
                assert np.isfinite(loss.delta(Z, T)).all()


def test_sigmoid_is_stable_for_large_inputs():
    Z = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            A = sigmoid(Z)
    assert A.dtype == np.float32
    assert A[2] == 0.5 and A[0] < 1e-30 and A[-1] == 1.0
    np.testing.assert_allclose(sigmoid(np.array([-2.0, 2.0])), 1 / (1 + np.exp([2.0, -2.0])))


def test_softmax_and_logsumexp_on_huge_and_equal_rows():
    Z = np.array([[1e30, 0.0, -1e30], [5.0, 5.0, 5.0], [-1e3, -1e3, 1e3]])
    with np.errstate(all="raise", under="ignore"):
        P = softmax(Z)
        lse = logsumexp(Z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    np.testing.assert_allclose(P[1], [1 / 3] * 3)
    np.testing.assert_allclose(lse, [1e30, 5.0 + np.log(3.0), 1e3])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activation_derivative_matches_its_slope(name):
    act = ACTIVATIONS[name]
    Z = np.array([-2.0, -0.3, 0.4, 1.5])
    slope = (act.forward(Z + 1e-6) - act.forward(Z - 1e-6)) / 2e-6
    np.testing.assert_allclose(act.derivative(Z, act.forward(Z)), slope, rtol=1e-6)


def test_l2_prefers_spread_out_weights_and_l1_does_not_mind():
    x = np.ones(4)
    concentrated, spread = np.array([[1.0, 0, 0, 0]]).T, np.full((4, 1), 0.25)
    assert (x @ concentrated)[0] == (x @ spread)[0] == 1.0
    assert penalty([concentrated], 0.0, 1.0) == 1.0
    assert penalty([spread], 0.0, 1.0) == 0.25
    assert penalty([concentrated], 1.0, 0.0) == penalty([spread], 1.0, 0.0) == 1.0
    np.testing.assert_allclose(penalty_gradient(spread, 0.1, 0.5), 0.1 + 2 * 0.5 * spread)
    assert penalty_gradient(spread, 0.0, 0.0) is None


def test_penalty_touches_weights_not_biases():
    layers = _hand_network()
    for layer in layers:
        layer.b[:] = 100.0
    no_reg = gradients(layers, LOSSES["mse"], np.ones((1, 2)), np.ones((1, 1)), 0.0, 0.0)
    with_reg = gradients(layers, LOSSES["mse"], np.ones((1, 2)), np.ones((1, 1)), 0.0, 0.1)
    for index, (a, b) in enumerate(zip(no_reg, with_reg)):
        if index % 2:  # biases
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(b - a, 0.2 * parameters(layers)[index])


def test_network_shape_bias_units_and_initialisation():
    rng = np.random.default_rng(0)
    layers = init_network([3, 5, 4, 2], ["relu", "tanh"], "softmax", rng)
    assert [layer.W.shape for layer in layers] == [(3, 5), (5, 4), (4, 2)]
    assert all(layer.W.dtype == np.float32 and not layer.b.any() for layer in layers)
    assert parameter_count(layers) == (3 + 1) * 5 + (5 + 1) * 4 + (4 + 1) * 2
    rng = np.random.default_rng(0)  # the same draws, by hand: He uniform for relu, Glorot for the rest
    np.testing.assert_array_equal(layers[0].W, he_uniform(3, 5, rng).astype(np.float32))
    np.testing.assert_array_equal(layers[1].W, glorot_uniform(5, 4, rng).astype(np.float32))
    np.testing.assert_array_equal(layers[2].W, glorot_uniform(4, 2, rng).astype(np.float32))
    assert np.abs(layers[0].W).max() > np.sqrt(6 / 8)  # wider than Glorot's bound would allow
    perceptron = init_network([3, 1], [], "sigmoid", rng)
    assert len(perceptron) == 1 and parameter_count(perceptron) == 4
    again = init_network([3, 5, 4, 2], ["relu", "tanh"], "softmax", np.random.default_rng(0))
    assert all(np.array_equal(a.W, b.W) for a, b in zip(layers, again))


def test_metrics_values():
    y, p = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2])
    np.testing.assert_array_equal(confusion_matrix(y, p, 3), [[1, 0, 0], [0, 0, 1], [0, 0, 2]])
    assert r2_score(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])) == 1.0
    assert r2_score(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0])) == 0.0
    # two targets: R^2 = 1 - 2/8 = 0.75 and 1 - 0/2 = 1 -> mean 0.875; a constant target counts 1 or 0
    y = np.array([[1.0, 5.0], [3.0, 6.0], [5.0, 7.0]])
    assert r2_score(y, y + np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]])) == pytest.approx(0.875)
    constant = np.array([[2.0], [2.0]])
    assert r2_score(constant, constant) == 1.0 and r2_score(constant, constant + 1) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        mean_squared_error(np.zeros(3), np.zeros((3, 2)))


def test_regression_metrics_in_the_target_units():
    """Errors of z-scored targets times the scale; R^2 as it is (a constant target stays constant)."""
    from nnctl.core.metrics import regression_metrics

    t, z = np.array([[-1.0], [0.0], [1.0]]), np.array([[-0.5], [0.0], [2.0]])
    scaled = regression_metrics(t, z, (10.0,))
    assert scaled["mse"] == pytest.approx(100 * (0.25 + 0 + 1) / 3) and scaled["mae"] == pytest.approx(10 * 1.5 / 3)
    assert scaled["r2"] == regression_metrics(t, z)["r2"] == pytest.approx(1 - 1.25 / 2)
    flat = np.full((3, 1), -0.1234567)
    assert regression_metrics(flat, flat + 0.5, (0.3,))["r2"] == 0.0  # constant: 0, never a huge negative


def _circles(n, rng):
    r = np.r_[rng.uniform(0, 0.5, n // 2), rng.uniform(0.8, 1.2, n // 2)]
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[r * np.cos(t), r * np.sin(t)], np.r_[np.ones(n // 2, int), np.zeros(n // 2, int)]


def test_hidden_layer_solves_circles_that_a_perceptron_cannot():
    X, y = _circles(400, np.random.default_rng(0))
    results = {}
    for hidden in ([], [8]):
        layers = init_network([2, *hidden, 2], ["tanh"] * len(hidden), "softmax", np.random.default_rng(1))
        history = fit(layers, X, y, Settings("softmax_cross_entropy", 0.5, 150, 32), np.random.default_rng(2))
        results[len(hidden)] = history.records[-1].train.metrics["accuracy"]
    assert results[0] < 0.7
    assert results[1] >= 0.97


def test_fit_stops_when_the_loss_is_no_longer_finite():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)) * 100, rng.normal(size=(50, 1)) * 100
    layers = init_network([3, 4, 1], ["relu"], "identity", rng, dtype=np.float64)
    seen = []
    history = fit(layers, X, y, Settings("mse", 10.0, 50, None), rng, on_epoch=lambda r, l, i, s: seen.append(r.epoch))
    assert history.diverged and "no longer finite" in history.stop_reason
    assert len(seen) < 50 and len(history.records) == len(seen)
