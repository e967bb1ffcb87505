"""Backpropagation against central finite differences, in float64."""

import itertools

import numpy as np
import pytest

from nnctl.core.activations import ACTIVATIONS
from nnctl.core.losses import LOSSES
from nnctl.core.model import init_network
from nnctl.core.regularizers import penalty
from nnctl.core.training import gradients, parameters
from nnctl.core.model import logits
from numerical import numerical_gradients, worst_relative_error

PENALTIES = {"none": (0.0, 0.0), "l1": (0.01, 0.0), "l2": (0.0, 0.01)}
EPS = 1e-5  # central differences: truncation ~EPS^2, round-off ~1e-16 / EPS, both ~1e-11
# Relative error |a - n| / max(|a|, |n|, FLOOR): below FLOOR a gradient must agree to
# FLOOR * 1e-6 = 1e-10 in absolute terms, the size of the round-off in the difference itself.
FLOOR = 1e-4


# (loss, classes or regression targets): hinge twice, as the binary (one unit, t = +-1)
# and the multi-class loss are different functions.
CASES = [("mse", 2), ("mae", 2), ("binary_cross_entropy", 2), ("softmax_cross_entropy", 3),
         ("hinge", 2), ("hinge", 3)]


def _problem(loss_name: str, count: int, rng: np.random.Generator):
    """A batch and targets for the loss: ``count`` classes or regression targets."""
    X = rng.normal(size=(7, 4))
    loss = LOSSES[loss_name]
    if loss.task == "regression":
        return X, rng.normal(size=(7, count)), count
    return X, np.arange(7) % count, loss.n_outputs(count)


def _objective(layers, loss, X, T, l1, l2) -> float:
    return loss.value(logits(layers, X), T) + penalty([layer.W for layer in layers], l1, l2)


def _far_from_kinks(layers, loss, X, T, activation) -> bool:
    """True when no relu input, |w| (for L1), or loss hinge lies within 1e-3 of its kink."""
    from nnctl.core.model import forward

    inputs, sums = forward(layers, X)
    if activation in ("relu", "leaky_relu") and any(np.min(np.abs(Z)) < 1e-3 for Z in sums[:-1]):
        return False
    if any(np.min(np.abs(layer.W)) < 1e-3 for layer in layers):
        return False
    Z = sums[-1]
    if loss.name == "mae" and np.min(np.abs(Z - T)) < 1e-3:
        return False
    if loss.name == "hinge":
        margins = 1 - T * Z if Z.shape[1] == 1 else Z - np.sum(T * Z, axis=1, keepdims=True) + 1
        if np.min(np.abs(margins)) < 1e-3:
            return False
    return True


def test_every_loss_is_checked():
    assert {name for name, _ in CASES} == set(LOSSES)


@pytest.mark.parametrize(
    "activation,case,reg",
    list(itertools.product(sorted(ACTIVATIONS), CASES, sorted(PENALTIES))),
    ids=lambda v: f"{v[0]}-{v[1]}" if isinstance(v, tuple) else v,
)
def test_backprop_matches_finite_differences(activation, case, reg):
    loss_name, count = case
    l1, l2 = PENALTIES[reg]
    loss = LOSSES[loss_name]
    for attempt in range(20):  # redraw until no parameter sits on a kink
        rng = np.random.default_rng([attempt, len(activation), len(loss_name), count])
        X, y, n_out = _problem(loss_name, count, rng)
        layers = init_network([4, 5, 3, n_out], [activation, activation], loss.output_activation, rng, "glorot_normal", np.float64)
        for layer in layers:
            layer.b[:] = rng.normal(scale=0.5, size=layer.b.shape)
        T = loss.encode(y, n_out, np.float64)
        if _far_from_kinks(layers, loss, X, T, activation):
            break
    else:
        pytest.fail("could not draw a network away from the kinks")

    analytic = gradients(layers, loss, X, T, l1, l2)
    numerical = numerical_gradients(lambda: _objective(layers, loss, X, T, l1, l2), parameters(layers), EPS)
    worst = worst_relative_error(analytic, numerical, FLOOR)
    assert worst <= 1e-6, f"max relative error {worst:.2e}"
    assert any(np.abs(g).max() > 1e-3 for g in analytic), "gradients are all (near) zero: the check proves nothing"
