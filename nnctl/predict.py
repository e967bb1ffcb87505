"""Apply a checkpoint to the rows of a CSV file.

Columns are matched by name in any order; the stored scaling is applied; class
indices are given back as the original labels.  When the file also holds the
target column(s), the metrics of the predictions come along.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnctl.checkpoint import Checkpoint, load_checkpoint
from nnctl.core import metrics as metric_fns
from nnctl.core.losses import LOSSES
from nnctl.core.model import logits
from nnctl.data import load_features, read_table
from nnctl.errors import DataError, NnctlError


@dataclass
class Predictions:
    columns: list[str]  # header of the output CSV
    rows: list[list]  # one per input row
    task: str
    metrics: dict[str, float] | None  # when the targets were in the file
    confusion: np.ndarray | None  # classification with targets: rows true, columns predicted
    classes: list | None
    ignored_columns: tuple[str, ...]  # columns that are neither features nor targets
    note: str | None = None  # why there are no metrics although the target column is there


def predict_file(checkpoint: str | Path, data: str | Path, proba: bool = False) -> Predictions:
    ckpt = load_checkpoint(checkpoint)
    meta = ckpt.meta
    loss = LOSSES[meta["loss"]]
    if proba and loss.probabilities is None:
        raise NnctlError(
            f"--proba needs a model trained with softmax_cross_entropy or binary_cross_entropy; "
            f"this one was trained with {loss.name}, which gives scores, not probabilities"
        )
    classes = meta.get("classes")
    X, y, ignored, note = load_features(
        data, tuple(meta["feature_names"]), tuple(meta["target_names"]), meta["task"],
        tuple(classes) if classes is not None else None,
    )
    Z = apply_checkpoint(ckpt, X, data)
    targets = meta["target_names"]
    if meta["task"] == "classification":
        predicted = loss.decide(Z)
        columns = [f"predicted_{targets[0]}"]
        rows = [[classes[i]] for i in predicted]
        if proba:
            P = loss.probabilities(Z)
            columns += [f"probability_{c}" for c in classes]
            rows = [row + [_short(p) for p in probs] for row, probs in zip(rows, P)]
        found = confusion = None
        if y is not None:
            found = metric_fns.classification_metrics(y, predicted)
            confusion = metric_fns.confusion_matrix(y, predicted, len(classes))
        return Predictions(columns, rows, "classification", found, confusion, classes, ignored, note)
    columns = [f"predicted_{name}" for name in targets]
    rows = [[_short(v) for v in values] for values in Z]
    found = metric_fns.regression_metrics(y, Z.astype(np.float64)) if y is not None else None
    return Predictions(columns, rows, "regression", found, None, None, ignored, note)


def apply_checkpoint(ckpt: Checkpoint, X: np.ndarray, data: str | Path) -> np.ndarray:
    """The logits for raw features ``X`` (read from ``data``): stored scaling, then the network."""
    scaled = ckpt.scaler.transform(X)
    with np.errstate(over="ignore", invalid="ignore"):  # a row that overflows is refused just below
        Z = logits(ckpt.layers, scaled.astype(ckpt.layers[0].W.dtype))
    _check_finite(Z, scaled, X, data, ckpt.meta["feature_names"], ckpt.layers[0].W.dtype)
    return Z


def _check_finite(Z: np.ndarray, scaled: np.ndarray, X: np.ndarray, data: str | Path,
                  features: list[str], dtype: np.dtype) -> None:
    """Refuse the first row whose outputs are not finite: a feature value too large for the model.

    Such a value is finite in the file but overflows in the model's precision
    (float32 ends at 3.4e38), and NaN outputs would otherwise become class 0.
    """
    bad = np.flatnonzero(~np.isfinite(Z).all(axis=1))
    if len(bad) == 0:
        return
    row = bad[0]
    column = int(np.argmax(np.abs(scaled[row])))  # the feature that drove the row out of range
    line = read_table(data).lines[row]  # read again: only this rare error needs the line numbers
    raise DataError(
        f"{data}: line {line}, column '{features[column]}': {X[row, column]:g} is out of this model's "
        f"range (its outputs overflow {np.dtype(dtype).name})"
    )


def _short(value) -> float:
    """A float with the digits its dtype holds (7 for float32, 15 for float64)."""
    digits = 7 if np.asarray(value).dtype == np.float32 else 15
    return float(f"{float(value):.{digits}g}")


def predictions_document(result: Predictions, output: str | None = None) -> dict:
    """The predictions as plain data, for ``predict --json`` (rows left out when written to a file)."""
    document = {"task": result.task, "columns": result.columns, "metrics": result.metrics,
                "confusion_matrix": None if result.confusion is None else result.confusion.tolist(),
                "classes": result.classes, "ignored_columns": list(result.ignored_columns), "note": result.note}
    if output is None:
        document["predictions"] = [dict(zip(result.columns, row)) for row in result.rows]
    else:
        document["output"], document["rows"] = output, len(result.rows)
    return document
