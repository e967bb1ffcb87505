"""Metrics: pure functions of targets and predictions.

Classification functions take class indices ``y_true, y_pred: (n_samples,)``;
regression functions take values ``(n_samples, n_targets)`` and average over
targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Array = np.ndarray


def accuracy(y_true: Array, y_pred: Array) -> float:
    """Share of samples whose predicted class is the true one."""
    return float(np.mean(y_true == y_pred))


def zero_one_loss(y_true: Array, y_pred: Array) -> float:
    """The 0-1 loss: share of misclassified samples, 1 - accuracy."""
    return float(np.mean(y_true != y_pred))


def confusion_matrix(y_true: Array, y_pred: Array, n_classes: int) -> Array:
    """C[i, j] = number of samples of true class i predicted as class j."""
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def _columns(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """Both as float64 (n_samples, n_targets), so (n,) and (n, 1) never broadcast to (n, n)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"targets {y_true.shape} and predictions {y_pred.shape} differ in shape")
    return y_true, y_pred


def _ratio(numerator: Array, denominator: Array) -> Array:
    """numerator / denominator, with 0/0 taken as 0 (as scikit-learn's zero_division=0)."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def precision_recall_f1(confusion: Array) -> tuple[Array, Array, Array, Array]:
    """Per class (precision, recall, F1, support) from C[true, predicted]:

        precision_c = C[c, c] / sum_i C[i, c]    recall_c = C[c, c] / sum_j C[c, j]
        F1_c = 2 precision_c recall_c / (precision_c + recall_c)
    """
    C = np.asarray(confusion, dtype=np.int64)
    hits = np.diag(C)
    predicted, support = C.sum(axis=0), C.sum(axis=1)
    precision, recall = _ratio(hits, predicted), _ratio(hits, support)
    f1 = _ratio(2.0 * precision * recall, precision + recall)
    return precision, recall, f1, support


def mean_squared_error(y_true: Array, y_pred: Array) -> float:
    """1/(n k) sum (y - y_hat)^2."""
    y_true, y_pred = _columns(y_true, y_pred)
    with np.errstate(over="ignore"):  # targets near float64's limit: inf, shown as such, not a warning
        return float(np.mean(np.square(y_true - y_pred)))


def root_mean_squared_error(y_true: Array, y_pred: Array) -> float:
    """sqrt of the mean squared error."""
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def mean_absolute_error(y_true: Array, y_pred: Array) -> float:
    """1/(n k) sum |y - y_hat|."""
    y_true, y_pred = _columns(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2_score(y_true: Array, y_pred: Array) -> float:
    """R^2 = 1 - SS_res / SS_tot per target, averaged over targets.

    A target that is constant in y_true scores 1 when predicted exactly and 0
    otherwise (as scikit-learn does).
    """
    y_true, y_pred = _columns(y_true, y_pred)
    ss_res = np.sum((y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum((y_true - y_true.mean(axis=0)) ** 2, axis=0)
    constant = (np.ptp(y_true, axis=0) == 0) | (ss_tot == 0)  # the mean of equal floats may round off them
    scores = np.where(constant, np.where(ss_res == 0, 1.0, 0.0), 1.0 - ss_res / np.where(constant, 1.0, ss_tot))
    return float(np.mean(scores))


def classification_metrics(y_true: Array, y_pred: Array) -> dict[str, float]:
    return {"accuracy": accuracy(y_true, y_pred), "zero_one_loss": zero_one_loss(y_true, y_pred)}


def classification_metrics_of_rows(y_true: Array, y_pred: Array) -> list[dict[str, float]]:
    """``classification_metrics`` for each row of ``y_pred: (n_networks, n_samples)`` at once
    (the same numbers: means of 0/1 values are exact)."""
    hits = y_pred == y_true
    return [{"accuracy": float(a), "zero_one_loss": float(w)}
            for a, w in zip(np.mean(hits, axis=-1), np.mean(~hits, axis=-1))]


def regression_metrics(y_true: Array, y_pred: Array, scale: Sequence[float] | None = None) -> dict[str, float]:
    """MSE, RMSE, MAE and R^2; with ``scale`` (per target), of ``y * scale`` and ``y_hat * scale``:
    the figures in the target's own units for a network trained on z-scored targets."""
    with np.errstate(over="ignore", invalid="ignore"):  # errors beyond float64 (a target near 1e300) read inf
        r2 = r2_score(y_true, y_pred)  # the same in any units: taken before scaling, so a constant y stays constant
        if scale is not None:
            y_true, y_pred = _columns(y_true, y_pred)
            y_true, y_pred = y_true * np.asarray(scale), y_pred * np.asarray(scale)
        return {
            "mse": mean_squared_error(y_true, y_pred),
            "rmse": root_mean_squared_error(y_true, y_pred),
            "mae": mean_absolute_error(y_true, y_pred),
            "r2": r2,
        }
