"""Loss functions, computed from the output layer's pre-activations (logits).

Each loss comes with the output activation it is paired with, and its delta is
the gradient of the loss with respect to the output pre-activation Z, with the
output activation's derivative already folded in.  For the pairs below that
gradient has a simple closed form (for softmax + cross-entropy and sigmoid +
binary cross-entropy it is ``(y_hat - y) / n``), which is why the output
activation is not a free choice in a config: it follows from the loss.

Every loss is a mean over the samples of the batch (weighted, when class or
sample weights are given), so its delta carries the factor 1/n.  Shapes:
``Z, T: (n_samples, n_outputs)``; the gradients work on the last axis, so they
also take a stack of batches ``(n_networks, n_samples, n_outputs)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from nnctl.core.activations import _exp_limit, row_max, row_sum, sigmoid, softmax

Array = np.ndarray


def _softplus(Z: Array) -> Array:
    """log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), which never overflows."""
    return np.maximum(Z, 0) + np.log1p(np.exp(-np.minimum(np.abs(Z), _exp_limit(Z.dtype))))


def logsumexp(Z: Array) -> Array:
    """log sum_j e^{z_j} per row = m + log sum_j e^{z_j - m}, with m the row maximum."""
    m = row_max(Z)
    shifted = np.maximum(Z - m[..., None], -_exp_limit(Z.dtype))
    return m + np.log(row_sum(np.exp(shifted)))


# Each loss is given per sample: l_i(z_i, t_i) and its gradient dl_i/dz_i, for
# Z, T: (n_samples, n_outputs).  ``Loss.value`` and ``Loss.delta`` below take
# the (weighted) mean over the batch, in one place for every loss.

# --- mean squared error, identity output -----------------------------------

def mse_samples(Z: Array, T: Array) -> Array:
    """l_i = 1/k sum_j (z_ij - t_ij)^2  (mean over the k outputs)."""
    return np.mean(np.square(Z - T, dtype=np.float64), axis=-1)


def mse_gradient(Z: Array, T: Array) -> Array:
    """dl_i/dz_ij = 2 (z_ij - t_ij) / k."""
    return (2.0 / Z.shape[-1]) * (Z - T)


# --- mean absolute error, identity output ----------------------------------

def mae_samples(Z: Array, T: Array) -> Array:
    """l_i = 1/k sum_j |z_ij - t_ij|."""
    return np.mean(np.abs(Z - T), axis=-1, dtype=np.float64)


def mae_gradient(Z: Array, T: Array) -> Array:
    """dl_i/dz_ij = sign(z_ij - t_ij) / k  (0 where z = t)."""
    return np.sign(Z - T) * (1.0 / Z.shape[-1])


# --- binary cross-entropy, sigmoid output (one unit, t in {0, 1}) ----------

def bce_samples(Z: Array, T: Array) -> Array:
    """l_i = -[t log p + (1 - t) log(1 - p)],  p = sigmoid(z).

    Written in z to stay finite for any logit: l_i = softplus(z) - t z.
    """
    return np.sum(_softplus(Z) - T * Z, axis=-1, dtype=np.float64)


def bce_gradient(Z: Array, T: Array) -> Array:
    """dl_i/dz_i = sigmoid(z_i) - t_i = p - t."""
    return sigmoid(Z) - T


# --- softmax cross-entropy, softmax output (one unit per class, T one-hot) --

def softmax_ce_samples(Z: Array, T: Array) -> Array:
    """l_i = -log(e^{z_{i,y_i}} / sum_j e^{z_ij}) = logsumexp(z_i) - z_{i,y_i}."""
    return (logsumexp(Z) - row_sum(T * Z)).astype(np.float64)


def softmax_ce_gradient(Z: Array, T: Array) -> Array:
    """dl_i/dz_i = softmax(z_i) - onehot(y_i)."""
    P = softmax(Z)
    P -= T
    return P


# --- hinge, identity output -------------------------------------------------
# Two classes: one unit, targets t in {-1, +1}.  More: one unit per class,
# T one-hot, the multi-class SVM loss sum_{j != y} max(0, z_j - z_y + 1).

def hinge_samples(Z: Array, T: Array) -> Array:
    """Binary: l_i = max(0, 1 - t_i z_i).
    Multi-class: l_i = sum_{j != y_i} max(0, z_ij - z_{i,y_i} + 1)."""
    if Z.shape[-1] == 1:
        return np.maximum(0.0, 1.0 - T * Z)[..., 0].astype(np.float64)
    return np.sum(_multiclass_margins(Z, T), axis=-1, dtype=np.float64)


def hinge_gradient(Z: Array, T: Array) -> Array:
    """Binary: dl_i/dz_i = -t_i [t_i z_i < 1].
    Multi-class: dl_i/dz_ij = [margin_ij > 0] for j != y_i, and minus their count for j = y_i."""
    if Z.shape[-1] == 1:
        return np.where(T * Z < 1.0, -T, 0.0).astype(Z.dtype)
    active = (_multiclass_margins(Z, T) > 0).astype(Z.dtype)
    return active - T * active.sum(axis=-1, keepdims=True)


def _multiclass_margins(Z: Array, T: Array) -> Array:
    """max(0, z_j - z_y + 1) for every j != y, and 0 at j = y."""
    z_true = np.sum(T * Z, axis=-1, keepdims=True)
    return np.maximum(0.0, Z - z_true + 1.0) * (1.0 - T)


# --- target encodings and decisions -----------------------------------------

def _one_hot(y: Array, n_outputs: int, dtype) -> Array:
    T = np.zeros((y.shape[0], n_outputs), dtype=dtype)
    T[np.arange(y.shape[0]), y] = 1
    return T


def _column(y: Array, n_outputs: int, dtype) -> Array:
    return y.reshape(y.shape[0], -1).astype(dtype)


def _plus_minus_one(y: Array, n_outputs: int, dtype) -> Array:
    if n_outputs > 1:
        return _one_hot(y, n_outputs, dtype)
    return (2 * y.reshape(-1, 1) - 1).astype(dtype)


def _sigmoid_probabilities(Z: Array) -> Array:
    p = sigmoid(Z)
    return np.hstack([1.0 - p, p])


@dataclass(frozen=True)
class Loss:
    """A loss, its delta, its output activation and how targets are encoded.

    ``encode(y, n_outputs, dtype)`` turns class indices (classification) or
    target values (regression) into the matrix T the loss compares Z with.
    """

    name: str
    output_activation: str
    task: str  # "classification" or "regression"
    samples: Callable[[Array, Array], Array]  # per-sample losses l_i: (n,)
    gradient: Callable[[Array, Array], Array]  # per-sample gradients dl_i/dz_i: (n, k)
    encode: Callable[[Array, int, object], Array]
    one_unit_for_two_classes: bool = False  # binary losses score two classes with one output unit
    probabilities: Callable[[Array], Array] | None = None  # (n, n_classes) class probabilities, if it gives them
    equation: str = ""  # the data loss as `explain` writes it; {L} stands for the output layer's number
    delta_equation: str = ""  # dL/dZ_L, the same way

    def value(self, Z: Array, T: Array, weights: Array | None = None) -> float:
        """L = 1/n sum_i w_i l_i, with w_i = 1 unless row weights are given."""
        return self.mean(self.samples(Z, T), weights)

    @staticmethod
    def mean(l: Array, weights: Array | None = None) -> float:
        """1/n sum_i w_i l_i of per-sample losses ``l: (n,)``."""
        return float(np.mean(l) if weights is None else np.dot(weights, l) / l.shape[0])

    def delta(self, Z: Array, T: Array, weights: Array | None = None) -> Array:
        """dL/dZ = w_i dl_i/dz_i / n: the output delta that backpropagation starts from.

        Also for a stack of batches, ``Z, T: (n_networks, n, k)`` and ``weights: (n_networks, n)``."""
        n = Z.shape[-2]
        G = self.gradient(Z, T)  # a new array: scaled in place
        if weights is None:
            G *= 1.0 / n
            return G
        G *= (weights / n).astype(Z.dtype)[..., None]
        return G

    def n_outputs(self, n_classes_or_targets: int) -> int:
        """Output units: one per class or regression target, or one for two classes."""
        if self.one_unit_for_two_classes and n_classes_or_targets == 2:
            return 1
        return n_classes_or_targets

    @staticmethod
    def decide(Z: Array) -> Array:
        """Class indices from logits: the sign of a single output unit, else the argmax."""
        if Z.shape[-1] == 1:
            return (Z[..., 0] >= 0).astype(np.int64)
        return np.argmax(Z, axis=-1)


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", "identity", "regression", mse_samples, mse_gradient, _column,
                equation="mean over rows of 1/k sum (Z{L} - T)^2", delta_equation="2 (Z{L} - T) / (n k)"),
    "mae": Loss("mae", "identity", "regression", mae_samples, mae_gradient, _column,
                equation="mean over rows of 1/k sum |Z{L} - T|", delta_equation="sign(Z{L} - T) / (n k)"),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy", "sigmoid", "classification", bce_samples, bce_gradient, _column,
        one_unit_for_two_classes=True, probabilities=_sigmoid_probabilities,
        equation="-mean over rows of [T log p + (1 - T) log(1 - p)], p = sigmoid(Z{L})",
        delta_equation="(sigmoid(Z{L}) - T) / n",
    ),
    "softmax_cross_entropy": Loss(
        "softmax_cross_entropy", "softmax", "classification", softmax_ce_samples, softmax_ce_gradient, _one_hot,
        probabilities=softmax, equation="-mean over rows of log softmax(Z{L})_y",
        delta_equation="(softmax(Z{L}) - T) / n",
    ),
    "hinge": Loss(
        "hinge", "identity", "classification", hinge_samples, hinge_gradient, _plus_minus_one,
        one_unit_for_two_classes=True,
        equation="mean over rows of max(0, 1 - T Z{L})  (multi-class: sum over j != y of max(0, z_j - z_y + 1))",
        delta_equation="-T [T Z{L} < 1] / n  (multi-class: [margin > 0] / n, minus their count at y)",
    ),
}
"""Losses by config name."""
